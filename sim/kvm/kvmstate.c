// SPDX-License-Identifier: MIT
/*
 * KVM device state <-> dmsim state.  The KVM side follows Linux
 * arch/x86/kvm/i8254.c (struct kvm_kpit_state), i8259.c (struct
 * kvm_kpic_state), ioapic.c (kvm_get_ioapic/kvm_set_ioapic) and lapic.c
 * (kvm_apic_get_state/kvm_apic_set_state); facts only, no code.
 * docs/kvm-state.md is the field-by-field mapping.
 *
 * A from-KVM conversion builds the new device state in a scratch copy of
 * the live model, encodes it and loads it with dm_state_load: the dmsim
 * state table validates it, the live wiring is kept and timers are
 * re-armed at the computed deadlines.
 */
#include "sim/kvm/kvmstate.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "sim/bytes.h"
#include "sim/clock.h"

/* ---- common ---------------------------------------------------------- */

static int check_kvm(const struct dm_machine *m, const char *dev,
		     bool flavour_kvm, const char *option, struct dm_error *err)
{
	if (m->cfg.profile != DM_PROFILE_KVM)
		return dm_errorf(err,
				 "%s: KVM state converts only on a profile=kvm "
				 "machine, this one is profile=%s",
				 dev, dm_profile_name(m->cfg.profile));
	if (!flavour_kvm)
		return dm_errorf(err,
				 "%s: KVM state needs option %s=kvm, which "
				 "this machine overrides",
				 dev, option);
	return 0;
}

/*
 * The to-KVM functions only read: events due by now must have run, or
 * the state they describe would be stale.  An earlier now is the
 * machine's own time, as for every machine entry point.
 */
static int reading_time(const struct dm_machine *m, uint64_t now_ns,
			const char *dev, uint64_t *now, struct dm_error *err)
{
	*now = now_ns > m->clock.now ? now_ns : m->clock.now;
	if (dm_eventq_next(&m->q) <= *now)
		return dm_errorf(err,
				 "%s: an event is due at %" PRIu64
				 " ns, before now_ns %" PRIu64
				 ": advance the machine first",
				 dev, dm_eventq_next(&m->q), *now);
	return 0;
}

/* Runs the machine to now_ns and returns the time it is at. */
static uint64_t writing_time(struct dm_machine *m, uint64_t now_ns)
{
	dm_machine_advance(m, now_ns);
	return m->clock.now;
}

/* Replaces a live device state by a scratch one, through its table. */
static int load_scratch(const struct dm_state_desc *desc, void *live,
			const void *scratch, struct dm_error *err)
{
	size_t n = dm_state_encoded_size(desc);
	uint8_t *buf = malloc(n);
	int rc;

	if (!buf)
		return dm_errorf(err, "%s: out of memory", desc->name);
	dm_state_encode(desc, scratch, buf, n);
	rc = dm_state_load(desc, live, buf, n, err);
	free(buf);
	if (rc)
		return dm_error_prefix(err,
				       "%s: dmsim refuses the converted "
				       "state",
				       desc->name);
	return 0;
}

/* A KVM u8 that holds a bool, by name for the error message. */
struct kvm_flag {
	const char *name;
	uint8_t v;
};

static int flags_check(const char *prefix, const struct kvm_flag *f, size_t n,
		       struct dm_error *err)
{
	for (size_t i = 0; i < n; i++)
		if (f[i].v > 1)
			return dm_errorf(err, "%s%s: %u is not 0 or 1", prefix,
					 f[i].name, f[i].v);
	return 0;
}

/* ---- 8254 PIT ---------------------------------------------------------- */

/* KVM's byte-access states (i8254.c RW_STATE_*). */
enum { KVM_RW_WORD0 = 3, KVM_RW_WORD1 = 4 };

#define PIT_FLAGS_KNOWN \
	(KVM_PIT_FLAGS_HPET_LEGACY | KVM_PIT_FLAGS_SPEAKER_DATA_ON)

/*
 * KVM keeps a read and a write state per channel: the access mode (1 LSB,
 * 2 MSB) or, for LSB-then-MSB, WORD0/WORD1 by the byte that comes next.
 * dmsim keeps the access mode once and a "MSB next" flip-flop per
 * direction.
 */
static uint8_t byte_state_to(uint8_t rw, bool msb_next)
{
	if (rw != 3)
		return rw;
	return msb_next ? KVM_RW_WORD1 : KVM_RW_WORD0;
}

static int byte_state_from(uint8_t rw, uint8_t st, bool *msb_next)
{
	*msb_next = st == KVM_RW_WORD1;
	if (rw == 3)
		return st == KVM_RW_WORD0 || st == KVM_RW_WORD1 ? 0 : -1;
	return st == rw ? 0 : -1;
}

/*
 * Counter 0 runs off KVM's hrtimer, so KVM never writes its
 * count_load_time (it keeps its creation value, 0); counters 1 and 2 are
 * stamped with host ktime at each count write and GATE trigger.
 */
static void pit_channel_to(const struct dm_pit_channel *c, unsigned idx,
			   int64_t host_offset_ns,
			   struct kvm_pit_channel_state *k)
{
	*k = (struct kvm_pit_channel_state){
		.count = c->n,
		.latched_count = c->latched_count,
		.count_latched = c->count_latch,
		.status_latched = c->status_latched,
		.status = c->status,
		.read_state = byte_state_to(c->rw, c->read_msb_next),
		.write_state = byte_state_to(c->rw, c->write_msb_next),
		.write_latch = c->write_lsb,
		.rw_mode = c->rw,
		.mode = c->mode,
		.bcd = c->bcd,
		.gate = c->gate,
		.count_load_time =
			idx ? (int64_t)(c->load_ns + (uint64_t)host_offset_ns)
			    : 0,
	};
}

int dm_kvm_pit_to(const struct dm_machine *m, uint64_t now_ns,
		  int64_t host_offset_ns, struct kvm_pit_state2 *ps,
		  struct dm_error *err)
{
	uint64_t now;

	if (check_kvm(m, "pit", m->cfg.pit_flavor == DM_PIT_KVM, "pit", err) ||
	    reading_time(m, now_ns, "pit", &now, err))
		return -1;
	memset(ps, 0, sizeof(*ps));
	for (unsigned i = 0; i < 3; i++)
		pit_channel_to(&m->pit.ch[i], i, host_offset_ns,
			       &ps->channels[i]);
	if (m->ms.hpet_legacy)
		ps->flags |= KVM_PIT_FLAGS_HPET_LEGACY;
	if (m->pit.speaker_data)
		ps->flags |= KVM_PIT_FLAGS_SPEAKER_DATA_ON;
	return 0;
}

static int pit_channel_check(unsigned i, const struct kvm_pit_channel_state *k,
			     struct dm_error *err)
{
	const struct kvm_flag flags[] = {
		{"status_latched", k->status_latched},
		{"bcd", k->bcd},
		{"gate", k->gate},
	};
	char prefix[32];

	/* pit_load_count stores a written 0 as 0x10000. */
	if (k->count == 0 || k->count > 65536)
		return dm_errorf(
			err, "channels[%u].count: %" PRIu32 " is not 1-65536",
			i, k->count);
	if (k->rw_mode > 3)
		return dm_errorf(err, "channels[%u].rw_mode: %u is not 0-3", i,
				 k->rw_mode);
	if (k->mode > 7 && k->mode != 0xff)
		return dm_errorf(err,
				 "channels[%u].mode: %u is not 0-7 or 0xff (no "
				 "timer)",
				 i, k->mode);
	if (k->count_latched > 3)
		return dm_errorf(err,
				 "channels[%u].count_latched: %u is not 0-3 "
				 "(none, LSB, MSB, both)",
				 i, k->count_latched);
	snprintf(prefix, sizeof(prefix), "channels[%u].", i);
	return flags_check(prefix, flags, sizeof(flags) / sizeof(flags[0]),
			   err);
}

