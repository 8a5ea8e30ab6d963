// SPDX-License-Identifier: MIT
/*
 * dmsim against the real KVM of this host.  A VM with KVM's in-kernel
 * irqchip and PIT runs a tiny guest, assembled by hand below from a table
 * of accesses: in real mode it programs the 8259 pair, the ELCR and the
 * 8254 (counts, a half-written word, a count latch and a read-back status
 * latch); then, switched to flat 32-bit protected mode, it programs IOAPIC
 * entries and LAPIC registers through MMIO.  Each phase ends with HLT.
 * KVM_GET_PIT2, KVM_GET_IRQCHIP x3 and KVM_GET_LAPIC then give KVM's
 * state; a dmsim kvm-profile machine applies the same accesses, and the two
 * are compared three ways, every difference reported by field name:
 *   1. dmsim -> KVM structs, against KVM's structs;
 *   2. KVM structs -> dmsim (into a twin of the dmsim machine), against
 *      dmsim's own state;
 *   3. KVM's structs written as a dump file and loaded into a fresh
 *      machine, converted back: identical to what KVM returned.
 * Fields that depend on when the host ran each instruction (latched count
 * values, OUT in a status byte, IRQ0 ticks, timer phases) are left out of
 * 1 and 2 only.
 *
 * Without a usable /dev/kvm the test says "skipped: no /dev/kvm" and
 * passes.  Every wait is bounded (an interval timer breaks KVM_RUN out of
 * HLT; an overall deadline ends the run loop).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "sim/kvm/kvmstate.h"
#include "testutil.h"

#define MEM_SIZE 0x10000
#define CODE_REAL 0x1000
#define CODE_FLAT 0x2000
#define RUN_LIMIT_NS 20000000000ull

/* ---- the guest -------------------------------------------------------- */

enum op { OUT, IN, OUT_DX, MOV32 };

struct access {
	enum op op;
	uint32_t addr; /* port, or MMIO address */
	uint32_t value;
	bool kvm; /* handled by KVM's in-kernel devices */
};

/* Real mode: the 8259s, the ELCR and the 8254. */
static const struct access phase1[] = {
	{OUT, 0x20, 0x11, true},     {OUT, 0x21, 0x08, true},
	{OUT, 0x21, 0x04, true},     {OUT, 0x21, 0x01, true},
	{OUT, 0xa0, 0x11, true},     {OUT, 0xa1, 0x70, true},
	{OUT, 0xa1, 0x02, true},     {OUT, 0xa1, 0x01, true},
	{OUT, 0x21, 0xfb, true},     {OUT, 0xa1, 0xff, true},
	{OUT_DX, 0x4d0, 0x20, true}, {OUT_DX, 0x4d1, 0x0c, true},
	{OUT, 0x20, 0x0b, true}, /* OCW3: read ISR */
	{OUT, 0xa0, 0xc5, true}, /* OCW2: slave IR5 lowest */
	{OUT, 0x43, 0x34, true}, /* counter 0: LSB/MSB, mode 2 */
	{OUT, 0x40, 0x9c, true},     {OUT, 0x40, 0x2e, true},
	{OUT, 0x43, 0xb0, true}, /* counter 2: LSB/MSB, mode 0 */
	{OUT, 0x42, 0x34, true},     {OUT, 0x42, 0x12, true},
	{OUT, 0x43, 0x74, true},  /* counter 1: LSB/MSB, mode 2 */
	{OUT, 0x41, 0x55, true},  /* ... its LSB only */
	{OUT, 0x43, 0x80, true},  /* latch counter 2 */
	{IN, 0x42, 0, true},	  /* ... read its LSB */
	{OUT, 0x43, 0xe4, true},  /* read-back: status of counter 1 */
	{OUT, 0x61, 0x01, false}, /* no KVM_PIT_SPEAKER_DUMMY: exits */
	{OUT, 0x80, 0xaa, false}, /* POST code: exits */
};

