/* SPDX-License-Identifier: MIT */
/*
 * tests/ept_test.c - frame pool and EPT: encodings, building, the walk.
 *
 * Every expectation is an architectural value (SDM Vol. 3C 25.6.11, 28.2.1,
 * 29.3) computed by hand in the comment next to it.
 */
#include <errno.h>
#include <sys/mman.h>
#include <string.h>

#include "tests/testutil.h"
#include "ept/ept.h"

#define GiB (1ULL << 30)
#define TiB (1ULL << 40)
#define WB_ATTRS (EPT_RWX | ((uint64_t)EPT_MT_WB << EPT_MT_SHIFT))

struct env {
	struct hpool *pool;
	struct ept *ept;
};

static void env_init(struct env *env, uint64_t pool_size, unsigned levels, bool ad,
		     bool exec_only, bool page_1g, bool mbec)
{
	struct ept_caps caps = { .exec_only = exec_only, .page_1g = page_1g, .mbec = mbec };

	assert_ok(hpool_create(pool_size, &env->pool));
	assert_ok(ept_create(env->pool, levels, ad, &caps, &env->ept));
}

static void env_fini(struct env *env)
{
	ept_destroy(env->ept);
	hpool_destroy(env->pool);
}

static uint64_t guest_frame(struct env *env, uint64_t size)
{
	uint64_t hpa;

	assert_ok(hpool_alloc(env->pool, size, FRAME_GUEST, &hpa));
	return hpa;
}

static uint64_t hv_bytes(struct env *env)
{
	struct hpool_stats st;

	hpool_get_stats(env->pool, &st);
	return st.hv_bytes;
}

static const struct ept_access rd_acc = { .type = ACC_READ };
static const struct ept_access wr_acc = { .type = ACC_WRITE };
static const struct ept_access fx_acc = { .type = ACC_FETCH };

static struct ept_walk_result walk(struct env *env, uint64_t gpa, const struct ept_access *acc)
{
	struct ept_walk_result r;

	memset(&r, 0xa5, sizeof(r));
	assert_ok(ept_walk(env->ept, gpa, acc, NULL, &r));
	return r;
}

/* ------------------------------------------------------------------------ */
/* Encodings                                                                */
/* ------------------------------------------------------------------------ */

/* SDM 25.6.11: EPTP bits 2:0 memory type (6 = WB), 5:3 walk length - 1, 6 A/D. */
static void test_eptp_encoding(void **state)
{
	(void)state;
	/* 0x1000 | 3 << 3 | 6 */
	assert_int_equal(eptp_make(0x1000, 4, false), 0x101e);
	/* 0x1000 | 3 << 3 | 1 << 6 | 6 */
	assert_int_equal(eptp_make(0x1000, 4, true), 0x105e);
	/* 0x7654321000 | 4 << 3 | 1 << 6 | 6 */
	assert_int_equal(eptp_make(0x7654321000ULL, 5, true), 0x7654321066ULL);
	assert_int_equal(eptp_levels(0x7654321066ULL), 5);
	assert_int_equal(eptp_root(0x7654321066ULL), 0x7654321000ULL);
	assert_int_equal(eptp_levels(0x101e), 4);
}

/* SDM 29.3.2 Tables 29-2..29-6: the entries ept_map writes, read back by a walk. */
static void test_entry_encoding(void **state)
{
	struct env env;
	struct ept_walk_result r;
	uint64_t f4k, f2m;

	(void)state;
	env_init(&env, 4 * GiB, 4, false, false, true, false);
	f4k = guest_frame(&env, PAGE_SIZE_4K);
	f2m = guest_frame(&env, PAGE_SIZE_2M);
	assert_ok(ept_map(env.ept, 0x5000, f4k, PAGE_SIZE_4K, WB_ATTRS, PAGE_SIZE_4K));
	assert_ok(ept_map(env.ept, 0x40200000, f2m, PAGE_SIZE_2M, WB_ATTRS | EPT_IPAT, PAGE_SIZE_2M));

	r = walk(&env, 0x5123, &rd_acc);
	assert_int_equal(r.status, EPT_OK);
	assert_int_equal(r.nref, 4);
	/* Non-leaf entries: next table | R W X | XU (bit 10) = 0x407. */
	assert_int_equal(r.ref[0].level, 4);
	assert_int_equal(r.ref[0].entry_hpa, env.ept->root);
	assert_int_equal(r.ref[0].value, r.table[3] | 0x407);
	assert_int_equal(r.ref[1].value, r.table[2] | 0x407);
	assert_int_equal(r.ref[2].value, r.table[1] | 0x407);
	/* 4 KiB leaf: frame | WB << 3 | RWX = frame | 0x37, at index 5 of the PT. */
	assert_int_equal(r.ref[3].value, f4k | 0x37);
	assert_int_equal(r.ref[3].entry_hpa, r.table[1] + 5 * 8);
	assert_int_equal(r.hpa, f4k + 0x123);
	assert_int_equal(r.memtype, EPT_MT_WB);
	assert_int_equal(r.page_shift, 12);
	assert_int_equal(r.perms, EPT_RWX);

	/* 2 MiB leaf: frame | PS | IPAT | WB << 3 | RWX = frame | 0xf7. */
	r = walk(&env, 0x40200000 + 0x1abcde, &rd_acc);
	assert_int_equal(r.status, EPT_OK);
	assert_int_equal(r.nref, 3);
	assert_int_equal(r.ref[2].value, f2m | 0xf7);
	assert_int_equal(r.hpa, f2m + 0x1abcde);
	assert_int_equal(r.page_shift, 21);
	env_fini(&env);
}

/* ------------------------------------------------------------------------ */
/* Frame pool                                                               */
/* ------------------------------------------------------------------------ */

static void test_pool_alloc_free(void **state)
{
	struct hpool *pool;
	struct hpool_stats st;
	uint64_t a, b, m, g, again;
	uint8_t *p;

	(void)state;
	assert_ok(hpool_create(3 * GiB - 5, &pool));
	hpool_get_stats(pool, &st);
	assert_int_equal(st.reserved_bytes, 3 * GiB);
	assert_int_equal(pool->size, 3 * GiB);

	assert_ok(hpool_alloc(pool, PAGE_SIZE_4K, FRAME_HV, &a));
	assert_ok(hpool_alloc(pool, PAGE_SIZE_4K, FRAME_GUEST, &b));
	/* HPA 0 is never handed out; small runs pack densely from the bottom. */
	assert_int_equal(a, 0x1000);
	assert_int_equal(b, 0x2000);
	assert_int_equal(hpool_owner(pool, a), FRAME_HV);
	assert_int_equal(hpool_owner(pool, b + 0xfff), FRAME_GUEST);
	assert_int_equal(hpool_owner(pool, 0), FRAME_FREE);
	assert_int_equal(hpool_owner(pool, 0x3000), FRAME_FREE);
	assert_int_equal(hpool_owner(pool, 3 * GiB), FRAME_FREE);

	assert_ok(hpool_alloc(pool, PAGE_SIZE_2M, FRAME_GUEST, &m));
	assert_ok(hpool_alloc(pool, PAGE_SIZE_1G, FRAME_GUEST, &g));
	assert_int_equal(m & (PAGE_SIZE_2M - 1), 0);
	assert_int_not_equal(m, 0);
	assert_int_equal(g, GiB);
	assert_int_equal(hpool_owner(pool, m + PAGE_SIZE_2M - 1), FRAME_GUEST);
	assert_int_equal(hpool_owner(pool, g + 12345 * PAGE_SIZE_4K), FRAME_GUEST);
	assert_int_equal(hpool_alloc(pool, 8192, FRAME_GUEST, &again), -EINVAL);
	assert_int_equal(hpool_alloc(pool, PAGE_SIZE_4K, FRAME_FREE, &again), -EINVAL);

	hpool_get_stats(pool, &st);
	assert_int_equal(st.hv_bytes, PAGE_SIZE_4K);
	assert_int_equal(st.guest_bytes, PAGE_SIZE_4K + PAGE_SIZE_2M + PAGE_SIZE_1G);
	assert_int_equal(st.peak_bytes, 2 * PAGE_SIZE_4K + PAGE_SIZE_2M + PAGE_SIZE_1G);
	assert_int_equal(st.allocs, 4);

	/* Freed memory is returned and comes back zero-filled. */
	p = hpool_ptr(pool, b);
	memset(p, 0x5a, PAGE_SIZE_4K);
	hpool_free(pool, b, PAGE_SIZE_4K);
	assert_int_equal(hpool_owner(pool, b), FRAME_FREE);
	assert_ok(hpool_alloc(pool, PAGE_SIZE_4K, FRAME_HV, &again));
	assert_int_equal(again, b);
	assert_int_equal(p[0], 0);
	assert_int_equal(p[4095], 0);
	assert_int_equal(hpool_owner(pool, again), FRAME_HV);

	hpool_free(pool, g, PAGE_SIZE_1G);
	hpool_free(pool, m, PAGE_SIZE_2M);
	hpool_get_stats(pool, &st);
	assert_int_equal(st.guest_bytes, 0);
	assert_int_equal(st.hv_bytes, 2 * PAGE_SIZE_4K);
	assert_int_equal(st.peak_bytes, 2 * PAGE_SIZE_4K + PAGE_SIZE_2M + PAGE_SIZE_1G);
	assert_int_equal(st.frees, 3);
	assert_int_equal(hpool_owner(pool, g), FRAME_FREE);
	hpool_destroy(pool);
}

