// SPDX-License-Identifier: MIT
/*
 * Local APIC.  Register semantics follow the Intel SDM vol. 3 chapter 11
 * ("SDM 11.x" below) and SPEC-NOTES 4; the kvm flavour reproduces
 * arch/x86/kvm/lapic.c where it differs.  docs/devices/lapic.md is the
 * user-facing description.
 *
 * The timer is analytic.  The datasheet flavour counts bus-clock ticks: the
 * count is tm_count at tick tm_base and drops by one every divisor ticks
 * (the divider restarts when the count is (re)based).  The kvm flavour keeps
 * KVM's own representation, an expiry time and a period in ns.  Either way
 * the only event is the next expiry, armed on the machine's queue.
 */
#include "models/lapic.h"

#include <inttypes.h>
#include <string.h>

#include "sim/clock.h"
#include "sim/config.h"

/* Register numbers: xAPIC offset >> 4, x2APIC MSR - 0x800 (SDM 11.12.1.2). */
enum {
	R_ID = 0x02,
	R_VER = 0x03,
	R_TPR = 0x08,
	R_APR = 0x09,
	R_PPR = 0x0a,
	R_EOI = 0x0b,
	R_RRD = 0x0c,
	R_LDR = 0x0d,
	R_DFR = 0x0e,
	R_SVR = 0x0f,
	R_ISR = 0x10,
	R_TMR = 0x18,
	R_IRR = 0x20,
	R_ESR = 0x28,
	R_CMCI = 0x2f,
	R_ICR = 0x30,
	R_ICR2 = 0x31,
	R_LVT_FIRST = 0x32, /* timer; then thermal, perf, LINT0, LINT1, error */
	R_LVT_LAST = 0x37,
	R_TMICT = 0x38,
	R_TMCCT = 0x39,
	R_TDCR = 0x3e,
	R_SELF_IPI = 0x3f,
};

/* What a register is in the current mode. */
enum { K_NONE, K_RO, K_WO, K_RW };

/* Register access results. */
enum { REG_OK, REG_RO, REG_NONE, REG_GP };

#define BASE_BSP (1ull << 8)
#define BASE_EXTD (1ull << 10)
#define BASE_EN (1ull << 11)
#define BASE_PAGE 0xfffffffffffff000ull

/* (EN, EXTD) as the number (IA32_APIC_BASE >> 10) & 3. */
enum { MODE_DISABLED = 0, MODE_INVALID = 1, MODE_XAPIC = 2, MODE_X2APIC = 3 };

#define LVT_VECTOR 0xffu
#define LVT_STATUS (1u << 12)
#define LVT_POLARITY (1u << 13)
#define LVT_REMOTE_IRR (1u << 14)
#define LVT_LEVEL (1u << 15)
#define LVT_MASKED (1u << 16)

#define SVR_ENABLE 0x100u
#define SVR_FOCUS_OFF 0x200u
#define SVR_NO_EOI_BCAST 0x1000u

#define ESR_SEND_ILLEGAL 0x20u
#define ESR_RECV_ILLEGAL 0x40u
#define ESR_ILLEGAL_REG 0x80u
#define ESR_BITS (ESR_SEND_ILLEGAL | ESR_RECV_ILLEGAL | ESR_ILLEGAL_REG)

/* ICR bits that exist: vector, mode, dest mode, level, trigger, shorthand. */
#define ICR_MASK 0x000ccfffu
/* x2APIC ICR bits whose setting raises #GP (KVM X2APIC_ICR_RESERVED_BITS). */
#define ICR_X2_RESERVED 0xfff32000u

#define APIC_VERSION 0x14u

static void timer_update(struct dm_lapic *l, uint64_t now);

static bool is_kvm(const struct dm_lapic *l)
{
	return l->cfg.flavor == DM_LAPIC_KVM;
}

bool dm_lapic_hw_enabled(const struct dm_lapic *l)
{
	return l->apic_base & BASE_EN;
}

bool dm_lapic_sw_enabled(const struct dm_lapic *l)
{
	return l->svr & SVR_ENABLE;
}

static unsigned base_mode(uint64_t base)
{
	return (unsigned)(base >> 10) & 3;
}

bool dm_lapic_x2apic(const struct dm_lapic *l)
{
	return base_mode(l->apic_base) == MODE_X2APIC;
}

bool dm_lapic_mmio_enabled(const struct dm_lapic *l)
{
	return base_mode(l->apic_base) == MODE_XAPIC;
}

uint64_t dm_lapic_mmio_base(const struct dm_lapic *l)
{
	return l->apic_base & BASE_PAGE;
}

/* 256-bit vector registers (ISR, TMR, IRR) as eight 32-bit words. */
static bool vec_test(const uint32_t *r, unsigned v)
{
	return (r[v >> 5] >> (v & 31)) & 1;
}

static void vec_set(uint32_t *r, unsigned v)
{
	r[v >> 5] |= 1u << (v & 31);
}

static void vec_clear(uint32_t *r, unsigned v)
{
	r[v >> 5] &= ~(1u << (v & 31));
}

static int vec_highest(const uint32_t *r)
{
	for (int i = 7; i >= 0; i--)
		if (r[i])
			return i * 32 + 31 - __builtin_clz(r[i]);
	return -1;
}

static unsigned vec_class(int v)
{
	return v < 0 ? 0 : (unsigned)v & 0xf0;
}

static void vcpu_signal(const struct dm_lapic *l, uint64_t now,
			enum dm_vcpu_event ev, uint8_t vector)
{
	if (l->signal.signal)
		l->signal.signal(l->signal.opaque, now, l->cfg.vcpu_id, ev,
				 vector);
}

/* SDM 11.8.3.1. */
uint8_t dm_lapic_ppr(const struct dm_lapic *l)
{
	unsigned isr_class = vec_class(vec_highest(l->isr));

	if ((l->tpr & 0xf0u) >= isr_class)
		return l->tpr;
	return (uint8_t)isr_class;
}

/*
 * Arbitration priority, as SPEC-NOTES 4.3 states the P6 rule (the SDM's
 * pseudo-code reads "TPR AND ISRV", which no part computes literally).
 */
uint8_t dm_lapic_arb_priority(const struct dm_lapic *l)
{
	unsigned tpr_class = l->tpr & 0xf0u;
	unsigned irr_class = vec_class(vec_highest(l->irr));
	unsigned isr_class = vec_class(vec_highest(l->isr));
	unsigned apr = tpr_class;

	if (tpr_class >= irr_class && tpr_class > isr_class)
		return l->tpr;
	if (isr_class > apr)
		apr = isr_class;
	if (irr_class > apr)
		apr = irr_class;
	return (uint8_t)apr;
}

/* The IRR vector the core would take now (SDM 11.8.4), or -1. */
static int fixed_deliverable(const struct dm_lapic *l)
{
	int v = vec_highest(l->irr);

	if (!dm_lapic_hw_enabled(l) || v < 0 ||
	    vec_class(v) <= (dm_lapic_ppr(l) & 0xf0u))
		return -1;
	return v;
}

/* INTR stays asserted until the core's INTA, whatever happens meanwhile. */
static void update_intr(struct dm_lapic *l)
{
	if (fixed_deliverable(l) >= 0)
		l->intr_out = true;
}

static void record_error(struct dm_lapic *l, uint64_t now, uint8_t bit);

/*
 * A Fixed or lowest-priority interrupt reaching the IRR (SDM 11.5.1 for
 * the LVTs, 11.6 for messages).  Returns 1 if accepted.
 */
