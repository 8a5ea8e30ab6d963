// SPDX-License-Identifier: MIT
/*
 * The ftrace importer on a capture recorded here (tests/traces/
 * ftrace_probe.raw), on a hand-written trace-cmd report of what this host
 * cannot produce (ftrace_report.raw), both against their expected
 * conversions (*.expect), and on small bad inputs (docs/importers.md).
 * Expected times are (timestamp - first timestamp) * 1e9 / TSC rate,
 * computed here from the raw lines, not taken from the importer.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim/clock.h"
#include "tests/unit/testutil.h"
#include "traces/import.h"
#include "traces/import_common.h"

#define MAX_EVENTS 256

static char dir[64];

struct result {
	int rc;
	struct dm_ftrace_stats st;
	struct dm_error err;
	struct dm_event ev[MAX_EVENTS];
	unsigned n;
	char config[256];
	char out[512];
};

static void setup(void)
{
	dm_test_mkdtemp(dir, "/tmp/dmsim-import-XXXXXX");
}

static void teardown(void)
{
	dm_test_rmdir(dir);
}

static void import_opts(const char *in, struct dm_ftrace_opts *o,
			struct result *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->out, sizeof(r->out), "%s/out.txt", dir);
	unlink(r->out);
	r->rc = dm_import_ftrace(in, r->out, o, &r->st, &r->err);
	if (!r->rc)
		r->n = dm_test_read_trace(r->out, r->ev, MAX_EVENTS, r->config,
					  sizeof(r->config));
}

static void import(const char *in, struct result *r)
{
	struct dm_ftrace_opts o = {.encoding = DM_TRACE_TEXT};

	import_opts(in, &o, r);
}

static void import_text(const char *text, struct result *r)
{
	import(dm_test_write_file(dir, "in.txt", text), r);
}

static void import_text_opts(const char *text, struct dm_ftrace_opts *o,
			     struct result *r)
{
	import_opts(dm_test_write_file(dir, "in.txt", text), o, r);
}

/* Imports tests/traces/RAW and asserts the trace is EXPECT, byte for byte. */
static void import_as_expected(const char *raw, const char *expect,
			       struct result *r)
{
	import(dm_test_trace_path(raw), r);
	ck_assert_msg(!r->rc, "%s", r->err.msg);
	dm_test_assert_file_is(r->out, expect);
}

static const struct dm_event *find(const struct result *r, enum dm_op op,
				   uint64_t time)
{
	return dm_test_find_event(r->ev, r->n, op, time);
}

/* ---- the probe guest, captured with dmsim kvm capture ---------------- */

#define PROBE_T0 5003222513161ULL /* the capture's start marker */
#define PROBE_HZ 2445432000ULL	  /* its header's tsc_hz */

static uint64_t probe_ns(uint64_t tsc)
{
	return dm_muldiv64(tsc - PROBE_T0, DM_NS_PER_SEC, PROBE_HZ);
}

START_TEST(probe_matches_expected_conversion)
{
	struct result r;

	import_as_expected("ftrace_probe.raw", "ftrace_probe.expect", &r);
	ck_assert_uint_eq(r.st.vcpus, 1);
	ck_assert_uint_eq(r.st.tsc_hz, PROBE_HZ);
	ck_assert_uint_eq(r.st.lost, 0);
	ck_assert_uint_eq(r.n, r.st.events);
}
END_TEST

/* An EOI nobody wrote is KVM (kvm_pvm) delivering: an 8259 ExtINT
 * (kvm_eoi -1) is an unchecked intack; a LAPIC vector is an intack of
 * that vector and the EOI KVM did, in xAPIC or x2APIC form. */
START_TEST(probe_deliveries_become_intacks)
{
	struct result r;
	const struct dm_event *e;

	import(dm_test_trace_path("ftrace_probe.raw"), &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	e = find(&r, DM_OP_INTACK, probe_ns(5003387544328ULL));
	ck_assert(!(e->flags & DM_EV_VALUE));
	e = find(&r, DM_OP_INTACK, probe_ns(5003428339449ULL));
	ck_assert_uint_eq(e->value, 0x30);
	ck_assert(e[1].op == DM_OP_MMIO_W && e[1].addr == 0xfee000b0 &&
		  e[1].time == e->time);
	e = find(&r, DM_OP_INTACK, probe_ns(5003502905776ULL));
	ck_assert_uint_eq(e->value, 0x50);
	ck_assert(e[1].op == DM_OP_MSR_W && e[1].addr == 0x80b);
	ck_assert_uint_eq(r.st.intacks, 3);
	ck_assert_uint_eq(r.st.eois_by_kvm, 2);
	/* The guest's own EOI write stays, at its kvm_apic line's time. */
	e = find(&r, DM_OP_MMIO_W, probe_ns(5003428377571ULL));
	ck_assert_uint_eq(e->addr, 0xfee000b0);
}
END_TEST

START_TEST(probe_userspace_and_msrs)
{
	struct result r;
	const struct dm_event *e;

	import(dm_test_trace_path("ftrace_probe.raw"), &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	/* An HPET read served by userspace: mid-way between the
	 * unsatisfied-read and the completed read, whose value it has. */
	e = find(&r, DM_OP_MMIO_R,
		 probe_ns(5003501651033ULL) + (probe_ns(5003501672617ULL) -
					       probe_ns(5003501651033ULL)) /
						      2);
	ck_assert_uint_eq(e->addr, 0xfed00000);
	ck_assert_uint_eq(e->value, 0x8086a201);
	/* GSI 5 pulsed by userspace, at its echoes' times (kvm_pic_set_irq);
	 * the second lower is a no-op. */
	e = find(&r, DM_OP_IRQ, probe_ns(5003501609848ULL));
	ck_assert(e->addr == 5 && e->value == 1 && e[1].op == DM_OP_IRQ &&
		  e[1].value == 0);
	ck_assert_uint_eq(r.st.dev_irqs, 2);
	ck_assert_uint_eq(r.st.noop_lowers, 1);
	/* TSC-deadline: guest TSC 0x48cf8f2f03e, offset 0, minus T0. */
	e = find(&r, DM_OP_MSR_W, probe_ns(5003501835567ULL));
	ck_assert_uint_eq(e->addr, 0x6e0);
	ck_assert_uint_eq(e->value, 0x48cf8f2f03eULL - PROBE_T0);
	/* The MSI kvmrun signalled. */
	e = find(&r, DM_OP_MSI, probe_ns(5003501851247ULL));
	ck_assert(e->addr == 0xfee00000 && e->value == 0x50);
}
END_TEST

/* With pit_irq0_edges the kvm-pit thread's IRQ0 pulses are inputs, each
 * at its first echo (kvm_pic_set_irq), and the PIT model is disconnected
 * from IRQ0 on the machine line. */
START_TEST(probe_pit_edges_from_the_trace)
{
	struct dm_ftrace_opts o = {.encoding = DM_TRACE_TEXT,
				   .pit_irq0_edges = true};
	static const struct {
		uint64_t tsc, level;
	} edges[] = {
		{5003379110448ULL, 1},
		{5003379116254ULL, 0},
		{5003423026012ULL, 1},
	};
	struct result r, plain;
	const struct dm_event *e;
	char *text;

	import(dm_test_trace_path("ftrace_probe.raw"), &plain);
	ck_assert_msg(!plain.rc, "%s", plain.err.msg);
	import_opts(dm_test_trace_path("ftrace_probe.raw"), &o, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	text = dm_test_slurp(r.out);
	ck_assert_ptr_nonnull(strstr(
		text, "tsc_hz=2445432000 pit_inta_ack=on pit_irq0=off\n"));
	free(text);
	ck_assert_uint_eq(r.st.pit_edges, 4);
	ck_assert_uint_eq(r.st.dev_irqs, plain.st.dev_irqs + 4);
	ck_assert_uint_eq(r.st.events, plain.st.events + 4);
	ck_assert_uint_eq(r.st.outputs + 4, plain.st.outputs);
	for (unsigned i = 0; i < 3; i++) {
		e = find(&r, DM_OP_IRQ, probe_ns(edges[i].tsc));
		ck_assert(e->actor == DM_ACTOR_DEV && e->addr == 0);
		ck_assert_uint_eq(e->value, edges[i].level);
	}
}
END_TEST

/* ---- trace-cmd report layout, a QEMU-like host ----------------------- */

/* ---- QEMU with kernel-irqchip=off (pc1 boot, cut) --------------------- */

#define OFF_T0 27718901200153ULL /* the capture's start marker */

static uint64_t off_ns(uint64_t tsc)
{
	return dm_muldiv64(tsc - OFF_T0, DM_NS_PER_SEC, PROBE_HZ);
}

START_TEST(off_matches_expected_conversion)
{
	struct result r;

	import_as_expected("ftrace_off.raw", "ftrace_off.expect", &r);
	ck_assert_uint_eq(r.st.intacks, 13);
	ck_assert_uint_eq(r.st.acks_vec, 11);
	ck_assert_uint_eq(r.st.cmos_unknown, 5);
}
END_TEST

/*
 * QEMU injects at an exit and the handler runs at once: after an interrupt
 * window exit, a kick that follows is an interrupt raised during the
 * handler's entry (not the injection); without a window, the injection is
 * the last exit before the handler (here a kick).  Linux's handler starts
 * with its IMR read; the specific EOI 0x60 names IRQ0, ICW2 0x30.
 */
START_TEST(off_intacks_at_the_injecting_exit)
{
	struct result r;
	const struct dm_event *e;

	import(dm_test_trace_path("ftrace_off.raw"), &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	e = find(&r, DM_OP_INTACK, off_ns(28032764942151ULL)); /* window */
	ck_assert(e->flags & DM_EV_VALUE);
	ck_assert_uint_eq(e->value, 0x30);
	ck_assert(e[1].op == DM_OP_PIO_R && e[1].addr == 0x21);
	e = find(&r, DM_OP_INTACK, off_ns(28032853475743ULL)); /* kick */
	ck_assert_uint_eq(e->value, 0x30);
	ck_assert(e[1].op == DM_OP_PIO_R && e[1].addr == 0x21);
	/* SeaBIOS's non-specific EOI: the vector is not known. */
	e = find(&r, DM_OP_INTACK, off_ns(27726204431578ULL));
	ck_assert(!(e->flags & DM_EV_VALUE));
}
END_TEST

START_TEST(report_matches_expected_conversion)
{
	struct result r;

	import_as_expected("ftrace_report.raw", "ftrace_report.expect", &r);
	ck_assert_uint_eq(r.st.vcpus, 2);
	ck_assert_uint_eq(r.st.tsc_hz, 0);
	ck_assert_uint_eq(r.st.unknown, 0);
	ck_assert_uint_eq(r.st.lost, 12);
	ck_assert_uint_eq(r.st.clamped, 1);
	ck_assert_uint_eq(r.st.noop_lowers, 1);
	ck_assert_uint_eq(r.st.faulted, 1);
	ck_assert_uint_eq(r.st.unmodelled, 5);
}
END_TEST

/* ---- small inputs ------------------------------------------------------ */

/* Appends an event line of thread tid at second sec. */
static void add(struct dm_test_text *t, int tid, int sec, const char *event)
{
	dm_test_text_add(t, "  t-%d [000] ..... %d.000000000: %s\n", tid, sec,
			 event);
}

#define PIT_CW "kvm_pio: pio_write at 0x43 size 1 count 1 val 0x34"
#define PIT_LSB "kvm_pio: pio_write at 0x40 size 1 count 1 val 0x0"

START_TEST(truncated_relevant_line_names_it)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 1, 10, PIT_CW);
	add(&t, 1, 11, "kvm_pio: pio_write at 0x4");
	add(&t, 1, 12, PIT_LSB);
	import_text(t.buf, &r);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_ptr_nonnull(strstr(r.err.msg, "in.txt:2:"));
	ck_assert_ptr_nonnull(strstr(r.err.msg, "kvm_pio"));
	ck_assert_int_ne(access(r.out, F_OK), 0); /* no half trace left */
}
END_TEST

START_TEST(truncated_last_line_is_skipped)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 1, 10, PIT_CW);
	dm_test_text_add(&t, "%s", "  t-1 [000] ..... 11.0000");
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.st.truncated, 1);
	ck_assert_uint_eq(r.n, 1);
}
END_TEST

