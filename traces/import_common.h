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

/* The PM block's base: the PMBASE the guest wrote (pmbase, 0 if none),
 * else the default of the chipset inferred (i440FX when none was). */
uint16_t dm_import_pmbase(const struct dm_import_pci *pci, uint32_t pmbase);

/*
 * Follows one port access.  Returns true for a 32-bit data access to bus 0
 * (*cf8: the address it used), after inferring the chipset from it.
 */
bool dm_import_pci_access(struct dm_import_pci *p, uint64_t port, unsigned size,
			  bool write, uint64_t val, uint32_t *cf8);

/* The report's chipset line: what was inferred, and from what. */
void dm_import_report_chipset(FILE *log, const struct dm_import_pci *p);

/* Whether a port is one of the modelled devices' (PIT and port 0x61,
 * 8259s and ELCR, RTC, the PM block at pmbase). */
bool dm_import_modelled_port(uint64_t port, uint64_t pmbase);

/*
 * The current line is the unterminated last one of a capture cut short:
 * true, with a warning on log (may be NULL), when it is to be skipped.
 */
bool dm_import_skip_truncated(const struct dm_import_input *in, FILE *log);

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
 * NVRAM bytes (index 0x0e-0x7f: memory sizes, boot order, CPU count,
 * equipment) before the guest runs, which no trace shows.
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
 * The guest's reads of the RTC, to recover where it stood at virtual time
 * 0: QEMU's RTC starts at the host's time and ticks at the host clock's
 * phase at its start.  A sample is a read of the seconds (with the time
 * of day when the hours and minutes were read before the next seconds
 * read) or of Register C's update flag, until the guest sets the clock
 * (SET, or a write of a time or date register).
 */
#define DM_IMPORT_RTC_SAMPLES 4096
struct dm_import_rtc_sample {
	uint64_t ts; /* the caller's timestamp */
	int32_t tod; /* seconds of the day, or -1 */
	uint8_t sec; /* the seconds register, binary */
	bool reg_c;  /* a Register C read: */
	bool uf;     /* ... with UF set */
};

struct dm_import_rtc {
	struct dm_import_cmos cmos;
	uint8_t reg_b;	   /* as the guest last read or wrote it */
	bool time_written; /* the guest set the clock */
	uint8_t have;	   /* time registers read since a seconds read */
	uint8_t val[6];	   /* their values */
	uint64_t sec_ts;   /* when the seconds were read */
	uint8_t date_have; /* day, month, year: first read of each */
	uint8_t date[3];
	unsigned n;
	struct dm_import_rtc_sample s[DM_IMPORT_RTC_SAMPLES];
};

void dm_import_rtc_init(struct dm_import_rtc *r);
void dm_import_rtc_access(struct dm_import_rtc *r, uint64_t ts, uint64_t port,
			  bool write, uint8_t value);

/* Where the RTC stood at virtual time 0 (dm_import_rtc_epoch). */
struct dm_import_rtc_at0 {
	int found;    /* 0: nothing dates it; 1: every read fits; -1: not */
	uint64_t sec; /* rtc_epoch */
	uint32_t ns;  /* rtc_epoch_ns */
	uint64_t width_ns; /* of the instants that fit best */
	uint64_t reads;	   /* samples used */
	uint64_t misfits;  /* samples no instant of those fits */
	bool wall_clock;   /* dated by the capture's wall clock too */
};

/*
 * The RTC's time at virtual time 0 that the most samples fit (the middle
 * of the longest run of such instants), given ns(ts) converting the
 * caller's timestamps to virtual ns.  realtime_ns, the host's wall clock
 * at virtual time 0 (0: unknown), bounds it to the second before: QEMU
 * started its RTC (Register C clear) at most a second before the capture
 * began.  Without it the first read of the time of day (with the first
 * day, month and year read; 2000-01-01's where none was) places it, and
 * the first Register C read is not judged.  found is 0 with neither.
 */
struct dm_import_rtc_at0
dm_import_rtc_epoch(const struct dm_import_rtc *r,
		    uint64_t (*ns)(const void *ctx, uint64_t ts),
		    const void *ctx, uint64_t realtime_ns);

/*
 * A cursor over an event's text, for the importers' parsers: each step
 * skips blanks first and clears ok when the text does not match, so a
 * parser checks ok once, at the end.
 */
struct dm_cur {
	const char *p;
	bool ok;
};

const char *dm_import_skip_ws(const char *p); /* spaces and tabs */
/* The literal lit. */
void dm_cur_lit(struct dm_cur *c, const char *lit);
/* A number in base 10 or 16, "0x" first when prefix. */
uint64_t dm_cur_num(struct dm_cur *c, int base, bool prefix);
/* Only blanks are left (after an optional tail, when not NULL). */
bool dm_cur_end(struct dm_cur *c, const char *tail);

#endif
