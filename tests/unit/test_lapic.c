// SPDX-License-Identifier: MIT
/*
 * LAPIC unit tests.  Expected values come from the SDM vol. 3 ch. 11 and
 * SPEC-NOTES 4 (datasheet profile) and from arch/x86/kvm/lapic.c (kvm
 * profile), worked out by hand in the comments.
 */
#include <string.h>

#include "models/lapic.h"
#include "sim/apicbus.h"
#include "sim/config.h"
#include "testutil.h"

#define NEVER DM_TIME_NEVER

/* Register offsets in the xAPIC page. */
enum {
	ID = 0x20,
	VER = 0x30,
	TPR = 0x80,
	APR = 0x90,
	PPR = 0xa0,
	EOI = 0xb0,
	LDR = 0xd0,
	DFR = 0xe0,
	SVR = 0xf0,
	ISR0 = 0x100,
	TMR0 = 0x180,
	IRR0 = 0x200,
	ESR = 0x280,
	CMCI = 0x2f0,
	ICR = 0x300,
	ICR2 = 0x310,
	LVTT = 0x320,
	LVTTHM = 0x330,
	LVTPC = 0x340,
	LVT0 = 0x350,
	LVT1 = 0x360,
	LVTERR = 0x370,
	TMICT = 0x380,
	TMCCT = 0x390,
	TDCR = 0x3e0,
};

struct sig {
	uint64_t t;
	uint32_t vcpu;
	enum dm_vcpu_event ev;
	uint8_t vector;
};

/* One LAPIC with a one-LAPIC bus (for self IPIs), a fake PIC and probes. */
struct rig {
	struct dm_config cfg;
	struct dm_eventq q;
	struct dm_lapic slot[2];
	struct dm_lapic *l;
	struct dm_apicbus bus;
	struct sig sig[64];
	unsigned nsig;
	uint8_t eoi[64];
	unsigned neoi;
	uint8_t eoi_edge[64];
	unsigned neoi_edge;
	int pic_vector;
	unsigned pic_acks;
};

static struct rig R;

static void on_signal(void *opaque, uint64_t now, uint32_t vcpu,
		      enum dm_vcpu_event ev, uint8_t vector)
{
	struct rig *r = opaque;

	ck_assert_uint_lt(r->nsig, 64);
	r->sig[r->nsig++] = (struct sig){now, vcpu, ev, vector};
}

static void on_eoi(void *opaque, uint64_t now, uint8_t vector)
{
	struct rig *r = opaque;

	(void)now;
	ck_assert_uint_lt(r->neoi, 64);
	r->eoi[r->neoi++] = vector;
}

static void on_eoi_edge(void *opaque, uint64_t now, uint8_t vector)
{
	struct rig *r = opaque;

	(void)now;
	ck_assert_uint_lt(r->neoi_edge, 64);
	r->eoi_edge[r->neoi_edge++] = vector;
}

static int pic_inta(void *opaque, uint64_t now)
{
	struct rig *r = opaque;

	(void)now;
	r->pic_acks++;
	return r->pic_vector;
}

static void wire(struct rig *r, struct dm_lapic *l)
{
	l->bus = (struct dm_apic_sink){dm_apicbus_deliver, &r->bus};
	l->eoi_out = (struct dm_lapic_eoi_out){on_eoi, r, on_eoi_edge};
	l->signal = (struct dm_vcpu_signal){on_signal, r};
	l->extint_ack = pic_inta;
	l->extint_opaque = r;
}

static struct dm_lapic *rig(enum dm_profile p, const char *opts, uint32_t vcpu,
			    bool bsp)
{
	struct dm_error err;

	dm_eventq_destroy(&R.q);
	memset(&R, 0, sizeof(R));
	dm_config_defaults(&R.cfg, p);
	ck_assert_msg(dm_config_parse(&R.cfg, opts, &err) == 0, "%s", err.msg);
	dm_eventq_init(&R.q);
	R.l = &R.slot[0];
	dm_lapic_init(R.l, &R.cfg, &R.q, vcpu, bsp);
	wire(&R, R.l);
	dm_apicbus_init(&R.bus, &R.cfg, R.l, 1);
	R.pic_vector = 0x30;
	return R.l;
}

/* Checkpoint into a freshly initialised LAPIC and continue on it. */
static struct dm_lapic *restore(void)
{
	struct dm_lapic *old = R.l;
	struct dm_lapic *fresh = old == &R.slot[0] ? &R.slot[1] : &R.slot[0];
	uint64_t h = dm_state_hash(&dm_lapic_state_desc, old);

	dm_lapic_init(fresh, &R.cfg, &R.q, old->cfg.vcpu_id,
		      old->cfg.reset_bsp);
	wire(&R, fresh);
	dm_test_roundtrip(&dm_lapic_state_desc, old, fresh);
	ck_assert_uint_eq(fresh->timer.when, old->timer.when);
	dm_timer_cancel(&old->timer);
	ck_assert_uint_eq(dm_state_hash(&dm_lapic_state_desc, fresh), h);
	R.l = fresh;
	R.bus.lapics = fresh;
	return fresh;
}

static uint32_t mr(uint64_t now, uint64_t off)
{
	return (uint32_t)dm_lapic_mmio_read(R.l, now, off, 4);
}

static void mw(uint64_t now, uint64_t off, uint32_t val)
{
	dm_lapic_mmio_write(R.l, now, off, 4, val);
}

static uint64_t xr(uint64_t now, uint32_t msr)
{
	uint64_t v;

	ck_assert_int_eq(dm_lapic_msr_read(R.l, now, msr, &v), DM_MSR_OK);
	return v;
}

static int xw(uint64_t now, uint32_t msr, uint64_t val)
{
	return dm_lapic_msr_write(R.l, now, msr, val);
}

static int xrc(uint64_t now, uint32_t msr)
{
	uint64_t v;

	return dm_lapic_msr_read(R.l, now, msr, &v);
}

static bool vec_in(uint64_t now, uint32_t base, unsigned v)
{
	return (mr(now, base + (v / 32) * 0x10) >> (v % 32)) & 1;
}

static bool irr(uint64_t now, unsigned v)
{
	return vec_in(now, IRR0, v);
}

static void run(uint64_t t)
{
	dm_eventq_run_until(&R.q, t);
}

static int fixed_msg(uint64_t now, uint8_t vector, bool level)
{
	struct dm_apic_msg m = {
		.dest = 0,
		.vector = vector,
		.delivery = DM_DELIVERY_FIXED,
		.level_trig = level,
		.assert = 1,
		.source = -1,
	};

	return dm_lapic_accept(R.l, now, &m);
}

static int mode_msg(uint64_t now, enum dm_apic_delivery d, uint8_t vector)
{
	struct dm_apic_msg m = {
		.vector = vector, .delivery = d, .assert = 1, .source = -1};

	return dm_lapic_accept(R.l, now, &m);
}

/* Takes vector v now and retires it. */
static void ack_eoi(uint64_t now, int v)
{
	ck_assert_int_eq(dm_lapic_intack(R.l, now), v);
	mw(now, EOI, 0);
}

static void enable(uint64_t now)
{
	mw(now, SVR, 0x1ff);
}

/* ---- Power-up and registers --------------------------------------------- */

START_TEST(test_powerup_datasheet)
{
	static const uint32_t lvts[] = {LVTT, LVTTHM, LVTPC,
					LVT0, LVT1,   LVTERR};

	rig(DM_PROFILE_DATASHEET, "", 0, true);
	ck_assert_uint_eq(xr(0, DM_MSR_APIC_BASE), 0xfee00900);
	ck_assert_uint_eq(dm_lapic_mmio_base(R.l), 0xfee00000);
	ck_assert(dm_lapic_mmio_enabled(R.l));
	ck_assert_uint_eq(mr(0, ID), 0);
	ck_assert_uint_eq(mr(0, VER), 0x00050014);
	ck_assert_uint_eq(mr(0, TPR), 0);
	ck_assert_uint_eq(mr(0, APR), 0);
	ck_assert_uint_eq(mr(0, PPR), 0);
	ck_assert_uint_eq(mr(0, LDR), 0);
	ck_assert_uint_eq(mr(0, DFR), 0xffffffff);
	ck_assert_uint_eq(mr(0, SVR), 0xff);
	for (unsigned i = 0; i < 24; i++)
		ck_assert_uint_eq(mr(0, ISR0 + i * 0x10), 0);
	ck_assert_uint_eq(mr(0, ESR), 0);
	ck_assert_uint_eq(mr(0, ICR), 0);
	ck_assert_uint_eq(mr(0, ICR2), 0);
	for (unsigned i = 0; i < 6; i++)
		ck_assert_uint_eq(mr(0, lvts[i]), 0x10000);
	ck_assert_uint_eq(mr(0, TMICT), 0);
	ck_assert_uint_eq(mr(0, TMCCT), 0);
	ck_assert_uint_eq(mr(0, TDCR), 0);
	/* No CMCI with 6 LVTs: an unimplemented register. */
	ck_assert_uint_eq(mr(0, CMCI), 0);

	rig(DM_PROFILE_DATASHEET, "", 3, false);
	ck_assert_uint_eq(xr(0, DM_MSR_APIC_BASE), 0xfee00800);
	ck_assert_uint_eq(mr(0, ID), 0x03000000);
}
END_TEST

