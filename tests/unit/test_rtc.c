// SPDX-License-Identifier: MIT
/*
 * MC146818A RTC against its datasheet (datasheet flavour) and against
 * QEMU hw/rtc/mc146818rtc.c (qemu flavour).
 *
 * The default machine starts at 2000-01-01 00:00:00 (a Saturday) with
 * Register A 0x26 and B 0x02 (24-hour BCD).  The divider runs from t = 0,
 * so update n begins at n s: UIP rises tBUC = 244 us before it and the
 * update ends tUC = 1984 us after it, when the time bytes change and UF
 * sets.  Periodic tap k of an f Hz rate first shows at ceil(k * 1e9 / f).
 * Multi-step sequences go through a checkpoint (encode, load into a fresh
 * RTC) in the middle and must then continue unchanged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/rtc.h"
#include "testutil.h"

#define NS 1000000000ULL
#define MS 1000000ULL
#define US 1000ULL
#define T_BUC (244 * US)
#define T_UC (1984 * US)
/* End of update n with the 32.768 kHz base and the divider at phase 0. */
#define UPD(n) ((n)*NS + T_UC)

/* ceil(k * 1e9 / hz): when tap k of an hz rate first shows. */
static uint64_t tap(uint64_t k, uint64_t hz)
{
	return (k * NS + hz - 1) / hz;
}

struct fx {
	struct dm_eventq q;
	struct dm_rtc rtc;
	struct dm_config cfg;
	struct dm_test_line irq;
};

static struct fx *fx_new(const char *opts)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct dm_irq_line line;

	ck_assert_ptr_nonnull(f);
	f->irq.pin = 8;
	line = dm_test_line_wire(&f->irq);
	dm_test_config(&f->cfg, opts);
	dm_eventq_init(&f->q);
	dm_rtc_init(&f->rtc, &f->cfg, &f->q, &line);
	return f;
}

static void fx_free(struct fx *f)
{
	dm_eventq_destroy(&f->q);
	free(f);
}

static struct fx *migrate(struct fx *f)
{
	char opts[2048];
	struct fx *g;

	dm_config_format(&f->cfg, opts, sizeof(opts));
	g = fx_new(opts);
	dm_test_roundtrip(&dm_rtc_state_desc, &f->rtc, &g->rtc);
	g->irq = f->irq;
	fx_free(f);
	return g;
}

static void at(struct fx *f, uint64_t now)
{
	dm_eventq_run_until(&f->q, now);
}

static void outb(struct fx *f, uint64_t now, unsigned port, uint8_t v)
{
	at(f, now);
	dm_rtc_write(&f->rtc, now, port - 0x70, 1, v);
}

static uint8_t inb(struct fx *f, uint64_t now, unsigned port)
{
	at(f, now);
	return (uint8_t)dm_rtc_read(&f->rtc, now, port - 0x70, 1);
}

static uint8_t rd(struct fx *f, uint64_t now, uint8_t idx)
{
	outb(f, now, 0x70, idx);
	return inb(f, now, 0x71);
}

static void wr(struct fx *f, uint64_t now, uint8_t idx, uint8_t v)
{
	outb(f, now, 0x70, idx);
	outb(f, now, 0x71, v);
}

static bool uip(struct fx *f, uint64_t now)
{
	return rd(f, now, 0x0a) & 0x80;
}

/* Time bytes in register order: sec, min, hour, dow, date, month, year. */
static const uint8_t time_idx[7] = {0, 2, 4, 6, 7, 8, 9};

/* Sets the clock under SET, leaving Register B = b afterwards. */
static void set_clock(struct fx *f, uint64_t now, uint8_t b, const uint8_t v[7])
{
	wr(f, now, 0x0b, 0x80 | b);
	for (int i = 0; i < 7; i++)
		wr(f, now, time_idx[i], v[i]);
	wr(f, now, 0x0b, b);
}

static void expect_clock(struct fx *f, uint64_t now, const uint8_t v[7])
{
	for (int i = 0; i < 7; i++) {
		uint8_t got = rd(f, now, time_idx[i]);

		ck_assert_msg(got == v[i],
			      "t=%llu byte 0x%02x: got 0x%02x, want 0x%02x",
			      (unsigned long long)now, time_idx[i], got, v[i]);
	}
}

/* ---- power-on state ---------------------------------------------------- */

START_TEST(power_on_registers)
{
	struct fx *f = fx_new("");
	const uint8_t t0[7] = {0x00, 0x00, 0x00, 0x07, 0x01, 0x01, 0x00};

	ck_assert_uint_eq(rd(f, 0, 0x0a), 0x26);
	ck_assert_uint_eq(rd(f, 0, 0x0b), 0x02);
	ck_assert_uint_eq(rd(f, 0, 0x0c), 0x00);
	ck_assert_uint_eq(rd(f, 0, 0x0d), 0x80); /* VRT */
	expect_clock(f, 0, t0);
	ck_assert_uint_eq(rd(f, 0, 0x32), 0x20); /* century */
	/* Registers C and D are read-only. */
	wr(f, 0, 0x0c, 0xff);
	wr(f, 0, 0x0d, 0x00);
	ck_assert_uint_eq(rd(f, 0, 0x0c), 0x00);
	ck_assert_uint_eq(rd(f, 0, 0x0d), 0x80);
	fx_free(f);
}
END_TEST

START_TEST(epoch_option)
{
	/* 2024-02-29 13:14:15 UTC, a Thursday. */
	struct fx *f = fx_new("rtc_epoch=1709212455");
	const uint8_t t0[7] = {0x15, 0x14, 0x13, 0x05, 0x29, 0x02, 0x24};

	expect_clock(f, 0, t0);
	fx_free(f);
}
END_TEST

/* The RTC's second began before virtual time 0: 0.75 s past 13:14:15,
 * the seconds change at 0.25 s, 1.25 s, ...; the update-in-progress window
 * (lead ns long) moves with them, and a checkpoint keeps it. */
static void epoch_ns_case(const char *flavour, uint64_t lead)
{
	char opts[96];
	struct fx *f;

	snprintf(opts, sizeof(opts),
		 "rtc=%s rtc_epoch=1709212455 rtc_epoch_ns=750000000", flavour);
	f = fx_new(opts);
	ck_assert_uint_eq(rd(f, 0, 0x00), 0x15);
	ck_assert(!uip(f, NS / 4 - lead - 1));
	ck_assert_uint_eq(rd(f, NS / 4 - lead - 1, 0x00), 0x15);
	ck_assert(uip(f, NS / 4 - lead));
	f = migrate(f);
	ck_assert_uint_eq(rd(f, NS / 4 + NS / 100, 0x00), 0x16);
	ck_assert_uint_eq(rd(f, NS + NS / 4 + NS / 100, 0x00), 0x17);
	ck_assert_uint_eq(rd(f, 59 * NS, 0x00), 0x14);
	ck_assert_uint_eq(rd(f, 59 * NS, 0x02), 0x15);
	fx_free(f);
}

START_TEST(epoch_ns_option)
{
	epoch_ns_case("datasheet", T_BUC);
	epoch_ns_case("qemu", 244140);
}
END_TEST

/* ---- update cycle ------------------------------------------------------ */

