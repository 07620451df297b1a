/* SPDX-License-Identifier: MIT */
/*
 * tests/mmu_test.c - the composed translation: guest paging rules, the 2D
 * walk's reference counts, TLBs, paging-structure caches and invalidation.
 *
 * Every expected value is architectural (SDM Vol. 3A ch. 4, Vol. 3C ch. 28-29)
 * and worked out by hand in the comment beside it; none is computed by the
 * code under test.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/testutil.h"
#include "ept/mmu.h"
#include "ept/mmu_int.h"
#include "ept/cache.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define WB_ATTRS (EPT_RWX | ((uint64_t)EPT_MT_WB << EPT_MT_SHIFT))

/* Guest-physical layout used by every test: 1 GiB of RAM at GPA 0. */
#define TABLE_GPA  (1 * MiB)
#define TABLE_LEN  (256 * 1024)
#define DATA_GPA   (32 * MiB)
#define DATA_GVA   0x00007f0000200000ULL

struct env {
	struct hpool *pool;
	struct ept *ept;           /* NULL: native */
	struct gpt_builder *b;
	struct mmu *mmu;
	struct mmu_ctx ctx;
	uint64_t ram;              /* HPA of GPA 0 */
};

struct env_opts {
	unsigned guest_levels;     /* 4 or 5 */
	unsigned ept_levels;       /* 4 or 5; 0 = native */
	unsigned ept_shift;        /* largest EPT page */
	bool ad;
	const char *preset;        /* default "none" */
	const struct mmu_config *cfg;
};

static void env_init(struct env *env, const struct env_opts *o)
{
	struct ept_caps caps = { .exec_only = true, .page_1g = true };
	struct mmu_config cfg;

	memset(env, 0, sizeof(*env));
	assert_ok(hpool_create(4 * GiB, &env->pool));
	assert_ok(hpool_alloc(env->pool, GiB, FRAME_GUEST, &env->ram));
	if (o->ept_levels) {
		assert_ok(ept_create(env->pool, o->ept_levels, o->ad, &caps, &env->ept));
		assert_ok(ept_map(env->ept, 0, env->ram, GiB, WB_ATTRS,
				  1ULL << (o->ept_shift ? o->ept_shift : PAGE_SHIFT_4K)));
		assert_ok(gpt_builder_create(env->pool, env->ept, o->guest_levels, TABLE_GPA,
					     TABLE_LEN, &env->b));
	} else {
		/* Native: guest-physical is host-physical. */
		assert_ok(gpt_builder_create(env->pool, NULL, o->guest_levels, env->ram + TABLE_GPA,
					     TABLE_LEN, &env->b));
	}
	if (o->cfg)
		cfg = *o->cfg;
	else
		assert_ok(mmu_config_preset(o->preset ? o->preset : "none", &cfg));
	assert_ok(mmu_create(env->pool, &cfg, &env->mmu));
	env->ctx.cr0 = CR0_PE | CR0_PG | CR0_WP;
	env->ctx.cr4 = CR4_PAE | CR4_PGE | (o->guest_levels == 5 ? CR4_LA57 : 0);
	env->ctx.efer = EFER_LME | EFER_LMA | EFER_NXE;
	env->ctx.cr3 = gpt_builder_cr3(env->b);
	env->ctx.vpid = 1;
	env->ctx.ept = env->ept;
}

static void env_fini(struct env *env)
{
	mmu_destroy(env->mmu);
	gpt_builder_destroy(env->b);
	if (env->ept)
		ept_destroy(env->ept);
	hpool_destroy(env->pool);
}

/* Guest RAM GPA (or native HPA-as-GPA) -> HPA. */
static uint64_t ram_hpa(const struct env *env, uint64_t gpa)
{
	return env->ept ? env->ram + gpa : gpa;
}

static uint64_t data_gpa(const struct env *env, uint64_t off)
{
	return (env->ept ? 0 : env->ram) + DATA_GPA + off;
}

static uint64_t peek_entry(const struct env *env, uint64_t gva, unsigned level)
{
	uint64_t gpa = gpt_entry_gpa(env->b, gva, level);

	assert_int_not_equal(gpa, 0);
	return hpool_read64(env->pool, ram_hpa(env, gpa));
}

static void poke_entry(struct env *env, uint64_t gva, unsigned level, uint64_t v)
{
	uint64_t gpa = gpt_entry_gpa(env->b, gva, level);

	assert_int_not_equal(gpa, 0);
	hpool_write64(env->pool, ram_hpa(env, gpa), v);
}

static struct mmu_result xlate(struct env *env, uint64_t gva, unsigned access)
{
	struct mmu_result r;

	mmu_translate(env->mmu, &env->ctx, gva, access, &r);
	return r;
}

static unsigned refs_of(struct env *env, uint64_t gva, unsigned access)
{
	struct mmu_result r = xlate(env, gva, access);

	assert_int_equal(r.status, MMU_OK);
	return r.refs;
}

/* ------------------------------------------------------------------------ */
/* Reference counts with every cache off (facts §3)                         */
/* ------------------------------------------------------------------------ */

static unsigned full_walk(unsigned gl, unsigned el, unsigned eshift, unsigned gshift)
{
	struct env_opts o = { .guest_levels = gl, .ept_levels = el, .ept_shift = eshift };
	struct env env;
	struct mmu_result r;
	uint64_t gva = gshift == PAGE_SHIFT_1G ? 0x40000000ULL : DATA_GVA;
	uint64_t gpa = gshift == PAGE_SHIFT_1G ? (el ? 0 : 0) : DATA_GPA;

	env_init(&env, &o);
	if (!el && gshift == PAGE_SHIFT_1G)
		gpa = env.ram;   /* native: a 1 GiB page must be 1 GiB aligned in HPA */
	else if (!el)
		gpa = env.ram + DATA_GPA;
	assert_ok(gpt_map(env.b, gva, gpa, 1ULL << gshift, PTE_W, gshift));
	r = xlate(&env, gva + 0x123, ACC_READ);
	assert_int_equal(r.status, MMU_OK);
	assert_int_equal(r.hpa, (el ? env.ram + gpa : gpa) + 0x123);
	/* Cold and warm walks cost the same: nothing is cached. */
	assert_int_equal(refs_of(&env, gva + 0x123, ACC_READ), r.refs);
	env_fini(&env);
	return r.refs;
}

/* (n+1)(m+1)-1 for n guest and m EPT levels. */
static void test_refs_4k(void **state)
{
	assert_int_equal(full_walk(4, 4, 12, 12), 24);
	assert_int_equal(full_walk(5, 5, 12, 12), 35);
	assert_int_equal(full_walk(4, 5, 12, 12), 29);
	assert_int_equal(full_walk(5, 4, 12, 12), 29);
	assert_int_equal(full_walk(4, 0, 12, 12), 4);    /* native */
	assert_int_equal(full_walk(5, 0, 12, 12), 5);
}

/* Large pages shorten a dimension: sum over guest steps of (m_i + 1), plus m. */
static void test_refs_large(void **state)
{
	assert_int_equal(full_walk(4, 4, 12, 21), 19);   /* 3 guest steps x 5 + 4 */
	assert_int_equal(full_walk(4, 4, 21, 12), 19);   /* 4 x (3+1) + 3 */
	assert_int_equal(full_walk(4, 4, 21, 21), 15);   /* 3 x 4 + 3 */
	assert_int_equal(full_walk(4, 4, 30, 12), 14);   /* 4 x 3 + 2 */
	assert_int_equal(full_walk(4, 4, 30, 30), 8);    /* 2 x 3 + 2 */
	assert_int_equal(full_walk(4, 0, 0, 21), 3);     /* native 2M */
}

/*
 * With every cache off, a walk whose guest entries already have A (and D) set
 * takes a shortcut through ept/mmu_walk.c (mmu_translate_fast) while the first walk,
 * which must set the flags, takes the general one: both must count exactly
 * the same walks, references, histogram bucket and grid cells.
 */
static void walk_delta(struct env *env, uint64_t gva, unsigned access, struct mmu_stats *d)
{
	struct mmu_stats before = *mmu_stats(env->mmu);
	const struct mmu_stats *after;
	struct mmu_result r = xlate(env, gva, access);

	assert_int_equal(r.status, MMU_OK);
	after = mmu_stats(env->mmu);
	memset(d, 0, sizeof(*d));
	d->walks = after->walks - before.walks;
	d->walk_refs = after->walk_refs - before.walk_refs;
	for (unsigned i = 0; i <= MMU_MAX_REFS; i++)
		d->refs_hist[i] = after->refs_hist[i] - before.refs_hist[i];
	for (unsigned row = 0; row < GRID_ROWS; row++)
		for (unsigned col = 0; col < GRID_COLS; col++)
			d->grid[row][col] = after->grid[row][col] - before.grid[row][col];
}

static void test_fast_and_general_walks_count_alike(void **state)
{
	static const struct { unsigned gl, el, eshift, gshift; } shapes[] = {
		{ 4, 4, 12, 12 }, { 5, 5, 12, 12 }, { 4, 5, 12, 12 }, { 5, 4, 12, 12 },
		{ 4, 4, 21, 12 }, { 4, 4, 12, 21 }, { 4, 4, 21, 21 }, { 4, 4, 30, 12 },
	};
	static const unsigned access[] = { ACC_READ, ACC_WRITE, ACC_FETCH };

	for (unsigned i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		for (unsigned a = 0; a < sizeof(access) / sizeof(access[0]); a++) {
			struct env_opts o = { .guest_levels = shapes[i].gl, .ept_levels = shapes[i].el,
					      .ept_shift = shapes[i].eshift };
			unsigned gshift = shapes[i].gshift;
			struct mmu_stats first, second;
			struct env env;

			env_init(&env, &o);
			assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 1ULL << gshift, PTE_W, gshift));
			walk_delta(&env, DATA_GVA + 0x40, access[a], &first);
			/* The first walk set A (and D): the guest leaf shows it. */
			assert_int_not_equal(peek_entry(&env, DATA_GVA, gshift == 21 ? 2 : 1) & PTE_A, 0);
			walk_delta(&env, DATA_GVA + 0x40, access[a], &second);
			assert_int_equal(first.walks, 1);
			assert_int_equal(second.walks, 1);
			assert_int_equal(second.walk_refs, first.walk_refs);
			assert_int_equal(second.refs_hist[first.walk_refs], 1);
			assert_memory_equal(second.refs_hist, first.refs_hist, sizeof(first.refs_hist));
			assert_memory_equal(second.grid, first.grid, sizeof(first.grid));
			env_fini(&env);
		}
	}
}

/* facts §3: in the 4/4 grid, references 5, 10, 15, 20 are the guest entries. */
static void test_grid_4_4(void **state)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4 };
	const struct mmu_stats *st;
	struct walk_trace tr;
	struct mmu_result r;
	struct env env;
	unsigned row, col, i;

	env_init(&env, &o);
	assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 4096, PTE_W, 12));
	mmu_translate_traced(env.mmu, &env.ctx, DATA_GVA, ACC_READ, &r, &tr);
	assert_int_equal(r.status, MMU_OK);
	assert_int_equal(tr.n, 24);
	for (i = 0; i < 24; i++) {
		bool guest = (i + 1) % 5 == 0 && i < 20;

		assert_int_equal(tr.ref[i].ept_level, guest ? 0 : 4 - (int)(i % 5));
		assert_int_equal(tr.ref[i].guest_level, i < 20 ? 4 - (int)(i / 5) : 0);
		assert_int_not_equal(tr.ref[i].value & 1, 0);   /* every entry read was present */
	}
	/* The guest PML4 entry lives at CR3 + index*8. */
	assert_int_equal(tr.ref[4].gpa, TABLE_GPA + ((DATA_GVA >> 39) & 511) * 8);
	assert_int_equal(tr.ref[23].gpa, DATA_GPA);

	st = mmu_stats(env.mmu);
	for (row = 0; row < GRID_ROWS; row++)
		for (col = 0; col < GRID_COLS; col++) {
			uint64_t want = 0;

			if (row <= 3 && col >= 1)
				want = 1;        /* 4 EPT refs + the guest entry */
			if (row == 4 && col >= 1 && col <= 4)
				want = 1;        /* the final GPA: EPT levels 4..1 */
			assert_int_equal(st->grid[row][col], want);
		}
	assert_int_equal(st->walks, 1);
	assert_int_equal(st->walk_refs, 24);
	assert_int_equal(st->refs_hist[24], 1);
	env_fini(&env);
}

/* ------------------------------------------------------------------------ */
/* Reference experiments with caches (facts §3)                             */
/* ------------------------------------------------------------------------ */

static void cfg_only(struct mmu_config *c, const enum tlb_id *ids, unsigned n, bool perfect)
{
	unsigned i;

	assert_ok(mmu_config_preset("none", c));
	for (i = 0; i < n; i++) {
		if (perfect) {
			c->perfect[ids[i]] = true;
		} else {
			c->geom[ids[i]].entries = 64;
			c->geom[ids[i]].ways = 4;
		}
	}
}

static unsigned second_walk(unsigned el, const enum tlb_id *ids, unsigned n, bool *hit)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = el };
	struct mmu_config cfg;
	struct mmu_result r;
	struct env env;
	unsigned first;

	cfg_only(&cfg, ids, n, true);
	o.cfg = &cfg;
	env_init(&env, &o);
	assert_ok(gpt_map(env.b, DATA_GVA, data_gpa(&env, 0), 4096, PTE_W, 12));
	/* The first walk may already profit (the guest tables share upper
	 * GPA bits); the second sees everything the first one filled. */
	first = refs_of(&env, DATA_GVA, ACC_READ);
	r = xlate(&env, DATA_GVA + 8, ACC_READ);
	assert_true(first >= r.refs);
	assert_int_equal(r.status, MMU_OK);
	assert_int_equal(r.hpa, ram_hpa(&env, data_gpa(&env, 8)));
	if (hit)
		*hit = r.tlb_hit;
	env_fini(&env);
	return r.refs;
}