static int pit_load_time(unsigned i, const struct kvm_pit_channel_state *k,
			 uint64_t now, int64_t host_offset_ns,
			 uint64_t *load_ns, struct dm_error *err)
{
	int64_t v;

	if (__builtin_sub_overflow(k->count_load_time, host_offset_ns, &v) ||
	    v < 0)
		return dm_errorf(err,
				 "channels[%u].count_load_time: host %" PRId64
				 " ns falls before virtual time 0 with "
				 "host_offset_ns %" PRId64,
				 i, (int64_t)k->count_load_time,
				 host_offset_ns);
	if ((uint64_t)v > now)
		return dm_errorf(
			err,
			"channels[%u].count_load_time: virtual %" PRId64
			" ns is after now_ns %" PRIu64,
			i, v, now);
	*load_ns = (uint64_t)v;
	return 0;
}

static int pit_channel_from(unsigned i, const struct kvm_pit_channel_state *k,
			    uint64_t now, int64_t host_offset_ns,
			    struct dm_pit_channel *c, struct dm_error *err)
{
	if (pit_channel_check(i, k, err))
		return -1;
	if (byte_state_from(k->rw_mode, k->read_state, &c->read_msb_next))
		return dm_errorf(err,
				 "channels[%u].read_state: %u with rw_mode %u "
				 "is not a state KVM reaches",
				 i, k->read_state, k->rw_mode);
	if (byte_state_from(k->rw_mode, k->write_state, &c->write_msb_next))
		return dm_errorf(err,
				 "channels[%u].write_state: %u with rw_mode %u "
				 "is not a state KVM reaches",
				 i, k->write_state, k->rw_mode);
	/* Counter 0's stamp is not KVM's (see pit_channel_to): kept. */
	if (i && pit_load_time(i, k, now, host_offset_ns, &c->load_ns, err))
		return -1;
	c->n = k->count;
	c->cr = (uint16_t)k->count;
	c->latched_count = k->latched_count;
	c->count_latch = k->count_latched;
	c->status_latched = k->status_latched;
	c->status = k->status;
	c->write_lsb = k->write_latch;
	c->rw = k->rw_mode;
	c->mode = k->mode;
	c->bcd = k->bcd;
	c->gate = k->gate;
	c->null_count = false;
	return 0;
}

static int pit_flags_check(const struct dm_machine *m,
			   const struct kvm_pit_state2 *ps,
			   struct dm_error *err)
{
	bool legacy = ps->flags & KVM_PIT_FLAGS_HPET_LEGACY;

	if (ps->flags & ~PIT_FLAGS_KNOWN)
		return dm_errorf(err,
				 "flags: 0x%" PRIx32
				 " has bits other than HPET_LEGACY and "
				 "SPEAKER_DATA_ON",
				 ps->flags);
	/* QEMU sets it when its HPET takes IRQ0; dmsim's HPET owns it. */
	if (legacy != m->ms.hpet_legacy)
		return dm_errorf(err,
				 "flags: KVM_PIT_FLAGS_HPET_LEGACY is %u but "
				 "the machine's HPET legacy replacement is %s",
				 legacy, m->ms.hpet_legacy ? "on" : "off");
	for (unsigned i = 0; i < 9; i++)
		if (ps->reserved[i])
			return dm_errorf(err,
					 "reserved[%u]: 0x%" PRIx32
					 " (KVM_GET_PIT2 returns 0)",
					 i, ps->reserved[i]);
	return 0;
}

/*
 * KVM_SET_PIT2 reloads every count (kvm_pit_load_count): counter 0's
 * hrtimer restarts now with a full interval, and the reinject bookkeeping
 * starts afresh; modes 5 and up stop it, keeping the old period.
 */
static void pit_timer_from(struct dm_pit *t, uint64_t now)
{
	const struct dm_pit_channel *c = &t->ch[0];
	uint64_t interval;

	switch (c->mode) {
	case 0:
	case 1:
	case 2:
	case 3:
	case 4:
		break;
	default:
		t->out0_timer.when = DM_TIME_NEVER;
		return;
	}
	interval = dm_muldiv64(c->n, DM_NS_PER_SEC, t->hz);
	t->kvm_periodic = c->mode == 2 || c->mode == 3;
	t->kvm_period = interval;
	if (t->kvm_periodic && t->kvm_period < t->min_period_ns)
		t->kvm_period = t->min_period_ns;
	t->kvm_expires = now + (interval ? interval : 1);
	t->kvm_pending = 0;
	t->kvm_irq_ack = true;
	t->out0_timer.when = t->kvm_expires;
}

int dm_kvm_pit_from(struct dm_machine *m, uint64_t now_ns,
		    int64_t host_offset_ns, const struct kvm_pit_state2 *ps,
		    struct dm_error *err)
{
	struct dm_pit t;
	uint64_t now;

	if (check_kvm(m, "pit", m->cfg.pit_flavor == DM_PIT_KVM, "pit", err))
		return -1;
	now = writing_time(m, now_ns);
	if (pit_flags_check(m, ps, err))
		return dm_error_prefix(err, "kvm_pit_state2");
	t = m->pit;
	for (unsigned i = 0; i < 3; i++)
		if (pit_channel_from(i, &ps->channels[i], now, host_offset_ns,
				     &t.ch[i], err))
			return dm_error_prefix(err, "kvm_pit_state2");
	t.speaker_data = ps->flags & KVM_PIT_FLAGS_SPEAKER_DATA_ON;
	pit_timer_from(&t, now);
	return load_scratch(&dm_pit_state_desc, &m->pit, &t, err);
}

/* ---- 8259A pair ------------------------------------------------------ */

/* KVM's elcr_mask, fixed at creation (kvm_create_pic); dmsim's too. */
static const uint8_t pic_elcr_mask[2] = {0xf8, 0xde};
static const char *const pic_name[2] = {"PIC master", "PIC slave"};

static void pic_chip_to(const struct dm_pic_chip *c, unsigned idx,
			struct kvm_pic_state *k)
{
	*k = (struct kvm_pic_state){
		.last_irr = c->line,
		.irr = c->irr,
		.imr = c->imr,
		.isr = c->isr,
		.priority_add = c->highest,
		.irq_base = c->vector_base,
		.read_reg_select = c->read_isr,
		.poll = c->poll,
		.special_mask = c->smm,
		.init_state = c->init_step,
		.auto_eoi = c->aeoi,
		.rotate_on_auto_eoi = c->rotate_aeoi,
		.special_fully_nested_mode = c->sfnm,
		.init4 = c->ic4,
		.elcr = c->elcr,
		.elcr_mask = pic_elcr_mask[idx],
	};
}

static int pic_chip_check(unsigned idx, const struct kvm_pic_state *k,
			  struct dm_error *err)
{
	const struct kvm_flag flags[] = {
		{"read_reg_select", k->read_reg_select},
		{"poll", k->poll},
		{"special_mask", k->special_mask},
		{"auto_eoi", k->auto_eoi},
		{"rotate_on_auto_eoi", k->rotate_on_auto_eoi},
		{"special_fully_nested_mode", k->special_fully_nested_mode},
		{"init4", k->init4},
	};