/* Flat 32-bit mode: IOAPIC and LAPIC registers. */
static const struct access phase2[] = {
	{MOV32, 0xfec00000, 0x10, true},
	{MOV32, 0xfec00010, 0xa031, true}, /* pin 0: level, low, 0x31 */
	{MOV32, 0xfec00000, 0x11, true},
	{MOV32, 0xfec00010, 0x03000000, true},
	{MOV32, 0xfec00000, 0x18, true},
	{MOV32, 0xfec00010, 0x10034, true}, /* pin 4: masked, 0x34 */
	{MOV32, 0xfec00000, 0x00, true},
	{MOV32, 0xfec00010, 0x05000000, true}, /* ID 5 */
	{MOV32, 0xfec00000, 0x14, true},
	{MOV32, 0xfee000f0, 0x1ff, true},      /* SVR: enabled */
	{MOV32, 0xfee00080, 0x20, true},       /* TPR */
	{MOV32, 0xfee000d0, 0x01000000, true}, /* LDR */
	{MOV32, 0xfee000e0, 0x0fffffff, true}, /* DFR: cluster */
	{MOV32, 0xfee003e0, 0xb, true},	       /* divide by 1 */
	{MOV32, 0xfee00320, 0x30040, true},    /* periodic, masked */
	{MOV32, 0xfee00360, 0x400, true},      /* LINT1: NMI */
	{MOV32, 0xfee00380, 1000000, true},    /* 1 ms */
	{MOV32, 0xfee00310, 0x02000000, true}, /* ICR2 */
};

static uint8_t *emit(uint8_t *p, const uint8_t *bytes, size_t n)
{
	memcpy(p, bytes, n);
	return p + n;
}

static uint8_t *emit32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

/*
 * The machine code: mov al, imm8 (B0 ib); out imm8, al (E6 ib); in al,
 * imm8 (E4 ib); mov dx, imm16 (BA iw, real mode); out dx, al (EE);
 * mov dword [disp32], imm32 (C7 05 id id, 32-bit mode); hlt (F4) and a
 * jmp back to it (EB FD).  Returns the address after the HLT.
 */
static uint32_t assemble(uint8_t *mem, uint32_t at, const struct access *a,
			 size_t n)
{
	uint8_t *p = mem + at;

	for (size_t i = 0; i < n; i++) {
		uint8_t al[2] = {0xb0, (uint8_t)a[i].value};
		uint8_t port[2] = {0, (uint8_t)a[i].addr};

		switch (a[i].op) {
		case OUT:
			p = emit(p, al, 2);
			port[0] = 0xe6;
			p = emit(p, port, 2);
			break;
		case IN:
			port[0] = 0xe4;
			p = emit(p, port, 2);
			break;
		case OUT_DX:
			*p++ = 0xba;
			*p++ = (uint8_t)a[i].addr;
			*p++ = (uint8_t)(a[i].addr >> 8);
			p = emit(p, al, 2);
			*p++ = 0xee;
			break;
		case MOV32:
			*p++ = 0xc7;
			*p++ = 0x05;
			p = emit32(emit32(p, a[i].addr), a[i].value);
			break;
		}
	}
	*p++ = 0xf4;
	*p++ = 0xeb;
	*p++ = 0xfd;
	return (uint32_t)(p - mem) - 2;
}

/* The same accesses on the dmsim machine, except those KVM let exit. */
static void replay(struct dm_machine *m, uint64_t t, const struct access *a,
		   size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v = a[i].value;

		if (!a[i].kvm)
			continue;
		if (a[i].op == MOV32)
			ck_assert_int_eq(dm_machine_mmio(m, t, 0, a[i].addr, 4,
							 true, &v),
					 DM_ACCESS_OK);
		else
			ck_assert_int_eq(dm_machine_pio(m, t, 0,
							(uint16_t)a[i].addr, 1,
							a[i].op != IN, &v),
					 DM_ACCESS_OK);
	}
}

