// SPDX-License-Identifier: MIT
/*
 * The QEMU log importer: the output of QEMU's "log" trace backend, run
 * with -msg timestamp=on, turned into a dmsim trace (docs/importers.md,
 * "QEMU logs").
 *
 * Every line is "TID@SECONDS.MICROSECONDS:EVENT ARGS".  The accesses come
 * from the memory core's memory_region_ops_read/write events, which name
 * the vcpu and carry the absolute address, the size and the value of every
 * access to every device; QEMU 7.2 has no events of its own for the PIT,
 * the RTC, the HPET or the ELCR.  The device events (apic_mem_*,
 * apic_register_*, ioapic_mem_*, pic_ioport_*) are then echoes, and are
 * converted only from logs without the memory core's events.
 *
 * Two passes over the input.  The survey learns what the machine line
 * needs before the first event is written (vcpus, chipset, PM block, the
 * GSIs the HPET drives) and which sources the log has; the conversion
 * turns lines into events, in order.
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
#include "traces/import_common.h"

#define MAX_THREADS 1024
#define MAX_VCPUS 256
#define IOAPIC_PINS 24
#define HPET_LEN 0x400	      /* QEMU's "hpet" region */
#define HPET_TIMERS 32	      /* Tn_CONF at 0x100 + 0x20 * n */
#define APIC_MSI_LEN 0x100000 /* QEMU's "apic-msi" region */
#define PORT_SPACE 0x10000    /* lower addresses are ports (see docs) */
#define APIC_EOI 0xb0
/* kvm_vcpu_ioctl types: _IOW(KVMIO, 0x86, struct kvm_interrupt), _IO(KVMIO,
 * 0x9a) and _IO(KVMIO, 0xb7). */
#define KVM_INTERRUPT 0x4004ae86u
#define KVM_NMI 0xae9au
#define KVM_SMI 0xaeb7u
/* The lines QEMU's own devices drive: IRQ0 (the PIT, or HPET timer 0 in
 * legacy mode), IRQ8 (the RTC, or HPET timer 1) and GSI 2 (the HPET
 * timers' route on pc).  The routes the guest gives HPET timers are added. */
#define MODEL_GSIS (1u << 0 | 1u << 2 | 1u << DM_RTC_IRQ)

/* ---- lexing one line ------------------------------------------------- */

enum qkind {
	Q_BLANK,
	Q_EVENT,     /* TID@S.US:EVENT ARGS */
	Q_SERVICING, /* TCG -d int: "Servicing hardware INT=0xNN" */
	Q_UNTIMED,   /* an event line without the timestamp prefix */
	Q_OTHER,     /* any other log output */
	Q_BAD,	     /* a timestamp prefix that does not parse */
};

struct qline {
	uint32_t tid;
	uint64_t ns; /* host wall clock */
	char event[64];
	const char *body;
	uint64_t vector; /* Q_SERVICING */
};

/* Decimal digits at *p into *v; false if none or too large. */
static bool dec(const char **p, uint64_t *v)
{
	const char *s = *p;

	*v = 0;
	for (; isdigit((unsigned char)**p); (*p)++) {
		unsigned d = (unsigned)(**p - '0');

		if (*v > (UINT64_MAX - d) / 10)
			return false;
		*v = *v * 10 + d;
	}
	return *p > s;
}

/* An event name: [A-Za-z0-9_]+ ending the string or followed by a space. */
static const char *event_name(const char *p, char *buf, size_t cap)
{
	size_t n = 0;

	while (isalnum((unsigned char)p[n]) || p[n] == '_')
		n++;
	if (!n || n >= cap || (p[n] && p[n] != ' '))
		return NULL;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return p[n] ? p + n + 1 : p + n;
}

/* "SECONDS.FRACTION:" (QEMU prints six fraction digits) into ns. */
static bool parse_stamp(const char **p, uint64_t *ns)
{
	uint64_t sec, frac;
	const char *f;
	size_t nfrac;

	if (!dec(p, &sec) || *(*p)++ != '.')
		return false;
	f = *p;
	if (!dec(p, &frac) || **p != ':')
		return false;
	nfrac = (size_t)(*p - f);
	if (nfrac > 9 || sec > UINT64_MAX / DM_NS_PER_SEC - 1)
		return false;
	while (nfrac++ < 9)
		frac *= 10;
	*ns = sec * DM_NS_PER_SEC + frac;
	(*p)++;
	return true;
}

static enum qkind lex(const char *s, struct qline *ql)
{
	const char *p = s;
	uint64_t tid;
	char word[64];
	int n = 0;
	unsigned v;

	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p)
		return Q_BLANK;
	if (isdigit((unsigned char)*p)) {
		const char *q = p;

		if (dec(&q, &tid) && *q == '@') {
			q++;
			if (tid > UINT32_MAX || !parse_stamp(&q, &ql->ns))
				return Q_BAD;
			ql->tid = (uint32_t)tid;
			ql->body = event_name(q, ql->event, sizeof(ql->event));
			return ql->body ? Q_EVENT : Q_BAD;
		}
	}
	if (sscanf(p, "Servicing hardware INT=0x%2x%n", &v, &n) == 1 &&
	    !p[n + (int)strspn(p + n, " \t")]) {
		ql->vector = v;
		return Q_SERVICING;
	}
	if (event_name(p, word, sizeof(word)) && strchr(word, '_') &&
	    strchr(p, ' '))
		return Q_UNTIMED;
	return Q_OTHER;
}

/* ---- event bodies ---------------------------------------------------- */

/* A decimal number that may be -1 (QEMU's "no cpu"); -2 if bad. */
static int64_t c_cpu(struct dm_cur *c)
{
	uint64_t v;

	c->p = dm_import_skip_ws(c->p);
	if (c->ok && !strncmp(c->p, "-1", 2) &&
	    !isdigit((unsigned char)c->p[2])) {
		c->p += 2;
		return -1;
	}
	v = dm_cur_num(c, 10, false);
	if (!c->ok || v >= MAX_VCPUS) {
		c->ok = false;
		return -2;
	}
	return (int64_t)v;
}

/* A pointer as printf's %p prints it: "0x..." or "(nil)". */
static void c_ptr(struct dm_cur *c)
{
	c->p = dm_import_skip_ws(c->p);
	if (!strncmp(c->p, "(nil)", 5))
		c->p += 5;
	else
		dm_cur_num(c, 16, true);
}

/* memory_region_ops_read/write: "cpu %d mr %p addr 0x%x value 0x%x size %u
 * name '%s'" (older QEMUs print no name; it may hold spaces and quotes, so
 * it runs to the last quote of the line). */
struct ev_mr {
	int64_t cpu;
	uint64_t addr, value;
	unsigned size;
	char name[48];
};

