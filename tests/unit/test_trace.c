// SPDX-License-Identifier: MIT
/* The trace codecs: text format v1 of DESIGN.md and the binary format of
 * docs/trace-format.md. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "testutil.h"
#include "traces/trace.h"

static char tmpdir[64];

static void make_tmpdir(void)
{
	strcpy(tmpdir, "/tmp/dm-trace-test-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char path[512];

	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", tmpdir,
				 e->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(tmpdir);
}

static const char *tmp(const char *name)
{
	static char paths[4][512];
	static int next;
	char *p = paths[next++ % 4];

	snprintf(p, sizeof(paths[0]), "%s/%s", tmpdir, name);
	return p;
}

static void put_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static uint8_t *get_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	buf[n] = 0;
	*len = (size_t)n;
	return buf;
}

/* Reads a whole trace; returns the number of events, or -1 with err. */
static long read_all(const char *path, struct dm_error *err)
{
	struct dm_trace_reader *r;
	struct dm_event ev;
	long n = 0;
	int rc;

	if (dm_trace_open(&r, path, err))
		return -1;
	while ((rc = dm_trace_next(r, &ev, err)) > 0)
		n++;
	dm_trace_close(r);
	return rc < 0 ? -1 : n;
}

static void assert_msg_has(const struct dm_error *err, const char *want)
{
	ck_assert_msg(strstr(err->msg, want), "message '%s' lacks '%s'",
		      err->msg, want);
}

/* The trace must fail with a message naming path:line and holding want. */
static void expect_text_error(const char *body, int line, const char *want)
{
	const char *path = tmp("bad.txt");
	struct dm_error err = {{0}};
	char where[600];

	put_file(path, body, strlen(body));
	ck_assert_int_eq(read_all(path, &err), -1);
	snprintf(where, sizeof(where), "%s:%d: ", path, line);
	ck_assert_msg(!strncmp(err.msg, where, strlen(where)),
		      "message '%s' does not start with '%s'", err.msg, where);
	assert_msg_has(&err, want);
}

static void expect_bin_error(const void *data, size_t len, const char *want)
{
	const char *path = tmp("bad.bin");
	struct dm_error err = {{0}};

	put_file(path, data, len);
	ck_assert_int_eq(read_all(path, &err), -1);
	ck_assert_msg(!strncmp(err.msg, path, strlen(path)),
		      "message '%s' does not name the file", err.msg);
	assert_msg_has(&err, want);
}

static const char sample[] =
	"# comments start with '#'; blank lines are ignored\n"
	"\n"
	"dmtrace 1   # the version\n"
	"machine  profile=kvm \t vcpus=2   # options\n"
	"# time_ns  actor  op      address     size  value\n"
	"0          cpu0   pio.w   0x43        1     0x34\n"
	"5000       cpu1   pio.r   0x40        1     0xfa      # expected\n"
	"5000       cpu0   pio.r   0x40        2     ?\n"
	"\n"
	"9000       cpu0   mmio.w  0xfee000b0  4     0x0\n"
	"9000       cpu0   mmio.r  0xfed000f0  8     ?\n"
	"9000       cpu3   msr.w   0x6e0       8     0x1234567\n"
	"9000       cpu0   msr.r   0x1b        8     18446744073709551615\n"
	"9100       dev    irq     9           -     1\n"
	"9200       dev    msi     0xfee00000  4     0x4031\n"
	"9300       cpu0   intack  -           -     0x31\n"
	"9300       cpu0   intack  -           -     ?\n"
	"9400       sim    mark    -           -     before-migration#c\n"
	"9400       sim    hash    -           -     0x8f3a00000000001f\n"
	"9500       sim    hash    -           -     ?\n"
	"9600       cpu65535 pio.w 0xffff      4     0xffffffff\n";

struct want {
	uint64_t time;
	uint8_t actor;
	uint32_t cpu;
	uint8_t op;
	uint64_t addr;
	uint8_t size;
	uint8_t flags;
	uint64_t value;
	const char *label;
};

static const struct want sample_events[] = {
	{0, DM_ACTOR_CPU, 0, DM_OP_PIO_W, 0x43, 1, DM_EV_VALUE, 0x34, ""},
	{5000, DM_ACTOR_CPU, 1, DM_OP_PIO_R, 0x40, 1, DM_EV_VALUE, 0xfa, ""},
	{5000, DM_ACTOR_CPU, 0, DM_OP_PIO_R, 0x40, 2, 0, 0, ""},
	{9000, DM_ACTOR_CPU, 0, DM_OP_MMIO_W, 0xfee000b0, 4, DM_EV_VALUE, 0,
	 ""},
	{9000, DM_ACTOR_CPU, 0, DM_OP_MMIO_R, 0xfed000f0, 8, 0, 0, ""},
	{9000, DM_ACTOR_CPU, 3, DM_OP_MSR_W, 0x6e0, 8, DM_EV_VALUE, 0x1234567,
	 ""},
	{9000, DM_ACTOR_CPU, 0, DM_OP_MSR_R, 0x1b, 8, DM_EV_VALUE, UINT64_MAX,
	 ""},
	{9100, DM_ACTOR_DEV, 0, DM_OP_IRQ, 9, 0, DM_EV_VALUE, 1, ""},
	{9200, DM_ACTOR_DEV, 0, DM_OP_MSI, 0xfee00000, 4, DM_EV_VALUE, 0x4031,
	 ""},
	{9300, DM_ACTOR_CPU, 0, DM_OP_INTACK, 0, 0, DM_EV_VALUE, 0x31, ""},
	{9300, DM_ACTOR_CPU, 0, DM_OP_INTACK, 0, 0, 0, 0, ""},
	{9400, DM_ACTOR_SIM, 0, DM_OP_MARK, 0, 0, 0, 0, "before-migration"},
	{9400, DM_ACTOR_SIM, 0, DM_OP_HASH, 0, 0, DM_EV_VALUE,
	 0x8f3a00000000001fULL, ""},
	{9500, DM_ACTOR_SIM, 0, DM_OP_HASH, 0, 0, 0, 0, ""},
	{9600, DM_ACTOR_CPU, 65535, DM_OP_PIO_W, 0xffff, 4, DM_EV_VALUE,
	 0xffffffff, ""},
};

