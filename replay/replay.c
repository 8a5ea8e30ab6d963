// SPDX-License-Identifier: MIT
#include "replay/replay.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "replay/store.h"
#include "replay/tolerance.h"

static int step_access(struct dm_machine *m, const struct dm_event *ev,
		       struct dm_outcome *out, struct dm_error *err)
{
	bool write = ev->op == DM_OP_PIO_W || ev->op == DM_OP_MMIO_W ||
		     ev->op == DM_OP_MSR_W;
	uint64_t value = ev->value;
	enum dm_access r;

	switch (ev->op) {
	case DM_OP_PIO_R:
	case DM_OP_PIO_W:
		r = dm_machine_pio(m, ev->time, ev->cpu, (uint16_t)ev->addr,
				   ev->size, write, &value);
		break;
	case DM_OP_MMIO_R:
	case DM_OP_MMIO_W:
		r = dm_machine_mmio(m, ev->time, ev->cpu, ev->addr, ev->size,
				    write, &value);
		break;
	default:
		r = dm_machine_msr(m, ev->time, ev->cpu, (uint32_t)ev->addr,
				   write, &value);
		break;
	}
	if (r == DM_ACCESS_INVALID)
		return dm_errorf(err,
				 "cpu%u %s 0x%" PRIx64
				 " size %u: the machine has no such vcpu "
				 "or access size",
				 ev->cpu, dm_op_name(ev->op), ev->addr,
				 ev->size);
	out->fault = r == DM_ACCESS_GP;
	if (out->fault || (ev->flags & DM_EV_GP)) {
		/* A #GP must be where the trace has one, and nowhere else. */
		out->mismatch = out->fault != !!(ev->flags & DM_EV_GP);
		out->actual = value;
		out->has_actual = !out->fault && !write;
		return 0;
	}
	if (!write) {
		out->actual = value;
		out->has_actual = true;
		out->mismatch = (ev->flags & DM_EV_VALUE) && value != ev->value;
	}
	return 0;
}

/*
 * A signal event checks the oldest unchecked NMI, INIT, SIPI or SMI that
 * reached the vcpu: actual = event kind << 8 | vector, or -1 for none.
 */
static int step_signal(struct dm_machine *m, const struct dm_event *ev,
		       struct dm_outcome *out, struct dm_error *err)
{
	static const enum dm_vcpu_event want_of[] = {
		[DM_OP_NMI] = DM_VCPU_NMI,
		[DM_OP_INIT] = DM_VCPU_INIT,
		[DM_OP_SIPI] = DM_VCPU_SIPI,
		[DM_OP_SMI] = DM_VCPU_SMI,
	};
	enum dm_vcpu_event got;
	uint8_t vector;

	if (ev->cpu >= m->cfg.vcpus)
		return dm_errorf(err, "cpu%u: the machine has %u vcpus",
				 ev->cpu, m->cfg.vcpus);
	dm_machine_advance(m, ev->time);
	out->has_actual = true;
	if (!dm_machine_take_signal(m, ev->cpu, &got, &vector)) {
		out->actual = UINT64_MAX;
		out->mismatch = true;
		return 0;
	}
	out->actual = (uint64_t)got << 8 | vector;
	out->mismatch = got != want_of[ev->op] ||
			((ev->flags & DM_EV_VALUE) && vector != ev->value);
	return 0;
}

/*
 * A dev irq event.  With pit_irq0=off, a raise of IRQ0 is also a check of
 * the PIT: it answers the PIT ticks waiting, the oldest at most
 * pit_irq0_late_ns before (actual: how long, UINT64_MAX without a tick),
 * and none may have been pushed out unanswered.
 */
static int step_irq(struct dm_machine *m, const struct dm_event *ev,
		    struct dm_outcome *out, struct dm_error *err)
{
	bool rise = ev->addr == 0 && ev->value &&
		    !(m->ms.isa_src[0] & 1u << DM_SRC_DEV);

