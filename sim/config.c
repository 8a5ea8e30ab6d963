// SPDX-License-Identifier: MIT
#include "sim/config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum opt_type { OPT_U32, OPT_U64, OPT_BOOL, OPT_ENUM };

struct opt {
	const char *name;
	enum opt_type type;
	size_t offset;
	uint64_t min, max;
	const char *const *names; /* OPT_ENUM: value -> name */
	uint64_t defaults[DM_PROFILE_COUNT];
	const char *doc;
};

static const char *const profile_names[] = { "datasheet", "kvm", "qemu",
					     NULL };
static const char *const chipset_names[] = { "pc", "q35", NULL };
static const char *const pit_flavor_names[] = { "datasheet", "kvm", "qemu",
						NULL };
static const char *const ioapic_flavor_names[] = { "datasheet", "kvm",
						   "qemu", NULL };
static const char *const pic_flavor_names[] = { "datasheet", "kvm", "qemu",
						NULL };

#define OFF(member) offsetof(struct dm_config, member)

/*
 * The option table.  Defaults are listed per profile: datasheet, kvm, qemu.
 * The QEMU profile describes QEMU with kernel-irqchip=off for the devices
 * QEMU models itself; QEMU-with-KVM guests use the kvm profile.
 */
static const struct opt options[] = {
	{ "profile", OPT_ENUM, OFF(profile), 0, 2, profile_names,
	  { DM_PROFILE_DATASHEET, DM_PROFILE_KVM, DM_PROFILE_QEMU },
	  "set of defaults below; must come first" },
	{ "chipset", OPT_ENUM, OFF(chipset), 0, 1, chipset_names,
	  { DM_CHIPSET_PC, DM_CHIPSET_PC, DM_CHIPSET_PC },
	  "pc (i440FX/PIIX) or q35 (ICH9) wiring" },
	{ "vcpus", OPT_U32, OFF(vcpus), 1, 256, NULL, { 1, 1, 1 },
	  "number of vcpus" },
	{ "pit_hz", OPT_U64, OFF(pit_hz), 1, 1000000000, NULL,
	  { 1193182, 1193181, 1193182 },
	  "8254 input clock (14.31818 MHz / 12; KVM uses 1193181)" },
	{ "pit", OPT_ENUM, OFF(pit_flavor), 0, 2, pit_flavor_names,
	  { DM_PIT_DATASHEET, DM_PIT_KVM, DM_PIT_QEMU },
	  "8254 arithmetic: datasheet CLK edges, KVM i8254.c or QEMU "
	  "i8254.c" },
	{ "pit_min_period_us", OPT_U32, OFF(pit_min_period_us), 0, 1000000,
	  NULL, { 0, 200, 0 },
	  "kvm PIT: lower clamp on periodic counter-0 interrupts (KVM "
	  "min_timer_period_us)" },
	{ "pit_reinject", OPT_BOOL, OFF(pit_reinject), 0, 1, NULL, { 0, 1, 0 },
	  "kvm PIT: hold each counter-0 tick until the previous IRQ0 is "
	  "acknowledged (KVM reinject mode)" },
	{ "pmtimer_hz", OPT_U64, OFF(pmtimer_hz), 1, 1000000000, NULL,
	  { 3579545, 3579545, 3579545 }, "ACPI PM timer clock" },
	{ "hpet_hz", OPT_U64, OFF(hpet_hz), 1, 1000000000, NULL,
	  { 100000000, 100000000, 100000000 },
	  "HPET main counter clock (QEMU: 100 MHz; ICH: 14318180)" },
	{ "lapic_hz", OPT_U64, OFF(lapic_hz), 1, 1000000000000ULL, NULL,
	  { 1000000000, 1000000000, 1000000000 },
	  "LAPIC timer bus clock (KVM: 1 GHz)" },
	{ "tsc_hz", OPT_U64, OFF(tsc_hz), 1, 100000000000ULL, NULL,
	  { 2000000000, 2000000000, 2000000000 }, "TSC rate" },
	{ "ioapic_version", OPT_U32, OFF(ioapic_version), 0x11, 0x20, NULL,
	  { 0x20, 0x11, 0x20 },
	  "IOAPIC VER bits 7:0: 0x11 (82093AA, no EOI register) or 0x20 "
	  "(ICH, EOI register at 0x40); KVM reports 0x11, QEMU 0x20" },
	{ "ioapic", OPT_ENUM, OFF(ioapic_flavor), 0, 2, ioapic_flavor_names,
	  { DM_IOAPIC_DATASHEET, DM_IOAPIC_KVM, DM_IOAPIC_QEMU },
	  "IOAPIC corner cases: datasheet (82093AA/ICH), KVM ioapic.c or "
	  "QEMU ioapic.c (polarity, undefined indices, access sizes, "
	  "re-service, EOI throttle, reset)" },
	{ "pic", OPT_ENUM, OFF(pic_flavor), 0, 2, pic_flavor_names,
	  { DM_PIC_DATASHEET, DM_PIC_KVM, DM_PIC_QEMU },
	  "8259A corner cases: datasheet (8259A + PIIX ELCR), KVM i8259.c or "
	  "QEMU i8259.c (edge latch, ICW1 resets, SNGL, LTIM, special mask, "
	  "poll, cascade, wide accesses)" },
};

#define NOPTS (sizeof(options) / sizeof(options[0]))

