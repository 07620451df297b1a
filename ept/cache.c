/* SPDX-License-Identifier: MIT */
/*
 * ept/cache.c - the set-associative LRU cache behind every TLB,
 * paging-structure cache and IOMMU cache of the model (see ept/cache.h).
 *
 * A finite structure is `sets` x `ways` slots in one array; a set is chosen
 * by the low bits of the page number (as hardware indexes by the low VPN
 * bits) and LRU is kept with a per-structure clock stamped on every use.
 * A "perfect" structure (reference experiments: never evicts) is a hash of
 * growable buckets; its entries move when a bucket grows, which is why the
 * MMU's host-side shortcut never points into a perfect structure.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ept/cache.h"

#define PERFECT_BUCKETS 4096u

/* The page sizes an address can be cached at: 4 KiB, 2 MiB, 1 GiB. */
static const unsigned page_shifts[3] = { 12, 21, 30 };
#define CACHE_MAX_ENTRIES (1u << 22)

static inline uint32_t set_index(const struct cache *c, uint64_t key)
{
	uint64_t page = key & CACHE_KEY_PAGE_MASK;

	if (c->perfect) {
		/* Fibonacci hashing spreads sequential pages and every size. */
		uint64_t h = (key ^ (key >> 29)) * 0x9e3779b97f4a7c15ULL;
		return (uint32_t)(h >> 52) & (PERFECT_BUCKETS - 1);
	}
	if (c->fast)
		return (uint32_t)(page & c->set_mask);
	return (uint32_t)(page % c->nsets);
}

int cache_create(const struct cache_geom *geom, bool perfect, struct cache_stats *st,
	       struct cache **out)
{
	struct cache *c;
	uint32_t i;

	if (!perfect && (geom->entries == 0 || geom->ways == 0 ||
			 geom->entries % geom->ways != 0 || geom->entries > CACHE_MAX_ENTRIES))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->perfect = perfect;
	c->st = st;
	if (perfect) {
		c->nsets = PERFECT_BUCKETS;
		c->sets = calloc(c->nsets, sizeof(*c->sets));
		c->lru = calloc(1, sizeof(*c->lru));
		if (!c->sets || !c->lru)
			goto fail;
	} else {
		c->ways = geom->ways;
		c->nsets = geom->entries / geom->ways;
		if ((c->nsets & (c->nsets - 1)) == 0) {
			c->set_mask = c->nsets - 1;
			c->fast = true;
		}
		c->storage = calloc(geom->entries, sizeof(*c->storage));
		c->keys = malloc((size_t)geom->entries * sizeof(*c->keys));
		c->lru = calloc(geom->entries, sizeof(*c->lru));
		c->empty = malloc((size_t)c->nsets * sizeof(*c->empty));
		if (!c->storage || !c->keys || !c->lru || !c->empty)
			goto fail;
		if (c->ways <= CACHE_FP_MAX_WAYS) {
			size_t n;

			c->fp_stride = cache_fp_stride_of(c->ways);
			n = (size_t)c->nsets * c->fp_stride;
			if (posix_memalign((void **)&c->fp, CACHE_FP_STRIDE, n) != 0) {
				c->fp = NULL;
				goto fail;
			}
			memset(c->fp, 0, n);
		}
		if (c->ways >= CACHE_AGE_MIN_WAYS && c->ways <= CACHE_AGE_MAX_WAYS) {
			/* Sorted at the first fill into a full set (left 0). */
			c->age = calloc(c->nsets, sizeof(*c->age));
			c->age_order = malloc(geom->entries);
			if (!c->age || !c->age_order)
				goto fail;
			for (i = 0; i < geom->entries; i++)
				c->age_order[i] = (uint8_t)(i % c->ways);
		}
		for (i = 0; i < c->nsets; i++)
			c->empty[i] = c->ways;
		for (i = 0; i < geom->entries; i++) {
			c->keys[i] = CACHE_KEY_NONE;
			c->storage[i].slot = i;
		}
	}
	*out = c;
	return 0;

fail:
	free(c->age_order);
	free(c->age);
	free(c->fp);
	free(c->empty);
	free(c->sets);
	free(c->lru);
	free(c->keys);
	free(c->storage);
	free(c);
	return -ENOMEM;
}

