/* SPDX-License-Identifier: MIT */
/*
 * ept/tlb.c - the set-associative LRU cache behind every TLB and
 * paging-structure cache of the model (see ept/tlb.h).
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

#include "ept/tlb.h"

#define PERFECT_BUCKETS 4096u
#define TLB_MAX_ENTRIES (1u << 22)

static inline uint32_t set_index(const struct tlb *t, uint64_t key)
{
	uint64_t page = key & TLB_KEY_PAGE_MASK;

	if (t->perfect) {
		/* Fibonacci hashing spreads sequential pages and every size. */
		uint64_t h = (key ^ (key >> 29)) * 0x9e3779b97f4a7c15ULL;
		return (uint32_t)(h >> 52) & (PERFECT_BUCKETS - 1);
	}
	if (t->set_mask || t->nsets == 1)
		return (uint32_t)(page & t->set_mask);
	return (uint32_t)(page % t->nsets);
}

int tlb_create(const struct cache_geom *geom, bool perfect, struct cache_stats *st,
	       struct tlb **out)
{
	struct tlb *t;
	uint32_t i;

	if (!perfect && (geom->entries == 0 || geom->ways == 0 ||
			 geom->entries % geom->ways != 0 || geom->entries > TLB_MAX_ENTRIES))
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->perfect = perfect;
	t->st = st;
	if (perfect) {
		t->nsets = PERFECT_BUCKETS;
		t->ways = 0;
	} else {
		t->ways = geom->ways;
		t->nsets = geom->entries / geom->ways;
		if ((t->nsets & (t->nsets - 1)) == 0)
			t->set_mask = t->nsets - 1;
		t->storage = calloc(geom->entries, sizeof(*t->storage));
		if (!t->storage)
			goto free_tlb;
	}
	t->sets = calloc(t->nsets, sizeof(*t->sets));
	if (!t->sets)
		goto free_storage;
	if (!perfect) {
		for (i = 0; i < t->nsets; i++) {
			t->sets[i].e = t->storage + (uint64_t)i * t->ways;
			t->sets[i].n = t->ways;
			t->sets[i].cap = t->ways;
		}
	}
	*out = t;
	return 0;

free_storage:
	free(t->storage);
free_tlb:
	free(t);
	return -ENOMEM;
}

void tlb_destroy(struct tlb *t)
{
	uint32_t i;

	if (!t)
		return;
	if (t->perfect)
		for (i = 0; i < t->nsets; i++)
			free(t->sets[i].e);
	free(t->sets);
	free(t->storage);
	free(t);
}

bool tlb_is_perfect(const struct tlb *t) { return t->perfect; }

static inline bool tag_match(const struct tlb_entry *e, uint64_t key, const struct tlb_tag *tag)
{
	return e->valid && e->key == key && e->eptp_tag == tag->eptp_tag && e->vpid == tag->vpid &&
	       (e->pcid == tag->pcid || (e->attr & TLB_ATTR_GLOBAL));
}

struct tlb_entry *tlb_find(struct tlb *t, uint64_t key, const struct tlb_tag *tag)
{
	struct tlb_set *s = &t->sets[set_index(t, key)];
	uint32_t i;

	for (i = 0; i < s->n; i++)
		if (tag_match(&s->e[i], key, tag))
			return &s->e[i];
	return NULL;
}