static int accept_fixed(struct dm_lapic *l, uint64_t now, uint8_t vector,
			bool level)
{
	/* SDM 11.4.7.2: a software-disabled APIC takes no Fixed interrupts. */
	if (!dm_lapic_sw_enabled(l))
		return 0;
	/* SDM 11.5.3: vectors 0-15 are illegal; KVM takes them into the IRR,
	 * where their class 0 keeps them from ever being delivered. */
	if (vector < 16 && !is_kvm(l)) {
		record_error(l, now, ESR_RECV_ILLEGAL);
		return 0;
	}
	vec_set(l->irr, vector);
	if (level)
		vec_set(l->tmr, vector);
	else
		vec_clear(l->tmr, vector);
	update_intr(l);
	if (vector == (l->lvt[DM_LVT_TIMER] & LVT_VECTOR))
		timer_update(l, now);
	return 1;
}

/* Timer and error LVTs deliver an edge-triggered Fixed vector. */
static void lvt_fire(struct dm_lapic *l, uint64_t now, unsigned idx)
{
	uint32_t lvt = l->lvt[idx];

	if (!dm_lapic_hw_enabled(l) || (lvt & LVT_MASKED))
		return;
	accept_fixed(l, now, (uint8_t)(lvt & LVT_VECTOR), false);
}

/*
 * SDM 11.5.3: an error is collected until the next ESR write; a newly
 * detected one raises the LVT Error interrupt.  Only new bits raise it, so
 * an illegal vector in the Error LVT itself cannot recurse.
 */
static void record_error(struct dm_lapic *l, uint64_t now, uint8_t bit)
{
	if (!l->cfg.esr || (l->esr_pending & bit))
		return;
	l->esr_pending |= bit;
	lvt_fire(l, now, DM_LVT_ERROR);
}

/* ---- Timer ---------------------------------------------------------- */

unsigned dm_lapic_timer_mode(const struct dm_lapic *l)
{
	return (l->lvt[DM_LVT_TIMER] >> 17) & 3;
}

static bool periodic(const struct dm_lapic *l)
{
	return dm_lapic_timer_mode(l) == DM_LAPIC_TM_PERIODIC;
}

static bool tsc_mode(const struct dm_lapic *l)
{
	return dm_lapic_timer_mode(l) == DM_LAPIC_TM_TSC_DEADLINE;
}