static void test_pool_exhaustion(void **state)
{
	struct hpool *pool;
	uint64_t hpa, first2m = 0;
	unsigned i;

	(void)state;
	/* 1 GiB: the chunk holding HPA 0 is never handed out whole. */
	assert_ok(hpool_create(GiB, &pool));
	assert_int_equal(hpool_alloc(pool, PAGE_SIZE_1G, FRAME_GUEST, &hpa), -ENOMEM);
	for (i = 0; i < 511; i++) {
		assert_ok(hpool_alloc(pool, PAGE_SIZE_2M, FRAME_GUEST, &hpa));
		assert_int_not_equal(hpa, 0);
		if (i == 0)
			first2m = hpa;
	}
	assert_int_equal(hpool_alloc(pool, PAGE_SIZE_2M, FRAME_GUEST, &hpa), -ENOMEM);
	for (i = 0; i < 511; i++) {
		assert_ok(hpool_alloc(pool, PAGE_SIZE_4K, FRAME_HV, &hpa));
		assert_int_not_equal(hpa, 0);
	}
	assert_int_equal(hpool_alloc(pool, PAGE_SIZE_4K, FRAME_HV, &hpa), -ENOMEM);
	/* A freed 2 MiB run can be carved into 4 KiB frames again. */
	hpool_free(pool, first2m, PAGE_SIZE_2M);
	assert_ok(hpool_alloc(pool, PAGE_SIZE_4K, FRAME_HV, &hpa));
	assert_int_equal(hpa, first2m);
	assert_int_equal(hpool_owner(pool, first2m + PAGE_SIZE_4K), FRAME_FREE);
	hpool_destroy(pool);
}

/*
 * A memfd pool: the file offset is the HPA, so a second mapping of the fd
 * aliases a frame (what a KVM memory slot does); a freed run reads as zero
 * when it is handed out again (its pages are punched out of the file).
 */
static void test_pool_memfd(void **state)
{
	struct hpool *pool;
	uint64_t hpa, again;
	uint8_t *alias;

	(void)state;
	assert_ok(hpool_create_memfd(4 * TiB, &pool));
	assert_true(pool->fd >= 0);
	assert_ok(hpool_alloc(pool, PAGE_SIZE_2M, FRAME_GUEST, &hpa));
	alias = mmap(NULL, PAGE_SIZE_2M, PROT_READ | PROT_WRITE, MAP_SHARED, pool->fd, (off_t)hpa);
	assert_true(alias != MAP_FAILED);
	hpool_write64(pool, hpa + 0x1238, 0xfeedfacecafebeefULL);
	assert_true(*(volatile uint64_t *)(alias + 0x1238) == 0xfeedfacecafebeefULL);
	alias[0x40] = 0x5a;
	assert_int_equal(*(volatile uint8_t *)hpool_ptr(pool, hpa + 0x40), 0x5a);
	munmap(alias, PAGE_SIZE_2M);
	hpool_free(pool, hpa, PAGE_SIZE_2M);
	assert_ok(hpool_alloc(pool, PAGE_SIZE_2M, FRAME_GUEST, &again));
	assert_int_equal(again, hpa);
	assert_int_equal(hpool_read64(pool, hpa + 0x1238), 0);
	hpool_destroy(pool);
}

/* A reservation of several TiB costs nothing until it is used. */
static void test_pool_multi_tib(void **state)
{
	struct hpool *pool;
	struct hpool_stats st;
	uint64_t hpa[3];

	(void)state;
	assert_ok(hpool_create(4 * TiB, &pool));
	for (int i = 0; i < 3; i++)
		assert_ok(hpool_alloc(pool, PAGE_SIZE_1G, FRAME_GUEST, &hpa[i]));
	assert_int_equal(hpa[2], 3 * GiB);
	hpool_write64(pool, hpa[2] + GiB - 8, 0x1122334455667788ULL);
	assert_int_equal(hpool_read64(pool, hpa[2] + GiB - 8), 0x1122334455667788ULL);
	hpool_get_stats(pool, &st);
	assert_int_equal(st.reserved_bytes, 4 * TiB);
	assert_int_equal(st.guest_bytes, 3 * GiB);
	assert_int_equal(hpool_owner(pool, 4 * TiB - PAGE_SIZE_4K), FRAME_FREE);
	hpool_destroy(pool);
}

/* ------------------------------------------------------------------------ */
/* Building                                                                 */
/* ------------------------------------------------------------------------ */