START_TEST(test_powerup_options)
{
	rig(DM_PROFILE_DATASHEET, "lapic_lvts=7 lapic_directed_eoi=on", 0,
	    true);
	ck_assert_uint_eq(mr(0, VER), 0x01060014);
	ck_assert_uint_eq(mr(0, CMCI), 0x10000);
	enable(0);
	mw(0, CMCI, 0xffffffff);
	ck_assert_uint_eq(mr(0, CMCI), 0x107ff);
	mw(0, SVR, 0xffffffff);
	ck_assert_uint_eq(mr(0, SVR), 0x13ff);

	/* KVM_X86_QUIRK_LINT0_REENABLED: the BSP's LVT0 is ExtINT. */
	rig(DM_PROFILE_KVM, "", 0, true);
	ck_assert_uint_eq(mr(0, LVT0), 0x700);
	ck_assert_uint_eq(mr(0, VER), 0x00050014);
	rig(DM_PROFILE_KVM, "", 1, false);
	ck_assert_uint_eq(mr(0, LVT0), 0x10000);
}
END_TEST

START_TEST(test_register_masks)
{
	rig(DM_PROFILE_DATASHEET, "", 0, true);
	mw(0, ID, 0xab123456);
	ck_assert_uint_eq(mr(0, ID), 0xab000000);
	mw(0, TPR, 0x1ff);
	ck_assert_uint_eq(mr(0, TPR), 0xff);
	mw(0, TPR, 0);
	mw(0, LDR, 0x12345678);
	ck_assert_uint_eq(mr(0, LDR), 0x12000000);
	mw(0, DFR, 0);
	ck_assert_uint_eq(mr(0, DFR), 0x0fffffff);
	mw(0, DFR, 0xf0000000);
	ck_assert_uint_eq(mr(0, DFR), 0xffffffff);
	mw(0, SVR, 0xffffffff); /* no VER[24]: bit 12 stays 0 */
	ck_assert_uint_eq(mr(0, SVR), 0x3ff);
	mw(0, TDCR, 0xff);
	ck_assert_uint_eq(mr(0, TDCR), 0xb);
	mw(0, ICR2, 0x12345678);
	ck_assert_uint_eq(mr(0, ICR2), 0x12000000);
	/* Read-only registers ignore writes. */
	mw(0, VER, 0);
	ck_assert_uint_eq(mr(0, VER), 0x00050014);
	mw(0, PPR, 0xff);
	mw(0, APR, 0xff);
	mw(0, ISR0 + 0x10, 0xffffffff);
	mw(0, IRR0 + 0x10, 0xffffffff);
	mw(0, TMCCT, 5);
	ck_assert_uint_eq(mr(0, PPR), 0);
	ck_assert_uint_eq(mr(0, APR), 0);
	ck_assert_uint_eq(mr(0, ISR0 + 0x10), 0);
	ck_assert_uint_eq(mr(0, IRR0 + 0x10), 0);
	ck_assert_uint_eq(mr(0, TMCCT), 0);
	/* Not a 4-byte aligned write: dropped. */
	dm_lapic_mmio_write(R.l, 0, TPR, 1, 0x20);
	dm_lapic_mmio_write(R.l, 0, TPR + 4, 4, 0x20);
	dm_lapic_mmio_write(R.l, 0, TPR, 8, 0x20);
	ck_assert_uint_eq(mr(0, TPR), 0);
	/* Narrow reads see bytes of the register; the slot's rest reads 0. */
	ck_assert_uint_eq(dm_lapic_mmio_read(R.l, 0, VER, 1), 0x14);
	ck_assert_uint_eq(dm_lapic_mmio_read(R.l, 0, VER + 2, 2), 0x0005);
	ck_assert_uint_eq(dm_lapic_mmio_read(R.l, 0, VER + 3, 1), 0);
	ck_assert_uint_eq(dm_lapic_mmio_read(R.l, 0, VER + 4, 1), 0);
	ck_assert_uint_eq(dm_lapic_mmio_read(R.l, 0, VER, 8), 0);
	ck_assert_uint_eq(dm_lapic_mmio_read(R.l, 0, VER, 0), 0);
	ck_assert_uint_eq(mr(0, EOI), 0);
}
END_TEST

START_TEST(test_lvt_masks)
{
	static const uint32_t reg[] = {LVTT, LVTTHM, LVTPC, LVT0, LVT1, LVTERR};
	/* SPEC-NOTES 4.2: the fields each entry has. */
	static const uint32_t ds[] = {0x700ff, 0x107ff, 0x107ff,
				      0x1a7ff, 0x1a7ff, 0x100ff};
	/* KVM apic_lvt_mask[] + delivery status (+ Remote IRR in LINTs). */
	static const uint32_t kvm[] = {0x710ff, 0x117ff, 0x117ff,
				       0x1f7ff, 0x1f7ff, 0x110ff};

	rig(DM_PROFILE_DATASHEET, "", 0, true);
	enable(0);
	for (unsigned i = 0; i < 6; i++) {
		mw(0, reg[i], 0xffffffff);
		ck_assert_uint_eq(mr(0, reg[i]), ds[i]);
	}
	rig(DM_PROFILE_KVM, "", 0, true);
	enable(0);
	for (unsigned i = 0; i < 6; i++) {
		mw(0, reg[i], 0xffffffff);
		ck_assert_uint_eq(mr(0, reg[i]), kvm[i]);
	}
}
END_TEST

START_TEST(test_software_disable)
{
	rig(DM_PROFILE_DATASHEET, "", 0, true);
	/* Power-up: software-disabled, Fixed dropped, NMI still taken. */
	ck_assert_int_eq(fixed_msg(0, 0x40, false), 0);
	ck_assert(!irr(0, 0x40));
	ck_assert_int_eq(mode_msg(0, DM_DELIVERY_NMI, 0), 1);
	ck_assert_uint_eq(R.nsig, 1);
	ck_assert_int_eq(R.sig[0].ev, DM_VCPU_NMI);
	enable(0);
	mw(0, LVTT, 0x20);
	mw(0, LVT1, 0x400);
	ck_assert_uint_eq(mr(0, LVTT), 0x20);
	ck_assert_int_eq(fixed_msg(0, 0x40, false), 1);
	mw(0, SVR, 0xff);
	ck_assert_uint_eq(mr(0, LVTT), 0x10020);
	ck_assert_uint_eq(mr(0, LVT1), 0x10400);
	/* IRR keeps its contents. */
	ck_assert(irr(0, 0x40));
	mw(0, LVTERR, 0x33);
	ck_assert_uint_eq(mr(0, LVTERR), 0x10033);
	/* Re-enabling leaves the LVTs masked. */
	enable(0);
	ck_assert_uint_eq(mr(0, LVTT), 0x10020);
	ck_assert_uint_eq(mr(0, LVTERR), 0x10033);
}
END_TEST

/* QEMU's apic.c: software disable leaves the LVTs as written (a checkpoint
 * keeps the unmasked entries), and LINT0 still takes the 8259's ExtINT. */
START_TEST(test_software_disable_qemu)
{
	rig(DM_PROFILE_QEMU, "", 0, true);
	enable(0);
	mw(0, LVT0, 0x8700);
	mw(0, LVTT, 0x20);
	mw(0, SVR, 0xff);
	ck_assert_uint_eq(mr(0, LVT0), 0x8700);
	ck_assert_uint_eq(mr(0, LVTT), 0x20);
	mw(0, LVTERR, 0x33);
	ck_assert_uint_eq(mr(0, LVTERR), 0x33);
	restore();
	ck_assert_uint_eq(mr(0, LVT0), 0x8700);
	ck_assert_int_eq(fixed_msg(0, 0x40, false), 0);
}
END_TEST

/* ---- Priorities -----------------------------------------------------------
 */

