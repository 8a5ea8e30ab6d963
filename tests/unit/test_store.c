// SPDX-License-Identifier: MIT
/*
 * The SQLite checkpoint store (replay/store.c, docs/database.md) and the
 * layout walker it builds on (dm_state_layout).  Field values read back
 * through the plain-SQL view are compared with dm_state_walk of the live
 * machine; the datasheet values are those worked out by hand in
 * tests/traces/pit_datasheet.txt (82C54 at 1 MHz: CLK edge k at k us).
 */
#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "replay/migrate.h"
#include "replay/replay.h"
#include "replay/store.h"
#include "sim/timer.h"
#include "testutil.h"

#define PIT_TRACE "pit_datasheet.txt"
#define PIT_EVENTS 33
#define PIT_MARK_EVENT 16 /* "after-reload" */

static char dir[64];
static char db[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(db, sizeof(db), "%s/ck.db", dir);
}

static void teardown(void)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* ---- helpers ---------------------------------------------------------- */

/* A second connection, as the sqlite3 shell would have. */
static sqlite3 *peek_flags(int flags)
{
	sqlite3 *c;

	ck_assert_int_eq(sqlite3_open_v2(db, &c, flags, NULL), SQLITE_OK);
	return c;
}

static sqlite3 *peek(void)
{
	return peek_flags(SQLITE_OPEN_READWRITE);
}

