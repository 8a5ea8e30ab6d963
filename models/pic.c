// SPDX-License-Identifier: MIT
/*
 * The PC's cascaded 8259A pair and the PIIX ELCR.  Facts are from the Intel
 * 8259A data sheet (cited as [8259A]), the PIIX/ICH data sheets for the
 * ELCR, and the behaviour of KVM's arch/x86/kvm/i8259.c and QEMU's
 * hw/intc/i8259.c for the kvm and qemu flavours (SPEC-NOTES section 2).
 *
 * Both chips live in one struct so that the cascade (slave INT -> master
 * IR2, the CAS bus during INTA) is internal wiring, never a call between
 * models.
 */
#include "models/pic.h"

#include <string.h>

#define MASTER 0u
#define SLAVE 1u
#define CASCADE_IR 2u /* master input that carries the slave's INT */
#define NUM_IRQS 16u
#define OPEN_BUS 0xFF

/* Chips whose pic_update_irq an operation runs in KVM and QEMU. */
#define SYNC_NONE 0u
#define SYNC_CHIP(idx) (1u << (idx))
#define SYNC_SLAVE SYNC_CHIP(SLAVE)
#define SYNC_BOTH 3u

/* ELCR bits that are fixed at 0: IRQ0, 1, 2 and IRQ8, 13 (PIIX, KVM). */
static const uint8_t elcr_writable[2] = {0xF8, 0xDE};

enum region { REGION_MASTER, REGION_SLAVE, REGION_ELCR };

/* Priority rank of IR n: 0 is the highest (SPEC-NOTES 2.4). */
static unsigned rank(const struct dm_pic_chip *c, unsigned n)
{
	return (n - c->highest) & 7;
}

/* The IR of highest priority in mask under the current rotation, or -1. */
static int top(const struct dm_pic_chip *c, uint8_t mask)
{
	for (unsigned r = 0; r < 8; r++) {
		unsigned n = (c->highest + r) & 7;

		if (mask & (1u << n))
			return (int)n;
	}
	return -1;
}

/*
 * Inputs that are level-triggered.  [8259A] ICW1 LTIM makes every input
 * level-triggered; the PIIX ELCR selects per input.  QEMU honours LTIM
 * too (since 8.0); KVM ignores it.
 */
static uint8_t level_mask(const struct dm_pic *p, const struct dm_pic_chip *c)
{
	if (c->ltim && p->flavor != DM_PIC_KVM)
		return 0xFF;
	return c->elcr;
}

/*
 * Whether the master treats IR2 as a slave input.  [8259A] only when it is
 * in cascade mode (SNGL = 0) and ICW3 names IR2; KVM and QEMU ignore SNGL
 * and ICW3 here and always cascade.
 */
static bool cascaded(const struct dm_pic *p)
{
	const struct dm_pic_chip *m = &p->chip[MASTER];

	if (p->flavor != DM_PIC_DATASHEET)
		return true;
	return !m->sngl && (m->icw3 & (1u << CASCADE_IR));
}

/* [8259A] a slave answers the cascade address only if it equals its ID. */
static bool slave_answers(const struct dm_pic *p)
{
	return p->flavor != DM_PIC_DATASHEET ||
	       (p->chip[SLAVE].icw3 & 7) == CASCADE_IR;
}

/*
 * The request a chip presents on INT, or -1: the highest-priority unmasked
 * IRR bit, if it is strictly above every in-service level that blocks it.
 * Special mask mode unblocks masked levels ([8259A], QEMU; KVM stores the
 * bit but ignores it).  Special fully nested mode on the master lets an
 * in-service IR2 not block IR2 itself [8259A]; KVM and QEMU drop ISR[2]
 * from the comparison altogether, so IR3-7 get through as well.
 */
