/* SPDX-License-Identifier: MIT */
/*
 * The Intel 8254 programmable interval timer (ports 0x40-0x43) and the
 * PIIX/ICH port 0x61 bits it drives (GATE2, speaker enable, OUT2).
 *
 * Three flavours (config option "pit"), selected per machine:
 * - datasheet: CLK-edge exact 82C54.  Channel activity happens on the edges
 *   of the pit_hz clock (sim/clock.h), with the one-clock load delay, NULL
 *   COUNT, BCD counting, gate pausing and triggering, mode 3 odd counts and
 *   count changes deferred to the end of a period or half-cycle.
 * - kvm: the arithmetic of Linux arch/x86/kvm/i8254.c (elapsed time since
 *   the count write, counter 0 driven by an hrtimer, reinject mode).
 * - qemu: the arithmetic of QEMU hw/timer/i8254.c with IRQ0 following OUT0.
 * docs/devices/pit.md lists every difference.
 */
#ifndef DM_PIT_H
#define DM_PIT_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/config.h"
#include "sim/irq.h"
#include "sim/state.h"
#include "sim/timer.h"

/* Where a datasheet channel's counting element stands. */
enum dm_pit_phase {
	DM_PIT_IDLE,	     /* no count since the control word: CE holds */
	DM_PIT_WAIT_TRIGGER, /* modes 1, 5: count written, no trigger yet */
	DM_PIT_RUNNING,	     /* a run is loaded (see struct dm_pit_channel) */
};

struct dm_pit_channel {
	/* Control word as written. */
	uint8_t rw;   /* 1 LSB, 2 MSB, 3 LSB then MSB */
	uint8_t mode; /* 0-7 as written (kvm: de-aliased; 0xff after reset) */
	bool bcd;
	bool gate;

	/* Byte access: the write and read flip-flops are independent. */
	bool write_msb_next; /* LSB written, MSB awaited (rw 3) */
	uint8_t write_lsb;
	bool read_msb_next; /* LSB read, MSB next (rw 3, unlatched) */
	uint16_t cr;	    /* count register, as written */
	bool null_count;

	/* Output latch and status latch. */
	uint8_t count_latch; /* bytes still to read: 0, 1 LSB, 2 MSB, 3 both */
	uint16_t latched_count;
	bool status_latched;
	uint8_t status;

	/*
	 * Datasheet engine.  A run is a count n (1..65536, or 1..10000 in
	 * BCD) loaded at CLK edge load_tick.  Its progress e (CLK edges
	 * counted since the load) is base_e + (k - base_tick) at edge k while
	 * counting, frozen at base_e while a low gate pauses it.  A pending
	 * run replaces it at pend_tick, starting at progress pend_e.
	 */
	uint8_t phase; /* enum dm_pit_phase */
	bool out_idle; /* OUT level while not running */
	uint16_t hold; /* CE while not running */
	uint32_t n;
	uint64_t base_tick;
	uint64_t base_e;
	bool counting;
	bool pending;
	uint32_t pend_n;
	uint64_t pend_tick;
	uint32_t pend_e;
	bool pend_on_reload; /* modes 2, 3: waits for the end of a period */
	bool cr_valid;	     /* a count was written since the control word */

	/* kvm and qemu engines: count (1..65536) loaded at load_ns. */
	uint64_t load_ns;
};

struct dm_pit {
	struct dm_pit_channel ch[3];
	bool speaker_data; /* port 0x61 bit 1 */
	uint8_t nmi_ctl;   /* port 0x61 bits 3:2 (datasheet) */
	bool refresh_qemu; /* qemu: bit 4 toggles on every read */
	bool out0;	   /* last level driven on the OUT0 line */
	struct dm_timer out0_timer;

	/* kvm counter 0: the hrtimer and reinject bookkeeping. */
	uint64_t kvm_period;  /* ns; 0 = no timer */
	uint64_t kvm_expires; /* current hrtimer expiry */
	bool kvm_periodic;
	uint32_t kvm_pending; /* expiries not yet injected */
	bool kvm_irq_ack;     /* previous IRQ0 acknowledged */

	/* Wiring and configuration (not state). */
	struct dm_irq_line out0_line; /* OUT0 -> ISA IRQ0 */
	uint32_t flavor;	      /* enum dm_pit_flavor */
	uint64_t hz;
	uint64_t min_period_ns;
	bool reinject;
	bool inta_ack;	   /* kvm, reinject: pit_inta_ack */
	bool qemu_speaker; /* kvm: port 0x61 is QEMU's (pit_qemu_reset) */
};

extern const struct dm_state_desc dm_pit_state_desc;

/* Power-on state; out0 is where OUT0 goes (the qemu flavour drives it at
 * once: QEMU's counter 0 runs from reset). */
void dm_pit_init(struct dm_pit *pit, const struct dm_config *cfg,
		 struct dm_eventq *q, const struct dm_irq_line *out0);

/* Ports 0x40-0x43 (offset 0-3). */
uint64_t dm_pit_read(void *pit, uint64_t now, uint64_t offset, unsigned size);
void dm_pit_write(void *pit, uint64_t now, uint64_t offset, unsigned size,
		  uint64_t value);

/* Port 0x61 (offset 0). */
uint64_t dm_pit_port61_read(void *pit, uint64_t now, uint64_t offset,
			    unsigned size);
void dm_pit_port61_write(void *pit, uint64_t now, uint64_t offset,
			 unsigned size, uint64_t value);

/* OUT level of a channel at now (status bit 7, port 0x61 bit 5). */
bool dm_pit_out(struct dm_pit *pit, uint64_t now, unsigned channel);

/* KVM's irq ack notifier for IRQ0 (reinject mode); a struct dm_irq_ack fn. */
/*
 * kvm, reinject: the guest unmasked IRQ0 at the 8259 or IOAPIC pin 2
 * (KVM's mask notifier for GSI 0): the ticks pending reinjection are
 * dropped and the next tick is injected at once.
 */
void dm_pit_irq0_unmasked(struct dm_pit *pit);
/*
 * kvm, reinject, pit_inta_ack: a vcpu took IRQ0 from the 8259 (INTA): the
 * next tick injects without waiting for the EOI; the ticks held for
 * reinjection stay as they are.
 */
void dm_pit_irq0_taken(struct dm_pit *pit);
void dm_pit_irq0_acked(void *pit, uint64_t now, unsigned irq);

#endif
