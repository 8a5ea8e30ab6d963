// SPDX-License-Identifier: MIT
/*
 * The migration check over every scenario trace, migrating before every
 * event; and proof that it can fail: a PIT whose state table forgets the
 * count latch must be caught at the first event after a migration that
 * falls between a latch command and its reads.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay/migrate.h"
#include "testutil.h"

static bool is_trace(const char *name, size_t n)
{
	if (n > 7 && !strcmp(name + n - 7, ".expect"))
		return true;
	return n > 4 && !strcmp(name + n - 4, ".txt") &&
	       strncmp(name, "codec_", 6);
}

START_TEST(every_scenario_survives_migration_at_every_event)
{
	const char *dir = getenv("DMSIM_TRACES");
	struct dirent *e;
	unsigned checked = 0;
	DIR *d;

	ck_assert_ptr_nonnull(dir);
	d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		struct dm_migrate_opts opts = {.every = 1};
		struct dm_migrate_result res;
		struct dm_error err = {""};
		size_t n = strlen(e->d_name);

		/* Scenarios, and the traces the importers make of the
		 * committed real captures. */
		if (!is_trace(e->d_name, n))
			continue;
		ck_assert_msg(dm_migrate_check(dm_test_trace_path(e->d_name),
					       &opts, &res, &err) == 0,
			      "%s: %s (event %llu)", e->d_name, err.msg,
			      (unsigned long long)res.event);
		ck_assert(!res.diverged);
		ck_assert_uint_gt(res.events, 0);
		ck_assert_uint_eq(res.migrations, res.events);
		checked++;
	}
	closedir(d);
	ck_assert_uint_ge(checked, 20);
}
END_TEST

/* A test-only PIT state table without the channels' count_latch field. */
static struct dm_field forgetful_ch_fields[64];
static struct dm_state_desc forgetful_ch;
static struct dm_field forgetful_pit_fields[32];
static struct dm_state_desc forgetful_pit;

static void build_forgetful_pit(void)
{
	const struct dm_field *top = dm_pit_state_desc.fields;
	const struct dm_state_desc *ch = top[0].sub;
	size_t n = 0;

	ck_assert_str_eq(top[0].name, "ch");
	for (size_t i = 0; i < ch->nfields; i++)
		if (strcmp(ch->fields[i].name, "count_latch"))
			forgetful_ch_fields[n++] = ch->fields[i];
	ck_assert_uint_eq(n, ch->nfields - 1);
	forgetful_ch = *ch;
	forgetful_ch.fields = forgetful_ch_fields;
	forgetful_ch.nfields = n;
	memcpy(forgetful_pit_fields, top,
	       dm_pit_state_desc.nfields * sizeof(*top));
	forgetful_pit_fields[0].sub = &forgetful_ch;
	forgetful_pit = dm_pit_state_desc;
	forgetful_pit.fields = forgetful_pit_fields;
}

static void use_forgetful_pit(struct dm_machine *m)
{
	for (unsigned i = 0; i < m->ndevices; i++)
		if (!strcmp(m->devices[i].name, "pit"))
			m->devices[i].desc = &forgetful_pit;
}

START_TEST(a_forgotten_latch_is_caught)
{
	struct dm_migrate_opts opts = {.every = 1, .adjust = use_forgetful_pit};
	struct dm_migrate_result res;
	struct dm_error err = {""};
	uint64_t at = 7;

	build_forgetful_pit();
	/* pit_datasheet.txt latches counter 0 at event 5, latches again
	 * (ignored) at 6 and reads the latch at 7 and 8.  The twin restored
	 * before event 6 has no latch: its second latch command takes a
	 * fresh count, so the states differ right after event 6. */
	ck_assert_int_eq(
		dm_migrate_check(dm_test_trace_path("pit_datasheet.txt"), &opts,
				 &res, &err),
		1);
	ck_assert(res.diverged);
	ck_assert_uint_eq(res.event, 6);
	ck_assert_uint_eq(res.migration, 6);

	/* Migrating only between the latches and the read: the read at
	 * event 7 returns the live count instead of the latched one. */
	opts.every = 0;
	opts.at = &at;
	opts.nat = 1;
	ck_assert_int_eq(
		dm_migrate_check(dm_test_trace_path("pit_datasheet.txt"), &opts,
				 &res, &err),
		1);
	ck_assert_uint_eq(res.event, 7);
	ck_assert_uint_eq(res.migration, 7);
	ck_assert_uint_eq(res.migrations, 1);
}
END_TEST

/* A test-only PIT table whose load does not give back what was saved. */
static struct dm_state_desc lossy_pit;

static void lose_nmi_ctl(void *state)
{
	((struct dm_pit *)state)->nmi_ctl ^= 1;
}

