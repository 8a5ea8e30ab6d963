/* SPDX-License-Identifier: MIT */
/*
 * Machine configuration: clock rates, chipset, vcpu count, and the options
 * that select a documented KVM or QEMU deviation from the datasheets.
 *
 * Every option is one row of the table in sim/config.c (name, type, range,
 * one default per profile, documentation).  A profile names a whole set of
 * defaults; explicit options given after it override single rows.  The
 * canonical text form lists every option in table order, so two configs are
 * equal exactly when their canonical strings are.  docs/profiles.md is the
 * human-readable view of the same table.
 */
#ifndef DM_CONFIG_H
#define DM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/error.h"

enum dm_profile {
	DM_PROFILE_DATASHEET,
	DM_PROFILE_KVM,
	DM_PROFILE_QEMU,
	DM_PROFILE_COUNT,
};

enum dm_chipset {
	DM_CHIPSET_PC,	/* i440FX + PIIX */
	DM_CHIPSET_Q35, /* Q35 + ICH9 */
};

/* Which implementation's 8254 arithmetic a channel follows. */
enum dm_pit_flavor {
	DM_PIT_DATASHEET, /* CLK-edge exact 82C54, BCD, NULL COUNT, gates */
	DM_PIT_KVM,	  /* arch/x86/kvm/i8254.c */
	DM_PIT_QEMU, /* hw/timer/i8254.c (QEMU's own, kernel-irqchip=off) */
};

/* Whose corner cases the IOAPIC follows (docs/devices/ioapic.md). */
enum dm_ioapic_flavor {
	DM_IOAPIC_DATASHEET, /* 82093AA / ICH IOxAPIC */
	DM_IOAPIC_KVM,	     /* arch/x86/kvm/ioapic.c */
	DM_IOAPIC_QEMU,	     /* hw/intc/ioapic.c */
};

/* Whose corner cases the 8259A pair follows (docs/devices/pic.md). */
enum dm_pic_flavor {
	DM_PIC_DATASHEET, /* Intel 8259A with the PIIX/ICH ELCR */
	DM_PIC_KVM,	  /* arch/x86/kvm/i8259.c */
	DM_PIC_QEMU,	  /* hw/intc/i8259.c */
};

/* Whose HPET a machine has (docs/devices/hpet.md); KVM has none: QEMU's. */
enum dm_hpet_flavor {
	DM_HPET_DATASHEET, /* IA-PC HPET 1.0a */
	DM_HPET_QEMU,	   /* hw/timer/hpet.c */
};

/* Whose LAPIC arithmetic and access corners apply (docs/devices/lapic.md). */
enum dm_lapic_flavor {
	DM_LAPIC_DATASHEET, /* Intel SDM vol. 3 ch. 11 */
	DM_LAPIC_KVM,	    /* arch/x86/kvm/lapic.c */
};

/* How a lowest-priority message picks its one destination. */
enum dm_lapic_lowest {
	DM_LAPIC_LOWEST_APR,  /* focus, then lowest APR, then lowest APIC ID */
	DM_LAPIC_LOWEST_HASH, /* KVM vector hashing: (vector mod k)-th */
};

/* Whose MC146818 RTC corners apply (docs/devices/rtc.md); KVM has none. */
enum dm_rtc_flavor {
	DM_RTC_DATASHEET, /* Motorola MC146818A */
	DM_RTC_QEMU,	  /* hw/rtc/mc146818rtc.c */
};

/* Whose ACPI PM1/PM timer corners apply (docs/devices/pmtimer.md). */
enum dm_pmtimer_flavor {
	DM_PMTIMER_DATASHEET, /* ACPI 4.8, PIIX4/ICH9 */
	DM_PMTIMER_QEMU,      /* hw/acpi/core.c */
};

