// SPDX-License-Identifier: MIT
/*
 * The ftrace importer: kvm tracepoint text -> dmsim trace.
 *
 * Two passes over the input.  The survey (pass 1) learns what the machine
 * line needs before the first event is written: which threads are vcpus
 * and their numbers, the clock and its rate, the chipset, whether the HPET
 * is used, whether KVM traced its injections.  The conversion (pass 2)
 * then turns lines into events.  Some lines complete an access begun
 * earlier on the same thread (a read served by userspace, a kvm_apic line
 * that may or may not echo a guest access); such an access reserves its
 * place in an output queue, so that events stay in time order while the
 * rest of the trace flows past.  docs/importers.md states every rule.
 */
#include "traces/import.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "models/hpet.h"
#include "models/ioapic.h"
#include "models/lapic.h"
#include "models/pic.h"
#include "models/pmtimer.h"
#include "models/rtc.h"
#include "sim/clock.h"
#include "sim/config.h"
#include "sim/machine.h"
#include "traces/import_common.h"

#define MAX_THREADS 1024
#define MAX_VCPUS 256
#define ISA_GSIS 24	    /* GSIs the machine has; above: MSI routes */
#define HPET_LEN 0x400	    /* HPET 1.0a register block */
#define QUEUE_MAX 65536u    /* events held back behind one open access */
#define KERNEL_SOURCE_MIN 2 /* kvm_set_irq sources of in-kernel devices */
#define MIN_MARKER_SPAN 100000000ULL /* ns between clock markers */
#define APIC_EOI 0xb0
#define RTC_INDEX 0x70 /* QEMU coalesces its writes: they never exit */

/* ---- lexing one line ------------------------------------------------- */

enum line_kind { L_SKIP, L_COMMENT, L_EVENT, L_LOST, L_BAD };

struct fline {
	uint32_t tid;
	const char *task;
	size_t task_len;
	uint64_t ts;  /* counter value, or ns */
	bool counter; /* the timestamp had no fraction: a counter clock */
	char event[48];
	const char *body;
	uint64_t lost;
	bool lost_known;
	bool resched; /* the flags column shows a reschedule pending */
	bool in_irq;  /* ... or an interrupt context (hardirq, softirq) */
};

static const char *rfind(const char *from, const char *to, char ch)
{
	while (to > from)
		if (*--to == ch)
			return to;
	return NULL;
}

/* Decimal digits [from, to) into *v; false if empty or too large. */
static bool digits(const char *from, const char *to, uint64_t *v)
{
	*v = 0;
	if (from == to)
		return false;
	for (; from < to; from++) {
		if (!isdigit((unsigned char)*from) ||
		    *v > (UINT64_MAX - (uint64_t)(*from - '0')) / 10)
			return false;
		*v = *v * 10 + (uint64_t)(*from - '0');
	}
	return true;
}

/* "123456789" (a counter) or "5012.123456" (seconds, up to ns). */
static bool parse_ts(const char *s, const char *end, struct fline *fl)
{
	const char *dot = memchr(s, '.', (size_t)(end - s));
	uint64_t sec, frac;
	size_t nfrac;

	if (!dot) {
		fl->counter = true;
		return digits(s, end, &fl->ts);
	}
	nfrac = (size_t)(end - dot - 1);
	if (!digits(s, dot, &sec) || !digits(dot + 1, end, &frac) ||
	    nfrac > 9 || sec > UINT64_MAX / DM_NS_PER_SEC - 1)
		return false;
	while (nfrac++ < 9)
		frac *= 10;
	fl->counter = false;
	fl->ts = sec * DM_NS_PER_SEC + frac;
	return true;
}

/* "CPU:1 [LOST 42 EVENTS]" (tracefs) or "CPU:1 [42 EVENTS DROPPED]"
 * (trace-cmd). */
static bool lost_line(const char *p, struct fline *fl)
{
	const char *q, *num;

	if (strncmp(p, "CPU:", 4))
		return false;
	q = p + 4;
	while (isdigit((unsigned char)*q))
		q++;
	q = dm_import_skip_ws(q);
	if (*q++ != '[')
		return false;
	if (!strncmp(q, "LOST ", 5))
		q += 5;
	num = q;
	while (isdigit((unsigned char)*q))
		q++;
	fl->lost_known = digits(num, q, &fl->lost);
	q = dm_import_skip_ws(q);
	return !strncmp(q, "EVENTS]", 7) || !strncmp(q, "EVENTS DROPPED]", 15);
}

/* Lines trace-cmd report prints around the events. */
static bool report_header(const char *p)
{
	int n = 0;

	if (!strncmp(p, "cpus=", 5) || !strncmp(p, "version =", 9))
		return true;
	if (sscanf(p, "CPU %*u is empty%n", &n) >= 0 && n > 0 && !p[n])
		return true;
	return !strncmp(p, "CPU", 3) && strstr(p, "data recorded at offset");
}

/* "  TASK-PID  [(TGID)] [CPU] [FLAGS] TIMESTAMP: EVENT: BODY" */
static enum line_kind lex_event(const char *p, struct fline *fl)
{
	const char *open, *close = NULL, *end, *dash, *tok;
	uint64_t tid;

	for (open = strchr(p, '['); open; open = strchr(open + 1, '[')) {
		const char *q = open + 1;

		while (isdigit((unsigned char)*q))
			q++;
		if (q > open + 1 && *q == ']') {
			close = q;
			break;
		}
	}
	if (!close || open == p)
		return L_BAD;
	end = open;
	while (end > p && isspace((unsigned char)end[-1]))
		end--;
	if (end > p && end[-1] == ')') { /* record-tgid column */
		end = rfind(p, end, '(');
		if (!end)
			return L_BAD;
		while (end > p && isspace((unsigned char)end[-1]))
			end--;
	}
	dash = rfind(p, end, '-');
	if (!dash || !digits(dash + 1, end, &tid) || tid > UINT32_MAX)
		return L_BAD;
	fl->tid = (uint32_t)tid;
	fl->task = p;
	fl->task_len = (size_t)(dash - p);

	tok = dm_import_skip_ws(close + 1);
	end = tok + strcspn(tok, " \t");
	if (end == tok)
		return L_BAD;
	fl->resched = fl->in_irq = false;
	if (end[-1] != ':' || !parse_ts(tok, end - 1, fl)) { /* flags */
		/* irqs-off, need-resched, irq context, preempt depth... */
		fl->resched = end - tok > 1 && tok[1] != '.';
		fl->in_irq = end - tok > 2 && tok[2] != '.';
		tok = dm_import_skip_ws(end);
		end = tok + strcspn(tok, " \t");
		if (end == tok || end[-1] != ':' || !parse_ts(tok, end - 1, fl))
			return L_BAD;
	}
	tok = dm_import_skip_ws(end);
	for (end = tok; isalnum((unsigned char)*end) || *end == '_'; end++)
		;
	if (end == tok || *end != ':' ||
	    (size_t)(end - tok) >= sizeof(fl->event))
		return L_BAD;
	memcpy(fl->event, tok, (size_t)(end - tok));
	fl->event[end - tok] = '\0';
	fl->body = dm_import_skip_ws(end + 1);
	return L_EVENT;
}

static enum line_kind lex(const char *s, struct fline *fl)
{
	const char *p = dm_import_skip_ws(s);

	if (!*p)
		return L_SKIP;
	if (*p == '#')
		return L_COMMENT;
	if (lost_line(p, fl))
		return L_LOST;
	if (report_header(p))
		return L_SKIP;
	return lex_event(p, fl);
}

/* ---- event bodies ---------------------------------------------------- */

static int64_t c_sdec(struct dm_cur *c)
{
	bool neg;
	uint64_t v;

	c->p = dm_import_skip_ws(c->p);
	neg = *c->p == '-';
	if (neg)
		c->p++;
	v = dm_cur_num(c, 10, false);
	if (v > INT32_MAX)
		c->ok = false;
	return neg ? -(int64_t)v : (int64_t)v;
}

/* A word of [A-Za-z0-9_/-]; false (and not ok) if empty or too long. */
static void c_word(struct dm_cur *c, char *buf, size_t cap)
{
	size_t n = 0;

	c->p = dm_import_skip_ws(c->p);
	while (isalnum((unsigned char)c->p[n]) || c->p[n] == '_' ||
	       c->p[n] == '-' || c->p[n] == '/')
		n++;
	if (!c->ok || !n || n >= cap) {
		c->ok = false;
		buf[0] = '\0';
		return;
	}
	memcpy(buf, c->p, n);
	buf[n] = '\0';
	c->p += n;
}

struct ev_pio {
	bool write;
	uint32_t port, size, count, val;
};

static bool parse_pio(const char *b, struct ev_pio *e)
{
	struct dm_cur c = {b, true};
	char rw[8];

	dm_cur_lit(&c, "pio_");
	c_word(&c, rw, sizeof(rw));
	e->write = !strcmp(rw, "write");
	dm_cur_lit(&c, "at");
	e->port = (uint32_t)dm_cur_num(&c, 16, true);
	dm_cur_lit(&c, "size");
	e->size = (uint32_t)dm_cur_num(&c, 10, false);
	dm_cur_lit(&c, "count");
	e->count = (uint32_t)dm_cur_num(&c, 10, false);
	dm_cur_lit(&c, "val");
	e->val = (uint32_t)dm_cur_num(&c, 16, true);
	return dm_cur_end(&c, "(...)") && (e->write || !strcmp(rw, "read")) &&
	       e->port <= 0xffff &&
	       (e->size == 1 || e->size == 2 || e->size == 4) && e->count;
}

enum mmio_type { MMIO_UNSAT, MMIO_READ, MMIO_WRITE };

struct ev_mmio {
	enum mmio_type type;
	uint32_t len;
	uint64_t gpa, val;
};

static bool parse_mmio(const char *b, struct ev_mmio *e)
{
	struct dm_cur c = {b, true};
	char type[24];

	dm_cur_lit(&c, "mmio");
	c_word(&c, type, sizeof(type));
	dm_cur_lit(&c, "len");
	e->len = (uint32_t)dm_cur_num(&c, 10, false);
	dm_cur_lit(&c, "gpa");
	e->gpa = dm_cur_num(&c, 16, true);
	dm_cur_lit(&c, "val");
	e->val = dm_cur_num(&c, 16, true);
	if (!strcmp(type, "unsatisfied-read"))
		e->type = MMIO_UNSAT;
	else if (!strcmp(type, "read"))
		e->type = MMIO_READ;
	else if (!strcmp(type, "write"))
		e->type = MMIO_WRITE;
	else
		return false;
	return dm_cur_end(&c, NULL);
}

struct ev_msr {
	bool write, gp;
	uint32_t index;
	uint64_t val;
};

static bool parse_msr(const char *b, struct ev_msr *e)
{
	struct dm_cur c = {b, true};
	char rw[8];
	uint64_t index;

	dm_cur_lit(&c, "msr_");
	c_word(&c, rw, sizeof(rw));
	e->write = !strcmp(rw, "write");
	index = dm_cur_num(&c, 16, false);
	dm_cur_lit(&c, "=");
	e->val = dm_cur_num(&c, 16, true);
	c.p = dm_import_skip_ws(c.p);
	e->gp = !strncmp(c.p, "(#GP)", 5);
	if (e->gp)
		c.p += 5;
	e->index = (uint32_t)index;
	return dm_cur_end(&c, NULL) && (e->write || !strcmp(rw, "read")) &&
	       index <= UINT32_MAX;
}

/* The register names kvm_apic prints (arch/x86/kvm/trace.h). */
static const struct {
	const char *name;
	uint32_t reg;
} apic_regs[] = {
	{"ID", 0x20},	   {"LVR", 0x30},	{"TASKPRI", 0x80},
	{"ARBPRI", 0x90},  {"PROCPRI", 0xa0},	{"EOI", 0xb0},
	{"RRR", 0xc0},	   {"LDR", 0xd0},	{"DFR", 0xe0},
	{"SPIV", 0xf0},	   {"ISR", 0x100},	{"TMR", 0x180},
	{"IRR", 0x200},	   {"ESR", 0x280},	{"ICR", 0x300},
	{"ICR2", 0x310},   {"LVTT", 0x320},	{"LVTTHMR", 0x330},
	{"LVTPC", 0x340},  {"LVT0", 0x350},	{"LVT1", 0x360},
	{"LVTERR", 0x370}, {"TMICT", 0x380},	{"TMCCT", 0x390},
	{"TDCR", 0x3e0},   {"SELF_IPI", 0x3f0}, {"EFEAT", 0x400},
	{"ECTRL", 0x410},
};

struct ev_apic {
	bool write;
	uint32_t reg;
	uint64_t val;
};

static bool parse_apic(const char *b, struct ev_apic *e)
{
	struct dm_cur c = {b, true};
	char rw[8], name[24];
	bool known = false;

	dm_cur_lit(&c, "apic_");
	c_word(&c, rw, sizeof(rw));
	e->write = !strcmp(rw, "write");
	c.p = dm_import_skip_ws(c.p);
	if (!strncmp(c.p, "APIC_", 5)) {
		c.p += 5;
		c_word(&c, name, sizeof(name));
		for (size_t i = 0; i < sizeof(apic_regs) / sizeof(apic_regs[0]);
		     i++)
			if (!strcmp(name, apic_regs[i].name)) {
				e->reg = apic_regs[i].reg;
				known = true;
			}
		if (!known)
			c.ok = false;
	} else {
		e->reg = (uint32_t)dm_cur_num(&c, 16, true);
		if (e->reg >= DM_LAPIC_MMIO_SIZE)
			c.ok = false;
	}
	dm_cur_lit(&c, "=");
	e->val = dm_cur_num(&c, 16, true);
	return dm_cur_end(&c, NULL) && (e->write || !strcmp(rw, "read"));
}

struct ev_irq {
	uint32_t gsi;
	int64_t level, source;
};

static bool parse_set_irq(const char *b, struct ev_irq *e)
{
	struct dm_cur c = {b, true};
	uint64_t gsi;

	dm_cur_lit(&c, "gsi");
	gsi = dm_cur_num(&c, 10, false);
	dm_cur_lit(&c, "level");
	e->level = c_sdec(&c);
	dm_cur_lit(&c, "source");
	e->source = c_sdec(&c);
	e->gsi = (uint32_t)gsi;
	return dm_cur_end(&c, NULL) && gsi <= UINT32_MAX;
}

/* In-kernel devices have their own source ids (KVM_PIT_IRQ_SOURCE_ID is
 * 2; 0 is userspace, 1 irqfd resampling): on GSI 0 that is the PIT. */
static bool pit_edge(const struct ev_irq *e)
{
	return e->source >= KERNEL_SOURCE_MIN && e->gsi == 0;
}

/*
 * kvm_msi_set_irq prints "dst D vec V (MODE|logical|level|rh)": the
 * address and data are rebuilt from those fields (SPEC-NOTES 8): address
 * bits 19:12 and, for x2APIC destinations, address-high bits 31:8 from D;
 * DM bit 2, RH bit 3; data bits 7:0 V, 10:8 MODE, 15 trigger and, for a
 * level-triggered message, 14 asserted (the print omits the level bit).
 */
struct ev_msi {
	uint64_t addr;
	uint32_t data;
};

static const char *const delivery_modes[] = {
	"Fixed", "LowPrio", "SMI", "Res3", "NMI", "INIT", "SIPI", "ExtINT"};

