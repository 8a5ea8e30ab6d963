// SPDX-License-Identifier: MIT
/*
 * Intel 8254 PIT.  References: Intel 82C54 datasheet (order 231244) for the
 * datasheet flavour; Linux arch/x86/kvm/i8254.c and QEMU hw/timer/i8254.c
 * for the kvm and qemu flavours (facts only).  SPEC-NOTES section 1.
 */
#include "models/pit.h"

#include <stddef.h>

#include "sim/clock.h"

#define NEVER UINT64_MAX

enum { RW_LSB = 1, RW_MSB = 2, RW_WORD = 3 };

/* Mode 6 and 7 are don't-care aliases of modes 2 and 3 (82C54 table 1). */
static unsigned op_mode(const struct dm_pit_channel *ch)
{
	return ch->mode >= 6 && ch->mode <= 7 ? ch->mode - 4u : ch->mode;
}

static bool is_datasheet(const struct dm_pit *pit)
{
	return pit->flavor == DM_PIT_DATASHEET;
}

static uint64_t tick_at(const struct dm_pit *pit, uint64_t now)
{
	return dm_clock_ticks(pit->hz, now);
}

/*
 * Counts live in "number space": binary counts are 1..65536, BCD counts
 * 1..10000 (a written 0 is the largest count, 82C54 "Counter Loading").
 * Invalid BCD digits are taken at their binary weight; the counter then
 * counts down through valid values.
 */
static uint32_t modulus(const struct dm_pit_channel *ch)
{
	return ch->bcd ? 10000 : 65536;
}

static uint32_t bcd_to_num(uint16_t v)
{
	return ((v >> 12) & 0xf) * 1000u + ((v >> 8) & 0xf) * 100u +
	       ((v >> 4) & 0xf) * 10u + (v & 0xf);
}

static uint16_t num_to_bcd(uint32_t v)
{
	v %= 10000;
	return (uint16_t)((v / 1000) << 12 | (v / 100 % 10) << 8 |
			  (v / 10 % 10) << 4 | (v % 10));
}

static uint32_t count_of_cr(const struct dm_pit_channel *ch)
{
	uint32_t n = ch->bcd ? bcd_to_num(ch->cr) : ch->cr;

	return n ? n : modulus(ch);
}

static uint16_t encode(const struct dm_pit_channel *ch, uint64_t v)
{
	return ch->bcd ? num_to_bcd((uint32_t)(v % 10000)) : (uint16_t)v;
}

/* ---- datasheet engine ------------------------------------------------ */

/* CLK edges counted by the current run at edge k. */
static uint64_t progress(const struct dm_pit_channel *ch, uint64_t k)
{
	if (!ch->counting || k <= ch->base_tick)
		return ch->base_e;
	return ch->base_e + (k - ch->base_tick);
}

/* Modes 1 and 5 count whatever the gate level; the others pause on low. */
static bool gate_enables(const struct dm_pit_channel *ch)
{
	unsigned m = op_mode(ch);

	return m == 1 || m == 5 || ch->gate;
}

static void promote(struct dm_pit_channel *ch)
{
	ch->phase = DM_PIT_RUNNING;
	ch->n = ch->pend_n;
	ch->base_tick = ch->pend_tick;
	ch->base_e = ch->pend_e;
	ch->counting = gate_enables(ch);
	ch->pending = false;
	ch->null_count = false;
}

/* Applies a pending CR -> CE transfer whose CLK edge has come. */
static void sync(struct dm_pit_channel *ch, uint64_t k)
{
	if (ch->pending && ch->pend_tick <= k)
		promote(ch);
}

/* CE value of a run after e edges, in number space. */
static uint64_t run_value(const struct dm_pit_channel *ch, uint64_t e)
{
	uint64_t n = ch->n, p, h, q;

	switch (op_mode(ch)) {
	case 2:
		return n - e % n;
	case 3:
		/*
		 * Even n: n, n-2, ..., 2 in each half.  Odd n: n-1 is loaded
		 * and counted down by two; the high half lasts (n+1)/2 CLKs
		 * (it reads 0 on its last one, OUT dropping one CLK after
		 * the count expires), the low half (n-1)/2 (82C54 mode 3).
		 */
		h = (n + 1) / 2;
		p = e % n;
		q = p < h ? p : p - h;
		return (n & 1 ? n - 1 : n) - 2 * q;
	default:
		return ((uint64_t)ch->n + modulus(ch) - e % modulus(ch)) %
		       modulus(ch);
	}
}

