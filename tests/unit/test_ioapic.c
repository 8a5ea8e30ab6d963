// SPDX-License-Identifier: MIT
/*
 * IOAPIC (models/ioapic.c).  Expected values come from the 82093AA and
 * ICH datasheets (register layout, RTE bits, Remote IRR rules) and, for
 * the kvm and qemu flavours, from KVM's arch/x86/kvm/ioapic.c and QEMU's
 * hw/intc/ioapic.c as summarised in SPEC-NOTES section 3.
 */
#include <stdio.h>
#include <string.h>

#include "models/ioapic.h"
#include "sim/config.h"
#include "sim/state.h"
#include "sim/timer.h"
#include "testutil.h"

#define RING 64

/* RTE bits (82093AA 3.2.4). */
#define DELIV(m) ((uint32_t)(m) << 8)
#define LOGICAL (1u << 11)
#define DELIVERY_STATUS (1u << 12)
#define ACTIVE_LOW (1u << 13)
#define RIRR (1u << 14)
#define LEVEL (1u << 15)
#define MASKED (1u << 16)
#define DEST(d) ((uint32_t)(d) << 24)

#define IOREGSEL 0x00
#define IOWIN 0x10
#define EOIR 0x40
#define REG_ID 0x00
#define REG_VER 0x01
#define REG_ARB 0x02
#define RTE_LO(pin) (0x10 + 2 * (pin))
#define RTE_HI(pin) (0x11 + 2 * (pin))

#define MS (1000ULL * 1000ULL)

/* A bus that records messages and accepts them "accept" times over. */
struct sink {
	int accept;
	unsigned count;
	struct dm_apic_msg msgs[RING];
};

/* The ack listener; with repulse_pin >= 0 it pulses that pin on each ack,
 * the way KVM's PIT reinject injects the next tick. */
struct acks {
	unsigned count;
	unsigned pins[RING];
	int repulse_pin;
	unsigned nmasks; /* mask notifications, the last as pin | masked << 8 */
	unsigned last_mask;
};

static const enum dm_profile profiles[] = {DM_PROFILE_DATASHEET, DM_PROFILE_KVM,
					   DM_PROFILE_QEMU};

static struct {
	struct dm_config cfg;
	struct dm_eventq q;
	struct dm_ioapic dev[2];
	struct dm_ioapic *s;
	struct sink sink;
	struct acks acks;
	uint64_t now;
} fx;

static int sink_deliver(void *opaque, uint64_t now, const struct dm_apic_msg *m)
{
	struct sink *k = opaque;

	(void)now;
	k->msgs[k->count++ % RING] = *m;
	return k->accept;
}

static void ack_record(void *opaque, uint64_t now, unsigned irq)
{
	struct acks *a = opaque;

	a->pins[a->count++ % RING] = irq;
	if (a->repulse_pin >= 0) {
		dm_ioapic_set_irq(fx.s, now, (unsigned)a->repulse_pin, 1);
		dm_ioapic_set_irq(fx.s, now, (unsigned)a->repulse_pin, 0);
	}
}

static void mask_record(void *opaque, uint64_t now, unsigned pin, bool masked)
{
	struct acks *a = opaque;

	(void)now;
	a->nmasks++;
	a->last_mask = pin | (unsigned)masked << 8;
}

static void init_dev(struct dm_ioapic *s)
{
	struct dm_error err = {{0}};

	ck_assert_msg(dm_ioapic_init(s, &fx.cfg, &fx.q, &err) == 0, "%s",
		      err.msg);
	s->bus = (struct dm_apic_sink){sink_deliver, &fx.sink};
	s->acked = (struct dm_irq_ack){ack_record, &fx.acks};
	s->mask = (struct dm_irq_mask){mask_record, &fx.acks};
}

/* A machine of the given profile plus extra options ("" for none). */
static void setup(enum dm_profile p, const char *opts)
{
	struct dm_error err = {{0}};

	memset(&fx, 0, sizeof(fx));
	dm_config_defaults(&fx.cfg, p);
	ck_assert_msg(dm_config_parse(&fx.cfg, opts, &err) == 0, "%s", err.msg);
	dm_eventq_init(&fx.q);
	fx.sink.accept = 1;
	fx.acks.repulse_pin = -1;
	fx.now = 1000;
	init_dev(&fx.dev[0]);
	fx.s = &fx.dev[0];
}

static void teardown(void)
{
	dm_eventq_destroy(&fx.q);
}

/* Checkpoint into a freshly built IOAPIC and carry on with that one. */
static void restore(void)
{
	struct dm_ioapic *fresh = fx.s == &fx.dev[0] ? &fx.dev[1] : &fx.dev[0];

	init_dev(fresh);
	dm_test_roundtrip(&dm_ioapic_state_desc, fx.s, fresh);
	dm_timer_cancel(&fx.s->throttle);
	fx.s = fresh;
}

/* Moves virtual time to t, firing due timers. */
static void advance_to(uint64_t t)
{
	fx.now = t;
	dm_eventq_run_until(&fx.q, t);
}

static void step(void)
{
	advance_to(fx.now + 10);
}

static uint64_t mmio_r(uint64_t off, unsigned size)
{
	step();
	return dm_ioapic_read(fx.s, fx.now, off, size);
}

static void mmio_w(uint64_t off, unsigned size, uint64_t v)
{
	step();
	dm_ioapic_write(fx.s, fx.now, off, size, v);
}

static uint32_t rd(unsigned idx)
{
	mmio_w(IOREGSEL, 4, idx);
	return (uint32_t)mmio_r(IOWIN, 4);
}

static void wr(unsigned idx, uint32_t v)
{
	mmio_w(IOREGSEL, 4, idx);
	mmio_w(IOWIN, 4, v);
}

/* High half first, so an unmask in lo takes effect on a complete entry. */
static void rte_set(unsigned pin, uint32_t lo, uint32_t hi)
{
	wr(RTE_HI(pin), hi);
	wr(RTE_LO(pin), lo);
}

static void irq(unsigned pin, int level)
{
	step();
	dm_ioapic_set_irq(fx.s, fx.now, pin, level);
}

static void pulse(unsigned pin)
{
	irq(pin, 1);
	irq(pin, 0);
}

static void eoi(uint8_t vector)
{
	step();
	dm_ioapic_eoi(fx.s, fx.now, vector);
}

static const struct dm_apic_msg *last_msg(void)
{
	ck_assert_uint_gt(fx.sink.count, 0);
	return &fx.sink.msgs[(fx.sink.count - 1) % RING];
}

static uint32_t ver_for(uint32_t version)
{
	return 0x00170000u | version;
}

/* ---- Registers ---------------------------------------------------- */

/* 82093AA 3.2: ID 0, VER 0x0017vvvv, ARB 0, every entry masked.  KVM's
 * entries start zeroed with the mask bit; QEMU's are 0x00010000. */
