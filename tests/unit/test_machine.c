// SPDX-License-Identifier: MIT
/*
 * The PC wiring of sim/machine.c: ISA IRQ routing with the IRQ0 -> pin 2
 * override, OR-ed line sources, the HPET's legacy replacement taking IRQ0
 * and IRQ8 from the PIT and the RTC and giving them back, GSI bounds,
 * many vcpus, and whole-machine checkpoints.
 */
#include <stdlib.h>
#include <string.h>

#include "replay/replay.h"
#include "sim/machine.h"
#include "testutil.h"

static struct dm_machine *make(const char *opts)
{
	struct dm_config cfg;
	struct dm_machine *m;
	struct dm_error err;

	dm_config_defaults(&cfg, DM_PROFILE_DATASHEET);
	ck_assert_msg(dm_config_parse(&cfg, opts, &err) == 0, "%s", err.msg);
	ck_assert_msg(dm_machine_create(&m, &cfg, &err) == 0, "%s", err.msg);
	return m;
}

static void pio_w(struct dm_machine *m, uint64_t t, uint16_t port, uint8_t v)
{
	uint64_t val = v;

	ck_assert_int_eq(dm_machine_pio(m, t, 0, port, 1, true, &val),
			 DM_ACCESS_OK);
}

static void mmio_w(struct dm_machine *m, uint64_t t, uint64_t a, uint32_t v)
{
	uint64_t val = v;

	ck_assert_int_eq(dm_machine_mmio(m, t, 0, a, 4, true, &val),
			 DM_ACCESS_OK);
}

static bool pin_in(const struct dm_machine *m, unsigned pin)
{
	return (m->ms.pin_in >> pin) & 1;
}

START_TEST(isa_irq_routing_and_override)
{
	struct dm_machine *m = make("");
	struct dm_error err;

	ck_assert_int_eq(dm_machine_set_gsi(m, 10, 0, 1, &err), 0);
	ck_assert(dm_machine_isa_level(m, 0));
	ck_assert(pin_in(m, 2)); /* IRQ0 reaches IOAPIC pin 2 */
	ck_assert(!pin_in(m, 0));
	ck_assert_uint_eq(m->ms.pic_in & 1, 1);
	ck_assert_int_eq(dm_machine_set_gsi(m, 20, 4, 1, &err), 0);
	ck_assert(pin_in(m, 4));
	ck_assert_uint_eq((m->ms.pic_in >> 4) & 1, 1);
	/* GSI 2 is the cascade: routed nowhere. */
	ck_assert_int_eq(dm_machine_set_gsi(m, 30, 2, 1, &err), 0);
	ck_assert_uint_eq((m->ms.pic_in >> 2) & 1, 0);
	ck_assert(pin_in(m, 2)); /* still IRQ0's */
	/* Pins 16-23 have no 8259 input. */
	ck_assert_int_eq(dm_machine_set_gsi(m, 40, 19, 1, &err), 0);
	ck_assert(pin_in(m, 19));
	ck_assert_int_eq(dm_machine_set_gsi(m, 50, 24, 1, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "GSI 24"));
	dm_machine_destroy(m);
}
END_TEST

START_TEST(sources_are_ored)
{
	struct dm_machine *m = make("pit_hz=1000000");
	struct dm_error err;

	/* PIT mode 0, count 5: OUT0 high from edge 6 (t = 6 us). */
	pio_w(m, 0, 0x43, 0x30);
	pio_w(m, 0, 0x40, 5);
	pio_w(m, 0, 0x40, 0);
	ck_assert_int_eq(dm_machine_set_gsi(m, 1000, 0, 1, &err), 0);
	ck_assert(dm_machine_isa_level(m, 0));
	dm_machine_advance(m, 6000);
	ck_assert_int_eq(dm_machine_set_gsi(m, 7000, 0, 0, &err), 0);
	/* The device dropped its source; the PIT still drives IRQ0. */
	ck_assert(dm_machine_isa_level(m, 0));
	ck_assert(pin_in(m, 2));
	dm_machine_destroy(m);
}
END_TEST

