/* SPDX-License-Identifier: MIT */
/*
 * iommu/context.c - from a request's source id to its context entry
 * (VT-d 3.4.3: root table indexed by bus, context table by devfn), with the
 * fault every malformed or missing entry causes (VT-d 7.1.3).
 */
#include <errno.h>

#include "iommu/internal.h"

void iommu_inv_context(struct iommu *m, unsigned gran, uint16_t did, uint16_t sid, unsigned fm)
{
	/* No context cache yet: every lookup reads the tables, so there is
	 * nothing to remove; the request is accepted and counted by the caller. */
	(void)m; (void)gran; (void)did; (void)sid; (void)fm;
}

void iommu_inv_iotlb(struct iommu *m, unsigned gran, uint16_t did, uint64_t addr, unsigned am,
		     bool ih)
{
	(void)m; (void)gran; (void)did; (void)addr; (void)am; (void)ih;
}

static bool aw_supported(const struct iommu *m, unsigned aw)
{
	return (aw == 1 && m->cfg.agaw39) || (aw == 2 && m->cfg.agaw48);
}

int iommu_context_lookup(struct iommu *m, uint16_t sid, uint64_t iova, bool write,
			 struct iommu_context *ctx, unsigned *reason)
{
	uint64_t rlo, rhi, clo, chi, cte;
	unsigned fr, tt, aw;
	bool fpd = false;

	*ctx = (struct iommu_context){ 0 };
	if (!(m->gsts & VTD_GSTS_TES))
		return 0;
	ctx->translate = true;
	if (iommu_phys_read64(m, m->root + (sid >> 8) * 16ULL, &rlo) ||
	    iommu_phys_read64(m, m->root + (sid >> 8) * 16ULL + 8, &rhi)) {
		fr = VTD_FR_ROOT_ACCESS;
		goto fault;
	}
	if (!(rlo & VTD_ROOT_P)) {
		fr = VTD_FR_ROOT_NOT_PRESENT;
		goto fault;
	}
	if ((rlo & (VTD_ROOT_RSVD_LO | IOMMU_HAW_RSVD)) || rhi) {
		fr = VTD_FR_ROOT_RSVD;
		goto fault;
	}
	cte = (rlo & VTD_ROOT_CTP_MASK) + (sid & 0xff) * 16ULL;
	if (iommu_phys_read64(m, cte, &clo) || iommu_phys_read64(m, cte + 8, &chi)) {
		fr = VTD_FR_CTX_ACCESS;
		goto fault;
	}
	if (!(clo & VTD_CTX_P)) {
		fr = VTD_FR_CTX_NOT_PRESENT;
		goto fault;
	}
	if ((clo & (VTD_CTX_RSVD_LO | IOMMU_HAW_RSVD)) || (chi & VTD_CTX_RSVD_HI)) {
		fr = VTD_FR_CTX_RSVD;
		goto fault;
	}
	tt = (unsigned)((clo & VTD_CTX_TT_MASK) >> VTD_CTX_TT_SHIFT);
	aw = (unsigned)(chi & VTD_CTX_AW_MASK);
	/* TT 01 needs device-TLB support (ECAP.DT), 11 is reserved; AW must be
	 * one of SAGAW's (ignored for pass-through). */
	if (tt == VTD_TT_SL_DTLB || tt == 3 || (tt != VTD_TT_PT && !aw_supported(m, aw))) {
		fr = VTD_FR_CTX_INVALID;
		goto fault;
	}
	/* From here the entry is valid and its FPD applies. */
	fpd = (clo & VTD_CTX_FPD) != 0;
	ctx->tt = tt;
	ctx->fpd = fpd;
	ctx->did = (uint16_t)(chi >> VTD_CTX_DID_SHIFT);
	if (tt == VTD_TT_PT)
		return 0;
	ctx->levels = aw + 2;
	ctx->slptptr = clo & VTD_CTX_SLPTPTR_MASK;
	if (iova >> (30 + 9 * aw)) {
		fr = VTD_FR_ADDR_BEYOND;
		goto fault;
	}
	return 0;
fault:
	*reason = fr;
	iommu_report_fault(m, sid, iova, fr, write, fpd);
	return -EFAULT;
}