START_TEST(test_reset_values)
{
	setup(profiles[_i], "");
	ck_assert_uint_eq(rd(REG_VER), profiles[_i] == DM_PROFILE_KVM
					       ? 0x00170011u
					       : 0x00170020u);
	ck_assert_uint_eq(rd(REG_ID), 0);
	ck_assert_uint_eq(rd(REG_ARB), 0);
	for (unsigned pin = 0; pin < DM_IOAPIC_PINS; pin++) {
		ck_assert_uint_eq(rd(RTE_LO(pin)), MASKED);
		ck_assert_uint_eq(rd(RTE_HI(pin)), 0);
	}
	mmio_w(IOREGSEL, 4, 0);
	ck_assert_uint_eq(mmio_r(IOREGSEL, 4), 0);
	teardown();
}
END_TEST

/* ID bits 27:24 are R/W (others reserved, read 0); ARB follows the ID
 * (82093AA 3.2.1/3.2.3); VER and ARB ignore writes. */
START_TEST(test_id_ver_arb)
{
	uint32_t ver;

	setup(profiles[_i], "");
	ver = rd(REG_VER);
	wr(REG_ID, 0xffffffff);
	ck_assert_uint_eq(rd(REG_ID), 0x0f000000);
	ck_assert_uint_eq(rd(REG_ARB), 0x0f000000);
	wr(REG_ID, 0x05000000);
	ck_assert_uint_eq(rd(REG_ID), 0x05000000);
	ck_assert_uint_eq(rd(REG_ARB), 0x05000000);
	wr(REG_VER, 0);
	ck_assert_uint_eq(rd(REG_VER), ver);
	wr(REG_ARB, 0x0a000000);
	ck_assert_uint_eq(rd(REG_ARB), 0x05000000);
	ck_assert_uint_eq(rd(REG_ID), 0x05000000);
	ck_assert_uint_eq(fx.sink.count, 0);
	teardown();
}
END_TEST

/* Every RTE field reads back as written except delivery status (12) and
 * Remote IRR (14), which are read-only and 0 here. */
START_TEST(test_rte_fields)
{
	static const uint32_t lo[] = {
		0x000000fe,		     /* vector */
		MASKED | DELIV(7),	     /* delivery mode */
		MASKED | LOGICAL,	     /* destination mode */
		MASKED | ACTIVE_LOW,	     /* polarity */
		MASKED | LEVEL | 0x31,	     /* trigger */
		MASKED | DELIV(1) | LOGICAL, /* mixed */
	};

	setup(profiles[_i], "");
	for (unsigned i = 0; i < sizeof(lo) / sizeof(lo[0]); i++) {
		wr(RTE_LO(7), lo[i]);
		ck_assert_uint_eq(rd(RTE_LO(7)), lo[i]);
	}
	wr(RTE_LO(7), 0xffffffff);
	ck_assert_uint_eq(rd(RTE_LO(7)),
			  0xffffffff & ~(DELIVERY_STATUS | RIRR));
	wr(RTE_LO(7), MASKED | DELIVERY_STATUS | RIRR | LEVEL | 0x20);
	ck_assert_uint_eq(rd(RTE_LO(7)), MASKED | LEVEL | 0x20);
	/* Destination 63:56; reserved 55:32 are kept as written. */
	wr(RTE_HI(7), 0xffffffff);
	ck_assert_uint_eq(rd(RTE_HI(7)), 0xffffffff);
	wr(RTE_HI(7), DEST(0xa5));
	ck_assert_uint_eq(rd(RTE_HI(7)), DEST(0xa5));
	/* The last entry and its neighbour. */
	wr(RTE_HI(23), DEST(0x3c));
	ck_assert_uint_eq(rd(RTE_HI(23)), DEST(0x3c));
	ck_assert_uint_eq(rd(RTE_LO(23)), MASKED);
	ck_assert_uint_eq(rd(RTE_HI(22)), 0);
	ck_assert_uint_eq(fx.sink.count, 0);
	teardown();
}
END_TEST

/* 0x03-0x0F and 0x40-0xFF: KVM reads 0xFFFFFFFF, QEMU and the datasheet
 * model 0; writes change nothing. */
/* A write that flips an entry's mask bit tells the mask listener (KVM's
 * ioapic_write_indirect fires the mask notifiers); other writes do not. */
START_TEST(test_mask_changes_are_told)
{
	setup(profiles[_i], "");
	rte_set(2, 0x30, 0); /* unmask pin 2 (reset: masked) */
	ck_assert_uint_eq(fx.acks.nmasks, 1);
	ck_assert_uint_eq(fx.acks.last_mask, 2);
	wr(RTE_LO(2), 0x31);	   /* vector only */
	wr(RTE_HI(2), 0x01000000); /* destination only */
	ck_assert_uint_eq(fx.acks.nmasks, 1);
	restore();
	wr(RTE_LO(2), 0x10031); /* masked again */
	ck_assert_uint_eq(fx.acks.nmasks, 2);
	ck_assert_uint_eq(fx.acks.last_mask, 2 | 1u << 8);
	teardown();
}
END_TEST

START_TEST(test_undefined_indices)
{
	static const unsigned idx[] = {0x03, 0x0f, 0x40, 0x41, 0x80, 0xff};
	uint32_t want = profiles[_i] == DM_PROFILE_KVM ? 0xffffffffu : 0;
	uint64_t before;

	setup(profiles[_i], "");
	before = dm_state_hash(&dm_ioapic_state_desc, fx.s);
	for (unsigned i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
		ck_assert_uint_eq(rd(idx[i]), want);
		wr(idx[i], 0xffffffff);
		ck_assert_uint_eq(rd(idx[i]), want);
	}
	wr(REG_ID, 0);
	for (unsigned pin = 0; pin < DM_IOAPIC_PINS; pin++) {
		ck_assert_uint_eq(rd(RTE_LO(pin)), MASKED);
		ck_assert_uint_eq(rd(RTE_HI(pin)), 0);
	}
	ck_assert_uint_eq(rd(REG_ID), 0);
	mmio_w(IOREGSEL, 4, 0);
	ck_assert_uint_eq(dm_state_hash(&dm_ioapic_state_desc, fx.s), before);
	teardown();
}
END_TEST

/* IOREGSEL holds 8 bits (82093AA 3.1.1, ICH IND) in every flavour. */
START_TEST(test_ioregsel)
{
	setup(profiles[_i], "");
	mmio_w(IOREGSEL, 4, 0x12345613);
	ck_assert_uint_eq(mmio_r(IOREGSEL, 4), 0x13);
	mmio_w(IOREGSEL, 1, 0x21);
	ck_assert_uint_eq(mmio_r(IOREGSEL, 4), 0x21);
	ck_assert_uint_eq(mmio_r(IOREGSEL, 1), 0x21);
	wr(RTE_HI(8), DEST(0x77));
	mmio_w(IOREGSEL, 1, RTE_HI(8));
	ck_assert_uint_eq(mmio_r(IOWIN, 4), DEST(0x77));
	teardown();
}
END_TEST

