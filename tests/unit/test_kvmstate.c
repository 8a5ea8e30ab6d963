// SPDX-License-Identifier: MIT
/*
 * KVM state conversion (sim/kvm/kvmstate.c).  Expected KVM struct values
 * are derived from KVM's own semantics (arch/x86/kvm/i8254.c, i8259.c,
 * ioapic.c, lapic.c), not from running the converter:
 * - a kvm-profile machine driven through its ports and MMIO converts to
 *   the structs KVM_GET_PIT2, KVM_GET_IRQCHIP and KVM_GET_LAPIC would give;
 * - hand-built structs convert into dmsim and back unchanged, and the
 *   machine then behaves as KVM would (timers, INT, EOIs), also after a
 *   checkpoint taken in the middle of a sequence;
 * - impossible values are refused, naming the KVM field, and leave the
 *   device untouched;
 * - dump files round-trip and are checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "sim/kvm/kvmstate.h"
#include "testutil.h"

#define OFF 1000000000000LL /* host ktime at virtual time 0 */

static struct dm_machine *make(const char *opts)
{
	struct dm_config cfg;
	struct dm_machine *m;
	struct dm_error err = {""};

	dm_config_defaults(&cfg, DM_PROFILE_DATASHEET);
	ck_assert_msg(dm_config_parse(&cfg, opts, &err) == 0, "%s", err.msg);
	ck_assert_msg(dm_machine_create(&m, &cfg, &err) == 0, "%s", err.msg);
	return m;
}

static void outb(struct dm_machine *m, uint64_t t, uint16_t port, uint8_t v)
{
	uint64_t val = v;

	ck_assert_int_eq(dm_machine_pio(m, t, 0, port, 1, true, &val),
			 DM_ACCESS_OK);
}

static uint8_t inb(struct dm_machine *m, uint64_t t, uint16_t port)
{
	uint64_t val = 0;

	ck_assert_int_eq(dm_machine_pio(m, t, 0, port, 1, false, &val),
			 DM_ACCESS_OK);
	return (uint8_t)val;
}

static void mmio_w(struct dm_machine *m, uint64_t t, uint32_t cpu,
		   uint64_t addr, uint32_t v)
{
	uint64_t val = v;

	ck_assert_int_eq(dm_machine_mmio(m, t, cpu, addr, 4, true, &val),
			 DM_ACCESS_OK);
}

static void msr_w(struct dm_machine *m, uint64_t t, uint32_t cpu, uint32_t msr,
		  uint64_t v)
{
	ck_assert_int_eq(dm_machine_msr(m, t, cpu, msr, true, &v),
			 DM_ACCESS_OK);
}

static void ioapic_w(struct dm_machine *m, uint64_t t, uint8_t reg, uint32_t v)
{
	mmio_w(m, t, 0, DM_IOAPIC_BASE, reg);
	mmio_w(m, t, 0, DM_IOAPIC_BASE + 0x10, v);
}

static void lapic_w(struct dm_machine *m, uint64_t t, uint32_t cpu,
		    unsigned off, uint32_t v)
{
	mmio_w(m, t, cpu, 0xfee00000ull + off, v);
}

static uint32_t reg(const struct kvm_lapic_state *s, unsigned off)
{
	uint32_t v;

	memcpy(&v, s->regs + off, 4);
	return v;
}

static void set_reg(struct kvm_lapic_state *s, unsigned off, uint32_t v)
{
	memcpy(s->regs + off, &v, 4);
}

static void expect_err(int rc, const struct dm_error *err, const char *needle)
{
	ck_assert_int_eq(rc, -1);
	ck_assert_msg(strstr(err->msg, needle), "\"%s\" does not name \"%s\"",
		      err->msg, needle);
}

static uint64_t hash_of(const struct dm_machine *m, const char *dev)
{
	const struct dm_device *d = dm_machine_device(m, dev);

	ck_assert_ptr_nonnull(d);
	return dm_state_hash(d->desc, d->state);
}

/* A twin restored from a checkpoint of m (the mid-sequence migration). */
static struct dm_machine *twin(const struct dm_machine *m)
{
	struct dm_machine *t;
	struct dm_error err = {""};
	size_t len;
	uint8_t *buf = dm_machine_save(m, &len);

	ck_assert_ptr_nonnull(buf);
	ck_assert_msg(dm_machine_restore(&t, &m->cfg, buf, len, &err) == 0,
		      "%s", err.msg);
	free(buf);
	return t;
}

static struct kvm_pit_state2 pit_to(const struct dm_machine *m, uint64_t now)
{
	struct kvm_pit_state2 ps;
	struct dm_error err = {""};

	ck_assert_msg(dm_kvm_pit_to(m, now, OFF, &ps, &err) == 0, "%s",
		      err.msg);
	return ps;
}