/* ---- the VM ----------------------------------------------------------- */

struct vm {
	int kvm, vm, vcpu;
	struct kvm_run *run;
	size_t run_size;
	uint8_t *mem;
	uint64_t created; /* CLOCK_MONOTONIC ns just before KVM_CREATE_PIT2 */
	unsigned io_exits, mmio_exits;
	char exits[256];
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_alarm(int sig)
{
	(void)sig;
}

static int xioctl(int fd, unsigned long req, void *arg, const char *what)
{
	int r = ioctl(fd, req, arg);

	ck_assert_msg(r >= 0, "%s: %s", what, strerror(errno));
	return r;
}

/* KVM_SET_CPUID2 with what KVM supports, as a VMM does: KVM lets the
 * guest write the LVT timer mode only when the CPUID offers it. */
static void set_cpuid(struct vm *v)
{
	size_t n = 256;
	struct kvm_cpuid2 *c =
		calloc(1, sizeof(*c) + n * sizeof(struct kvm_cpuid_entry2));

	ck_assert_ptr_nonnull(c);
	c->nent = (uint32_t)n;
	xioctl(v->kvm, KVM_GET_SUPPORTED_CPUID, c, "KVM_GET_SUPPORTED_CPUID");
	xioctl(v->vcpu, KVM_SET_CPUID2, c, "KVM_SET_CPUID2");
	free(c);
}

static void vm_create(struct vm *v)
{
	struct kvm_pit_config pit = {.flags = 0};
	struct kvm_userspace_memory_region region;
	int size;

	v->vm = xioctl(v->kvm, KVM_CREATE_VM, 0, "KVM_CREATE_VM");
	xioctl(v->vm, KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
	v->created = mono_ns();
	xioctl(v->vm, KVM_CREATE_PIT2, &pit, "KVM_CREATE_PIT2");
	v->mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(v->mem != MAP_FAILED);
	region = (struct kvm_userspace_memory_region){
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = MEM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)v->mem,
	};
	xioctl(v->vm, KVM_SET_USER_MEMORY_REGION, &region,
	       "KVM_SET_USER_MEMORY_REGION");
	v->vcpu = xioctl(v->vm, KVM_CREATE_VCPU, 0, "KVM_CREATE_VCPU");
	size = xioctl(v->kvm, KVM_GET_VCPU_MMAP_SIZE, 0,
		      "KVM_GET_VCPU_MMAP_SIZE");
	v->run_size = (size_t)size;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      v->vcpu, 0);
	ck_assert(v->run != MAP_FAILED);
	set_cpuid(v);
}

static void vm_destroy(struct vm *v)
{
	munmap(v->run, v->run_size);
	munmap(v->mem, MEM_SIZE);
	close(v->vcpu);
	close(v->vm);
}

static void set_real_mode(struct vm *v, uint32_t ip)
{
	struct kvm_sregs sr;
	struct kvm_regs r = {.rip = ip, .rflags = 2};

	xioctl(v->vcpu, KVM_GET_SREGS, &sr, "KVM_GET_SREGS");
	sr.cs.base = 0;
	sr.cs.selector = 0;
	xioctl(v->vcpu, KVM_SET_SREGS, &sr, "KVM_SET_SREGS");
	xioctl(v->vcpu, KVM_SET_REGS, &r, "KVM_SET_REGS");
}

