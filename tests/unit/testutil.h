/* SPDX-License-Identifier: MIT */
/* Shared scaffolding for the Check suites under tests/unit. */
#ifndef DM_TESTUTIL_H
#define DM_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/state.h"

/* Runs one suite in CK_NORMAL verbosity; returns the process exit code. */
int dm_test_main(Suite *s);

/*
 * Round-trips a state through its canonical encoding into "fresh" (a
 * just-initialised object of the same kind, with live wiring) and asserts
 * that fresh then encodes to the same bytes.  Tests continue on fresh, so a
 * field missing from the table shows up as a behaviour change afterwards.
 */
void dm_test_roundtrip(const struct dm_state_desc *desc, void *state,
		       void *fresh);

/* Path of a file under tests/traces (from $DMSIM_TRACES). */
const char *dm_test_trace_path(const char *name);

#endif