int dm_pic_request(const struct dm_pic *p, unsigned idx)
{
	const struct dm_pic_chip *c = &p->chip[idx];
	int n = top(c, c->irr & ~c->imr);
	uint8_t block = c->isr;
	int busy;

	if (n < 0)
		return -1;
	if (c->smm && p->flavor != DM_PIC_KVM)
		block &= ~c->imr;
	if (idx == MASTER && c->sfnm &&
	    (p->flavor != DM_PIC_DATASHEET ||
	     ((unsigned)n == CASCADE_IR && cascaded(p))))
		block &= ~(1u << CASCADE_IR);
	busy = top(c, block);
	if (busy >= 0 && rank(c, (unsigned)n) >= rank(c, (unsigned)busy))
		return -1;
	return n;
}

static void note_ack(struct dm_pic *p, unsigned idx, unsigned n)
{
	p->acks |= (uint16_t)(1u << (idx * 8 + n));
}

/*
 * An EOI clears ISR[n].  KVM's pic_clear_isr reports the acknowledgement
 * even when the bit was already clear; the others only report a real
 * in-service bit.
 */
static void clear_isr(struct dm_pic *p, unsigned idx, unsigned n)
{
	struct dm_pic_chip *c = &p->chip[idx];
	uint8_t m = (uint8_t)(1u << n);

	if ((c->isr & m) || p->flavor == DM_PIC_KVM)
		note_ack(p, idx, n);
	c->isr &= (uint8_t)~m;
}

/*
 * An input line changes level.  Level inputs: IRR follows the line.  Edge
 * inputs: a rising edge sets IRR.  [8259A] the request must stay high
 * until the first INTA, so a falling line withdraws it (an INTA then finds
 * nothing: spurious IR7); KVM and QEMU latch the edge until INTA.
 */
static void drive_input(struct dm_pic *p, unsigned idx, unsigned n, bool level)
{
	struct dm_pic_chip *c = &p->chip[idx];
	uint8_t m = (uint8_t)(1u << n);

	if (level_mask(p, c) & m)
		c->irr = level ? c->irr | m : c->irr & (uint8_t)~m;
	else if (level && !(c->line & m))
		c->irr |= m;
	else if (!level && p->flavor == DM_PIC_DATASHEET)
		c->irr &= (uint8_t)~m;
	c->line = level ? c->line | m : c->line & (uint8_t)~m;
}

/*
 * Re-evaluates master IR2 (when cascade) and the master's INT.  The
 * slave's INT is wired to master IR2 as a level ([8259A], QEMU); KVM
 * instead pulses IR2 (raise then lower) on every evaluation that finds a
 * slave request, so IR2 is re-latched each time.
 */
static void update(struct dm_pic *p, uint64_t now, bool cascade)
{
	bool slave_int = dm_pic_request(p, SLAVE) >= 0;
	bool out;

	if (cascade && p->flavor == DM_PIC_KVM) {
		if (slave_int) {
			drive_input(p, MASTER, CASCADE_IR, true);
			drive_input(p, MASTER, CASCADE_IR, false);
		}
	} else if (cascade) {
		drive_input(p, MASTER, CASCADE_IR, slave_int);
	}
	out = dm_pic_request(p, MASTER) >= 0;
	if (out != p->intr) {
		p->intr = out;
		dm_irq_set(&p->intr_line, now, out);
	}
}

/*
 * Ends every operation.  The 8259A's outputs follow its state at all
 * times.  KVM and QEMU re-evaluate them only where their code calls
 * pic_update_irq, on the chips sync names: KVM's update covers both
 * chips; QEMU's drives one chip's INT, so only a slave update re-drives
 * master IR2 (a master update still re-evaluates the master's INT).
 * Acknowledgements go out last, with the state settled, so a listener may
 * drive an input again.
 */
static void finish(struct dm_pic *p, uint64_t now, unsigned sync)
{
	if (p->flavor == DM_PIC_DATASHEET)
		sync = SYNC_BOTH;
	if (sync)
		update(p, now, (sync & SYNC_SLAVE) || p->flavor == DM_PIC_KVM);
	while (p->acks) {
		unsigned irq = (unsigned)__builtin_ctz(p->acks);

		p->acks &= (uint16_t)(p->acks - 1);
		dm_irq_notify_ack(&p->acked, now, irq);
	}
}