/* Flat 4 GiB segments, no GDT needed: KVM takes the cached descriptors. */
static void set_flat_mode(struct vm *v, uint32_t ip)
{
	struct kvm_sregs sr;
	struct kvm_regs r = {.rip = ip, .rflags = 2};
	struct kvm_mp_state mp = {KVM_MP_STATE_RUNNABLE};
	struct kvm_segment code = {
		.limit = 0xffffffff,
		.selector = 8,
		.type = 11,
		.present = 1,
		.db = 1,
		.s = 1,
		.g = 1,
	};
	struct kvm_segment data = code;

	data.selector = 16;
	data.type = 3;
	xioctl(v->vcpu, KVM_GET_SREGS, &sr, "KVM_GET_SREGS");
	sr.cs = code;
	sr.ds = sr.es = sr.fs = sr.gs = sr.ss = data;
	sr.cr0 |= 1;
	xioctl(v->vcpu, KVM_SET_SREGS, &sr, "KVM_SET_SREGS");
	xioctl(v->vcpu, KVM_SET_REGS, &r, "KVM_SET_REGS");
	xioctl(v->vcpu, KVM_SET_MP_STATE, &mp, "KVM_SET_MP_STATE");
}

static void note_exit(struct vm *v, const char *fmt, ...)
{
	size_t n = strlen(v->exits);
	va_list ap;

	va_start(ap, fmt);
	if (n < sizeof(v->exits) - 1)
		vsnprintf(v->exits + n, sizeof(v->exits) - n, fmt, ap);
	va_end(ap);
}

/* An exit KVM did not handle itself: ignored (reads see 0xff). */
static void handle_exit(struct vm *v)
{
	struct kvm_run *r = v->run;

	switch (r->exit_reason) {
	case KVM_EXIT_IO:
		if (r->io.direction == KVM_EXIT_IO_IN)
			memset((uint8_t *)r + r->io.data_offset, 0xff,
			       (size_t)r->io.size * r->io.count);
		v->io_exits++;
		note_exit(v, " io:0x%x", r->io.port);
		break;
	case KVM_EXIT_MMIO:
		if (!r->mmio.is_write)
			memset(r->mmio.data, 0xff, sizeof(r->mmio.data));
		v->mmio_exits++;
		note_exit(v, " mmio:0x%llx",
			  (unsigned long long)r->mmio.phys_addr);
		break;
	case KVM_EXIT_INTR:
		break;
	default:
		ck_abort_msg("KVM_RUN exit reason %u", r->exit_reason);
	}
}

/*
 * Runs the vcpu until it sits in the HLT at hlt_next - 1.  With the
 * irqchip in the kernel a HLT does not exit (the vcpu blocks in KVM), so
 * a 20 ms interval timer interrupts KVM_RUN and the multiprocessing state
 * tells whether the HLT was reached.
 */
static void run_to_hlt(struct vm *v, uint32_t hlt_next)
{
	struct sigaction sa = {.sa_handler = on_alarm};
	struct itimerval tick = {{0, 20000}, {0, 20000}};
	struct itimerval off = {{0, 0}, {0, 0}};
	uint64_t deadline = mono_ns() + RUN_LIMIT_NS;
	bool halted = false;

	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	ck_assert_int_eq(setitimer(ITIMER_REAL, &tick, NULL), 0);
	while (!halted && mono_ns() < deadline) {
		struct kvm_mp_state mp;
		struct kvm_regs regs;

		if (ioctl(v->vcpu, KVM_RUN, 0) < 0) {
			ck_assert_msg(errno == EINTR || errno == EAGAIN,
				      "KVM_RUN: %s", strerror(errno));
		} else if (v->run->exit_reason == KVM_EXIT_HLT) {
			halted = true;
			continue;
		} else {
			handle_exit(v);
		}
		xioctl(v->vcpu, KVM_GET_MP_STATE, &mp, "KVM_GET_MP_STATE");
		xioctl(v->vcpu, KVM_GET_REGS, &regs, "KVM_GET_REGS");
		halted = mp.mp_state == KVM_MP_STATE_HALTED &&
			 regs.rip == hlt_next;
	}
	setitimer(ITIMER_REAL, &off, NULL);
	signal(SIGALRM, SIG_DFL);
	ck_assert_msg(halted, "the guest did not reach its HLT at 0x%x in 20 s",
		      hlt_next - 1);
}

/* ---- comparison ------------------------------------------------------- */

struct report {
	unsigned compared, differ;
	char text[4096];
};