static int64_t sql_int(sqlite3 *c, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v;

	ck_assert_msg(sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK,
		      "%s: %s", sql, sqlite3_errmsg(c));
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void sql_text(sqlite3 *c, const char *sql, char *out, size_t cap)
{
	sqlite3_stmt *st;

	ck_assert_msg(sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK,
		      "%s: %s", sql, sqlite3_errmsg(c));
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
}

static void sql_exec(sqlite3 *c, const char *sql)
{
	ck_assert_msg(sqlite3_exec(c, sql, NULL, NULL, NULL) == SQLITE_OK,
		      "%s: %s", sql, sqlite3_errmsg(c));
}

static struct dm_store *open_store(bool write)
{
	struct dm_store *s;
	struct dm_error err = {""};

	ck_assert_msg(dm_store_open(&s, db, write, &err) == 0, "%s", err.msg);
	return s;
}

static void close_store(struct dm_store *s)
{
	struct dm_error err = {""};

	ck_assert_msg(dm_store_close(s, &err) == 0, "%s", err.msg);
}

/* A trace's events and its machine, stepped by hand. */
struct player {
	struct dm_trace_reader *r;
	struct dm_machine *m;
	uint64_t events;
};

static void play_open(struct player *p, const char *name)
{
	struct dm_config cfg;
	struct dm_error err = {""};

	*p = (struct player){0};
	ck_assert_int_eq(dm_trace_open(&p->r, dm_test_trace_path(name), &err),
			 0);
	ck_assert_msg(dm_replay_config(p->r, NULL, &cfg, &err) == 0, "%s",
		      err.msg);
	ck_assert_int_eq(dm_machine_create(&p->m, &cfg, &err), 0);
}

/* Applies the next event; returns 0 at the end. */
static int play_step(struct player *p, struct dm_event *ev,
		     struct dm_outcome *o)
{
	struct dm_error err = {""};
	int more = dm_trace_next(p->r, ev, &err);

	ck_assert_int_ge(more, 0);
	if (!more)
		return 0;
	ck_assert_msg(dm_replay_step(p->m, ev, o, &err) == 0, "%s", err.msg);
	p->events++;
	return 1;
}

static void play_close(struct player *p)
{
	dm_trace_close(p->r);
	dm_machine_destroy(p->m);
}

static int64_t begin(struct dm_store *s, const struct dm_machine *m)
{
	struct dm_error err = {""};
	int64_t run;

	ck_assert_msg(dm_store_begin_run(s, "replay",
					 dm_test_trace_path(PIT_TRACE), m, &run,
					 &err) == 0,
		      "%s", err.msg);
	return run;
}

static uint64_t checkpoint(struct dm_store *s, const struct dm_machine *m,
			   uint64_t event, const char *label)
{
	struct dm_error err = {""};
	uint64_t seq;

	ck_assert_msg(dm_store_checkpoint(s, m, event, label, &seq, &err) == 0,
		      "%s", err.msg);
	return seq;
}

/* Replays the PIT trace with a checkpoint after every event. */
static int64_t record_pit_run(uint64_t *hashes)
{
	struct dm_store *s = open_store(true);
	struct player p;
	struct dm_event ev;
	struct dm_outcome o;
	struct dm_error err = {""};
	int64_t run;

	play_open(&p, PIT_TRACE);
	run = begin(s, p.m);
	while (play_step(&p, &ev, &o)) {
		ck_assert(!o.mismatch);
		ck_assert_uint_eq(checkpoint(s, p.m, p.events - 1, NULL),
				  p.events);
		if (hashes)
			hashes[p.events] = dm_machine_hash(p.m);
	}
	ck_assert_int_eq(dm_store_end_run(s, "passed", p.events, &err), 0);
	close_store(s);
	play_close(&p);
	return run;
}

/* ---- the layout walker ----------------------------------------------- */

struct leaves {
	char path[1024][64];
	uint64_t value[1024];
	size_t offset[1024];
	size_t size[1024];
	size_t state_offset[1024];
	uint8_t type[1024];
	size_t n;
};

static int collect_walk(const struct dm_leaf *leaf, void *ctx)
{
	struct leaves *l = ctx;

	ck_assert_uint_lt(l->n, 1024);
	snprintf(l->path[l->n], sizeof(l->path[0]), "%s", leaf->path);
	l->value[l->n++] = leaf->value;
	return 0;
}

static int collect_layout(const struct dm_layout_leaf *leaf, void *ctx)
{
	struct leaves *l = ctx;

	ck_assert_uint_lt(l->n, 1024);
	snprintf(l->path[l->n], sizeof(l->path[0]), "%s", leaf->path);
	l->offset[l->n] = leaf->offset;
	l->state_offset[l->n] = leaf->state_offset;
	l->type[l->n] = leaf->field->type;
	l->size[l->n++] = leaf->size;
	return 0;
}

/* The value of a leaf read from the struct at its state_offset. */
static uint64_t state_value(const void *state, size_t at, uint8_t type)
{
	const uint8_t *p = (const uint8_t *)state + at;
	const struct dm_timer *t = (const void *)p;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	switch (type) {
	case DM_FT_BOOL:
		return *p != 0;
	case DM_FT_U8:
		return *p;
	case DM_FT_U16:
		memcpy(&v16, p, 2);
		return v16;
	case DM_FT_U32:
		memcpy(&v32, p, 4);
		return v32;
	case DM_FT_TIMER:
		return t->when;
	default:
		memcpy(&v64, p, 8);
		return v64;
	}
}

static uint64_t get_le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static const size_t type_size[] = {1, 1, 2, 4, 8, 8};

/* Every leaf's bytes in the encoding hold the value dm_state_walk sees. */
static void check_layout(const struct dm_device *d)
{
	static struct leaves w, l;
	static uint8_t buf[65536];
	size_t n = dm_state_encode(d->desc, d->state, buf, sizeof(buf));
	size_t end = 2;

	w.n = l.n = 0;
	ck_assert_uint_gt(n, 0);
	dm_state_walk(d->desc, d->state, collect_walk, &w);
	dm_state_layout(d->desc, collect_layout, &l);
	ck_assert_uint_eq(w.n, l.n);
	for (size_t i = 0; i < w.n; i++) {
		ck_assert_str_eq(w.path[i], l.path[i]);
		ck_assert_uint_le(l.offset[i] + l.size[i], n);
		ck_assert_uint_ge(l.offset[i], end);
		ck_assert_msg(get_le(buf + l.offset[i], l.size[i]) ==
				      w.value[i],
			      "%s.%s", d->name, w.path[i]);
		ck_assert_uint_lt(l.state_offset[i], d->desc->size);
		ck_assert_msg(state_value(d->state, l.state_offset[i],
					  l.type[i]) == w.value[i],
			      "%s.%s in the struct", d->name, w.path[i]);
		end = l.offset[i] + l.size[i];
	}
	/* Nothing but headers follows the last leaf. */
	ck_assert_uint_le(n - end, 5 * 64);
}

START_TEST(layout_places_every_leaf_where_the_encoding_has_it)
{
	struct player p;
	struct dm_event ev;
	struct dm_outcome o;

	play_open(&p, PIT_TRACE);
	while (play_step(&p, &ev, &o))
		;
	for (unsigned i = 0; i < p.m->ndevices; i++)
		check_layout(&p.m->devices[i]);
	play_close(&p);
}
END_TEST

static int stop_at_third(const struct dm_layout_leaf *leaf, void *ctx)
{
	unsigned *n = ctx;

	(void)leaf;
	return ++*n == 3 ? 42 : 0;
}

START_TEST(layout_sizes_follow_the_field_types_and_walk_can_stop)
{
	struct player p;
	unsigned n = 0;

	play_open(&p, PIT_TRACE);
	for (unsigned i = 0; i < p.m->ndevices; i++) {
		static struct leaves l;
		const struct dm_device *d = &p.m->devices[i];
		size_t k = 0;

		l.n = 0;
		dm_state_layout(d->desc, collect_layout, &l);
		/* The leading scalar fields, element by element. */
		for (size_t f = 0; f < d->desc->nfields; f++) {
			const struct dm_field *fd = &d->desc->fields[f];

			if (fd->type == DM_FT_STRUCT)
				break;
			for (unsigned e = 0; e < fd->count; e++)
				ck_assert_uint_eq(l.size[k++],
						  type_size[fd->type]);
		}
	}
	ck_assert_int_eq(dm_state_layout(&dm_pit_state_desc, stop_at_third, &n),
			 42);
	ck_assert_uint_eq(n, 3);
	play_close(&p);
}
END_TEST

/* ---- schema ---------------------------------------------------------- */

START_TEST(a_new_file_gets_the_schema_in_wal_mode)
{
	char v[64];
	sqlite3 *c;

	close_store(open_store(true));
	c = peek();
	sql_text(c, "SELECT value FROM meta WHERE key = 'schema_version'", v,
		 sizeof(v));
	ck_assert_str_eq(v, "1");
	sql_text(c, "PRAGMA journal_mode", v, sizeof(v));
	ck_assert_str_eq(v, "wal");
	ck_assert_int_eq(sql_int(c, "PRAGMA page_size"), 16384);
	ck_assert_int_eq(sql_int(c, "SELECT count(*) FROM sqlite_schema WHERE "
				    "type = 'table' AND name IN ('meta', "
				    "'runs', 'run_devices', 'field_layout', "
				    "'run_fields', 'blobs', 'checkpoints')"),
			 7);
	ck_assert_int_eq(sql_int(c, "SELECT count(*) FROM sqlite_schema WHERE "
				    "type = 'view' AND name = "
				    "'checkpoint_fields'"),
			 1);
	sqlite3_close(c);
	/* Opening again keeps it as it is. */
	close_store(open_store(true));
	close_store(open_store(false));
	c = peek();
	ck_assert_int_eq(sql_int(c, "SELECT count(*) FROM meta"), 2);
	sqlite3_close(c);
}
END_TEST

static void expect_open_error(bool write, const char *want)
{
	struct dm_store *s = NULL;
	struct dm_error err = {""};

	ck_assert_int_eq(dm_store_open(&s, db, write, &err), -1);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err.msg, want), "'%s' lacks '%s'", err.msg, want);
	ck_assert_msg(!strncmp(err.msg, db, strlen(db)), "%s", err.msg);
}

START_TEST(a_newer_schema_is_refused_by_name)
{
	char want[256];
	sqlite3 *c;

	close_store(open_store(true));
	c = peek();
	sql_exec(c, "UPDATE meta SET value = '2' WHERE key = "
		    "'schema_version'");
	sqlite3_close(c);
	snprintf(want, sizeof(want),
		 "%s: schema version 2 is newer than this dmsim (reads 1)", db);
	expect_open_error(false, want);
	expect_open_error(true, want);
}
END_TEST

