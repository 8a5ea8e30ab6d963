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
	DM_PIT_QEMU,	  /* hw/timer/i8254.c (QEMU's own, kernel-irqchip=off) */
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

struct dm_config {
	uint32_t profile; /* enum dm_profile */
	uint32_t chipset; /* enum dm_chipset */
	uint32_t vcpus;
	uint64_t pit_hz;
	uint32_t pit_flavor; /* enum dm_pit_flavor */
	uint32_t pit_min_period_us; /* KVM min_timer_period_us clamp */
	bool pit_reinject;	    /* KVM reinject mode for counter 0 */
	uint64_t pmtimer_hz;
	uint64_t hpet_hz;
	uint64_t lapic_hz;
	uint64_t tsc_hz;
	uint32_t ioapic_version; /* 0x11 (82093AA) or 0x20 (ICH) */
	uint32_t ioapic_flavor;	 /* enum dm_ioapic_flavor */
	uint32_t pic_flavor;	 /* enum dm_pic_flavor */
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
