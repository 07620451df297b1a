/* SPDX-License-Identifier: MIT */
/*
 * tests/cache_test.c - the translation cache building block (ept/cache.h):
 * set selection, LRU replacement, tag matching with global entries, every
 * invalidation selector, perfect structures and the exact counters.
 */
#include <errno.h>
#include <string.h>

#include "tests/testutil.h"
#include "ept/cache.h"

static const struct cache_tag tag_a = { .domain = 0x1001, .asid = 5, .vmid = 1 };

static struct cache *mk(unsigned entries, unsigned ways, bool perfect, struct cache_stats *st)
{
	struct cache_geom g = { .entries = entries, .ways = ways };
	struct cache *c;

	memset(st, 0, sizeof(*st));
	assert_ok(cache_create(&g, perfect, st, &c));
	return c;
}

static struct cache_entry *fill(struct cache *c, uint64_t addr, unsigned shift,
				const struct cache_tag *tag, bool global, uint64_t val)
{
	struct cache_entry *e;

	assert_ok(cache_fill(c, cache_key(addr, shift), tag, global, &e));
	e->val = val;
	return e;
}

static void test_bad_geometry(void **state)
{
	struct cache_geom zero = { 0, 0 }, odd = { .entries = 6, .ways = 4 };
	struct cache_stats st;
	struct cache *c;

	(void)state;
	assert_int_equal(cache_create(&zero, false, &st, &c), -EINVAL);
	assert_int_equal(cache_create(&odd, false, &st, &c), -EINVAL);
	/* A perfect structure needs no geometry. */
	assert_ok(cache_create(&zero, true, &st, &c));
	assert_true(cache_is_perfect(c));
	cache_destroy(c);
}

/* Keys keep page sizes apart: the 2 MiB page 0 is not the 4 KiB page 0. */
static void test_key_sizes(void **state)
{
	struct cache_stats st;
	struct cache *c = mk(16, 16, false, &st);

	(void)state;
	fill(c, 0x200000, 21, &tag_a, false, 0xaaa000);
	assert_null(cache_find(c, cache_key(0x200000, 12), &tag_a));
	assert_non_null(cache_find(c, cache_key(0x3ff000, 21), &tag_a));
	assert_int_equal(cache_key_shift(cache_key(0x3ff000, 21)), 21);
	assert_int_equal(cache_key_page(cache_key(0x3ff000, 21)), 1);
	/* cache_find_addr tries 4K, 2M, 1G: the 2 MiB entry serves any address in it. */
	assert_int_equal(cache_find_addr(c, 0x3fffff, &tag_a)->val, 0xaaa000);
	assert_null(cache_find_addr(c, 0x400000, &tag_a));
	/* Lookups count nothing; fills do. */
	assert_int_equal(st.hits + st.misses, 0);
	assert_int_equal(st.fills, 1);
	cache_destroy(c);
}

/* Tag: domain and vmid must match; asid must match unless the entry is global. */
static void test_tags_and_global(void **state)
{
	struct cache_stats st;
	struct cache *c = mk(8, 8, false, &st);
	struct cache_tag other_asid = tag_a, other_vmid = tag_a, other_dom = tag_a;

	(void)state;
	other_asid.asid = 6;
	other_vmid.vmid = 2;
	other_dom.domain = 0x2001;
	fill(c, 0x1000, 12, &tag_a, false, 1);
	fill(c, 0x2000, 12, &tag_a, true, 2);
	assert_null(cache_find(c, cache_key(0x1000, 12), &other_asid));
	assert_non_null(cache_find(c, cache_key(0x2000, 12), &other_asid));
	assert_null(cache_find(c, cache_key(0x2000, 12), &other_vmid));
	assert_null(cache_find(c, cache_key(0x2000, 12), &other_dom));
	/* Refilling a global entry from another asid reuses it: no duplicate. */
	fill(c, 0x2000, 12, &other_asid, false, 3);
	assert_int_equal(st.fills, 3);
	assert_int_equal(st.evictions, 0);
	assert_int_equal(cache_find(c, cache_key(0x2000, 12), &other_asid)->val, 3);
	assert_null(cache_find(c, cache_key(0x2000, 12), &tag_a));
	cache_destroy(c);
}

