// SPDX-License-Identifier: MIT
/* Helpers the ftrace and QEMU importers share (traces/import_common.h). */
#include "traces/import_common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "models/rtc.h"
#include "sim/config.h"

int dm_import_input_rewind(struct dm_import_input *in, struct dm_error *err)
{
	in->lineno = 0;
	if (fseek(in->f, 0, SEEK_SET))
		return dm_errorf(err, "%s: %s", in->name, strerror(errno));
	return 0;
}

int dm_import_input_open(struct dm_import_input *in, const char *path,
			 struct dm_error *err)
{
	char buf[65536];
	size_t n;

	in->name = strcmp(path, "-") ? path : "<stdin>";
	if (strcmp(path, "-")) {
		in->f = fopen(path, "r");
		return in->f ? 0
			     : dm_errorf(err, "%s: %s", path, strerror(errno));
	}
	/* Two passes need a copy of standard input that can be rewound. */
	in->f = tmpfile();
	if (!in->f)
		return dm_errorf(err, "temporary file: %s", strerror(errno));
	while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
		if (fwrite(buf, 1, n, in->f) != n)
			return dm_errorf(err, "temporary file: %s",
					 strerror(errno));
	if (ferror(stdin))
		return dm_errorf(err, "<stdin>: %s", strerror(errno));
	/* The copy was written up to its end; the first pass reads it from
	 * the start. */
	return dm_import_input_rewind(in, err);
}

int dm_import_input_next(struct dm_import_input *in, struct dm_error *err)
{
	ssize_t n = getline(&in->line, &in->cap, in->f);

	if (n < 0)
		return ferror(in->f) ? dm_errorf(err, "%s: %s", in->name,
						 strerror(errno))
				     : 0;
	in->lineno++;
	in->unterminated = in->line[n - 1] != '\n';
	while (n > 0 && (in->line[n - 1] == '\n' || in->line[n - 1] == '\r'))
		in->line[--n] = '\0';
	return 1;
}

void dm_import_input_close(struct dm_import_input *in)
{
	if (in->f)
		fclose(in->f);
	free(in->line);
}

bool dm_import_pci_access(struct dm_import_pci *p, uint64_t port, unsigned size,
			  bool write, uint64_t val, uint32_t *cf8)
{
	bool bus0 = (p->cf8 & 0x80ff0000u) == 0x80000000u;

	if (port == 0xcf8 && size == 4 && write) {
		p->cf8 = (uint32_t)val;
		return false;
	}
	if (port != 0xcfc || size != 4 || !bus0)
		return false;
	*cf8 = p->cf8;
	/* Register 0 of the host bridge and the ISA bridge: their IDs
	 * differ (i440FX/PIIX3 vs Q35/ICH9). */
	if (write || (p->cf8 & 0xfc))
		return true;
	switch (val & 0xffffffffu) {
	case 0x12378086:
	case 0x70008086:
		p->chipset = DM_CHIPSET_PC;
		p->chipset_why = "i440FX/PIIX3 PCI IDs";
		break;
	case 0x29c08086:
	case 0x29188086:
		p->chipset = DM_CHIPSET_Q35;
		p->chipset_why = "Q35/ICH9 PCI IDs";
		break;
	default:
		break;
	}
	return true;
}

int dm_import_write(struct dm_import_input *in, const char *out,
		    enum dm_trace_encoding encoding, const char *config,
		    int (*convert)(void *ctx), void *ctx,
		    struct dm_trace_writer **w, struct dm_error *err)
{
	if (dm_import_input_rewind(in, err) ||
	    dm_trace_create(w, out, encoding, config, err))
		return -1;
	if (convert(ctx)) {
		dm_trace_finish(*w, NULL);
		*w = NULL;
	} else {
		int rc = dm_trace_finish(*w, err);

		*w = NULL;
		if (!rc)
			return 0;
	}
	if (strcmp(out, "-"))
		remove(out);
	return -1;
}

int dm_import_usage_error(const char *usage, const char *what, const char *arg)
{
	fprintf(stderr, "dmsim import: %s%s%s\n%s", what, arg ? " " : "",
		arg ? arg : "", usage);
	return DM_EXIT_USAGE;
}

/* "none" or a comma-separated list of GSIs 0..max. */
static int parse_gsis(const char *s, unsigned max, uint32_t *mask)
{
	char *end;

	*mask = 0;
	if (!strcmp(s, "none"))
		return 0;
	for (;;) {
		unsigned long g;

		errno = 0;
		g = strtoul(s, &end, 0);
		if (errno || end == s || g > max || *s == '-')
			return -1;
		*mask |= 1u << g;
		if (!*end)
			return 0;
		if (*end != ',')
			return -1;
		s = end + 1;
	}
}

