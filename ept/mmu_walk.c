/* SPDX-License-Identifier: MIT */
/*
 * ept/mmu_walk.c - the miss path of the composed two-stage translation (see
 * ept/mmu_int.h): the combined TLB lookup, and on a miss the walk. The
 * walk with every cache off is ept/mmu_fast.c.
 *
 * A translation looks up the combined TLBs; on a miss it walks the guest
 * paging structures, translating every guest table address (a GPA) through
 * EPT before reading the entry, then translates the final GPA. Each EPT
 * translation first tries the nested TLB and the guest-physical
 * paging-structure caches; the guest walk first tries the combined
 * paging-structure caches. Every entry read is one reference and is counted
 * in the grid.
 */
#include <string.h>

#include "ept/mmu_int.h"

/*
 * Payload of a combined TLB entry (attr). The guest bits are the
 * permissions accumulated over all guest levels (SDM 4.6); the EPT bits are
 * the R/W/X/XU of the final GPA's translation.
 */
#define CA_W     (1u << 0)
#define CA_U     (1u << 1)
#define CA_XD    (1u << 2)
#define CA_DIRTY (1u << 3)   /* filled by a write: guest D and EPT D are set */
#define CA_EPT_SHIFT 4       /* EPT R/W/X at bits 6:4, XU at bit 7 */
#define CA_EPT_MASK  (0xfu << CA_EPT_SHIFT)
#define CA_PKEY_SHIFT 8      /* the leaf's protection key (bits 62:59) at bits 11:8 */
#define CA_PKEY(a)   (((a) >> CA_PKEY_SHIFT) & 0xfu)

/*
 * Combined paging-structure cache payload: the same bits, where CA_W/U/XD
 * accumulate the levels above the cached table and the EPT bits are the
 * permissions of the page holding that table (needed for its A/D updates).
 *
 * Guest-physical cache and nested TLB payload: EPT R/W/X at bits 2:0, XU at
 * bit 3 (accumulated above the cached table, or of the whole translation),
 * plus:
 */
#define NA_DIRTY (1u << 4)   /* nested TLB: EPT D already set on the leaf */

/* ------------------------------------------------------------------------ */
/* Encodings and permission rules                                           */
/* ------------------------------------------------------------------------ */

static inline __attribute__((always_inline)) uint32_t ept_perm_bits(uint64_t perms)
{
	return (uint32_t)(perms & EPT_RWX) | ((perms & EPT_XU) ? 8u : 0u);
}

static inline __attribute__((always_inline)) uint64_t ept_perms_from_bits(uint32_t b)
{
	return (uint64_t)(b & 7u) | ((b & 8u) ? EPT_XU : 0);
}

/* SDM 28.2.1: exit-qualification bits 3..6 from the accumulated permissions. */
static uint64_t qual_perm_bits(uint64_t perms, bool mbec)
{
	uint64_t q = 0;

	if (perms & EPT_R)
		q |= EPT_QUAL_READABLE;
	if (perms & EPT_W)
		q |= EPT_QUAL_WRITABLE;
	if (perms & EPT_X)
		q |= EPT_QUAL_EXECUTABLE;
	if (mbec && (perms & EPT_XU))
		q |= EPT_QUAL_UEXEC;
	return q;
}

/* SDM 29.3.3.2: does an EPT translation with `perms` allow this access? */
static inline __attribute__((always_inline)) bool ept_allows(const struct ept *ept, uint64_t perms, const struct ept_access *acc)
{
	if (acc->paging_entry)
		return (perms & EPT_R) && (!ept->ad || (perms & EPT_W));
	switch (acc->type) {
	case ACC_WRITE:
		return (perms & EPT_W) != 0;
	case ACC_FETCH:
		if (ept->caps.mbec && acc->user)
			return (perms & EPT_XU) != 0;
		return (perms & EPT_X) != 0;
	default:
		return (perms & EPT_R) != 0;
	}
}

/* SDM 4.7: the #PF error code for this access. */
static uint32_t pf_code(const struct mmu_ctx *ctx, unsigned access, bool present, bool rsvd)
{
	uint32_t ec = 0;
	bool nx_on = (ctx->efer & EFER_NXE) && (ctx->cr4 & CR4_PAE);

	if (present || rsvd)
		ec |= PF_P;
	if (access & ACC_WRITE)
		ec |= PF_W;
	if (ctx->cpl == 3 && !(access & ACC_IMPLICIT_SV))
		ec |= PF_U;
	if (rsvd)
		ec |= PF_RSVD;
	if ((access & ACC_FETCH) && (nx_on || (ctx->cr4 & CR4_SMEP)))
		ec |= PF_I;
	return ec;
}

/* ------------------------------------------------------------------------ */
/* The walk                                                                 */
/* ------------------------------------------------------------------------ */

struct walk {
	struct mmu *m;
	const struct mmu_ctx *ctx;
	struct ept *ept;
	uint64_t gva;
	unsigned access;
	unsigned levels;          /* guest levels walked: 0 (paging off), 2, 4, 5 */
	bool pae;                 /* PAE paging: 2 levels below the PDPTE registers */
	bool pk;                  /* a page fault it reports has PK set */
	const struct cache_tag *tag;    /* combined structures (m->cur) */
	const struct cache_tag *gtag;   /* guest-physical structures: EPTP only */
	struct walk_trace *trace;
	unsigned refs;
	struct mmu_result *res;
	unsigned hidx;            /* the shortcut's slot index of gva's page */
	uint64_t key4k;           /* the TLB lookups: cache_key(gva, PAGE_SHIFT_4K) */
	uint8_t fp4k;             /* the TLB lookups: cache_fp(key4k) */
	enum mmu_layout_id lid;   /* the layout of the miss path's instance */
};

struct xlate {
	uint64_t hpa;
	unsigned shift;
	uint64_t perms;
	bool dirty;       /* the EPT leaf's D flag is set (or there is no EPT D to set) */
};

static void trace_hit(struct walk *w, enum tlb_id id)
{
	if (w->trace && w->trace->nhits < sizeof(w->trace->hit) / sizeof(w->trace->hit[0]))
		w->trace->hit[w->trace->nhits++] = id;
}

static void trace_ref(struct walk *w, int guest_level, int ept_level, uint64_t gpa,
		      uint64_t entry_hpa, uint64_t value)
{
	if (w->trace->n < MMU_MAX_REFS + 1) {
		struct walk_ref *r = &w->trace->ref[w->trace->n++];

		r->guest_level = guest_level;
		r->ept_level = ept_level;
		r->gpa = gpa;
		r->entry_hpa = entry_hpa;
		r->value = value;
	}
}

static bool hpa_in_pool(const struct mmu *m, uint64_t hpa, uint64_t len)
{
	return hpa < m->pool->size && len <= m->pool->size - hpa;
}

/* The layouts the miss path is compiled for (struct mmu_layout): nothing
 * known (any configuration, perfect structures too), and each finite preset. */
static const struct mmu_layout layout_any = { .id = LAYOUT_ANY, .known = false };
static const struct mmu_layout layout_skylake = {
	.id = LAYOUT_SKYLAKE, .known = true, .g = MMU_SKYLAKE_GEOM,
};
static const struct mmu_layout layout_goldencove = {
	.id = LAYOUT_GOLDENCOVE, .known = true, .g = MMU_GOLDENCOVE_GEOM,
};
static const struct mmu_layout layout_zen2 = {
	.id = LAYOUT_ZEN2, .known = true, .g = MMU_ZEN2_GEOM,
};
static const struct mmu_layout layout_zen4 = {
	.id = LAYOUT_ZEN4, .known = true, .g = MMU_ZEN4_GEOM,
};

/* ept_quick for one walk of any hierarchy, from the top or from `start`. */
static inline __attribute__((always_inline)) bool
ept_walk_quick_inline(const struct ept *ept, const struct ept_access *acc,
		      const struct walk_start *start, uint64_t gpa, struct walk_path *p)
{
	if (!ept_is_std(ept))
		return ept_quick(&ept->fmt, ept, acc, start, gpa, p, false);
	if (ept->levels == 4)
		return ept->ad ? ept_quick(&ept_std_fmt[0][1], ept, acc, start, gpa, p, false)
			       : ept_quick(&ept_std_fmt[0][0], ept, acc, start, gpa, p, false);
	return ept->ad ? ept_quick(&ept_std_fmt[1][1], ept, acc, start, gpa, p, false)
		       : ept_quick(&ept_std_fmt[1][0], ept, acc, start, gpa, p, false);
}

static __attribute__((noinline)) bool
ept_walk_quick(const struct ept *ept, const struct ept_access *acc, uint64_t gpa,
	       struct walk_path *p)
{
	return ept_walk_quick_inline(ept, acc, NULL, gpa, p);
}

/* ept_quick over hv's own 4-level tables (ept->std4_own): the const
 * descriptor with the EPT's A/D setting, no bounds test per entry. */
static inline __attribute__((always_inline)) bool
ept_quick_own4(const struct ept *ept, const struct ept_access *acc, const struct walk_start *start,
	       uint64_t gpa, struct walk_path *p)
{
	return ept->ad ? ept_quick(&ept_std_fmt[0][1], ept, acc, start, gpa, p, true)
		       : ept_quick(&ept_std_fmt[0][0], ept, acc, start, gpa, p, true);
}

/*
 * ept_walk_quick_inline under layout L: where the layout is known, the usual
 * hierarchy (hv's own 4-level tables, no entry written by hand) walks over
 * its const descriptor with no bounds test per entry, as the all-caches-off
 * walk does. A walk may start from a cached table only at level 1, and
 * tests that table once: a stale cache entry may name a table page freed
 * since (and reused for anything, so the entries it holds are not hv's), or
 * one of an earlier hierarchy with the same root; one entry read from it is
 * a leaf, whose address ept_quick tests.
 */
