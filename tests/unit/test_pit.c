// SPDX-License-Identifier: MIT
/*
 * 8254 PIT against the 82C54 datasheet (datasheet flavour) and against
 * KVM's and QEMU's i8254.c arithmetic (kvm and qemu flavours).
 *
 * Datasheet tests run the PIT at 1 MHz, so CLK edge k falls at exactly
 * k * 1000 ns and expected counts can be read off the datasheet's timing
 * diagrams by hand.  Every test that crosses a multi-step sequence moves
 * the PIT through a checkpoint (encode, destroy, load into a fresh PIT) at
 * each step and then checks that behaviour continues unchanged.
 */
#include <stdlib.h>
#include <string.h>

#include "models/pit.h"
#include "sim/machine.h"
#include "testutil.h"

#define US 1000ULL

/* A PIT on its own event queue, with OUT0 recorded. */
struct fx {
	struct dm_eventq q;
	struct dm_pit pit;
	struct dm_config cfg;
	struct dm_test_line out0;
};

static struct fx *fx_new(const char *opts)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct dm_irq_line line;

	ck_assert_ptr_nonnull(f);
	line = dm_test_line_wire(&f->out0);
	dm_test_config(&f->cfg, opts);
	dm_eventq_init(&f->q);
	dm_pit_init(&f->pit, &f->cfg, &f->q, &line);
	return f;
}

static void fx_free(struct fx *f)
{
	dm_eventq_destroy(&f->q);
	free(f);
}

/* Checkpoint round trip: the PIT continues as a fresh object. */
static struct fx *migrate(struct fx *f)
{
	char opts[1024];
	struct fx *g;

	dm_config_format(&f->cfg, opts, sizeof(opts));
	g = fx_new(opts);
	dm_test_roundtrip(&dm_pit_state_desc, &f->pit, &g->pit);
	g->out0 = f->out0;
	fx_free(f);
	return g;
}

static void at(struct fx *f, uint64_t now)
{
	dm_eventq_run_until(&f->q, now);
}

static void out8(struct fx *f, uint64_t now, unsigned port, uint8_t v)
{
	at(f, now);
	if (port == 0x61)
		dm_pit_port61_write(&f->pit, now, 0, 1, v);
	else
		dm_pit_write(&f->pit, now, port - 0x40, 1, v);
}

static uint8_t in8(struct fx *f, uint64_t now, unsigned port)
{
	at(f, now);
	if (port == 0x61)
		return (uint8_t)dm_pit_port61_read(&f->pit, now, 0, 1);
	return (uint8_t)dm_pit_read(&f->pit, now, port - 0x40, 1);
}

/* Latches counter c and reads the 16-bit latched value. */
static uint16_t latch16(struct fx *f, uint64_t now, unsigned c)
{
	uint16_t lo;

	out8(f, now, 0x43, (uint8_t)(c << 6));
	lo = in8(f, now, 0x40 + c);
	return (uint16_t)(lo | in8(f, now, 0x40 + c) << 8);
}

static uint8_t status(struct fx *f, uint64_t now, unsigned c)
{
	out8(f, now, 0x43, (uint8_t)(0xE0 | 2u << c));
	return in8(f, now, 0x40 + c);
}

static void load16(struct fx *f, uint64_t now, unsigned c, uint16_t v)
{
	out8(f, now, 0x40 + c, (uint8_t)v);
	out8(f, now, 0x40 + c, (uint8_t)(v >> 8));
}

#define DS "pit_hz=1000000"

/* ---- datasheet: mode 0 ------------------------------------------------ */

START_TEST(ds_mode0_counts_and_out_rises_n_plus_1_clks_after_write)
{
	struct fx *f = fx_new(DS);

	out8(f, 500, 0x43, 0x30); /* ch0, LSB/MSB, mode 0, binary */
	ck_assert_int_eq(f->out0.level, 0);
	out8(f, 1500, 0x40, 5);
	f = migrate(f);		/* between LSB and MSB of the count */
	out8(f, 2500, 0x40, 0); /* write complete at edge 2 */
	f = migrate(f);
	/* NULL COUNT until the load on edge 3. */
	ck_assert_uint_eq(status(f, 2900, 0) & 0x40, 0x40);
	ck_assert_uint_eq(latch16(f, 3000, 0), 5);
	ck_assert_uint_eq(status(f, 3000, 0), 0x30);
	ck_assert_uint_eq(latch16(f, 7999, 0), 1);
	at(f, 7999);
	ck_assert_int_eq(f->out0.level, 0);
	at(f, 8000); /* edge 8: CE = 0, N + 1 = 6 CLKs after the write */
	ck_assert_int_eq(f->out0.level, 1);
	ck_assert_uint_eq(f->out0.last_rise, 8000);
	ck_assert_uint_eq(latch16(f, 8000, 0), 0);
	/* The CE wraps to 0xFFFF and keeps counting; OUT stays high. */
	ck_assert_uint_eq(latch16(f, 9000, 0), 0xFFFF);
	ck_assert_uint_eq(status(f, 9000, 0) & 0x80, 0x80);
	fx_free(f);
}
END_TEST

START_TEST(ds_mode0_first_byte_stops_counting)
{
	struct fx *f = fx_new(DS);

	out8(f, 500, 0x43, 0x30);
	load16(f, 500, 0, 100); /* load at edge 1 */
	ck_assert_uint_eq(latch16(f, 11000, 0), 90);
	out8(f, 11500, 0x40, 50); /* first byte: CE stops, OUT low */
	f = migrate(f);
	ck_assert_uint_eq(latch16(f, 20000, 0), 90);
	out8(f, 20500, 0x40, 0); /* count 50 loads at edge 21 */
	ck_assert_uint_eq(latch16(f, 20900, 0), 90);
	ck_assert_uint_eq(latch16(f, 21000, 0), 50);
	at(f, 70999);
	ck_assert_int_eq(f->out0.level, 0);
	at(f, 71000);
	ck_assert_int_eq(f->out0.level, 1);
	fx_free(f);
}
END_TEST

