// SPDX-License-Identifier: MIT
/*
 * The PC board: device ownership, IRQ wiring, access dispatch and
 * checkpoints.  Wiring follows SPEC-NOTES section 8.
 */
#include "sim/machine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "sim/bytes.h"

static const struct dm_field clock_fields[] = {
	DM_U64(struct dm_machine_clock, now, 1, UINT64_MAX),
};

const struct dm_state_desc dm_machine_clock_desc =
	DM_STATE_DESC("clock", 1, struct dm_machine_clock, clock_fields);

/* Version 2: the clock (field 1) became a device of its own. */
static const struct dm_field machine_fields[] = {
	DM_ARRAY(DM_FT_U32, struct dm_machine_state, isa_src, 2,
		 (1u << DM_SRC_COUNT) - 1, DM_FF_HEX),
	DM_ARRAY(DM_FT_U32, struct dm_machine_state, pin_src, 3,
		 (1u << DM_SRC_COUNT) - 1, DM_FF_HEX),
	DM_X16(struct dm_machine_state, pic_in, 4),
	DM_SCALAR(DM_FT_U32, struct dm_machine_state, pin_in, 5,
		  (1ULL << DM_GSIS) - 1, DM_FF_HEX),
	DM_BOOL(struct dm_machine_state, hpet_legacy, 6),
	DM_ARRAY(DM_FT_U32, struct dm_machine_state, signal, 7,
		 (DM_MAX_VCPUS - 1) << 12 | DM_VCPU_SMI << 8 | 0xff, DM_FF_HEX),
	DM_U8(struct dm_machine_state, nsignals, 8, DM_SIGNALS),
	DM_U32(struct dm_machine_state, signals_dropped, 9, UINT32_MAX),
	DM_ARRAY(DM_FT_U64, struct dm_machine_state, pit_tick, 10, UINT64_MAX,
		 0),
	DM_U8(struct dm_machine_state, npit_ticks, 11, DM_PIT_TICKS),
	DM_U32(struct dm_machine_state, pit_ticks_lost, 12, UINT32_MAX),
	DM_BOOL(struct dm_machine_state, pit_worker_ready, 13),
	DM_U64(struct dm_machine_state, pit_worker_since, 14, UINT64_MAX),
};

/* Unused queue slots are zero, so equal queues encode equally; ticks
 * wait oldest first. */
static int machine_validate(const void *state, struct dm_error *err)
{
	const struct dm_machine_state *ms = state;

	for (unsigned i = ms->nsignals; i < DM_SIGNALS; i++)
		if (ms->signal[i])
			return dm_errorf(err,
					 "signal[%u]: 0x%x beyond the %u "
					 "queued signals",
					 i, ms->signal[i], ms->nsignals);
	for (unsigned i = 1; i < ms->npit_ticks; i++)
		if (ms->pit_tick[i] < ms->pit_tick[i - 1])
			return dm_errorf(err,
					 "pit_tick[%u]: %llu before the "
					 "tick ahead of it",
					 i,
					 (unsigned long long)ms->pit_tick[i]);
	for (unsigned i = ms->npit_ticks; i < DM_PIT_TICKS; i++)
		if (ms->pit_tick[i])
			return dm_errorf(err,
					 "pit_tick[%u]: set beyond the %u "
					 "waiting ticks",
					 i, ms->npit_ticks);
	if (!ms->pit_worker_ready && ms->pit_worker_since)
		return dm_errorf(err,
				 "pit_worker_since: %llu while the PIT "
				 "worker sleeps",
				 (unsigned long long)ms->pit_worker_since);
	return 0;
}

const struct dm_state_desc dm_machine_state_desc =
	DM_STATE_DESC("machine", 3, struct dm_machine_state, machine_fields,
		      .validate = machine_validate);

/* ---- interrupt lines ------------------------------------------------- */

/* Sources the HPET's legacy replacement disconnects from an ISA IRQ. */
static uint32_t legacy_gated(const struct dm_machine *m, unsigned irq)
{
	if (!m->ms.hpet_legacy)
		return 0;
	if (irq == 0)
		return 1u << DM_SRC_PIT;
	if (irq == 8)
		return 1u << DM_SRC_RTC;
	return 0;
}

bool dm_machine_isa_level(const struct dm_machine *m, unsigned irq)
{
	return irq < DM_ISA_IRQS &&
	       (m->ms.isa_src[irq] & ~legacy_gated(m, irq)) != 0;
}

/* The ISA IRQ wired to an IOAPIC pin (-1: none): IRQ0 -> pin 2. */
static int isa_of_pin(unsigned pin)
{
	if (pin == 2)
		return 0;
	if (pin == 0 || pin >= DM_ISA_IRQS)
		return -1;
	return (int)pin;
}

static bool pin_level(const struct dm_machine *m, unsigned pin)
{
	int irq = isa_of_pin(pin);

	return m->ms.pin_src[pin] != 0 ||
	       (irq >= 0 && dm_machine_isa_level(m, (unsigned)irq));
}

/*
 * Drives the interrupt controllers' inputs to the levels the line sources
 * now give, changed inputs only, so no controller sees a repeated edge.
 */
