// SPDX-License-Identifier: MIT
/*
 * APIC bus tests: four LAPICs (vcpu 0 the BSP) behind dm_apicbus_deliver.
 * Destination forms per SDM vol. 3 11.6.2 and SPEC-NOTES 4.7; delivery
 * modes per 11.6.1; KVM behaviour from arch/x86/kvm/lapic.c.
 */
#include <string.h>

#include "models/lapic.h"
#include "sim/apicbus.h"
#include "sim/config.h"
#include "testutil.h"

#define N 4

enum {
	TPR = 0x80,
	EOI = 0xb0,
	LDR = 0xd0,
	DFR = 0xe0,
	SVR = 0xf0,
	TMR0 = 0x180,
	IRR0 = 0x200,
	ESR = 0x280,
	ICR = 0x300,
	ICR2 = 0x310,
};

struct sig {
	uint32_t vcpu;
	enum dm_vcpu_event ev;
	uint8_t vector;
};

struct eoi_probe {
	unsigned n;
	uint8_t last;
};

struct bus_rig {
	struct dm_config cfg;
	struct dm_eventq q;
	struct dm_lapic slot[2][N];
	struct dm_lapic *l;
	struct dm_apicbus bus;
	struct sig sig[64];
	unsigned nsig;
	struct eoi_probe eoi[N];
	unsigned pic_acks;
};

static struct bus_rig B;

static void on_signal(void *opaque, uint64_t now, uint32_t vcpu,
		      enum dm_vcpu_event ev, uint8_t vector)
{
	(void)opaque;
	(void)now;
	ck_assert_uint_lt(B.nsig, 64);
	B.sig[B.nsig++] = (struct sig){vcpu, ev, vector};
}

static void on_eoi(void *opaque, uint64_t now, uint8_t vector)
{
	struct eoi_probe *p = opaque;

	(void)now;
	p->n++;
	p->last = vector;
}

static int pic_inta(void *opaque, uint64_t now)
{
	(void)opaque;
	(void)now;
	B.pic_acks++;
	return 0x30;
}

static void wire(struct dm_lapic *l, unsigned i)
{
	l->bus = (struct dm_apic_sink){dm_apicbus_deliver, &B.bus};
	l->eoi_out = (struct dm_lapic_eoi_out){on_eoi, &B.eoi[i], NULL};
	l->signal = (struct dm_vcpu_signal){on_signal, NULL};
	l->extint_ack = pic_inta;
}

static void mw(unsigned i, uint64_t off, uint32_t val)
{
	dm_lapic_mmio_write(&B.l[i], 0, off, 4, val);
}

/* Reads a register through MMIO, or its MSR in x2APIC mode. */
static uint32_t mr(unsigned i, uint64_t off)
{
	uint64_t v;

	if (dm_lapic_mmio_enabled(&B.l[i]))
		return (uint32_t)dm_lapic_mmio_read(&B.l[i], 0, off, 4);
	ck_assert_int_eq(dm_lapic_msr_read(&B.l[i], 0,
					   DM_MSR_X2APIC_FIRST + (off >> 4),
					   &v),
			 DM_MSR_OK);
	return (uint32_t)v;
}

static int xw(unsigned i, uint32_t msr, uint64_t val)
{
	return dm_lapic_msr_write(&B.l[i], 0, msr, val);
}

/* Four LAPICs, software-enabled. */
static void setup(enum dm_profile p, const char *opts)
{
	struct dm_error err;

	dm_eventq_destroy(&B.q);
	memset(&B, 0, sizeof(B));
	dm_config_defaults(&B.cfg, p);
	ck_assert_msg(dm_config_parse(&B.cfg, opts, &err) == 0, "%s", err.msg);
	dm_eventq_init(&B.q);
	B.l = B.slot[0];
	for (unsigned i = 0; i < N; i++) {
		dm_lapic_init(&B.l[i], &B.cfg, &B.q, i, i == 0);
		wire(&B.l[i], i);
	}
	dm_apicbus_init(&B.bus, &B.cfg, B.l, N);
	for (unsigned i = 0; i < N; i++)
		mw(i, SVR, 0x1ff);
}

