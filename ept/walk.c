/* SPDX-License-Identifier: MIT */
/*
 * ept/walk.c - the one page-table walker (see ept/walk.h), out of line. It
 * knows no format: everything it tests comes from the descriptor, everything
 * a model adds is a hook.
 */
#include <stddef.h>

#include "ept/walk.h"

enum walk_status walk_run(const struct walk_fmt *f, struct hpool *pool,
			  const struct walk_ops *ops, void *arg, uint64_t root,
			  const struct walk_start *start, uint64_t addr, struct walk_path *p)
{
	return walk_body(f, pool, ops, arg, root, start, addr, p);
}

enum walk_status walk_lookup(const struct walk_fmt *f, struct hpool *pool,
			     const struct walk_ops *ops, void *arg, uint64_t root, uint64_t addr,
			     struct walk_path *p)
{
	struct walk_fmt quiet = *f;

	quiet.a = 0;
	quiet.d = 0;
	return walk_body(&quiet, pool, ops, arg, root, NULL, addr, p);
}

static int range_level(const struct walk_fmt *f, const struct walk_range_ops *ops, void *arg,
		       uint64_t table, unsigned level, uint64_t first, uint64_t last)
{
	const unsigned sh = f->shift[level];
	const uint64_t size_mask = (1ULL << sh) - 1, idx_mask = (1ULL << f->ibits[level]) - 1;

	if (level == 1) {
		const uint64_t ehpa = table + ((first >> sh) & idx_mask) * f->esz;

		return ops->leaves ? ops->leaves(arg, ehpa, first, last)
				   : walk_range_leaves(f, ops->visit, arg, ehpa, first, last);
	}
	for (;;) {
		const uint64_t base = first & ~size_mask, elast = base + size_mask;
		const uint64_t seg_last = last < elast ? last : elast;
		const uint64_t ehpa = table + ((first >> sh) & idx_mask) * f->esz;
		uint64_t child = 0, state = 0;
		int rc = ops->visit(arg, level, ehpa, base, first, seg_last, &child, &state);

		if (rc < 0)
			return rc;
		if (rc == WALK_RANGE_DOWN) {
			rc = range_level(f, ops, arg, child, level - 1, first, seg_last);
			if (rc < 0)
				return rc;
			if (ops->after) {
				rc = ops->after(arg, level, ehpa, child, state);
				if (rc < 0)
					return rc;
			}
		}
		if (seg_last == last)
			return 0;
		first = seg_last + 1;
	}
}

int walk_range(const struct walk_fmt *f, const struct walk_range_ops *ops, void *arg,
	       uint64_t root, uint64_t first, uint64_t last)
{
	return range_level(f, ops, arg, root, f->levels, first, last);
}

bool walk_set_ad(const struct walk_fmt *f, struct hpool *pool, const struct walk_ops *ops,
		 void *arg, struct walk_path *p, bool dirty)
{
	return walk_set_ad_body(f, pool, ops, arg, p, dirty);
}

/* Every entry made of a subset of `bits` that matches mask/val passes
 * ok(f, e, level). (At most 2^24 subsets in practice.) */
static bool shortcut_holds(const struct walk_fmt *f, unsigned level, uint64_t bits, uint64_t mask,
			   uint64_t val, bool (*ok)(const struct walk_fmt *f, uint64_t e, unsigned level))
{
	uint64_t e = 0;

	bits |= mask;
	do {
		if ((e & mask) == val && !ok(f, e, level))
			return false;
		e = (e - bits) & bits;
	} while (e);
	return true;
}

static bool table_ok(const struct walk_fmt *f, uint64_t e, unsigned l)
{
	bool leaf = ((f->large >> l) & 1) && (e & f->ps);

	return (e & f->present) && !leaf && !(e & f->rsvd_table[l]) &&
	       !(f->bad && f->bad(f, e, l, false));
}

static bool page_ok(const struct walk_fmt *f, uint64_t e, unsigned l)
{
	return (e & f->present) && !(e & f->rsvd_page[l]) && !(f->bad && f->bad(f, e, l, true));
}

bool walk_fmt_check(const struct walk_fmt *f)
{
	unsigned l;

	if (f->leaf_mask && (f->frame || !shortcut_holds(f, 1, f->present | f->rsvd_page[1] | 0xfffULL,
							  f->leaf_mask, f->leaf_val, page_ok)))
		return false;
	if (!f->tbl_mask)
		return true;
	for (l = 2; l <= f->levels; l++) {
		if (!shortcut_holds(f, l, f->present | f->ps | f->rsvd_table[l] | 0xfffULL, f->tbl_mask,
				    f->tbl_val, table_ok))
			return false;
	}
	return true;
}
