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
	size_t state_off; /* of the first element (a timer: its dm_timer) */
	size_t enc_off;
	uint32_t count;
	uint8_t size;
	uint8_t type;
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
	uint8_t *scratch; /* desc->size: a load decodes here first */
};

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

/*
 * Copies and compares an op's block: most are one scalar, which a fixed-size
 * load and store move faster than a call to memcpy.
 */
static void copy_block(uint8_t *dst, const uint8_t *src, const struct op *o)
{
	if (o->count == 1)
		mem_set(dst, mem_get(src, o->size), o->size);
	else
		memcpy(dst, src, (size_t)o->count * o->size);
}

static bool same_block(const uint8_t *a, const uint8_t *b, const struct op *o)
{
	if (o->count == 1)
		return mem_get(a, o->size) == mem_get(b, o->size);
	return !memcmp(a, b, (size_t)o->count * o->size);
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

/* Whether every value of an op's type is in range: no check needed. */
static bool unbounded(const struct op *o)
{
	return o->type != DM_FT_BOOL && o->type != DM_FT_TIMER &&
	       o->max >= UINT64_MAX >> (64 - 8 * o->size);
}

/* Where an element's value lives in the struct. */
static size_t value_off(const struct op *o, uint32_t e)
{
	if (o->type == DM_FT_TIMER)
		return o->state_off + offsetof(struct dm_timer, when);
	return o->state_off + (size_t)e * o->size;
}

static bool joins(const struct op *o, const struct dm_layout_leaf *l)
{
	const struct dm_field *f = l->field;

	return HOST_IS_LE && f->type != DM_FT_BOOL && f->type != DM_FT_TIMER &&
	       o->type == f->type && o->max == f->max &&
	       l->state_offset == o->state_off + (size_t)o->count * o->size &&
	       l->offset == o->enc_off + (size_t)o->count * o->size;
}

static int add_leaf(const struct dm_layout_leaf *l, void *ctx)
{
	struct dm_state_plan *p = ctx;
	struct op *last = p->nops ? &p->ops[p->nops - 1] : NULL;

	memset(p->mask + l->offset, 0, l->size);
	if (last && joins(last, l)) {
		last->count++;
		return 0;
	}
	p->ops[p->nops++] = (struct op){
		.state_off = l->state_offset,
		.enc_off = l->offset,
		.count = 1,
		.size = (uint8_t)l->size,
		.type = l->field->type,
		.max = l->field->type == DM_FT_BOOL ? 1 : l->field->max,
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

static int by_offset(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return (x->off > y->off) - (x->off < y->off);
}

/* Sorts the ops' blocks by offset and merges the adjacent ones. */
static void build_spans(struct dm_state_plan *p)
{
	size_t n = 0;

	for (size_t i = 0; i < p->nops; i++) {
		const struct op *o = &p->ops[i];

		if (o->type == DM_FT_TIMER)
			p->timers[p->ntimers++] = o->state_off;
		else
			p->spans[n++] = (struct span){
				o->state_off, (size_t)o->count * o->size};
	}
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
	free(p->scratch);
	free(p);
}

struct dm_state_plan *dm_state_plan_new(const struct dm_state_desc *desc)
{
	struct dm_state_plan *p = calloc(1, sizeof(*p));
	size_t leaves = 0;

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
	p->scratch = calloc(1, desc->size);
	if (!p->tmpl || !p->mask || !p->ops || !p->checks || !p->spans ||
	    !p->timers || !p->scratch || add_checks(p, desc, 0, leaves + 1)) {
		dm_state_plan_free(p);
		return NULL;
	}
	dm_state_encode(desc, p->scratch, p->tmpl, p->enc_size);
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
	if (HOST_IS_LE && o->type != DM_FT_BOOL && o->type != DM_FT_TIMER) {
		copy_block(out + o->enc_off, s + o->state_off, o);
		return;
	}
	for (uint32_t e = 0; e < o->count; e++) {
		uint64_t v = mem_get(s + value_off(o, e), o->size);

		if (o->type == DM_FT_BOOL)
			v = v != 0;
		le_put(out + o->enc_off + (size_t)e * o->size, v, o->size);
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
	if (o->type != DM_FT_BOOL && o->type != DM_FT_TIMER)
		return same_block(a + o->state_off, b + o->state_off, o);
	for (uint32_t e = 0; e < o->count; e++) {
		uint64_t va = mem_get(a + value_off(o, e), o->size);
		uint64_t vb = mem_get(b + value_off(o, e), o->size);

		if (o->type == DM_FT_BOOL ? !va != !vb : va != vb)
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
	if (HOST_IS_LE && unbounded(o)) {
		copy_block(s + o->state_off, buf + o->enc_off, o);
		return true;
	}
	for (uint32_t e = 0; e < o->count; e++) {
		uint64_t v =
			le_get(buf + o->enc_off + (size_t)e * o->size, o->size);

		if (v > o->max)
			return false;
		if (o->type == DM_FT_BOOL)
			*(bool *)(s + value_off(o, e)) = v != 0;
		else
			mem_set(s + value_off(o, e), v, o->size);
	}
	return true;
}

/* Everything dm_state_load would accept without a word of complaint. */
static bool decodes_cleanly(struct dm_state_plan *p, const uint8_t *buf,
			    size_t len)
{
	const struct dm_state_desc *desc = p->desc;

	if (len != p->enc_size || !headers_match(p, buf))
		return false;
	for (size_t i = 0; i < p->nops; i++) {
		const struct op *o = &p->ops[i];

		if (!decode_op(o, buf, p->scratch))
			return false;
		if (o->type == DM_FT_TIMER) {
			const struct dm_timer *t =
				(const void *)(p->scratch + o->state_off);

			if (t->when != DM_TIME_NEVER && !t->q)
				return false;
		}
	}
	for (size_t i = 0; i < p->nchecks; i++)
		if (p->checks[i].desc->validate(
			    p->scratch + p->checks[i].state_off, NULL))
			return false;
	return !desc->validate || !desc->validate(p->scratch, NULL);
}

static struct dm_timer *timer_at(void *state, size_t off)
{
	return (struct dm_timer *)((uint8_t *)state + off);
}

int dm_state_plan_load(struct dm_state_plan *p, void *state, const uint8_t *buf,
		       size_t len, struct dm_error *err)
{
	const struct dm_state_desc *desc = p->desc;

	/* As dm_state_load: validate callbacks see the live wiring. */
	memcpy(p->scratch, state, desc->size);
	if (!decodes_cleanly(p, buf, len))
		return dm_state_load(desc, state, buf, len, err);
	for (size_t i = 0; i < p->ntimers; i++)
		dm_timer_cancel(timer_at(state, p->timers[i]));
	for (size_t i = 0; i < p->nspans; i++)
		memcpy((uint8_t *)state + p->spans[i].off,
		       p->scratch + p->spans[i].off, p->spans[i].len);
	for (size_t i = 0; i < p->ntimers; i++)
		dm_timer_arm(timer_at(state, p->timers[i]),
			     deadline(p->scratch, p->timers[i]));
	if (desc->post_load)
		desc->post_load(state);
	return 0;
}