/* 2 sets x 2 ways: pages of the same parity share a set; the LRU way goes. */
static void test_lru(void **state)
{
	struct cache_stats st;
	struct cache *c = mk(4, 2, false, &st);
	struct cache_entry *e0, *e2;
	uint32_t gen0;

	(void)state;
	e0 = fill(c, 0 << 12, 12, &tag_a, false, 10);
	e2 = fill(c, 2 << 12, 12, &tag_a, false, 12);
	fill(c, 1 << 12, 12, &tag_a, false, 11);   /* the other set */
	gen0 = e0->gen;
	cache_hit(c, e0);                           /* page 2 is now the LRU of set 0 */
	fill(c, 4 << 12, 12, &tag_a, false, 14);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(st.hits, 1);
	assert_null(cache_find(c, cache_key(2 << 12, 12), &tag_a));
	assert_ptr_equal(cache_find(c, cache_key(0, 12), &tag_a), e0);
	assert_int_equal(e0->gen, gen0);            /* untouched slot keeps its generation */
	assert_int_equal(cache_find(c, cache_key(4 << 12, 12), &tag_a)->val, 14);
	(void)e2;
	cache_miss(c);
	assert_int_equal(st.misses, 1);
	assert_int_equal(st.fills, 4);
	cache_destroy(c);
}

static void test_invalidate_selectors(void **state)
{
	struct cache_stats st;
	struct cache *c = mk(64, 64, false, &st);
	struct cache_tag t2 = tag_a, v0 = tag_a;
	struct cache_inval inv;
	struct cache_entry *e;
	uint32_t gen;

	(void)state;
	t2.asid = 9;
	v0.vmid = 0;
	e = fill(c, 0x1000, 12, &tag_a, false, 0);
	fill(c, 0x2000, 12, &tag_a, true, 0);
	fill(c, 0x3000, 12, &t2, false, 0);
	fill(c, 0x4000, 12, &v0, false, 0);
	gen = e->gen;

	/* Address + asid-or-global (INVLPG): the page of asid 5 only. */
	inv = (struct cache_inval){ .flags = CACHE_INV_VMID | CACHE_INV_ASID_OR_G | CACHE_INV_ADDR,
				    .vmid = 1, .asid = 5, .addr = 0x1fff };
	assert_int_equal(cache_invalidate(c, &inv), 1);
	assert_int_equal(e->gen, gen + 1);           /* a removed slot changes generation */
	/* One asid, keeping globals: asid 9 goes, the global stays. */
	inv = (struct cache_inval){ .flags = CACHE_INV_VMID | CACHE_INV_ASID | CACHE_INV_KEEP_GLOBAL,
				    .vmid = 1, .asid = 9 };
	assert_int_equal(cache_invalidate(c, &inv), 1);
	/* All but vmid 0. */
	inv = (struct cache_inval){ .flags = CACHE_INV_NOT_VMID0 };
	assert_int_equal(cache_invalidate(c, &inv), 1);
	assert_non_null(cache_find(c, cache_key(0x4000, 12), &v0));
	/* One domain, then any domain. */
	inv = (struct cache_inval){ .flags = CACHE_INV_DOMAIN, .domain = 0x7777 };
	assert_int_equal(cache_invalidate(c, &inv), 0);
	inv = (struct cache_inval){ .flags = CACHE_INV_ANY_DOMAIN };
	assert_int_equal(cache_invalidate(c, &inv), 1);
	assert_int_equal(st.invalidations, 4);
	/* One exact key. */
	fill(c, 0x5000, 21, &tag_a, false, 0);
	inv = (struct cache_inval){ .flags = CACHE_INV_KEY, .key = cache_key(0x5000, 12) };
	assert_int_equal(cache_invalidate(c, &inv), 0);
	inv.key = cache_key(0x5000, 21);
	assert_int_equal(cache_invalidate(c, &inv), 1);
	cache_destroy(c);
}

