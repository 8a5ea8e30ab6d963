// SPDX-License-Identifier: MIT
#include "replay/migrate.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "replay/replay.h"
#include "replay/store.h"

/*
 * Which devices changed.  Each snapshot holds every device's struct bytes,
 * back to back at the machine's pristine_off offsets (the two machines
 * share their layout).  Bytes are compared rather than states: a change to
 * a member the state table forgets must count too.
 */
struct twin {
	const struct dm_config *cfg;
	const struct dm_migrate_opts *opts;
	struct dm_machine *ref;
	struct dm_machine *mig;
	struct dm_migrate_result *res;
	int64_t run;	   /* in opts->store */
	uint8_t *seen_ref; /* each machine at the last comparison */
	uint8_t *seen_mig;
	bool *stale;	  /* twin device changed since its last rebuild */
	bool compare_all; /* next comparison: every device */
	bool built_all;	  /* every device has been rebuilt once */
	uint8_t *enc;	  /* one device's canonical encoding */
	size_t enc_cap;
};

static int build(struct twin *t, struct dm_machine **m, struct dm_error *err)
{
	if (dm_machine_create(m, t->cfg, err))
		return -1;
	if (t->opts->adjust)
		t->opts->adjust(*m);
	return 0;
}

static size_t snapshot_size(const struct dm_machine *m)
{
	const struct dm_device *last = &m->devices[m->ndevices - 1];

	return m->pristine_off[m->ndevices - 1] + last->size;
}

static void snapshot(const struct dm_machine *m, uint8_t *snap)
{
	for (unsigned i = 0; i < m->ndevices; i++)
		memcpy(snap + m->pristine_off[i], m->devices[i].state,
		       m->devices[i].size);
}

static int alloc_tracking(struct twin *t, struct dm_error *err)
{
	size_t n = snapshot_size(t->ref);

	for (unsigned i = 0; i < t->ref->ndevices; i++) {
		size_t e = dm_device_encoded_size(&t->ref->devices[i]);

		if (e > t->enc_cap)
			t->enc_cap = e;
	}
	t->seen_ref = malloc(n);
	t->seen_mig = malloc(n);
	t->stale = calloc(t->ref->ndevices, sizeof(*t->stale));
	t->enc = malloc(t->enc_cap);
	if (!t->seen_ref || !t->seen_mig || !t->stale || !t->enc)
		return dm_errorf(err, "out of memory for the migration check");
	snapshot(t->ref, t->seen_ref);
	snapshot(t->mig, t->seen_mig);
	t->compare_all = true;
	return 0;
}

static void free_tracking(struct twin *t)
{
	free(t->seen_ref);
	free(t->seen_mig);
	free(t->stale);
	free(t->enc);
}

/* Whether device i of m changed since snap was taken; brings snap up to
 * date.  Only the bytes that can change are looked at. */
static bool changed(const struct dm_machine *m, uint8_t *snap, unsigned i)
{
	const struct dm_device *d = &m->devices[i];
	uint8_t *s = snap + m->pristine_off[i];

	if (!memcmp(s, d->state, d->live))
		return false;
	memcpy(s, d->state, d->live);
	return true;
}

/*
 * Whether the two machines' states are equal: only devices that changed in
 * either machine since the last comparison are compared, the others still
 * are equal.  Equal encodings are a stronger test than equal hashes.
 */
static bool states_equal(struct twin *t)
{
	bool all = t->compare_all;

	t->compare_all = false;
	for (unsigned i = 0; i < t->ref->ndevices; i++) {
		bool in_ref = changed(t->ref, t->seen_ref, i);
		bool in_mig = changed(t->mig, t->seen_mig, i);

		t->stale[i] |= in_mig;
		if ((all || in_ref || in_mig) &&
		    !dm_device_equal(&t->ref->devices[i], &t->mig->devices[i]))
			return false;
	}
	return true;
}

static bool migrate_before(const struct dm_migrate_opts *opts, uint64_t i)
{
	if (opts->every && i % opts->every == 0)
		return true;
	for (size_t k = 0; k < opts->nat; k++)
		if (opts->at[k] == i)
			return true;
	return false;
}

struct diff_ctx {
	FILE *f;
	const char *device;
};

static void print_diff(const struct dm_leaf *a, uint64_t b_value, void *opaque)
{
	struct diff_ctx *ctx = opaque;
	char va[32], vb[32];

	dm_leaf_format_pair(a, b_value, va, vb, sizeof(va));
	fprintf(ctx->f, "    %s.%s: reference %s, migrated %s\n", ctx->device,
		a->path, va, vb);
}