	if (flags_check("chip.pic.", flags, sizeof(flags) / sizeof(flags[0]),
			err))
		return -1;
	if (k->priority_add > 7)
		return dm_errorf(err, "chip.pic.priority_add: %u is not 0-7",
				 k->priority_add);
	if (k->irq_base & 7)
		return dm_errorf(err,
				 "chip.pic.irq_base: 0x%02x has bits 2:0 set "
				 "(ICW2 keeps bits 7:3)",
				 k->irq_base);
	if (k->init_state > 3)
		return dm_errorf(err, "chip.pic.init_state: %u is not 0-3",
				 k->init_state);
	if (k->init_state == 3 && !k->init4)
		return dm_errorf(
			err, "chip.pic.init_state: 3 (ICW4 next) with init4 "
			     "0");
	if (k->elcr_mask != pic_elcr_mask[idx])
		return dm_errorf(
			err,
			"chip.pic.elcr_mask: 0x%02x, but the PIIX ELCR "
			"mask is 0x%02x",
			k->elcr_mask, pic_elcr_mask[idx]);
	if (k->elcr & ~pic_elcr_mask[idx])
		return dm_errorf(err,
				 "chip.pic.elcr: 0x%02x sets bits outside "
				 "elcr_mask 0x%02x",
				 k->elcr, pic_elcr_mask[idx]);
	return 0;
}

static void pic_chip_from(const struct kvm_pic_state *k, struct dm_pic_chip *c)
{
	c->line = k->last_irr;
	c->irr = k->irr;
	c->imr = k->imr;
	c->isr = k->isr;
	c->highest = k->priority_add;
	c->vector_base = k->irq_base;
	c->read_isr = k->read_reg_select;
	c->poll = k->poll;
	c->smm = k->special_mask;
	c->init_step = k->init_state;
	c->aeoi = k->auto_eoi;
	c->rotate_aeoi = k->rotate_on_auto_eoi;
	c->sfnm = k->special_fully_nested_mode;
	c->ic4 = k->init4;
	c->elcr = k->elcr;
}

static int pic_from(struct dm_machine *m, uint64_t now, unsigned idx,
		    const struct kvm_pic_state *k, struct dm_error *err)
{
	struct dm_pic t = m->pic;
	bool was = m->pic.intr;

	if (pic_chip_check(idx, k, err))
		return dm_error_prefix(err, "%s", pic_name[idx]);
	pic_chip_from(k, &t.chip[idx]);
	/* The INT level KVM_SET_IRQCHIP's pic_update_irq leaves. */
	t.intr = dm_pic_request(&t, 0) >= 0;
	if (load_scratch(&dm_pic_state_desc, &m->pic, &t, err))
		return -1;
	/* The INT wire (LINT0 of vcpu 0) follows, as KVM kicks the vcpu. */
	if (m->pic.intr != was)
		dm_irq_set(&m->pic.intr_line, now, m->pic.intr);
	return 0;
}

/* ---- IOAPIC ---------------------------------------------------------- */

#define RTE_DELIVERY_STATUS (1ull << 12)
#define RTE_REMOTE_IRR (1ull << 14)
#define RTE_LEVEL (1ull << 15)
#define RTE_MASKED (1ull << 16)
#define RTC_PIN 8 /* KVM RTC_GSI */

/*
 * KVM's irr is the asserted lines less the edge pins whose assertion was
 * delivered (kvm_get_ioapic: irr & ~irr_delivered).  dmsim records the
 * lines only; an edge pin's assertion is taken as delivered when its
 * entry is unmasked now, as it is unless the mask changed since.
 */
static uint32_t ioapic_irr_to(const struct dm_ioapic *s)
{
	uint32_t irr = 0;

	for (unsigned pin = 0; pin < DM_IOAPIC_PINS; pin++) {
		uint64_t e = s->rte[pin];

		if (!(s->line & (1u << pin)))
			continue;
		if ((e & RTE_LEVEL) || (e & RTE_MASKED))
			irr |= 1u << pin;
	}
	return irr;
}

static void ioapic_to(const struct dm_ioapic *s, struct kvm_ioapic_state *k)
{
	memset(k, 0, sizeof(*k));
	k->base_address = DM_IOAPIC_BASE;
	k->ioregsel = s->ioregsel;
	k->id = s->id;
	k->irr = ioapic_irr_to(s);
	for (unsigned pin = 0; pin < DM_IOAPIC_PINS; pin++)
		k->redirtbl[pin].bits = s->rte[pin];
}

static int ioapic_check(const struct kvm_ioapic_state *k, struct dm_error *err)
{
	if (k->base_address != DM_IOAPIC_BASE)
		return dm_errorf(err,
				 "base_address: 0x%" PRIx64
				 ", but dmsim's IOAPIC is at 0x%llx",
				 (uint64_t)k->base_address, DM_IOAPIC_BASE);
	if (k->ioregsel > 0xff)
		return dm_errorf(err,
				 "ioregsel: 0x%" PRIx32 " is wider than 8 bits",
				 k->ioregsel);
	if (k->id > 0xf)
		return dm_errorf(err,
				 "id: 0x%" PRIx32 " is not 0-15 (ID bits "
				 "27:24)",
				 k->id);
	if (k->irr >> DM_IOAPIC_PINS)
		return dm_errorf(err, "irr: 0x%" PRIx32 " names pins past %u",
				 k->irr, DM_IOAPIC_PINS - 1);
	for (unsigned pin = 0; pin < DM_IOAPIC_PINS; pin++) {
		uint64_t e = k->redirtbl[pin].bits;

		if (e & RTE_DELIVERY_STATUS)
			return dm_errorf(err,
					 "redirtbl[%u].fields.delivery_status: "
					 "set, but KVM never sets it",
					 pin);
		if ((e & RTE_REMOTE_IRR) && !(e & RTE_LEVEL))
			return dm_errorf(err,
					 "redirtbl[%u].fields.remote_irr: set "
					 "on an edge-triggered entry",
					 pin);
	}
	return 0;
}

/*
 * KVM's kvm_rtc_eoi_tracking_restore_all, run by KVM_SET_IRQCHIP and (per
 * vcpu) KVM_SET_LAPIC: the RTC pin awaits an EOI from every LAPIC that
 * its entry targets and that has the vector in its IRR or ISR.
 */
static bool vec_test(const uint32_t *r, unsigned v)
{
	return (r[v >> 5] >> (v & 31)) & 1;
}

static int rtc_tracking(struct dm_machine *m, struct dm_error *err)
{
	struct dm_ioapic t = m->ioapic;
	uint64_t e = t.rte[RTC_PIN];
	struct dm_apic_msg msg = {
		.dest = (uint32_t)(e >> 56),
		.vector = (uint8_t)e,
		.delivery = (uint8_t)((e >> 8) & 7),
		.logical = (uint8_t)((e >> 11) & 1),
		.level_trig = (uint8_t)((e >> 15) & 1),
		.assert = 1,
		.shorthand = DM_SHORTHAND_NONE,
		.source = -1,
	};
	uint16_t n = 0;

	for (unsigned i = 0; i < m->cfg.vcpus; i++) {
		const struct dm_lapic *l = &m->lapics[i];

		if (dm_lapic_match(l, &msg) && (vec_test(l->irr, msg.vector) ||
						vec_test(l->isr, msg.vector)))
			n++;
	}
	if (n == t.rtc_pending_eoi && (!n || t.rtc_vector == msg.vector))
		return 0;
	t.rtc_pending_eoi = n;
	if (n)
		t.rtc_vector = msg.vector;
	return load_scratch(&dm_ioapic_state_desc, &m->ioapic, &t, err);
}

