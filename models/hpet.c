// SPDX-License-Identifier: MIT
/*
 * IA-PC HPET 1.0a ("[HW]" below cites its sections) and QEMU's
 * hw/timer/hpet.c ("QEMU"), as described in docs/devices/hpet.md.
 *
 * Time: the counter ticks every period_fs femtoseconds.  Tick k (counted
 * from base_ns, the time the counter last started or was loaded) falls on
 * the first nanosecond t with floor((t - base_ns) * 10^6 / period_fs) >= k.
 * Every timer keeps match_k, the tick of its next comparator match, so its
 * comparator and its interrupts are functions of time: an event is armed
 * only for a match with a visible effect, and sync_timer() accounts for
 * the matches that had none, however many.
 */
#include "models/hpet.h"

#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include "sim/clock.h"

typedef unsigned __int128 u128;

#define FS_PER_NS 1000000ULL
#define NO_TICK UINT64_MAX

/* Register offsets ([HW] 2.3.1); timer registers relative to their block. */
#define R_GCAP 0x000
#define R_GEN_CONF 0x010
#define R_GINTR_STA 0x020
#define R_MAIN_CNT 0x0f0
#define R_TIMER0 0x100
#define TIMER_STRIDE 0x20
#define T_CONF 0x00
#define T_CMP 0x08
#define T_FSB 0x10

/* The 1 KiB block holds timers 0-23 ([HW] 2.1.1, 2.3.1). */
#define BLOCK_LEN 0x400

/* GCAP_ID low half: REV_ID 1, COUNT_SIZE_CAP, LEG_RT_CAP, vendor 8086h. */
#define GCAP_LOW 0x8086a001u
#define GCAP_NUM_TIM_SHIFT 8

#define GEN_ENABLE 0x1
#define GEN_LEGACY 0x2
#define GEN_WRITABLE 0x3

#define TN_LEVEL 0x0002
#define TN_INT_ENB 0x0004
#define TN_PERIODIC 0x0008
#define TN_PER_CAP 0x0010
#define TN_SIZE_CAP 0x0020
#define TN_VAL_SET 0x0040
#define TN_32MODE 0x0100
#define TN_ROUTE_SHIFT 9
#define TN_ROUTE 0x3e00
#define TN_FSB_EN 0x4000
#define TN_FSB_CAP 0x8000
#define TN_WRITABLE 0x7f4e

/* A level output's destination: an IOAPIC pin, or ISA_PIN + ISA IRQ. */
#define NO_PIN (-1)
#define ISA_PIN 32

static bool is_qemu(const struct dm_hpet *s)
{
	return s->flavor == DM_HPET_QEMU;
}

static bool running(const struct dm_hpet *s)
{
	return s->gen_conf & GEN_ENABLE;
}

/*
 * Slots with registers and behaviour.  QEMU checks a timer index with
 * "> num_timers", so timer N (one past the last) answers too: a timer that
 * reset, ENABLE_CNF and GINTR_STA writes never touch.
 */
static bool slot_live(const struct dm_hpet *s, unsigned i)
{
	return i < s->ntimers ||
	       (is_qemu(s) && i == s->ntimers && i < DM_HPET_MAX_TIMERS);
}

size_t dm_hpet_live_bytes(const struct dm_hpet *s)
{
	unsigned n = 0;

	while (n < DM_HPET_MAX_TIMERS && slot_live(s, n))
		n++;
	return offsetof(struct dm_hpet, timer) + n * sizeof(s->timer[0]);
}

static bool is_ghost(const struct dm_hpet *s, unsigned i)
{
	return i >= s->ntimers;
}

static uint64_t merge(uint64_t old, uint64_t v, uint64_t mask)
{
	return (old & ~mask) | (v & mask);
}

/* ---- counter time ---- */

/* Ticks completed since base_ns at now (0 while halted). */
static uint64_t tick_at(const struct dm_hpet *s, uint64_t now)
{
	if (!running(s) || now <= s->base_ns)
		return 0;
	return dm_muldiv64(now - s->base_ns, FS_PER_NS, s->period_fs);
}

static uint64_t counter_at(const struct dm_hpet *s, uint64_t now)
{
	return s->count + tick_at(s, now);
}

/* The nanosecond of tick k (DM_TIME_NEVER beyond virtual time). */
static uint64_t tick_time(const struct dm_hpet *s, uint64_t k)
{
	uint64_t d;

	if (k == NO_TICK)
		return DM_TIME_NEVER;
	d = dm_muldiv64_ceil(k, s->period_fs, FS_PER_NS);
	if (d >= DM_TIME_NEVER - s->base_ns)
		return DM_TIME_NEVER;
	return s->base_ns + d;
}

static uint64_t tick_add(uint64_t k, u128 n)
{
	u128 r = (u128)k + n;

	return r >= NO_TICK ? NO_TICK : (uint64_t)r;
}

/* ---- timer width ---- */

/* A 32-bit mode timer compares the counter's low half only ([HW] 2.3.8). */
static uint64_t wmask(const struct dm_hpet_timer *t)
{
	return t->conf & TN_32MODE ? UINT32_MAX : UINT64_MAX;
}

static u128 wspan(const struct dm_hpet_timer *t)
{
	return (u128)wmask(t) + 1;
}

/* Ticks until the counter, now at from, next shows target: 1 .. 2^W. */
static u128 ticks_until(const struct dm_hpet_timer *t, uint64_t target,
			uint64_t from)
{
	uint64_t d = (target - from) & wmask(t);

	return d ? d : wspan(t);
}