static bool parse_msi(const char *b, struct ev_msi *e)
{
	struct dm_cur c = {b, true};
	char mode[16], dm[16], trig[16];
	uint64_t dst, vec;
	int m = -1;

	dm_cur_lit(&c, "dst");
	dst = dm_cur_num(&c, 16, false);
	dm_cur_lit(&c, "vec");
	vec = dm_cur_num(&c, 10, false);
	dm_cur_lit(&c, "(");
	c_word(&c, mode, sizeof(mode));
	dm_cur_lit(&c, "|");
	c_word(&c, dm, sizeof(dm));
	dm_cur_lit(&c, "|");
	c_word(&c, trig, sizeof(trig));
	for (int i = 0; i < 8; i++)
		if (!strcmp(mode, delivery_modes[i]))
			m = i;
	if (!dm_cur_end(&c, NULL) && !dm_cur_end(&c, "|rh)") &&
	    !dm_cur_end(&c, ")"))
		return false;
	if (m < 0 || vec > 0xff || dst > UINT32_MAX ||
	    (strcmp(dm, "logical") && strcmp(dm, "physical")) ||
	    (strcmp(trig, "edge") && strcmp(trig, "level")))
		return false;
	e->addr = 0xfee00000ULL | (dst & 0xff) << 12 |
		  (dst & 0xffffff00ULL) << 32 | (!strcmp(dm, "logical") << 2) |
		  ((uint64_t)(strstr(b, "|rh)") != NULL) << 3);
	e->data = (uint32_t)vec | (uint32_t)m << 8;
	if (!strcmp(trig, "level"))
		e->data |= 1u << 15 | 1u << 14;
	return true;
}

static bool parse_eoi(const char *b, int64_t *vector)
{
	struct dm_cur c = {b, true};

	dm_cur_lit(&c, "apicid");
	dm_cur_num(&c, 16, false);
	dm_cur_lit(&c, "vector");
	*vector = c_sdec(&c);
	return dm_cur_end(&c, NULL);
}

struct ev_inj {
	uint32_t vector;
	bool soft, reinjected;
};

static bool parse_inj_virq(const char *b, struct ev_inj *e)
{
	struct dm_cur c = {b, true};
	char kind[16];
	uint64_t v;

	c_word(&c, kind, sizeof(kind));
	v = dm_cur_num(&c, 16, true);
	c.p = dm_import_skip_ws(c.p);
	e->reinjected = !strncmp(c.p, "[reinjected]", 12);
	if (e->reinjected)
		c.p += 12;
	e->soft = !strcmp(kind, "Soft/INTn");
	e->vector = (uint32_t)v;
	return dm_cur_end(&c, NULL) && v <= 0xff &&
	       (e->soft || !strcmp(kind, "IRQ"));
}

static bool parse_exit(const char *b, char *reason, size_t cap)
{
	struct dm_cur c = {b, true};

	dm_cur_lit(&c, "reason");
	c_word(&c, reason, cap);
	dm_cur_lit(&c, "(");
	c_sdec(&c);
	dm_cur_lit(&c, ")");
	return dm_cur_end(&c, NULL);
}

static bool parse_accept(const char *b, uint64_t *apicid)
{
	struct dm_cur c = {b, true};

	dm_cur_lit(&c, "apicid");
	*apicid = dm_cur_num(&c, 16, false);
	dm_cur_lit(&c, "vec");
	dm_cur_num(&c, 10, false);
	return c.ok;
}

static bool parse_entry(const char *b, uint64_t *vcpu)
{
	struct dm_cur c = {b, true};

	dm_cur_lit(&c, "vcpu");
	*vcpu = dm_cur_num(&c, 10, false);
	dm_cur_lit(&c, ",");
	return c.ok;
}

static bool parse_tsc_offset(const char *b, uint64_t *vcpu, uint64_t *next)
{
	struct dm_cur c = {b, true};

	dm_cur_lit(&c, "vcpu=");
	*vcpu = dm_cur_num(&c, 10, false);
	dm_cur_lit(&c, "prev=");
	dm_cur_num(&c, 10, false);
	dm_cur_lit(&c, "next=");
	*next = dm_cur_num(&c, 10, false);
	return dm_cur_end(&c, NULL);
}

/* Where sched_switch gives the state of the task leaving the CPU, or
 * NULL. */
static const char *prev_state_at(const char *b)
{
	const char *st = strstr(b, " prev_state=");

	return st ? st + strlen(" prev_state=") : NULL;
}

/* That state, or 0. */
static char prev_state(const char *b)
{
	const char *st = prev_state_at(b);

	return st ? *st : 0;
}

/* sched_switch: "prev_comm=C prev_pid=P prev_prio=N prev_state=S ==>
 * next_comm=C next_pid=N ...": whether the thread leaving blocks (state S
 * or D, not R: preempted), and the thread that runs next (comm may hold
 * spaces). */
static bool parse_switch(const char *b, bool *blocks, uint64_t *next)
{
	const char *arrow = strstr(b, " ==> ");
	const char *p = arrow ? strstr(arrow, " next_pid=") : NULL;
	const char *st = prev_state_at(b);
	struct dm_cur c;

	if (!p || !st || st > arrow)
		return false;
	*blocks = *st == 'S' || *st == 'D';
	c = (struct dm_cur){p, true};
	dm_cur_lit(&c, "next_pid=");
	*next = dm_cur_num(&c, 10, false);
	return c.ok && *next <= UINT32_MAX;
}

/* sched_wakeup: "comm=C pid=N prio=P target_cpu=T" (comm may hold
 * spaces): the thread woken. */
static bool parse_wakeup(const char *b, uint64_t *pid)
{
	const char *p = strstr(b, " pid=");
	struct dm_cur c;

	if (!p || strncmp(b, "comm=", 5))
		return false;
	c = (struct dm_cur){p + 1, true};
	dm_cur_lit(&c, "pid=");
	*pid = dm_cur_num(&c, 10, false);
	return c.ok && *pid <= UINT32_MAX;
}

/* "dmsim-clock mono_raw_ns=N [realtime_ns=R]", written to trace_marker by
 * the capture (*real: 0 when absent, as in older captures). */
static bool parse_clock_marker(const char *b, uint64_t *ns, uint64_t *real)
{
	struct dm_cur c = {b, true};

	dm_cur_lit(&c, "dmsim-clock");
	dm_cur_lit(&c, "mono_raw_ns=");
	*ns = dm_cur_num(&c, 10, false);
	*real = 0;
	if (c.ok && !dm_cur_end(&c, NULL)) {
		dm_cur_lit(&c, "realtime_ns=");
		*real = dm_cur_num(&c, 10, false);
	}
	return dm_cur_end(&c, NULL);
}

/* ---- the events the importer knows ------------------------------------ */

enum kev {
	K_PIO,
	K_MMIO,
	K_MSR,
	K_APIC,
	K_SET_IRQ,
	K_MSI,
	K_EOI,
	K_INJ_VIRQ,
	K_EXIT,
	K_ENTRY,
	K_ACCEPT,
	K_TSC_OFFSET,
	K_SWITCH,
	K_WAKEUP,
	K_MARKER,
	K_ECHO,	  /* a line change reaching the 8259 or the IOAPIC */
	K_OUTPUT, /* known, carries nothing the trace needs */
	K_UNKNOWN,
};

static const struct {
	const char *name;
	enum kev kind;
} known_events[] = {
	{"kvm_pio", K_PIO},
	{"kvm_mmio", K_MMIO},
	{"kvm_msr", K_MSR},
	{"kvm_apic", K_APIC},
	{"kvm_set_irq", K_SET_IRQ},
	{"kvm_msi_set_irq", K_MSI},
	{"kvm_eoi", K_EOI},
	{"kvm_inj_virq", K_INJ_VIRQ},
	{"kvm_userspace_exit", K_EXIT},
	{"kvm_entry", K_ENTRY},
	{"kvm_apic_accept_irq", K_ACCEPT},
	{"kvm_write_tsc_offset", K_TSC_OFFSET},
	{"sched_switch", K_SWITCH},
	{"sched_wakeup", K_WAKEUP},
	{"tracing_mark_write", K_MARKER},
	{"print", K_MARKER},
	{"kvm_pic_set_irq", K_ECHO},
	{"kvm_ioapic_set_irq", K_ECHO},
	{"kvm_apic_ipi", K_OUTPUT},
	{"kvm_ack_irq", K_OUTPUT},
	{"kvm_ioapic_delayed_eoi_inj", K_OUTPUT},
	{"kvm_pv_eoi", K_OUTPUT},
	{"kvm_exit", K_OUTPUT},
};

static enum kev event_kind(const char *name)
{
	for (size_t i = 0; i < sizeof(known_events) / sizeof(known_events[0]);
	     i++)
		if (!strcmp(name, known_events[i].name))
			return known_events[i].kind;
	return K_UNKNOWN;
}

/* Events that only a vcpu thread logs, for its own accesses. */
static bool vcpu_event(enum kev k)
{
	return k == K_PIO || k == K_MMIO || k == K_MSR || k == K_APIC ||
	       k == K_EXIT || k == K_INJ_VIRQ || k == K_ENTRY;
}

/* ---- pass 1: the survey ---------------------------------------------- */

/* How a thread got its vcpu number, weakest first. */
enum claim { C_NONE, C_APICID, C_NAME, C_ENTRY, C_HEADER };

static const char *const claim_names[] = {
	"order of first access",   "its APIC ID",
	"its thread name",	   "kvm_entry",
	"the capture's vcpu list",
};

struct tinfo {
	uint32_t tid;
	bool vcpu_thread;
	uint64_t first; /* line of its first vcpu event */
	enum claim claim;
	uint32_t claimed;
	int vcpu;
	bool x2apic;
	bool exit_io;	  /* its last line was a KVM_EXIT_IO exit */
	bool qemu_thread; /* a vcpu, or raises lines from userspace */
	bool exited;	  /* its last line was a kvm_userspace_exit ... */
	uint64_t exit_ts; /* ... at this timestamp */
	bool pit_thread;  /* it raised the PIT's IRQ0 (KVM's kvm-pit worker) */
};
/* The guest's reads of the PM timer, which tell when QEMU's virtual clock
 * started. */
#define MAX_PM_READS 4096
struct pm_survey {
	unsigned n;
	uint64_t ts[MAX_PM_READS];
	uint32_t val[MAX_PM_READS]; /* 24 bits */
};

struct survey {
	struct tinfo t[MAX_THREADS];
	unsigned nt;
	bool have_ts, counter;
	uint64_t t0, t0_line;
	bool inj_virq;
	uint64_t hdr_tsc_hz, hdr_lost;
	bool hdr_lost_known;
	int64_t hdr_offset[MAX_VCPUS];
	bool hdr_offset_known[MAX_VCPUS];
	uint64_t mark_c[2], mark_ns[2];
	uint64_t realtime_ns; /* the wall clock at the first marker; 0: none */
	struct pm_survey pm;
	unsigned nmarks;
	struct dm_import_pci pci;
	uint32_t pmbase;
	bool hpet, tsc_deadline, userspace_ioapic;
	/* kernel-irqchip=off: QEMU's LAPIC, 8259 or PIT answered a read,
	 * and no in-kernel interrupt controller logged anything. */
	bool userspace_irqchip, kernel_irqchip;
	int64_t hpet_id;	  /* first HPET capabilities read; -1 if none */
	struct dm_import_rtc rtc; /* the guest's reads of the RTC */
	bool echoes;	       /* kvm_pic_set_irq / kvm_ioapic_set_irq seen */
	uint64_t pit_edges;    /* kvm_set_irq lines of the PIT (GSI 0) */
	bool qemu;	       /* the vcpu threads are QEMU's */
	bool pit_programmed;   /* the guest wrote a PIT port */
	bool vcpu_ran;	       /* a vcpu event was seen */
	bool pit_started;      /* a PIT edge came between the two: ... */
	uint64_t pit_start_ts; /* ... the last at this timestamp */
	unsigned apic_ids;     /* highest APIC ID targeted, plus one */
	unsigned hdr_vcpus; /* highest vcpu in the capture's list, plus one */
	uint64_t events, kvm_events;
	uint64_t line;		 /* the line being surveyed */
	uint64_t last_vcpu_line; /* the vcpus' last event */
	uint64_t pit_exit_line;	 /* the kvm-pit worker's exit; 0: none */
	uint32_t main_tid; /* the capture's pid: QEMU's main loop; 0 none */
	bool wakeups;	   /* sched_wakeup lines (captures since they had) */
};

/* The thread tid, or NULL if it logged no event yet. */
static struct tinfo *thread_find(struct survey *sv, uint32_t tid)
{
	for (unsigned i = 0; i < sv->nt; i++)
		if (sv->t[i].tid == tid)
			return &sv->t[i];
	return NULL;
}

static struct tinfo *thread_get(struct survey *sv, uint32_t tid,
				struct dm_error *err)
{
	struct tinfo *t = thread_find(sv, tid);

	if (t)
		return t;
	if (sv->nt == MAX_THREADS) {
		dm_errorf(err, "more than %u threads", MAX_THREADS);
		return NULL;
	}
	sv->t[sv->nt] = (struct tinfo){.tid = tid, .vcpu = -1};
	return &sv->t[sv->nt++];
}

static void claim(struct tinfo *t, enum claim how, uint64_t vcpu)
{
	if (vcpu < MAX_VCPUS && how > t->claim) {
		t->claim = how;
		t->claimed = (uint32_t)vcpu;
	}
}

/* "# dmsim-capture ... tsc_hz=N", "# dmsim-vcpu N tid=T tsc_offset=O",
 * "# dmsim-lost N": what the capture knew (docs/importers.md). */
static int survey_comment(struct survey *sv, const char *line,
			  struct dm_error *err)
{
	const char *p = dm_import_skip_ws(dm_import_skip_ws(line) + 1);
	unsigned long long a, b;
	long long off;
	const char *q;

	if (!strncmp(p, "dmsim-capture ", 14)) {
		q = strstr(p, " tsc_hz=");
		if (q && sscanf(q, " tsc_hz=%llu", &a) == 1)
			sv->hdr_tsc_hz = a;
		if (sscanf(p + 14, "pid=%llu", &a) == 1 && a <= UINT32_MAX)
			sv->main_tid = (uint32_t)a;
	} else if (sscanf(p, "dmsim-vcpu %llu tid=%llu tsc_offset=%lld", &a, &b,
			  &off) == 3 &&
		   a < MAX_VCPUS && b <= UINT32_MAX) {
		struct tinfo *t;

		if (a + 1 > sv->hdr_vcpus)
			sv->hdr_vcpus = (unsigned)a + 1;
		/* Thread 0: the vcpu never ran (an AP nobody started); the
		 * idle task's lines are not its. */
		if (!b)
			return 0;
		t = thread_get(sv, (uint32_t)b, err);

		if (!t)
			return -1;
		claim(t, C_HEADER, a);
		sv->hdr_offset[a] = off;
		sv->hdr_offset_known[a] = true;
	} else if (sscanf(p, "dmsim-lost %llu", &a) == 1) {
		sv->hdr_lost = a;
		sv->hdr_lost_known = true;
	}
	return 0;
}

/* PCI configuration through 0xcf8/0xcfc identifies the chipset: the host
 * bridge and the ISA bridge differ (i440FX/PIIX3 vs Q35/ICH9), and the
 * firmware's PMBASE write places the PM timer. */
static void survey_pci(struct survey *sv, const struct ev_pio *e)
{
	uint32_t cf8, devfn;

	if (!dm_import_pci_access(&sv->pci, e->port, e->size, e->write, e->val,
				  &cf8))
		return;
	devfn = (cf8 >> 8) & 0xff;
	if (e->write && (cf8 & 0xfc) == 0x40 &&
	    (devfn == 0x0b || devfn == 0xf8))
		sv->pmbase = e->val & (devfn == 0xf8 ? 0xff80 : 0xffc0);
}

/* Lines only an in-kernel LAPIC, IOAPIC, 8259 or PIT logs. */
static bool kernel_irqchip_event(enum kev k)
{
	return k == K_APIC || k == K_SET_IRQ || k == K_EOI || k == K_ACCEPT ||
	       k == K_ECHO;
}

