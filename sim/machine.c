// SPDX-License-Identifier: MIT
/*
 * The PC board: device ownership, IRQ wiring, access dispatch and
 * checkpoints.  Wiring follows SPEC-NOTES section 8.
 */
#include "sim/machine.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static const struct dm_field machine_fields[] = {
	DM_U64(struct dm_machine_state, now, 1, UINT64_MAX),
	DM_ARRAY(DM_FT_U32, struct dm_machine_state, isa_src, 2,
		 (1u << DM_SRC_COUNT) - 1, DM_FF_HEX),
};

const struct dm_state_desc dm_machine_state_desc =
	DM_STATE_DESC("machine", 1, struct dm_machine_state, machine_fields);

/* ---- interrupt lines ------------------------------------------------- */

static void isa_line_set(struct dm_machine *m, unsigned irq,
			 enum dm_irq_source src, int level)
{
	uint32_t bit = 1u << src;

	if (level)
		m->ms.isa_src[irq] |= bit;
	else
		m->ms.isa_src[irq] &= ~bit;
}

bool dm_machine_isa_level(const struct dm_machine *m, unsigned irq)
{
	return irq < DM_ISA_IRQS && m->ms.isa_src[irq] != 0;
}

static void pit_out0(void *opaque, uint64_t now, unsigned irq, int level)
{
	(void)now;
	isa_line_set(opaque, irq, DM_SRC_PIT, level);
}

/* ---- construction ---------------------------------------------------- */

static void add_device(struct dm_machine *m, const char *name,
		       const struct dm_state_desc *desc, void *state)
{
	m->devices[m->ndevices++] = (struct dm_device){ name, desc, state };
}

static void map_pio(struct dm_machine *m, uint64_t base, uint64_t len,
		    dm_io_read_fn rd, dm_io_write_fn wr, void *opaque)
{
	m->pio[m->npio++] = (struct dm_io_region){ base, len, rd, wr, opaque };
}

int dm_machine_create(struct dm_machine **out, const struct dm_config *cfg,
		      struct dm_error *err)
{
	struct dm_machine *m = calloc(1, sizeof(*m));
	struct dm_irq_line irq0 = { pit_out0, m, 0 };

	if (!m)
		return dm_errorf(err, "out of memory creating the machine");
	m->cfg = *cfg;
	dm_eventq_init(&m->q);
	dm_pit_init(&m->pit, cfg, &m->q, &irq0);

	add_device(m, "machine", &dm_machine_state_desc, &m->ms);
	add_device(m, "pit", &dm_pit_state_desc, &m->pit);

	map_pio(m, 0x40, 4, dm_pit_read, dm_pit_write, &m->pit);
	map_pio(m, 0x61, 1, dm_pit_port61_read, dm_pit_port61_write, &m->pit);
	*out = m;
	return 0;
}

void dm_machine_destroy(struct dm_machine *m)
{
	if (!m)
		return;
	dm_eventq_destroy(&m->q);
	free(m);
}

/* ---- time and access dispatch ---------------------------------------- */

