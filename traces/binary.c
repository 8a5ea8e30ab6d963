// SPDX-License-Identifier: MIT
/*
 * Binary trace format v1 (docs/trace-format.md): a checksummed header, then
 * chunks of at most 4096 varint-encoded events, each chunk with the XXH3-64
 * of its payload, then an empty end chunk.  The reader checks a whole chunk
 * with one hash call before decoding any of it, decodes in place from one
 * reusable buffer, and validates every event as the text parser does.
 * Errors name the absolute byte offset.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "traces/trace_internal.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define OP_BYTE_ACTOR_SHIFT 4
#define OP_BYTE_VALUE 0x40
#define OP_BYTE_GP 0x80 /* DM_EV_GP */

static const uint8_t magic[8] = BIN_MAGIC;

static unsigned int op_byte_flags(unsigned int hdr)
{
	return (hdr & OP_BYTE_VALUE ? DM_EV_VALUE : 0) |
	       (hdr & OP_BYTE_GP ? DM_EV_GP : 0);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	return put16(put16(p, (uint16_t)v), (uint16_t)(v >> 16));
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
	return put32(put32(p, (uint32_t)v), (uint32_t)(v >> 32));
}

static uint64_t empty_hash(void)
{
	return XXH3_64bits(magic, 0);
}

static int bin_err(struct dm_trace_reader *r, struct dm_error *err,
		   uint64_t offset, const char *fmt, ...)
	__attribute__((format(printf, 4, 5), cold));

static int bin_err(struct dm_trace_reader *r, struct dm_error *err,
		   uint64_t offset, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return dm_errorf(err, "%s: byte %" PRIu64 ": %s", r->name, offset, msg);
}

static int read_error(struct dm_trace_reader *r, struct dm_error *err)
{
	return dm_errorf(err, "%s: read error: %s", r->name,
			 strerror(r->in.err));
}

static int check_magic(struct dm_trace_reader *r, const uint8_t *fixed,
		       long got, struct dm_error *err)
{
	for (long i = 0; i < (long)sizeof(magic); i++) {
		if (i == got)
			return bin_err(r, err, (uint64_t)i,
				       "truncated header (file ends inside "
				       "the magic)");
		if (fixed[i] != magic[i])
			return bin_err(r, err, (uint64_t)i,
				       "bad magic (not a dmtrace trace)");
	}
	return 0;
}

/* Checks the header: magic, version, config length, checksum, flags and
 * machine options, in the order a reader can trust them. */
int dm_trace_bin_open(struct dm_trace_reader *r, struct dm_error *err)
{
	uint8_t fixed[BIN_HEADER_FIXED], *hdr;
	uint32_t cfglen;
	size_t total;
	long got = dm_trace_in_read(&r->in, fixed, sizeof(fixed)), bad;

	if (got < 0)
		return read_error(r, err);
	if (check_magic(r, fixed, got, err))
		return -1;
	if (got < BIN_HEADER_FIXED)
		return bin_err(r, err, (uint64_t)got, "truncated header");
	if (get16(fixed + 8) != BIN_VERSION)
		return dm_errorf(err, "%s: unsupported binary trace version %u",
				 r->name, get16(fixed + 8));
	cfglen = get32(fixed + 12);
	if (cfglen > TRACE_CONFIG_MAX)
		return bin_err(r, err, 12,
			       "machine options length %" PRIu32 " exceeds %u",
			       cfglen, TRACE_CONFIG_MAX);
	total = BIN_HEADER_FIXED + cfglen + 8;
	hdr = malloc(total);
	if (!hdr)
		return dm_errorf(err, "%s: out of memory", r->name);
	memcpy(hdr, fixed, sizeof(fixed));
	got = dm_trace_in_read(&r->in, hdr + BIN_HEADER_FIXED,
			       total - BIN_HEADER_FIXED);
	if (got < 0 || (size_t)got < total - BIN_HEADER_FIXED) {
		free(hdr);
		return got < 0 ? read_error(r, err)
			       : bin_err(r, err,
					 BIN_HEADER_FIXED + (uint64_t)got,
					 "truncated header");
	}
	if (XXH3_64bits(hdr, total - 8) != get64(hdr + total - 8)) {
		free(hdr);
		return bin_err(r, err, total - 8, "header checksum mismatch");
	}
	bad = dm_trace_config_bad((char *)hdr + BIN_HEADER_FIXED, cfglen);
	free(r->config);
	r->config = strndup((char *)hdr + BIN_HEADER_FIXED, cfglen);
	free(hdr);
	if (!r->config)
		return dm_errorf(err, "%s: out of memory", r->name);
	if (get16(fixed + 10))
		return bin_err(r, err, 10, "unknown header flags 0x%x",
			       get16(fixed + 10));
	if (bad >= 0)
		return bin_err(r, err, BIN_HEADER_FIXED + (uint64_t)bad,
			       "invalid character 0x%02x in machine options",
			       (uint8_t)r->config[bad]);
	r->bin.chunk = malloc(BIN_PAYLOAD_MAX + BIN_PAD);
	r->bin.slots = malloc(BIN_CHUNK_EVENTS * sizeof(*r->bin.slots));
	if (!r->bin.chunk || !r->bin.slots)
		return dm_errorf(err, "%s: out of memory", r->name);
	return 0;
}