static void test_refs_cached(void **state)
{
	static const enum tlb_id nested[] = { NESTED_TLB };
	static const enum tlb_id gp[] = { PWC_GP_PML4, PWC_GP_PDPTE, PWC_GP_PDE };
	static const enum tlb_id pde2[] = { PWC_PDE, PWC_GP_PDE };
	static const enum tlb_id pde3[] = { PWC_PDE, PWC_GP_PDE, NESTED_TLB };
	static const enum tlb_id tlb[] = { TLB_L1D_4K };
	static const enum tlb_id pde[] = { PWC_PDE };
	static const enum tlb_id pdpte[] = { PWC_PDPTE };
	static const enum tlb_id pml4[] = { PWC_PML4 };
	bool hit;

	/* Perfect nested TLB: the five GPAs hit, only the 4 guest entries remain. */
	assert_int_equal(second_walk(4, nested, 1, NULL), 4);
	/* Perfect EPT upper-level caches: 5 EPT leaf refs + 4 guest entries. */
	assert_int_equal(second_walk(4, gp, 3, NULL), 9);
	/* Combined PDE hit (PTE read) + guest-physical PDE hit (EPT PTE read). */
	assert_int_equal(second_walk(4, pde2, 2, NULL), 2);
	/* ... and the final GPA in the nested TLB. */
	assert_int_equal(second_walk(4, pde3, 3, NULL), 1);
	/* Combined TLB hit: no reference at all. */
	assert_int_equal(second_walk(4, tlb, 1, &hit), 0);
	assert_true(hit);
	/* Native paging-structure caches: PDE hit 1, PDPTE 2, PML4 3. */
	assert_int_equal(second_walk(0, pde, 1, NULL), 1);
	assert_int_equal(second_walk(0, pdpte, 1, NULL), 2);
	assert_int_equal(second_walk(0, pml4, 1, NULL), 3);
}

/* ------------------------------------------------------------------------ */
/* Permission matrix (SDM 4.6) and error codes (SDM 4.7)                    */
/* ------------------------------------------------------------------------ */

enum where { AT_LEAF, AT_PDE, AT_PDPTE, AT_PML4 };

struct perm_case {
	const char *rule;
	uint64_t leaf;          /* PTE flags besides P */
	enum where where;       /* which upper entry `upper_clear`/`upper_set` change */
	uint64_t upper_clear, upper_set;
	uint64_t cr0_extra_clear, cr4_extra;
	bool nxe_off, ac;
	unsigned cpl, access;
	enum mmu_status status;
	uint32_t ec;
};

#define R ACC_READ
#define W ACC_WRITE
#define X ACC_FETCH
#define IMP ACC_IMPLICIT_SV

static const struct perm_case perm_cases[] = {
	{ "user read of a user page", PTE_W | PTE_U, AT_LEAF, 0, 0, 0, 0, false, false, 3, R, MMU_OK, 0 },
	{ "user write needs R/W=1", PTE_U, AT_LEAF, 0, 0, 0, 0, false, false, 3, W, MMU_PAGE_FAULT, PF_P | PF_W | PF_U },
	{ "user read needs U/S=1", PTE_W, AT_LEAF, 0, 0, 0, 0, false, false, 3, R, MMU_PAGE_FAULT, PF_P | PF_U },
	{ "user fetch of XD page", PTE_W | PTE_U | PTE_XD, AT_LEAF, 0, 0, 0, 0, false, false, 3, X, MMU_PAGE_FAULT, PF_P | PF_U | PF_I },
	{ "U/S=0 in the PDE wins", PTE_W | PTE_U, AT_PDE, PTE_U, 0, 0, 0, false, false, 3, R, MMU_PAGE_FAULT, PF_P | PF_U },
	{ "XD in the PDPTE wins", PTE_W | PTE_U, AT_PDPTE, 0, PTE_XD, 0, 0, false, false, 3, X, MMU_PAGE_FAULT, PF_P | PF_U | PF_I },
	{ "R/W=0 in the PML4E wins", PTE_W | PTE_U, AT_PML4, PTE_W, 0, 0, 0, false, false, 3, W, MMU_PAGE_FAULT, PF_P | PF_W | PF_U },
	{ "user write, all writable", PTE_W | PTE_U, AT_LEAF, 0, 0, 0, 0, false, false, 3, W, MMU_OK, 0 },
	{ "supervisor write, WP=1, R/W=0", 0, AT_LEAF, 0, 0, 0, 0, false, false, 0, W, MMU_PAGE_FAULT, PF_P | PF_W },
	{ "supervisor write, WP=0 ignores R/W", 0, AT_LEAF, 0, 0, CR0_WP, 0, false, false, 0, W, MMU_OK, 0 },
	{ "supervisor write to user RO page, WP=0", PTE_U, AT_LEAF, 0, 0, CR0_WP, 0, false, false, 0, W, MMU_OK, 0 },
	{ "supervisor write to user RO page, WP=1", PTE_U, AT_LEAF, 0, 0, 0, 0, false, false, 0, W, MMU_PAGE_FAULT, PF_P | PF_W },
	{ "SMAP, AC=0: supervisor read of user page", PTE_W | PTE_U, AT_LEAF, 0, 0, 0, CR4_SMAP, false, false, 0, R, MMU_PAGE_FAULT, PF_P },
	{ "SMAP, AC=1: explicit read allowed", PTE_W | PTE_U, AT_LEAF, 0, 0, 0, CR4_SMAP, false, true, 0, R, MMU_OK, 0 },
	{ "SMAP, AC=1: implicit read ignores AC", PTE_W | PTE_U, AT_LEAF, 0, 0, 0, CR4_SMAP, false, true, 0, R | IMP, MMU_PAGE_FAULT, PF_P },
	{ "SMAP: implicit read at CPL 3 is supervisor", PTE_W | PTE_U, AT_LEAF, 0, 0, 0, CR4_SMAP, false, true, 3, R | IMP, MMU_PAGE_FAULT, PF_P },
	{ "implicit read of supervisor page at CPL 3", PTE_W, AT_LEAF, 0, 0, 0, 0, false, false, 3, R | IMP, MMU_OK, 0 },
	{ "SMAP, AC=1: write needs R/W with WP=1", PTE_U, AT_LEAF, 0, 0, 0, CR4_SMAP, false, true, 0, W, MMU_PAGE_FAULT, PF_P | PF_W },
	{ "SMAP, AC=1: write to writable user page", PTE_U | PTE_W, AT_LEAF, 0, 0, 0, CR4_SMAP, false, true, 0, W, MMU_OK, 0 },
	{ "SMAP, AC=0: write, WP=0", PTE_U | PTE_W, AT_LEAF, 0, 0, CR0_WP, CR4_SMAP, false, false, 0, W, MMU_PAGE_FAULT, PF_P | PF_W },
	{ "SMEP: supervisor fetch from user page", PTE_W | PTE_U, AT_LEAF, 0, 0, 0, CR4_SMEP, false, false, 0, X, MMU_PAGE_FAULT, PF_P | PF_I },
	{ "no SMEP: supervisor fetch from user page", PTE_W | PTE_U, AT_LEAF, 0, 0, 0, 0, false, false, 0, X, MMU_OK, 0 },
	{ "SMEP: user fetch from user page", PTE_U, AT_LEAF, 0, 0, 0, CR4_SMEP, false, false, 3, X, MMU_OK, 0 },
	{ "SMEP does not apply to data", PTE_W | PTE_U, AT_LEAF, 0, 0, 0, CR4_SMEP, false, false, 0, W, MMU_OK, 0 },
	{ "supervisor fetch, XD=1", PTE_W | PTE_XD, AT_LEAF, 0, 0, 0, 0, false, false, 0, X, MMU_PAGE_FAULT, PF_P | PF_I },
	{ "XD at the PML4E, supervisor fetch", PTE_W, AT_PML4, 0, PTE_XD, 0, 0, false, false, 0, X, MMU_PAGE_FAULT, PF_P | PF_I },
	{ "XD does not restrict reads", PTE_W | PTE_XD, AT_LEAF, 0, 0, 0, 0, false, false, 0, R, MMU_OK, 0 },
	{ "not present leaf, user read", 0 /* P cleared below */, AT_LEAF, PTE_P, 0, 0, 0, false, false, 3, R, MMU_PAGE_FAULT, PF_U },
	{ "not present PDPTE, supervisor write", PTE_W, AT_PDPTE, PTE_P, 0, 0, 0, false, false, 0, W, MMU_PAGE_FAULT, PF_W },
	{ "not present leaf, fetch with NXE: I/D", 0, AT_LEAF, PTE_P, 0, 0, 0, false, false, 0, X, MMU_PAGE_FAULT, PF_I },
	{ "not present leaf, fetch, NXE=0 SMEP=0: no I/D", 0, AT_LEAF, PTE_P, 0, 0, 0, true, false, 0, X, MMU_PAGE_FAULT, 0 },
	{ "not present, fetch, NXE=0 SMEP=1: I/D", 0, AT_LEAF, PTE_P, 0, 0, CR4_SMEP, true, false, 0, X, MMU_PAGE_FAULT, PF_I },
	{ "XD reserved when NXE=0", PTE_W | PTE_XD, AT_LEAF, 0, 0, 0, 0, true, false, 0, R, MMU_PAGE_FAULT, PF_P | PF_RSVD },
	{ "XD reserved in the PDE when NXE=0", PTE_W, AT_PDE, 0, PTE_XD, 0, 0, true, false, 3, W, MMU_PAGE_FAULT, PF_P | PF_W | PF_U | PF_RSVD },
	{ "PS reserved in the PML4E", PTE_W, AT_PML4, 0, PTE_PS, 0, 0, false, false, 0, R, MMU_PAGE_FAULT, PF_P | PF_RSVD },
	{ "reserved fetch with NXE: RSVD and I/D", PTE_W, AT_PML4, 0, PTE_PS, 0, 0, false, false, 0, X, MMU_PAGE_FAULT, PF_P | PF_RSVD | PF_I },
};

static uint64_t where_level(enum where w) { return w == AT_LEAF ? 1 : w == AT_PDE ? 2 : w == AT_PDPTE ? 3 : 4; }

static void test_permission_matrix(void **state)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4 };
	unsigned i;

	for (i = 0; i < sizeof(perm_cases) / sizeof(perm_cases[0]); i++) {
		const struct perm_case *c = &perm_cases[i];
		unsigned lvl = (unsigned)where_level(c->where), l;
		struct mmu_result r;
		struct env env;
		uint64_t e;

		env_init(&env, &o);
		assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 4096, c->leaf & ~PTE_XD, 12));
		e = peek_entry(&env, DATA_GVA, 1);
		poke_entry(&env, DATA_GVA, 1, e | (c->leaf & PTE_XD));
		e = peek_entry(&env, DATA_GVA, lvl);
		poke_entry(&env, DATA_GVA, lvl, (e & ~c->upper_clear) | c->upper_set);
		env.ctx.cr0 &= ~c->cr0_extra_clear;
		env.ctx.cr4 |= c->cr4_extra;
		if (c->nxe_off)
			env.ctx.efer &= ~EFER_NXE;
		env.ctx.rflags = c->ac ? RFLAGS_AC : 0;
		env.ctx.cpl = c->cpl;
		r = xlate(&env, DATA_GVA + 0x10, c->access);
		if (r.status != c->status || r.pf_error != c->ec)
			print_message("case %u \"%s\": status %d ec %#x\n", i, c->rule, r.status,
				      r.pf_error);
		assert_int_equal(r.status, c->status);
		assert_int_equal(r.pf_error, c->ec);
		if (r.status == MMU_OK) {
			/* SDM 4.8: A on every level used, D only on the leaf and only on writes. */
			e = peek_entry(&env, DATA_GVA, 1);
			assert_int_not_equal(e & PTE_A, 0);
			assert_int_equal(!!(e & PTE_D), !!(c->access & ACC_WRITE));
			for (l = 2; l <= 4; l++) {
				e = peek_entry(&env, DATA_GVA, l);
				assert_int_not_equal(e & PTE_A, 0);
				assert_int_equal(e & PTE_D, 0);
			}
			assert_int_equal(r.hpa, env.ram + DATA_GPA + 0x10);
		} else {
			assert_int_equal(r.gva, DATA_GVA + 0x10);
			/* A faulting access sets neither A nor D on the leaf. */
			if (c->where != AT_LEAF || !(c->upper_clear & PTE_P)) {
				e = hpool_read64(env.pool, env.ram + gpt_entry_gpa(env.b, DATA_GVA, 1));
				assert_int_equal(e & (PTE_A | PTE_D), 0);
			}
		}
		env_fini(&env);
	}
}

/*
 * SDM 4.6.2 and 4.7: protection keys. The leaf has key 2 (PTE bits 62:59);
 * PKRU (CR4.PKE) governs user-mode addresses and IA32_PKRS (CR4.PKS)
 * supervisor-mode ones, two bits a key: AD (bit 2k), WD (bit 2k + 1). PK in
 * the error code whenever the keys forbid the access, with whatever else does.
 */
static const struct pk_case {
	const char *rule;
	uint64_t leaf;          /* PTE flags besides P */
	uint64_t cr4;           /* CR4_PKE, CR4_PKS */
	uint32_t pkru, pkrs;
	bool wp;
	unsigned cpl, access;
	enum mmu_status status;
	uint32_t ec;
} pk_cases[] = {
	{ "PKE, AD2: user read", PTE_W | PTE_U, CR4_PKE, 0x10, 0, true, 3, R, MMU_PAGE_FAULT, PF_P | PF_U | PF_PK },
	{ "PKE, AD2: supervisor read of a user page", PTE_W | PTE_U, CR4_PKE, 0x10, 0, true, 0, R, MMU_PAGE_FAULT, PF_P | PF_PK },
	{ "PKE, AD2: implicit supervisor read", PTE_W | PTE_U, CR4_PKE, 0x10, 0, true, 3, R | IMP, MMU_PAGE_FAULT, PF_P | PF_PK },
	{ "PKE, AD2: user fetch is not a data access", PTE_W | PTE_U, CR4_PKE, 0x10, 0, true, 3, X, MMU_OK, 0 },
	{ "PKE, WD2: user read", PTE_W | PTE_U, CR4_PKE, 0x20, 0, true, 3, R, MMU_OK, 0 },
	{ "PKE, WD2: user write", PTE_W | PTE_U, CR4_PKE, 0x20, 0, false, 3, W, MMU_PAGE_FAULT, PF_P | PF_W | PF_U | PF_PK },
	{ "PKE, WD2: supervisor write, WP=1", PTE_W | PTE_U, CR4_PKE, 0x20, 0, true, 0, W, MMU_PAGE_FAULT, PF_P | PF_W | PF_PK },
	{ "PKE, WD2: supervisor write, WP=0", PTE_W | PTE_U, CR4_PKE, 0x20, 0, false, 0, W, MMU_OK, 0 },
	{ "PKE, WD2 and R/W=0: user write, both", PTE_U, CR4_PKE, 0x20, 0, true, 3, W, MMU_PAGE_FAULT, PF_P | PF_W | PF_U | PF_PK },
	{ "PKE, AD1, AD3: key 2 unaffected", PTE_W | PTE_U, CR4_PKE, 0x44, 0, true, 3, W, MMU_OK, 0 },
	{ "PKE off: PKRU ignored", PTE_W | PTE_U, 0, 0x30, 0, true, 3, W, MMU_OK, 0 },
	{ "PKE, AD2: supervisor page not keyed by PKRU", PTE_W, CR4_PKE, 0x10, 0x10, true, 0, R, MMU_OK, 0 },
	{ "PKS, AD2: supervisor read", PTE_W, CR4_PKS, 0, 0x10, true, 0, R, MMU_PAGE_FAULT, PF_P | PF_PK },
	{ "PKS, WD2: supervisor write, WP=1", PTE_W, CR4_PKS, 0, 0x20, true, 0, W, MMU_PAGE_FAULT, PF_P | PF_W | PF_PK },
	{ "PKS, WD2: supervisor write, WP=0", PTE_W, CR4_PKS, 0, 0x20, false, 0, W, MMU_OK, 0 },
	{ "PKS, AD2: user page not keyed by PKRS", PTE_W | PTE_U, CR4_PKS, 0, 0x10, true, 0, R, MMU_OK, 0 },
	{ "PKS, AD2: supervisor fetch", PTE_W, CR4_PKS, 0, 0x10, true, 0, X, MMU_OK, 0 },
};

