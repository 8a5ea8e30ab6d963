/* SPDX-License-Identifier: MIT */
/*
 * Time tolerance for captured traces.  A captured timestamp is taken near,
 * not at, the instant a device computed a value, so a read whose value
 * derives from time (a PIT count, directly or through a latch; the HPET
 * main counter; the PM timer; the LAPIC current count; RTC registers;
 * which interrupt a vcpu takes) is accepted when some instant within the
 * tolerance of the event would have produced the recorded value.
 *
 * How: the replay keeps a checkpoint taken before the current event (or,
 * after a PIT counter-latch or read-back command, before that command,
 * since the latch is where the time was sampled; likewise after a write
 * that halts the HPET's main counter, which keeps that instant's value)
 * and the events applied since.  On a mismatch it rebuilds scratch machines
 * from that checkpoint with the sampling event moved by delta ns, re-applies
 * the events and looks for the delta closest to 0 that yields the recorded
 * value.  Event
 * order is kept: a moved event never passes its neighbours.
 */
#ifndef DM_TOLERANCE_H
#define DM_TOLERANCE_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/machine.h"
#include "traces/trace.h"

#define DM_TOL_WINDOW 16 /* events kept behind the checkpoint */
#define DM_TOL_BUCKETS 8 /* residual histogram: < 1 us, < 2 us, ... */

struct dm_tolerance {
	uint64_t ns;
	uint8_t *anchor; /* checkpoint before events[0] */
	size_t anchor_len;
	struct dm_event events[DM_TOL_WINDOW];
	unsigned nevents;
	uint64_t floor_ns; /* the machine's time at the checkpoint */
	bool latch_open;   /* events[0] latched a PIT count */
	bool halt_open;	   /* events[0] halted the HPET main counter */
	/* Residuals of the reads accepted within the tolerance. */
	uint64_t accepted;
	uint64_t histogram[DM_TOL_BUCKETS]; /* |delta| by power-of-2 us */
	uint64_t max_residual_ns;
};

void dm_tolerance_init(struct dm_tolerance *t, uint64_t ns);
void dm_tolerance_destroy(struct dm_tolerance *t);

/* Call before applying ev to m: records the window the search works in. */
int dm_tolerance_before(struct dm_tolerance *t, const struct dm_machine *m,
			const struct dm_event *ev, struct dm_error *err);

/* True for outputs a device computes from virtual time. */
bool dm_tolerance_applies(const struct dm_machine *m,
			  const struct dm_event *ev);

/*
 * After ev (the last event given to dm_tolerance_before) mismatched:
 * returns true, recording the residual, if moving its sampling event by
 * at most the tolerance reproduces the trace's value.
 */
bool dm_tolerance_rescue(struct dm_tolerance *t, const struct dm_event *ev);

#endif
