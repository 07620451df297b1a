/* SPDX-License-Identifier: MIT */
/*
 * ept/mmu.h - the composed two-stage translation: guest x86-64 paging over
 * EPT, the TLB hierarchy, the paging-structure caches and every counter.
 *
 *   GVA --(guest tables in guest RAM, SDM Vol. 3A ch. 4)--> GPA --(EPT)--> HPA
 *
 * Every guest paging-structure address is itself a GPA and is translated
 * through EPT before the entry is read, which is where the (n+1)(m+1)-1
 * references of the 2D walk come from. See ept/ept.h for the second stage.
 */
#ifndef HV_MMU_H
#define HV_MMU_H

#include "ept/cache.h"
#include "ept/ept.h"

/* ------------------------------------------------------------------------ */
/* Guest paging-structure entries (SDM Vol. 3A 4.5, Tables 4-15..4-20)       */
/* ------------------------------------------------------------------------ */
typedef struct {
	uint64_t raw;
} pte_t;

#define PTE_P     (1ULL << 0)
#define PTE_W     (1ULL << 1)
#define PTE_U     (1ULL << 2)
#define PTE_PWT   (1ULL << 3)
#define PTE_PCD   (1ULL << 4)
#define PTE_A     (1ULL << 5)
#define PTE_D     (1ULL << 6)
#define PTE_PS    (1ULL << 7)  /* PDPTE/PDE: maps a page; PTE: PAT */
#define PTE_G     (1ULL << 8)
#define PTE_PAT_LARGE (1ULL << 12)
#define PTE_XD    (1ULL << 63)
#define PTE_ADDR_MASK 0x000ffffffffff000ULL

/*
 * IA-32e paging, 4 or 5 levels (SDM 4.5, Tables 4-14..4-20, MAXPHYADDR 52):
 * XD reserved without EFER.NXE, PS reserved above level 3, the address bits
 * below a large page reserved (bit 12 is PAT); permissions W and U ANDed, XD
 * ORed; SDM 4.8: A in a table entry as soon as the walk uses it. The MMU
 * builds the guest's format with it and its all-caches-off path uses it as a
 * const descriptor.
 */
#define GUEST_XD_RSVD(nxe) ((nxe) ? 0 : PTE_XD)
#define GUEST_IA32E_FMT(lv, nxe) {                                                          \
	.name = (lv) == 5 ? "5-level" : "4-level", .levels = (lv), .esz = 8,                  \
	.shift = { 0, 12, 21, 30, 39, 48 }, .ibits = { 0, 9, 9, 9, 9, (lv) == 5 ? 9 : 0 },     \
	.present = PTE_P, .ps = PTE_PS, .large = (1u << 2) | (1u << 3),                      \
	.rsvd_table = { 0, GUEST_XD_RSVD(nxe), GUEST_XD_RSVD(nxe), GUEST_XD_RSVD(nxe),         \
			GUEST_XD_RSVD(nxe) | PTE_PS, GUEST_XD_RSVD(nxe) | PTE_PS },            \
	.rsvd_page = { 0, GUEST_XD_RSVD(nxe), GUEST_XD_RSVD(nxe) | 0x1fe000ULL,                \
		       GUEST_XD_RSVD(nxe) | 0x3fffe000ULL, GUEST_XD_RSVD(nxe), GUEST_XD_RSVD(nxe) }, \
	.addr = PTE_ADDR_MASK, .and_bits = PTE_W | PTE_U, .or_bits = (nxe) ? PTE_XD : 0,     \
	.a = PTE_A, .d = PTE_D, .ad_tables_early = true,                                     \
	/* Present, PS clear, no reserved XD: a table pointer at any level above 1. */       \
	.tbl_mask = PTE_P | PTE_PS | GUEST_XD_RSVD(nxe), .tbl_val = PTE_P,                   \
}

/* #PF error code (SDM 4.7). */
#define PF_P    (1u << 0)
#define PF_W    (1u << 1)
#define PF_U    (1u << 2)
#define PF_RSVD (1u << 3)
#define PF_I    (1u << 4)
#define PF_PK   (1u << 5)