/* A device that does not rebuild to the state it was saved from. */
static int not_restored(struct twin *t, unsigned i)
{
	const struct dm_device *d = &t->mig->devices[i];
	struct diff_ctx ctx = {t->opts->out, d->name};

	t->res->diverged = true;
	t->res->event = t->res->events;
	if (!t->opts->out)
		return 1;
	fprintf(t->opts->out,
		"the checkpoint taken before event %" PRIu64
		" does not restore %s to the state it was saved from:\n",
		t->res->events, d->name);
	dm_state_diff(d->desc, t->seen_mig + t->mig->pristine_off[i], d->state,
		      print_diff, &ctx);
	return 1;
}

/*
 * The same through the store: the twin is rebuilt from what SQLite gives
 * back.  bytes_saved counts the new blob bytes.  Returns -2 when the store
 * cannot write (bad input, not a divergence).
 */
static int migrate_via_store(struct twin *t, struct dm_error *err)
{
	struct dm_store *s = t->opts->store;
	struct dm_store_stats before, after;
	struct dm_machine *fresh;
	uint64_t n = t->res->events, seq;
	int rc;

	dm_store_stats(s, &before);
	if (dm_store_checkpoint(s, t->mig, n ? n - 1 : DM_STORE_NO_EVENT, NULL,
				&seq, err))
		return -2;
	dm_store_stats(s, &after);
	dm_machine_destroy(t->mig);
	t->mig = NULL;
	rc = build(t, &fresh, err);
	if (!rc) {
		rc = dm_store_load_into(s, t->run, seq, fresh, err);
		if (rc)
			dm_machine_destroy(fresh);
		else
			t->mig = fresh;
	}
	t->compare_all = true;
	t->res->migrations++;
	t->res->bytes_saved += after.blob_bytes - before.blob_bytes;
	return rc;
}

/*
 * Saves the twin, destroys it, and rebuilds it from the checkpoint alone,
 * device by device: every device at the first migration, then those whose
 * bytes changed since their last rebuild.  A device that did not change is
 * exactly what rebuilding it from its own encoding gave last time, and the
 * check after each rebuild (the rebuilt device encodes as the saved one
 * did) makes sure that rebuilding it again would give it back.
 * bytes_saved counts the encodings loaded.  Returns 1 when a device does
 * not restore.
 */
static int migrate(struct twin *t, struct dm_error *err)
{
	struct dm_machine *m = t->mig;

	if (t->opts->store)
		return migrate_via_store(t, err);
	for (unsigned i = 0; i < m->ndevices; i++) {
		const struct dm_device *d = &m->devices[i];
		struct dm_device saved = *d;
		size_t n;

		if (t->built_all && !t->stale[i])
			continue;
		n = dm_device_encode(d, t->enc, t->enc_cap);
		if (dm_machine_rebuild_device(m, i, t->enc, n, err))
			return dm_error_prefix(err, "%s", d->name);
		/* seen_mig holds the device as it was saved. */
		saved.state = t->seen_mig + m->pristine_off[i];
		if (!dm_device_equal(&saved, d))
			return not_restored(t, i);
		memcpy(t->seen_mig + m->pristine_off[i], d->state, d->size);
		t->stale[i] = false;
		t->res->bytes_saved += n;
	}
	t->built_all = true;
	t->res->migrations++;
	return 0;
}

static bool same(const struct dm_outcome *a, const struct dm_outcome *b)
{
	return a->has_actual == b->has_actual && a->fault == b->fault &&
	       (!a->has_actual || a->actual == b->actual);
}

static void report_divergence(const struct twin *t, const struct dm_event *ev,
			      const struct dm_outcome *a,
			      const struct dm_outcome *b)
{
	FILE *f = t->opts->out;
	char line[512];

	if (!f)
		return;
	dm_event_format(ev, line, sizeof(line));
	if (t->opts->json) {
		fprintf(f,
			"{\"identical\":false,\"event\":%" PRIu64
			",\"time_ns\":%" PRIu64 ",\"migration\":%" PRIu64
			",\"reference\":\"0x%" PRIx64
			"\",\"migrated\":\"0x%" PRIx64
			"\",\"migrations\":%" PRIu64 "}\n",
			t->res->event, ev->time, t->res->migration, a->actual,
			b->actual, t->res->migrations);
		return;
	}
	fprintf(f,
		"first divergence at event %" PRIu64 " (t=%" PRIu64
		" ns): %s\n",
		t->res->event, ev->time, line);
	if (same(a, b))
		fprintf(f, "  outputs agree; the states differ\n");
	else
		fprintf(f,
			"  reference 0x%" PRIx64 "%s, migrated twin 0x%" PRIx64
			"%s\n",
			a->actual, a->fault ? " (#GP)" : "", b->actual,
			b->fault ? " (#GP)" : "");
	fprintf(f,
		"  caused by the migration before event %" PRIu64 "\n"
		"  fields that differ now:\n",
		t->res->migration);
	for (unsigned i = 0; i < t->ref->ndevices; i++) {
		const struct dm_device *d = &t->ref->devices[i];
		struct diff_ctx ctx = {f, d->name};

		dm_state_diff(d->desc, d->state, t->mig->devices[i].state,
			      print_diff, &ctx);
	}
}

