// SPDX-License-Identifier: MIT
/*
 * The SQLite checkpoint store.  docs/database.md specifies the schema and
 * explains its choices; the ones that shape this file:
 *
 * - blobs is a rowid table written in append order, addressed by id from
 *   checkpoints.blob_ids.  Its XXH3 key is a plain column with no index:
 *   an index (or a WITHOUT ROWID table) on random 64-bit keys makes every
 *   batch rewrite pages all over the file, which measured 4-10x slower
 *   (docs/database.md, "Design notes").  Deduplication within a run uses an
 *   in-memory map from key to id instead.
 * - A device is re-encoded only when its struct's bytes differ from the
 *   snapshot taken at the previous checkpoint.  The canonical encoding is
 *   a function of the bytes inside desc->size alone (every field, timer
 *   deadline and sub-structure is inside the struct), so equal bytes mean
 *   an equal blob; a change outside the table (a timer's heap slot) only
 *   costs a re-encode that then finds the same key.
 */
#include "replay/store.h"

#include <inttypes.h>
#include <stddef.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <xxhash.h>

#include "sim/timer.h"

/* Width of one zero-padded decimal blob id in checkpoints.blob_ids. */
#define ID_WIDTH 12
#define DEFAULT_BATCH_MAX 65536
#define DEFAULT_BATCH_MS 100
/*
 * The key maps are caches: past this many slots a map is cleared, not
 * grown.  One per device keeps each small enough for the CPU's caches; a
 * state older than its last ~8k distinct ones may then be stored twice.
 */
#define MAP_MAX_SLOTS (1u << 14)
#define MAP_MIN_SLOTS (1u << 8)
#define PAGE_SIZE_SQL "PRAGMA page_size = 16384"
#define BUSY_MS 10000

/* ---- a small open-addressing map: k -> v, where v == 0 is empty ----- */

struct slot {
	uint64_t k;
	uint64_t v;
};

struct map {
	struct slot *slots;
	size_t cap; /* a power of two, or 0 */
	size_t len;
};

static size_t map_home(const struct map *mp, uint64_t k)
{
	return (size_t)((k * 0x9e3779b97f4a7c15ULL) >> 32) & (mp->cap - 1);
}

static uint64_t map_get(const struct map *mp, uint64_t k)
{
	if (!mp->cap)
		return 0;
	for (size_t i = map_home(mp, k);; i = (i + 1) & (mp->cap - 1)) {
		const struct slot *sl = &mp->slots[i];

		if (!sl->v || sl->k == k)
			return sl->v;
	}
}

static void map_clear(struct map *mp)
{
	if (mp->cap)
		memset(mp->slots, 0, mp->cap * sizeof(*mp->slots));
	mp->len = 0;
}

static void map_put_new(struct map *mp, uint64_t k, uint64_t v)
{
	size_t i = map_home(mp, k);

	while (mp->slots[i].v)
		i = (i + 1) & (mp->cap - 1);
	mp->slots[i] = (struct slot){k, v};
	mp->len++;
}

/* Grows to keep the load under 1/2; at the size limit, forgets instead. */
static void map_make_room(struct map *mp)
{
	struct slot *old = mp->slots;
	size_t ncap = mp->cap ? mp->cap * 2 : MAP_MIN_SLOTS, ocap = mp->cap;
	struct slot *grown;

	if (2 * (mp->len + 1) <= mp->cap)
		return;
	grown = ncap <= MAP_MAX_SLOTS ? calloc(ncap, sizeof(*grown)) : NULL;
	if (!grown) {
		map_clear(mp);
		return;
	}
	mp->slots = grown;
	mp->cap = ncap;
	mp->len = 0;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].v)
			map_put_new(mp, old[i].k, old[i].v);
	free(old);
}

/* Records k -> v (k not present; v not 0); a no-op without memory. */
static void map_put(struct map *mp, uint64_t k, uint64_t v)
{
	map_make_room(mp);
	if (mp->cap && v)
		map_put_new(mp, k, v);
}

static void map_free(struct map *mp)
{
	free(mp->slots);
	*mp = (struct map){0};
}

/* ---- the store ------------------------------------------------------- */

struct run_devs;

/* What the writer knows about one device of the run. */
struct dev_cache {
	const struct dm_state_desc *desc;
	uint8_t *snap; /* the struct's bytes at the last checkpoint */
	bool valid;
	uint64_t key;
	int64_t id;
	char id_text[ID_WIDTH]; /* id as it goes into blob_ids */
	uint8_t key_le[8];	/* key as it goes into the state hash */
	struct map written; /* blob key -> id of the blobs stored this run */
	uint8_t *blob;	    /* the encoding */
	size_t len;
};

struct dm_store {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *ins_blob;
	sqlite3_stmt *ins_ckpt;
	sqlite3_stmt *get_blob;
	sqlite3_stmt *get_ckpt;
	sqlite3_stmt *get_devs;
	/* The run being written. */
	int64_t run;
	uint64_t seq;
	unsigned ndevices;
	struct dev_cache dev[DM_MAX_DEVICES];
	/* Batching. */
	bool in_batch;
	uint64_t batch_count;
	uint64_t batch_start_ns;
	unsigned batch_max;
	unsigned batch_ms;
	struct dm_store_stats stats;
	/* Reading: blob id -> key of blobs already checked, and the device
	 * list of the run read last (a run's list never changes). */
	struct map verified;
	struct run_devs *rd;
	int64_t rd_run;
	uint8_t *enc; /* the blob read last */
	size_t enc_cap;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Reports the connection's last error, naming the file and the step. */
static int db_error(struct dm_store *s, struct dm_error *err, const char *what)
{
	int code = sqlite3_errcode(s->db);

	if (code == SQLITE_NOTADB)
		return dm_errorf(err, "%s: not a dmsim database (%s)", s->path,
				 sqlite3_errmsg(s->db));
	if (code == SQLITE_CORRUPT)
		return dm_errorf(err, "%s: corrupt database (%s) while %s",
				 s->path, sqlite3_errmsg(s->db), what);
	return dm_errorf(err, "%s: %s: %s", s->path, what,
			 sqlite3_errmsg(s->db));
}

static int exec(struct dm_store *s, const char *sql, const char *what,
		struct dm_error *err)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_error(s, err, what);
	return 0;
}

static int prepare(struct dm_store *s, sqlite3_stmt **st, const char *sql,
		   struct dm_error *err)
{
	if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK)
		return db_error(s, err, "preparing a statement");
	return 0;
}

/* Runs a statement that returns no rows, then resets it. */
static int step_done(struct dm_store *s, sqlite3_stmt *st, const char *what,
		     struct dm_error *err)
{
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_error(s, err, what);

	sqlite3_reset(st);
	return rc;
}

static int64_t u2i(uint64_t v)
{
	return (int64_t)v;
}

static uint64_t col_u64(sqlite3_stmt *st, int col)
{
	return (uint64_t)sqlite3_column_int64(st, col);
}

static const char *col_text(sqlite3_stmt *st, int col)
{
	return (const char *)sqlite3_column_text(st, col);
}

/* A text column the schema says is NOT NULL; "" if a damaged file has
 * NULL there anyway. */
static const char *col_str(sqlite3_stmt *st, int col)
{
	const char *t = col_text(st, col);

	return t ? t : "";
}

/* ---- schema ---------------------------------------------------------- */

