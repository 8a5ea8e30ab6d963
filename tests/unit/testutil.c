// SPDX-License-Identifier: MIT
#include "testutil.h"

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
