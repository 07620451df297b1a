/* SPDX-License-Identifier: MIT */
/*
 * iommu/iommu.h - a VT-d DMA-remapping unit (legacy mode), read this first.
 *
 * A device never touches memory directly: every DMA request carries the
 * device's source id (bus << 8 | devfn) and an address the device put on the
 * bus (an IOVA), and goes through this unit:
 *
 *   source id --root table (by bus)--> context entry (by devfn)
 *             --second-level tables--> output address --> memory
 *
 * Everything here follows the Intel Virtualization Technology for Directed
 * I/O Architecture Specification (cited as "VT-d" with the section number):
 * root and context entries (9.1, 9.3), the register block (chapter 11),
 * primary fault recording (7.3) and the invalidation interfaces (6.5).
 *
 * The unit reads its tables and writes wait-descriptor status through its
 * "physical" address space, which is the frame pool (HPA) when hv owns the
 * unit. Nothing here prints or exits; functions return 0 or a negative errno.
 */
#ifndef HV_IOMMU_H
#define HV_IOMMU_H

#include <stdbool.h>
#include <stdint.h>

#include "ept/cache.h"
#include "ept/ept.h"
#include "ept/walk.h"

/* QEMU's default base for its intel-iommu register block, and the size of
 * the window hv decodes for it (one page; the registers use less). */
#define IOMMU_BASE 0xfed90000ULL
#define IOMMU_LEN  0x1000ULL
/* The host address width of the unit: bits of table and page addresses. */
#define IOMMU_HAW_BITS 48

/* ------------------------------------------------------------------------ */
/* Register offsets (VT-d 11.4, Table "Address Mapping for Remapping          */
/* Hardware Registers")                                                      */
/* ------------------------------------------------------------------------ */
#define VTD_VER_REG     0x000  /* 32: version */
#define VTD_CAP_REG     0x008  /* 64: capability */
#define VTD_ECAP_REG    0x010  /* 64: extended capability */
#define VTD_GCMD_REG    0x018  /* 32: global command (write-only, reads 0) */
#define VTD_GSTS_REG    0x01c  /* 32: global status */
#define VTD_RTADDR_REG  0x020  /* 64: root table address */
#define VTD_CCMD_REG    0x028  /* 64: context command */
#define VTD_FSTS_REG    0x034  /* 32: fault status */
#define VTD_FECTL_REG   0x038  /* 32: fault event control */
#define VTD_FEDATA_REG  0x03c  /* 32: fault event data */
#define VTD_FEADDR_REG  0x040  /* 32: fault event address */
#define VTD_FEUADDR_REG 0x044  /* 32: fault event upper address */
#define VTD_IQH_REG     0x080  /* 64: invalidation queue head */
#define VTD_IQT_REG     0x088  /* 64: invalidation queue tail */
#define VTD_IQA_REG     0x090  /* 64: invalidation queue address */
#define VTD_ICS_REG     0x09c  /* 32: invalidation completion status */
#define VTD_IECTL_REG   0x0a0  /* 32: invalidation event control */
#define VTD_IEDATA_REG  0x0a4  /* 32: invalidation event data */
#define VTD_IEADDR_REG  0x0a8  /* 32: invalidation event address */
#define VTD_IEUADDR_REG 0x0ac  /* 32: invalidation event upper address */

/* Where this implementation puts the two register sets whose place the
 * capability registers announce (ECAP.IRO and CAP.FRO, in 16-byte units). */
#define IOMMU_IRO_OFFSET 0x100  /* IVA_REG here, IOTLB_REG at +8 (VT-d 11.4.8) */
#define IOMMU_FRO_OFFSET 0x200  /* fault recording register i at +16*i (VT-d 11.4.14) */
#define VTD_IVA_REG      (IOMMU_IRO_OFFSET + 0x0)
#define VTD_IOTLB_REG    (IOMMU_IRO_OFFSET + 0x8)
#define IOMMU_NFR_MAX    16     /* fault recording registers the window holds */