static void differ(struct report *r, const char *where, const char *name,
		   uint64_t a, uint64_t b)
{
	size_t n = strlen(r->text);

	r->differ++;
	printf("  DIFF %s %s: 0x%llx vs 0x%llx\n", where, name,
	       (unsigned long long)a, (unsigned long long)b);
	fflush(stdout);
	if (n < sizeof(r->text) - 1)
		snprintf(r->text + n, sizeof(r->text) - n,
			 "%s %s: 0x%llx vs 0x%llx; ", where, name,
			 (unsigned long long)a, (unsigned long long)b);
}

static void cmp(struct report *r, const char *where, const char *name,
		uint64_t a, uint64_t b, uint64_t mask)
{
	r->compared++;
	if ((a ^ b) & mask)
		differ(r, where, name, a, b);
}

#define ALL UINT64_MAX
#define CMPF(r, w, a, b, f, mask) cmp(r, w, #f, (a)->f, (b)->f, mask)

static void cmp_pit(struct report *r, const char *w,
		    const struct kvm_pit_state2 *a,
		    const struct kvm_pit_state2 *b, bool timed)
{
	/* The latched count is sampled when the guest ran the latch, and the
	 * status byte's bit 7 is OUT at that moment. */
	uint64_t sample = timed ? ALL : 0, status = timed ? ALL : 0x7f;

	for (unsigned i = 0; i < 3; i++) {
		const struct kvm_pit_channel_state *x = &a->channels[i];
		const struct kvm_pit_channel_state *y = &b->channels[i];
		char where[64];

		snprintf(where, sizeof(where), "%s channels[%u]", w, i);
		CMPF(r, where, x, y, count, ALL);
		CMPF(r, where, x, y, latched_count, sample);
		CMPF(r, where, x, y, count_latched, ALL);
		CMPF(r, where, x, y, status_latched, ALL);
		CMPF(r, where, x, y, status, status);
		CMPF(r, where, x, y, read_state, ALL);
		CMPF(r, where, x, y, write_state, ALL);
		CMPF(r, where, x, y, write_latch, ALL);
		CMPF(r, where, x, y, rw_mode, ALL);
		CMPF(r, where, x, y, mode, ALL);
		CMPF(r, where, x, y, bcd, ALL);
		CMPF(r, where, x, y, gate, ALL);
		CMPF(r, where, x, y, count_load_time, ALL);
	}
	CMPF(r, w, a, b, flags, ALL);
	for (unsigned i = 0; i < 9; i++)
		cmp(r, w, "reserved[]", a->reserved[i], b->reserved[i], ALL);
}

static void cmp_pic(struct report *r, const char *w,
		    const struct kvm_pic_state *a,
		    const struct kvm_pic_state *b, uint64_t irq0)
{
	/* irq0: the IRQ0 bit, which the PIT's ticks set in their own time. */
	CMPF(r, w, a, b, last_irr, ~irq0);
	CMPF(r, w, a, b, irr, ~irq0);
	CMPF(r, w, a, b, imr, ALL);
	CMPF(r, w, a, b, isr, ALL);
	CMPF(r, w, a, b, priority_add, ALL);
	CMPF(r, w, a, b, irq_base, ALL);
	CMPF(r, w, a, b, read_reg_select, ALL);
	CMPF(r, w, a, b, poll, ALL);
	CMPF(r, w, a, b, special_mask, ALL);
	CMPF(r, w, a, b, init_state, ALL);
	CMPF(r, w, a, b, auto_eoi, ALL);
	CMPF(r, w, a, b, rotate_on_auto_eoi, ALL);
	CMPF(r, w, a, b, special_fully_nested_mode, ALL);
	CMPF(r, w, a, b, init4, ALL);
	CMPF(r, w, a, b, elcr, ALL);
	CMPF(r, w, a, b, elcr_mask, ALL);
}

