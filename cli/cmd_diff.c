// SPDX-License-Identifier: MIT
/* dmsim diff A B [--json]: device state, field by field. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "replay/stateset.h"

static void usage(FILE *f)
{
	fputs("usage: dmsim diff A B [--json]\n\n"
	      "Compares two machine states device by device, field by field. "
	      "A and B are\n"
	      "each a checkpoint file (dmsim replay --save-state), a "
	      "checkpoint in a\n"
	      "database (DB:RUN:SEQ), or a KVM state dump (docs/kvm-state.md; "
	      "it covers\n"
	      "the PIT, PICs, IOAPIC and LAPICs only).  Devices are matched "
	      "by name;\n"
	      "only those both sides describe are compared.\n\n"
	      "exit status: 0 identical, 1 they differ, 2 bad usage or input\n",
	      f);
}

struct diff_out {
	FILE *f;
	bool json;
	unsigned long count;
};

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void one_field(const char *device, const struct dm_leaf *a,
		      uint64_t b_value, void *opaque)
{
	struct diff_out *o = opaque;
	char va[32], vb[32];

	dm_leaf_format_pair(a, b_value, va, vb, sizeof(va));
	if (o->json) {
		fprintf(o->f, "%s\n  {\"device\":", o->count ? "," : "");
		json_str(o->f, device);
		fputs(",\"field\":", o->f);
		json_str(o->f, a->path);
		fprintf(o->f, ",\"a\":\"%s\",\"b\":\"%s\"}", va, vb);
	} else {
		fprintf(o->f, "%s.%s: %s -> %s\n", device, a->path, va, vb);
	}
	o->count++;
}

int dm_cmd_diff(int argc, char **argv)
{
	struct diff_out o = {.f = stdout};
	struct dm_stateset a, b;
	struct dm_error err = {""};
	const char *spec[2] = {NULL, NULL};
	unsigned nspec = 0;
	unsigned long n;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return DM_EXIT_OK;
		} else if (!strcmp(argv[i], "--json")) {
			o.json = true;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			fprintf(stderr, "dmsim diff: unknown option '%s'\n",
				argv[i]);
			return DM_EXIT_USAGE;
		} else if (nspec < 2) {
			spec[nspec++] = argv[i];
		} else {
			usage(stderr);
			return DM_EXIT_USAGE;
		}
	}
	if (nspec != 2) {
		usage(stderr);
		return DM_EXIT_USAGE;
	}
	if (dm_stateset_load(&a, spec[0], &err)) {
		fprintf(stderr, "dmsim diff: %s\n", err.msg);
		return DM_EXIT_USAGE;
	}
	if (dm_stateset_load(&b, spec[1], &err)) {
		fprintf(stderr, "dmsim diff: %s\n", err.msg);
		dm_stateset_free(&a);
		return DM_EXIT_USAGE;
	}
	if (o.json) {
		fputs("{\"a\":", stdout);
		json_str(stdout, spec[0]);
		fputs(",\"b\":", stdout);
		json_str(stdout, spec[1]);
		fputs(",\"differences\":[", stdout);
	}
	n = dm_stateset_diff(&a, &b, one_field, &o);
	if (o.json)
		printf("%s],\"count\":%lu,\"identical\":%s}\n", n ? "\n" : "",
		       n, n ? "false" : "true");
	else if (n)
		printf("%lu field%s differ (%s %s vs %s %s)\n", n,
		       n == 1 ? "" : "s", a.kind, spec[0], b.kind, spec[1]);
	else
		printf("identical (%s %s vs %s %s)\n", a.kind, spec[0], b.kind,
		       spec[1]);
	dm_stateset_free(&a);
	dm_stateset_free(&b);
	return n ? DM_EXIT_FAIL : DM_EXIT_OK;
}
