/* SPDX-License-Identifier: MIT */
/*
 * tests/mmu_hit_test.c - counting on a kept shortcut slot (ept/mmu.h:
 * mmu_hit_count_on, mmu_hit_settle_take, mmu_fetch_only and
 * mmu_hit_data_apart), the calls the software vCPU counts its instruction
 * fetches with.
 *
 * Two MMUs with the same guest run one random sequence of fetches and data
 * accesses. The first counts every fetch when it is made; the second defers
 * the fetches that hit the page it holds armed, as the vCPU does, and
 * counts them on the kept slot when it fetches from another page, before an
 * access that may not pass them, or at the end; across a data translation
 * it keeps them deferred only when mmu_hit_data_apart() allows. Both must
 * end with the same counters and the same keys, LRU stamps and clock in
 * every structure.
 */
#include <stdlib.h>
#include <string.h>

#include "tests/testutil.h"
#include "ept/mmu.h"
#include "ept/mmu_int.h"
#include "ept/cache.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define WB_ATTRS (EPT_RWX | ((uint64_t)EPT_MT_WB << EPT_MT_SHIFT))

#define TABLE_GPA  (1 * MiB)
#define TABLE_LEN  (256 * 1024)
/* Code: 24 4 KiB pages (more than the L1 iTLB's 8 ways of a set hold when
 * their set indexes collide) and one 2 MiB page. Data: 4 KiB pages twice the
 * STLB's reach, read-only pages, and a hole that faults. */
#define CODE_GVA   0x0000000000400000ULL
#define CODE_PAGES 24
#define HUGE_GVA   0x0000000000800000ULL   /* 2 MiB, code and data */
#define DATA_GVA   0x00007f0000000000ULL
#define RO_GVA     0x00007f0010000000ULL
#define RO_PAGES   16
#define HOLE_GVA   0x00007f0020000000ULL

struct env {
	struct hpool *pool;
	struct ept *ept;
	struct gpt_builder *b;
	struct mmu *mmu;
	struct mmu_hit *h;
	struct mmu_ctx ctx;
	uint64_t ram;
};

static void env_init(struct env *e, const struct mmu_config *cfg, uint64_t data_pages)
{
	struct ept_caps caps = { .exec_only = true, .page_1g = true };

	memset(e, 0, sizeof(*e));
	assert_ok(hpool_create(4 * GiB, &e->pool));
	assert_ok(hpool_alloc(e->pool, GiB, FRAME_GUEST, &e->ram));
	assert_ok(ept_create(e->pool, 4, true, &caps, &e->ept));
	assert_ok(ept_map(e->ept, 0, e->ram, GiB, WB_ATTRS, 1ULL << PAGE_SHIFT_2M));
	assert_ok(gpt_builder_create(e->pool, e->ept, 4, TABLE_GPA, TABLE_LEN, &e->b));
	assert_ok(gpt_map(e->b, CODE_GVA, 4 * MiB, CODE_PAGES * 4096, 0, 12));
	assert_ok(gpt_map(e->b, HUGE_GVA, 8 * MiB, 2 * MiB, PTE_W, 21));
	assert_ok(gpt_map(e->b, DATA_GVA, 32 * MiB, data_pages * 4096, PTE_W | PTE_XD, 12));
	assert_ok(gpt_map(e->b, RO_GVA, 16 * MiB, RO_PAGES * 4096, PTE_XD, 12));
	assert_ok(mmu_create(e->pool, cfg, &e->mmu));
	e->h = mmu_hit(e->mmu);
	e->ctx.cr0 = CR0_PE | CR0_PG | CR0_WP;
	e->ctx.cr4 = CR4_PAE | CR4_PGE;
	e->ctx.efer = EFER_LME | EFER_LMA | EFER_NXE;
	e->ctx.cr3 = gpt_builder_cr3(e->b);
	e->ctx.vpid = 1;
	e->ctx.ept = e->ept;
	mmu_set_ctx(e->mmu, &e->ctx);
}

static void env_fini(struct env *e)
{
	mmu_destroy(e->mmu);
	gpt_builder_destroy(e->b);
	ept_destroy(e->ept);
	hpool_destroy(e->pool);
}

static uint64_t xs_next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* One access counted at once: the shortcut, else the miss path. */
static void access_now(struct env *e, uint64_t gva, unsigned access, struct mmu_result *r)
{
	uint64_t hpa;

	if (mmu_translate_hit(e->h, gva, access, &hpa)) {
		*r = (struct mmu_result){ .status = MMU_OK, .hpa = hpa };
		return;
	}
	mmu_translate_cur(e->mmu, gva, access, r);
}

