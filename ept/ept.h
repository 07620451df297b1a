/* SPDX-License-Identifier: MIT */
/*
 * ept/ept.h - host-physical frame pool and Intel-format EPT tables.
 *
 * Read this header first. It describes the second translation stage:
 *
 *   GPA --(EPT tables, SDM Vol. 3C ch. 29)--> HPA
 *
 * "Host-physical memory" is a frame pool: one large sparse reservation
 * (MAP_NORESERVE) in which an HPA is simply an offset. EPT tables and guest RAM
 * both live in the pool, so every reference a walk makes is a real 8-byte read
 * at an HPA. The guest (first-stage) paging model, the composed 2D walk, TLBs
 * and paging-structure caches are in ept/mmu.h.
 *
 * Conventions: functions return 0 or a negative errno; created objects come
 * back through an out-parameter. Nothing in ept/ prints or exits.
 */
#ifndef HV_EPT_H
#define HV_EPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ept/compiler.h"
#include "ept/hpool.h"
#include "ept/walk.h"

#define PAGE_SHIFT_4K 12
#define PAGE_SHIFT_2M 21
#define PAGE_SHIFT_1G 30
#define PAGE_SIZE_4K (1ULL << PAGE_SHIFT_4K)
#define PAGE_SIZE_2M (1ULL << PAGE_SHIFT_2M)
#define PAGE_SIZE_1G (1ULL << PAGE_SHIFT_1G)

/* Access types, shared by both stages and by the IOMMU. */
#define ACC_READ  (1u << 0)
#define ACC_WRITE (1u << 1)
#define ACC_FETCH (1u << 2)

/* ------------------------------------------------------------------------ */
/* Frame pool                                                               */
/* ------------------------------------------------------------------------ */

/* Who a frame belongs to: hv's own tables or guest RAM. */
enum frame_owner {
	FRAME_FREE = 0,
	FRAME_HV = 1,    /* EPT tables, IOMMU tables, hv bookkeeping in the pool */
	FRAME_GUEST = 2, /* guest RAM */
};

struct hpool_stats {
	uint64_t reserved_bytes; /* size of the sparse reservation */
	uint64_t hv_bytes;       /* currently allocated to FRAME_HV */
	uint64_t guest_bytes;    /* currently allocated to FRAME_GUEST */
	uint64_t peak_bytes;     /* high-water mark of hv_bytes + guest_bytes */
	uint64_t allocs, frees;
};

/* The pool itself (struct hpool, hpool_ptr/read64/write64): ept/hpool.h. */


/* Reserve `size` bytes (rounded up to 1 GiB) of sparse host-physical space. */
int hpool_create(uint64_t size, struct hpool **out) HV_MUST_CHECK;
/*
 * The same, backed by a memfd whose file offset is the HPA, so that other
 * mappings of pool frames (a KVM memory slot's host memory) alias them.
 */
int hpool_create_memfd(uint64_t size, struct hpool **out) HV_MUST_CHECK;
void hpool_destroy(struct hpool *pool);

/*
 * Allocate a naturally aligned, zero-filled run of `size` bytes (4 KiB, 2 MiB
 * or 1 GiB) for `owner`; -ENOMEM when the reservation is exhausted.
 */
int hpool_alloc(struct hpool *pool, uint64_t size, enum frame_owner owner,
		uint64_t *hpa) HV_MUST_CHECK;

/* Return a run obtained from hpool_alloc (same size); its memory is released
 * to the host (MADV_DONTNEED). Precondition: hpa/size came from hpool_alloc. */
void hpool_free(struct hpool *pool, uint64_t hpa, uint64_t size);

/* Owner of the 4 KiB frame holding `hpa` (FRAME_FREE if unallocated or out of range). */
enum frame_owner hpool_owner(const struct hpool *pool, uint64_t hpa);

void hpool_get_stats(const struct hpool *pool, struct hpool_stats *out);


/* ------------------------------------------------------------------------ */
/* EPT entry and EPTP formats (SDM Vol. 3C 29.3.2, 25.6.11)                  */
/* ------------------------------------------------------------------------ */

typedef struct {
	uint64_t raw;
} ept_entry_t;