static int ioapic_from(struct dm_machine *m, const struct kvm_ioapic_state *k,
		       struct dm_error *err)
{
	struct dm_ioapic t = m->ioapic;

	if (ioapic_check(k, err))
		return dm_error_prefix(err, "IOAPIC");
	for (unsigned pin = 0; pin < DM_IOAPIC_PINS; pin++)
		t.rte[pin] = k->redirtbl[pin].bits;
	t.line = k->irr;
	t.ioregsel = (uint8_t)k->ioregsel;
	t.id = (uint8_t)k->id;
	if (load_scratch(&dm_ioapic_state_desc, &m->ioapic, &t, err))
		return -1;
	return rtc_tracking(m, err);
}

/* ---- irqchip --------------------------------------------------------- */

static int chip_check(const struct dm_machine *m, uint32_t chip_id,
		      struct dm_error *err)
{
	if (chip_id > KVM_IRQCHIP_IOAPIC)
		return dm_errorf(err,
				 "chip_id: %" PRIu32
				 " is not PIC_MASTER (0), PIC_SLAVE (1) or "
				 "IOAPIC (2)",
				 chip_id);
	if (chip_id == KVM_IRQCHIP_IOAPIC)
		return check_kvm(m, "ioapic",
				 m->cfg.ioapic_flavor == DM_IOAPIC_KVM,
				 "ioapic", err);
	return check_kvm(m, "pic", m->cfg.pic_flavor == DM_PIC_KVM, "pic", err);
}

int dm_kvm_irqchip_to(const struct dm_machine *m, uint64_t now_ns,
		      struct kvm_irqchip *chip, struct dm_error *err)
{
	uint32_t id = chip->chip_id;
	uint64_t now;

	if (chip_check(m, id, err) ||
	    reading_time(m, now_ns, "irqchip", &now, err))
		return -1;
	memset(chip, 0, sizeof(*chip));
	chip->chip_id = id;
	if (id == KVM_IRQCHIP_IOAPIC)
		ioapic_to(&m->ioapic, &chip->chip.ioapic);
	else
		pic_chip_to(&m->pic.chip[id], id, &chip->chip.pic);
	return 0;
}

int dm_kvm_irqchip_from(struct dm_machine *m, uint64_t now_ns,
			const struct kvm_irqchip *chip, struct dm_error *err)
{
	uint64_t now;

	if (chip_check(m, chip->chip_id, err))
		return -1;
	now = writing_time(m, now_ns);
	if (chip->chip_id == KVM_IRQCHIP_IOAPIC)
		return ioapic_from(m, &chip->chip.ioapic, err);
	return pic_from(m, now, chip->chip_id, &chip->chip.pic, err);
}

/* ---- LAPIC ----------------------------------------------------------- */

/* Register offsets in the 1 KiB page (Linux apicdef.h names). */
enum {
	A_ID = 0x020,
	A_LVR = 0x030,
	A_TASKPRI = 0x080,
	A_PROCPRI = 0x0a0,
	A_LDR = 0x0d0,
	A_DFR = 0x0e0,
	A_SPIV = 0x0f0,
	A_ISR = 0x100,
	A_TMR = 0x180,
	A_IRR = 0x200,
	A_ESR = 0x280,
	A_LVTCMCI = 0x2f0,
	A_ICR = 0x300,
	A_ICR2 = 0x310,
	A_LVTT = 0x320,
	A_TMICT = 0x380,
	A_TMCCT = 0x390,
	A_TDCR = 0x3e0,
};

#define APIC_VERSION 0x14u
#define SPIV_ENABLE 0x100u
#define SPIV_DIRECTED_EOI 0x1000u
#define LVT_MASKED 0x10000u
#define ESR_BITS 0xe0u
/* What dmsim's ICR keeps (models/lapic.c ICR_MASK) and KVM's BUSY bit. */
#define ICR_KEPT 0x000ccfffu
#define ICR_BUSY 0x1000u

static const char *const lvt_name[DM_LVT_COUNT] = {
	"LVTT", "LVTTHMR", "LVTPC", "LVT0", "LVT1", "LVTERR", "LVTCMCI",
};

/*
 * KVM's LVT write masks (lapic.c apic_lvt_mask): vector, delivery status
 * and mask; the timer adds its mode bits (both, with TSC-deadline in the
 * guest's CPUID), thermal/perf/CMCI the delivery mode, the LINTs also
 * polarity, Remote IRR and trigger.
 */
static const uint32_t kvm_lvt_mask[DM_LVT_COUNT] = {
	[DM_LVT_TIMER] = 0x710ff, [DM_LVT_THERMAL] = 0x117ff,
	[DM_LVT_PERF] = 0x117ff,  [DM_LVT_LINT0] = 0x1f7ff,
	[DM_LVT_LINT1] = 0x1f7ff, [DM_LVT_ERROR] = 0x110ff,
	[DM_LVT_CMCI] = 0x117ff,
};

static unsigned lvt_offset(unsigned idx)
{
	return idx == DM_LVT_CMCI ? A_LVTCMCI : A_LVTT + 0x10 * idx;
}

static uint32_t reg_get(const struct kvm_lapic_state *s, unsigned off)
{
	uint32_t v;

	memcpy(&v, s->regs + off, sizeof(v));
	return v;
}

static void reg_put(struct kvm_lapic_state *s, unsigned off, uint32_t v)
{
	memcpy(s->regs + off, &v, sizeof(v));
}