static struct kvm_irqchip chip_to(const struct dm_machine *m, uint64_t now,
				  uint32_t id)
{
	struct kvm_irqchip c = {.chip_id = id};
	struct dm_error err = {""};

	ck_assert_msg(dm_kvm_irqchip_to(m, now, &c, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(c.chip_id, id);
	return c;
}

static struct kvm_lapic_state lapic_to(const struct dm_machine *m, uint64_t now,
				       uint32_t vcpu)
{
	struct kvm_lapic_state s;
	struct dm_error err = {""};

	ck_assert_msg(dm_kvm_lapic_to(m, now, vcpu, &s, &err) == 0, "%s",
		      err.msg);
	return s;
}

/* ---- profile ----------------------------------------------------------- */

START_TEST(only_kvm_profile_converts)
{
	struct dm_machine *ds = make("profile=datasheet");
	struct dm_machine *ov = make("profile=kvm pit=datasheet");
	struct dm_machine *lo = make("profile=kvm lapic=datasheet");
	struct kvm_pit_state2 ps = {0};
	struct kvm_irqchip c = {.chip_id = KVM_IRQCHIP_IOAPIC};
	struct kvm_lapic_state s = {{0}};
	struct dm_error err;

	expect_err(dm_kvm_pit_to(ds, 0, 0, &ps, &err), &err, "profile=kvm");
	expect_err(dm_kvm_pit_from(ds, 0, 0, &ps, &err), &err, "profile=kvm");
	expect_err(dm_kvm_irqchip_to(ds, 0, &c, &err), &err, "profile=kvm");
	expect_err(dm_kvm_lapic_from(ds, 0, 0, &s, &err), &err, "profile=kvm");
	expect_err(dm_kvm_pit_to(ov, 0, 0, &ps, &err), &err, "pit=kvm");
	expect_err(dm_kvm_lapic_to(lo, 0, 0, &s, &err), &err, "lapic=kvm");
	dm_machine_destroy(ds);
	dm_machine_destroy(ov);
	dm_machine_destroy(lo);
}
END_TEST

START_TEST(to_kvm_needs_an_advanced_machine)
{
	struct dm_machine *m = make("profile=kvm");
	struct kvm_lapic_state s;
	struct dm_error err;

	lapic_w(m, 0, 0, 0xf0, 0x1ff);
	lapic_w(m, 0, 0, 0x320, 0x40); /* one-shot, vector 0x40 */
	lapic_w(m, 0, 0, 0x3e0, 0xb);  /* divide by 1 */
	lapic_w(m, 0, 0, 0x380, 1000); /* expires at 1000 ns */
	expect_err(dm_kvm_lapic_to(m, 5000, 0, &s, &err), &err,
		   "advance the machine");
	dm_machine_advance(m, 5000);
	s = lapic_to(m, 5000, 0);
	ck_assert_uint_eq(reg(&s, 0x390), 0);
	ck_assert_uint_eq(reg(&s, 0x200 + 0x20), 1); /* IRR vector 0x40 */
	dm_machine_destroy(m);
}
END_TEST

/* ---- PIT --------------------------------------------------------------- */

START_TEST(pit_to_kvm_after_reset)
{
	struct dm_machine *m = make("profile=kvm");
	struct kvm_pit_state2 ps = pit_to(m, 0);

	/* kvm_pit_reset: mode 0xff, pit_load_count(0) = 0x10000, gate 1, 1, 0;
	 * counters 1 and 2 stamped at creation, counter 0 never. */
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_uint_eq(ps.channels[i].count, 65536);
		ck_assert_uint_eq(ps.channels[i].mode, 0xff);
		ck_assert_uint_eq(ps.channels[i].rw_mode, 0);
		ck_assert_uint_eq(ps.channels[i].read_state, 0);
		ck_assert_uint_eq(ps.channels[i].write_state, 0);
		ck_assert_uint_eq(ps.channels[i].gate, i != 2);
		ck_assert_uint_eq(ps.channels[i].count_latched, 0);
		ck_assert_uint_eq(ps.channels[i].status_latched, 0);
	}
	ck_assert_int_eq(ps.channels[0].count_load_time, 0);
	ck_assert_int_eq(ps.channels[1].count_load_time, OFF);
	ck_assert_int_eq(ps.channels[2].count_load_time, OFF);
	ck_assert_uint_eq(ps.flags, 0);
	dm_machine_destroy(m);
}
END_TEST

START_TEST(pit_to_kvm_after_port_writes)
{
	struct dm_machine *m = make("profile=kvm");
	struct kvm_pit_state2 ps;

	outb(m, 100, 0x43, 0x34); /* counter 0, LSB then MSB, mode 2 */
	outb(m, 200, 0x40, 0x9c);
	ps = pit_to(m, 200);
	/* Mid-word: write_state RW_STATE_WORD1 with the LSB latched. */
	ck_assert_uint_eq(ps.channels[0].rw_mode, 3);
	ck_assert_uint_eq(ps.channels[0].mode, 2);
	ck_assert_uint_eq(ps.channels[0].write_state, 4);
	ck_assert_uint_eq(ps.channels[0].read_state, 3);
	ck_assert_uint_eq(ps.channels[0].write_latch, 0x9c);
	ck_assert_uint_eq(ps.channels[0].count, 65536);
	outb(m, 300, 0x40, 0x2e);
	outb(m, 400, 0x43, 0xb0); /* counter 2, LSB then MSB, mode 0 */
	outb(m, 500, 0x42, 0x34);
	outb(m, 5000, 0x42, 0x12);
	outb(m, 6000, 0x43, 0x74); /* counter 1, LSB then MSB, mode 2 */
	outb(m, 6000, 0x41, 0x55); /* the LSB only */
	/* Counter latch of counter 2 1 ms after its load: mode 0 reads
	 * (count - d) & 0xffff, d = floor(10^6 * 1193181 / 10^9) = 1193. */
	outb(m, 1005000, 0x43, 0x80);
	ck_assert_uint_eq(inb(m, 1005000, 0x42), 0x8b); /* LSB of 0x0d8b */
	/* Read-back: latch the status of counter 1 (COUNT# = 1). */
	outb(m, 1005000, 0x43, 0xe4);
	outb(m, 1005000, 0x61, 0x02); /* speaker data on, GATE2 low */
	ps = pit_to(m, 1005000);
	ck_assert_uint_eq(ps.channels[0].count, 11932);
	ck_assert_uint_eq(ps.channels[0].write_state, 3);
	ck_assert_int_eq(ps.channels[0].count_load_time, 0);
	ck_assert_uint_eq(ps.channels[2].count, 0x1234);
	ck_assert_uint_eq(ps.channels[2].mode, 0);
	ck_assert_int_eq(ps.channels[2].count_load_time, OFF + 5000);
	ck_assert_uint_eq(ps.channels[2].latched_count, 0x0d8b);
	ck_assert_uint_eq(ps.channels[2].count_latched, 2); /* MSB left */
	ck_assert_uint_eq(ps.channels[1].write_state, 4);
	ck_assert_uint_eq(ps.channels[1].write_latch, 0x55);
	ck_assert_uint_eq(ps.channels[1].count, 65536);
	/* Status: OUT (mode 2, d = 1199 ticks since creation, d mod 65536
	 * != 0: low), rw 3, mode 2, binary. */
	ck_assert_uint_eq(ps.channels[1].status_latched, 1);
	ck_assert_uint_eq(ps.channels[1].status, 0x34);
	ck_assert_int_eq(ps.channels[1].count_load_time, OFF);
	ck_assert_uint_eq(ps.flags, KVM_PIT_FLAGS_SPEAKER_DATA_ON);
	ck_assert_uint_eq(ps.channels[2].gate, 0);
	dm_machine_destroy(m);
}
END_TEST

START_TEST(pit_mode_6_reads_back_de_aliased)
{
	struct dm_machine *m = make("profile=kvm");
	struct kvm_pit_state2 ps;

	outb(m, 0, 0x43, 0x1c); /* counter 0, LSB only, mode 6 */
	ps = pit_to(m, 0);
	ck_assert_uint_eq(ps.channels[0].mode, 2); /* KVM subtracts 4 */
	ck_assert_uint_eq(ps.channels[0].rw_mode, 1);
	ck_assert_uint_eq(ps.channels[0].read_state, 1);
	dm_machine_destroy(m);
}
END_TEST

/* Every field set, consistent with states KVM reaches. */
static struct kvm_pit_state2 pit_struct(void)
{
	struct kvm_pit_state2 ps;

	memset(&ps, 0, sizeof(ps));
	ps.channels[0] = (struct kvm_pit_channel_state){
		.count = 11932,
		.latched_count = 0x1111,
		.count_latched = 2,
		.status_latched = 1,
		.status = 0x34,
		.read_state = 4,
		.write_state = 4,
		.write_latch = 0x9c,
		.rw_mode = 3,
		.mode = 2,
		.gate = 1,
	};
	ps.channels[1] = (struct kvm_pit_channel_state){
		.count = 0x55,
		.read_state = 1,
		.write_state = 1,
		.write_latch = 0x77,
		.rw_mode = 1,
		.mode = 4,
		.bcd = 1,
		.gate = 1,
		.count_load_time = OFF + 2000,
	};
	ps.channels[2] = (struct kvm_pit_channel_state){
		.count = 65536,
		.latched_count = 0xabcd,
		.count_latched = 1,
		.read_state = 2,
		.write_state = 2,
		.rw_mode = 2,
		.mode = 0xff,
		.count_load_time = OFF + 3000,
	};
	ps.flags = KVM_PIT_FLAGS_SPEAKER_DATA_ON;
	return ps;
}

START_TEST(pit_from_kvm_round_trips)
{
	struct dm_machine *m = make("profile=kvm");
	struct kvm_pit_state2 in = pit_struct(), out;
	struct dm_error err = {""};

	ck_assert_msg(dm_kvm_pit_from(m, 10000, OFF, &in, &err) == 0, "%s",
		      err.msg);
	out = pit_to(m, 10000);
	ck_assert_mem_eq(&in, &out, sizeof(in));
	ck_assert_uint_eq(m->pit.ch[1].load_ns, 2000);
	ck_assert_uint_eq(m->pit.ch[2].load_ns, 3000);
	ck_assert_uint_eq(m->pit.ch[1].cr, 0x55);
	ck_assert(m->pit.speaker_data);
	/* KVM_SET_PIT2 restarts counter 0's hrtimer: floor(11932 * 10^9 /
	 * 1193181) = 10000159 ns, periodic (mode 2). */
	ck_assert_uint_eq(m->pit.kvm_period, 10000159);
	ck_assert_uint_eq(m->pit.kvm_expires, 10000 + 10000159);
	ck_assert(m->pit.kvm_periodic);
	dm_machine_destroy(m);
}
END_TEST

START_TEST(pit_from_kvm_continues_mid_sequence)
{
	struct dm_machine *m = make("profile=kvm"), *t;
	struct kvm_pit_state2 in = pit_struct(), a, b;
	struct dm_error err = {""};

	ck_assert_msg(dm_kvm_pit_from(m, 10000, OFF, &in, &err) == 0, "%s",
		      err.msg);
	t = twin(m);
	/* Counter 0 awaits its MSB; the status latch of counter 0 and the
	 * LSB-only count latch of counter 2 await their reads. */
	for (unsigned i = 0; i < 2; i++) {
		struct dm_machine *x = i ? t : m;

		outb(x, 20000, 0x40, 0x2e);
		ck_assert_uint_eq(inb(x, 20000, 0x40), 0x34); /* status */
		ck_assert_uint_eq(inb(x, 20000, 0x40), 0x11); /* latch MSB */
		ck_assert_uint_eq(inb(x, 20000, 0x42), 0xcd);
	}
	a = pit_to(m, 20000);
	b = pit_to(t, 20000);
	ck_assert_mem_eq(&a, &b, sizeof(a));
	ck_assert_uint_eq(a.channels[0].count, 0x2e9c);
	ck_assert_uint_eq(a.channels[0].write_state, 3);
	ck_assert_uint_eq(a.channels[0].status_latched, 0);
	ck_assert_uint_eq(a.channels[0].count_latched, 0);
	ck_assert_uint_eq(a.channels[2].count_latched, 0);
	ck_assert_uint_eq(m->pit.kvm_expires, 20000 + 10000159);
	ck_assert_uint_eq(t->pit.kvm_expires, 20000 + 10000159);
	dm_machine_destroy(m);
	dm_machine_destroy(t);
}
END_TEST

START_TEST(pit_from_kvm_drives_irq0)
{
	struct dm_machine *m = make("profile=kvm");
	struct kvm_pit_state2 in = pit_struct();
	struct dm_error err = {""};
	uint64_t due = 10000 + 10000159;

	in.channels[0].write_state = 3;
	ck_assert_msg(dm_kvm_pit_from(m, 10000, OFF, &in, &err) == 0, "%s",
		      err.msg);
	dm_machine_advance(m, due - 1);
	ck_assert_uint_eq(m->pic.chip[0].irr & 1, 0);
	dm_machine_advance(m, due);
	ck_assert_uint_eq(m->pic.chip[0].irr & 1, 1); /* the edge latched */
	dm_machine_destroy(m);
}
END_TEST

struct pit_bad {
	void (*spoil)(struct kvm_pit_state2 *ps);
	const char *field;
};

static void bad_count0(struct kvm_pit_state2 *ps)
{
	ps->channels[0].count = 0;
}

static void bad_count_big(struct kvm_pit_state2 *ps)
{
	ps->channels[1].count = 65537;
}

static void bad_rw(struct kvm_pit_state2 *ps)
{
	ps->channels[2].rw_mode = 4;
}

static void bad_mode(struct kvm_pit_state2 *ps)
{
	ps->channels[2].mode = 9;
}

static void bad_read_state(struct kvm_pit_state2 *ps)
{
	ps->channels[1].read_state = 3; /* word state with rw_mode 1 */
}

static void bad_write_state(struct kvm_pit_state2 *ps)
{
	ps->channels[0].write_state = 1; /* byte state with rw_mode 3 */
}

static void bad_latched(struct kvm_pit_state2 *ps)
{
	ps->channels[0].count_latched = 4;
}

static void bad_status_latched(struct kvm_pit_state2 *ps)
{
	ps->channels[1].status_latched = 2;
}

static void bad_gate(struct kvm_pit_state2 *ps)
{
	ps->channels[2].gate = 7;
}

static void bad_flags(struct kvm_pit_state2 *ps)
{
	ps->flags = 4;
}

static void bad_legacy(struct kvm_pit_state2 *ps)
{
	ps->flags = KVM_PIT_FLAGS_HPET_LEGACY;
}

static void bad_reserved(struct kvm_pit_state2 *ps)
{
	ps->reserved[3] = 1;
}

static void bad_early(struct kvm_pit_state2 *ps)
{
	ps->channels[1].count_load_time = OFF - 1;
}

static void bad_late(struct kvm_pit_state2 *ps)
{
	ps->channels[2].count_load_time = OFF + 10001;
}

static const struct pit_bad pit_bads[] = {
	{bad_count0, "channels[0].count"},
	{bad_count_big, "channels[1].count"},
	{bad_rw, "channels[2].rw_mode"},
	{bad_mode, "channels[2].mode"},
	{bad_read_state, "channels[1].read_state"},
	{bad_write_state, "channels[0].write_state"},
	{bad_latched, "channels[0].count_latched"},
	{bad_status_latched, "channels[1].status_latched"},
	{bad_gate, "channels[2].gate"},
	{bad_flags, "flags"},
	{bad_legacy, "KVM_PIT_FLAGS_HPET_LEGACY"},
	{bad_reserved, "reserved[3]"},
	{bad_early, "channels[1].count_load_time"},
	{bad_late, "channels[2].count_load_time"},
};

START_TEST(pit_from_kvm_refuses_impossible_values)
{
	const struct pit_bad *b = &pit_bads[_i];
	struct dm_machine *m = make("profile=kvm");
	struct kvm_pit_state2 ps = pit_struct();
	struct dm_error err = {""};
	uint64_t before;

	outb(m, 0, 0x43, 0x34);
	dm_machine_advance(m, 10000);
	before = hash_of(m, "pit");
	b->spoil(&ps);
	expect_err(dm_kvm_pit_from(m, 10000, OFF, &ps, &err), &err, b->field);
	ck_assert_ptr_nonnull(strstr(err.msg, "kvm_pit_state2"));
	ck_assert_uint_eq(hash_of(m, "pit"), before);
	dm_machine_destroy(m);
}
END_TEST

/* ---- PIC --------------------------------------------------------------- */

static void pc_pic_init(struct dm_machine *m, uint64_t t)
{
	static const uint8_t master[] = {0x11, 0x08, 0x04, 0x01};
	static const uint8_t slave[] = {0x11, 0x70, 0x02, 0x01};

	for (unsigned i = 0; i < 4; i++) {
		outb(m, t, i ? 0x21 : 0x20, master[i]);
		outb(m, t, i ? 0xa1 : 0xa0, slave[i]);
	}
}

START_TEST(pic_to_kvm_after_init_sequence)
{
	struct dm_machine *m = make("profile=kvm");
	struct kvm_pic_state *p;
	struct kvm_irqchip c;

	outb(m, 0, 0x20, 0x11);
	outb(m, 0, 0x21, 0x08);
	c = chip_to(m, 0, KVM_IRQCHIP_PIC_MASTER);
	ck_assert_uint_eq(c.chip.pic.init_state, 2); /* ICW3 next */
	ck_assert_uint_eq(c.chip.pic.init4, 1);
	outb(m, 0, 0x21, 0x04);
	c = chip_to(m, 0, KVM_IRQCHIP_PIC_MASTER);
	ck_assert_uint_eq(c.chip.pic.init_state, 3); /* ICW4 next */
	pc_pic_init(m, 10);
	outb(m, 10, 0x21, 0xfb);
	outb(m, 10, 0xa1, 0xff);
	outb(m, 10, 0x4d0, 0x20);
	outb(m, 10, 0x4d1, 0x0c);
	c = chip_to(m, 10, KVM_IRQCHIP_PIC_MASTER);
	p = &c.chip.pic;
	ck_assert_uint_eq(p->irq_base, 0x08);
	ck_assert_uint_eq(p->imr, 0xfb);
	ck_assert_uint_eq(p->init_state, 0);
	ck_assert_uint_eq(p->init4, 1);
	ck_assert_uint_eq(p->auto_eoi, 0);
	ck_assert_uint_eq(p->elcr, 0x20);
	ck_assert_uint_eq(p->elcr_mask, 0xf8);
	ck_assert_uint_eq(p->priority_add, 0);
	c = chip_to(m, 10, KVM_IRQCHIP_PIC_SLAVE);
	ck_assert_uint_eq(c.chip.pic.irq_base, 0x70);
	ck_assert_uint_eq(c.chip.pic.imr, 0xff);
	ck_assert_uint_eq(c.chip.pic.elcr, 0x0c);
	ck_assert_uint_eq(c.chip.pic.elcr_mask, 0xde);
	dm_machine_destroy(m);
}
END_TEST

START_TEST(pic_to_kvm_commands_and_interrupts)
{
	struct dm_machine *m = make("profile=kvm");
	struct dm_error err = {""};
	struct kvm_pic_state *p;
	struct kvm_irqchip c;

	pc_pic_init(m, 0);
	outb(m, 0, 0x21, 0xf0);
	outb(m, 0, 0x20, 0x0b); /* OCW3: read ISR */
	outb(m, 0, 0x20, 0x68); /* OCW3: set special mask */
	outb(m, 0, 0x20, 0xc2); /* OCW2: IR2 lowest */
	outb(m, 0, 0x20, 0x80); /* OCW2: rotate in AEOI */
	ck_assert_int_eq(dm_machine_set_gsi(m, 10, 3, 1, &err), 0);
	c = chip_to(m, 10, KVM_IRQCHIP_PIC_MASTER);
	p = &c.chip.pic;
	ck_assert_uint_eq(p->read_reg_select, 1);
	ck_assert_uint_eq(p->special_mask, 1);
	ck_assert_uint_eq(p->priority_add, 3);
	ck_assert_uint_eq(p->rotate_on_auto_eoi, 1);
	ck_assert_uint_eq(p->irr, 0x08);
	ck_assert_uint_eq(p->last_irr, 0x08);
	/* The vcpu takes IRQ3 through LVT0 (ExtINT): ISR set, edge IRR
	 * cleared, the line level kept in last_irr. */
	ck_assert_int_eq(dm_machine_intack(m, 20, 0), 0x0b);
	c = chip_to(m, 20, KVM_IRQCHIP_PIC_MASTER);
	ck_assert_uint_eq(p->isr, 0x08);
	ck_assert_uint_eq(p->irr, 0x00);
	ck_assert_uint_eq(p->last_irr, 0x08);
	outb(m, 30, 0x20, 0x0c); /* OCW3: poll */
	c = chip_to(m, 30, KVM_IRQCHIP_PIC_MASTER);
	ck_assert_uint_eq(p->poll, 1);
	outb(m, 40, 0x20, 0x63); /* specific EOI of IR3 */
	c = chip_to(m, 40, KVM_IRQCHIP_PIC_MASTER);
	ck_assert_uint_eq(p->isr, 0x00);
	dm_machine_destroy(m);
}
END_TEST

static struct kvm_irqchip pic_struct(uint32_t id)
{
	struct kvm_irqchip c;

	memset(&c, 0, sizeof(c));
	c.chip_id = id;
	if (id == KVM_IRQCHIP_PIC_MASTER)
		c.chip.pic = (struct kvm_pic_state){
			.last_irr = 0x02,
			.irr = 0x02,
			.imr = 0xf0,
			.priority_add = 0,
			.irq_base = 0x08,
			.read_reg_select = 1,
			.special_mask = 1,
			.auto_eoi = 1,
			.rotate_on_auto_eoi = 1,
			.special_fully_nested_mode = 1,
			.init4 = 1,
			.elcr = 0x20,
			.elcr_mask = 0xf8,
		};
	else
		c.chip.pic = (struct kvm_pic_state){
			.irr = 0x10,
			.imr = 0xef,
			.isr = 0x01,
			.priority_add = 3,
			.irq_base = 0x70,
			.poll = 1,
			.init_state = 2,
			.init4 = 1,
			.elcr = 0x0c,
			.elcr_mask = 0xde,
		};
	return c;
}

START_TEST(pic_from_kvm_round_trips_and_raises_int)
{
	struct dm_machine *m = make("profile=kvm");
	struct kvm_irqchip in[2] = {pic_struct(0), pic_struct(1)}, out;
	struct dm_error err = {""};

	for (unsigned i = 0; i < 2; i++)
		ck_assert_msg(dm_kvm_irqchip_from(m, 100, &in[i], &err) == 0,
			      "%s", err.msg);
	for (unsigned i = 0; i < 2; i++) {
		out = chip_to(m, 100, i);
		ck_assert_mem_eq(&in[i], &out, sizeof(out));
	}
	/* IR1 requested, unmasked, nothing in service: INT is up and LINT0
	 * of vcpu 0 (ExtINT) sees it. */
	ck_assert(m->pic.intr);
	ck_assert_uint_eq(m->lapics[0].lint_level & 1, 1);
	/* AEOI: the INTA leaves nothing in service and rotates IR1 lowest.
	 * KVM's update then pulses IR2 for the slave's IR4 request. */
	ck_assert_int_eq(dm_machine_intack(m, 200, 0), 0x09);
	out = chip_to(m, 200, KVM_IRQCHIP_PIC_MASTER);
	ck_assert_uint_eq(out.chip.pic.isr, 0);
	ck_assert_uint_eq(out.chip.pic.irr, 0x04);
	ck_assert_uint_eq(out.chip.pic.priority_add, 2);
	ck_assert(m->pic.intr);
	/* Through the cascade: the slave's vector, its ISR[4] set. */
	ck_assert_int_eq(dm_machine_intack(m, 300, 0), 0x74);
	out = chip_to(m, 300, KVM_IRQCHIP_PIC_SLAVE);
	ck_assert_uint_eq(out.chip.pic.isr, 0x11);
	ck_assert_uint_eq(out.chip.pic.irr, 0x00);
	dm_machine_destroy(m);
}
END_TEST

START_TEST(pic_from_kvm_continues_mid_init)
{
	struct dm_machine *m = make("profile=kvm"), *t;
	struct kvm_irqchip in = pic_struct(1), a, b;
	struct dm_error err = {""};

	ck_assert_msg(dm_kvm_irqchip_from(m, 100, &in, &err) == 0, "%s",
		      err.msg);
	t = twin(m);
	for (unsigned i = 0; i < 2; i++) {
		struct dm_machine *x = i ? t : m;

		/* The slave awaits ICW3, then ICW4 (init4). */
		outb(x, 200, 0xa1, 0x02);
		a = chip_to(x, 200, KVM_IRQCHIP_PIC_SLAVE);
		ck_assert_uint_eq(a.chip.pic.init_state, 3);
		outb(x, 200, 0xa1, 0x03); /* ICW4: 8086, AEOI */
		/* The pending poll: IR4 is the top request (IR3 lowest). */
		ck_assert_uint_eq(inb(x, 200, 0xa0), 0x84);
	}
	a = chip_to(m, 200, KVM_IRQCHIP_PIC_SLAVE);
	b = chip_to(t, 200, KVM_IRQCHIP_PIC_SLAVE);
	ck_assert_mem_eq(&a, &b, sizeof(a));
	ck_assert_uint_eq(a.chip.pic.init_state, 0);
	ck_assert_uint_eq(a.chip.pic.auto_eoi, 1);
	ck_assert_uint_eq(a.chip.pic.poll, 0);
	ck_assert_uint_eq(a.chip.pic.irr, 0x00);
	dm_machine_destroy(m);
	dm_machine_destroy(t);
}
END_TEST

struct chip_bad {
	uint32_t id;
	unsigned off; /* byte in chip.pic / chip.ioapic, or ~0u: chip_id */
	uint64_t value;
	unsigned size;
	const char *field;
};

static struct kvm_irqchip ioapic_struct(void);

static const struct chip_bad chip_bads[] = {
	{0, offsetof(struct kvm_pic_state, priority_add), 8, 1,
	 "chip.pic.priority_add"},
	{1, offsetof(struct kvm_pic_state, irq_base), 0x71, 1,
	 "chip.pic.irq_base"},
	{0, offsetof(struct kvm_pic_state, init_state), 4, 1,
	 "chip.pic.init_state"},
	{0, offsetof(struct kvm_pic_state, poll), 2, 1, "chip.pic.poll"},
	{1, offsetof(struct kvm_pic_state, special_fully_nested_mode), 3, 1,
	 "chip.pic.special_fully_nested_mode"},
	{0, offsetof(struct kvm_pic_state, elcr_mask), 0xff, 1,
	 "chip.pic.elcr_mask"},
	{0, offsetof(struct kvm_pic_state, elcr), 0x21, 1, "chip.pic.elcr"},
	{1, offsetof(struct kvm_pic_state, elcr), 0x01, 1, "chip.pic.elcr"},
	{2, offsetof(struct kvm_ioapic_state, base_address), 0xfec01000, 8,
	 "base_address"},
	{2, offsetof(struct kvm_ioapic_state, ioregsel), 0x100, 4, "ioregsel"},
	{2, offsetof(struct kvm_ioapic_state, id), 16, 4, "id"},
	{2, offsetof(struct kvm_ioapic_state, irr), 1u << 24, 4, "irr"},
	{2, offsetof(struct kvm_ioapic_state, redirtbl[6]), 0x11000, 8,
	 "redirtbl[6].fields.delivery_status"},
	{2, offsetof(struct kvm_ioapic_state, redirtbl[7]), 0x14000, 8,
	 "redirtbl[7].fields.remote_irr"},
	{3, ~0u, 3, 4, "chip_id"},
};

START_TEST(irqchip_from_kvm_refuses_impossible_values)
{
	const struct chip_bad *b = &chip_bads[_i];
	struct dm_machine *m = make("profile=kvm");
	uint32_t id = b->id > 2 ? 0 : b->id;
	struct kvm_irqchip c = id == 2 ? ioapic_struct() : pic_struct(id);
	struct dm_error err = {""};
	uint64_t pic = hash_of(m, "pic"), io = hash_of(m, "ioapic");

	if (b->off == ~0u)
		c.chip_id = (uint32_t)b->value;
	else
		memcpy((uint8_t *)&c.chip + b->off, &b->value, b->size);
	expect_err(dm_kvm_irqchip_from(m, 100, &c, &err), &err, b->field);
	ck_assert_uint_eq(hash_of(m, "pic"), pic);
	ck_assert_uint_eq(hash_of(m, "ioapic"), io);
	dm_machine_destroy(m);
}
END_TEST

/* ---- IOAPIC ------------------------------------------------------------ */

START_TEST(ioapic_to_kvm)
{
	struct dm_machine *m = make("profile=kvm");
	struct dm_error err = {""};
	struct kvm_ioapic_state *s;
	struct kvm_irqchip c = chip_to(m, 0, KVM_IRQCHIP_IOAPIC);

	s = &c.chip.ioapic;
	ck_assert_uint_eq(s->base_address, 0xfec00000);
	for (unsigned i = 0; i < 24; i++)
		ck_assert_uint_eq(s->redirtbl[i].bits, 0x10000);
	ioapic_w(m, 10, 0x10, 0xa031); /* pin 0: level, active low, 0x31 */
	ioapic_w(m, 10, 0x11, 0x03000000);
	ioapic_w(m, 10, 0x00, 0x05000000); /* ID 5 */
	ioapic_w(m, 10, 0x1a, 0x8039);	   /* pin 5: level, unmasked */
	mmio_w(m, 10, 0, DM_IOAPIC_BASE, 0x14);
	/* Pin 4 asserted while masked (edge): pending in KVM's irr; pin 5
	 * asserted, level: in irr while high (the software-disabled LAPIC
	 * refuses it, so no Remote IRR). */
	ck_assert_int_eq(dm_machine_set_gsi(m, 20, 4, 1, &err), 0);
	ck_assert_int_eq(dm_machine_set_gsi(m, 20, 5, 1, &err), 0);
	c = chip_to(m, 20, KVM_IRQCHIP_IOAPIC);
	ck_assert_uint_eq(s->redirtbl[0].bits, 0x030000000000a031ull);
	ck_assert_uint_eq(s->redirtbl[5].bits, 0x8039);
	ck_assert_uint_eq(s->id, 5);
	ck_assert_uint_eq(s->ioregsel, 0x14);
	ck_assert_uint_eq(s->irr, 0x30);
	ck_assert_int_eq(dm_machine_set_gsi(m, 30, 5, 0, &err), 0);
	c = chip_to(m, 30, KVM_IRQCHIP_IOAPIC);
	ck_assert_uint_eq(s->irr, 0x10);
	dm_machine_destroy(m);
}
END_TEST

static struct kvm_irqchip ioapic_struct(void)
{
	struct kvm_irqchip c;
	struct kvm_ioapic_state *s = &c.chip.ioapic;

	memset(&c, 0, sizeof(c));
	c.chip_id = KVM_IRQCHIP_IOAPIC;
	s->base_address = 0xfec00000;
	s->ioregsel = 0x13;
	s->id = 7;
	s->irr = 1u << 3 | 1u << 4;
	for (unsigned i = 0; i < 24; i++)
		s->redirtbl[i].bits = 0x10000;
	s->redirtbl[3].bits = 0x000000000000c033ull; /* level, Remote IRR */
	s->redirtbl[4].bits = 0x10034;		     /* edge, masked */
	s->redirtbl[5].bits = 0x00ff000000010035ull; /* EDID bits kept */
	return c;
}

START_TEST(ioapic_from_kvm_round_trips_and_eois)
{
	struct dm_machine *m = make("profile=kvm"), *t;
	struct kvm_irqchip in = ioapic_struct(), out;
	struct dm_error err = {""};

	ck_assert_msg(dm_kvm_irqchip_from(m, 100, &in, &err) == 0, "%s",
		      err.msg);
	out = chip_to(m, 100, KVM_IRQCHIP_IOAPIC);
	ck_assert_mem_eq(&in, &out, sizeof(in));
	ck_assert_uint_eq(m->ioapic.line, 0x18);
	t = twin(m);
	/* The EOI of vector 0x33 clears Remote IRR; the line is still high
	 * and the entry unmasked, so KVM re-sends (to APIC 0, which is
	 * software-disabled and refuses: Remote IRR stays clear). */
	dm_ioapic_eoi(&m->ioapic, 200, 0x33);
	dm_ioapic_eoi(&t->ioapic, 200, 0x33);
	out = chip_to(m, 200, KVM_IRQCHIP_IOAPIC);
	ck_assert_uint_eq(out.chip.ioapic.redirtbl[3].bits, 0xc033 & ~0x4000);
	in = chip_to(t, 200, KVM_IRQCHIP_IOAPIC);
	ck_assert_mem_eq(&in, &out, sizeof(in));
	dm_machine_destroy(m);
	dm_machine_destroy(t);
}
END_TEST

START_TEST(ioapic_from_kvm_tracks_rtc_eois)
{
	struct dm_machine *m = make("profile=kvm vcpus=2");
	struct kvm_irqchip in = ioapic_struct();
	struct dm_error err = {""};

	/* Pin 8 to physical APIC 1, vector 0x38, which vcpu 1 has in its
	 * IRR: KVM waits for its EOI before taking the next RTC edge. */
	lapic_w(m, 0, 1, 0xf0, 0x1ff);
	m->lapics[1].irr[1] = 1u << (0x38 - 32);
	in.chip.ioapic.redirtbl[8].bits = 0x0100000000000038ull;
	ck_assert_msg(dm_kvm_irqchip_from(m, 100, &in, &err) == 0, "%s",
		      err.msg);
	ck_assert_uint_eq(m->ioapic.rtc_pending_eoi, 1);
	ck_assert_uint_eq(m->ioapic.rtc_vector, 0x38);
	dm_machine_destroy(m);
}
END_TEST

/* ---- LAPIC ------------------------------------------------------------- */

START_TEST(lapic_to_kvm_after_reset)
{
	struct dm_machine *m = make("profile=kvm vcpus=2");
	struct kvm_lapic_state s = lapic_to(m, 0, 0);

	ck_assert_uint_eq(reg(&s, 0x020), 0);
	ck_assert_uint_eq(reg(&s, 0x030), 0x00050014);
	ck_assert_uint_eq(reg(&s, 0x0e0), 0xffffffff);
	ck_assert_uint_eq(reg(&s, 0x0f0), 0xff);
	ck_assert_uint_eq(reg(&s, 0x350), 0x700); /* LINT0_REENABLED */
	for (unsigned off = 0x320; off <= 0x370; off += 0x10)
		if (off != 0x350)
			ck_assert_uint_eq(reg(&s, off), 0x10000);
	ck_assert_uint_eq(reg(&s, 0x2f0), 0); /* no CMCI with 6 LVTs */
	s = lapic_to(m, 0, 1);
	ck_assert_uint_eq(reg(&s, 0x020), 0x01000000);
	ck_assert_uint_eq(reg(&s, 0x350), 0x10000);
	dm_machine_destroy(m);
}
END_TEST

START_TEST(lapic_to_kvm_after_register_writes)
{
	struct dm_machine *m = make("profile=kvm");
	struct kvm_lapic_state s;
	uint64_t t0 = 1000;

	lapic_w(m, t0, 0, 0x0f0, 0x1ff);
	lapic_w(m, t0, 0, 0x080, 0x20);
	lapic_w(m, t0, 0, 0x0d0, 0x01000000);
	lapic_w(m, t0, 0, 0x0e0, 0x0fffffff);
	lapic_w(m, t0, 0, 0x3e0, 0xb);	   /* divide by 1 */
	lapic_w(m, t0, 0, 0x320, 0x20040); /* periodic, vector 0x40 */
	lapic_w(m, t0, 0, 0x360, 0x400);   /* LINT1 NMI */
	lapic_w(m, t0, 0, 0x310, 0x02000000);
	lapic_w(m, t0, 0, 0x380, 1000000); /* 1 ms at 1 GHz */
	dm_machine_advance(m, t0 + 250000);
	s = lapic_to(m, t0 + 250000, 0);
	ck_assert_uint_eq(reg(&s, 0x080), 0x20);
	ck_assert_uint_eq(reg(&s, 0x0a0), 0x20); /* PPR = TPR */
	ck_assert_uint_eq(reg(&s, 0x0d0), 0x01000000);
	ck_assert_uint_eq(reg(&s, 0x0e0), 0x0fffffff);
	ck_assert_uint_eq(reg(&s, 0x0f0), 0x1ff);
	ck_assert_uint_eq(reg(&s, 0x310), 0x02000000);
	ck_assert_uint_eq(reg(&s, 0x320), 0x20040);
	ck_assert_uint_eq(reg(&s, 0x360), 0x400);
	ck_assert_uint_eq(reg(&s, 0x380), 1000000);
	ck_assert_uint_eq(reg(&s, 0x3e0), 0xb);
	/* apic_get_tmcct: (expiry - now) mod period / (1 ns x 1). */
	ck_assert_uint_eq(reg(&s, 0x390), 750000);
	dm_machine_advance(m, t0 + 1250000);
	s = lapic_to(m, t0 + 1250000, 0);
	ck_assert_uint_eq(reg(&s, 0x390), 750000);
	ck_assert_uint_eq(reg(&s, 0x220), 1); /* IRR: vector 0x40 */
	/* Taken: ISR 0x40, PPR 0x40 (its class is above the TPR's). */
	ck_assert_int_eq(dm_machine_intack(m, t0 + 1250000, 0), 0x40);
	s = lapic_to(m, t0 + 1250000, 0);
	ck_assert_uint_eq(reg(&s, 0x120), 1);
	ck_assert_uint_eq(reg(&s, 0x220), 0);
	ck_assert_uint_eq(reg(&s, 0x0a0), 0x40);
	/* TSC-deadline mode clears TMICT and reads TMCCT 0. */
	lapic_w(m, t0 + 1250000, 0, 0x320, 0x40040);
	s = lapic_to(m, t0 + 1250000, 0);
	ck_assert_uint_eq(reg(&s, 0x380), 0);
	ck_assert_uint_eq(reg(&s, 0x390), 0);
	dm_machine_destroy(m);
}
END_TEST

START_TEST(lapic_to_kvm_in_x2apic_mode)
{
	struct dm_machine *m = make("profile=kvm vcpus=2");
	struct kvm_lapic_state s;

	msr_w(m, 0, 1, DM_MSR_APIC_BASE, 0xfee00c00);
	msr_w(m, 0, 1, 0x80f, 0x1ff);
	msr_w(m, 0, 1, 0x830, 0x0000000500000031ull); /* ICR: to APIC 5 */
	s = lapic_to(m, 0, 1);
	/* kvm_apic_state_fixup: x2APIC ID << 24; LDR derived; ICR split
	 * into ICR (low) and ICR2 (the 32-bit destination). */
	ck_assert_uint_eq(reg(&s, 0x020), 0x01000000);
	ck_assert_uint_eq(reg(&s, 0x0d0), 0x00000002);
	ck_assert_uint_eq(reg(&s, 0x300), 0x31);
	ck_assert_uint_eq(reg(&s, 0x310), 5);
	dm_machine_destroy(m);
}
END_TEST

static struct kvm_lapic_state lapic_struct(void)
{
	struct kvm_lapic_state s;

	memset(&s, 0, sizeof(s));
	set_reg(&s, 0x020, 0x05000000);
	set_reg(&s, 0x030, 0x00050014);
	set_reg(&s, 0x080, 0x10);
	set_reg(&s, 0x0a0, 0x50); /* PPR: the ISR class 0x50 */
	set_reg(&s, 0x0d0, 0x02000000);
	set_reg(&s, 0x0e0, 0x0fffffff);
	set_reg(&s, 0x0f0, 0x1ff);
	set_reg(&s, 0x120, 1u << (0x51 - 64)); /* ISR 0x51 */
	set_reg(&s, 0x1a0, 1u << (0x51 - 64)); /* TMR 0x51 */
	set_reg(&s, 0x230, 1u << (0x62 - 96)); /* IRR 0x62 */
	set_reg(&s, 0x300, 0x000840fe);
	set_reg(&s, 0x310, 0x03000000);
	set_reg(&s, 0x320, 0x20040); /* periodic, vector 0x40 */
	set_reg(&s, 0x330, 0x10000);
	set_reg(&s, 0x340, 0x10400);
	set_reg(&s, 0x350, 0x700);
	set_reg(&s, 0x360, 0x400);
	set_reg(&s, 0x370, 0x10000);
	set_reg(&s, 0x380, 1000000);
	set_reg(&s, 0x390, 400);
	set_reg(&s, 0x3e0, 0xb);
	return s;
}

START_TEST(lapic_from_kvm_round_trips_and_runs_the_timer)
{
	struct dm_machine *m = make("profile=kvm"), *t;
	struct kvm_lapic_state in = lapic_struct(), out;
	struct dm_error err = {""};

	ck_assert_msg(dm_kvm_lapic_from(m, 50000, 0, &in, &err) == 0, "%s",
		      err.msg);
	out = lapic_to(m, 50000, 0);
	ck_assert_mem_eq(&in, &out, sizeof(in));
	/* KVM_SET_LAPIC restarts the timer TMCCT = 400 counts away. */
	ck_assert_uint_eq(m->lapics[0].tm_target, 50400);
	ck_assert_uint_eq(m->lapics[0].tm_period, 1000000);
	t = twin(m);
	for (unsigned i = 0; i < 2; i++) {
		struct dm_machine *x = i ? t : m;

		dm_machine_advance(x, 50399);
		out = lapic_to(x, 50399, 0);
		ck_assert_uint_eq(reg(&out, 0x220), 0);
		ck_assert_uint_eq(reg(&out, 0x390), 1);
		dm_machine_advance(x, 50500);
		out = lapic_to(x, 50500, 0);
		ck_assert_uint_eq(reg(&out, 0x220), 1); /* 0x40 fired */
		ck_assert_uint_eq(reg(&out, 0x390), 999900);
	}
	in = lapic_to(t, 50500, 0);
	ck_assert_mem_eq(&in, &out, sizeof(in));
	dm_machine_destroy(m);
	dm_machine_destroy(t);
}
END_TEST

START_TEST(lapic_from_kvm_expired_one_shot_stays_quiet)
{
	struct dm_machine *m = make("profile=kvm");
	struct kvm_lapic_state in = lapic_struct(), out;
	struct dm_error err = {""};

	set_reg(&in, 0x320, 0x40); /* one-shot */
	set_reg(&in, 0x390, 0);	   /* expired */
	ck_assert_msg(dm_kvm_lapic_from(m, 50000, 0, &in, &err) == 0, "%s",
		      err.msg);
	ck_assert_uint_eq(m->lapics[0].tm_target, 0);
	dm_machine_advance(m, 10000000);
	out = lapic_to(m, 10000000, 0);
	ck_assert_uint_eq(reg(&out, 0x220), 0);
	ck_assert_uint_eq(reg(&out, 0x380), 1000000);
	ck_assert_uint_eq(reg(&out, 0x390), 0);
	dm_machine_destroy(m);
}
END_TEST

START_TEST(lapic_from_kvm_x2apic_and_tsc_deadline)
{
	struct dm_machine *m = make("profile=kvm vcpus=2");
	struct kvm_lapic_state in = lapic_struct(), out;
	struct dm_error err = {""};

	msr_w(m, 0, 1, DM_MSR_APIC_BASE, 0xfee00c00);
	set_reg(&in, 0x020, 0x01000000);
	set_reg(&in, 0x0d0, 0x00000002);
	set_reg(&in, 0x310, 0x00000105); /* 32-bit x2APIC destination */
	set_reg(&in, 0x350, 0x10700);
	set_reg(&in, 0x320, 0x40040); /* TSC-deadline */
	set_reg(&in, 0x380, 0);
	set_reg(&in, 0x390, 0);
	ck_assert_msg(dm_kvm_lapic_from(m, 100, 1, &in, &err) == 0, "%s",
		      err.msg);
	out = lapic_to(m, 100, 1);
	ck_assert_mem_eq(&in, &out, sizeof(in));
	ck_assert_uint_eq(m->lapics[1].icr_hi, 0x105);
	ck_assert_uint_eq(m->lapics[1].tsc_deadline, 0);
	/* An x2APIC ID other than the vcpu's is not KVM's. */
	set_reg(&in, 0x020, 0x02000000);
	expect_err(dm_kvm_lapic_from(m, 100, 1, &in, &err), &err,
		   "regs[0x020] (ID)");
	dm_machine_destroy(m);
}
END_TEST

START_TEST(lapic_from_kvm_with_seven_lvts)
{
	struct dm_machine *m = make("profile=kvm lapic_lvts=7");
	struct kvm_lapic_state in = lapic_struct(), out;
	struct dm_error err = {""};

	set_reg(&in, 0x030, 0x00060014);
	set_reg(&in, 0x2f0, 0x10233);
	ck_assert_msg(dm_kvm_lapic_from(m, 100, 0, &in, &err) == 0, "%s",
		      err.msg);
	out = lapic_to(m, 100, 0);
	ck_assert_mem_eq(&in, &out, sizeof(in));
	ck_assert_uint_eq(m->lapics[0].lvt[DM_LVT_CMCI], 0x10233);
	dm_machine_destroy(m);
}
END_TEST

struct lapic_bad {
	unsigned off;
	uint32_t value;
	const char *field;
};

static const struct lapic_bad lapic_bads[] = {
	{0x030, 0x00060014, "regs[0x030] (LVR)"},
	{0x020, 0x05000001, "regs[0x020] (ID)"},
	{0x080, 0x100, "regs[0x080] (TASKPRI)"},
	{0x0d0, 0x02000010, "regs[0x0d0] (LDR)"},
	{0x0e0, 0xf0000000, "regs[0x0e0] (DFR)"},
	{0x0f0, 0x11ff, "regs[0x0f0] (SPIV)"},
	{0x280, 0x40, "regs[0x280] (ESR)"},
	{0x320, 0x80040, "regs[0x320] (LVTT)"},
	{0x370, 0x10700, "regs[0x370] (LVTERR)"},
	{0x300, 0x1000, "regs[0x300] (ICR)"},
	{0x300, 0x2000, "regs[0x300] (ICR)"},
	{0x310, 0x03000001, "regs[0x310] (ICR2)"},
	{0x3e0, 0x4, "regs[0x3e0] (TDCR)"},
	{0x380, 0, "regs[0x390] (TMCCT)"},
};

START_TEST(lapic_from_kvm_refuses_impossible_values)
{
	const struct lapic_bad *b = &lapic_bads[_i];
	struct dm_machine *m = make("profile=kvm");
	struct kvm_lapic_state s = lapic_struct();
	struct dm_error err = {""};
	uint64_t before = hash_of(m, "lapic0");

	set_reg(&s, b->off, b->value);
	expect_err(dm_kvm_lapic_from(m, 100, 0, &s, &err), &err, b->field);
	ck_assert_ptr_nonnull(strstr(err.msg, "vcpu 0"));
	ck_assert_uint_eq(hash_of(m, "lapic0"), before);
	dm_machine_destroy(m);
}
END_TEST

START_TEST(lapic_from_kvm_refuses_unmasked_lvt_while_disabled)
{
	struct dm_machine *m = make("profile=kvm vcpus=2");
	struct kvm_lapic_state s = lapic_struct();
	struct dm_error err = {""};

	set_reg(&s, 0x020, 0x01000000);
	set_reg(&s, 0x0f0, 0xff);
	expect_err(dm_kvm_lapic_from(m, 100, 1, &s, &err), &err,
		   "regs[0x320] (LVTT)");
	expect_err(dm_kvm_lapic_from(m, 100, 2, &s, &err), &err,
		   "vcpu 2 does not exist");
	dm_machine_destroy(m);
}
END_TEST

/* ---- dumps ------------------------------------------------------------- */

static void program(struct dm_machine *m)
{
	struct dm_error err = {""};

	outb(m, 0, 0x43, 0x34);
	outb(m, 0, 0x40, 0x9c);
	outb(m, 0, 0x40, 0x2e);
	outb(m, 100, 0x43, 0xb0);
	outb(m, 100, 0x42, 0x01);
	pc_pic_init(m, 200);
	outb(m, 200, 0x21, 0xfb);
	ioapic_w(m, 300, 0x12, 0x8031);
	ioapic_w(m, 300, 0x13, 0x01000000);
	lapic_w(m, 400, 0, 0x0f0, 0x1ff);
	lapic_w(m, 400, 0, 0x320, 0x20040);
	lapic_w(m, 400, 0, 0x380, 5000);
	lapic_w(m, 400, 1, 0x0f0, 0x1ff);
	lapic_w(m, 400, 1, 0x080, 0x30);
	ck_assert_int_eq(dm_machine_set_gsi(m, 500, 1, 1, &err), 0);
	dm_machine_advance(m, 7777);
}

static void dump_eq(const struct dm_kvm_dump *a, const struct dm_kvm_dump *b)
{
	ck_assert_uint_eq(a->now_ns, b->now_ns);
	ck_assert_int_eq(a->host_offset_ns, b->host_offset_ns);
	ck_assert_mem_eq(&a->pit, &b->pit, sizeof(a->pit));
	for (unsigned i = 0; i < DM_KVM_DUMP_CHIPS; i++)
		ck_assert_mem_eq(&a->chip[i], &b->chip[i], sizeof(a->chip[i]));
	ck_assert_uint_eq(a->vcpus, b->vcpus);
	for (unsigned i = 0; i < a->vcpus; i++) {
		ck_assert_uint_eq(a->vcpu[i].apic_base, b->vcpu[i].apic_base);
		ck_assert_mem_eq(&a->vcpu[i].lapic, &b->vcpu[i].lapic,
				 sizeof(a->vcpu[i].lapic));
	}
}

static char *tmp_path(void)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/dmsim-kvmdump-XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	return path;
}