/* The 8259s and the PIT: KVM serves them when it has an irqchip. */
static bool irqchip_port(uint32_t port)
{
	return port - 0x40 < 4 || port - DM_PIC_MASTER_BASE < 2 ||
	       port - DM_PIC_SLAVE_BASE < 2;
}

static void survey_mmio(struct survey *sv, const struct ev_mmio *e)
{
	if (e->gpa - DM_HPET_BASE < HPET_LEN) {
		sv->hpet = true;
		if (e->gpa == DM_HPET_BASE && e->type == MMIO_READ &&
		    sv->hpet_id < 0)
			sv->hpet_id = (int64_t)(e->val & 0xffffffffu);
	}
	if (e->type != MMIO_UNSAT)
		return;
	if (e->gpa - DM_IOAPIC_BASE < DM_IOAPIC_SIZE)
		sv->userspace_ioapic = true;
	if (e->gpa - DM_LAPIC_DEFAULT_BASE < DM_LAPIC_MMIO_SIZE)
		sv->userspace_irqchip = true;
}

/* Keeps each read of PM_TMR (3 bytes or more) at the PM block known so far
 * (the PMBASE write, else the chipset's default). */
static void survey_pm(struct survey *sv, const struct ev_pio *e, uint64_t ts)
{
	uint32_t base = dm_import_pmbase(&sv->pci, sv->pmbase);

	if (e->write || e->port != base + 8 || e->size < 3 ||
	    sv->pm.n == MAX_PM_READS)
		return;
	sv->pm.ts[sv->pm.n] = ts;
	sv->pm.val[sv->pm.n++] = (uint32_t)e->val & 0xffffff;
}

/* A kvm_set_irq line.  The kvm-pit thread's raise after the vcpus ran and
 * before the guest programmed the PIT dates QEMU's reset state of the PIT
 * (pit_start); its lower, a moment later, does not. */
static void survey_set_irq(struct survey *sv, struct tinfo *t,
			   const struct fline *fl)
{
	struct ev_irq e;
	bool pit = parse_set_irq(fl->body, &e) && pit_edge(&e);

	t->qemu_thread |= !pit;
	if (!pit)
		return;
	t->pit_thread = true;
	sv->pit_edges++;
	if (sv->vcpu_ran && !sv->pit_programmed && e.level) {
		sv->pit_started = true;
		sv->pit_start_ts = fl->ts;
	}
}

static int survey_event(struct survey *sv, const struct fline *fl,
			struct dm_error *err)
{
	enum kev k = event_kind(fl->event);
	struct tinfo *t;
	unsigned long vcpu;
	struct ev_pio pio;
	struct ev_mmio mmio;
	struct ev_msr msr;
	struct ev_apic apic;
	uint64_t v, ns, real;
	int n = 0;

	/* Logged by whichever task leaves a CPU: not a thread of the VM,
	 * unless the kvm-pit worker exits (KVM frees its PIT). */
	if (k == K_SWITCH) {
		t = thread_find(sv, fl->tid);
		if (t && t->pit_thread && prev_state(fl->body) == 'X')
			sv->pit_exit_line = sv->line;
		return 0;
	}
	/* Logged by the waker, whoever it is. */
	if (k == K_WAKEUP) {
		sv->wakeups = true;
		return 0;
	}
	t = thread_get(sv, fl->tid, err);
	if (!t)
		return -1;
	sv->events++;
	if (!strncmp(fl->event, "kvm_", 4))
		sv->kvm_events++;
	sv->vcpu_ran |= vcpu_event(k);
	if (vcpu_event(k) && !t->vcpu_thread) {
		t->vcpu_thread = true;
		t->first = sv->events;
	}
	if (sscanf(fl->task, "CPU %lu/KVM%n", &vcpu, &n) == 1 &&
	    (size_t)n == fl->task_len)
		claim(t, C_NAME, vcpu);
	if (kernel_irqchip_event(k))
		sv->kernel_irqchip = true;
	if (vcpu_event(k) &&
	    (t->claim == C_NAME || !strncmp(fl->task, "qemu-system", 11)))
		sv->qemu = true;
	switch (k) {
	case K_INJ_VIRQ:
		sv->inj_virq = true;
		break;
	case K_ENTRY:
		if (parse_entry(fl->body, &v))
			claim(t, C_ENTRY, v);
		break;
	case K_PIO:
		if (!parse_pio(fl->body, &pio))
			break;
		survey_pci(sv, &pio);
		if (pio.port - DM_RTC_BASE < 2)
			dm_import_rtc_access(&sv->rtc, fl->ts, pio.port,
					     pio.write, (uint8_t)pio.val);
		if (t->exit_io && !pio.write && irqchip_port(pio.port))
			sv->userspace_irqchip = true;
		sv->pit_programmed |=
			pio.write && pio.port >= 0x40 && pio.port <= 0x43;
		/* A read QEMU served: computed after its exit. */
		survey_pm(sv, &pio, t->exited ? t->exit_ts : fl->ts);
		break;
	case K_MMIO:
		if (!parse_mmio(fl->body, &mmio))
			break;
		survey_mmio(sv, &mmio);
		break;
	case K_MSR:
		if (!parse_msr(fl->body, &msr) || msr.gp)
			break;
		if (msr.index == DM_MSR_APIC_BASE && msr.write)
			t->x2apic = (msr.val & 0xc00) == 0xc00;
		if (msr.index == DM_MSR_X2APIC_FIRST + 2 && !msr.write)
			claim(t, C_APICID, msr.val);
		if (msr.index == DM_MSR_TSC_DEADLINE)
			sv->tsc_deadline = true;
		break;
	case K_APIC:
		if (parse_apic(fl->body, &apic) && !apic.write &&
		    apic.reg == 0x20)
			claim(t, C_APICID,
			      t->x2apic ? apic.val : apic.val >> 24);
		break;
	case K_ECHO:
		sv->echoes = true;
		break;
	case K_SET_IRQ:
		survey_set_irq(sv, t, fl);
		break;
	case K_ACCEPT:
		if (parse_accept(fl->body, &v) && v < MAX_VCPUS &&
		    v + 1 > sv->apic_ids)
			sv->apic_ids = (unsigned)v + 1;
		break;
	case K_MARKER:
		if (parse_clock_marker(fl->body, &ns, &real) && fl->counter) {
			unsigned i = sv->nmarks ? 1 : 0;

			if (!sv->nmarks)
				sv->realtime_ns = real;
			sv->mark_c[i] = fl->ts;
			sv->mark_ns[i] = ns;
			sv->nmarks++;
		}
		break;
	default:
		break;
	}
	t->exit_io =
		k == K_EXIT && !strncmp(fl->body, "reason KVM_EXIT_IO ", 19);
	if (vcpu_event(k)) {
		t->qemu_thread = true;
		t->exited = k == K_EXIT;
		t->exit_ts = fl->ts;
		sv->last_vcpu_line = sv->line;
	}
	return 0;
}

static int survey(struct dm_import_input *in, struct survey *sv,
		  struct dm_error *err)
{
	struct fline fl;
	int r;

	sv->pci.chipset = -1;
	sv->hpet_id = -1;
	dm_import_rtc_init(&sv->rtc);
	while ((r = dm_import_input_next(in, err)) > 0) {
		enum line_kind kind = lex(in->line, &fl);

		if (kind == L_COMMENT && survey_comment(sv, in->line, err))
			return -1;
		if (kind != L_EVENT)
			continue;
		if (!sv->have_ts) {
			sv->have_ts = true;
			sv->counter = fl.counter;
			sv->t0 = fl.ts;
			sv->t0_line = in->lineno;
		} else if (fl.counter != sv->counter) {
			return dm_errorf(err,
					 "%s:%" PRIu64
					 ": %s timestamp, but line %" PRIu64
					 " had a %s one (two trace clocks in "
					 "one file)",
					 in->name, in->lineno,
					 fl.counter ? "a counter" : "a seconds",
					 sv->t0_line,
					 sv->counter ? "counter" : "seconds");
		}
		sv->line = in->lineno;
		if (survey_event(sv, &fl, err))
			return dm_error_prefix(err, "%s:%" PRIu64, in->name,
					       in->lineno);
	}
	return r;
}

/* Threads to vcpu numbers: the strongest claims first, each number once;
 * the rest take the lowest free numbers in order of first access. */
static void assign_vcpus(struct survey *sv)
{
	bool used[MAX_VCPUS] = {false};

	for (enum claim how = C_HEADER; how > C_NONE; how--)
		for (unsigned i = 0; i < sv->nt; i++) {
			struct tinfo *t = &sv->t[i];

			if (t->claim == how && t->vcpu < 0 &&
			    !used[t->claimed] &&
			    (t->vcpu_thread || how == C_HEADER)) {
				t->vcpu = (int)t->claimed;
				used[t->claimed] = true;
			}
		}
	for (;;) {
		struct tinfo *next = NULL;
		unsigned v = 0;

		for (unsigned i = 0; i < sv->nt; i++)
			if (sv->t[i].vcpu_thread && sv->t[i].vcpu < 0 &&
			    (!next || sv->t[i].first < next->first))
				next = &sv->t[i];
		if (!next)
			break;
		while (v < MAX_VCPUS - 1 && used[v])
			v++;
		next->vcpu = (int)v;
		next->claim = C_NONE;
		used[v] = true;
	}
}

static unsigned vcpu_count(const struct survey *sv)
{
	unsigned n =
		sv->apic_ids > sv->hdr_vcpus ? sv->apic_ids : sv->hdr_vcpus;

	if (!n)
		n = 1;

	for (unsigned i = 0; i < sv->nt; i++)
		if (sv->t[i].vcpu >= 0 && (unsigned)sv->t[i].vcpu + 1 > n)
			n = (unsigned)sv->t[i].vcpu + 1;
	return n;
}

/* "cpu MHz : 2445.432" as Hz: exact to the kHz the kernel prints. */
static uint64_t cpuinfo_hz(const char *path)
{
	FILE *f = path ? fopen(path, "r") : NULL;
	char line[512];
	unsigned long mhz, khz;
	uint64_t hz = 0;

	while (f && !hz && fgets(line, sizeof(line), f))
		if (sscanf(line, "cpu MHz : %lu.%3lu", &mhz, &khz) == 2)
			hz = ((uint64_t)mhz * 1000 + khz) * 1000;
	if (f)
		fclose(f);
	return hz;
}

static int tsc_rate(const struct survey *sv, const struct dm_ftrace_opts *o,
		    uint64_t *hz, const char **why, struct dm_error *err)
{
	*hz = 0;
	if (o->tsc_hz) {
		*hz = o->tsc_hz;
		*why = "--tsc-hz";
	} else if (sv->hdr_tsc_hz) {
		*hz = sv->hdr_tsc_hz;
		*why = "the capture header";
	} else if (sv->nmarks >= 2 && sv->mark_c[1] > sv->mark_c[0] &&
		   sv->mark_ns[1] > sv->mark_ns[0] &&
		   sv->mark_ns[1] - sv->mark_ns[0] >= MIN_MARKER_SPAN) {
		*hz = dm_muldiv64(sv->mark_c[1] - sv->mark_c[0], DM_NS_PER_SEC,
				  sv->mark_ns[1] - sv->mark_ns[0]);
		*why = "the capture's clock markers";
	} else if ((*hz = cpuinfo_hz(o->cpuinfo)) != 0) {
		*why = "this machine's /proc/cpuinfo (not the capture's: "
		       "give --tsc-hz if it was taken elsewhere)";
	}
	if (!sv->counter)
		return 0;
	if (!*hz || *hz > 100000000000ULL)
		return dm_errorf(err,
				 "the timestamps are TSC counts and their rate "
				 "is unknown: give --tsc-hz");
	return 0;
}

/* ---- pass 2: the conversion ------------------------------------------ */

struct oev {
	uint64_t time, addr, value;
	uint32_t cpu;
	uint8_t actor, op, size, flags;
	char label[32];
};

struct slot {
	struct oev ev[2];
	uint8_t n;
	bool pending;
};

enum last { LAST_NONE, LAST_PIO_W, LAST_EXIT, LAST_OTHER };
enum pend {
	P_NONE,
	P_APIC_READ,   /* kvm_apic read: a guest read's echo follows, or not */
	P_APIC_WRITE,  /* kvm_apic write with no guest write before it */
	P_LAPIC_WRITE, /* xAPIC MMIO write: its kvm_apic echo follows */
	P_PIO_READ,    /* IN passed to userspace: kvm_pio completes it */
	P_MMIO_READ,   /* unsatisfied-read: the completed read follows */
	P_UWRITE,      /* a write QEMU applies after the exit it causes */
};

/* kernel-irqchip=off: a queue slot held at a vcpu's exit, where QEMU may
 * have injected an interrupt before the vcpu ran on. */
struct cand {
	uint64_t slot, time;
	bool live;
};

/* The exits between two modelled accesses of a vcpu that may have injected
 * an interrupt: the first interrupt window exit, and the last exit. */
enum { GAP_WINDOW, GAP_LAST, GAP_KINDS };
struct gap {
	struct cand k[GAP_KINDS];
};

/* A modelled access and the exits before it. */
struct acked {
	struct gap before;
	uint8_t op;
	uint64_t addr, value;
};

#define ACK_RING 3 /* accesses a handler's prologue spans, EOI included */

struct thread {
	int vcpu;
	enum last last;
	enum pend pend;
	uint64_t slot, ptime, paddr, pval, pline;
	uint32_t preg, psize;
	uint8_t pop; /* P_UWRITE: DM_OP_PIO_W or DM_OP_MMIO_W */
	/* The open access's exit to userspace was logged with a reschedule
	 * pending; when QEMU served it is settled (the thread left the CPU,
	 * or QEMU was seen serving it); QEMU could serve it only after the
	 * thread's return (on_switch); QEMU had served it by served_by (0:
	 * not known: a read's window ends at its completion). */
	bool exit_resched, settled, served_late;
	uint64_t served_by;
	/* With window_ns, a read QEMU served whose window the importer
	 * cannot place it in: the slot of its exit, held for a sim mark
	 * qemu-window when the read moved to a switch back (wlive, the exit
	 * at wtime), and that mark once the read completes (wmarked). */
	bool wlive, wmarked;
	uint64_t wslot, wtime;
	struct oev wmark;
	/* How long no CPU logged any line after its last exit to userspace
	 * (0 until the next line came). */
	uint64_t exit_silence;
	int64_t peoi;	 /* vector of the kvm_eoi after an apic_write EOI */
	bool line_pend;	 /* a line change waits for its echo line */
	struct oev line; /* that change */
	struct gap gap;	 /* irqchip off: since its last modelled access */
	struct gap next; /* ... and after the exit of its open read */
	bool reading;	 /* that read's exit goes to next */
	struct acked ring[ACK_RING]; /* its last modelled accesses */
	unsigned nring;
	bool slave_eoi; /* its last modelled access was an EOI to the slave */
};

struct vcpu {
	uint64_t apic_base;
	bool x2apic;
	int64_t tsc_offset;
};