/* Range rules: 4 KiB alignment, GPA width 48/57 bits, ranges ending at 2^64 - 1. */
static void test_map_range_errors(void **state)
{
	struct env env, env5;
	uint64_t f = 0;

	(void)state;
	env_init(&env, GiB, 4, false, false, false, false);
	f = guest_frame(&env, PAGE_SIZE_4K);
	assert_int_equal(ept_map(env.ept, 0x1001, f, PAGE_SIZE_4K, EPT_RWX, PAGE_SIZE_4K), -EINVAL);
	assert_int_equal(ept_map(env.ept, 0x1000, f + 8, PAGE_SIZE_4K, EPT_RWX, PAGE_SIZE_4K), -EINVAL);
	assert_int_equal(ept_map(env.ept, 0x1000, f, 100, EPT_RWX, PAGE_SIZE_4K), -EINVAL);
	assert_int_equal(ept_map(env.ept, 0x1000, f, 0, EPT_RWX, PAGE_SIZE_4K), -EINVAL);
	assert_int_equal(ept_map(env.ept, 0x1000, f, PAGE_SIZE_4K, EPT_RWX, 8192), -EINVAL);
	/* Ends exactly at 2^64 - 1: beyond the 48-bit GPA width. */
	assert_int_equal(ept_map(env.ept, 0ULL - PAGE_SIZE_4K, f, PAGE_SIZE_4K, EPT_RWX, PAGE_SIZE_4K), -ERANGE);
	assert_int_equal(ept_unmap(env.ept, 0ULL - PAGE_SIZE_2M, PAGE_SIZE_2M), -ERANGE);
	assert_int_equal(ept_protect(env.ept, 0ULL - PAGE_SIZE_4K, PAGE_SIZE_4K, EPT_R), -ERANGE);
	assert_int_equal(ept_set_raw(env.ept, 0ULL - PAGE_SIZE_4K, 1, 0), -ERANGE);
	/* Wraps past 2^64. */
	assert_int_equal(ept_unmap(env.ept, 0ULL - PAGE_SIZE_4K, 2 * PAGE_SIZE_4K), -EINVAL);
	/* The last 4 KiB below 2^48 is fine, the first above is not. */
	assert_ok(ept_map(env.ept, (1ULL << 48) - PAGE_SIZE_4K, f, PAGE_SIZE_4K, EPT_RWX, PAGE_SIZE_4K));
	assert_int_equal(ept_map(env.ept, 1ULL << 48, f, PAGE_SIZE_4K, EPT_RWX, PAGE_SIZE_4K), -ERANGE);
	assert_int_equal(ept_map(env.ept, (1ULL << 48) - PAGE_SIZE_4K, f, 2 * PAGE_SIZE_4K, EPT_RWX, PAGE_SIZE_4K), -ERANGE);
	/* HPA beyond the pool, and encodings that would be misconfigurations. */
	assert_int_equal(ept_map(env.ept, 0, GiB, PAGE_SIZE_4K, EPT_RWX, PAGE_SIZE_4K), -ERANGE);
	assert_int_equal(ept_map(env.ept, 0, f, PAGE_SIZE_4K, EPT_W, PAGE_SIZE_4K), -EINVAL);
	assert_int_equal(ept_map(env.ept, 0, f, PAGE_SIZE_4K, EPT_X, PAGE_SIZE_4K), -EINVAL);
	assert_int_equal(ept_map(env.ept, 0, f, PAGE_SIZE_4K, EPT_RWX | (2ULL << EPT_MT_SHIFT), PAGE_SIZE_4K), -EINVAL);
	assert_int_equal(ept_map(env.ept, 0, f, PAGE_SIZE_4K, EPT_RWX | EPT_PS, PAGE_SIZE_4K), -EINVAL);
	assert_int_equal(ept_protect(env.ept, 0, PAGE_SIZE_4K, 0), -EINVAL);
	assert_int_equal(ept_set_raw(env.ept, 0, 5, 0), -EINVAL);
	env_fini(&env);

	env_init(&env5, GiB, 5, false, false, false, false);
	f = guest_frame(&env5, PAGE_SIZE_4K);
	assert_ok(ept_map(env5.ept, 1ULL << 48, f, PAGE_SIZE_4K, EPT_RWX, PAGE_SIZE_4K));
	assert_ok(ept_map(env5.ept, (1ULL << 57) - PAGE_SIZE_4K, f, PAGE_SIZE_4K, EPT_RWX, PAGE_SIZE_4K));
	assert_int_equal(ept_map(env5.ept, 0ULL - PAGE_SIZE_4K, f, PAGE_SIZE_4K, EPT_RWX, PAGE_SIZE_4K), -ERANGE);
	assert_int_equal(walk(&env5, (1ULL << 57) - 1, &rd_acc).hpa, f + 0xfff);
	env_fini(&env5);
}

/* Largest page that fits; unmap frees every emptied table. */
static void test_map_sizes_and_unmap(void **state)
{
	struct env env;
	struct ept_walk_result r;
	uint64_t g;

	(void)state;
	env_init(&env, 4 * GiB, 4, false, false, true, false);
	g = guest_frame(&env, PAGE_SIZE_1G);
	assert_int_equal(env.ept->table_pages, 1);
	assert_int_equal(hv_bytes(&env), PAGE_SIZE_4K);

	/* [1G - 8K, 2G + 4M + 8K) -> g - 8K: 4K, 4K, one 1 GiB page, two 2 MiB, 4K, 4K. */
	assert_ok(ept_map(env.ept, GiB - 0x2000, g - 0x2000, GiB + 4 * 0x100000 + 0x4000, WB_ATTRS, PAGE_SIZE_1G));
	/* root, PDPT, PD+PT at the bottom edge, PD+PT at the top edge */
	assert_int_equal(env.ept->table_pages, 6);
	assert_int_equal(hv_bytes(&env), 6 * PAGE_SIZE_4K);
	r = walk(&env, GiB - 0x1000, &rd_acc);
	assert_int_equal(r.page_shift, 12);
	assert_int_equal(r.hpa, g - 0x1000);
	r = walk(&env, GiB + 0x12345678, &rd_acc);
	assert_int_equal(r.page_shift, 30);
	assert_int_equal(r.nref, 2);
	assert_int_equal(r.hpa, g + 0x12345678);
	r = walk(&env, 2 * GiB + PAGE_SIZE_2M + 5, &rd_acc);
	assert_int_equal(r.page_shift, 21);
	assert_int_equal(r.hpa, g + GiB + PAGE_SIZE_2M + 5);
	r = walk(&env, 2 * GiB + 2 * PAGE_SIZE_2M + 0x1000, &rd_acc);
	assert_int_equal(r.page_shift, 12);

	/* Unmapping the whole 512 GiB region (with holes) leaves only the root. */
	assert_ok(ept_unmap(env.ept, 0, 512 * GiB));
	assert_int_equal(env.ept->table_pages, 1);
	assert_int_equal(hv_bytes(&env), PAGE_SIZE_4K);
	r = walk(&env, GiB + 0x12345678, &rd_acc);
	assert_int_equal(r.status, EPT_VIOLATION);
	assert_int_equal(r.nref, 1);
	env_fini(&env);
}

/*
 * A 4 KiB map writes its level-1 entries as one run (ept.c range_leaves):
 * across the end of a level-1 table, each page's leaf must be exactly the
 * attributes and its own host address (SDM Table 29-6), the pages either
 * side untouched, and a second map over part of the run must rewrite only
 * its own pages.
 */
static void test_map_4k_run(void **state)
{
	const uint64_t gpa = PAGE_SIZE_2M - 3 * PAGE_SIZE_4K, ro = EPT_R | ((uint64_t)EPT_MT_WB << EPT_MT_SHIFT);
	struct ept_walk_result r;
	struct env env;
	uint64_t g, h;
	unsigned i;

	(void)state;
	env_init(&env, 4 * GiB, 4, false, false, true, false);
	g = guest_frame(&env, PAGE_SIZE_2M);
	h = guest_frame(&env, PAGE_SIZE_2M);
	assert_ok(ept_map(env.ept, gpa, g, 6 * PAGE_SIZE_4K, WB_ATTRS, PAGE_SIZE_4K));
	assert_ok(ept_map(env.ept, gpa + PAGE_SIZE_4K, h, 4 * PAGE_SIZE_4K, ro, PAGE_SIZE_4K));
	for (i = 0; i < 6; i++) {
		const bool second = i >= 1 && i <= 4;
		const uint64_t hpa = second ? h + (i - 1) * PAGE_SIZE_4K : g + i * PAGE_SIZE_4K;

		r = walk(&env, gpa + i * PAGE_SIZE_4K + 0x18, &rd_acc);
		assert_int_equal(r.status, EPT_OK);
		assert_int_equal(r.page_shift, 12);
		assert_int_equal(r.hpa, hpa + 0x18);
		assert_int_equal(r.ref[r.nref - 1].value, (second ? ro : WB_ATTRS) | hpa);
	}
	r = walk(&env, gpa - PAGE_SIZE_4K, &rd_acc);
	assert_int_equal(r.status, EPT_VIOLATION);
	r = walk(&env, gpa + 6 * PAGE_SIZE_4K, &rd_acc);
	assert_int_equal(r.status, EPT_VIOLATION);
	env_fini(&env);
}

