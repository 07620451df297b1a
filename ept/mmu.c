/* SPDX-License-Identifier: MIT */
/*
 * ept/mmu.c - the composed two-stage translation (see ept/mmu.h and
 * docs/translation.md): creation, statistics, the context and the hit path.
 * The miss path is ept/mmu_walk.c, invalidation ept/mmu_inval.c.
 *
 * A translation looks up the combined TLBs; on a miss it walks the guest
 * paging structures, translating every guest table address (a GPA) through
 * EPT before reading the entry, then translates the final GPA. Each EPT
 * translation first tries the nested TLB and the guest-physical
 * paging-structure caches; the guest walk first tries the combined
 * paging-structure caches. Every entry read is one reference and is counted
 * in the grid.
 *
 * Speed: a host-side shortcut (one small direct-mapped table per access kind)
 * remembers which model TLB entry served a page under the current context.
 * It holds only translations the model holds (checked with the entry's
 * generation number, which eviction and invalidation bump) and a hit in it is
 * counted and LRU-stamped exactly as a model hit.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ept/mmu_int.h"

/* ------------------------------------------------------------------------ */
/* Context                                                                  */
/* ------------------------------------------------------------------------ */

#if defined(__SSE2__) && defined(__x86_64__)
/* ctx_equal compares the context as four 16-byte blocks: the layout it relies on. */
_Static_assert(sizeof(struct mmu_ctx) == 64 && offsetof(struct mmu_ctx, rflags) == 32 &&
	       offsetof(struct mmu_ctx, cpl) == 40 && offsetof(struct mmu_ctx, vpid) == 44 &&
	       offsetof(struct mmu_ctx, maxphyaddr) == 46 && offsetof(struct mmu_ctx, pkru) == 48 &&
	       offsetof(struct mmu_ctx, ept) == 56, "struct mmu_ctx layout");
#endif

/* Whether a is the context b (whose EPT had tag b_eptp_tag) for translation. */
static inline __attribute__((always_inline)) bool
ctx_equal(const struct mmu_ctx *a, const struct mmu_ctx *b, uint64_t b_eptp_tag)
{
#if defined(__SSE2__) && defined(__x86_64__)
	/* Every field at once (the context rarely differs): CR0, CR3, CR4 and
	 * EFER; RFLAGS.AC alone of bytes 32-39; CPL, VPID and MAXPHYADDR but
	 * not the padding byte 47; PKRU, PKRS and the EPT pointer. */
	const __m128i *pa = (const __m128i *)a, *pb = (const __m128i *)b;
	const __m128i mask = _mm_set_epi64x(0x00ffffffffffffffLL, (long long)RFLAGS_AC);
	__m128i d = _mm_or_si128(_mm_xor_si128(_mm_loadu_si128(pa), _mm_loadu_si128(pb)),
				 _mm_xor_si128(_mm_loadu_si128(pa + 1), _mm_loadu_si128(pb + 1)));

	d = _mm_or_si128(d, _mm_and_si128(_mm_xor_si128(_mm_loadu_si128(pa + 2),
							_mm_loadu_si128(pb + 2)), mask));
	d = _mm_or_si128(d, _mm_xor_si128(_mm_loadu_si128(pa + 3), _mm_loadu_si128(pb + 3)));
	if (_mm_movemask_epi8(_mm_cmpeq_epi8(d, _mm_setzero_si128())) != 0xffff)
		return false;
	return eptp_tag_of(a->ept) == b_eptp_tag;
#else
	/* One branch instead of nine: the context rarely differs. */
	return ((a->cr3 ^ b->cr3) | (a->cr0 ^ b->cr0) | (a->cr4 ^ b->cr4) | (a->efer ^ b->efer) |
		((a->rflags ^ b->rflags) & RFLAGS_AC) | (a->cpl ^ b->cpl) | (a->vpid ^ b->vpid) |
		(a->maxphyaddr ^ b->maxphyaddr) |
		(a->pkru ^ b->pkru) | (a->pkrs ^ b->pkrs) |
		((uintptr_t)a->ept ^ (uintptr_t)b->ept)) == 0 &&
	       eptp_tag_of(a->ept) == b_eptp_tag;
#endif
}

