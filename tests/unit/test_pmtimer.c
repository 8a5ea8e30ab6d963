// SPDX-License-Identifier: MIT
/*
 * ACPI PM1a block and PM timer against ACPI 4.8 (datasheet flavour) and
 * QEMU hw/acpi/core.c (qemu flavour).
 *
 * Expected values come from the spec's arithmetic, done here on its own:
 * the counter at t is floor(t * 3579545 / 1e9), so tick k first shows at
 * ceil(k * 1e9 / 3579545) ns; TMR_STS sets when bit 23 (or 31) flips.
 */
#include <stdlib.h>
#include <string.h>

#include "models/pmtimer.h"
#include "testutil.h"

#define HZ 3579545ULL
#define BIT23 (1ULL << 23)

/* ceil(k * 1e9 / HZ), the first ns at which the counter has reached k. */
static uint64_t edge(uint64_t k)
{
	unsigned __int128 p = (unsigned __int128)k * 1000000000ULL;

	return (uint64_t)((p + HZ - 1) / HZ);
}

struct fx {
	struct dm_eventq q;
	struct dm_pmtimer pm;
	struct dm_config cfg;
	struct dm_test_line sci;
};

static struct fx *fx_new(const char *opts)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct dm_irq_line line;

	ck_assert_ptr_nonnull(f);
	f->sci.pin = 9;
	line = dm_test_line_wire(&f->sci);
	dm_test_config(&f->cfg, opts);
	dm_eventq_init(&f->q);
	dm_pmtimer_init(&f->pm, &f->cfg, &f->q, &line);
	return f;
}

static void fx_free(struct fx *f)
{
	dm_eventq_destroy(&f->q);
	free(f);
}

/* Checkpoint and restore into a freshly built PM block. */
static struct fx *migrate(struct fx *f)
{
	char opts[2048];
	struct fx *g;

	dm_config_format(&f->cfg, opts, sizeof(opts));
	g = fx_new(opts);
	dm_test_roundtrip(&dm_pmtimer_state_desc, &f->pm, &g->pm);
	g->sci = f->sci;
	fx_free(f);
	return g;
}

static void at(struct fx *f, uint64_t now)
{
	dm_eventq_run_until(&f->q, now);
}

static uint64_t in(struct fx *f, uint64_t now, unsigned off, unsigned size)
{
	at(f, now);
	return dm_pmtimer_read(&f->pm, now, off, size);
}

static void out(struct fx *f, uint64_t now, unsigned off, unsigned size,
		uint64_t v)
{
	at(f, now);
	dm_pmtimer_write(&f->pm, now, off, size, v);
}

static uint32_t tmr(struct fx *f, uint64_t now)
{
	return (uint32_t)in(f, now, 8, 4);
}

static unsigned sts(struct fx *f, uint64_t now)
{
	return (unsigned)in(f, now, 0, 2) & 1;
}

START_TEST(counter_follows_time)
{
	struct fx *f = fx_new("");

	ck_assert_uint_eq(tmr(f, 0), 0);
	ck_assert_uint_eq(edge(1), 280); /* 279.365 ns per tick */
	ck_assert_uint_eq(tmr(f, 279), 0);
	ck_assert_uint_eq(tmr(f, 280), 1);
	ck_assert_uint_eq(tmr(f, 1000000000ULL), 3579545);
	ck_assert_uint_eq(tmr(f, 2000000000ULL), 7159090);
	/* Byte lanes: a byte read at +9 is bits 15:8, +11 reads 0 (24-bit). */
	ck_assert_uint_eq(in(f, 1000000000ULL, 9, 1), (3579545 >> 8) & 0xff);
	ck_assert_uint_eq(in(f, 1000000000ULL, 10, 2), 3579545 >> 16);
	ck_assert_uint_eq(in(f, 1000000000ULL, 11, 1), 0);
	/* Writes to PM_TMR are ignored. */
	out(f, 1000000000ULL, 8, 4, 0);
	ck_assert_uint_eq(tmr(f, 1000000000ULL), 3579545);
	/* Reserved bytes 6-7 read 0, bytes past the block 0xff. */
	ck_assert_uint_eq(in(f, 0, 6, 2), 0);
	ck_assert_uint_eq(in(f, 0, 12, 1), 0xff);
	fx_free(f);
}
END_TEST

