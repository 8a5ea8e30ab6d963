// SPDX-License-Identifier: MIT
/*
 * ACPI PM1a block and PM timer.  The counter is never stored: it is the
 * pmtimer_hz tick count of the virtual clock.  TMR_STS is kept as the tick
 * at which it next reads 1 (sts_tick), so it too is computed from time and
 * costs nothing while nobody looks.  The one dm_timer exists only to raise
 * the SCI: it is armed at the next flip when TMR_EN (and, in the datasheet
 * flavour, SCI_EN) would let that flip raise the SCI, and idle otherwise.
 * Arming it at every flip regardless would add an event every 2.3 s to
 * every replay and a deadline to every checkpoint for no observable effect.
 */
#include "models/pmtimer.h"

#include <inttypes.h>

#include "sim/clock.h"

/* PM1_STS / PM1_EN bit 0 (ACPI table 4.16 and 4.17). */
#define TMR_STS 0x0001u
#define TMR_EN 0x0001u
/*
 * PM1_EN bits ACPI defines: TMR_EN, GBL_EN, PWRBTN_EN, SLPBTN_EN, RTC_EN,
 * PCIEXP_WAKE_DIS.  Reserved bits read 0 on PIIX4/ICH9; QEMU stores all 16.
 */
#define EN_MASK_DATASHEET 0x4721u
#define EN_MASK_QEMU 0xffffu
/* PM1_CNT (ACPI table 4.18). */
#define SCI_EN 0x0001u
/*
 * Kept: SCI_EN, BM_RLD, SLP_TYPx.  GBL_RLS (bit 2) and SLP_EN (bit 13) are
 * write-only strobes to firmware and to the sleep logic, neither of which
 * is modelled, so they read 0.  QEMU keeps every bit but SLP_EN.
 */
#define CNT_MASK_DATASHEET 0x1c03u
#define CNT_MASK_QEMU 0xdfffu

/* Register offsets in the block. */
#define OFF_STS 0
#define OFF_EN 2
#define OFF_CNT 4
#define OFF_TMR 8

static bool is_qemu(const struct dm_pmtimer *pm)
{
	return pm->flavor == DM_PMTIMER_QEMU;
}

/* Ticks between two flips of the counter's top bit: 2^23 or 2^31. */
static uint64_t flip_period(const struct dm_pmtimer *pm)
{
	return pm->ext32 ? 1ULL << 31 : 1ULL << 23;
}

static uint16_t en_mask(const struct dm_pmtimer *pm)
{
	return is_qemu(pm) ? EN_MASK_QEMU : EN_MASK_DATASHEET;
}

static uint16_t cnt_mask(const struct dm_pmtimer *pm)
{
	return is_qemu(pm) ? CNT_MASK_QEMU : CNT_MASK_DATASHEET;
}

/* Ticks since the timer started (pmtimer_start_ns; before it, 0). */
static uint64_t ticks(const struct dm_pmtimer *pm, uint64_t now)
{
	return now > pm->start ? dm_clock_ticks(pm->hz, now - pm->start) : 0;
}

static uint32_t counter(const struct dm_pmtimer *pm, uint64_t now)
{
	uint64_t t = ticks(pm, now);

	return pm->ext32 ? (uint32_t)t : (uint32_t)(t & 0xffffff);
}

static bool tmr_sts(const struct dm_pmtimer *pm, uint64_t now)
{
	return ticks(pm, now) >= pm->sts_tick;
}

/* The first flip strictly after the tick count at now. */
static uint64_t next_flip(const struct dm_pmtimer *pm, uint64_t now)
{
	uint64_t p = flip_period(pm);

	return (ticks(pm, now) / p + 1) * p;
}

/*
 * ACPI 4.8.3.2.1: SCI_EN routes power-management events to the SCI (1) or
 * to SMI (0); SMI is not modelled.  QEMU's acpi_update_sci() ignores
 * SCI_EN and raises the SCI whenever an enabled status bit is set.
 */