START_TEST(hpet_legacy_takes_irq0_and_irq8_and_gives_them_back)
{
	struct dm_machine *m = make("pit_hz=1000000");
	uint64_t t = 1000;

	pio_w(m, 0, 0x43, 0x30); /* PIT OUT0 high from 6 us */
	pio_w(m, 0, 0x40, 5);
	pio_w(m, 0, 0x40, 0);
	dm_machine_advance(m, 10000);
	ck_assert(dm_machine_isa_level(m, 0));
	/* GEN_CONF: ENABLE_CNF | LEG_RT_CNF. */
	mmio_w(m, 20000, DM_HPET_BASE + 0x10, 0x3);
	ck_assert(m->ms.hpet_legacy);
	ck_assert(!dm_machine_isa_level(m, 0)); /* PIT disconnected */
	ck_assert(!pin_in(m, 2));
	/* Timer 0, one-shot, edge, enabled, comparator 100 ticks ahead:
	 * the HPET now owns IRQ0 (a pulse at the match). */
	mmio_w(m, 20000, DM_HPET_BASE + 0x100, 0x4);
	mmio_w(m, 20000, DM_HPET_BASE + 0x108, 0x1000);
	mmio_w(m, 20000, DM_HPET_BASE + 0x10c, 0);
	dm_machine_advance(m, 20000 + 0x1000 * 10 + t);
	ck_assert(!dm_machine_isa_level(m, 0));
	/* The RTC's periodic flag (PIE, 1024 Hz) raises IRQF, but IRQ8
	 * belongs to the HPET while legacy replacement is on. */
	pio_w(m, 30000, 0x70, 0x0b);
	pio_w(m, 30000, 0x71, 0x42);
	dm_machine_advance(m, 30000 + 2000000);
	ck_assert(m->rtc.irq_level);
	ck_assert(!dm_machine_isa_level(m, 8));
	ck_assert(!pin_in(m, 8));
	/* Legacy off: the PIT's and the RTC's levels return. */
	mmio_w(m, 3000000, DM_HPET_BASE + 0x10, 0x1);
	ck_assert(!m->ms.hpet_legacy);
	ck_assert(dm_machine_isa_level(m, 0));
	ck_assert(pin_in(m, 2));
	ck_assert(dm_machine_isa_level(m, 8));
	ck_assert(pin_in(m, 8));
	ck_assert_uint_eq((m->ms.pic_in >> 8) & 1, 1);
	dm_machine_destroy(m);
}
END_TEST

START_TEST(many_vcpus_and_their_checkpoint)
{
	struct dm_machine *m = make("vcpus=256"), *r;
	struct dm_config cfg = m->cfg;
	struct dm_error err;
	uint8_t *ck;
	size_t len;
	uint64_t id;

	ck_assert_uint_eq(m->ndevices, DM_FIXED_DEVICES + 256);
	/* vcpu 255's xAPIC ID register reads 255 << 24. */
	ck_assert_int_eq(dm_machine_mmio(m, 0, 255, 0xfee00020, 4, false, &id),
			 DM_ACCESS_OK);
	ck_assert_uint_eq(id, 255u << 24);
	ck_assert_int_eq(dm_machine_mmio(m, 0, 256, 0xfee00020, 4, false, &id),
			 DM_ACCESS_INVALID);
	ck = dm_machine_save(m, &len);
	ck_assert_ptr_nonnull(ck);
	ck_assert_int_eq(dm_machine_restore(&r, &cfg, ck, len, &err), 0);
	ck_assert_uint_eq(dm_machine_hash(m), dm_machine_hash(r));
	dm_machine_destroy(r);
	/* A checkpoint of 256 vcpus does not load into a 2-vcpu machine,
	 * but restores by itself: it records the options it was taken
	 * with. */
	cfg.vcpus = 2;
	ck_assert_int_eq(dm_machine_restore(&r, &cfg, ck, len, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "vcpus=256"));
	ck_assert_int_eq(dm_machine_restore(&r, NULL, ck, len, &err), 0);
	ck_assert_uint_eq(r->cfg.vcpus, 256);
	ck_assert_uint_eq(dm_machine_hash(m), dm_machine_hash(r));
	dm_machine_destroy(r);
	free(ck);
	dm_machine_destroy(m);
}
END_TEST