struct conv {
	const struct dm_ftrace_opts *o;
	struct dm_ftrace_stats *st;
	struct dm_error *err;
	struct survey *sv;
	struct dm_import_input *in;
	struct dm_trace_writer *w;
	struct thread th[MAX_THREADS];
	struct vcpu vc[MAX_VCPUS];
	struct slot *q;
	uint64_t qcap, head, tail;
	uint64_t last_written, now;
	uint64_t rate;
	uint32_t model_gsis;
	uint32_t dev_high, pit_high; /* GSI levels by source: userspace, PIT */
	uint16_t pmbase;
	struct dm_import_cmos cmos;
	bool delivery_eoi;
	bool irqchip_off;
	uint8_t icw2_next; /* bit n: 8259 n's next data write is ICW2 */
	int main_loop;	   /* QEMU's main loop on a CPU: 1, 0, -1 unknown */
	uint64_t main_wake_slot; /* its wake-up's queue slot while open */
	uint64_t main_wake_time;
	int pit_worker;	     /* KVM's kvm-pit thread runnable: 1, 0, -1 */
	uint64_t line_ns;    /* the last line's time */
	bool line_in_kernel; /* ... a vcpu's line KVM logged in the kernel */
	struct thread *line_exit; /* ... an exit to userspace: its
					   thread */
	uint8_t pic_base[2];
	uint64_t first_clamp_line, first_unknown_line;
	char first_unknown[48];
};

static struct slot *q_at(struct conv *c, uint64_t i)
{
	return &c->q[i & (c->qcap - 1)];
}

static int q_write(struct conv *c, const struct oev *o)
{
	struct dm_event ev = {
		.time = o->time,
		.addr = o->addr,
		.value = o->value,
		.cpu = o->cpu,
		.actor = o->actor,
		.op = o->op,
		.size = o->size,
		.flags = o->flags,
	};

	if (ev.time < c->last_written) {
		if (!c->st->clamped++)
			c->first_clamp_line = c->in->lineno;
		ev.time = c->last_written;
	}
	c->last_written = ev.time;
	memcpy(ev.label, o->label, sizeof(o->label));
	if (dm_trace_write(c->w, &ev, c->err))
		return -1;
	c->st->events++;
	switch (ev.op) {
	case DM_OP_IRQ:
		c->st->dev_irqs++;
		break;
	case DM_OP_MSI:
		c->st->dev_msis++;
		break;
	case DM_OP_THREAD:
		c->st->threads++;
		c->st->main_loop_runs +=
			ev.addr == DM_THREAD_MAIN_LOOP && ev.value;
		c->st->pit_wakeups +=
			ev.addr == DM_THREAD_PIT_WORKER && ev.value;
		break;
	case DM_OP_INTACK:
		c->st->intacks++;
		break;
	case DM_OP_MARK:
		break;
	default:
		c->st->accesses++;
		break;
	}
	return 0;
}

static int q_flush(struct conv *c)
{
	while (c->head < c->tail && !q_at(c, c->head)->pending) {
		struct slot *s = q_at(c, c->head++);

		for (unsigned i = 0; i < s->n; i++)
			if (q_write(c, &s->ev[i]))
				return -1;
	}
	return 0;
}

static int resolve(struct conv *c, struct thread *t);
static int gap_release(struct conv *c, struct gap *g);
static int gap_merge(struct conv *c, struct thread *t);
static int release_cand_at(struct conv *c, uint64_t idx);
static int close_main_wake(struct conv *c, bool ran);

/* A free slot at the tail; a full queue first closes its oldest access. */
static int q_reserve(struct conv *c, uint64_t *idx)
{
	struct slot *grown;

	if (c->tail - c->head == c->qcap && c->qcap < QUEUE_MAX) {
		grown = calloc(c->qcap * 2, sizeof(*grown));
		if (!grown)
			return dm_errorf(c->err, "out of memory");
		for (uint64_t i = c->head; i < c->tail; i++)
			grown[i & (c->qcap * 2 - 1)] = *q_at(c, i);
		free(c->q);
		c->q = grown;
		c->qcap *= 2;
	}
	while (c->tail - c->head == c->qcap) {
		struct thread *owner = NULL;

		for (unsigned i = 0; i < c->sv->nt; i++)
			if (c->th[i].pend != P_NONE &&
			    (c->th[i].slot == c->head ||
			     (c->th[i].wlive && c->th[i].wslot == c->head)))
				owner = &c->th[i];
		if (!owner && c->head == c->main_wake_slot) {
			if (close_main_wake(c, false))
				return -1;
			continue;
		}
		if (!owner) {
			int r = release_cand_at(c, c->head);

			if (r < 0)
				return -1;
			if (r)
				continue;
			return dm_errorf(c->err, "output queue stuck");
		}
		if (resolve(c, owner) || q_flush(c))
			return -1;
	}
	*idx = c->tail++;
	*q_at(c, *idx) = (struct slot){.pending = true};
	return 0;
}

static int q_fill(struct conv *c, uint64_t idx, const struct oev *a,
		  const struct oev *b)
{
	struct slot *s = q_at(c, idx);

	s->n = 0;
	if (a)
		s->ev[s->n++] = *a;
	if (b)
		s->ev[s->n++] = *b;
	s->pending = false;
	return q_flush(c);
}

static int q_push(struct conv *c, const struct oev *a)
{
	uint64_t idx;

	return q_reserve(c, &idx) || q_fill(c, idx, a, NULL);
}

static struct oev cpu_ev(uint64_t time, int vcpu, enum dm_op op, uint64_t addr,
			 unsigned size, uint64_t value, bool checked)
{
	return (struct oev){.time = time,
			    .cpu = (uint32_t)vcpu,
			    .actor = DM_ACTOR_CPU,
			    .op = (uint8_t)op,
			    .addr = addr,
			    .size = (uint8_t)size,
			    .value = checked ? value : 0,
			    .flags = checked ? DM_EV_VALUE : 0};
}

/* Virtual ns of a timestamp: since the first line, at rate if a counter. */
static uint64_t survey_ns(const struct survey *sv, uint64_t rate, uint64_t ts)
{
	uint64_t d = ts > sv->t0 ? ts - sv->t0 : 0;

	return sv->counter ? dm_muldiv64(d, DM_NS_PER_SEC, rate) : d;
}

static uint64_t vtime(const struct conv *c, const struct fline *fl)
{
	return survey_ns(c->sv, c->rate, fl->ts);
}

static int bad_line(struct conv *c, const char *what, const char *body)
{
	return dm_errorf(c->err, "%s:%" PRIu64 ": %s: '%.200s'", c->in->name,
			 c->in->lineno, what, body);
}

/* ---- the model set: which accesses reach a modelled device ---------- */

static bool lapic_page(const struct conv *c, int vcpu, uint64_t gpa)
{
	return vcpu >= 0 && gpa - c->vc[vcpu].apic_base < DM_LAPIC_MMIO_SIZE;
}

static bool modelled_mmio(const struct conv *c, int vcpu, uint64_t gpa)
{
	return lapic_page(c, vcpu, gpa) ||
	       gpa - DM_IOAPIC_BASE < DM_IOAPIC_SIZE ||
	       gpa - DM_HPET_BASE < HPET_LEN;
}

static bool modelled_msr(uint32_t index)
{
	return index == DM_MSR_APIC_BASE || index == DM_MSR_TSC_DEADLINE ||
	       (index >= DM_MSR_X2APIC_FIRST && index <= DM_MSR_X2APIC_LAST);
}

/* ---- closing an open access ------------------------------------------ */

/* A kvm_apic access that no guest MMIO or MSR line echoed. */
static int emit_unpaired_apic(struct conv *c, struct thread *t)
{
	const struct vcpu *v = &c->vc[t->vcpu];
	struct oev a, b;
	bool write = t->pend == P_APIC_WRITE;

	/*
	 * Where KVM does not trace its injections (kvm_inj_virq), an EOI
	 * nobody wrote is KVM delivering an interrupt: the kvm_pvm backend
	 * acknowledges the LAPIC as it injects, so the EOI clears the vector
	 * just taken (kvm_eoi names it), or nothing for an 8259 ExtINT
	 * (kvm_eoi vector -1).  That is an intack, and then an EOI.
	 */
	if (write && t->preg == APIC_EOI && c->delivery_eoi) {
		a = cpu_ev(t->ptime, t->vcpu, DM_OP_INTACK, 0, 0,
			   (uint64_t)t->peoi, t->peoi >= 0);
		if (t->peoi < 0)
			return q_fill(c, t->slot, &a, NULL);
		c->st->eois_by_kvm++;
		b = v->x2apic ? cpu_ev(t->ptime, t->vcpu, DM_OP_MSR_W,
				       DM_MSR_X2APIC_FIRST + (APIC_EOI >> 4), 8,
				       0, true)
			      : cpu_ev(t->ptime, t->vcpu, DM_OP_MMIO_W,
				       v->apic_base + APIC_EOI, 4, 0, true);
		return q_fill(c, t->slot, &a, &b);
	}
	if (v->x2apic)
		a = cpu_ev(t->ptime, t->vcpu, write ? DM_OP_MSR_W : DM_OP_MSR_R,
			   DM_MSR_X2APIC_FIRST + (t->preg >> 4), 8, t->pval,
			   true);
	else
		a = cpu_ev(
			t->ptime, t->vcpu, write ? DM_OP_MMIO_W : DM_OP_MMIO_R,
			v->apic_base + t->preg, 4, t->pval & 0xffffffffu, true);
	return q_fill(c, t->slot, &a, NULL);
}

/* Fills the slot of t's read that completed with a (NULL: none), after
 * the read's window mark if a is there (in the slot of its exit, or
 * before it in its own). */
static int fill_read(struct conv *c, struct thread *t, uint64_t slot,
		     const struct oev *a)
{
	const struct oev *mark = a && t->wmarked ? &t->wmark : NULL;

	t->wmarked = false;
	c->st->windows += mark != NULL;
	if (t->wlive) {
		t->wlive = false;
		if (q_fill(c, t->wslot, mark, NULL))
			return -1;
		mark = NULL;
	}
	return mark ? q_fill(c, slot, mark, a) : q_fill(c, slot, a, NULL);
}

/* Closes t's open access: a kvm_apic line is emitted as the guest's own
 * access; a userspace read that never completed is dropped. */
static int resolve(struct conv *c, struct thread *t)
{
	enum pend p = t->pend;

	t->pend = P_NONE;
	if (p == P_APIC_READ || p == P_APIC_WRITE) {
		t->pend = p;
		if (emit_unpaired_apic(c, t))
			return -1;
		t->pend = P_NONE;
		return 0;
	}
	if (p == P_LAPIC_WRITE || p == P_UWRITE) {
		struct oev a = cpu_ev(t->ptime, t->vcpu,
				      p == P_UWRITE ? t->pop : DM_OP_MMIO_W,
				      t->paddr, t->psize, t->pval, true);

		return q_fill(c, t->slot, &a, NULL);
	}
	if (p == P_PIO_READ || p == P_MMIO_READ) {
		if (c->o->log && !c->st->incomplete)
			fprintf(c->o->log,
				"import: warning: %s:%" PRIu64
				": a read served by userspace never "
				"completed; dropped\n",
				c->in->name, t->pline);
		c->st->incomplete++;
		return gap_merge(c, t) || fill_read(c, t, t->slot, NULL);
	}
	return 0;
}

/* Opens an access on t at time, holding its place in the queue. */
static int open_access(struct conv *c, struct thread *t, enum pend p,
		       uint64_t time)
{
	if (resolve(c, t) || q_reserve(c, &t->slot))
		return -1;
	t->pend = p;
	t->ptime = time;
	t->pline = c->in->lineno;
	t->exit_resched = t->settled = t->served_late = false;
	t->served_by = 0;
	t->exit_silence = 0; /* its exit's own, when that line comes */
	return 0;
}

/*
 * A write to a device QEMU serves (HPET, RTC, PM block) takes effect when
 * QEMU handles the exit: it waits for a switch back to its thread (on_switch)
 * or the thread's next line.  The RTC index port never exits (coalesced).
 */
static bool served_by_userspace(const struct conv *c, enum dm_op op,
				uint64_t addr)
{
	if (op == DM_OP_MMIO_W)
		return addr - DM_HPET_BASE < HPET_LEN;
	return addr == DM_RTC_BASE + 1 || addr - c->pmbase < DM_PMTIMER_LEN;
}

static int push_write(struct conv *c, struct thread *t, const struct oev *a)
{
	if (!served_by_userspace(c, a->op, a->addr))
		return q_push(c, a);
	if (open_access(c, t, P_UWRITE, a->time))
		return -1;
	t->pop = a->op;
	t->paddr = a->addr;
	t->psize = a->size;
	t->pval = a->value;
	return 0;
}

/*
 * A read QEMU served was computed somewhere in its window, from its exit to
 * its completion (or the line that showed QEMU serving it), where the
 * middle that the read takes may not reach: when the read moved to a
 * switch back (events of other threads then lie between the exit and the
 * read), or when no CPU logged a line for window_ns after its exit (the
 * host stopped: QEMU serves a counter read in about 12 us, the median of a
 * capture's 999 HPET counter reads, 99% within 65 us, while one such
 * window lasted 1.6 ms and QEMU had computed the read 7 us in; in another
 * the silence, 1.57 ms, ended at QEMU's main thread getting a CPU, 35 us
 * before the completion, and QEMU had computed the read at the exit).  With
 * window_ns, sim mark qemu-window-V-LEN at the exit gives the tolerance
 * that window: vcpu V's next read was computed within LEN ns from here.
 */
static void mark_window(struct conv *c, struct thread *t, uint64_t end)
{
	uint64_t from = t->wlive ? t->wtime : t->ptime;
	bool silent = !t->served_by && t->exit_silence >= c->o->window_ns;

	t->wmarked = c->o->window_ns && !c->irqchip_off &&
		     (t->wlive || silent) && end >= from;
	if (!t->wmarked)
		return;
	t->wmark = (struct oev){
		.time = from, .actor = DM_ACTOR_SIM, .op = DM_OP_MARK};
	snprintf(t->wmark.label, sizeof(t->wmark.label),
		 "qemu-window-%d-%" PRIu64, t->vcpu, end - from);
}

/* The slot and time of a read that completes t's open access, or a new
 * slot at time.  QEMU computed a read it served somewhere between the exit
 * (or the switch back) and the completion line at *time, or the line that
 * showed QEMU serving it (served_now); when that window is long the host
 * stopped the thread unseen (this host is a VM too): the read takes the
 * middle, off by at most half the window (where that may not reach, the
 * window is marked: mark_window).  With kernel-irqchip=off QEMU
 * injects the next interrupt after serving the exit, and that injection
 * takes the exit's instant (off_access): the read keeps the exit too, or
 * it would follow an interrupt that came after it. */
static int read_slot(struct conv *c, struct thread *t, enum pend p, bool match,
		     uint64_t *time, uint64_t *slot)
{
	if (t->pend == p && match) {
		uint64_t end = t->served_by ? t->served_by : *time;

		if (c->irqchip_off)
			end = t->ptime;
		if (end - t->ptime > c->st->service_window_ns)
			c->st->service_window_ns = end - t->ptime;
		mark_window(c, t, end);
		*time = t->ptime + (end - t->ptime) / 2;
		t->pend = P_NONE;
		*slot = t->slot;
		return 0;
	}
	return resolve(c, t) || q_reserve(c, slot);
}

/* ---- kernel-irqchip=off: interrupts from the guest's EOIs ------------ */

/*
 * With kernel-irqchip=off QEMU injects an interrupt with KVM_INTERRUPT just
 * before it resumes a vcpu after an exit (kvm_arch_pre_run), having run its
 * 8259's or LAPIC's INTA; no tracepoint shows it.  The handler then runs
 * at once, so the acceptance lies in the gap between the handler's first
 * modelled access and the modelled access before it.  The exits of a gap
 * that can be the injection hold queue slots (candidates); a modelled
 * access keeps its gap, and the EOI that ends a handler fills one
 * candidate of the gap before the handler with the intack
 * (docs/importers.md).
 */
static int cand_release(struct conv *c, struct cand *k)
{
	if (!k->live)
		return 0;
	k->live = false;
	return q_fill(c, k->slot, NULL, NULL);
}

