/* SPDX-License-Identifier: MIT */
/*
 * State tables.  Each model declares its migratable state once, as a static
 * table of field descriptors (in the spirit of QEMU's VMState and of the
 * set/number/size/value register format of the 2012 "next generation KVM
 * API" proposal).  That one table drives save, load (with validation),
 * hashing, field-by-field diff, pretty-printing and the SQL field view.
 *
 * State that is not in the table does not survive a checkpoint; that is
 * what the migration check exists to catch.  Caches derived from table
 * state must be recomputed by the descriptor's post_load hook.
 *
 * The canonical encoding is specified in docs/state-format.md.
 */
#ifndef DM_STATE_H
#define DM_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/error.h"

enum dm_field_type {
	DM_FT_BOOL, /* bool, encoded as one byte 0 or 1 */
	DM_FT_U8,
	DM_FT_U16,
	DM_FT_U32,
	DM_FT_U64,
	DM_FT_TIMER,  /* struct dm_timer: its deadline, 8 bytes */
	DM_FT_STRUCT, /* array of sub-structures described by .sub */
};

/* Printing hint: the value reads best in hex (registers, addresses). */
#define DM_FF_HEX 0x1

struct dm_state_desc;

struct dm_field {
	const char *name;
	uint16_t id;	/* stable for a state version; never reused */
	uint8_t type;	/* enum dm_field_type */
	uint8_t flags;	/* DM_FF_* */
	uint16_t count; /* number of elements (1 for a scalar) */
	size_t offset;	/* offset of the first element */
	size_t stride;	/* distance between elements */
	uint64_t max;	/* largest value load accepts */
	const struct dm_state_desc *sub; /* DM_FT_STRUCT only */
};

struct dm_state_desc {
	const char *name; /* "pit", "ch" (for sub-tables) */
	uint16_t version; /* bump on any change to fields or meaning */
	size_t size;	  /* sizeof the described struct */
	const struct dm_field *fields;
	size_t nfields;
	/*
	 * Cross-field validation after per-field range checks (optional).
	 * Returns 0, or fills err naming the offending field and returns -1.
	 */
	int (*validate)(const void *state, struct dm_error *err);
	/* Recomputes derived caches after a successful load (optional). */
	void (*post_load)(void *state);
};

#define DM_MEMBER_SIZE(st, member) sizeof(((st *)0)->member)
#define DM_ELEMS(st, member) \
	(DM_MEMBER_SIZE(st, member) / DM_MEMBER_SIZE(st, member[0]))

/* Declarators.  MAX is the largest legal value of each element. */
#define DM_SCALAR(ft, st, member, fid, maxval, fl)                         \
	{                                                                  \
		.name = #member, .id = (fid), .type = (ft), .flags = (fl), \
		.count = 1, .offset = offsetof(st, member),                \
		.stride = DM_MEMBER_SIZE(st, member), .max = (maxval)      \
	}
#define DM_ARRAY(ft, st, member, fid, maxval, fl)                              \
	{                                                                      \
		.name = #member, .id = (fid), .type = (ft), .flags = (fl),     \
		.count = DM_ELEMS(st, member), .offset = offsetof(st, member), \
		.stride = DM_MEMBER_SIZE(st, member[0]), .max = (maxval)       \
	}
#define DM_BOOL(st, member, fid) DM_SCALAR(DM_FT_BOOL, st, member, fid, 1, 0)
#define DM_U8(st, member, fid, maxval) \
	DM_SCALAR(DM_FT_U8, st, member, fid, maxval, 0)
#define DM_U16(st, member, fid, maxval) \
	DM_SCALAR(DM_FT_U16, st, member, fid, maxval, 0)
#define DM_U32(st, member, fid, maxval) \
	DM_SCALAR(DM_FT_U32, st, member, fid, maxval, 0)
#define DM_U64(st, member, fid, maxval) \
	DM_SCALAR(DM_FT_U64, st, member, fid, maxval, 0)
#define DM_X8(st, member, fid) \
	DM_SCALAR(DM_FT_U8, st, member, fid, UINT8_MAX, DM_FF_HEX)
#define DM_X16(st, member, fid) \
	DM_SCALAR(DM_FT_U16, st, member, fid, UINT16_MAX, DM_FF_HEX)
#define DM_X32(st, member, fid) \
	DM_SCALAR(DM_FT_U32, st, member, fid, UINT32_MAX, DM_FF_HEX)
#define DM_X64(st, member, fid) \
	DM_SCALAR(DM_FT_U64, st, member, fid, UINT64_MAX, DM_FF_HEX)
#define DM_TIMER(st, member, fid) \
	DM_SCALAR(DM_FT_TIMER, st, member, fid, UINT64_MAX, 0)
#define DM_STRUCTS(st, member, fid, subdesc)                                   \
	{                                                                      \
		.name = #member, .id = (fid), .type = DM_FT_STRUCT,            \
		.count = DM_ELEMS(st, member), .offset = offsetof(st, member), \
		.stride = DM_MEMBER_SIZE(st, member[0]), .max = 0,             \
		.sub = &(subdesc)                                              \
	}