START_TEST(garbage_line_names_it)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 1, 10, PIT_CW);
	dm_test_text_add(&t, "%s", "hello world\n");
	add(&t, 1, 12, PIT_LSB);
	import_text(t.buf, &r);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_ptr_nonnull(strstr(r.err.msg, "in.txt:2: not a trace line"));
}
END_TEST

START_TEST(unsupported_kernel_format_names_the_line)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	/* Kernels before 3.x printed no value. */
	add(&t, 1, 10, "kvm_pio: pio_read at 0x40 size 1 count 1");
	import_text(t.buf, &r);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_ptr_nonnull(strstr(r.err.msg, "in.txt:1:"));
	ck_assert_ptr_nonnull(strstr(r.err.msg, "not in the format"));
}
END_TEST

START_TEST(unknown_events_are_counted)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 1, 10,
	    "sched_migrate_task: comm=a pid=1 prio=120 orig_cpu=0 dest_cpu=1");
	add(&t, 1, 11, PIT_CW);
	add(&t, 1, 12, "kvm_hypercall: nr 0x1 a0 0x0");
	add(&t, 1, 13, "kvm_pic_set_irq: chip 0 pin 0 (edge)");
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.st.unknown, 2);
	ck_assert_uint_eq(r.st.outputs, 1);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_uint_eq(r.ev[0].time, 1000000000);
}
END_TEST

START_TEST(interleaved_cpus_are_clamped)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 1, 10, PIT_CW);
	add(&t, 2, 12, "kvm_pio: pio_write at 0x21 size 1 count 1 val 0xff");
	add(&t, 1, 11, PIT_LSB);
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.st.clamped, 1);
	ck_assert_uint_eq(r.n, 3);
	ck_assert_uint_eq(r.ev[2].time, 2000000000);
	ck_assert_uint_eq(r.ev[2].addr, 0x40);
}
END_TEST

START_TEST(two_clocks_are_refused)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 1, 10, PIT_CW);
	dm_test_text_add(&t, "%s", "  t-1 [000] ..... 123456: " PIT_LSB "\n");
	import_text(t.buf, &r);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_ptr_nonnull(strstr(r.err.msg, "in.txt:2:"));
}
END_TEST

START_TEST(counter_clock_needs_a_rate)
{
	struct dm_ftrace_opts o = {.tsc_hz = 2000000000};
	struct dm_test_text t = {.n = 0};
	struct result r;

	dm_test_text_add(&t, "%s", "  t-1 [000] ..... 1000: " PIT_CW "\n");
	dm_test_text_add(&t, "%s", "  t-1 [000] ..... 3000: " PIT_LSB "\n");
	import_text(t.buf, &r);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_ptr_nonnull(strstr(r.err.msg, "--tsc-hz"));
	import_text_opts(t.buf, &o, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.ev[1].time, 1000); /* 2000 cycles at 2 GHz */
	ck_assert_uint_eq(r.st.tsc_hz, 2000000000);
}
END_TEST

START_TEST(clock_markers_give_the_rate)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	dm_test_text_add(
		&t, "%s",
		"  d-9 [000] ...1. 1000: tracing_mark_write: dmsim-clock "
		"mono_raw_ns=5000000000\n");
	dm_test_text_add(&t, "%s", "  t-1 [000] ..... 300001000: " PIT_CW "\n");
	dm_test_text_add(&t, "%s",
			 "  d-9 [000] ...1. 600001000: tracing_mark_write: "
			 "dmsim-clock mono_raw_ns=5200000000\n");
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.st.tsc_hz, 3000000000ULL);
	ck_assert_uint_eq(r.ev[0].time, 100000000);
}
END_TEST

START_TEST(no_events_is_bad_input)
{
	struct dm_ftrace_opts o = {.encoding = DM_TRACE_TEXT};
	struct result r;
	FILE *f;

	snprintf(r.out, sizeof(r.out), "%s/out.txt", dir);
	f = fopen(r.out, "w");
	ck_assert_ptr_nonnull(f);
	fputs("keep me\n", f);
	fclose(f);
	r.rc = dm_import_ftrace(
		dm_test_write_file(dir, "in.txt", "# tracer: nop\n#\n\n"),
		r.out, &o, &r.st, &r.err);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_ptr_nonnull(strstr(r.err.msg, "no kvm trace events"));
	ck_assert_int_eq(access(r.out, F_OK), 0); /* not ours to remove */
}
END_TEST