static inline __attribute__((always_inline)) bool
ept_walk_quick_lay(const struct ept *ept, const struct ept_access *acc,
		   const struct walk_start *start, uint64_t gpa, struct walk_path *p,
		   const struct mmu_layout *L)
{
	if (L->known && ept->std4_own) {
		if (!start)
			return ept_quick_own4(ept, acc, NULL, gpa, p);
		if (start->level == 1 && start->table <= ept->pool->size - PAGE_SIZE_4K) {
			/* The level a constant: the walk is one entry, folded in. */
			const struct walk_start s1 = { .level = 1, .table = start->table,
						       .and_bits = start->and_bits,
						       .or_bits = start->or_bits };

			return ept_quick_own4(ept, acc, &s1, gpa, p);
		}
	}
	return ept_walk_quick_inline(ept, acc, start, gpa, p);
}

/* The nested TLB's lookup of gpa at page size sz (0, 1, 2: 4K, 2M, 1G). */
static inline __attribute__((always_inline)) struct cache_entry *
nested_find(struct walk *w, const struct mmu_layout *L, uint64_t gpa, unsigned sz)
{
	static const unsigned shift[3] = { PAGE_SHIFT_4K, PAGE_SHIFT_2M, PAGE_SHIFT_1G };

	return cache_find_at_s(w->m->t[NESTED_TLB], gpa, shift[sz], w->gtag,
			       lay_shape(L, NESTED_TLB));
}

static const enum tlb_id gp_for_level[4] = { 0, PWC_GP_PDE, PWC_GP_PDPTE, PWC_GP_PML4 };

/* The guest-physical paging-structure cache of level lvl (1..3): its lookup
 * of gpa (hit: counted, *start set), or its miss counted. */
static inline __attribute__((always_inline)) bool
gp_probe(struct walk *w, const struct mmu_layout *L, uint64_t gpa, unsigned lvl,
	 struct walk_start *start)
{
	const unsigned id = gp_for_level[lvl];
	struct cache_entry *e;
	struct cache *t;

	if (!lay_on(w->m, L, id))
		return false;
	t = w->m->t[id];
	e = cache_find_at_s(t, gpa, PAGE_SHIFT_4K + 9 * lvl, w->gtag, lay_shape(L, id));
	if (!e) {
		lay_miss(w->m, id);
		return false;
	}
	lay_hit(w->m, id, t, e);
	trace_hit(w, (enum tlb_id)id);
	*start = (struct walk_start){ .level = lvl, .table = e->val,
				      .and_bits = ept_perms_from_bits(e->attr) };
	return true;
}

/* Fill the guest-physical cache of level lvl (on) after its lookup missed. */
static inline __attribute__((always_inline)) void
gp_fill(struct walk *w, const struct mmu_layout *L, uint64_t gpa, unsigned lvl,
	uint64_t table, uint64_t perms)
{
	const unsigned id = gp_for_level[lvl];
	struct cache_entry *e;

	if (cache_fill_missed_s(w->m->t[id], cache_key(gpa, PAGE_SHIFT_4K + 9 * lvl), w->gtag,
				false, &e, lay_shape(L, id)) == 0) {
		e->val = table;
		e->aux = gpa & ~((1ULL << (PAGE_SHIFT_4K + 9 * lvl)) - 1);
		e->attr |= ept_perm_bits(perms);
	}
}

/* What ept_walk would report for a quick walk that succeeded, read from its path. */
static inline __attribute__((always_inline)) void
quick_result(const struct walk_path *p, struct ept_walk_result *r)
{
	r->status = EPT_OK;
	r->hpa = p->addr;
	r->page_shift = p->shift;
	r->perms = p->and_acc & EPT_PERM_BITS;
	r->dirty = (p->ref[p->n - 1].value & EPT_D) != 0;
	r->refs = p->n;
}

/*
 * The end of gpa_xlate_body once the EPT walk (from start_level, its result
 * in r, the tables and permissions it went through in tables[] and
 * perms_at[]) is done: the references counted, a failure reported, the
 * result, and the guest-physical caches and the nested TLB filled (nt_missed:
 * the nested TLB lookup found nothing, else it held an entry that could not
 * serve, refilled in place). in_pool: the walk was ept_quick's, which found
 * rp->hpa inside the pool already.
 */
static inline __attribute__((always_inline)) bool
gpa_xlate_end(struct walk *w, uint64_t gpa, unsigned row, unsigned start_level,
	      const struct ept_walk_result *rp, const uint64_t *tables, const uint64_t *perms_at,
	      bool nt_missed, bool in_pool, struct xlate *out, const struct mmu_layout *L)
{
	struct mmu *m = w->m;
	struct ept *ept = w->ept;
	enum ept_status status = rp->status;
	unsigned lvl, i;
	struct cache *t;

	/* Grid columns: EPT level l is column 5 - l; the walk went down from start_level. */
	w->refs += rp->refs;
	for (i = 0; i < rp->refs; i++)
		m->st.grid[row][5 - start_level + i]++;
	if (status == EPT_OK && !in_pool && !hpa_in_pool(m, rp->hpa, 8))
		status = EPT_MISCONFIG;  /* a leaf pointing outside host memory */
	if (status != EPT_OK) {
		w->res->gpa = gpa;
		if (status == EPT_VIOLATION) {
			w->res->status = MMU_EPT_VIOLATION;
			w->res->qual = rp->qual;
			m->st.ept_violations++;
		} else {
			w->res->status = MMU_EPT_MISCONFIG;
			m->st.ept_misconfigs++;
		}
		return false;
	}
	out->hpa = rp->hpa;
	out->shift = rp->page_shift;
	out->perms = rp->perms;
	out->dirty = !ept->ad || rp->dirty;
	if (!lay_gp_any(m, L))
		return true;

	/* Fill the guest-physical caches for the levels this walk went through
	 * (the walker set their A flags first, SDM 28.3.1); each was looked up
	 * above and missed (the lookups stopped at start_level). */
	for (lvl = 1; lvl <= 3 && lvl < start_level; lvl++) {
		if (rp->page_shift > PAGE_SHIFT_4K + 9 * (lvl - 1))
			continue;
		if (lvl == 1 && lay_on(m, L, PWC_GP_PDE))
			gp_fill(w, L, gpa, 1, tables[1], perms_at[1]);
		else if (lvl == 2 && lay_on(m, L, PWC_GP_PDPTE))
			gp_fill(w, L, gpa, 2, tables[2], perms_at[2]);
		else if (lvl == 3 && lay_on(m, L, PWC_GP_PML4))
			gp_fill(w, L, gpa, 3, tables[3], perms_at[3]);
	}
	if (lay_on(m, L, NESTED_TLB)) {
		struct cache_entry *e;
		int rc;

		t = m->t[NESTED_TLB];
		rc = nt_missed ? cache_fill_missed_s(t, cache_key(gpa, rp->page_shift), w->gtag, false,
						     &e, lay_shape(L, NESTED_TLB))
			       : cache_fill(t, cache_key(gpa, rp->page_shift), w->gtag, false, &e);
		if (rc == 0) {
			e->val = rp->hpa & ~((1ULL << rp->page_shift) - 1);
			e->aux = gpa & ~((1ULL << rp->page_shift) - 1);
			/* SDM 28.3.2: a guest-physical mapping may serve a write without
			 * a walk when the leaf's D flag is already set, however the
			 * walk that cached it began. */
			e->attr |= ept_perm_bits(rp->perms) | (ept->ad && rp->dirty ? NA_DIRTY : 0);
		}
	}
	return true;
}

/*
 * Translate one GPA through the second stage: nested TLB, then the
 * guest-physical paging-structure caches (deepest first), then the EPT walk
 * from wherever a cache let it start. `row` is the grid row; guest_level the
 * guest level this GPA serves (0 = final). Returns false with w->res filled
 * on an EPT violation or misconfiguration. Over layout L, instantiated below.
 */
