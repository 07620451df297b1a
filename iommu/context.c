/* SPDX-License-Identifier: MIT */
/*
 * iommu/context.c - from a request's source id to its context entry
 * (VT-d 3.4.3: root table indexed by bus, context table by devfn), with the
 * fault every malformed or missing entry causes (VT-d 7.1.3).
 */
#include <errno.h>

#include "iommu/internal.h"

/* Context-cache entries: key = source id, untagged (the domain is what the
 * entry yields, not something a lookup knows); payload val = second-level
 * table, aux = domain id, attr = TT | FPD << 2 | levels << 4. Only valid
 * entries are cached. */
#define CTXC_FPD (1u << 2)
#define CTXC_LEVELS_SHIFT 4
static const struct cache_tag ctxc_tag;

/* VT-d 6.5.1.1: global, domain-selective, or device-selective where FM
 * masks the low function bits of the source id (FM 1, 2, 3: bits 2, 2:1, 2:0).
 * Domain-selective requests are carried out globally, which VT-d allows
 * (the actual granularity is reported); returns the granularity used. */
unsigned iommu_inv_context(struct iommu *m, unsigned gran, uint16_t did, uint16_t sid, unsigned fm)
{
	static const uint16_t fmask[4] = { 0, 4, 6, 7 };
	struct cache_inval inv = { .flags = CACHE_INV_KEY };

	(void)did;
	if (gran != VTD_INV_DEVICE) {
		if (m->ctxc)
			(void)cache_invalidate(m->ctxc, &(struct cache_inval){ 0 });
		return VTD_INV_GLOBAL;
	}
	for (unsigned f = 0; m->ctxc && f < 8; f++) {
		if ((f & ~fmask[fm & 3]) != (sid & 7 & ~fmask[fm & 3]))
			continue;
		inv.key = cache_key((sid & ~7u) | f, 0);
		(void)cache_invalidate(m->ctxc, &inv);
	}
	return VTD_INV_DEVICE;
}

/* VT-d 6.5.1.2: global, domain-selective, or page-selective over 2^AM pages
 * (IH only concerns paging-structure caches, which this unit does not keep). */
void iommu_inv_iotlb(struct iommu *m, unsigned gran, uint16_t did, uint64_t addr, unsigned am,
		     bool ih)
{
	struct cache_inval inv = { .flags = CACHE_INV_DOMAIN, .domain = (uint64_t)did + 1 };

	(void)ih;
	if (!m->iotlb)
		return;
	if (gran == VTD_INV_GLOBAL)
		inv.flags = 0;
	if (gran == VTD_INV_PAGE) {
		inv.flags |= CACHE_INV_RANGE;
		inv.len = PAGE_SIZE_4K << am;
		inv.addr = addr & ~(inv.len - 1);
	}
	(void)cache_invalidate(m->iotlb, &inv);
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
	if (m->ctxc && !m->trace) {
		struct cache_entry *e = cache_find(m->ctxc, cache_key(sid, 0), &ctxc_tag);

		if (e) {
			/* Used as cached until invalidated, as on hardware. */
			cache_hit(m->ctxc, e);
			ctx->tt = e->attr & 3;
			ctx->fpd = (e->attr & CTXC_FPD) != 0;
			ctx->levels = e->attr >> CTXC_LEVELS_SHIFT;
			ctx->did = (uint16_t)e->aux;
			ctx->slptptr = e->val;
			goto check_addr;
		}
		cache_miss(m->ctxc);
	}
	if (iommu_phys_read64(m, m->root + (sid >> 8) * 16ULL, &rlo) ||
	    iommu_phys_read64(m, m->root + (sid >> 8) * 16ULL + 8, &rhi)) {
		fr = VTD_FR_ROOT_ACCESS;
		goto fault;
	}
	if (m->trace) {
		m->trace->root_addr = m->root + (sid >> 8) * 16ULL;
		m->trace->root_lo = rlo;
		m->trace->root_hi = rhi;
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
	if (m->trace) {
		m->trace->ctx_addr = cte;
		m->trace->ctx_lo = clo;
		m->trace->ctx_hi = chi;
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
	if (tt != VTD_TT_PT) {
		ctx->levels = aw + 2;
		ctx->slptptr = clo & VTD_CTX_SLPTPTR_MASK;
	}
	if (m->ctxc && !m->trace) {
		struct cache_entry *e;

		if (!cache_fill(m->ctxc, cache_key(sid, 0),
				&ctxc_tag, false, &e)) {
			e->val = ctx->slptptr;
			e->aux = ctx->did;
			e->attr = tt | (fpd ? CTXC_FPD : 0) | ctx->levels << CTXC_LEVELS_SHIFT;
		}
	}
check_addr:
	fpd = ctx->fpd;
	if (ctx->tt == VTD_TT_PT)
		return 0;
	if (iova >> (12 + 9 * ctx->levels)) {
		fr = VTD_FR_ADDR_BEYOND;
		goto fault;
	}
	return 0;
fault:
	*reason = fr;
	if (!m->trace)
		iommu_report_fault(m, sid, iova, fr, write, fpd);
	return -EFAULT;
}