void cache_destroy(struct cache *c)
{
	uint32_t i;

	if (!c)
		return;
	if (c->perfect)
		for (i = 0; i < c->nsets; i++)
			free(c->sets[i].e);
	free(c->age_order);
	free(c->age);
	free(c->fp);
	free(c->empty);
	free(c->sets);
	free(c->lru);
	free(c->keys);
	free(c->storage);
	free(c);
}


void cache_age_sort(struct cache *c, uint32_t si)
{
	const uint32_t n = c->ways;
	const uint64_t *l = c->lru + (size_t)si * n;
	uint8_t *o = c->age_order + (size_t)si * n;
	uint64_t top = l[o[0]];   /* the newest stamp of o[0..i) */
	uint32_t i, j;

	/* Insertion sort by stamp (ties, which unique stamps never make, by
	 * way, as the scan breaks them); a way newer than every way before it
	 * stays where it is, the usual case. */
	for (i = 1; i < n; i++) {
		const uint8_t w = o[i];
		const uint64_t v = l[w];

		if (__builtin_expect(v > top, 1)) {
			top = v;
			continue;
		}
		for (j = i; j > 0 && (l[o[j - 1]] > v || (l[o[j - 1]] == v && o[j - 1] > w)); j--)
			o[j] = o[j - 1];
		o[j] = w;
	}
	c->age[si].mark = c->clock;
	c->age[si].left = n;
}

static inline bool tag_match(const struct cache_entry *e, uint64_t key, const struct cache_tag *tag)
{
	return e->valid && e->key == key && cache_tag_match(e, tag);
}

struct cache_entry *cache_find_slow(struct cache *c, uint64_t key, const struct cache_tag *tag)
{
	uint32_t si = set_index(c, key), i;

	if (c->perfect) {
		struct cache_set *s = &c->sets[si];

		for (i = 0; i < s->n; i++)
			if (tag_match(&s->e[i], key, tag))
				return &s->e[i];
		return NULL;
	}
	for (i = si * c->ways; i < (si + 1) * c->ways; i++)
		if (c->keys[i] == key && cache_tag_match(&c->storage[i], tag))
			return &c->storage[i];
	return NULL;
}

