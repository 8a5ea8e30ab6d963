/* SPDX-License-Identifier: MIT */
/*
 * The APIC bus: the interrupt messages that IOAPIC redirection entries,
 * MSIs and LAPIC IPIs send, and the EOI broadcast that travels back from a
 * LAPIC to every IOAPIC.  Encodings follow SDM vol. 3 ch. 11 and the MSI
 * format of SPEC-NOTES 8.
 */
#ifndef DM_APICBUS_H
#define DM_APICBUS_H

#include <stdint.h>

enum dm_apic_delivery {
	DM_DELIVERY_FIXED = 0,
	DM_DELIVERY_LOWEST = 1,
	DM_DELIVERY_SMI = 2,
	DM_DELIVERY_NMI = 4,
	DM_DELIVERY_INIT = 5,
	DM_DELIVERY_SIPI = 6,
	DM_DELIVERY_EXTINT = 7,
};

enum dm_apic_shorthand {
	DM_SHORTHAND_NONE = 0,
	DM_SHORTHAND_SELF = 1,
	DM_SHORTHAND_ALL = 2,
	DM_SHORTHAND_OTHERS = 3,
};

struct dm_apic_msg {
	uint32_t dest; /* APIC ID or logical MDA (32 bits for x2APIC) */
	uint8_t vector;
	uint8_t delivery;   /* enum dm_apic_delivery */
	uint8_t logical;    /* destination mode: 0 physical, 1 logical */
	uint8_t level_trig; /* trigger mode: 0 edge, 1 level */
	uint8_t assert;	    /* level bit: 1 assert, 0 de-assert */
	uint8_t shorthand;  /* enum dm_apic_shorthand (IPIs only) */
	uint8_t redir_hint; /* MSI RH: treat as lowest priority */
	int16_t source;	    /* sending vcpu, -1 for IOAPIC/MSI */
};

/*
 * Where messages go.  deliver() returns the number of vcpus that accepted
 * the message: an IOAPIC sets Remote IRR only when a level message was
 * accepted (82093AA 3.2.4).
 */
struct dm_apic_sink {
	int (*deliver)(void *opaque, uint64_t now, const struct dm_apic_msg *m);
	void *opaque;
};

/* Decodes an MSI address/data pair (SPEC-NOTES 8) into a bus message. */
static inline struct dm_apic_msg dm_msi_decode(uint64_t addr, uint32_t data)
{
	struct dm_apic_msg m = {
		.dest = (uint32_t)((addr >> 12) & 0xff),
		.vector = (uint8_t)(data & 0xff),
		.delivery = (uint8_t)((data >> 8) & 7),
		.logical = (uint8_t)((addr >> 2) & 1),
		.level_trig = (uint8_t)((data >> 15) & 1),
		.assert = (uint8_t)((data >> 14) & 1),
		.redir_hint = (uint8_t)((addr >> 3) & 1),
		.source = -1,
	};

	/* An edge MSI is always an assertion. */
	if (!m.level_trig)
		m.assert = 1;
	return m;
}

struct dm_lapic;
struct dm_config;

/*
 * The bus that routes messages to the LAPICs (sim/apicbus.c): destination
 * matching, shorthands, lowest-priority arbitration.  Stateless: nothing to
 * checkpoint.  Wire every LAPIC's "bus" sink and the IOAPIC/MSI sinks to
 * { dm_apicbus_deliver, &bus }.
 */
struct dm_apicbus {
	struct dm_lapic *lapics; /* indexed by vcpu number */
	unsigned n;
	uint8_t flavor; /* enum dm_lapic_flavor */
	uint8_t lowest; /* enum dm_lapic_lowest */
};

void dm_apicbus_init(struct dm_apicbus *bus, const struct dm_config *cfg,
		     struct dm_lapic *lapics, unsigned n);

/* A dm_apic_sink deliver function; returns the number of LAPICs that
 * accepted the message. */
int dm_apicbus_deliver(void *opaque, uint64_t now, const struct dm_apic_msg *m);

#endif
