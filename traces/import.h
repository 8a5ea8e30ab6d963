/* SPDX-License-Identifier: MIT */
/*
 * Importers: foreign captures of what a guest did to its interrupt
 * controllers and timers, turned into dmsim traces (docs/importers.md).
 *
 * dm_import_ftrace reads the text of the Linux kvm tracepoints, as tracefs
 * `trace` and `trace_pipe` print it and as `trace-cmd report` does, and
 * the raw files `dmsim kvm capture` writes (the same text between comment
 * lines that carry what the capture knew: vcpu threads, TSC rate and
 * offsets, lost events).
 */
#ifndef DM_IMPORT_H
#define DM_IMPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sim/error.h"
#include "traces/trace.h"

/* The default of --mark-windows: the tolerance of live captures; a
 * shorter window's middle reaches both its ends within it. */
#define DM_IMPORT_WINDOW_NS 200000

struct dm_ftrace_opts {
	/* Rate of counter timestamps (the x86-tsc clock); 0 = infer it
	 * from the capture's header, its clock markers, or cpuinfo. */
	uint64_t tsc_hz;
	/* /proc/cpuinfo-format file consulted last for the TSC rate; NULL:
	 * never. */
	const char *cpuinfo;
	/* Bit n set: userspace raises of GSI n come from a modelled device
	 * (they are outputs, not inputs).  Used when model_gsis_given;
	 * otherwise RTC IRQ8, plus IRQ0 and GSI 2 once the HPET is used. */
	uint32_t model_gsis;
	bool model_gsis_given;
	/* KVM's PIT IRQ0 edges (kvm_set_irq source >= 2 on GSI 0, raised
	 * by its kvm-pit thread at host-scheduled times) become dev irq 0
	 * events, and the machine line says pit_irq0=off so the PIT model
	 * does not raise IRQ0 itself.  false: they are the model's output
	 * and skipped. */
	bool pit_irq0_edges;
	/* QEMU's HPET line changes (userspace raises of GSIs 0 and 2 once
	 * the guest used the HPET, from QEMU's timer callbacks, which run
	 * late) become dev irq events, and the machine line says
	 * hpet_irq=off.  false: they are the HPET model's output. */
	bool hpet_irq_edges;
	/* Silences of the host of at least this many ns that follow a
	 * vcpu's line served in the kernel become sim marks
	 * host-silent-LEN at their far end (docs/importers.md, "The host
	 * frozen"); 0: none.  Sound only where the guest's code between
	 * accesses is short, so off unless asked for. */
	uint64_t silence_ns;
	/* A read QEMU served whose exit no CPU followed with a line for at
	 * least this many ns, or that moved to a switch back, gets sim mark
	 * qemu-window-V-LEN at its exit: its service window, a fact for any
	 * guest ("A read QEMU served"); 0: none.  The CLI's default is
	 * DM_IMPORT_WINDOW_NS. */
	uint64_t window_ns;
	enum dm_trace_encoding encoding;
	FILE *log; /* warnings and the summary; NULL: none */
};

struct dm_ftrace_stats {
	uint64_t lines;
	uint64_t events;       /* dmsim events written */
	uint64_t accesses;     /* pio, mmio, msr events */
	uint64_t dev_irqs;     /* dev irq events */
	uint64_t pit_edges;    /* of which the PIT's IRQ0 (pit_irq0_edges) */
	uint64_t dev_msis;     /* dev msi events */
	uint64_t threads;      /* dev thread events */
	uint64_t intacks;      /* intack events (derived or kvm_inj_virq) */
	uint64_t eois_by_kvm;  /* EOIs KVM did itself at delivery */
	uint64_t acks_vec;     /* irqchip off: intacks with a known vector */
	uint64_t acks_late;    /* irqchip off: intacks at their EOI */
	uint64_t outputs;      /* model outputs and echoes skipped */
	uint64_t unmodelled;   /* accesses to devices outside the model set */
	uint64_t unknown;      /* lines of events the importer does not use */
	uint64_t truncated;    /* unreadable lines skipped (the last one) */
	uint64_t lost;	       /* events the ring buffer lost */
	uint64_t clamped;      /* timestamps earlier than the one before */
	uint64_t noop_lowers;  /* lowers of a line that was already low */
	uint64_t shared;       /* changes another source's level hid */
	uint64_t faulted;      /* MSR accesses that took a #GP */
	uint64_t incomplete;   /* userspace reads that never completed */
	uint64_t cmos_unknown; /* unchecked reads of QEMU's CMOS */
	uint64_t rescheduled;  /* userspace accesses moved to a switch back */
	uint64_t unlogged_returns; /* ... to a thread's next line (its switch
				      back not in the trace) */
	uint64_t served_seen;	   /* ... kept: QEMU's line change on the vcpu's
				      thread showed it serving them */
	uint64_t pit_teardown;	   /* PIT edges skipped: the VM's teardown */
	uint64_t main_loop_runs;   /* dev thread 0 1: QEMU's main loop ran */
	uint64_t main_loop_unlogged; /* ... of them at its own line (the
					switch to it not in the trace) */
	uint64_t main_loop_woken;    /* ... at its wake-up, the switch to it
					not in the trace */
	uint64_t pit_wakeups;	    /* dev thread 1 1: KVM's PIT worker woken */
	uint64_t service_window_ns; /* longest exit-to-completion of a read
				       QEMU served */
	uint64_t silences;	    /* sim marks host-silent-LEN */
	uint64_t windows;	    /* sim marks qemu-window-V-LEN */
	unsigned vcpus;
	uint64_t tsc_hz; /* rate used for counter timestamps; 0 if none */
};

