/* SPDX-License-Identifier: MIT */
/*
 * ept/mmu_int.h - what the parts of the MMU share, private to ept/mmu*.c:
 * the MMU itself (struct mmu), context helpers, and the entry points of the
 * miss path.
 *
 *   ept/mmu.c        creation, statistics, the context and the hit path
 *                    (mmu_translate and its host-side shortcut)
 *   ept/mmu_walk.c   the miss path: combined TLB lookup and fill, the 2D
 *                    walk (guest formats, guest walk, second stage), the
 *                    all-caches-off fast walk
 *   ept/mmu_inval.c  invalidation (INVLPG, MOV CR3, INVVPID, INVEPT, INVPCID)
 */
#ifndef HV_MMU_INT_H
#define HV_MMU_INT_H

#include "ept/mmu.h"

enum { KIND_READ, KIND_WRITE, KIND_FETCH, NKIND };

/* One lookup of the combined TLB: a structure and the page shift it is probed at. */
struct probe {
	struct cache *t;
	enum tlb_id id;
	unsigned shift;
};

/*
 *   pool, cfg, t[]: set at creation.
 *   st: counters, reset by mmu_reset_stats.
 *   last: the context the shortcut slots were filled under; a different
 *   context bumps hit.gen, which empties the shortcut in O(1) (and in O(slots)
 *   once every MMU_HIT_GEN_MAX switches, when the generation wraps).
 */
struct mmu {
	struct hpool *pool;
	struct mmu_config cfg;
	struct cache *t[MMU_NSTRUCT];
	bool gp_any;              /* a guest-physical cache or the nested TLB is on */
	bool pwc_any;             /* a combined paging-structure cache is on */
	bool tlb_any;             /* a combined TLB is on */
	bool no_caches;           /* none of the three: walks may take mmu_translate_fast */
	struct mmu_stats st;
	struct mmu_ctx last;
	uint64_t last_eptp_tag;   /* an EPT freed and recreated at the same address differs here */
	struct mmu_hit hit;
	struct walk_fmt gfmt;     /* the guest's paging format under `last` */
	/* The combined TLB lookups of combined_lookup, in order, structures
	 * that are off left out (set at creation): L1 by access kind, then L2,
	 * and the L2 structures (each counts one miss). */
	struct probe l1[NKIND][3], l2[3];
	unsigned nl1[NKIND], nl2, nl2t;
	struct cache *l2t[2];
};

static inline __attribute__((always_inline)) unsigned access_kind(unsigned access)
{
	return (access & ACC_FETCH) ? KIND_FETCH : (access & ACC_WRITE) ? KIND_WRITE : KIND_READ;
}

static inline uint64_t eptp_tag_of(const struct ept *ept)
{
	/* SDM 28.3.1: tagged by EP4TA; bit 0 distinguishes "EPT at HPA 0" from "no EPT". */
	return ept ? (ept->root | 1) : 0;
}

/* Guest paging levels under ctx: 0 (paging off), 2 (32-bit, or PAE below the
 * PDPTE registers: *pae), 4 or 5 (IA-32e). */
static inline unsigned ctx_levels(const struct mmu_ctx *ctx, bool *pae)
{
	*pae = false;
	if (!(ctx->cr0 & CR0_PG))
		return 0;
	if (ctx->efer & EFER_LMA)
		return (ctx->cr4 & CR4_LA57) ? 5 : 4;
	*pae = (ctx->cr4 & CR4_PAE) != 0;
	return 2;
}

static inline uint16_t ctx_pcid(const struct mmu_ctx *ctx)
{
	/* SDM 4.10.1: PCIDs exist only with CR4.PCIDE (which needs IA-32e mode). */
	return (ctx->cr4 & CR4_PCIDE) && (ctx->efer & EFER_LMA) ? (uint16_t)(ctx->cr3 & 0xfff) : 0;
}

/* The guest's paging format under ctx (ept/mmu_walk.c). */
void mmu_guest_fmt_init(struct walk_fmt *f, const struct mmu_ctx *ctx, unsigned levels, bool pae);
/* The combined TLB lookups, planned once the structures exist. */
void mmu_probes_init(struct mmu *m);
/* A translation that the shortcut did not serve: the TLB lookup, then the walk. */
void mmu_translate_slow(struct mmu *m, const struct mmu_ctx *ctx, uint64_t gva, unsigned access,
			struct mmu_result *res, struct walk_trace *trace);
/* The walk with every cache off when it needs nothing but reads; false:
 * nothing changed, take mmu_translate_slow. */
bool mmu_translate_fast(struct mmu *m, const struct mmu_ctx *ctx, uint64_t gva, unsigned access,
			struct mmu_result *res);

#endif /* HV_MMU_INT_H */
