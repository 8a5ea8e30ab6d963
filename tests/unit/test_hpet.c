// SPDX-License-Identifier: MIT
/*
 * HPET (models/hpet.c).  Expected values come from IA-PC HPET 1.0a and
 * from QEMU's hw/timer/hpet.c as docs/devices/hpet.md describes them: at
 * 100 MHz tick k falls on k * 10 ns after the counter starts; at
 * 14318180 Hz the period is floor(10^15 / 14318180) = 69841278 fs and tick
 * k falls on ceil(k * 69841278 / 10^6) ns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/hpet.h"
#include "sim/config.h"
#include "sim/state.h"
#include "sim/timer.h"
#include "testutil.h"

/* Registers. */
#define GCAP 0x000
#define GEN_CONF 0x010
#define GINTR_STA 0x020
#define MAIN_CNT 0x0f0
#define TCONF(i) (0x100 + 0x20 * (i))
#define TCMP(i) (0x108 + 0x20 * (i))
#define TFSB(i) (0x110 + 0x20 * (i))

/* GEN_CONF and Tn_CONF bits. */
#define ENABLE 0x1
#define LEG_RT 0x2
#define LEVEL 0x2
#define INT_ENB 0x4
#define PERIODIC 0x8
#define VAL_SET 0x40
#define MODE32 0x100
#define ROUTE(r) ((uint64_t)(r) << 9)
#define FSB_EN 0x4000

#define NEVER DM_TIME_NEVER

enum { IO, ISA, LEGACY, NBANKS };

struct edge {
	uint64_t t;
	int bank;
	unsigned pin;
	int level;
};

struct msi {
	uint64_t t;
	struct dm_apic_msg m;
};

/* One HPET on its own event queue, and everything it drove. */
static struct {
	struct dm_config cfg;
	struct dm_hpet_outputs out;
	struct dm_eventq q[2];
	struct dm_hpet h[2];
	int cur;
	struct edge ev[256];
	unsigned nev;
	int level[NBANKS][32];
	struct msi msi[64];
	unsigned nmsi;
} F;

static void record(int bank, uint64_t now, unsigned pin, int level)
{
	ck_assert_uint_lt(pin, 32);
	ck_assert_uint_lt(F.nev, sizeof(F.ev) / sizeof(F.ev[0]));
	F.ev[F.nev++] = (struct edge){now, bank, pin, level};
	F.level[bank][pin] = level;
}

static void io_set(void *opaque, uint64_t now, unsigned pin, int level)
{
	(void)opaque;
	record(IO, now, pin, level);
}

static void isa_set(void *opaque, uint64_t now, unsigned pin, int level)
{
	(void)opaque;
	record(ISA, now, pin, level);
}

static void legacy_set(void *opaque, uint64_t now, unsigned pin, int level)
{
	(void)opaque;
	ck_assert_uint_eq(pin, 0);
	record(LEGACY, now, pin, level);
}

static int msi_deliver(void *opaque, uint64_t now, const struct dm_apic_msg *m)
{
	(void)opaque;
	ck_assert_uint_lt(F.nmsi, sizeof(F.msi) / sizeof(F.msi[0]));
	F.msi[F.nmsi++] = (struct msi){now, *m};
	return 1;
}

static struct dm_hpet *H(void)
{
	return &F.h[F.cur];
}

static void setup(const char *opts)
{
	struct dm_error err = {{0}};

	memset(&F, 0, sizeof(F));
	dm_config_defaults(&F.cfg, DM_PROFILE_DATASHEET);
	ck_assert_msg(dm_config_parse(&F.cfg, opts, &err) == 0, "%s", err.msg);
	F.out.ioapic.set = io_set;
	F.out.isa.set = isa_set;
	F.out.legacy.set = legacy_set;
	F.out.msi.deliver = msi_deliver;
	dm_eventq_init(&F.q[0]);
	dm_hpet_init(&F.h[0], &F.cfg, &F.q[0], &F.out);
}

static void teardown(void)
{
	dm_eventq_destroy(&F.q[F.cur]);
}

static void run(uint64_t t)
{
	dm_eventq_run_until(&F.q[F.cur], t);
}

static uint64_t rd(uint64_t t, uint64_t off, unsigned size)
{
	run(t);
	return dm_hpet_read(H(), t, off, size);
}

static void wr(uint64_t t, uint64_t off, unsigned size, uint64_t v)
{
	run(t);
	dm_hpet_write(H(), t, off, size, v);
}

static uint64_t rd8(uint64_t t, uint64_t off)
{
	return rd(t, off, 8);
}

static void wr8(uint64_t t, uint64_t off, uint64_t v)
{
	wr(t, off, 8, v);
}

/* QEMU's HPET takes 4-byte accesses; these work in both flavours. */
static uint64_t rd4x2(uint64_t t, uint64_t off)
{
	return rd(t, off, 4) | rd(t, off + 4, 4) << 32;
}

static void wr4(uint64_t t, uint64_t off, uint64_t v)
{
	wr(t, off, 4, v);
}

/* A one-shot comparator, in two 4-byte halves (its reset value is all
 * ones, so the high half matters). */
static void oneshot_cmp(uint64_t t, unsigned i, uint64_t v)
{
	wr4(t, TCMP(i), (uint32_t)v);
	wr4(t, TCMP(i) + 4, v >> 32);
}

/* A 64-bit periodic accumulator: VAL_SET before each half ([HW] 2.3.9.2.2
 * and the Intel datasheets' sequence); conf is the rest of Tn_CONF. */
static void periodic_acc64(uint64_t t, unsigned i, uint64_t conf, uint64_t v)
{
	wr4(t, TCONF(i), conf | PERIODIC | VAL_SET);
	wr4(t, TCMP(i), (uint32_t)v);
	wr4(t, TCONF(i), conf | PERIODIC | VAL_SET);
	wr4(t, TCMP(i) + 4, v >> 32);
}

/*
 * Checkpoint and restore into a freshly built HPET on a fresh event queue
 * (as a machine restore does); the test continues on the new one.
 */
static void restore(void)
{
	int other = !F.cur;
	size_t n = dm_state_encoded_size(&dm_hpet_state_desc);
	uint8_t *a = malloc(n), *b = malloc(n);
	struct dm_error err = {{0}};

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(dm_state_encode(&dm_hpet_state_desc, H(), a, n), n);
	dm_eventq_init(&F.q[other]);
	dm_hpet_init(&F.h[other], &F.cfg, &F.q[other], &F.out);
	ck_assert_msg(dm_state_load(&dm_hpet_state_desc, &F.h[other], a, n,
				    &err) == 0,
		      "%s", err.msg);
	ck_assert_uint_eq(
		dm_state_encode(&dm_hpet_state_desc, &F.h[other], b, n), n);
	ck_assert_mem_eq(a, b, n);
	ck_assert_uint_eq(F.h[other].ioapic_level, H()->ioapic_level);
	ck_assert_uint_eq(F.h[other].isa_level, H()->isa_level);
	ck_assert_int_eq(F.h[other].legacy_level, H()->legacy_level);
	dm_eventq_destroy(&F.q[F.cur]);
	F.cur = other;
	free(a);
	free(b);
}

/* Raising edges on (bank, pin) within [t0, t1]. */
static unsigned raises(int bank, unsigned pin, uint64_t t0, uint64_t t1)
{
	unsigned n = 0;

	for (unsigned i = 0; i < F.nev; i++)
		if (F.ev[i].bank == bank && F.ev[i].pin == pin &&
		    F.ev[i].level && F.ev[i].t >= t0 && F.ev[i].t <= t1)
			n++;
	return n;
}

/* Time of the nth (from 0) raising edge on (bank, pin). */
static uint64_t raise_at(int bank, unsigned pin, unsigned nth)
{
	for (unsigned i = 0; i < F.nev; i++)
		if (F.ev[i].bank == bank && F.ev[i].pin == pin &&
		    F.ev[i].level && !nth--)
			return F.ev[i].t;
	return NEVER;
}