static bool parse_mr(const char *b, struct ev_mr *e)
{
	struct dm_cur c = {b, true};
	const char *last;
	size_t n;

	dm_cur_lit(&c, "cpu");
	e->cpu = c_cpu(&c);
	dm_cur_lit(&c, "mr");
	c_ptr(&c);
	dm_cur_lit(&c, "addr");
	e->addr = dm_cur_num(&c, 16, true);
	dm_cur_lit(&c, "value");
	e->value = dm_cur_num(&c, 16, true);
	dm_cur_lit(&c, "size");
	e->size = (unsigned)dm_cur_num(&c, 10, false);
	e->name[0] = '\0';
	if (dm_cur_end(&c, NULL))
		return e->size == 1 || e->size == 2 || e->size == 4 ||
		       e->size == 8;
	dm_cur_lit(&c, "name '");
	last = strrchr(c.p, '\'');
	if (!c.ok || !last || last < c.p || last[1])
		return false;
	n = (size_t)(last - c.p);
	if (n >= sizeof(e->name))
		n = sizeof(e->name) - 1;
	memcpy(e->name, c.p, n);
	e->name[n] = '\0';
	return e->size == 1 || e->size == 2 || e->size == 4 || e->size == 8;
}

/* apic_mem_readl/writel (QEMU <= 8.0): "0x%x = 0x%08x", the offset in the
 * region; apic_register_read/write (8.1+): "register 0x%02x = 0x%x", the
 * register index (offset / 16, x2APIC MSR - 0x800). */
static bool parse_apic_mem(const char *b, uint64_t *off, uint64_t *val)
{
	struct dm_cur c = {b, true};

	*off = dm_cur_num(&c, 16, true);
	dm_cur_lit(&c, "=");
	*val = dm_cur_num(&c, 16, true);
	return dm_cur_end(&c, NULL) && *val <= UINT32_MAX;
}

static bool parse_apic_reg(const char *b, uint64_t *reg, uint64_t *val)
{
	struct dm_cur c = {b, true};

	dm_cur_lit(&c, "register");
	*reg = dm_cur_num(&c, 16, true);
	while (*c.p == ' ')
		c.p++;
	if (*c.p == '=')
		dm_cur_lit(&c, "=");
	else
		dm_cur_lit(&c, "val");
	*val = dm_cur_num(&c, 16, true);
	return dm_cur_end(&c, NULL) && *reg <= 0xff;
}

/* ioapic_mem_read: "ioapic mem read addr 0x%x regsel: 0x%x size 0x%x
 * retval 0x%x"; ioapic_mem_write: the same with "write" and "val". */
static bool parse_ioapic_mem(const char *b, bool write, uint64_t *off,
			     unsigned *size, uint64_t *val)
{
	struct dm_cur c = {b, true};

	dm_cur_lit(&c,
		   write ? "ioapic mem write addr" : "ioapic mem read addr");
	*off = dm_cur_num(&c, 16, true);
	dm_cur_lit(&c, "regsel:");
	dm_cur_num(&c, 16, true);
	dm_cur_lit(&c, "size");
	*size = (unsigned)dm_cur_num(&c, 16, true);
	dm_cur_lit(&c, write ? "val" : "retval");
	*val = dm_cur_num(&c, 16, true);
	return dm_cur_end(&c, NULL) && *off < DM_IOAPIC_SIZE &&
	       (*size == 1 || *size == 2 || *size == 4 || *size == 8);
}

/* pic_ioport_read/write: "master %d addr 0x%x val 0x%x". */
static bool parse_pic_io(const char *b, uint32_t *port, uint64_t *val)
{
	struct dm_cur c = {b, true};
	uint64_t master, off;

	dm_cur_lit(&c, "master");
	master = dm_cur_num(&c, 10, false);
	dm_cur_lit(&c, "addr");
	off = dm_cur_num(&c, 16, true);
	dm_cur_lit(&c, "val");
	*val = dm_cur_num(&c, 16, true);
	*port = (master ? DM_PIC_MASTER_BASE : DM_PIC_SLAVE_BASE) +
		(uint32_t)(off & 1);
	return dm_cur_end(&c, NULL) && master <= 1 && off <= 1 && *val <= 0xff;
}

/* pic_interrupt: "irq %d intno %d". */
static bool parse_pic_inta(const char *b, uint64_t *vector)
{
	struct dm_cur c = {b, true};

	dm_cur_lit(&c, "irq");
	dm_cur_num(&c, 10, false);
	dm_cur_lit(&c, "intno");
	*vector = dm_cur_num(&c, 10, false);
	return dm_cur_end(&c, NULL) && *vector <= 0xff;
}

/* x86_gsi_interrupt: "GSI interrupt #%d level:%d". */
static bool parse_gsi(const char *b, uint64_t *gsi, uint64_t *level)
{
	struct dm_cur c = {b, true};

	dm_cur_lit(&c, "GSI interrupt #");
	*gsi = dm_cur_num(&c, 10, false);
	dm_cur_lit(&c, "level:");
	*level = dm_cur_num(&c, 10, false);
	return dm_cur_end(&c, NULL) && *gsi <= UINT32_MAX && *level <= 1;
}

/* cpu_set_apic_base / cpu_get_apic_base: "0x%016x". */
static bool parse_base(const char *b, uint64_t *val)
{
	struct dm_cur c = {b, true};

	*val = dm_cur_num(&c, 16, true);
	return dm_cur_end(&c, NULL);
}

/* kvm_vcpu_ioctl: "cpu_index %d, type 0x%x, arg %p"; kvm_run_exit:
 * "cpu_index %d, reason %d". */
static bool parse_kvm(const char *b, bool ioctl, int64_t *cpu, uint64_t *type)
{
	struct dm_cur c = {b, true};

	dm_cur_lit(&c, "cpu_index");
	*cpu = c_cpu(&c);
	dm_cur_lit(&c, ",");
	if (ioctl) {
		dm_cur_lit(&c, "type");
		*type = dm_cur_num(&c, 16, true);
		dm_cur_lit(&c, ", arg");
		c_ptr(&c);
	} else {
		dm_cur_lit(&c, "reason");
		*type = dm_cur_num(&c, 10, false);
	}
	return dm_cur_end(&c, NULL) && *cpu >= 0;
}

/* runstate_set: "current_run_state %d (%s) new_state %d (%s)"; true with
 * *running when the VM enters or leaves the running state.  QEMU's virtual
 * clock (QEMU_CLOCK_VIRTUAL, which its PIT, HPET, LAPIC and PM timer count)
 * runs only while the VM does, from 0 at its first start. */
