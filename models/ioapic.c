// SPDX-License-Identifier: MIT
/*
 * IOAPIC.  References: Intel 82093AA datasheet (order 290566) sections 3.0
 * to 3.2.4 and the ICH2 datasheet section 9.5 (EOI register, version 0x20)
 * for the datasheet flavour; Linux arch/x86/kvm/ioapic.c and QEMU
 * hw/intc/ioapic.c for the kvm and qemu flavours (facts only).
 * SPEC-NOTES sections 3 and 8.
 */
#include "models/ioapic.h"

#include <stdbool.h>
#include <string.h>

/* Direct registers (offsets in the window). */
#define OFF_IOREGSEL 0x00
#define OFF_IOWIN 0x10
#define OFF_EOI 0x40

/* Indirect registers (IOREGSEL values). */
#define REG_ID 0x00
#define REG_VER 0x01
#define REG_ARB 0x02
#define REG_RTE_FIRST 0x10
#define REG_RTE_LAST (REG_RTE_FIRST + 2 * DM_IOAPIC_PINS - 1)

/* Redirection-table entry fields (82093AA 3.2.4). */
#define RTE_VECTOR 0xffULL
#define RTE_DELIVERY_SHIFT 8
#define RTE_LOGICAL (1ULL << 11)
#define RTE_DELIVERY_STATUS (1ULL << 12)
#define RTE_ACTIVE_LOW (1ULL << 13)
#define RTE_REMOTE_IRR (1ULL << 14)
#define RTE_LEVEL (1ULL << 15)
#define RTE_MASKED (1ULL << 16)
#define RTE_DEST_SHIFT 56
#define RTE_READ_ONLY (RTE_DELIVERY_STATUS | RTE_REMOTE_IRR)

#define ID_SHIFT 24
#define ID_MASK 0xfu
#define VER_MAX_ENTRY ((uint32_t)(DM_IOAPIC_PINS - 1) << 16)
#define ALL_PINS ((1u << DM_IOAPIC_PINS) - 1)

/* KVM IOAPIC_SUCCESSIVE_IRQ_MAX_COUNT, QEMU SUCCESSIVE_IRQ_MAX_COUNT. */
#define THROTTLE_COUNT 10000
/* KVM HZ / 100 jiffies, QEMU NANOSECONDS_PER_SECOND / 100. */
#define THROTTLE_NS (DM_NS_PER_SEC / 100)
/* KVM's RTC_GSI: the pin whose EOIs KVM tracks for coalescing. */
#define RTC_PIN 8

static bool is_flavor(const struct dm_ioapic *s, enum dm_ioapic_flavor f)
{
	return s->flavor == (uint32_t)f;
}

static uint32_t pin_bit(unsigned pin)
{
	return 1u << pin;
}

static uint8_t rte_vector(uint64_t e)
{
	return (uint8_t)(e & RTE_VECTOR);
}

static bool rte_level(uint64_t e)
{
	return e & RTE_LEVEL;
}

static bool rte_masked(uint64_t e)
{
	return e & RTE_MASKED;
}

static bool line_high(const struct dm_ioapic *s, unsigned pin)
{
	return s->line & pin_bit(pin);
}

/*
 * Whether the pin requests an interrupt.  The 82093AA applies the input
 * polarity (bit 13) itself; KVM and QEMU ignore it and take the level
 * they are given as "asserted".
 */
static bool asserted(const struct dm_ioapic *s, unsigned pin)
{
	bool low = is_flavor(s, DM_IOAPIC_DATASHEET) &&
		   (s->rte[pin] & RTE_ACTIVE_LOW);

	return line_high(s, pin) != low;
}

/*
 * The message an RTE sends: the same fields as the MSI built from it
 * (SPEC-NOTES 8).  ExtINT carries the RTE vector; the receiver runs the
 * INTA cycle on the 8259 (QEMU's IOAPIC reads the PIC itself).
 */