	if (dm_machine_set_gsi(m, ev->time, (uint32_t)ev->addr, ev->value != 0,
			       err))
		return -1;
	if (!rise || !dm_machine_pit_raised(m, &out->actual, &out->lost))
		return 0;
	out->has_actual = true;
	out->mismatch = out->actual > m->cfg.pit_irq0_late_ns || out->lost;
	return 0;
}

static int step_event(struct dm_machine *m, const struct dm_event *ev,
		      struct dm_outcome *out, struct dm_error *err);

int dm_replay_step(struct dm_machine *m, const struct dm_event *ev,
		   struct dm_outcome *out, struct dm_error *err)
{
	if (step_event(m, ev, out, err))
		return -1;
	if (m->storm_at)
		return dm_errorf(err,
				 "event storm: the devices fired over %llu "
				 "timer events on the way to t=%" PRIu64
				 " ns and stopped at t=%" PRIu64
				 " ns (a period far too short for the time the "
				 "trace lets pass)",
				 DM_EVENT_BUDGET, m->storm_at, m->clock.now);
	return 0;
}

static int step_event(struct dm_machine *m, const struct dm_event *ev,
		      struct dm_outcome *out, struct dm_error *err)
{
	int vector;

	*out = (struct dm_outcome){0};
	switch (ev->op) {
	case DM_OP_IRQ:
		return step_irq(m, ev, out, err);
	case DM_OP_MSI:
		dm_machine_msi(m, ev->time, ev->addr, (uint32_t)ev->value);
		return 0;
	case DM_OP_THREAD:
		return dm_machine_thread(m, ev->time, (uint32_t)ev->addr,
					 ev->value, err);
	case DM_OP_INTACK:
		if (ev->cpu >= m->cfg.vcpus)
			return dm_errorf(err, "cpu%u: the machine has %u vcpus",
					 ev->cpu, m->cfg.vcpus);
		vector = dm_machine_intack(m, ev->time, ev->cpu);
		out->has_actual = true;
		out->actual = (uint64_t)(int64_t)vector;
		out->mismatch = (ev->flags & DM_EV_VALUE) &&
				(vector < 0 || (uint64_t)vector != ev->value);
		return 0;
	case DM_OP_MARK:
		dm_machine_advance(m, ev->time);
		return 0;
	case DM_OP_HASH:
		dm_machine_advance(m, ev->time);
		out->has_actual = true;
		out->actual = dm_machine_hash(m);
		out->mismatch =
			(ev->flags & DM_EV_VALUE) && out->actual != ev->value;
		return 0;
	case DM_OP_NMI:
	case DM_OP_INIT:
	case DM_OP_SIPI:
	case DM_OP_SMI:
		return step_signal(m, ev, out, err);
	default:
		return step_access(m, ev, out, err);
	}
}

const struct dm_device *dm_replay_device_for(const struct dm_machine *m,
					     const struct dm_event *ev)
{
	switch (ev->op) {
	case DM_OP_PIO_R:
	case DM_OP_PIO_W:
		return dm_machine_device_at(m, ev->cpu, false, ev->addr);
	case DM_OP_MMIO_R:
	case DM_OP_MMIO_W:
		return dm_machine_device_at(m, ev->cpu, true, ev->addr);
	case DM_OP_MSR_R:
	case DM_OP_MSR_W:
	case DM_OP_INTACK:
		if (ev->cpu < m->cfg.vcpus)
			return &m->devices[DM_FIXED_DEVICES + ev->cpu];
		return NULL;
	default:
		return dm_machine_device(m, "machine");
	}
}

/* ---- the report ------------------------------------------------------ */

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

struct dump_ctx {
	FILE *f;
	bool json;
	bool first;
};

