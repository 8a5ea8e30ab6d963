/* SPDX-License-Identifier: MIT */
/*
 * Time tolerance for captured traces.  A captured timestamp is taken near,
 * not at, the instant a device computed a value, so a read whose value
 * derives from time (a PIT count, directly or through a latch; the HPET
 * main counter; the PM timer; the LAPIC current count; RTC registers;
 * which interrupt a vcpu takes) is accepted when some instant within the
 * tolerance of the event would have produced the recorded value.
 *
 * Two instants may be off, and each is searched from a checkpoint taken
 * before it, on scratch machines that re-apply the events since:
 *
 * - the write that STARTED the time base a read shows (a PIT count load,
 *   a LAPIC TMICT write, an HPET enable, an RTC register A write): KVM and
 *   QEMU log such a write, then apply it when they handle it, before the
 *   vcpu's next event (an importer may also have put a write QEMU served
 *   after its instant, no earlier than the event before it).  A read of
 *   that base that no sampling instant explains searches this one
 *   instant; when one reproduces the read and every earlier read of the
 *   base since the write (each within its own sampling window), the
 *   replay ADOPTS it: the machine continues from the moved write, so
 *   every later read must fit the same instant, and every later search
 *   replays the write there.  One instant per write, never one per read;
 *   a later read may move it again only to an instant that fits all.
 *   When no instant gives the read's value at its line, the search is
 *   repeated with the read sampled at an end of its own window (below),
 *   as each earlier read is.
 *   Likewise a vcpu's intack, which KVM injected before its line and
 *   after the vcpu's previous event: an acceptance that mismatches moves
 *   the vcpu's previous intack back.
 * - the instant the read itself was sampled: the read, or the PIT latch
 *   or read-back command whose count it returns, or the write that halted
 *   the HPET's main counter, moved within the tolerance.  This only
 *   accepts the value; the machine goes on unchanged.
 *
 * A search bisects the grid step whose outcomes bracket the value; a step
 * that runs against the count's way (a reload, a mode 3 half-period wrap)
 * is halved until a half that runs its way brackets it.
 *
 * Event order is kept: a read never passes its neighbours, a start write
 * passes only events of other actors before its vcpu's next one, an
 * intack only those after its vcpu's previous one.  dev thread events
 * (when a host thread had a CPU) move nothing and are no neighbours: a
 * read or a start write moved earlier than some is applied before them.
 *
 * A sim mark host-silent-LEN (the importer's: no line of any CPU for LEN
 * ns up to the mark) right after a PIT latch or a start write whose line
 * began the silence is no neighbour either: the host was stopped, and
 * what KVM did after the line it did near one end of the silence or the
 * other.  When the silence outlasts the tolerance and the near end gives
 * nothing, the event is searched within the tolerance of the far end.
 *
 * A sim mark qemu-window-V-LEN (the importer's, at a read's exit to QEMU)
 * says that vcpu V's next event, a read QEMU served, was computed within
 * LEN ns from the mark: its service window, a fact of the trace.  When
 * the searches above give nothing, the read is searched anywhere in that
 * window, passing only events that cannot change what it returns (marks,
 * and for a read of the HPET's main counter or the PM timer, line changes
 * by devices and host threads' runs); it is not moved past any other.
 */
#ifndef DM_TOLERANCE_H
#define DM_TOLERANCE_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/machine.h"
#include "traces/trace.h"

#define DM_TOL_WINDOW 16      /* events a sampling window holds */
#define DM_TOL_SPAN (1 << 17) /* events kept: a start write's window */
#define DM_TOL_BUCKETS 8      /* residual histogram: < 1 us, < 2 us, ... */
/* Time bases: PIT counters 0-2, the HPET, the RTC, one LAPIC timer per
 * vcpu, and each vcpu's acceptances of interrupts. */
#define DM_TOL_BASES (5 + 2 * DM_MAX_VCPUS)
#define DM_TOL_PULLS 64 /* acceptances moved earlier within one window */

/* An event as the windows keep it: a mark's label is not needed. */
struct dm_tol_event {
	uint64_t time, addr, value;
	uint32_t cpu;
	uint8_t actor, op, size, flags;
	int64_t moved; /* a start write or intack: the instant adopted */
	int16_t base;  /* a start write: its base, else -1 */
	int16_t gap;   /* a vcpu's gap begins here: the vcpu, else -1 */
};

/*
 * The last write that started a time base, while its instant is open; for
 * a vcpu's acceptances, its last intack, which the vcpu may have taken
 * before its line, back to its previous event.
 */
struct dm_tol_start {
	uint8_t *anchor; /* the machine before event at */
	size_t anchor_len;
	uint64_t floor_ns; /* the machine's time then */
	uint64_t at;	   /* where the replays start */
	uint64_t ev;	   /* the event that moves: the write or the intack */
};

struct dm_tolerance {
	uint64_t ns;
	struct dm_tol_event *ring; /* the last DM_TOL_SPAN events, by number */
	uint64_t seen;		   /* events given to dm_tolerance_before */
	/* The sampling window: a checkpoint before event win_at. */
	uint8_t *anchor;
	size_t anchor_len;
	uint64_t win_at;
	uint64_t floor_ns; /* the machine's time at the checkpoint */
	bool win_threads;  /* every event since win_at is a dev thread */
	struct dm_tol_start starts[DM_TOL_BASES];
	/* Per vcpu: the machine after its last event, while other actors'
	 * events follow (an intack next may move back to there). */
	struct dm_tol_start gaps[DM_MAX_VCPUS];
	/* Per vcpu: the machine before its last sim mark qemu-window (at),
	 * while the read it qualifies (ev, NONE until seen) may search it. */
	struct dm_tol_start windows[DM_MAX_VCPUS];
	/* Intacks whose adopted instant precedes their line. */
	uint64_t *pulls;
	unsigned npulls, pulls_cap;
	/* Residuals of the reads accepted within the tolerance. */
	uint64_t accepted;
	uint64_t histogram[DM_TOL_BUCKETS]; /* |delta| by power-of-2 us */
	uint64_t max_residual_ns;
	/* Start writes and intacks moved to an adopted instant, and the
	 * largest move. */
	uint64_t adopted;
	uint64_t max_adopted_ns;
};

void dm_tolerance_init(struct dm_tolerance *t, uint64_t ns);
void dm_tolerance_destroy(struct dm_tolerance *t);

/* Call before applying ev to m: records the windows the search works in. */
int dm_tolerance_before(struct dm_tolerance *t, const struct dm_machine *m,
			const struct dm_event *ev, struct dm_error *err);

/* True for outputs a device computes from virtual time. */
bool dm_tolerance_applies(const struct dm_machine *m,
			  const struct dm_event *ev);

/*
 * After ev (the last event given to dm_tolerance_before, applied to *m)
 * mismatched: returns true, recording the residual, if moving its start
 * write or its sampling event by at most the tolerance reproduces the
 * trace's value.  When the start write moved, *m is replaced by the
 * machine that applied it at its adopted instant.
 */
bool dm_tolerance_rescue(struct dm_tolerance *t, struct dm_machine **m,
			 const struct dm_event *ev);

#endif
