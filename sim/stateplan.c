// SPDX-License-Identifier: MIT
/*
 * State plans: a state table flattened once into a list of copies, so that
 * encoding, loading and comparing a state cost a pass over its leaves
 * instead of a walk of the table.  The table walkers in state.c stay the
 * reference: a plan produces the same bytes as dm_state_encode, and
 * whenever a plan's load meets anything it would have to report (a bad
 * header, a value out of range, a failed validate callback), it hands the
 * buffer to dm_state_load, which finds the same fault and words the error.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sim/bytes.h"
#include "sim/state.h"
#include "sim/timer.h"

/*
 * One or more leaf elements of one field that sit back to back both in the
 * struct and in the encoding (a scalar array) and so copy as one block on
 * a little-endian host.  Timers and bools are one element each: a timer's
 * value is its deadline, and a bool's byte is checked on load.
 */
struct op {
	size_t val_off; /* of the first element's value (a timer's deadline) */
	size_t enc_off;
	uint32_t len; /* bytes: elements times size */
	uint8_t size;
	bool is_bool;
	bool checked; /* max is below the type's range: check each value */
	uint64_t max;
};

struct span {
	size_t off;
	size_t len;
};

/* A sub-table element whose validate callback a load must run. */
struct check {
	size_t state_off;
	const struct dm_state_desc *desc;
};

struct dm_state_plan {
	const struct dm_state_desc *desc;
	size_t enc_size;
	uint8_t *tmpl; /* the encoding of an all-zero state: the headers */
	uint8_t *mask; /* 0xff where a valid encoding must equal tmpl */
	struct op *ops;
	size_t nops;
	struct check *checks;
	size_t nchecks;
	/*
	 * The struct bytes that hold table values other than deadlines,
	 * merged into runs: copying or comparing them takes a few calls.
	 */
	struct span *spans;
	size_t nspans;
	size_t *timers; /* offsets of the table's timers */
	size_t ntimers;
};

/* States up to this size are decoded into a copy on the stack. */
#define SCRATCH_STACK 4096

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HOST_IS_LE 1
#else
#define HOST_IS_LE 0
#endif

static uint64_t mem_get(const uint8_t *p, unsigned size)
{
	uint8_t v8;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	switch (size) {
	case 1:
		memcpy(&v8, p, 1);
		return v8;
	case 2:
		memcpy(&v16, p, 2);
		return v16;
	case 4:
		memcpy(&v32, p, 4);
		return v32;
	default:
		memcpy(&v64, p, 8);
		return v64;
	}
}

static void mem_set(uint8_t *p, uint64_t v, unsigned size)
{
	uint8_t v8 = (uint8_t)v;
	uint16_t v16 = (uint16_t)v;
	uint32_t v32 = (uint32_t)v;

	switch (size) {
	case 1:
		memcpy(p, &v8, 1);
		break;
	case 2:
		memcpy(p, &v16, 2);
		break;
	case 4:
		memcpy(p, &v32, 4);
		break;
	default:
		memcpy(p, &v, 8);
		break;
	}
}

/* Most blocks are one scalar, which a fixed-size copy moves faster than a
 * call to memcpy. */
static void copy_block(uint8_t *dst, const uint8_t *src, size_t len)
{
	switch (len) {
	case 1:
	case 2:
	case 4:
	case 8:
		mem_set(dst, mem_get(src, (unsigned)len), (unsigned)len);
		break;
	default:
		memcpy(dst, src, len);
	}
}

/* A little-endian value in an encoding. */
static uint64_t le_get(const uint8_t *p, unsigned size)
{
	return HOST_IS_LE ? mem_get(p, size) : dm_get_le(p, size);
}

static void le_put(uint8_t *p, uint64_t v, unsigned size)
{
	if (HOST_IS_LE)
		mem_set(p, v, size);
	else
		dm_put_le(p, v, size);
}

