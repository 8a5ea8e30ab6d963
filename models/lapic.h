/* SPDX-License-Identifier: MIT */
/*
 * Local APIC, one per vcpu: xAPIC MMIO page, x2APIC MSRs, IA32_APIC_BASE,
 * IA32_TSC_DEADLINE, the LVTs and the timer (Intel SDM vol. 3 ch. 11;
 * SPEC-NOTES 4).  docs/devices/lapic.md describes every register, option
 * and KVM difference.
 *
 * Wiring the machine does after dm_lapic_init():
 * - bus: IPIs go out here (dm_apicbus_deliver with the machine's bus);
 * - eoi_out: EOI broadcasts for level-triggered vectors (dm_ioapic_eoi)
 *   and, lapic=kvm, the other EOIs (dm_ioapic_eoi_edge);
 * - extint_ack/extint_opaque: the PIC's INTA, run by dm_lapic_intack when
 *   an ExtINT source (LINT0 in ExtINT mode, an ExtINT message) is pending;
 * - signal: NMI, INIT, SIPI and SMI reaching this vcpu;
 * - dm_lapic_set_lint as the dm_irq_fn of the lines driving LINT0/LINT1;
 * - MMIO: dm_lapic_mmio_read/write at dm_lapic_mmio_base() while
 *   dm_lapic_mmio_enabled() (xAPIC mode only), for this vcpu's accesses.
 *
 * The machine must run dm_eventq_run_until(q, now) before applying an access
 * at now, so that timer expiries at or before now have been delivered.
 */
#ifndef DM_LAPIC_H
#define DM_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/apicbus.h"
#include "sim/state.h"
#include "sim/timer.h"

struct dm_config;

/* MSR access results. */
#define DM_MSR_OK 0
#define DM_MSR_GP 1	   /* the guest takes #GP; nothing was applied */
#define DM_MSR_UNHANDLED 2 /* not a LAPIC MSR */

#define DM_MSR_APIC_BASE 0x1b
#define DM_MSR_TSC_DEADLINE 0x6e0
#define DM_MSR_X2APIC_FIRST 0x800
#define DM_MSR_X2APIC_LAST 0x8ff

#define DM_LAPIC_MMIO_SIZE 0x1000
#define DM_LAPIC_DEFAULT_BASE 0xfee00000u

/* dm_lapic_pending(): an ExtINT is pending; the PIC supplies the vector. */
#define DM_LAPIC_EXTINT 0x100

/* Events that reach the vcpu itself rather than its IRR. */
enum dm_vcpu_event {
	DM_VCPU_NMI,
	DM_VCPU_INIT,
	DM_VCPU_SIPI, /* vector = start page (CS = vector << 8) */
	DM_VCPU_SMI,
};

struct dm_vcpu_signal {
	void (*signal)(void *opaque, uint64_t now, uint32_t vcpu,
		       enum dm_vcpu_event ev, uint8_t vector);
	void *opaque;
};

/*
 * EOIs out to the IOAPIC(s).  eoi: a level-triggered (TMR-set) vector whose
 * broadcast SVR[12] does not suppress.  eoi_edge (lapic=kvm only, may be
 * NULL): every other EOI, as KVM's LAPIC reports those to its IOAPIC too
 * (kvm_ioapic_send_eoi), so that its ack notifiers run.
 */
struct dm_lapic_eoi_out {
	void (*eoi)(void *opaque, uint64_t now, uint8_t vector);
	void *opaque;
	void (*eoi_edge)(void *opaque, uint64_t now, uint8_t vector);
};

/* LVT entries, in the order of the lvt[] array. */
enum dm_lapic_lvt {
	DM_LVT_TIMER,
	DM_LVT_THERMAL,
	DM_LVT_PERF,
	DM_LVT_LINT0,
	DM_LVT_LINT1,
	DM_LVT_ERROR,
	DM_LVT_CMCI,
	DM_LVT_COUNT,
};

/* The machine options a LAPIC uses, copied at init (not state). */
struct dm_lapic_cfg {
	uint64_t bus_hz;
	uint64_t tsc_hz;
	uint64_t min_period_ns;
	uint32_t vcpu_id; /* initial APIC ID, and the x2APIC ID */
	uint8_t flavor;	  /* enum dm_lapic_flavor */
	uint8_t lvts;
	uint8_t maxphyaddr;
	bool reset_bsp; /* the vcpu the machine starts as BSP */
	bool x2apic;
	bool directed_eoi;
	bool esr;
	bool apr_zero;
	bool lint0_reenabled;
	bool svr_masks; /* software disable masks the LVTs */
	bool bsp_writable;
	bool ap_init_first;
};