/*
 * SDM 4.10.4.1 (INVLPG, and the invalidation a #PF makes): an address
 * invalidation removes the 4 KiB, 2 MiB and 1 GiB entries that contain the
 * address, of the given asid or global, in a set-associative structure with
 * fingerprints, and nothing else: not the neighbouring page in the same
 * 2 MiB region, not another asid's entry, not another page of the same set.
 */
static void test_invalidate_addr_sizes(void **state)
{
	struct cache_stats st;
	struct cache *c = mk(32, 8, false, &st);    /* 4 sets of 8 ways */
	struct cache_tag t2 = tag_a;
	struct cache_inval inv = { .flags = CACHE_INV_VMID | CACHE_INV_ASID_OR_G | CACHE_INV_ADDR,
				   .vmid = 1, .asid = 5, .addr = 0x40201abc };

	(void)state;
	t2.asid = 9;
	fill(c, 0x40201000, 12, &tag_a, false, 0);
	fill(c, 0x40200000, 21, &tag_a, false, 0);
	fill(c, 0x40000000, 30, &tag_a, true, 0);   /* global: goes whatever the asid */
	fill(c, 0x40202000, 12, &tag_a, false, 0);  /* the next page */
	fill(c, 0x40201000, 12, &t2, false, 0);     /* another asid */
	fill(c, 0x40205000, 12, &tag_a, false, 0);  /* same set as 0x40201000 */
	assert_int_equal(cache_invalidate(c, &inv), 3);
	assert_null(cache_find(c, cache_key(0x40201000, 12), &tag_a));
	assert_null(cache_find(c, cache_key(0x40200000, 21), &tag_a));
	assert_null(cache_find(c, cache_key(0x40000000, 30), &tag_a));
	assert_non_null(cache_find(c, cache_key(0x40202000, 12), &tag_a));
	assert_non_null(cache_find(c, cache_key(0x40201000, 12), &t2));
	assert_non_null(cache_find(c, cache_key(0x40205000, 12), &tag_a));
	assert_int_equal(st.invalidations, 3);
	/* Again: nothing left to remove. */
	assert_int_equal(cache_invalidate(c, &inv), 0);
	cache_destroy(c);
}

/* Range invalidation (IOMMU page-selective with an address mask): overlap,
 * including a range that ends at 2^64 - 1 and one that starts inside a page. */
static void test_invalidate_range(void **state)
{
	struct cache_stats st;
	struct cache *c = mk(16, 16, false, &st);
	struct cache_inval inv = { .flags = CACHE_INV_RANGE };

	(void)state;
	fill(c, 0x0, 21, &tag_a, false, 0);                      /* [0, 2M) */
	fill(c, 0x400000, 12, &tag_a, false, 0);                 /* [4M, 4M+4K) */
	fill(c, 0xfffffffffffff000ULL, 12, &tag_a, false, 0);    /* the last page */
	inv.addr = 0x1ff000;
	inv.len = 0x1000;                                        /* the last 4K of the 2M page */
	assert_int_equal(cache_invalidate(c, &inv), 1);
	inv.addr = 0x200000;
	inv.len = 0x200000;                                      /* [2M, 4M): touches nothing */
	assert_int_equal(cache_invalidate(c, &inv), 0);
	inv.addr = 0x400fff;
	inv.len = 1;
	assert_int_equal(cache_invalidate(c, &inv), 1);
	inv.addr = 0xffffffffffff0000ULL;
	inv.len = 0x10000;                                       /* ends exactly at 2^64 */
	assert_int_equal(cache_invalidate(c, &inv), 1);
	assert_int_equal(st.invalidations, 3);
	cache_destroy(c);
}

/* A perfect structure never evicts, however many entries share a bucket. */
static void test_perfect(void **state)
{
	struct cache_stats st;
	struct cache *c = mk(0, 0, true, &st);
	struct cache_inval inv = { .flags = CACHE_INV_VMID, .vmid = 1 };
	unsigned i;

	(void)state;
	for (i = 0; i < 20000; i++)
		fill(c, (uint64_t)i << 12, 12, &tag_a, false, i);
	for (i = 0; i < 20000; i++)
		assert_int_equal(cache_find(c, cache_key((uint64_t)i << 12, 12), &tag_a)->val, i);
	assert_int_equal(st.evictions, 0);
	assert_int_equal(st.fills, 20000);
	assert_int_equal(cache_invalidate(c, &inv), 20000);
	assert_null(cache_find(c, cache_key(0, 12), &tag_a));
	cache_destroy(c);
}

