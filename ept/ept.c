/* SPDX-License-Identifier: MIT */
/*
 * ept/ept.c - Intel-format EPT tables: building them (map, unmap, protect)
 * and walking them exactly as the processor does (SDM Vol. 3C 29.3).
 *
 * Levels are numbered as in the SDM's reference tables: 1 = EPT PT (4 KiB
 * leaves), 2 = EPT PD (2 MiB leaves with PS=1), 3 = EPT PDPT (1 GiB leaves
 * with PS=1, only with caps.page_1g), 4 = EPT PML4, 5 = EPT PML5. A level-l
 * entry covers 2^(12 + 9(l-1)) bytes of guest-physical space.
 *
 * Tables are 4 KiB pool frames owned by FRAME_HV. The builder keeps the
 * hierarchy canonical: each range uses the largest page that fits, and a
 * table whose 512 entries become one uniform large page is folded back into
 * its parent entry, so table_pages is always the minimum for the mappings
 * (subject to max_page).
 *
 * Range conventions (ept_map, ept_unmap, ept_protect, ept_harvest_dirty):
 * gpa and len are 4 KiB aligned (else -EINVAL); len == 0 is rejected with
 * -EINVAL, since an empty range is almost always a size computed wrongly; a
 * range whose last byte would wrap past 2^64 - 1 is -EINVAL; a range that
 * reaches beyond the GPA width of the hierarchy (2^48 for 4 levels, 2^57 for
 * 5), including one that ends at 2^64 - 1, is -ERANGE. Ranges are carried as
 * [first, last] byte addresses so that no computation wraps.
 *
 * Failure midway (only -ENOMEM while allocating a table page) leaves the part
 * of the range already processed changed and the hierarchy consistent.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "ept/ept.h"

/* Non-leaf entries grant everything: permissions are restricted at the leaf. */
#define EPT_TABLE_PERMS (EPT_RWX | EPT_XU)
/* Bits of a leaf that ept_map accepts in `attrs`. */
#define EPT_LEAF_ATTRS  (EPT_RWX | EPT_XU | EPT_MT_MASK | EPT_IPAT | EPT_SVE)
#define EPT_ENTRIES     512

static inline unsigned level_shift(unsigned level)
{
	return PAGE_SHIFT_4K + 9 * (level - 1);
}

static inline uint64_t level_size(unsigned level)
{
	return 1ULL << level_shift(level);
}

/* SDM 29.3.2: a leaf is a PTE, or a PDE/PDPTE with bit 7 set. */
static inline bool entry_is_leaf(uint64_t e, unsigned level)
{
	return level == 1 || (e & EPT_PS);
}

/* A present 2 MiB or 1 GiB leaf, which the builder can split. */
static inline bool entry_is_large_leaf(uint64_t e, unsigned level)
{
	return (level == 2 || level == 3) && (e & EPT_RWX) && (e & EPT_PS);
}

/* Can this hierarchy hold a leaf at `level`? (1 GiB pages: VMX capability bit 17.) */
static inline bool leaf_allowed(const struct ept *ept, unsigned level)
{
	return level <= 2 || (level == 3 && ept->caps.page_1g);
}


/*
 * Does this entry point to a table of ours? Entries written by ept_set_raw
 * may hold anything; the builder follows an entry only if it is a present
 * non-leaf whose address is an hv-owned pool frame, so it never frees or
 * writes memory that is not an EPT table.
 */
static bool entry_is_table(const struct ept *ept, uint64_t e, unsigned level)
{
	uint64_t a = e & EPT_ADDR_MASK;

	/* PS is reserved (not a page size) in a PML4E/PML5E: still a pointer. */
	return level > 1 && (e & EPT_RWX) && (level >= 4 || !(e & EPT_PS)) &&
	       a < ept->pool->size && hpool_owner(ept->pool, a) == FRAME_HV;
}

static inline uint64_t rd(const struct ept *ept, uint64_t hpa)
{
	return hpool_read64(ept->pool, hpa);
}

static inline void wr(struct ept *ept, uint64_t hpa, uint64_t v)
{
	hpool_write64(ept->pool, hpa, v);
}

