// SPDX-License-Identifier: MIT
/*
 * The APIC bus: routes IOAPIC, MSI and IPI messages to the LAPICs that the
 * destination names (SDM vol. 3 11.6.2; SPEC-NOTES 4.7).  Each LAPIC
 * decides whether it matches (models/lapic.c knows its ID, LDR, DFR and
 * mode); the bus picks the one target of a lowest-priority message.
 *
 * Lowest-priority arbitration, among the matching LAPICs that are enabled
 * in hardware and software:
 * - apr (datasheet): a focus processor (vector already in its IRR or ISR,
 *   SVR[9] = 0) wins, the first in vcpu order; otherwise the lowest APR,
 *   ties going to the lowest APIC ID.
 * - hash (KVM's default vector hashing): the ((vector mod k) + 1)-th of the
 *   k candidates in vcpu order.
 * An MSI with the redirection hint set is arbitrated the same way.
 */
#include "sim/apicbus.h"

#include "models/lapic.h"
#include "sim/config.h"

void dm_apicbus_init(struct dm_apicbus *bus, const struct dm_config *cfg,
		     struct dm_lapic *lapics, unsigned n)
{
	bus->lapics = lapics;
	bus->n = n;
	bus->flavor = (uint8_t)cfg->lapic_flavor;
	bus->lowest = (uint8_t)cfg->lapic_lowest;
}

static bool lowest_priority(const struct dm_apic_msg *m)
{
	return m->delivery == DM_DELIVERY_LOWEST || m->redir_hint;
}

static bool matches(const struct dm_lapic *l, const struct dm_apic_msg *m)
{
	return dm_lapic_hw_enabled(l) && dm_lapic_match(l, m);
}

static bool candidate(const struct dm_lapic *l, const struct dm_apic_msg *m)
{
	return matches(l, m) && dm_lapic_sw_enabled(l);
}

static int deliver_all(struct dm_apicbus *bus, uint64_t now,
		       const struct dm_apic_msg *m)
{
	int accepted = 0;

	for (unsigned i = 0; i < bus->n; i++)
		if (matches(&bus->lapics[i], m))
			accepted += dm_lapic_accept(&bus->lapics[i], now, m);
	return accepted;
}

static struct dm_lapic *pick_hash(struct dm_apicbus *bus,
				  const struct dm_apic_msg *m)
{
	unsigned k = 0, want;

	for (unsigned i = 0; i < bus->n; i++)
		k += candidate(&bus->lapics[i], m);
	if (!k)
		return NULL;
	want = m->vector % k;
	for (unsigned i = 0; i < bus->n; i++) {
		if (!candidate(&bus->lapics[i], m))
			continue;
		if (!want)
			return &bus->lapics[i];
		want--;
	}
	return NULL;
}

static bool lower_priority(const struct dm_lapic *a, const struct dm_lapic *b)
{
	uint8_t pa = dm_lapic_arb_priority(a), pb = dm_lapic_arb_priority(b);

	return pa < pb ||
	       (pa == pb && dm_lapic_apic_id(a) < dm_lapic_apic_id(b));
}

static struct dm_lapic *pick_apr(struct dm_apicbus *bus,
				 const struct dm_apic_msg *m)
{
	struct dm_lapic *best = NULL;

	for (unsigned i = 0; i < bus->n; i++) {
		struct dm_lapic *l = &bus->lapics[i];

		if (!candidate(l, m))
			continue;
		if (dm_lapic_focus(l, m->vector))
			return l;
		if (!best || lower_priority(l, best))
			best = l;
	}
	return best;
}

int dm_apicbus_deliver(void *opaque, uint64_t now, const struct dm_apic_msg *m)
{
	struct dm_apicbus *bus = opaque;
	struct dm_apic_msg fixed;
	struct dm_lapic *target;

	if (!lowest_priority(m))
		return deliver_all(bus, now, m);
	/* KVM turns lowest priority to physical 0xFF into Fixed to all. */
	if (bus->flavor == DM_LAPIC_KVM && !m->logical &&
	    m->shorthand == DM_SHORTHAND_NONE && m->dest == 0xff) {
		fixed = *m;
		fixed.delivery = DM_DELIVERY_FIXED;
		fixed.redir_hint = 0;
		return deliver_all(bus, now, &fixed);
	}
	if (bus->lowest == DM_LAPIC_LOWEST_HASH)
		target = pick_hash(bus, m);
	else
		target = pick_apr(bus, m);
	return target ? dm_lapic_accept(target, now, m) : 0;
}