struct dm_config {
	uint32_t profile; /* enum dm_profile */
	uint32_t chipset; /* enum dm_chipset */
	uint32_t vcpus;
	uint64_t pit_hz;
	uint32_t pit_flavor;	    /* enum dm_pit_flavor */
	uint32_t pit_min_period_us; /* KVM min_timer_period_us clamp */
	bool pit_reinject;	    /* KVM reinject mode for counter 0 */
	bool pit_qemu_reset;	    /* QEMU's reset state put into KVM's PIT */
	bool pit_inta_ack;	    /* an 8259 INTA of IRQ0 rearms reinject */
	uint64_t pit_start_ns;	    /* ... at this virtual time */
	bool pit_irq0;		    /* OUT0 drives ISA IRQ0 */
	uint64_t pit_irq0_late_ns; /* off: a trace raise's bound after a tick */
	uint64_t pmtimer_hz;
	uint32_t pmtimer_flavor;   /* enum dm_pmtimer_flavor */
	bool pmtimer_32bit;	   /* TMR_VAL_EXT: 32-bit PM_TMR */
	uint64_t pmtimer_start_ns; /* the counter's 0 */
	uint32_t pmbase;	   /* PM1/PM_TMR block; 0 = chipset default */
	uint32_t rtc_flavor;	   /* enum dm_rtc_flavor */
	uint64_t rtc_epoch;	   /* unix seconds shown at virtual time 0 */
	uint32_t rtc_epoch_ns; /* ... and the fraction of a second past it */
	bool rtc_irq;	       /* the RTC drives IRQ8 */
	bool rtc_pf_trace;     /* PF sets at the trace's IRQ8 raises */
	bool rtc_uf_trace;     /* updates wait for the trace's main loop */
	uint64_t hpet_hz;
	uint32_t hpet_timers;	 /* 3..32 */
	uint32_t hpet_flavor;	 /* enum dm_hpet_flavor */
	uint32_t hpet_route_cap; /* Tn_INT_ROUTE_CAP; 0 = chipset default */
	bool hpet_fsb;		 /* Tn_FSB_INT_DEL_CAP */
	bool hpet_present;	 /* the HPET's MMIO block is decoded */
	bool hpet_irq;		 /* the HPET drives its interrupt lines */
	uint64_t lapic_hz;
	uint64_t tsc_hz;
	uint32_t lapic_flavor;	      /* enum dm_lapic_flavor */
	uint32_t lapic_lvts;	      /* 6, or 7 with CMCI */
	uint32_t lapic_min_period_us; /* KVM periodic-timer clamp */
	uint32_t lapic_lowest;	      /* enum dm_lapic_lowest */
	uint32_t lapic_maxphyaddr;    /* IA32_APIC_BASE reserved bits */
	bool lapic_x2apic;	      /* CPUID.01H:ECX[21] */
	bool lapic_directed_eoi;      /* VER[24]: SVR[12] writable */
	bool lapic_esr;		      /* errors are recorded in the ESR */
	bool lapic_apr_zero;	      /* APR reads 0 (KVM) */
	bool lapic_lint0_reenabled;   /* KVM quirk: BSP LVT0 = 0x700 */
	bool lapic_svr_masks;	      /* software disable masks the LVTs */
	bool lapic_bsp_writable;      /* guest may change APIC_BASE[8] */
	bool lapic_ap_init_first;     /* APs need INIT before SIPI */
	uint32_t ioapic_version;      /* 0x11 (82093AA) or 0x20 (ICH) */
	uint32_t ioapic_flavor;	      /* enum dm_ioapic_flavor */
	uint32_t pic_flavor;	      /* enum dm_pic_flavor */
};

/* Fills cfg with the defaults of a profile. */
void dm_config_defaults(struct dm_config *cfg, enum dm_profile profile);

/*
 * Applies whitespace-separated key=value options, as written on a trace's
 * "machine" line or the command line.  A profile= option resets every
 * option to that profile's defaults, so it is honoured only as the first
 * option.  Errors name the option.
 */
int dm_config_parse(struct dm_config *cfg, const char *text,
		    struct dm_error *err);

/* Canonical "key=value ..." form of every option; returns snprintf's
 * would-be length. */
size_t dm_config_format(const struct dm_config *cfg, char *buf, size_t cap);

/* Writes the option table as a Markdown table (for docs/profiles.md). */
void dm_config_doc(void (*emit)(const char *line, void *ctx), void *ctx);

const char *dm_profile_name(enum dm_profile p);

#endif
