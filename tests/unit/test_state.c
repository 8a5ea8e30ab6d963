// SPDX-License-Identifier: MIT
/*
 * State tables (sim/state.c), the event queue (sim/timer.c) and machine
 * options (sim/config.c).  Expected bytes and offsets are derived from the
 * format in docs/state-format.md, not from running the encoder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "sim/config.h"
#include "sim/state.h"
#include "sim/timer.h"
#include "testutil.h"

/* Every queued timer knows its slot and no child precedes its parent. */
static void check_heap(const struct dm_eventq *q)
{
	for (size_t i = 0; i < q->len; i++) {
		const struct dm_timer *t = q->heap[i];
		const struct dm_timer *parent = q->heap[i ? (i - 1) / 2 : 0];

		ck_assert_int_eq(t->slot, (int32_t)i);
		ck_assert_uint_ne(t->when, DM_TIME_NEVER);
		ck_assert(!i || parent->when < t->when ||
			  (parent->when == t->when && parent->rank < t->rank));
	}
}

/* ---- The test device: every field type, nested struct arrays. ---- */

struct pin {
	uint8_t level;
};

struct sub {
	uint8_t mode;
	uint16_t regs[3];
	bool armed;
	struct dm_timer t;
	struct pin pins[1];
};

struct tst {
	bool flag;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	uint8_t irr[4];
	struct dm_timer main_timer;
	struct sub ch[2];
	/* Not state: wiring, a derived cache, and a timer the table forgot. */
	int wiring;
	int post_loads;
	uint32_t cache;
	struct dm_timer aux;
	int fired[4];
};

static const struct dm_field pin_fields[] = {
	DM_U8(struct pin, level, 1, 1),
};
static const struct dm_state_desc pin_desc =
	DM_STATE_DESC("pin", 1, struct pin, pin_fields);

/* A channel's deadline is only meaningful while it is armed. */
static int sub_validate(const void *state, struct dm_error *err)
{
	const struct sub *s = state;

	if (!s->armed && dm_timer_pending(&s->t))
		return dm_errorf(err, "t: pending while armed is 0");
	return 0;
}

static const struct dm_field sub_fields[] = {
	DM_U8(struct sub, mode, 1, 5),
	DM_ARRAY(DM_FT_U16, struct sub, regs, 2, UINT16_MAX, DM_FF_HEX),
	DM_BOOL(struct sub, armed, 3),
	DM_TIMER(struct sub, t, 4),
	DM_STRUCTS(struct sub, pins, 5, pin_desc),
};
static const struct dm_state_desc sub_desc = DM_STATE_DESC(
	"ch", 1, struct sub, sub_fields, .validate = sub_validate);

static int tst_validate(const void *state, struct dm_error *err)
{
	const struct tst *s = state;

	if (s->flag && s->u64 == 0)
		return dm_errorf(err, "u64: 0 while flag is set");
	return 0;
}

static void tst_post_load(void *state)
{
	struct tst *s = state;

	s->post_loads++;
	s->cache = s->u32 * 2;
}

static const struct dm_field tst_fields[] = {
	DM_BOOL(struct tst, flag, 1),
	DM_U8(struct tst, u8, 2, 200),
	DM_X16(struct tst, u16, 3),
	DM_U32(struct tst, u32, 4, 1000000),
	DM_X64(struct tst, u64, 5),
	DM_ARRAY(DM_FT_U8, struct tst, irr, 6, 0x7f, DM_FF_HEX),
	DM_TIMER(struct tst, main_timer, 7),
	DM_STRUCTS(struct tst, ch, 8, sub_desc),
};
static const struct dm_state_desc tst_desc =
	DM_STATE_DESC("tst", 3, struct tst, tst_fields,
		      .validate = tst_validate, .post_load = tst_post_load);

/*
 * Layout of the encoding (5-byte field headers):
 * 0 version; 2 flag; 8 u8; 14 u16; 21 u32; 30 u64; 43 irr; 52 main_timer;
 * 65 ch header; 70 ch0 (47 bytes: 70 mode, 76 regs, 87 armed, 93 t,
 * 106 pins, 111 pins0.level); 117 ch1 (117 mode, 123 regs, 134 armed,
 * 140 t, 153 pins, 158 pins0.level); 164 end.
 */
#define TST_SIZE 164
#define OFF_U8_VAL 13
#define OFF_FLAG_VAL 7
#define OFF_IRR_VAL 48
#define OFF_CH_HDR 65
#define OFF_CH1 117
#define OFF_CH1_MODE_VAL 122
#define OFF_CH1_ARMED_VAL 139
#define OFF_CH1_T_VAL 145
#define OFF_CH1_LEVEL_VAL 163
#define OFF_CH0_REGS_HDR 76

static const char *const tst_paths[] = {
	"flag",
	"u8",
	"u16",
	"u32",
	"u64",
	"irr[0]",
	"irr[1]",
	"irr[2]",
	"irr[3]",
	"main_timer",
	"ch0.mode",
	"ch0.regs[0]",
	"ch0.regs[1]",
	"ch0.regs[2]",
	"ch0.armed",
	"ch0.t",
	"ch0.pins0.level",
	"ch1.mode",
	"ch1.regs[0]",
	"ch1.regs[1]",
	"ch1.regs[2]",
	"ch1.armed",
	"ch1.t",
	"ch1.pins0.level",
};
#define TST_LEAVES (sizeof(tst_paths) / sizeof(tst_paths[0]))

static void fire_main(void *opaque, uint64_t now)
{
	(void)now;
	((struct tst *)opaque)->fired[0]++;
}

static void fire_ch0(void *opaque, uint64_t now)
{
	(void)now;
	((struct tst *)opaque)->fired[1]++;
}

static void fire_ch1(void *opaque, uint64_t now)
{
	(void)now;
	((struct tst *)opaque)->fired[2]++;
}

static void fire_aux(void *opaque, uint64_t now)
{
	(void)now;
	((struct tst *)opaque)->fired[3]++;
}

/* A freshly built device: table fields at reset values, wiring bound. */
static void tst_init(struct tst *s, struct dm_eventq *q, int wiring)
{
	memset(s, 0, sizeof(*s));
	s->wiring = wiring;
	dm_timer_init(&s->main_timer, q, fire_main, s);
	dm_timer_init(&s->ch[0].t, q, fire_ch0, s);
	dm_timer_init(&s->ch[1].t, q, fire_ch1, s);
	dm_timer_init(&s->aux, q, fire_aux, s);
}