static bool run_out(const struct dm_pit_channel *ch, uint64_t e)
{
	uint64_t n = ch->n;

	switch (op_mode(ch)) {
	case 0:
	case 1:
		return e >= n;
	case 2:
		return e % n != n - 1;
	case 3:
		return e % n < (n + 1) / 2;
	default: /* 4, 5: one CLK low at terminal count */
		return e != n;
	}
}

/* First progress after e at which OUT changes, NEVER if it never does. */
static uint64_t run_next_change(const struct dm_pit_channel *ch, uint64_t e)
{
	uint64_t n = ch->n, p, h;

	switch (op_mode(ch)) {
	case 0:
	case 1:
		return e < n ? n : NEVER;
	case 2:
		if (n == 1)
			return NEVER;
		p = e % n;
		return p < n - 1 ? e + (n - 1 - p) : e + 1;
	case 3:
		if (n == 1)
			return NEVER;
		h = (n + 1) / 2;
		p = e % n;
		return p < h ? e + (h - p) : e + (n - p);
	default:
		return e < n ? n : e == n ? n + 1 : NEVER;
	}
}

static uint16_t ds_ce(const struct dm_pit_channel *ch, uint64_t k)
{
	if (ch->phase != DM_PIT_RUNNING)
		return ch->hold;
	return encode(ch, run_value(ch, progress(ch, k)));
}

static bool ds_out(const struct dm_pit_channel *ch, uint64_t k)
{
	if (ch->phase != DM_PIT_RUNNING)
		return ch->out_idle;
	return run_out(ch, progress(ch, k));
}

static uint64_t run_next_tick(const struct dm_pit_channel *ch, uint64_t k)
{
	uint64_t e, next;

	if (ch->phase != DM_PIT_RUNNING || !ch->counting)
		return NEVER;
	e = progress(ch, k);
	next = run_next_change(ch, e);
	return next == NEVER ? NEVER : k + (next - e);
}

/* First CLK edge after k at which OUT changes, pending loads included. */
static uint64_t ds_next_out_tick(const struct dm_pit_channel *ch, uint64_t k)
{
	struct dm_pit_channel after;
	uint64_t next = run_next_tick(ch, k);

	if (!ch->pending || next < ch->pend_tick)
		return next;
	after = *ch;
	promote(&after);
	if (ds_out(&after, after.base_tick) != ds_out(ch, k))
		return after.base_tick;
	return run_next_tick(&after, after.base_tick);
}

/* Stops the CE where it stands, OUT at the given level. */
static void freeze(struct dm_pit_channel *ch, uint64_t k, bool out)
{
	ch->hold = ds_ce(ch, k);
	ch->phase = DM_PIT_IDLE;
	ch->out_idle = out;
	ch->pending = false;
}

static void schedule_load(struct dm_pit_channel *ch, uint64_t tick, uint32_t e,
			  bool on_reload)
{
	ch->pending = true;
	ch->pend_n = count_of_cr(ch);
	ch->pend_tick = tick;
	ch->pend_e = e;
	ch->pend_on_reload = on_reload;
}

/*
 * Modes 2 and 3 take a new count at the end of the current period (mode 3:
 * half-cycle); the count then starts in the half the old one would have
 * entered.
 */
static void defer_to_reload(struct dm_pit_channel *ch, uint64_t k)
{
	uint64_t e = progress(ch, k), n = ch->n, p = e % n;
	uint64_t h = (n + 1) / 2;
	uint32_t n2 = count_of_cr(ch);

	if (op_mode(ch) == 2 || p >= h) {
		schedule_load(ch, k + (n - p), 0, true);
		return;
	}
	schedule_load(ch, k + (h - p), (n2 + 1) / 2, true);
}

/* A complete count was written at edge k (82C54 "Mode Definitions"). */
static void ds_count_written(struct dm_pit_channel *ch, uint64_t k)
{
	bool running = ch->phase == DM_PIT_RUNNING;
	bool first = !ch->cr_valid;

	ch->null_count = true;
	ch->cr_valid = true;
	switch (op_mode(ch)) {
	case 0:
		/* OUT goes low on a new count; loaded on the next CLK. */
		freeze(ch, k, false);
		schedule_load(ch, k + 1, 0, false);
		break;
	case 4:
		schedule_load(ch, k + 1, 0, false);
		break;
	case 2:
	case 3:
		/* The first count after a control word loads on the next CLK;
		 * later ones wait for the end of the period, or for the
		 * trigger while a low gate holds the count. */
		if (first)
			schedule_load(ch, k + 1, 0, false);
		else if (running && ch->counting)
			defer_to_reload(ch, k);
		break;
	default: /* 1, 5: the count waits for a trigger */
		if (ch->phase == DM_PIT_IDLE)
			ch->phase = DM_PIT_WAIT_TRIGGER;
		break;
	}
}