START_TEST(ds_mode0_new_count_drives_out_low)
{
	struct fx *f = fx_new(DS);

	out8(f, 500, 0x43, 0x10); /* LSB only, mode 0 */
	out8(f, 500, 0x40, 2);	  /* load at edge 1, OUT high at 3 */
	at(f, 3000);
	ck_assert_int_eq(f->out0.level, 1);
	out8(f, 4500, 0x40, 3); /* OUT low at once; load at 5; high at 8 */
	ck_assert_int_eq(f->out0.level, 0);
	at(f, 7999);
	ck_assert_int_eq(f->out0.level, 0);
	at(f, 8000);
	ck_assert_int_eq(f->out0.level, 1);
	ck_assert_uint_eq(f->out0.rises, 2);
	fx_free(f);
}
END_TEST

START_TEST(ds_gate_pauses_mode0_and_mode4)
{
	struct fx *f = fx_new(DS);

	out8(f, 500, 0x43, 0xB0); /* ch2, LSB/MSB, mode 0 */
	load16(f, 500, 2, 10);	  /* GATE2 is low after reset */
	/* Loaded on edge 1 even with the gate low, but not counting. */
	ck_assert_uint_eq(latch16(f, 5000, 2), 10);
	out8(f, 5500, 0x61, 0x01); /* gate high: counting from edge 6 */
	f = migrate(f);
	ck_assert_uint_eq(latch16(f, 8000, 2), 7);
	out8(f, 8500, 0x61, 0x00);
	ck_assert_uint_eq(latch16(f, 12000, 2), 7);
	out8(f, 12500, 0x61, 0x01);
	ck_assert_uint_eq(latch16(f, 19000, 2), 0);
	/* OUT2 on port 0x61 bit 5. */
	ck_assert_uint_eq(in8(f, 18999, 0x61) & 0x20, 0);
	ck_assert_uint_eq(in8(f, 19000, 0x61) & 0x20, 0x20);

	out8(f, 20500, 0x43, 0xB8); /* mode 4 */
	load16(f, 20500, 2, 3);	    /* load 21, strobe at edge 24 */
	out8(f, 22500, 0x61, 0x00);
	out8(f, 30500, 0x61, 0x01); /* paused 8 edges */
	ck_assert_uint_eq(in8(f, 31999, 0x61) & 0x20, 0x20);
	ck_assert_uint_eq(in8(f, 32000, 0x61) & 0x20, 0);
	ck_assert_uint_eq(in8(f, 33000, 0x61) & 0x20, 0x20);
	fx_free(f);
}
END_TEST

/* ---- datasheet: modes 1 and 5 ----------------------------------------- */

START_TEST(ds_mode1_waits_for_trigger_and_retriggers)
{
	struct fx *f = fx_new(DS);

	out8(f, 500, 0x43, 0xB2); /* ch2, mode 1 */
	load16(f, 500, 2, 3);
	ck_assert_uint_eq(in8(f, 5000, 0x61) & 0x20, 0x20);
	ck_assert_uint_eq(status(f, 5000, 2) & 0x40, 0x40); /* NULL COUNT */
	out8(f, 5500, 0x61, 0x01); /* trigger: load at 6, OUT low */
	f = migrate(f);
	ck_assert_uint_eq(in8(f, 5999, 0x61) & 0x20, 0x20);
	ck_assert_uint_eq(in8(f, 6000, 0x61) & 0x20, 0);
	ck_assert_uint_eq(status(f, 6000, 2) & 0x40, 0);
	ck_assert_uint_eq(in8(f, 8999, 0x61) & 0x20, 0);
	ck_assert_uint_eq(in8(f, 9000, 0x61) & 0x20, 0x20);
	/* Retrigger mid-pulse restarts the full count. */
	out8(f, 10500, 0x61, 0x00);
	out8(f, 10600, 0x61, 0x01); /* load at 11, high at 14 */
	out8(f, 12500, 0x61, 0x00);
	out8(f, 12600, 0x61, 0x01); /* retrigger: load at 13, high at 16 */
	ck_assert_uint_eq(in8(f, 15999, 0x61) & 0x20, 0);
	ck_assert_uint_eq(in8(f, 16000, 0x61) & 0x20, 0x20);
	fx_free(f);
}
END_TEST

START_TEST(ds_mode5_strobe_after_trigger)
{
	struct fx *f = fx_new(DS);

	out8(f, 500, 0x43, 0xBA); /* ch2, mode 5 */
	load16(f, 500, 2, 4);
	out8(f, 2500, 0x61, 0x01); /* trigger at edge 2: load 3 */
	/* Low for one CLK at N + 1 CLKs after the trigger: edge 7. */
	ck_assert_uint_eq(in8(f, 6999, 0x61) & 0x20, 0x20);
	ck_assert_uint_eq(in8(f, 7000, 0x61) & 0x20, 0);
	ck_assert_uint_eq(in8(f, 8000, 0x61) & 0x20, 0x20);
	fx_free(f);
}
END_TEST

/* ---- datasheet: modes 2 and 3 ----------------------------------------- */

START_TEST(ds_mode2_rate_generator)
{
	struct fx *f = fx_new(DS);

	out8(f, 500, 0x43, 0x34); /* ch0, mode 2 */
	load16(f, 500, 0, 4);	  /* load at 1 */
	ck_assert_uint_eq(latch16(f, 1000, 0), 4);
	ck_assert_uint_eq(latch16(f, 3000, 0), 2);
	at(f, 3999);
	ck_assert_int_eq(f->out0.level, 1);
	ck_assert_uint_eq(latch16(f, 4000, 0), 1);
	ck_assert_int_eq(f->out0.level, 0); /* CE = 1: OUT low for one CLK */
	at(f, 5000);			    /* reload: OUT high, period 4 */
	ck_assert_int_eq(f->out0.level, 1);
	ck_assert_uint_eq(latch16(f, 5000, 0), 4);
	f = migrate(f);
	at(f, 41000);
	/* The control word raised OUT once, then edges 5, 9, ..., 41. */
	ck_assert_uint_eq(f->out0.rises, 11);
	ck_assert_uint_eq(f->out0.last_rise, 41000);
	/* A new count takes effect at the end of the current period. */
	load16(f, 42500, 0, 10); /* period ends at edge 45 */
	f = migrate(f);
	ck_assert_uint_eq(latch16(f, 44000, 0), 1);
	ck_assert_uint_eq(latch16(f, 45000, 0), 10);
	at(f, 55000);
	ck_assert_uint_eq(f->out0.last_rise, 55000);
	fx_free(f);
}
END_TEST