static int perfect_slot(struct tlb_set *s, struct tlb_entry **out)
{
	if (s->n == s->cap) {
		uint32_t cap = s->cap ? s->cap * 2 : 4;
		struct tlb_entry *e = realloc(s->e, (size_t)cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		s->e = e;
		s->cap = cap;
	}
	*out = &s->e[s->n++];
	memset(*out, 0, sizeof(**out));
	return 0;
}

int tlb_fill(struct tlb *t, uint64_t key, const struct tlb_tag *tag, bool global,
	     struct tlb_entry **out)
{
	struct tlb_set *s = &t->sets[set_index(t, key)];
	struct tlb_entry *victim = NULL;
	uint32_t i, gen;
	int rc;

	/*
	 * A refill of a translation already held (a write after a read-only fill,
	 * or a re-walk after a permission failure) replaces it in place: one
	 * translation never occupies two ways.
	 */
	for (i = 0; i < s->n; i++) {
		struct tlb_entry *e = &s->e[i];

		/* The entries tlb_find would return: a global entry matches any
		 * PCID, so refilling it must not add a duplicate beside it. */
		if (e->valid && e->key == key && e->eptp_tag == tag->eptp_tag &&
		    e->vpid == tag->vpid && (e->pcid == tag->pcid || (e->attr & TLB_ATTR_GLOBAL))) {
			victim = e;
			break;
		}
	}
	if (!victim && t->perfect) {
		rc = perfect_slot(s, &victim);
		if (rc)
			return rc;
	}
	if (!victim) {
		for (i = 0; i < s->n; i++) {
			struct tlb_entry *e = &s->e[i];

			if (!e->valid) {
				victim = e;
				break;
			}
			if (!victim || e->lru < victim->lru)
				victim = e;
		}
		if (victim->valid)
			t->st->evictions++;
	}
	gen = victim->gen + 1;
	memset(victim, 0, sizeof(*victim));
	victim->gen = gen;
	victim->key = key;
	victim->eptp_tag = tag->eptp_tag;
	victim->vpid = tag->vpid;
	victim->pcid = tag->pcid;
	victim->attr = global ? TLB_ATTR_GLOBAL : 0;
	victim->valid = true;
	victim->lru = ++t->clock;
	t->st->fills++;
	*out = victim;
	return 0;
}

static bool inval_match(const struct tlb_entry *e, const struct tlb_inval *inv)
{
	unsigned f = inv->flags;
	bool global = (e->attr & TLB_ATTR_GLOBAL) != 0;

	if (!e->valid)
		return false;
	if ((f & INV_VPID) && e->vpid != inv->vpid)
		return false;
	if ((f & INV_NOT_VPID0) && e->vpid == 0)
		return false;
	if ((f & INV_PCID) && e->pcid != inv->pcid)
		return false;
	if ((f & INV_PCID_OR_G) && e->pcid != inv->pcid && !global)
		return false;
	if ((f & INV_KEEP_GLOBAL) && global)
		return false;
	if ((f & INV_EPTP) && e->eptp_tag != inv->eptp_tag)
		return false;
	if ((f & INV_ANY_EPTP) && e->eptp_tag == 0)
		return false;
	if ((f & INV_KEY) && e->key != inv->key)
		return false;
	if (f & INV_ADDR) {
		unsigned shift = tlb_key_shift(e->key);

		if ((e->key & TLB_KEY_PAGE_MASK) != (inv->addr >> shift))
			return false;
	}
	return true;
}

static unsigned inval_set(struct tlb *t, struct tlb_set *s, const struct tlb_inval *inv)
{
	unsigned n = 0;
	uint32_t i = 0;

	while (i < s->n) {
		struct tlb_entry *e = &s->e[i];

		if (!inval_match(e, inv)) {
			i++;
			continue;
		}
		n++;
		if (t->perfect) {
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

unsigned tlb_invalidate(struct tlb *t, const struct tlb_inval *inv)
{
	unsigned n = 0;
	uint32_t i;

	if (inv->flags & INV_KEY) {
		/* One key lives in one set. */
		n = inval_set(t, &t->sets[set_index(t, inv->key)], inv);
	} else if (inv->flags & INV_ADDR) {
		/* Only the sets the address can live in, for each page size. */
		static const unsigned shifts[] = { PAGE_SHIFT_4K, PAGE_SHIFT_2M, PAGE_SHIFT_1G };
		uint32_t seen[3];
		unsigned k, j;

		for (k = 0; k < 3; k++) {
			uint32_t si = set_index(t, tlb_key(inv->addr, shifts[k]));
			bool dup = false;

			for (j = 0; j < k; j++)
				dup |= seen[j] == si;
			seen[k] = si;
			if (!dup)
				n += inval_set(t, &t->sets[si], inv);
		}
	} else {
		for (i = 0; i < t->nsets; i++)
			n += inval_set(t, &t->sets[i], inv);
	}
	t->st->invalidations += n;
	return n;
}
