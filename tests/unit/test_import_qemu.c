// SPDX-License-Identifier: MIT
/*
 * The QEMU log importer on three real logs of QEMU 7.2 with
 * kernel-irqchip=off (tests/traces/qemu_*.log: the probe guest on KVM,
 * SeaBIOS on a q35 machine on KVM, SeaBIOS on TCG with -d int), against
 * their expected conversions (*.expect), and on small hand-written logs
 * for every rule and every kind of bad input (docs/importers.md, "QEMU
 * logs").  Expected times are (timestamp - the VM's start) in ns,
 * computed here from the lines, not taken from the importer.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/testutil.h"
#include "traces/import.h"

#define MAX_EVENTS 256

static char dir[64];

struct result {
	int rc;
	struct dm_qemu_stats st;
	struct dm_error err;
	struct dm_event ev[MAX_EVENTS];
	unsigned n;
	char config[256];
	char out[512];
};

static void setup(void)
{
	dm_test_mkdtemp(dir, "/tmp/dmsim-qemu-XXXXXX");
}

static void teardown(void)
{
	dm_test_rmdir(dir);
}

static void import_opts(const char *in, const struct dm_qemu_opts *o,
			struct result *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->out, sizeof(r->out), "%s/out.txt", dir);
	unlink(r->out);
	r->rc = dm_import_qemu(in, r->out, o, &r->st, &r->err);
	if (!r->rc)
		r->n = dm_test_read_trace(r->out, r->ev, MAX_EVENTS, r->config,
					  sizeof(r->config));
}

static void import(const char *in, struct result *r)
{
	import_opts(in, &(struct dm_qemu_opts){.encoding = DM_TRACE_TEXT}, r);
}

static void expect_file(const struct result *r, const char *name)
{
	dm_test_assert_file_is(r->out, name);
}

static const struct dm_event *find(const struct result *r, enum dm_op op,
				   uint64_t time)
{
	return dm_test_find_event(r->ev, r->n, op, time);
}

static unsigned count(const struct result *r, enum dm_op op)
{
	unsigned n = 0;

	for (unsigned i = 0; i < r->n; i++)
		n += r->ev[i].op == op;
	return n;
}

/* ---- the probe guest on KVM ------------------------------------------ */

#define PROBE_T0_US 1795248207589902ULL /* its runstate_set running line */

static uint64_t probe_ns(uint64_t us)
{
	return (us - PROBE_T0_US) * 1000;
}