/* Control-register bits the paging model reads. */
#define CR0_PE  (1ULL << 0)
#define CR0_WP  (1ULL << 16)
#define CR0_PG  (1ULL << 31)
#define CR4_PSE (1ULL << 4)
#define CR4_PAE (1ULL << 5)
#define CR4_PGE (1ULL << 7)
#define CR4_LA57 (1ULL << 12)
#define CR4_PCIDE (1ULL << 17)
#define CR4_SMEP (1ULL << 20)
#define CR4_SMAP (1ULL << 21)
#define CR4_PKE (1ULL << 22)
#define CR4_PKS (1ULL << 24)
#define EFER_SCE (1ULL << 0)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)
#define EFER_NXE (1ULL << 11)
#define RFLAGS_AC (1ULL << 18)

/*
 * The processor state a translation depends on. Paging modes: CR0.PG=0 (GVA is
 * the GPA), 32-bit non-PAE 2-level (CR4.PAE=0), and 4/5-level (EFER.LMA=1).
 * ept == NULL means no second stage (GPA is the HPA: native counts).
 */
struct mmu_ctx {
	uint64_t cr0, cr3, cr4, efer;
	uint64_t rflags;      /* only AC is read */
	unsigned cpl;         /* 0..3 */
	uint16_t vpid;        /* 0 = the host/"no VPID" tag */
	/* The guest's MAXPHYADDR (CPUID 0x80000008 EAX[7:0]), 32..52; 0 means
	 * 52. Address bits at and above it are reserved in paging entries
	 * (SDM 4.3-4.5): a walk meeting one faults with #PF, P and RSVD set. */
	uint8_t maxphyaddr;
	/* Protection-key rights (SDM 4.6.2), two bits a key (AD, WD): PKRU for
	 * user-mode addresses under CR4.PKE, IA32_PKRS for supervisor-mode
	 * addresses under CR4.PKS; read only in IA-32e paging. */
	uint32_t pkru, pkrs;
	struct ept *ept;
};

/* Access flags for mmu_translate (ACC_READ/WRITE/FETCH from ept.h, plus:) */
#define ACC_IMPLICIT_SV (1u << 4)  /* implicit supervisor access (GDT/IDT/TSS reads) */

enum mmu_status {
	MMU_OK = 0,
	MMU_PAGE_FAULT,      /* res.pf_error, res.gva (CR2) */
	MMU_NONCANONICAL,    /* #GP (or #SS for stack accesses: the caller knows) */
	MMU_EPT_VIOLATION,   /* res.gpa, res.gva, res.qual */
	MMU_EPT_MISCONFIG,   /* res.gpa */
};

struct mmu_result {
	enum mmu_status status;
	uint64_t hpa;          /* MMU_OK: host-physical address of gva */
	uint64_t gpa;          /* guest-physical address (final or the paging entry that faulted) */
	uint64_t gva;
	unsigned page_shift;   /* combined page size (the smaller of the two stages) */
	uint32_t pf_error;
	uint64_t qual;
	unsigned refs;         /* references this translation made (0 on a TLB hit) */
	bool tlb_hit;
};

/* ------------------------------------------------------------------------ */
/* Configuration: TLBs and paging-structure caches                           */
/* ------------------------------------------------------------------------ */

enum tlb_id {
	TLB_L1I_4K, TLB_L1I_2M,
	TLB_L1D_4K, TLB_L1D_2M, TLB_L1D_1G,
	TLB_L2_4K2M,            /* unified second level: 4K and 2M */
	TLB_L2_1G,
	/* paging-structure caches (SDM 4.10.3 / 28.3.1) */
	PWC_PML5, PWC_PML4, PWC_PDPTE, PWC_PDE,        /* combined: VA bits -> HPA of guest table */
	PWC_GP_PML4, PWC_GP_PDPTE, PWC_GP_PDE,          /* guest-physical: GPA bits -> HPA of EPT table */
	NESTED_TLB,                                     /* GPA -> HPA page translations */
	MMU_NSTRUCT
};

struct mmu_config {
	char name[32];
	struct cache_geom geom[MMU_NSTRUCT];
	/* "perfect" structures never miss once filled (reference experiments) */
	bool perfect[MMU_NSTRUCT];
};

/* Names: "none", "skylake", "goldencove", "zen2", "zen4", ... (see docs/). */
int mmu_config_preset(const char *name, struct mmu_config *out) HV_MUST_CHECK;
/*
 * Limits of a configuration file's sizes. A lookup searches one set entry by
 * entry, so the ways of a set are bounded: a fully associative structure has
 * at most MMU_MAX_WAYS entries ('perfect' models an unbounded one).
 */
