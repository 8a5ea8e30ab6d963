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
 *   - migrate-check at every event boundary in memory, on the same
 *     trace, on one thread and on one per CPU, and --via-db on a trace of
 *     EVENTS/10 events (SQLite makes it slower), each against plain
 *     replay of the same trace; the in-memory runs and their baseline are
 *     the best of three.
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

static uint64_t replay_events(const char *trace)
{
	struct dm_replay_opts opts = {.out = devnull()};
	struct dm_replay_stats rs;
	struct dm_error err;

	if (dm_replay_file(trace, &opts, &rs, &err))
		die(trace, &err);
	return rs.events;
}

/* Threads for the in-memory migrate-check runs. */
static unsigned jobs = 1;

/* migrate-check at every event boundary, through db when not NULL. */
static uint64_t migrate_through(const char *trace, const char *db)
{
	struct dm_migrate_opts opts = {.every = 1, .jobs = db ? 1 : jobs};
	struct dm_migrate_result res;
	struct dm_error err;

	if (db) {
		remove_db(db);
		if (dm_store_open(&opts.store, db, true, &err))
			die(db, &err);
	}
	if (dm_migrate_check(trace, &opts, &res, &err))
		die(trace, &err);
	if (db && dm_store_close(opts.store, &err))
		die(db, &err);
	if (res.diverged) {
		fprintf(stderr,
			"%s: migrate-check diverged at event %" PRIu64 "\n",
			trace, res.event);
		exit(1);
	}
	return res.events;
}

static uint64_t migrate_in_memory(const char *trace)
{
	return migrate_through(trace, NULL);
}

static void report_migrate(const char *what, uint64_t events, double dt,
			   double base)
{
	printf("%-25s %8" PRIu64 " migrations  in %6.3f s = %9.0f events/s "
	       "(%.1fx replay)\n",
	       what, events, dt, (double)events / dt, dt / base);
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
	char trace[4096], small[4096], db[4096], what[64];
	struct dm_replay_stats rs;
	struct dm_store_stats ss;
	uint64_t n;
	double base, dt, cpu, t0;

	snprintf(trace, sizeof(trace), "%s/bench-ckpt-%" PRIu64 ".dmt", dir,
		 events);
	snprintf(small, sizeof(small), "%s/bench-ckpt-%" PRIu64 ".dmt", dir,
		 events / 10);
	snprintf(db, sizeof(db), "%s/bench-ckpt.db", dir);
	ensure_trace(trace, events);
	ensure_trace(small, events / 10);

	base = best_of_3(replay_events, trace, &n);
	printf("replay, no database       %8" PRIu64
	       " events      in %6.3f s = %9.0f events/s\n",
	       n, base, (double)n / base);
	dt = replay(trace, db, 1000, &rs, &ss, &cpu);
	report_db(1000, db, dt, cpu, &rs, &ss);
	dt = replay(trace, db, 1, &rs, &ss, &cpu);
	report_db(1, db, dt, cpu, &rs, &ss);

	dt = best_of_3(migrate_in_memory, trace, &n);
	report_migrate("migrate-check every event", n, dt, base);
	jobs = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	snprintf(what, sizeof(what), "  ... --jobs %u (CPUs)", jobs);
	dt = best_of_3(migrate_in_memory, trace, &n);
	report_migrate(what, n, dt, base);
	base = best_of_3(replay_events, small, &n);
	t0 = now_s();
	n = migrate_through(small, db);
	report_migrate("  ... --via-db", n, now_s() - t0, base);
	remove_db(db);
	return 0;
}