START_TEST(unknown_msr_faults_and_bad_sizes_are_invalid)
{
	struct dm_machine *m = make("");
	uint64_t v = 0;

	ck_assert_int_eq(dm_machine_msr(m, 0, 0, 0x10, false, &v),
			 DM_ACCESS_GP);
	ck_assert_int_eq(dm_machine_msr(m, 0, 0, 0x1b, false, &v),
			 DM_ACCESS_OK);
	ck_assert_uint_eq(v, 0xfee00900); /* BSP, enabled, default base */
	ck_assert_int_eq(dm_machine_pio(m, 0, 0, 0x40, 3, false, &v),
			 DM_ACCESS_INVALID);
	ck_assert_int_eq(dm_machine_mmio(m, 0, 0, 0xfec00000, 16, false, &v),
			 DM_ACCESS_INVALID);
	dm_machine_destroy(m);
}
END_TEST

START_TEST(a_moved_block_may_not_shadow_another_device)
{
	struct dm_config cfg;
	struct dm_machine *m;
	struct dm_error err;

	dm_test_config(&cfg, "pmbase=0x40");
	ck_assert_int_eq(dm_machine_create(&m, &cfg, &err), -1);
	ck_assert_msg(strstr(err.msg, "pmtimer") && strstr(err.msg, "pit"),
		      "%s", err.msg);
}
END_TEST

START_TEST(an_event_storm_stops_the_machine)
{
	/* PIT mode 2 with count 2: an OUT0 edge every CLK; ten minutes of
	 * virtual time would be 1.4e9 events. */
	struct dm_machine *m = make("");

	pio_w(m, 0, 0x43, 0x34);
	pio_w(m, 0, 0x40, 2);
	pio_w(m, 0, 0x40, 0);
	dm_machine_advance(m, 600000000000ULL);
	ck_assert_uint_eq(m->storm_at, 600000000000ULL);
	ck_assert_uint_lt(m->clock.now, 600000000000ULL);
	ck_assert_uint_gt(m->clock.now, 0);
	dm_machine_destroy(m);
}
END_TEST

START_TEST(an_hpet_edge_that_reaches_nobody_costs_nothing)
{
	/* Timer 0 periodic, edge, enabled, period 1 tick, on route 0,
	 * which the pc capability (0x00ff0004) does not offer. */
	struct dm_machine *m = make("");

	mmio_w(m, 0, DM_HPET_BASE + 0x100, 0x4c);
	mmio_w(m, 0, DM_HPET_BASE + 0x108, 1);
	mmio_w(m, 0, DM_HPET_BASE + 0x10c, 0);
	mmio_w(m, 0, DM_HPET_BASE + 0x10, 1);
	dm_machine_advance(m, 1000000000000ULL);
	ck_assert_uint_eq(m->storm_at, 0);
	ck_assert_uint_eq(m->clock.now, 1000000000000ULL);
	dm_machine_destroy(m);
}
END_TEST

/* ISA line irq (GSI irq, IOAPIC pin `pin`) is high exactly when the model
 * drives it, and a dev irq event from the trace raises it either way.
 * Destroys m. */
static void line_follows(struct dm_machine *m, uint64_t now, unsigned irq,
			 unsigned pin, bool model)
{
	struct dm_error err;

	ck_assert_int_eq(dm_machine_isa_level(m, irq), model);
	ck_assert_int_eq(pin_in(m, pin), model);
	ck_assert_int_eq(dm_machine_set_gsi(m, now, irq, 1, &err), 0);
	ck_assert(dm_machine_isa_level(m, irq));
	ck_assert(pin_in(m, pin));
	dm_machine_destroy(m);
}

