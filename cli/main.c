// SPDX-License-Identifier: MIT
/* dmsim: git-style dispatch to the subcommands of cli/cli.h. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
	{"replay", dm_cmd_replay,
	 "replay a trace against the models and verify its reads"},
	{"migrate-check", dm_cmd_migrate_check,
	 "prove that a checkpoint at any event restores to identical "
	 "behaviour"},
	{"diff", dm_cmd_diff,
	 "compare two machine states (checkpoints, KVM dumps) field by "
	 "field"},
	{"show", dm_cmd_show,
	 "list the runs, checkpoints and fields of a checkpoint database"},
	{"convert", dm_cmd_convert,
	 "convert a trace between the text and binary encodings"},
	{"options", dm_cmd_options,
	 "list the machine options and each profile's defaults"},
	{"import", dm_cmd_import,
	 "turn a kvm tracepoint capture or a QEMU log into a dmsim trace"},
	{"kvm", dm_cmd_kvm,
	 "capture a running KVM guest's device accesses (kvm capture)"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: dmsim COMMAND [ARGS]   (dmsim COMMAND --help)\n\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]);
	     i++)
		fprintf(f, "  %-14s %s\n", subcommands[i].name,
			subcommands[i].summary);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return DM_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return DM_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("dmsim %s\n", DMSIM_VERSION);
		return DM_EXIT_OK;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]);
	     i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "dmsim: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return DM_EXIT_USAGE;
}