static void drive_inputs(struct dm_machine *m, uint64_t now)
{
	for (unsigned irq = 0; irq < DM_ISA_IRQS; irq++) {
		bool level = dm_machine_isa_level(m, irq);

		if (level == ((m->ms.pic_in >> irq) & 1))
			continue;
		m->ms.pic_in ^= (uint16_t)(1u << irq);
		dm_pic_set_irq(&m->pic, now, irq, level);
	}
	for (unsigned pin = 0; pin < DM_GSIS; pin++) {
		bool level = pin_level(m, pin);

		if (level == ((m->ms.pin_in >> pin) & 1))
			continue;
		m->ms.pin_in ^= 1u << pin;
		dm_ioapic_set_irq(&m->ioapic, now, pin, level);
	}
}

static void set_source(uint32_t *src, enum dm_irq_source who, int level)
{
	if (level)
		*src |= 1u << who;
	else
		*src &= ~(1u << who);
}

static void isa_source(struct dm_machine *m, uint64_t now, unsigned irq,
		       enum dm_irq_source who, int level)
{
	set_source(&m->ms.isa_src[irq], who, level);
	drive_inputs(m, now);
}

/*
 * With pit_irq0=off the trace raises IRQ0 where KVM's kvm-pit thread or
 * QEMU's main loop did, late; with pit_irq0_late_ns the PIT's own raises
 * are kept to check that each of those answers one of them
 * (dm_machine_pit_raised).  Under HPET
 * legacy replacement the PIT's ticks reach nothing.
 */
/* Unused slots stay zero, so equal queues encode equally. */
static void forget_pit_ticks(struct dm_machine_state *ms)
{
	memset(ms->pit_tick, 0, sizeof(ms->pit_tick));
	ms->npit_ticks = 0;
}

static void pit_tick(struct dm_machine_state *ms, uint64_t now)
{
	if (ms->hpet_legacy)
		return;
	if (ms->npit_ticks == DM_PIT_TICKS) {
		memmove(ms->pit_tick, ms->pit_tick + 1,
			(DM_PIT_TICKS - 1) * sizeof(ms->pit_tick[0]));
		ms->npit_ticks--;
		ms->pit_ticks_lost++;
	}
	ms->pit_tick[ms->npit_ticks++] = now;
}

static void pit_out0(void *opaque, uint64_t now, unsigned irq, int level)
{
	struct dm_machine *m = opaque;

	if (m->cfg.pit_irq0)
		isa_source(m, now, irq, DM_SRC_PIT, level);
	else if (level && m->cfg.pit_irq0_late_ns)
		pit_tick(&m->ms, now);
}

bool dm_machine_pit_raised(struct dm_machine *m, uint64_t *late, uint32_t *lost)
{
	struct dm_machine_state *ms = &m->ms;
	uint64_t from;

	/* Before QEMU put its reset state into KVM's PIT, the PIT ran a
	 * state the trace does not show. */
	if (m->cfg.pit_irq0 || !m->cfg.pit_irq0_late_ns || ms->hpet_legacy ||
	    (m->cfg.pit_qemu_reset && m->clock.now < m->cfg.pit_start_ns))
		return false;
	*lost = ms->pit_ticks_lost;
	ms->pit_ticks_lost = 0;
	if (!ms->npit_ticks) {
		*late = UINT64_MAX;
		return true;
	}
	/* The raise answers every tick waiting: KVM's kvm-pit thread runs
	 * its work once for all the injections queued while it waited, and
	 * QEMU's late PIT timer raises the level of the latest instant.
	 * Where the trace says when that thread was woken (by the PIT's
	 * hrtimer, or the guest's acknowledgement in reinject mode), the
	 * PIT answers for the time to its wake-up, not for the host's
	 * scheduling after it; a tick that came while it was runnable
	 * already owes nothing. */
	from = ms->pit_worker_ready ? ms->pit_worker_since : m->clock.now;
	*late = from > ms->pit_tick[0] ? from - ms->pit_tick[0] : 0;
	forget_pit_ticks(ms);
	return true;
}

static void rtc_irq8(void *opaque, uint64_t now, unsigned irq, int level)
{
	struct dm_machine *m = opaque;

	if (m->cfg.rtc_irq)
		isa_source(m, now, irq, DM_SRC_RTC, level);
}

static void pm_sci(void *m, uint64_t now, unsigned irq, int level)
{
	isa_source(m, now, irq, DM_SRC_SCI, level);
}

static void hpet_isa(void *opaque, uint64_t now, unsigned irq, int level)
{
	struct dm_machine *m = opaque;

	if (irq < DM_ISA_IRQS && m->cfg.hpet_irq)
		isa_source(m, now, irq, DM_SRC_HPET, level);
}

static void hpet_pin(void *opaque, uint64_t now, unsigned pin, int level)
{
	struct dm_machine *m = opaque;

	/* INT_ROUTE beyond the IOAPIC's pins reaches nothing. */
	if (pin >= DM_GSIS || !m->cfg.hpet_irq)
		return;
	set_source(&m->ms.pin_src[pin], DM_SRC_HPET, level);
	drive_inputs(m, now);
}

static int hpet_msi(void *opaque, uint64_t now, const struct dm_apic_msg *msg)
{
	struct dm_machine *m = opaque;

	if (!m->cfg.hpet_irq)
		return 0;
	return dm_apicbus_deliver(&m->bus, now, msg);
}