/* VT-d 11.4.1: version register, bits 7:4 major, 3:0 minor. */
#define IOMMU_VERSION 0x10      /* 1.0 */

/* VT-d 11.4.2: capability register. */
#define VTD_CAP_ND(x)       ((uint64_t)(x) & 7)        /* 2:0 domains: 2^(4+2*ND) */
#define VTD_CAP_RWBF        (1ULL << 4)
#define VTD_CAP_CM          (1ULL << 7)                /* caching mode */
#define VTD_CAP_SAGAW_SHIFT 8                          /* 12:8 supported AGAWs */
#define VTD_CAP_SAGAW_39    (1ULL << 9)                /* bit 1: 39-bit, 3-level */
#define VTD_CAP_SAGAW_48    (1ULL << 10)               /* bit 2: 48-bit, 4-level */
#define VTD_CAP_MGAW_SHIFT  16                         /* 21:16 MGAW - 1 */
#define VTD_CAP_FRO_SHIFT   24                         /* 33:24 fault recording offset / 16 */
#define VTD_CAP_SLLPS_2M    (1ULL << 34)               /* 37:34 second-level large pages */
#define VTD_CAP_SLLPS_1G    (1ULL << 35)
#define VTD_CAP_PSI         (1ULL << 39)               /* page-selective invalidation */
#define VTD_CAP_NFR_SHIFT   40                         /* 47:40 fault recording regs - 1 */
#define VTD_CAP_MAMV_SHIFT  48                         /* 53:48 max address mask value */

/* VT-d 11.4.3: extended capability register. */
#define VTD_ECAP_C          (1ULL << 0)                /* page-walk coherency */
#define VTD_ECAP_QI         (1ULL << 1)                /* queued invalidation */
#define VTD_ECAP_DT         (1ULL << 2)                /* device-TLB */
#define VTD_ECAP_IR         (1ULL << 3)                /* interrupt remapping */
#define VTD_ECAP_PT         (1ULL << 6)                /* pass-through translation type */
#define VTD_ECAP_SC         (1ULL << 7)                /* snoop control */
#define VTD_ECAP_IRO_SHIFT  8                          /* 17:8 IOTLB register offset / 16 */
#define VTD_ECAP_SLADS      (1ULL << 45)               /* second-level A/D (scalable mode) */

/* VT-d 11.4.4 / 11.4.5: global command and status (same bit positions). */
#define VTD_GCMD_TE    (1u << 31)  /* translation enable / TES */
#define VTD_GCMD_SRTP  (1u << 30)  /* set root table pointer / RTPS */
#define VTD_GCMD_SFL   (1u << 29)
#define VTD_GCMD_EAFL  (1u << 28)
#define VTD_GCMD_WBF   (1u << 27)
#define VTD_GCMD_QIE   (1u << 26)  /* queued invalidation enable / QIES */
#define VTD_GCMD_IRE   (1u << 25)
#define VTD_GCMD_SIRTP (1u << 24)
#define VTD_GCMD_CFI   (1u << 23)
#define VTD_GSTS_TES   VTD_GCMD_TE
#define VTD_GSTS_RTPS  VTD_GCMD_SRTP
#define VTD_GSTS_QIES  VTD_GCMD_QIE

/* VT-d 11.4.6: root table address, bits 63:12 RTA, 11:10 TTM (00 legacy). */
#define VTD_RTADDR_MASK 0xfffffffffffff000ULL

/* VT-d 11.4.7: context command register. */
#define VTD_CCMD_ICC        (1ULL << 63)
#define VTD_CCMD_CIRG_SHIFT 61                 /* 62:61 requested granularity */
#define VTD_CCMD_CAIG_SHIFT 59                 /* 60:59 actual granularity */
#define VTD_CCMD_FM_SHIFT   32                 /* 33:32 function mask */
#define VTD_CCMD_SID_SHIFT  16                 /* 31:16 source id */
#define VTD_CCMD_DID_MASK   0xffffULL          /* 15:0 domain id */
/* Granularities shared by CCMD (CIRG/CAIG) and the context-cache descriptor. */
#define VTD_INV_GLOBAL 1
#define VTD_INV_DOMAIN 2
#define VTD_INV_DEVICE 3                       /* context: device; IOTLB: page */
#define VTD_INV_PAGE   3

