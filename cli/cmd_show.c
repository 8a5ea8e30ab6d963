// SPDX-License-Identifier: MIT
/* dmsim show DB[:RUN[:SEQ]] [--device NAME] [--verify] [--json] */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "cli/cli.h"
#include "replay/store.h"

static void usage(FILE *f)
{
	fputs("usage: dmsim show DB[:RUN[:SEQ]] [--device NAME] [--verify] "
	      "[--json]\n\n"
	      "Shows a checkpoint database written by 'dmsim replay --db': "
	      "its runs (DB),\n"
	      "the checkpoints of a run (DB:RUN), or the fields of one "
	      "checkpoint\n"
	      "(DB:RUN:SEQ), as 'device.path = value'.  A checkpoint whose "
	      "blobs do not\n"
	      "hash to their keys, or whose keys do not hash to its state "
	      "hash, is corrupt.\n\n"
	      "  --device NAME  only this device's fields (with DB:RUN:SEQ)\n"
	      "  --verify       check every checkpoint chosen (all of DB, of "
	      "RUN, or SEQ)\n"
	      "                 and the file itself, and report\n"
	      "  --json         one JSON object on stdout\n\n"
	      "exit status: 0 success, 2 bad usage, bad or corrupt "
	      "database\n",
	      f);
}

struct target {
	char *db;
	int64_t run; /* 0: none given */
	uint64_t seq;
};

/* Cuts a trailing ":<digits>" (1 to INT64_MAX) off s; -1 if none. */
static int split_number(char *s, uint64_t *v)
{
	char *colon = strrchr(s, ':'), *end;

	if (!colon || colon == s || colon[1] < '0' || colon[1] > '9')
		return -1;
	*v = strtoull(colon + 1, &end, 10);
	if (*end || !*v || *v > INT64_MAX)
		return -1;
	*colon = '\0';
	return 0;
}

/*
 * DB[:RUN[:SEQ]].  A path that names an existing file is taken whole, so
 * a database called "a:1" still opens.
 */
static int parse_target(const char *arg, struct target *t)
{
	uint64_t a, b;

	*t = (struct target){strdup(arg), 0, 0};
	if (!t->db)
		return -1;
	if (!access(arg, F_OK) || split_number(t->db, &a))
		return 0;
	if (split_number(t->db, &b)) {
		t->run = (int64_t)a;
		return 0;
	}
	t->run = (int64_t)b;
	t->seq = a;
	return 0;
}