static void hpet_legacy(void *opaque, uint64_t now, unsigned pin, int level)
{
	struct dm_machine *m = opaque;

	(void)pin;
	m->ms.hpet_legacy = level;
	/* QEMU's KVM_PIT_FLAGS_HPET_LEGACY: the PIT injects nothing more,
	 * ticks still waiting included. */
	if (level)
		forget_pit_ticks(&m->ms);
	drive_inputs(m, now);
}

/* 8259 INTR -> LINT0 of the bootstrap vcpu (virtual wire mode A). */
static void pic_intr(void *opaque, uint64_t now, unsigned pin, int level)
{
	struct dm_machine *m = opaque;

	(void)pin;
	dm_lapic_set_lint(&m->lapics[0], now, 0, level);
}

/* The 8259's INTA cycle; KVM's PIT hears IRQ0 taken (pit_inta_ack). */
static int pic_inta(void *opaque, uint64_t now)
{
	struct dm_machine *m = opaque;
	bool irq0 = m->pit.inta_ack && dm_pic_request(&m->pic, 0) == 0;
	int v = dm_pic_intack(&m->pic, now);

	if (irq0)
		dm_pit_irq0_taken(&m->pit);
	return v;
}

static void lapic_eoi(void *opaque, uint64_t now, uint8_t vector)
{
	struct dm_machine *m = opaque;

	dm_ioapic_eoi(&m->ioapic, now, vector);
}

/* KVM reports edge EOIs to its IOAPIC too (its PIT reinject hears them). */
static void lapic_eoi_edge(void *opaque, uint64_t now, uint8_t vector)
{
	struct dm_machine *m = opaque;

	dm_ioapic_eoi_edge(&m->ioapic, now, vector);
}

/* KVM's PIT reinject listens for IRQ0 through the 8259 and pin 2. */
static void pic_acked(void *opaque, uint64_t now, unsigned irq)
{
	struct dm_machine *m = opaque;

	if (irq == 0)
		dm_pit_irq0_acked(&m->pit, now, 0);
}

/* ... and for GSI 0 unmasked at either (its mask notifier). */
static void pic_mask(void *opaque, uint64_t now, unsigned irq, bool masked)
{
	struct dm_machine *m = opaque;

	(void)now;
	if (irq == 0 && !masked)
		dm_pit_irq0_unmasked(&m->pit);
}

static void ioapic_mask(void *opaque, uint64_t now, unsigned pin, bool masked)
{
	struct dm_machine *m = opaque;

	(void)now;
	if (pin == 2 && !masked)
		dm_pit_irq0_unmasked(&m->pit);
}

static void ioapic_acked(void *opaque, uint64_t now, unsigned pin)
{
	struct dm_machine *m = opaque;

	if (pin == 2)
		dm_pit_irq0_acked(&m->pit, now, 0);
}

static void vcpu_signal(void *opaque, uint64_t now, uint32_t vcpu,
			enum dm_vcpu_event ev, uint8_t vector)
{
	struct dm_machine_state *ms = &((struct dm_machine *)opaque)->ms;

	(void)now;
	if (ms->nsignals == DM_SIGNALS) {
		memmove(ms->signal, ms->signal + 1,
			(DM_SIGNALS - 1) * sizeof(ms->signal[0]));
		ms->nsignals--;
		ms->signals_dropped++;
	}
	ms->signal[ms->nsignals++] = vcpu << 12 | (uint32_t)ev << 8 | vector;
}

int dm_machine_take_signal(struct dm_machine *m, uint32_t cpu,
			   enum dm_vcpu_event *ev, uint8_t *vector)
{
	struct dm_machine_state *ms = &m->ms;

	for (unsigned i = 0; i < ms->nsignals; i++) {
		uint32_t s = ms->signal[i];

		if (s >> 12 != cpu)
			continue;
		*ev = (enum dm_vcpu_event)((s >> 8) & 0xf);
		*vector = (uint8_t)s;
		memmove(ms->signal + i, ms->signal + i + 1,
			(ms->nsignals - i - 1) * sizeof(ms->signal[0]));
		ms->signal[--ms->nsignals] = 0;
		return 1;
	}
	return 0;
}

/* LINT0 is an unmasked ExtINT, or the APIC is off and LINT0 is plain
 * INTR (SDM 11.4.3): the vcpu takes the 8259's interrupts. */
static bool lapic_takes_pic(const struct dm_lapic *l)
{
	uint32_t lvt0 = l->lvt[DM_LVT_LINT0];

	return !dm_lapic_hw_enabled(l) ||
	       (!(lvt0 & (1u << 16)) &&
		((lvt0 >> 8) & 7) == DM_DELIVERY_EXTINT);
}

/* KVM asks every vcpu (kvm_apic_accept_pic_intr at the 8259's reset). */
static bool a_vcpu_takes_pic(void *opaque)
{
	const struct dm_machine *m = opaque;

	for (unsigned i = 0; i < m->cfg.vcpus; i++)
		if (lapic_takes_pic(&m->lapics[i]))
			return true;
	return false;
}

/* ---- construction ---------------------------------------------------- */

static void add_device(struct dm_machine *m, const char *name,
		       const struct dm_state_desc *desc, void *state,
		       size_t size)
{
	m->devices[m->ndevices++] =
		(struct dm_device){name, desc, state, size, .live = size};
}

static void map(struct dm_io_region *r, unsigned *n, uint64_t base,
		uint64_t len, dm_io_read_fn rd, dm_io_write_fn wr, void *opaque)
{
	r[(*n)++] = (struct dm_io_region){base, len, rd, wr, opaque};
}