START_TEST(uip_window_edges_at_the_ns)
{
	struct fx *f = fx_new("");

	ck_assert(!uip(f, NS - T_BUC - 1));
	ck_assert(uip(f, NS - T_BUC));
	f = migrate(f); /* inside the window, before the update */
	ck_assert(uip(f, NS - 1));
	ck_assert(uip(f, NS));
	f = migrate(f); /* inside the update */
	ck_assert(uip(f, UPD(1) - 1));
	ck_assert_uint_eq(rd(f, UPD(1) - 1, 0x00), 0x00);
	ck_assert(!uip(f, UPD(1)));
	ck_assert_uint_eq(rd(f, UPD(1), 0x00), 0x01);
	/* Every second the same. */
	ck_assert(!uip(f, 2 * NS - T_BUC - 1));
	ck_assert(uip(f, 2 * NS - T_BUC));
	ck_assert(uip(f, UPD(2) - 1));
	ck_assert(!uip(f, UPD(2)));
	ck_assert_uint_eq(rd(f, UPD(59), 0x00), 0x59);
	ck_assert_uint_eq(rd(f, UPD(60), 0x00), 0x00);
	ck_assert_uint_eq(rd(f, UPD(60), 0x02), 0x01);
	fx_free(f);
}
END_TEST

START_TEST(mhz_time_base_has_short_update)
{
	struct fx *f = fx_new("");

	wr(f, 0, 0x0a, 0x06); /* DV 000: 4.194304 MHz, tUC = 248 us */
	ck_assert(uip(f, NS - T_BUC));
	ck_assert_uint_eq(rd(f, NS + 248 * US - 1, 0x00), 0x00);
	ck_assert(uip(f, NS + 248 * US - 1));
	ck_assert_uint_eq(rd(f, NS + 248 * US, 0x00), 0x01);
	ck_assert(!uip(f, NS + 248 * US));
	fx_free(f);
}
END_TEST

START_TEST(update_ended_interrupt_once_per_second)
{
	struct fx *f = fx_new("");

	wr(f, 0, 0x0a, 0x20); /* RS 0: no periodic flag in the way */
	/* UF sets with UIE clear, without IRQF. */
	ck_assert_uint_eq(rd(f, UPD(1), 0x0c), 0x10);
	ck_assert_uint_eq(rd(f, UPD(1), 0x0c), 0x00);
	wr(f, UPD(1) + 1, 0x0b, 0x12); /* UIE */
	ck_assert_uint_eq(f->irq.rises, 0);
	for (uint64_t n = 2; n <= 6; n++) {
		at(f, UPD(n) - 1);
		ck_assert_int_eq(f->irq.level, 0);
		at(f, UPD(n));
		ck_assert_int_eq(f->irq.level, 1);
		ck_assert_uint_eq(f->irq.last_rise, UPD(n));
		if (n == 4)
			f = migrate(f);
		/* Reading C returns IRQF | UF and lowers IRQ8. */
		ck_assert_uint_eq(rd(f, UPD(n) + 10 * MS, 0x0c), 0x90);
		ck_assert_int_eq(f->irq.level, 0);
		ck_assert_uint_eq(rd(f, UPD(n) + 10 * MS, 0x0c), 0x00);
	}
	ck_assert_uint_eq(f->irq.rises, 5);
	/* Unread, the line stays high: one rise for many updates. */
	at(f, UPD(20));
	ck_assert_uint_eq(f->irq.rises, 6);
	ck_assert_uint_eq(rd(f, UPD(20), 0x0c), 0x90);
	fx_free(f);
}
END_TEST

START_TEST(enabling_with_flag_set_raises_at_once)
{
	struct fx *f = fx_new("");

	wr(f, 0, 0x0a, 0x20);
	at(f, UPD(1) + 5);
	ck_assert_int_eq(f->irq.level, 0);
	wr(f, UPD(1) + 5, 0x0b, 0x12); /* UF is already set */
	ck_assert_int_eq(f->irq.level, 1);
	ck_assert_uint_eq(f->irq.last_rise, UPD(1) + 5);
	wr(f, UPD(1) + 6, 0x0b, 0x02); /* and disabling drops it */
	ck_assert_int_eq(f->irq.level, 0);
	ck_assert_uint_eq(rd(f, UPD(1) + 7, 0x0c), 0x10);
	fx_free(f);
}
END_TEST

/* ---- periodic interrupt ------------------------------------------------ */

/* MC146818A table 3, 32.768 kHz time base: RS -> Hz. */
static const uint64_t rs_hz[16] = {
	0, 256, 128, 8192, 4096, 2048, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2,
};

START_TEST(periodic_rate_for_each_rs)
{
	unsigned rs = (unsigned)_i;
	struct fx *f = fx_new("");
	uint64_t hz = rs_hz[rs];

	wr(f, 0, 0x0a, (uint8_t)(0x20 | rs));
	wr(f, 0, 0x0b, 0x42); /* PIE */
	for (uint64_t k = 1; k <= 3; k++) {
		at(f, tap(k, hz) - 1);
		ck_assert_int_eq(f->irq.level, 0);
		at(f, tap(k, hz));
		ck_assert_msg(f->irq.level == 1, "RS %u tap %llu", rs,
			      (unsigned long long)k);
		ck_assert_uint_eq(f->irq.last_rise, tap(k, hz));
		if (k == 2)
			f = migrate(f);
		ck_assert_uint_eq(rd(f, tap(k, hz), 0x0c) & 0xc0, 0xc0);
	}
	fx_free(f);
}
END_TEST

START_TEST(periodic_sets_pf_without_pie)
{
	struct fx *f = fx_new("");

	/* RS 6: 1024 Hz, first tap at 976562.5 ns. */
	ck_assert_uint_eq(rd(f, 976562, 0x0c), 0x00);
	ck_assert_uint_eq(rd(f, 976563, 0x0c), 0x40);
	ck_assert_int_eq(f->irq.rises, 0);
	/* Enabling PIE later: the divider ran on, so the next interrupt is
	 * at the next tap, not a full period after the write. */
	wr(f, 1200 * US, 0x0b, 0x42);
	at(f, tap(2, 1024));
	ck_assert_uint_eq(f->irq.last_rise, tap(2, 1024));
	fx_free(f);
}
END_TEST

START_TEST(periodic_mhz_base_rs1_rs2)
{
	struct fx *f = fx_new("");

	wr(f, 0, 0x0a, 0x01); /* DV 000, RS 1: 32768 Hz */
	wr(f, 0, 0x0b, 0x42);
	at(f, tap(1, 32768));
	ck_assert_uint_eq(f->irq.last_rise, 30518);
	rd(f, 40000, 0x0c);
	wr(f, 40000, 0x0a, 0x12); /* DV 001, RS 2: 16384 Hz */
	at(f, tap(1, 16384) - 1);
	ck_assert_int_eq(f->irq.level, 0);
	at(f, tap(1, 16384));
	ck_assert_int_eq(f->irq.level, 1);
	fx_free(f);
}
END_TEST

START_TEST(periodic_continues_across_restore_at_same_ns)
{
	struct fx *f = fx_new("");

	wr(f, 0, 0x0a, 0x23); /* 8192 Hz */
	wr(f, 0, 0x0b, 0x42);
	for (uint64_t k = 1; k <= 40; k++) {
		at(f, tap(k, 8192));
		ck_assert_uint_eq(f->irq.last_rise, tap(k, 8192));
		if (k % 10 == 5) {
			at(f, tap(k, 8192) + 7);
			f = migrate(f);
		}
		rd(f, tap(k, 8192) + 20, 0x0c);
	}
	ck_assert_uint_eq(f->irq.rises, 40);
	fx_free(f);
}
END_TEST