START_TEST(pit_irq0_off_leaves_irq0_to_the_trace)
{
	struct dm_machine *m = make("pit_hz=1000000 pit_irq0=off");

	pio_w(m, 0, 0x43, 0x30); /* OUT0 high from 6 us */
	pio_w(m, 0, 0x40, 5);
	pio_w(m, 0, 0x40, 0);
	dm_machine_advance(m, 10000);
	ck_assert(dm_pit_out(&m->pit, 10000, 0));
	line_follows(m, 20000, 0, 2, false);
}
END_TEST

/* The trace raises (or lowers) IRQ0 at t; returns the check's outcome. */
static struct dm_outcome trace_irq0(struct dm_machine *m, uint64_t t, int level)
{
	struct dm_event ev = {.time = t,
			      .op = DM_OP_IRQ,
			      .value = level,
			      .actor = DM_ACTOR_DEV};
	struct dm_outcome o;
	struct dm_error err;

	ck_assert_msg(dm_replay_step(m, &ev, &o, &err) == 0, "%s", err.msg);
	return o;
}

/* KVM without reinject: counter 0 in mode 2 ticks every 1 ms. */
#define TICKING                                        \
	"profile=kvm pit_hz=1000000 pit_reinject=off " \
	"pit_min_period_us=0 pit_irq0=off "

static struct dm_machine *ticking(const char *opts)
{
	char all[256];
	struct dm_machine *m;

	snprintf(all, sizeof(all), "%s%s", TICKING, opts);
	m = make(all);
	pio_w(m, 0, 0x43, 0x34);
	pio_w(m, 0, 0x40, 1000 & 0xff);
	pio_w(m, 0, 0x40, 1000 >> 8);
	return m;
}

/*
 * pit_irq0_late_ns: each raise of IRQ0 the trace makes answers the PIT's
 * oldest unanswered tick, at most that late; a raise without a tick, one
 * too late, or one after ticks that went unanswered is a mismatch.
 */
START_TEST(trace_raises_of_irq0_answer_the_pit_ticks)
{
	struct dm_machine *m = ticking("pit_irq0_late_ns=50000");
	struct dm_outcome o;
	struct dm_error err;
	size_t len;
	uint8_t *ck;

	o = trace_irq0(m, 1010000, 1); /* the 1 ms tick, 10 us late */
	ck_assert(o.has_actual && !o.mismatch);
	ck_assert_uint_eq(o.actual, 10000);
	o = trace_irq0(m, 1011000, 0); /* a lower is no answer */
	ck_assert(!o.has_actual);
	/* A checkpoint between a tick and its raise keeps the tick. */
	dm_machine_advance(m, 2001000);
	ck = dm_machine_save(m, &len);
	dm_machine_destroy(m);
	ck_assert_int_eq(dm_machine_restore(&m, NULL, ck, len, &err), 0);
	free(ck);
	o = trace_irq0(m, 2060000, 1); /* 60 us: too late */
	ck_assert(o.mismatch);
	ck_assert_uint_eq(o.actual, 60000);
	trace_irq0(m, 2061000, 0);
	o = trace_irq0(m, 2500000, 1); /* no tick waiting */
	ck_assert(o.mismatch);
	ck_assert_uint_eq(o.actual, UINT64_MAX);
	trace_irq0(m, 2501000, 0);
	/* 17 ticks unanswered (3 ms to 19 ms): the oldest is pushed out. */
	o = trace_irq0(m, 19005000, 1);
	ck_assert(o.mismatch);
	ck_assert_uint_eq(o.lost, 1);
	ck_assert_uint_eq(o.actual, 19005000 - 4000000);
	dm_machine_destroy(m);

	/* 0: no check, and no ticks kept. */
	m = ticking("");
	o = trace_irq0(m, 2500000, 1);
	ck_assert(!o.has_actual && !o.mismatch);
	ck_assert_uint_eq(m->ms.npit_ticks, 0);
	dm_machine_destroy(m);
}
END_TEST

