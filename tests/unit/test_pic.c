// SPDX-License-Identifier: MIT
/*
 * The 8259A pair and ELCR (models/pic.c) in each flavour.  Expected values
 * come from the 8259A data sheet, the PIIX ELCR and the KVM/QEMU behaviour
 * in SPEC-NOTES section 2, worked out by hand for each scenario.
 *
 * Loop tests run once per profile: _i is enum dm_profile (datasheet, kvm,
 * qemu), whose default "pic" option is the matching flavour.
 */
#include <string.h>

#include "models/pic.h"
#include "testutil.h"

#define M 0x20	 /* master command port */
#define MD 0x21	 /* master data port */
#define S 0xA0	 /* slave command port */
#define SD 0xA1	 /* slave data port */
#define EL 0x4D0 /* ELCR master; 0x4D1 slave */

#define EOI 0x20
#define READ_IRR 0x0A
#define READ_ISR 0x0B
#define POLL 0x0C
#define SMM_ON 0x68
#define SMM_OFF 0x48

struct rig {
	struct dm_pic pic;
	struct dm_config cfg;
	int prof;
	int intr;	   /* level last seen on the INT line */
	unsigned edges;	   /* changes seen on the INT line */
	unsigned acks[64]; /* IRQs reported acknowledged, in order */
	unsigned nacks;
	bool reinject;	    /* the ack listener pulses IRQ0 again */
	bool no_taker;	    /* no vcpu takes the 8259's interrupts */
	unsigned masks[16]; /* mask notifications: irq | masked << 8 */
	unsigned nmasks;
	bool roundtrip_each; /* save and restore after every operation */
	uint64_t now;
};

static void save_restore(struct rig *r);

static void on_intr(void *opaque, uint64_t now, unsigned pin, int level)
{
	struct rig *r = opaque;

	(void)now;
	ck_assert_uint_eq(pin, 0);
	/* Driven on every change, and only on a change. */
	ck_assert_int_ne(level, r->intr);
	r->intr = level;
	r->edges++;
}

static void on_ack(void *opaque, uint64_t now, unsigned irq)
{
	struct rig *r = opaque;

	ck_assert_uint_lt(r->nacks, 64);
	r->acks[r->nacks++] = irq;
	if (r->reinject && irq == 0) {
		dm_pic_set_irq(&r->pic, now, 0, 1);
		dm_pic_set_irq(&r->pic, now, 0, 0);
	}
}

static void on_mask(void *opaque, uint64_t now, unsigned irq, bool masked)
{
	struct rig *r = opaque;

	(void)now;
	if (r->nmasks < 16)
		r->masks[r->nmasks] = irq | (unsigned)masked << 8;
	r->nmasks++;
}

static bool takes(void *opaque)
{
	return !((struct rig *)opaque)->no_taker;
}

static void wire(struct rig *r, struct dm_pic *p)
{
	dm_pic_init(p, &r->cfg);
	p->intr_line = (struct dm_irq_line){.set = on_intr, .opaque = r};
	p->acked = (struct dm_irq_ack){.acked = on_ack, .opaque = r};
	p->mask = (struct dm_irq_mask){.changed = on_mask, .opaque = r};
	p->taker = (struct dm_pic_taker){.takes = takes, .opaque = r};
}

static void rig_init(struct rig *r, int prof)
{
	memset(r, 0, sizeof(*r));
	r->prof = prof;
	dm_config_defaults(&r->cfg, (enum dm_profile)prof);
	wire(r, &r->pic);
}

/* Expected value per flavour. */
static unsigned by(const struct rig *r, unsigned ds, unsigned kvm,
		   unsigned qemu)
{
	if (r->prof == DM_PROFILE_KVM)
		return kvm;
	return r->prof == DM_PROFILE_QEMU ? qemu : ds;
}

static void after_op(struct rig *r)
{
	ck_assert_int_eq(r->intr, dm_pic_pending(&r->pic));
	if (r->roundtrip_each)
		save_restore(r);
}

/* Checkpoint into a freshly built PIC and continue on the restored one. */
static void save_restore(struct rig *r)
{
	struct dm_pic fresh;

	wire(r, &fresh);
	dm_test_roundtrip(&dm_pic_state_desc, &r->pic, &fresh);
	r->pic = fresh;
	ck_assert_int_eq(r->intr, dm_pic_pending(&r->pic));
}

static void outb(struct rig *r, unsigned port, uint8_t v)
{
	r->now += 100;
	if ((port & ~1u) == M)
		dm_pic_master_write(&r->pic, r->now, port & 1, 1, v);
	else if ((port & ~1u) == S)
		dm_pic_slave_write(&r->pic, r->now, port & 1, 1, v);
	else
		dm_pic_elcr_write(&r->pic, r->now, port & 1, 1, v);
	after_op(r);
}

static unsigned inb(struct rig *r, unsigned port)
{
	uint64_t v;

	r->now += 100;
	if ((port & ~1u) == M)
		v = dm_pic_master_read(&r->pic, r->now, port & 1, 1);
	else if ((port & ~1u) == S)
		v = dm_pic_slave_read(&r->pic, r->now, port & 1, 1);
	else
		v = dm_pic_elcr_read(&r->pic, r->now, port & 1, 1);
	ck_assert_uint_le(v, 0xFF);
	after_op(r);
	return (unsigned)v;
}

static void irq(struct rig *r, unsigned n, int level)
{
	r->now += 100;
	dm_pic_set_irq(&r->pic, r->now, n, level);
	after_op(r);
}

/* A fresh rising edge on an edge input (low, then high). */
static void edge(struct rig *r, unsigned n)
{
	irq(r, n, 0);
	irq(r, n, 1);
}

static unsigned ack(struct rig *r)
{
	int v;

	r->now += 100;
	v = dm_pic_intack(&r->pic, r->now);
	ck_assert_int_ge(v, 0);
	ck_assert_int_le(v, 0xFF);
	after_op(r);
	return (unsigned)v;
}

static unsigned isr(struct rig *r, unsigned port)
{
	outb(r, port, READ_ISR);
	return inb(r, port);
}

static unsigned irr(struct rig *r, unsigned port)
{
	outb(r, port, READ_IRR);
	return inb(r, port);
}

static void check_acks(const struct rig *r, const unsigned *want, unsigned n)
{
	ck_assert_uint_eq(r->nacks, n);
	for (unsigned i = 0; i < n; i++)
		ck_assert_msg(r->acks[i] == want[i],
			      "ack %u: IRQ%u, want IRQ%u", i, r->acks[i],
			      want[i]);
}

/* The PC BIOS sequence, checkpointed between every two ICWs. */
static void pc_init(struct rig *r)
{
	static const struct {
		unsigned port;
		uint8_t v;
	} seq[] = {
		{M, 0x11}, {MD, 0x08}, {MD, 0x04}, {MD, 0x01},
		{S, 0x11}, {SD, 0x70}, {SD, 0x02}, {SD, 0x01},
	};

	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		outb(r, seq[i].port, seq[i].v);
		save_restore(r);
	}
}

static void init_chip(struct rig *r, unsigned port, uint8_t icw1, uint8_t icw2,
		      uint8_t icw3, uint8_t icw4)
{
	outb(r, port, icw1);
	outb(r, port + 1, icw2);
	outb(r, port + 1, icw3);
	outb(r, port + 1, icw4);
}

