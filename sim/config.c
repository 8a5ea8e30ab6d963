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

static const char *const profile_names[] = {"datasheet", "kvm", "qemu", NULL};
static const char *const chipset_names[] = {"pc", "q35", NULL};
static const char *const pit_flavor_names[] = {"datasheet", "kvm", "qemu",
					       NULL};
static const char *const ioapic_flavor_names[] = {"datasheet", "kvm", "qemu",
						  NULL};
static const char *const pic_flavor_names[] = {"datasheet", "kvm", "qemu",
					       NULL};
static const char *const hpet_flavor_names[] = {"datasheet", "qemu", NULL};
static const char *const rtc_flavor_names[] = {"datasheet", "qemu", NULL};
static const char *const pmtimer_flavor_names[] = {"datasheet", "qemu", NULL};
static const char *const lapic_flavor_names[] = {"datasheet", "kvm", NULL};
static const char *const lapic_lowest_names[] = {"apr", "hash", NULL};

#define OFF(member) offsetof(struct dm_config, member)

/*
 * The option table.  Defaults are listed per profile: datasheet, kvm, qemu.
 * The QEMU profile describes QEMU with kernel-irqchip=off for the devices
 * QEMU models itself; QEMU-with-KVM guests use the kvm profile.
 */
/* One option per row reads better than one field per line. */
/* clang-format off */
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
	{ "pit_inta_ack", OPT_BOOL, OFF(pit_inta_ack), 0, 1, NULL,
	  { 0, 0, 0 },
	  "kvm PIT, reinject: a vcpu taking IRQ0 from the 8259 (its INTA) "
	  "lets the next tick inject without waiting for the EOI, the ticks "
	  "held for reinjection unchanged (KVM's kvm_pvm backend, which "
	  "`dmsim import ftrace` sets; upstream KVM waits for the EOI)" },
	{ "pit_qemu_reset", OPT_BOOL, OFF(pit_qemu_reset), 0, 1, NULL,
	  { 0, 0, 0 },
	  "kvm PIT under QEMU: every counter starts in mode 3 with count "
	  "65536, loaded at pit_start_ns (QEMU puts its reset state into KVM "
	  "when the VM starts; KVM alone resets to mode 0xff), and port 0x61 "
	  "is QEMU's pcspk (KVM_PIT_SPEAKER_DUMMY): bit 4 toggles on every "
	  "read, and every write sets GATE2 with KVM_GET_PIT2 and "
	  "KVM_SET_PIT2, which reload every counter's count from that "
	  "instant" },
	{ "pit_start_ns", OPT_U64, OFF(pit_start_ns), 0, UINT64_MAX / 2, NULL,
	  { 0, 0, 0 },
	  "pit_qemu_reset: virtual time of that load (QEMU: the VM's start)" },
	{ "pit_irq0", OPT_BOOL, OFF(pit_irq0), 0, 1, NULL, { 1, 1, 1 },
	  "the PIT's OUT0 drives ISA IRQ0; off: IRQ0 comes only from the "
	  "trace's dev irq 0 events (captures where KVM's kthread injected "
	  "PIT ticks at host-scheduled times)" },
	{ "pit_irq0_late_ns", OPT_U64, OFF(pit_irq0_late_ns), 0,
	  UINT64_MAX / 2, NULL, { 0, 0, 0 },
	  "pit_irq0=off, when not 0: each raise of IRQ0 by the trace must "
	  "answer the ticks of the PIT model (its OUT0 raises) waiting, the "
	  "oldest at most this late, and no tick may go unanswered (KVM's "
	  "kvm-pit thread and QEMU's main loop raise it late, once for "
	  "several); late until the kvm-pit thread's wake-up where the "
	  "trace has it (dev thread 1), not its raise" },
	{ "pmtimer_hz", OPT_U64, OFF(pmtimer_hz), 1, 1000000000, NULL,
	  { 3579545, 3579545, 3579545 }, "ACPI PM timer clock" },
	{ "pmtimer", OPT_ENUM, OFF(pmtimer_flavor), 0, 1, pmtimer_flavor_names,
	  { DM_PMTIMER_DATASHEET, DM_PMTIMER_QEMU, DM_PMTIMER_QEMU },
	  "ACPI PM1 block corners: datasheet (ACPI, PIIX4/ICH9) or QEMU "
	  "hw/acpi/core.c (SCI without SCI_EN, TMR_STS set at reset, "
	  "all PM1_EN/PM1_CNT bits stored); KVM guests use QEMU's" },
	{ "pmtimer_32bit", OPT_BOOL, OFF(pmtimer_32bit), 0, 1, NULL,
	  { 0, 0, 0 },
	  "PM_TMR is 32 bits wide (FADT TMR_VAL_EXT); QEMU's is 24" },
	{ "pmtimer_start_ns", OPT_U64, OFF(pmtimer_start_ns), 0, UINT64_MAX / 2,
	  NULL, { 0, 0, 0 },
	  "virtual time at which PM_TMR reads 0 (QEMU: its virtual clock's "
	  "start, when the VM first runs)" },
	{ "pmbase", OPT_U32, OFF(pmbase), 0, 0xfff4, NULL, { 0, 0, 0 },
	  "I/O base of the PM1/PM_TMR block; 0 = chipset default (pc 0xb000, "
	  "q35 0x600)" },
	{ "rtc", OPT_ENUM, OFF(rtc_flavor), 0, 1, rtc_flavor_names,
	  { DM_RTC_DATASHEET, DM_RTC_QEMU, DM_RTC_QEMU },
	  "MC146818 RTC corners: datasheet (MC146818A) or QEMU "
	  "hw/rtc/mc146818rtc.c (periodic only with PIE, instant update, "
	  "reset, century byte); KVM guests use QEMU's" },
	{ "rtc_epoch", OPT_U64, OFF(rtc_epoch), 0, 253402300799ULL, NULL,
	  { 946684800, 946684800, 946684800 },
	  "RTC date and time at virtual time 0, in unix seconds (default "
	  "2000-01-01T00:00:00Z)" },
	{ "rtc_epoch_ns", OPT_U32, OFF(rtc_epoch_ns), 0, 999999999, NULL,
	  { 0, 0, 0 },
	  "nanoseconds of the RTC's current second already past at virtual "
	  "time 0: its seconds change at whole seconds minus this (QEMU's RTC "
	  "counts from the host clock's instant at its start)" },
	{ "rtc_irq", OPT_BOOL, OFF(rtc_irq), 0, 1, NULL, { 1, 1, 1 },
	  "the RTC drives IRQ8; off: IRQ8 comes only from the trace's dev irq "
	  "events (KVM captures, where QEMU's main loop fired the RTC's "
	  "timers late)" },
	{ "rtc_pf_trace", OPT_BOOL, OFF(rtc_pf_trace), 0, 1, NULL, { 0, 0, 0 },
	  "Register C's PF sets when the trace's dev irq 8 rises while PIE is "
	  "set, not at the model's periodic ticks (KVM captures: QEMU sets PF "
	  "in its periodic timer's callback, late, and raises IRQ8 then)" },
	{ "rtc_uf_trace", OPT_BOOL, OFF(rtc_uf_trace), 0, 1, NULL, { 0, 1, 1 },
	  "qemu RTC: an update due while the trace's VMM main loop thread is "
	  "off its CPU (dev thread 0 0) holds UIP set and UF clear until that "
	  "thread runs again (QEMU runs its update timer in its main loop and "
	  "latches UIP until then); without such events updates are on time" },
	{ "hpet_hz", OPT_U64, OFF(hpet_hz), 1, 1000000000, NULL,
	  { 100000000, 100000000, 100000000 },
	  "HPET main counter clock (QEMU: 100 MHz; ICH: 14318180)" },
	{ "hpet_timers", OPT_U32, OFF(hpet_timers), 3, 32, NULL, { 3, 3, 3 },
	  "number of HPET timers (QEMU property timers)" },
	{ "hpet", OPT_ENUM, OFF(hpet_flavor), 0, 1, hpet_flavor_names,
	  { DM_HPET_DATASHEET, DM_HPET_QEMU, DM_HPET_QEMU },
	  "HPET corner cases: IA-PC HPET 1.0a, or QEMU hw/timer/hpet.c (KVM "
	  "guests use QEMU's HPET)" },
	{ "hpet_route_cap", OPT_U32, OFF(hpet_route_cap), 0, 0xffffffff, NULL,
	  { 0, 0, 0 },
	  "HPET Tn_INT_ROUTE_CAP; 0 = by chipset: q35 0x00ff0104, pc "
	  "0x00ff0004 (qemu flavour: 0x4 as QEMU)" },
	{ "hpet_fsb", OPT_BOOL, OFF(hpet_fsb), 0, 1, NULL, { 1, 0, 0 },
	  "HPET timers can deliver FSB (MSI) messages (QEMU: msi=off)" },
	{ "hpet_present", OPT_BOOL, OFF(hpet_present), 0, 1, NULL, { 1, 1, 1 },
	  "the board has an HPET (off: QEMU's -no-hpet / hpet=off; its "
	  "registers read as all ones)" },
	{ "hpet_irq", OPT_BOOL, OFF(hpet_irq), 0, 1, NULL, { 1, 1, 1 },
	  "the HPET's timers drive their interrupt lines; off: those lines "
	  "come only from the trace's dev irq events (captures where QEMU's "
	  "timer callbacks raised them at host-scheduled times)" },
	{ "lapic_hz", OPT_U64, OFF(lapic_hz), 1, 1000000000000ULL, NULL,
	  { 1000000000, 1000000000, 1000000000 },
	  "LAPIC timer bus clock (KVM: 1 GHz)" },
	{ "tsc_hz", OPT_U64, OFF(tsc_hz), 1, 100000000000ULL, NULL,
	  { 2000000000, 2000000000, 2000000000 }, "TSC rate" },
	{ "lapic", OPT_ENUM, OFF(lapic_flavor), 0, 1, lapic_flavor_names,
	  { DM_LAPIC_DATASHEET, DM_LAPIC_KVM, DM_LAPIC_DATASHEET },
	  "LAPIC corner cases: datasheet (SDM) or KVM lapic.c (timer "
	  "arithmetic, LVT write masks, spurious and illegal vectors, "
	  "hardware disable, x2APIC EOI, ExtINT messages, edge EOIs, "
	  "destination quirks); qemu uses the datasheet model" },
	{ "lapic_lvts", OPT_U32, OFF(lapic_lvts), 6, 7, NULL, { 6, 6, 6 },
	  "LAPIC LVT entries: 6, or 7 with LVT CMCI (KVM: MCG_CAP.CMCI_P)" },
	{ "lapic_min_period_us", OPT_U32, OFF(lapic_min_period_us), 0, 1000000,
	  NULL, { 0, 200, 0 },
	  "lapic=kvm: lower clamp on periodic LAPIC timers (KVM "
	  "min_timer_period_us)" },
	{ "lapic_lowest", OPT_ENUM, OFF(lapic_lowest), 0, 1, lapic_lowest_names,
	  { DM_LAPIC_LOWEST_APR, DM_LAPIC_LOWEST_HASH, DM_LAPIC_LOWEST_APR },
	  "lowest-priority arbitration: apr (focus, lowest APR, lowest ID) or "
	  "hash (KVM vector hashing)" },
	{ "lapic_maxphyaddr", OPT_U32, OFF(lapic_maxphyaddr), 36, 52, NULL,
	  { 40, 40, 40 },
	  "MAXPHYADDR: IA32_APIC_BASE bits from here up are reserved" },
	{ "lapic_x2apic", OPT_BOOL, OFF(lapic_x2apic), 0, 1, NULL, { 1, 1, 1 },
	  "CPUID reports x2APIC, so IA32_APIC_BASE.EXTD is writable" },
	{ "lapic_directed_eoi", OPT_BOOL, OFF(lapic_directed_eoi), 0, 1, NULL,
	  { 0, 0, 0 },
	  "LAPIC VER[24]: SVR[12] suppresses the EOI broadcast (KVM: only "
	  "x2APIC guests with a split irqchip)" },
	{ "lapic_esr", OPT_BOOL, OFF(lapic_esr), 0, 1, NULL, { 1, 0, 1 },
	  "LAPIC records errors in the ESR (KVM never does)" },
	{ "lapic_apr_zero", OPT_BOOL, OFF(lapic_apr_zero), 0, 1, NULL,
	  { 0, 1, 0 }, "LAPIC APR reads 0 (KVM)" },
	{ "lapic_lint0_reenabled", OPT_BOOL, OFF(lapic_lint0_reenabled), 0, 1,
	  NULL, { 0, 1, 0 },
	  "KVM_X86_QUIRK_LINT0_REENABLED: the BSP's LVT0 is 0x700 (ExtINT, "
	  "unmasked) after RESET and INIT" },
	{ "lapic_svr_masks", OPT_BOOL, OFF(lapic_svr_masks), 0, 1, NULL,
	  { 1, 1, 0 },
	  "software-disabling the LAPIC (SVR[8] clear) masks every LVT and "
	  "LVT writes stay masked (SDM, KVM); off: QEMU's apic.c keeps the "
	  "LVTs as written, so LINT0 still passes the 8259's interrupts" },
	{ "lapic_bsp_writable", OPT_BOOL, OFF(lapic_bsp_writable), 0, 1, NULL,
	  { 0, 1, 0 }, "the guest may change IA32_APIC_BASE.BSP (KVM)" },
	{ "lapic_ap_init_first", OPT_BOOL, OFF(lapic_ap_init_first), 0, 1, NULL,
	  { 0, 1, 0 },
	  "APs power up needing an INIT before a SIPI is honoured (KVM "
	  "KVM_MP_STATE_UNINITIALIZED)" },
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
/* clang-format on */

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
			return dm_errorf(err, "option '%.32s...' is too long",
					 p);
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
				return dm_errorf(
					err, "option profile must come first");
			dm_config_defaults(cfg, (enum dm_profile)v);
		} else {
			opt_store(cfg, o, v);
		}
		first = 0;
	}
}