static inline bool ctx_same(const struct mmu *m, const struct mmu_ctx *a)
{
	return ctx_equal(a, &m->last, m->last_eptp_tag);
}

/*
 * Make ctx current. A slot serves only the context it was filled under (its
 * tag carries that context's generation) and only while its model entry is
 * unchanged (the entry's generation), and under one context the slot and a
 * model lookup agree; so a context seen lately - CPL 0 again after a
 * user-mode access, CR0.WP set again - takes its generation back, and its
 * slots that are still current serve again. Contexts that differ only in
 * CPL, AC or WP share TLB tags, but their slots stay apart.
 */
static __attribute__((noinline)) void ctx_switch(struct mmu *m, const struct mmu_ctx *ctx)
{
	uint64_t tag = eptp_tag_of(ctx->ept);
	unsigned levels, i;
	bool pae;

	m->last = *ctx;
	levels = ctx_levels(ctx, &pae);
	if (levels)
		mmu_guest_fmt_init(&m->gfmt, ctx, levels, pae);
	m->last_eptp_tag = tag;
	m->cur.levels = levels;
	m->cur.pae = pae;
	m->cur.top = levels == 5 ? 56 : 47;
	m->cur.tag = (struct cache_tag){ .domain = tag, .vmid = ctx->vpid,
					 .asid = levels >= 4 ? ctx_pcid(ctx) : 0 };
	m->cur.gtag = (struct cache_tag){ .domain = tag };
	m->cur.use_ok = 0;
	for (i = 0; i < MMU_CTX_RECENT; i++) {
		if (m->recent[i].gen && ctx_equal(ctx, &m->recent[i].ctx, m->recent[i].eptp_tag)) {
			m->hit.gen = m->recent[i].gen;
			return;
		}
	}
	if (++m->gen_top > MMU_HIT_GEN_MAX) {
		/* A slot of an old context must not come back to life with its generation. */
		memset(m->hit.slot, 0, sizeof(m->hit.slot));
		memset(m->recent, 0, sizeof(m->recent));
		m->gen_top = 1;
	}
	m->hit.gen = m->gen_top;
	m->recent[m->recent_next] = (struct mmu_ctx_gen){ .ctx = *ctx, .eptp_tag = tag, .gen = m->gen_top };
	m->recent_next = (m->recent_next + 1) % MMU_CTX_RECENT;
}

void mmu_set_ctx(struct mmu *m, const struct mmu_ctx *ctx)
{
	if (!ctx_same(m, ctx))
		ctx_switch(m, ctx);
}

struct mmu_hit *mmu_hit(struct mmu *m) { return &m->hit; }

/* ------------------------------------------------------------------------ */
/* Creation, stats                                                          */
/* ------------------------------------------------------------------------ */

int mmu_create(struct hpool *pool, const struct mmu_config *cfg, struct mmu **out)
{
	struct mmu *m;
	unsigned i;
	int rc;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->pool = pool;
	m->cfg = *cfg;
	for (i = 0; i < MMU_NSTRUCT; i++) {
		if (!cfg->perfect[i] && cfg->geom[i].entries == 0)
			continue;
		rc = cache_create(&cfg->geom[i], cfg->perfect[i], &m->st.s[i], &m->t[i]);
		if (rc)
			goto destroy_tlbs;
	}
	for (i = 0; i < MMU_NSTRUCT; i++) {
		if (!m->t[i])
			continue;
		if (i >= PWC_GP_PML4)
			m->gp_any = true;
		else if (i >= PWC_PML5)
			m->pwc_any = true;
		else
			m->tlb_any = true;
	}
	m->no_caches = !m->gp_any && !m->pwc_any && !m->tlb_any;
	mmu_slow_pick(m, false);
	/* calloc left every slot empty (tag 0). */
	m->hit.gen = 1;
	m->gen_top = 1;
	m->hit.st = &m->st;
	*out = m;
	return 0;

destroy_tlbs:
	for (i = 0; i < MMU_NSTRUCT; i++)
		cache_destroy(m->t[i]);
	free(m);
	return rc;
}