static void build_lossy_pit(void)
{
	lossy_pit = dm_pit_state_desc;
	lossy_pit.post_load = lose_nmi_ctl;
}

static void use_lossy_pit(struct dm_machine *m)
{
	for (unsigned i = 0; i < m->ndevices; i++)
		if (!strcmp(m->devices[i].name, "pit"))
			m->devices[i].desc = &lossy_pit;
}

/*
 * A device the twin rebuilds into another state is caught at the
 * migration itself, named, with the field: migrate-check rebuilds only
 * devices that changed, which is sound only if rebuilding gives back what
 * was saved.
 */
START_TEST(a_state_that_does_not_restore_is_caught)
{
	struct dm_migrate_opts opts = {.every = 1, .adjust = use_lossy_pit};
	struct dm_migrate_result res;
	struct dm_error err = {""};
	char *text = NULL;
	size_t len = 0;

	build_lossy_pit();
	opts.out = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(opts.out);
	ck_assert_int_eq(
		dm_migrate_check(dm_test_trace_path("pit_datasheet.txt"), &opts,
				 &res, &err),
		1);
	fclose(opts.out);
	ck_assert(res.diverged);
	ck_assert_uint_eq(res.event, 0);
	ck_assert_ptr_nonnull(strstr(text, "does not restore pit"));
	ck_assert_ptr_nonnull(strstr(text, "pit.nmi_ctl: reference 0"));
	free(text);
}
END_TEST

START_TEST(bad_input_is_exit_2)
{
	struct dm_migrate_opts opts = {.every = 1};
	struct dm_migrate_result res;
	struct dm_error err = {""};

	ck_assert_int_eq(
		dm_migrate_check("/nonexistent/trace.txt", &opts, &res, &err),
		2);
	ck_assert_ptr_nonnull(strstr(err.msg, "nonexistent"));
	opts.machine_opts = "pit=bogus";
	ck_assert_int_eq(
		dm_migrate_check(dm_test_trace_path("pit_datasheet.txt"), &opts,
				 &res, &err),
		2);
	ck_assert_ptr_nonnull(strstr(err.msg, "pit"));
}
END_TEST

/* What a check reports, with its result. */
struct outcome {
	int rc;
	struct dm_migrate_result res;
	struct dm_error err;
	char *text;
};

static struct outcome check(const char *path, struct dm_migrate_opts opts)
{
	struct outcome o = {.err = {""}};
	size_t len = 0;

	opts.out = open_memstream(&o.text, &len);
	ck_assert_ptr_nonnull(opts.out);
	o.rc = dm_migrate_check(path, &opts, &o.res, &o.err);
	fclose(opts.out);
	return o;
}

/* Threads change how fast, never what: same result, same report. */
static void assert_same(const struct outcome *a, const struct outcome *b,
			const char *what)
{
	ck_assert_msg(a->rc == b->rc, "%s: exit %d, alone %d", what, b->rc,
		      a->rc);
	ck_assert_uint_eq(a->res.events, b->res.events);
	ck_assert_uint_eq(a->res.migrations, b->res.migrations);
	ck_assert_uint_eq(a->res.bytes_saved, b->res.bytes_saved);
	ck_assert_uint_eq(a->res.state_hash, b->res.state_hash);
	ck_assert_int_eq(a->res.diverged, b->res.diverged);
	ck_assert_uint_eq(a->res.event, b->res.event);
	ck_assert_uint_eq(a->res.time_ns, b->res.time_ns);
	ck_assert_uint_eq(a->res.migration, b->res.migration);
	ck_assert_uint_eq(a->res.reference, b->res.reference);
	ck_assert_uint_eq(a->res.migrated, b->res.migrated);
	ck_assert_msg(!strcmp(a->text, b->text), "%s: report\n%s\nalone\n%s",
		      what, b->text, a->text);
	ck_assert_str_eq(a->err.msg, b->err.msg);
}

static void free_outcome(struct outcome *o)
{
	free(o->text);
}

/* The check of path on jobs threads, slices of slice events, gives what
 * one thread gave (alone). */
static void assert_threads_agree(const char *path, struct dm_migrate_opts opts,
				 unsigned jobs, uint64_t slice,
				 const struct outcome *alone, const char *what)
{
	struct outcome many;

	opts.jobs = jobs;
	opts.slice_events = slice;
	many = check(path, opts);
	assert_same(alone, &many, what);
	free_outcome(&many);
}

/*
 * Scenarios and imported real captures, cut into slices of a few events
 * so that threads take many each, skip ahead and carry on, with a
 * migration every event and every third: counts, bytes, final hash and
 * report as one thread's.
 */