START_TEST(string_write_to_a_model_is_refused)
{
	struct dm_test_text t = {.n = 0}, u = {.n = 0};
	struct result r;

	add(&t, 1, 10,
	    "kvm_pio: pio_write at 0x21 size 1 count 2 val 0xff (...)");
	import_text(t.buf, &r);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_ptr_nonnull(strstr(r.err.msg, "in.txt:1:"));
	/* A string read: the first value checked, the rest recorded. */
	add(&u, 1, 10,
	    "kvm_pio: pio_read at 0x21 size 1 count 3 val 0xfe (...)");
	import_text(u.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.n, 3);
	ck_assert(r.ev[0].flags & DM_EV_VALUE);
	ck_assert(!(r.ev[2].flags & DM_EV_VALUE));
}
END_TEST

START_TEST(impossible_mmio_size_is_refused)
{
	struct dm_test_text t = {.n = 0}, u = {.n = 0};
	struct result r;

	add(&t, 1, 10, "kvm_mmio: mmio read len 3 gpa 0xfec00010 val 0x0");
	import_text(t.buf, &r);
	ck_assert_int_eq(r.rc, -1);
	/* Outside the model set it does not matter. */
	add(&u, 1, 10, "kvm_mmio: mmio read len 3 gpa 0xb0000000 val 0x0");
	import_text(u.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.st.unmodelled, 1);
}
END_TEST

START_TEST(tsc_deadline_needs_the_tsc_clock)
{
	struct dm_test_text t = {.n = 0}, u = {.n = 0};
	struct result r;

	add(&t, 1, 10, "kvm_msr: msr_write 6e0 = 0x1234");
	import_text(t.buf, &r);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_ptr_nonnull(strstr(r.err.msg, "x86-tsc"));
	add(&u, 1, 10, "kvm_msr: msr_write 6e0 = 0x0");
	import_text(u.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg); /* disarming needs no clock */
}
END_TEST

START_TEST(faulting_msr_expects_a_gp)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 1, 10, "kvm_msr: msr_read 830 = 0x0 (#GP)");
	add(&t, 1, 11, "kvm_msr: msr_read 1b = 0xfee00900");
	add(&t, 1, 12, "kvm_msr: msr_write 80b = 0x1 (#GP)");
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.st.faulted, 2);
	ck_assert_uint_eq(r.n, 3);
	/* A faulting read read nothing; a faulting write keeps its value. */
	ck_assert_uint_eq(r.ev[0].op, DM_OP_MSR_R);
	ck_assert_uint_eq(r.ev[0].addr, 0x830);
	ck_assert_uint_eq(r.ev[0].flags, DM_EV_GP);
	ck_assert_uint_eq(r.ev[1].addr, 0x1b);
	ck_assert_uint_eq(r.ev[1].flags, DM_EV_VALUE);
	ck_assert_uint_eq(r.ev[2].op, DM_OP_MSR_W);
	ck_assert_uint_eq(r.ev[2].value, 1);
	ck_assert_uint_eq(r.ev[2].flags, DM_EV_VALUE | DM_EV_GP);
}
END_TEST

START_TEST(lost_events_are_marked)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 1, 10, PIT_CW);
	dm_test_text_add(&t, "%s", "CPU:0 [LOST 7 EVENTS]\n");
	add(&t, 1, 11, PIT_LSB);
	dm_test_text_add(&t, "%s", "CPU:1 [LOST EVENTS]\n# dmsim-lost 20\n");
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.n, 5);
	ck_assert_str_eq(r.ev[1].label, "lost-7");
	ck_assert_uint_eq(r.ev[1].time, 0);
	ck_assert_str_eq(r.ev[3].label, "lost-unknown");
	/* The capture counted 20; the lines said 7 and one unknown. */
	ck_assert_str_eq(r.ev[4].label, "lost-12");
	ck_assert_uint_eq(r.st.lost, 20);
}
END_TEST

/* A line with the flags column given: ".N..." is a reschedule pending. */
static void add_flags(struct dm_test_text *t, int tid, int sec,
		      const char *flags, const char *event)
{
	dm_test_text_add(t, "  t-%d [000] %s %d.000000000: %s\n", tid, flags,
			 sec, event);
}

#define SWITCH(from, state, to)                                        \
	"sched_switch: prev_comm=CPU 0/KVM prev_pid=" #from            \
	" prev_prio=120 prev_state=" state " ==> next_comm=CPU 0/KVM " \
	"next_pid=" #to " next_prio=120"
#define HPET_COUNTER_UNSAT \
	"kvm_mmio: mmio unsatisfied-read len 4 gpa 0xfed000f0 val 0x0"
#define MMIO_EXIT "kvm_userspace_exit: reason KVM_EXIT_MMIO (6)"
#define WAKEUP_MAIN \
	"sched_wakeup: comm=qemu-system-x86 pid=100 prio=120 target_cpu=000"

/* QEMU serves an exit only once the vcpu thread is back in userspace with
 * its lock: an access whose exit was logged with a reschedule pending,
 * whose thread then blocked, or which a thread not QEMU's preempted,
 * starts from the switch back to the thread; a write whose thread QEMU's
 * own thread preempted (state R, no reschedule at the exit) was served
 * first, a read so preempted was not necessarily, and a write of an
 * in-kernel device keeps its own time.  A read takes the middle of its
 * window, up to the completion line. */
START_TEST(userspace_access_takes_the_switch_back)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 2, 10, "kvm_set_irq: gsi 4 level 0 source 0"); /* QEMU's */
	add(&t, 1, 10, PIT_CW);
	add(&t, 1, 11, HPET_COUNTER_UNSAT);
	add_flags(&t, 1, 11, ".N...", MMIO_EXIT);
	add(&t, 1, 12, SWITCH(1, "R+", 2));
	add(&t, 2, 13, SWITCH(2, "S", 1));
	add(&t, 1, 14, "kvm_mmio: mmio read len 4 gpa 0xfed000f0 val 0x5");
	add(&t, 1, 15, "kvm_mmio: mmio write len 4 gpa 0xfed00010 val 0x1");
	add(&t, 1, 15, MMIO_EXIT);
	add(&t, 1, 16, SWITCH(1, "S", 2));
	add(&t, 2, 17, SWITCH(2, "S", 1));
	add(&t, 1, 18, "kvm_pio: pio_write at 0x43 size 1 count 1 val 0x0");
	add(&t, 1, 19, HPET_COUNTER_UNSAT);
	add(&t, 1, 19, MMIO_EXIT);
	add(&t, 1, 20, SWITCH(1, "R", 2));
	add(&t, 2, 21, SWITCH(2, "S", 1));
	add(&t, 1, 22, "kvm_mmio: mmio read len 4 gpa 0xfed000f0 val 0x6");
	/* A write QEMU's thread preempts was served first. */
	add(&t, 1, 22, "kvm_mmio: mmio write len 4 gpa 0xfed00010 val 0x0");
	add(&t, 1, 22, MMIO_EXIT);
	add(&t, 1, 23, SWITCH(1, "R", 2));
	add(&t, 2, 24, SWITCH(2, "S", 1));
	add(&t, 1, 25, PIT_CW);
	/* Preempted by a thread not QEMU's (kvm-pit): not served yet. */
	add(&t, 1, 26, HPET_COUNTER_UNSAT);
	add(&t, 1, 26, MMIO_EXIT);
	add(&t, 1, 27, SWITCH(1, "R", 3));
	add(&t, 3, 28, SWITCH(3, "S", 1));
	add(&t, 1, 29, "kvm_mmio: mmio read len 4 gpa 0xfed000f0 val 0x7");
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.n, 8);
	ck_assert_uint_eq(r.st.rescheduled, 4);
	ck_assert_uint_eq(r.ev[1].op, DM_OP_MMIO_R);
	ck_assert_uint_eq(r.ev[1].value, 5);
	/* Switched back at 13, completed at 14: the middle. */
	ck_assert_uint_eq(r.ev[1].time, 3500000000ULL);
	ck_assert_uint_eq(r.ev[2].op, DM_OP_MMIO_W);
	ck_assert_uint_eq(r.ev[2].value, 1);
	ck_assert_uint_eq(r.ev[2].time, 7000000000ULL);
	ck_assert_uint_eq(r.ev[3].addr, 0x43);
	ck_assert_uint_eq(r.ev[3].time, 8000000000ULL);
	/* Switched back at 21, completed at 22. */
	ck_assert_uint_eq(r.ev[4].value, 6);
	ck_assert_uint_eq(r.ev[4].time, 11500000000ULL);
	ck_assert_uint_eq(r.ev[5].op, DM_OP_MMIO_W);
	ck_assert_uint_eq(r.ev[5].value, 0);
	ck_assert_uint_eq(r.ev[5].time, 12000000000ULL);
	ck_assert_uint_eq(r.ev[7].value, 7);
	ck_assert_uint_eq(r.ev[7].time, 18500000000ULL);
	ck_assert_uint_eq(r.st.service_window_ns, 1000000000ULL);
}
END_TEST