/* A lookup skips the page sizes a structure has never held, and never hides
 * an entry by it: each size is found as soon as one was filled, in finite
 * and perfect structures, also after everything was invalidated. */
static void test_sizes_never_held(void **state)
{
	struct cache_stats st;

	(void)state;
	for (int perfect = 0; perfect < 2; perfect++) {
		struct cache *c = mk(16, 4, perfect, &st);
		struct cache_inval all = { 0 };

		assert_null(cache_find_addr(c, 0x40000000, &tag_a));
		fill(c, 0x40000000, 12, &tag_a, false, 0x1000);
		assert_int_equal(cache_find_addr(c, 0x40000abc, &tag_a)->val, 0x1000);
		assert_null(cache_find(c, cache_key(0x40000000, 21), &tag_a));
		fill(c, 0x40200000, 21, &tag_a, false, 0x200000);
		assert_int_equal(cache_find_addr(c, 0x40212345, &tag_a)->val, 0x200000);
		assert_int_equal(cache_find_addr(c, 0x40000abc, &tag_a)->val, 0x1000);
		assert_int_equal(cache_invalidate(c, &all), 2);
		assert_null(cache_find_addr(c, 0x40212345, &tag_a));
		fill(c, 0x40000000, 30, &tag_a, false, 0x40000000);
		assert_int_equal(cache_find_addr(c, 0x7fffffff, &tag_a)->val, 0x40000000);
		/* A refill of a held key replaces it in place. */
		fill(c, 0x40000000, 30, &tag_a, false, 0x80000000);
		assert_int_equal(cache_find_addr(c, 0x40000000, &tag_a)->val, 0x80000000);
		assert_int_equal(st.fills, 4);
		assert_int_equal(st.hits + st.misses, 0);
		cache_destroy(c);
	}
}

/*
 * Victims in full sets: the way with the oldest use goes, whatever the order
 * of fills and hits; a refill of a held key stays in place; a way emptied by
 * an invalidation is taken before any eviction; the same key under another
 * tag is not a refill. Also with a set count that is not a power of two.
 */
static void test_fill_victims(void **state)
{
	static const unsigned geom[2][2] = { { 16, 4 }, { 12, 4 } };   /* 4 sets, 3 sets */
	struct cache_tag other = tag_a;

	(void)state;
	other.asid = 7;
	for (unsigned g = 0; g < 2; g++) {
		const unsigned sets = geom[g][0] / geom[g][1];
		struct cache_stats st;
		struct cache *c = mk(geom[g][0], geom[g][1], false, &st);
		struct cache_entry *e[4];
		struct cache_inval inv = { .flags = CACHE_INV_KEY };
		uint64_t page;
		unsigned i;

		/* Pages i * sets share set 0. */
		for (i = 0; i < 4; i++)
			e[i] = fill(c, (uint64_t)(i * sets) << 12, 12, &tag_a, false, i);
		cache_hit(c, e[0]);
		cache_hit(c, e[2]);
		cache_hit(c, e[1]);                    /* oldest now: page 3 * sets, then 0 */
		page = (uint64_t)(4 * sets) << 12;
		assert_ptr_equal(fill(c, page, 12, &tag_a, false, 4), e[3]);
		assert_int_equal(st.evictions, 1);
		assert_null(cache_find(c, cache_key((uint64_t)(3 * sets) << 12, 12), &tag_a));
		/* A refill of page 2 * sets stays in its way and evicts nothing. */
		assert_ptr_equal(fill(c, (uint64_t)(2 * sets) << 12, 12, &tag_a, false, 9), e[2]);
		assert_int_equal(st.evictions, 1);
		/* The same key under another asid is another translation: the LRU way (page 0) goes. */
		assert_ptr_equal(fill(c, (uint64_t)(2 * sets) << 12, 12, &other, false, 8), e[0]);
		assert_int_equal(st.evictions, 2);
		assert_int_equal(cache_find(c, cache_key((uint64_t)(2 * sets) << 12, 12), &tag_a)->val, 9);
		assert_int_equal(cache_find(c, cache_key((uint64_t)(2 * sets) << 12, 12), &other)->val, 8);
		/* An emptied way is taken although it is not the oldest. */
		inv.key = cache_key(page, 12);
		assert_int_equal(cache_invalidate(c, &inv), 1);
		assert_ptr_equal(fill(c, (uint64_t)(5 * sets) << 12, 12, &tag_a, false, 5), e[3]);
		assert_int_equal(st.evictions, 2);
		/* Full again: the oldest (page sets, e[1]) goes next. */
		assert_ptr_equal(fill(c, (uint64_t)(6 * sets) << 12, 12, &tag_a, false, 6), e[1]);
		assert_int_equal(st.evictions, 3);
		/* The other sets were never touched. */
		for (i = 1; i < sets; i++)
			assert_null(cache_find(c, cache_key((uint64_t)i << 12, 12), &tag_a));
		assert_int_equal(st.fills, 9);
		cache_destroy(c);
	}
}