static void test_protection_keys(void **state)
{
	unsigned i, preset;

	(void)state;
	for (preset = 0; preset < 2; preset++) {
		for (i = 0; i < sizeof(pk_cases) / sizeof(pk_cases[0]); i++) {
			const struct pk_case *c = &pk_cases[i];
			struct env_opts o = { .guest_levels = 4, .ept_levels = 4,
					      .preset = preset ? "skylake" : "none" };
			struct mmu_result r;
			struct env env;

			env_init(&env, &o);
			assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 4096, c->leaf, 12));
			poke_entry(&env, DATA_GVA, 1, peek_entry(&env, DATA_GVA, 1) | (2ULL << 59));
			if (!c->wp)
				env.ctx.cr0 &= ~CR0_WP;
			/* With TLBs: first a read with no key rights taken away,
			 * so that the access below meets a cached translation. */
			if (preset)
				assert_int_equal(xlate(&env, DATA_GVA, ACC_READ).status, MMU_OK);
			env.ctx.cr4 |= c->cr4;
			env.ctx.pkru = c->pkru;
			env.ctx.pkrs = c->pkrs;
			env.ctx.cpl = c->cpl;
			r = xlate(&env, DATA_GVA + 0x10, c->access);
			if (r.status != c->status || r.pf_error != c->ec)
				print_message("case %u \"%s\" (%s): status %d ec %#x\n", i, c->rule,
					      o.preset, r.status, r.pf_error);
			assert_int_equal(r.status, c->status);
			assert_int_equal(r.pf_error, c->ec);
			env_fini(&env);
		}
	}
}

/* SDM 4.5: large-page address bits below the page size are reserved. */
static void test_reserved_large(void **state)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4 };
	struct mmu_result r;
	struct env env;
	uint64_t e;

	env_init(&env, &o);
	assert_ok(gpt_map(env.b, 0x40000000ULL, 0, GiB, PTE_W, 30));
	assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 2 * MiB, PTE_W, 21));
	e = peek_entry(&env, DATA_GVA, 2);
	poke_entry(&env, DATA_GVA, 2, e | (1ULL << 13));      /* 2 MiB: bits 20:13 */
	r = xlate(&env, DATA_GVA, ACC_READ);
	assert_int_equal(r.status, MMU_PAGE_FAULT);
	assert_int_equal(r.pf_error, PF_P | PF_RSVD);
	poke_entry(&env, DATA_GVA, 2, e | PTE_PAT_LARGE);      /* bit 12 is PAT: fine */
	assert_int_equal(xlate(&env, DATA_GVA, ACC_READ).status, MMU_OK);
	e = peek_entry(&env, 0x40000000ULL, 3);
	poke_entry(&env, 0x40000000ULL, 3, e | (1ULL << 29)); /* 1 GiB: bits 29:13 */
	r = xlate(&env, 0x40001000ULL, ACC_WRITE);
	assert_int_equal(r.status, MMU_PAGE_FAULT);
	assert_int_equal(r.pf_error, PF_P | PF_W | PF_RSVD);
	env_fini(&env);
}

/* SDM 3.3.7.1: bits 63:47 (63:56 with LA57) must equal bit 47 (56). */
static void test_noncanonical(void **state)
{
	struct env_opts o4 = { .guest_levels = 4, .ept_levels = 4 };
	struct env_opts o5 = { .guest_levels = 5, .ept_levels = 4 };
	struct mmu_result r;
	struct env env;

	env_init(&env, &o4);
	r = xlate(&env, 0x0000800000000000ULL, ACC_READ);
	assert_int_equal(r.status, MMU_NONCANONICAL);
	assert_int_equal(r.refs, 0);
	r = xlate(&env, 0xffff7fffffffffffULL, ACC_WRITE);
	assert_int_equal(r.status, MMU_NONCANONICAL);
	/* Canonical but unmapped: a walk, not-present #PF at the PML4E. */
	r = xlate(&env, 0xffff800000000000ULL, ACC_READ);
	assert_int_equal(r.status, MMU_PAGE_FAULT);
	assert_int_equal(r.pf_error, 0);
	assert_int_equal(r.refs, 5);   /* 4 EPT refs for the PML4 table + the PML4E */
	assert_int_equal(mmu_stats(env.mmu)->noncanonical, 2);
	env_fini(&env);

	env_init(&env, &o5);
	r = xlate(&env, 0x0000800000000000ULL, ACC_READ);   /* canonical with 57 bits */
	assert_int_equal(r.status, MMU_PAGE_FAULT);
	r = xlate(&env, 0x0100000000000000ULL, ACC_READ);
	assert_int_equal(r.status, MMU_NONCANONICAL);
	env_fini(&env);
}

/* ------------------------------------------------------------------------ */
/* EPT faults during the walk (SDM 28.2.1)                                  */
/* ------------------------------------------------------------------------ */

static void test_ept_violation_in_walk(void **state)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4, .ad = true };
	uint64_t pte_gpa, pt_page;
	struct mmu_result r;
	struct env env;

	env_init(&env, &o);
	assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 4096, PTE_W, 12));
	pte_gpa = gpt_entry_gpa(env.b, DATA_GVA, 1);
	pt_page = pte_gpa & ~0xfffULL;
	/* The page holding the guest PT becomes read+execute in EPT. With EPT
	 * A/D on, the guest-table access is a write (SDM 29.3.3.2): bits 0 and 1
	 * (both, footnote of Table 28-7), 3 and 5 (R and X allowed), 7 (GLA
	 * valid), bit 8 clear (paging entry). */
	assert_ok(ept_protect(env.ept, pt_page, 4096, EPT_R | EPT_X));
	r = xlate(&env, DATA_GVA + 4, ACC_READ);
	assert_int_equal(r.status, MMU_EPT_VIOLATION);
	assert_int_equal(r.qual, 0xAB);
	assert_int_equal(r.gpa, pte_gpa);
	assert_int_equal(r.gva, DATA_GVA + 4);
	/* The walk stopped at the EPT leaf of that page: 3 guest steps x 5 + 4. */
	assert_int_equal(r.refs, 19);
	assert_int_equal(mmu_stats(env.mmu)->ept_violations, 1);
	env_fini(&env);

	/* SDM 29.3.5: EPT A on every entry used, D on the leaf for a write. The
	 * builder already wrote the table pages through EPT (their entries have
	 * A and D); the data page's EPT PDE (GPA 32M: its own 2M slot) and PTE
	 * are fresh: a read sets 2 A flags, a write then sets the PTE's D. */
	env_init(&env, &o);
	assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 4096, PTE_W, 12));
	assert_int_equal(xlate(&env, DATA_GVA, ACC_READ).status, MMU_OK);
	assert_int_equal(mmu_stats(env.mmu)->ept_ad_writes, 2);
	assert_int_equal(xlate(&env, DATA_GVA, ACC_WRITE).status, MMU_OK);
	assert_int_equal(mmu_stats(env.mmu)->ept_ad_writes, 3);
	assert_int_equal(xlate(&env, DATA_GVA, ACC_WRITE).status, MMU_OK);
	assert_int_equal(mmu_stats(env.mmu)->ept_ad_writes, 3);
	/* Guest side: A on 4 entries, then D on the PTE. */
	assert_int_equal(mmu_stats(env.mmu)->guest_ad_writes, 5);
	env_fini(&env);

	/* Without EPT A/D, reading is fine until the guest A flag must be set. */
	o.ad = false;
	env_init(&env, &o);
	assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 4096, PTE_W, 12));
	pte_gpa = gpt_entry_gpa(env.b, DATA_GVA, 1);
	assert_ok(ept_protect(env.ept, pte_gpa & ~0xfffULL, 4096, EPT_R));
	r = xlate(&env, DATA_GVA, ACC_READ);
	assert_int_equal(r.status, MMU_EPT_VIOLATION);
	assert_int_equal(r.qual, EPT_QUAL_WRITE | EPT_QUAL_READABLE | EPT_QUAL_GLA_VALID);
	assert_int_equal(r.gpa, pte_gpa);
	/* Once A is set (as the guest may do itself), the walk needs no write. */
	poke_entry(&env, DATA_GVA, 1, peek_entry(&env, DATA_GVA, 1) | PTE_A);
	assert_int_equal(xlate(&env, DATA_GVA, ACC_READ).status, MMU_OK);
	env_fini(&env);
}

/* facts §2 worked example: a read of an execute-only page, qualification 0x1A1
 * plus the advanced guest bits (here R/W=1: bit 10). */
static void test_ept_violation_final(void **state)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4 };
	struct mmu_result r;
	struct env env;

	env_init(&env, &o);
	assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 4096, PTE_W, 12));
	assert_ok(ept_protect(env.ept, DATA_GPA, 4096, EPT_X));
	r = xlate(&env, DATA_GVA + 0x80, ACC_READ);
	assert_int_equal(r.status, MMU_EPT_VIOLATION);
	assert_int_equal(r.qual, 0x1A1 | EPT_QUAL_GUEST_RW);
	assert_int_equal(r.gpa, DATA_GPA + 0x80);
	assert_int_equal(r.refs, 24);
	/* A user page: U/S advanced bit too; a fetch works. */
	poke_entry(&env, DATA_GVA, 1, peek_entry(&env, DATA_GVA, 1) | PTE_U);
	env.ctx.cpl = 3;
	r = xlate(&env, DATA_GVA, ACC_WRITE);
	assert_int_equal(r.status, MMU_EPT_VIOLATION);
	assert_int_equal(r.qual, 0x1A2 | EPT_QUAL_GUEST_RW | EPT_QUAL_GUEST_US);
	assert_int_equal(xlate(&env, DATA_GVA, ACC_FETCH).status, MMU_OK);
	env_fini(&env);
}

/* SDM 29.3.3.1: a misconfigured EPT entry ends the walk with exit reason 49. */
static void test_ept_misconfig(void **state)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4 };
	struct mmu_result r;
	struct env env;
	uint64_t pte_gpa;

	env_init(&env, &o);
	assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 4096, PTE_W, 12));
	/* Final GPA: write without read (bits 2:0 = 010b). */
	assert_ok(ept_set_raw(env.ept, DATA_GPA, 1, (env.ram + DATA_GPA) | EPT_W |
			      ((uint64_t)EPT_MT_WB << EPT_MT_SHIFT)));
	r = xlate(&env, DATA_GVA + 0x44, ACC_READ);
	assert_int_equal(r.status, MMU_EPT_MISCONFIG);
	assert_int_equal(r.gpa, DATA_GPA + 0x44);
	assert_int_equal(r.gva, DATA_GVA + 0x44);
	assert_int_equal(r.refs, 24);
	/* A guest table page: memory type 2 (reserved) in its EPT leaf. */
	pte_gpa = gpt_entry_gpa(env.b, DATA_GVA, 1);
	assert_ok(ept_set_raw(env.ept, pte_gpa & ~0xfffULL, 1,
			      (env.ram + (pte_gpa & ~0xfffULL)) | EPT_RWX | (2ULL << EPT_MT_SHIFT)));
	r = xlate(&env, DATA_GVA, ACC_WRITE);
	assert_int_equal(r.status, MMU_EPT_MISCONFIG);
	assert_int_equal(r.gpa, pte_gpa);
	assert_int_equal(r.refs, 19);
	assert_int_equal(mmu_stats(env.mmu)->ept_misconfigs, 2);
	env_fini(&env);
}

/*
 * A raw EPT table pointer past the end of the pool (ept_set_raw): the walk
 * that follows it reads all ones there, a misconfigured leaf (memory type 7,
 * SDM 29.3.3.1), and the all-caches-off walk, which reads hv's own tables
 * without a bounds test, must not be the one to follow it.
 */
static void test_raw_table_beyond_pool(void **state)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4 };
	struct mmu_result r;
	struct env env;

	env_init(&env, &o);
	assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 4096, PTE_W, 12));
	/* Every guest A flag set, so that the next walk needs nothing but reads. */
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_READ), 24);
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_READ), 24);
	assert_ok(ept_set_raw(env.ept, DATA_GPA, 2, (1ULL << 40) | EPT_RWX));
	r = xlate(&env, DATA_GVA + 0x10, ACC_READ);
	assert_int_equal(r.status, MMU_EPT_MISCONFIG);
	assert_int_equal(r.gpa, DATA_GPA + 0x10);
	assert_int_equal(r.refs, 24);
	assert_int_equal(mmu_stats(env.mmu)->ept_misconfigs, 1);
	env_fini(&env);
}

/*
 * The same under the skylake instance, whose EPT walks read hv's own tables
 * with no bounds test: a raw entry must end that (ept->std4_own). The data
 * page's GPA is 1 TiB up, under another EPT PML4 entry than the guest's
 * tables, so no guest-physical cache holds any of its tables and its walk
 * starts at the top and meets the raw PDE; without the bounds test it
 * reads 1 TiB past the pool (SIGSEGV).
 */
static void test_raw_table_beyond_pool_cached(void **state)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4, .preset = "skylake" };
	const uint64_t far = 1ULL << 40;
	struct mmu_result r;
	struct env env;

	(void)state;
	env_init(&env, &o);
	assert_ok(ept_map(env.ept, far, env.ram + DATA_GPA, 4096, WB_ATTRS, PAGE_SIZE_4K));
	assert_ok(gpt_map(env.b, DATA_GVA, far, 4096, PTE_W, 12));
	assert_ok(ept_set_raw(env.ept, far, 2, (1ULL << 40) | EPT_RWX));
	r = xlate(&env, DATA_GVA + 0x10, ACC_READ);
	assert_int_equal(r.status, MMU_EPT_MISCONFIG);
	assert_int_equal(r.gpa, far + 0x10);
	assert_int_equal(r.refs, 15);   /* 11 for the guest walk, 4 in EPT */
	assert_int_equal(mmu_stats(env.mmu)->ept_misconfigs, 1);
	env_fini(&env);
}

