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

static void use_lossy_pit(struct dm_machine *m)
{
	lossy_pit = dm_pit_state_desc;
	lossy_pit.post_load = lose_nmi_ctl;
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

static Suite *suite(void)
{
	Suite *s = suite_create("migrate");
	TCase *tc = tcase_create("migrate");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, every_scenario_survives_migration_at_every_event);
	tcase_add_test(tc, a_forgotten_latch_is_caught);
	tcase_add_test(tc, a_state_that_does_not_restore_is_caught);
	tcase_add_test(tc, bad_input_is_exit_2);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return dm_test_main(suite());
}