#define DM_STATE_DESC(sname, ver, st, table, ...)                          \
	{                                                                  \
		.name = (sname), .version = (ver), .size = sizeof(st),     \
		.fields = (table),                                         \
		.nfields = sizeof(table) / sizeof((table)[0]), __VA_ARGS__ \
	}

/* Exact size of the canonical encoding of a state described by desc. */
size_t dm_state_encoded_size(const struct dm_state_desc *desc);

/* Encodes into buf (cap >= dm_state_encoded_size); returns bytes written. */
size_t dm_state_encode(const struct dm_state_desc *desc, const void *state,
		       uint8_t *buf, size_t cap);

/*
 * Decodes, validates and, only when everything is valid, replaces the
 * state in place: fields outside the table (wiring, callbacks) are kept,
 * timers are re-armed at their saved deadlines and post_load runs.  On error
 * the state is untouched and err names the byte offset or the field.
 */
int dm_state_load(const struct dm_state_desc *desc, void *state,
		  const uint8_t *buf, size_t len, struct dm_error *err);

/* Decodes into a zeroed scratch struct without any live wiring (for diff
 * and printing of stored blobs).  Same validation as dm_state_load. */
int dm_state_decode(const struct dm_state_desc *desc, void *scratch,
		    const uint8_t *buf, size_t len, struct dm_error *err);

/* XXH3-64 of the canonical encoding. */
uint64_t dm_state_hash(const struct dm_state_desc *desc, const void *state);

/* One leaf field element, as visited by dm_state_walk. */
struct dm_leaf {
	const char *path; /* "ch0.latched_count", "irr[3]" */
	const struct dm_field *field;
	uint64_t value;
};

typedef int (*dm_leaf_fn)(const struct dm_leaf *leaf, void *ctx);

/* Visits every leaf in table order; stops early if fn returns non-zero. */
int dm_state_walk(const struct dm_state_desc *desc, const void *state,
		  dm_leaf_fn fn, void *ctx);

/* Visits the leaves whose values differ between a and b (both decoded with
 * the same desc); returns the number of differing leaves. */
typedef void (*dm_diff_fn)(const struct dm_leaf *a, uint64_t b_value,
			   void *ctx);
size_t dm_state_diff(const struct dm_state_desc *desc, const void *a,
		     const void *b, dm_diff_fn fn, void *ctx);

/* Formats a leaf value ("0x1a", "17", "never" for an idle timer). */
void dm_leaf_format(const struct dm_leaf *leaf, char *buf, size_t cap);
/* Both sides of a dm_state_diff callback: leaf a's value in va, b_value
 * formatted as the same leaf in vb (each cap bytes). */
void dm_leaf_format_pair(const struct dm_leaf *a, uint64_t b_value, char *va,
			 char *vb, size_t cap);

/* Where one leaf element's value sits in the canonical encoding, and
 * where the element is in the described struct. */
struct dm_layout_leaf {
	const char *path; /* as in dm_state_walk */
	const struct dm_field *field;
	size_t offset;	     /* byte offset of the value (little-endian) */
	size_t size;	     /* 1, 2, 4 or 8 */
	size_t state_offset; /* of the element (a timer: its dm_timer) */
};

typedef int (*dm_layout_fn)(const struct dm_layout_leaf *leaf, void *ctx);

/*
 * Visits every leaf in table order with its place in the encoding, which
 * depends on desc alone (the SQL field view of docs/database.md reads
 * values straight out of stored blobs with it); stops early if fn returns
 * non-zero and returns that value.
 */
int dm_state_layout(const struct dm_state_desc *desc, dm_layout_fn fn,
		    void *ctx);
/* As dm_state_layout, without building the paths (leaf->path is ""):
 * what a caller that wants offsets only should use. */
int dm_state_leaves(const struct dm_state_desc *desc, dm_layout_fn fn,
		    void *ctx);

/*
 * A state table flattened for speed (sim/stateplan.c): the same encoding
 * and load semantics as dm_state_encode and dm_state_load, at the cost of
 * a pass over the leaves.  A plan never changes once built.
 */
struct dm_state_plan;

struct dm_state_plan *dm_state_plan_new(const struct dm_state_desc *desc);
void dm_state_plan_free(struct dm_state_plan *plan);
/* The plan of desc, built on first use and kept for the process's life
 * (shared, thread-safe); NULL when out of memory or past 64 tables. */
const struct dm_state_plan *dm_state_plan_for(const struct dm_state_desc *desc);
const struct dm_state_desc *dm_state_plan_desc(const struct dm_state_plan *p);
size_t dm_state_plan_encoded_size(const struct dm_state_plan *plan);
/* As dm_state_encode. */
size_t dm_state_plan_encode(const struct dm_state_plan *plan, const void *state,
			    uint8_t *buf, size_t cap);
/* As dm_state_load, which words the error when the buffer is refused. */
int dm_state_plan_load(const struct dm_state_plan *plan, void *state,
		       const uint8_t *buf, size_t len, struct dm_error *err);
/* Whether two states of the table encode to the same bytes. */
bool dm_state_plan_equal(const struct dm_state_plan *plan, const void *a,
			 const void *b);

#endif
