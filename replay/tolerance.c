// SPDX-License-Identifier: MIT
#include "replay/tolerance.h"

#include <stdlib.h>
#include <string.h>

#include "models/hpet.h"
#include "replay/replay.h"

/* Coarse grid points on each side of 0; matches between two grid points
 * are found by bisection, counters being monotonic over short spans. */
#define GRID 32

void dm_tolerance_init(struct dm_tolerance *t, uint64_t ns)
{
	*t = (struct dm_tolerance){.ns = ns};
}

void dm_tolerance_destroy(struct dm_tolerance *t)
{
	free(t->anchor);
	t->anchor = NULL;
}

static bool is_pit_port(const struct dm_event *ev)
{
	return (ev->op == DM_OP_PIO_R || ev->op == DM_OP_PIO_W) &&
	       ev->addr >= 0x40 && ev->addr <= 0x43;
}

/* A counter-latch command, or a read-back that latches a count. */
static bool latches_pit(const struct dm_event *ev)
{
	uint8_t v = (uint8_t)ev->value;

	if (ev->op != DM_OP_PIO_W || ev->addr != 0x43)
		return false;
	if (v >> 6 == 3)
		return !(v & 0x20);
	return ((v >> 4) & 3) == 0;
}

#define HPET_CONFIG 0x10

static bool is_hpet(const struct dm_event *ev)
{
	return (ev->op == DM_OP_MMIO_R || ev->op == DM_OP_MMIO_W) &&
	       ev->addr - DM_HPET_BASE < 0x400;
}

/* A write of the HPET's General Configuration register with ENABLE_CNF
 * clear: the main counter keeps the value of that instant. */
static bool halts_hpet(const struct dm_event *ev)
{
	return ev->op == DM_OP_MMIO_W &&
	       ev->addr == DM_HPET_BASE + HPET_CONFIG && !(ev->value & 1);
}

/* events[0] sampled the time that the outputs following it show. */
static bool sampled_by_first(const struct dm_tolerance *t,
			     const struct dm_event *ev)
{
	return (t->latch_open && is_pit_port(ev) && !latches_pit(ev)) ||
	       (t->halt_open && is_hpet(ev) &&
		ev->addr != DM_HPET_BASE + HPET_CONFIG);
}

int dm_tolerance_before(struct dm_tolerance *t, const struct dm_machine *m,
			const struct dm_event *ev, struct dm_error *err)
{
	/* Keep the checkpoint before a latch or a halt of the HPET while
	 * the reads of what it sampled follow. */
	if (t->nevents < DM_TOL_WINDOW && sampled_by_first(t, ev)) {
		t->events[t->nevents++] = *ev;
		return 0;
	}
	free(t->anchor);
	t->anchor = dm_machine_save(m, &t->anchor_len);
	if (!t->anchor)
		return dm_errorf(err, "out of memory for a tolerance "
				      "checkpoint");
	t->floor_ns = m->clock.now;
	t->latch_open = latches_pit(ev);
	t->halt_open = halts_hpet(ev);
	t->events[0] = *ev;
	t->nevents = 1;
	return 0;
}

bool dm_tolerance_applies(const struct dm_machine *m, const struct dm_event *ev)
{
	static const char *const timed[] = {"pit", "rtc", "pmtimer", "hpet"};
	const struct dm_device *d;

	if (ev->op == DM_OP_INTACK || dm_op_is_signal(ev->op))
		return true;
	if (!dm_op_is_read(ev->op))
		return false;
	d = dm_replay_device_for(m, ev);
	if (!d)
		return false;
	if (!strncmp(d->name, "lapic", 5))
		return true;
	for (size_t i = 0; i < sizeof(timed) / sizeof(timed[0]); i++)
		if (!strcmp(d->name, timed[i]))
			return true;
	return false;
}

struct search {
	struct dm_tolerance *t;
	unsigned k;	/* the event moved */
	uint64_t want;	/* the trace's value */
	int64_t lo, hi; /* allowed deltas */
};