static void map_pio(struct dm_machine *m, uint64_t base, uint64_t len,
		    dm_io_read_fn rd, dm_io_write_fn wr, void *opaque)
{
	map(m->pio, &m->npio, base, len, rd, wr, opaque);
}

static const char *owner(const struct dm_machine *m, const void *opaque)
{
	for (unsigned i = 0; i < m->ndevices; i++)
		if (m->devices[i].state == opaque)
			return m->devices[i].name;
	return "?";
}

/* Movable blocks (pmbase) must not shadow another device's registers. */
static int check_overlaps(const struct dm_machine *m,
			  const struct dm_io_region *r, unsigned n,
			  const char *space, struct dm_error *err)
{
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = i + 1; j < n; j++)
			if (r[i].base < r[j].base + r[j].len &&
			    r[j].base < r[i].base + r[i].len)
				return dm_errorf(
					err,
					"%s 0x%llx-0x%llx (%s) overlaps "
					"0x%llx-0x%llx (%s): check pmbase",
					space, (unsigned long long)r[j].base,
					(unsigned long long)(r[j].base +
							     r[j].len - 1),
					owner(m, r[j].opaque),
					(unsigned long long)r[i].base,
					(unsigned long long)(r[i].base +
							     r[i].len - 1),
					owner(m, r[i].opaque));
	return 0;
}

static void wire_lapics(struct dm_machine *m)
{
	struct dm_apic_sink bus = {dm_apicbus_deliver, &m->bus};

	for (unsigned i = 0; i < m->cfg.vcpus; i++) {
		struct dm_lapic *l = &m->lapics[i];

		dm_lapic_init(l, &m->cfg, &m->q, i, i == 0);
		l->bus = bus;
		l->eoi_out =
			(struct dm_lapic_eoi_out){.eoi = lapic_eoi,
						  .eoi_edge = lapic_eoi_edge,
						  .opaque = m};
		l->extint_ack = pic_inta;
		l->extint_opaque = m;
		l->signal = (struct dm_vcpu_signal){vcpu_signal, m};
		snprintf(m->lapic_names[i], sizeof(m->lapic_names[i]),
			 "lapic%u", i);
	}
	dm_apicbus_init(&m->bus, &m->cfg, m->lapics, m->cfg.vcpus);
	m->ioapic.bus = bus;
}

static int build(struct dm_machine *m, struct dm_error *err)
{
	const struct dm_config *cfg = &m->cfg;
	struct dm_irq_line irq0 = {pit_out0, m, 0};
	struct dm_irq_line irq8 = {rtc_irq8, m, 8};
	struct dm_irq_line sci = {pm_sci, m, 9};
	struct dm_hpet_outputs hpet = {
		.ioapic = {hpet_pin, m},
		.isa = {hpet_isa, m},
		.msi = {hpet_msi, m},
		.legacy = {hpet_legacy, m, 0},
	};
	uint16_t pmbase = dm_pmtimer_base(cfg);

	m->lapics = calloc(cfg->vcpus, sizeof(*m->lapics));
	if (!m->lapics)
		return dm_errorf(err, "out of memory for %u LAPICs",
				 cfg->vcpus);
	dm_eventq_init(&m->q);
	if (dm_ioapic_init(&m->ioapic, cfg, &m->q, err))
		return -1;
	m->ioapic.acked = (struct dm_irq_ack){ioapic_acked, m};
	m->ioapic.mask = (struct dm_irq_mask){ioapic_mask, m};
	dm_pit_init(&m->pit, cfg, &m->q, &irq0);
	dm_pic_init(&m->pic, cfg);
	m->pic.intr_line = (struct dm_irq_line){pic_intr, m, 0};
	m->pic.acked = (struct dm_irq_ack){pic_acked, m};
	m->pic.mask = (struct dm_irq_mask){pic_mask, m};
	m->pic.taker = (struct dm_pic_taker){a_vcpu_takes_pic, m};
	dm_hpet_init(&m->hpet, cfg, &m->q, &hpet);
	dm_rtc_init(&m->rtc, cfg, &m->q, &irq8);
	dm_pmtimer_init(&m->pmtimer, cfg, &m->q, &sci);
	wire_lapics(m);

	add_device(m, "machine", &dm_machine_state_desc, &m->ms, sizeof(m->ms));
	add_device(m, "pit", &dm_pit_state_desc, &m->pit, sizeof(m->pit));
	add_device(m, "pic", &dm_pic_state_desc, &m->pic, sizeof(m->pic));
	add_device(m, "ioapic", &dm_ioapic_state_desc, &m->ioapic,
		   sizeof(m->ioapic));
	add_device(m, "hpet", &dm_hpet_state_desc, &m->hpet, sizeof(m->hpet));
	m->devices[m->ndevices - 1].live = dm_hpet_live_bytes(&m->hpet);
	add_device(m, "rtc", &dm_rtc_state_desc, &m->rtc, sizeof(m->rtc));
	add_device(m, "pmtimer", &dm_pmtimer_state_desc, &m->pmtimer,
		   sizeof(m->pmtimer));
	add_device(m, "clock", &dm_machine_clock_desc, &m->clock,
		   sizeof(m->clock));
	for (unsigned i = 0; i < cfg->vcpus; i++)
		add_device(m, m->lapic_names[i], &dm_lapic_state_desc,
			   &m->lapics[i], sizeof(m->lapics[i]));

	map_pio(m, 0x40, 4, dm_pit_read, dm_pit_write, &m->pit);
	map_pio(m, 0x61, 1, dm_pit_port61_read, dm_pit_port61_write, &m->pit);
	map_pio(m, DM_PIC_MASTER_BASE, DM_PIC_REGION_LEN, dm_pic_master_read,
		dm_pic_master_write, &m->pic);
	map_pio(m, DM_PIC_SLAVE_BASE, DM_PIC_REGION_LEN, dm_pic_slave_read,
		dm_pic_slave_write, &m->pic);
	map_pio(m, DM_PIC_ELCR_BASE, DM_PIC_REGION_LEN, dm_pic_elcr_read,
		dm_pic_elcr_write, &m->pic);
	map_pio(m, DM_RTC_BASE, DM_RTC_LEN, dm_rtc_read, dm_rtc_write, &m->rtc);
	map_pio(m, pmbase, DM_PMTIMER_LEN, dm_pmtimer_read, dm_pmtimer_write,
		&m->pmtimer);
	map(m->mmio, &m->nmmio, DM_IOAPIC_BASE, DM_IOAPIC_SIZE, dm_ioapic_read,
	    dm_ioapic_write, &m->ioapic);
	if (cfg->hpet_present)
		map(m->mmio, &m->nmmio, DM_HPET_BASE,
		    dm_hpet_mmio_len(&m->hpet), dm_hpet_read, dm_hpet_write,
		    &m->hpet);
	if (check_overlaps(m, m->pio, m->npio, "ports", err) ||
	    check_overlaps(m, m->mmio, m->nmmio, "MMIO", err))
		return -1;
	return 0;
}