/* The first INTA pulse on one chip for IR n: ISR[n] set, edge IRR cleared. */
static void inta_first(struct dm_pic *p, unsigned idx, unsigned n)
{
	struct dm_pic_chip *c = &p->chip[idx];
	uint8_t m = (uint8_t)(1u << n);

	if (!(level_mask(p, c) & m))
		c->irr &= (uint8_t)~m;
	c->isr |= m;
}

/*
 * [8259A] INT follows the chip's state through the INTA sequence: once
 * the slave's ISR bit is set, what it still requests ranks lower, so its
 * INT is low until the sequence ends.  The master's IR2 sees that fall,
 * and an AEOI slave with more requests gives it a new rising edge.
 * QEMU's AEOI slave keeps INT high throughout (its IR2 then waits for INT
 * to drop); KVM re-pulses IR2 anyway.
 */
static void inta_mid(struct dm_pic *p)
{
	if (p->flavor == DM_PIC_DATASHEET)
		drive_input(p, MASTER, CASCADE_IR,
			    dm_pic_request(p, SLAVE) >= 0);
}

/*
 * The end of the last INTA pulse: with AEOI the bit clears again [8259A]
 * (KVM sets and clears it; QEMU never sets it, which is the same since its
 * ICW1 empties the ISR before AEOI can be chosen).
 */
static void inta_end(struct dm_pic *p, unsigned idx, unsigned n)
{
	struct dm_pic_chip *c = &p->chip[idx];

	if (!c->aeoi)
		return;
	c->isr &= (uint8_t) ~(1u << n);
	if (c->rotate_aeoi)
		c->highest = (uint8_t)((n + 1) & 7);
	note_ack(p, idx, n);
}

/*
 * The byte a chip drives in the second INTA pulse.  8086 mode: ICW2 bits
 * 7:3 plus the IR.  [8259A] 8080 mode sends CALL, then the low and high
 * address bytes on three pulses; an x86 CPU reads the second pulse, the
 * low address byte: A7-A5 and the IR at interval 4, A7-A6 and the IR at
 * interval 8.  KVM and QEMU ignore the mode and send the 8086 vector.
 */
static uint8_t vector(const struct dm_pic *p, unsigned idx, unsigned n)
{
	const struct dm_pic_chip *c = &p->chip[idx];

	if (c->upm || p->flavor != DM_PIC_DATASHEET)
		return (uint8_t)(c->vector_base | n);
	if (c->adi)
		return (uint8_t)(c->call_addr << 5 | n << 2);
	return (uint8_t)((c->call_addr & 6) << 5 | n << 3);
}

int dm_pic_intack(struct dm_pic *p, uint64_t now)
{
	int n = dm_pic_request(p, MASTER);
	int n2 = -1;
	uint8_t v;

	if (n < 0) {
		/* QEMU leaves INT alone on a spurious INTA; KVM does not. */
		finish(p, now,
		       p->flavor == DM_PIC_QEMU ? SYNC_NONE : SYNC_BOTH);
		return vector(p, MASTER, 7);
	}
	/* The master sets ISR[2] even when no slave request answers. */
	inta_first(p, MASTER, (unsigned)n);
	if ((unsigned)n != CASCADE_IR || !cascaded(p)) {
		v = vector(p, MASTER, (unsigned)n);
	} else if (!slave_answers(p)) {
		v = OPEN_BUS;
	} else {
		n2 = dm_pic_request(p, SLAVE);
		if (n2 >= 0)
			inta_first(p, SLAVE, (unsigned)n2);
		v = vector(p, SLAVE, n2 < 0 ? 7 : (unsigned)n2);
	}
	inta_mid(p);
	inta_end(p, MASTER, (unsigned)n);
	if (n2 >= 0)
		inta_end(p, SLAVE, (unsigned)n2);
	/* QEMU updates the slave only when the slave was acknowledged. */
	finish(p, now, n2 >= 0 ? SYNC_BOTH : SYNC_CHIP(MASTER));
	return v;
}