void dm_trace_bin_close(struct dm_trace_reader *r)
{
	free(r->bin.chunk);
	free(r->bin.slots);
}

static int end_chunk(struct dm_trace_reader *r, uint64_t off, uint32_t len,
		     uint64_t sum, struct dm_error *err)
{
	uint8_t extra;
	long got;

	if (len)
		return bin_err(r, err, off,
			       "chunk %" PRIu64 " holds no events but %" PRIu32
			       " payload bytes",
			       r->bin.chunk_no, len);
	if (sum != empty_hash())
		return bin_err(r, err, off,
			       "end chunk checksum mismatch (chunk %" PRIu64
			       ")",
			       r->bin.chunk_no);
	off = trace_in_offset(&r->in);
	got = dm_trace_in_read(&r->in, &extra, 1);
	if (got < 0)
		return read_error(r, err);
	if (got)
		return bin_err(r, err, off, "garbage after the end chunk");
	r->bin.done = true;
	return 0;
}

/* Reads and verifies the next chunk: 1, or 0 at the end chunk. */
static int load_chunk(struct dm_trace_reader *r, struct dm_error *err)
{
	struct bin_reader *b = &r->bin;
	uint64_t off = trace_in_offset(&r->in), sum;
	uint8_t h[BIN_CHUNK_HEADER];
	uint32_t len, count;
	long got = dm_trace_in_read(&r->in, h, sizeof(h));

	if (got < 0)
		return read_error(r, err);
	if (got == 0)
		return bin_err(r, err, off,
			       "truncated: the end chunk is missing (after "
			       "chunk %" PRIu64 ")",
			       b->chunk_no);
	if (got < BIN_CHUNK_HEADER)
		return bin_err(r, err, off + (uint64_t)got,
			       "truncated chunk header (chunk %" PRIu64 ")",
			       b->chunk_no);
	len = get32(h);
	count = get32(h + 4);
	sum = get64(h + 8);
	if (count == 0)
		return end_chunk(r, off, len, sum, err);
	if (b->short_chunk)
		return bin_err(r, err, off,
			       "chunk %" PRIu64 " follows a chunk of fewer "
			       "than %u events (only the last may be short)",
			       b->chunk_no, BIN_CHUNK_EVENTS);
	if (count > BIN_CHUNK_EVENTS)
		return bin_err(r, err, off,
			       "chunk %" PRIu64 " claims %" PRIu32
			       " events (max %u)",
			       b->chunk_no, count, BIN_CHUNK_EVENTS);
	if (len > (uint64_t)count * BIN_EVENT_MAX)
		return bin_err(r, err, off,
			       "chunk %" PRIu64 " payload length %" PRIu32
			       " too large for %" PRIu32 " events",
			       b->chunk_no, len, count);
	got = dm_trace_in_read(&r->in, b->chunk, len);
	if (got < 0)
		return read_error(r, err);
	if ((uint32_t)got < len)
		return bin_err(r, err, off + BIN_CHUNK_HEADER + (uint64_t)got,
			       "truncated chunk %" PRIu64 " (%ld of %" PRIu32
			       " payload bytes)",
			       b->chunk_no, got, len);
	if (XXH3_64bits(b->chunk, len) != sum)
		return bin_err(r, err, off,
			       "chunk checksum mismatch (chunk %" PRIu64 ")",
			       b->chunk_no);
	memset(b->chunk + len, 0, BIN_PAD);
	b->end = b->chunk + len;
	b->payload_off = off + BIN_CHUNK_HEADER;
	b->count = count;
	b->short_chunk = count < BIN_CHUNK_EVENTS;
	b->chunk_no++;
	return 1;
}