static void ds_gate_fall(struct dm_pit_channel *ch, uint64_t k)
{
	switch (op_mode(ch)) {
	case 0:
	case 4:
		if (ch->phase == DM_PIT_RUNNING) {
			ch->base_e = progress(ch, k);
			ch->base_tick = k;
			ch->counting = false;
		}
		break;
	case 2:
	case 3:
		/* Counting stops and OUT is forced high at once. */
		if (ch->pending && ch->pend_on_reload)
			ch->pending = false;
		if (ch->phase == DM_PIT_RUNNING) {
			bool keep = ch->pending;

			freeze(ch, k, true);
			ch->pending = keep;
		}
		break;
	default:
		break;
	}
}

static void ds_gate_rise(struct dm_pit_channel *ch, uint64_t k)
{
	switch (op_mode(ch)) {
	case 0:
	case 4:
		if (ch->phase == DM_PIT_RUNNING) {
			ch->base_tick = k;
			ch->counting = true;
		}
		break;
	default:
		/* A trigger: CR -> CE on the next CLK (modes 1, 2, 3, 5). */
		if (ch->cr_valid)
			schedule_load(ch, k + 1, 0, false);
		break;
	}
}

/* A control word stops the count (OUT low in mode 0, high otherwise). */
static void ds_control(struct dm_pit_channel *ch, uint64_t k, uint8_t mode)
{
	sync(ch, k);
	freeze(ch, k, mode != 0);
	ch->mode = mode;
	ch->null_count = true;
	ch->cr_valid = false;
	/* [HW] a latched count or status is held "until read or the
	 * counter is reprogrammed". */
	ch->count_latch = 0;
	ch->status_latched = false;
}

/* ---- kvm and qemu engines -------------------------------------------- */

static uint64_t emu_count(const struct dm_pit_channel *ch)
{
	return ch->n ? ch->n : 65536;
}

/* Nanoseconds of counting, as i8254.c's kpit_elapsed computes them. */
static int64_t emu_elapsed(const struct dm_pit *pit, unsigned c, uint64_t now)
{
	if (pit->flavor == DM_PIT_KVM && c == 0) {
		/* KVM derives counter 0 from its hrtimer: period minus the
		 * time remaining (negative once a one-shot has expired). */
		if (!pit->kvm_period)
			return 0;
		return (int64_t)pit->kvm_period -
		       (int64_t)(pit->kvm_expires - now);
	}
	return (int64_t)(now - pit->ch[c].load_ns);
}

static uint64_t emu_ticks(const struct dm_pit *pit, unsigned c, uint64_t now)
{
	int64_t t = emu_elapsed(pit, c, now);

	return t <= 0 ? 0 : dm_muldiv64((uint64_t)t, pit->hz, DM_NS_PER_SEC);
}

static uint16_t emu_ce(const struct dm_pit *pit, unsigned c, uint64_t now)
{
	const struct dm_pit_channel *ch = &pit->ch[c];
	uint64_t d = emu_ticks(pit, c, now), n = emu_count(ch);

	switch (ch->mode) {
	case 0:
	case 1:
	case 4:
	case 5:
		return (uint16_t)(n - d);
	case 3:
		/* Both emulators step by two even for odd counts. */
		return (uint16_t)(n - (2 * d) % n);
	default:
		return (uint16_t)(n - d % n);
	}
}

static bool emu_out_at(const struct dm_pit_channel *ch, uint64_t d)
{
	uint64_t n = emu_count(ch);

	switch (ch->mode) {
	case 1:
		return d < n;
	case 2:
		return d % n == 0 && d != 0;
	case 3:
		return d % n < (n + 1) / 2;
	case 4:
	case 5:
		return d == n;
	default: /* 0, and QEMU's unaliased 6 and 7 */
		return d >= n;
	}
}

/* QEMU's next OUT transition in ticks since the load (-1: none). */
static uint64_t qemu_next_transition(const struct dm_pit_channel *ch,
				     uint64_t d)
{
	uint64_t n = emu_count(ch), base = d / n * n;

	switch (ch->mode) {
	case 2:
		return d == base && d ? base + n : base + n + 1;
	case 3:
		return d - base < (n + 1) / 2 ? base + (n + 1) / 2 : base + n;
	case 4:
	case 5:
		return d < n ? n : d == n ? n + 1 : NEVER;
	default:
		return d < n ? n : NEVER;
	}
}