/* Checkpoints every LAPIC into fresh ones and continues on those. */
static void restore_all(void)
{
	struct dm_lapic *old = B.l;
	struct dm_lapic *fresh = old == B.slot[0] ? B.slot[1] : B.slot[0];

	for (unsigned i = 0; i < N; i++) {
		dm_lapic_init(&fresh[i], &B.cfg, &B.q, i, i == 0);
		wire(&fresh[i], i);
		dm_test_roundtrip(&dm_lapic_state_desc, &old[i], &fresh[i]);
		dm_timer_cancel(&old[i].timer);
	}
	B.l = fresh;
	B.bus.lapics = fresh;
}

/* Bit i set when LAPIC i has vector v in its IRR. */
static unsigned irr_set(unsigned v)
{
	unsigned mask = 0;

	for (unsigned i = 0; i < N; i++)
		if ((mr(i, IRR0 + (v / 32) * 0x10) >> (v % 32)) & 1)
			mask |= 1u << i;
	return mask;
}

/* Takes v on every LAPIC that has it pending, and retires it. */
static void drain(unsigned v)
{
	for (unsigned i = 0; i < N; i++)
		if ((irr_set(v) >> i) & 1) {
			ck_assert_int_eq(dm_lapic_intack(&B.l[i], 0), (int)v);
			mw(i, EOI, 0);
		}
}

static int msg(uint32_t dest, bool logical, enum dm_apic_delivery d,
	       uint8_t vector)
{
	struct dm_apic_msg m = {
		.dest = dest,
		.vector = vector,
		.delivery = d,
		.logical = logical,
		.assert = 1,
		.source = -1,
	};

	return dm_apicbus_deliver(&B.bus, 0, &m);
}

static void ipi(unsigned from, uint8_t dest, uint32_t lo)
{
	mw(from, ICR2, (uint32_t)dest << 24);
	mw(from, ICR, lo);
}

static void flat_ldrs(void)
{
	for (unsigned i = 0; i < N; i++)
		mw(i, LDR, (1u << i) << 24);
}

START_TEST(test_physical)
{
	setup(DM_PROFILE_DATASHEET, "");
	ck_assert_int_eq(msg(2, false, DM_DELIVERY_FIXED, 0x41), 1);
	ck_assert_uint_eq(irr_set(0x41), 0x4);
	ck_assert_int_eq(msg(0xff, false, DM_DELIVERY_FIXED, 0x42), 4);
	ck_assert_uint_eq(irr_set(0x42), 0xf);
	ck_assert_int_eq(msg(7, false, DM_DELIVERY_FIXED, 0x43), 0);
	ck_assert_uint_eq(irr_set(0x43), 0);
	ipi(1, 3, 0x44);
	ck_assert_uint_eq(irr_set(0x44), 0x8);
	/* A changed xAPIC ID is what matches. */
	mw(3, 0x20, 0x09000000);
	ck_assert_int_eq(msg(9, false, DM_DELIVERY_FIXED, 0x45), 1);
	ck_assert_uint_eq(irr_set(0x45), 0x8);
}
END_TEST

START_TEST(test_logical_flat)
{
	setup(DM_PROFILE_DATASHEET, "");
	flat_ldrs();
	ck_assert_int_eq(msg(0x05, true, DM_DELIVERY_FIXED, 0x43), 2);
	ck_assert_uint_eq(irr_set(0x43), 0x5);
	ck_assert_int_eq(msg(0xff, true, DM_DELIVERY_FIXED, 0x44), 4);
	ipi(0, 0x0a, 0x800 | 0x45); /* logical */
	ck_assert_uint_eq(irr_set(0x45), 0xa);
	ck_assert_int_eq(msg(0x00, true, DM_DELIVERY_FIXED, 0x46), 0);
}
END_TEST