/* Every edge pulse is a raise and a lower at the same nanosecond. */
static void check_pulses(int bank, unsigned pin)
{
	for (unsigned i = 0; i < F.nev; i++) {
		if (F.ev[i].bank != bank || F.ev[i].pin != pin ||
		    !F.ev[i].level)
			continue;
		ck_assert_uint_lt(i + 1, F.nev);
		ck_assert_int_eq(F.ev[i + 1].bank, bank);
		ck_assert_uint_eq(F.ev[i + 1].pin, pin);
		ck_assert_int_eq(F.ev[i + 1].level, 0);
		ck_assert_uint_eq(F.ev[i + 1].t, F.ev[i].t);
	}
}

static const char *const flavours[] = {"hpet=datasheet", "profile=qemu"};

static bool qemu(void)
{
	return F.cfg.hpet_flavor == DM_HPET_QEMU;
}

/* ---- capabilities and reset values ---- */

START_TEST(test_gcap_100mhz)
{
	setup(flavours[_i]);
	/* REV_ID 1, 3 timers (NUM_TIM_CAP 2), 64-bit, legacy capable,
	 * vendor 8086h, period 10^15 / 10^8 = 10^7 fs (SPEC-NOTES 5.3). */
	ck_assert_uint_eq(rd4x2(0, GCAP), 0x009896808086a201ULL);
	ck_assert_uint_eq(rd(0, GCAP, 4), 0x8086a201);
	ck_assert_uint_eq(rd(0, GCAP + 4, 4), 0x00989680);
	teardown();
}
END_TEST

START_TEST(test_gcap_ich_rate_and_timers)
{
	setup(_i ? "profile=qemu hpet_hz=14318180 hpet_timers=32"
		 : "hpet_hz=14318180 hpet_timers=32");
	/* floor(10^15 / 14318180) = 69841278 = 0x0429B17E; 32 timers:
	 * NUM_TIM_CAP 31 in bits 12:8. */
	ck_assert_uint_eq(rd(0, GCAP + 4, 4), 0x0429b17e);
	ck_assert_uint_eq(rd(0, GCAP, 4), 0x8086bf01);
	teardown();
	setup(_i ? "profile=qemu hpet_timers=5" : "hpet_timers=5");
	ck_assert_uint_eq(rd(0, GCAP, 4), 0x8086a401);
	teardown();
}
END_TEST

START_TEST(test_reset_values)
{
	setup("");
	/* Datasheet pc: periodic and 64-bit capable, FSB capable, routes
	 * 2 and 16-23; comparators all ones ([HW] 2.3.9); halted at 0. */
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_uint_eq(rd8(0, TCONF(i)), 0x00ff000400008030ULL);
		ck_assert_uint_eq(rd8(0, TCMP(i)), UINT64_MAX);
		ck_assert_uint_eq(rd8(0, TFSB(i)), 0);
	}
	ck_assert_uint_eq(rd8(0, GEN_CONF), 0);
	ck_assert_uint_eq(rd8(0, GINTR_STA), 0);
	ck_assert_uint_eq(rd8(0, MAIN_CNT), 0);
	ck_assert_uint_eq(rd8(1000000, MAIN_CNT), 0);
	teardown();

	/* QEMU on pc: CONF 0x30 with INT_ROUTE_CAP 0x4, no FSB (msi=off). */
	setup("profile=qemu");
	ck_assert_uint_eq(rd4x2(0, TCONF(0)), 0x0000000400000030ULL);
	ck_assert_uint_eq(rd4x2(0, TCMP(2)), UINT64_MAX);
	teardown();

	/* q35: IRQ 2, 8 and 16-23 in both flavours. */
	setup("chipset=q35");
	ck_assert_uint_eq(rd(0, TCONF(1) + 4, 4), 0x00ff0104);
	teardown();
	setup("profile=qemu chipset=q35");
	ck_assert_uint_eq(rd(0, TCONF(1) + 4, 4), 0x00ff0104);
	teardown();
	setup("hpet_route_cap=0x10000");
	ck_assert_uint_eq(rd(0, TCONF(0) + 4, 4), 0x10000);
	teardown();
}
END_TEST

/* ---- the main counter ---- */

START_TEST(test_counter_advances)
{
	setup(flavours[_i]);
	wr4(1000, GEN_CONF, ENABLE);
	/* Tick k at 1000 + 10k ns. */
	ck_assert_uint_eq(rd4x2(1009, MAIN_CNT), 0);
	ck_assert_uint_eq(rd4x2(1010, MAIN_CNT), 1);
	ck_assert_uint_eq(rd4x2(13345, MAIN_CNT), 1234);
	/* Halting freezes it; enabling resumes from the frozen value. */
	wr4(5000, GEN_CONF, 0);
	ck_assert_uint_eq(rd4x2(9000, MAIN_CNT), 400);
	wr4(10000, GEN_CONF, ENABLE);
	ck_assert_uint_eq(rd4x2(10025, MAIN_CNT), 402);
	/* An hour later: 360e9 more ticks, computed, not counted. */
	ck_assert_uint_eq(rd4x2(10000 + 3600000000000ULL, MAIN_CNT),
			  400 + 360000000000ULL);
	teardown();
}
END_TEST

START_TEST(test_counter_ich_rate)
{
	setup(_i ? "profile=qemu hpet_hz=14318180" : "hpet_hz=14318180");
	wr4(0, GEN_CONF, ENABLE);
	/* floor(t * 10^6 / 69841278). */
	ck_assert_uint_eq(rd4x2(1000, MAIN_CNT), 14);
	ck_assert_uint_eq(rd4x2(1000000000, MAIN_CNT), 14318180);
	teardown();
}
END_TEST

START_TEST(test_counter_writes_halted)
{
	setup(flavours[_i]);
	wr4(0, MAIN_CNT, 0x11111111);
	wr4(0, MAIN_CNT + 4, 0x22222222);
	ck_assert_uint_eq(rd4x2(10, MAIN_CNT), 0x2222222211111111ULL);
	wr4(20, MAIN_CNT, 0x33333333);
	ck_assert_uint_eq(rd4x2(30, MAIN_CNT), 0x2222222233333333ULL);
	if (!qemu()) {
		wr8(40, MAIN_CNT, 0x123456789abcdef0ULL);
		ck_assert_uint_eq(rd8(50, MAIN_CNT), 0x123456789abcdef0ULL);
	}
	teardown();
}
END_TEST

START_TEST(test_counter_write_running_datasheet)
{
	setup("");
	/* A one-shot at 6000, edge, on IOAPIC pin 2. */
	wr8(0, TCONF(0), INT_ENB | ROUTE(2));
	wr8(0, TCMP(0), 6000);
	wr8(0, GEN_CONF, ENABLE);
	/* dmsim loads a running counter at once (defined; [HW] 2.3.7 asks
	 * for a halt first). */
	wr8(1000, MAIN_CNT, 5000);
	ck_assert_uint_eq(rd8(1000, MAIN_CNT), 5000);
	ck_assert_uint_eq(rd8(2000, MAIN_CNT), 5100);
	/* The comparator now matches 1000 ticks after the write. */
	run(20000);
	ck_assert_uint_eq(raises(IO, 2, 0, 20000), 1);
	ck_assert_uint_eq(raise_at(IO, 2, 0), 11000);
	/* A half write while running: counter 7000 + 100 at 21000. */
	wr(21000, MAIN_CNT + 4, 4, 1);
	ck_assert_uint_eq(rd8(21000, MAIN_CNT), 0x100000000ULL + 7000);
	ck_assert_uint_eq(rd8(21500, MAIN_CNT), 0x100000000ULL + 7050);
	teardown();
}
END_TEST

START_TEST(test_counter_write_running_qemu)
{
	setup("profile=qemu");
	wr4(0, GEN_CONF, ENABLE);
	/* Lost: QEMU stores it in the copy the next halt overwrites. */
	wr4(1000, MAIN_CNT, 5000);
	ck_assert_uint_eq(rd4x2(1000, MAIN_CNT), 100);
	wr4(2000, GEN_CONF, 0);
	ck_assert_uint_eq(rd4x2(3000, MAIN_CNT), 200);
	teardown();
}
END_TEST