/*
 * QEMU re-evaluates IRQ0 at each transition it predicts, converting ticks
 * back to ns with a truncating muldiv: the level it drives is OUT sampled
 * at that truncated instant (which is what makes its mode 2 pulse visible).
 */
static void qemu_irq_update(struct dm_pit *pit, uint64_t now)
{
	const struct dm_pit_channel *ch = &pit->ch[0];
	uint64_t d = emu_ticks(pit, 0, now), next;
	bool level = emu_out_at(ch, d);

	if (level != pit->out0) {
		pit->out0 = level;
		dm_irq_set(&pit->out0_line, now, level);
	}
	next = qemu_next_transition(ch, d);
	if (next != NEVER) {
		next = ch->load_ns + dm_muldiv64(next, DM_NS_PER_SEC, pit->hz);
		if (next <= now)
			next = now + 1;
	}
	dm_timer_arm(&pit->out0_timer, next);
}

/* KVM's counter-0 hrtimer, (re)created by every count write. */
static void kvm_timer_load(struct dm_pit *pit, uint64_t now)
{
	const struct dm_pit_channel *ch = &pit->ch[0];
	uint64_t interval;

	switch (ch->mode) {
	case 0:
	case 1:
	case 4:
	case 2:
	case 3:
		interval = dm_muldiv64(emu_count(ch), DM_NS_PER_SEC, pit->hz);
		pit->kvm_periodic = ch->mode == 2 || ch->mode == 3;
		pit->kvm_period = interval;
		if (pit->kvm_periodic && pit->kvm_period < pit->min_period_ns)
			pit->kvm_period = pit->min_period_ns;
		/* A zero interval still fires, one ns later: the sim never
		 * re-arms at the current instant. */
		pit->kvm_expires = now + (interval ? interval : 1);
		pit->kvm_pending = 0;
		pit->kvm_irq_ack = true;
		dm_timer_arm(&pit->out0_timer, pit->kvm_expires);
		break;
	default:
		/* Mode 5 or none: the timer stops; period and expiry stay,
		 * and still feed the elapsed-time read of counter 0. */
		dm_timer_cancel(&pit->out0_timer);
		break;
	}
}

static void kvm_inject(struct dm_pit *pit, uint64_t now)
{
	if (pit->reinject) {
		if (!pit->kvm_irq_ack)
			return;
		pit->kvm_irq_ack = false;
	}
	dm_irq_pulse(&pit->out0_line, now);
}

static void kvm_timer_fire(struct dm_pit *pit, uint64_t now)
{
	if (pit->reinject)
		pit->kvm_pending++;
	kvm_inject(pit, now);
	if (pit->kvm_periodic) {
		uint64_t period = pit->kvm_period ? pit->kvm_period : 1;

		pit->kvm_expires += period;
		dm_timer_arm(&pit->out0_timer, pit->kvm_expires);
	}
}

void dm_pit_irq0_unmasked(struct dm_pit *pit)
{
	/* kvm_pit_reset_reinject */
	if (pit->flavor != DM_PIT_KVM || !pit->reinject)
		return;
	pit->kvm_pending = 0;
	pit->kvm_irq_ack = true;
}

/*
 * Not in upstream KVM, whose INTA leaves the PIT alone: on this host's
 * kvm_pvm backend the kvm-pit thread raised IRQ0 at a tick between the
 * vcpu's 8259 INTA of the previous raise and the guest's EOI, with no
 * acknowledgement since that raise (all 5 such ticks in the committed
 * boot captures, docs/profiles.md).  Only irq_ack: an acknowledgement's
 * decrement of the held ticks would drain them faster than KVM's
 * raises after the EOIs show.
 */
void dm_pit_irq0_taken(struct dm_pit *pit)
{
	if (pit->flavor == DM_PIT_KVM && pit->reinject && pit->inta_ack)
		pit->kvm_irq_ack = true;
}

void dm_pit_irq0_acked(void *opaque, uint64_t now, unsigned irq)
{
	struct dm_pit *pit = opaque;

	if (pit->flavor != DM_PIT_KVM || !pit->reinject || irq != 0)
		return;
	pit->kvm_irq_ack = true;
	/* atomic_dec_if_positive(&pending) > 0 queues the injection. */
	if (pit->kvm_pending > 0 && --pit->kvm_pending > 0)
		kvm_inject(pit, now);
}

