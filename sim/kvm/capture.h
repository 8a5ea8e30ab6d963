/* SPDX-License-Identifier: MIT */
/*
 * Capturing a running KVM guest through the kvm tracepoints (tracefs).
 *
 * The capture works in a tracefs instance of its own (instances/dmsim-PID),
 * so the global ring buffer, clock, event switches and pid filter are never
 * touched; the instance is removed at the end, on error and on SIGINT, and
 * tracefs (and debugfs, read for the vcpu threads and TSC offsets) is
 * unmounted again if the capture mounted it.  The raw text it writes is
 * what trace_pipe printed, between comment lines that record what the
 * capture knew (docs/importers.md); traces/import.h converts it.
 */
#ifndef DM_KVM_CAPTURE_H
#define DM_KVM_CAPTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/error.h"

struct dm_capture_opts {
	int pid;	      /* the VMM process */
	uint64_t duration_ms; /* 0: until the process exits or SIGINT */
	const char *raw_path; /* where the raw text goes */
	unsigned buffer_kb;   /* per-CPU ring buffer; 0: 8192 */
	FILE *log;	      /* progress and warnings; NULL: quiet */
};

enum dm_capture_end {
	DM_CAPTURE_DURATION, /* the duration ran out */
	DM_CAPTURE_EXITED,   /* the process exited */
	DM_CAPTURE_SIGNAL,   /* SIGINT, SIGTERM or SIGHUP */
};

struct dm_capture_stats {
	uint64_t bytes;	  /* of trace text (without the comment lines) */
	uint64_t lines;	  /* of trace text */
	uint64_t lost;	  /* ring-buffer overruns and dropped events */
	unsigned threads; /* threads in the pid filter */
	unsigned vcpus;	  /* vcpu threads found in debugfs */
	bool pit_thread;  /* KVM's kvm-pit/PID thread is among the threads */
	char clock[16];	  /* the trace clock used */
	enum dm_capture_end end;
};

/*
 * Captures until the duration ends, the process exits or a signal stops
 * it.  SIGINT, SIGTERM and SIGHUP are caught for the duration of the call
 * (the previous handlers are restored).  Returns 0, or -1 with err (every
 * tracefs change is undone either way).
 */
int dm_kvm_capture(const struct dm_capture_opts *o, struct dm_capture_stats *st,
		   struct dm_error *err);

#endif