static const struct dm_state_plan *plan_of(const struct dm_device *d)
{
	return d->plan && dm_state_plan_desc(d->plan) == d->desc ? d->plan
								 : NULL;
}

size_t dm_device_encoded_size(const struct dm_device *d)
{
	const struct dm_state_plan *p = plan_of(d);

	return p ? dm_state_plan_encoded_size(p)
		 : dm_state_encoded_size(d->desc);
}

size_t dm_device_encode(const struct dm_device *d, uint8_t *buf, size_t cap)
{
	const struct dm_state_plan *p = plan_of(d);

	return p ? dm_state_plan_encode(p, d->state, buf, cap)
		 : dm_state_encode(d->desc, d->state, buf, cap);
}

int dm_device_load(const struct dm_device *d, const uint8_t *buf, size_t n,
		   struct dm_error *err)
{
	return plan_of(d) ? dm_state_plan_load(d->plan, d->state, buf, n, err)
			  : dm_state_load(d->desc, d->state, buf, n, err);
}

bool dm_device_equal(const struct dm_device *a, const struct dm_device *b)
{
	const struct dm_state_plan *p = plan_of(a);

	if (a->desc != b->desc)
		return false;
	if (p && plan_of(b))
		return dm_state_plan_equal(p, a->state, b->state);
	return !dm_state_diff(a->desc, a->state, b->state, NULL, NULL);
}

static unsigned device_holding(const struct dm_machine *m, const void *p)
{
	const uint8_t *b = p;

	for (unsigned i = 0; i < m->ndevices; i++) {
		const uint8_t *s = m->devices[i].state;

		if (b >= s && b < s + m->devices[i].size)
			return i;
	}
	return m->ndevices;
}

static int keep_pristine(struct dm_machine *m, struct dm_error *err)
{
	size_t total = 0;

	for (unsigned i = 0; i < m->ndevices; i++) {
		m->pristine_off[i] = total;
		total += m->devices[i].size;
	}
	m->pristine = malloc(total);
	m->pristine_armed = calloc(m->q.len + 1, sizeof(*m->pristine_armed));
	if (!m->pristine || !m->pristine_armed)
		return dm_errorf(err, "out of memory creating the machine");
	for (unsigned i = 0; i < m->ndevices; i++) {
		struct dm_device *d = &m->devices[i];

		memcpy(m->pristine + m->pristine_off[i], d->state, d->size);
		d->plan = dm_state_plan_for(d->desc);
	}
	for (size_t k = 0; k < m->q.len; k++) {
		const struct dm_timer *t = m->q.heap[k];
		unsigned i = device_holding(m, t);

		if (i == m->ndevices)
			return dm_errorf(err, "a timer armed at power-on "
					      "belongs to no device");
		m->pristine_armed[m->npristine_armed++] =
			(struct dm_pristine_timer){
				i,
				(size_t)((const uint8_t *)t -
					 (const uint8_t *)m->devices[i].state),
				t->when};
	}
	return 0;
}

int dm_machine_rebuild_device(struct dm_machine *m, unsigned i,
			      const uint8_t *blob, size_t n,
			      struct dm_error *err)
{
	const struct dm_device *d = &m->devices[i];

	dm_eventq_cancel_within(&m->q, d->state, d->size);
	memcpy(d->state, m->pristine + m->pristine_off[i], d->size);
	/* The copied timers still name their power-on heap slots. */
	for (unsigned k = 0; k < m->npristine_armed; k++) {
		const struct dm_pristine_timer *pt = &m->pristine_armed[k];
		struct dm_timer *t;

		if (pt->device != i)
			continue;
		t = (struct dm_timer *)((uint8_t *)d->state + pt->offset);
		t->slot = -1;
		t->when = DM_TIME_NEVER;
		dm_timer_arm(t, pt->when);
	}
	return dm_device_load(d, blob, n, err);
}

