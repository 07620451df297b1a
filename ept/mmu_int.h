/* SPDX-License-Identifier: MIT */
/*
 * ept/mmu_int.h - what the parts of the MMU share, private to ept/mmu*.c:
 * the MMU itself (struct mmu), context helpers, and the entry points of the
 * miss path.
 *
 *   ept/mmu.c        creation, statistics, the context and the hit path
 *                    (mmu_translate and its host-side shortcut)
 *   ept/mmu_walk.c   the miss path: combined TLB lookup and fill, the 2D
 *                    walk (guest formats, guest walk, second stage)
 *   ept/mmu_fast.c   the all-caches-off fast walk
 *   ept/mmu_inval.c  invalidation (INVLPG, MOV CR3, INVVPID, INVEPT, INVPCID)
 */
#ifndef HV_MMU_INT_H
#define HV_MMU_INT_H

#include "ept/mmu.h"

enum { KIND_READ, KIND_WRITE, KIND_FETCH, NKIND };

/*
 * What an instance of the miss path knows of the structures at compile time.
 * The miss path of ept/mmu_walk.c is one always-inline body that takes a
 * const layout: over mmu_layout_any it reads every structure's presence and
 * geometry at run time (any configuration); over a preset's layout the
 * compiler folds which structures exist, their set masks, ways and loops
 * (cache_shape). mmu_create picks the instance whose layout is the MMU's own.
 *   known: g[] is exact: a structure with entries == 0 is off, every other
 *          one finite with g[i].entries / g[i].ways sets, a power of two.
 */
enum mmu_layout_id { LAYOUT_ANY, LAYOUT_SKYLAKE, LAYOUT_GOLDENCOVE, LAYOUT_ZEN2, LAYOUT_ZEN4 };

struct mmu_layout {
	enum mmu_layout_id id;
	bool known;
	struct cache_geom g[MMU_NSTRUCT];
};

/* Paging-structure caches and guest-physical structures of the Intel presets
 * (hv's own sizes: neither vendor publishes them, docs/translation.md). */
#define MMU_INTEL_PWC                                                          \
	[PWC_PML5] = { 2, 2 }, [PWC_PML4] = { 4, 4 }, [PWC_PDPTE] = { 4, 4 },  \
	[PWC_PDE] = { 32, 4 }, [PWC_GP_PML4] = { 4, 4 },                       \
	[PWC_GP_PDPTE] = { 4, 4 }, [PWC_GP_PDE] = { 32, 4 },                   \
	[NESTED_TLB] = { 64, 4 }
/* AMD: one 16-entry page directory cache (Family 16h guide), modelled per level. */
#define MMU_AMD_PWC                                                            \
	[PWC_PML5] = { 2, 2 }, [PWC_PML4] = { 4, 4 }, [PWC_PDPTE] = { 16, 16 }, \
	[PWC_PDE] = { 16, 16 }, [PWC_GP_PML4] = { 4, 4 },                      \
	[PWC_GP_PDPTE] = { 16, 16 }, [PWC_GP_PDE] = { 16, 16 },                \
	[NESTED_TLB] = { 64, 4 }
/*
 * The TLBs of the presets, with the vendors' published sizes
 * (translation-facts.md section 4); each preset's miss path is also
 * compiled for its geometry (ept/mmu_walk.c). AMD's L1 dTLB is one fully
 * associative array for every page size; the model has one per size (an
 * approximation). Zen 2's 2048-entry L2 is modelled 16-way: 12 ways do not
 * divide 2048.
 */
#define MMU_SKYLAKE_GEOM {                                                      \
	[TLB_L1I_4K] = { 128, 8 }, [TLB_L1I_2M] = { 8, 8 },                     \
	[TLB_L1D_4K] = { 64, 4 }, [TLB_L1D_2M] = { 32, 4 }, [TLB_L1D_1G] = { 4, 4 }, \
	[TLB_L2_4K2M] = { 1536, 12 }, [TLB_L2_1G] = { 16, 4 }, MMU_INTEL_PWC }
