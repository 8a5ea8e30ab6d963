/* SPDX-License-Identifier: MIT */
/*
 * Private to traces/: the per-op column rules both codecs enforce, the
 * event validator, buffered file I/O, and the reader/writer objects.
 * docs/trace-format.md describes the encodings these implement.
 */
#ifndef DM_TRACE_INTERNAL_H
#define DM_TRACE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "traces/trace.h"

#define TRACE_CPU_MAX 65535u
#define TRACE_CONFIG_MAX 65535u /* bytes of machine options */

#define BIN_MAGIC "DMTRACE" /* plus its NUL: 8 bytes */
#define BIN_VERSION 1
#define BIN_HEADER_FIXED 16 /* magic, version, flags, config length */
#define BIN_CHUNK_HEADER 16 /* payload length, count, checksum */
#define BIN_CHUNK_EVENTS 4096u
/* The longest event, a mark: time, op byte, label length, label. */
#define BIN_EVENT_MAX (10 + 1 + 2 + DM_LABEL_MAX)
#define BIN_PAYLOAD_MAX (BIN_CHUNK_EVENTS * BIN_EVENT_MAX)
/* Zeroes after a payload, so a decoder may read a whole plain event past
 * a truncated one and find out afterwards. */
#define BIN_PAD 64

/* The value column of an op. */
enum trace_value {
	TV_REQUIRED, /* writes, irq level, MSI data */
	TV_OPTIONAL, /* reads, intack, hash: '?' allowed */
	TV_LABEL,    /* mark */
};

struct trace_op_info {
	const char *name;
	const char *addr_name; /* NULL: the address column is '-' */
	const char *value_name;
	uint64_t addr_max;
	uint64_t value_max; /* when size_mask is 0; else from the size */
	uint8_t actor;
	uint16_t size_mask; /* bit n: size n allowed; 0: the size column is '-'
			     */
	uint8_t value;	    /* enum trace_value */
};

extern const struct trace_op_info dm_trace_ops[DM_OP_COUNT];
/* [c] is true for the characters a mark label may hold. */
extern const bool dm_trace_label_char[256];

/* What is wrong with an event (TE_OK: nothing). */
enum trace_problem {
	TE_OK,
	TE_OP,
	TE_ACTOR,
	TE_CPU,
	TE_FLAGS,
	TE_ADDR,
	TE_SIZE,
	TE_NEED_VALUE,
	TE_VALUE,
	TE_LABEL,
	TE_GP,
};

static inline uint64_t trace_size_max(unsigned int size)
{
	return size >= 8 ? UINT64_MAX : (1ULL << (8 * size)) - 1;
}

/*
 * Checks the fields that the op gives a meaning; the others (cpu of a
 * non-cpu actor, addr of an op without one, value without DM_EV_VALUE,
 * label of a non-mark) are ignored.  Time order is the caller's.  Takes
 * the fields as values so that a decoder can check them before it stores
 * the event.
 */
static inline enum trace_problem
trace_check_fields(unsigned int op, unsigned int actor, uint32_t cpu,
		   unsigned int flags, uint64_t addr, unsigned int size,
		   uint64_t value)
{
	const struct trace_op_info *oi;
	uint64_t vmax;

	if (op >= DM_OP_COUNT)
		return TE_OP;
	oi = &dm_trace_ops[op];
	if (actor != oi->actor)
		return TE_ACTOR;
	if (actor == DM_ACTOR_CPU && cpu > TRACE_CPU_MAX)
		return TE_CPU;
	if (flags & ~(DM_EV_VALUE | DM_EV_GP))
		return TE_FLAGS;
	if ((flags & DM_EV_GP) &&
	    ((op != DM_OP_MSR_R && op != DM_OP_MSR_W) ||
	     (op == DM_OP_MSR_R && (flags & DM_EV_VALUE))))
		return TE_GP;
	if (oi->addr_name && addr > oi->addr_max)
		return TE_ADDR;
	if (oi->size_mask ? size > 8 || !(oi->size_mask & (1u << size))
			  : size != 0)
		return TE_SIZE;
	if (oi->value == TV_LABEL)
		return flags & DM_EV_VALUE ? TE_FLAGS : TE_OK;
	if (!(flags & DM_EV_VALUE))
		return oi->value == TV_REQUIRED ? TE_NEED_VALUE : TE_OK;
	vmax = oi->size_mask ? trace_size_max(size) : oi->value_max;
	return value > vmax ? TE_VALUE : TE_OK;
}

static inline enum trace_problem trace_check(const struct dm_event *ev)
{
	return trace_check_fields(ev->op, ev->actor, ev->cpu, ev->flags,
				  ev->addr, ev->size, ev->value);
}

/* Checks a NUL-terminated mark label; TE_OK or TE_LABEL. */
enum trace_problem dm_trace_check_label(const char *label);

/*
 * Describes problem p of ev ("port 0x10000 out of range (max 0xffff)").
 * tok, when not NULL, is the offending text token, quoted instead of the
 * canonical value.
 */
void dm_trace_explain(enum trace_problem p, const struct dm_event *ev,
		      const char *tok, size_t toklen, char *buf, size_t cap);

/*
 * Checks machine options as a trace stores them: printable ASCII other
 * than '#', single spaces between options, none leading or trailing.
 * Returns the index of the first bad byte, or -1 when they are fine.
 */
long dm_trace_config_bad(const char *s, size_t len);