void mmu_destroy(struct mmu *m)
{
	unsigned i;

	if (!m)
		return;
	for (i = 0; i < MMU_NSTRUCT; i++)
		cache_destroy(m->t[i]);
	free(m);
}

const struct mmu_stats *mmu_stats(const struct mmu *m) { return &m->st; }

void mmu_reset_stats(struct mmu *m) { memset(&m->st, 0, sizeof(m->st)); }

/* A translation under a context that is not the current one. */
static __attribute__((noinline)) void translate_switched(struct mmu *m, const struct mmu_ctx *ctx,
							 uint64_t gva, unsigned access,
							 struct mmu_result *res)
{
	ctx_switch(m, ctx);
	m->slow(m, ctx, gva, access, res);
}

void mmu_translate(struct mmu *m, const struct mmu_ctx *ctx, uint64_t gva, unsigned access,
		   struct mmu_result *res)
{
	const unsigned kind = access_kind(access);
	const struct mmu_hit_slot *s = &m->hit.slot[kind][mmu_hit_index(gva >> 12)];

	if (__builtin_expect(s->tag == ((gva & ~0xfffULL) | m->hit.gen) && ctx_same(m, ctx), 1)) {
		uint64_t hpa, gpa, *lru, *clock, *hits;
		unsigned shift;

		if (__builtin_expect(*s->gen != s->egen || (access & ACC_IMPLICIT_SV), 0)) {
			/* The slot's entry is gone from the L1 (an STLB hit or a
			 * walk follows) under the context of the slots: no
			 * mmu_set_ctx to compare it again. */
			m->slow(m, ctx, gva, access, res);
			return;
		}
		/* The slot read before the stores below, which the compiler
		 * cannot tell apart from it. */
		hpa = s->hpa;
		gpa = s->gpa;
		lru = s->lru;
		clock = s->clock;
		hits = s->hits;
		shift = s->shift;
		/* Exactly what a model L1 hit does: count it and stamp LRU. */
		m->st.translations++;
		m->st.by_access[kind]++;
		(*hits)++;
		*lru = ++*clock;
		res->status = MMU_OK;
		res->hpa = hpa | (gva & 0xfff);
		res->gpa = gpa | (gva & 0xfff);
		res->gva = gva;
		res->page_shift = shift;
		res->pf_error = 0;
		res->qual = 0;
		res->refs = 0;
		res->tlb_hit = true;
		return;
	}
	if (m->no_caches) {
		mmu_translate_nocache(m, ctx, gva, access, res);
		return;
	}
	/* A context switch starts a new shortcut generation (ctx_switch), so no
	 * slot can serve after it; under the same context the probe above has
	 * looked already. Every path ends in a jump. */
	if (!ctx_same(m, ctx)) {
		translate_switched(m, ctx, gva, access, res);
		return;
	}
	m->slow(m, ctx, gva, access, res);
}

void mmu_translate_cur(struct mmu *m, uint64_t gva, unsigned access, struct mmu_result *res)
{
	/* m->last is the context (the caller's promise); every slot the
	 * shortcut holds is of it, and the miss path counts a hit the
	 * shortcut would have served exactly as the shortcut does. */
	m->miss(m, &m->last, gva, access, res);
}

void mmu_translate_traced(struct mmu *m, const struct mmu_ctx *ctx, uint64_t gva,
			  unsigned access, struct mmu_result *res, struct walk_trace *trace)
{
	if (!ctx_same(m, ctx))
		ctx_switch(m, ctx);
	mmu_translate_slow(m, ctx, gva, access, res, trace);
}