static void cmp_ioapic(struct report *r, const char *w,
		       const struct kvm_ioapic_state *a,
		       const struct kvm_ioapic_state *b, uint64_t pin2)
{
	CMPF(r, w, a, b, base_address, ALL);
	CMPF(r, w, a, b, ioregsel, ALL);
	CMPF(r, w, a, b, id, ALL);
	/* pin2: IRQ0's pin, high for an instant at each PIT tick. */
	CMPF(r, w, a, b, irr, ~pin2);
	for (unsigned i = 0; i < KVM_IOAPIC_NUM_PINS; i++) {
		char name[32];

		snprintf(name, sizeof(name), "redirtbl[%u].bits", i);
		cmp(r, w, name, a->redirtbl[i].bits, b->redirtbl[i].bits, ALL);
	}
}

static void cmp_lapic(struct report *r, const char *w,
		      const struct kvm_lapic_state *a,
		      const struct kvm_lapic_state *b, bool timed)
{
	for (unsigned off = 0; off < KVM_APIC_REG_SIZE; off += 4) {
		uint32_t x, y;
		char name[32];

		/* TMCCT counts down in each VM's own time. */
		if (off == 0x390 && !timed)
			continue;
		memcpy(&x, a->regs + off, 4);
		memcpy(&y, b->regs + off, 4);
		snprintf(name, sizeof(name), "regs[0x%03x]", off);
		cmp(r, w, name, x, y, ALL);
	}
}

/* dmsim leaves that depend on when things ran, not on what ran. */
struct leaf_filter {
	const char *path;
	uint64_t ignore; /* bits whose difference does not count */
};

static const struct leaf_filter timed_leaves[] = {
	{"ch0.latched_count", ALL},
	{"ch1.latched_count", ALL},
	{"ch2.latched_count", ALL},
	{"ch0.status", 0x80},
	{"ch1.status", 0x80},
	{"ch2.status", 0x80},
	{"kvm_expires", ALL},
	{"out0_timer", ALL},
	{"kvm_pending", ALL},
	{"kvm_irq_ack", ALL},
	{"chip0.irr", 0x1},
	{"chip0.line", 0x1},
	{"line", 0x4},
	{"tm_target", ALL},
};

struct diff_ctx {
	struct report *r;
	const char *dev;
};

static void on_diff(const struct dm_leaf *a, uint64_t b, void *opaque)
{
	struct diff_ctx *c = opaque;

	for (size_t i = 0; i < sizeof(timed_leaves) / sizeof(timed_leaves[0]);
	     i++)
		if (!strcmp(a->path, timed_leaves[i].path) &&
		    !((a->value ^ b) & ~timed_leaves[i].ignore))
			return;
	differ(c->r, c->dev, a->path, a->value, b);
}

static void cmp_dmsim(struct report *r, const struct dm_machine *a,
		      const struct dm_machine *b, const char *dev)
{
	const struct dm_device *x = dm_machine_device(a, dev);
	const struct dm_device *y = dm_machine_device(b, dev);
	struct diff_ctx c = {r, dev};

	ck_assert_ptr_nonnull(x);
	ck_assert_ptr_nonnull(y);
	r->compared++;
	dm_state_diff(x->desc, x->state, y->state, on_diff, &c);
}

/* ---- the test --------------------------------------------------------- */

struct kvm_snapshot {
	struct kvm_pit_state2 pit;
	struct kvm_irqchip chip[3];
	struct kvm_lapic_state lapic;
	uint64_t apic_base;
	uint64_t taken; /* CLOCK_MONOTONIC ns after the last ioctl */
};