enum { VARINT_OK, VARINT_BAD };

/*
 * LEB128, at most 10 bytes; an encoding that is longer than needed (last
 * byte zero) or does not fit 64 bits is rejected, so that every value has
 * exactly one encoding.  A byte loop: when lengths repeat, the branch
 * predictor runs ahead of the data (a branchless decode measured slower).
 * The loop stops after 10 bytes, which BIN_PAD keeps inside the buffer.
 */
static inline int get_varint(const uint8_t **pp, uint64_t *v)
{
	const uint8_t *p = *pp;
	uint64_t x = p[0], b;

	if (likely(x < 0x80)) {
		*v = x;
		*pp = p + 1;
		return VARINT_OK;
	}
	x &= 0x7f;
#pragma GCC unroll 10
	for (unsigned int i = 1; i < 10; i++) {
		b = p[i];
		x |= (b & 0x7f) << (7 * i);
		if (b < 0x80) {
			if (unlikely(!b || (i == 9 && b > 1)))
				return VARINT_BAD;
			*v = x;
			*pp = p + i + 1;
			return VARINT_OK;
		}
	}
	return VARINT_BAD;
}

/*
 * Decoding errors are found while a whole chunk is decoded, and reported
 * when the reader reaches the offending event: the events before it are
 * returned first, as the text reader would.
 */
static int chunk_failf(struct dm_trace_reader *r, uint32_t index,
		       const uint8_t *at, const char *fmt, ...)
	__attribute__((format(printf, 4, 5), cold));

static int chunk_failf(struct dm_trace_reader *r, uint32_t index,
		       const uint8_t *at, const char *fmt, ...)
{
	struct bin_reader *b = &r->bin;
	char what[320];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	bin_err(r, &b->failure, b->payload_off + (uint64_t)(at - b->chunk),
		"chunk %" PRIu64 " event %" PRIu32 ": %s", b->chunk_no - 1,
		index, what);
	b->ndecoded = index;
	b->chunk_failed = true;
	return -1;
}

static int varint_fail(struct dm_trace_reader *r, uint32_t index,
		       const uint8_t *at, const char *column)
	__attribute__((cold));

static int varint_fail(struct dm_trace_reader *r, uint32_t index,
		       const uint8_t *at, const char *column)
{
	return chunk_failf(r, index, at,
			   "bad %s varint (over 64 bits or not minimal)",
			   column);
}

/* True when a varint at p needs bytes past end to terminate. */
static bool varint_past_end(const uint8_t *p, const uint8_t *end)
{
	for (int i = 0; i < 10; i++, p++) {
		if (p >= end)
			return true;
		if (*p < 0x80)
			return false;
	}
	return false;
}

static int problem_fail(struct dm_trace_reader *r, uint32_t index,
			const uint8_t *at, enum trace_problem pr,
			const struct dm_event *ev) __attribute__((cold));

static int problem_fail(struct dm_trace_reader *r, uint32_t index,
			const uint8_t *at, enum trace_problem pr,
			const struct dm_event *ev)
{
	char why[300];

	dm_trace_explain(pr, ev, NULL, 0, why, sizeof(why));
	return chunk_failf(r, index, at, "%s", why);
}

/* Describes a decoded event that trace_check_fields rejected. */
static int fields_fail(struct dm_trace_reader *r, uint32_t index,
		       const uint8_t *at, enum trace_problem pr,
		       const struct bin_slot *s) __attribute__((cold));

static int fields_fail(struct dm_trace_reader *r, uint32_t index,
		       const uint8_t *at, enum trace_problem pr,
		       const struct bin_slot *s)
{
	struct dm_event ev = {
		.time = s->time,
		.addr = s->addr,
		.value = s->value,
		.cpu = s->cpu,
		.actor = s->actor,
		.op = s->op,
		.size = s->size,
		.flags = s->flags,
	};

	return problem_fail(r, index, at, pr, &ev);
}