/* Datasheet: IOWIN only as a dword; exact offsets; others read 0. */
START_TEST(test_access_datasheet)
{
	static const uint64_t reserved[] = {0x04, 0x08,	 0x14,	0x20, 0x30,
					    0x50, 0x100, 0x110, 0xff0};

	setup(DM_PROFILE_DATASHEET, "");
	wr(RTE_LO(0), MASKED | 0x31);
	mmio_w(IOREGSEL, 4, RTE_LO(0));
	ck_assert_uint_eq(mmio_r(IOWIN, 1), 0);
	ck_assert_uint_eq(mmio_r(IOWIN, 2), 0);
	ck_assert_uint_eq(mmio_r(IOWIN, 8), 0);
	mmio_w(IOWIN, 1, 0x55);
	mmio_w(IOWIN, 2, 0x5555);
	mmio_w(IOWIN, 8, 0x55);
	ck_assert_uint_eq(mmio_r(IOWIN, 4), MASKED | 0x31);
	for (unsigned i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		ck_assert_uint_eq(mmio_r(reserved[i], 4), 0);
		mmio_w(reserved[i], 4, 0x10);
	}
	ck_assert_uint_eq(mmio_r(EOIR, 4), 0);
	ck_assert_uint_eq(mmio_r(IOREGSEL, 4), RTE_LO(0));
	ck_assert_uint_eq(mmio_r(IOWIN, 4), MASKED | 0x31);
	/* Sizes no bus produces. */
	ck_assert_uint_eq(mmio_r(IOREGSEL, 3), 0);
	ck_assert_uint_eq(mmio_r(IOWIN, 0), 0);
	mmio_w(IOWIN, 16, 0);
	ck_assert_uint_eq(mmio_r(IOWIN, 4), MASKED | 0x31);
	teardown();
}
END_TEST

/* KVM: offset & 0xFF, any of 1/2/4/8 bytes, sub-dword writes zero-extend
 * into the whole register. */
START_TEST(test_access_kvm)
{
	setup(DM_PROFILE_KVM, "");
	wr(RTE_LO(0), MASKED | 0x31);
	mmio_w(IOREGSEL, 4, RTE_LO(0));
	ck_assert_uint_eq(mmio_r(IOWIN, 1), 0x31);
	ck_assert_uint_eq(mmio_r(IOWIN, 2), 0x0031);
	ck_assert_uint_eq(mmio_r(IOWIN, 8), 0x0000000000010031ULL);
	mmio_w(IOWIN, 1, 0x42);
	ck_assert_uint_eq(mmio_r(IOWIN, 4), 0x42);
	mmio_w(IOWIN, 2, 0x10043);
	ck_assert_uint_eq(mmio_r(IOWIN, 4), 0x43);
	mmio_w(IOWIN, 8, 0xaaaaaaaa00010033ULL);
	ck_assert_uint_eq(mmio_r(IOWIN, 4), MASKED | 0x33);
	/* Aliases every 256 bytes. */
	mmio_w(0x100, 4, RTE_HI(0));
	ck_assert_uint_eq(mmio_r(IOREGSEL, 4), RTE_HI(0));
	mmio_w(0xf10, 4, DEST(0x0e));
	ck_assert_uint_eq(mmio_r(0x110, 4), DEST(0x0e));
	ck_assert_uint_eq(mmio_r(0x20, 4), 0);
	ck_assert_uint_eq(mmio_r(0x14, 4), 0);
	ck_assert_uint_eq(mmio_r(IOWIN, 3), 0);
	teardown();
}
END_TEST

/* QEMU: IOWIN only as 4 bytes; 8-byte accesses split into dwords. */
START_TEST(test_access_qemu)
{
	setup(DM_PROFILE_QEMU, "");
	wr(RTE_LO(0), MASKED | 0x31);
	mmio_w(IOREGSEL, 4, RTE_LO(0));
	ck_assert_uint_eq(mmio_r(IOWIN, 1), 0);
	ck_assert_uint_eq(mmio_r(IOWIN, 2), 0);
	ck_assert_uint_eq(mmio_r(IOWIN, 8), 0x0000000000010031ULL);
	mmio_w(IOWIN, 1, 0x42);
	mmio_w(IOWIN, 2, 0x42);
	ck_assert_uint_eq(mmio_r(IOWIN, 4), MASKED | 0x31);
	/* The upper dword of an 8-byte write at 0x0C lands on IOWIN. */
	mmio_w(0x0c, 8, ((uint64_t)(MASKED | 0x33) << 32) | 0xdead);
	ck_assert_uint_eq(mmio_r(IOWIN, 4), MASKED | 0x33);
	mmio_w(IOWIN, 8, 0xffffffff00010034ULL);
	ck_assert_uint_eq(mmio_r(IOWIN, 4), MASKED | 0x34);
	ck_assert_uint_eq(mmio_r(IOREGSEL, 2), RTE_LO(0));
	ck_assert_uint_eq(mmio_r(0x110, 4), MASKED | 0x34);
	ck_assert_uint_eq(mmio_r(0x20, 4), 0);
	teardown();
}
END_TEST

/* ---- Options ------------------------------------------------------ */

START_TEST(test_options)
{
	struct dm_config cfg;
	struct dm_error err = {{0}};
	struct dm_eventq q;
	struct dm_ioapic s;

	dm_config_defaults(&cfg, DM_PROFILE_DATASHEET);
	ck_assert_uint_eq(cfg.ioapic_version, 0x20);
	ck_assert_uint_eq(cfg.ioapic_flavor, DM_IOAPIC_DATASHEET);
	dm_config_defaults(&cfg, DM_PROFILE_KVM);
	ck_assert_uint_eq(cfg.ioapic_version, 0x11);
	ck_assert_uint_eq(cfg.ioapic_flavor, DM_IOAPIC_KVM);
	dm_config_defaults(&cfg, DM_PROFILE_QEMU);
	ck_assert_uint_eq(cfg.ioapic_version, 0x20);
	ck_assert_uint_eq(cfg.ioapic_flavor, DM_IOAPIC_QEMU);

	ck_assert_int_eq(dm_config_parse(&cfg, "ioapic_version=0x10", &err),
			 -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "ioapic_version"));
	ck_assert_int_eq(dm_config_parse(&cfg, "ioapic_version=0x21", &err),
			 -1);
	ck_assert_int_eq(dm_config_parse(&cfg, "ioapic=bochs", &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "ioapic"));
	ck_assert_int_eq(
		dm_config_parse(&cfg, "ioapic=kvm ioapic_version=17", &err), 0);
	ck_assert_uint_eq(cfg.ioapic_flavor, DM_IOAPIC_KVM);
	ck_assert_uint_eq(cfg.ioapic_version, 0x11);

	/* In range for the parser, but not an IOAPIC version. */
	dm_eventq_init(&q);
	ck_assert_int_eq(dm_config_parse(&cfg, "ioapic_version=0x12", &err), 0);
	ck_assert_int_eq(dm_ioapic_init(&s, &cfg, &q, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "ioapic_version"));
	ck_assert_ptr_nonnull(strstr(err.msg, "0x12"));
	dm_eventq_destroy(&q);
}
END_TEST