/* Without 1 GiB support a 1 GiB request falls back to 2 MiB pages. */
static void test_map_no_1g(void **state)
{
	struct env env;
	uint64_t g;

	(void)state;
	env_init(&env, 4 * GiB, 4, false, false, false, false);
	g = guest_frame(&env, PAGE_SIZE_1G);
	assert_ok(ept_map(env.ept, GiB, g, GiB, WB_ATTRS, PAGE_SIZE_1G));
	assert_int_equal(env.ept->table_pages, 3);
	assert_int_equal(walk(&env, GiB + 0x300000, &rd_acc).page_shift, 21);
	/* max_page 4K is honoured: 512 page tables plus root, PDPT and PD. */
	assert_ok(ept_map(env.ept, GiB, g, GiB, WB_ATTRS, PAGE_SIZE_4K));
	assert_int_equal(env.ept->table_pages, 3 + 512);
	/* A protect of tables that were already uniform keeps the caller's 4 KiB pages. */
	assert_ok(ept_protect(env.ept, GiB, GiB, EPT_R));
	assert_int_equal(env.ept->table_pages, 3 + 512);
	assert_int_equal(walk(&env, GiB + 0x300000, &rd_acc).page_shift, 12);
	assert_ok(ept_unmap(env.ept, GiB, GiB));
	assert_int_equal(env.ept->table_pages, 1);
	env_fini(&env);
}

/* Split on partial change, merge back when the table is uniform again. */
static void test_split_merge(void **state)
{
	struct env env;
	struct ept_walk_result r;
	uint64_t g, base_hv;

	(void)state;
	env_init(&env, 4 * GiB, 4, false, false, true, false);
	g = guest_frame(&env, PAGE_SIZE_1G);
	assert_ok(ept_map(env.ept, 3 * GiB, g, GiB, WB_ATTRS, PAGE_SIZE_1G));
	assert_int_equal(env.ept->table_pages, 2);
	base_hv = hv_bytes(&env);

	/* Protect one 4 KiB page: the 1 GiB page splits into a PD and a PT. */
	assert_ok(ept_protect(env.ept, 3 * GiB + 0x203000, PAGE_SIZE_4K, EPT_R));
	assert_int_equal(env.ept->table_pages, 4);
	assert_int_equal(hv_bytes(&env), base_hv + 2 * PAGE_SIZE_4K);
	r = walk(&env, 3 * GiB + 0x203010, &wr_acc);
	assert_int_equal(r.status, EPT_VIOLATION);
	assert_int_equal(r.perms, EPT_R);
	r = walk(&env, 3 * GiB + 0x204010, &wr_acc);
	assert_int_equal(r.status, EPT_OK);
	assert_int_equal(r.hpa, g + 0x204010);
	assert_int_equal(r.page_shift, 12);
	r = walk(&env, 3 * GiB + 0x400000, &wr_acc);
	assert_int_equal(r.page_shift, 21);
	assert_int_equal(r.hpa, g + 0x400000);

	/* Restore: PT -> 2 MiB leaf -> 1 GiB leaf, both table pages freed. */
	assert_ok(ept_protect(env.ept, 3 * GiB + 0x203000, PAGE_SIZE_4K, EPT_RWX));
	assert_int_equal(env.ept->table_pages, 2);
	assert_int_equal(hv_bytes(&env), base_hv);
	r = walk(&env, 3 * GiB + 0x203010, &wr_acc);
	assert_int_equal(r.page_shift, 30);
	assert_int_equal(r.ref[1].value, g | EPT_PS | WB_ATTRS);

	/* Unmap one page in the middle, map it back: split then merge again. */
	assert_ok(ept_unmap(env.ept, 3 * GiB + 0x5000, PAGE_SIZE_4K));
	assert_int_equal(env.ept->table_pages, 4);
	assert_int_equal(walk(&env, 3 * GiB + 0x5000, &rd_acc).status, EPT_VIOLATION);
	assert_ok(ept_map(env.ept, 3 * GiB + 0x5000, g + 0x5000, PAGE_SIZE_4K, WB_ATTRS, PAGE_SIZE_1G));
	assert_int_equal(env.ept->table_pages, 2);
	assert_int_equal(hv_bytes(&env), base_hv);

	/* Mapped back to a different frame: not contiguous, so no merge. */
	assert_ok(ept_map(env.ept, 3 * GiB + 0x5000, g + 0x9000, PAGE_SIZE_4K, WB_ATTRS, PAGE_SIZE_1G));
	assert_int_equal(env.ept->table_pages, 4);
	assert_int_equal(walk(&env, 3 * GiB + 0x5008, &rd_acc).hpa, g + 0x9008);

	/* A protect that does not make the table uniform leaves it. */
	assert_ok(ept_protect(env.ept, 3 * GiB, GiB, EPT_R | EPT_X));
	assert_int_equal(env.ept->table_pages, 4);
	assert_int_equal(walk(&env, 3 * GiB + 0x7000000, &rd_acc).perms, EPT_R | EPT_X);
	assert_ok(ept_unmap(env.ept, 3 * GiB, GiB));
	assert_int_equal(env.ept->table_pages, 1);
	env_fini(&env);
}

/* ------------------------------------------------------------------------ */
/* Misconfigurations (SDM 29.3.3.1)                                         */
/* ------------------------------------------------------------------------ */

#define GPA 0x40201000ULL /* PML4 0, PDPT 1, PD 1, PT 1 */

static enum ept_status status_with(struct env *env, unsigned level, uint64_t raw, unsigned *nref)
{
	struct ept_walk_result r;

	assert_ok(ept_set_raw(env->ept, GPA, level, raw));
	r = walk(env, GPA, &rd_acc);
	if (nref)
		*nref = r.nref;
	return r.status;
}

/* Fresh 4-level hierarchy mapping GPA with 4 KiB pages; returns the entries on its path. */
static void misconfig_env(struct env *env, bool exec_only, bool page_1g, uint64_t path[5])
{
	struct ept_walk_result r;

	env_init(env, 2 * GiB, 4, false, exec_only, page_1g, false);
	assert_ok(ept_map(env->ept, GPA, guest_frame(env, PAGE_SIZE_4K), PAGE_SIZE_4K, WB_ATTRS, PAGE_SIZE_4K));
	r = walk(env, GPA, &rd_acc);
	assert_int_equal(r.status, EPT_OK);
	for (unsigned i = 0; i < 4; i++)
		path[4 - i] = r.ref[i].value;
}

/* SDM 29.3.3.1: bits 2:0 = 010b or 110b (write without read); 100b without exec-only. */
static void test_misconfig_permissions(void **state)
{
	struct env env;
	uint64_t p[5], addr;
	unsigned n;

	(void)state;
	misconfig_env(&env, false, false, p);
	addr = p[1] & ~0xfffULL;
	assert_int_equal(status_with(&env, 1, addr | 0x30 | 2, &n), EPT_MISCONFIG);
	assert_int_equal(n, 4);
	assert_int_equal(status_with(&env, 1, addr | 0x30 | 6, NULL), EPT_MISCONFIG);
	assert_int_equal(status_with(&env, 1, addr | 0x30 | 4, NULL), EPT_MISCONFIG);
	/* The same encodings in a non-leaf entry. */
	assert_ok(ept_set_raw(env.ept, GPA, 1, p[1]));
	assert_int_equal(status_with(&env, 2, (p[2] & ~7ULL) | 2, &n), EPT_MISCONFIG);
	assert_int_equal(n, 3);
	assert_int_equal(status_with(&env, 2, (p[2] & ~7ULL) | 4, NULL), EPT_MISCONFIG);
	/* Controls: 001b, 011b, 101b, 111b are fine. */
	assert_int_equal(status_with(&env, 2, (p[2] & ~7ULL) | 1, NULL), EPT_OK);
	assert_int_equal(status_with(&env, 1, addr | 0x30 | 3, NULL), EPT_OK);
	assert_int_equal(status_with(&env, 1, addr | 0x30 | 5, NULL), EPT_OK);
	env_fini(&env);

	/* With execute-only support, 100b is a valid (non-readable) translation. */
	misconfig_env(&env, true, false, p);
	assert_int_equal(status_with(&env, 1, (p[1] & ~7ULL) | 4, NULL), EPT_VIOLATION);
	assert_int_equal(status_with(&env, 4, (p[4] & ~7ULL) | 4, NULL), EPT_VIOLATION);
	assert_int_equal(status_with(&env, 4, (p[4] & ~7ULL) | 2, NULL), EPT_MISCONFIG);
	env_fini(&env);
}

