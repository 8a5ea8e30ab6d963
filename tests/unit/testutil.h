/* SPDX-License-Identifier: MIT */
/* Shared scaffolding for the Check suites under tests/unit. */
#ifndef DM_TESTUTIL_H
#define DM_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/config.h"
#include "sim/irq.h"
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

/* An interrupt output under test, recorded by dm_test_line_set. */
struct dm_test_line {
	unsigned pin; /* the pin the model must drive */
	int level;
	unsigned rises;	    /* low -> high transitions */
	unsigned falls;	    /* high -> low transitions (ends of pulses) */
	uint64_t last_rise; /* time of the last rise */
};

/* A dm_irq_fn recording into the struct dm_test_line given as opaque. */
void dm_test_line_set(void *opaque, uint64_t now, unsigned pin, int level);

/* A line handle wired to l. */
struct dm_irq_line dm_test_line_wire(struct dm_test_line *l);

/* The datasheet profile's options, then opts (asserting they parse). */
void dm_test_config(struct dm_config *cfg, const char *opts);

/* Path of a file under tests/traces (from $DMSIM_TRACES). */
const char *dm_test_trace_path(const char *name);

#endif
