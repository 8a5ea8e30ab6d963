/* SPDX-License-Identifier: MIT */
/*
 * The machine: the PC board that owns the device models, wires their IRQ
 * lines (SPEC-NOTES 8), dispatches port, MMIO and MSR accesses, and runs
 * the event queue in virtual time.  One machine runs on one thread; every
 * entry point takes the virtual time of the access, which never goes
 * backwards (an earlier time is taken as the machine's current time).
 *
 * Interrupt lines.  Several sources may drive one line; its level is the
 * OR of them (as KVM ORs irq source ids).  ISA IRQ n reaches 8259 input n
 * and IOAPIC pin n, except IRQ0, which reaches pin 2 (the MADT interrupt
 * source override); IRQ2 is the cascade.  IOAPIC pins 16-23 have no ISA
 * IRQ.  While the HPET's legacy replacement is on, the PIT's OUT0 and the
 * RTC are disconnected from IRQ0 and IRQ8.  The 8259's INTR goes to LINT0
 * of vcpu 0; every LAPIC's EOI of a level vector is broadcast to the
 * IOAPIC.
 *
 * Checkpoints (dm_machine_save/dm_machine_restore) hold the machine's own
 * state (time, line sources) and every device's canonical state, in a fixed
 * device order; docs/state-format.md specifies the layout.
 */
#ifndef DM_MACHINE_H
#define DM_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/hpet.h"
#include "models/ioapic.h"
#include "models/lapic.h"
#include "models/pic.h"
#include "models/pit.h"
#include "models/pmtimer.h"
#include "models/rtc.h"
#include "sim/apicbus.h"
#include "sim/config.h"
#include "sim/error.h"
#include "sim/io.h"
#include "sim/state.h"
#include "sim/timer.h"

#define DM_ISA_IRQS 16
#define DM_GSIS DM_IOAPIC_PINS
#define DM_MAX_VCPUS 256
/* machine, pit, pic, ioapic, hpet, rtc, pmtimer, clock */
#define DM_FIXED_DEVICES 8
#define DM_MAX_DEVICES (DM_FIXED_DEVICES + DM_MAX_VCPUS)
#define DM_MAX_REGIONS 8
#define DM_SIGNALS 16	/* vcpu signals held until a trace checks them */
#define DM_PIT_TICKS 16 /* PIT ticks waiting for the trace's IRQ0 raise */
/*
 * Device events one advance may fire.  A guest that programs a period of a
 * few ns (an HPET comparator of 1, a PIT count of 2) and then lets seconds
 * of virtual time pass would otherwise keep a replay busy for hours; past
 * this budget the machine stops and says so (dm_machine_advance).
 */
#define DM_EVENT_BUDGET 50000000ULL

/* Who drives a shared interrupt line. */
enum dm_irq_source {
	DM_SRC_PIT,
	DM_SRC_RTC,
	DM_SRC_SCI,
	DM_SRC_HPET,
	DM_SRC_DEV, /* "dev irq" trace events: devices outside the model set */
	DM_SRC_COUNT,
};

/* Outcome of a register access. */
enum dm_access {
	DM_ACCESS_OK,
	DM_ACCESS_GP,	   /* the guest takes a #GP; nothing was applied */
	DM_ACCESS_INVALID, /* not a valid access (bad size, no such vcpu) */
};

struct dm_device {
	const char *name;
	const struct dm_state_desc *desc;
	void *state;
	size_t size; /* of the struct at state */
	/* The leading bytes of it that can change: all, or fewer where a
	 * tail never leaves its power-on state (dm_hpet_live_bytes).  What
	 * change detection needs to look at. */
	size_t live;
	/* desc flattened (sim/stateplan.c); unused once a test swaps desc;
	 * NULL: the table walkers */
	const struct dm_state_plan *plan;
};

/*
 * A device's state through its plan: dm_state_encode, dm_state_load and
 * a comparison of encodings, only faster.
 */
size_t dm_device_encoded_size(const struct dm_device *d);
size_t dm_device_encode(const struct dm_device *d, uint8_t *buf, size_t cap);
int dm_device_load(const struct dm_device *d, const uint8_t *buf, size_t n,
		   struct dm_error *err);
/* Whether a and b (devices of one kind) encode to the same bytes. */
bool dm_device_equal(const struct dm_device *a, const struct dm_device *b);

/* A timer a device had armed when the machine was built. */
struct dm_pristine_timer {
	unsigned device;
	size_t offset; /* within the device's struct */
	uint64_t when;
};