static int gap_release(struct conv *c, struct gap *g)
{
	for (unsigned i = 0; i < GAP_KINDS; i++)
		if (cand_release(c, &g->k[i]))
			return -1;
	return 0;
}

static struct gap gap_take(struct gap *g)
{
	struct gap r = *g;

	*g = (struct gap){0};
	return r;
}

/* An exit on t (the reason kvm_userspace_exit printed). */
static int gap_exit(struct conv *c, struct thread *t, uint64_t time,
		    const char *reason)
{
	struct gap *g = t->reading ? &t->next : &t->gap;
	struct cand *k = &g->k[GAP_WINDOW];

	t->reading = false;
	if (strcmp(reason, "KVM_EXIT_IRQ_WINDOW_OPEN") || k->live) {
		k = &g->k[GAP_LAST];
		if (cand_release(c, k))
			return -1;
	}
	if (q_reserve(c, &k->slot))
		return -1;
	k->time = time;
	k->live = true;
	return 0;
}

/* A read that turned out unmodelled: its exit joins the gap it is in,
 * the last one so far. */
static int gap_merge(struct conv *c, struct thread *t)
{
	struct cand *w = &t->next.k[GAP_WINDOW], *l = &t->next.k[GAP_LAST];

	if (!t->gap.k[GAP_WINDOW].live)
		t->gap.k[GAP_WINDOW] = *w;
	else if (cand_release(c, w))
		return -1;
	if (l->live) {
		if (cand_release(c, &t->gap.k[GAP_LAST]))
			return -1;
		t->gap.k[GAP_LAST] = *l;
	}
	t->next = (struct gap){0};
	t->reading = false;
	return 0;
}

/* A modelled read completed: the gap before it ends at its exit. */
static struct gap gap_before_read(struct thread *t)
{
	struct gap r = gap_take(&t->gap);

	t->gap = gap_take(&t->next);
	t->reading = false;
	return r;
}

/* The queue is full behind a candidate: nothing fills it any more. */
static int release_cand_at(struct conv *c, uint64_t idx)
{
	for (unsigned i = 0; i < c->sv->nt; i++) {
		struct thread *t = &c->th[i];
		struct gap *gs[2 + ACK_RING] = {&t->gap, &t->next};

		for (unsigned j = 0; j < t->nring; j++)
			gs[2 + j] = &t->ring[j].before;
		for (unsigned j = 0; j < 2 + t->nring; j++)
			for (unsigned k = 0; k < GAP_KINDS; k++)
				if (gs[j]->k[k].live && gs[j]->k[k].slot == idx)
					return cand_release(c, &gs[j]->k[k])
						       ? -1
						       : 1;
	}
	return 0;
}

static int release_all_cands(struct conv *c, struct thread *t)
{
	for (unsigned j = 0; j < t->nring; j++)
		if (gap_release(c, &t->ring[j].before))
			return -1;
	t->nring = 0;
	return gap_release(c, &t->gap) || gap_release(c, &t->next);
}

/* 8259 n (0 master, 1 slave) for a port of its pair, else -1. */
static int pic_chip(uint64_t port)
{
	if (port - DM_PIC_MASTER_BASE < 2)
		return 0;
	return port - DM_PIC_SLAVE_BASE < 2 ? 1 : -1;
}

/* ICW1 (command port, bit 4) announces ICW2, the vector base, as the
 * next data write. */
static void track_icw2(struct conv *c, const struct acked *a)
{
	int chip = pic_chip(a->addr);

	if (a->op != DM_OP_PIO_W || chip < 0)
		return;
	if (!(a->addr & 1) && (a->value & 0x10))
		c->icw2_next |= (uint8_t)(1u << chip);
	else if ((a->addr & 1) && (c->icw2_next >> chip & 1)) {
		c->pic_base[chip] = (uint8_t)(a->value & 0xf8);
		c->icw2_next &= (uint8_t) ~(1u << chip);
	}
}

/* OCW2 with the EOI bit (non-specific, specific, either with rotate). */
static bool pic_eoi(const struct acked *a)
{
	return a->op == DM_OP_PIO_W && pic_chip(a->addr) >= 0 &&
	       !(a->addr & 1) && !(a->value & 0x18) && (a->value & 0x20);
}

static bool lapic_eoi(const struct conv *c, const struct thread *t,
		      const struct acked *a)
{
	return a->op == DM_OP_MMIO_W &&
	       a->addr == c->vc[t->vcpu].apic_base + APIC_EOI;
}

/*
 * The handler's first modelled access: Linux's mask_and_ack_8259A reads
 * and rewrites the chip's IMR just before its specific EOI; any other
 * handler (Linux's LAPIC acks, SeaBIOS's) starts, as far as the models
 * see, with its EOI.
 */
static struct acked *handler_start(struct thread *t, const struct acked *eoi)
{
	struct acked *r, *w;
	int chip = pic_chip(eoi->addr);

	if (chip < 0 || t->nring < 3) /* the EOI is the last */
		return NULL;
	r = &t->ring[t->nring - 3];
	w = &t->ring[t->nring - 2];
	if (r->op == DM_OP_PIO_R && w->op == DM_OP_PIO_W &&
	    r->addr == w->addr && pic_chip(r->addr) == chip && (r->addr & 1))
		return r;
	return NULL;
}

/*
 * Where QEMU injected: at the first interrupt window exit (it asked for
 * one, the guest's IF being clear, and kicks that follow come from
 * interrupts raised while the handler runs); else at an exit with IF set,
 * after which the handler ran: the last exit before it.
 */
static struct cand *injection(struct gap *g)
{
	if (g->k[GAP_WINDOW].live)
		return &g->k[GAP_WINDOW];
	return &g->k[GAP_LAST];
}

static int emit_ack(struct conv *c, struct thread *t, struct acked *eoi,
		    uint64_t time)
{
	struct acked *start = handler_start(t, eoi);
	struct cand *k = injection(start ? &start->before : &eoi->before);
	int chip = pic_chip(eoi->addr);
	bool known = chip >= 0 && (eoi->value & 0x40);
	struct oev a;

	a = cpu_ev(k->live ? k->time : time, t->vcpu, DM_OP_INTACK, 0, 0,
		   known ? (uint64_t)(c->pic_base[chip] | (eoi->value & 7)) : 0,
		   known);
	c->st->acks_vec += known;
	if (!k->live) { /* no exit before the handler: no place but here */
		c->st->acks_late++;
		return q_push(c, &a);
	}
	k->live = false;
	return q_fill(c, k->slot, &a, NULL);
}

/*
 * Called for each modelled access of a vcpu, before it is queued, with the
 * candidate before it.  The master's EOI right after the slave's ends the
 * same (cascaded) interrupt.
 */
static int off_access(struct conv *c, struct thread *t, struct gap before,
		      uint64_t time, uint8_t op, uint64_t addr, uint64_t value)
{
	struct acked a = {before, op, addr, value};
	bool eoi;

	if (!c->irqchip_off)
		return 0;
	track_icw2(c, &a);
	if (t->nring == ACK_RING) {
		if (gap_release(c, &t->ring[0].before))
			return -1;
		memmove(t->ring, t->ring + 1, sizeof(t->ring[0]) * --t->nring);
	}
	t->ring[t->nring++] = a;
	eoi = pic_eoi(&a) || lapic_eoi(c, t, &a);
	if (eoi && !(t->slave_eoi && pic_chip(addr) == 0) &&
	    emit_ack(c, t, &t->ring[t->nring - 1], time))
		return -1;
	t->slave_eoi = pic_eoi(&a) && pic_chip(addr) == 1;
	return 0;
}

/* ---- pass 2 handlers ---------------------------------------------------- */

static int on_pio(struct conv *c, struct thread *t, uint64_t time,
		  const char *body)
{
	struct ev_pio e;
	struct oev a;
	uint64_t slot;
	bool known;

	if (!parse_pio(body, &e))
		return bad_line(c,
				"kvm_pio line not in the format "
				"'pio_read|pio_write at 0xPORT size N "
				"count N val 0xV'",
				body);
	if (e.write) {
		if (resolve(c, t))
			return -1;
		t->last = e.port == RTC_INDEX ? LAST_OTHER : LAST_PIO_W;
		if (!dm_import_modelled_port(e.port, c->pmbase)) {
			c->st->unmodelled++;
			return 0;
		}
		if (e.count > 1)
			return bad_line(c,
					"string port write to a modelled "
					"device: the trace shows only "
					"the first value",
					body);
		dm_import_cmos_access(&c->cmos, e.port, true, (uint8_t)e.val);
		a = cpu_ev(time, t->vcpu, DM_OP_PIO_W, e.port, e.size, e.val,
			   true);
		return off_access(c, t, gap_take(&t->gap), time, DM_OP_PIO_W,
				  e.port, e.val) ||
		       push_write(c, t, &a);
	}
	if (read_slot(c, t, P_PIO_READ, true, &time, &slot))
		return -1;
	t->last = LAST_OTHER;
	if (!dm_import_modelled_port(e.port, c->pmbase)) {
		c->st->unmodelled++;
		return gap_merge(c, t) || fill_read(c, t, slot, NULL);
	}
	if (off_access(c, t, gap_before_read(t), time, DM_OP_PIO_R, e.port,
		       e.val))
		return -1;
	/* A string read shows its first value; the rest are recorded.  A
	 * CMOS byte QEMU's board set is not checked. */
	known = e.count > 1 ||
		!dm_import_cmos_access(&c->cmos, e.port, false, 0);
	c->st->cmos_unknown += !known;
	a = cpu_ev(time, t->vcpu, DM_OP_PIO_R, e.port, e.size, e.val, known);
	if (fill_read(c, t, slot, &a))
		return -1;
	a.flags = 0;
	a.value = 0;
	for (uint32_t i = 1; i < e.count; i++)
		if (q_push(c, &a))
			return -1;
	return 0;
}

static int on_uexit(struct conv *c, struct thread *t, uint64_t time,
		    bool resched, const char *body)
{
	char reason[32];

	if (!parse_exit(body, reason, sizeof(reason)))
		return bad_line(c,
				"kvm_userspace_exit line not in the "
				"format 'reason NAME (N)'",
				body);
	/* An IN that KVM passed to userspace: its value comes with the
	 * completing kvm_pio line when the vcpu runs again. */
	if (!strcmp(reason, "KVM_EXIT_IO") && t->last != LAST_PIO_W &&
	    t->pend != P_PIO_READ) {
		if (open_access(c, t, P_PIO_READ, time))
			return -1;
		t->reading = c->irqchip_off;
	} else if (t->pend == P_APIC_READ || t->pend == P_APIC_WRITE) {
		if (resolve(c, t))
			return -1;
	}
	t->last = LAST_EXIT;
	t->exit_resched = resched;
	return c->irqchip_off ? gap_exit(c, t, time, reason) : 0;
}

static int on_mmio(struct conv *c, struct thread *t, uint64_t time,
		   const char *body)
{
	struct ev_mmio e;
	struct oev a;
	uint64_t slot;
	bool lapic, modelled;

	if (!parse_mmio(body, &e))
		return bad_line(c,
				"kvm_mmio line not in the format 'mmio "
				"read|write|unsatisfied-read len N gpa "
				"0xA val 0xV'",
				body);
	lapic = lapic_page(c, t->vcpu, e.gpa);
	modelled = modelled_mmio(c, t->vcpu, e.gpa);
	if (modelled && e.len != 1 && e.len != 2 && e.len != 4 && e.len != 8)
		return bad_line(c, "MMIO access of a size no bus has", body);
	if (e.type == MMIO_UNSAT) {
		if (open_access(c, t, P_MMIO_READ, time))
			return -1;
		t->reading = c->irqchip_off;
		t->paddr = e.gpa;
		t->psize = e.len;
		return 0;
	}
	if (e.type == MMIO_WRITE) {
		t->last = LAST_OTHER;
		if (!modelled) {
			c->st->unmodelled++;
			return resolve(c, t);
		}
		/* QEMU's LAPIC has no kvm_apic echo to wait for. */
		if (lapic && !c->irqchip_off) {
			/* Applied when its kvm_apic line is logged. */
			if (open_access(c, t, P_LAPIC_WRITE, time))
				return -1;
			t->paddr = e.gpa;
			t->psize = e.len;
			t->pval = e.val;
			return 0;
		}
		a = cpu_ev(time, t->vcpu, DM_OP_MMIO_W, e.gpa, e.len, e.val,
			   true);
		return resolve(c, t) ||
		       off_access(c, t, gap_take(&t->gap), time, DM_OP_MMIO_W,
				  e.gpa, e.val) ||
		       push_write(c, t, &a);
	}
	/* A LAPIC read, computed when the kvm_apic line before it was
	 * logged: it takes that line's place. */
	if (t->pend == P_APIC_READ && lapic &&
	    ((e.gpa - c->vc[t->vcpu].apic_base) & ~0xfULL) == t->preg) {
		t->pend = P_NONE;
		t->last = LAST_OTHER;
		c->st->outputs++;
		a = cpu_ev(t->ptime, t->vcpu, DM_OP_MMIO_R, e.gpa, e.len, e.val,
			   true);
		return q_fill(c, t->slot, &a, NULL);
	}
	if (read_slot(c, t, P_MMIO_READ, t->paddr == e.gpa && t->psize == e.len,
		      &time, &slot))
		return -1;
	t->last = LAST_OTHER;
	if (!modelled) {
		c->st->unmodelled++;
		return gap_merge(c, t) || fill_read(c, t, slot, NULL);
	}
	a = cpu_ev(time, t->vcpu, DM_OP_MMIO_R, e.gpa, e.len, e.val, true);
	return off_access(c, t, gap_before_read(t), time, DM_OP_MMIO_R, e.gpa,
			  e.val) ||
	       fill_read(c, t, slot, &a);
}

/*
 * TSC-deadline values are guest TSC counts.  The guest TSC is the host TSC
 * plus the vcpu's offset, and the machine's TSC (tsc_hz = the host rate)
 * counts from the first event, so a deadline D is D - offset - T0.  A
 * deadline already past stays armed (1); 0 disarms and stays 0.
 */
static int tsc_deadline(struct conv *c, struct thread *t, uint64_t *val,
			const char *body)
{
	uint64_t host;

	if (!*val)
		return 0;
	if (!c->sv->counter)
		return bad_line(c,
				"TSC-deadline value, but the trace clock "
				"is not the TSC (capture with x86-tsc)",
				body);
	host = *val - (uint64_t)c->vc[t->vcpu].tsc_offset;
	*val = host > c->sv->t0 ? host - c->sv->t0 : 1;
	return 0;
}

static int on_msr(struct conv *c, struct thread *t, uint64_t time,
		  const char *body)
{
	struct ev_msr e;
	struct oev a;
	uint32_t echo;

	if (!parse_msr(body, &e))
		return bad_line(c,
				"kvm_msr line not in the format "
				"'msr_read|msr_write IDX = 0xV'",
				body);
	/* An x2APIC access, done when its kvm_apic line was logged: it
	 * takes that line's place. */
	echo = DM_MSR_X2APIC_FIRST + (t->preg >> 4);
	if (!e.gp && e.index == echo &&
	    ((t->pend == P_APIC_READ && !e.write) ||
	     (t->pend == P_APIC_WRITE && e.write))) {
		t->pend = P_NONE;
		t->last = LAST_OTHER;
		c->st->outputs++;
		a = cpu_ev(t->ptime, t->vcpu,
			   e.write ? DM_OP_MSR_W : DM_OP_MSR_R, e.index, 8,
			   e.val, true);
		return q_fill(c, t->slot, &a, NULL);
	}
	if (resolve(c, t))
		return -1;
	t->last = LAST_OTHER;
	if (!modelled_msr(e.index)) {
		c->st->unmodelled++;
		return 0;
	}
	if (e.gp) {
		/* Replay checks that the model refuses it too; a faulting
		 * read read nothing. */
		c->st->faulted++;
		a = cpu_ev(time, t->vcpu, e.write ? DM_OP_MSR_W : DM_OP_MSR_R,
			   e.index, 8, e.val, e.write);
		a.flags |= DM_EV_GP;
		return q_push(c, &a);
	}
	if (e.index == DM_MSR_TSC_DEADLINE && tsc_deadline(c, t, &e.val, body))
		return -1;
	a = cpu_ev(time, t->vcpu, e.write ? DM_OP_MSR_W : DM_OP_MSR_R, e.index,
		   8, e.val, true);
	if (e.index == DM_MSR_APIC_BASE && e.write) {
		c->vc[t->vcpu].apic_base = e.val & 0xfffffffffffff000ULL;
		c->vc[t->vcpu].x2apic = (e.val & 0xc00) == 0xc00;
	}
	return q_push(c, &a);
}

