// SPDX-License-Identifier: MIT
/* dmsim convert IN OUT [--to text|binary]: re-encodes a trace losslessly. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "traces/trace.h"

static const char usage_text[] =
	"usage: dmsim convert IN OUT [--to text|binary]\n"
	"\n"
	"Converts a trace between the text and the binary encoding\n"
	"(docs/trace-format.md).  The input's encoding is detected; the output\n"
	"gets the other one unless --to names it.  '-' is standard input or\n"
	"output.  Exit status: 0 done, 2 bad usage, bad input or write error\n"
	"(the message names the file and the line or byte offset).\n";

struct convert_args {
	const char *in, *out;
	int to; /* enum dm_trace_encoding, or -1: the other one */
};

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "dmsim convert: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage_text);
	return DM_EXIT_USAGE;
}

/* Returns -1 when the arguments are complete, else the exit code. */
static int parse_args(int argc, char **argv, struct convert_args *a)
{
	int npos = 0;

	a->to = -1;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *enc = NULL;

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			fputs(usage_text, stdout);
			return DM_EXIT_OK;
		}
		if (!strcmp(arg, "--to")) {
			if (++i == argc)
				return usage_error("%s needs an argument",
						   "--to");
			enc = argv[i];
		} else if (!strncmp(arg, "--to=", 5)) {
			enc = arg + 5;
		} else if (arg[0] == '-' && arg[1]) {
			return usage_error("unknown option '%s'", arg);
		} else if (npos < 2) {
			*(npos++ ? &a->out : &a->in) = arg;
			continue;
		} else {
			return usage_error("unexpected argument '%s'", arg);
		}
		if (!strcmp(enc, "text"))
			a->to = DM_TRACE_TEXT;
		else if (!strcmp(enc, "binary"))
			a->to = DM_TRACE_BINARY;
		else
			return usage_error(
				"--to takes text or binary, not '%s'", enc);
	}
	if (npos < 2)
		return usage_error("%s", "needs IN and OUT");
	return -1;
}

/* Opening OUT truncates it, so OUT must not be IN. */
static bool same_file(const char *in, const char *out)
{
	struct stat a, b;

	if (!strcmp(in, "-") || !strcmp(out, "-"))
		return false;
	return !stat(in, &a) && !stat(out, &b) && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

static int copy_events(struct dm_trace_reader *r, struct dm_trace_writer *w,
		       struct dm_error *err)
{
	struct dm_event ev;
	int rc;

	while ((rc = dm_trace_next(r, &ev, err)) > 0)
		if (dm_trace_write(w, &ev, err))
			return -1;
	return rc;
}

static int convert(const struct convert_args *a, bool *created,
		   struct dm_error *err)
{
	struct dm_trace_reader *r;
	struct dm_trace_writer *w;
	enum dm_trace_encoding to;
	int rc;

	if (dm_trace_open(&r, a->in, err))
		return -1;
	to = a->to >= 0 ? (enum dm_trace_encoding)a->to
	     : dm_trace_encoding(r) == DM_TRACE_TEXT ? DM_TRACE_BINARY
						     : DM_TRACE_TEXT;
	if (dm_trace_create(&w, a->out, to, dm_trace_config(r), err)) {
		dm_trace_close(r);
		return -1;
	}
	*created = true;
	rc = copy_events(r, w, err);
	dm_trace_close(r);
	if (rc) {
		struct dm_error ignored;

		dm_trace_finish(w, &ignored);
		return -1;
	}
	return dm_trace_finish(w, err);
}

/* A partial text trace would read as a complete one.  Devices and pipes
 * (/dev/full, a FIFO) are left alone. */
static void remove_partial(const char *out)
{
	struct stat st;

	if (strcmp(out, "-") && !stat(out, &st) && S_ISREG(st.st_mode))
		unlink(out);
}

int dm_cmd_convert(int argc, char **argv)
{
	struct convert_args a;
	struct dm_error err = {{0}};
	bool created = false;
	int rc = parse_args(argc, argv, &a);

	if (rc >= 0)
		return rc;
	if (same_file(a.in, a.out))
		return usage_error("IN and OUT are the same file '%s'", a.in);
	if (convert(&a, &created, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		if (created)
			remove_partial(a.out);
		return DM_EXIT_USAGE;
	}
	return DM_EXIT_OK;
}