void dm_machine_advance(struct dm_machine *m, uint64_t now)
{
	if (now < m->ms.now)
		now = m->ms.now;
	if (dm_eventq_next(&m->q) <= now)
		dm_eventq_run_until(&m->q, now);
	m->ms.now = now;
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

enum dm_access dm_machine_pio(struct dm_machine *m, uint64_t now,
			      uint32_t cpu, uint16_t port, unsigned size,
			      bool write, uint64_t *value)
{
	const struct dm_io_region *r;

	if (cpu >= m->cfg.vcpus || !valid_size(size, 4))
		return DM_ACCESS_INVALID;
	dm_machine_advance(m, now);
	r = find_region(m->pio, m->npio, port);
	if (write) {
		if (r)
			r->write(r->opaque, m->ms.now, port - r->base, size,
				 *value & all_ones(size));
		return DM_ACCESS_OK;
	}
	/* Nothing drives an unclaimed ISA port: the bus floats high. */
	*value = r ? r->read(r->opaque, m->ms.now, port - r->base, size) &
			     all_ones(size)
		   : all_ones(size);
	return DM_ACCESS_OK;
}

enum dm_access dm_machine_mmio(struct dm_machine *m, uint64_t now,
			       uint32_t cpu, uint64_t addr, unsigned size,
			       bool write, uint64_t *value)
{
	if (cpu >= m->cfg.vcpus || !valid_size(size, 8))
		return DM_ACCESS_INVALID;
	dm_machine_advance(m, now);
	(void)addr;
	/* No MMIO device claims the address: reads return all ones. */
	if (!write)
		*value = all_ones(size);
	return DM_ACCESS_OK;
}

enum dm_access dm_machine_msr(struct dm_machine *m, uint64_t now,
			      uint32_t cpu, uint32_t index, bool write,
			      uint64_t *value)
{
	(void)index;
	(void)write;
	(void)value;
	if (cpu >= m->cfg.vcpus)
		return DM_ACCESS_INVALID;
	dm_machine_advance(m, now);
	/* An MSR no model implements faults, as on a CPU without it. */
	return DM_ACCESS_GP;
}

int dm_machine_set_gsi(struct dm_machine *m, uint64_t now, uint32_t gsi,
		       int level, struct dm_error *err)
{
	if (gsi >= DM_ISA_IRQS)
		return dm_errorf(err, "GSI %u is not wired in this machine",
				 gsi);
	dm_machine_advance(m, now);
	isa_line_set(m, gsi, DM_SRC_DEV, level);
	return 0;
}

int dm_machine_msi(struct dm_machine *m, uint64_t now, uint64_t addr,
		   uint32_t data, struct dm_error *err)
{
	dm_machine_advance(m, now);
	return dm_errorf(err,
			 "MSI 0x%llx/0x%x: this machine has no local APIC to "
			 "receive it",
			 (unsigned long long)addr, data);
}

int dm_machine_intack(struct dm_machine *m, uint64_t now, uint32_t cpu,
		      struct dm_error *err)
{
	dm_machine_advance(m, now);
	dm_errorf(err, "cpu%u: no interrupt controller delivers to this vcpu",
		  cpu);
	return -1;
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

uint64_t dm_machine_hash(const struct dm_machine *m)
{
	uint8_t buf[DM_MAX_DEVICES * 8];

	for (unsigned i = 0; i < m->ndevices; i++) {
		uint64_t h = dm_state_hash(m->devices[i].desc,
					   m->devices[i].state);

		for (unsigned b = 0; b < 8; b++)
			buf[i * 8 + b] = (uint8_t)(h >> (8 * b));
	}
	return XXH3_64bits(buf, m->ndevices * 8);
}

/*
 * Checkpoint layout (docs/state-format.md): "DMCK", u16 version, u16 device
 * count, then per device u8 name length, name, u32 blob length, blob; then
 * the XXH3-64 of everything before it.  All integers little-endian.
 */
#define CKPT_MAGIC "DMCK"
#define CKPT_VERSION 1

static uint8_t *put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static uint64_t get_le(const uint8_t *p, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

uint8_t *dm_machine_save(const struct dm_machine *m, size_t *len)
{
	size_t total = 8 + 8;
	uint8_t *buf, *p;

	for (unsigned i = 0; i < m->ndevices; i++)
		total += 1 + strlen(m->devices[i].name) + 4 +
			 dm_state_encoded_size(m->devices[i].desc);
	buf = malloc(total);
	if (!buf)
		return NULL;
	memcpy(buf, CKPT_MAGIC, 4);
	p = put_le(buf + 4, CKPT_VERSION, 2);
	p = put_le(p, m->ndevices, 2);
	for (unsigned i = 0; i < m->ndevices; i++) {
		const struct dm_device *d = &m->devices[i];
		size_t n = dm_state_encoded_size(d->desc);
		size_t nl = strlen(d->name);

		*p++ = (uint8_t)nl;
		memcpy(p, d->name, nl);
		p = put_le(p + nl, n, 4);
		p += dm_state_encode(d->desc, d->state, p, n);
	}
	put_le(p, XXH3_64bits(buf, (size_t)(p - buf)), 8);
	*len = total;
	return buf;
}

static int load_checkpoint(struct dm_machine *m, const uint8_t *buf,
			   size_t len, struct dm_error *err)
{
	size_t off = 8;
	unsigned count;

	if (len < 16 || memcmp(buf, CKPT_MAGIC, 4))
		return dm_errorf(err, "not a dmsim checkpoint");
	if (get_le(buf + len - 8, 8) != XXH3_64bits(buf, len - 8))
		return dm_errorf(err, "checkpoint checksum mismatch");
	if (get_le(buf + 4, 2) != CKPT_VERSION)
		return dm_errorf(err, "checkpoint version %u, this build reads "
				      "version %u",
				 (unsigned)get_le(buf + 4, 2), CKPT_VERSION);
	count = (unsigned)get_le(buf + 6, 2);
	if (count != m->ndevices)
		return dm_errorf(err, "checkpoint has %u devices, machine %u",
				 count, m->ndevices);
	for (unsigned i = 0; i < count; i++) {
		const struct dm_device *d = &m->devices[i];
		size_t nl, n;

		if (off + 1 > len - 8)
			return dm_errorf(err, "byte %zu: truncated", off);
		nl = buf[off++];
		if (off + nl + 4 > len - 8)
			return dm_errorf(err, "byte %zu: truncated", off);
		if (nl != strlen(d->name) || memcmp(buf + off, d->name, nl))
			return dm_errorf(err, "byte %zu: device %u is '%.*s', "
					      "expected '%s'",
					 off, i, (int)nl, buf + off, d->name);
		off += nl;
		n = (size_t)get_le(buf + off, 4);
		off += 4;
		if (n > len - 8 - off)
			return dm_errorf(err, "byte %zu: %s blob truncated",
					 off, d->name);
		if (dm_state_load(d->desc, d->state, buf + off, n, err))
			return -1;
		off += n;
	}
	if (off != len - 8)
		return dm_errorf(err, "byte %zu: trailing bytes", off);
	return 0;
}

int dm_machine_restore(struct dm_machine **out, const struct dm_config *cfg,
		       const uint8_t *buf, size_t len, struct dm_error *err)
{
	struct dm_machine *m;

	if (dm_machine_create(&m, cfg, err))
		return -1;
	if (load_checkpoint(m, buf, len, err)) {
		dm_machine_destroy(m);
		return -1;
	}
	*out = m;
	return 0;
}
