/* SPDX-License-Identifier: MIT */
/*
 * Virtual time.  "now" is an unsigned 64-bit count of nanoseconds since
 * machine start.  A clock domain of rate hz has ticked floor(t * hz / 1e9)
 * times at time t, so its edge k falls on the first nanosecond at which that
 * count reaches k: ceil(k * 1e9 / hz).  Edge 0 is at t = 0.  All conversions
 * are exact 64x64->128 integer arithmetic (the way KVM's mul_u64_u32_div and
 * QEMU's muldiv64 compute PIT and HPET counts), never floating point.
 */
#ifndef DM_CLOCK_H
#define DM_CLOCK_H

#include <stdint.h>

#define DM_NS_PER_SEC 1000000000ULL
#define DM_TIME_NEVER UINT64_MAX

/* floor(a * b / c); saturates at UINT64_MAX when the quotient overflows. */
static inline uint64_t dm_muldiv64(uint64_t a, uint64_t b, uint64_t c)
{
	unsigned __int128 q = (unsigned __int128)a * b / c;

	return q > UINT64_MAX ? UINT64_MAX : (uint64_t)q;
}

/* ceil(a * b / c); saturates like dm_muldiv64. */
static inline uint64_t dm_muldiv64_ceil(uint64_t a, uint64_t b, uint64_t c)
{
	unsigned __int128 p = (unsigned __int128)a * b;
	unsigned __int128 q = p / c + (p % c != 0);

	return q > UINT64_MAX ? UINT64_MAX : (uint64_t)q;
}

/* Number of ticks of a hz clock completed at time ns. */
static inline uint64_t dm_clock_ticks(uint64_t hz, uint64_t ns)
{
	return dm_muldiv64(ns, hz, DM_NS_PER_SEC);
}

/* First nanosecond at which tick k has happened (DM_TIME_NEVER if beyond). */
static inline uint64_t dm_clock_edge_ns(uint64_t hz, uint64_t k)
{
	return dm_muldiv64_ceil(k, DM_NS_PER_SEC, hz);
}

#endif