/* ---- alarm ------------------------------------------------------------- */

START_TEST(alarm_exact_time)
{
	struct fx *f = fx_new("");

	wr(f, 0, 0x0a, 0x20);
	wr(f, 0, 0x01, 0x05);
	wr(f, 0, 0x03, 0x00);
	wr(f, 0, 0x05, 0x00);
	wr(f, 0, 0x0b, 0x22); /* AIE */
	at(f, UPD(4));
	f = migrate(f);
	at(f, UPD(5) - 1);
	ck_assert_int_eq(f->irq.level, 0);
	at(f, UPD(5));
	ck_assert_int_eq(f->irq.level, 1);
	ck_assert_uint_eq(f->irq.last_rise, UPD(5));
	ck_assert_uint_eq(rd(f, UPD(5), 0x0c), 0xb0); /* IRQF AF UF */
	/* Next match is a day later. */
	at(f, UPD(86400 + 4));
	ck_assert_int_eq(f->irq.level, 0);
	at(f, UPD(86400 + 5));
	ck_assert_int_eq(f->irq.level, 1);
	fx_free(f);
}
END_TEST

START_TEST(alarm_dont_care_bytes)
{
	struct fx *f = fx_new("");

	/* xx:xx:30: once a minute. */
	wr(f, 0, 0x01, 0x30);
	wr(f, 0, 0x03, 0xc0);
	wr(f, 0, 0x05, 0xff);
	wr(f, 0, 0x0b, 0x22);
	at(f, UPD(30));
	ck_assert_uint_eq(f->irq.last_rise, UPD(30));
	rd(f, UPD(30), 0x0c);
	f = migrate(f);
	at(f, UPD(90) - 1);
	ck_assert_int_eq(f->irq.level, 0);
	at(f, UPD(90));
	ck_assert_uint_eq(f->irq.last_rise, UPD(90));
	rd(f, UPD(90), 0x0c);
	/* xx:02:00: once an hour. */
	wr(f, UPD(90), 0x01, 0x00);
	wr(f, UPD(90), 0x03, 0x02);
	at(f, UPD(120));
	ck_assert_uint_eq(f->irq.last_rise, UPD(120));
	rd(f, UPD(120), 0x0c);
	at(f, UPD(3600 + 120) - 1);
	ck_assert_int_eq(f->irq.level, 0);
	at(f, UPD(3600 + 120));
	ck_assert_int_eq(f->irq.level, 1);
	rd(f, UPD(3600 + 120), 0x0c);
	/* All three don't care: every second. */
	wr(f, UPD(3600 + 120), 0x01, 0xc0);
	wr(f, UPD(3600 + 120), 0x03, 0xc0);
	at(f, UPD(3600 + 121));
	ck_assert_uint_eq(f->irq.last_rise, UPD(3600 + 121));
	fx_free(f);
}
END_TEST

START_TEST(alarm_sets_af_without_aie_and_bad_bytes_never_match)
{
	struct fx *f = fx_new("");

	wr(f, 0, 0x0a, 0x20);
	wr(f, 0, 0x01, 0x02);
	wr(f, 0, 0x03, 0xc0);
	wr(f, 0, 0x05, 0xc0);
	ck_assert_uint_eq(rd(f, UPD(1), 0x0c), 0x10);
	ck_assert_uint_eq(rd(f, UPD(2), 0x0c), 0x30); /* AF and UF */
	/* 0x60 is not BCD seconds: never matches. */
	wr(f, UPD(2), 0x01, 0x60);
	wr(f, UPD(2), 0x0b, 0x22);
	at(f, UPD(200));
	ck_assert_uint_eq(rd(f, UPD(200), 0x0c) & 0x20, 0);
	ck_assert_uint_eq(dm_eventq_next(&f->q), DM_TIME_NEVER);
	fx_free(f);
}
END_TEST

START_TEST(alarm_12_hour_pm)
{
	struct fx *f = fx_new("");
	/* 1:59:58 PM in 12-hour BCD. */
	const uint8_t v[7] = {0x58, 0x59, 0x81, 0x07, 0x01, 0x01, 0x00};

	set_clock(f, NS / 2, 0x20, v); /* AIE, 12-hour, BCD */
	wr(f, NS / 2, 0x01, 0x00);
	wr(f, NS / 2, 0x03, 0x00);
	wr(f, NS / 2, 0x05, 0x82); /* 2 PM */
	at(f, UPD(2));
	ck_assert_uint_eq(f->irq.last_rise, UPD(2));
	ck_assert_uint_eq(rd(f, UPD(2), 0x04), 0x82);
	fx_free(f);
}
END_TEST

/* ---- SET and the divider ----------------------------------------------- */

START_TEST(set_stops_updates_and_restarts)
{
	struct fx *f = fx_new("");
	const uint8_t frozen[7] = {0x02, 0x00, 0x00, 0x07, 0x01, 0x01, 0x00};
	const uint8_t after[7] = {0x57, 0x34, 0x12, 0x02, 0x15, 0x06, 0x09};

	wr(f, 0, 0x0b, 0x12);	      /* UIE */
	wr(f, 2500 * MS, 0x0b, 0x92); /* SET: UIE is cleared */
	ck_assert_uint_eq(rd(f, 2500 * MS, 0x0b), 0x82);
	rd(f, 2500 * MS, 0x0c);
	ck_assert(!uip(f, 3 * NS - T_BUC));
	ck_assert(!uip(f, 3 * NS + 1));
	expect_clock(f, 10 * NS, frozen);
	/* SET stops updates (no UF) but not the divider (PF at 1024 Hz). */
	ck_assert_uint_eq(rd(f, 10 * NS, 0x0c), 0x40);
	/* Write 2009-06-15 (Monday) 12:34:56 while SET. */
	wr(f, 10 * NS, 0x00, 0x56);
	wr(f, 10 * NS, 0x02, 0x34);
	f = migrate(f);
	wr(f, 10 * NS, 0x04, 0x12);
	wr(f, 10 * NS, 0x06, 0x02);
	wr(f, 10 * NS, 0x07, 0x15);
	wr(f, 10 * NS, 0x08, 0x06);
	wr(f, 10 * NS, 0x09, 0x09);
	wr(f, 10300 * MS, 0x0b, 0x02);
	/* The divider kept running: updates stay on whole seconds. */
	ck_assert(!uip(f, 11 * NS - T_BUC - 1));
	ck_assert(uip(f, 11 * NS - T_BUC));
	ck_assert_uint_eq(rd(f, UPD(11) - 1, 0x00), 0x56);
	expect_clock(f, UPD(11), after);
	fx_free(f);
}
END_TEST

START_TEST(set_cleared_inside_uip_lead_skips_that_update)
{
	struct fx *f = fx_new("");

	wr(f, 500 * MS, 0x0b, 0x82);
	wr(f, 500 * MS, 0x00, 0x10);
	/* Cleared 100 us before the boundary at 2 s: UIP reads 0 and, as
	 * promised, no update starts within 244 us. */
	wr(f, 2 * NS - 100 * US, 0x0b, 0x02);
	ck_assert(!uip(f, 2 * NS - 100 * US));
	ck_assert(!uip(f, 2 * NS + 10 * US));
	ck_assert_uint_eq(rd(f, UPD(2), 0x00), 0x10);
	ck_assert(uip(f, 3 * NS - T_BUC));
	ck_assert_uint_eq(rd(f, UPD(3), 0x00), 0x11);
	fx_free(f);
}
END_TEST