START_TEST(test_counter_halves_restore)
{
	setup(flavours[_i]);
	/* A read torn across a carry ([HW] 2.4.7), with a checkpoint
	 * between the halves. */
	wr4(0, MAIN_CNT, 0xfffffff0);
	wr4(0, GEN_CONF, ENABLE);
	ck_assert_uint_eq(rd(100, MAIN_CNT, 4), 0xfffffffa);
	restore();
	ck_assert_uint_eq(rd(200, MAIN_CNT + 4, 4), 1);
	ck_assert_uint_eq(rd(200, MAIN_CNT, 4), 4);
	/* A write in halves, with a checkpoint between them. */
	wr4(300, GEN_CONF, 0);
	wr4(400, MAIN_CNT, 0xaaaaaaaa);
	restore();
	wr4(500, MAIN_CNT + 4, 5);
	ck_assert_uint_eq(rd4x2(600, MAIN_CNT), 0x5aaaaaaaaULL);
	teardown();
}
END_TEST

/* ---- one-shot comparators ---- */

START_TEST(test_oneshot64)
{
	setup(flavours[_i]);
	wr4(0, TCONF(0), INT_ENB | ROUTE(2));
	oneshot_cmp(0, 0, 1000);
	wr4(0, GEN_CONF, ENABLE);
	run(5000);
	restore();
	run(1000000000000ULL);
	/* Fires when the counter reaches 1000, and never again. */
	ck_assert_uint_eq(raises(IO, 2, 0, NEVER), 1);
	ck_assert_uint_eq(raise_at(IO, 2, 0), 10000);
	check_pulses(IO, 2);
	/* Edge timers leave their status bit 0; the comparator stays. */
	ck_assert_uint_eq(rd4x2(1000000000000ULL, GINTR_STA), 0);
	ck_assert_uint_eq(rd4x2(1000000000000ULL, TCMP(0)), 1000);
	ck_assert_uint_eq(dm_eventq_next(&F.q[F.cur]), NEVER);
	teardown();
}
END_TEST

START_TEST(test_oneshot32_wrap_datasheet)
{
	setup("");
	wr8(0, MAIN_CNT, 0xffffff00);
	wr8(0, TCONF(0), INT_ENB | MODE32 | ROUTE(2));
	wr8(0, TCMP(0), 0xaaaaaaaa00000100ULL);
	/* 32-bit mode: the upper half reads 0 ([HW] 2.4.7). */
	ck_assert_uint_eq(rd8(0, TCMP(0)), 0x100);
	wr8(0, GEN_CONF, ENABLE);
	run(3000);
	restore();
	/* The low half wraps at tick 0x100 and matches 0x100 at tick 0x200;
	 * the comparator keeps its value, so both recur every 2^32 ticks. */
	run(42949678080ULL);
	ck_assert_uint_eq(raises(IO, 2, 0, NEVER), 4);
	ck_assert_uint_eq(raise_at(IO, 2, 0), 2560);
	ck_assert_uint_eq(raise_at(IO, 2, 1), 5120);
	ck_assert_uint_eq(raise_at(IO, 2, 2), 42949675520ULL);
	ck_assert_uint_eq(raise_at(IO, 2, 3), 42949678080ULL);
	check_pulses(IO, 2);
	/* The main counter itself stays 64-bit. */
	ck_assert_uint_eq(rd8(42949678080ULL, MAIN_CNT),
			  0x1ffffff00ULL + 0x200);
	teardown();
}
END_TEST

START_TEST(test_oneshot32_wrap_qemu)
{
	setup("profile=qemu");
	wr4(0, MAIN_CNT, 0xffffff00);
	wr4(0, TCONF(0), INT_ENB | MODE32 | ROUTE(2));
	wr4(0, TCMP(0), 0x100);
	wr4(0, GEN_CONF, ENABLE);
	run(2555);
	restore();
	/* QEMU: the wrap interrupt where the low half is 0xFFFFFFFF (tick
	 * 0xFF), then the match, then nothing: one programming, one shot. */
	run(100000000000ULL);
	ck_assert_uint_eq(raises(IO, 2, 0, NEVER), 2);
	ck_assert_uint_eq(raise_at(IO, 2, 0), 2550);
	ck_assert_uint_eq(raise_at(IO, 2, 1), 5120);
	teardown();
}
END_TEST

START_TEST(test_past_comparator)
{
	/* Datasheet, 64-bit: a passed value matches after 2^64 ticks. */
	setup("");
	wr8(0, MAIN_CNT, 1000);
	wr8(0, TCONF(0), INT_ENB | ROUTE(2));
	wr8(0, TCMP(0), 500);
	wr8(0, GEN_CONF, ENABLE);
	run(NEVER - 1);
	ck_assert_uint_eq(raises(IO, 2, 0, NEVER), 0);
	teardown();

	/* Datasheet, 32-bit: after 2^32 - 500 ticks; the value the counter
	 * already shows, after 2^32.  Both wrap first, at 2^32 - 1000. */
	setup("");
	wr8(0, MAIN_CNT, 1000);
	wr8(0, TCONF(0), INT_ENB | ROUTE(2) | MODE32);
	wr8(0, TCONF(1), INT_ENB | ROUTE(16) | MODE32);
	wr8(0, TCMP(0), 500);
	wr8(0, TCMP(1), 1000);
	wr8(0, GEN_CONF, ENABLE);
	run(42949672960ULL);
	ck_assert_uint_eq(raises(IO, 2, 0, NEVER), 2);
	ck_assert_uint_eq(raise_at(IO, 2, 0), 42949662960ULL);
	ck_assert_uint_eq(raise_at(IO, 2, 1), 42949667960ULL);
	ck_assert_uint_eq(raises(IO, 16, 0, NEVER), 2);
	ck_assert_uint_eq(raise_at(IO, 16, 0), 42949662960ULL);
	ck_assert_uint_eq(raise_at(IO, 16, 1), 42949672960ULL);
	teardown();

	/* QEMU: one tick later, however far behind (SPEC-NOTES 5.3). */
	setup("profile=qemu");
	wr4(0, MAIN_CNT, 1000);
	wr4(0, TCONF(0), INT_ENB | ROUTE(2));
	oneshot_cmp(0, 0, 500);
	wr4(0, GEN_CONF, ENABLE);
	run(100);
	ck_assert_uint_eq(raises(IO, 2, 0, NEVER), 1);
	ck_assert_uint_eq(raise_at(IO, 2, 0), 10);
	/* Also for a write while running: counter 1500 at 5000 ns; 3000
	 * would match at 20000 ns, but 100 replaces it. */
	wr4(5000, TCMP(0), 3000);
	wr4(5000, TCMP(0), 100);
	run(30000);
	ck_assert_uint_eq(raises(IO, 2, 0, NEVER), 2);
	ck_assert_uint_eq(raise_at(IO, 2, 1), 5010);
	teardown();
}
END_TEST

/* ---- periodic comparators ---- */

START_TEST(test_periodic_valset)
{
	setup(flavours[_i]);
	/* 32-bit mode, as Linux programs it. */
	wr4(0, TCONF(0), MODE32 | PERIODIC | INT_ENB | VAL_SET | ROUTE(2));
	wr4(0, TCMP(0), 100);
	/* VAL_SET clears itself after the comparator write. */
	ck_assert_uint_eq(rd(0, TCONF(0), 4) & 0x7f4e,
			  MODE32 | PERIODIC | INT_ENB | ROUTE(2));
	wr4(0, GEN_CONF, ENABLE);
	run(1500);
	ck_assert_uint_eq(raise_at(IO, 2, 0), 1000);
	/* Reads return the next match. */
	ck_assert_uint_eq(rd(1500, TCMP(0), 4), 200);
	/* Without VAL_SET a write sets only the increment, added at the
	 * next match ([HW] 2.4.3.2). */
	wr4(1500, TCMP(0), 50);
	ck_assert_uint_eq(rd(1500, TCMP(0), 4), 200);
	run(2100);
	ck_assert_uint_eq(rd(2100, TCMP(0), 4), 250);
	run(2700);
	restore();
	run(3100);
	ck_assert_uint_eq(raises(IO, 2, 0, 3100), 4);
	ck_assert_uint_eq(raise_at(IO, 2, 1), 2000);
	ck_assert_uint_eq(raise_at(IO, 2, 2), 2500);
	ck_assert_uint_eq(raise_at(IO, 2, 3), 3000);
	/* With VAL_SET: the accumulator takes the value, and it is the last
	 * value written, so it is the increment too. */
	wr4(3200, TCONF(0), MODE32 | PERIODIC | INT_ENB | VAL_SET | ROUTE(2));
	wr4(3200, TCMP(0), 1000);
	ck_assert_uint_eq(rd(3200, TCMP(0), 4), 1000);
	run(25000);
	ck_assert_uint_eq(raises(IO, 2, 3100, 25000), 2);
	ck_assert_uint_eq(raise_at(IO, 2, 4), 10000);
	ck_assert_uint_eq(raise_at(IO, 2, 5), 20000);
	check_pulses(IO, 2);
	teardown();
}
END_TEST

