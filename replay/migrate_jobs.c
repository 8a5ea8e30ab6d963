// SPDX-License-Identifier: MIT
/*
 * migrate-check on several threads.  The trace is cut into slices of
 * whole migration periods, handed out in order.  A thread that takes a
 * slice brings a reference machine of its own up to the slice by plain
 * replay (a twentieth of the check's cost per event), makes the migration
 * due one period before the slice from that reference (dm_twin_skip), and
 * checks from there to the slice's end.  The period before the slice is
 * checked twice, by this thread and by the one with the slice before:
 * that way the twin enters the slice having changed exactly as a single
 * thread's twin would have since its last migration, so it rebuilds the
 * same devices and counts the same bytes.  A thread that takes the slice
 * right after its own last one just carries on.
 *
 * The answer is that of the first slice, in trace order, that ends the
 * check: the trace's end, a divergence or bad input.  Every slice before
 * it ran to its end, so the counts up to there are a single thread's, and
 * its report is the one a single thread would have printed.  Slices after
 * it are not needed: threads stop taking them, and abandon the ones they
 * have.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "replay/twin.h"

/* Events per slice: far more than a thread's set-up costs, few enough that
 * threads finish close together. */
#define SLICE_EVENTS 65536
/* Periods per slice at least: the one before each slice is checked twice. */
#define SLICE_PERIODS 16

struct slice {
	struct dm_migrate_result res; /* counts within the slice */
	int rc;			      /* 1 diverged, -1 bad input (err) */
	bool last;		      /* the trace ends in it */
	bool abandoned;		      /* a slice before it ended the check */
	struct dm_error err;
	char *text; /* its report */
	size_t len;
};

struct jobs {
	const char *path;
	const struct dm_config *cfg;
	const struct dm_migrate_opts *opts;
	uint64_t size; /* events per slice */
	pthread_mutex_t lock;
	struct slice **slices; /* by index, as handed out */
	size_t n, cap;
	uint64_t checked; /* events in the slices done, for the progress line */
	_Atomic uint64_t end; /* no slice after this one is needed */
};

/* One thread's machines and trace reader. */
struct worker {
	struct jobs *j;
	struct dm_trace_reader *r;
	struct dm_twin t;
	bool open;
	uint64_t prev; /* the slice it checked last */
};

static uint64_t slice_size(const struct dm_migrate_opts *opts)
{
	uint64_t want = opts->slice_events ? opts->slice_events : SLICE_EVENTS;
	uint64_t periods = (want + opts->every - 1) / opts->every;

	if (!opts->slice_events && periods < SLICE_PERIODS)
		periods = SLICE_PERIODS;
	return periods > UINT64_MAX / opts->every ? UINT64_MAX
						  : periods * opts->every;
}

/* Slice k ends the check: later ones are not needed. */
static void ends_check(struct jobs *j, uint64_t k)
{
	uint64_t end = atomic_load(&j->end);

	while (k < end && !atomic_compare_exchange_weak(&j->end, &end, k))
		;
}

/* The next slice, or NULL when none is needed; *k is its index. */
static struct slice *take(struct jobs *j, uint64_t *k)
{
	struct slice *s = NULL;

	pthread_mutex_lock(&j->lock);
	*k = j->n;
	/* A slice that starts past 2^64 events is never needed. */
	if (*k > UINT64_MAX / j->size)
		ends_check(j, *k - 1);
	if (*k <= atomic_load(&j->end) && j->n == j->cap) {
		size_t cap = j->cap ? 2 * j->cap : 64;
		struct slice **v = realloc(j->slices, cap * sizeof(*v));

		if (v) {
			j->slices = v;
			j->cap = cap;
		}
	}
	if (*k <= atomic_load(&j->end) && j->n < j->cap)
		s = calloc(1, sizeof(*s));
	if (s)
		j->slices[j->n++] = s;
	pthread_mutex_unlock(&j->lock);
	return s;
}

static bool wanted(struct jobs *j, uint64_t k)
{
	return k <= atomic_load_explicit(&j->end, memory_order_relaxed);
}

static int open_worker(struct worker *w, struct dm_error *err)
{
	if (dm_trace_open(&w->r, w->j->path, err))
		return -1;
	if (dm_twin_open(&w->t, w->j->cfg, w->j->opts, err)) {
		dm_trace_close(w->r);
		return -1;
	}
	w->open = true;
	return 0;
}

/*
 * Runs the trace up to event `to` (the reference alone up to `from`), or
 * to its end.  Returns 0 at `to`, 1 on a divergence, 2 at the end, 3 when
 * the slice is no longer wanted, -1 on bad input.
 */
static int advance(struct worker *w, uint64_t k, uint64_t from, uint64_t to,
		   struct dm_error *err)
{
	struct dm_twin *t = &w->t;
	struct dm_event ev;
	int rc = 0;

