/* SPDX-License-Identifier: MIT */
/*
 * ept/cache.h - the set-associative, LRU-replaced translation cache that every
 * TLB, paging-structure cache, nested TLB, IOTLB and context cache is an
 * instance of. Read this header first if you build a new translation cache.
 *
 * The cache knows nothing of the structure it models: the caller chooses
 * what an entry's key means and what its payload (val, aux, attr) holds.
 *
 *   key:  (address >> shift) with the shift itself in bits 63:58
 *         (cache_key()), so that a structure holding several page sizes (a
 *         unified L2 TLB, an IOTLB) never confuses a 4 KiB page number with a
 *         2 MiB one. A caller with keys that are not addresses (a context
 *         cache keyed by a PCI source id) uses cache_key(id, 0).
 *   tag:  who the entry belongs to, in neutral terms:
 *           domain: the translation domain (0 = none). The MMU puts the
 *                   EP4TA | 1 here (SDM 28.3.1); an IOMMU its domain id.
 *           vmid:   the virtual-machine tag (the MMU: VPID; 0 if unused).
 *           asid:   the address-space id (the MMU: PCID; an IOMMU: PASID).
 *         An entry filled as `global` matches any asid (SDM 4.10.2.4).
 *
 * Geometry: cache_geom { entries, ways }; entries == ways is fully
 * associative. A structure is "perfect" (never evicts: reference experiments)
 * or finite; a disabled structure is simply not created (entries == 0).
 * Every lookup, hit, miss, fill, eviction and invalidation is counted in the
 * caller's struct cache_stats, so a model's figures are exact.
 */
#ifndef HV_CACHE_H
#define HV_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "ept/compiler.h"

/* A set-associative structure: entries = sets * ways; entries == 0 disables it.
 * ways == entries means fully associative. LRU replacement within a set. */
struct cache_geom {
	unsigned entries;
	unsigned ways;
};

struct cache_stats {
	uint64_t hits, misses, fills, evictions, invalidations;
};

#define CACHE_KEY_SHIFT_POS 58
#define CACHE_KEY_PAGE_MASK ((1ULL << CACHE_KEY_SHIFT_POS) - 1)

static inline uint64_t cache_key(uint64_t addr, unsigned shift)
{
	return (addr >> shift) | ((uint64_t)shift << CACHE_KEY_SHIFT_POS);
}
static inline unsigned cache_key_shift(uint64_t key) { return (unsigned)(key >> CACHE_KEY_SHIFT_POS); }
static inline uint64_t cache_key_page(uint64_t key) { return key & CACHE_KEY_PAGE_MASK; }

struct cache_tag {
	uint64_t domain;
	uint32_t asid;
	uint16_t vmid;
};

/*
 * One cached translation. The payload (val, aux, attr) is the caller's, set
 * after cache_fill() (which zeroes it); the cache reads only key, the tag
 * fields, global and valid.
 *   gen: incremented whenever the slot stops meaning what it meant (eviction,
 *        invalidation, refill), so a host-side shortcut that remembers
 *        (entry, gen) can tell cheaply that the model no longer holds it.
 */
struct cache_entry {
	uint64_t key;
	uint64_t domain;
	uint32_t asid;
	uint16_t vmid;
	bool global;
	bool valid;
	uint64_t val;       /* caller's: e.g. the HPA of a page or of a table */
	uint64_t aux;       /* caller's: e.g. the GPA of the same page or table */
	uint64_t lru;       /* last-use stamp; the smallest in a set is evicted */
	uint32_t gen;
	uint32_t attr;      /* caller's: permission and state bits */
};

struct cache_set {
	struct cache_entry *e;
	uint32_t n;    /* finite: always `ways` (slots carry a valid flag); perfect: used */
	uint32_t cap;
};

/*
 * Visible so that a hit can be counted inline; fields other than clock and st
 * are private to ept/cache.c.
 *   sets, storage, nsets, ways, set_mask, perfect, st: set once at creation.
 */
struct cache {
	struct cache_set *sets;
	struct cache_entry *storage;   /* finite structures: all slots */
	uint32_t nsets, ways;
	uint64_t set_mask;             /* nsets - 1 when nsets is a power of two, else 0 */
	bool perfect;
	/* Bit s: an entry whose key has page shift s was filled at some time.
	 * A lookup of a shift never held cannot match and scans nothing; the
	 * caller still counts its miss, so no counter sees the difference. */
	uint64_t held_shifts;
	uint64_t clock;                /* LRU stamp source */
	struct cache_stats *st;
};

/* geom->entries > 0 and a multiple of geom->ways unless perfect (else -EINVAL);
 * counts into *st, which outlives the cache. */
int cache_create(const struct cache_geom *geom, bool perfect, struct cache_stats *st,
		 struct cache **out) HV_MUST_CHECK;
void cache_destroy(struct cache *c);
bool cache_is_perfect(const struct cache *c);

/* Find without side effects (no counting, no LRU update). */
struct cache_entry *cache_find(struct cache *c, uint64_t key, const struct cache_tag *tag);
/* The entry holding addr at any of the 4 KiB, 2 MiB, 1 GiB page sizes (smallest
 * first), without side effects: an IOTLB or nested-TLB lookup. */
struct cache_entry *cache_find_addr(struct cache *c, uint64_t addr, const struct cache_tag *tag);

/* Record a hit on e: counts it and makes e the most recently used of its set. */
static inline void cache_hit(struct cache *c, struct cache_entry *e)
{
	c->st->hits++;
	e->lru = ++c->clock;
}
static inline void cache_miss(struct cache *c) { c->st->misses++; }

/*
 * Make room for (key, tag): reuses an entry with the same key and tag,
 * else an invalid way, else evicts the least recently used way of the set.
 * Returns the entry, valid and most recently used, with its payload zeroed;
 * -ENOMEM only for perfect structures that cannot grow.
 */
int cache_fill(struct cache *c, uint64_t key, const struct cache_tag *tag, bool global,
	       struct cache_entry **out) HV_MUST_CHECK;

/* What an invalidation removes: every condition whose flag is set must hold. */
#define CACHE_INV_VMID         (1u << 0)  /* entry.vmid == vmid */
#define CACHE_INV_NOT_VMID0    (1u << 1)  /* entry.vmid != 0 (INVVPID all-contexts) */
#define CACHE_INV_ASID         (1u << 2)  /* entry.asid == asid */
#define CACHE_INV_ASID_OR_G    (1u << 3)  /* entry.asid == asid or the entry is global (INVLPG) */
#define CACHE_INV_KEEP_GLOBAL  (1u << 4)  /* global entries survive */
#define CACHE_INV_DOMAIN       (1u << 5)  /* entry.domain == domain */
#define CACHE_INV_ANY_DOMAIN   (1u << 6)  /* entry.domain != 0 (INVEPT global) */
#define CACHE_INV_ADDR         (1u << 7)  /* the entry's page contains addr */
#define CACHE_INV_KEY          (1u << 8)  /* entry.key == key (one exact entry) */
#define CACHE_INV_RANGE        (1u << 9)  /* the entry's page overlaps [addr, addr + len) */

struct cache_inval {
	unsigned flags;
	uint16_t vmid;
	uint32_t asid;
	uint64_t domain;
	uint64_t addr;
	uint64_t len;     /* CACHE_INV_RANGE: > 0; addr + len may wrap to exactly 0 (end of space) */
	uint64_t key;
};

/* Remove every matching entry; returns how many (also counted as invalidations). */
unsigned cache_invalidate(struct cache *c, const struct cache_inval *inv);

#endif /* HV_CACHE_H */