START_TEST(probe_matches_expected_conversion)
{
	struct result r;

	import(dm_test_trace_path("qemu_probe.log"), &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	expect_file(&r, "qemu_probe.expect");
	ck_assert_str_eq(
		r.config,
		"profile=qemu vcpus=1 chipset=pc rtc_epoch=1795248207");
	ck_assert_uint_eq(r.st.vcpus, 1);
	ck_assert_uint_eq(r.n, r.st.events);
	/* Accesses to 'io' (unassigned ports 0xf5, 0xf6, 0xf8). */
	ck_assert_uint_eq(r.st.unmodelled, 3);
	ck_assert_uint_eq(r.st.other, 0);
	ck_assert_uint_eq(r.st.clamped, 0);
}
END_TEST

/* The 8259's INTA carries the vector; the KVM_INTERRUPT ioctl after it is
 * its echo; a lone KVM_INTERRUPT took a LAPIC vector the log omits. */
START_TEST(probe_interrupts)
{
	struct result r;
	const struct dm_event *e;

	import(dm_test_trace_path("qemu_probe.log"), &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	e = find(&r, DM_OP_INTACK, probe_ns(1795248207604618ULL));
	ck_assert(e->flags & DM_EV_VALUE);
	ck_assert_uint_eq(e->value, 0x20);
	e = find(&r, DM_OP_INTACK, probe_ns(1795248207614621ULL));
	ck_assert(!(e->flags & DM_EV_VALUE));
	ck_assert_uint_eq(r.st.intacks, 2);
	ck_assert_uint_eq(r.st.unchecked_intacks, 1);
	/* The IOAPIC's messages (the reset one, vector 0x30) are outputs. */
	ck_assert_uint_eq(count(&r, DM_OP_MSI), 0);
	ck_assert_uint_eq(count(&r, DM_OP_IRQ), 0);
}
END_TEST

START_TEST(probe_values_are_cut_to_the_access_size)
{
	struct result r;
	const struct dm_event *e;

	import(dm_test_trace_path("qemu_probe.log"), &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	/* QEMU's HPET returns all 64 bits of the capabilities; the memory
	 * core logs them before it keeps the low 4 bytes. */
	e = find(&r, DM_OP_MMIO_R, probe_ns(1795248207622226ULL));
	ck_assert_uint_eq(e->addr, 0xfed00000);
	ck_assert_uint_eq(e->size, 4);
	ck_assert_uint_eq(e->value, 0x8086a201);
}
END_TEST

/* ---- SeaBIOS on q35 (KVM), with the device events as echoes --------- */

START_TEST(seabios_q35_matches_expected_conversion)
{
	struct result r;
	const struct dm_event *e;

	import(dm_test_trace_path("qemu_seabios_q35.log"), &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	expect_file(&r, "qemu_seabios_q35.expect");
	ck_assert_str_eq(r.config, "profile=qemu vcpus=1 chipset=q35 "
				   "rtc_epoch=1795248105");
	/* CMOS 0x0f, 0x38, 0x3d, 0x38, 0x5f x2, 0x32, 0x10: QEMU's board
	 * set them; the guest had not written them. */
	ck_assert_uint_eq(r.st.cmos_unknown, 8);
	e = find(&r, DM_OP_INTACK,
		 (1795248106432029ULL - 1795248105197249ULL) * 1000);
	ck_assert_uint_eq(e->value, 0x8);
	ck_assert_uint_eq(r.st.intacks, 1);
	ck_assert_uint_eq(r.st.unchecked_intacks, 0);
	/* i8042 lowers of lines already low. */
	ck_assert_uint_eq(r.st.noop_lowers, 4);
}
END_TEST

/* ---- SeaBIOS on TCG with -d int ------------------------------------- */

START_TEST(tcg_matches_expected_conversion)
{
	struct result r;

	import_opts(dm_test_trace_path("qemu_tcg.log"),
		    &(struct dm_qemu_opts){.encoding = DM_TRACE_TEXT,
					   .pit_irq0_edges = true},
		    &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	expect_file(&r, "qemu_tcg.expect");
	ck_assert_str_eq(r.config, "profile=qemu vcpus=1 chipset=pc "
				   "rtc_epoch=1795248143 pmbase=0x600 "
				   "pit_irq0=off");
	/* Three INTAs, each followed by its "Servicing" line. */
	ck_assert_uint_eq(r.st.intacks, 3);
	ck_assert_uint_eq(r.st.unchecked_intacks, 0);
	/* The SMM entry's register dump. */
	ck_assert_uint_eq(r.st.other, 19);
	ck_assert_uint_eq(r.st.dev_irqs, r.st.pit_edges);
	ck_assert_uint_eq(r.st.dev_irqs, count(&r, DM_OP_IRQ));
}
END_TEST

/* The PIIX3's PIRQ routing rewrite sets every ISA line, IRQ0 too: without
 * --pit-irq0 trace those lines are the PIT's, and skipped. */
START_TEST(tcg_without_pit_edges)
{
	struct result r;

	import(dm_test_trace_path("qemu_tcg.log"), &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_ptr_null(strstr(r.config, "pit_irq0"));
	ck_assert_uint_eq(r.st.dev_irqs, 0);
	ck_assert_uint_eq(r.st.intacks, 3);
}
END_TEST

/* ---- small inputs ------------------------------------------------------ */

/* Appends a line of thread tid at us microseconds past second 1000. */
static void add(struct dm_test_text *t, int tid, unsigned us, const char *event)
{
	dm_test_text_add(t, "%d@1000.%06u:%s\n", tid, us, event);
}

static void import_text(const char *text, struct result *r)
{
	import(dm_test_write_file(dir, "in.log", text), r);
}

#define START                                                       \
	"runstate_set current_run_state 6 (prelaunch) new_state 9 " \
	"(running)"
#define MR_W(cpu, addr, val, size)                                 \
	"memory_region_ops_write cpu " cpu " mr 0x55d0 addr " addr \
	" value " val " size " size " name 'x'"
#define MR_R(cpu, addr, val, size)                                \
	"memory_region_ops_read cpu " cpu " mr 0x55d0 addr " addr \
	" value " val " size " size " name 'x'"

START_TEST(time_is_the_vms_running_time)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 1, 0, "x86_gsi_interrupt GSI interrupt #5 level:1");
	add(&t, 1, 100, START);
	add(&t, 2, 150, MR_W("0", "0x43", "0x34", "1"));
	add(&t, 1, 200,
	    "runstate_set current_run_state 9 (running) "
	    "new_state 4 (paused)");
	add(&t, 1, 900,
	    "runstate_set current_run_state 4 (paused) "
	    "new_state 9 (running)");
	add(&t, 2, 950, MR_W("0", "0x40", "0x0", "1"));
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.n, 3);
	/* Before the start the virtual clock stands at 0. */
	ck_assert(r.ev[0].op == DM_OP_IRQ && r.ev[0].time == 0);
	ck_assert_uint_eq(r.ev[1].time, 50000);
	/* 100 us ran before the pause, 50 after it. */
	ck_assert_uint_eq(r.ev[2].time, 150000);
	ck_assert_ptr_nonnull(strstr(r.config, "rtc_epoch=1000"));
}
END_TEST

START_TEST(without_runstate_time_starts_at_the_first_line)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 2, 10, MR_W("0", "0x43", "0x34", "1"));
	add(&t, 2, 25, MR_W("0", "0x40", "0x0", "1"));
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.ev[0].time, 0);
	ck_assert_uint_eq(r.ev[1].time, 15000);
}
END_TEST