static int dump_leaf(const struct dm_leaf *leaf, void *opaque)
{
	struct dump_ctx *ctx = opaque;
	char val[32];

	dm_leaf_format(leaf, val, sizeof(val));
	if (ctx->json) {
		fputs(ctx->first ? "" : ",", ctx->f);
		json_string(ctx->f, leaf->path);
		fputc(':', ctx->f);
		json_string(ctx->f, val);
	} else {
		fprintf(ctx->f, "    %s = %s\n", leaf->path, val);
	}
	ctx->first = false;
	return 0;
}

static const char *const signal_names[] = {
	[DM_VCPU_NMI] = "nmi",
	[DM_VCPU_INIT] = "init",
	[DM_VCPU_SIPI] = "sipi",
	[DM_VCPU_SMI] = "smi",
};

/* A signal outcome: "sipi 0x9f", or "no signal". */
static void format_signal(uint64_t actual, char *buf, size_t n)
{
	if (actual == UINT64_MAX)
		snprintf(buf, n, "no signal");
	else
		snprintf(buf, n, "%s 0x%" PRIx64,
			 signal_names[(actual >> 8) & 3], actual & 0xff);
}

/* How an IRQ0 raise failed to answer the PIT's ticks. */
static void format_pit_raise(const struct dm_machine *m,
			     const struct dm_outcome *o, char *exp, size_t ne,
			     char *act, size_t na)
{
	snprintf(exp, ne, "a PIT tick at most %" PRIu64 " ns before",
		 m->cfg.pit_irq0_late_ns);
	if (o->lost)
		snprintf(act, na,
			 "%" PRIu32 " PIT ticks before it never raised",
			 o->lost);
	else if (o->actual == UINT64_MAX)
		snprintf(act, na, "no PIT tick waiting");
	else
		snprintf(act, na, "its tick %" PRIu64 " ns before", o->actual);
}

static void format_expected(const struct dm_machine *m,
			    const struct dm_event *ev,
			    const struct dm_outcome *o, char *exp, size_t ne,
			    char *act, size_t na)
{
	if (ev->op == DM_OP_IRQ) {
		format_pit_raise(m, o, exp, ne, act, na);
		return;
	}
	if (dm_op_is_signal(ev->op)) {
		if (ev->flags & DM_EV_VALUE)
			snprintf(exp, ne, "%s 0x%" PRIx64, dm_op_name(ev->op),
				 ev->value);
		else
			snprintf(exp, ne, "%s", dm_op_name(ev->op));
		format_signal(o->actual, act, na);
		return;
	}
	if (o->fault || (ev->flags & DM_EV_GP)) {
		snprintf(exp, ne, "%s",
			 ev->flags & DM_EV_GP ? "#GP"
					      : "the access to complete");
		if (o->fault)
			snprintf(act, na, "#GP");
		else if (o->has_actual)
			snprintf(act, na, "0x%" PRIx64, o->actual);
		else
			snprintf(act, na, "the write completing");
		return;
	}
	snprintf(exp, ne, "0x%" PRIx64, ev->value);
	if (ev->op == DM_OP_INTACK && (int64_t)o->actual < 0)
		snprintf(act, na, "no interrupt");
	else
		snprintf(act, na, "0x%" PRIx64, o->actual);
}

static void report_divergence(const struct dm_replay_opts *opts,
			      const struct dm_machine *m, uint64_t index,
			      const struct dm_event *ev,
			      const struct dm_outcome *o, uint64_t nth)
{
	const struct dm_device *dev = dm_replay_device_for(m, ev);
	char line[512], exp[64], act[64];
	bool full = nth <= opts->max_reported;
	struct dump_ctx ctx = {opts->out, opts->json, true};

	dm_event_format(ev, line, sizeof(line));
	format_expected(m, ev, o, exp, sizeof(exp), act, sizeof(act));
	if (opts->json) {
		fprintf(opts->out,
			"%s\n    {\"event\":%" PRIu64 ",\"time_ns\":%" PRIu64
			",\"access\":",
			nth > 1 ? "," : "", index, ev->time);
		json_string(opts->out, line);
		fputs(",\"expected\":", opts->out);
		json_string(opts->out, exp);
		fputs(",\"actual\":", opts->out);
		json_string(opts->out, act);
		if (dev && full) {
			fputs(",\"device\":", opts->out);
			json_string(opts->out, dev->name);
			fputs(",\"state\":{", opts->out);
			dm_state_walk(dev->desc, dev->state, dump_leaf, &ctx);
			fputc('}', opts->out);
		}
		fputc('}', opts->out);
		return;
	}
	fprintf(opts->out,
		"divergence at event %" PRIu64 " (t=%" PRIu64 " ns): %s\n"
		"  expected %s, got %s\n",
		index, ev->time, line, exp, act);
	if (dev && full) {
		fprintf(opts->out, "  %s state:\n", dev->name);
		dm_state_walk(dev->desc, dev->state, dump_leaf, &ctx);
	}
}

