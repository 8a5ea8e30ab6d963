/* SPDX-License-Identifier: MIT */
/*
 * The PIT-heavy workload the benchmarks share: counter-latch-and-read
 * loops, read-back of count and status, live two-byte reads, port 0x61
 * polls and reprogramming of counters 0 and 2, every read carrying the
 * value the model produced while generating it (so replay checks them
 * all).  A header of static functions: each benchmark is one program.
 */
#ifndef DM_BENCH_PIT_WORKLOAD_H
#define DM_BENCH_PIT_WORKLOAD_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "replay/replay.h"

#define PIT_WORKLOAD_CONFIG "profile=datasheet"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The fastest of three runs of fn over path, which returns its event
 * count: the other two absorb a busy host's interruptions. */
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

static void die(const char *what, const struct dm_error *err)
{
	fprintf(stderr, "%s: %s\n", what, err->msg);
	exit(2);
}

struct gen {
	struct dm_machine *m;
	struct dm_trace_writer *w;
	uint64_t t;
	uint64_t n;
	uint64_t rng;
};

static uint64_t next_rand(struct gen *g)
{
	g->rng ^= g->rng << 13;
	g->rng ^= g->rng >> 7;
	g->rng ^= g->rng << 17;
	return g->rng;
}

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

static void one_burst(struct gen *g)
{
	switch (next_rand(g) % 8) {
	case 0:
		program(g, (unsigned)(next_rand(g) % 3) & 2,
			(unsigned)(next_rand(g) % 6),
			(uint16_t)(2 + next_rand(g) % 60000));
		break;
	case 1:
		emit(g, true, 0x43, 0xC2 | 0x08); /* count+status, ch0 */
		for (int i = 0; i < 3; i++)
			emit(g, false, 0x40, 0);
		break;
	case 2:
		emit(g, false, 0x61, 0);
		break;
	case 3:
		emit(g, false, 0x42, 0); /* live, byte by byte */
		emit(g, false, 0x42, 0);
		break;
	default:
		emit(g, true, 0x43, 0x00); /* latch and read */
		emit(g, false, 0x40, 0);
		emit(g, false, 0x40, 0);
		break;
	}
}

/* Writes a binary trace of at least target events to path. */
static void generate(const char *path, uint64_t target)
{
	struct gen g = {.rng = 0x9e3779b97f4a7c15ULL};
	struct dm_config cfg;
	struct dm_error err;

	dm_config_defaults(&cfg, DM_PROFILE_DATASHEET);
	if (dm_machine_create(&g.m, &cfg, &err))
		die("machine", &err);
	if (dm_trace_create(&g.w, path, DM_TRACE_BINARY, PIT_WORKLOAD_CONFIG,
			    &err))
		die(path, &err);
	emit(&g, true, 0x61, 0x01);
	program(&g, 0, 2, 11932);
	program(&g, 2, 3, 1193);
	while (g.n < target)
		one_burst(&g);
	if (dm_trace_finish(g.w, &err))
		die(path, &err);
	dm_machine_destroy(g.m);
}

#endif