#define MMU_MAX_ENTRIES (1u << 22)
#define MMU_MAX_WAYS 1024u
/* Parse a configuration file's text (len bytes): "key = entries[/ways]"
 * lines, '#' comments, LF or CR LF endings. On error writes "name:line: what"
 * to err. Reading the file is the caller's (hv/cliutil.c). */
int mmu_config_parse(const char *name, const char *text, size_t len, struct mmu_config *out,
		     char *err, size_t errlen) HV_MUST_CHECK;
const char *mmu_struct_name(enum tlb_id id);
/* NULL-terminated list of preset names. */
const char *const *mmu_preset_names(void);

/* ------------------------------------------------------------------------ */
/* Statistics                                                               */
/* ------------------------------------------------------------------------ */
#define MMU_MAX_REFS 35            /* 5-level over 5-level */
#define GRID_ROWS 6                /* guest steps: levels 5..1, then the final GPA */
#define GRID_COLS 6                /* EPT levels 5..1, then the guest entry itself */

struct mmu_stats {
	uint64_t translations;         /* mmu_translate calls */
	uint64_t by_access[3];         /* reads, writes, fetches */
	uint64_t walks;                /* TLB misses that started a walk */
	uint64_t walk_refs;            /* references made by all walks */
	uint64_t refs_hist[MMU_MAX_REFS + 1];
	/*
	 * grid[r][c]: references of guest step r (0 = top guest level ... ,
	 * last used row = the final GPA) at EPT level column c (0 = EPT level 5 ...
	 * 4 = EPT level 1; 5 = the guest entry itself). See docs/translation.md.
	 */
	uint64_t grid[GRID_ROWS][GRID_COLS];
	struct cache_stats s[MMU_NSTRUCT];
	uint64_t page_faults, noncanonical, ept_violations, ept_misconfigs;
	uint64_t guest_ad_writes, ept_ad_writes;
};

/* ------------------------------------------------------------------------ */
/* The MMU                                                                  */
/* ------------------------------------------------------------------------ */
struct mmu;

int mmu_create(struct hpool *pool, const struct mmu_config *cfg, struct mmu **out) HV_MUST_CHECK;
void mmu_destroy(struct mmu *mmu);
const struct mmu_stats *mmu_stats(const struct mmu *mmu);
void mmu_reset_stats(struct mmu *mmu);

/*
 * Translate one access. `access` is one of ACC_READ/WRITE/FETCH, optionally
 * with ACC_IMPLICIT_SV. Looks up the TLBs (tagged by VPID, PCID and EPTP),
 * walks on a miss (using and filling the paging-structure caches), sets guest
 * A/D bits in guest memory and EPT A/D bits as hardware does, and counts
 * everything. A stale translation still held by a TLB is used, as on hardware.
 * Hot path: a hit must cost a few tens of nanoseconds at most.
 */
void mmu_translate(struct mmu *mmu, const struct mmu_ctx *ctx, uint64_t gva, unsigned access,
		   struct mmu_result *res);

/*
 * The TLB hit path inline, for a caller that translates millions of times
 * under one context (the software vCPU). The MMU keeps a host-side shortcut:
 * per access kind, a direct-mapped table from GVA page to the model L1 entry
 * that served it under the current context. It holds only translations the
 * model holds (each slot remembers the entry's generation, which eviction,
 * refill and invalidation bump), and a hit in it is counted and LRU-stamped
 * exactly as a model L1 hit.
 *
 * Use: mmu_set_ctx() after every change of the context (and before the first
 * use); then mmu_translate_hit() for plain accesses (no ACC_IMPLICIT_SV) under
 * that same context. It returns true with the HPA on a hit; false means it
 * changed nothing, and the caller asks mmu_translate_cur() (or
 * mmu_translate(), which probes the shortcut again and compares the
 * context), which also refills the shortcut. The fields below are private
 * to ept/mmu*.c.
 */
#define MMU_HIT_SLOTS 512
#define MMU_HIT_GEN_MAX 0xfffu        /* generations live in the tag's low 12 bits */

/*
 * The slot of a 4 KiB page number. The number's bits above the index are
 * folded in, so that pages a multiple of 2 MiB apart (a stack and a global
 * variable in a hot loop, say) do not take turns in one slot.
 */
