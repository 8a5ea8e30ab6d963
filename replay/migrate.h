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
	FILE *out; /* report; NULL for none */
	/* Test hook: called on every machine the check builds. */
	void (*adjust)(struct dm_machine *m);
	/* Saves the twin through this checkpoint store (replay/store.h) as
	 * a run of its own, and rebuilds it from what the store reads back. */
	struct dm_store *store;
};

struct dm_migrate_result {
	uint64_t events;
	uint64_t migrations;
	uint64_t bytes_saved; /* total size of the checkpoints taken */
	bool diverged;
	uint64_t event;	    /* first event whose outcome or state differs */
	uint64_t migration; /* event index of the migration before it */
};

/* Returns the exit code of `dmsim migrate-check`: 0 identical, 1 the twin
 * diverged, 2 bad input (err). */
int dm_migrate_check(const char *path, const struct dm_migrate_opts *opts,
		     struct dm_migrate_result *res, struct dm_error *err);

#endif