static int label_fail(struct dm_trace_reader *r, uint32_t index,
		      const uint8_t *at, const uint8_t *label, size_t len)
	__attribute__((cold));

static int label_fail(struct dm_trace_reader *r, uint32_t index,
		      const uint8_t *at, const uint8_t *label, size_t len)
{
	struct dm_event ev = {.op = DM_OP_MARK, .actor = DM_ACTOR_SIM};

	memcpy(ev.label, label, len);
	return problem_fail(r, index, at, TE_LABEL, &ev);
}

/*
 * A mark's label stays in the chunk buffer until the reader returns it:
 * its offset goes to *off, its length to *len.
 */
static int decode_label(struct dm_trace_reader *r, uint32_t index,
			const uint8_t **pp, uint64_t *off, unsigned int *len)
{
	const uint8_t *p = *pp, *end = r->bin.end;
	uint64_t n;

	if (varint_past_end(p, end))
		return chunk_failf(r, index, p,
				   "event runs past the end of its chunk");
	if (get_varint(&p, &n))
		return varint_fail(r, index, *pp, "label length");
	if (n == 0 || n > DM_LABEL_MAX)
		return chunk_failf(r, index, *pp,
				   "mark label length %" PRIu64 " (1 to %d)", n,
				   DM_LABEL_MAX);
	if (n > (uint64_t)(end - p))
		return chunk_failf(r, index, *pp,
				   "mark label of %" PRIu64
				   " bytes runs past the chunk",
				   n);
	for (uint64_t i = 0; i < n; i++)
		if (!dm_trace_label_char[p[i]])
			return label_fail(r, index, p + i, p, n);
	*off = (uint64_t)(p - r->bin.chunk);
	*len = (unsigned int)n;
	*pp = p + n;
	return 0;
}

/* Checks the varint at *pp, in the payload; 0, or -1 with the chunk failed. */
static int explain_varint(struct dm_trace_reader *r, uint32_t index,
			  const uint8_t *start, const uint8_t **pp, uint64_t *v,
			  const char *column)
{
	if (varint_past_end(*pp, r->bin.end))
		return chunk_failf(r, index, start,
				   "event runs past the end of its chunk");
	if (get_varint(pp, v))
		return varint_fail(r, index, *pp, column);
	return 0;
}

static int explain_event(struct dm_trace_reader *r, uint32_t index,
			 const uint8_t *start, uint64_t time)
	__attribute__((cold, noinline));

/*
 * decode_event found event index bad; decodes it again column by column,
 * with bounds checks, to say which byte is wrong and why.
 */
static int explain_event(struct dm_trace_reader *r, uint32_t index,
			 const uint8_t *start, uint64_t time)
{
	const uint8_t *p = start, *at, *end = r->bin.end;
	const struct trace_op_info *oi;
	struct bin_slot s = {0};
	enum trace_problem pr;
	uint64_t delta, cpu = 0;
	unsigned int hdr, len;

	if (explain_varint(r, index, start, &p, &delta, "time delta"))
		return -1;
	if (time + delta < delta)
		return chunk_failf(r, index, start, "time overflows 64 bits");
	if (p >= end)
		return chunk_failf(r, index, start,
				   "event runs past the end of its chunk");
	at = p;
	hdr = *p++;
	s.op = (uint8_t)(hdr & 0xf);
	s.actor = (uint8_t)(hdr >> OP_BYTE_ACTOR_SHIFT & 3);
	s.flags = op_byte_flags(hdr);
	if (s.op >= DM_OP_COUNT)
		return chunk_failf(r, index, at, "unknown op code %u", s.op);
	oi = &dm_trace_ops[s.op];
	if (s.actor != oi->actor)
		return fields_fail(r, index, at, TE_ACTOR, &s);
	if (oi->value == TV_LABEL && s.flags)
		return fields_fail(r, index, at, TE_FLAGS, &s);
	if (oi->value == TV_REQUIRED && !(s.flags & DM_EV_VALUE))
		return fields_fail(r, index, at, TE_NEED_VALUE, &s);
	at = p;
	if (s.actor == DM_ACTOR_CPU &&
	    explain_varint(r, index, start, &p, &cpu, "cpu"))
		return -1;
	if (cpu > TRACE_CPU_MAX)
		return chunk_failf(r, index, at,
				   "cpu number %" PRIu64
				   " out of range (max %u)",
				   cpu, TRACE_CPU_MAX);
	s.cpu = (uint32_t)cpu;
	if (oi->addr_name &&
	    explain_varint(r, index, start, &p, &s.addr, "address"))
		return -1;
	if (oi->size_mask) {
		if (p >= end)
			return chunk_failf(r, index, start,
					   "event runs past the end of its "
					   "chunk");
		s.size = *p++;
	}
	if ((s.flags & DM_EV_VALUE) &&
	    explain_varint(r, index, start, &p, &s.value, "value"))
		return -1;
	if (oi->value == TV_LABEL) {
		if (decode_label(r, index, &p, &s.addr, &len))
			return -1;
	} else {
		pr = trace_check_fields(s.op, s.actor, s.cpu, s.flags, s.addr,
					s.size, s.value);
		if (pr != TE_OK)
			return fields_fail(r, index, start, pr, &s);
	}
	/* decode_event and this walk disagree: still fail, never accept. */
	return chunk_failf(r, index, start, "invalid event");
}

