// SPDX-License-Identifier: MIT
/*
 * What both trace encodings share: the column rules of each op, event
 * validation and its messages, the canonical text line, buffered file I/O,
 * and the reader/writer entry points that pick a codec.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "traces/trace_internal.h"

#define IO_BUF_SIZE (256 * 1024)

#define SIZE_4 (1u << 4)
#define SIZE_8 (1u << 8)
#define SIZES_124 (1u << 1 | 1u << 2 | SIZE_4)
#define SIZES_1248 (SIZES_124 | SIZE_8)

/*
 * The column rules of the text format v1 (DESIGN.md "Traces"); the binary
 * format enforces the same.  Address limits: an I/O port is 16 bits, an MSR
 * index 32 bits (RDMSR takes ECX), a GSI 32 bits (KVM's GSIs are u32).
 */
const struct trace_op_info dm_trace_ops[DM_OP_COUNT] = {
	[DM_OP_PIO_R] = {"pio.r", "port", "value", 0xffff, 0, DM_ACTOR_CPU,
			 SIZES_124, TV_OPTIONAL},
	[DM_OP_PIO_W] = {"pio.w", "port", "value", 0xffff, 0, DM_ACTOR_CPU,
			 SIZES_124, TV_REQUIRED},
	[DM_OP_MMIO_R] = {"mmio.r", "address", "value", UINT64_MAX, 0,
			  DM_ACTOR_CPU, SIZES_1248, TV_OPTIONAL},
	[DM_OP_MMIO_W] = {"mmio.w", "address", "value", UINT64_MAX, 0,
			  DM_ACTOR_CPU, SIZES_1248, TV_REQUIRED},
	[DM_OP_MSR_R] = {"msr.r", "MSR", "value", 0xffffffff, 0, DM_ACTOR_CPU,
			 SIZE_8, TV_OPTIONAL},
	[DM_OP_MSR_W] = {"msr.w", "MSR", "value", 0xffffffff, 0, DM_ACTOR_CPU,
			 SIZE_8, TV_REQUIRED},
	[DM_OP_IRQ] = {"irq", "GSI", "level", 0xffffffff, 1, DM_ACTOR_DEV, 0,
		       TV_REQUIRED},
	[DM_OP_MSI] = {"msi", "address", "data", UINT64_MAX, 0, DM_ACTOR_DEV,
		       SIZE_4, TV_REQUIRED},
	[DM_OP_INTACK] = {"intack", NULL, "vector", 0, 0xff, DM_ACTOR_CPU, 0,
			  TV_OPTIONAL},
	[DM_OP_MARK] = {"mark", NULL, "label", 0, 0, DM_ACTOR_SIM, 0, TV_LABEL},
	[DM_OP_HASH] = {"hash", NULL, "hash", 0, UINT64_MAX, DM_ACTOR_SIM, 0,
			TV_OPTIONAL},
	[DM_OP_NMI] = {"nmi", NULL, "vector", 0, 0xff, DM_ACTOR_CPU, 0,
		       TV_OPTIONAL},
	[DM_OP_INIT] = {"init", NULL, "vector", 0, 0xff, DM_ACTOR_CPU, 0,
			TV_OPTIONAL},
	[DM_OP_SIPI] = {"sipi", NULL, "vector", 0, 0xff, DM_ACTOR_CPU, 0,
			TV_OPTIONAL},
	[DM_OP_SMI] = {"smi", NULL, "vector", 0, 0xff, DM_ACTOR_CPU, 0,
		       TV_OPTIONAL},
	[DM_OP_THREAD] = {"thread", "thread", "level", 1, 1, DM_ACTOR_DEV, 0,
			  TV_REQUIRED},
};

/* [A-Za-z0-9_.:/+-] */
const bool dm_trace_label_char[256] = {
	['A' ... 'Z'] = true, ['a' ... 'z'] = true, ['0' ... '9'] = true,
	['_'] = true,	      ['.'] = true,	    [':'] = true,
	['/'] = true,	      ['+'] = true,	    ['-'] = true,
};

