/* SPDX-License-Identifier: MIT */
/*
 * The replay engine: applies trace events to a machine in order, checks
 * every output the trace carries (read values, accepted vectors, state
 * hashes) and reports where the model and the trace disagree.
 *
 * dm_replay_step is the unit the migration check drives on two machines in
 * lockstep; dm_replay_file is the whole `dmsim replay` loop.
 */
#ifndef DM_REPLAY_H
#define DM_REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/machine.h"
#include "traces/trace.h"

struct dm_store;

/* What applying one event produced. */
struct dm_outcome {
	uint64_t actual; /* read value, vector, state hash, or how late an
			  * IRQ0 raise came after its PIT tick */
	bool has_actual; /* the event produces an output */
	bool fault;	 /* the access raised a guest #GP */
	bool mismatch;	 /* the trace expected something else */
	uint32_t lost;	 /* IRQ0 raise: PIT ticks before it never raised */
};

struct dm_replay_stats {
	uint64_t events;
	uint64_t reads_checked;
	uint64_t reads_recorded; /* '?' reads: value recorded, not checked */
	uint64_t writes;
	uint64_t irqs;
	uint64_t intacks;
	uint64_t intacks_none; /* unchecked intacks that found no interrupt */
	uint64_t signals;      /* nmi/init/sipi/smi checks */
	uint64_t marks;
	uint64_t threads; /* dev thread: host threads' runs */
	uint64_t hashes_checked;
	uint64_t faults;
	uint64_t divergences;
	uint64_t tolerated;  /* time-derived outputs matched within tolerance */
	uint64_t pit_raises; /* pit_irq0=off: IRQ0 raises checked */
	uint64_t pit_raise_late_ns; /* ... the latest after its tick */
	int64_t run;		    /* the run in opts->store (0: none) */
	uint64_t checkpoints;	    /* checkpoints stored */
};

/*
 * Applies ev to m.  Returns 0 with *out filled, or -1 when the event cannot
 * be applied to this machine at all (a vcpu it does not have, an invalid
 * size): that is bad input, and err says why.
 */
int dm_replay_step(struct dm_machine *m, const struct dm_event *ev,
		   struct dm_outcome *out, struct dm_error *err);

/* The device whose state explains an event's outcome (NULL if none). */
const struct dm_device *dm_replay_device_for(const struct dm_machine *m,
					     const struct dm_event *ev);

/* The machine configuration of a trace: the datasheet defaults, then the
 * trace's machine line, then machine_opts (may be NULL). */
int dm_replay_config(struct dm_trace_reader *r, const char *machine_opts,
		     struct dm_config *cfg, struct dm_error *err);

struct dm_replay_opts {
	const char *machine_opts; /* applied after the trace's machine line */
	uint64_t tolerance_ns;	  /* replay/tolerance.h; 0: exact */
	const char *save_state;	  /* write the final state here (or NULL) */
	bool json;
	unsigned max_reported; /* divergences shown in full */
	FILE *out;	       /* report */
	FILE *progress;	       /* NULL: no progress display */
	/*
	 * With a store (replay/store.h), the replay is a run in it, with a
	 * checkpoint after every checkpoint_every-th event (0: none) and
	 * after every mark event, labelled with the mark's text.
	 */
	struct dm_store *store;
	uint64_t checkpoint_every;
};

/*
 * Replays a trace file and writes the report.  Returns the exit code of
 * `dmsim replay`: 0 all checks passed, 1 divergence, 2 bad input (err).
 */
int dm_replay_file(const char *path, const struct dm_replay_opts *opts,
		   struct dm_replay_stats *stats, struct dm_error *err);

#endif