static const char schema_sql[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)"
	" WITHOUT ROWID;"
	"CREATE TABLE runs(id INTEGER PRIMARY KEY, command TEXT NOT NULL,"
	" trace_path TEXT NOT NULL, trace_hash INTEGER, config TEXT NOT NULL,"
	" dmsim_version TEXT NOT NULL, started_at TEXT NOT NULL,"
	" finished_at TEXT, status TEXT NOT NULL, events INTEGER);"
	"CREATE TABLE run_devices(run INTEGER NOT NULL, idx INTEGER NOT NULL,"
	" name TEXT NOT NULL, kind TEXT NOT NULL, version INTEGER NOT NULL,"
	" PRIMARY KEY (run, idx)) WITHOUT ROWID;"
	"CREATE TABLE field_layout(kind TEXT NOT NULL,"
	" version INTEGER NOT NULL, path TEXT NOT NULL, ord INTEGER NOT NULL,"
	" offset INTEGER NOT NULL, size INTEGER NOT NULL, type TEXT NOT NULL,"
	" hex INTEGER NOT NULL, PRIMARY KEY (kind, version, path))"
	" WITHOUT ROWID;"
	"CREATE TABLE run_fields(run INTEGER NOT NULL, field TEXT NOT NULL,"
	" idx INTEGER NOT NULL, path TEXT NOT NULL, PRIMARY KEY (run, field))"
	" WITHOUT ROWID;"
	"CREATE TABLE blobs(id INTEGER PRIMARY KEY, key INTEGER NOT NULL,"
	" kind TEXT NOT NULL, version INTEGER NOT NULL, data BLOB NOT NULL);"
	"CREATE TABLE checkpoints(run INTEGER NOT NULL, seq INTEGER NOT NULL,"
	" event INTEGER, time_ns INTEGER NOT NULL,"
	" state_hash INTEGER NOT NULL, label TEXT, blob_ids TEXT NOT NULL,"
	" PRIMARY KEY (run, seq)) WITHOUT ROWID;"
	"CREATE INDEX checkpoints_label ON checkpoints(run, label)"
	" WHERE label IS NOT NULL;";

/* hex(...) of one leaf's bytes, as stored (little-endian). */
#define LEAF_HEX "hex(substr(b.data, l.offset + 1, l.size))"

/* Appends to a fixed buffer; the view's text is far below its size. */
static void cat(char *buf, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void cat(char *buf, size_t cap, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf + len, cap - len, fmt, ap);
	va_end(ap);
}

/* The value of hex digit i (from 1) of a leaf's bytes. */
static void cat_nibble(char *buf, size_t cap, unsigned i)
{
	cat(buf, cap, "(instr('0123456789ABCDEF', substr(%s, %u, 1)) - 1)",
	    LEAF_HEX, i);
}

/*
 * ivalue of an n-byte leaf: the sum of byte k * 256^k.  The top nibble of
 * an 8-byte leaf counts as signed, so the sum is the two's complement
 * int64 and never overflows (SQLite would turn it into a float).
 */
static void cat_ivalue(char *buf, size_t cap, unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		cat(buf, cap, "%s(", k ? " + " : "");
		cat_nibble(buf, cap, 2 * k + 2);
		cat(buf, cap, " + 16 * (");
		cat_nibble(buf, cap, 2 * k + 1);
		if (k == 7) {
			cat(buf, cap, " - 16 * (");
			cat_nibble(buf, cap, 2 * k + 1);
			cat(buf, cap, " >= 8)");
		}
		cat(buf, cap, ")) * %" PRIu64, (uint64_t)1 << (8 * k));
	}
}

/* value of an n-byte leaf: '0x' and the byte pairs of its hex reversed. */
static void cat_value(char *buf, size_t cap, unsigned n)
{
	cat(buf, cap, "'0x'");
	for (unsigned k = n; k > 0; k--)
		cat(buf, cap, " || substr(%s, %u, 2)", LEAF_HEX, 2 * k - 1);
}

/* CASE l.size WHEN 1 THEN ... ELSE (8 bytes) END, so a narrow leaf
 * costs only its own digits. */
static void cat_by_size(char *buf, size_t cap,
			void (*expr)(char *buf, size_t cap, unsigned n))
{
	cat(buf, cap, "CASE l.size");
	for (unsigned n = 1; n <= 4; n *= 2) {
		cat(buf, cap, " WHEN %u THEN ", n);
		expr(buf, cap, n);
	}
	cat(buf, cap, " ELSE ");
	expr(buf, cap, 8);
	cat(buf, cap, " END");
}

static void view_sql(char *buf, size_t cap)
{
	buf[0] = '\0';
	cat(buf, cap,
	    "CREATE VIEW checkpoint_fields AS SELECT c.run AS run, "
	    "c.seq AS seq, c.event AS event, c.time_ns AS time_ns, "
	    "f.field AS field, ");
	cat_by_size(buf, cap, cat_value);
	cat(buf, cap, " AS value, ");
	cat_by_size(buf, cap, cat_ivalue);
	cat(buf, cap,
	    " AS ivalue, d.idx AS device_idx, d.name AS device, "
	    "l.path AS path, l.ord AS ord, l.type AS type, l.hex AS hex, "
	    "b.id AS blob FROM checkpoints AS c "
	    "JOIN run_fields AS f ON f.run = c.run "
	    "JOIN run_devices AS d ON d.run = f.run AND d.idx = f.idx "
	    "JOIN field_layout AS l ON l.kind = d.kind AND "
	    "l.version = d.version AND l.path = f.path "
	    "JOIN blobs AS b ON b.id = CAST(substr(c.blob_ids, %d * d.idx + 1, "
	    "%d) AS INTEGER)",
	    ID_WIDTH, ID_WIDTH);
}

static int create_schema(struct dm_store *s, struct dm_error *err)
{
	char view[32768], meta[256];

	view_sql(view, sizeof(view));
	snprintf(meta, sizeof(meta),
		 "INSERT INTO meta VALUES ('schema_version', '%d'), "
		 "('created_by', 'dmsim %s')",
		 DM_STORE_SCHEMA_VERSION, DMSIM_VERSION);
	if (exec(s, schema_sql, "creating the schema", err) ||
	    exec(s, view, "creating the field view", err) ||
	    exec(s, meta, "creating the schema", err))
		return -1;
	return 0;
}

/* 1 when the file has no tables yet, 0 when it has, -1 on error. */
static int is_empty(struct dm_store *s, struct dm_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (prepare(s, &st, "SELECT count(*) FROM sqlite_schema", err))
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		rc = sqlite3_column_int64(st, 0) == 0;
	else
		rc = db_error(s, err, "reading the schema");
	sqlite3_finalize(st);
	return rc;
}

static int check_version(struct dm_store *s, struct dm_error *err)
{
	sqlite3_stmt *st;
	int rc;
	int64_t v;

	if (sqlite3_prepare_v2(s->db,
			       "SELECT value FROM meta "
			       "WHERE key = 'schema_version'",
			       -1, &st, NULL) != SQLITE_OK) {
		if (sqlite3_errcode(s->db) != SQLITE_ERROR)
			return db_error(s, err, "reading meta");
		return dm_errorf(err,
				 "%s: not a dmsim database (no meta table)",
				 s->path);
	}
	rc = sqlite3_step(st);
	v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_error(s, err, "reading meta");
	if (v > DM_STORE_SCHEMA_VERSION)
		return dm_errorf(err,
				 "%s: schema version %" PRId64
				 " is newer than this dmsim (reads %d)",
				 s->path, v, DM_STORE_SCHEMA_VERSION);
	if (v != DM_STORE_SCHEMA_VERSION)
		return dm_errorf(err,
				 "%s: not a dmsim database of a known schema "
				 "(schema_version %" PRId64 ", this dmsim "
				 "reads %d)",
				 s->path, v, DM_STORE_SCHEMA_VERSION);
	return 0;
}