static struct dm_apic_msg rte_msg(uint64_t e)
{
	struct dm_apic_msg m = {
		.dest = (uint32_t)(e >> RTE_DEST_SHIFT),
		.vector = rte_vector(e),
		.delivery = (uint8_t)((e >> RTE_DELIVERY_SHIFT) & 7),
		.logical = (e & RTE_LOGICAL) != 0,
		.level_trig = rte_level(e),
		.assert = 1,
		.shorthand = DM_SHORTHAND_NONE,
		.source = -1,
	};

	return m;
}

/* Returns the number of LAPICs that accepted (0 on an unwired bus). */
static int send(struct dm_ioapic *s, uint64_t now, unsigned pin)
{
	struct dm_apic_msg m = rte_msg(s->rte[pin]);
	int accepted;

	if (!s->bus.deliver)
		return 0;
	accepted = s->bus.deliver(s->bus.opaque, now, &m);
	return accepted > 0 ? accepted : 0;
}

/*
 * One delivery attempt (datasheet and kvm; KVM's ioapic_service).  A
 * masked entry, or a level entry waiting for its EOI, sends nothing and
 * returns -1.  Remote IRR is set only when a LAPIC accepted a level
 * message (82093AA 3.2.4, bit 14).
 */
static int service_pin(struct dm_ioapic *s, uint64_t now, unsigned pin)
{
	uint64_t e = s->rte[pin];
	int accepted;

	if (rte_masked(e) || (rte_level(e) && (e & RTE_REMOTE_IRR)))
		return -1;
	accepted = send(s, now, pin);
	if (accepted && rte_level(s->rte[pin]))
		s->rte[pin] |= RTE_REMOTE_IRR;
	return accepted;
}

/*
 * QEMU's ioapic_service: every pin with a latched request and an unmasked
 * entry sends, in pin order.  Edge requests are consumed; a level entry
 * sets Remote IRR before sending whether or not a LAPIC accepts, and skips
 * the send while Remote IRR was already set.
 */
static void qemu_service_all(struct dm_ioapic *s, uint64_t now)
{
	for (unsigned pin = 0; pin < DM_IOAPIC_PINS; pin++) {
		uint64_t e = s->rte[pin];

		if (!(s->irr & pin_bit(pin)) || rte_masked(e))
			continue;
		if (!rte_level(e)) {
			s->irr &= ~pin_bit(pin);
		} else {
			if (e & RTE_REMOTE_IRR)
				continue;
			s->rte[pin] |= RTE_REMOTE_IRR;
		}
		send(s, now, pin);
	}
}

/* Re-delivery of a still-asserted level pin (datasheet). */
static void ds_resample(struct dm_ioapic *s, uint64_t now, unsigned pin)
{
	if (rte_level(s->rte[pin]) && asserted(s, pin))
		service_pin(s, now, pin);
}

static void throttle_fire(void *opaque, uint64_t now)
{
	struct dm_ioapic *s = opaque;

	if (is_flavor(s, DM_IOAPIC_QEMU)) {
		qemu_service_all(s, now);
		return;
	}
	/* KVM's kvm_ioapic_eoi_inject_work: level pins only. */
	for (unsigned pin = 0; pin < DM_IOAPIC_PINS; pin++)
		if (rte_level(s->rte[pin]) && line_high(s, pin))
			service_pin(s, now, pin);
}

/*
 * When the THROTTLE_COUNTth EOI in a row finds a pin still asserted, KVM
 * and QEMU hold that re-delivery back by 10 ms ("real hardware does not
 * deliver the interrupt immediately during eoi broadcast"), so a guest that
 * never silences a level source still makes progress.  A pending deadline is
 * kept: it is always the earlier one (KVM's schedule_delayed_work does not
 * move pending work; QEMU's timer_mod_anticipate only moves it earlier).
 */