START_TEST(threads_give_the_same_answer_on_every_scenario)
{
	const char *names[] = {"pit_datasheet.txt",
			       "lapic_ipi_pingpong.txt",
			       "hpet_timers.txt",
			       "ioapic_level_msi.txt",
			       "rtc_cmos.txt",
			       "kvm_pit_reinject.txt",
			       "ftrace_off.expect",
			       "ftrace_probe.expect",
			       "qemu_seabios_q35.expect",
			       "qemu_tcg.expect"};
	const uint64_t every[] = {1, 3};
	const uint64_t slices[] = {1, 5, 16};

	for (size_t n = 0; n < sizeof(names) / sizeof(*names); n++)
		for (size_t e = 0; e < 2; e++) {
			struct dm_migrate_opts opts = {.every = every[e]};
			const char *path = dm_test_trace_path(names[n]);
			struct outcome alone = check(path, opts);

			ck_assert_int_eq(alone.rc, 0);
			ck_assert_uint_ne(alone.res.state_hash, 0);
			for (size_t k = 0; k < 3; k++)
				assert_threads_agree(path, opts, 3, slices[k],
						     &alone, names[n]);
			free_outcome(&alone);
		}
}
END_TEST

/*
 * The forgotten latch diverges at event 6 whatever the slices: a slice
 * that starts at 6 makes the migration before it from its own reference,
 * one that ends at 6 hands the divergence to a later slice, which is
 * ignored; later latch sequences in later slices diverge too, and are.
 */
START_TEST(threads_find_the_first_divergence)
{
	struct dm_migrate_opts opts = {.every = 1, .adjust = use_forgetful_pit};
	const char *path = dm_test_trace_path("pit_datasheet.txt");
	struct outcome alone;

	build_forgetful_pit();
	alone = check(path, opts);
	ck_assert_int_eq(alone.rc, 1);
	ck_assert_uint_eq(alone.res.event, 6);
	ck_assert_ptr_nonnull(
		strstr(alone.text, "first divergence at event 6"));
	for (uint64_t size = 1; size <= 9; size++)
		assert_threads_agree(path, opts, 2, size, &alone,
				     "forgotten latch");
	free_outcome(&alone);
}
END_TEST

START_TEST(threads_report_a_state_that_does_not_restore)
{
	struct dm_migrate_opts opts = {.every = 1, .adjust = use_lossy_pit};
	const char *path = dm_test_trace_path("pit_datasheet.txt");
	struct outcome alone;

	build_lossy_pit();
	alone = check(path, opts);
	ck_assert_int_eq(alone.rc, 1);
	assert_threads_agree(path, opts, 4, 2, &alone, "lossy pit");
	free_outcome(&alone);
}
END_TEST

/* A copy of pit_datasheet.txt with a malformed event after `after` events
 * (the file's first event lines). */
static void trace_with_bad_line(char *path, unsigned after)
{
	FILE *in = fopen(dm_test_trace_path("pit_datasheet.txt"), "r");
	int fd = mkstemp(path);
	FILE *out = fdopen(fd, "w");
	char line[512];
	unsigned events = 0;

	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(out);
	while (fgets(line, sizeof(line), in)) {
		bool event = line[0] >= '0' && line[0] <= '9';

		if (event && events++ == after)
			fputs("soon cpu0 pio.w 0x43 1 0x34\n", out);
		fputs(line, out);
	}
	fclose(in);
	fclose(out);
}

/* Bad input past several slices is the same error, named the same way,
 * as with one thread; the slices before it still count. */
START_TEST(threads_stop_at_bad_input)
{
	struct dm_migrate_opts opts = {.every = 1};
	char path[] = "/tmp/dmsim-migrate-XXXXXX";
	struct outcome alone;

	trace_with_bad_line(path, 20);
	alone = check(path, opts);
	ck_assert_int_eq(alone.rc, 2);
	ck_assert_msg(strstr(alone.err.msg, path), "%s", alone.err.msg);
	assert_threads_agree(path, opts, 3, 4, &alone, "bad line");
	unlink(path);
	free_outcome(&alone);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("migrate");
	TCase *tc = tcase_create("migrate");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, every_scenario_survives_migration_at_every_event);
	tcase_add_test(tc, a_forgotten_latch_is_caught);
	tcase_add_test(tc, a_state_that_does_not_restore_is_caught);
	tcase_add_test(tc, bad_input_is_exit_2);
	tcase_add_test(tc, threads_give_the_same_answer_on_every_scenario);
	tcase_add_test(tc, threads_find_the_first_divergence);
	tcase_add_test(tc, threads_report_a_state_that_does_not_restore);
	tcase_add_test(tc, threads_stop_at_bad_input);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return dm_test_main(suite());
}
