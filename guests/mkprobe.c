// SPDX-License-Identifier: MIT
/*
 * mkprobe [--qemu] OUT [ITERATIONS]: writes the probe guest, a flat image
 * that guests/kvmrun.c loads at 0x1000 and starts in real mode at
 * 0000:1000, or with --qemu a 64 KiB ROM that qemu-system-x86_64 runs as
 * its -bios, with no other firmware.
 *
 * The guest is assembled here, byte by byte, so that building it needs no
 * cross toolchain.  It stays in real mode, because KVM's instruction
 * emulator (which runs every guest instruction under the kvm_pvm backend)
 * implements IRET only there; a detour through protected mode leaves FS
 * with a 4 GiB limit ("unreal mode") to reach the IOAPIC, HPET and LAPIC.
 * It programs the PIC, PIT, IOAPIC and LAPIC, then runs ITERATIONS rounds
 * of reads and writes on each while PIT interrupts arrive: the first half
 * through the 8259 (ExtINT), the second half through IOAPIC pin 2 and the
 * LAPIC.  Under kvmrun it then has kvmrun play a VMM's devices (a line
 * pulse, the HPET capability register, an MSI); under QEMU it also sets
 * up and reads QEMU's HPET, RTC and PM timer every round, and takes RTC
 * periodic and HPET legacy interrupts.  Both take a LAPIC timer interrupt
 * and, where CPUID has them, switch to x2APIC mode and arm a masked
 * TSC-deadline timer.  It ends with a write of 0 to port 0xf4; a CPU
 * exception or a wait for an interrupt that timed out writes its code to
 * port 0xf5.  guests/README.md lists what a round does.
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
#define PORT_PCI_ADDR 0xcf8
#define PORT_PCI_DATA 0xcfc

#define VEC_PIC 0x20	  /* 8259 master base: IRQ0 */
#define VEC_SLAVE 0x28	  /* 8259 slave base */
#define VEC_IOAPIC 0x30	  /* IOAPIC pin 2 (PIT) */
#define VEC_HPET 0x31	  /* IOAPIC pin 2 (HPET timer 0, legacy route) */
#define VEC_RTC 0x38	  /* IOAPIC pin 8 (RTC) */
#define VEC_TIMER 0x40	  /* LAPIC timer */
#define VEC_MSI 0x50	  /* the MSI kvmrun sends */
#define VEC_SPURIOUS 0xff /* LAPIC SVR */

#define IOAPIC 0xfec00000u
#define HPET 0xfed00000u
#define LAPIC 0xfee00000u
#define MSR_APIC_BASE 0x1b
#define MSR_TSC_DEADLINE 0x6e0
#define MSR_X2APIC 0x800   /* + xAPIC offset / 16 */
#define WAIT_BOUND 2000000 /* loop rounds to wait for an interrupt */
#define FAULT_TIMEOUT 0x20 /* + n: the n-th wait for an interrupt timed out */
#define FAULT_QEMU 0x40	   /* or'ed in under QEMU, so that no fault exits 1 */

/* QEMU's pc machine: PIIX4 PM function 00:01.3 and its registers. */
#define PIIX4_PM_CONFIG 0x80000b00u
#define PIIX4_PMBA 0x40
#define PIIX4_PMREGMISC 0x80
#define PMBASE 0xb000u		/* the pc chipset's default in dmsim too */
#define HPET_TIMER0_TICK 100000 /* 1 ms at QEMU's 100 MHz */
#define RTC_TICKS 1024		/* periodic interrupts to take: 1 s */
#define HPET_TICKS 500		/* 0.5 s */
#define LAPIC_ONE_SHOT 100000	/* 100 us at divide by 1 (KVM: 1 GHz) */

#define ROM_SIZE 0x10000u /* QEMU maps a 64 KiB -bios at 0xf0000 */
#define ROM_STUB 0xff00u  /* offset of the copy stub in the ROM */
#define ROM_RESET 0xfff0u /* offset of the reset vector */

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

#define CC_AE 0x3
#define CC_E 0x4
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

static void in32_dx(struct image *im, uint16_t port)
{
	EMIT(im, 0xba);
	d16(im, port);
	EMIT(im, 0x66, 0xed); /* in eax, dx */
}

static void in16_dx(struct image *im, uint16_t port)
{
	EMIT(im, 0xba);
	d16(im, port);
	EMIT(im, 0xed); /* in ax, dx */
}