int dm_pic_pending(const struct dm_pic *p)
{
	return p->intr;
}

void dm_pic_set_irq(void *opaque, uint64_t now, unsigned irq, int level)
{
	struct dm_pic *p = opaque;

	/*
	 * Master IR2 is driven only by the slave's INT (the ISA bus's IRQ2
	 * pin is routed to IRQ9 on the AT); there are no pins past 15.
	 */
	if (irq >= NUM_IRQS || irq == CASCADE_IR)
		return;
	drive_input(p, irq >> 3, irq & 7, level != 0);
	finish(p, now, SYNC_CHIP(irq >> 3));
}

static void clear_icw4(struct dm_pic_chip *c)
{
	c->upm = false;
	c->aeoi = false;
	c->sfnm = false;
}

/*
 * [8259A] ICW1 resets the edge-sense latches (a line already high must
 * fall and rise again; level inputs keep following their lines), clears
 * the IMR, makes IR7 the lowest priority, clears special mask mode, selects
 * the IRR for reads and, with IC4 = 0, zeroes every ICW4 function.  It
 * leaves the ISR alone.  dmsim also cancels a pending poll: it is a read
 * selection like RR/RIS.
 */
static void icw1_datasheet(struct dm_pic *p, struct dm_pic_chip *c)
{
	c->irr = c->line & level_mask(p, c);
	c->imr = 0;
	c->highest = 0;
	c->smm = false;
	c->read_isr = false;
	c->poll = false;
	if (!c->ic4)
		clear_icw4(c);
}

/*
 * KVM's kvm_pic_reset: forgets the line levels, keeps only ELCR IRR bits,
 * clears the IMR, rotation, special mask and read select, and AEOI/SFNM
 * only when IC4 = 0.  Poll, rotate-in-AEOI and the vector base survive.
 * Every pending edge request has its ISR bit cleared and reported
 * acknowledged, but only when a vcpu takes the 8259's interrupts (its
 * LAPIC disabled, or LVT0 an unmasked ExtINT): under QEMU, which loads
 * its LAPIC reset state with LVT0 masked, SeaBIOS's ICW1 acknowledges
 * nothing, and KVM's PIT goes on waiting for the tick it injected.
 */
static void icw1_kvm(struct dm_pic *p, unsigned idx)
{
	struct dm_pic_chip *c = &p->chip[idx];
	uint8_t edge = c->irr & (uint8_t)~c->elcr;

	c->line = 0;
	c->irr &= c->elcr;
	c->imr = 0;
	c->highest = 0;
	c->smm = false;
	c->read_isr = false;
	if (!c->ic4)
		clear_icw4(c);
	if (p->taker.takes && !p->taker.takes(p->taker.opaque))
		return;
	for (unsigned n = 0; n < 8; n++)
		if (edge & (1u << n))
			clear_isr(p, idx, n);
}

/* QEMU's pic_reset_common: everything but the ELCR and level IRR bits. */
static void icw1_qemu(struct dm_pic_chip *c)
{
	c->line = 0;
	c->irr &= c->elcr;
	c->imr = 0;
	c->isr = 0;
	c->highest = 0;
	c->vector_base = 0;
	c->read_isr = false;
	c->poll = false;
	c->smm = false;
	c->rotate_aeoi = false;
	clear_icw4(c);
}