START_TEST(test_periodic_valset_halves)
{
	setup("");
	/* The Intel sequence: VAL_SET before each half of a 64-bit
	 * accumulator, with a checkpoint between the halves. */
	wr4(0, MAIN_CNT, 0xffffff00);
	wr4(0, TCONF(0), PERIODIC | INT_ENB | VAL_SET | ROUTE(2));
	wr4(0, TCMP(0), 0);
	restore();
	wr4(0, TCONF(0), PERIODIC | INT_ENB | VAL_SET | ROUTE(2));
	wr4(0, TCMP(0) + 4, 1);
	ck_assert_uint_eq(rd4x2(0, TCMP(0)), 0x100000000ULL);
	wr4(0, GEN_CONF, ENABLE);
	/* Match at tick 0x100, then every 2^32 ticks. */
	run(42949675520ULL);
	ck_assert_uint_eq(raises(IO, 2, 0, NEVER), 2);
	ck_assert_uint_eq(raise_at(IO, 2, 0), 2560);
	ck_assert_uint_eq(raise_at(IO, 2, 1), 42949675520ULL);
	teardown();
}
END_TEST

START_TEST(test_periodic_restore_ich_rate)
{
	setup(_i ? "profile=qemu hpet_hz=14318180" : "hpet_hz=14318180");
	wr4(0, TCONF(0), MODE32 | PERIODIC | INT_ENB | VAL_SET | ROUTE(2));
	wr4(0, TCMP(0), 1000);
	wr4(0, GEN_CONF, ENABLE);
	/* Tick 1000j falls on ceil(1000j * 69841278 / 10^6) ns; checkpoints
	 * mid-period do not move the next one. */
	run(100000);
	restore();
	run(250000);
	restore();
	run(349207);
	ck_assert_uint_eq(raises(IO, 2, 0, NEVER), 5);
	ck_assert_uint_eq(raise_at(IO, 2, 0), 69842);
	ck_assert_uint_eq(raise_at(IO, 2, 1), 139683);
	ck_assert_uint_eq(raise_at(IO, 2, 2), 209524);
	ck_assert_uint_eq(raise_at(IO, 2, 3), 279366);
	ck_assert_uint_eq(raise_at(IO, 2, 4), 349207);
	teardown();
}
END_TEST

START_TEST(test_periodic_catch_up)
{
	/* Counter 1005 at 10050 ns; comparator 100, period 100. */
	setup(flavours[_i]);
	wr4(0, GEN_CONF, ENABLE);
	wr4(10050, TCONF(0), MODE32 | PERIODIC | VAL_SET | ROUTE(2));
	wr4(10050, TCMP(0), 100);
	wr4(10050, TCONF(0), MODE32 | PERIODIC | INT_ENB | ROUTE(2));
	run(12500);
	if (qemu()) {
		/* One interrupt a tick later; the comparator jumps by whole
		 * periods to 1100, then the period resumes. */
		ck_assert_uint_eq(raises(IO, 2, 0, 10999), 1);
		ck_assert_uint_eq(raise_at(IO, 2, 0), 10060);
		ck_assert_uint_eq(raise_at(IO, 2, 1), 11000);
		ck_assert_uint_eq(raise_at(IO, 2, 2), 12000);
		ck_assert_uint_eq(rd(12500, TCMP(0), 4), 1300);
	} else {
		/* Hardware compares for equality: 100 comes after a wrap. */
		ck_assert_uint_eq(raises(IO, 2, 0, NEVER), 0);
		ck_assert_uint_eq(rd(12500, TCMP(0), 4), 100);
	}
	teardown();
}
END_TEST

START_TEST(test_periodic_increment_mask)
{
	setup(flavours[_i]);
	wr4(0, TCONF(0), MODE32 | PERIODIC | INT_ENB | VAL_SET | ROUTE(2));
	wr4(0, TCMP(0), 0x10);
	wr4(0, TCMP(0), 0xffffffff);
	wr4(0, GEN_CONF, ENABLE);
	run(200);
	ck_assert_uint_eq(raise_at(IO, 2, 0), 160);
	if (qemu()) {
		/* Masked to 31 bits: 0x10 + 0x7fffffff. */
		ck_assert_uint_eq(rd(200, TCMP(0), 4), 0x8000000f);
		run(21474836630ULL);
		ck_assert_uint_eq(raise_at(IO, 2, 1), 21474836630ULL);
	} else {
		/* 0x10 + 0xffffffff wraps through 0 ([HW] 2.3.9) to 0xf,
		 * which the counter's low half shows again after a wrap. */
		ck_assert_uint_eq(rd(200, TCMP(0), 4), 0xf);
		run(42949673110ULL);
		ck_assert_uint_eq(raise_at(IO, 2, 1), 42949673110ULL);
	}
	ck_assert_uint_eq(raises(IO, 2, 0, NEVER), 2);
	teardown();
}
END_TEST

START_TEST(test_periodic_zero_increment)
{
	setup(flavours[_i]);
	wr4(0, TCONF(0), MODE32 | PERIODIC | INT_ENB | VAL_SET | ROUTE(2));
	wr4(0, TCMP(0), 100);
	wr4(0, TCMP(0), 0);
	wr4(0, GEN_CONF, ENABLE);
	run(100000000000ULL);
	ck_assert_uint_eq(raise_at(IO, 2, 0), 1000);
	if (qemu()) {
		/* A zero period re-arms nothing: one interrupt. */
		ck_assert_uint_eq(raises(IO, 2, 0, NEVER), 1);
	} else {
		/* Adding 0 leaves the comparator: it matches once per wrap. */
		ck_assert_uint_eq(raises(IO, 2, 0, NEVER), 3);
		ck_assert_uint_eq(raise_at(IO, 2, 1), 42949673960ULL);
		ck_assert_uint_eq(raise_at(IO, 2, 2), 85899346920ULL);
	}
	ck_assert_uint_eq(rd(100000000000ULL, TCMP(0), 4), 100);
	teardown();
}
END_TEST

START_TEST(test_masked_periodic_costs_nothing)
{
	setup(flavours[_i]);
	/* A 1-tick period with INT_ENB = 0, edge: no visible effect but the
	 * comparator, so no events, however long it runs. */
	periodic_acc64(0, 0, ROUTE(2), 1);
	wr4(0, GEN_CONF, ENABLE);
	ck_assert_uint_eq(dm_eventq_run_until(&F.q[F.cur], 3600000000000ULL),
			  0);
	/* Tick 360e9 has matched: the next match is 360e9 + 1. */
	ck_assert_uint_eq(rd4x2(3600000000000ULL, TCMP(0)), 360000000001ULL);
	teardown();
}
END_TEST

/* ---- level, edge, status ---- */

START_TEST(test_level_w1c)
{
	setup(flavours[_i]);
	wr4(0, TCONF(0),
	    MODE32 | LEVEL | PERIODIC | INT_ENB | VAL_SET | ROUTE(2));
	wr4(0, TCMP(0), 100);
	wr4(0, GEN_CONF, ENABLE);
	run(1000);
	ck_assert_int_eq(F.level[IO][2], 1);
	ck_assert_uint_eq(rd(1000, GINTR_STA, 4), 1);
	restore();
	/* Re-fires keep it asserted: one raise, no lower. */
	run(2500);
	ck_assert_uint_eq(F.nev, 1);
	/* Writing 0 does nothing; writing 1 clears and lowers. */
	wr4(2500, GINTR_STA, 0);
	ck_assert_uint_eq(rd(2500, GINTR_STA, 4), 1);
	ck_assert_int_eq(F.level[IO][2], 1);
	wr4(2600, GINTR_STA, 1);
	ck_assert_uint_eq(rd(2600, GINTR_STA, 4), 0);
	ck_assert_int_eq(F.level[IO][2], 0);
	restore();
	/* The next match (tick 300) asserts it again. */
	run(2999);
	ck_assert_int_eq(F.level[IO][2], 0);
	run(3000);
	ck_assert_int_eq(F.level[IO][2], 1);
	ck_assert_uint_eq(raise_at(IO, 2, 1), 3000);
	ck_assert_uint_eq(rd(3000, GINTR_STA, 4), 1);
	teardown();
}
END_TEST