/* A perfect bucket's slot for a key it does not hold yet. */
static int perfect_slot(struct cache_set *s, struct cache_entry **out)
{
	if (s->n == s->cap) {
		uint32_t cap = s->cap ? s->cap * 2 : 4;
		struct cache_entry *e = realloc(s->e, (size_t)cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		s->e = e;
		s->cap = cap;
	}
	*out = &s->e[s->n++];
	memset(*out, 0, sizeof(**out));
	return 0;
}

/* The perfect structure's fill: the entry already there, else a new one. */
static int perfect_fill(struct cache *c, uint64_t key, const struct cache_tag *tag,
			struct cache_entry **out)
{
	struct cache_set *s = &c->sets[set_index(c, key)];
	uint32_t i;

	for (i = 0; i < s->n; i++)
		if (tag_match(&s->e[i], key, tag)) {
			*out = &s->e[i];
			return 0;
		}
	return perfect_slot(s, out);
}

/* The general finite fill (see cache_fill): one pass over the set. */
static uint32_t fill_slot_general(struct cache *c, uint32_t base, uint64_t key,
				  const struct cache_tag *tag, bool *reuse)
{
	uint32_t i, pick = base, empty = UINT32_MAX;
	uint64_t oldest = UINT64_MAX;

	for (i = base; i < base + c->ways; i++) {
		uint64_t k = c->keys[i];

		if (k == key && cache_tag_match(&c->storage[i], tag)) {
			*reuse = true;
			return i;
		}
		if (k == CACHE_KEY_NONE) {
			if (empty == UINT32_MAX)
				empty = i;
		} else if (c->lru[i] < oldest) {
			oldest = c->lru[i];
			pick = i;
		}
	}
	return empty != UINT32_MAX ? empty : pick;
}

/* Slot `pick` of set si becomes key's (it already is when reuse). */
static struct cache_entry *fill_slot(struct cache *c, uint32_t si, uint32_t pick, bool reuse,
				     uint64_t key)
{
	struct cache_entry *victim = &c->storage[pick];

	if (!reuse) {
		if (c->keys[pick] != CACHE_KEY_NONE)
			c->st->evictions++;
		else
			c->empty[si]--;
		c->keys[pick] = key;
		if (c->fp)
			c->fp[(size_t)si * c->fp_stride + (pick - si * c->ways)] = cache_fp(key);
	}
	return victim;
}

int cache_fill(struct cache *c, uint64_t key, const struct cache_tag *tag, bool global,
	     struct cache_entry **out)
{
	struct cache_entry *victim;
	uint32_t si, base, i, pick;
	bool reuse = false;
	int rc;

	if (c->perfect) {
		rc = perfect_fill(c, key, tag, &victim);
		if (rc)
			return rc;
		goto fill;
	}
	/*
	 * A refill of a translation already held (a write after a read-only
	 * fill, or a re-walk after a permission failure) replaces it in place:
	 * one translation never occupies two ways. (A global entry matches any
	 * ASID, so refilling it must not add a duplicate beside it.) Else the
	 * first empty way, else the least recently used one (stamps are unique).
	 * The usual case, a full set without the key, is one pass over the keys
	 * and one over the stamps.
	 */
	si = set_index(c, key);
	base = si * c->ways;
	if (__builtin_expect(c->empty[si] == 0, 1)) {
		const uint64_t *k = c->keys + base, *l = c->lru + base;
		uint64_t oldest = UINT64_MAX;
		uint32_t n = c->ways, j = 0;

		for (i = 0; i < n; i++) {
			if (__builtin_expect(k[i] == key, 0))
				break;
			j = l[i] < oldest ? i : j;
			oldest = l[i] < oldest ? l[i] : oldest;
		}
		pick = base + j;
		if (i < n)
			pick = fill_slot_general(c, base, key, tag, &reuse);
	} else {
		pick = fill_slot_general(c, base, key, tag, &reuse);
	}
	victim = fill_slot(c, si, pick, reuse, key);
fill:
	cache_take(c, victim, key, tag, global);
	*out = victim;
	return 0;
}

static bool inval_match(const struct cache_entry *e, const struct cache_inval *inv)
{
	unsigned f = inv->flags;

	if (!e->valid)
		return false;
	if ((f & CACHE_INV_VMID) && e->vmid != inv->vmid)
		return false;
	if ((f & CACHE_INV_NOT_VMID0) && e->vmid == 0)
		return false;
	if ((f & CACHE_INV_ASID) && e->asid != inv->asid)
		return false;
	if ((f & CACHE_INV_ASID_OR_G) && e->asid != inv->asid && !e->global)
		return false;
	if ((f & CACHE_INV_KEEP_GLOBAL) && e->global)
		return false;
	if ((f & CACHE_INV_DOMAIN) && e->domain != inv->domain)
		return false;
	if ((f & CACHE_INV_ANY_DOMAIN) && e->domain == 0)
		return false;
	if ((f & CACHE_INV_KEY) && e->key != inv->key)
		return false;
	if (f & CACHE_INV_ADDR) {
		unsigned shift = cache_key_shift(e->key);

		if ((e->key & CACHE_KEY_PAGE_MASK) != (inv->addr >> shift))
			return false;
	}
	if (f & CACHE_INV_RANGE) {
		unsigned shift = cache_key_shift(e->key);
		uint64_t first = (e->key & CACHE_KEY_PAGE_MASK) << shift;
		uint64_t last = first + ((1ULL << shift) - 1);

		/* Overlap of [first, last] and [addr, addr + len - 1], without overflow. */
		if (last < inv->addr || (first > inv->addr && first - inv->addr > inv->len - 1))
			return false;
	}
	return true;
}

static unsigned inval_set(struct cache *c, uint32_t si, const struct cache_inval *inv)
{
	unsigned n = 0;
	uint32_t i = 0;

	if (c->perfect) {
		struct cache_set *s = &c->sets[si];

		while (i < s->n) {
			if (!inval_match(&s->e[i], inv)) {
				i++;
				continue;
			}
			/* Swap-remove: perfect buckets hold only valid entries. */
			s->e[i] = s->e[--s->n];
			n++;
		}
		return n;
	}
	for (i = si * c->ways; i < (si + 1) * c->ways; i++) {
		struct cache_entry *e = &c->storage[i];

		if (c->keys[i] == CACHE_KEY_NONE || !inval_match(e, inv))
			continue;
		e->valid = false;
		e->gen++;
		c->keys[i] = CACHE_KEY_NONE;
		c->empty[si]++;
		n++;
	}
	return n;
}

/* inval_set() over the entries of a fast structure's set whose key is key
 * (the rest of the set cannot match an address invalidation for it). */
static unsigned inval_key(struct cache *c, uint64_t key, const struct cache_inval *inv)
{
	uint32_t si = (uint32_t)(key & c->set_mask), base = si * c->ways, m, i, g;
	const uint8_t fp = cache_fp(key);
	unsigned n = 0;

	if (c->empty[si] == c->ways)
		return 0;
	if (c->fp == NULL)
		return inval_set(c, si, inv);
	for (g = 0; g < c->ways; g += CACHE_FP_STRIDE) {
		m = cache_fp_match(c->fp + (size_t)si * c->fp_stride + g, fp) & cache_fp_mask(c->ways, g);
		for (; m; m &= m - 1) {
			i = base + g + (uint32_t)__builtin_ctz(m);
			if (c->keys[i] != key || !inval_match(&c->storage[i], inv))
				continue;
			c->storage[i].valid = false;
			c->storage[i].gen++;
			c->keys[i] = CACHE_KEY_NONE;
			c->empty[si]++;
			n++;
		}
	}
	return n;
}

unsigned cache_invalidate(struct cache *c, const struct cache_inval *inv)
{
	unsigned n = 0;
	uint32_t i;

	if (inv->flags & CACHE_INV_KEY) {
		/* One key lives in one set. */
		n = inval_set(c, set_index(c, inv->key), inv);
	} else if ((inv->flags & CACHE_INV_ADDR) && c->fast &&
		   !(c->held_shifts & ~((1ULL << 12) | (1ULL << 21) | (1ULL << 30)))) {
		/*
		 * Every entry is a 4 KiB, 2 MiB or 1 GiB page, so the one that
		 * holds addr at page size s has exactly the key cache_key(addr, s)
		 * and sits in that key's set: compare keys there, as a lookup
		 * does, for the sizes ever held. (INVLPG and every #PF come here.)
		 */
		unsigned k;

		for (k = 0; k < 3; k++)
			if ((c->held_shifts >> page_shifts[k]) & 1)
				n += inval_key(c, cache_key(inv->addr, page_shifts[k]), inv);
	} else if (inv->flags & CACHE_INV_ADDR) {
		/* Only the sets the address can live in, for each page size. */
		uint32_t seen[3];
		unsigned k, j;

		for (k = 0; k < 3; k++) {
			uint32_t si = set_index(c, cache_key(inv->addr, page_shifts[k]));
			bool dup = false;

			for (j = 0; j < k; j++)
				dup |= seen[j] == si;
			seen[k] = si;
			if (!dup)
				n += inval_set(c, si, inv);
		}
	} else {
		for (i = 0; i < c->nsets; i++)
			if (c->perfect || c->empty[i] != c->ways)   /* a set with no entry has none to lose */
				n += inval_set(c, i, inv);
	}
	c->st->invalidations += n;
	return n;
}