static void throttle_arm(struct dm_ioapic *s, uint64_t now)
{
	uint64_t when = now < DM_TIME_NEVER - 1 - THROTTLE_NS
				? now + THROTTLE_NS
				: DM_TIME_NEVER - 1;

	if (!dm_timer_pending(&s->throttle))
		dm_timer_arm(&s->throttle, when);
}

/* Counts one more EOI re-delivery; true when it must be held back. */
static bool throttle_count(struct dm_ioapic *s, uint64_t now, unsigned pin)
{
	if (++s->eoi_count[pin] < THROTTLE_COUNT)
		return false;
	s->eoi_count[pin] = 0;
	throttle_arm(s, now);
	return true;
}

/* --- input pins ---------------------------------------------------- */

static void set_line(struct dm_ioapic *s, unsigned pin, bool level)
{
	if (level)
		s->line |= pin_bit(pin);
	else
		s->line &= ~pin_bit(pin);
}

/*
 * Datasheet: an edge entry sends on the rising edge of the polarity-
 * adjusted input while unmasked (an edge while masked is lost, 82093AA
 * 3.2.4 bit 16); a level entry sends while the input is asserted, unmasked
 * and Remote IRR is clear.  RTE writes never create edges.
 */
static void ds_set_irq(struct dm_ioapic *s, uint64_t now, unsigned pin,
		       bool level)
{
	bool was = asserted(s, pin);

	set_line(s, pin, level);
	if (!asserted(s, pin))
		return;
	if (rte_level(s->rte[pin]) || !was)
		service_pin(s, now, pin);
}

/*
 * KVM's ioapic_set_irq.  The line level is recorded even for a masked edge
 * entry, which then never sends for that edge.  While a previous RTC
 * interrupt awaits EOIs, a new assertion of pin 8 is coalesced: dropped
 * without even being recorded.
 */
static void kvm_set_irq(struct dm_ioapic *s, uint64_t now, unsigned pin,
			bool level)
{
	bool was = line_high(s, pin);
	int accepted;

	if (level && pin == RTC_PIN && s->rtc_pending_eoi)
		return;
	set_line(s, pin, level);
	if (!level || (!rte_level(s->rte[pin]) && was))
		return;
	accepted = service_pin(s, now, pin);
	if (pin == RTC_PIN && accepted >= 0) {
		s->rtc_pending_eoi = (uint16_t)((uint32_t)accepted < s->vcpus
							? (uint32_t)accepted
							: s->vcpus);
		s->rtc_vector = rte_vector(s->rte[pin]);
	}
}

/*
 * QEMU's ioapic_set_irq: a level entry latches the level; an edge entry
 * latches a request on every assertion while unmasked (no edge detection,
 * so a repeated 1 sends again) and ignores it while masked.
 */
static void qemu_set_irq(struct dm_ioapic *s, uint64_t now, unsigned pin,
			 bool level)
{
	uint64_t e = s->rte[pin];

	set_line(s, pin, level);
	if (rte_level(e)) {
		if (!level) {
			s->irr &= ~pin_bit(pin);
			return;
		}
		s->irr |= pin_bit(pin);
		if (!(e & RTE_REMOTE_IRR))
			qemu_service_all(s, now);
	} else if (level && !rte_masked(e)) {
		s->irr |= pin_bit(pin);
		qemu_service_all(s, now);
	}
}

void dm_ioapic_set_irq(void *opaque, uint64_t now, unsigned pin, int level)
{
	struct dm_ioapic *s = opaque;

	if (pin >= DM_IOAPIC_PINS)
		return;
	switch (s->flavor) {
	case DM_IOAPIC_KVM:
		kvm_set_irq(s, now, pin, level != 0);
		break;
	case DM_IOAPIC_QEMU:
		qemu_set_irq(s, now, pin, level != 0);
		break;
	default:
		ds_set_irq(s, now, pin, level != 0);
		break;
	}
}

/* --- EOI ----------------------------------------------------------- */