/* Creates the schema in an empty file; two writers cannot both do it. */
static int init_schema(struct dm_store *s, struct dm_error *err)
{
	int empty;

	if (exec(s, PAGE_SIZE_SQL, "setting the page size", err) ||
	    exec(s, "BEGIN IMMEDIATE", "creating the schema", err))
		return -1;
	empty = is_empty(s, err);
	if (empty == 1 && create_schema(s, err))
		empty = -1;
	if (empty < 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return exec(s, "COMMIT", "creating the schema", err);
}

static int configure(struct dm_store *s, bool write, struct dm_error *err)
{
	sqlite3_busy_timeout(s->db, BUSY_MS);
	if (write &&
	    (init_schema(s, err) ||
	     exec(s, "PRAGMA journal_mode = WAL", "enabling WAL", err) ||
	     exec(s, "PRAGMA synchronous = NORMAL", "setting synchronous",
		  err)))
		return -1;
	if (!write && is_empty(s, err) == 1)
		return dm_errorf(err, "%s: not a dmsim database (empty)",
				 s->path);
	if (check_version(s, err))
		return -1;
	if (prepare(s, &s->get_blob,
		    "SELECT key, kind, version, data FROM blobs WHERE id = ?1",
		    err) ||
	    prepare(s, &s->get_ckpt,
		    "SELECT state_hash, blob_ids FROM checkpoints "
		    "WHERE run = ?1 AND seq = ?2",
		    err))
		return -1;
	return prepare(s, &s->get_devs,
		       "SELECT idx, name, kind, version FROM run_devices "
		       "WHERE run = ?1 ORDER BY idx",
		       err);
}

int dm_store_open(struct dm_store **out, const char *path, bool write,
		  struct dm_error *err)
{
	struct dm_store *s = calloc(1, sizeof(*s));
	int flags = SQLITE_OPEN_NOMUTEX |
		    (write ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
			   : SQLITE_OPEN_READONLY);

	*out = NULL;
	if (!s || !(s->path = strdup(path))) {
		free(s);
		return dm_errorf(err, "%s: out of memory", path);
	}
	s->batch_max = DEFAULT_BATCH_MAX;
	s->batch_ms = DEFAULT_BATCH_MS;
	if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
		dm_errorf(err, "%s: cannot open: %s", path,
			  s->db ? sqlite3_errmsg(s->db) : "out of memory");
		dm_store_close(s, NULL);
		return -1;
	}
	if (configure(s, write, err)) {
		dm_store_close(s, NULL);
		return -1;
	}
	*out = s;
	return 0;
}

static void forget_run(struct dm_store *s)
{
	for (unsigned i = 0; i < s->ndevices; i++) {
		free(s->dev[i].snap);
		free(s->dev[i].blob);
		map_free(&s->dev[i].written);
	}
	s->ndevices = 0;
	s->run = 0;
}

int dm_store_close(struct dm_store *s, struct dm_error *err)
{
	int rc = 0;

	if (!s)
		return 0;
	if (s->db)
		rc = dm_store_commit(s, err);
	forget_run(s);
	sqlite3_finalize(s->ins_blob);
	sqlite3_finalize(s->ins_ckpt);
	sqlite3_finalize(s->get_blob);
	sqlite3_finalize(s->get_ckpt);
	sqlite3_finalize(s->get_devs);
	free(s->rd);
	if (s->db && sqlite3_close(s->db) != SQLITE_OK && !rc)
		rc = dm_errorf(err, "%s: close: %s", s->path,
			       sqlite3_errmsg(s->db));
	map_free(&s->verified);
	free(s->enc);
	free(s->path);
	free(s);
	return rc;
}

void dm_store_set_batch(struct dm_store *s, unsigned max_checkpoints,
			unsigned max_ms)
{
	s->batch_max = max_checkpoints ? max_checkpoints : 1;
	s->batch_ms = max_ms;
}

void dm_store_stats(const struct dm_store *s, struct dm_store_stats *st)
{
	*st = s->stats;
}

/* ---- writing --------------------------------------------------------- */

int dm_store_commit(struct dm_store *s, struct dm_error *err)
{
	if (!s->in_batch)
		return 0;
	s->in_batch = false;
	if (exec(s, "COMMIT", "committing checkpoints", err)) {
		/* The maps may name blobs the rollback removed. */
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		for (unsigned i = 0; i < s->ndevices; i++) {
			map_clear(&s->dev[i].written);
			s->dev[i].valid = false;
		}
		return -1;
	}
	s->stats.commits++;
	return 0;
}

static int begin_batch(struct dm_store *s, struct dm_error *err)
{
	if (s->in_batch)
		return 0;
	if (exec(s, "BEGIN IMMEDIATE", "starting a batch", err))
		return -1;
	s->in_batch = true;
	s->batch_count = 0;
	s->batch_start_ns = mono_ns();
	return 0;
}

static int hash_file(const char *path, uint64_t *h, struct dm_error *err)
{
	XXH3_state_t *x = XXH3_createState();
	FILE *f = fopen(path, "rb");
	uint8_t buf[65536];
	size_t n;
	int rc = 0;

	if (!f || !x) {
		rc = dm_errorf(err, "%s: cannot read the trace to hash it",
			       path);
	} else {
		XXH3_64bits_reset(x);
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			XXH3_64bits_update(x, buf, n);
		if (ferror(f))
			rc = dm_errorf(err, "%s: read error hashing the trace",
				       path);
		*h = XXH3_64bits_digest(x);
	}
	if (f)
		fclose(f);
	XXH3_freeState(x);
	return rc;
}

static const char *type_name(uint8_t type)
{
	static const char *const names[] = {
		[DM_FT_BOOL] = "bool", [DM_FT_U8] = "u8",
		[DM_FT_U16] = "u16",   [DM_FT_U32] = "u32",
		[DM_FT_U64] = "u64",   [DM_FT_TIMER] = "timer",
	};

	return type < DM_FT_STRUCT ? names[type] : "?";
}

struct layout_ctx {
	struct dm_store *s;
	const struct dm_state_desc *desc;
	sqlite3_stmt *st;
	int64_t ord;
	struct dm_error *err;
};

static int layout_row(const struct dm_layout_leaf *leaf, void *opaque)
{
	struct layout_ctx *c = opaque;
	sqlite3_stmt *st = c->st;

	sqlite3_bind_text(st, 3, leaf->path, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, c->ord++);
	sqlite3_bind_int64(st, 5, (int64_t)leaf->offset);
	sqlite3_bind_int64(st, 6, (int64_t)leaf->size);
	sqlite3_bind_text(st, 7, type_name(leaf->field->type), -1,
			  SQLITE_STATIC);
	sqlite3_bind_int(st, 8, (leaf->field->flags & DM_FF_HEX) != 0);
	return step_done(c->s, st, "storing a field layout", c->err);
}

static int layout_differs(struct layout_ctx *c, const char *at)
{
	return dm_errorf(c->err,
			 "%s: %s v%u is stored with another layout (at %s): "
			 "its state table changed without a version bump",
			 c->s->path, c->desc->name, c->desc->version, at);
}

