// SPDX-License-Identifier: MIT
#include "replay/tolerance.h"

#include <stdlib.h>
#include <string.h>

#include "models/hpet.h"
#include "models/pmtimer.h"
#include "replay/replay.h"

/* Coarse grid points on each side of 0; matches between two grid points
 * are found by bisection, counters being monotonic over short spans. */
#define GRID 32

#define NONE UINT64_MAX /* no event */

enum {
	BASE_PIT = 0,
	BASE_HPET = 3,
	BASE_RTC = 4,
	BASE_LAPIC = 5,
	BASE_INTACK = BASE_LAPIC + DM_MAX_VCPUS
};

#define HPET_CONFIG 0x10
#define LAPIC_TMICT 0x380  /* SDM 11.5.4: the initial count */
#define X2APIC_TMICT 0x838 /* ... as an x2APIC MSR */
#define RTC_REG_A 0x0a
#define HPET_COUNTER 0xf0 /* the main counter, 8 bytes */
#define PM_TMR 8	  /* the PM timer's count in its block */

void dm_tolerance_init(struct dm_tolerance *t, uint64_t ns)
{
	*t = (struct dm_tolerance){.ns = ns};
}

void dm_tolerance_destroy(struct dm_tolerance *t)
{
	free(t->ring);
	free(t->anchor);
	for (unsigned b = 0; b < DM_TOL_BASES; b++)
		free(t->starts[b].anchor);
	for (unsigned c = 0; c < DM_MAX_VCPUS; c++) {
		free(t->gaps[c].anchor);
		free(t->windows[c].anchor);
	}
	free(t->pulls);
	*t = (struct dm_tolerance){0};
}

static const struct dm_tol_event *event(const struct dm_tolerance *t,
					uint64_t n)
{
	return &t->ring[n % DM_TOL_SPAN];
}

#define SILENT "host-silent-"
#define WINDOW "qemu-window-"
#define WINDOW_MARK 1 /* a kept mark's addr: a read's window */

/* The length of the silence of the host that a mark ev ends, or 0: none,
 * or one no trace can hold (longer than the time before its end, or than
 * a search can span). */
static uint64_t silence_of(const struct dm_event *ev)
{
	uint64_t len;

	if (ev->op != DM_OP_MARK || strncmp(ev->label, SILENT, strlen(SILENT)))
		return 0;
	len = strtoull(ev->label + strlen(SILENT), NULL, 10);
	return len <= ev->time && len <= INT64_MAX / 4 ? len : 0;
}

/* A mark qemu-window-V-LEN: *cpu = V, *len = LEN. */
static bool window_of(const struct dm_event *ev, uint32_t *cpu, uint64_t *len)
{
	const char *p = ev->label + strlen(WINDOW);
	char *end;
	unsigned long v;

	if (ev->op != DM_OP_MARK || strncmp(ev->label, WINDOW, strlen(WINDOW)))
		return false;
	v = strtoul(p, &end, 10);
	if (end == p || *end != '-' || v >= DM_MAX_VCPUS)
		return false;
	*cpu = (uint32_t)v;
	*len = strtoull(end + 1, NULL, 10);
	/* A window longer than a search can span is no window. */
	return *len <= INT64_MAX / 4;
}

static void keep_event(struct dm_tolerance *t, const struct dm_event *ev,
		       int base, int gap)
{
	uint32_t cpu = ev->cpu;
	uint64_t len;
	bool window = window_of(ev, &cpu, &len);

	t->ring[t->seen++ % DM_TOL_SPAN] = (struct dm_tol_event){
		.time = ev->time,
		.addr = window		       ? WINDOW_MARK
			: ev->op == DM_OP_MARK ? 0
					       : ev->addr,
		.value = window			? len
			 : ev->op == DM_OP_MARK ? silence_of(ev)
						: ev->value,
		.cpu = cpu,
		.actor = ev->actor,
		.op = ev->op,
		.size = ev->size,
		.flags = ev->flags,
		.base = (int16_t)base,
		.gap = (int16_t)gap};
}

/* Event n as the replay applies it. */
static void expand(const struct dm_tolerance *t, uint64_t n, struct dm_event *e)
{
	const struct dm_tol_event *c = event(t, n);

	e->time = c->time;
	e->addr = c->addr;
	e->value = c->value;
	e->cpu = c->cpu;
	e->actor = c->actor;
	e->op = c->op;
	e->size = c->size;
	e->flags = c->flags;
	e->label[0] = '\0';
}

static bool is_pit_port(const struct dm_event *ev)
{
	return (ev->op == DM_OP_PIO_R || ev->op == DM_OP_PIO_W) &&
	       ev->addr >= 0x40 && ev->addr <= 0x43;
}

/* A counter-latch command, or a read-back that latches a count or a
 * status: a status holds OUT and NULL COUNT, which the time decides as
 * much as a count. */
static bool latches_pit(const struct dm_event *ev)
{
	uint8_t v = (uint8_t)ev->value;

	if (ev->op != DM_OP_PIO_W || ev->addr != 0x43)
		return false;
	if (v >> 6 == 3)
		return (v & 0x30) != 0x30;
	return ((v >> 4) & 3) == 0;
}

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

/* first sampled the time that the read ev shows: a PIT latch for the
 * reads of counts, an HPET halt for the counter's. */
static bool sampled_by(const struct dm_event *first, const struct dm_event *ev)
{
	return (latches_pit(first) && ev->op == DM_OP_PIO_R &&
		is_pit_port(ev)) ||
	       (halts_hpet(first) && ev->op == DM_OP_MMIO_R && is_hpet(ev) &&
		ev->addr != DM_HPET_BASE + HPET_CONFIG);
}

/* What first sampled is still there to read after ev: no write to the
 * device in between (the vcpu may take interrupts or halt before it
 * reads a latched count). */
static bool keeps_sample(const struct dm_event *first,
			 const struct dm_event *ev)
{
	if (latches_pit(ev) || halts_hpet(ev)) /* a sample of its own */
		return false;
	if (latches_pit(first))
		return !(ev->op == DM_OP_PIO_W && is_pit_port(ev));
	return halts_hpet(first) && !(ev->op == DM_OP_MMIO_W && is_hpet(ev));
}

