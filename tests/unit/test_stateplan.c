// SPDX-License-Identifier: MIT
/*
 * State plans against the table walkers they stand in for: on every device
 * of a machine caught in the middle of multi-step sequences (a PIT latch
 * half read, an 8259 between ICW2 and ICW3, armed timers), a plan encodes
 * the same bytes, loads to the same state and deadlines, refuses what
 * dm_state_load refuses with the same words, and tells every single-leaf
 * change apart.  And dm_machine_rebuild_device gives the device a fresh
 * machine would have after loading the same bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "sim/machine.h"
#include "testutil.h"

static void pio_w(struct dm_machine *m, uint64_t t, uint16_t port, uint8_t v)
{
	uint64_t x = v;

	ck_assert_int_eq(dm_machine_pio(m, t, 0, port, 1, true, &x),
			 DM_ACCESS_OK);
}

static uint64_t pio_r(struct dm_machine *m, uint64_t t, uint16_t port)
{
	uint64_t x = 0;

	ck_assert_int_eq(dm_machine_pio(m, t, 0, port, 1, false, &x),
			 DM_ACCESS_OK);
	return x;
}

static void mmio_w(struct dm_machine *m, uint64_t t, uint64_t a, uint32_t v)
{
	uint64_t x = v;

	ck_assert_int_eq(dm_machine_mmio(m, t, 0, a, 4, true, &x),
			 DM_ACCESS_OK);
}

/* Every device busy, several in the middle of a sequence. */
static struct dm_machine *busy_machine(const char *opts)
{
	struct dm_machine *m;
	struct dm_config cfg;
	struct dm_error err;

	dm_test_config(&cfg, opts);
	ck_assert_int_eq(dm_machine_create(&m, &cfg, &err), 0);
	pio_w(m, 1000, 0x43, 0x34); /* ch0 mode 2, LSB then MSB */
	pio_w(m, 1100, 0x40, 0x00);
	pio_w(m, 1200, 0x40, 0x10);
	pio_w(m, 50000, 0x43, 0x00); /* latch ch0 ... */
	pio_r(m, 51000, 0x40);	     /* ... and read half of it */
	pio_w(m, 52000, 0x20, 0x11); /* ICW1, ICW2: waiting for ICW3 */
	pio_w(m, 53000, 0x21, 0x08);
	pio_w(m, 54000, 0x70, 0x0b); /* RTC: periodic interrupts on */
	pio_w(m, 55000, 0x71, 0x42);
	mmio_w(m, 56000, DM_HPET_BASE + 0x10, 1);     /* HPET enabled */
	mmio_w(m, 57000, DM_HPET_BASE + 0x100, 0x4c); /* T0 periodic, int */
	mmio_w(m, 58000, DM_HPET_BASE + 0x108, 100000);
	mmio_w(m, 59000, 0xfee000f0, 0x1ff);	/* LAPIC enabled */
	mmio_w(m, 60000, 0xfee00320, 0x20030);	/* timer periodic */
	mmio_w(m, 61000, 0xfee00380, 100000);	/* TMICT */
	mmio_w(m, 62000, DM_IOAPIC_BASE, 0x10); /* IOREGSEL: pin 0 */
	mmio_w(m, 63000, DM_IOAPIC_BASE + 0x10, 0x8031);
	dm_machine_advance(m, 400000);
	return m;
}

static uint8_t *encode_slow(const struct dm_device *d, size_t *n)
{
	uint8_t *buf;

	*n = dm_state_encoded_size(d->desc);
	buf = malloc(*n);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(dm_state_encode(d->desc, d->state, buf, *n), *n);
	return buf;
}

static void assert_encodes_to(const struct dm_device *d, const uint8_t *want,
			      size_t n)
{
	size_t m;
	uint8_t *got = encode_slow(d, &m);

	ck_assert_uint_eq(m, n);
	ck_assert_msg(!memcmp(got, want, n), "%s: encodings differ", d->name);
	free(got);
}

static void same_encoding_load_and_deadlines(const char *opts)
{
	struct dm_machine *m = busy_machine(opts), *fresh;
	struct dm_error err;

	ck_assert_int_eq(dm_machine_create(&fresh, &m->cfg, &err), 0);
	ck_assert_uint_ne(dm_eventq_next(&m->q), DM_TIME_NEVER);
	for (unsigned i = 0; i < m->ndevices; i++) {
		const struct dm_device *d = &m->devices[i];
		size_t n, cap = dm_device_encoded_size(d);
		uint8_t *slow = encode_slow(d, &n);
		uint8_t *fast = malloc(cap);

		ck_assert_ptr_nonnull(d->plan);
		ck_assert_uint_eq(dm_device_encode(d, fast, cap), n);
		ck_assert_msg(!memcmp(fast, slow, n), "%s", d->name);
		ck_assert_uint_eq(dm_device_encode(d, fast, n - 1), 0);
		ck_assert_int_eq(
			dm_device_load(&fresh->devices[i], slow, n, &err), 0);
		ck_assert(dm_device_equal(&fresh->devices[i], d));
		assert_encodes_to(&fresh->devices[i], slow, n);
		free(fast);
		free(slow);
	}
	/* The loaded timers are armed as the originals are. */
	ck_assert_uint_eq(dm_eventq_next(&fresh->q), dm_eventq_next(&m->q));
	ck_assert_uint_eq(dm_machine_hash(fresh), dm_machine_hash(m));
	dm_machine_destroy(fresh);
	dm_machine_destroy(m);
}