#define HDR(op, actor, value) \
	((op) | (actor) << OP_BYTE_ACTOR_SHIFT | ((value) ? OP_BYTE_VALUE : 0))

static const uint64_t size_max[9] = {0, 0xff, 0xffff, 0,	 0xffffffff,
				     0, 0,    0,      UINT64_MAX};

/*
 * Decodes the event at *pp into s; 0, or -1 with the chunk failed.  One
 * case per valid op byte, each a straight run of its columns and checks:
 * fewer branches than walking the column rules, and a trace that repeats
 * its ops predicts perfectly.  The BIN_PAD bytes after the payload let it
 * read a whole event before it checks that the event stayed inside the
 * payload.  Any failure goes to explain_event, which finds the reason.
 */
static inline int decode_event(struct dm_trace_reader *r, uint32_t index,
			       const uint8_t **pp, uint64_t *time,
			       struct bin_slot *s)
{
	const uint8_t *p = *pp;
	uint64_t delta, cpu = 0, addr = 0, value = 0;
	unsigned int hdr, size = 0;

#define GET(field)                                      \
	do {                                            \
		if (unlikely(get_varint(&p, &(field)))) \
			goto bad;                       \
	} while (0)
#define GET_MAX(field, max)                    \
	do {                                   \
		GET(field);                    \
		if (unlikely((field) > (max))) \
			goto bad;              \
	} while (0)
#define GET_SIZE(mask)                                           \
	do {                                                     \
		size = *p++;                                     \
		if (unlikely(size > 8 || !((mask) >> size & 1))) \
			goto bad;                                \
	} while (0)