static void json_string(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_or_null(const char *s)
{
	if (s)
		json_string(s);
	else
		fputs("null", stdout);
}

/* "kvm/1a2b3c4d": the profile, then the XXH3 of the whole config. */
static void config_digest(const char *config, char *buf, size_t cap)
{
	const char *p = strstr(config, "profile=");
	size_t n = p ? strcspn(p + 8, " ") : 1;

	snprintf(buf, cap, "%.*s/%08" PRIx64, (int)n, p ? p + 8 : "?",
		 XXH3_64bits(config, strlen(config)) >> 32);
}

struct show {
	struct dm_store *s;
	bool json;
	bool first;
	uint64_t verified;
	uint64_t corrupt;
	struct dm_error *err;
};

static void sep(struct show *sh)
{
	if (!sh->first)
		putchar(',');
	sh->first = false;
}

static int print_run(const struct dm_store_run *r, void *opaque)
{
	struct show *sh = opaque;
	char digest[64];

	config_digest(r->config ? r->config : "", digest, sizeof(digest));
	if (!sh->json) {
		printf("%-4" PRId64 " %-13s %-8s %11" PRIu64 " %10" PRIu64
		       "  %-22s %s\n",
		       r->id, r->command, r->status, r->checkpoints, r->events,
		       digest, r->trace_path);
		return 0;
	}
	sep(sh);
	printf("\n  {\"id\":%" PRId64 ",\"command\":", r->id);
	json_string(r->command);
	fputs(",\"trace\":", stdout);
	json_string(r->trace_path);
	if (r->has_trace_hash)
		printf(",\"trace_hash\":\"0x%016" PRIx64 "\"", r->trace_hash);
	fputs(",\"config\":", stdout);
	json_string(r->config);
	fputs(",\"dmsim_version\":", stdout);
	json_string(r->dmsim_version);
	fputs(",\"started_at\":", stdout);
	json_string(r->started_at);
	fputs(",\"finished_at\":", stdout);
	json_or_null(r->finished_at);
	fputs(",\"status\":", stdout);
	json_string(r->status);
	printf(",\"events\":%" PRIu64 ",\"checkpoints\":%" PRIu64 "}",
	       r->events, r->checkpoints);
	return 0;
}

static int show_runs(struct show *sh)
{
	int rc;

	if (sh->json)
		fputs("{\"runs\":[", stdout);
	else
		printf("%-4s %-13s %-8s %11s %10s  %-22s %s\n", "run",
		       "command", "status", "checkpoints", "events", "config",
		       "trace");
	rc = dm_store_runs(sh->s, 0, print_run, sh, sh->err);
	if (sh->json && !rc)
		fputs("\n]}\n", stdout);
	return rc;
}

static int print_ckpt(const struct dm_store_ckpt *c, void *opaque)
{
	struct show *sh = opaque;
	char event[24] = "-";

	if (c->event != DM_STORE_NO_EVENT)
		snprintf(event, sizeof(event), "%" PRIu64, c->event);
	if (!sh->json) {
		printf("%-8" PRIu64 " %10s %16" PRIu64 "  0x%016" PRIx64
		       "  %s\n",
		       c->seq, event, c->time_ns, c->state_hash,
		       c->label ? c->label : "");
		return 0;
	}
	sep(sh);
	printf("\n  {\"seq\":%" PRIu64 ",\"event\":%s,\"time_ns\":%" PRIu64
	       ",\"state_hash\":\"0x%016" PRIx64 "\",\"label\":",
	       c->seq, c->event == DM_STORE_NO_EVENT ? "null" : event,
	       c->time_ns, c->state_hash);
	json_or_null(c->label);
	putchar('}');
	return 0;
}

static int show_checkpoints(struct show *sh, int64_t run)
{
	int rc;

	if (sh->json)
		printf("{\"run\":%" PRId64 ",\"checkpoints\":[", run);
	else
		printf("%-8s %10s %16s  %-18s  %s\n", "seq", "event", "time_ns",
		       "state_hash", "label");
	rc = dm_store_checkpoints(sh->s, run, 0, print_ckpt, sh, sh->err);
	if (sh->json && !rc)
		fputs("\n]}\n", stdout);
	return rc;
}

static int print_field(const struct dm_store_field *f, void *opaque)
{
	struct show *sh = opaque;
	struct dm_leaf leaf = {f->path, f->field, f->value};
	char val[32], name[320];

	dm_leaf_format(&leaf, val, sizeof(val));
	snprintf(name, sizeof(name), "%s.%s", f->device, f->path);
	if (!sh->json) {
		printf("%s = %s\n", name, val);
		return 0;
	}
	sep(sh);
	fputs("\n  ", stdout);
	json_string(name);
	putchar(':');
	json_string(val);
	return 0;
}

/* The checkpoint's header: its row, as dm_store_checkpoints gives it. */
static int print_header(const struct dm_store_ckpt *c, void *opaque)
{
	struct show *sh = opaque;
	char event[24] = "none";

	if (c->event != DM_STORE_NO_EVENT)
		snprintf(event, sizeof(event), "%" PRIu64, c->event);
	if (sh->json) {
		printf("{\"run\":%" PRId64 ",\"seq\":%" PRIu64
		       ",\"event\":%s,\"time_ns\":%" PRIu64
		       ",\"state_hash\":\"0x%016" PRIx64 "\",\"label\":",
		       c->run, c->seq,
		       c->event == DM_STORE_NO_EVENT ? "null" : event,
		       c->time_ns, c->state_hash);
		json_or_null(c->label);
		fputs(",\"fields\":{", stdout);
		return 0;
	}
	printf("run %" PRId64 " checkpoint %" PRIu64 ": after event %s, "
	       "t=%" PRIu64 " ns, state hash 0x%016" PRIx64 "%s%s\n",
	       c->run, c->seq, event, c->time_ns, c->state_hash,
	       c->label ? ", label " : "", c->label ? c->label : "");
	return 0;
}

static int count_field(const struct dm_store_field *f, void *opaque)
{
	(void)f;
	(void)opaque;
	return 0;
}

static int show_fields(struct show *sh, const struct target *t,
		       const char *device)
{
	int rc;

	/* A dry pass verifies the checkpoint and the device name, so an
	 * error never follows partial output. */
	if (dm_store_fields(sh->s, t->run, t->seq, device, count_field, NULL,
			    sh->err))
		return -1;
	rc = dm_store_checkpoints(sh->s, t->run, t->seq, print_header, sh,
				  sh->err);
	if (!rc)
		rc = dm_store_fields(sh->s, t->run, t->seq, device, print_field,
				     sh, sh->err);
	if (sh->json && !rc)
		fputs("\n}}\n", stdout);
	return rc;
}

static void print_corrupt(int64_t run, uint64_t seq, const char *msg,
			  void *opaque)
{
	struct show *sh = opaque;

	if (!sh->json) {
		printf("run %" PRId64 " checkpoint %" PRIu64 ": corrupt: %s\n",
		       run, seq, msg);
		return;
	}
	sep(sh);
	printf("\n  {\"run\":%" PRId64 ",\"seq\":%" PRIu64 ",\"error\":", run,
	       seq);
	json_string(msg);
	putchar('}');
}

static int verify_run(const struct dm_store_run *r, void *opaque)
{
	struct show *sh = opaque;
	uint64_t corrupt;
	int64_t n = dm_store_verify(sh->s, r->id, 0, print_corrupt, sh,
				    &corrupt, sh->err);

	if (n < 0)
		return -1;
	sh->verified += (uint64_t)n;
	sh->corrupt += corrupt;
	if (sh->json)
		return 0;
	if (corrupt)
		printf("run %" PRId64 " (%s): %" PRId64 " checkpoints, %" PRIu64
		       " corrupt\n",
		       r->id, r->status, n, corrupt);
	else
		printf("run %" PRId64 " (%s): %" PRId64
		       " checkpoints, all verified\n",
		       r->id, r->status, n);
	return 0;
}

static int show_verify(struct show *sh, const struct target *t)
{
	int64_t n;
	int rc = 0;

	if (dm_store_quick_check(sh->s, sh->err))
		return -1;
	if (sh->json)
		fputs("{\"corrupt\":[", stdout);
	if (t->seq) {
		n = dm_store_verify(sh->s, t->run, t->seq, print_corrupt, sh,
				    &sh->corrupt, sh->err);
		if (n == 0)
			dm_errorf(sh->err,
				  "%s: run %" PRId64
				  " has no checkpoint %" PRIu64,
				  t->db, t->run, t->seq);
		if (n <= 0)
			return -1;
		sh->verified = (uint64_t)n;
	} else {
		rc = dm_store_runs(sh->s, t->run, verify_run, sh, sh->err);
	}
	if (rc)
		return -1;
	if (sh->json)
		printf("\n],\"verified\":%" PRIu64 ",\"corrupt_count\":%" PRIu64
		       "}\n",
		       sh->verified, sh->corrupt);
	else
		printf("%" PRIu64 " checkpoints verified, %" PRIu64
		       " corrupt\n",
		       sh->verified, sh->corrupt);
	return sh->corrupt ? 1 : 0;
}

static int run_show(const struct target *t, const char *device, bool verify,
		    bool json)
{
	struct dm_error err = {""};
	struct show sh = {.json = json, .first = true, .err = &err};
	int rc;

	if (dm_store_open(&sh.s, t->db, false, &err)) {
		fprintf(stderr, "dmsim show: %s\n", err.msg);
		return DM_EXIT_USAGE;
	}
	if (verify)
		rc = show_verify(&sh, t);
	else if (t->seq)
		rc = show_fields(&sh, t, device);
	else if (t->run)
		rc = show_checkpoints(&sh, t->run);
	else
		rc = show_runs(&sh);
	dm_store_close(sh.s, NULL);
	if (rc < 0)
		fprintf(stderr, "dmsim show: %s\n", err.msg);
	if (rc > 0)
		fprintf(stderr,
			"dmsim show: %s: %" PRIu64 " corrupt checkpoints\n",
			t->db, sh.corrupt);
	return rc ? DM_EXIT_USAGE : DM_EXIT_OK;
}

int dm_cmd_show(int argc, char **argv)
{
	const char *arg = NULL, *device = NULL;
	bool verify = false, json = false;
	struct target t;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return DM_EXIT_OK;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--verify")) {
			verify = true;
		} else if (!strcmp(argv[i], "--device") && i + 1 < argc) {
			device = argv[++i];
		} else if (argv[i][0] == '-' || arg) {
			fprintf(stderr, "dmsim show: unexpected '%s'\n",
				argv[i]);
			usage(stderr);
			return DM_EXIT_USAGE;
		} else {
			arg = argv[i];
		}
	}
	if (!arg) {
		usage(stderr);
		return DM_EXIT_USAGE;
	}
	if (parse_target(arg, &t)) {
		fprintf(stderr, "dmsim show: bad target '%s'\n", arg);
		free(t.db);
		return DM_EXIT_USAGE;
	}
	if (device && (!t.seq || verify)) {
		fprintf(stderr, "dmsim show: --device needs DB:RUN:SEQ\n");
		free(t.db);
		return DM_EXIT_USAGE;
	}
	rc = run_show(&t, device, verify, json);
	free(t.db);
	return rc;
}