/* SDM 29.3.2, Tables 29-1..29-6: EPT paging-structure entries. */
#define EPT_R          (1ULL << 0)  /* read access */
#define EPT_W          (1ULL << 1)  /* write access */
#define EPT_X          (1ULL << 2)  /* execute (supervisor execute with MBEC) */
#define EPT_RWX        (EPT_R | EPT_W | EPT_X)
#define EPT_MT_SHIFT   3            /* bits 5:3 memory type, leaf only */
#define EPT_MT_MASK    (7ULL << EPT_MT_SHIFT)
#define EPT_IPAT       (1ULL << 6)  /* ignore PAT memory type, leaf only */
#define EPT_PS         (1ULL << 7)  /* page size: PDPTE 1 GiB, PDE 2 MiB */
#define EPT_A          (1ULL << 8)  /* accessed (EPTP.AD) */
#define EPT_D          (1ULL << 9)  /* dirty (EPTP.AD), leaf only */
#define EPT_XU         (1ULL << 10) /* user-mode execute (MBEC) */
#define EPT_SVE        (1ULL << 63) /* suppress #VE */
#define EPT_ADDR_MASK  0x000ffffffffff000ULL /* bits 51:12 (MAXPHYADDR 52) */

/* SDM 11.3: memory types used in EPT and the EPTP. */
#define EPT_MT_UC 0
#define EPT_MT_WC 1
#define EPT_MT_WT 4
#define EPT_MT_WP 5
#define EPT_MT_WB 6

/* SDM 25.6.11: extended-page-table pointer. */
#define EPTP_MT_MASK     0x7ULL       /* bits 2:0 memory type of the tables */
#define EPTP_PWL_SHIFT   3            /* bits 5:3 page-walk length - 1 */
#define EPTP_PWL_MASK    (7ULL << EPTP_PWL_SHIFT)
#define EPTP_AD          (1ULL << 6)  /* enable accessed/dirty flags */
#define EPTP_ADDR_MASK   EPT_ADDR_MASK

static inline bool ept_entry_present(ept_entry_t e) { return (e.raw & EPT_RWX) != 0; }
static inline uint64_t ept_entry_addr(ept_entry_t e) { return e.raw & EPT_ADDR_MASK; }
static inline unsigned ept_entry_memtype(ept_entry_t e) { return (unsigned)((e.raw & EPT_MT_MASK) >> EPT_MT_SHIFT); }
static inline bool ept_entry_large(ept_entry_t e) { return (e.raw & EPT_PS) != 0; }

static inline uint64_t eptp_make(uint64_t root_hpa, unsigned levels, bool ad)
{
	return (root_hpa & EPTP_ADDR_MASK) | ((uint64_t)(levels - 1) << EPTP_PWL_SHIFT) |
	       (ad ? EPTP_AD : 0) | EPT_MT_WB;
}
static inline unsigned eptp_levels(uint64_t eptp) { return (unsigned)((eptp & EPTP_PWL_MASK) >> EPTP_PWL_SHIFT) + 1; }
static inline uint64_t eptp_root(uint64_t eptp) { return eptp & EPTP_ADDR_MASK; }

/* ------------------------------------------------------------------------ */
/* EPT violation exit qualification (SDM 28.2.1, Table 28-7)                */
/* ------------------------------------------------------------------------ */
#define EPT_QUAL_READ        (1ULL << 0)  /* the access was a data read */
#define EPT_QUAL_WRITE       (1ULL << 1)  /* the access was a data write */
#define EPT_QUAL_FETCH       (1ULL << 2)  /* the access was an instruction fetch */
#define EPT_QUAL_READABLE    (1ULL << 3)  /* AND of R over all levels */
#define EPT_QUAL_WRITABLE    (1ULL << 4)  /* AND of W over all levels */
#define EPT_QUAL_EXECUTABLE  (1ULL << 5)  /* AND of X over all levels */
#define EPT_QUAL_UEXEC       (1ULL << 6)  /* AND of XU over all levels (MBEC) */
#define EPT_QUAL_GLA_VALID   (1ULL << 7)  /* guest linear address field valid */
#define EPT_QUAL_GLA_XLATE   (1ULL << 8)  /* 1: access to the linear address; 0: to a paging entry */
#define EPT_QUAL_GUEST_US    (1ULL << 9)  /* advanced info: guest U/S */
#define EPT_QUAL_GUEST_RW    (1ULL << 10) /* advanced info: guest R/W */
#define EPT_QUAL_GUEST_XD    (1ULL << 11) /* advanced info: guest XD */
#define EPT_QUAL_NMI_UNBLOCK (1ULL << 12)

