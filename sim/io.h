/* SPDX-License-Identifier: MIT */
/*
 * Register access handlers.  Every model exposes its port, MMIO and MSR
 * registers through these two signatures, so the machine's dispatch tables
 * hold them without adapters.  offset is relative to the region's base;
 * size is the access width in bytes (1, 2, 4 or 8).
 */
#ifndef DM_IO_H
#define DM_IO_H

#include <stdint.h>

typedef uint64_t (*dm_io_read_fn)(void *opaque, uint64_t now, uint64_t offset,
				  unsigned size);
typedef void (*dm_io_write_fn)(void *opaque, uint64_t now, uint64_t offset,
			       unsigned size, uint64_t value);

struct dm_io_region {
	uint64_t base;
	uint64_t len;
	dm_io_read_fn read;
	dm_io_write_fn write;
	void *opaque;
};

#endif