static int reg_errorf(struct dm_error *err, unsigned off, const char *name,
		      const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int reg_errorf(struct dm_error *err, unsigned off, const char *name,
		      const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	dm_verrorf(err, fmt, ap);
	va_end(ap);
	return dm_error_prefix(err, "regs[0x%03x] (%s)", off, name);
}

static void lapic_regs_to(const struct dm_lapic *l, uint64_t now,
			  struct kvm_lapic_state *s)
{
	memset(s, 0, sizeof(*s));
	/* kvm_apic_state_fixup: an x2APIC ID is shifted like an xAPIC one. */
	reg_put(s, A_ID, dm_lapic_apic_id(l) << 24);
	reg_put(s, A_LVR, dm_lapic_version(l));
	reg_put(s, A_TASKPRI, l->tpr);
	reg_put(s, A_PROCPRI, dm_lapic_ppr(l));
	reg_put(s, A_LDR, dm_lapic_ldr(l));
	reg_put(s, A_DFR, (uint32_t)l->dfr << 28 | 0x0fffffffu);
	reg_put(s, A_SPIV, l->svr);
	for (unsigned i = 0; i < 8; i++) {
		reg_put(s, A_ISR + 0x10 * i, l->isr[i]);
		reg_put(s, A_TMR + 0x10 * i, l->tmr[i]);
		reg_put(s, A_IRR + 0x10 * i, l->irr[i]);
	}
	reg_put(s, A_ESR, l->esr);
	for (unsigned i = 0; i < l->cfg.lvts; i++)
		reg_put(s, lvt_offset(i), l->lvt[i]);
	reg_put(s, A_ICR, l->icr_lo);
	reg_put(s, A_ICR2, l->icr_hi);
	reg_put(s, A_TMICT, l->tmict);
	reg_put(s, A_TMCCT, dm_lapic_current_count(l, now));
	reg_put(s, A_TDCR, l->tdcr);
}

static int lapic_check_vcpu(const struct dm_machine *m, const char *dev,
			    uint32_t vcpu, struct dm_error *err)
{
	if (check_kvm(m, dev, m->cfg.lapic_flavor == DM_LAPIC_KVM, "lapic",
		      err))
		return -1;
	if (vcpu >= m->cfg.vcpus)
		return dm_errorf(err,
				 "%s: vcpu %" PRIu32
				 " does not exist (the machine has %" PRIu32
				 ")",
				 dev, vcpu, m->cfg.vcpus);
	return 0;
}

int dm_kvm_lapic_to(const struct dm_machine *m, uint64_t now_ns, uint32_t vcpu,
		    struct kvm_lapic_state *s, struct dm_error *err)
{
	uint64_t now;

	if (lapic_check_vcpu(m, "lapic", vcpu, err) ||
	    reading_time(m, now_ns, "lapic", &now, err))
		return -1;
	lapic_regs_to(&m->lapics[vcpu], now, s);
	return 0;
}

/* ID, LVR, LDR and DFR: what the mode and the machine allow. */
static int lapic_ident_from(const struct kvm_lapic_state *s, struct dm_lapic *t,
			    struct dm_error *err)
{
	uint32_t id = reg_get(s, A_ID), ldr = reg_get(s, A_LDR);
	uint32_t dfr = reg_get(s, A_DFR), lvr = reg_get(s, A_LVR);
	bool x2 = dm_lapic_x2apic(t);

	if (lvr != dm_lapic_version(t))
		return reg_errorf(err, A_LVR, "LVR",
				  "0x%08" PRIx32 ", but this machine's LAPIC "
				  "reads 0x%08" PRIx32
				  " (options lapic_lvts, lapic_directed_eoi)",
				  lvr, dm_lapic_version(t));
	if (x2 && id != t->cfg.vcpu_id << 24)
		return reg_errorf(err, A_ID, "ID",
				  "0x%08" PRIx32 ", but x2APIC vcpu %" PRIu32
				  " reads 0x%08" PRIx32,
				  id, t->cfg.vcpu_id, t->cfg.vcpu_id << 24);
	if (x2 && ldr != dm_lapic_ldr(t))
		return reg_errorf(err, A_LDR, "LDR",
				  "0x%08" PRIx32 ", but the x2APIC LDR of vcpu "
				  "%" PRIu32 " is 0x%08" PRIx32,
				  ldr, t->cfg.vcpu_id, dm_lapic_ldr(t));
	if (!x2 && (id & 0xffffff))
		return reg_errorf(err, A_ID, "ID",
				  "0x%08" PRIx32 " sets bits 23:0", id);
	if (!x2 && (ldr & 0xffffff))
		return reg_errorf(err, A_LDR, "LDR",
				  "0x%08" PRIx32 " sets bits 23:0", ldr);
	if ((dfr & 0x0fffffff) != 0x0fffffff)
		return reg_errorf(err, A_DFR, "DFR",
				  "0x%08" PRIx32 ": bits 27:0 read as ones",
				  dfr);
	if (!x2) {
		t->xapic_id = (uint8_t)(id >> 24);
		t->ldr = (uint8_t)(ldr >> 24);
	}
	t->dfr = (uint8_t)(dfr >> 28);
	return 0;
}

static int lapic_prio_from(const struct kvm_lapic_state *s, struct dm_lapic *t,
			   struct dm_error *err)
{
	uint32_t tpr = reg_get(s, A_TASKPRI), spiv = reg_get(s, A_SPIV);
	uint32_t esr = reg_get(s, A_ESR);
	uint32_t spiv_mask =
		0x3ffu | (t->cfg.directed_eoi ? SPIV_DIRECTED_EOI : 0);

	if (tpr > 0xff)
		return reg_errorf(err, A_TASKPRI, "TASKPRI",
				  "0x%08" PRIx32 " is wider than 8 bits", tpr);
	if (spiv & ~spiv_mask)
		return reg_errorf(err, A_SPIV, "SPIV",
				  "0x%08" PRIx32
				  " sets bits outside 0x%" PRIx32,
				  spiv, spiv_mask);
	if ((esr & ~ESR_BITS) || (esr && !t->cfg.esr))
		return reg_errorf(err, A_ESR, "ESR", "0x%08" PRIx32 ", but %s",
				  esr,
				  t->cfg.esr ? "only bits 7:5 are recorded"
					     : "KVM never records errors "
					       "(lapic_esr=off)");
	t->tpr = (uint8_t)tpr;
	t->svr = (uint16_t)spiv;
	t->esr = (uint8_t)esr;
	for (unsigned i = 0; i < 8; i++) {
		t->isr[i] = reg_get(s, A_ISR + 0x10 * i);
		t->tmr[i] = reg_get(s, A_TMR + 0x10 * i);
		t->irr[i] = reg_get(s, A_IRR + 0x10 * i);
	}
	return 0;
}

static int lapic_lvts_from(const struct kvm_lapic_state *s, struct dm_lapic *t,
			   struct dm_error *err)
{
	bool sw_on = t->svr & SPIV_ENABLE;

	for (unsigned i = 0; i < t->cfg.lvts; i++) {
		unsigned off = lvt_offset(i);
		uint32_t v = reg_get(s, off);
		bool quirk = i == DM_LVT_LINT0 && t->cfg.lint0_reenabled;

		if (v & ~kvm_lvt_mask[i])
			return reg_errorf(err, off, lvt_name[i],
					  "0x%08" PRIx32
					  " sets bits outside 0x%" PRIx32,
					  v, kvm_lvt_mask[i]);
		/* KVM masks every LVT while SPIV[8] is 0, except the BSP's
		 * LVT0 at reset (KVM_X86_QUIRK_LINT0_REENABLED). */
		if (!sw_on && !(v & LVT_MASKED) && !quirk)
			return reg_errorf(err, off, lvt_name[i],
					  "0x%08" PRIx32 " is unmasked while "
					  "SPIV bit 8 (software enable) is 0",
					  v);
		t->lvt[i] = v;
	}
	return 0;
}

static int lapic_icr_from(const struct kvm_lapic_state *s, struct dm_lapic *t,
			  struct dm_error *err)
{
	uint32_t lo = reg_get(s, A_ICR), hi = reg_get(s, A_ICR2);

	if (lo & ICR_BUSY)
		return reg_errorf(err, A_ICR, "ICR",
				  "0x%08" PRIx32 " has the busy bit 12 set, "
				  "which KVM always clears",
				  lo);
	if (lo & ~ICR_KEPT)
		return reg_errorf(err, A_ICR, "ICR",
				  "0x%08" PRIx32
				  " sets reserved bits 0x%08" PRIx32
				  ", which dmsim's ICR does not keep",
				  lo, lo & ~ICR_KEPT);
	if (!dm_lapic_x2apic(t) && (hi & 0xffffff))
		return reg_errorf(err, A_ICR2, "ICR2",
				  "0x%08" PRIx32 " sets bits 23:0", hi);
	t->icr_lo = lo;
	t->icr_hi = hi;
	return 0;
}

/* TDCR, and counts KVM never reports: TMCCT comes from a running timer. */
static int lapic_counts_from(const struct kvm_lapic_state *s,
			     struct dm_lapic *t, struct dm_error *err)
{
	uint32_t tmict = reg_get(s, A_TMICT), tmcct = reg_get(s, A_TMCCT);
	uint32_t tdcr = reg_get(s, A_TDCR);
	bool tsc = dm_lapic_timer_mode(t) == DM_LAPIC_TM_TSC_DEADLINE;

	if (tdcr & ~0xbu)
		return reg_errorf(err, A_TDCR, "TDCR",
				  "0x%08" PRIx32 " sets bits outside 0xb",
				  tdcr);
	if (tsc && tmict)
		return reg_errorf(err, A_TMICT, "TMICT",
				  "%" PRIu32 " in TSC-deadline mode, where KVM "
				  "clears it",
				  tmict);
	if ((tsc || !tmict) && tmcct)
		return reg_errorf(
			err, A_TMCCT, "TMCCT", "%" PRIu32 " with %s", tmcct,
			tmict ? "the timer in TSC-deadline mode" : "TMICT 0");
	t->tdcr = (uint8_t)tdcr;
	return 0;
}

/*
 * KVM_SET_LAPIC restarts the timer from TMCCT (__start_apic_timer with
 * APIC_TMCCT): the next expiry is TMCCT counts away, a periodic timer
 * reading 0 waits a full period, and the wait is capped at the period.  A
 * one-shot reading 0 has expired (KVM's SET would fire it again; dmsim
 * does not).  In TSC-deadline mode the deadline, an MSR outside the
 * struct, stays as the machine has it.
 */
static void lapic_timer_from(const struct kvm_lapic_state *s,
			     const struct dm_lapic *old, struct dm_lapic *t,
			     uint64_t now)
{
	unsigned mode = dm_lapic_timer_mode(t);
	uint64_t left;

	t->tm_count = 0;
	t->tm_base = 0;
	if (mode == DM_LAPIC_TM_TSC_DEADLINE) {
		bool was_tsc = dm_lapic_timer_mode(old) == mode;

		t->tmict = 0;
		t->tm_target = 0;
		t->tm_period = 0;
		t->tsc_deadline = was_tsc ? old->tsc_deadline : 0;
		t->timer.when = was_tsc ? old->timer.when : DM_TIME_NEVER;
		return;
	}
	t->tsc_deadline = 0;
	t->tmict = reg_get(s, A_TMICT);
	t->tm_period = dm_lapic_count_ns(t, t->tmict);
	dm_lapic_kvm_clamp(t);
	left = dm_lapic_count_ns(t, reg_get(s, A_TMCCT));
	if (!left && mode == DM_LAPIC_TM_PERIODIC)
		left = t->tm_period;
	if (left > t->tm_period)
		left = t->tm_period;
	if (!left)
		t->tm_target = 0;
	else
		t->tm_target =
			left > UINT64_MAX - now ? UINT64_MAX : now + left;
	t->timer.when = dm_lapic_timer_deadline(t, now);
}

int dm_kvm_lapic_from(struct dm_machine *m, uint64_t now_ns, uint32_t vcpu,
		      const struct kvm_lapic_state *s, struct dm_error *err)
{
	struct dm_lapic t;
	uint64_t now;

	if (lapic_check_vcpu(m, "lapic", vcpu, err))
		return -1;
	now = writing_time(m, now_ns);
	t = m->lapics[vcpu];
	if (lapic_ident_from(s, &t, err) || lapic_prio_from(s, &t, err) ||
	    lapic_lvts_from(s, &t, err) || lapic_icr_from(s, &t, err) ||
	    lapic_counts_from(s, &t, err))
		return dm_error_prefix(err, "kvm_lapic_state of vcpu %" PRIu32,
				       vcpu);
	lapic_timer_from(s, &m->lapics[vcpu], &t, now);
	if (load_scratch(&dm_lapic_state_desc, &m->lapics[vcpu], &t, err))
		return -1;
	return rtc_tracking(m, err);
}

/* ---- dumps ----------------------------------------------------------- */

/*
 * File layout (docs/kvm-state.md), integers little-endian, the KVM
 * structs as the x86-64 ABI lays them out:
 *   "DMKVM\0", u16 version, u32 present (bit 0 PIT, 1 PIC master, 2 PIC
 *   slave, 3 IOAPIC), u32 vcpus, u64 now_ns, s64 host_offset_ns, u32
 *   sizeof kvm_pit_state2, kvm_irqchip, kvm_lapic_state, u32 0;
 *   the PIT struct, three irqchip structs (zeros where absent);
 *   per vcpu: u8 present, 7 bytes 0, u64 apic_base, the LAPIC struct;
 *   the XXH3-64 of everything before it.
 */
#define DUMP_MAGIC "DMKVM"
#define DUMP_MAGIC_LEN 6
#define DUMP_VERSION 1
#define DUMP_HEADER 48
#define DUMP_VCPU_HEAD 16
#define DUMP_HAS_PIT 1u
#define DUMP_CHIP_BIT(id) (2u << (id))
#define DUMP_KNOWN 0xfu

static size_t dump_size(uint32_t vcpus)
{
	return DUMP_HEADER + sizeof(struct kvm_pit_state2) +
	       DM_KVM_DUMP_CHIPS * sizeof(struct kvm_irqchip) +
	       (size_t)vcpus *
		       (DUMP_VCPU_HEAD + sizeof(struct kvm_lapic_state)) +
	       8;
}

static uint8_t *put_raw(uint8_t *p, const void *src, size_t n)
{
	memcpy(p, src, n);
	return p + n;
}

void dm_kvm_dump_free(struct dm_kvm_dump *d)
{
	free(d->vcpu);
	d->vcpu = NULL;
}

static int dump_alloc(struct dm_kvm_dump *d, uint32_t vcpus,
		      struct dm_error *err)
{
	d->vcpus = vcpus;
	d->vcpu = calloc(vcpus, sizeof(*d->vcpu));
	if (!d->vcpu)
		return dm_errorf(err, "out of memory for %" PRIu32 " vcpus",
				 vcpus);
	return 0;
}

int dm_kvm_dump_capture(const struct dm_machine *m, uint64_t now_ns,
			int64_t host_offset_ns, struct dm_kvm_dump *d,
			struct dm_error *err)
{
	memset(d, 0, sizeof(*d));
	d->now_ns = now_ns > m->clock.now ? now_ns : m->clock.now;
	d->host_offset_ns = host_offset_ns;
	if (dump_alloc(d, m->cfg.vcpus, err))
		return -1;
	d->has_pit = true;
	if (dm_kvm_pit_to(m, now_ns, host_offset_ns, &d->pit, err))
		goto fail;
	for (uint32_t id = 0; id < DM_KVM_DUMP_CHIPS; id++) {
		d->has_chip[id] = true;
		d->chip[id].chip_id = id;
		if (dm_kvm_irqchip_to(m, now_ns, &d->chip[id], err))
			goto fail;
	}
	for (uint32_t i = 0; i < d->vcpus; i++) {
		d->vcpu[i].present = true;
		d->vcpu[i].apic_base = m->lapics[i].apic_base;
		if (dm_kvm_lapic_to(m, now_ns, i, &d->vcpu[i].lapic, err))
			goto fail;
	}
	return 0;
fail:
	dm_kvm_dump_free(d);
	return -1;
}

static uint32_t dump_present(const struct dm_kvm_dump *d)
{
	uint32_t p = d->has_pit ? DUMP_HAS_PIT : 0;

	for (unsigned id = 0; id < DM_KVM_DUMP_CHIPS; id++)
		if (d->has_chip[id])
			p |= DUMP_CHIP_BIT(id);
	return p;
}

static void dump_encode(const struct dm_kvm_dump *d, uint8_t *buf, size_t n)
{
	static const struct kvm_pit_state2 no_pit;
	static const struct kvm_irqchip no_chip;
	uint8_t *p = buf;

	p = put_raw(p, DUMP_MAGIC, DUMP_MAGIC_LEN);
	p = dm_put_le(p, DUMP_VERSION, 2);
	p = dm_put_le(p, dump_present(d), 4);
	p = dm_put_le(p, d->vcpus, 4);
	p = dm_put_le(p, d->now_ns, 8);
	p = dm_put_le(p, (uint64_t)d->host_offset_ns, 8);
	p = dm_put_le(p, sizeof(struct kvm_pit_state2), 4);
	p = dm_put_le(p, sizeof(struct kvm_irqchip), 4);
	p = dm_put_le(p, sizeof(struct kvm_lapic_state), 4);
	p = dm_put_le(p, 0, 4);
	p = put_raw(p, d->has_pit ? &d->pit : &no_pit, sizeof(d->pit));
	for (unsigned id = 0; id < DM_KVM_DUMP_CHIPS; id++)
		p = put_raw(p, d->has_chip[id] ? &d->chip[id] : &no_chip,
			    sizeof(no_chip));
	for (uint32_t i = 0; i < d->vcpus; i++) {
		const struct dm_kvm_vcpu_dump *v = &d->vcpu[i];

		p = dm_put_le(p, v->present, 8);
		p = dm_put_le(p, v->present ? v->apic_base : 0, 8);
		if (v->present)
			p = put_raw(p, &v->lapic, sizeof(v->lapic));
		else
			p = (uint8_t *)memset(p, 0, sizeof(v->lapic)) +
			    sizeof(v->lapic);
	}
	dm_put_le(p, XXH3_64bits(buf, n - 8), 8);
}

static int dump_shape_check(const struct dm_kvm_dump *d, struct dm_error *err)
{
	if (d->vcpus < 1 || d->vcpus > DM_MAX_VCPUS)
		return dm_errorf(err, "vcpus: %" PRIu32 " is not 1-%u",
				 d->vcpus, DM_MAX_VCPUS);
	/* The 8259 pair is one dmsim device: both chips or neither. */
	if (d->has_chip[KVM_IRQCHIP_PIC_MASTER] !=
	    d->has_chip[KVM_IRQCHIP_PIC_SLAVE])
		return dm_errorf(err, "the dump holds one 8259 of the pair; "
				      "dmsim's PIC device is both chips");
	for (uint32_t id = 0; id < DM_KVM_DUMP_CHIPS; id++)
		if (d->has_chip[id] && d->chip[id].chip_id != id)
			return dm_errorf(
				err, "irqchip %" PRIu32 ": chip_id is %" PRIu32,
				id, d->chip[id].chip_id);
	return 0;
}

int dm_kvm_dump_write(const char *path, const struct dm_kvm_dump *d,
		      struct dm_error *err)
{
	size_t n;
	uint8_t *buf;
	FILE *f;
	int rc = 0;

	if (dump_shape_check(d, err))
		return dm_error_prefix(err, "%s", path);
	n = dump_size(d->vcpus);
	buf = malloc(n);
	if (!buf)
		return dm_errorf(err, "%s: out of memory", path);
	dump_encode(d, buf, n);
	f = fopen(path, "wb");
	if (!f) {
		free(buf);
		return dm_errorf(err, "%s: %s", path, strerror(errno));
	}
	if (fwrite(buf, 1, n, f) != n)
		rc = dm_errorf(err, "%s: write failed: %s", path,
			       strerror(errno));
	if (fclose(f) && !rc)
		rc = dm_errorf(err, "%s: %s", path, strerror(errno));
	free(buf);
	return rc;
}

bool dm_kvm_dump_sniff(const void *head, size_t len)
{
	return len >= DUMP_MAGIC_LEN &&
	       !memcmp(head, DUMP_MAGIC, DUMP_MAGIC_LEN);
}

/* Grows a read buffer by doubling; false when memory runs out. */
static bool grow(uint8_t **b, size_t *cap)
{
	size_t ncap = *cap ? *cap * 2 : 4096;
	uint8_t *nb = realloc(*b, ncap);

	if (!nb)
		return false;
	*b = nb;
	*cap = ncap;
	return true;
}

static int read_file(const char *path, uint8_t **buf, size_t *len,
		     struct dm_error *err)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 0, n = 0, got = 1;
	uint8_t *b = NULL;
	int rc = 0;

	if (!f)
		return dm_errorf(err, "%s: %s", path, strerror(errno));
	while (got && !rc) {
		if (n == cap && !grow(&b, &cap)) {
			rc = dm_errorf(err, "%s: out of memory", path);
			break;
		}
		got = fread(b + n, 1, cap - n, f);
		n += got;
	}
	if (!rc && ferror(f))
		rc = dm_errorf(err, "%s: read failed", path);
	fclose(f);
	if (rc) {
		free(b);
		return rc;
	}
	*buf = b;
	*len = n;
	return 0;
}