static void notify_acked(struct dm_ioapic *s, uint64_t now, unsigned pin)
{
	dm_irq_notify_ack(&s->acked, now, pin);
}

/* Datasheet: clear Remote IRR of every level entry with the vector, then
 * resample those pins (82093AA 3.2.4 bit 14; SPEC-NOTES 3.4). */
static void ds_eoi(struct dm_ioapic *s, uint64_t now, uint8_t vector)
{
	for (unsigned pin = 0; pin < DM_IOAPIC_PINS; pin++) {
		uint64_t e = s->rte[pin];

		if (rte_vector(e) != vector || !rte_level(e))
			continue;
		if (e & RTE_REMOTE_IRR) {
			s->rte[pin] &= ~RTE_REMOTE_IRR;
			notify_acked(s, now, pin);
		}
		ds_resample(s, now, pin);
	}
}

/* KVM's rtc_irq_eoi, one call per EOIing LAPIC. */
static void kvm_rtc_eoi(struct dm_ioapic *s, uint8_t vector)
{
	if (s->rtc_pending_eoi && vector == s->rtc_vector)
		s->rtc_pending_eoi--;
}

/*
 * KVM's kvm_ioapic_update_eoi for a level EOI: every entry with the
 * vector, whatever its trigger mode or Remote IRR, runs the ack notifiers,
 * loses Remote IRR and re-sends if its line is still high and it is
 * unmasked.
 */
static void kvm_eoi(struct dm_ioapic *s, uint64_t now, uint8_t vector)
{
	kvm_rtc_eoi(s, vector);
	for (unsigned pin = 0; pin < DM_IOAPIC_PINS; pin++) {
		if (rte_vector(s->rte[pin]) != vector)
			continue;
		notify_acked(s, now, pin);
		s->rte[pin] &= ~RTE_REMOTE_IRR;
		if (rte_masked(s->rte[pin]) || !line_high(s, pin)) {
			s->eoi_count[pin] = 0;
			continue;
		}
		if (!throttle_count(s, now, pin))
			service_pin(s, now, pin);
	}
}

/*
 * QEMU's ioapic_eoi_broadcast: only level entries whose Remote IRR was set
 * take part; a still-latched unmasked request re-services every pin.
 */
static void qemu_eoi(struct dm_ioapic *s, uint64_t now, uint8_t vector)
{
	for (unsigned pin = 0; pin < DM_IOAPIC_PINS; pin++) {
		uint64_t e = s->rte[pin];

		if (rte_vector(e) != vector || !rte_level(e) ||
		    !(e & RTE_REMOTE_IRR))
			continue;
		s->rte[pin] &= ~RTE_REMOTE_IRR;
		notify_acked(s, now, pin);
		if (rte_masked(s->rte[pin]) || !(s->irr & pin_bit(pin))) {
			s->eoi_count[pin] = 0;
			continue;
		}
		if (!throttle_count(s, now, pin))
			qemu_service_all(s, now);
	}
}

void dm_ioapic_eoi(struct dm_ioapic *s, uint64_t now, uint8_t vector)
{
	switch (s->flavor) {
	case DM_IOAPIC_KVM:
		kvm_eoi(s, now, vector);
		break;
	case DM_IOAPIC_QEMU:
		qemu_eoi(s, now, vector);
		break;
	default:
		ds_eoi(s, now, vector);
		break;
	}
}

void dm_ioapic_eoi_edge(struct dm_ioapic *s, uint64_t now, uint8_t vector)
{
	if (!is_flavor(s, DM_IOAPIC_KVM))
		return;
	kvm_rtc_eoi(s, vector);
	for (unsigned pin = 0; pin < DM_IOAPIC_PINS; pin++)
		if (rte_vector(s->rte[pin]) == vector)
			notify_acked(s, now, pin);
}

/* --- indirect registers -------------------------------------------- */

/* Reserved indices (0x03-0x0F, 0x40-0xFF): KVM reads all ones (its
 * out-of-range entry is ~0), QEMU and the datasheet model read 0. */
