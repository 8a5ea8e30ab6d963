// SPDX-License-Identifier: MIT
/*
 * MC146818A RTC and CMOS RAM.
 *
 * Nothing ticks.  The model keeps the clock bytes as they stood at base_ns
 * (the last "fold") and the divider's phase; the time at t is those bytes
 * advanced by the updates completed in (base_ns, t], and Register C's flags
 * at t are the stored flags plus whatever the periodic taps, the updates
 * and the alarm set in that interval.  Every write that changes how time
 * or flags evolve first folds everything up to now, so the interval
 * arithmetic never spans a configuration change.  One dm_timer raises IRQ8
 * at the instant the first enabled flag would set; it is idle when IRQF is
 * already 1 or no enabled source can fire.
 *
 * Update k (k >= 1) begins at div_t0 + k s - div_phase.  Datasheet flavour:
 * UIP rises tBUC = 244 us before it, the update takes tUC = 1984 us (248 us
 * with the MHz time bases) and the time bytes, UF and AF change when it
 * ends.  qemu flavour: UIP is the last 244140 ns before the boundary and the
 * update is instantaneous.
 */
#include "models/rtc.h"

#include <inttypes.h>

#include "sim/clock.h"

/* Register indices (MC146818A figure 3). */
#define R_SEC 0x00
#define R_SEC_ALARM 0x01
#define R_MIN 0x02
#define R_MIN_ALARM 0x03
#define R_HOUR 0x04
#define R_HOUR_ALARM 0x05
#define R_DOW 0x06
#define R_MDAY 0x07
#define R_MON 0x08
#define R_YEAR 0x09
#define R_A 0x0a
#define R_B 0x0b
#define R_C 0x0c
#define R_D 0x0d
#define R_SHUTDOWN 0x0f
#define R_CENTURY 0x32	   /* FADT CENTURY, as QEMU and SeaBIOS use it */
#define R_PS2_CENTURY 0x37 /* QEMU aliases it to 0x32 */

#define A_UIP 0x80
#define A_DV 0x70
#define A_RS 0x0f
#define B_SET 0x80
#define B_PIE 0x40
#define B_AIE 0x20
#define B_UIE 0x10
#define B_SQWE 0x08
#define B_DM 0x04
#define B_24H 0x02
#define B_DSE 0x01
#define C_IRQF 0x80
#define C_PF 0x40
#define C_AF 0x20
#define C_UF 0x10
#define C_FLAGS 0x70
#define D_VRT 0x80

#define NS DM_NS_PER_SEC
#define DIV_HZ 32768
#define SEC_PER_DAY 86400
#define T_BUC_NS 244000ULL	    /* MC146818A tBUC */
#define T_UC_32K_NS 1984000ULL	    /* tUC, 32.768 kHz time base */
#define T_UC_MHZ_NS 248000ULL	    /* tUC, 4.194304 / 1.048576 MHz */
#define QEMU_UIP_NS 244140ULL	    /* QEMU UIP_HOLD_LENGTH, 8/32768 s */
#define RELEASE_PHASE_NS 500000000U /* first update 500 ms after DV reset */
/* The chip's calendar: two-digit years, every fourth one a leap year, so
 * it repeats 2000-2099 every 36525 days. */
#define CHIP_CYCLE_DAYS 36525
#define NONE UINT64_MAX
/* Largest update index and 32 kHz count that a 64-bit ns time reaches. */
#define UPD_MAX (UINT64_MAX / NS + 1)
#define QP_MAX (UPD_MAX * DIV_HZ + DIV_HZ)

