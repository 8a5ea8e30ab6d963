/* SPDX-License-Identifier: MIT */
/*
 * The ACPI PM1a event/control block and the PM timer (ACPI 6.x sections
 * 4.8.2.1 and 4.8.3), as PIIX4 and ICH9 place them at PMBASE:
 *
 *   +0  PM1a_STS  16 bits, write 1 to clear (only TMR_STS is generated)
 *   +2  PM1a_EN   16 bits (TMR_EN raises the SCI)
 *   +4  PM1a_CNT  16 bits (SCI_EN, BM_RLD, SLP_TYPx kept)
 *   +8  PM_TMR    32 bits, read-only: 3.579545 MHz, 24 or 32 bits
 *
 * The counter is floor(now * pmtimer_hz / 1e9) modulo 2^24 (2^32 with
 * pmtimer_32bit).  TMR_STS sets whenever the counter's top bit flips.  The
 * SCI is a level output the machine wires to ISA IRQ 9 / GSI 9.
 * docs/devices/pmtimer.md lists the registers and the qemu flavour.
 */
#ifndef DM_PMTIMER_H
#define DM_PMTIMER_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/config.h"
#include "sim/irq.h"
#include "sim/state.h"
#include "sim/timer.h"

/* Length of the I/O region at dm_pmtimer_base(). */
#define DM_PMTIMER_LEN 12

struct dm_pmtimer {
	/* State. */
	uint16_t pm1_en;
	uint16_t pm1_cnt;
	/* TMR_STS reads 1 once the tick count reaches sts_tick (a multiple
	 * of the flip period, 2^23 or 2^31 ticks). */
	uint64_t sts_tick;
	bool sci_level; /* last level driven on the SCI */
	struct dm_timer timer;

	/* Wiring and configuration (not state). */
	struct dm_irq_line sci;
	uint32_t flavor; /* enum dm_pmtimer_flavor */
	uint64_t hz;
	uint64_t start; /* ns: the counter reads 0 here (pmtimer_start_ns) */
	bool ext32;
};

extern const struct dm_state_desc dm_pmtimer_state_desc;

/* Power-on state.  sci is copied (may be NULL: unwired). */
void dm_pmtimer_init(struct dm_pmtimer *pm, const struct dm_config *cfg,
		     struct dm_eventq *q, const struct dm_irq_line *sci);

/* Platform reset: PM1_EN and PM1_CNT cleared, TMR_STS as at power-on; the
 * counter runs on (it is derived from virtual time). */
void dm_pmtimer_reset(struct dm_pmtimer *pm, uint64_t now);

/* I/O base of the block: option pmbase, else pc 0xb000, q35 0x600. */
uint16_t dm_pmtimer_base(const struct dm_config *cfg);

/* The region at dm_pmtimer_base(), DM_PMTIMER_LEN bytes, any width. */
uint64_t dm_pmtimer_read(void *pm, uint64_t now, uint64_t offset,
			 unsigned size);
void dm_pmtimer_write(void *pm, uint64_t now, uint64_t offset, unsigned size,
		      uint64_t value);

#endif