/* ------------------------------------------------------------------------ */
/* EPT tables                                                               */
/* ------------------------------------------------------------------------ */

/* Processor capabilities the walker checks against (IA32_VMX_EPT_VPID_CAP). */
struct ept_caps {
	bool exec_only;  /* bit 0: execute-only translations supported */
	bool page_1g;    /* bit 17: 1 GiB pages */
	bool mbec;       /* mode-based execute control enabled (secondary ctl bit 22) */
};

/*
 * The EPT format for the walker (SDM 29.3.2, Tables 29-1..29-6; 29.3.3.1
 * misconfigurations). With MAXPHYADDR 52, bits 51:12 are all address bits, so
 * the reserved bits are the ones the entry formats name, which the masks hold:
 *   PML5E/PML4E: bits 7:3 (so PS=1 is reserved there);
 *   PDPTE/PDE referencing a table: bits 6:3;
 *   PDPTE with PS=1 without 1 GiB support: the PS bit itself;
 *   1 GiB leaf: bits 29:12, 2 MiB leaf: bits 20:12.
 * ept_entry_bad() adds what is not a mask: memory type 2, 3 or 7 in a leaf
 * (SDM 29.3.7), and the permission encodings 010b and 110b (write without
 * read), and 100b (execute-only) without the execute-only capability, or with
 * MBEC bit 0 clear and XU set without it. Present: any of bits 2:0, or bit
 * 10 (XU) with mode-based execute control. A/D (SDM 29.3.5): A in every entry
 * used, D in the leaf for writes, set once the translation is known to be used.
 *
 * EPT_WALK_FMT() is the one definition: ept_create() fills ept->fmt with it,
 * and a fast path instantiates it as a const descriptor for the walker.
 */
#define EPT_PERM_BITS     (EPT_RWX | EPT_XU)
#define EPT_FMT_EXEC_ONLY 1u
#define EPT_FMT_MBEC      2u

static inline bool ept_memtype_reserved(uint64_t mt)
{
	return (0x8cu >> mt) & 1;
}

static inline __attribute__((always_inline)) bool ept_entry_bad(const struct walk_fmt *f, uint64_t e, unsigned level, bool leaf)
{
	const unsigned rwx = (unsigned)(e & EPT_RWX);
	const bool exec_only = f->caps & EPT_FMT_EXEC_ONLY;

	(void)level;
	/* Readable: only the memory type can be wrong (the usual case, first). */
	if (__builtin_expect(rwx & 1, 1))
		return leaf && ept_memtype_reserved((e & EPT_MT_MASK) >> EPT_MT_SHIFT);
	if ((rwx & 3) == 2 || (rwx == 4 && !exec_only))
		return true;
	if ((f->caps & EPT_FMT_MBEC) && !exec_only && !(rwx & 1) && (e & EPT_XU))
		return true;
	return leaf && ept_memtype_reserved((e & EPT_MT_MASK) >> EPT_MT_SHIFT);
}

#define EPT_LEAF_RSVD(l) (EPT_ADDR_MASK & ((1ULL << (PAGE_SHIFT_4K + 9 * ((l) - 1))) - 1))
#define EPT_WALK_FMT(lv, ad_, page_1g_, mbec_, exec_only_) {                               \
	.name = "EPT", .levels = (lv), .esz = 8,                                            \
	.shift = { 0, 12, 21, 30, 39, 48 }, .ibits = { 0, 9, 9, 9, 9, (lv) == 5 ? 9 : 0 },   \
	.present = EPT_RWX | ((mbec_) ? EPT_XU : 0),                                       \
	.ps = EPT_PS, .large = (1u << 2) | ((page_1g_) ? 1u << 3 : 0),                     \
	.rsvd_table = { 0, 0x78, 0x78, 0x78 | ((page_1g_) ? 0 : EPT_PS), 0xf8, 0xf8 },      \
	.rsvd_page = { 0, 0, EPT_LEAF_RSVD(2), EPT_LEAF_RSVD(3), EPT_LEAF_RSVD(4),          \
		       EPT_LEAF_RSVD(5) },                                                  \
	.addr = EPT_ADDR_MASK, .and_bits = EPT_PERM_BITS,                                   \
	.a = (ad_) ? EPT_A : 0, .d = (ad_) ? EPT_D : 0,                                     \
	.bad = ept_entry_bad,                                                               \
	.caps = ((exec_only_) ? EPT_FMT_EXEC_ONLY : 0) | ((mbec_) ? EPT_FMT_MBEC : 0),     \
	/* Readable with bits 7:3 clear: a table pointer at any level above 1. */          \
	.tbl_mask = EPT_R | 0xf8, .tbl_val = EPT_R,                                        \
	/* Readable, write-back: a well-formed 4 KiB leaf. */                              \
	.leaf_mask = EPT_R | EPT_MT_MASK, .leaf_val = EPT_R | (EPT_MT_WB << EPT_MT_SHIFT), \
}

