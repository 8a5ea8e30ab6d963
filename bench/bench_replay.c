// SPDX-License-Identifier: MIT
/*
 * Replay throughput on a PIT-heavy binary trace.
 *
 * usage: bench_replay [EVENTS] [TRACE]
 *
 * Generates (unless TRACE exists) a binary trace of EVENTS (default 10M)
 * PIT accesses: counter-latch-and-read loops, read-back of status and
 * count, live two-byte reads, port 0x61 polls and periodic mode changes,
 * with every read's expected value recorded by running the model while
 * generating, so the replay checks them all.  Then measures, in the same
 * run, decode-only throughput (the baseline) and full replay throughput,
 * each as the best of three passes, and prints both and their ratio.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "replay/replay.h"

#include "pit_workload.h"

static uint64_t decode_only(const char *path)
{
	struct dm_trace_reader *r;
	struct dm_event ev;
	struct dm_error err;
	uint64_t n = 0, sum = 0;
	int rc;

	if (dm_trace_open(&r, path, &err))
		die(path, &err);
	while ((rc = dm_trace_next(r, &ev, &err)) == 1) {
		sum += ev.value;
		n++;
	}
	if (rc < 0)
		die(path, &err);
	dm_trace_close(r);
	/* Keep the loop from being optimised away. */
	if (sum == 42)
		fputc(' ', stderr);
	return n;
}

static uint64_t replay(const char *path)
{
	struct dm_trace_reader *r;
	struct dm_machine *m;
	struct dm_config cfg;
	struct dm_event ev;
	struct dm_outcome o;
	struct dm_error err;
	uint64_t n = 0;
	int rc;

	if (dm_trace_open(&r, path, &err))
		die(path, &err);
	dm_config_defaults(&cfg, DM_PROFILE_DATASHEET);
	if (dm_config_parse(&cfg, dm_trace_config(r), &err) ||
	    dm_machine_create(&m, &cfg, &err))
		die("machine", &err);
	while ((rc = dm_trace_next(r, &ev, &err)) == 1) {
		if (dm_replay_step(m, &ev, &o, &err))
			die("replay", &err);
		if (o.mismatch) {
			fprintf(stderr,
				"bench_replay: divergence at event "
				"%" PRIu64 "\n",
				n);
			exit(1);
		}
		n++;
	}
	if (rc < 0)
		die(path, &err);
	dm_machine_destroy(m);
	dm_trace_close(r);
	return n;
}

int main(int argc, char **argv)
{
	uint64_t target = argc > 1 ? strtoull(argv[1], NULL, 0) : 10000000;
	const char *path = argc > 2 ? argv[2] : "bench-pit.dmt";
	uint64_t nd, nr;
	double td, tr;

	if (access(path, R_OK)) {
		double t0 = now_s();

		generate(path, target);
		printf("generated %s (%" PRIu64 " events) in %.2f s\n", path,
		       target, now_s() - t0);
	}
	td = best_of_3(decode_only, path, &nd);
	tr = best_of_3(replay, path, &nr);
	printf("decode only: %" PRIu64 " events in %.3f s = %.1f M events/s\n",
	       nd, td, (double)nd / td / 1e6);
	printf("replay:      %" PRIu64 " events in %.3f s = %.1f M events/s "
	       "(every read checked, 0 divergences)\n",
	       nr, tr, (double)nr / tr / 1e6);
	printf("ratio replay/decode: %.2f\n", tr / td);
	return 0;
}