static void count_event(struct dm_replay_stats *s, const struct dm_event *ev)
{
	s->events++;
	switch (ev->op) {
	case DM_OP_PIO_R:
	case DM_OP_MMIO_R:
	case DM_OP_MSR_R:
		if (ev->flags & DM_EV_VALUE)
			s->reads_checked++;
		else
			s->reads_recorded++;
		break;
	case DM_OP_PIO_W:
	case DM_OP_MMIO_W:
	case DM_OP_MSR_W:
		s->writes++;
		break;
	case DM_OP_IRQ:
	case DM_OP_MSI:
		s->irqs++;
		break;
	case DM_OP_THREAD:
		s->threads++;
		break;
	case DM_OP_INTACK:
		s->intacks++;
		break;
	case DM_OP_NMI:
	case DM_OP_INIT:
	case DM_OP_SIPI:
	case DM_OP_SMI:
		s->signals++;
		break;
	case DM_OP_MARK:
		s->marks++;
		break;
	default:
		if (ev->flags & DM_EV_VALUE)
			s->hashes_checked++;
		break;
	}
}

static void count_pit_raise(struct dm_replay_stats *s,
			    const struct dm_event *ev,
			    const struct dm_outcome *o)
{
	if (ev->op != DM_OP_IRQ || !o->has_actual)
		return;
	s->pit_raises++;
	if (!o->lost && o->actual != UINT64_MAX &&
	    o->actual > s->pit_raise_late_ns)
		s->pit_raise_late_ns = o->actual;
}

/*
 * pit_irq0=off: the trace ended with PIT ticks it never raised, beyond
 * pit_irq0_late_ns of its end (a tick that recent may still have been on
 * its way): a divergence, reported after the others.
 */
static void check_unraised(const struct dm_replay_opts *opts,
			   const struct dm_machine *m,
			   struct dm_replay_stats *s)
{
	const struct dm_machine_state *ms = &m->ms;
	uint64_t now = m->clock.now, bound = m->cfg.pit_irq0_late_ns;
	uint32_t n = ms->pit_ticks_lost;
	char act[96];

	if (m->cfg.pit_irq0 || !bound)
		return;
	for (unsigned i = 0; i < ms->npit_ticks; i++)
		n += now - ms->pit_tick[i] > bound;
	if (!n)
		return;
	snprintf(act, sizeof(act), "%" PRIu32 " PIT ticks never raised", n);
	s->divergences++;
	if (opts->json) {
		fprintf(opts->out,
			"%s\n    {\"event\":%" PRIu64 ",\"time_ns\":%" PRIu64
			",\"access\":\"end of trace\",\"expected\":\"every "
			"PIT tick raised\",\"actual\":\"%s\"}",
			s->divergences > 1 ? "," : "", s->events, now, act);
		return;
	}
	fprintf(opts->out,
		"divergence at the end of the trace (t=%" PRIu64 " ns)\n"
		"  expected every PIT tick raised within %" PRIu64
		" ns, got %s\n",
		now, bound, act);
}

