// SPDX-License-Identifier: MIT
#include "testutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int dm_test_main(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

void dm_test_roundtrip(const struct dm_state_desc *desc, void *state,
		       void *fresh)
{
	size_t n = dm_state_encoded_size(desc);
	uint8_t *a = malloc(n), *b = malloc(n);
	struct dm_error err = {{0}};

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(dm_state_encode(desc, state, a, n), n);
	ck_assert_msg(dm_state_load(desc, fresh, a, n, &err) == 0, "%s",
		      err.msg);
	ck_assert_uint_eq(dm_state_encode(desc, fresh, b, n), n);
	ck_assert_mem_eq(a, b, n);
	free(a);
	free(b);
}

void dm_test_line_set(void *opaque, uint64_t now, unsigned pin, int level)
{
	struct dm_test_line *l = opaque;

	ck_assert_uint_eq(pin, l->pin);
	if (level && !l->level) {
		l->rises++;
		l->last_rise = now;
	}
	if (!level && l->level)
		l->falls++;
	l->level = level;
}

struct dm_irq_line dm_test_line_wire(struct dm_test_line *l)
{
	return (struct dm_irq_line){dm_test_line_set, l, l->pin};
}

void dm_test_config(struct dm_config *cfg, const char *opts)
{
	struct dm_error err = {""};

	dm_config_defaults(cfg, DM_PROFILE_DATASHEET);
	ck_assert_msg(dm_config_parse(cfg, opts, &err) == 0, "%s", err.msg);
}

const char *dm_test_trace_path(const char *name)
{
	static char path[4096];
	const char *dir = getenv("DMSIM_TRACES");

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/traces", name);
	return path;
}

void dm_test_mkdtemp(char *dir, const char *tmpl)
{
	strcpy(dir, tmpl);
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

void dm_test_rmdir(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

const char *dm_test_write_file(const char *dir, const char *name,
			       const char *text)
{
	static char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
	return path;
}

char *dm_test_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 1 << 20);
	size_t n;

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(buf);
	n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

void dm_test_assert_file_is(const char *path, const char *name)
{
	char *got = dm_test_slurp(path);
	char *want = dm_test_slurp(dm_test_trace_path(name));
	size_t i = 0, line = 1;

	/* Names the first line that differs: whole files overflow Check's
	 * message. */
	while (got[i] && got[i] == want[i])
		line += got[i++] == '\n';
	ck_assert_msg(got[i] == want[i], "%s: line %zu differs: '%.60s'", name,
		      line, got + i);
	free(got);
	free(want);
}

unsigned dm_test_read_trace(const char *path, struct dm_event *ev, unsigned max,
			    char *config, size_t config_cap)
{
	struct dm_trace_reader *rd;
	struct dm_error err;
	unsigned n = 0;
	int got;

	ck_assert_msg(!dm_trace_open(&rd, path, &err), "%s", err.msg);
	snprintf(config, config_cap, "%s", dm_trace_config(rd));
	while ((got = dm_trace_next(rd, &ev[n], &err)) == 1)
		ck_assert_uint_lt(++n, max);
	ck_assert_msg(got == 0, "%s", err.msg);
	dm_trace_close(rd);
	return n;
}

const struct dm_event *dm_test_find_event(const struct dm_event *ev, unsigned n,
					  enum dm_op op, uint64_t time)
{
	for (unsigned i = 0; i < n; i++)
		if (ev[i].op == op && ev[i].time == time)
			return &ev[i];
	ck_abort_msg("no %s at %llu", dm_op_name(op), (unsigned long long)time);
	return NULL;
}

void dm_test_text_add(struct dm_test_text *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	t->n += (size_t)vsnprintf(t->buf + t->n, sizeof(t->buf) - t->n, fmt,
				  ap);
	va_end(ap);
	ck_assert_uint_lt(t->n, sizeof(t->buf));
}