/* A vcpu thread that wakes QEMU's main loop (the capture's pid) from its
 * own context after a write's exit is running QEMU's handler of it (an
 * HPET write re-arms QEMU's timers): the write keeps its exit's time even
 * if a thread not QEMU's preempts it next.  A wake-up from an interrupt
 * on that CPU says nothing of the thread: that write waits for the switch
 * back. */
START_TEST(write_that_woke_the_main_loop_was_served)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	dm_test_text_add(&t, "%s",
			 "# dmsim-capture pid=100 clock=mono buffer_kb=8\n");
	add(&t, 1, 10, PIT_CW);
	add(&t, 1, 11, "kvm_mmio: mmio write len 4 gpa 0xfed00010 val 0x3");
	add(&t, 1, 11, MMIO_EXIT);
	add(&t, 1, 12, WAKEUP_MAIN);
	add(&t, 1, 13, SWITCH(1, "R", 3));
	add(&t, 3, 20, SWITCH(3, "S", 1));
	add(&t, 1, 21, "kvm_mmio: mmio write len 4 gpa 0xfed00010 val 0x2");
	add(&t, 1, 21, MMIO_EXIT);
	add_flags(&t, 1, 22, "dNh4.", WAKEUP_MAIN);
	add(&t, 1, 23, SWITCH(1, "R", 3));
	add(&t, 3, 30, SWITCH(3, "S", 1));
	add(&t, 1, 31, PIT_CW);
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.n, 4);
	ck_assert_uint_eq(r.ev[1].op, DM_OP_MMIO_W);
	ck_assert_uint_eq(r.ev[1].value, 3);
	ck_assert_uint_eq(r.ev[1].time, 1000000000ULL);
	ck_assert_uint_eq(r.ev[2].value, 2);
	ck_assert_uint_eq(r.ev[2].time, 20000000000ULL);
	ck_assert_uint_eq(r.st.rescheduled, 1);
}
END_TEST

/* A thread that left the CPU before QEMU served its exit, and logs again
 * with no switch back to it in the trace (switches from an idle CPU to a
 * traced thread go unlogged on this host), ran without a break from its
 * return to that line: the access takes the line's time, not its exit's.
 * Its own switch away is such a line too. */
START_TEST(unlogged_switch_back_takes_the_next_line)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 1, 10, PIT_CW);
	add(&t, 1, 11, HPET_COUNTER_UNSAT);
	add(&t, 1, 11, MMIO_EXIT);
	add(&t, 1, 12, SWITCH(1, "S", 0)); /* blocks; its return unlogged */
	add(&t, 1, 20, "kvm_mmio: mmio read len 4 gpa 0xfed000f0 val 0x5");
	add(&t, 1, 21, "kvm_mmio: mmio write len 4 gpa 0xfed00010 val 0x1");
	add(&t, 1, 21, MMIO_EXIT);
	add(&t, 1, 22, SWITCH(1, "S", 0));
	add(&t, 1, 30, "kvm_pio: pio_write at 0x43 size 1 count 1 val 0x0");
	add(&t, 1, 31, HPET_COUNTER_UNSAT);
	add(&t, 1, 31, MMIO_EXIT);
	add(&t, 1, 32, SWITCH(1, "S", 0));
	add(&t, 1, 34, SWITCH(1, "R", 2)); /* back, then preempted */
	add(&t, 1, 36, "kvm_mmio: mmio read len 4 gpa 0xfed000f0 val 0x6");
	add(&t, 2, 37, "kvm_set_irq: gsi 4 level 0 source 0"); /* QEMU's */
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.n, 5);
	ck_assert_uint_eq(r.st.unlogged_returns, 4);
	ck_assert_uint_eq(r.st.rescheduled, 0);
	ck_assert_uint_eq(r.ev[1].value, 5);
	ck_assert_uint_eq(r.ev[1].time, 10000000000ULL);
	ck_assert_uint_eq(r.ev[2].op, DM_OP_MMIO_W);
	ck_assert_uint_eq(r.ev[2].time, 20000000000ULL);
	ck_assert_uint_eq(r.ev[3].addr, 0x43);
	/* Back by 34, preempted there, back unlogged by 36. */
	ck_assert_uint_eq(r.ev[4].value, 6);
	ck_assert_uint_eq(r.ev[4].time, 26000000000ULL);
}
END_TEST

#define MAIN_SWITCH(state, comm, to)                                          \
	"sched_switch: prev_comm=qemu-system-x86 prev_pid=100 prev_prio=120 " \
	"prev_state=" state " ==> next_comm=" comm " next_pid=" #to           \
	" next_prio=120"

/* r's dev thread events are exactly n, of thread, at at[k] seconds with
 * level[k]. */
static void assert_threads(const struct result *r, uint64_t thread,
			   const uint64_t *at, const uint64_t *level,
			   unsigned n)
{
	unsigned k = 0;

	for (unsigned i = 0; i < r->n; i++) {
		if (r->ev[i].op != DM_OP_THREAD)
			continue;
		ck_assert_uint_lt(k, n);
		ck_assert_uint_eq(r->ev[i].addr, thread);
		ck_assert_uint_eq(r->ev[i].time, at[k] * 1000000000ULL);
		ck_assert_uint_eq(r->ev[i].value, level[k]);
		k++;
	}
	ck_assert_uint_eq(k, n);
}

/* QEMU's main loop thread (the capture's pid) gets dev thread 0 events:
 * 0 when it leaves its CPU, 1 at the switch back, or, when that switch is
 * not in the trace, at its wake-up or else a line of its own.  Not without the
 * capture's pid, nor for a VMM that is not QEMU. */