static bool joins(const struct op *o, const struct dm_layout_leaf *l)
{
	const struct dm_field *f = l->field;

	return HOST_IS_LE && f->type != DM_FT_BOOL && f->type != DM_FT_TIMER &&
	       !o->is_bool && o->size == l->size && o->max == f->max &&
	       l->state_offset == o->val_off + o->len &&
	       l->offset == o->enc_off + o->len;
}

static int add_leaf(const struct dm_layout_leaf *l, void *ctx)
{
	struct dm_state_plan *p = ctx;
	struct op *last = p->nops ? &p->ops[p->nops - 1] : NULL;

	bool is_bool = l->field->type == DM_FT_BOOL;
	uint64_t max = is_bool ? 1 : l->field->max;
	size_t val = l->state_offset;

	memset(p->mask + l->offset, 0, l->size);
	if (l->field->type == DM_FT_TIMER) {
		p->timers[p->ntimers++] = l->state_offset;
		val += offsetof(struct dm_timer, when);
	}
	if (last && joins(last, l)) {
		last->len += (uint32_t)l->size;
		return 0;
	}
	p->ops[p->nops++] = (struct op){
		.val_off = val,
		.enc_off = l->offset,
		.len = (uint32_t)l->size,
		.size = (uint8_t)l->size,
		.is_bool = is_bool,
		.checked = max < UINT64_MAX >> (64 - 8 * l->size),
		.max = max,
	};
	return 0;
}

static int count_leaf(const struct dm_layout_leaf *l, void *ctx)
{
	(void)l;
	++*(size_t *)ctx;
	return 0;
}

static int add_checks(struct dm_state_plan *p, const struct dm_state_desc *desc,
		      size_t base, size_t cap)
{
	for (size_t i = 0; i < desc->nfields; i++) {
		const struct dm_field *f = &desc->fields[i];

		for (size_t e = 0; f->type == DM_FT_STRUCT && e < f->count;
		     e++) {
			size_t at = base + f->offset + e * f->stride;

			if (f->sub->validate) {
				if (p->nchecks == cap)
					return -1;
				p->checks[p->nchecks++] =
					(struct check){at, f->sub};
			}
			if (add_checks(p, f->sub, at, cap))
				return -1;
		}
	}
	return 0;
}

static bool is_deadline(const struct dm_state_plan *p, const struct op *o)
{
	for (size_t i = 0; i < p->ntimers; i++)
		if (o->val_off ==
		    p->timers[i] + offsetof(struct dm_timer, when))
			return true;
	return false;
}

static int by_offset(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return (x->off > y->off) - (x->off < y->off);
}

/* Sorts the ops' blocks by offset and merges the adjacent ones. */
static void build_spans(struct dm_state_plan *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nops; i++)
		if (!is_deadline(p, &p->ops[i]))
			p->spans[n++] =
				(struct span){p->ops[i].val_off, p->ops[i].len};
	qsort(p->spans, n, sizeof(*p->spans), by_offset);
	for (size_t i = 0; i < n; i++) {
		struct span *last = p->nspans ? &p->spans[p->nspans - 1] : NULL;

		if (last && last->off + last->len == p->spans[i].off)
			last->len += p->spans[i].len;
		else
			p->spans[p->nspans++] = p->spans[i];
	}
}

void dm_state_plan_free(struct dm_state_plan *p)
{
	if (!p)
		return;
	free(p->tmpl);
	free(p->mask);
	free(p->ops);
	free(p->checks);
	free(p->spans);
	free(p->timers);
	free(p);
}

struct dm_state_plan *dm_state_plan_new(const struct dm_state_desc *desc)
{
	struct dm_state_plan *p = calloc(1, sizeof(*p));
	size_t leaves = 0;
	uint8_t *zero;