START_TEST(ds_mode2_gate_forces_out_high_and_retriggers)
{
	struct fx *f = fx_new(DS);

	out8(f, 500, 0x43, 0xB4); /* ch2, mode 2 */
	out8(f, 600, 0x61, 0x01);
	load16(f, 700, 2, 3); /* load 1: low at edge 3 */
	ck_assert_uint_eq(in8(f, 3000, 0x61) & 0x20, 0);
	out8(f, 3500, 0x61, 0x00); /* gate low: OUT high at once */
	ck_assert_uint_eq(in8(f, 3500, 0x61) & 0x20, 0x20);
	ck_assert_uint_eq(latch16(f, 6000, 2), 1); /* held */
	out8(f, 6500, 0x61, 0x01);		   /* trigger: reload at 7 */
	f = migrate(f);
	ck_assert_uint_eq(latch16(f, 7000, 2), 3);
	ck_assert_uint_eq(in8(f, 8999, 0x61) & 0x20, 0x20);
	ck_assert_uint_eq(in8(f, 9000, 0x61) & 0x20, 0);
	fx_free(f);
}
END_TEST

START_TEST(ds_mode3_even_and_odd_counts)
{
	struct fx *f = fx_new(DS);
	static const uint16_t even[] = {6, 4, 2, 6, 4, 2, 6};
	static const uint16_t odd[] = {4, 2, 0, 4, 2, 4, 2, 0};

	out8(f, 500, 0x43, 0x36); /* ch0, mode 3 */
	load16(f, 500, 0, 6);	  /* load at 1 */
	for (unsigned i = 0; i < 7; i++) {
		ck_assert_uint_eq(latch16(f, (1 + i) * US, 0), even[i]);
		/* High for 3 CLKs (edges 1-3), low for 3 (4-6). */
		ck_assert_int_eq(f->out0.level, i < 3 || i == 6);
	}

	/* Odd 5: (N+1)/2 = 3 high, (N-1)/2 = 2 low; N-1 counted by 2. */
	out8(f, 10500, 0x43, 0x36);
	load16(f, 10500, 0, 5); /* load at 11 */
	for (unsigned i = 0; i < 8; i++) {
		ck_assert_uint_eq(latch16(f, (11 + i) * US, 0), odd[i]);
		/* High on edges 11-13, low on 14-15, high from 16. */
		ck_assert_int_eq(f->out0.level, i < 3 || i >= 5);
		f = migrate(f);
	}
	fx_free(f);
}
END_TEST

START_TEST(ds_mode3_new_count_at_half_cycle)
{
	struct fx *f = fx_new(DS);

	out8(f, 500, 0x43, 0x36);
	load16(f, 500, 0, 8);  /* load 1; low at 5; high at 9 */
	load16(f, 2500, 0, 4); /* high half ends at edge 5 */
	ck_assert_uint_eq(status(f, 2500, 0) & 0x40, 0x40);
	ck_assert_uint_eq(latch16(f, 4000, 0), 2);
	at(f, 5000);
	ck_assert_int_eq(f->out0.level, 0);
	/* The new count starts in the low half: 2 CLKs low, 2 high. */
	ck_assert_uint_eq(latch16(f, 5000, 0), 4);
	ck_assert_uint_eq(status(f, 5000, 0) & 0x40, 0);
	at(f, 7000);
	ck_assert_int_eq(f->out0.level, 1);
	at(f, 9000);
	ck_assert_int_eq(f->out0.level, 0);
	fx_free(f);
}
END_TEST

START_TEST(ds_mode6_and_7_alias_2_and_3)
{
	struct fx *f = fx_new(DS);

	out8(f, 500, 0x43, 0x3C); /* mode 110 */
	ck_assert_uint_eq(status(f, 500, 0) & 0x3F, 0x3C);
	load16(f, 500, 0, 4);
	at(f, 4000);
	ck_assert_int_eq(f->out0.level, 0); /* mode 2 pulse */
	out8(f, 10500, 0x43, 0x3E);	    /* mode 111 */
	ck_assert_uint_eq(status(f, 10500, 0) & 0x3F, 0x3E);
	load16(f, 10500, 0, 4); /* square wave from edge 11 */
	at(f, 13000);
	ck_assert_int_eq(f->out0.level, 0);
	at(f, 15000);
	ck_assert_int_eq(f->out0.level, 1);
	fx_free(f);
}
END_TEST

START_TEST(ds_mode4_software_strobe)
{
	struct fx *f = fx_new(DS);

	out8(f, 500, 0x43, 0x38); /* mode 4: OUT high after the CW */
	ck_assert_int_eq(f->out0.level, 1);
	load16(f, 500, 0, 3); /* load at 1; strobe at edge 4 */
	at(f, 3999);
	ck_assert_int_eq(f->out0.falls, 0);
	at(f, 4000);
	ck_assert_int_eq(f->out0.level, 0);
	at(f, 5000);
	ck_assert_int_eq(f->out0.level, 1);
	at(f, 100000); /* after the wrap no second strobe */
	ck_assert_uint_eq(f->out0.falls, 1);
	fx_free(f);
}
END_TEST

/* ---- datasheet: counts, BCD, bytes ------------------------------------ */

START_TEST(ds_bcd_counting_and_zero_count)
{
	struct fx *f = fx_new(DS);

	out8(f, 500, 0x43, 0x31); /* mode 0, BCD */
	load16(f, 500, 0, 0x0012);
	ck_assert_uint_eq(latch16(f, 1000, 0), 0x0012);
	ck_assert_uint_eq(latch16(f, 4000, 0), 0x0009);
	ck_assert_uint_eq(latch16(f, 13000, 0), 0x0000);
	ck_assert_uint_eq(latch16(f, 14000, 0), 0x9999); /* BCD wrap */
	f = migrate(f);
	/* A count of 0 in BCD is 10000: the mode 2 period. */
	out8(f, 20500, 0x43, 0x35);
	load16(f, 20500, 0, 0);
	ck_assert_uint_eq(latch16(f, 21000, 0), 0x0000);
	ck_assert_uint_eq(latch16(f, 22000, 0), 0x9999);
	at(f, 21000 + 10000 * US);
	ck_assert_uint_eq(f->out0.last_rise, 21000 + 10000 * US);
	/* Binary 0 is 65536. */
	out8(f, 21000 + 10000 * US + 500, 0x43, 0x34);
	load16(f, 21000 + 10000 * US + 500, 0, 0);
	ck_assert_uint_eq(latch16(f, 21000 + 10002 * US, 0), 0xFFFF);
	fx_free(f);
}
END_TEST