START_TEST(a_plan_encodes_and_loads_as_the_tables_do)
{
	same_encoding_load_and_deadlines("vcpus=2");
	same_encoding_load_and_deadlines("profile=kvm vcpus=2");
	same_encoding_load_and_deadlines("profile=qemu vcpus=1");
}
END_TEST

/* Out-of-range leaves, through a plan and through dm_state_load. */
struct hostile {
	const struct dm_device *plain; /* loaded with dm_state_load */
	const struct dm_device *planned;
	const uint8_t *good;
	size_t n;
	unsigned tried;
};

static void assert_same_refusal(struct hostile *h, const uint8_t *bad, size_t n)
{
	struct dm_error want = {""}, got = {""};

	ck_assert_int_eq(
		dm_state_load(h->plain->desc, h->plain->state, bad, n, &want),
		-1);
	ck_assert_int_eq(dm_device_load(h->planned, bad, n, &got), -1);
	ck_assert_str_eq(got.msg, want.msg);
	/* A refused load leaves the device as it was. */
	assert_encodes_to(h->planned, h->good, h->n);
}

static int out_of_range(const struct dm_layout_leaf *l, void *ctx)
{
	struct hostile *h = ctx;
	uint64_t top = l->size == 8 ? UINT64_MAX : (1ULL << (8 * l->size)) - 1;
	uint64_t max = l->field->type == DM_FT_BOOL ? 1 : l->field->max;
	uint8_t *bad;

	if (max >= top)
		return 0;
	bad = malloc(h->n);
	ck_assert_ptr_nonnull(bad);
	memcpy(bad, h->good, h->n);
	for (size_t k = 0; k < l->size; k++)
		bad[l->offset + k] = (uint8_t)((max + 1) >> (8 * k));
	assert_same_refusal(h, bad, h->n);
	free(bad);
	h->tried++;
	return 0;
}

/*
 * Each device's encoding from a busy machine, loaded into one fresh
 * machine through dm_state_load and into another through its plan: try
 * feeds both hostile variants of it.  Returns the variants tried.
 */
static unsigned try_each_device(void (*try)(struct hostile *h))
{
	struct dm_machine *m = busy_machine("vcpus=1");
	struct dm_machine *a, *b;
	struct dm_error err;
	unsigned tried = 0;

	ck_assert_int_eq(dm_machine_create(&a, &m->cfg, &err), 0);
	ck_assert_int_eq(dm_machine_create(&b, &m->cfg, &err), 0);
	for (unsigned i = 0; i < m->ndevices; i++) {
		size_t n;
		uint8_t *good = encode_slow(&m->devices[i], &n);
		struct hostile h = {&a->devices[i], &b->devices[i], good, n, 0};

		ck_assert_int_eq(dm_state_load(a->devices[i].desc,
					       a->devices[i].state, good, n,
					       &err),
				 0);
		ck_assert_int_eq(dm_device_load(&b->devices[i], good, n, &err),
				 0);
		try(&h);
		tried += h.tried;
		free(good);
	}
	dm_machine_destroy(a);
	dm_machine_destroy(b);
	dm_machine_destroy(m);
	return tried;
}

/* Out-of-range leaves, a wrong first id, a truncation. */
static void refusals(struct hostile *h)
{
	uint8_t *bad = malloc(h->n);

	ck_assert_ptr_nonnull(bad);
	dm_state_leaves(h->plain->desc, out_of_range, h);
	memcpy(bad, h->good, h->n);
	bad[2] ^= 0x40; /* the first field's id */
	assert_same_refusal(h, bad, h->n);
	assert_same_refusal(h, h->good, h->n - 1);
	free(bad);
}

START_TEST(a_plan_refuses_what_the_tables_refuse)
{
	ck_assert_uint_ge(try_each_device(refusals), 20);
}
END_TEST

/* Flipped byte k of good: accepted or refused by a plan exactly as by the
 * table walker, with the same words. */