START_TEST(test_pc_init_irq0)
{
	struct rig r;
	static const unsigned want[] = {0, 0, 8, 2};

	rig_init(&r, _i);
	pc_init(&r);
	ck_assert_uint_eq(inb(&r, MD), 0x00);
	ck_assert_uint_eq(inb(&r, SD), 0x00);
	ck_assert_int_eq(r.intr, 0);

	irq(&r, 0, 1);
	ck_assert_int_eq(r.intr, 1);
	ck_assert_uint_eq(irr(&r, M), 0x01);
	ck_assert_uint_eq(ack(&r), 0x08);
	ck_assert_int_eq(r.intr, 0);
	ck_assert_uint_eq(isr(&r, M), 0x01);
	ck_assert_uint_eq(irr(&r, M), 0x00);
	save_restore(&r); /* between delivery and EOI */
	outb(&r, M, EOI);
	ck_assert_uint_eq(isr(&r, M), 0x00);
	/* Edge input still high: no second interrupt. */
	ck_assert_int_eq(r.intr, 0);
	edge(&r, 0);
	ck_assert_uint_eq(ack(&r), 0x08);
	outb(&r, M, EOI);

	/* Through the cascade: IRQ8 is slave IR0, vector 0x70. */
	irq(&r, 8, 1);
	ck_assert_int_eq(r.intr, 1);
	ck_assert_uint_eq(ack(&r), 0x70);
	ck_assert_uint_eq(isr(&r, M), 0x04);
	ck_assert_uint_eq(isr(&r, S), 0x01);
	save_restore(&r);
	outb(&r, S, EOI);
	outb(&r, M, EOI);
	ck_assert_uint_eq(isr(&r, M), 0x00);
	ck_assert_uint_eq(isr(&r, S), 0x00);
	check_acks(&r, want, 4);
	ck_assert_int_eq(r.intr, 0);
}
END_TEST

START_TEST(test_priority_nesting)
{
	struct rig r;

	rig_init(&r, _i);
	pc_init(&r);
	irq(&r, 3, 1);
	irq(&r, 4, 1);
	ck_assert_uint_eq(ack(&r), 0x0B);
	/* IRQ4 waits behind IRQ3 in service. */
	ck_assert_int_eq(r.intr, 0);
	ck_assert_uint_eq(irr(&r, M), 0x10);
	save_restore(&r); /* an IRR bit waiting behind a higher ISR bit */
	/* A higher level nests. */
	irq(&r, 1, 1);
	ck_assert_int_eq(r.intr, 1);
	ck_assert_uint_eq(ack(&r), 0x09);
	ck_assert_uint_eq(isr(&r, M), 0x0A);
	/* A lower one does not. */
	irq(&r, 6, 1);
	ck_assert_int_eq(r.intr, 0);
	save_restore(&r);
	outb(&r, M, EOI); /* clears IRQ1, the highest in service */
	ck_assert_uint_eq(isr(&r, M), 0x08);
	ck_assert_int_eq(r.intr, 0);
	outb(&r, M, EOI);
	ck_assert_int_eq(r.intr, 1);
	ck_assert_uint_eq(ack(&r), 0x0C);
	outb(&r, M, EOI);
	ck_assert_uint_eq(ack(&r), 0x0E);
	outb(&r, M, EOI);
	ck_assert_int_eq(r.intr, 0);
	ck_assert_uint_eq(isr(&r, M), 0x00);
}
END_TEST

START_TEST(test_ocw2_commands)
{
	struct rig r;
	uint8_t before[512], after[512];
	size_t n = dm_state_encoded_size(&dm_pic_state_desc);

	rig_init(&r, _i);
	pc_init(&r);
	irq(&r, 1, 1);
	irq(&r, 3, 1);
	ck_assert_uint_eq(ack(&r), 0x09);
	/* 001: non-specific EOI. */
	outb(&r, M, 0x20);
	ck_assert_uint_eq(ack(&r), 0x0B);
	edge(&r, 1);
	ck_assert_uint_eq(ack(&r), 0x09);
	ck_assert_uint_eq(isr(&r, M), 0x0A);
	/* 011: specific EOI of level 3 leaves IRQ1 in service. */
	outb(&r, M, 0x63);
	ck_assert_uint_eq(isr(&r, M), 0x02);
	outb(&r, M, 0x20);
	ck_assert_uint_eq(isr(&r, M), 0x00);
	{
		static const unsigned want[] = {1, 3, 1};

		check_acks(&r, want, 3);
	}
	/* Specific EOI of a level not in service: KVM still reports it. */
	outb(&r, M, 0x65);
	ck_assert_uint_eq(r.nacks, by(&r, 3, 4, 3));

	/* 010: no operation. */
	ck_assert_uint_eq(dm_state_encode(&dm_pic_state_desc, &r.pic, before,
					  sizeof(before)),
			  n);
	outb(&r, M, 0x40);
	dm_state_encode(&dm_pic_state_desc, &r.pic, after, sizeof(after));
	ck_assert_mem_eq(before, after, n);

	/* 110: set priority, L = 4 is the lowest, so IR5 is the highest. */
	outb(&r, M, 0xC4);
	edge(&r, 3);
	edge(&r, 5);
	ck_assert_uint_eq(ack(&r), 0x0D);
	save_restore(&r);
	outb(&r, M, 0x20);
	ck_assert_uint_eq(ack(&r), 0x0B);
	/* 111: rotate on specific EOI of 3: IR4 becomes the highest. */
	outb(&r, M, 0xE3);
	ck_assert_uint_eq(isr(&r, M), 0x00);
	edge(&r, 3);
	edge(&r, 4);
	ck_assert_uint_eq(ack(&r), 0x0C);
	/* 101: rotate on non-specific EOI clears IRQ4; IR5 is the highest. */
	outb(&r, M, 0xA0);
	ck_assert_uint_eq(isr(&r, M), 0x00);
	ck_assert_uint_eq(ack(&r), 0x0B);
	outb(&r, M, 0x20);
	edge(&r, 4);
	edge(&r, 6);
	ck_assert_uint_eq(ack(&r), 0x0E);
	outb(&r, M, 0x20);
	ck_assert_uint_eq(ack(&r), 0x0C);
	outb(&r, M, 0x20);
	/* A non-specific EOI with nothing in service changes nothing. */
	dm_state_encode(&dm_pic_state_desc, &r.pic, before, sizeof(before));
	outb(&r, M, 0x20);
	dm_state_encode(&dm_pic_state_desc, &r.pic, after, sizeof(after));
	ck_assert_mem_eq(before, after, n);
}
END_TEST

START_TEST(test_rotation)
{
	struct rig r;

	/* Equal-priority devices take turns with rotate on EOI. */
	rig_init(&r, _i);
	pc_init(&r);
	irq(&r, 3, 1);
	irq(&r, 5, 1);
	ck_assert_uint_eq(ack(&r), 0x0B);
	outb(&r, M, 0xA0); /* IR3 becomes the lowest */
	edge(&r, 3);
	ck_assert_uint_eq(ack(&r), 0x0D);
	save_restore(&r);
	outb(&r, M, 0xA0); /* IR5 becomes the lowest */
	edge(&r, 5);
	ck_assert_uint_eq(ack(&r), 0x0B);
	outb(&r, M, 0xA0);
	ck_assert_uint_eq(ack(&r), 0x0D);
	outb(&r, M, 0xA0);
	ck_assert_int_eq(r.intr, 0);
}
END_TEST