static bool parse_runstate(const char *b, bool *running)
{
	struct dm_cur c = {b, true};
	const char *name;

	dm_cur_lit(&c, "current_run_state");
	dm_cur_num(&c, 10, false);
	dm_cur_lit(&c, "(");
	name = strchr(c.p, ')');
	if (!name)
		return false;
	c.p = name + 1;
	dm_cur_lit(&c, "new_state");
	dm_cur_num(&c, 10, false);
	dm_cur_lit(&c, "(");
	name = c.p;
	c.p += strcspn(c.p, ")");
	if (!c.ok || *c.p != ')')
		return false;
	*running = c.p - name == 7 && !strncmp(name, "running", 7);
	c.p++;
	return dm_cur_end(&c, NULL);
}

/* apic_deliver_irq: "dest %d dest_mode %d delivery_mode %d vector %d
 * trigger_mode %d": a message the LAPICs received. */
struct ev_msg {
	uint64_t addr;
	uint32_t data;
};

static bool parse_deliver(const char *b, struct ev_msg *m)
{
	static const char *const fields[] = {
		"dest", "dest_mode", "delivery_mode", "vector", "trigger_mode"};
	static const uint64_t max[] = {0xff, 1, 7, 0xff, 1};
	struct dm_cur c = {b, true};
	uint64_t v[5];

	for (unsigned i = 0; i < 5; i++) {
		dm_cur_lit(&c, fields[i]);
		v[i] = dm_cur_num(&c, 10, false);
		if (v[i] > max[i])
			c.ok = false;
	}
	m->addr = DM_LAPIC_DEFAULT_BASE | v[0] << 12 | v[1] << 2;
	m->data = (uint32_t)(v[3] | v[2] << 8 | v[4] << 15);
	return dm_cur_end(&c, NULL);
}

/* ---- events ---------------------------------------------------------- */

enum qev {
	E_UNKNOWN,
	E_MR_READ,
	E_MR_WRITE,
	E_APIC_MEM_READ,
	E_APIC_MEM_WRITE,
	E_APIC_REG_READ,
	E_APIC_REG_WRITE,
	E_IOAPIC_READ,
	E_IOAPIC_WRITE,
	E_PIC_READ,
	E_PIC_WRITE,
	E_PIC_INTA,
	E_DELIVER,
	E_GSI,
	E_SET_BASE,
	E_GET_BASE,
	E_IOCTL,
	E_RUN_EXIT,
	E_RUNSTATE,
	E_BOOKKEEP,
	E_ECHO,
};

static const struct {
	const char *name;
	enum qev kind;
} known_events[] = {
	{"memory_region_ops_read", E_MR_READ},
	{"memory_region_ops_write", E_MR_WRITE},
	{"apic_mem_readl", E_APIC_MEM_READ},
	{"apic_mem_writel", E_APIC_MEM_WRITE},
	{"apic_register_read", E_APIC_REG_READ},
	{"apic_register_write", E_APIC_REG_WRITE},
	{"ioapic_mem_read", E_IOAPIC_READ},
	{"ioapic_mem_write", E_IOAPIC_WRITE},
	{"pic_ioport_read", E_PIC_READ},
	{"pic_ioport_write", E_PIC_WRITE},
	{"pic_interrupt", E_PIC_INTA},
	{"apic_deliver_irq", E_DELIVER},
	{"x86_gsi_interrupt", E_GSI},
	{"cpu_set_apic_base", E_SET_BASE},
	{"cpu_get_apic_base", E_GET_BASE},
	{"kvm_vcpu_ioctl", E_IOCTL},
	{"kvm_run_exit", E_RUN_EXIT},
	{"runstate_set", E_RUNSTATE},
	{"vm_state_notify", E_BOOKKEEP},
	/* The models' outputs and inner steps. */
	{"pic_set_irq", E_ECHO},
	{"pic_update_irq", E_ECHO},
	{"x86_pic_interrupt", E_ECHO},
	{"ioapic_set_irq", E_ECHO},
	{"ioapic_set_remote_irr", E_ECHO},
	{"ioapic_clear_remote_irr", E_ECHO},
	{"ioapic_eoi_broadcast", E_ECHO},
	{"ioapic_eoi_delayed_reassert", E_ECHO},
	{"apic_local_deliver", E_ECHO},
	{"apic_report_irq_delivered", E_ECHO},
	{"apic_reset_irq_delivered", E_ECHO},
	{"apic_get_irq_delivered", E_ECHO},
};

/* Device events of later QEMUs that only echo accesses the memory core
 * logs (without their sizes, and for reads mostly without values). */
static const char *const echo_prefixes[] = {"hpet_", "mc146818_rtc_"};

static enum qev event_kind(const char *name)
{
	for (size_t i = 0; i < sizeof(known_events) / sizeof(known_events[0]);
	     i++)
		if (!strcmp(name, known_events[i].name))
			return known_events[i].kind;
	for (size_t i = 0; i < sizeof(echo_prefixes) / sizeof(echo_prefixes[0]);
	     i++)
		if (!strncmp(name, echo_prefixes[i], strlen(echo_prefixes[i])))
			return E_ECHO;
	return E_UNKNOWN;
}

/* Device events of a vcpu's own access. */
static bool access_event(enum qev k)
{
	return k >= E_APIC_MEM_READ && k <= E_PIC_INTA;
}

/* ---- pass 1: the survey ---------------------------------------------- */

struct tinfo {
	uint32_t tid;
	int vcpu;
	bool cpu_field; /* numbered by an event's cpu index */
	bool accessor;	/* logged device access events */
};

struct survey {
	struct tinfo t[MAX_THREADS];
	unsigned nt;
	bool have_ts;
	uint64_t t0; /* host time of virtual time 0 */
	uint64_t events, untimed;
	bool runstate;	 /* runstate_set lines: t0 is the VM's first start */
	bool mr;	 /* memory_region_ops_* lines: device events echo */
	bool kvm;	 /* kvm_* lines: the vcpus ran on KVM */
	bool kvm_inject; /* KVM_INTERRUPT ioctls */
	bool servicing;	 /* TCG's "Servicing hardware INT" lines */
	struct dm_import_pci pci;
	uint32_t pmbase;
	bool hpet;
	uint32_t hpet_gsis;
	unsigned vcpus;
};

static struct tinfo *thread_get(struct survey *sv, uint32_t tid,
				struct dm_error *err)
{
	for (unsigned i = 0; i < sv->nt; i++)
		if (sv->t[i].tid == tid)
			return &sv->t[i];
	if (sv->nt == MAX_THREADS) {
		dm_errorf(err, "more than %u threads", MAX_THREADS);
		return NULL;
	}
	sv->t[sv->nt] = (struct tinfo){.tid = tid, .vcpu = -1};
	return &sv->t[sv->nt++];
}