static bool sci_enabled(const struct dm_pmtimer *pm)
{
	return (pm->pm1_en & TMR_EN) && (is_qemu(pm) || (pm->pm1_cnt & SCI_EN));
}

/* Deadline of the flip that will raise the SCI, if one can. */
static uint64_t sci_deadline(const struct dm_pmtimer *pm)
{
	if (!sci_enabled(pm) || pm->sci_level)
		return DM_TIME_NEVER;
	return pm->start + dm_clock_edge_ns(pm->hz, pm->sts_tick);
}

/* Drives the SCI to its level at now and re-arms the flip timer. */
static void settle(struct dm_pmtimer *pm, uint64_t now)
{
	bool level = sci_enabled(pm) && tmr_sts(pm, now);

	if (level != pm->sci_level) {
		pm->sci_level = level;
		dm_irq_set(&pm->sci, now, level);
	}
	dm_timer_arm(&pm->timer, sci_deadline(pm));
}

static void flip_fired(void *opaque, uint64_t now)
{
	settle(opaque, now);
}

/* Power-on TMR_STS: clear until the first flip; QEMU's overflow_time
 * starts at 0, so there TMR_STS reads 1 from the start. */
static uint64_t initial_sts_tick(const struct dm_pmtimer *pm, uint64_t now)
{
	return is_qemu(pm) ? 0 : next_flip(pm, now);
}

void dm_pmtimer_init(struct dm_pmtimer *pm, const struct dm_config *cfg,
		     struct dm_eventq *q, const struct dm_irq_line *sci)
{
	*pm = (struct dm_pmtimer){
		.flavor = cfg->pmtimer_flavor,
		.hz = cfg->pmtimer_hz,
		.start = cfg->pmtimer_start_ns,
		.ext32 = cfg->pmtimer_32bit,
	};
	if (sci)
		pm->sci = *sci;
	dm_timer_init(&pm->timer, q, flip_fired, pm);
	pm->sts_tick = initial_sts_tick(pm, 0);
}

void dm_pmtimer_reset(struct dm_pmtimer *pm, uint64_t now)
{
	pm->pm1_en = 0;
	pm->pm1_cnt = 0;
	pm->sts_tick = initial_sts_tick(pm, now);
	settle(pm, now);
}

uint16_t dm_pmtimer_base(const struct dm_config *cfg)
{
	if (cfg->pmbase)
		return (uint16_t)cfg->pmbase;
	return cfg->chipset == DM_CHIPSET_Q35 ? 0x600 : 0xb000;
}

/*
 * The block is byte-addressable, as the PIIX4 and ICH9 I/O decoders are:
 * an access of any width reads or writes the bytes it covers, low byte
 * first, so a 32-bit read at +0 returns PM1_STS and PM1_EN together and a
 * byte read at +9 returns counter bits 15:8.  Bytes 6-7 are reserved (read
 * 0, writes ignored); bytes past the block read 0xff like an undecoded
 * port.
 */
static uint8_t read_byte(const struct dm_pmtimer *pm, uint64_t now,
			 uint64_t off)
{
	uint16_t sts = tmr_sts(pm, now) ? TMR_STS : 0;

	switch (off) {
	case OFF_STS:
	case OFF_STS + 1:
		return (uint8_t)(sts >> (8 * (off - OFF_STS)));
	case OFF_EN:
	case OFF_EN + 1:
		return (uint8_t)(pm->pm1_en >> (8 * (off - OFF_EN)));
	case OFF_CNT:
	case OFF_CNT + 1:
		return (uint8_t)(pm->pm1_cnt >> (8 * (off - OFF_CNT)));
	case OFF_TMR:
	case OFF_TMR + 1:
	case OFF_TMR + 2:
	case OFF_TMR + 3:
		return (uint8_t)(counter(pm, now) >> (8 * (off - OFF_TMR)));
	case 6:
	case 7:
		return 0;
	default:
		return 0xff;
	}
}