static void snapshot(struct vm *v, struct kvm_snapshot *s)
{
	struct kvm_sregs sr;

	xioctl(v->vm, KVM_GET_PIT2, &s->pit, "KVM_GET_PIT2");
	for (uint32_t id = 0; id < 3; id++) {
		s->chip[id] = (struct kvm_irqchip){.chip_id = id};
		xioctl(v->vm, KVM_GET_IRQCHIP, &s->chip[id], "KVM_GET_IRQCHIP");
	}
	xioctl(v->vcpu, KVM_GET_LAPIC, &s->lapic, "KVM_GET_LAPIC");
	xioctl(v->vcpu, KVM_GET_SREGS, &sr, "KVM_GET_SREGS");
	s->apic_base = sr.apic_base;
	s->taken = mono_ns();
}

static struct dm_machine *dmsim_run(uint64_t t, uint64_t now)
{
	struct dm_config cfg;
	struct dm_machine *m;
	struct dm_error err = {""};

	dm_config_defaults(&cfg, DM_PROFILE_KVM);
	ck_assert_msg(dm_machine_create(&m, &cfg, &err) == 0, "%s", err.msg);
	replay(m, t, phase1, sizeof(phase1) / sizeof(phase1[0]));
	replay(m, t, phase2, sizeof(phase2) / sizeof(phase2[0]));
	dm_machine_advance(m, now);
	return m;
}

/* 1: dmsim's state as KVM structs, against KVM's. */
static void compare_to_kvm(struct report *r, const struct dm_machine *m,
			   uint64_t now, int64_t off,
			   const struct kvm_snapshot *k)
{
	struct dm_kvm_dump d;
	struct dm_error err = {""};

	ck_assert_msg(dm_kvm_dump_capture(m, now, off, &d, &err) == 0, "%s",
		      err.msg);
	cmp_pit(r, "pit", &d.pit, &k->pit, false);
	cmp_pic(r, "pic master", &d.chip[0].chip.pic, &k->chip[0].chip.pic, 1);
	cmp_pic(r, "pic slave", &d.chip[1].chip.pic, &k->chip[1].chip.pic, 0);
	cmp_ioapic(r, "ioapic", &d.chip[2].chip.ioapic, &k->chip[2].chip.ioapic,
		   4);
	cmp_lapic(r, "lapic0", &d.vcpu[0].lapic, &k->lapic, false);
	cmp(r, "lapic0", "apic_base", d.vcpu[0].apic_base, k->apic_base, ALL);
	dm_kvm_dump_free(&d);
}

/* 2: KVM's structs into a twin of the dmsim machine, against dmsim. */
static void compare_from_kvm(struct report *r, const struct dm_machine *m,
			     uint64_t now, int64_t off,
			     const struct kvm_snapshot *k)
{
	static const char *const devs[] = {"pit", "pic", "ioapic", "lapic0"};
	struct dm_machine *t;
	struct dm_error err = {""};
	size_t len;
	uint8_t *buf = dm_machine_save(m, &len);

	ck_assert_ptr_nonnull(buf);
	ck_assert_msg(dm_machine_restore(&t, &m->cfg, buf, len, &err) == 0,
		      "%s", err.msg);
	free(buf);
	ck_assert_msg(dm_kvm_lapic_from(t, now, 0, &k->lapic, &err) == 0, "%s",
		      err.msg);
	for (unsigned id = 0; id < 3; id++)
		ck_assert_msg(dm_kvm_irqchip_from(t, now, &k->chip[id], &err) ==
				      0,
			      "%s", err.msg);
	ck_assert_msg(dm_kvm_pit_from(t, now, off, &k->pit, &err) == 0, "%s",
		      err.msg);
	for (unsigned i = 0; i < sizeof(devs) / sizeof(devs[0]); i++)
		cmp_dmsim(r, m, t, devs[i]);
	dm_machine_destroy(t);
}

