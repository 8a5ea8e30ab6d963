/* SPDX-License-Identifier: MIT */
/*
 * The migration check: replays a trace on a reference machine and, in
 * lockstep, on a twin that at chosen event boundaries is saved through the
 * canonical encoding, destroyed, rebuilt from the saved state alone and
 * continued.  Every output of the twin (read values, faults, accepted
 * vectors) and its state hash after every event must equal the
 * reference's.  A field a state table forgets (a PIT latch, a Remote IRR)
 * shows up as the first event at which the two differ.
 */
#ifndef DM_MIGRATE_H
#define DM_MIGRATE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/machine.h"

struct dm_store;

struct dm_migrate_opts {
	const char *machine_opts; /* applied after the trace's machine line */
	uint64_t every;		  /* migrate before every Nth event (0: none) */
	const uint64_t *at;	  /* ... and before these event indices */
	size_t nat;
	bool json;
	FILE *out;	/* report; NULL for none */
	FILE *progress; /* a line redrawn as events are checked; NULL */
	/* Test hook: called on every machine the check builds. */
	void (*adjust)(struct dm_machine *m);
	/* Saves the twin through this checkpoint store (replay/store.h) as
	 * a run of its own, and rebuilds it from what the store reads back. */
	struct dm_store *store;
	/*
	 * Threads, each checking slices of slice_events events (0: about
	 * 64 Ki, a multiple of every).  The result, the report and the
	 * error are those of one thread, whatever the count: only a check
	 * at every Nth event without a store runs on more than one.
	 */
	unsigned jobs;
	uint64_t slice_events;
};

struct dm_migrate_result {
	uint64_t events;
	uint64_t migrations;
	uint64_t bytes_saved; /* total size of the checkpoints taken */
	uint64_t state_hash;  /* the reference's at the end, when identical */
	bool diverged;
	uint64_t event;	    /* first event whose outcome or state differs */
	uint64_t time_ns;   /* its time */
	uint64_t migration; /* event index of the migration before it */
	/* Its outputs on each machine (0 when the twin did not restore). */
	uint64_t reference;
	uint64_t migrated;
};

/* Returns the exit code of `dmsim migrate-check`: 0 identical, 1 the twin
 * diverged, 2 bad input (err). */
int dm_migrate_check(const char *path, const struct dm_migrate_opts *opts,
		     struct dm_migrate_result *res, struct dm_error *err);

#endif