/* 5-level native: a PML5-cache hit leaves the 4 lower entries. */
static void test_pml5_cache(void **state)
{
	struct env_opts o = { .guest_levels = 5, .ept_levels = 0 };
	struct mmu_config cfg;
	struct env env;

	assert_ok(mmu_config_preset("none", &cfg));
	cfg.geom[PWC_PML5].entries = 2;
	cfg.geom[PWC_PML5].ways = 2;
	o.cfg = &cfg;
	env_init(&env, &o);
	assert_ok(gpt_map(env.b, DATA_GVA, env.ram + DATA_GPA, 4096, PTE_W, 12));
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_READ), 5);
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_READ), 4);
	assert_int_equal(mmu_stats(env.mmu)->s[PWC_PML5].hits, 1);
	env_fini(&env);
}

/*
 * The inline EPT walk used by untraced translations must agree with
 * ept_walk (used by traced ones) on every outcome: run the same access
 * against the same EPT leaf in two identical setups, one traced, and compare
 * status, address, qualification, references and the leaf's A/D flags after.
 */
/* The raw EPT PTE for gpa, following the (well-formed) tables down. */
static uint64_t ept_leaf(const struct env *env, uint64_t gpa)
{
	uint64_t table = env->ept->root;
	unsigned level;

	for (level = env->ept->levels; level > 1; level--)
		table = hpool_read64(env->pool, table + ((gpa >> (12 + 9 * (level - 1))) & 511) * 8) &
			EPT_ADDR_MASK;
	return hpool_read64(env->pool, table + ((gpa >> 12) & 511) * 8);
}

static void test_fast_ept_walk_agrees(void **state)
{
	static const uint64_t perms[] = { EPT_R, EPT_R | EPT_W, EPT_R | EPT_X, EPT_RWX, EPT_X,
					  EPT_W, EPT_W | EPT_X };
	static const uint64_t mts[] = { 0, 2, 6 };
	static const uint64_t flags[] = { 0, EPT_A, EPT_A | EPT_D };
	static const unsigned accs[] = { ACC_READ, ACC_WRITE, ACC_FETCH };
	unsigned pi, mi, ad, fi, xi, n = 0;

	for (ad = 0; ad < 2; ad++) {
		struct env_opts o = { .guest_levels = 4, .ept_levels = 4, .ad = ad };
		struct env env;

		env_init(&env, &o);
		assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 4096, PTE_W, 12));
		for (pi = 0; pi < 7; pi++)
		for (mi = 0; mi < 3; mi++)
		for (fi = 0; fi < 3; fi++)
		for (xi = 0; xi < 3; xi++) {
			uint64_t raw = (env.ram + DATA_GPA) | perms[pi] | (mts[mi] << EPT_MT_SHIFT) |
				       flags[fi];
			struct mmu_result r[2];
			uint64_t leaf[2];
			unsigned k;

			for (k = 0; k < 2; k++) {
				struct walk_trace tr;

				assert_ok(ept_set_raw(env.ept, DATA_GPA, 1, raw));
				if (k)
					mmu_translate_traced(env.mmu, &env.ctx, DATA_GVA + 0x18, accs[xi],
							     &r[k], &tr);
				else
					r[k] = xlate(&env, DATA_GVA + 0x18, accs[xi]);
				leaf[k] = ept_leaf(&env, DATA_GPA);
			}
			assert_int_equal(r[0].status, r[1].status);
			assert_int_equal(r[0].hpa, r[1].hpa);
			assert_int_equal(r[0].qual, r[1].qual);
			assert_int_equal(r[0].refs, r[1].refs);
			assert_int_equal(r[0].page_shift, r[1].page_shift);
			assert_int_equal(leaf[0], leaf[1]);
			n += r[0].status == MMU_OK;
		}
		env_fini(&env);
	}
	/* R, RW, RX, RWX with a valid type pass reads: the fast path was exercised. */
	assert_true(n > 50);
}

/* ------------------------------------------------------------------------ */
/* TLB behaviour                                                            */
/* ------------------------------------------------------------------------ */

static void cfg_l1d(struct mmu_config *c, unsigned entries, unsigned ways)
{
	assert_ok(mmu_config_preset("none", c));
	c->geom[TLB_L1D_4K].entries = entries;
	c->geom[TLB_L1D_4K].ways = ways;
	c->geom[TLB_L1D_2M].entries = 8;
	c->geom[TLB_L1D_2M].ways = 8;
}

/* SDM 28.3.1: combined mappings are tagged by VPID and EPTP (and PCID). */
static void test_tagging(void **state)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4 };
	struct ept_caps caps = { .page_1g = true };
	struct mmu_config cfg;
	struct ept *other;
	struct env env;
	struct mmu_result r;

	cfg_l1d(&cfg, 64, 4);
	o.cfg = &cfg;
	env_init(&env, &o);
	assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 4096, PTE_W, 12));
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_READ), 24);
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_READ), 0);
	env.ctx.vpid = 2;                                  /* another VPID misses */
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_READ), 24);
	env.ctx.vpid = 1;                                  /* the first one is still there */
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_READ), 0);

	/* A second EPT hierarchy mapping the same RAM 1:1: another EP4TA. */
	assert_ok(ept_create(env.pool, 4, false, &caps, &other));
	assert_ok(ept_map(other, 0, env.ram, GiB, WB_ATTRS, PAGE_SIZE_4K));
	env.ctx.ept = other;
	r = xlate(&env, DATA_GVA, ACC_READ);
	assert_int_equal(r.refs, 24);
	assert_false(r.tlb_hit);
	env.ctx.ept = env.ept;
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_READ), 0);

	/* PCIDs: CR4.PCIDE with another PCID in CR3 misses. */
	env.ctx.cr4 |= CR4_PCIDE;
	env.ctx.cr3 = gpt_builder_cr3(env.b) | 5;
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_READ), 24);
	env.ctx.cr3 = gpt_builder_cr3(env.b) | 6;
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_READ), 24);
	env.ctx.cr3 = gpt_builder_cr3(env.b) | 5;
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_READ), 0);
	ept_destroy(other);
	env_fini(&env);
}

/* LRU within a set: the least recently used way is evicted. */
static void test_lru(void **state)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4 };
	struct mmu_config cfg;
	struct env env;
	const struct cache_stats *s;
	unsigned i;

	cfg_l1d(&cfg, 4, 4);    /* one set of 4 ways */
	o.cfg = &cfg;
	env_init(&env, &o);
	assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 8 * 4096, PTE_W, 12));
	for (i = 0; i < 4; i++)     /* pages 0,1,2,3 */
		assert_int_equal(refs_of(&env, DATA_GVA + i * 4096, ACC_READ), 24);
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_READ), 0);    /* touch 0: LRU is now 1 */
	assert_int_equal(refs_of(&env, DATA_GVA + 4 * 4096, ACC_READ), 24); /* 4 evicts 1 */
	s = &mmu_stats(env.mmu)->s[TLB_L1D_4K];
	assert_int_equal(s->evictions, 1);
	assert_int_equal(refs_of(&env, DATA_GVA + 2 * 4096, ACC_READ), 0);
	assert_int_equal(refs_of(&env, DATA_GVA + 3 * 4096, ACC_READ), 0);
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_READ), 0);
	assert_int_equal(refs_of(&env, DATA_GVA + 4 * 4096, ACC_READ), 0);
	assert_int_equal(refs_of(&env, DATA_GVA + 1 * 4096, ACC_READ), 24); /* 1 was gone; evicts 2 */
	assert_int_equal(refs_of(&env, DATA_GVA + 2 * 4096, ACC_READ), 24);
	assert_int_equal(s->evictions, 3);
	assert_int_equal(s->hits, 5);
	assert_int_equal(s->misses, 7);
	assert_int_equal(s->fills, 7);
	env_fini(&env);
}

/* Splintering: a 2 MiB guest page over 4 KiB EPT pages is cached as 4 KiB. */
static void test_splinter(void **state)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4 };
	struct mmu_config cfg;
	struct mmu_result r;
	struct env env;

	cfg_l1d(&cfg, 64, 4);
	o.cfg = &cfg;
	env_init(&env, &o);
	assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 2 * MiB, PTE_W, 21));
	r = xlate(&env, DATA_GVA + 0x5000, ACC_READ);
	assert_int_equal(r.status, MMU_OK);
	assert_int_equal(r.page_shift, 12);
	assert_int_equal(r.refs, 19);
	assert_int_equal(mmu_stats(env.mmu)->s[TLB_L1D_4K].fills, 1);
	assert_int_equal(mmu_stats(env.mmu)->s[TLB_L1D_2M].fills, 0);
	/* The neighbouring 4 KiB page is another walk. */
	assert_int_equal(refs_of(&env, DATA_GVA + 0x6000, ACC_READ), 19);
	assert_int_equal(refs_of(&env, DATA_GVA + 0x5008, ACC_READ), 0);
	env_fini(&env);

	/* Over 2 MiB EPT pages the same mapping stays 2 MiB. */
	o.ept_shift = 21;
	env_init(&env, &o);
	assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 2 * MiB, PTE_W, 21));
	r = xlate(&env, DATA_GVA + 0x5000, ACC_READ);
	assert_int_equal(r.page_shift, 21);
	assert_int_equal(r.refs, 15);
	assert_int_equal(refs_of(&env, DATA_GVA + 0x1ff000, ACC_READ), 0);
	env_fini(&env);
}

/* SDM 4.10.4.3: a stale translation is used until invalidated. */
static void test_stale_until_invlpg(void **state)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4 };
	struct mmu_config cfg;
	struct mmu_result r;
	struct env env;
	uint64_t e;

	cfg_l1d(&cfg, 64, 4);
	o.cfg = &cfg;
	env_init(&env, &o);
	assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 4096, PTE_W, 12));
	assert_int_equal(xlate(&env, DATA_GVA, ACC_READ).hpa, env.ram + DATA_GPA);
	e = peek_entry(&env, DATA_GVA, 1);
	poke_entry(&env, DATA_GVA, 1, (e & ~PTE_ADDR_MASK) | (DATA_GPA + 0x3000));
	r = xlate(&env, DATA_GVA + 4, ACC_READ);
	assert_true(r.tlb_hit);
	assert_int_equal(r.hpa, env.ram + DATA_GPA + 4);     /* stale */
	mmu_invlpg(env.mmu, &env.ctx, DATA_GVA);
	r = xlate(&env, DATA_GVA + 4, ACC_READ);
	assert_false(r.tlb_hit);
	assert_int_equal(r.hpa, env.ram + DATA_GPA + 0x3004);
	assert_int_equal(mmu_stats(env.mmu)->s[TLB_L1D_4K].invalidations, 1);
	env_fini(&env);
}

/* A write through a clean entry re-walks to set D (SDM 4.8). */
static void test_dirty_rewalk(void **state)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4 };
	struct mmu_config cfg;
	struct env env;

	cfg_l1d(&cfg, 64, 4);
	o.cfg = &cfg;
	env_init(&env, &o);
	assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 4096, PTE_W, 12));
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_READ), 24);
	assert_int_equal(peek_entry(&env, DATA_GVA, 1) & PTE_D, 0);
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_WRITE), 24);
	assert_int_not_equal(peek_entry(&env, DATA_GVA, 1) & PTE_D, 0);
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_WRITE), 0);
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_READ), 0);
	env_fini(&env);
}

static void ignore_dirty(void *ctx, uint64_t gpa, uint64_t size)
{
	(void)ctx;
	(void)gpa;
	(void)size;
}

/*
 * SDM 4.10.2.2 and 28.3.2: with EPT A/D on, a combined TLB entry filled by a
 * read may serve a later write without a walk when the guest D and the EPT
 * leaf D were already set; when either is clear the write walks again, and
 * that walk sets the flag.
 */
static void test_dirty_known_from_read(void **state)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4, .ad = true };
	const struct mmu_stats *st;
	struct mmu_config cfg;
	struct env env;
	uint64_t walks, gad, ead, pte;

	(void)state;
	cfg_l1d(&cfg, 64, 4);
	o.cfg = &cfg;
	env_init(&env, &o);
	st = mmu_stats(env.mmu);
	assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 4096, PTE_W, 12));
	/* A first write sets both D flags. */
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_WRITE), 24);
	assert_int_not_equal(ept_leaf(&env, DATA_GPA) & EPT_D, 0);
	pte = peek_entry(&env, DATA_GVA, 1);
	assert_int_not_equal(pte & PTE_D, 0);

	/* Both D set: a load then a store make one walk. */
	mmu_invvpid(env.mmu, INVVPID_SINGLE, 1, 0);
	walks = st->walks;
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_READ), 24);
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_WRITE), 0);
	assert_int_equal(st->walks - walks, 1);

	/* Guest D clear: the store walks again and sets it (one guest A/D write). */
	poke_entry(&env, DATA_GVA, 1, pte & ~PTE_D);
	mmu_invvpid(env.mmu, INVVPID_SINGLE, 1, 0);
	walks = st->walks;
	gad = st->guest_ad_writes;
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_READ), 24);
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_WRITE), 24);
	assert_int_equal(st->walks - walks, 2);
	assert_int_equal(st->guest_ad_writes - gad, 1);
	assert_int_not_equal(peek_entry(&env, DATA_GVA, 1) & PTE_D, 0);

	/* EPT D clear: the same, the store's walk sets the EPT D (one EPT A/D write). */
	assert_ok(ept_harvest_dirty(env.ept, DATA_GPA, 4096, ignore_dirty, NULL));
	assert_int_equal(ept_leaf(&env, DATA_GPA) & EPT_D, 0);
	mmu_invvpid(env.mmu, INVVPID_SINGLE, 1, 0);
	walks = st->walks;
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_READ), 24);
	ead = st->ept_ad_writes;
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_WRITE), 24);
	assert_int_equal(st->walks - walks, 2);
	assert_int_equal(st->ept_ad_writes - ead, 1);
	assert_int_not_equal(ept_leaf(&env, DATA_GPA) & EPT_D, 0);
	env_fini(&env);
}

/*
 * The host-side shortcut must count exactly what the model counts: run the
 * same access sequence once with explicit accesses (shortcut eligible) and once
 * as implicit supervisor accesses (always the model's own lookup), at CPL 0
 * on supervisor pages, where both are allowed, and compare every counter.
 */