/* 3: KVM's structs through a dump file and a fresh machine, back. */
static void compare_dump(struct report *r, uint64_t now, int64_t off,
			 const struct kvm_snapshot *k)
{
	struct dm_kvm_vcpu_dump vcpu = {true, k->apic_base, k->lapic};
	struct dm_kvm_dump d = {
		.now_ns = now,
		.host_offset_ns = off,
		.has_pit = true,
		.pit = k->pit,
		.has_chip = {true, true, true},
		.chip = {k->chip[0], k->chip[1], k->chip[2]},
		.vcpus = 1,
		.vcpu = &vcpu,
	};
	char path[] = "/tmp/dmsim-kvmlive-XXXXXX";
	bool present[DM_MAX_DEVICES];
	struct dm_machine *m;
	struct dm_kvm_dump back;
	struct dm_error err = {""};
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_msg(dm_kvm_dump_write(path, &d, &err) == 0, "%s", err.msg);
	ck_assert_msg(dm_kvm_dump_load(path, &m, present, &err) == 0, "%s",
		      err.msg);
	unlink(path);
	ck_assert_msg(dm_kvm_dump_capture(m, now, off, &back, &err) == 0, "%s",
		      err.msg);
	cmp_pit(r, "dump pit", &back.pit, &k->pit, true);
	cmp_pic(r, "dump pic master", &back.chip[0].chip.pic,
		&k->chip[0].chip.pic, 0);
	cmp_pic(r, "dump pic slave", &back.chip[1].chip.pic,
		&k->chip[1].chip.pic, 0);
	cmp_ioapic(r, "dump ioapic", &back.chip[2].chip.ioapic,
		   &k->chip[2].chip.ioapic, 0);
	cmp_lapic(r, "dump lapic0", &back.vcpu[0].lapic, &k->lapic, true);
	dm_kvm_dump_free(&back);
	dm_machine_destroy(m);
}

START_TEST(kvm_and_dmsim_agree)
{
	struct vm v = {.kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC)};
	struct kvm_snapshot k;
	struct report r = {0, 0, ""};
	struct dm_machine *m;
	uint32_t hlt1, hlt2;
	int64_t off;
	uint64_t t, now;

	if (v.kvm < 0) {
		printf("test_kvm_live: skipped: no /dev/kvm (%s)\n",
		       strerror(errno));
		fflush(stdout);
		return;
	}
	vm_create(&v);
	hlt1 = assemble(v.mem, CODE_REAL, phase1,
			sizeof(phase1) / sizeof(phase1[0]));
	hlt2 = assemble(v.mem, CODE_FLAT, phase2,
			sizeof(phase2) / sizeof(phase2[0]));
	set_real_mode(&v, CODE_REAL);
	run_to_hlt(&v, hlt1);
	set_flat_mode(&v, CODE_FLAT);
	run_to_hlt(&v, hlt2);
	snapshot(&v, &k);

	/* KVM stamps counter 1 when it creates the PIT (its reset, dmsim's
	 * time 0) and counter 2 when the guest loaded its count: the offset
	 * and the instant to replay the guest's accesses at. */
	off = k.pit.channels[1].count_load_time;
	ck_assert_int_ge(off, (int64_t)v.created);
	t = (uint64_t)(k.pit.channels[2].count_load_time - off);
	now = k.taken - (uint64_t)off;
	m = dmsim_run(t, now);
	compare_to_kvm(&r, m, now, off, &k);
	compare_from_kvm(&r, m, now, off, &k);
	compare_dump(&r, now, off, &k);
	printf("test_kvm_live: KVM ran the guest to both HLTs; exits to user "
	       "space:%s (%u I/O, %u MMIO); PIT created at %lld ns, counter "
	       "2 loaded %llu ns later, snapshot at %llu ns; %u comparisons, "
	       "%u differences\n",
	       v.exits, v.io_exits, v.mmio_exits, (long long)off,
	       (unsigned long long)t, (unsigned long long)now, r.compared,
	       r.differ);
	fflush(stdout);
	dm_machine_destroy(m);
	vm_destroy(&v);
	close(v.kvm);
	ck_assert_msg(r.differ == 0, "%u differences: %s", r.differ, r.text);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kvm_live");
	TCase *tc = tcase_create("live");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, kvm_and_dmsim_agree);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return dm_test_main(suite());
}