static void pit_worker(struct dm_machine *m, uint64_t t, bool woken)
{
	struct dm_error err;

	ck_assert_int_eq(
		dm_machine_thread(m, t, DM_THREAD_PIT_WORKER, woken, &err), 0);
}

/*
 * dev thread 1: the raise is judged from KVM's PIT worker's wake-up, the
 * host's scheduling after it being no fault of the PIT: a tick that woke
 * it 10 us late and ran 0.9 ms later passes at 50 us; woken 60 us after
 * the tick it fails; a tick that came while it was already runnable owes
 * nothing; asleep at the raise, or with no tick waiting, as before.
 */
START_TEST(pit_raises_are_judged_from_the_workers_wakeup)
{
	struct dm_machine *m = ticking("pit_irq0_late_ns=50000");
	struct dm_outcome o;
	struct dm_error err;
	size_t len;
	uint8_t *ck;

	pit_worker(m, 1010000, true);
	ck = dm_machine_save(m, &len); /* runnable across a checkpoint */
	dm_machine_destroy(m);
	ck_assert_int_eq(dm_machine_restore(&m, NULL, ck, len, &err), 0);
	free(ck);
	o = trace_irq0(m, 1900000, 1);
	ck_assert(o.has_actual && !o.mismatch);
	ck_assert_uint_eq(o.actual, 10000);
	trace_irq0(m, 1901000, 0);
	pit_worker(m, 1902000, false);
	pit_worker(m, 2060000, true); /* 60 us after the 2 ms tick */
	o = trace_irq0(m, 2061000, 1);
	ck_assert(o.mismatch);
	ck_assert_uint_eq(o.actual, 60000);
	trace_irq0(m, 2062000, 0);
	/* Runnable since 2.06 ms (preempted, never asleep): the 3 ms tick. */
	o = trace_irq0(m, 3500000, 1);
	ck_assert(o.has_actual && !o.mismatch);
	ck_assert_uint_eq(o.actual, 0);
	trace_irq0(m, 3501000, 0);
	pit_worker(m, 3502000, false);
	o = trace_irq0(m, 4090000, 1); /* asleep: from the raise */
	ck_assert(o.mismatch);
	ck_assert_uint_eq(o.actual, 90000);
	trace_irq0(m, 4091000, 0);
	pit_worker(m, 4400000, true);
	o = trace_irq0(m, 4500000, 1); /* no tick waiting */
	ck_assert(o.mismatch);
	ck_assert_uint_eq(o.actual, UINT64_MAX);
	dm_machine_destroy(m);
}
END_TEST

/* KVM's 8259 pair initialised with vector base 0x20 and mask imr; then
 * KVM's PIT in mode 2 with a 1 ms period, reinject on. */
static struct dm_machine *kvm_pic_and_pit(const char *opts, uint8_t imr)
{
	char all[256];
	struct dm_machine *m;

	snprintf(all, sizeof(all),
		 "profile=kvm pit_hz=1000000 pit_min_period_us=0 %s", opts);
	m = make(all);
	pio_w(m, 0, 0x20, 0x11); /* ICW1: cascade, ICW4 */
	pio_w(m, 0, 0x21, 0x20); /* ICW2 */
	pio_w(m, 0, 0x21, 0x04); /* ICW3 */
	pio_w(m, 0, 0x21, 0x01); /* ICW4: 8086 */
	pio_w(m, 0, 0x21, imr);
	pio_w(m, 0, 0x43, 0x34);
	pio_w(m, 0, 0x40, 1000 & 0xff);
	pio_w(m, 0, 0x40, 1000 >> 8);
	return m;
}

/*
 * pit_inta_ack: the vcpu taking IRQ0 from the 8259 lets KVM's PIT inject
 * its next tick before the guest's EOI (off: the tick waits); taking
 * another IRQ does not.
 */