#define MMU_GOLDENCOVE_GEOM {                                                   \
	[TLB_L1I_4K] = { 256, 8 }, [TLB_L1I_2M] = { 32, 8 },                    \
	[TLB_L1D_4K] = { 96, 6 }, [TLB_L1D_2M] = { 32, 4 }, [TLB_L1D_1G] = { 8, 8 }, \
	[TLB_L2_4K2M] = { 2048, 16 }, [TLB_L2_1G] = { 16, 4 }, MMU_INTEL_PWC }
#define MMU_ZEN2_GEOM {                                                         \
	[TLB_L1I_4K] = { 64, 64 }, [TLB_L1I_2M] = { 64, 64 },                   \
	[TLB_L1D_4K] = { 64, 64 }, [TLB_L1D_2M] = { 64, 64 }, [TLB_L1D_1G] = { 64, 64 }, \
	[TLB_L2_4K2M] = { 2048, 16 }, [TLB_L2_1G] = { 64, 4 }, MMU_AMD_PWC }
#define MMU_ZEN4_GEOM {                                                         \
	[TLB_L1I_4K] = { 64, 64 }, [TLB_L1I_2M] = { 64, 64 },                   \
	[TLB_L1D_4K] = { 72, 72 }, [TLB_L1D_2M] = { 72, 72 }, [TLB_L1D_1G] = { 72, 72 }, \
	[TLB_L2_4K2M] = { 3072, 12 }, [TLB_L2_1G] = { 64, 4 }, MMU_AMD_PWC }

/* A translation that missed the host-side shortcut (trace NULL): an instance
 * of the miss path. */
typedef void mmu_slow_fn(struct mmu *m, const struct mmu_ctx *ctx, uint64_t gva,
			 unsigned access, struct mmu_result *res);

/*
 *   pool, cfg, t[]: set at creation.
 *   st: counters, reset by mmu_reset_stats.
 *   last: the current context, whose shortcut slots carry hit.gen. A context
 *   not among the recent ones gets a new generation, which hides every slot
 *   in O(1) (and empties them in O(slots) once every MMU_HIT_GEN_MAX new
 *   contexts, when the generation wraps); a recent one takes its generation
 *   back, and with it the slots it filled that are still current.
 */
#define MMU_CTX_RECENT 4

/*
 * What every translation under the current context derives from it, set by
 * ctx_switch (the miss path always runs under m->last: mmu_translate and
 * mmu_translate_traced make ctx current first).
 *   use[i]: combined_usable for accesses of use_index i as one test,
 *           (attr & mask) == val, or val == MMU_USE_FULL when the rule has
 *           no such form (mode-based execute control, protection keys);
 *           valid when bit i of use_ok is set (made on first use, use_rule).
 */
#define MMU_USE_FULL 0xffffffffu

struct mmu_cur {
	struct cache_tag tag;     /* combined structures: VPID, PCID, EPTP */
	struct cache_tag gtag;    /* guest-physical structures: EPTP */
	unsigned levels;          /* ctx_levels() */
	bool pae;
	uint8_t top;              /* levels >= 4: canonical means bits 63:top equal */
	uint32_t use_ok;
	struct mmu_use {
		uint32_t mask, val;
	} use[16];
};

/* The index of an access (ACC_READ/WRITE/FETCH, ACC_IMPLICIT_SV) in use[]. */
static inline __attribute__((always_inline)) unsigned use_index(unsigned access)
{
	return (access & (ACC_READ | ACC_WRITE | ACC_FETCH)) | ((access & ACC_IMPLICIT_SV) ? 8 : 0);
}

struct mmu {
	struct hpool *pool;
	struct mmu_config cfg;
	struct cache *t[MMU_NSTRUCT];
	bool gp_any;              /* a guest-physical cache or the nested TLB is on */
	bool pwc_any;             /* a combined paging-structure cache is on */
	bool tlb_any;             /* a combined TLB is on */
	bool no_caches;           /* none of the three: walks take mmu_translate_nocache */
	struct mmu_stats st;
	struct mmu_ctx last;
	uint64_t last_eptp_tag;   /* an EPT freed and recreated at the same address differs here */
	struct mmu_cur cur;       /* derived from `last` (ctx_switch) */
	struct mmu_hit hit;
	/* The contexts the shortcut served lately, each with its generation
	 * (gen 0: unused), and the highest generation handed out (ctx_switch). */
	struct mmu_ctx_gen {
		struct mmu_ctx ctx;
		uint64_t eptp_tag;
		uint64_t gen;
	} recent[MMU_CTX_RECENT];
	unsigned recent_next;
	uint64_t gen_top;
	struct walk_fmt gfmt;     /* the guest's paging format under `last` */
	/* The instance of the miss path for this MMU's layout (set at creation,
	 * mmu_slow_pick), and what mmu_translate_cur calls: that instance, or
	 * mmu_translate_nocache when the MMU has no caches. */
	mmu_slow_fn *slow;
	mmu_slow_fn *miss;
};