/* The stored layout's next row (in ord order) is this leaf. */
static int layout_same(const struct dm_layout_leaf *leaf, void *opaque)
{
	struct layout_ctx *c = opaque;
	sqlite3_stmt *st = c->st;
	const char *path;

	if (sqlite3_step(st) != SQLITE_ROW)
		return layout_differs(c, leaf->path);
	path = col_text(st, 0);
	if (!path || strcmp(path, leaf->path) ||
	    col_u64(st, 1) != leaf->offset || col_u64(st, 2) != leaf->size ||
	    !col_text(st, 3) ||
	    strcmp(col_text(st, 3), type_name(leaf->field->type)) ||
	    sqlite3_column_int(st, 4) !=
		    ((leaf->field->flags & DM_FF_HEX) != 0))
		return layout_differs(c, leaf->path);
	return 0;
}

static int check_layout(struct layout_ctx *c)
{
	int rc;

	if (prepare(c->s, &c->st,
		    "SELECT path, offset, size, type, hex FROM field_layout "
		    "WHERE kind = ?1 AND version = ?2 ORDER BY ord",
		    c->err))
		return -1;
	sqlite3_bind_text(c->st, 1, c->desc->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(c->st, 2, c->desc->version);
	rc = dm_state_layout(c->desc, layout_same, c);
	if (!rc && sqlite3_step(c->st) != SQLITE_DONE)
		rc = layout_differs(c, "the end");
	sqlite3_finalize(c->st);
	return rc;
}

/*
 * The layout of a device kind, once per (kind, version) in the file.  A
 * file that already has another layout under the same name and version
 * was written by a build whose table changed without a version bump; its
 * field view would read wrong bytes, so the run is refused.
 */
static int store_layout(struct dm_store *s, const struct dm_state_desc *desc,
			struct dm_error *err)
{
	struct layout_ctx c = {s, desc, NULL, 0, err};
	int rc;

	if (prepare(s, &c.st,
		    "INSERT OR IGNORE INTO field_layout VALUES "
		    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
		    err))
		return -1;
	sqlite3_bind_text(c.st, 1, desc->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(c.st, 2, desc->version);
	rc = dm_state_layout(desc, layout_row, &c);
	sqlite3_finalize(c.st);
	return rc ? rc : check_layout(&c);
}

struct fields_ctx {
	struct dm_store *s;
	sqlite3_stmt *st;
	const char *device;
	struct dm_error *err;
};

static int field_name_row(const struct dm_layout_leaf *leaf, void *opaque)
{
	struct fields_ctx *c = opaque;
	char field[320];

	snprintf(field, sizeof(field), "%s.%s", c->device, leaf->path);
	sqlite3_bind_text(c->st, 2, field, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(c->st, 4, leaf->path, -1, SQLITE_TRANSIENT);
	return step_done(c->s, c->st, "storing field names", c->err);
}

/* run_fields: the run's "device.path" names, so the view's field column
 * is a key that queries can search. */
static int store_field_names(struct dm_store *s, const struct dm_machine *m,
			     struct dm_error *err)
{
	struct fields_ctx c = {s, NULL, NULL, err};
	int rc = 0;

	if (prepare(s, &c.st, "INSERT INTO run_fields VALUES (?1, ?2, ?3, ?4)",
		    err))
		return -1;
	sqlite3_bind_int64(c.st, 1, s->run);
	for (unsigned i = 0; !rc && i < m->ndevices; i++) {
		c.device = m->devices[i].name;
		sqlite3_bind_int(c.st, 3, (int)i);
		rc = dm_state_layout(m->devices[i].desc, field_name_row, &c);
	}
	sqlite3_finalize(c.st);
	return rc;
}

static int store_devices(struct dm_store *s, const struct dm_machine *m,
			 struct dm_error *err)
{
	sqlite3_stmt *st;
	int rc = 0;

	if (prepare(s, &st,
		    "INSERT INTO run_devices VALUES (?1, ?2, ?3, ?4, ?5)", err))
		return -1;
	for (unsigned i = 0; !rc && i < m->ndevices; i++) {
		const struct dm_device *d = &m->devices[i];

		sqlite3_bind_int64(st, 1, s->run);
		sqlite3_bind_int(st, 2, (int)i);
		sqlite3_bind_text(st, 3, d->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, d->desc->name, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 5, d->desc->version);
		rc = step_done(s, st, "storing the device list", err);
		if (!rc && (i == 0 || d->desc != m->devices[i - 1].desc))
			rc = store_layout(s, d->desc, err);
	}
	sqlite3_finalize(st);
	return rc;
}

static int insert_run(struct dm_store *s, const char *command,
		      const char *trace_path, const struct dm_machine *m,
		      struct dm_error *err)
{
	char config[4096];
	sqlite3_stmt *st;
	uint64_t th = 0;
	struct stat sb;
	/* Only a regular file can be read twice: a pipe's bytes are the
	 * replay's, and stdin has no path. */
	bool hashed = trace_path && strcmp(trace_path, "-") &&
		      !stat(trace_path, &sb) && S_ISREG(sb.st_mode);
	int rc;

	if (hashed && hash_file(trace_path, &th, err))
		return -1;
	dm_config_format(&m->cfg, config, sizeof(config));
	if (prepare(s, &st,
		    "INSERT INTO runs(command, trace_path, trace_hash, config,"
		    " dmsim_version, started_at, status) VALUES (?1, ?2, ?3,"
		    " ?4, ?5, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),"
		    " 'running')",
		    err))
		return -1;
	sqlite3_bind_text(st, 1, command, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, trace_path ? trace_path : "-", -1,
			  SQLITE_STATIC);
	if (hashed)
		sqlite3_bind_int64(st, 3, u2i(th));
	sqlite3_bind_text(st, 4, config, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, DMSIM_VERSION, -1, SQLITE_STATIC);
	rc = step_done(s, st, "storing the run", err);
	sqlite3_finalize(st);
	s->run = sqlite3_last_insert_rowid(s->db);
	return rc;
}

static int prepare_writer(struct dm_store *s, struct dm_error *err)
{
	if (!s->ins_blob &&
	    prepare(s, &s->ins_blob,
		    "INSERT INTO blobs(key, kind, version, data) "
		    "VALUES (?1, ?2, ?3, ?4)",
		    err))
		return -1;
	if (!s->ins_ckpt && prepare(s, &s->ins_ckpt,
				    "INSERT INTO checkpoints VALUES "
				    "(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
				    err))
		return -1;
	return 0;
}

/* Per-device writer state for the run's device list. */
static int setup_devices(struct dm_store *s, const struct dm_machine *m,
			 struct dm_error *err)
{
	for (unsigned i = 0; i < m->ndevices; i++) {
		struct dev_cache *c = &s->dev[i];

		*c = (struct dev_cache){.desc = m->devices[i].desc};
		s->ndevices = i + 1;
		c->len = dm_device_encoded_size(&m->devices[i]);
		c->snap = malloc(c->desc->size);
		c->blob = malloc(c->len);
		if (!c->snap || !c->blob)
			return dm_errorf(err, "out of memory");
	}
	return 0;
}

int dm_store_begin_run(struct dm_store *s, const char *command,
		       const char *trace_path, const struct dm_machine *m,
		       int64_t *run, struct dm_error *err)
{
	if (dm_store_commit(s, err) || prepare_writer(s, err))
		return -1;
	forget_run(s);
	if (exec(s, "BEGIN IMMEDIATE", "starting a run", err))
		return -1;
	if (insert_run(s, command, trace_path, m, err) ||
	    store_devices(s, m, err) || store_field_names(s, m, err) ||
	    exec(s, "COMMIT", "starting a run", err)) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		s->run = 0;
		return -1;
	}
	s->seq = 0;
	*run = s->run;
	return setup_devices(s, m, err);
}

/* Writes id as ID_WIDTH decimal digits. */
static void put_id(char *p, int64_t id)
{
	uint64_t v = (uint64_t)id;

	for (int i = ID_WIDTH - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
}

static void use_blob(struct dev_cache *c, int64_t id)
{
	c->id = id;
	put_id(c->id_text, id);
	for (unsigned b = 0; b < 8; b++)
		c->key_le[b] = (uint8_t)(c->key >> (8 * b));
}

/* The blob id of device i's current state, storing the blob if new. */
static int device_blob(struct dm_store *s, unsigned i,
		       const struct dm_device *d, struct dm_error *err)
{
	struct dev_cache *c = &s->dev[i];
	int64_t id;

	if (c->valid && !memcmp(c->snap, d->state, c->desc->size))
		return 0;
	memcpy(c->snap, d->state, c->desc->size);
	c->valid = true;
	dm_device_encode(d, c->blob, c->len);
	c->key = XXH3_64bits(c->blob, c->len);
	id = (int64_t)map_get(&c->written, c->key);
	if (id) {
		use_blob(c, id);
		return 0;
	}
	sqlite3_bind_int64(s->ins_blob, 1, u2i(c->key));
	sqlite3_bind_text(s->ins_blob, 2, c->desc->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(s->ins_blob, 3, c->desc->version);
	sqlite3_bind_blob(s->ins_blob, 4, c->blob, (int)c->len, SQLITE_STATIC);
	if (step_done(s, s->ins_blob, "storing a device blob", err)) {
		c->valid = false;
		return -1;
	}
	use_blob(c, sqlite3_last_insert_rowid(s->db));
	map_put(&c->written, c->key, (uint64_t)c->id);
	s->stats.blobs_written++;
	s->stats.blob_bytes += c->len;
	return 0;
}

static int check_machine(const struct dm_store *s, const struct dm_machine *m,
			 struct dm_error *err)
{
	if (!s->run)
		return dm_errorf(err, "%s: checkpoint outside a run", s->path);
	if (m->ndevices != s->ndevices)
		return dm_errorf(err, "%s: machine has %u devices, the run %u",
				 s->path, m->ndevices, s->ndevices);
	for (unsigned i = 0; i < m->ndevices; i++)
		if (m->devices[i].desc->version != s->dev[i].desc->version ||
		    strcmp(m->devices[i].desc->name, s->dev[i].desc->name))
			return dm_errorf(err,
					 "%s: device %u is not the run's %s",
					 s->path, i, s->dev[i].desc->name);
	return 0;
}

static int insert_ckpt(struct dm_store *s, const struct dm_machine *m,
		       uint64_t event, const char *label, struct dm_error *err)
{
	char ids[DM_MAX_DEVICES * ID_WIDTH];
	uint8_t keys[DM_MAX_DEVICES * 8];
	sqlite3_stmt *st = s->ins_ckpt;

	for (unsigned i = 0; i < s->ndevices; i++) {
		memcpy(ids + i * ID_WIDTH, s->dev[i].id_text, ID_WIDTH);
		memcpy(keys + i * 8, s->dev[i].key_le, 8);
	}
	sqlite3_bind_int64(st, 1, s->run);
	sqlite3_bind_int64(st, 2, u2i(s->seq + 1));
	if (event == DM_STORE_NO_EVENT)
		sqlite3_bind_null(st, 3);
	else
		sqlite3_bind_int64(st, 3, u2i(event));
	sqlite3_bind_int64(st, 4, u2i(m->clock.now));
	/* The same combination as dm_machine_hash. */
	sqlite3_bind_int64(st, 5, u2i(XXH3_64bits(keys, s->ndevices * 8)));
	if (label)
		sqlite3_bind_text(st, 6, label, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, 6);
	sqlite3_bind_text(st, 7, ids, (int)(s->ndevices * ID_WIDTH),
			  SQLITE_STATIC);
	return step_done(s, st, "storing a checkpoint", err);
}

static bool batch_full(const struct dm_store *s)
{
	return s->batch_count >= s->batch_max ||
	       mono_ns() - s->batch_start_ns >=
		       (uint64_t)s->batch_ms * 1000000u;
}

int dm_store_poll(struct dm_store *s, struct dm_error *err)
{
	return s->in_batch && batch_full(s) ? dm_store_commit(s, err) : 0;
}

int dm_store_checkpoint(struct dm_store *s, const struct dm_machine *m,
			uint64_t event, const char *label, uint64_t *seq,
			struct dm_error *err)
{
	if (check_machine(s, m, err) || begin_batch(s, err))
		return -1;
	for (unsigned i = 0; i < s->ndevices; i++)
		if (device_blob(s, i, &m->devices[i], err))
			return -1;
	if (insert_ckpt(s, m, event, label, err))
		return -1;
	s->seq++;
	s->batch_count++;
	s->stats.checkpoints++;
	s->stats.blob_refs += s->ndevices;
	if (seq)
		*seq = s->seq;
	return batch_full(s) ? dm_store_commit(s, err) : 0;
}

int dm_store_end_run(struct dm_store *s, const char *status, uint64_t events,
		     struct dm_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (!s->run)
		return dm_errorf(err, "%s: no run to end", s->path);
	if (begin_batch(s, err) ||
	    prepare(s, &st,
		    "UPDATE runs SET status = ?2, events = ?3, finished_at = "
		    "strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?1",
		    err))
		return -1;
	sqlite3_bind_int64(st, 1, s->run);
	sqlite3_bind_text(st, 2, status, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, u2i(events));
	rc = step_done(s, st, "finishing the run", err);
	sqlite3_finalize(st);
	if (!rc)
		rc = dm_store_commit(s, err);
	forget_run(s);
	return rc;
}

/* ---- reading --------------------------------------------------------- */

/* Steps a query to its end, calling row() on each row; then resets it. */
static int each_row_keep(struct dm_store *s, sqlite3_stmt *st,
			 int (*row)(sqlite3_stmt *st, void *ctx), void *ctx,
			 const char *what, struct dm_error *err)
{
	int rc, stop = 0;

	while (!stop && (rc = sqlite3_step(st)) == SQLITE_ROW)
		stop = row(st, ctx);
	if (!stop && rc != SQLITE_DONE)
		stop = db_error(s, err, what);
	sqlite3_reset(st);
	return stop;
}

/* The same for a statement prepared for this one query. */
static int each_row(struct dm_store *s, sqlite3_stmt *st,
		    int (*row)(sqlite3_stmt *st, void *ctx), void *ctx,
		    const char *what, struct dm_error *err)
{
	int rc = each_row_keep(s, st, row, ctx, what, err);

	sqlite3_finalize(st);
	return rc;
}

struct run_iter {
	dm_store_run_fn fn;
	void *ctx;
	unsigned rows;
};

static int run_row(sqlite3_stmt *st, void *opaque)
{
	struct run_iter *it = opaque;
	struct dm_store_run r = {
		.id = sqlite3_column_int64(st, 0),
		.command = col_str(st, 1),
		.trace_path = col_str(st, 2),
		.has_trace_hash = sqlite3_column_type(st, 3) != SQLITE_NULL,
		.trace_hash = col_u64(st, 3),
		.config = col_str(st, 4),
		.dmsim_version = col_str(st, 5),
		.started_at = col_str(st, 6),
		.finished_at = col_text(st, 7),
		.status = col_str(st, 8),
		.events = col_u64(st, 9),
		.checkpoints = col_u64(st, 10),
	};

	it->rows++;
	return it->fn(&r, it->ctx);
}

int dm_store_runs(struct dm_store *s, int64_t run, dm_store_run_fn fn,
		  void *ctx, struct dm_error *err)
{
	struct run_iter it = {fn, ctx, 0};
	sqlite3_stmt *st;
	int rc;

	if (prepare(s, &st,
		    "SELECT id, command, trace_path, trace_hash, config, "
		    "dmsim_version, started_at, finished_at, status, events, "
		    "(SELECT count(*) FROM checkpoints WHERE run = runs.id) "
		    "FROM runs WHERE ?1 = 0 OR id = ?1 ORDER BY id",
		    err))
		return -1;
	sqlite3_bind_int64(st, 1, run);
	rc = each_row(s, st, run_row, &it, "listing runs", err);
	if (!rc && run && !it.rows)
		return dm_errorf(err, "%s: no run %" PRId64, s->path, run);
	return rc;
}

struct ckpt_iter {
	dm_store_ckpt_fn fn;
	void *ctx;
	unsigned rows;
};

static void read_ckpt(sqlite3_stmt *st, struct dm_store_ckpt *c)
{
	*c = (struct dm_store_ckpt){
		.run = sqlite3_column_int64(st, 0),
		.seq = col_u64(st, 1),
		.event = sqlite3_column_type(st, 2) == SQLITE_NULL
				 ? DM_STORE_NO_EVENT
				 : col_u64(st, 2),
		.time_ns = col_u64(st, 3),
		.state_hash = col_u64(st, 4),
		.label = col_text(st, 5),
	};
}

static int ckpt_row(sqlite3_stmt *st, void *opaque)
{
	struct ckpt_iter *it = opaque;
	struct dm_store_ckpt c;

	read_ckpt(st, &c);
	it->rows++;
	return it->fn(&c, it->ctx);
}

static int need_run(struct dm_store *s, int64_t run, struct dm_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (prepare(s, &st, "SELECT 1 FROM runs WHERE id = ?1", err))
		return -1;
	sqlite3_bind_int64(st, 1, run);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return 0;
	if (rc == SQLITE_DONE)
		return dm_errorf(err, "%s: no run %" PRId64, s->path, run);
	return db_error(s, err, "reading runs");
}

int dm_store_checkpoints(struct dm_store *s, int64_t run, uint64_t seq,
			 dm_store_ckpt_fn fn, void *ctx, struct dm_error *err)
{
	struct ckpt_iter it = {fn, ctx, 0};
	sqlite3_stmt *st;
	int rc;

	if (need_run(s, run, err) ||
	    prepare(s, &st,
		    "SELECT run, seq, event, time_ns, state_hash, label "
		    "FROM checkpoints WHERE run = ?1 AND (?2 = 0 OR seq = ?2) "
		    "ORDER BY seq",
		    err))
		return -1;
	sqlite3_bind_int64(st, 1, run);
	sqlite3_bind_int64(st, 2, u2i(seq));
	rc = each_row(s, st, ckpt_row, &it, "listing checkpoints", err);
	if (!rc && seq && !it.rows)
		return dm_errorf(
			err, "%s: run %" PRId64 " has no checkpoint %" PRIu64,
			s->path, run, seq);
	return rc;
}

/* ---- verification ---------------------------------------------------- */

/* The device list of a run, as recorded. */
struct run_devs {
	unsigned n;
	char name[DM_MAX_DEVICES][32];
	char kind[DM_MAX_DEVICES][32];
	int version[DM_MAX_DEVICES];
};

static int dev_row(sqlite3_stmt *st, void *opaque)
{
	struct run_devs *rd = opaque;
	const char *name = col_text(st, 1), *kind = col_text(st, 2);

	if (rd->n == DM_MAX_DEVICES || sqlite3_column_int64(st, 0) != rd->n ||
	    !name || !kind)
		return -2;
	snprintf(rd->name[rd->n], sizeof(rd->name[0]), "%s", name);
	snprintf(rd->kind[rd->n], sizeof(rd->kind[0]), "%s", kind);
	rd->version[rd->n++] = sqlite3_column_int(st, 3);
	return 0;
}

/* The device list of a run; NULL with err if it cannot be read. */
static const struct run_devs *load_devs(struct dm_store *s, int64_t run,
					struct dm_error *err)
{
	int rc;

	if (s->rd && s->rd_run == run)
		return s->rd;
	if (!s->rd && !(s->rd = malloc(sizeof(*s->rd)))) {
		dm_errorf(err, "out of memory");
		return NULL;
	}
	s->rd_run = 0;
	s->rd->n = 0;
	sqlite3_bind_int64(s->get_devs, 1, run);
	rc = each_row_keep(s, s->get_devs, dev_row, s->rd,
			   "reading the device list", err);
	if (rc == -2 || (!rc && !s->rd->n))
		dm_errorf(err, "%s: run %" PRId64 ": corrupt device list",
			  s->path, run);
	if (rc || !s->rd->n)
		return NULL;
	s->rd_run = run;
	return s->rd;
}

/* A stored checkpoint's blob ids, parsed. */
struct ckpt_ids {
	uint64_t state_hash;
	int64_t id[DM_MAX_DEVICES];
};

/* 0, or -1 with msg when the blob_ids text is malformed. */
static int parse_ids(const char *text, size_t len, unsigned n,
		     struct ckpt_ids *ci, char *msg, size_t cap)
{
	if (!text || len != (size_t)n * ID_WIDTH) {
		snprintf(msg, cap, "blob_ids has %zu characters, expected %u",
			 text ? len : 0, n * ID_WIDTH);
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		int64_t v = 0;

		for (unsigned k = 0; k < ID_WIDTH; k++) {
			char ch = text[i * ID_WIDTH + k];

			if (ch < '0' || ch > '9') {
				snprintf(msg, cap,
					 "blob_ids: '%c' is not a digit", ch);
				return -1;
			}
			v = v * 10 + (ch - '0');
		}
		ci->id[i] = v;
	}
	return 0;
}

/* Fills msg and returns 1 when the current blob row is not device i's
 * state; 0 when it is. */
static int blob_problem(sqlite3_stmt *st, const struct run_devs *rd, unsigned i,
			int64_t id, uint64_t key, char *msg, size_t cap)
{
	const char *kind = col_text(st, 1);
	int version = sqlite3_column_int(st, 2);
	const void *data = sqlite3_column_blob(st, 3);
	uint64_t h = XXH3_64bits(data, (size_t)sqlite3_column_bytes(st, 3));

	if (!kind || strcmp(kind, rd->kind[i]) || version != rd->version[i]) {
		snprintf(msg, cap,
			 "%s: blob %" PRId64 " is a %s v%d, the run's device "
			 "is a %s v%d",
			 rd->name[i], id, kind ? kind : "?", version,
			 rd->kind[i], rd->version[i]);
		return 1;
	}
	if (h == key)
		return 0;
	snprintf(msg, cap,
		 "%s: blob %" PRId64 " hashes to 0x%016" PRIx64
		 ", its key is 0x%016" PRIx64,
		 rd->name[i], id, h, key);
	return 1;
}

/* Room for need bytes in s->enc. */
static int enc_room(struct dm_store *s, size_t need, struct dm_error *err)
{
	uint8_t *p;

	if (need <= s->enc_cap)
		return 0;
	p = realloc(s->enc, need);
	if (!p)
		return dm_errorf(err, "out of memory");
	s->enc = p;
	s->enc_cap = need;
	return 0;
}

/*
 * Reads blob id and checks that it is device i's kind and version and
 * hashes to its key.  Returns 0 with *key (with copy, also the bytes in
 * s->enc and their count in *len), 1 with msg when it is corrupt, -1 on a
 * database error.  Blobs already checked are not read again unless copied.
 */
static int read_blob(struct dm_store *s, const struct run_devs *rd, unsigned i,
		     int64_t id, bool copy, uint64_t *key, size_t *len,
		     char *msg, size_t cap, struct dm_error *err)
{
	sqlite3_stmt *st = s->get_blob;
	size_t n;
	int rc;

	*key = copy ? 0 : map_get(&s->verified, (uint64_t)id);
	if (*key)
		return 0;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		rc = rc == SQLITE_DONE ? 1 : db_error(s, err, "reading a blob");
		sqlite3_reset(st);
		snprintf(msg, cap, "%s: blob %" PRId64 " is missing",
			 rd->name[i], id);
		return rc;
	}
	*key = col_u64(st, 0);
	n = (size_t)sqlite3_column_bytes(st, 3);
	rc = blob_problem(st, rd, i, id, *key, msg, cap);
	if (!rc && copy)
		rc = enc_room(s, n, err);
	if (!rc && copy) {
		memcpy(s->enc, sqlite3_column_blob(st, 3), n);
		*len = n;
	}
	sqlite3_reset(st);
	if (!rc)
		map_put(&s->verified, (uint64_t)id, *key);
	return rc;
}

/* Checks every blob of a checkpoint and the state hash over their keys. */
static int check_ckpt(struct dm_store *s, const struct run_devs *rd,
		      const struct ckpt_ids *ci, char *msg, size_t cap,
		      struct dm_error *err)
{
	uint8_t keys[DM_MAX_DEVICES * 8];
	uint64_t key, h;

	for (unsigned i = 0; i < rd->n; i++) {
		int rc = read_blob(s, rd, i, ci->id[i], false, &key, NULL, msg,
				   cap, err);

		if (rc)
			return rc;
		for (unsigned b = 0; b < 8; b++)
			keys[i * 8 + b] = (uint8_t)(key >> (8 * b));
	}
	h = XXH3_64bits(keys, rd->n * 8);
	if (h == ci->state_hash)
		return 0;
	snprintf(msg, cap,
		 "the device keys hash to 0x%016" PRIx64
		 ", the state hash is 0x%016" PRIx64,
		 h, ci->state_hash);
	return 1;
}

struct verify_ctx {
	struct dm_store *s;
	dm_store_corrupt_fn fn;
	void *ctx;
	const struct run_devs *rd;
	int64_t verified;
	uint64_t corrupt;
	struct dm_error *err;
};

static int verify_row(sqlite3_stmt *st, void *opaque)
{
	struct verify_ctx *v = opaque;
	int64_t run = sqlite3_column_int64(st, 0);
	uint64_t seq = col_u64(st, 1);
	struct ckpt_ids ci = {.state_hash = col_u64(st, 2)};
	char msg[512];
	int rc;

	v->rd = load_devs(v->s, run, v->err);
	if (!v->rd)
		return -1;
	rc = parse_ids(col_text(st, 3), (size_t)sqlite3_column_bytes(st, 3),
		       v->rd->n, &ci, msg, sizeof(msg))
		     ? 1
		     : check_ckpt(v->s, v->rd, &ci, msg, sizeof(msg), v->err);
	if (rc < 0)
		return -1;
	v->verified++;
	if (rc) {
		v->corrupt++;
		if (v->fn)
			v->fn(run, seq, msg, v->ctx);
	}
	return 0;
}

int64_t dm_store_verify(struct dm_store *s, int64_t run, uint64_t seq,
			dm_store_corrupt_fn fn, void *ctx, uint64_t *corrupt,
			struct dm_error *err)
{
	struct verify_ctx *v = calloc(1, sizeof(*v));
	sqlite3_stmt *st;
	int64_t n = -1;

	*corrupt = 0;
	if (!v)
		return dm_errorf(err, "out of memory");
	*v = (struct verify_ctx){.s = s, .fn = fn, .ctx = ctx, .err = err};
	if ((run && need_run(s, run, err)) ||
	    prepare(s, &st,
		    "SELECT run, seq, state_hash, blob_ids FROM checkpoints "
		    "WHERE (?1 = 0 OR run = ?1) AND (?2 = 0 OR seq = ?2) "
		    "ORDER BY run, seq",
		    err)) {
		free(v);
		return -1;
	}
	sqlite3_bind_int64(st, 1, run);
	sqlite3_bind_int64(st, 2, u2i(seq));
	if (!each_row(s, st, verify_row, v, "verifying checkpoints", err)) {
		n = v->verified;
		*corrupt = v->corrupt;
	}
	free(v);
	return n;
}

/* Joins a multi-line SQLite report into one line. */
static int one_line(int rc, struct dm_error *err)
{
	for (char *p = err ? err->msg : NULL; p && *p; p++)
		if (*p == '\n')
			*p = ' ';
	return rc;
}

int dm_store_quick_check(struct dm_store *s, struct dm_error *err)
{
	sqlite3_stmt *st;
	const char *res;
	int rc;

	if (prepare(s, &st, "PRAGMA quick_check(1)", err))
		return -1;
	rc = sqlite3_step(st);
	res = rc == SQLITE_ROW ? col_text(st, 0) : NULL;
	if (rc != SQLITE_ROW)
		rc = db_error(s, err, "checking the file");
	else if (!res || strcmp(res, "ok"))
		rc = one_line(dm_errorf(err, "%s: corrupt database: %s",
					s->path, res ? res : "?"),
			      err);
	else
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}

/* ---- a checkpoint's contents ----------------------------------------- */

/*
 * Reads one checkpoint's row and checks all of it; -1 with err if it is
 * missing or corrupt.  *rdp gets the run's device list.
 */
static int read_verified(struct dm_store *s, int64_t run, uint64_t seq,
			 const struct run_devs **rdp, struct ckpt_ids *ci,
			 struct dm_error *err)
{
	const struct run_devs *rd = load_devs(s, run, err);
	sqlite3_stmt *st = s->get_ckpt;
	char msg[512];
	int rc;

	*rdp = rd;
	if (!rd)
		return -1;
	sqlite3_bind_int64(st, 1, run);
	sqlite3_bind_int64(st, 2, u2i(seq));
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		ci->state_hash = col_u64(st, 0);
		rc = parse_ids(col_text(st, 1),
			       (size_t)sqlite3_column_bytes(st, 1), rd->n, ci,
			       msg, sizeof(msg))
			     ? 1
			     : check_ckpt(s, rd, ci, msg, sizeof(msg), err);
	} else if (rc == SQLITE_DONE) {
		rc = dm_errorf(err,
			       "%s: run %" PRId64 " has no checkpoint %" PRIu64,
			       s->path, run, seq);
	} else {
		rc = db_error(s, err, "reading a checkpoint");
	}
	sqlite3_reset(st);
	if (rc == 1)
		return dm_errorf(err,
				 "%s: run %" PRId64 " checkpoint %" PRIu64
				 " is corrupt: %s",
				 s->path, run, seq, msg);
	return rc;
}

/* Copies device i's blob into s->enc; *len its size. */
static int fetch_blob(struct dm_store *s, const struct run_devs *rd,
		      const struct ckpt_ids *ci, unsigned i, size_t *len,
		      struct dm_error *err)
{
	char msg[512];
	uint64_t key;
	int rc = read_blob(s, rd, i, ci->id[i], true, &key, len, msg,
			   sizeof(msg), err);

	if (rc == 1)
		return dm_errorf(err, "%s: %s", s->path, msg);
	return rc;
}

struct field_ctx {
	struct dm_store *s;
	const struct run_devs *rd;
	const struct ckpt_ids *ci;
	const char *device;
	dm_store_field_fn fn;
	void *ctx;
	unsigned matched;
	struct dm_error *err;
	/* The blob currently in s->enc. */
	int have;
	size_t len;
};

static uint8_t type_of(const char *name)
{
	for (uint8_t t = 0; t < DM_FT_STRUCT; t++)
		if (name && !strcmp(name, type_name(t)))
			return t;
	return DM_FT_STRUCT;
}

static int field_row(sqlite3_stmt *st, void *opaque)
{
	struct field_ctx *c = opaque;
	int idx = sqlite3_column_int(st, 0);
	uint64_t off = col_u64(st, 2), size = col_u64(st, 3), v = 0;
	struct dm_field f = {.type = type_of(col_text(st, 4)),
			     .flags =
				     sqlite3_column_int(st, 5) ? DM_FF_HEX : 0};
	struct dm_store_field leaf = {NULL, col_text(st, 1), &f, 0};

	if (idx < 0 || (unsigned)idx >= c->rd->n)
		return dm_errorf(c->err, "%s: corrupt device list", c->s->path);
	leaf.device = c->rd->name[idx];
	if (idx != c->have) {
		if (fetch_blob(c->s, c->rd, c->ci, (unsigned)idx, &c->len,
			       c->err))
			return -1;
		c->have = idx;
	}
	if (f.type == DM_FT_STRUCT || size > 8 || off > c->len ||
	    size > c->len - off || !leaf.path)
		return dm_errorf(c->err, "%s: corrupt field_layout row for %s",
				 c->s->path, c->rd->kind[idx]);
	for (uint64_t b = 0; b < size; b++)
		v |= (uint64_t)c->s->enc[off + b] << (8 * b);
	leaf.value = v;
	c->matched++;
	return c->fn(&leaf, c->ctx);
}

int dm_store_fields(struct dm_store *s, int64_t run, uint64_t seq,
		    const char *device, dm_store_field_fn fn, void *ctx,
		    struct dm_error *err)
{
	struct ckpt_ids ci;
	struct field_ctx c = {s, NULL, &ci, device, fn, ctx, 0, err, -1, 0};
	sqlite3_stmt *st;
	int rc;

	if (read_verified(s, run, seq, &c.rd, &ci, err) ||
	    prepare(s, &st,
		    "SELECT d.idx, l.path, l.offset, l.size, l.type, l.hex "
		    "FROM run_devices d JOIN field_layout l ON "
		    "l.kind = d.kind AND l.version = d.version "
		    "WHERE d.run = ?1 AND (?2 IS NULL OR d.name = ?2) "
		    "ORDER BY d.idx, l.ord",
		    err))
		return -1;
	sqlite3_bind_int64(st, 1, run);
	if (device)
		sqlite3_bind_text(st, 2, device, -1, SQLITE_STATIC);
	rc = each_row(s, st, field_row, &c, "reading fields", err);
	if (!rc && !c.matched)
		rc = device ? dm_errorf(err,
					"%s: run %" PRId64
					" has no device '%s'",
					s->path, run, device)
			    : dm_errorf(err,
					"%s: run %" PRId64
					" has no field layout",
					s->path, run);
	return rc;
}

/* ---- restoring ------------------------------------------------------- */

static int check_shape(struct dm_store *s, int64_t run,
		       const struct run_devs *rd, const struct dm_machine *m,
		       struct dm_error *err)
{
	if (rd->n != m->ndevices)
		return dm_errorf(err,
				 "%s: run %" PRId64
				 " has %u devices, the machine %u",
				 s->path, run, rd->n, m->ndevices);
	for (unsigned i = 0; i < rd->n; i++) {
		const struct dm_device *d = &m->devices[i];

		if (strcmp(rd->name[i], d->name) ||
		    strcmp(rd->kind[i], d->desc->name) ||
		    rd->version[i] != d->desc->version)
			return dm_errorf(err,
					 "%s: run %" PRId64
					 " device %u is %s (%s v%d), the "
					 "machine's %s (%s v%u)",
					 s->path, run, i, rd->name[i],
					 rd->kind[i], rd->version[i], d->name,
					 d->desc->name, d->desc->version);
	}
	return 0;
}

int dm_store_load_into(struct dm_store *s, int64_t run, uint64_t seq,
		       struct dm_machine *m, struct dm_error *err)
{
	const struct run_devs *rd = NULL;
	struct ckpt_ids ci;
	size_t len = 0;
	int rc = read_verified(s, run, seq, &rd, &ci, err);

	if (!rc)
		rc = check_shape(s, run, rd, m, err);
	for (unsigned i = 0; !rc && i < rd->n; i++) {
		const struct dm_device *d = &m->devices[i];

		rc = fetch_blob(s, rd, &ci, i, &len, err);
		if (!rc && dm_device_load(d, s->enc, len, err))
			rc = dm_error_prefix(
				err, "%s: run %" PRId64 " checkpoint %" PRIu64,
				s->path, run, seq);
	}
	return rc;
}

static int run_config(struct dm_store *s, int64_t run, struct dm_config *cfg,
		      struct dm_error *err)
{
	sqlite3_stmt *st;
	int rc;

	if (prepare(s, &st, "SELECT config FROM runs WHERE id = ?1", err))
		return -1;
	sqlite3_bind_int64(st, 1, run);
	rc = sqlite3_step(st);
	dm_config_defaults(cfg, DM_PROFILE_DATASHEET);
	if (rc == SQLITE_ROW)
		rc = dm_config_parse(
			     cfg, col_text(st, 0) ? col_text(st, 0) : "", err)
			     ? dm_error_prefix(err,
					       "%s: run %" PRId64 " config",
					       s->path, run)
			     : 0;
	else if (rc == SQLITE_DONE)
		rc = dm_errorf(err, "%s: no run %" PRId64, s->path, run);
	else
		rc = db_error(s, err, "reading runs");
	sqlite3_finalize(st);
	return rc;
}

int dm_store_load_machine(struct dm_store *s, int64_t run, uint64_t seq,
			  struct dm_machine **out, struct dm_error *err)
{
	struct dm_config cfg;
	struct dm_machine *m;

	*out = NULL;
	if (run_config(s, run, &cfg, err) || dm_machine_create(&m, &cfg, err))
		return -1;
	if (dm_store_load_into(s, run, seq, m, err)) {
		dm_machine_destroy(m);
		return -1;
	}
	*out = m;
	return 0;
}