/* Ports below 0x10000, the IOAPIC, the HPET and the LAPIC page are the
 * model set; a non-vcpu access (cpu -1) is not the guest's. */
START_TEST(model_set_and_sizes)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 2, 1, MR_W("0", "0x80", "0x1", "1"));
	add(&t, 2, 2, MR_R("0", "0x61", "0xffffffffffffff20", "1"));
	add(&t, 2, 3, MR_R("1", "0xfec00010", "0x170020", "4"));
	add(&t, 2, 4, MR_R("0", "0xfed000f0", "0x123456789", "8"));
	add(&t, 2, 5, MR_R("-1", "0x40", "0x3", "1"));
	add(&t, 2, 6, MR_R("0", "0xfee01020", "0x0", "4"));
	add(&t, 2, 7, MR_R("0", "0xb008", "0x1234", "4"));
	/* Older QEMUs print no region name. */
	add(&t, 2, 8,
	    "memory_region_ops_write cpu 0 mr 0x55d0 addr 0x21 value 0xfb "
	    "size 1");
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.n, 5);
	ck_assert(r.ev[4].op == DM_OP_PIO_W && r.ev[4].addr == 0x21 &&
		  r.ev[4].value == 0xfb);
	ck_assert(r.ev[0].op == DM_OP_PIO_R && r.ev[0].addr == 0x61 &&
		  r.ev[0].value == 0x20 && r.ev[0].size == 1);
	ck_assert(r.ev[1].op == DM_OP_MMIO_R && r.ev[1].cpu == 1);
	ck_assert(r.ev[2].size == 8 && r.ev[2].value == 0x123456789ULL);
	/* pc's PM block is at 0xb000 unless the log places it. */
	ck_assert(r.ev[3].op == DM_OP_PIO_R && r.ev[3].addr == 0xb008);
	ck_assert_uint_eq(r.st.unmodelled, 2);
	ck_assert_uint_eq(r.st.not_vcpu, 1);
	ck_assert_uint_eq(r.st.vcpus, 2);
}
END_TEST