START_TEST(test_logical_cluster)
{
	static const uint8_t ldr[N] = {0x11, 0x12, 0x21, 0x22};

	setup(DM_PROFILE_DATASHEET, "");
	for (unsigned i = 0; i < N; i++) {
		mw(i, DFR, 0x0fffffff);
		mw(i, LDR, (uint32_t)ldr[i] << 24);
	}
	ck_assert_int_eq(msg(0x13, true, DM_DELIVERY_FIXED, 0x50), 2);
	ck_assert_uint_eq(irr_set(0x50), 0x3);
	ck_assert_int_eq(msg(0x21, true, DM_DELIVERY_FIXED, 0x51), 1);
	ck_assert_uint_eq(irr_set(0x51), 0x4);
	/* Cluster 0xF addresses member 1 of every cluster. */
	ck_assert_int_eq(msg(0xf1, true, DM_DELIVERY_FIXED, 0x52), 2);
	ck_assert_uint_eq(irr_set(0x52), 0x5);
	/* DFR models other than flat or cluster match nothing. */
	mw(0, DFR, 0x5fffffff);
	ck_assert_int_eq(msg(0x11, true, DM_DELIVERY_FIXED, 0x53), 0);

	/* KVM compares the cluster exactly. */
	setup(DM_PROFILE_KVM, "");
	for (unsigned i = 0; i < N; i++) {
		mw(i, DFR, 0x0fffffff);
		mw(i, LDR, (uint32_t)ldr[i] << 24);
	}
	ck_assert_int_eq(msg(0xf1, true, DM_DELIVERY_FIXED, 0x52), 0);
	ck_assert_int_eq(msg(0x13, true, DM_DELIVERY_FIXED, 0x50), 2);
}
END_TEST

static void all_x2apic(void)
{
	for (unsigned i = 0; i < N; i++)
		ck_assert_int_eq(
			xw(i, DM_MSR_APIC_BASE, i ? 0xfee00c00 : 0xfee00d00),
			DM_MSR_OK);
}

START_TEST(test_x2apic_destinations)
{
	setup(DM_PROFILE_DATASHEET, "");
	all_x2apic();
	/* LDR of x2APIC ID n: cluster n >> 4, bit n & 0xf. */
	ck_assert_int_eq(xw(0, 0x830, 0x0000000600000860ull), DM_MSR_OK);
	ck_assert_uint_eq(irr_set(0x60), 0x6);
	xw(0, 0x830, 0x0001000100000861ull); /* cluster 1: nobody */
	ck_assert_uint_eq(irr_set(0x61), 0);
	xw(0, 0x830, 0xffffffff00000862ull); /* logical broadcast */
	ck_assert_uint_eq(irr_set(0x62), 0xf);
	xw(0, 0x830, 0xffffffff00000063ull); /* physical broadcast */
	ck_assert_uint_eq(irr_set(0x63), 0xf);
	xw(0, 0x830, 0x0000000300000064ull);
	ck_assert_uint_eq(irr_set(0x64), 0x8);
	/* 0xFF is an ordinary x2APIC ID: nobody here. */
	ck_assert_int_eq(msg(0xff, false, DM_DELIVERY_FIXED, 0x65), 0);
}
END_TEST

