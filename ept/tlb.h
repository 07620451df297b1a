/* SPDX-License-Identifier: MIT */
/*
 * ept/tlb.h - one set-associative, LRU-replaced translation cache.
 *
 * Every structure of enum tlb_id (the L1/L2 TLBs, the paging-structure caches
 * and the nested TLB) is an instance of this one cache: they differ only in
 * what the key means and what the payload holds, which ept/mmu.c decides.
 *
 *   key:  (address >> shift) with the shift itself in bits 63:58, so that a
 *         structure holding several page sizes (the unified L2) never confuses
 *         a 4 KiB page number with a 2 MiB one.
 *   tag:  VPID, PCID and the EPTP in use (SDM 28.3.1: combined mappings are
 *         tagged by VPID, PCID and EP4TA; guest-physical ones by EP4TA only).
 *
 * Internal to ept/: nothing outside ept/mmu.c and the tests uses it.
 */
#ifndef HV_TLB_H
#define HV_TLB_H

#include <stdbool.h>
#include <stdint.h>

#include "ept/mmu.h"

#define TLB_KEY_SHIFT_POS 58
#define TLB_KEY_PAGE_MASK ((1ULL << TLB_KEY_SHIFT_POS) - 1)

static inline uint64_t tlb_key(uint64_t addr, unsigned shift)
{
	return (addr >> shift) | ((uint64_t)shift << TLB_KEY_SHIFT_POS);
}
static inline unsigned tlb_key_shift(uint64_t key) { return (unsigned)(key >> TLB_KEY_SHIFT_POS); }

/* attr bit shared by every structure: the entry matches any PCID (SDM 4.10.2.4). */
#define TLB_ATTR_GLOBAL (1u << 31)

/*
 * One cached translation. The payload (val, aux, attr) is set by the caller
 * after tlb_fill(); the cache itself only reads key, tag, vpid, pcid and the
 * global bit.
 *   gen: incremented whenever the slot stops meaning what it meant (eviction,
 *        invalidation, refill), so a host-side shortcut that remembers
 *        (entry, gen) can tell cheaply that the model no longer holds it.
 */
struct tlb_entry {
	uint64_t key;
	uint64_t eptp_tag;  /* EP4TA | 1 with EPT; 0 without a second stage */
	uint64_t val;       /* HPA: of the page, or of the next table */
	uint64_t aux;       /* GPA of the same page or table (reports, traces) */
	uint64_t lru;       /* last-use stamp; the smallest in a set is evicted */
	uint32_t gen;
	uint32_t attr;
	uint16_t vpid, pcid;
	bool valid;
};

struct tlb_tag {
	uint64_t eptp_tag;
	uint16_t vpid, pcid;
};

struct tlb_set {
	struct tlb_entry *e;
	uint32_t n;    /* finite: always `ways` (slots carry a valid flag); perfect: used */
	uint32_t cap;
};

/*
 * Visible so that the MMU's hit path can count inline; fields other than
 * clock and st are private to ept/tlb.c.
 *   sets, storage, nsets, ways, set_mask, perfect, st: set once at creation.
 */
struct tlb {
	struct tlb_set *sets;
	struct tlb_entry *storage;   /* finite structures: all slots */
	uint32_t nsets, ways;
	uint64_t set_mask;           /* nsets - 1 when nsets is a power of two, else 0 */
	bool perfect;
	uint64_t clock;              /* LRU stamp source */
	struct cache_stats *st;
};

/* geom->entries > 0 and a multiple of geom->ways unless perfect; counts into *st. */
int tlb_create(const struct cache_geom *geom, bool perfect, struct cache_stats *st,
	       struct tlb **out) HV_MUST_CHECK;
void tlb_destroy(struct tlb *t);
bool tlb_is_perfect(const struct tlb *t);

/* Find without side effects (no counting, no LRU update). */
struct tlb_entry *tlb_find(struct tlb *t, uint64_t key, const struct tlb_tag *tag);

/* Record a hit on e: counts it and makes e the most recently used of its set. */
static inline void tlb_touch(struct tlb *t, struct tlb_entry *e)
{
	t->st->hits++;
	e->lru = ++t->clock;
}
static inline void tlb_count_miss(struct tlb *t) { t->st->misses++; }

/*
 * Make room for (key, tag): reuses an entry with the same key and tag,
 * else an invalid way, else evicts the least recently used way of the set.
 * Returns the entry, valid and most recently used, with its payload zeroed;
 * -ENOMEM only for perfect structures that cannot grow.
 */
int tlb_fill(struct tlb *t, uint64_t key, const struct tlb_tag *tag, bool global,
	     struct tlb_entry **out) HV_MUST_CHECK;

/* What an invalidation removes: every condition whose flag is set must hold. */
#define INV_VPID        (1u << 0)  /* entry.vpid == vpid */
#define INV_NOT_VPID0   (1u << 1)  /* entry.vpid != 0 (INVVPID all-contexts) */
#define INV_PCID        (1u << 2)  /* entry.pcid == pcid */
#define INV_PCID_OR_G   (1u << 3)  /* entry.pcid == pcid or the entry is global (INVLPG) */
#define INV_KEEP_GLOBAL (1u << 4)  /* global entries survive */
#define INV_EPTP        (1u << 5)  /* entry.eptp_tag == eptp_tag */
#define INV_ANY_EPTP    (1u << 6)  /* entry.eptp_tag != 0 (INVEPT global) */
#define INV_ADDR        (1u << 7)  /* the entry's page contains addr */
#define INV_KEY         (1u << 8)  /* entry.key == key (one paging-structure-cache entry) */

struct tlb_inval {
	unsigned flags;
	uint16_t vpid, pcid;
	uint64_t eptp_tag;
	uint64_t addr;
	uint64_t key;
};

/* Remove every matching entry; returns how many (also counted as invalidations). */
unsigned tlb_invalidate(struct tlb *t, const struct tlb_inval *inv);

#endif /* HV_TLB_H */