START_TEST(test_aeoi)
{
	struct rig r;
	static const unsigned want[] = {1, 1, 4, 6, 1, 3, 0, 4, 1};

	rig_init(&r, _i);
	init_chip(&r, M, 0x11, 0x08, 0x04, 0x03);
	init_chip(&r, S, 0x11, 0x70, 0x02, 0x01);
	edge(&r, 1);
	ck_assert_uint_eq(ack(&r), 0x09);
	ck_assert_uint_eq(isr(&r, M), 0x00);
	ck_assert_int_eq(r.intr, 0);

	outb(&r, M, 0x80); /* set rotate in AEOI */
	edge(&r, 1);
	edge(&r, 4);
	ck_assert_uint_eq(ack(&r), 0x09); /* IR2 is now the highest */
	save_restore(&r);
	ck_assert_uint_eq(ack(&r), 0x0C); /* IR5 is now the highest */
	edge(&r, 1);
	edge(&r, 6);
	ck_assert_uint_eq(ack(&r), 0x0E);
	ck_assert_uint_eq(ack(&r), 0x09);
	outb(&r, M, 0x00); /* clear rotate in AEOI; IR2 stays the highest */
	edge(&r, 0);
	edge(&r, 3);
	ck_assert_uint_eq(ack(&r), 0x0B);
	ck_assert_uint_eq(ack(&r), 0x08);
	edge(&r, 1);
	edge(&r, 4);
	ck_assert_uint_eq(ack(&r), 0x0C);
	ck_assert_uint_eq(ack(&r), 0x09);
	ck_assert_uint_eq(isr(&r, M), 0x00);
	check_acks(&r, want, 9);

	/* Rotate in AEOI survives ICW1, except in QEMU. */
	outb(&r, M, 0x80);
	init_chip(&r, M, 0x11, 0x08, 0x04, 0x03);
	edge(&r, 1);
	edge(&r, 4);
	ck_assert_uint_eq(ack(&r), 0x09);
	edge(&r, 0);
	ck_assert_uint_eq(ack(&r), by(&r, 0x0C, 0x0C, 0x08));
}
END_TEST

START_TEST(test_special_mask)
{
	struct rig r;

	rig_init(&r, _i);
	pc_init(&r);
	irq(&r, 3, 1);
	ck_assert_uint_eq(ack(&r), 0x0B);
	outb(&r, MD, 0x08);
	outb(&r, M, SMM_ON);
	irq(&r, 5, 1);
	/* The masked IR3 in service no longer blocks IR5 (KVM ignores SMM). */
	ck_assert_int_eq(r.intr, (int)by(&r, 1, 0, 1));
	save_restore(&r);
	if (r.prof == DM_PROFILE_KVM) {
		outb(&r, M, EOI);
		ck_assert_uint_eq(ack(&r), 0x0D);
		ck_assert_uint_eq(isr(&r, M), 0x20);
		return;
	}
	ck_assert_uint_eq(ack(&r), 0x0D);
	ck_assert_uint_eq(isr(&r, M), 0x28);
	/* The data sheet's non-specific EOI skips the masked IS bit. */
	outb(&r, M, EOI);
	ck_assert_uint_eq(isr(&r, M), by(&r, 0x08, 0, 0x20));
	if (r.prof != DM_PROFILE_DATASHEET)
		return;
	/* Special mask off: IR3 in service blocks IR6 again. */
	outb(&r, M, SMM_OFF);
	irq(&r, 6, 1);
	ck_assert_int_eq(r.intr, 0);
	/* SMM without ESMM is ignored. */
	outb(&r, M, 0x28);
	ck_assert_int_eq(r.intr, 0);
	outb(&r, M, SMM_ON);
	ck_assert_int_eq(r.intr, 1);
	ck_assert_uint_eq(ack(&r), 0x0E);
}
END_TEST

START_TEST(test_sfnm)
{
	struct rig r;

	rig_init(&r, _i);
	init_chip(&r, M, 0x11, 0x08, 0x04, 0x11);
	init_chip(&r, S, 0x11, 0x70, 0x02, 0x01);
	irq(&r, 10, 1);
	ck_assert_uint_eq(ack(&r), 0x72);
	ck_assert_uint_eq(isr(&r, M), 0x04);
	ck_assert_uint_eq(isr(&r, S), 0x04);
	save_restore(&r);
	/* [8259A] SFNM unblocks only IR2 itself; KVM and QEMU all of ISR2. */
	irq(&r, 5, 1);
	ck_assert_int_eq(r.intr, (int)by(&r, 0, 1, 1));
	if (r.prof != DM_PROFILE_DATASHEET) {
		ck_assert_uint_eq(ack(&r), 0x0D);
		outb(&r, M, 0x65);
	}
	/* A higher slave request nests through the master's IR2. */
	irq(&r, 9, 1);
	ck_assert_int_eq(r.intr, 1);
	ck_assert_uint_eq(ack(&r), 0x71);
	ck_assert_uint_eq(isr(&r, S), 0x06);
	ck_assert_uint_eq(isr(&r, M), 0x04);
	save_restore(&r);
	/* Software EOIs the master only when the slave has nothing left. */
	outb(&r, S, EOI);
	ck_assert_uint_eq(isr(&r, S), 0x04);
	outb(&r, S, EOI);
	ck_assert_uint_eq(isr(&r, S), 0x00);
	outb(&r, M, EOI);
	ck_assert_uint_eq(isr(&r, M), 0x00);
	ck_assert_int_eq(r.intr, (int)by(&r, 1, 0, 0));
	if (r.prof == DM_PROFILE_DATASHEET)
		ck_assert_uint_eq(ack(&r), 0x0D);
}
END_TEST

START_TEST(test_aeoi_slave)
{
	struct rig r;

	/*
	 * An AEOI slave with two requests.  [8259A] its INT dips during the
	 * INTA sequence, so master IR2 latches again; KVM re-pulses IR2.
	 * QEMU's slave INT stays high: master IR2 sees no new edge.
	 */
	rig_init(&r, _i);
	init_chip(&r, M, 0x11, 0x08, 0x04, 0x01);
	init_chip(&r, S, 0x11, 0x70, 0x02, 0x03);
	irq(&r, 9, 1);
	irq(&r, 10, 1);
	ck_assert_uint_eq(ack(&r), 0x71);
	ck_assert_uint_eq(isr(&r, S), 0x00);
	ck_assert_uint_eq(isr(&r, M), 0x04);
	ck_assert_uint_eq(irr(&r, M), by(&r, 0x04, 0x04, 0x00));
	save_restore(&r);
	outb(&r, M, EOI);
	ck_assert_int_eq(r.intr, (int)by(&r, 1, 1, 0));
	if (r.prof != DM_PROFILE_QEMU) {
		ck_assert_uint_eq(ack(&r), 0x72);
		return;
	}
	/* QEMU: the request moves only when the slave's INT drops. */
	ck_assert_uint_eq(irr(&r, S), 0x04);
	outb(&r, SD, 0x04);
	outb(&r, SD, 0x00);
	ck_assert_uint_eq(ack(&r), 0x72);
}
END_TEST

START_TEST(test_fully_nested_slave)
{
	struct rig r;

	/* Without SFNM an in-service slave locks out its own higher IRs. */
	rig_init(&r, _i);
	pc_init(&r);
	irq(&r, 10, 1);
	ck_assert_uint_eq(ack(&r), 0x72);
	irq(&r, 9, 1);
	ck_assert_int_eq(r.intr, 0);
	save_restore(&r);
	outb(&r, S, EOI);
	ck_assert_int_eq(r.intr, 0);
	outb(&r, M, EOI);
	ck_assert_int_eq(r.intr, 1);
	ck_assert_uint_eq(ack(&r), 0x71);
}
END_TEST