/* Puts v in service through the IRR. */
static void in_service(uint8_t v)
{
	ck_assert_int_eq(fixed_msg(0, v, false), 1);
	ck_assert_int_eq(dm_lapic_intack(R.l, 0), v);
}

START_TEST(test_ppr_apr)
{
	rig(DM_PROFILE_DATASHEET, "", 0, true);
	enable(0);
	mw(0, TPR, 0x35);
	ck_assert_uint_eq(mr(0, PPR), 0x35);
	ck_assert_uint_eq(mr(0, APR), 0x35);
	mw(0, TPR, 0x20);
	in_service(0x51);
	ck_assert_uint_eq(mr(0, PPR), 0x50);
	ck_assert_uint_eq(mr(0, APR), 0x50); /* TPR class 0x20 <= ISR 0x50 */
	mw(0, TPR, 0x60);
	ck_assert_uint_eq(mr(0, PPR), 0x60);
	ck_assert_uint_eq(mr(0, APR), 0x60);
	mw(0, TPR, 0x5a);
	ck_assert_uint_eq(mr(0, PPR), 0x5a); /* TPR class == ISRV class */
	ck_assert_uint_eq(mr(0, APR), 0x50); /* not > ISRV: max of classes */
	mw(0, EOI, 0);
	mw(0, TPR, 0xff); /* hold 0x71 in the IRR */
	ck_assert_int_eq(fixed_msg(0, 0x71, false), 1);
	mw(0, TPR, 0x10);
	ck_assert_uint_eq(mr(0, PPR), 0x10);
	ck_assert_uint_eq(mr(0, APR), 0x70); /* TPR class < IRRV class */
	mw(0, TPR, 0x85);
	ck_assert_uint_eq(mr(0, APR), 0x85);

	rig(DM_PROFILE_KVM, "", 0, true);
	enable(0);
	mw(0, TPR, 0x35);
	ck_assert_uint_eq(mr(0, PPR), 0x35);
	ck_assert_uint_eq(mr(0, APR), 0);
}
END_TEST

START_TEST(test_intack_priorities)
{
	rig(DM_PROFILE_DATASHEET, "", 0, true);
	enable(0);
	ck_assert_int_eq(dm_lapic_intack(R.l, 0), -1);
	fixed_msg(0, 0x31, false);
	fixed_msg(0, 0x45, false);
	fixed_msg(0, 0x42, false);
	fixed_msg(0, 0x42, false); /* merges */
	ck_assert_int_eq(dm_lapic_pending(R.l), 0x45);
	ck_assert_int_eq(dm_lapic_intack(R.l, 0), 0x45);
	ck_assert(vec_in(0, ISR0, 0x45));
	/* 0x42 is in the class of the ISR: not above the PPR. */
	ck_assert_int_eq(dm_lapic_pending(R.l), -1);
	ck_assert_int_eq(dm_lapic_intack(R.l, 0), -1);
	fixed_msg(0, 0x61, false);
	ck_assert_int_eq(dm_lapic_intack(R.l, 0), 0x61); /* nests */
	mw(0, EOI, 0x1234);				 /* any value */
	ck_assert(!vec_in(0, ISR0, 0x61));
	ck_assert(vec_in(0, ISR0, 0x45));
	/* One pending plus one in service per vector. */
	fixed_msg(0, 0x45, false);
	ck_assert(irr(0, 0x45));
	mw(0, EOI, 0);
	ack_eoi(0, 0x45);
	ack_eoi(0, 0x42);
	/* The EOI made 0x31 deliverable (INTR raised); masking it with the
	 * TPR before INTA yields the spurious vector (SDM 11.9). */
	mw(0, TPR, 0x30);
	ck_assert_int_eq(dm_lapic_intack(R.l, 0), 0xff);
	ck_assert_int_eq(dm_lapic_intack(R.l, 0), -1);
	mw(0, TPR, 0x2f);
	ack_eoi(0, 0x31);
	mw(0, EOI, 0); /* empty ISR: nothing happens */
	ck_assert_uint_eq(R.neoi, 0);
}
END_TEST

START_TEST(test_spurious)
{
	rig(DM_PROFILE_DATASHEET, "", 0, true);
	mw(0, SVR, 0x1ef);
	fixed_msg(0, 0x52, false); /* INTR asserted */
	mw(0, TPR, 0x60);	   /* then masked before INTA */
	ck_assert_int_eq(dm_lapic_pending(R.l), 0xef);
	ck_assert_int_eq(dm_lapic_intack(R.l, 0), 0xef);
	ck_assert(!vec_in(0, ISR0, 0x52)); /* no ISR bit, no EOI needed */
	ck_assert_int_eq(dm_lapic_intack(R.l, 0), -1);
	mw(0, TPR, 0);
	ck_assert_int_eq(dm_lapic_intack(R.l, 0), 0x52);

	/* KVM checks deliverability at injection: never spurious. */
	rig(DM_PROFILE_KVM, "", 0, true);
	mw(0, SVR, 0x1ef);
	fixed_msg(0, 0x52, false);
	mw(0, TPR, 0x60);
	ck_assert_int_eq(dm_lapic_intack(R.l, 0), -1);
}
END_TEST

START_TEST(test_eoi_broadcast)
{
	rig(DM_PROFILE_DATASHEET, "", 0, true);
	enable(0);
	fixed_msg(0, 0x33, true);
	ck_assert(vec_in(0, TMR0, 0x33));
	ack_eoi(0, 0x33);
	ck_assert_uint_eq(R.neoi, 1);
	ck_assert_uint_eq(R.eoi[0], 0x33);
	fixed_msg(0, 0x34, false);
	ck_assert(!vec_in(0, TMR0, 0x34));
	ack_eoi(0, 0x34);
	ck_assert_uint_eq(R.neoi, 1); /* edge: no broadcast */
	mw(0, SVR, 0x11ff);	      /* bit 12 not implemented */
	ck_assert_uint_eq(mr(0, SVR), 0x1ff);

	rig(DM_PROFILE_DATASHEET, "lapic_directed_eoi=on", 0, true);
	mw(0, SVR, 0x11ff);
	ck_assert_uint_eq(mr(0, SVR), 0x11ff);
	fixed_msg(0, 0x33, true);
	ack_eoi(0, 0x33);
	ck_assert_uint_eq(R.neoi, 0); /* suppressed */
	ck_assert(!vec_in(0, ISR0, 0x33));
	mw(0, SVR, 0x1ff);
	fixed_msg(0, 0x33, true);
	ack_eoi(0, 0x33);
	ck_assert_uint_eq(R.neoi, 1);
	ck_assert_uint_eq(R.neoi_edge, 0);

	/* KVM reports the other EOIs too (edge, or level suppressed). */
	rig(DM_PROFILE_KVM, "lapic_directed_eoi=on", 0, true);
	enable(0);
	fixed_msg(0, 0x34, false);
	ack_eoi(0, 0x34);
	fixed_msg(0, 0x33, true);
	ack_eoi(0, 0x33);
	mw(0, SVR, 0x11ff);
	fixed_msg(0, 0x35, true);
	ack_eoi(0, 0x35);
	ck_assert_uint_eq(R.neoi, 1);
	ck_assert_uint_eq(R.eoi[0], 0x33);
	ck_assert_uint_eq(R.neoi_edge, 2);
	ck_assert_uint_eq(R.eoi_edge[0], 0x34);
	ck_assert_uint_eq(R.eoi_edge[1], 0x35);
}
END_TEST

START_TEST(test_esr)
{
	rig(DM_PROFILE_DATASHEET, "", 0, true);
	enable(0);
	mw(0, LVTERR, 0xee);
	ck_assert_int_eq(fixed_msg(0, 0x05, false), 0);
	ck_assert_uint_eq(mr(0, IRR0), 0); /* vectors 0-15 read 0 */
	/* Collected, raising the error LVT, but not visible before a write. */
	ck_assert(irr(0, 0xee));
	ck_assert_uint_eq(mr(0, ESR), 0);
	fixed_msg(0, 0x06, false); /* same error: no second interrupt */
	ack_eoi(0, 0xee);
	ck_assert(!irr(0, 0xee));
	mw(0, ESR, 0xffffffff);
	ck_assert_uint_eq(mr(0, ESR), 0x40);
	mw(0, ESR, 0);
	ck_assert_uint_eq(mr(0, ESR), 0);
	/* Sending an illegal vector: ESR bit 5, nothing sent. */
	mw(0, ICR, 0x00040005); /* fixed, self, vector 5 */
	mw(0, ESR, 0);
	ck_assert_uint_eq(mr(0, ESR), 0x20);
	/* Unimplemented register: bit 7. */
	mr(0, 0x290);
	mw(0, 0x3a0, 1);
	mw(0, ESR, 0);
	ck_assert_uint_eq(mr(0, ESR), 0x80);

	/* KVM never records errors and takes vectors 0-15 into the IRR. */
	rig(DM_PROFILE_KVM, "", 0, true);
	enable(0);
	mw(0, LVTERR, 0xee);
	ck_assert_int_eq(fixed_msg(0, 0x05, false), 1);
	ck_assert_uint_eq(mr(0, IRR0), 0x20);
	ck_assert(!irr(0, 0xee));
	ck_assert_int_eq(dm_lapic_intack(R.l, 0), -1);
	mw(0, ESR, 0);
	ck_assert_uint_eq(mr(0, ESR), 0);
}
END_TEST