	while (!rc && t->index < to) {
		if (!wanted(w->j, k))
			return 3;
		rc = dm_trace_next(w->r, &ev, err);
		if (rc <= 0)
			return rc < 0 ? -1 : 2;
		rc = t->index < from ? dm_twin_skip(t, &ev, err)
				     : dm_twin_step(t, &ev, err);
	}
	return rc;
}

static void check_slice(struct worker *w, struct slice *s, uint64_t k)
{
	struct jobs *j = w->j;
	uint64_t start = k * j->size;
	uint64_t from = k && k != w->prev + 1 ? start - j->opts->every : start;
	struct dm_migrate_result before = {0};
	FILE *out;
	int rc;

	if (!w->open && open_worker(w, &s->err)) {
		s->rc = -1;
		ends_check(j, k);
		return;
	}
	out = j->opts->out ? open_memstream(&s->text, &s->len) : NULL;
	w->t.out = out;
	/* The period before the slice is the previous slice's to count. */
	w->t.res = &before;
	rc = advance(w, k, from, start, &s->err);
	if (rc)
		s->res = before;
	w->t.res = &s->res;
	if (!rc)
		rc = advance(w, k, start,
			     start > UINT64_MAX - j->size ? UINT64_MAX
							  : start + j->size,
			     &s->err);
	if (out)
		fclose(out);
	s->res.events = w->t.index > start ? w->t.index - start : 0;
	s->rc = rc == 1 || rc == -1 ? rc : 0;
	s->last = rc == 2;
	s->abandoned = rc == 3;
	if (s->last)
		s->res.state_hash = dm_machine_hash(w->t.ref);
	if (rc)
		ends_check(j, k);
	w->prev = k;
	pthread_mutex_lock(&j->lock);
	j->checked += s->res.events;
	dm_twin_progress(j->opts->progress, j->checked, false);
	pthread_mutex_unlock(&j->lock);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct slice *s;
	uint64_t k;

	w->prev = UINT64_MAX;
	while ((s = take(w->j, &k))) {
		check_slice(w, s, k);
		if (s->rc || s->last || s->abandoned)
			break;
	}
	if (w->open) {
		dm_twin_close(&w->t);
		dm_trace_close(w->r);
	}
	return NULL;
}

/* The first slice that ends the check gives the answer. */
static int merge(struct jobs *j, struct dm_migrate_result *res,
		 struct dm_error *err)
{
	for (size_t k = 0; k < j->n; k++) {
		const struct slice *s = j->slices[k];

		if (s->abandoned)
			break;
		res->events += s->res.events;
		res->migrations += s->res.migrations;
		res->bytes_saved += s->res.bytes_saved;
		if (s->res.migrations)
			res->migration = s->res.migration;
		if (!s->rc && !s->last)
			continue;
		if (s->rc < 0) {
			*err = s->err;
			return -1;
		}
		res->state_hash = s->res.state_hash;
		res->diverged = s->rc;
		res->event = s->res.event;
		res->time_ns = s->res.time_ns;
		res->reference = s->res.reference;
		res->migrated = s->res.migrated;
		if (s->len)
			fwrite(s->text, 1, s->len, j->opts->out);
		return s->rc;
	}
	return dm_errorf(err,
			 "out of memory: events from %" PRIu64
			 " on were not checked",
			 res->events);
}

static void free_slices(struct jobs *j)
{
	for (size_t k = 0; k < j->n; k++) {
		free(j->slices[k]->text);
		free(j->slices[k]);
	}
	free(j->slices);
}

int dm_migrate_jobs(const char *path, const struct dm_config *cfg,
		    const struct dm_migrate_opts *opts,
		    struct dm_migrate_result *res, struct dm_error *err)
{
	struct jobs j = {.path = path,
			 .cfg = cfg,
			 .opts = opts,
			 .size = slice_size(opts),
			 .lock = PTHREAD_MUTEX_INITIALIZER,
			 .end = UINT64_MAX};
	unsigned n = opts->jobs;
	struct worker *w = calloc(n, sizeof(*w));
	pthread_t *tid = calloc(n, sizeof(*tid));
	unsigned started = 0;
	int rc;

	if (!w || !tid) {
		free(w);
		free(tid);
		return dm_errorf(err, "out of memory for %u threads", n);
	}
	for (unsigned i = 0; i < n; i++)
		w[i].j = &j;
	/* This thread is one of them; fewer start if the system says no. */
	while (started + 1 < n &&
	       !pthread_create(&tid[started], NULL, work, &w[started + 1]))
		started++;
	work(&w[0]);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	dm_twin_progress(opts->progress, j.checked, true);
	rc = merge(&j, res, err);
	free_slices(&j);
	free(w);
	free(tid);
	return rc;
}