int dm_machine_create(struct dm_machine **out, const struct dm_config *cfg,
		      struct dm_error *err)
{
	struct dm_machine *m = calloc(1, sizeof(*m));

	if (!m)
		return dm_errorf(err, "out of memory creating the machine");
	m->cfg = *cfg;
	if (dm_config_format(cfg, m->config_text, sizeof(m->config_text)) >=
	    sizeof(m->config_text)) {
		dm_machine_destroy(m);
		return dm_errorf(err, "machine options too long");
	}
	if (build(m, err) || keep_pristine(m, err)) {
		dm_machine_destroy(m);
		return -1;
	}
	*out = m;
	return 0;
}

void dm_machine_destroy(struct dm_machine *m)
{
	if (!m)
		return;
	dm_eventq_destroy(&m->q);
	free(m->pristine);
	free(m->pristine_armed);
	free(m->lapics);
	free(m);
}

/* ---- time and access dispatch ---------------------------------------- */

void dm_machine_advance(struct dm_machine *m, uint64_t now)
{
	if (m->storm_at)
		return;
	if (now < m->clock.now)
		now = m->clock.now;
	if (dm_eventq_next(&m->q) <= now &&
	    dm_eventq_run_budget(&m->q, now, DM_EVENT_BUDGET) ==
		    DM_EVENT_BUDGET &&
	    dm_eventq_next(&m->q) <= now) {
		m->storm_at = now;
		m->clock.now = dm_eventq_next(&m->q);
		return;
	}
	m->clock.now = now;
}

static const struct dm_io_region *find_region(const struct dm_io_region *r,
					      unsigned n, uint64_t addr)
{
	for (unsigned i = 0; i < n; i++)
		if (addr - r[i].base < r[i].len)
			return &r[i];
	return NULL;
}

static uint64_t all_ones(unsigned size)
{
	return size >= 8 ? UINT64_MAX : (1ULL << (size * 8)) - 1;
}

static bool valid_size(unsigned size, unsigned max)
{
	return size && size <= max && !(size & (size - 1));
}

/* A read or write through a region; unclaimed reads float high. */
static void region_access(struct dm_machine *m, const struct dm_io_region *r,
			  uint64_t addr, unsigned size, bool write,
			  uint64_t *value)
{
	if (write) {
		if (r)
			r->write(r->opaque, m->clock.now, addr - r->base, size,
				 *value & all_ones(size));
		return;
	}
	*value = r ? r->read(r->opaque, m->clock.now, addr - r->base, size) &
				 all_ones(size)
		   : all_ones(size);
}

enum dm_access dm_machine_pio(struct dm_machine *m, uint64_t now, uint32_t cpu,
			      uint16_t port, unsigned size, bool write,
			      uint64_t *value)
{
	if (cpu >= m->cfg.vcpus || !valid_size(size, 4))
		return DM_ACCESS_INVALID;
	dm_machine_advance(m, now);
	region_access(m, find_region(m->pio, m->npio, port), port, size, write,
		      value);
	return DM_ACCESS_OK;
}

/* A vcpu's own xAPIC page hides whatever else is at that address. */
static const struct dm_io_region *mmio_region(struct dm_machine *m,
					      uint32_t cpu, uint64_t addr,
					      struct dm_io_region *lapic)
{
	struct dm_lapic *l = &m->lapics[cpu];

	if (dm_lapic_mmio_enabled(l) &&
	    addr - dm_lapic_mmio_base(l) < DM_LAPIC_MMIO_SIZE) {
		*lapic = (struct dm_io_region){
			dm_lapic_mmio_base(l), DM_LAPIC_MMIO_SIZE,
			dm_lapic_mmio_read, dm_lapic_mmio_write, l};
		return lapic;
	}
	return find_region(m->mmio, m->nmmio, addr);
}

enum dm_access dm_machine_mmio(struct dm_machine *m, uint64_t now, uint32_t cpu,
			       uint64_t addr, unsigned size, bool write,
			       uint64_t *value)
{
	struct dm_io_region lapic;

	if (cpu >= m->cfg.vcpus || !valid_size(size, 8))
		return DM_ACCESS_INVALID;
	dm_machine_advance(m, now);
	region_access(m, mmio_region(m, cpu, addr, &lapic), addr, size, write,
		      value);
	return DM_ACCESS_OK;
}

enum dm_access dm_machine_msr(struct dm_machine *m, uint64_t now, uint32_t cpu,
			      uint32_t index, bool write, uint64_t *value)
{
	struct dm_lapic *l;
	int rc;

	if (cpu >= m->cfg.vcpus)
		return DM_ACCESS_INVALID;
	dm_machine_advance(m, now);
	l = &m->lapics[cpu];
	rc = write ? dm_lapic_msr_write(l, m->clock.now, index, *value)
		   : dm_lapic_msr_read(l, m->clock.now, index, value);
	/* An MSR no model implements faults, as on a CPU without it. */
	return rc == DM_MSR_OK ? DM_ACCESS_OK : DM_ACCESS_GP;
}

