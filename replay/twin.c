// SPDX-License-Identifier: MIT
#include "replay/twin.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "replay/replay.h"
#include "replay/store.h"

static int build(struct dm_twin *t, struct dm_machine **m, struct dm_error *err)
{
	if (dm_machine_create(m, t->cfg, err))
		return -1;
	if (t->opts->adjust)
		t->opts->adjust(*m);
	return 0;
}

/*
 * Which devices changed: each snapshot holds every device's struct bytes,
 * back to back at the machine's pristine_off offsets.  Bytes are compared
 * rather than states: a change to a member the state table forgets must
 * count too.
 */
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

static int alloc_tracking(struct dm_twin *t, struct dm_error *err)
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

int dm_twin_open(struct dm_twin *t, const struct dm_config *cfg,
		 const struct dm_migrate_opts *opts, struct dm_error *err)
{
	*t = (struct dm_twin){.cfg = cfg, .opts = opts, .out = opts->out};
	if (build(t, &t->ref, err) || build(t, &t->mig, err) ||
	    alloc_tracking(t, err)) {
		dm_twin_close(t);
		return -1;
	}
	return 0;
}

void dm_twin_close(struct dm_twin *t)
{
	free(t->seen_ref);
	free(t->seen_mig);
	free(t->stale);
	free(t->enc);
	dm_machine_destroy(t->ref);
	dm_machine_destroy(t->mig);
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
static bool states_equal(struct dm_twin *t)
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

static bool migrates_before(const struct dm_migrate_opts *opts, uint64_t i)
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

/* Records a divergence before or at the event t->index, at time_ns. */
static void diverged(struct dm_twin *t, uint64_t time_ns)
{
	t->res->diverged = true;
	t->res->event = t->index;
	t->res->time_ns = time_ns;
}

/* Device i did not rebuild to saved, the state it was saved from. */
static int not_restored(struct dm_twin *t, unsigned i, const void *saved)
{
	const struct dm_device *d = &t->mig->devices[i];
	struct diff_ctx ctx = {t->out, d->name};

	diverged(t, t->now);
	if (!t->out || t->opts->json)
		return 1;
	fprintf(t->out,
		"the checkpoint taken before event %" PRIu64
		" does not restore %s to the state it was saved from:\n",
		t->index, d->name);
	dm_state_diff(d->desc, saved, d->state, print_diff, &ctx);
	return 1;
}

/*
 * The same through the store: the twin is rebuilt from what SQLite gives
 * back.  bytes_saved counts the new blob bytes.  Returns -2 when the store
 * cannot write (bad input, not a divergence).
 */
static int migrate_via_store(struct dm_twin *t, struct dm_error *err)
{
	struct dm_store *s = t->opts->store;
	struct dm_store_stats before, after;
	struct dm_machine *fresh;
	uint64_t n = t->index, seq;
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

/* Saves device i of the twin and rebuilds it from what was saved. */
static int rebuild(struct dm_twin *t, unsigned i, struct dm_error *err)
{
	struct dm_machine *m = t->mig;
	const struct dm_device *d = &m->devices[i];
	struct dm_device saved = *d;
	size_t n = dm_device_encode(d, t->enc, t->enc_cap);

	if (dm_machine_rebuild_device(m, i, t->enc, n, err))
		return dm_error_prefix(err, "%s", d->name);
	/* seen_mig holds the device as it was saved. */
	saved.state = t->seen_mig + m->pristine_off[i];
	if (!dm_device_equal(&saved, d))
		return not_restored(t, i, saved.state);
	memcpy(t->seen_mig + m->pristine_off[i], d->state, d->size);
	t->stale[i] = false;
	t->res->bytes_saved += n;
	return 0;
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
static int migrate(struct dm_twin *t, struct dm_error *err)
{
	struct dm_machine *m = t->mig;

	if (t->opts->store)
		return migrate_via_store(t, err);
	for (unsigned i = 0; i < m->ndevices; i++) {
		int rc = t->built_all && !t->stale[i] ? 0 : rebuild(t, i, err);

		if (rc)
			return rc;
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

static void report_divergence(const struct dm_twin *t,
			      const struct dm_event *ev,
			      const struct dm_outcome *a,
			      const struct dm_outcome *b)
{
	FILE *f = t->opts->json ? NULL : t->out;
	char line[512];

	if (!f)
		return;
	dm_event_format(ev, line, sizeof(line));
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

/* Runs one event on both machines; returns 1 if they now differ. */
static int lockstep(struct dm_twin *t, const struct dm_event *ev,
		    struct dm_error *err)
{
	struct dm_outcome a, b;

	if (dm_replay_step(t->ref, ev, &a, err) ||
	    dm_replay_step(t->mig, ev, &b, err))
		return -1;
	if (same(&a, &b) && states_equal(t))
		return 0;
	diverged(t, ev->time);
	t->res->reference = a.actual;
	t->res->migrated = b.actual;
	report_divergence(t, ev, &a, &b);
	return 1;
}

/* A checkpoint this very build cannot load back is a failed check. */
static int refused(struct dm_twin *t, const struct dm_error *err)
{
	diverged(t, t->now);
	if (t->out && !t->opts->json)
		fprintf(t->out,
			"the checkpoint taken before event %" PRIu64
			" does not restore: %s\n",
			t->index, err->msg);
	return 1;
}

/*
 * The migration due before event t->index, made from the reference: a
 * twin built afresh and loaded, device by device, with the reference's
 * encodings.  This is the twin the migration would have made, since the
 * two machines' states were equal and a rebuild depends on nothing but
 * the encoding; it is not counted in t->res.
 */
static int rebase(struct dm_twin *t, struct dm_error *err)
{
	struct dm_machine *ref = t->ref;

	dm_machine_destroy(t->mig);
	t->mig = NULL;
	if (build(t, &t->mig, err))
		return -1;
	t->res->migration = t->index;
	for (unsigned i = 0; i < ref->ndevices; i++) {
		const struct dm_device *d = &t->mig->devices[i];
		size_t n =
			dm_device_encode(&ref->devices[i], t->enc, t->enc_cap);

		if (dm_device_load(d, t->enc, n, err)) {
			dm_error_prefix(err, "%s", d->name);
			return refused(t, err);
		}
		if (!dm_device_equal(&ref->devices[i], d))
			return not_restored(t, i, ref->devices[i].state);
		t->stale[i] = false;
	}
	snapshot(ref, t->seen_ref);
	snapshot(t->mig, t->seen_mig);
	t->built_all = true;
	t->compare_all = true;
	t->behind = false;
	return 0;
}

/* The migration due before the next event, if any. */
static int migrate_if_due(struct dm_twin *t, struct dm_error *err)
{
	int rc;

	if (!migrates_before(t->opts, t->index))
		return 0;
	t->res->migration = t->index;
	rc = migrate(t, err);
	if (rc == -2)
		return -1;
	return rc < 0 ? refused(t, err) : rc;
}

int dm_twin_step(struct dm_twin *t, const struct dm_event *ev,
		 struct dm_error *err)
{
	int rc;

	t->now = ev->time;
	/* After events on the reference alone, the rebase is this event's
	 * migration. */
	rc = t->behind ? rebase(t, err) : migrate_if_due(t, err);
	if (!rc)
		rc = lockstep(t, ev, err);
	if (rc < 0)
		return dm_error_prefix(err, "event %" PRIu64, t->index);
	if (!rc)
		t->index++;
	return rc;
}

int dm_twin_skip(struct dm_twin *t, const struct dm_event *ev,
		 struct dm_error *err)
{
	struct dm_outcome a;

	if (dm_replay_step(t->ref, ev, &a, err))
		return dm_error_prefix(err, "event %" PRIu64, t->index);
	t->index++;
	t->behind = true;
	return 0;
}

void dm_twin_progress(FILE *f, uint64_t checked, bool done)
{
	if (!f || checked < DM_TWIN_PROGRESS_EVERY)
		return;
	if (done) {
		fputc('\n', f);
		return;
	}
	fprintf(f, "\rmigrate-check: %" PRIu64 " events checked", checked);
	fflush(f);
}