static void icw1(struct dm_pic *p, unsigned idx, uint64_t now, uint8_t val)
{
	struct dm_pic_chip *c = &p->chip[idx];

	c->ic4 = val & 0x01;
	c->sngl = val & 0x02;
	c->adi = val & 0x04;
	c->ltim = val & 0x08;
	c->call_addr = val >> 5;
	c->init_step = 1;
	if (p->flavor == DM_PIC_KVM)
		icw1_kvm(p, idx);
	else if (p->flavor == DM_PIC_QEMU)
		icw1_qemu(c);
	else
		icw1_datasheet(p, c);
	/* KVM's ICW1 does not re-evaluate INT. */
	finish(p, now, p->flavor == DM_PIC_KVM ? SYNC_NONE : SYNC_CHIP(idx));
}

/* ICW2 to ICW4 on port 1, in the order ICW1 announced. */
static void icw_next(struct dm_pic *p, unsigned idx, uint64_t now, uint8_t val)
{
	struct dm_pic_chip *c = &p->chip[idx];

	switch (c->init_step) {
	case 1:
		c->vector_base = val & 0xF8;
		/* KVM ignores SNGL and waits for ICW3 regardless. */
		if (c->sngl && p->flavor != DM_PIC_KVM)
			c->init_step = c->ic4 ? 3 : 0;
		else
			c->init_step = 2;
		break;
	case 2:
		c->icw3 = val;
		c->init_step = c->ic4 ? 3 : 0;
		break;
	default:
		/* BUF and M/S are ignored: the roles are wired (SP/EN). */
		c->upm = val & 0x01;
		c->aeoi = val & 0x02;
		c->sfnm = val & 0x10;
		c->init_step = 0;
		break;
	}
	finish(p, now, SYNC_NONE);
}

/*
 * The IS bit a non-specific EOI clears: the highest in priority.  [8259A]
 * in special mask mode an IS bit masked by the IMR is not cleared by it;
 * KVM and QEMU take the highest ISR bit regardless.
 */
static int eoi_target(const struct dm_pic *p, const struct dm_pic_chip *c)
{
	uint8_t isr = c->isr;

	if (c->smm && p->flavor == DM_PIC_DATASHEET)
		isr &= (uint8_t)~c->imr;
	return top(c, isr);
}

/* OCW2: bits 7:5 R SL EOI, bits 2:0 the level L (SPEC-NOTES 2.3). */
static void ocw2(struct dm_pic *p, unsigned idx, uint64_t now, uint8_t val)
{
	struct dm_pic_chip *c = &p->chip[idx];
	unsigned level = val & 7;
	unsigned sync = SYNC_CHIP(idx);
	int n;

	switch (val >> 5) {
	case 0: /* clear rotate in AEOI */
	case 4: /* set rotate in AEOI */
		c->rotate_aeoi = val & 0x80;
		sync = SYNC_NONE;
		break;
	case 1: /* non-specific EOI */
	case 5: /* rotate on non-specific EOI */
		n = eoi_target(p, c);
		if (n < 0) {
			sync = SYNC_NONE;
			break;
		}
		if (val & 0x80)
			c->highest = (uint8_t)((n + 1) & 7);
		clear_isr(p, idx, (unsigned)n);
		break;
	case 3: /* specific EOI */
		clear_isr(p, idx, level);
		break;
	case 6: /* set priority */
		c->highest = (uint8_t)((level + 1) & 7);
		break;
	case 7: /* rotate on specific EOI */
		c->highest = (uint8_t)((level + 1) & 7);
		clear_isr(p, idx, level);
		break;
	default: /* 010: no operation */
		sync = SYNC_NONE;
		break;
	}
	finish(p, now, sync);
}

/*
 * OCW3: P requests a poll on the next read, RR = 1 selects the register
 * RIS names, ESMM = 1 sets special mask mode to SMM.  Bit 7 (must be 0) is
 * ignored.
 */
static void ocw3(struct dm_pic *p, unsigned idx, uint64_t now, uint8_t val)
{
	struct dm_pic_chip *c = &p->chip[idx];

	if (val & 0x04)
		c->poll = true;
	if (val & 0x02)
		c->read_isr = val & 0x01;
	if (val & 0x40)
		c->smm = val & 0x20;
	finish(p, now, SYNC_NONE);
}

