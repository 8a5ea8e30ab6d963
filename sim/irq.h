/* SPDX-License-Identifier: MIT */
/*
 * IRQ lines.  A model drives its outputs through line handles that the
 * machine wires (PIT OUT0 -> ISA IRQ0, PIC INTR -> LINT0 of the BSP, ...);
 * a model never calls another model.  A line handle is a callback plus the
 * receiver's pin number; an unwired line (set == NULL) goes nowhere.
 */
#ifndef DM_IRQ_H
#define DM_IRQ_H

typedef void (*dm_irq_fn)(void *opaque, unsigned pin, int level);

struct dm_irq_line {
	dm_irq_fn set;
	void *opaque;
	unsigned pin;
};

static inline void dm_irq_set(const struct dm_irq_line *line, int level)
{
	if (line->set)
		line->set(line->opaque, line->pin, level);
}

/* An edge-triggered "raise then lower", as KVM's PIT delivers each tick. */
static inline void dm_irq_pulse(const struct dm_irq_line *line)
{
	dm_irq_set(line, 1);
	dm_irq_set(line, 0);
}

static inline void dm_irq_wire(struct dm_irq_line *line, dm_irq_fn set,
			       void *opaque, unsigned pin)
{
	line->set = set;
	line->opaque = opaque;
	line->pin = pin;
}

#endif