static bool periodic(const struct dm_hpet_timer *t)
{
	return t->conf & TN_PERIODIC;
}

static bool oneshot32(const struct dm_hpet_timer *t)
{
	return (t->conf & TN_32MODE) && !periodic(t);
}

/* Interrupts held on a line until GINTR_STA is cleared ([HW] 2.3.6). */
static bool level_line(const struct dm_hpet_timer *t)
{
	return (t->conf & TN_LEVEL) && !(t->conf & TN_FSB_EN);
}

/* ---- datasheet comparators ([HW] 2.3.9) ---- */

/* Ticks between matches: the increment, or a full wrap when none. */
static u128 ds_step(const struct dm_hpet_timer *t)
{
	uint64_t inc = t->inc & wmask(t);

	return periodic(t) && inc ? inc : wspan(t);
}

/* Counts the matches up to tick k: a periodic comparator adds its
 * increment at each; a one-shot one keeps its value. */
static void ds_sync(struct dm_hpet_timer *t, uint64_t k)
{
	u128 step, n;

	if (t->match_k == NO_TICK || t->match_k > k)
		return;
	step = ds_step(t);
	n = (k - t->match_k) / step + 1;
	if (periodic(t))
		t->cmp = (t->cmp + (uint64_t)n * t->inc) & wmask(t);
	t->match_k = tick_add(t->match_k, n * step);
}

/* The counter matches only when it steps onto the comparator: a value it
 * already shows or passed matches after the next wrap ([HW] 2.3.9.2.1). */
static void ds_aim(const struct dm_hpet *s, struct dm_hpet_timer *t, uint64_t k)
{
	t->match_k = running(s)
			     ? tick_add(k, ticks_until(t, t->cmp, s->count + k))
			     : NO_TICK;
}

/* A 32-bit one-shot timer also fires when the counter's low half wraps
 * to 0 ([HW] 2.3.9.2.1). */
static uint64_t ds_next_wrap(const struct dm_hpet *s, uint64_t k)
{
	uint32_t d = (uint32_t)(0 - (s->count + k));

	return tick_add(k, d ? (u128)d : (u128)1 << 32);
}

/* ---- qemu comparators (QEMU hpet_set_timer, hpet_timer) ---- */

/* QEMU masks the increment to 63 bits (31 in 32-bit mode) so its signed
 * comparisons hold; dmsim applies the mask to both halves. */
static uint64_t qm_period(const struct dm_hpet_timer *t)
{
	if (t->conf & TN_32MODE)
		return (uint32_t)t->inc & INT32_MAX;
	return t->inc & INT64_MAX;
}

/* hpet_calculate_diff: ticks to the comparator, or 1 when it is not
 * ahead by a positive signed W-bit distance. */
static uint64_t qm_diff(const struct dm_hpet_timer *t, uint64_t cur)
{
	uint64_t d = (t->cmp - cur) & wmask(t);

	if (t->conf & TN_32MODE)
		return (int32_t)(uint32_t)d > 0 ? d : 1;
	return (int64_t)d > 0 ? d : 1;
}

/*
 * hpet_set_timer at tick k.  A 32-bit one-shot stops first where QEMU
 * sees the wrap coming, with the low half at 0xFFFFFFFF; QEMU fires at
 * once when it is already there, dmsim one tick later.
 */
static void qm_set_timer(const struct dm_hpet *s, struct dm_hpet_timer *t,
			 uint64_t k)
{
	uint64_t cur = s->count + k;
	uint64_t diff = qm_diff(t, cur);

	t->wrap_next = false;
	if (oneshot32(t)) {
		uint32_t wrap = UINT32_MAX - (uint32_t)cur;

		if (wrap < (uint32_t)diff) {
			diff = wrap ? wrap : 1;
			t->wrap_next = true;
		}
	}
	t->match_k = tick_add(k, diff);
}

/*
 * Periodic catch-up: the comparator advances by whole periods until it is
 * ahead of the counter.  QEMU loops while it is strictly behind and relies
 * on its callback running late; dmsim runs the callback on the tick, so it
 * also advances a comparator equal to the counter, as QEMU does whenever
 * its callback runs a tick or more late.
 */
static void qm_catch_up(struct dm_hpet_timer *t, uint64_t cur, uint64_t p)
{
	uint64_t behind = (cur - t->cmp) & wmask(t);
	bool ahead = t->conf & TN_32MODE ? (int32_t)(uint32_t)behind < 0
					 : (int64_t)behind < 0;
	uint64_t n;

	if (ahead)
		return;
	n = behind / p + 1;
	t->cmp += n * p;
	if (t->conf & TN_32MODE)
		t->cmp = (uint32_t)t->cmp;
}

/* hpet_timer's bookkeeping for a callback at tick m (not its interrupt). */
static void qm_callback(const struct dm_hpet *s, struct dm_hpet_timer *t,
			uint64_t m)
{
	uint64_t cur = s->count + m;
	uint64_t p = qm_period(t);

	if (periodic(t) && p) {
		qm_catch_up(t, cur, p);
		t->match_k = tick_add(m, qm_diff(t, cur));
	} else if (oneshot32(t) && t->wrap_next) {
		t->wrap_next = false;
		t->match_k = tick_add(m, qm_diff(t, cur));
	} else {
		/* One-shot, or periodic with a zero period: done. */
		t->wrap_next = false;
		t->match_k = NO_TICK;
	}
}

