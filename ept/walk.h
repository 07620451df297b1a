/* SPDX-License-Identifier: MIT */
/*
 * ept/walk.h - one page-table walker for every radix page-table format.
 *
 * A format is described by data (struct walk_fmt): how many levels, which
 * address bits index each level, how to tell a present entry, a table pointer
 * from a large page, which bits are reserved at each level, how permissions
 * accumulate and where the accessed/dirty flags are. walk_run() descends such
 * tables one entry at a time; what a model does with each reference
 * (counting, tracing, translating a table address through a second stage,
 * refusing an A/D write) is a hook in struct walk_ops, not a copy of the walk.
 *
 * walk_run() stops at a leaf (WALK_OK), a non-present entry, a reserved bit or a
 * hook's refusal, and leaves the decision "is this access allowed" to the
 * caller, which knows the format's permission rules; walk_set_ad() then sets
 * the A/D flags the way the format wants (every entry after success, as EPT
 * does, or the leaf only, as guest paging does after setting A on tables
 * during the walk).
 *
 * walk_run() is walk_body() out of line. A caller that walks one format
 * often (the 2D walk with every cache off) calls walk_body() itself with a
 * const descriptor and const hooks: the compiler then folds the descriptor
 * into the code (constant shifts and masks, a loop unrolled per level, hooks
 * inlined), so the fast path is this walker, not a second one.
 *
 * Levels are numbered as in the SDM: 1 is the lowest (4 KiB leaves).
 */
#ifndef HV_WALK_H
#define HV_WALK_H

#include <stdbool.h>
#include <stdint.h>

#include "ept/hpool.h"

struct walk_fmt;

#define WALK_MAX_LEVELS 5

/* A format-specific rule beyond the reserved-bit masks (EPT permission
 * encodings, memory types): true when the entry is malformed. */
typedef bool (*walk_bad_fn)(const struct walk_fmt *f, uint64_t e, unsigned level, bool leaf);

struct walk_fmt {
	const char *name;
	unsigned levels;                          /* top level */
	unsigned esz;                             /* bytes per entry: 8, or 4 */
	uint8_t shift[WALK_MAX_LEVELS + 1];       /* lowest address bit indexed at level l */
	uint8_t ibits[WALK_MAX_LEVELS + 1];       /* index width at level l */
	uint64_t present;                         /* present if any of these bits is set */
	uint64_t ps;                              /* page-size bit (0: none) */
	unsigned large;                           /* bit l: PS at level l maps a page */
	uint64_t rsvd_table[WALK_MAX_LEVELS + 1]; /* reserved in a table pointer at level l */
	uint64_t rsvd_page[WALK_MAX_LEVELS + 1];  /* reserved in a leaf at level l */
	uint64_t addr;                            /* address bits of a table pointer / frame */
	uint64_t and_bits;                        /* permissions ANDed over the levels */
	uint64_t or_bits;                         /* permissions ORed over the levels */
	uint64_t a, d;                            /* accessed / dirty flags; 0: not maintained */
	bool ad_tables_early;                     /* set A in tables while descending */
	walk_bad_fn bad;                          /* NULL: no rule beyond the masks */
	/* Frame of a leaf at `level` when it is not (e & addr) (32-bit PSE); NULL: it is. */
	uint64_t (*frame)(uint64_t e, unsigned level);
	unsigned caps;                            /* format options read by bad() */
	/* Optional shortcut, 0: none. An entry above level 1 with
	 * (e & tbl_mask) == tbl_val is a present, well-formed table pointer (not
	 * a page, nothing reserved, bad() false): one test for the usual entry.
	 * It must imply what the tests would find (walk_fmt_check). */
	uint64_t tbl_mask, tbl_val;
	/* Optional shortcut for the usual 4 KiB page, 0: none. A level-1 entry
	 * with (e & leaf_mask) == leaf_val is a present, well-formed leaf
	 * (nothing reserved, bad() false; frame must be NULL). Checked by
	 * walk_fmt_check like tbl_mask. */
	uint64_t leaf_mask, leaf_val;
};

enum walk_status {
	WALK_OK = 0,          /* a leaf was reached: path.addr, path.shift */
	WALK_NOT_PRESENT,     /* path.ref[n - 1] is not present */
	WALK_RESERVED,        /* path.ref[n - 1] has a reserved bit or is malformed */
	WALK_RANGE,           /* the address has bits above what the top level indexes */
	WALK_STOPPED,         /* a hook stopped the walk (it recorded why) */
};