static uint32_t undefined_index_value(const struct dm_ioapic *s)
{
	return is_flavor(s, DM_IOAPIC_KVM) ? UINT32_MAX : 0;
}

static uint32_t indirect_read(const struct dm_ioapic *s)
{
	unsigned sel = s->ioregsel;
	uint64_t e;

	switch (sel) {
	case REG_ID:
	/* The arbitration ID is loaded from the ID on every ID write
	 * (82093AA 3.2.1); APIC-bus arbitration is not modelled. */
	case REG_ARB:
		return (uint32_t)s->id << ID_SHIFT;
	case REG_VER:
		return VER_MAX_ENTRY | s->version;
	}
	if (sel < REG_RTE_FIRST || sel > REG_RTE_LAST)
		return undefined_index_value(s);
	e = s->rte[(sel - REG_RTE_FIRST) >> 1];
	return (uint32_t)(sel & 1 ? e >> 32 : e);
}

/*
 * Writes one half of an entry.  Delivery status and Remote IRR are read
 * only; an edge entry has no Remote IRR, which Linux relies on to clear a
 * stuck one on parts without an EOI register (KVM and QEMU do the same).
 * Reserved bits 55:17 are kept as written (ICH uses 55:48 as EDID) and
 * never affect delivery.
 */
static void rte_write(struct dm_ioapic *s, uint64_t now, unsigned pin,
		      bool high, uint32_t v)
{
	uint64_t old = s->rte[pin];
	uint64_t e = high ? (old & 0xffffffffULL) | ((uint64_t)v << 32)
			  : (old & ~0xffffffffULL) | v;

	e = (e & ~RTE_READ_ONLY) | (old & RTE_READ_ONLY);
	if (!rte_level(e))
		e &= ~RTE_REMOTE_IRR;
	s->rte[pin] = e;

	switch (s->flavor) {
	case DM_IOAPIC_KVM:
		/* ioapic_write_indirect re-services this pin, level only. */
		if (rte_level(e) && line_high(s, pin))
			service_pin(s, now, pin);
		break;
	case DM_IOAPIC_QEMU:
		/* ioapic_mem_write resets the storm count, then services
		 * every pin. */
		s->eoi_count[pin] = 0;
		qemu_service_all(s, now);
		break;
	default:
		/* An asserted level pin that becomes deliverable (unmasked,
		 * Remote IRR clear) sends at once. */
		ds_resample(s, now, pin);
		break;
	}
	/* KVM's ioapic_write_indirect fires the mask notifiers. */
	if ((old ^ e) & RTE_MASKED)
		dm_irq_notify_mask(&s->mask, now, pin, e & RTE_MASKED);
}

static void indirect_write(struct dm_ioapic *s, uint64_t now, uint32_t v)
{
	unsigned sel = s->ioregsel;

	if (sel == REG_ID) {
		s->id = (uint8_t)((v >> ID_SHIFT) & ID_MASK);
		return;
	}
	/* VER and ARB are read-only; reserved indices ignore writes. */
	if (sel < REG_RTE_FIRST || sel > REG_RTE_LAST)
		return;
	rte_write(s, now, (sel - REG_RTE_FIRST) >> 1, sel & 1, v);
}

/* --- MMIO window --------------------------------------------------- */