/* Distinct, legal values in every leaf; ch1's timer and main armed. */
static void tst_fill(struct tst *s)
{
	s->flag = true;
	s->u8 = 200;
	s->u16 = 0xbeef;
	s->u32 = 1000000;
	s->u64 = 0x0102030405060708ULL;
	for (int i = 0; i < 4; i++)
		s->irr[i] = (uint8_t)(0x10 + i);
	s->ch[0].mode = 2;
	s->ch[1].mode = 5;
	for (int i = 0; i < 3; i++) {
		s->ch[0].regs[i] = (uint16_t)(0x100 + i);
		s->ch[1].regs[i] = (uint16_t)(0xf000 + i);
	}
	s->ch[1].armed = true;
	s->ch[0].pins[0].level = 1;
	dm_timer_arm(&s->main_timer, 5000);
	dm_timer_arm(&s->ch[1].t, 3000);
}

static void encode_tst(const struct tst *s, uint8_t *buf)
{
	ck_assert_uint_eq(dm_state_encoded_size(&tst_desc), TST_SIZE);
	ck_assert_uint_eq(dm_state_encode(&tst_desc, s, buf, TST_SIZE),
			  TST_SIZE);
}

/* ---- A small device for the exact-bytes example of the docs. ---- */

struct demo_ch {
	uint8_t x;
};

struct demo {
	uint8_t mode;
	uint16_t count;
	bool out;
	uint8_t irr[2];
	struct dm_timer t;
	struct demo_ch ch[1];
};

static const struct dm_field demo_ch_fields[] = {
	DM_U8(struct demo_ch, x, 1, 7),
};
static const struct dm_state_desc demo_ch_desc =
	DM_STATE_DESC("ch", 1, struct demo_ch, demo_ch_fields);

static const struct dm_field demo_fields[] = {
	DM_U8(struct demo, mode, 1, 5),
	DM_X16(struct demo, count, 2),
	DM_BOOL(struct demo, out, 3),
	DM_ARRAY(DM_FT_U8, struct demo, irr, 4, UINT8_MAX, DM_FF_HEX),
	DM_TIMER(struct demo, t, 5),
	DM_STRUCTS(struct demo, ch, 6, demo_ch_desc),
};
static const struct dm_state_desc demo_desc =
	DM_STATE_DESC("demo", 2, struct demo, demo_fields);

/* The worked example of docs/state-format.md, byte for byte. */
static const uint8_t demo_bytes[] = {
	0x02, 0x00,				  /* version 2 */
	0x01, 0x00, 0x01, 0x00, 0x01, 0x03,	  /* mode = 3 */
	0x02, 0x00, 0x01, 0x00, 0x02, 0x34, 0x12, /* count = 0x1234 */
	0x03, 0x00, 0x01, 0x00, 0x01, 0x01,	  /* out = 1 */
	0x04, 0x00, 0x02, 0x00, 0x01, 0xaa, 0x01, /* irr = aa 01 */
	0x05, 0x00, 0x01, 0x00, 0x08, 0xe8, 0x03,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* t at 1000 ns */
	0x06, 0x00, 0x01, 0x00, 0x00,	    /* ch: 1 struct element */
	0x01, 0x00, 0x01, 0x00, 0x01, 0x07, /* ch0.x = 7 */
};

START_TEST(test_demo_exact_bytes)
{
	struct dm_eventq q;
	struct demo d = {
		.mode = 3, .count = 0x1234, .out = true, .irr = {0xaa, 0x01}};
	uint8_t buf[64];

	dm_eventq_init(&q);
	dm_timer_init(&d.t, &q, fire_aux, NULL);
	dm_timer_arm(&d.t, 1000);
	d.ch[0].x = 7;
	ck_assert_uint_eq(dm_state_encoded_size(&demo_desc),
			  sizeof(demo_bytes));
	ck_assert_uint_eq(dm_state_encode(&demo_desc, &d, buf, sizeof(buf)),
			  sizeof(demo_bytes));
	ck_assert_mem_eq(buf, demo_bytes, sizeof(demo_bytes));
	/* The documented bytes decode back to the same values. */
	{
		struct demo back;
		struct dm_error err;

		memset(&back, 0, sizeof(back));
		ck_assert_msg(dm_state_decode(&demo_desc, &back, demo_bytes,
					      sizeof(demo_bytes), &err) == 0,
			      "%s", err.msg);
		ck_assert_uint_eq(back.mode, 3);
		ck_assert_uint_eq(back.count, 0x1234);
		ck_assert(back.out);
		ck_assert_uint_eq(back.irr[0], 0xaa);
		ck_assert_uint_eq(back.irr[1], 0x01);
		ck_assert_uint_eq(back.t.when, 1000);
		ck_assert_uint_eq(back.ch[0].x, 7);
	}
	/* Too small a buffer: nothing written. */
	ck_assert_uint_eq(dm_state_encode(&demo_desc, &d, buf, 51), 0);
	/* Idle timer: UINT64_MAX. */
	dm_timer_cancel(&d.t);
	dm_state_encode(&demo_desc, &d, buf, sizeof(buf));
	for (int i = 33; i < 41; i++)
		ck_assert_uint_eq(buf[i], 0xff);
	dm_eventq_destroy(&q);
}
END_TEST

START_TEST(test_encoded_size)
{
	ck_assert_uint_eq(dm_state_encoded_size(&tst_desc), TST_SIZE);
	/* A sub-table alone: its fields, plus a version prefix. */
	ck_assert_uint_eq(dm_state_encoded_size(&sub_desc), 2 + 47);
	ck_assert_uint_eq(dm_state_encoded_size(&pin_desc), 2 + 6);
}
END_TEST

START_TEST(test_tst_bytes)
{
	struct dm_eventq q;
	struct tst s;
	uint8_t buf[TST_SIZE];

	dm_eventq_init(&q);
	tst_init(&s, &q, 0);
	tst_fill(&s);
	encode_tst(&s, buf);
	ck_assert_uint_eq(buf[0], 3);
	ck_assert_uint_eq(buf[1], 0);
	ck_assert_uint_eq(buf[OFF_FLAG_VAL], 1);
	ck_assert_uint_eq(buf[OFF_U8_VAL], 200);
	ck_assert_uint_eq(buf[OFF_IRR_VAL + 3], 0x13);
	/* ch header: id 8, count 2, size 0. */
	ck_assert_uint_eq(buf[OFF_CH_HDR], 8);
	ck_assert_uint_eq(buf[OFF_CH_HDR + 2], 2);
	ck_assert_uint_eq(buf[OFF_CH_HDR + 4], 0);
	/* ch1 starts with mode's header. */
	ck_assert_uint_eq(buf[OFF_CH1], 1);
	ck_assert_uint_eq(buf[OFF_CH1_MODE_VAL], 5);
	/* ch1.t = 3000 = 0x0bb8, little-endian. */
	ck_assert_uint_eq(buf[OFF_CH1_T_VAL], 0xb8);
	ck_assert_uint_eq(buf[OFF_CH1_T_VAL + 1], 0x0b);
	ck_assert_uint_eq(buf[OFF_CH1_T_VAL + 2], 0);
	ck_assert_uint_eq(buf[TST_SIZE - 1], 0);
	/* u64 little-endian at 35. */
	ck_assert_uint_eq(buf[35], 0x08);
	ck_assert_uint_eq(buf[42], 0x01);
	dm_eventq_destroy(&q);
}
END_TEST

