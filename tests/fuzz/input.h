/* SPDX-License-Identifier: MIT */
/* tests/fuzz/input.h - reading a harness's input bytes. */
#ifndef HV_FUZZ_INPUT_H
#define HV_FUZZ_INPUT_H

#include <stdint.h>
#include <string.h>

/* The 8 bytes at p as a little-endian value (any alignment). */
static inline uint64_t fuzz_u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

#endif /* HV_FUZZ_INPUT_H */
