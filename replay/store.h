/* SPDX-License-Identifier: MIT */
/*
 * The SQLite checkpoint store (docs/database.md).  A run records the trace,
 * the machine configuration and the device order; each checkpoint records
 * the machine's devices as content-addressed blobs (their canonical
 * encodings, keyed by their XXH3-64 state hash), so a checkpoint that
 * changed one device stores one new blob, and every checkpoint can be
 * verified from its blobs alone.
 *
 * Writes are batched: a transaction commits every ~100 ms (or every
 * batch_max checkpoints) and at the end of a run, so a process killed at
 * any point leaves every committed checkpoint intact.  One store handle is
 * used by one thread.
 */
#ifndef DM_STORE_H
#define DM_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/error.h"
#include "sim/machine.h"

/* The schema this build writes and reads (meta.schema_version). */
#define DM_STORE_SCHEMA_VERSION 1

/* A checkpoint taken before any event has no event index. */
#define DM_STORE_NO_EVENT UINT64_MAX

struct dm_store;

/*
 * Opens a checkpoint database.  With write, a missing or empty file gets
 * the schema.  Fails with a message naming path for a file that is not a
 * dmsim database, a corrupt one, or one of a newer schema version.
 */
int dm_store_open(struct dm_store **s, const char *path, bool write,
		  struct dm_error *err);
/* Commits any pending batch, then closes; always frees s. */
int dm_store_close(struct dm_store *s, struct dm_error *err);

/* Batching policy of the writer (defaults: 65536 checkpoints, 100 ms). */
void dm_store_set_batch(struct dm_store *s, unsigned max_checkpoints,
			unsigned max_ms);

/*
 * Starts a run of command ("replay", "migrate-check") over trace_path ("-"
 * or NULL: no trace hash) on machines shaped like m; commits at once.
 */
int dm_store_begin_run(struct dm_store *s, const char *command,
		       const char *trace_path, const struct dm_machine *m,
		       int64_t *run, struct dm_error *err);
/*
 * Checkpoints m (same configuration as at dm_store_begin_run) after event
 * (DM_STORE_NO_EVENT for none) with an optional label; *seq gets the
 * checkpoint's number in the run, from 1.  Commits when the batch is full.
 */
int dm_store_checkpoint(struct dm_store *s, const struct dm_machine *m,
			uint64_t event, const char *label, uint64_t *seq,
			struct dm_error *err);
/* Records the outcome ("passed", "diverged", "failed") and commits. */
int dm_store_end_run(struct dm_store *s, const char *status, uint64_t events,
		     struct dm_error *err);
int dm_store_commit(struct dm_store *s, struct dm_error *err);
/* Commits the open batch if it is older than the batch time: for writers
 * that may go a long while between checkpoints. */
int dm_store_poll(struct dm_store *s, struct dm_error *err);

/* What this handle has written. */
struct dm_store_stats {
	uint64_t checkpoints;
	uint64_t blob_refs;	/* checkpoints x devices */
	uint64_t blobs_written; /* new blob rows */
	uint64_t blob_bytes;	/* their data bytes */
	uint64_t commits;
};
void dm_store_stats(const struct dm_store *s, struct dm_store_stats *st);

/* ---- reading --------------------------------------------------------- */

struct dm_store_run {
	int64_t id;
	const char *command;
	const char *trace_path;
	bool has_trace_hash;
	uint64_t trace_hash;
	const char *config;
	const char *dmsim_version;
	const char *started_at;
	const char *finished_at; /* NULL: never finished (running or killed) */
	const char *status;
	uint64_t events;
	uint64_t checkpoints;
};

struct dm_store_ckpt {
	int64_t run;
	uint64_t seq;
	uint64_t event; /* DM_STORE_NO_EVENT: before the first event */
	uint64_t time_ns;
	uint64_t state_hash;
	const char *label; /* NULL when none */
};

/* One leaf of a stored device state, read through the stored layout. */
struct dm_store_field {
	const char *device;	      /* "pit", "lapic0" */
	const char *path;	      /* "ch0.latched_count" */
	const struct dm_field *field; /* only type and flags are meaningful */
	uint64_t value;
};

/* Callbacks return non-zero to stop; the iteration then returns it. */
typedef int (*dm_store_run_fn)(const struct dm_store_run *r, void *ctx);
typedef int (*dm_store_ckpt_fn)(const struct dm_store_ckpt *c, void *ctx);
typedef int (*dm_store_field_fn)(const struct dm_store_field *f, void *ctx);
/* A corrupt checkpoint found by dm_store_verify; msg says what is wrong. */
typedef void (*dm_store_corrupt_fn)(int64_t run, uint64_t seq, const char *msg,
				    void *ctx);

/* Every run (run == 0) or one; -1 with err if run does not exist. */
int dm_store_runs(struct dm_store *s, int64_t run, dm_store_run_fn fn,
		  void *ctx, struct dm_error *err);
/* The checkpoints of a run in order (seq == 0), or one of them. */
int dm_store_checkpoints(struct dm_store *s, int64_t run, uint64_t seq,
			 dm_store_ckpt_fn fn, void *ctx, struct dm_error *err);
/* Verifies a checkpoint, then visits its fields in device and table
 * order (device NULL: every device). */
int dm_store_fields(struct dm_store *s, int64_t run, uint64_t seq,
		    const char *device, dm_store_field_fn fn, void *ctx,
		    struct dm_error *err);

/*
 * Checks that every blob of the chosen checkpoints (run 0: all runs; seq
 * 0: all of the run) hashes to its key, has its device's kind and version,
 * and that the keys in device order hash to the checkpoint's state hash.
 * Calls fn for each corrupt checkpoint; returns the number of checkpoints
 * verified and sets *corrupt, or -1 with err on a database error.
 */
int64_t dm_store_verify(struct dm_store *s, int64_t run, uint64_t seq,
			dm_store_corrupt_fn fn, void *ctx, uint64_t *corrupt,
			struct dm_error *err);
/* SQLite's PRAGMA quick_check over the whole file. */
int dm_store_quick_check(struct dm_store *s, struct dm_error *err);

/* Verifies a checkpoint and loads it into m, a machine built with the
 * run's configuration and device order. */
int dm_store_load_into(struct dm_store *s, int64_t run, uint64_t seq,
		       struct dm_machine *m, struct dm_error *err);
/* Builds a machine from the run's configuration and loads a checkpoint. */
int dm_store_load_machine(struct dm_store *s, int64_t run, uint64_t seq,
			  struct dm_machine **out, struct dm_error *err);

#endif
