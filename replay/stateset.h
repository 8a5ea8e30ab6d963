/* SPDX-License-Identifier: MIT */
/*
 * A machine state loaded from somewhere, for `dmsim diff`: a checkpoint
 * file (dm_machine_save), a checkpoint in a database (DB:RUN:SEQ), or a
 * KVM state dump (sim/kvm/kvmstate.h), which covers only the devices KVM
 * has.
 */
#ifndef DM_STATESET_H
#define DM_STATESET_H

#include <stdbool.h>

#include "sim/machine.h"

struct dm_stateset {
	struct dm_machine *m;
	bool present[DM_MAX_DEVICES]; /* devices the source describes */
	const char *kind;	      /* "checkpoint", "database", "kvm dump" */
};

/* A differing field of device `device`; a's leaf and b's value. */
typedef void (*dm_stateset_diff_fn)(const char *device, const struct dm_leaf *a,
				    uint64_t b_value, void *ctx);

/* Compares the devices both sides describe (matched by name); returns the
 * number of differing fields. */
unsigned long dm_stateset_diff(const struct dm_stateset *a,
			       const struct dm_stateset *b,
			       dm_stateset_diff_fn fn, void *ctx);

/* Loads spec: a file path, or DB:RUN:SEQ. */
int dm_stateset_load(struct dm_stateset *s, const char *spec,
		     struct dm_error *err);
void dm_stateset_free(struct dm_stateset *s);

#endif
