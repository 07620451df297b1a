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
#include <stddef.h>
#include <stdint.h>

#include "ept/compiler.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
 *   gen:  incremented whenever the slot stops meaning what it meant (eviction,
 *         invalidation, refill), so a host-side shortcut that remembers
 *         (entry, gen) can tell cheaply that the model no longer holds it.
 *   slot: where the entry's LRU stamp lives (cache_lru()); private.
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
	uint32_t gen;
	uint32_t attr;      /* caller's: permission and state bits */
	uint32_t slot;
};

/* The key of an empty slot in cache.keys[]: cache_key() never yields it (its
 * page-number bits are at most 58 - shift wide, and shift < 63). */
#define CACHE_KEY_NONE (~0ULL)

struct cache_set {
	struct cache_entry *e;
	uint32_t n;    /* entries in use */
	uint32_t cap;
};

/*
 * Visible so that lookups and hits are inline; the fields are private to
 * ept/cache.c except through the functions below.
 *
 * A finite structure is laid out for the lookup: keys[] holds each slot's
 * key (CACHE_KEY_NONE when empty) and lru[] its last-use stamp, both packed
 * by set (set s is slots s * ways .. s * ways + ways - 1), so a lookup
 * compares keys without touching the entries and a fill finds its victim
 * from keys[] and lru[] in one pass (a set with an empty slot, counted in
 * empty[], takes the general pass); storage[] holds the entries
 * themselves. A perfect structure keeps growable buckets (sets[]) and one
 * scratch stamp in lru[] (it never evicts, so its stamps mean nothing).
 *   fast: finite with a power-of-two number of sets (set = page & set_mask),
 *         the inline lookup's case; anything else goes out of line.
 *   fp:   finite with at most CACHE_FP_MAX_WAYS ways: a one-byte
 *         fingerprint of each slot's key (cache_fp()), fp_stride bytes a set
 *         (the ways rounded up to a multiple of CACHE_FP_STRIDE), so that a
 *         lookup compares CACHE_FP_STRIDE ways at once and reads keys[] only
 *         where the fingerprint matches. An empty slot's byte, and the bytes
 *         past the last way, mean nothing: the lookup masks the latter, and
 *         an empty slot's key never matches.
 */
struct cache {
	uint64_t *keys;
	uint64_t *lru;
	uint32_t *empty;               /* finite: empty slots of each set */
	struct cache_entry *storage;
	uint8_t *fp;                   /* finite, ways <= CACHE_FP_MAX_WAYS: see above */
	uint32_t fp_stride;            /* bytes of fp[] a set */
	/* finite, CACHE_AGE_MIN_WAYS..CACHE_AGE_MAX_WAYS ways: each set's age
	 * order (cache_age_victim()), ways bytes a set in age_order[] */
	struct cache_age *age;
	uint8_t *age_order;
	struct cache_set *sets;        /* perfect only */
	uint32_t nsets, ways;
	uint64_t set_mask;
	bool fast;
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
static inline bool cache_is_perfect(const struct cache *c) { return c->perfect; }

static inline bool cache_tag_match(const struct cache_entry *e, const struct cache_tag *tag)
{
	return e->domain == tag->domain && e->vmid == tag->vmid &&
	       (e->asid == tag->asid || e->global);
}

#define CACHE_FP_STRIDE 16
#define CACHE_FP_MAX_WAYS 128

/* The fingerprint bytes of a set of `ways` ways. */
static inline uint32_t cache_fp_stride_of(uint32_t ways)
{
	return (ways + CACHE_FP_STRIDE - 1) & ~(uint32_t)(CACHE_FP_STRIDE - 1);
}

/* The lookup's mask of the CACHE_FP_STRIDE ways from way g (a multiple of
 * CACHE_FP_STRIDE below ways) of a set of `ways` ways. */
static inline __attribute__((always_inline)) uint32_t cache_fp_mask(uint32_t ways, uint32_t g)
{
	return ways - g >= CACHE_FP_STRIDE ? (1u << CACHE_FP_STRIDE) - 1 : (1u << (ways - g)) - 1;
}

/* The fingerprint of a key: eight bits of a multiplicative hash, which every
 * key bit moves (the set index bits included, though they never differ
 * within a set). */
static inline uint8_t cache_fp(uint64_t key)
{
	return (uint8_t)((key * 0x9e3779b97f4a7c15ULL) >> 56);
}

/* Bit i set: way i of the set at fp_set (CACHE_FP_STRIDE bytes) holds
 * fingerprint f (ways beyond the set's own are masked off by the caller). */
static inline uint32_t cache_fp_match(const uint8_t *fp_set, uint8_t f)
{
#if defined(__SSE2__)
	__m128i v = _mm_load_si128((const __m128i *)fp_set);

	return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)f)));