static int dump_header(const uint8_t *b, size_t n, struct dm_kvm_dump *d,
		       uint32_t *present, struct dm_error *err)
{
	static const size_t sizes[3] = {sizeof(struct kvm_pit_state2),
					sizeof(struct kvm_irqchip),
					sizeof(struct kvm_lapic_state)};

	if (n < DUMP_HEADER + 8 || !dm_kvm_dump_sniff(b, n))
		return dm_errorf(err, "not a KVM state dump (no \"DMKVM\" "
				      "header)");
	if (dm_get_le(b + 6, 2) != DUMP_VERSION)
		return dm_errorf(err,
				 "byte 6: version %u, this build reads "
				 "version %u",
				 (unsigned)dm_get_le(b + 6, 2), DUMP_VERSION);
	*present = (uint32_t)dm_get_le(b + 8, 4);
	if (*present & ~DUMP_KNOWN)
		return dm_errorf(err, "byte 8: unknown device bits 0x%" PRIx32,
				 *present & ~DUMP_KNOWN);
	d->vcpus = (uint32_t)dm_get_le(b + 12, 4);
	if (d->vcpus < 1 || d->vcpus > DM_MAX_VCPUS)
		return dm_errorf(err, "byte 12: vcpus %" PRIu32 " is not 1-%u",
				 d->vcpus, DM_MAX_VCPUS);
	if (dm_get_le(b + 44, 4))
		return dm_errorf(err, "byte 44: reserved word is not 0");
	d->now_ns = dm_get_le(b + 16, 8);
	d->host_offset_ns = (int64_t)dm_get_le(b + 24, 8);
	for (unsigned i = 0; i < 3; i++)
		if (dm_get_le(b + 32 + 4 * i, 4) != sizes[i])
			return dm_errorf(err,
					 "byte %u: struct size %u, this "
					 "build's is %zu",
					 32 + 4 * i,
					 (unsigned)dm_get_le(b + 32 + 4 * i, 4),
					 sizes[i]);
	if (n != dump_size(d->vcpus))
		return dm_errorf(err,
				 "%zu bytes, but %" PRIu32 " vcpus make %zu", n,
				 d->vcpus, dump_size(d->vcpus));
	if (dm_get_le(b + n - 8, 8) != XXH3_64bits(b, n - 8))
		return dm_errorf(err, "byte %zu: checksum mismatch", n - 8);
	return 0;
}

