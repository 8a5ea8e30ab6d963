/* SPDX-License-Identifier: MIT */
/*
 * What the ftrace and QEMU importers share (private to traces/import_*.c
 * and cli/cmd_import.c): a rewindable input, the chipset inference from PCI
 * configuration cycles, the conversion pass's scaffolding and the command
 * line options both take.
 */
#ifndef DM_IMPORT_COMMON_H
#define DM_IMPORT_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/error.h"
#include "traces/trace.h"

/* The input, read twice: standard input is copied first. */
struct dm_import_input {
	FILE *f;
	const char *name;
	char *line;
	size_t cap;
	uint64_t lineno;
	bool unterminated; /* the current line has no newline: the last */
};

/* Opens path ("-" = standard input) at its first line. */
int dm_import_input_open(struct dm_import_input *in, const char *path,
			 struct dm_error *err);
int dm_import_input_rewind(struct dm_import_input *in, struct dm_error *err);
/* Returns 1 with in->line (no line end), 0 at the end, -1 on an error. */
int dm_import_input_next(struct dm_import_input *in, struct dm_error *err);
void dm_import_input_close(struct dm_import_input *in);

/* PCI configuration through 0xcf8/0xcfc identifies the chipset. */
struct dm_import_pci {
	uint32_t cf8;
	int chipset; /* -1: not inferred */
	const char *chipset_why;
};

/*
 * Follows one port access.  Returns true for a 32-bit data access to bus 0
 * (*cf8: the address it used), after inferring the chipset from it.
 */
bool dm_import_pci_access(struct dm_import_pci *p, uint64_t port, unsigned size,
			  bool write, uint64_t val, uint32_t *cf8);

/*
 * QEMU's board fills the CMOS NVRAM (index 0x0e-0x7f: memory sizes, boot
 * order, CPU count, equipment) before the guest runs; no trace shows those
 * bytes.  Follows the guest's accesses to ports 0x70/0x71.
 */
struct dm_import_cmos {
	uint8_t index;
	uint64_t set[2]; /* NVRAM bytes the guest wrote */
};

/* True for a read of an NVRAM byte the guest has not written: its value
 * is the board's, unknown, so the read is not checked. */
bool dm_import_cmos_unknown(struct dm_import_cmos *c, uint64_t port, bool write,
			    uint64_t value);

/*
 * Pass 2: rewinds in, creates out with config, and runs convert(ctx),
 * which writes to *w.  A trace left half written is removed (unless out
 * is "-"): it would replay as if it were whole.
 */
int dm_import_write(struct dm_import_input *in, const char *out,
		    enum dm_trace_encoding encoding, const char *config,
		    int (*convert)(void *ctx), void *ctx,
		    struct dm_trace_writer **w, struct dm_error *err);

/* What `dmsim import FORMAT` takes; tsc_hz and hpet_irq_edges only for
 * ftrace. */
struct dm_import_args {
	const char *in, *out;
	uint32_t model_gsis;
	bool model_gsis_given;
	bool pit_irq0_edges;
	bool hpet_irq_edges;
	enum dm_trace_encoding encoding;
	uint64_t tsc_hz;
	bool quiet;
};

/* Prints what and arg, then usage, on stderr; returns DM_EXIT_USAGE. */
int dm_import_usage_error(const char *usage, const char *what, const char *arg);

/*
 * Parses argv[2...] into a (GSIs up to max_gsi).  Returns -1 when the
 * arguments are complete, else the exit code (usage printed).
 */
int dm_import_parse_args(int argc, char **argv, const char *usage,
			 unsigned max_gsi, bool ftrace,
			 struct dm_import_args *a);

#endif