/* pmtimer_start_ns: the counter reads 0 until then and counts from there;
 * TMR_STS and the SCI follow its flips, across a checkpoint. */
START_TEST(start_option_moves_the_count_and_flips)
{
	const uint64_t s0 = 274428447;
	struct fx *f = fx_new("pmtimer_start_ns=274428447");

	ck_assert_uint_eq(tmr(f, 1000), 0);
	ck_assert_uint_eq(tmr(f, s0 + 279), 0);
	ck_assert_uint_eq(tmr(f, s0 + 280), 1);
	ck_assert_uint_eq(tmr(f, s0 + 1000000000ULL), 3579545);
	out(f, s0 + 1000000000ULL, 2, 2, 1); /* TMR_EN */
	out(f, s0 + 1000000000ULL, 4, 2, 1); /* SCI_EN */
	f = migrate(f);
	ck_assert_uint_eq(sts(f, s0 + edge(BIT23) - 1), 0);
	at(f, s0 + edge(BIT23) - 1);
	ck_assert_int_eq(f->sci.level, 0);
	at(f, s0 + edge(BIT23));
	ck_assert_int_eq(f->sci.level, 1);
	ck_assert_uint_eq(f->sci.last_rise, s0 + edge(BIT23));
	ck_assert_uint_eq(tmr(f, s0 + edge(1ULL << 24)), 0);
	fx_free(f);
}
END_TEST

START_TEST(wraps_at_24_bits)
{
	struct fx *f = fx_new("");
	uint64_t w = edge(1ULL << 24);

	ck_assert_uint_eq(tmr(f, w - 1), 0xffffff);
	ck_assert_uint_eq(tmr(f, w), 0);
	/* 2^24 ticks take 4.687 s. */
	ck_assert_uint_ge(w, 4686000000ULL);
	ck_assert_uint_le(w, 4688000000ULL);
	fx_free(f);
}
END_TEST

START_TEST(option_32bit)
{
	struct fx *f = fx_new("pmtimer_32bit=on");
	uint64_t w = edge(1ULL << 32);

	ck_assert_uint_eq(tmr(f, edge(1ULL << 24)), 1u << 24);
	ck_assert_uint_eq(in(f, edge(1ULL << 31), 11, 1), 0x80);
	ck_assert_uint_eq(tmr(f, w - 1), 0xffffffffu);
	ck_assert_uint_eq(tmr(f, w), 0);
	/* TMR_STS waits for bit 31, not bit 23. */
	ck_assert_uint_eq(sts(f, edge(BIT23)), 0);
	ck_assert_uint_eq(sts(f, edge(1ULL << 31) - 1), 0);
	ck_assert_uint_eq(sts(f, edge(1ULL << 31)), 1);
	fx_free(f);
}
END_TEST

START_TEST(tmr_sts_at_both_flips_and_w1c)
{
	struct fx *f = fx_new("");

	ck_assert_uint_eq(sts(f, 0), 0);
	ck_assert_uint_eq(sts(f, edge(BIT23) - 1), 0);
	ck_assert_uint_eq(sts(f, edge(BIT23)), 1); /* bit 23: 0 -> 1 */
	/* Writing 0 does not clear it; writing 1 does. */
	out(f, edge(BIT23) + 5, 0, 2, 0);
	ck_assert_uint_eq(sts(f, edge(BIT23) + 5), 1);
	out(f, edge(BIT23) + 5, 0, 2, 1);
	ck_assert_uint_eq(sts(f, edge(BIT23) + 5), 0);
	f = migrate(f);
	ck_assert_uint_eq(sts(f, edge(2 * BIT23) - 1), 0);
	ck_assert_uint_eq(sts(f, edge(2 * BIT23)), 1); /* bit 23: 1 -> 0 */
	ck_assert_uint_eq(tmr(f, edge(2 * BIT23)), 0);
	/* A byte write to PM1_STS clears too; the status stays clear
	 * until the next flip even if cleared long after the last one. */
	out(f, edge(5 * BIT23) + 100, 0, 1, 1);
	ck_assert_uint_eq(sts(f, edge(6 * BIT23) - 1), 0);
	ck_assert_uint_eq(sts(f, edge(6 * BIT23)), 1);
	fx_free(f);
}
END_TEST