int dm_machine_set_gsi(struct dm_machine *m, uint64_t now, uint32_t gsi,
		       int level, struct dm_error *err)
{
	if (gsi >= DM_GSIS)
		return dm_errorf(err,
				 "GSI %u is not wired in this machine "
				 "(0-%u)",
				 gsi, DM_GSIS - 1);
	dm_machine_advance(m, now);
	if (gsi == 2)
		return 0;
	if (gsi < DM_ISA_IRQS)
		set_source(&m->ms.isa_src[gsi], DM_SRC_DEV, level);
	else
		set_source(&m->ms.pin_src[gsi], DM_SRC_DEV, level);
	drive_inputs(m, m->clock.now);
	/* Under rtc_pf_trace, IRQ8's raises are QEMU's RTC ticks. */
	if (gsi == 8 && level && m->cfg.rtc_pf_trace)
		dm_rtc_trace_tick(&m->rtc, m->clock.now);
	return 0;
}

int dm_machine_thread(struct dm_machine *m, uint64_t now, uint32_t thread,
		      bool running, struct dm_error *err)
{
	struct dm_machine_state *ms = &m->ms;

	if (thread > DM_THREAD_PIT_WORKER)
		return dm_errorf(err,
				 "host thread %u is not known (0: the VMM's "
				 "main loop, 1: KVM's PIT worker)",
				 thread);
	dm_machine_advance(m, now);
	if (thread == DM_THREAD_MAIN_LOOP) {
		if (m->cfg.rtc_uf_trace)
			dm_rtc_main_loop(&m->rtc, m->clock.now, running);
	} else if (running != ms->pit_worker_ready) {
		ms->pit_worker_ready = running;
		ms->pit_worker_since = running ? m->clock.now : 0;
	}
	return 0;
}

int dm_machine_msi(struct dm_machine *m, uint64_t now, uint64_t addr,
		   uint32_t data)
{
	struct dm_apic_msg msg = dm_msi_decode(addr, data);

	dm_machine_advance(m, now);
	return dm_apicbus_deliver(&m->bus, m->clock.now, &msg);
}

/* The 8259 answers this vcpu's INTA cycles (its INT goes to vcpu 0). */
static bool pic_serves_inta(const struct dm_machine *m, uint32_t cpu)
{
	return cpu == 0 && lapic_takes_pic(&m->lapics[cpu]);
}

int dm_machine_intack(struct dm_machine *m, uint64_t now, uint32_t cpu)
{
	int v;

	if (cpu >= m->cfg.vcpus)
		return -1;
	dm_machine_advance(m, now);
	v = dm_lapic_intack(&m->lapics[cpu], m->clock.now);
	/*
	 * The trace says the vcpu ran an INTA cycle.  With nothing left in
	 * the LAPIC, a cycle can still have been started by an 8259 request
	 * that vanished before INTA: the 8259 then answers spurious IR7
	 * (8259A "Interrupt Sequence"), which is how a spurious IRQ7 looks.
	 */
	if (v < 0 && pic_serves_inta(m, cpu))
		v = pic_inta(m, m->clock.now);
	return v;
}

/* ---- state ----------------------------------------------------------- */

const struct dm_device *dm_machine_device(const struct dm_machine *m,
					  const char *name)
{
	for (unsigned i = 0; i < m->ndevices; i++)
		if (!strcmp(m->devices[i].name, name))
			return &m->devices[i];
	return NULL;
}

const struct dm_device *dm_machine_device_at(const struct dm_machine *m,
					     uint32_t cpu, bool mmio,
					     uint64_t addr)
{
	const struct dm_io_region *r;
	struct dm_io_region lapic;

	if (cpu >= m->cfg.vcpus)
		return NULL;
	r = mmio ? mmio_region((struct dm_machine *)m, cpu, addr, &lapic)
		 : find_region(m->pio, m->npio, addr);
	for (unsigned i = 0; r && i < m->ndevices; i++)
		if (m->devices[i].state == r->opaque)
			return &m->devices[i];
	return NULL;
}

static uint64_t device_hash(const struct dm_device *d)
{
	uint8_t stack[4096];
	size_t n = dm_device_encoded_size(d);

	if (n > sizeof(stack))
		return dm_state_hash(d->desc, d->state);
	dm_device_encode(d, stack, n);
	return XXH3_64bits(stack, n);
}

uint64_t dm_machine_hash(const struct dm_machine *m)
{
	uint8_t buf[DM_MAX_DEVICES * 8];

	for (unsigned i = 0; i < m->ndevices; i++) {
		uint64_t h = device_hash(&m->devices[i]);

		dm_put_le(buf + i * 8, h, 8);
	}
	return XXH3_64bits(buf, m->ndevices * 8);
}

/*
 * Checkpoint layout (docs/state-format.md): "DMCK", u16 version, u16 device
 * count, u16 config length, the canonical machine options (so a checkpoint
 * file describes the machine it restores into), then per device u8 name
 * length, name, u32 blob length, blob; then the XXH3-64 of everything
 * before it.  All integers little-endian.
 */
#define CKPT_MAGIC "DMCK"
#define CKPT_VERSION 1
#define CKPT_HEADER 10