static void report_header(const struct dm_replay_opts *opts, const char *path,
			  const char *encoding, const char *config)
{
	if (!opts->json)
		return;
	fputs("{\"trace\":", opts->out);
	json_string(opts->out, path);
	fputs(",\"encoding\":", opts->out);
	json_string(opts->out, encoding);
	fputs(",\"machine\":", opts->out);
	json_string(opts->out, config);
	fputs(",\"divergences\":[", opts->out);
}

/* The residual histogram: |delta| < 1, 2, 4, ... us, and the rest. */
static void report_tolerance(const struct dm_replay_opts *opts,
			     const struct dm_tolerance *t)
{
	FILE *f = opts->out;

	if (opts->json) {
		fprintf(f,
			",\"tolerance\":{\"ns\":%" PRIu64
			",\"accepted\":%" PRIu64 ",\"max_residual_ns\":%" PRIu64
			",\"adopted\":%" PRIu64 ",\"max_adopted_ns\":%" PRIu64
			",\"histogram\":[",
			t->ns, t->accepted, t->max_residual_ns, t->adopted,
			t->max_adopted_ns);
		for (unsigned b = 0; b < DM_TOL_BUCKETS; b++)
			fprintf(f, "%s%" PRIu64, b ? "," : "", t->histogram[b]);
		fputs("]}", f);
		return;
	}
	fprintf(f,
		"tolerance:   %" PRIu64 " ns: %" PRIu64
		" time-derived outputs matched off their timestamp "
		"(max %" PRIu64 " ns)\n",
		t->ns, t->accepted, t->max_residual_ns);
	if (t->adopted)
		fprintf(f,
			"  start writes and intacks moved: %" PRIu64
			" (max %" PRIu64 " ns off their line)\n",
			t->adopted, t->max_adopted_ns);
	if (!t->accepted)
		return;
	fputs("  residuals:", f);
	for (unsigned b = 0; b < DM_TOL_BUCKETS; b++) {
		if (b + 1 < DM_TOL_BUCKETS)
			fprintf(f, " <%uus %" PRIu64, 1u << b, t->histogram[b]);
		else
			fprintf(f, " >=%uus %" PRIu64, 1u << (b - 1),
				t->histogram[b]);
	}
	fputc('\n', f);
}

static void report_store(const struct dm_replay_opts *opts,
			 const struct dm_replay_stats *s)
{
	if (!opts->store)
		return;
	if (opts->json)
		fprintf(opts->out,
			",\"run\":%" PRId64 ",\"checkpoints\":%" PRIu64, s->run,
			s->checkpoints);
	else
		fprintf(opts->out,
			"checkpoints: %" PRIu64 " (run %" PRId64 ")\n",
			s->checkpoints, s->run);
}