/* The EOI register (0x40) exists only on version 0x20 (ICH); loop index:
 * profile, version 0x20 then 0x11. */
START_TEST(test_eoi_register)
{
	enum dm_profile p = profiles[_i % 3];
	uint32_t version = _i < 3 ? 0x20 : 0x11;
	char opts[64];

	snprintf(opts, sizeof(opts), "ioapic_version=0x%x", version);
	setup(p, opts);
	ck_assert_uint_eq(rd(REG_VER), ver_for(version));
	rte_set(9, LEVEL | 0x49, DEST(1));
	irq(9, 1);
	irq(9, 0);
	ck_assert_uint_eq(fx.sink.count, 1);
	ck_assert_uint_eq(rd(RTE_LO(9)), RIRR | LEVEL | 0x49);
	mmio_w(EOIR, 4, 0x48);
	ck_assert_uint_eq(rd(RTE_LO(9)), RIRR | LEVEL | 0x49);
	mmio_w(EOIR, 4, 0x49);
	ck_assert_uint_eq(rd(RTE_LO(9)),
			  (version == 0x20 ? 0 : RIRR) | LEVEL | 0x49);
	ck_assert_uint_eq(fx.acks.count, version == 0x20 ? 1 : 0);
	ck_assert_uint_eq(mmio_r(EOIR, 4), 0);
	ck_assert_uint_eq(fx.sink.count, 1);
	teardown();
}
END_TEST

/* Byte-wide EOI register writes: the ICH register is 8 bits wide;
 * QEMU wants 4 bytes and a value that equals the vector. */
START_TEST(test_eoi_register_width)
{
	setup(profiles[_i], "ioapic_version=0x20");
	rte_set(9, LEVEL | 0x49, DEST(1));
	pulse(9);
	mmio_w(EOIR, 1, 0x49);
	ck_assert_uint_eq(rd(RTE_LO(9)),
			  (profiles[_i] == DM_PROFILE_QEMU ? RIRR : 0) | LEVEL |
				  0x49);
	if (profiles[_i] == DM_PROFILE_QEMU) {
		mmio_w(EOIR, 4, 0x149);
		ck_assert_uint_eq(rd(RTE_LO(9)), RIRR | LEVEL | 0x49);
		mmio_w(EOIR, 4, 0x49);
		ck_assert_uint_eq(rd(RTE_LO(9)), LEVEL | 0x49);
	}
	teardown();
}
END_TEST

/* ---- Delivery ----------------------------------------------------- */

/* Edge: one message per rising edge (QEMU: per assertion). */
START_TEST(test_edge_delivery)
{
	setup(profiles[_i], "");
	rte_set(4, 0x34, DEST(3));
	irq(4, 1);
	ck_assert_uint_eq(fx.sink.count, 1);
	ck_assert_uint_eq(last_msg()->vector, 0x34);
	ck_assert_uint_eq(last_msg()->level_trig, 0);
	ck_assert_uint_eq(rd(RTE_LO(4)), 0x34);
	irq(4, 1);
	ck_assert_uint_eq(fx.sink.count,
			  profiles[_i] == DM_PROFILE_QEMU ? 2 : 1);
	restore();
	irq(4, 0);
	ck_assert_uint_eq(fx.sink.count,
			  profiles[_i] == DM_PROFILE_QEMU ? 2 : 1);
	irq(4, 1);
	ck_assert_uint_eq(fx.sink.count,
			  profiles[_i] == DM_PROFILE_QEMU ? 3 : 2);
	ck_assert_uint_eq(fx.acks.count, 0);
	teardown();
}
END_TEST

/* An edge while masked is lost, also after unmask (82093AA bit 16). */
START_TEST(test_edge_lost_while_masked)
{
	setup(profiles[_i], "");
	rte_set(4, MASKED | 0x34, DEST(3));
	irq(4, 1);
	ck_assert_uint_eq(fx.sink.count, 0);
	restore();
	wr(RTE_LO(4), 0x34);
	ck_assert_uint_eq(fx.sink.count, 0);
	irq(4, 0);
	ck_assert_uint_eq(fx.sink.count, 0);
	irq(4, 1);
	ck_assert_uint_eq(fx.sink.count, 1);
	teardown();
}
END_TEST

/* Level: message, Remote IRR, EOI, re-delivery while asserted, none once
 * deasserted.  Save/restore between delivery and EOI. */
START_TEST(test_level_eoi)
{
	setup(profiles[_i], "");
	rte_set(9, LEVEL | 0x49, DEST(1));
	irq(9, 1);
	ck_assert_uint_eq(fx.sink.count, 1);
	ck_assert_uint_eq(last_msg()->level_trig, 1);
	ck_assert_uint_eq(rd(RTE_LO(9)), RIRR | LEVEL | 0x49);
	irq(9, 1);
	ck_assert_uint_eq(fx.sink.count, 1);
	restore();
	ck_assert_uint_eq(rd(RTE_LO(9)), RIRR | LEVEL | 0x49);
	/* Writes keep the read-only Remote IRR. */
	wr(RTE_LO(9), LEVEL | 0x49);
	ck_assert_uint_eq(rd(RTE_LO(9)), RIRR | LEVEL | 0x49);
	eoi(0x48);
	ck_assert_uint_eq(fx.sink.count, 1);
	eoi(0x49);
	ck_assert_uint_eq(fx.sink.count, 2);
	ck_assert_uint_eq(fx.acks.count, 1);
	ck_assert_uint_eq(fx.acks.pins[0], 9);
	ck_assert_uint_eq(rd(RTE_LO(9)), RIRR | LEVEL | 0x49);
	restore();
	irq(9, 0);
	eoi(0x49);
	ck_assert_uint_eq(fx.sink.count, 2);
	ck_assert_uint_eq(fx.acks.count, 2);
	ck_assert_uint_eq(rd(RTE_LO(9)), LEVEL | 0x49);
	irq(9, 1);
	ck_assert_uint_eq(fx.sink.count, 3);
	teardown();
}
END_TEST

