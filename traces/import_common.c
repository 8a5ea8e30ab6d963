// SPDX-License-Identifier: MIT
/* Helpers the ftrace and QEMU importers share (traces/import_common.h). */
#include "traces/import_common.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "models/pic.h"
#include "models/pmtimer.h"
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

void dm_import_report_chipset(FILE *log, const struct dm_import_pci *p)
{
	if (p->chipset >= 0)
		fprintf(log, "import: chipset %s (from %s)\n",
			p->chipset == DM_CHIPSET_Q35 ? "q35" : "pc",
			p->chipset_why);
	else
		fprintf(log, "import: chipset not inferred (no PCI host or "
			     "ISA bridge ID read): pc assumed\n");
}

bool dm_import_modelled_port(uint64_t port, uint64_t pmbase)
{
	return port - 0x40 < 4 || port == 0x61 ||
	       port - DM_PIC_MASTER_BASE < DM_PIC_REGION_LEN ||
	       port - DM_PIC_SLAVE_BASE < DM_PIC_REGION_LEN ||
	       port - DM_PIC_ELCR_BASE < DM_PIC_REGION_LEN ||
	       port - DM_RTC_BASE < DM_RTC_LEN ||
	       port - pmbase < DM_PMTIMER_LEN;
}

bool dm_import_skip_truncated(const struct dm_import_input *in, FILE *log)
{
	if (!in->unterminated)
		return false;
	if (log)
		fprintf(log,
			"import: warning: %s:%" PRIu64
			": truncated last line skipped\n",
			in->name, in->lineno);
	return true;
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
#define RTC_C 0x0c
#define RTC_B_SET 0x80
#define RTC_C_UF 0x10
#define RTC_TIME_REGS (1u << 0 | 1u << 1 | 1u << 2)
#define DAY_S 86400
#define SEC_NS 1000000000LL

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

static void rtc_add(struct dm_import_rtc *r, struct dm_import_rtc_sample s)
{
	if (r->n < DM_IMPORT_RTC_SAMPLES)
		r->s[r->n++] = s;
}

/* The seconds read in progress, with the time of day if it was read. */
static void rtc_sample(struct dm_import_rtc *r)
{
	if (!(r->have & 1))
		return;
	rtc_add(r, (struct dm_import_rtc_sample){
			   .ts = r->sec_ts,
			   .tod = (r->have & RTC_TIME_REGS) == RTC_TIME_REGS
					  ? rtc_tod(r)
					  : -1,
			   .sec = (uint8_t)rtc_bin(r, r->val[0])});
	r->have = 0;
}

/* The guest sets the time (SET, or a write of a time or date register):
 * later reads tell nothing of QEMU's start. */
static bool rtc_sets_time(unsigned index, uint8_t value)
{
	if (index == RTC_B)
		return value & RTC_B_SET;
	return index <= RTC_YEAR && rtc_slot(index) >= 0;
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
	if (port != DM_RTC_BASE + 1 || r->time_written)
		return;
	if (write && rtc_sets_time(index, value)) {
		rtc_sample(r);
		r->time_written = true;
		return;
	}
	if (index == RTC_B) {
		r->reg_b = value;
		return;
	}
	if (write)
		return;
	if (index == RTC_C) {
		rtc_add(r,
			(struct dm_import_rtc_sample){.ts = ts,
						      .reg_c = true,
						      .uf = value & RTC_C_UF});
		return;
	}
	if (slot < 0)
		return;
	if (slot >= 3 && !(r->date_have >> (slot - 3) & 1)) {
		r->date_have |= (uint8_t)(1u << (slot - 3));
		r->date[slot - 3] = value;
	}
	if (slot == 0) {
		rtc_sample(r);
		r->sec_ts = ts;
	}
	r->have |= (uint8_t)(1u << slot);
	r->val[slot] = value;
}

struct rtc_fit {
	const struct dm_import_rtc *r; /* its samples, the last one closed */
	const int64_t *t;	       /* their virtual times */
	bool from_start;	       /* Register C was clear at the first */
};

/* The RTC shows floor((x + t) / 1 s) seconds at virtual time t, x its
 * time at 0 (in ns); how many samples disagree with x. */
static uint64_t rtc_misfits(const struct rtc_fit *f, int64_t x)
{
	int64_t cleared = f->from_start ? x / SEC_NS : -1;
	uint64_t n = 0;

	for (unsigned i = 0; i < f->r->n; i++) {
		const struct dm_import_rtc_sample *s = &f->r->s[i];
		int64_t u = (x + f->t[i]) / SEC_NS;

		if (!s->reg_c) {
			n += s->tod >= 0 ? u % DAY_S != s->tod
					 : u % 60 != s->sec;
			continue;
		}
		/* UF: an update came since the read that cleared it. */
		if (cleared >= 0)
			n += (u > cleared) != s->uf;
		cleared = u;
	}
	return n;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * x in [lo, lo + 1 s): a sample's answer changes where x + t crosses a
 * whole second, one instant each; between those every answer holds.  The
 * instants with the fewest misfits, and of those the longest run of
 * neighbouring ones, win; x is its middle.
 */
static void rtc_search(const struct rtc_fit *f, int64_t lo,
		       struct dm_import_rtc_at0 *at, int64_t *cut)
{
	unsigned n = 0;
	int64_t run_lo = lo, best_lo = lo, best_end = lo, x;
	uint64_t best = UINT64_MAX, run_m = UINT64_MAX;

	/* i == n: x's own whole second, where Register C was clear. */
	for (unsigned i = 0; i <= f->r->n; i++) {
		int64_t t = i < f->r->n ? f->t[i] : 0;
		int64_t c = (SEC_NS - (lo + t) % SEC_NS) % SEC_NS;

		if (c)
			cut[n++] = lo + c;
	}
	cut[n++] = lo + SEC_NS;
	qsort(cut, n, sizeof(*cut), cmp_i64);
	for (unsigned i = 0, start = 1; i < n; i++) {
		int64_t from = i ? cut[i - 1] : lo;
		uint64_t m;

		if (cut[i] == from)
			continue;
		m = rtc_misfits(f, from);
		if (start || m != run_m)
			run_lo = from;
		start = 0;
		run_m = m;
		if (m < best ||
		    (m == best && cut[i] - run_lo > best_end - best_lo)) {
			best = m;
			best_lo = run_lo;
			best_end = cut[i];
		}
	}
	x = best_lo + (best_end - 1 - best_lo) / 2;
	if (x < 0)
		x = 0;
	at->sec = (uint64_t)(x / SEC_NS);
	at->ns = (uint32_t)(x % SEC_NS);
	at->width_ns = (uint64_t)(best_end - best_lo);
	at->misfits = best;
	at->found = best ? -1 : 1;
}

/* Where x lies within a second: from the wall clock, else from the first
 * sample with the time of day.  False when neither dates it. */
static bool rtc_window(const struct rtc_fit *f, const struct dm_import_rtc *r,
		       uint64_t realtime_ns, int64_t *lo)
{
	if (realtime_ns) {
		*lo = (int64_t)realtime_ns - SEC_NS + 1;
		return true;
	}
	for (unsigned i = 0; i < r->n; i++)
		if (!r->s[i].reg_c && r->s[i].tod >= 0) {
			*lo = (rtc_day(r) * DAY_S + r->s[i].tod) * SEC_NS -
			      f->t[i];
			return true;
		}
	return false;
}

struct dm_import_rtc_at0
dm_import_rtc_epoch(const struct dm_import_rtc *r,
		    uint64_t (*ns)(const void *ctx, uint64_t ts),
		    const void *ctx, uint64_t realtime_ns)
{
	struct dm_import_rtc_at0 at = {.wall_clock = realtime_ns != 0};
	struct dm_import_rtc *last = malloc(sizeof(*last));
	int64_t *t = NULL, *cut = NULL, lo;
	struct rtc_fit f;

	if (!last)
		return at;
	*last = *r;
	rtc_sample(last); /* the sample in progress */
	t = malloc((last->n + 1) * sizeof(*t));
	cut = malloc((last->n + 2) * sizeof(*cut));
	f = (struct rtc_fit){last, t, realtime_ns != 0};
	for (unsigned i = 0; t && i < last->n; i++)
		t[i] = (int64_t)ns(ctx, last->s[i].ts);
	if (t && cut && (last->n || realtime_ns) &&
	    rtc_window(&f, last, realtime_ns, &lo)) {
		at.reads = last->n;
		rtc_search(&f, lo, &at, cut);
	}
	free(cut);
	free(t);
	free(last);
	return at;
}

/* ---- the parsers' cursor --------------------------------------------- */

const char *dm_import_skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

void dm_cur_lit(struct dm_cur *c, const char *lit)
{
	size_t n = strlen(lit);

	c->p = dm_import_skip_ws(c->p);
	if (c->ok && !strncmp(c->p, lit, n))
		c->p += n;
	else
		c->ok = false;
}

/* A number in base 10 or 16 ("0x" required when prefix). */
uint64_t dm_cur_num(struct dm_cur *c, int base, bool prefix)
{
	uint64_t v = 0;
	const char *q;

	c->p = dm_import_skip_ws(c->p);
	if (prefix)
		dm_cur_lit(c, "0x");
	if (!c->ok)
		return 0;
	for (q = c->p; isxdigit((unsigned char)*q); q++) {
		unsigned d = isdigit((unsigned char)*q)
				     ? (unsigned)(*q - '0')
				     : (unsigned)(tolower(*q) - 'a' + 10);

		if (d >= (unsigned)base ||
		    v > (UINT64_MAX - d) / (unsigned)base)
			break;
		v = v * (unsigned)base + d;
	}
	if (q == c->p || isalnum((unsigned char)*q))
		c->ok = false;
	c->p = q;
	return v;
}

/* The rest is only spaces (and, where allowed, an optional tail). */
bool dm_cur_end(struct dm_cur *c, const char *tail)
{
	c->p = dm_import_skip_ws(c->p);
	if (tail && !strncmp(c->p, tail, strlen(tail)))
		c->p = dm_import_skip_ws(c->p + strlen(tail));
	return c->ok && !*c->p;
}

uint16_t dm_import_pmbase(const struct dm_import_pci *pci, uint32_t pmbase)
{
	return dm_pmtimer_base(&(struct dm_config){
		.chipset = pci->chipset == DM_CHIPSET_Q35 ? DM_CHIPSET_Q35
							  : DM_CHIPSET_PC,
		.pmbase = pmbase});
}
