// SPDX-License-Identifier: MIT
/* dmsim import ftrace IN -o OUT: kvm tracepoint text to a dmsim trace. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "traces/import.h"

static const char usage_text[] =
	"usage: dmsim import ftrace IN -o OUT [--tsc-hz HZ]\n"
	"                    [--model-gsi LIST] [--pit-irq0 model|trace]\n"
	"                    [--to text|binary] [--quiet]\n"
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
	"  --to ENC          output encoding (default text)\n"
	"  --quiet           no inference report or summary on stderr\n"
	"\n"
	"exit status: 0 done, 2 bad usage or input (the message names the\n"
	"line)\n";

static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "dmsim import: %s%s%s\n%s", what, arg ? " " : "",
		arg ? arg : "", usage_text);
	return DM_EXIT_USAGE;
}

static int parse_gsis(const char *s, uint32_t *mask)
{
	char *end;

	*mask = 0;
	if (!strcmp(s, "none"))
		return 0;
	for (;;) {
		unsigned long g;

		errno = 0;
		g = strtoul(s, &end, 0);
		if (errno || end == s || g > 23)
			return -1;
		*mask |= 1u << g;
		if (!*end)
			return 0;
		if (*end != ',')
			return -1;
		s = end + 1;
	}
}

struct import_args {
	const char *in, *out;
	struct dm_ftrace_opts o;
	bool quiet;
};

/* Returns -1 when the arguments are complete, else the exit code. */
static int parse_args(int argc, char **argv, struct import_args *a)
{
	char *end;

	for (int i = 2; i < argc; i++) {
		const char *arg = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			fputs(usage_text, stdout);
			return DM_EXIT_OK;
		} else if (!strcmp(arg, "--quiet")) {
			a->quiet = true;
			continue;
		} else if (arg[0] != '-' || !arg[1]) {
			if (a->in)
				return usage_error("unexpected argument", arg);
			a->in = arg;
			continue;
		}
		if (!val)
			return usage_error("needs an argument:", arg);
		i++;
		if (!strcmp(arg, "-o")) {
			a->out = val;
		} else if (!strcmp(arg, "--tsc-hz")) {
			errno = 0;
			a->o.tsc_hz = strtoull(val, &end, 0);
			if (errno || *end || !a->o.tsc_hz)
				return usage_error("bad --tsc-hz", val);
		} else if (!strcmp(arg, "--model-gsi")) {
			if (parse_gsis(val, &a->o.model_gsis))
				return usage_error("bad --model-gsi", val);
			a->o.model_gsis_given = true;
		} else if (!strcmp(arg, "--pit-irq0")) {
			if (!strcmp(val, "trace"))
				a->o.pit_irq0_edges = true;
			else if (strcmp(val, "model"))
				return usage_error("--pit-irq0 takes model or "
						   "trace, not",
						   val);
		} else if (!strcmp(arg, "--to")) {
			if (!strcmp(val, "binary"))
				a->o.encoding = DM_TRACE_BINARY;
			else if (strcmp(val, "text"))
				return usage_error("--to takes text or binary,"
						   " not",
						   val);
		} else {
			return usage_error("unknown option", arg);
		}
	}
	if (!a->in || !a->out)
		return usage_error("needs IN and -o OUT", NULL);
	return -1;
}

int dm_cmd_import(int argc, char **argv)
{
	struct import_args a = {
		.o = {.encoding = DM_TRACE_TEXT, .cpuinfo = "/proc/cpuinfo"}};
	struct dm_ftrace_stats st;
	struct dm_error err = {""};
	int rc;

	if (argc >= 2 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(usage_text, stdout);
		return DM_EXIT_OK;
	}
	if (argc >= 2 && !strcmp(argv[1], "qemu"))
		return dm_import_qemu_main(argc, argv);
	if (argc < 2 || strcmp(argv[1], "ftrace"))
		return usage_error("the only format is ftrace; not",
				   argc < 2 ? "(none)" : argv[1]);
	rc = parse_args(argc, argv, &a);
	if (rc >= 0)
		return rc;
	a.o.log = a.quiet ? NULL : stderr;
	if (dm_import_ftrace(a.in, a.out, &a.o, &st, &err)) {
		fprintf(stderr, "dmsim import: %s\n", err.msg);
		return DM_EXIT_USAGE;
	}
	return DM_EXIT_OK;
}
