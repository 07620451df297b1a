/* SPDX-License-Identifier: MIT */
/*
 * ept/gptbuild.c - write x86-64 guest page tables (SDM Vol. 3A 4.5) into
 * guest RAM from the host side, for tests, `hv trace` and `hv walk`.
 *
 * Table pages are handed out in order from a GPA range the caller reserved;
 * each one's HPA is found once through EPT (the builder writes guest memory
 * the way the guest would, so with EPT A/D on, those pages become dirty).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ept/mmu.h"

/*
 *   pool, ept, levels, table_gpa, npages, hpa[]: set at creation.
 *   used: table pages handed out so far (page 0 is the top-level table).
 */
struct gpt_builder {
	struct hpool *pool;
	struct ept *ept;
	unsigned levels;
	uint64_t table_gpa;
	uint64_t npages, used;
	uint64_t *hpa;   /* hpa[i]: HPA of table page i */
};

static int gpa_to_hpa(struct hpool *pool, struct ept *ept, uint64_t gpa, uint64_t *hpa)
{
	struct ept_access acc = { .type = ACC_WRITE };
	struct ept_walk_result r;

	if (!ept) {
		if (gpa >= pool->size || pool->size - gpa < PAGE_SIZE_4K)
			return -ERANGE;
		*hpa = gpa;
		return 0;
	}
	if (ept_walk(ept, gpa, &acc, NULL, &r) != 0 || r.status != EPT_OK)
		return -EFAULT;
	*hpa = r.hpa;
	return 0;
}

int gpt_builder_create(struct hpool *pool, struct ept *ept, unsigned levels, uint64_t table_gpa,
		       uint64_t table_len, struct gpt_builder **out)
{
	struct gpt_builder *b;
	uint64_t i;
	int rc;

	if ((levels != 4 && levels != 5) || (table_gpa & 0xfff) || (table_len & 0xfff) ||
	    table_len == 0 || table_gpa + table_len < table_gpa)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->pool = pool;
	b->ept = ept;
	b->levels = levels;
	b->table_gpa = table_gpa;
	b->npages = table_len >> PAGE_SHIFT_4K;
	b->hpa = calloc(b->npages, sizeof(*b->hpa));
	if (!b->hpa) {
		rc = -ENOMEM;
		goto free_builder;
	}
	for (i = 0; i < b->npages; i++) {
		rc = gpa_to_hpa(pool, ept, table_gpa + (i << PAGE_SHIFT_4K), &b->hpa[i]);
		if (rc)
			goto free_hpa;
	}
	/* The top-level table: zeroed here, the rest as they are handed out. */
	memset(hpool_ptr(pool, b->hpa[0]), 0, PAGE_SIZE_4K);
	b->used = 1;
	*out = b;
	return 0;

free_hpa:
	free(b->hpa);
free_builder:
	free(b);
	return rc;
}

void gpt_builder_destroy(struct gpt_builder *b)
{
	if (!b)
		return;
	free(b->hpa);
	free(b);
}

uint64_t gpt_builder_cr3(const struct gpt_builder *b) { return b->table_gpa; }

/* HPA of the table at GPA `gpa`, which must be one of ours. */
static bool table_hpa(const struct gpt_builder *b, uint64_t gpa, uint64_t *hpa)
{
	uint64_t i;

	if (gpa < b->table_gpa)
		return false;
	i = (gpa - b->table_gpa) >> PAGE_SHIFT_4K;
	if (i >= b->used)
		return false;
	*hpa = b->hpa[i];
	return true;
}

static bool canonical(unsigned levels, uint64_t va)
{
	int64_t s = (int64_t)va >> (levels == 5 ? 56 : 47);

	return s == 0 || s == -1;
}

/* The format the builder writes, for the range walk (NXE: XD may be set). */
static const struct walk_fmt gpt_fmt[2] = { GUEST_IA32E_FMT(4, true), GUEST_IA32E_FMT(5, true) };

/* gpt_map through the range walk: tables made on the way down, then leaves. */
struct gmap {
	struct gpt_builder *b;
	uint64_t gva0, gpa0, flags;
	unsigned leaf_level;
};