#define NSAMPLE (sizeof(sample_events) / sizeof(sample_events[0]))

/* Plain comparison for the long loops: Check records every assertion. */
static bool same_event(const struct dm_event *a, const struct dm_event *b)
{
	return a->time == b->time && a->actor == b->actor && a->cpu == b->cpu &&
	       a->op == b->op && a->addr == b->addr && a->size == b->size &&
	       a->flags == b->flags && a->value == b->value &&
	       (a->op != DM_OP_MARK || !strcmp(a->label, b->label));
}

static void assert_event(const struct dm_event *ev, const struct want *w)
{
	ck_assert_uint_eq(ev->time, w->time);
	ck_assert_uint_eq(ev->actor, w->actor);
	ck_assert_uint_eq(ev->cpu, w->cpu);
	ck_assert_uint_eq(ev->op, w->op);
	ck_assert_uint_eq(ev->addr, w->addr);
	ck_assert_uint_eq(ev->size, w->size);
	ck_assert_uint_eq(ev->flags, w->flags);
	ck_assert_uint_eq(ev->value, w->value);
	if (ev->op == DM_OP_MARK)
		ck_assert_str_eq(ev->label, w->label);
}

static void check_sample(const char *path, enum dm_trace_encoding enc)
{
	struct dm_trace_reader *r;
	struct dm_error err = {{0}};
	struct dm_event ev;

	ck_assert_msg(dm_trace_open(&r, path, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(dm_trace_encoding(r), enc);
	ck_assert_str_eq(dm_trace_config(r), "profile=kvm vcpus=2");
	for (size_t i = 0; i < NSAMPLE; i++) {
		ck_assert_msg(dm_trace_next(r, &ev, &err) == 1, "%s", err.msg);
		assert_event(&ev, &sample_events[i]);
	}
	ck_assert_int_eq(dm_trace_next(r, &ev, &err), 0);
	ck_assert_int_eq(dm_trace_next(r, &ev, &err), 0);
	dm_trace_close(r);
}

/* Copies a trace into the given encoding; returns 0 or -1 with err. */
static int convert(const char *in, const char *out, enum dm_trace_encoding enc,
		   struct dm_error *err)
{
	struct dm_trace_reader *r;
	struct dm_trace_writer *w;
	struct dm_event ev;
	int rc;

	if (dm_trace_open(&r, in, err))
		return -1;
	if (dm_trace_create(&w, out, enc, dm_trace_config(r), err)) {
		dm_trace_close(r);
		return -1;
	}
	while ((rc = dm_trace_next(r, &ev, err)) > 0)
		if (dm_trace_write(w, &ev, err)) {
			rc = -1;
			break;
		}
	dm_trace_close(r);
	if (rc) {
		dm_trace_finish(w, NULL);
		return -1;
	}
	return dm_trace_finish(w, err);
}

static void must_convert(const char *in, const char *out,
			 enum dm_trace_encoding enc)
{
	struct dm_error err = {{0}};

	ck_assert_msg(convert(in, out, enc, &err) == 0, "%s", err.msg);
}

START_TEST(parse_every_op)
{
	const char *path = tmp("sample.txt");

	put_file(path, sample, strlen(sample));
	check_sample(path, DM_TRACE_TEXT);
}
END_TEST

START_TEST(sample_through_binary)
{
	const char *txt = tmp("sample.txt"), *bin = tmp("sample.bin");
	const char *txt2 = tmp("sample2.txt");

	put_file(txt, sample, strlen(sample));
	must_convert(txt, bin, DM_TRACE_BINARY);
	check_sample(bin, DM_TRACE_BINARY);
	must_convert(bin, txt2, DM_TRACE_TEXT);
	check_sample(txt2, DM_TRACE_TEXT);
}
END_TEST

START_TEST(no_machine_line_crlf)
{
	static const char body[] = "dmtrace 0x1\r\n"
				   "# only a comment\r\n"
				   "7 cpu2 pio.r 0x61 1 0x20\r\n"
				   "7 sim mark - - -";
	const char *path = tmp("crlf.txt");
	struct dm_trace_reader *r;
	struct dm_error err = {{0}};
	struct dm_event ev;

	put_file(path, body, strlen(body));
	ck_assert_msg(dm_trace_open(&r, path, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(dm_trace_config(r), "");
	ck_assert_int_eq(dm_trace_next(r, &ev, &err), 1);
	ck_assert_uint_eq(ev.cpu, 2);
	ck_assert_uint_eq(ev.addr, 0x61);
	ck_assert_uint_eq(ev.value, 0x20);
	/* The last line has no newline; '-' is a label like any other. */
	ck_assert_int_eq(dm_trace_next(r, &ev, &err), 1);
	ck_assert_str_eq(ev.label, "-");
	ck_assert_int_eq(dm_trace_next(r, &ev, &err), 0);
	dm_trace_close(r);
}
END_TEST

START_TEST(header_only_traces)
{
	const char *path = tmp("empty.txt");
	struct dm_error err = {{0}};

	put_file(path, "dmtrace 1\n", 10);
	ck_assert_int_eq(read_all(path, &err), 0);
	put_file(path, "dmtrace 1\nmachine\n", 18);
	ck_assert_int_eq(read_all(path, &err), 0);
}
END_TEST

static void make_event(struct dm_event *ev, uint64_t time, uint8_t op,
		       uint64_t addr, uint8_t size, uint64_t value)
{
	static const uint8_t actors[DM_OP_COUNT] = {
		[DM_OP_IRQ] = DM_ACTOR_DEV,    [DM_OP_MSI] = DM_ACTOR_DEV,
		[DM_OP_THREAD] = DM_ACTOR_DEV, [DM_OP_MARK] = DM_ACTOR_SIM,
		[DM_OP_HASH] = DM_ACTOR_SIM,
	};

	memset(ev, 0, sizeof(*ev));
	ev->time = time;
	ev->op = op;
	ev->actor = actors[op];
	ev->addr = addr;
	ev->size = size;
	ev->value = value;
	ev->flags = op == DM_OP_MARK ? 0 : DM_EV_VALUE;
}

static void expect_format(const struct dm_event *ev, const char *want)
{
	char buf[512];

	ck_assert_int_eq(dm_event_format(ev, buf, sizeof(buf)),
			 (int)strlen(want));
	ck_assert_str_eq(buf, want);
}

START_TEST(canonical_format)
{
	struct dm_event ev;
	char small[8];

	make_event(&ev, 0, DM_OP_PIO_W, 0x43, 1, 0x34);
	expect_format(&ev, "0           cpu0  pio.w  0x43       1    0x34");
	make_event(&ev, 123456789012345ULL, DM_OP_MMIO_R, 0xfee000b0, 4, 0);
	ev.cpu = 12;
	ev.flags = 0;
	expect_format(&ev, "123456789012345 cpu12 mmio.r 0xfee000b0 4    ?");
	make_event(&ev, 5, DM_OP_MMIO_W, UINT64_MAX, 8, UINT64_MAX);
	expect_format(&ev, "5           cpu0  mmio.w 0xffffffffffffffff 8    "
			   "0xffffffffffffffff");
	make_event(&ev, 9100, DM_OP_IRQ, 9, 0, 1);
	expect_format(&ev, "9100        dev   irq    9          -    0x1");
	make_event(&ev, 9200, DM_OP_MSI, 0xfee00000, 4, 0x4031);
	expect_format(&ev, "9200        dev   msi    0xfee00000 4    0x4031");
	make_event(&ev, 9300, DM_OP_INTACK, 0, 0, 0x31);
	ev.cpu = 65535;
	expect_format(&ev, "9300        cpu65535 intack -          -    0x31");
	make_event(&ev, 9400, DM_OP_MARK, 0, 0, 0);
	strcpy(ev.label, "before-migration");
	expect_format(&ev, "9400        sim   mark   -          -    "
			   "before-migration");
	make_event(&ev, 9400, DM_OP_HASH, 0, 0, 0x8f3a);
	expect_format(&ev, "9400        sim   hash   -          -    0x8f3a");
	ev.flags = 0;
	expect_format(&ev, "9400        sim   hash   -          -    ?");
	make_event(&ev, 1, DM_OP_MSR_W, 0x6e0, 8, 0);
	expect_format(&ev, "1           cpu0  msr.w  0x6e0      8    0x0");

	/* Like snprintf: the full length, a truncated NUL-terminated copy. */
	ck_assert_int_eq(dm_event_format(&ev, small, sizeof(small)), 44);
	ck_assert_str_eq(small, "1      ");
	ev.op = DM_OP_COUNT;
	ck_assert_int_eq(dm_event_format(&ev, small, sizeof(small)), -1);
	ck_assert_str_eq(small, "");
	ck_assert_str_eq(dm_op_name(DM_OP_INTACK), "intack");
}
END_TEST

START_TEST(text_writer_output)
{
	static const char want[] =
		"dmtrace 1\n"
		"machine profile=qemu pit_hz=1193181\n"
		"# time_ns   actor op     address    size value\n"
		"10          cpu0  pio.r  0x61       1    0x20\n"
		"20          sim   mark   -          -    a:b/c+d_e.f\n";
	const char *path = tmp("out.txt");
	struct dm_trace_writer *w;
	struct dm_error err = {{0}};
	struct dm_event ev;
	uint8_t *got;
	size_t len;

	ck_assert_int_eq(dm_trace_create(&w, path, DM_TRACE_TEXT,
					 "  profile=qemu\tpit_hz=1193181 \n",
					 &err),
			 0);
	make_event(&ev, 10, DM_OP_PIO_R, 0x61, 1, 0x20);
	ck_assert_int_eq(dm_trace_write(w, &ev, &err), 0);
	make_event(&ev, 20, DM_OP_MARK, 0, 0, 0);
	strcpy(ev.label, "a:b/c+d_e.f");
	ck_assert_int_eq(dm_trace_write(w, &ev, &err), 0);
	ck_assert_int_eq(dm_trace_finish(w, &err), 0);
	got = get_file(path, &len);
	ck_assert_str_eq((char *)got, want);
	free(got);
}
END_TEST

/* splitmix64: a fixed-seed source for the random traces. */
static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd_sized(uint64_t *s)
{
	/* Spread over varint lengths: 1 to 10 bytes. */
	return rnd(s) >> (rnd(s) % 64);
}

static void random_event(uint64_t *s, struct dm_event *ev, uint64_t *time)
{
	static const uint8_t sizes124[] = {1, 2, 4}, sizes1248[] = {1, 2, 4, 8};
	static const char chars[] = "ABCXYZabcxyz0189_.:/+-";
	uint8_t op = (uint8_t)(rnd(s) % DM_OP_COUNT);
	uint64_t r = rnd(s);
	bool optional;

	*time += r % 4 == 0 ? 0 : rnd_sized(s) >> 20;
	make_event(ev, *time, op, 0, 0, 0);
	if (ev->actor == DM_ACTOR_CPU)
		ev->cpu = (uint32_t)(rnd(s) % 5 ? rnd(s) % 4 : rnd(s) % 65536);
	switch (op) {
	case DM_OP_PIO_R:
	case DM_OP_PIO_W:
		ev->addr = rnd(s) & 0xffff;
		ev->size = sizes124[rnd(s) % 3];
		break;
	case DM_OP_MMIO_R:
	case DM_OP_MMIO_W:
		ev->addr = rnd_sized(s);
		ev->size = sizes1248[rnd(s) % 4];
		break;
	case DM_OP_MSR_R:
	case DM_OP_MSR_W:
		ev->addr = rnd(s) & 0xffffffff;
		ev->size = 8;
		break;
	case DM_OP_IRQ:
		ev->addr = rnd_sized(s) & 0xffffffff;
		break;
	case DM_OP_THREAD:
		ev->addr = rnd(s) & 1;
		break;
	case DM_OP_MSI:
		ev->addr = rnd_sized(s);
		ev->size = 4;
		break;
	case DM_OP_MARK: {
		size_t n = 1 + rnd(s) % DM_LABEL_MAX;

		for (size_t i = 0; i < n; i++)
			ev->label[i] = chars[rnd(s) % (sizeof(chars) - 1)];
		ev->label[n] = '\0';
		return;
	}
	default:
		break;
	}
	ev->value = rnd_sized(s);
	if (op == DM_OP_IRQ || op == DM_OP_THREAD)
		ev->value &= 1;
	else if (op == DM_OP_INTACK || dm_op_is_signal(op))
		ev->value &= 0xff;
	else if (ev->size && ev->size < 8)
		ev->value &= (1ULL << (8 * ev->size)) - 1;
	/* Writes, irq and msi always carry a value; the others may not. */
	optional = dm_op_is_read(op) || op == DM_OP_INTACK ||
		   op == DM_OP_HASH || dm_op_is_signal(op);
	if (optional && rnd(s) % 3 == 0) {
		ev->flags = 0;
		ev->value = 0;
	}
}

#define NRANDOM 100000
#define SEED 0x5eed

static void write_random(const char *path, enum dm_trace_encoding enc, long n)
{
	struct dm_trace_writer *w;
	struct dm_error err = {{0}};
	struct dm_event ev;
	uint64_t s = SEED, t = 0;
	int rc = 0;

	ck_assert_msg(dm_trace_create(&w, path, enc, "profile=kvm vcpus=4",
				      &err) == 0,
		      "%s", err.msg);
	for (long i = 0; i < n && rc == 0; i++) {
		random_event(&s, &ev, &t);
		rc = dm_trace_write(w, &ev, &err);
	}
	ck_assert_msg(rc == 0, "%s", err.msg);
	ck_assert_msg(dm_trace_finish(w, &err) == 0, "%s", err.msg);
}

/* The events read back are the generated ones, field by field. */
static void check_random(const char *path, long n)
{
	struct dm_trace_reader *r;
	struct dm_error err = {{0}};
	struct dm_event ev, want;
	uint64_t s = SEED, t = 0;
	int rc = 1;
	long i;

	ck_assert_msg(dm_trace_open(&r, path, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(dm_trace_config(r), "profile=kvm vcpus=4");
	for (i = 0; i < n; i++) {
		random_event(&s, &want, &t);
		rc = dm_trace_next(r, &ev, &err);
		if (rc != 1 || !same_event(&ev, &want))
			break;
	}
	ck_assert_msg(rc == 1, "event %ld: %s", i, err.msg);
	ck_assert_msg(i == n, "event %ld differs", i);
	ck_assert_int_eq(dm_trace_next(r, &ev, &err), 0);
	dm_trace_close(r);
}

static void assert_same_file(const char *a, const char *b)
{
	size_t la, lb;
	uint8_t *x = get_file(a, &la), *y = get_file(b, &lb);

	ck_assert_uint_eq(la, lb);
	ck_assert_msg(!memcmp(x, y, la), "%s and %s differ", a, b);
	free(x);
	free(y);
}

START_TEST(random_binary_text_binary)
{
	const char *a = tmp("r.bin"), *t = tmp("r.txt"), *b = tmp("r2.bin");
	size_t len;
	uint8_t *data;

	write_random(a, DM_TRACE_BINARY, NRANDOM);
	check_random(a, NRANDOM);
	must_convert(a, t, DM_TRACE_TEXT);
	check_random(t, NRANDOM);
	must_convert(t, b, DM_TRACE_BINARY);
	assert_same_file(a, b);
	/* 100000 events: 24 full chunks and a short one. */
	data = get_file(a, &len);
	ck_assert_uint_gt(len, 25 * 16);
	free(data);
}
END_TEST

START_TEST(random_text_binary_text)
{
	const char *t = tmp("r.txt"), *b = tmp("r.bin"), *t2 = tmp("r2.txt");

	write_random(t, DM_TRACE_TEXT, NRANDOM);
	must_convert(t, b, DM_TRACE_BINARY);
	must_convert(b, t2, DM_TRACE_TEXT);
	assert_same_file(t, t2);
	check_random(t2, NRANDOM);
}
END_TEST

/* Exactly 4096 events: one full chunk, then the end chunk. */
START_TEST(full_chunk_boundary)
{
	const char *a = tmp("f.bin"), *t = tmp("f.txt"), *b = tmp("f2.bin");

	write_random(a, DM_TRACE_BINARY, 4096);
	check_random(a, 4096);
	must_convert(a, t, DM_TRACE_TEXT);
	must_convert(t, b, DM_TRACE_BINARY);
	assert_same_file(a, b);
}
END_TEST

START_TEST(text_errors)
{
	expect_text_error("dmtrace 1\n0 cpu0 pio.x 0x40 1 0\n", 2,
			  "unknown op 'pio.x'");
	expect_text_error("dmtrace 1\n\n# c\n0 cpu0 pio.w 0x4g 1 0\n", 4,
			  "bad number '0x4g' in address column");
	expect_text_error("dmtrace 1\n0 cpu0 pio.w 0x40 1 1z\n", 2,
			  "bad number '1z' in value column");
	expect_text_error("dmtrace 1\n0 cpu0 mmio.w 0x10000000000000000 8 0\n",
			  2, "address '0x10000000000000000' overflows 64 bits");
	expect_text_error("dmtrace 1\n0 sim hash - - 18446744073709551616\n", 2,
			  "value '18446744073709551616' overflows 64 bits");
	expect_text_error("dmtrace 1\n18446744073709551616 sim hash - - ?\n", 2,
			  "time '18446744073709551616' overflows");
	expect_text_error("dmtrace 1\n0 cpu0 pio.w 0x40 1\n", 2,
			  "missing value column");
	expect_text_error("dmtrace 1\n0 cpu0 pio.w   # 0x40 1 0\n", 2,
			  "missing address column");
	expect_text_error("dmtrace 1\n0\n", 2, "missing actor column");
	expect_text_error("dmtrace 1\n0 cpu0 pio.w 0x40 1 0 0\n", 2,
			  "extra column '0'");
	expect_text_error("dmtrace 1\n0 sim mark - - two words\n", 2,
			  "extra column 'words'");
	expect_text_error("dmtrace 1\n0 cpu0 pio.r 0x40 1 ? gp\n", 2,
			  "only msr.r and msr.w can take a #GP, not pio.r");
	expect_text_error("dmtrace 1\n0 cpu0 msr.r 0x830 8 0x5 gp\n", 2,
			  "a read that takes a #GP reads no value");
	expect_text_error("dmtrace 1\n0 cpu0 msr.w 0x80b 8 0x1 gp gp\n", 2,
			  "extra column 'gp'");
	expect_text_error("dmtrace 1\n10 dev irq 1 - 1\n9 dev irq 1 - 0\n", 3,
			  "time 9 goes backwards (previous event at 10)");
	expect_text_error("dmtrace 1\n0x10 dev irq 1 - 1\n", 2,
			  "bad time '0x10'");
	expect_text_error("dmtrace 1\n0 dev pio.w 0x40 1 0\n", 2,
			  "op pio.w needs actor cpuN, got 'dev'");
	expect_text_error("dmtrace 1\n0 cpu0 irq 4 - 1\n", 2,
			  "op irq needs actor dev, got 'cpu0'");
	expect_text_error("dmtrace 1\n0 dev mark - - x\n", 2,
			  "op mark needs actor sim, got 'dev'");
	expect_text_error("dmtrace 1\n0 cpu pio.w 0x40 1 0\n", 2,
			  "bad actor 'cpu'");
	expect_text_error("dmtrace 1\n0 cpu65536 pio.w 0x40 1 0\n", 2,
			  "cpu number in 'cpu65536' out of range (max 65535)");
	expect_text_error("dmtrace 1\n0 cpu0 pio.w 0x40 1 0x100\n", 2,
			  "value '0x100' too big for size 1 (max 0xff)");
	expect_text_error("dmtrace 1\n0 cpu0 mmio.w 0 4 0x100000000\n", 2,
			  "value '0x100000000' too big for size 4");
	expect_text_error("dmtrace 1\n0 dev msi 0xfee00000 4 0x100000000\n", 2,
			  "data '0x100000000' too big for size 4");
	expect_text_error("dmtrace 1\n0 cpu0 pio.r 0x10000 1 ?\n", 2,
			  "port '0x10000' out of range (max 0xffff)");
	expect_text_error("dmtrace 1\n0 cpu0 msr.r 0x100000000 8 ?\n", 2,
			  "MSR '0x100000000' out of range");
	expect_text_error("dmtrace 1\n0 cpu0 pio.r 0x40 3 ?\n", 2,
			  "size '3' invalid for pio.r (allowed: 1,2,4)");
	expect_text_error("dmtrace 1\n0 cpu0 pio.r 0x40 8 ?\n", 2,
			  "size '8' invalid for pio.r");
	expect_text_error("dmtrace 1\n0 cpu0 msr.w 0x10 4 0\n", 2,
			  "size '4' invalid for msr.w (allowed: 8)");
	expect_text_error("dmtrace 1\n0 cpu0 mmio.r 0x10 - ?\n", 2,
			  "size '-' invalid for mmio.r");
	expect_text_error("dmtrace 1\n0 dev irq 9 1 1\n", 2,
			  "op irq takes no size, got '1'");
	expect_text_error("dmtrace 1\n0 cpu0 intack 0x30 - 0x30\n", 2,
			  "op intack takes no address, got '0x30'");
	expect_text_error("dmtrace 1\n0 cpu0 pio.r - 1 ?\n", 2,
			  "op pio.r needs a port, got '-'");
	expect_text_error("dmtrace 1\n0 cpu0 pio.w 0x40 1 ?\n", 2,
			  "pio.w needs a value, got '?'");
	expect_text_error("dmtrace 1\n0 dev irq 9 - ?\n", 2,
			  "irq needs a level, got '?'");
	expect_text_error("dmtrace 1\n0 dev irq 9 - 2\n", 2,
			  "level '2' out of range (max 0x1)");
	expect_text_error("dmtrace 1\n0 cpu0 intack - - 256\n", 2,
			  "vector '256' out of range (max 0xff)");
	expect_text_error("dmtrace 1\n0 dev irq 0x100000000 - 1\n", 2,
			  "GSI '0x100000000' out of range");
	expect_text_error("dmtrace 1\n0 sim mark - - a*b\n", 2,
			  "mark label 'a*b': invalid character 0x2a");
	expect_text_error("dmtrace 1\n0 cpu0 pio.w 0x40 1\0010\n", 2,
			  "invalid control character 0x01 at character 20");
}
END_TEST

START_TEST(label_length)
{
	char body[400];
	char label[DM_LABEL_MAX + 2];
	const char *path = tmp("label.txt");
	struct dm_error err = {{0}};

	memset(label, 'x', DM_LABEL_MAX);
	label[DM_LABEL_MAX] = '\0';
	snprintf(body, sizeof(body), "dmtrace 1\n0 sim mark - - %s\n", label);
	put_file(path, body, strlen(body));
	ck_assert_int_eq(read_all(path, &err), 1);
	strcat(label, "y");
	snprintf(body, sizeof(body), "dmtrace 1\n0 sim mark - - %s\n", label);
	expect_text_error(body, 2, "mark label of 256 characters (max 255)");
}
END_TEST

START_TEST(header_errors)
{
	expect_text_error("# nothing\n0 cpu0 pio.w 0x40 1 0\n", 2,
			  "expected 'dmtrace 1' header, got '0'");
	expect_text_error("machine profile=kvm\ndmtrace 1\n", 1,
			  "expected 'dmtrace 1' header, got 'machine'");
	expect_text_error("", 1, "missing 'dmtrace 1' header");
	expect_text_error("# a\n\n", 2, "missing 'dmtrace 1' header");
	expect_text_error("dmtrace 2\n", 1, "unsupported trace version 2");
	expect_text_error("dmtrace\n", 1, "missing version after 'dmtrace'");
	expect_text_error("dmtrace one\n", 1, "bad trace version 'one'");
	expect_text_error("dmtrace 1 x\n", 1, "extra column 'x' in header");
	expect_text_error("dmtrace 1\n0 sim mark - - a\nmachine vcpus=2\n", 3,
			  "machine line after events");
	expect_text_error("dmtrace 1\nmachine a=1\nmachine b=2\n", 3,
			  "duplicate machine line");
	expect_text_error("dmtrace 1\n0 sim mark - - a\ndmtrace 1\n", 3,
			  "duplicate 'dmtrace' header");
	expect_text_error("dmtrace 1\nmachine caf\xc3\xa9=1\n", 2,
			  "invalid character 0xc3 in machine options");
}
END_TEST

START_TEST(error_is_sticky)
{
	const char *path = tmp("sticky.txt");
	static const char body[] =
		"dmtrace 1\n0 cpu0 bogus 0 1 0\n1 sim mark - - fine\n";
	struct dm_trace_reader *r;
	struct dm_error err = {{0}};
	struct dm_event ev;

	put_file(path, body, strlen(body));
	ck_assert_int_eq(dm_trace_open(&r, path, &err), 0);
	ck_assert_int_eq(dm_trace_next(r, &ev, &err), -1);
	ck_assert_int_eq(dm_trace_next(r, &ev, &err), -1);
	assert_msg_has(&err, "stopped at an earlier error");
	dm_trace_close(r);
}
END_TEST

START_TEST(missing_file)
{
	struct dm_trace_reader *r;
	struct dm_error err = {{0}};

	ck_assert_int_eq(dm_trace_open(&r, tmp("nope"), &err), -1);
	ck_assert_ptr_null(r);
	assert_msg_has(&err, "nope: No such file or directory");
}
END_TEST

/* A small binary trace: header with options, one chunk, end chunk. */
static uint8_t *small_binary(size_t *len)
{
	const char *txt = tmp("small.txt"), *bin = tmp("small.bin");

	put_file(txt, sample, strlen(sample));
	must_convert(txt, bin, DM_TRACE_BINARY);
	return get_file(bin, len);
}

START_TEST(every_truncation_fails)
{
	size_t len;
	uint8_t *data = small_binary(&len);
	const char *path = tmp("cut.bin");
	struct dm_error err = {{0}};

	for (size_t n = 0; n < len; n++) {
		put_file(path, data, n);
		if (read_all(path, &err) != -1 ||
		    (n > 0 && !strstr(err.msg, "truncated")))
			ck_abort_msg("prefix of %zu bytes: '%s'", n, err.msg);
	}
	put_file(path, data, len);
	ck_assert_int_eq(read_all(path, &err), (long)NSAMPLE);
	free(data);
}
END_TEST

START_TEST(every_byte_flip_fails)
{
	size_t len;
	uint8_t *data = small_binary(&len);
	const char *path = tmp("flip.bin");
	struct dm_error err = {{0}};

	for (size_t i = 0; i < len; i++)
		for (unsigned int bit = 0; bit < 8; bit++) {
			data[i] ^= (uint8_t)(1u << bit);
			put_file(path, data, len);
			if (read_all(path, &err) != -1)
				ck_abort_msg("flipping bit %u of byte %zu went "
					     "unnoticed",
					     bit, i);
			data[i] ^= (uint8_t)(1u << bit);
		}
	free(data);
}
END_TEST

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

START_TEST(flipped_byte_in_each_chunk)
{
	const char *a = tmp("r.bin");
	size_t len, off;
	uint8_t *data;
	int chunk = 0;
	char want[128];

	write_random(a, DM_TRACE_BINARY, NRANDOM);
	data = get_file(a, &len);
	off = 16 + le32(data + 12) + 8;
	for (;;) {
		uint32_t plen = le32(data + off), count = le32(data + off + 4);

		if (!count)
			break;
		data[off + 16 + plen / 2] ^= 0x20;
		snprintf(want, sizeof(want),
			 ": byte %zu: chunk checksum mismatch (chunk %d)", off,
			 chunk);
		expect_bin_error(data, len, want);
		data[off + 16 + plen / 2] ^= 0x20;
		off += 16 + plen;
		chunk++;
	}
	ck_assert_int_eq(chunk, (NRANDOM + 4095) / 4096);
	ck_assert_uint_eq(off + 16, len);
	free(data);
}
END_TEST

START_TEST(binary_header_errors)
{
	size_t len;
	uint8_t *data = small_binary(&len);

	data[3] = 'X';
	expect_bin_error(data, len, ": byte 3: bad magic");
	data[3] = 'R';
	data[8] = 7;
	expect_bin_error(data, len, ": unsupported binary trace version 7");
	data[8] = 1;
	data[17] ^= 1;
	expect_bin_error(data, len, "header checksum mismatch");
	data[17] ^= 1;
	expect_bin_error("DMTR", 4, ": byte 4: truncated header");
	expect_bin_error("\x7f"
			 "ELF",
			 4, ": byte 0: bad magic");
	free(data);
}
END_TEST

/* Builds a binary trace of one chunk with the given payload. */
static size_t build_bin(uint8_t *out, const void *payload, uint32_t plen,
			uint32_t count, bool end)
{
	uint8_t *p = out;
	uint64_t h;

	memcpy(p, "DMTRACE\0\1\0\0\0\0\0\0\0", 16);
	h = XXH3_64bits(out, 16);
	for (int i = 0; i < 8; i++)
		p[16 + i] = (uint8_t)(h >> (8 * i));
	p += 24;
	for (int i = 0; i < 4; i++) {
		p[i] = (uint8_t)(plen >> (8 * i));
		p[4 + i] = (uint8_t)(count >> (8 * i));
	}
	h = XXH3_64bits(payload, plen);
	for (int i = 0; i < 8; i++)
		p[8 + i] = (uint8_t)(h >> (8 * i));
	memcpy(p + 16, payload, plen);
	p += 16 + plen;
	if (end) {
		memset(p, 0, 8);
		h = XXH3_64bits(payload, 0);
		for (int i = 0; i < 8; i++)
			p[8 + i] = (uint8_t)(h >> (8 * i));
		p += 16;
	}
	return (size_t)(p - out);
}

/* The payload of a one-chunk file starts at byte 40. */
static void expect_payload_error(const char *payload, uint32_t plen,
				 uint32_t count, const char *want)
{
	uint8_t buf[512];

	expect_bin_error(buf, build_bin(buf, payload, plen, count, true), want);
}

START_TEST(binary_event_errors)
{
	uint8_t buf[512];
	size_t n;

	/* time 5, pio.w cpu 0 port 0x40 size 1 value 0x12: valid. */
	n = build_bin(buf, "\x05\x41\x00\x40\x01\x12", 6, 1, true);
	put_file(tmp("ok.bin"), buf, n);
	ck_assert_int_eq(read_all(tmp("ok.bin"), NULL), 1);

	/* Op code 15 is dev thread: the thread (0 or 1) and the level. */
	n = build_bin(buf, "\x05\x5f\x00\x01", 4, 1, true);
	put_file(tmp("ok.bin"), buf, n);
	ck_assert_int_eq(read_all(tmp("ok.bin"), NULL), 1);
	expect_payload_error("\x05\x5f\x02\x01", 4, 1,
			     ": byte 40: chunk 0 event 0: thread 0x2 out of "
			     "range (max 0x1)");
	expect_payload_error("\x05\x4f", 2, 1,
			     ": byte 41: chunk 0 event 0: op thread needs "
			     "actor dev, got cpuN");
	/* Bit 7 of the op byte is the #GP flag: an msr.r or msr.w only. */
	expect_payload_error("\x05\xc1\x00\x40\x01\x12", 6, 1,
			     ": byte 40: chunk 0 event 0: only msr.r and msr.w "
			     "can take a #GP, not pio.w");
	expect_payload_error("\x05\xc4\x00\x80\x10\x08\x05", 7, 1,
			     ": byte 40: chunk 0 event 0: a read that takes a "
			     "#GP reads no value");
	expect_payload_error("\x05\x51\x00\x40\x01\x12", 6, 1,
			     "op pio.w needs actor cpuN, got dev");
	expect_payload_error("\x05\x01\x00\x40\x01", 5, 1,
			     "pio.w needs a value, got none");
	expect_payload_error("\x05\x41\x00\x40\x01\x80\x02", 7, 1,
			     ": byte 40: chunk 0 event 0: value 0x100 too big "
			     "for size 1");
	expect_payload_error("\x05\x41\x00\x40\x03\x12", 6, 1,
			     "size 3 invalid for pio.w");
	expect_payload_error("\x05\x41\x80\x80\x04\x40\x01\x12", 8, 1,
			     ": byte 42: chunk 0 event 0: cpu number 65536 out "
			     "of range");
	expect_payload_error("\x85\x00\x41\x00\x40\x01\x12", 7, 1,
			     ": byte 40: chunk 0 event 0: bad time delta "
			     "varint");
	expect_payload_error("\x05\x41\x00\xc0\x80\x04\x01\x12", 8, 1,
			     "port 0x10040 out of range");
	expect_payload_error("\x05\x29\x03"
			     "a*b",
			     6, 1,
			     ": byte 44: chunk 0 event 0: invalid character "
			     "0x2a");
	expect_payload_error("\x05\x29\x00", 3, 1, "mark label length 0");
	expect_payload_error("\x05\x29\x05"
			     "ab",
			     5, 1, "mark label of 5 bytes runs past the chunk");
	expect_payload_error("\x05\x69\x01\x61", 4, 1,
			     ": byte 41: chunk 0 event 0: a mark carries no "
			     "value flag");
	expect_payload_error("\x05\x41\x00\xc0\x00\x01\x12", 7, 1,
			     ": byte 43: chunk 0 event 0: bad address varint "
			     "(over 64 bits or not minimal)");
	expect_payload_error("\x05\x41\x00\xc0", 4, 1,
			     ": byte 40: chunk 0 event 0: event runs past the "
			     "end of its chunk");
	expect_payload_error("\x05\x41\x00\x40", 4, 1,
			     ": byte 40: chunk 0 event 0: event runs past the "
			     "end of its chunk");
	/* 0x2a: a hash without a value, the shortest event. */
	expect_payload_error("\x05\x2a", 2, 2,
			     ": byte 42: chunk 0 ends after 1 of its 2 events");
	expect_payload_error("\x05\x2a\x05\x2a", 4, 1,
			     ": byte 42: chunk 0: 2 bytes after its 1 events");
	expect_payload_error("\x05\x2a", 2, 4097,
			     "chunk 0 claims 4097 events (max 4096)");
	expect_payload_error("\x05\x2a", 2, 0, "holds no events but 2");

	/* Valid chunk, then something where the end chunk belongs. */
	n = build_bin(buf, "\x05\x2a", 2, 1, true);
	buf[n++] = 0;
	expect_bin_error(buf, n, ": byte 58: garbage after the end chunk");
	n = build_bin(buf, "\x05\x2a", 2, 1, false);
	memcpy(buf + n, buf + 24, 18);
	n += 18;
	expect_bin_error(buf, n,
			 ": byte 42: chunk 1 follows a chunk of fewer than "
			 "4096 events");
	n = build_bin(buf, "\x05\x2a", 2, 1, false);
	expect_bin_error(buf, n,
			 ": byte 42: truncated: the end chunk is "
			 "missing");
}
END_TEST

START_TEST(writer_rejects_bad_events)
{
	const char *path = tmp("w.bin");
	struct dm_trace_writer *w;
	struct dm_error err = {{0}};
	struct dm_event ev;

	ck_assert_int_eq(dm_trace_create(&w, path, DM_TRACE_BINARY, "", &err),
			 0);
	make_event(&ev, 100, DM_OP_PIO_W, 0x40, 2, 0x10000);
	ck_assert_int_eq(dm_trace_write(w, &ev, &err), -1);
	assert_msg_has(&err, "event 0: value 0x10000 too big for size 2");
	ev.value = 1;
	ck_assert_int_eq(dm_trace_write(w, &ev, &err), 0);
	ev.time = 99;
	ck_assert_int_eq(dm_trace_write(w, &ev, &err), -1);
	assert_msg_has(&err, "event 1: time 99 goes backwards");
	make_event(&ev, 100, DM_OP_MARK, 0, 0, 0);
	strcpy(ev.label, "no spaces");
	ck_assert_int_eq(dm_trace_write(w, &ev, &err), -1);
	assert_msg_has(&err, "invalid character 0x20");
	ev.label[0] = '\0';
	ck_assert_int_eq(dm_trace_write(w, &ev, &err), -1);
	assert_msg_has(&err, "empty mark label");
	ev.op = DM_OP_COUNT;
	ck_assert_int_eq(dm_trace_write(w, &ev, &err), -1);
	assert_msg_has(&err, "unknown op code 16");
	ck_assert_int_eq(dm_trace_finish(w, &err), 0);
	ck_assert_int_eq(read_all(path, &err), 1);

	ck_assert_int_eq(
		dm_trace_create(&w, path, DM_TRACE_TEXT, "a=1 #x", &err), -1);
	assert_msg_has(&err, "machine options: invalid character 0x23");
}
END_TEST

START_TEST(write_error_reported)
{
	struct dm_trace_writer *w;
	struct dm_error err = {{0}};
	struct dm_event ev;
	int rc = 0;

	ck_assert_int_eq(
		dm_trace_create(&w, "/dev/full", DM_TRACE_BINARY, "", &err), 0);
	make_event(&ev, 0, DM_OP_HASH, 0, 0, 0);
	for (int i = 0; i < 100000 && !rc; i++)
		rc = dm_trace_write(w, &ev, &err);
	if (!rc)
		rc = dm_trace_finish(w, &err);
	else
		dm_trace_finish(w, NULL);
	ck_assert_int_eq(rc, -1);
	assert_msg_has(&err, "/dev/full: write error: No space left on device");

	ck_assert_int_eq(
		dm_trace_create(&w, "/dev/full", DM_TRACE_TEXT, "", &err), 0);
	ck_assert_int_eq(dm_trace_finish(w, &err), -1);
	assert_msg_has(&err, "No space left on device");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("trace");
	TCase *tc = tcase_create("codecs");

	tcase_add_unchecked_fixture(tc, make_tmpdir, remove_tmpdir);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, parse_every_op);
	tcase_add_test(tc, sample_through_binary);
	tcase_add_test(tc, no_machine_line_crlf);
	tcase_add_test(tc, header_only_traces);
	tcase_add_test(tc, canonical_format);
	tcase_add_test(tc, text_writer_output);
	tcase_add_test(tc, random_binary_text_binary);
	tcase_add_test(tc, random_text_binary_text);
	tcase_add_test(tc, full_chunk_boundary);
	tcase_add_test(tc, text_errors);
	tcase_add_test(tc, label_length);
	tcase_add_test(tc, header_errors);
	tcase_add_test(tc, error_is_sticky);
	tcase_add_test(tc, missing_file);
	tcase_add_test(tc, every_truncation_fails);
	tcase_add_test(tc, every_byte_flip_fails);
	tcase_add_test(tc, flipped_byte_in_each_chunk);
	tcase_add_test(tc, binary_header_errors);
	tcase_add_test(tc, binary_event_errors);
	tcase_add_test(tc, writer_rejects_bad_events);
	tcase_add_test(tc, write_error_reported);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return dm_test_main(suite());
}