static inline __attribute__((always_inline)) bool
gpa_xlate_body(struct walk *w, uint64_t gpa, const struct ept_access *acc, unsigned row,
	       int guest_level, struct xlate *out, const struct mmu_layout *L)
{
	struct mmu *m = w->m;
	struct ept *ept = w->ept;
	struct walk_start start, *startp = NULL;
	struct ept_walk_start estart;
	struct ept_walk_result r;
	struct walk_path p;
	const uint64_t *tables, *perms_at;
	unsigned start_level, i;
	bool nt_missed = true, quick;
	struct cache *t;

	if (!ept) {
		/* No second stage: the GPA is the HPA, inside the pool or nowhere. */
		if (!hpa_in_pool(m, gpa, 8)) {
			w->res->status = MMU_EPT_VIOLATION;
			w->res->gpa = gpa;
			w->res->qual = (acc->paging_entry ? EPT_QUAL_READ :
					acc->type == ACC_WRITE ? EPT_QUAL_WRITE :
					acc->type == ACC_FETCH ? EPT_QUAL_FETCH : EPT_QUAL_READ) |
				       EPT_QUAL_GLA_VALID | (acc->paging_entry ? 0 : EPT_QUAL_GLA_XLATE);
			m->st.ept_violations++;
			return false;
		}
		out->hpa = gpa;
		out->perms = EPT_RWX | EPT_XU;
		out->dirty = true;
		out->shift = PAGE_SHIFT_1G;
		while (out->shift > PAGE_SHIFT_4K &&
		       !hpa_in_pool(m, gpa & ~((1ULL << out->shift) - 1), 1ULL << out->shift))
			out->shift -= 9;
		return true;
	}

	start_level = ept->levels;
	if (!lay_gp_any(m, L))
		goto walk;

	/* SDM 28.3.2: guest-physical mappings (the nested TLB), any page size. */
	if (lay_on(m, L, NESTED_TLB)) {
		struct cache_entry *e;

		t = m->t[NESTED_TLB];
		e = nested_find(w, L, gpa, 0);
		/* The larger sizes, unless the structure never held either. */
		if (!e && (t->held_shifts & ((1ULL << PAGE_SHIFT_2M) | (1ULL << PAGE_SHIFT_1G)))) {
			e = nested_find(w, L, gpa, 1);
			if (!e)
				e = nested_find(w, L, gpa, 2);
		}
		if (e) {
			uint64_t perms = ept_perms_from_bits(e->attr);
			const bool need_dirty = ept->ad && (acc->type == ACC_WRITE || acc->paging_entry);

			/* An entry that cannot serve this access is re-walked (and refilled). */
			if (ept_allows(ept, perms, acc) && (!need_dirty || (e->attr & NA_DIRTY))) {
				unsigned sh = cache_key_shift(e->key);

				lay_hit(m, NESTED_TLB, t, e);
				trace_hit(w, NESTED_TLB);
				out->hpa = e->val | (gpa & ((1ULL << sh) - 1));
				out->shift = sh;
				out->perms = perms;
				out->dirty = (e->attr & NA_DIRTY) != 0;
				return true;
			}
			nt_missed = false;   /* refilled in place below */
		}
		lay_miss(m, NESTED_TLB);
	}

	/* SDM 28.3.1: guest-physical paging-structure caches, deepest first. */
	if (gp_probe(w, L, gpa, 1, &start)) {
		/* The usual case: one entry of hv's own tables, with the walk's
		 * end folded for a walk that began at level 1 (no guest-physical
		 * cache to fill). Anything else takes the general path below. */
		if (L->known && !w->trace && ept->std4_own &&
		    start.table <= ept->pool->size - PAGE_SIZE_4K) {
			const struct walk_start s1 = { .level = 1, .table = start.table,
						       .and_bits = start.and_bits };
			struct ept_walk_result r1;
			struct walk_path p1;

			if (ept_quick_own4(ept, acc, &s1, gpa, &p1)) {
				quick_result(&p1, &r1);
				return gpa_xlate_end(w, gpa, row, 1, &r1, NULL, NULL, nt_missed, true,
						     out, L);
			}
		}
		start_level = 1;
	} else if (gp_probe(w, L, gpa, 2, &start))
		start_level = 2;
	else if (gp_probe(w, L, gpa, 3, &start))
		start_level = 3;
	if (start_level < ept->levels)
		startp = &start;

walk:
	quick = !w->trace && ept_walk_quick_lay(ept, acc, startp, gpa, &p, L);
	if (quick) {
		quick_result(&p, &r);
		tables = p.table;
		perms_at = p.and_at;
	} else {
		if (startp)
			estart = (struct ept_walk_start){ .level = start.level, .table = start.table,
							  .perms = start.and_bits };
		if (ept_walk(ept, gpa, acc, startp ? &estart : NULL, &r) != 0) {
			r.status = EPT_MISCONFIG;
			r.refs = 0;
			r.ad_writes = 0;
		}
		/* EPT A/D updates: entries the walker changed (SDM 29.3.5). */
		m->st.ept_ad_writes += r.ad_writes;
		tables = r.table;
		perms_at = r.perms_at;
		if (w->trace)
			for (i = 0; i < r.refs; i++)
				trace_ref(w, guest_level, (int)(start_level - i), gpa,
					  i < r.nref ? r.ref[i].entry_hpa : 0,
					  i < r.nref ? r.ref[i].value : 0);
	}
	return gpa_xlate_end(w, gpa, row, start_level, &r, tables, perms_at, nt_missed, quick, out, L);
}

/* gpa_xlate_body out of line, an instance per layout. */
static __attribute__((noinline)) bool
gpa_xlate_any(struct walk *w, uint64_t gpa, const struct ept_access *acc, unsigned row,
	      int guest_level, struct xlate *out)
{
	return gpa_xlate_body(w, gpa, acc, row, guest_level, out, &layout_any);
}

/* The second stage reads only the guest-physical structures (the nested
 * TLB and the guest-physical paging-structure caches), which every Intel
 * preset has alike (MMU_INTEL_PWC) and every AMD one (MMU_AMD_PWC): one
 * instance for each vendor. */
static __attribute__((noinline)) bool
gpa_xlate_intel(struct walk *w, uint64_t gpa, const struct ept_access *acc, unsigned row,
		int guest_level, struct xlate *out)
{
	return gpa_xlate_body(w, gpa, acc, row, guest_level, out, &layout_skylake);
}

static __attribute__((noinline)) bool
gpa_xlate_amd(struct walk *w, uint64_t gpa, const struct ept_access *acc, unsigned row,
	      int guest_level, struct xlate *out)
{
	return gpa_xlate_body(w, gpa, acc, row, guest_level, out, &layout_zen2);
}

/* The instance for the walk's layout. */
static inline __attribute__((always_inline)) bool
gpa_xlate_slow(struct walk *w, uint64_t gpa, const struct ept_access *acc, unsigned row,
	       int guest_level, struct xlate *out)
{
	switch (w->lid) {
	case LAYOUT_SKYLAKE:
	case LAYOUT_GOLDENCOVE:
		return gpa_xlate_intel(w, gpa, acc, row, guest_level, out);
	case LAYOUT_ZEN2:
	case LAYOUT_ZEN4:
		return gpa_xlate_amd(w, gpa, acc, row, guest_level, out);
	default:
		return gpa_xlate_any(w, gpa, acc, row, guest_level, out);
	}
}

/*
 * The common case of gpa_xlate, small enough to inline into the walk: no
 * guest-physical caches to consult or fill, no trace, and an EPT walk the
 * fast walker accepts. Everything else takes gpa_xlate_slow.
 */
static inline __attribute__((always_inline)) bool
gpa_xlate(struct walk *w, uint64_t gpa, const struct ept_access *acc,
	  unsigned row, int guest_level, struct xlate *out)
{
	struct walk_path p;
	uint64_t *cell;
	unsigned i;

	if (!w->ept || w->m->gp_any || w->trace || !ept_walk_quick(w->ept, acc, gpa, &p))
		return gpa_xlate_slow(w, gpa, acc, row, guest_level, out);
	w->refs += p.n;
	/* From the top level: 1..5 references, in cells from the first. */
	cell = &w->m->st.grid[row][5 - w->ept->levels];
	for (i = 0; i < p.n; i++)
		cell[i]++;
	out->hpa = p.addr;
	out->shift = p.shift;
	out->perms = p.and_acc & EPT_PERM_BITS;
	out->dirty = !w->ept->ad || (p.ref[p.n - 1].value & EPT_D);
	return true;
}

/*
 * The second stage of the final GPA, in the walk's own instance: for a known
 * layout with guest-physical structures, gpa_xlate always takes
 * gpa_xlate_slow's instance for the layout's vendor; its body is inline
 * here instead, with the walk's state in registers and no call.
 */
static inline __attribute__((always_inline)) bool
gpa_xlate_final(struct walk *w, uint64_t gpa, const struct ept_access *acc, struct xlate *out,
		const struct mmu_layout *L)
{
	if (L->known && lay_gp_any(w->m, L))
		return gpa_xlate_body(w, gpa, acc, w->levels, 0, out,
				      L->id == LAYOUT_SKYLAKE || L->id == LAYOUT_GOLDENCOVE
				      ? &layout_skylake : &layout_zen2);
	return gpa_xlate(w, gpa, acc, w->levels, 0, out);
}

/* 32-bit paging, 4 MiB page (SDM 4.3, Table 4-4): PA[31:22] from bits 31:22,
 * PA[39:32] from bits 20:13 (PSE-36/40). */
static uint64_t pse_frame(uint64_t e, unsigned level)
{
	if (level == 2)
		return (e & 0xffc00000ULL) | ((e & 0x1fe000ULL) << 19);
	return e & 0xfffff000ULL;
}

/*
 * The guest's paging format under ctx (SDM 4.3, 4.4, 4.5): 32-bit, PAE (the
 * two levels below the PDPTE registers) or 4/5-level, with the reserved
 * bits of Tables 4-4..4-20: XD without EFER.NXE, bits 62:52 under PAE, PS
 * above level 3, the address bits below a large page (bit 12 is PAT), bits
 * 51:M for the guest's MAXPHYADDR M (ctx->maxphyaddr), and bits 21:(M-19)
 * of a 32-bit 4 MiB PDE (M at most 40 there).
 */