/* Runs the callbacks due by tick k; a steady periodic run in one step. */
static void qm_sync(const struct dm_hpet *s, struct dm_hpet_timer *t,
		    uint64_t k)
{
	while (t->match_k <= k && t->match_k != NO_TICK) {
		uint64_t m = t->match_k;
		uint64_t p = qm_period(t);

		if (periodic(t) && p && !((s->count + m - t->cmp) & wmask(t))) {
			uint64_t n = (k - m) / p + 1;

			t->cmp += n * p;
			if (t->conf & TN_32MODE)
				t->cmp = (uint32_t)t->cmp;
			t->match_k = tick_add(m, (u128)n * p);
			return;
		}
		qm_callback(s, t, m);
	}
}

/* ---- both flavours ---- */

static void sync_timer(const struct dm_hpet *s, struct dm_hpet_timer *t,
		       uint64_t k)
{
	if (is_qemu(s))
		qm_sync(s, t, k);
	else
		ds_sync(t, k);
}

static uint32_t cap_route(const struct dm_hpet *s, unsigned i)
{
	return is_ghost(s, i) ? 0 : s->route_cap;
}

/* Where timer i's line interrupt goes ([HW] 2.4.2). */
static int line_pin(const struct dm_hpet *s, unsigned i)
{
	const struct dm_hpet_timer *t = &s->timer[i];
	unsigned route = (t->conf & TN_ROUTE) >> TN_ROUTE_SHIFT;

	if (t->conf & TN_FSB_EN)
		return NO_PIN;
	if ((s->gen_conf & GEN_LEGACY) && i < 2)
		return ISA_PIN + (i ? 8 : 0);
	/* [HW]: only the routes in the capability exist; the reset value 0
	 * may not be one of them.  QEMU drives whatever pin is named. */
	if (!is_qemu(s) && !(cap_route(s, i) & (1u << route)))
		return NO_PIN;
	return (int)route;
}

/* A level output is STA & INT_ENB & ENABLE_CNF ([HW] 2.3.5, 2.3.8). */
static void wanted_levels(const struct dm_hpet *s, uint32_t *io, uint16_t *isa)
{
	*io = 0;
	*isa = 0;
	if (!running(s))
		return;
	for (unsigned i = 0; i < DM_HPET_MAX_TIMERS; i++) {
		const struct dm_hpet_timer *t = &s->timer[i];
		int pin;

		if (!(s->isr & (1u << i)) || !(t->conf & TN_INT_ENB) ||
		    !level_line(t))
			continue;
		pin = line_pin(s, i);
		if (pin >= ISA_PIN)
			*isa |= (uint16_t)(1u << (pin - ISA_PIN));
		else if (pin >= 0)
			*io |= 1u << pin;
	}
}

static void drive_bank(const struct dm_irq_bank *bank, uint64_t now,
		       uint32_t old, uint32_t want, int level)
{
	uint32_t pins = (old ^ want) & (level ? want : old);

	for (unsigned pin = 0; pin < 32; pin++)
		if (pins & (1u << pin))
			dm_irq_bank_set(bank, now, pin, level);
}

/* Drives the changes between the levels driven and the levels wanted:
 * lowers first, so a route change never leaves two pins up. */
static void update_outputs(struct dm_hpet *s, uint64_t now)
{
	uint32_t old_io = s->ioapic_level, io;
	uint16_t old_isa = s->isa_level, isa;
	bool legacy = s->gen_conf & GEN_LEGACY;

	wanted_levels(s, &io, &isa);
	s->ioapic_level = io;
	s->isa_level = isa;
	drive_bank(&s->out.ioapic, now, old_io, io, 0);
	drive_bank(&s->out.isa, now, old_isa, isa, 0);
	if (legacy != s->legacy_level) {
		s->legacy_level = legacy;
		dm_irq_set(&s->out.legacy, now, legacy);
	}
	drive_bank(&s->out.isa, now, old_isa, isa, 1);
	drive_bank(&s->out.ioapic, now, old_io, io, 1);
}

/* An edge interrupt.  On a pin this device already holds high (a level
 * timer sharing it) there is no edge to make, so none is sent. */
static void pulse(struct dm_hpet *s, uint64_t now, int pin)
{
	if (pin >= ISA_PIN) {
		unsigned irq = (unsigned)(pin - ISA_PIN);

		if (s->isa_level & (1u << irq))
			return;
		dm_irq_bank_set(&s->out.isa, now, irq, 1);
		dm_irq_bank_set(&s->out.isa, now, irq, 0);
	} else if (pin >= 0) {
		if (s->ioapic_level & (1u << pin))
			return;
		dm_irq_bank_set(&s->out.ioapic, now, (unsigned)pin, 1);
		dm_irq_bank_set(&s->out.ioapic, now, (unsigned)pin, 0);
	}
}

/* FSB delivery: the route register's value written to its address, an
 * edge message whatever INT_TYPE says ([HW] 2.4.2.3). */
static void send_fsb(struct dm_hpet *s, uint64_t now,
		     const struct dm_hpet_timer *t)
{
	struct dm_apic_msg m = dm_msi_decode(t->fsb >> 32, (uint32_t)t->fsb);

	if (s->out.msi.deliver)
		s->out.msi.deliver(s->out.msi.opaque, now, &m);
}

/*
 * Whether the next match would change anything a guest can see.  Edge and
 * FSB interrupts need INT_ENB.  A level timer sets its status bit even
 * with INT_ENB = 0 ([HW] 2.3.8), but QEMU sets it only for enabled timers;
 * once set, further matches change nothing until it is cleared.
 */