/* One reference: an entry read. */
struct walk_step {
	unsigned level;
	uint64_t entry_addr;   /* in the tables' own address space (a GPA for guest tables) */
	uint64_t entry_hpa;    /* where it was read */
	uint64_t value;        /* as read; updated when walk_set_ad() changes it */
};

struct walk_path {
	enum walk_status status;
	unsigned start;                           /* level the walk began at */
	unsigned n;                               /* entries read, ref[0..n) */
	struct walk_step ref[WALK_MAX_LEVELS];
	uint64_t table[WALK_MAX_LEVELS + 1];      /* table[l]: address of the level-l table */
	uint64_t and_at[WALK_MAX_LEVELS + 1];     /* and_bits accumulated above level l */
	uint64_t or_at[WALK_MAX_LEVELS + 1];
	uint64_t and_acc, or_acc;                 /* accumulated over every entry read */
	uint64_t and_raw;                         /* AND of every entry read, as read */
	uint64_t addr;                            /* WALK_OK: the translated address */
	unsigned shift;                           /* WALK_OK: page shift of the leaf */
	unsigned ad_writes;                       /* entries walk_set_ad() and early A changed */
};

/* Where a walk begins: at the top (NULL) or lower, from a cached table. */
struct walk_start {
	unsigned level;
	uint64_t table;
	uint64_t and_bits, or_bits;
};

/*
 * Hooks; each may be NULL.
 *   locate: the host address of the entry at entry_addr (tables in another
 *           address space, e.g. guest tables behind EPT); false stops the
 *           walk (WALK_STOPPED). NULL: entry_addr is the HPA, and an entry
 *           outside the pool reads as all ones (nothing answers the read).
 *   ref:    after every entry read.
 *   ad:     before every A/D write of new value nv; false refuses it and
 *           stops (nothing written).
 */
struct walk_ops {
	bool (*locate)(void *arg, const struct walk_path *p, unsigned level, uint64_t entry_addr,
		       uint64_t *entry_hpa);
	void (*ref)(void *arg, const struct walk_path *p, const struct walk_step *r);
	bool (*ad)(void *arg, const struct walk_path *p, const struct walk_step *r, uint64_t nv);
};

/* Walk `addr` through the tables rooted at `root` (start == NULL) or from
 * start. Returns the status, also in p->status. */
enum walk_status walk_run(const struct walk_fmt *f, struct hpool *pool,
			  const struct walk_ops *ops, void *arg, uint64_t root,
			  const struct walk_start *start, uint64_t addr, struct walk_path *p);

/* After a WALK_OK the caller allowed: set A (every entry read unless
 * ad_tables_early, else the leaf) and D on the leaf when `dirty`. false when
 * the ad hook refused one (the writes before it stay). */
bool walk_set_ad(const struct walk_fmt *f, struct hpool *pool, const struct walk_ops *ops,
		 void *arg, struct walk_path *p, bool dirty);

/* Would walk_set_ad(f, .., p, dirty) change any entry? (A fast path that
 * must leave memory as it is asks this and takes the general path when so.) */
static inline __attribute__((always_inline)) bool
walk_ad_pending(const struct walk_fmt *f, const struct walk_path *p, bool dirty)
{
	uint64_t leaf;

	if (!f->a || p->n == 0)
		return false;
	leaf = p->ref[p->n - 1].value;
	return !((f->ad_tables_early ? leaf : p->and_raw) & f->a) || (dirty && !(leaf & f->d));
}

#define WALK_INLINE static inline __attribute__((always_inline))

/* The end of a walk at a leaf of `level` (page shift sh): the translated
 * address and what accumulated. */
WALK_INLINE enum walk_status walk_leaf(const struct walk_fmt *f, struct walk_path *p,
				       uint64_t addr, uint64_t e, unsigned level, unsigned sh,
				       uint64_t and_acc, uint64_t orb)
{
	const uint64_t mask = (1ULL << sh) - 1;
	const uint64_t frame = f->frame ? f->frame(e, level) : (e & f->addr);

	p->and_acc = and_acc;
	p->or_acc = orb | (e & f->or_bits);
	p->addr = (frame & ~mask) | (addr & mask);
	p->shift = sh;
	p->status = WALK_OK;
	return WALK_OK;
}

WALK_INLINE uint64_t walk_read_entry(const struct hpool *pool, uint64_t hpa, unsigned esz)
{
	if (esz == 8)
		return hpool_read64(pool, hpa);
	return *(const volatile uint32_t *)hpool_ptr(pool, hpa);
}

