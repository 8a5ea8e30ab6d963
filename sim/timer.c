// SPDX-License-Identifier: MIT
#include "sim/timer.h"

#include <stdint.h>
#include <stdlib.h>

/* Heap order: earlier deadline first, then lower rank. */
static int timer_before(const struct dm_timer *a, const struct dm_timer *b)
{
	if (a->when != b->when)
		return a->when < b->when;
	return a->rank < b->rank;
}

static void heap_place(struct dm_eventq *q, size_t i, struct dm_timer *t)
{
	q->heap[i] = t;
	t->slot = (int32_t)i;
}

static void sift_up(struct dm_eventq *q, size_t i)
{
	struct dm_timer *t = q->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!timer_before(t, q->heap[parent]))
			break;
		heap_place(q, i, q->heap[parent]);
		i = parent;
	}
	heap_place(q, i, t);
}

static void sift_down(struct dm_eventq *q, size_t i)
{
	struct dm_timer *t = q->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= q->len)
			break;
		if (child + 1 < q->len &&
		    timer_before(q->heap[child + 1], q->heap[child]))
			child++;
		if (!timer_before(q->heap[child], t))
			break;
		heap_place(q, i, q->heap[child]);
		i = child;
	}
	heap_place(q, i, t);
}

static void heap_remove(struct dm_eventq *q, struct dm_timer *t)
{
	size_t i = (size_t)t->slot;
	struct dm_timer *last = q->heap[--q->len];

	t->slot = -1;
	if (last == t)
		return;
	heap_place(q, i, last);
	sift_down(q, i);
	sift_up(q, (size_t)last->slot);
}

void dm_eventq_init(struct dm_eventq *q)
{
	*q = (struct dm_eventq){0};
}

void dm_eventq_destroy(struct dm_eventq *q)
{
	free(q->heap);
	*q = (struct dm_eventq){0};
}

void dm_timer_init(struct dm_timer *t, struct dm_eventq *q, dm_timer_fn fire,
		   void *opaque)
{
	struct dm_timer **heap;

	*t = (struct dm_timer){
		.when = DM_TIME_NEVER,
		.q = q,
		.fire = fire,
		.opaque = opaque,
		.rank = q->next_rank++,
		.slot = -1,
	};
	/* Reserve heap room now, so arming never allocates on the hot path. */
	if (q->next_rank > q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 16;

		heap = realloc(q->heap, cap * sizeof(*heap));
		if (!heap)
			abort();
		q->heap = heap;
		q->cap = cap;
	}
}

void dm_timer_cancel(struct dm_timer *t)
{
	if (t->slot >= 0)
		heap_remove(t->q, t);
	t->when = DM_TIME_NEVER;
}

void dm_timer_arm(struct dm_timer *t, uint64_t when)
{
	struct dm_eventq *q = t->q;

	if (when == DM_TIME_NEVER) {
		dm_timer_cancel(t);
		return;
	}
	t->when = when;
	if (t->slot < 0) {
		q->heap[q->len] = t;
		t->slot = (int32_t)q->len++;
		sift_up(q, (size_t)t->slot);
		return;
	}
	sift_down(q, (size_t)t->slot);
	sift_up(q, (size_t)t->slot);
}

void dm_eventq_cancel_within(struct dm_eventq *q, const void *base, size_t len)
{
	const uint8_t *lo = base;
	size_t i = 0;

	/* A removal moves other timers around the heap: rescan from the top. */
	while (i < q->len) {
		const uint8_t *p = (const uint8_t *)q->heap[i];

		if (p >= lo && p < lo + len) {
			dm_timer_cancel(q->heap[i]);
			i = 0;
		} else {
			i++;
		}
	}
}

uint64_t dm_eventq_run_until(struct dm_eventq *q, uint64_t now)
{
	return dm_eventq_run_budget(q, now, UINT64_MAX);
}

uint64_t dm_eventq_run_budget(struct dm_eventq *q, uint64_t now, uint64_t max)
{
	uint64_t fired = 0;

	while (fired < max && q->len && q->heap[0]->when <= now) {
		struct dm_timer *t = q->heap[0];
		uint64_t when = t->when;

		heap_remove(q, t);
		t->when = DM_TIME_NEVER;
		t->fire(t->opaque, when);
		fired++;
	}
	return fired;
}