static void test_shortcut_counts_like_model(void **state)
{
	struct mmu_stats st[2];
	unsigned pass, i;

	for (pass = 0; pass < 2; pass++) {
		struct env_opts o = { .guest_levels = 4, .ept_levels = 4, .preset = "skylake" };
		struct mmu_config cfg;
		struct env env;

		assert_ok(mmu_config_preset("skylake", &cfg));
		cfg.geom[TLB_L1D_4K].entries = 8;      /* small, so that LRU matters */
		cfg.geom[TLB_L1D_4K].ways = 2;
		cfg.geom[TLB_L2_4K2M].entries = 16;
		cfg.geom[TLB_L2_4K2M].ways = 4;
		o.cfg = &cfg;
		env_init(&env, &o);
		assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 64 * 4096, PTE_W, 12));
		for (i = 0; i < 5000; i++) {
			uint64_t page = (i * 7 + (i >> 3)) % (i % 3 ? 12 : 40);
			unsigned acc = (i % 5 == 0 ? ACC_WRITE : ACC_READ) | (pass ? ACC_IMPLICIT_SV : 0);
			struct mmu_result r = xlate(&env, DATA_GVA + page * 4096 + (i & 0xff8), acc);

			assert_int_equal(r.status, MMU_OK);
			assert_int_equal(r.hpa, env.ram + DATA_GPA + page * 4096 + (i & 0xff8));
			if (i == 2500)
				mmu_invlpg(env.mmu, &env.ctx, DATA_GVA + 3 * 4096);
		}
		st[pass] = *mmu_stats(env.mmu);
		env_fini(&env);
	}
	assert_int_equal(st[0].walks, st[1].walks);
	assert_int_equal(st[0].walk_refs, st[1].walk_refs);
	for (i = 0; i < MMU_NSTRUCT; i++) {
		assert_int_equal(st[0].s[i].hits, st[1].s[i].hits);
		assert_int_equal(st[0].s[i].misses, st[1].s[i].misses);
		assert_int_equal(st[0].s[i].fills, st[1].s[i].fills);
		assert_int_equal(st[0].s[i].evictions, st[1].s[i].evictions);
		assert_int_equal(st[0].s[i].invalidations, st[1].s[i].invalidations);
	}
	assert_true(st[0].s[TLB_L1D_4K].hits > 1000);
	assert_true(st[0].s[TLB_L1D_4K].evictions > 100);
}

/*
 * The shortcut is direct-mapped: two pages a multiple of 2 MiB apart (12 MiB
 * here, as a stack and a global of one hot loop can be) must keep a slot each,
 * or every access of the loop misses it while the model's L1 TLB hits.
 */
static void test_shortcut_pages_2m_apart(void **state)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4, .preset = "skylake" };
	const uint64_t far = DATA_GVA + 12 * MiB;
	struct mmu_hit *h;
	struct env env;

	(void)state;
	env_init(&env, &o);
	assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 4096, PTE_W, 12));
	assert_ok(gpt_map(env.b, far, DATA_GPA + 4096, 4096, PTE_W, 12));
	assert_int_equal(xlate(&env, DATA_GVA, ACC_READ).status, MMU_OK);
	assert_int_equal(xlate(&env, far, ACC_READ).status, MMU_OK);
	h = mmu_hit(env.mmu);
	assert_non_null(mmu_hit_find(h, DATA_GVA + 8, ACC_READ));
	assert_non_null(mmu_hit_find(h, far + 8, ACC_READ));
	assert_int_equal(mmu_hit_take(h, mmu_hit_find(h, far + 8, ACC_READ), far + 8, ACC_READ),
			 env.ram + DATA_GPA + 4096 + 8);
	env_fini(&env);
}

/*
 * The shortcut across context switches: a slot serves only the context it
 * was filled under. Going back to a recent context (CPL 0 after a user-mode
 * access) makes its slots serve again while their model entries are
 * unchanged; a supervisor page's slot never serves at CPL 3, where the read
 * is a #PF (SDM 4.6: P and U/S set in the error code), and that fault's
 * invalidation (SDM 4.10.4.1) retires the slot for CPL 0 too.
 */
static void test_shortcut_context_returns(void **state)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4, .preset = "skylake" };
	const uint64_t sv = DATA_GVA, user = DATA_GVA + 4096;
	struct mmu_result r;
	struct mmu_hit *h;
	struct env env;

	(void)state;
	env_init(&env, &o);
	assert_ok(gpt_map(env.b, sv, DATA_GPA, 4096, PTE_W, 12));
	assert_ok(gpt_map(env.b, user, DATA_GPA + 4096, 4096, PTE_W | PTE_U, 12));
	h = mmu_hit(env.mmu);
	assert_int_equal(xlate(&env, sv, ACC_READ).status, MMU_OK);          /* CPL 0 */
	env.ctx.cpl = 3;
	assert_int_equal(xlate(&env, user, ACC_READ).status, MMU_OK);
	assert_null(mmu_hit_find(h, sv, ACC_READ));
	env.ctx.cpl = 0;
	mmu_set_ctx(env.mmu, &env.ctx);
	assert_non_null(mmu_hit_find(h, sv, ACC_READ));   /* back, still current */
	assert_null(mmu_hit_find(h, user, ACC_READ));     /* filled at CPL 3 */
	env.ctx.cpl = 3;
	mmu_set_ctx(env.mmu, &env.ctx);
	assert_non_null(mmu_hit_find(h, user, ACC_READ));
	r = xlate(&env, sv, ACC_READ);
	assert_int_equal(r.status, MMU_PAGE_FAULT);
	assert_int_equal(r.pf_error, PF_P | PF_U);
	env.ctx.cpl = 0;
	mmu_set_ctx(env.mmu, &env.ctx);
	assert_null(mmu_hit_find(h, sv, ACC_READ));
	r = xlate(&env, sv, ACC_READ);
	assert_int_equal(r.status, MMU_OK);
	assert_false(r.tlb_hit);
	env_fini(&env);
}

/*
 * The miss path compiled for a preset's layout (const geometry, ept/mmu_walk.c
 * translate_skylake and the others) and the general one over the same
 * structures must be the same model, and so must mmu_translate_cur (the
 * vCPU's way: the shortcut first, then the miss path without comparing the
 * context). Three MMUs with the preset: [0] its own instance through
 * mmu_translate, [1] forced onto the general instance, [2] its own instance
 * through mmu_set_ctx, mmu_translate_hit and mmu_translate_cur. They run one
 * random sequence of 60,000 steps (reads, writes, fetches, implicit
 * supervisor accesses, over 4 KiB user pages twice the STLB's reach,
 * read-only, no-execute, global and 2 MiB pages; CPL, CR0.WP, VPID and PCID
 * changes; INVLPG, MOV CR3 and guest PTEs rewritten without one). Every
 * result must match step by step, and at the end every counter and every
 * structure's keys, LRU stamps and clock.
 */
static uint64_t xs_next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void assert_same_result(const struct mmu_result *a, const struct mmu_result *b)
{
	assert_int_equal(a->status, b->status);
	assert_int_equal(a->hpa, b->hpa);
	assert_int_equal(a->gpa, b->gpa);
	assert_int_equal(a->gva, b->gva);
	assert_int_equal(a->page_shift, b->page_shift);
	assert_int_equal(a->pf_error, b->pf_error);
	assert_int_equal(a->qual, b->qual);
	assert_int_equal(a->refs, b->refs);
	assert_int_equal(a->tlb_hit, b->tlb_hit);
}

static void instances_agree(const char *preset, unsigned ept_shift)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4, .ept_shift = ept_shift,
			      .ad = true, .preset = preset };
	struct mmu_config cfg;
	/* 4 KiB pages (user, writable) twice the STLB's 4 KiB reach, 64
	 * read-only, 64 no-execute, 16 global, and four 2 MiB pages. */
	const uint64_t big = DATA_GVA, ro = DATA_GVA + 32 * MiB, nx = ro + 64 * 4096,
		       gl = nx + 64 * 4096, huge = DATA_GVA + 64 * MiB;
	uint64_t npages, x = 0x2545f4914f6cdd1dULL;
	struct env env[3];
	unsigned i, k, n_ok = 0, n_pf = 0, n_cur_hits = 0;

	assert_ok(mmu_config_preset(preset, &cfg));
	npages = 2 * cfg.geom[TLB_L2_4K2M].entries;
	assert_true(npages * 4096 <= 32 * MiB);
	for (k = 0; k < 3; k++) {
		struct env *e = &env[k];

		env_init(e, &o);
		assert_ok(gpt_map(e->b, big, DATA_GPA, npages * 4096, PTE_W | PTE_U, 12));
		assert_ok(gpt_map(e->b, ro, DATA_GPA, 64 * 4096, PTE_U, 12));
		assert_ok(gpt_map(e->b, nx, DATA_GPA + MiB, 64 * 4096, PTE_W | PTE_U | PTE_XD, 12));
		assert_ok(gpt_map(e->b, gl, DATA_GPA + 2 * MiB, 16 * 4096, PTE_W | PTE_G, 12));
		assert_ok(gpt_map(e->b, huge, DATA_GPA + 16 * MiB, 8 * MiB, PTE_W | PTE_U, 21));
	}
	mmu_slow_pick(env[1].mmu, true);
	assert_true(env[0].mmu->slow != env[1].mmu->slow);
	assert_true(env[0].mmu->slow == env[2].mmu->slow);

	for (i = 0; i < 60000; i++) {
		const uint64_t r = xs_next(&x), op = r % 1000;
		unsigned access = (r >> 10) % 8 == 0 ? ACC_FETCH : (r >> 10) % 8 < 3 ? ACC_WRITE : ACC_READ;
		struct mmu_result a, b, c;
		uint64_t gva, hpa;

		switch ((r >> 20) % 8) {
		case 0:
			gva = ro + ((r >> 24) % 64) * 4096;
			break;
		case 1:
			gva = nx + ((r >> 24) % 64) * 4096;
			break;
		case 2:
			gva = gl + ((r >> 24) % 16) * 4096;
			break;
		case 3:
			gva = huge + ((r >> 24) % (8 * MiB));
			break;
		default:
			gva = big + ((r >> 24) % npages) * 4096 + ((r >> 40) & 0xff8);
			break;
		}
		if ((r >> 32) % 20 == 0)
			access |= ACC_IMPLICIT_SV;
		for (k = 0; k < 3; k++) {
			struct env *e = &env[k];

			if (op < 8) {
				e->ctx.cpl ^= 3;
			} else if (op < 12) {
				e->ctx.cr0 ^= CR0_WP;
			} else if (op < 14) {
				e->ctx.vpid = e->ctx.vpid == 1 ? 2 : 1;
			} else if (op < 16) {
				e->ctx.cr4 |= CR4_PCIDE;
				e->ctx.cr3 = (e->ctx.cr3 & ~0xfffULL) | ((r >> 48) % 3);
			} else if (op < 26) {
				mmu_invlpg(e->mmu, &e->ctx, gva);
			} else if (op < 28) {
				mmu_mov_cr3(e->mmu, &e->ctx, false);
			} else if (op < 34 && (r >> 20) % 8 >= 4) {
				/* A PTE rewritten without INVLPG: D cleared, or W toggled. */
				uint64_t pte = peek_entry(e, gva, 1);

				poke_entry(e, gva, 1, (r >> 56) & 1 ? pte & ~PTE_D : pte ^ PTE_W);
			}
		}
		a = xlate(&env[0], gva, access);
		b = xlate(&env[1], gva, access);
		assert_same_result(&a, &b);
		/* The vCPU's way: the context made current when it changed, the
		 * shortcut, and on its miss the miss path under that context. */
		mmu_set_ctx(env[2].mmu, &env[2].ctx);
		if (!(access & ACC_IMPLICIT_SV) && (r >> 60) % 2 &&
		    mmu_translate_hit(mmu_hit(env[2].mmu), gva, access, &hpa)) {
			assert_int_equal(a.status, MMU_OK);
			assert_true(a.tlb_hit);
			assert_int_equal(hpa, a.hpa);
			n_cur_hits++;
		} else {
			mmu_translate_cur(env[2].mmu, gva, access, &c);
			assert_same_result(&a, &c);
		}
		n_ok += a.status == MMU_OK;
		n_pf += a.status == MMU_PAGE_FAULT;
	}
	/* The sequence reaches what it means to: hits in every TLB level,
	 * walks, faults and evictions. */
	assert_true(n_ok > 30000 && n_pf > 1000 && n_cur_hits > 300);
	assert_true(mmu_stats(env[0].mmu)->s[TLB_L1D_4K].hits > 1000);
	assert_true(mmu_stats(env[0].mmu)->s[TLB_L2_4K2M].hits > 1000);
	assert_true(mmu_stats(env[0].mmu)->s[TLB_L2_4K2M].evictions > 1000);
	if (ept_shift == PAGE_SHIFT_2M)
		assert_true(mmu_stats(env[0].mmu)->s[TLB_L1D_2M].hits > 1000);
	else   /* 4 KiB EPT pages: the walks start from cached level-1 EPT tables */
		assert_true(mmu_stats(env[0].mmu)->s[PWC_GP_PDE].hits > 10000);
	assert_true(mmu_stats(env[0].mmu)->s[TLB_L1I_4K].hits > 100);
	assert_true(mmu_stats(env[0].mmu)->walks > 10000);
	for (k = 1; k < 3; k++) {
		assert_memory_equal(mmu_stats(env[0].mmu), mmu_stats(env[k].mmu),
				    sizeof(struct mmu_stats));
		for (i = 0; i < MMU_NSTRUCT; i++) {
			struct cache *ta = env[0].mmu->t[i], *tb = env[k].mmu->t[i];
			unsigned n = env[0].mmu->cfg.geom[i].entries;

			if (!ta)
				continue;
			assert_memory_equal(ta->keys, tb->keys, n * sizeof(*ta->keys));
			assert_memory_equal(ta->lru, tb->lru, n * sizeof(*ta->lru));
			assert_int_equal(ta->clock, tb->clock);
			assert_int_equal(ta->held_shifts, tb->held_shifts);
		}
	}
	for (k = 0; k < 3; k++)
		env_fini(&env[k]);
}

/* Over 2 MiB EPT pages (2 MiB combined pages) and 4 KiB ones (walks from
 * cached level-1 EPT tables), for every preset with an instance of its own. */
static void test_preset_instances_agree(void **state)
{
	static const char *const presets[] = { "skylake", "goldencove", "zen2", "zen4" };
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(presets) / sizeof(presets[0]); i++) {
		instances_agree(presets[i], PAGE_SHIFT_2M);
		instances_agree(presets[i], PAGE_SHIFT_4K);
	}
}

/*
 * A guest-physical paging-structure cache may hold a table of hv's own EPT
 * hierarchy that has changed since (freed and reused, or any table hv
 * rewrote without INVEPT): the skylake instance walks hv's tables without a
 * bounds test per entry, but not from such a table above level 1. Here the
 * GP PDPTE cache holds the EPT page directory of DATA_GPA, whose entry for
 * the next 2 MiB then names a table at 32 TiB, far past the 4 GiB pool: the
 * walk from the cached directory must report an EPT misconfiguration (the
 * checked walk's answer), not read past the pool.
 */