START_TEST(an_8259_inta_of_irq0_rearms_the_kvm_pit)
{
	struct dm_machine *m;
	struct dm_error err;
	size_t len;
	uint8_t *ck;

	for (int on = 1; on >= 0; on--) {
		m = kvm_pic_and_pit(on ? "pit_inta_ack=on" : "", 0);
		dm_machine_advance(m, 1000000); /* tick 1 */
		ck_assert_uint_eq(m->pic.chip[0].irr & 1, 1);
		ck_assert_int_eq(dm_machine_intack(m, 1100000, 0), 0x20);
		ck_assert_uint_eq(m->pic.chip[0].irr & 1, 0);
		ck = dm_machine_save(m, &len);
		dm_machine_destroy(m);
		ck_assert_int_eq(dm_machine_restore(&m, NULL, ck, len, &err),
				 0);
		free(ck);
		dm_machine_advance(m, 2000000); /* tick 2, no EOI yet */
		ck_assert_uint_eq(m->pic.chip[0].irr & 1, (unsigned)on);
		ck_assert_uint_eq(m->pit.kvm_pending, 2);
		dm_machine_destroy(m);
	}

	/* IRQ0 masked: tick 1 is injected into the mask; IRQ1 taken. */
	m = kvm_pic_and_pit("pit_inta_ack=on", 0x01);
	dm_machine_advance(m, 1000000);
	ck_assert(!m->pit.kvm_irq_ack);
	ck_assert_int_eq(dm_machine_set_gsi(m, 1100000, 1, 1, &err), 0);
	ck_assert_int_eq(dm_machine_intack(m, 1200000, 0), 0x21);
	ck_assert(!m->pit.kvm_irq_ack);
	dm_machine_destroy(m);
}
END_TEST

/* Raises before QEMU's reset state started KVM's PIT, or while the HPET's
 * legacy replacement owns IRQ0, are not the PIT's: nothing is checked, and
 * legacy replacement drops the ticks waiting. */
START_TEST(raises_that_are_not_the_pits_go_unchecked)
{
	struct dm_machine *m =
		make(TICKING "pit_irq0_late_ns=50000 pit_qemu_reset=on "
			     "pit_start_ns=1000000");
	struct dm_outcome o;

	o = trace_irq0(m, 500000, 1);
	ck_assert(!o.has_actual && !o.mismatch);
	trace_irq0(m, 501000, 0);
	dm_machine_destroy(m);

	m = ticking("pit_irq0_late_ns=50000");
	dm_machine_advance(m, 2500000);
	ck_assert_uint_eq(m->ms.npit_ticks, 2);
	mmio_w(m, 2500000, DM_HPET_BASE + 0x10, 3); /* enable, legacy */
	ck_assert_uint_eq(m->ms.npit_ticks, 0);
	o = trace_irq0(m, 2600000, 1);
	ck_assert(!o.has_actual && !o.mismatch);
	dm_machine_destroy(m);
}
END_TEST

/* A trace that ends with a tick unanswered for longer than the bound. */
START_TEST(ticks_never_raised_diverge_at_the_end)
{
	char dir[64], out[4096] = "";
	struct dm_replay_opts opts = {0};
	struct dm_replay_stats st;
	struct dm_error err;
	const char *path;
	FILE *f;

	dm_test_mkdtemp(dir, "/tmp/dmsim-irq0-XXXXXX");
	path = dm_test_write_file(dir, "t.txt",
				  "dmtrace 1\nmachine " TICKING
				  "pit_irq0_late_ns=50000\n"
				  "0 cpu0 pio.w 0x43 1 0x34\n"
				  "0 cpu0 pio.w 0x40 1 0xe8\n"
				  "0 cpu0 pio.w 0x40 1 0x3\n"
				  "1010000 dev irq 0 - 1\n"
				  "1011000 dev irq 0 - 0\n"
				  "2100000 sim mark - - end\n");
	f = fmemopen(out, sizeof(out) - 1, "w");
	opts.out = f;
	ck_assert_int_eq(dm_replay_file(path, &opts, &st, &err), 1);
	fclose(f);
	ck_assert_uint_eq(st.divergences, 1);
	ck_assert_uint_eq(st.pit_raises, 1);
	ck_assert_msg(strstr(out, "1 PIT ticks never raised"), "%s", out);
	dm_test_rmdir(dir);
}
END_TEST

