/* SPDX-License-Identifier: MIT */
/*
 * The IA-PC HPET 1.0a event timer block at 0xFED00000: a 64-bit main
 * counter and 3 to 32 comparators, each delivering through an IOAPIC pin
 * (INT_ROUTE), the legacy replacement route (timers 0 and 1 on ISA IRQ 0
 * and 8) or an FSB message (MSI).
 *
 * Two flavours (config option "hpet"): the datasheet, and QEMU's
 * hw/timer/hpet.c, which KVM guests also use since KVM has no HPET.
 * docs/devices/hpet.md lists every difference and the option behind it.
 *
 * The counter is analytic: while enabled it reads count + floor((now -
 * base_ns) * 10^6 / period_fs).  Each timer keeps the counter tick of its
 * next comparator match and arms its event only for matches with a visible
 * effect, so a periodic timer whose interrupt is masked costs nothing.
 */
#ifndef DM_HPET_H
#define DM_HPET_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/apicbus.h"
#include "sim/config.h"
#include "sim/irq.h"
#include "sim/state.h"
#include "sim/timer.h"

#define DM_HPET_BASE 0xfed00000ULL
#define DM_HPET_MAX_TIMERS 32

struct dm_hpet;

struct dm_hpet_timer {
	uint16_t conf; /* writable Tn_CONF bits (within 0x7f4e) */
	uint64_t cmp;  /* Tn_COMPARATOR until the match at match_k */
	uint64_t inc;  /* periodic increment: the last value written */
	uint64_t fsb;  /* Tn_FSB_ROUTE: 63:32 address, 31:0 value */
	/*
	 * Counter tick (counted from base_ns) of the next comparator match;
	 * qemu: of QEMU's next timer callback (UINT64_MAX: none, or beyond
	 * the range of virtual time).
	 */
	uint64_t match_k;
	bool wrap_next;	       /* qemu: that callback is the 32-bit wrap */
	struct dm_timer event; /* next match with a visible effect */

	/* Wiring (not state). */
	struct dm_hpet *hpet;
	unsigned index;
};

/* Where the block's interrupts go; unwired handles go nowhere. */
struct dm_hpet_outputs {
	struct dm_irq_bank ioapic; /* IOAPIC input pin = INT_ROUTE, 0..31 */
	struct dm_irq_bank isa;	   /* legacy replacement: ISA IRQ 0 and 8 */
	struct dm_apic_sink msi;   /* FSB delivery */
	/* 1 while LEG_RT_CNF is set: the machine then disconnects PIT OUT0
	 * and the RTC from ISA IRQ 0 and 8 (HPET 1.0a 2.4.2.1). */
	struct dm_irq_line legacy;
};

struct dm_hpet {
	uint8_t gen_conf; /* GEN_CONF bits 1:0 */
	uint32_t isr;	  /* GINTR_STA */
	uint64_t count; /* halted: the counter; enabled: its value at base_ns */
	uint64_t base_ns; /* enabled: when the counter was count (else 0) */

	/* Wiring and configuration (not state). */
	struct dm_hpet_outputs out;
	uint32_t flavor; /* enum dm_hpet_flavor */
	uint32_t ntimers;
	uint32_t route_cap;
	bool fsb_cap;
	uint64_t period_fs;

	/* Levels this device drives, derived from state (post_load). */
	uint32_t ioapic_level; /* bit per IOAPIC pin */
	uint16_t isa_level;    /* bit per ISA IRQ */
	bool legacy_level;

	/* Last: the slots past the live ones never leave their power-on
	 * state, so dm_hpet_live_bytes can leave them out. */
	struct dm_hpet_timer timer[DM_HPET_MAX_TIMERS];
};

extern const struct dm_state_desc dm_hpet_state_desc;

/*
 * Power-on state (HPET 1.0a 3.1: counter halted at 0, comparators all-ones,
 * interrupts disabled).  Nothing is driven.  The period is floor(10^15 /
 * hpet_hz) fs, at most 0xFFFFFFFF, and the counter counts in that period.
 */
void dm_hpet_init(struct dm_hpet *s, const struct dm_config *cfg,
		  struct dm_eventq *q, const struct dm_hpet_outputs *out);

/*
 * The bytes of *s that can change: all but the timer slots past the live
 * ones (the block's timers and QEMU's extra one), which stay as power-on
 * left them (load refuses anything else): what migrate-check's change
 * detection compares, with 3 timers a seventh of the struct.
 */
size_t dm_hpet_live_bytes(const struct dm_hpet *s);

/* Reset: as power-on; lowers every line it drove. */
void dm_hpet_reset(struct dm_hpet *s, uint64_t now);

/* Length of the MMIO region to map at DM_HPET_BASE: 0x400, or beyond for
 * datasheet blocks of more than 24 timers (see docs/devices/hpet.md). */
uint64_t dm_hpet_mmio_len(const struct dm_hpet *s);

/* MMIO handlers (sim/io.h); offset from DM_HPET_BASE. */
uint64_t dm_hpet_read(void *s, uint64_t now, uint64_t offset, unsigned size);
void dm_hpet_write(void *s, uint64_t now, uint64_t offset, unsigned size,
		   uint64_t value);

#endif