START_TEST(test_int_enb_zero)
{
	setup(flavours[_i]);
	/* Level, interrupt disabled. */
	wr4(0, TCONF(0), MODE32 | LEVEL | PERIODIC | VAL_SET | ROUTE(2));
	wr4(0, TCMP(0), 100);
	/* Edge, interrupt disabled. */
	wr4(0, TCONF(1), MODE32 | PERIODIC | VAL_SET | ROUTE(16));
	wr4(0, TCMP(1), 100);
	wr4(0, GEN_CONF, ENABLE);
	run(1500);
	ck_assert_uint_eq(F.nev, 0);
	if (!qemu()) {
		/* [HW] 2.3.8: status sets, no interrupt; enabling it then
		 * asserts the line; disabling lowers it, status stays. */
		ck_assert_uint_eq(rd(1500, GINTR_STA, 4), 1);
		wr4(1500, TCONF(0),
		    MODE32 | LEVEL | PERIODIC | INT_ENB | ROUTE(2));
		ck_assert_int_eq(F.level[IO][2], 1);
		ck_assert_uint_eq(raise_at(IO, 2, 0), 1500);
		wr4(1600, TCONF(0), MODE32 | LEVEL | PERIODIC | ROUTE(2));
		ck_assert_int_eq(F.level[IO][2], 0);
		ck_assert_uint_eq(rd(1600, GINTR_STA, 4), 1);
	} else {
		/* QEMU sets status only for enabled timers; enabling re-arms
		 * from the comparator (200 by now); clearing INT_ENB clears
		 * the status bit. */
		ck_assert_uint_eq(rd(1500, GINTR_STA, 4), 0);
		wr4(1500, TCONF(0),
		    MODE32 | LEVEL | PERIODIC | INT_ENB | ROUTE(2));
		ck_assert_int_eq(F.level[IO][2], 0);
		run(2000);
		ck_assert_uint_eq(raise_at(IO, 2, 0), 2000);
		ck_assert_uint_eq(rd(2000, GINTR_STA, 4), 1);
		wr4(2100, TCONF(0), MODE32 | LEVEL | PERIODIC | ROUTE(2));
		ck_assert_int_eq(F.level[IO][2], 0);
		ck_assert_uint_eq(rd(2100, GINTR_STA, 4), 0);
	}
	ck_assert_uint_eq(raises(IO, 16, 0, NEVER), 0);
	teardown();
}
END_TEST

START_TEST(test_halt_and_resume)
{
	setup(flavours[_i]);
	wr4(0, TCONF(0),
	    MODE32 | LEVEL | PERIODIC | INT_ENB | VAL_SET | ROUTE(2));
	wr4(0, TCMP(0), 100);
	wr4(0, GEN_CONF, ENABLE);
	run(1000);
	ck_assert_int_eq(F.level[IO][2], 1);
	/* ENABLE_CNF = 0 stops the counter and every interrupt. */
	wr4(1500, GEN_CONF, 0);
	ck_assert_int_eq(F.level[IO][2], 0);
	/* [HW] keeps the status bit; QEMU clears it with the line. */
	ck_assert_uint_eq(rd(1500, GINTR_STA, 4), qemu() ? 0 : 1);
	ck_assert_uint_eq(rd(5000, TCMP(0), 4), 200);
	restore();
	run(50000);
	ck_assert_uint_eq(F.nev, 2);
	/* Resuming: the counter goes on from 150, the comparator from 200.
	 * [HW]: the held status raises the line again at once. */
	wr4(60000, GEN_CONF, ENABLE);
	ck_assert_int_eq(F.level[IO][2], qemu() ? 0 : 1);
	wr4(60000, GINTR_STA, 1);
	run(60500);
	ck_assert_uint_eq(raise_at(IO, 2, qemu() ? 1 : 2), 60500);
	teardown();
}
END_TEST

START_TEST(test_edge_to_level_switch)
{
	setup(flavours[_i]);
	wr4(0, TCONF(0), LEVEL | INT_ENB | ROUTE(2));
	oneshot_cmp(0, 0, 100);
	wr4(0, GEN_CONF, ENABLE);
	run(1000);
	ck_assert_int_eq(F.level[IO][2], 1);
	/* Leaving level mode drops the status bit and the line. */
	wr4(1100, TCONF(0), INT_ENB | ROUTE(2));
	ck_assert_int_eq(F.level[IO][2], 0);
	ck_assert_uint_eq(rd(1100, GINTR_STA, 4), 0);
	teardown();
}
END_TEST

/* ---- routing ---- */

START_TEST(test_legacy_replacement)
{
	setup(flavours[_i]);
	/* Legacy routing takes over IRQ 0 and 8 as soon as LEG_RT_CNF is
	 * set ([HW] 2.4.2.1), counter running or not. */
	wr4(0, GEN_CONF, LEG_RT);
	ck_assert_int_eq(F.level[LEGACY][0], 1);
	wr4(0, TCONF(0), INT_ENB | ROUTE(16));
	oneshot_cmp(0, 0, 100);
	wr4(0, TCONF(1), LEVEL | INT_ENB | ROUTE(2));
	oneshot_cmp(0, 1, 200);
	wr4(0, TCONF(2), INT_ENB | ROUTE(2));
	oneshot_cmp(0, 2, 300);
	wr4(0, GEN_CONF, LEG_RT | ENABLE);
	run(1500);
	restore();
	run(3500);
	/* Timer 0 on IRQ0, timer 1 on IRQ8, timer 2 on its own route. */
	ck_assert_uint_eq(raise_at(ISA, 0, 0), 1000);
	check_pulses(ISA, 0);
	ck_assert_uint_eq(raise_at(ISA, 8, 0), 2000);
	ck_assert_int_eq(F.level[ISA][8], 1);
	ck_assert_uint_eq(raise_at(IO, 2, 0), 3000);
	ck_assert_uint_eq(raises(IO, 16, 0, NEVER), 0);
	/* Giving IRQ 0 and 8 back: timer 1's held level moves to pin 2. */
	wr4(4000, GEN_CONF, ENABLE);
	ck_assert_int_eq(F.level[LEGACY][0], 0);
	ck_assert_int_eq(F.level[ISA][8], 0);
	ck_assert_int_eq(F.level[IO][2], 1);
	ck_assert_uint_eq(raise_at(IO, 2, 1), 4000);
	/* Reset lowers everything it drove. */
	wr4(4500, GEN_CONF, ENABLE | LEG_RT);
	ck_assert_int_eq(F.level[ISA][8], 1);
	dm_hpet_reset(H(), 5000);
	ck_assert_int_eq(F.level[ISA][8], 0);
	ck_assert_int_eq(F.level[LEGACY][0], 0);
	ck_assert_int_eq(F.level[IO][2], 0);
	teardown();
}
END_TEST

START_TEST(test_shared_pin)
{
	setup("");
	/* Two level timers on one pin: the pin stays up until both are
	 * cleared; an edge timer cannot pulse a pin held up. */
	wr8(0, TCONF(0), LEVEL | INT_ENB | ROUTE(16));
	wr8(0, TCMP(0), 100);
	wr8(0, TCONF(1), LEVEL | INT_ENB | ROUTE(16));
	wr8(0, TCMP(1), 200);
	wr8(0, TCONF(2), INT_ENB | ROUTE(16));
	wr8(0, TCMP(2), 300);
	wr8(0, GEN_CONF, ENABLE);
	run(3000);
	ck_assert_uint_eq(F.nev, 1);
	ck_assert_uint_eq(rd8(3000, GINTR_STA), 3);
	wr8(3000, GINTR_STA, 1);
	ck_assert_int_eq(F.level[IO][16], 1);
	wr8(3000, GINTR_STA, 2);
	ck_assert_int_eq(F.level[IO][16], 0);
	teardown();
}
END_TEST