static void test_stale_gp_table_is_tested(void **state)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4, .ad = true, .preset = "skylake" };
	const uint64_t gva2 = DATA_GVA + 2 * MiB;
	uint64_t pd = 0;
	struct mmu_result r;
	struct env env;
	unsigned level;

	(void)state;
	env_init(&env, &o);
	assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 4096, PTE_W, 12));
	assert_ok(gpt_map(env.b, gva2, DATA_GPA + 2 * MiB, 4096, PTE_W, 12));
	/* The walk fills the GP caches of DATA_GPA's 2 MiB, 1 GiB and 512 GiB
	 * regions, and of the guest tables' region, which gva2's walk shares. */
	assert_int_equal(xlate(&env, DATA_GVA, ACC_READ).status, MMU_OK);
	pd = env.ept->root;
	for (level = env.ept->levels; level > 2; level--)
		pd = hpool_read64(env.pool, pd + ((DATA_GPA >> (12 + 9 * (level - 1))) & 511) * 8) &
		     EPT_ADDR_MASK;
	hpool_write64(env.pool, pd + (((DATA_GPA + 2 * MiB) >> 21) & 511) * 8,
		      (1ULL << 45) | EPT_RWX);
	r = xlate(&env, gva2, ACC_READ);
	assert_int_equal(r.status, MMU_EPT_MISCONFIG);
	assert_int_equal(r.gpa, DATA_GPA + 2 * MiB);
	assert_int_equal(mmu_stats(env.mmu)->ept_misconfigs, 1);
	env_fini(&env);
}

/*
 * The skylake instance tests a combined TLB entry's permissions with one
 * mask per access and context (use_rule): it must agree with the full check
 * (SDM 4.6 for the guest, 29.3.3.2 for EPT, and the dirty rule) for every
 * payload, under every combination of CPL, CR0.WP, CR4.SMEP/SMAP, EFLAGS.AC,
 * paging on or off, with and without EPT, and every access.
 */
static void test_use_rule_agrees(void **state)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4, .ad = true, .preset = "skylake" };
	static const unsigned accs[] = {
		ACC_READ, ACC_WRITE, ACC_FETCH, ACC_READ | ACC_IMPLICIT_SV,
		ACC_WRITE | ACC_IMPLICIT_SV, ACC_FETCH | ACC_IMPLICIT_SV, ACC_READ | ACC_WRITE,
	};
	struct env env;
	unsigned c, a, attr, checked = 0;

	(void)state;
	env_init(&env, &o);
	for (c = 0; c < 128; c++) {
		struct mmu_ctx ctx = env.ctx;

		ctx.cpl = (c & 1) ? 3 : 0;
		ctx.cr0 = (c & 2) ? ctx.cr0 | CR0_WP : ctx.cr0 & ~CR0_WP;
		ctx.cr4 |= ((c & 4) ? CR4_SMEP : 0) | ((c & 8) ? CR4_SMAP : 0);
		ctx.rflags = (c & 16) ? RFLAGS_AC : 0;
		if (c & 32)
			ctx.cr0 &= ~CR0_PG;
		if (c & 64)
			ctx.ept = NULL;
		for (a = 0; a < sizeof(accs) / sizeof(accs[0]); a++)
			for (attr = 0; attr < 0x100; attr++) {
				assert_true(mmu_use_rule_agrees(env.mmu, &ctx, accs[a], attr));
				checked++;
			}
	}
	assert_int_equal(checked, 128 * 7 * 256);
	env_fini(&env);
}

/*
 * gpt_map writes a 4 KiB mapping's PTEs as one run (gptbuild.c map_leaves):
 * across the end of a page table each PTE must be its own page's address
 * with P and the flags asked for (SDM Table 4-20), and the next page unmapped.
 */
static void test_gpt_map_4k_run(void **state)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4 };
	const uint64_t gva = DATA_GVA + 2 * MiB - 3 * 4096;
	struct env env;
	unsigned i;

	(void)state;
	env_init(&env, &o);
	assert_ok(gpt_map(env.b, gva, DATA_GPA, 6 * 4096, PTE_W | PTE_XD, 12));
	for (i = 0; i < 6; i++)
		assert_int_equal(peek_entry(&env, gva + i * 4096, 1),
				 (DATA_GPA + i * 4096) | PTE_P | PTE_W | PTE_XD);
	assert_int_equal(peek_entry(&env, gva + 6 * 4096, 1), 0);
	assert_int_equal(xlate(&env, gva + 6 * 4096, ACC_READ).status, MMU_PAGE_FAULT);
	env_fini(&env);
}

/* SDM 4.10.3.1: an entry that maps a page is never put in a PDE cache. */
static void test_pde_cache_no_leaf(void **state)
{
	static const enum tlb_id pde[] = { PWC_PDE };
	struct env_opts o = { .guest_levels = 4, .ept_levels = 0 };
	struct mmu_config cfg;
	struct env env;

	cfg_only(&cfg, pde, 1, false);
	o.cfg = &cfg;
	env_init(&env, &o);
	assert_ok(gpt_map(env.b, DATA_GVA, env.ram + DATA_GPA, 2 * MiB, PTE_W, 21));
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_READ), 3);
	assert_int_equal(refs_of(&env, DATA_GVA, ACC_READ), 3);   /* no PDE-cache help */
	assert_int_equal(mmu_stats(env.mmu)->s[PWC_PDE].fills, 0);
	assert_int_equal(mmu_stats(env.mmu)->s[PWC_PDE].misses, 2);
	env_fini(&env);
}

/*
 * SDM 4.10.4.1: a page fault invalidates the paging-structure-cache entries
 * that would be used for its linear address, not only its TLB entries.
 * A PDE-cache entry filled while the PDE had R/W=0 must not make every retry
 * of a write fault again after the guest set R/W back without INVLPG.
 */
static void test_pf_drops_pwc(void **state)
{
	static const enum tlb_id ids[] = { PWC_PML4, PWC_PDPTE, PWC_PDE };
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4 };
	struct mmu_config cfg;
	struct mmu_result r;
	struct env env;
	uint64_t pde;

	cfg_only(&cfg, ids, 3, false);
	o.cfg = &cfg;
	env_init(&env, &o);
	assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 4096, PTE_W, 12));
	pde = peek_entry(&env, DATA_GVA, 2);
	poke_entry(&env, DATA_GVA, 2, pde & ~PTE_W);
	assert_int_equal(xlate(&env, DATA_GVA, ACC_READ).status, MMU_OK);   /* caches W=0 */
	assert_int_equal(mmu_stats(env.mmu)->s[PWC_PDE].fills, 1);
	poke_entry(&env, DATA_GVA, 2, peek_entry(&env, DATA_GVA, 2) | PTE_W);
	/* The first write may fault (the stale W=0 is allowed to be used)... */
	r = xlate(&env, DATA_GVA, ACC_WRITE);
	if (r.status == MMU_PAGE_FAULT) {
		assert_int_equal(r.pf_error, 0x3);   /* P | W, supervisor */
		/* ...and the fault removed the PML4, PDPTE and PDE cache entries. */
		assert_int_equal(mmu_stats(env.mmu)->s[PWC_PDE].invalidations, 1);
		assert_int_equal(mmu_stats(env.mmu)->s[PWC_PDPTE].invalidations, 1);
		assert_int_equal(mmu_stats(env.mmu)->s[PWC_PML4].invalidations, 1);
		r = xlate(&env, DATA_GVA, ACC_WRITE);
	}
	assert_int_equal(r.status, MMU_OK);                                 /* the retry */
	assert_int_equal(r.refs, 24);                                       /* full walk */
	assert_int_equal(r.hpa, env.ram + DATA_GPA);
	env_fini(&env);
}

/* ------------------------------------------------------------------------ */
/* Invalidation (SDM 4.10.4, 28.3.3)                                        */
/* ------------------------------------------------------------------------ */

#define G_GVA (DATA_GVA + 0x10000)   /* a global page */

static void inval_env(struct env *env, struct mmu_config *cfg)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4, .cfg = cfg };

	cfg_l1d(cfg, 64, 4);
	cfg->geom[PWC_PDE].entries = 8;
	cfg->geom[PWC_PDE].ways = 8;
	cfg->geom[NESTED_TLB].entries = 64;
	cfg->geom[NESTED_TLB].ways = 4;
	env_init(env, &o);
	assert_ok(gpt_map(env->b, DATA_GVA, DATA_GPA, 2 * 4096, PTE_W, 12));
	assert_ok(gpt_map(env->b, G_GVA, DATA_GPA + 0x10000, 4096, PTE_W | PTE_G, 12));
}

static bool cached(struct env *env, uint64_t gva)
{
	struct mmu_result r = xlate(env, gva, ACC_READ);

	assert_int_equal(r.status, MMU_OK);
	return r.tlb_hit;
}

static void fill3(struct env *env)
{
	xlate(env, DATA_GVA, ACC_READ);
	xlate(env, DATA_GVA + 4096, ACC_READ);
	xlate(env, G_GVA, ACC_READ);
}

static void test_invlpg_cr3(void **state)
{
	struct mmu_config cfg;
	struct env env;
	struct mmu_result r;

	inval_env(&env, &cfg);
	fill3(&env);
	mmu_invlpg(env.mmu, &env.ctx, DATA_GVA + 0x123);
	/* INVLPG drops that page and the paging-structure caches of the PCID:
	 * the next walk of the page cannot use the PDE cache (but the nested TLB
	 * still holds the guest-physical translations: 4 guest entries). */
	r = xlate(&env, DATA_GVA, ACC_READ);
	assert_false(r.tlb_hit);
	assert_int_equal(r.refs, 4);
	assert_true(cached(&env, DATA_GVA + 4096));
	assert_true(cached(&env, G_GVA));
	/* INVLPG of a global page drops it too. */
	mmu_invlpg(env.mmu, &env.ctx, G_GVA);
	assert_false(cached(&env, G_GVA));

	/* MOV CR3 (no PCIDs): non-global entries go, global ones stay. */
	mmu_mov_cr3(env.mmu, &env.ctx, false);
	assert_false(cached(&env, DATA_GVA));
	assert_true(cached(&env, G_GVA));
	/* With CR4.PCIDE and bit 63 set, nothing is flushed. */
	env.ctx.cr4 |= CR4_PCIDE;
	fill3(&env);
	mmu_mov_cr3(env.mmu, &env.ctx, true);
	assert_true(cached(&env, DATA_GVA));
	/* Without bit 63, only the new PCID's non-global entries go. */
	env.ctx.cr3 |= 3;
	fill3(&env);
	env.ctx.cr3 &= ~0xfffULL;
	mmu_mov_cr3(env.mmu, &env.ctx, false);
	assert_false(cached(&env, DATA_GVA));
	env.ctx.cr3 |= 3;
	assert_true(cached(&env, DATA_GVA));
	env_fini(&env);
}

static void test_invvpid(void **state)
{
	struct mmu_config cfg;
	struct env env;

	inval_env(&env, &cfg);
	/* individual address: one page of one VPID, global or not */
	fill3(&env);
	mmu_invvpid(env.mmu, INVVPID_ADDR, 1, G_GVA);
	assert_false(cached(&env, G_GVA));
	assert_true(cached(&env, DATA_GVA));
	/* single context: every mapping of the VPID */
	mmu_invvpid(env.mmu, INVVPID_SINGLE, 1, 0);
	assert_false(cached(&env, DATA_GVA));
	assert_false(cached(&env, G_GVA));
	/* single context retaining globals */
	fill3(&env);
	mmu_invvpid(env.mmu, INVVPID_SINGLE_KEEP_GLOBAL, 1, 0);
	assert_false(cached(&env, DATA_GVA));
	assert_true(cached(&env, G_GVA));
	/* another VPID is untouched by single-context, flushed by all-contexts */
	fill3(&env);
	mmu_invvpid(env.mmu, INVVPID_SINGLE, 2, 0);
	assert_true(cached(&env, DATA_GVA));
	mmu_invvpid(env.mmu, INVVPID_ALL, 0, 0);
	assert_false(cached(&env, DATA_GVA));
	assert_false(cached(&env, G_GVA));
	/* all-contexts spares VPID 0 */
	env.ctx.vpid = 0;
	fill3(&env);
	mmu_invvpid(env.mmu, INVVPID_ALL, 0, 0);
	assert_true(cached(&env, DATA_GVA));
	mmu_flush_vpid_all(env.mmu, 0);
	assert_false(cached(&env, G_GVA));
	env_fini(&env);
}

static void test_invept(void **state)
{
	struct mmu_config cfg;
	struct env env;
	struct mmu_result r;
	uint64_t eptp;

	inval_env(&env, &cfg);
	eptp = ept_eptp(env.ept);
	fill3(&env);
	/* another EPTP: nothing happens */
	mmu_invept(env.mmu, INVEPT_SINGLE, eptp + 0x1000);
	assert_true(cached(&env, DATA_GVA));
	/* this EPTP: combined and guest-physical mappings go (global ones too) */
	mmu_invept(env.mmu, INVEPT_SINGLE, eptp);
	r = xlate(&env, G_GVA, ACC_READ);
	assert_false(r.tlb_hit);
	assert_int_equal(r.refs, 24);      /* nested TLB and PDE cache flushed too */
	fill3(&env);
	mmu_invept(env.mmu, INVEPT_GLOBAL, 0);
	r = xlate(&env, DATA_GVA, ACC_READ);
	assert_int_equal(r.refs, 24);
	assert_int_not_equal(mmu_stats(env.mmu)->s[NESTED_TLB].invalidations, 0);
	env_fini(&env);
}

static void test_invpcid(void **state)
{
	struct mmu_config cfg;
	struct env env;

	inval_env(&env, &cfg);
	env.ctx.cr4 |= CR4_PCIDE;
	env.ctx.cr3 |= 7;
	/* type 0: one address of one PCID, not globals */
	fill3(&env);
	mmu_invpcid(env.mmu, 1, 0, 7, DATA_GVA);
	assert_false(cached(&env, DATA_GVA));
	assert_true(cached(&env, DATA_GVA + 4096));
	mmu_invpcid(env.mmu, 1, 0, 7, G_GVA);
	assert_true(cached(&env, G_GVA));
	/* type 1: one PCID, not globals; another PCID is untouched */
	fill3(&env);
	mmu_invpcid(env.mmu, 1, 1, 8, 0);
	assert_true(cached(&env, DATA_GVA));
	mmu_invpcid(env.mmu, 1, 1, 7, 0);
	assert_false(cached(&env, DATA_GVA + 4096));
	assert_true(cached(&env, G_GVA));
	/* type 3: all PCIDs, not globals */
	fill3(&env);
	mmu_invpcid(env.mmu, 1, 3, 0, 0);
	assert_false(cached(&env, DATA_GVA));
	assert_true(cached(&env, G_GVA));
	/* type 2: everything including globals */
	fill3(&env);
	mmu_invpcid(env.mmu, 1, 2, 0, 0);
	assert_false(cached(&env, G_GVA));
	/* a bad type changes nothing */
	fill3(&env);
	mmu_invpcid(env.mmu, 1, 4, 0, 0);
	assert_true(cached(&env, G_GVA));
	env_fini(&env);
}