static bool is_qemu(const struct dm_rtc *r)
{
	return r->flavor == DM_RTC_QEMU;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* ---- calendar: day numbers count from 0000-01-01, proleptic Gregorian */

static const uint16_t days_before_month[13] = {
	0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365,
};

static bool leap_year(uint64_t y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static uint64_t days_before_year(uint64_t y)
{
	return 365 * y + (y + 3) / 4 - (y + 99) / 100 + (y + 399) / 400;
}

/* Day number of the first of month m (1-12) of year y. */
static uint64_t month_start(uint64_t y, unsigned m)
{
	return days_before_year(y) + days_before_month[m - 1] +
	       (m > 2 && leap_year(y));
}

#define DAY_2000 730485ULL /* days_before_year(2000) */
#define DAY_1970 719528ULL /* days_before_year(1970) */

struct civil {
	uint64_t y;
	unsigned m, d;
};

static struct civil civil_from_day(uint64_t z)
{
	uint64_t y = z / 146097 * 400 + z % 146097 * 400 / 146097;
	struct civil c;
	unsigned m = 1;

	while (days_before_year(y + 1) <= z)
		y++;
	while (y && days_before_year(y) > z)
		y--;
	while (m < 12 && month_start(y, m + 1) <= z)
		m++;
	c.y = y;
	c.m = m;
	c.d = (unsigned)(z - month_start(y, m)) + 1;
	return c;
}

/* Day-of-week register value (1 = Sunday) of a day; day 0 was a
 * Saturday. */
static uint8_t weekday(uint64_t z)
{
	return (uint8_t)((z + 6) % 7 + 1);
}

/* ---- byte codec: Register B's DM and 24/12 select the encoding */

static unsigned dec(const struct dm_rtc *r, uint8_t b)
{
	if (r->reg_b & B_DM)
		return b;
	return (unsigned)(b >> 4) * 10 + (b & 0x0f);
}

static uint8_t enc(const struct dm_rtc *r, unsigned v)
{
	if (r->reg_b & B_DM)
		return (uint8_t)v;
	return (uint8_t)((v / 10) << 4 | v % 10);
}

/* 12-hour mode: 1-12 with bit 7 = PM; 12 AM is hour 0. */
static unsigned dec_hour(const struct dm_rtc *r, uint8_t b)
{
	if (r->reg_b & B_24H)
		return dec(r, b);
	return dec(r, b & 0x7f) % 12 + (b & 0x80 ? 12 : 0);
}

static uint8_t enc_hour(const struct dm_rtc *r, unsigned h)
{
	unsigned h12 = h % 12 ? h % 12 : 12;

	if (r->reg_b & B_24H)
		return enc(r, h);
	return (uint8_t)(enc(r, h12) | (h >= 12 ? 0x80 : 0));
}

/* ---- clock positions */

struct pos {
	uint64_t day; /* day number */
	uint32_t sod; /* second of the day */
	uint8_t dow;  /* datasheet: the day-of-week register's own count */
	bool fb;      /* DSE: the October step back happened today */
};

static uint64_t chip_day(int64_t z)
{
	int64_t off = (z - (int64_t)DAY_2000) % CHIP_CYCLE_DAYS;

	return DAY_2000 + (uint64_t)(off < 0 ? off + CHIP_CYCLE_DAYS : off);
}

/*
 * The stored clock bytes as a position.  Bytes that are out of range (the guest
 * may write anything) carry into the next field the way a linear count
 * would, as QEMU's mktimegm() does: 0x75 binary seconds count as 1:57.
 * A month outside 1-12 is clamped.  Datasheet years are 2000 + yy (the
 * chip has no century); qemu years include the century byte.
 */
static struct pos stored_pos(const struct dm_rtc *r)
{
	const uint8_t *clk = r->clock;
	uint64_t y = dec(r, clk[R_YEAR]);
	unsigned m = dec(r, clk[R_MON]);
	uint64_t sod = dec_hour(r, clk[R_HOUR]) * 3600ULL +
		       dec(r, clk[R_MIN]) * 60ULL + dec(r, clk[R_SEC]);
	struct pos p = {.fb = r->dse_fb};
	int64_t z;

	m = m < 1 ? 1 : m > 12 ? 12 : m;
	y = is_qemu(r)
		    ? y + 100ULL * dec(r, r->ram[R_CENTURY - DM_RTC_RAM_FIRST])
		    : 2000 + y % 100;
	z = (int64_t)month_start(y, m) + dec(r, clk[R_MDAY]) - 1 +
	    (int64_t)(sod / SEC_PER_DAY);
	p.sod = (uint32_t)(sod % SEC_PER_DAY);
	if (is_qemu(r)) {
		p.day = z < 0 ? 0 : (uint64_t)z;
		p.dow = weekday(p.day);
	} else {
		p.day = chip_day(z);
		p.dow = (uint8_t)((dec(r, clk[R_DOW]) + 6) % 7 + 1);
	}
	return p;
}

/* Writes a position into the time bytes (not the alarm bytes). */
static void encode_pos(const struct dm_rtc *r, const struct pos *p,
		       uint8_t *clk, uint8_t *century)
{
	struct civil c = civil_from_day(p->day);

	clk[R_SEC] = enc(r, p->sod % 60);
	clk[R_MIN] = enc(r, p->sod / 60 % 60);
	clk[R_HOUR] = enc_hour(r, p->sod / 3600);
	clk[R_DOW] = enc(r, is_qemu(r) ? weekday(p->day) : p->dow);
	clk[R_MDAY] = enc(r, c.d);
	clk[R_MON] = enc(r, c.m);
	clk[R_YEAR] = enc(r, (unsigned)(c.y % 100));
	*century = enc(r, (unsigned)(c.y / 100 % 100));
}

static uint8_t *century_byte(struct dm_rtc *r)
{
	return &r->ram[R_CENTURY - DM_RTC_RAM_FIRST];
}

static void store_pos(struct dm_rtc *r, const struct pos *p)
{
	uint8_t century;

	encode_pos(r, p, r->clock, &century);
	if (is_qemu(r))
		*century_byte(r) = century;
	r->dse_fb = p->fb;
}

/* n ordinary one-second updates: the day of week counts midnights. */
static void advance_plain(const struct dm_rtc *r, struct pos *p, uint64_t n)
{
	uint64_t total = p->sod + n;
	uint64_t days = total / SEC_PER_DAY;

	p->sod = (uint32_t)(total % SEC_PER_DAY);
	if (!days)
		return;
	p->dow = (uint8_t)((p->dow - 1 + days % 7) % 7 + 1);
	p->fb = false;
	if (is_qemu(r))
		p->day += days;
	else
		p->day = DAY_2000 +
			 (p->day - DAY_2000 + days % CHIP_CYCLE_DAYS) %
				 CHIP_CYCLE_DAYS;
}

/* QEMU's RTC ignores DSE. */
static bool dse_on(const struct dm_rtc *r)
{
	return !is_qemu(r) && (r->reg_b & B_DSE);
}

/*
 * MC146818A DSE: on the last Sunday in April the update after 1:59:59 AM
 * shows 3:00:00 AM; on the last Sunday in October the first update after
 * 1:59:59 AM shows 1:00:00 AM again.  "Sunday" is the chip's own
 * day-of-week register reading 1, and "last" means date 24-30 in April,
 * 25-31 in October.  Returns the number of ordinary updates before the next
 * such special update (NONE if none) and which one it is.
 */
static uint64_t dse_run(const struct pos *p, bool *april)
{
	struct civil c = civil_from_day(p->day);
	uint64_t best = NONE;

	for (unsigned yo = 0; yo < 2; yo++) {
		uint64_t y = c.y + yo, wrap = 0;

		if (y > 2099) {
			y -= 100;
			wrap = CHIP_CYCLE_DAYS;
		}
		for (unsigned oct = 0; oct < 2; oct++) {
			int64_t w = (int64_t)(month_start(y, oct ? 10 : 4) +
					      (oct ? 24 : 23) + wrap) -
				    (int64_t)p->day;
			int64_t dw = ((p->dow - 1 + w) % 7 + 7) % 7;
			int64_t sun = w + (7 - dw) % 7;
			uint64_t steps;

			if (sun < 0 ||
			    (sun == 0 && (p->sod > 7199 || (oct && p->fb))))
				continue;
			steps = (uint64_t)sun * SEC_PER_DAY + 7199 - p->sod;
			if (steps < best) {
				best = steps;
				*april = !oct;
			}
		}
	}
	return best;
}

static void dse_step(struct pos *p, bool april)
{
	p->sod = april ? 3 * 3600 : 3600;
	if (!april)
		p->fb = true;
}

/* n updates; with DSE, at most two special updates per simulated year. */
static void advance(const struct dm_rtc *r, struct pos *p, uint64_t n)
{
	while (n && dse_on(r)) {
		bool april = false;
		uint64_t run = dse_run(p, &april);

		if (n <= run)
			break;
		advance_plain(r, p, run);
		dse_step(p, april);
		n -= run + 1;
	}
	advance_plain(r, p, n);
}

/* ---- alarm */

#define ALARM_ANY (-1)
#define ALARM_NEVER (-2)

struct alarm {
	int h, m, s;
};

/*
 * An alarm byte with bits 7:6 = 11 matches any value (MC146818A "don't
 * care"; QEMU tests the same bits).  The chip compares bytes, and after an
 * update the time bytes are always legal encodings, so a byte that is not
 * a legal encoding of a value below limit never matches.
 */
static int alarm_field(const struct dm_rtc *r, uint8_t b, unsigned limit)
{
	unsigned v;

	if ((b & 0xc0) == 0xc0)
		return ALARM_ANY;
	if (!(r->reg_b & B_DM) && ((b & 0x0f) > 9 || (b >> 4) > 9))
		return ALARM_NEVER;
	v = dec(r, b);
	return v < limit ? (int)v : ALARM_NEVER;
}

static int alarm_hour(const struct dm_rtc *r, uint8_t b)
{
	int h12;

	if ((b & 0xc0) == 0xc0 || (r->reg_b & B_24H))
		return alarm_field(r, b, 24);
	h12 = alarm_field(r, b & 0x7f, 13);
	if (h12 < 1)
		return ALARM_NEVER;
	return h12 % 12 + (b & 0x80 ? 12 : 0);
}

static bool alarm_decode(const struct dm_rtc *r, struct alarm *a)
{
	a->h = alarm_hour(r, r->clock[R_HOUR_ALARM]);
	a->m = alarm_field(r, r->clock[R_MIN_ALARM], 60);
	a->s = alarm_field(r, r->clock[R_SEC_ALARM], 60);
	return a->h != ALARM_NEVER && a->m != ALARM_NEVER &&
	       a->s != ALARM_NEVER;
}

static bool alarm_match(const struct alarm *a, uint32_t sod)
{
	return (a->h == ALARM_ANY || a->h == (int)(sod / 3600)) &&
	       (a->m == ALARM_ANY || a->m == (int)(sod / 60 % 60)) &&
	       (a->s == ALARM_ANY || a->s == (int)(sod % 60));
}

/* Smallest v in [from, 60) that want accepts, or -1. */
static int first_ok(int want, int from)
{
	if (want == ALARM_ANY)
		return from < 60 ? from : -1;
	return want >= from ? want : -1;
}

/* Seconds from time of day "from" to the first matching one (0 if from
 * itself matches), looking one day ahead; NONE if there is none. */
static uint64_t tod_next(const struct alarm *a, uint32_t from)
{
	unsigned h0 = from / 3600;
	int m0 = (int)(from / 60 % 60), s0 = (int)(from % 60);

	for (unsigned i = 0; i <= 24; i++) {
		unsigned h = (h0 + i) % 24;
		int m = first_ok(a->m, i ? 0 : m0);
		int s = first_ok(a->s, i || m != m0 ? 0 : s0);

		if (a->h != ALARM_ANY && a->h != (int)h)
			continue;
		if (!i && m == m0 && s < 0) {
			m = first_ok(a->m, m0 + 1);
			s = first_ok(a->s, 0);
		}
		if (m >= 0 && s >= 0)
			return (h0 + i) * 3600ULL + (unsigned)m * 60 +
			       (unsigned)s - from;
	}
	return NONE;
}

/*
 * Number of updates after position p until one leaves the time matching
 * the alarm (AF sets at the end of that update), or NONE.  A legal alarm
 * matches within two days, whatever DSE skips, so four DSE segments
 * suffice.
 */
static uint64_t alarm_after(const struct dm_rtc *r, struct pos p)
{
	struct alarm a;
	uint64_t j = 0;

	if (!alarm_decode(r, &a))
		return NONE;
	for (unsigned seg = 0; seg < 4; seg++) {
		bool april = false;
		uint64_t run = dse_on(r) ? dse_run(&p, &april) : NONE;
		uint64_t d = tod_next(&a, (p.sod + 1) % SEC_PER_DAY);

		if (d != NONE && d < run)
			return j + d + 1;
		if (run == NONE)
			return NONE;
		advance_plain(r, &p, run);
		dse_step(&p, april);
		j += run + 1;
		if (alarm_match(&a, p.sod))
			return j;
	}
	return NONE;
}

/* ---- divider and update timing */

static unsigned dv(const struct dm_rtc *r)
{
	return (r->reg_a & A_DV) >> 4;
}

/*
 * DV 000, 001 and 010 run the divider.  DV 11x holds it in reset; the
 * test modes 011, 100 and 101 are not modelled and hold it too.
 */
static bool div_running(const struct dm_rtc *r)
{
	return dv(r) <= 2;
}

static bool clock_running(const struct dm_rtc *r)
{
	return div_running(r) && !(r->reg_b & B_SET);
}

/* Time on the divider's scale: boundaries of updates are multiples of 1 s. */
static uint64_t div_x(const struct dm_rtc *r, uint64_t t)
{
	return (t > r->div_t0 ? t - r->div_t0 : 0) + r->div_phase;
}

/* The divider's 32.768 kHz count at t. */
static uint64_t div_count(const struct dm_rtc *r, uint64_t t)
{
	return dm_muldiv64(div_x(r, t), DIV_HZ, NS);
}

static uint64_t t_uc(const struct dm_rtc *r)
{
	if (is_qemu(r))
		return 0;
	return dv(r) == 2 ? T_UC_32K_NS : T_UC_MHZ_NS;
}

/* Index of the last update completed by t. */
static uint64_t completed(const struct dm_rtc *r, uint64_t t)
{
	uint64_t x = div_x(r, t), tuc = t_uc(r);

	return x >= tuc ? (x - tuc) / NS : 0;
}

/* Start of update k (k >= 1), DM_TIME_NEVER past the end of time. */
static uint64_t update_start(const struct dm_rtc *r, uint64_t k)
{
	if (k > (UINT64_MAX - r->div_t0) / NS)
		return DM_TIME_NEVER;
	return r->div_t0 + k * NS - r->div_phase;
}

static uint64_t update_end(const struct dm_rtc *r, uint64_t k)
{
	uint64_t t = update_start(r, k);

	return t > DM_TIME_NEVER - t_uc(r) ? DM_TIME_NEVER : t + t_uc(r);
}

/* Updates of the clock in (base_ns, t]. */
static uint64_t updates_since(const struct dm_rtc *r, uint64_t t)
{
	uint64_t k = completed(r, t);

	if (!clock_running(r) || k <= r->upd_done)
		return 0;
	return k - r->upd_done;
}

/*
 * rtc_uf_trace: QEMU arms its update timer for the next boundary while UF
 * is clear (check_update_timer) and runs it from its main loop; an update
 * due while that thread is off its CPU has not run yet.  update_in_progress
 * latches UIP from 244 us before the timer's expiry until it runs.
 */
static bool update_held(const struct dm_rtc *r, uint64_t now)
{
	return r->loop_off && !(r->flags & C_UF) && div_running(r) &&
	       completed(r, now) > completed(r, r->hold_from);
}

/* UIP: high from tBUC before the next update not yet done to its end. */
static bool uip(const struct dm_rtc *r, uint64_t now)
{
	uint64_t k = completed(r, now), start;

	if (!clock_running(r))
		return false;
	if (is_qemu(r))
		return div_x(r, now) % NS >= NS - QEMU_UIP_NS ||
		       update_held(r, now);
	if (r->upd_done > k)
		k = r->upd_done;
	start = update_start(r, k + 1);
	return start != DM_TIME_NEVER && now + T_BUC_NS >= start;
}

/*
 * Periodic rate in 32.768 kHz divider ticks (MC146818A table 3): RS 1 and
 * 2 tap 256 and 128 Hz with the 32.768 kHz base, 32768 and 16384 Hz with
 * the MHz bases; RS 3-15 give 32768 >> (RS - 1) Hz.
 */
static uint32_t period_ticks(const struct dm_rtc *r)
{
	unsigned rs = r->reg_a & A_RS;

	if (!rs)
		return 0;
	if (rs <= 2)
		return dv(r) == 2 ? 1u << (rs + 6) : rs;
	return 1u << (rs - 1);
}

/* QEMU's period: RS 1 and 2 always mean 256 and 128 Hz, and the timer
 * runs only while PIE is set (periodic_period_to_clock). */
static uint32_t qemu_period(const struct dm_rtc *r)
{
	unsigned rs = r->reg_a & A_RS;

	if (!(r->reg_b & B_PIE) || !rs)
		return 0;
	return 1u << (rs <= 2 ? rs + 6 : rs - 1);
}

/* QEMU's tick with 32 kHz count c fires 1 ns after c's nanosecond. */
static uint64_t qtick_ns(uint64_t c)
{
	uint64_t t = dm_muldiv64(c, NS, DIV_HZ);

	return t >= DM_TIME_NEVER - 1 ? DM_TIME_NEVER : t + 1;
}

/* ---- flags and IRQ8 */

static bool pf_since_base(const struct dm_rtc *r, uint64_t t)
{
	uint32_t p = period_ticks(r);

	if (r->pf_trace)
		return false;
	if (is_qemu(r))
		return r->qp_armed && qtick_ns(r->qp_next) <= t;
	if (!p || !div_running(r))
		return false;
	return div_count(r, t) / p > div_count(r, r->base_ns) / p;
}

/* QEMU sets UF at every boundary while the divider runs, SET or not;
 * under rtc_uf_trace not while its main loop is off (update_held). */
static bool uf_since_base(const struct dm_rtc *r, uint64_t t)
{
	if (is_qemu(r))
		return div_running(r) && !r->loop_off &&
		       completed(r, t) > completed(r, r->base_ns);
	return updates_since(r, t) > 0;
}

static uint8_t flags_at(const struct dm_rtc *r, uint64_t t)
{
	uint8_t f = r->flags;
	uint64_t n = updates_since(r, t);

	if (pf_since_base(r, t))
		f |= C_PF;
	if (uf_since_base(r, t))
		f |= C_UF;
	if (n && !(f & C_AF) && alarm_after(r, stored_pos(r)) <= n)
		f |= C_AF;
	return f;
}

/* Catches QEMU's periodic timer up with ticks at or before s. */
static void qemu_periodic_catch_up(struct dm_rtc *r, uint64_t s)
{
	uint32_t p = qemu_period(r);
	uint64_t last;

	if (!r->qp_armed || qtick_ns(r->qp_next) > s)
		return;
	if (!p) {
		/* The one tick still armed when a reset cleared PIE. */
		r->qp_armed = false;
		return;
	}
	last = dm_muldiv64_ceil(s, DIV_HZ, NS) - 1;
	r->qp_next += ((last - r->qp_next) / p + 1) * p;
}

/* Brings the clock bytes and the flags up to s and makes s the base. */
static void fold(struct dm_rtc *r, uint64_t s)
{
	uint8_t f = flags_at(r, s);

	if (clock_running(r)) {
		uint64_t n = updates_since(r, s);

		/* QEMU regenerates the bytes on every read while running. */
		if (n || is_qemu(r)) {
			struct pos p = stored_pos(r);

			advance(r, &p, n);
			store_pos(r, &p);
		}
		r->upd_done += n;
	}
	if (is_qemu(r))
		qemu_periodic_catch_up(r, s);
	r->flags = f;
	r->base_ns = s;
}

static bool irqf(const struct dm_rtc *r)
{
	return r->flags & r->reg_b & C_FLAGS;
}

static uint64_t next_pf(const struct dm_rtc *r)
{
	uint32_t p = period_ticks(r);
	uint64_t x;

	if (r->pf_trace)
		return DM_TIME_NEVER;
	if (is_qemu(r))
		return r->qp_armed ? qtick_ns(r->qp_next) : DM_TIME_NEVER;
	if (!p || !div_running(r))
		return DM_TIME_NEVER;
	x = dm_muldiv64_ceil((div_count(r, r->base_ns) / p + 1) * p, NS,
			     DIV_HZ);
	if (x >= DM_TIME_NEVER - r->div_t0)
		return DM_TIME_NEVER;
	return r->div_t0 + (x > r->div_phase ? x - r->div_phase : 0);
}

/* When IRQF next rises, as seen from base_ns; NEVER if it is up already
 * or no enabled source can fire. */
static uint64_t next_rise(const struct dm_rtc *r)
{
	uint64_t t = DM_TIME_NEVER, j;

	if (irqf(r))
		return DM_TIME_NEVER;
	if (r->reg_b & B_PIE)
		t = next_pf(r);
	if (!clock_running(r))
		return t;
	if (r->reg_b & B_UIE)
		t = min_u64(t, update_end(r, r->upd_done + 1));
	if (r->reg_b & B_AIE) {
		j = alarm_after(r, stored_pos(r));
		if (j != NONE && j < UPD_MAX)
			t = min_u64(t, update_end(r, r->upd_done + j));
	}
	return t;
}

/* IRQ8 follows IRQF = PF.PIE + AF.AIE + UF.UIE (MC146818A Register C). */
static void settle(struct dm_rtc *r, uint64_t now)
{
	bool level = irqf(r);

	if (level != r->irq_level) {
		r->irq_level = level;
		dm_irq_set(&r->irq, now, level);
	}
	dm_timer_arm(&r->timer, next_rise(r));
}

/*
 * QEMU sets PF in its periodic timer's callback, which its main loop runs
 * late and in bursts; the raise of IRQ8 it logs then is the instant.  A
 * raise while an enabled UF or AF of the model's holds IRQF is taken as
 * that interrupt, not a tick.
 */
void dm_rtc_trace_tick(struct dm_rtc *r, uint64_t now)
{
	fold(r, now);
	if ((r->reg_b & B_PIE) && !(r->flags & r->reg_b & (C_UF | C_AF)))
		r->flags |= C_PF;
	settle(r, now);
}

void dm_rtc_main_loop(struct dm_rtc *r, uint64_t now, bool running)
{
	bool held;

	if (!r->uf_trace || !is_qemu(r) || running == !r->loop_off)
		return;
	fold(r, now);
	held = update_held(r, now);
	r->loop_off = !running;
	r->hold_from = now;
	/* rtc_update_timer: the held update clears UIP and sets UF now. */
	if (held)
		r->flags |= C_UF;
	settle(r, now);
}

static void rtc_fired(void *opaque, uint64_t now)
{
	struct dm_rtc *r = opaque;

	fold(r, now);
	settle(r, now);
}

/* ---- clock restarts */

/*
 * The clock starts running (SET cleared, or the divider released with SET
 * clear).  MC146818A: once UIP reads 0 no update starts for at least
 * tBUC, so the first update is the first whose UIP would rise at or after
 * now.  QEMU simply continues at the next second boundary.
 */
static void start_clock(struct dm_rtc *r, uint64_t now)
{
	if (is_qemu(r))
		r->upd_done = completed(r, now);
	else
		r->upd_done = (div_x(r, now) + T_BUC_NS + NS - 1) / NS - 1;
}

/*
 * Leaving divider reset: "the first update cycle begins one-half second
 * later" (MC146818A, Register A).  QEMU does this only when leaving DV 11x
 * with SET clear (its rtc_set_time path); otherwise its phase runs on.
 */
static void release_divider(struct dm_rtc *r, uint64_t now, uint8_t old_a)
{
	if (is_qemu(r)) {
		if ((old_a & 0x60) != 0x60 || (r->reg_b & B_SET))
			return;
		r->q_offset = RELEASE_PHASE_NS;
	}
	r->div_t0 = now;
	r->div_phase = RELEASE_PHASE_NS;
}

/*
 * QEMU's periodic_timer_update() after a change of PIE or RS: the first
 * tick comes one period after now, less the time since the last tick when
 * a running rate changes (capped at one period: the "discard" lost-tick
 * policy).  A tick that is already due fires at once, as QEMU's expired
 * timer would.
 */
static void qemu_periodic_update(struct dm_rtc *r, uint64_t now, uint32_t old_p)
{
	uint32_t p = qemu_period(r);
	uint64_t cur = dm_muldiv64(now, DIV_HZ, NS), lost = 0;

	if (!p) {
		r->qp_armed = false;
		return;
	}
	if (old_p) {
		uint64_t last = r->qp_next - old_p;

		lost = min_u64(cur > last ? cur - last : 0, p);
	}
	r->qp_next = cur + p - lost;
	r->qp_armed = true;
	fold(r, now);
}

/* ---- register writes */

/*
 * Time bytes take effect at once.  The datasheet's divider is untouched,
 * so the next update comes at the usual boundary and increments the value
 * written.  QEMU's rtc_set_time() restarts the second: the next update is
 * 1 s - q_offset after the write.
 */
static void write_time(struct dm_rtc *r, uint64_t now, uint8_t *byte, uint8_t v)
{
	fold(r, now);
	*byte = v;
	if (is_qemu(r) && clock_running(r)) {
		r->div_t0 = now;
		r->div_phase = r->q_offset;
		r->upd_done = 0;
	}
	settle(r, now);
}

static void write_alarm(struct dm_rtc *r, uint64_t now, unsigned idx, uint8_t v)
{
	fold(r, now);
	r->clock[idx] = v;
	settle(r, now);
}

/* Register A: UIP is read-only.  A change of time base that shortens tUC
 * under an update in progress completes that update now (second fold). */
static void write_a(struct dm_rtc *r, uint64_t now, uint8_t v)
{
	bool was_div = div_running(r), was_clock = clock_running(r);
	uint32_t old_qp = qemu_period(r);
	uint8_t old = r->reg_a;

	fold(r, now);
	r->reg_a = v & ~A_UIP;
	if (!was_div && div_running(r))
		release_divider(r, now, old);
	if (!was_clock && clock_running(r))
		start_clock(r, now);
	fold(r, now);
	if (is_qemu(r) && ((old ^ r->reg_a) & A_RS))
		qemu_periodic_update(r, now, old_qp);
	settle(r, now);
}

/*
 * Register B.  SET stops updates (the fold froze the clock) and clears
 * UIE: "UIE is cleared ... when the SET bit goes high" (MC146818A; QEMU
 * clears it on every write with SET).  Changing DM or 24/12 does not
 * convert the bytes: the chip reinterprets them, and so does the model.
 * IRQF follows the new enables at once, which is also QEMU's rule.
 */
static void write_b(struct dm_rtc *r, uint64_t now, uint8_t v)
{
	bool was_clock = clock_running(r);
	uint32_t old_qp = qemu_period(r);
	uint8_t old = r->reg_b;

	fold(r, now);
	if (v & B_SET)
		v &= (uint8_t)~B_UIE;
	r->reg_b = v;
	if (!was_clock && clock_running(r)) {
		/* QEMU keeps the sub-second phase as its offset. */
		if (is_qemu(r))
			r->q_offset = (uint32_t)(div_x(r, now) % NS);
		start_clock(r, now);
	}
	if (is_qemu(r) && ((old ^ v) & B_PIE))
		qemu_periodic_update(r, now, old_qp);
	settle(r, now);
}

static bool is_time_index(unsigned idx)
{
	return idx <= R_YEAR && idx != R_SEC_ALARM && idx != R_MIN_ALARM &&
	       idx != R_HOUR_ALARM;
}

/* QEMU keeps the century in the clock and aliases 0x37 to it, moving the
 * index there (cmos_ioport_read/write). */
static unsigned qemu_alias(struct dm_rtc *r, unsigned idx)
{
	if (is_qemu(r) && idx == R_PS2_CENTURY) {
		r->index = R_CENTURY;
		return R_CENTURY;
	}
	return idx;
}

static void write_data(struct dm_rtc *r, uint64_t now, unsigned idx, uint8_t v)
{
	idx = qemu_alias(r, idx);
	if (is_time_index(idx))
		write_time(r, now, &r->clock[idx], v);
	else if (idx <= R_HOUR_ALARM)
		write_alarm(r, now, idx, v);
	else if (idx == R_A)
		write_a(r, now, v);
	else if (idx == R_B)
		write_b(r, now, v);
	else if (is_qemu(r) && idx == R_CENTURY)
		write_time(r, now, century_byte(r), v);
	else if (idx >= DM_RTC_RAM_FIRST)
		r->ram[idx - DM_RTC_RAM_FIRST] = v;
	/* Registers C and D are read-only; writes are ignored. */
}

/* ---- register reads */

/* The time bytes and century at now, without disturbing the state. */
static void clock_at(const struct dm_rtc *r, uint64_t now, uint8_t *clk,
		     uint8_t *century)
{
	uint64_t n = updates_since(r, now);
	struct pos p;

	for (unsigned i = 0; i < sizeof(r->clock); i++)
		clk[i] = r->clock[i];
	*century = r->ram[R_CENTURY - DM_RTC_RAM_FIRST];
	if (!clock_running(r) || (!n && !is_qemu(r)))
		return;
	p = stored_pos(r);
	advance(r, &p, n);
	encode_pos(r, &p, clk, century);
}

/* Register C: reading returns the flags and clears them, lowering IRQ8. */
static uint8_t read_c(struct dm_rtc *r, uint64_t now)
{
	uint8_t v;

	fold(r, now);
	v = r->flags | (irqf(r) ? C_IRQF : 0);
	r->flags = 0;
	/* QEMU re-arms its update timer for the next boundary when the read
	 * cleared UF or AF: the boundaries before are no longer awaited. */
	if (r->loop_off && (v & (C_UF | C_AF)))
		r->hold_from = now;
	settle(r, now);
	return v;
}

static uint8_t read_data(struct dm_rtc *r, uint64_t now, unsigned idx)
{
	uint8_t clk[sizeof(r->clock)], century;

	idx = qemu_alias(r, idx);
	if (is_time_index(idx) || (is_qemu(r) && idx == R_CENTURY)) {
		clock_at(r, now, clk, &century);
		return idx == R_CENTURY ? century : clk[idx];
	}
	switch (idx) {
	case R_SEC_ALARM:
	case R_MIN_ALARM:
	case R_HOUR_ALARM:
		return r->clock[idx];
	case R_A:
		return (uint8_t)(r->reg_a | (uip(r, now) ? A_UIP : 0));
	case R_B:
		return r->reg_b;
	case R_C:
		return read_c(r, now);
	case R_D:
		/* VRT: the battery is never modelled as failing. */
		return D_VRT;
	default:
		return r->ram[idx - DM_RTC_RAM_FIRST];
	}
}

/*
 * Port 0x70 is write-only on PIIX4 and ICH; the model reads back the
 * latch (NMI mask and index) so a trace shows it.  QEMU reads 0xff, drops
 * the NMI bit and has no upper bank at 0x72/0x73 (reads 0xff there).
 */
static uint8_t read_port(struct dm_rtc *r, uint64_t now, uint64_t off)
{
	bool q = is_qemu(r);

	switch (off) {
	case 0:
		return q ? 0xff : (uint8_t)(r->nmi_masked << 7 | r->index);
	case 1:
		return read_data(r, now, r->index);
	case 2:
		return q ? 0xff : r->xindex;
	case 3:
		return q ? 0xff : r->ram[0x80 + r->xindex - DM_RTC_RAM_FIRST];
	default:
		return 0xff;
	}
}

static void write_port(struct dm_rtc *r, uint64_t now, uint64_t off, uint8_t v)
{
	bool q = is_qemu(r);

	switch (off) {
	case 0:
		r->index = v & 0x7f;
		if (!q)
			r->nmi_masked = v & 0x80;
		break;
	case 1:
		write_data(r, now, r->index, v);
		break;
	case 2:
		if (!q)
			r->xindex = v & 0x7f;
		break;
	case 3:
		if (!q)
			r->ram[0x80 + r->xindex - DM_RTC_RAM_FIRST] = v;
		break;
	default:
		break;
	}
}

/* A 16- or 32-bit access is a run of byte accesses to successive ports,
 * as the ISA bus performs it; bytes past 0x73 read 0xff. */
uint64_t dm_rtc_read(void *opaque, uint64_t now, uint64_t offset, unsigned size)
{
	struct dm_rtc *r = opaque;
	uint64_t v = 0;

	for (unsigned i = 0; i < size && i < 8; i++)
		v |= (uint64_t)read_port(r, now, offset + i) << (8 * i);
	return v;
}

void dm_rtc_write(void *opaque, uint64_t now, uint64_t offset, unsigned size,
		  uint64_t value)
{
	struct dm_rtc *r = opaque;

	for (unsigned i = 0; i < size && i < 8; i++)
		write_port(r, now, offset + i, (uint8_t)(value >> (8 * i)));
}

bool dm_rtc_nmi_masked(const struct dm_rtc *r)
{
	return r->nmi_masked;
}

/* ---- life cycle */

void dm_rtc_init(struct dm_rtc *r, const struct dm_config *cfg,
		 struct dm_eventq *q, const struct dm_irq_line *irq)
{
	uint64_t day = cfg->rtc_epoch / SEC_PER_DAY + DAY_1970;
	struct pos p = {
		.day = day,
		.sod = (uint32_t)(cfg->rtc_epoch % SEC_PER_DAY),
		.dow = weekday(day),
	};

	*r = (struct dm_rtc){
		.reg_a = 0x26,
		.reg_b = B_24H,
		.div_phase = cfg->rtc_epoch_ns,
		.flavor = cfg->rtc_flavor,
		.pf_trace = cfg->rtc_pf_trace,
		.uf_trace = cfg->rtc_uf_trace,
	};
	if (irq)
		r->irq = *irq;
	dm_timer_init(&r->timer, q, rtc_fired, r);
	encode_pos(r, &p, r->clock, century_byte(r));
}

/*
 * MC146818A RESET: clears PIE, AIE, UIE, SQWE and Register C; the time,
 * DV, RS, SET, DM, 24/12 and DSE are unaffected.  QEMU (rtc_reset_enter)
 * keeps UIE, clears CMOS byte 0x0f unless it holds 0xfe (S3 resume), and
 * leaves its periodic timer armed, so one more PF sets at its next tick.
 */
void dm_rtc_reset(struct dm_rtc *r, uint64_t now)
{
	fold(r, now);
	if (is_qemu(r)) {
		r->reg_b &= (uint8_t) ~(B_PIE | B_AIE | B_SQWE);
		if (r->ram[R_SHUTDOWN - DM_RTC_RAM_FIRST] != 0xfe)
			r->ram[R_SHUTDOWN - DM_RTC_RAM_FIRST] = 0;
	} else {
		r->reg_b &= (uint8_t) ~(B_PIE | B_AIE | B_UIE | B_SQWE);
	}
	r->flags = 0;
	settle(r, now);
}

/* ---- state */

static int validate_timing(const struct dm_rtc *r, struct dm_error *err)
{
	uint64_t k = completed(r, r->base_ns);

	if (r->div_t0 > r->base_ns)
		return dm_errorf(
			err, "div_t0: %" PRIu64 " is after base_ns %" PRIu64,
			r->div_t0, r->base_ns);
	/* At power-on the divider has run on the battery, at any phase
	 * (rtc_epoch_ns); restarted, it begins at 0 or 500 ms. */
	if (!is_qemu(r) && r->div_t0 && r->div_phase != 0 &&
	    r->div_phase != RELEASE_PHASE_NS)
		return dm_errorf(err,
				 "div_phase: %u ns; the divider only starts "
				 "at phase 0 or 500 ms",
				 r->div_phase);
	if (clock_running(r) &&
	    (r->upd_done < k || r->upd_done > k + !is_qemu(r)))
		return dm_errorf(err,
				 "upd_done: update %" PRIu64 " but %" PRIu64
				 " have completed at base_ns",
				 r->upd_done, k);
	return 0;
}

static int validate_flavor(const struct dm_rtc *r, struct dm_error *err)
{
	if (!is_qemu(r)) {
		if (r->qp_armed || r->qp_next || r->q_offset)
			return dm_errorf(err,
					 "qp_armed: qemu periodic state in "
					 "the datasheet flavour");
		if (r->loop_off)
			return dm_errorf(err, "loop_off: a held update in the "
					      "datasheet flavour");
		return 0;
	}
	if (r->dse_fb || r->nmi_masked || r->xindex)
		return dm_errorf(err, "dse_fb: DSE, NMI or upper-bank state in "
				      "the qemu flavour");
	if (qemu_period(r) && !r->qp_armed)
		return dm_errorf(err,
				 "qp_armed: clear while PIE and RS select a "
				 "rate");
	if (r->loop_off && r->hold_from > r->base_ns)
		return dm_errorf(
			err, "hold_from: %" PRIu64 " is after base_ns %" PRIu64,
			r->hold_from, r->base_ns);
	if (r->qp_armed && qtick_ns(r->qp_next) <= r->base_ns)
		return dm_errorf(err,
				 "qp_next: tick %" PRIu64
				 " is not after base_ns %" PRIu64,
				 r->qp_next, r->base_ns);
	return 0;
}

static int rtc_validate(const void *state, struct dm_error *err)
{
	const struct dm_rtc *r = state;
	uint64_t want;

	if (r->flags & ~C_FLAGS)
		return dm_errorf(err, "flags: 0x%x is not PF, AF, UF",
				 r->flags);
	if ((r->reg_b & B_SET) && (r->reg_b & B_UIE))
		return dm_errorf(err, "reg_b: 0x%x sets UIE with SET",
				 r->reg_b);
	if (validate_timing(r, err) || validate_flavor(r, err))
		return -1;
	if (r->irq_level != irqf(r))
		return dm_errorf(err, "irq_level: %d but IRQF is %d",
				 r->irq_level, irqf(r));
	want = next_rise(r);
	if (r->timer.when != want)
		return dm_errorf(err,
				 "timer: deadline %" PRIu64
				 ", the state implies %" PRIu64,
				 r->timer.when, want);
	return 0;
}

static const struct dm_field rtc_fields[] = {
	DM_U8(struct dm_rtc, index, 1, 0x7f),
	DM_BOOL(struct dm_rtc, nmi_masked, 2),
	DM_U8(struct dm_rtc, xindex, 3, 0x7f),
	DM_ARRAY(DM_FT_U8, struct dm_rtc, clock, 4, UINT8_MAX, DM_FF_HEX),
	DM_SCALAR(DM_FT_U8, struct dm_rtc, reg_a, 5, 0x7f, DM_FF_HEX),
	DM_X8(struct dm_rtc, reg_b, 6),
	DM_SCALAR(DM_FT_U8, struct dm_rtc, flags, 7, C_FLAGS, DM_FF_HEX),
	DM_BOOL(struct dm_rtc, irq_level, 8),
	DM_ARRAY(DM_FT_U8, struct dm_rtc, ram, 9, UINT8_MAX, DM_FF_HEX),
	DM_U64(struct dm_rtc, base_ns, 10, UINT64_MAX),
	DM_U64(struct dm_rtc, div_t0, 11, UINT64_MAX),
	DM_U32(struct dm_rtc, div_phase, 12, NS - 1),
	DM_U64(struct dm_rtc, upd_done, 13, UPD_MAX),
	DM_BOOL(struct dm_rtc, dse_fb, 14),
	DM_U32(struct dm_rtc, q_offset, 15, NS - 1),
	DM_U64(struct dm_rtc, qp_next, 16, QP_MAX),
	DM_BOOL(struct dm_rtc, qp_armed, 17),
	DM_TIMER(struct dm_rtc, timer, 18),
	DM_BOOL(struct dm_rtc, loop_off, 19),
	DM_U64(struct dm_rtc, hold_from, 20, UINT64_MAX),
};

const struct dm_state_desc dm_rtc_state_desc = DM_STATE_DESC(
	"rtc", 2, struct dm_rtc, rtc_fields, .validate = rtc_validate);