/* One EOI clears Remote IRR in every level entry with the vector. */
START_TEST(test_eoi_two_entries)
{
	setup(profiles[_i], "");
	rte_set(3, LEVEL | 0x40, DEST(0));
	rte_set(5, LEVEL | 0x40, DEST(1));
	irq(3, 1);
	irq(5, 1);
	ck_assert_uint_eq(fx.sink.count, 2);
	irq(3, 0);
	irq(5, 0);
	restore();
	eoi(0x40);
	ck_assert_uint_eq(rd(RTE_LO(3)), LEVEL | 0x40);
	ck_assert_uint_eq(rd(RTE_LO(5)), LEVEL | 0x40);
	ck_assert_uint_eq(fx.acks.count, 2);
	ck_assert_uint_eq(fx.acks.pins[0], 3);
	ck_assert_uint_eq(fx.acks.pins[1], 5);
	ck_assert_uint_eq(fx.sink.count, 2);
	teardown();
}
END_TEST

/* Same, with both lines still high: each pin is sent again once. */
START_TEST(test_eoi_two_entries_asserted)
{
	setup(profiles[_i], "");
	rte_set(3, LEVEL | 0x40, DEST(0));
	rte_set(5, LEVEL | 0x40, DEST(1));
	irq(3, 1);
	irq(5, 1);
	eoi(0x40);
	ck_assert_uint_eq(fx.sink.count, 4);
	ck_assert_uint_eq(fx.sink.msgs[2].dest, 0);
	ck_assert_uint_eq(fx.sink.msgs[3].dest, 1);
	ck_assert_uint_eq(rd(RTE_LO(3)), RIRR | LEVEL | 0x40);
	ck_assert_uint_eq(rd(RTE_LO(5)), RIRR | LEVEL | 0x40);
	teardown();
}
END_TEST

/* A masked, asserted level pin stays pending and sends on unmask. */
START_TEST(test_masked_level_unmask)
{
	setup(profiles[_i], "");
	rte_set(10, MASKED | LEVEL | 0x5a, DEST(2));
	irq(10, 1);
	ck_assert_uint_eq(fx.sink.count, 0);
	ck_assert_uint_eq(rd(RTE_LO(10)), MASKED | LEVEL | 0x5a);
	restore();
	wr(RTE_LO(10), LEVEL | 0x5a);
	ck_assert_uint_eq(fx.sink.count, 1);
	ck_assert_uint_eq(last_msg()->vector, 0x5a);
	ck_assert_uint_eq(rd(RTE_LO(10)), RIRR | LEVEL | 0x5a);
	teardown();
}
END_TEST

/* Linux's EOI on 0x11 parts: mask, switch to edge (clears Remote IRR),
 * back to level, unmask; a still-asserted line then sends again. */
START_TEST(test_edge_switch_clears_rirr)
{
	setup(profiles[_i], "");
	rte_set(11, LEVEL | 0x5b, DEST(0));
	irq(11, 1);
	ck_assert_uint_eq(rd(RTE_LO(11)), RIRR | LEVEL | 0x5b);
	wr(RTE_LO(11), MASKED | LEVEL | 0x5b);
	ck_assert_uint_eq(rd(RTE_LO(11)), MASKED | RIRR | LEVEL | 0x5b);
	wr(RTE_LO(11), MASKED | 0x5b);
	ck_assert_uint_eq(rd(RTE_LO(11)), MASKED | 0x5b);
	restore();
	wr(RTE_LO(11), MASKED | LEVEL | 0x5b);
	ck_assert_uint_eq(rd(RTE_LO(11)), MASKED | LEVEL | 0x5b);
	ck_assert_uint_eq(fx.sink.count, 1);
	wr(RTE_LO(11), LEVEL | 0x5b);
	ck_assert_uint_eq(fx.sink.count, 2);
	ck_assert_uint_eq(rd(RTE_LO(11)), RIRR | LEVEL | 0x5b);
	teardown();
}
END_TEST

/* Bit 13: the datasheet IOAPIC inverts an active-low input; KVM and QEMU
 * take the level as "asserted". */
START_TEST(test_polarity)
{
	bool ds = profiles[_i] == DM_PROFILE_DATASHEET;

	setup(profiles[_i], "");
	/* Edge, active low. */
	rte_set(6, ACTIVE_LOW | 0x36, DEST(0));
	irq(6, 1);
	ck_assert_uint_eq(fx.sink.count, ds ? 0 : 1);
	irq(6, 0);
	ck_assert_uint_eq(fx.sink.count, 1);
	irq(6, 1);
	ck_assert_uint_eq(fx.sink.count, ds ? 1 : 2);
	/* Level, active low, wire idle high before unmasking. */
	fx.sink.count = 0;
	rte_set(12, MASKED | ACTIVE_LOW | LEVEL | 0x3c, DEST(0));
	irq(12, 1);
	restore();
	wr(RTE_LO(12), ACTIVE_LOW | LEVEL | 0x3c);
	ck_assert_uint_eq(fx.sink.count, ds ? 0 : 1);
	irq(12, 0);
	ck_assert_uint_eq(fx.sink.count, 1);
	ck_assert_uint_eq(rd(RTE_LO(12)), RIRR | ACTIVE_LOW | LEVEL | 0x3c);
	teardown();
}
END_TEST

/* A level message no LAPIC accepts leaves Remote IRR 0 (82093AA bit 14);
 * QEMU sets it on every send.  The next evaluation of the pin retries. */
START_TEST(test_not_accepted)
{
	bool qemu = profiles[_i] == DM_PROFILE_QEMU;

	setup(profiles[_i], "");
	fx.sink.accept = 0;
	rte_set(9, LEVEL | 0x49, DEST(7));
	irq(9, 1);
	ck_assert_uint_eq(fx.sink.count, 1);
	ck_assert_uint_eq(rd(RTE_LO(9)), (qemu ? RIRR : 0) | LEVEL | 0x49);
	fx.sink.accept = 1;
	restore();
	/* Another pin's RTE write: only QEMU re-services every pin, and its
	 * pin 9 waits for an EOI. */
	wr(RTE_LO(10), MASKED | 0x4a);
	ck_assert_uint_eq(fx.sink.count, 1);
	/* This pin's RTE write re-evaluates it. */
	wr(RTE_LO(9), LEVEL | 0x49);
	ck_assert_uint_eq(fx.sink.count, qemu ? 1 : 2);
	ck_assert_uint_eq(rd(RTE_LO(9)), RIRR | LEVEL | 0x49);
	/* Edge messages never touch Remote IRR. */
	fx.sink.accept = 0;
	rte_set(4, 0x34, DEST(7));
	irq(4, 1);
	ck_assert_uint_eq(rd(RTE_LO(4)), 0x34);
	teardown();
}
END_TEST

/* Message fields: dest = bits 63:56, vector, delivery mode, destination
 * mode, trigger; IOAPIC messages carry source -1. */