START_TEST(dump_round_trips_through_a_file)
{
	struct dm_machine *m = make("profile=kvm vcpus=2"), *l;
	struct dm_kvm_dump a, b;
	struct dm_error err = {""};
	bool present[DM_MAX_DEVICES];
	const char *path = tmp_path();
	uint8_t head[8] = {0};
	FILE *f;

	program(m);
	msr_w(m, 7777, 1, DM_MSR_APIC_BASE, 0xfee00c00);
	ck_assert_msg(dm_kvm_dump_capture(m, 7777, OFF, &a, &err) == 0, "%s",
		      err.msg);
	ck_assert_msg(dm_kvm_dump_write(path, &a, &err) == 0, "%s", err.msg);
	f = fopen(path, "rb");
	ck_assert_uint_eq(fread(head, 1, sizeof(head), f), sizeof(head));
	fclose(f);
	ck_assert(dm_kvm_dump_sniff(head, sizeof(head)));
	ck_assert(!dm_kvm_dump_sniff("DMCK", 4));
	ck_assert_msg(dm_kvm_dump_load(path, &l, present, &err) == 0, "%s",
		      err.msg);
	ck_assert_uint_eq(l->cfg.vcpus, 2);
	ck_assert_uint_eq(l->clock.now, 7777);
	ck_assert(!present[0]); /* the machine's own state */
	for (unsigned i = 0; i < l->ndevices; i++) {
		const char *n = l->devices[i].name;
		bool covered = !strcmp(n, "pit") || !strcmp(n, "pic") ||
			       !strcmp(n, "ioapic") || !strncmp(n, "lapic", 5);

		ck_assert_msg(present[i] == covered, "%s", n);
	}
	ck_assert_msg(dm_kvm_dump_capture(l, 7777, OFF, &b, &err) == 0, "%s",
		      err.msg);
	dump_eq(&a, &b);
	/* The loaded machine runs on: its LAPIC timer (clamped to 200 us)
	 * fires as the original's does. */
	dm_machine_advance(m, 300000);
	dm_machine_advance(l, 300000);
	ck_assert_uint_eq(m->lapics[0].irr[2], 1);
	ck_assert_uint_eq(l->lapics[0].irr[2], 1);
	dm_kvm_dump_free(&a);
	dm_kvm_dump_free(&b);
	dm_machine_destroy(m);
	dm_machine_destroy(l);
	unlink(path);
}
END_TEST

