// SPDX-License-Identifier: MIT
/* dmsim import ftrace IN -o OUT: kvm tracepoint text to a dmsim trace. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "traces/import.h"
#include "traces/import_common.h"

static const char usage_text[] =
	"usage: dmsim import ftrace IN -o OUT [--tsc-hz HZ]\n"
	"                    [--model-gsi LIST] [--pit-irq0 model|trace]\n"
	"                    [--hpet-irq model|trace] [--to text|binary]\n"
	"                    [--quiet]\n"
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
	"  --quiet           no inference report or summary on stderr\n"
	"\n"
	"exit status: 0 done, 2 bad usage or input (the message names the\n"
	"line)\n";

int dm_cmd_import(int argc, char **argv)
{
	struct dm_import_args a = {.encoding = DM_TRACE_TEXT};
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
		return dm_import_qemu_main(argc, argv);
	if (argc < 2 || strcmp(argv[1], "ftrace"))
		return dm_import_usage_error(usage_text,
					     "the only format is ftrace; not",
					     argc < 2 ? "(none)" : argv[1]);
	rc = dm_import_parse_args(argc, argv, usage_text, 23, true, &a);
	if (rc >= 0)
		return rc;
	o = (struct dm_ftrace_opts){.tsc_hz = a.tsc_hz,
				    .cpuinfo = "/proc/cpuinfo",
				    .model_gsis = a.model_gsis,
				    .model_gsis_given = a.model_gsis_given,
				    .pit_irq0_edges = a.pit_irq0_edges,
				    .hpet_irq_edges = a.hpet_irq_edges,
				    .encoding = a.encoding,
				    .log = a.quiet ? NULL : stderr};
	if (dm_import_ftrace(a.in, a.out, &o, &st, &err)) {
		fprintf(stderr, "dmsim import: %s\n", err.msg);
		return DM_EXIT_USAGE;
	}
	return DM_EXIT_OK;
}