START_TEST(test_level_edge)
{
	struct rig r;

	rig_init(&r, _i);
	pc_init(&r);
	outb(&r, EL, 0x20); /* IRQ5 level */
	irq(&r, 5, 1);
	ck_assert_uint_eq(ack(&r), 0x0D);
	/* INTA does not clear a level request. */
	ck_assert_uint_eq(irr(&r, M), 0x20);
	ck_assert_int_eq(r.intr, 0);
	save_restore(&r);
	/* EOI with the line still high: the interrupt repeats. */
	outb(&r, M, EOI);
	ck_assert_int_eq(r.intr, 1);
	ck_assert_uint_eq(ack(&r), 0x0D);
	irq(&r, 5, 0);
	ck_assert_uint_eq(irr(&r, M), 0x00);
	outb(&r, M, EOI);
	ck_assert_int_eq(r.intr, 0);

	/* An edge input held high does not repeat. */
	irq(&r, 4, 1);
	ck_assert_uint_eq(ack(&r), 0x0C);
	ck_assert_uint_eq(irr(&r, M), 0x00);
	outb(&r, M, EOI);
	ck_assert_int_eq(r.intr, 0);

	/*
	 * An input switched to level while its line is high: the PIIX ELCR
	 * takes the line at once; KVM and QEMU wait for the next change.
	 */
	outb(&r, EL, 0x30);
	ck_assert_uint_eq(irr(&r, M), by(&r, 0x10, 0, 0));
	ck_assert_int_eq(r.intr, (int)by(&r, 1, 0, 0));
	irq(&r, 4, 0);
	irq(&r, 4, 1);
	ck_assert_uint_eq(ack(&r), 0x0C);
}
END_TEST

START_TEST(test_elcr)
{
	struct rig r;

	rig_init(&r, _i);
	ck_assert_uint_eq(inb(&r, EL), 0x00);
	ck_assert_uint_eq(inb(&r, EL + 1), 0x00);
	/* IRQ0-2, 8 and 13 are fixed edge-triggered. */
	outb(&r, EL, 0xFF);
	outb(&r, EL + 1, 0xFF);
	ck_assert_uint_eq(inb(&r, EL), 0xF8);
	ck_assert_uint_eq(inb(&r, EL + 1), 0xDE);
	outb(&r, EL, 0x00);
	outb(&r, EL + 1, 0x00);
	/* A 16-bit access: two byte cycles, or nothing under KVM. */
	dm_pic_elcr_write(&r.pic, r.now, 0, 2, 0xFFFF);
	ck_assert_uint_eq(inb(&r, EL + 1), by(&r, 0xDE, 0x00, 0xDE));
	ck_assert_uint_eq(dm_pic_elcr_read(&r.pic, r.now, 0, 2),
			  by(&r, 0xDEF8, 0x0000, 0xDEF8));
	save_restore(&r);
	ck_assert_uint_eq(inb(&r, EL), by(&r, 0xF8, 0x00, 0xF8));
}
END_TEST

START_TEST(test_ltim)
{
	struct rig r;

	/* ICW1 LTIM: level for every input (8259A, QEMU 8.0+; not KVM). */
	rig_init(&r, _i);
	init_chip(&r, M, 0x19, 0x08, 0x04, 0x01);
	init_chip(&r, S, 0x11, 0x70, 0x02, 0x01);
	irq(&r, 4, 1);
	ck_assert_uint_eq(ack(&r), 0x0C);
	save_restore(&r);
	ck_assert_uint_eq(irr(&r, M), by(&r, 0x10, 0x00, 0x10));
	outb(&r, M, EOI);
	ck_assert_int_eq(r.intr, (int)by(&r, 1, 0, 1));
	irq(&r, 4, 0);
	ck_assert_int_eq(r.intr, 0);
}
END_TEST

START_TEST(test_poll)
{
	struct rig r;
	static const unsigned want_kvm[] = {3, 2, 10};
	static const unsigned want[] = {3, 10, 2};

	rig_init(&r, _i);
	pc_init(&r);
	irq(&r, 3, 1);
	ck_assert_int_eq(r.intr, 1);
	outb(&r, M, POLL);
	save_restore(&r); /* with a poll pending */
	ck_assert_uint_eq(inb(&r, M), 0x83);
	ck_assert_int_eq(r.intr, 0);
	/* [8259A]/QEMU: an INTA; KVM: IRR and ISR cleared. */
	ck_assert_uint_eq(isr(&r, M), by(&r, 0x08, 0x00, 0x08));
	ck_assert_uint_eq(irr(&r, M), 0x00);
	if (r.prof != DM_PROFILE_KVM)
		outb(&r, M, EOI);

	/* Nothing pending; a poll through port 0x21 works the same. */
	outb(&r, M, POLL);
	ck_assert_uint_eq(inb(&r, MD), by(&r, 0x00, 0x07, 0x00));
	/* The poll was for one read only. */
	ck_assert_uint_eq(inb(&r, MD), 0x00);

	/* A slave request polled on the master, then on the slave. */
	irq(&r, 10, 1);
	ck_assert_int_eq(r.intr, 1);
	outb(&r, M, POLL);
	ck_assert_uint_eq(inb(&r, M), 0x82);
	ck_assert_uint_eq(isr(&r, M), by(&r, 0x04, 0x00, 0x04));
	/*
	 * KVM does not re-evaluate INT after a master poll that finds IR2,
	 * so IR2 is not pulsed again while the slave still requests.
	 */
	ck_assert_int_eq(r.intr, (int)by(&r, 0, 1, 0));
	ck_assert_uint_eq(irr(&r, M), 0x00);
	ck_assert_uint_eq(irr(&r, S), 0x04);
	outb(&r, S, POLL);
	save_restore(&r);
	ck_assert_uint_eq(inb(&r, S), 0x82);
	ck_assert_uint_eq(isr(&r, S), by(&r, 0x04, 0x00, 0x04));
	ck_assert_uint_eq(irr(&r, S), 0x00);
	ck_assert_int_eq(r.intr, 0);
	if (r.prof == DM_PROFILE_KVM) {
		ck_assert_uint_eq(irr(&r, M), 0x00);
		check_acks(&r, want_kvm, 3);
		return;
	}
	outb(&r, S, EOI);
	outb(&r, M, EOI);
	check_acks(&r, want, 3);
}
END_TEST

START_TEST(test_poll_aeoi_level)
{
	struct rig r;

	/* A polled level request stays in the IRR, except under KVM. */
	rig_init(&r, _i);
	init_chip(&r, M, 0x11, 0x08, 0x04, 0x03);
	init_chip(&r, S, 0x11, 0x70, 0x02, 0x01);
	outb(&r, EL, 0x40);
	irq(&r, 6, 1);
	outb(&r, M, POLL);
	ck_assert_uint_eq(inb(&r, M), 0x86);
	ck_assert_uint_eq(isr(&r, M), 0x00); /* AEOI */
	ck_assert_uint_eq(irr(&r, M), by(&r, 0x40, 0x00, 0x40));
	ck_assert_uint_eq(r.nacks, 1);
	ck_assert_uint_eq(r.acks[0], 6);
}
END_TEST