/* An option with its value; returns -1 if taken, else the exit code. */
static int parse_opt(const char *arg, const char *val, const char *usage,
		     unsigned max_gsi, bool tsc_hz_ok, struct dm_import_args *a)
{
	char *end;

	if (!strcmp(arg, "-o")) {
		a->out = val;
	} else if (tsc_hz_ok && !strcmp(arg, "--tsc-hz")) {
		errno = 0;
		a->tsc_hz = strtoull(val, &end, 0);
		if (errno || *end || !a->tsc_hz)
			return dm_import_usage_error(usage, "bad --tsc-hz",
						     val);
	} else if (!strcmp(arg, "--model-gsi")) {
		if (parse_gsis(val, max_gsi, &a->model_gsis))
			return dm_import_usage_error(usage, "bad --model-gsi",
						     val);
		a->model_gsis_given = true;
	} else if (!strcmp(arg, "--pit-irq0")) {
		if (!strcmp(val, "trace"))
			a->pit_irq0_edges = true;
		else if (strcmp(val, "model"))
			return dm_import_usage_error(
				usage, "--pit-irq0 takes model or trace, not",
				val);
	} else if (!strcmp(arg, "--to")) {
		if (!strcmp(val, "binary"))
			a->encoding = DM_TRACE_BINARY;
		else if (strcmp(val, "text"))
			return dm_import_usage_error(
				usage, "--to takes text or binary, not", val);
	} else {
		return dm_import_usage_error(usage, "unknown option", arg);
	}
	return -1;
}

int dm_import_parse_args(int argc, char **argv, const char *usage,
			 unsigned max_gsi, bool tsc_hz_ok,
			 struct dm_import_args *a)
{
	for (int i = 2; i < argc; i++) {
		const char *arg = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		int rc;

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			fputs(usage, stdout);
			return DM_EXIT_OK;
		} else if (!strcmp(arg, "--quiet")) {
			a->quiet = true;
			continue;
		} else if (arg[0] != '-' || !arg[1]) {
			if (a->in)
				return dm_import_usage_error(
					usage, "unexpected argument", arg);
			a->in = arg;
			continue;
		}
		if (!val)
			return dm_import_usage_error(usage,
						     "needs an argument:", arg);
		i++;
		rc = parse_opt(arg, val, usage, max_gsi, tsc_hz_ok, a);
		if (rc >= 0)
			return rc;
	}
	if (!a->in || !a->out)
		return dm_import_usage_error(usage, "needs IN and -o OUT",
					     NULL);
	return -1;
}

bool dm_import_cmos_access(struct dm_import_cmos *c, uint64_t port, bool write,
			   uint8_t value)
{
	unsigned i = c->index;
	uint64_t bit = 1ULL << (i & 63);

	if (port == DM_RTC_BASE && write)
		c->index = value & 0x7f;
	if (port != DM_RTC_BASE + 1 || i < 0x0e)
		return false;
	if (write) {
		c->written[i >> 6] |= bit;
		return false;
	}
	return !(c->written[i >> 6] & bit);
}

#define RTC_SEC 0x00
#define RTC_MIN 0x02
#define RTC_HOUR 0x04
#define RTC_MDAY 0x07
#define RTC_MON 0x08
#define RTC_YEAR 0x09
#define RTC_B 0x0b
#define RTC_TIME_REGS (1u << 0 | 1u << 1 | 1u << 2)
#define DAY_S 86400

void dm_import_rtc_init(struct dm_import_rtc *r)
{
	*r = (struct dm_import_rtc){.reg_b = 0x02}; /* QEMU: 24 h, BCD */
}

/* Bit in r->have (and slot in r->val) of a time register, or -1. */
static int rtc_slot(unsigned index)
{
	static const uint8_t regs[] = {RTC_SEC,	 RTC_MIN, RTC_HOUR,
				       RTC_MDAY, RTC_MON, RTC_YEAR};

	for (unsigned i = 0; i < sizeof(regs); i++)
		if (regs[i] == index)
			return (int)i;
	return -1;
}