START_TEST(test_x2apic_ipi_with_restores)
{
	setup(DM_PROFILE_DATASHEET, "");
	all_x2apic();
	/* vcpu 1's one-shot timer: 5000 x 2 ticks of 1 ns, due at 10000. */
	ck_assert_int_eq(xw(1, 0x832, 0xa0), DM_MSR_OK);
	ck_assert_int_eq(xw(1, 0x838, 5000), DM_MSR_OK);
	restore_all();
	/* vcpu 1 sends fixed 0x70 to x2APIC ID 3. */
	ck_assert_int_eq(xw(1, 0x830, 0x0000000300000070ull), DM_MSR_OK);
	restore_all();
	ck_assert_uint_eq(irr_set(0x70), 0x8);
	ck_assert_int_eq(dm_lapic_pending(&B.l[3]), 0x70);
	restore_all();
	ck_assert_int_eq(dm_lapic_intack(&B.l[3], 0), 0x70);
	restore_all();
	ck_assert_int_eq(xw(3, 0x80b, 0), DM_MSR_OK);
	restore_all();
	ck_assert_int_eq(dm_lapic_pending(&B.l[3]), -1);
	/* INIT, SIPI, SIPI to vcpu 2, restoring between each step. */
	xw(1, 0x830, 0x000000020000c500ull);
	restore_all();
	xw(1, 0x830, 0x0000000200008500ull); /* de-assert: ignored */
	restore_all();
	xw(1, 0x830, 0x000000020000069aull);
	restore_all();
	xw(1, 0x830, 0x000000020000069aull); /* not waiting any more */
	restore_all();
	ck_assert_uint_eq(B.nsig, 2);
	ck_assert_uint_eq(B.sig[0].vcpu, 2);
	ck_assert_int_eq(B.sig[0].ev, DM_VCPU_INIT);
	ck_assert_int_eq(B.sig[1].ev, DM_VCPU_SIPI);
	ck_assert_uint_eq(B.sig[1].vector, 0x9a);
	/* x2APIC mode and ID survived the INIT. */
	ck_assert_uint_eq(dm_lapic_apic_id(&B.l[2]), 2);
	ck_assert(!dm_lapic_mmio_enabled(&B.l[2]));
	/* The timer still fires on its nanosecond. */
	ck_assert_uint_eq(B.l[1].timer.when, 10000);
	dm_eventq_run_until(&B.q, 9999);
	ck_assert_uint_eq(irr_set(0xa0), 0);
	dm_eventq_run_until(&B.q, 10000);
	ck_assert_uint_eq(irr_set(0xa0), 0x2);
}
END_TEST

START_TEST(test_shorthands)
{
	setup(DM_PROFILE_DATASHEET, "");
	ipi(1, 2, 0x00040050); /* self: the destination field is ignored */
	ck_assert_uint_eq(irr_set(0x50), 0x2);
	ipi(1, 2, 0x00080051); /* all including self */
	ck_assert_uint_eq(irr_set(0x51), 0xf);
	ipi(1, 2, 0x000c0052); /* all excluding self */
	ck_assert_uint_eq(irr_set(0x52), 0xd);
	ipi(1, 2, 0x00000053); /* none: the destination */
	ck_assert_uint_eq(irr_set(0x53), 0x4);
	/* An IOAPIC/MSI has no "self": all-excluding-self reaches all. */
	{
		struct dm_apic_msg m = {.vector = 0x54,
					.shorthand = DM_SHORTHAND_OTHERS,
					.assert = 1,
					.source = -1};

		ck_assert_int_eq(dm_apicbus_deliver(&B.bus, 0, &m), 4);
	}
}
END_TEST

