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
	if (c->set_mask || c->nsets == 1)
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
		c->ways = 0;
	} else {
		c->ways = geom->ways;
		c->nsets = geom->entries / geom->ways;
		if ((c->nsets & (c->nsets - 1)) == 0)
			c->set_mask = c->nsets - 1;
		c->storage = calloc(geom->entries, sizeof(*c->storage));
		if (!c->storage)
			goto free_cache;
	}
	c->sets = calloc(c->nsets, sizeof(*c->sets));
	if (!c->sets)
		goto free_storage;
	if (!perfect) {
		for (i = 0; i < c->nsets; i++) {
			c->sets[i].e = c->storage + (uint64_t)i * c->ways;
			c->sets[i].n = c->ways;
			c->sets[i].cap = c->ways;
		}
	}
	*out = c;
	return 0;

free_storage:
	free(c->storage);
free_cache:
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
	free(c->sets);
	free(c->storage);
	free(c);
}

bool cache_is_perfect(const struct cache *c) { return c->perfect; }

static inline bool tag_match(const struct cache_entry *e, uint64_t key, const struct cache_tag *tag)
{
	return e->valid && e->key == key && e->domain == tag->domain && e->vmid == tag->vmid &&
	       (e->asid == tag->asid || e->global);
}

/* May the structure hold an entry with this key's page size? */
static inline bool shift_held(const struct cache *c, uint64_t key)
{
	return (c->held_shifts >> cache_key_shift(key)) & 1;
}

struct cache_entry *cache_find(struct cache *c, uint64_t key, const struct cache_tag *tag)
{
	struct cache_set *s;
	uint32_t i;

	if (!shift_held(c, key))
		return NULL;
	s = &c->sets[set_index(c, key)];
	for (i = 0; i < s->n; i++)
		if (tag_match(&s->e[i], key, tag))
			return &s->e[i];
	return NULL;
}

struct cache_entry *cache_find_addr(struct cache *c, uint64_t addr, const struct cache_tag *tag)
{
	struct cache_entry *e = NULL;
	unsigned i;

	for (i = 0; i < 3 && !e; i++)
		e = cache_find(c, cache_key(addr, page_shifts[i]), tag);
	return e;
}

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

int cache_fill(struct cache *c, uint64_t key, const struct cache_tag *tag, bool global,
	     struct cache_entry **out)
{
	struct cache_set *s = &c->sets[set_index(c, key)];
	struct cache_entry *victim = NULL;
	uint32_t i, gen;
	int rc;

	/*
	 * A refill of a translation already held (a write after a read-only fill,
	 * or a re-walk after a permission failure) replaces it in place: one
	 * translation never occupies two ways.
	 */
	for (i = 0; shift_held(c, key) && i < s->n; i++) {
		struct cache_entry *e = &s->e[i];

		/* The entries cache_find would return: a global entry matches any
		 * ASID, so refilling it must not add a duplicate beside it. */
		if (tag_match(e, key, tag)) {
			victim = e;
			break;
		}
	}
	if (!victim && c->perfect) {
		rc = perfect_slot(s, &victim);
		if (rc)
			return rc;
	}
	if (!victim) {
		for (i = 0; i < s->n; i++) {
			struct cache_entry *e = &s->e[i];

			if (!e->valid) {
				victim = e;
				break;
			}
			if (!victim || e->lru < victim->lru)
				victim = e;
		}
		if (victim->valid)
			c->st->evictions++;
	}
	gen = victim->gen + 1;
	memset(victim, 0, sizeof(*victim));
	victim->gen = gen;
	victim->key = key;
	victim->domain = tag->domain;
	victim->vmid = tag->vmid;
	victim->asid = tag->asid;
	victim->global = global;
	victim->valid = true;
	victim->lru = ++c->clock;
	c->held_shifts |= 1ULL << cache_key_shift(key);
	c->st->fills++;
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

static unsigned inval_set(struct cache *c, struct cache_set *s, const struct cache_inval *inv)
{
	unsigned n = 0;
	uint32_t i = 0;

	while (i < s->n) {
		struct cache_entry *e = &s->e[i];

		if (!inval_match(e, inv)) {
			i++;
			continue;
		}
		n++;
		if (c->perfect) {
			/* Swap-remove: perfect buckets hold only valid entries. */
			*e = s->e[--s->n];
			continue;
		}
		e->valid = false;
		e->gen++;
		i++;
	}
	return n;
}

unsigned cache_invalidate(struct cache *c, const struct cache_inval *inv)
{
	unsigned n = 0;
	uint32_t i;

	if (inv->flags & CACHE_INV_KEY) {
		/* One key lives in one set. */
		n = inval_set(c, &c->sets[set_index(c, inv->key)], inv);
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
				n += inval_set(c, &c->sets[si], inv);
		}
	} else {
		for (i = 0; i < c->nsets; i++)
			n += inval_set(c, &c->sets[i], inv);
	}
	c->st->invalidations += n;
	return n;
}