START_TEST(test_fsb)
{
	setup("");
	/* FSB wins over the route and legacy routing and is always edge
	 * ([HW] 2.4.2.3): INT_TYPE level sets no status. */
	wr8(0, TFSB(0), 0xfee0100000004031ULL);
	wr8(0, TCONF(0), FSB_EN | LEVEL | INT_ENB | PERIODIC | VAL_SET);
	wr8(0, TCMP(0), 100);
	ck_assert_uint_eq(rd8(0, TCONF(0)) & 0xffff, 0xc07e & ~VAL_SET);
	wr8(0, GEN_CONF, ENABLE | LEG_RT);
	run(1500);
	restore();
	run(2000);
	ck_assert_uint_eq(F.nmsi, 2);
	ck_assert_uint_eq(F.msi[0].t, 1000);
	ck_assert_uint_eq(F.msi[1].t, 2000);
	ck_assert_uint_eq(F.msi[0].m.dest, 1);
	ck_assert_uint_eq(F.msi[0].m.vector, 0x31);
	ck_assert_uint_eq(F.msi[0].m.delivery, DM_DELIVERY_FIXED);
	ck_assert_uint_eq(F.msi[0].m.level_trig, 0);
	ck_assert_uint_eq(rd8(2000, TFSB(0)), 0xfee0100000004031ULL);
	ck_assert_uint_eq(rd8(2000, GINTR_STA), 0);
	ck_assert_uint_eq(raises(ISA, 0, 0, NEVER), 0);
	teardown();
}
END_TEST

START_TEST(test_fsb_capability)
{
	/* Without FSB_INT_DEL_CAP, FSB_EN does not take ([HW] 2.3.8). */
	setup("hpet_fsb=off");
	wr8(0, TCONF(0), FSB_EN | INT_ENB | ROUTE(2));
	ck_assert_uint_eq(rd8(0, TCONF(0)), 0x00ff000400000034ULL | ROUTE(2));
	wr8(0, TCMP(0), 100);
	wr8(0, GEN_CONF, ENABLE);
	run(1000);
	ck_assert_uint_eq(F.nmsi, 0);
	ck_assert_uint_eq(raise_at(IO, 2, 0), 1000);
	teardown();

	/* QEMU's write mask keeps FSB_EN whatever msi= says. */
	setup("profile=qemu");
	wr4(0, TFSB(0), 0x4032);
	wr4(0, TFSB(0) + 4, 0xfee00000);
	wr4(0, TCONF(0), FSB_EN | INT_ENB);
	ck_assert_uint_eq(rd(0, TCONF(0), 4), 0x4034);
	oneshot_cmp(0, 0, 100);
	wr4(0, GEN_CONF, ENABLE);
	run(1000);
	ck_assert_uint_eq(F.nmsi, 1);
	ck_assert_uint_eq(F.msi[0].m.vector, 0x32);
	teardown();
}
END_TEST

START_TEST(test_fsb_switch_clears_level)
{
	setup(flavours[_i]);
	wr4(0, TCONF(0), LEVEL | INT_ENB | ROUTE(2));
	oneshot_cmp(0, 0, 100);
	wr4(0, GEN_CONF, ENABLE);
	run(1000);
	ck_assert_int_eq(F.level[IO][2], 1);
	wr4(1100, TCONF(0), FSB_EN | LEVEL | INT_ENB | ROUTE(2));
	ck_assert_int_eq(F.level[IO][2], 0);
	ck_assert_uint_eq(rd(1100, GINTR_STA, 4), 0);
	teardown();
}
END_TEST

START_TEST(test_32_timers)
{
	setup("hpet_timers=32");
	/* The block grows past 1 KiB to reach timers 24-31. */
	ck_assert_uint_eq(dm_hpet_mmio_len(H()), 0x500);
	for (unsigned i = 0; i < 31; i++) {
		wr8(0, TFSB(i), 0xfee0000000000020ULL + i);
		wr8(0, TCONF(i), FSB_EN | INT_ENB);
		wr8(0, TCMP(i), 10 * (i + 1));
	}
	wr8(0, TCONF(31), LEVEL | INT_ENB | ROUTE(23));
	wr8(0, TCMP(31), 320);
	wr8(0, GEN_CONF, ENABLE);
	run(1600);
	restore();
	run(3200);
	ck_assert_uint_eq(F.nmsi, 31);
	for (unsigned i = 0; i < 31; i++) {
		ck_assert_uint_eq(F.msi[i].t, 100 * (i + 1));
		ck_assert_uint_eq(F.msi[i].m.vector, 0x20 + i);
	}
	ck_assert_uint_eq(rd8(3200, GINTR_STA), 0x80000000ULL);
	ck_assert_int_eq(F.level[IO][23], 1);
	teardown();

	/* QEMU keeps the 1 KiB block: timers 24-31 have no registers. */
	setup("profile=qemu hpet_timers=32");
	ck_assert_uint_eq(dm_hpet_mmio_len(H()), 0x400);
	wr4(0, TCMP(23), 0x1234);
	ck_assert_uint_eq(rd(0, TCMP(23), 4), 0x1234);
	ck_assert_uint_eq(rd(0, TCONF(24), 4), 0);
	teardown();
}
END_TEST

START_TEST(test_route_outside_capability)
{
	/* Datasheet pc: route 0 (the reset value) is not offered, so the
	 * timer drives no pin, but its status bit still works. */
	setup("");
	wr8(0, TCONF(0), LEVEL | INT_ENB);
	wr8(0, TCMP(0), 100);
	wr8(0, GEN_CONF, ENABLE);
	run(2000);
	ck_assert_uint_eq(rd8(2000, GINTR_STA), 1);
	ck_assert_uint_eq(F.nev, 0);
	teardown();
	/* With pin 0 in the capability it goes there. */
	setup("hpet_route_cap=0x1");
	wr8(0, TCONF(0), LEVEL | INT_ENB);
	wr8(0, TCMP(0), 100);
	wr8(0, GEN_CONF, ENABLE);
	run(2000);
	ck_assert_int_eq(F.level[IO][0], 1);
	teardown();
}
END_TEST

/* ---- QEMU specifics ---- */

START_TEST(test_qemu_enable_rearms)
{
	setup("profile=qemu");
	/* A comparator left all-ones is not armed by ENABLE_CNF 0->1. */
	wr4(0, TCONF(0), INT_ENB | ROUTE(2));
	wr4(0, TCONF(1), MODE32 | INT_ENB | ROUTE(2) | PERIODIC | VAL_SET);
	wr4(0, TCMP(1), 100);
	wr4(0, GEN_CONF, ENABLE);
	run(2500);
	ck_assert_uint_eq(raises(IO, 2, 0, NEVER), 2);
	wr4(2500, GEN_CONF, 0);
	wr4(3000, GEN_CONF, ENABLE);
	/* Counter 250 resumes; comparator 300 is re-armed. */
	run(3500);
	ck_assert_uint_eq(raise_at(IO, 2, 2), 3500);
	ck_assert_uint_eq(raises(IO, 2, 0, NEVER), 3);
	teardown();
}
END_TEST

START_TEST(test_qemu_accesses)
{
	setup("profile=qemu");
	/* 8-byte accesses are split into 4-byte halves, low first. */
	ck_assert_uint_eq(rd8(0, GCAP), 0x009896808086a201ULL);
	/* Narrower or misaligned pieces read 0 and write nothing. */
	ck_assert_uint_eq(rd(0, GCAP, 2), 0);
	ck_assert_uint_eq(rd(0, GCAP + 1, 1), 0);
	ck_assert_uint_eq(rd(0, GCAP + 2, 4), 0);
	/* Misaligned 8 bytes at 4: pieces at 4 (the period) and 8 (reserved).
	 */
	ck_assert_uint_eq(rd(0, GCAP + 4, 8), 0x00989680);
	ck_assert_uint_eq(rd(0, 0x3fc, 8), 0);
	ck_assert_uint_eq(rd(0, GCAP, 16), 0);
	wr(0, GEN_CONF, 1, ENABLE);
	ck_assert_uint_eq(rd(0, GEN_CONF, 4), 0);
	/* An 8-byte comparator write is two writes: VAL_SET goes with the
	 * low half, so the high half sets the period, not the comparator. */
	wr4(0, TCONF(0), PERIODIC | VAL_SET | ROUTE(2));
	wr8(0, TCMP(0), 0x0000000200000100ULL);
	ck_assert_uint_eq(rd8(0, TCMP(0)), 0xffffffff00000100ULL);
	teardown();
}
END_TEST