static inline unsigned mmu_hit_index(uint64_t vpn)
{
	return (unsigned)(vpn ^ (vpn >> 9)) & (MMU_HIT_SLOTS - 1);
}

struct mmu_hit_slot {
	uint64_t tag;            /* GVA of the 4 KiB page | context generation; 0 = empty */
	uint64_t hpa, gpa;       /* of the 4 KiB page */
	uint64_t *lru;           /* the model entry's LRU stamp */
	uint64_t *clock;         /* its structure's LRU clock */
	uint64_t *hits;          /* its structure's hit counter */
	const uint32_t *gen;     /* the model entry's generation */
	uint32_t egen;           /* *gen when the slot was filled */
	uint32_t shift;          /* combined page shift */
};

struct mmu_hit {
	uint64_t gen;            /* generation of the current context, 1..MMU_HIT_GEN_MAX */
	struct mmu_stats *st;
	struct mmu_hit_slot slot[3][MMU_HIT_SLOTS];   /* by kind: read, write, fetch */
};

/* Make ctx the current context (no-op when it equals the current one). */
void mmu_set_ctx(struct mmu *mmu, const struct mmu_ctx *ctx);
/*
 * mmu_translate under the current context (the last mmu_set_ctx, whose
 * context the caller has not changed since), without the shortcut: for a
 * caller whose mmu_translate_hit() just missed, or an implicit supervisor
 * access, which the shortcut never serves. The same results and counts as
 * mmu_translate with that context, without comparing the context again or
 * probing the shortcut a second time.
 */
void mmu_translate_cur(struct mmu *mmu, uint64_t gva, unsigned access, struct mmu_result *res);
/* The shortcut of mmu; its address never changes. */
struct mmu_hit *mmu_hit(struct mmu *mmu);

/*
 * The slot that would serve gva for access (ACC_READ, ACC_WRITE or ACC_FETCH;
 * a constant folds the kind), or NULL when the shortcut would miss. Counts
 * nothing: mmu_hit_take() does, and nothing may reach this MMU in between.
 */
static inline struct mmu_hit_slot *mmu_hit_find(struct mmu_hit *h, uint64_t gva, unsigned access)
{
	unsigned kind = (access & ACC_FETCH) ? 2 : (access & ACC_WRITE) ? 1 : 0;
	struct mmu_hit_slot *s = &h->slot[kind][mmu_hit_index(gva >> 12)];

	if (__builtin_expect(s->tag != ((gva & ~0xfffULL) | h->gen), 0) ||
	    __builtin_expect(*s->gen != s->egen, 0))
		return NULL;
	return s;
}

/*
 * Whether s, a slot of access's kind that mmu_hit_find() gave for some
 * address earlier (kept by the caller as a hint), is the slot it would give
 * for gva now: a slot holds one page at a time, so its tag names the page
 * and context, and the generation says its entry is still the model's.
 */
static inline bool mmu_hit_is(const struct mmu_hit *h, const struct mmu_hit_slot *s, uint64_t gva)
{
	return s->tag == ((gva & ~0xfffULL) | h->gen) && *s->gen == s->egen;
}

/* The hit of gva on s (from mmu_hit_find, same access): counted, its HPA returned. */
static inline uint64_t mmu_hit_take(struct mmu_hit *h, struct mmu_hit_slot *s, uint64_t gva,
				    unsigned access)
{
	unsigned kind = (access & ACC_FETCH) ? 2 : (access & ACC_WRITE) ? 1 : 0;

	/* What mmu_translate counts for an L1 hit, and the LRU stamp. */
	h->st->translations++;
	h->st->by_access[kind]++;
	(*s->hits)++;
	*s->lru = ++*s->clock;
	return s->hpa | (gva & 0xfff);
}

static inline bool mmu_translate_hit(struct mmu_hit *h, uint64_t gva, unsigned access,
				     uint64_t *hpa)
{
	struct mmu_hit_slot *s = mmu_hit_find(h, gva, access);

	if (!s)
		return false;
	*hpa = mmu_hit_take(h, s, gva, access);
	return true;
}

/*
 * Whether hits on slot s and hits of gva for access (whose slot holds a
 * valid entry) stamp different structures. Then the two kinds of hit may be
 * counted in either order: each structure's hit counter, LRU clock and
 * entry stamps see only their own hits, and the totals are sums, so every
 * counter ends the same. (The same structure shares one clock: order
 * matters there.)
 */
