/* SPDX-License-Identifier: MIT */
/*
 * The MC146818A real-time clock and CMOS RAM, as PC chipsets place it:
 * one I/O region at 0x70, 4 bytes long:
 *
 *   0x70  write: bit 7 NMI mask (1 = masked), bits 6:0 index
 *   0x71  data of the byte at the index (0x00-0x7f)
 *   0x72  index of the upper bank (bits 6:0 select byte 0x80-0xff)
 *   0x73  data of the upper-bank byte
 *
 * The output is IRQ8, a level that follows Register C's IRQF.  Time and
 * date are derived from virtual time and the rtc_epoch option, never from
 * the host clock; nothing ticks: registers, flags and UIP are computed
 * from now and the time the clock was last rebased.
 *
 * Two flavours (option "rtc"): the MC146818A datasheet, and QEMU's
 * hw/rtc/mc146818rtc.c (the kvm profile uses it: KVM has no RTC).
 * docs/devices/rtc.md lists every register, behaviour and difference.
 */
#ifndef DM_RTC_H
#define DM_RTC_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/config.h"
#include "sim/irq.h"
#include "sim/state.h"
#include "sim/timer.h"

#define DM_RTC_BASE 0x70
#define DM_RTC_LEN 4
#define DM_RTC_IRQ 8

/* CMOS bytes 0x0e-0xff, stored apart from the clock and registers. */
#define DM_RTC_RAM_FIRST 0x0e
#define DM_RTC_RAM_SIZE (0x100 - DM_RTC_RAM_FIRST)

struct dm_rtc {
	/* Port latches. */
	uint8_t index;	 /* port 0x70 bits 6:0 */
	bool nmi_masked; /* port 0x70 bit 7 */
	uint8_t xindex;	 /* port 0x72 bits 6:0 */

	/*
	 * Bytes 0x00-0x09.  The time bytes (0, 2, 4, 6-9) hold the clock as
	 * it stood at base_ns, exactly as written or as last computed; the
	 * alarm bytes (1, 3, 5) are plain registers.
	 */
	uint8_t clock[10];
	uint8_t reg_a; /* DV and RS; UIP is computed */
	uint8_t reg_b;
	uint8_t flags; /* Register C's PF, AF, UF as of base_ns */
	bool irq_level;
	uint8_t ram[DM_RTC_RAM_SIZE];

	/*
	 * Time.  Update k (k >= 1) begins at div_t0 + k s - div_phase; the
	 * divider's 32.768 kHz count at t is (t - div_t0 + div_phase) *
	 * 32768 / 1e9.  upd_done is the last update already folded into the
	 * clock bytes.  dse_fb records that the October daylight-saving
	 * step back already happened today.
	 */
	uint64_t base_ns;
	uint64_t div_t0;
	uint32_t div_phase; /* ns, < 1e9 */
	uint64_t upd_done;
	bool dse_fb;

	/* qemu flavour: the sub-second offset QEMU's time writes restart
	 * from, and the periodic timer (32 kHz count of its next tick). */
	uint32_t q_offset;
	uint64_t qp_next;
	bool qp_armed;

	/* rtc_uf_trace: the VMM's main loop thread is off its CPU, so QEMU's
	 * update timer cannot run; updates after hold_from wait for it. */
	bool loop_off;
	uint64_t hold_from;

	/* Raises IRQ8 when an enabled flag next sets; idle otherwise. */
	struct dm_timer timer;

	/* Wiring and configuration (not state). */
	struct dm_irq_line irq; /* IRQ8 */
	uint32_t flavor;	/* enum dm_rtc_flavor */
	bool pf_trace;		/* rtc_pf_trace: PF from dm_rtc_trace_tick */
	bool uf_trace;		/* rtc_uf_trace: dm_rtc_main_loop holds UF */
};

extern const struct dm_state_desc dm_rtc_state_desc;

/*
 * Power-on state as a PC BIOS leaves it: Register A 0x26 (32.768 kHz,
 * 1024 Hz), B 0x02 (24-hour BCD), C 0, D 0x80, the time rtc_epoch at
 * virtual time 0 with the century in byte 0x32, updates at every whole
 * second.  irq is copied (may be NULL: unwired).
 */
void dm_rtc_init(struct dm_rtc *rtc, const struct dm_config *cfg,
		 struct dm_eventq *q, const struct dm_irq_line *irq);

/* The RESET pin (platform reset): see docs/devices/rtc.md. */
void dm_rtc_reset(struct dm_rtc *rtc, uint64_t now);

/* Ports 0x70-0x73 (offset 0-3); wider accesses are split into bytes. */
uint64_t dm_rtc_read(void *rtc, uint64_t now, uint64_t offset, unsigned size);
void dm_rtc_write(void *rtc, uint64_t now, uint64_t offset, unsigned size,
		  uint64_t value);

/*
 * rtc_pf_trace: QEMU's periodic timer ticked at now, as a capture's IRQ8
 * raise shows it.  Sets PF (and IRQF) if PIE is set and no enabled UF or
 * AF of the model's explains the raise.
 */
void dm_rtc_trace_tick(struct dm_rtc *rtc, uint64_t now);

/*
 * rtc_uf_trace (qemu flavour): the VMM's main loop thread, which runs
 * QEMU's update timer, got a CPU (running) or left it, as a capture's
 * dev thread 0 events show.  An update due while it is off keeps UIP set
 * and UF clear until it runs again, when UF sets.
 */
void dm_rtc_main_loop(struct dm_rtc *rtc, uint64_t now, bool running);

/* Port 0x70 bit 7 as last written: the machine gates NMIs with it. */
bool dm_rtc_nmi_masked(const struct dm_rtc *rtc);

#endif
