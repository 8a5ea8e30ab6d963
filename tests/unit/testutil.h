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
#include "traces/trace.h"

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

/* ---- importer tests: scratch files, input texts, the trace written -- */

/* Makes the scratch directory named by the template dir ("...XXXXXX"). */
void dm_test_mkdtemp(char *dir, const char *tmpl);
/* Removes it and all it holds. */
void dm_test_rmdir(const char *dir);
/* Writes text to dir/name; returns the path (static storage). */
const char *dm_test_write_file(const char *dir, const char *name,
			       const char *text);
/* A whole file as a string (malloc'd; at most 1 MiB). */
char *dm_test_slurp(const char *path);
/* Asserts that the file at path equals tests/traces/name byte for byte. */
void dm_test_assert_file_is(const char *path, const char *name);

/* Reads the trace at path: its events (at most max), its machine line. */
unsigned dm_test_read_trace(const char *path, struct dm_event *ev, unsigned max,
			    char *config, size_t config_cap);
/* The event with op at time among ev[0..n), failing the test if none. */
const struct dm_event *dm_test_find_event(const struct dm_event *ev, unsigned n,
					  enum dm_op op, uint64_t time);

/* An importer's input, built line by line. */
struct dm_test_text {
	char buf[8192];
	size_t n;
};

/* Appends printf-formatted text, failing the test if it does not fit. */
void dm_test_text_add(struct dm_test_text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