/*
 * cache_fill_missed, used after a lookup that missed, takes the way cache_fill
 * would: two structures driven alike, one filled each way, through hits,
 * misses, other ASIDs, global entries, evictions and invalidations.
 */
static void test_fill_missed_same_victims(void **state)
{
	static const unsigned geom[3][2] = { { 16, 4 }, { 48, 12 }, { 12, 4 } };
	const struct cache_tag tags[2] = { tag_a, { .domain = 0x1001, .asid = 9, .vmid = 1 } };

	(void)state;
	for (unsigned g = 0; g < 3; g++) {
		struct cache_stats sa, sb;
		struct cache *a = mk(geom[g][0], geom[g][1], false, &sa);
		struct cache *b = mk(geom[g][0], geom[g][1], false, &sb);
		uint64_t x = 88172645463325252ULL;
		unsigned i, missed = 0;

		for (i = 0; i < 20000; i++) {
			const struct cache_tag *tag;
			struct cache_entry *ea, *eb;
			uint64_t key;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			key = cache_key((x % 97) << 12, (x >> 8) % 5 ? 12 : 21);
			tag = &tags[(x >> 16) & 1];
			if ((x >> 20) % 50 == 0) {
				struct cache_inval inv = { .flags = CACHE_INV_KEY, .key = key };

				assert_int_equal(cache_invalidate(a, &inv), cache_invalidate(b, &inv));
				continue;
			}
			ea = cache_find(a, key, tag);
			eb = cache_find(b, key, tag);
			assert_true((ea == NULL) == (eb == NULL));
			if (ea) {
				assert_int_equal(ea->slot, eb->slot);
				cache_hit(a, ea);
				cache_hit(b, eb);
				continue;
			}
			missed++;
			assert_ok(cache_fill(a, key, tag, (x >> 24) % 7 == 0, &ea));
			assert_ok(cache_fill_missed(b, key, tag, (x >> 24) % 7 == 0, &eb));
			assert_int_equal(ea->slot, eb->slot);
			assert_true(eb->valid && eb->key == key && eb->asid == tag->asid);
		}
		assert_int_equal(sa.fills, missed);
		assert_true(sa.evictions > missed / 2);
		assert_memory_equal(&sa, &sb, sizeof(sa));
		cache_destroy(a);
		cache_destroy(b);
	}
}

/*
 * A fill after a miss into a full set of CACHE_AGE_MIN_WAYS or more ways
 * takes its victim from the set's age order (cache_age_victim), not from a
 * scan of the stamps: it must still be the way with the smallest stamp, the
 * one the scan picks, whoever stamped the set since the order was made.
 * Sets of 8, 12, 16, 64, 72 and 256 ways (and 4, which scans) go through
 * 20,000 random lookups, fills and invalidations each, their hits stamped
 * as cache_hit does, and as the MMU's shortcut does (ept/mmu.h:
 * `*lru = ++*clock`, and `*clock += n` then `*lru = *clock` for n deferred
 * hits); before each fill into a full set the oldest way is found by a plain
 * scan, and the fill must take it, over CACHE_ANY and over the known shape.
 */