START_TEST(ds_lsb_only_and_msb_only)
{
	struct fx *f = fx_new(DS);

	out8(f, 500, 0x43, 0x10); /* LSB only, mode 0 */
	out8(f, 500, 0x40, 0x80);
	ck_assert_uint_eq(in8(f, 1000, 0x40), 0x80);
	ck_assert_uint_eq(in8(f, 2000, 0x40), 0x7F);
	out8(f, 2500, 0x43, 0x20); /* MSB only: LSB = 0 */
	out8(f, 2500, 0x40, 0x02);
	ck_assert_uint_eq(in8(f, 3000, 0x40), 0x02);
	out8(f, 3500, 0x43, 0x00); /* latch 0x0200: one byte, the MSB */
	ck_assert_uint_eq(in8(f, 9000, 0x40), 0x02);
	ck_assert_uint_eq(in8(f, 9000, 0x40), 0x01); /* live again: 0x01FA */
	fx_free(f);
}
END_TEST

START_TEST(ds_read_and_write_flipflops_are_independent)
{
	struct fx *f = fx_new(DS);

	out8(f, 500, 0x43, 0x30);
	load16(f, 500, 0, 0x1234); /* load 1 */
	/* Read LSB, write LSB, read MSB, write MSB ([HW] allows it). */
	ck_assert_uint_eq(in8(f, 1000, 0x40), 0x34);
	out8(f, 1500, 0x40, 0x00); /* mode 0 first byte: CE stops */
	f = migrate(f);
	ck_assert_uint_eq(in8(f, 5000, 0x40), 0x12);
	out8(f, 5500, 0x40, 0x01); /* count 0x0100 loads at 6 */
	ck_assert_uint_eq(latch16(f, 6000, 0), 0x0100);
	fx_free(f);
}
END_TEST

START_TEST(ds_unlatched_read_tears_across_a_borrow)
{
	struct fx *f = fx_new(DS);

	out8(f, 500, 0x43, 0x30);
	load16(f, 500, 0, 0x0101); /* load at 1: CE 0x0100 at edge 2 */
	ck_assert_uint_eq(in8(f, 2000, 0x40), 0x00); /* LSB of 0x0100 */
	f = migrate(f);				     /* mid 2-byte read */
	ck_assert_uint_eq(in8(f, 3000, 0x40), 0x00); /* MSB of 0x00FF */
	ck_assert_uint_eq(in8(f, 3000, 0x40), 0xFF); /* next LSB */
	fx_free(f);
}
END_TEST

START_TEST(ds_latch_holds_and_second_latch_ignored)
{
	struct fx *f = fx_new(DS);

	out8(f, 500, 0x43, 0x34);
	load16(f, 500, 0, 1000);
	out8(f, 10500, 0x43, 0x00); /* latch 991 (edge 10, 9 counted) */
	f = migrate(f);		    /* between the latch and its read */
	out8(f, 20500, 0x43, 0x00); /* ignored: latch not read */
	ck_assert_uint_eq(in8(f, 30000, 0x40), 991 & 0xff);
	f = migrate(f); /* between the two bytes of the latch */
	ck_assert_uint_eq(in8(f, 40000, 0x40), 991 >> 8);
	/* The latch is released: reads follow the CE again. */
	ck_assert_uint_eq(latch16(f, 50000, 0), 1000 - 49);
	fx_free(f);
}
END_TEST

START_TEST(ds_control_word_discards_latches)
{
	struct fx *f = fx_new(DS);

	out8(f, 500, 0x43, 0x34);
	load16(f, 500, 0, 1000);
	out8(f, 10500, 0x43, 0xC2); /* read-back: count and status of 0 */
	out8(f, 11500, 0x43, 0x34); /* reprogrammed: latches dropped */
	load16(f, 11500, 0, 500);   /* loads at 12 */
	ck_assert_uint_eq(in8(f, 12000, 0x40), 500 & 0xff);
	fx_free(f);
}
END_TEST

START_TEST(ds_read_back_status_first_and_per_counter)
{
	struct fx *f = fx_new(DS);
	uint8_t st;

	out8(f, 500, 0x43, 0x34); /* ch0 mode 2 */
	load16(f, 500, 0, 100);
	out8(f, 500, 0x43, 0x72); /* ch1 LSB/MSB mode 1 */
	load16(f, 500, 1, 0x4321);
	/* Count first, then status; status still reads first. */
	out8(f, 5500, 0x43, 0xD2); /* latch count of ch0 */
	out8(f, 6500, 0x43, 0xE2); /* latch status of ch0 */
	f = migrate(f);		   /* status and count both latched */
	st = in8(f, 7000, 0x40);
	ck_assert_uint_eq(st, 0x80 | 0x34);	   /* OUT high, count loaded */
	ck_assert_uint_eq(in8(f, 7000, 0x40), 96); /* latched at edge 5 */
	ck_assert_uint_eq(in8(f, 7000, 0x40), 0);
	/* Status of 1, then status of 2 and 1: only 2 is latched anew. */
	out8(f, 8500, 0x43, 0xE4);
	out8(f, 8500, 0x43, 0xEC);
	/* Ch1 is mode 1 with no trigger (GATE1 high, no rising edge). */
	ck_assert_uint_eq(in8(f, 9000, 0x41), 0x80 | 0x40 | 0x32);
	ck_assert_uint_eq(in8(f, 9000, 0x41), 0x00);	    /* live CE (held) */
	ck_assert_uint_eq(in8(f, 9000, 0x42), 0x40 | 0x30); /* ch2 reset */
	/* One command, count of ch0 and ch2 without status. */
	out8(f, 9500, 0x43, 0xDA);
	ck_assert_uint_eq(in8(f, 10000, 0x40), 92); /* edge 9 */
	fx_free(f);
}
END_TEST