/*
 * One EPT hierarchy.
 *   pool, levels, ad, caps: set once at creation.
 *   root: HPA of the top table, set once.
 *   table_pages: number of table pages currently allocated (maintained by map/unmap).
 *   fmt: the walker's description of this hierarchy's format, set once.
 */
struct ept {
	struct hpool *pool;
	uint64_t root;
	unsigned levels;      /* 4 or 5 */
	bool ad;              /* EPTP bit 6 */
	struct ept_caps caps;
	uint64_t table_pages;
	struct walk_fmt fmt;  /* the EPT format with these levels and caps, set once */
	/* ept_set_raw has written an entry. Until then every entry is hv's:
	 * each table pointer names one of its table pages, and no leaf maps a
	 * table page into guest memory, so a walk may read entries without
	 * testing each address against the end of the pool (ept_quick). */
	bool raw_written;
	/* ept_is_std, 4 levels and !raw_written, kept with them: the miss
	 * path's test for walking over ept_std_fmt[0][ad] with no bounds test. */
	bool std4_own;
};

/* Create an empty hierarchy of 4 or 5 levels. */
int ept_create(struct hpool *pool, unsigned levels, bool ad, const struct ept_caps *caps,
	       struct ept **out) HV_MUST_CHECK;
/* Free every table page (not the guest frames the tables point to). */
void ept_destroy(struct ept *ept);
static inline uint64_t ept_eptp(const struct ept *ept) { return eptp_make(ept->root, ept->levels, ept->ad); }

/*
 * Map [gpa, gpa+len) -> [hpa, hpa+len) with `attrs` (EPT_R/W/X/XU, memory type
 * bits, IPAT). Uses the largest page (up to max_page: 4K, 2M or 1G) whose GPA and
 * HPA are both aligned and which fits; splits existing large pages that the range
 * covers only in part; replaces existing mappings. gpa, hpa, len are 4 KiB aligned;
 * the range may end at 2^64 (len wraps to 0 only as an error: -EINVAL).
 * -ERANGE when gpa+len exceeds the GPA width of the hierarchy (48 or 57 bits).
 * len == 0 is -EINVAL for ept_map, ept_unmap, ept_protect and ept_harvest_dirty.
 */
int ept_map(struct ept *ept, uint64_t gpa, uint64_t hpa, uint64_t len, uint64_t attrs,
	    uint64_t max_page) HV_MUST_CHECK;
/* Remove mappings in [gpa, gpa+len), splitting large pages at the edges; table
 * pages that become empty are freed. Holes are fine. */
int ept_unmap(struct ept *ept, uint64_t gpa, uint64_t len) HV_MUST_CHECK;
/* Replace the R/W/X/XU permissions of every present leaf in [gpa, gpa+len)
 * (holes skipped), splitting at the edges and merging back tables that become
 * uniform (same attributes, contiguous HPAs). */
int ept_protect(struct ept *ept, uint64_t gpa, uint64_t len, uint64_t perms) HV_MUST_CHECK;
/* Write a raw entry at `level` for `gpa` (tests and the misconfiguration demo):
 * allocates missing upper tables. -EINVAL when the entry would point to one of
 * hv's tables other than the one already there (teardown would free it twice). */