const char *dm_op_name(enum dm_op op)
{
	return (unsigned int)op < DM_OP_COUNT ? dm_trace_ops[op].name : "?";
}

enum trace_problem dm_trace_check_label(const char *label)
{
	size_t n = strnlen(label, DM_LABEL_MAX + 1);

	if (n == 0 || n > DM_LABEL_MAX)
		return TE_LABEL;
	for (size_t i = 0; i < n; i++)
		if (!dm_trace_label_char[(uint8_t)label[i]])
			return TE_LABEL;
	return TE_OK;
}

static const char *actor_rule(uint8_t actor)
{
	return actor == DM_ACTOR_CPU   ? "cpuN"
	       : actor == DM_ACTOR_DEV ? "dev"
				       : "sim";
}

static void explain_label(const char *label, char *buf, size_t cap)
{
	size_t n = strnlen(label, DM_LABEL_MAX + 1);

	if (n == 0) {
		snprintf(buf, cap, "empty mark label");
		return;
	}
	for (size_t i = 0; i < n && i < DM_LABEL_MAX; i++) {
		uint8_t c = (uint8_t)label[i];

		if (!dm_trace_label_char[c]) {
			snprintf(buf, cap,
				 "invalid character 0x%02x at %zu in mark "
				 "label (allowed: A-Z a-z 0-9 _ . : / + -)",
				 c, i);
			return;
		}
	}
	snprintf(buf, cap, "mark label longer than %d characters",
		 DM_LABEL_MAX);
}

static void explain_size(const struct trace_op_info *oi, const char *shown,
			 char *buf, size_t cap)
{
	char allowed[16] = "";
	size_t n = 0;

	if (!oi->size_mask) {
		snprintf(buf, cap, "op %s takes no size, got %s (use '-')",
			 oi->name, shown);
		return;
	}
	for (unsigned int s = 1; s <= 8; s++)
		if (oi->size_mask & (1u << s))
			n += snprintf(allowed + n, sizeof(allowed) - n, "%s%u",
				      n ? "," : "", s);
	snprintf(buf, cap, "size %s invalid for %s (allowed: %s)", shown,
		 oi->name, allowed);
}

void dm_trace_explain(enum trace_problem p, const struct dm_event *ev,
		      const char *tok, size_t toklen, char *buf, size_t cap)
{
	const struct trace_op_info *oi;
	char shown[96];
	uint64_t shown_val = 0;

	if (p == TE_OP) {
		snprintf(buf, cap, "unknown op code %u", ev->op);
		return;
	}
	oi = &dm_trace_ops[ev->op];

	switch (p) {
	case TE_ADDR:
		shown_val = ev->addr;
		break;
	case TE_SIZE:
		shown_val = ev->size;
		break;
	case TE_CPU:
		shown_val = ev->cpu;
		break;
	default:
		shown_val = ev->value;
		break;
	}
	if (tok)
		snprintf(shown, sizeof(shown), "'%.*s'", (int)toklen, tok);
	else if (p == TE_SIZE || p == TE_CPU)
		snprintf(shown, sizeof(shown), "%" PRIu64, shown_val);
	else
		snprintf(shown, sizeof(shown), "0x%" PRIx64, shown_val);

	switch (p) {
	case TE_OK:
		snprintf(buf, cap, "no problem");
		break;
	case TE_OP:
		break;
	case TE_ACTOR:
		if (tok)
			snprintf(buf, cap, "op %s needs actor %s, got %s",
				 oi->name, actor_rule(oi->actor), shown);
		else
			snprintf(buf, cap, "op %s needs actor %s, got %s",
				 oi->name, actor_rule(oi->actor),
				 ev->actor <= DM_ACTOR_SIM
					 ? actor_rule(ev->actor)
					 : "an unknown actor code");
		break;
	case TE_CPU:
		snprintf(buf, cap, "cpu number %s out of range (max %u)", shown,
			 TRACE_CPU_MAX);
		break;
	case TE_FLAGS:
		if (ev->flags & ~(DM_EV_VALUE | DM_EV_GP))
			snprintf(buf, cap, "unknown event flags 0x%x",
				 ev->flags);
		else
			snprintf(buf, cap, "a mark carries no value flag");
		break;
	case TE_ADDR:
		snprintf(buf, cap, "%s %s out of range (max 0x%" PRIx64 ")",
			 oi->addr_name, shown, oi->addr_max);
		break;
	case TE_SIZE:
		explain_size(oi, shown, buf, cap);
		break;
	case TE_NEED_VALUE:
		snprintf(buf, cap, "%s needs a %s, got %s", oi->name,
			 oi->value_name, tok ? shown : "none ('?')");
		break;
	case TE_VALUE:
		if (oi->size_mask)
			snprintf(buf, cap,
				 "%s %s too big for size %u (max 0x%" PRIx64
				 ")",
				 oi->value_name, shown, ev->size,
				 trace_size_max(ev->size));
		else
			snprintf(buf, cap,
				 "%s %s out of range (max 0x%" PRIx64 ")",
				 oi->value_name, shown, oi->value_max);
		break;
	case TE_LABEL:
		explain_label(ev->label, buf, cap);
		break;
	case TE_GP:
		snprintf(
			buf, cap,
			ev->op == DM_OP_MSR_R
				? "a read that takes a #GP reads no value "
				  "(write '?')"
				: "only msr.r and msr.w can take a #GP, not %s",
			dm_op_name(ev->op));
		break;
	}
}

