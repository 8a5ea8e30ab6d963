/* SPDX-License-Identifier: MIT */
/*
 * The machine's event queue and the timers models arm on it.
 *
 * A model embeds one struct dm_timer per independent deadline it needs (the
 * PIT's OUT0 edge, an HPET comparator, a LAPIC timer).  The queue orders
 * armed timers by (when, rank).  The rank is fixed when the machine wires
 * its devices, so two deadlines on the same nanosecond always fire in the
 * same order, on every host and after every checkpoint restore, without a
 * sequence counter that would itself have to be checkpointed.
 *
 * A timer's deadline is migratable state: state tables declare it with
 * DM_FIELD_TIMER and loading a checkpoint re-arms it (sim/state.c).
 */
#ifndef DM_TIMER_H
#define DM_TIMER_H

#include <stddef.h>
#include <stdint.h>

#include "sim/clock.h"

struct dm_eventq;

typedef void (*dm_timer_fn)(void *opaque, uint64_t now);

struct dm_timer {
	uint64_t when; /* DM_TIME_NEVER when idle */
	struct dm_eventq *q;
	dm_timer_fn fire;
	void *opaque;
	uint32_t rank;
	int32_t slot; /* index in the heap, -1 when idle */
};

struct dm_eventq {
	struct dm_timer **heap;
	size_t len;
	size_t cap;
	uint32_t next_rank;
};

void dm_eventq_init(struct dm_eventq *q);
void dm_eventq_destroy(struct dm_eventq *q);

/* Binds a timer to a queue; ranks are handed out in call order. */
void dm_timer_init(struct dm_timer *t, struct dm_eventq *q, dm_timer_fn fire,
		   void *opaque);

/* Arms (or moves) the timer to fire at when; DM_TIME_NEVER cancels. */
void dm_timer_arm(struct dm_timer *t, uint64_t when);
void dm_timer_cancel(struct dm_timer *t);

static inline int dm_timer_pending(const struct dm_timer *t)
{
	return t->when != DM_TIME_NEVER;
}

/* Cancels every armed timer embedded in the len bytes at base (a model
 * about to be rebuilt in place). */
void dm_eventq_cancel_within(struct dm_eventq *q, const void *base, size_t len);

/* Deadline of the earliest armed timer, DM_TIME_NEVER if none. */
static inline uint64_t dm_eventq_next(const struct dm_eventq *q)
{
	return q->len ? q->heap[0]->when : DM_TIME_NEVER;
}

/*
 * Fires, in (when, rank) order, every timer whose deadline is <= now.  Each
 * callback gets its own deadline as "now" and may re-arm its timer (it must
 * re-arm strictly later, or the machine would never advance).  Returns the
 * number of timers fired.
 */
uint64_t dm_eventq_run_until(struct dm_eventq *q, uint64_t now);

/* As dm_eventq_run_until, firing at most max timers; returns the count. */
uint64_t dm_eventq_run_budget(struct dm_eventq *q, uint64_t now, uint64_t max);

#endif