static unsigned rtc_bin(const struct dm_import_rtc *r, uint8_t v)
{
	return (r->reg_b & 0x04) ? v : (unsigned)(v >> 4) * 10 + (v & 0xf);
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* The time of day read since the seconds read, in seconds. */
static int32_t rtc_tod(const struct dm_import_rtc *r)
{
	unsigned hour = r->val[2] & 0x7f, h = rtc_bin(r, (uint8_t)hour);

	if (!(r->reg_b & 0x02)) /* 12-hour mode: bit 7 is PM */
		h = h % 12 + ((r->val[2] & 0x80) ? 12 : 0);
	return (int32_t)(h * 3600 + rtc_bin(r, r->val[1]) * 60 +
			 rtc_bin(r, r->val[0]));
}

/* The first date read, 2000-01-01's fields where none was: in days. */
static int64_t rtc_day(const struct dm_import_rtc *r)
{
	unsigned f[3] = {1, 1, 0};

	for (unsigned i = 0; i < 3; i++)
		if (r->date_have >> i & 1)
			f[i] = rtc_bin(r, r->date[i]);
	return days_from_civil(2000 + f[2], f[1], f[0]);
}

static void rtc_sample(struct dm_import_rtc *r)
{
	if (!(r->have & 1) || r->n == DM_IMPORT_RTC_SAMPLES)
		return;
	r->tod[r->n] =
		(r->have & RTC_TIME_REGS) == RTC_TIME_REGS ? rtc_tod(r) : -1;
	r->sec[r->n] = (uint8_t)rtc_bin(r, r->val[0]);
	r->ts[r->n++] = r->sec_ts;
}

/*
 * Guests read the seconds first and the rest after (Linux's
 * mc146818_get_time, SeaBIOS): a sample is a seconds read and the other
 * time registers read before the next one.
 */
void dm_import_rtc_access(struct dm_import_rtc *r, uint64_t ts, uint64_t port,
			  bool write, uint8_t value)
{
	unsigned index = r->cmos.index;
	int slot = rtc_slot(index);

	dm_import_cmos_access(&r->cmos, port, write, value);
	if (port != DM_RTC_BASE + 1)
		return;
	if (index == RTC_B) {
		r->reg_b = value;
		return;
	}
	if (write || slot < 0)
		return;
	if (slot >= 3 && !(r->date_have >> (slot - 3) & 1)) {
		r->date_have |= (uint8_t)(1u << (slot - 3));
		r->date[slot - 3] = value;
	}
	if (slot == 0) {
		rtc_sample(r);
		r->have = 0;
		r->sec_ts = ts;
	}
	r->have |= (uint8_t)(1u << slot);
	r->val[slot] = value;
}

int dm_import_rtc_epoch(const struct dm_import_rtc *r,
			uint64_t (*ns)(const void *ctx, uint64_t ts),
			const void *ctx, uint64_t *sec, uint32_t *frac_ns)
{
	struct dm_import_rtc last = *r;
	int64_t lo = INT64_MIN, hi = INT64_MAX, anchor = -1, x;
	const int64_t s = 1000000000;

	rtc_sample(&last); /* the sample in progress */
	for (unsigned i = 0; i < last.n && anchor < 0; i++)
		if (last.tod[i] >= 0)
			anchor = (rtc_day(&last) * DAY_S + last.tod[i]) * s -
				 (int64_t)ns(ctx, last.ts[i]);
	if (anchor < 0)
		return 0;
	/*
	 * The RTC shows floor((X + t) / 1 s) at virtual time t, X its time
	 * at 0: a read of U at t needs U s - t <= X < U s - t + 1 s.  Each
	 * read takes the U nearest the anchor's with the time of day (or
	 * only the seconds) it read.
	 */
	for (unsigned i = 0; i < last.n; i++) {
		int64_t t = (int64_t)ns(ctx, last.ts[i]), u = (anchor + t) / s;

		if (last.tod[i] >= 0)
			u += ((int64_t)last.tod[i] - u % DAY_S +
			      DAY_S * 3 / 2) %
				     DAY_S -
			     DAY_S / 2;
		else
			u += ((int64_t)last.sec[i] - u % 60 + 90) % 60 - 30;
		if (u * s - t > lo)
			lo = u * s - t;
		if (u * s - t + s - 1 < hi)
			hi = u * s - t + s - 1;
	}
	x = lo <= hi ? lo + (hi - lo) / 2 : lo;
	if (x < 0)
		x = 0;
	*sec = (uint64_t)(x / s);
	*frac_ns = (uint32_t)(x % s);
	return lo <= hi ? 1 : -1;
}