START_TEST(test_spurious_irq7)
{
	struct rig r;

	rig_init(&r, _i);
	pc_init(&r);
	/* [8259A] an edge request withdrawn before INTA; the emulators latch
	 * it. */
	irq(&r, 3, 1);
	ck_assert_int_eq(r.intr, 1);
	irq(&r, 3, 0);
	ck_assert_int_eq(r.intr, (int)by(&r, 0, 1, 1));
	ck_assert_uint_eq(ack(&r), by(&r, 0x0F, 0x0B, 0x0B));
	ck_assert_uint_eq(isr(&r, M), by(&r, 0x00, 0x08, 0x08));
	outb(&r, M, EOI);

	/* A level request gone before INTA: IR7, ISR[7] not set. */
	outb(&r, EL, 0x20);
	irq(&r, 5, 1);
	ck_assert_int_eq(r.intr, 1);
	irq(&r, 5, 0);
	ck_assert_int_eq(r.intr, 0);
	ck_assert_uint_eq(ack(&r), 0x0F);
	ck_assert_uint_eq(isr(&r, M), 0x00);

	/* A request masked after INT rose. */
	irq(&r, 4, 1);
	ck_assert_int_eq(r.intr, 1);
	outb(&r, MD, 0x10);
	ck_assert_int_eq(r.intr, 0);
	ck_assert_uint_eq(ack(&r), 0x0F);
	ck_assert_uint_eq(isr(&r, M), 0x00);
	ck_assert_uint_eq(irr(&r, M), 0x10);
	/* IMR reads back; unmasking presents the request again. */
	ck_assert_uint_eq(inb(&r, MD), 0x10);
	outb(&r, MD, 0x00);
	ck_assert_int_eq(r.intr, 1);
	ck_assert_uint_eq(ack(&r), 0x0C);
}
END_TEST

START_TEST(test_spurious_irq15)
{
	struct rig r;

	rig_init(&r, _i);
	pc_init(&r);
	outb(&r, EL + 1, 0x08); /* IRQ11 level */
	irq(&r, 11, 1);
	ck_assert_int_eq(r.intr, 1);
	irq(&r, 11, 0);
	/*
	 * KVM and QEMU keep master IRR[2] latched: the slave finds nothing
	 * and answers IR7 while the master sets ISR[2].  On the 8259A the
	 * slave's INT falls, which withdraws the master's IR2 request.
	 */
	ck_assert_int_eq(r.intr, (int)by(&r, 0, 1, 1));
	save_restore(&r);
	ck_assert_uint_eq(ack(&r), by(&r, 0x0F, 0x77, 0x77));
	ck_assert_uint_eq(isr(&r, M), by(&r, 0x00, 0x04, 0x04));
	ck_assert_uint_eq(isr(&r, S), 0x00);
	outb(&r, M, EOI);
	ck_assert_uint_eq(isr(&r, M), 0x00);
	ck_assert_int_eq(r.intr, 0);
}
END_TEST

START_TEST(test_register_reads)
{
	struct rig r;

	rig_init(&r, _i);
	pc_init(&r);
	outb(&r, MD, 0xA5);
	outb(&r, SD, 0x5A);
	ck_assert_uint_eq(inb(&r, MD), 0xA5);
	ck_assert_uint_eq(inb(&r, SD), 0x5A);
	irq(&r, 0, 1);
	irq(&r, 1, 1);
	irq(&r, 12, 1);
	/* Masked requests show in the IRR. */
	ck_assert_uint_eq(irr(&r, M), 0x03);
	ck_assert_uint_eq(irr(&r, S), 0x10);
	ck_assert_uint_eq(ack(&r), 0x09);
	/* RR = 0 leaves the selection (ISR) alone. */
	outb(&r, M, READ_ISR);
	outb(&r, M, 0x08);
	ck_assert_uint_eq(inb(&r, M), 0x02);
	ck_assert_uint_eq(inb(&r, M), 0x02);
	save_restore(&r);
	ck_assert_uint_eq(inb(&r, M), 0x02);
	outb(&r, M, READ_IRR);
	ck_assert_uint_eq(inb(&r, M), 0x01);
}
END_TEST

START_TEST(test_sngl)
{
	struct rig r;

	/* SNGL with IC4: ICW1, ICW2, ICW4, then the IMR. */
	rig_init(&r, _i);
	outb(&r, M, 0x13);
	outb(&r, MD, 0x08);
	save_restore(&r); /* between ICW2 and ICW4 */
	outb(&r, MD, 0x01);
	outb(&r, MD, 0xFB);
	init_chip(&r, S, 0x11, 0x70, 0x02, 0x01);
	/* KVM took ICW4 as ICW3 and the IMR byte as ICW4 (AEOI, SFNM). */
	ck_assert_uint_eq(inb(&r, MD), by(&r, 0xFB, 0x00, 0xFB));
	irq(&r, 0, 1);
	ck_assert_int_eq(r.intr, (int)by(&r, 0, 1, 0));
	if (r.prof == DM_PROFILE_KVM) {
		ck_assert_uint_eq(ack(&r), 0x08);
		ck_assert_uint_eq(isr(&r, M), 0x00);
		ck_assert_uint_eq(r.nacks, 1);
	}
	/* [8259A] a single master does not cascade: IR2 is its own. */
	irq(&r, 9, 1);
	ck_assert_int_eq(r.intr, 1);
	ck_assert_uint_eq(ack(&r), by(&r, 0x0A, 0x71, 0x71));
	ck_assert_uint_eq(isr(&r, S), by(&r, 0x00, 0x02, 0x02));

	/* SNGL without IC4: ready after ICW2, except KVM waits for ICW3. */
	outb(&r, M, 0x12);
	outb(&r, MD, 0x20);
	outb(&r, MD, 0x55);
	save_restore(&r);
	outb(&r, MD, 0x66);
	ck_assert_uint_eq(inb(&r, MD), by(&r, 0x66, 0x66, 0x66));
	outb(&r, M, 0x12);
	outb(&r, MD, 0x20);
	outb(&r, MD, 0x55);
	ck_assert_uint_eq(inb(&r, MD), by(&r, 0x55, 0x00, 0x55));
}
END_TEST

START_TEST(test_cascade_decode)
{
	struct rig r;

	/* Master ICW3 = 0: no slave on IR2 ([8259A]); the master answers. */
	rig_init(&r, _i);
	init_chip(&r, M, 0x11, 0x08, 0x00, 0x01);
	init_chip(&r, S, 0x11, 0x70, 0x02, 0x01);
	save_restore(&r);
	irq(&r, 10, 1);
	ck_assert_uint_eq(ack(&r), by(&r, 0x0A, 0x72, 0x72));
	ck_assert_uint_eq(isr(&r, M), 0x04);
	ck_assert_uint_eq(isr(&r, S), by(&r, 0x00, 0x04, 0x04));
	outb(&r, S, EOI);
	outb(&r, M, EOI);
	irq(&r, 10, 0);

	/* Slave ID 3: no chip answers cascade address 2: open bus. */
	init_chip(&r, M, 0x11, 0x08, 0x04, 0x01);
	init_chip(&r, S, 0x11, 0x70, 0x03, 0x01);
	save_restore(&r);
	irq(&r, 10, 1);
	ck_assert_uint_eq(ack(&r), by(&r, 0xFF, 0x72, 0x72));
	ck_assert_uint_eq(isr(&r, M), 0x04);
	ck_assert_uint_eq(isr(&r, S), by(&r, 0x00, 0x04, 0x04));
}
END_TEST