START_TEST(divider_reset_and_first_update_500ms_after)
{
	struct fx *f = fx_new("");

	wr(f, 0, 0x0b, 0x42);	      /* PIE, 1024 Hz */
	wr(f, 3200 * MS, 0x0a, 0x66); /* DV 110: divider held */
	rd(f, 3200 * MS, 0x0c);
	ck_assert_int_eq(f->irq.level, 0);
	at(f, 5 * NS);
	ck_assert_int_eq(f->irq.level, 0); /* no periodic taps */
	ck_assert(!uip(f, 4 * NS - 1));
	ck_assert_uint_eq(rd(f, 5 * NS, 0x00), 0x03); /* frozen */
	ck_assert_uint_eq(rd(f, 5 * NS, 0x0c), 0x00);
	wr(f, 5 * NS, 0x0a, 0x26); /* release */
	f = migrate(f);
	/* The divider restarts at its half-second point: 1024 Hz taps
	 * continue 32 divider ticks later ... */
	at(f, 5 * NS + tap(1, 1024) - 1);
	ck_assert_int_eq(f->irq.level, 0);
	at(f, 5 * NS + tap(1, 1024));
	ck_assert_int_eq(f->irq.level, 1);
	wr(f, 5 * NS + tap(1, 1024), 0x0b, 0x02);
	/* ... and the first update begins 500 ms after the release. */
	ck_assert(!uip(f, 5500 * MS - T_BUC - 1));
	ck_assert(uip(f, 5500 * MS - T_BUC));
	f = migrate(f);
	ck_assert_uint_eq(rd(f, 5500 * MS + T_UC - 1, 0x00), 0x03);
	ck_assert_uint_eq(rd(f, 5500 * MS + T_UC, 0x00), 0x04);
	ck_assert_uint_eq(rd(f, 6500 * MS + T_UC, 0x00), 0x05);
	/* Test-mode DV values hold the divider as well. */
	wr(f, 7 * NS, 0x0a, 0x46);
	ck_assert_uint_eq(rd(f, 9 * NS, 0x00), 0x05);
	fx_free(f);
}
END_TEST

/* ---- calendar ---------------------------------------------------------- */

struct cal_case {
	uint8_t b;	 /* Register B mode bits */
	uint8_t from[7]; /* one second before */
	uint8_t to[7];	 /* after one update */
};

static const struct cal_case cal_cases[] = {
	/* BCD 24 h: midnight, month ends, leap years, year 99 -> 00. */
	{0x02,
	 {0x59, 0x59, 0x23, 0x07, 0x31, 0x01, 0x00},
	 {0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0x00}},
	{0x02,
	 {0x59, 0x59, 0x23, 0x02, 0x30, 0x04, 0x01},
	 {0x00, 0x00, 0x00, 0x03, 0x01, 0x05, 0x01}},
	{0x02,
	 {0x59, 0x59, 0x23, 0x05, 0x28, 0x02, 0x24},
	 {0x00, 0x00, 0x00, 0x06, 0x29, 0x02, 0x24}},
	{0x02,
	 {0x59, 0x59, 0x23, 0x06, 0x29, 0x02, 0x24},
	 {0x00, 0x00, 0x00, 0x07, 0x01, 0x03, 0x24}},
	{0x02,
	 {0x59, 0x59, 0x23, 0x03, 0x28, 0x02, 0x23},
	 {0x00, 0x00, 0x00, 0x04, 0x01, 0x03, 0x23}},
	{0x02,
	 {0x59, 0x59, 0x23, 0x02, 0x28, 0x02, 0x00},
	 {0x00, 0x00, 0x00, 0x03, 0x29, 0x02, 0x00}},
	{0x02,
	 {0x59, 0x59, 0x23, 0x05, 0x31, 0x12, 0x99},
	 {0x00, 0x00, 0x00, 0x06, 0x01, 0x01, 0x00}},
	{0x02,
	 {0x59, 0x59, 0x23, 0x04, 0x30, 0x09, 0x21},
	 {0x00, 0x00, 0x00, 0x05, 0x01, 0x10, 0x21}},
	/* BCD 12 h: 11:59:59 PM -> 12:00:00 AM, 11:59:59 AM -> 12 PM,
	 * 12:59:59 PM -> 1 PM. */
	{0x00,
	 {0x59, 0x59, 0x91, 0x01, 0x31, 0x12, 0x20},
	 {0x00, 0x00, 0x12, 0x02, 0x01, 0x01, 0x21}},
	{0x00,
	 {0x59, 0x59, 0x11, 0x01, 0x05, 0x01, 0x20},
	 {0x00, 0x00, 0x92, 0x01, 0x05, 0x01, 0x20}},
	{0x00,
	 {0x59, 0x59, 0x92, 0x01, 0x05, 0x01, 0x20},
	 {0x00, 0x00, 0x81, 0x01, 0x05, 0x01, 0x20}},
	{0x00,
	 {0x59, 0x59, 0x12, 0x01, 0x05, 0x01, 0x20},
	 {0x00, 0x00, 0x01, 0x01, 0x05, 0x01, 0x20}},
	/* Binary 24 h and 12 h. */
	{0x06, {59, 59, 23, 7, 31, 12, 99}, {0, 0, 0, 1, 1, 1, 0}},
	{0x06, {59, 59, 23, 5, 28, 2, 8}, {0, 0, 0, 6, 29, 2, 8}},
	{0x04, {59, 59, 0x8b, 3, 1, 3, 5}, {0, 0, 12, 4, 2, 3, 5}},
	{0x04, {59, 59, 11, 3, 1, 3, 5}, {0, 0, 0x8c, 3, 1, 3, 5}},
};

START_TEST(calendar_rollovers)
{
	const struct cal_case *c = &cal_cases[_i];
	struct fx *f = fx_new("");

	set_clock(f, NS / 2, c->b, c->from);
	expect_clock(f, UPD(1) - 1, c->from);
	f = migrate(f);
	expect_clock(f, UPD(1), c->to);
	fx_free(f);
}
END_TEST

/* Undefined values get a defined reading: out-of-range bytes read back as
 * written until the next update, which carries them like a linear count;
 * a DM change reinterprets the bytes without converting them. */
START_TEST(out_of_range_bytes_carry_on_update)
{
	struct fx *f = fx_new("");

	wr(f, 0, 0x0b, 0x86); /* SET, binary, 24 h */
	wr(f, 0, 0x00, 75);
	wr(f, 0, 0x0b, 0x06);
	ck_assert_uint_eq(rd(f, UPD(1) - 1, 0x00), 75);
	ck_assert_uint_eq(rd(f, UPD(1), 0x00), 16); /* 0:01:15 + 1 s */
	ck_assert_uint_eq(rd(f, UPD(1), 0x02), 1);
	wr(f, 1500 * MS, 0x0b, 0x02); /* BCD: 16 (0x10) now reads 10 s */
	ck_assert_uint_eq(rd(f, 1500 * MS, 0x00), 0x10);
	wr(f, 1500 * MS, 0x00, 0x5a); /* BCD 5, 10: sixty seconds */
	f = migrate(f);
	ck_assert_uint_eq(rd(f, UPD(2) - 1, 0x00), 0x5a);
	ck_assert_uint_eq(rd(f, UPD(2), 0x00), 0x01);
	ck_assert_uint_eq(rd(f, UPD(2), 0x02), 0x02);
	fx_free(f);
}
END_TEST