/* hpet_irq=off: the HPET's timers still match and set their status, and
 * legacy replacement still takes IRQ0 from the PIT, but IRQ0 follows the
 * trace's dev irq events only. */
START_TEST(hpet_irq_off_leaves_its_lines_to_the_trace)
{
	const char *opts[] = {"pit_hz=1000000", "pit_hz=1000000 hpet_irq=off"};

	for (unsigned i = 0; i < 2; i++) {
		struct dm_machine *m = make(opts[i]);
		uint64_t sta = 0;

		pio_w(m, 0, 0x43, 0x30); /* PIT OUT0 high from 6 us */
		pio_w(m, 0, 0x40, 5);
		pio_w(m, 0, 0x40, 0);
		mmio_w(m, 20000, DM_HPET_BASE + 0x10, 0x3);
		/* Timer 0: level, enabled, 100 ticks ahead. */
		mmio_w(m, 20000, DM_HPET_BASE + 0x100, 0x6);
		mmio_w(m, 20000, DM_HPET_BASE + 0x108, 0x1000);
		mmio_w(m, 20000, DM_HPET_BASE + 0x10c, 0);
		dm_machine_advance(m, 20000 + 0x1000 * 10 + 1000);
		ck_assert_int_eq(dm_machine_mmio(m, 80000, 0,
						 DM_HPET_BASE + 0x20, 4, false,
						 &sta),
				 DM_ACCESS_OK);
		ck_assert_uint_eq(sta & 1, 1);
		line_follows(m, 90000, 0, 2, !i);
	}
}
END_TEST

/* rtc_irq=off: the RTC's periodic interrupt still sets its flags, but IRQ8
 * follows the trace's dev irq events only. */
START_TEST(rtc_irq_off_leaves_irq8_to_the_trace)
{
	const char *opts[] = {"", "rtc_irq=off"};

	for (unsigned i = 0; i < 2; i++) {
		struct dm_machine *m = make(opts[i]);

		/* The RTC's periodic interrupt (PIE, 1024 Hz). */
		pio_w(m, 0, 0x70, 0x0b);
		pio_w(m, 0, 0x71, 0x42);
		dm_machine_advance(m, 3000000);
		ck_assert(m->rtc.irq_level);
		line_follows(m, 3000000, 8, 8, !i);
	}
}
END_TEST

/* dev thread 0 reaches the RTC under rtc_uf_trace (on in the kvm and qemu
 * profiles); any other host thread is refused by name. */
START_TEST(main_loop_thread_times_the_rtc_update)
{
	const char *opts[] = {"rtc=qemu", "rtc=qemu rtc_uf_trace=on"};
	struct dm_error err = {{0}};
	struct dm_config cfg;

	for (unsigned i = 0; i < 2; i++) {
		struct dm_machine *m = make(opts[i]);
		uint64_t v = 0;

		ck_assert_int_eq(
			dm_machine_thread(m, 900000000, 0, false, &err), 0);
		pio_w(m, 1000500000, 0x70, 0x0a);
		ck_assert_int_eq(
			dm_machine_pio(m, 1000500000, 0, 0x71, 1, false, &v),
			DM_ACCESS_OK);
		ck_assert_uint_eq(v, i ? 0xa6 : 0x26);
		ck_assert_int_eq(
			dm_machine_thread(m, 1000600000, 2, true, &err), -1);
		ck_assert_msg(strstr(err.msg, "host thread 2"), "%s", err.msg);
		dm_machine_destroy(m);
	}
	dm_config_defaults(&cfg, DM_PROFILE_KVM);
	ck_assert(cfg.rtc_uf_trace);
	dm_config_defaults(&cfg, DM_PROFILE_DATASHEET);
	ck_assert(!cfg.rtc_uf_trace);
}
END_TEST