static bool match_visible(const struct dm_hpet *s,
			  const struct dm_hpet_timer *t)
{
	bool held = level_line(t) && (s->isr & (1u << t->index));

	if (!running(s) || held)
		return false;
	/* An edge with no pin to drive (a route outside the capability)
	 * reaches nobody. */
	if (is_qemu(s) || !level_line(t))
		return (t->conf & TN_INT_ENB) &&
		       ((t->conf & TN_FSB_EN) ||
			line_pin(s, t->index) != NO_PIN);
	return true;
}

static uint64_t next_event_tick(const struct dm_hpet *s,
				const struct dm_hpet_timer *t, uint64_t k)
{
	uint64_t next = t->match_k;

	if (!match_visible(s, t))
		return NO_TICK;
	if (!is_qemu(s) && oneshot32(t)) {
		uint64_t wrap = ds_next_wrap(s, k);

		if (wrap < next)
			next = wrap;
	}
	return next;
}

/* Re-arms a timer that is synced to now. */
static void rearm(struct dm_hpet *s, struct dm_hpet_timer *t, uint64_t now)
{
	dm_timer_arm(&t->event,
		     tick_time(s, next_event_tick(s, t, tick_at(s, now))));
}

/* The event is armed only for a visible match or wrap, and every change
 * that could move it re-arms it, so its deadline is always one. */
static void timer_fire(void *opaque, uint64_t now)
{
	struct dm_hpet_timer *t = opaque;
	struct dm_hpet *s = t->hpet;
	uint32_t bit = 1u << t->index;

	sync_timer(s, t, tick_at(s, now));
	if (t->conf & TN_FSB_EN) {
		if (t->conf & TN_INT_ENB)
			send_fsb(s, now, t);
	} else if (t->conf & TN_LEVEL) {
		if (!is_qemu(s) || (t->conf & TN_INT_ENB))
			s->isr |= bit;
	} else if (t->conf & TN_INT_ENB) {
		pulse(s, now, line_pin(s, t->index));
	}
	rearm(s, t, now);
	update_outputs(s, now);
}

/* ---- registers ---- */

static uint64_t gcap(const struct dm_hpet *s)
{
	return (uint64_t)s->period_fs << 32 | GCAP_LOW |
	       (s->ntimers - 1) << GCAP_NUM_TIM_SHIFT;
}

static uint64_t timer_conf(const struct dm_hpet *s, unsigned i)
{
	uint64_t v = s->timer[i].conf;

	/* QEMU never resets the timer past the last one: no capabilities. */
	if (is_ghost(s, i))
		return v;
	v |= TN_PER_CAP | TN_SIZE_CAP;
	if (s->fsb_cap)
		v |= TN_FSB_CAP;
	return v | (uint64_t)s->route_cap << 32;
}

/* A periodic comparator reads as the next match ([HW] 2.3.9.2.3); reads
 * leave the state as it is. */
static uint64_t timer_cmp(const struct dm_hpet *s, unsigned i, uint64_t now)
{
	struct dm_hpet_timer t = s->timer[i];

	sync_timer(s, &t, tick_at(s, now));
	return t.cmp;
}

static uint64_t read_timer(const struct dm_hpet *s, uint64_t now, unsigned i,
			   unsigned reg)
{
	switch (reg) {
	case T_CONF:
		return timer_conf(s, i);
	case T_CMP:
		return timer_cmp(s, i, now);
	case T_FSB:
		return s->timer[i].fsb;
	default:
		return 0;
	}
}

/* Reserved registers, and the registers of absent timers, read 0. */
static uint64_t read_reg(const struct dm_hpet *s, uint64_t now, uint64_t off)
{
	unsigned i;

	if (off >= R_TIMER0) {
		i = (unsigned)((off - R_TIMER0) / TIMER_STRIDE);
		if (i >= DM_HPET_MAX_TIMERS || !slot_live(s, i))
			return 0;
		return read_timer(s, now, i,
				  (unsigned)((off - R_TIMER0) % TIMER_STRIDE));
	}
	switch (off) {
	case R_GCAP:
		return gcap(s);
	case R_GEN_CONF:
		return s->gen_conf;
	case R_GINTR_STA:
		return s->isr;
	case R_MAIN_CNT:
		return running(s) ? counter_at(s, now) : s->count;
	default:
		return 0;
	}
}

static void start_counter(struct dm_hpet *s, uint64_t now)
{
	s->gen_conf |= GEN_ENABLE;
	s->base_ns = now;
	for (unsigned i = 0; i < DM_HPET_MAX_TIMERS; i++) {
		struct dm_hpet_timer *t = &s->timer[i];

		if (!slot_live(s, i))
			continue;
		/* QEMU arms every timer whose comparator is not all-ones. */
		if (!is_qemu(s))
			ds_aim(s, t, 0);
		else if (!is_ghost(s, i) && t->cmp != UINT64_MAX)
			qm_set_timer(s, t, 0);
		rearm(s, t, now);
	}
}

/* [HW] 2.3.5: the counter halts and no timer interrupts.  Status bits
 * stay; QEMU clears them with the lines (hpet_del_timer). */
static void halt_counter(struct dm_hpet *s, uint64_t now)
{
	uint64_t k = tick_at(s, now);

	for (unsigned i = 0; i < DM_HPET_MAX_TIMERS; i++) {
		struct dm_hpet_timer *t = &s->timer[i];

		if (!slot_live(s, i))
			continue;
		sync_timer(s, t, k);
		t->match_k = NO_TICK;
		t->wrap_next = false;
		dm_timer_cancel(&t->event);
		if (is_qemu(s) && !is_ghost(s, i))
			s->isr &= ~(1u << i);
	}
	s->count += k;
	s->base_ns = 0;
	s->gen_conf &= (uint8_t)~GEN_ENABLE;
}