void mmu_guest_fmt_init(struct walk_fmt *f, const struct mmu_ctx *ctx, unsigned levels, bool pae)
{
	bool nxe = (ctx->efer & EFER_NXE) != 0;
	uint64_t all = 0;
	unsigned l;

	memset(f, 0, sizeof(*f));
	f->levels = levels;
	f->present = PTE_P;
	f->ps = PTE_PS;
	f->and_bits = PTE_W | PTE_U;
	f->a = PTE_A;
	f->d = PTE_D;
	/* SDM 4.8: A in a table entry as soon as the walk uses it. */
	f->ad_tables_early = true;
	if (levels == 2 && !pae) {
		f->name = "32-bit";
		f->esz = 4;
		f->addr = 0xfffff000ULL;
		f->shift[1] = 12;
		f->shift[2] = 22;
		f->ibits[1] = f->ibits[2] = 10;
		if (ctx->cr4 & CR4_PSE) {
			/* Table 4-4: bits 21:(M-19) of a 4 MiB PDE, M = min(MAXPHYADDR, 40). */
			unsigned m = ctx->maxphyaddr && ctx->maxphyaddr < 40 ? ctx->maxphyaddr : 40;

			f->large = 1u << 2;
			f->rsvd_page[2] = ((1ULL << 22) - 1) & ~((1ULL << (m - 19)) - 1);
			f->frame = pse_frame;
		}
		return;
	}
	if (ctx->efer & EFER_LMA) {
		*f = (struct walk_fmt)GUEST_IA32E_FMT(levels, nxe);
		for (l = 1; l <= levels; l++) {
			f->rsvd_table[l] |= phys_rsvd(ctx);
			f->rsvd_page[l] |= phys_rsvd(ctx);
		}
		/* The one-test shortcut must see them too (walk_fmt_check). */
		f->tbl_mask |= phys_rsvd(ctx);
		return;
	}
	/* PAE: the directory and table levels; bits 62:52 are reserved as well. */
	f->name = "PAE";
	f->esz = 8;
	f->addr = PTE_ADDR_MASK;
	f->or_bits = nxe ? PTE_XD : 0;
	f->large = 1u << 2;
	all = GUEST_XD_RSVD(nxe) | 0x7ff0000000000000ULL | phys_rsvd(ctx);
	for (l = 1; l <= 2; l++) {
		f->shift[l] = (uint8_t)(PAGE_SHIFT_4K + 9 * (l - 1));
		f->ibits[l] = 9;
		f->rsvd_table[l] = all;
		f->rsvd_page[l] = all;
	}
	f->rsvd_page[2] |= 0x1fe000ULL;
}

static const enum tlb_id pwc_for_level[6] = { 0, 0, PWC_PDE, PWC_PDPTE, PWC_PML4, PWC_PML5 };

static void page_fault(struct walk *w, bool present, bool rsvd)
{
	struct cache_inval inv = { .flags = CACHE_INV_VMID | CACHE_INV_ASID_OR_G | CACHE_INV_ADDR, .vmid = w->tag->vmid,
				 .asid = w->tag->asid, .addr = w->gva };
	struct cache_inval pw = { .flags = CACHE_INV_VMID | CACHE_INV_ASID | CACHE_INV_KEY, .vmid = w->tag->vmid,
				.asid = w->tag->asid };
	unsigned n = w->levels, ib = n == 2 && !w->pae ? 10 : 9;
	uint64_t va = w->gva & (n == 5 ? (1ULL << 57) - 1 : n == 4 ? (1ULL << 48) - 1 : 0xffffffffULL);
	unsigned i, lvl;

	w->res->status = MMU_PAGE_FAULT;
	w->res->pf_error = pf_code(w->ctx, w->access, present, rsvd) | (w->pk ? PF_PK : 0);
	w->m->st.page_faults++;
	/* SDM 4.10.4.1: a page fault invalidates the TLB entries for its address
	 * (a stale entry that could not serve the access must not survive it)
	 * and the paging-structure-cache entries of the current VPID and PCID
	 * that would be used for it (the keys guest_walk looks up). */
	for (i = TLB_L1I_4K; i <= TLB_L2_1G; i++)
		if (w->m->t[i])
			cache_invalidate(w->m->t[i], &inv);
	for (lvl = 2; w->m->pwc_any && lvl <= n; lvl++) {
		struct cache *t = w->m->t[pwc_for_level[lvl]];

		if (!t || (lvl == 5 && n != 5))
			continue;
		pw.key = cache_key(va, PAGE_SHIFT_4K + ib * (lvl - 1));
		cache_invalidate(t, &pw);
	}
}

/*
 * PAE paging (SDM 4.4): the four PDPTEs are registers loaded by MOV to CR3,
 * not part of a walk. The model has no place to hold them between MOV CR3 and
 * the walk, so it loads the one it needs at walk time, through EPT like the
 * processor's load, and counts neither its EPT references nor the read.
 * Problems the processor reports at MOV CR3 (#GP for reserved bits) show up
 * here as the #PF or EPT exit of the walk.
 */
#define PAE_PDPTE_RSVD 0xfff00000000001e6ULL   /* bits 63:52, 8:5, 2:1 (Table 4-8); and 51:M */

static bool pdpte_load(struct walk *w, uint64_t *out)
{
	uint64_t va = w->gva & 0xffffffffULL;
	uint64_t gpa = (w->ctx->cr3 & 0xffffffe0ULL) + ((va >> 30) & 3) * 8, hpa, e;

	if (w->ept) {
		struct ept_access acc = { .type = ACC_READ };
		struct ept_walk_result r;

		if (ept_walk(w->ept, gpa, &acc, NULL, &r) != 0)
			r.status = EPT_MISCONFIG;
		if (r.status == EPT_OK && !hpa_in_pool(w->m, r.hpa, 8))
			r.status = EPT_MISCONFIG;
		if (r.status != EPT_OK) {
			w->res->gpa = gpa;
			w->res->status = r.status == EPT_VIOLATION ? MMU_EPT_VIOLATION : MMU_EPT_MISCONFIG;
			w->res->qual = r.status == EPT_VIOLATION ? r.qual : 0;
			if (r.status == EPT_VIOLATION)
				w->m->st.ept_violations++;
			else
				w->m->st.ept_misconfigs++;
			return false;
		}
		hpa = r.hpa;
	} else {
		hpa = gpa;
		if (!hpa_in_pool(w->m, hpa, 8)) {
			w->res->gpa = gpa;
			w->res->status = MMU_EPT_VIOLATION;
			w->res->qual = EPT_QUAL_READ;
			w->m->st.ept_violations++;
			return false;
		}
	}
	e = hpool_read64(w->m->pool, hpa);
	w->res->gpa = gpa;
	if (!(e & PTE_P)) {
		page_fault(w, false, false);
		return false;
	}
	if (e & (PAE_PDPTE_RSVD | phys_rsvd(w->ctx))) {
		page_fault(w, true, true);
		return false;
	}
	*out = e;
	return true;
}

/* Result of the guest walk that the TLB fill needs. */
struct guest_out {
	uint64_t gpa;
	unsigned shift;
	bool w, u, xd, global, dirty_known;
	unsigned pkey;
};

/* What the guest walk's hooks keep between references. */
struct gwalk {
	struct walk *w;
	uint64_t va;
	uint64_t table_hpa;       /* HPA of the table being read, when have_hpa */
	uint64_t table_perms;     /* EPT permissions of the page holding it */
	bool have_hpa;            /* a combined paging-structure cache gave the table's HPA */
	unsigned ib;              /* index bits of a level */
	unsigned tref[WALK_MAX_LEVELS];   /* trace: where step i's reference went */
};

/*
 * Where the guest entry at entry_gpa is: through the EPT walk of its GPA
 * (gpa_xlate), or straight from the table HPA a paging-structure cache gave.
 * Once the table's HPA is known, the entry above that pointed to it is
 * cached (its A flag is set by then, SDM 4.10.3.1).
 */
static inline __attribute__((always_inline)) bool gwalk_locate(void *arg, const struct walk_path *p, unsigned level,
			 uint64_t entry_gpa, uint64_t *entry_hpa)
{
	struct gwalk *g = arg;
	struct walk *w = g->w;
	struct mmu *m = w->m;
	uint64_t off = entry_gpa - p->table[level];
	struct ept_access entry_acc;
	struct xlate x;

	if (g->have_hpa) {
		g->have_hpa = false;
		*entry_hpa = g->table_hpa + off;
		if (!hpa_in_pool(m, *entry_hpa, w->levels == 2 && !w->pae ? 4 : 8)) {
			w->res->status = MMU_EPT_MISCONFIG;
			w->res->gpa = entry_gpa;
			m->st.ept_misconfigs++;
			return false;
		}
		return true;
	}
	/* Every guest entry read is a paging-structure read through EPT. */
	entry_acc = (struct ept_access){
		.type = ACC_READ, .paging_entry = true, .gla_valid = true, .gla = w->gva,
	};
	if (!gpa_xlate(w, entry_gpa, &entry_acc, w->levels - level, (int)level, &x))
		return false;
	*entry_hpa = x.hpa;
	g->table_hpa = x.hpa - off;
	g->table_perms = x.perms;
	if (level < w->levels && m->pwc_any) {
		struct cache *t = m->t[pwc_for_level[level + 1]];
		struct cache_entry *ce;
		unsigned shift = PAGE_SHIFT_4K + g->ib * (level - 1);

		/* guest_walk looked this level up and missed (it starts below a hit). */
		if (t && cache_fill_missed(t, cache_key(g->va, shift + g->ib), w->tag, false, &ce) == 0) {
			ce->val = g->table_hpa;
			ce->aux = p->table[level];
			ce->attr |= ((p->and_at[level] & PTE_W) ? CA_W : 0) |
				    ((p->and_at[level] & PTE_U) ? CA_U : 0) |
				    (p->or_at[level] ? CA_XD : 0) |
				    (ept_perm_bits(g->table_perms) << CA_EPT_SHIFT);
		}
	}
	return true;
}

static inline __attribute__((always_inline)) void gwalk_ref(void *arg, const struct walk_path *p,
							     const struct walk_step *r)
{
	struct gwalk *g = arg;
	struct walk *w = g->w;

	(void)p;
	w->refs++;
	w->m->st.grid[w->levels - r->level][5]++;
	if (w->trace) {
		g->tref[r - p->ref] = w->trace->n;
		trace_ref(w, (int)r->level, 0, r->entry_addr, r->entry_hpa, r->value);
	}
}