/* An IOAPIC message matches an RTE the guest wrote (QEMU's
 * ioapic_entry_parse); any other write to the MSI window is a device's. */
START_TEST(ioapic_messages_and_device_msis)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 2, 1, MR_W("0", "0xfec00000", "0x20", "4"));
	/* RTE 8: vector 0x41, lowest priority, logical, level. */
	add(&t, 2, 2, MR_W("0", "0xfec00010", "0xa941", "4"));
	add(&t, 2, 3, MR_W("0", "0xfec00000", "0x21", "4"));
	add(&t, 2, 4, MR_W("0", "0xfec00010", "0x3000000", "4"));
	add(&t, 1, 5, MR_W("-1", "0xfee03004", "0x8141", "4"));
	add(&t, 1, 6, MR_W("-1", "0xfee03004", "0x4142", "4"));
	add(&t, 2, 7, MR_W("0", "0xfee00000", "0x51", "4"));
	add(&t, 1, 8, MR_W("-1", "0xfee000b0", "0x0", "4"));
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.n, 6);
	ck_assert(r.ev[4].op == DM_OP_MSI && r.ev[4].actor == DM_ACTOR_DEV &&
		  r.ev[4].addr == 0xfee03004 && r.ev[4].value == 0x4142 &&
		  r.ev[4].size == 4);
	/* A vcpu's write at register index 0 is an MSI for QEMU too. */
	ck_assert(r.ev[5].op == DM_OP_MSI && r.ev[5].value == 0x51);
	ck_assert_uint_eq(r.st.outputs, 1);
	ck_assert_uint_eq(r.st.not_vcpu, 1);
}
END_TEST

START_TEST(lines_and_model_gsis)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 1, 1, "x86_gsi_interrupt GSI interrupt #0 level:1");
	add(&t, 1, 2, "x86_gsi_interrupt GSI interrupt #8 level:1");
	add(&t, 1, 3, "x86_gsi_interrupt GSI interrupt #11 level:0");
	add(&t, 1, 4, "x86_gsi_interrupt GSI interrupt #11 level:1");
	add(&t, 1, 5, "x86_gsi_interrupt GSI interrupt #11 level:0");
	add(&t, 1, 6, "x86_gsi_interrupt GSI interrupt #11 level:0");
	/* HPET timer 1: interrupts enabled, routed to GSI 20. */
	add(&t, 2, 7, MR_W("0", "0xfed00120", "0x2804", "4"));
	add(&t, 1, 8, "x86_gsi_interrupt GSI interrupt #20 level:1");
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.st.dev_irqs, 2);
	ck_assert(r.ev[0].op == DM_OP_IRQ && r.ev[0].addr == 11 &&
		  r.ev[0].value == 1 && r.ev[1].value == 0);
	ck_assert_uint_eq(r.st.noop_lowers, 2);
	ck_assert_uint_eq(r.st.outputs, 3);

	/* --model-gsi none: every line is an input. */
	import_opts(dm_test_write_file(dir, "in.log", t.buf),
		    &(struct dm_qemu_opts){.encoding = DM_TRACE_TEXT,
					   .model_gsis_given = true},
		    &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.st.dev_irqs, 5);
}
END_TEST

/* With --pit-irq0 trace, GSI 0 is an input until the HPET takes IRQ0. */
START_TEST(pit_edges_stop_in_hpet_legacy_mode)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 1, 1, "x86_gsi_interrupt GSI interrupt #0 level:1");
	add(&t, 1, 2, "x86_gsi_interrupt GSI interrupt #0 level:0");
	add(&t, 2, 3, MR_W("0", "0xfed00010", "0x3", "4"));
	add(&t, 1, 4, "x86_gsi_interrupt GSI interrupt #0 level:1");
	import_opts(dm_test_write_file(dir, "in.log", t.buf),
		    &(struct dm_qemu_opts){.encoding = DM_TRACE_TEXT,
					   .pit_irq0_edges = true},
		    &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.st.pit_edges, 2);
	ck_assert_uint_eq(r.st.dev_irqs, 2);
	ck_assert_ptr_nonnull(strstr(r.config, "pit_irq0=off"));
}
END_TEST