static void claim(struct survey *sv, struct tinfo *t, int64_t cpu)
{
	if (cpu < 0)
		return;
	if (!t->cpu_field) {
		t->cpu_field = true;
		t->vcpu = (int)cpu;
	}
	if ((unsigned)cpu + 1 > sv->vcpus)
		sv->vcpus = (unsigned)cpu + 1;
}

/* The PM1 block's regions (hw/acpi/core.c) place it: PM1_EVT, PM1_CNT and
 * PM_TMR at +0, +4 and +8. */
static void survey_pm(struct survey *sv, const struct ev_mr *e)
{
	static const struct {
		const char *name;
		uint32_t off;
	} pm[] = {{"acpi-evt", 0}, {"acpi-cnt", 4}, {"acpi-tmr", 8}};

	for (size_t i = 0; i < sizeof(pm) / sizeof(pm[0]); i++)
		if (!strcmp(e->name, pm[i].name) && e->addr >= pm[i].off &&
		    e->addr - pm[i].off < PORT_SPACE && !sv->pmbase)
			sv->pmbase = (uint32_t)(e->addr - pm[i].off);
}

/* HPET timers with interrupts enabled drive the GSI of their route. */
static void survey_hpet(struct survey *sv, bool write, const struct ev_mr *e)
{
	uint64_t off = e->addr - DM_HPET_BASE;

	if (off >= HPET_LEN)
		return;
	sv->hpet = true;
	if (write && off >= 0x100 && off < 0x100 + 0x20 * HPET_TIMERS &&
	    !(off & 0x1f) && (e->value & 0x4))
		sv->hpet_gsis |= 1u << ((e->value >> 9) & 0x1f);
}

static int survey_event(struct survey *sv, const struct qline *ql,
			struct dm_error *err)
{
	enum qev k = event_kind(ql->event);
	struct tinfo *t = thread_get(sv, ql->tid, err);
	struct ev_mr mr;
	uint32_t cf8; /* the PCI access's address: not needed here */
	int64_t cpu;
	uint64_t type;
	bool running;

	if (!t)
		return -1;
	sv->events++;
	if (!strncmp(ql->event, "kvm_", 4))
		sv->kvm = true;
	if (access_event(k))
		t->accessor = true;
	switch (k) {
	case E_MR_READ:
	case E_MR_WRITE:
		sv->mr = true;
		if (!parse_mr(ql->body, &mr))
			break;
		claim(sv, t, mr.cpu);
		dm_import_pci_access(&sv->pci, mr.addr, mr.size,
				     k == E_MR_WRITE, mr.value, &cf8);
		survey_pm(sv, &mr);
		survey_hpet(sv, k == E_MR_WRITE, &mr);
		break;
	case E_RUNSTATE:
		if (parse_runstate(ql->body, &running) && running &&
		    !sv->runstate) {
			sv->runstate = true;
			sv->t0 = ql->ns;
		}
		break;
	case E_IOCTL:
	case E_RUN_EXIT:
		if (!parse_kvm(ql->body, k == E_IOCTL, &cpu, &type))
			break;
		claim(sv, t, cpu);
		if (k == E_IOCTL && type == KVM_INTERRUPT)
			sv->kvm_inject = true;
		break;
	default:
		break;
	}
	return 0;
}

static int survey(struct dm_import_input *in, struct survey *sv,
		  struct dm_error *err)
{
	struct qline ql;
	int r;

	sv->pci.chipset = -1;
	while ((r = dm_import_input_next(in, err)) > 0) {
		switch (lex(in->line, &ql)) {
		case Q_EVENT:
			if (!sv->have_ts && !sv->runstate)
				sv->t0 = ql.ns;
			sv->have_ts = true;
			if (survey_event(sv, &ql, err))
				return dm_error_prefix(err, "%s:%" PRIu64,
						       in->name, in->lineno);
			break;
		case Q_SERVICING:
			sv->servicing = true;
			break;
		case Q_UNTIMED:
			sv->untimed++;
			break;
		default:
			break;
		}
	}
	return r;
}

/* Threads numbered by an event's cpu index keep it; threads that only
 * logged device access events take the next numbers in order. */
static void assign_vcpus(struct survey *sv)
{
	for (unsigned i = 0; i < sv->nt; i++) {
		struct tinfo *t = &sv->t[i];

		if (!t->cpu_field && t->accessor && sv->vcpus < MAX_VCPUS)
			t->vcpu = (int)sv->vcpus++;
	}
	if (!sv->vcpus)
		sv->vcpus = 1;
}

/* ---- pass 2: the conversion ------------------------------------------ */

struct vcpu {
	uint64_t apic_base; /* IA32_APIC_BASE as QEMU reported it */
	bool pic_inta;	    /* an 8259 INTA waits for its injection line */
};

struct conv {
	const struct dm_qemu_opts *o;
	struct dm_qemu_stats *st;
	struct dm_error *err;
	const struct survey *sv;
	struct dm_import_input *in;
	struct dm_trace_writer *w;
	int tvcpu[MAX_THREADS];
	struct vcpu vc[MAX_VCPUS];
	uint64_t rte[IOAPIC_PINS]; /* the guest's RTE writes, to tell the
				      IOAPIC's messages from devices' MSIs */
	uint8_t regsel;
	bool hpet_legacy; /* the HPET drives IRQ0 and IRQ8 */
	struct dm_import_cmos cmos;
	uint64_t gsi_high; /* levels of GSIs 0-63 */
	uint32_t model_gsis;
	uint16_t pmbase;
	uint64_t last_written, now;
	bool running;		     /* QEMU's virtual clock runs */
	uint64_t run_start, run_acc; /* host time it last started; virtual
					time it had then */
	uint64_t first_clamp_line, first_unknown_line, first_other_line;
	const char *event; /* of the line being converted; NULL: none */
	char first_unknown[64];
};

static int bad_line(struct conv *c, const char *what, const char *body)
{
	return dm_errorf(c->err, "%s:%" PRIu64 ": %s%s%s: '%.200s'",
			 c->in->name, c->in->lineno, c->event ? c->event : "",
			 c->event ? ": " : "", what, body);
}

static int write_ev(struct conv *c, struct dm_event *ev)
{
	if (ev->time < c->last_written) {
		if (!c->st->clamped++)
			c->first_clamp_line = c->in->lineno;
		ev->time = c->last_written;
	}
	c->last_written = ev->time;
	if (dm_trace_write(c->w, ev, c->err))
		return -1;
	c->st->events++;
	switch (ev->op) {
	case DM_OP_IRQ:
		c->st->dev_irqs++;
		break;
	case DM_OP_MSI:
		c->st->dev_msis++;
		break;
	case DM_OP_INTACK:
		c->st->intacks++;
		if (!(ev->flags & DM_EV_VALUE))
			c->st->unchecked_intacks++;
		break;
	case DM_OP_NMI:
	case DM_OP_SMI:
		c->st->signals++;
		break;
	default:
		c->st->accesses++;
		break;
	}
	return 0;
}

