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
#include <time.h>
#include <unistd.h>

#include "replay/replay.h"

#define CONFIG "profile=datasheet"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const struct dm_error *err)
{
	fprintf(stderr, "bench_replay: %s: %s\n", what, err->msg);
	exit(2);
}

struct gen {
	struct dm_machine *m;
	struct dm_trace_writer *w;
	uint64_t t;
	uint64_t n;
	uint64_t target;
	uint64_t rng;
};

static uint64_t next_rand(struct gen *g)
{
	g->rng ^= g->rng << 13;
	g->rng ^= g->rng >> 7;
	g->rng ^= g->rng << 17;
	return g->rng;
}

/* Applies one port access to the model and records it with its value. */
static void emit(struct gen *g, bool write, uint16_t port, uint8_t value)
{
	struct dm_event ev = {
		.time = g->t,
		.addr = port,
		.value = value,
		.actor = DM_ACTOR_CPU,
		.op = write ? DM_OP_PIO_W : DM_OP_PIO_R,
		.size = 1,
		.flags = DM_EV_VALUE,
	};
	struct dm_outcome o;
	struct dm_error err;

	if (dm_replay_step(g->m, &ev, &o, &err))
		die("generate", &err);
	if (!write)
		ev.value = o.actual;
	if (dm_trace_write(g->w, &ev, &err))
		die("write", &err);
	g->n++;
	g->t += 200 + next_rand(g) % 1800;
}

static void program(struct gen *g, unsigned ch, unsigned mode, uint16_t n)
{
	emit(g, true, 0x43, (uint8_t)(ch << 6 | 0x30 | mode << 1));
	emit(g, true, 0x40 + ch, (uint8_t)n);
	emit(g, true, 0x40 + ch, (uint8_t)(n >> 8));
}

static void generate(const char *path, uint64_t target)
{
	struct gen g = { .target = target, .rng = 0x9e3779b97f4a7c15ULL };
	struct dm_config cfg;
	struct dm_error err;

	dm_config_defaults(&cfg, DM_PROFILE_DATASHEET);
	if (dm_machine_create(&g.m, &cfg, &err))
		die("machine", &err);
	if (dm_trace_create(&g.w, path, DM_TRACE_BINARY, CONFIG, &err))
		die(path, &err);
	emit(&g, true, 0x61, 0x01);
	program(&g, 0, 2, 11932);
	program(&g, 2, 3, 1193);
	while (g.n < target) {
		switch (next_rand(&g) % 8) {
		case 0:
			program(&g, (unsigned)(next_rand(&g) % 3) & 2,
				(unsigned)(next_rand(&g) % 6),
				(uint16_t)(2 + next_rand(&g) % 60000));
			break;
		case 1:
			emit(&g, true, 0x43, 0xC2 | 0x08); /* count+status */
			emit(&g, false, 0x40, 0);
			emit(&g, false, 0x40, 0);
			emit(&g, false, 0x40, 0);
			emit(&g, false, 0x42, 0);
			emit(&g, false, 0x42, 0);
			emit(&g, false, 0x42, 0);
			break;
		case 2:
			emit(&g, false, 0x61, 0);
			break;
		case 3:
			emit(&g, false, 0x42, 0); /* live, byte by byte */
			emit(&g, false, 0x42, 0);
			break;
		default:
			emit(&g, true, 0x43, 0x00); /* latch and read */
			emit(&g, false, 0x40, 0);
			emit(&g, false, 0x40, 0);
			break;
		}
	}
	if (dm_trace_finish(g.w, &err))
		die(path, &err);
	dm_machine_destroy(g.m);
}

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
			fprintf(stderr, "bench_replay: divergence at event "
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

static double best_of_3(uint64_t (*fn)(const char *), const char *path,
			uint64_t *events)
{
	double best = 1e30;

	for (int i = 0; i < 3; i++) {
		double t0 = now_s(), dt;

		*events = fn(path);
		dt = now_s() - t0;
		if (dt < best)
			best = dt;
	}
	return best;
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