/* One A/D write of nv into step r, after the ad hook agreed. */
WALK_INLINE bool walk_write_ad(const struct walk_fmt *f, struct hpool *pool,
			       const struct walk_ops *ops, void *arg, struct walk_path *p,
			       struct walk_step *r, uint64_t nv)
{
	if (ops && ops->ad && !ops->ad(arg, p, r, nv))
		return false;
	if (f->esz == 8)
		hpool_write64(pool, r->entry_hpa, nv);
	else
		*(volatile uint32_t *)hpool_ptr(pool, r->entry_hpa) = (uint32_t)nv;
	r->value = nv;
	p->ad_writes++;
	return true;
}

/* The walk itself (see walk_run). */
WALK_INLINE enum walk_status walk_body(const struct walk_fmt *f, struct hpool *pool,
				       const struct walk_ops *ops, void *arg, uint64_t root,
				       const struct walk_start *start, uint64_t addr,
				       struct walk_path *p)
{
	unsigned level = start ? start->level : f->levels;
	uint64_t table = start ? start->table : root;
	const uint64_t and0 = start ? start->and_bits : f->and_bits;
	uint64_t orb = start ? start->or_bits : 0;
	uint64_t raw = ~0ULL;   /* AND of the entries read: and_acc is and0 & raw */

	p->start = level;
	p->n = 0;
	p->ad_writes = 0;
	p->addr = 0;
	p->shift = 0;
	p->and_acc = and0;
	p->or_acc = orb;
	p->and_raw = raw;
	p->status = WALK_RANGE;
	if (addr >> (f->shift[f->levels] + f->ibits[f->levels]))
		return WALK_RANGE;
	/* One pass per level; with a const descriptor and no start each level
	 * gets its own copy with constant shifts and masks. */
#pragma GCC unroll 5
	for (; level >= 1; level--) {
		const unsigned sh = f->shift[level];
		const uint64_t ea = table + ((addr >> sh) & ((1ULL << f->ibits[level]) - 1)) * f->esz;
		uint64_t eh, e;
		struct walk_step *r;
		bool leaf;

		p->table[level] = table;
		p->and_at[level] = and0 & raw;
		p->or_at[level] = orb;
		if (ops && ops->locate) {
			if (!ops->locate(arg, p, level, ea, &eh)) {
				p->status = WALK_STOPPED;
				return WALK_STOPPED;
			}
			e = walk_read_entry(pool, eh, f->esz);
		} else {
			/* Nothing answers a read outside host memory: all ones. (A
			 * pool holds at least one entry.) */
			eh = ea;
			e = ea <= pool->size - f->esz ? walk_read_entry(pool, ea, f->esz) : ~0ULL;
		}
		r = &p->ref[p->n++];
		r->level = level;
		r->entry_addr = ea;
		r->entry_hpa = eh;
		r->value = e;
		raw &= e;
		p->and_raw = raw;
		if (ops && ops->ref)
			ops->ref(arg, p, r);
		if (__builtin_expect(level > 1 && f->tbl_mask && (e & f->tbl_mask) == f->tbl_val, 1))
			goto table;
		if (__builtin_expect(level == 1 && f->leaf_mask && (e & f->leaf_mask) == f->leaf_val, 1))
			return walk_leaf(f, p, addr, e, 1, f->shift[1], and0 & raw, orb);
		if (!(e & f->present)) {
			p->status = WALK_NOT_PRESENT;
			return WALK_NOT_PRESENT;
		}
		leaf = level == 1 || (((f->large >> level) & 1) && (e & f->ps));
		if ((e & (leaf ? f->rsvd_page[level] : f->rsvd_table[level])) ||
		    (f->bad && f->bad(f, e, level, leaf))) {
			p->status = WALK_RESERVED;
			return WALK_RESERVED;
		}
		if (leaf)
			return walk_leaf(f, p, addr, e, level, sh, and0 & raw, orb);
table:
		orb |= e & f->or_bits;
		p->and_acc = and0 & raw;
		p->or_acc = orb;
		if (f->ad_tables_early && f->a && !(e & f->a) &&
		    !walk_write_ad(f, pool, ops, arg, p, r, e | f->a)) {
			p->status = WALK_STOPPED;
			return WALK_STOPPED;
		}
		table = e & f->addr;
	}
	return WALK_STOPPED;   /* not reached: level 1 is always a leaf */
}