/*
 * A global entry serves every PCID (SDM 4.10.2.4), so a refill of it from
 * another PCID (here a write through the clean entry, which re-walks to
 * set D) replaces it in place: one translation, one TLB entry.
 */
static void test_global_refill_in_place(void **state)
{
	struct mmu_config cfg;
	struct env env;

	inval_env(&env, &cfg);
	env.ctx.cr4 |= CR4_PCIDE;
	env.ctx.cr3 |= 7;
	assert_int_equal(xlate(&env, G_GVA, ACC_READ).status, MMU_OK);
	env.ctx.cr3 = (env.ctx.cr3 & ~0xfffULL) | 8;
	assert_true(cached(&env, G_GVA));                 /* the PCID-7 global entry */
	assert_int_equal(xlate(&env, G_GVA, ACC_WRITE).status, MMU_OK);
	assert_int_equal(mmu_stats(env.mmu)->s[TLB_L1D_4K].fills, 2);
	mmu_flush_vpid_all(env.mmu, 1);
	assert_int_equal(mmu_stats(env.mmu)->s[TLB_L1D_4K].invalidations, 1);
	env_fini(&env);
}

/* ------------------------------------------------------------------------ */
/* Modes other than 4/5-level                                               */
/* ------------------------------------------------------------------------ */

static void test_paging_off(void **state)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4 };
	struct mmu_result r;
	struct env env;

	env_init(&env, &o);
	env.ctx.cr0 = CR0_PE;
	env.ctx.efer = 0;
	r = xlate(&env, 0x12345, ACC_WRITE);
	assert_int_equal(r.status, MMU_OK);
	assert_int_equal(r.hpa, env.ram + 0x12345);
	assert_int_equal(r.refs, 4);    /* only the EPT walk */
	env_fini(&env);
}

/* SDM 4.3: 32-bit paging, 4-byte entries, 4 MiB pages with CR4.PSE. */
static void test_paging_32bit(void **state)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4 };
	struct mmu_result r;
	struct env env;
	uint64_t pd = 0x200000, pt = 0x201000;
	uint32_t *pdv, *ptv;

	env_init(&env, &o);
	pdv = hpool_ptr(env.pool, env.ram + pd);
	ptv = hpool_ptr(env.pool, env.ram + pt);
	pdv[0x0804000 >> 22] = (uint32_t)pt | 0x7;           /* P W U */
	ptv[(0x0804000 >> 12) & 1023] = 0x3000000 | 0x3;      /* P W */
	pdv[0x1000000 >> 22] = 0x0c00000 | 0x83;              /* 4 MiB page, P W PS */
	env.ctx.cr0 = CR0_PE | CR0_PG | CR0_WP;
	env.ctx.cr4 = CR4_PSE;
	env.ctx.efer = 0;
	env.ctx.cr3 = pd;
	r = xlate(&env, 0x0804abc, ACC_WRITE);
	assert_int_equal(r.status, MMU_OK);
	assert_int_equal(r.hpa, env.ram + 0x3000abc);
	assert_int_equal(r.refs, 14);               /* (2+1)(4+1)-1 */
	assert_int_equal(ptv[(0x0804000 >> 12) & 1023], 0x3000000 | 0x63);   /* A and D */
	r = xlate(&env, 0x1234567, ACC_READ);
	assert_int_equal(r.status, MMU_OK);
	assert_int_equal(r.hpa, env.ram + 0x0c00000 + 0x234567);
	assert_int_equal(r.refs, 9);                /* 5 + 4 */
	env.ctx.cpl = 3;
	r = xlate(&env, 0x1234567, ACC_READ);
	assert_int_equal(r.status, MMU_PAGE_FAULT);
	assert_int_equal(r.pf_error, PF_P | PF_U);
	/* Table 4-4, PSE-36: bits 20:13 are PA bits 39:32 up to M = min(MAXPHYADDR,
	 * 40), bits 21:(M-19) are reserved: with M = 36, bit 17 (PA bit 36) is,
	 * bit 16 (PA bit 35) is not (and leads beyond RAM). */
	env.ctx.cpl = 0;
	env.ctx.maxphyaddr = 36;
	pdv[0x1000000 >> 22] |= 1u << 17;
	r = xlate(&env, 0x1234567, ACC_READ);
	assert_int_equal(r.status, MMU_PAGE_FAULT);
	assert_int_equal(r.pf_error, PF_P | PF_RSVD);
	env.ctx.maxphyaddr = 0;                              /* 40 in 32-bit paging */
	assert_int_equal(xlate(&env, 0x1234567, ACC_READ).status, MMU_EPT_VIOLATION);
	env.ctx.maxphyaddr = 36;
	pdv[0x1000000 >> 22] ^= (1u << 17) | (1u << 16);
	assert_int_equal(xlate(&env, 0x1234567, ACC_READ).status, MMU_EPT_VIOLATION);
	pdv[0x1000000 >> 22] &= ~(1u << 16);
	assert_int_equal(xlate(&env, 0x1234567, ACC_READ).status, MMU_OK);
	/* 4 KiB entries hold 32-bit addresses: nothing above M to reserve. */
	assert_int_equal(xlate(&env, 0x0804abc, ACC_READ).status, MMU_OK);
	env_fini(&env);
}

/* SDM 4.4: PAE paging. The PDPTEs are registers: not references of the walk. */
static void test_paging_pae(void **state)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4 };
	struct mmu_result r;
	struct env env;
	uint64_t *pdpt, *pd, *pt;

	env_init(&env, &o);
	pdpt = hpool_ptr(env.pool, env.ram + 0x210020);     /* CR3 is 32-byte aligned */
	pd = hpool_ptr(env.pool, env.ram + 0x211000);
	pt = hpool_ptr(env.pool, env.ram + 0x212000);
	pdpt[2] = 0x211000 | PTE_P;                          /* VA[31:30] = 2 */
	pd[(0x80604000 >> 21) & 511] = 0x212000 | PTE_P | PTE_W | PTE_U;
	pt[(0x80604000 >> 12) & 511] = 0x3000000 | PTE_P | PTE_W | PTE_XD;
	pd[(0x80a00000 >> 21) & 511] = 0x0c00000 | PTE_P | PTE_PS;
	env.ctx.cr0 = CR0_PE | CR0_PG | CR0_WP;
	env.ctx.cr4 = CR4_PAE;
	env.ctx.efer = EFER_NXE;
	env.ctx.cr3 = 0x210020;
	r = xlate(&env, 0x80604abc, ACC_READ);
	assert_int_equal(r.status, MMU_OK);
	assert_int_equal(r.hpa, env.ram + 0x3000abc);
	assert_int_equal(r.refs, 14);                       /* (2+1)(4+1)-1 */
	r = xlate(&env, 0x80604abc, ACC_FETCH);
	assert_int_equal(r.status, MMU_PAGE_FAULT);
	assert_int_equal(r.pf_error, PF_P | PF_I);          /* XD with NXE under PAE */
	r = xlate(&env, 0x80a12345, ACC_READ);
	assert_int_equal(r.hpa, env.ram + 0x0c12345);
	assert_int_equal(r.refs, 9);                        /* 2 MiB: 5 + 4 */
	assert_int_equal(r.page_shift, 12);                 /* splintered by the 4 KiB EPT pages */
	r = xlate(&env, 0x40000000, ACC_READ);              /* PDPTE 1 not present */
	assert_int_equal(r.status, MMU_PAGE_FAULT);
	assert_int_equal(r.pf_error, 0);
	assert_int_equal(r.refs, 0);
	/* PAE PDEs and PTEs: bits 62:52 (62:MAXPHYADDR) are reserved (Tables
	 * 4-9..4-11), unlike 4-level paging, which ignores them. */
	pt[(0x80604000 >> 12) & 511] |= 1ULL << 52;
	r = xlate(&env, 0x80604abc, ACC_READ);
	assert_int_equal(r.status, MMU_PAGE_FAULT);
	assert_int_equal(r.pf_error, PF_P | PF_RSVD);
	pt[(0x80604000 >> 12) & 511] &= ~(1ULL << 52);
	pd[(0x80604000 >> 21) & 511] |= 1ULL << 62;
	r = xlate(&env, 0x80604abc, ACC_READ);
	assert_int_equal(r.status, MMU_PAGE_FAULT);
	assert_int_equal(r.pf_error, PF_P | PF_RSVD);
	pd[(0x80604000 >> 21) & 511] &= ~(1ULL << 62);
	pd[(0x80a00000 >> 21) & 511] |= 1ULL << 57;          /* 2 MiB PDE */
	r = xlate(&env, 0x80a12345, ACC_READ);
	assert_int_equal(r.status, MMU_PAGE_FAULT);
	assert_int_equal(r.pf_error, PF_P | PF_RSVD);
	pd[(0x80a00000 >> 21) & 511] &= ~(1ULL << 57);
	assert_int_equal(xlate(&env, 0x80604abc, ACC_READ).status, MMU_OK);
	/* MAXPHYADDR 36 (Tables 4-8..4-11): bits 51:36 reserved in the PTE, the
	 * PDE and the PDPTE; bit 35 is an address bit (RAM ends at 1 GiB). */
	env.ctx.maxphyaddr = 36;
	pt[(0x80604000 >> 12) & 511] |= 1ULL << 36;
	r = xlate(&env, 0x80604abc, ACC_READ);
	assert_int_equal(r.status, MMU_PAGE_FAULT);
	assert_int_equal(r.pf_error, PF_P | PF_RSVD);
	pt[(0x80604000 >> 12) & 511] ^= (1ULL << 36) | (1ULL << 35);
	assert_int_equal(xlate(&env, 0x80604abc, ACC_READ).status, MMU_EPT_VIOLATION);
	pt[(0x80604000 >> 12) & 511] &= ~(1ULL << 35);
	pd[(0x80a00000 >> 21) & 511] |= 1ULL << 51;
	r = xlate(&env, 0x80a12345, ACC_WRITE);
	assert_int_equal(r.status, MMU_PAGE_FAULT);
	assert_int_equal(r.pf_error, PF_P | PF_W | PF_RSVD);
	pd[(0x80a00000 >> 21) & 511] &= ~(1ULL << 51);
	pdpt[2] |= 1ULL << 40;
	r = xlate(&env, 0x80604abc, ACC_READ);
	assert_int_equal(r.status, MMU_PAGE_FAULT);
	assert_int_equal(r.pf_error, PF_P | PF_RSVD);
	env.ctx.maxphyaddr = 0;                              /* 52: bit 40 is an address bit */
	assert_int_equal(xlate(&env, 0x80604abc, ACC_READ).status, MMU_EPT_VIOLATION);
	pdpt[2] &= ~(1ULL << 40);
	assert_int_equal(xlate(&env, 0x80604abc, ACC_READ).status, MMU_OK);
	pdpt[2] |= 1ULL << 5;                                /* reserved bit in a PDPTE */
	r = xlate(&env, 0x80604abc, ACC_WRITE);
	assert_int_equal(r.status, MMU_PAGE_FAULT);
	assert_int_equal(r.pf_error, PF_P | PF_W | PF_RSVD);
	env_fini(&env);
}

/*
 * SDM 4.5, Tables 4-14..4-20: bits 51:M of every paging entry are reserved
 * for the guest's MAXPHYADDR M. With M = 36 a PML5E, PML4E, PDPTE, PDE or PTE
 * with bit 40 set faults with P and RSVD (and W, U, I as the access is);
 * with M = 41 or 52 bit 40 is an address bit, and the walk goes on to an
 * unmapped GPA (an EPT violation). Bit M - 1 is always an address bit, bit M
 * always reserved. With every cache off (the const-format path) and with
 * the Skylake caches.
 */
static void test_maxphyaddr_reserved(void **state)
{
	static const char *const presets[] = { "none", "skylake" };
	static const struct { unsigned m, bit; bool rsvd; } widths[] = {
		{ 36, 40, true }, { 40, 40, true }, { 41, 40, false }, { 0, 40, false },
		{ 51, 51, true }, { 52, 51, false }, { 39, 38, false }, { 39, 39, true },
	};

	(void)state;
	for (unsigned gl = 4; gl <= 5; gl++)
		for (unsigned p = 0; p < 2; p++)
			for (unsigned lvl = 1; lvl <= gl; lvl++)
				for (unsigned i = 0; i < sizeof(widths) / sizeof(widths[0]); i++) {
					struct env_opts o = { .guest_levels = gl, .ept_levels = 4,
							      .preset = presets[p] };
					struct mmu_result r;
					struct env env;
					uint64_t e, leaf;

					env_init(&env, &o);
					assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 4096, PTE_W | PTE_U, 12));
					leaf = ram_hpa(&env, gpt_entry_gpa(env.b, DATA_GVA, 1));
					env.ctx.maxphyaddr = (uint8_t)widths[i].m;
					e = peek_entry(&env, DATA_GVA, lvl);
					poke_entry(&env, DATA_GVA, lvl, e | (1ULL << widths[i].bit));
					env.ctx.cpl = 3;
					r = xlate(&env, DATA_GVA + 0x10, ACC_WRITE);
					if (widths[i].rsvd) {
						assert_int_equal(r.status, MMU_PAGE_FAULT);
						assert_int_equal(r.pf_error, PF_P | PF_W | PF_U | PF_RSVD);
						assert_int_equal(r.gva, DATA_GVA + 0x10);
						/* A faulting walk sets no A on the leaf. */
						assert_int_equal(hpool_read64(env.pool, leaf) & PTE_A, 0);
						env.ctx.cpl = 0;
						r = xlate(&env, DATA_GVA + 0x10, ACC_FETCH);
						assert_int_equal(r.pf_error, PF_P | PF_RSVD | PF_I);
					} else {
						assert_int_equal(r.status, MMU_EPT_VIOLATION);
					}
					env_fini(&env);
				}
}

