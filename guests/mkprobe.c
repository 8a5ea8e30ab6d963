// SPDX-License-Identifier: MIT
/*
 * mkprobe OUT [ITERATIONS]: writes the probe guest, a flat image that
 * guests/kvmrun.c loads at 0x1000 and starts in real mode at 0000:1000.
 *
 * The guest is assembled here, byte by byte, so that building it needs no
 * cross toolchain.  It stays in real mode, because KVM's instruction
 * emulator (which runs every guest instruction under the kvm_pvm backend)
 * implements IRET only there; a detour through protected mode leaves FS
 * with a 4 GiB limit ("unreal mode") to reach the IOAPIC and LAPIC.  It
 * programs the PIC, PIT, IOAPIC and LAPIC, then runs ITERATIONS rounds of
 * reads and writes on each while PIT interrupts arrive: the first half
 * through the 8259 (ExtINT), the second half through IOAPIC pin 2 and the
 * LAPIC.  Then it has kvmrun play a VMM's devices (a line pulse, the HPET
 * capability register, an MSI), switches the LAPIC to x2APIC mode and arms
 * a masked TSC-deadline timer.  It ends with a write of 0 to port 0xf4; a
 * CPU exception writes its vector to port 0xf5.  guests/README.md lists
 * what a round does.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ORG 0x1000u
#define IMAGE_MAX 8192u
#define STACK_TOP 0xf000u

#define PORT_DONE 0xf4
#define PORT_FAULT 0xf5
#define PORT_PULSE 0xf6 /* kvmrun pulses GSI 5 */
#define PORT_MSI 0xf7	/* kvmrun sends an MSI for VEC_MSI */
#define PORT_USER 0xf8	/* any port kvmrun answers */

#define VEC_PIC 0x20	  /* 8259 master base: IRQ0 */
#define VEC_SLAVE 0x28	  /* 8259 slave base */
#define VEC_IOAPIC 0x30	  /* IOAPIC pin 2 (PIT) */
#define VEC_TIMER 0x40	  /* LAPIC timer, kept masked */
#define VEC_MSI 0x50	  /* the MSI kvmrun sends */
#define VEC_SPURIOUS 0xff /* LAPIC SVR */

#define IOAPIC 0xfec00000u
#define HPET 0xfed00000u
#define LAPIC 0xfee00000u
#define MSR_APIC_BASE 0x1b
#define MSR_TSC_DEADLINE 0x6e0
#define MSR_X2APIC 0x800 /* + xAPIC offset / 16 */
#define MSI_WAIT 2000000 /* loop rounds to wait for the MSI */

#define PIT_COUNT_10MS 11932 /* 10 ms at 1.193182 MHz */

struct image {
	uint8_t b[IMAGE_MAX];
	uint32_t len;
};