/* The time base whose value an access reads or starts, or -1. */
static int base_of(const struct dm_machine *m, const struct dm_event *ev)
{
	const struct dm_device *d;

	if (ev->op == DM_OP_INTACK)
		return ev->cpu < DM_MAX_VCPUS ? BASE_INTACK + (int)ev->cpu : -1;
	if (!dm_op_is_read(ev->op) && ev->op != DM_OP_PIO_W &&
	    ev->op != DM_OP_MMIO_W && ev->op != DM_OP_MSR_W)
		return -1;
	d = dm_replay_device_for(m, ev);
	if (!d)
		return -1;
	if (!strcmp(d->name, "pit")) {
		if (ev->addr == 0x61) /* OUT2 */
			return BASE_PIT + 2;
		return ev->addr <= 0x42 ? BASE_PIT + (int)(ev->addr - 0x40)
					: -1;
	}
	if (!strcmp(d->name, "hpet"))
		return BASE_HPET;
	if (!strcmp(d->name, "rtc"))
		return BASE_RTC;
	if (!strncmp(d->name, "lapic", 5) && ev->cpu < DM_MAX_VCPUS)
		return BASE_LAPIC + (int)ev->cpu;
	return -1;
}

/* The base a write starts counting, or -1: the write completing a PIT
 * count (the last data byte written before the count runs), a LAPIC
 * TMICT write, an HPET enable, an RTC register A write (releasing the
 * divider). */
static int started_by(const struct dm_machine *m, const struct dm_event *ev)
{
	int b = base_of(m, ev);

	if (b < 0 || dm_op_is_read(ev->op) || ev->op == DM_OP_INTACK)
		return -1;
	if (b >= BASE_LAPIC)
		return (ev->op == DM_OP_MSR_W
				? ev->addr == X2APIC_TMICT
				: (ev->addr & 0xfff) == LAPIC_TMICT)
			       ? b
			       : -1;
	if (b == BASE_HPET)
		return ev->addr == DM_HPET_BASE + HPET_CONFIG && (ev->value & 1)
			       ? b
			       : -1;
	if (b == BASE_RTC)
		return ev->addr == 0x71 && m->rtc.index == RTC_REG_A ? b : -1;
	return ev->addr == 0x61 ? -1 : b;
}

static void *checkpoint(const struct dm_machine *m, size_t *len,
			struct dm_error *err)
{
	uint8_t *buf = dm_machine_save(m, len);

	if (!buf)
		dm_errorf(err, "out of memory for a tolerance checkpoint");
	return buf;
}

/*
 * The machine as an event finds it, saved at most once for that event:
 * a start write, a vcpu's gap and the sampling window may each keep it,
 * and a copy costs far less than a save.
 */
struct before {
	const struct dm_machine *m;
	uint8_t *buf;
	size_t len;
};

static void *dup_state(const void *buf, size_t len, struct dm_error *err)
{
	void *c = malloc(len);

	if (c)
		memcpy(c, buf, len);
	else
		dm_errorf(err, "out of memory for a tolerance checkpoint");
	return c;
}

/* A copy of the saved machine, of its own. */
static void *copy_before(struct before *b, size_t *len, struct dm_error *err)
{
	if (!b->buf && !(b->buf = checkpoint(b->m, &b->len, err)))
		return NULL;
	*len = b->len;
	return dup_state(b->buf, b->len, err);
}

/* The saved machine itself, for the last holder. */
static void *take_before(struct before *b, size_t *len, struct dm_error *err)
{
	void *buf = b->buf;

	if (!buf)
		return checkpoint(b->m, len, err);
	*len = b->len;
	b->buf = NULL;
	return buf;
}

static bool is_thread(const struct dm_tolerance *t, uint64_t n)
{
	return event(t, n)->op == DM_OP_THREAD;
}

/* A mark at the end of a silence of the host (its length in value). */
static bool is_silence(const struct dm_tolerance *t, uint64_t n)
{
	return event(t, n)->op == DM_OP_MARK && event(t, n)->addr == 0 &&
	       event(t, n)->value;
}

/* A mark of a read's service window (its vcpu in cpu, length in value). */
static bool is_window(const struct dm_tolerance *t, uint64_t n)
{
	return event(t, n)->op == DM_OP_MARK &&
	       event(t, n)->addr == WINDOW_MARK;
}

/* A fact about the host, not the guest: no neighbour of a move. */
static bool is_host(const struct dm_tolerance *t, uint64_t n)
{
	return is_thread(t, n) || is_silence(t, n) || is_window(t, n);
}

/* The time of the last event in [from, n) that is not about the host, or
 * floor_ns: how far back event n may move. */
static uint64_t prev_time(const struct dm_tolerance *t, uint64_t from,
			  uint64_t n, uint64_t floor_ns)
{
	while (n-- > from)
		if (!is_host(t, n))
			return event(t, n)->time;
	return floor_ns;
}

/* The time of the first event after n that is not about the host, or
 * NONE. */
static uint64_t next_time(const struct dm_tolerance *t, uint64_t n)
{
	while (++n < t->seen)
		if (!is_host(t, n))
			return event(t, n)->time;
	return NONE;
}

/*
 * The far end of a silence of the host longer than the tolerance that
 * began at event n's line, or NONE: the importer marks it at its end
 * (docs/importers.md, "The host frozen"), right after n.  The host was
 * stopped whole, so what n sampled or started happened at one end or
 * the other, not inside.
 */
static uint64_t silence_after(const struct dm_tolerance *t, uint64_t n)
{
	uint64_t m = n + 1, at = event(t, n)->time;

	while (m < t->seen && is_thread(t, m))
		m++;
	if (m >= t->seen || !is_silence(t, m))
		return NONE;
	if (event(t, m)->value <= t->ns ||
	    event(t, m)->time - event(t, m)->value < at)
		return NONE;
	return event(t, m)->time;
}

/* The sampling window's first event other than a dev thread: the one
 * that may have sampled what later reads show. */
static uint64_t win_first(const struct dm_tolerance *t)
{
	uint64_t n = t->win_at;

	while (n + 1 < t->seen && is_thread(t, n))
		n++;
	return n;
}

/* A start write right after dev thread events takes the sampling
 * window's checkpoint, from before them, so that it may move before them
 * (back to the event before them, the window's floor). */
static int open_start(struct dm_tolerance *t, struct before *now, int b,
		      struct dm_error *err)
{
	struct dm_tol_start *s = &t->starts[b];
	bool before_threads = t->anchor && t->win_threads;

