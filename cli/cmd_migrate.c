// SPDX-License-Identifier: MIT
/* dmsim migrate-check TRACE [--every N | --at EVENT...] [--machine OPTS]
 * [--json] [--jobs N] [--via-db FILE] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "replay/migrate.h"
#include "replay/store.h"

#define MAX_AT 1024
#define MAX_JOBS 256

/* One thread per CPU this process may run on. */
static uint64_t cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > MAX_JOBS ? MAX_JOBS : (uint64_t)n;
}

static void usage(FILE *f)
{
	fputs("usage: dmsim migrate-check TRACE [--every N | --at EVENT...] "
	      "[--machine OPTS] [--json]\n"
	      "                           [--jobs N] [--via-db FILE]\n\n"
	      "Replays TRACE on a reference machine and, in lockstep, on a "
	      "twin that is\n"
	      "saved, destroyed and rebuilt from its checkpoint before the "
	      "chosen events\n"
	      "(every event by default).  Every output and the state hash "
	      "after every\n"
	      "event must match; the first difference is reported with the "
	      "migration\n"
	      "that caused it and the fields that differ.\n\n"
	      "  --every N      migrate before every Nth event (event "
	      "indices from 0)\n"
	      "  --at EVENT     migrate before this event (repeatable)\n"
	      "  --machine OPTS machine options after the trace's machine "
	      "line\n"
	      "  --json         one JSON object on stdout\n"
	      "  --jobs N       check on N threads (default: one per CPU); "
	      "the result is\n"
	      "                 the same for any N\n"
	      "  --via-db FILE  save the twin through the SQLite checkpoint "
	      "database FILE\n"
	      "                 (a run of its own) and rebuild it from what "
	      "it reads back\n\n"
	      "exit status: 0 identical, 1 the twin diverged, 2 bad usage "
	      "or input\n",
	      f);
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (!*s || *s == '-')
		return -1;
	*v = strtoull(s, &end, 0);
	return *end ? -1 : 0;
}

/* Opens --via-db around the check; closing commits the last batch. */
static int check_db(const char *path, const char *db,
		    struct dm_migrate_opts *opts, struct dm_migrate_result *res,
		    struct dm_error *err)
{
	struct dm_error cerr;
	int rc;

	if (db && dm_store_open(&opts->store, db, true, err))
		return DM_EXIT_USAGE;
	rc = dm_migrate_check(path, opts, res, err);
	if (dm_store_close(opts->store, &cerr) && rc != DM_EXIT_USAGE) {
		*err = cerr;
		rc = DM_EXIT_USAGE;
	}
	return rc;
}

int dm_cmd_migrate_check(int argc, char **argv)
{
	static uint64_t at[MAX_AT];
	struct dm_migrate_opts opts = {.every = 1, .at = at, .out = stdout};
	struct dm_migrate_result res;
	struct dm_error err = {""};
	const char *path = NULL, *db = NULL;
	bool every_given = false;
	uint64_t jobs = cpus();
	int rc;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return DM_EXIT_OK;
		} else if (!strcmp(a, "--json")) {
			opts.json = true;
		} else if (!strcmp(a, "--machine") && i + 1 < argc) {
			opts.machine_opts = argv[++i];
		} else if (!strcmp(a, "--every") && i + 1 < argc) {
			if (parse_u64(argv[++i], &opts.every) || !opts.every) {
				fprintf(stderr,
					"dmsim migrate-check: bad "
					"--every '%s'\n",
					argv[i]);
				return DM_EXIT_USAGE;
			}
			every_given = true;
		} else if (!strcmp(a, "--at") && i + 1 < argc) {
			if (opts.nat == MAX_AT ||
			    parse_u64(argv[++i], &at[opts.nat])) {
				fprintf(stderr,
					"dmsim migrate-check: bad or "
					"too many --at '%s'\n",
					argv[i]);
				return DM_EXIT_USAGE;
			}
			opts.nat++;
		} else if (!strcmp(a, "--jobs") && i + 1 < argc) {
			if (parse_u64(argv[++i], &jobs) || !jobs ||
			    jobs > MAX_JOBS) {
				fprintf(stderr,
					"dmsim migrate-check: bad --jobs '%s' "
					"(1 to %d)\n",
					argv[i], MAX_JOBS);
				return DM_EXIT_USAGE;
			}
		} else if (!strcmp(a, "--via-db") && i + 1 < argc) {
			db = argv[++i];
		} else if (a[0] == '-' && a[1]) {
			fprintf(stderr,
				"dmsim migrate-check: unknown option "
				"'%s'\n",
				a);
			usage(stderr);
			return DM_EXIT_USAGE;
		} else if (!path) {
			path = a;
		} else {
			fprintf(stderr, "dmsim migrate-check: one trace at a "
					"time\n");
			return DM_EXIT_USAGE;
		}
	}
	if (!path) {
		usage(stderr);
		return DM_EXIT_USAGE;
	}
	opts.jobs = (unsigned)jobs;
	if (isatty(STDERR_FILENO))
		opts.progress = stderr;
	/* --at alone means only those points. */
	if (opts.nat && !every_given)
		opts.every = 0;
	rc = check_db(path, db, &opts, &res, &err);
	if (rc == DM_EXIT_USAGE)
		fprintf(stderr, "dmsim migrate-check: %s\n", err.msg);
	return rc;
}