/* Replays the window with events[k] moved by delta; returns the last
 * event's outcome value, or -1 if it cannot be computed. */
static int trial(const struct search *s, int64_t delta, uint64_t *value)
{
	struct dm_tolerance *t = s->t;
	struct dm_machine *m;
	struct dm_error err;
	struct dm_outcome o = {0};
	int rc = 0;

	if (dm_machine_restore(&m, NULL, t->anchor, t->anchor_len, &err))
		return -1;
	for (unsigned j = 0; j < t->nevents && !rc; j++) {
		struct dm_event e = t->events[j];

		if (j == s->k)
			e.time = (uint64_t)((int64_t)e.time + delta);
		rc = dm_replay_step(m, &e, &o, &err);
	}
	dm_machine_destroy(m);
	if (rc || o.fault || !o.has_actual)
		return -1;
	*value = o.actual;
	return 0;
}

static bool between(uint64_t want, uint64_t a, uint64_t b)
{
	return (a <= want && want <= b) || (b <= want && want <= a);
}

/* Bisects (a, b), the outcome crossing want, for an exact match. */
static bool bisect(const struct search *s, int64_t a, uint64_t va, int64_t b,
		   int64_t *found)
{
	while (llabs(b - a) > 1) {
		int64_t mid = a + (b - a) / 2;
		uint64_t v;

		if (trial(s, mid, &v))
			return false;
		if (v == s->want) {
			*found = mid;
			return true;
		}
		if (between(s->want, va, v)) {
			b = mid;
		} else {
			a = mid;
			va = v;
		}
	}
	return false;
}

/* Grid points outward from 0; the first exact hit is the closest. */
static bool search(const struct search *s, int64_t *found)
{
	int64_t step = (s->hi - s->lo) / (2 * GRID) + 1;
	uint64_t v0, prev[2];
	bool have[2] = {false, false};

	if (!trial(s, 0, &v0)) {
		prev[0] = prev[1] = v0;
		have[0] = have[1] = true;
	}
	for (int64_t n = 1; n <= GRID + 1; n++) {
		for (int side = 0; side < 2; side++) {
			int64_t d = side ? -n * step : n * step;
			uint64_t v;

			if (d < s->lo || d > s->hi || trial(s, d, &v)) {
				have[side] = false;
				continue;
			}
			if (v == s->want) {
				*found = d;
				return true;
			}
			if (have[side] && between(s->want, prev[side], v) &&
			    bisect(s, d - (side ? -step : step), prev[side], d,
				   found))
				return true;
			prev[side] = v;
			have[side] = true;
		}
	}
	return false;
}

static void record(struct dm_tolerance *t, int64_t delta)
{
	uint64_t mag = (uint64_t)(delta < 0 ? -delta : delta);
	unsigned b = 0;

	while (b + 1 < DM_TOL_BUCKETS && mag >= (1000ULL << b))
		b++;
	t->histogram[b]++;
	t->accepted++;
	if (mag > t->max_residual_ns)
		t->max_residual_ns = mag;
}

bool dm_tolerance_rescue(struct dm_tolerance *t, const struct dm_event *ev)
{
	struct search s = {t, t->nevents - 1, ev->value, 0, 0};
	uint64_t prev, next = UINT64_MAX, at;
	int64_t found;

	if (!t->anchor || !t->nevents || !(ev->flags & DM_EV_VALUE))
		return false;
	/* A latched PIT count was sampled by the latch command, a halted
	 * HPET main counter by the write that halted it. */
	if (t->nevents > 1 && sampled_by_first(t, ev))
		s.k = 0;
	at = t->events[s.k].time;
	prev = s.k ? t->events[s.k - 1].time : t->floor_ns;
	if (s.k + 1 < t->nevents)
		next = t->events[s.k + 1].time;
	s.lo = -(int64_t)(at - prev < t->ns ? at - prev : t->ns);
	s.hi = (int64_t)(next - at < t->ns ? next - at : t->ns);
	if (!search(&s, &found))
		return false;
	record(t, found);
	return true;
}