#else
	uint32_t m = 0, i;

	for (i = 0; i < CACHE_FP_STRIDE; i++)
		m |= (uint32_t)(fp_set[i] == f) << i;
	return m;
#endif
}

/* Out of line: perfect structures and set counts that are not powers of two. */
struct cache_entry *cache_find_slow(struct cache *c, uint64_t key, const struct cache_tag *tag);

/*
 * What a caller knows at compile time of a structure's geometry. The inline
 * lookup and fill below take one: over a constant shape (a preset's
 * structure) the compiler folds the set mask, the number of ways and the
 * loops, so the same code is both the general lookup (CACHE_ANY: nothing
 * known, every value read from the structure) and an instance for one
 * geometry. A known shape must be the structure's own (cache_has_shape()):
 * finite, `sets` a power of two, `ways` ways.
 */
struct cache_shape {
	uint32_t sets;    /* 0: not known */
	uint32_t ways;
};
#define CACHE_ANY ((struct cache_shape){ 0, 0 })

/* Whether sh describes c (a perfect structure has no known shape). */
static inline bool cache_has_shape(const struct cache *c, struct cache_shape sh)
{
	return sh.sets && !c->perfect && c->fast && c->nsets == sh.sets && c->ways == sh.ways;
}

static inline __attribute__((always_inline)) uint64_t cache_set_mask(const struct cache *c,
								       struct cache_shape sh)
{
	return sh.sets ? sh.sets - 1 : c->set_mask;
}
static inline __attribute__((always_inline)) uint32_t cache_ways(const struct cache *c,
								  struct cache_shape sh)
{
	return sh.sets ? sh.ways : c->ways;
}
/* Whether c keeps fingerprints, and how many bytes of them a set has. */
static inline __attribute__((always_inline)) bool cache_has_fp(const struct cache *c,
								struct cache_shape sh)
{
	return sh.sets ? sh.ways <= CACHE_FP_MAX_WAYS : c->fp != NULL;
}
static inline __attribute__((always_inline)) uint32_t cache_fp_stride(const struct cache *c,
								       struct cache_shape sh)
{
	return sh.sets ? cache_fp_stride_of(sh.ways) : c->fp_stride;
}

/* cache_find once the key's page shift is known to have been held, for a
 * structure of shape sh; fp is cache_fp(key) (a caller that looks the same
 * key up in several structures makes it once). */
static inline __attribute__((always_inline)) struct cache_entry *
cache_find_held_fp_s(struct cache *c, uint64_t key, uint8_t fp, const struct cache_tag *tag,
		     struct cache_shape sh)
{
	const uint32_t ways = cache_ways(c, sh);
	const uint64_t *k;
	uint32_t base, i, si, m, g;

	if (!sh.sets && __builtin_expect(!c->fast, 0))
		return cache_find_slow(c, key, tag);
	si = (uint32_t)(key & cache_set_mask(c, sh));
	base = si * ways;
	k = c->keys + base;
	if (__builtin_expect(cache_has_fp(c, sh), 1)) {
		const uint8_t *f = c->fp + (size_t)si * cache_fp_stride(c, sh);

		/* CACHE_FP_STRIDE ways at once; keys[] only where the
		 * fingerprint matches, lowest way first as the scan below. */
		for (g = 0; g < ways; g += CACHE_FP_STRIDE) {
			m = cache_fp_match(f + g, fp) & cache_fp_mask(ways, g);
			for (; m; m &= m - 1) {
				i = g + (uint32_t)__builtin_ctz(m);
				if (k[i] == key && cache_tag_match(&c->storage[base + i], tag))
					return &c->storage[base + i];
			}
		}
		return NULL;
	}
	for (i = 0; i < ways; i++)
		if (k[i] == key && cache_tag_match(&c->storage[base + i], tag))
			return &c->storage[base + i];
	return NULL;
}

/* cache_find once the key's page shift is known to have been held, for a
 * structure of shape sh. */