static void write_file(const void *data, size_t n)
{
	FILE *f = fopen(db, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, n, f), n);
	fclose(f);
}

START_TEST(other_files_are_not_dmsim_databases)
{
	uint8_t junk[8192];
	sqlite3 *c;

	expect_open_error(false, "cannot open");
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	write_file(junk, sizeof(junk));
	expect_open_error(false, "not a dmsim database");
	expect_open_error(true, "not a dmsim database");
	/* The garbage is left alone. */
	ck_assert_int_eq(access(db, F_OK), 0);

	remove(db);
	c = peek_flags(SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	sql_exec(c, "CREATE TABLE foo(x)");
	sqlite3_close(c);
	expect_open_error(false, "not a dmsim database (no meta table)");
	expect_open_error(true, "not a dmsim database (no meta table)");

	write_file("", 0);
	expect_open_error(false, "not a dmsim database (empty)");
	close_store(open_store(true));
}
END_TEST

/* ---- field values through SQL ---------------------------------------- */

struct compare {
	sqlite3_stmt *st;
	const char *device;
	unsigned leaves;
};

/* The view's next row is this leaf: field name, big-endian hex, integer. */
static int compare_leaf(const struct dm_leaf *leaf, void *opaque)
{
	struct compare *c = opaque;
	size_t size = type_size[leaf->field->type];
	char field[300], value[40];
	int64_t ivalue = (int64_t)leaf->value;

	ck_assert_int_eq(sqlite3_step(c->st), SQLITE_ROW);
	snprintf(field, sizeof(field), "%s.%s", c->device, leaf->path);
	snprintf(value, sizeof(value), "0x%0*llX", (int)(2 * size),
		 (unsigned long long)leaf->value);
	ck_assert_str_eq((const char *)sqlite3_column_text(c->st, 0), field);
	ck_assert_str_eq((const char *)sqlite3_column_text(c->st, 1), value);
	ck_assert_int_eq(sqlite3_column_type(c->st, 2), SQLITE_INTEGER);
	ck_assert_int_eq(sqlite3_column_int64(c->st, 2), ivalue);
	c->leaves++;
	return 0;
}

/* Every field of checkpoint seq, read with SQL alone, is the live value. */
static unsigned compare_checkpoint(sqlite3 *conn, int64_t run, uint64_t seq,
				   const struct dm_machine *m)
{
	struct compare c = {0};

	ck_assert_int_eq(
		sqlite3_prepare_v2(conn,
				   "SELECT field, value, ivalue FROM "
				   "checkpoint_fields WHERE run = ?1 AND "
				   "seq = ?2 ORDER BY device_idx, ord",
				   -1, &c.st, NULL),
		SQLITE_OK);
	sqlite3_bind_int64(c.st, 1, run);
	sqlite3_bind_int64(c.st, 2, (int64_t)seq);
	for (unsigned i = 0; i < m->ndevices; i++) {
		c.device = m->devices[i].name;
		dm_state_walk(m->devices[i].desc, m->devices[i].state,
			      compare_leaf, &c);
	}
	ck_assert_int_eq(sqlite3_step(c.st), SQLITE_DONE);
	sqlite3_finalize(c.st);
	return c.leaves;
}

struct ckpts {
	uint64_t seq[64], event[64], time[64], hash[64];
	char label[64][32];
	unsigned n;
};

static int collect_ckpt(const struct dm_store_ckpt *c, void *opaque)
{
	struct ckpts *k = opaque;

	ck_assert_uint_lt(k->n, 64);
	k->seq[k->n] = c->seq;
	k->event[k->n] = c->event;
	k->time[k->n] = c->time_ns;
	k->hash[k->n] = c->state_hash;
	snprintf(k->label[k->n++], sizeof(k->label[0]), "%s",
		 c->label ? c->label : "");
	return 0;
}

START_TEST(every_field_reads_back_through_the_sql_view)
{
	struct dm_store *s = open_store(true);
	struct player p;
	struct dm_event ev;
	struct dm_outcome o;
	sqlite3 *c = peek();
	int64_t run;

	dm_store_set_batch(s, 1, 0);
	play_open(&p, PIT_TRACE);
	run = begin(s, p.m);
	while (play_step(&p, &ev, &o)) {
		uint64_t seq = checkpoint(s, p.m, p.events - 1, NULL);
		struct ckpts k = {.n = 0};
		struct dm_error err = {""};

		ck_assert_uint_gt(compare_checkpoint(c, run, seq, p.m), 700);
		/* The state hash is the machine's. */
		ck_assert_int_eq(dm_store_checkpoints(s, run, seq, collect_ckpt,
						      &k, &err),
				 0);
		ck_assert_uint_eq(k.hash[0], dm_machine_hash(p.m));
	}
	ck_assert_uint_eq(p.events, PIT_EVENTS);
	sqlite3_close(c);
	close_store(s);
	play_close(&p);
}
END_TEST

/* The question of the issue, asked in plain SQL. */
static void expect_field(sqlite3 *c, unsigned seq, const char *field,
			 const char *value, int64_t ivalue)
{
	char sql[256], got[64];

	snprintf(sql, sizeof(sql),
		 "SELECT value FROM checkpoint_fields WHERE run = 1 AND "
		 "seq = %u AND field = '%s'",
		 seq, field);
	sql_text(c, sql, got, sizeof(got));
	ck_assert_str_eq(got, value);
	snprintf(sql, sizeof(sql),
		 "SELECT ivalue FROM checkpoint_fields WHERE run = 1 AND "
		 "seq = %u AND field = '%s'",
		 seq, field);
	ck_assert_int_eq(sql_int(c, sql), ivalue);
}

START_TEST(datasheet_values_answer_plain_sql_queries)
{
	sqlite3 *c;

	ck_assert_int_eq(record_pit_run(NULL), 1);
	c = peek_flags(SQLITE_OPEN_READONLY);
	/* Checkpoint n follows event n - 1.  Event 1 (t=500): count 1000
	 * written; OUT0 of mode 2 falls when the count reaches 1, at edge
	 * 1000 = 1000000 ns (loaded on edge 1). */
	expect_field(c, 3, "clock.now", "0x00000000000001F4", 500);
	expect_field(c, 3, "pit.ch0.mode", "0x02", 2);
	expect_field(c, 3, "pit.ch0.cr", "0x03E8", 1000);
	expect_field(c, 3, "pit.out0_timer", "0x00000000000F4240", 1000000);
	/* Event 5 latches at edge 10: 1000 - 9 = 991. */
	expect_field(c, 6, "pit.ch0.latched_count", "0x03DF", 991);
	/* Event 9, read-back at 30500: OUT high, loaded, RW 3, mode 2. */
	expect_field(c, 10, "pit.ch0.status", "0xB4", 180);
	/* An idle timer is all ones, -1 as a signed 64-bit integer. */
	expect_field(c, 10, "lapic0.timer", "0xFFFFFFFFFFFFFFFF", -1);
	ck_assert_int_eq(sql_int(c, "SELECT count(*) FROM checkpoint_fields "
				    "WHERE run = 1 AND seq = 6 AND device = "
				    "'pit' AND path = 'ch0.latched_count'"),
			 1);
	sqlite3_close(c);
}
END_TEST

/* EXPLAIN QUERY PLAN rows that scan a table instead of searching it. */
static int64_t scans(sqlite3 *c, const char *query)
{
	char sql[512];
	sqlite3_stmt *st;
	int64_t n = 0;

	snprintf(sql, sizeof(sql), "EXPLAIN QUERY PLAN %s", query);
	ck_assert_int_eq(sqlite3_prepare_v2(c, sql, -1, &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *detail = (const char *)sqlite3_column_text(st, 3);

		ck_assert_ptr_nonnull(detail);
		n += strncmp(detail, "SEARCH", 6) != 0;
	}
	sqlite3_finalize(st);
	return n;
}

START_TEST(field_queries_are_index_driven)
{
	sqlite3 *c;

	record_pit_run(NULL);
	c = peek();
	ck_assert_int_eq(scans(c, "SELECT value FROM checkpoint_fields WHERE "
				  "run = 1 AND seq = 6 AND field = "
				  "'pit.ch0.latched_count'"),
			 0);
	ck_assert_int_eq(scans(c, "SELECT seq, ivalue FROM checkpoint_fields "
				  "WHERE run = 1 AND device = 'pit' AND "
				  "path = 'ch0.latched_count'"),
			 0);
	ck_assert_int_eq(scans(c, "SELECT seq, ivalue FROM checkpoint_fields "
				  "WHERE run = 1 AND field = "
				  "'pit.ch0.latched_count'"),
			 0);
	ck_assert_int_eq(scans(c, "SELECT field, value FROM "
				  "checkpoint_fields WHERE run = 1 AND "
				  "seq = 6 ORDER BY device_idx, ord"),
			 1); /* the sort itself */
	sqlite3_close(c);
}
END_TEST

/* ---- dedup and batching ---------------------------------------------- */

START_TEST(an_unchanged_device_adds_no_blob)
{
	struct dm_store *s = open_store(true);
	struct dm_store_stats st;
	struct dm_machine *m2;
	struct dm_error err = {""};
	struct player p;
	uint64_t value = 0;
	char a[128], b[128];
	sqlite3 *c;

	dm_store_set_batch(s, 1, 0);
	play_open(&p, PIT_TRACE);
	begin(s, p.m);
	checkpoint(s, p.m, DM_STORE_NO_EVENT, NULL);
	dm_store_stats(s, &st);
	ck_assert_uint_eq(st.blobs_written, p.m->ndevices);
	checkpoint(s, p.m, DM_STORE_NO_EVENT, "again");
	dm_store_stats(s, &st);
	ck_assert_uint_eq(st.blobs_written, p.m->ndevices);
	ck_assert_uint_eq(st.blob_refs, 2 * p.m->ndevices);
	/* A PIT write at the same instant changes the PIT blob only. */
	ck_assert_int_eq(dm_machine_pio(p.m, 0, 0, 0x43, 1, true, &value),
			 DM_ACCESS_OK);
	checkpoint(s, p.m, 0, NULL);
	dm_store_stats(s, &st);
	ck_assert_uint_eq(st.blobs_written, p.m->ndevices + 1);
	/* A fresh machine in the power-on state finds the first blobs. */
	ck_assert_int_eq(dm_machine_create(&m2, &p.m->cfg, &err), 0);
	checkpoint(s, m2, DM_STORE_NO_EVENT, NULL);
	dm_store_stats(s, &st);
	ck_assert_uint_eq(st.blobs_written, p.m->ndevices + 1);
	ck_assert_uint_eq(st.checkpoints, 4);
	close_store(s);

	c = peek();
	ck_assert_int_eq(sql_int(c, "SELECT count(*) FROM blobs"),
			 p.m->ndevices + 1);
	sql_text(c, "SELECT blob_ids FROM checkpoints WHERE seq = 1", a,
		 sizeof(a));
	sql_text(c, "SELECT blob_ids FROM checkpoints WHERE seq = 2", b,
		 sizeof(b));
	ck_assert_str_eq(a, b);
	sql_text(c, "SELECT blob_ids FROM checkpoints WHERE seq = 4", b,
		 sizeof(b));
	ck_assert_str_eq(a, b);
	ck_assert_int_eq(sql_int(c, "SELECT count(DISTINCT state_hash) FROM "
				    "checkpoints"),
			 2);
	ck_assert_int_eq(sql_int(c, "SELECT count(*) FROM checkpoints WHERE "
				    "event IS NULL"),
			 3);
	sqlite3_close(c);
	dm_machine_destroy(m2);
	play_close(&p);
}
END_TEST

START_TEST(only_committed_batches_are_visible)
{
	struct dm_store *s = open_store(true);
	struct dm_store_stats st;
	struct dm_error err = {""};
	struct player p;
	sqlite3 *c = peek();

	dm_store_set_batch(s, 3, 3600 * 1000);
	play_open(&p, PIT_TRACE);
	begin(s, p.m);
	/* The run itself is committed at once. */
	ck_assert_int_eq(sql_int(c, "SELECT count(*) FROM runs WHERE "
				    "status = 'running'"),
			 1);
	checkpoint(s, p.m, DM_STORE_NO_EVENT, NULL);
	checkpoint(s, p.m, DM_STORE_NO_EVENT, NULL);
	ck_assert_int_eq(sql_int(c, "SELECT count(*) FROM checkpoints"), 0);
	checkpoint(s, p.m, DM_STORE_NO_EVENT, NULL);
	ck_assert_int_eq(sql_int(c, "SELECT count(*) FROM checkpoints"), 3);
	checkpoint(s, p.m, DM_STORE_NO_EVENT, NULL);
	ck_assert_int_eq(sql_int(c, "SELECT count(*) FROM checkpoints"), 3);
	ck_assert_int_eq(dm_store_commit(s, &err), 0);
	ck_assert_int_eq(sql_int(c, "SELECT count(*) FROM checkpoints"), 4);
	dm_store_stats(s, &st);
	ck_assert_uint_eq(st.commits, 2);
	/* A batch older than the batch time commits on a poll. */
	dm_store_set_batch(s, 1000, 50);
	checkpoint(s, p.m, DM_STORE_NO_EVENT, NULL);
	ck_assert_int_eq(dm_store_poll(s, &err), 0);
	ck_assert_int_eq(sql_int(c, "SELECT count(*) FROM checkpoints"), 4);
	usleep(80 * 1000);
	ck_assert_int_eq(dm_store_poll(s, &err), 0);
	ck_assert_int_eq(sql_int(c, "SELECT count(*) FROM checkpoints"), 5);
	close_store(s);
	sqlite3_close(c);
	play_close(&p);
}
END_TEST

/* ---- replay integration ---------------------------------------------- */

struct runinfo {
	char status[16];
	char config[2048];
	uint64_t events, checkpoints, trace_hash;
	bool has_hash, finished;
};

static int collect_run(const struct dm_store_run *r, void *opaque)
{
	struct runinfo *ri = opaque;

	snprintf(ri->status, sizeof(ri->status), "%s", r->status);
	snprintf(ri->config, sizeof(ri->config), "%s", r->config);
	ri->events = r->events;
	ri->checkpoints = r->checkpoints;
	ri->trace_hash = r->trace_hash;
	ri->has_hash = r->has_trace_hash;
	ri->finished = r->finished_at != NULL;
	return 0;
}

static uint64_t file_hash(const char *path)
{
	static uint8_t buf[1 << 16];
	FILE *f = fopen(path, "rb");
	size_t n;

	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf), f);
	ck_assert(feof(f));
	fclose(f);
	return XXH3_64bits(buf, n);
}