/* The deferring side: fetches from `page` (armed) after the one that hit
 * `slot` are counted later, n of them so far. */
struct deferred {
	bool armed;
	uint64_t page;
	const struct mmu_hit_slot *slot;
	uint64_t n;
	unsigned kept;      /* data translations the deferred fetches stayed deferred across */
	unsigned settled;   /* ... and those they were counted before */
};

static void settle(struct env *e, struct deferred *d)
{
	if (d->armed)
		mmu_hit_count_on(e->h, d->slot, ACC_FETCH, d->n);
	d->armed = false;
}

static void fetch_deferred(struct env *e, struct deferred *d, uint64_t gva, struct mmu_result *r)
{
	struct mmu_hit_slot *s;

	if (d->armed && (gva & ~0xfffULL) == d->page) {
		/* The armed page: one more hit, counted later. */
		d->n++;
		r->status = MMU_OK;
		r->hpa = d->slot->hpa | (gva & 0xfff);
		return;
	}
	s = mmu_hit_find(e->h, gva, ACC_FETCH);
	if (s == NULL) {
		settle(e, d);
		mmu_translate_cur(e->mmu, gva, ACC_FETCH, r);
		return;
	}
	r->status = MMU_OK;
	r->hpa = d->armed ? mmu_hit_settle_take(e->h, d->slot, d->n, s, gva, ACC_FETCH)
			  : mmu_hit_settle_take(e->h, s, 0, s, gva, ACC_FETCH);
	*d = (struct deferred){ .armed = true, .page = gva & ~0xfffULL, .slot = s, .n = 0,
				.kept = d->kept, .settled = d->settled };
}

static void data_deferred(struct env *e, struct deferred *d, uint64_t gva, unsigned access,
			  const struct mmu_fetch_only *f, struct mmu_result *r)
{
	struct mmu_hit_slot *s = mmu_hit_find(e->h, gva, access);

	if (s != NULL) {
		/* A hit in the fetches' own structure must come after them. */
		if (d->armed && !mmu_hit_apart(e->h, d->slot, gva, access))
			settle(e, d);
		r->status = MMU_OK;
		r->hpa = mmu_hit_take(e->h, s, gva, access);
		return;
	}
	if (d->armed) {
		if (mmu_hit_data_apart(f, d->slot, d->page, gva)) {
			d->kept++;
		} else {
			settle(e, d);
			d->settled++;
		}
	}
	mmu_translate_cur(e->mmu, gva, access, r);
}

static void assert_same_model(const struct env *a, const struct env *b)
{
	unsigned i;

	assert_memory_equal(mmu_stats(a->mmu), mmu_stats(b->mmu), sizeof(struct mmu_stats));
	for (i = 0; i < MMU_NSTRUCT; i++) {
		const struct cache *ta = a->mmu->t[i], *tb = b->mmu->t[i];
		unsigned n = a->mmu->cfg.geom[i].entries;

		if (!ta)
			continue;
		assert_memory_equal(ta->keys, tb->keys, n * sizeof(*ta->keys));
		assert_memory_equal(ta->lru, tb->lru, n * sizeof(*ta->lru));
		assert_int_equal(ta->clock, tb->clock);
	}
}

/*
 * The random sequence over cfg: fetches from the code pages (runs on one
 * page, as instructions are), reads and writes of data pages, of the code
 * pages and of the 2 MiB page, writes to read-only pages and accesses to the
 * hole (page faults, which invalidate their address in every TLB), and
 * now and then an INVLPG (counted after the deferred fetches, as the vCPU
 * does).
 */