START_TEST(interrupt_acceptance)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 2, 1, MR_R("0", "0x21", "0xfe", "1"));
	add(&t, 2, 2, "pic_interrupt irq 7 intno 15");
	add(&t, 2, 3,
	    "kvm_vcpu_ioctl cpu_index 0, type 0x4004ae86, arg "
	    "0x7f00");
	add(&t, 2, 4,
	    "kvm_vcpu_ioctl cpu_index 0, type 0x4004ae86, arg "
	    "0x7f00");
	add(&t, 2, 5, "kvm_vcpu_ioctl cpu_index 0, type 0xae80, arg (nil)");
	add(&t, 2, 6, "kvm_vcpu_ioctl cpu_index 0, type 0xae9a, arg (nil)");
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.n, 4);
	ck_assert(r.ev[1].op == DM_OP_INTACK && r.ev[1].value == 15 &&
		  (r.ev[1].flags & DM_EV_VALUE) && r.ev[1].time == 1000);
	ck_assert(r.ev[2].op == DM_OP_INTACK &&
		  !(r.ev[2].flags & DM_EV_VALUE) && r.ev[2].time == 3000);
	ck_assert(r.ev[3].op == DM_OP_NMI && r.ev[3].time == 5000);
	ck_assert_uint_eq(r.st.bookkeeping, 1);
}
END_TEST

/* TCG's -d int line has no timestamp and no thread: it takes the last
 * line's time, and is usable only with one vcpu. */
START_TEST(tcg_servicing_lines)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 2, 1, MR_R("0", "0x21", "0xfe", "1"));
	add(&t, 2, 9, MR_R("0", "0x20", "0x0", "1"));
	dm_test_text_add(&t, "%s", "Servicing hardware INT=0x30\n");
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert(r.ev[2].op == DM_OP_INTACK && r.ev[2].value == 0x30 &&
		  r.ev[2].time == 8000);

	add(&t, 3, 10, MR_R("1", "0x21", "0xfe", "1"));
	dm_test_text_add(&t, "%s", "Servicing hardware INT=0x31\n");
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.st.ambiguous, 2);
	ck_assert_uint_eq(r.st.intacks, 0);
}
END_TEST

/* Logs without the memory core's events: the device events are the
 * accesses (LAPIC, IOAPIC, 8259), apic_deliver_irq the messages. */
START_TEST(device_events_without_the_memory_core)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 2, 1, "apic_mem_readl 0x30 = 0x00050014");
	add(&t, 2, 2, "apic_mem_writel 0xb0 = 0x00000000");
	add(&t, 2, 3,
	    "ioapic_mem_write ioapic mem write addr 0x0 regsel: "
	    "0x0 size 0x4 val 0x12");
	add(&t, 2, 4,
	    "ioapic_mem_write ioapic mem write addr 0x10 regsel: "
	    "0x12 size 0x4 val 0x31");
	add(&t, 2, 5,
	    "ioapic_mem_read ioapic mem read addr 0x10 regsel: "
	    "0x12 size 0x4 retval 0x31");
	add(&t, 2, 6, "pic_ioport_write master 0 addr 0x1 val 0xfb");
	add(&t, 2, 7, "pic_ioport_read master 1 addr 0x0 val 0x1");
	add(&t, 1, 8,
	    "apic_deliver_irq dest 0 dest_mode 0 delivery_mode 0 "
	    "vector 49 trigger_mode 0");
	add(&t, 1, 9,
	    "apic_deliver_irq dest 1 dest_mode 1 delivery_mode 1 "
	    "vector 80 trigger_mode 1");
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.n, 8);
	ck_assert(r.ev[0].op == DM_OP_MMIO_R && r.ev[0].addr == 0xfee00030 &&
		  r.ev[0].value == 0x50014 && r.ev[0].size == 4);
	ck_assert(r.ev[1].op == DM_OP_MMIO_W && r.ev[1].addr == 0xfee000b0);
	ck_assert(r.ev[4].op == DM_OP_MMIO_R && r.ev[4].addr == 0xfec00010 &&
		  r.ev[4].value == 0x31);
	ck_assert(r.ev[5].op == DM_OP_PIO_W && r.ev[5].addr == 0xa1 &&
		  r.ev[5].value == 0xfb);
	ck_assert(r.ev[6].op == DM_OP_PIO_R && r.ev[6].addr == 0x20);
	/* Vector 49 is RTE 1's (vector 0x31): the IOAPIC's. */
	ck_assert(r.ev[7].op == DM_OP_MSI && r.ev[7].addr == 0xfee01004 &&
		  r.ev[7].value == 0x8150);
	ck_assert_uint_eq(r.st.outputs, 1);
}
END_TEST