START_TEST(test_message_fields)
{
	const struct dm_apic_msg *m;

	setup(profiles[_i], "");
	rte_set(1, LEVEL | LOGICAL | DELIV(1) | 0x41, DEST(0xa5) | 0x00ffffff);
	irq(1, 1);
	m = last_msg();
	ck_assert_uint_eq(m->dest, 0xa5);
	ck_assert_uint_eq(m->vector, 0x41);
	ck_assert_uint_eq(m->delivery, DM_DELIVERY_LOWEST);
	ck_assert_uint_eq(m->logical, 1);
	ck_assert_uint_eq(m->level_trig, 1);
	ck_assert_uint_eq(m->assert, 1);
	ck_assert_uint_eq(m->shorthand, DM_SHORTHAND_NONE);
	ck_assert_uint_eq(m->redir_hint, 0);
	ck_assert_int_eq(m->source, -1);

	rte_set(2, DELIV(4) | 0x02, DEST(0x0f));
	irq(2, 1);
	m = last_msg();
	ck_assert_uint_eq(m->dest, 0x0f);
	ck_assert_uint_eq(m->vector, 0x02);
	ck_assert_uint_eq(m->delivery, DM_DELIVERY_NMI);
	ck_assert_uint_eq(m->logical, 0);
	ck_assert_uint_eq(m->level_trig, 0);
	ck_assert_uint_eq(m->assert, 1);
	ck_assert_int_eq(m->source, -1);

	rte_set(0, DELIV(7), DEST(0xff));
	irq(0, 1);
	m = last_msg();
	ck_assert_uint_eq(m->delivery, DM_DELIVERY_EXTINT);
	ck_assert_uint_eq(m->dest, 0xff);
	ck_assert_uint_eq(fx.sink.count, 3);
	teardown();
}
END_TEST

/* A message on an unwired bus is accepted by no one. */
START_TEST(test_unwired_bus)
{
	setup(profiles[_i], "");
	fx.s->bus = (struct dm_apic_sink){NULL, NULL};
	rte_set(9, LEVEL | 0x49, DEST(0));
	irq(9, 1);
	ck_assert_uint_eq(rd(RTE_LO(9)),
			  (profiles[_i] == DM_PROFILE_QEMU ? RIRR : 0) | LEVEL |
				  0x49);
	ck_assert_uint_eq(fx.sink.count, 0);
	teardown();
}
END_TEST

/* There is no pin 24: such inputs change nothing. */
START_TEST(test_pin_out_of_range)
{
	uint64_t before;

	setup(profiles[_i], "");
	for (unsigned pin = 0; pin < DM_IOAPIC_PINS; pin++)
		rte_set(pin, 0x30 + pin, 0);
	before = dm_state_hash(&dm_ioapic_state_desc, fx.s);
	irq(24, 1);
	irq(31, 1);
	irq(32, 1);
	irq(1000, 1);
	irq(~0u, 1);
	ck_assert_uint_eq(fx.sink.count, 0);
	ck_assert_uint_eq(dm_state_hash(&dm_ioapic_state_desc, fx.s), before);
	teardown();
}
END_TEST

/* A level pin asserted while its entry was masked edge, then made level
 * and unmasked: the datasheet and KVM know the wire is high and send;
 * QEMU latched nothing for the masked edge entry and stays quiet. */
START_TEST(test_level_switch_after_assert)
{
	setup(profiles[_i], "");
	irq(13, 1);
	ck_assert_uint_eq(fx.sink.count, 0);
	restore();
	rte_set(13, LEVEL | 0x3d, DEST(0));
	ck_assert_uint_eq(fx.sink.count,
			  profiles[_i] == DM_PROFILE_QEMU ? 0 : 1);
	teardown();
}
END_TEST

/* ---- Throttle ------------------------------------------------------ */

/* Raises level pin 9 and EOIs it n times, each time at a new instant. */
static void eoi_storm(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		eoi(0x49);
}

/* KVM and QEMU hold the 10000th re-delivery in a row back by 10 ms; the
 * datasheet IOAPIC re-delivers every time. */
START_TEST(test_throttle)
{
	bool ds = profiles[_i] == DM_PROFILE_DATASHEET;
	uint64_t t;

	setup(profiles[_i], "");
	rte_set(9, LEVEL | 0x49, DEST(0));
	irq(9, 1);
	ck_assert_uint_eq(fx.sink.count, 1);
	eoi_storm(9999);
	ck_assert_uint_eq(fx.sink.count, 10000);
	eoi(0x49);
	t = fx.now;
	if (ds) {
		ck_assert_uint_eq(fx.sink.count, 10001);
		ck_assert(!dm_timer_pending(&fx.s->throttle));
		teardown();
		return;
	}
	ck_assert_uint_eq(fx.sink.count, 10000);
	ck_assert_uint_eq(rd(RTE_LO(9)), LEVEL | 0x49);
	ck_assert_uint_eq(fx.s->throttle.when, t + 10 * MS);
	restore();
	advance_to(t + 10 * MS - 1);
	ck_assert_uint_eq(fx.sink.count, 10000);
	advance_to(t + 10 * MS);
	ck_assert_uint_eq(fx.sink.count, 10001);
	ck_assert_uint_eq(rd(RTE_LO(9)), RIRR | LEVEL | 0x49);
	/* The count restarted: the next EOI re-delivers at once. */
	eoi(0x49);
	ck_assert_uint_eq(fx.sink.count, 10002);
	ck_assert(!dm_timer_pending(&fx.s->throttle));
	teardown();
}
END_TEST

/* During the hold-back: QEMU re-services every pin on any RTE write; KVM
 * re-delivers on a further EOI (its Remote IRR is already clear). */
START_TEST(test_throttle_window)
{
	bool kvm = profiles[_i] == DM_PROFILE_KVM;

	setup(profiles[_i], "");
	rte_set(9, LEVEL | 0x49, DEST(0));
	irq(9, 1);
	eoi_storm(10000);
	ck_assert_uint_eq(fx.sink.count, 10000);
	ck_assert(dm_timer_pending(&fx.s->throttle));
	restore();
	wr(RTE_LO(10), MASKED | 0x4a);
	ck_assert_uint_eq(fx.sink.count, kvm ? 10000 : 10001);
	if (kvm) {
		eoi(0x49);
		ck_assert_uint_eq(fx.sink.count, 10001);
	}
	ck_assert_uint_eq(rd(RTE_LO(9)), RIRR | LEVEL | 0x49);
	/* The pending hold-back then finds Remote IRR set: nothing more. */
	advance_to(fx.now + 10 * MS);
	ck_assert_uint_eq(fx.sink.count, 10001);
	teardown();
}
END_TEST

/* An EOI that finds the line low restarts the count. */
START_TEST(test_throttle_count_resets)
{
	setup(profiles[_i], "");
	rte_set(9, LEVEL | 0x49, DEST(0));
	irq(9, 1);
	eoi_storm(9000);
	irq(9, 0);
	eoi(0x49);
	irq(9, 1);
	ck_assert_uint_eq(fx.sink.count, 9002);
	eoi_storm(9000);
	ck_assert_uint_eq(fx.sink.count, 18002);
	ck_assert(!dm_timer_pending(&fx.s->throttle));
	teardown();
}
END_TEST

