// SPDX-License-Identifier: MIT
/*
 * dmsim import ftrace|qemu IN -o OUT: kvm tracepoint text, or a QEMU
 * trace log, to a dmsim trace.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "traces/import.h"
#include "traces/trace.h"

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
	uint64_t silence_ns, window_ns;
	bool quiet;
};

static int usage_error(const char *usage, const char *what, const char *arg)
{
	fprintf(stderr, "dmsim import: %s%s%s\n%s", what, arg ? " " : "",
		arg ? arg : "", usage);
	return DM_EXIT_USAGE;
}

/* "none" or a comma-separated list of GSIs 0..max. */
static int parse_gsis(const char *s, unsigned max, uint32_t *mask)
{
	char *end;

	*mask = 0;
	if (!strcmp(s, "none"))
		return 0;
	for (;;) {
		unsigned long g;

		errno = 0;
		g = strtoul(s, &end, 0);
		if (errno || end == s || g > max || *s == '-')
			return -1;
		*mask |= 1u << g;
		if (!*end)
			return 0;
		if (*end != ',')
			return -1;
		s = end + 1;
	}
}

/* Who raises a line: "model" or "trace" (*edges); -1, or the exit code. */
static int parse_source(const char *arg, const char *val, const char *usage,
			bool *edges)
{
	char what[48];

	*edges = !strcmp(val, "trace");
	if (*edges || !strcmp(val, "model"))
		return -1;
	snprintf(what, sizeof(what), "%s takes model or trace, not", arg);
	return usage_error(usage, what, val);
}

/* An option with its value; returns -1 if taken, else the exit code. */
static int parse_opt(const char *arg, const char *val, const char *usage,
		     unsigned max_gsi, bool ftrace, struct dm_import_args *a)
{
	char *end;

	if (!strcmp(arg, "-o")) {
		a->out = val;
	} else if (ftrace && !strcmp(arg, "--tsc-hz")) {
		errno = 0;
		a->tsc_hz = strtoull(val, &end, 0);
		if (errno || *end || !a->tsc_hz)
			return usage_error(usage, "bad --tsc-hz", val);
	} else if (ftrace && !strcmp(arg, "--mark-silences")) {
		errno = 0;
		a->silence_ns = strtoull(val, &end, 0);
		if (errno || *end)
			return usage_error(usage, "bad --mark-silences", val);
	} else if (ftrace && !strcmp(arg, "--mark-windows")) {
		errno = 0;
		a->window_ns = strtoull(val, &end, 0);
		if (errno || *end)
			return usage_error(usage, "bad --mark-windows", val);
	} else if (!strcmp(arg, "--model-gsi")) {
		if (parse_gsis(val, max_gsi, &a->model_gsis))
			return usage_error(usage, "bad --model-gsi", val);
		a->model_gsis_given = true;
	} else if (!strcmp(arg, "--pit-irq0")) {
		return parse_source(arg, val, usage, &a->pit_irq0_edges);
	} else if (ftrace && !strcmp(arg, "--hpet-irq")) {
		return parse_source(arg, val, usage, &a->hpet_irq_edges);
	} else if (!strcmp(arg, "--to")) {
		if (!strcmp(val, "binary"))
			a->encoding = DM_TRACE_BINARY;
		else if (strcmp(val, "text"))
			return usage_error(
				usage, "--to takes text or binary, not", val);
	} else {
		return usage_error(usage, "unknown option", arg);
	}
	return -1;
}

/*
 * Parses argv[2...] into a (GSIs up to max_gsi).  Returns -1 when the
 * arguments are complete, else the exit code (usage printed).
 */
static int parse_args(int argc, char **argv, const char *usage,
		      unsigned max_gsi, bool ftrace, struct dm_import_args *a)
{
	for (int i = 2; i < argc; i++) {
		const char *arg = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		int rc;

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			fputs(usage, stdout);
			return DM_EXIT_OK;
		} else if (!strcmp(arg, "--quiet")) {
			a->quiet = true;
			continue;
		} else if (arg[0] != '-' || !arg[1]) {
			if (a->in)
				return usage_error(usage, "unexpected argument",
						   arg);
			a->in = arg;
			continue;
		}
		if (!val)
			return usage_error(usage, "needs an argument:", arg);
		i++;
		rc = parse_opt(arg, val, usage, max_gsi, ftrace, a);
		if (rc >= 0)
			return rc;
	}
	if (!a->in || !a->out)
		return usage_error(usage, "needs IN and -o OUT", NULL);
	return -1;
}