static int table_alloc(struct ept *ept, uint64_t *hpa)
{
	int err = hpool_alloc(ept->pool, PAGE_SIZE_4K, FRAME_HV, hpa);

	if (!err)
		ept->table_pages++;
	return err;
}

static void table_free(struct ept *ept, uint64_t hpa)
{
	hpool_free(ept->pool, hpa, PAGE_SIZE_4K);
	ept->table_pages--;
}

/* Free the level-`level` table at `table` and every table below it. */
static void subtree_free(struct ept *ept, uint64_t table, unsigned level)
{
	/* No entry of a level-1 table points to a table. */
	for (unsigned i = 0; level > 1 && i < EPT_ENTRIES; i++) {
		uint64_t e = rd(ept, table + 8 * i);

		if (entry_is_table(ept, e, level))
			subtree_free(ept, e & EPT_ADDR_MASK, level - 1);
	}
	table_free(ept, table);
}


int ept_create(struct hpool *pool, unsigned levels, bool ad, const struct ept_caps *caps,
	       struct ept **out)
{
	struct ept *ept;
	int err;

	if (levels != 4 && levels != 5)
		return -EINVAL;
	ept = calloc(1, sizeof(*ept));
	if (!ept)
		return -ENOMEM;
	ept->pool = pool;
	ept->levels = levels;
	ept->ad = ad;
	if (caps)
		ept->caps = *caps;
	ept->fmt = (struct walk_fmt)EPT_WALK_FMT(levels, ad, ept->caps.page_1g, ept->caps.mbec,
						 ept->caps.exec_only);
	ept->std4_own = levels == 4 && ept->caps.exec_only && ept->caps.page_1g && !ept->caps.mbec;
	err = table_alloc(ept, &ept->root);
	if (err) {
		free(ept);
		return err;
	}
	*out = ept;
	return 0;
}

void ept_destroy(struct ept *ept)
{
	if (!ept)
		return;
	subtree_free(ept, ept->root, ept->levels);
	free(ept);
}