/* With the memory core's events, the same device events are echoes. */
START_TEST(device_events_echo_the_memory_core)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 2, 1, "apic_mem_readl 0x30 = 0x00050014");
	add(&t, 2, 2, MR_R("0", "0xfee00030", "0x50014", "4"));
	add(&t, 2, 3, MR_W("0", "0x21", "0xfb", "1"));
	add(&t, 2, 4, "pic_ioport_write master 1 addr 0x1 val 0xfb");
	add(&t, 2, 5, "hpet_ram_read enter hpet_ram_readl at 0xf0");
	add(&t, 2, 6, "mc146818_rtc_ioport_read [0x0a] -> 0x26");
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.n, 2);
	ck_assert_uint_eq(r.st.outputs, 4);
}
END_TEST

/* IA32_APIC_BASE changes are writes; in x2APIC mode QEMU 8.1's
 * apic_register_* events are the MSR accesses. */
START_TEST(apic_base_and_x2apic)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 2, 1, MR_R("0", "0x21", "0xfe", "1"));
	add(&t, 2, 2, "cpu_set_apic_base 0x00000000fee00900");
	add(&t, 2, 3, "cpu_get_apic_base 0x00000000fee00900");
	add(&t, 2, 4, "cpu_set_apic_base 0x00000000fee00d00");
	add(&t, 2, 5, "apic_register_read register 0x02 = 0x0");
	add(&t, 2, 6, "apic_register_write register 0x30 = 0x1000000c4500");
	add(&t, 1, 7, "cpu_set_apic_base 0x00000000fee00000");
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.n, 5);
	/* No KVM lines: TCG's RDMSR. */
	ck_assert(r.ev[1].op == DM_OP_MSR_R && r.ev[1].addr == 0x1b &&
		  r.ev[1].value == 0xfee00900);
	ck_assert(r.ev[2].op == DM_OP_MSR_W && r.ev[2].value == 0xfee00d00);
	ck_assert(r.ev[3].op == DM_OP_MSR_R && r.ev[3].addr == 0x802);
	ck_assert(r.ev[4].op == DM_OP_MSR_W && r.ev[4].addr == 0x830 &&
		  r.ev[4].value == 0x1000000c4500ULL && r.ev[4].size == 8);
	ck_assert_uint_eq(r.st.not_vcpu, 1);
}
END_TEST

START_TEST(kvm_register_loads_are_not_reads)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 2, 1, "kvm_vcpu_ioctl cpu_index 0, type 0xae80, arg (nil)");
	add(&t, 2, 2, "cpu_get_apic_base 0x00000000fee00900");
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.n, 0);
	ck_assert_uint_eq(r.st.bookkeeping, 2);
}
END_TEST