static int cpu_ev(struct conv *c, int vcpu, enum dm_op op, uint64_t addr,
		  unsigned size, uint64_t value, bool checked)
{
	struct dm_event ev = {.time = c->now,
			      .cpu = (uint32_t)vcpu,
			      .actor = DM_ACTOR_CPU,
			      .op = (uint8_t)op,
			      .addr = addr,
			      .size = (uint8_t)size,
			      .value = checked ? value : 0,
			      .flags = checked ? DM_EV_VALUE : 0};

	return write_ev(c, &ev);
}

static uint64_t size_mask(unsigned size)
{
	return size >= 8 ? UINT64_MAX : (1ULL << (8 * size)) - 1;
}

/* The guest's IOREGSEL and IOWIN writes, kept as QEMU's RTEs. */
static void shadow_ioapic(struct conv *c, uint64_t off, unsigned size,
			  uint64_t val)
{
	unsigned idx;

	if (off == 0) {
		c->regsel = (uint8_t)val;
		return;
	}
	if (off != 0x10 || size != 4 || c->regsel < 0x10 ||
	    c->regsel >= 0x10 + 2 * IOAPIC_PINS)
		return;
	idx = (c->regsel - 0x10u) / 2;
	if (c->regsel & 1)
		c->rte[idx] = (c->rte[idx] & 0xffffffffu) | val << 32;
	else
		c->rte[idx] = (c->rte[idx] & ~0xffffffffULL) | val;
}

/*
 * QEMU's IOAPIC sends its interrupts as messages to the "apic-msi" region
 * (ioapic_entry_parse): address 0xfee00000 | RTE[63:48] << 4 | RTE[11] << 2,
 * data vector | RTE[10:8] << 8 | RTE[15] << 15; an ExtINT entry carries the
 * 8259's vector instead of its own.  A message that one of the guest's RTEs
 * would produce is the IOAPIC's output, not an input.
 */
static bool ioapic_message(const struct conv *c, uint64_t addr, uint32_t data)
{
	for (unsigned i = 0; i < IOAPIC_PINS; i++) {
		uint64_t e = c->rte[i];
		uint64_t a = DM_LAPIC_DEFAULT_BASE | ((e >> 48) & 0xffff) << 4 |
			     ((e >> 11) & 1) << 2;
		uint32_t dm = (uint32_t)(e >> 8) & 7;
		uint32_t d = dm << 8 | (uint32_t)((e >> 15) & 1) << 15;

		if (a == addr && (data & ~0xffu) == d &&
		    (dm == 7 || (data & 0xff) == (e & 0xff)))
			return true;
	}
	return false;
}

static int on_message(struct conv *c, uint64_t addr, uint64_t data)
{
	struct dm_event ev = {.time = c->now,
			      .actor = DM_ACTOR_DEV,
			      .op = DM_OP_MSI,
			      .addr = addr,
			      .size = 4,
			      .value = data,
			      .flags = DM_EV_VALUE};

	if (data > UINT32_MAX || ioapic_message(c, addr, (uint32_t)data)) {
		c->st->outputs++;
		return 0;
	}
	return write_ev(c, &ev);
}

/* An access through the "apic-msi" region: QEMU's apic_mem_write takes a
 * write at register index 0 or beyond the page for an MSI (a device's, or
 * the IOAPIC's), anything else for the current vcpu's LAPIC. */
static int on_apic_msi(struct conv *c, bool write, const struct ev_mr *e,
		       uint64_t value)
{
	uint64_t off = e->addr - DM_LAPIC_DEFAULT_BASE;

	if (write && (off < 0x10 || off >= DM_LAPIC_MMIO_SIZE)) {
		if (e->size != 4) {
			c->st->unmodelled++;
			return 0;
		}
		return on_message(c, e->addr, value);
	}
	if (off >= DM_LAPIC_MMIO_SIZE) {
		c->st->unmodelled++;
		return 0;
	}
	if (e->cpu < 0) {
		c->st->not_vcpu++;
		return 0;
	}
	c->vc[e->cpu].pic_inta = false;
	return cpu_ev(c, (int)e->cpu, write ? DM_OP_MMIO_W : DM_OP_MMIO_R,
		      e->addr, e->size, value, true);
}

/* Reads of NVRAM bytes QEMU's board set are not checked. */
static bool cmos_unknown(struct conv *c, bool write, const struct ev_mr *e,
			 uint64_t value)
{
	if (!dm_import_cmos_access(&c->cmos, e->addr, write, (uint8_t)value))
		return false;
	c->st->cmos_unknown++;
	return true;
}

static int on_mr(struct conv *c, bool write, const char *body)
{
	struct ev_mr e;
	uint64_t value;
	bool port;

	if (!parse_mr(body, &e))
		return bad_line(c,
				"expected 'cpu N mr PTR addr 0xA value 0xV "
				"size 1|2|4|8 name 'REGION''",
				body);
	value = e.value & size_mask(e.size);
	if (e.addr - DM_LAPIC_DEFAULT_BASE < APIC_MSI_LEN)
		return on_apic_msi(c, write, &e, value);
	port = e.addr < PORT_SPACE;
	if (port ? !dm_import_modelled_port(e.addr, c->pmbase)
		 : e.addr - DM_IOAPIC_BASE >= DM_IOAPIC_SIZE &&
			    e.addr - DM_HPET_BASE >= HPET_LEN) {
		c->st->unmodelled++;
		return 0;
	}
	if (e.cpu < 0) {
		c->st->not_vcpu++;
		return 0;
	}
	if (port && e.size == 8)
		return bad_line(c, "8-byte port access", body);
	if (write && e.addr - DM_IOAPIC_BASE < DM_IOAPIC_SIZE)
		shadow_ioapic(c, e.addr - DM_IOAPIC_BASE, e.size, value);
	if (write && e.addr == DM_HPET_BASE + 0x10)
		c->hpet_legacy = value & 2;
	c->vc[e.cpu].pic_inta = false;
	return cpu_ev(c, (int)e.cpu,
		      port ? (write ? DM_OP_PIO_W : DM_OP_PIO_R)
			   : (write ? DM_OP_MMIO_W : DM_OP_MMIO_R),
		      e.addr, e.size, value,
		      !cmos_unknown(c, write, &e, value));
}

/* A device access event of a vcpu: an echo of the memory core's line when
 * the log has those, else the access itself. */