static void emu_count_written(struct dm_pit *pit, unsigned c, uint64_t now)
{
	struct dm_pit_channel *ch = &pit->ch[c];

	ch->n = ch->cr ? ch->cr : 65536;
	ch->load_ns = now;
	if (c != 0)
		return;
	if (pit->flavor == DM_PIT_KVM)
		kvm_timer_load(pit, now);
	else
		qemu_irq_update(pit, now);
}

static void emu_gate(struct dm_pit *pit, unsigned c, uint64_t now, bool rise)
{
	struct dm_pit_channel *ch = &pit->ch[c];

	/* Modes 1, 2, 3 and 5 restart counting on a rising edge. */
	if (!rise || ch->mode == 0 || ch->mode == 4 || ch->mode > 5)
		return;
	ch->load_ns = now;
	if (c == 0 && pit->flavor == DM_PIT_QEMU)
		qemu_irq_update(pit, now);
}

/* ---- both ------------------------------------------------------------ */

static uint16_t current_ce(struct dm_pit *pit, unsigned c, uint64_t now)
{
	if (is_datasheet(pit)) {
		uint64_t k = tick_at(pit, now);

		sync(&pit->ch[c], k);
		return ds_ce(&pit->ch[c], k);
	}
	return emu_ce(pit, c, now);
}

bool dm_pit_out(struct dm_pit *pit, uint64_t now, unsigned c)
{
	if (is_datasheet(pit)) {
		uint64_t k = tick_at(pit, now);

		sync(&pit->ch[c], k);
		return ds_out(&pit->ch[c], k);
	}
	return emu_out_at(&pit->ch[c], emu_ticks(pit, c, now));
}

/* Drives OUT0 and schedules its next edge (datasheet flavour). */
static void ds_out0_update(struct dm_pit *pit, uint64_t now)
{
	struct dm_pit_channel *ch = &pit->ch[0];
	uint64_t k = tick_at(pit, now), next;
	bool level;

	sync(ch, k);
	level = ds_out(ch, k);
	if (level != pit->out0) {
		pit->out0 = level;
		dm_irq_set(&pit->out0_line, now, level);
	}
	next = ds_next_out_tick(ch, k);
	dm_timer_arm(&pit->out0_timer,
		     next == NEVER ? NEVER : dm_clock_edge_ns(pit->hz, next));
}

static void out0_timer_fire(void *opaque, uint64_t now)
{
	struct dm_pit *pit = opaque;

	switch (pit->flavor) {
	case DM_PIT_DATASHEET:
		ds_out0_update(pit, now);
		break;
	case DM_PIT_KVM:
		kvm_timer_fire(pit, now);
		break;
	default:
		qemu_irq_update(pit, now);
		break;
	}
}

static void latch_count(struct dm_pit *pit, unsigned c, uint64_t now)
{
	struct dm_pit_channel *ch = &pit->ch[c];

	/* A second latch before the first is read is ignored. */
	if (ch->count_latch)
		return;
	ch->latched_count = current_ce(pit, c, now);
	ch->count_latch = ch->rw;
}

static void latch_status(struct dm_pit *pit, unsigned c, uint64_t now)
{
	struct dm_pit_channel *ch = &pit->ch[c];
	uint8_t out;

	if (ch->status_latched)
		return;
	out = dm_pit_out(pit, now, c);
	/* The emulators never report NULL COUNT (KVM: "TODO"). */
	ch->status = (uint8_t)(out << 7 |
			       (is_datasheet(pit) && ch->null_count) << 6 |
			       ch->rw << 4 | ch->mode << 1 | ch->bcd);
	ch->status_latched = true;
}

static void read_back(struct dm_pit *pit, uint8_t val, uint64_t now)
{
	for (unsigned c = 0; c < 3; c++) {
		if (!(val & (2u << c)))
			continue;
		if (!(val & 0x20))
			latch_count(pit, c, now);
		if (!(val & 0x10))
			latch_status(pit, c, now);
	}
}

static void control_word(struct dm_pit *pit, uint8_t val, uint64_t now)
{
	unsigned c = val >> 6, rw = (val >> 4) & 3;
	struct dm_pit_channel *ch = &pit->ch[c];

	if (rw == 0) {
		latch_count(pit, c, now);
		return;
	}
	if (is_datasheet(pit)) {
		ds_control(ch, tick_at(pit, now), (val >> 1) & 7);
	} else {
		ch->mode = (val >> 1) & 7;
		/* KVM de-aliases 6 and 7; QEMU keeps them as written. */
		if (pit->flavor == DM_PIT_KVM && ch->mode > 5)
			ch->mode -= 4;
	}
	ch->rw = (uint8_t)rw;
	ch->bcd = val & 1;
	ch->write_msb_next = false;
	ch->read_msb_next = false;
	if (c == 0 && is_datasheet(pit))
		ds_out0_update(pit, now);
}