static int on_apic(struct conv *c, struct thread *t, uint64_t time,
		   const char *body)
{
	struct ev_apic e;

	if (!parse_apic(body, &e))
		return bad_line(c,
				"kvm_apic line not in the format "
				"'apic_read|apic_write APIC_REG = 0xV'",
				body);
	/* The echo of an xAPIC write: the write is applied now. */
	if (e.write && t->pend == P_LAPIC_WRITE &&
	    ((t->paddr - c->vc[t->vcpu].apic_base) & ~0xfULL) == e.reg) {
		struct oev a = cpu_ev(time, t->vcpu, DM_OP_MMIO_W, t->paddr,
				      t->psize, t->pval, true);

		t->pend = P_NONE;
		c->st->outputs++;
		return q_fill(c, t->slot, &a, NULL);
	}
	if (open_access(c, t, e.write ? P_APIC_WRITE : P_APIC_READ, time))
		return -1;
	t->preg = e.reg;
	t->pval = e.val;
	t->peoi = -1;
	return 0;
}

static int on_eoi(struct conv *c, struct thread *t, const char *body)
{
	int64_t vector;

	if (!parse_eoi(body, &vector))
		return bad_line(c,
				"kvm_eoi line not in the format 'apicid "
				"N vector V'",
				body);
	if (t->pend == P_APIC_WRITE && t->preg == APIC_EOI && vector >= 0 &&
	    vector <= 0xff)
		t->peoi = vector;
	c->st->outputs++;
	return 0;
}

static int on_inj_virq(struct conv *c, struct thread *t, uint64_t time,
		       const char *body)
{
	struct ev_inj e;
	struct oev a;

	if (!parse_inj_virq(body, &e))
		return bad_line(c,
				"kvm_inj_virq line not in the format "
				"'IRQ 0xV' or 'Soft/INTn 0xV'",
				body);
	if (resolve(c, t))
		return -1;
	/* A software INTn is no interrupt acceptance; a reinjection
	 * repeats one already counted. */
	if (e.soft || e.reinjected) {
		c->st->outputs++;
		return 0;
	}
	a = cpu_ev(time, t->vcpu, DM_OP_INTACK, 0, 0, e.vector, true);
	return q_push(c, &a);
}

/* A held line change, written at the time it has (its own line's, when
 * no echo followed). */
static int flush_line(struct conv *c, struct thread *t)
{
	if (!t->line_pend)
		return 0;
	t->line_pend = false;
	return q_push(c, &t->line);
}

/*
 * An input line change (the kvm-pit thread's IRQ0 edges with
 * pit_irq0_edges, userspace's lines).  kvm_set_irq is logged before the
 * line changes; the first echo (kvm_pic_set_irq, logged under the 8259's
 * lock after its IRR changed, or kvm_ioapic_set_irq) is the change's
 * time, so a vcpu's IRR read or interrupt logged before the echo is
 * placed before the change, as KVM ordered them: the thread raising the
 * line can be preempted between the two.
 */
static int hold_line(struct conv *c, struct thread *t, const struct oev *a)
{
	if (!t || !c->sv->echoes)
		return q_push(c, a);
	if (flush_line(c, t))
		return -1;
	t->line = *a;
	t->line_pend = true;
	return 0;
}

static int on_echo(struct conv *c, struct thread *t, uint64_t time)
{
	c->st->outputs++;
	if (!t || !t->line_pend)
		return 0;
	t->line.time = time;
	return flush_line(c, t);
}

/* An access QEMU serves waits open on t. */
static bool served_by_qemu(const struct thread *t)
{
	return t->pend == P_PIO_READ || t->pend == P_MMIO_READ ||
	       t->pend == P_UWRITE;
}

/*
 * A line change by userspace on a vcpu's thread whose access waits in QEMU
 * is QEMU's device code running there: QEMU is serving that access (a
 * vcpu thread runs device code only for its own exit; an RTC register B
 * write lowers IRQ8, a Register C read lowers it after taking its value).
 * It was served by now, whatever preempts the thread next.
 */
static void served_now(struct conv *c, struct thread *t, uint64_t time)
{
	if (!t || !served_by_qemu(t) || t->last != LAST_EXIT || t->settled)
		return;
	t->settled = true;
	t->served_by = time;
	c->st->served_seen++;
}

/*
 * A vcpu thread that wakes QEMU's main loop from its own context (not an
 * interrupt's) after an exit is running QEMU's handler of that exit (an
 * HPET write re-arms QEMU's timers, which wakes the main loop): the access
 * was served by now, whatever preempts the thread next.  The HPET enable
 * of a 2-vcpu boot woke it 16 us after its exit, then another program
 * preempted the thread for 5.3 ms; the ticks ran from the wake-up.
 */
static void woke_main_loop(struct conv *c, struct thread *t,
			   const struct fline *fl, uint64_t time)
{
	uint64_t tid;

	if (!fl->in_irq && c->sv->main_tid && parse_wakeup(fl->body, &tid) &&
	    tid == c->sv->main_tid)
		served_now(c, t, time);
}

/*
 * KVM frees its PIT (kvm_free_pit, the VM's teardown) with reinject off
 * before it cancels the PIT's timer, so a tick then raises IRQ0 whether
 * the guest acknowledged the last or not; no vcpu runs to take it.  The
 * capture shows the teardown: the kvm-pit worker's exit, after the vcpus'
 * last event.  PIT edges in between are not the PIT model's to answer.
 */
static bool torn_down(const struct conv *c)
{
	return c->sv->pit_exit_line && c->in->lineno > c->sv->last_vcpu_line &&
	       c->in->lineno < c->sv->pit_exit_line;
}

static int on_set_irq(struct conv *c, struct thread *t, uint64_t time,
		      const char *body)
{
	struct ev_irq e;
	struct oev a = {.time = time,
			.actor = DM_ACTOR_DEV,
			.op = DM_OP_IRQ,
			.flags = DM_EV_VALUE};
	bool pit = false;
	uint32_t bit, *high, was;

	if (!parse_set_irq(body, &e))
		return bad_line(c,
				"kvm_set_irq line not in the format 'gsi "
				"N level L source S'",
				body);
	if (e.source < KERNEL_SOURCE_MIN)
		served_now(c, t, time);
	/*
	 * In-kernel devices (the PIT) have their own source ids, and are
	 * the PIT model's output unless pit_irq0_edges takes them from the
	 * trace; GSIs above the IOAPIC's are MSI routes, whose
	 * kvm_msi_set_irq line follows; userspace raises of modelled devices
	 * (the RTC, the HPET) are the models' own outputs.
	 */
	if (pit_edge(&e) && torn_down(c)) {
		c->st->pit_teardown++;
		return 0;
	}
	if (pit_edge(&e) && c->o->pit_irq0_edges)
		pit = true;
	else if (e.source >= KERNEL_SOURCE_MIN || e.gsi >= ISA_GSIS ||
		 (c->model_gsis >> e.gsi & 1)) {
		c->st->outputs++;
		return 0;
	}
	/*
	 * KVM ORs the levels its sources give a GSI: with the PIT's edges
	 * and userspace lines both inputs on GSI 0, a change of one source
	 * that leaves the OR as it was is no change of the line.
	 */
	bit = 1u << e.gsi;
	high = pit ? &c->pit_high : &c->dev_high;
	if (!e.level && !(*high & bit)) {
		c->st->noop_lowers++;
		return 0;
	}
	was = (c->dev_high | c->pit_high) & bit;
	*high = e.level ? *high | bit : *high & ~bit;
	if (((c->dev_high | c->pit_high) & bit) == was) {
		c->st->shared++;
		return 0;
	}
	a.addr = e.gsi;
	a.value = e.level != 0;
	if (pit)
		c->st->pit_edges++;
	return hold_line(c, t, &a);
}

static int on_msi(struct conv *c, uint64_t time, const char *body)
{
	struct ev_msi e;
	struct oev a = {.time = time,
			.actor = DM_ACTOR_DEV,
			.op = DM_OP_MSI,
			.size = 4,
			.flags = DM_EV_VALUE};

	if (!parse_msi(body, &e))
		return bad_line(c,
				"kvm_msi_set_irq line not in the format "
				"'dst D vec V (MODE|DM|TRIGGER)'",
				body);
	a.addr = e.addr;
	a.value = e.data;
	return q_push(c, &a);
}

static int on_tsc_offset(struct conv *c, const char *body)
{
	uint64_t vcpu, next;

	if (!parse_tsc_offset(body, &vcpu, &next))
		return bad_line(c,
				"kvm_write_tsc_offset line not in the "
				"format 'vcpu=N prev=P next=N'",
				body);
	if (vcpu < MAX_VCPUS)
		c->vc[vcpu].tsc_offset = (int64_t)next;
	c->st->outputs++;
	return 0;
}

/* sim mark lost-N (lost-unknown when tracefs did not count them). */
static int mark_lost(struct conv *c, uint64_t time, bool known, uint64_t n)
{
	struct oev a = {.time = time, .actor = DM_ACTOR_SIM, .op = DM_OP_MARK};

	if (known)
		snprintf(a.label, sizeof(a.label), "lost-%" PRIu64, n);
	else
		snprintf(a.label, sizeof(a.label), "lost-unknown");
	return q_push(c, &a);
}

static int on_lost(struct conv *c, const struct fline *fl)
{
	if (c->o->log && fl->lost_known)
		fprintf(c->o->log,
			"import: warning: %s:%" PRIu64
			": the ring buffer lost %" PRIu64 " events here\n",
			c->in->name, c->in->lineno, fl->lost);
	else if (c->o->log)
		fprintf(c->o->log,
			"import: warning: %s:%" PRIu64
			": the ring buffer lost events here\n",
			c->in->name, c->in->lineno);
	c->st->lost += fl->lost_known ? fl->lost : 1;
	/* The echo of a held PIT edge may be among the events lost. */
	for (unsigned i = 0; i < c->sv->nt; i++)
		if (flush_line(c, &c->th[i]))
			return -1;
	return mark_lost(c, c->now, fl->lost_known, fl->lost);
}

static struct thread *conv_thread(struct conv *c, uint32_t tid)
{
	for (unsigned i = 0; i < c->sv->nt; i++)
		if (c->sv->t[i].tid == tid)
			return &c->th[i];
	return NULL;
}

/* A thread of QEMU's process (its vcpus, its main loop). */
static bool in_qemu(const struct conv *c, const struct thread *t)
{
	return t && c->sv->t[t - c->th].qemu_thread;
}

/* The thread whose access waited runs again at time: QEMU serves the
 * access from then on (its place in the queue moves there too), and its
 * next switch away is judged again, on its state alone. */
static int back_on_cpu(struct conv *c, struct thread *t, uint64_t time)
{
	bool read = t->pend == P_PIO_READ || t->pend == P_MMIO_READ;

	t->served_late = t->exit_resched = t->settled = false;
	if (c->o->window_ns && !c->irqchip_off && read && !t->wlive) {
		t->wlive = true; /* its window mark's place (mark_window) */
		t->wslot = t->slot;
		t->wtime = t->ptime;
	} else if (q_fill(c, t->slot, NULL, NULL)) {
		return -1;
	}
	if (q_reserve(c, &t->slot))
		return -1;
	t->ptime = time;
	return 0;
}

/*
 * An access that exited to userspace is served by QEMU on the vcpu's
 * thread once the thread is back in userspace and holds QEMU's lock.  If
 * the exit was logged with a reschedule pending (the host preempts the
 * thread on its way out), or the thread's first switch away after the
 * exit blocks (QEMU's lock is taken), QEMU serves it only after the thread
 * runs again, up to tens of microseconds later: the access moves to that
 * switch back; likewise when another program or a kernel thread (the
 * kvm-pit worker, woken by its timer) preempts it.  A write whose thread
 * QEMU's own main thread preempts (state R, no reschedule at the exit)
 * was served first: the write woke that thread (an HPET write re-arms
 * QEMU's timers) and stays where it is.  A read wakes no thread, so such
 * a preemption says nothing of its service and it waits for the switch
 * back too (QEMU's main thread, woken by its HPET timer 47 us after an
 * HPET counter read's exit, preempted the vcpu for 4.3 ms; the counter
 * showed the instant after the switch back), unless QEMU was seen
 * serving it (served_now).
 */
static int on_switch(struct conv *c, uint32_t tid, uint64_t time,
		     const char *body)
{
	struct thread *out = conv_thread(c, tid), *in;
	uint64_t next;
	bool blocks;

	if (!parse_switch(body, &blocks, &next))
		return bad_line(c,
				"sched_switch line without 'prev_state=S "
				"==> ... next_pid=N'",
				body);
	in = conv_thread(c, (uint32_t)next);
	if (out && served_by_qemu(out) && out->last == LAST_EXIT &&
	    !out->settled) {
		out->settled = true;
		out->served_late = out->exit_resched || blocks ||
				   !in_qemu(c, in) || out->pend != P_UWRITE;
	}
	if (!in || !served_by_qemu(in) || !in->served_late)
		return 0;
	c->st->rescheduled++;
	return back_on_cpu(c, in, time);
}

/*
 * A thread whose access waits for its return logs a line with no switch
 * back to it before: the switch went unlogged (on this host, 2 CPUs, no
 * switch from CPU 1's idle task to a traced thread is ever in the trace,
 * while every switch away is), so the thread's return is unknown; it ran
 * without a break from there to this line (a switch away would be in the
 * trace), and QEMU served the access in that run: it takes this line's
 * time.
 */
static int returned_unlogged(struct conv *c, struct thread *t, uint64_t time)
{
	if (!t || !served_by_qemu(t) || !t->served_late)
		return 0;
	c->st->unlogged_returns++;
	return back_on_cpu(c, t, time);
}

static struct oev thread_event(uint32_t thread, uint64_t time, int level)
{
	return (struct oev){.time = time,
			    .actor = DM_ACTOR_DEV,
			    .op = DM_OP_THREAD,
			    .addr = thread,
			    .value = (uint64_t)level,
			    .flags = DM_EV_VALUE};
}

/* After the vcpus' last event host threads serve nobody, and a trace that
 * ran on would leave the PIT's last ticks unanswered: no thread events. */
static bool past_last_vcpu_line(const struct conv *c)
{
	return c->in->lineno > c->sv->last_vcpu_line;
}

/* A dev thread event, when the thread's level changes (q_write counts
 * the runs and wake-ups). */
static int thread_level(struct conv *c, int *was, uint32_t thread,
			uint64_t time, int level)
{
	struct oev e = thread_event(thread, time, level);

	if (*was == level || past_last_vcpu_line(c))
		return 0;
	*was = level;
	return q_push(c, &e);
}

static int main_loop_level(struct conv *c, uint64_t time, int level)
{
	return thread_level(c, &c->main_loop, DM_THREAD_MAIN_LOOP, time, level);
}