static inline bool mmu_hit_apart(const struct mmu_hit *h, const struct mmu_hit_slot *s,
				 uint64_t gva, unsigned access)
{
	unsigned kind = (access & ACC_FETCH) ? 2 : (access & ACC_WRITE) ? 1 : 0;

	return h->slot[kind][mmu_hit_index(gva >> 12)].clock != s->clock;
}

/*
 * n more hits on the slot a hit of gva (same access kind) used last, counted
 * at once: the same counters and the same final LRU stamp as n more calls of
 * mmu_translate_hit() that all hit. Only for a caller that made nothing else
 * reach this MMU since that hit (no other translation, invalidation or
 * context switch): the soft vCPU's instruction fetches inside one block.
 */
static inline void mmu_hit_count(struct mmu_hit *h, uint64_t gva, unsigned access, uint64_t n)
{
	unsigned kind = (access & ACC_FETCH) ? 2 : (access & ACC_WRITE) ? 1 : 0;
	struct mmu_hit_slot *s = &h->slot[kind][mmu_hit_index(gva >> 12)];

	h->st->translations += n;
	h->st->by_access[kind] += n;
	*s->hits += n;
	*s->clock += n;
	*s->lru = *s->clock;
}

/*
 * Counting on a kept slot. A caller that took a hit on slot s (mmu_hit_take)
 * and defers the hits of the same kind that follow on it (the soft vCPU's
 * instruction fetches from one page) may keep s and count them with the two
 * calls below, without finding s again. Between that hit and the count,
 * nothing may reach s's structure: the entry s names is then the last its
 * structure stamped, *s->lru == *s->clock, which the counts rely on.
 */

/* n more hits on slot s: mmu_hit_count() without finding s again. */
static inline void mmu_hit_count_on(struct mmu_hit *h, const struct mmu_hit_slot *s,
				    unsigned access, uint64_t n)
{
	unsigned kind = (access & ACC_FETCH) ? 2 : (access & ACC_WRITE) ? 1 : 0;

	h->st->translations += n;
	h->st->by_access[kind] += n;
	*s->hits += n;
	*s->lru = *s->clock += n;
}

/*
 * mmu_hit_count_on(h, s, access, n) and then mmu_hit_take(h, t, gva, access)
 * in one call: the n hits deferred on s counted, then the hit of gva on t
 * (from mmu_hit_find of the same access, nothing having reached the MMU
 * since; t may be s, or s's entry) counted and its HPA returned. n may be 0
 * (with s any slot satisfying the rule above, t itself for instance).
 */
static inline uint64_t mmu_hit_settle_take(struct mmu_hit *h, const struct mmu_hit_slot *s,
					   uint64_t n, struct mmu_hit_slot *t, uint64_t gva,
					   unsigned access)
{
	unsigned kind = (access & ACC_FETCH) ? 2 : (access & ACC_WRITE) ? 1 : 0;

	h->st->translations += n + 1;
	h->st->by_access[kind] += n + 1;
	*s->hits += n;
	*s->lru = *s->clock += n;
	(*t->hits)++;
	*t->lru = ++*t->clock;
	return t->hpa | (gva & 0xfff);
}

/*
 * The structures only instruction fetches use: the L1 iTLBs (4 KiB, and
 * 2 MiB which also holds 1 GiB code pages as 2 MiB pieces; SDM 4.10.2.3),
 * each named by its LRU clock, NULL for one the MMU does not have. A data
 * translation (ACC_READ or ACC_WRITE, implicit supervisor or not) never
 * looks them up, fills or stamps them; it invalidates their entries only for
 * the address of a page fault it raises (SDM 4.10.4.1). Fixed for the MMU's
 * life (ept/mmu_fast.c).
 */
struct mmu_fetch_only {
	const uint64_t *clock[2];
};
void mmu_fetch_only(const struct mmu *mmu, struct mmu_fetch_only *out);

/*
 * Whether hits deferred on the fetch slot s, whose hit was of a GVA in the
 * 4 KiB page `page`, may stay deferred across a data translation of gva:
 * counted after it (mmu_hit_count_on), they leave every counter, stamp and
 * entry as counting them before it would. True when s's entry is in an L1
 * iTLB (f, mmu_fetch_only) and gva lies outside the entry's page, which a
 * page fault of gva would invalidate.
 */