/* OCW1.  KVM tells its mask notifiers of every bit that changed (an
 * ICW1 clearing the IMR tells nobody). */
static void set_imr(struct dm_pic *p, unsigned idx, uint64_t now, uint8_t val)
{
	struct dm_pic_chip *c = &p->chip[idx];
	uint8_t changed = c->imr ^ val;

	c->imr = val;
	finish(p, now, SYNC_CHIP(idx));
	for (unsigned n = 0; n < 8; n++)
		if (changed & (1u << n))
			dm_irq_notify_mask(&p->mask, now, 8 * idx + n,
					   val & (1u << n));
}

static void chip_write(struct dm_pic *p, unsigned idx, uint64_t now,
		       unsigned port, uint8_t val)
{
	struct dm_pic_chip *c = &p->chip[idx];

	if (port == 0) {
		if (val & 0x10)
			icw1(p, idx, now, val);
		else if (val & 0x08)
			ocw3(p, idx, now, val);
		else
			ocw2(p, idx, now, val);
	} else if (c->init_step) {
		icw_next(p, idx, now, val);
	} else {
		set_imr(p, idx, now, val);
	}
}

/*
 * KVM's poll: clears IRR[n] (even for a level input) and ISR[n] instead of
 * an INTA, returns 0x80 | n, or 0x07 with nothing pending.  A slave poll
 * also clears master IRR[2] and ISR[2].  A master poll that finds IR2
 * skips the re-evaluation, so IR2 is not pulsed again before the slave is
 * polled.
 */
static uint8_t poll_kvm(struct dm_pic *p, unsigned idx, uint64_t now, int n)
{
	struct dm_pic_chip *c = &p->chip[idx];
	struct dm_pic_chip *m = &p->chip[MASTER];

	if (n < 0) {
		finish(p, now, SYNC_CHIP(idx));
		return 0x07;
	}
	if (idx == SLAVE) {
		m->isr &= (uint8_t) ~(1u << CASCADE_IR);
		m->irr &= (uint8_t) ~(1u << CASCADE_IR);
	}
	c->irr &= (uint8_t) ~(1u << n);
	clear_isr(p, idx, (unsigned)n);
	finish(p, now,
	       idx == SLAVE || (unsigned)n != CASCADE_IR ? SYNC_CHIP(idx)
							 : SYNC_NONE);
	return (uint8_t)(0x80 | n);
}

/*
 * [8259A] the read after a poll command is an INTA on this chip only
 * (the slave is not involved) and returns bit 7 = request, bits 2:0 = its
 * level.  With no request dmsim returns 0 (bits 2:0 are undefined), as
 * QEMU does.
 */
static uint8_t poll_read(struct dm_pic *p, unsigned idx, uint64_t now)
{
	int n = dm_pic_request(p, idx);

	if (p->flavor == DM_PIC_KVM)
		return poll_kvm(p, idx, now, n);
	if (n < 0) {
		finish(p, now, SYNC_NONE);
		return 0;
	}
	inta_first(p, idx, (unsigned)n);
	inta_mid(p);
	inta_end(p, idx, (unsigned)n);
	finish(p, now, SYNC_CHIP(idx));
	return (uint8_t)(0x80 | n);
}

static uint8_t chip_read(struct dm_pic *p, unsigned idx, uint64_t now,
			 unsigned port)
{
	struct dm_pic_chip *c = &p->chip[idx];

	if (c->poll) {
		c->poll = false;
		return poll_read(p, idx, now);
	}
	if (port)
		return c->imr;
	return c->read_isr ? c->isr : c->irr;
}

/*
 * ELCR writes keep the fixed-zero bits at 0.  [8259A]+PIIX: an input made
 * level-triggered takes its line's level as request at once; KVM and QEMU
 * only look at the ELCR at the next line change or INTA.
 */