/* Whether structure id is on under layout L (MMU_NSTRUCT: never). */
static inline __attribute__((always_inline)) bool
lay_on(const struct mmu *m, const struct mmu_layout *L, unsigned id)
{
	if (id >= MMU_NSTRUCT)
		return false;
	return L->known ? L->g[id].entries != 0 : m->t[id] != NULL;
}

/* m->tlb_any, m->pwc_any, m->gp_any under layout L (constants where it is known). */
static inline __attribute__((always_inline)) bool
lay_tlb_any(const struct mmu *m, const struct mmu_layout *L)
{
	unsigned i;

	if (!L->known)
		return m->tlb_any;
	for (i = TLB_L1I_4K; i <= TLB_L2_1G; i++)
		if (L->g[i].entries)
			return true;
	return false;
}

static inline __attribute__((always_inline)) bool
lay_pwc_any(const struct mmu *m, const struct mmu_layout *L)
{
	unsigned i;

	if (!L->known)
		return m->pwc_any;
	for (i = PWC_PML5; i <= PWC_PDE; i++)
		if (L->g[i].entries)
			return true;
	return false;
}

static inline __attribute__((always_inline)) bool
lay_gp_any(const struct mmu *m, const struct mmu_layout *L)
{
	unsigned i;

	if (!L->known)
		return m->gp_any;
	for (i = PWC_GP_PML4; i <= NESTED_TLB; i++)
		if (L->g[i].entries)
			return true;
	return false;
}

/* The shape of structure id (on) under layout L, for the cache's inline code. */
static inline __attribute__((always_inline)) struct cache_shape
lay_shape(const struct mmu_layout *L, unsigned id)
{
	if (!L->known || !L->g[id].ways)
		return CACHE_ANY;
	return (struct cache_shape){ L->g[id].entries / L->g[id].ways, L->g[id].ways };
}

/* cache_hit and cache_miss of structure id (t = m->t[id]), whose counters
 * are m->st.s[id] (mmu_create), at a constant offset from m. */
static inline __attribute__((always_inline)) void
lay_hit(struct mmu *m, unsigned id, struct cache *t, struct cache_entry *e)
{
	m->st.s[id].hits++;
	t->lru[e->slot] = ++t->clock;
}

static inline __attribute__((always_inline)) void lay_miss(struct mmu *m, unsigned id)
{
	m->st.s[id].misses++;
}