START_TEST(test_lowest_priority_apr)
{
	setup(DM_PROFILE_DATASHEET, "");
	flat_ldrs();
	mw(0, TPR, 0x40);
	mw(1, TPR, 0x20);
	mw(2, TPR, 0x20);
	mw(3, TPR, 0x10);
	/* Lowest APR: vcpu 3. */
	ck_assert_int_eq(msg(0x0f, true, DM_DELIVERY_LOWEST, 0x55), 1);
	ck_assert_uint_eq(irr_set(0x55), 0x8);
	drain(0x55);
	/* Tie at APR 0x20 between vcpus 1 and 2: lowest APIC ID. */
	mw(3, TPR, 0x30);
	msg(0x0f, true, DM_DELIVERY_LOWEST, 0x55);
	ck_assert_uint_eq(irr_set(0x55), 0x2);
	drain(0x55);
	/* Focus: vcpu 2 already has 0x56 pending (APR 0x50 now). */
	msg(2, false, DM_DELIVERY_FIXED, 0x56);
	msg(0x0f, true, DM_DELIVERY_LOWEST, 0x56);
	ck_assert_uint_eq(irr_set(0x56), 0x4);
	/* Focus checking off (SVR[9]): back to the lowest APR. */
	mw(2, SVR, 0x3ff);
	msg(0x0f, true, DM_DELIVERY_LOWEST, 0x56);
	ck_assert_uint_eq(irr_set(0x56), 0x6);
	drain(0x56);
	/* Software-disabled APICs are not candidates: APRs now 0x40, -,
	 * 0x20, 0x30. */
	mw(1, SVR, 0xff);
	msg(0x0f, true, DM_DELIVERY_LOWEST, 0x57);
	ck_assert_uint_eq(irr_set(0x57), 0x4);
	/* An MSI redirection hint arbitrates a Fixed message too; vcpu 2's
	 * APR is 0x50 with 0x57 pending, so vcpu 3 (0x30) wins. */
	{
		struct dm_apic_msg m = {.dest = 0x0f,
					.vector = 0x58,
					.logical = 1,
					.redir_hint = 1,
					.assert = 1,
					.source = -1};

		ck_assert_int_eq(dm_apicbus_deliver(&B.bus, 0, &m), 1);
		ck_assert_uint_eq(irr_set(0x58), 0x8);
	}
	/* Physical broadcast: one of all. */
	ck_assert_int_eq(msg(0xff, false, DM_DELIVERY_LOWEST, 0x59), 1);
	/* Nobody enabled: dropped. */
	for (unsigned i = 0; i < N; i++)
		mw(i, SVR, 0xff);
	ck_assert_int_eq(msg(0x0f, true, DM_DELIVERY_LOWEST, 0x5a), 0);
}
END_TEST

START_TEST(test_lowest_priority_kvm_hash)
{
	setup(DM_PROFILE_KVM, "");
	flat_ldrs();
	/* k = 4 candidates: 0x55 = 85, 85 mod 4 = 1: the 2nd, vcpu 1. */
	msg(0x0f, true, DM_DELIVERY_LOWEST, 0x55);
	ck_assert_uint_eq(irr_set(0x55), 0x2);
	/* 0x57 = 87, 87 mod 4 = 3: vcpu 3. */
	msg(0x0f, true, DM_DELIVERY_LOWEST, 0x57);
	ck_assert_uint_eq(irr_set(0x57), 0x8);
	/* KVM: lowest priority to physical 0xFF is Fixed to all. */
	ck_assert_int_eq(msg(0xff, false, DM_DELIVERY_LOWEST, 0x58), 4);
	/* vcpu 0 software-disabled: k = 3, 90 mod 3 = 0: vcpu 1. */
	mw(0, SVR, 0xff);
	msg(0x0f, true, DM_DELIVERY_LOWEST, 0x5a);
	ck_assert_uint_eq(irr_set(0x5a), 0x2);
	/* 0x5c = 92, 92 mod 3 = 2: vcpu 3. */
	msg(0x0f, true, DM_DELIVERY_LOWEST, 0x5c);
	ck_assert_uint_eq(irr_set(0x5c), 0x8);
}
END_TEST