static void write_gen_conf(struct dm_hpet *s, uint64_t now, uint64_t v)
{
	uint8_t conf = (uint8_t)(v & GEN_WRITABLE);

	if ((conf ^ s->gen_conf) & GEN_ENABLE) {
		if (conf & GEN_ENABLE)
			start_counter(s, now);
		else
			halt_counter(s, now);
	}
	s->gen_conf = conf;
	update_outputs(s, now);
}

/* Write 1 to clear; a level timer becomes visible again.  QEMU clears only
 * the bits of timers below its timer count. */
static void write_isr(struct dm_hpet *s, uint64_t now, uint32_t v)
{
	uint64_t k = tick_at(s, now);

	for (unsigned i = 0; i < DM_HPET_MAX_TIMERS; i++) {
		struct dm_hpet_timer *t = &s->timer[i];

		if (!(v & s->isr & (1u << i)) || (is_qemu(s) && is_ghost(s, i)))
			continue;
		sync_timer(s, t, k);
		s->isr &= ~(1u << i);
		rearm(s, t, now);
	}
	update_outputs(s, now);
}

/*
 * [HW] 2.3.7 asks for writes only while halted and leaves the rest
 * undefined: dmsim loads the counter at once and each comparator waits
 * for its next match from the new value.  QEMU stores the value into its
 * halted-counter copy, which the next halt overwrites: the write is lost.
 */
static void write_counter(struct dm_hpet *s, uint64_t now, uint64_t v,
			  uint64_t mask)
{
	uint64_t k = tick_at(s, now);

	if (!running(s)) {
		s->count = merge(s->count, v, mask);
		return;
	}
	if (is_qemu(s))
		return;
	for (unsigned i = 0; i < s->ntimers; i++)
		sync_timer(s, &s->timer[i], k);
	s->count = merge(s->count + k, v, mask);
	s->base_ns = now;
	for (unsigned i = 0; i < s->ntimers; i++) {
		ds_aim(s, &s->timer[i], 0);
		rearm(s, &s->timer[i], now);
	}
}

/* [HW] 2.3.8: capability bits are read-only; FSB_EN needs FSB_INT_DEL_CAP
 * and a route outside INT_ROUTE_CAP does not take.  QEMU keeps every bit
 * of its write mask 0x7f4e. */
static uint16_t new_conf(const struct dm_hpet *s, unsigned i, uint16_t v)
{
	uint16_t old = s->timer[i].conf;
	uint16_t conf = v & TN_WRITABLE;
	unsigned route = (conf & TN_ROUTE) >> TN_ROUTE_SHIFT;

	if (is_qemu(s))
		return conf;
	if (!s->fsb_cap)
		conf &= (uint16_t)~TN_FSB_EN;
	if (!(s->route_cap & (1u << route)))
		conf = (uint16_t)((conf & ~TN_ROUTE) | (old & TN_ROUTE));
	return conf;
}

static void write_timer_conf(struct dm_hpet *s, uint64_t now, unsigned i,
			     uint64_t v, uint64_t mask)
{
	struct dm_hpet_timer *t = &s->timer[i];
	uint16_t old = t->conf;
	uint64_t k = tick_at(s, now);

	if (!(mask & TN_WRITABLE))
		return;
	sync_timer(s, t, k);
	t->conf = new_conf(s, i, (uint16_t)merge(old, v, mask));
	/* The upper halves become 0 in 32-bit mode ([HW] 2.4.7). */
	if (t->conf & TN_32MODE) {
		t->cmp = (uint32_t)t->cmp;
		t->inc = (uint32_t)t->inc;
	}
	/* The status bit belongs to level line interrupts; leaving that mode
	 * clears it (newer QEMU too; the version modelled kept the line). */
	if (!level_line(t))
		s->isr &= ~(1u << i);
	if (!is_qemu(s)) {
		ds_aim(s, t, k);
	} else if (!(old & TN_INT_ENB) && (t->conf & TN_INT_ENB)) {
		if (running(s))
			qm_set_timer(s, t, k);
	} else if ((old & TN_INT_ENB) && !(t->conf & TN_INT_ENB)) {
		/* hpet_del_timer: stopped, status cleared (unlike [HW]). */
		t->match_k = NO_TICK;
		t->wrap_next = false;
		s->isr &= ~(1u << i);
	}
	rearm(s, t, now);
	update_outputs(s, now);
}

/*
 * [HW] 2.3.9: a one-shot comparator takes the value.  A periodic one adds
 * "the last value written" at its next match; VAL_SET lets one write set
 * the comparator itself, and that value is the last written too.
 */
static void ds_write_cmp(struct dm_hpet_timer *t, uint64_t v, uint64_t mask)
{
	if (t->conf & TN_32MODE)
		mask &= UINT32_MAX;
	if (!periodic(t) || (t->conf & TN_VAL_SET))
		t->cmp = merge(t->cmp, v, mask);
	t->inc = merge(t->inc, v, mask);
}

/*
 * QEMU, one 32-bit half at a time: the comparator takes the value when
 * one-shot or with VAL_SET; a periodic timer's low-half write also sets
 * the period, its high-half write only without VAL_SET.  32-bit mode
 * does not stop high-half comparator writes.
 */