/* ---- Timer -----------------------------------------------------------------
 */

START_TEST(test_timer_oneshot_divisors)
{
	/* SDM 11.5.4: DCR 0,1,2,3,8,9,A,B = divide by 2..128, 1. */
	static const struct {
		uint32_t dcr, div;
	} d[] = {{0x0, 2},  {0x1, 4},  {0x2, 8},   {0x3, 16},
		 {0x8, 32}, {0x9, 64}, {0xa, 128}, {0xb, 1}};

	rig(DM_PROFILE_DATASHEET, "", 0, true);
	enable(0);
	mw(0, LVTT, 0x30);
	for (unsigned i = 0; i < 8; i++) {
		uint64_t t0 = 1000000 * (i + 1), div = d[i].div;

		mw(t0, TDCR, d[i].dcr);
		mw(t0, TMICT, 100);
		/* 1 GHz bus: one tick per ns; a decrement every div ticks,
		 * expiry after 100 * div ticks. */
		ck_assert_uint_eq(mr(t0, TMCCT), 100);
		ck_assert_uint_eq(mr(t0 + div - 1, TMCCT), 100);
		ck_assert_uint_eq(mr(t0 + div, TMCCT), 99);
		ck_assert_uint_eq(R.l->timer.when, t0 + 100 * div);
		run(t0 + 100 * div - 1);
		ck_assert(!irr(t0 + 100 * div - 1, 0x30));
		run(t0 + 100 * div);
		ck_assert(irr(t0 + 100 * div, 0x30));
		ck_assert_uint_eq(mr(t0 + 100 * div, TMCCT), 0);
		ack_eoi(t0 + 100 * div, 0x30);
		ck_assert(!dm_timer_pending(&R.l->timer));
		ck_assert_uint_eq(mr(t0 + 100 * div + 1000, TMCCT), 0);
	}
}
END_TEST

START_TEST(test_timer_slow_bus)
{
	/* 25 MHz bus: tick k at ceil(k * 40) ns.  A write at 1010 ns falls in
	 * tick 25; divide by 2, count 10: expiry at tick 45 = 1800 ns. */
	rig(DM_PROFILE_DATASHEET, "lapic_hz=25000000", 0, true);
	enable(0);
	mw(1010, LVTT, 0x30);
	mw(1010, TMICT, 10);
	ck_assert_uint_eq(mr(1079, TMCCT), 10); /* tick 26 */
	ck_assert_uint_eq(mr(1080, TMCCT), 9);	/* tick 27 */
	ck_assert_uint_eq(R.l->timer.when, 1800);
	run(1799);
	ck_assert(!irr(1799, 0x30));
	run(1800);
	ck_assert(irr(1800, 0x30));
}
END_TEST

START_TEST(test_timer_zero_writes)
{
	rig(DM_PROFILE_DATASHEET, "", 0, true);
	enable(0);
	mw(0, LVTT, 0x20030);
	mw(0, TMICT, 100);
	mw(50, TMICT, 0); /* stops */
	ck_assert_uint_eq(mr(50, TMCCT), 0);
	ck_assert(!dm_timer_pending(&R.l->timer));
	run(1000);
	ck_assert(!irr(1000, 0x30));
	mw(1000, TDCR, 0xb); /* a divide change does not restart it */
	ck_assert(!dm_timer_pending(&R.l->timer));
	mw(1000, LVTT, 0x30); /* neither does a mode change */
	ck_assert(!dm_timer_pending(&R.l->timer));

	rig(DM_PROFILE_KVM, "", 0, true);
	enable(0);
	mw(0, LVTT, 0x30);
	mw(0, TMICT, 100);
	mw(50, TMICT, 0);
	ck_assert_uint_eq(mr(50, TMCCT), 0);
	ck_assert(!dm_timer_pending(&R.l->timer));
}
END_TEST

START_TEST(test_timer_kvm_count)
{
	/* KVM: expiry at t0 + 100 * 2 ns; current count =
	 * ((expiry - now) mod period) / 2, so 0 at the write itself. */
	rig(DM_PROFILE_KVM, "", 0, true);
	enable(0);
	mw(0, LVTT, 0x30);
	mw(1000, TMICT, 100);
	ck_assert_uint_eq(mr(1000, TMCCT), 0);
	ck_assert_uint_eq(mr(1001, TMCCT), 99);
	ck_assert_uint_eq(mr(1002, TMCCT), 99);
	ck_assert_uint_eq(mr(1003, TMCCT), 98);
	ck_assert_uint_eq(R.l->timer.when, 1200);
	run(1199);
	ck_assert(!irr(1199, 0x30));
	run(1200);
	ck_assert(irr(1200, 0x30));
	ck_assert_uint_eq(mr(1300, TMCCT), 0);
}
END_TEST

START_TEST(test_timer_periodic)
{
	rig(DM_PROFILE_DATASHEET, "", 0, true);
	enable(0);
	mw(0, TDCR, 0xb);
	mw(0, LVTT, 0x20030);
	mw(0, TMICT, 50);
	ck_assert_uint_eq(mr(25, TMCCT), 25);
	run(50);
	ck_assert(irr(50, 0x30));
	ck_assert_uint_eq(mr(50, TMCCT), 50); /* reloaded */
	ack_eoi(50, 0x30);
	run(99);
	ck_assert(!irr(99, 0x30));
	run(100);
	ck_assert(irr(100, 0x30));
	/* Not taken: later expiries merge into the pending IRR bit, so no
	 * event is queued while it waits. */
	ck_assert(!dm_timer_pending(&R.l->timer));
	ck_assert_uint_eq(mr(175, TMCCT), 25);
	ck_assert_int_eq(dm_lapic_intack(R.l, 1020), 0x30);
	mw(1020, EOI, 0);
	ck_assert_uint_eq(R.l->timer.when, 1050);
	run(1050);
	ck_assert(irr(1050, 0x30));
}
END_TEST

START_TEST(test_timer_periodic_kvm_clamp)
{
	/* KVM clamps periodic timers to min_timer_period_us = 200 us. */
	rig(DM_PROFILE_KVM, "", 0, true);
	enable(0);
	mw(0, TDCR, 0xb);
	mw(0, LVTT, 0x20030);
	mw(0, TMICT, 50);
	ck_assert_uint_eq(R.l->timer.when, 200000);
	ck_assert_uint_eq(mr(1, TMCCT), 199999);
	run(200000);
	ck_assert(irr(200000, 0x30));
	ack_eoi(200000, 0x30);
	ck_assert_uint_eq(R.l->timer.when, 400000);

	rig(DM_PROFILE_KVM, "lapic_min_period_us=0", 0, true);
	enable(0);
	mw(0, TDCR, 0xb);
	mw(0, LVTT, 0x20030);
	mw(0, TMICT, 50);
	ck_assert_uint_eq(R.l->timer.when, 50);
	run(50);
	ack_eoi(50, 0x30);
	ck_assert_uint_eq(R.l->timer.when, 100);
	ck_assert_uint_eq(mr(60, TMCCT), 40);
}
END_TEST

