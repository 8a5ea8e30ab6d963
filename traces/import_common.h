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
 * Pass 2: rewinds in, creates out with config, and runs convert(ctx),
 * which writes to *w.  A trace left half written is removed (unless out
 * is "-"): it would replay as if it were whole.
 */
int dm_import_write(struct dm_import_input *in, const char *out,
		    enum dm_trace_encoding encoding, const char *config,
		    int (*convert)(void *ctx), void *ctx,
		    struct dm_trace_writer **w, struct dm_error *err);

/*
 * The guest's CMOS accesses (ports 0x70/0x71).  QEMU's board fills the
 * NVRAM bytes (index 0x0e-0x7f: memory sizes, boot order, equipment)
 * before the guest runs, which no trace shows.
 */
struct dm_import_cmos {
	uint8_t index;
	uint64_t written[2]; /* NVRAM bytes the guest wrote */
};

/* Follows one access; true for a read of an NVRAM byte the guest never
 * wrote (its value is the board's, which the trace cannot check). */
bool dm_import_cmos_access(struct dm_import_cmos *c, uint64_t port, bool write,
			   uint8_t value);

/*
 * The RTC's date and time as the guest read them, to recover where the
 * RTC stood at virtual time 0: QEMU's RTC starts at the host's time and
 * ticks at the host clock's phase at its start.
 */
#define DM_IMPORT_RTC_SAMPLES 256
struct dm_import_rtc {
	struct dm_import_cmos cmos;
	uint8_t reg_b;	   /* as the guest last read or wrote it */
	uint8_t have;	   /* time registers read since a seconds read */
	uint8_t val[10];   /* their values */
	uint64_t sec_ts;   /* when the seconds were read */
	uint8_t date_have; /* day, month, year: first read of each */
	uint8_t date[3];
	unsigned n;			    /* samples: */
	int32_t tod[DM_IMPORT_RTC_SAMPLES]; /* seconds of the day, or -1 */
	uint8_t sec[DM_IMPORT_RTC_SAMPLES]; /* the seconds register */
	uint64_t ts[DM_IMPORT_RTC_SAMPLES]; /* the caller's timestamps */
};

void dm_import_rtc_init(struct dm_import_rtc *r);
void dm_import_rtc_access(struct dm_import_rtc *r, uint64_t ts, uint64_t port,
			  bool write, uint8_t value);

/*
 * The RTC time at virtual time 0 (*sec, *ns) that every read agrees with,
 * given ns(ts) converting the caller's timestamps to virtual ns.  The
 * date is the first day, month and year the guest read; those it never
 * read are 2000-01-01's (the default rtc_epoch's).
 * Returns 0 without a read of the hours, minutes and seconds, 1 when
 * every read agrees, -1 when they cannot all agree (the lowest instant
 * the reads allow is taken).
 */
int dm_import_rtc_epoch(const struct dm_import_rtc *r,
			uint64_t (*ns)(const void *ctx, uint64_t ts),
			const void *ctx, uint64_t *sec, uint32_t *frac_ns);

/* What `dmsim import FORMAT` takes; tsc_hz only where tsc_hz_ok. */
struct dm_import_args {
	const char *in, *out;
	uint32_t model_gsis;
	bool model_gsis_given;
	bool pit_irq0_edges;
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
			 unsigned max_gsi, bool tsc_hz_ok,
			 struct dm_import_args *a);

#endif