START_TEST(dump_carries_config_and_hpet_legacy)
{
	struct dm_machine *m = make("profile=kvm lapic_lvts=7"), *l;
	struct dm_kvm_dump a, b;
	struct dm_error err = {""};
	bool present[DM_MAX_DEVICES];
	const char *path = tmp_path();

	lapic_w(m, 0, 0, 0x2f0, 0x10233);
	mmio_w(m, 0, 0, DM_HPET_BASE + 0x10, 2); /* LEG_RT_CNF */
	ck_assert(m->ms.hpet_legacy);
	ck_assert_msg(dm_kvm_dump_capture(m, 0, OFF, &a, &err) == 0, "%s",
		      err.msg);
	ck_assert_uint_eq(a.pit.flags, KVM_PIT_FLAGS_HPET_LEGACY);
	ck_assert_msg(dm_kvm_dump_write(path, &a, &err) == 0, "%s", err.msg);
	ck_assert_msg(dm_kvm_dump_load(path, &l, present, &err) == 0, "%s",
		      err.msg);
	ck_assert_uint_eq(l->cfg.lapic_lvts, 7);
	ck_assert(l->ms.hpet_legacy);
	ck_assert_msg(dm_kvm_dump_capture(l, 0, OFF, &b, &err) == 0, "%s",
		      err.msg);
	dump_eq(&a, &b);
	dm_kvm_dump_free(&a);
	dm_kvm_dump_free(&b);
	dm_machine_destroy(m);
	dm_machine_destroy(l);
	unlink(path);
}
END_TEST