START_TEST(test_timer_divide_change)
{
	/* Datasheet: the count keeps its value and goes on at the new rate.
	 * Divide by 2, count 100 at 0: 75 at 50; then divide by 1: expiry
	 * 75 ticks later, at 125. */
	rig(DM_PROFILE_DATASHEET, "", 0, true);
	enable(0);
	mw(0, LVTT, 0x30);
	mw(0, TMICT, 100);
	ck_assert_uint_eq(mr(50, TMCCT), 75);
	mw(50, TDCR, 0xb);
	ck_assert_uint_eq(mr(50, TMCCT), 75);
	ck_assert_uint_eq(mr(60, TMCCT), 65);
	ck_assert_uint_eq(R.l->timer.when, 125);
	run(125);
	ck_assert(irr(125, 0x30));
	ack_eoi(125, 0x30);
	mw(300, TDCR, 0x0); /* after expiry: nothing more */
	ck_assert(!irr(300, 0x30));
	ck_assert(!dm_timer_pending(&R.l->timer));

	/* KVM: the remaining 150 ns scale by 1/2 to 75: also 125. */
	rig(DM_PROFILE_KVM, "", 0, true);
	enable(0);
	mw(0, LVTT, 0x30);
	mw(0, TMICT, 100);
	mw(50, TDCR, 0xb);
	ck_assert_uint_eq(mr(60, TMCCT), 65);
	ck_assert_uint_eq(R.l->timer.when, 125);
	run(125);
	ack_eoi(125, 0x30);
	/* KVM re-fires an expired one-shot on a divide change. */
	mw(300, TDCR, 0x0);
	ck_assert(irr(300, 0x30));
}
END_TEST

START_TEST(test_timer_mode_change)
{
	rig(DM_PROFILE_DATASHEET, "", 0, true);
	enable(0);
	mw(0, TDCR, 0xb);
	mw(0, LVTT, 0x30);
	mw(0, TMICT, 100);
	mw(30, LVTT, 0x20030); /* one-shot -> periodic, count running */
	ck_assert_uint_eq(mr(30, TMCCT), 70);
	run(100);
	ack_eoi(100, 0x30);
	ck_assert_uint_eq(mr(150, TMCCT), 50);
	run(200);
	ack_eoi(200, 0x30);
	mw(250, LVTT, 0x30); /* periodic -> one-shot at count 50 */
	run(300);
	ack_eoi(300, 0x30);
	ck_assert(!dm_timer_pending(&R.l->timer));
	ck_assert_uint_eq(mr(400, TMCCT), 0);
	/* Mode 11 (reserved) counts like one-shot. */
	mw(400, LVTT, 0x60030);
	mw(400, TMICT, 10);
	run(410);
	ack_eoi(410, 0x30);
	ck_assert(!dm_timer_pending(&R.l->timer));
	/* Into TSC-deadline mode: the count is disarmed and cleared. */
	mw(500, LVTT, 0x30);
	mw(500, TMICT, 100);
	mw(520, LVTT, 0x40030);
	ck_assert_uint_eq(mr(520, TMICT), 0);
	ck_assert_uint_eq(mr(520, TMCCT), 0);
	ck_assert(!dm_timer_pending(&R.l->timer));
	mw(530, TMICT, 100); /* ignored in TSC-deadline mode */
	ck_assert_uint_eq(mr(530, TMICT), 0);
	/* Out of it: the deadline is disarmed. */
	ck_assert_int_eq(xw(530, DM_MSR_TSC_DEADLINE, 100000), DM_MSR_OK);
	ck_assert(dm_timer_pending(&R.l->timer));
	mw(540, LVTT, 0x30);
	ck_assert(!dm_timer_pending(&R.l->timer));
	ck_assert_uint_eq(xr(540, DM_MSR_TSC_DEADLINE), 0);
}
END_TEST

START_TEST(test_timer_masked)
{
	rig(DM_PROFILE_DATASHEET, "", 0, true);
	enable(0);
	mw(0, TDCR, 0xb);
	mw(0, LVTT, 0x10030);
	mw(0, TMICT, 100);
	run(100);
	ck_assert(!irr(100, 0x30));
	ck_assert_uint_eq(mr(100, TMCCT), 0);
	/* Periodic and masked: counts on without queued events. */
	mw(1000, LVTT, 0x30030);
	mw(1000, TMICT, 100);
	ck_assert(!dm_timer_pending(&R.l->timer));
	ck_assert_uint_eq(mr(1250, TMCCT), 50);
	mw(1250, LVTT, 0x20030);
	ck_assert_uint_eq(R.l->timer.when, 1300);
	run(1300);
	ck_assert(irr(1300, 0x30));
}
END_TEST

START_TEST(test_tsc_deadline)
{
	/* TSC at 2 GHz: TSC(t) = 2t; deadline 3001 reached at 1501 ns. */
	rig(DM_PROFILE_DATASHEET, "", 0, true);
	enable(0);
	ck_assert_int_eq(xw(0, DM_MSR_TSC_DEADLINE, 5), DM_MSR_OK);
	ck_assert_uint_eq(xr(0, DM_MSR_TSC_DEADLINE), 0); /* not TSC mode */
	mw(0, LVTT, 0x40030);
	xw(100, DM_MSR_TSC_DEADLINE, 3001);
	ck_assert_uint_eq(xr(100, DM_MSR_TSC_DEADLINE), 3001);
	ck_assert_uint_eq(R.l->timer.when, 1501);
	ck_assert_uint_eq(mr(200, TMCCT), 0);
	run(1500);
	ck_assert(!irr(1500, 0x30));
	run(1501);
	ck_assert(irr(1501, 0x30));
	ck_assert_uint_eq(xr(1501, DM_MSR_TSC_DEADLINE), 0);
	ack_eoi(1501, 0x30);
	/* A deadline already passed fires at once. */
	xw(2000, DM_MSR_TSC_DEADLINE, 10);
	ck_assert(irr(2000, 0x30));
	ck_assert_uint_eq(xr(2000, DM_MSR_TSC_DEADLINE), 0);
	ack_eoi(2000, 0x30);
	/* Writing 0 disarms. */
	xw(3000, DM_MSR_TSC_DEADLINE, 100000);
	xw(3001, DM_MSR_TSC_DEADLINE, 0);
	ck_assert(!dm_timer_pending(&R.l->timer));
	/* Masked: fires silently and disarms. */
	mw(3001, LVTT, 0x50030);
	xw(3001, DM_MSR_TSC_DEADLINE, 8000);
	run(4000);
	ck_assert(!irr(4000, 0x30));
	ck_assert_uint_eq(xr(4000, DM_MSR_TSC_DEADLINE), 0);

	/* KVM: now + floor((3001 - 200) / 2) = 1500. */
	rig(DM_PROFILE_KVM, "", 0, true);
	enable(0);
	mw(0, LVTT, 0x40030);
	xw(100, DM_MSR_TSC_DEADLINE, 3001);
	ck_assert_uint_eq(R.l->timer.when, 1500);
}
END_TEST

/* ---- x2APIC and IA32_APIC_BASE ------------------------------------------- */

