// SPDX-License-Identifier: MIT
/*
 * State tables: canonical encoding, strict decoding, hashing, walking and
 * diffing.  The byte format is specified in docs/state-format.md.
 */
#include "sim/state.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "sim/timer.h"

/* Field header: u16 id, u16 count, u8 element size. */
#define HDR_SIZE 5
#define VERSION_SIZE 2
/* States up to this size are hashed from a stack buffer. */
#define HASH_STACK_SIZE 4096
#define PATH_SIZE 256

static size_t elem_size(const struct dm_field *f)
{
	switch (f->type) {
	case DM_FT_BOOL:
	case DM_FT_U8:
		return 1;
	case DM_FT_U16:
		return 2;
	case DM_FT_U32:
		return 4;
	case DM_FT_U64:
	case DM_FT_TIMER:
		return 8;
	default:
		return 0;
	}
}

static const uint8_t *elem_ptr(const struct dm_field *f, const void *base,
			       size_t i)
{
	return (const uint8_t *)base + f->offset + i * f->stride;
}

/* Value of one scalar element in host memory (a timer's deadline). */
static uint64_t leaf_get(const struct dm_field *f, const uint8_t *p)
{
	uint8_t v8;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	switch (f->type) {
	case DM_FT_BOOL:
		memcpy(&v8, p, 1);
		return v8 != 0;
	case DM_FT_U8:
		memcpy(&v8, p, 1);
		return v8;
	case DM_FT_U16:
		memcpy(&v16, p, 2);
		return v16;
	case DM_FT_U32:
		memcpy(&v32, p, 4);
		return v32;
	case DM_FT_U64:
		memcpy(&v64, p, 8);
		return v64;
	case DM_FT_TIMER:
		memcpy(&v64, p + offsetof(struct dm_timer, when), 8);
		return v64;
	default:
		return 0;
	}
}

/* Stores a value already checked against the field's size and max. */
static void leaf_set(const struct dm_field *f, uint8_t *p, uint64_t v)
{
	bool b = v != 0;
	uint8_t v8 = (uint8_t)v;
	uint16_t v16 = (uint16_t)v;
	uint32_t v32 = (uint32_t)v;

	switch (f->type) {
	case DM_FT_BOOL:
		memcpy(p, &b, sizeof(b));
		break;
	case DM_FT_U8:
		memcpy(p, &v8, 1);
		break;
	case DM_FT_U16:
		memcpy(p, &v16, 2);
		break;
	case DM_FT_U32:
		memcpy(p, &v32, 4);
		break;
	case DM_FT_U64:
		memcpy(p, &v, 8);
		break;
	case DM_FT_TIMER:
		memcpy(p + offsetof(struct dm_timer, when), &v, 8);
		break;
	default:
		break;
	}
}

static size_t fields_size(const struct dm_state_desc *desc)
{
	size_t n = 0;

	for (size_t i = 0; i < desc->nfields; i++) {
		const struct dm_field *f = &desc->fields[i];
		size_t each = f->type == DM_FT_STRUCT ? fields_size(f->sub)
						      : elem_size(f);

		n += HDR_SIZE + (size_t)f->count * each;
	}
	return n;
}

size_t dm_state_encoded_size(const struct dm_state_desc *desc)
{
	return VERSION_SIZE + fields_size(desc);
}

static uint8_t *put_le(uint8_t *out, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)(v >> (8 * i));
	return out + n;
}

static uint64_t get_le(const uint8_t *in, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)in[i] << (8 * i);
	return v;
}

static uint8_t *encode_fields(const struct dm_state_desc *desc,
			      const void *base, uint8_t *out)
{
	for (size_t i = 0; i < desc->nfields; i++) {
		const struct dm_field *f = &desc->fields[i];
		size_t size = elem_size(f);

		out = put_le(out, f->id, 2);
		out = put_le(out, f->count, 2);
		out = put_le(out, size, 1);
		for (size_t e = 0; e < f->count; e++) {
			const uint8_t *p = elem_ptr(f, base, e);

			if (f->type == DM_FT_STRUCT)
				out = encode_fields(f->sub, p, out);
			else
				out = put_le(out, leaf_get(f, p), size);
		}
	}
	return out;
}

size_t dm_state_encode(const struct dm_state_desc *desc, const void *state,
		       uint8_t *buf, size_t cap)
{
	size_t n = dm_state_encoded_size(desc);

	if (cap < n)
		return 0;
	encode_fields(desc, state, put_le(buf, desc->version, VERSION_SIZE));
	return n;
}