static int dump_body(const uint8_t *b, uint32_t present, struct dm_kvm_dump *d,
		     struct dm_error *err)
{
	const uint8_t *p = b + DUMP_HEADER;

	d->has_pit = present & DUMP_HAS_PIT;
	memcpy(&d->pit, p, sizeof(d->pit));
	p += sizeof(d->pit);
	for (unsigned id = 0; id < DM_KVM_DUMP_CHIPS; id++) {
		d->has_chip[id] = present & DUMP_CHIP_BIT(id);
		memcpy(&d->chip[id], p, sizeof(d->chip[id]));
		p += sizeof(d->chip[id]);
	}
	for (uint32_t i = 0; i < d->vcpus; i++) {
		struct dm_kvm_vcpu_dump *v = &d->vcpu[i];
		uint64_t flag = dm_get_le(p, 8);

		if (flag > 1)
			return dm_errorf(err,
					 "byte %zu: vcpu %" PRIu32
					 " present flag %" PRIu64,
					 (size_t)(p - b), i, flag);
		v->present = flag;
		v->apic_base = dm_get_le(p + 8, 8);
		memcpy(&v->lapic, p + DUMP_VCPU_HEAD, sizeof(v->lapic));
		p += DUMP_VCPU_HEAD + sizeof(v->lapic);
	}
	return dump_shape_check(d, err);
}