	GET(delta);
	if (unlikely(*time + delta < delta))
		goto bad;
	hdr = *p++;
	switch (hdr) {
	case HDR(DM_OP_PIO_R, DM_ACTOR_CPU, 0):
		GET_MAX(cpu, TRACE_CPU_MAX);
		GET_MAX(addr, 0xffff);
		GET_SIZE(0x16);
		break;
	case HDR(DM_OP_PIO_R, DM_ACTOR_CPU, 1):
	case HDR(DM_OP_PIO_W, DM_ACTOR_CPU, 1):
		GET_MAX(cpu, TRACE_CPU_MAX);
		GET_MAX(addr, 0xffff);
		GET_SIZE(0x16);
		GET_MAX(value, size_max[size]);
		break;
	case HDR(DM_OP_MMIO_R, DM_ACTOR_CPU, 0):
		GET_MAX(cpu, TRACE_CPU_MAX);
		GET(addr);
		GET_SIZE(0x116);
		break;
	case HDR(DM_OP_MMIO_R, DM_ACTOR_CPU, 1):
	case HDR(DM_OP_MMIO_W, DM_ACTOR_CPU, 1):
		GET_MAX(cpu, TRACE_CPU_MAX);
		GET(addr);
		GET_SIZE(0x116);
		GET_MAX(value, size_max[size]);
		break;
	case HDR(DM_OP_MSR_R, DM_ACTOR_CPU, 0):
	case HDR(DM_OP_MSR_R, DM_ACTOR_CPU, 0) | OP_BYTE_GP:
		GET_MAX(cpu, TRACE_CPU_MAX);
		GET_MAX(addr, 0xffffffff);
		GET_SIZE(0x100);
		break;
	case HDR(DM_OP_MSR_R, DM_ACTOR_CPU, 1):
	case HDR(DM_OP_MSR_W, DM_ACTOR_CPU, 1):
	case HDR(DM_OP_MSR_W, DM_ACTOR_CPU, 1) | OP_BYTE_GP:
		GET_MAX(cpu, TRACE_CPU_MAX);
		GET_MAX(addr, 0xffffffff);
		GET_SIZE(0x100);
		GET(value);
		break;
	case HDR(DM_OP_IRQ, DM_ACTOR_DEV, 1):
		GET_MAX(addr, 0xffffffff);
		GET_MAX(value, 1);
		break;
	case HDR(DM_OP_THREAD, DM_ACTOR_DEV, 1):
		GET_MAX(addr, 1);
		GET_MAX(value, 1);
		break;
	case HDR(DM_OP_MSI, DM_ACTOR_DEV, 1):
		GET(addr);
		GET_SIZE(0x10);
		GET_MAX(value, 0xffffffff);
		break;
	case HDR(DM_OP_INTACK, DM_ACTOR_CPU, 0):
	case HDR(DM_OP_NMI, DM_ACTOR_CPU, 0):
	case HDR(DM_OP_INIT, DM_ACTOR_CPU, 0):
	case HDR(DM_OP_SIPI, DM_ACTOR_CPU, 0):
	case HDR(DM_OP_SMI, DM_ACTOR_CPU, 0):
		GET_MAX(cpu, TRACE_CPU_MAX);
		break;
	case HDR(DM_OP_INTACK, DM_ACTOR_CPU, 1):
	case HDR(DM_OP_NMI, DM_ACTOR_CPU, 1):
	case HDR(DM_OP_INIT, DM_ACTOR_CPU, 1):
	case HDR(DM_OP_SIPI, DM_ACTOR_CPU, 1):
	case HDR(DM_OP_SMI, DM_ACTOR_CPU, 1):
		GET_MAX(cpu, TRACE_CPU_MAX);
		GET_MAX(value, 0xff);
		break;
	case HDR(DM_OP_MARK, DM_ACTOR_SIM, 0):
		/* addr and size carry the label's offset and length. */
		if (decode_label(r, index, &p, &addr, &size))
			return -1;
		break;
	case HDR(DM_OP_HASH, DM_ACTOR_SIM, 0):
		break;
	case HDR(DM_OP_HASH, DM_ACTOR_SIM, 1):
		GET(value);
		break;
	default:
		goto bad;
	}
#undef GET
#undef GET_MAX
#undef GET_SIZE
	if (unlikely(p > r->bin.end))
		goto bad;
	s->time = *time + delta;
	s->addr = addr;
	s->value = value;
	s->cpu = (uint32_t)cpu;
	s->actor = (uint8_t)(hdr >> OP_BYTE_ACTOR_SHIFT & 3);
	s->op = (uint8_t)(hdr & 0xf);
	s->size = (uint8_t)size;
	s->flags = op_byte_flags(hdr);
	*time = s->time;
	*pp = p;
	return 0;
bad:
	return explain_event(r, index, *pp, *time);
}