struct dm_lapic {
	/* Migratable state: dm_lapic_state_desc. */
	uint64_t apic_base; /* IA32_APIC_BASE */
	uint32_t isr[8];
	uint32_t tmr[8];
	uint32_t irr[8];
	uint32_t lvt[DM_LVT_COUNT];
	uint32_t icr_lo;
	uint32_t icr_hi; /* xAPIC: bits 31:24; x2APIC: 32-bit destination */
	uint32_t tmict;
	uint32_t tm_count;  /* datasheet: count at tm_base (0 = stopped) */
	uint64_t tm_base;   /* datasheet: bus tick the count was based at */
	uint64_t tm_target; /* kvm: expiry (periodic: any one), 0 = none */
	uint64_t tm_period; /* kvm: period in ns, 0 = no timer */
	uint64_t tsc_deadline;
	struct dm_timer timer;
	uint16_t svr;
	uint8_t xapic_id;
	uint8_t tpr;
	uint8_t ldr; /* xAPIC LDR bits 31:24 */
	uint8_t dfr; /* xAPIC DFR bits 31:28 */
	uint8_t tdcr;
	uint8_t esr;	     /* what reads return */
	uint8_t esr_pending; /* errors collected since the last ESR write */
	uint8_t lint_level;  /* bit n: LINTn input level */
	bool wait_sipi;
	bool intr_out;	     /* INTR asserted to the core since its last INTA */
	bool extint_pending; /* an ExtINT message awaits INTA */

	/* Configuration and wiring, kept by dm_state_load. */
	struct dm_lapic_cfg cfg;
	struct dm_apic_sink bus;
	struct dm_lapic_eoi_out eoi_out;
	int (*extint_ack)(void *opaque, uint64_t now);
	void *extint_opaque;
	struct dm_vcpu_signal signal;
};

extern const struct dm_state_desc dm_lapic_state_desc;

/* Power-up state.  vcpu_id is the initial APIC ID (0..255). */
void dm_lapic_init(struct dm_lapic *l, const struct dm_config *cfg,
		   struct dm_eventq *q, uint32_t vcpu_id, bool bsp);

/* xAPIC page (sim/io.h signatures; opaque = struct dm_lapic). */
uint64_t dm_lapic_mmio_read(void *opaque, uint64_t now, uint64_t offset,
			    unsigned size);
void dm_lapic_mmio_write(void *opaque, uint64_t now, uint64_t offset,
			 unsigned size, uint64_t value);
uint64_t dm_lapic_mmio_base(const struct dm_lapic *l);
bool dm_lapic_mmio_enabled(const struct dm_lapic *l);

/* MSRs 0x1B, 0x6E0, 0x800-0x8FF: DM_MSR_OK, DM_MSR_GP or DM_MSR_UNHANDLED. */
int dm_lapic_msr_read(struct dm_lapic *l, uint64_t now, uint32_t msr,
		      uint64_t *val);
int dm_lapic_msr_write(struct dm_lapic *l, uint64_t now, uint32_t msr,
		       uint64_t val);

/* A message already routed to this LAPIC; returns 1 if accepted. */
int dm_lapic_accept(struct dm_lapic *l, uint64_t now,
		    const struct dm_apic_msg *m);

/* LINT pins (a dm_irq_fn; opaque = struct dm_lapic, pin 0 or 1). */
void dm_lapic_set_lint(void *opaque, uint64_t now, unsigned pin, int level);

/*
 * The vcpu takes an interrupt now: an ExtINT (vector from extint_ack), else
 * the highest IRR vector above the PPR (moved to the ISR), else the
 * spurious vector if INTR was asserted for an interrupt since masked by the
 * TPR (datasheet), else -1.
 */
int dm_lapic_intack(struct dm_lapic *l, uint64_t now);
/* What dm_lapic_intack would return (DM_LAPIC_EXTINT for ExtINT), or -1. */
int dm_lapic_pending(const struct dm_lapic *l);

/* For the APIC bus (sim/apicbus.c). */
bool dm_lapic_hw_enabled(const struct dm_lapic *l);
bool dm_lapic_sw_enabled(const struct dm_lapic *l);
bool dm_lapic_match(const struct dm_lapic *l, const struct dm_apic_msg *m);
uint32_t dm_lapic_apic_id(const struct dm_lapic *l);
uint8_t dm_lapic_arb_priority(const struct dm_lapic *l);
bool dm_lapic_focus(const struct dm_lapic *l, uint8_t vector);

/*
 * For conversions that read or build the state directly
 * (sim/kvm/kvmstate.c).  Register values as the guest reads them:
 */
bool dm_lapic_x2apic(const struct dm_lapic *l); /* x2APIC mode */
uint32_t dm_lapic_version(const struct dm_lapic *l);
uint32_t dm_lapic_ldr(const struct dm_lapic *l);
uint8_t dm_lapic_ppr(const struct dm_lapic *l);
uint32_t dm_lapic_current_count(const struct dm_lapic *l, uint64_t now);

/* LVT timer mode, bits 18:17 (SDM 11.5.4; 3 is reserved). */
enum { DM_LAPIC_TM_ONESHOT, DM_LAPIC_TM_PERIODIC, DM_LAPIC_TM_TSC_DEADLINE };
unsigned dm_lapic_timer_mode(const struct dm_lapic *l);
/* lapic=kvm: count x divisor bus cycles in ns (KVM tmict_to_ns). */
uint64_t dm_lapic_count_ns(const struct dm_lapic *l, uint32_t count);
/* lapic=kvm: raises a periodic tm_period to the minimum period. */
void dm_lapic_kvm_clamp(struct dm_lapic *l);
/* Count modes: when the timer is due to fire after now (DM_TIME_NEVER:
 * not armed), from tm_* and the LVT. */
uint64_t dm_lapic_timer_deadline(const struct dm_lapic *l, uint64_t now);

#endif
