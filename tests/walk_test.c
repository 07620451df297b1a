/* SPDX-License-Identifier: MIT */
/*
 * tests/walk_test.c - the generic walker (ept/walk.h) over a format it was
 * not written for: a 3-level table shaped like VT-d second-level tables with
 * a 39-bit address width (VT-d 9.8: R bit 0, W bit 1, PS bit 7 in level-2/3
 * entries, A bit 8 and D bit 9 with second-level A/D). Adding it took only
 * this descriptor: the walker is untouched.
 */
#include <errno.h>
#include <string.h>

#include "tests/testutil.h"
#include "ept/ept.h"
#include "ept/mmu.h"
#include "ept/walk.h"

#define SL_R  (1ULL << 0)
#define SL_W  (1ULL << 1)
#define SL_PS (1ULL << 7)
#define SL_A  (1ULL << 8)
#define SL_D  (1ULL << 9)
#define SL_ADDR 0x000ffffffffff000ULL

static const struct walk_fmt sl3 = {
	.name = "test 3-level",
	.levels = 3,
	.esz = 8,
	.shift = { 0, 12, 21, 30 },
	.ibits = { 0, 9, 9, 9 },
	.present = SL_R | SL_W,
	.ps = SL_PS,
	.large = (1u << 2) | (1u << 3),
	/* bits 6:2 reserved in a table pointer; address bits below a large page */
	.rsvd_table = { 0, 0, 0x7c, 0x7c },
	.rsvd_page = { 0, 0, 0x1ff000, 0x3ffff000 },
	.addr = SL_ADDR,
	.and_bits = SL_R | SL_W,
	.a = SL_A,
	.d = SL_D,
};

struct env {
	struct hpool *pool;
	uint64_t root, l2, l1;
	unsigned refs, ad;
	uint64_t last_ad_value;
};

static uint64_t page(struct env *e)
{
	uint64_t hpa;

	assert_ok(hpool_alloc(e->pool, 4096, FRAME_HV, &hpa));
	return hpa;
}

static void setup(struct env *e)
{
	memset(e, 0, sizeof(*e));
	assert_ok(hpool_create(1ULL << 30, &e->pool));
	e->root = page(e);
	e->l2 = page(e);
	e->l1 = page(e);
	/* IOVA 0x40201000: root[1] -> l2[1] -> l1[1] -> 0x1234000, read only */
	hpool_write64(e->pool, e->root + 8, e->l2 | SL_R | SL_W);
	hpool_write64(e->pool, e->l2 + 8, e->l1 | SL_R | SL_W);
	hpool_write64(e->pool, e->l1 + 8, 0x1234000 | SL_R);
	/* IOVA 0x40400000: a 2 MiB page at 0x800000, read/write */
	hpool_write64(e->pool, e->l2 + 16, 0x800000 | SL_R | SL_W | SL_PS);
}

static void count_ref(void *arg, const struct walk_path *p, const struct walk_step *r)
{
	(void)p;
	(void)r;
	((struct env *)arg)->refs++;
}

static bool count_ad(void *arg, const struct walk_path *p, const struct walk_step *r, uint64_t nv)
{
	(void)p;
	(void)r;
	((struct env *)arg)->ad++;
	((struct env *)arg)->last_ad_value = nv;
	return true;
}

static const struct walk_ops ops = { .ref = count_ref, .ad = count_ad };

static void test_three_levels(void **state)
{
	struct walk_path p;
	struct env e;

	(void)state;
	setup(&e);
	assert_int_equal(walk_run(&sl3, e.pool, &ops, &e, e.root, NULL, 0x40201abc, &p), WALK_OK);
	assert_int_equal(p.n, 3);
	assert_int_equal(e.refs, 3);
	assert_int_equal(p.addr, 0x1234abc);
	assert_int_equal(p.shift, 12);
	/* R AND-ed over the levels, W only above the leaf. */
	assert_int_equal(p.and_acc, SL_R);
	assert_int_equal(p.table[3], e.root);
	assert_int_equal(p.table[1], e.l1);
	/* A on all three entries, D on the leaf: four flags in three writes. */
	assert_true(walk_set_ad(&sl3, e.pool, &ops, &e, &p, true));
	assert_int_equal(e.ad, 3);
	assert_int_equal(p.ad_writes, 3);
	assert_int_equal(hpool_read64(e.pool, e.l1 + 8), 0x1234000 | SL_R | SL_A | SL_D);
	assert_int_equal(hpool_read64(e.pool, e.root + 8), e.l2 | SL_R | SL_W | SL_A);
	/* A second time nothing changes, so nothing is written. */
	assert_int_equal(walk_run(&sl3, e.pool, &ops, &e, e.root, NULL, 0x40201000, &p), WALK_OK);
	assert_true(walk_set_ad(&sl3, e.pool, &ops, &e, &p, true));
	assert_int_equal(e.ad, 3);
	hpool_destroy(e.pool);
}