static int on_device(struct conv *c, enum qev k, int vcpu, const char *body)
{
	const struct vcpu *v = &c->vc[vcpu];
	bool x2apic = (v->apic_base & 0xc00) == 0xc00;
	bool write = k == E_APIC_MEM_WRITE || k == E_APIC_REG_WRITE ||
		     k == E_IOAPIC_WRITE || k == E_PIC_WRITE;
	enum dm_op op = write ? DM_OP_MMIO_W : DM_OP_MMIO_R;
	uint64_t off, val, addr;
	uint32_t port;
	unsigned size = 4;

	switch (k) {
	case E_APIC_MEM_READ:
	case E_APIC_MEM_WRITE:
		if (!parse_apic_mem(body, &off, &val))
			return bad_line(c, "expected '0xOFFSET = 0xVALUE'",
					body);
		addr = (v->apic_base & ~0xfffULL) + (off & 0xfff);
		break;
	case E_APIC_REG_READ:
	case E_APIC_REG_WRITE:
		if (!parse_apic_reg(body, &off, &val))
			return bad_line(c, "expected 'register 0xR = 0xV'",
					body);
		if (x2apic) {
			c->vc[vcpu].pic_inta = false;
			return cpu_ev(c, vcpu,
				      write ? DM_OP_MSR_W : DM_OP_MSR_R,
				      DM_MSR_X2APIC_FIRST + off, 8, val, true);
		}
		addr = (v->apic_base & ~0xfffULL) + off * 16;
		val &= 0xffffffffu;
		break;
	case E_IOAPIC_READ:
	case E_IOAPIC_WRITE:
		if (!parse_ioapic_mem(body, write, &off, &size, &val))
			return bad_line(c,
					"expected 'ioapic mem read|write addr "
					"0xA regsel: 0xR size 0xS retval|val "
					"0xV'",
					body);
		addr = DM_IOAPIC_BASE + off;
		val &= size_mask(size);
		break;
	default: /* the 8259s */
		if (!parse_pic_io(body, &port, &val))
			return bad_line(c,
					"expected 'master 0|1 addr 0|1 val "
					"0xV'",
					body);
		op = write ? DM_OP_PIO_W : DM_OP_PIO_R;
		addr = port;
		size = 1;
		break;
	}
	if (c->sv->mr) {
		c->st->outputs++;
		return 0;
	}
	if (write && addr - DM_IOAPIC_BASE < DM_IOAPIC_SIZE)
		shadow_ioapic(c, addr - DM_IOAPIC_BASE, size, val);
	c->vc[vcpu].pic_inta = false;
	return cpu_ev(c, vcpu, op, addr, size, val, true);
}

/* The 8259 answered an INTA (pic_read_irq): the vcpu took its vector.  On
 * KVM the KVM_INTERRUPT ioctl, on TCG the "Servicing" line, follows. */
static int on_pic_inta(struct conv *c, int vcpu, const char *body)
{
	uint64_t vector;

	if (!parse_pic_inta(body, &vector))
		return bad_line(c, "expected 'irq N intno V'", body);
	c->vc[vcpu].pic_inta = true;
	return cpu_ev(c, vcpu, DM_OP_INTACK, 0, 0, vector, true);
}

/* An injection with no 8259 INTA before it took the LAPIC's vector, which
 * the log does not show on KVM (the ioctl prints a pointer). */
static int on_inject(struct conv *c, int vcpu, bool known, uint64_t vector)
{
	if (c->vc[vcpu].pic_inta) {
		c->vc[vcpu].pic_inta = false;
		c->st->outputs++;
		return 0;
	}
	return cpu_ev(c, vcpu, DM_OP_INTACK, 0, 0, vector, known);
}

static int on_ioctl(struct conv *c, const char *body)
{
	int64_t cpu;
	uint64_t type;

	if (!parse_kvm(body, true, &cpu, &type))
		return bad_line(c, "expected 'cpu_index N, type 0xT, arg P'",
				body);
	switch (type) {
	case KVM_INTERRUPT:
		return on_inject(c, (int)cpu, false, 0);
	case KVM_NMI:
		return cpu_ev(c, (int)cpu, DM_OP_NMI, 0, 0, 0, true);
	case KVM_SMI:
		return cpu_ev(c, (int)cpu, DM_OP_SMI, 0, 0, 0, true);
	default:
		c->st->bookkeeping++;
		return 0;
	}
}

static int on_servicing(struct conv *c, uint64_t vector)
{
	if (c->sv->vcpus != 1) {
		c->st->ambiguous++;
		return 0;
	}
	return on_inject(c, 0, true, vector);
}

static int on_gsi(struct conv *c, const char *body)
{
	uint64_t gsi, level, bit;
	bool pit = false;
	struct dm_event ev = {.time = c->now,
			      .actor = DM_ACTOR_DEV,
			      .op = DM_OP_IRQ,
			      .flags = DM_EV_VALUE};

	if (!parse_gsi(body, &gsi, &level))
		return bad_line(c, "expected 'GSI interrupt #N level:0|1'",
				body);
	if (gsi == 0 && c->o->pit_irq0_edges && !c->hpet_legacy) {
		pit = true;
	} else if (gsi < 32 && (c->model_gsis >> gsi & 1)) {
		c->st->outputs++;
		return 0;
	}
	bit = gsi < 64 ? 1ULL << gsi : 0;
	if (bit && !level && !(c->gsi_high & bit)) {
		c->st->noop_lowers++;
		return 0;
	}
	c->gsi_high = level ? c->gsi_high | bit : c->gsi_high & ~bit;
	c->st->pit_edges += pit;
	ev.addr = gsi;
	ev.value = level;
	return write_ev(c, &ev);
}

/* QEMU reports IA32_APIC_BASE to its LAPIC model after every KVM exit (and
 * on TCG's WRMSR): a change is the guest's write. */
static int on_set_base(struct conv *c, int vcpu, const char *body)
{
	uint64_t val;

	if (!parse_base(body, &val))
		return bad_line(c, "expected '0xVALUE'", body);
	if (vcpu < 0) {
		c->st->not_vcpu++;
		return 0;
	}
	if (val == c->vc[vcpu].apic_base) {
		c->st->outputs++;
		return 0;
	}
	c->vc[vcpu].apic_base = val;
	return cpu_ev(c, vcpu, DM_OP_MSR_W, DM_MSR_APIC_BASE, 8, val, true);
}

/* TCG's RDMSR; on KVM, QEMU reading it to load the vcpu's registers. */
static int on_get_base(struct conv *c, int vcpu, const char *body)
{
	uint64_t val;

	if (!parse_base(body, &val))
		return bad_line(c, "expected '0xVALUE'", body);
	if (vcpu < 0 || c->sv->kvm) {
		c->st->not_vcpu += vcpu < 0;
		c->st->bookkeeping += vcpu >= 0;
		return 0;
	}
	return cpu_ev(c, vcpu, DM_OP_MSR_R, DM_MSR_APIC_BASE, 8, val, true);
}

