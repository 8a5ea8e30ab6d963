// SPDX-License-Identifier: MIT
#include "replay/stateset.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay/store.h"
#include "sim/kvm/kvmstate.h"

#define SQLITE_MAGIC "SQLite format 3"

static int read_all(FILE *f, uint8_t **buf, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	uint8_t *b = malloc(cap), *nb;

	while (b) {
		n += fread(b + n, 1, cap - n, f);
		if (n < cap) {
			if (ferror(f))
				break;
			*buf = b;
			*len = n;
			return 0;
		}
		cap *= 2;
		nb = realloc(b, cap);
		if (!nb)
			break;
		b = nb;
	}
	free(b);
	return -1;
}

static void mark_all(struct dm_stateset *s)
{
	for (unsigned i = 0; i < s->m->ndevices; i++)
		s->present[i] = true;
}

static int load_checkpoint_file(struct dm_stateset *s, const char *path,
				FILE *f, struct dm_error *err)
{
	uint8_t *buf;
	size_t len;
	int rc;

	if (read_all(f, &buf, &len))
		return dm_errorf(err, "%s: %s", path, strerror(errno));
	rc = dm_machine_restore(&s->m, NULL, buf, len, err);
	free(buf);
	if (rc)
		return dm_error_prefix(err, "%s", path);
	s->kind = "checkpoint";
	mark_all(s);
	return 0;
}

/* DB:RUN:SEQ, the database path itself possibly holding colons. */
static int load_db_checkpoint(struct dm_stateset *s, const char *spec,
			      struct dm_error *err)
{
	const char *seq_colon = strrchr(spec, ':');
	const char *run_colon = NULL;
	long long run;
	unsigned long long seq;
	char path[4096], *end;
	struct dm_store *st;
	int rc;

	for (const char *p = spec; seq_colon && p < seq_colon; p++)
		if (*p == ':')
			run_colon = p;
	if (!run_colon || (size_t)(run_colon - spec) >= sizeof(path))
		return dm_errorf(err, "%s: no such file, and not DB:RUN:SEQ",
				 spec);
	run = strtoll(run_colon + 1, &end, 10);
	if (end != seq_colon || run <= 0)
		return dm_errorf(err, "%s: bad run number", spec);
	seq = strtoull(seq_colon + 1, &end, 10);
	if (*end || !seq_colon[1])
		return dm_errorf(err, "%s: bad checkpoint number", spec);
	memcpy(path, spec, (size_t)(run_colon - spec));
	path[run_colon - spec] = '\0';
	if (dm_store_open(&st, path, false, err))
		return -1;
	rc = dm_store_load_machine(st, run, seq, &s->m, err);
	dm_store_close(st, NULL);
	if (rc)
		return dm_error_prefix(err, "%s", spec);
	s->kind = "database";
	mark_all(s);
	return 0;
}

int dm_stateset_load(struct dm_stateset *s, const char *spec,
		     struct dm_error *err)
{
	uint8_t head[16] = {0};
	FILE *f = fopen(spec, "rb");
	size_t n;
	int rc;

	*s = (struct dm_stateset){0};
	if (!f)
		return load_db_checkpoint(s, spec, err);
	n = fread(head, 1, sizeof(head), f);
	if (n >= 4 && !memcmp(head, "DMCK", 4)) {
		rewind(f);
		rc = load_checkpoint_file(s, spec, f, err);
	} else if (dm_kvm_dump_sniff(head, n)) {
		rc = dm_kvm_dump_load(spec, &s->m, s->present, err);
		s->kind = "kvm dump";
	} else if (n >= sizeof(SQLITE_MAGIC) - 1 &&
		   !memcmp(head, SQLITE_MAGIC, sizeof(SQLITE_MAGIC) - 1)) {
		rc = dm_errorf(err,
			       "%s is a database: name a checkpoint in it "
			       "as %s:RUN:SEQ",
			       spec, spec);
	} else {
		rc = dm_errorf(err,
			       "%s: not a checkpoint, a KVM state dump "
			       "or DB:RUN:SEQ",
			       spec);
	}
	fclose(f);
	return rc;
}

struct diff_ctx {
	const char *device;
	dm_stateset_diff_fn fn;
	void *ctx;
};

static void diff_leaf(const struct dm_leaf *a, uint64_t b_value, void *opaque)
{
	struct diff_ctx *d = opaque;

	d->fn(d->device, a, b_value, d->ctx);
}

unsigned long dm_stateset_diff(const struct dm_stateset *a,
			       const struct dm_stateset *b,
			       dm_stateset_diff_fn fn, void *ctx)
{
	unsigned long n = 0;

	for (unsigned i = 0; i < a->m->ndevices; i++) {
		const struct dm_device *da = &a->m->devices[i];
		const struct dm_device *db = dm_machine_device(b->m, da->name);
		struct diff_ctx d = {da->name, fn, ctx};

		if (!db || !a->present[i] || !b->present[db - b->m->devices] ||
		    da->desc != db->desc)
			continue;
		n += dm_state_diff(da->desc, da->state, db->state,
				   fn ? diff_leaf : NULL, &d);
	}
	return n;
}

void dm_stateset_free(struct dm_stateset *s)
{
	dm_machine_destroy(s->m);
	s->m = NULL;
}