static void test_large_and_faults(void **state)
{
	struct walk_start st;
	struct walk_path p;
	struct env e;

	(void)state;
	setup(&e);
	/* A 2 MiB leaf: two references. */
	assert_int_equal(walk_run(&sl3, e.pool, NULL, NULL, e.root, NULL, 0x40512345, &p), WALK_OK);
	assert_int_equal(p.n, 2);
	assert_int_equal(p.addr, 0x912345);
	assert_int_equal(p.shift, 21);
	/* Not present at level 1 (index 2). */
	assert_int_equal(walk_run(&sl3, e.pool, NULL, NULL, e.root, NULL, 0x40202000, &p),
			 WALK_NOT_PRESENT);
	assert_int_equal(p.n, 3);
	/* Beyond 39 bits: nothing read. */
	assert_int_equal(walk_run(&sl3, e.pool, NULL, NULL, e.root, NULL, 1ULL << 39, &p), WALK_RANGE);
	assert_int_equal(p.n, 0);
	/* A reserved bit in a table pointer. */
	hpool_write64(e.pool, e.l2 + 8, e.l1 | SL_R | SL_W | 0x10);
	assert_int_equal(walk_run(&sl3, e.pool, NULL, NULL, e.root, NULL, 0x40201000, &p),
			 WALK_RESERVED);
	assert_int_equal(p.n, 2);
	/* A misaligned large page. */
	hpool_write64(e.pool, e.l2 + 16, 0x801000 | SL_R | SL_PS);
	assert_int_equal(walk_run(&sl3, e.pool, NULL, NULL, e.root, NULL, 0x40400000, &p),
			 WALK_RESERVED);
	/* Starting lower, from a cached table, with the permissions above it. */
	st = (struct walk_start){ .level = 1, .table = e.l1, .and_bits = SL_R | SL_W };
	assert_int_equal(walk_run(&sl3, e.pool, NULL, NULL, e.root, &st, 0x40201008, &p), WALK_OK);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.start, 1);
	assert_int_equal(p.addr, 0x1234008);
	hpool_destroy(e.pool);
}

/* A refused A/D write stops the walk and writes nothing. */
static bool refuse_ad(void *arg, const struct walk_path *p, const struct walk_step *r, uint64_t nv)
{
	(void)arg;
	(void)p;
	(void)r;
	(void)nv;
	return false;
}

static void test_ad_refused(void **state)
{
	static const struct walk_ops refuse = { .ad = refuse_ad };
	struct walk_path p;
	struct env e;

	(void)state;
	setup(&e);
	assert_int_equal(walk_run(&sl3, e.pool, &refuse, NULL, e.root, NULL, 0x40201000, &p), WALK_OK);
	assert_false(walk_set_ad(&sl3, e.pool, &refuse, NULL, &p, false));
	assert_int_equal(p.ad_writes, 0);
	assert_int_equal(hpool_read64(e.pool, e.root + 8), e.l2 | SL_R | SL_W);
	hpool_destroy(e.pool);
}

/* EPT through the same walker: ept_walk reports the A/D writes it made. */
static void test_ept_ad_writes(void **state)
{
	const struct ept_access rd = { .type = ACC_READ }, wr = { .type = ACC_WRITE };
	struct ept_walk_result r;
	struct hpool *pool;
	struct ept *ept;

	(void)state;
	assert_ok(hpool_create(1ULL << 30, &pool));
	assert_ok(ept_create(pool, 4, true, NULL, &ept));
	assert_ok(ept_map(ept, 0x100000, 0x200000, 4096, EPT_RWX | (EPT_MT_WB << EPT_MT_SHIFT),
			  PAGE_SIZE_4K));
	assert_ok(ept_walk(ept, 0x100000, &rd, NULL, &r));
	assert_int_equal(r.status, EPT_OK);
	assert_int_equal(r.refs, 4);
	assert_int_equal(r.ad_writes, 4);   /* SDM 29.3.5: A in all four entries */
	assert_ok(ept_walk(ept, 0x100000, &wr, NULL, &r));
	assert_int_equal(r.ad_writes, 1);   /* D in the leaf only */
	assert_ok(ept_walk(ept, 0x100000, &wr, NULL, &r));
	assert_int_equal(r.ad_writes, 0);
	ept_destroy(ept);
	hpool_destroy(pool);
}

/*
 * The one-test shortcuts for the usual table pointer (tbl_mask/tbl_val) and
 * the usual 4 KiB page (leaf_mask/leaf_val) are data: every EPT and IA-32e
 * descriptor's must imply what the full tests find, and a shortcut that
 * forgets a bit is caught.
 */