static inline __attribute__((always_inline)) struct cache_entry *
cache_find_held_s(struct cache *c, uint64_t key, const struct cache_tag *tag, struct cache_shape sh)
{
	return cache_find_held_fp_s(c, key, cache_fp(key), tag, sh);
}

/* cache_find once the key's page shift is known to have been held. */
static inline __attribute__((always_inline)) struct cache_entry *cache_find_held(struct cache *c, uint64_t key,
						  const struct cache_tag *tag)
{
	return cache_find_held_s(c, key, tag, CACHE_ANY);
}

/* Find without side effects (no counting, no LRU update). */
static inline __attribute__((always_inline)) struct cache_entry *cache_find(struct cache *c, uint64_t key,
					     const struct cache_tag *tag)
{
	if (!((c->held_shifts >> cache_key_shift(key)) & 1))
		return NULL;
	return cache_find_held(c, key, tag);
}

/* cache_find(c, cache_key(addr, shift), tag) for a structure of shape sh,
 * with no key made for a page size the structure never held. */
static inline __attribute__((always_inline)) struct cache_entry *
cache_find_at_s(struct cache *c, uint64_t addr, unsigned shift, const struct cache_tag *tag,
		struct cache_shape sh)
{
	if (!((c->held_shifts >> shift) & 1))
		return NULL;
	return cache_find_held_s(c, cache_key(addr, shift), tag, sh);
}

static inline __attribute__((always_inline)) struct cache_entry *cache_find_at(struct cache *c, uint64_t addr, unsigned shift,
						const struct cache_tag *tag)
{
	return cache_find_at_s(c, addr, shift, tag, CACHE_ANY);
}

/* The entry holding addr at any of the 4 KiB, 2 MiB, 1 GiB page sizes (smallest
 * first), without side effects: an IOTLB or nested-TLB lookup. */
static inline struct cache_entry *cache_find_addr(struct cache *c, uint64_t addr,
						  const struct cache_tag *tag)
{
	struct cache_entry *e = cache_find_at(c, addr, 12, tag);

	if (!e)
		e = cache_find_at(c, addr, 21, tag);
	if (!e)
		e = cache_find_at(c, addr, 30, tag);
	return e;
}

/* Where e's last-use stamp lives (a host-side shortcut stamps it on a hit). */
static inline uint64_t *cache_lru(struct cache *c, const struct cache_entry *e)
{
	return &c->lru[e->slot];
}