/* VT-d 11.4.8.1: IOTLB invalidate register; 11.4.8.2: invalidate address. */
#define VTD_IOTLB_IVT        (1ULL << 63)
#define VTD_IOTLB_IIRG_SHIFT 60                /* 61:60 requested granularity */
#define VTD_IOTLB_IAIG_SHIFT 57                /* 58:57 actual granularity */
#define VTD_IOTLB_DR         (1ULL << 49)
#define VTD_IOTLB_DW         (1ULL << 48)
#define VTD_IOTLB_DID_SHIFT  32                /* 47:32 domain id */
#define VTD_IVA_ADDR_MASK    0xfffffffffffff000ULL
#define VTD_IVA_IH           (1ULL << 6)
#define VTD_IVA_AM_MASK      0x3fULL

/* VT-d 11.4.9.1: fault status register. */
#define VTD_FSTS_PFO       (1u << 0)   /* primary fault overflow (RW1C) */
#define VTD_FSTS_PPF       (1u << 1)   /* primary pending fault (RO: any F set) */
#define VTD_FSTS_IQE       (1u << 4)   /* invalidation queue error (RW1C) */
#define VTD_FSTS_ICE       (1u << 5)   /* invalidation completion error (RW1C) */
#define VTD_FSTS_ITE       (1u << 6)   /* invalidation time-out error (RW1C) */
#define VTD_FSTS_FRI_SHIFT 8           /* 15:8 fault record index */

/* VT-d 11.4.9.2 / 11.4.10.1: fault and invalidation event control. */
#define VTD_ECTL_IM (1u << 31)         /* interrupt mask (reset value 1) */
#define VTD_ECTL_IP (1u << 30)         /* interrupt pending (RO) */

/* VT-d 11.4.10: invalidation queue registers. */
#define VTD_IQ_QH_MASK   0x7fff0ULL    /* IQH/IQT bits 18:4: 128-bit descriptor index */
#define VTD_IQA_ADDR_MASK 0xfffffffffffff000ULL
#define VTD_IQA_QS_MASK  0x7ULL        /* 2:0 queue size: 2^QS pages */
#define VTD_ICS_IWC      (1u << 0)     /* invalidation wait descriptor complete (RW1C) */

/* VT-d 11.4.14: fault recording register, high qword (bits 127:64). */
#define VTD_FRCD_F          (1ULL << 63)  /* bit 127: fault (RW1C) */
#define VTD_FRCD_T          (1ULL << 62)  /* bit 126: 1 read, 0 write */
#define VTD_FRCD_FR_SHIFT   32            /* bits 103:96: fault reason */
#define VTD_FRCD_SID_MASK   0xffffULL     /* bits 79:64: source id */
#define VTD_FRCD_FI_MASK    0xfffffffffffff000ULL  /* low qword 63:12: page address */

/* ------------------------------------------------------------------------ */
/* Translation structures (VT-d 9.1, 9.3, 9.8)                               */
/* ------------------------------------------------------------------------ */

/* VT-d 9.1: root entry (legacy mode), 16 bytes, indexed by bus. High qword reserved. */
#define VTD_ROOT_P        (1ULL << 0)
#define VTD_ROOT_CTP_MASK 0xfffffffffffff000ULL  /* 63:12 context-table pointer */
#define VTD_ROOT_RSVD_LO  0x0000000000000ffeULL  /* 11:1 (plus bits above the HAW) */