static bool is_pit_worker(struct conv *c, uint64_t tid)
{
	const struct thread *t =
		tid <= UINT32_MAX ? conv_thread(c, (uint32_t)tid) : NULL;

	return t && c->sv->t[t - c->th].pit_thread;
}

/*
 * KVM's PIT worker (kvm-pit/PID) raises IRQ0 once it runs after its
 * wake-up: by the PIT's hrtimer at a tick, or in reinject mode by the
 * guest's acknowledgement.  Where the capture has sched_wakeup lines its
 * runnable spells become dev thread 1 events: 1 at the wake-up, 0 when it
 * sleeps (a switch away in state S, D or X; preempted, R, it stays
 * runnable).  A switch back with no wake-up seen says nothing of when it
 * woke, and nothing is written: the check then judges the raise itself.
 */
static int follow_pit_worker(struct conv *c, const struct fline *fl, enum kev k,
			     uint64_t time)
{
	uint64_t tid;
	bool blocks;

	if (!c->sv->wakeups)
		return 0;
	if (k == K_WAKEUP && parse_wakeup(fl->body, &tid) &&
	    is_pit_worker(c, tid)) {
		return thread_level(c, &c->pit_worker, DM_THREAD_PIT_WORKER,
				    time, 1);
	}
	if (k == K_SWITCH && is_pit_worker(c, fl->tid) &&
	    parse_switch(fl->body, &blocks, &tid) &&
	    (blocks || prev_state(fl->body) == 'X'))
		return thread_level(c, &c->pit_worker, DM_THREAD_PIT_WORKER,
				    time, 0);
	return 0;
}

/*
 * The main loop's wake-up while it is off: whether it ran from there is
 * known only from what comes next, so the wake-up holds a queue slot.
 * ran: its own line came first, with no switch to it (from CPU 1's idle
 * task, which logs none): it ran from the wake-up, 15-36 us after it on
 * this host (an idle CPU's exit latency, measured on CPU 0).  Otherwise
 * (a switch to it logged, or the queue full) the slot stays empty.
 */
static int close_main_wake(struct conv *c, bool ran)
{
	uint64_t slot = c->main_wake_slot;
	struct oev e = thread_event(DM_THREAD_MAIN_LOOP, c->main_wake_time, 1);

	c->main_wake_slot = UINT64_MAX;
	if (!ran)
		return q_fill(c, slot, NULL, NULL);
	c->main_loop = 1;
	c->st->main_loop_woken++;
	return q_fill(c, slot, &e, NULL);
}

static int main_loop_woken(struct conv *c, const struct fline *fl,
			   uint64_t time)
{
	uint64_t tid;

	if (c->main_loop || c->main_wake_slot != UINT64_MAX ||
	    past_last_vcpu_line(c) || !parse_wakeup(fl->body, &tid) ||
	    tid != c->sv->main_tid)
		return 0;
	c->main_wake_time = time;
	return q_reserve(c, &c->main_wake_slot);
}

/*
 * QEMU's main loop thread (the process's first: its tid is the capture's
 * pid) runs QEMU's device timers, the RTC's update among them; when it is
 * off its CPU they wait.  Its switches give dev thread 0 events: away from
 * the CPU (it is prev), back (next).  A line it logs while off means it
 * came back unseen (no switch from CPU 1's idle task is ever in this
 * host's trace): it runs from that line on, as a vcpu thread does in
 * returned_unlogged.
 */
static int follow_main_loop(struct conv *c, const struct fline *fl, enum kev k,
			    uint64_t time)
{
	uint64_t next;
	bool blocks;

	if (!c->sv->qemu || !c->sv->main_tid)
		return 0;
	if (k == K_WAKEUP)
		return main_loop_woken(c, fl, time);
	if (fl->tid == c->sv->main_tid && !c->main_loop) {
		if (c->main_wake_slot != UINT64_MAX) {
			if (close_main_wake(c, true))
				return -1;
		} else {
			c->st->main_loop_unlogged += !past_last_vcpu_line(c);
			if (main_loop_level(c, time, 1))
				return -1;
		}
	}
	if (k != K_SWITCH || !parse_switch(fl->body, &blocks, &next))
		return 0;
	if (fl->tid == c->sv->main_tid)
		return main_loop_level(c, time, 0);
	if (next == c->sv->main_tid) {
		if (c->main_wake_slot != UINT64_MAX &&
		    close_main_wake(c, false))
			return -1;
		return main_loop_level(c, time, 1);
	}
	return 0;
}

static int on_event(struct conv *c, const struct fline *fl)
{
	enum kev k = event_kind(fl->event);
	struct thread *t = conv_thread(c, fl->tid);
	uint64_t time = vtime(c, fl);

	if (time > c->now)
		c->now = time;
	if (vcpu_event(k) && (!t || t->vcpu < 0))
		return bad_line(c, "vcpu event from a thread with no vcpu",
				fl->body);
	/* A held line change whose thread goes on without an echo (a GSI
	 * routed nowhere) keeps its own time. */
	if (k != K_ECHO && t && flush_line(c, t))
		return -1;
	if (returned_unlogged(c, t, time) || follow_main_loop(c, fl, k, time) ||
	    follow_pit_worker(c, fl, k, time))
		return -1;
	switch (k) {
	case K_PIO:
		return on_pio(c, t, time, fl->body);
	case K_MMIO:
		return on_mmio(c, t, time, fl->body);
	case K_MSR:
		return on_msr(c, t, time, fl->body);
	case K_APIC:
		return on_apic(c, t, time, fl->body);
	case K_EXIT:
		return on_uexit(c, t, time, fl->resched, fl->body);
	case K_INJ_VIRQ:
		return on_inj_virq(c, t, time, fl->body);
	case K_SET_IRQ:
		return on_set_irq(c, t, time, fl->body);
	case K_ECHO:
		return on_echo(c, t, time);
	case K_MSI:
		return on_msi(c, time, fl->body);
	case K_EOI:
		return t ? on_eoi(c, t, fl->body) : 0;
	case K_TSC_OFFSET:
		return on_tsc_offset(c, fl->body);
	case K_SWITCH:
		return on_switch(c, fl->tid, time, fl->body);
	case K_WAKEUP:
		woke_main_loop(c, t, fl, time);
		return 0;
	case K_UNKNOWN:
		if (!c->st->unknown++) {
			c->first_unknown_line = c->in->lineno;
			snprintf(c->first_unknown, sizeof(c->first_unknown),
				 "%s", fl->event);
		}
		return 0;
	default:
		c->st->outputs++;
		return 0;
	}
}

/* A line that is neither an event nor anything else a trace holds: a
 * capture cut short leaves one at the very end, which is skipped. */
static int on_bad(struct conv *c)
{
	if (dm_import_skip_truncated(c->in, c->o->log)) {
		c->st->truncated++;
		return 0;
	}
	return bad_line(c, "not a trace line", c->in->line);
}

static int finish_threads(struct conv *c)
{
	if (c->main_wake_slot != UINT64_MAX && close_main_wake(c, false))
		return -1;
	for (unsigned i = 0; i < c->sv->nt; i++)
		if (resolve(c, &c->th[i]) || flush_line(c, &c->th[i]) ||
		    release_all_cands(c, &c->th[i]))
			return -1;
	if (c->sv->hdr_lost_known && c->sv->hdr_lost > c->st->lost) {
		uint64_t more = c->sv->hdr_lost - c->st->lost;

		if (c->o->log)
			fprintf(c->o->log,
				"import: warning: the capture counted %" PRIu64
				" more lost events than the trace marks; "
				"recorded at its end\n",
				more);
		c->st->lost += more;
		if (mark_lost(c, c->now, true, more))
			return -1;
	}
	return q_flush(c);
}

/* A line change held for its echo, which may come after a silence. */
static bool lines_held(const struct conv *c)
{
	for (unsigned i = 0; i < c->sv->nt; i++)
		if (c->th[i].line_pend)
			return true;
	return false;
}

/*
 * sim mark host-silent-LEN at the line fl that ends a silence of LEN ns
 * (no line of any CPU) begun at a vcpu's line logged in the kernel.  The
 * capture keeps every line of the traced threads, and those logged in
 * interrupts that stopped them: the vcpu thread neither ran its guest on
 * (a halted vcpu that spins is interrupted by the host's timer, which
 * logs its wake-ups), nor left its CPU (sched_switch), nor ran QEMU (the
 * silence begins in the kernel, not at an exit).  The host itself was
 * stopped (this host is a VM), and what KVM did after the line it did at
 * one end of the silence.  Only where every event so far is written, so
 * that the mark follows the line's own event at its own time.
 */
static int mark_silence(struct conv *c, const struct fline *fl)
{
	uint64_t time = vtime(c, fl), len = time - c->line_ns;
	struct oev a = {.time = time, .actor = DM_ACTOR_SIM, .op = DM_OP_MARK};

	if (!c->o->silence_ns || !c->line_in_kernel || time < c->line_ns ||
	    len < c->o->silence_ns || c->head != c->tail || lines_held(c))
		return 0;
	snprintf(a.label, sizeof(a.label), "host-silent-%" PRIu64, len);
	c->st->silences++;
	return q_push(c, &a);
}

/* Whether fl is a vcpu's line KVM logged in the kernel (not an exit). */
static bool in_kernel(struct conv *c, const struct fline *fl)
{
	enum kev k = event_kind(fl->event);
	const struct thread *t = conv_thread(c, fl->tid);

	return t && t->vcpu >= 0 &&
	       (k == K_PIO || k == K_MMIO || k == K_MSR || k == K_APIC);
}

/*
 * The first line after a vcpu's exit to userspace, of any CPU, ends the
 * silence after that exit: a window that began with the host stopped
 * (mark_window), whether the completion or another line ends it.
 */
static void note_exit_silence(struct conv *c, const struct fline *fl)
{
	uint64_t now = vtime(c, fl);

	if (c->line_exit && now > c->line_ns)
		c->line_exit->exit_silence = now - c->line_ns;
}

static int convert(void *ctx)
{
	struct conv *c = ctx;
	struct fline fl;
	uint64_t written;
	int r;

	while ((r = dm_import_input_next(c->in, c->err)) > 0) {
		c->st->lines++;
		switch (lex(c->in->line, &fl)) {
		case L_EVENT:
			note_exit_silence(c, &fl);
			r = mark_silence(c, &fl);
			written = c->st->events;
			r = r || on_event(c, &fl);
			c->line_ns = vtime(c, &fl);
			/* A line that wrote no event (an MSR the models lack)
			 * shows the vcpu past its last event: no silence after
			 * it is that event's. */
			c->line_in_kernel =
				in_kernel(c, &fl) && c->st->events > written;
			c->line_exit = event_kind(fl.event) == K_EXIT
					       ? conv_thread(c, fl.tid)
					       : NULL;
			if (c->line_exit)
				c->line_exit->exit_silence = 0;
			break;
		case L_LOST:
			c->line_in_kernel = false;
			c->line_exit = NULL;
			r = on_lost(c, &fl);
			break;
		case L_BAD:
			r = on_bad(c);
			break;
		default:
			r = 0;
			break;
		}
		if (r)
			return -1;
	}
	return r < 0 ? -1 : finish_threads(c);
}

/* ---- set-up and report -------------------------------------------------- */

/* QEMU served the interrupt controllers itself (docs/importers.md). */
static bool irqchip_off(const struct survey *sv)
{
	return sv->userspace_irqchip && !sv->kernel_irqchip;
}

/*
 * KVM's in-kernel irqchip injecting without kvm_inj_virq lines: the
 * kvm_pvm backend, which acknowledges the LAPIC as it delivers (an EOI
 * nobody wrote at each injection, "Captures' quirks").
 */
static bool pvm_injection(const struct survey *sv)
{
	return !sv->inj_virq && !irqchip_off(sv);
}

/* A board without an HPET answers its capabilities read with the bus's
 * all ones (or QEMU's unassigned 0). */
static bool hpet_absent(const struct survey *sv)
{
	return sv->hpet_id == 0 || sv->hpet_id == 0xffffffff;
}

static void init_conv(struct conv *c, struct survey *sv)
{
	for (unsigned i = 0; i < MAX_VCPUS; i++)
		c->vc[i] = (struct vcpu){
			.apic_base = DM_LAPIC_DEFAULT_BASE,
			.tsc_offset =
				sv->hdr_offset_known[i] ? sv->hdr_offset[i] : 0,
		};
	for (unsigned i = 0; i < sv->nt; i++)
		c->th[i] = (struct thread){.vcpu = sv->t[i].vcpu};
	c->irqchip_off = irqchip_off(sv);
	c->main_loop = -1;
	c->main_wake_slot = UINT64_MAX;
	c->pit_worker = -1;
	c->delivery_eoi = pvm_injection(sv);
	if (c->o->model_gsis_given)
		c->model_gsis = c->o->model_gsis;
	else
		c->model_gsis =
			1u << DM_RTC_IRQ |
			(sv->hpet && !c->o->hpet_irq_edges ? 1u << 0 | 1u << 2
							   : 0);
}

/*
 * Under QEMU, KVM's PIT runs QEMU's reset state from the VM's start
 * (pit_qemu_reset): counter 0 in mode 3 with count 65536 expires first one
 * interval (65536 ticks of KVM's 1193181 Hz, truncated to the ns) later,
 * and its kvm-pit thread raises IRQ0 then; in reinject mode no other edge
 * follows until the guest acknowledges it.  An edge before the vcpus ran
 * comes from the state QEMU put at its reset, before the capture; the
 * last edge after the vcpus ran and before the guest programmed the PIT,
 * less the interval, dates the start (0 without one).
 */
#define KVM_PIT_RESET_INTERVAL_NS 54925447ULL

/* KVM's PIT and LAPIC, which QEMU resets (with kernel-irqchip=off they
 * are QEMU's own, profile=qemu). */
static bool kvm_irqchip_under_qemu(const struct survey *sv)
{
	return sv->qemu && !irqchip_off(sv);
}

static uint64_t pit_start(const struct survey *sv, uint64_t rate)
{
	uint64_t t;

	if (!sv->pit_started)
		return 0;
	t = survey_ns(sv, rate, sv->pit_start_ts);
	return t > KVM_PIT_RESET_INTERVAL_NS ? t - KVM_PIT_RESET_INTERVAL_NS
					     : 0;
}

/*
 * QEMU's PM timer counts QEMU_CLOCK_VIRTUAL, which starts at 0 when the VM
 * first runs, an instant no trace shows.  A read logged at t with value v
 * (24 bits, unwrapped to V by the multiple of 2^24 that puts the start
 * within 1 ms before t or earlier, and not before time 0) was computed at
 * q >= t, when the clock had not reached V + 1 ticks: the start is after
 * t - edge(V + 1).  The latest such bound over every read (the read QEMU
 * served soonest) dates it: pmtimer_start_ns.  0 without reads.
 */
#define PM_HZ 3579545ULL
#define PM_WRAP (1ULL << 24)
#define PM_SLACK_NS 1000000ULL

static uint64_t pm_edge(uint64_t k)
{
	return dm_muldiv64_ceil(k, DM_NS_PER_SEC, PM_HZ);
}

static uint64_t pm_start(const struct survey *sv, uint64_t rate)
{
	uint64_t start = 0;

	for (unsigned i = 0; i < sv->pm.n; i++) {
		uint64_t t = survey_ns(sv, rate, sv->pm.ts[i]);
		uint64_t v = sv->pm.val[i];

		if (t + PM_SLACK_NS < pm_edge(v + 1))
			continue;
		v += (t + PM_SLACK_NS - pm_edge(v + 1)) / pm_edge(PM_WRAP) *
		     PM_WRAP;
		while (pm_edge(v + 1 + PM_WRAP) <= t + PM_SLACK_NS)
			v += PM_WRAP;
		while (v >= PM_WRAP && pm_edge(v + 1) > t + PM_SLACK_NS)
			v -= PM_WRAP;
		if (t >= pm_edge(v + 1) && t - pm_edge(v + 1) + 1 > start)
			start = t - pm_edge(v + 1) + 1;
	}
	return start;
}