START_TEST(qemu_main_loop_runs_become_thread_events)
{
	static const char *const lines[] = {
		"  CPU 0/KVM-101 [000] ..... 10.000000000: " PIT_CW "\n",
		"  qemu-system-x86-100 [001] ..... 11.000000000: " MAIN_SWITCH(
			"S", "swapper/1", 0) "\n",
		"  CPU 0/KVM-101 [000] ..... 12.000000000: sched_switch: "
		"prev_comm=CPU 0/KVM prev_pid=101 prev_prio=120 prev_state=R "
		"==> next_comm=qemu-system-x86 next_pid=100 next_prio=120\n",
		"  qemu-system-x86-100 [000] ..... 13.000000000: " MAIN_SWITCH(
			"S", "CPU 0/KVM", 101) "\n",
		"  qemu-system-x86-100 [001] ..... 15.000000000: kvm_set_irq: "
		"gsi 8 level 1 source 0\n",
		"  qemu-system-x86-100 [001] ..... 16.000000000: " MAIN_SWITCH(
			"S", "swapper/1", 0) "\n",
		/* Woken on CPU 1, whose switch from idle is never logged:
		 * it ran from its wake-up. */
		"  <idle>-0 [001] dNh4. 17.000000000: sched_wakeup: "
		"comm=qemu-system-x86 pid=100 prio=120 target_cpu=001\n",
		"  qemu-system-x86-100 [001] ..... 18.000000000: kvm_set_irq: "
		"gsi 8 level 0 source 0\n",
		"  qemu-system-x86-100 [001] ..... 19.000000000: " MAIN_SWITCH(
			"S", "swapper/1", 0) "\n",
		/* Woken, then the switch to it logged: from the switch. */
		"  CPU 0/KVM-101 [000] ..... 20.000000000: sched_wakeup: "
		"comm=qemu-system-x86 pid=100 prio=120 target_cpu=000\n",
		"  CPU 0/KVM-101 [000] ..... 21.000000000: sched_switch: "
		"prev_comm=CPU 0/KVM prev_pid=101 prev_prio=120 prev_state=R "
		"==> next_comm=qemu-system-x86 next_pid=100 next_prio=120\n",
		"  qemu-system-x86-100 [000] ..... 22.000000000: " MAIN_SWITCH(
			"S", "CPU 0/KVM", 101) "\n",
		"  CPU 0/KVM-101 [000] ..... 23.000000000: " PIT_CW "\n",
		/* After the vcpus' last line: no event, and no run counted. */
		"  qemu-system-x86-100 [001] ..... 24.000000000: kvm_set_irq: "
		"gsi 8 level 1 source 0\n",
	};
	static const uint64_t at[] = {1, 2, 3, 5, 6, 7, 9, 11, 12},
			      level[] = {0, 1, 0, 1, 0, 1, 0, 1, 0};
	struct dm_test_text t = {.n = 0};
	struct result r;

	dm_test_text_add(&t, "%s",
			 "# dmsim-capture pid=100 clock=mono buffer_kb=8\n");
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		dm_test_text_add(&t, "%s", lines[i]);
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	assert_threads(&r, 0, at, level, 9);
	ck_assert_uint_eq(r.st.main_loop_runs, 4);
	ck_assert_uint_eq(r.st.main_loop_unlogged, 1);
	ck_assert_uint_eq(r.st.main_loop_woken, 1);

	/* Without the header no thread is known to be the main loop. */
	import_text(strchr(t.buf, '\n') + 1, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	assert_threads(&r, 0, NULL, NULL, 0);
}
END_TEST

/* KVM's PIT worker gets dev thread 1 events where the capture has its
 * wake-ups: 1 at a wake-up, 0 when it sleeps (not when preempted). */
START_TEST(pit_worker_wakeups_become_thread_events)
{
	static const char *const lines[] = {
		"  kvmrun-1 [000] ..... 10.000000000: " PIT_CW "\n",
		"  <idle>-0 [001] dNh4. 11.000000000: sched_wakeup: "
		"comm=kvm-pit/1 pid=5 prio=120 target_cpu=001\n",
		"  kvm-pit/1-5 [001] ..... 12.000000000: kvm_set_irq: gsi 0 "
		"level 1 source 2\n",
		"  kvm-pit/1-5 [001] ..... 12.000000000: kvm_set_irq: gsi 0 "
		"level 0 source 2\n",
		"  kvm-pit/1-5 [001] ..... 13.000000000: sched_switch: "
		"prev_comm=kvm-pit/1 prev_pid=5 prev_prio=120 prev_state=R "
		"==> next_comm=x next_pid=7 next_prio=120\n",
		"  kvm-pit/1-5 [001] ..... 14.000000000: sched_switch: "
		"prev_comm=kvm-pit/1 prev_pid=5 prev_prio=120 prev_state=S "
		"==> next_comm=swapper/1 next_pid=0 next_prio=120\n",
		"  kvmrun-1 [000] ..... 15.000000000: " PIT_CW "\n",
	};
	static const uint64_t at[] = {1, 4}, level[] = {1, 0};
	struct dm_ftrace_opts o = {.encoding = DM_TRACE_TEXT,
				   .pit_irq0_edges = true};
	struct dm_test_text t = {.n = 0};
	struct result r;

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		dm_test_text_add(&t, "%s", lines[i]);
	import_text_opts(t.buf, &o, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	assert_threads(&r, 1, at, level, 2);
	ck_assert_uint_eq(r.st.pit_wakeups, 1);
	ck_assert_ptr_nonnull(find(&r, DM_OP_IRQ, 2000000000ULL));

	/* Without wake-ups, a switch back says nothing of when it woke. */
	t.n = 0;
	t.buf[0] = '\0';
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		if (i != 1)
			dm_test_text_add(&t, "%s", lines[i]);
	import_text_opts(t.buf, &o, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	assert_threads(&r, 0, NULL, NULL, 0);
}
END_TEST

#define RTC_INDEX(v) "kvm_pio: pio_write at 0x70 size 1 count 1 val " v
#define IO_EXIT "kvm_userspace_exit: reason KVM_EXIT_IO (2)"
#define IRQ8_LOWER "kvm_set_irq: gsi 8 level 0 source 0"

/* QEMU's line change on the vcpu's own thread after its exit is QEMU
 * serving that exit (a register B write lowers IRQ8, a Register C read
 * lowers it after taking its value): the access was served by then, even
 * if a thread not QEMU's preempts the thread next. */
START_TEST(line_change_on_the_vcpu_shows_it_served)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 1, 10, RTC_INDEX("0xb"));
	add(&t, 1, 11, "kvm_pio: pio_write at 0x71 size 1 count 1 val 0x42");
	add(&t, 1, 11, IO_EXIT);
	add(&t, 1, 12, IRQ8_LOWER);
	add(&t, 1, 13, SWITCH(1, "R", 3)); /* not QEMU's thread */
	add(&t, 3, 20, SWITCH(3, "S", 1));
	add(&t, 1, 21, RTC_INDEX("0xc"));
	add(&t, 1, 30, IO_EXIT);
	add(&t, 1, 32, IRQ8_LOWER);
	add(&t, 1, 33, SWITCH(1, "R", 3));
	add(&t, 3, 40, SWITCH(3, "S", 1));
	add(&t, 1, 41, "kvm_pio: pio_read at 0x71 size 1 count 1 val 0xc0");
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.n, 4);
	ck_assert_uint_eq(r.st.served_seen, 2);
	ck_assert_uint_eq(r.st.rescheduled, 0);
	ck_assert_uint_eq(r.ev[1].value, 0x42);
	ck_assert_uint_eq(r.ev[1].time, 1000000000ULL);
	/* Exit at 30, served by 32: the middle. */
	ck_assert_uint_eq(r.ev[3].value, 0xc0);
	ck_assert_uint_eq(r.ev[3].time, 21000000000ULL);
}
END_TEST

/* QEMU's HPET raises GSI 0 from its timer callbacks: by default the HPET
 * model's output (skipped), with hpet_irq_edges dev irq events and
 * hpet_irq=off on the machine line. */
START_TEST(hpet_lines_from_the_trace)
{
	struct dm_test_text t = {.n = 0};
	struct dm_ftrace_opts o = {.encoding = DM_TRACE_TEXT};
	struct result r;
	char *out;

	add(&t, 1, 10, "kvm_mmio: mmio write len 4 gpa 0xfed00010 val 0x3");
	add(&t, 2, 11, "kvm_set_irq: gsi 0 level 1 source 0");
	add(&t, 2, 12, "kvm_set_irq: gsi 0 level 0 source 0");
	for (int edges = 0; edges < 2; edges++) {
		o.hpet_irq_edges = edges;
		import_text_opts(t.buf, &o, &r);
		ck_assert_msg(!r.rc, "%s", r.err.msg);
		ck_assert_uint_eq(r.n, edges ? 3 : 1);
		ck_assert_uint_eq(r.st.outputs, edges ? 0 : 2);
		out = dm_test_slurp(r.out);
		ck_assert_int_eq(strstr(out, " hpet_irq=off") != NULL, edges);
		free(out);
	}
	ck_assert_int_eq(r.ev[1].op, DM_OP_IRQ);
	ck_assert_uint_eq(r.ev[1].addr, 0);
	ck_assert_uint_eq(r.ev[1].value, 1);
	ck_assert_uint_eq(r.ev[2].value, 0);
}
END_TEST

START_TEST(incomplete_userspace_read_is_dropped)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 1, 10, PIT_CW);
	add(&t, 1, 11, "kvm_userspace_exit: reason KVM_EXIT_IO (2)");
	add(&t, 1, 12, "kvm_userspace_exit: reason KVM_EXIT_IO (2)");
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.st.incomplete, 1);
	ck_assert_uint_eq(r.n, 1);
}
END_TEST

/* Where KVM traces its injections, an EOI without its MMIO line is the
 * guest's (an APIC-access exit), not a delivery. */
START_TEST(inj_virq_host_keeps_unpaired_eoi_as_a_write)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 1, 10, "kvm_inj_virq: IRQ 0x30");
	add(&t, 1, 11, "kvm_apic: apic_write APIC_EOI = 0x0");
	add(&t, 1, 11, "kvm_eoi: apicid 0 vector 48");
	add(&t, 1, 12, "kvm_pio: pio_read at 0x21 size 1 count 1 val 0x0");
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.n, 3);
	ck_assert(r.ev[0].op == DM_OP_INTACK && r.ev[0].value == 0x30);
	ck_assert(r.ev[1].op == DM_OP_MMIO_W && r.ev[1].addr == 0xfee000b0);
	ck_assert_uint_eq(r.st.eois_by_kvm, 0);
}
END_TEST

