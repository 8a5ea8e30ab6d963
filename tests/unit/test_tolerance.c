// SPDX-License-Identifier: MIT
/*
 * Replay with a time tolerance.  A trace is recorded from the model at
 * exact times, then written with every timestamp moved by up to +-5 us,
 * as a capture's host clock would: replayed exactly it diverges, replayed
 * with a 6 us tolerance every output matches, with residuals within 6 us;
 * a value no instant in the window produces still diverges.  The HPET's
 * main counter is halted at the end: its reads show the instant of the
 * write that halted it, whose timestamp moved too (the tolerance cannot
 * carry that shift on: a counter restarted later stays off by it).
 *
 * A write that starts a count, applied later than its line as KVM does,
 * is moved to one instant that then explains every later read; a read
 * that needs a second instant for the same write still diverges.  An
 * intack the vcpu took before its line, between two edges, moves back
 * when the next acceptance needs it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay/replay.h"
#include "testutil.h"

#define STEP 100000 /* ns between accesses */
#define JITTER 5000

struct rec {
	struct dm_machine *m;
	struct dm_trace_writer *w;
	uint64_t t;
	uint64_t rng;
	int64_t max_jitter;
};

static int64_t jitter(struct rec *r)
{
	r->rng = r->rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (int64_t)((r->rng >> 33) % (2 * JITTER + 1)) - JITTER;
}

/* Applies ev at the true time; writes it with a jittered timestamp. */
static void emit(struct rec *r, struct dm_event ev)
{
	struct dm_outcome o;
	struct dm_error err;
	int64_t j = jitter(r);

	ev.time = r->t;
	ck_assert_msg(dm_replay_step(r->m, &ev, &o, &err) == 0, "%s", err.msg);
	if (o.has_actual) {
		ev.value = o.actual;
		ev.flags = DM_EV_VALUE;
	}
	if (dm_op_is_read(ev.op) || ev.op == DM_OP_PIO_W ||
	    (ev.op == DM_OP_MMIO_W && ev.addr == 0xfed00010 && !ev.value))
		ev.time = (uint64_t)((int64_t)r->t + j);
	ck_assert_msg(dm_trace_write(r->w, &ev, &err) == 0, "%s", err.msg);
	r->t += STEP;
}

/* Writes ev at its line, applied late ns after it (reads at the line). */
static void emit_exact(struct rec *r, struct dm_event ev, uint64_t late)
{
	struct dm_outcome o;
	struct dm_error err;

	ev.time = r->t + late;
	ck_assert_msg(dm_replay_step(r->m, &ev, &o, &err) == 0, "%s", err.msg);
	if (o.has_actual) {
		ev.value = o.actual;
		ev.flags = DM_EV_VALUE;
	}
	ev.time = r->t;
	ck_assert_msg(dm_trace_write(r->w, &ev, &err) == 0, "%s", err.msg);
	r->t += STEP;
}

static struct dm_event pio(bool write, uint16_t port, uint8_t v)
{
	return (struct dm_event){.op = write ? DM_OP_PIO_W : DM_OP_PIO_R,
				 .actor = DM_ACTOR_CPU,
				 .addr = port,
				 .size = 1,
				 .value = v,
				 .flags = write ? DM_EV_VALUE : 0};
}

static struct dm_event mmio(bool write, uint64_t addr, uint32_t v)
{
	return (struct dm_event){.op = write ? DM_OP_MMIO_W : DM_OP_MMIO_R,
				 .actor = DM_ACTOR_CPU,
				 .addr = addr,
				 .size = 4,
				 .value = v,
				 .flags = write ? DM_EV_VALUE : 0};
}

/* Starts recording into a new temporary text trace at path, on a machine
 * of cfgtext (over the datasheet defaults). */