static void elcr_write(struct dm_pic *p, unsigned idx, uint64_t now,
		       uint8_t val)
{
	struct dm_pic_chip *c = &p->chip[idx];
	uint8_t lvl;

	c->elcr = val & elcr_writable[idx];
	if (p->flavor == DM_PIC_DATASHEET) {
		lvl = level_mask(p, c);
		c->irr = (uint8_t)((c->irr & ~lvl) | (c->line & lvl));
	}
	finish(p, now, SYNC_NONE);
}

static uint8_t byte_read(struct dm_pic *p, enum region r, uint64_t now,
			 unsigned port)
{
	if (r == REGION_ELCR)
		return p->chip[port].elcr;
	return chip_read(p, (unsigned)r, now, port);
}

static void byte_write(struct dm_pic *p, enum region r, uint64_t now,
		       unsigned port, uint8_t val)
{
	if (r == REGION_ELCR)
		elcr_write(p, port, now, val);
	else
		chip_write(p, (unsigned)r, now, port, val);
}

/*
 * The 8259A and the ELCR are 8-bit registers.  A wider access is split by
 * the ISA bridge into byte cycles at consecutive ports, lowest first (QEMU
 * splits the same way); bytes past the 2-port region are not ours and
 * read 0xFF (undriven bus).  KVM drops wider accesses: writes are ignored
 * and reads return 0.
 */
static uint64_t region_read(struct dm_pic *p, enum region r, uint64_t now,
			    uint64_t offset, unsigned size)
{
	uint64_t v = 0;

	if (size != 1 && p->flavor == DM_PIC_KVM)
		return 0;
	for (unsigned i = 0; i < size && i < 8; i++) {
		uint8_t b = OPEN_BUS;

		if (offset < DM_PIC_REGION_LEN &&
		    offset + i < DM_PIC_REGION_LEN)
			b = byte_read(p, r, now, (unsigned)(offset + i));
		v |= (uint64_t)b << (8 * i);
	}
	return v;
}

static void region_write(struct dm_pic *p, enum region r, uint64_t now,
			 uint64_t offset, unsigned size, uint64_t value)
{
	if (size != 1 && p->flavor == DM_PIC_KVM)
		return;
	for (unsigned i = 0; i < size && i < 8; i++)
		if (offset < DM_PIC_REGION_LEN &&
		    offset + i < DM_PIC_REGION_LEN)
			byte_write(p, r, now, (unsigned)(offset + i),
				   (uint8_t)(value >> (8 * i)));
}

uint64_t dm_pic_master_read(void *opaque, uint64_t now, uint64_t offset,
			    unsigned size)
{
	return region_read(opaque, REGION_MASTER, now, offset, size);
}

void dm_pic_master_write(void *opaque, uint64_t now, uint64_t offset,
			 unsigned size, uint64_t value)
{
	region_write(opaque, REGION_MASTER, now, offset, size, value);
}

uint64_t dm_pic_slave_read(void *opaque, uint64_t now, uint64_t offset,
			   unsigned size)
{
	return region_read(opaque, REGION_SLAVE, now, offset, size);
}

void dm_pic_slave_write(void *opaque, uint64_t now, uint64_t offset,
			unsigned size, uint64_t value)
{
	region_write(opaque, REGION_SLAVE, now, offset, size, value);
}

uint64_t dm_pic_elcr_read(void *opaque, uint64_t now, uint64_t offset,
			  unsigned size)
{
	return region_read(opaque, REGION_ELCR, now, offset, size);
}

void dm_pic_elcr_write(void *opaque, uint64_t now, uint64_t offset,
		       unsigned size, uint64_t value)
{
	region_write(opaque, REGION_ELCR, now, offset, size, value);
}