	if (!p)
		return NULL;
	dm_state_leaves(desc, count_leaf, &leaves);
	p->desc = desc;
	p->enc_size = dm_state_encoded_size(desc);
	p->tmpl = malloc(p->enc_size);
	p->mask = malloc(p->enc_size);
	p->ops = calloc(leaves + 1, sizeof(*p->ops));
	p->checks = calloc(leaves + 1, sizeof(*p->checks));
	p->spans = calloc(leaves + 1, sizeof(*p->spans));
	p->timers = calloc(leaves + 1, sizeof(*p->timers));
	zero = calloc(1, desc->size);
	if (!p->tmpl || !p->mask || !p->ops || !p->checks || !p->spans ||
	    !p->timers || !zero || add_checks(p, desc, 0, leaves + 1)) {
		free(zero);
		dm_state_plan_free(p);
		return NULL;
	}
	dm_state_encode(desc, zero, p->tmpl, p->enc_size);
	free(zero);
	memset(p->mask, 0xff, p->enc_size);
	dm_state_leaves(desc, add_leaf, p);
	build_spans(p);
	return p;
}

const struct dm_state_desc *dm_state_plan_desc(const struct dm_state_plan *p)
{
	return p->desc;
}

size_t dm_state_plan_encoded_size(const struct dm_state_plan *p)
{
	return p->enc_size;
}

static void encode_op(const struct op *o, const uint8_t *s, uint8_t *out)
{
	if (HOST_IS_LE && !o->is_bool) {
		copy_block(out + o->enc_off, s + o->val_off, o->len);
		return;
	}
	for (uint32_t k = 0; k < o->len; k += o->size) {
		uint64_t v = mem_get(s + o->val_off + k, o->size);

		le_put(out + o->enc_off + k, o->is_bool ? v != 0 : v, o->size);
	}
}

size_t dm_state_plan_encode(const struct dm_state_plan *p, const void *state,
			    uint8_t *buf, size_t cap)
{
	if (cap < p->enc_size)
		return 0;
	memcpy(buf, p->tmpl, p->enc_size);
	for (size_t i = 0; i < p->nops; i++)
		encode_op(&p->ops[i], state, buf);
	return p->enc_size;
}

static bool op_equal(const struct op *o, const uint8_t *a, const uint8_t *b)
{
	for (uint32_t k = 0; k < o->len; k += o->size) {
		uint64_t va = mem_get(a + o->val_off + k, o->size);
		uint64_t vb = mem_get(b + o->val_off + k, o->size);

		if (o->is_bool ? !va != !vb : va != vb)
			return false;
	}
	return true;
}

static uint64_t deadline(const uint8_t *state, size_t timer)
{
	return mem_get(state + timer + offsetof(struct dm_timer, when), 8);
}

/* Equal bytes are equal values; unequal bytes may still be equal bools. */
static bool same_bytes(const struct dm_state_plan *p, const uint8_t *a,
		       const uint8_t *b)
{
	for (size_t i = 0; i < p->nspans; i++)
		if (memcmp(a + p->spans[i].off, b + p->spans[i].off,
			   p->spans[i].len))
			return false;
	return true;
}

bool dm_state_plan_equal(const struct dm_state_plan *p, const void *a,
			 const void *b)
{
	for (size_t i = 0; i < p->ntimers; i++)
		if (deadline(a, p->timers[i]) != deadline(b, p->timers[i]))
			return false;
	if (same_bytes(p, a, b))
		return true;
	for (size_t i = 0; i < p->nops; i++)
		if (!op_equal(&p->ops[i], a, b))
			return false;
	return true;
}

/* Whether buf has the headers of this table, compared a word at a time. */
static bool headers_match(const struct dm_state_plan *p, const uint8_t *buf)
{
	size_t k = 0;

	/* Byte order does not matter to a masked equality. */
	for (; k + 8 <= p->enc_size; k += 8)
		if ((mem_get(buf + k, 8) ^ mem_get(p->tmpl + k, 8)) &
		    mem_get(p->mask + k, 8))
			return false;
	for (; k < p->enc_size; k++)
		if ((buf[k] ^ p->tmpl[k]) & p->mask[k])
			return false;
	return true;
}

