/* SPDX-License-Identifier: MIT */
/*
 * IRQ lines.  A model drives its outputs through handles that the machine
 * wires (PIT OUT0 -> ISA IRQ0, PIC INTR -> LINT0 of the BSP, ...); a model
 * never calls another model.  A handle is a receiver callback plus opaque;
 * an unwired handle (set == NULL) goes nowhere.
 *
 * - struct dm_irq_line: one output wire, the receiver's pin fixed at wiring.
 * - struct dm_irq_bank: a model that chooses its destination pin at run time
 *   (an HPET timer's INT_ROUTE) drives a bank and names the pin per call.
 * - struct dm_irq_ack: "interrupt n was acknowledged" (its in-service bit
 *   cleared by an EOI), which KVM's PIT reinject mode listens to.
 * - struct dm_irq_mask: "input n was masked or unmasked", which it listens
 *   to as well.
 */
#ifndef DM_IRQ_H
#define DM_IRQ_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*dm_irq_fn)(void *opaque, uint64_t now, unsigned pin, int level);

struct dm_irq_line {
	dm_irq_fn set;
	void *opaque;
	unsigned pin;
};

struct dm_irq_bank {
	dm_irq_fn set;
	void *opaque;
};

struct dm_irq_ack {
	void (*acked)(void *opaque, uint64_t now, unsigned irq);
	void *opaque;
};

/* The guest masked or unmasked input n (KVM's irq mask notifiers). */
struct dm_irq_mask {
	void (*changed)(void *opaque, uint64_t now, unsigned irq, bool masked);
	void *opaque;
};

static inline void dm_irq_set(const struct dm_irq_line *line, uint64_t now,
			      int level)
{
	if (line->set)
		line->set(line->opaque, now, line->pin, level);
}

/* An edge-triggered "raise then lower", as KVM's PIT delivers each tick. */
static inline void dm_irq_pulse(const struct dm_irq_line *line, uint64_t now)
{
	dm_irq_set(line, now, 1);
	dm_irq_set(line, now, 0);
}

static inline void dm_irq_bank_set(const struct dm_irq_bank *bank, uint64_t now,
				   unsigned pin, int level)
{
	if (bank->set)
		bank->set(bank->opaque, now, pin, level);
}

static inline void dm_irq_notify_ack(const struct dm_irq_ack *ack, uint64_t now,
				     unsigned irq)
{
	if (ack->acked)
		ack->acked(ack->opaque, now, irq);
}

static inline void dm_irq_notify_mask(const struct dm_irq_mask *m, uint64_t now,
				      unsigned irq, bool masked)
{
	if (m->changed)
		m->changed(m->opaque, now, irq, masked);
}

#endif
