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
 * A leaf element's place: its value in the struct (a timer's deadline) and
 * in the encoding.  Offsets fit 32 bits: states are a few kilobytes.
 */
struct slot {
	uint32_t val;
	uint32_t enc;
};

/* A run of elements of one array, back to back both in the struct and in
 * the encoding: one copy on a little-endian host (a load still checks each
 * element against its max, through the range lists). */
struct block {
	struct slot at;
	uint32_t len;
};

/*
 * The leaves sorted by what a pass must do with them, each kind in its own
 * array, so the loops over them have no branch on the leaf's type or size:
 * most states are a few hundred scalars, and a per-leaf switch cost more
 * than the copy itself.  Index k of the by-size arrays holds elements of
 * 1 << k bytes.
 */
#define NSIZES 4

struct slots {
	struct slot *v;
	uint64_t *max; /* checked elements: the largest value each may hold */
	size_t n;
};

struct blocks {
	struct block *v;
	size_t n;
};

static unsigned size_index(size_t size)
{
	return size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3;
}

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
	/* Moves: every value but the bools, both ways. */
	struct slots copy[NSIZES];
	struct blocks blocks; /* array runs */
	/* Values with a max below their type's: a load checks them. */
	struct slots range[NSIZES];
	struct slots bools; /* moved and checked: one byte, 0 or 1 */
	struct check *checks;
	size_t nchecks;
	/*
	 * 0xff over the struct bytes that hold table values other than
	 * deadlines: a comparison or a copy of those is one pass of masked
	 * words, where a call per field cost more than the bytes it moved.
	 */
	uint8_t *vmask;
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

/* With a constant size, each of these inlines to a single move. */
static inline uint64_t mem_get(const uint8_t *p, unsigned size)
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

static inline void mem_set(uint8_t *p, uint64_t v, unsigned size)
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

/* A little-endian value in an encoding. */
static inline uint64_t le_get(const uint8_t *p, unsigned size)
{
	return HOST_IS_LE ? mem_get(p, size) : dm_get_le(p, size);
}

static inline void le_put(uint8_t *p, uint64_t v, unsigned size)
{
	if (HOST_IS_LE)
		mem_set(p, v, size);
	else
		dm_put_le(p, v, size);
}

/* Whether leaf l continues the block that ends the list. */
static bool joins(const struct blocks *b, const struct dm_layout_leaf *l)
{
	const struct block *last = b->n ? &b->v[b->n - 1] : NULL;

	return last && l->state_offset == last->at.val + last->len &&
	       l->offset == last->at.enc + last->len;
}

static bool is_checked(const struct dm_field *f, size_t size)
{
	return f->type != DM_FT_BOOL && f->max < UINT64_MAX >> (64 - 8 * size);
}

/* Same-size unchecked elements of one array: runs on a little-endian host. */
static bool is_array_element(const struct dm_layout_leaf *l)
{
	const struct dm_field *f = l->field;

	return HOST_IS_LE && f->count > 1 && f->type != DM_FT_TIMER &&
	       f->type != DM_FT_BOOL;
}