static void out16_dx(struct image *im, uint16_t port, uint16_t val)
{
	EMIT(im, 0xba);
	d16(im, port);
	EMIT(im, 0xb8); /* mov ax, val */
	d16(im, val);
	EMIT(im, 0xef); /* out dx, ax */
}

static void out32_dx(struct image *im, uint16_t port, uint32_t val)
{
	EMIT(im, 0xba);
	d16(im, port);
	EMIT(im, 0x66, 0xb8); /* mov eax, val */
	d32(im, val);
	EMIT(im, 0x66, 0xef); /* out dx, eax */
}

/* Jumps to l unless CPUID leaf 1 ECX has the bit. */
static void unless_cpuid_ecx(struct image *im, uint32_t bit, struct label *l)
{
	EMIT(im, 0x66, 0xb8); /* mov eax, 1 */
	d32(im, 1);
	EMIT(im, 0x0f, 0xa2);	    /* cpuid */
	EMIT(im, 0x66, 0xf7, 0xc1); /* test ecx, bit */
	d32(im, bit);
	jcc(im, CC_E, l);
}

/* ---- the program ----------------------------------------------------- */

struct layout {
	uint32_t gdtr, iters, half, ticks_pic, ticks_ioapic, round, msis;
	uint32_t ticks_rtc, ticks_hpet, ticks_lapic;
	int qemu; /* a -bios image for QEMU's pc machine, not kvmrun's */
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
static void init_ivt(struct image *im, uint32_t spurious, const uint32_t *fault)
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

static void cmos_write(struct image *im, uint8_t index, uint8_t val)
{
	out8(im, 0x70, index);
	out8(im, 0x71, val);
}

static void cmos_read(struct image *im, uint8_t index)
{
	out8(im, 0x70, index);
	in8(im, 0x71);
}

/*
 * Under QEMU no firmware ran: the probe places the PM block itself (PIIX4
 * PMBA and PMREGMISC, as SeaBIOS does), starts the HPET, and sets the RTC
 * to a known time with its divider held, so that the clock's seconds are
 * known too: QEMU's first update comes 500 ms after the release.
 */
static void init_qemu_devices(struct image *im)
{
	static const uint8_t when[][2] = {
		{0x00, 0x58}, {0x02, 0x59}, {0x04, 0x09}, {0x06, 0x07},
		{0x07, 0x21}, {0x08, 0x11}, {0x09, 0x26}, {0x32, 0x20},
	}; /* Saturday 2026-11-21 09:59:58, BCD */

	out32_dx(im, PORT_PCI_ADDR, 0x80000000u); /* host bridge ID */
	in32_dx(im, PORT_PCI_DATA);
	out32_dx(im, PORT_PCI_ADDR, PIIX4_PM_CONFIG | PIIX4_PMBA);
	out32_dx(im, PORT_PCI_DATA, PMBASE | 1);
	out32_dx(im, PORT_PCI_ADDR, PIIX4_PM_CONFIG | PIIX4_PMREGMISC);
	out8_dx(im, PORT_PCI_DATA, 0x01); /* PMIOSE */
	/*
	 * PM1_CNT resets to SCI_EN where QEMU's board has no SMM (an
	 * ACPI-only board) and to 0 otherwise: written before it is read.
	 */
	out16_dx(im, PMBASE + 4, 0x0001);
	in16_dx(im, PMBASE + 4);
	in16_dx(im, PMBASE);	      /* PM1_STS */
	out16_dx(im, PMBASE, 0x0001); /* clear TMR_STS */
	in16_dx(im, PMBASE);
	mmio_load(im, HPET);
	mmio_load(im, HPET + 4);
	mmio_load(im, HPET + 0x10);
	mmio_store(im, HPET + 0x10, 1); /* ENABLE_CNF */
	mmio_load(im, HPET + 0x100);
	mmio_load(im, HPET + 0x104); /* timer 0's routes */
	cmos_write(im, 0x0a, 0x70);  /* hold the divider */
	for (unsigned i = 0; i < sizeof(when) / sizeof(when[0]); i++)
		cmos_write(im, when[i][0], when[i][1]);
	cmos_write(im, 0x0b, 0x02); /* 24 hours, BCD, no interrupts */
	cmos_read(im, 0x0c);
	cmos_write(im, 0x0a, 0x26); /* release; periodic rate 1024 Hz */
	cmos_read(im, 0x0a);
	cmos_read(im, 0x0d);
}

/*
 * The PIT: counter latch and read-back of counter 0, counter 1 in every
 * mode in turn, counter 2.
 */
static void round_pit(struct image *im, const struct layout *lo)
{
	out8(im, 0x43, 0x00); /* latch counter 0 */
	in8(im, 0x40);
	in8(im, 0x40);
	out8(im, 0x43, 0xc2); /* read-back: count and status of counter 0 */
	in8(im, 0x40);
	in8(im, 0x40);
	in8(im, 0x40);
	/* Counter 1 (its gate is always high) in mode round % 6. */
	load_eax(im, lo->round);
	EMIT(im, 0x66, 0x31, 0xd2); /* xor edx, edx */
	EMIT(im, 0x66, 0xb9);	    /* mov ecx, 6 */
	d32(im, 6);
	EMIT(im, 0x66, 0xf7, 0xf1); /* div ecx */
	EMIT(im, 0xd0, 0xe2);	    /* shl dl, 1 */
	EMIT(im, 0x80, 0xca, 0x70); /* or dl, 0x70: counter 1, LSB then MSB */
	EMIT(im, 0x88, 0xd0);	    /* mov al, dl */
	out_al(im, 0x43);
	load_eax(im, lo->round);
	out_al(im, 0x41); /* LSB = round */
	out8(im, 0x41, 0x02);
	out8(im, 0x43, 0x40); /* latch counter 1 */
	in8(im, 0x41);
	in8(im, 0x41);
	out8(im, 0x43, 0xc4); /* read-back: count and status of counter 1 */
	in8(im, 0x41);
	in8(im, 0x41);
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

/*
 * QEMU's devices: the HPET main counter (both halves) and a comparator,
 * the RTC's UIP, flags and seconds and a CMOS byte, the PM timer.
 */
static void round_qemu(struct image *im, const struct layout *lo)
{
	mmio_load(im, HPET + 0xf0);
	mmio_load(im, HPET + 0xf4);
	load_eax(im, lo->round);
	mmio_store_eax(im, HPET + 0x128); /* timer 1 (disabled) comparator */
	mmio_load(im, HPET + 0x128);
	cmos_read(im, 0x0a);
	cmos_read(im, 0x0c);
	cmos_read(im, 0x00);
	out8(im, 0x70, 0x40);
	load_eax(im, lo->round);
	out_al(im, 0x71);
	in8(im, 0x71);
	in32_dx(im, PMBASE + 8);
	in16_dx(im, PMBASE);
}

/*
 * Halfway: PIT interrupts move from the 8259 to IOAPIC pin 2.  The pin is
 * unmasked first: in reinject mode KVM's PIT sends its next tick only once
 * the last one was acknowledged, and a tick left in the masked 8259's IRR
 * (and lost at the masked pin) would stop them for good.
 */
static void switch_to_ioapic(struct image *im)
{
	mmio_store(im, IOAPIC, 0x14);
	mmio_store(im, IOAPIC + 0x10, VEC_IOAPIC);
	out8(im, 0x21, 0xff);
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

/*
 * x2APIC mode and its MSRs, and a (masked) TSC-deadline timer, where
 * CPUID has them.
 */
static void x2apic(struct image *im)
{
	struct label no_x2apic = {0}, no_deadline = {0};

	unless_cpuid_ecx(im, 1u << 21, &no_x2apic);
	rdmsr(im, MSR_APIC_BASE);
	or_eax(im, 0xc00); /* EN | EXTD */
	EMIT(im, 0x0f, 0x30);
	rdmsr(im, MSR_X2APIC + 0x02); /* ID */
	rdmsr(im, MSR_X2APIC + 0x03); /* version */
	wrmsr(im, MSR_X2APIC + 0x08, 0x20);
	rdmsr(im, MSR_X2APIC + 0x08);
	rdmsr(im, MSR_X2APIC + 0x0a); /* PPR */
	wrmsr(im, MSR_X2APIC + 0x08, 0);
	unless_cpuid_ecx(im, 1u << 24, &no_deadline);
	wrmsr(im, MSR_X2APIC + 0x32, 0x00050000 | VEC_TIMER);
	EMIT(im, 0x0f, 0x31); /* rdtsc */
	EMIT(im, 0x66, 0x05); /* add eax, 2^24 */
	d32(im, 0x01000000);
	EMIT(im, 0x66, 0x83, 0xd2, 0x00); /* adc edx, 0 */
	EMIT(im, 0x66, 0xb9);
	d32(im, MSR_TSC_DEADLINE);
	EMIT(im, 0x0f, 0x30);
	rdmsr(im, MSR_TSC_DEADLINE);
	bind(im, &no_deadline);
	bind(im, &no_x2apic);
}

/* A fault or a timeout: the code is reported and ends the run. */
static void report(struct image *im, const struct layout *lo, uint8_t code)
{
	out8(im, PORT_FAULT, lo->qemu ? FAULT_QEMU | code : code);
	EMIT(im, 0xf4); /* hlt: not reached */
}

/*
 * With interrupts on, wait until the handler counting in var has run n
 * times; WAIT_BOUND loop rounds without one report FAULT_TIMEOUT + which.
 */
static void wait_count(struct image *im, const struct layout *lo, uint32_t var,
		       uint16_t n, uint8_t which)
{
	struct label poll = {0}, same = {0}, done = {0};

	EMIT(im, 0x66, 0x31, 0xd2); /* xor edx, edx: the count last seen */
	EMIT(im, 0x66, 0xb9);	    /* mov ecx, WAIT_BOUND */
	d32(im, WAIT_BOUND);
	EMIT(im, 0xfb); /* sti */
	bind(im, &poll);
	load_eax(im, var);
	EMIT(im, 0x66, 0x3d); /* cmp eax, n */
	d32(im, n);
	jcc(im, CC_AE, &done);
	EMIT(im, 0x66, 0x39, 0xd0); /* cmp eax, edx */
	jcc(im, CC_E, &same);
	EMIT(im, 0x66, 0x89, 0xc2); /* mov edx, eax */
	EMIT(im, 0x66, 0xb9);	    /* mov ecx, WAIT_BOUND */
	d32(im, WAIT_BOUND);
	bind(im, &same);
	EMIT(im, 0x66, 0x49); /* dec ecx */
	jcc(im, CC_NE, &poll);
	report(im, lo, FAULT_TIMEOUT + which);
	bind(im, &done);
	EMIT(im, 0xfa); /* cli */
}

/* kvmrun sends an MSI; the guest waits until it is taken. */
static void wait_for_msi(struct image *im, const struct layout *lo)
{
	out8(im, PORT_MSI, 0);
	wait_count(im, lo, lo->msis, 1, 0);
}

/* The RTC's periodic interrupt through IOAPIC pin 8. */
static void rtc_periodic(struct image *im, const struct layout *lo)
{
	mmio_store(im, IOAPIC, 0x21);
	mmio_store(im, IOAPIC + 0x10, 0x00000000);
	mmio_store(im, IOAPIC, 0x20);
	mmio_store(im, IOAPIC + 0x10, VEC_RTC);
	cmos_write(im, 0x0b, 0x42); /* PIE */
	wait_count(im, lo, lo->ticks_rtc, RTC_TICKS, 1);
	cmos_write(im, 0x0b, 0x02);
	cmos_read(im, 0x0c);
	mmio_store(im, IOAPIC + 0x10, 0x00010000 | VEC_RTC);
}

/*
 * HPET timer 0, periodic, in legacy replacement mode: IRQ0, which reaches
 * IOAPIC pin 2.  Its only other route on pc, GSI 2, goes nowhere with
 * KVM's irqchip (QEMU's routing, see kvmrun.c).  Linux's sequence: a
 * 32-bit timer, the first deadline with VAL_SET, then the period.
 */
static void hpet_periodic(struct image *im, const struct layout *lo)
{
	mmio_store(im, IOAPIC, 0x14);
	mmio_store(im, IOAPIC + 0x10, VEC_HPET);
	mmio_store(im, HPET + 0x10, 3);	     /* ENABLE_CNF | LEG_RT_CNF */
	mmio_store(im, HPET + 0x100, 0x14c); /* INT_ENB TYPE VAL_SET 32MODE */
	mmio_load(im, HPET + 0xf0);
	EMIT(im, 0x66, 0x05); /* add eax, HPET_TIMER0_TICK */
	d32(im, HPET_TIMER0_TICK);
	mmio_store_eax(im, HPET + 0x108);
	mmio_store(im, HPET + 0x108, HPET_TIMER0_TICK);
	wait_count(im, lo, lo->ticks_hpet, HPET_TICKS, 2);
	mmio_store(im, IOAPIC + 0x10, 0x00010000 | VEC_HPET);
	mmio_store(im, HPET + 0x100, 0);
	mmio_store(im, HPET + 0x10, 1);
	mmio_load(im, HPET + 0x100);
	mmio_load(im, HPET + 0x20);
}

/* A one-shot LAPIC timer interrupt, in xAPIC mode. */
static void lapic_timer(struct image *im, const struct layout *lo)
{
	mmio_store(im, LAPIC + 0x320, VEC_TIMER);
	mmio_store(im, LAPIC + 0x380, LAPIC_ONE_SHOT);
	wait_count(im, lo, lo->ticks_lapic, 1, 3);
	mmio_store(im, LAPIC + 0x320, 0x00010000 | VEC_TIMER);
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
	if (lo->qemu)
		round_qemu(im, lo);
	inc_var(im, lo->round);
	load_eax(im, lo->round);
	EMIT(im, 0x66, 0x3b, 0x06); /* cmp eax, [half] */
	d16(im, lo->half);
	jcc(im, CC_NE, &same_phase);
	/* The host may run KVM's PIT thread late: each half takes a tick. */
	wait_count(im, lo, lo->ticks_pic, 1, 4);
	EMIT(im, 0xfb); /* sti */
	switch_to_ioapic(im);
	bind(im, &same_phase);
	dec_var(im, lo->iters);
	jcc(im, CC_NE, &loop);
	wait_count(im, lo, lo->ticks_ioapic, 1, 5);
	mmio_store(im, IOAPIC, 0x14); /* the PIT is done */
	mmio_store(im, IOAPIC + 0x10, 0x00010000 | VEC_IOAPIC);
	if (lo->qemu) {
		rtc_periodic(im, lo);
		hpet_periodic(im, lo);
	} else {
		outside_devices(im);
	}
	lapic_timer(im, lo);
	x2apic(im);
	if (!lo->qemu)
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

/* A LAPIC vector's handler: counts itself, then what before does. */
static void isr_begin(struct image *im, uint32_t count)
{
	EMIT(im, 0x66, 0x50); /* push eax */
	inc_var(im, count);
}

static void isr_end(struct image *im)
{
	mmio_store(im, LAPIC + 0xb0, 0); /* EOI */
	EMIT(im, 0x66, 0x58, 0xcf);	 /* pop eax; iret */
}

/* IRQ0 through the IOAPIC: read the ISR and PPR, EOI the LAPIC. */
static void isr_ioapic(struct image *im, const struct layout *lo)
{
	isr_begin(im, lo->ticks_ioapic);
	mmio_load(im, LAPIC + 0x130);
	mmio_load(im, LAPIC + 0xa0);
	isr_end(im);
}

/* The RTC: reading register C lowers IRQ8. */
static void isr_rtc(struct image *im, const struct layout *lo)
{
	isr_begin(im, lo->ticks_rtc);
	cmos_read(im, 0x0c);
	isr_end(im);
}

/* HPET timer 0 (an edge: its status bit stays clear). */
static void isr_hpet(struct image *im, const struct layout *lo)
{
	isr_begin(im, lo->ticks_hpet);
	mmio_load(im, LAPIC + 0x130);
	mmio_load(im, HPET + 0x20);
	isr_end(im);
}

/* The one-shot LAPIC timer: its count has run out. */
static void isr_lapic_timer(struct image *im, const struct layout *lo)
{
	isr_begin(im, lo->ticks_lapic);
	mmio_load(im, LAPIC + 0x390);
	isr_end(im);
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
	lo->ticks_rtc = here(im);
	d32(im, 0);
	lo->ticks_hpet = here(im);
	d32(im, 0);
	lo->ticks_lapic = here(im);
	d32(im, 0);
}

/* The handlers of the vectors the probe takes, each at its IVT slot. */
static void handlers(struct image *im, const struct layout *lo)
{
	static void (*const isr[])(struct image *, const struct layout *) = {
		isr_pic, isr_ioapic, isr_msi,
		isr_rtc, isr_hpet,   isr_lapic_timer,
	};
	static const uint8_t vec[] = {
		VEC_PIC, VEC_IOAPIC, VEC_MSI, VEC_RTC, VEC_HPET, VEC_TIMER,
	};
	uint32_t at[sizeof(vec)];
	struct label skip = {0};

	jmp(im, &skip);
	for (unsigned i = 0; i < sizeof(vec); i++) {
		at[i] = here(im);
		isr[i](im, lo);
	}
	bind(im, &skip);
	for (unsigned i = 0; i < sizeof(vec); i++)
		store_word(im, 4 * vec[i], at[i]);
}

static void build(struct image *im, uint32_t iters, int qemu)
{
	struct label start = {0};
	uint32_t spurious, fault[32];
	struct layout lo = {.qemu = qemu};

	jmp(im, &start);
	data(im, &lo, iters);
	spurious = here(im);
	EMIT(im, 0xcf); /* iret: spurious vectors take no EOI */
	for (unsigned v = 0; v < 32; v++) {
		fault[v] = here(im);
		report(im, &lo, v);
	}

	bind(im, &start);
	EMIT(im, 0xfa);	      /* cli */
	EMIT(im, 0x31, 0xc0); /* xor ax, ax */
	EMIT(im, 0x8e, 0xd8); /* mov ds, ax */
	EMIT(im, 0x8e, 0xd0); /* mov ss, ax */
	EMIT(im, 0xbc);	      /* mov sp, STACK_TOP */
	d16(im, STACK_TOP);
	init_ivt(im, spurious, fault);
	handlers(im, &lo);
	unreal_fs(im, &lo);
	init_devices(im);
	if (qemu)
		init_qemu_devices(im);
	main_loop(im, &lo);
}

/*
 * QEMU's -bios form: a 64 KiB ROM, mapped at 0xf0000 and below 4 GiB,
 * holding the image at its start, a stub that copies it to 0x1000 (the
 * probe writes its own variables) and enters it at 0000:1000, and the
 * reset vector jumping to the stub.
 */
static void write_rom(FILE *f, const struct image *im)
{
	static uint8_t rom[ROM_SIZE];
	const uint8_t stub[] = {
		0xfa, /* cli */
		0x31,
		0xc0, /* xor ax, ax */
		0x8e,
		0xc0, /* mov es, ax */
		0x8e,
		0xd0, /* mov ss, ax */
		0xb8,
		0x00,
		0xf0, /* mov ax, 0xf000 */
		0x8e,
		0xd8, /* mov ds, ax */
		0x31,
		0xf6, /* xor si, si */
		0xbf,
		ORG & 0xff,
		ORG >> 8, /* mov di, ORG */
		0xb9,
		(IMAGE_MAX / 2) & 0xff,
		(IMAGE_MAX / 2) >> 8, /* cx */
		0xfc,		      /* cld */
		0xf3,
		0xa5, /* rep movsw */
		0xea,
		ORG & 0xff,
		ORG >> 8,
		0x00,
		0x00, /* jmp 0000:ORG */
	};
	const uint8_t reset[] = {0xea, ROM_STUB & 0xff, ROM_STUB >> 8, 0x00,
				 0xf0}; /* jmp f000:ROM_STUB */

	memset(rom, 0xff, sizeof(rom));
	memcpy(rom, im->b, im->len);
	memcpy(rom + ROM_STUB, stub, sizeof(stub));
	memcpy(rom + ROM_RESET, reset, sizeof(reset));
	if (fwrite(rom, 1, sizeof(rom), f) != sizeof(rom))
		die("write failed");
}

int main(int argc, char **argv)
{
	static struct image im;
	unsigned long iters = 200;
	int qemu = 0;
	char *end;
	FILE *f;

	if (argc > 1 && !strcmp(argv[1], "--qemu")) {
		qemu = 1;
		argv++;
		argc--;
	}
	if (argc < 2 || argc > 3 || !strcmp(argv[1], "--help")) {
		fputs("usage: mkprobe [--qemu] OUT [ITERATIONS]   (default 200)\n"
		      "  --qemu: a 64 KiB -bios image for QEMU's pc machine\n",
		      argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (argc == 3) {
		errno = 0;
		iters = strtoul(argv[2], &end, 0);
		if (errno || *end || iters < 2 || iters > 1000000)
			die("ITERATIONS must be 2..1000000, not '%s'", argv[2]);
	}
	build(&im, (uint32_t)iters, qemu);
	f = fopen(argv[1], "wb");
	if (!f)
		die("%s: %s", argv[1], strerror(errno));
	if (qemu)
		write_rom(f, &im);
	else if (fwrite(im.b, 1, im.len, f) != im.len)
		die("%s: write failed", argv[1]);
	if (fclose(f))
		die("%s: write failed", argv[1]);
	return 0;
}