/* A jump target; forward references are patched when it is bound. */
struct label {
	uint32_t addr;
	int set;
	unsigned nfix;
	uint32_t fix[8]; /* image offsets of rel16 fields */
};

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("mkprobe: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static uint32_t here(const struct image *im)
{
	return ORG + im->len;
}

static void emit(struct image *im, const uint8_t *bytes, unsigned n)
{
	if (im->len + n > IMAGE_MAX)
		die("image larger than %u bytes", IMAGE_MAX);
	memcpy(im->b + im->len, bytes, n);
	im->len += n;
}

#define EMIT(im, ...)                                   \
	do {                                            \
		const uint8_t bytes_[] = {__VA_ARGS__}; \
		emit(im, bytes_, sizeof(bytes_));       \
	} while (0)

static void d16(struct image *im, uint32_t v)
{
	EMIT(im, v & 0xff, (v >> 8) & 0xff);
}

static void d32(struct image *im, uint32_t v)
{
	EMIT(im, v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24);
}

static void put16(struct image *im, uint32_t off, uint32_t v)
{
	im->b[off] = v & 0xff;
	im->b[off + 1] = (v >> 8) & 0xff;
}

static void align(struct image *im, uint32_t n)
{
	while (here(im) % n)
		EMIT(im, 0x90);
}

static void bind(struct image *im, struct label *l)
{
	l->addr = here(im);
	l->set = 1;
	for (unsigned i = 0; i < l->nfix; i++)
		put16(im, l->fix[i], l->addr - (ORG + l->fix[i] + 2));
}

static void rel16(struct image *im, struct label *l)
{
	if (l->set) {
		d16(im, l->addr - (here(im) + 2));
		return;
	}
	if (l->nfix == sizeof(l->fix) / sizeof(l->fix[0]))
		die("too many forward references");
	l->fix[l->nfix++] = im->len;
	d16(im, 0);
}

/* ---- 16-bit instructions; MMIO through FS with 32-bit addresses ----- */

static void out8(struct image *im, uint8_t port, uint8_t val)
{
	EMIT(im, 0xb0, val, 0xe6, port); /* mov al, val; out port, al */
}

static void out_al(struct image *im, uint8_t port)
{
	EMIT(im, 0xe6, port);
}

static void in8(struct image *im, uint8_t port)
{
	EMIT(im, 0xe4, port); /* in al, port */
}

static void out8_dx(struct image *im, uint16_t port, uint8_t val)
{
	EMIT(im, 0xba); /* mov dx, port */
	d16(im, port);
	EMIT(im, 0xb0, val, 0xee); /* mov al, val; out dx, al */
}

static void in8_dx(struct image *im, uint16_t port)
{
	EMIT(im, 0xba);
	d16(im, port);
	EMIT(im, 0xec); /* in al, dx */
}

static void mmio_store(struct image *im, uint32_t addr, uint32_t val)
{
	EMIT(im, 0x64, 0x66, 0x67, 0xc7, 0x05); /* mov dword fs:[addr], val */
	d32(im, addr);
	d32(im, val);
}

static void mmio_store_eax(struct image *im, uint32_t addr)
{
	EMIT(im, 0x64, 0x66, 0x67, 0xa3); /* mov fs:[addr], eax */
	d32(im, addr);
}

static void mmio_load(struct image *im, uint32_t addr)
{
	EMIT(im, 0x64, 0x66, 0x67, 0xa1); /* mov eax, fs:[addr] */
	d32(im, addr);
}

static void load_eax(struct image *im, uint32_t var)
{
	EMIT(im, 0x66, 0xa1); /* mov eax, [var] */
	d16(im, var);
}

static void and_eax(struct image *im, uint32_t v)
{
	EMIT(im, 0x66, 0x25);
	d32(im, v);
}

static void or_eax(struct image *im, uint32_t v)
{
	EMIT(im, 0x66, 0x0d);
	d32(im, v);
}

static void inc_var(struct image *im, uint32_t var)
{
	EMIT(im, 0x66, 0xff, 0x06); /* inc dword [var] */
	d16(im, var);
}

static void dec_var(struct image *im, uint32_t var)
{
	EMIT(im, 0x66, 0xff, 0x0e); /* dec dword [var] */
	d16(im, var);
}

static void store_word(struct image *im, uint32_t addr, uint32_t val)
{
	EMIT(im, 0xc7, 0x06); /* mov word [addr], val */
	d16(im, addr);
	d16(im, val);
}

#define CC_NE 0x5

static void jcc(struct image *im, uint8_t cc, struct label *l)
{
	EMIT(im, 0x0f, 0x80 | cc);
	rel16(im, l);
}

static void jmp(struct image *im, struct label *l)
{
	EMIT(im, 0xe9);
	rel16(im, l);
}

static void rdmsr(struct image *im, uint32_t msr)
{
	EMIT(im, 0x66, 0xb9); /* mov ecx, msr */
	d32(im, msr);
	EMIT(im, 0x0f, 0x32); /* rdmsr */
}

static void wrmsr(struct image *im, uint32_t msr, uint32_t lo)
{
	EMIT(im, 0x66, 0xb9);
	d32(im, msr);
	EMIT(im, 0x66, 0xb8); /* mov eax, lo */
	d32(im, lo);
	EMIT(im, 0x66, 0x31, 0xd2); /* xor edx, edx */
	EMIT(im, 0x0f, 0x30);	    /* wrmsr */
}

/* ---- the program ----------------------------------------------------- */

struct layout {
	uint32_t gdtr, iters, half, ticks_pic, ticks_ioapic, round, msis;
};

/*
 * Enter protected mode only to load FS from a flat 4 GiB data descriptor,
 * then return to real mode without touching FS again (reloading a segment
 * in real mode resets its limit to 64 KiB in KVM's emulator).
 */
static void unreal_fs(struct image *im, const struct layout *lo)
{
	uint32_t far;

	EMIT(im, 0x66, 0x0f, 0x01, 0x16); /* lgdt [gdtr] */
	d16(im, lo->gdtr);
	EMIT(im, 0x0f, 0x20, 0xc0); /* mov eax, cr0 */
	EMIT(im, 0x0c, 0x01);	    /* or al, 1 */
	EMIT(im, 0x0f, 0x22, 0xc0); /* mov cr0, eax */
	EMIT(im, 0xb8, 0x08, 0x00); /* mov ax, 0x08 */
	EMIT(im, 0x8e, 0xe0);	    /* mov fs, ax */
	EMIT(im, 0x24, 0xfe);	    /* and al, 0xfe */
	EMIT(im, 0x0f, 0x22, 0xc0); /* mov cr0, eax */
	far = here(im) + 5;
	EMIT(im, 0xea); /* jmp 0000:real */
	d16(im, far);
	d16(im, 0);
}

/* Real-mode IVT: faults report their vector, everything else irets. */
static void init_ivt(struct image *im, uint32_t spurious, const uint32_t *fault,
		     uint32_t pic, uint32_t ioapic)
{
	struct label fill = {0};

	EMIT(im, 0x31, 0xdb); /* xor bx, bx */
	bind(im, &fill);
	EMIT(im, 0xc7, 0x07); /* mov word [bx], spurious */
	d16(im, spurious);
	EMIT(im, 0xc7, 0x47, 0x02, 0x00, 0x00); /* mov word [bx+2], 0 */
	EMIT(im, 0x83, 0xc3, 0x04);		/* add bx, 4 */
	EMIT(im, 0x81, 0xfb, 0x00, 0x04);	/* cmp bx, 0x400 */
	jcc(im, CC_NE, &fill);
	for (unsigned v = 0; v < 32; v++)
		store_word(im, 4 * v, fault[v]);
	store_word(im, 4 * VEC_PIC, pic);
	store_word(im, 4 * VEC_IOAPIC, ioapic);
}

/* ICW1-ICW4 for both 8259s as a PC BIOS programs them. */
static void init_pic(struct image *im)
{
	out8(im, 0x20, 0x11); /* ICW1: edge, cascade, ICW4 needed */
	out8(im, 0x21, VEC_PIC);
	out8(im, 0x21, 0x04); /* ICW3: slave on IR2 */
	out8(im, 0x21, 0x01); /* ICW4: 8086 mode */
	out8(im, 0xa0, 0x11);
	out8(im, 0xa1, VEC_SLAVE);
	out8(im, 0xa1, 0x02); /* ICW3: slave ID 2 */
	out8(im, 0xa1, 0x01);
	out8(im, 0x21, 0xfe); /* only IRQ0 */
	out8(im, 0xa1, 0xff);
}

static void init_devices(struct image *im)
{
	init_pic(im);
	in8_dx(im, 0x4d0); /* ELCR */
	out8_dx(im, 0x4d1, 0x0e);
	in8_dx(im, 0x4d1);
	/* PIT counter 0: mode 2, 10 ms, LSB then MSB. */
	out8(im, 0x43, 0x34);
	out8(im, 0x40, PIT_COUNT_10MS & 0xff);
	out8(im, 0x40, PIT_COUNT_10MS >> 8);
	/* IOAPIC: identify it, route pin 2 (the PIT) masked to VEC_IOAPIC. */
	mmio_store(im, IOAPIC, 0x00);
	mmio_load(im, IOAPIC + 0x10);
	mmio_store(im, IOAPIC, 0x01);
	mmio_load(im, IOAPIC + 0x10);
	mmio_store(im, IOAPIC, 0x15);
	mmio_store(im, IOAPIC + 0x10, 0x00000000); /* destination APIC 0 */
	mmio_store(im, IOAPIC, 0x14);
	mmio_store(im, IOAPIC + 0x10, 0x00010000 | VEC_IOAPIC);
	mmio_load(im, IOAPIC + 0x10);
	/* LAPIC: identify, enable, virtual wire on LINT0, NMI on LINT1. */
	mmio_load(im, LAPIC + 0x20);
	mmio_load(im, LAPIC + 0x30);
	mmio_load(im, LAPIC + 0x350);
	mmio_store(im, LAPIC + 0xf0, 0x100 | VEC_SPURIOUS);
	mmio_store(im, LAPIC + 0x350, 0x700);
	mmio_store(im, LAPIC + 0x360, 0x400);
	mmio_store(im, LAPIC + 0x3e0, 0x0b); /* timer divide by 1 */
	mmio_store(im, LAPIC + 0x320, 0x00010000 | VEC_TIMER);
}

/* The PIT: counter latch, read-back of count and status, counter 2. */
static void round_pit(struct image *im, const struct layout *lo)
{
	out8(im, 0x43, 0x00); /* latch counter 0 */
	in8(im, 0x40);
	in8(im, 0x40);
	out8(im, 0x43, 0xc2); /* read-back: count and status of counter 0 */
	in8(im, 0x40);
	in8(im, 0x40);
	in8(im, 0x40);
	out8(im, 0x43, 0xe4); /* read-back: status of counter 1 */
	in8(im, 0x41);
	out8(im, 0x43, 0xb6); /* counter 2: mode 3, LSB then MSB */
	load_eax(im, lo->round);
	out_al(im, 0x42); /* LSB = round */
	out8(im, 0x42, 0x01);
	out8(im, 0x43, 0x80); /* latch counter 2 */
	in8(im, 0x42);
	in8(im, 0x42);
	out8(im, 0x43, 0xe8); /* read-back: status of counter 2 */
	in8(im, 0x42);
}

/* The 8259s: IRR and ISR through OCW3, the IMRs, the ELCR. */
static void round_pic(struct image *im, const struct layout *lo)
{
	out8(im, 0x20, 0x0a);
	in8(im, 0x20);
	out8(im, 0x20, 0x0b);
	in8(im, 0x20);
	in8(im, 0x21);
	out8(im, 0xa0, 0x0b);
	in8(im, 0xa0);
	load_eax(im, lo->round);
	or_eax(im, 0x01); /* never unmask slave IR0 */
	out_al(im, 0xa1);
	in8(im, 0xa1);
	out8(im, 0xa1, 0xff);
	in8_dx(im, 0x4d1);
}

/* The IOAPIC: an RTE written and read back, the version, pin 2. */
static void round_ioapic(struct image *im, const struct layout *lo)
{
	mmio_store(im, IOAPIC, 0x12); /* RTE 1 low */
	load_eax(im, lo->round);
	and_eax(im, 0x3f);
	or_eax(im, 0x00010040); /* masked, vector 0x40-0x7f */
	mmio_store_eax(im, IOAPIC + 0x10);
	mmio_load(im, IOAPIC + 0x10);
	mmio_store(im, IOAPIC, 0x13);
	mmio_load(im, IOAPIC + 0x10);
	mmio_store(im, IOAPIC, 0x01);
	mmio_load(im, IOAPIC + 0x10);
	mmio_store(im, IOAPIC, 0x14);
	mmio_load(im, IOAPIC + 0x10);
}

/* The LAPIC: TPR, PPR, ISR, the timer's current count. */
static void round_lapic(struct image *im, const struct layout *lo)
{
	load_eax(im, lo->round);
	and_eax(im, 0x10);
	mmio_store_eax(im, LAPIC + 0x80);
	mmio_load(im, LAPIC + 0x80);
	mmio_load(im, LAPIC + 0xa0);
	mmio_load(im, LAPIC + 0x130); /* ISR bits 32-63 */
	mmio_store(im, LAPIC + 0x380, 0x00100000);
	mmio_load(im, LAPIC + 0x390);
	mmio_load(im, LAPIC + 0x390);
}

/* Halfway: PIT interrupts move from the 8259 to IOAPIC pin 2. */
static void switch_to_ioapic(struct image *im)
{
	out8(im, 0x21, 0xff);
	mmio_store(im, IOAPIC, 0x14);
	mmio_store(im, IOAPIC + 0x10, VEC_IOAPIC);
}

/*
 * What a VMM's own devices do, played by kvmrun: a line pulsed with a
 * second, no-op lower, and the HPET capability register and a port read
 * answered from userspace.
 */
static void outside_devices(struct image *im)
{
	out8(im, PORT_PULSE, 0);
	mmio_load(im, HPET);
	mmio_load(im, HPET + 4);
	in8(im, PORT_USER);
}

/* x2APIC mode, its MSRs, and a (masked) TSC-deadline timer. */
static void x2apic(struct image *im)
{
	rdmsr(im, MSR_APIC_BASE);
	or_eax(im, 0xc00); /* EN | EXTD */
	EMIT(im, 0x0f, 0x30);
	rdmsr(im, MSR_X2APIC + 0x02); /* ID */
	rdmsr(im, MSR_X2APIC + 0x03); /* version */
	wrmsr(im, MSR_X2APIC + 0x08, 0x20);
	rdmsr(im, MSR_X2APIC + 0x08);
	rdmsr(im, MSR_X2APIC + 0x0a); /* PPR */
	wrmsr(im, MSR_X2APIC + 0x08, 0);
	wrmsr(im, MSR_X2APIC + 0x32, 0x00050000 | VEC_TIMER);
	EMIT(im, 0x0f, 0x31); /* rdtsc */
	EMIT(im, 0x66, 0x05); /* add eax, 2^24 */
	d32(im, 0x01000000);
	EMIT(im, 0x66, 0x83, 0xd2, 0x00); /* adc edx, 0 */
	EMIT(im, 0x66, 0xb9);
	d32(im, MSR_TSC_DEADLINE);
	EMIT(im, 0x0f, 0x30);
	rdmsr(im, MSR_TSC_DEADLINE);
}

/* kvmrun sends an MSI; the guest waits (bounded) until it is taken. */
static void wait_for_msi(struct image *im, const struct layout *lo)
{
	struct label poll = {0}, done = {0};

	out8(im, PORT_MSI, 0);
	EMIT(im, 0x66, 0xb9); /* mov ecx, MSI_WAIT */
	d32(im, MSI_WAIT);
	EMIT(im, 0xfb); /* sti */
	bind(im, &poll);
	EMIT(im, 0x66, 0x83, 0x3e); /* cmp dword [msis], 0 */
	d16(im, lo->msis);
	EMIT(im, 0x00);
	jcc(im, CC_NE, &done);
	EMIT(im, 0x66, 0x49); /* dec ecx */
	jcc(im, CC_NE, &poll);
	bind(im, &done);
	EMIT(im, 0xfa); /* cli */
}

static void main_loop(struct image *im, const struct layout *lo)
{
	struct label loop = {0}, same_phase = {0};

	EMIT(im, 0xfb); /* sti */
	bind(im, &loop);
	round_pit(im, lo);
	round_pic(im, lo);
	round_ioapic(im, lo);
	round_lapic(im, lo);
	inc_var(im, lo->round);
	load_eax(im, lo->round);
	EMIT(im, 0x66, 0x3b, 0x06); /* cmp eax, [half] */
	d16(im, lo->half);
	jcc(im, CC_NE, &same_phase);
	switch_to_ioapic(im);
	bind(im, &same_phase);
	dec_var(im, lo->iters);
	jcc(im, CC_NE, &loop);
	EMIT(im, 0xfa);		      /* cli */
	mmio_store(im, IOAPIC, 0x14); /* the PIT is done */
	mmio_store(im, IOAPIC + 0x10, 0x00010000 | VEC_IOAPIC);
	outside_devices(im);
	x2apic(im);
	wait_for_msi(im, lo);
	out8(im, PORT_DONE, 0);
	EMIT(im, 0xf4); /* hlt: not reached */
}

/* IRQ0 through the 8259: read the ISR, non-specific EOI. */
static void isr_pic(struct image *im, const struct layout *lo)
{
	EMIT(im, 0x66, 0x50); /* push eax */
	inc_var(im, lo->ticks_pic);
	out8(im, 0x20, 0x0b);
	in8(im, 0x20);
	out8(im, 0x20, 0x20);
	EMIT(im, 0x66, 0x58, 0xcf); /* pop eax; iret */
}

/* IRQ0 through the IOAPIC: read the ISR and PPR, EOI the LAPIC. */
static void isr_ioapic(struct image *im, const struct layout *lo)
{
	EMIT(im, 0x66, 0x50);
	inc_var(im, lo->ticks_ioapic);
	mmio_load(im, LAPIC + 0x130);
	mmio_load(im, LAPIC + 0xa0);
	mmio_store(im, LAPIC + 0xb0, 0);
	EMIT(im, 0x66, 0x58, 0xcf);
}

/* The MSI, in x2APIC mode: EOI through its MSR. */
static void isr_msi(struct image *im, const struct layout *lo)
{
	EMIT(im, 0x66, 0x50, 0x66, 0x51, 0x66, 0x52); /* push eax, ecx, edx */
	inc_var(im, lo->msis);
	rdmsr(im, MSR_X2APIC + 0x12); /* ISR bits 64-95: vector 0x50 */
	wrmsr(im, MSR_X2APIC + 0x0b, 0);
	EMIT(im, 0x66, 0x5a, 0x66, 0x59, 0x66, 0x58, 0xcf);
}

static void data(struct image *im, struct layout *lo, uint32_t iters)
{
	uint32_t gdt;

	align(im, 8);
	gdt = here(im);
	d32(im, 0), d32(im, 0);
	d32(im, 0x0000ffff), d32(im, 0x00cf9200); /* 0x08 flat data */
	lo->gdtr = here(im);
	d16(im, 2 * 8 - 1);
	d32(im, gdt);
	lo->iters = here(im);
	d32(im, iters);
	lo->half = here(im);
	d32(im, iters / 2);
	lo->ticks_pic = here(im);
	d32(im, 0);
	lo->ticks_ioapic = here(im);
	d32(im, 0);
	lo->round = here(im);
	d32(im, 0);
	lo->msis = here(im);
	d32(im, 0);
}

static void build(struct image *im, uint32_t iters)
{
	struct label start = {0};
	uint32_t spurious, fault[32], pic, ioapic, msi;
	struct layout lo;

	jmp(im, &start);
	data(im, &lo, iters);
	spurious = here(im);
	EMIT(im, 0xcf); /* iret: spurious vectors take no EOI */
	for (unsigned v = 0; v < 32; v++) {
		fault[v] = here(im);
		out8(im, PORT_FAULT, v);
		EMIT(im, 0xf4);
	}
	pic = here(im);
	isr_pic(im, &lo);
	ioapic = here(im);
	isr_ioapic(im, &lo);
	msi = here(im);
	isr_msi(im, &lo);

	bind(im, &start);
	EMIT(im, 0xfa);	      /* cli */
	EMIT(im, 0x31, 0xc0); /* xor ax, ax */
	EMIT(im, 0x8e, 0xd8); /* mov ds, ax */
	EMIT(im, 0x8e, 0xd0); /* mov ss, ax */
	EMIT(im, 0xbc);	      /* mov sp, STACK_TOP */
	d16(im, STACK_TOP);
	init_ivt(im, spurious, fault, pic, ioapic);
	store_word(im, 4 * VEC_MSI, msi);
	unreal_fs(im, &lo);
	init_devices(im);
	main_loop(im, &lo);
}

int main(int argc, char **argv)
{
	static struct image im;
	unsigned long iters = 200;
	char *end;
	FILE *f;

	if (argc < 2 || argc > 3 || !strcmp(argv[1], "--help")) {
		fputs("usage: mkprobe OUT [ITERATIONS]   (default 200)\n",
		      argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (argc == 3) {
		errno = 0;
		iters = strtoul(argv[2], &end, 0);
		if (errno || *end || iters < 2 || iters > 1000000)
			die("ITERATIONS must be 2..1000000, not '%s'", argv[2]);
	}
	build(&im, (uint32_t)iters);
	f = fopen(argv[1], "wb");
	if (!f)
		die("%s: %s", argv[1], strerror(errno));
	if (fwrite(im.b, 1, im.len, f) != im.len || fclose(f))
		die("%s: write failed", argv[1]);
	return 0;
}