START_TEST(test_x2apic_registers)
{
	static const uint32_t gp_read[] = {0x800, 0x801, 0x809, 0x80b, 0x80c,
					   0x80e, 0x829, 0x82f, 0x831, 0x83a,
					   0x83f, 0x840, 0x8ff};
	static const uint32_t gp_write[] = {0x802, 0x803, 0x809, 0x80a,
					    0x80c, 0x80d, 0x80e, 0x810,
					    0x818, 0x820, 0x831, 0x839};

	rig(DM_PROFILE_DATASHEET, "", 0x13, false);
	/* Outside x2APIC mode the MSRs fault. */
	ck_assert_int_eq(xrc(0, 0x802), DM_MSR_GP);
	ck_assert_int_eq(xw(0, 0x808, 0), DM_MSR_GP);
	ck_assert_int_eq(xrc(0, 0x10), DM_MSR_UNHANDLED);
	ck_assert_int_eq(xw(0, 0x10, 0), DM_MSR_UNHANDLED);
	ck_assert_int_eq(xw(0, DM_MSR_APIC_BASE, 0xfee00c00), DM_MSR_OK);
	ck_assert(!dm_lapic_mmio_enabled(R.l));
	ck_assert_uint_eq(dm_lapic_mmio_read(R.l, 0, VER, 4), 0xffffffff);
	ck_assert_uint_eq(xr(0, 0x802), 0x13);
	ck_assert_uint_eq(xr(0, 0x803), 0x00050014);
	ck_assert_uint_eq(xr(0, 0x80d), 0x00010008); /* cluster 1, bit 3 */
	ck_assert_uint_eq(xr(0, 0x80f), 0xff);
	ck_assert_uint_eq(xr(0, 0x832), 0x10000);
	for (unsigned i = 0; i < sizeof(gp_read) / sizeof(gp_read[0]); i++)
		ck_assert_msg(xrc(0, gp_read[i]) == DM_MSR_GP, "read %x",
			      gp_read[i]);
	for (unsigned i = 0; i < sizeof(gp_write) / sizeof(gp_write[0]); i++)
		ck_assert_msg(xw(0, gp_write[i], 0) == DM_MSR_GP, "write %x",
			      gp_write[i]);
	ck_assert_int_eq(xw(0, 0x80f, 0x1ff), DM_MSR_OK);
	ck_assert_int_eq(xw(0, 0x808, 0x20), DM_MSR_OK);
	ck_assert_uint_eq(xr(0, 0x808), 0x20);
	ck_assert_int_eq(xw(0, 0x808, 1ull << 32), DM_MSR_GP);
	ck_assert_int_eq(xw(0, 0x80b, 1), DM_MSR_GP);
	ck_assert_int_eq(xw(0, 0x80b, 0), DM_MSR_OK);
	ck_assert_int_eq(xw(0, 0x828, 1), DM_MSR_GP);
	ck_assert_int_eq(xw(0, 0x828, 0), DM_MSR_OK);
	ck_assert_int_eq(xw(0, 0x83f, 0x100), DM_MSR_GP);
	ck_assert_int_eq(xw(0, 0x830, 0x2000), DM_MSR_GP);  /* bit 13 */
	ck_assert_int_eq(xw(0, 0x830, 0x10000), DM_MSR_GP); /* bit 16 */
	ck_assert_int_eq(xw(0, 0x830, 0x100000), DM_MSR_GP);
	/* 64-bit ICR: fixed 0x70 to x2APIC ID 0x13 (this LAPIC). */
	ck_assert_int_eq(xw(0, 0x830, 0x0000001300000070ull), DM_MSR_OK);
	ck_assert_uint_eq(xr(0, 0x830), 0x0000001300000070ull);
	ck_assert_uint_eq(xr(0, 0x823) >> 16 & 1, 1); /* IRR bit 0x70 */
	ck_assert_int_eq(xw(0, 0x83f, 0x71), DM_MSR_OK);
	ck_assert_uint_eq(xr(0, 0x823) >> 17 & 1, 1);
	ck_assert_int_eq(dm_lapic_intack(R.l, 0), 0x71);
	ck_assert_uint_eq(xr(0, 0x813) >> 17 & 1, 1); /* ISR */
	ck_assert_int_eq(xw(0, 0x838, 1000), DM_MSR_OK);
	ck_assert_uint_eq(xr(0, 0x838), 1000);
	ck_assert_uint_eq(xr(0, 0x839), 1000); /* a masked timer counts */
	ck_assert_int_eq(xw(0, 0x83e, 0xb), DM_MSR_OK);
	ck_assert_uint_eq(xr(0, 0x83e), 0xb);

	/* KVM accepts any EOI value. */
	rig(DM_PROFILE_KVM, "", 1, false);
	xw(0, DM_MSR_APIC_BASE, 0xfee00c00);
	ck_assert_int_eq(xw(0, 0x80b, 1), DM_MSR_OK);
	ck_assert_int_eq(xw(0, 0x828, 1), DM_MSR_GP);
}
END_TEST

START_TEST(test_apic_base_transitions)
{
	rig(DM_PROFILE_DATASHEET, "", 0, true);
	ck_assert_int_eq(xw(0, DM_MSR_APIC_BASE, 0xfee00d00), DM_MSR_OK);
	ck_assert_int_eq(xw(0, DM_MSR_APIC_BASE, 0xfee00900), DM_MSR_GP);
	ck_assert_int_eq(xw(0, DM_MSR_APIC_BASE, 0xfee00100), DM_MSR_OK);
	ck_assert_int_eq(xw(0, DM_MSR_APIC_BASE, 0xfee00d00), DM_MSR_GP);
	ck_assert_int_eq(xw(0, DM_MSR_APIC_BASE, 0xfee00500), DM_MSR_GP);
	ck_assert_int_eq(xw(0, DM_MSR_APIC_BASE, 0xfee00900), DM_MSR_OK);
	ck_assert_int_eq(xw(0, DM_MSR_APIC_BASE, 0xfee00901), DM_MSR_GP);
	ck_assert_int_eq(xw(0, DM_MSR_APIC_BASE, 0xfee00b00), DM_MSR_GP);
	ck_assert_int_eq(xw(0, DM_MSR_APIC_BASE, (1ull << 40) | 0xfee00900),
			 DM_MSR_GP);
	ck_assert_uint_eq(xr(0, DM_MSR_APIC_BASE), 0xfee00900);
	/* Relocation; the BSP flag is not the guest's to change. */
	ck_assert_int_eq(xw(0, DM_MSR_APIC_BASE, 0xfed00800), DM_MSR_OK);
	ck_assert_uint_eq(xr(0, DM_MSR_APIC_BASE), 0xfed00900);
	ck_assert_uint_eq(dm_lapic_mmio_base(R.l), 0xfed00000);
	/* Disabling loses the state. */
	enable(0);
	mw(0, TPR, 0x40);
	mw(0, ID, 0x07000000);
	fixed_msg(0, 0x50, false);
	xw(0, DM_MSR_APIC_BASE, 0xfed00100);
	ck_assert(!dm_lapic_mmio_enabled(R.l));
	ck_assert_uint_eq(dm_lapic_mmio_read(R.l, 0, TPR, 4), 0xffffffff);
	ck_assert_int_eq(fixed_msg(0, 0x51, false), 0);
	ck_assert_int_eq(mode_msg(0, DM_DELIVERY_NMI, 0), 0);
	xw(0, DM_MSR_APIC_BASE, 0xfed00900);
	ck_assert_uint_eq(mr(0, TPR), 0);
	ck_assert_uint_eq(mr(0, ID), 0);
	ck_assert_uint_eq(mr(0, SVR), 0xff);
	ck_assert(!irr(0, 0x50));
	/* No x2APIC in CPUID: EXTD is reserved. */
	rig(DM_PROFILE_DATASHEET, "lapic_x2apic=off", 0, true);
	ck_assert_int_eq(xw(0, DM_MSR_APIC_BASE, 0xfee00d00), DM_MSR_GP);

	/* KVM keeps the registers and rewrites the ID; BSP is writable. */
	rig(DM_PROFILE_KVM, "", 2, true);
	enable(0);
	mw(0, TPR, 0x40);
	mw(0, ID, 0x07000000);
	xw(0, DM_MSR_APIC_BASE, 0xfee00100);
	xw(0, DM_MSR_APIC_BASE, 0xfee00900);
	ck_assert_uint_eq(mr(0, TPR), 0x40);
	ck_assert_uint_eq(mr(0, ID), 0x02000000);
	xw(0, DM_MSR_APIC_BASE, 0xfee00800);
	ck_assert_uint_eq(xr(0, DM_MSR_APIC_BASE), 0xfee00800);
}
END_TEST

START_TEST(test_init_keeps_id_and_base)
{
	rig(DM_PROFILE_DATASHEET, "", 2, false);
	enable(0);
	mw(0, ID, 0x0a000000);
	xw(0, DM_MSR_APIC_BASE, 0xfed00800);
	mw(0, TPR, 0x20);
	mw(0, LDR, 0x04000000);
	mw(0, LVTT, 0x20030);
	mw(0, TMICT, 1000);
	fixed_msg(0, 0x60, true);
	ck_assert_int_eq(mode_msg(5, DM_DELIVERY_INIT, 0), 1);
	ck_assert_uint_eq(R.nsig, 1);
	ck_assert_int_eq(R.sig[0].ev, DM_VCPU_INIT);
	ck_assert_uint_eq(R.sig[0].t, 5);
	ck_assert_uint_eq(xr(5, DM_MSR_APIC_BASE), 0xfed00800);
	ck_assert_uint_eq(dm_lapic_mmio_read(R.l, 5, ID, 4), 0x0a000000);
	ck_assert_uint_eq(mr(5, TPR), 0);
	ck_assert_uint_eq(mr(5, LDR), 0);
	ck_assert_uint_eq(mr(5, SVR), 0xff);
	ck_assert_uint_eq(mr(5, LVTT), 0x10000);
	ck_assert_uint_eq(mr(5, TMICT), 0);
	ck_assert(!irr(5, 0x60));
	ck_assert(!vec_in(5, TMR0, 0x60));
	ck_assert(!dm_timer_pending(&R.l->timer));
	/* The AP now waits for one SIPI. */
	ck_assert_int_eq(mode_msg(6, DM_DELIVERY_SIPI, 0x9a), 1);
	ck_assert_int_eq(mode_msg(7, DM_DELIVERY_SIPI, 0x9b), 0);
	ck_assert_uint_eq(R.nsig, 2);
	ck_assert_int_eq(R.sig[1].ev, DM_VCPU_SIPI);
	ck_assert_uint_eq(R.sig[1].vector, 0x9a);

	/* x2APIC mode survives INIT. */
	rig(DM_PROFILE_DATASHEET, "", 2, false);
	xw(0, DM_MSR_APIC_BASE, 0xfee00c00);
	mode_msg(0, DM_DELIVERY_INIT, 0);
	ck_assert_uint_eq(xr(0, DM_MSR_APIC_BASE), 0xfee00c00);
	ck_assert_uint_eq(xr(0, 0x802), 2);
	ck_assert_uint_eq(xr(0, 0x80d), 0x4);

	/* INIT level de-assert is ignored. */
	rig(DM_PROFILE_DATASHEET, "", 2, false);
	enable(0);
	{
		struct dm_apic_msg m = {.delivery = DM_DELIVERY_INIT,
					.level_trig = 1,
					.assert = 0,
					.source = -1};

		ck_assert_int_eq(dm_lapic_accept(R.l, 0, &m), 0);
	}
	ck_assert_uint_eq(mr(0, SVR), 0x1ff);
	ck_assert_uint_eq(R.nsig, 0);
}
END_TEST