long dm_trace_config_bad(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t c = (uint8_t)s[i];

		if (c == ' ') {
			if (i == 0 || i + 1 == len || s[i + 1] == ' ')
				return (long)i;
		} else if (c < 0x21 || c > 0x7e || c == '#') {
			return (long)i;
		}
	}
	return -1;
}

static char *put_dec(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_hex(char *p, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	int shift = 60;

	*p++ = '0';
	*p++ = 'x';
	while (shift > 0 && !(v >> shift))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		*p++ = digits[(v >> shift) & 0xf];
	return p;
}

static char *put_str(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

/* Pads the column that began at start to width, then one separator. */
static char *end_column(char *start, char *p, int width)
{
	while (p - start < width)
		*p++ = ' ';
	*p++ = ' ';
	return p;
}

/*
 * The canonical line (docs/trace-format.md): columns left-aligned, padded
 * to widths 11, 5, 6, 10 and 4, one space after each, the last unpadded.
 */
int dm_trace_format_line(const struct dm_event *ev, char *buf)
{
	const struct trace_op_info *oi;
	char *p = buf, *col = buf;

	if (ev->op >= DM_OP_COUNT || ev->actor > DM_ACTOR_SIM)
		return -1;
	oi = &dm_trace_ops[ev->op];
	p = end_column(col, put_dec(p, ev->time), 11);
	col = p;
	if (ev->actor == DM_ACTOR_CPU)
		p = put_dec(put_str(p, "cpu"), ev->cpu);
	else
		p = put_str(p, ev->actor == DM_ACTOR_DEV ? "dev" : "sim");
	p = end_column(col, p, 5);
	col = p;
	p = end_column(col, put_str(p, oi->name), 6);
	col = p;
	if (!oi->addr_name)
		*p++ = '-';
	else if (ev->op == DM_OP_IRQ)
		p = put_dec(p, ev->addr);
	else
		p = put_hex(p, ev->addr);
	p = end_column(col, p, 10);
	col = p;
	if (oi->size_mask)
		p = put_dec(p, ev->size);
	else
		*p++ = '-';
	p = end_column(col, p, 4);
	if (oi->value == TV_LABEL) {
		size_t n = strnlen(ev->label, DM_LABEL_MAX);

		memcpy(p, ev->label, n);
		p += n;
	} else if (ev->flags & DM_EV_VALUE) {
		p = put_hex(p, ev->value);
	} else {
		*p++ = '?';
	}
	if (ev->flags & DM_EV_GP)
		p = put_str(p, " gp");
	*p = '\0';
	return (int)(p - buf);
}

int dm_event_format(const struct dm_event *ev, char *buf, size_t cap)
{
	char line[TRACE_LINE_MAX];
	int n = dm_trace_format_line(ev, line);

	if (n < 0) {
		if (cap)
			buf[0] = '\0';
		return -1;
	}
	if (cap) {
		size_t k = (size_t)n < cap ? (size_t)n : cap - 1;

		memcpy(buf, line, k);
		buf[k] = '\0';
	}
	return n;
}

/* Input */

static long read_some(int fd, void *dst, size_t n)
{
	ssize_t got;

	do
		got = read(fd, dst, n);
	while (got < 0 && errno == EINTR);
	return got;
}

long dm_trace_in_fill(struct trace_in *in)
{
	long got;

	if (in->eof)
		return 0;
	if (in->pos) {
		memmove(in->buf, in->buf + in->pos, in->len - in->pos);
		in->base += in->pos;
		in->len -= in->pos;
		in->pos = 0;
	}
	if (in->len == in->cap) {
		uint8_t *bigger = realloc(in->buf, in->cap * 2);

		if (!bigger) {
			in->err = ENOMEM;
			return -1;
		}
		in->buf = bigger;
		in->cap *= 2;
	}
	got = read_some(in->fd, in->buf + in->len, in->cap - in->len);
	if (got < 0) {
		in->err = errno;
		return -1;
	}
	if (got == 0)
		in->eof = true;
	in->len += (size_t)got;
	return got;
}

long dm_trace_in_read(struct trace_in *in, void *dst, size_t n)
{
	uint8_t *d = dst;
	size_t done = 0;

	while (done < n) {
		size_t have = in->len - in->pos;
		long got;

		if (have) {
			size_t k = have < n - done ? have : n - done;

			memcpy(d + done, in->buf + in->pos, k);
			in->pos += k;
			done += k;
			continue;
		}
		if (in->eof)
			break;
		if (n - done < in->cap / 2) {
			got = dm_trace_in_fill(in);
		} else {
			/* Large reads bypass the buffer. */
			in->base += in->len;
			in->pos = in->len = 0;
			got = read_some(in->fd, d + done, n - done);
			if (got < 0)
				in->err = errno;
			else if (got == 0)
				in->eof = true;
			else
				in->base += (uint64_t)got;
			done += got > 0 ? (size_t)got : 0;
		}
		if (got < 0)
			return -1;
	}
	return (long)done;
}

/* Output */

static void write_all(struct trace_out *out, const uint8_t *p, size_t n)
{
	while (n && !out->err) {
		ssize_t put = write(out->fd, p, n);

		if (put < 0) {
			if (errno != EINTR)
				out->err = errno;
			continue;
		}
		p += put;
		n -= (size_t)put;
	}
}

void dm_trace_out_flush(struct trace_out *out)
{
	write_all(out, out->buf, out->len);
	out->len = 0;
}

void dm_trace_out_write(struct trace_out *out, const void *data, size_t n)
{
	if (n > out->cap - out->len)
		dm_trace_out_flush(out);
	if (n >= out->cap) {
		write_all(out, data, n);
		return;
	}
	memcpy(out->buf + out->len, data, n);
	out->len += n;
}

uint8_t *dm_trace_out_reserve(struct trace_out *out, size_t n)
{
	if (n > out->cap - out->len)
		dm_trace_out_flush(out);
	return out->buf + out->len;
}

/* Reader */

/*
 * A text trace begins with '#', whitespace or "dmtrace"; a binary one with
 * "DMTRACE\0".  So a first byte of 'D', or one that no text file holds,
 * means binary, and a damaged magic is reported as such rather than as a
 * text header error.
 */
static bool looks_binary(uint8_t c)
{
	return c == 'D' || (c < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
	       c > 0x7e;
}

static int open_input(struct trace_in *in, const char *path,
		      struct dm_error *err)
{
	if (!strcmp(path, "-")) {
		in->fd = STDIN_FILENO;
	} else {
		in->fd = open(path, O_RDONLY | O_CLOEXEC);
		if (in->fd < 0)
			return dm_errorf(err, "%s: %s", path, strerror(errno));
		in->own_fd = true;
	}
	in->cap = IO_BUF_SIZE;
	in->buf = malloc(in->cap);
	if (!in->buf)
		return dm_errorf(err, "%s: out of memory", path);
	return 0;
}

int dm_trace_open(struct dm_trace_reader **rp, const char *path,
		  struct dm_error *err)
{
	struct dm_trace_reader *r = calloc(1, sizeof(*r));
	int rc = -1;

	*rp = NULL;
	if (!r)
		return dm_errorf(err, "%s: out of memory", path);
	r->in.fd = -1;
	r->name = strdup(strcmp(path, "-") ? path : "<stdin>");
	r->config = strdup("");
	if (!r->name || !r->config) {
		dm_errorf(err, "%s: out of memory", path);
		goto fail;
	}
	if (open_input(&r->in, path, err))
		goto fail;
	if (dm_trace_in_fill(&r->in) < 0) {
		dm_errorf(err, "%s: read error: %s", r->name,
			  strerror(r->in.err));
		goto fail;
	}
	if (r->in.len && looks_binary(r->in.buf[0])) {
		r->enc = DM_TRACE_BINARY;
		rc = dm_trace_bin_open(r, err);
	} else {
		r->enc = DM_TRACE_TEXT;
		rc = dm_trace_text_open(r, err);
	}
	if (rc)
		goto fail;
	*rp = r;
	return 0;
fail:
	dm_trace_close(r);
	return -1;
}

int dm_trace_next(struct dm_trace_reader *r, struct dm_event *ev,
		  struct dm_error *err)
{
	int rc;

	if (r->enc == DM_TRACE_BINARY && dm_trace_bin_take(r, ev))
		return 1;
	/* After an error the position in the stream means nothing. */
	if (r->failed)
		return dm_errorf(err, "%s: reading stopped at an earlier error",
				 r->name);
	if (r->enc == DM_TRACE_BINARY)
		rc = dm_trace_bin_next(r, ev, err);
	else
		rc = dm_trace_text_next(r, ev, err);
	r->failed = rc < 0;
	return rc;
}

const char *dm_trace_config(const struct dm_trace_reader *r)
{
	return r->config;
}

enum dm_trace_encoding dm_trace_encoding(const struct dm_trace_reader *r)
{
	return r->enc;
}

void dm_trace_close(struct dm_trace_reader *r)
{
	if (!r)
		return;
	if (r->enc == DM_TRACE_BINARY)
		dm_trace_bin_close(r);
	if (r->in.own_fd)
		close(r->in.fd);
	free(r->in.buf);
	free(r->name);
	free(r->config);
	free(r);
}

/* Writer */

/* Joins the whitespace-separated options with single spaces. */
static char *normalise_config(const char *text)
{
	char *out = malloc(strlen(text) + 1), *p = out;
	const char *ws = " \t\r\n\v\f";

	if (!out)
		return NULL;
	for (;;) {
		size_t n;

		text += strspn(text, ws);
		if (!*text)
			break;
		n = strcspn(text, ws);
		if (p != out)
			*p++ = ' ';
		memcpy(p, text, n);
		p += n;
		text += n;
	}
	*p = '\0';
	return out;
}

static int open_output(struct dm_trace_writer *w, const char *path,
		       struct dm_error *err)
{
	if (!strcmp(path, "-")) {
		w->out.fd = STDOUT_FILENO;
	} else {
		w->out.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
				 0666);
		if (w->out.fd < 0)
			return dm_errorf(err, "%s: %s", path, strerror(errno));
		w->out.own_fd = true;
	}
	w->out.cap = IO_BUF_SIZE;
	w->out.buf = malloc(w->out.cap);
	if (!w->out.buf)
		return dm_errorf(err, "%s: out of memory", path);
	return 0;
}

static void free_writer(struct dm_trace_writer *w)
{
	if (w->out.own_fd)
		close(w->out.fd);
	free(w->out.buf);
	free(w->chunk);
	free(w->name);
	free(w);
}

int dm_trace_create(struct dm_trace_writer **wp, const char *path,
		    enum dm_trace_encoding enc, const char *config,
		    struct dm_error *err)
{
	struct dm_trace_writer *w = calloc(1, sizeof(*w));
	char *norm = normalise_config(config);
	long bad;

	*wp = NULL;
	if (!w || !norm) {
		free(w);
		free(norm);
		return dm_errorf(err, "%s: out of memory", path);
	}
	bad = dm_trace_config_bad(norm, strlen(norm));
	if (bad >= 0) {
		dm_errorf(err,
			  "%s: machine options: invalid character 0x%02x at "
			  "%ld",
			  path, (uint8_t)norm[bad], bad);
		goto fail;
	}
	if (strlen(norm) > TRACE_CONFIG_MAX) {
		dm_errorf(err, "%s: machine options longer than %u bytes", path,
			  TRACE_CONFIG_MAX);
		goto fail;
	}
	w->enc = enc;
	w->out.fd = -1;
	w->name = strdup(strcmp(path, "-") ? path : "<stdout>");
	if (!w->name) {
		dm_errorf(err, "%s: out of memory", path);
		goto fail;
	}
	if (open_output(w, path, err))
		goto fail;
	if (enc == DM_TRACE_BINARY) {
		if (dm_trace_bin_begin(w, norm, err))
			goto fail;
	} else {
		dm_trace_text_begin(w, norm);
	}
	free(norm);
	*wp = w;
	return 0;
fail:
	free(norm);
	free_writer(w);
	return -1;
}

static int write_error(struct dm_trace_writer *w, struct dm_error *err)
{
	return dm_errorf(err, "%s: write error: %s", w->name,
			 strerror(w->out.err));
}

int dm_trace_write(struct dm_trace_writer *w, const struct dm_event *ev,
		   struct dm_error *err)
{
	enum trace_problem p = trace_check(ev);
	char why[256];

	if (w->out.err)
		return write_error(w, err);
	if (p == TE_OK && ev->op == DM_OP_MARK)
		p = dm_trace_check_label(ev->label);
	if (p != TE_OK) {
		dm_trace_explain(p, ev, NULL, 0, why, sizeof(why));
		return dm_errorf(err, "%s: event %" PRIu64 ": %s", w->name,
				 w->events, why);
	}
	if (ev->time < w->prev_time)
		return dm_errorf(err,
				 "%s: event %" PRIu64 ": time %" PRIu64
				 " goes backwards (previous event at %" PRIu64
				 ")",
				 w->name, w->events, ev->time, w->prev_time);
	if (w->enc == DM_TRACE_BINARY)
		dm_trace_bin_put(w, ev);
	else
		dm_trace_text_put(w, ev);
	w->prev_time = ev->time;
	w->events++;
	return w->out.err ? write_error(w, err) : 0;
}

int dm_trace_finish(struct dm_trace_writer *w, struct dm_error *err)
{
	int rc = 0;

	if (!w->out.err && w->enc == DM_TRACE_BINARY)
		dm_trace_bin_end(w);
	dm_trace_out_flush(&w->out);
	if (w->out.own_fd) {
		if (close(w->out.fd) && !w->out.err)
			w->out.err = errno;
		w->out.own_fd = false;
	}
	if (w->out.err)
		rc = write_error(w, err);
	free_writer(w);
	return rc;
}