static inline bool mmu_hit_data_apart(const struct mmu_fetch_only *f,
				      const struct mmu_hit_slot *s, uint64_t page, uint64_t gva)
{
	return (s->clock == f->clock[0] || s->clock == f->clock[1]) &&
	       ((gva ^ page) >> s->shift) != 0;
}

/* One reference of a 2D walk, for `hv walk`. */
struct walk_ref {
	int guest_level;     /* 5..1 = guest table level whose entry/address is involved; 0 = final GPA */
	int ept_level;       /* 5..1 = EPT entry; 0 = the guest entry itself */
	uint64_t gpa;        /* GPA being translated (EPT refs) or GPA of the guest entry */
	uint64_t entry_hpa;  /* where the entry was read */
	uint64_t value;      /* the entry as the walk left it (after its A/D writes, guest and EPT) */
};
struct walk_trace {
	unsigned n;
	struct walk_ref ref[MMU_MAX_REFS + 1];
	/* which caches were hit on the way (by enum tlb_id), in order */
	unsigned nhits;
	enum tlb_id hit[16];
};
/* Like mmu_translate, recording every reference. Does not bypass the caches. */
void mmu_translate_traced(struct mmu *mmu, const struct mmu_ctx *ctx, uint64_t gva,
			  unsigned access, struct mmu_result *res, struct walk_trace *trace);

/* Invalidation with architectural semantics (SDM 4.10.4, 28.3.3). */
void mmu_invlpg(struct mmu *mmu, const struct mmu_ctx *ctx, uint64_t gva);
/* MOV to CR3: ctx holds the new CR3. noflush = bit 63 of the source with CR4.PCIDE. */
void mmu_mov_cr3(struct mmu *mmu, const struct mmu_ctx *ctx, bool noflush);
/* MOV to CR0/CR4 that changes paging bits: flush the VPID's mappings. */
void mmu_flush_vpid_all(struct mmu *mmu, uint16_t vpid);
enum invvpid_type { INVVPID_ADDR = 0, INVVPID_SINGLE = 1, INVVPID_ALL = 2, INVVPID_SINGLE_KEEP_GLOBAL = 3 };
void mmu_invvpid(struct mmu *mmu, enum invvpid_type type, uint16_t vpid, uint64_t gva);
enum invept_type { INVEPT_SINGLE = 1, INVEPT_GLOBAL = 2 };
void mmu_invept(struct mmu *mmu, enum invept_type type, uint64_t eptp);
/* INVPCID types 0..3 (SDM INVPCID). */
void mmu_invpcid(struct mmu *mmu, uint16_t vpid, unsigned type, uint16_t pcid, uint64_t gva);

/* ------------------------------------------------------------------------ */
/* Building guest page tables from the host side (tests, hv trace, hv walk)  */
/* ------------------------------------------------------------------------ */
/*
 * Writes x86-64 guest paging structures into guest RAM through EPT (the GPA
 * range [table_gpa, table_gpa + table_len) holding them must already be mapped
 * in EPT, readable and writable). Table pages are handed out from that range.
 */
struct gpt_builder;
int gpt_builder_create(struct hpool *pool, struct ept *ept, unsigned levels, uint64_t table_gpa,
		       uint64_t table_len, struct gpt_builder **out) HV_MUST_CHECK;
void gpt_builder_destroy(struct gpt_builder *b);
/* GPA of the top-level table (the CR3 value, PCID 0). */
uint64_t gpt_builder_cr3(const struct gpt_builder *b);
/*
 * Map [gva, gva+len) -> [gpa, gpa+len) with pages of 1 << page_shift (12, 21,
 * 30); flags are PTE_W | PTE_U | PTE_XD | PTE_G (P is implied; upper levels
 * get P|W|U so that the leaf decides). -ENOSPC when the table range is full.
 */
int gpt_map(struct gpt_builder *b, uint64_t gva, uint64_t gpa, uint64_t len, uint64_t flags,
	    unsigned page_shift) HV_MUST_CHECK;
/* GPA of the entry at `level` for gva (0 when that table does not exist): tests poke entries. */
uint64_t gpt_entry_gpa(const struct gpt_builder *b, uint64_t gva, unsigned level);

#endif /* HV_MMU_H */