/* VT-d 9.3: context entry (legacy mode), 16 bytes, indexed by devfn. */
#define VTD_CTX_P            (1ULL << 0)
#define VTD_CTX_FPD          (1ULL << 1)             /* fault processing disable */
#define VTD_CTX_TT_SHIFT     2                       /* 3:2 translation type */
#define VTD_CTX_TT_MASK      (3ULL << VTD_CTX_TT_SHIFT)
#define VTD_CTX_SLPTPTR_MASK 0xfffffffffffff000ULL   /* 63:12 second-level table */
#define VTD_CTX_RSVD_LO      0x0000000000000ff0ULL   /* 11:4 */
#define VTD_CTX_AW_MASK      0x7ULL                  /* high 2:0 address width */
#define VTD_CTX_DID_SHIFT    8                       /* high 23:8 domain id */
#define VTD_CTX_RSVD_HI      0xffffffffff000080ULL   /* high 63:24 and 7 (6:3 ignored) */
#define VTD_TT_SL       0  /* untranslated requests through the second level */
#define VTD_TT_SL_DTLB  1  /* also translated/translation requests (device-TLB) */
#define VTD_TT_PT       2  /* pass-through */

/* VT-d 9.8: second-level paging entries. */
#define VTD_SL_R          (1ULL << 0)
#define VTD_SL_W          (1ULL << 1)
#define VTD_SL_PS         (1ULL << 7)   /* SL-PDPE (1 GiB) and SL-PDE (2 MiB) only */
#define VTD_SL_SNP        (1ULL << 11)  /* snoop, leaf only */
#define VTD_SL_ADDR_MASK  0x000ffffffffff000ULL

/* VT-d 7.1.3 / Appendix A: fault reasons of DMA remapping in legacy mode. */
enum vtd_fault_reason {
	VTD_FR_ROOT_NOT_PRESENT = 0x1,  /* present bit of the root entry clear */
	VTD_FR_CTX_NOT_PRESENT = 0x2,   /* present bit of the context entry clear */
	VTD_FR_CTX_INVALID = 0x3,       /* invalid programming (AW not in SAGAW, TT reserved) */
	VTD_FR_ADDR_BEYOND = 0x4,       /* input address above 2^AGAW - 1 */
	VTD_FR_WRITE = 0x5,             /* write without W */
	VTD_FR_READ = 0x6,              /* read without R */
	VTD_FR_SL_ACCESS = 0x7,         /* a second-level entry could not be accessed */
	VTD_FR_ROOT_ACCESS = 0x8,       /* the root entry could not be accessed */
	VTD_FR_CTX_ACCESS = 0x9,        /* the context entry could not be accessed */
	VTD_FR_ROOT_RSVD = 0xa,         /* reserved bits set in a present root entry */
	VTD_FR_CTX_RSVD = 0xb,          /* reserved bits set in a present context entry */
	VTD_FR_SL_RSVD = 0xc,           /* reserved bits set in a present second-level entry */
	VTD_FR_TT_BLOCKED = 0xd,        /* translation/translated request blocked by TT */
};
#define VTD_FR_MAX 0xd

