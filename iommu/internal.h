/* SPDX-License-Identifier: MIT */
/*
 * iommu/internal.h - the unit's state, shared by the files of iommu/ only.
 */
#ifndef HV_IOMMU_INTERNAL_H
#define HV_IOMMU_INTERNAL_H

#include "iommu/iommu.h"

/* Host address width: bits of a table or page address above it are reserved
 * in every entry (VT-d 9.1, 9.3, 9.8 "HAW"). */
#define IOMMU_HAW IOMMU_HAW_BITS
#define IOMMU_HAW_RSVD (~((1ULL << IOMMU_HAW) - 1))
/* Maximum guest address width announced in CAP.MGAW. */
#define IOMMU_MGAW 48
/* Largest page-selective mask (CAP.MAMV): 2^18 pages, one 1 GiB page. */
#define IOMMU_MAMV 18

/* One fault recording register. */
struct iommu_frcd {
	uint64_t lo, hi;
};

/*
 * The unit.
 *   pool, cfg, cap, ecap: set once by iommu_create.
 *   everything else: architectural registers, cleared by iommu_reset
 *     (stats survive a reset).
 *   pending_hi: a 32-bit write to the low half of RTADDR/CCMD/IQA/IOTLB/IVA
 *     is held here until the high half arrives (the command fires then).
 */
struct iommu {
	struct hpool *pool;
	struct iommu_config cfg;
	uint64_t cap, ecap;

	uint32_t gsts;
	uint64_t rtaddr;          /* as written */
	uint64_t root;            /* latched by SRTP */
	uint64_t ccmd;
	uint32_t fsts_rw1c;       /* PFO, IQE, ICE, ITE */
	unsigned fri;             /* next fault record index */
	unsigned fri_status;      /* FSTS.FRI: first pending record when PPF was set */
	uint32_t fectl, fedata, feaddr, feuaddr;
	uint64_t iqh, iqt, iqa;
	uint32_t ics, iectl, iedata, ieaddr, ieuaddr;
	uint64_t iva, iotlb_reg;
	struct iommu_frcd frcd[IOMMU_NFR_MAX];

	struct iommu_stats st;
	struct iommu_fault log[IOMMU_LOG_MAX];  /* first faults detected; survives reset */
	struct cache *iotlb, *ctxc;   /* NULL when sized 0; set once */
	struct iommu_trace *trace;    /* set only during iommu_explain */
	uint64_t own_root;            /* iommu_attach's root table (0: none); freed by destroy */
	uint64_t own_ctx[256];        /* iommu_attach's context table of each bus (0: none) */
};

/* The HPA of [pa, pa+size) in the unit's physical address space (size <= the
 * rest of pa's 4 KiB page); -EFAULT when there is no memory there, -EROFS for
 * a write to read-only memory (the second stage says so: a ROM, whose reads
 * work and whose writes the memory drops). *refs2 (may be NULL) gains the
 * second-stage references. */
int iommu_phys(struct iommu *m, uint64_t pa, uint64_t size, bool write, uint64_t *hpa,
	       unsigned *refs2) HV_MUST_CHECK;
/* Read 8 bytes of the unit's physical address space; -EFAULT when there is
 * no memory there. */
int iommu_phys_read64(struct iommu *m, uint64_t pa, uint64_t *val) HV_MUST_CHECK;
/* Write 4 bytes (wait-descriptor status); -EFAULT when nothing is there. */
int iommu_phys_write32(struct iommu *m, uint64_t pa, uint32_t val) HV_MUST_CHECK;

/* The walker's descriptor of legacy-mode second-level tables of 3 or 4 levels. */
struct walk_fmt;
const struct walk_fmt *iommu_sl_format(unsigned levels);

/* Run the invalidation queue from IQH to IQT (iommu/qi.c). */
void iommu_qi_run(struct iommu *m);
/* Raise the fault event if the status calls for it (VT-d 7.3.2). */
void iommu_fault_event(struct iommu *m, uint32_t old_status);
/* Invalidations requested through either interface. */
/* Returns the granularity actually used (VTD_INV_*). */
unsigned iommu_inv_context(struct iommu *m, unsigned gran, uint16_t did, uint16_t sid, unsigned fm);
void iommu_inv_iotlb(struct iommu *m, unsigned gran, uint16_t did, uint64_t addr, unsigned am,
		     bool ih);

#endif /* HV_IOMMU_INTERNAL_H */