/* Validate a range and compute its last byte (see the conventions above). */
static int range_check(const struct ept *ept, uint64_t gpa, uint64_t len, uint64_t *last)
{
	if ((gpa | len) & (PAGE_SIZE_4K - 1) || len == 0)
		return -EINVAL;
	*last = gpa + (len - 1);
	if (*last < gpa)
		return -EINVAL;
	if (*last >> level_shift(ept->levels + 1))
		return -ERANGE;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Splitting and merging                                                    */
/* ------------------------------------------------------------------------ */

/*
 * Replace the large leaf at `ehpa` (a level-`level` entry, level 2 or 3) by a
 * table of 512 leaves one level down with the same attributes, accessed and
 * dirty flags, covering the same host-physical range.
 */
static int split_leaf(struct ept *ept, uint64_t ehpa, unsigned level, uint64_t *child)
{
	uint64_t e = rd(ept, ehpa), table, csize = level_size(level - 1);
	uint64_t attrs = e & ~EPT_ADDR_MASK & ~EPT_PS;
	uint64_t addr = e & EPT_ADDR_MASK;
	int err;

	if (level - 1 > 1)
		attrs |= EPT_PS;
	err = table_alloc(ept, &table);
	if (err)
		return err;
	for (unsigned i = 0; i < EPT_ENTRIES; i++)
		wr(ept, table + 8 * i, attrs | (addr + i * csize));
	/* Fill the new table before linking it: a walk must never see it half-built. */
	wr(ept, ehpa, table | EPT_TABLE_PERMS);
	*child = table;
	return 0;
}

/*
 * Is the level-`clevel` table uniform, i.e. could it be one leaf one level
 * up? All 512 entries must be present leaves with identical attributes whose
 * addresses are contiguous and start at an address aligned to the parent's
 * page size. Accessed/dirty flags may differ: the merged leaf gets their OR,
 * which keeps dirty logging conservative. On success *merged is that leaf.
 */
static bool table_uniform(const struct ept *ept, uint64_t table, unsigned clevel, uint64_t *merged)
{
	const uint64_t ad = EPT_A | EPT_D, csize = level_size(clevel);
	uint64_t e0 = rd(ept, table), attrs, addr0, flags = 0;

	if (!(e0 & EPT_RWX) || !entry_is_leaf(e0, clevel))
		return false;
	attrs = e0 & ~EPT_ADDR_MASK & ~ad;
	addr0 = e0 & EPT_ADDR_MASK;
	if (addr0 & (level_size(clevel + 1) - 1))
		return false;
	for (unsigned i = 0; i < EPT_ENTRIES; i++) {
		uint64_t e = rd(ept, table + 8 * i);

		if ((e & ~EPT_ADDR_MASK & ~ad) != attrs || (e & EPT_ADDR_MASK) != addr0 + i * csize)
			return false;
		flags |= e & ad;
	}
	*merged = attrs | EPT_PS | addr0 | flags;
	return true;
}

static bool table_empty(const struct ept *ept, uint64_t table)
{
	for (unsigned i = 0; i < EPT_ENTRIES; i++)
		if (rd(ept, table + 8 * i) & EPT_RWX)
			return false;
	return true;
}

/* Fold the table under the level-`level` entry at `ehpa` into one leaf if it is uniform. */
static void try_merge(struct ept *ept, uint64_t ehpa, unsigned level)
{
	uint64_t e = rd(ept, ehpa), merged;

	if (!leaf_allowed(ept, level) || !entry_is_table(ept, e, level))
		return;
	if (!table_uniform(ept, e & EPT_ADDR_MASK, level - 1, &merged))
		return;
	/* Point the parent at the large page first, then free the table. */
	wr(ept, ehpa, merged);
	table_free(ept, e & EPT_ADDR_MASK);
}

/* ------------------------------------------------------------------------ */
/* Range operations                                                         */
/* ------------------------------------------------------------------------ */

enum range_kind { OP_MAP, OP_UNMAP, OP_PROTECT };

struct range_op {
	enum range_kind kind;
	uint64_t gpa0, hpa0;   /* map: gpa0 maps to hpa0 */
	uint64_t bits;         /* map: leaf attributes; protect: permissions */
	unsigned max_level;    /* map: highest level a leaf may be placed at */
};

/*
 * The range walk's visitor for `op` (ept/walk.h walk_range): what map, unmap
 * and protect do at one entry, which [first, last] meets. `state` carries
 * "the table was uniform before" from a protect's visit to its after.
 */
struct range_ctx {
	struct ept *ept;
	const struct range_op *op;
};

static inline __attribute__((always_inline)) int
range_visit(void *arg, unsigned level, uint64_t ehpa, uint64_t ebase, uint64_t first,
	    uint64_t last, uint64_t *child, uint64_t *state)
{
	struct range_ctx *rc = arg;
	struct ept *ept = rc->ept;
	const struct range_op *op = rc->op;
	const uint64_t size = level_size(level), e = rd(ept, ehpa);
	const bool full = first == ebase && last == ebase + (size - 1);
	const bool table_here = entry_is_table(ept, e, level);
	int err;

	switch (op->kind) {
	case OP_MAP: {
		uint64_t hpa = op->hpa0 + (ebase - op->gpa0);

		if (full && level <= op->max_level && !(hpa & (size - 1))) {
			if (table_here)
				subtree_free(ept, e & EPT_ADDR_MASK, level - 1);
			wr(ept, ehpa, op->bits | hpa | (level > 1 ? EPT_PS : 0));
			return WALK_RANGE_NEXT;
		}
		/* Only levels above 1 get here: a 4 KiB entry is always full and aligned. */
		if (table_here) {
			*child = e & EPT_ADDR_MASK;
		} else if (entry_is_large_leaf(e, level)) {
			err = split_leaf(ept, ehpa, level, child);
			if (err)
				return err;
		} else {
			/* Not present, or a raw entry that is not ours: replace it. */
			err = table_alloc(ept, child);
			if (err)
				return err;
			wr(ept, ehpa, *child | EPT_TABLE_PERMS);
		}
		return WALK_RANGE_DOWN;
	}
	case OP_UNMAP:
		if (!(e & EPT_RWX))
			return WALK_RANGE_NEXT;
		if (table_here) {
			*child = e & EPT_ADDR_MASK;
			if (!full)
				return WALK_RANGE_DOWN;
			wr(ept, ehpa, 0);
			subtree_free(ept, *child, level - 1);
			return WALK_RANGE_NEXT;
		}
		if (full || !entry_is_large_leaf(e, level)) {
			/* A whole leaf, or a raw non-table entry: nothing to keep. */
			wr(ept, ehpa, 0);
			return WALK_RANGE_NEXT;
		}
		err = split_leaf(ept, ehpa, level, child);
		return err ? err : WALK_RANGE_DOWN;
	case OP_PROTECT:
		if (!(e & EPT_RWX))
			return WALK_RANGE_NEXT;
		if (!table_here && entry_is_leaf(e, level) && full) {
			wr(ept, ehpa, (e & ~EPT_PERM_BITS) | op->bits);
			return WALK_RANGE_NEXT;
		}
		if (table_here) {
			uint64_t dummy;

			*child = e & EPT_ADDR_MASK;
			/* Merge only what this call made uniform: a table the
			 * caller built from small pages on purpose stays. */
			*state = table_uniform(ept, *child, level - 1, &dummy);
			return WALK_RANGE_DOWN;
		}
		if (entry_is_large_leaf(e, level)) {
			err = split_leaf(ept, ehpa, level, child);
			return err ? err : WALK_RANGE_DOWN;
		}
		return WALK_RANGE_NEXT;   /* a raw entry that is not ours: leave it alone */
	}
	return -EINVAL;
}

static int range_after(void *arg, unsigned level, uint64_t ehpa, uint64_t child, uint64_t state)
{
	struct range_ctx *rc = arg;
	struct ept *ept = rc->ept;

	switch (rc->op->kind) {
	case OP_MAP:
		if (level <= rc->op->max_level)
			try_merge(ept, ehpa, level);
		break;
	case OP_UNMAP:
		if (table_empty(ept, child)) {
			wr(ept, ehpa, 0);
			table_free(ept, child);
		}
		break;
	case OP_PROTECT:
		if (!state)
			try_merge(ept, ehpa, level);
		break;
	}
	return 0;
}

/*
 * Level 1 without a call per entry: range_visit inlined, level folded in.
 * A map is a run of leaves there: every 4 KiB entry the range meets is
 * whole and aligned (range_check), none is a table, and range_visit writes
 * each one's leaf whatever it held; so the run is written in one loop, the
 * host address advancing with the guest-physical one.
 */
static int range_leaves(void *arg, uint64_t ehpa, uint64_t first, uint64_t last)
{
	struct range_ctx *rc = arg;
	const struct range_op *op = rc->op;

	if (op->kind == OP_MAP) {
		uint64_t hpa = op->hpa0 + (first - op->gpa0), n = ((last - first) >> PAGE_SHIFT_4K) + 1;
		volatile uint64_t *e = (volatile uint64_t *)hpool_ptr(rc->ept->pool, ehpa);

		for (; n; n--, e++, hpa += PAGE_SIZE_4K)
			*e = op->bits | hpa;
		return 0;
	}
	return walk_range_leaves(&rc->ept->fmt, range_visit, arg, ehpa, first, last);
}

static const struct walk_range_ops range_ops = { .visit = range_visit, .after = range_after,
						 .leaves = range_leaves };

static int range_apply(struct ept *ept, const struct range_op *op, uint64_t first, uint64_t last)
{
	struct range_ctx rc = { .ept = ept, .op = op };

	return walk_range(&ept->fmt, &range_ops, &rc, ept->root, first, last);
}

/* Permission encodings ept_map/ept_protect may create (never a misconfiguration). */
static int perms_check(const struct ept *ept, uint64_t perms)
{
	uint64_t rwx = perms & EPT_RWX;

	if (rwx == 0 || rwx == EPT_W || rwx == (EPT_W | EPT_X))
		return -EINVAL;
	if (rwx == EPT_X && !ept->caps.exec_only)
		return -EINVAL;
	return 0;
}

int ept_map(struct ept *ept, uint64_t gpa, uint64_t hpa, uint64_t len, uint64_t attrs,
	    uint64_t max_page)
{
	struct range_op op = { .kind = OP_MAP, .gpa0 = gpa, .hpa0 = hpa, .bits = attrs };
	uint64_t last, hlast;
	int err;

	err = range_check(ept, gpa, len, &last);
	if (err)
		return err;
	if (hpa & (PAGE_SIZE_4K - 1))
		return -EINVAL;
	hlast = hpa + (len - 1);
	if (hlast < hpa)
		return -EINVAL;
	if (hlast >= ept->pool->size)
		return -ERANGE;
	if ((attrs & ~EPT_LEAF_ATTRS) || perms_check(ept, attrs) ||
	    ept_memtype_reserved((attrs & EPT_MT_MASK) >> EPT_MT_SHIFT))
		return -EINVAL;
	switch (max_page) {
	case PAGE_SIZE_4K: op.max_level = 1; break;
	case PAGE_SIZE_2M: op.max_level = 2; break;
	case PAGE_SIZE_1G: op.max_level = ept->caps.page_1g ? 3 : 2; break;
	default: return -EINVAL;
	}
	return range_apply(ept, &op, gpa, last);
}

int ept_unmap(struct ept *ept, uint64_t gpa, uint64_t len)
{
	struct range_op op = { .kind = OP_UNMAP };
	uint64_t last;
	int err;

	err = range_check(ept, gpa, len, &last);
	if (err)
		return err;
	return range_apply(ept, &op, gpa, last);
}

int ept_protect(struct ept *ept, uint64_t gpa, uint64_t len, uint64_t perms)
{
	struct range_op op = { .kind = OP_PROTECT, .bits = perms };
	uint64_t last;
	int err;

	err = range_check(ept, gpa, len, &last);
	if (err)
		return err;
	if ((perms & ~EPT_PERM_BITS) || perms_check(ept, perms))
		return -EINVAL;
	return range_apply(ept, &op, gpa, last);
}

/* ept_set_raw through the range walk: tables down to `level`, then the entry. */
struct set_raw {
	struct ept *ept;
	unsigned level;
	uint64_t raw;
};

static int set_raw_visit(void *arg, unsigned level, uint64_t ehpa, uint64_t base, uint64_t first,
			 uint64_t last, uint64_t *child, uint64_t *state)
{
	struct set_raw *sr = arg;
	struct ept *ept = sr->ept;
	uint64_t e = rd(ept, ehpa);
	int err;

	(void)base;
	(void)first;
	(void)last;
	(void)state;
	if (level > sr->level) {
		if (entry_is_table(ept, e, level)) {
			*child = e & EPT_ADDR_MASK;
			return WALK_RANGE_DOWN;
		}
		if (e & EPT_RWX)
			return -EEXIST;   /* a leaf or a raw entry sits above: no table to write into */
		err = table_alloc(ept, child);
		if (err)
			return err;
		wr(ept, ehpa, *child | EPT_TABLE_PERMS);
		return WALK_RANGE_DOWN;
	}
	/* A raw entry that would be followed as one of hv's tables may only
	 * name the table already there: a second reference to a table (or a
	 * cycle) would make teardown free it twice. */
	if (entry_is_table(ept, sr->raw, level) &&
	    (!entry_is_table(ept, e, level) || (sr->raw & EPT_ADDR_MASK) != (e & EPT_ADDR_MASK)))
		return -EINVAL;
	ept->raw_written = true;
	ept->std4_own = false;
	wr(ept, ehpa, sr->raw);
	/*
	 * A raw entry that still names the same table is an edit in place
	 * (tests flip bits and put the entry back): keep the table. Otherwise
	 * the table below is no longer reachable and is freed.
	 */
	if (entry_is_table(ept, e, level) && (sr->raw & EPT_ADDR_MASK) != (e & EPT_ADDR_MASK))
		subtree_free(ept, e & EPT_ADDR_MASK, level - 1);
	return WALK_RANGE_NEXT;
}

int ept_set_raw(struct ept *ept, uint64_t gpa, unsigned level, uint64_t raw)
{
	static const struct walk_range_ops ops = { .visit = set_raw_visit };
	struct set_raw sr = { .ept = ept, .level = level, .raw = raw };

	if (level < 1 || level > ept->levels || (gpa & (PAGE_SIZE_4K - 1)))
		return -EINVAL;
	if (gpa >> level_shift(ept->levels + 1))
		return -ERANGE;
	return walk_range(&ept->fmt, &ops, &sr, ept->root, gpa, gpa);
}

struct harvest {
	struct ept *ept;
	void (*cb)(void *ctx, uint64_t gpa, uint64_t size);
	void *ctx;
};

static inline __attribute__((always_inline)) int
harvest_visit(void *arg, unsigned level, uint64_t ehpa, uint64_t ebase,
	      uint64_t first, uint64_t last, uint64_t *child, uint64_t *state)
{
	struct harvest *h = arg;
	struct ept *ept = h->ept;
	uint64_t e = rd(ept, ehpa);

	(void)first;
	(void)last;
	(void)state;
	if (!(e & EPT_RWX))
		return WALK_RANGE_NEXT;
	if (entry_is_table(ept, e, level)) {
		wr(ept, ehpa, e & ~EPT_A);
		*child = e & EPT_ADDR_MASK;
		return WALK_RANGE_DOWN;
	}
	if (entry_is_leaf(e, level)) {
		/* The flags belong to the whole leaf: report all of it. */
		wr(ept, ehpa, e & ~(EPT_A | EPT_D));
		if (e & EPT_D)
			h->cb(h->ctx, ebase, level_size(level));
	}
	return WALK_RANGE_NEXT;
}

static int harvest_leaves(void *arg, uint64_t ehpa, uint64_t first, uint64_t last)
{
	struct harvest *h = arg;

	return walk_range_leaves(&h->ept->fmt, harvest_visit, arg, ehpa, first, last);
}

int ept_harvest_dirty(struct ept *ept, uint64_t gpa, uint64_t len,
		      void (*cb)(void *ctx, uint64_t gpa, uint64_t size), void *ctx)
{
	static const struct walk_range_ops ops = { .visit = harvest_visit, .leaves = harvest_leaves };
	struct harvest h = { .ept = ept, .cb = cb, .ctx = ctx };
	uint64_t last;
	int err;

	assert(cb);
	err = range_check(ept, gpa, len, &last);
	if (err)
		return err;
	return walk_range(&ept->fmt, &ops, &h, ept->root, gpa, last);
}

/* ------------------------------------------------------------------------ */
/* The walk (SDM 29.3.3)                                                    */
/* ------------------------------------------------------------------------ */

int ept_walk(struct ept *ept, uint64_t gpa, const struct ept_access *acc,
	     const struct ept_walk_start *start, struct ept_walk_result *res)
{
	struct walk_start ws, *wsp = NULL;
	struct walk_path p;
	unsigned type, i, l;
	uint64_t perms = 0, need;

	if (start) {
		/* Precondition: start comes from an earlier walk of this hierarchy. */
		assert(start->level >= 1 && start->level <= ept->levels);
		ws = (struct walk_start){ .level = start->level, .table = start->table,
					  .and_bits = start->perms };
		wsp = &ws;
	}
	/* Precondition: exactly one access type. */
	assert(acc->type == ACC_READ || acc->type == ACC_WRITE || acc->type == ACC_FETCH);
	/* SDM 29.3.3.2: with A/D enabled, guest paging-structure accesses are writes. */
	type = (acc->paging_entry && ept->ad) ? ACC_WRITE : acc->type;
	res->status = EPT_OK;
	res->hpa = 0;
	res->page_shift = 0;
	res->memtype = 0;
	res->qual = 0;
	res->ad_writes = 0;
	res->dirty = false;

	/* A 4-level hierarchy translates 48-bit GPAs: a GPA with a bit above
	 * that set cannot be translated and is reported as a violation with
	 * nothing walked (WALK_RANGE). */
	switch (walk_run(&ept->fmt, ept->pool, NULL, NULL, ept->root, wsp, gpa, &p)) {
	case WALK_OK:
		perms = p.and_acc & EPT_PERM_BITS;
		/* SDM 29.3.3.2: the access must be allowed by the AND over all levels. */
		if (type == ACC_FETCH)
			need = (ept->caps.mbec && acc->user) ? EPT_XU : EPT_X;
		else
			need = type == ACC_WRITE ? EPT_W : EPT_R;
		if (!(perms & need)) {
			res->status = EPT_VIOLATION;
			break;
		}
		/* Only a translation that is used sets the flags: a walk that ends
		 * in a violation leaves them as they were. */
		(void)walk_set_ad(&ept->fmt, ept->pool, NULL, NULL, &p, type == ACC_WRITE);
		res->hpa = p.addr;
		res->page_shift = p.shift;
		res->memtype = (p.ref[p.n - 1].value & EPT_MT_MASK) >> EPT_MT_SHIFT;
		res->ad_writes = p.ad_writes;
		res->dirty = (p.ref[p.n - 1].value & EPT_D) != 0;
		break;
	case WALK_RESERVED:
		res->status = EPT_MISCONFIG;
		perms = p.and_acc & EPT_PERM_BITS;
		break;
	default:   /* not present, or beyond the GPA width */
		res->status = EPT_VIOLATION;
		break;
	}
	res->perms = perms;
	res->refs = res->nref = p.n;
	for (i = 0; i < p.n; i++) {
		res->ref[i].level = p.ref[i].level;
		res->ref[i].entry_hpa = p.ref[i].entry_hpa;
		res->ref[i].value = p.ref[i].value;
		l = p.ref[i].level;
		res->table[l] = p.table[l];
		res->perms_at[l] = p.and_at[l];
	}
	if (res->status != EPT_VIOLATION)
		return 0;
	/* SDM 28.2.1, Table 28-7: EPT-violation exit qualification.
	 * ACC_READ/WRITE/FETCH are bits 0/1/2, as in the qualification. A guest
	 * paging-structure access treated as a write because of EPT A/D sets
	 * both bit 0 and bit 1 (footnote of Table 28-7). */
	res->qual = (acc->paging_entry && ept->ad) ? EPT_QUAL_READ | EPT_QUAL_WRITE : (uint64_t)type;
	res->qual |= (perms & EPT_RWX) << 3;
	if (ept->caps.mbec && (perms & EPT_XU))
		res->qual |= EPT_QUAL_UEXEC;
	if (acc->gla_valid) {
		res->qual |= EPT_QUAL_GLA_VALID;
		if (!acc->paging_entry)
			res->qual |= EPT_QUAL_GLA_XLATE |
				     (acc->guest_bits & (EPT_QUAL_GUEST_US | EPT_QUAL_GUEST_RW |
							 EPT_QUAL_GUEST_XD));
	}
	return 0;
}

/* Add the present leaves below the level-`level` table at `table` to n[0..2]
 * (4 KiB, 2 MiB, 1 GiB). */
static void subtree_leaves(const struct ept *ept, uint64_t table, unsigned level, uint64_t n[3])
{
	for (unsigned i = 0; i < EPT_ENTRIES; i++) {
		uint64_t e = rd(ept, table + 8 * i);

		if (!(e & EPT_PERM_BITS))
			continue;
		if (entry_is_table(ept, e, level))
			subtree_leaves(ept, e & EPT_ADDR_MASK, level - 1, n);
		else if (level <= 3 && entry_is_leaf(e, level))
			n[level - 1]++;
	}
}

void ept_count_leaves(const struct ept *ept, uint64_t leaves[3])
{
	leaves[0] = leaves[1] = leaves[2] = 0;
	subtree_leaves(ept, ept->root, ept->levels, leaves);
}

int ept_lookup(const struct ept *ept, uint64_t gpa, uint64_t *hpa, unsigned *page_shift,
	       uint64_t *perms)
{
	struct walk_path p;

	switch (walk_lookup(&ept->fmt, ept->pool, NULL, NULL, ept->root, gpa, &p)) {
	case WALK_OK:
		*hpa = p.addr;
		*page_shift = p.shift;
		*perms = p.and_acc & EPT_PERM_BITS;
		return 0;
	case WALK_RESERVED:
		return -EINVAL;
	default:
		return -ENOENT;
	}
}