static void opt_store(struct dm_config *cfg, const struct opt *o, uint64_t v)
{
	char *p = (char *)cfg + o->offset;

	switch (o->type) {
	case OPT_U64:
		*(uint64_t *)p = v;
		break;
	case OPT_BOOL:
		*(bool *)p = v != 0;
		break;
	case OPT_U32:
	case OPT_ENUM:
		*(uint32_t *)p = (uint32_t)v;
		break;
	}
}

static uint64_t opt_load(const struct dm_config *cfg, const struct opt *o)
{
	const char *p = (const char *)cfg + o->offset;

	switch (o->type) {
	case OPT_U64:
		return *(const uint64_t *)p;
	case OPT_BOOL:
		return *(const bool *)p;
	case OPT_U32:
	case OPT_ENUM:
		return *(const uint32_t *)p;
	}
	return 0;
}

void dm_config_defaults(struct dm_config *cfg, enum dm_profile profile)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < NOPTS; i++)
		opt_store(cfg, &options[i], options[i].defaults[profile]);
}

const char *dm_profile_name(enum dm_profile p)
{
	return p < DM_PROFILE_COUNT ? profile_names[p] : "?";
}

static const struct opt *opt_find(const char *name, size_t len)
{
	for (size_t i = 0; i < NOPTS; i++)
		if (strlen(options[i].name) == len &&
		    !memcmp(options[i].name, name, len))
			return &options[i];
	return NULL;
}

static int parse_value(const struct opt *o, const char *s, uint64_t *out,
		       struct dm_error *err)
{
	char *end;

	if (o->type == OPT_ENUM) {
		for (uint64_t v = 0; o->names[v]; v++)
			if (!strcmp(o->names[v], s)) {
				*out = v;
				return 0;
			}
		return dm_errorf(err, "option %s: unknown value '%s'", o->name,
				 s);
	}
	if (o->type == OPT_BOOL) {
		if (!strcmp(s, "on") || !strcmp(s, "1") || !strcmp(s, "true")) {
			*out = 1;
			return 0;
		}
		if (!strcmp(s, "off") || !strcmp(s, "0") ||
		    !strcmp(s, "false")) {
			*out = 0;
			return 0;
		}
		return dm_errorf(err, "option %s: expected on or off, got '%s'",
				 o->name, s);
	}
	errno = 0;
	if (*s == '-' || *s == '\0')
		return dm_errorf(err, "option %s: bad number '%s'", o->name, s);
	*out = strtoull(s, &end, 0);
	if (errno || *end)
		return dm_errorf(err, "option %s: bad number '%s'", o->name, s);
	if (*out < o->min || *out > o->max)
		return dm_errorf(err,
				 "option %s: %s is out of range [%" PRIu64
				 ", %" PRIu64 "]",
				 o->name, s, o->min, o->max);
	return 0;
}

int dm_config_parse(struct dm_config *cfg, const char *text,
		    struct dm_error *err)
{
	const char *p = text;
	int first = 1;

	for (;;) {
		char tok[128];
		size_t len;
		const char *eq;
		const struct opt *o;
		uint64_t v = 0;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '\n')
			return 0;
		len = strcspn(p, " \t\n");
		if (len >= sizeof(tok))
			return dm_errorf(err, "option '%.32s...' is too long", p);
		memcpy(tok, p, len);
		tok[len] = '\0';
		p += len;
		eq = strchr(tok, '=');
		if (!eq)
			return dm_errorf(err, "option '%s' is not key=value",
					 tok);
		o = opt_find(tok, (size_t)(eq - tok));
		if (!o)
			return dm_errorf(err, "unknown option '%.*s'",
					 (int)(eq - tok), tok);
		if (parse_value(o, eq + 1, &v, err))
			return -1;
		if (o->offset == OFF(profile)) {
			if (!first)
				return dm_errorf(err,
						 "option profile must come first");
			dm_config_defaults(cfg, (enum dm_profile)v);
		} else {
			opt_store(cfg, o, v);
		}
		first = 0;
	}
}

size_t dm_config_format(const struct dm_config *cfg, char *buf, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &options[i];
		uint64_t v = opt_load(cfg, o);
		char val[32];
		int w;

		if (o->type == OPT_ENUM)
			snprintf(val, sizeof(val), "%s", o->names[v]);
		else if (o->type == OPT_BOOL)
			snprintf(val, sizeof(val), "%s", v ? "on" : "off");
		else
			snprintf(val, sizeof(val), "%" PRIu64, v);
		w = snprintf(buf + (n < cap ? n : cap), n < cap ? cap - n : 0,
			     "%s%s=%s", i ? " " : "", o->name, val);
		n += (size_t)w;
	}
	return n;
}

static void format_default(const struct opt *o, uint64_t v, char *buf,
			   size_t cap)
{
	if (o->type == OPT_ENUM)
		snprintf(buf, cap, "%s", o->names[v]);
	else if (o->type == OPT_BOOL)
		snprintf(buf, cap, "%s", v ? "on" : "off");
	else
		snprintf(buf, cap, "%" PRIu64, v);
}

void dm_config_doc(void (*emit)(const char *line, void *ctx), void *ctx)
{
	char line[1024];

	emit("| option | datasheet | kvm | qemu | meaning |", ctx);
	emit("|---|---|---|---|---|", ctx);
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &options[i];
		char d[3][32];

		for (int p = 0; p < DM_PROFILE_COUNT; p++)
			format_default(o, o->defaults[p], d[p], sizeof(d[p]));
		snprintf(line, sizeof(line), "| `%s` | %s | %s | %s | %s |",
			 o->name, d[0], d[1], d[2], o->doc);
		emit(line, ctx);
	}
}