/* SDM 29.3.3.1 / 29.3.7: leaf memory types 2, 3 and 7 are reserved. */
static void test_misconfig_memtype(void **state)
{
	struct env env;
	uint64_t p[5], leaf;

	(void)state;
	misconfig_env(&env, false, false, p);
	leaf = p[1] & ~EPT_MT_MASK;
	for (uint64_t mt = 0; mt < 8; mt++) {
		enum ept_status want = (mt == 2 || mt == 3 || mt == 7) ? EPT_MISCONFIG : EPT_OK;

		assert_int_equal(status_with(&env, 1, leaf | (mt << EPT_MT_SHIFT), NULL), want);
	}
	/* Not a leaf: bits 5:3 are reserved there instead (any non-zero value). */
	assert_ok(ept_set_raw(env.ept, GPA, 1, p[1]));
	assert_int_equal(status_with(&env, 2, p[2] | (6ULL << EPT_MT_SHIFT), NULL), EPT_MISCONFIG);
	env_fini(&env);
}

/* SDM 29.3.2: reserved bits 7:3 of a PML4E (so PS=1 there), 6:3 of a PDPTE/PDE
 * that references a table; bits 63:52, 11, 9 ignored; bit 7 of a PTE ignored. */
static void test_misconfig_reserved(void **state)
{
	struct env env;
	uint64_t p[5];
	unsigned n;

	(void)state;
	misconfig_env(&env, false, false, p);
	for (unsigned bit = 3; bit <= 7; bit++) {
		assert_int_equal(status_with(&env, 4, p[4] | (1ULL << bit), &n), EPT_MISCONFIG);
		assert_int_equal(n, 1);
		assert_ok(ept_set_raw(env.ept, GPA, 4, p[4]));
	}
	for (unsigned bit = 3; bit <= 6; bit++) {
		assert_int_equal(status_with(&env, 3, p[3] | (1ULL << bit), &n), EPT_MISCONFIG);
		assert_int_equal(n, 2);
		assert_ok(ept_set_raw(env.ept, GPA, 3, p[3]));
		assert_int_equal(status_with(&env, 2, p[2] | (1ULL << bit), &n), EPT_MISCONFIG);
		assert_int_equal(n, 3);
		assert_ok(ept_set_raw(env.ept, GPA, 2, p[2]));
	}
	/* Ignored bits are not reserved. */
	assert_int_equal(status_with(&env, 4, p[4] | (1ULL << 9) | (1ULL << 11) | (0x7ffULL << 52), NULL), EPT_OK);
	assert_int_equal(status_with(&env, 1, p[1] | EPT_PS | EPT_SVE | (1ULL << 11) | (1ULL << 62), NULL), EPT_OK);
	env_fini(&env);
}

/*
 * A raw entry may not make a second reference to one of hv's tables: a PML4E
 * naming the root (a cycle) or a PDPTE naming another PD would be freed twice
 * at teardown (found by tests/fuzz/walk_fuzz). Naming the table already there
 * is an edit in place and stays allowed.
 */
static void test_set_raw_table_alias(void **state)
{
	struct env env;
	struct ept_walk_result r;
	uint64_t root, pdpt, pd;

	(void)state;
	env_init(&env, GiB, 4, false, false, false, false);
	assert_ok(ept_map(env.ept, GPA, guest_frame(&env, PAGE_SIZE_4K), PAGE_SIZE_4K, WB_ATTRS,
			  PAGE_SIZE_4K));
	assert_ok(ept_map(env.ept, GPA + GiB, guest_frame(&env, PAGE_SIZE_4K), PAGE_SIZE_4K,
			  WB_ATTRS, PAGE_SIZE_4K));
	r = walk(&env, GPA, &rd_acc);
	root = env.ept->root;
	pdpt = r.ref[0].value & EPT_ADDR_MASK;
	pd = r.ref[1].value & EPT_ADDR_MASK;
	assert_int_equal(ept_set_raw(env.ept, GPA, 4, root | EPT_RWX), -EINVAL);
	assert_int_equal(ept_set_raw(env.ept, GPA + GiB, 3, pd | EPT_RWX), -EINVAL);
	assert_int_equal(ept_set_raw(env.ept, GPA, 2, pdpt | EPT_RWX), -EINVAL);
	/* Unchanged, and the same table with other bits is fine. */
	assert_int_equal(walk(&env, GPA, &rd_acc).status, EPT_OK);
	assert_ok(ept_set_raw(env.ept, GPA, 4, pdpt | EPT_R));
	assert_int_equal(walk(&env, GPA, &rd_acc).perms, EPT_R);
	env_fini(&env);  /* each table freed once (pool.c asserts it) */
}

/* SDM 29.3.3.1: PS=1 in a PDPTE without 1 GiB support; large-page address bits
 * below the page size not zero. */
static void test_misconfig_large_pages(void **state)
{
	struct env env;
	uint64_t p[5], g;
	unsigned n;

	(void)state;
	misconfig_env(&env, false, false, p);
	g = guest_frame(&env, PAGE_SIZE_1G);
	/* 2 MiB leaf: bits 20:12 reserved. */
	assert_int_equal(status_with(&env, 2, g | EPT_PS | WB_ATTRS, &n), EPT_OK);
	assert_int_equal(n, 3);
	assert_int_equal(status_with(&env, 2, g | 0x1000 | EPT_PS | WB_ATTRS, NULL), EPT_MISCONFIG);
	assert_int_equal(status_with(&env, 2, g | 0x100000 | EPT_PS | WB_ATTRS, NULL), EPT_MISCONFIG);
	/* PS=1 in a PDPTE without 1 GiB support. */
	assert_int_equal(status_with(&env, 3, g | EPT_PS | WB_ATTRS, &n), EPT_MISCONFIG);
	assert_int_equal(n, 2);
	/* The PD and PT below were freed when the PDPTE was overwritten. */
	assert_int_equal(env.ept->table_pages, 2);
	/* No table below a large leaf to write a raw entry into. */
	assert_int_equal(ept_set_raw(env.ept, GPA, 1, 0), -EEXIST);
	env_fini(&env);

	misconfig_env(&env, false, true, p);
	g = guest_frame(&env, PAGE_SIZE_1G);
	assert_int_equal(status_with(&env, 3, g | EPT_PS | WB_ATTRS, &n), EPT_OK);
	assert_int_equal(n, 2);
	/* 1 GiB leaf: bits 29:12 reserved. */
	assert_int_equal(status_with(&env, 3, g | 0x200000 | EPT_PS | WB_ATTRS, NULL), EPT_MISCONFIG);
	assert_int_equal(status_with(&env, 3, g | 0x20000000 | EPT_PS | WB_ATTRS, NULL), EPT_MISCONFIG);
	/* Leaf memory type is checked at the 1 GiB level too. */
	assert_int_equal(status_with(&env, 3, g | EPT_PS | EPT_RWX | (7ULL << EPT_MT_SHIFT), NULL), EPT_MISCONFIG);
	env_fini(&env);
}

/* SDM 29.3.2 Table 29-1: PML5E bits 7:3 reserved; a not-present entry is never a
 * misconfiguration, whatever its other bits. */