	free(s->anchor);
	s->at = s->ev = t->seen;
	s->floor_ns = now->m->clock.now;
	if (before_threads) {
		s->anchor = dup_state(t->anchor, t->anchor_len, err);
		s->anchor_len = t->anchor_len;
		s->floor_ns = t->floor_ns;
		s->at = t->win_at;
	} else {
		s->anchor = copy_before(now, &s->anchor_len, err);
	}
	return s->anchor ? 0 : -1;
}

static void close_start(struct dm_tol_start *s)
{
	free(s->anchor);
	s->anchor = NULL;
}

/*
 * KVM injects an interrupt when the vcpu enters, some time after its
 * previous event; the intack line comes later.  While other actors'
 * events follow a vcpu's, the machine after its event is kept (the gap);
 * once the vcpu's next event, an intack with a vector, has been checked,
 * the gap becomes the intack's window, which a later acceptance that
 * mismatches may move it back through.
 */
static int track_gaps(struct dm_tolerance *t, struct before *now,
		      const struct dm_event *ev, int *opened,
		      struct dm_error *err)
{
	const struct dm_tol_event *prev = t->seen ? event(t, t->seen - 1) : 0;
	struct dm_tol_start *gap;

	*opened = -1;
	if (!prev || prev->actor != DM_ACTOR_CPU || prev->cpu >= DM_MAX_VCPUS)
		return 0;
	gap = &t->gaps[prev->cpu];
	if (prev->op == DM_OP_INTACK && (prev->flags & DM_EV_VALUE)) {
		struct dm_tol_start *st = &t->starts[BASE_INTACK + prev->cpu];

		close_start(st);
		if (gap->anchor) {
			*st = *gap;
			st->ev = t->seen - 1;
			gap->anchor = NULL;
		}
	}
	close_start(gap);
	if (ev->actor == DM_ACTOR_CPU && ev->cpu == prev->cpu)
		return 0;
	gap->anchor = copy_before(now, &gap->anchor_len, err);
	gap->floor_ns = now->m->clock.now;
	gap->at = t->seen;
	*opened = (int)prev->cpu;
	return gap->anchor ? 0 : -1;
}

/*
 * A sim mark qemu-window opens its vcpu's window: the machine before it,
 * where the read it qualifies, the vcpu's next event, may be searched
 * from.  The vcpu's event after that read closes it.
 */
static int track_windows(struct dm_tolerance *t, struct before *now,
			 const struct dm_event *ev, struct dm_error *err)
{
	struct dm_tol_start *w;
	uint32_t cpu;
	uint64_t len;

	if (window_of(ev, &cpu, &len)) {
		w = &t->windows[cpu];
		close_start(w);
		w->anchor = copy_before(now, &w->anchor_len, err);
		w->floor_ns = now->m->clock.now;
		w->at = t->seen;
		w->ev = NONE;
		return w->anchor ? 0 : -1;
	}
	if (ev->actor != DM_ACTOR_CPU || ev->cpu >= DM_MAX_VCPUS)
		return 0;
	w = &t->windows[ev->cpu];
	if (w->anchor && w->ev == NONE)
		w->ev = t->seen;
	else
		close_start(w);
	return 0;
}

/* Keeps ev, and the machine before it where a later rescue may start. */
static int keep_before(struct dm_tolerance *t, struct before *now,
		       const struct dm_event *ev, struct dm_error *err)
{
	int b = started_by(now->m, ev), gap;

	if ((b >= 0 && open_start(t, now, b, err)) ||
	    track_gaps(t, now, ev, &gap, err) || track_windows(t, now, ev, err))
		return -1;
	keep_event(t, ev, b, gap);
	/* Keep the checkpoint before a latch or a halt of the HPET while
	 * the reads of what it sampled follow, and before dev thread events
	 * up to the next other event, which may move before them. */
	if (t->anchor && t->seen - t->win_at <= DM_TOL_WINDOW) {
		struct dm_event first;
		bool thread = ev->op == DM_OP_THREAD;

		expand(t, win_first(t), &first);
		if (t->win_threads || keeps_sample(&first, ev)) {
			t->win_threads &= thread;
			return 0;
		}
	}
	free(t->anchor);
	t->anchor = take_before(now, &t->anchor_len, err);
	if (!t->anchor)
		return -1;
	t->floor_ns = now->m->clock.now;
	t->win_at = t->seen - 1;
	t->win_threads = ev->op == DM_OP_THREAD;
	return 0;
}