/* The trace shows each guest entry as the walk left it (after the A flags
 * set on the way down and the leaf's A/D), as it shows EPT entries. */
static void trace_guest_values(struct walk *w, const struct gwalk *g, const struct walk_path *p)
{
	unsigned i;

	if (!w->trace)
		return;
	for (i = 0; i < p->n; i++)
		if (g->tref[i] < w->trace->n)
			w->trace->ref[g->tref[i]].value = p->ref[i].value;
}

/*
 * Guest A/D writes (SDM 4.8). The write is an EPT access to the page holding
 * the entry: with EPT A/D on, the read was already treated as a write; with
 * it off, the update needs EPT write permission (SDM 29.3.3.2).
 */
static bool gwalk_ad(void *arg, const struct walk_path *p, const struct walk_step *r, uint64_t nv)
{
	struct gwalk *g = arg;
	struct walk *w = g->w;

	(void)p;
	(void)nv;
	if (w->ept && !w->ept->ad && !(g->table_perms & EPT_W)) {
		w->res->status = MMU_EPT_VIOLATION;
		w->res->gpa = r->entry_addr;
		w->res->qual = EPT_QUAL_WRITE | qual_perm_bits(g->table_perms, w->ept->caps.mbec) |
			       EPT_QUAL_GLA_VALID;
		w->m->st.ept_violations++;
		return false;
	}
	w->m->st.guest_ad_writes++;
	return true;
}

static const struct walk_ops gwalk_ops = {
	.locate = gwalk_locate, .ref = gwalk_ref, .ad = gwalk_ad,
};

/*
 * The guest dimension of the walk (SDM 4.5): the walker over the guest's
 * format f, each table address translated through gpa_xlate by the locate
 * hook. Returns false with w->res filled on a fault.
 */
/* The combined paging-structure cache of level lvl (2..5): its lookup of the
 * walk's address (hit: counted, the walk starts below it), or its miss counted. */
static inline __attribute__((always_inline)) bool
pwc_probe(struct walk *w, const struct mmu_layout *L, struct gwalk *g, unsigned lvl,
	  struct walk_start *start)
{
	const unsigned id = pwc_for_level[lvl];
	struct cache_entry *ce;
	struct cache *t;

	if (!lay_on(w->m, L, id))
		return false;
	t = w->m->t[id];
	ce = cache_find_at_s(t, g->va, PAGE_SHIFT_4K + g->ib * (lvl - 1), w->tag, lay_shape(L, id));
	if (!ce) {
		lay_miss(w->m, id);
		return false;
	}
	lay_hit(w->m, id, t, ce);
	trace_hit(w, (enum tlb_id)id);
	*start = (struct walk_start){
		.level = lvl - 1, .table = ce->aux,
		.and_bits = ((ce->attr & CA_W) ? PTE_W : 0) | ((ce->attr & CA_U) ? PTE_U : 0),
		.or_bits = (ce->attr & CA_XD) ? PTE_XD : 0,
	};
	g->table_hpa = ce->val;
	g->table_perms = ept_perms_from_bits((ce->attr & CA_EPT_MASK) >> CA_EPT_SHIFT);
	g->have_hpa = true;
	return true;
}

/* The end of the guest walk (guest_walk_fmt) once walk_body returned st:
 * a fault reported, the access checked, the leaf's A/D flags, the result. */
static inline __attribute__((always_inline)) bool
guest_walk_end(struct walk *w, struct guest_out *out, const struct walk_fmt *f, struct gwalk *g,
	       struct walk_path *p, enum walk_status st)
{
	const struct mmu_ctx *ctx = w->ctx;
	struct mmu *m = w->m;
	uint64_t e;
	bool ok;

	trace_guest_values(w, g, p);
	if (st == WALK_STOPPED)
		return false;
	if (st != WALK_OK) {
		w->res->gpa = p->ref[p->n - 1].entry_addr;
		page_fault(w, st == WALK_RESERVED, st == WALK_RESERVED);
		return false;
	}
	e = p->ref[p->n - 1].value;
	/* SDM 4.7: PK is set whenever the keys forbid the access, whatever else does. */
	w->pk = pk_denies(ctx, w->access, p->and_acc & PTE_U, pte_pkey(e));
	if (!guest_allows_inline(ctx, w->access, p->and_acc & PTE_W, p->and_acc & PTE_U, p->or_acc != 0) ||
	    w->pk) {
		w->res->gpa = p->ref[p->n - 1].entry_addr;
		page_fault(w, true, false);
		return false;
	}
	/* A on the leaf, and D on a write, only for an access that proceeds. */
	ok = walk_set_ad_body(f, m->pool, &gwalk_ops, g, p, (w->access & ACC_WRITE) != 0);
	trace_guest_values(w, g, p);
	if (!ok)
		return false;
	out->gpa = p->addr;
	out->shift = p->shift;
	out->w = (p->and_acc & PTE_W) != 0;
	out->u = (p->and_acc & PTE_U) != 0;
	out->xd = p->or_acc != 0;
	out->global = (e & PTE_G) && (ctx->cr4 & CR4_PGE);
	out->dirty_known = (e & PTE_D) || (w->access & ACC_WRITE);
	out->pkey = pte_pkey(e);
	return true;
}

static inline __attribute__((always_inline)) bool
guest_walk_fmt(struct walk *w, struct guest_out *out, const struct walk_fmt *f,
	       const struct mmu_layout *L)
{
	const struct mmu_ctx *ctx = w->ctx;
	struct mmu *m = w->m;
	unsigned n = w->levels;
	struct gwalk g = { .w = w, .table_perms = EPT_RWX | EPT_XU, .ib = f->ibits[1] };
	struct walk_start start, *startp = NULL;
	uint64_t root = ctx->cr3 & f->addr, addr;
	struct walk_path p;
	enum walk_status st;

	g.va = w->gva & (n == 5 ? (1ULL << 57) - 1 : n == 4 ? (1ULL << 48) - 1 : 0xffffffffULL);
	/* SDM 4.10.3.2 / 28.3.2: the deepest combined paging-structure cache hit. */
	if (lay_pwc_any(m, L) &&
	    (pwc_probe(w, L, &g, 2, &start) || (n >= 3 && pwc_probe(w, L, &g, 3, &start)) ||
	     (n >= 4 && pwc_probe(w, L, &g, 4, &start)) || (n >= 5 && pwc_probe(w, L, &g, 5, &start))))
		startp = &start;
	if (w->pae && !startp) {
		uint64_t pdpte;

		if (!pdpte_load(w, &pdpte))
			return false;
		start = (struct walk_start){ .level = 2, .table = pdpte & PTE_ADDR_MASK,
					     .and_bits = PTE_W | PTE_U };
		startp = &start;
	}
	/* PAE: bits 31:30 chose the PDPTE register; the walk indexes 29:0. */
	addr = w->pae ? g.va & ((1ULL << 30) - 1) : g.va;
	/* The walker inline, its hooks folded in (the walk of every cached miss);
	 * from a PDE-cache hit, the usual case, with the level a constant (and
	 * a path of its own, so that what nothing reads is not stored). */
	if (startp && start.level == 1) {
		const struct walk_start s1 = { .level = 1, .table = start.table,
					       .and_bits = start.and_bits, .or_bits = start.or_bits };
		struct walk_path p1;

		st = walk_body(f, m->pool, &gwalk_ops, &g, root, &s1, addr, &p1);
		return guest_walk_end(w, out, f, &g, &p1, st);
	}
	st = walk_body(f, m->pool, &gwalk_ops, &g, root, startp, addr, &p);
	return guest_walk_end(w, out, f, &g, &p, st);
}

/* guest_walk_fmt over the guest's format, with the usual 4-level IA-32e
 * formats as const descriptors (the compiler folds each into its walk). */
static inline __attribute__((always_inline)) bool
guest_walk(struct walk *w, struct guest_out *out, const struct mmu_layout *L)
{
	const struct mmu_ctx *ctx = w->ctx;

	if (w->levels == 4 && !phys_rsvd(ctx))
		return (ctx->efer & EFER_NXE) ? guest_walk_fmt(w, out, &guest_ia32e_fmt[0][1], L)
					      : guest_walk_fmt(w, out, &guest_ia32e_fmt[0][0], L);
	return guest_walk_fmt(w, out, &w->m->gfmt, L);
}

/* ------------------------------------------------------------------------ */
/* Combined TLB lookup and fill                                             */
/* ------------------------------------------------------------------------ */

/* The L1 structures of data [0] and code [1] accesses, by page size (4K, 2M, 1G). */
static const enum tlb_id l1_for[2][3] = {
	{ TLB_L1D_4K, TLB_L1D_2M, TLB_L1D_1G },
	/* SDM 4.10.2.3: 1 GiB code pages are held by the iTLB as 2 MiB pieces. */
	{ TLB_L1I_4K, TLB_L1I_2M, MMU_NSTRUCT },
};
static const unsigned size_shift[3] = { PAGE_SHIFT_4K, PAGE_SHIFT_2M, PAGE_SHIFT_1G };