/*
 * The machine's virtual time, a device of its own: it moves at every event
 * while the board's wiring state below rarely changes, and a checkpoint
 * then stores a new clock (15 bytes encoded) instead of a new board.
 */
struct dm_machine_clock {
	uint64_t now;
};

struct dm_machine_state {
	uint32_t isa_src[DM_ISA_IRQS]; /* bit per enum dm_irq_source */
	uint32_t pin_src[DM_GSIS];     /* sources wired to a pin directly */
	uint16_t pic_in;	       /* levels last driven into the 8259s */
	uint32_t pin_in;	       /* ... and into the IOAPIC pins */
	bool hpet_legacy;	       /* HPET LEG_RT_CNF owns IRQ0 and IRQ8 */
	/*
	 * NMI, INIT, SIPI and SMI that reached a vcpu, oldest first, until a
	 * trace's nmi/init/sipi/smi event checks them: vcpu << 12 | event
	 * << 8 | vector.  When full the oldest is dropped and counted.
	 */
	uint32_t signal[DM_SIGNALS];
	uint8_t nsignals;
	uint32_t signals_dropped;
	/*
	 * pit_irq0=off: the instants the PIT raised OUT0 that no dev irq 0
	 * raise of the trace has answered yet, oldest first, and how many
	 * were pushed out unanswered when more than DM_PIT_TICKS waited.
	 */
	uint64_t pit_tick[DM_PIT_TICKS];
	uint8_t npit_ticks;
	uint32_t pit_ticks_lost;
	/* dev thread 1: KVM's PIT worker has been runnable since then. */
	bool pit_worker_ready;
	uint64_t pit_worker_since;
};

struct dm_machine {
	struct dm_config cfg;
	char config_text[2048]; /* canonical dm_config_format of cfg */
	struct dm_machine_clock clock;
	struct dm_machine_state ms;
	struct dm_eventq q;
	struct dm_pit pit;
	struct dm_pic pic;
	struct dm_ioapic ioapic;
	struct dm_hpet hpet;
	struct dm_rtc rtc;
	struct dm_pmtimer pmtimer;
	struct dm_apicbus bus;
	struct dm_lapic *lapics; /* cfg.vcpus of them */

	/* Non-zero once an advance to this time exceeded DM_EVENT_BUDGET:
	 * the machine stopped short of it and ignores further time. */
	uint64_t storm_at;

	struct dm_device devices[DM_MAX_DEVICES];
	/*
	 * Every device's bytes as dm_machine_create left them, and the
	 * timers armed then: what dm_machine_rebuild_device starts from.
	 */
	uint8_t *pristine;
	size_t pristine_off[DM_MAX_DEVICES];
	struct dm_pristine_timer *pristine_armed;
	unsigned npristine_armed;
	char lapic_names[DM_MAX_VCPUS][16];
	unsigned ndevices;
	struct dm_io_region pio[DM_MAX_REGIONS];
	unsigned npio;
	struct dm_io_region mmio[DM_MAX_REGIONS];
	unsigned nmmio;
};

extern const struct dm_state_desc dm_machine_clock_desc;
extern const struct dm_state_desc dm_machine_state_desc;

/* Builds a machine in its power-on state. */
int dm_machine_create(struct dm_machine **m, const struct dm_config *cfg,
		      struct dm_error *err);
void dm_machine_destroy(struct dm_machine *m);

/* Runs every device event up to and including now (or stops, setting
 * storm_at, after DM_EVENT_BUDGET of them). */
void dm_machine_advance(struct dm_machine *m, uint64_t now);

/* Accesses.  Each first advances the machine to now. */
enum dm_access dm_machine_pio(struct dm_machine *m, uint64_t now, uint32_t cpu,
			      uint16_t port, unsigned size, bool write,
			      uint64_t *value);
enum dm_access dm_machine_mmio(struct dm_machine *m, uint64_t now, uint32_t cpu,
			       uint64_t addr, unsigned size, bool write,
			       uint64_t *value);
enum dm_access dm_machine_msr(struct dm_machine *m, uint64_t now, uint32_t cpu,
			      uint32_t index, bool write, uint64_t *value);
/*
 * A device outside the model set drives GSI gsi: 0-15 are ISA IRQs (IRQ0
 * reaches IOAPIC pin 2; GSI 2, the cascade, is routed nowhere, as in
 * QEMU's KVM routing table), 16-23 IOAPIC pins.
 */