START_TEST(test_nmi_smi_init_sipi)
{
	setup(DM_PROFILE_DATASHEET, "");
	ipi(0, 2, 0x400); /* NMI */
	ipi(0, 3, 0x200); /* SMI */
	ck_assert_uint_eq(B.nsig, 2);
	ck_assert_uint_eq(B.sig[0].vcpu, 2);
	ck_assert_int_eq(B.sig[0].ev, DM_VCPU_NMI);
	ck_assert_uint_eq(B.sig[1].vcpu, 3);
	ck_assert_int_eq(B.sig[1].ev, DM_VCPU_SMI);
	/* An AP waits for a SIPI from power-up. */
	ipi(0, 3, 0x0610);
	ck_assert_uint_eq(B.nsig, 3);
	ck_assert_int_eq(B.sig[2].ev, DM_VCPU_SIPI);
	ck_assert_uint_eq(B.sig[2].vector, 0x10);
	/* INIT, SIPI, SIPI to vcpu 1, restoring between the steps. */
	ipi(0, 1, 0xc500);
	restore_all();
	ipi(0, 1, 0x8500); /* INIT level de-assert: ignored */
	restore_all();
	ipi(0, 1, 0x069a);
	restore_all();
	ipi(0, 1, 0x069b);
	ck_assert_uint_eq(B.nsig, 5);
	ck_assert_uint_eq(B.sig[3].vcpu, 1);
	ck_assert_int_eq(B.sig[3].ev, DM_VCPU_INIT);
	ck_assert_int_eq(B.sig[4].ev, DM_VCPU_SIPI);
	ck_assert_uint_eq(B.sig[4].vector, 0x9a);
	/* INIT to the BSP: it runs on, a SIPI means nothing. */
	ipi(1, 0, 0xc500);
	ipi(1, 0, 0x069a);
	ck_assert_uint_eq(B.nsig, 6);
	ck_assert_uint_eq(B.sig[5].vcpu, 0);
	ck_assert_int_eq(B.sig[5].ev, DM_VCPU_INIT);
	/* The INIT left vcpu 0 software-disabled: Fixed now dropped. */
	ck_assert_int_eq(msg(0, false, DM_DELIVERY_FIXED, 0x40), 0);
	/* Reserved mode 011 and ExtINT are not sent as IPIs. */
	ipi(1, 2, 0x0341);
	ipi(1, 2, 0x0741);
	ck_assert_uint_eq(irr_set(0x41), 0);
	ck_assert_uint_eq(B.nsig, 6);

	/* KVM: an AP needs an INIT before a SIPI counts. */
	setup(DM_PROFILE_KVM, "");
	ipi(0, 3, 0x0610);
	ck_assert_uint_eq(B.nsig, 0);
	ipi(0, 3, 0xc500);
	ipi(0, 3, 0x0610);
	ck_assert_uint_eq(B.nsig, 2);
	ck_assert_int_eq(B.sig[1].ev, DM_VCPU_SIPI);
}
END_TEST

START_TEST(test_illegal_vectors)
{
	setup(DM_PROFILE_DATASHEET, "");
	ipi(1, 2, 0x05);
	mw(1, ESR, 0);
	mw(2, ESR, 0);
	ck_assert_uint_eq(mr(1, ESR), 0x20);
	ck_assert_uint_eq(mr(2, ESR), 0);
	ck_assert_uint_eq(mr(2, IRR0), 0);
	ck_assert_int_eq(msg(2, false, DM_DELIVERY_FIXED, 0x0f), 0);
	mw(2, ESR, 0);
	ck_assert_uint_eq(mr(2, ESR), 0x40);
	/* NMI ignores the vector field. */
	ipi(1, 2, 0x405);
	ck_assert_uint_eq(B.nsig, 1);
}
END_TEST