START_TEST(test_roundtrip)
{
	struct dm_eventq q;
	struct tst s, fresh;

	dm_eventq_init(&q);
	tst_init(&s, &q, 11);
	tst_init(&fresh, &q, 22);
	tst_fill(&s);
	dm_timer_cancel(&s.main_timer);
	dm_timer_cancel(&s.ch[1].t);
	dm_test_roundtrip(&tst_desc, &s, &fresh);
	ck_assert_int_eq(fresh.wiring, 22);
	ck_assert_int_eq(fresh.post_loads, 1);
	ck_assert_uint_eq(fresh.cache, 2000000);
	ck_assert_uint_eq(fresh.u64, 0x0102030405060708ULL);
	ck_assert_uint_eq(fresh.ch[1].regs[2], 0xf002);
	ck_assert(fresh.ch[1].armed);
	ck_assert_uint_eq(fresh.ch[0].pins[0].level, 1);
	ck_assert_uint_eq(dm_state_hash(&tst_desc, &s),
			  dm_state_hash(&tst_desc, &fresh));
	ck_assert_uint_eq(dm_state_diff(&tst_desc, &s, &fresh, NULL, NULL), 0);
	dm_eventq_destroy(&q);
}
END_TEST

START_TEST(test_hash)
{
	struct dm_eventq q;
	struct tst a, b;
	uint8_t buf[TST_SIZE];

	dm_eventq_init(&q);
	tst_init(&a, &q, 1);
	tst_init(&b, &q, 2);
	tst_fill(&a);
	tst_fill(&b);
	/* Wiring and caches are not state. */
	b.cache = 99;
	ck_assert_uint_eq(dm_state_hash(&tst_desc, &a),
			  dm_state_hash(&tst_desc, &b));
	encode_tst(&a, buf);
	ck_assert_uint_eq(dm_state_hash(&tst_desc, &a),
			  XXH3_64bits(buf, TST_SIZE));
	b.ch[0].pins[0].level = 0;
	ck_assert_uint_ne(dm_state_hash(&tst_desc, &a),
			  dm_state_hash(&tst_desc, &b));
	b.ch[0].pins[0].level = 1;
	ck_assert_uint_eq(dm_state_hash(&tst_desc, &a),
			  dm_state_hash(&tst_desc, &b));
	dm_timer_arm(&b.ch[0].t, 1);
	ck_assert_uint_ne(dm_state_hash(&tst_desc, &a),
			  dm_state_hash(&tst_desc, &b));
	dm_eventq_destroy(&q);
}
END_TEST

/* A state bigger than the hash's stack buffer. */
struct big {
	uint8_t ram[5000];
	uint32_t tail;
};

static const struct dm_field big_fields[] = {
	DM_ARRAY(DM_FT_U8, struct big, ram, 1, UINT8_MAX, 0),
	DM_U32(struct big, tail, 2, UINT32_MAX),
};
static const struct dm_state_desc big_desc =
	DM_STATE_DESC("big", 1, struct big, big_fields);

static int find_ram17(const struct dm_leaf *leaf, void *ctx)
{
	if (strcmp(leaf->path, "ram[17]"))
		return 0;
	*(uint64_t *)ctx = leaf->value;
	return 1;
}

START_TEST(test_hash_big)
{
	static struct big a, b;
	size_t n = dm_state_encoded_size(&big_desc);
	uint8_t *buf = malloc(n);
	uint64_t v = 0;

	ck_assert_uint_eq(n, 2 + 5 + 5000 + 5 + 4);
	for (int i = 0; i < 5000; i++)
		a.ram[i] = b.ram[i] = (uint8_t)(i * 7);
	a.tail = b.tail = 0xdeadbeef;
	ck_assert_uint_eq(dm_state_encode(&big_desc, &a, buf, n), n);
	ck_assert_uint_eq(dm_state_hash(&big_desc, &a), XXH3_64bits(buf, n));
	ck_assert_uint_eq(dm_state_hash(&big_desc, &a),
			  dm_state_hash(&big_desc, &b));
	b.ram[4999]++;
	ck_assert_uint_ne(dm_state_hash(&big_desc, &a),
			  dm_state_hash(&big_desc, &b));
	ck_assert_int_eq(dm_state_walk(&big_desc, &a, find_ram17, &v), 1);
	ck_assert_uint_eq(v, (17 * 7) & 0xff);
	free(buf);
}
END_TEST

struct collect {
	char paths[32][64];
	uint64_t a[32], b[32];
	size_t n;
	size_t stop_at;
};

static int collect_leaf(const struct dm_leaf *leaf, void *ctx)
{
	struct collect *c = ctx;

	snprintf(c->paths[c->n], sizeof(c->paths[0]), "%s", leaf->path);
	c->a[c->n++] = leaf->value;
	return c->n == c->stop_at ? 7 : 0;
}

START_TEST(test_walk)
{
	struct dm_eventq q;
	struct tst s;
	struct collect c = {.n = 0};

	dm_eventq_init(&q);
	tst_init(&s, &q, 0);
	tst_fill(&s);
	ck_assert_int_eq(dm_state_walk(&tst_desc, &s, collect_leaf, &c), 0);
	ck_assert_uint_eq(c.n, TST_LEAVES);
	for (size_t i = 0; i < TST_LEAVES; i++)
		ck_assert_str_eq(c.paths[i], tst_paths[i]);
	ck_assert_uint_eq(c.a[0], 1);		   /* flag */
	ck_assert_uint_eq(c.a[2], 0xbeef);	   /* u16 */
	ck_assert_uint_eq(c.a[9], 5000);	   /* main_timer */
	ck_assert_uint_eq(c.a[13], 0x102);	   /* ch0.regs[2] */
	ck_assert_uint_eq(c.a[15], DM_TIME_NEVER); /* ch0.t idle */
	ck_assert_uint_eq(c.a[22], 3000);	   /* ch1.t */
	/* Early stop: the callback's value comes back. */
	memset(&c, 0, sizeof(c));
	c.stop_at = 3;
	ck_assert_int_eq(dm_state_walk(&tst_desc, &s, collect_leaf, &c), 7);
	ck_assert_uint_eq(c.n, 3);
	dm_eventq_destroy(&q);
}
END_TEST