/*
 * dm_hpet_live_bytes: the slots past the block's timers (and QEMU's extra
 * one) keep their power-on bytes whatever the guest writes anywhere, so
 * migrate-check's change detection may leave them out.
 */
START_TEST(test_live_bytes)
{
	static uint8_t before[sizeof(struct dm_hpet)];
	size_t live, slot = sizeof(H()->timer[0]);
	unsigned slots;

	setup(flavours[_i]);
	slots = qemu() ? 4 : 3;
	live = dm_hpet_live_bytes(H());
	ck_assert_uint_eq(live, offsetof(struct dm_hpet, timer) + slots * slot);
	memcpy(before, H(), sizeof(before));
	wr4(0, GEN_CONF, ENABLE);
	for (unsigned i = 0; i < DM_HPET_MAX_TIMERS; i++)
		for (uint64_t off = 0; off < 0x20; off += 4)
			wr4(10 * i, 0x100 + 0x20 * i + off, 0xffffffffu);
	run(1000000);
	/* What did change is inside: timer 2 took its comparator. */
	ck_assert(memcmp(&H()->timer[2],
			 before + ((uint8_t *)&H()->timer[2] - (uint8_t *)H()),
			 slot));
	ck_assert(!memcmp((uint8_t *)H() + live, before + live,
			  sizeof(before) - live));
	dm_hpet_reset(H(), 1000000);
	ck_assert(!memcmp((uint8_t *)H() + live, before + live,
			  sizeof(before) - live));
	teardown();

	setup("hpet_timers=32");
	ck_assert_uint_eq(dm_hpet_live_bytes(H()), sizeof(struct dm_hpet));
	teardown();
}
END_TEST

START_TEST(test_qemu_timer_past_the_last)
{
	setup("profile=qemu");
	/* QEMU's index check lets timer 3 of 3 answer: registers without
	 * capabilities, not touched by reset. */
	ck_assert_uint_eq(rd(0, TCONF(3), 4), 0);
	ck_assert_uint_eq(rd(0, TCONF(3) + 4, 4), 0);
	wr4(0, TCMP(3), 0x55);
	wr4(0, TFSB(3), 0x66);
	wr4(0, TCONF(3), INT_ENB | ROUTE(9));
	ck_assert_uint_eq(rd(0, TCMP(3), 4), 0x55);
	ck_assert_uint_eq(rd(0, TFSB(3), 4), 0x66);
	restore();
	dm_hpet_reset(H(), 0);
	ck_assert_uint_eq(rd(0, TCONF(3), 4), INT_ENB | ROUTE(9));
	ck_assert_uint_eq(rd(0, TCMP(3), 4), 0x55);
	/* It runs: armed by its comparator write, it interrupts. */
	wr4(0, GEN_CONF, ENABLE);
	wr4(0, TCMP(3), 0x100);
	run(2560);
	ck_assert_uint_eq(raise_at(IO, 9, 0), 2560);
	/* Timer 4 does not exist. */
	wr4(3000, TCMP(4), 0x55);
	ck_assert_uint_eq(rd(3000, TCMP(4), 4), 0);
	teardown();

	setup("");
	wr8(0, TCMP(3), 0x55);
	ck_assert_uint_eq(rd8(0, TCMP(3)), 0);
	ck_assert_uint_eq(rd8(0, TCONF(3)), 0);
	teardown();
}
END_TEST

/* ---- nonsense ---- */

START_TEST(test_nonsense_datasheet)
{
	setup("");
	/* Every bit: only the writable ones take; route 31 is not in the
	 * capability, so the route stays 0 ([HW] 2.3.8). */
	wr8(0, TCONF(0), UINT64_MAX);
	ck_assert_uint_eq(rd8(0, TCONF(0)), 0x00ff00040000c17eULL);
	wr8(0, TCONF(0), ROUTE(3));
	ck_assert_uint_eq(rd8(0, TCONF(0)) & 0x3e00, 0);
	wr8(0, TCONF(0), ROUTE(17));
	ck_assert_uint_eq(rd8(0, TCONF(0)) & 0x3e00, ROUTE(17));
	wr8(0, TCONF(0), ROUTE(1));
	ck_assert_uint_eq(rd8(0, TCONF(0)) & 0x3e00, ROUTE(17));
	/* Read-only and reserved registers. */
	wr8(0, GCAP, 0);
	ck_assert_uint_eq(rd8(0, GCAP), 0x009896808086a201ULL);
	wr8(0, 0x008, UINT64_MAX);
	wr8(0, 0x030, UINT64_MAX);
	wr8(0, TCONF(0) + 0x18, UINT64_MAX);
	ck_assert_uint_eq(rd8(0, 0x008), 0);
	ck_assert_uint_eq(rd8(0, 0x030), 0);
	ck_assert_uint_eq(rd8(0, TCONF(0) + 0x18), 0);
	wr8(0, GEN_CONF, 0xfffffffffffffffcULL);
	ck_assert_uint_eq(rd8(0, GEN_CONF), 0);
	wr8(0, GINTR_STA, UINT64_MAX);
	ck_assert_uint_eq(rd8(0, GINTR_STA), 0);
	/* Narrow reads return the register's bytes; narrow writes do
	 * nothing; misaligned and out-of-block accesses read 0. */
	ck_assert_uint_eq(rd(0, GCAP + 1, 1), 0xa2);
	ck_assert_uint_eq(rd(0, GCAP + 6, 2), 0x0098);
	wr(0, GEN_CONF, 1, ENABLE);
	wr(0, GEN_CONF, 2, ENABLE);
	ck_assert_uint_eq(rd8(0, GEN_CONF), 0);
	ck_assert_uint_eq(rd(0, GCAP + 4, 8), 0);
	ck_assert_uint_eq(rd(0, GCAP + 2, 4), 0);
	ck_assert_uint_eq(rd(0, GCAP, 3), 0);
	wr(0, GEN_CONF + 4, 8, ENABLE);
	ck_assert_uint_eq(rd8(0, GEN_CONF), 0);
	ck_assert_uint_eq(rd8(0, 0x400), 0);
	wr8(0, 0x400, UINT64_MAX);
	wr8(0, UINT64_MAX - 7, UINT64_MAX);
	ck_assert_uint_eq(rd8(0, UINT64_MAX - 7), 0);
	ck_assert_uint_eq(rd(0, GCAP, 16), 0);
	wr(0, GEN_CONF, 16, ENABLE);
	ck_assert_uint_eq(rd8(0, GEN_CONF), 0);
	teardown();
}
END_TEST

START_TEST(test_nonsense_qemu)
{
	setup("profile=qemu");
	/* QEMU's mask 0x7f4e; the route is not checked and drives its pin. */
	wr4(0, TCONF(0), 0xffffffff);
	ck_assert_uint_eq(rd4x2(0, TCONF(0)), 0x0000000400007f7eULL);
	wr4(0, TCONF(0), 0);
	wr4(0, TCONF(2), INT_ENB | ROUTE(31));
	oneshot_cmp(0, 2, 100);
	wr4(0, GEN_CONF, 0xffffffff);
	ck_assert_uint_eq(rd(0, GEN_CONF, 4), 3);
	run(1000);
	ck_assert_uint_eq(raise_at(IO, 31, 0), 1000);
	wr4(1000, GINTR_STA + 4, 0xffffffff);
	ck_assert_uint_eq(rd(1000, GINTR_STA + 4, 4), 0);
	/* 32-bit mode does not stop a high-half comparator write in the
	 * QEMU version modelled; the next Tn_CONF write truncates again. */
	wr4(1000, TCONF(1), MODE32);
	wr4(1000, TCMP(1) + 4, 5);
	ck_assert_uint_eq(rd(1000, TCMP(1) + 4, 4), 5);
	wr4(1000, TCONF(1), MODE32);
	ck_assert_uint_eq(rd(1000, TCMP(1) + 4, 4), 0);
	teardown();

	/* The datasheet ignores it ([HW] 2.4.7: the upper half is 0). */
	setup("");
	wr8(0, TCONF(1), MODE32);
	wr(0, TCMP(1) + 4, 4, 5);
	ck_assert_uint_eq(rd8(0, TCMP(1)), 0xffffffff);
	teardown();
}
END_TEST