struct ts_conv {
	const struct survey *sv;
	uint64_t rate;
};

static uint64_t ts_ns(const void *ctx, uint64_t ts)
{
	const struct ts_conv *tc = ctx;

	return survey_ns(tc->sv, tc->rate, ts);
}

/* Where QEMU's RTC stood at virtual time 0, from the guest's reads and
 * the capture's wall clock (docs/importers.md). */
static struct dm_import_rtc_at0 rtc_at0(const struct survey *sv, uint64_t rate)
{
	struct ts_conv tc = {sv, rate};
	uint64_t r0 = sv->realtime_ns;

	/* The wall clock at the first marker, back to time 0. */
	if (r0)
		r0 -= survey_ns(sv, rate, sv->mark_c[0]);
	return dm_import_rtc_epoch(&sv->rtc, ts_ns, &tc, r0);
}

static void machine_line(const struct survey *sv, unsigned vcpus, uint64_t rate,
			 const struct dm_import_rtc_at0 *rtc,
			 bool pit_irq0_edges, bool hpet_irq_edges, char *buf,
			 size_t cap)
{
	int n = snprintf(buf, cap, "profile=%s vcpus=%u chipset=%s",
			 irqchip_off(sv) ? "qemu" : "kvm", vcpus,
			 sv->pci.chipset == DM_CHIPSET_Q35 ? "q35" : "pc");

	if (irqchip_off(sv) && hpet_absent(sv) && n > 0 && (size_t)n < cap)
		n += snprintf(buf + n, cap - (size_t)n, " hpet_present=off");
	if (rtc->found && n > 0 && (size_t)n < cap)
		n += snprintf(buf + n, cap - (size_t)n,
			      " rtc_epoch=%" PRIu64 " rtc_epoch_ns=%" PRIu32,
			      rtc->sec, rtc->ns);

	if (sv->pmbase && n > 0 && (size_t)n < cap)
		n += snprintf(buf + n, cap - (size_t)n, " pmbase=0x%x",
			      sv->pmbase);
	if (sv->counter && n > 0 && (size_t)n < cap)
		n += snprintf(buf + n, cap - (size_t)n, " tsc_hz=%" PRIu64,
			      rate);
	/* QEMU loads its own LAPIC reset state, LVT0 masked, into KVM. */
	if (kvm_irqchip_under_qemu(sv) && n > 0 && (size_t)n < cap)
		n += snprintf(buf + n, cap - (size_t)n,
			      " pit_qemu_reset=on pit_start_ns=%" PRIu64
			      " lapic_lint0_reenabled=off",
			      pit_start(sv, rate));
	if (sv->qemu && sv->pm.n && n > 0 && (size_t)n < cap)
		n += snprintf(buf + n, cap - (size_t)n,
			      " pmtimer_start_ns=%" PRIu64, pm_start(sv, rate));
	/*
	 * KVM's kvm_pvm backend, which never logs kvm_inj_virq, lets its PIT
	 * inject the tick after an 8259 INTA of IRQ0 (docs/profiles.md).
	 */
	if (pvm_injection(sv) && n > 0 && (size_t)n < cap)
		n += snprintf(buf + n, cap - (size_t)n, " pit_inta_ack=on");
	/* IRQ0 comes from the trace's dev irq 0 events, not the PIT model. */
	if (hpet_irq_edges && sv->hpet && n > 0 && (size_t)n < cap)
		n += snprintf(buf + n, cap - (size_t)n, " hpet_irq=off");
	if (pit_irq0_edges && n > 0 && (size_t)n < cap)
		snprintf(buf + n, cap - (size_t)n, " pit_irq0=off");
}

/* The vcpu v has a thread in the trace. */
static bool vcpu_has_thread(const struct survey *sv, unsigned v)
{
	for (unsigned i = 0; i < sv->nt; i++)
		if (sv->t[i].vcpu == (int)v)
			return true;
	return false;
}

static void report_inference(FILE *log, const struct survey *sv,
			     const char *rate_why, uint64_t rate)
{
	for (unsigned i = 0; i < sv->nt; i++)
		if (sv->t[i].vcpu >= 0)
			fprintf(log, "import: thread %u is cpu%d (from %s)\n",
				sv->t[i].tid, sv->t[i].vcpu,
				claim_names[sv->t[i].claim]);
	for (unsigned v = 0; v < sv->hdr_vcpus; v++)
		if (!vcpu_has_thread(sv, v))
			fprintf(log,
				"import: cpu%u never ran (no thread in the "
				"capture's vcpu list)\n",
				v);
	dm_import_report_chipset(log, &sv->pci);
	if (sv->pmbase)
		fprintf(log, "import: PM timer block at 0x%x (PMBASE write)\n",
			sv->pmbase);
	if (irqchip_off(sv))
		fprintf(log,
			"import: kernel-irqchip=off (QEMU's LAPIC, 8259 or "
			"PIT served reads, no in-kernel irqchip events): "
			"profile=qemu, interrupts from the guest's EOIs\n");
	if (pvm_injection(sv))
		fprintf(log, "import: no kvm_inj_virq lines: KVM's kvm_pvm "
			     "backend, interrupts from its EOIs at delivery: "
			     "pit_inta_ack=on\n");
	if (irqchip_off(sv) && hpet_absent(sv))
		fprintf(log,
			"import: no HPET (its capabilities read 0x%" PRIx64
			"): hpet_present=off\n",
			(uint64_t)sv->hpet_id);
	else
		fprintf(log, sv->hpet ? "import: the guest uses the HPET\n"
				      : "import: the guest never touched the "
					"HPET (the machine keeps one)\n");
	if (sv->userspace_ioapic && !irqchip_off(sv))
		fprintf(log, "import: warning: IOAPIC reads served by "
			     "userspace (kernel-irqchip=split?): its "
			     "messages are not separated from devices' "
			     "MSIs\n");
	if (sv->counter)
		fprintf(log,
			"import: TSC timestamps at %" PRIu64 " Hz (from %s)\n",
			rate, rate_why);
}

static void report_rtc(FILE *log, const struct dm_import_rtc_at0 *rtc)
{
	if (!rtc->found)
		return;
	fprintf(log,
		"import: RTC at time 0: %" PRIu64 ".%09" PRIu32
		" unix seconds, the middle of the %" PRIu64
		" ns that fit %" PRIu64 " reads of its time and Register C%s\n",
		rtc->sec, rtc->ns, rtc->width_ns, rtc->reads,
		rtc->wall_clock ? " and the capture's wall clock" : "");
	if (rtc->found < 0)
		fprintf(log,
			"import: warning: %" PRIu64
			" of those reads fit no single start instant of "
			"QEMU's RTC\n",
			rtc->misfits);
}

static void report_pit_start(FILE *log, const struct survey *sv, uint64_t rate)
{
	if (!sv->qemu)
		return;
	if (sv->pm.n)
		fprintf(log,
			"import: QEMU's virtual clock (PM timer) starts at %" PRIu64
			" ns (from %u reads of PM_TMR)\n",
			pm_start(sv, rate), sv->pm.n);
	if (!kvm_irqchip_under_qemu(sv))
		return;
	if (sv->pit_started)
		fprintf(log,
			"import: QEMU's PIT reset state runs in KVM from %" PRIu64
			" ns (its first IRQ0, less 65536 ticks)\n",
			pit_start(sv, rate));
	else
		fprintf(log,
			"import: warning: no IRQ0 of KVM's PIT between "
			"the vcpus' start and the guest's programming it: "
			"QEMU's reset state is taken to run from time 0\n");
}

static void report_pit_edges(FILE *log, const struct survey *sv)
{
	if (!sv->pit_edges)
		fprintf(log, "import: warning: IRQ0 is taken from the trace, "
			     "which has no PIT kvm_set_irq lines (was the "
			     "kvm-pit thread traced?): the guest gets no PIT "
			     "interrupts\n");
	else if (!sv->echoes)
		fprintf(log, "import: warning: no kvm_pic_set_irq or "
			     "kvm_ioapic_set_irq lines: PIT edges take their "
			     "kvm_set_irq times, logged before the line "
			     "changes\n");
}

static void report_summary(FILE *log, const struct conv *c)
{
	const struct dm_ftrace_stats *st = c->st;

	fprintf(log,
		"import: %" PRIu64 " lines -> %" PRIu64 " events: %" PRIu64
		" accesses, %" PRIu64 " intacks (%" PRIu64
		" with KVM's own EOI), %" PRIu64 " dev irq, %" PRIu64
		" dev msi, %" PRIu64 " dev thread\n",
		st->lines, st->events, st->accesses, st->intacks,
		st->eois_by_kvm, st->dev_irqs, st->dev_msis, st->threads);
	if (c->o->pit_irq0_edges)
		fprintf(log,
			"import: %" PRIu64 " of the dev irq events are the "
			"PIT's IRQ0 edges\n",
			st->pit_edges);
	if (c->irqchip_off)
		fprintf(log,
			"import: %" PRIu64 " intacks from EOIs: %" PRIu64
			" with the 8259 vector of a specific EOI, %" PRIu64
			" with no exit before the handler\n",
			st->intacks, st->acks_vec, st->acks_late);
	fprintf(log,
		"import: skipped %" PRIu64 " model outputs and echoes, %" PRIu64
		" accesses outside the model set, %" PRIu64 " no-op lowers\n",
		st->outputs, st->unmodelled, st->noop_lowers);
	if (st->shared)
		fprintf(log,
			"import: %" PRIu64 " line changes hidden by another "
			"source holding the same GSI high\n",
			st->shared);
	if (st->cmos_unknown)
		fprintf(log,
			"import: %" PRIu64
			" reads of CMOS bytes QEMU's board set (never written "
			"by the guest) are unchecked\n",
			st->cmos_unknown);
	if (st->service_window_ns)
		fprintf(log,
			"import: reads served by QEMU take the middle of their "
			"exit-to-completion window (the longest %" PRIu64
			" ns): one that moves with time is off by at most "
			"half its window\n",
			st->service_window_ns);
	if (st->silences)
		fprintf(log,
			"import: %" PRIu64
			" silences of the host after a vcpu's line in the "
			"kernel marked (sim mark host-silent-LEN)\n",
			st->silences);
	if (st->windows)
		fprintf(log,
			"import: %" PRIu64
			" windows of reads QEMU served marked (sim mark "
			"qemu-window-V-LEN)\n",
			st->windows);
	if (st->rescheduled)
		fprintf(log,
			"import: %" PRIu64
			" accesses served by QEMU moved to the switch back to "
			"their vcpu thread (sched_switch)\n",
			st->rescheduled);
	if (st->pit_teardown)
		fprintf(log,
			"import: %" PRIu64
			" PIT edges during the VM's teardown (after the vcpus' "
			"last event, before the kvm-pit thread's exit) "
			"skipped: KVM frees its PIT with reinject off\n",
			st->pit_teardown);
	if (st->unlogged_returns)
		fprintf(log,
			"import: %" PRIu64
			" accesses served by QEMU moved to their vcpu thread's "
			"next line (the switch back to it is not in the "
			"trace)\n",
			st->unlogged_returns);
	if (st->pit_wakeups)
		fprintf(log,
			"import: KVM's PIT worker woke %" PRIu64
			" times (dev thread 1): the IRQ0 check judges each "
			"raise from its wake-up, not from when the host ran "
			"it\n",
			st->pit_wakeups);
	if (st->main_loop_runs)
		fprintf(log,
			"import: QEMU's main loop got a CPU %" PRIu64
			" times (dev thread 0; %" PRIu64
			" from a wake-up and %" PRIu64
			" at its own next line, the switch to it not in the "
			"trace): its timers, the RTC's update among them, wait "
			"while it is off\n",
			st->main_loop_runs, st->main_loop_woken,
			st->main_loop_unlogged);
	if (st->served_seen)
		fprintf(log,
			"import: %" PRIu64
			" accesses QEMU was seen serving (a line change on the "
			"vcpu thread) before the thread left the CPU\n",
			st->served_seen);
	if (st->unknown)
		fprintf(log,
			"import: warning: %" PRIu64
			" lines of events not used (first: %s, line %" PRIu64
			")\n",
			st->unknown, c->first_unknown, c->first_unknown_line);
	if (st->faulted)
		fprintf(log,
			"import: %" PRIu64
			" MSR accesses took a #GP (checked as such)\n",
			st->faulted);
	if (st->clamped)
		fprintf(log,
			"import: warning: %" PRIu64
			" timestamps earlier than the event before (CPUs "
			"interleaved), first at line %" PRIu64
			"; each moved up to its predecessor\n",
			st->clamped, c->first_clamp_line);
	if (st->lost)
		fprintf(log,
			"import: warning: %" PRIu64
			" events lost by the ring buffer (sim mark lost-N "
			"in the trace)\n",
			st->lost);
}

static int run(struct dm_import_input *in, const char *out,
	       const struct dm_ftrace_opts *o, struct dm_ftrace_stats *st,
	       struct survey *sv, struct conv *c, struct dm_error *err)
{
	char config[384];
	const char *why = NULL;
	struct dm_import_rtc_at0 rtc;
	unsigned vcpus;

	if (survey(in, sv, err))
		return -1;
	if (!sv->kvm_events)
		return dm_errorf(err,
				 "%s: no kvm trace events (nothing captured, "
				 "or not the kvm tracepoints)",
				 in->name);
	if (tsc_rate(sv, o, &c->rate, &why, err))
		return dm_error_prefix(err, "%s", in->name);
	assign_vcpus(sv);
	vcpus = vcpu_count(sv);
	st->vcpus = vcpus;
	st->tsc_hz = sv->counter ? c->rate : 0;
	rtc = rtc_at0(sv, c->rate);
	machine_line(sv, vcpus, c->rate, &rtc, o->pit_irq0_edges,
		     o->hpet_irq_edges, config, sizeof(config));
	if (o->log) {
		report_inference(o->log, sv, why, c->rate);
		report_rtc(o->log, &rtc);
		report_pit_start(o->log, sv, c->rate);
	}
	if (o->log && o->pit_irq0_edges)
		report_pit_edges(o->log, sv);
	c->o = o;
	c->st = st;
	c->err = err;
	c->sv = sv;
	c->in = in;
	c->pmbase = dm_import_pmbase(&sv->pci, sv->pmbase);
	c->qcap = 64;
	c->q = calloc(c->qcap, sizeof(*c->q));
	if (!c->q)
		return dm_errorf(err, "out of memory");
	init_conv(c, sv);
	if (dm_import_write(in, out, o->encoding, config, convert, c, &c->w,
			    err))
		return -1;
	if (o->log)
		report_summary(o->log, c);
	return 0;
}

int dm_import_ftrace(const char *in_path, const char *out,
		     const struct dm_ftrace_opts *o, struct dm_ftrace_stats *st,
		     struct dm_error *err)
{
	struct dm_import_input in = {0};
	struct survey *sv = calloc(1, sizeof(*sv));
	struct conv *c = calloc(1, sizeof(*c));
	int rc = -1;

	*st = (struct dm_ftrace_stats){0};
	if (!sv || !c)
		dm_errorf(err, "out of memory");
	else if (!dm_import_input_open(&in, in_path, err))
		rc = run(&in, out, o, st, sv, c, err);
	dm_import_input_close(&in);
	if (c)
		free(c->q);
	free(c);
	free(sv);
	return rc;
}