START_TEST(sci_needs_tmr_en_and_sci_en)
{
	struct fx *f = fx_new("");

	out(f, 0, 2, 2, 1); /* TMR_EN */
	at(f, edge(BIT23));
	ck_assert_int_eq(f->sci.level, 0); /* SCI_EN clear: SMI, not modelled */
	ck_assert_uint_eq(sts(f, edge(BIT23)), 1);
	out(f, edge(BIT23) + 10, 4, 2, 1); /* SCI_EN: the pending status */
	ck_assert_int_eq(f->sci.level, 1); /* raises the SCI at once */
	ck_assert_uint_eq(f->sci.last_rise, edge(BIT23) + 10);
	out(f, edge(BIT23) + 20, 0, 2, 1); /* W1C lowers it */
	ck_assert_int_eq(f->sci.level, 0);
	f = migrate(f); /* before the next flip, SCI armed */
	at(f, edge(2 * BIT23) - 1);
	ck_assert_int_eq(f->sci.level, 0);
	at(f, edge(2 * BIT23));
	ck_assert_int_eq(f->sci.level, 1);
	ck_assert_uint_eq(f->sci.last_rise, edge(2 * BIT23));
	/* Clearing TMR_EN lowers it with the status still set. */
	out(f, edge(2 * BIT23) + 1, 2, 2, 0);
	ck_assert_int_eq(f->sci.level, 0);
	ck_assert_uint_eq(sts(f, edge(2 * BIT23) + 1), 1);
	ck_assert_uint_eq(f->sci.rises, 2);
	fx_free(f);
}
END_TEST

START_TEST(sci_raised_exactly_at_flip_after_restore)
{
	struct fx *f = fx_new("");

	out(f, 1000, 4, 2, 1); /* SCI_EN */
	out(f, 1000, 2, 2, 1); /* TMR_EN */
	f = migrate(f);
	ck_assert_uint_eq(dm_eventq_next(&f->q), edge(BIT23));
	at(f, edge(BIT23) - 1);
	f = migrate(f);
	ck_assert_int_eq(f->sci.level, 0);
	at(f, edge(BIT23));
	ck_assert_int_eq(f->sci.level, 1);
	ck_assert_uint_eq(f->sci.last_rise, edge(BIT23));
	/* With the SCI up nothing more is scheduled. */
	ck_assert_uint_eq(dm_eventq_next(&f->q), DM_TIME_NEVER);
	fx_free(f);
}
END_TEST

START_TEST(pm1_registers)
{
	struct fx *f = fx_new("");

	out(f, 0, 2, 2, 0xffff);
	ck_assert_uint_eq(in(f, 0, 2, 2), 0x4721);
	out(f, 0, 4, 2, 0xffff); /* SLP_EN and GBL_RLS read 0 */
	ck_assert_uint_eq(in(f, 0, 4, 2), 0x1c03);
	out(f, 0, 5, 1, 0x00); /* byte write to the high half */
	ck_assert_uint_eq(in(f, 0, 4, 2), 0x0003);
	/* A dword at +0 covers PM1_STS and PM1_EN. */
	ck_assert_uint_eq(in(f, 0, 0, 4), 0x4721u << 16);
	dm_pmtimer_reset(&f->pm, 10);
	ck_assert_uint_eq(in(f, 10, 0, 8), 0);
	fx_free(f);
}
END_TEST

START_TEST(base_by_chipset_and_option)
{
	struct dm_config cfg;
	struct dm_error err;

	dm_config_defaults(&cfg, DM_PROFILE_DATASHEET);
	ck_assert_uint_eq(dm_pmtimer_base(&cfg), 0xb000);
	ck_assert_int_eq(dm_config_parse(&cfg, "chipset=q35", &err), 0);
	ck_assert_uint_eq(dm_pmtimer_base(&cfg), 0x600);
	ck_assert_int_eq(dm_config_parse(&cfg, "pmbase=0x400", &err), 0);
	ck_assert_uint_eq(dm_pmtimer_base(&cfg), 0x400);
	ck_assert_int_eq(dm_config_parse(&cfg, "pmbase=0x10000", &err), -1);
	dm_config_defaults(&cfg, DM_PROFILE_KVM);
	ck_assert_uint_eq(cfg.pmtimer_flavor, DM_PMTIMER_QEMU);
	ck_assert(!cfg.pmtimer_32bit);
}
END_TEST