/* KVM keeps its storm counts across a reset (KVM_SET_IRQCHIP does not
 * carry them) and across RTE writes; QEMU restarts a pin's count when its
 * RTE is written, which re-enabling the pin after a reset requires. */
START_TEST(test_reset_storm_count)
{
	bool kvm = profiles[_i] == DM_PROFILE_KVM;

	setup(profiles[_i], "");
	rte_set(9, LEVEL | 0x49, DEST(0));
	irq(9, 1);
	eoi_storm(9000);
	step();
	dm_ioapic_reset(fx.s, fx.now);
	rte_set(9, LEVEL | 0x49, DEST(0));
	irq(9, 1);
	ck_assert_uint_eq(fx.sink.count, 9002);
	eoi_storm(1000);
	ck_assert_uint_eq(fx.sink.count, kvm ? 10001 : 10002);
	ck_assert(dm_timer_pending(&fx.s->throttle) == kvm);
	teardown();
}
END_TEST

/* ---- KVM specifics -------------------------------------------------- */

/* KVM runs the ack notifiers of every entry with the EOI'd vector: edge
 * ones through the edge EOI (PIT reinject on pin 2), level ones even with
 * Remote IRR already clear.  The datasheet and QEMU notify only a cleared
 * Remote IRR. */
START_TEST(test_acked)
{
	bool kvm = profiles[_i] == DM_PROFILE_KVM;

	setup(profiles[_i], "");
	rte_set(2, 0x30, DEST(0));
	pulse(2);
	ck_assert_uint_eq(fx.sink.count, 1);
	step();
	dm_ioapic_eoi_edge(fx.s, fx.now, 0x30);
	ck_assert_uint_eq(fx.acks.count, kvm ? 1 : 0);
	if (kvm)
		ck_assert_uint_eq(fx.acks.pins[0], 2);
	ck_assert_uint_eq(rd(RTE_LO(2)), 0x30);

	/* The listener may raise the pin again from the notification. */
	fx.acks.repulse_pin = 2;
	step();
	dm_ioapic_eoi_edge(fx.s, fx.now, 0x30);
	ck_assert_uint_eq(fx.sink.count, kvm ? 2 : 1);
	fx.acks.repulse_pin = -1;

	fx.acks.count = 0;
	rte_set(9, LEVEL | 0x49, DEST(0));
	eoi(0x49);
	ck_assert_uint_eq(fx.acks.count, kvm ? 1 : 0);
	teardown();
}
END_TEST

/* KVM: while an RTC interrupt (pin 8) awaits its EOI, a new assertion is
 * coalesced (dropped); the datasheet and QEMU send it. */
START_TEST(test_rtc_coalescing)
{
	bool kvm = profiles[_i] == DM_PROFILE_KVM;

	setup(profiles[_i], "");
	rte_set(8, 0x38, DEST(0));
	pulse(8);
	ck_assert_uint_eq(fx.sink.count, 1);
	restore();
	pulse(8);
	ck_assert_uint_eq(fx.sink.count, kvm ? 1 : 2);
	step();
	dm_ioapic_eoi_edge(fx.s, fx.now, 0x37);
	pulse(8);
	ck_assert_uint_eq(fx.sink.count, kvm ? 1 : 3);
	step();
	dm_ioapic_eoi_edge(fx.s, fx.now, 0x38);
	pulse(8);
	ck_assert_uint_eq(fx.sink.count, kvm ? 2 : 4);
	/* Not accepted: nothing to wait for. */
	fx.sink.accept = 0;
	step();
	dm_ioapic_eoi_edge(fx.s, fx.now, 0x38);
	pulse(8);
	pulse(8);
	ck_assert_uint_eq(fx.sink.count, kvm ? 4 : 6);
	teardown();
}
END_TEST

/* KVM: a level EOI also re-sends an edge entry with the vector whose line
 * is high (kvm_ioapic_update_eoi does not look at the trigger mode). */
START_TEST(test_kvm_level_eoi_edge_entry)
{
	bool kvm = profiles[_i] == DM_PROFILE_KVM;

	setup(profiles[_i], "");
	rte_set(4, 0x44, DEST(0));
	rte_set(5, LEVEL | 0x44, DEST(1));
	irq(4, 1);
	irq(5, 1);
	ck_assert_uint_eq(fx.sink.count, 2);
	eoi(0x44);
	ck_assert_uint_eq(fx.sink.count, kvm ? 4 : 3);
	ck_assert_uint_eq(last_msg()->dest, 1);
	teardown();
}
END_TEST

/* ---- Reset ---------------------------------------------------------- */

START_TEST(test_reset)
{
	enum dm_profile p = profiles[_i];

	setup(p, "");
	wr(REG_ID, 0x05000000);
	rte_set(3, LEVEL | 0x33, DEST(0x44));
	irq(3, 1);
	mmio_w(IOREGSEL, 4, 0x17);
	step();
	dm_ioapic_reset(fx.s, fx.now);
	ck_assert_uint_eq(mmio_r(IOREGSEL, 4), 0);
	ck_assert_uint_eq(rd(REG_ID), 0);
	ck_assert_uint_eq(rd(RTE_LO(3)), MASKED);
	ck_assert_uint_eq(rd(RTE_HI(3)), 0);
	/* The datasheet wire is still high; KVM and QEMU forgot it. */
	rte_set(3, LEVEL | 0x33, DEST(0x44));
	ck_assert_uint_eq(fx.sink.count, p == DM_PROFILE_DATASHEET ? 2 : 1);
	teardown();
}
END_TEST

/* ---- Checkpoints ---------------------------------------------------- */

/* Between IOREGSEL and IOWIN, for a read and for a write. */
START_TEST(test_restore_between_sel_and_win)
{
	setup(profiles[_i], "");
	wr(RTE_HI(1), DEST(0x12));
	mmio_w(IOREGSEL, 4, RTE_HI(1));
	restore();
	ck_assert_uint_eq(mmio_r(IOWIN, 4), DEST(0x12));
	mmio_w(IOREGSEL, 4, RTE_LO(1));
	restore();
	mmio_w(IOWIN, 4, MASKED | 0x21);
	ck_assert_uint_eq(rd(RTE_LO(1)), MASKED | 0x21);
	teardown();
}
END_TEST

/* Byte offset of element elem of top-level field id in the encoding
 * (docs/state-format.md: u16 version, then per field u16 id, u16 count,
 * u8 element size, values). */
static size_t field_at(unsigned id, unsigned elem, size_t *size)
{
	const struct dm_state_desc *d = &dm_ioapic_state_desc;
	size_t pos = 2;

	for (size_t i = 0; i < d->nfields; i++) {
		const struct dm_field *f = &d->fields[i];
		size_t each = f->type == DM_FT_U8 || f->type == DM_FT_BOOL ? 1
			      : f->type == DM_FT_U16			   ? 2
			      : f->type == DM_FT_U32			   ? 4
									   : 8;

		pos += 5;
		if (f->id == id) {
			*size = each;
			return pos + elem * each;
		}
		pos += f->count * each;
	}
	ck_abort_msg("no field %u", id);
	return 0;
}