START_TEST(test_extint_and_level_messages)
{
	setup(DM_PROFILE_DATASHEET, "");
	/* IOAPIC pin 0 in ExtINT mode (virtual wire B): one INTA. */
	ck_assert_int_eq(msg(0, false, DM_DELIVERY_EXTINT, 0), 1);
	ck_assert_int_eq(dm_lapic_pending(&B.l[0]), DM_LAPIC_EXTINT);
	ck_assert_int_eq(dm_lapic_intack(&B.l[0], 0), 0x30);
	ck_assert_uint_eq(B.pic_acks, 1);
	/* A level message sets TMR; its EOI is broadcast. */
	{
		struct dm_apic_msg m = {.dest = 2,
					.vector = 0x61,
					.level_trig = 1,
					.assert = 1,
					.source = -1};

		ck_assert_int_eq(dm_apicbus_deliver(&B.bus, 0, &m), 1);
	}
	ck_assert_uint_eq((mr(2, TMR0 + 0x30) >> 1) & 1, 1);
	drain(0x61);
	ck_assert_uint_eq(B.eoi[2].n, 1);
	ck_assert_uint_eq(B.eoi[2].last, 0x61);
	ck_assert_uint_eq(B.eoi[1].n, 0);
	/* Fixed to a software-disabled APIC is refused, NMI is not. */
	mw(2, SVR, 0xff);
	ck_assert_int_eq(msg(2, false, DM_DELIVERY_FIXED, 0x62), 0);
	ck_assert_int_eq(msg(2, false, DM_DELIVERY_NMI, 0), 1);
	/* A hardware-disabled APIC is off the bus. */
	xw(3, DM_MSR_APIC_BASE, 0xfee00000);
	ck_assert_int_eq(msg(3, false, DM_DELIVERY_NMI, 0), 0);
	ck_assert_int_eq(msg(0xff, false, DM_DELIVERY_FIXED, 0x63), 2);

	/* KVM ignores ExtINT messages and drops level de-asserts. */
	setup(DM_PROFILE_KVM, "");
	ck_assert_int_eq(msg(0, false, DM_DELIVERY_EXTINT, 0), 0);
	{
		struct dm_apic_msg m = {.dest = 2,
					.vector = 0x61,
					.level_trig = 1,
					.assert = 0,
					.source = -1};

		ck_assert_int_eq(dm_apicbus_deliver(&B.bus, 0, &m), 0);
	}
}
END_TEST

START_TEST(test_kvm_broadcast_quirk)
{
	/* KVM: an IOAPIC/MSI destination 0xFF is broadcast to x2APIC-mode
	 * vcpus; an IPI's is not. */
	setup(DM_PROFILE_KVM, "");
	all_x2apic();
	ck_assert_int_eq(msg(0xff, false, DM_DELIVERY_FIXED, 0x70), 4);
	xw(0, 0x830, 0x000000ff00000071ull);
	ck_assert_uint_eq(irr_set(0x71), 0);
	/* KVM's xAPIC: a destination above 0xFF names the x2APIC ID. */
	setup(DM_PROFILE_KVM, "");
	ck_assert_int_eq(msg(0x102, false, DM_DELIVERY_FIXED, 0x72), 0);
	ck_assert_int_eq(msg(0x2, false, DM_DELIVERY_FIXED, 0x72), 1);
	/* The datasheet xAPIC decodes the low 8 bits. */
	setup(DM_PROFILE_DATASHEET, "");
	ck_assert_int_eq(msg(0x102, false, DM_DELIVERY_FIXED, 0x72), 1);
	ck_assert_uint_eq(irr_set(0x72), 0x4);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("apicbus");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_physical);
	tcase_add_test(tc, test_logical_flat);
	tcase_add_test(tc, test_logical_cluster);
	tcase_add_test(tc, test_x2apic_destinations);
	tcase_add_test(tc, test_x2apic_ipi_with_restores);
	tcase_add_test(tc, test_shorthands);
	tcase_add_test(tc, test_lowest_priority_apr);
	tcase_add_test(tc, test_lowest_priority_kvm_hash);
	tcase_add_test(tc, test_nmi_smi_init_sipi);
	tcase_add_test(tc, test_illegal_vectors);
	tcase_add_test(tc, test_extint_and_level_messages);
	tcase_add_test(tc, test_kvm_broadcast_quirk);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return dm_test_main(suite());
}