/* QEMU: TMR_STS set from power-on and reset; SCI without SCI_EN; all
 * PM1_EN and PM1_CNT bits but SLP_EN stored. */
START_TEST(qemu_flavour)
{
	struct fx *f = fx_new("pmtimer=qemu");

	ck_assert_uint_eq(sts(f, 0), 1);
	out(f, 100, 2, 2, 1); /* TMR_EN, SCI_EN clear: SCI anyway */
	ck_assert_int_eq(f->sci.level, 1);
	out(f, 200, 0, 2, 1);
	ck_assert_int_eq(f->sci.level, 0);
	ck_assert_uint_eq(sts(f, 200), 0);
	f = migrate(f);
	at(f, edge(BIT23));
	ck_assert_int_eq(f->sci.level, 1);
	ck_assert_uint_eq(f->sci.last_rise, edge(BIT23));
	out(f, edge(BIT23), 2, 2, 0xffff);
	ck_assert_uint_eq(in(f, edge(BIT23), 2, 2), 0xffff);
	out(f, edge(BIT23), 4, 2, 0xffff);
	ck_assert_uint_eq(in(f, edge(BIT23), 4, 2), 0xdfff);
	out(f, edge(BIT23), 0, 2, 1);
	ck_assert_int_eq(f->sci.level, 0);
	dm_pmtimer_reset(&f->pm, edge(BIT23) + 1);
	ck_assert_uint_eq(sts(f, edge(BIT23) + 1), 1);
	ck_assert_uint_eq(in(f, edge(BIT23) + 1, 2, 4), 0);
	fx_free(f);
}
END_TEST

/* Encodes a tampered copy and expects load to name the field. */
static void expect_rejected(struct fx *f, const struct dm_pmtimer *bad,
			    const char *field)
{
	size_t n = dm_state_encoded_size(&dm_pmtimer_state_desc);
	uint8_t *buf = malloc(n);
	struct fx *g = fx_new("");
	struct dm_error err = {{0}};

	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(dm_state_encode(&dm_pmtimer_state_desc, bad, buf, n),
			  n);
	ck_assert_int_eq(
		dm_state_load(&dm_pmtimer_state_desc, &g->pm, buf, n, &err),
		-1);
	ck_assert_msg(strstr(err.msg, field), "%s lacks %s", err.msg, field);
	ck_assert_uint_eq(g->pm.sts_tick, BIT23); /* left untouched */
	(void)f;
	free(buf);
	fx_free(g);
}

START_TEST(hostile_checkpoints_rejected)
{
	struct fx *f = fx_new("");
	struct dm_pmtimer bad;

	out(f, 0, 4, 2, 1);
	out(f, 0, 2, 2, 1);
	bad = f->pm;
	bad.sts_tick = BIT23 + 1;
	expect_rejected(f, &bad, "sts_tick");
	bad = f->pm;
	bad.pm1_en = 0x0002;
	expect_rejected(f, &bad, "pm1_en");
	bad = f->pm;
	bad.pm1_cnt = 0x2000;
	expect_rejected(f, &bad, "pm1_cnt");
	bad = f->pm;
	bad.timer.when = 5;
	expect_rejected(f, &bad, "timer");
	bad = f->pm;
	bad.pm1_en = 0;
	bad.timer.when = DM_TIME_NEVER;
	bad.sci_level = true;
	expect_rejected(f, &bad, "sci_level");
	fx_free(f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("pmtimer");
	TCase *tc = tcase_create("pmtimer");

	tcase_add_test(tc, counter_follows_time);
	tcase_add_test(tc, wraps_at_24_bits);
	tcase_add_test(tc, start_option_moves_the_count_and_flips);
	tcase_add_test(tc, option_32bit);
	tcase_add_test(tc, tmr_sts_at_both_flips_and_w1c);
	tcase_add_test(tc, sci_needs_tmr_en_and_sci_en);
	tcase_add_test(tc, sci_raised_exactly_at_flip_after_restore);
	tcase_add_test(tc, pm1_registers);
	tcase_add_test(tc, base_by_chipset_and_option);
	tcase_add_test(tc, qemu_flavour);
	tcase_add_test(tc, hostile_checkpoints_rejected);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return dm_test_main(suite());
}
