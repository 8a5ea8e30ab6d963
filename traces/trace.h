/* SPDX-License-Identifier: MIT */
/*
 * Trace events and the two encodings that carry them (docs/trace-format.md):
 * the text format v1 of DESIGN.md and a chunked, checksummed binary format.
 * Readers stream: memory use does not grow with the trace.
 */
#ifndef DM_TRACE_H
#define DM_TRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/error.h"

enum dm_op {
	DM_OP_PIO_R,
	DM_OP_PIO_W,
	DM_OP_MMIO_R,
	DM_OP_MMIO_W,
	DM_OP_MSR_R,
	DM_OP_MSR_W,
	DM_OP_IRQ,    /* dev: GSI line level */
	DM_OP_MSI,    /* dev: MSI address (addr) and data (value) */
	DM_OP_INTACK, /* cpu: the vcpu accepted an interrupt; value = vector */
	DM_OP_MARK,   /* sim: a named point (label) */
	DM_OP_HASH,   /* sim: expected machine state hash */
	/* Signals reaching a vcpu (outputs of the LAPIC); value = vector
	 * (SIPI: the start page; 0 for the others). */
	DM_OP_NMI,
	DM_OP_INIT,
	DM_OP_SIPI,
	DM_OP_SMI,
	/* dev: a host thread that runs device code can run it (value 1) or
	 * not (0); addr = which thread (0: the VMM's main loop, on a CPU;
	 * 1: KVM's PIT worker, woken). */
	DM_OP_THREAD,
	DM_OP_COUNT,
};

enum dm_actor {
	DM_ACTOR_CPU,
	DM_ACTOR_DEV,
	DM_ACTOR_SIM,
};

/* The value column holds a value ('?' clears this: record, check nothing). */
#define DM_EV_VALUE 0x1
/*
 * msr.r and msr.w only: the access takes a #GP (the x2APIC and the APIC
 * base MSR refuse many): replay checks that the model refuses it too.  A
 * faulting read has no value.
 */
#define DM_EV_GP 0x2

#define DM_LABEL_MAX 255

struct dm_event {
	uint64_t time;	/* ns, never decreasing */
	uint64_t addr;	/* port, MMIO address, MSR, GSI or MSI address */
	uint64_t value; /* written/expected value, level, data, vector, hash */
	uint32_t cpu;	/* vcpu number when actor is DM_ACTOR_CPU */
	uint8_t actor;	/* enum dm_actor */
	uint8_t op;	/* enum dm_op */
	uint8_t size;	/* access size 1/2/4/8; 0 where the column is '-' */
	uint8_t flags;	/* DM_EV_* */
	char label[DM_LABEL_MAX + 1]; /* DM_OP_MARK only; NUL-terminated */
};

const char *dm_op_name(enum dm_op op); /* "pio.r", "intack", ... */

/* True for the vcpu signal ops (nmi, init, sipi, smi). */
static inline bool dm_op_is_signal(enum dm_op op)
{
	return op >= DM_OP_NMI && op <= DM_OP_SMI;
}

/* True for reads whose value column is an expected output. */
static inline bool dm_op_is_read(enum dm_op op)
{
	return op == DM_OP_PIO_R || op == DM_OP_MMIO_R || op == DM_OP_MSR_R;
}

/* Formats one event as a text-format line (no newline). */
int dm_event_format(const struct dm_event *ev, char *buf, size_t cap);

enum dm_trace_encoding {
	DM_TRACE_TEXT,
	DM_TRACE_BINARY,
};

struct dm_trace_reader;

/*
 * Opens a trace file ("-" is standard input), detecting the encoding from
 * its first bytes.  Header lines (version, machine config) are consumed
 * here, so dm_trace_config() is valid right after open.
 */
int dm_trace_open(struct dm_trace_reader **r, const char *path,
		  struct dm_error *err);

/* Returns 1 with *ev filled, 0 at the end, -1 on malformed input (err
 * names the file and the line, or the byte offset of the bad chunk). */
int dm_trace_next(struct dm_trace_reader *r, struct dm_event *ev,
		  struct dm_error *err);

/* The "machine ..." options of the trace, "" when it has none. */
const char *dm_trace_config(const struct dm_trace_reader *r);
enum dm_trace_encoding dm_trace_encoding(const struct dm_trace_reader *r);
void dm_trace_close(struct dm_trace_reader *r);

struct dm_trace_writer;

/* Creates path ("-" is standard output).  config is the machine line's
 * options ("" for none). */
int dm_trace_create(struct dm_trace_writer **w, const char *path,
		    enum dm_trace_encoding enc, const char *config,
		    struct dm_error *err);
int dm_trace_write(struct dm_trace_writer *w, const struct dm_event *ev,
		   struct dm_error *err);
/* Flushes and closes; reports any write error.  Always frees w. */
int dm_trace_finish(struct dm_trace_writer *w, struct dm_error *err);

#endif