static void test_misconfig_pml5_and_not_present(void **state)
{
	struct env env;
	struct ept_walk_result r;
	uint64_t pml5e;

	(void)state;
	env_init(&env, GiB, 5, false, false, false, false);
	assert_ok(ept_map(env.ept, GPA, guest_frame(&env, PAGE_SIZE_4K), PAGE_SIZE_4K, WB_ATTRS, PAGE_SIZE_4K));
	r = walk(&env, GPA, &rd_acc);
	pml5e = r.ref[0].value;
	assert_int_equal(r.ref[0].level, 5);
	assert_int_equal(status_with(&env, 5, pml5e | EPT_PS, NULL), EPT_MISCONFIG);
	assert_ok(ept_set_raw(env.ept, GPA, 5, pml5e));
	assert_int_equal(status_with(&env, 5, pml5e | 0x8, NULL), EPT_MISCONFIG);
	assert_ok(ept_set_raw(env.ept, GPA, 5, pml5e));
	/* Bits 2:0 = 000b with junk elsewhere: not present -> violation. */
	assert_int_equal(status_with(&env, 1, 0xfff0000000000ff8ULL, NULL), EPT_VIOLATION);
	env_fini(&env);
}

/* ------------------------------------------------------------------------ */
/* Violations (SDM 28.2.1 Table 28-7, 29.3.3.2)                             */
/* ------------------------------------------------------------------------ */

static void test_violation_qualification(void **state)
{
	struct env env;
	struct ept_walk_result r;
	struct ept_access acc;
	uint64_t f;

	(void)state;
	env_init(&env, GiB, 4, false, true, false, false);
	f = guest_frame(&env, PAGE_SIZE_4K);
	/* Execute-only leaf under RWX upper levels. */
	assert_ok(ept_map(env.ept, GPA, f, PAGE_SIZE_4K, EPT_X | ((uint64_t)EPT_MT_WB << EPT_MT_SHIFT), PAGE_SIZE_4K));

	/* Data read through a linear address: bit 0, bit 5 (X), bit 7, bit 8 = 0x1A1. */
	acc = (struct ept_access){ .type = ACC_READ, .gla_valid = true, .gla = 0x401000 };
	r = walk(&env, GPA + 8, &acc);
	assert_int_equal(r.status, EPT_VIOLATION);
	assert_int_equal(r.qual, 0x1A1);
	assert_int_equal(r.nref, 4);
	assert_int_equal(r.perms, EPT_X);
	/* Advanced information: guest U/S and R/W go to bits 9 and 10. */
	acc.guest_bits = EPT_QUAL_GUEST_US | EPT_QUAL_GUEST_RW;
	assert_int_equal(walk(&env, GPA, &acc).qual, 0x7A1);
	/* Not through a linear address: bits 7-11 all clear. */
	assert_int_equal(walk(&env, GPA, &rd_acc).qual, 0x21);
	/* Write: bit 1 | bit 5. */
	assert_int_equal(walk(&env, GPA, &wr_acc).qual, 0x22);
	/* Fetch is allowed. */
	assert_int_equal(walk(&env, GPA, &fx_acc).status, EPT_OK);

	/* Fetch from a read/write leaf: bit 2 | bits 3, 4 = 0x1C. */
	assert_ok(ept_protect(env.ept, GPA, PAGE_SIZE_4K, EPT_R | EPT_W));
	assert_int_equal(walk(&env, GPA, &fx_acc).qual, 0x1C);

	/* Permissions are ANDed over levels: a read-only PDE makes a write fail. */
	assert_ok(ept_protect(env.ept, GPA, PAGE_SIZE_4K, EPT_RWX));
	r = walk(&env, GPA, &rd_acc);
	assert_ok(ept_set_raw(env.ept, GPA, 2, (r.ref[2].value & ~EPT_RWX) | EPT_R));
	r = walk(&env, GPA, &wr_acc);
	assert_int_equal(r.status, EPT_VIOLATION);
	assert_int_equal(r.qual, 0x0A);
	assert_int_equal(r.perms, EPT_R);
	assert_int_equal(r.perms_at[1], EPT_R | EPT_XU);
	env_fini(&env);
}

/* Not present: bits 3-5 are zero; the walk stops at the not-present entry. */
static void test_violation_not_present(void **state)
{
	struct env env;
	struct ept_walk_result r;
	struct ept_access acc = { .type = ACC_WRITE, .gla_valid = true, .guest_bits = EPT_QUAL_GUEST_RW };

	(void)state;
	env_init(&env, GiB, 4, false, false, false, false);
	r = walk(&env, GPA, &wr_acc);
	assert_int_equal(r.status, EPT_VIOLATION);
	assert_int_equal(r.nref, 1);
	assert_int_equal(r.qual, 0x2);
	assert_ok(ept_map(env.ept, GPA + PAGE_SIZE_4K, guest_frame(&env, PAGE_SIZE_4K), PAGE_SIZE_4K, WB_ATTRS, PAGE_SIZE_4K));
	r = walk(&env, GPA, &acc);
	assert_int_equal(r.status, EPT_VIOLATION);
	assert_int_equal(r.nref, 4);
	/* bit 1 | bit 7 | bit 8 | bit 10 (guest R/W): 0x582. */
	assert_int_equal(r.qual, 0x582);
	assert_int_equal(r.perms, 0);
	/* A GPA beyond the 48-bit width of a 4-level hierarchy. */
	r = walk(&env, 1ULL << 48, &rd_acc);
	assert_int_equal(r.status, EPT_VIOLATION);
	assert_int_equal(r.nref, 0);
	assert_int_equal(r.qual, 0x1);
	env_fini(&env);
}

/* SDM 29.3.3.2: with EPT A/D, guest paging-structure accesses count as writes. */
static void test_violation_paging_entry(void **state)
{
	struct env env;
	struct ept_walk_result r;
	struct ept_access acc = { .type = ACC_READ, .paging_entry = true, .gla_valid = true,
				  .guest_bits = EPT_QUAL_GUEST_US };

	(void)state;
	env_init(&env, GiB, 4, true, false, false, false);
	assert_ok(ept_map(env.ept, GPA, guest_frame(&env, PAGE_SIZE_4K), PAGE_SIZE_4K,
			  EPT_R | ((uint64_t)EPT_MT_WB << EPT_MT_SHIFT), PAGE_SIZE_4K));
	/* bits 0 and 1 (a paging-structure access under EPT A/D sets both:
	 * footnote of SDM Table 28-7) | bit 3 (R of the leaf) | bit 7; bit 8
	 * clear, bits 9-11 clear. */
	r = walk(&env, GPA, &acc);
	assert_int_equal(r.status, EPT_VIOLATION);
	assert_int_equal(r.qual, 0x8B);
	/* A plain data read of the same page is fine. */
	assert_int_equal(walk(&env, GPA, &rd_acc).status, EPT_OK);
	env_fini(&env);

	/* Without A/D the paging-structure read is a read: allowed. */
	env_init(&env, GiB, 4, false, false, false, false);
	assert_ok(ept_map(env.ept, GPA, guest_frame(&env, PAGE_SIZE_4K), PAGE_SIZE_4K,
			  EPT_R | ((uint64_t)EPT_MT_WB << EPT_MT_SHIFT), PAGE_SIZE_4K));
	assert_int_equal(walk(&env, GPA, &acc).status, EPT_OK);
	assert_ok(ept_unmap(env.ept, GPA, PAGE_SIZE_4K));
	/* ... and a not-present one reports bit 0 | bit 7 = 0x81. */
	assert_int_equal(walk(&env, GPA, &acc).qual, 0x81);
	env_fini(&env);
}