static inline __attribute__((always_inline)) bool combined_usable(const struct walk *w,
								   const struct cache_entry *e)
{
	const struct mmu_ctx *ctx = w->ctx;
	uint32_t a = e->attr;
	struct ept_access acc = {
		.type = w->access & (ACC_READ | ACC_WRITE | ACC_FETCH),
		.user = (a & CA_U) && w->levels,
	};

	if (w->levels && (!guest_allows_inline(ctx, w->access, a & CA_W, a & CA_U, a & CA_XD) ||
			  pk_denies(ctx, w->access, a & CA_U, CA_PKEY(a))))
		return false;
	if (w->ept && !ept_allows(w->ept, ept_perms_from_bits((a & CA_EPT_MASK) >> CA_EPT_SHIFT), &acc))
		return false;
	return !(w->access & ACC_WRITE) || (a & CA_DIRTY);
}

/*
 * combined_usable as one test on the payload, for accesses like `access`
 * under the current context: which of CA_W, CA_U, CA_XD, CA_DIRTY and the
 * EPT bits must be set or clear. SDM 4.6 (guest_allows_inline): a user
 * access needs U, W to write and no XD to fetch; a supervisor fetch needs
 * no XD, and no U under SMEP; a supervisor data access needs no U under
 * SMAP unless it is explicit with EFLAGS.AC set, and W to write under
 * CR0.WP. SDM 29.3.3.2 (ept_allows): R, W or X for a read, write or fetch.
 * A write needs CA_DIRTY. What depends on more than the bits (XU with
 * mode-based execute control, protection keys) or an access of two types
 * takes the full check: MMU_USE_FULL.
 */
static void use_rule(const struct mmu *m, const struct mmu_ctx *ctx, unsigned access,
		     struct mmu_use *u)
{
	const unsigned type = access & (ACC_READ | ACC_WRITE | ACC_FETCH);
	const bool implicit = (access & ACC_IMPLICIT_SV) != 0;
	uint32_t mask = 0, val = 0;

	*u = (struct mmu_use){ 0, MMU_USE_FULL };
	if (type != ACC_READ && type != ACC_WRITE && type != ACC_FETCH)
		return;
	if (m->cur.levels) {
		if ((ctx->cr4 & (CR4_PKE | CR4_PKS)) && type != ACC_FETCH && (ctx->efer & EFER_LMA))
			return;
		if (ctx->cpl == 3 && !implicit) {
			mask |= CA_U | (type == ACC_WRITE ? CA_W : 0) | (type == ACC_FETCH ? CA_XD : 0);
			val |= CA_U | (type == ACC_WRITE ? CA_W : 0);
		} else if (type == ACC_FETCH) {
			mask |= CA_XD | ((ctx->cr4 & CR4_SMEP) ? CA_U : 0);
		} else {
			if ((ctx->cr4 & CR4_SMAP) && (implicit || !(ctx->rflags & RFLAGS_AC)))
				mask |= CA_U;
			if (type == ACC_WRITE && (ctx->cr0 & CR0_WP)) {
				mask |= CA_W;
				val |= CA_W;
			}
		}
	}
	if (ctx->ept) {
		const uint32_t bit = type == ACC_WRITE ? EPT_W : type == ACC_FETCH ? EPT_X : EPT_R;

		if (type == ACC_FETCH && ctx->ept->caps.mbec)
			return;
		mask |= bit << CA_EPT_SHIFT;
		val |= bit << CA_EPT_SHIFT;
	}
	if (type == ACC_WRITE) {
		mask |= CA_DIRTY;
		val |= CA_DIRTY;
	}
	*u = (struct mmu_use){ mask, val };
}

void mmu_use_rule(struct mmu *m, unsigned access)
{
	const unsigned i = use_index(access);

	use_rule(m, &m->last, access, &m->cur.use[i]);
	m->cur.use_ok |= 1u << i;
}

bool mmu_use_rule_agrees(struct mmu *m, const struct mmu_ctx *ctx, unsigned access, uint32_t attr)
{
	struct walk w = { .m = m, .ctx = ctx, .ept = ctx->ept, .access = access };
	struct cache_entry e = { .attr = attr };
	struct mmu_use u;

	mmu_set_ctx(m, ctx);
	w.levels = m->cur.levels;
	use_rule(m, ctx, access, &u);
	if (u.val == MMU_USE_FULL)
		return true;
	return ((attr & u.mask) == u.val) == combined_usable(&w, &e);
}

/* combined_usable out of line, from the current context alone. */
static __attribute__((noinline)) bool usable_full(struct mmu *m, unsigned access, uint32_t attr)
{
	struct walk w = { .m = m, .ctx = &m->last, .ept = m->last.ept, .access = access,
			  .levels = m->cur.levels };
	struct cache_entry e = { .attr = attr };

	return combined_usable(&w, &e);
}

/* Whether entry e serves the access: over a known layout through the
 * current context's rule (use_rule), else the full check. */
static inline __attribute__((always_inline)) bool usable(const struct walk *w,
							  const struct mmu_layout *L,
							  const struct cache_entry *e)
{
	struct mmu *m = w->m;
	const unsigned i = use_index(w->access);
	const struct mmu_use *u = &m->cur.use[i];

	if (!L->known)
		return combined_usable(w, e);
	if (__builtin_expect(!((m->cur.use_ok >> i) & 1), 0))
		mmu_use_rule(m, w->access);
	if (__builtin_expect((e->attr & u->mask) == u->val, 1))
		return true;
	return u->val == MMU_USE_FULL && usable_full(m, w->access, e->attr);
}

/* The payload of a combined TLB entry for gva's page of dst_shift, from
 * src's of src_shift (the same or larger: a page splintered). */
struct payload {
	uint64_t val, aux;
	uint32_t attr;
};

static inline __attribute__((always_inline)) struct payload
payload_of(const struct cache_entry *src, unsigned src_shift, uint64_t gva, unsigned dst_shift)
{
	uint64_t off = gva & ((1ULL << src_shift) - 1) & ~((1ULL << dst_shift) - 1);

	return (struct payload){ src->val + off, src->aux + off, src->attr };
}

static inline __attribute__((always_inline)) void put_payload(struct cache_entry *dst,
							       struct payload p)
{
	dst->val = p.val;
	dst->aux = p.aux;
	dst->attr = p.attr;
}

/*
 * Drop the shortcut slots of page vpn (slot index i = mmu_hit_index(vpn)),
 * but for kind `keep`, whose slot the caller refills before anything reads
 * it (NKIND: none).
 */
static inline __attribute__((always_inline)) void sc_forget_vpn(struct mmu *m, uint64_t vpn,
								 unsigned i, unsigned keep)
{
	struct mmu_hit_slot *s = &m->hit.slot[0][i];
	unsigned k;

	/* One slot index for every kind. */
#pragma GCC unroll 3
	for (k = 0; k < NKIND; k++)
		if (k != keep && s[k * MMU_HIT_SLOTS].tag >> 12 == vpn)
			s[k * MMU_HIT_SLOTS].tag = 0;
}

/* The kind whose slot a translation of `access` (of kind `kind`,
 * access_kind(access), which the caller has made already) that serves it
 * refills (sc_install): under a known layout every translation that does
 * not fail installs one, unless it is an implicit supervisor access. */
static inline __attribute__((always_inline)) unsigned sc_keep(const struct mmu_layout *L,
							       unsigned access, unsigned kind)
{
	return L->known && !(access & ACC_IMPLICIT_SV) ? kind : NKIND;
}

/*
 * Fill the L1 structure for this access (fetch: the iTLB) and page size sz
 * (0, 1, 2: 4K, 2M, 1G; a 1 GiB code page as a 2 MiB piece) from src, an
 * entry of that page size. missed: the lookup probed that structure at that
 * size and found nothing. Returns the entry, its structure (*owner) and page
 * shift (*shift), or NULL when there is none.
 */
static inline __attribute__((always_inline)) struct cache_entry *
fill_l1_at(struct walk *w, const struct mmu_layout *L, bool fetch, unsigned sz,
	   const struct cache_entry *src, bool global, bool missed, struct cache **owner,
	   unsigned *shift)
{
	unsigned id = l1_for[fetch][sz], dshift = size_shift[sz];
	struct cache_entry *e;
	struct cache *t;
	struct payload pl;

	if (id == MMU_NSTRUCT) {
		id = l1_for[fetch][1];
		dshift = PAGE_SHIFT_2M;
	}
	if (!lay_on(w->m, L, id))
		return NULL;
	t = w->m->t[id];
	/* Read before the fill's stores, which the compiler cannot tell
	 * apart from src. */
	pl = payload_of(src, size_shift[sz], w->gva, dshift);
	if (missed) {
		if (cache_fill_missed_s(t, cache_key(w->gva, dshift), w->tag, global, &e,
					lay_shape(L, id)) != 0)
			return NULL;
	} else {
		if (cache_fill(t, cache_key(w->gva, dshift), w->tag, global, &e) != 0)
			return NULL;
	}
	put_payload(e, pl);
	*owner = t;
	*shift = dshift;
	return e;
}

/* fill_l1_at for an entry of page shift `shift`, each size its own instance. */
static inline __attribute__((always_inline)) struct cache_entry *
fill_l1(struct walk *w, const struct mmu_layout *L, bool fetch, unsigned shift,
	const struct cache_entry *src, bool global, bool missed, struct cache **owner,
	unsigned *eshift)
{
	switch (shift) {
	case PAGE_SHIFT_4K:
		return fill_l1_at(w, L, fetch, 0, src, global, missed, owner, eshift);
	case PAGE_SHIFT_2M:
		return fill_l1_at(w, L, fetch, 1, src, global, missed, owner, eshift);
	default:
		return fill_l1_at(w, L, fetch, 2, src, global, missed, owner, eshift);
	}
}

/* Make e (in structure t, of page shift `shift`) serve gva's page from the
 * shortcut (slot index hidx of kind). */