int dm_kvm_dump_read(const char *path, struct dm_kvm_dump *d,
		     struct dm_error *err)
{
	uint8_t *b = NULL;
	size_t n = 0;
	uint32_t present = 0;
	int rc;

	memset(d, 0, sizeof(*d));
	if (read_file(path, &b, &n, err))
		return -1;
	rc = dump_header(b, n, d, &present, err);
	if (!rc)
		rc = dump_alloc(d, d->vcpus, err);
	if (!rc)
		rc = dump_body(b, present, d, err);
	free(b);
	if (rc) {
		dm_kvm_dump_free(d);
		return dm_error_prefix(err, "%s", path);
	}
	return 0;
}

/* The machine the dump describes: KVM's, sized by the LAPIC version. */
static int dump_config(const struct dm_kvm_dump *d, struct dm_config *cfg,
		       struct dm_error *err)
{
	dm_config_defaults(cfg, DM_PROFILE_KVM);
	cfg->vcpus = d->vcpus;
	for (uint32_t i = 0; i < d->vcpus; i++) {
		uint32_t lvr;
		unsigned lvts;

		if (!d->vcpu[i].present)
			continue;
		lvr = reg_get(&d->vcpu[i].lapic, A_LVR);
		lvts = ((lvr >> 16) & 0xff) + 1;
		if ((lvr & 0xfe00ffffu) != APIC_VERSION ||
		    (lvts != 6 && lvts != 7))
			return dm_errorf(err,
					 "lapic%" PRIu32 ": regs[0x030] (LVR): "
					 "0x%08" PRIx32 " is not KVM's version "
					 "0x14 with 6 or 7 LVTs",
					 i, lvr);
		cfg->lapic_lvts = lvts;
		cfg->lapic_directed_eoi = (lvr >> 24) & 1;
		break;
	}
	return 0;
}

/* QEMU's HPET in legacy mode owns IRQ0; dmsim's HPET must say so too. */
static int dump_hpet_legacy(struct dm_machine *m, const struct dm_kvm_dump *d,
			    struct dm_error *err)
{
	uint64_t gen_conf = 2; /* LEG_RT_CNF */

	if (!d->has_pit || !(d->pit.flags & KVM_PIT_FLAGS_HPET_LEGACY))
		return 0;
	dm_machine_mmio(m, d->now_ns, 0, DM_HPET_BASE + 0x10, 4, true,
			&gen_conf);
	if (!m->ms.hpet_legacy)
		return dm_errorf(err, "hpet: legacy replacement did not take");
	return 0;
}

static int apic_base_from(struct dm_machine *m, uint32_t vcpu, uint64_t base,
			  struct dm_error *err)
{
	struct dm_lapic t = m->lapics[vcpu];

	t.apic_base = base;
	return load_scratch(&dm_lapic_state_desc, &m->lapics[vcpu], &t, err);
}

static int dump_lapics(struct dm_machine *m, const struct dm_kvm_dump *d,
		       struct dm_error *err)
{
	for (uint32_t i = 0; i < d->vcpus; i++) {
		const struct dm_kvm_vcpu_dump *v = &d->vcpu[i];

		if (!v->present)
			continue;
		if ((v->apic_base && apic_base_from(m, i, v->apic_base, err)) ||
		    dm_kvm_lapic_from(m, d->now_ns, i, &v->lapic, err))
			return dm_error_prefix(err, "lapic%" PRIu32, i);
	}
	return 0;
}

static int dump_devices(struct dm_machine *m, const struct dm_kvm_dump *d,
			struct dm_error *err)
{
	if (dump_hpet_legacy(m, d, err) || dump_lapics(m, d, err))
		return -1;
	for (uint32_t id = 0; id < DM_KVM_DUMP_CHIPS; id++)
		if (d->has_chip[id] &&
		    dm_kvm_irqchip_from(m, d->now_ns, &d->chip[id], err))
			return dm_error_prefix(err, "irqchip %" PRIu32, id);
	if (d->has_pit &&
	    dm_kvm_pit_from(m, d->now_ns, d->host_offset_ns, &d->pit, err))
		return -1;
	return 0;
}

static void mark(const struct dm_machine *m, bool *present, const char *name)
{
	for (unsigned i = 0; i < m->ndevices; i++)
		if (!strcmp(m->devices[i].name, name))
			present[i] = true;
}

static void dump_mark(const struct dm_machine *m, const struct dm_kvm_dump *d,
		      bool *present)
{
	memset(present, 0, DM_MAX_DEVICES * sizeof(*present));
	if (d->has_pit)
		mark(m, present, "pit");
	if (d->has_chip[KVM_IRQCHIP_PIC_MASTER])
		mark(m, present, "pic");
	if (d->has_chip[KVM_IRQCHIP_IOAPIC])
		mark(m, present, "ioapic");
	for (uint32_t i = 0; i < d->vcpus; i++)
		if (d->vcpu[i].present)
			mark(m, present, m->lapic_names[i]);
}

int dm_kvm_dump_apply(const struct dm_kvm_dump *d, struct dm_machine **out,
		      bool *present, struct dm_error *err)
{
	struct dm_config cfg;
	struct dm_machine *m;

	if (dump_shape_check(d, err) || dump_config(d, &cfg, err) ||
	    dm_machine_create(&m, &cfg, err))
		return -1;
	dm_machine_advance(m, d->now_ns);
	if (dump_devices(m, d, err)) {
		dm_machine_destroy(m);
		return -1;
	}
	if (present)
		dump_mark(m, d, present);
	*out = m;
	return 0;
}

int dm_kvm_dump_load(const char *path, struct dm_machine **out, bool *present,
		     struct dm_error *err)
{
	struct dm_kvm_dump d;
	int rc;

	if (dm_kvm_dump_read(path, &d, err))
		return -1;
	rc = dm_kvm_dump_apply(&d, out, present, err);
	dm_kvm_dump_free(&d);
	if (rc)
		return dm_error_prefix(err, "%s", path);
	return 0;
}
