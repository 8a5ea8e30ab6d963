/* SPDX-License-Identifier: MIT */
/*
 * The machine: the PC board that owns the device models, wires their IRQ
 * lines, dispatches port, MMIO and MSR accesses, and runs the event queue
 * in virtual time.  One machine runs on one thread; every entry point takes
 * the virtual time of the access, which must never go backwards.
 *
 * Checkpoints (dm_machine_save/dm_machine_load) hold the machine's own
 * state (time, line levels) and every device's canonical state, in a fixed
 * device order; docs/state-format.md specifies the layout.
 */
#ifndef DM_MACHINE_H
#define DM_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/pit.h"
#include "sim/config.h"
#include "sim/error.h"
#include "sim/io.h"
#include "sim/state.h"
#include "sim/timer.h"

#define DM_ISA_IRQS 16
#define DM_MAX_DEVICES 8
#define DM_MAX_REGIONS 16

/* Who drives a shared interrupt line; a line's level is the OR of them. */
enum dm_irq_source {
	DM_SRC_PIT,
	DM_SRC_DEV, /* "dev irq" trace events: devices outside the model set */
	DM_SRC_COUNT,
};

/* Outcome of a register access. */
enum dm_access {
	DM_ACCESS_OK,
	DM_ACCESS_GP,	   /* the guest takes a #GP; nothing was applied */
	DM_ACCESS_INVALID, /* not a valid access (bad size, no such vcpu) */
};

struct dm_device {
	const char *name;
	const struct dm_state_desc *desc;
	void *state;
};

struct dm_machine_state {
	uint64_t now;
	uint32_t isa_src[DM_ISA_IRQS]; /* bit per enum dm_irq_source */
};

struct dm_machine {
	struct dm_config cfg;
	struct dm_machine_state ms;
	struct dm_eventq q;
	struct dm_pit pit;

	struct dm_device devices[DM_MAX_DEVICES];
	unsigned ndevices;
	struct dm_io_region pio[DM_MAX_REGIONS];
	unsigned npio;
};

extern const struct dm_state_desc dm_machine_state_desc;

/* Builds a machine in its power-on state. */
int dm_machine_create(struct dm_machine **m, const struct dm_config *cfg,
		      struct dm_error *err);
void dm_machine_destroy(struct dm_machine *m);

/* Runs every device event up to and including now. */
void dm_machine_advance(struct dm_machine *m, uint64_t now);

/* Accesses.  Each first advances the machine to now. */
enum dm_access dm_machine_pio(struct dm_machine *m, uint64_t now,
			      uint32_t cpu, uint16_t port, unsigned size,
			      bool write, uint64_t *value);
enum dm_access dm_machine_mmio(struct dm_machine *m, uint64_t now,
			       uint32_t cpu, uint64_t addr, unsigned size,
			       bool write, uint64_t *value);
enum dm_access dm_machine_msr(struct dm_machine *m, uint64_t now,
			      uint32_t cpu, uint32_t index, bool write,
			      uint64_t *value);
/* A device outside the model set drives GSI gsi (see docs/trace-format.md). */
int dm_machine_set_gsi(struct dm_machine *m, uint64_t now, uint32_t gsi,
		       int level, struct dm_error *err);
int dm_machine_msi(struct dm_machine *m, uint64_t now, uint64_t addr,
		   uint32_t data, struct dm_error *err);
/* The vcpu accepts an interrupt; returns its vector, or -1 if none is
 * pending (err says why). */
int dm_machine_intack(struct dm_machine *m, uint64_t now, uint32_t cpu,
		      struct dm_error *err);

/* Level of ISA IRQ line irq as the interrupt controllers see it. */
bool dm_machine_isa_level(const struct dm_machine *m, unsigned irq);

/* State hash of the whole machine: XXH3-64 over the device hashes. */
uint64_t dm_machine_hash(const struct dm_machine *m);

/* Checkpoints.  dm_machine_save returns a malloc'd buffer. */
uint8_t *dm_machine_save(const struct dm_machine *m, size_t *len);
/* Builds a machine from cfg and loads a checkpoint into it. */
int dm_machine_restore(struct dm_machine **m, const struct dm_config *cfg,
		       const uint8_t *buf, size_t len, struct dm_error *err);

const struct dm_device *dm_machine_device(const struct dm_machine *m,
					  const char *name);

#endif