START_TEST(long_jump_is_analytic)
{
	struct fx *f = fx_new("");
	/* 366 days after 2000-01-01 (leap): Monday 2001-01-01. */
	const uint8_t y1[7] = {0x00, 0x00, 0x00, 0x02, 0x01, 0x01, 0x01};
	/* 100 chip years (36525 days) later the chip shows 2000 again;
	 * the day-of-week counter advanced 36525 mod 7 = 6 days. */
	const uint8_t y100[7] = {0x00, 0x00, 0x00, 0x06, 0x01, 0x01, 0x00};

	expect_clock(f, UPD(366ULL * 86400), y1);
	f = migrate(f);
	expect_clock(f, UPD(36525ULL * 86400), y100);
	fx_free(f);
}
END_TEST

/*
 * DSE (MC146818A): last Sunday in April 1:59:59 -> 3:00:00, last Sunday in
 * October 1:59:59 -> 1:00:00 on the first pass only.  2000-04-30 and
 * 2000-10-29 were Sundays.
 */
START_TEST(daylight_saving_steps)
{
	struct fx *f = fx_new("");
	const uint8_t apr[7] = {0x59, 0x59, 0x01, 0x01, 0x30, 0x04, 0x00};
	const uint8_t oct[7] = {0x58, 0x59, 0x01, 0x01, 0x29, 0x10, 0x00};
	const uint8_t apr23[7] = {0x59, 0x59, 0x01, 0x01, 0x23, 0x04, 0x00};

	set_clock(f, NS / 2, 0x03, apr);
	ck_assert_uint_eq(rd(f, UPD(1), 0x04), 0x03);
	ck_assert_uint_eq(rd(f, UPD(1), 0x02), 0x00);
	set_clock(f, 1500 * MS, 0x03, oct);
	ck_assert_uint_eq(rd(f, UPD(2), 0x00), 0x59);
	ck_assert_uint_eq(rd(f, UPD(3), 0x04), 0x01); /* 1:00:00 again */
	ck_assert_uint_eq(rd(f, UPD(3), 0x02), 0x00);
	f = migrate(f);
	/* An hour later 1:59:59 passes normally. */
	ck_assert_uint_eq(rd(f, UPD(3 + 3599), 0x04), 0x01);
	ck_assert_uint_eq(rd(f, UPD(3 + 3600), 0x04), 0x02);
	ck_assert_uint_eq(rd(f, UPD(3 + 3600), 0x02), 0x00);
	/* A Sunday that is not the last one: no step. */
	set_clock(f, UPD(3 + 3600) + 1, 0x03, apr23);
	ck_assert_uint_eq(rd(f, UPD(3 + 3602), 0x04), 0x02);
	/* DSE off: no step on the last Sunday either. */
	set_clock(f, UPD(3 + 3602) + 1, 0x02, apr);
	ck_assert_uint_eq(rd(f, UPD(3 + 3604), 0x04), 0x02);
	fx_free(f);
}
END_TEST

START_TEST(daylight_saving_over_a_year_nets_zero)
{
	struct fx *f = fx_new("");
	const uint8_t y1[7] = {0x00, 0x00, 0x00, 0x02, 0x01, 0x01, 0x01};

	wr(f, 0, 0x0b, 0x03);
	/* Mid-year the clock is an hour ahead: 2000-07-01 00:00:00 shows
	 * at 23:00 standard time on June 30. */
	ck_assert_uint_eq(rd(f, UPD(182ULL * 86400 - 3600), 0x04), 0x00);
	ck_assert_uint_eq(rd(f, UPD(182ULL * 86400 - 3600), 0x07), 0x01);
	expect_clock(f, UPD(366ULL * 86400), y1);
	fx_free(f);
}
END_TEST

/* ---- ports ------------------------------------------------------------- */

START_TEST(nmi_mask_and_index_latch)
{
	struct fx *f = fx_new("");

	ck_assert(!dm_rtc_nmi_masked(&f->rtc));
	outb(f, 0, 0x70, 0x8e); /* NMI masked, index 0x0e */
	ck_assert(dm_rtc_nmi_masked(&f->rtc));
	ck_assert_uint_eq(inb(f, 0, 0x70), 0x8e);
	f = migrate(f); /* between the index write and its data access */
	outb(f, 0, 0x71, 0x5a);
	ck_assert(dm_rtc_nmi_masked(&f->rtc));
	ck_assert_uint_eq(rd(f, 0, 0x0e), 0x5a);
	ck_assert(!dm_rtc_nmi_masked(&f->rtc));
	/* A 16-bit write to 0x70 is index then data. */
	dm_rtc_write(&f->rtc, 0, 0, 2, 0xa50f);
	ck_assert_uint_eq(rd(f, 0, 0x0f), 0xa5);
	ck_assert_uint_eq(dm_rtc_read(&f->rtc, 0, 0, 2), 0xa50f);
	fx_free(f);
}
END_TEST

START_TEST(cmos_ram_both_banks)
{
	struct fx *f = fx_new("");

	for (unsigned i = 0x0e; i < 0x80; i++)
		wr(f, 0, (uint8_t)i, (uint8_t)(i ^ 0x5a));
	for (unsigned i = 0; i < 0x80; i++) {
		outb(f, 0, 0x72, (uint8_t)i);
		outb(f, 0, 0x73, (uint8_t)(i ^ 0xc3));
	}
	f = migrate(f);
	for (unsigned i = 0x0e; i < 0x80; i++)
		ck_assert_uint_eq(rd(f, 0, (uint8_t)i), i ^ 0x5a);
	for (unsigned i = 0; i < 0x80; i++) {
		outb(f, 0, 0x72, (uint8_t)(i | 0x80)); /* bit 7 ignored */
		ck_assert_uint_eq(inb(f, 0, 0x72), i);
		ck_assert_uint_eq(inb(f, 0, 0x73), i ^ 0xc3);
	}
	fx_free(f);
}
END_TEST

START_TEST(reset_pin)
{
	struct fx *f = fx_new("");

	wr(f, 0, 0x0b, 0x7a); /* PIE AIE UIE SQWE, 24 h */
	at(f, UPD(1));
	ck_assert_int_eq(f->irq.level, 1);
	dm_rtc_reset(&f->rtc, UPD(1) + 1);
	ck_assert_int_eq(f->irq.level, 0);
	ck_assert_uint_eq(rd(f, UPD(1) + 1, 0x0b), 0x02);
	ck_assert_uint_eq(rd(f, UPD(1) + 1, 0x0c), 0x00);
	ck_assert_uint_eq(rd(f, UPD(1) + 1, 0x0a), 0x26);
	ck_assert_uint_eq(rd(f, UPD(1) + 1, 0x00), 0x01);
	fx_free(f);
}
END_TEST

/* ---- qemu flavour ------------------------------------------------------ */