/* Mode-based execute control: user fetches check XU, supervisor fetches X; bit 6 reports XU. */
static void test_violation_mbec(void **state)
{
	struct env env;
	struct ept_walk_result r;
	struct ept_access user = { .type = ACC_FETCH, .user = true };
	uint64_t f;

	(void)state;
	env_init(&env, GiB, 4, false, false, false, true);
	f = guest_frame(&env, PAGE_SIZE_4K);
	assert_ok(ept_map(env.ept, GPA, f, PAGE_SIZE_4K, EPT_R | EPT_X, PAGE_SIZE_4K));
	assert_int_equal(walk(&env, GPA, &fx_acc).status, EPT_OK);
	r = walk(&env, GPA, &user);
	assert_int_equal(r.status, EPT_VIOLATION);
	/* bit 2 | bit 3 (R) | bit 5 (X), bit 6 clear */
	assert_int_equal(r.qual, 0x2C);
	assert_ok(ept_protect(env.ept, GPA, PAGE_SIZE_4K, EPT_R | EPT_XU));
	assert_int_equal(walk(&env, GPA, &user).status, EPT_OK);
	r = walk(&env, GPA, &fx_acc);
	assert_int_equal(r.status, EPT_VIOLATION);
	/* bit 2 | bit 3 | bit 6 (XU) */
	assert_int_equal(r.qual, 0x4C);
	env_fini(&env);

	/* SDM 29.3.2: with MBEC an entry whose only permission is XU (bit 10)
	 * is present: a user fetch through it translates, a read is a
	 * violation reporting bit 0 (read) and bit 6 (XU), a supervisor fetch
	 * bit 2 and bit 6. */
	env_init(&env, GiB, 4, false, true, false, true);
	f = guest_frame(&env, PAGE_SIZE_4K);
	assert_ok(ept_map(env.ept, GPA, f, PAGE_SIZE_4K, EPT_R | EPT_X, PAGE_SIZE_4K));
	assert_ok(ept_set_raw(env.ept, GPA, 1, f | EPT_XU | ((uint64_t)EPT_MT_WB << EPT_MT_SHIFT)));
	r = walk(&env, GPA + 0x10, &user);
	assert_int_equal(r.status, EPT_OK);
	assert_int_equal(r.hpa, f + 0x10);
	r = walk(&env, GPA, &rd_acc);
	assert_int_equal(r.status, EPT_VIOLATION);
	assert_int_equal(r.qual, 0x41);
	r = walk(&env, GPA, &fx_acc);
	assert_int_equal(r.status, EPT_VIOLATION);
	assert_int_equal(r.qual, 0x44);
	env_fini(&env);

	/* Without execute-only support, bit 0 clear with XU set is a
	 * misconfiguration (SDM 29.3.3.1). */
	env_init(&env, GiB, 4, false, false, false, true);
	f = guest_frame(&env, PAGE_SIZE_4K);
	assert_ok(ept_map(env.ept, GPA, f, PAGE_SIZE_4K, EPT_R | EPT_X, PAGE_SIZE_4K));
	assert_ok(ept_set_raw(env.ept, GPA, 1, f | EPT_XU | ((uint64_t)EPT_MT_WB << EPT_MT_SHIFT)));
	assert_int_equal(walk(&env, GPA, &user).status, EPT_MISCONFIG);
	env_fini(&env);

	/* Without MBEC, an XU-only entry is not present. */
	env_init(&env, GiB, 4, false, true, false, false);
	f = guest_frame(&env, PAGE_SIZE_4K);
	assert_ok(ept_map(env.ept, GPA, f, PAGE_SIZE_4K, EPT_R | EPT_X, PAGE_SIZE_4K));
	assert_ok(ept_set_raw(env.ept, GPA, 1, f | EPT_XU | ((uint64_t)EPT_MT_WB << EPT_MT_SHIFT)));
	r = walk(&env, GPA, &user);
	assert_int_equal(r.status, EPT_VIOLATION);
	assert_int_equal(r.qual, 0x04);
	env_fini(&env);

	/* Without MBEC, XU is ignored and a user fetch needs X. */
	env_init(&env, GiB, 4, false, false, false, false);
	assert_ok(ept_map(env.ept, GPA, guest_frame(&env, PAGE_SIZE_4K), PAGE_SIZE_4K, EPT_R | EPT_XU, PAGE_SIZE_4K));
	r = walk(&env, GPA, &user);
	assert_int_equal(r.status, EPT_VIOLATION);
	assert_int_equal(r.qual, 0x0C);
	env_fini(&env);
}

/* ------------------------------------------------------------------------ */
/* Accessed and dirty flags (SDM 29.3.5)                                    */
/* ------------------------------------------------------------------------ */

static void collect(void *ctx, uint64_t gpa, uint64_t size)
{
	uint64_t *out = ctx;

	out[out[0] * 2 + 1] = gpa;
	out[out[0] * 2 + 2] = size;
	out[0]++;
}

static void test_accessed_dirty(void **state)
{
	struct env env;
	struct ept_walk_result r;
	struct ept_access pe = { .type = ACC_READ, .paging_entry = true };
	uint64_t got[9] = { 0 };

	(void)state;
	env_init(&env, GiB, 4, true, false, false, false);
	assert_ok(ept_map(env.ept, GPA, guest_frame(&env, PAGE_SIZE_4K), 2 * PAGE_SIZE_4K, WB_ATTRS, PAGE_SIZE_4K));
	r = walk(&env, GPA, &rd_acc);
	/* The values read were clean; the walk set A at every level, D nowhere. */
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(r.ref[i].value & (EPT_A | EPT_D), EPT_A);
		assert_int_equal(hpool_read64(env.pool, r.ref[i].entry_hpa) & (EPT_A | EPT_D), EPT_A);
	}
	/* A write sets D on the leaf only. */
	r = walk(&env, GPA, &wr_acc);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(hpool_read64(env.pool, r.ref[i].entry_hpa) & (EPT_A | EPT_D), EPT_A);
	assert_int_equal(hpool_read64(env.pool, r.ref[3].entry_hpa) & (EPT_A | EPT_D), EPT_A | EPT_D);
	/* A guest paging-structure access sets D too. */
	r = walk(&env, GPA + PAGE_SIZE_4K, &pe);
	assert_int_equal(r.status, EPT_OK);
	assert_int_equal(hpool_read64(env.pool, r.ref[3].entry_hpa) & (EPT_A | EPT_D), EPT_A | EPT_D);

	/* Dirty logging: both pages reported, flags cleared. */
	assert_ok(ept_harvest_dirty(env.ept, 0, 4 * GiB, collect, got));
	assert_int_equal(got[0], 2);
	assert_int_equal(got[1], GPA);
	assert_int_equal(got[2], PAGE_SIZE_4K);
	assert_int_equal(got[3], GPA + PAGE_SIZE_4K);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(hpool_read64(env.pool, r.ref[i].entry_hpa) & (EPT_A | EPT_D), 0);

	/* A 2 MiB leaf is reported whole. */
	assert_ok(ept_map(env.ept, 0x200000, guest_frame(&env, PAGE_SIZE_2M), PAGE_SIZE_2M, WB_ATTRS, PAGE_SIZE_2M));
	assert_int_equal(walk(&env, 0x3fffff, &wr_acc).status, EPT_OK);
	got[0] = 0;
	assert_ok(ept_harvest_dirty(env.ept, 0x300000, PAGE_SIZE_4K, collect, got));
	assert_int_equal(got[0], 1);
	assert_int_equal(got[1], 0x200000);
	assert_int_equal(got[2], PAGE_SIZE_2M);

	/* A walk that ends in a violation sets nothing. */
	assert_ok(ept_protect(env.ept, GPA, PAGE_SIZE_4K, EPT_R));
	r = walk(&env, GPA, &wr_acc);
	assert_int_equal(r.status, EPT_VIOLATION);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(hpool_read64(env.pool, r.ref[i].entry_hpa) & (EPT_A | EPT_D), 0);
	env_fini(&env);

	/* EPTP.AD clear: flags are never written. */
	env_init(&env, GiB, 4, false, false, false, false);
	assert_ok(ept_map(env.ept, GPA, guest_frame(&env, PAGE_SIZE_4K), PAGE_SIZE_4K, WB_ATTRS, PAGE_SIZE_4K));
	r = walk(&env, GPA, &wr_acc);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(hpool_read64(env.pool, r.ref[i].entry_hpa) & (EPT_A | EPT_D), 0);
	env_fini(&env);
}