static inline __attribute__((always_inline)) void
sc_install(struct mmu *m, const struct mmu_layout *L, unsigned kind, unsigned hidx, uint64_t gva,
	   struct cache *t, struct cache_entry *e, unsigned shift)
{
	struct mmu_hit_slot *s;
	uint64_t off;

	if (!t || (!L->known && cache_is_perfect(t)))
		return;
	s = &m->hit.slot[kind][hidx];
	off = gva & ((1ULL << shift) - 1) & ~0xfffULL;
	/* Everything read before the first store, which the compiler cannot
	 * tell apart from what it reads. */
	*s = (struct mmu_hit_slot){
		.tag = (gva & ~0xfffULL) | m->hit.gen,
		.hpa = e->val + off,
		.gpa = e->aux + off,
		.lru = cache_lru(t, e),
		.clock = &t->clock,
		.hits = &t->st->hits,
		.gen = &e->gen,
		.egen = e->gen,
		.shift = shift,
	};
}

static inline __attribute__((always_inline)) void
result_from_entry(struct mmu_result *res, const struct cache_entry *e, uint64_t gva,
		  unsigned shift)
{
	uint64_t off = gva & ((1ULL << shift) - 1);

	/* Every field: nothing else has written the result. */
	*res = (struct mmu_result){ .status = MMU_OK, .hpa = e->val + off, .gpa = e->aux + off,
				    .gva = gva, .page_shift = shift, .tlb_hit = true };
}

/* A TLB hit on e (in structure t, of page shift `shift`, known where the
 * lookup found it) that serves the access: the result, and the shortcut's
 * slot. */
static inline __attribute__((always_inline)) void
tlb_serve(struct walk *w, const struct mmu_layout *L, struct cache *t, struct cache_entry *e,
	  unsigned shift)
{
	result_from_entry(w->res, e, w->gva, shift);
	if (!(w->access & ACC_IMPLICIT_SV))
		sc_install(w->m, L, access_kind(w->access), w->hidx, w->gva, t, e, shift);
}

/* The lookup of gva at page size sz (0, 1, 2: 4K, 2M, 1G) in structure id
 * (on): a 4 KiB key and its fingerprint are made once for every structure. */
static inline __attribute__((always_inline)) struct cache_entry *
tlb_find(struct walk *w, const struct mmu_layout *L, unsigned id, unsigned sz)
{
	struct cache *t = w->m->t[id];

	if (!((t->held_shifts >> size_shift[sz]) & 1))
		return NULL;
	if (sz == 0)
		return cache_find_held_fp_s(t, w->key4k, w->fp4k, w->tag, lay_shape(L, id));
	return cache_find_held_s(t, cache_key(w->gva, size_shift[sz]), w->tag, lay_shape(L, id));
}

/* The L1 lookup at page size sz: a hit is counted and LRU-stamped (*ok:
 * it serves the access, and tlb_serve has made the result); a miss is
 * counted by l1_miss, once every size has missed. */
static inline __attribute__((always_inline)) struct cache_entry *
l1_probe(struct walk *w, const struct mmu_layout *L, bool fetch, unsigned sz, bool *ok)
{
	const unsigned id = l1_for[fetch][sz];
	struct cache_entry *e;
	struct cache *t;

	if (!lay_on(w->m, L, id))
		return NULL;
	t = w->m->t[id];
	e = tlb_find(w, L, id, sz);
	if (e) {
		lay_hit(w->m, id, t, e);
		trace_hit(w, (enum tlb_id)id);
		*ok = usable(w, L, e);
		if (*ok)
			tlb_serve(w, L, t, e, size_shift[sz]);
	}
	return e;
}

static inline __attribute__((always_inline)) void
l1_miss(struct walk *w, const struct mmu_layout *L, bool fetch, unsigned sz)
{
	if (lay_on(w->m, L, l1_for[fetch][sz]))
		lay_miss(w->m, l1_for[fetch][sz]);
}

/* The L2 lookup at page size sz (4K and 2M in one structure, 1G in
 * another). A hit fills the L1 from it and returns the L1 entry (or the L2
 * one when the L1 has no structure for it); *ok: it serves the access (the
 * L1 entry is a copy), and tlb_serve has made the result. */
static inline __attribute__((always_inline)) struct cache_entry *
l2_probe(struct walk *w, const struct mmu_layout *L, bool fetch, unsigned sz, bool *ok)
{
	const unsigned id = sz < 2 ? TLB_L2_4K2M : TLB_L2_1G;
	struct cache_entry *e, *l1;
	struct cache *t, *owner;
	unsigned shift;

	if (!lay_on(w->m, L, id))
		return NULL;
	t = w->m->t[id];
	e = tlb_find(w, L, id, sz);
	if (!e)
		return NULL;
	lay_hit(w->m, id, t, e);
	trace_hit(w, (enum tlb_id)id);
	*ok = usable(w, L, e);
	/* An entry that serves the access gets its slot (sc_install); else a
	 * walk follows, which drops the slots again before its fills. */
	sc_forget_vpn(w->m, w->gva >> 12, w->hidx,
		      *ok ? sc_keep(L, w->access, access_kind(w->access)) : NKIND);
	l1 = fill_l1_at(w, L, fetch, sz, e, e->global, true, &owner, &shift);
	if (!l1) {
		l1 = e;
		owner = t;
		shift = size_shift[sz];
	}
	if (*ok)
		tlb_serve(w, L, owner, l1, shift);
	return l1;
}

/* SDM 4.10.2: L1 (by page size, split I/D), then the unified L2. */
static inline __attribute__((always_inline)) struct cache_entry *
combined_lookup(struct walk *w, const struct mmu_layout *L, bool fetch, bool *ok)
{
	struct cache_entry *e;

	if ((e = l1_probe(w, L, fetch, 0, ok)) || (e = l1_probe(w, L, fetch, 1, ok)) ||
	    (e = l1_probe(w, L, fetch, 2, ok)))
		return e;
	l1_miss(w, L, fetch, 0);
	l1_miss(w, L, fetch, 1);
	l1_miss(w, L, fetch, 2);
	if ((e = l2_probe(w, L, fetch, 0, ok)) || (e = l2_probe(w, L, fetch, 1, ok)) ||
	    (e = l2_probe(w, L, fetch, 2, ok)))
		return e;
	/* Each L2 structure counts one miss. */
	if (lay_on(w->m, L, TLB_L2_4K2M))
		lay_miss(w->m, TLB_L2_4K2M);
	if (lay_on(w->m, L, TLB_L2_1G))
		lay_miss(w->m, TLB_L2_1G);
	return NULL;
}

/* Fill L2 structure id (on) with key; missed: the lookup probed it for this
 * key and found nothing. */
static inline __attribute__((always_inline)) struct cache_entry *
fill_l2(struct walk *w, const struct mmu_layout *L, unsigned id, uint64_t key, bool global,
	bool missed)
{
	struct cache *t = w->m->t[id];
	struct cache_entry *e;

	if (missed) {
		if (cache_fill_missed_s(t, key, w->tag, global, &e, lay_shape(L, id)) != 0)
			return NULL;
	} else {
		if (cache_fill(t, key, w->tag, global, &e) != 0)
			return NULL;
	}
	return e;
}

/* ------------------------------------------------------------------------ */
/* mmu_translate's miss path                                                */
/* ------------------------------------------------------------------------ */

/*
 * The walk of a translation whose TLB lookup found nothing usable (missed:
 * found nothing at all), and the TLB fills after it, over layout L. w is
 * set up by translate_body.
 */