uint8_t *dm_machine_save(const struct dm_machine *m, size_t *len)
{
	size_t nc = strlen(m->config_text);
	size_t total = CKPT_HEADER + nc + 8;
	uint8_t *buf, *p;

	for (unsigned i = 0; i < m->ndevices; i++)
		total += 1 + strlen(m->devices[i].name) + 4 +
			 dm_device_encoded_size(&m->devices[i]);
	buf = malloc(total);
	if (!buf)
		return NULL;
	memcpy(buf, CKPT_MAGIC, 4);
	p = dm_put_le(buf + 4, CKPT_VERSION, 2);
	p = dm_put_le(p, m->ndevices, 2);
	p = dm_put_le(p, nc, 2);
	memcpy(p, m->config_text, nc);
	p += nc;
	for (unsigned i = 0; i < m->ndevices; i++) {
		const struct dm_device *d = &m->devices[i];
		size_t n = dm_device_encoded_size(d);
		size_t nl = strlen(d->name);

		*p++ = (uint8_t)nl;
		memcpy(p, d->name, nl);
		p = dm_put_le(p + nl, n, 4);
		p += dm_device_encode(d, p, n);
	}
	dm_put_le(p, XXH3_64bits(buf, (size_t)(p - buf)), 8);
	*len = total;
	return buf;
}

/* Checks the envelope and returns the options text (not terminated). */
static int checkpoint_header(const uint8_t *buf, size_t len,
			     const char **config, size_t *nc,
			     struct dm_error *err)
{
	if (len < CKPT_HEADER + 8 || memcmp(buf, CKPT_MAGIC, 4))
		return dm_errorf(err, "not a dmsim checkpoint");
	if (dm_get_le(buf + len - 8, 8) != XXH3_64bits(buf, len - 8))
		return dm_errorf(err, "checkpoint checksum mismatch");
	if (dm_get_le(buf + 4, 2) != CKPT_VERSION)
		return dm_errorf(err,
				 "checkpoint version %u, this build reads "
				 "version %u",
				 (unsigned)dm_get_le(buf + 4, 2), CKPT_VERSION);
	*nc = (size_t)dm_get_le(buf + 8, 2);
	if (*nc > len - CKPT_HEADER - 8)
		return dm_errorf(err, "byte %d: machine options truncated",
				 CKPT_HEADER);
	*config = (const char *)buf + CKPT_HEADER;
	return 0;
}

int dm_machine_checkpoint_config(const uint8_t *buf, size_t len,
				 struct dm_config *cfg, struct dm_error *err)
{
	const char *config;
	char text[2048];
	size_t nc;

	if (checkpoint_header(buf, len, &config, &nc, err))
		return -1;
	if (nc >= sizeof(text))
		return dm_errorf(err, "checkpoint machine options too long");
	memcpy(text, config, nc);
	text[nc] = '\0';
	dm_config_defaults(cfg, DM_PROFILE_DATASHEET);
	if (dm_config_parse(cfg, text, err))
		return dm_error_prefix(err, "checkpoint machine options");
	return 0;
}

static int load_device(const struct dm_device *d, unsigned i,
		       const uint8_t *buf, size_t end, size_t *off,
		       struct dm_error *err)
{
	size_t nl, n;

	if (*off + 1 > end)
		return dm_errorf(err, "byte %zu: truncated", *off);
	nl = buf[(*off)++];
	if (*off + nl + 4 > end)
		return dm_errorf(err, "byte %zu: truncated", *off);
	if (nl != strlen(d->name) || memcmp(buf + *off, d->name, nl))
		return dm_errorf(err,
				 "byte %zu: device %u is '%.*s', "
				 "expected '%s'",
				 *off, i, (int)nl, buf + *off, d->name);
	*off += nl;
	n = (size_t)dm_get_le(buf + *off, 4);
	*off += 4;
	if (n > end - *off)
		return dm_errorf(err, "byte %zu: %s blob truncated", *off,
				 d->name);
	if (dm_device_load(d, buf + *off, n, err))
		return -1;
	*off += n;
	return 0;
}

int dm_machine_load(struct dm_machine *m, const uint8_t *buf, size_t len,
		    struct dm_error *err)
{
	const char *config;
	size_t nc, off;
	unsigned count;

	if (checkpoint_header(buf, len, &config, &nc, err))
		return -1;
	if (nc != strlen(m->config_text) || memcmp(config, m->config_text, nc))
		return dm_errorf(err,
				 "the checkpoint was taken on a machine "
				 "with other options: %.*s",
				 (int)nc, config);
	count = (unsigned)dm_get_le(buf + 6, 2);
	if (count != m->ndevices)
		return dm_errorf(err, "checkpoint has %u devices, machine %u",
				 count, m->ndevices);
	off = CKPT_HEADER + nc;
	for (unsigned i = 0; i < count; i++)
		if (load_device(&m->devices[i], i, buf, len - 8, &off, err))
			return -1;
	if (off != len - 8)
		return dm_errorf(err, "byte %zu: trailing bytes", off);
	return 0;
}

int dm_machine_restore(struct dm_machine **out, const struct dm_config *cfg,
		       const uint8_t *buf, size_t len, struct dm_error *err)
{
	struct dm_config own;
	struct dm_machine *m = NULL;

	if (!cfg) {
		if (dm_machine_checkpoint_config(buf, len, &own, err))
			return -1;
		cfg = &own;
	}
	if (dm_machine_create(&m, cfg, err))
		return -1;
	if (dm_machine_load(m, buf, len, err)) {
		dm_machine_destroy(m);
		return -1;
	}
	*out = m;
	return 0;
}