/* The guest-table builder's contract: exact errors for bad requests. */
static void test_gpt_builder_errors(void **state)
{
	struct env_opts o = { .guest_levels = 4, .ept_levels = 4 };
	struct gpt_builder *small;
	struct mmu_config cfg;
	struct mmu *m;
	struct env env;

	env_init(&env, &o);
	assert_int_equal(gpt_map(env.b, DATA_GVA + 8, DATA_GPA, 4096, 0, 12), -EINVAL);
	assert_int_equal(gpt_map(env.b, DATA_GVA, DATA_GPA, 4096, 0, 13), -EINVAL);
	assert_int_equal(gpt_map(env.b, DATA_GVA, DATA_GPA, 0, 0, 12), -EINVAL);
	assert_int_equal(gpt_map(env.b, DATA_GVA, DATA_GPA, 4096, PTE_PS, 12), -EINVAL);
	/* Ranges that wrap or leave the canonical space. */
	assert_int_equal(gpt_map(env.b, 0xfffffffffffff000ULL, 0, 0x2000, 0, 12), -EINVAL);
	assert_int_equal(gpt_map(env.b, 0x00007ffffffff000ULL, 0, 0x2000, 0, 12), -EINVAL);
	assert_int_equal(gpt_map(env.b, 0xfffffffffffff000ULL, DATA_GPA, 0x1000, 0, 12), 0);
	/* A 2 MiB page where a table already is, and a table under a 2 MiB page. */
	assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 4096, 0, 12));
	assert_int_equal(gpt_map(env.b, DATA_GVA, DATA_GPA, 2 * MiB, 0, 21), -EEXIST);
	assert_ok(gpt_map(env.b, DATA_GVA + 2 * MiB, DATA_GPA, 2 * MiB, 0, 21));
	assert_int_equal(gpt_map(env.b, DATA_GVA + 2 * MiB, DATA_GPA, 4096, 0, 12), -EEXIST);
	assert_int_equal(gpt_entry_gpa(env.b, DATA_GVA + 2 * MiB, 1), 0);
	/* A table range with room for the top table and two more. */
	assert_ok(gpt_builder_create(env.pool, env.ept, 4, 8 * MiB, 3 * 4096, &small));
	assert_int_equal(gpt_map(small, DATA_GVA, DATA_GPA, 4096, 0, 12), -ENOSPC);
	/* What fits: a 1 GiB leaf in the PDPT that the failed call left behind. */
	assert_ok(gpt_map(small, 0x00007f0040000000ULL, 0, GiB, 0, 30));
	gpt_builder_destroy(small);
	assert_int_equal(gpt_builder_create(env.pool, env.ept, 3, 8 * MiB, 4096, &small), -EINVAL);
	assert_int_equal(gpt_builder_create(env.pool, env.ept, 4, 8 * MiB + 1, 4096, &small), -EINVAL);
	/* Table range not mapped in EPT. */
	assert_int_equal(gpt_builder_create(env.pool, env.ept, 4, 4 * GiB, 4096, &small), -EFAULT);

	/* mmu_create refuses a geometry whose ways do not divide the entries. */
	assert_ok(mmu_config_preset("none", &cfg));
	cfg.geom[TLB_L1D_4K].entries = 10;
	cfg.geom[TLB_L1D_4K].ways = 4;
	assert_int_equal(mmu_create(env.pool, &cfg, &m), -EINVAL);
	env_fini(&env);
}

/* ------------------------------------------------------------------------ */
/* Configuration                                                            */
/* ------------------------------------------------------------------------ */

/* mmu_config_parse over a C string. */
static int parse_cfg(const char *text, struct mmu_config *c, char *err, size_t errlen)
{
	return mmu_config_parse("dir/t.cfg", text, strlen(text), c, err, errlen);
}

/* The miss path mmu_create picks for cfg (m->slow: a preset's compiled
 * instance or the general one). */
static mmu_slow_fn *slow_of(struct hpool *pool, const struct mmu_config *cfg)
{
	struct mmu *m;
	mmu_slow_fn *fn;

	assert_ok(mmu_create(pool, cfg, &m));
	fn = m->slow;
	mmu_destroy(m);
	return fn;
}

/* A configuration written out structure by structure (no "base ="). */
static void cfg_text(const struct mmu_config *c, char *buf, size_t len)
{
	size_t off = 0;
	unsigned i;

	buf[0] = 0;
	for (i = 0; i < MMU_NSTRUCT; i++) {
		int n = c->perfect[i] ? snprintf(buf + off, len - off, "%s = perfect\n", mmu_struct_name(i))
			: snprintf(buf + off, len - off, "%s = %u/%u\n", mmu_struct_name(i),
				   c->geom[i].entries, c->geom[i].ways);

		assert_true(n > 0 && (size_t)n < len - off);
		off += (size_t)n;
	}
}

/*
 * A configuration file whose every structure has a preset's geometry gets
 * that preset's compiled miss path, whether it says "base =" or lists each
 * structure; one structure different, or perfect, gets the general one.
 */
static void test_config_takes_preset_instance(void **state)
{
	static const char *const presets[] = { "skylake", "goldencove", "zen2", "zen4" };
	struct mmu_config pc, fc;
	struct hpool *pool;
	mmu_slow_fn *general, *inst[4];
	char text[2048], err[256];
	unsigned i, j;

	(void)state;
	assert_ok(hpool_create(64 * MiB, &pool));
	assert_ok(mmu_config_preset("perfect", &pc));
	general = slow_of(pool, &pc);
	for (i = 0; i < 4; i++) {
		assert_ok(mmu_config_preset(presets[i], &pc));
		inst[i] = slow_of(pool, &pc);
		assert_ptr_not_equal(inst[i], general);
		for (j = 0; j < i; j++)
			assert_ptr_not_equal(inst[i], inst[j]);

		snprintf(text, sizeof(text), "base = %s\n", presets[i]);
		assert_ok(parse_cfg(text, &fc, err, sizeof(err)));
		assert_ptr_equal(slow_of(pool, &fc), inst[i]);

		cfg_text(&pc, text, sizeof(text));
		assert_ok(parse_cfg(text, &fc, err, sizeof(err)));
		assert_ptr_equal(slow_of(pool, &fc), inst[i]);

		/* The same entries, other ways: another layout. */
		fc.geom[TLB_L2_4K2M].ways = fc.geom[TLB_L2_4K2M].ways == 4 ? 8 : 4;
		assert_ptr_equal(slow_of(pool, &fc), general);
		/* One made perfect, or one removed. */
		assert_ok(parse_cfg(text, &fc, err, sizeof(err)));
		fc.perfect[NESTED_TLB] = true;
		assert_ptr_equal(slow_of(pool, &fc), general);
		assert_ok(parse_cfg(text, &fc, err, sizeof(err)));
		fc.geom[PWC_PDE] = (struct cache_geom){ 0, 0 };
		assert_ptr_equal(slow_of(pool, &fc), general);
	}
	hpool_destroy(pool);
}

static void test_config(void **state)
{
	struct mmu_config c;
	char err[256], longline[300];
	const char *const *names;
	unsigned n = 0;

	assert_ok(parse_cfg("# a comment\nbase = skylake\nl1d_4k = 128/8   # wider\n"
			    "nested_tlb = perfect\r\npde_cache = 0\nl2_1g = 32", &c, err, sizeof(err)));
	assert_int_equal(c.geom[TLB_L1D_4K].entries, 128);
	assert_int_equal(c.geom[TLB_L1D_4K].ways, 8);
	assert_true(c.perfect[NESTED_TLB]);
	assert_int_equal(c.geom[PWC_PDE].entries, 0);
	assert_int_equal(c.geom[TLB_L2_1G].ways, 32);
	assert_int_equal(c.geom[TLB_L2_4K2M].entries, 1536);   /* from the preset */

	assert_int_equal(parse_cfg("l1d_4k = 64/4\n\nl1d_2m = 10/4\n", &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "dir/t.cfg:3: entries must be a multiple of ways");
	assert_int_equal(parse_cfg("l3_tlb = 64\n", &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "dir/t.cfg:1: unknown structure name");
	assert_int_equal(parse_cfg("l1d_4k 64\n", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":1: expected"));
	assert_int_equal(parse_cfg("l1d_4k = lots\n", &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(parse_cfg("l1d_4k = 64\rl1d_2m = 8\n", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":1: carriage return without a line feed"));
	assert_int_equal(mmu_config_parse("t", "l1d_4k = 64\n\0\n", 14, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t:2: NUL byte in a line");
	/* 254 characters and a line feed fit; 255 do not. */
	memset(longline, ' ', sizeof(longline));
	memcpy(longline, "l1d_4k = 64", 11);
	longline[254] = '\n';
	assert_ok(mmu_config_parse("t", longline, 255, &c, err, sizeof(err)));
	longline[254] = ' ';
	longline[255] = '\n';
	assert_int_equal(mmu_config_parse("t", longline, 256, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "t:1: line too long");
	/* Without 'base =' or 'name =' the configuration is named after the file. */
	assert_ok(parse_cfg("\xef\xbb\xbfl1d_4k = 64\n", &c, err, sizeof(err)));
	assert_string_equal(c.name, "t.cfg");

	for (names = mmu_preset_names(); *names; names++, n++)
		assert_ok(mmu_config_preset(*names, &c));
	assert_int_equal(n, 6);
	assert_int_equal(mmu_config_preset("pentium", &c), -ENOENT);
	assert_ok(mmu_config_preset("skylake", &c));
	assert_int_equal(c.geom[TLB_L2_4K2M].entries, 1536);
	assert_int_equal(c.geom[TLB_L2_4K2M].ways, 12);
	assert_string_equal(mmu_struct_name(NESTED_TLB), "nested_tlb");
	assert_string_equal(mmu_struct_name(PWC_PDE), "pde_cache");
}

/* Every preset runs: a short sequence of translations succeeds with hits. */
static void test_presets_run(void **state)
{
	const char *const *names;

	for (names = mmu_preset_names(); *names; names++) {
		struct env_opts o = { .guest_levels = 4, .ept_levels = 4, .preset = *names };
		struct env env;
		unsigned i;

		env_init(&env, &o);
		assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 64 * 4096, PTE_W, 12));
		for (i = 0; i < 256; i++) {
			struct mmu_result r = xlate(&env, DATA_GVA + (i % 64) * 4096, ACC_WRITE);

			assert_int_equal(r.status, MMU_OK);
			assert_int_equal(r.hpa, env.ram + DATA_GPA + (i % 64) * 4096);
		}
		if (strcmp(*names, "none"))
			assert_true(mmu_stats(env.mmu)->walks < 256);
		else
			assert_int_equal(mmu_stats(env.mmu)->walks, 256);
		env_fini(&env);
	}
}

/*
 * SDM 4.8: a walk sets A in every guest entry it uses and, for a write, D in
 * the entry that maps the page; a read leaves D alone. The trace (what `hv
 * walk` prints) shows every entry, guest and EPT alike, as the walk left it:
 * each value equals what memory holds afterwards.
 */
static void test_trace_shows_entries_after_their_ad_writes(void **state)
{
	static const unsigned acc[] = { ACC_READ, ACC_WRITE };

	(void)state;
	for (unsigned a = 0; a < 2; a++) {
		struct env_opts o = { .guest_levels = 4, .ept_levels = 4, .ad = true };
		struct walk_trace tr;
		struct mmu_result r;
		struct env env;
		unsigned i, guest = 0;

		env_init(&env, &o);
		assert_ok(gpt_map(env.b, DATA_GVA, DATA_GPA, 4096, PTE_W, 12));
		mmu_translate_traced(env.mmu, &env.ctx, DATA_GVA, acc[a], &r, &tr);
		assert_int_equal(r.status, MMU_OK);
		assert_int_equal(tr.n, 24);
		for (i = 0; i < tr.n; i++) {
			const struct walk_ref *w = &tr.ref[i];

			assert_int_equal(w->value, hpool_read64(env.pool, w->entry_hpa));
			if (w->ept_level) {
				assert_int_not_equal(w->value & EPT_A, 0);
				continue;
			}
			guest++;
			assert_int_not_equal(w->value & PTE_A, 0);
			if (w->guest_level == 1)
				assert_int_equal(w->value & PTE_D, acc[a] == ACC_WRITE ? PTE_D : 0);
		}
		assert_int_equal(guest, 4);
		/* Four entries changed: three tables (A) and the leaf (A, and D with it). */
		assert_int_equal(mmu_stats(env.mmu)->guest_ad_writes, 4);
		env_fini(&env);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refs_4k),
		cmocka_unit_test(test_refs_large),
		cmocka_unit_test(test_grid_4_4),
		cmocka_unit_test(test_fast_and_general_walks_count_alike),
		cmocka_unit_test(test_refs_cached),
		cmocka_unit_test(test_permission_matrix),
		cmocka_unit_test(test_protection_keys),
		cmocka_unit_test(test_reserved_large),
		cmocka_unit_test(test_noncanonical),
		cmocka_unit_test(test_ept_violation_in_walk),
		cmocka_unit_test(test_ept_violation_final),
		cmocka_unit_test(test_ept_misconfig),
		cmocka_unit_test(test_raw_table_beyond_pool),
		cmocka_unit_test(test_raw_table_beyond_pool_cached),
		cmocka_unit_test(test_fast_ept_walk_agrees),
		cmocka_unit_test(test_trace_shows_entries_after_their_ad_writes),
		cmocka_unit_test(test_pml5_cache),
		cmocka_unit_test(test_tagging),
		cmocka_unit_test(test_lru),
		cmocka_unit_test(test_splinter),
		cmocka_unit_test(test_stale_until_invlpg),
		cmocka_unit_test(test_dirty_rewalk),
		cmocka_unit_test(test_dirty_known_from_read),
		cmocka_unit_test(test_shortcut_counts_like_model),
		cmocka_unit_test(test_shortcut_pages_2m_apart),
		cmocka_unit_test(test_shortcut_context_returns),
		cmocka_unit_test(test_preset_instances_agree),
		cmocka_unit_test(test_use_rule_agrees),
		cmocka_unit_test(test_stale_gp_table_is_tested),
		cmocka_unit_test(test_gpt_map_4k_run),
		cmocka_unit_test(test_pde_cache_no_leaf),
		cmocka_unit_test(test_pf_drops_pwc),
		cmocka_unit_test(test_invlpg_cr3),
		cmocka_unit_test(test_invvpid),
		cmocka_unit_test(test_invept),
		cmocka_unit_test(test_invpcid),
		cmocka_unit_test(test_global_refill_in_place),
		cmocka_unit_test(test_paging_off),
		cmocka_unit_test(test_paging_32bit),
		cmocka_unit_test(test_paging_pae),
		cmocka_unit_test(test_maxphyaddr_reserved),
		cmocka_unit_test(test_gpt_builder_errors),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_config_takes_preset_instance),
		cmocka_unit_test(test_presets_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