START_TEST(qemu_ports)
{
	struct fx *f = fx_new("rtc=qemu");

	outb(f, 0, 0x70, 0x8e);
	ck_assert(!dm_rtc_nmi_masked(&f->rtc)); /* NMI bit dropped */
	ck_assert_uint_eq(inb(f, 0, 0x70), 0xff);
	outb(f, 0, 0x71, 0x77);
	ck_assert_uint_eq(rd(f, 0, 0x0e), 0x77);
	outb(f, 0, 0x72, 0x10); /* only 128 bytes */
	outb(f, 0, 0x73, 0x12);
	ck_assert_uint_eq(inb(f, 0, 0x72), 0xff);
	ck_assert_uint_eq(inb(f, 0, 0x73), 0xff);
	/* 0x37 is the century byte, and the index moves to 0x32. */
	ck_assert_uint_eq(rd(f, 0, 0x37), 0x20);
	outb(f, 0, 0x71, 0x20);
	ck_assert_uint_eq(rd(f, 0, 0x32), 0x20);
	fx_free(f);
}
END_TEST

START_TEST(qemu_periodic_needs_pie_and_phase)
{
	struct fx *f = fx_new("rtc=qemu");

	/* RS 6 with PIE clear: no PF at all. */
	ck_assert_uint_eq(rd(f, 2 * MS, 0x0c), 0x00);
	fx_free(f);
	/* PIE at 1 ms: 32 kHz count 32, first tick one period (32) later,
	 * 1 ns after the count's nanosecond: 1953125 + 1. */
	f = fx_new("rtc=qemu");
	wr(f, MS, 0x0b, 0x42);
	at(f, 1953125);
	ck_assert_int_eq(f->irq.level, 0);
	at(f, 1953126);
	ck_assert_int_eq(f->irq.level, 1);
	ck_assert_uint_eq(rd(f, 1953126, 0x0c), 0xc0);
	f = migrate(f);
	at(f, 2929688); /* count 96: 2929687.5 -> 2929687 + 1 */
	ck_assert_uint_eq(f->irq.last_rise, 2929688);
	rd(f, 2929688, 0x0c);
	/* RS 6 -> 3 at 3.2 ms (count 104), 8 counts after the last tick:
	 * lost = min(8, 4) = 4, so the new tick is due at once. */
	wr(f, 3200 * US, 0x0a, 0x23);
	ck_assert_int_eq(f->irq.level, 1);
	ck_assert_uint_eq(f->irq.last_rise, 3200 * US);
	rd(f, 3200 * US, 0x0c);
	at(f, 3295899); /* count 108: 3295898.4 -> 3295898 + 1 */
	ck_assert_uint_eq(f->irq.last_rise, 3295899);
	rd(f, 3295899, 0x0c);
	/* RS 3 -> 15 at count 109 (one after the tick at 108): next tick
	 * at 108 + 16384, a period after the last tick. */
	wr(f, 3330 * US, 0x0a, 0x2f);
	at(f, 4 * NS);
	ck_assert_uint_eq(f->irq.last_rise, (108 + 16384) * NS / 32768 + 1);
	/* PIE off stops it. */
	rd(f, 4 * NS, 0x0c);
	wr(f, 4 * NS, 0x0b, 0x02);
	ck_assert_uint_eq(rd(f, 10 * NS, 0x0c) & 0x40, 0);
	fx_free(f);
}
END_TEST

/*
 * rtc_pf_trace: QEMU's periodic ticks as a capture's IRQ8 raises show
 * them.  The model's own ticks set nothing; each raise while PIE is set
 * sets PF and IRQF (Register C reads 0xc0 and clears), a raise without
 * PIE does not, and one that a new UF explains under UIE is that update.
 */
START_TEST(qemu_pf_from_trace_ticks)
{
	struct fx *f = fx_new("rtc=qemu rtc_pf_trace=on");

	wr(f, MS, 0x0b, 0x42); /* PIE, 1024 Hz */
	at(f, 5 * MS);
	ck_assert_int_eq(f->irq.level, 0);
	ck_assert_uint_eq(rd(f, 5 * MS, 0x0c), 0x00);
	dm_rtc_trace_tick(&f->rtc, 5 * MS + 300 * US);
	ck_assert_int_eq(f->irq.level, 1);
	f = migrate(f); /* PF pending across a checkpoint */
	ck_assert_uint_eq(rd(f, 6 * MS, 0x0c), 0xc0);
	ck_assert_int_eq(f->irq.level, 0);
	ck_assert_uint_eq(rd(f, 6 * MS, 0x0c), 0x00);
	/* Two ticks in a burst set PF once. */
	dm_rtc_trace_tick(&f->rtc, 7 * MS);
	dm_rtc_trace_tick(&f->rtc, 7 * MS + 1);
	ck_assert_uint_eq(rd(f, 8 * MS, 0x0c), 0xc0);
	ck_assert_uint_eq(rd(f, 8 * MS, 0x0c), 0x00);
	/* Without PIE a raise is no tick. */
	wr(f, 9 * MS, 0x0b, 0x02);
	dm_rtc_trace_tick(&f->rtc, 10 * MS);
	ck_assert_uint_eq(rd(f, 11 * MS, 0x0c), 0x00);
	/* PIE and UIE: the raise at the first update (500 ms after the
	 * divider's release) is UF's, not a tick. */
	wr(f, 12 * MS, 0x0a, 0x70);
	wr(f, 13 * MS, 0x0a, 0x26);
	wr(f, 13 * MS, 0x0b, 0x52);
	at(f, 513 * MS);
	ck_assert_int_eq(f->irq.level, 1);
	dm_rtc_trace_tick(&f->rtc, 513 * MS);
	ck_assert_uint_eq(rd(f, 514 * MS, 0x0c), 0x90);
	dm_rtc_trace_tick(&f->rtc, 515 * MS);
	ck_assert_uint_eq(rd(f, 516 * MS, 0x0c), 0xc0);
	fx_free(f);
}
END_TEST

/*
 * rtc_uf_trace: QEMU runs its update timer in its main loop and latches UIP
 * from 244 us before the timer's expiry until it runs (update_in_progress,
 * rtc_update_timer); the time bytes are computed from the clock at every
 * read, so the seconds still change on time.
 */