static void qm_write_cmp(struct dm_hpet_timer *t, uint64_t v, bool high)
{
	uint64_t half = high ? 0xffffffff00000000ULL : UINT32_MAX;
	uint64_t val = (uint32_t)(high ? v >> 32 : v);
	uint64_t per = t->conf & TN_32MODE ? INT32_MAX : UINT32_MAX;
	bool set_cmp = !periodic(t) || (t->conf & TN_VAL_SET);
	int shift = high ? 32 : 0;

	if (set_cmp)
		t->cmp = merge(t->cmp, val << shift, half);
	if (periodic(t) && (!high || !set_cmp))
		t->inc = merge(t->inc, (val & per) << shift, half);
}

static void write_timer_cmp(struct dm_hpet *s, uint64_t now, unsigned i,
			    uint64_t v, uint64_t mask)
{
	struct dm_hpet_timer *t = &s->timer[i];
	uint64_t k = tick_at(s, now);

	sync_timer(s, t, k);
	if (!is_qemu(s)) {
		ds_write_cmp(t, v, mask);
	} else if (mask & UINT32_MAX) {
		qm_write_cmp(t, v, false);
	} else {
		qm_write_cmp(t, v, true);
	}
	/* VAL_SET clears itself after one comparator write ([HW] 2.3.8). */
	t->conf &= (uint16_t)~TN_VAL_SET;
	if (!is_qemu(s))
		ds_aim(s, t, k);
	else if (running(s))
		qm_set_timer(s, t, k);
	rearm(s, t, now);
	update_outputs(s, now);
}

static void write_timer(struct dm_hpet *s, uint64_t now, unsigned i,
			unsigned reg, uint64_t v, uint64_t mask)
{
	switch (reg) {
	case T_CONF:
		write_timer_conf(s, now, i, v, mask);
		break;
	case T_CMP:
		write_timer_cmp(s, now, i, v, mask);
		break;
	case T_FSB:
		s->timer[i].fsb = merge(s->timer[i].fsb, v, mask);
		break;
	default:
		break;
	}
}

/* Writes to read-only and reserved registers, and to absent timers, do
 * nothing. */
static void write_reg(struct dm_hpet *s, uint64_t now, uint64_t off, uint64_t v,
		      uint64_t mask)
{
	unsigned i;

	if (off >= R_TIMER0) {
		i = (unsigned)((off - R_TIMER0) / TIMER_STRIDE);
		if (i < DM_HPET_MAX_TIMERS && slot_live(s, i))
			write_timer(s, now, i,
				    (unsigned)((off - R_TIMER0) % TIMER_STRIDE),
				    v, mask);
		return;
	}
	switch (off) {
	case R_GEN_CONF:
		write_gen_conf(s, now, merge(s->gen_conf, v, mask));
		break;
	case R_GINTR_STA:
		write_isr(s, now, (uint32_t)(v & mask));
		break;
	case R_MAIN_CNT:
		write_counter(s, now, v, mask);
		break;
	default:
		break;
	}
}

/* ---- accesses ---- */

uint64_t dm_hpet_mmio_len(const struct dm_hpet *s)
{
	uint64_t need = R_TIMER0 + (uint64_t)s->ntimers * TIMER_STRIDE;

	if (is_qemu(s) || need < BLOCK_LEN)
		return BLOCK_LEN;
	return need;
}

/*
 * QEMU's memory core splits an access into pieces no wider than 4 bytes
 * and no wider than the address alignment; the HPET accepts only 4-byte
 * pieces, so the others read 0 and drop their writes.  An 8-byte access
 * becomes two 4-byte ones, low half first.  Returns the piece's length,
 * 0 when it is not a 4-byte piece inside the block.
 */
static unsigned qm_piece(uint64_t addr, unsigned len, unsigned *step)
{
	unsigned max = 4;
	uint64_t align = addr & (~addr + 1);

	if (align && align < max)
		max = (unsigned)align;
	if (len > max)
		len = max;
	*step = len >= 4 ? 4 : len >= 2 ? 2 : 1;
	return *step == 4 && addr < BLOCK_LEN ? 4 : 0;
}

/*
 * [HW] 2.3.2: naturally aligned 4- and 8-byte accesses.  dmsim also reads
 * naturally aligned bytes and words of a register, which have no side
 * effects, and ignores narrower writes, which have no meaning for these
 * registers; any other access reads 0 and writes nothing.
 */
static bool ds_access_ok(const struct dm_hpet *s, uint64_t off, unsigned size)
{
	return (size == 1 || size == 2 || size == 4 || size == 8) &&
	       !(off & (size - 1)) && off < dm_hpet_mmio_len(s);
}

static uint64_t qm_read(const struct dm_hpet *s, uint64_t now, uint64_t off,
			unsigned size)
{
	uint64_t v = 0;

	for (unsigned done = 0, step; done < size; done += step) {
		uint64_t addr = off + done;

		if (qm_piece(addr, size - done, &step))
			v |= (uint64_t)(uint32_t)(read_reg(s, now,
							   addr & ~7ULL) >>
						  (8 * (addr & 4)))
			     << (8 * done);
	}
	return v;
}

static void qm_write(struct dm_hpet *s, uint64_t now, uint64_t off,
		     unsigned size, uint64_t value)
{
	for (unsigned done = 0, step; done < size; done += step) {
		uint64_t addr = off + done;
		unsigned shift = 8 * (unsigned)(addr & 4);

		if (qm_piece(addr, size - done, &step))
			write_reg(s, now, addr & ~7ULL,
				  (uint64_t)(uint32_t)(value >> (8 * done))
					  << shift,
				  (uint64_t)UINT32_MAX << shift);
	}
}