static void report_summary(const struct dm_replay_opts *opts, const char *path,
			   const char *encoding, const char *config,
			   const struct dm_replay_stats *s,
			   const struct dm_machine *m,
			   const struct dm_tolerance *tol)
{
	uint64_t hash = dm_machine_hash(m);

	if (opts->json) {
		fprintf(opts->out,
			"%s],\"divergence_count\":%" PRIu64
			",\"events\":%" PRIu64 ",\"reads_checked\":%" PRIu64
			",\"reads_recorded\":%" PRIu64 ",\"writes\":%" PRIu64
			",\"irqs\":%" PRIu64 ",\"intacks\":%" PRIu64
			",\"intacks_none\":%" PRIu64 ",\"signals\":%" PRIu64
			",\"marks\":%" PRIu64 ",\"threads\":%" PRIu64
			",\"hashes_checked\":%" PRIu64 ",\"faults\":%" PRIu64
			",\"final_time_ns\":%" PRIu64 ",\"tolerated\":%" PRIu64
			",\"pit_raises\":%" PRIu64
			",\"pit_raise_late_ns\":%" PRIu64
			",\"state_hash\":\"0x%016" PRIx64 "\"",
			s->divergences ? "\n  " : "", s->divergences, s->events,
			s->reads_checked, s->reads_recorded, s->writes, s->irqs,
			s->intacks, s->intacks_none, s->signals, s->marks,
			s->threads, s->hashes_checked, s->faults, m->clock.now,
			s->tolerated, s->pit_raises, s->pit_raise_late_ns,
			hash);
		report_store(opts, s);
		if (tol->ns)
			report_tolerance(opts, tol);
		fputs("}\n", opts->out);
		return;
	}
	fprintf(opts->out,
		"trace:       %s (%s)\n"
		"machine:     %s\n"
		"events:      %" PRIu64 " (%" PRIu64 " reads checked, %" PRIu64
		" recorded, %" PRIu64 " writes, %" PRIu64 " irq/msi, %" PRIu64
		" intack, %" PRIu64 " signal, %" PRIu64 " thread, %" PRIu64
		" hash checks)\n"
		"divergences: %" PRIu64 "\n"
		"final time:  %" PRIu64 " ns\n"
		"state hash:  0x%016" PRIx64 "\n",
		path, encoding, config, s->events, s->reads_checked,
		s->reads_recorded, s->writes, s->irqs, s->intacks, s->signals,
		s->threads, s->hashes_checked, s->divergences, m->clock.now,
		hash);
	if (s->pit_raises)
		fprintf(opts->out,
			"irq0:        %" PRIu64 " raises checked against the "
			"PIT's ticks (the latest %" PRIu64
			" ns after its tick)\n",
			s->pit_raises, s->pit_raise_late_ns);
	if (s->intacks_none)
		fprintf(opts->out,
			"intacks:     %" PRIu64
			" unchecked found no interrupt\n",
			s->intacks_none);
	report_store(opts, s);
	if (tol->ns)
		report_tolerance(opts, tol);
}

int dm_replay_config(struct dm_trace_reader *r, const char *machine_opts,
		     struct dm_config *cfg, struct dm_error *err)
{
	dm_config_defaults(cfg, DM_PROFILE_DATASHEET);
	if (dm_config_parse(cfg, dm_trace_config(r), err))
		return dm_error_prefix(err, "machine line");
	if (machine_opts && dm_config_parse(cfg, machine_opts, err))
		return dm_error_prefix(err, "--machine");
	return 0;
}

static int build_machine(struct dm_trace_reader *r,
			 const struct dm_replay_opts *opts,
			 struct dm_machine **m, char *config, size_t cap,
			 struct dm_error *err)
{
	struct dm_config cfg;

	if (dm_replay_config(r, opts->machine_opts, &cfg, err))
		return -1;
	dm_config_format(&cfg, config, cap);
	return dm_machine_create(m, &cfg, err);
}

/*
 * After every Nth event and after every mark, labelled with its text.  In
 * between, a batch of checkpoints is committed once it is old enough.
 */
static int checkpoint_after(const struct dm_replay_opts *opts,
			    const struct dm_machine *m,
			    const struct dm_event *ev,
			    struct dm_replay_stats *s, struct dm_error *err)
{
	uint64_t every = opts->checkpoint_every;
	bool mark = ev->op == DM_OP_MARK;

	if (!opts->store)
		return 0;
	if (!mark && (!every || s->events % every))
		return s->events & 0xfff ? 0 : dm_store_poll(opts->store, err);
	s->checkpoints++;
	return dm_store_checkpoint(opts->store, m, s->events - 1,
				   mark ? ev->label : NULL, NULL, err);
}

/* Records how the run ended; a replay error already in err is kept. */
static int end_run(const struct dm_replay_opts *opts,
		   const struct dm_replay_stats *s, int rc,
		   struct dm_error *err)
{
	struct dm_error mine;
	const char *status = rc == 2	      ? "failed"
			     : s->divergences ? "diverged"
					      : "passed";

	return dm_store_end_run(opts->store, status, s->events,
				rc == 2 ? &mine : err);
}

