/* SPDX-License-Identifier: MIT */
/*
 * ept/mmu_fast.c - the composed two-stage walk with every cache off (see
 * ept/mmu_int.h): the walker of ept/walk.h over the const guest IA-32e and
 * EPT descriptors, its locate hook the EPT walk, taken when the walk needs
 * nothing but reads. Anything else (a fault, a violation, an A/D flag to
 * set, a hierarchy with entries written by ept_set_raw) is left to
 * mmu_translate_slow in ept/mmu_walk.c.
 *
 * Only hv's own EPT tables are read here (ept->raw_written is false), so the
 * EPT walks read entries without testing their addresses against the end of
 * the pool (ept_in_pool_ops); a guest entry's HPA is the end of an EPT walk,
 * which ept_quick checks. Guest tables are read in the EPT's pool, the one
 * pool that holds guest memory and the tables.
 *
 * Also here: mmu_fetch_only(), which names the structures a caller of the
 * shortcut's counting on a kept slot may leave deferred hits on across data
 * translations (ept/mmu.h, mmu_hit_data_apart).
 */
#include "ept/mmu_int.h"

/* What the fast walk's hooks keep: the EPT format, and the EPT references of
 * each guest entry's walk by grid row and in all. */
struct fast_walk {
	const struct walk_fmt *ef;
	const struct ept *ept;
	unsigned gl;
	unsigned erefs_sum;
	unsigned erefs[GRID_ROWS];
};

/* A guest entry's GPA through EPT, when that walk needs nothing but reads. */
static inline __attribute__((always_inline)) bool
fast_locate(void *arg, const struct walk_path *p, unsigned level, uint64_t entry_gpa,
	    uint64_t *entry_hpa)
{
	/* Every guest entry read is a paging-structure read through EPT. */
	static const struct ept_access entry_acc = { .type = ACC_READ, .paging_entry = true };
	struct fast_walk *fw = arg;
	struct walk_path ep;

	(void)p;
	if (!ept_quick(fw->ef, fw->ept, &entry_acc, NULL, entry_gpa, &ep, true))
		return false;
	fw->erefs[fw->gl - level] = ep.n;
	fw->erefs_sum += ep.n;
	*entry_hpa = ep.addr;
	return true;
}

/* A guest A flag to set: that walk is mmu_translate_slow's. */
static inline __attribute__((always_inline)) bool
fast_no_ad(void *arg, const struct walk_path *p, const struct walk_step *r, uint64_t nv)
{
	(void)arg;
	(void)p;
	(void)r;
	(void)nv;
	return false;
}

static const struct walk_ops fast_ops = { .locate = fast_locate, .ad = fast_no_ad };

/*
 * A full walk with every cache off, when it needs nothing but reads: the
 * walker over the const guest descriptor gf, its locate hook the walker over
 * the const EPT descriptor ef (the compiler folds both in: one instance per
 * pair), the final GPA through ef too. It accepts a walk only when
 * mmu_translate_slow would find no fault, no violation and no A/D flag to
 * set; then it reads exactly the entries mmu_translate_slow reads and
 * counts, once at the end, exactly what it counts. Otherwise it returns
 * false having changed nothing, and mmu_translate_slow does the walk.
 */
static inline __attribute__((always_inline)) bool
fast_walk_2d(struct mmu *m, const struct mmu_ctx *ctx, uint64_t gva, unsigned access,
		 struct mmu_result *res, const struct walk_fmt *ef, const struct walk_fmt *gf)
{
	const unsigned gl = gf->levels, el = ef->levels;
	const int64_t top = (int64_t)gva >> (gl == 5 ? 56 : 47);
	struct fast_walk fw;
	struct mmu_stats *st = &m->st;
	struct walk_path gp, ep;
	struct ept_access acc;
	unsigned row, c, refs;

	/* SDM 3.3.7.1 / 4.5: a non-canonical address is mmu_translate_slow's to report. */
	if (top != 0 && top != -1)
		return false;
	/* erefs[row] is written by the row's EPT walk before it is read. */
	fw.ef = ef;
	fw.ept = ctx->ept;
	fw.gl = gl;
	fw.erefs_sum = 0;
	/* Guest tables are read where their EPT walks lead, in the EPT's pool. */
	if (walk_body(gf, ctx->ept->pool, &fast_ops, &fw, ctx->cr3 & gf->addr, NULL,
		      gva & ((1ULL << (gl == 5 ? 57 : 48)) - 1), &gp) != WALK_OK ||
	    walk_ad_pending(gf, &gp, (access & ACC_WRITE) != 0) ||
	    !guest_allows_inline(ctx, access, gp.and_acc & PTE_W, gp.and_acc & PTE_U, gp.or_acc != 0) ||
	    pk_denies(ctx, access, gp.and_acc & PTE_U, pte_pkey(gp.ref[gp.n - 1].value)))
		return false;
	acc = (struct ept_access){
		.type = access & (ACC_READ | ACC_WRITE | ACC_FETCH),
		.user = (gp.and_acc & PTE_U) != 0,
	};
	if (!ept_quick(ef, ctx->ept, &acc, NULL, gp.addr, &ep, true))
		return false;

