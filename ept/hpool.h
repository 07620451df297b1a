/* SPDX-License-Identifier: MIT */
/*
 * ept/hpool.h - the host-physical frame pool as the translation hot path sees
 * it: a base pointer and a size, so that reading an entry at an HPA is one
 * inline load. Creation, allocation and accounting are in ept/ept.h.
 */
#ifndef HV_HPOOL_H
#define HV_HPOOL_H

#include <stdint.h>

struct hpool_priv;

/*
 * The pool. base/size are public so that hpool_ptr() can be inline on the
 * translation hot path; everything else is private to ept/pool.c.
 *   base, size, fd: set once at creation.
 */
struct hpool {
	uint8_t *base;
	uint64_t size;
	int fd;                 /* memfd behind base (HPA = file offset), or -1 */
	struct hpool_priv *priv;
};

/* Host pointer for an HPA. Precondition: hpa + len <= pool->size. */
static inline void *hpool_ptr(const struct hpool *pool, uint64_t hpa)
{
	return pool->base + hpa;
}

static inline uint64_t hpool_read64(const struct hpool *pool, uint64_t hpa)
{
	return *(const volatile uint64_t *)(pool->base + hpa);
}

static inline void hpool_write64(struct hpool *pool, uint64_t hpa, uint64_t v)
{
	*(volatile uint64_t *)(pool->base + hpa) = v;
}

#endif /* HV_HPOOL_H */