/* Encodes the live state, stores v into one element and loads the result
 * into a fresh IOAPIC: must fail naming what. */
static void expect_rejected(unsigned id, unsigned elem, uint64_t v,
			    const char *what)
{
	size_t n = dm_state_encoded_size(&dm_ioapic_state_desc);
	uint8_t buf[1024];
	struct dm_error err = {{0}};
	struct dm_ioapic *fresh = fx.s == &fx.dev[0] ? &fx.dev[1] : &fx.dev[0];
	size_t size, at;
	uint64_t before;

	ck_assert_uint_le(n, sizeof(buf));
	ck_assert_uint_eq(dm_state_encode(&dm_ioapic_state_desc, fx.s, buf, n),
			  n);
	at = field_at(id, elem, &size);
	for (size_t i = 0; i < size; i++)
		buf[at + i] = (uint8_t)(v >> (8 * i));
	init_dev(fresh);
	before = dm_state_hash(&dm_ioapic_state_desc, fresh);
	ck_assert_int_eq(
		dm_state_load(&dm_ioapic_state_desc, fresh, buf, n, &err), -1);
	ck_assert_msg(strstr(err.msg, what), "'%s' does not name %s", err.msg,
		      what);
	ck_assert_uint_eq(dm_state_hash(&dm_ioapic_state_desc, fresh), before);
	ck_assert(!dm_timer_pending(&fresh->throttle));
}

/* Field ids of dm_ioapic_state_desc. */
enum {
	F_RTE = 1,
	F_LINE,
	F_IRR,
	F_EOI_COUNT,
	F_RTC_PENDING,
	F_RTC_VECTOR,
	F_IOREGSEL,
	F_ID,
	F_THROTTLE
};

START_TEST(test_hostile_common)
{
	setup(profiles[_i], "");
	expect_rejected(F_ID, 0, 0x10, "id: value");
	expect_rejected(F_LINE, 0, 0x01000000, "line: value");
	expect_rejected(F_IRR, 0, 0x80000000, "irr: value");
	expect_rejected(F_RTE, 2, MASKED | DELIVERY_STATUS, "rte[2]");
	expect_rejected(F_RTE, 5, MASKED | RIRR | 0x35, "rte[5]");
	expect_rejected(F_EOI_COUNT, 0, 10000, "eoi_count[0]");
	expect_rejected(F_RTC_PENDING, 0, 257, "rtc_pending_eoi");
	expect_rejected(F_RTC_PENDING, 0, 2, "rtc_pending_eoi");
	teardown();
}
END_TEST

/* State only one flavour can reach. */
START_TEST(test_hostile_flavour)
{
	enum dm_profile p = profiles[_i];

	setup(p, "");
	if (p != DM_PROFILE_QEMU)
		expect_rejected(F_IRR, 0, 0x4, "irr");
	if (p == DM_PROFILE_DATASHEET) {
		expect_rejected(F_EOI_COUNT, 3, 5, "eoi_count[3]");
		expect_rejected(F_THROTTLE, 0, 5000, "throttle");
	}
	if (p != DM_PROFILE_KVM)
		expect_rejected(F_RTC_PENDING, 0, 1, "rtc_pending_eoi");
	/* A legal value of each loads. */
	rte_set(9, LEVEL | 0x49, DEST(0));
	irq(9, 1);
	restore();
	ck_assert_uint_eq(rd(RTE_LO(9)), RIRR | LEVEL | 0x49);
	teardown();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("ioapic");
	TCase *regs = tcase_create("registers");
	TCase *dl = tcase_create("delivery");
	TCase *th = tcase_create("throttle");
	TCase *kvm = tcase_create("kvm");
	TCase *st = tcase_create("state");

	tcase_add_loop_test(regs, test_reset_values, 0, 3);
	tcase_add_loop_test(regs, test_id_ver_arb, 0, 3);
	tcase_add_loop_test(regs, test_rte_fields, 0, 3);
	tcase_add_loop_test(regs, test_mask_changes_are_told, 0, 3);
	tcase_add_loop_test(regs, test_undefined_indices, 0, 3);
	tcase_add_loop_test(regs, test_ioregsel, 0, 3);
	tcase_add_test(regs, test_access_datasheet);
	tcase_add_test(regs, test_access_kvm);
	tcase_add_test(regs, test_access_qemu);
	tcase_add_test(regs, test_options);
	tcase_add_loop_test(regs, test_eoi_register, 0, 6);
	tcase_add_loop_test(regs, test_eoi_register_width, 0, 3);
	suite_add_tcase(s, regs);

	tcase_add_loop_test(dl, test_edge_delivery, 0, 3);
	tcase_add_loop_test(dl, test_edge_lost_while_masked, 0, 3);
	tcase_add_loop_test(dl, test_level_eoi, 0, 3);
	tcase_add_loop_test(dl, test_eoi_two_entries, 0, 3);
	tcase_add_loop_test(dl, test_eoi_two_entries_asserted, 0, 3);
	tcase_add_loop_test(dl, test_masked_level_unmask, 0, 3);
	tcase_add_loop_test(dl, test_edge_switch_clears_rirr, 0, 3);
	tcase_add_loop_test(dl, test_polarity, 0, 3);
	tcase_add_loop_test(dl, test_not_accepted, 0, 3);
	tcase_add_loop_test(dl, test_message_fields, 0, 3);
	tcase_add_loop_test(dl, test_pin_out_of_range, 0, 3);
	tcase_add_loop_test(dl, test_unwired_bus, 0, 3);
	tcase_add_loop_test(dl, test_level_switch_after_assert, 0, 3);
	tcase_add_loop_test(dl, test_reset, 0, 3);
	suite_add_tcase(s, dl);

	tcase_add_loop_test(th, test_throttle, 0, 3);
	tcase_add_loop_test(th, test_throttle_window, 1, 3);
	tcase_add_loop_test(th, test_throttle_count_resets, 0, 3);
	tcase_add_loop_test(th, test_reset_storm_count, 0, 3);
	suite_add_tcase(s, th);

	tcase_add_loop_test(kvm, test_acked, 0, 3);
	tcase_add_loop_test(kvm, test_rtc_coalescing, 0, 3);
	tcase_add_loop_test(kvm, test_kvm_level_eoi_edge_entry, 0, 3);
	suite_add_tcase(s, kvm);

	tcase_add_loop_test(st, test_restore_between_sel_and_win, 0, 3);
	tcase_add_loop_test(st, test_hostile_common, 0, 3);
	tcase_add_loop_test(st, test_hostile_flavour, 0, 3);
	suite_add_tcase(s, st);
	return s;
}

int main(void)
{
	return dm_test_main(suite());
}