/* Bytes QEMU's board put in the CMOS are not in the log. */
START_TEST(cmos_bytes_of_the_board_are_unchecked)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 2, 1, MR_W("0", "0x70", "0x8f", "1"));
	add(&t, 2, 2, MR_R("0", "0x71", "0x0", "1"));
	add(&t, 2, 3, MR_W("0", "0x70", "0x0b", "1"));
	add(&t, 2, 4, MR_R("0", "0x71", "0x2", "1"));
	add(&t, 2, 5, MR_W("0", "0x70", "0x8f", "1"));
	add(&t, 2, 6, MR_W("0", "0x71", "0x5", "1"));
	add(&t, 2, 7, MR_R("0", "0x71", "0x5", "1"));
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert(!(r.ev[1].flags & DM_EV_VALUE));
	ck_assert(r.ev[3].flags & DM_EV_VALUE);
	ck_assert(r.ev[6].flags & DM_EV_VALUE);
	ck_assert_uint_eq(r.st.cmos_unknown, 1);
}
END_TEST

START_TEST(interleaved_threads_are_clamped)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 2, 1, MR_W("0", "0x43", "0x34", "1"));
	add(&t, 2, 10, MR_W("0", "0x40", "0x0", "1"));
	add(&t, 1, 8, "x86_gsi_interrupt GSI interrupt #5 level:1");
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.ev[1].time, 9000);
	ck_assert(r.ev[2].op == DM_OP_IRQ && r.ev[2].time == 9000);
	ck_assert_uint_eq(r.st.clamped, 1);
}
END_TEST

START_TEST(unknown_events_and_other_lines_are_counted)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 2, 1, "virtio_queue_notify vdev 0x1 n 0 vq 0x2");
	dm_test_text_add(&t, "%s", "SMM: enter\n\nEAX=00000001 EBX=00000000\n");
	add(&t, 2, 2, MR_W("0", "0x43", "0x34", "1"));
	add(&t, 2, 3, "virtio_notify vdev 0x1 vq 0x2");
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.st.unknown, 2);
	ck_assert_uint_eq(r.st.other, 2);
	ck_assert_uint_eq(r.n, 1);
}
END_TEST

START_TEST(truncated_relevant_line_names_it)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 2, 1, MR_W("0", "0x43", "0x34", "1"));
	add(&t, 2, 2, "memory_region_ops_write cpu 0 mr 0x55d0 addr 0x4");
	add(&t, 2, 3, MR_W("0", "0x40", "0x0", "1"));
	import_text(t.buf, &r);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_ptr_nonnull(strstr(r.err.msg, "in.log:2:"));
	ck_assert_ptr_nonnull(strstr(r.err.msg, "memory_region_ops_write"));
	ck_assert_ptr_nonnull(strstr(r.err.msg, "'cpu 0 mr 0x55d0 addr 0x4'"));
	ck_assert_int_ne(access(r.out, F_OK), 0); /* no half trace left */
}
END_TEST

START_TEST(truncated_last_line_is_skipped)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 2, 1, MR_W("0", "0x43", "0x34", "1"));
	dm_test_text_add(&t, "%s",
			 "2@1000.000002:memory_region_ops_write cpu 0 mr 0x5");
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.st.truncated, 1);
	ck_assert_uint_eq(r.n, 1);

	/* Cut inside the timestamp. */
	t.n = 0;
	add(&t, 2, 1, MR_W("0", "0x43", "0x34", "1"));
	dm_test_text_add(&t, "%s", "2@1000.00");
	import_text(t.buf, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.st.truncated, 1);
}
END_TEST

START_TEST(bad_prefix_names_the_line)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 2, 1, MR_W("0", "0x43", "0x34", "1"));
	dm_test_text_add(&t, "%s", "2@1000.x:memory_region_ops_write cpu 0\n");
	add(&t, 2, 3, MR_W("0", "0x40", "0x0", "1"));
	import_text(t.buf, &r);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_ptr_nonnull(strstr(r.err.msg, "in.log:2: not a QEMU trace "
						"line"));
}
END_TEST