/* ------------------------------------------------------------------------ */
/* Queued invalidation descriptors (VT-d 6.5.2), 128 bits                   */
/* ------------------------------------------------------------------------ */
#define VTD_DESC_TYPE_MASK 0xfULL
#define VTD_DESC_CC        1   /* context-cache invalidate */
#define VTD_DESC_IOTLB     2   /* IOTLB invalidate */
#define VTD_DESC_WAIT      5   /* invalidation wait */
#define VTD_DESC_G_SHIFT   4   /* 5:4 granularity (CC and IOTLB) */
#define VTD_DESC_DID_SHIFT 16  /* 31:16 domain id (CC and IOTLB) */
#define VTD_DESC_CC_SID_SHIFT 32           /* 47:32 source id */
#define VTD_DESC_CC_FM_SHIFT  48           /* 49:48 function mask */
#define VTD_DESC_CC_RSVD   0xfffc00000000ffc0ULL
#define VTD_DESC_IOTLB_DW  (1ULL << 6)
#define VTD_DESC_IOTLB_DR  (1ULL << 7)
#define VTD_DESC_IOTLB_RSVD_LO 0xffffffff0000ff00ULL
#define VTD_DESC_IOTLB_RSVD_HI 0x0000000000000f80ULL  /* 11:7; 6 IH, 5:0 AM */
#define VTD_DESC_WAIT_IF   (1ULL << 4)     /* interrupt on completion */
#define VTD_DESC_WAIT_SW   (1ULL << 5)     /* write status data */
#define VTD_DESC_WAIT_FN   (1ULL << 6)     /* fence */
#define VTD_DESC_WAIT_DATA_SHIFT 32        /* 63:32 status data */
#define VTD_DESC_WAIT_RSVD_LO 0x00000000ffffff80ULL
#define VTD_DESC_WAIT_RSVD_HI 0x3ULL       /* high 63:2 status address */

/* ------------------------------------------------------------------------ */
/* The unit                                                                  */
/* ------------------------------------------------------------------------ */

struct iommu;

/* An MSI the unit raises (fault event, invalidation completion): address and
 * data as programmed in FEADDR/FEDATA or IEADDR/IEDATA. */
typedef void (*iommu_msi_fn)(void *ctx, uint64_t addr, uint32_t data);

/* A DMA write the unit let through: `len` bytes at `iova`, within one 4 KiB
 * page. Legacy VT-d keeps no record of what DMA wrote (second-level A/D are
 * a scalable-mode feature); the owner of the unit may keep one here, as a
 * dirty log that sees devices. */
typedef void (*iommu_written_fn)(void *ctx, uint64_t iova, uint64_t len);

/*
 * How the unit reaches memory. Its "physical" addresses (root table, context
 * and second-level tables, wait-descriptor status, DMA output) are frame-pool
 * addresses (HPA) when `translate` is NULL: hv owns the unit. A guest-visible
 * unit sees guest-physical addresses instead, and `translate` is the second
 * stage (EPT) that turns one into an HPA, as hardware nesting does.
 *   translate: HPA of physical address pa; -EFAULT when no memory is there,
 *              -EROFS when `write` and the memory there is read-only (ROM:
 *              the write is dropped where it lands, not a remapping fault).
 *     *refs: paging-structure entries read to find it. Called for one page
 *     at a time (the unit never asks across a 4 KiB boundary).
 */
struct iommu_mem {
	int (*translate)(void *ctx, uint64_t pa, bool write, uint64_t *hpa, unsigned *refs);
	void *ctx;
};

/* What the capability registers announce; iommu_create refuses the rest. */
struct iommu_config {
	unsigned nfr;          /* fault recording registers, 1..IOMMU_NFR_MAX */
	bool agaw39, agaw48;   /* SAGAW: 3-level and/or 4-level tables */
	bool page_2m, page_1g; /* SLLPS */
	struct cache_geom iotlb;  /* entries 0: no IOTLB */
	struct cache_geom ctx;    /* context cache; entries 0: none */
	iommu_msi_fn msi;      /* may be NULL: interrupts stay pending */
	void *msi_ctx;
	struct iommu_mem mem;  /* zero: physical addresses are HPAs */
	iommu_written_fn written;  /* may be NULL */
	void *written_ctx;
};

/* The configuration hv uses: 8 fault records, 3 and 4 levels, 2M and 1G pages,
 * a 64-entry 4-way IOTLB and a 16-entry fully associative context cache. */
void iommu_config_default(struct iommu_config *cfg);

/* One fault, decoded from its recording register. */
struct iommu_fault {
	uint16_t sid;
	uint8_t reason;        /* enum vtd_fault_reason */
	bool read;             /* T: 1 read, 0 write */
	uint64_t addr;         /* page address (FI) */
	bool recorded;         /* iommu_fault_log: written to a recording register */
};

