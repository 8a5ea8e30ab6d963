// SPDX-License-Identifier: MIT
/*
 * dmsim kvm capture --pid PID [--duration D] -o OUT [--raw RAW]: records a
 * running guest through the kvm tracepoints, then imports the capture.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sim/kvm/capture.h"
#include "traces/import.h"

static const char usage_text[] =
	"usage: dmsim kvm capture --pid PID [--duration D] -o OUT\n"
	"                         [--raw RAW] [--buffer-kb N]\n"
	"                         [--pit-irq0 auto|model|trace]\n"
	"                         [--to text|binary]\n"
	"\n"
	"Records what the guest of VMM process PID does to its interrupt\n"
	"controllers and timers through the kvm tracepoints (root; tracefs\n"
	"is mounted if needed, in an instance of its own that is removed\n"
	"afterwards), until D has passed (e.g. 10, 10s, 500ms, 2m), the\n"
	"process exits or SIGINT.  The raw tracefs text goes to RAW\n"
	"(default OUT.raw); it is then imported into the dmsim trace OUT,\n"
	"as `dmsim import ftrace` would (--to as there).  Lost events are\n"
	"reported here and marked in the trace.\n"
	"\n"
	"  --pit-irq0 SRC  who raises IRQ0 for KVM's in-kernel PIT in the\n"
	"                  replay: trace (the edges its kvm-pit thread\n"
	"                  raised, at host-scheduled times; the machine gets\n"
	"                  pit_irq0=off) or model (the PIT model); auto\n"
	"                  (default): trace when the VM has that thread\n"
	"\n"
	"exit status: 0 done, 2 bad usage, capture failure or nothing\n"
	"captured\n";

struct kvm_args {
	struct dm_capture_opts cap;
	const char *out;
	char raw[4096];
	enum dm_trace_encoding enc;
	int pit_irq0_edges; /* -1: when the capture traced the kvm-pit thread */
};

static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "dmsim kvm: %s %s\n%s", what, arg ? arg : "",
		usage_text);
	return DM_EXIT_USAGE;
}

/* "10" and "10s" are seconds; "500ms", "2m" and "1h" say their unit. */
static int parse_duration(const char *s, uint64_t *ms)
{
	static const struct {
		const char *unit;
		uint64_t ms;
	} units[] = {{"", 1000},
		     {"s", 1000},
		     {"ms", 1},
		     {"m", 60000},
		     {"h", 3600000}};
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(end, units[i].unit) &&
		    v <= UINT64_MAX / units[i].ms) {
			*ms = v * units[i].ms;
			return *ms ? 0 : -1;
		}
	return -1;
}

static int parse_number(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	return errno || end == s || *end || !*v || *v > max ? -1 : 0;
}

/* Returns -1 when the arguments are complete, else the exit code. */
static int parse_args(int argc, char **argv, struct kvm_args *a)
{
	const char *raw = NULL;
	unsigned long v;

	for (int i = 2; i < argc; i++) {
		const char *arg = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			fputs(usage_text, stdout);
			return DM_EXIT_OK;
		}
		if (!val)
			return usage_error("needs an argument:", arg);
		i++;
		if (!strcmp(arg, "--pid")) {
			if (parse_number(val, 0x7fffffff, &v))
				return usage_error("bad --pid", val);
			a->cap.pid = (int)v;
		} else if (!strcmp(arg, "--duration")) {
			if (parse_duration(val, &a->cap.duration_ms))
				return usage_error("bad --duration", val);
		} else if (!strcmp(arg, "--buffer-kb")) {
			if (parse_number(val, 1u << 22, &v))
				return usage_error("bad --buffer-kb", val);
			a->cap.buffer_kb = (unsigned)v;
		} else if (!strcmp(arg, "-o")) {
			a->out = val;
		} else if (!strcmp(arg, "--raw")) {
			raw = val;
		} else if (!strcmp(arg, "--pit-irq0")) {
			if (!strcmp(val, "trace"))
				a->pit_irq0_edges = 1;
			else if (!strcmp(val, "model"))
				a->pit_irq0_edges = 0;
			else if (strcmp(val, "auto"))
				return usage_error("--pit-irq0 takes auto, "
						   "model or trace, not",
						   val);
		} else if (!strcmp(arg, "--to")) {
			if (!strcmp(val, "binary"))
				a->enc = DM_TRACE_BINARY;
			else if (strcmp(val, "text"))
				return usage_error("--to takes text or binary,"
						   " not",
						   val);
		} else {
			return usage_error("unknown option", arg);
		}
	}
	if (!a->cap.pid || !a->out || !strcmp(a->out, "-"))
		return usage_error("needs --pid PID and -o OUT (a file)", NULL);
	snprintf(a->raw, sizeof(a->raw), "%s%s", raw ? raw : a->out,
		 raw ? "" : ".raw");
	a->cap.raw_path = a->raw;
	return -1;
}

static const char *const end_names[] = {
	[DM_CAPTURE_DURATION] = "the duration ran out",
	[DM_CAPTURE_EXITED] = "the process exited",
	[DM_CAPTURE_SIGNAL] = "interrupted",
};

static int capture(int argc, char **argv)
{
	struct kvm_args a = {.enc = DM_TRACE_TEXT, .pit_irq0_edges = -1};
	struct dm_ftrace_opts io = {.cpuinfo = "/proc/cpuinfo",
				    .window_ns = DM_IMPORT_WINDOW_NS,
				    .log = stderr};
	struct dm_capture_stats cs;
	struct dm_ftrace_stats is;
	struct dm_error err = {""};
	int rc = parse_args(argc, argv, &a);

	if (rc >= 0)
		return rc;
	a.cap.log = stderr;
	if (dm_kvm_capture(&a.cap, &cs, &err)) {
		fprintf(stderr, "dmsim kvm capture: %s\n", err.msg);
		return DM_EXIT_USAGE;
	}
	fprintf(stderr,
		"capture: stopped (%s): %" PRIu64 " lines, %" PRIu64
		" events lost%s\n",
		end_names[cs.end], cs.lines, cs.lost,
		cs.lost ? " (ring buffer full: try --buffer-kb)" : "");
	io.encoding = a.enc;
	io.pit_irq0_edges =
		a.pit_irq0_edges < 0 ? cs.pit_thread : a.pit_irq0_edges > 0;
	if (dm_import_ftrace(a.raw, a.out, &io, &is, &err)) {
		fprintf(stderr, "dmsim kvm capture: %s\n", err.msg);
		return DM_EXIT_USAGE;
	}
	return DM_EXIT_OK;
}

int dm_cmd_kvm(int argc, char **argv)
{
	if (argc >= 2 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage_text, stdout);
		return DM_EXIT_OK;
	}
	if (argc < 2 || strcmp(argv[1], "capture"))
		return usage_error("the only kvm command is capture; not",
				   argc < 2 ? "(none)" : argv[1]);
	return capture(argc, argv);
}