START_TEST(impossible_values_are_refused)
{
	static const char *const bad[] = {
		MR_W("0", "0x40", "0x0", "8"),
		MR_W("0", "0x40", "0x0", "3"),
		MR_W("300", "0x40", "0x0", "1"),
		"pic_interrupt irq 0 intno 256",
		"x86_gsi_interrupt GSI interrupt #4 level:2",
		"kvm_vcpu_ioctl cpu_index -1, type 0x4004ae86, arg (nil)",
		"pic_ioport_write master 2 addr 0x1 val 0xfb",
		"runstate_set current_run_state 6 (prelaunch)",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct dm_test_text t = {.n = 0};
		struct result r;

		add(&t, 2, 1, MR_W("0", "0x43", "0x34", "1"));
		add(&t, 2, 2, bad[i]);
		import_text(t.buf, &r);
		ck_assert_msg(r.rc == -1, "accepted '%s'", bad[i]);
		ck_assert_msg(strstr(r.err.msg, "in.log:2:"), "%s", r.err.msg);
	}
}
END_TEST

START_TEST(logs_without_timestamps_are_refused)
{
	struct result r;

	import_text("memory_region_ops_write cpu 0 mr 0x55d0 addr 0x43 "
		    "value 0x34 size 1 name 'pit'\n",
		    &r);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_ptr_nonnull(strstr(r.err.msg, "-msg timestamp=on"));
	import_text("qemu-system-x86_64: terminating on signal 2\n", &r);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_ptr_nonnull(strstr(r.err.msg, "no QEMU trace events"));
	import_text("", &r);
	ck_assert_int_eq(r.rc, -1);
}
END_TEST

START_TEST(standard_input)
{
	struct result r;

	ck_assert_ptr_nonnull(
		freopen(dm_test_trace_path("qemu_probe.log"), "r", stdin));
	import("-", &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	expect_file(&r, "qemu_probe.expect");
}
END_TEST

START_TEST(binary_output)
{
	struct dm_test_text t = {.n = 0};
	struct result r;

	add(&t, 2, 1, MR_W("0", "0x43", "0x34", "1"));
	import_opts(dm_test_write_file(dir, "in.log", t.buf),
		    &(struct dm_qemu_opts){.encoding = DM_TRACE_BINARY}, &r);
	ck_assert_msg(!r.rc, "%s", r.err.msg);
	ck_assert_uint_eq(r.n, 1);
	ck_assert(r.ev[0].op == DM_OP_PIO_W && r.ev[0].value == 0x34);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("import_qemu");
	TCase *tc = tcase_create("import_qemu");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, probe_matches_expected_conversion);
	tcase_add_test(tc, probe_interrupts);
	tcase_add_test(tc, probe_values_are_cut_to_the_access_size);
	tcase_add_test(tc, seabios_q35_matches_expected_conversion);
	tcase_add_test(tc, tcg_matches_expected_conversion);
	tcase_add_test(tc, tcg_without_pit_edges);
	tcase_add_test(tc, time_is_the_vms_running_time);
	tcase_add_test(tc, without_runstate_time_starts_at_the_first_line);
	tcase_add_test(tc, model_set_and_sizes);
	tcase_add_test(tc, ioapic_messages_and_device_msis);
	tcase_add_test(tc, lines_and_model_gsis);
	tcase_add_test(tc, pit_edges_stop_in_hpet_legacy_mode);
	tcase_add_test(tc, interrupt_acceptance);
	tcase_add_test(tc, tcg_servicing_lines);
	tcase_add_test(tc, device_events_without_the_memory_core);
	tcase_add_test(tc, device_events_echo_the_memory_core);
	tcase_add_test(tc, apic_base_and_x2apic);
	tcase_add_test(tc, kvm_register_loads_are_not_reads);
	tcase_add_test(tc, cmos_bytes_of_the_board_are_unchecked);
	tcase_add_test(tc, interleaved_threads_are_clamped);
	tcase_add_test(tc, unknown_events_and_other_lines_are_counted);
	tcase_add_test(tc, truncated_relevant_line_names_it);
	tcase_add_test(tc, truncated_last_line_is_skipped);
	tcase_add_test(tc, bad_prefix_names_the_line);
	tcase_add_test(tc, impossible_values_are_refused);
	tcase_add_test(tc, logs_without_timestamps_are_refused);
	tcase_add_test(tc, standard_input);
	tcase_add_test(tc, binary_output);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return dm_test_main(suite());
}
