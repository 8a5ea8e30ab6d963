// SPDX-License-Identifier: MIT
/* Helpers the ftrace and QEMU importers share (traces/import_common.h). */
#include "traces/import_common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "models/rtc.h"
#include "sim/config.h"

int dm_import_input_rewind(struct dm_import_input *in, struct dm_error *err)
{
	in->lineno = 0;
	if (fseek(in->f, 0, SEEK_SET))
		return dm_errorf(err, "%s: %s", in->name, strerror(errno));
	return 0;
}

int dm_import_input_open(struct dm_import_input *in, const char *path,
			 struct dm_error *err)
{
	char buf[65536];
	size_t n;

	in->name = strcmp(path, "-") ? path : "<stdin>";
	if (strcmp(path, "-")) {
		in->f = fopen(path, "r");
		return in->f ? 0
			     : dm_errorf(err, "%s: %s", path, strerror(errno));
	}
	/* Two passes need a copy of standard input that can be rewound. */
	in->f = tmpfile();
	if (!in->f)
		return dm_errorf(err, "temporary file: %s", strerror(errno));
	while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
		if (fwrite(buf, 1, n, in->f) != n)
			return dm_errorf(err, "temporary file: %s",
					 strerror(errno));
	if (ferror(stdin))
		return dm_errorf(err, "<stdin>: %s", strerror(errno));
	/* The copy was written up to its end; the first pass reads it from
	 * the start. */
	return dm_import_input_rewind(in, err);
}

int dm_import_input_next(struct dm_import_input *in, struct dm_error *err)
{
	ssize_t n = getline(&in->line, &in->cap, in->f);

	if (n < 0)
		return ferror(in->f) ? dm_errorf(err, "%s: %s", in->name,
						 strerror(errno))
				     : 0;
	in->lineno++;
	in->unterminated = in->line[n - 1] != '\n';
	while (n > 0 && (in->line[n - 1] == '\n' || in->line[n - 1] == '\r'))
		in->line[--n] = '\0';
	return 1;
}

void dm_import_input_close(struct dm_import_input *in)
{
	if (in->f)
		fclose(in->f);
	free(in->line);
}

bool dm_import_pci_access(struct dm_import_pci *p, uint64_t port, unsigned size,
			  bool write, uint64_t val, uint32_t *cf8)
{
	bool bus0 = (p->cf8 & 0x80ff0000u) == 0x80000000u;

	if (port == 0xcf8 && size == 4 && write) {
		p->cf8 = (uint32_t)val;
		return false;
	}
	if (port != 0xcfc || size != 4 || !bus0)
		return false;
	*cf8 = p->cf8;
	/* Register 0 of the host bridge and the ISA bridge: their IDs
	 * differ (i440FX/PIIX3 vs Q35/ICH9). */
	if (write || (p->cf8 & 0xfc))
		return true;
	switch (val & 0xffffffffu) {
	case 0x12378086:
	case 0x70008086:
		p->chipset = DM_CHIPSET_PC;
		p->chipset_why = "i440FX/PIIX3 PCI IDs";
		break;
	case 0x29c08086:
	case 0x29188086:
		p->chipset = DM_CHIPSET_Q35;
		p->chipset_why = "Q35/ICH9 PCI IDs";
		break;
	default:
		break;
	}
	return true;
}

int dm_import_write(struct dm_import_input *in, const char *out,
		    enum dm_trace_encoding encoding, const char *config,
		    int (*convert)(void *ctx), void *ctx,
		    struct dm_trace_writer **w, struct dm_error *err)
{
	if (dm_import_input_rewind(in, err) ||
	    dm_trace_create(w, out, encoding, config, err))
		return -1;
	if (convert(ctx)) {
		dm_trace_finish(*w, NULL);
		*w = NULL;
	} else {
		int rc = dm_trace_finish(*w, err);

		*w = NULL;
		if (!rc)
			return 0;
	}
	if (strcmp(out, "-"))
		remove(out);
	return -1;
}

int dm_import_usage_error(const char *usage, const char *what, const char *arg)
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
			return dm_import_usage_error(usage, "bad --tsc-hz",
						     val);
	} else if (!strcmp(arg, "--model-gsi")) {
		if (parse_gsis(val, max_gsi, &a->model_gsis))
			return dm_import_usage_error(usage, "bad --model-gsi",
						     val);
		a->model_gsis_given = true;
	} else if (!strcmp(arg, "--pit-irq0")) {
		if (!strcmp(val, "trace"))
			a->pit_irq0_edges = true;
		else if (strcmp(val, "model"))
			return dm_import_usage_error(
				usage, "--pit-irq0 takes model or trace, not",
				val);
	} else if (ftrace && !strcmp(arg, "--hpet-irq")) {
		if (!strcmp(val, "trace"))
			a->hpet_irq_edges = true;
		else if (strcmp(val, "model"))
			return dm_import_usage_error(
				usage, "--hpet-irq takes model or trace, not",
				val);
	} else if (!strcmp(arg, "--to")) {
		if (!strcmp(val, "binary"))
			a->encoding = DM_TRACE_BINARY;
		else if (strcmp(val, "text"))
			return dm_import_usage_error(
				usage, "--to takes text or binary, not", val);
	} else {
		return dm_import_usage_error(usage, "unknown option", arg);
	}
	return -1;
}

int dm_import_parse_args(int argc, char **argv, const char *usage,
			 unsigned max_gsi, bool ftrace,
			 struct dm_import_args *a)
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
				return dm_import_usage_error(
					usage, "unexpected argument", arg);
			a->in = arg;
			continue;
		}
		if (!val)
			return dm_import_usage_error(usage,
						     "needs an argument:", arg);
		i++;
		rc = parse_opt(arg, val, usage, max_gsi, ftrace, a);
		if (rc >= 0)
			return rc;
	}
	if (!a->in || !a->out)
		return dm_import_usage_error(usage, "needs IN and -o OUT",
					     NULL);
	return -1;
}

bool dm_import_cmos_unknown(struct dm_import_cmos *c, uint64_t port, bool write,
			    uint64_t value)
{
	unsigned i = c->index;
	uint64_t bit = 1ULL << (i & 63);

	if (port == DM_RTC_BASE && write)
		c->index = value & 0x7f;
	if (port != DM_RTC_BASE + 1 || i < 0x0e)
		return false;
	if (write) {
		c->set[i >> 6] |= bit;
		return false;
	}
	return !(c->set[i >> 6] & bit);
}