/* SDM 11.5.4: DCR bits 3,1:0 = v; divisor 2^((v + 1) mod 8). */
static uint64_t divisor(const struct dm_lapic *l)
{
	unsigned v = (l->tdcr & 3u) | ((l->tdcr >> 1) & 4u);

	return 1u << ((v + 1) & 7);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Datasheet: whole divided periods since tm_base. */
static uint64_t ds_elapsed(const struct dm_lapic *l, uint64_t now)
{
	uint64_t k = dm_clock_ticks(l->cfg.bus_hz, now);

	return k > l->tm_base ? (k - l->tm_base) / divisor(l) : 0;
}

/* Datasheet current count: one-shot stops at 0, periodic reloads. */
static uint32_t ds_count(const struct dm_lapic *l, uint64_t now)
{
	uint64_t e;

	if (!l->tm_count)
		return 0;
	e = ds_elapsed(l, now);
	if (e < l->tm_count)
		return l->tm_count - (uint32_t)e;
	if (!periodic(l))
		return 0;
	return l->tmict - (uint32_t)((e - l->tm_count) % l->tmict);
}

/* Datasheet: the first expiry after now, DM_TIME_NEVER if none. */
static uint64_t ds_next(const struct dm_lapic *l, uint64_t now)
{
	uint64_t k = dm_clock_ticks(l->cfg.bus_hz, now);
	unsigned __int128 x, period;

	if (!l->tm_count)
		return DM_TIME_NEVER;
	x = (unsigned __int128)l->tm_base +
	    (unsigned __int128)l->tm_count * divisor(l);
	if (x <= k) {
		if (!periodic(l))
			return DM_TIME_NEVER;
		period = (unsigned __int128)l->tmict * divisor(l);
		x += ((k - x) / period + 1) * period;
	}
	if (x >= UINT64_MAX)
		return DM_TIME_NEVER;
	return dm_clock_edge_ns(l->cfg.bus_hz, (uint64_t)x);
}

/*
 * Datasheet: re-expresses a running count as "its current value at tick
 * tm_base", keeping the divider's phase, or restarting the divider now
 * (the SDM leaves a mid-count divide change undefined; the count keeps its
 * value and continues at the new rate).
 */
static void ds_rebase(struct dm_lapic *l, uint64_t now, bool restart)
{
	uint32_t c = ds_count(l, now);

	if (!c) {
		l->tm_count = 0;
		l->tm_base = 0;
		return;
	}
	if (restart)
		l->tm_base = dm_clock_ticks(l->cfg.bus_hz, now);
	else
		l->tm_base += ds_elapsed(l, now) * divisor(l);
	l->tm_count = c;
}

/* KVM tmict_to_ns(): count x divisor bus cycles. */
uint64_t dm_lapic_count_ns(const struct dm_lapic *l, uint32_t count)
{
	return dm_muldiv64((uint64_t)count * divisor(l), DM_NS_PER_SEC,
			   l->cfg.bus_hz);
}

/* KVM limit_periodic_timer_frequency(). */
void dm_lapic_kvm_clamp(struct dm_lapic *l)
{
	if (periodic(l) && l->tm_period && l->tm_period < l->cfg.min_period_ns)
		l->tm_period = l->cfg.min_period_ns;
}

/* KVM: the next expiry at or after now (strict: after now); 0 if none. */
static uint64_t kvm_next(const struct dm_lapic *l, uint64_t now, bool strict)
{
	uint64_t t = l->tm_target, p = l->tm_period;

	if (!t || !p)
		return 0;
	if (t > now || (t == now && !strict))
		return t;
	if (!periodic(l))
		return 0;
	t += (now - t) / p * p;
	if (t == now && !strict)
		return t;
	return t > UINT64_MAX - p ? 0 : t + p;
}

/* KVM apic_get_tmcct(): the time left modulo the period, in bus cycles. */
static uint32_t kvm_count(const struct dm_lapic *l, uint64_t now)
{
	uint64_t t, rem;

	if (!l->tmict || !l->tm_period)
		return 0;
	t = kvm_next(l, now, false);
	rem = t > now ? t - now : 0;
	return (uint32_t)dm_muldiv64(rem % l->tm_period, l->cfg.bus_hz,
				     DM_NS_PER_SEC * divisor(l));
}

uint32_t dm_lapic_current_count(const struct dm_lapic *l, uint64_t now)
{
	if (tsc_mode(l))
		return 0;
	return is_kvm(l) ? kvm_count(l, now) : ds_count(l, now);
}

/*
 * A periodic expiry that would change nothing (timer masked, APIC off, or
 * its edge vector already waiting in the IRR, where it would merge) needs
 * no event: the next one is computed when that changes.  This keeps a
 * long time jump over an ignored fast timer cheap.
 */
static bool timer_quiet(const struct dm_lapic *l)
{
	uint32_t lvt = l->lvt[DM_LVT_TIMER];
	unsigned v = lvt & LVT_VECTOR;

	return !dm_lapic_hw_enabled(l) || (lvt & LVT_MASKED) ||
	       (vec_test(l->irr, v) && !vec_test(l->tmr, v));
}

static uint64_t next_expiry(const struct dm_lapic *l, uint64_t now)
{
	uint64_t t;

	if (!is_kvm(l))
		return ds_next(l, now);
	t = kvm_next(l, now, true);
	return t ? t : DM_TIME_NEVER;
}

/* Split from timer_update so that a conversion can arm a scratch copy. */
uint64_t dm_lapic_timer_deadline(const struct dm_lapic *l, uint64_t now)
{
	if (periodic(l) && timer_quiet(l))
		return DM_TIME_NEVER;
	return next_expiry(l, now);
}

/* Arms the count-mode timer at its next expiry after now. */
static void timer_update(struct dm_lapic *l, uint64_t now)
{
	/* TSC-deadline mode is armed by IA32_TSC_DEADLINE writes only. */
	if (tsc_mode(l))
		return;
	dm_timer_arm(&l->timer, dm_lapic_timer_deadline(l, now));
}

static void timer_fire(void *opaque, uint64_t now)
{
	struct dm_lapic *l = opaque;

	/* SDM 11.5.4.1: a TSC deadline fires once and disarms (MSR reads 0). */
	if (tsc_mode(l)) {
		l->tsc_deadline = 0;
		lvt_fire(l, now, DM_LVT_TIMER);
		return;
	}
	lvt_fire(l, now, DM_LVT_TIMER);
	/* KVM forgets a one-shot's expiry once it has fired. */
	if (is_kvm(l) && !periodic(l))
		l->tm_target = 0;
	timer_update(l, now);
}

/* KVM: an expiry due now fires at once (its restarted hrtimer would). */
static void kvm_expire_now(struct dm_lapic *l, uint64_t now)
{
	lvt_fire(l, now, DM_LVT_TIMER);
	if (!periodic(l))
		l->tm_target = 0;
}

static void timer_stop(struct dm_lapic *l)
{
	l->tmict = 0;
	l->tm_count = 0;
	l->tm_base = 0;
	l->tm_target = 0;
	l->tm_period = 0;
	l->tsc_deadline = 0;
	dm_timer_cancel(&l->timer);
}

/* SDM 11.5.4: writing the initial count (re)starts the count. */
static void tmict_write(struct dm_lapic *l, uint64_t now, uint32_t val)
{
	/* SDM 11.5.4.1: ignored in TSC-deadline mode. */
	if (tsc_mode(l))
		return;
	l->tmict = val;
	if (is_kvm(l)) {
		l->tm_period = dm_lapic_count_ns(l, val);
		dm_lapic_kvm_clamp(l);
		l->tm_target = l->tm_period ? sat_add(now, l->tm_period) : 0;
	} else {
		l->tm_count = val;
		l->tm_base = val ? dm_clock_ticks(l->cfg.bus_hz, now) : 0;
	}
	timer_update(l, now);
}

/* KVM update_target_expiration(): the time left scales by new/old. */
static void kvm_rescale(struct dm_lapic *l, uint64_t now, uint64_t old_div)
{
	uint64_t t = kvm_next(l, now, true);
	uint64_t rem = t > now ? t - now : 0;

	if (!l->tm_period)
		return;
	l->tm_period = dm_lapic_count_ns(l, l->tmict);
	dm_lapic_kvm_clamp(l);
	if (!l->tm_period) {
		l->tm_target = 0;
		return;
	}
	l->tm_target = sat_add(now, dm_muldiv64(rem, divisor(l), old_div));
	/* Nothing left (an expired one-shot included): KVM fires again. */
	if (l->tm_target == now)
		kvm_expire_now(l, now);
}

static void tdcr_write(struct dm_lapic *l, uint64_t now, uint32_t val)
{
	uint64_t old_div = divisor(l);
	uint8_t tdcr = (uint8_t)(val & 0xb);

	if (tdcr == l->tdcr)
		return;
	if (is_kvm(l)) {
		l->tdcr = tdcr;
		kvm_rescale(l, now, old_div);
	} else {
		ds_rebase(l, now, true);
		l->tdcr = tdcr;
	}
	timer_update(l, now);
}

/*
 * SDM 11.5.4: rewriting the timer mode does not restart the count; it goes
 * on from where it is under the new mode's rules.  Switching into or out of
 * TSC-deadline mode disarms the timer (initial count and deadline cleared,
 * as KVM does).
 */
static void lvt_timer_write(struct dm_lapic *l, uint64_t now, uint32_t val)
{
	unsigned old_mode = dm_lapic_timer_mode(l), new_mode = (val >> 17) & 3;
	bool was_tsc = old_mode == DM_LAPIC_TM_TSC_DEADLINE;
	bool is_tsc = new_mode == DM_LAPIC_TM_TSC_DEADLINE;

	if (old_mode != new_mode && !was_tsc && !is_tsc) {
		if (is_kvm(l))
			l->tm_target = kvm_next(l, now, true);
		else
			ds_rebase(l, now, false);
	}
	l->lvt[DM_LVT_TIMER] = val;
	if (was_tsc != is_tsc)
		timer_stop(l);
	else if (old_mode != new_mode && is_kvm(l))
		dm_lapic_kvm_clamp(l);
	timer_update(l, now);
}

static uint64_t tsc_fire_ns(const struct dm_lapic *l, uint64_t now,
			    uint64_t deadline)
{
	uint64_t tsc;

	if (!is_kvm(l))
		/* It fires on the first ns at which the TSC reaches it. */
		return dm_clock_edge_ns(l->cfg.tsc_hz, deadline);
	/* KVM start_sw_tscdeadline(): now + the TSC delta in ns, rounded
	 * down; a deadline not in the future fires at once. */
	tsc = dm_clock_ticks(l->cfg.tsc_hz, now);
	if (deadline <= tsc)
		return now;
	return sat_add(
		now, dm_muldiv64(deadline - tsc, DM_NS_PER_SEC, l->cfg.tsc_hz));
}

static void tsc_deadline_write(struct dm_lapic *l, uint64_t now, uint64_t val)
{
	uint64_t when;

	dm_timer_cancel(&l->timer);
	l->tsc_deadline = val;
	if (!val)
		return;
	when = tsc_fire_ns(l, now, val);
	if (when <= now) {
		l->tsc_deadline = 0;
		lvt_fire(l, now, DM_LVT_TIMER);
		return;
	}
	dm_timer_arm(&l->timer, when);
}

/* ---- Reset, INIT and IA32_APIC_BASE ----------------------------------- */

/*
 * SDM 11.4.7.1 power-up values.  keep_id: INIT keeps the APIC ID (and the
 * caller keeps IA32_APIC_BASE).
 */
static void regs_reset(struct dm_lapic *l, bool keep_id)
{
	if (!keep_id)
		l->xapic_id = (uint8_t)l->cfg.vcpu_id;
	memset(l->isr, 0, sizeof(l->isr));
	memset(l->tmr, 0, sizeof(l->tmr));
	memset(l->irr, 0, sizeof(l->irr));
	for (unsigned i = 0; i < DM_LVT_COUNT; i++)
		l->lvt[i] = LVT_MASKED;
	/* KVM_X86_QUIRK_LINT0_REENABLED: the BSP's PIC works from reset. */
	if (l->cfg.reset_bsp && l->cfg.lint0_reenabled)
		l->lvt[DM_LVT_LINT0] = DM_DELIVERY_EXTINT << 8;
	l->icr_lo = 0;
	l->icr_hi = 0;
	timer_stop(l);
	l->svr = 0xff;
	l->tpr = 0;
	l->ldr = 0;
	l->dfr = 0xf;
	l->tdcr = 0;
	l->esr = 0;
	l->esr_pending = 0;
	l->intr_out = false;
	l->extint_pending = false;
}

/* SDM 11.4.7.3: INIT resets all but the ID and IA32_APIC_BASE. */
static void do_init(struct dm_lapic *l, uint64_t now)
{
	regs_reset(l, true);
	/* SDM 9.4: the BSP restarts at the reset vector, an AP waits for a
	 * SIPI (KVM: the same, by its BSP bit). */
	l->wait_sipi = !(l->apic_base & BASE_BSP);
	vcpu_signal(l, now, DM_VCPU_INIT, 0);
}

static uint64_t base_reserved(const struct dm_lapic *l)
{
	uint64_t r = 0x2ffull | ~((1ull << l->cfg.maxphyaddr) - 1);

	if (!l->cfg.x2apic)
		r |= BASE_EXTD;
	return r;
}

static void hw_enable_changed(struct dm_lapic *l, uint64_t now, bool on)
{
	if (is_kvm(l)) {
		/* KVM keeps every register; enabling rewrites the xAPIC ID. */
		if (on)
			l->xapic_id = (uint8_t)l->cfg.vcpu_id;
		timer_update(l, now);
		return;
	}
	/* SDM 11.4.3: disabling loses the APIC state; enabling again starts
	 * from the power-up state. */
	regs_reset(l, false);
}

/* SDM 11.12.5: only disabled <-> xAPIC -> x2APIC -> disabled. */
static int apic_base_write(struct dm_lapic *l, uint64_t now, uint64_t val)
{
	uint64_t old = l->apic_base;
	unsigned from = base_mode(old), to = base_mode(val);

	if ((val & base_reserved(l)) || to == MODE_INVALID)
		return DM_MSR_GP;
	if ((from == MODE_X2APIC && to == MODE_XAPIC) ||
	    (from == MODE_DISABLED && to == MODE_X2APIC))
		return DM_MSR_GP;
	/* The BSP flag reflects the processor's role; KVM lets it change. */
	if (!l->cfg.bsp_writable)
		val = (val & ~BASE_BSP) | (old & BASE_BSP);
	l->apic_base = val;
	if ((old ^ val) & BASE_EN)
		hw_enable_changed(l, now, val & BASE_EN);
	return DM_MSR_OK;
}

/* ---- Interrupt acceptance, EOI, IPIs ---------------------------------- */

static uint32_t lvt_mode(uint32_t lvt)
{
	return (lvt >> 8) & 7;
}

static bool lint_active(const struct dm_lapic *l, unsigned pin)
{
	bool level = (l->lint_level >> pin) & 1;

	/* KVM's pins are active high whatever the polarity bit says. */
	if (is_kvm(l))
		return level;
	return level != !!(l->lvt[DM_LVT_LINT0 + pin] & LVT_POLARITY);
}

/* SDM 11.5.1: only a Fixed LINT0 honours the trigger bit (LINT1 is edge). */
static bool lint_is_level(unsigned pin, uint32_t lvt)
{
	return pin == 0 && lvt_mode(lvt) == DM_DELIVERY_FIXED &&
	       (lvt & LVT_LEVEL);
}

/* A level LINT0 interrupt is sent while active and Remote IRR is clear. */
static void lint_level_eval(struct dm_lapic *l, uint64_t now, unsigned pin)
{
	unsigned idx = DM_LVT_LINT0 + pin;
	uint32_t lvt = l->lvt[idx];

	if (!dm_lapic_hw_enabled(l) || (lvt & (LVT_MASKED | LVT_REMOTE_IRR)) ||
	    !lint_is_level(pin, lvt) || !lint_active(l, pin))
		return;
	if (accept_fixed(l, now, (uint8_t)(lvt & LVT_VECTOR), true))
		l->lvt[idx] |= LVT_REMOTE_IRR;
}

/*
 * SDM 11.8.5: a level vector's EOI is broadcast to the IOAPICs unless
 * SVR[12] suppresses it.  KVM reports every other EOI to its IOAPIC too.
 */
static void eoi_broadcast(struct dm_lapic *l, uint64_t now, uint8_t v)
{
	const struct dm_lapic_eoi_out *o = &l->eoi_out;

	if (vec_test(l->tmr, v) && !(l->svr & SVR_NO_EOI_BCAST)) {
		if (o->eoi)
			o->eoi(o->opaque, now, v);
	} else if (is_kvm(l) && o->eoi_edge) {
		o->eoi_edge(o->opaque, now, v);
	}
}

/* SDM 11.8.5: EOI retires the highest ISR bit whatever value is written. */
static void eoi_write(struct dm_lapic *l, uint64_t now)
{
	int v = vec_highest(l->isr);
	uint32_t *lint0 = &l->lvt[DM_LVT_LINT0];

	if (v < 0)
		return;
	vec_clear(l->isr, (unsigned)v);
	eoi_broadcast(l, now, (uint8_t)v);
	if (vec_test(l->tmr, (unsigned)v)) {
		if ((*lint0 & LVT_REMOTE_IRR) &&
		    (*lint0 & LVT_VECTOR) == (unsigned)v) {
			*lint0 &= ~LVT_REMOTE_IRR;
			lint_level_eval(l, now, 0);
		}
	}
	update_intr(l);
}

static void send_ipi(struct dm_lapic *l, uint64_t now, uint32_t lo,
		     uint32_t dest)
{
	unsigned mode = lvt_mode(lo);
	struct dm_apic_msg m = {
		.dest = dest,
		.vector = (uint8_t)(lo & 0xff),
		.delivery = (uint8_t)mode,
		.logical = (lo >> 11) & 1,
		.assert = (lo >> 14) & 1,
		.level_trig = (lo >> 15) & 1,
		.shorthand = (lo >> 18) & 3,
		.source = (int16_t)l->cfg.vcpu_id,
	};

	/* SDM 11.6.1: 011 is reserved and ExtINT is not an IPI mode. */
	if (mode == 3 || mode == DM_DELIVERY_EXTINT)
		return;
	/* SDM 11.5.3: the sender refuses an illegal vector (KVM sends it). */
	if ((mode == DM_DELIVERY_FIXED || mode == DM_DELIVERY_LOWEST) &&
	    m.vector < 16 && !is_kvm(l)) {
		record_error(l, now, ESR_SEND_ILLEGAL);
		return;
	}
	if (l->bus.deliver)
		l->bus.deliver(l->bus.opaque, now, &m);
}

int dm_lapic_accept(struct dm_lapic *l, uint64_t now,
		    const struct dm_apic_msg *m)
{
	/* SDM 11.4.3: a hardware-disabled APIC is off the bus. */
	if (!dm_lapic_hw_enabled(l))
		return 0;
	switch (m->delivery) {
	case DM_DELIVERY_FIXED:
	case DM_DELIVERY_LOWEST:
		/* KVM drops a level-triggered message that de-asserts. */
		if (is_kvm(l) && m->level_trig && !m->assert)
			return 0;
		return accept_fixed(l, now, m->vector, m->level_trig);
	case DM_DELIVERY_SMI:
		vcpu_signal(l, now, DM_VCPU_SMI, 0);
		return 1;
	case DM_DELIVERY_NMI:
		vcpu_signal(l, now, DM_VCPU_NMI, 0);
		return 1;
	case DM_DELIVERY_INIT:
		/* INIT level de-assert: ignored since the Pentium 4. */
		if (m->level_trig && !m->assert)
			return 0;
		do_init(l, now);
		return 1;
	case DM_DELIVERY_SIPI:
		/* SDM 9.4.4: honoured only in wait-for-SIPI. */
		if (!l->wait_sipi)
			return 0;
		l->wait_sipi = false;
		vcpu_signal(l, now, DM_VCPU_SIPI, m->vector);
		return 1;
	case DM_DELIVERY_EXTINT:
		/* KVM's LAPIC ignores ExtINT messages (SPEC-NOTES 3.4). */
		if (is_kvm(l))
			return 0;
		l->extint_pending = true;
		return 1;
	default:
		return 0;
	}
}

void dm_lapic_set_lint(void *opaque, uint64_t now, unsigned pin, int level)
{
	struct dm_lapic *l = opaque;
	bool old_level, was_active;
	uint32_t lvt;

	if (pin > 1)
		return;
	old_level = (l->lint_level >> pin) & 1;
	was_active = lint_active(l, pin);
	l->lint_level = (uint8_t)((l->lint_level & ~(1u << pin)) |
				  ((unsigned)!!level << pin));
	if (!dm_lapic_hw_enabled(l)) {
		/* SDM 11.4.3: with the APIC off, LINT0 is INTR (sampled by
		 * intack) and LINT1 is NMI. */
		if (pin == 1 && level && !old_level)
			vcpu_signal(l, now, DM_VCPU_NMI, 0);
		return;
	}
	lvt = l->lvt[DM_LVT_LINT0 + pin];
	if (lvt & LVT_MASKED)
		return;
	if (lint_is_level(pin, lvt)) {
		lint_level_eval(l, now, pin);
		return;
	}
	if (was_active || !lint_active(l, pin))
		return;
	switch (lvt_mode(lvt)) {
	case DM_DELIVERY_FIXED:
		accept_fixed(l, now, (uint8_t)(lvt & LVT_VECTOR), false);
		break;
	case DM_DELIVERY_SMI:
		vcpu_signal(l, now, DM_VCPU_SMI, 0);
		break;
	case DM_DELIVERY_NMI:
		vcpu_signal(l, now, DM_VCPU_NMI, 0);
		break;
	case DM_DELIVERY_INIT:
		do_init(l, now);
		break;
	default:
		/* ExtINT is level-sensitive and sampled by intack; the
		 * reserved modes deliver nothing. */
		break;
	}
}

/* An ExtINT is pending: LINT0 as INTR, an ExtINT LVT, or a message. */
static bool extint_source(const struct dm_lapic *l)
{
	if (!dm_lapic_hw_enabled(l))
		return l->lint_level & 1;
	if (l->extint_pending)
		return true;
	for (unsigned pin = 0; pin < 2; pin++) {
		uint32_t lvt = l->lvt[DM_LVT_LINT0 + pin];

		if (!(lvt & LVT_MASKED) &&
		    lvt_mode(lvt) == DM_DELIVERY_EXTINT && lint_active(l, pin))
			return true;
	}
	return false;
}

/* SDM 11.9: INTR was raised for an interrupt the TPR has since masked. */
static bool spurious_due(const struct dm_lapic *l)
{
	return l->intr_out && !is_kvm(l) && dm_lapic_hw_enabled(l);
}

/*
 * ExtINT goes first: it bypasses the IRR and the PPR (SDM 11.5.1), and KVM
 * also asks the PIC before its LAPIC.
 */
int dm_lapic_intack(struct dm_lapic *l, uint64_t now)
{
	int v;

	if (extint_source(l)) {
		l->extint_pending = false;
		v = l->extint_ack ? l->extint_ack(l->extint_opaque, now) : -1;
		return v < 0 ? -1 : v & 0xff;
	}
	v = fixed_deliverable(l);
	if (v >= 0) {
		vec_clear(l->irr, (unsigned)v);
		vec_set(l->isr, (unsigned)v);
		l->intr_out = false;
		update_intr(l);
		if ((unsigned)v == (l->lvt[DM_LVT_TIMER] & LVT_VECTOR))
			timer_update(l, now);
		return v;
	}
	if (spurious_due(l)) {
		l->intr_out = false;
		return l->svr & 0xff;
	}
	return -1;
}

int dm_lapic_pending(const struct dm_lapic *l)
{
	int v;

	if (extint_source(l))
		return DM_LAPIC_EXTINT;
	v = fixed_deliverable(l);
	if (v >= 0)
		return v;
	return spurious_due(l) ? l->svr & 0xff : -1;
}

/* ---- Registers -------------------------------------------------------- */

/* SDM 11.12.10.2: the x2APIC LDR follows from the x2APIC ID. */
uint32_t dm_lapic_ldr(const struct dm_lapic *l)
{
	uint32_t id = l->cfg.vcpu_id;

	if (!dm_lapic_x2apic(l))
		return (uint32_t)l->ldr << 24;
	return ((id >> 4) << 16) | (1u << (id & 0xf));
}

uint32_t dm_lapic_apic_id(const struct dm_lapic *l)
{
	return dm_lapic_x2apic(l) ? l->cfg.vcpu_id : l->xapic_id;
}

uint32_t dm_lapic_version(const struct dm_lapic *l)
{
	return APIC_VERSION | (uint32_t)(l->cfg.lvts - 1) << 16 |
	       (l->cfg.directed_eoi ? 1u << 24 : 0);
}

static int reg_kind(const struct dm_lapic *l, unsigned reg)
{
	bool x2 = dm_lapic_x2apic(l);

	if (reg >= R_ISR && reg < R_IRR + 8)
		return K_RO;
	if (reg >= R_LVT_FIRST && reg <= R_LVT_LAST)
		return K_RW;
	switch (reg) {
	case R_ID:
	case R_LDR:
		return x2 ? K_RO : K_RW;
	case R_VER:
	case R_PPR:
	case R_TMCCT:
		return K_RO;
	case R_APR:
	case R_RRD:
		return x2 ? K_NONE : K_RO;
	case R_DFR:
	case R_ICR2:
		return x2 ? K_NONE : K_RW;
	case R_EOI:
		return K_WO;
	case R_SELF_IPI:
		return x2 ? K_WO : K_NONE;
	case R_CMCI:
		return l->cfg.lvts > 6 ? K_RW : K_NONE;
	case R_TPR:
	case R_SVR:
	case R_ESR:
	case R_ICR:
	case R_TMICT:
	case R_TDCR:
		return K_RW;
	default:
		return K_NONE;
	}
}

static uint32_t reg_value(const struct dm_lapic *l, uint64_t now, unsigned reg)
{
	if (reg >= R_ISR && reg < R_TMR)
		return l->isr[reg - R_ISR];
	if (reg >= R_TMR && reg < R_IRR)
		return l->tmr[reg - R_TMR];
	if (reg >= R_IRR && reg < R_IRR + 8)
		return l->irr[reg - R_IRR];
	if (reg >= R_LVT_FIRST && reg <= R_LVT_LAST)
		return l->lvt[reg - R_LVT_FIRST];
	switch (reg) {
	case R_ID:
		return dm_lapic_x2apic(l) ? l->cfg.vcpu_id
					  : (uint32_t)l->xapic_id << 24;
	case R_VER:
		return dm_lapic_version(l);
	case R_TPR:
		return l->tpr;
	case R_APR:
		return l->cfg.apr_zero ? 0 : dm_lapic_arb_priority(l);
	case R_PPR:
		return dm_lapic_ppr(l);
	case R_LDR:
		return dm_lapic_ldr(l);
	case R_DFR:
		return (uint32_t)l->dfr << 28 | 0x0fffffffu;
	case R_SVR:
		return l->svr;
	case R_ESR:
		return l->esr;
	case R_CMCI:
		return l->lvt[DM_LVT_CMCI];
	case R_ICR:
		return l->icr_lo;
	case R_ICR2:
		return l->icr_hi;
	case R_TMICT:
		return l->tmict;
	case R_TMCCT:
		return dm_lapic_current_count(l, now);
	case R_TDCR:
		return l->tdcr;
	default:
		return 0; /* RRD, and EOI read in xAPIC mode */
	}
}

static int reg_read(const struct dm_lapic *l, uint64_t now, unsigned reg,
		    uint32_t *val)
{
	int kind = reg_kind(l, reg);

	*val = 0;
	/* A write-only register reads 0 in xAPIC mode, #GP in x2APIC. */
	if (kind == K_NONE || (kind == K_WO && dm_lapic_x2apic(l)))
		return REG_NONE;
	if (kind != K_WO)
		*val = reg_value(l, now, reg);
	return REG_OK;
}

static uint32_t lvt_write_mask(const struct dm_lapic *l, unsigned idx)
{
	static const uint32_t mask[DM_LVT_COUNT] = {
		[DM_LVT_TIMER] = 0x000700ff,   /* vector, mask, mode */
		[DM_LVT_THERMAL] = 0x000107ff, /* + delivery mode */
		[DM_LVT_PERF] = 0x000107ff,
		[DM_LVT_LINT0] = 0x0001a7ff, /* + polarity, trigger */
		[DM_LVT_LINT1] = 0x0001a7ff,
		[DM_LVT_ERROR] = 0x000100ff,
		[DM_LVT_CMCI] = 0x000107ff,
	};
	uint32_t m = mask[idx];

	/* KVM keeps what the guest writes into the delivery status bit and,
	 * in the LINT entries, Remote IRR (SPEC-NOTES 4.2). */
	if (is_kvm(l))
		m |= LVT_STATUS | (idx == DM_LVT_LINT0 || idx == DM_LVT_LINT1
					   ? LVT_REMOTE_IRR
					   : 0);
	return m;
}

static void lvt_write(struct dm_lapic *l, uint64_t now, unsigned idx,
		      uint32_t val)
{
	uint32_t v = val & lvt_write_mask(l, idx);
	unsigned pin = idx - DM_LVT_LINT0;

	/* SDM 11.4.7.2: a software-disabled APIC keeps every LVT masked. */
	if (!dm_lapic_sw_enabled(l) && l->cfg.svr_masks)
		v |= LVT_MASKED;
	if (idx == DM_LVT_TIMER) {
		lvt_timer_write(l, now, v);
		return;
	}
	if (idx != DM_LVT_LINT0 && idx != DM_LVT_LINT1) {
		l->lvt[idx] = v;
		return;
	}
	/* Remote IRR is the model's (read-only) while the entry is a level
	 * Fixed one; otherwise it means nothing and reads 0. */
	if (!is_kvm(l)) {
		v |= l->lvt[idx] & LVT_REMOTE_IRR;
		if (!lint_is_level(pin, v))
			v &= ~LVT_REMOTE_IRR;
	}
	l->lvt[idx] = v;
	lint_level_eval(l, now, pin);
}

static void svr_write(struct dm_lapic *l, uint64_t now, uint32_t val)
{
	uint32_t mask = 0x3ffu | (l->cfg.directed_eoi ? SVR_NO_EOI_BCAST : 0);

	l->svr = (uint16_t)(val & mask);
	if (!dm_lapic_sw_enabled(l) && l->cfg.svr_masks)
		for (unsigned i = 0; i < l->cfg.lvts; i++)
			l->lvt[i] |= LVT_MASKED;
	timer_update(l, now);
}

static int reg_write(struct dm_lapic *l, uint64_t now, unsigned reg,
		     uint32_t val)
{
	int kind = reg_kind(l, reg);

	if (kind == K_NONE)
		return REG_NONE;
	if (kind == K_RO)
		return REG_RO;
	if (reg >= R_LVT_FIRST && reg <= R_LVT_LAST) {
		lvt_write(l, now, reg - R_LVT_FIRST, val);
		return REG_OK;
	}
	switch (reg) {
	case R_ID:
		l->xapic_id = (uint8_t)(val >> 24);
		break;
	case R_TPR:
		l->tpr = (uint8_t)val;
		update_intr(l);
		break;
	case R_EOI:
		/* SDM 11.12.1.2: a non-zero x2APIC EOI write faults; KVM
		 * takes any value. */
		if (dm_lapic_x2apic(l) && val && !is_kvm(l))
			return REG_GP;
		eoi_write(l, now);
		break;
	case R_LDR:
		l->ldr = (uint8_t)(val >> 24);
		break;
	case R_DFR:
		l->dfr = (uint8_t)(val >> 28);
		break;
	case R_SVR:
		svr_write(l, now, val);
		break;
	case R_ESR:
		/* SPEC-NOTES 4.8: the write snapshots the collected errors. */
		if (dm_lapic_x2apic(l) && val)
			return REG_GP;
		l->esr = l->esr_pending;
		l->esr_pending = 0;
		break;
	case R_CMCI:
		lvt_write(l, now, DM_LVT_CMCI, val);
		break;
	case R_ICR: /* xAPIC: the low half sends (SDM 11.6.1) */
		l->icr_lo = val & ICR_MASK;
		send_ipi(l, now, l->icr_lo, l->icr_hi >> 24);
		break;
	case R_ICR2:
		l->icr_hi = val & 0xff000000u;
		break;
	case R_TMICT:
		tmict_write(l, now, val);
		break;
	case R_TDCR:
		tdcr_write(l, now, val);
		break;
	case R_SELF_IPI:
		if (val & ~0xffu)
			return REG_GP;
		send_ipi(l, now, (uint32_t)DM_SHORTHAND_SELF << 18 | val, 0);
		break;
	}
	return REG_OK;
}

static uint64_t size_mask(unsigned size)
{
	return size >= 8 ? UINT64_MAX : (1ull << (8 * size)) - 1;
}

uint64_t dm_lapic_mmio_read(void *opaque, uint64_t now, uint64_t offset,
			    unsigned size)
{
	struct dm_lapic *l = opaque;
	unsigned byte = (unsigned)(offset & 0xf);
	uint32_t val;

	/* SDM 11.4.3, 11.12.2: with the xAPIC page off nothing answers. */
	if (!dm_lapic_mmio_enabled(l))
		return size_mask(size);
	if (offset >= DM_LAPIC_MMIO_SIZE ||
	    reg_read(l, now, (unsigned)(offset >> 4), &val) != REG_OK) {
		record_error(l, now, ESR_ILLEGAL_REG);
		return 0;
	}
	/* A register is the low dword of its 16-byte slot (SDM 11.4.1);
	 * the rest of the slot reads 0. */
	if (byte + size > 4)
		return 0;
	return (val >> (8 * byte)) & size_mask(size);
}

void dm_lapic_mmio_write(void *opaque, uint64_t now, uint64_t offset,
			 unsigned size, uint64_t value)
{
	struct dm_lapic *l = opaque;

	if (!dm_lapic_mmio_enabled(l))
		return;
	/* SDM 11.4.1: registers take aligned 32-bit writes; others are
	 * dropped, as KVM drops them. */
	if (size != 4 || (offset & 0xf) || offset >= DM_LAPIC_MMIO_SIZE)
		return;
	if (reg_write(l, now, (unsigned)(offset >> 4), (uint32_t)value) ==
	    REG_NONE)
		record_error(l, now, ESR_ILLEGAL_REG);
}

static bool x2apic_msr(uint32_t msr)
{
	return msr >= DM_MSR_X2APIC_FIRST && msr <= DM_MSR_X2APIC_LAST;
}

int dm_lapic_msr_read(struct dm_lapic *l, uint64_t now, uint32_t msr,
		      uint64_t *val)
{
	uint32_t v;

	*val = 0;
	if (msr == DM_MSR_APIC_BASE) {
		*val = l->apic_base;
		return DM_MSR_OK;
	}
	if (msr == DM_MSR_TSC_DEADLINE) {
		/* SDM 11.5.4.1: reads 0 outside TSC-deadline mode. */
		if (dm_lapic_hw_enabled(l) && tsc_mode(l))
			*val = l->tsc_deadline;
		return DM_MSR_OK;
	}
	if (!x2apic_msr(msr))
		return DM_MSR_UNHANDLED;
	/* SDM 11.12.1.2: these MSRs exist only in x2APIC mode. */
	if (!dm_lapic_x2apic(l))
		return DM_MSR_GP;
	if (msr == DM_MSR_X2APIC_FIRST + R_ICR) {
		*val = (uint64_t)l->icr_hi << 32 | l->icr_lo;
		return DM_MSR_OK;
	}
	if (reg_read(l, now, msr - DM_MSR_X2APIC_FIRST, &v) != REG_OK)
		return DM_MSR_GP;
	*val = v;
	return DM_MSR_OK;
}

/* SDM 11.12.9: the x2APIC ICR is one 64-bit register; one WRMSR sends. */
static int x2apic_icr_write(struct dm_lapic *l, uint64_t now, uint64_t val)
{
	uint32_t lo = (uint32_t)val;

	if (lo & ICR_X2_RESERVED)
		return DM_MSR_GP;
	l->icr_lo = lo & ICR_MASK;
	l->icr_hi = (uint32_t)(val >> 32);
	send_ipi(l, now, l->icr_lo, l->icr_hi);
	return DM_MSR_OK;
}

int dm_lapic_msr_write(struct dm_lapic *l, uint64_t now, uint32_t msr,
		       uint64_t val)
{
	if (msr == DM_MSR_APIC_BASE)
		return apic_base_write(l, now, val);
	if (msr == DM_MSR_TSC_DEADLINE) {
		/* SDM 11.5.4.1: ignored outside TSC-deadline mode. */
		if (dm_lapic_hw_enabled(l) && tsc_mode(l))
			tsc_deadline_write(l, now, val);
		return DM_MSR_OK;
	}
	if (!x2apic_msr(msr))
		return DM_MSR_UNHANDLED;
	if (!dm_lapic_x2apic(l))
		return DM_MSR_GP;
	if (msr == DM_MSR_X2APIC_FIRST + R_ICR)
		return x2apic_icr_write(l, now, val);
	/* SDM 11.12.1.2: bits 63:32 of every other register are reserved. */
	if (val >> 32)
		return DM_MSR_GP;
	if (reg_write(l, now, msr - DM_MSR_X2APIC_FIRST, (uint32_t)val))
		return DM_MSR_GP;
	return DM_MSR_OK;
}

/* ---- Destination matching (used by sim/apicbus.c) ------------------- */

/* KVM: a non-IPI broadcast 0xFF reaches x2APIC-mode vcpus as 0xFFFFFFFF
 * (its x2APIC broadcast quirk, on unless KVM_CAP_X2APIC_API). */
static uint32_t msg_mda(const struct dm_lapic *l, const struct dm_apic_msg *m)
{
	if (is_kvm(l) && m->source < 0 && m->dest == 0xff && dm_lapic_x2apic(l))
		return 0xffffffffu;
	return m->dest;
}

static bool match_physical(const struct dm_lapic *l, uint32_t mda)
{
	if (dm_lapic_x2apic(l))
		return mda == 0xffffffffu || mda == l->cfg.vcpu_id;
	if (is_kvm(l)) {
		if (mda == 0xff)
			return true;
		/* KVM's hotplug rule: IDs above 0xFF name the x2APIC ID. */
		return mda > 0xff ? mda == l->cfg.vcpu_id : mda == l->xapic_id;
	}
	/* An xAPIC decodes the low 8 bits of the destination. */
	mda &= 0xff;
	return mda == 0xff || mda == l->xapic_id;
}

/* SDM 11.6.2.2 and 11.12.10. */
static bool match_logical(const struct dm_lapic *l, uint32_t mda)
{
	bool cluster;

	if (dm_lapic_x2apic(l)) {
		uint32_t ldr = dm_lapic_ldr(l);

		return mda == 0xffffffffu ||
		       ((ldr >> 16) == (mda >> 16) && (ldr & mda & 0xffff));
	}
	if (!is_kvm(l))
		mda &= 0xff;
	if (mda == 0xff)
		return true;
	if (l->dfr == 0xf)
		return (l->ldr & mda) != 0;
	if (l->dfr != 0)
		return false;
	/* Cluster address 0xF names every cluster (not in KVM). */
	cluster = (mda >> 4) == (uint32_t)(l->ldr >> 4) ||
		  (!is_kvm(l) && (mda >> 4) == 0xf);
	return cluster && (l->ldr & mda & 0xf);
}

bool dm_lapic_match(const struct dm_lapic *l, const struct dm_apic_msg *m)
{
	uint32_t mda = msg_mda(l, m);

	switch (m->shorthand) {
	case DM_SHORTHAND_SELF:
		return m->source == (int32_t)l->cfg.vcpu_id;
	case DM_SHORTHAND_ALL:
		return true;
	case DM_SHORTHAND_OTHERS:
		return m->source != (int32_t)l->cfg.vcpu_id;
	default:
		return m->logical ? match_logical(l, mda)
				  : match_physical(l, mda);
	}
}

/* P6 focus processor: the vector is already pending or in service here. */
bool dm_lapic_focus(const struct dm_lapic *l, uint8_t vector)
{
	return !(l->svr & SVR_FOCUS_OFF) &&
	       (vec_test(l->irr, vector) || vec_test(l->isr, vector));
}

/* ---- Power-up and state ----------------------------------------------- */

void dm_lapic_init(struct dm_lapic *l, const struct dm_config *cfg,
		   struct dm_eventq *q, uint32_t vcpu_id, bool bsp)
{
	memset(l, 0, sizeof(*l));
	l->cfg = (struct dm_lapic_cfg){
		.bus_hz = cfg->lapic_hz,
		.tsc_hz = cfg->tsc_hz,
		.min_period_ns = (uint64_t)cfg->lapic_min_period_us * 1000,
		.vcpu_id = vcpu_id,
		.flavor = (uint8_t)cfg->lapic_flavor,
		.lvts = cfg->lapic_lvts > 6 ? 7 : 6,
		.maxphyaddr = (uint8_t)cfg->lapic_maxphyaddr,
		.reset_bsp = bsp,
		.x2apic = cfg->lapic_x2apic,
		.directed_eoi = cfg->lapic_directed_eoi,
		.esr = cfg->lapic_esr,
		.apr_zero = cfg->lapic_apr_zero,
		.lint0_reenabled = cfg->lapic_lint0_reenabled,
		.svr_masks = cfg->lapic_svr_masks,
		.bsp_writable = cfg->lapic_bsp_writable,
		.ap_init_first = cfg->lapic_ap_init_first,
	};
	dm_timer_init(&l->timer, q, timer_fire, l);
	l->apic_base = DM_LAPIC_DEFAULT_BASE | BASE_EN | (bsp ? BASE_BSP : 0);
	regs_reset(l, false);
	l->wait_sipi = !bsp && !cfg->lapic_ap_init_first;
}

static uint32_t lvt_valid_mask(const struct dm_lapic *l, unsigned idx)
{
	uint32_t m = lvt_write_mask(l, idx);

	if (idx == DM_LVT_LINT0 || idx == DM_LVT_LINT1)
		m |= LVT_REMOTE_IRR;
	return m;
}

static int validate_lvts(const struct dm_lapic *l, struct dm_error *err)
{
	for (unsigned i = 0; i < DM_LVT_COUNT; i++) {
		uint32_t m = lvt_valid_mask(l, i);
		bool lint0_quirk = i == DM_LVT_LINT0 && l->cfg.lint0_reenabled;

		if (l->lvt[i] & ~m)
			return dm_errorf(err,
					 "lvt[%u]: 0x%" PRIx32
					 " has bits outside 0x%" PRIx32,
					 i, l->lvt[i], m);
		if (i >= l->cfg.lvts && l->lvt[i] != LVT_MASKED)
			return dm_errorf(err,
					 "lvt[%u]: 0x%" PRIx32
					 " but this APIC has no such LVT",
					 i, l->lvt[i]);
		if (i < l->cfg.lvts && !dm_lapic_sw_enabled(l) &&
		    l->cfg.svr_masks && !(l->lvt[i] & LVT_MASKED) &&
		    !lint0_quirk)
			return dm_errorf(err,
					 "lvt[%u]: unmasked while the APIC is "
					 "software-disabled",
					 i);
	}
	return 0;
}

static int validate_regs(const struct dm_lapic *l, struct dm_error *err)
{
	if (l->apic_base & base_reserved(l))
		return dm_errorf(err, "apic_base: reserved bits 0x%" PRIx64,
				 l->apic_base & base_reserved(l));
	if (base_mode(l->apic_base) == MODE_INVALID)
		return dm_errorf(err, "apic_base: EXTD set without EN");
	if (l->svr & ~(0x3ffu | SVR_NO_EOI_BCAST))
		return dm_errorf(err, "svr: reserved bits 0x%x",
				 l->svr & ~(0x3ffu | SVR_NO_EOI_BCAST));
	if (l->icr_lo & ~ICR_MASK)
		return dm_errorf(err, "icr_lo: reserved bits 0x%" PRIx32,
				 l->icr_lo & ~ICR_MASK);
	if ((l->svr & SVR_NO_EOI_BCAST) && !l->cfg.directed_eoi)
		return dm_errorf(err, "svr: bit 12 without EOI-broadcast "
				      "suppression support");
	if ((l->esr | l->esr_pending) & ~ESR_BITS)
		return dm_errorf(err, "%s: bits outside 0x%x",
				 l->esr & ~ESR_BITS ? "esr" : "esr_pending",
				 ESR_BITS);
	if (l->tdcr & 4)
		return dm_errorf(err, "tdcr: bit 2 is reserved");
	if (!is_kvm(l) && ((l->irr[0] | l->isr[0] | l->tmr[0]) & 0xffff))
		return dm_errorf(err, "%s: illegal vectors 0-15 set",
				 l->irr[0] & 0xffff   ? "irr[0]"
				 : l->isr[0] & 0xffff ? "isr[0]"
						      : "tmr[0]");
	if (is_kvm(l) && l->extint_pending)
		return dm_errorf(err, "extint_pending: set with lapic=kvm");
	return validate_lvts(l, err);
}

static bool kvm_period_ok(const struct dm_lapic *l)
{
	uint64_t ns = dm_lapic_count_ns(l, l->tmict);
	uint64_t clamped =
		ns && ns < l->cfg.min_period_ns ? l->cfg.min_period_ns : ns;

	return l->tm_period == ns || l->tm_period == clamped;
}

static int validate_timer(const struct dm_lapic *l, struct dm_error *err)
{
	bool armed = dm_timer_pending(&l->timer);

	if (tsc_mode(l)) {
		if (l->tmict || l->tm_count || l->tm_period)
			return dm_errorf(err, "tmict: a count in TSC-deadline "
					      "mode");
		if (armed && !l->tsc_deadline)
			return dm_errorf(err, "timer: armed with no deadline");
		return 0;
	}
	if (l->tsc_deadline)
		return dm_errorf(err, "tsc_deadline: set outside TSC-deadline "
				      "mode");
	if (is_kvm(l)) {
		if (l->tm_count || l->tm_base)
			return dm_errorf(err, "tm_count: datasheet timer "
					      "state with lapic=kvm");
		if (!kvm_period_ok(l))
			return dm_errorf(err,
					 "tm_period: %" PRIu64
					 " ns does not follow from tmict",
					 l->tm_period);
		if (armed && !(l->tm_period && l->tm_target))
			return dm_errorf(err, "timer: armed with no expiry");
		return 0;
	}
	if (l->tm_target || l->tm_period)
		return dm_errorf(err, "tm_target: kvm timer state with "
				      "lapic=datasheet");
	if (l->tm_count > l->tmict)
		return dm_errorf(err,
				 "tm_count: %" PRIu32 " exceeds tmict %" PRIu32,
				 l->tm_count, l->tmict);
	if (!l->tm_count && (l->tm_base || armed))
		return dm_errorf(err, "tm_count: 0 (stopped) but the timer "
				      "is based or armed");
	return 0;
}

static int lapic_validate(const void *state, struct dm_error *err)
{
	const struct dm_lapic *l = state;

	if (validate_regs(l, err))
		return -1;
	return validate_timer(l, err);
}

#define HEX_FIELD(ft, member, fid, maxval) \
	DM_SCALAR(ft, struct dm_lapic, member, fid, maxval, DM_FF_HEX)
#define HEX_ARRAY(member, fid, maxval) \
	DM_ARRAY(DM_FT_U32, struct dm_lapic, member, fid, maxval, DM_FF_HEX)

static const struct dm_field lapic_fields[] = {
	HEX_FIELD(DM_FT_U64, apic_base, 1, 0x000ffffffffffd00ull),
	DM_X8(struct dm_lapic, xapic_id, 2),
	DM_X8(struct dm_lapic, tpr, 3),
	DM_X8(struct dm_lapic, ldr, 4),
	HEX_FIELD(DM_FT_U8, dfr, 5, 0xf),
	HEX_FIELD(DM_FT_U16, svr, 6, 0x13ff),
	HEX_ARRAY(isr, 7, UINT32_MAX),
	HEX_ARRAY(tmr, 8, UINT32_MAX),
	HEX_ARRAY(irr, 9, UINT32_MAX),
	HEX_FIELD(DM_FT_U8, esr, 10, ESR_BITS),
	HEX_FIELD(DM_FT_U8, esr_pending, 11, ESR_BITS),
	HEX_FIELD(DM_FT_U32, icr_lo, 12, ICR_MASK),
	DM_X32(struct dm_lapic, icr_hi, 13),
	HEX_ARRAY(lvt, 14, 0x0007f7ff),
	DM_U32(struct dm_lapic, tmict, 15, UINT32_MAX),
	HEX_FIELD(DM_FT_U8, tdcr, 16, 0xb),
	DM_U32(struct dm_lapic, tm_count, 17, UINT32_MAX),
	DM_U64(struct dm_lapic, tm_base, 18, UINT64_MAX),
	DM_U64(struct dm_lapic, tm_target, 19, UINT64_MAX),
	DM_U64(struct dm_lapic, tm_period, 20, UINT64_MAX),
	DM_X64(struct dm_lapic, tsc_deadline, 21),
	DM_TIMER(struct dm_lapic, timer, 22),
	DM_U8(struct dm_lapic, lint_level, 23, 3),
	DM_BOOL(struct dm_lapic, wait_sipi, 24),
	DM_BOOL(struct dm_lapic, intr_out, 25),
	DM_BOOL(struct dm_lapic, extint_pending, 26),
};

const struct dm_state_desc dm_lapic_state_desc = DM_STATE_DESC(
	"lapic", 1, struct dm_lapic, lapic_fields, .validate = lapic_validate);
