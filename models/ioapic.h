/* SPDX-License-Identifier: MIT */
/*
 * The IOAPIC: Intel 82093AA (version 0x11) or the ICH IOxAPIC (version
 * 0x20, with the EOI register), 24 input pins, MMIO window at 0xFEC00000.
 *
 * Three flavours (config option "ioapic"), selected per machine:
 * - datasheet: 82093AA / ICH behaviour, polarity applied by the IOAPIC.
 * - kvm: Linux arch/x86/kvm/ioapic.c (polarity ignored, offset & 0xFF
 *   decode, 1/2/4/8-byte accesses, EOI storm throttle, RTC coalescing).
 * - qemu: QEMU hw/intc/ioapic.c (polarity ignored, 4-byte IOWIN, all pins
 *   re-serviced after any RTE write, Remote IRR set on every send).
 * docs/devices/ioapic.md lists every difference and the option behind it.
 *
 * Wiring the machine provides:
 * - MMIO region DM_IOAPIC_BASE..+DM_IOAPIC_SIZE -> dm_ioapic_read/write.
 * - Input pins: dm_ioapic_set_irq is a dm_irq_fn (opaque = the ioapic).
 * - s->bus: where messages go (the LAPICs); deliver() must not call back
 *   into the IOAPIC.
 * - s->acked: told the pin whose interrupt an EOI acknowledged (KVM's PIT
 *   reinject listens for pin 2); it may call dm_ioapic_set_irq.
 * - EOIs from the LAPICs: dm_ioapic_eoi for level (TMR-set) vectors, and
 *   under the kvm profile dm_ioapic_eoi_edge for every other EOI.
 */
#ifndef DM_IOAPIC_H
#define DM_IOAPIC_H

#include <stdint.h>

#include "sim/apicbus.h"
#include "sim/config.h"
#include "sim/error.h"
#include "sim/irq.h"
#include "sim/state.h"
#include "sim/timer.h"

#define DM_IOAPIC_PINS 24
#define DM_IOAPIC_BASE 0xFEC00000ULL
#define DM_IOAPIC_SIZE 0x1000ULL

struct dm_ioapic {
	/* Migratable state (dm_ioapic_state_desc). */
	uint64_t rte[DM_IOAPIC_PINS]; /* redirection entries, SPEC-NOTES 3.3 */
	uint32_t line; /* electrical level last driven on each pin */
	uint32_t irr;  /* qemu: QEMU's per-pin request latch; else 0 */
	uint16_t eoi_count[DM_IOAPIC_PINS]; /* kvm, qemu: EOI re-deliveries
					     * in a row, for the throttle */
	uint16_t rtc_pending_eoi; /* kvm: LAPICs yet to EOI the RTC pin */
	uint8_t rtc_vector;	  /* kvm: vector of that RTC interrupt */
	uint8_t ioregsel;
	uint8_t id;		  /* bits 27:24 of the ID register */
	struct dm_timer throttle; /* kvm, qemu: delayed re-delivery */

	/* Wiring and configuration (not state). */
	struct dm_apic_sink bus;
	struct dm_irq_ack acked;
	struct dm_irq_mask mask; /* a write changed an entry's mask bit */
	uint32_t flavor;	 /* enum dm_ioapic_flavor */
	uint32_t version;	 /* 0x11 or 0x20 */
	uint32_t vcpus;
};

extern const struct dm_state_desc dm_ioapic_state_desc;

/*
 * Power-on state, bound to q for the throttle timer.  Fails (naming the
 * option) when cfg->ioapic_version is neither 0x11 nor 0x20.  bus and
 * acked start unwired: a message sent to an unwired bus is accepted by
 * no one.
 */
int dm_ioapic_init(struct dm_ioapic *s, const struct dm_config *cfg,
		   struct dm_eventq *q, struct dm_error *err);

/* Machine reset (RESET#; QEMU's system reset under kvm and qemu). */
void dm_ioapic_reset(struct dm_ioapic *s, uint64_t now);

/* The MMIO window; offset relative to the base, size 1, 2, 4 or 8. */
uint64_t dm_ioapic_read(void *opaque, uint64_t now, uint64_t offset,
			unsigned size);
void dm_ioapic_write(void *opaque, uint64_t now, uint64_t offset, unsigned size,
		     uint64_t value);

/*
 * Drives input pin "pin" to electrical level "level" (0 or non-zero); a
 * dm_irq_fn.  The datasheet flavour applies the RTE polarity (bit 13 = 1:
 * the pin is asserted while the wire is low), so a machine wiring an
 * active-low source drives the wire high while idle.  kvm and qemu take
 * level as "asserted".  Pins >= DM_IOAPIC_PINS do not exist: ignored.
 */
void dm_ioapic_set_irq(void *opaque, uint64_t now, unsigned pin, int level);

/*
 * The EOI broadcast of a LAPIC for a level-triggered (TMR-set) vector;
 * the EOI register (version 0x20) runs the same path.  Clears Remote IRR
 * of every level RTE with that vector and re-delivers the pins still
 * asserted.
 */
void dm_ioapic_eoi(struct dm_ioapic *s, uint64_t now, uint8_t vector);

/*
 * kvm only: KVM's LAPIC also reports EOIs of edge-triggered vectors to its
 * IOAPIC (kvm_ioapic_update_eoi with trigger mode edge), which runs the
 * ack notifiers of every RTE with that vector (KVM's PIT reinject hears
 * pin 2 this way) and the RTC pin's EOI tracking, without touching Remote
 * IRR.  Does nothing in the datasheet and qemu flavours, whose LAPICs
 * broadcast only level EOIs.
 */
void dm_ioapic_eoi_edge(struct dm_ioapic *s, uint64_t now, uint8_t vector);

#endif