START_TEST(ds_null_count_until_load_edge)
{
	struct fx *f = fx_new(DS);

	out8(f, 500, 0x43, 0x34);
	ck_assert_uint_eq(status(f, 500, 0), 0x40 | 0x80 | 0x34);
	out8(f, 600, 0x40, 10);
	ck_assert_uint_eq(status(f, 700, 0) & 0x40, 0x40);
	out8(f, 800, 0x40, 0); /* complete: loads at edge 1 */
	ck_assert_uint_eq(status(f, 999, 0) & 0x40, 0x40);
	ck_assert_uint_eq(status(f, 1000, 0) & 0x40, 0);
	fx_free(f);
}
END_TEST

START_TEST(ds_port61_and_control_read)
{
	struct fx *f = fx_new(DS);

	ck_assert_uint_eq(in8(f, 0, 0x43), 0xFF);
	out8(f, 0, 0x61, 0x0F); /* gate2, speaker, both NMI disables */
	ck_assert_uint_eq(in8(f, 0, 0x61) & 0x0F, 0x0F);
	/* Refresh toggle: bit 4 flips every 15085 ns. */
	ck_assert_uint_eq(in8(f, 15084, 0x61) & 0x10, 0);
	ck_assert_uint_eq(in8(f, 15085, 0x61) & 0x10, 0x10);
	ck_assert_uint_eq(in8(f, 30170, 0x61) & 0x10, 0);
	/* Status bits 6 and 7 read 0. */
	ck_assert_uint_eq(in8(f, 30170, 0x61) & 0xC0, 0);
	fx_free(f);
}
END_TEST

START_TEST(ds_real_clock_edges_and_hour_jump)
{
	struct fx *f = fx_new("");
	uint64_t hour = 3600ULL * 1000000000ULL;
	uint64_t k;

	/* 1193182 Hz: edge k at ceil(k * 1e9 / 1193182) ns. */
	out8(f, 0, 0x43, 0x30);
	load16(f, 0, 0, 1000); /* load at edge 1; OUT high at edge 1001 */
	at(f, 838933);	       /* edge 1001 = ceil(838933.2) */
	ck_assert_int_eq(f->out0.level, 0);
	at(f, 838934);
	ck_assert_int_eq(f->out0.level, 1);
	ck_assert_uint_eq(f->out0.last_rise, 838934);
	/* Counter 2, mode 0, and a read an hour later costs one muldiv. */
	out8(f, 1000000, 0x43, 0xB0);
	out8(f, 1000000, 0x61, 0x01);
	load16(f, 1000000, 2, 0);
	k = dm_clock_ticks(1193182, hour);
	ck_assert_uint_eq(
		latch16(f, hour, 2),
		(uint16_t)(65536 - (k - dm_clock_ticks(1193182, 1000000) - 1)));
	fx_free(f);
}
END_TEST

/* ---- kvm flavour ------------------------------------------------------ */

#define KVM "profile=kvm"

START_TEST(kvm_count_formulas)
{
	struct fx *f = fx_new(KVM);
	uint64_t t = 1000000; /* 1 ms: d = floor(1e6 * 1193181 / 1e9) = 1193 */

	out8(f, 0, 0x43, 0xB6); /* ch2 mode 3 */
	load16(f, 0, 2, 1001);
	/* C - (2d mod C) = 1001 - (2386 mod 1001) = 617: odd, as KVM. */
	ck_assert_uint_eq(latch16(f, t, 2), 617);
	out8(f, t, 0x43, 0xB4); /* mode 2, same count, no reload */
	ck_assert_uint_eq(latch16(f, t, 2), 1001 - 1193 % 1001);
	out8(f, t, 0x43, 0xB0);
	ck_assert_uint_eq(latch16(f, t, 2), (uint16_t)(1001 - 1193));
	/* Modes 6 and 7 are stored as 2 and 3. */
	out8(f, t, 0x43, 0xBE);
	ck_assert_uint_eq(status(f, t, 2) & 0x0E, 3 << 1);
	fx_free(f);
}
END_TEST

START_TEST(kvm_out_formulas)
{
	struct fx *f = fx_new(KVM);

	out8(f, 0, 0x61, 0x01);
	out8(f, 0, 0x43, 0xB2); /* mode 1: OUT = d < C (inverted) */
	load16(f, 0, 2, 100);
	ck_assert_uint_eq(in8(f, 0, 0x61) & 0x20, 0x20);
	ck_assert_uint_eq(in8(f, 100000, 0x61) & 0x20, 0);
	out8(f, 200000, 0x43, 0xB4); /* mode 2: a one-tick high pulse */
	load16(f, 200000, 2, 100);
	ck_assert_uint_eq(in8(f, 200000, 0x61) & 0x20, 0);
	/* d = 100 at 200000 + ceil(100e9/1193181) = 283810 */
	ck_assert_uint_eq(in8(f, 283809, 0x61) & 0x20, 0);
	ck_assert_uint_eq(in8(f, 283810, 0x61) & 0x20, 0x20);
	ck_assert_uint_eq(in8(f, 284648, 0x61) & 0x20, 0);
	/* NULL COUNT is never reported; the control port reads 0. */
	ck_assert_uint_eq(status(f, 300000, 2) & 0x40, 0);
	ck_assert_uint_eq(in8(f, 300000, 0x43), 0);
	fx_free(f);
}
END_TEST

START_TEST(kvm_latches_survive_control_word)
{
	struct fx *f = fx_new(KVM);

	out8(f, 0, 0x43, 0xB0);
	load16(f, 0, 2, 0x1234);
	out8(f, 0, 0x43, 0x80); /* latch 0x1234 */
	out8(f, 10, 0x43, 0xB4);
	f = migrate(f);
	ck_assert_uint_eq(in8(f, 50000, 0x42), 0x34);
	ck_assert_uint_eq(in8(f, 50000, 0x42), 0x12);
	fx_free(f);
}
END_TEST