int dm_machine_set_gsi(struct dm_machine *m, uint64_t now, uint32_t gsi,
		       int level, struct dm_error *err);
/*
 * pit_irq0=off, outside HPET legacy replacement: the trace raised IRQ0
 * (dev irq 0 going from 0 to 1, applied by dm_machine_set_gsi), which
 * answers every PIT tick waiting.  Returns how long after the oldest it
 * came (from the PIT worker's wake-up when dev thread 1 gives it: the
 * host's scheduling after that is not the PIT's), or UINT64_MAX when none
 * waited; *lost gets the ticks pushed out
 * unanswered (more than DM_PIT_TICKS waited) since the last raise.
 * False when the raise is not the PIT's to answer (IRQ0 is the PIT's own
 * line, or the HPET's; the PIT had not yet started from QEMU's reset
 * state) or pit_irq0_late_ns is 0.
 */
bool dm_machine_pit_raised(struct dm_machine *m, uint64_t *late,
			   uint32_t *lost);
/* dev thread: which host thread (the trace's address column). */
#define DM_THREAD_MAIN_LOOP 0  /* the VMM's main loop (QEMU's device timers) */
#define DM_THREAD_PIT_WORKER 1 /* KVM's kvm-pit worker (IRQ0's raises) */
/*
 * dev thread THREAD LEVEL: the VMM's main loop got a CPU (running) or left
 * it, KVM's PIT worker was woken (running) or went to sleep.  Under
 * rtc_uf_trace the main loop's runs time QEMU's RTC updates; the PIT
 * worker's wake-ups date IRQ0's raises for pit_irq0_late_ns.  An unknown
 * thread is an error.
 */
int dm_machine_thread(struct dm_machine *m, uint64_t now, uint32_t thread,
		      bool running, struct dm_error *err);
/* A device outside the model set writes an MSI; returns the number of
 * LAPICs that accepted it. */
int dm_machine_msi(struct dm_machine *m, uint64_t now, uint64_t addr,
		   uint32_t data);
/* The vcpu accepts an interrupt; returns its vector, or -1 if none is
 * pending. */
int dm_machine_intack(struct dm_machine *m, uint64_t now, uint32_t cpu);

/*
 * Takes the oldest signal that reached vcpu cpu and is still unchecked:
 * returns 1 with *ev and *vector set, or 0 if there is none.
 */
int dm_machine_take_signal(struct dm_machine *m, uint32_t cpu,
			   enum dm_vcpu_event *ev, uint8_t *vector);

/* Level of ISA IRQ line irq as the 8259s see it. */
bool dm_machine_isa_level(const struct dm_machine *m, unsigned irq);

/* State hash of the whole machine: XXH3-64 over the device hashes. */
uint64_t dm_machine_hash(const struct dm_machine *m);

/* Checkpoints.  dm_machine_save returns a malloc'd buffer. */
uint8_t *dm_machine_save(const struct dm_machine *m, size_t *len);
/* Loads a checkpoint into a machine built with the same options (the
 * checkpoint records them); on error the machine may hold a mix of old and
 * new device states. */
int dm_machine_load(struct dm_machine *m, const uint8_t *buf, size_t len,
		    struct dm_error *err);
/*
 * Rebuilds device i in place as dm_machine_create built it, then loads
 * blob (its dm_state_encode) into it: for that device, what destroying the
 * machine, creating it anew and loading a checkpoint does, leaving the
 * other devices as they are.  migrate-check rebuilds only the devices whose
 * bytes changed since their last rebuild; a device that did not change
 * would rebuild to the very same bytes.
 */
int dm_machine_rebuild_device(struct dm_machine *m, unsigned i,
			      const uint8_t *blob, size_t n,
			      struct dm_error *err);
/* Builds a machine from cfg (NULL: the options the checkpoint records) and
 * loads a checkpoint into it. */
int dm_machine_restore(struct dm_machine **m, const struct dm_config *cfg,
		       const uint8_t *buf, size_t len, struct dm_error *err);
/* The machine options a checkpoint was taken with. */
int dm_machine_checkpoint_config(const uint8_t *buf, size_t len,
				 struct dm_config *cfg, struct dm_error *err);

const struct dm_device *dm_machine_device(const struct dm_machine *m,
					  const char *name);

/* The device whose registers an access reaches (NULL if none). */
const struct dm_device *dm_machine_device_at(const struct dm_machine *m,
					     uint32_t cpu, bool mmio,
					     uint64_t addr);

#endif