#define AGE_SHAPES(X) X(0, 4, 8) X(1, 8, 12) X(2, 2, 16) X(3, 1, 64) X(4, 1, 72) \
	X(5, 1, 256) X(6, 4, 4)
enum { NAGE = 7 };

static int fill_age_shape(struct cache *c, uint64_t key, const struct cache_tag *tag,
			  struct cache_entry **e, unsigned g)
{
#define FILL(n, sets, ways)                                                                \
	case n:                                                                             \
		return cache_fill_missed_s(c, key, tag, false, e, (struct cache_shape){ sets, ways });
	switch (g) {
	AGE_SHAPES(FILL)
	}
#undef FILL
	return -EINVAL;
}

static void test_age_order_oldest(void **state)
{
#define GEOM(n, sets, ways) { (sets) * (ways), ways },
	static const unsigned geom[NAGE][2] = { AGE_SHAPES(GEOM) };
#undef GEOM

	(void)state;
	for (unsigned g = 0; g < NAGE; g++) {
		const unsigned ways = geom[g][1];
		struct cache_stats st;
		struct cache *c = mk(geom[g][0], ways, false, &st);
		uint64_t x = 0x2545f4914f6cdd1dULL;
		unsigned i, full_fills = 0, stamped = 0;

		assert_true((c->age != NULL) == (ways >= CACHE_AGE_MIN_WAYS));
		for (i = 0; i < 20000; i++) {
			struct cache_entry *e;
			uint64_t key, page, evictions, oldest = UINT64_MAX;
			uint32_t si, want = 0, w, empty;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			page = x % (geom[g][0] * 2 + 1);
			key = cache_key(page << 12, 12);
			if ((x >> 20) % 40 == 0) {
				struct cache_inval inv = { .flags = CACHE_INV_KEY, .key = key };

				cache_invalidate(c, &inv);
				continue;
			}
			e = cache_find(c, key, &tag_a);
			if (e) {
				uint64_t *lru = cache_lru(c, e);

				switch ((x >> 24) % 3) {
				case 0:
					cache_hit(c, e);
					break;
				case 1:
					*lru = ++c->clock;
					stamped++;
					break;
				default:
					c->clock += 1 + (x >> 32) % 5;
					*lru = c->clock;
					stamped++;
					break;
				}
				continue;
			}
			si = (uint32_t)(key & c->set_mask);
			for (w = 0; w < ways; w++) {
				uint64_t l = c->lru[si * ways + w];

				assert_int_not_equal(c->keys[si * ways + w], key);
				if (c->keys[si * ways + w] != CACHE_KEY_NONE && l < oldest) {
					oldest = l;
					want = w;
				}
			}
			empty = c->empty[si];
			evictions = st.evictions;
			if ((x >> 40) & 1)
				assert_ok(fill_age_shape(c, key, &tag_a, &e, g));
			else
				assert_ok(cache_fill_missed(c, key, &tag_a, false, &e));
			if (empty == 0) {
				/* A full set: its oldest way goes. */
				assert_int_equal(e->slot, si * ways + want);
				assert_int_equal(st.evictions, evictions + 1);
				full_fills++;
			} else {
				assert_int_equal(c->empty[si], empty - 1);
				assert_int_equal(st.evictions, evictions);
			}
			assert_true(e->valid && e->key == key);
		}
		assert_true(full_fills > 3000);
		assert_true(stamped > 1000);
		cache_destroy(c);
	}
}

/*
 * The lookup and the fill after a miss over a shape known at compile time
 * (cache_find_at_s, cache_fill_missed_s with a constant struct cache_shape,
 * as the MMU's miss path is instantiated for a preset) must find the same
 * entries, evict the same ways and count the same as over CACHE_ANY, for
 * sets whose fingerprints fill one compare (4, 12 ways), take several (24,
 * 64, 72 ways: the last compare partly masked), none (256 ways, above
 * CACHE_FP_MAX_WAYS), and one set. One structure of each pair goes each way
 * through 30,000 random lookups, fills and invalidations; every lookup must
 * also find what a plain scan of the set's keys finds (the lowest matching
 * way); their keys, stamps and counters must end equal.
 */