uint64_t dm_hpet_read(void *opaque, uint64_t now, uint64_t offset,
		      unsigned size)
{
	const struct dm_hpet *s = opaque;
	uint64_t v;

	if (size > 8)
		return 0;
	if (is_qemu(s))
		return qm_read(s, now, offset, size);
	if (!ds_access_ok(s, offset, size))
		return 0;
	v = read_reg(s, now, offset & ~7ULL) >> (8 * (offset & 7));
	return size == 8 ? v : v & ((1ULL << (8 * size)) - 1);
}

void dm_hpet_write(void *opaque, uint64_t now, uint64_t offset, unsigned size,
		   uint64_t value)
{
	struct dm_hpet *s = opaque;
	unsigned shift = 8 * (unsigned)(offset & 4);

	if (size > 8)
		return;
	if (is_qemu(s))
		qm_write(s, now, offset, size, value);
	else if (ds_access_ok(s, offset, size) && size == 8)
		write_reg(s, now, offset, value, UINT64_MAX);
	else if (ds_access_ok(s, offset, size) && size == 4)
		write_reg(s, now, offset & ~7ULL, value << shift,
			  (uint64_t)UINT32_MAX << shift);
}

/* ---- life cycle ---- */

static void reset_timer(struct dm_hpet_timer *t)
{
	dm_timer_cancel(&t->event);
	t->conf = 0;
	t->cmp = UINT64_MAX; /* [HW] 2.3.9: all ones */
	t->inc = 0;
	t->fsb = 0;
	t->match_k = NO_TICK;
	t->wrap_next = false;
}

void dm_hpet_reset(struct dm_hpet *s, uint64_t now)
{
	for (unsigned i = 0; i < DM_HPET_MAX_TIMERS; i++) {
		struct dm_hpet_timer *t = &s->timer[i];

		if (i < s->ntimers) {
			reset_timer(t);
			s->isr &= ~(1u << i);
		} else if (slot_live(s, i)) {
			/* QEMU's extra timer keeps its registers; without a
			 * running counter it cannot stay armed. */
			t->match_k = NO_TICK;
			t->wrap_next = false;
			dm_timer_cancel(&t->event);
		}
	}
	s->gen_conf = 0;
	s->count = 0;
	s->base_ns = 0;
	update_outputs(s, now);
}

static uint32_t default_route_cap(const struct dm_config *cfg)
{
	/* QEMU: IRQ 2, 8 and 16-23 on q35, IRQ 2 alone on pc.  The datasheet
	 * pc block offers IRQ 2 and the eight pins 16-23 that every 24-pin
	 * IOAPIC has and i440FX leaves unused (PIIX steers PCI INTx to ISA
	 * IRQs), so a level timer can own a pin. */
	if (cfg->chipset == DM_CHIPSET_Q35)
		return 0x00ff0104;
	return cfg->hpet_flavor == DM_HPET_QEMU ? 0x4 : 0x00ff0004;
}

void dm_hpet_init(struct dm_hpet *s, const struct dm_config *cfg,
		  struct dm_eventq *q, const struct dm_hpet_outputs *out)
{
	uint64_t period = DM_NS_PER_SEC * FS_PER_NS / cfg->hpet_hz;

	memset(s, 0, sizeof(*s));
	s->out = *out;
	s->flavor = cfg->hpet_flavor;
	s->ntimers = cfg->hpet_timers;
	s->route_cap = cfg->hpet_route_cap ? cfg->hpet_route_cap
					   : default_route_cap(cfg);
	s->fsb_cap = cfg->hpet_fsb;
	/* GCAP_ID holds the period in 32 bits; hpet_hz <= 10^9 keeps it at
	 * 10^6 fs or more, so every tick is at least a nanosecond. */
	s->period_fs = period > UINT32_MAX ? UINT32_MAX : period;
	for (unsigned i = 0; i < DM_HPET_MAX_TIMERS; i++) {
		struct dm_hpet_timer *t = &s->timer[i];

		dm_timer_init(&t->event, q, timer_fire, t);
		t->hpet = s;
		t->index = i;
		t->match_k = NO_TICK;
	}
	dm_hpet_reset(s, 0);
}

/* ---- state ---- */

static bool slot_pristine(const struct dm_hpet_timer *t)
{
	return !t->conf && !t->cmp && !t->inc && !t->fsb &&
	       t->match_k == NO_TICK && !t->wrap_next &&
	       !dm_timer_pending(&t->event);
}

/* Rules of one timer alone; t->hpet is the live block (NULL when decoding
 * without one, and then only field ranges apply). */
static int timer_validate(const void *state, struct dm_error *err)
{
	const struct dm_hpet_timer *t = state;
	const struct dm_hpet *s = t->hpet;

	if (t->conf & ~TN_WRITABLE)
		return dm_errorf(err, "conf: 0x%x sets bits outside 0x%x",
				 t->conf, TN_WRITABLE);
	if (!s)
		return 0;
	if (!slot_live(s, t->index))
		return slot_pristine(t)
			       ? 0
			       : dm_errorf(err,
					   "the block has %u timers but this "
					   "one holds state",
					   s->ntimers);
	if (t->wrap_next &&
	    (!is_qemu(s) || !oneshot32(t) || t->match_k == NO_TICK))
		return dm_errorf(err, "wrap_next: set without an armed "
				      "32-bit one-shot (qemu) timer");
	if (is_qemu(s))
		return 0;
	if ((t->conf & TN_FSB_EN) && !s->fsb_cap)
		return dm_errorf(err, "conf: FSB_EN without FSB capability");
	if (((t->conf & TN_ROUTE) >> TN_ROUTE_SHIFT) &&
	    !(s->route_cap & (1u << ((t->conf & TN_ROUTE) >> TN_ROUTE_SHIFT))))
		return dm_errorf(err, "conf: route %u is not in 0x%08x",
				 (t->conf & TN_ROUTE) >> TN_ROUTE_SHIFT,
				 s->route_cap);
	if ((t->conf & TN_32MODE) &&
	    (t->cmp > UINT32_MAX || t->inc > UINT32_MAX))
		return dm_errorf(err,
				 "%s: 0x%" PRIx64 " exceeds 32 bits in "
				 "32-bit mode",
				 t->cmp > UINT32_MAX ? "cmp" : "inc",
				 t->cmp > UINT32_MAX ? t->cmp : t->inc);
	return 0;
}