static bool valid_size(unsigned size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

static uint64_t size_mask(unsigned size)
{
	return size >= 8 ? UINT64_MAX : (1ULL << (8 * size)) - 1;
}

static bool has_eoi_register(const struct dm_ioapic *s)
{
	return s->version == 0x20;
}

/*
 * Datasheet decode: the registers sit at their exact offsets.  IOREGSEL
 * is an 8-bit register that takes any access width (82093AA 3.0: a byte
 * write loads it; bits 31:8 are reserved and read 0).  IOWIN "must be
 * accessed as a Dword" (82093AA 3.0, ICH2 9.5.1); the datasheet leaves
 * other widths undefined: dmsim reads 0 and ignores the write.  The EOI
 * register (ICH2 9.5: 8 bits, write-only) takes any width and uses bits
 * 7:0.  Every other offset reads 0 and ignores writes.
 */
static uint64_t ds_read(struct dm_ioapic *s, uint64_t offset, unsigned size)
{
	if (offset == OFF_IOREGSEL)
		return s->ioregsel;
	if (offset == OFF_IOWIN && size == 4)
		return indirect_read(s);
	return 0;
}

static void ds_write(struct dm_ioapic *s, uint64_t now, uint64_t offset,
		     unsigned size, uint64_t value)
{
	if (offset == OFF_IOREGSEL)
		s->ioregsel = (uint8_t)value;
	else if (offset == OFF_IOWIN && size == 4)
		indirect_write(s, now, (uint32_t)value);
	else if (offset == OFF_EOI && has_eoi_register(s))
		dm_ioapic_eoi(s, now, (uint8_t)value);
}

/*
 * KVM decodes offset & 0xFF only, so the registers alias every 256 bytes.
 * Reads produce the 32-bit register, truncated to 1 or 2 bytes or zero-
 * extended to 8; writes take the low 1, 2 or 4 bytes, zero-extended, as
 * the whole 32-bit value (a byte write to IOWIN clears bits 31:8).
 */
static uint64_t kvm_read(struct dm_ioapic *s, uint64_t offset, unsigned size)
{
	uint64_t reg = offset & 0xff;
	uint32_t v = 0;

	if (reg == OFF_IOREGSEL)
		v = s->ioregsel;
	else if (reg == OFF_IOWIN)
		v = indirect_read(s);
	return v & size_mask(size);
}

static void kvm_write(struct dm_ioapic *s, uint64_t now, uint64_t offset,
		      unsigned size, uint64_t value)
{
	uint64_t reg = offset & 0xff;
	uint32_t v = (uint32_t)(value & size_mask(size < 4 ? size : 4));

	if (reg == OFF_IOREGSEL)
		s->ioregsel = (uint8_t)v;
	else if (reg == OFF_IOWIN)
		indirect_write(s, now, v);
	else if (reg == OFF_EOI && has_eoi_register(s))
		dm_ioapic_eoi(s, now, (uint8_t)v);
}

/*
 * QEMU's memory core splits an access into naturally aligned pieces of at
 * most 4 bytes (the region declares no access sizes, so 4 is the maximum),
 * lowest address first; each piece reaches the device on its own.
 */
static unsigned qemu_piece(uint64_t offset, unsigned left)
{
	unsigned max = 4;
	uint64_t align = offset & -offset;

	if (align && align < max)
		max = (unsigned)align;
	if (left < max)
		max = left;
	return max >= 4 ? 4 : max >= 2 ? 2 : 1;
}

/* One piece: offset & 0xFF decode; IOWIN and EOI need exactly 4 bytes. */
static uint32_t qemu_read_piece(struct dm_ioapic *s, uint64_t offset,
				unsigned size)
{
	uint64_t reg = offset & 0xff;

	if (reg == OFF_IOREGSEL)
		return s->ioregsel;
	if (reg == OFF_IOWIN && size == 4)
		return indirect_read(s);
	return 0;
}

/* QEMU compares the whole EOI value with the 8-bit vectors, so a value
 * above 0xFF matches no entry. */
static void qemu_write_piece(struct dm_ioapic *s, uint64_t now, uint64_t offset,
			     unsigned size, uint32_t v)
{
	uint64_t reg = offset & 0xff;

	if (reg == OFF_IOREGSEL)
		s->ioregsel = (uint8_t)v;
	else if (reg == OFF_IOWIN && size == 4)
		indirect_write(s, now, v);
	else if (reg == OFF_EOI && size == 4 && has_eoi_register(s) &&
		 v <= 0xff)
		dm_ioapic_eoi(s, now, (uint8_t)v);
}

static uint64_t qemu_read(struct dm_ioapic *s, uint64_t offset, unsigned size)
{
	uint64_t v = 0;

	for (unsigned done = 0; done < size;) {
		unsigned n = qemu_piece(offset + done, size - done);
		uint64_t piece = qemu_read_piece(s, offset + done, n);

		v |= (piece & size_mask(n)) << (8 * done);
		done += n;
	}
	return v;
}

static void qemu_write(struct dm_ioapic *s, uint64_t now, uint64_t offset,
		       unsigned size, uint64_t value)
{
	for (unsigned done = 0; done < size;) {
		unsigned n = qemu_piece(offset + done, size - done);
		uint32_t piece =
			(uint32_t)((value >> (8 * done)) & size_mask(n));

		qemu_write_piece(s, now, offset + done, n, piece);
		done += n;
	}
}

/* Sizes other than 1, 2, 4 and 8 read 0 and are ignored in every flavour
 * (KVM warns and drops them; no bus produces them). */
uint64_t dm_ioapic_read(void *opaque, uint64_t now, uint64_t offset,
			unsigned size)
{
	struct dm_ioapic *s = opaque;

	(void)now;
	if (!valid_size(size))
		return 0;
	switch (s->flavor) {
	case DM_IOAPIC_KVM:
		return kvm_read(s, offset, size);
	case DM_IOAPIC_QEMU:
		return qemu_read(s, offset, size);
	default:
		return ds_read(s, offset, size);
	}
}

void dm_ioapic_write(void *opaque, uint64_t now, uint64_t offset, unsigned size,
		     uint64_t value)
{
	struct dm_ioapic *s = opaque;

	if (!valid_size(size))
		return;
	switch (s->flavor) {
	case DM_IOAPIC_KVM:
		kvm_write(s, now, offset, size, value);
		break;
	case DM_IOAPIC_QEMU:
		qemu_write(s, now, offset, size, value);
		break;
	default:
		ds_write(s, now, offset, size, value);
		break;
	}
}

/* --- reset and state ----------------------------------------------- */

/*
 * Every entry becomes 0x00010000 (82093AA: masked, other bits undefined;
 * QEMU ioapic_reset_common).  Under KVM the machine reset is QEMU's: it
 * resets its copy the same way and loads it with KVM_SET_IRQCHIP (KVM's
 * own kvm_ioapic_reset only runs on zeroed entries at creation).  KVM and
 * QEMU forget the input levels (their irr) but keep their storm counts and
 * a pending delayed re-delivery, which then finds nothing to send; the
 * datasheet inputs are wires, which a reset does not move.
 */
void dm_ioapic_reset(struct dm_ioapic *s, uint64_t now)
{
	(void)now;
	s->id = 0;
	s->ioregsel = 0;
	s->irr = 0;
	for (unsigned pin = 0; pin < DM_IOAPIC_PINS; pin++)
		s->rte[pin] = RTE_MASKED;
	if (!is_flavor(s, DM_IOAPIC_DATASHEET))
		s->line = 0;
	s->rtc_pending_eoi = 0;
	s->rtc_vector = 0;
}

int dm_ioapic_init(struct dm_ioapic *s, const struct dm_config *cfg,
		   struct dm_eventq *q, struct dm_error *err)
{
	if (cfg->ioapic_version != 0x11 && cfg->ioapic_version != 0x20)
		return dm_errorf(err,
				 "option ioapic_version: 0x%x is not an IOAPIC "
				 "version; use 0x11 (82093AA) or 0x20 (ICH)",
				 cfg->ioapic_version);
	if (cfg->ioapic_flavor > DM_IOAPIC_QEMU)
		return dm_errorf(err, "option ioapic: unknown flavour %u",
				 cfg->ioapic_flavor);
	memset(s, 0, sizeof(*s));
	s->flavor = cfg->ioapic_flavor;
	s->version = cfg->ioapic_version;
	s->vcpus = cfg->vcpus;
	dm_timer_init(&s->throttle, q, throttle_fire, s);
	for (unsigned pin = 0; pin < DM_IOAPIC_PINS; pin++)
		s->rte[pin] = RTE_MASKED;
	return 0;
}

static int validate_rtes(const struct dm_ioapic *s, struct dm_error *err)
{
	for (unsigned pin = 0; pin < DM_IOAPIC_PINS; pin++) {
		uint64_t e = s->rte[pin];

		if (e & RTE_DELIVERY_STATUS)
			return dm_errorf(err,
					 "rte[%u]: delivery status (bit 12) "
					 "is set, but messages go out at once",
					 pin);
		if ((e & RTE_REMOTE_IRR) && !rte_level(e))
			return dm_errorf(err,
					 "rte[%u]: Remote IRR (bit 14) is set "
					 "on an edge-triggered entry",
					 pin);
	}
	return 0;
}

static int validate_throttle(const struct dm_ioapic *s, struct dm_error *err)
{
	if (!is_flavor(s, DM_IOAPIC_DATASHEET))
		return 0;
	for (unsigned pin = 0; pin < DM_IOAPIC_PINS; pin++)
		if (s->eoi_count[pin])
			return dm_errorf(err,
					 "eoi_count[%u]: %u, but only the kvm "
					 "and qemu flavours count EOIs",
					 pin, s->eoi_count[pin]);
	if (dm_timer_pending(&s->throttle))
		return dm_errorf(err,
				 "throttle: armed, but only the kvm and qemu "
				 "flavours throttle");
	return 0;
}

static int validate_rtc(const struct dm_ioapic *s, struct dm_error *err)
{
	if (!is_flavor(s, DM_IOAPIC_KVM) &&
	    (s->rtc_pending_eoi || s->rtc_vector))
		return dm_errorf(err,
				 "rtc_pending_eoi: RTC EOI tracking is set, "
				 "but only the kvm flavour tracks it");
	if (s->rtc_pending_eoi > s->vcpus)
		return dm_errorf(err,
				 "rtc_pending_eoi: %u EOIs awaited from %u "
				 "vcpus",
				 s->rtc_pending_eoi, s->vcpus);
	return 0;
}

static int validate(const void *state, struct dm_error *err)
{
	const struct dm_ioapic *s = state;

	if (validate_rtes(s, err) || validate_throttle(s, err) ||
	    validate_rtc(s, err))
		return -1;
	if (s->irr && !is_flavor(s, DM_IOAPIC_QEMU))
		return dm_errorf(err,
				 "irr: 0x%x, but only the qemu flavour latches "
				 "requests",
				 s->irr);
	return 0;
}

static const struct dm_field ioapic_fields[] = {
	DM_ARRAY(DM_FT_U64, struct dm_ioapic, rte, 1, UINT64_MAX, DM_FF_HEX),
	DM_SCALAR(DM_FT_U32, struct dm_ioapic, line, 2, ALL_PINS, DM_FF_HEX),
	DM_SCALAR(DM_FT_U32, struct dm_ioapic, irr, 3, ALL_PINS, DM_FF_HEX),
	DM_ARRAY(DM_FT_U16, struct dm_ioapic, eoi_count, 4, THROTTLE_COUNT - 1,
		 0),
	DM_U16(struct dm_ioapic, rtc_pending_eoi, 5, 256),
	DM_X8(struct dm_ioapic, rtc_vector, 6),
	DM_X8(struct dm_ioapic, ioregsel, 7),
	DM_U8(struct dm_ioapic, id, 8, ID_MASK),
	DM_TIMER(struct dm_ioapic, throttle, 9),
};

const struct dm_state_desc dm_ioapic_state_desc = DM_STATE_DESC(
	"ioapic", 1, struct dm_ioapic, ioapic_fields, .validate = validate);