	/* The counts of mmu_translate_slow: each guest row its EPT cells and its
	 * guest cell, then the final GPA's row. No EPT walk reads more than el
	 * entries, so the sum says whether every row's walk read el. */
	if (gp.n == gl && ep.n == el && fw.erefs_sum == gl * el) {
		/* The usual shape, every cell a constant offset. */
#pragma GCC unroll 6
		for (row = 0; row <= gl; row++) {
#pragma GCC unroll 6
			for (c = 5 - el; c < 5; c++)
				st->grid[row][c]++;
			if (row < gl)
				st->grid[row][5]++;
		}
		refs = (gl + 1) * el + gl;
	} else {
		refs = ep.n;
		for (row = 0; row < gp.n; row++) {
			for (c = 0; c < fw.erefs[row]; c++)
				st->grid[row][5 - el + c]++;
			st->grid[row][5]++;
			refs += fw.erefs[row] + 1;
		}
		for (c = 0; c < ep.n; c++)
			st->grid[gl][5 - el + c]++;
	}
	st->translations++;
	st->by_access[access_kind(access)]++;
	st->walks++;
	st->walk_refs += refs;
	/* At most 5 guest rows of 6 and 5 final: within MMU_MAX_REFS. */
	st->refs_hist[refs]++;
	res->status = MMU_OK;
	res->hpa = ep.addr;
	res->gpa = gp.addr;
	res->gva = gva;
	res->page_shift = gp.shift < ep.shift ? gp.shift : ep.shift;
	res->pf_error = 0;
	res->qual = 0;
	res->refs = refs;
	res->tlb_hit = false;
	return true;
}

/* One instance per EPT format of ept_std_fmt and guest format of guest_ia32e_fmt. */
#define FAST_EPT(gi, ni)                                                                        \
	(ept->levels == 4                                                                        \
		 ? (ept->ad ? fast_walk_2d(m, ctx, gva, access, res, &ept_std_fmt[0][1],      \
					       &guest_ia32e_fmt[gi][ni])                          \
			    : fast_walk_2d(m, ctx, gva, access, res, &ept_std_fmt[0][0],      \
					       &guest_ia32e_fmt[gi][ni]))                         \
		 : (ept->ad ? fast_walk_2d(m, ctx, gva, access, res, &ept_std_fmt[1][1],      \
					       &guest_ia32e_fmt[gi][ni])                          \
			    : fast_walk_2d(m, ctx, gva, access, res, &ept_std_fmt[1][0],      \
					       &guest_ia32e_fmt[gi][ni])))

static inline __attribute__((always_inline)) bool translate_fast(struct mmu *m, const struct mmu_ctx *ctx, uint64_t gva,
			   unsigned access, struct mmu_result *res)
{
	const struct ept *ept = ctx->ept;
	bool la57 = (ctx->cr4 & CR4_LA57) != 0, nxe = (ctx->efer & EFER_NXE) != 0;

	/* A narrower MAXPHYADDR reserves address bits the const formats allow. */
	if (!ept_is_std(ept) || ept->raw_written || phys_rsvd(ctx))
		return false;
	if (la57)
		return nxe ? FAST_EPT(1, 1) : FAST_EPT(1, 0);
	return nxe ? FAST_EPT(0, 1) : FAST_EPT(0, 0);
}

/* Without TLBs no shortcut slot is ever filled, so the context the slots
 * belong to does not matter to the fast walk; the slow one keeps it as
 * always. (Out of line, so that the fast walk ends in a jump here.) */
static __attribute__((noinline)) void translate_nocache_slow(struct mmu *m,
							      const struct mmu_ctx *ctx,
							      uint64_t gva, unsigned access,
							      struct mmu_result *res)
{
	mmu_set_ctx(m, ctx);
	mmu_translate_slow(m, ctx, gva, access, res, NULL);
}

void mmu_translate_nocache(struct mmu *m, const struct mmu_ctx *ctx, uint64_t gva,
			   unsigned access, struct mmu_result *res)
{
	if (ctx->ept && (ctx->cr0 & CR0_PG) && (ctx->efer & EFER_LMA) &&
	    translate_fast(m, ctx, gva, access, res))
		return;
	translate_nocache_slow(m, ctx, gva, access, res);
}

void mmu_fetch_only(const struct mmu *m, struct mmu_fetch_only *out)
{
	static const enum tlb_id ids[2] = { TLB_L1I_4K, TLB_L1I_2M };
	unsigned i;

	for (i = 0; i < 2; i++)
		out->clock[i] = m->t[ids[i]] ? &m->t[ids[i]]->clock : NULL;
}