START_TEST(capture_vcpu_list_maps_threads)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	dm_test_text_add(&t, "%s", "# dmsim-vcpu 0 tid=7 tsc_offset=0\n");
	dm_test_text_add(&t, "%s", "# dmsim-vcpu 1 tid=5 tsc_offset=0\n");
	add(&t, 5, 10, "kvm_pio: pio_write at 0x21 size 1 count 1 val 0xff");
	add(&t, 7, 11, "kvm_pio: pio_write at 0xa1 size 1 count 1 val 0xff");
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.st.vcpus, 2);
	ck_assert_uint_eq(r.ev[0].cpu, 1);
	ck_assert_uint_eq(r.ev[1].cpu, 0);
}
END_TEST

/* A vcpu that never entered KVM (an AP no firmware started) is listed
 * with thread 0: it counts as a vcpu, and the idle task (thread 0 too)
 * is not taken for it. */
START_TEST(capture_vcpu_list_counts_a_vcpu_that_never_ran)
{
	struct dm_ftrace_opts o = {.encoding = DM_TRACE_TEXT};
	struct dm_test_text t = {.n = 0};
	struct result r;
	char log[4096] = "";
	size_t n;

	o.log = tmpfile();
	ck_assert_ptr_nonnull(o.log);
	dm_test_text_add(&t, "%s", "# dmsim-vcpu 1 tid=0 tsc_offset=0\n");
	dm_test_text_add(&t, "%s", "# dmsim-vcpu 0 tid=7 tsc_offset=0\n");
	add(&t, 7, 10, "kvm_pio: pio_write at 0x21 size 1 count 1 val 0xff");
	add(&t, 0, 11, SWITCH(0, "R", 7));
	add(&t, 7, 12, "kvm_pio: pio_write at 0xa1 size 1 count 1 val 0xff");
	import_text_opts(t.buf, &o, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	rewind(o.log);
	n = fread(log, 1, sizeof(log) - 1, o.log);
	log[n] = 0;
	fclose(o.log);
	ck_assert_uint_eq(r.st.vcpus, 2);
	ck_assert_uint_eq(r.n, 2);
	ck_assert_uint_eq(r.ev[0].cpu, 0);
	ck_assert_uint_eq(r.ev[1].cpu, 0);
	ck_assert_msg(strstr(log, "cpu1 never ran"), "%s", log);
	ck_assert_msg(!strstr(log, "thread 0 is"), "%s", log);
}
END_TEST

/* An access left open (a kvm_apic read whose echo never comes) holds
 * the queue only so long: past its bound it is closed as unpaired. */
START_TEST(open_access_does_not_hold_the_trace_forever)
{
	size_t cap = 80000 * 100;
	char *text = malloc(cap), *p = text;
	struct result r;

	p += sprintf(p, "  t-1 [000] ..... 1.000000000: kvm_apic: apic_read "
			"APIC_TASKPRI = 0x20\n");
	for (int i = 0; i < 70000; i++)
		p += sprintf(p,
			     "  t-2 [001] ..... %d.000000000: kvm_pio: "
			     "pio_read at 0x21 size 1 count 1 val 0x0\n",
			     2 + i);
	ck_assert_uint_lt((size_t)(p - text), cap);
	memset(&r, 0, sizeof(r));
	snprintf(r.out, sizeof(r.out), "%s/out.txt", dir);
	r.rc = dm_import_ftrace(dm_test_write_file(dir, "in.txt", text), r.out,
				&(struct dm_ftrace_opts){.encoding = 0}, &r.st,
				&r.err);
	free(text);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.st.events, 70001);
	{
		struct dm_trace_reader *rd;
		struct dm_event ev;
		struct dm_error err;

		ck_assert(!dm_trace_open(&rd, r.out, &err));
		ck_assert_int_eq(dm_trace_next(rd, &ev, &err), 1);
		ck_assert(ev.op == DM_OP_MMIO_R && ev.addr == 0xfee00080 &&
			  ev.value == 0x20 && ev.time == 0);
		dm_trace_close(rd);
	}
}
END_TEST

#define PIT_RAISE "kvm_set_irq: gsi 0 level 1 source 2"
#define PIT_LOWER "kvm_set_irq: gsi 0 level 0 source 2"
#define PIC_ECHO "kvm_pic_set_irq: chip 0 pin 0 (edge)"
#define IOAPIC_ECHO \
	"kvm_ioapic_set_irq: pin 2 dst 0 vec 48 (Fixed|physical|edge)"
#define IRR_READ "kvm_pio: pio_read at 0x20 size 1 count 1 val 0x0"

static void import_edges(const char *text, struct result *r)
{
	struct dm_ftrace_opts o = {.encoding = DM_TRACE_TEXT,
				   .pit_irq0_edges = true};

	import_text_opts(text, &o, r);
	ck_assert_msg(!r->rc, "%s", r->err.msg);
}

static void assert_irq0(const struct dm_event *e, uint64_t time, uint64_t level)
{
	ck_assert_int_eq(e->op, DM_OP_IRQ);
	ck_assert_uint_eq(e->addr, 0);
	ck_assert_uint_eq(e->time, time);
	ck_assert_uint_eq(e->value, level);
}

/* KVM logs kvm_set_irq before the 8259 changes and kvm_pic_set_irq under
 * its lock after: an IRR read logged between the two read the old IRR. */
START_TEST(pit_edge_takes_its_echo_time)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 2, 10, PIT_RAISE);
	add(&t, 1, 11, IRR_READ);
	add(&t, 2, 12, PIC_ECHO);
	add(&t, 2, 13, IOAPIC_ECHO);
	add(&t, 2, 14, PIT_LOWER);
	add(&t, 2, 15, PIC_ECHO);
	add(&t, 2, 16, IOAPIC_ECHO);
	import_edges(t.buf, &r);
	ck_assert_uint_eq(r.n, 3);
	ck_assert_int_eq(r.ev[0].op, DM_OP_PIO_R);
	ck_assert_uint_eq(r.ev[0].time, 1000000000);
	assert_irq0(&r.ev[1], 2000000000, 1);
	assert_irq0(&r.ev[2], 5000000000, 0);
	ck_assert_uint_eq(r.st.pit_edges, 2);
	ck_assert_uint_eq(r.st.outputs, 4);
}
END_TEST

/* Without echo events in the capture an edge keeps its own line's time;
 * an edge whose echo the ring buffer lost is written before the mark. */
/* KVM frees its PIT with reinject off before it cancels the PIT's timer:
 * an edge of the kvm-pit thread after the vcpus' last event and before
 * that thread's exit (the VM's teardown) is skipped and counted; without
 * the exit in the capture (the VM lives on) it stays. */
START_TEST(pit_edges_of_the_teardown_are_skipped)
{
	static const char *exit_line =
		"sched_switch: prev_comm=kvm-pit/1 prev_pid=2 prev_prio=120 "
		"prev_state=X ==> next_comm=kvmrun next_pid=1 next_prio=120";
	struct dm_test_text t = {.n = 0};
	struct result r;

	for (int teardown = 0; teardown < 2; teardown++) {
		t.n = 0;
		add(&t, 2, 10, PIT_RAISE);
		add(&t, 2, 10, PIT_LOWER);
		add(&t, 1, 11, IRR_READ);
		add(&t, 2, 12, PIT_RAISE);
		add(&t, 2, 12, PIT_LOWER);
		if (teardown)
			add(&t, 2, 13, exit_line);
		import_edges(t.buf, &r);
		ck_assert_msg(!r.rc, "%s", r.err.msg);
		ck_assert_uint_eq(r.st.pit_teardown, teardown ? 2 : 0);
		ck_assert_uint_eq(r.n, teardown ? 3 : 5);
		assert_irq0(&r.ev[0], 0, 1);
		assert_irq0(&r.ev[1], 0, 0);
		ck_assert_int_eq(r.ev[2].op, DM_OP_PIO_R);
	}
}
END_TEST

START_TEST(pit_edge_without_echo)
{
	struct dm_test_text t = {.n = 0}, u = {.n = 0};
	struct result r;

	add(&t, 2, 10, PIT_RAISE);
	add(&t, 1, 11, IRR_READ);
	add(&t, 2, 12, PIT_LOWER);
	import_edges(t.buf, &r);
	ck_assert_uint_eq(r.n, 3);
	assert_irq0(&r.ev[0], 0, 1);
	ck_assert_int_eq(r.ev[1].op, DM_OP_PIO_R);
	assert_irq0(&r.ev[2], 2000000000, 0);

	add(&u, 2, 10, PIT_RAISE);
	dm_test_text_add(&u, "%s", "CPU:0 [LOST 3 EVENTS]\n");
	add(&u, 1, 11, IRR_READ);
	add(&u, 2, 12, PIT_LOWER);
	add(&u, 2, 13, PIC_ECHO);
	import_edges(u.buf, &r);
	ck_assert_uint_eq(r.n, 4);
	assert_irq0(&r.ev[0], 0, 1);
	ck_assert_int_eq(r.ev[1].op, DM_OP_MARK);
	ck_assert_int_eq(r.ev[2].op, DM_OP_PIO_R);
	assert_irq0(&r.ev[3], 3000000000, 0);
}
END_TEST