START_TEST(replay_checkpoints_every_nth_event_and_every_mark)
{
	struct dm_replay_opts opts = {.out = fopen("/dev/null", "w"),
				      .checkpoint_every = 5};
	struct dm_replay_stats stats;
	struct dm_error err = {""};
	const uint64_t want[] = {4, 9, 14, PIT_MARK_EVENT, 19, 24, 29};
	struct ckpts k = {.n = 0};
	struct runinfo ri;
	struct dm_config cfg;
	char canon[2048];

	opts.store = open_store(true);
	ck_assert_int_eq(dm_replay_file(dm_test_trace_path(PIT_TRACE), &opts,
					&stats, &err),
			 0);
	ck_assert_int_eq(stats.run, 1);
	ck_assert_uint_eq(stats.checkpoints, 7);
	ck_assert_int_eq(
		dm_store_checkpoints(opts.store, 1, 0, collect_ckpt, &k, &err),
		0);
	ck_assert_uint_eq(k.n, 7);
	for (unsigned i = 0; i < k.n; i++) {
		ck_assert_uint_eq(k.seq[i], i + 1);
		ck_assert_uint_eq(k.event[i], want[i]);
		ck_assert_str_eq(k.label[i], i == 3 ? "after-reload" : "");
	}
	/* The mark is at t = 1001000 ns. */
	ck_assert_uint_eq(k.time[3], 1001000);
	ck_assert_int_eq(dm_store_runs(opts.store, 1, collect_run, &ri, &err),
			 0);
	ck_assert_str_eq(ri.status, "passed");
	ck_assert(ri.finished);
	ck_assert_uint_eq(ri.events, PIT_EVENTS);
	ck_assert_uint_eq(ri.checkpoints, 7);
	ck_assert(ri.has_hash);
	ck_assert_uint_eq(ri.trace_hash,
			  file_hash(dm_test_trace_path(PIT_TRACE)));
	dm_config_defaults(&cfg, DM_PROFILE_DATASHEET);
	ck_assert_int_eq(dm_config_parse(&cfg, "pit_hz=1000000", &err), 0);
	dm_config_format(&cfg, canon, sizeof(canon));
	ck_assert_str_eq(ri.config, canon);

	/* A second run in the same file; a divergence is recorded. */
	ck_assert_int_eq(
		dm_replay_file(dm_test_trace_path("pit_wrong_value.txt"), &opts,
			       &stats, &err),
		1);
	ck_assert_int_eq(stats.run, 2);
	ck_assert_int_eq(dm_store_runs(opts.store, 2, collect_run, &ri, &err),
			 0);
	ck_assert_str_eq(ri.status, "diverged");
	ck_assert_int_eq(dm_store_runs(opts.store, 3, collect_run, &ri, &err),
			 -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "no run 3"));
	close_store(opts.store);
	fclose(opts.out);
}
END_TEST