/* Record a hit on e: counts it and makes e the most recently used of its set. */
static inline void cache_hit(struct cache *c, struct cache_entry *e)
{
	c->st->hits++;
	c->lru[e->slot] = ++c->clock;
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

/* Private to the fills: v becomes (key, tag), valid, most recently used,
 * its payload zeroed, and counts as a fill. */
static inline __attribute__((always_inline)) void cache_take(struct cache *c, struct cache_entry *v, uint64_t key,
			      const struct cache_tag *tag, bool global)
{
	v->gen++;
	v->key = key;
	v->domain = tag->domain;
	v->vmid = tag->vmid;
	v->asid = tag->asid;
	v->global = global;
	v->valid = true;
	v->val = 0;
	v->aux = 0;
	v->attr = 0;
	c->lru[v->slot] = ++c->clock;
	c->held_shifts |= 1ULL << cache_key_shift(key);
	c->st->fills++;
}

/* The way of the n stamps at l with the smallest (the least recently used;
 * stamps are unique). */
static inline __attribute__((always_inline)) uint32_t cache_lru_oldest_n(const uint64_t *l,
									 uint32_t n)
{
	uint64_t oldest = l[0];
	uint32_t i, j = 0;

#pragma GCC unroll 16
	for (i = 1; i < n; i++) {
		j = l[i] < oldest ? i : j;
		oldest = l[i] < oldest ? l[i] : oldest;
	}
	return j;
}

/* cache_lru_oldest_n, unrolled for the usual associativities. */
static inline __attribute__((always_inline)) uint32_t cache_lru_oldest(const uint64_t *l,
								       uint32_t n)
{
	switch (n) {
	case 4:
		return cache_lru_oldest_n(l, 4);
	case 8:
		return cache_lru_oldest_n(l, 8);
	case 12:
		return cache_lru_oldest_n(l, 12);
	case 16:
		return cache_lru_oldest_n(l, 16);
	default:
		return cache_lru_oldest_n(l, n);
	}
}

/*
 * The age order of a set of many ways. A fill after a miss into a full set
 * evicts the way with the smallest stamp, and finding it among the stamps
 * costs a compare and two selects a way. A set of CACHE_AGE_MIN_WAYS or more
 * ways keeps instead its ways as they were ordered by stamp at one moment
 * (age[].mark, the structure's clock then) in age_order[], and takes them
 * from the front: the next is age_order[ways - left].
 *
 * Every stamp is written with a clock value newer than every stamp before
 * it (a fill, a hit, and the MMU shortcut's hit in ept/mmu.h: `*lru =
 * ++*clock`, or `*clock += n` and then `*lru = *clock`), so a way whose
 * stamp is still at most mark has not been used since, and a way used since
 * is newer than every way that was not. The first way from the front whose
 * stamp is at most mark is therefore the oldest of the set, the way the scan
 * of the stamps picks. A way used since mark is passed over, and so is the
 * victim, which the fill stamps newest. When every way has been passed
 * (left == 0), cache_age_sort() orders the set by stamp again (mostly in
 * order already: the victims were stamped in the order they were taken)
 * and mark becomes the clock.
 */
#define CACHE_AGE_MIN_WAYS 8
#define CACHE_AGE_MAX_WAYS 256

struct cache_age {
	uint64_t mark;
	uint32_t left;
};

/* Whether c keeps an age order (a structure of shape sh). */
static inline __attribute__((always_inline)) bool cache_has_age(const struct cache *c,
								 struct cache_shape sh)
{
	return sh.sets ? sh.ways >= CACHE_AGE_MIN_WAYS && sh.ways <= CACHE_AGE_MAX_WAYS
		       : c->age != NULL;
}

/* Out of line: set si's age order sorted by stamp again, mark the clock. */
void cache_age_sort(struct cache *c, uint32_t si);

/* The oldest way of the full set si of c (which keeps an age order), by it. */
static inline __attribute__((always_inline)) uint32_t cache_age_victim(struct cache *c,
									uint32_t si, uint32_t ways)
{
	struct cache_age *a = &c->age[si];
	const uint64_t *l = c->lru + (size_t)si * ways;
	const uint8_t *o = c->age_order + (size_t)si * ways;
	uint32_t w;

	do {
		if (__builtin_expect(a->left == 0, 0))
			cache_age_sort(c, si);
		w = o[ways - a->left--];
	} while (__builtin_expect(l[w] > a->mark, 0));
	return w;
}

/*
 * cache_fill after a lookup of (key, tag) in c that missed, with nothing
 * filled into c since: the same entry cache_fill would choose, without
 * looking for the key again. c has shape sh.
 */
static inline __attribute__((always_inline)) int HV_MUST_CHECK
cache_fill_missed_s(struct cache *c, uint64_t key, const struct cache_tag *tag, bool global,
		    struct cache_entry **out, struct cache_shape sh)
{
	const uint32_t ways = cache_ways(c, sh);
	uint32_t si, base, j;
	struct cache_entry *v;

	si = (uint32_t)(key & cache_set_mask(c, sh));
	/* A set with an empty way, and the other layouts: cache_fill finds
	 * no entry to reuse either. */
	if (__builtin_expect((!sh.sets && !c->fast) || c->empty[si] != 0, 0)) {
		/* A copy: the caller's tag can stay in registers. */
		struct cache_tag t = *tag;

		return cache_fill(c, key, &t, global, out);
	}
	base = si * ways;
	j = cache_has_age(c, sh) ? cache_age_victim(c, si, ways) : cache_lru_oldest(c->lru + base, ways);
	/* A full set: the oldest way is evicted. */
	v = &c->storage[base + j];
	c->st->evictions++;
	c->keys[base + j] = key;
	if (cache_has_fp(c, sh))
		c->fp[(size_t)si * cache_fp_stride(c, sh) + j] = cache_fp(key);
	cache_take(c, v, key, tag, global);
	*out = v;
	return 0;
}

static inline __attribute__((always_inline)) int HV_MUST_CHECK cache_fill_missed(struct cache *c, uint64_t key,
						  const struct cache_tag *tag, bool global,
						  struct cache_entry **out)
{
	return cache_fill_missed_s(c, key, tag, global, out, CACHE_ANY);
}

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