/* ---- hostile checkpoints ---- */

/* Loads a copy of the current state that edit() spoiled; expects the
 * error to name what. */
static void expect_rejected(void (*edit)(struct dm_hpet *s), const char *what)
{
	size_t n = dm_state_encoded_size(&dm_hpet_state_desc);
	uint8_t *buf = malloc(n);
	struct dm_hpet *bad = malloc(sizeof(*bad));
	struct dm_error err = {{0}};
	uint8_t *before = malloc(n);

	ck_assert_ptr_nonnull(buf);
	ck_assert_ptr_nonnull(bad);
	ck_assert_ptr_nonnull(before);
	memcpy(bad, H(), sizeof(*bad));
	edit(bad);
	dm_state_encode(&dm_hpet_state_desc, bad, buf, n);
	dm_state_encode(&dm_hpet_state_desc, H(), before, n);
	ck_assert_int_eq(dm_state_load(&dm_hpet_state_desc, H(), buf, n, &err),
			 -1);
	ck_assert_msg(strstr(err.msg, what), "'%s' does not name %s", err.msg,
		      what);
	/* The live state is untouched. */
	dm_state_encode(&dm_hpet_state_desc, H(), buf, n);
	ck_assert_mem_eq(buf, before, n);
	free(before);
	free(bad);
	free(buf);
}

static void bad_gen_conf(struct dm_hpet *s)
{
	s->gen_conf = 4;
}

static void bad_conf_bits(struct dm_hpet *s)
{
	s->timer[1].conf = 0x0001;
}

static void bad_route(struct dm_hpet *s)
{
	s->timer[1].conf = (uint16_t)ROUTE(5);
}

static void bad_isr(struct dm_hpet *s)
{
	s->isr = 0x2; /* timer 1 is an edge timer */
}

static void bad_match(struct dm_hpet *s)
{
	s->timer[0].match_k += 1;
}

static void bad_event(struct dm_hpet *s)
{
	s->timer[0].event.when += 3;
}

static void bad_absent(struct dm_hpet *s)
{
	s->timer[7].inc = 1;
}

static void bad_wrap(struct dm_hpet *s)
{
	s->timer[0].wrap_next = true;
}

static void bad_cmp32(struct dm_hpet *s)
{
	s->timer[2].cmp = 0x100000000ULL;
}

static void bad_halted(struct dm_hpet *s)
{
	s->gen_conf = 0;
}

START_TEST(test_hostile_checkpoints)
{
	setup("");
	wr8(0, TCONF(0), PERIODIC | INT_ENB | VAL_SET | ROUTE(2));
	wr8(0, TCMP(0), 100);
	wr8(0, TCONF(2), MODE32 | ROUTE(2));
	wr8(0, GEN_CONF, ENABLE);
	run(1500);
	expect_rejected(bad_gen_conf, "gen_conf");
	expect_rejected(bad_conf_bits, "timer1: conf");
	expect_rejected(bad_route, "timer1: conf: route 5");
	expect_rejected(bad_isr, "isr");
	expect_rejected(bad_match, "timer0.match_k");
	expect_rejected(bad_event, "timer0.event");
	expect_rejected(bad_absent, "timer7");
	expect_rejected(bad_wrap, "timer0: wrap_next");
	expect_rejected(bad_cmp32, "timer2: cmp");
	expect_rejected(bad_halted, "timer0.match_k");
	/* And the model goes on as before. */
	run(2000);
	ck_assert_uint_eq(raises(IO, 2, 0, NEVER), 2);
	teardown();
}
END_TEST

START_TEST(test_decode_without_config)
{
	struct dm_hpet *scratch = calloc(1, sizeof(*scratch));
	size_t n = dm_state_encoded_size(&dm_hpet_state_desc);
	uint8_t *buf = malloc(n);
	struct dm_error err = {{0}};

	ck_assert_ptr_nonnull(scratch);
	ck_assert_ptr_nonnull(buf);
	setup("");
	wr8(0, TCONF(0), PERIODIC | INT_ENB | VAL_SET | ROUTE(2));
	wr8(0, TCMP(0), 100);
	wr8(0, GEN_CONF, ENABLE);
	run(1500);
	dm_state_encode(&dm_hpet_state_desc, H(), buf, n);
	ck_assert_msg(dm_state_decode(&dm_hpet_state_desc, scratch, buf, n,
				      &err) == 0,
		      "%s", err.msg);
	ck_assert_uint_eq(scratch->timer[0].cmp, H()->timer[0].cmp);
	ck_assert_uint_eq(scratch->timer[0].event.when, 2000);
	teardown();
	free(buf);
	free(scratch);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("hpet");
	TCase *regs = tcase_create("registers");
	TCase *cnt = tcase_create("counter");
	TCase *cmp = tcase_create("comparators");
	TCase *irq = tcase_create("interrupts");
	TCase *qm = tcase_create("qemu");
	TCase *bad = tcase_create("nonsense");

	tcase_add_loop_test(regs, test_gcap_100mhz, 0, 2);
	tcase_add_loop_test(regs, test_gcap_ich_rate_and_timers, 0, 2);
	tcase_add_test(regs, test_reset_values);
	tcase_add_loop_test(cnt, test_counter_advances, 0, 2);
	tcase_add_loop_test(cnt, test_counter_ich_rate, 0, 2);
	tcase_add_loop_test(cnt, test_counter_writes_halted, 0, 2);
	tcase_add_test(cnt, test_counter_write_running_datasheet);
	tcase_add_test(cnt, test_counter_write_running_qemu);
	tcase_add_loop_test(cnt, test_counter_halves_restore, 0, 2);
	tcase_add_loop_test(cmp, test_oneshot64, 0, 2);
	tcase_add_test(cmp, test_oneshot32_wrap_datasheet);
	tcase_add_test(cmp, test_oneshot32_wrap_qemu);
	tcase_add_test(cmp, test_past_comparator);
	tcase_add_loop_test(cmp, test_periodic_valset, 0, 2);
	tcase_add_test(cmp, test_periodic_valset_halves);
	tcase_add_loop_test(cmp, test_periodic_restore_ich_rate, 0, 2);
	tcase_add_loop_test(cmp, test_periodic_catch_up, 0, 2);
	tcase_add_loop_test(cmp, test_periodic_increment_mask, 0, 2);
	tcase_add_loop_test(cmp, test_periodic_zero_increment, 0, 2);
	tcase_add_loop_test(cmp, test_masked_periodic_costs_nothing, 0, 2);
	tcase_add_loop_test(irq, test_level_w1c, 0, 2);
	tcase_add_loop_test(irq, test_int_enb_zero, 0, 2);
	tcase_add_loop_test(irq, test_halt_and_resume, 0, 2);
	tcase_add_loop_test(irq, test_edge_to_level_switch, 0, 2);
	tcase_add_loop_test(irq, test_legacy_replacement, 0, 2);
	tcase_add_test(irq, test_shared_pin);
	tcase_add_test(irq, test_fsb);
	tcase_add_test(irq, test_fsb_capability);
	tcase_add_loop_test(irq, test_fsb_switch_clears_level, 0, 2);
	tcase_add_test(irq, test_32_timers);
	tcase_add_test(irq, test_route_outside_capability);
	tcase_add_test(qm, test_qemu_enable_rearms);
	tcase_add_test(qm, test_qemu_accesses);
	tcase_add_test(qm, test_qemu_timer_past_the_last);
	tcase_add_loop_test(qm, test_live_bytes, 0, 2);
	tcase_add_test(bad, test_nonsense_datasheet);
	tcase_add_test(bad, test_nonsense_qemu);
	tcase_add_test(bad, test_hostile_checkpoints);
	tcase_add_test(bad, test_decode_without_config);
	suite_add_tcase(s, regs);
	suite_add_tcase(s, cnt);
	suite_add_tcase(s, cmp);
	suite_add_tcase(s, irq);
	suite_add_tcase(s, qm);
	suite_add_tcase(s, bad);
	return s;
}

int main(void)
{
	return dm_test_main(suite());
}