static int isr_validate(const struct dm_hpet *s, struct dm_error *err)
{
	for (unsigned i = 0; i < DM_HPET_MAX_TIMERS; i++) {
		const struct dm_hpet_timer *t = &s->timer[i];

		if (!(s->isr & (1u << i)))
			continue;
		if (!slot_live(s, i) || !level_line(t))
			return dm_errorf(err,
					 "isr: bit %u set but timer%u "
					 "is no level line timer",
					 i, i);
		if (is_qemu(s) && !is_ghost(s, i) &&
		    (!running(s) || !(t->conf & TN_INT_ENB)))
			return dm_errorf(err,
					 "isr: bit %u set on a stopped "
					 "or disabled timer (qemu)",
					 i);
	}
	return 0;
}

/* The deadline must be the tick of the match (or datasheet 32-bit wrap)
 * that match_k and the counter say comes next. */
static int event_validate(const struct dm_hpet *s, unsigned i,
			  struct dm_error *err)
{
	const struct dm_hpet_timer *t = &s->timer[i];
	uint64_t when = t->event.when, k;
	bool wrap;

	if (when == DM_TIME_NEVER)
		return 0;
	k = running(s) && when >= s->base_ns
		    ? dm_muldiv64(when - s->base_ns, FS_PER_NS, s->period_fs)
		    : NO_TICK;
	wrap = !is_qemu(s) && oneshot32(t) && k < t->match_k &&
	       !(uint32_t)(s->count + k);
	if (k == NO_TICK || tick_time(s, k) != when ||
	    (k != t->match_k && !wrap))
		return dm_errorf(err,
				 "timer%u.event: deadline %" PRIu64
				 " is not the tick of its next match",
				 i, when);
	return 0;
}

static int timing_validate(const struct dm_hpet *s, unsigned i,
			   struct dm_error *err)
{
	const struct dm_hpet_timer *t = &s->timer[i];

	if (!running(s) && t->match_k != NO_TICK)
		return dm_errorf(err,
				 "timer%u.match_k: %" PRIu64
				 " while the counter is halted",
				 i, t->match_k);
	if (!is_qemu(s) && t->match_k != NO_TICK &&
	    ((s->count + t->match_k - t->cmp) & wmask(t)))
		return dm_errorf(err,
				 "timer%u.match_k: the counter does "
				 "not reach cmp at tick %" PRIu64,
				 i, t->match_k);
	return event_validate(s, i, err);
}

static int hpet_validate(const void *state, struct dm_error *err)
{
	const struct dm_hpet *s = state;

	if (!s->ntimers)
		return 0;
	if (!running(s) && s->base_ns)
		return dm_errorf(err, "base_ns: %" PRIu64 " while halted",
				 s->base_ns);
	if (isr_validate(s, err))
		return -1;
	for (unsigned i = 0; i < DM_HPET_MAX_TIMERS; i++)
		if (slot_live(s, i) && timing_validate(s, i, err))
			return -1;
	return 0;
}

static void hpet_post_load(void *state)
{
	struct dm_hpet *s = state;

	wanted_levels(s, &s->ioapic_level, &s->isa_level);
	s->legacy_level = s->gen_conf & GEN_LEGACY;
}

static const struct dm_field timer_fields[] = {
	DM_SCALAR(DM_FT_U16, struct dm_hpet_timer, conf, 1, TN_WRITABLE,
		  DM_FF_HEX),
	DM_X64(struct dm_hpet_timer, cmp, 2),
	DM_X64(struct dm_hpet_timer, inc, 3),
	DM_X64(struct dm_hpet_timer, fsb, 4),
	DM_U64(struct dm_hpet_timer, match_k, 5, UINT64_MAX),
	DM_BOOL(struct dm_hpet_timer, wrap_next, 6),
	DM_TIMER(struct dm_hpet_timer, event, 7),
};

static const struct dm_state_desc timer_desc =
	DM_STATE_DESC("timer", 1, struct dm_hpet_timer, timer_fields,
		      .validate = timer_validate);

static const struct dm_field hpet_fields[] = {
	DM_SCALAR(DM_FT_U8, struct dm_hpet, gen_conf, 1, GEN_WRITABLE,
		  DM_FF_HEX),
	DM_X32(struct dm_hpet, isr, 2),
	DM_X64(struct dm_hpet, count, 3),
	DM_U64(struct dm_hpet, base_ns, 4, UINT64_MAX),
	DM_STRUCTS(struct dm_hpet, timer, 5, timer_desc),
};

const struct dm_state_desc dm_hpet_state_desc =
	DM_STATE_DESC("hpet", 1, struct dm_hpet, hpet_fields,
		      .validate = hpet_validate, .post_load = hpet_post_load);