START_TEST(test_8080_mode)
{
	struct rig r;

	/*
	 * IC4 = 0: 8080 mode.  The x86's second INTA reads the low CALL
	 * address byte: ICW1 A7-A5 and IR3 at interval 4 = 0xEC.  KVM and
	 * QEMU send the 8086 vector (ICW2 & 0xF8) | 3.
	 */
	rig_init(&r, _i);
	outb(&r, M, 0xF4);
	outb(&r, MD, 0x12);
	outb(&r, MD, 0x04);
	save_restore(&r);
	init_chip(&r, S, 0x11, 0x70, 0x02, 0x01);
	irq(&r, 3, 1);
	ck_assert_uint_eq(ack(&r), by(&r, 0xEC, 0x13, 0x13));
	outb(&r, M, EOI);
	/* Interval 8: A7-A6 = 10, IR3 in bits 5:3: 0x98. */
	outb(&r, M, 0xB0);
	outb(&r, MD, 0x12);
	save_restore(&r);
	outb(&r, MD, 0x04);
	edge(&r, 3);
	ck_assert_uint_eq(ack(&r), by(&r, 0x98, 0x13, 0x13));
	/* The spurious byte follows the same layout (IR7). */
	ck_assert_uint_eq(ack(&r), by(&r, 0xB8, 0x17, 0x17));
}
END_TEST

START_TEST(test_nonsense)
{
	struct rig r;
	unsigned v;

	rig_init(&r, _i);
	pc_init(&r);
	/* An ICW4-like byte without ICW1 is OCW1. */
	outb(&r, MD, 0x01);
	ck_assert_uint_eq(inb(&r, MD), 0x01);
	outb(&r, MD, 0x00);
	/* OCW3 with reserved bit 7 set still selects the ISR. */
	irq(&r, 3, 1);
	ck_assert_uint_eq(ack(&r), 0x0B);
	outb(&r, M, 0x8B);
	ck_assert_uint_eq(inb(&r, M), 0x08);
	/* Level bits on a non-specific EOI are ignored. */
	outb(&r, M, 0x27);
	ck_assert_uint_eq(inb(&r, M), 0x00);
	outb(&r, M, READ_IRR);

	/* Commands during the init sequence act; ICW1 restarts it. */
	outb(&r, M, 0x11);
	outb(&r, M, READ_ISR);
	ck_assert_uint_eq(inb(&r, M), 0x00);
	outb(&r, MD, 0x20);
	save_restore(&r); /* between ICW2 and ICW3 */
	outb(&r, M, 0x11);
	outb(&r, MD, 0x08);
	outb(&r, MD, 0x04);
	save_restore(&r);   /* between ICW3 and ICW4 */
	outb(&r, MD, 0xE1); /* reserved bits 7:5: ignored; no AEOI */
	edge(&r, 1);
	ck_assert_uint_eq(ack(&r), 0x09);
	ck_assert_uint_eq(isr(&r, M), 0x02);
	outb(&r, M, EOI);

	/* IRQ2 is the cascade, IRQ16 and up do not exist: ignored. */
	irq(&r, 2, 1);
	irq(&r, 16, 1);
	irq(&r, 1000, 1);
	ck_assert_uint_eq(irr(&r, M), 0x00);
	ck_assert_uint_eq(irr(&r, S), 0x00);
	ck_assert_int_eq(r.intr, 0);

	/* Wide accesses: byte cycles at 0x20 then 0x21 (KVM: dropped). */
	dm_pic_master_write(&r.pic, r.now, 0, 2, 0x550A);
	ck_assert_uint_eq(inb(&r, MD), by(&r, 0x55, 0x00, 0x55));
	v = (unsigned)dm_pic_master_read(&r.pic, r.now, 0, 2);
	ck_assert_uint_eq(v, by(&r, 0x5500, 0x0000, 0x5500));
	ck_assert_uint_eq(dm_pic_master_read(&r.pic, r.now, 1, 4),
			  by(&r, 0xFFFFFF55, 0, 0xFFFFFF55));
	/* Offsets past the region read the open bus; writes vanish. */
	ck_assert_uint_eq(dm_pic_slave_read(&r.pic, r.now, 2, 1), 0xFF);
	dm_pic_slave_write(&r.pic, r.now, 7, 1, 0x11);
	dm_pic_slave_write(&r.pic, r.now, UINT64_MAX, 8, 0x11);
	ck_assert_uint_eq(dm_pic_slave_read(&r.pic, r.now, UINT64_MAX, 8),
			  r.prof == DM_PROFILE_KVM ? 0 : UINT64_MAX);
	ck_assert_uint_eq(inb(&r, SD), 0x00);
	outb(&r, SD, 0x12);
	ck_assert_uint_eq(inb(&r, SD), 0x12);
}
END_TEST

START_TEST(test_icw1_resets)
{
	struct rig r;

	rig_init(&r, _i);
	pc_init(&r);
	outb(&r, EL, 0x20); /* IRQ5 level */
	irq(&r, 1, 1);
	ck_assert_uint_eq(ack(&r), 0x09);
	outb(&r, M, 0xC6); /* IR7 highest */
	outb(&r, M, SMM_ON);
	irq(&r, 4, 1);
	irq(&r, 5, 1);
	irq(&r, 0, 1);
	ck_assert_int_eq(r.intr, 1); /* IR0 ranks above IR1 in service */
	outb(&r, MD, 0x80);
	outb(&r, M, READ_ISR);
	outb(&r, M, POLL);
	save_restore(&r);

	outb(&r, M, 0x11);
	/*
	 * [8259A]: edge requests and the IMR cleared, ISR kept, poll
	 * cancelled.  KVM: the same but INT not re-evaluated, ISR bits of
	 * the pending edge requests (0, 4) cleared and reported, poll kept.
	 * QEMU: ISR and vector base cleared too, so IRQ5 goes through.
	 */
	ck_assert_int_eq(r.intr, (int)by(&r, 0, 1, 1));
	if (r.prof == DM_PROFILE_KVM) {
		static const unsigned want[] = {0, 4};

		check_acks(&r, want, 2);
		ck_assert_uint_eq(inb(&r, M), 0x07);
	}
	ck_assert_uint_eq(inb(&r, M), 0x20);
	ck_assert_uint_eq(inb(&r, MD), 0x00);
	outb(&r, M, READ_ISR);
	ck_assert_uint_eq(inb(&r, M), by(&r, 0x02, 0x02, 0x00));
	outb(&r, M, READ_IRR);
	save_restore(&r); /* between ICW1 and ICW2 */
	/* An INTA mid-sequence uses the current vector base. */
	ck_assert_uint_eq(ack(&r), by(&r, 0x0F, 0x0F, 0x05));
	ck_assert_int_eq(r.intr, 0);
	/* A line already high needs a new edge, unless it was forgotten. */
	irq(&r, 0, 1);
	ck_assert_uint_eq(inb(&r, M), by(&r, 0x20, 0x21, 0x21));
	outb(&r, MD, 0x08);
	outb(&r, MD, 0x04);
	outb(&r, MD, 0x01);
	outb(&r, M, 0x61); /* specific EOI 1 */
	if (r.prof == DM_PROFILE_QEMU)
		outb(&r, M, 0x65);
	ck_assert_uint_eq(isr(&r, M), 0x00);
	outb(&r, M, READ_IRR);
	/* IR0 has the highest priority again. */
	edge(&r, 0);
	ck_assert_uint_eq(ack(&r), 0x08);
	/* Special mask mode is off: a masked IR0 in service blocks IR5. */
	outb(&r, MD, 0x01);
	ck_assert_int_eq(r.intr, 0);
	outb(&r, M, EOI);
	ck_assert_uint_eq(ack(&r), 0x0D);
}
END_TEST

/*
 * KVM's kvm_pic_reset acknowledges the pending edge requests only when a
 * vcpu takes the 8259's interrupts; otherwise their ISR bits stay and no
 * listener hears of them (QEMU's LAPIC reset state has LVT0 masked).
 */