/*
 * Converts the ftrace text file in ("-" = standard input) to the dmsim
 * trace out.  Returns 0, or -1 with err naming the file and line when the
 * input cannot be converted faithfully (a relevant line that does not
 * parse, counter timestamps without a rate, ...).  Lines that do not
 * matter are skipped and counted in st.
 */
int dm_import_ftrace(const char *in, const char *out,
		     const struct dm_ftrace_opts *opts,
		     struct dm_ftrace_stats *st, struct dm_error *err);

/*
 * dm_import_qemu reads the log of QEMU's "log" trace backend run with
 * -msg timestamp=on ("TID@SECONDS.MICROSECONDS:EVENT ARGS" lines; QEMU with
 * kernel-irqchip=off, so that its own devices serve the guest) and writes
 * a trace with profile=qemu (docs/importers.md, "QEMU logs").
 */
struct dm_qemu_opts {
	/* Bit n set: GSI n is driven by a modelled device (its changes are
	 * outputs).  Used when model_gsis_given; otherwise GSIs 0, 2 and 8
	 * and the routes of the HPET timers the guest enabled. */
	uint32_t model_gsis;
	bool model_gsis_given;
	/* QEMU's PIT IRQ0 changes (GSI 0 outside HPET legacy mode, raised
	 * by QEMU's timers, which run late) become dev irq 0 events and the
	 * machine line says pit_irq0=off.  false: they are the model's. */
	bool pit_irq0_edges;
	enum dm_trace_encoding encoding;
	FILE *log; /* inferences, warnings and the summary; NULL: none */
};

struct dm_qemu_stats {
	uint64_t lines;
	uint64_t events;	    /* dmsim events written */
	uint64_t accesses;	    /* pio, mmio, msr events */
	uint64_t intacks;	    /* 8259 INTAs and injections */
	uint64_t unchecked_intacks; /* of which the vector is unknown */
	uint64_t signals;	    /* nmi, smi events */
	uint64_t dev_irqs;	    /* dev irq events */
	uint64_t pit_edges;	    /* of which IRQ0 (pit_irq0_edges) */
	uint64_t dev_msis;	    /* dev msi events */
	uint64_t cmos_unknown;	    /* unchecked reads of QEMU's CMOS */
	uint64_t outputs;	    /* model outputs and echoes skipped */
	uint64_t bookkeeping;	    /* KVM calls, run-state lines skipped */
	uint64_t unmodelled;	    /* accesses outside the model set */
	uint64_t not_vcpu;	    /* accesses no vcpu made */
	uint64_t noop_lowers;	    /* lowers of a line already low */
	uint64_t unknown;	    /* lines of events the importer ignores */
	uint64_t other;		    /* lines that are not trace events */
	uint64_t ambiguous;	    /* TCG INT lines with several vcpus */
	uint64_t truncated;	    /* the cut last line, skipped */
	uint64_t clamped;	    /* timestamps earlier than the last */
	unsigned vcpus;
};

/* Returns 0, or -1 with err naming the file and line (a relevant line
 * that does not parse, no timestamps, no events). */
int dm_import_qemu(const char *in, const char *out,
		   const struct dm_qemu_opts *opts, struct dm_qemu_stats *st,
		   struct dm_error *err);

#endif