START_TEST(dump_without_devices_leaves_them_at_power_on)
{
	struct dm_machine *m = make("profile=kvm vcpus=2"), *l;
	struct dm_kvm_dump a;
	struct dm_error err = {""};
	bool present[DM_MAX_DEVICES];

	program(m);
	ck_assert_msg(dm_kvm_dump_capture(m, 7777, OFF, &a, &err) == 0, "%s",
		      err.msg);
	a.has_pit = false;
	a.has_chip[KVM_IRQCHIP_IOAPIC] = false;
	a.vcpu[1].present = false;
	ck_assert_msg(dm_kvm_dump_apply(&a, &l, present, &err) == 0, "%s",
		      err.msg);
	ck_assert(!present[1]); /* pit */
	ck_assert(present[2]);	/* pic */
	ck_assert(!present[3]); /* ioapic */
	ck_assert(present[8]);	/* lapic0 */
	ck_assert(!present[9]); /* lapic1 */
	ck_assert_uint_eq(l->pit.ch[0].mode, 0xff);
	ck_assert_uint_eq(l->ioapic.rte[2], 0x10000);
	ck_assert_uint_eq(l->lapics[1].tpr, 0);
	ck_assert_uint_eq(l->pic.chip[0].imr, 0xfb);
	/* One 8259 of the pair is not a dmsim device. */
	a.has_chip[KVM_IRQCHIP_PIC_SLAVE] = false;
	expect_err(dm_kvm_dump_apply(&a, &l, present, &err), &err, "8259");
	dm_kvm_dump_free(&a);
	dm_machine_destroy(m);
	dm_machine_destroy(l);
}
END_TEST