/* ---- restoring ------------------------------------------------------- */

START_TEST(a_reloaded_checkpoint_continues_identically)
{
	uint64_t hashes[PIT_EVENTS + 1];
	struct dm_store *s;
	struct dm_machine *back;
	struct dm_error err = {""};
	struct ckpts k = {.n = 0};
	struct player p;
	struct dm_event ev;
	struct dm_outcome o, o2;
	uint64_t at = PIT_MARK_EVENT + 1, steps = 0;

	record_pit_run(hashes);
	s = open_store(false);
	ck_assert_int_eq(dm_store_checkpoints(s, 1, at, collect_ckpt, &k, &err),
			 0);
	ck_assert_uint_eq(k.n, 1);
	ck_assert_uint_eq(k.hash[0], hashes[at]);
	ck_assert_msg(dm_store_load_machine(s, 1, at, &back, &err) == 0, "%s",
		      err.msg);
	ck_assert_uint_eq(dm_machine_hash(back), hashes[at]);

	/* The live machine, replayed to the same point, and the reloaded one
	 * then agree on every output and state after every event. */
	play_open(&p, PIT_TRACE);
	while (p.events < at)
		ck_assert(play_step(&p, &ev, &o));
	ck_assert_uint_eq(dm_machine_hash(p.m), dm_machine_hash(back));
	while (play_step(&p, &ev, &o)) {
		ck_assert_int_eq(dm_replay_step(back, &ev, &o2, &err), 0);
		ck_assert_uint_eq(o.actual, o2.actual);
		ck_assert(!o2.mismatch);
		ck_assert_uint_eq(dm_machine_hash(back), hashes[p.events]);
		steps++;
	}
	ck_assert_uint_eq(steps, PIT_EVENTS - at);
	dm_machine_destroy(back);
	ck_assert_int_eq(dm_store_load_machine(s, 1, 99, &back, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "has no checkpoint 99"));
	ck_assert_ptr_null(back);
	close_store(s);
	play_close(&p);
}
END_TEST