START_TEST(test_icw1_kvm_without_a_taker)
{
	struct rig r;

	rig_init(&r, DM_PROFILE_KVM);
	pc_init(&r);
	irq(&r, 1, 1);
	ck_assert_uint_eq(ack(&r), 0x09);
	irq(&r, 0, 1);
	r.no_taker = true;
	r.nacks = 0;
	outb(&r, M, 0x11);
	ck_assert_uint_eq(r.nacks, 0);
	ck_assert_uint_eq(isr(&r, M), 0x02);
	save_restore(&r); /* between ICW1 and ICW2 */
	ck_assert_uint_eq(isr(&r, M), 0x02);
}
END_TEST

/* OCW1 tells the mask listener of each bit that changed, with its new
 * state; ICW1 clearing the IMR tells it nothing (KVM's mask notifiers). */
START_TEST(test_imr_changes_are_told)
{
	struct rig r;

	rig_init(&r, _i);
	pc_init(&r);
	r.nmasks = 0;
	outb(&r, MD, 0x01); /* from 0x00 */
	outb(&r, MD, 0x00);
	outb(&r, SD, 0x03);
	outb(&r, MD, 0x00); /* no change, no word */
	ck_assert_uint_eq(r.nmasks, 4);
	ck_assert_uint_eq(r.masks[0], 0 | 1u << 8);
	ck_assert_uint_eq(r.masks[1], 0);
	ck_assert_uint_eq(r.masks[2], 8 | 1u << 8);
	ck_assert_uint_eq(r.masks[3], 9 | 1u << 8);
	outb(&r, MD, 0x04);
	outb(&r, M, 0x11);
	ck_assert_uint_eq(r.nmasks, 5);
	ck_assert_uint_eq(r.masks[4], 2 | 1u << 8);
}
END_TEST

START_TEST(test_icw1_cascade)
{
	struct rig r;

	/*
	 * Master ICW1 with a slave request up.  [8259A] IR2 needs a new
	 * edge of the slave's INT.  KVM re-pulses IR2 on its next update;
	 * QEMU re-drives IR2 on the slave's next update, with the edge
	 * detector forgotten.
	 */
	rig_init(&r, _i);
	pc_init(&r);
	irq(&r, 10, 1);
	ck_assert_int_eq(r.intr, 1);
	init_chip(&r, M, 0x11, 0x08, 0x04, 0x01);
	save_restore(&r);
	ck_assert_uint_eq(irr(&r, M), 0x00);
	ck_assert_int_eq(r.intr, (int)by(&r, 0, 1, 0));
	ck_assert_uint_eq(r.nacks, by(&r, 0, 1, 0));
	outb(&r, SD, 0x00); /* a slave operation that re-evaluates */
	ck_assert_int_eq(r.intr, (int)by(&r, 0, 1, 1));
	/* Masking and unmasking on the slave makes INT fall and rise. */
	outb(&r, SD, 0x04);
	outb(&r, SD, 0x00);
	ck_assert_int_eq(r.intr, 1);
	ck_assert_uint_eq(ack(&r), 0x72);
}
END_TEST

START_TEST(test_reinject_listener)
{
	struct rig r;

	/* The ack listener may drive an input again (KVM PIT reinject). */
	rig_init(&r, _i);
	r.reinject = true;
	pc_init(&r);
	irq(&r, 0, 1);
	irq(&r, 0, 0);
	if (r.prof == DM_PROFILE_DATASHEET) {
		/* A pulse is no request on the 8259A. */
		ck_assert_int_eq(r.intr, 0);
		irq(&r, 0, 1);
	}
	ck_assert_uint_eq(ack(&r), 0x08);
	outb(&r, M, EOI);
	ck_assert_uint_eq(r.nacks, 1);
	ck_assert_int_eq(r.intr, (int)by(&r, 0, 1, 1));
	ck_assert_uint_eq(irr(&r, M), by(&r, 0x00, 0x01, 0x01));
}
END_TEST

START_TEST(test_reset)
{
	struct rig r;
	struct dm_pic fresh;
	size_t n = dm_state_encoded_size(&dm_pic_state_desc);
	uint8_t a[512], b[512];

	rig_init(&r, _i);
	pc_init(&r);
	outb(&r, EL, 0x20);
	outb(&r, EL + 1, 0x02);
	irq(&r, 5, 1);
	irq(&r, 9, 1);
	ck_assert_uint_eq(ack(&r), 0x71);
	irq(&r, 1, 1);
	ck_assert_int_eq(r.intr, 1);
	outb(&r, M, POLL);
	dm_pic_reset(&r.pic, r.now);
	ck_assert_int_eq(r.intr, 0);
	wire(&r, &fresh);
	dm_state_encode(&dm_pic_state_desc, &r.pic, a, sizeof(a));
	dm_state_encode(&dm_pic_state_desc, &fresh, b, sizeof(b));
	ck_assert_mem_eq(a, b, n);
	/* Power-on: vector base 0, cascaded, edge-triggered. */
	ck_assert_uint_eq(inb(&r, EL), 0x00);
	edge(&r, 9);
	ck_assert_uint_eq(ack(&r), 0x01);
	ck_assert_uint_eq(isr(&r, M), 0x04);
}
END_TEST

/* ---- Migration: the same script with and without checkpoints. ---- */

enum op_kind { OUT, IN, IRQ, ACK };

struct op {
	enum op_kind kind;
	unsigned a;
	unsigned b;
};

static const struct op script[] = {
	{OUT, M, 0x11},	     {OUT, MD, 0x08}, {OUT, MD, 0x04}, {OUT, MD, 0x01},
	{OUT, S, 0x11},	     {OUT, SD, 0x70}, {OUT, SD, 0x02}, {OUT, SD, 0x01},
	{OUT, EL + 1, 0x0A}, {IRQ, 0, 1},     {IRQ, 9, 1},     {IRQ, 3, 1},
	{ACK, 0, 0},	     {IN, M, 0},      {OUT, M, 0x0B},  {IN, M, 0},
	{ACK, 0, 0},	     {IN, S, 0},      {OUT, S, 0x20},  {OUT, M, 0x20},
	{ACK, 0, 0},	     {OUT, M, 0x0C},  {IN, M, 0},      {OUT, M, 0x68},
	{OUT, MD, 0x01},     {IRQ, 11, 1},    {ACK, 0, 0},     {IRQ, 0, 0},
	{IRQ, 0, 1},	     {OUT, M, 0xC2},  {ACK, 0, 0},     {OUT, M, 0xA0},
	{IRQ, 9, 0},	     {OUT, S, 0x20},  {OUT, S, 0x0C},  {IN, SD, 0},
	{OUT, M, 0x20},	     {OUT, M, 0x48},  {OUT, S, 0x11},  {OUT, SD, 0x78},
	{OUT, SD, 0x02},     {OUT, SD, 0x03}, {OUT, S, 0x80},  {IRQ, 11, 0},
	{IRQ, 11, 1},	     {IRQ, 12, 1},    {ACK, 0, 0},     {ACK, 0, 0},
	{OUT, M, 0x20},	     {OUT, M, 0x20},  {ACK, 0, 0},     {IN, M, 0},
	{IN, MD, 0},	     {IN, SD, 0},     {IN, EL, 0},     {IN, EL + 1, 0},
	{OUT, M, 0x13},	     {OUT, MD, 0x20}, {OUT, MD, 0x01}, {OUT, MD, 0x00},
	{IRQ, 4, 1},	     {ACK, 0, 0},     {IN, M, 0},
};