static void run_pair(const struct mmu_config *cfg, unsigned *kept, unsigned *settled)
{
	const uint64_t data_pages = 2 * (cfg->geom[TLB_L2_4K2M].entries ? cfg->geom[TLB_L2_4K2M].entries : 512);
	struct env a, b;
	struct mmu_fetch_only f;
	struct deferred d = { 0 };
	uint64_t x = 0x9e3779b97f4a7c15ULL, code = CODE_GVA;
	unsigned i, faults = 0;

	assert_true(data_pages * 4096 <= 64 * MiB);
	env_init(&a, cfg, data_pages);
	env_init(&b, cfg, data_pages);
	mmu_fetch_only(b.mmu, &f);
	for (i = 0; i < 200000; i++) {
		const uint64_t r = xs_next(&x), op = r % 100;
		struct mmu_result ra, rb;
		unsigned access = (r >> 8) & 1 ? ACC_WRITE : ACC_READ;
		uint64_t gva;

		if (op < 55) {
			/* The next instruction: mostly on the same page, else a
			 * transfer to another code page or into the 2 MiB page. */
			if ((r >> 8) % 16 == 0)
				code = CODE_GVA + ((r >> 12) % CODE_PAGES) * 4096 + ((r >> 20) & 0xfff);
			else if ((r >> 8) % 64 == 1)
				code = HUGE_GVA + ((r >> 12) % (2 * MiB));
			else
				code = (code & ~0xfffULL) | ((code + 3) & 0xfff);
			access_now(&a, code, ACC_FETCH, &ra);
			fetch_deferred(&b, &d, code, &rb);
		} else {
			if (op < 80)
				gva = DATA_GVA + ((r >> 12) % data_pages) * 4096 + ((r >> 40) & 0xff8);
			else if (op < 86)
				gva = CODE_GVA + ((r >> 12) % CODE_PAGES) * 4096 + ((r >> 40) & 0xff8);
			else if (op < 90)
				gva = HUGE_GVA + ((r >> 12) % (2 * MiB) & ~7ULL);
			else if (op < 94)
				gva = RO_GVA + ((r >> 12) % RO_PAGES) * 4096;
			else if (op < 97)
				gva = HOLE_GVA + ((r >> 12) % 64) * 4096;
			else {
				gva = (r >> 8) & 1 ? code : DATA_GVA + ((r >> 12) % data_pages) * 4096;
				mmu_invlpg(a.mmu, &a.ctx, gva);
				settle(&b, &d);
				mmu_invlpg(b.mmu, &b.ctx, gva);
				continue;
			}
			access_now(&a, gva, access, &ra);
			data_deferred(&b, &d, gva, access, &f, &rb);
			faults += ra.status != MMU_OK;
		}
		assert_int_equal(ra.status, rb.status);
		if (ra.status == MMU_OK)
			assert_int_equal(ra.hpa, rb.hpa);
	}
	settle(&b, &d);
	assert_true(faults > 5000);
	assert_true(mmu_stats(a.mmu)->walks > 10000);
	assert_same_model(&a, &b);
	*kept = d.kept;
	*settled = d.settled;
	env_fini(&a);
	env_fini(&b);
}

/* With the L1 iTLBs (skylake): most data misses leave the fetches deferred,
 * and those in the fetches' own page count them first. */
static void test_deferred_fetches_skylake(void **state)
{
	struct mmu_config cfg;
	unsigned kept, settled;

	(void)state;
	assert_ok(mmu_config_preset("skylake", &cfg));
	run_pair(&cfg, &kept, &settled);
	assert_true(kept > 10000);
	assert_true(settled > 100);
}

/* Without L1 iTLBs, fetches hit entries of the unified STLB, which data
 * misses look up and fill: no data miss may pass them. */
static void test_deferred_fetches_no_itlb(void **state)
{
	struct mmu_config cfg;
	unsigned kept, settled;

	(void)state;
	assert_ok(mmu_config_preset("skylake", &cfg));
	cfg.geom[TLB_L1I_4K] = (struct cache_geom){ 0 };
	cfg.geom[TLB_L1I_2M] = (struct cache_geom){ 0 };
	run_pair(&cfg, &kept, &settled);
	assert_int_equal(kept, 0);
	assert_true(settled > 10000);
}

