// SPDX-License-Identifier: MIT
#include "replay/migrate.h"

#include <inttypes.h>

#include "replay/replay.h"
#include "replay/store.h"
#include "replay/twin.h"

static void report(const struct dm_migrate_opts *opts,
		   const struct dm_migrate_result *res)
{
	FILE *f = opts->out;

	if (!f)
		return;
	if (opts->json && res->diverged)
		fprintf(f,
			"{\"identical\":false,\"event\":%" PRIu64
			",\"time_ns\":%" PRIu64 ",\"migration\":%" PRIu64
			",\"reference\":\"0x%" PRIx64
			"\",\"migrated\":\"0x%" PRIx64
			"\",\"migrations\":%" PRIu64 "}\n",
			res->event, res->time_ns, res->migration,
			res->reference, res->migrated, res->migrations);
	else if (opts->json)
		fprintf(f,
			"{\"identical\":true,\"events\":%" PRIu64
			",\"migrations\":%" PRIu64 ",\"bytes_saved\":%" PRIu64
			",\"state_hash\":\"0x%016" PRIx64 "\"}\n",
			res->events, res->migrations, res->bytes_saved,
			res->state_hash);
	else if (!res->diverged)
		fprintf(f,
			"migrate-check: %" PRIu64 " events, %" PRIu64
			" migrations (%" PRIu64
			" checkpoint bytes): identical\n"
			"state hash:    0x%016" PRIx64 "\n",
			res->events, res->migrations, res->bytes_saved,
			res->state_hash);
}

/* One machine pair over the whole trace. */
static int run(struct dm_twin *t, struct dm_trace_reader *r,
	       struct dm_error *err)
{
	struct dm_event ev;
	int more, rc = 0;

	while (!rc && (more = dm_trace_next(r, &ev, err)) == 1) {
		rc = dm_twin_step(t, &ev, err);
		if (!(t->index % DM_TWIN_PROGRESS_EVERY))
			dm_twin_progress(t->opts->progress, t->index, false);
	}
	if (!rc && more < 0)
		rc = -1;
	dm_twin_progress(t->opts->progress, t->index, true);
	t->res->events = t->index;
	if (!rc)
		t->res->state_hash = dm_machine_hash(t->ref);
	return rc;
}

/* Records the outcome in the store; an error already in err is kept. */
static int end_run(struct dm_twin *t, int rc, struct dm_error *err)
{
	struct dm_error mine;
	const char *status = rc < 0 ? "failed" : rc ? "diverged" : "passed";

	return dm_store_end_run(t->opts->store, status, t->res->events,
				rc < 0 ? &mine : err);
}

static int check_alone(const char *path, const struct dm_config *cfg,
		       struct dm_trace_reader *r,
		       const struct dm_migrate_opts *opts,
		       struct dm_migrate_result *res, struct dm_error *err)
{
	struct dm_twin t;
	int rc;

	if (dm_twin_open(&t, cfg, opts, err))
		return -1;
	t.res = res;
	rc = opts->store ? dm_store_begin_run(opts->store, "migrate-check",
					      path, t.mig, &t.run, err)
			 : 0;
	if (!rc)
		rc = run(&t, r, err);
	if (t.run && end_run(&t, rc, err))
		rc = -1;
	dm_twin_close(&t);
	return rc;
}

/* Threads help when each checks a slice of its own: not through one
 * store, nor at a list of events. */
static bool in_parallel(const struct dm_migrate_opts *opts)
{
	return opts->jobs > 1 && !opts->store && !opts->nat && opts->every;
}

int dm_migrate_check(const char *path, const struct dm_migrate_opts *opts,
		     struct dm_migrate_result *res, struct dm_error *err)
{
	struct dm_trace_reader *r;
	struct dm_config cfg;
	int rc;

	*res = (struct dm_migrate_result){0};
	if (dm_trace_open(&r, path, err))
		return 2;
	rc = dm_replay_config(r, opts->machine_opts, &cfg, err);
	if (!rc && in_parallel(opts))
		rc = dm_migrate_jobs(path, &cfg, opts, res, err);
	else if (!rc)
		rc = check_alone(path, &cfg, r, opts, res, err);
	dm_trace_close(r);
	if (rc >= 0)
		report(opts, res);
	return rc < 0 ? 2 : rc;
}