START_TEST(a_board_without_hpet_floats_its_registers)
{
	struct dm_machine *m = make("hpet_present=off");
	uint64_t v = 0;

	ck_assert_int_eq(dm_machine_mmio(m, 0, 0, DM_HPET_BASE, 4, false, &v),
			 DM_ACCESS_OK);
	ck_assert_uint_eq(v, 0xffffffff);
	dm_machine_destroy(m);
	m = make("");
	ck_assert_int_eq(dm_machine_mmio(m, 0, 0, DM_HPET_BASE, 4, false, &v),
			 DM_ACCESS_OK);
	ck_assert_uint_eq(v, 0x8086a201); /* 3 timers, 64-bit, legacy cap */
	dm_machine_destroy(m);
}
END_TEST

/*
 * The machine's board state and the RTC gained fields for the host-thread
 * events (machine version 3, rtc version 2): a blob of the version before
 * is refused with both versions named, not misread.
 */
static void assert_old_version_refused(struct dm_machine *m, const char *name,
				       uint16_t old, const char *want)
{
	for (unsigned i = 0; i < m->ndevices; i++) {
		const struct dm_device *d = &m->devices[i];
		size_t n = dm_device_encoded_size(d);
		uint8_t *buf;
		struct dm_error err = {""};

		if (strcmp(d->name, name))
			continue;
		buf = malloc(n);
		ck_assert_ptr_nonnull(buf);
		ck_assert_uint_eq(dm_device_encode(d, buf, n), n);
		ck_assert_int_eq(dm_device_load(d, buf, n, &err), 0);
		buf[0] = (uint8_t)old;
		buf[1] = (uint8_t)(old >> 8);
		ck_assert_int_eq(dm_device_load(d, buf, n, &err), -1);
		ck_assert_str_eq(err.msg, want);
		free(buf);
		return;
	}
	ck_abort_msg("no device %s", name);
}

START_TEST(state_versions_before_the_thread_fields_are_refused)
{
	struct dm_machine *m = make("profile=qemu");

	assert_old_version_refused(
		m, "machine", 2,
		"machine: state version 2, this build reads version 3");
	assert_old_version_refused(
		m, "rtc", 1,
		"rtc: state version 1, this build reads version 2");
	dm_machine_destroy(m);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("machine");
	TCase *tc = tcase_create("wiring");

	tcase_add_test(tc, isa_irq_routing_and_override);
	tcase_add_test(tc, state_versions_before_the_thread_fields_are_refused);
	tcase_add_test(tc, sources_are_ored);
	tcase_add_test(tc, hpet_legacy_takes_irq0_and_irq8_and_gives_them_back);
	tcase_add_test(tc, hpet_irq_off_leaves_its_lines_to_the_trace);
	tcase_add_test(tc, many_vcpus_and_their_checkpoint);
	tcase_add_test(tc, unknown_msr_faults_and_bad_sizes_are_invalid);
	tcase_add_test(tc, a_moved_block_may_not_shadow_another_device);
	tcase_add_test(tc, an_event_storm_stops_the_machine);
	tcase_add_test(tc, pit_irq0_off_leaves_irq0_to_the_trace);
	tcase_add_test(tc, trace_raises_of_irq0_answer_the_pit_ticks);
	tcase_add_test(tc, raises_that_are_not_the_pits_go_unchecked);
	tcase_add_test(tc, an_8259_inta_of_irq0_rearms_the_kvm_pit);
	tcase_add_test(tc, ticks_never_raised_diverge_at_the_end);
	tcase_add_test(tc, a_board_without_hpet_floats_its_registers);
	tcase_add_test(tc, rtc_irq_off_leaves_irq8_to_the_trace);
	tcase_add_test(tc, main_loop_thread_times_the_rtc_update);
	tcase_add_test(tc, pit_raises_are_judged_from_the_workers_wakeup);
	tcase_add_test(tc, an_hpet_edge_that_reaches_nobody_costs_nothing);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return dm_test_main(suite());
}