static void count_written(struct dm_pit *pit, unsigned c, uint64_t now)
{
	if (is_datasheet(pit)) {
		sync(&pit->ch[c], tick_at(pit, now));
		ds_count_written(&pit->ch[c], tick_at(pit, now));
		if (c == 0)
			ds_out0_update(pit, now);
	} else {
		emu_count_written(pit, c, now);
	}
}

static void write_count_byte(struct dm_pit *pit, unsigned c, uint8_t val,
			     uint64_t now)
{
	struct dm_pit_channel *ch = &pit->ch[c];

	switch (ch->rw) {
	case RW_MSB:
		ch->cr = (uint16_t)(val << 8);
		break;
	case RW_WORD:
		if (!ch->write_msb_next) {
			ch->write_lsb = val;
			ch->write_msb_next = true;
			/* Mode 0: the first byte stops the count, OUT low. */
			if (is_datasheet(pit) && op_mode(ch) == 0) {
				uint64_t k = tick_at(pit, now);

				sync(ch, k);
				freeze(ch, k, false);
				if (c == 0)
					ds_out0_update(pit, now);
			}
			return;
		}
		ch->write_msb_next = false;
		ch->cr = (uint16_t)(ch->write_lsb | val << 8);
		break;
	default: /* LSB only, and KVM's rw 0 after reset */
		ch->cr = val;
		break;
	}
	count_written(pit, c, now);
}

static uint8_t read_count_byte(struct dm_pit *pit, unsigned c, uint64_t now)
{
	struct dm_pit_channel *ch = &pit->ch[c];
	uint16_t v;

	if (ch->status_latched) {
		ch->status_latched = false;
		return ch->status;
	}
	switch (ch->count_latch) {
	case RW_LSB:
		ch->count_latch = 0;
		return (uint8_t)ch->latched_count;
	case RW_MSB:
		ch->count_latch = 0;
		return (uint8_t)(ch->latched_count >> 8);
	case RW_WORD:
		ch->count_latch = RW_MSB;
		return (uint8_t)ch->latched_count;
	default:
		break;
	}
	/* Unlatched: every byte samples the live CE afresh (SPEC-NOTES 1.4). */
	v = current_ce(pit, c, now);
	switch (ch->rw) {
	case RW_MSB:
		return (uint8_t)(v >> 8);
	case RW_WORD:
		ch->read_msb_next = !ch->read_msb_next;
		return (uint8_t)(ch->read_msb_next ? v : v >> 8);
	default:
		return (uint8_t)v;
	}
}

uint64_t dm_pit_read(void *opaque, uint64_t now, uint64_t offset, unsigned size)
{
	struct dm_pit *pit = opaque;

	(void)size;
	if (offset >= 3) {
		/* The control register is write-only: the 8254 does not drive
		 * the bus (reads float high); both emulators return 0. */
		return is_datasheet(pit) ? 0xff : 0;
	}
	return read_count_byte(pit, (unsigned)offset, now);
}

void dm_pit_write(void *opaque, uint64_t now, uint64_t offset, unsigned size,
		  uint64_t value)
{
	struct dm_pit *pit = opaque;
	uint8_t val = (uint8_t)value;

	(void)size;
	if (offset >= 3) {
		if (val >> 6 == 3)
			read_back(pit, val, now);
		else
			control_word(pit, val, now);
		return;
	}
	write_count_byte(pit, (unsigned)offset, val, now);
}

static void set_gate2(struct dm_pit *pit, uint64_t now, bool level)
{
	struct dm_pit_channel *ch = &pit->ch[2];
	bool old = ch->gate;

	if (is_datasheet(pit)) {
		uint64_t k = tick_at(pit, now);

		sync(ch, k);
		if (level == old)
			return;
		if (level) {
			ch->gate = true;
			ds_gate_rise(ch, k);
		} else {
			ds_gate_fall(ch, k);
			ch->gate = false;
		}
		return;
	}
	emu_gate(pit, 2, now, level && !old);
	ch->gate = level;
}