static int on_deliver(struct conv *c, const char *body)
{
	struct ev_msg m;

	if (!parse_deliver(body, &m))
		return bad_line(c,
				"expected 'dest N dest_mode M delivery_mode D "
				"vector V trigger_mode T'",
				body);
	if (c->sv->mr) {
		c->st->outputs++;
		return 0;
	}
	return on_message(c, m.addr, m.data);
}

/* Host time to QEMU's virtual time: the time the VM has run for. */
static uint64_t vclock(const struct conv *c, uint64_t host)
{
	if (!c->running)
		return c->run_acc;
	return c->run_acc + (host > c->run_start ? host - c->run_start : 0);
}

static int on_runstate(struct conv *c, uint64_t host, const char *body)
{
	bool running;

	if (!parse_runstate(body, &running))
		return bad_line(c,
				"expected 'current_run_state N (STATE) "
				"new_state N (STATE)'",
				body);
	if (running && !c->running) {
		c->running = true;
		c->run_start = host;
	} else if (!running && c->running) {
		c->run_acc = vclock(c, host);
		c->running = false;
	}
	c->st->bookkeeping++;
	return 0;
}

static int thread_vcpu(const struct conv *c, uint32_t tid)
{
	for (unsigned i = 0; i < c->sv->nt; i++)
		if (c->sv->t[i].tid == tid)
			return c->tvcpu[i];
	return -1;
}

/* The thread's vcpu follows the cpu index its lines name (one thread runs
 * every vcpu under TCG without MTTCG). */
static void follow_cpu(struct conv *c, uint32_t tid, int64_t cpu)
{
	if (cpu < 0)
		return;
	for (unsigned i = 0; i < c->sv->nt; i++)
		if (c->sv->t[i].tid == tid)
			c->tvcpu[i] = (int)cpu;
}

static int on_event(struct conv *c, const struct qline *ql)
{
	enum qev k = event_kind(ql->event);
	struct ev_mr mr;
	int64_t cpu;
	uint64_t type;
	int vcpu;

	if ((k == E_MR_READ || k == E_MR_WRITE) && parse_mr(ql->body, &mr))
		follow_cpu(c, ql->tid, mr.cpu);
	if ((k == E_IOCTL || k == E_RUN_EXIT) &&
	    parse_kvm(ql->body, k == E_IOCTL, &cpu, &type))
		follow_cpu(c, ql->tid, cpu);
	vcpu = thread_vcpu(c, ql->tid);
	if (access_event(k) && vcpu < 0)
		return bad_line(c, "access event from a thread with no vcpu",
				ql->body);
	switch (k) {
	case E_MR_READ:
	case E_MR_WRITE:
		return on_mr(c, k == E_MR_WRITE, ql->body);
	case E_PIC_INTA:
		return on_pic_inta(c, vcpu, ql->body);
	case E_IOCTL:
		return on_ioctl(c, ql->body);
	case E_GSI:
		return on_gsi(c, ql->body);
	case E_SET_BASE:
		return on_set_base(c, vcpu, ql->body);
	case E_GET_BASE:
		return on_get_base(c, vcpu, ql->body);
	case E_DELIVER:
		return on_deliver(c, ql->body);
	case E_RUNSTATE:
		return on_runstate(c, ql->ns, ql->body);
	case E_RUN_EXIT:
	case E_BOOKKEEP:
		c->st->bookkeeping++;
		return 0;
	case E_ECHO:
		c->st->outputs++;
		return 0;
	case E_UNKNOWN:
		if (!c->st->unknown++) {
			c->first_unknown_line = c->in->lineno;
			snprintf(c->first_unknown, sizeof(c->first_unknown),
				 "%s", ql->event);
		}
		return 0;
	default:
		return on_device(c, k, vcpu, ql->body);
	}
}

/* A line cut short is skipped only at the very end of the log. */
static int on_truncated(struct conv *c, int rc)
{
	if (!rc || !dm_import_skip_truncated(c->in, c->o->log))
		return rc;
	c->st->truncated++;
	return 0;
}

static int convert_line(struct conv *c)
{
	struct qline ql;
	int r;

	switch (lex(c->in->line, &ql)) {
	case Q_EVENT:
		c->now = vclock(c, ql.ns);
		c->event = ql.event;
		r = on_truncated(c, on_event(c, &ql));
		c->event = NULL;
		return r;
	case Q_SERVICING:
		return on_servicing(c, ql.vector);
	case Q_BAD:
		return on_truncated(
			c, bad_line(c, "not a QEMU trace line", c->in->line));
	case Q_UNTIMED:
	case Q_OTHER:
		if (!c->st->other++)
			c->first_other_line = c->in->lineno;
		return 0;
	default:
		return 0;
	}
}

static int convert(void *ctx)
{
	struct conv *c = ctx;

	int r;

	while ((r = dm_import_input_next(c->in, c->err)) > 0) {
		c->st->lines++;
		if (convert_line(c))
			return -1;
	}
	return r;
}

/* ---- set-up and report ----------------------------------------------- */

static void init_conv(struct conv *c, const struct survey *sv)
{
	for (unsigned i = 0; i < MAX_VCPUS; i++)
		c->vc[i].apic_base =
			DM_LAPIC_DEFAULT_BASE | 0x800 | (i ? 0 : 0x100);
	for (unsigned i = 0; i < sv->nt; i++)
		c->tvcpu[i] = sv->t[i].vcpu;
	/* Without run-state lines the VM is taken to run from the first. */
	c->running = !sv->runstate;
	c->run_start = sv->t0;
	/* QEMU's IOAPIC resets its RTEs to masked, everything else 0. */
	for (unsigned i = 0; i < IOAPIC_PINS; i++)
		c->rte[i] = 1u << 16;
	c->model_gsis = c->o->model_gsis_given ? c->o->model_gsis
					       : MODEL_GSIS | sv->hpet_gsis;
	c->pmbase = dm_import_pmbase(&sv->pci, sv->pmbase);
}

static void machine_line(const struct survey *sv, bool pit_irq0_edges,
			 char *buf, size_t cap)
{
	int n = snprintf(
		buf, cap, "profile=qemu vcpus=%u chipset=%s rtc_epoch=%" PRIu64,
		sv->vcpus, sv->pci.chipset == DM_CHIPSET_Q35 ? "q35" : "pc",
		(uint64_t)(sv->t0 / DM_NS_PER_SEC));

	if (sv->pmbase && n > 0 && (size_t)n < cap)
		n += snprintf(buf + n, cap - (size_t)n, " pmbase=0x%x",
			      sv->pmbase);
	/* IRQ0 comes from the trace's dev irq 0 events, not the PIT model. */
	if (pit_irq0_edges && n > 0 && (size_t)n < cap)
		snprintf(buf + n, cap - (size_t)n, " pit_irq0=off");
}