static uint64_t pse_frame_for_test(uint64_t e, unsigned level)
{
	(void)level;
	return e & 0xffc00000ULL;
}

static void test_table_shortcut(void **state)
{
	unsigned v;

	(void)state;
	for (v = 0; v < 32; v++) {
		const struct walk_fmt e = EPT_WALK_FMT(v & 1 ? 5 : 4, v & 2, v & 4, v & 8, v & 16);

		assert_true(walk_fmt_check(&e));
	}
	for (v = 0; v < 4; v++) {
		const struct walk_fmt g = GUEST_IA32E_FMT(v & 1 ? 5 : 4, (v & 2) != 0);

		assert_true(walk_fmt_check(&g));
	}
	assert_true(walk_fmt_check(&sl3));   /* none: nothing to check */
	{
		/* PS left out: a 2 MiB leaf would pass as a table pointer. */
		struct walk_fmt e = EPT_WALK_FMT(4, true, true, false, true);

		e.tbl_mask = EPT_R | 0x78;
		assert_false(walk_fmt_check(&e));
	}
	{
		/* Without NXE, XD is reserved: a shortcut ignoring it is wrong. */
		struct walk_fmt g = GUEST_IA32E_FMT(4, false);

		g.tbl_mask = PTE_P | PTE_PS;
		assert_false(walk_fmt_check(&g));
	}
	{
		/* Without R (present) in it, an entry that is not present passes. */
		struct walk_fmt e = EPT_WALK_FMT(4, false, true, false, true);

		e.tbl_mask = 0xf8;
		e.tbl_val = 0;
		assert_false(walk_fmt_check(&e));
	}
	{
		/* A leaf shortcut that ignores the memory type lets type 2 through. */
		struct walk_fmt e = EPT_WALK_FMT(4, true, true, false, true);

		e.leaf_mask = EPT_R;
		e.leaf_val = EPT_R;
		assert_false(walk_fmt_check(&e));
		/* Write without read is a misconfiguration. */
		e.leaf_mask = EPT_W | EPT_MT_MASK;
		e.leaf_val = EPT_W | (EPT_MT_WB << EPT_MT_SHIFT);
		assert_false(walk_fmt_check(&e));
	}
	{
		/* Without NXE a leaf with XD is reserved. */
		struct walk_fmt g = GUEST_IA32E_FMT(4, false);

		g.leaf_mask = PTE_P;
		g.leaf_val = PTE_P;
		assert_false(walk_fmt_check(&g));
		g.leaf_mask = PTE_P | PTE_XD;
		assert_true(walk_fmt_check(&g));
		/* A format whose frame is not (e & addr) cannot take it. */
		g.frame = pse_frame_for_test;
		assert_false(walk_fmt_check(&g));
	}
}

/* The range walk over the same 3-level format: what it visits, in order. */
struct visits {
	unsigned n;
	unsigned level[16];
	uint64_t base[16], first[16], last[16];
	struct env *env;
};

static int record_visit(void *arg, unsigned level, uint64_t ehpa, uint64_t base, uint64_t first,
			uint64_t last, uint64_t *child, uint64_t *state)
{
	struct visits *v = arg;
	uint64_t e = hpool_read64(v->env->pool, ehpa);

	(void)state;
	assert_true(v->n < 16);
	v->level[v->n] = level;
	v->base[v->n] = base;
	v->first[v->n] = first;
	v->last[v->n] = last;
	v->n++;
	if (!(e & (SL_R | SL_W)) || level == 1 || (e & SL_PS))
		return WALK_RANGE_NEXT;
	*child = e & SL_ADDR;
	return WALK_RANGE_DOWN;
}

static int record_after(void *arg, unsigned level, uint64_t ehpa, uint64_t child, uint64_t state)
{
	struct visits *v = arg;

	(void)ehpa;
	(void)child;
	(void)state;
	/* Recorded as a visit at level + 10, after the ones below it. */
	v->level[v->n++] = level + 10;
	return 0;
}

static int refuse_2m(void *arg, unsigned level, uint64_t ehpa, uint64_t base, uint64_t first,
		     uint64_t last, uint64_t *child, uint64_t *state)
{
	int rc = record_visit(arg, level, ehpa, base, first, last, child, state);

	return level == 2 && base == 0x40400000 ? -EEXIST : rc;
}

/* A leaves hook: recorded as a visit at level 21 (ehpa in base), then the
 * per-entry visits walk_range_leaves() makes of record_visit. */
static int record_leaves(void *arg, uint64_t ehpa, uint64_t first, uint64_t last)
{
	struct visits *v = arg;

	assert_true(v->n < 16);
	v->level[v->n] = 21;
	v->base[v->n] = ehpa;
	v->first[v->n] = first;
	v->last[v->n] = last;
	v->n++;
	return walk_range_leaves(&sl3, record_visit, arg, ehpa, first, last);
}

