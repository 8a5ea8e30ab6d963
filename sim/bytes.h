/* SPDX-License-Identifier: MIT */
/*
 * Little-endian integers in byte buffers, as every dmsim file format
 * (checkpoints, KVM dumps) stores them, whatever the host's byte order.
 */
#ifndef DM_BYTES_H
#define DM_BYTES_H

#include <stdint.h>

/* Stores the low `bytes` bytes of v at p; returns the byte after them. */
static inline uint8_t *dm_put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

/* Reads a `bytes`-byte (at most 8) integer at p. */
static inline uint64_t dm_get_le(const uint8_t *p, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

#endif