/* Decodes one op into the scratch copy; false if a value is out of range. */
static bool decode_op(const struct op *o, const uint8_t *buf, uint8_t *s)
{
	if (HOST_IS_LE && !o->checked) {
		copy_block(s + o->val_off, buf + o->enc_off, o->len);
		return true;
	}
	for (uint32_t k = 0; k < o->len; k += o->size) {
		uint64_t v = le_get(buf + o->enc_off + k, o->size);

		if (v > o->max)
			return false;
		mem_set(s + o->val_off + k, v, o->size);
	}
	return true;
}

/* Everything dm_state_load would accept without a word of complaint. */
static bool decodes_cleanly(const struct dm_state_plan *p, uint8_t *scratch,
			    const uint8_t *buf, size_t len)
{
	const struct dm_state_desc *desc = p->desc;

	if (len != p->enc_size || !headers_match(p, buf))
		return false;
	for (size_t i = 0; i < p->nops; i++)
		if (!decode_op(&p->ops[i], buf, scratch))
			return false;
	/* A deadline can only be armed on a timer bound to a queue. */
	for (size_t i = 0; i < p->ntimers; i++) {
		const struct dm_timer *t =
			(const void *)(scratch + p->timers[i]);

		if (t->when != DM_TIME_NEVER && !t->q)
			return false;
	}
	for (size_t i = 0; i < p->nchecks; i++)
		if (p->checks[i].desc->validate(
			    scratch + p->checks[i].state_off, NULL))
			return false;
	return !desc->validate || !desc->validate(scratch, NULL);
}

static struct dm_timer *timer_at(void *state, size_t off)
{
	return (struct dm_timer *)((uint8_t *)state + off);
}

int dm_state_plan_load(const struct dm_state_plan *p, void *state,
		       const uint8_t *buf, size_t len, struct dm_error *err)
{
	const struct dm_state_desc *desc = p->desc;
	uint8_t stack[SCRATCH_STACK];
	uint8_t *scratch =
		desc->size <= sizeof(stack) ? stack : malloc(desc->size);
	bool clean;

	if (!scratch)
		return dm_errorf(err, "%s: out of memory for a %zu-byte copy",
				 desc->name, desc->size);
	/* As dm_state_load: validate callbacks see the live wiring. */
	memcpy(scratch, state, desc->size);
	clean = decodes_cleanly(p, scratch, buf, len);
	if (clean) {
		for (size_t i = 0; i < p->ntimers; i++)
			dm_timer_cancel(timer_at(state, p->timers[i]));
		for (size_t i = 0; i < p->nspans; i++)
			memcpy((uint8_t *)state + p->spans[i].off,
			       scratch + p->spans[i].off, p->spans[i].len);
		for (size_t i = 0; i < p->ntimers; i++)
			dm_timer_arm(timer_at(state, p->timers[i]),
				     deadline(scratch, p->timers[i]));
	}
	if (scratch != stack)
		free(scratch);
	if (!clean)
		return dm_state_load(desc, state, buf, len, err);
	if (desc->post_load)
		desc->post_load(state);
	return 0;
}

/*
 * Plans are built once per table and kept for the life of the process:
 * a machine is built at every migration of `migrate-check --via-db`, and
 * flattening its tables each time cost more than the SQLite round trip.
 * A plan is a pure function of its const table, so sharing one changes
 * nothing but the time.
 */
#define PLAN_CACHE 64

static struct {
	pthread_mutex_t lock;
	const struct dm_state_desc *desc[PLAN_CACHE];
	struct dm_state_plan *plan[PLAN_CACHE];
	unsigned n;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

const struct dm_state_plan *dm_state_plan_for(const struct dm_state_desc *desc)
{
	struct dm_state_plan *p = NULL;

	pthread_mutex_lock(&cache.lock);
	for (unsigned i = 0; i < cache.n && !p; i++)
		if (cache.desc[i] == desc)
			p = cache.plan[i];
	if (!p && cache.n < PLAN_CACHE) {
		p = dm_state_plan_new(desc);
		if (p) {
			cache.desc[cache.n] = desc;
			cache.plan[cache.n++] = p;
		}
	}
	pthread_mutex_unlock(&cache.lock);
	return p;
}