/* ---- corruption ------------------------------------------------------ */

struct bad {
	int64_t run;
	uint64_t seq[64];
	char msg[64][512];
	unsigned n;
};

static void collect_bad(int64_t run, uint64_t seq, const char *msg,
			void *opaque)
{
	struct bad *b = opaque;

	ck_assert_uint_lt(b->n, 64);
	b->run = run;
	b->seq[b->n] = seq;
	snprintf(b->msg[b->n++], sizeof(b->msg[0]), "%s", msg);
}

static struct bad verify_all(uint64_t *verified)
{
	struct dm_store *s = open_store(false);
	struct bad b = {.n = 0};
	struct dm_error err = {""};
	uint64_t corrupt;
	int64_t n = dm_store_verify(s, 0, 0, collect_bad, &b, &corrupt, &err);

	ck_assert_msg(n >= 0, "%s", err.msg);
	ck_assert_uint_eq(corrupt, b.n);
	*verified = (uint64_t)n;
	close_store(s);
	return b;
}

/* The blob id of a device in a checkpoint, from blob_ids. */
static int64_t blob_of(sqlite3 *c, unsigned seq, unsigned idx)
{
	char sql[256];

	snprintf(sql, sizeof(sql),
		 "SELECT CAST(substr(blob_ids, %u, 12) AS INTEGER) FROM "
		 "checkpoints WHERE run = 1 AND seq = %u",
		 12 * idx + 1, seq);
	return sql_int(c, sql);
}

static void expect_load_error(unsigned seq, const char *want)
{
	struct dm_store *s = open_store(false);
	struct dm_machine *m;
	struct dm_error err = {""};

	ck_assert_int_eq(dm_store_load_machine(s, 1, seq, &m, &err), -1);
	ck_assert_msg(strstr(err.msg, want), "'%s' lacks '%s'", err.msg, want);
	close_store(s);
}

/* The message verify gives for checkpoint seq, or NULL if it is intact. */
static const char *bad_msg(const struct bad *b, uint64_t seq)
{
	for (unsigned i = 0; i < b->n; i++)
		if (b->seq[i] == seq)
			return b->msg[i];
	return NULL;
}

/* A fresh recording, one corruption by SQL, and what verify says. */
static struct bad corrupt_one(const char *fmt, unsigned seq, unsigned idx)
{
	char sql[512];
	uint64_t n;
	sqlite3 *c;

	remove(db);
	record_pit_run(NULL);
	c = peek();
	snprintf(sql, sizeof(sql), fmt, (long long)blob_of(c, seq, idx), seq);
	sql_exec(c, sql);
	sqlite3_close(c);
	return verify_all(&n);
}

static void expect_bad(const struct bad *b, uint64_t seq, const char *a,
		       const char *z)
{
	const char *msg = bad_msg(b, seq);

	ck_assert_msg(msg, "checkpoint %llu not reported",
		      (unsigned long long)seq);
	ck_assert_msg(strstr(msg, a) && strstr(msg, z), "%s", msg);
}

START_TEST(corrupt_checkpoints_are_reported)
{
	struct bad b;
	uint64_t n;
	sqlite3 *c;

	record_pit_run(NULL);
	b = verify_all(&n);
	ck_assert_uint_eq(n, PIT_EVENTS);
	ck_assert_uint_eq(b.n, 0);

	/* One changed byte in the PIT blob of checkpoint 6 (event 5
	 * latched the count; event 6 is an ignored latch, so checkpoint 7
	 * shares the blob; event 7 reads the latch). */
	b = corrupt_one("UPDATE blobs SET data = substr(data, 1, 20) || "
			"x'ee' || substr(data, 22) WHERE id = %lld -- %u",
			6, 1);
	ck_assert_uint_eq(b.n, 2);
	expect_bad(&b, 6, "pit: blob", "hashes to");
	expect_bad(&b, 7, "pit: blob", "hashes to");
	expect_load_error(6, "checkpoint 6 is corrupt: pit: blob");
	ck_assert_ptr_null(bad_msg(&b, 5));

	b = corrupt_one("UPDATE checkpoints SET state_hash = state_hash + 1 "
			"WHERE %lld > 0 AND seq = %u",
			2, 0);
	ck_assert_uint_eq(b.n, 1);
	expect_bad(&b, 2, "the device keys hash to", "the state hash is");
	expect_load_error(2, "the device keys hash to");

	b = corrupt_one("UPDATE checkpoints SET blob_ids = 'x' || "
			"substr(blob_ids, 2) WHERE %lld > 0 AND seq = %u",
			3, 0);
	ck_assert_uint_eq(b.n, 1);
	expect_bad(&b, 3, "blob_ids", "is not a digit");

	b = corrupt_one("DELETE FROM blobs WHERE id = %lld -- %u", 6, 1);
	ck_assert_uint_eq(b.n, 2);
	expect_bad(&b, 6, "pit: blob", "is missing");

	/* Every checkpoint sharing the LAPIC blob of the last one. */
	b = corrupt_one("UPDATE blobs SET kind = 'pic' WHERE id = %lld -- %u",
			33, 8);
	c = peek();
	ck_assert_int_eq(b.n,
			 sql_int(c, "SELECT count(*) FROM checkpoints "
				    "WHERE substr(blob_ids, 97) = (SELECT "
				    "substr(blob_ids, 97) FROM checkpoints "
				    "WHERE seq = 33)"));
	sqlite3_close(c);
	ck_assert_uint_gt(b.n, 1);
	expect_bad(&b, 33, "lapic0: blob",
		   "is a pic v1, the run's device is "
		   "a lapic v1");
}
END_TEST