#define NSCRIPT (sizeof(script) / sizeof(script[0]))

static void run_script(struct rig *r, unsigned *out)
{
	for (size_t i = 0; i < NSCRIPT; i++) {
		const struct op *o = &script[i];

		out[i] = 0;
		if (o->kind == OUT)
			outb(r, o->a, (uint8_t)o->b);
		else if (o->kind == IN)
			out[i] = inb(r, o->a);
		else if (o->kind == IRQ)
			irq(r, o->a, (int)o->b);
		else
			out[i] = ack(r);
		out[i] |= (unsigned)r->intr << 8;
	}
}

START_TEST(test_migration_every_step)
{
	struct rig a, b;
	unsigned out_a[NSCRIPT], out_b[NSCRIPT];

	rig_init(&a, _i);
	rig_init(&b, _i);
	b.roundtrip_each = true;
	run_script(&a, out_a);
	run_script(&b, out_b);
	for (size_t i = 0; i < NSCRIPT; i++)
		ck_assert_msg(out_a[i] == out_b[i],
			      "step %zu: 0x%x without checkpoints, 0x%x with",
			      i, out_a[i], out_b[i]);
	ck_assert_uint_eq(a.nacks, b.nacks);
	ck_assert_mem_eq(a.acks, b.acks, sizeof(a.acks));
	ck_assert_uint_eq(a.edges, b.edges);
	ck_assert_uint_eq(dm_state_hash(&dm_pic_state_desc, &a.pic),
			  dm_state_hash(&dm_pic_state_desc, &b.pic));
}
END_TEST

/* ---- Hostile checkpoints. ---- */

/* Encoding: version (2), chip header (5), 2 x 21 fields of header (5) and
 * one byte, intr header (5) and byte (docs/state-format.md). */
#define CHIP_FIELDS 21
#define FIELD_AT(chip, k) (2 + 5 + ((chip)*CHIP_FIELDS + (k)) * 6 + 5)
#define INTR_AT (2 + 5 + 2 * CHIP_FIELDS * 6 + 5)

static void expect_reject(size_t at, uint8_t value, const char *what)
{
	struct rig r;
	uint8_t buf[512], keep[512];
	size_t n = dm_state_encoded_size(&dm_pic_state_desc);
	struct dm_error err = {{0}};

	rig_init(&r, DM_PROFILE_DATASHEET);
	pc_init(&r);
	dm_state_encode(&dm_pic_state_desc, &r.pic, buf, sizeof(buf));
	memcpy(keep, buf, n);
	buf[at] = value;
	ck_assert_int_eq(
		dm_state_load(&dm_pic_state_desc, &r.pic, buf, n, &err), -1);
	ck_assert_msg(strstr(err.msg, what), "'%s' does not name %s", err.msg,
		      what);
	/* The live state is untouched. */
	dm_state_encode(&dm_pic_state_desc, &r.pic, buf, sizeof(buf));
	ck_assert_mem_eq(buf, keep, n);
}

START_TEST(test_hostile)
{
	ck_assert_uint_eq(dm_state_encoded_size(&dm_pic_state_desc),
			  INTR_AT + 1);
	expect_reject(FIELD_AT(0, 7), 8, "chip0.init_step");
	expect_reject(FIELD_AT(1, 6), 8, "chip1.highest");
	expect_reject(FIELD_AT(0, 12), 8, "chip0.call_addr");
	expect_reject(FIELD_AT(1, 20), 2, "chip1.poll");
	expect_reject(INTR_AT, 5, "intr");
	expect_reject(FIELD_AT(0, 4), 0x07, "chip0.elcr");
	expect_reject(FIELD_AT(1, 4), 0x21, "chip1.elcr");
	expect_reject(FIELD_AT(0, 5), 0x09, "chip0: vector_base");
	/* init_step 3 (ICW4 next) without IC4 (the PC sequence sets it). */
	{
		struct rig r;
		uint8_t buf[512];
		size_t n = dm_state_encoded_size(&dm_pic_state_desc);
		struct dm_error err = {{0}};

		rig_init(&r, DM_PROFILE_DATASHEET);
		outb(&r, S, 0x10);
		dm_state_encode(&dm_pic_state_desc, &r.pic, buf, sizeof(buf));
		buf[FIELD_AT(1, 7)] = 3;
		ck_assert_int_eq(
			dm_state_load(&dm_pic_state_desc, &r.pic, buf, n, &err),
			-1);
		ck_assert_ptr_nonnull(strstr(err.msg, "chip1: init_step"));
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("pic");
	TCase *tc = tcase_create("pic");

	tcase_add_loop_test(tc, test_pc_init_irq0, 0, DM_PROFILE_COUNT);
	tcase_add_loop_test(tc, test_priority_nesting, 0, DM_PROFILE_COUNT);
	tcase_add_loop_test(tc, test_ocw2_commands, 0, DM_PROFILE_COUNT);
	tcase_add_loop_test(tc, test_rotation, 0, DM_PROFILE_COUNT);
	tcase_add_loop_test(tc, test_aeoi, 0, DM_PROFILE_COUNT);
	tcase_add_loop_test(tc, test_special_mask, 0, DM_PROFILE_COUNT);
	tcase_add_loop_test(tc, test_sfnm, 0, DM_PROFILE_COUNT);
	tcase_add_loop_test(tc, test_aeoi_slave, 0, DM_PROFILE_COUNT);
	tcase_add_loop_test(tc, test_fully_nested_slave, 0, DM_PROFILE_COUNT);
	tcase_add_loop_test(tc, test_level_edge, 0, DM_PROFILE_COUNT);
	tcase_add_loop_test(tc, test_elcr, 0, DM_PROFILE_COUNT);
	tcase_add_loop_test(tc, test_ltim, 0, DM_PROFILE_COUNT);
	tcase_add_loop_test(tc, test_poll, 0, DM_PROFILE_COUNT);
	tcase_add_loop_test(tc, test_poll_aeoi_level, 0, DM_PROFILE_COUNT);
	tcase_add_loop_test(tc, test_spurious_irq7, 0, DM_PROFILE_COUNT);
	tcase_add_loop_test(tc, test_spurious_irq15, 0, DM_PROFILE_COUNT);
	tcase_add_loop_test(tc, test_register_reads, 0, DM_PROFILE_COUNT);
	tcase_add_loop_test(tc, test_sngl, 0, DM_PROFILE_COUNT);
	tcase_add_loop_test(tc, test_cascade_decode, 0, DM_PROFILE_COUNT);
	tcase_add_loop_test(tc, test_8080_mode, 0, DM_PROFILE_COUNT);
	tcase_add_loop_test(tc, test_nonsense, 0, DM_PROFILE_COUNT);
	tcase_add_loop_test(tc, test_icw1_resets, 0, DM_PROFILE_COUNT);
	tcase_add_loop_test(tc, test_icw1_cascade, 0, DM_PROFILE_COUNT);
	tcase_add_test(tc, test_icw1_kvm_without_a_taker);
	tcase_add_loop_test(tc, test_imr_changes_are_told, 0, DM_PROFILE_COUNT);
	tcase_add_loop_test(tc, test_reinject_listener, 0, DM_PROFILE_COUNT);
	tcase_add_loop_test(tc, test_reset, 0, DM_PROFILE_COUNT);
	tcase_add_loop_test(tc, test_migration_every_step, 0, DM_PROFILE_COUNT);
	tcase_add_test(tc, test_hostile);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return dm_test_main(suite());
}