static int add_leaf(const struct dm_layout_leaf *l, void *ctx)
{
	struct dm_state_plan *p = ctx;
	const struct dm_field *f = l->field;
	struct slot at = {(uint32_t)l->state_offset, (uint32_t)l->offset};
	unsigned k = size_index(l->size);

	memset(p->mask + l->offset, 0, l->size);
	if (f->type == DM_FT_TIMER) {
		p->timers[p->ntimers++] = l->state_offset;
		at.val += offsetof(struct dm_timer, when);
	} else {
		memset(p->vmask + l->state_offset, 0xff, l->size);
	}
	if (f->type == DM_FT_BOOL) {
		p->bools.v[p->bools.n++] = at;
		return 0;
	}
	if (is_checked(f, l->size)) {
		p->range[k].max[p->range[k].n] = f->max;
		p->range[k].v[p->range[k].n++] = at;
	}
	if (is_array_element(l) && joins(&p->blocks, l)) {
		p->blocks.v[p->blocks.n - 1].len += (uint32_t)l->size;
	} else if (is_array_element(l)) {
		p->blocks.v[p->blocks.n++] =
			(struct block){at, (uint32_t)l->size};
	} else {
		p->copy[k].v[p->copy[k].n++] = at;
	}
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

/* A block of 1, 2, 4 or 8 bytes moves as one scalar. */
static void blocks_to_scalars(struct dm_state_plan *p)
{
	size_t n = p->blocks.n;

	p->blocks.n = 0;
	for (size_t i = 0; i < n; i++) {
		struct block b = p->blocks.v[i];
		struct slots *c = &p->copy[size_index(b.len)];

		if (b.len == 1 || b.len == 2 || b.len == 4 || b.len == 8)
			c->v[c->n++] = b.at;
		else
			p->blocks.v[p->blocks.n++] = b;
	}
}

void dm_state_plan_free(struct dm_state_plan *p)
{
	if (!p)
		return;
	free(p->tmpl);
	free(p->mask);
	for (unsigned k = 0; k < NSIZES; k++) {
		free(p->copy[k].v);
		free(p->range[k].v);
		free(p->range[k].max);
	}
	free(p->bools.v);
	free(p->blocks.v);
	free(p->checks);
	free(p->vmask);
	free(p->timers);
	free(p);
}

/* Room for every leaf in each list: plans are few and small. */
static bool alloc_lists(struct dm_state_plan *p, size_t n)
{
	bool ok = true;

	for (unsigned k = 0; k < NSIZES; k++) {
		p->copy[k].v = calloc(n, sizeof(*p->copy[k].v));
		p->range[k].v = calloc(n, sizeof(*p->range[k].v));
		p->range[k].max = calloc(n, sizeof(*p->range[k].max));
		ok = ok && p->copy[k].v && p->range[k].v && p->range[k].max;
	}
	p->bools.v = calloc(n, sizeof(*p->bools.v));
	p->blocks.v = calloc(n, sizeof(*p->blocks.v));
	p->checks = calloc(n, sizeof(*p->checks));
	p->timers = calloc(n, sizeof(*p->timers));
	return ok && p->bools.v && p->blocks.v && p->checks && p->timers;
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
	p->vmask = calloc(1, desc->size);
	zero = calloc(1, desc->size);
	if (!p->tmpl || !p->mask || !p->vmask || !zero ||
	    !alloc_lists(p, leaves + 1) || add_checks(p, desc, 0, leaves + 1)) {
		free(zero);
		dm_state_plan_free(p);
		return NULL;
	}
	dm_state_encode(desc, zero, p->tmpl, p->enc_size);
	free(zero);
	memset(p->mask, 0xff, p->enc_size);
	dm_state_leaves(desc, add_leaf, p);
	blocks_to_scalars(p);
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

/* always_inline: called with a constant size, each loop moves scalars. */
static inline __attribute__((always_inline)) void
put_sized(const struct slots *g, unsigned size, const uint8_t *s, uint8_t *out)
{
	/* Locals: a store through out could otherwise alias g. */
	const struct slot *v = g->v;
	size_t n = g->n;

	for (size_t i = 0; i < n; i++)
		le_put(out + v[i].enc, mem_get(s + v[i].val, size), size);
}

/* g[k] holds the elements of 1 << k bytes. */
static void put_scalars(const struct slots *g, const uint8_t *s, uint8_t *out)
{
	put_sized(&g[0], 1, s, out);
	put_sized(&g[1], 2, s, out);
	put_sized(&g[2], 4, s, out);
	put_sized(&g[3], 8, s, out);
}

static void put_bools(const struct slots *g, const uint8_t *s, uint8_t *out)
{
	const struct slot *v = g->v;
	size_t n = g->n;

	for (size_t i = 0; i < n; i++)
		out[v[i].enc] = s[v[i].val] != 0;
}

static void put_blocks(const struct blocks *g, const uint8_t *s, uint8_t *out)
{
	const struct block *v = g->v;
	size_t n = g->n;

	for (size_t i = 0; i < n; i++)
		memcpy(out + v[i].at.enc, s + v[i].at.val, v[i].len);
}

static void get_blocks(const struct blocks *g, const uint8_t *buf, uint8_t *s)
{
	const struct block *v = g->v;
	size_t n = g->n;

	for (size_t i = 0; i < n; i++)
		memcpy(s + v[i].at.val, buf + v[i].at.enc, v[i].len);
}

size_t dm_state_plan_encode(const struct dm_state_plan *p, const void *state,
			    uint8_t *buf, size_t cap)
{
	const uint8_t *s = state;

	if (cap < p->enc_size)
		return 0;
	memcpy(buf, p->tmpl, p->enc_size);
	put_scalars(p->copy, s, buf);
	put_bools(&p->bools, s, buf);
	put_blocks(&p->blocks, s, buf);
	return p->enc_size;
}

static uint64_t deadline(const uint8_t *state, size_t timer)
{
	return mem_get(state + timer + offsetof(struct dm_timer, when), 8);
}

/*
 * Masked passes over whole states move 16 bytes a step (GCC's vector
 * extension, SSE2 on x86-64): they run over every byte of the states
 * migrate-check saves and loads at each event, and as scalar word loops
 * they were a sixth of its time.
 */
typedef uint64_t vec __attribute__((vector_size(16)));

static inline vec vec_get(const uint8_t *p)
{
	vec v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* The masked difference of a and b in the 16 bytes at k. */
static inline vec masked_diff(const uint8_t *a, const uint8_t *b,
			      const uint8_t *mask, size_t k)
{
	return (vec_get(a + k) ^ vec_get(b + k)) & vec_get(mask + k);
}

/* The same over 8 bytes. */
static inline uint64_t masked_diff8(const uint8_t *a, const uint8_t *b,
				    const uint8_t *mask, size_t k)
{
	return (mem_get(a + k, 8) ^ mem_get(b + k, 8)) & mem_get(mask + k, 8);
}

/*
 * Whether a and b hold the same bytes wherever mask is set; no early
 * exit, so the loop is a straight run of masked compares.  What is left
 * after the 16-byte steps is compared by one step that overlaps the one
 * before (or two 8-byte ones for 8 to 15 bytes), not byte by byte: a byte
 * loop over the clock's 15-byte encoding and 8-byte state cost a tenth of
 * the vector steps over the PIT's 697 and 352.
 */
static inline __attribute__((always_inline)) bool
masked_equal(const uint8_t *a, const uint8_t *b, const uint8_t *mask, size_t n)
{
	vec diff = {0, 0};
	uint64_t rest = 0;
	size_t k = 0;

	for (; k + sizeof(vec) <= n; k += sizeof(vec))
		diff |= masked_diff(a, b, mask, k);
	if (k < n && n >= sizeof(vec))
		diff |= masked_diff(a, b, mask, n - sizeof(vec));
	else if (k < n && n >= 8)
		rest = masked_diff8(a, b, mask, 0) |
		       masked_diff8(a, b, mask, n - 8);
	else
		for (; k < n; k++)
			rest |= (uint8_t)((a[k] ^ b[k]) & mask[k]);
	return !(diff[0] | diff[1] | rest);
}

/* dst takes src's bytes wherever mask is set at the 16 bytes at k. */
static inline void masked_move(uint8_t *dst, const uint8_t *src,
			       const uint8_t *mask, size_t k)
{
	vec m = vec_get(mask + k);
	vec v = (vec_get(dst + k) & ~m) | (vec_get(src + k) & m);

	memcpy(dst + k, &v, sizeof(v));
}

/* The same over 8 bytes. */
static inline void masked_move8(uint8_t *dst, const uint8_t *src,
				const uint8_t *mask, size_t k)
{
	uint64_t m = mem_get(mask + k, 8);

	mem_set(dst + k, (mem_get(dst + k, 8) & ~m) | (mem_get(src + k, 8) & m),
		8);
}

/* dst takes src's bytes wherever mask is set; the tail is moved as
 * masked_equal compares it (moving a byte twice changes nothing). */
static void masked_copy(uint8_t *dst, const uint8_t *src, const uint8_t *mask,
			size_t n)
{
	size_t k = 0;

	for (; k + sizeof(vec) <= n; k += sizeof(vec))
		masked_move(dst, src, mask, k);
	if (k < n && n >= sizeof(vec)) {
		masked_move(dst, src, mask, n - sizeof(vec));
	} else if (k < n && n >= 8) {
		masked_move8(dst, src, mask, 0);
		masked_move8(dst, src, mask, n - 8);
	} else {
		for (; k < n; k++)
			dst[k] = (uint8_t)((dst[k] & ~mask[k]) |
					   (src[k] & mask[k]));
	}
}

static bool slots_same(const struct slots *g, unsigned size, const uint8_t *a,
		       const uint8_t *b)
{
	for (size_t i = 0; i < g->n; i++)
		if (memcmp(a + g->v[i].val, b + g->v[i].val, size))
			return false;
	return true;
}

/* The bytes differ somewhere: the values are still equal if the only
 * difference is between two bools that both hold true. */
static bool same_values(const struct dm_state_plan *p, const uint8_t *a,
			const uint8_t *b)
{
	for (unsigned k = 0; k < NSIZES; k++)
		if (!slots_same(&p->copy[k], 1u << k, a, b))
			return false;
	for (size_t i = 0; i < p->blocks.n; i++)
		if (memcmp(a + p->blocks.v[i].at.val, b + p->blocks.v[i].at.val,
			   p->blocks.v[i].len))
			return false;
	for (size_t i = 0; i < p->bools.n; i++)
		if (!a[p->bools.v[i].val] != !b[p->bools.v[i].val])
			return false;
	return true;
}

bool dm_state_plan_equal(const struct dm_state_plan *p, const void *a,
			 const void *b)
{
	for (size_t i = 0; i < p->ntimers; i++)
		if (deadline(a, p->timers[i]) != deadline(b, p->timers[i]))
			return false;
	/* Equal bytes are equal values; unequal bytes may still be equal
	 * bools. */
	return masked_equal(a, b, p->vmask, p->desc->size) ||
	       same_values(p, a, b);
}

/* Whether buf has the headers of this table (byte order does not matter
 * to a masked equality). */
static bool headers_match(const struct dm_state_plan *p, const uint8_t *buf)
{
	return masked_equal(buf, p->tmpl, p->mask, p->enc_size);
}

static inline __attribute__((always_inline)) void
get_sized(const struct slots *g, unsigned size, const uint8_t *buf, uint8_t *s)
{
	const struct slot *v = g->v;
	size_t n = g->n;

	for (size_t i = 0; i < n; i++)
		mem_set(s + v[i].val, le_get(buf + v[i].enc, size), size);
}

/* Whether every value of g in buf is at most its max. */
static inline __attribute__((always_inline)) bool
in_range(const struct slots *g, unsigned size, const uint8_t *buf)
{
	const struct slot *at = g->v;
	const uint64_t *max = g->max;
	size_t n = g->n;
	bool bad = false;

	for (size_t i = 0; i < n; i++)
		bad |= le_get(buf + at[i].enc, size) > max[i];
	return !bad;
}

/* Moves the bools into the scratch copy; false if one is not 0 or 1. */
static bool get_bools(const struct slots *g, const uint8_t *buf, uint8_t *s)
{
	const struct slot *v = g->v;
	size_t n = g->n;
	bool ok = true;

	for (size_t i = 0; i < n; i++) {
		ok &= buf[v[i].enc] <= 1;
		s[v[i].val] = buf[v[i].enc];
	}
	return ok;
}

/* Decodes every value into the scratch copy; false if one is out of
 * range. */
static bool decode_values(const struct dm_state_plan *p, const uint8_t *buf,
			  uint8_t *s)
{
	bool ok = in_range(&p->range[0], 1, buf) &
		  in_range(&p->range[1], 2, buf) &
		  in_range(&p->range[2], 4, buf) &
		  in_range(&p->range[3], 8, buf);

	get_sized(&p->copy[0], 1, buf, s);
	get_sized(&p->copy[1], 2, buf, s);
	get_sized(&p->copy[2], 4, buf, s);
	get_sized(&p->copy[3], 8, buf, s);
	ok &= get_bools(&p->bools, buf, s);
	get_blocks(&p->blocks, buf, s);
	return ok;
}

/* Everything dm_state_load would accept without a word of complaint. */
static bool decodes_cleanly(const struct dm_state_plan *p, uint8_t *scratch,
			    const uint8_t *buf, size_t len)
{
	const struct dm_state_desc *desc = p->desc;

	if (len != p->enc_size || !headers_match(p, buf) ||
	    !decode_values(p, buf, scratch))
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
		masked_copy(state, scratch, p->vmask, desc->size);
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