static void rec_open(struct rec *r, char *path, size_t n, const char *cfgtext)
{
	struct dm_config cfg;
	struct dm_error err;
	int fd;

	snprintf(path, n, "/tmp/dm-tol-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	dm_config_defaults(&cfg, DM_PROFILE_DATASHEET);
	ck_assert_int_eq(dm_config_parse(&cfg, cfgtext, &err), 0);
	ck_assert_int_eq(dm_machine_create(&r->m, &cfg, &err), 0);
	ck_assert_int_eq(
		dm_trace_create(&r->w, path, DM_TRACE_TEXT, cfgtext, &err), 0);
}

static void rec_close(struct rec *r)
{
	struct dm_error err;

	ck_assert_int_eq(dm_trace_finish(r->w, &err), 0);
	dm_machine_destroy(r->m);
}

static const char *record_trace(const char *cfgtext, char *path, size_t n)
{
	struct rec r = {.t = 1000000, .rng = 42};

	rec_open(&r, path, n, cfgtext);
	emit(&r, pio(true, 0x43, 0x34)); /* PIT ch0 mode 2, count 50000 */
	emit(&r, pio(true, 0x40, 0x50));
	emit(&r, pio(true, 0x40, 0xc3));
	emit(&r, mmio(true, 0xfed00010, 1)); /* HPET on */
	emit(&r, mmio(true, 0xfee000f0, 0x1ff));
	emit(&r, mmio(true, 0xfee003e0, 0xb)); /* LAPIC divide by 1 */
	emit(&r, mmio(true, 0xfee00380, 0x7fffffff));
	for (int i = 0; i < 40; i++) {
		emit(&r, pio(true, 0x43, 0x00)); /* latch, read both bytes */
		emit(&r, pio(false, 0x40, 0));
		emit(&r, pio(false, 0x40, 0));
		emit(&r, mmio(false, 0xfed000f0, 0)); /* HPET counter */
		emit(&r, mmio(false, 0xfee00390, 0)); /* LAPIC current */
		emit(&r, pio(false, 0xb008, 0));      /* PM timer, LSB */
	}
	emit(&r, mmio(true, 0xfed00010, 0)); /* HPET halted */
	emit(&r, mmio(false, 0xfed000f0, 0));
	emit(&r, mmio(false, 0xfed000f4, 0));
	emit(&r, mmio(false, 0xfed000f0, 0));
	rec_close(&r);
	return path;
}

static uint64_t max_residual, adopted, max_adopted;

/* The number after "key": in the JSON report, or 0. */
static uint64_t json_number(const char *json, const char *key)
{
	const char *p = strstr(json, key);

	return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

/* Replays with the JSON report; keeps its max_residual_ns. */
static int replay(const char *path, uint64_t tol, struct dm_replay_stats *s)
{
	struct dm_replay_opts opts = {.tolerance_ns = tol, .json = true};
	struct dm_error err = {""};
	FILE *out = tmpfile();
	static char json[1 << 20];
	size_t n;
	int rc;

	opts.out = out;
	rc = dm_replay_file(path, &opts, s, &err);
	rewind(out);
	n = fread(json, 1, sizeof(json) - 1, out);
	json[n] = '\0';
	fclose(out);
	max_residual = json_number(json, "\"max_residual_ns\":");
	adopted = json_number(json, "\"adopted\":");
	max_adopted = json_number(json, "\"max_adopted_ns\":");
	return rc;
}

START_TEST(jittered_capture_matches_within_tolerance)
{
	char path[64];
	struct dm_replay_stats s;

	record_trace("profile=datasheet", path, sizeof(path));
	ck_assert_int_eq(replay(path, 0, &s), 1);
	ck_assert_uint_gt(s.divergences, 100);
	ck_assert_int_eq(replay(path, JITTER + 1000, &s), 0);
	ck_assert_uint_eq(s.divergences, 0);
	ck_assert_uint_gt(s.tolerated, 100);
	ck_assert_uint_gt(max_residual, 0);
	ck_assert_uint_le(max_residual, JITTER + 1000);
	unlink(path);
}
END_TEST

START_TEST(a_value_no_instant_gives_still_diverges)
{
	char path[64], bad[80], line[256];
	struct dm_replay_stats s;
	FILE *in, *out;
	int n = 0;

	record_trace("profile=datasheet", path, sizeof(path));
	snprintf(bad, sizeof(bad), "%s.bad", path);
	in = fopen(path, "r");
	out = fopen(bad, "w");
	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(out);
	/* Replace the 10th HPET counter value by one 1 ms away. */
	while (fgets(line, sizeof(line), in)) {
		if (strstr(line, "0xfed000f0") && strstr(line, "mmio.r") &&
		    ++n == 10) {
			unsigned long long t, v;

			ck_assert_int_eq(sscanf(line,
						"%llu cpu0 mmio.r "
						"0xfed000f0 4 %llx",
						&t, &v),
					 2);
			fprintf(out, "%llu cpu0 mmio.r 0xfed000f0 4 0x%llx\n",
				t, (v + 100000) & 0xffffffff);
			continue;
		}
		fputs(line, out);
	}
	fclose(in);
	fclose(out);
	ck_assert_int_eq(replay(bad, JITTER + 1000, &s), 1);
	ck_assert_uint_eq(s.divergences, 1);
	unlink(path);
	unlink(bad);
}
END_TEST

/* ---- a start write applied late ---------------------------------- */

#define LATE 7000 /* ns between the TMICT write's line and its effect */
#define PAIRS 5	  /* pairs of TMCCT reads after it */
#define PAIR 1000 /* ns between the reads of a pair */
#define NEAR 10000

/*
 * A LAPIC timer started by a TMICT write KVM applied LATE ns after its
 * line, then PAIRS pairs of current-count reads, each read computed at
 * its line; the reads of pair odd_pair (if any) show counts as if the
 * write had been applied odd_late after its line instead.  The first
 * read of a pair could be sampled up to NEAR earlier than its line, but
 * the second only PAIR: no sampling instant explains that one.
 */
static void record_late_start(char *path, size_t n, int odd_pair,
			      uint64_t odd_late)
{
	struct rec r = {.t = 1000000};
	struct dm_error err;
	uint64_t start;

	rec_open(&r, path, n, "profile=datasheet");
	emit_exact(&r, mmio(true, 0xfee000f0, 0x1ff), 0);
	emit_exact(&r, mmio(true, 0xfee003e0, 0xb), 0); /* divide by 1 */
	start = r.t;
	emit_exact(&r, mmio(true, 0xfee00380, 0x7fffffff), LATE);
	for (int i = 0; i < 2 * PAIRS; i++) {
		struct dm_event ev = mmio(false, 0xfee00390, 0);

		if (i / 2 != odd_pair) {
			emit_exact(&r, ev, 0);
		} else {
			/* 1 ns per count from the odd instant. */
			ev.value = 0x7fffffff - (r.t - start - odd_late);
			ev.flags = DM_EV_VALUE;
			ev.time = r.t;
			ck_assert_int_eq(dm_trace_write(r.w, &ev, &err), 0);
			r.t += STEP;
		}
		if (i % 2 == 0)
			r.t -= STEP - PAIR;
	}
	rec_close(&r);
}

START_TEST(a_late_start_write_is_adopted_once)
{
	char path[64];
	struct dm_replay_stats s;

	record_late_start(path, sizeof(path), -1, 0);
	ck_assert_int_eq(replay(path, 0, &s), 1);
	ck_assert_uint_eq(s.divergences, 2 * PAIRS);
	ck_assert_int_eq(replay(path, NEAR, &s), 0);
	ck_assert_uint_eq(s.divergences, 0);
	ck_assert_uint_eq(adopted, 1);
	ck_assert_uint_eq(max_adopted, LATE);
	/* The first pair needed searches; every later read matches. */
	ck_assert_uint_eq(s.tolerated, 2);
	unlink(path);
}
END_TEST

START_TEST(a_read_needing_another_instant_diverges)
{
	char path[64];
	struct dm_replay_stats s;

	record_late_start(path, sizeof(path), 3, LATE + 2000);
	ck_assert_int_eq(replay(path, NEAR, &s), 1);
	ck_assert_uint_eq(s.divergences, 1);
	ck_assert_uint_eq(adopted, 1);
	unlink(path);
}
END_TEST

/*
 * A TMCCT pair of a kvmrun capture of the probe: KVM applied the TMICT
 * write 4879 ns after its line; the first read was computed at its line,
 * 10359 ns after the write's, the second 1593 ns later but logged 40 us
 * after the first (the host stopped the thread between KVM computing the
 * count and logging it).  Neither moving the write (it precedes the first
 * read) nor moving the second read alone (after the first read, the write
 * at its line gives too low a count) explains the pair; both together do.
 * A second read whose count no instant within the tolerance of its line
 * gives, the write moved as far as it may, still diverges.
 */
static void record_early_read(char *path, size_t n, uint64_t second_at)
{
	const uint64_t late = 4879, tmict = 0x100000;
	const uint64_t reads[2][2] = {{10359, 10359}, {50514, second_at}};
	struct rec r = {.t = 1000000};
	struct dm_error err;
	uint64_t line;

	rec_open(&r, path, n, "profile=datasheet");
	emit_exact(&r, mmio(true, 0xfee000f0, 0x1ff), 0);
	emit_exact(&r, mmio(true, 0xfee003e0, 0xb), 0); /* divide by 1 */
	line = r.t;
	emit_exact(&r, mmio(true, 0xfee00380, tmict), late);
	for (int i = 0; i < 2; i++) {
		struct dm_event ev = mmio(false, 0xfee00390, 0);

		ev.value = tmict - (reads[i][1] - late); /* 1 ns a count */
		ev.flags = DM_EV_VALUE;
		ev.time = line + reads[i][0];
		ck_assert_int_eq(dm_trace_write(r.w, &ev, &err), 0);
	}
	rec_close(&r);
}

START_TEST(a_read_logged_late_after_a_late_start_fits_both)
{
	char path[64];
	struct dm_replay_stats s;

	record_early_read(path, sizeof(path), 11952);
	ck_assert_int_eq(replay(path, 0, &s), 1);
	ck_assert_int_eq(replay(path, 200000, &s), 0);
	ck_assert_uint_eq(s.divergences, 0);
	ck_assert_uint_eq(adopted, 1);
	/* The second read sampled just after the first's line. */
	ck_assert_uint_eq(max_residual, 50514 - 10359 - 1);
	unlink(path);
	record_early_read(path, sizeof(path), 400000);
	ck_assert_int_eq(replay(path, 200000, &s), 1);
	ck_assert_uint_eq(s.divergences, 1);
	unlink(path);
}
END_TEST

/* Counter 2 in mode 3, loaded LSB then MSB, the MSB applied late after
 * its line; returns the MSB's line. */
static uint64_t load_counter2(struct rec *r, uint8_t lsb, uint8_t msb,
			      uint64_t late)
{
	uint64_t line;

	emit_exact(r, pio(true, 0x43, 0xb6), 0);
	emit_exact(r, pio(true, 0x42, lsb), 0);
	line = r->t;
	emit_exact(r, pio(true, 0x42, msb), late);
	return line;
}

/* path diverges when replayed exactly and replays clean within tol. */
static void assert_tolerated(const char *path, uint64_t tol,
			     struct dm_replay_stats *s)
{
	ck_assert_int_eq(replay(path, 0, s), 1);
	ck_assert_int_eq(replay(path, tol, s), 0);
	ck_assert_uint_eq(s->divergences, 0);
}

/*
 * KVM applies a PIT count load (counter 2, mode 3, count 265) 47.4 us
 * after its line; a latch 51 us after the line reads 0x101 a byte at a
 * time.  Moving the load, the latched count runs from 143 (at its line)
 * to 265 (just before the latch), so its low byte wraps from 0xff to
 * 0x00 between two points of the search's grid (1.6 us apart here, the
 * count matching for 0.8 us): the search must see that crossing.  (Here
 * moving the latch back as far gives the same count, and its search
 * crosses the wrap the same way.)
 */
START_TEST(a_latched_low_byte_that_wraps_is_found)
{
	struct rec r = {.t = 1000000};
	struct dm_replay_stats s;
	uint64_t msb;
	char path[64];

	rec_open(&r, path, sizeof(path), "profile=kvm");
	msb = load_counter2(&r, 0x09, 0x01, 47400);
	r.t = msb + 51000;
	emit_exact(&r, pio(true, 0x43, 0x80), 0);
	r.t = msb + 52800;
	emit_exact(&r, pio(false, 0x42, 0), 0);
	r.t = msb + 54200;
	emit_exact(&r, pio(false, 0x42, 0), 0);
	rec_close(&r);

	/* Moving the latch back as far gives the same count. */
	assert_tolerated(path, 200000, &s);
	ck_assert_uint_ge(s.tolerated, 1);
	unlink(path);
}
END_TEST

/*
 * A read-back that latches only counter 2's status (0xe8): KVM took it
 * 150 us after its line, which is 20 us after the count of 365 (mode 3,
 * a half period of 153 us) was loaded, so the status's OUT bit is low
 * where the line's instant has it high.  The read-back is the sample the
 * status read shows, and moves as a count latch does, within the
 * tolerance only.
 */
START_TEST(a_status_read_back_taken_late_is_found)
{
	struct rec r = {.t = 1000000};
	struct dm_replay_stats s;
	uint64_t loaded;
	char path[64];

	rec_open(&r, path, sizeof(path), "profile=kvm");
	loaded = load_counter2(&r, 0x6d, 0x01, 0);
	r.t = loaded + 20000;
	emit_exact(&r, pio(true, 0x43, 0xe8), 150000);
	r.t = loaded + 200000;
	emit_exact(&r, pio(false, 0x42, 0), 0);
	rec_close(&r);

	ck_assert_int_eq(replay(path, 50000, &s), 1);
	assert_tolerated(path, 200000, &s);
	ck_assert_uint_ge(s.tolerated, 1);
	unlink(path);
}
END_TEST

/*
 * KVM's mode 3 count (count - 2 x ticks mod count) wraps at every half
 * period.  Counter 2 loaded with 443 (a half period of 186 us); the
 * host stopped the vcpu 200 us before the latch's line, and the latch
 * sampled the count 184 us after the load: 5, just after a wrap.  The
 * latch's search, stepping back from its line, passes from 436 to 7 over
 * that wrap; 5 lies between 7 and the wrap, which the step does not
 * bracket: the search must look inside a step that runs against the
 * count's way.
 */
START_TEST(a_mode3_count_past_its_half_period_wrap_is_found)
{
	struct rec r = {.t = 1000000};
	struct dm_replay_stats s;
	struct dm_outcome o;
	struct dm_error err;
	struct dm_event latch = pio(true, 0x43, 0x80);
	uint64_t msb;
	char path[64];

	rec_open(&r, path, sizeof(path), "profile=kvm");
	msb = load_counter2(&r, 0xbb, 0x01, 0);
	latch.time = msb + 184000;
	ck_assert_int_eq(dm_replay_step(r.m, &latch, &o, &err), 0);
	latch.time = msb + 200190;
	ck_assert_int_eq(dm_trace_write(r.w, &latch, &err), 0);
	r.t = msb + 202214;
	emit_exact(&r, pio(false, 0x42, 0), 0);
	r.t = msb + 203376;
	emit_exact(&r, pio(false, 0x42, 0), 0);
	rec_close(&r);

	assert_tolerated(path, 200000, &s);
	/* Some instant of the 838 ns tick that reads 5 (219 ticks). */
	ck_assert_uint_ge(max_residual, 200190 - 184383);
	ck_assert_uint_le(max_residual, 200190 - 183544);
	unlink(path);
}
END_TEST

/* ---- an intack taken before its line -------------------------------- */

#define US 1000

struct step {
	uint64_t line, applied; /* ns: in the trace, and in truth */
	struct dm_event ev;
};

static int by_applied(const void *a, const void *b)
{
	const struct step *x = a, *y = b;

	return (x->applied > y->applied) - (x->applied < y->applied);
}

static int by_line(const void *a, const void *b)
{
	const struct step *x = a, *y = b;

	return (x->line > y->line) - (x->line < y->line);
}

static struct dm_event edge(int level)
{
	return (struct dm_event){.op = DM_OP_IRQ,
				 .actor = DM_ACTOR_DEV,
				 .addr = 10,
				 .value = (uint64_t)level,
				 .flags = DM_EV_VALUE};
}

static struct dm_event intack(void)
{
	return (struct dm_event){.op = DM_OP_INTACK, .actor = DM_ACTOR_CPU};
}

/*
 * IOAPIC pin 10 (edge, vector 0x31) gets two edges 30 us apart before the
 * vcpu's intack line; in truth the vcpu took the first between them (KVM
 * injects at entry, the line comes later), so the second edge set IRR
 * again and the vcpu took it after its EOI.  Applied in true order,
 * written in line order.
 */
static void record_early_intack(char *path, size_t n)
{
	const uint64_t t0 = 1000000;
	struct step st[] = {
		{0, 0, mmio(true, 0xfee000f0, 0x1ff)},
		{1, 1, mmio(true, 0xfec00000, 0x24)},
		{2, 2, mmio(true, 0xfec00010, 0x31)},
		{3, 3, mmio(true, 0xfec00000, 0x25)},
		{4, 4, mmio(true, 0xfec00010, 0)},
		{t0, t0, mmio(false, 0xfee00080, 0)},
		{t0 + 10 * US, t0 + 10 * US, edge(1)},
		{t0 + 12 * US, t0 + 12 * US, edge(0)},
		{t0 + 40 * US, t0 + 40 * US, edge(1)},
		{t0 + 42 * US, t0 + 42 * US, edge(0)},
		{t0 + 50 * US, t0 + 20 * US, intack()},
		{t0 + 60 * US, t0 + 60 * US, mmio(true, 0xfee000b0, 0)},
		{t0 + 70 * US, t0 + 70 * US, intack()},
		{t0 + 80 * US, t0 + 80 * US, mmio(true, 0xfee000b0, 0)},
	};
	size_t count = sizeof(st) / sizeof(st[0]);
	struct rec r = {0};
	struct dm_error err;

	rec_open(&r, path, n, "profile=datasheet");
	qsort(st, count, sizeof(st[0]), by_applied);
	for (size_t i = 0; i < count; i++) {
		struct dm_outcome o;

		st[i].ev.time = st[i].applied;
		ck_assert_int_eq(dm_replay_step(r.m, &st[i].ev, &o, &err), 0);
		if (o.has_actual) {
			ck_assert(st[i].ev.op != DM_OP_INTACK ||
				  o.actual == 0x31);
			st[i].ev.value = o.actual;
			st[i].ev.flags = DM_EV_VALUE;
		}
		st[i].ev.time = st[i].line;
	}
	qsort(st, count, sizeof(st[0]), by_line);
	for (size_t i = 0; i < count; i++)
		ck_assert_int_eq(dm_trace_write(r.w, &st[i].ev, &err), 0);
	rec_close(&r);
}

START_TEST(an_intack_taken_before_its_line_moves_back)
{
	char path[64];
	struct dm_replay_stats s;

	record_early_intack(path, sizeof(path));
	/* At its line the first intack follows both edges, which merge: the
	 * second finds nothing. */
	ck_assert_int_eq(replay(path, 0, &s), 1);
	ck_assert_uint_eq(s.divergences, 1);
	/* Moved back between the edges, it leaves the second its own. */
	ck_assert_int_eq(replay(path, 50 * US, &s), 0);
	ck_assert_uint_eq(adopted, 1);
	ck_assert_uint_gt(max_adopted, 10 * US);
	ck_assert_uint_lt(max_adopted, 40 * US);
	/* Not when the tolerance cannot reach past the second edge. */
	ck_assert_int_eq(replay(path, 5 * US, &s), 1);
	unlink(path);
}
END_TEST

/* ---- dev thread events are no neighbours ----------------------------- */

static struct dm_event loop_run(int running)
{
	return (struct dm_event){.op = DM_OP_THREAD,
				 .actor = DM_ACTOR_DEV,
				 .value = (uint64_t)running,
				 .flags = DM_EV_VALUE};
}

/* Applies the steps in true order and writes them in line order. */
static void record_steps(struct step *st, size_t count, char *path, size_t n)
{
	struct rec r = {0};
	struct dm_error err;

	rec_open(&r, path, n, "profile=datasheet");
	qsort(st, count, sizeof(st[0]), by_applied);
	for (size_t i = 0; i < count; i++) {
		struct dm_outcome o;

		st[i].ev.time = st[i].applied;
		ck_assert_int_eq(dm_replay_step(r.m, &st[i].ev, &o, &err), 0);
		if (o.has_actual) {
			st[i].ev.value = o.actual;
			st[i].ev.flags = DM_EV_VALUE;
		}
		st[i].ev.time = st[i].line;
	}
	qsort(st, count, sizeof(st[0]), by_line);
	for (size_t i = 0; i < count; i++)
		ck_assert_int_eq(dm_trace_write(r.w, &st[i].ev, &err), 0);
	rec_close(&r);
}

/*
 * QEMU's main loop ran (dev thread 0) between the instants KVM applied a
 * TMICT write, computed a PM timer read and latched a PIT count, and
 * their lines, 30 and 12 us later: each moves back past those events
 * (the TMICT write beyond the 15 us tolerance, as a start write may).
 * Past an access a read still may not (the last one).
 */
START_TEST(dev_thread_events_are_no_neighbours)
{
	const uint64_t t0 = 1000000;
	struct step st[] = {
		{t0, t0, mmio(true, 0xfee000f0, 0x1ff)},
		{t0 + 100 * US, t0 + 100 * US, mmio(true, 0xfee003e0, 0xb)},
		{t0 + 230 * US, t0 + 200 * US, mmio(true, 0xfee00380, 1000000)},
		{t0 + 205 * US, t0 + 205 * US, loop_run(0)},
		{t0 + 210 * US, t0 + 210 * US, loop_run(1)},
		{t0 + 300 * US, t0 + 300 * US, mmio(false, 0xfee00390, 0)},
		{t0 + 302 * US, t0 + 302 * US, mmio(false, 0xfee00080, 0)},
		{t0 + 412 * US, t0 + 400 * US, pio(false, 0xb008, 0)},
		{t0 + 404 * US, t0 + 404 * US, loop_run(0)},
		{t0 + 408 * US, t0 + 408 * US, loop_run(1)},
		{t0 + 500 * US, t0 + 500 * US, pio(true, 0x43, 0x34)},
		{t0 + 510 * US, t0 + 510 * US, pio(true, 0x40, 0x50)},
		{t0 + 520 * US, t0 + 520 * US, pio(true, 0x40, 0xc3)},
		{t0 + 612 * US, t0 + 600 * US, pio(true, 0x43, 0x00)},
		{t0 + 604 * US, t0 + 604 * US, loop_run(0)},
		{t0 + 608 * US, t0 + 608 * US, loop_run(1)},
		{t0 + 620 * US, t0 + 620 * US, pio(false, 0x40, 0)},
		{t0 + 630 * US, t0 + 630 * US, pio(false, 0x40, 0)},
		{t0 + 712 * US, t0 + 700 * US, pio(false, 0xb008, 0)},
		{t0 + 706 * US, t0 + 706 * US, mmio(false, 0xfee00080, 0)},
	};
	char path[64];
	struct dm_replay_stats s;

	record_steps(st, sizeof(st) / sizeof(st[0]), path, sizeof(path));
	ck_assert_int_eq(replay(path, 15 * US, &s), 1);
	ck_assert_uint_eq(s.divergences, 1); /* the PM read behind the TPR */
	ck_assert_uint_eq(s.threads, 6);
	ck_assert_uint_eq(adopted, 1); /* TMICT, 30 us earlier */
	ck_assert_uint_eq(max_adopted, 30 * US);
	ck_assert_uint_eq(s.tolerated, 3); /* TMCCT at the write's move, PM,
					      the latch */
	unlink(path);
}
END_TEST

/*
 * A TMICT write applied 10 us late; QEMU's main loop ran 30 ns before the
 * first read's line, the read computed 100 ns before it; the second read,
 * boxed in by its neighbours, moves the write.  Checked again against the
 * moved write, the first read moves back past the dev thread event.
 */
START_TEST(an_earlier_read_rechecked_passes_dev_thread_events)
{
	const uint64_t t0 = 1000000;
	struct step st[] = {
		{t0, t0, mmio(true, 0xfee000f0, 0x1ff)},
		{t0 + 100 * US, t0 + 100 * US, mmio(true, 0xfee003e0, 0xb)},
		{t0 + 200 * US, t0 + 210 * US, mmio(true, 0xfee00380, 1000000)},
		{t0 + 228470, t0 + 228470, loop_run(1)},
		{t0 + 228500, t0 + 228400, mmio(false, 0xfee00390, 0)},
		{t0 + 230 * US, t0 + 230 * US, mmio(false, 0xfee00390, 0)},
		{t0 + 230050, t0 + 230050, mmio(false, 0xfee00080, 0)},
	};
	char path[64];
	struct dm_replay_stats s;

	record_steps(st, sizeof(st) / sizeof(st[0]), path, sizeof(path));
	ck_assert_int_eq(replay(path, 15 * US, &s), 0);
	ck_assert_uint_eq(adopted, 1);
	ck_assert_uint_eq(max_adopted, 10 * US);
	unlink(path);
}
END_TEST

/*
 * A TMICT write applied 11 us late, past two line changes and a dev thread
 * event right before the read: the read's sampling window begins at the
 * thread event, which the moved write passes; the window then begins at
 * the read instead, and the write is adopted.
 */
START_TEST(a_start_write_moves_past_a_window_of_dev_thread_events)
{
	const uint64_t t0 = 1000000;
	struct step st[] = {
		{t0, t0, mmio(true, 0xfee000f0, 0x1ff)},
		{t0 + 100 * US, t0 + 100 * US, mmio(true, 0xfee003e0, 0xb)},
		{t0 + 200 * US, t0 + 211 * US, mmio(true, 0xfee00380, 1000000)},
		{t0 + 203 * US, t0 + 203 * US, edge(1)},
		{t0 + 204 * US, t0 + 204 * US, edge(0)},
		{t0 + 208 * US, t0 + 208 * US, loop_run(0)},
		{t0 + 213 * US, t0 + 213 * US, mmio(false, 0xfee00390, 0)},
		{t0 + 216 * US, t0 + 216 * US, mmio(false, 0xfee00390, 0)},
	};
	char path[64];
	struct dm_replay_stats s;

	record_steps(st, sizeof(st) / sizeof(st[0]), path, sizeof(path));
	ck_assert_int_eq(replay(path, 15 * US, &s), 0);
	ck_assert_uint_eq(adopted, 1);
	ck_assert_uint_eq(max_adopted, 11 * US);
	unlink(path);
}
END_TEST

/* ---- the host frozen: either end of a silence ----------------------- */

/* sim mark KIND-LEN, one of the importer's host facts. */
static struct dm_event host_mark(const char *kind, uint64_t len)
{
	struct dm_event ev = {.op = DM_OP_MARK, .actor = DM_ACTOR_SIM};

	snprintf(ev.label, sizeof(ev.label), "%s-%llu", kind,
		 (unsigned long long)len);
	return ev;
}

/* sim mark host-silent-LEN: the host logged nothing for len ns before. */
static struct dm_event silence(uint64_t len)
{
	return host_mark("host-silent", len);
}

/*
 * A PIT latch (counter 0, mode 2, 50000) whose line the host's silence of
 * 735 us followed; KVM latched at applied us after the line.  Its bytes
 * are read 39 and 41 us after the silence, which a mark of len ends (0:
 * unmarked).
 */
static void record_silent_latch(char *path, size_t n, uint64_t applied,
				uint64_t len)
{
	const uint64_t t0 = 1000000, line = t0 + 100 * US;
	struct step st[] = {
		{t0, t0, pio(true, 0x43, 0x34)},
		{t0 + 10 * US, t0 + 10 * US, pio(true, 0x40, 0x50)},
		{t0 + 20 * US, t0 + 20 * US, pio(true, 0x40, 0xc3)},
		{line, line + applied, pio(true, 0x43, 0x00)},
		{line + 774 * US, line + 774 * US, pio(false, 0x40, 0)},
		{line + 776 * US, line + 776 * US, pio(false, 0x40, 0)},
		{line + 735 * US, line + 735 * US, silence(len)},
	};

	record_steps(st, sizeof(st) / sizeof(st[0]) - !len, path, n);
}

/*
 * The host stopped whole right after the latch's line (no line of any
 * CPU for 735 us), and KVM latched when it ran again, 2 us after the
 * silence's far end: beyond the tolerance from the line, within it from
 * the far end, which the mark gives.  Without the mark, or latched in the
 * middle of the silence (beyond the tolerance from either end), the read
 * diverges; so it does when the mark claims a silence longer than the
 * time before its end (a hostile trace), which is none.
 */
START_TEST(a_latch_at_the_far_end_of_a_silence_is_found)
{
	char path[64];
	struct dm_replay_stats s;

	record_silent_latch(path, sizeof(path), 737 * US, 735 * US);
	assert_tolerated(path, 200 * US, &s);
	ck_assert_uint_ge(s.tolerated, 1);
	/* The closest instant of the latched count, a PIT tick is 838 ns. */
	ck_assert_uint_gt(max_residual, 736 * US);
	ck_assert_uint_le(max_residual, 737 * US);
	unlink(path);
	record_silent_latch(path, sizeof(path), 737 * US, 0);
	ck_assert_int_eq(replay(path, 200 * US, &s), 1);
	unlink(path);
	record_silent_latch(path, sizeof(path), 400 * US, 735 * US);
	ck_assert_int_eq(replay(path, 200 * US, &s), 1);
	unlink(path);
	record_silent_latch(path, sizeof(path), 737 * US, UINT64_MAX);
	ck_assert_int_eq(replay(path, 200 * US, &s), 1);
	unlink(path);
}
END_TEST

/*
 * A TMICT write of a kvmrun capture whose line a silence of the host
 * (313715 ns) followed, applied 206185 ns after its line, 107.5 us before
 * the silence's end; the current count read at the silence's end, which
 * KVM computed 481 ns before it logged it, and again 2.7 us later.  The
 * first read alone fits the write 6.6 us late with the read sampled the
 * tolerance before its line; the second then fits no instant within the
 * tolerance of the write's line, one within the tolerance of the
 * silence's far end, with the first read sampled back past the mark.
 */
static void record_silent_start(char *path, size_t n, bool marked)
{
	const uint64_t t0 = 1000000, line = t0 + 200 * US;
	struct step st[] = {
		{t0, t0, mmio(true, 0xfee000f0, 0x1ff)},
		{t0 + 100 * US, t0 + 100 * US, mmio(true, 0xfee003e0, 0xb)},
		{line, line + 206185, mmio(true, 0xfee00380, 0x100000)},
		{line + 313715, line + 313234, mmio(false, 0xfee00390, 0)},
		{line + 316430, line + 316430, mmio(false, 0xfee00390, 0)},
		{line + 313714, line + 313714, silence(313714)},
	};

	record_steps(st, sizeof(st) / sizeof(st[0]) - !marked, path, n);
}

START_TEST(a_start_write_at_the_far_end_of_a_silence_is_adopted)
{
	char path[64];
	struct dm_replay_stats s;

	record_silent_start(path, sizeof(path), true);
	assert_tolerated(path, 200 * US, &s);
	ck_assert_uint_eq(adopted, 2);
	ck_assert_uint_eq(max_adopted, 206185);
	unlink(path);
	record_silent_start(path, sizeof(path), false);
	ck_assert_int_eq(replay(path, 200 * US, &s), 1);
	ck_assert_uint_eq(s.divergences, 1); /* the second read */
	unlink(path);
}
END_TEST

/* ---- a read QEMU served: anywhere in its service window ------------- */

/* sim mark qemu-window-0-LEN: vcpu 0's next read was computed within len
 * ns from here. */
static struct dm_event window(uint64_t len)
{
	return host_mark("qemu-window-0", len);
}

/*
 * An HPET counter read QEMU served whose window, from its exit to its
 * completion 1.6 ms later, held no line of any CPU (the host stopped);
 * QEMU computed it applied ns after the exit, the importer put it in the
 * middle.  The HPET's enable follows another access closely, as in the
 * probe, so that its own instant cannot explain a read.
 */
static void record_silent_window(char *path, size_t n, uint64_t applied,
				 bool marked)
{
	const uint64_t t0 = 1000000, exit = t0 + 200 * US;
	struct step st[] = {
		{t0 - 10 * US, t0 - 10 * US, mmio(false, 0xfee00080, 0)},
		{t0, t0, mmio(true, 0xfed00010, 1)},
		{t0 + 100 * US, t0 + 100 * US, mmio(false, 0xfee00080, 0)},
		{exit + 800 * US, exit + applied, mmio(false, 0xfed000f0, 0)},
		{exit, exit, window(1600 * US)},
	};

	record_steps(st, sizeof(st) / sizeof(st[0]) - !marked, path, n);
}

/*
 * 7 us after its exit, 793 us from the read's place: beyond the tolerance,
 * within the window the mark gives.  Without the mark it diverges; so
 * does a value of 300 us after the window's end, which no instant of the
 * window (its ends within the tolerance) gives.
 */
START_TEST(a_read_in_its_silent_service_window_is_found)
{
	char path[64];
	struct dm_replay_stats s;

	record_silent_window(path, sizeof(path), 7 * US, true);
	assert_tolerated(path, 200 * US, &s);
	/* The closest instant of that count: an HPET tick is 69.8 ns. */
	ck_assert_uint_gt(max_residual, 793 * US - 70);
	ck_assert_uint_le(max_residual, 793 * US);
	unlink(path);
	/* The window's end, the completion's line, is an instant within the
	 * tolerance, as any line's. */
	record_silent_window(path, sizeof(path), 1650 * US, true);
	assert_tolerated(path, 200 * US, &s);
	unlink(path);
	record_silent_window(path, sizeof(path), 7 * US, false);
	ck_assert_int_eq(replay(path, 200 * US, &s), 1);
	unlink(path);
	record_silent_window(path, sizeof(path), 1900 * US, true);
	ck_assert_int_eq(replay(path, 200 * US, &s), 1);
	unlink(path);
}
END_TEST

/* A window no search can span (a hostile trace's) is no window: the read
 * 793 us from its place diverges, as without a mark. */
START_TEST(a_window_too_long_is_none)
{
	const uint64_t t0 = 1000000, exit = t0 + 200 * US;
	struct step st[] = {
		{t0 - 10 * US, t0 - 10 * US, mmio(false, 0xfee00080, 0)},
		{t0, t0, mmio(true, 0xfed00010, 1)},
		{exit + 800 * US, exit + 7 * US, mmio(false, 0xfed000f0, 0)},
		{exit, exit, window(0x8000000000000000ULL)},
	};
	char path[64];
	struct dm_replay_stats s;

	record_steps(st, sizeof(st) / sizeof(st[0]), path, sizeof(path));
	ck_assert_int_eq(replay(path, 200 * US, &s), 1);
	ck_assert_uint_eq(s.divergences, 1);
	unlink(path);
}
END_TEST

/*
 * A read QEMU served (read at 0xfed000f0, the HPET's main counter, or
 * 0xfee00390, the LAPIC's current count) computed applied ns after its
 * exit (negative: before); the kvm-pit worker preempted the thread, its
 * IRQ0 edges 25 and 27 us after the exit (here pin 10's; or between
 * gives dev thread events, the worker's run), and the
 * importer put the read after the switch back, 45 us after the exit; the
 * window ends at the completion, 50 us after it.
 */
static void record_preempted_read(char *path, size_t n, uint64_t read,
				  int64_t applied,
				  struct dm_event (*between)(int))
{
	const uint64_t t0 = 1000000, exit = t0 + 300 * US;
	struct step st[] = {
		{t0, t0, mmio(true, 0xfed00010, 1)},
		{t0 + 10 * US, t0 + 10 * US, mmio(true, 0xfee000f0, 0x1ff)},
		{t0 + 20 * US, t0 + 20 * US, mmio(true, 0xfee003e0, 0xb)},
		{t0 + 30 * US, t0 + 30 * US, mmio(true, 0xfee00380, 1000000)},
		{exit - 3 * US, exit - 3 * US, mmio(false, 0xfee00080, 0)},
		{exit, exit, window(50 * US)},
		{exit + 25 * US, exit + 25 * US, between(1)},
		{exit + 27 * US, exit + 27 * US, between(0)},
		{exit + 45 * US, (uint64_t)((int64_t)exit + applied),
		 mmio(false, read, 0)},
	};

	record_steps(st, sizeof(st) / sizeof(st[0]), path, n);
}

/*
 * The HPET counter read computed 5 us after its exit passes the edges,
 * or the thread's run, which cannot change it; so does one computed 1 us before
 * the exit (the exit's line is an instant within the tolerance too), after the
 * event before it.  A read they may change is not moved past them: the LAPIC's
 * current count computed 1 us after the exit diverges (44 us from its
 * place: the TMICT write 20 us late and the read 20 us early do not
 * reach), as does a
 * counter read computed before the event before the window.
 */
START_TEST(a_read_served_before_a_preemption_passes_line_changes)
{
	char path[64];
	struct dm_replay_stats s;

	record_preempted_read(path, sizeof(path), 0xfed000f0, 5 * US, edge);
	assert_tolerated(path, 20 * US, &s);
	ck_assert_uint_gt(max_residual, 40 * US - 70);
	ck_assert_uint_le(max_residual, 40 * US);
	unlink(path);
	record_preempted_read(path, sizeof(path), 0xfed000f0, 5 * US, loop_run);
	assert_tolerated(path, 20 * US, &s);
	unlink(path);
	record_preempted_read(path, sizeof(path), 0xfed000f0, -1 * US, edge);
	assert_tolerated(path, 20 * US, &s);
	ck_assert_uint_gt(max_residual, 46 * US - 70);
	ck_assert_uint_le(max_residual, 46 * US);
	unlink(path);
	record_preempted_read(path, sizeof(path), 0xfee00390, 1 * US, edge);
	ck_assert_int_eq(replay(path, 20 * US, &s), 1);
	unlink(path);
	record_preempted_read(path, sizeof(path), 0xfee00390, 1 * US, loop_run);
	ck_assert_int_eq(replay(path, 20 * US, &s), 1);
	unlink(path);
	record_preempted_read(path, sizeof(path), 0xfed000f0, -4 * US, edge);
	ck_assert_int_eq(replay(path, 20 * US, &s), 1);
	unlink(path);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tolerance");
	TCase *tc = tcase_create("tolerance");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, jittered_capture_matches_within_tolerance);
	tcase_add_test(tc, a_value_no_instant_gives_still_diverges);
	tcase_add_test(tc, a_late_start_write_is_adopted_once);
	tcase_add_test(tc, a_read_needing_another_instant_diverges);
	tcase_add_test(tc, a_read_logged_late_after_a_late_start_fits_both);
	tcase_add_test(tc, a_latched_low_byte_that_wraps_is_found);
	tcase_add_test(tc, a_status_read_back_taken_late_is_found);
	tcase_add_test(tc, a_mode3_count_past_its_half_period_wrap_is_found);
	tcase_add_test(tc, an_intack_taken_before_its_line_moves_back);
	tcase_add_test(tc, dev_thread_events_are_no_neighbours);
	tcase_add_test(tc, an_earlier_read_rechecked_passes_dev_thread_events);
	tcase_add_test(tc,
		       a_start_write_moves_past_a_window_of_dev_thread_events);
	tcase_add_test(tc, a_latch_at_the_far_end_of_a_silence_is_found);
	tcase_add_test(tc,
		       a_start_write_at_the_far_end_of_a_silence_is_adopted);
	tcase_add_test(tc, a_read_in_its_silent_service_window_is_found);
	tcase_add_test(tc, a_window_too_long_is_none);
	tcase_add_test(tc,
		       a_read_served_before_a_preemption_passes_line_changes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return dm_test_main(suite());
}