/* Counters for the report.
 *   faults: detected (recorded or not); recorded: written to a register;
 *   suppressed_fpd: not recorded because the context entry set FPD;
 *   overflow: not recorded because the next register was still full. */
struct iommu_stats {
	uint64_t faults, recorded, suppressed_fpd, overflow;
	uint64_t by_reason[VTD_FR_MAX + 1];
	uint64_t ccmd_inv, iotlb_reg_inv;       /* register-based invalidations */
	uint64_t qi_desc, qi_errors, qi_waits;  /* queued invalidation */
	uint64_t fault_events, inv_events;      /* MSIs sent */
	uint64_t dma, dma_bytes;                /* requests and bytes that reached memory */
	uint64_t translations, walk_refs;       /* per page; second-level entries read */
	uint64_t stage2_lookups, stage2_refs;   /* iommu_mem.translate calls, entries they read */
	struct cache_stats iotlb, ctx;          /* IOTLB and context cache */
};

/* The unit's tables live in `pool` (HPA addresses). */
int iommu_create(struct hpool *pool, const struct iommu_config *cfg, struct iommu **out) HV_MUST_CHECK;
void iommu_destroy(struct iommu *m);
void iommu_reset(struct iommu *m);

/* The register block as a guest or hv programs it: off is relative to the
 * base, size 4 or 8 (others read all-ones and are ignored, as are accesses
 * that are not naturally aligned). */
uint64_t iommu_reg_read(struct iommu *m, uint64_t off, unsigned size);
void iommu_reg_write(struct iommu *m, uint64_t off, unsigned size, uint64_t val);

/* What the unit decides for one DMA request's source id before any
 * second-level walk (VT-d 3.4.3): the context entry that applies. */
struct iommu_context {
	bool translate;        /* false: TE clear, the address is used as is */
	unsigned tt;           /* VTD_TT_* */
	bool fpd;
	unsigned levels;       /* 3 or 4 (TT 0/1) */
	uint16_t did;
	uint64_t slptptr;      /* top second-level table */
};

/*
 * Resolve `sid` through the root and context tables (or report that
 * translation is off). On a fault returns -EFAULT with *reason set and the
 * fault already recorded (unless FPD applies).
 *   write, iova: the request, for the fault record.
 */
int iommu_context_lookup(struct iommu *m, uint16_t sid, uint64_t iova, bool write,
			 struct iommu_context *ctx, unsigned *reason) HV_MUST_CHECK;

/*
 * Record a fault as the hardware would (VT-d 7.3.1): into the register at the
 * current index unless its F is still set (then overflow), and raise the
 * fault event when the status goes from clear to pending. `fpd` suppresses it.
 */
void iommu_report_fault(struct iommu *m, uint16_t sid, uint64_t addr, unsigned reason,
			bool write, bool fpd);

/* One page of a request, translated. */
struct iommu_xlate {
	uint64_t addr;         /* output address (HPA) of the byte at iova */
	unsigned shift;        /* page size of the mapping */
	unsigned refs;         /* second-level entries read */
	unsigned refs2;        /* second-stage entries read (iommu_mem), tables and output */
	unsigned reason;       /* fault reason when the call failed with -EFAULT */
	uint16_t did;
};

/* Translate one address of a request (VT-d 3.6): context lookup, then the
 * second-level walk; -EFAULT with out->reason on a fault (recorded unless
 * FPD). With translation off or a pass-through context, the address is its
 * own translation. */
int iommu_translate(struct iommu *m, uint16_t sid, uint64_t iova, bool write,
		    struct iommu_xlate *out) HV_MUST_CHECK;

/* A DMA of len bytes between buf and [iova, iova+len), translated page by
 * page: -EINVAL for an empty or wrapping range, -EFAULT for a remapping
 * fault (last->reason) or an output address with no memory. Bytes before the
 * failing page have been transferred, as on a bus. */