static void collect_diff(const struct dm_leaf *a, uint64_t b_value, void *ctx)
{
	struct collect *c = ctx;

	snprintf(c->paths[c->n], sizeof(c->paths[0]), "%s", a->path);
	c->a[c->n] = a->value;
	c->b[c->n++] = b_value;
}

START_TEST(test_diff)
{
	struct dm_eventq q;
	struct tst a, b;
	struct collect c = {.n = 0};

	dm_eventq_init(&q);
	tst_init(&a, &q, 0);
	tst_init(&b, &q, 0);
	tst_fill(&a);
	tst_fill(&b);
	ck_assert_uint_eq(dm_state_diff(&tst_desc, &a, &b, collect_diff, &c),
			  0);
	b.u8 = 7;
	dm_timer_arm(&b.ch[0].t, 42);
	b.ch[1].regs[2] = 0x1234;
	b.ch[1].pins[0].level = 1;
	b.wiring = 5; /* not state: no difference */
	ck_assert_uint_eq(dm_state_diff(&tst_desc, &a, &b, collect_diff, &c),
			  4);
	ck_assert_uint_eq(c.n, 4);
	ck_assert_str_eq(c.paths[0], "u8");
	ck_assert_uint_eq(c.a[0], 200);
	ck_assert_uint_eq(c.b[0], 7);
	ck_assert_str_eq(c.paths[1], "ch0.t");
	ck_assert_uint_eq(c.a[1], DM_TIME_NEVER);
	ck_assert_uint_eq(c.b[1], 42);
	ck_assert_str_eq(c.paths[2], "ch1.regs[2]");
	ck_assert_uint_eq(c.a[2], 0xf002);
	ck_assert_uint_eq(c.b[2], 0x1234);
	ck_assert_str_eq(c.paths[3], "ch1.pins0.level");
	ck_assert_uint_eq(c.a[3], 0);
	ck_assert_uint_eq(c.b[3], 1);
	/* A NULL callback only counts. */
	ck_assert_uint_eq(dm_state_diff(&tst_desc, &b, &a, NULL, NULL), 4);
	dm_eventq_destroy(&q);
}
END_TEST

struct format_case {
	const char *path;
	const char *text;
	char got[32];
};

static int format_leaf(const struct dm_leaf *leaf, void *ctx)
{
	struct format_case *fc = ctx;

	if (strcmp(leaf->path, fc->path))
		return 0;
	dm_leaf_format(leaf, fc->got, sizeof(fc->got));
	return 1;
}

START_TEST(test_leaf_format)
{
	static const struct {
		const char *path, *text;
	} cases[] = {
		{"flag", "1"},
		{"u8", "200"},
		{"u16", "0xbeef"},
		{"u32", "1000000"},
		{"u64", "0x102030405060708"},
		{"irr[2]", "0x12"},
		{"main_timer", "5000"},
		{"ch0.t", "never"},
		{"ch0.armed", "0"},
		{"ch1.regs[0]", "0xf000"},
	};
	struct dm_eventq q;
	struct tst s;
	char small[4];
	struct dm_leaf leaf = {"u64", &tst_fields[4], 0x123456};

	dm_eventq_init(&q);
	tst_init(&s, &q, 0);
	tst_fill(&s);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct format_case fc = {cases[i].path, cases[i].text, ""};

		ck_assert_int_eq(dm_state_walk(&tst_desc, &s, format_leaf, &fc),
				 1);
		ck_assert_str_eq(fc.got, fc.text);
	}
	/* Truncates to the buffer, always terminated. */
	dm_leaf_format(&leaf, small, sizeof(small));
	ck_assert_str_eq(small, "0x1");
	dm_eventq_destroy(&q);
}
END_TEST

START_TEST(test_load_rearms_timers)
{
	struct dm_eventq q;
	struct tst src, live;
	uint8_t buf[TST_SIZE];
	struct dm_error err;

	dm_eventq_init(&q);
	tst_init(&live, &q, 9);
	tst_init(&src, &q, 0);
	tst_fill(&src);
	encode_tst(&src, buf);
	dm_timer_cancel(&src.main_timer);
	dm_timer_cancel(&src.ch[1].t);
	/* The live device has its own deadlines: the blob's replace them. */
	live.ch[1].armed = true;
	dm_timer_arm(&live.ch[0].t, 100);
	dm_timer_arm(&live.ch[1].t, 200);
	dm_timer_arm(&live.main_timer, 10000);
	dm_timer_arm(&live.aux, 4000);
	ck_assert_msg(dm_state_load(&tst_desc, &live, buf, TST_SIZE, &err) == 0,
		      "%s", err.msg);
	ck_assert_int_eq(live.wiring, 9);
	ck_assert_ptr_eq(live.ch[1].t.q, &q);
	ck_assert_int_eq(live.post_loads, 1);
	ck_assert_uint_eq(live.ch[0].t.when, DM_TIME_NEVER);
	ck_assert_int_eq(live.ch[0].t.slot, -1);
	ck_assert_uint_eq(dm_eventq_next(&q), 3000);
	ck_assert_uint_eq(q.len, 3); /* ch1.t, aux, main_timer */
	check_heap(&q);
	ck_assert_uint_eq(dm_eventq_run_until(&q, 2999), 0);
	ck_assert_uint_eq(dm_eventq_run_until(&q, 3000), 1);
	ck_assert_int_eq(live.fired[2], 1);
	ck_assert_uint_eq(dm_eventq_next(&q), 4000);
	ck_assert_uint_eq(dm_eventq_run_until(&q, 4000), 1);
	ck_assert_int_eq(live.fired[3], 1);
	ck_assert_uint_eq(dm_eventq_run_until(&q, 1000000), 1);
	ck_assert_int_eq(live.fired[0], 1);
	ck_assert_int_eq(live.fired[1], 0);
	ck_assert_uint_eq(dm_eventq_next(&q), DM_TIME_NEVER);
	dm_eventq_destroy(&q);
}
END_TEST

/*
 * Cancelling the table's timers moves other timers in the heap, including
 * one the table does not declare (aux): the load must leave its slot right.
 */