static void report_inference(FILE *log, const struct survey *sv,
			     uint32_t model_gsis)
{
	for (unsigned i = 0; i < sv->nt; i++)
		if (sv->t[i].vcpu >= 0)
			fprintf(log, "import: thread %u is cpu%d (from %s)\n",
				sv->t[i].tid, sv->t[i].vcpu,
				sv->t[i].cpu_field ? "the cpu index it logs"
						   : "order of first access");
	dm_import_report_chipset(log, &sv->pci);
	if (sv->pmbase)
		fprintf(log,
			"import: PM block at 0x%x (its regions' "
			"addresses)\n",
			sv->pmbase);
	fprintf(log, sv->hpet ? "import: the guest uses the HPET\n"
			      : "import: the guest never touched the HPET\n");
	fprintf(log, "import: GSIs driven by QEMU's PIT, RTC and HPET (not "
		     "inputs):");
	for (unsigned g = 0; g < 32; g++)
		if (model_gsis >> g & 1)
			fprintf(log, " %u", g);
	fprintf(log,
		"\nimport: time 0 is host time %" PRIu64 ".%06" PRIu64
		" s (%s); timestamps have 1 us resolution\n",
		(uint64_t)(sv->t0 / DM_NS_PER_SEC),
		(uint64_t)(sv->t0 % DM_NS_PER_SEC / 1000),
		sv->runstate ? "the VM's start, runstate_set"
			     : "the first line");
	if (!sv->runstate)
		fprintf(log, "import: warning: no runstate_set lines: QEMU's "
			     "virtual clock (PIT, HPET, LAPIC, PM timer) "
			     "starts when the VM runs, not at the first line; "
			     "counters running since reset are off by the "
			     "gap, and pauses are not taken out\n");
	fprintf(log,
		"import: rtc_epoch=%" PRIu64 " assumes -rtc base=utc; "
		"QEMU's RTC seconds tick at its own phase\n",
		(uint64_t)(sv->t0 / DM_NS_PER_SEC));
	if (!sv->mr)
		fprintf(log, "import: warning: no memory_region_ops_read/write "
			     "lines: PIT, RTC, HPET, ELCR, port 0x61 and PM "
			     "timer accesses are not in the log, and MSIs "
			     "come from apic_deliver_irq\n");
	if (!sv->kvm_inject && !sv->servicing)
		fprintf(log, "import: warning: no KVM_INTERRUPT ioctls and no "
			     "'Servicing hardware INT' lines: only 8259 "
			     "vectors (pic_interrupt) become intacks\n");
}

static void report_summary(FILE *log, const struct conv *c)
{
	const struct dm_qemu_stats *st = c->st;

	fprintf(log,
		"import: %" PRIu64 " lines -> %" PRIu64 " events: %" PRIu64
		" accesses, %" PRIu64 " intacks (%" PRIu64
		" unchecked), %" PRIu64 " signals, %" PRIu64
		" dev irq, %" PRIu64 " dev msi\n",
		st->lines, st->events, st->accesses, st->intacks,
		st->unchecked_intacks, st->signals, st->dev_irqs, st->dev_msis);
	fprintf(log,
		"import: skipped %" PRIu64 " model outputs and echoes, %" PRIu64
		" KVM calls, %" PRIu64
		" accesses outside the model set, %" PRIu64
		" not by a vcpu, %" PRIu64 " no-op lowers\n",
		st->outputs, st->bookkeeping, st->unmodelled, st->not_vcpu,
		st->noop_lowers);
	if (c->o->pit_irq0_edges)
		fprintf(log,
			"import: %" PRIu64 " of the dev irq events are the "
			"PIT's IRQ0 changes\n",
			st->pit_edges);
	if (st->cmos_unknown)
		fprintf(log,
			"import: %" PRIu64
			" reads of CMOS bytes QEMU's board set (never written "
			"in the log) are unchecked\n",
			st->cmos_unknown);
	if (st->unchecked_intacks)
		fprintf(log,
			"import: %" PRIu64
			" vectors the LAPIC gave a vcpu are not in the log "
			"(KVM_INTERRUPT prints a pointer): those intacks are "
			"unchecked\n",
			st->unchecked_intacks);
	if (st->unknown)
		fprintf(log,
			"import: warning: %" PRIu64
			" lines of events not used (first: %s, line %" PRIu64
			")\n",
			st->unknown, c->first_unknown, c->first_unknown_line);
	if (st->other)
		fprintf(log,
			"import: warning: %" PRIu64
			" lines that are not timestamped trace events skipped "
			"(first: line %" PRIu64 ")\n",
			st->other, c->first_other_line);
	if (st->ambiguous)
		fprintf(log,
			"import: warning: %" PRIu64
			" 'Servicing hardware INT' lines skipped: they do not "
			"name the vcpu and the log has %u\n",
			st->ambiguous, c->sv->vcpus);
	if (st->clamped)
		fprintf(log,
			"import: warning: %" PRIu64
			" timestamps earlier than the event before (threads "
			"interleaved), first at line %" PRIu64
			"; each moved up to its predecessor\n",
			st->clamped, c->first_clamp_line);
}

static int run(struct dm_import_input *in, const char *out,
	       const struct dm_qemu_opts *o, struct dm_qemu_stats *st,
	       struct survey *sv, struct conv *c, struct dm_error *err)
{
	char config[256];

	if (survey(in, sv, err))
		return -1;
	if (!sv->have_ts)
		return dm_errorf(err,
				 sv->untimed ? "%s: trace lines without "
					       "timestamps: run QEMU with -msg "
					       "timestamp=on"
					     : "%s: no QEMU trace events",
				 in->name);
	assign_vcpus(sv);
	st->vcpus = sv->vcpus;
	machine_line(sv, o->pit_irq0_edges, config, sizeof(config));
	c->o = o;
	c->st = st;
	c->err = err;
	c->sv = sv;
	c->in = in;
	init_conv(c, sv);
	if (o->log)
		report_inference(o->log, sv, c->model_gsis);
	if (dm_import_write(in, out, o->encoding, config, convert, c, &c->w,
			    err))
		return -1;
	if (o->log)
		report_summary(o->log, c);
	return 0;
}

int dm_import_qemu(const char *in_path, const char *out,
		   const struct dm_qemu_opts *o, struct dm_qemu_stats *st,
		   struct dm_error *err)
{
	struct dm_import_input in = {0};
	struct survey *sv = calloc(1, sizeof(*sv));
	struct conv *c = calloc(1, sizeof(*c));
	int rc = -1;

	*st = (struct dm_qemu_stats){0};
	if (!sv || !c)
		dm_errorf(err, "out of memory");
	else if (!dm_import_input_open(&in, in_path, err))
		rc = run(&in, out, o, st, sv, c, err);
	dm_import_input_close(&in);
	free(c);
	free(sv);
	return rc;
}