int dm_tolerance_before(struct dm_tolerance *t, const struct dm_machine *m,
			const struct dm_event *ev, struct dm_error *err)
{
	struct before now = {m, NULL, 0};
	int rc;

	if (!t->ring) {
		t->ring = malloc(DM_TOL_SPAN * sizeof(*t->ring));
		if (!t->ring)
			return dm_errorf(err, "out of memory for the "
					      "tolerance's events");
	}
	rc = keep_before(t, &now, ev, err);
	free(now.buf);
	return rc;
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

/*
 * A replay of events from..upto from a checkpoint before from, with event
 * k moved by the delta searched and event w by w_delta: the outcome of
 * upto must be want.  While a start write's instant is checked (check >=
 * 0), the earlier reads of that base after check_after are compared too.
 */
struct search {
	struct dm_tolerance *t;
	const uint8_t *anchor;
	size_t anchor_len;
	uint64_t from, upto;
	uint64_t k;
	uint64_t w;
	int64_t w_delta;
	uint64_t want;
	unsigned bits;	/* of want: narrower values wrap (set_want) */
	int64_t lo, hi; /* allowed deltas */
	int check;	/* the base whose earlier reads are compared */
	uint64_t check_after;
	int fit;	/* a match must fit this base's earlier reads too */
	uint64_t group; /* a PIT latch: want holds every byte read of it */
	int64_t k_base; /* k moves by k_base + the delta searched */
};

#define BADS 16 /* earlier reads that mismatched, gathered per replay */

enum run_mode {
	RUN_TRIAL, /* only the outcome */
	RUN_KEEP,  /* and the machine after upto */
	RUN_ADOPT  /* and the checkpoints after the moved event retaken */
};

struct run {
	uint64_t value;	    /* upto's outcome, or its latch's bytes */
	unsigned bytes;	    /* ... read so far */
	uint64_t bad[BADS]; /* earlier reads compared that mismatched */
	unsigned nbad;
	enum run_mode mode;
	struct dm_machine *keep; /* when wanted: the machine after upto */
};

static bool prior_mismatch(const struct search *s, const struct dm_machine *m,
			   uint64_t n, const struct dm_event *e,
			   const struct dm_outcome *o)
{
	return s->check >= 0 && n > s->check_after && n < s->upto &&
	       o->mismatch && dm_tolerance_applies(m, e) &&
	       base_of(m, e) == s->check;
}

/* A byte of the latched count or status that read upto returns: a read
 * of the same PIT port (a status byte comes first, then the count). */
static bool latch_byte(const struct dm_tolerance *t, uint64_t upto,
		       const struct dm_event *e)
{
	return e->op == DM_OP_PIO_R && e->addr == event(t, upto)->addr;
}

/*
 * What s must match, and its width: upto's outcome and the access's
 * size, or for a PIT latch (s->group) the bytes of it read so far.  A
 * counter read a byte at a time wraps (a count's low byte goes from 0x00
 * to 0xff as the count goes on), so the search must see a crossing the
 * long way round; interrupt vectors, signals and hashes are 64 bits and
 * never wrap.
 */
static void set_want(struct search *s, uint64_t upto)
{
	const struct dm_tolerance *t = s->t;
	unsigned bytes = 0;
	struct dm_event e;

	if (s->group == NONE) {
		expand(t, upto, &e);
		s->want = e.value;
		s->bits = dm_op_is_read(e.op) && e.size < 8 ? 8u * e.size : 64;
		return;
	}
	s->want = 0;
	for (uint64_t n = s->group + 1; n <= upto; n++) {
		expand(t, n, &e);
		if (latch_byte(t, upto, &e))
			s->want |= (e.value & 0xff) << (8 * bytes++);
	}
	s->bits = bytes && bytes < 8 ? 8 * bytes : 64;
}

static int step(struct dm_machine *m, const struct search *s, uint64_t n,
		const struct dm_event *e, struct run *r)
{
	struct dm_outcome o = {0};
	struct dm_error err;

	if (dm_replay_step(m, e, &o, &err))
		return -1;
	if (r->nbad < BADS && prior_mismatch(s, m, n, e, &o))
		r->bad[r->nbad++] = n;
	if (n == s->upto && r->mode != RUN_KEEP && (o.fault || !o.has_actual))
		return -1;
	if (n == s->upto && s->group == NONE)
		r->value = o.actual;
	else if (s->group != NONE && n > s->group &&
		 latch_byte(s->t, s->upto, e))
		r->value |= (o.actual & 0xff) << (8 * r->bytes++);
	return 0;
}

/*
 * Checkpoints a replay that keeps its machine retakes on the way, for the
 * windows that begin after the event it moved: committed only when it
 * succeeds.
 */
struct rebased {
	unsigned n;
	struct {
		struct dm_tol_start *to; /* NULL: the sampling window */
		uint8_t *buf;
		size_t len;
		uint64_t floor_ns;
		uint64_t at; /* the sampling window's first event */
	} a[DM_TOL_BASES + DM_MAX_VCPUS + 1];
	uint64_t sampling_at; /* the sampling window moved to this event */
};

/* Retakes a checkpoint from m, or with m NULL closes that window. */
static int rebase(struct rebased *rb, struct dm_tol_start *to,
		  const struct dm_machine *m)
{
	struct dm_error err;

	rb->a[rb->n].to = to;
	rb->a[rb->n].buf = NULL;
	rb->a[rb->n].at = rb->sampling_at;
	if (!m) {
		rb->n++;
		return 0;
	}
	rb->a[rb->n].floor_ns = m->clock.now;
	rb->a[rb->n].buf = checkpoint(m, &rb->a[rb->n].len, &err);
	return rb->a[rb->n++].buf ? 0 : -1;
}

static void rebase_end(struct dm_tolerance *t, struct rebased *rb, bool commit)
{
	for (unsigned i = 0; i < rb->n; i++) {
		struct dm_tol_start *to = rb->a[i].to;
		uint8_t **anchor = to ? &to->anchor : &t->anchor;

		if (!commit) {
			free(rb->a[i].buf);
			continue;
		}
		free(*anchor);
		*anchor = rb->a[i].buf; /* NULL: closed */
		if (to) {
			to->anchor_len = rb->a[i].len;
			to->floor_ns = rb->a[i].floor_ns;
		} else {
			t->anchor_len = rb->a[i].len;
			t->floor_ns = rb->a[i].floor_ns;
			if (rb->a[i].at != NONE) {
				t->win_at = rb->a[i].at;
				t->win_threads = false;
			}
		}
	}
}

/* The windows whose checkpoints are taken before event n, after the
 * first: starts and gaps in to, the sampling window's in *sampling. */
static unsigned windows_at(const struct search *s, uint64_t n,
			   struct dm_tol_start *to[3], bool *sampling)
{
	struct dm_tolerance *t = s->t;
	const struct dm_tol_event *e = event(t, n);
	struct dm_tol_start *c[3] = {
		e->base >= 0 ? &t->starts[e->base] : NULL,
		e->gap >= 0 ? &t->gaps[e->gap] : NULL,
		e->gap >= 0 ? &t->starts[BASE_INTACK + e->gap] : NULL};
	unsigned k = 0;

	*sampling = n == t->win_at;
	for (unsigned i = 0; i < 3; i++)
		if (n > s->from && c[i] && c[i]->anchor && c[i]->at == n)
			to[k++] = c[i];
	return k;
}

/*
 * Retakes the checkpoints at n; when a write held past n or an intack
 * pulled before it makes that impossible (the checkpoint would miss the
 * one or apply the other twice), the sampling window's fails the replay
 * and the others' windows close.
 */
static int retake(const struct search *s, uint64_t n,
		  const struct dm_machine *m, bool clean, struct rebased *rb)
{
	struct dm_tol_start *to[3];
	bool sampling;
	unsigned k = windows_at(s, n, to, &sampling);

	/* A sampling window that begins at dev thread events a held write
	 * passes begins instead at the first event after them. */
	sampling |= n == rb->sampling_at;
	if (sampling && !clean && is_thread(s->t, n) && n < s->upto) {
		rb->sampling_at = n + 1;
		sampling = false;
	}
	if (sampling && (!clean || rebase(rb, NULL, m)))
		return -1;
	for (unsigned i = 0; i < k; i++)
		if (rebase(rb, to[i], clean ? m : NULL))
			return -1;
	return 0;
}

/* How far event n is moved: the searched delta, the start write being
 * fitted, or the instant an earlier adoption gave it. */
static int64_t shift(const struct search *s, int64_t delta, uint64_t n)
{
	if (n == s->k)
		return s->k_base + delta;
	if (n == s->w)
		return s->w_delta;
	return event(s->t, n)->moved;
}

/* Intacks a replay applies before their turn: moved earlier than events
 * of other actors before them (the vcpu took the interrupt sooner than
 * its line shows). */
struct pulls {
	unsigned n;
	uint64_t ev[DM_TOL_PULLS + 1];
	bool done[DM_TOL_PULLS + 1];
};

static int pull_add(struct pulls *pl, uint64_t ev)
{
	unsigned i = pl->n;

	if (pl->n > DM_TOL_PULLS)
		return -1;
	for (; i && pl->ev[i - 1] > ev; i--) /* ascending */
		pl->ev[i] = pl->ev[i - 1];
	pl->ev[i] = ev;
	pl->done[pl->n++] = false;
	return 0;
}

static int gather_pulls(const struct search *s, int64_t delta, struct pulls *pl)
{
	const struct dm_tolerance *t = s->t;

	pl->n = 0;
	for (unsigned i = 0; i < t->npulls; i++) {
		uint64_t p = t->pulls[i];

		if (p > s->from && p < s->upto && p != s->k && p != s->w &&
		    shift(s, delta, p) < 0 && pull_add(pl, p))
			return -1;
	}
	/* The read itself too: its bounds let it pass dev thread events. */
	if (s->k != NONE && s->k > s->from && s->k <= s->upto &&
	    shift(s, delta, s->k) < 0 && pull_add(pl, s->k))
		return -1;
	if (s->w != NONE && s->w != s->k && s->w > s->from && s->w <= s->upto &&
	    s->w_delta < 0 && pull_add(pl, s->w))
		return -1;
	return 0;
}

static bool pulled(const struct pulls *pl, uint64_t n)
{
	for (unsigned i = 0; i < pl->n; i++)
		if (pl->ev[i] == n)
			return pl->done[i];
	return false;
}

/* An intack after n already applied: a checkpoint at n would hold it. */
static bool pulled_ahead(const struct pulls *pl, uint64_t n)
{
	for (unsigned i = 0; i < pl->n; i++)
		if (pl->done[i] && pl->ev[i] > n)
			return true;
	return false;
}

/* Applies the intacks after n whose moved instant precedes time. */
static int pull(const struct search *s, int64_t delta, struct pulls *pl,
		uint64_t n, uint64_t time, struct dm_machine *m, struct run *r)
{
	for (unsigned i = 0; i < pl->n; i++) {
		struct dm_event e;

		if (pl->done[i] || pl->ev[i] <= n)
			continue;
		expand(s->t, pl->ev[i], &e);
		e.time = (uint64_t)((int64_t)e.time +
				    shift(s, delta, pl->ev[i]));
		if (e.time >= time)
			continue;
		pl->done[i] = true;
		if (step(m, s, pl->ev[i], &e, r))
			return -1;
	}
	return 0;
}

/*
 * Replays the events with the moves; a write moved later is applied after
 * the events of other actors it then follows, an intack moved earlier
 * before those it then precedes.  With keep, the machine is kept and the
 * checkpoints after the moved event retaken on the way.
 */
static int run(const struct search *s, int64_t delta, struct run *r,
	       enum run_mode mode)
{
	struct dm_tolerance *t = s->t;
	struct dm_machine *m;
	struct dm_error err;
	struct dm_event held;
	struct rebased *rb = NULL;
	struct pulls pl;
	uint64_t held_n = NONE;
	int rc = 0;

	r->nbad = 0;
	r->mode = mode;
	r->value = 0;
	r->bytes = 0;
	if (gather_pulls(s, delta, &pl))
		return -1;
	if (mode == RUN_ADOPT && !(rb = calloc(1, sizeof(*rb))))
		return -1;
	if (rb)
		rb->sampling_at = NONE;
	if (dm_machine_restore(&m, NULL, s->anchor, s->anchor_len, &err)) {
		free(rb);
		return -1;
	}
	for (uint64_t n = s->from; n <= s->upto && !rc; n++) {
		struct dm_event e;
		int64_t d = shift(s, delta, n);

		if (pulled(&pl, n))
			continue;
		expand(t, n, &e);
		e.time = (uint64_t)((int64_t)e.time + d);
		if (held_n != NONE && held.time <= e.time) {
			rc = step(m, s, held_n, &held, r);
			held_n = NONE;
		}
		if (mode == RUN_ADOPT && !rc)
			rc = retake(s, n, m,
				    held_n == NONE && !pulled_ahead(&pl, n),
				    rb);
		if (!rc)
			rc = pull(s, delta, &pl, n, e.time, m, r);
		if (d > 0 && n < s->upto) {
			held = e;
			held_n = n;
		} else if (!rc) {
			rc = step(m, s, n, &e, r);
		}
	}
	/* A kept machine must hold every event up to upto, and no more. */
	if (mode != RUN_TRIAL && (held_n != NONE || pulled_ahead(&pl, s->upto)))
		rc = -1;
	if (rb) {
		rebase_end(t, rb, !rc);
		free(rb);
	}
	if (rc || mode == RUN_TRIAL)
		dm_machine_destroy(m);
	else
		r->keep = m;
	return rc;
}

static int trial(const struct search *s, int64_t delta, uint64_t *value)
{
	struct run r;

	if (run(s, delta, &r, RUN_TRIAL))
		return -1;
	*value = r.value;
	return 0;
}

/*
 * Whether the search's value lies between outcomes a and b of two nearby
 * trials.  A value narrower than 64 bits goes the shorter way round from
 * a to b: two trials a grid step apart move a count by far less than
 * half its range, while the low byte of a count that passed 0x100 jumps
 * from 0x00 to 0xff.
 */
static bool between(const struct search *s, uint64_t a, uint64_t b)
{
	uint64_t mask = s->bits < 64 ? (1ULL << s->bits) - 1 : UINT64_MAX;
	uint64_t up = (b - a) & mask;

	if (s->bits >= 64)
		return (a <= s->want && s->want <= b) ||
		       (b <= s->want && s->want <= a);
	if (up <= mask / 2)
		return ((s->want - a) & mask) <= up;
	return ((a - s->want) & mask) <= ((a - b) & mask);
}

static bool accepts(const struct search *s, int64_t delta);

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
			return accepts(s, mid);
		}
		if (between(s, va, v)) {
			b = mid;
		} else {
			a = mid;
			va = v;
		}
	}
	return false;
}