static void assert_same_verdict(struct hostile *h, uint8_t *bad, size_t k)
{
	struct dm_error want = {""}, got = {""};
	int plain, planned;

	memcpy(bad, h->good, h->n);
	bad[k] ^= 0x41;
	plain = dm_state_load(h->plain->desc, h->plain->state, bad, h->n,
			      &want);
	planned = dm_device_load(h->planned, bad, h->n, &got);
	ck_assert_msg(plain == planned, "%s: byte %zu: plan %d, table %d (%s)",
		      h->planned->name, k, planned, plain, want.msg);
	ck_assert_str_eq(got.msg, want.msg);
	if (!plain) {
		assert_encodes_to(h->planned, bad, h->n);
		ck_assert_int_eq(dm_state_load(h->plain->desc, h->plain->state,
					       h->good, h->n, &want),
				 0);
		ck_assert_int_eq(
			dm_device_load(h->planned, h->good, h->n, &got), 0);
	}
	h->tried++;
}

static void every_byte_flipped(struct hostile *h)
{
	uint8_t *bad = malloc(h->n);

	ck_assert_ptr_nonnull(bad);
	for (size_t k = 0; k < h->n; k++)
		assert_same_verdict(h, bad, k);
	free(bad);
}

/* Every byte of every device's encoding, headers and the last few bytes
 * of each included. */
START_TEST(a_plan_and_the_tables_agree_on_every_flipped_byte)
{
	ck_assert_uint_ge(try_each_device(every_byte_flipped), 4000);
}
END_TEST

/* Every leaf changed alone makes the states unequal. */
struct poke {
	const struct dm_device *d;
	uint8_t *copy;
	unsigned seen;
};

static int poke_leaf(const struct dm_layout_leaf *l, void *ctx)
{
	struct poke *p = ctx;
	struct dm_device other = *p->d;
	uint8_t *v = p->copy + l->state_offset;

	if (l->field->type == DM_FT_TIMER)
		v += offsetof(struct dm_timer, when);
	memcpy(p->copy, p->d->state, p->d->size);
	other.state = p->copy;
	ck_assert(dm_device_equal(&other, p->d));
	/* A bool stays 0 or 1; other values just change. */
	*v = l->field->type == DM_FT_BOOL ? !*v : (uint8_t)(*v ^ 1);
	ck_assert_msg(!dm_device_equal(&other, p->d), "%s: %s unnoticed",
		      p->d->name, l->path);
	ck_assert_uint_eq(
		dm_state_diff(p->d->desc, p->d->state, p->copy, NULL, NULL), 1);
	p->seen++;
	return 0;
}

START_TEST(a_plan_sees_every_leaf)
{
	struct dm_machine *m = busy_machine("vcpus=1");
	unsigned seen = 0;

	for (unsigned i = 0; i < m->ndevices; i++) {
		struct poke p = {&m->devices[i], malloc(m->devices[i].size), 0};

		ck_assert_ptr_nonnull(p.copy);
		dm_state_layout(m->devices[i].desc, poke_leaf, &p);
		seen += p.seen;
		free(p.copy);
	}
	ck_assert_uint_ge(seen, 300);
	dm_machine_destroy(m);
}
END_TEST

/*
 * A device rebuilt in place is the device of a fresh machine that loaded
 * the same bytes, the members the table does not hold included, and keeps
 * working: the PIT latch read half-way finishes with its second byte.
 */
START_TEST(a_rebuilt_device_is_a_fresh_one)
{
	struct dm_machine *m = busy_machine("vcpus=1"), *ref = NULL, *fresh;
	struct dm_error err;
	const struct dm_device *pit = dm_machine_device(m, "pit");
	unsigned i = (unsigned)(pit - m->devices);
	size_t n;
	uint8_t *blob = encode_slow(pit, &n);

	ck_assert_int_eq(dm_machine_create(&fresh, &m->cfg, &err), 0);
	ck_assert_int_eq(dm_device_load(&fresh->devices[i], blob, n, &err), 0);
	ck_assert_int_eq(dm_machine_rebuild_device(m, i, blob, n, &err), 0);
	assert_encodes_to(pit, blob, n);
	ck_assert(dm_device_equal(pit, &fresh->devices[i]));
	ref = busy_machine("vcpus=1");
	ck_assert_uint_eq(pio_r(m, 60000, 0x40), pio_r(ref, 60000, 0x40));
	ck_assert_uint_eq(dm_machine_hash(m), dm_machine_hash(ref));
	free(blob);
	dm_machine_destroy(ref);
	dm_machine_destroy(fresh);
	dm_machine_destroy(m);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("stateplan");
	TCase *tc = tcase_create("stateplan");

	tcase_add_test(tc, a_plan_encodes_and_loads_as_the_tables_do);
	tcase_add_test(tc, a_plan_refuses_what_the_tables_refuse);
	tcase_add_test(tc, a_plan_and_the_tables_agree_on_every_flipped_byte);
	tcase_add_test(tc, a_plan_sees_every_leaf);
	tcase_add_test(tc, a_rebuilt_device_is_a_fresh_one);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return dm_test_main(suite());
}