/* Appends s at buf[n] within cap (NUL-terminated); returns the new n. */
static size_t append(char *buf, size_t cap, size_t n, const char *s)
{
	for (; *s; s++, n++)
		if (n + 1 < cap)
			buf[n] = *s;
	if (cap)
		buf[n < cap ? n : cap - 1] = '\0';
	return n;
}

/*
 * Formats by hand rather than with snprintf: a machine formats its options
 * whenever it is built, and the migration check builds one per event.
 */
size_t dm_config_format(const struct dm_config *cfg, char *buf, size_t cap)
{
	size_t n = 0;

	if (cap)
		buf[0] = '\0';
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &options[i];
		uint64_t v = opt_load(cfg, o);
		char num[24], *p = num + sizeof(num) - 1;

		if (i)
			n = append(buf, cap, n, " ");
		n = append(buf, cap, n, o->name);
		n = append(buf, cap, n, "=");
		if (o->type == OPT_ENUM) {
			n = append(buf, cap, n, o->names[v]);
			continue;
		}
		if (o->type == OPT_BOOL) {
			n = append(buf, cap, n, v ? "on" : "off");
			continue;
		}
		*p = '\0';
		do
			*--p = (char)('0' + v % 10);
		while (v /= 10);
		n = append(buf, cap, n, p);
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