uint64_t dm_state_hash(const struct dm_state_desc *desc, const void *state)
{
	size_t n = dm_state_encoded_size(desc);
	uint8_t stack[HASH_STACK_SIZE];
	uint8_t *buf = n <= sizeof(stack) ? stack : malloc(n);
	uint8_t *end;
	uint64_t h;

	if (!buf)
		abort();
	end = encode_fields(desc, state,
			    put_le(buf, desc->version, VERSION_SIZE));
	h = XXH3_64bits(buf, (size_t)(end - buf));
	if (buf != stack)
		free(buf);
	return h;
}

/* Leaf paths ("ch1.mode", "irr[3]"), built in place and popped by length. */
struct path {
	char s[PATH_SIZE];
	size_t len;
};

static size_t path_push(struct path *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static size_t path_push(struct path *p, const char *fmt, ...)
{
	size_t old = p->len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(p->s + old, sizeof(p->s) - old, fmt, ap);
	va_end(ap);
	if (n > 0)
		p->len = old + (size_t)n < sizeof(p->s) ? old + (size_t)n
							: sizeof(p->s) - 1;
	return old;
}

static void path_pop(struct path *p, size_t len)
{
	p->len = len;
	p->s[len] = '\0';
}

/* A struct element's prefix ("ch1."), or a leaf's name ("mode", "irr[3]"). */
static size_t path_push_elem(struct path *p, const struct dm_field *f, size_t i)
{
	if (f->type == DM_FT_STRUCT)
		return path_push(p, "%s%zu.", f->name, i);
	if (f->count > 1)
		return path_push(p, "%s[%zu]", f->name, i);
	return path_push(p, "%s", f->name);
}

/* Nesting of sub-tables a decoder follows (tables nest two deep today). */
#define DECODE_DEPTH 8

/*
 * Decoder position and error context.  Where decoding stands is kept as a
 * stack of (field, element) and rendered into a path only when a message
 * needs it: building path strings for every field would dominate the cost
 * of a load, which the migration check pays at every event.
 */
struct reader {
	const uint8_t *buf;
	size_t len;
	size_t pos;
	const struct dm_state_desc *top;
	struct dm_error *err;
	struct {
		const struct dm_field *f;
		size_t i;
		bool elem; /* inside element i, past the field header */
	} at[DECODE_DEPTH];
	unsigned depth;
	struct path path;
};

/* The path of the field or element being decoded ("ch1.mode"). */
static const char *where(struct reader *r)
{
	path_pop(&r->path, 0);
	for (unsigned d = 0; d < r->depth; d++) {
		if (r->at[d].elem)
			path_push_elem(&r->path, r->at[d].f, r->at[d].i);
		else
			path_push(&r->path, "%s", r->at[d].f->name);
	}
	return r->path.s;
}

static bool short_of(const struct reader *r, size_t n)
{
	return r->len - r->pos < n;
}

/*
 * Fails with a truncation error when fewer than n bytes are left; what
 * names the item being read.
 */
static int need(struct reader *r, size_t n, const char *what, ...)
	__attribute__((format(printf, 3, 4)));

static int need(struct reader *r, size_t n, const char *what, ...)
{
	size_t left = r->len - r->pos;
	char item[PATH_SIZE + 64];
	va_list ap;

	if (left >= n)
		return 0;
	va_start(ap, what);
	vsnprintf(item, sizeof(item), what, ap);
	va_end(ap);
	return dm_errorf(r->err,
			 "%s: byte %zu: truncated in %s: need %zu bytes, %zu "
			 "left",
			 r->top->name, r->pos, item, n, left);
}

static int value_error(struct reader *r, const struct dm_field *f, uint64_t v,
		       size_t at)
{
	if (f->type == DM_FT_BOOL)
		return dm_errorf(r->err,
				 "%s: %s: value %" PRIu64
				 " is not a bool (0 or 1) at byte %zu",
				 r->top->name, where(r), v, at);
	if (f->flags & DM_FF_HEX)
		return dm_errorf(r->err,
				 "%s: %s: value 0x%" PRIx64
				 " exceeds 0x%" PRIx64 " at byte %zu",
				 r->top->name, where(r), v, f->max, at);
	return dm_errorf(r->err,
			 "%s: %s: value %" PRIu64 " exceeds %" PRIu64
			 " at byte %zu",
			 r->top->name, where(r), v, f->max, at);
}

static int check_header(struct reader *r, const struct dm_field *f)
{
	size_t at = r->pos;
	size_t want_size = elem_size(f);
	unsigned id, count, size;

	if (short_of(r, HDR_SIZE))
		return need(r, HDR_SIZE, "the header of field %u (%s)", f->id,
			    where(r));
	id = (unsigned)get_le(r->buf + at, 2);
	count = (unsigned)get_le(r->buf + at + 2, 2);
	size = (unsigned)get_le(r->buf + at + 4, 1);
	if (id != f->id)
		return dm_errorf(r->err,
				 "%s: byte %zu: expected field %u (%s), found "
				 "id %u",
				 r->top->name, at, f->id, where(r), id);
	if (count != f->count)
		return dm_errorf(
			r->err, "%s: byte %zu: %s: count %u, expected %u",
			r->top->name, at + 2, where(r), count, f->count);
	if (size != want_size)
		return dm_errorf(r->err,
				 "%s: byte %zu: %s: element size %u, expected "
				 "%zu",
				 r->top->name, at + 4, where(r), size,
				 want_size);
	r->pos += HDR_SIZE;
	return 0;
}

static int decode_fields(struct reader *r, const struct dm_state_desc *desc,
			 void *base);

static int decode_leaf(struct reader *r, const struct dm_field *f, uint8_t *p)
{
	size_t size = elem_size(f);
	size_t at = r->pos;
	uint64_t v;

	if (short_of(r, size))
		return need(r, size, "%s", where(r));
	v = get_le(r->buf + at, size);
	if ((f->type == DM_FT_BOOL && v > 1) || v > f->max)
		return value_error(r, f, v, at);
	leaf_set(f, p, v);
	r->pos += size;
	return 0;
}

/*
 * A sub-table's validate runs as soon as its element is decoded, so the
 * first error reported is always the one at the lowest byte offset.
 */
static int decode_struct(struct reader *r, const struct dm_field *f, uint8_t *p)
{
	size_t at = r->pos;

	if (decode_fields(r, f->sub, p))
		return -1;
	if (!f->sub->validate)
		return 0;
	if (r->err)
		r->err->msg[0] = '\0';
	if (!f->sub->validate(p, r->err))
		return 0;
	where(r);
	return dm_error_prefix(r->err, "%s: byte %zu: %.*s", r->top->name, at,
			       (int)(r->path.len - 1), r->path.s);
}

static int decode_field(struct reader *r, const struct dm_field *f, void *base)
{
	unsigned d = r->depth++;
	int rc;

	if (d == DECODE_DEPTH)
		return dm_errorf(r->err, "%s: %s: tables nest deeper than %d",
				 r->top->name, f->name, DECODE_DEPTH);
	r->at[d].f = f;
	r->at[d].elem = false;
	rc = check_header(r, f);
	r->at[d].elem = true;
	for (size_t i = 0; !rc && i < f->count; i++) {
		uint8_t *p = (uint8_t *)elem_ptr(f, base, i);

		r->at[d].i = i;
		if (f->type == DM_FT_STRUCT)
			rc = decode_struct(r, f, p);
		else
			rc = decode_leaf(r, f, p);
	}
	r->depth--;
	return rc;
}

static int decode_fields(struct reader *r, const struct dm_state_desc *desc,
			 void *base)
{
	for (size_t i = 0; i < desc->nfields; i++)
		if (decode_field(r, &desc->fields[i], base))
			return -1;
	return 0;
}

int dm_state_decode(const struct dm_state_desc *desc, void *out,
		    const uint8_t *buf, size_t len, struct dm_error *err)
{
	struct reader r = {
		.buf = buf,
		.len = len,
		.top = desc,
		.err = err,
	};
	unsigned version;

	if (need(&r, VERSION_SIZE, "the state version"))
		return -1;
	version = (unsigned)get_le(buf, VERSION_SIZE);
	if (version != desc->version)
		return dm_errorf(err,
				 "%s: state version %u, this build reads "
				 "version %u",
				 desc->name, version, desc->version);
	r.pos = VERSION_SIZE;
	if (decode_fields(&r, desc, out))
		return -1;
	if (r.pos != len)
		return dm_errorf(err,
				 "%s: byte %zu: %zu trailing bytes after the "
				 "last field",
				 desc->name, r.pos, len - r.pos);
	if (!desc->validate)
		return 0;
	if (err)
		err->msg[0] = '\0';
	if (!desc->validate(out, err))
		return 0;
	return dm_error_prefix(err, "%s", desc->name);
}

/* Calls fn on every DM_FT_TIMER element of a state, in table order. */
/* Calls fn on every table timer; stops at the first non-zero return. */
static int for_each_timer(const struct dm_state_desc *desc, void *base,
			  int (*fn)(struct dm_timer *t, void *ctx), void *ctx)
{
	for (size_t i = 0; i < desc->nfields; i++) {
		const struct dm_field *f = &desc->fields[i];

		if (f->type != DM_FT_TIMER && f->type != DM_FT_STRUCT)
			continue;
		for (size_t e = 0; e < f->count; e++) {
			uint8_t *p = (uint8_t *)elem_ptr(f, base, e);
			int rc = f->type == DM_FT_STRUCT
					 ? for_each_timer(f->sub, p, fn, ctx)
					 : fn((struct dm_timer *)p, ctx);

			if (rc)
				return rc;
		}
	}
	return 0;
}

/* The path of the timer at t within base, for a message (0 if found). */
static int timer_path(const struct dm_state_desc *desc, const void *base,
		      const void *t, struct path *path)
{
	for (size_t i = 0; i < desc->nfields; i++) {
		const struct dm_field *f = &desc->fields[i];

		for (size_t e = 0; e < f->count; e++) {
			const void *p = elem_ptr(f, base, e);
			size_t mark = path_push_elem(path, f, e);

			if ((f->type == DM_FT_TIMER && p == t) ||
			    (f->type == DM_FT_STRUCT &&
			     !timer_path(f->sub, p, t, path)))
				return 0;
			path_pop(path, mark);
		}
	}
	return -1;
}

/* A deadline can only be armed on a timer the model bound to a queue. */
static int find_unbound(struct dm_timer *t, void *ctx)
{
	struct dm_timer **bad = ctx;

	if (t->when == DM_TIME_NEVER || t->q)
		return 0;
	*bad = t;
	return 1;
}

static int cancel_timer(struct dm_timer *t, void *ctx)
{
	(void)ctx;
	dm_timer_cancel(t);
	return 0;
}

/* Copies each table element of the decoded copy into the live state. */
static void apply_fields(const struct dm_state_desc *desc, void *live,
			 const void *decoded)
{
	for (size_t i = 0; i < desc->nfields; i++) {
		const struct dm_field *f = &desc->fields[i];

		for (size_t e = 0; e < f->count; e++) {
			uint8_t *dst = (uint8_t *)elem_ptr(f, live, e);
			const uint8_t *src = elem_ptr(f, decoded, e);

			if (f->type == DM_FT_STRUCT)
				apply_fields(f->sub, dst, src);
			else if (f->type == DM_FT_TIMER)
				dm_timer_arm((struct dm_timer *)dst,
					     leaf_get(f, src));
			else
				leaf_set(f, dst, leaf_get(f, src));
		}
	}
}

/*
 * The decoded copy starts as a copy of the live struct, so validate
 * callbacks see the model's configuration and wiring.  Committing copies
 * only the table's elements back (rather than the whole struct): every
 * table timer is cancelled first, and cancelling can move other timers in
 * the heap, including timers a model forgot to put in its table, whose
 * heap slots a whole-struct copy would then overwrite with stale values.
 */
int dm_state_load(const struct dm_state_desc *desc, void *state,
		  const uint8_t *buf, size_t len, struct dm_error *err)
{
	void *copy = malloc(desc->size);
	struct dm_timer *unbound = NULL;
	struct path path = {.len = 0};

	if (!copy)
		return dm_errorf(err, "%s: out of memory for a %zu-byte copy",
				 desc->name, desc->size);
	memcpy(copy, state, desc->size);
	if (dm_state_decode(desc, copy, buf, len, err)) {
		free(copy);
		return -1;
	}
	if (for_each_timer(desc, copy, find_unbound, &unbound)) {
		timer_path(desc, copy, unbound, &path);
		dm_errorf(err,
			  "%s: %s: deadline %" PRIu64
			  " but the live timer is not bound to an event queue",
			  desc->name, path.s, unbound->when);
		free(copy);
		return -1;
	}
	for_each_timer(desc, state, cancel_timer, NULL);
	apply_fields(desc, state, copy);
	free(copy);
	if (desc->post_load)
		desc->post_load(state);
	return 0;
}

/* Lockstep visit of one state (b == NULL) or two states of one desc. */
struct visit {
	int (*leaf)(const struct dm_leaf *leaf, uint64_t b_value, void *ctx);
	void *ctx;
	struct path path;
};

static int visit_fields(struct visit *v, const struct dm_state_desc *desc,
			const void *a, const void *b)
{
	for (size_t i = 0; i < desc->nfields; i++) {
		const struct dm_field *f = &desc->fields[i];

		for (size_t e = 0; e < f->count; e++) {
			const uint8_t *pa = elem_ptr(f, a, e);
			const uint8_t *pb = b ? elem_ptr(f, b, e) : NULL;
			size_t mark = path_push_elem(&v->path, f, e);
			struct dm_leaf leaf = {v->path.s, f, 0};
			int rc;

			if (f->type == DM_FT_STRUCT) {
				rc = visit_fields(v, f->sub, pa, pb);
			} else {
				leaf.value = leaf_get(f, pa);
				rc = v->leaf(&leaf, pb ? leaf_get(f, pb) : 0,
					     v->ctx);
			}
			path_pop(&v->path, mark);
			if (rc)
				return rc;
		}
	}
	return 0;
}

struct walk_ctx {
	dm_leaf_fn fn;
	void *ctx;
};

static int walk_leaf(const struct dm_leaf *leaf, uint64_t b_value, void *ctx)
{
	const struct walk_ctx *w = ctx;

	(void)b_value;
	return w->fn(leaf, w->ctx);
}

int dm_state_walk(const struct dm_state_desc *desc, const void *state,
		  dm_leaf_fn fn, void *ctx)
{
	struct walk_ctx w = {fn, ctx};
	struct visit v = {.leaf = walk_leaf, .ctx = &w};

	return visit_fields(&v, desc, state, NULL);
}

struct diff_ctx {
	dm_diff_fn fn;
	void *ctx;
	size_t count;
};

static int diff_leaf(const struct dm_leaf *leaf, uint64_t b_value, void *ctx)
{
	struct diff_ctx *d = ctx;

	if (leaf->value == b_value)
		return 0;
	d->count++;
	if (d->fn)
		d->fn(leaf, b_value, d->ctx);
	return 0;
}

size_t dm_state_diff(const struct dm_state_desc *desc, const void *a,
		     const void *b, dm_diff_fn fn, void *ctx)
{
	struct diff_ctx d = {fn, ctx, 0};
	struct visit v = {.leaf = diff_leaf, .ctx = &d};

	visit_fields(&v, desc, a, b);
	return d.count;
}

void dm_leaf_format(const struct dm_leaf *leaf, char *buf, size_t cap)
{
	const struct dm_field *f = leaf->field;

	if (f->type == DM_FT_TIMER && leaf->value == DM_TIME_NEVER)
		snprintf(buf, cap, "never");
	else if (f->flags & DM_FF_HEX)
		snprintf(buf, cap, "0x%" PRIx64, leaf->value);
	else
		snprintf(buf, cap, "%" PRIu64, leaf->value);
}

void dm_leaf_format_pair(const struct dm_leaf *a, uint64_t b_value, char *va,
			 char *vb, size_t cap)
{
	struct dm_leaf b = *a;

	b.value = b_value;
	dm_leaf_format(a, va, cap);
	dm_leaf_format(&b, vb, cap);
}

/* Offsets advance exactly as encode_fields writes. */
struct layout {
	dm_layout_fn fn;
	void *ctx;
	size_t pos;
	bool named; /* build each leaf's path (snprintf: the slow part) */
	struct path path;
};

/* base: where the struct desc describes starts in the top-level state. */
static int layout_fields(struct layout *l, const struct dm_state_desc *desc,
			 size_t base)
{
	for (size_t i = 0; i < desc->nfields; i++) {
		const struct dm_field *f = &desc->fields[i];

		l->pos += HDR_SIZE;
		for (size_t e = 0; e < f->count; e++) {
			size_t mark =
				l->named ? path_push_elem(&l->path, f, e) : 0;
			size_t at = base + f->offset + e * f->stride;
			struct dm_layout_leaf leaf = {l->path.s, f, l->pos,
						      elem_size(f), at};
			int rc;

			if (f->type == DM_FT_STRUCT) {
				rc = layout_fields(l, f->sub, at);
			} else {
				l->pos += leaf.size;
				rc = l->fn(&leaf, l->ctx);
			}
			path_pop(&l->path, mark);
			if (rc)
				return rc;
		}
	}
	return 0;
}

int dm_state_layout(const struct dm_state_desc *desc, dm_layout_fn fn,
		    void *ctx)
{
	struct layout l = {
		.fn = fn, .ctx = ctx, .pos = VERSION_SIZE, .named = true};

	return layout_fields(&l, desc, 0);
}

int dm_state_leaves(const struct dm_state_desc *desc, dm_layout_fn fn,
		    void *ctx)
{
	struct layout l = {.fn = fn, .ctx = ctx, .pos = VERSION_SIZE};

	return layout_fields(&l, desc, 0);
}