/* The refresh request toggle of port 0x61 bit 4 (SPEC-NOTES 1.6). */
static uint8_t refresh_bit(struct dm_pit *pit, uint64_t now)
{
	switch (pit->flavor) {
	case DM_PIT_DATASHEET:
		return (now / 15085) & 1; /* toggles every 15.085 us */
	case DM_PIT_KVM:
		if (!pit->qemu_speaker)
			return (now >> 14) &
			       1; /* KVM: bit 14 of the ns clock */
		/* Under QEMU, port 0x61 is QEMU's pcspk: fall through. */
		/* fallthrough */
	default:
		pit->refresh_qemu = !pit->refresh_qemu; /* QEMU: every read */
		return pit->refresh_qemu;
	}
}

uint64_t dm_pit_port61_read(void *opaque, uint64_t now, uint64_t offset,
			    unsigned size)
{
	struct dm_pit *pit = opaque;
	uint8_t nmi = is_datasheet(pit) ? pit->nmi_ctl : 0;

	(void)offset;
	(void)size;
	return (uint64_t)(pit->ch[2].gate | pit->speaker_data << 1 | nmi << 2 |
			  refresh_bit(pit, now) << 4 |
			  dm_pit_out(pit, now, 2) << 5);
}

/*
 * Under QEMU, KVM's PIT leaves port 0x61 to QEMU's pcspk, which sets GATE2
 * through kvm_pit_set_gate on every write: KVM_GET_PIT2, then KVM_SET_PIT2.
 * KVM's set_pit2 reloads each counter with its count as if the guest had
 * just written it: counter 0's hrtimer restarts from this instant, its
 * held ticks dropped (create_pit_timer), and counters 1 and 2 count from
 * this instant (pit_load_count).
 */
static void kvm_set_pit2(struct dm_pit *pit, uint64_t now)
{
	pit->ch[1].load_ns = now;
	pit->ch[2].load_ns = now;
	kvm_timer_load(pit, now);
}

void dm_pit_port61_write(void *opaque, uint64_t now, uint64_t offset,
			 unsigned size, uint64_t value)
{
	struct dm_pit *pit = opaque;

	(void)offset;
	(void)size;
	pit->speaker_data = (value >> 1) & 1;
	pit->nmi_ctl = (value >> 2) & 3;
	set_gate2(pit, now, value & 1);
	if (pit->flavor == DM_PIT_KVM && pit->qemu_speaker)
		kvm_set_pit2(pit, now);
}

/*
 * Power-on state.  The 82C54's is undefined until programmed; dmsim's
 * datasheet flavour starts every counter as if a mode 0 LSB/MSB control
 * word had just been written.  KVM resets to mode 0xff (no timer) with
 * count 65536; QEMU to mode 3 with count 65536, running.  GATE0 and GATE1
 * are tied high on the PC; GATE2 comes from port 0x61 bit 0 (reset 0).
 */
static void reset_channel(struct dm_pit *pit, unsigned c)
{
	struct dm_pit_channel *ch = &pit->ch[c];

	*ch = (struct dm_pit_channel){.gate = c != 2};
	switch (pit->flavor) {
	case DM_PIT_DATASHEET:
		ch->rw = RW_WORD;
		ch->null_count = true;
		break;
	case DM_PIT_KVM:
		ch->mode = 0xff;
		ch->n = 65536;
		break;
	default:
		ch->mode = 3;
		ch->n = 65536;
		break;
	}
}

/*
 * QEMU's kvm-i8254 puts its own reset state (pit_reset_common: every
 * counter mode 3, count 65536, GATE2 low) into KVM with KVM_SET_PIT2 when
 * the VM starts running, and KVM reloads every counter then
 * (kvm_vm_ioctl_set_pit2): a counter the guest never programs runs from
 * that instant.
 */
static void qemu_state_into_kvm(struct dm_pit *pit, uint64_t start)
{
	for (unsigned c = 0; c < 3; c++) {
		pit->ch[c].mode = 3;
		pit->ch[c].n = 65536;
		pit->ch[c].load_ns = start;
	}
	kvm_timer_load(pit, start);
}

void dm_pit_init(struct dm_pit *pit, const struct dm_config *cfg,
		 struct dm_eventq *q, const struct dm_irq_line *out0)
{
	*pit = (struct dm_pit){
		.out0_line = *out0,
		.flavor = cfg->pit_flavor,
		.hz = cfg->pit_hz,
		.min_period_ns = (uint64_t)cfg->pit_min_period_us * 1000,
		.reinject = cfg->pit_reinject,
		.inta_ack = cfg->pit_inta_ack,
		.qemu_speaker = cfg->pit_qemu_reset,
		.kvm_irq_ack = true,
	};
	dm_timer_init(&pit->out0_timer, q, out0_timer_fire, pit);
	for (unsigned c = 0; c < 3; c++)
		reset_channel(pit, c);
	if (pit->flavor == DM_PIT_QEMU)
		qemu_irq_update(pit, 0);
	if (pit->flavor == DM_PIT_KVM && cfg->pit_qemu_reset)
		qemu_state_into_kvm(pit, cfg->pit_start_ns);
}

