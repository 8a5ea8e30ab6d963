// SPDX-License-Identifier: MIT
/*
 * dmsim diff's sources: checkpoint files, KVM state dumps and DB:RUN:SEQ
 * specs, and the field-by-field comparison of what both sides describe.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "replay/stateset.h"
#include "sim/kvm/kvmstate.h"
#include "testutil.h"

static struct dm_machine *make(const char *opts)
{
	struct dm_config cfg;
	struct dm_machine *m;
	struct dm_error err;

	dm_test_config(&cfg, opts);
	ck_assert_msg(dm_machine_create(&m, &cfg, &err) == 0, "%s", err.msg);
	return m;
}

static void out8(struct dm_machine *m, uint64_t t, uint16_t port, uint8_t v)
{
	uint64_t val = v;

	ck_assert_int_eq(dm_machine_pio(m, t, 0, port, 1, true, &val),
			 DM_ACCESS_OK);
}

static void save(const struct dm_machine *m, const char *path)
{
	size_t len;
	uint8_t *buf = dm_machine_save(m, &len);
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(buf);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
	fclose(f);
	free(buf);
}

struct seen {
	unsigned n;
	char first[64];
};

static void note(const char *device, const struct dm_leaf *a, uint64_t b,
		 void *ctx)
{
	struct seen *s = ctx;

	(void)b;
	if (!s->n++)
		snprintf(s->first, sizeof(s->first), "%s.%s", device, a->path);
}

START_TEST(checkpoint_files_compare_field_by_field)
{
	struct dm_machine *m = make("");
	struct dm_stateset a, b;
	struct dm_error err;
	struct seen seen = {0};

	out8(m, 100, 0x43, 0xb4);
	save(m, "/tmp/dm-ss-a.ck");
	out8(m, 200, 0x42, 0x34);
	save(m, "/tmp/dm-ss-b.ck");
	ck_assert_int_eq(dm_stateset_load(&a, "/tmp/dm-ss-a.ck", &err), 0);
	ck_assert_int_eq(dm_stateset_load(&b, "/tmp/dm-ss-a.ck", &err), 0);
	ck_assert_str_eq(a.kind, "checkpoint");
	ck_assert_uint_eq(dm_stateset_diff(&a, &b, NULL, NULL), 0);
	dm_stateset_free(&b);
	ck_assert_int_eq(dm_stateset_load(&b, "/tmp/dm-ss-b.ck", &err), 0);
	/* The LSB write: ch2's write flip-flop and LSB, and the clock. */
	ck_assert_uint_eq(dm_stateset_diff(&a, &b, note, &seen), 3);
	ck_assert_str_eq(seen.first, "pit.ch2.write_msb_next");
	dm_stateset_free(&a);
	dm_stateset_free(&b);
	unlink("/tmp/dm-ss-a.ck");
	unlink("/tmp/dm-ss-b.ck");
	dm_machine_destroy(m);
}
END_TEST

START_TEST(kvm_dump_against_the_machine_it_came_from)
{
	struct dm_machine *m = make("profile=kvm");
	struct dm_kvm_dump d;
	struct dm_stateset a, b;
	struct dm_error err = {""};
	struct seen seen = {0};

	out8(m, 100, 0x20, 0x11); /* 8259 init, PIT counter 2 */
	out8(m, 100, 0x21, 0x08);
	out8(m, 100, 0x21, 0x04);
	out8(m, 100, 0x21, 0x01);
	out8(m, 100, 0x21, 0xfb);
	out8(m, 200, 0x43, 0xb6);
	out8(m, 200, 0x42, 0x34);
	out8(m, 200, 0x42, 0x12);
	dm_machine_advance(m, 1000);
	save(m, "/tmp/dm-ss-k.ck");
	ck_assert_msg(dm_kvm_dump_capture(m, 1000, 0, &d, &err) == 0, "%s",
		      err.msg);
	ck_assert_msg(dm_kvm_dump_write("/tmp/dm-ss-k.kvm", &d, &err) == 0,
		      "%s", err.msg);
	dm_kvm_dump_free(&d);
	ck_assert_int_eq(dm_stateset_load(&a, "/tmp/dm-ss-k.ck", &err), 0);
	ck_assert_msg(dm_stateset_load(&b, "/tmp/dm-ss-k.kvm", &err) == 0, "%s",
		      err.msg);
	ck_assert_str_eq(b.kind, "kvm dump");
	/* The dump covers the PIT, the PICs, the IOAPIC and the LAPIC,
	 * not the machine's own state or the QEMU-side devices. */
	ck_assert(b.present[1] && b.present[2] && b.present[3]);
	ck_assert(!b.present[0] && !b.present[4] && !b.present[5]);
	ck_assert_msg(dm_stateset_diff(&a, &b, note, &seen) == 0,
		      "%u fields differ, first %s", seen.n, seen.first);
	dm_stateset_free(&a);
	dm_stateset_free(&b);
	unlink("/tmp/dm-ss-k.ck");
	unlink("/tmp/dm-ss-k.kvm");
	dm_machine_destroy(m);
}
END_TEST

START_TEST(bad_specs_say_what_they_are)
{
	struct dm_stateset s;
	struct dm_error err;
	FILE *f;

	ck_assert_int_eq(dm_stateset_load(&s, "/nonexistent", &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "not DB:RUN:SEQ"));
	ck_assert_int_eq(dm_stateset_load(&s, "/nonexistent:x:1", &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "bad run"));
	f = fopen("/tmp/dm-ss-junk", "w");
	fputs("hello", f);
	fclose(f);
	ck_assert_int_eq(dm_stateset_load(&s, "/tmp/dm-ss-junk", &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "not a checkpoint"));
	f = fopen("/tmp/dm-ss-junk", "w");
	fputs("DMCKxxxxxxxxxxxxxxxxxxxxxxxx", f);
	fclose(f);
	ck_assert_int_eq(dm_stateset_load(&s, "/tmp/dm-ss-junk", &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "checksum"));
	unlink("/tmp/dm-ss-junk");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("stateset");
	TCase *tc = tcase_create("stateset");

	tcase_add_test(tc, checkpoint_files_compare_field_by_field);
	tcase_add_test(tc, kvm_dump_against_the_machine_it_came_from);
	tcase_add_test(tc, bad_specs_say_what_they_are);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return dm_test_main(suite());
}