/* A second raise before the first one's echo (an echo lost, or a chip
 * the line does not reach) writes the first at its own time. */
START_TEST(pit_edge_without_its_echo_is_not_held)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 2, 10, PIT_RAISE);
	add(&t, 2, 11, PIT_LOWER);
	add(&t, 2, 12, PIC_ECHO);
	add(&t, 2, 13, PIT_RAISE);
	import_edges(t.buf, &r);
	ck_assert_uint_eq(r.n, 3);
	assert_irq0(&r.ev[0], 0, 1);
	assert_irq0(&r.ev[1], 2000000000, 0);
	assert_irq0(&r.ev[2], 3000000000, 1);
}
END_TEST

/* KVM ORs the levels of a GSI's sources: userspace lines taken as inputs
 * (--model-gsi none) share GSI 0 with the PIT's edges, and a userspace
 * lower while the PIT holds the line high is no lower of the line. */
START_TEST(pit_and_userspace_share_gsi_0)
{
	struct dm_ftrace_opts o = {.encoding = DM_TRACE_TEXT,
				   .pit_irq0_edges = true,
				   .model_gsis_given = true};
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 2, 10, PIT_RAISE);
	add(&t, 3, 11, "kvm_set_irq: gsi 0 level 0 source 0");
	add(&t, 2, 12, PIC_ECHO);
	add(&t, 3, 13, "kvm_set_irq: gsi 0 level 1 source 0");
	add(&t, 2, 14, PIT_LOWER);
	add(&t, 3, 15, "kvm_set_irq: gsi 0 level 0 source 0");
	import_text_opts(t.buf, &o, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.n, 2);
	assert_irq0(&r.ev[0], 2000000000, 1);
	assert_irq0(&r.ev[1], 5000000000, 0);
	ck_assert_uint_eq(r.st.noop_lowers, 1);
	ck_assert_uint_eq(r.st.shared, 2);
}
END_TEST

/* ---- the RTC's time at virtual time 0 -------------------------------- */

static uint64_t ts_is_ns(const void *ctx, uint64_t ts)
{
	(void)ctx;
	return ts;
}

#define MS 1000000ULL

/* A guest's CMOS access: the index written, then the byte read (or
 * written). */
struct cmos_rd {
	uint64_t ms;
	uint8_t index, value;
	bool write;
};

static void feed(struct dm_import_rtc *r, const struct cmos_rd *rd, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		dm_import_rtc_access(r, rd[i].ms * MS, 0x70, true, rd[i].index);
		dm_import_rtc_access(r, rd[i].ms * MS, 0x71, rd[i].write,
				     rd[i].value);
	}
}

/* What dm_import_rtc_epoch makes of the reads, with wall clock R0 (ns,
 * 0: none): found, and where found, the time of 2024-02-29 13:14:15.8
 * less 1 ns, the middle of [.7, .9) s. */
static int rtc_at0_is_800ms(const struct dm_import_rtc *r, uint64_t r0)
{
	struct dm_import_rtc_at0 at =
		dm_import_rtc_epoch(r, ts_is_ns, NULL, r0);

	ck_assert_int_eq(at.wall_clock, r0 != 0);
	if (at.found) {
		ck_assert_uint_eq(at.sec, 1709212455);
		ck_assert_uint_eq(at.ns, 800 * MS - 1);
		ck_assert_uint_eq(at.width_ns, 200 * MS);
	}
	ck_assert_uint_eq(at.misfits, at.found < 0);
	return at.found;
}

/* Without a wall clock, the first time of day read (with the date read)
 * places the second; the seconds read later narrow it: 13:14:15 read at
 * 100 ms and :16 at 300 ms put X in [.7, .9) s.  A read no instant fits
 * is counted and outvoted; once the guest sets the clock its reads tell
 * nothing; with no read nothing dates it. */
START_TEST(rtc_dated_by_the_guests_reads)
{
	static const struct cmos_rd reads[] = {
		{50, 0x07, 0x29},  {50, 0x08, 0x02},  {50, 0x09, 0x24},
		{100, 0x00, 0x15}, {100, 0x02, 0x14}, {100, 0x04, 0x13},
		{300, 0x00, 0x16}, {400, 0x00, 0x20}, {500, 0x00, 0x00, true},
		{600, 0x00, 0x45},
	};
	struct dm_import_rtc *r = malloc(sizeof(*r));

	dm_import_rtc_init(r);
	ck_assert_int_eq(rtc_at0_is_800ms(r, 0), 0);
	feed(r, reads, 7);
	ck_assert_int_eq(rtc_at0_is_800ms(r, 0), 1);
	feed(r, reads + 7, 3);
	ck_assert_int_eq(rtc_at0_is_800ms(r, 0), -1);
	ck_assert_uint_eq(dm_import_rtc_epoch(r, ts_is_ns, NULL, 0).reads, 3);
	free(r);
}
END_TEST

/* With the capture's wall clock R0 (QEMU's RTC started, Register C clear,
 * in the second before it), Register C's UF dates the phase: clear at
 * 100 ms, set at 500 ms, so the RTC's second began 0.5-0.9 s before
 * time 0; the seconds read at 300 ms (:16) leaves [55.7, 55.9).  UF again
 * 100 ms after the read that cleared it fits no instant. */
START_TEST(rtc_dated_by_the_wall_clock_and_uf)
{
	static const struct cmos_rd reads[] = {
		{100, 0x0c, 0x00},
		{300, 0x00, 0x16},
		{500, 0x0c, 0x10},
		{600, 0x0c, 0x10},
	};
	struct dm_import_rtc *r = malloc(sizeof(*r));

	dm_import_rtc_init(r);
	feed(r, reads, 3);
	ck_assert_int_eq(rtc_at0_is_800ms(r, 1709212456200 * MS), 1);
	feed(r, reads + 3, 1);
	ck_assert_int_eq(rtc_at0_is_800ms(r, 1709212456200 * MS), -1);
	free(r);
}
END_TEST

/*
 * With silence_ns, a silence of the host (no line of any CPU) of at least
 * that long begun at a vcpu's line KVM logged in the kernel becomes sim
 * mark host-silent-LEN at its far end, right after that line's event.
 * Not after an exit (QEMU was running, which logs nothing), nor after a
 * switch away (the vcpu halted or was preempted), nor after a line that
 * gave no event (an MSR the models lack: the vcpu ran past the event
 * before it), nor when shorter, nor without the option.
 */
START_TEST(silences_of_the_host_are_marked)
{
	struct dm_ftrace_opts o = {.encoding = DM_TRACE_TEXT,
				   .silence_ns = 1500000000,
				   .window_ns = 1500000000};
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 1, 10, PIT_CW);
	add(&t, 1, 12, PIT_LSB); /* 2 s after a line in the kernel */
	add(&t, 1, 13, SWITCH(1, "S", 0));
	add(&t, 1, 15, PIT_LSB); /* 2 s after a switch away */
	add(&t, 1, 16, PIT_LSB); /* 1 s after a line in the kernel */
	add(&t, 1, 17, HPET_COUNTER_UNSAT);
	add(&t, 1, 17, MMIO_EXIT);
	add(&t, 1, 20, "kvm_mmio: mmio read len 4 gpa 0xfed000f0 val 0x5");
	add(&t, 1, 22, PIT_LSB); /* 2 s after the completion, in the kernel */
	add(&t, 1, 22, "kvm_msr: msr_write 10 = 0x1");
	add(&t, 1, 24, PIT_LSB); /* 2 s after a line with no event */
	import_text_opts(t.buf, &o, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.st.silences, 2);
	ck_assert_uint_eq(r.n, 10);
	ck_assert_uint_eq(r.ev[0].addr, 0x43);
	ck_assert_uint_eq(r.ev[1].op, DM_OP_MARK);
	ck_assert_str_eq(r.ev[1].label, "host-silent-2000000000");
	ck_assert_uint_eq(r.ev[1].time, 2000000000ULL);
	ck_assert_uint_eq(r.ev[2].time, 2000000000ULL);
	ck_assert_uint_eq(r.ev[3].time, 5000000000ULL);
	ck_assert_uint_eq(r.ev[4].time, 6000000000ULL);
	/* The read's silent window (served_reads_mark_their_windows). */
	ck_assert_str_eq(r.ev[5].label, "qemu-window-0-3000000000");
	ck_assert_uint_eq(r.ev[6].value, 5); /* the middle of 17..20 */
	ck_assert_uint_eq(r.ev[7].op, DM_OP_MARK);
	ck_assert_str_eq(r.ev[7].label, "host-silent-2000000000");
	ck_assert_uint_eq(r.ev[7].time, 12000000000ULL);
	ck_assert_uint_eq(r.ev[8].time, 12000000000ULL);
	ck_assert_uint_eq(r.ev[9].op, DM_OP_PIO_W);
	ck_assert_uint_eq(r.ev[9].time, 14000000000ULL);
	o.silence_ns = o.window_ns = 0;
	import_text_opts(t.buf, &o, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.st.silences, 0);
	ck_assert_uint_eq(r.n, 7);
}
END_TEST