START_TEST(kvm_counter0_hrtimer_clamp_and_reinject)
{
	struct fx *f = fx_new(KVM);

	out8(f, 0, 0x43, 0x34); /* mode 2, count 100: 83809 ns interval */
	load16(f, 0, 0, 100);
	at(f, 83808);
	ck_assert_uint_eq(f->out0.falls, 0);
	at(f, 83809); /* first expiry: the unclamped interval */
	ck_assert_uint_eq(f->out0.falls, 1);
	ck_assert_int_eq(f->out0.level, 0);
	/* Periodic expiries are clamped to 200 us; in reinject mode each
	 * waits for the previous IRQ0 to be acknowledged. */
	at(f, 283809);
	ck_assert_uint_eq(f->out0.falls, 1);
	f = migrate(f);
	dm_pit_irq0_acked(&f->pit, 300000, 0);
	ck_assert_uint_eq(f->out0.falls, 2); /* the held tick, at the ack */
	/* KVM counts every expiry and drains one per ack, so once behind
	 * it stays one tick behind: each ack releases the held tick. */
	at(f, 483809);
	ck_assert_uint_eq(f->out0.falls, 2);
	ck_assert_uint_eq(f->pit.kvm_pending, 2);
	dm_pit_irq0_acked(&f->pit, 483809, 0);
	ck_assert_uint_eq(f->out0.falls, 3);
	at(f, 683809);
	ck_assert_uint_eq(f->out0.falls, 3);
	/* Counter 0 reads derive from the hrtimer: elapsed since 683809. */
	ck_assert_uint_eq(
		latch16(f, 683809 + 50000, 0),
		100 - (dm_muldiv64(50000, 1193181, 1000000000) % 100));
	fx_free(f);
}
END_TEST

/*
 * KVM's mask notifier for GSI 0 (kvm_pit_reset_reinject): unmasking IRQ0
 * drops the ticks held for reinjection, and the next expiry injects at
 * once instead of waiting for an acknowledgement.
 */
START_TEST(kvm_unmask_drops_the_held_ticks)
{
	struct fx *f = fx_new(KVM);

	out8(f, 0, 0x43, 0x34); /* mode 2, count 1193: 999848 ns */
	load16(f, 0, 0, 1193);
	at(f, 3 * 999848);
	ck_assert_uint_eq(f->out0.falls, 1); /* the rest wait for an ack */
	ck_assert_uint_eq(f->pit.kvm_pending, 3);
	f = migrate(f);
	dm_pit_irq0_unmasked(&f->pit);
	ck_assert_uint_eq(f->pit.kvm_pending, 0);
	ck_assert_uint_eq(f->out0.falls, 1); /* nothing injected now ... */
	at(f, 4 * 999848);
	ck_assert_uint_eq(f->out0.falls, 2); /* ... but at the next expiry */
	/* An ack now has nothing held to release. */
	dm_pit_irq0_acked(&f->pit, 4 * 999848 + 10, 0);
	ck_assert_uint_eq(f->out0.falls, 2);
	fx_free(f);

	/* Without reinject there is nothing to drop. */
	f = fx_new("profile=kvm pit_reinject=off");
	out8(f, 0, 0x43, 0x34);
	load16(f, 0, 0, 1193);
	at(f, 3 * 999848);
	dm_pit_irq0_unmasked(&f->pit);
	ck_assert_uint_eq(f->out0.falls, 3);
	fx_free(f);
}
END_TEST

/*
 * pit_inta_ack (this host's kvm_pvm; the importer sets it): the vcpu taking
 * IRQ0 from the 8259 lets the next expiry inject without the EOI; the
 * ticks held for reinjection stay, so the EOI still releases one.
 */
START_TEST(kvm_inta_lets_the_next_tick_inject)
{
	struct fx *f = fx_new("profile=kvm pit_inta_ack=on");

	out8(f, 0, 0x43, 0x34); /* mode 2, count 1193: 999848 ns */
	load16(f, 0, 0, 1193);
	at(f, 3 * 999848);
	ck_assert_uint_eq(f->out0.falls, 1);
	ck_assert_uint_eq(f->pit.kvm_pending, 3);
	dm_pit_irq0_taken(&f->pit);
	/* Nothing injected at the INTA, nothing drained ... */
	ck_assert_uint_eq(f->out0.falls, 1);
	ck_assert_uint_eq(f->pit.kvm_pending, 3);
	f = migrate(f);
	at(f, 4 * 999848);
	ck_assert_uint_eq(f->out0.falls, 2); /* ... but the next expiry */
	ck_assert_uint_eq(f->pit.kvm_pending, 4);
	/* The EOI then releases a held tick at once (4 - 1 left). */
	dm_pit_irq0_acked(&f->pit, 4 * 999848 + 10, 0);
	ck_assert_uint_eq(f->out0.falls, 3);
	ck_assert_uint_eq(f->pit.kvm_pending, 3);
	fx_free(f);

	/* Off (upstream KVM, the kvm profile): the INTA changes nothing. */
	f = fx_new(KVM);
	out8(f, 0, 0x43, 0x34);
	load16(f, 0, 0, 1193);
	at(f, 3 * 999848);
	dm_pit_irq0_taken(&f->pit);
	at(f, 4 * 999848);
	ck_assert_uint_eq(f->out0.falls, 1);
	ck_assert_uint_eq(f->pit.kvm_pending, 4);
	fx_free(f);
}
END_TEST

/* pit_qemu_reset: the counters run in mode 3 with count 65536 from
 * pit_start_ns, as QEMU's reset state put into KVM at the VM's start, and
 * port 0x61 is QEMU's.
 * 65536 ticks are 54925447 ns (KVM's truncated interval). */
START_TEST(kvm_qemu_reset_runs_from_the_start)
{
	const uint64_t start = 161000000, period = 54925447;
	struct fx *f = fx_new("profile=kvm pit_qemu_reset=on "
			      "pit_start_ns=161000000");

	/* Counter 0's hrtimer first expires a period after the start. */
	at(f, start + period - 1);
	ck_assert_uint_eq(f->out0.falls, 0);
	at(f, start + period);
	ck_assert_uint_eq(f->out0.falls, 1);
	/* OUT2 (port 0x61 bit 5) is high in each first half period. */
	ck_assert_uint_eq(
		in8(f, start + period + period / 2 - 1000, 0x61) & 0x20, 0x20);
	ck_assert_uint_eq(
		in8(f, start + period + period / 2 + 1000, 0x61) & 0x20, 0);
	f = migrate(f);
	ck_assert_uint_eq(in8(f, start + 7 * period + 1000, 0x61) & 0x20, 0x20);
	/* Port 0x61 is QEMU's pcspk: bit 4 toggles on every read. */
	ck_assert_uint_ne(in8(f, start + 7 * period + 1500, 0x61) & 0x10,
			  in8(f, start + 7 * period + 1500, 0x61) & 0x10);
	/* Counter 2's status: mode 3, as QEMU put it. */
	out8(f, start + 7 * period + 2000, 0x43, 0xe8);
	ck_assert_uint_eq(in8(f, start + 7 * period + 2000, 0x42) & 0x0e, 0x06);
	fx_free(f);
}
END_TEST