#define KNOWN_SHAPES(X)                                                         \
	X(0, 16, 4) X(1, 128, 12) X(2, 1, 64) X(3, 1, 4) X(4, 2, 24) X(5, 1, 72)  \
	X(6, 1, 256)
enum { NKNOWN = 7 };

static struct cache_entry *find_known(struct cache *c, uint64_t addr, unsigned shift,
				      const struct cache_tag *tag, unsigned g)
{
#define FIND(n, sets, ways)                                                                \
	case n:                                                                             \
		return cache_find_at_s(c, addr, shift, tag, (struct cache_shape){ sets, ways });
	switch (g) {
	KNOWN_SHAPES(FIND)
	}
#undef FIND
	return NULL;
}

static int fill_known(struct cache *c, uint64_t key, const struct cache_tag *tag, bool global,
		      struct cache_entry **e, unsigned g)
{
#define FILL(n, sets, ways)                                                                \
	case n:                                                                             \
		return cache_fill_missed_s(c, key, tag, global, e, (struct cache_shape){ sets, ways });
	switch (g) {
	KNOWN_SHAPES(FILL)
	}
#undef FILL
	return -EINVAL;
}

/* The lowest way of key's set holding (key, tag), by a plain scan. */
static struct cache_entry *find_by_scan(struct cache *c, uint64_t key, const struct cache_tag *tag)
{
	uint32_t base = (uint32_t)(key & c->set_mask) * c->ways, i;

	if (!((c->held_shifts >> cache_key_shift(key)) & 1))
		return NULL;
	for (i = 0; i < c->ways; i++)
		if (c->keys[base + i] == key && c->storage[base + i].domain == tag->domain &&
		    c->storage[base + i].vmid == tag->vmid &&
		    (c->storage[base + i].asid == tag->asid || c->storage[base + i].global))
			return &c->storage[base + i];
	return NULL;
}

static void test_known_shape_same_as_any(void **state)
{
#define GEOM(n, sets, ways) { (sets) * (ways), ways },
	static const unsigned geom[NKNOWN][2] = { KNOWN_SHAPES(GEOM) };
#undef GEOM
	const struct cache_tag tags[2] = { tag_a, { .domain = 0x1001, .asid = 9, .vmid = 1 } };

	(void)state;
	for (unsigned g = 0; g < NKNOWN; g++) {
		const struct cache_shape sh = { geom[g][0] / geom[g][1], geom[g][1] };
		struct cache_stats sa, sb;
		struct cache *a = mk(geom[g][0], geom[g][1], false, &sa);
		struct cache *b = mk(geom[g][0], geom[g][1], false, &sb);
		uint64_t x = 0x9e3779b97f4a7c15ULL;
		unsigned i, hits = 0;

		assert_true(cache_has_shape(a, sh));
		assert_false(cache_has_shape(a, (struct cache_shape){ sh.sets * 2, sh.ways / 2 }));
		assert_false(cache_has_shape(a, CACHE_ANY));
		for (i = 0; i < 30000; i++) {
			const struct cache_tag *tag;
			struct cache_entry *ea, *eb;
			unsigned shift;
			uint64_t addr;

			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			shift = (x >> 8) % 5 ? 12 : 21;
			addr = (x % (geom[g][0] * 3)) << shift;
			tag = &tags[(x >> 16) & 1];
			if ((x >> 20) % 60 == 0) {
				struct cache_inval inv = { .flags = CACHE_INV_ADDR, .addr = addr };

				assert_int_equal(cache_invalidate(a, &inv), cache_invalidate(b, &inv));
				/* Nothing of the page is left, in any way of its set. */
				assert_null(find_by_scan(a, cache_key(addr, shift), &tags[0]));
				assert_null(find_by_scan(a, cache_key(addr, shift), &tags[1]));
				continue;
			}
			ea = find_known(a, addr, shift, tag, g);
			eb = cache_find_at(b, addr, shift, tag);
			assert_ptr_equal(ea, find_by_scan(a, cache_key(addr, shift), tag));
			assert_ptr_equal(eb, find_by_scan(b, cache_key(addr, shift), tag));
			assert_true((ea == NULL) == (eb == NULL));
			if (ea) {
				assert_int_equal(ea->slot, eb->slot);
				cache_hit(a, ea);
				cache_hit(b, eb);
				hits++;
				continue;
			}
			assert_ok(fill_known(a, cache_key(addr, shift), tag, (x >> 24) % 7 == 0, &ea, g));
			assert_ok(cache_fill_missed(b, cache_key(addr, shift), tag, (x >> 24) % 7 == 0, &eb));
			assert_int_equal(ea->slot, eb->slot);
		}
		assert_true(hits > 1000);
		assert_true(sa.evictions > 1000);
		assert_memory_equal(&sa, &sb, sizeof(sa));
		assert_memory_equal(a->keys, b->keys, geom[g][0] * sizeof(*a->keys));
		assert_memory_equal(a->lru, b->lru, geom[g][0] * sizeof(*a->lru));
		cache_destroy(a);
		cache_destroy(b);
	}
}