/* Formats the canonical text line of ev into buf (at least
 * TRACE_LINE_MAX bytes, NUL-terminated); returns its length or -1 when
 * the op or actor is out of range. */
#define TRACE_LINE_MAX 512
int dm_trace_format_line(const struct dm_event *ev, char *buf);

/* Buffered input from a file descriptor; tracks absolute offsets. */
struct trace_in {
	int fd;
	bool own_fd;
	bool eof;
	int err; /* errno of a failed read, 0 if none */
	uint8_t *buf;
	size_t pos, len, cap;
	uint64_t base; /* file offset of buf[0] */
};

/* Reads more into the buffer (keeping buf[pos..len)); returns the bytes
 * added, 0 at the end of the file, -1 on a read error. */
long dm_trace_in_fill(struct trace_in *in);
/* Copies n bytes to dst; returns how many were available (< n only at
 * the end of the file), or -1 on a read error. */
long dm_trace_in_read(struct trace_in *in, void *dst, size_t n);

static inline uint64_t trace_in_offset(const struct trace_in *in)
{
	return in->base + in->pos;
}

/* Buffered output to a file descriptor; the first error sticks. */
struct trace_out {
	int fd;
	bool own_fd;
	int err;
	uint8_t *buf;
	size_t len, cap;
};

void dm_trace_out_write(struct trace_out *out, const void *data, size_t n);
/* Room for n (<= cap) more bytes at the returned pointer; the caller
 * advances out->len by what it used. */
uint8_t *dm_trace_out_reserve(struct trace_out *out, size_t n);
void dm_trace_out_flush(struct trace_out *out);

struct text_reader {
	uint64_t lineno;
	uint64_t prev_time;
	const char *pending; /* first event line, read ahead by open */
	size_t pending_len;
};

/* A decoded event; a mark keeps its label's offset in the chunk in addr
 * and its length in size. */
struct bin_slot {
	uint64_t time, addr, value;
	uint32_t cpu;
	uint8_t actor, op, size, flags;
};

_Static_assert(offsetof(struct bin_slot, flags) ==
			       offsetof(struct dm_event, flags) &&
		       offsetof(struct bin_slot, cpu) ==
			       offsetof(struct dm_event, cpu) &&
		       offsetof(struct bin_slot, value) ==
			       offsetof(struct dm_event, value) &&
		       sizeof(struct bin_slot) ==
			       offsetof(struct dm_event, label),
	       "a slot is the head of a struct dm_event");

struct bin_reader {
	uint8_t *chunk; /* payload plus BIN_PAD zeroes */
	const uint8_t *end;
	struct bin_slot *slots; /* the chunk's events, decoded */
	uint64_t payload_off;	/* file offset of chunk[0] */
	uint64_t chunk_no;	/* chunks loaded */
	uint64_t time;
	uint32_t count;	   /* events of this chunk */
	uint32_t ndecoded; /* slots filled (up to a bad event) */
	uint32_t next;	   /* next slot to return */
	bool chunk_failed; /* failure describes slots[ndecoded] */
	bool short_chunk;  /* a chunk of < 4096 events: the end must follow */
	bool done;
	struct dm_error failure;
};

struct dm_trace_reader {
	enum dm_trace_encoding enc;
	struct trace_in in;
	char *name; /* for messages: the path, or "<stdin>" */
	char *config;
	bool failed;
	union {
		struct text_reader text;
		struct bin_reader bin;
	};
};

/*
 * The replay hot path: returns the next decoded event of the current
 * binary chunk, or false when the chunk is used up (or failed) and
 * dm_trace_bin_next must load the next one.  A slot is laid out as the
 * head of an event, so the copy is one 32-byte move.
 */
static inline bool dm_trace_bin_take(struct dm_trace_reader *r,
				     struct dm_event *ev)
{
	struct bin_reader *b = &r->bin;
	const struct bin_slot *s;

	if (b->next == b->ndecoded)
		return false;
	s = &b->slots[b->next++];
	memcpy(ev, s, sizeof(*s));
	if (s->op == DM_OP_MARK) {
		memcpy(ev->label, b->chunk + s->addr, s->size);
		ev->label[s->size] = '\0';
		ev->addr = 0;
		ev->size = 0;
	} else {
		ev->label[0] = '\0';
	}
	return true;
}

int dm_trace_text_open(struct dm_trace_reader *r, struct dm_error *err);
int dm_trace_text_next(struct dm_trace_reader *r, struct dm_event *ev,
		       struct dm_error *err);
int dm_trace_bin_open(struct dm_trace_reader *r, struct dm_error *err);
int dm_trace_bin_next(struct dm_trace_reader *r, struct dm_event *ev,
		      struct dm_error *err);
void dm_trace_bin_close(struct dm_trace_reader *r);

struct dm_trace_writer {
	enum dm_trace_encoding enc;
	struct trace_out out;
	char *name; /* for messages: the path, or "<stdout>" */
	uint64_t events;
	uint64_t prev_time;
	/* binary: the chunk being filled */
	uint8_t *chunk;
	size_t chunk_len;
	uint32_t chunk_events;
};

void dm_trace_text_begin(struct dm_trace_writer *w, const char *config);
void dm_trace_text_put(struct dm_trace_writer *w, const struct dm_event *ev);
int dm_trace_bin_begin(struct dm_trace_writer *w, const char *config,
		       struct dm_error *err);
void dm_trace_bin_put(struct dm_trace_writer *w, const struct dm_event *ev);
void dm_trace_bin_end(struct dm_trace_writer *w);

#endif
