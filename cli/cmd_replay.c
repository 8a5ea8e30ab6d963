// SPDX-License-Identifier: MIT
/* dmsim replay TRACE [--machine OPTS] [--json] */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "replay/replay.h"
#include "replay/store.h"

static void usage(FILE *f)
{
	fputs("usage: dmsim replay TRACE [--machine OPTS] [--tolerance-ns T] "
	      "[--json] [--show N]\n"
	      "                    [--save-state FILE] "
	      "[--db FILE [--checkpoint-every N]]\n\n"
	      "Replays TRACE (text or binary; - for stdin) against the "
	      "models, checks every\n"
	      "read value, accepted vector and state hash it records, and "
	      "reports each\n"
	      "divergence with the state of the device that produced it.\n\n"
	      "  --machine OPTS  machine options applied after the trace's "
	      "machine line,\n"
	      "                  e.g. 'pit=kvm' (docs/profiles.md lists "
	      "them)\n"
	      "  --tolerance-ns T accept a time-derived output (PIT, HPET, PM "
	      "timer,\n"
	      "                  LAPIC, RTC reads, accepted vectors) that "
	      "some instant\n"
	      "                  within T ns of its timestamp reproduces "
	      "(captured traces)\n"
	      "  --save-state F  write the final machine state to F (a "
	      "checkpoint file\n"
	      "                  for dmsim diff)\n"
	      "  --json          one JSON object on stdout instead of text\n"
	      "  --show N        divergences shown with full device state "
	      "(default 5)\n"
	      "  --db FILE       record the run and its checkpoints in the "
	      "SQLite database\n"
	      "                  FILE (created if missing; docs/database.md); "
	      "a checkpoint\n"
	      "                  follows every 'sim mark' event\n"
	      "  --checkpoint-every N  ... and every Nth event\n\n"
	      "exit status: 0 all checks passed, 1 divergence, 2 bad usage "
	      "or input\n",
	      f);
}

/* Opens --db around the replay; closing commits the last batch. */
static int replay_db(const char *path, const char *db,
		     struct dm_replay_opts *opts, struct dm_replay_stats *stats,
		     struct dm_error *err)
{
	struct dm_error cerr;
	int rc;

	if (db && dm_store_open(&opts->store, db, true, err))
		return DM_EXIT_USAGE;
	rc = dm_replay_file(path, opts, stats, err);
	if (dm_store_close(opts->store, &cerr) && rc != DM_EXIT_USAGE) {
		*err = cerr;
		rc = DM_EXIT_USAGE;
	}
	return rc;
}

int dm_cmd_replay(int argc, char **argv)
{
	struct dm_replay_opts opts = {.max_reported = 5, .out = stdout};
	struct dm_replay_stats stats;
	struct dm_error err = {""};
	const char *path = NULL, *db = NULL;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return DM_EXIT_OK;
		} else if (!strcmp(argv[i], "--json")) {
			opts.json = true;
		} else if (!strcmp(argv[i], "--machine") && i + 1 < argc) {
			opts.machine_opts = argv[++i];
		} else if (!strcmp(argv[i], "--save-state") && i + 1 < argc) {
			opts.save_state = argv[++i];
		} else if (!strcmp(argv[i], "--tolerance-ns") && i + 1 < argc) {
			if (sscanf(argv[++i], "%" SCNu64, &opts.tolerance_ns) !=
			    1) {
				fprintf(stderr,
					"dmsim replay: bad "
					"--tolerance-ns '%s'\n",
					argv[i]);
				return DM_EXIT_USAGE;
			}
		} else if (!strcmp(argv[i], "--show") && i + 1 < argc) {
			if (sscanf(argv[++i], "%u", &opts.max_reported) != 1) {
				fprintf(stderr,
					"dmsim replay: bad --show "
					"'%s'\n",
					argv[i]);
				return DM_EXIT_USAGE;
			}
		} else if (!strcmp(argv[i], "--db") && i + 1 < argc) {
			db = argv[++i];
		} else if (!strcmp(argv[i], "--checkpoint-every") &&
			   i + 1 < argc) {
			if (sscanf(argv[++i], "%" SCNu64,
				   &opts.checkpoint_every) != 1 ||
			    !opts.checkpoint_every || argv[i][0] == '-') {
				fprintf(stderr,
					"dmsim replay: bad "
					"--checkpoint-every '%s'\n",
					argv[i]);
				return DM_EXIT_USAGE;
			}
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "dmsim replay: unknown option '%s'\n",
				argv[i]);
			usage(stderr);
			return DM_EXIT_USAGE;
		} else if (!path) {
			path = argv[i];
		} else {
			fprintf(stderr, "dmsim replay: one trace at a time\n");
			return DM_EXIT_USAGE;
		}
	}
	if (!path) {
		usage(stderr);
		return DM_EXIT_USAGE;
	}
	if (opts.checkpoint_every && !db) {
		fprintf(stderr,
			"dmsim replay: --checkpoint-every needs --db\n");
		return DM_EXIT_USAGE;
	}
	if (isatty(STDERR_FILENO))
		opts.progress = stderr;
	rc = replay_db(path, db, &opts, &stats, &err);
	if (rc == DM_EXIT_USAGE)
		fprintf(stderr, "dmsim replay: %s\n", err.msg);
	return rc;
}