static inline __attribute__((always_inline)) int
map_visit(void *arg, unsigned level, uint64_t ehpa, uint64_t base, uint64_t first,
	  uint64_t last, uint64_t *child, uint64_t *state)
{
	struct gmap *g = arg;
	struct gpt_builder *b = g->b;
	uint64_t e = hpool_read64(b->pool, ehpa);

	(void)first;
	(void)last;
	(void)state;
	if (level > g->leaf_level) {
		if (!(e & PTE_P)) {
			uint64_t ngpa;

			if (b->used == b->npages)
				return -ENOSPC;
			ngpa = b->table_gpa + (b->used << PAGE_SHIFT_4K);
			memset(hpool_ptr(b->pool, b->hpa[b->used]), 0, PAGE_SIZE_4K);
			b->used++;
			/* Upper levels allow everything: the leaf alone decides. */
			e = ngpa | PTE_P | PTE_W | PTE_U;
			hpool_write64(b->pool, ehpa, e);
		} else if (e & PTE_PS) {
			return -EEXIST;   /* a large page where a table is needed */
		}
		return table_hpa(b, e & PTE_ADDR_MASK, child) ? WALK_RANGE_DOWN : -EFAULT;
	}
	if (level > 1 && (e & PTE_P) && !(e & PTE_PS))
		return -EEXIST;   /* a table where a large page is wanted */
	hpool_write64(b->pool, ehpa,
		      (g->gpa0 + (base - g->gva0)) | PTE_P | g->flags | (level > 1 ? PTE_PS : 0));
	return WALK_RANGE_NEXT;
}

/*
 * Level 1, where map_visit writes every entry the range meets (only a 4 KiB
 * mapping comes down here, whole and aligned pages): the run of leaves in
 * one loop, the guest-physical address advancing with the linear one.
 */
static int map_leaves(void *arg, uint64_t ehpa, uint64_t first, uint64_t last)
{
	struct gmap *g = arg;
	uint64_t gpa = g->gpa0 + (first - g->gva0), n = ((last - first) >> PAGE_SHIFT_4K) + 1;
	volatile uint64_t *e = (volatile uint64_t *)hpool_ptr(g->b->pool, ehpa);

	for (; n; n--, e++, gpa += PAGE_SIZE_4K)
		*e = gpa | PTE_P | g->flags;
	return 0;
}

int gpt_map(struct gpt_builder *b, uint64_t gva, uint64_t gpa, uint64_t len, uint64_t flags,
	    unsigned page_shift)
{
	static const struct walk_range_ops ops = { .visit = map_visit, .leaves = map_leaves };
	struct gmap g = { .b = b, .gva0 = gva, .gpa0 = gpa, .flags = flags };
	uint64_t size;

	if (page_shift != PAGE_SHIFT_4K && page_shift != PAGE_SHIFT_2M && page_shift != PAGE_SHIFT_1G)
		return -EINVAL;
	size = 1ULL << page_shift;
	if (len == 0 || (gva | gpa | len) & (size - 1))
		return -EINVAL;
	if (gva + (len - 1) < gva || gpa + (len - 1) < gpa)
		return -EINVAL;
	if (flags & ~(PTE_W | PTE_U | PTE_XD | PTE_G))
		return -EINVAL;
	if (!canonical(b->levels, gva) || !canonical(b->levels, gva + (len - 1)) ||
	    (gpa + (len - 1)) > PTE_ADDR_MASK)
		return -EINVAL;
	g.leaf_level = page_shift == PAGE_SHIFT_4K ? 1 : page_shift == PAGE_SHIFT_2M ? 2 : 3;
	return walk_range(&gpt_fmt[b->levels == 5], &ops, &g, b->hpa[0], gva, gva + (len - 1));
}

/* gpt_entry_gpa through the range walk over the one address. */
struct gentry {
	const struct gpt_builder *b;
	unsigned level;
	uint64_t table_gpa, table_hpa, out;
};

static int entry_visit(void *arg, unsigned level, uint64_t ehpa, uint64_t base, uint64_t first,
		       uint64_t last, uint64_t *child, uint64_t *state)
{
	struct gentry *g = arg;
	uint64_t e = hpool_read64(g->b->pool, ehpa);

	(void)base;
	(void)first;
	(void)last;
	(void)state;
	if (level == g->level) {
		g->out = g->table_gpa + (ehpa - g->table_hpa);
		return WALK_RANGE_NEXT;
	}
	if (!(e & PTE_P) || (e & PTE_PS) || !table_hpa(g->b, e & PTE_ADDR_MASK, child))
		return -ENOENT;
	g->table_gpa = e & PTE_ADDR_MASK;
	g->table_hpa = *child;
	return WALK_RANGE_DOWN;
}

uint64_t gpt_entry_gpa(const struct gpt_builder *b, uint64_t gva, unsigned level)
{
	static const struct walk_range_ops ops = { .visit = entry_visit };
	struct gentry g = { .b = b, .level = level, .table_gpa = b->table_gpa,
			    .table_hpa = b->hpa[0] };

	if (level < 1 || level > b->levels)
		return 0;
	if (walk_range(&gpt_fmt[b->levels == 5], &ops, &g, b->hpa[0], gva, gva) != 0)
		return 0;
	return g.out;
}
