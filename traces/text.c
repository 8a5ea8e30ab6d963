// SPDX-License-Identifier: MIT
/*
 * Text format v1 (DESIGN.md "Traces", docs/trace-format.md): one event a
 * line, six whitespace-separated columns, '#' comments.  Every error names
 * the file, the line and the offending column or token.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traces/trace_internal.h"

/* Longest line accepted, comments included: a file without newlines is
 * not read into memory whole. */
#define TEXT_LINE_MAX (1024 * 1024)

enum { COL_TIME, COL_ACTOR, COL_OP, COL_ADDR, COL_SIZE, COL_VALUE, NCOLS };

static const char *const col_names[NCOLS] = {"time",	"actor", "op",
					     "address", "size",	 "value"};

struct tok {
	const char *s;
	size_t n;
};

static int text_err(struct dm_trace_reader *r, struct dm_error *err,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int text_err(struct dm_trace_reader *r, struct dm_error *err,
		    const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return dm_errorf(err, "%s:%" PRIu64 ": %s", r->name, r->text.lineno,
			 msg);
}

/* Returns 1 with the next line (without its newline), 0 at the end. */
static int get_line(struct dm_trace_reader *r, const char **line, size_t *len,
		    struct dm_error *err)
{
	struct trace_in *in = &r->in;
	size_t scanned = 0;

	for (;;) {
		const uint8_t *start = in->buf + in->pos;
		size_t have = in->len - in->pos;
		const uint8_t *nl =
			memchr(start + scanned, '\n', have - scanned);

		if (nl || (in->eof && have)) {
			*line = (const char *)start;
			*len = nl ? (size_t)(nl - start) : have;
			in->pos += nl ? *len + 1 : have;
			r->text.lineno++;
			return 1;
		}
		if (in->eof)
			return 0;
		if (have > TEXT_LINE_MAX) {
			r->text.lineno++;
			return text_err(r, err, "line longer than %d bytes",
					TEXT_LINE_MAX);
		}
		scanned = have;
		if (dm_trace_in_fill(in) < 0)
			return dm_errorf(err, "%s: read error: %s", r->name,
					 strerror(in->err));
	}
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/*
 * Cuts the comment off a line and splits the rest into tokens, storing at
 * most max + 1 of them; returns how many it stored (max + 1: there are
 * more than max), or -1 when the line holds a control character.
 */
static int tokenize(struct dm_trace_reader *r, const char *line, size_t len,
		    struct tok *toks, int max, struct dm_error *err)
{
	const char *hash = memchr(line, '#', len);
	const char *end = hash ? hash : line + len;
	const char *p = line;
	int n = 0;

	for (const char *q = line; q < end; q++) {
		uint8_t c = (uint8_t)*q;

		if ((c < 0x20 && !is_space(*q)) || c == 0x7f)
			return text_err(r, err,
					"invalid control character 0x%02x at "
					"character %zu",
					c, (size_t)(q - line) + 1);
	}
	for (;;) {
		while (p < end && is_space(*p))
			p++;
		if (p == end || n > max)
			return n;
		toks[n].s = p;
		while (p < end && !is_space(*p))
			p++;
		toks[n].n = (size_t)(p - toks[n].s);
		n++;
	}
}

static bool tok_is(const struct tok *t, const char *s)
{
	return t->n == strlen(s) && !memcmp(t->s, s, t->n);
}

enum { NUM_OK, NUM_BAD, NUM_OVERFLOW };

static int parse_dec(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;

	if (!n)
		return NUM_BAD;
	for (size_t i = 0; i < n; i++) {
		unsigned int d = (unsigned int)(s[i] - '0');

		if (d > 9)
			return NUM_BAD;
		if (x > (UINT64_MAX - d) / 10)
			return NUM_OVERFLOW;
		x = x * 10 + d;
	}
	*v = x;
	return NUM_OK;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decimal, or hex after "0x". */
static int parse_num(const struct tok *t, uint64_t *v)
{
	uint64_t x = 0;

	if (t->n < 3 || t->s[0] != '0' || (t->s[1] != 'x' && t->s[1] != 'X'))
		return parse_dec(t->s, t->n, v);
	for (size_t i = 2; i < t->n; i++) {
		int d = hex_digit(t->s[i]);

		if (d < 0)
			return NUM_BAD;
		if (x >> 60)
			return NUM_OVERFLOW;
		x = x << 4 | (unsigned int)d;
	}
	*v = x;
	return NUM_OK;
}

static int number(struct dm_trace_reader *r, const struct tok *t, int col,
		  uint64_t *v, struct dm_error *err)
{
	switch (parse_num(t, v)) {
	case NUM_OK:
		return 0;
	case NUM_OVERFLOW:
		return text_err(r, err, "%s '%.*s' overflows 64 bits",
				col_names[col], (int)t->n, t->s);
	default:
		return text_err(r, err, "bad number '%.*s' in %s column",
				(int)t->n, t->s, col_names[col]);
	}
}

static int parse_time(struct dm_trace_reader *r, const struct tok *t,
		      struct dm_event *ev, struct dm_error *err)
{
	switch (parse_dec(t->s, t->n, &ev->time)) {
	case NUM_OK:
		break;
	case NUM_OVERFLOW:
		return text_err(r, err, "time '%.*s' overflows 64 bits",
				(int)t->n, t->s);
	default:
		return text_err(r, err, "bad time '%.*s' (decimal nanoseconds)",
				(int)t->n, t->s);
	}
	if (ev->time < r->text.prev_time)
		return text_err(r, err,
				"time %" PRIu64
				" goes backwards (previous event at %" PRIu64
				")",
				ev->time, r->text.prev_time);
	return 0;
}

static int parse_actor(struct dm_trace_reader *r, const struct tok *t,
		       struct dm_event *ev, struct dm_error *err)
{
	uint64_t n;

	ev->cpu = 0;
	if (tok_is(t, "dev")) {
		ev->actor = DM_ACTOR_DEV;
		return 0;
	}
	if (tok_is(t, "sim")) {
		ev->actor = DM_ACTOR_SIM;
		return 0;
	}
	if (t->n > 3 && !memcmp(t->s, "cpu", 3)) {
		int rc = parse_dec(t->s + 3, t->n - 3, &n);

		if (rc == NUM_OK && n <= TRACE_CPU_MAX) {
			ev->actor = DM_ACTOR_CPU;
			ev->cpu = (uint32_t)n;
			return 0;
		}
		if (rc != NUM_BAD)
			return text_err(r, err,
					"cpu number in '%.*s' out of range "
					"(max %u)",
					(int)t->n, t->s, TRACE_CPU_MAX);
	}
	return text_err(r, err, "bad actor '%.*s' (cpuN, dev or sim)",
			(int)t->n, t->s);
}

static int parse_op(struct dm_trace_reader *r, const struct tok *t,
		    struct dm_event *ev, struct dm_error *err)
{
	for (unsigned int op = 0; op < DM_OP_COUNT; op++)
		if (tok_is(t, dm_trace_ops[op].name)) {
			ev->op = (uint8_t)op;
			return 0;
		}
	return text_err(r, err, "unknown op '%.*s'", (int)t->n, t->s);
}

static int parse_addr(struct dm_trace_reader *r, const struct tok *t,
		      struct dm_event *ev, struct dm_error *err)
{
	const struct trace_op_info *oi = &dm_trace_ops[ev->op];
	bool dash = tok_is(t, "-");

	ev->addr = 0;
	if (!oi->addr_name && !dash)
		return text_err(r, err,
				"op %s takes no address, got '%.*s' (use '-')",
				oi->name, (int)t->n, t->s);
	if (oi->addr_name && dash)
		return text_err(r, err, "op %s needs a %s, got '-'", oi->name,
				oi->addr_name);
	return dash ? 0 : number(r, t, COL_ADDR, &ev->addr, err);
}

static int parse_size(struct dm_trace_reader *r, const struct tok *t,
		      struct dm_event *ev, struct dm_error *err)
{
	uint64_t size = 0;

	if (!tok_is(t, "-") && number(r, t, COL_SIZE, &size, err))
		return -1;
	/* Any impossible size fails the op's check with the token shown. */
	ev->size = size > 8 ? 0xff : (uint8_t)size;
	return 0;
}

static int parse_label(struct dm_trace_reader *r, const struct tok *t,
		       struct dm_event *ev, struct dm_error *err)
{
	if (t->n > DM_LABEL_MAX)
		return text_err(r, err, "mark label of %zu characters (max %d)",
				t->n, DM_LABEL_MAX);
	for (size_t i = 0; i < t->n; i++) {
		uint8_t c = (uint8_t)t->s[i];

		if (!dm_trace_label_char[c])
			return text_err(r, err,
					"mark label '%.*s': invalid character "
					"0x%02x (allowed: A-Z a-z 0-9 _ . : / "
					"+ -)",
					(int)t->n, t->s, c);
	}
	memcpy(ev->label, t->s, t->n);
	ev->label[t->n] = '\0';
	return 0;
}

static int parse_value(struct dm_trace_reader *r, const struct tok *t,
		       struct dm_event *ev, struct dm_error *err)
{
	ev->value = 0;
	ev->flags = 0;
	ev->label[0] = '\0';
	if (dm_trace_ops[ev->op].value == TV_LABEL)
		return parse_label(r, t, ev, err);
	if (tok_is(t, "?"))
		return 0;
	ev->flags = DM_EV_VALUE;
	return number(r, t, COL_VALUE, &ev->value, err);
}

/* The column whose token a problem found by trace_check is about. */
static int problem_column(enum trace_problem p)
{
	switch (p) {
	case TE_ACTOR:
	case TE_CPU:
		return COL_ACTOR;
	case TE_ADDR:
		return COL_ADDR;
	case TE_SIZE:
		return COL_SIZE;
	default:
		return COL_VALUE;
	}
}

static int parse_event(struct dm_trace_reader *r, const struct tok *toks,
		       int ntok, struct dm_event *ev, struct dm_error *err)
{
	static int (*const parse[NCOLS])(struct dm_trace_reader *,
					 const struct tok *, struct dm_event *,
					 struct dm_error *) = {
		parse_time, parse_actor, parse_op,
		parse_addr, parse_size,	 parse_value,
	};
	enum trace_problem p;

	bool gp = ntok > NCOLS && tok_is(&toks[NCOLS], "gp");

	for (int col = 0; col < NCOLS; col++) {
		if (col >= ntok)
			return text_err(r, err, "missing %s column",
					col_names[col]);
		if (parse[col](r, &toks[col], ev, err))
			return -1;
	}
	if (gp)
		ev->flags |= DM_EV_GP;
	p = trace_check(ev);
	if (p != TE_OK) {
		const struct tok *t = &toks[problem_column(p)];
		char why[300];

		dm_trace_explain(p, ev, t->s, t->n, why, sizeof(why));
		return text_err(r, err, "%s", why);
	}
	if (ntok > NCOLS + gp)
		return text_err(r, err, "extra column '%.*s'",
				(int)toks[NCOLS + gp].n, toks[NCOLS + gp].s);
	r->text.prev_time = ev->time;
	return 0;
}

static int parse_header(struct dm_trace_reader *r, const struct tok *toks,
			int ntok, struct dm_error *err)
{
	uint64_t version;

	if (!tok_is(&toks[0], "dmtrace"))
		return text_err(r, err,
				"expected 'dmtrace 1' header, got '%.*s'",
				(int)toks[0].n, toks[0].s);
	if (ntok < 2)
		return text_err(r, err, "missing version after 'dmtrace'");
	if (ntok > 2)
		return text_err(r, err, "extra column '%.*s' in header",
				(int)toks[2].n, toks[2].s);
	if (parse_num(&toks[1], &version) != NUM_OK)
		return text_err(r, err, "bad trace version '%.*s'",
				(int)toks[1].n, toks[1].s);
	if (version != 1)
		return text_err(r, err, "unsupported trace version %.*s",
				(int)toks[1].n, toks[1].s);
	return 0;
}

/* Stores the options of a "machine" line, single-spaced. */
static int parse_machine(struct dm_trace_reader *r, const char *line,
			 size_t len, struct dm_error *err)
{
	const char *hash = memchr(line, '#', len);
	const char *p = line, *end = hash ? hash : line + len;
	char *cfg = malloc((size_t)(end - line) + 1), *q = cfg;
	long bad;

	if (!cfg)
		return text_err(r, err, "out of memory");
	while (is_space(*p))
		p++;
	p += strlen("machine");
	for (;;) {
		const char *s;

		while (p < end && is_space(*p))
			p++;
		if (p == end)
			break;
		s = p;
		while (p < end && !is_space(*p))
			p++;
		if (q != cfg)
			*q++ = ' ';
		memcpy(q, s, (size_t)(p - s));
		q += p - s;
	}
	*q = '\0';
	free(r->config);
	r->config = cfg;
	bad = dm_trace_config_bad(cfg, (size_t)(q - cfg));
	if (bad >= 0)
		return text_err(r, err,
				"invalid character 0x%02x in machine options",
				(uint8_t)cfg[bad]);
	if ((size_t)(q - cfg) > TRACE_CONFIG_MAX)
		return text_err(r, err, "machine options longer than %u bytes",
				TRACE_CONFIG_MAX);
	return 0;
}

/*
 * Reads the header lines and stops at the first event line, which stays in
 * the input buffer for the first dm_trace_text_next.
 */
int dm_trace_text_open(struct dm_trace_reader *r, struct dm_error *err)
{
	bool header = false, machine = false;
	struct tok toks[3];
	const char *line;
	size_t len;
	int rc, ntok;

	while ((rc = get_line(r, &line, &len, err)) > 0) {
		ntok = tokenize(r, line, len, toks, 2, err);
		if (ntok < 0)
			return -1;
		if (ntok == 0)
			continue;
		if (!header) {
			if (parse_header(r, toks, ntok, err))
				return -1;
			header = true;
		} else if (tok_is(&toks[0], "machine")) {
			if (machine)
				return text_err(r, err,
						"duplicate machine line");
			if (parse_machine(r, line, len, err))
				return -1;
			machine = true;
		} else {
			r->text.pending = line;
			r->text.pending_len = len;
			return 0;
		}
	}
	if (rc < 0)
		return -1;
	if (!header) {
		/* An empty file has no line 0 to blame. */
		r->text.lineno += !r->text.lineno;
		return text_err(r, err,
				"missing 'dmtrace 1' header before the end "
				"of the file");
	}
	return 0;
}

int dm_trace_text_next(struct dm_trace_reader *r, struct dm_event *ev,
		       struct dm_error *err)
{
	struct tok toks[NCOLS + 2]; /* the columns, "gp", one too many */
	const char *line;
	size_t len;
	int rc, ntok;

	for (;;) {
		if (r->text.pending) {
			line = r->text.pending;
			len = r->text.pending_len;
			r->text.pending = NULL;
		} else {
			rc = get_line(r, &line, &len, err);
			if (rc <= 0)
				return rc;
		}
		ntok = tokenize(r, line, len, toks, NCOLS + 1, err);
		if (ntok < 0)
			return -1;
		if (ntok > 0)
			break;
	}
	if (tok_is(&toks[0], "machine"))
		return text_err(r, err, "machine line after events");
	if (tok_is(&toks[0], "dmtrace"))
		return text_err(r, err, "duplicate 'dmtrace' header");
	return parse_event(r, toks, ntok, ev, err) ? -1 : 1;
}

/* Writer */

void dm_trace_text_begin(struct dm_trace_writer *w, const char *config)
{
	static const char legend[] =
		"# time_ns   actor op     address    size value\n";

	dm_trace_out_write(&w->out, "dmtrace 1\n", strlen("dmtrace 1\n"));
	if (*config) {
		dm_trace_out_write(&w->out, "machine ", strlen("machine "));
		dm_trace_out_write(&w->out, config, strlen(config));
		dm_trace_out_write(&w->out, "\n", 1);
	}
	dm_trace_out_write(&w->out, legend, strlen(legend));
}

void dm_trace_text_put(struct dm_trace_writer *w, const struct dm_event *ev)
{
	char *p = (char *)dm_trace_out_reserve(&w->out, TRACE_LINE_MAX + 1);
	int n = dm_trace_format_line(ev, p);

	p[n] = '\n';
	w->out.len += (size_t)n + 1;
}