/* walk_set_ad's body, for callers that inline it (see walk_body). */
WALK_INLINE bool walk_set_ad_body(const struct walk_fmt *f, struct hpool *pool,
				  const struct walk_ops *ops, void *arg, struct walk_path *p,
				  bool dirty)
{
	unsigned i;

	if (!f->a || p->n == 0)
		return true;
	for (i = f->ad_tables_early ? p->n - 1 : 0; i < p->n; i++) {
		struct walk_step *r = &p->ref[i];
		uint64_t nv = r->value | f->a | (i == p->n - 1 && dirty ? f->d : 0);

		if (nv != r->value && !walk_write_ad(f, pool, ops, arg, p, r, nv))
			return false;
	}
	return true;
}

/*
 * A lookup: the walk without A/D flags (a format copy with a = d = 0), for
 * callers that only want to know where an address leads (the host reading
 * guest memory, tools); nothing is written. Hooks as for walk_run.
 */
enum walk_status walk_lookup(const struct walk_fmt *f, struct hpool *pool,
			     const struct walk_ops *ops, void *arg, uint64_t root, uint64_t addr,
			     struct walk_path *p);

/*
 * Range operations (map, unmap, protect, dirty harvest, table building): one
 * walk over every entry whose span meets [first, last], top level first, in
 * address order. The visitor decides what each entry means; the walker only
 * does the descent and the splitting of the range across entries.
 *   visit(arg, level, ehpa, base, first, last, child, state): the entry at
 *     HPA ehpa of a level-`level` table spans [base, base + 2^shift) and the
 *     range meets it in [first, last]. Return WALK_RANGE_NEXT, or
 *     WALK_RANGE_DOWN with *child the HPA of the table one level down (the
 *     visitor may have just made it), or a negative errno to stop.
 *   after(arg, level, ehpa, child, state): once the descent into child
 *     returned without error (may be NULL); state is what visit left there.
 * Returns 0 or the first negative errno.
 */
#define WALK_RANGE_NEXT 0
#define WALK_RANGE_DOWN 1

typedef int (*walk_visit_fn)(void *arg, unsigned level, uint64_t ehpa, uint64_t base,
			     uint64_t first, uint64_t last, uint64_t *child, uint64_t *state);

struct walk_range_ops {
	walk_visit_fn visit;
	int (*after)(void *arg, unsigned level, uint64_t ehpa, uint64_t child, uint64_t state);
	/* Optional: at level 1, one call for all the entries of a table that
	 * [first, last] meets (ehpa: the entry of first) instead of a visit
	 * each; walk_range_leaves() is such a call made of visits. */
	int (*leaves)(void *arg, uint64_t ehpa, uint64_t first, uint64_t last);
};

/*
 * What walk_range does at level 1 without a leaves hook, as an inline loop:
 * visit(arg, 1, ..) for each entry from ehpa that [first, last] meets (all
 * in one table). A leaves hook made of this with its own visitor gets the
 * visitor inlined with level 1 folded in, and no call per entry.
 */
WALK_INLINE int walk_range_leaves(const struct walk_fmt *f, walk_visit_fn visit, void *arg,
				  uint64_t ehpa, uint64_t first, uint64_t last)
{
	const uint64_t size_mask = (1ULL << f->shift[1]) - 1, esz = f->esz;

	for (;;) {
		const uint64_t base = first & ~size_mask, elast = base + size_mask;
		const uint64_t seg_last = last < elast ? last : elast;
		uint64_t child = 0, state = 0;
		int rc = visit(arg, 1, ehpa, base, first, seg_last, &child, &state);

		if (rc < 0)
			return rc;
		if (seg_last == last)
			return 0;
		first = seg_last + 1;
		ehpa += esz;
	}
}

int walk_range(const struct walk_fmt *f, const struct walk_range_ops *ops, void *arg,
	       uint64_t root, uint64_t first, uint64_t last);

/* Do f's tbl_mask/tbl_val and leaf_mask/leaf_val shortcuts imply what the
 * tests find, for every combination of the bits the tests look at (the mask,
 * present, PS, the reserved bits, the low 12 bits)? true when there are
 * none. */
bool walk_fmt_check(const struct walk_fmt *f);

/* Page size of a level's entry. */
static inline unsigned walk_level_shift(const struct walk_fmt *f, unsigned level)
{
	return f->shift[level];
}

#endif /* HV_WALK_H */