static void test_range_walk(void **state)
{
	static const struct walk_range_ops rops = { .visit = record_visit, .after = record_after };
	static const struct walk_range_ops refuse = { .visit = refuse_2m };
	struct env e;
	struct visits v = { .env = &e };

	(void)state;
	setup(&e);
	/* [0x403ff000, 0x40400fff]: the last page under l2[1], then the first
	 * page of the 2 MiB page at l2[2]. */
	assert_int_equal(walk_range(&sl3, &rops, &v, e.root, 0x403ff000, 0x40400fff), 0);
	assert_int_equal(v.n, 6);
	assert_int_equal(v.level[0], 3);            /* root[1]: 1 GiB, met in part */
	assert_int_equal(v.base[0], 0x40000000);
	assert_int_equal(v.first[0], 0x403ff000);
	assert_int_equal(v.last[0], 0x40400fff);
	assert_int_equal(v.level[1], 2);            /* l2[1] -> l1 */
	assert_int_equal(v.base[1], 0x40200000);
	assert_int_equal(v.first[1], 0x403ff000);
	assert_int_equal(v.last[1], 0x403fffff);
	assert_int_equal(v.level[2], 1);            /* l1[511], not present */
	assert_int_equal(v.base[2], 0x403ff000);
	assert_int_equal(v.last[2], 0x403fffff);
	assert_int_equal(v.level[3], 12);           /* after l2[1]'s table */
	assert_int_equal(v.level[4], 2);            /* l2[2]: the 2 MiB page, not entered */
	assert_int_equal(v.base[4], 0x40400000);
	assert_int_equal(v.first[4], 0x40400000);
	assert_int_equal(v.last[4], 0x40400fff);
	assert_int_equal(v.level[5], 13);           /* after root[1]'s table */

	/* A visitor's error stops the walk where it is, and is returned. */
	memset(&v, 0, sizeof(v));
	v.env = &e;
	assert_int_equal(walk_range(&sl3, &refuse, &v, e.root, 0x403ff000, 0x40600fff), -EEXIST);
	assert_int_equal(v.n, 4);

	/* With a leaves hook: one call for the entries of the level-1 table
	 * the range meets, and walk_range_leaves splits it as visits would. */
	{
		static const struct walk_range_ops lops = { .visit = record_visit,
							    .after = record_after,
							    .leaves = record_leaves };
		static const unsigned lv[] = { 3, 2, 21, 1, 1, 1, 12, 13 };
		unsigned i;

		memset(&v, 0, sizeof(v));
		v.env = &e;
		assert_int_equal(walk_range(&sl3, &lops, &v, e.root, 0x40201800, 0x40203fff), 0);
		assert_int_equal(v.n, 8);
		for (i = 0; i < 8; i++)
			assert_int_equal(v.level[i], lv[i]);
		assert_int_equal(v.base[2], e.l1 + 8);      /* the entry of 0x40201800 */
		assert_int_equal(v.first[2], 0x40201800);
		assert_int_equal(v.last[2], 0x40203fff);
		assert_int_equal(v.base[3], 0x40201000);    /* met from 0x800 on */
		assert_int_equal(v.first[3], 0x40201800);
		assert_int_equal(v.last[3], 0x40201fff);
		assert_int_equal(v.base[5], 0x40203000);
		assert_int_equal(v.first[5], 0x40203000);
		assert_int_equal(v.last[5], 0x40203fff);
	}
	hpool_destroy(e.pool);
}

/* A lookup sets no A/D flag where the walk would. */
static void test_lookup_quiet(void **state)
{
	struct env e;
	struct walk_path p;

	(void)state;
	setup(&e);
	assert_int_equal(walk_lookup(&sl3, e.pool, &ops, &e, e.root, 0x40201abc, &p), WALK_OK);
	assert_int_equal(p.addr, 0x1234abc);
	assert_int_equal(e.refs, 3);
	assert_int_equal(e.ad, 0);
	assert_int_equal(hpool_read64(e.pool, e.l1 + 8), 0x1234000 | SL_R);
	assert_int_equal(walk_run(&sl3, e.pool, &ops, &e, e.root, NULL, 0x40201abc, &p), WALK_OK);
	assert_true(walk_set_ad(&sl3, e.pool, &ops, &e, &p, false));
	assert_int_equal(e.ad, 3);
	hpool_destroy(e.pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_three_levels),
		cmocka_unit_test(test_large_and_faults),
		cmocka_unit_test(test_ad_refused),
		cmocka_unit_test(test_ept_ad_writes),
		cmocka_unit_test(test_table_shortcut),
		cmocka_unit_test(test_range_walk),
		cmocka_unit_test(test_lookup_quiet),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