int ept_set_raw(struct ept *ept, uint64_t gpa, unsigned level, uint64_t raw) HV_MUST_CHECK;
/* Clear A (and D) flags in every entry covering [gpa, gpa+len), collecting the
 * 4 KiB GPAs whose leaf had D set into cb (dirty logging via EPT D bits). */
int ept_harvest_dirty(struct ept *ept, uint64_t gpa, uint64_t len,
		      void (*cb)(void *ctx, uint64_t gpa, uint64_t size), void *ctx) HV_MUST_CHECK;

/* ------------------------------------------------------------------------ */
/* EPT walk                                                                 */
/* ------------------------------------------------------------------------ */

/* What the access was, for the exit qualification. */
struct ept_access {
	unsigned type;        /* exactly one of ACC_READ, ACC_WRITE, ACC_FETCH */
	bool user;            /* CPL 3 fetch (MBEC selects XU instead of X) */
	bool paging_entry;    /* access to a guest paging-structure entry (A/D: treated as write) */
	bool gla_valid;       /* a guest linear address caused it */
	uint64_t gla;
	uint64_t guest_bits;  /* EPT_QUAL_GUEST_US/RW/XD advanced info (when !paging_entry) */
};

enum ept_status {
	EPT_OK = 0,
	EPT_VIOLATION = 1,   /* exit reason 48, qual valid */
	EPT_MISCONFIG = 2,   /* exit reason 49 */
};

/* One reference of a walk, for explanations (hv walk) and the reference grid. */
struct ept_ref {
	unsigned level;   /* 5..1 */
	uint64_t entry_hpa;
	uint64_t value;
};

/*
 * Where a walk may start: normally at the top (start_level = ept->levels,
 * table = ept->root, perms = EPT_RWX|EPT_XU); a guest-physical
 * paging-structure cache hit lets the walk start lower with the permissions
 * accumulated above.
 */
struct ept_walk_start {
	unsigned level;
	uint64_t table;   /* HPA of the table at `level` */
	uint64_t perms;   /* AND of R/W/X/XU over the levels above */
};

struct ept_walk_result {
	enum ept_status status;
	uint64_t hpa;          /* translated address (EPT_OK) */
	unsigned page_shift;   /* 12, 21 or 30 */
	uint64_t perms;        /* AND of R/W/X/XU over all levels that were walked */
	uint64_t memtype;      /* leaf memory type */
	uint64_t qual;         /* EPT violation exit qualification */
	unsigned refs;         /* number of entries read (references) */
	unsigned ad_writes;    /* entries whose A/D flags this walk set (SDM 29.3.5) */
	bool dirty;            /* EPT_OK: the leaf's D flag (bit 9) after the walk */
	uint64_t table[6];     /* table[l] = HPA of the level-l table used (for PWC fills) */
	uint64_t perms_at[6];  /* perms_at[l] = AND of perms of the entries above level l */
	unsigned nref;         /* entries in ref[] when a trace was asked for */
	struct ept_ref ref[5];
};

/*
 * Translate `gpa` for `acc`. `start` may be NULL (walk from the root). Sets
 * EPT A flags on every entry walked and D on the leaf for writes (and for
 * paging_entry accesses) when ept->ad. Returns 0; the outcome is in *res.
 */
int ept_walk(struct ept *ept, uint64_t gpa, const struct ept_access *acc,
	     const struct ept_walk_start *start, struct ept_walk_result *res);

/*
 * Where `gpa` leads, as a lookup: the same walk over the same format, but no
 * access is made, so no A or D flag is set and nothing is counted (for the
 * host side reading or writing guest memory, tools and tests). 0 with the
 * HPA, the page shift and the permissions (R/W/X/XU ANDed over the levels);
 * -ENOENT when nothing is mapped there (not present, beyond the GPA width)
 * and -EINVAL for a misconfigured entry.
 */
int ept_lookup(const struct ept *ept, uint64_t gpa, uint64_t *hpa, unsigned *page_shift,
	       uint64_t *perms);
/* The present leaves of the hierarchy by size: [0] 4 KiB, [1] 2 MiB, [2] 1 GiB
 * (a table-less view of the map, for reports). Sets no A/D flags. */
void ept_count_leaves(const struct ept *ept, uint64_t leaves[3]);

#endif /* HV_EPT_H */