/*
 * Keys of one set whose fingerprints (cache_fp) are equal: the lookup
 * compares the set's fingerprints at once, so it must go on to the next way
 * with the same fingerprint when the first one's full key or tag differs, and
 * must find nothing for a colliding key that is not held.
 */
static void test_fingerprint_collisions(void **state)
{
	struct cache_stats st;
	struct cache *c = mk(16 * 12, 12, false, &st);   /* 16 sets of 12 ways */
	static const struct cache_tag tag_b = { .domain = 0x1001, .asid = 6, .vmid = 1 };
	uint64_t keys[4], page;
	unsigned n = 0, i;

	(void)state;
	/* Pages of set 3 (page & 15 == 3) with the fingerprint of the first. */
	for (page = 3; n < 4; page += 16)
		if (n == 0 || cache_fp(cache_key(page << 12, 12)) == cache_fp(keys[0]))
			keys[n++] = cache_key(page << 12, 12);
	for (i = 0; i < 3; i++)
		fill(c, cache_key_page(keys[i]) << 12, 12, &tag_a, false, 0x1000 * (i + 1));
	/* The same key under another tag sits beside them and is told apart. */
	fill(c, cache_key_page(keys[1]) << 12, 12, &tag_b, false, 0xb000);
	for (i = 0; i < 3; i++)
		assert_int_equal(cache_find(c, keys[i], &tag_a)->val, 0x1000 * (i + 1));
	assert_int_equal(cache_find(c, keys[1], &tag_b)->val, 0xb000);
	assert_null(cache_find(c, keys[0], &tag_b));
	assert_null(cache_find(c, keys[3], &tag_a));
	/* Invalidated: its fingerprint may stay, its key no longer matches. */
	{
		struct cache_inval inv = { .flags = CACHE_INV_KEY | CACHE_INV_ASID, .key = keys[1],
					   .asid = tag_a.asid };

		assert_int_equal(cache_invalidate(c, &inv), 1);
	}
	assert_null(cache_find(c, keys[1], &tag_a));
	assert_int_equal(cache_find(c, keys[1], &tag_b)->val, 0xb000);
	assert_int_equal(cache_find(c, keys[2], &tag_a)->val, 0x3000);
	cache_destroy(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_geometry),
		cmocka_unit_test(test_key_sizes),
		cmocka_unit_test(test_tags_and_global),
		cmocka_unit_test(test_lru),
		cmocka_unit_test(test_fill_victims),
		cmocka_unit_test(test_fill_missed_same_victims),
		cmocka_unit_test(test_age_order_oldest),
		cmocka_unit_test(test_invalidate_selectors),
		cmocka_unit_test(test_invalidate_addr_sizes),
		cmocka_unit_test(test_invalidate_range),
		cmocka_unit_test(test_perfect),
		cmocka_unit_test(test_sizes_never_held),
		cmocka_unit_test(test_fingerprint_collisions),
		cmocka_unit_test(test_known_shape_same_as_any),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