/*
 * Under QEMU every port 0x61 write goes through QEMU's pcspk, whose
 * kvm_pit_set_gate does KVM_GET_PIT2 and KVM_SET_PIT2: KVM reloads every
 * counter's count from that instant, counter 0's hrtimer included, and
 * drops the ticks held for reinjection.
 */
START_TEST(kvm_qemu_port61_write_reloads_the_counters)
{
	struct fx *f = fx_new("profile=kvm pit_qemu_reset=on pit_start_ns=0");

	out8(f, 0, 0x43, 0x34); /* mode 2, count 1193: 999848 ns */
	load16(f, 0, 0, 1193);
	out8(f, 0, 0x43, 0xb4); /* counter 2: mode 2, count 1000 */
	load16(f, 0, 2, 1000);
	at(f, 2500000);
	ck_assert_uint_eq(f->out0.falls, 1);
	ck_assert_uint_eq(f->pit.kvm_pending, 2);
	out8(f, 2500000, 0x61, 0x01);
	f = migrate(f);
	ck_assert_uint_eq(f->pit.kvm_pending, 0);
	/* Counter 0 expires a whole interval after the write ... */
	at(f, 2500000 + 999847);
	ck_assert_uint_eq(f->out0.falls, 1);
	at(f, 2500000 + 999848);
	ck_assert_uint_eq(f->out0.falls, 2);
	/* ... and counter 2 counts from it: 10 us is 11 ticks. */
	ck_assert_uint_eq(latch16(f, 2510000, 2), 1000 - 11);
	fx_free(f);

	/* KVM's own port 0x61 leaves counter 0 alone. */
	f = fx_new(KVM);
	out8(f, 0, 0x43, 0x34);
	load16(f, 0, 0, 1193);
	at(f, 2500000);
	out8(f, 2500000, 0x61, 0x01);
	ck_assert_uint_eq(f->pit.kvm_pending, 2);
	fx_free(f);
}
END_TEST

START_TEST(kvm_no_reinject_pulses_every_period)
{
	struct fx *f = fx_new("profile=kvm pit_reinject=off "
			      "pit_min_period_us=0");

	out8(f, 0, 0x43, 0x34);
	load16(f, 0, 0, 1193); /* floor(1193e9 / 1193181) = 999848 ns */
	at(f, 10 * 999848 - 1);
	ck_assert_uint_eq(f->out0.falls, 9);
	at(f, 10 * 999848);
	ck_assert_uint_eq(f->out0.falls, 10);
	/* A one-shot mode fires once. */
	out8(f, 10 * 999848, 0x43, 0x30);
	load16(f, 10 * 999848, 0, 1193);
	at(f, 30 * 999848);
	ck_assert_uint_eq(f->out0.falls, 11);
	fx_free(f);
}
END_TEST

START_TEST(kvm_reset_state)
{
	struct fx *f = fx_new(KVM);

	/* Mode 0xff, count 65536, no timer: counter 0 reads 0. */
	ck_assert_uint_eq(f->pit.ch[0].mode, 0xff);
	ck_assert_uint_eq(in8(f, 5000000, 0x40), 0);
	ck_assert_uint_eq(in8(f, 5000000, 0x61) & 0x01, 0);
	/* Port 0x61 bit 4 is bit 14 of the ns clock. */
	ck_assert_uint_eq(in8(f, 16383, 0x61) & 0x10, 0);
	ck_assert_uint_eq(in8(f, 16384, 0x61) & 0x10, 0x10);
	fx_free(f);
}
END_TEST

/* ---- qemu flavour ----------------------------------------------------- */

START_TEST(qemu_reset_runs_counter0_square_wave)
{
	struct fx *f = fx_new("profile=qemu");
	uint64_t half = dm_muldiv64(32768, 1000000000, 1193182);

	/* Mode 3, count 65536, running from reset: IRQ0 high first. */
	ck_assert_int_eq(f->out0.level, 1);
	at(f, half - 1);
	ck_assert_int_eq(f->out0.level, 1);
	at(f, half + 1);
	ck_assert_int_eq(f->out0.level, 0);
	f = migrate(f);
	at(f, 2 * half + 2);
	ck_assert_int_eq(f->out0.level, 1);
	fx_free(f);
}
END_TEST

START_TEST(qemu_mode2_pulses_once_per_period_and_mode7_is_kept)
{
	struct fx *f = fx_new("profile=qemu");
	uint64_t period = dm_muldiv64(1000, 1000000000, 1193182);
	unsigned rises;

	out8(f, 0, 0x43, 0x34);
	load16(f, 0, 0, 1000);
	rises = f->out0.rises;
	at(f, 100 * period + 1000);
	ck_assert_uint_eq(f->out0.rises - rises, 100);
	/* Mode 7 stays 7; its count uses the mode 2 formula. */
	out8(f, 200000000, 0x43, 0xBE);
	ck_assert_uint_eq(status(f, 200000000, 2) & 0x0E, 7 << 1);
	load16(f, 200000000, 2, 1000);
	ck_assert_uint_eq(latch16(f, 201000000, 2),
			  1000 - dm_muldiv64(1000000, 1193182, 1000000000) %
					  1000);
	/* Port 0x61 bit 4 toggles on every read. */
	ck_assert_uint_eq(in8(f, 0 + 201000000, 0x61) & 0x10, 0x10);
	ck_assert_uint_eq(in8(f, 0 + 201000000, 0x61) & 0x10, 0);
	fx_free(f);
}
END_TEST

/* ---- state ------------------------------------------------------------ */

