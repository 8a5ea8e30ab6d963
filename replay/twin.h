/* SPDX-License-Identifier: MIT */
/*
 * The migration check's machine pair, inside replay/: a reference machine
 * and a twin that is saved, destroyed and rebuilt before the events the
 * options choose.  migrate.c drives one pair over a whole trace;
 * migrate_jobs.c drives one per thread over slices of it.
 */
#ifndef DM_TWIN_H
#define DM_TWIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "replay/migrate.h"
#include "traces/trace.h"

struct dm_twin {
	const struct dm_config *cfg;
	const struct dm_migrate_opts *opts;
	FILE *out; /* reports of a divergence; NULL for none */
	struct dm_machine *ref;
	struct dm_machine *mig;
	/* Counts migrations and bytes; event, migration on a divergence. */
	struct dm_migrate_result *res;
	uint64_t index; /* of the next event */
	uint64_t now;	/* its time */
	bool behind;	/* events ran on the reference alone */
	int64_t run;	/* in opts->store */
	/* Each machine at the last comparison; the two share a layout. */
	uint8_t *seen_ref;
	uint8_t *seen_mig;
	bool *stale;	  /* twin device changed since its last rebuild */
	bool compare_all; /* next comparison: every device */
	bool built_all;	  /* every device has been rebuilt once */
	uint8_t *enc;	  /* one device's canonical encoding */
	size_t enc_cap;
};

/* Builds both machines at power-on. */
int dm_twin_open(struct dm_twin *t, const struct dm_config *cfg,
		 const struct dm_migrate_opts *opts, struct dm_error *err);
void dm_twin_close(struct dm_twin *t);

/*
 * One event: the migration due before it, then the event on both
 * machines.  Returns 0 when they agree, 1 on a divergence (reported to
 * t->out, recorded in t->res), -1 on bad input (err).
 */
int dm_twin_step(struct dm_twin *t, const struct dm_event *ev,
		 struct dm_error *err);

/*
 * The event on the reference alone.  The next dm_twin_step first makes
 * the migration due before it from the reference (the twin built afresh
 * and loaded with the reference's encodings), which is what a migration
 * of the twin would have made, since the two machines' states were equal
 * and a rebuild depends on nothing but the encoding.  It is not counted
 * in t->res.
 */
int dm_twin_skip(struct dm_twin *t, const struct dm_event *ev,
		 struct dm_error *err);

/* Runs shorter than this show no progress line; longer ones redraw it
 * about this often. */
#define DM_TWIN_PROGRESS_EVERY (1u << 20)

/* Redraws the progress line (once checked reaches DM_TWIN_PROGRESS_EVERY);
 * when done, ends it if there was one. */
void dm_twin_progress(FILE *f, uint64_t checked, bool done);

/* migrate-check on opts->jobs threads (migrate_jobs.c); returns 0
 * identical, 1 diverged, -1 bad input (err). */
int dm_migrate_jobs(const char *path, const struct dm_config *cfg,
		    const struct dm_migrate_opts *opts,
		    struct dm_migrate_result *res, struct dm_error *err);

#endif