/* KIND_FETCH with ACC_FETCH, else KIND_WRITE with ACC_WRITE, else KIND_READ. */
static inline __attribute__((always_inline)) unsigned access_kind(unsigned access)
{
	static const unsigned char kind_of[8] = {
		KIND_READ, KIND_READ, KIND_WRITE, KIND_WRITE,
		KIND_FETCH, KIND_FETCH, KIND_FETCH, KIND_FETCH,
	};

	return kind_of[access & (ACC_READ | ACC_WRITE | ACC_FETCH)];
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

/* ------------------------------------------------------------------------ */
/* Permission rules and const formats of both walks (mmu_walk.c, mmu_fast.c) */
/* ------------------------------------------------------------------------ */

/* Bits 51:MAXPHYADDR, reserved in every guest paging entry with an address
 * field (SDM Tables 4-8..4-20: "must be 0" above M); 0 for M = 52. */
static inline uint64_t phys_rsvd(const struct mmu_ctx *ctx)
{
	unsigned m = ctx->maxphyaddr;

	return m && m < 52 ? ((1ULL << 52) - 1) & ~((1ULL << m) - 1) : 0;
}

/*
 * SDM 4.6: may an access with these accumulated guest permissions proceed?
 * user_access: CPL 3 and not an implicit supervisor access.
 */
static inline __attribute__((always_inline)) bool
guest_allows_inline(const struct mmu_ctx *ctx, unsigned access, bool w, bool u, bool xd)
{
	bool user_access = ctx->cpl == 3 && !(access & ACC_IMPLICIT_SV);

	if (user_access) {
		if (!u)
			return false;
		if ((access & ACC_WRITE) && !w)
			return false;
		if ((access & ACC_FETCH) && xd)
			return false;
		return true;
	}
	if (access & ACC_FETCH) {
		if (xd)
			return false;
		/* SMEP: no supervisor fetch from a user-mode address. */
		return !(u && (ctx->cr4 & CR4_SMEP));
	}
	/* SMAP: supervisor data access to a user-mode address needs an explicit
	 * access with EFLAGS.AC=1; implicit accesses ignore AC. */
	if (u && (ctx->cr4 & CR4_SMAP) &&
	    ((access & ACC_IMPLICIT_SV) || !(ctx->rflags & RFLAGS_AC)))
		return false;
	if ((access & ACC_WRITE) && !w && (ctx->cr0 & CR0_WP))
		return false;
	return true;
}

/* The protection key of an IA-32e paging leaf entry (ignored bits otherwise). */
static inline unsigned pte_pkey(uint64_t e)
{
	return (unsigned)(e >> 59) & 0xfu;
}

/*
 * SDM 4.6.2: do the protection-key rights forbid this data access to a
 * user-mode (u, PKRU with CR4.PKE) or supervisor-mode (PKRS with CR4.PKS)
 * address with key `key`? Only in IA-32e paging, never for fetches: AD
 * forbids every data access; WD forbids user-mode writes, and supervisor-mode
 * writes when CR0.WP = 1. Implicit supervisor accesses are checked too.
 */
static inline __attribute__((always_inline)) bool
pk_denies(const struct mmu_ctx *ctx, unsigned access, bool u, unsigned key)
{
	uint32_t rights;

	if (__builtin_expect(!(ctx->cr4 & (CR4_PKE | CR4_PKS)), 1) || (access & ACC_FETCH) ||
	    !(ctx->efer & EFER_LMA))
		return false;
	if (u ? !(ctx->cr4 & CR4_PKE) : !(ctx->cr4 & CR4_PKS))
		return false;
	rights = ((u ? ctx->pkru : ctx->pkrs) >> (2 * key)) & 3;
	if (rights & 1)
		return true;
	return (rights & 2) && (access & ACC_WRITE) &&
	       ((ctx->cpl == 3 && !(access & ACC_IMPLICIT_SV)) || (ctx->cr0 & CR0_WP));
}

/*
 * The EPT formats of the hierarchies hv builds (execute-only and 1 GiB pages
 * supported, no MBEC), by levels (4, 5) and A/D (off, on), as const
 * descriptors: walk_body() over one of them is the walker with the format
 * folded in. A hierarchy with other capabilities walks over ept->fmt.
 */
static const struct walk_fmt ept_std_fmt[2][2] = {
	{ EPT_WALK_FMT(4, false, true, false, true), EPT_WALK_FMT(4, true, true, false, true) },
	{ EPT_WALK_FMT(5, false, true, false, true), EPT_WALK_FMT(5, true, true, false, true) },
};

static inline bool ept_is_std(const struct ept *ept)
{
	return ept->caps.exec_only && ept->caps.page_1g && !ept->caps.mbec;
}

/* The locate hook of an EPT walk whose entries all lie inside the pool
 * (!ept->raw_written): an entry is read where it is, with no test against the
 * end of the pool. */
static inline __attribute__((always_inline)) bool
ept_in_pool_locate(void *arg, const struct walk_path *p, unsigned level, uint64_t entry_addr,
		   uint64_t *entry_hpa)
{
	(void)arg;
	(void)p;
	(void)level;
	*entry_hpa = entry_addr;
	return true;
}

static const struct walk_ops ept_in_pool_ops = { .locate = ept_in_pool_locate };

/*
 * The EPT walk of an access when it needs nothing but reads: the walker over
 * f (ept->fmt or its const twin above), true only when ept_walk would return
 * EPT_OK for it without changing an entry (every A flag already set, and D
 * for a write, SDM 29.3.5) and the leaf lies inside host memory. Otherwise
 * false with nothing changed: the caller takes ept_walk, which owns every
 * other case (violations, misconfigurations, A/D writes, traces).
 * in_pool (a constant): the caller has checked !ept->raw_written, so no entry
 * address needs a test against the end of the pool.
 */
static inline __attribute__((always_inline)) bool
ept_quick(const struct walk_fmt *f, const struct ept *ept, const struct ept_access *acc,
	  const struct walk_start *start, uint64_t gpa, struct walk_path *p, bool in_pool)
{
	/* SDM 29.3.3.2: with A/D enabled, guest paging-structure accesses are
	 * writes; what ept_allows() asks, from the descriptor. */
	const bool write = acc->type == ACC_WRITE || (acc->paging_entry && f->a);
	const uint64_t need = acc->paging_entry ? EPT_R | (f->a ? EPT_W : 0)
			      : acc->type == ACC_WRITE ? EPT_W
			      : acc->type != ACC_FETCH ? EPT_R
			      : (f->caps & EPT_FMT_MBEC) && acc->user ? EPT_XU : EPT_X;

	if (walk_body(f, ept->pool, in_pool ? &ept_in_pool_ops : NULL, NULL, ept->root, start, gpa,
		      p) != WALK_OK)
		return false;
	/* From the top, the permissions and the A flags are one test on the AND
	 * of every entry (EPT sets A on every entry it read, SDM 29.3.5). */
	if (!start && !f->ad_tables_early && !(need & ~f->and_bits)) {
		const uint64_t all = need | f->a;

		if ((p->and_raw & all) != all || (write && f->a && !(p->ref[p->n - 1].value & f->d)))
			return false;
	} else if ((p->and_acc & need) != need || walk_ad_pending(f, p, write)) {
		return false;
	}
	return p->addr <= ept->pool->size - 8;
}

/* The guest IA-32e formats by levels (4, 5) and EFER.NXE (off, on), as
 * const descriptors: what mmu_guest_fmt_init makes for IA-32e paging when
 * MAXPHYADDR reserves no address bits. */
static const struct walk_fmt guest_ia32e_fmt[2][2] = {
	{ GUEST_IA32E_FMT(4, false), GUEST_IA32E_FMT(4, true) },
	{ GUEST_IA32E_FMT(5, false), GUEST_IA32E_FMT(5, true) },
};

/* use[use_index(access)] of m->cur for the current context (ept/mmu_walk.c). */
void mmu_use_rule(struct mmu *m, unsigned access);
/* Whether the one-test rule of mmu_use_rule and the full permission check
 * agree for a combined TLB entry with payload attr (tests). */
bool mmu_use_rule_agrees(struct mmu *m, const struct mmu_ctx *ctx, unsigned access, uint32_t attr);
/* The guest's paging format under ctx (ept/mmu_walk.c). */
void mmu_guest_fmt_init(struct walk_fmt *f, const struct mmu_ctx *ctx, unsigned levels, bool pae);
/*
 * The instance of the miss path for m's structures (m->slow, and m->miss): one made for a
 * preset's layout when every structure has exactly that geometry, else the
 * general one. any: the general one whatever the layout (tests compare the
 * two).
 */
void mmu_slow_pick(struct mmu *m, bool any);
/* A translation that the shortcut did not serve: the TLB lookup, then the
 * walk (the general instance; the one that records a trace). */
void mmu_translate_slow(struct mmu *m, const struct mmu_ctx *ctx, uint64_t gva, unsigned access,
			struct mmu_result *res, struct walk_trace *trace);
/* A translation with every cache off (m->no_caches): the fast walk of
 * ept/mmu_fast.c when it needs nothing but reads, else mmu_translate_slow. */
void mmu_translate_nocache(struct mmu *m, const struct mmu_ctx *ctx, uint64_t gva,
			   unsigned access, struct mmu_result *res);

#endif /* HV_MMU_INT_H */