/* Decodes a verified chunk into the slots, in one tight loop. */
static void decode_chunk(struct dm_trace_reader *r)
{
	struct bin_reader *b = &r->bin;
	const uint8_t *p = b->chunk;
	uint64_t time = b->time;
	uint32_t i;

	b->next = 0;
	b->ndecoded = b->count;
	for (i = 0; i < b->count; i++) {
		if (unlikely(p >= b->end)) {
			bin_err(r, &b->failure,
				b->payload_off + (uint64_t)(p - b->chunk),
				"chunk %" PRIu64 " ends after %" PRIu32
				" of its %" PRIu32 " events (event count "
				"mismatch)",
				b->chunk_no - 1, i, b->count);
			b->ndecoded = i;
			b->chunk_failed = true;
			break;
		}
		if (decode_event(r, i, &p, &time, &b->slots[i]))
			break;
	}
	b->time = time;
	if (!b->chunk_failed && p != b->end) {
		bin_err(r, &b->failure,
			b->payload_off + (uint64_t)(p - b->chunk),
			"chunk %" PRIu64 ": %td bytes after its %" PRIu32
			" events (event count mismatch)",
			b->chunk_no - 1, b->end - p, b->count);
		b->chunk_failed = true;
	}
}

int dm_trace_bin_next(struct dm_trace_reader *r, struct dm_event *ev,
		      struct dm_error *err)
{
	struct bin_reader *b = &r->bin;
	int rc;

	while (!dm_trace_bin_take(r, ev)) {
		if (b->chunk_failed) {
			if (err)
				*err = b->failure;
			return -1;
		}
		if (b->done)
			return 0;
		rc = load_chunk(r, err);
		if (rc <= 0)
			return rc;
		decode_chunk(r);
	}
	return 1;
}

/* Writer */

static uint8_t *put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

int dm_trace_bin_begin(struct dm_trace_writer *w, const char *config,
		       struct dm_error *err)
{
	size_t cfglen = strlen(config);
	uint8_t *hdr = malloc(BIN_HEADER_FIXED + cfglen + 8), *p = hdr;

	w->chunk = malloc(BIN_PAYLOAD_MAX);
	if (!hdr || !w->chunk) {
		free(hdr);
		return dm_errorf(err, "%s: out of memory", w->name);
	}
	memcpy(p, magic, sizeof(magic));
	p = put16(p + sizeof(magic), BIN_VERSION);
	p = put16(p, 0);
	p = put32(p, (uint32_t)cfglen);
	memcpy(p, config, cfglen);
	p += cfglen;
	p = put64(p, XXH3_64bits(hdr, (size_t)(p - hdr)));
	dm_trace_out_write(&w->out, hdr, (size_t)(p - hdr));
	free(hdr);
	return 0;
}

static void flush_chunk(struct dm_trace_writer *w)
{
	uint8_t h[BIN_CHUNK_HEADER];

	put32(h, (uint32_t)w->chunk_len);
	put32(h + 4, w->chunk_events);
	put64(h + 8, XXH3_64bits(w->chunk, w->chunk_len));
	dm_trace_out_write(&w->out, h, sizeof(h));
	dm_trace_out_write(&w->out, w->chunk, w->chunk_len);
	w->chunk_len = 0;
	w->chunk_events = 0;
}

void dm_trace_bin_put(struct dm_trace_writer *w, const struct dm_event *ev)
{
	const struct trace_op_info *oi = &dm_trace_ops[ev->op];
	uint8_t *p = w->chunk + w->chunk_len;
	bool has_value = oi->value != TV_LABEL && (ev->flags & DM_EV_VALUE);

	p = put_varint(p, ev->time - w->prev_time);
	*p++ = (uint8_t)(ev->op | ev->actor << OP_BYTE_ACTOR_SHIFT |
			 (has_value ? OP_BYTE_VALUE : 0) |
			 (ev->flags & DM_EV_GP ? OP_BYTE_GP : 0));
	if (ev->actor == DM_ACTOR_CPU)
		p = put_varint(p, ev->cpu);
	if (oi->addr_name)
		p = put_varint(p, ev->addr);
	if (oi->size_mask)
		*p++ = ev->size;
	if (has_value)
		p = put_varint(p, ev->value);
	if (oi->value == TV_LABEL) {
		size_t n = strlen(ev->label);

		p = put_varint(p, n);
		memcpy(p, ev->label, n);
		p += n;
	}
	w->chunk_len = (size_t)(p - w->chunk);
	if (++w->chunk_events == BIN_CHUNK_EVENTS)
		flush_chunk(w);
}

void dm_trace_bin_end(struct dm_trace_writer *w)
{
	if (w->chunk_events)
		flush_chunk(w);
	/* An empty chunk is the end chunk. */
	flush_chunk(w);
}