/* ---- LINT pins and ExtINT -------------------------------------------------
 */

START_TEST(test_extint_fake_pic)
{
	rig(DM_PROFILE_DATASHEET, "", 0, true);
	enable(0);
	mw(0, LVT0, 0x700);
	ck_assert_int_eq(dm_lapic_pending(R.l), -1);
	dm_lapic_set_lint(R.l, 10, 0, 1);
	fixed_msg(10, 0x80, false);
	ck_assert_int_eq(dm_lapic_pending(R.l), DM_LAPIC_EXTINT);
	/* ExtINT first, from the PIC's INTA; the IRR waits. */
	ck_assert_int_eq(dm_lapic_intack(R.l, 10), 0x30);
	ck_assert_uint_eq(R.pic_acks, 1);
	dm_lapic_set_lint(R.l, 11, 0, 0);
	ck_assert_int_eq(dm_lapic_intack(R.l, 11), 0x80);
	mw(12, LVT0, 0x10700); /* masked: the PIC is not heard */
	dm_lapic_set_lint(R.l, 12, 0, 1);
	ck_assert_int_eq(dm_lapic_pending(R.l), -1);
	/* An ExtINT message (IOAPIC virtual wire) is one INTA. */
	mode_msg(13, DM_DELIVERY_EXTINT, 0);
	ck_assert_int_eq(dm_lapic_intack(R.l, 13), 0x30);
	ck_assert_int_eq(dm_lapic_intack(R.l, 13), -1);
	ck_assert_uint_eq(R.pic_acks, 2);

	/* KVM: LVT0 = 0x700 from reset, heard while software-disabled;
	 * ExtINT messages are ignored. */
	rig(DM_PROFILE_KVM, "", 0, true);
	dm_lapic_set_lint(R.l, 0, 0, 1);
	ck_assert_int_eq(dm_lapic_intack(R.l, 0), 0x30);
	dm_lapic_set_lint(R.l, 0, 0, 0);
	ck_assert_int_eq(mode_msg(0, DM_DELIVERY_EXTINT, 0), 0);
	ck_assert_int_eq(dm_lapic_pending(R.l), -1);
}
END_TEST

START_TEST(test_lint_nmi_and_fixed)
{
	rig(DM_PROFILE_DATASHEET, "", 0, true);
	enable(0);
	mw(0, LVT1, 0x400);
	dm_lapic_set_lint(R.l, 1, 1, 1);
	dm_lapic_set_lint(R.l, 2, 1, 1); /* held: one edge */
	ck_assert_uint_eq(R.nsig, 1);
	ck_assert_int_eq(R.sig[0].ev, DM_VCPU_NMI);
	dm_lapic_set_lint(R.l, 3, 1, 0);
	dm_lapic_set_lint(R.l, 4, 1, 1);
	ck_assert_uint_eq(R.nsig, 2);
	/* Active-low polarity: the falling edge is the active one. */
	mw(5, LVT1, 0x2400);
	dm_lapic_set_lint(R.l, 6, 1, 0);
	ck_assert_uint_eq(R.nsig, 3);
	dm_lapic_set_lint(R.l, 7, 1, 1);
	ck_assert_uint_eq(R.nsig, 3);
	/* Edge Fixed on LINT1. */
	dm_lapic_set_lint(R.l, 8, 1, 0);
	mw(8, LVT1, 0x36);
	dm_lapic_set_lint(R.l, 9, 1, 1);
	ck_assert(irr(9, 0x36));
	ack_eoi(9, 0x36);

	/* Level Fixed on LINT0: Remote IRR until EOI, then again while the
	 * pin stays high. */
	mw(10, LVT0, 0x8035);
	dm_lapic_set_lint(R.l, 10, 0, 1);
	ck_assert(irr(10, 0x35));
	ck_assert(vec_in(10, TMR0, 0x35));
	ck_assert_uint_eq(mr(10, LVT0), 0xc035);
	ack_eoi(11, 0x35);
	ck_assert_uint_eq(R.neoi, 1);
	ck_assert(irr(11, 0x35));
	ck_assert_uint_eq(mr(11, LVT0), 0xc035);
	dm_lapic_set_lint(R.l, 12, 0, 0);
	ack_eoi(12, 0x35);
	ck_assert(!irr(12, 0x35));
	ck_assert_uint_eq(mr(12, LVT0), 0x8035);

	/* KVM ignores the polarity bit. */
	rig(DM_PROFILE_KVM, "", 0, true);
	enable(0);
	mw(0, LVT1, 0x2400);
	dm_lapic_set_lint(R.l, 1, 1, 1);
	ck_assert_uint_eq(R.nsig, 1);
}
END_TEST

START_TEST(test_lint_hw_disabled)
{
	/* SDM 11.4.3: without the APIC, LINT0 is INTR and LINT1 NMI. */
	rig(DM_PROFILE_DATASHEET, "", 0, true);
	xw(0, DM_MSR_APIC_BASE, 0xfee00100);
	dm_lapic_set_lint(R.l, 1, 1, 1);
	ck_assert_uint_eq(R.nsig, 1);
	ck_assert_int_eq(R.sig[0].ev, DM_VCPU_NMI);
	dm_lapic_set_lint(R.l, 2, 0, 1);
	ck_assert_int_eq(dm_lapic_pending(R.l), DM_LAPIC_EXTINT);
	ck_assert_int_eq(dm_lapic_intack(R.l, 2), 0x30);
	ck_assert_uint_eq(xr(2, DM_MSR_TSC_DEADLINE), 0);
}
END_TEST

/* ---- Checkpoints ----------------------------------------------------------
 */

START_TEST(test_restore_timer_mid_count)
{
	rig(DM_PROFILE_DATASHEET, "", 0, true);
	enable(0);
	mw(0, LVTT, 0x20030);
	mw(0, TMICT, 1000);
	run(700);
	restore();
	ck_assert_uint_eq(mr(700, TMCCT), 650); /* divide by 2 */
	ck_assert_uint_eq(R.l->timer.when, 2000);
	run(1999);
	ck_assert(!irr(1999, 0x30));
	run(2000);
	ck_assert(irr(2000, 0x30));
	restore(); /* a pending IRR bit, timer quiet */
	ack_eoi(2100, 0x30);
	ck_assert_uint_eq(R.l->timer.when, 4000);

	rig(DM_PROFILE_KVM, "", 0, true);
	enable(0);
	mw(0, LVTT, 0x30);
	mw(0, TDCR, 0x3);
	mw(0, TMICT, 1000);
	run(5000);
	restore();
	ck_assert_uint_eq(mr(5000, TMCCT), 687); /* 11000 / 16 */
	run(16000);
	ck_assert(irr(16000, 0x30));
}
END_TEST

START_TEST(test_restore_x2apic_tsc_deadline)
{
	rig(DM_PROFILE_DATASHEET, "", 7, false);
	xw(0, DM_MSR_APIC_BASE, 0xfee00c00);
	xw(0, 0x80f, 0x1ff);
	xw(0, 0x832, 0x40040);
	xw(0, DM_MSR_TSC_DEADLINE, 1000001);
	xw(0, 0x808, 0x10);
	restore();
	ck_assert_uint_eq(xr(10, 0x802), 7);
	ck_assert_uint_eq(xr(10, 0x808), 0x10);
	ck_assert_uint_eq(xr(10, DM_MSR_TSC_DEADLINE), 1000001);
	ck_assert_uint_eq(R.l->timer.when, 500001);
	run(500000);
	ck_assert(!(xr(500000, 0x822) & 1));
	run(500001);
	ck_assert(xr(500001, 0x822) & 1);
	restore();
	ck_assert_int_eq(dm_lapic_intack(R.l, 500002), 0x40);
	restore();
	ck_assert_int_eq(xw(500003, 0x80b, 0), DM_MSR_OK);
	ck_assert_uint_eq(xr(500003, 0x812), 0);
}
END_TEST