START_TEST(test_load_keeps_undeclared_timer)
{
	struct dm_eventq q;
	struct tst src, live, other;
	uint8_t buf[TST_SIZE];
	struct dm_error err;

	dm_eventq_init(&q);
	tst_init(&live, &q, 0);
	tst_init(&other, &q, 0);
	tst_init(&src, &q, 0);
	encode_tst(&src, buf); /* every timer idle */
	dm_timer_arm(&live.ch[0].t, 100);
	dm_timer_arm(&live.ch[1].t, 200);
	dm_timer_arm(&live.main_timer, 10000);
	dm_timer_arm(&live.aux, 4000);
	dm_timer_arm(&other.main_timer, 8000);
	ck_assert_msg(dm_state_load(&tst_desc, &live, buf, TST_SIZE, &err) == 0,
		      "%s", err.msg);
	ck_assert_uint_eq(q.len, 2);
	check_heap(&q);
	ck_assert_int_eq(live.aux.slot, q.heap[0] == &live.aux ? 0 : 1);
	ck_assert_uint_eq(dm_eventq_run_until(&q, 4000), 1);
	ck_assert_int_eq(live.fired[3], 1);
	check_heap(&q);
	ck_assert_uint_eq(dm_eventq_run_until(&q, 8000), 1);
	ck_assert_int_eq(other.fired[0], 1);
	ck_assert_uint_eq(dm_eventq_next(&q), DM_TIME_NEVER);
	dm_eventq_destroy(&q);
}
END_TEST

/* Encodes a state's bytes so "untouched" can be checked exactly. */
static void snapshot(const struct tst *s, uint8_t *buf)
{
	ck_assert_uint_eq(dm_state_encode(&tst_desc, s, buf, TST_SIZE),
			  TST_SIZE);
}

/*
 * Loads a malformed blob into a live device with armed timers: the load
 * must fail with a message containing want, and leave the device, its
 * timers and the queue exactly as they were.
 */
static void expect_reject(const uint8_t *blob, size_t len, const char *want)
{
	struct dm_eventq q;
	struct tst live, scratch;
	uint8_t before[TST_SIZE], after[TST_SIZE];
	struct dm_error err = {""};

	dm_eventq_init(&q);
	tst_init(&live, &q, 5);
	tst_fill(&live);
	dm_timer_arm(&live.aux, 4000);
	snapshot(&live, before);
	ck_assert_int_eq(dm_state_load(&tst_desc, &live, blob, len, &err), -1);
	ck_assert_msg(strstr(err.msg, want), "message '%s' lacks '%s'", err.msg,
		      want);
	ck_assert_msg(!strncmp(err.msg, "tst: ", 5), "no device in '%s'",
		      err.msg);
	snapshot(&live, after);
	ck_assert_mem_eq(before, after, TST_SIZE);
	ck_assert_int_eq(live.post_loads, 0);
	ck_assert_uint_eq(q.len, 3);
	check_heap(&q);
	ck_assert_uint_eq(dm_eventq_run_until(&q, 3000), 1);
	ck_assert_int_eq(live.fired[2], 1);
	ck_assert_uint_eq(dm_eventq_run_until(&q, 5000), 2);
	ck_assert_int_eq(live.fired[3], 1);
	ck_assert_int_eq(live.fired[0], 1);
	/* dm_state_decode applies the same checks. */
	memset(&scratch, 0, sizeof(scratch));
	err.msg[0] = '\0';
	ck_assert_int_eq(dm_state_decode(&tst_desc, &scratch, blob, len, &err),
			 -1);
	ck_assert_msg(strstr(err.msg, want), "decode: '%s' lacks '%s'", err.msg,
		      want);
	dm_eventq_destroy(&q);
}

/* A valid blob of the filled test state, with ch1.t idle. */
static void valid_blob(uint8_t *buf)
{
	struct dm_eventq q;
	struct tst s;

	dm_eventq_init(&q);
	tst_init(&s, &q, 0);
	tst_fill(&s);
	encode_tst(&s, buf);
	dm_eventq_destroy(&q);
}

START_TEST(test_reject_version)
{
	uint8_t buf[TST_SIZE];

	valid_blob(buf);
	buf[0] = 4;
	expect_reject(buf, TST_SIZE,
		      "tst: state version 4, this build reads version 3");
	buf[0] = 3;
	buf[1] = 1;
	expect_reject(buf, TST_SIZE, "state version 259");
}
END_TEST

START_TEST(test_reject_truncated)
{
	uint8_t buf[TST_SIZE];

	valid_blob(buf);
	for (size_t len = 0; len < TST_SIZE; len++) {
		uint8_t *copy = malloc(len ? len : 1);

		/* An exact-size heap copy lets ASan catch any over-read. */
		memcpy(copy, buf, len);
		expect_reject(copy, len, "truncated in ");
		free(copy);
	}
	expect_reject(buf, 0, "tst: byte 0: truncated in the state version");
	expect_reject(buf, OFF_CH_HDR + 3,
		      "tst: byte 65: truncated in the header of field 8 (ch): "
		      "need 5 bytes, 3 left");
	expect_reject(buf, OFF_CH1_MODE_VAL,
		      "tst: byte 122: truncated in ch1.mode: need 1 bytes, 0 "
		      "left");
	expect_reject(buf, OFF_CH1_T_VAL + 7,
		      "tst: byte 145: truncated in ch1.t: need 8 bytes, 7 "
		      "left");
}
END_TEST

START_TEST(test_reject_trailing)
{
	uint8_t buf[TST_SIZE + 1];

	valid_blob(buf);
	buf[TST_SIZE] = 0;
	expect_reject(buf, TST_SIZE + 1,
		      "tst: byte 164: 1 trailing bytes after the last field");
}
END_TEST

START_TEST(test_reject_header)
{
	uint8_t buf[TST_SIZE];

	valid_blob(buf);
	buf[8] = 9;
	expect_reject(buf, TST_SIZE,
		      "tst: byte 8: expected field 2 (u8), found id 9");
	valid_blob(buf);
	buf[OFF_CH1 + 1] = 1; /* id 0x101 where ch1.mode's 1 is expected */
	expect_reject(buf, TST_SIZE,
		      "tst: byte 117: expected field 1 (ch1.mode), found id "
		      "257");
	valid_blob(buf);
	buf[OFF_CH0_REGS_HDR + 2] = 4;
	expect_reject(buf, TST_SIZE,
		      "tst: byte 78: ch0.regs: count 4, expected 3");
	valid_blob(buf);
	buf[OFF_CH_HDR + 2] = 1;
	expect_reject(buf, TST_SIZE, "tst: byte 67: ch: count 1, expected 2");
	valid_blob(buf);
	buf[OFF_CH0_REGS_HDR + 4] = 4;
	expect_reject(buf, TST_SIZE,
		      "tst: byte 80: ch0.regs: element size 4, expected 2");
	valid_blob(buf);
	buf[OFF_CH_HDR + 4] = 1;
	expect_reject(buf, TST_SIZE,
		      "tst: byte 69: ch: element size 1, expected 0");
}
END_TEST