static int pit_channel_validate(const void *state, struct dm_error *err)
{
	const struct dm_pit_channel *ch = state;

	if (ch->mode > 7 && ch->mode != 0xff)
		return dm_errorf(err, "mode: %u is not 0-7 (or 0xff)",
				 ch->mode);
	if (ch->phase == DM_PIT_RUNNING && (ch->n == 0 || ch->n > 65536))
		return dm_errorf(err,
				 "n: count %u of a running channel is "
				 "not 1-65536",
				 ch->n);
	if (ch->pending && (ch->pend_n == 0 || ch->pend_n > 65536))
		return dm_errorf(err,
				 "pend_n: pending count %u is not "
				 "1-65536",
				 ch->pend_n);
	return 0;
}

static const struct dm_field pit_channel_fields[] = {
	DM_U8(struct dm_pit_channel, rw, 1, 3),
	DM_U8(struct dm_pit_channel, mode, 2, 0xff),
	DM_BOOL(struct dm_pit_channel, bcd, 3),
	DM_BOOL(struct dm_pit_channel, gate, 4),
	DM_BOOL(struct dm_pit_channel, write_msb_next, 5),
	DM_X8(struct dm_pit_channel, write_lsb, 6),
	DM_BOOL(struct dm_pit_channel, read_msb_next, 7),
	DM_X16(struct dm_pit_channel, cr, 8),
	DM_BOOL(struct dm_pit_channel, null_count, 9),
	DM_U8(struct dm_pit_channel, count_latch, 10, 3),
	DM_X16(struct dm_pit_channel, latched_count, 11),
	DM_BOOL(struct dm_pit_channel, status_latched, 12),
	DM_X8(struct dm_pit_channel, status, 13),
	DM_U8(struct dm_pit_channel, phase, 14, DM_PIT_RUNNING),
	DM_BOOL(struct dm_pit_channel, out_idle, 15),
	DM_X16(struct dm_pit_channel, hold, 16),
	DM_U32(struct dm_pit_channel, n, 17, 65536),
	DM_U64(struct dm_pit_channel, base_tick, 18, UINT64_MAX),
	DM_U64(struct dm_pit_channel, base_e, 19, UINT64_MAX),
	DM_BOOL(struct dm_pit_channel, counting, 20),
	DM_BOOL(struct dm_pit_channel, pending, 21),
	DM_U32(struct dm_pit_channel, pend_n, 22, 65536),
	DM_U64(struct dm_pit_channel, pend_tick, 23, UINT64_MAX),
	DM_U32(struct dm_pit_channel, pend_e, 24, 65536),
	DM_BOOL(struct dm_pit_channel, pend_on_reload, 25),
	DM_BOOL(struct dm_pit_channel, cr_valid, 26),
	DM_U64(struct dm_pit_channel, load_ns, 27, UINT64_MAX),
};

static const struct dm_state_desc pit_channel_desc =
	DM_STATE_DESC("ch", 1, struct dm_pit_channel, pit_channel_fields,
		      .validate = pit_channel_validate);

static const struct dm_field pit_fields[] = {
	DM_STRUCTS(struct dm_pit, ch, 1, pit_channel_desc),
	DM_BOOL(struct dm_pit, speaker_data, 2),
	DM_U8(struct dm_pit, nmi_ctl, 3, 3),
	DM_BOOL(struct dm_pit, refresh_qemu, 4),
	DM_BOOL(struct dm_pit, out0, 5),
	DM_TIMER(struct dm_pit, out0_timer, 6),
	DM_U64(struct dm_pit, kvm_period, 7, UINT64_MAX),
	DM_U64(struct dm_pit, kvm_expires, 8, UINT64_MAX),
	DM_BOOL(struct dm_pit, kvm_periodic, 9),
	DM_U32(struct dm_pit, kvm_pending, 10, UINT32_MAX),
	DM_BOOL(struct dm_pit, kvm_irq_ack, 11),
};

const struct dm_state_desc dm_pit_state_desc =
	DM_STATE_DESC("pit", 1, struct dm_pit, pit_fields);