/* Offset of element elem of field id in an encoding (sim/state.c format:
 * u16 version, then per field a 5-byte header and the elements). */
static size_t field_at(unsigned id, unsigned elem, size_t *size)
{
	const struct dm_state_desc *d = &dm_lapic_state_desc;
	size_t pos = 2;

	for (size_t i = 0; i < d->nfields; i++) {
		const struct dm_field *f = &d->fields[i];
		size_t sz = f->type == DM_FT_BOOL || f->type == DM_FT_U8 ? 1
			    : f->type == DM_FT_U16			 ? 2
			    : f->type == DM_FT_U32			 ? 4
									 : 8;

		pos += 5;
		if (f->id == id) {
			*size = sz;
			return pos + elem * sz;
		}
		pos += f->count * sz;
	}
	ck_abort_msg("no field %u", id);
	return 0;
}

/* Loads a checkpoint of R.l with one element replaced; expects a rejection
 * naming what. */
static void reject(unsigned id, unsigned elem, uint64_t value, const char *what)
{
	size_t n = dm_state_encoded_size(&dm_lapic_state_desc), size;
	uint8_t buf[1024];
	size_t at = field_at(id, elem, &size);
	struct dm_error err = {{0}};
	uint64_t before = dm_state_hash(&dm_lapic_state_desc, R.l);

	ck_assert_uint_le(n, sizeof(buf));
	dm_state_encode(&dm_lapic_state_desc, R.l, buf, n);
	for (size_t b = 0; b < size; b++)
		buf[at + b] = (uint8_t)(value >> (8 * b));
	ck_assert_int_eq(dm_state_load(&dm_lapic_state_desc, R.l, buf, n, &err),
			 -1);
	ck_assert_msg(strstr(err.msg, what), "'%s' not in '%s'", what, err.msg);
	ck_assert_uint_eq(dm_state_hash(&dm_lapic_state_desc, R.l), before);
}

START_TEST(test_hostile_checkpoint)
{
	rig(DM_PROFILE_DATASHEET, "", 0, true);
	enable(0);
	mw(0, LVTT, 0x30);
	mw(0, TMICT, 100);
	reject(1, 0, 0xfee00500, "apic_base");		/* EXTD without EN */
	reject(1, 0, 0x100000fee00900ull, "apic_base"); /* >= MAXPHYADDR */
	reject(1, 0, 0xfee00801, "apic_base");		/* beyond max */
	reject(5, 0, 0x10, "dfr");
	reject(6, 0, 0x1ff | 0x1000, "svr"); /* no directed EOI */
	reject(6, 0, 0xdff, "svr");
	reject(9, 0, 0x1, "irr[0]"); /* vector 0 */
	reject(10, 0, 0x01, "esr");
	reject(12, 0, 0x3000, "icr_lo");
	reject(14, 0, 0x80030, "lvt[0]");
	reject(14, 0, 0x1030, "lvt[0]");  /* delivery status bit */
	reject(14, 2, 0x12000, "lvt[2]"); /* polarity: not in PerfMon */
	reject(14, 6, 0x0, "lvt[6]");	  /* no CMCI here */
	reject(16, 0, 0x4, "tdcr");
	reject(17, 0, 101, "tm_count");
	reject(19, 0, 5, "tm_target");
	reject(21, 0, 5, "tsc_deadline");
	reject(23, 0, 4, "lint_level");
	reject(24, 0, 2, "wait_sipi");
	mw(0, SVR, 0xff);
	reject(14, 1, 0x0, "lvt[1]"); /* unmasked while disabled */

	rig(DM_PROFILE_KVM, "", 0, true);
	enable(0);
	mw(0, LVTT, 0x30);
	mw(0, TMICT, 100);
	reject(20, 0, 12345, "tm_period");
	reject(17, 0, 1, "tm_count");
	reject(26, 0, 1, "extint_pending");
}
END_TEST

/* ---- Hostile register values ----------------------------------------------
 */

START_TEST(test_hostile_values)
{
	/* 1 THz bus, count 1, divide by 1: a thousand expiries per ns
	 * merge; the timer never re-arms at or before its deadline. */
	rig(DM_PROFILE_DATASHEET, "lapic_hz=1000000000000", 0, true);
	enable(0);
	mw(0, TDCR, 0xb);
	mw(0, LVTT, 0x20030);
	mw(0, TMICT, 1);
	for (uint64_t t = 1; t <= 200; t++) {
		run(t);
		ck_assert(irr(t, 0x30));
		ack_eoi(t, 0x30);
		ck_assert_uint_gt(R.l->timer.when, t);
	}
	/* 1 Hz bus, the largest count and divisor: beyond 2^64 ns. */
	rig(DM_PROFILE_DATASHEET, "lapic_hz=1", 0, true);
	enable(0);
	mw(0, TDCR, 0xa);
	mw(0, LVTT, 0x30);
	mw(UINT64_MAX - 10, TMICT, 0xffffffff);
	ck_assert(!dm_timer_pending(&R.l->timer));
	ck_assert_uint_eq(mr(UINT64_MAX, TMCCT), 0xffffffff);
	/* The largest deadline. */
	mw(0, LVTT, 0x40030);
	xw(0, DM_MSR_TSC_DEADLINE, UINT64_MAX);
	ck_assert_uint_eq(R.l->timer.when, 1ull << 63); /* 2 GHz */
	ck_assert_uint_eq(xr(0, DM_MSR_TSC_DEADLINE), UINT64_MAX);
	/* Odd accesses. */
	for (unsigned size = 0; size <= 16; size++) {
		dm_lapic_mmio_read(R.l, 0, 0xfff, size);
		dm_lapic_mmio_read(R.l, 0, 0x1000 + size, size);
		dm_lapic_mmio_write(R.l, 0, 0xff0, size, UINT64_MAX);
		dm_lapic_mmio_write(R.l, 0, 0x5000, size, UINT64_MAX);
	}
	dm_lapic_set_lint(R.l, 0, 7, 1);
	ck_assert_uint_eq(R.l->lint_level, 0);
	/* KVM flavour with huge counts. */
	rig(DM_PROFILE_KVM, "lapic_hz=1", 0, true);
	enable(0);
	mw(0, TDCR, 0xa);
	mw(0, LVTT, 0x20030);
	mw(UINT64_MAX - 10, TMICT, 0xffffffff);
	ck_assert(!dm_timer_pending(&R.l->timer));
	mr(UINT64_MAX, TMCCT);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("lapic");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_powerup_datasheet);
	tcase_add_test(tc, test_powerup_options);
	tcase_add_test(tc, test_register_masks);
	tcase_add_test(tc, test_lvt_masks);
	tcase_add_test(tc, test_software_disable);
	tcase_add_test(tc, test_software_disable_qemu);
	tcase_add_test(tc, test_ppr_apr);
	tcase_add_test(tc, test_intack_priorities);
	tcase_add_test(tc, test_spurious);
	tcase_add_test(tc, test_eoi_broadcast);
	tcase_add_test(tc, test_esr);
	tcase_add_test(tc, test_timer_oneshot_divisors);
	tcase_add_test(tc, test_timer_slow_bus);
	tcase_add_test(tc, test_timer_zero_writes);
	tcase_add_test(tc, test_timer_kvm_count);
	tcase_add_test(tc, test_timer_periodic);
	tcase_add_test(tc, test_timer_periodic_kvm_clamp);
	tcase_add_test(tc, test_timer_divide_change);
	tcase_add_test(tc, test_timer_mode_change);
	tcase_add_test(tc, test_timer_masked);
	tcase_add_test(tc, test_tsc_deadline);
	tcase_add_test(tc, test_x2apic_registers);
	tcase_add_test(tc, test_apic_base_transitions);
	tcase_add_test(tc, test_init_keeps_id_and_base);
	tcase_add_test(tc, test_extint_fake_pic);
	tcase_add_test(tc, test_lint_nmi_and_fixed);
	tcase_add_test(tc, test_lint_hw_disabled);
	tcase_add_test(tc, test_restore_timer_mid_count);
	tcase_add_test(tc, test_restore_x2apic_tsc_deadline);
	tcase_add_test(tc, test_hostile_checkpoint);
	tcase_add_test(tc, test_hostile_values);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return dm_test_main(suite());
}