/* Which way a value went from a to b, the shorter way round: 1 up, -1
 * down, 0 unchanged. */
static int step_dir(const struct search *s, uint64_t a, uint64_t b)
{
	uint64_t mask = s->bits < 64 ? (1ULL << s->bits) - 1 : UINT64_MAX;
	uint64_t up = (b - a) & mask;

	if (!up)
		return 0;
	if (s->bits >= 64)
		return b > a ? 1 : -1;
	return up <= mask / 2 ? 1 : -1;
}

/*
 * (a, b) holds a turn: the outcome went against the way dir it went over
 * the step before (a counter reloaded, or a mode 3 count wrapped at its
 * half period), so it does not run monotonically from va to vb and want
 * may lie on either side of the turn.  Halves the span, keeping the
 * half that holds the turn, until a half running dir's way brackets want.
 */
static bool bisect_turn(const struct search *s, int64_t a, uint64_t va,
			int64_t b, uint64_t vb, int dir, int64_t *found)
{
	while (llabs(b - a) > 1) {
		int64_t mid = a + (b - a) / 2;
		uint64_t v;
		int d;

		if (trial(s, mid, &v))
			return false;
		if (v == s->want) {
			*found = mid;
			return accepts(s, mid);
		}
		d = step_dir(s, va, v);
		if (d != -dir) {
			if (between(s, va, v))
				return bisect(s, a, va, mid, found);
			a = mid;
			va = v;
			continue;
		}
		if (step_dir(s, v, vb) != -dir && between(s, v, vb))
			return bisect(s, mid, v, b, found);
		b = mid;
		vb = v;
	}
	return false;
}