static const char usage_text[] =
	"usage: dmsim import ftrace IN -o OUT [--tsc-hz HZ]\n"
	"                    [--model-gsi LIST] [--pit-irq0 model|trace]\n"
	"                    [--hpet-irq model|trace] [--to text|binary]\n"
	"                    [--mark-silences NS] [--mark-windows NS]\n"
	"                    [--quiet]\n"
	"       dmsim import qemu ...   (dmsim import qemu --help)\n"
	"\n"
	"Converts the text of the Linux kvm tracepoints (tracefs trace or\n"
	"trace_pipe, trace-cmd report, or a `dmsim kvm capture` raw file)\n"
	"into a dmsim trace with profile=kvm (docs/importers.md).  '-' is\n"
	"standard input or output.\n"
	"\n"
	"  --tsc-hz HZ       rate of x86-tsc timestamps (default: from the\n"
	"                    capture's header or clock markers, else this\n"
	"                    machine's /proc/cpuinfo)\n"
	"  --model-gsi LIST  GSIs (comma-separated, 0-23, or none) whose\n"
	"                    userspace raises come from modelled devices and\n"
	"                    are not inputs (default: 8, plus 0 and 2 when\n"
	"                    the HPET is used)\n"
	"  --pit-irq0 SRC    who raises IRQ0 for the in-kernel PIT: model\n"
	"                    (default: the PIT's kvm_set_irq lines are its\n"
	"                    output) or trace (they become dev irq 0 events\n"
	"                    and the machine gets pit_irq0=off: KVM's\n"
	"                    kvm-pit thread raises it at host-scheduled\n"
	"                    times)\n"
	"  --hpet-irq SRC    who raises the HPET's lines (GSIs 0 and 2):\n"
	"                    model (default) or trace (QEMU's raises become\n"
	"                    dev irq events and the machine gets\n"
	"                    hpet_irq=off: QEMU's timers fire late)\n"
	"  --to ENC          output encoding (default text)\n"
	"  --mark-silences NS  a silence of the host of NS or more after a\n"
	"                    vcpu's line logged in the kernel becomes sim\n"
	"                    mark host-silent-LEN at its end (the replay's\n"
	"                    tolerance then tries both ends); default 0:\n"
	"                    none; for guests whose code between accesses\n"
	"                    is short, like dmsim's probe, not emulated\n"
	"                    kernels\n"
	"  --mark-windows NS  a read QEMU served whose exit NS of silence\n"
	"                    followed, or that moved to a switch back, gets\n"
	"                    sim mark qemu-window-V-LEN at its exit (the\n"
	"                    tolerance may search that window; default\n"
	"                    200000, 0: none)\n"
	"  --quiet           no inference report or summary on stderr\n"
	"\n"
	"exit status: 0 done, 2 bad usage or input (the message names the\n"
	"line)\n";

/* An importer's failure is bad input: its message, exit status 2. */
static int finish(int failed, const struct dm_error *err)
{
	if (!failed)
		return DM_EXIT_OK;
	fprintf(stderr, "dmsim import: %s\n", err->msg);
	return DM_EXIT_USAGE;
}

static const char qemu_usage[] =
	"usage: dmsim import qemu IN -o OUT [--model-gsi LIST]\n"
	"                  [--pit-irq0 model|trace] [--to text|binary]\n"
	"                  [--quiet]\n"
	"\n"
	"Converts the log of QEMU's \"log\" trace backend (-trace ... -D FILE\n"
	"-msg timestamp=on, QEMU with kernel-irqchip=off) into a dmsim trace\n"
	"with profile=qemu (docs/importers.md, \"QEMU logs\").  '-' is\n"
	"standard input or output.\n"
	"\n"
	"  --model-gsi LIST  GSIs (comma-separated, 0-31, or none) driven by\n"
	"                    QEMU's own PIT, RTC and HPET, which are not\n"
	"                    inputs (default: 0, 2, 8 and the HPET's routes)\n"
	"  --pit-irq0 SRC    who raises IRQ0 for QEMU's PIT: model (default:\n"
	"                    its GSI 0 lines are the model's output) or trace\n"
	"                    (they become dev irq 0 events outside HPET\n"
	"                    legacy mode and the machine gets pit_irq0=off:\n"
	"                    QEMU's timers fire late)\n"
	"  --to ENC          output encoding (default text)\n"
	"  --quiet           no inference report or summary on stderr\n"
	"\n"
	"exit status: 0 done, 2 bad usage or input (the message names the\n"
	"line)\n";

static int import_qemu(int argc, char **argv)
{
	struct dm_import_args a = {.encoding = DM_TRACE_TEXT};
	struct dm_qemu_opts o;
	struct dm_qemu_stats st;
	struct dm_error err = {""};
	int rc = parse_args(argc, argv, qemu_usage, 31, false, &a);

	if (rc >= 0)
		return rc;
	o = (struct dm_qemu_opts){.model_gsis = a.model_gsis,
				  .model_gsis_given = a.model_gsis_given,
				  .pit_irq0_edges = a.pit_irq0_edges,
				  .encoding = a.encoding,
				  .log = a.quiet ? NULL : stderr};
	return finish(dm_import_qemu(a.in, a.out, &o, &st, &err), &err);
}

int dm_cmd_import(int argc, char **argv)
{
	struct dm_import_args a = {.encoding = DM_TRACE_TEXT,
				   .window_ns = DM_IMPORT_WINDOW_NS};
	struct dm_ftrace_opts o;
	struct dm_ftrace_stats st;
	struct dm_error err = {""};
	int rc;

	if (argc >= 2 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage_text, stdout);
		return DM_EXIT_OK;
	}
	if (argc >= 2 && !strcmp(argv[1], "qemu"))
		return import_qemu(argc, argv);
	if (argc < 2 || strcmp(argv[1], "ftrace"))
		return usage_error(usage_text,
				   "the formats are ftrace and qemu; not",
				   argc < 2 ? "(none)" : argv[1]);
	rc = parse_args(argc, argv, usage_text, 23, true, &a);
	if (rc >= 0)
		return rc;
	o = (struct dm_ftrace_opts){.tsc_hz = a.tsc_hz,
				    .cpuinfo = "/proc/cpuinfo",
				    .model_gsis = a.model_gsis,
				    .model_gsis_given = a.model_gsis_given,
				    .pit_irq0_edges = a.pit_irq0_edges,
				    .hpet_irq_edges = a.hpet_irq_edges,
				    .silence_ns = a.silence_ns,
				    .window_ns = a.window_ns,
				    .encoding = a.encoding,
				    .log = a.quiet ? NULL : stderr};
	return finish(dm_import_ftrace(a.in, a.out, &o, &st, &err), &err);
}