/* The answers themselves, for slots of each iTLB and of the STLB. */
static void test_data_apart_answers(void **state)
{
	struct mmu_config cfg;
	struct mmu_fetch_only f;
	struct mmu_result r;
	struct mmu_hit_slot *s4, *s2;
	struct env e;
	unsigned k;

	(void)state;
	assert_ok(mmu_config_preset("skylake", &cfg));
	env_init(&e, &cfg, 16);
	mmu_fetch_only(e.mmu, &f);
	assert_ptr_equal(f.clock[0], &e.mmu->t[TLB_L1I_4K]->clock);
	assert_ptr_equal(f.clock[1], &e.mmu->t[TLB_L1I_2M]->clock);
	mmu_translate_cur(e.mmu, CODE_GVA + 0x10, ACC_FETCH, &r);
	assert_int_equal(r.status, MMU_OK);
	mmu_translate_cur(e.mmu, HUGE_GVA + 0x5010, ACC_FETCH, &r);
	assert_int_equal(r.status, MMU_OK);
	s4 = mmu_hit_find(e.h, CODE_GVA + 0x20, ACC_FETCH);
	s2 = mmu_hit_find(e.h, HUGE_GVA + 0x5020, ACC_FETCH);
	assert_non_null(s4);
	assert_non_null(s2);
	assert_int_equal(s4->shift, PAGE_SHIFT_4K);
	assert_int_equal(s2->shift, PAGE_SHIFT_2M);
	/* Another page: apart; the same 4 KiB page: not. */
	assert_true(mmu_hit_data_apart(&f, s4, CODE_GVA, DATA_GVA));
	assert_true(mmu_hit_data_apart(&f, s4, CODE_GVA, CODE_GVA + 4096));
	assert_false(mmu_hit_data_apart(&f, s4, CODE_GVA, CODE_GVA + 0xff8));
	/* A 2 MiB entry: all of its 2 MiB is its page. */
	assert_false(mmu_hit_data_apart(&f, s2, HUGE_GVA + 0x5000, HUGE_GVA + 0x1ff000));
	assert_true(mmu_hit_data_apart(&f, s2, HUGE_GVA + 0x5000, HUGE_GVA + 2 * MiB));
	env_fini(&e);

	/* No iTLB: the fetch slot is the STLB's, never apart. */
	cfg.geom[TLB_L1I_4K] = (struct cache_geom){ 0 };
	cfg.geom[TLB_L1I_2M] = (struct cache_geom){ 0 };
	env_init(&e, &cfg, 16);
	mmu_fetch_only(e.mmu, &f);
	for (k = 0; k < 2; k++)
		assert_null(f.clock[k]);
	mmu_translate_cur(e.mmu, CODE_GVA + 0x10, ACC_FETCH, &r);
	assert_int_equal(r.status, MMU_OK);
	s4 = mmu_hit_find(e.h, CODE_GVA + 0x20, ACC_FETCH);
	assert_non_null(s4);
	assert_ptr_equal(s4->clock, &e.mmu->t[TLB_L2_4K2M]->clock);
	assert_false(mmu_hit_data_apart(&f, s4, CODE_GVA, DATA_GVA));
	env_fini(&e);
}

/*
 * mmu_hit_settle_take against the calls it stands for, with exact counts:
 * 5 hits on page P (1 taken, 4 deferred), then one on page Q, and then
 * one more on P, whose stamp must be the clock's after all seven.
 */
static void test_settle_take_counts(void **state)
{
	struct mmu_config cfg;
	struct mmu_result r;
	struct mmu_hit_slot *p, *q;
	struct env e;
	const struct mmu_stats *st;
	uint64_t clock0, hits0, tr0, fe0, hpa;

	(void)state;
	assert_ok(mmu_config_preset("skylake", &cfg));
	env_init(&e, &cfg, 16);
	st = mmu_stats(e.mmu);
	mmu_translate_cur(e.mmu, CODE_GVA, ACC_FETCH, &r);
	mmu_translate_cur(e.mmu, CODE_GVA + 4096, ACC_FETCH, &r);
	p = mmu_hit_find(e.h, CODE_GVA, ACC_FETCH);
	q = mmu_hit_find(e.h, CODE_GVA + 4096, ACC_FETCH);
	assert_non_null(p);
	assert_non_null(q);
	assert_ptr_equal(p->clock, q->clock);
	clock0 = *p->clock;
	hits0 = st->s[TLB_L1I_4K].hits;
	tr0 = st->translations;
	fe0 = st->by_access[2];

	mmu_hit_take(e.h, p, CODE_GVA, ACC_FETCH);
	assert_int_equal(*p->lru, clock0 + 1);
	hpa = mmu_hit_settle_take(e.h, p, 4, q, CODE_GVA + 4096 + 0x123, ACC_FETCH);
	assert_int_equal(hpa, q->hpa | 0x123);
	assert_int_equal(*p->lru, clock0 + 5);
	assert_int_equal(*q->lru, clock0 + 6);
	assert_int_equal(*p->clock, clock0 + 6);
	assert_int_equal(st->s[TLB_L1I_4K].hits, hits0 + 6);
	assert_int_equal(st->translations, tr0 + 6);
	assert_int_equal(st->by_access[2], fe0 + 6);
	/* n = 0 on the kept slot changes nothing but the new hit. */
	mmu_hit_settle_take(e.h, q, 0, p, CODE_GVA, ACC_FETCH);
	assert_int_equal(*q->lru, clock0 + 6);
	assert_int_equal(*p->lru, clock0 + 7);
	mmu_hit_count_on(e.h, p, ACC_FETCH, 3);
	assert_int_equal(*p->lru, clock0 + 10);
	assert_int_equal(st->s[TLB_L1I_4K].hits, hits0 + 10);
	assert_int_equal(st->translations, tr0 + 10);
	assert_int_equal(st->by_access[2], fe0 + 10);
	assert_int_equal(st->by_access[0] + st->by_access[1], 0);
	env_fini(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_settle_take_counts),
		cmocka_unit_test(test_data_apart_answers),
		cmocka_unit_test(test_deferred_fetches_skylake),
		cmocka_unit_test(test_deferred_fetches_no_itlb),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