/* GRID points outward from 0 on each side, spanning that side; the
 * first exact hit is the closest.  A step whose outcome went against the
 * side's way holds a turn, searched on its own (bisect_turn). */
static bool search(const struct search *s, int64_t *found)
{
	int64_t step[2] = {s->hi / GRID + 1, -s->lo / GRID + 1};
	uint64_t v0, prev[2];
	bool have[2] = {false, false};
	int dir[2] = {0, 0};

	if (!trial(s, 0, &v0)) {
		if (v0 == s->want) {
			*found = 0;
			return true;
		}
		prev[0] = prev[1] = v0;
		have[0] = have[1] = true;
	}
	for (int64_t n = 1; n <= GRID + 1; n++) {
		for (int side = 0; side < 2; side++) {
			/* The last point of a side is its bound. */
			int64_t d = side ? -n * step[1] : n * step[0];
			int64_t was = side ? d + step[1] : d - step[0];
			uint64_t v;
			int sd;

			d = d < s->lo ? s->lo : d > s->hi ? s->hi : d;
			if (d == was || trial(s, d, &v)) {
				have[side] = false;
				dir[side] = 0;
				continue;
			}
			if (v == s->want && accepts(s, d)) {
				*found = d;
				return true;
			}
			sd = have[side] ? step_dir(s, prev[side], v) : 0;
			if (sd && dir[side] && sd != dir[side]) {
				if (bisect_turn(s, was, prev[side], d, v,
						dir[side], found))
					return true;
			} else if (have[side] && between(s, prev[side], v) &&
				   bisect(s, was, prev[side], d, found)) {
				return true;
			} else if (sd) {
				dir[side] = sd;
			}
			prev[side] = v;
			have[side] = true;
		}
	}
	return false;
}

static int64_t min64(uint64_t a, uint64_t b)
{
	return (int64_t)(a < b ? a : b);
}

/* How far an event may move towards a neighbour gap ns away: strictly
 * short of it (at the same instant their order would be moot), and
 * within the tolerance when bounded. */
static int64_t reach(uint64_t gap, uint64_t tol)
{
	return min64(gap ? gap - 1 : 0, tol);
}

/* The event that sampled the time read n shows: its PIT latch or HPET
 * halt if one within the sampling window precedes it, else n. */
static uint64_t sampler(const struct dm_tolerance *t, uint64_t from, uint64_t n)
{
	struct dm_event read, first;

	expand(t, n, &read);
	for (uint64_t j = n; j > from && n - j < DM_TOL_WINDOW; j--) {
		expand(t, j - 1, &first);
		if (sampled_by(&first, &read))
			return j - 1;
		if ((first.op == DM_OP_PIO_W && is_pit_port(&first)) ||
		    (first.op == DM_OP_MMIO_W && is_hpet(&first)))
			break;
	}
	return n;
}

/* The latch whose bytes read n returns with others, or NONE. */
static uint64_t latch_group(const struct dm_tolerance *t, uint64_t first,
			    uint64_t n)
{
	struct dm_event e;

	if (first == n)
		return NONE;
	expand(t, first, &e);
	return latches_pit(&e) ? first : NONE;
}

/*
 * Searches s->k within the tolerance of the far end of the silence after
 * it (silence_after), before next: *found is the whole move.  The near
 * end is the search before this one.
 */
static bool search_far_end(struct search *s, uint64_t next, int64_t *found)
{
	const struct dm_tolerance *t = s->t;
	uint64_t at = event(t, s->k)->time, end = silence_after(t, s->k);
	bool ok;

	if (end == NONE || next <= at + 1)
		return false;
	if (end >= next)
		end = next - 1;
	s->k_base = (int64_t)(end - at);
	s->lo = -reach(end - at, t->ns);
	s->hi = reach(next - end, t->ns);
	ok = search(s, found);
	if (ok)
		*found += s->k_base;
	s->k_base = 0;
	return ok;
}

/* Moves s->k within the tolerance, between its neighbours (floor_ns
 * bounds the first event; a start write moved before it, its instant),
 * or to the far end of a silence of the host after it. */