START_TEST(qemu_update_waits_for_main_loop)
{
	struct fx *f = fx_new("rtc=qemu rtc_uf_trace=on");

	wr(f, 100 * MS, 0x0b, 0x12); /* UIE, 24-hour */
	dm_rtc_main_loop(&f->rtc, 900 * MS, false);
	ck_assert(uip(f, NS - 1));
	ck_assert(uip(f, NS + 500 * US)); /* held: the timer has not run */
	ck_assert_uint_eq(rd(f, NS + 500 * US, 0x0a), 0xa6);
	ck_assert_uint_eq(rd(f, NS + 600 * US, 0x00), 0x01);
	ck_assert_uint_eq(rd(f, NS + 700 * US, 0x0c), 0x00);
	ck_assert_int_eq(f->irq.level, 0);
	f = migrate(f); /* held across a checkpoint */
	ck_assert(uip(f, NS + 800 * US));
	dm_rtc_main_loop(&f->rtc, NS + 1300 * US, true);
	ck_assert_int_eq(f->irq.level, 1);
	ck_assert_uint_eq(f->irq.last_rise, NS + 1300 * US);
	ck_assert(!uip(f, NS + 1300 * US));
	ck_assert_uint_eq(rd(f, NS + 1400 * US, 0x0c), 0x90);
	/* Running at the boundary: the update is on time. */
	at(f, 2 * NS);
	ck_assert_uint_eq(f->irq.last_rise, 2 * NS);
	/* UF still set at the boundary: QEMU's timer is not armed for it, so
	 * nothing latches; the read that clears UF re-arms it for the next. */
	dm_rtc_main_loop(&f->rtc, 2 * NS + 500 * MS, false);
	ck_assert(!uip(f, 3 * NS + 500 * US));
	ck_assert_uint_eq(rd(f, 3 * NS + 600 * US, 0x0c), 0x90);
	ck_assert(!uip(f, 3 * NS + 700 * US));
	ck_assert(uip(f, 4 * NS + 100 * US));
	ck_assert_uint_eq(rd(f, 4 * NS + 200 * US, 0x0c), 0x00);
	dm_rtc_main_loop(&f->rtc, 4 * NS + 300 * US, true);
	ck_assert_uint_eq(f->irq.last_rise, 4 * NS + 300 * US);
	ck_assert_uint_eq(rd(f, 4 * NS + 400 * US, 0x0c), 0x90);
	fx_free(f);

	/* Without the option the main loop's runs change nothing. */
	f = fx_new("rtc=qemu");
	dm_rtc_main_loop(&f->rtc, 900 * MS, false);
	ck_assert(!uip(f, NS + 500 * US));
	ck_assert_uint_eq(rd(f, NS + 600 * US, 0x0c), 0x10);
	fx_free(f);
}
END_TEST

START_TEST(qemu_instant_update_and_uip)
{
	struct fx *f = fx_new("rtc=qemu");

	ck_assert(!uip(f, NS - 244141));
	ck_assert(uip(f, NS - 244140));
	ck_assert(uip(f, NS - 1));
	ck_assert_uint_eq(rd(f, NS - 1, 0x00), 0x00);
	ck_assert(!uip(f, NS));
	ck_assert_uint_eq(rd(f, NS, 0x00), 0x01);
	wr(f, NS, 0x0b, 0x12);
	ck_assert_uint_eq(rd(f, NS, 0x0c), 0x90); /* UF from 1 s */
	at(f, 2 * NS - 1);
	ck_assert_int_eq(f->irq.level, 0);
	f = migrate(f);
	at(f, 2 * NS);
	ck_assert_uint_eq(f->irq.last_rise, 2 * NS);
	fx_free(f);
}
END_TEST

START_TEST(qemu_time_write_restarts_second)
{
	struct fx *f = fx_new("rtc=qemu");
	struct fx *d = fx_new("");

	/* Datasheet: the divider is untouched. */
	wr(d, 2300 * MS, 0x00, 0x10);
	ck_assert_uint_eq(rd(d, UPD(3) - 1, 0x00), 0x10);
	ck_assert_uint_eq(rd(d, UPD(3), 0x00), 0x11);
	/* QEMU: the next update is a whole second after the write. */
	wr(f, 2300 * MS, 0x00, 0x10);
	f = migrate(f);
	ck_assert_uint_eq(rd(f, 3300 * MS - 1, 0x00), 0x10);
	ck_assert_uint_eq(rd(f, 3300 * MS, 0x00), 0x11);
	/* Clearing SET keeps the phase, and later writes restart from it. */
	wr(f, 3700 * MS, 0x0b, 0x82);
	wr(f, 3900 * MS, 0x0b, 0x02);
	f = migrate(f);
	ck_assert_uint_eq(rd(f, 4300 * MS - 1, 0x00), 0x11);
	ck_assert_uint_eq(rd(f, 4300 * MS, 0x00), 0x12);
	/* Offset 0.6 s (SET was cleared 0.6 s into a second): a write at
	 * 4.5 s puts the next update at 4.9 s. */
	wr(f, 4500 * MS, 0x02, 0x05);
	ck_assert_uint_eq(rd(f, 4900 * MS - 1, 0x00), 0x12);
	ck_assert_uint_eq(rd(f, 4900 * MS, 0x00), 0x13);
	ck_assert_uint_eq(rd(f, 4900 * MS, 0x02), 0x05);
	fx_free(f);
	fx_free(d);
}
END_TEST

START_TEST(qemu_century_dow_and_uf_under_set)
{
	struct fx *f = fx_new("rtc=qemu");
	struct fx *d = fx_new("");
	const uint8_t eoy[7] = {0x59, 0x59, 0x23, 0x05, 0x31, 0x12, 0x99};

	/* QEMU recomputes the day of week from the date. */
	wr(f, 0, 0x06, 0x03);
	ck_assert_uint_eq(rd(f, 0, 0x06), 0x07);
	ck_assert_uint_eq(rd(d, 0, 0x06), 0x07);
	wr(d, 0, 0x06, 0x03);
	ck_assert_uint_eq(rd(d, 0, 0x06), 0x03);
	/* Year 99 -> 00 carries into the century byte in QEMU only
	 * (2099-12-31 was a Thursday: QEMU shows Friday 2100-01-01). */
	set_clock(f, NS / 2, 0x02, eoy);
	set_clock(d, NS / 2, 0x02, eoy);
	f = migrate(f);
	d = migrate(d);
	ck_assert_uint_eq(rd(f, NS, 0x09), 0x00);
	ck_assert_uint_eq(rd(f, NS, 0x32), 0x21);
	ck_assert_uint_eq(rd(f, NS, 0x06), 0x06);
	ck_assert_uint_eq(rd(d, UPD(1), 0x09), 0x00);
	ck_assert_uint_eq(rd(d, UPD(1), 0x32), 0x20);
	ck_assert_uint_eq(rd(d, UPD(1), 0x06), 0x06);
	/* UF keeps setting under SET in QEMU, not on the chip. */
	wr(f, 1500 * MS, 0x0b, 0x82);
	wr(d, 1500 * MS, 0x0b, 0x82);
	rd(f, 1500 * MS, 0x0c);
	rd(d, 1500 * MS, 0x0c);
	ck_assert_uint_eq(rd(f, 2500 * MS, 0x0c), 0x10);
	ck_assert_uint_eq(rd(d, 2500 * MS, 0x0c) & 0x10, 0x00);
	fx_free(f);
	fx_free(d);
}
END_TEST

START_TEST(qemu_dse_ignored)
{
	struct fx *f = fx_new("rtc=qemu");
	const uint8_t apr[7] = {0x59, 0x59, 0x01, 0x01, 0x30, 0x04, 0x00};

	set_clock(f, NS / 2, 0x03, apr);
	ck_assert_uint_eq(rd(f, NS, 0x04), 0x02);
	fx_free(f);
}
END_TEST

START_TEST(qemu_divider_release_500ms)
{
	struct fx *f = fx_new("rtc=qemu");

	wr(f, 3200 * MS, 0x0a, 0x66);
	ck_assert_uint_eq(rd(f, 5 * NS, 0x00), 0x03);
	wr(f, 5 * NS, 0x0a, 0x26);
	f = migrate(f);
	ck_assert_uint_eq(rd(f, 5500 * MS - 1, 0x00), 0x03);
	ck_assert_uint_eq(rd(f, 5500 * MS, 0x00), 0x04);
	fx_free(f);
}
END_TEST