/* ------------------------------------------------------------------------ */
/* Reference counts                                                         */
/* ------------------------------------------------------------------------ */

/* One reference per level walked: 4 (4-level, 4K), 5 (5-level), 3 (2M), 2 (1G). */
static void test_reference_counts(void **state)
{
	struct env env;
	struct ept_walk_result r, s;
	struct ept_walk_start st;
	uint64_t g;

	(void)state;
	env_init(&env, 4 * GiB, 4, false, false, true, false);
	g = guest_frame(&env, PAGE_SIZE_1G);
	assert_ok(ept_map(env.ept, 0, g, PAGE_SIZE_2M, WB_ATTRS, PAGE_SIZE_4K));
	assert_ok(ept_map(env.ept, PAGE_SIZE_1G - PAGE_SIZE_2M, g, PAGE_SIZE_2M, WB_ATTRS, PAGE_SIZE_2M));
	assert_ok(ept_map(env.ept, 2 * GiB, g, GiB, WB_ATTRS, PAGE_SIZE_1G));
	assert_int_equal(walk(&env, 0x1234, &rd_acc).refs, 4);
	assert_int_equal(walk(&env, PAGE_SIZE_1G - 1, &rd_acc).refs, 3);
	assert_int_equal(walk(&env, 2 * GiB + 77, &rd_acc).refs, 2);

	/* Starting at the PT found by an earlier walk (a PWC hit) costs one reference. */
	r = walk(&env, 0x1234, &rd_acc);
	st = (struct ept_walk_start){ .level = 1, .table = r.table[1], .perms = r.perms_at[1] };
	assert_ok(ept_walk(env.ept, 0x5678, &rd_acc, &st, &s));
	assert_int_equal(s.status, EPT_OK);
	assert_int_equal(s.refs, 1);
	assert_int_equal(s.hpa, g + 0x5678);
	assert_int_equal(s.ref[0].level, 1);
	env_fini(&env);

	env_init(&env, GiB, 5, false, false, false, false);
	assert_ok(ept_map(env.ept, 0, guest_frame(&env, PAGE_SIZE_2M), PAGE_SIZE_2M, WB_ATTRS, PAGE_SIZE_2M));
	assert_ok(ept_map(env.ept, 1ULL << 50, guest_frame(&env, PAGE_SIZE_4K), PAGE_SIZE_4K, WB_ATTRS, PAGE_SIZE_4K));
	r = walk(&env, (1ULL << 50) + 0x10, &rd_acc);
	assert_int_equal(r.refs, 5);
	assert_int_equal(r.ref[0].level, 5);
	assert_int_equal(r.ref[4].level, 1);
	assert_int_equal(walk(&env, 0x1000, &rd_acc).refs, 4);
	assert_int_equal(env.ept->table_pages, 1 + 3 + 4);
	env_fini(&env);
}

/* A lookup finds what the walk finds and leaves every A/D flag as it was. */
static void test_lookup_sets_no_flags(void **state)
{
	struct env env;
	uint64_t frame, hpa, perms;
	unsigned shift;
	struct ept_walk_result r;

	(void)state;
	env_init(&env, 4 * GiB, 4, true, false, true, false);
	frame = guest_frame(&env, (2ULL << 20));
	assert_ok(ept_map(env.ept, 0x40000000, frame, (2ULL << 20), EPT_R | EPT_W | (EPT_MT_WB << EPT_MT_SHIFT),
			  (2ULL << 20)));
	assert_int_equal(ept_lookup(env.ept, 0x40012345, &hpa, &shift, &perms), 0);
	assert_int_equal(hpa, frame + 0x12345);
	assert_int_equal(shift, 21);
	assert_int_equal(perms, EPT_R | EPT_W);
	assert_int_equal(hpool_read64(env.pool, env.ept->root) & EPT_A, 0);
	r = walk(&env, 0x40012345, &rd_acc);
	assert_int_equal(r.status, EPT_OK);
	assert_int_equal(r.hpa, hpa);
	assert_int_equal(r.ad_writes, 3);   /* what the lookup did not write */
	assert_int_not_equal(hpool_read64(env.pool, env.ept->root) & EPT_A, 0);
	/* Nothing mapped; beyond the 48-bit width; a misconfigured leaf. */
	assert_int_equal(ept_lookup(env.ept, 0x80000000, &hpa, &shift, &perms), -ENOENT);
	assert_int_equal(ept_lookup(env.ept, 1ULL << 48, &hpa, &shift, &perms), -ENOENT);
	assert_ok(ept_set_raw(env.ept, 0x40000000, 2, frame | EPT_W | EPT_PS));
	assert_int_equal(ept_lookup(env.ept, 0x40000000, &hpa, &shift, &perms), -EINVAL);
	env_fini(&env);
}

/* Leaves by size: a 2 MiB leaf, then one 4 KiB page of it write-protected
 * (the leaf splits into 512), then a 1 GiB leaf beside them. */
static void test_count_leaves(void **state)
{
	const uint64_t attrs = EPT_RWX | (EPT_MT_WB << EPT_MT_SHIFT);
	struct env env;
	uint64_t n[3], frame;

	(void)state;
	env_init(&env, 4 * GiB, 4, true, true, true, false);
	ept_count_leaves(env.ept, n);
	assert_int_equal(n[0] + n[1] + n[2], 0);
	frame = guest_frame(&env, 2ULL << 20);
	assert_ok(ept_map(env.ept, 0x200000, frame, 2ULL << 20, attrs, 2ULL << 20));
	ept_count_leaves(env.ept, n);
	assert_int_equal(n[0], 0);
	assert_int_equal(n[1], 1);
	assert_ok(ept_protect(env.ept, 0x201000, 4096, EPT_R | EPT_X));
	ept_count_leaves(env.ept, n);
	assert_int_equal(n[0], 512);
	assert_int_equal(n[1], 0);
	frame = guest_frame(&env, 1ULL << 30);
	assert_ok(ept_map(env.ept, 1ULL << 30, frame, 1ULL << 30, attrs, 1ULL << 30));
	ept_count_leaves(env.ept, n);
	assert_int_equal(n[0], 512);
	assert_int_equal(n[2], 1);
	env_fini(&env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eptp_encoding),
		cmocka_unit_test(test_entry_encoding),
		cmocka_unit_test(test_pool_alloc_free),
		cmocka_unit_test(test_pool_exhaustion),
		cmocka_unit_test(test_pool_multi_tib),
		cmocka_unit_test(test_pool_memfd),
		cmocka_unit_test(test_map_range_errors),
		cmocka_unit_test(test_map_sizes_and_unmap),
		cmocka_unit_test(test_map_no_1g),
		cmocka_unit_test(test_split_merge),
		cmocka_unit_test(test_misconfig_permissions),
		cmocka_unit_test(test_misconfig_memtype),
		cmocka_unit_test(test_misconfig_reserved),
		cmocka_unit_test(test_misconfig_large_pages),
		cmocka_unit_test(test_misconfig_pml5_and_not_present),
		cmocka_unit_test(test_set_raw_table_alias),
		cmocka_unit_test(test_violation_qualification),
		cmocka_unit_test(test_violation_not_present),
		cmocka_unit_test(test_violation_paging_entry),
		cmocka_unit_test(test_lookup_sets_no_flags),
		cmocka_unit_test(test_violation_mbec),
		cmocka_unit_test(test_accessed_dirty),
		cmocka_unit_test(test_reference_counts),
		cmocka_unit_test(test_count_leaves),
		cmocka_unit_test(test_map_4k_run),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