int iommu_dma(struct iommu *m, uint16_t sid, uint64_t iova, void *buf, uint64_t len, bool write,
	      struct iommu_xlate *last) HV_MUST_CHECK;

/* The first IOMMU_LOG_MAX faults the unit detected, for hv's report: not
 * architectural state (software may have cleared the recording registers
 * since). false when fewer than i + 1 were detected. */
#define IOMMU_LOG_MAX 16
bool iommu_fault_log(const struct iommu *m, unsigned i, struct iommu_fault *out);

/*
 * One address explained entry by entry (hv walk --iova): what
 * iommu_translate() does, read from the tables themselves - no context cache
 * or IOTLB, no statistics, no fault recorded, nothing written.
 *   root_*, ctx_*: the entries read (addr 0: not reached); values as read.
 *   sl: the second-level walk (sl.n entries; with a second stage, entry_hpa
 *     is where each was read).
 *   reason: the fault reason (0: translated to addr, page shift `shift`);
 *   frcd_lo/hi: the fault recording register that fault would fill.
 */
struct iommu_trace {
	uint64_t root_addr, root_lo, root_hi;
	uint64_t ctx_addr, ctx_lo, ctx_hi;
	struct iommu_context ctx;
	struct walk_path sl;
	bool walked;
	unsigned reason;
	uint64_t addr;
	unsigned shift;
	uint64_t frcd_lo, frcd_hi;
};
void iommu_explain(struct iommu *m, uint16_t sid, uint64_t iova, bool write,
		   struct iommu_trace *t);

/* ------------------------------------------------------------------------ */
/* hv as the unit's driver (a device hv assigns to a guest)                 */
/* ------------------------------------------------------------------------ */

/*
 * Second-level tables hv builds in the frame pool (VT-d 9.8).
 *   pool, levels: set once by iommu_sl_create.
 *   top: the top table (the context entry's SLPTPTR); tables: pages in use.
 */
struct iommu_sl {
	struct hpool *pool;
	unsigned levels;       /* 3 (39-bit) or 4 (48-bit) */
	uint64_t top;
	uint64_t tables;
};

int iommu_sl_create(struct hpool *pool, unsigned levels, struct iommu_sl *sl) HV_MUST_CHECK;
/* Map [iova, iova+len) to [hpa, hpa+len) with perms (VTD_SL_R/W), with the
 * largest pages up to 2^max_shift (12, 21 or 30) that both sides' alignment
 * allows. 4 KiB aligned; -EINVAL for an empty range, one beyond the levels'
 * width or other permission bits; -EEXIST when a large page is in the way. */
int iommu_sl_map(struct iommu_sl *sl, uint64_t iova, uint64_t hpa, uint64_t len, uint64_t perms,
		 unsigned max_shift) HV_MUST_CHECK;
/* Free every table (not the memory they map). */
void iommu_sl_destroy(struct iommu_sl *sl);

/*
 * Attach device `sid` to domain `did` whose second-level tables (3 or 4
 * levels) start at slptptr, and turn translation on, as a driver does: root
 * and context tables in the pool (freed by iommu_destroy), RTADDR and SRTP,
 * global context-cache and IOTLB invalidation, TE. The tables may be hv's
 * own (iommu_sl) or any hierarchy in that format, such as EPT's (EPT entries
 * read as second-level entries: R, W and the address line up; X, the memory
 * type and A/D are bits a legacy-mode unit ignores).
 */
int iommu_attach(struct iommu *m, uint16_t sid, uint16_t did, uint64_t slptptr,
		 unsigned levels) HV_MUST_CHECK;

/* Fault recording register i decoded (false when its F is clear). */
bool iommu_fault_get(struct iommu *m, unsigned i, struct iommu_fault *out);

const struct iommu_stats *iommu_get_stats(const struct iommu *m);

/* Short name of a fault reason ("read without R", ...), never NULL. */
const char *iommu_fault_reason_name(unsigned reason);

#endif /* HV_IOMMU_H */