struct layout_find {
	const char *path;
	size_t offset;
};

static int find_leaf(const struct dm_layout_leaf *leaf, void *opaque)
{
	struct layout_find *f = opaque;

	if (strcmp(leaf->path, f->path))
		return 0;
	f->offset = leaf->offset;
	return 1;
}

/* Sets a checkpoint's state hash to the one its blobs' keys give. */
/* The devices of a run of the 1-vcpu PIT trace. */
#define PIT_RUN_DEVICES (DM_FIXED_DEVICES + 1)

static void rehash(sqlite3 *c, unsigned seq)
{
	uint8_t keys[PIT_RUN_DEVICES * 8];
	sqlite3_stmt *st;

	for (unsigned i = 0; i < PIT_RUN_DEVICES; i++) {
		char sql[128];
		uint64_t key;

		snprintf(sql, sizeof(sql),
			 "SELECT key FROM blobs WHERE "
			 "id = %lld",
			 (long long)blob_of(c, seq, i));
		key = (uint64_t)sql_int(c, sql);
		for (unsigned b = 0; b < 8; b++)
			keys[i * 8 + b] = (uint8_t)(key >> (8 * b));
	}
	ck_assert_int_eq(sqlite3_prepare_v2(c,
					    "UPDATE checkpoints SET "
					    "state_hash = ?1 WHERE seq = ?2",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(st, 1, (int64_t)XXH3_64bits(keys, sizeof(keys)));
	sqlite3_bind_int64(st, 2, seq);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
}

/* Rewrites a blob and everything that hashes it, as an attacker would. */
static void forge(sqlite3 *c, int64_t id, size_t offset, uint8_t byte)
{
	sqlite3_stmt *st;
	uint8_t data[4096];
	int n;

	ck_assert_int_eq(sqlite3_prepare_v2(c,
					    "SELECT data FROM blobs WHERE "
					    "id = ?1",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(st, 1, id);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_bytes(st, 0);
	ck_assert_int_le(n, (int)sizeof(data));
	memcpy(data, sqlite3_column_blob(st, 0), (size_t)n);
	sqlite3_finalize(st);
	data[offset] = byte;
	ck_assert_int_eq(sqlite3_prepare_v2(c,
					    "UPDATE blobs SET data = ?2, "
					    "key = ?3 WHERE id = ?1",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_blob(st, 2, data, n, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (int64_t)XXH3_64bits(data, (size_t)n));
	ck_assert_int_eq(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	for (unsigned seq = 1; seq <= PIT_EVENTS; seq++)
		rehash(c, seq);
}

START_TEST(a_consistent_but_hostile_blob_is_refused_on_load)
{
	struct layout_find f = {"ch0.mode", 0};
	struct bad b;
	uint64_t n;
	sqlite3 *c;

	record_pit_run(NULL);
	ck_assert_int_eq(dm_state_layout(&dm_pit_state_desc, find_leaf, &f), 1);
	c = peek();
	ck_assert_int_eq(sql_int(c, "SELECT count(*) FROM run_devices"),
			 PIT_RUN_DEVICES);
	forge(c, blob_of(c, 6, 1), f.offset, 9);
	sqlite3_close(c);
	/* Every hash matches: the checkpoint is intact as stored... */
	b = verify_all(&n);
	ck_assert_uint_eq(b.n, 0);
	/* ...but its PIT state is impossible, and load names the field. */
	expect_load_error(6, "pit: byte 7: ch0: mode: 9 is not 0-7");
}
END_TEST

START_TEST(a_layout_changed_without_a_version_bump_is_refused)
{
	struct dm_store *s;
	struct dm_error err = {""};
	struct player p;
	int64_t run;
	sqlite3 *c;

	record_pit_run(NULL);
	c = peek();
	sql_exec(c, "UPDATE field_layout SET offset = offset + 1 WHERE "
		    "kind = 'pit' AND path = 'ch0.mode'");
	sqlite3_close(c);
	s = open_store(true);
	play_open(&p, PIT_TRACE);
	ck_assert_int_eq(dm_store_begin_run(s, "replay", NULL, p.m, &run, &err),
			 -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "pit v1 is stored with another "
					      "layout (at ch0.mode)"));
	close_store(s);
	c = peek();
	/* Nothing of the refused run stayed. */
	ck_assert_int_eq(sql_int(c, "SELECT count(*) FROM runs"), 1);
	sqlite3_close(c);
	play_close(&p);
}
END_TEST

/* ---- fields for dmsim show ------------------------------------------- */

struct fields {
	unsigned n;
	char first[64];
	uint64_t latched;
	bool hex_status;
};

static int collect_field(const struct dm_store_field *f, void *opaque)
{
	struct fields *fl = opaque;

	ck_assert_str_eq(f->device, "pit");
	if (!fl->n++)
		snprintf(fl->first, sizeof(fl->first), "%s", f->path);
	if (!strcmp(f->path, "ch0.latched_count"))
		fl->latched = f->value;
	if (!strcmp(f->path, "ch0.status"))
		fl->hex_status = f->field->flags & DM_FF_HEX;
	return 0;
}

static int count_leaf(const struct dm_leaf *leaf, void *opaque)
{
	(void)leaf;
	++*(unsigned *)opaque;
	return 0;
}

START_TEST(fields_of_one_device_come_in_table_order)
{
	struct dm_store *s;
	struct dm_error err = {""};
	struct fields fl = {0};
	struct player p;
	unsigned leaves = 0;

	record_pit_run(NULL);
	s = open_store(false);
	ck_assert_int_eq(
		dm_store_fields(s, 1, 6, "pit", collect_field, &fl, &err), 0);
	play_open(&p, PIT_TRACE);
	dm_state_walk(&dm_pit_state_desc, &p.m->pit, count_leaf, &leaves);
	ck_assert_uint_eq(fl.n, leaves);
	ck_assert_str_eq(fl.first,
			 dm_pit_state_desc.fields[0].type == DM_FT_STRUCT
				 ? "ch0.rw"
				 : dm_pit_state_desc.fields[0].name);
	ck_assert_uint_eq(fl.latched, 991);
	ck_assert(fl.hex_status);
	ck_assert_int_eq(
		dm_store_fields(s, 1, 6, "nope", collect_field, &fl, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "has no device 'nope'"));
	close_store(s);
	play_close(&p);
}
END_TEST

/* ---- migrate-check --via-db ------------------------------------------ */

START_TEST(migrating_through_sqlite_equals_migrating_in_memory)
{
	const char *tdir = getenv("DMSIM_TRACES");
	struct dm_store *s = open_store(true);
	struct dirent *e;
	unsigned checked = 0;
	DIR *d;

	ck_assert_ptr_nonnull(tdir);
	d = opendir(tdir);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		struct dm_migrate_opts mem = {.every = 1};
		struct dm_migrate_opts via = {.every = 1, .store = s};
		struct dm_migrate_result a, b;
		struct dm_error err = {""};
		size_t n = strlen(e->d_name);
		struct runinfo ri;

		if (n < 4 || strcmp(e->d_name + n - 4, ".txt") ||
		    !strncmp(e->d_name, "codec_", 6))
			continue;
		ck_assert_msg(dm_migrate_check(dm_test_trace_path(e->d_name),
					       &mem, &a, &err) == 0,
			      "%s: %s", e->d_name, err.msg);
		ck_assert_msg(dm_migrate_check(dm_test_trace_path(e->d_name),
					       &via, &b, &err) == 0,
			      "%s: %s", e->d_name, err.msg);
		ck_assert(!b.diverged);
		ck_assert_uint_eq(a.events, b.events);
		ck_assert_uint_eq(a.migrations, b.migrations);
		checked++;
		ck_assert_int_eq(
			dm_store_runs(s, checked, collect_run, &ri, &err), 0);
		ck_assert_str_eq(ri.status, "passed");
		ck_assert_uint_eq(ri.checkpoints, b.migrations);
	}
	closedir(d);
	ck_assert_uint_ge(checked, 5);
	close_store(s);
}
END_TEST

/* The PIT table without count_latch (as in test_migrate.c). */
static struct dm_field forgetful_ch_fields[64];
static struct dm_state_desc forgetful_ch;
static struct dm_field forgetful_pit_fields[32];
static struct dm_state_desc forgetful_pit;

static void use_forgetful_pit(struct dm_machine *m)
{
	const struct dm_field *top = dm_pit_state_desc.fields;
	const struct dm_state_desc *ch = top[0].sub;
	size_t n = 0;

	for (size_t i = 0; i < ch->nfields; i++)
		if (strcmp(ch->fields[i].name, "count_latch"))
			forgetful_ch_fields[n++] = ch->fields[i];
	forgetful_ch = *ch;
	forgetful_ch.fields = forgetful_ch_fields;
	forgetful_ch.nfields = n;
	memcpy(forgetful_pit_fields, top,
	       dm_pit_state_desc.nfields * sizeof(*top));
	forgetful_pit_fields[0].sub = &forgetful_ch;
	forgetful_pit = dm_pit_state_desc;
	forgetful_pit.fields = forgetful_pit_fields;
	m->devices[1].desc = &forgetful_pit;
}

START_TEST(a_forgotten_latch_is_caught_through_sqlite_too)
{
	struct dm_migrate_opts opts = {.every = 1, .adjust = use_forgetful_pit};
	struct dm_migrate_result res;
	struct dm_error err = {""};
	struct runinfo ri;

	opts.store = open_store(true);
	ck_assert_str_eq(dm_pit_state_desc.fields[0].name, "ch");
	ck_assert_int_eq(dm_migrate_check(dm_test_trace_path(PIT_TRACE), &opts,
					  &res, &err),
			 1);
	ck_assert_uint_eq(res.event, 6);
	ck_assert_uint_eq(res.migration, 6);
	ck_assert_int_eq(dm_store_runs(opts.store, 1, collect_run, &ri, &err),
			 0);
	ck_assert_str_eq(ri.status, "diverged");
	close_store(opts.store);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("store");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, layout_places_every_leaf_where_the_encoding_has_it);
	tcase_add_test(tc,
		       layout_sizes_follow_the_field_types_and_walk_can_stop);
	tcase_add_test(tc, a_new_file_gets_the_schema_in_wal_mode);
	tcase_add_test(tc, a_newer_schema_is_refused_by_name);
	tcase_add_test(tc, other_files_are_not_dmsim_databases);
	tcase_add_test(tc, every_field_reads_back_through_the_sql_view);
	tcase_add_test(tc, datasheet_values_answer_plain_sql_queries);
	tcase_add_test(tc, field_queries_are_index_driven);
	tcase_add_test(tc, an_unchanged_device_adds_no_blob);
	tcase_add_test(tc, only_committed_batches_are_visible);
	tcase_add_test(tc, replay_checkpoints_every_nth_event_and_every_mark);
	tcase_add_test(tc, a_reloaded_checkpoint_continues_identically);
	tcase_add_test(tc, corrupt_checkpoints_are_reported);
	tcase_add_test(tc, a_consistent_but_hostile_blob_is_refused_on_load);
	tcase_add_test(tc, a_layout_changed_without_a_version_bump_is_refused);
	tcase_add_test(tc, fields_of_one_device_come_in_table_order);
	tcase_add_test(tc, migrating_through_sqlite_equals_migrating_in_memory);
	tcase_add_test(tc, a_forgotten_latch_is_caught_through_sqlite_too);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return dm_test_main(suite());
}