static void show_progress(FILE *f, uint64_t events, uint64_t divergences)
{
	fprintf(f, "\rreplaying: %" PRIu64 " events, %" PRIu64 " divergences",
		events, divergences);
	fflush(f);
}

/* Writes the machine's final state as a checkpoint file (dmsim diff). */
static int save_state(const struct dm_machine *m, const char *path,
		      struct dm_error *err)
{
	size_t len;
	uint8_t *buf = dm_machine_save(m, &len);
	FILE *f;
	int rc = 0;

	if (!buf)
		return dm_errorf(err, "out of memory saving the state");
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len)
		rc = dm_errorf(err, "%s: %s", path, strerror(errno));
	if (f && fclose(f) && !rc)
		rc = dm_errorf(err, "%s: %s", path, strerror(errno));
	free(buf);
	return rc;
}

int dm_replay_file(const char *path, const struct dm_replay_opts *opts,
		   struct dm_replay_stats *stats, struct dm_error *err)
{
	struct dm_trace_reader *r;
	struct dm_machine *m = NULL;
	struct dm_event ev;
	struct dm_outcome o;
	struct dm_tolerance tol;
	char config[2048];
	const char *encoding;
	int rc = 0, more;

	*stats = (struct dm_replay_stats){0};
	if (dm_trace_open(&r, path, err))
		return 2;
	encoding = dm_trace_encoding(r) == DM_TRACE_TEXT ? "text" : "binary";
	if (build_machine(r, opts, &m, config, sizeof(config), err)) {
		dm_trace_close(r);
		return 2;
	}
	if (opts->store && dm_store_begin_run(opts->store, "replay", path, m,
					      &stats->run, err)) {
		dm_machine_destroy(m);
		dm_trace_close(r);
		return 2;
	}
	report_header(opts, path, encoding, config);
	dm_tolerance_init(&tol, opts->tolerance_ns);
	while ((more = dm_trace_next(r, &ev, err)) == 1) {
		if (tol.ns && dm_tolerance_before(&tol, m, &ev, err)) {
			rc = 2;
			break;
		}
		if (dm_replay_step(m, &ev, &o, err)) {
			dm_error_prefix(err, "%s: event %" PRIu64, path,
					stats->events);
			rc = 2;
			break;
		}
		count_event(stats, &ev);
		stats->faults += o.fault;
		count_pit_raise(stats, &ev, &o);
		stats->intacks_none += ev.op == DM_OP_INTACK && o.has_actual &&
				       (int64_t)o.actual < 0;
		if (o.mismatch && tol.ns && dm_tolerance_applies(m, &ev) &&
		    dm_tolerance_rescue(&tol, &m, &ev)) {
			o.mismatch = false;
			stats->tolerated++;
		}
		if (o.mismatch)
			report_divergence(opts, m, stats->events - 1, &ev, &o,
					  ++stats->divergences);
		if (checkpoint_after(opts, m, &ev, stats, err)) {
			rc = 2;
			break;
		}
		if (opts->progress && !(stats->events & 0xfffff))
			show_progress(opts->progress, stats->events,
				      stats->divergences);
	}
	if (opts->progress && stats->events > 0xfffff)
		fputc('\n', opts->progress);
	if (more < 0)
		rc = 2;
	if (rc == 0)
		check_unraised(opts, m, stats);
	if (opts->store && end_run(opts, stats, rc, err))
		rc = 2;
	if (rc == 0 && opts->save_state && save_state(m, opts->save_state, err))
		rc = 2;
	if (rc == 2 && opts->json) {
		/* Keep stdout one valid JSON object even on bad input. */
		fputs("],\"error\":", opts->out);
		json_string(opts->out, err->msg);
		fputs("}\n", opts->out);
	}
	if (rc == 0) {
		report_summary(opts, path, encoding, config, stats, m, &tol);
		rc = stats->divergences ? 1 : 0;
	}
	dm_tolerance_destroy(&tol);
	dm_machine_destroy(m);
	dm_trace_close(r);
	return rc;
}