uint64_t dm_pmtimer_read(void *opaque, uint64_t now, uint64_t offset,
			 unsigned size)
{
	const struct dm_pmtimer *pm = opaque;
	uint64_t v = 0;

	for (unsigned i = 0; i < size && i < 8; i++)
		v |= (uint64_t)read_byte(pm, now, offset + i) << (8 * i);
	return v;
}

/* Merges one byte into a 16-bit register. */
static uint16_t merge_byte(uint16_t reg, unsigned lane, uint8_t b)
{
	unsigned shift = 8 * lane;

	return (uint16_t)((reg & ~(0xffu << shift)) | ((unsigned)b << shift));
}

/*
 * PM1_STS is write-1-to-clear.  Clearing TMR_STS moves the next set to the
 * next flip after now (a flip at exactly now has already happened).
 */
static void write_byte(struct dm_pmtimer *pm, uint64_t now, uint64_t off,
		       uint8_t b)
{
	switch (off) {
	case OFF_STS:
		if ((b & TMR_STS) && tmr_sts(pm, now))
			pm->sts_tick = next_flip(pm, now);
		break;
	case OFF_EN:
	case OFF_EN + 1:
		pm->pm1_en =
			merge_byte(pm->pm1_en, (unsigned)(off - OFF_EN), b) &
			en_mask(pm);
		break;
	case OFF_CNT:
	case OFF_CNT + 1:
		pm->pm1_cnt =
			merge_byte(pm->pm1_cnt, (unsigned)(off - OFF_CNT), b) &
			cnt_mask(pm);
		break;
	default:
		/* PM1_STS high byte: no status there is generated; PM_TMR is
		 * read-only (ACPI 4.8.3.3); reserved and undecoded bytes. */
		break;
	}
}

void dm_pmtimer_write(void *opaque, uint64_t now, uint64_t offset,
		      unsigned size, uint64_t value)
{
	struct dm_pmtimer *pm = opaque;

	for (unsigned i = 0; i < size && i < 8; i++)
		write_byte(pm, now, offset + i, (uint8_t)(value >> (8 * i)));
	settle(pm, now);
}

static int pmtimer_validate(const void *state, struct dm_error *err)
{
	const struct dm_pmtimer *pm = state;
	uint64_t want;

	if (pm->sts_tick % flip_period(pm))
		return dm_errorf(err,
				 "sts_tick: %" PRIu64
				 " is not a multiple of the %" PRIu64
				 "-tick flip period",
				 pm->sts_tick, flip_period(pm));
	if (pm->pm1_en & ~en_mask(pm))
		return dm_errorf(err, "pm1_en: 0x%x sets reserved bits",
				 pm->pm1_en);
	if (pm->pm1_cnt & ~cnt_mask(pm))
		return dm_errorf(err, "pm1_cnt: 0x%x sets bits that read 0",
				 pm->pm1_cnt);
	if (pm->sci_level && !sci_enabled(pm))
		return dm_errorf(err,
				 "sci_level: SCI high but TMR_EN or SCI_EN "
				 "is clear");
	want = sci_deadline(pm);
	if (pm->timer.when != want)
		return dm_errorf(err,
				 "timer: deadline %" PRIu64
				 ", the state implies %" PRIu64,
				 pm->timer.when, want);
	return 0;
}

static const struct dm_field pmtimer_fields[] = {
	DM_SCALAR(DM_FT_U16, struct dm_pmtimer, pm1_en, 1, EN_MASK_QEMU,
		  DM_FF_HEX),
	DM_SCALAR(DM_FT_U16, struct dm_pmtimer, pm1_cnt, 2, CNT_MASK_QEMU,
		  DM_FF_HEX),
	DM_U64(struct dm_pmtimer, sts_tick, 3, UINT64_MAX),
	DM_BOOL(struct dm_pmtimer, sci_level, 4),
	DM_TIMER(struct dm_pmtimer, timer, 5),
};

const struct dm_state_desc dm_pmtimer_state_desc =
	DM_STATE_DESC("pmtimer", 1, struct dm_pmtimer, pmtimer_fields,
		      .validate = pmtimer_validate);