/*
 * With window_ns, a read QEMU served whose window, from its exit to its
 * completion, the read's place may not reach gets sim mark
 * qemu-window-V-LEN at the exit, before the read and whatever lies
 * between: a window whose exit no CPU followed with a line for window_ns
 * (whether the completion or another line ended that silence), and one
 * whose read moved to the switch back (a thread not QEMU's preempted it).
 * Not a window whose exit a line soon followed (a wake-up of another
 * task), nor without the option.
 */
START_TEST(served_reads_mark_their_windows)
{
	struct dm_ftrace_opts o = {.encoding = DM_TRACE_TEXT,
				   .window_ns = 1500000000};
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 1, 10, PIT_CW);
	add(&t, 1, 11, HPET_COUNTER_UNSAT);
	add(&t, 1, 11, MMIO_EXIT);
	add(&t, 1, 14, "kvm_mmio: mmio read len 4 gpa 0xfed000f0 val 0x5");
	add(&t, 1, 15, HPET_COUNTER_UNSAT);
	add(&t, 1, 15, MMIO_EXIT);
	add(&t, 3, 16, "sched_wakeup: comm=foo pid=99 prio=120 target_cpu=000");
	add(&t, 1, 18, "kvm_mmio: mmio read len 4 gpa 0xfed000f0 val 0x6");
	add(&t, 1, 19, HPET_COUNTER_UNSAT);
	add(&t, 1, 19, MMIO_EXIT);
	add(&t, 1, 20, "kvm_mmio: mmio read len 4 gpa 0xfed000f0 val 0x7");
	add(&t, 1, 21, HPET_COUNTER_UNSAT);
	add(&t, 1, 21, MMIO_EXIT);
	add(&t, 1, 22, SWITCH(1, "R", 3));
	add(&t, 2, 22, "kvm_set_irq: gsi 4 level 1 source 0"); /* QEMU's */
	add(&t, 3, 23, SWITCH(3, "S", 1));
	add(&t, 1, 24, "kvm_mmio: mmio read len 4 gpa 0xfed000f0 val 0x8");
	add(&t, 1, 25, HPET_COUNTER_UNSAT);
	add(&t, 1, 25, MMIO_EXIT);
	add(&t, 3, 27, "sched_wakeup: comm=foo pid=99 prio=120 target_cpu=000");
	add(&t, 1, 28, "kvm_mmio: mmio read len 4 gpa 0xfed000f0 val 0x9");
	import_text_opts(t.buf, &o, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.st.windows, 3);
	ck_assert_uint_eq(r.n, 10);
	ck_assert_uint_eq(r.ev[1].op, DM_OP_MARK);
	ck_assert_str_eq(r.ev[1].label, "qemu-window-0-3000000000");
	ck_assert_uint_eq(r.ev[1].time, 1000000000ULL);
	ck_assert_uint_eq(r.ev[2].value, 5);
	ck_assert_uint_eq(r.ev[2].time, 2500000000ULL); /* the middle */
	ck_assert_uint_eq(r.ev[3].value, 6);
	ck_assert_uint_eq(r.ev[4].value, 7);
	ck_assert_uint_eq(r.ev[5].op, DM_OP_MARK);
	ck_assert_str_eq(r.ev[5].label, "qemu-window-0-3000000000");
	ck_assert_uint_eq(r.ev[5].time, 11000000000ULL);
	ck_assert_uint_eq(r.ev[6].op, DM_OP_IRQ);
	ck_assert_uint_eq(r.ev[7].op, DM_OP_MMIO_R);
	ck_assert_uint_eq(r.ev[7].value, 8);
	ck_assert_uint_eq(r.ev[7].time, 13500000000ULL); /* 23..24 */
	/* 2 s of silence after the exit, then a wake-up, then the read. */
	ck_assert_uint_eq(r.ev[8].op, DM_OP_MARK);
	ck_assert_str_eq(r.ev[8].label, "qemu-window-0-3000000000");
	ck_assert_uint_eq(r.ev[8].time, 15000000000ULL);
	ck_assert_uint_eq(r.ev[9].value, 9);
	ck_assert_uint_eq(r.ev[9].time, 16500000000ULL); /* the middle */
	o.window_ns = 0;
	import_text_opts(t.buf, &o, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.st.windows, 0);
	ck_assert_uint_eq(r.n, 7);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("import_ftrace");
	TCase *tc = tcase_create("import_ftrace");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, probe_matches_expected_conversion);
	tcase_add_test(tc, probe_deliveries_become_intacks);
	tcase_add_test(tc, probe_userspace_and_msrs);
	tcase_add_test(tc, probe_pit_edges_from_the_trace);
	tcase_add_test(tc, off_matches_expected_conversion);
	tcase_add_test(tc, off_intacks_at_the_injecting_exit);
	tcase_add_test(tc, pit_and_userspace_share_gsi_0);
	tcase_add_test(tc, report_matches_expected_conversion);
	tcase_add_test(tc, truncated_relevant_line_names_it);
	tcase_add_test(tc, truncated_last_line_is_skipped);
	tcase_add_test(tc, garbage_line_names_it);
	tcase_add_test(tc, unsupported_kernel_format_names_the_line);
	tcase_add_test(tc, unknown_events_are_counted);
	tcase_add_test(tc, interleaved_cpus_are_clamped);
	tcase_add_test(tc, two_clocks_are_refused);
	tcase_add_test(tc, counter_clock_needs_a_rate);
	tcase_add_test(tc, clock_markers_give_the_rate);
	tcase_add_test(tc, no_events_is_bad_input);
	tcase_add_test(tc, string_write_to_a_model_is_refused);
	tcase_add_test(tc, impossible_mmio_size_is_refused);
	tcase_add_test(tc, tsc_deadline_needs_the_tsc_clock);
	tcase_add_test(tc, faulting_msr_expects_a_gp);
	tcase_add_test(tc, lost_events_are_marked);
	tcase_add_test(tc, incomplete_userspace_read_is_dropped);
	tcase_add_test(tc, userspace_access_takes_the_switch_back);
	tcase_add_test(tc, write_that_woke_the_main_loop_was_served);
	tcase_add_test(tc, unlogged_switch_back_takes_the_next_line);
	tcase_add_test(tc, qemu_main_loop_runs_become_thread_events);
	tcase_add_test(tc, pit_worker_wakeups_become_thread_events);
	tcase_add_test(tc, line_change_on_the_vcpu_shows_it_served);
	tcase_add_test(tc, hpet_lines_from_the_trace);
	tcase_add_test(tc, rtc_dated_by_the_guests_reads);
	tcase_add_test(tc, rtc_dated_by_the_wall_clock_and_uf);
	tcase_add_test(tc, inj_virq_host_keeps_unpaired_eoi_as_a_write);
	tcase_add_test(tc, capture_vcpu_list_maps_threads);
	tcase_add_test(tc, capture_vcpu_list_counts_a_vcpu_that_never_ran);
	tcase_add_test(tc, open_access_does_not_hold_the_trace_forever);
	tcase_add_test(tc, pit_edge_takes_its_echo_time);
	tcase_add_test(tc, pit_edge_without_echo);
	tcase_add_test(tc, pit_edges_of_the_teardown_are_skipped);
	tcase_add_test(tc, pit_edge_without_its_echo_is_not_held);
	tcase_add_test(tc, silences_of_the_host_are_marked);
	tcase_add_test(tc, served_reads_mark_their_windows);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return dm_test_main(suite());
}