START_TEST(test_reject_values)
{
	uint8_t buf[TST_SIZE];

	valid_blob(buf);
	buf[OFF_CH1_MODE_VAL] = 9;
	expect_reject(buf, TST_SIZE,
		      "tst: ch1.mode: value 9 exceeds 5 at byte 122");
	valid_blob(buf);
	buf[OFF_U8_VAL] = 201;
	expect_reject(buf, TST_SIZE,
		      "tst: u8: value 201 exceeds 200 at byte 13");
	valid_blob(buf);
	buf[OFF_IRR_VAL + 2] = 0x80;
	expect_reject(buf, TST_SIZE,
		      "tst: irr[2]: value 0x80 exceeds 0x7f at byte 50");
	valid_blob(buf);
	buf[OFF_CH1_LEVEL_VAL] = 2;
	expect_reject(buf, TST_SIZE,
		      "tst: ch1.pins0.level: value 2 exceeds 1 at byte 163");
	/* u32 max 1000000 = 0xf4240: 0xf4241 is one above. */
	valid_blob(buf);
	buf[26] = 0x41;
	expect_reject(buf, TST_SIZE,
		      "tst: u32: value 1000001 exceeds 1000000 at byte 26");
}
END_TEST

START_TEST(test_reject_bool)
{
	uint8_t buf[TST_SIZE];

	valid_blob(buf);
	buf[OFF_FLAG_VAL] = 2;
	expect_reject(buf, TST_SIZE,
		      "tst: flag: value 2 is not a bool (0 or 1) at byte 7");
	valid_blob(buf);
	buf[OFF_CH1_ARMED_VAL] = 0xff;
	expect_reject(buf, TST_SIZE, "tst: ch1.armed: value 255 is not a bool");
}
END_TEST

START_TEST(test_reject_validate)
{
	uint8_t buf[TST_SIZE];

	/* ch1.t pending with ch1.armed cleared: the sub-table's rule. */
	valid_blob(buf);
	buf[OFF_CH1_ARMED_VAL] = 0;
	expect_reject(buf, TST_SIZE,
		      "tst: byte 117: ch1: t: pending while armed is 0");
	/* flag set with u64 = 0: the top-level rule. */
	valid_blob(buf);
	memset(buf + 35, 0, 8);
	expect_reject(buf, TST_SIZE, "tst: u64: 0 while flag is set");
}
END_TEST

START_TEST(test_decode_scratch)
{
	struct tst scratch;
	uint8_t buf[TST_SIZE];
	struct dm_error err;

	valid_blob(buf);
	memset(&scratch, 0, sizeof(scratch));
	ck_assert_msg(
		dm_state_decode(&tst_desc, &scratch, buf, TST_SIZE, &err) == 0,
		"%s", err.msg);
	ck_assert_uint_eq(scratch.ch[1].t.when, 3000);
	ck_assert_ptr_null(scratch.ch[1].t.q);
	ck_assert_uint_eq(scratch.ch[0].t.when, DM_TIME_NEVER);
	ck_assert_uint_eq(scratch.u16, 0xbeef);
	ck_assert_int_eq(scratch.post_loads, 0); /* no post_load */
	ck_assert_uint_eq(scratch.cache, 0);
}
END_TEST

START_TEST(test_load_unbound_timer)
{
	struct tst live;
	uint8_t buf[TST_SIZE];
	struct dm_error err;

	valid_blob(buf);
	memset(&live, 0, sizeof(live));
	ck_assert_int_eq(dm_state_load(&tst_desc, &live, buf, TST_SIZE, &err),
			 -1);
	ck_assert_str_eq(err.msg, "tst: main_timer: deadline 5000 but the live "
				  "timer is not bound to an event queue");
	ck_assert_uint_eq(live.u8, 0);
}
END_TEST

/* Save and restore in the middle of a running sequence. */
START_TEST(test_restore_mid_sequence)
{
	struct dm_eventq q1, q2;
	struct tst a, b;

	dm_eventq_init(&q1);
	dm_eventq_init(&q2);
	tst_init(&a, &q1, 0);
	tst_init(&b, &q2, 0);
	tst_fill(&a);
	ck_assert_uint_eq(dm_eventq_run_until(&q1, 3500), 1);
	dm_test_roundtrip(&tst_desc, &a, &b);
	ck_assert_uint_eq(dm_eventq_next(&q2), 5000);
	ck_assert_uint_eq(dm_eventq_run_until(&q2, 5000), 1);
	ck_assert_int_eq(b.fired[0], 1);
	ck_assert_int_eq(b.fired[2], 0);
	dm_eventq_destroy(&q1);
	dm_eventq_destroy(&q2);
}
END_TEST

/* ---- sim/config.c ---- */

START_TEST(test_config_profiles)
{
	struct dm_config d, k, qm;

	dm_config_defaults(&d, DM_PROFILE_DATASHEET);
	dm_config_defaults(&k, DM_PROFILE_KVM);
	dm_config_defaults(&qm, DM_PROFILE_QEMU);
	ck_assert_uint_eq(d.profile, DM_PROFILE_DATASHEET);
	ck_assert_uint_eq(k.profile, DM_PROFILE_KVM);
	ck_assert_uint_eq(qm.profile, DM_PROFILE_QEMU);
	ck_assert_uint_eq(d.pit_hz, 1193182);
	ck_assert_uint_eq(k.pit_hz, 1193181);
	ck_assert_uint_eq(qm.pit_hz, 1193182);
	ck_assert_uint_eq(d.pit_flavor, DM_PIT_DATASHEET);
	ck_assert_uint_eq(k.pit_flavor, DM_PIT_KVM);
	ck_assert_uint_eq(d.pit_min_period_us, 0);
	ck_assert_uint_eq(k.pit_min_period_us, 200);
	ck_assert(!d.pit_reinject);
	ck_assert(k.pit_reinject);
	ck_assert(!qm.pit_reinject);
	ck_assert_uint_eq(d.vcpus, 1);
	ck_assert_uint_eq(d.chipset, DM_CHIPSET_PC);
	ck_assert_str_eq(dm_profile_name(DM_PROFILE_KVM), "kvm");
	ck_assert_str_eq(dm_profile_name(DM_PROFILE_COUNT), "?");
}
END_TEST