static void spoil_file(const char *path, long at, uint8_t xor, long cut,
		       bool fix_sum)
{
	FILE *f = fopen(path, "rb+");
	uint8_t *buf;
	long n;

	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	buf = malloc((size_t)n);
	fseek(f, 0, SEEK_SET);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[at] ^= xor;
	if (fix_sum) {
		uint64_t h = XXH3_64bits(buf, (size_t)n - 8);

		memcpy(buf + n - 8, &h, 8);
	}
	fclose(f);
	f = fopen(path, "wb");
	ck_assert_uint_eq(fwrite(buf, 1, (size_t)(n - cut), f),
			  (size_t)(n - cut));
	fclose(f);
	free(buf);
}

START_TEST(dump_files_are_checked)
{
	struct dm_machine *m = make("profile=kvm"), *l = NULL;
	struct dm_kvm_dump a;
	struct dm_error err = {""};
	bool present[DM_MAX_DEVICES];
	const char *path = tmp_path();

	ck_assert_msg(dm_kvm_dump_capture(m, 0, OFF, &a, &err) == 0, "%s",
		      err.msg);
	ck_assert_msg(dm_kvm_dump_write(path, &a, &err) == 0, "%s", err.msg);
	spoil_file(path, 100, 0x01, 0, false);
	expect_err(dm_kvm_dump_load(path, &l, present, &err), &err,
		   "checksum mismatch");
	ck_assert_msg(dm_kvm_dump_write(path, &a, &err) == 0, "%s", err.msg);
	spoil_file(path, 0, 0, 5, false);
	expect_err(dm_kvm_dump_load(path, &l, present, &err), &err, "bytes");
	ck_assert_msg(dm_kvm_dump_write(path, &a, &err) == 0, "%s", err.msg);
	spoil_file(path, 0, 0x20, 0, false);
	expect_err(dm_kvm_dump_load(path, &l, present, &err), &err,
		   "not a KVM state dump");
	ck_assert_msg(dm_kvm_dump_write(path, &a, &err) == 0, "%s", err.msg);
	spoil_file(path, 6, 0x02, 0, true);
	expect_err(dm_kvm_dump_load(path, &l, present, &err), &err,
		   "byte 6: version 3");
	ck_assert_msg(dm_kvm_dump_write(path, &a, &err) == 0, "%s", err.msg);
	spoil_file(path, 8, 0x04, 0, true); /* drop the slave 8259 */
	expect_err(dm_kvm_dump_load(path, &l, present, &err), &err, "8259");
	ck_assert_ptr_null(l);
	/* A struct inside a sound file is checked like any other. */
	a.pit.channels[1].mode = 8;
	ck_assert_msg(dm_kvm_dump_write(path, &a, &err) == 0, "%s", err.msg);
	expect_err(dm_kvm_dump_load(path, &l, present, &err), &err,
		   "channels[1].mode");
	ck_assert_ptr_nonnull(strstr(err.msg, path));
	expect_err(dm_kvm_dump_load("/nonexistent/dump", &l, present, &err),
		   &err, "/nonexistent/dump");
	dm_kvm_dump_free(&a);
	dm_machine_destroy(m);
	unlink(path);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kvmstate");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, only_kvm_profile_converts);
	tcase_add_test(tc, to_kvm_needs_an_advanced_machine);
	tcase_add_test(tc, pit_to_kvm_after_reset);
	tcase_add_test(tc, pit_to_kvm_after_port_writes);
	tcase_add_test(tc, pit_mode_6_reads_back_de_aliased);
	tcase_add_test(tc, pit_from_kvm_round_trips);
	tcase_add_test(tc, pit_from_kvm_continues_mid_sequence);
	tcase_add_test(tc, pit_from_kvm_drives_irq0);
	tcase_add_loop_test(tc, pit_from_kvm_refuses_impossible_values, 0,
			    sizeof(pit_bads) / sizeof(pit_bads[0]));
	tcase_add_test(tc, pic_to_kvm_after_init_sequence);
	tcase_add_test(tc, pic_to_kvm_commands_and_interrupts);
	tcase_add_test(tc, pic_from_kvm_round_trips_and_raises_int);
	tcase_add_test(tc, pic_from_kvm_continues_mid_init);
	tcase_add_loop_test(tc, irqchip_from_kvm_refuses_impossible_values, 0,
			    sizeof(chip_bads) / sizeof(chip_bads[0]));
	tcase_add_test(tc, ioapic_to_kvm);
	tcase_add_test(tc, ioapic_from_kvm_round_trips_and_eois);
	tcase_add_test(tc, ioapic_from_kvm_tracks_rtc_eois);
	tcase_add_test(tc, lapic_to_kvm_after_reset);
	tcase_add_test(tc, lapic_to_kvm_after_register_writes);
	tcase_add_test(tc, lapic_to_kvm_in_x2apic_mode);
	tcase_add_test(tc, lapic_from_kvm_round_trips_and_runs_the_timer);
	tcase_add_test(tc, lapic_from_kvm_expired_one_shot_stays_quiet);
	tcase_add_test(tc, lapic_from_kvm_x2apic_and_tsc_deadline);
	tcase_add_test(tc, lapic_from_kvm_with_seven_lvts);
	tcase_add_loop_test(tc, lapic_from_kvm_refuses_impossible_values, 0,
			    sizeof(lapic_bads) / sizeof(lapic_bads[0]));
	tcase_add_test(tc, lapic_from_kvm_refuses_unmasked_lvt_while_disabled);
	tcase_add_test(tc, dump_round_trips_through_a_file);
	tcase_add_test(tc, dump_carries_config_and_hpet_legacy);
	tcase_add_test(tc, dump_without_devices_leaves_them_at_power_on);
	tcase_add_test(tc, dump_files_are_checked);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return dm_test_main(suite());
}