START_TEST(hostile_checkpoint_rejected_by_field)
{
	struct fx *f = fx_new(DS);
	size_t n = dm_state_encoded_size(&dm_pit_state_desc);
	uint8_t *buf = malloc(n);
	struct dm_error err = {""};

	f->pit.ch[1].mode = 9;
	dm_state_encode(&dm_pit_state_desc, &f->pit, buf, n);
	f->pit.ch[1].mode = 2;
	ck_assert_int_eq(
		dm_state_load(&dm_pit_state_desc, &f->pit, buf, n, &err), -1);
	ck_assert_msg(strstr(err.msg, "ch1") && strstr(err.msg, "mode"), "%s",
		      err.msg);
	ck_assert_uint_eq(f->pit.ch[1].mode, 2); /* untouched */

	f->pit.ch[0].phase = DM_PIT_RUNNING;
	f->pit.ch[0].n = 0;
	dm_state_encode(&dm_pit_state_desc, &f->pit, buf, n);
	ck_assert_int_eq(
		dm_state_load(&dm_pit_state_desc, &f->pit, buf, n, &err), -1);
	ck_assert_msg(strstr(err.msg, "ch0") && strstr(err.msg, "n"), "%s",
		      err.msg);
	free(buf);
	fx_free(f);
}
END_TEST

START_TEST(machine_checkpoint_continues_identically)
{
	struct dm_config cfg;
	struct dm_machine *a, *b;
	struct dm_error err;
	uint64_t v = 0x34, va, vb;
	uint8_t *ck;
	size_t len;

	dm_config_defaults(&cfg, DM_PROFILE_DATASHEET);
	ck_assert_int_eq(dm_machine_create(&a, &cfg, &err), 0);
	dm_machine_pio(a, 0, 0, 0x43, 1, true, &v);
	v = 0x00;
	dm_machine_pio(a, 10, 0, 0x40, 1, true, &v);
	v = 0x10;
	dm_machine_pio(a, 20, 0, 0x40, 1, true, &v);
	v = 0x00;
	dm_machine_pio(a, 3000000, 0, 0x43, 1, true, &v); /* latch */
	ck = dm_machine_save(a, &len);
	ck_assert_ptr_nonnull(ck);
	ck_assert_int_eq(dm_machine_restore(&b, &cfg, ck, len, &err), 0);
	ck_assert_uint_eq(dm_machine_hash(a), dm_machine_hash(b));
	for (uint64_t t = 3000000; t < 50000000; t += 777777) {
		dm_machine_pio(a, t, 0, 0x40, 1, false, &va);
		dm_machine_pio(b, t, 0, 0x40, 1, false, &vb);
		ck_assert_uint_eq(va, vb);
		ck_assert_int_eq(dm_machine_isa_level(a, 0),
				 dm_machine_isa_level(b, 0));
	}
	ck_assert_uint_eq(dm_machine_hash(a), dm_machine_hash(b));
	dm_machine_destroy(b);
	/* A corrupted checkpoint is refused with a reason. */
	ck[len / 2] ^= 1;
	ck_assert_int_eq(dm_machine_restore(&b, &cfg, ck, len, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "checksum"));
	free(ck);
	dm_machine_destroy(a);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("pit");
	TCase *ds = tcase_create("datasheet");
	TCase *kvm = tcase_create("kvm");
	TCase *qemu = tcase_create("qemu");
	TCase *st = tcase_create("state");

	tcase_add_test(ds,
		       ds_mode0_counts_and_out_rises_n_plus_1_clks_after_write);
	tcase_add_test(ds, ds_mode0_first_byte_stops_counting);
	tcase_add_test(ds, ds_mode0_new_count_drives_out_low);
	tcase_add_test(ds, ds_gate_pauses_mode0_and_mode4);
	tcase_add_test(ds, ds_mode1_waits_for_trigger_and_retriggers);
	tcase_add_test(ds, ds_mode5_strobe_after_trigger);
	tcase_add_test(ds, ds_mode2_rate_generator);
	tcase_add_test(ds, ds_mode2_gate_forces_out_high_and_retriggers);
	tcase_add_test(ds, ds_mode3_even_and_odd_counts);
	tcase_add_test(ds, ds_mode3_new_count_at_half_cycle);
	tcase_add_test(ds, ds_mode6_and_7_alias_2_and_3);
	tcase_add_test(ds, ds_mode4_software_strobe);
	tcase_add_test(ds, ds_bcd_counting_and_zero_count);
	tcase_add_test(ds, ds_lsb_only_and_msb_only);
	tcase_add_test(ds, ds_read_and_write_flipflops_are_independent);
	tcase_add_test(ds, ds_unlatched_read_tears_across_a_borrow);
	tcase_add_test(ds, ds_latch_holds_and_second_latch_ignored);
	tcase_add_test(ds, ds_control_word_discards_latches);
	tcase_add_test(ds, ds_read_back_status_first_and_per_counter);
	tcase_add_test(ds, ds_null_count_until_load_edge);
	tcase_add_test(ds, ds_port61_and_control_read);
	tcase_add_test(ds, ds_real_clock_edges_and_hour_jump);
	tcase_add_test(kvm, kvm_count_formulas);
	tcase_add_test(kvm, kvm_out_formulas);
	tcase_add_test(kvm, kvm_latches_survive_control_word);
	tcase_add_test(kvm, kvm_counter0_hrtimer_clamp_and_reinject);
	tcase_add_test(kvm, kvm_no_reinject_pulses_every_period);
	tcase_add_test(kvm, kvm_unmask_drops_the_held_ticks);
	tcase_add_test(kvm, kvm_inta_lets_the_next_tick_inject);
	tcase_add_test(kvm, kvm_qemu_port61_write_reloads_the_counters);
	tcase_add_test(kvm, kvm_qemu_reset_runs_from_the_start);
	tcase_add_test(kvm, kvm_reset_state);
	tcase_add_test(qemu, qemu_reset_runs_counter0_square_wave);
	tcase_add_test(qemu,
		       qemu_mode2_pulses_once_per_period_and_mode7_is_kept);
	tcase_add_test(st, hostile_checkpoint_rejected_by_field);
	tcase_add_test(st, machine_checkpoint_continues_identically);
	suite_add_tcase(s, ds);
	suite_add_tcase(s, kvm);
	suite_add_tcase(s, qemu);
	suite_add_tcase(s, st);
	return s;
}

int main(void)
{
	return dm_test_main(suite());
}