START_TEST(test_config_parse)
{
	struct dm_config c;
	struct dm_error err;

	dm_config_defaults(&c, DM_PROFILE_DATASHEET);
	ck_assert_msg(dm_config_parse(&c,
				      "profile=kvm  pit_hz=0x1000\tvcpus=4 "
				      "pit_reinject=off chipset=q35\n",
				      &err) == 0,
		      "%s", err.msg);
	ck_assert_uint_eq(c.profile, DM_PROFILE_KVM);
	ck_assert_uint_eq(c.pit_hz, 4096);
	ck_assert_uint_eq(c.vcpus, 4);
	ck_assert(!c.pit_reinject);
	ck_assert_uint_eq(c.chipset, DM_CHIPSET_Q35);
	ck_assert_uint_eq(c.pit_min_period_us, 200); /* kvm default kept */
	ck_assert_int_eq(dm_config_parse(&c, "", &err), 0);
	ck_assert_int_eq(dm_config_parse(&c, "bogus=1", &err), -1);
	ck_assert_str_eq(err.msg, "unknown option 'bogus'");
	ck_assert_int_eq(dm_config_parse(&c, "vcpus", &err), -1);
	ck_assert_str_eq(err.msg, "option 'vcpus' is not key=value");
	ck_assert_int_eq(dm_config_parse(&c, "pit_hz=12x", &err), -1);
	ck_assert_str_eq(err.msg, "option pit_hz: bad number '12x'");
	ck_assert_int_eq(dm_config_parse(&c, "pit_hz=-5", &err), -1);
	ck_assert_str_eq(err.msg, "option pit_hz: bad number '-5'");
	ck_assert_int_eq(dm_config_parse(&c, "pit_hz=", &err), -1);
	ck_assert_int_eq(dm_config_parse(&c, "vcpus=0", &err), -1);
	ck_assert_str_eq(err.msg, "option vcpus: 0 is out of range [1, 256]");
	ck_assert_int_eq(dm_config_parse(&c, "vcpus=257", &err), -1);
	ck_assert_str_eq(err.msg, "option vcpus: 257 is out of range [1, 256]");
	ck_assert_int_eq(dm_config_parse(&c, "pit_reinject=maybe", &err), -1);
	ck_assert_str_eq(
		err.msg,
		"option pit_reinject: expected on or off, got 'maybe'");
	ck_assert_int_eq(dm_config_parse(&c, "chipset=isa", &err), -1);
	ck_assert_str_eq(err.msg, "option chipset: unknown value 'isa'");
	ck_assert_int_eq(dm_config_parse(&c, "vcpus=2 profile=qemu", &err), -1);
	ck_assert_str_eq(err.msg, "option profile must come first");
	ck_assert_uint_eq(c.vcpus, 2);
	ck_assert_uint_eq(c.profile, DM_PROFILE_KVM);
}
END_TEST

START_TEST(test_config_format_roundtrip)
{
	static const char *const overrides[] = {
		"",
		"vcpus=3 pit_reinject=on",
		"chipset=q35 tsc_hz=3000000000 pit=datasheet",
	};
	char text[4096], again[4096];
	struct dm_error err;

	for (int p = 0; p < DM_PROFILE_COUNT; p++) {
		for (size_t i = 0; i < 3; i++) {
			struct dm_config a, b;
			size_t n;

			dm_config_defaults(&a, (enum dm_profile)p);
			ck_assert_int_eq(
				dm_config_parse(&a, overrides[i], &err), 0);
			n = dm_config_format(&a, text, sizeof(text));
			ck_assert_uint_eq(n, strlen(text));
			ck_assert(!strncmp(text, "profile=", 8));
			/* Parse into a config of another profile. */
			dm_config_defaults(&b, (enum dm_profile)((p + 1) % 3));
			ck_assert_msg(dm_config_parse(&b, text, &err) == 0,
				      "%s", err.msg);
			ck_assert_mem_eq(&a, &b, sizeof(a));
			dm_config_format(&b, again, sizeof(again));
			ck_assert_str_eq(text, again);
		}
	}
	/* A short buffer: terminated, and the full length is returned. */
	{
		struct dm_config a;
		char small[10];
		size_t full;

		dm_config_defaults(&a, DM_PROFILE_KVM);
		full = dm_config_format(&a, text, sizeof(text));
		ck_assert_uint_eq(dm_config_format(&a, small, sizeof(small)),
				  full);
		ck_assert_str_eq(small, "profile=k");
	}
}
END_TEST

/* ---- sim/timer.c ---- */

struct fire_log {
	int order[64];
	uint64_t at[64];
	int n;
};

struct probe {
	struct dm_timer t;
	struct fire_log *log;
	int id;
	uint64_t period; /* re-arm this much later when non-zero */
};

static void probe_fire(void *opaque, uint64_t now)
{
	struct probe *p = opaque;

	p->log->order[p->log->n] = p->id;
	p->log->at[p->log->n++] = now;
	if (p->period)
		dm_timer_arm(&p->t, now + p->period);
}

START_TEST(test_eventq_rank_order)
{
	struct dm_eventq q;
	struct fire_log log = {.n = 0};
	struct probe p[4];

	dm_eventq_init(&q);
	for (int i = 0; i < 4; i++) {
		p[i] = (struct probe){.log = &log, .id = i};
		dm_timer_init(&p[i].t, &q, probe_fire, &p[i]);
		ck_assert_uint_eq(p[i].t.rank, (uint32_t)i);
	}
	/* Armed in reverse order, same deadline: rank decides. */
	for (int i = 3; i >= 0; i--)
		dm_timer_arm(&p[i].t, 100);
	ck_assert_uint_eq(dm_eventq_next(&q), 100);
	ck_assert_uint_eq(dm_eventq_run_until(&q, 99), 0);
	ck_assert_uint_eq(dm_eventq_run_until(&q, 100), 4);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(log.order[i], i);
		ck_assert_uint_eq(log.at[i], 100);
		ck_assert(!dm_timer_pending(&p[i].t));
	}
	ck_assert_uint_eq(dm_eventq_next(&q), DM_TIME_NEVER);
	dm_eventq_destroy(&q);
}
END_TEST

START_TEST(test_eventq_rearm_in_callback)
{
	struct dm_eventq q;
	struct fire_log log = {.n = 0};
	struct probe per = {.log = &log, .id = 1, .period = 10};
	struct probe once = {.log = &log, .id = 2};

	dm_eventq_init(&q);
	dm_timer_init(&once.t, &q, probe_fire, &once);
	dm_timer_init(&per.t, &q, probe_fire, &per);
	dm_timer_arm(&per.t, 10);
	dm_timer_arm(&once.t, 20);
	/* 10, 20 (once before per: lower rank), 20, 30; next at 40. */
	ck_assert_uint_eq(dm_eventq_run_until(&q, 35), 4);
	ck_assert_int_eq(log.order[0], 1);
	ck_assert_uint_eq(log.at[0], 10);
	ck_assert_int_eq(log.order[1], 2);
	ck_assert_uint_eq(log.at[1], 20);
	ck_assert_int_eq(log.order[2], 1);
	ck_assert_uint_eq(log.at[2], 20);
	ck_assert_uint_eq(log.at[3], 30);
	ck_assert_uint_eq(per.t.when, 40);
	ck_assert_uint_eq(dm_eventq_next(&q), 40);
	dm_eventq_destroy(&q);
}
END_TEST