static bool search_sample(struct search *s, uint64_t floor_ns, int64_t *found)
{
	const struct dm_tolerance *t = s->t;
	uint64_t at = event(t, s->k)->time;
	uint64_t prev = prev_time(t, s->from, s->k, floor_ns);
	uint64_t next = next_time(t, s->k);

	if (s->w < s->k && event(t, s->w)->time + (uint64_t)s->w_delta > prev)
		prev = event(t, s->w)->time + (uint64_t)s->w_delta;

	s->lo = -reach(at - prev, t->ns);
	s->hi = reach(next - at, t->ns);
	return search(s, found) || search_far_end(s, next, found);
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

/* The read moved within its own window: the machine is unchanged. */
static bool rescue_sample(struct dm_tolerance *t, const struct dm_event *ev)
{
	uint64_t last = t->seen - 1;
	struct search s = {t,	      t->anchor, t->anchor_len,
			   t->win_at, last,	 last,
			   NONE,      0,	 ev->value};
	uint64_t at = win_first(t);
	struct dm_event first;
	int64_t found;

	s.check = s.fit = -1;
	s.group = NONE;
	expand(t, at, &first);
	if (last > at && sampled_by(&first, ev)) {
		s.k = at;
		if (latches_pit(&first))
			s.group = s.k;
	}
	set_want(&s, last);
	if (!search_sample(&s, t->floor_ns, &found))
		return false;
	record(t, found);
	return true;
}

/*
 * Whether earlier read bad, with the moves of v, matches within its own
 * sampling window.  The search starts from a checkpoint just before the
 * event that sampled it, or from v's when none can be taken there.
 */
static bool prior_fits(const struct search *v, uint64_t bad)
{
	struct dm_tolerance *t = v->t;
	struct search p = *v, q = *v;
	uint64_t floor_ns = event(t, v->w)->time, at;
	uint8_t *buf = NULL;
	struct run r;
	int64_t found;
	bool ok;

	p.upto = bad;
	p.k = sampler(t, v->from, bad);
	p.group = latch_group(t, p.k, bad);
	set_want(&p, bad);
	p.check = p.fit = -1;
	/* Before the host events ahead of it too: it may pass them. */
	at = p.k;
	while (at > v->from + 1 && is_host(t, at - 1))
		at--;
	q.upto = at - 1;
	q.check = -1;
	if (at > v->from + 1 && !run(&q, 0, &r, RUN_KEEP)) {
		struct dm_error err;

		buf = checkpoint(r.keep, &p.anchor_len, &err);
		if (buf) {
			p.anchor = buf;
			p.from = at;
			floor_ns = r.keep->clock.now;
		}
		dm_machine_destroy(r.keep);
	}
	ok = search_sample(&p, floor_ns, &found);
	free(buf);
	return ok;
}

/* Every earlier read of base s->fit since its start write s->k, with the
 * write moved by delta, matches, or does within its own sampling window. */
static bool accepts(const struct search *s, int64_t delta)
{
	struct search v = *s;
	struct run r;

	if (s->fit < 0)
		return true;
	v.k = NONE;
	v.k_base = 0;
	v.w = s->k;
	v.w_delta = s->k_base + delta;
	v.check = s->fit;
	v.check_after = s->from;
	for (;;) {
		if (run(&v, 0, &r, RUN_TRIAL))
			return false;
		for (unsigned i = 0; i < r.nbad; i++)
			if (!prior_fits(&v, r.bad[i]))
				return false;
		if (r.nbad < BADS)
			return true;
		v.check_after = r.bad[BADS - 1];
	}
}

/* The time of the first event of w's vcpu after it, up to upto. */
static uint64_t vcpu_next(const struct dm_tolerance *t, uint64_t w,
			  uint64_t upto)
{
	const struct dm_tol_event *write = event(t, w);

	for (uint64_t n = w + 1; n < upto; n++) {
		const struct dm_tol_event *e = event(t, n);

		if (e->actor == DM_ACTOR_CPU && e->cpu == write->cpu)
			return e->time;
	}
	return event(t, upto)->time;
}

/*
 * The search of fit_start with the read itself sampled at one end of its
 * own window (just after the event before it, or the tolerance later), as
 * every earlier read of the base may be: KVM computes a count before its
 * line, sometimes tens of microseconds before when the host stops the
 * thread in between, while the write that started it took effect late.
 * A read whose sample is a latch is left to the searches before.
 */
static bool search_sampled(struct search *s, uint64_t floor_ns, int64_t *found,
			   int64_t *sampled)
{
	const struct dm_tolerance *t = s->t;
	uint64_t last = s->upto, at = event(t, last)->time;
	int64_t edge[2] = {
		-reach(at - prev_time(t, s->from, last, floor_ns), t->ns),
		(int64_t)t->ns};

	if (sampler(t, s->from, last) != last)
		return false;
	for (int i = 0; i < 2; i++) {
		s->w = last;
		s->w_delta = edge[i];
		if (edge[i] && search(s, found) && *found) {
			*sampled = edge[i];
			return true;
		}
	}
	return false;
}

/*
 * Searches s->k, start st's event: near its line with the read at its
 * own, then with the read at an end of its window, then at the far end of
 * a silence of the host after the event (the read at its line).
 */
static bool fit_instant(struct search *s, const struct dm_tol_start *st, int b,
			int64_t *found, int64_t *sampled)
{
	const struct dm_tolerance *t = s->t;

	if (search(s, found) && *found)
		return true;
	if (b >= BASE_INTACK)
		return false;
	if (search_sampled(s, st->floor_ns, found, sampled))
		return true;
	s->w = NONE;
	s->w_delta = 0;
	return search_far_end(s, vcpu_next(t, st->ev, s->upto), found);
}

/*
 * The instant of start st's event closest to its line that gives ev's
 * value and fits every earlier read of base b since: returns the machine
 * that applied the event then, or NULL.  A start write's instant follows
 * the event before it (an importer may have put a write QEMU served at
 * the switch back to its thread, after QEMU applied it) and comes within
 * the tolerance and before its vcpu's next event (KVM or QEMU applied it
 * late, but before the vcpu went on; a halt after the write would
 * otherwise leave milliseconds to alias a count in).  An intack's comes
 * within the tolerance before its line, after its vcpu's previous event.
 * When no instant gives the value at the read's line, a start write's
 * search is repeated with the read sampled at an end of its window
 * (*sampled, else 0).
 */
static struct dm_machine *fit_start(struct dm_tolerance *t,
				    const struct dm_tol_start *st, int b,
				    const struct dm_event *ev, int64_t *found,
				    int64_t *sampled)
{
	uint64_t last = t->seen - 1, at = event(t, st->ev)->time;
	struct search s = {t,	   st->anchor, st->anchor_len,
			   st->at, last,       st->ev,
			   NONE,   0,	       ev->value};
	struct run r;

	*sampled = 0;
	if (b >= BASE_INTACK) {
		s.lo = -reach(at - st->floor_ns, t->ns);
		s.hi = 0;
	} else {
		s.lo = -reach(at - st->floor_ns, UINT64_MAX);
		s.hi = reach(vcpu_next(t, st->ev, last) - at, t->ns);
	}
	s.check = -1;
	s.fit = b;
	s.group = latch_group(t, sampler(t, st->ev, last), last);
	set_want(&s, last);
	if (!fit_instant(&s, st, b, found, sampled))
		return NULL;
	s.k = NONE;
	s.w = st->ev;
	s.w_delta = *found;
	return run(&s, 0, &r, RUN_ADOPT) ? NULL : r.keep;
}

/* Keeps an intack's earlier instant for every later replay. */
static int keep_pull(struct dm_tolerance *t, uint64_t ev)
{
	unsigned i = 0;

	/* Those out of every window go (oldest first, mostly). */
	while (i < t->npulls && t->seen - t->pulls[i] > DM_TOL_SPAN)
		i++;
	if (i) {
		memmove(t->pulls, t->pulls + i,
			(t->npulls - i) * sizeof(*t->pulls));
		t->npulls -= i;
	}
	for (i = 0; i < t->npulls; i++)
		if (t->pulls[i] == ev)
			return 0;
	if (t->npulls == t->pulls_cap) {
		unsigned cap = t->pulls_cap ? 2 * t->pulls_cap : 16;
		uint64_t *p = realloc(t->pulls, cap * sizeof(*p));

		if (!p)
			return -1;
		t->pulls = p;
		t->pulls_cap = cap;
	}
	t->pulls[t->npulls++] = ev;
	return 0;
}

/* An adopted instant every later replay applies before events that come
 * first in the trace: an intack's, or a start write's moved before dev
 * thread events. */
static bool pulled_back(const struct dm_tolerance *t,
			const struct dm_tol_start *st, int b, int64_t found)
{
	return b >= BASE_INTACK ||
	       (st->ev > st->at && (int64_t)event(t, st->ev)->time + found <
					   (int64_t)event(t, st->ev - 1)->time);
}

/*
 * A read of a base that no sampling instant explains moves its start
 * write (or a vcpu's last intack) to the instant that fits it and every
 * read since: *m becomes the machine that applied it then.  A later read
 * may move it again, with the same rule; once no instant fits, it stays
 * where it was last put and its window closes.
 */
static bool adopt_start(struct dm_tolerance *t, struct dm_machine **m,
			const struct dm_event *ev)
{
	int b = base_of(*m, ev);
	struct dm_tol_start *st = b >= 0 ? &t->starts[b] : NULL;
	struct dm_machine *moved = NULL;
	int64_t found, sampled;
	uint64_t mag;

	if (!st || !st->anchor)
		return false;
	if (t->seen - st->at <= DM_TOL_SPAN && t->win_at > st->ev)
		moved = fit_start(t, st, b, ev, &found, &sampled);
	if (!moved || (found < 0 && pulled_back(t, st, b, found) &&
		       keep_pull(t, st->ev))) {
		if (moved)
			dm_machine_destroy(moved);
		close_start(st);
		return false;
	}
	dm_machine_destroy(*m);
	*m = moved;
	/* A window's machine may predate the moved event: it no longer
	 * holds. */
	for (unsigned c = 0; c < DM_MAX_VCPUS; c++)
		close_start(&t->windows[c]);
	t->ring[st->ev % DM_TOL_SPAN].moved = found;
	if (sampled)
		record(t, sampled);
	t->adopted++;
	mag = (uint64_t)(found < 0 ? -found : found);
	if (mag > t->max_adopted_ns)
		t->max_adopted_ns = mag;
	return true;
}

/* A read whose value only the time decides: the HPET's main counter, the
 * PM timer.  A device's line change cannot change it. */
static bool reads_time(const struct dm_machine *m, const struct dm_event *ev)
{
	if (ev->op == DM_OP_MMIO_R)
		return ev->addr - (DM_HPET_BASE + HPET_COUNTER) < 8;
	return ev->op == DM_OP_PIO_R &&
	       ev->addr - dm_pmtimer_base(&m->cfg) - PM_TMR < 4;
}

/* Event n, between a read's window mark and the read, cannot change what
 * the read returns: a mark, or for a read of the time alone, a host
 * thread's run or a device's line change (either may change an RTC
 * register: rtc_uf_trace, rtc_pf_trace). */
static bool passable(const struct dm_tolerance *t, uint64_t n, bool time_only)
{
	const struct dm_tol_event *e = event(t, n);

	if (e->op == DM_OP_MARK)
		return true;
	return time_only && e->actor == DM_ACTOR_DEV &&
	       (e->op == DM_OP_THREAD || e->op == DM_OP_IRQ ||
		e->op == DM_OP_MSI);
}

/*
 * The read ev, the last event, searched anywhere in its service window
 * (its vcpu's sim mark qemu-window, the event before it of that vcpu),
 * whose ends are lines, each instant within the tolerance of its line:
 * from the tolerance before the mark (after the event before it), or
 * just after the last event since the mark that could change what the
 * read returns, to the tolerance after the window's end.
 */
static bool rescue_window(struct dm_tolerance *t, const struct dm_machine *m,
			  const struct dm_event *ev)
{
	uint64_t last = t->seen - 1, from, end, at = ev->time;
	const struct dm_tol_start *w;
	bool time_only = reads_time(m, ev);
	struct search s;
	int64_t found;

	if (!dm_op_is_read(ev->op) || ev->cpu >= DM_MAX_VCPUS)
		return false;
	w = &t->windows[ev->cpu];
	if (!w->anchor || w->ev != last || t->seen - w->at > DM_TOL_SPAN)
		return false;
	from = event(t, w->at)->time;
	end = from + event(t, w->at)->value + t->ns;
	if (end < from) /* past the end of time */
		return false;
	from = from - w->floor_ns > t->ns ? from - t->ns : w->floor_ns + 1;
	for (uint64_t n = last; n-- > w->at + 1;)
		if (!passable(t, n, time_only)) {
			from = event(t, n)->time + 1;
			break;
		}
	if (from > at || end < at)
		return false;
	s = (struct search){t,	  w->anchor, w->anchor_len, w->at, last, last,
			    NONE, 0,	     ev->value};
	s.check = s.fit = -1;
	s.group = NONE;
	s.lo = -(int64_t)(at - from);
	s.hi = (int64_t)(end - at);
	set_want(&s, last);
	if (!search(&s, &found))
		return false;
	record(t, found);
	return true;
}

bool dm_tolerance_rescue(struct dm_tolerance *t, struct dm_machine **m,
			 const struct dm_event *ev)
{
	if (!t->anchor || !t->seen || !(ev->flags & DM_EV_VALUE))
		return false;
	return rescue_sample(t, ev) || rescue_window(t, *m, ev) ||
	       adopt_start(t, m, ev);
}