/*
 * Power-on state.  The 8259A's registers are undefined until ICW1; dmsim
 * starts where KVM's and QEMU's reset leaves them (all registers 0, edge
 * inputs, vector base 0, not initialising) and, for the datasheet chip,
 * in 8086 mode with the PC's ICW3 values, so an uninitialised pair cascades
 * and vectors like the emulators'.
 */
static void power_on(struct dm_pic *p)
{
	memset(p->chip, 0, sizeof(p->chip));
	p->chip[MASTER].upm = true;
	p->chip[SLAVE].upm = true;
	p->chip[MASTER].icw3 = 1u << CASCADE_IR;
	p->chip[SLAVE].icw3 = CASCADE_IR;
}

void dm_pic_init(struct dm_pic *p, const struct dm_config *cfg)
{
	memset(p, 0, sizeof(*p));
	p->flavor = cfg->pic_flavor;
	power_on(p);
}

void dm_pic_reset(struct dm_pic *p, uint64_t now)
{
	power_on(p);
	finish(p, now, SYNC_BOTH);
}

/* State table. */

static int chip_validate(const void *state, struct dm_error *err)
{
	const struct dm_pic_chip *c = state;

	if (c->vector_base & 7)
		return dm_errorf(err,
				 "vector_base: 0x%02x has bits 2:0 set (ICW2 "
				 "keeps bits 7:3)",
				 c->vector_base);
	if (c->init_step == 3 && !c->ic4)
		return dm_errorf(err, "init_step: 3 (ICW4 next) but ic4 is 0");
	return 0;
}

static const struct dm_field chip_fields[] = {
	DM_X8(struct dm_pic_chip, irr, 1),
	DM_X8(struct dm_pic_chip, isr, 2),
	DM_X8(struct dm_pic_chip, imr, 3),
	DM_X8(struct dm_pic_chip, line, 4),
	DM_X8(struct dm_pic_chip, elcr, 5),
	DM_X8(struct dm_pic_chip, vector_base, 6),
	DM_U8(struct dm_pic_chip, highest, 7, 7),
	DM_U8(struct dm_pic_chip, init_step, 8, 3),
	DM_BOOL(struct dm_pic_chip, ic4, 9),
	DM_BOOL(struct dm_pic_chip, sngl, 10),
	DM_BOOL(struct dm_pic_chip, adi, 11),
	DM_BOOL(struct dm_pic_chip, ltim, 12),
	DM_U8(struct dm_pic_chip, call_addr, 13, 7),
	DM_X8(struct dm_pic_chip, icw3, 14),
	DM_BOOL(struct dm_pic_chip, upm, 15),
	DM_BOOL(struct dm_pic_chip, aeoi, 16),
	DM_BOOL(struct dm_pic_chip, sfnm, 17),
	DM_BOOL(struct dm_pic_chip, rotate_aeoi, 18),
	DM_BOOL(struct dm_pic_chip, smm, 19),
	DM_BOOL(struct dm_pic_chip, read_isr, 20),
	DM_BOOL(struct dm_pic_chip, poll, 21),
};

static const struct dm_state_desc chip_desc = DM_STATE_DESC(
	"chip", 1, struct dm_pic_chip, chip_fields, .validate = chip_validate);

static int pic_validate(const void *state, struct dm_error *err)
{
	const struct dm_pic *p = state;

	for (unsigned i = 0; i < 2; i++) {
		uint8_t bad = p->chip[i].elcr & (uint8_t)~elcr_writable[i];

		if (bad)
			return dm_errorf(err,
					 "chip%u.elcr: 0x%02x sets fixed-zero "
					 "bits 0x%02x",
					 i, p->chip[i].elcr, bad);
	}
	return 0;
}

static const struct dm_field pic_fields[] = {
	DM_STRUCTS(struct dm_pic, chip, 1, chip_desc),
	DM_BOOL(struct dm_pic, intr, 2),
};

const struct dm_state_desc dm_pic_state_desc = DM_STATE_DESC(
	"pic", 1, struct dm_pic, pic_fields, .validate = pic_validate);