START_TEST(test_eventq_cancel)
{
	struct dm_eventq q;
	struct fire_log log = {.n = 0};
	struct probe a = {.log = &log, .id = 1}, b = {.log = &log, .id = 2};

	dm_eventq_init(&q);
	dm_timer_init(&a.t, &q, probe_fire, &a);
	dm_timer_init(&b.t, &q, probe_fire, &b);
	dm_timer_cancel(&a.t); /* idle: no effect */
	dm_timer_arm(&a.t, 50);
	dm_timer_arm(&b.t, 60);
	dm_timer_cancel(&a.t);
	ck_assert(!dm_timer_pending(&a.t));
	ck_assert_int_eq(a.t.slot, -1);
	ck_assert_uint_eq(dm_eventq_next(&q), 60);
	dm_timer_arm(&b.t, DM_TIME_NEVER);
	ck_assert_uint_eq(dm_eventq_next(&q), DM_TIME_NEVER);
	/* Moving an armed timer later and earlier. */
	dm_timer_arm(&a.t, 70);
	dm_timer_arm(&a.t, 90);
	dm_timer_arm(&b.t, 80);
	ck_assert_uint_eq(dm_eventq_run_until(&q, 85), 1);
	ck_assert_int_eq(log.order[0], 2);
	dm_timer_arm(&a.t, 86);
	ck_assert_uint_eq(dm_eventq_run_until(&q, 1000), 1);
	ck_assert_uint_eq(log.at[1], 86);
	ck_assert_uint_eq(log.n, 2);
	dm_eventq_destroy(&q);
}
END_TEST

#define NRAND 12

struct rand_log {
	int order[NRAND * 1100];
	uint64_t at[NRAND * 1100];
	int n;
};

struct rprobe {
	struct dm_timer t;
	struct rand_log *log;
	int id;
};

static void rprobe_fire(void *opaque, uint64_t now)
{
	struct rprobe *p = opaque;

	p->log->order[p->log->n] = p->id;
	p->log->at[p->log->n++] = now;
}

static uint64_t lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 33;
}

/* Reference: the earliest pending (when, id) at or before now, or -1. */
static int ref_next(const uint64_t *when, uint64_t now)
{
	int best = -1;

	for (int i = 0; i < NRAND; i++)
		if (when[i] <= now && (best < 0 || when[i] < when[best]))
			best = i;
	return best;
}

START_TEST(test_eventq_random)
{
	static struct rand_log log;
	struct dm_eventq q;
	struct rprobe p[NRAND];
	uint64_t ref[NRAND], now = 0, seed = 12345;

	dm_eventq_init(&q);
	for (int i = 0; i < NRAND; i++) {
		p[i] = (struct rprobe){.log = &log, .id = i};
		dm_timer_init(&p[i].t, &q, rprobe_fire, &p[i]);
		ref[i] = DM_TIME_NEVER;
	}
	for (int op = 0; op < 1000; op++) {
		int i = (int)(lcg(&seed) % NRAND);
		uint64_t r = lcg(&seed) % 4;

		if (r == 0) {
			dm_timer_cancel(&p[i].t);
			ref[i] = DM_TIME_NEVER;
		} else if (r < 3) {
			/* Small range: many equal deadlines. */
			ref[i] = now + 1 + lcg(&seed) % 20;
			dm_timer_arm(&p[i].t, ref[i]);
		} else {
			uint64_t until = now + lcg(&seed) % 25;
			int start = log.n, k;

			dm_eventq_run_until(&q, until);
			for (k = start; (i = ref_next(ref, until)) >= 0; k++) {
				ck_assert_int_lt(k, log.n);
				ck_assert_int_eq(log.order[k], i);
				ck_assert_uint_eq(log.at[k], ref[i]);
				ref[i] = DM_TIME_NEVER;
			}
			ck_assert_int_eq(k, log.n);
			now = until;
		}
		for (int j = 0; j < NRAND; j++)
			ck_assert_uint_eq(p[j].t.when, ref[j]);
		{
			uint64_t min = DM_TIME_NEVER;

			for (int j = 0; j < NRAND; j++)
				min = ref[j] < min ? ref[j] : min;
			ck_assert_uint_eq(dm_eventq_next(&q), min);
		}
		check_heap(&q);
	}
	ck_assert_int_gt(log.n, 100);
	dm_eventq_destroy(&q);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("state");
	TCase *enc = tcase_create("encode");
	TCase *load = tcase_create("load");
	TCase *bad = tcase_create("malformed");
	TCase *cfg = tcase_create("config");
	TCase *evq = tcase_create("eventq");

	tcase_add_test(enc, test_demo_exact_bytes);
	tcase_add_test(enc, test_encoded_size);
	tcase_add_test(enc, test_tst_bytes);
	tcase_add_test(enc, test_hash);
	tcase_add_test(enc, test_hash_big);
	tcase_add_test(enc, test_walk);
	tcase_add_test(enc, test_diff);
	tcase_add_test(enc, test_leaf_format);
	tcase_add_test(load, test_roundtrip);
	tcase_add_test(load, test_load_rearms_timers);
	tcase_add_test(load, test_load_keeps_undeclared_timer);
	tcase_add_test(load, test_decode_scratch);
	tcase_add_test(load, test_load_unbound_timer);
	tcase_add_test(load, test_restore_mid_sequence);
	tcase_add_test(bad, test_reject_version);
	tcase_add_test(bad, test_reject_truncated);
	tcase_add_test(bad, test_reject_trailing);
	tcase_add_test(bad, test_reject_header);
	tcase_add_test(bad, test_reject_values);
	tcase_add_test(bad, test_reject_bool);
	tcase_add_test(bad, test_reject_validate);
	tcase_add_test(cfg, test_config_profiles);
	tcase_add_test(cfg, test_config_parse);
	tcase_add_test(cfg, test_config_format_roundtrip);
	tcase_add_test(evq, test_eventq_rank_order);
	tcase_add_test(evq, test_eventq_rearm_in_callback);
	tcase_add_test(evq, test_eventq_cancel);
	tcase_add_test(evq, test_eventq_random);
	suite_add_tcase(s, enc);
	suite_add_tcase(s, load);
	suite_add_tcase(s, bad);
	suite_add_tcase(s, cfg);
	suite_add_tcase(s, evq);
	return s;
}

int main(void)
{
	return dm_test_main(suite());
}
