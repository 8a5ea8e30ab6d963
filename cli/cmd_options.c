// SPDX-License-Identifier: MIT
/* dmsim options: the machine option table, with each profile's defaults. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "sim/config.h"

static void emit(const char *line, void *ctx)
{
	fprintf(ctx, "%s\n", line);
}

int dm_cmd_options(int argc, char **argv)
{
	if (argc > 1 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		puts("usage: dmsim options\n\n"
		     "Prints every machine option (for a trace's machine line or "
		     "--machine)\nwith its default in each profile, as the "
		     "Markdown table of docs/profiles.md.");
		return DM_EXIT_OK;
	}
	if (argc > 1) {
		fprintf(stderr, "dmsim options: takes no arguments\n");
		return DM_EXIT_USAGE;
	}
	dm_config_doc(emit, stdout);
	return DM_EXIT_OK;
}