static inline __attribute__((always_inline)) void
walk_fill_body(struct walk *w, bool missed, const struct mmu_layout *L)
{
	struct mmu *m = w->m;
	struct mmu_result *res = w->res;
	const unsigned access = w->access, kind = access_kind(access);
	const uint64_t gva = w->gva;
	struct guest_out g = { 0 };
	struct ept_access acc;
	struct cache_entry *e, *l1;
	struct cache *owner;
	struct xlate x;
	unsigned cshift, eshift;

	m->st.walks++;
	if (w->levels) {
		if (!guest_walk(w, &g, L))
			goto walk_done;
	} else {
		g.gpa = gva;
		g.shift = PAGE_SHIFT_1G;
		g.w = g.u = true;
		g.dirty_known = true;
	}
	acc = (struct ept_access){
		.type = access & (ACC_READ | ACC_WRITE | ACC_FETCH),
		.user = g.u && w->levels,
		.gla_valid = true,
		.gla = gva,
		.guest_bits = w->levels ? ((g.u ? EPT_QUAL_GUEST_US : 0) | (g.w ? EPT_QUAL_GUEST_RW : 0) |
					   (g.xd ? EPT_QUAL_GUEST_XD : 0)) : 0,
	};
	if (!gpa_xlate_final(w, g.gpa, &acc, &x, L))
		goto walk_done;

	cshift = g.shift < x.shift ? g.shift : x.shift;
	if (cshift > PAGE_SHIFT_1G)
		cshift = PAGE_SHIFT_1G;
	else if (cshift > PAGE_SHIFT_2M && cshift < PAGE_SHIFT_1G)
		cshift = PAGE_SHIFT_2M;   /* 32-bit 4 MiB pages are cached as 2 MiB pieces */
	res->status = MMU_OK;
	res->hpa = x.hpa;
	res->gpa = g.gpa;
	res->page_shift = cshift;

	/* Fill L2 and L1 with the combined (splintered) translation. */
	if (lay_tlb_any(m, L)) {
		struct cache_entry tmp = { 0 };
		uint64_t mask = (1ULL << cshift) - 1;
		const bool small = cshift != PAGE_SHIFT_1G;

		tmp.key = cache_key(gva, cshift);
		tmp.val = x.hpa & ~mask;
		tmp.aux = g.gpa & ~mask;
		tmp.attr = (g.w ? CA_W : 0) | (g.u ? CA_U : 0) | (g.xd ? CA_XD : 0) |
			   (ept_perm_bits(x.perms) << CA_EPT_SHIFT) | (g.pkey << CA_PKEY_SHIFT);
		/*
		 * SDM 4.10.2.2 and 28.3.2: a combined mapping may serve a write
		 * without a walk when the guest's D flag and, with EPT A/D, the EPT
		 * leaf's D flag are both set already; a read that finds them set
		 * records that, so a store after a load walks again only when one
		 * of them is clear.
		 */
		if ((access & ACC_WRITE) || (g.dirty_known && x.dirty))
			tmp.attr |= CA_DIRTY;
		sc_forget_vpn(m, gva >> 12, w->hidx, sc_keep(L, access, kind));
		owner = NULL;
		e = NULL;
		eshift = cshift;
		if (small && lay_on(m, L, TLB_L2_4K2M))
			e = fill_l2(w, L, TLB_L2_4K2M, tmp.key, g.global, missed);
		else if (!small && lay_on(m, L, TLB_L2_1G))
			e = fill_l2(w, L, TLB_L2_1G, tmp.key, g.global, missed);
		if (e) {
			put_payload(e, payload_of(&tmp, cshift, gva, cshift));
			owner = m->t[small ? TLB_L2_4K2M : TLB_L2_1G];
		}
		l1 = kind == KIND_FETCH ? fill_l1(w, L, true, cshift, &tmp, g.global, missed, &owner, &eshift)
					: fill_l1(w, L, false, cshift, &tmp, g.global, missed, &owner, &eshift);
		if (l1)
			e = l1;
		/* The walk checked this access against the bits just filled
		 * (guest_walk, gpa_xlate), so the entry serves it. */
		if (e && !(access & ACC_IMPLICIT_SV))
			sc_install(m, L, kind, w->hidx, gva, owner, e, eshift);
	}

walk_done:
	res->refs = w->refs;
	m->st.walk_refs += w->refs;
	m->st.refs_hist[w->refs > MMU_MAX_REFS ? MMU_MAX_REFS : w->refs]++;
	if (res->status == MMU_EPT_VIOLATION || res->status == MMU_EPT_MISCONFIG)
		res->gva = gva;
}

/* The walk's state for a translation of gva (canonical, and 32 bits wide
 * outside IA-32e mode) under ctx. */
static inline __attribute__((always_inline)) void
walk_init(struct walk *w, struct mmu *m, const struct mmu_ctx *ctx, uint64_t gva,
	  unsigned access, struct mmu_result *res, struct walk_trace *trace,
	  const struct mmu_layout *L)
{
	w->lid = L->id;
	w->m = m;
	w->ctx = ctx;
	w->ept = ctx->ept;
	w->gva = gva;
	w->access = access;
	w->levels = m->cur.levels;
	w->pae = m->cur.pae;
	w->pk = false;
	w->trace = trace;
	w->refs = 0;
	w->res = res;
	w->hidx = mmu_hit_index(gva >> 12);
	w->tag = &m->cur.tag;
	w->gtag = &m->cur.gtag;
}

/* walk_fill_body out of line, an instance per layout, so that the TLB-hit
 * part of translate_body stays small and keeps its walk state in registers. */
#define WALK_FILL_INSTANCE(name, layout)                                                   \
	static __attribute__((noinline)) void name(struct mmu *m, const struct mmu_ctx *ctx,  \
						   uint64_t gva, unsigned access,              \
						   struct mmu_result *res,                     \
						   struct walk_trace *trace, bool missed)      \
	{                                                                                  \
		struct walk w;                                                             \
                                                                                           \
		*res = (struct mmu_result){ .gva = gva };                                  \
		walk_init(&w, m, ctx, gva, access, res, trace, layout);                    \
		walk_fill_body(&w, missed, layout);                                        \
	}
WALK_FILL_INSTANCE(walk_fill_any, &layout_any)
WALK_FILL_INSTANCE(walk_fill_skylake, &layout_skylake)
WALK_FILL_INSTANCE(walk_fill_goldencove, &layout_goldencove)
WALK_FILL_INSTANCE(walk_fill_zen2, &layout_zen2)
WALK_FILL_INSTANCE(walk_fill_zen4, &layout_zen4)

/*
 * The miss path over layout L (struct mmu_layout): the combined TLB lookup,
 * and on a miss (or an entry that cannot serve the access) the walk and the
 * TLB fills. Always inline: each instance below is this body with L (and a
 * NULL trace) folded in.
 */
static inline __attribute__((always_inline)) void
translate_body(struct mmu *m, const struct mmu_ctx *ctx, uint64_t gva, unsigned access,
	       struct mmu_result *res, struct walk_trace *trace, const struct mmu_layout *L)
{
	const unsigned kind = access_kind(access);
	struct walk w;
	struct cache_entry *e;
	bool ok = false;

	/* The result is written where the translation ends: by tlb_serve on a
	 * TLB hit, by the walk (walk_fill_body) otherwise. */
	if (trace) {
		trace->n = 0;
		trace->nhits = 0;
	}
	if (!(ctx->efer & EFER_LMA))
		gva &= 0xffffffffULL;   /* legacy modes: 32-bit linear addresses */
	m->st.translations++;
	m->st.by_access[kind]++;

	if (m->cur.levels >= 4) {
		/* SDM 3.3.7.1 / 4.5: canonical means bits 63:47 (63:56 with LA57) equal. */
		int64_t s = (int64_t)gva >> m->cur.top;

		if (s != 0 && s != -1) {
			*res = (struct mmu_result){ .status = MMU_NONCANONICAL, .gva = gva };
			m->st.noncanonical++;
			return;
		}
	}
	walk_init(&w, m, ctx, gva, access, res, trace, L);
	/* For the lookups (the walk makes its fills' keys itself). */
	w.key4k = cache_key(gva, PAGE_SHIFT_4K);
	w.fp4k = cache_fp(w.key4k);
	e = NULL;
	if (lay_tlb_any(m, L))
		e = kind == KIND_FETCH ? combined_lookup(&w, L, true, &ok)
				       : combined_lookup(&w, L, false, &ok);
	if (e && ok)
		return;   /* served (tlb_serve) */
	/* A walk: the TLBs missed, or held an entry that cannot serve this access. */
	switch (L->id) {
	case LAYOUT_SKYLAKE:
		walk_fill_skylake(m, ctx, gva, access, res, trace, e == NULL);
		break;
	case LAYOUT_GOLDENCOVE:
		walk_fill_goldencove(m, ctx, gva, access, res, trace, e == NULL);
		break;
	case LAYOUT_ZEN2:
		walk_fill_zen2(m, ctx, gva, access, res, trace, e == NULL);
		break;
	case LAYOUT_ZEN4:
		walk_fill_zen4(m, ctx, gva, access, res, trace, e == NULL);
		break;
	default:
		walk_fill_any(m, ctx, gva, access, res, trace, e == NULL);
		break;
	}
}

void mmu_translate_slow(struct mmu *m, const struct mmu_ctx *ctx, uint64_t gva,
			unsigned access, struct mmu_result *res, struct walk_trace *trace)
{
	translate_body(m, ctx, gva, access, res, trace, &layout_any);
}

static void translate_any(struct mmu *m, const struct mmu_ctx *ctx, uint64_t gva,
			  unsigned access, struct mmu_result *res)
{
	mmu_translate_slow(m, ctx, gva, access, res, NULL);
}

/* translate_body over a preset's layout: the instance mmu_slow_pick chooses
 * for an MMU whose structures have exactly that geometry. */
#define TRANSLATE_INSTANCE(name, layout)                                                 \
	static void name(struct mmu *m, const struct mmu_ctx *ctx, uint64_t gva,            \
			 unsigned access, struct mmu_result *res)                            \
	{                                                                                \
		translate_body(m, ctx, gva, access, res, NULL, layout);                     \
	}
TRANSLATE_INSTANCE(translate_skylake, &layout_skylake)
TRANSLATE_INSTANCE(translate_goldencove, &layout_goldencove)
TRANSLATE_INSTANCE(translate_zen2, &layout_zen2)
TRANSLATE_INSTANCE(translate_zen4, &layout_zen4)

/* Whether every structure of m has exactly the geometry L says. */
static bool layout_is(const struct mmu *m, const struct mmu_layout *L)
{
	unsigned i;

	for (i = 0; i < MMU_NSTRUCT; i++) {
		if (!L->g[i].entries ? m->t[i] != NULL
				     : !m->t[i] || !cache_has_shape(m->t[i], lay_shape(L, i)))
			return false;
	}
	return true;
}

void mmu_slow_pick(struct mmu *m, bool any)
{
	static const struct {
		const struct mmu_layout *L;
		mmu_slow_fn *fn;
	} inst[] = {
		{ &layout_skylake, translate_skylake },
		{ &layout_goldencove, translate_goldencove },
		{ &layout_zen2, translate_zen2 },
		{ &layout_zen4, translate_zen4 },
	};
	unsigned i;

	m->slow = translate_any;
	for (i = 0; !any && i < sizeof(inst) / sizeof(inst[0]); i++) {
		if (layout_is(m, inst[i].L)) {
			m->slow = inst[i].fn;
			break;
		}
	}
	m->miss = m->no_caches ? mmu_translate_nocache : m->slow;
}
