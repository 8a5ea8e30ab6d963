// SPDX-License-Identifier: MIT
/*
 * Checkpoint store throughput on a PIT-heavy binary trace.
 *
 * usage: bench_checkpoint [EVENTS] [DIR]
 *
 * Generates (unless it exists) DIR/bench-ckpt-EVENTS.dmt: EVENTS PIT
 * accesses (latch-and-read loops, read-back, live reads, port 0x61 polls
 * and reprogramming) with every read's value recorded from the model, as
 * bench_replay does.  Then measures, each in a fresh database in DIR:
 *
 *   - dmsim replay without a database (the baseline);
 *   - --checkpoint-every 1000 and --checkpoint-every 1: checkpoints/s,
 *     MB/s written (database size after close / wall time) and the dedup
 *     ratio (blob rows / (checkpoints x devices));
 *   - migrate-check at every event boundary, in memory and --via-db, on
 *     the first EVENTS/10 events, against replay of the same events.
 *
 * docs/database.md records the figures.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "replay/migrate.h"
#include "replay/replay.h"
#include "replay/store.h"

#include "pit_workload.h"

/* CPU seconds (user + system) used so far: wall time also counts other
 * loads on the machine and the disk's writeback. */
static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* ---- measurements ---------------------------------------------------- */

static FILE *devnull(void)
{
	static FILE *f;

	if (!f)
		f = fopen("/dev/null", "w");
	return f;
}

static uint64_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : (uint64_t)st.st_size;
}

static void remove_db(const char *db)
{
	char p[4096];

	remove(db);
	snprintf(p, sizeof(p), "%s-wal", db);
	remove(p);
	snprintf(p, sizeof(p), "%s-shm", db);
	remove(p);
}

/* One replay, with a database when every is not 0; returns seconds, and
 * the CPU seconds in *cpu. */
static double replay(const char *trace, const char *db, uint64_t every,
		     struct dm_replay_stats *rs, struct dm_store_stats *ss,
		     double *cpu)
{
	struct dm_replay_opts opts = {.out = devnull(),
				      .checkpoint_every = every};
	struct dm_error err;
	double t0 = now_s(), c0 = cpu_s();

	if (every) {
		remove_db(db);
		if (dm_store_open(&opts.store, db, true, &err))
			die(db, &err);
	}
	if (dm_replay_file(trace, &opts, rs, &err))
		die(trace, &err);
	if (every) {
		dm_store_stats(opts.store, ss);
		if (dm_store_close(opts.store, &err))
			die(db, &err);
	}
	*cpu = cpu_s() - c0;
	return now_s() - t0;
}

static void report_db(uint64_t every, const char *db, double dt, double cpu,
		      const struct dm_replay_stats *rs,
		      const struct dm_store_stats *ss)
{
	double mb = (double)file_size(db) / 1e6;

	printf("--checkpoint-every %-5" PRIu64 " %8" PRIu64
	       " events      in %6.3f s = %9.0f events/s\n"
	       "    %8" PRIu64 " checkpoints = %9.0f checkpoints/s "
	       "(%.0f per CPU second), %7.1f MB (%6.1f MB/s)\n"
	       "    dedup %.4f (%" PRIu64 " blobs / %" PRIu64
	       " refs), %.0f new blob bytes/checkpoint\n",
	       every, rs->events, dt, (double)rs->events / dt, ss->checkpoints,
	       (double)ss->checkpoints / dt, (double)ss->checkpoints / cpu, mb,
	       mb / dt, (double)ss->blobs_written / (double)ss->blob_refs,
	       ss->blobs_written, ss->blob_refs,
	       (double)ss->blob_bytes / (double)ss->checkpoints);
}

static double migrate(const char *trace, const char *db,
		      struct dm_migrate_result *res)
{
	struct dm_migrate_opts opts = {.every = 1};
	struct dm_error err;
	double t0 = now_s();

	if (db) {
		remove_db(db);
		if (dm_store_open(&opts.store, db, true, &err))
			die(db, &err);
	}
	if (dm_migrate_check(trace, &opts, res, &err))
		die(trace, &err);
	if (db && dm_store_close(opts.store, &err))
		die(db, &err);
	return now_s() - t0;
}

static void ensure_trace(const char *path, uint64_t events)
{
	double t0 = now_s();

	if (!access(path, R_OK))
		return;
	generate(path, events);
	printf("generated %s (%" PRIu64 " events) in %.2f s\n", path, events,
	       now_s() - t0);
}

int main(int argc, char **argv)
{
	uint64_t events = argc > 1 ? strtoull(argv[1], NULL, 0) : 1000000;
	const char *dir = argc > 2 ? argv[2] : ".";
	char trace[4096], small[4096], db[4096];
	struct dm_replay_stats rs;
	struct dm_store_stats ss;
	struct dm_migrate_result mr;
	double base, dt, ts, cpu;

	snprintf(trace, sizeof(trace), "%s/bench-ckpt-%" PRIu64 ".dmt", dir,
		 events);
	snprintf(small, sizeof(small), "%s/bench-ckpt-%" PRIu64 ".dmt", dir,
		 events / 10);
	snprintf(db, sizeof(db), "%s/bench-ckpt.db", dir);
	ensure_trace(trace, events);
	ensure_trace(small, events / 10);

	base = replay(trace, db, 0, &rs, &ss, &cpu);
	printf("replay, no database       %8" PRIu64
	       " events      in %6.3f s = %9.0f events/s\n",
	       rs.events, base, (double)rs.events / base);
	dt = replay(trace, db, 1000, &rs, &ss, &cpu);
	report_db(1000, db, dt, cpu, &rs, &ss);
	dt = replay(trace, db, 1, &rs, &ss, &cpu);
	report_db(1, db, dt, cpu, &rs, &ss);

	ts = replay(small, db, 0, &rs, &ss, &cpu);
	dt = migrate(small, NULL, &mr);
	printf("migrate-check every event %8" PRIu64
	       " migrations  in %6.3f s = %9.0f events/s (%.1fx replay)\n",
	       mr.migrations, dt, (double)mr.events / dt, dt / ts);
	dt = migrate(small, db, &mr);
	printf("  ... --via-db            %8" PRIu64
	       " migrations  in %6.3f s = %9.0f events/s (%.1fx replay)\n",
	       mr.migrations, dt, (double)mr.events / dt, dt / ts);
	remove_db(db);
	return 0;
}