static void report_identical(const struct twin *t)
{
	FILE *f = t->opts->out;

	if (!f)
		return;
	if (t->opts->json) {
		fprintf(f,
			"{\"identical\":true,\"events\":%" PRIu64
			",\"migrations\":%" PRIu64 ",\"bytes_saved\":%" PRIu64
			",\"state_hash\":\"0x%016" PRIx64 "\"}\n",
			t->res->events, t->res->migrations, t->res->bytes_saved,
			dm_machine_hash(t->ref));
		return;
	}
	fprintf(f,
		"migrate-check: %" PRIu64 " events, %" PRIu64
		" migrations (%" PRIu64 " checkpoint bytes): identical\n"
		"state hash:    0x%016" PRIx64 "\n",
		t->res->events, t->res->migrations, t->res->bytes_saved,
		dm_machine_hash(t->ref));
}

/* Runs one event on both machines; returns 1 if they now differ. */
static int lockstep(struct twin *t, const struct dm_event *ev,
		    struct dm_error *err)
{
	struct dm_outcome a, b;

	if (dm_replay_step(t->ref, ev, &a, err) ||
	    dm_replay_step(t->mig, ev, &b, err))
		return -1;
	if (same(&a, &b) && states_equal(t))
		return 0;
	t->res->diverged = true;
	t->res->event = t->res->events;
	report_divergence(t, ev, &a, &b);
	return 1;
}

/* A checkpoint this very build cannot load back is a failed check. */
static int refused(struct twin *t, const struct dm_error *err)
{
	t->res->diverged = true;
	t->res->event = t->res->events;
	if (t->opts->out)
		fprintf(t->opts->out,
			"the checkpoint taken before event %" PRIu64
			" does not restore: %s\n",
			t->res->events, err->msg);
	return 1;
}

static int run(struct twin *t, struct dm_trace_reader *r, struct dm_error *err)
{
	struct dm_event ev;
	int more, rc;

	while ((more = dm_trace_next(r, &ev, err)) == 1) {
		if (migrate_before(t->opts, t->res->events)) {
			t->res->migration = t->res->events;
			rc = migrate(t, err);
			if (rc == -2)
				return -1;
			if (rc < 0)
				return refused(t, err);
			if (rc)
				return 1;
		}
		rc = lockstep(t, &ev, err);
		if (rc < 0)
			return dm_error_prefix(err, "event %" PRIu64,
					       t->res->events);
		if (rc > 0)
			return 1;
		t->res->events++;
	}
	return more < 0 ? -1 : 0;
}

/* Records the outcome in the store; an error already in err is kept. */
static int end_run(struct twin *t, int rc, struct dm_error *err)
{
	struct dm_error mine;
	const char *status = rc < 0 ? "failed" : rc ? "diverged" : "passed";

	return dm_store_end_run(t->opts->store, status, t->res->events,
				rc < 0 ? &mine : err);
}

int dm_migrate_check(const char *path, const struct dm_migrate_opts *opts,
		     struct dm_migrate_result *res, struct dm_error *err)
{
	struct dm_trace_reader *r;
	struct dm_config cfg;
	struct twin t = {&cfg, opts, NULL, NULL, res};
	int rc;

	*res = (struct dm_migrate_result){0};
	if (dm_trace_open(&r, path, err))
		return 2;
	rc = dm_replay_config(r, opts->machine_opts, &cfg, err);
	if (!rc)
		rc = build(&t, &t.ref, err);
	if (!rc)
		rc = build(&t, &t.mig, err);
	if (!rc)
		rc = alloc_tracking(&t, err);
	if (!rc && opts->store)
		rc = dm_store_begin_run(opts->store, "migrate-check", path,
					t.mig, &t.run, err);
	if (!rc)
		rc = run(&t, r, err);
	if (t.run && end_run(&t, rc, err))
		rc = -1;
	if (rc == 0)
		report_identical(&t);
	free_tracking(&t);
	dm_machine_destroy(t.ref);
	dm_machine_destroy(t.mig);
	dm_trace_close(r);
	return rc < 0 ? 2 : rc;
}