START_TEST(qemu_reset)
{
	struct fx *f = fx_new("rtc=qemu");

	wr(f, 0, 0x0f, 0x05);
	wr(f, 0, 0x0b, 0x7a);
	dm_rtc_reset(&f->rtc, MS);
	ck_assert_uint_eq(rd(f, MS, 0x0b), 0x12); /* UIE survives */
	ck_assert_uint_eq(rd(f, MS, 0x0f), 0x00);
	ck_assert_uint_eq(rd(f, MS, 0x0c), 0x00);
	f = migrate(f);
	/* QEMU's periodic timer was still armed: one more PF, no IRQ. */
	ck_assert_uint_eq(rd(f, 2 * MS, 0x0c), 0x40);
	ck_assert_uint_eq(rd(f, 10 * MS, 0x0c), 0x00);
	wr(f, 10 * MS, 0x0f, 0xfe);
	dm_rtc_reset(&f->rtc, 11 * MS);
	ck_assert_uint_eq(rd(f, 11 * MS, 0x0f), 0xfe);
	fx_free(f);
}
END_TEST

START_TEST(profiles_select_flavour)
{
	struct dm_config cfg;

	dm_config_defaults(&cfg, DM_PROFILE_KVM);
	ck_assert_uint_eq(cfg.rtc_flavor, DM_RTC_QEMU);
	ck_assert_uint_eq(cfg.rtc_epoch, 946684800);
	dm_config_defaults(&cfg, DM_PROFILE_QEMU);
	ck_assert_uint_eq(cfg.rtc_flavor, DM_RTC_QEMU);
	dm_config_defaults(&cfg, DM_PROFILE_DATASHEET);
	ck_assert_uint_eq(cfg.rtc_flavor, DM_RTC_DATASHEET);
}
END_TEST

/* ---- hostile checkpoints ----------------------------------------------- */

static void expect_rejected(const char *opts, const struct dm_rtc *bad,
			    const char *field)
{
	size_t n = dm_state_encoded_size(&dm_rtc_state_desc);
	uint8_t *buf = malloc(n);
	struct fx *g = fx_new(opts);
	struct dm_error err = {{0}};

	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(dm_state_encode(&dm_rtc_state_desc, bad, buf, n), n);
	ck_assert_int_eq(
		dm_state_load(&dm_rtc_state_desc, &g->rtc, buf, n, &err), -1);
	ck_assert_msg(strstr(err.msg, field), "'%s' lacks %s", err.msg, field);
	ck_assert_uint_eq(g->rtc.reg_a, 0x26); /* left untouched */
	free(buf);
	fx_free(g);
}

START_TEST(hostile_checkpoints_rejected)
{
	struct fx *f = fx_new("");
	struct dm_rtc bad;

	wr(f, 0, 0x0b, 0x12);
	at(f, 1500 * MS);
	bad = f->rtc;
	bad.index = 0x80;
	expect_rejected("", &bad, "index");
	bad = f->rtc;
	bad.flags = 0x0f;
	expect_rejected("", &bad, "flags");
	bad = f->rtc;
	bad.reg_b = 0x92;
	expect_rejected("", &bad, "reg_b");
	bad = f->rtc;
	bad.div_t0 = 1; /* a divider restarted at 1 ns */
	bad.div_phase = 123;
	expect_rejected("", &bad, "div_phase");
	bad = f->rtc;
	bad.upd_done = 7;
	expect_rejected("", &bad, "upd_done");
	bad = f->rtc;
	bad.div_t0 = bad.base_ns + 1;
	expect_rejected("", &bad, "div_t0");
	bad = f->rtc;
	bad.irq_level = !bad.irq_level;
	expect_rejected("", &bad, "irq_level");
	bad = f->rtc;
	bad.timer.when += 1;
	expect_rejected("", &bad, "timer");
	bad = f->rtc;
	bad.qp_armed = true;
	expect_rejected("", &bad, "qp_armed");
	fx_free(f);

	f = fx_new("rtc=qemu");
	wr(f, 10 * MS, 0x0b, 0x42);
	bad = f->rtc;
	bad.qp_armed = false;
	expect_rejected("rtc=qemu", &bad, "qp_armed");
	bad = f->rtc;
	bad.qp_next = 0;
	expect_rejected("rtc=qemu", &bad, "qp_next");
	fx_free(f);

	f = fx_new("rtc=qemu rtc_uf_trace=on");
	dm_rtc_main_loop(&f->rtc, 10 * MS, false);
	bad = f->rtc;
	bad.hold_from = bad.base_ns + 1;
	expect_rejected("rtc=qemu rtc_uf_trace=on", &bad, "hold_from");
	bad = f->rtc;
	expect_rejected("", &bad, "loop_off");
	fx_free(f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("rtc");
	TCase *ds = tcase_create("datasheet");
	TCase *q = tcase_create("qemu");

	tcase_add_test(ds, power_on_registers);
	tcase_add_test(ds, epoch_option);
	tcase_add_test(ds, epoch_ns_option);
	tcase_add_test(ds, uip_window_edges_at_the_ns);
	tcase_add_test(ds, mhz_time_base_has_short_update);
	tcase_add_test(ds, update_ended_interrupt_once_per_second);
	tcase_add_test(ds, enabling_with_flag_set_raises_at_once);
	tcase_add_loop_test(ds, periodic_rate_for_each_rs, 1, 16);
	tcase_add_test(ds, periodic_sets_pf_without_pie);
	tcase_add_test(ds, periodic_mhz_base_rs1_rs2);
	tcase_add_test(ds, periodic_continues_across_restore_at_same_ns);
	tcase_add_test(ds, alarm_exact_time);
	tcase_add_test(ds, alarm_dont_care_bytes);
	tcase_add_test(ds, alarm_sets_af_without_aie_and_bad_bytes_never_match);
	tcase_add_test(ds, alarm_12_hour_pm);
	tcase_add_test(ds, set_stops_updates_and_restarts);
	tcase_add_test(ds, set_cleared_inside_uip_lead_skips_that_update);
	tcase_add_test(ds, divider_reset_and_first_update_500ms_after);
	tcase_add_loop_test(ds, calendar_rollovers, 0,
			    sizeof(cal_cases) / sizeof(cal_cases[0]));
	tcase_add_test(ds, out_of_range_bytes_carry_on_update);
	tcase_add_test(ds, long_jump_is_analytic);
	tcase_add_test(ds, daylight_saving_steps);
	tcase_add_test(ds, daylight_saving_over_a_year_nets_zero);
	tcase_add_test(ds, nmi_mask_and_index_latch);
	tcase_add_test(ds, cmos_ram_both_banks);
	tcase_add_test(ds, reset_pin);
	tcase_add_test(ds, hostile_checkpoints_rejected);
	tcase_add_test(q, qemu_ports);
	tcase_add_test(q, qemu_periodic_needs_pie_and_phase);
	tcase_add_test(q, qemu_pf_from_trace_ticks);
	tcase_add_test(q, qemu_update_waits_for_main_loop);
	tcase_add_test(q, qemu_instant_update_and_uip);
	tcase_add_test(q, qemu_time_write_restarts_second);
	tcase_add_test(q, qemu_century_dow_and_uf_under_set);
	tcase_add_test(q, qemu_dse_ignored);
	tcase_add_test(q, qemu_divider_release_500ms);
	tcase_add_test(q, qemu_reset);
	tcase_add_test(q, profiles_select_flavour);
	suite_add_tcase(s, ds);
	suite_add_tcase(s, q);
	return s;
}

int main(void)
{
	return dm_test_main(suite());
}
