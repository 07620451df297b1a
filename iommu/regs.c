/* SPDX-License-Identifier: MIT */
/*
 * iommu/regs.c - the remapping unit's register block (VT-d chapter 11),
 * primary fault recording and the fault event (VT-d 7.3).
 *
 * 64-bit registers may be accessed as one qword or as two dwords; a command
 * that sits in the high dword (CCMD.ICC, IOTLB.IVT) fires when the high dword
 * or the whole qword is written, so a driver that writes low then high (as
 * VT-d 11.2 allows) sees the same result as one that writes the qword.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iommu/internal.h"

void iommu_config_default(struct iommu_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->nfr = 8;
	cfg->agaw39 = true;
	cfg->agaw48 = true;
	cfg->page_2m = true;
	cfg->page_1g = true;
	cfg->iotlb = (struct cache_geom){ .entries = 64, .ways = 4 };
	cfg->ctx = (struct cache_geom){ .entries = 16, .ways = 16 };
}

static uint64_t make_cap(const struct iommu_config *cfg)
{
	uint64_t cap = VTD_CAP_ND(6);   /* 16-bit domain ids */

	cap |= cfg->agaw39 ? VTD_CAP_SAGAW_39 : 0;
	cap |= cfg->agaw48 ? VTD_CAP_SAGAW_48 : 0;
	cap |= (uint64_t)(IOMMU_MGAW - 1) << VTD_CAP_MGAW_SHIFT;
	cap |= (uint64_t)(IOMMU_FRO_OFFSET / 16) << VTD_CAP_FRO_SHIFT;
	cap |= cfg->page_2m ? VTD_CAP_SLLPS_2M : 0;
	cap |= cfg->page_1g ? VTD_CAP_SLLPS_1G : 0;
	cap |= VTD_CAP_PSI;
	cap |= (uint64_t)(cfg->nfr - 1) << VTD_CAP_NFR_SHIFT;
	cap |= (uint64_t)IOMMU_MAMV << VTD_CAP_MAMV_SHIFT;
	return cap;
}

static uint64_t make_ecap(void)
{
	/* Coherent table walks, queued invalidation, pass-through, snoop
	 * control; no device-TLB, interrupt remapping or scalable mode. */
	return VTD_ECAP_C | VTD_ECAP_QI | VTD_ECAP_PT | VTD_ECAP_SC |
	       (uint64_t)(IOMMU_IRO_OFFSET / 16) << VTD_ECAP_IRO_SHIFT;
}

int iommu_create(struct hpool *pool, const struct iommu_config *cfg, struct iommu **out)
{
	struct iommu *m;

	if (!cfg->nfr || cfg->nfr > IOMMU_NFR_MAX || (!cfg->agaw39 && !cfg->agaw48) ||
	    (cfg->page_1g && !cfg->page_2m))
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->pool = pool;
	m->cfg = *cfg;
	if ((cfg->iotlb.entries && cache_create(&cfg->iotlb, false, &m->st.iotlb, &m->iotlb)) ||
	    (cfg->ctx.entries && cache_create(&cfg->ctx, false, &m->st.ctx, &m->ctxc))) {
		iommu_destroy(m);
		return -EINVAL;
	}
	m->cap = make_cap(cfg);
	m->ecap = make_ecap();
	iommu_reset(m);
	*out = m;
	return 0;
}

void iommu_destroy(struct iommu *m)
{
	for (unsigned b = 0; b < 256; b++)
		if (m->own_ctx[b])
			hpool_free(m->pool, m->own_ctx[b], PAGE_SIZE_4K);
	if (m->own_root)
		hpool_free(m->pool, m->own_root, PAGE_SIZE_4K);
	if (m->iotlb)
		cache_destroy(m->iotlb);
	if (m->ctxc)
		cache_destroy(m->ctxc);
	free(m);
}

void iommu_reset(struct iommu *m)
{
	m->gsts = 0;
	m->rtaddr = m->root = m->ccmd = 0;
	m->fsts_rw1c = 0;
	m->fri = m->fri_status = 0;
	m->fectl = VTD_ECTL_IM;    /* VT-d 11.4.9.2: IM resets to 1 */
	m->fedata = m->feaddr = m->feuaddr = 0;
	m->iqh = m->iqt = m->iqa = 0;
	m->ics = 0;
	m->iectl = VTD_ECTL_IM;    /* VT-d 11.4.10.5: likewise */
	m->iedata = m->ieaddr = m->ieuaddr = 0;
	m->iva = m->iotlb_reg = 0;
	memset(m->frcd, 0, sizeof(m->frcd));
	(void)iommu_inv_context(m, VTD_INV_GLOBAL, 0, 0, 0);
	iommu_inv_iotlb(m, VTD_INV_GLOBAL, 0, 0, 0, false);
}

const struct iommu_stats *iommu_get_stats(const struct iommu *m)
{
	return &m->st;
}

int iommu_phys(struct iommu *m, uint64_t pa, uint64_t size, bool write, uint64_t *hpa,
	       unsigned *refs2)
{
	unsigned refs = 0;
	uint64_t h = pa;

	/* Precondition: the range stays inside pa's page. */
	assert(size && size <= PAGE_SIZE_4K - (pa & (PAGE_SIZE_4K - 1)));
	if (m->cfg.mem.translate) {
		int rc = m->cfg.mem.translate(m->cfg.mem.ctx, pa, write, &h, &refs);

		m->st.stage2_lookups++;
		m->st.stage2_refs += refs;
		if (refs2)
			*refs2 += refs;
		if (rc)
			return rc == -EROFS && write ? -EROFS : -EFAULT;
	}
	/* Frame 0 of the pool is never handed out; an HPA the unit names
	 * itself (no second stage) is memory only in a frame someone owns. */
	if (h < PAGE_SIZE_4K || h >= m->pool->size || size > m->pool->size - h ||
	    (!m->cfg.mem.translate && hpool_owner(m->pool, h) == FRAME_FREE))
		return -EFAULT;
	*hpa = h;
	return 0;
}

int iommu_phys_read64(struct iommu *m, uint64_t pa, uint64_t *val)
{
	uint64_t hpa;

	if ((pa & 7) || iommu_phys(m, pa, 8, false, &hpa, NULL))
		return -EFAULT;
	*val = hpool_read64(m->pool, hpa);
	return 0;
}

int iommu_phys_write32(struct iommu *m, uint64_t pa, uint32_t val)
{
	uint64_t hpa;

	if ((pa & 3) || iommu_phys(m, pa, 4, true, &hpa, NULL))
		return -EFAULT;
	*(volatile uint32_t *)hpool_ptr(m->pool, hpa) = val;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Faults                                                                    */
/* ------------------------------------------------------------------------ */

static bool any_pending(const struct iommu *m)
{
	for (unsigned i = 0; i < m->cfg.nfr; i++)
		if (m->frcd[i].hi & VTD_FRCD_F)
			return true;
	return false;
}

static uint32_t fsts_value(const struct iommu *m)
{
	uint32_t v = m->fsts_rw1c;

	if (any_pending(m))
		v |= VTD_FSTS_PPF | (uint32_t)m->fri_status << VTD_FSTS_FRI_SHIFT;
	return v;
}

static void send_msi(struct iommu *m, uint32_t addr, uint32_t uaddr, uint32_t data)
{
	if (m->cfg.msi)
		m->cfg.msi(m->cfg.msi_ctx, (uint64_t)uaddr << 32 | addr, data);
}

/* The interrupt-causing fault status conditions (VT-d 7.3.2 / 11.4.9.2). */
#define FSTS_EVENT_BITS (VTD_FSTS_PFO | VTD_FSTS_PPF | VTD_FSTS_IQE | VTD_FSTS_ICE | VTD_FSTS_ITE)

void iommu_fault_event(struct iommu *m, uint32_t old_status)
{
	/* An event is raised only when a condition appears while none was
	 * outstanding, and only one is held pending while masked. */
	if ((old_status & FSTS_EVENT_BITS) || !(fsts_value(m) & FSTS_EVENT_BITS))
		return;
	if (m->fectl & VTD_ECTL_IP)
		return;
	if (m->fectl & VTD_ECTL_IM) {
		m->fectl |= VTD_ECTL_IP;
		return;
	}
	m->st.fault_events++;
	send_msi(m, m->feaddr, m->feuaddr, m->fedata);
}

/* Software serviced every condition: the pending interrupt goes away. */
static void fault_status_serviced(struct iommu *m)
{
	if (!(fsts_value(m) & FSTS_EVENT_BITS))
		m->fectl &= ~VTD_ECTL_IP;
}

void iommu_report_fault(struct iommu *m, uint16_t sid, uint64_t addr, unsigned reason,
			bool write, bool fpd)
{
	uint32_t old = fsts_value(m);
	struct iommu_frcd *r = &m->frcd[m->fri];
	bool was_pending = old & VTD_FSTS_PPF;

	if (m->st.faults < IOMMU_LOG_MAX) {
		struct iommu_fault *l = &m->log[m->st.faults];

		*l = (struct iommu_fault){ .sid = sid, .reason = (uint8_t)reason, .read = !write,
					   .addr = addr & VTD_FRCD_FI_MASK };
		/* Recorded unless FPD, PFO or a full register stops it below. */
		l->recorded = !fpd && !(r->hi & VTD_FRCD_F) && !(m->fsts_rw1c & VTD_FSTS_PFO);
	}
	m->st.faults++;
	if (reason <= VTD_FR_MAX)
		m->st.by_reason[reason]++;
	if (fpd) {
		m->st.suppressed_fpd++;
		return;
	}
	/* VT-d 7.3.1: a fault that finds the register at the index still full
	 * (or an overflow not yet cleared) is lost and sets PFO. */
	if ((r->hi & VTD_FRCD_F) || (m->fsts_rw1c & VTD_FSTS_PFO)) {
		m->st.overflow++;
		m->fsts_rw1c |= VTD_FSTS_PFO;
		iommu_fault_event(m, old);
		return;
	}
	r->lo = addr & VTD_FRCD_FI_MASK;
	r->hi = VTD_FRCD_F | (write ? 0 : VTD_FRCD_T) | (uint64_t)(reason & 0xff) << VTD_FRCD_FR_SHIFT |
		sid;
	if (!was_pending)
		m->fri_status = m->fri;
	m->fri = (m->fri + 1) % m->cfg.nfr;
	m->st.recorded++;
	iommu_fault_event(m, old);
}

bool iommu_fault_log(const struct iommu *m, unsigned i, struct iommu_fault *out)
{
	if (i >= IOMMU_LOG_MAX || i >= m->st.faults)
		return false;
	*out = m->log[i];
	return true;
}

bool iommu_fault_get(struct iommu *m, unsigned i, struct iommu_fault *out)
{
	const struct iommu_frcd *r;

	if (i >= m->cfg.nfr || !(m->frcd[i].hi & VTD_FRCD_F))
		return false;
	r = &m->frcd[i];
	out->sid = (uint16_t)(r->hi & VTD_FRCD_SID_MASK);
	out->reason = (uint8_t)(r->hi >> VTD_FRCD_FR_SHIFT);
	out->read = (r->hi & VTD_FRCD_T) != 0;
	out->addr = r->lo & VTD_FRCD_FI_MASK;
	out->recorded = true;
	return true;
}

const char *iommu_fault_reason_name(unsigned reason)
{
	static const char *const names[VTD_FR_MAX + 1] = {
		[VTD_FR_ROOT_NOT_PRESENT] = "root entry not present",
		[VTD_FR_CTX_NOT_PRESENT] = "context entry not present",
		[VTD_FR_CTX_INVALID] = "invalid context entry",
		[VTD_FR_ADDR_BEYOND] = "address beyond the AGAW",
		[VTD_FR_WRITE] = "write without W",
		[VTD_FR_READ] = "read without R",
		[VTD_FR_SL_ACCESS] = "second-level entry not accessible",
		[VTD_FR_ROOT_ACCESS] = "root table not accessible",
		[VTD_FR_CTX_ACCESS] = "context table not accessible",
		[VTD_FR_ROOT_RSVD] = "reserved bits in root entry",
		[VTD_FR_CTX_RSVD] = "reserved bits in context entry",
		[VTD_FR_SL_RSVD] = "reserved bits in second-level entry",
		[VTD_FR_TT_BLOCKED] = "blocked by translation type",
	};

	return reason <= VTD_FR_MAX && names[reason] ? names[reason] : "unknown";
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                  */
/* ------------------------------------------------------------------------ */

/* VT-d 11.4.4: one command per write; TE and QIE are levels compared with
 * the status, SRTP and WBF are one-shot. */
static void gcmd_write(struct iommu *m, uint32_t val)
{
	if (val & VTD_GCMD_SRTP) {
		/* The root pointer in use changes only here (VT-d 10.4.6). */
		m->root = m->rtaddr & VTD_RTADDR_MASK;
		m->gsts |= VTD_GSTS_RTPS;
	}
	if ((val ^ m->gsts) & VTD_GCMD_TE)
		m->gsts ^= VTD_GSTS_TES;
	if ((val ^ m->gsts) & VTD_GCMD_QIE) {
		if (val & VTD_GCMD_QIE) {
			m->iqh = 0;     /* VT-d 6.5.2: enabling resets the head */
			m->gsts |= VTD_GSTS_QIES;
		} else if (m->iqh == m->iqt) {
			/* Disabling is honoured only with the queue drained. */
			m->gsts &= ~VTD_GSTS_QIES;
		}
	}
}

/* VT-d 11.4.7: context command. Register-based invalidation is not
 * available while queued invalidation is enabled (VT-d 6.5.2). */
static void ccmd_fire(struct iommu *m)
{
	unsigned gran = (unsigned)(m->ccmd >> VTD_CCMD_CIRG_SHIFT) & 3;

	m->ccmd &= ~(VTD_CCMD_ICC | 3ULL << VTD_CCMD_CAIG_SHIFT);
	if (!gran || (m->gsts & VTD_GSTS_QIES))
		return;   /* CAIG 0: the request was not performed */
	gran = iommu_inv_context(m, gran, (uint16_t)(m->ccmd & VTD_CCMD_DID_MASK),
				 (uint16_t)(m->ccmd >> VTD_CCMD_SID_SHIFT),
				 (unsigned)(m->ccmd >> VTD_CCMD_FM_SHIFT) & 3);
	m->ccmd |= (uint64_t)gran << VTD_CCMD_CAIG_SHIFT;
	m->st.ccmd_inv++;
}

/* VT-d 11.4.8.1: IOTLB invalidate; a page-selective request whose mask is
 * above MAMV is carried out domain-selective, and IAIG says so. */
static void iotlb_fire(struct iommu *m)
{
	unsigned gran = (unsigned)(m->iotlb_reg >> VTD_IOTLB_IIRG_SHIFT) & 3;
	unsigned am = (unsigned)(m->iva & VTD_IVA_AM_MASK);
	uint16_t did = (uint16_t)(m->iotlb_reg >> VTD_IOTLB_DID_SHIFT);

	m->iotlb_reg &= ~(VTD_IOTLB_IVT | 3ULL << VTD_IOTLB_IAIG_SHIFT);
	if (!gran || (m->gsts & VTD_GSTS_QIES))
		return;
	if (gran == VTD_INV_PAGE && am > IOMMU_MAMV)
		gran = VTD_INV_DOMAIN;
	iommu_inv_iotlb(m, gran, did, m->iva & VTD_IVA_ADDR_MASK, am, (m->iva & VTD_IVA_IH) != 0);
	m->iotlb_reg |= (uint64_t)gran << VTD_IOTLB_IAIG_SHIFT;
	m->st.iotlb_reg_inv++;
}

/* ------------------------------------------------------------------------ */
/* Access                                                                    */
/* ------------------------------------------------------------------------ */

static bool is_frcd(const struct iommu *m, uint64_t off)
{
	return off >= IOMMU_FRO_OFFSET && off < IOMMU_FRO_OFFSET + 16ULL * m->cfg.nfr;
}

/* The 32-bit register at a dword offset; 0 for holes and reserved space. */
static uint32_t reg32(struct iommu *m, uint64_t off)
{
	switch (off) {
	case VTD_VER_REG: return IOMMU_VERSION;
	case VTD_GSTS_REG: return m->gsts;
	case VTD_FSTS_REG: return fsts_value(m);
	case VTD_FECTL_REG: return m->fectl;
	case VTD_FEDATA_REG: return m->fedata;
	case VTD_FEADDR_REG: return m->feaddr;
	case VTD_FEUADDR_REG: return m->feuaddr;
	case VTD_ICS_REG: return m->ics;
	case VTD_IECTL_REG: return m->iectl;
	case VTD_IEDATA_REG: return m->iedata;
	case VTD_IEADDR_REG: return m->ieaddr;
	case VTD_IEUADDR_REG: return m->ieuaddr;
	default: return 0;   /* GCMD reads 0 (VT-d 11.4.4) */
	}
}

/* The 64-bit register at a qword offset, or NULL when the qword holds two
 * 32-bit registers (or nothing). */
static uint64_t *reg64(struct iommu *m, uint64_t off)
{
	switch (off) {
	case VTD_CAP_REG: return &m->cap;
	case VTD_ECAP_REG: return &m->ecap;
	case VTD_RTADDR_REG: return &m->rtaddr;
	case VTD_CCMD_REG: return &m->ccmd;
	case VTD_IQH_REG: return &m->iqh;
	case VTD_IQT_REG: return &m->iqt;
	case VTD_IQA_REG: return &m->iqa;
	case VTD_IVA_REG: return &m->iva;
	case VTD_IOTLB_REG: return &m->iotlb_reg;
	default:
		if (is_frcd(m, off)) {
			struct iommu_frcd *r = &m->frcd[(off - IOMMU_FRO_OFFSET) / 16];

			return (off & 8) ? &r->hi : &r->lo;
		}
		return NULL;
	}
}

uint64_t iommu_reg_read(struct iommu *m, uint64_t off, unsigned size)
{
	uint64_t q = off & ~7ULL, *r;
	uint64_t v;

	if ((size != 4 && size != 8) || (off & (size - 1)) || off >= IOMMU_LEN)
		return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
	r = reg64(m, q);
	v = r ? *r : (uint64_t)reg32(m, q + 4) << 32 | reg32(m, q);
	if (size == 8)
		return v;
	return (uint32_t)(v >> (8 * (off & 4)));
}

/* VT-d 11.4.9.2 / 11.4.10.5: only IM is writable; unmasking sends the
 * interrupt held pending in IP. */
static void ectl_write(struct iommu *m, uint32_t *ectl, uint32_t val, uint32_t addr,
		       uint32_t uaddr, uint32_t data, uint64_t *sent)
{
	*ectl = (*ectl & VTD_ECTL_IP) | (val & VTD_ECTL_IM);
	if (!(*ectl & VTD_ECTL_IM) && (*ectl & VTD_ECTL_IP)) {
		*ectl &= ~VTD_ECTL_IP;
		(*sent)++;
		send_msi(m, addr, uaddr, data);
	}
}

static void write32(struct iommu *m, uint64_t off, uint32_t val)
{
	uint32_t old = fsts_value(m);

	switch (off) {
	case VTD_GCMD_REG:
		gcmd_write(m, val);
		break;
	case VTD_FSTS_REG:
		m->fsts_rw1c &= ~(val & (VTD_FSTS_PFO | VTD_FSTS_IQE | VTD_FSTS_ICE | VTD_FSTS_ITE));
		fault_status_serviced(m);
		/* Clearing IQE lets the queue run again. */
		if ((old & VTD_FSTS_IQE) && (val & VTD_FSTS_IQE))
			iommu_qi_run(m);
		break;
	case VTD_FECTL_REG:
		ectl_write(m, &m->fectl, val, m->feaddr, m->feuaddr, m->fedata, &m->st.fault_events);
		break;
	case VTD_FEDATA_REG: m->fedata = val & 0xffff; break;
	case VTD_FEADDR_REG: m->feaddr = val & ~3u; break;
	case VTD_FEUADDR_REG: m->feuaddr = val; break;
	case VTD_ICS_REG:
		m->ics &= ~(val & VTD_ICS_IWC);
		if (!(m->ics & VTD_ICS_IWC))
			m->iectl &= ~VTD_ECTL_IP;
		break;
	case VTD_IECTL_REG:
		ectl_write(m, &m->iectl, val, m->ieaddr, m->ieuaddr, m->iedata, &m->st.inv_events);
		break;
	case VTD_IEDATA_REG: m->iedata = val & 0xffff; break;
	case VTD_IEADDR_REG: m->ieaddr = val & ~3u; break;
	case VTD_IEUADDR_REG: m->ieuaddr = val; break;
	default: break;   /* read-only or reserved */
	}
}

/* A write of the bytes `mask` selects within the 64-bit register at q. */
static void write64(struct iommu *m, uint64_t q, uint64_t val, uint64_t mask)
{
	uint64_t *r = reg64(m, q);
	bool high = (mask >> 32) != 0;

	if (!r)
		return;
	if (is_frcd(m, q)) {
		/* Only F is writable, and only to clear it (RW1C). */
		if ((q & 8) && high && (val & VTD_FRCD_F)) {
			*r &= ~VTD_FRCD_F;
			fault_status_serviced(m);
		}
		return;
	}
	switch (q) {
	case VTD_RTADDR_REG:
		/* TTM (11:10) stays 00: only legacy mode is implemented. */
		m->rtaddr = (m->rtaddr & ~mask) | (val & mask & VTD_RTADDR_MASK);
		break;
	case VTD_CCMD_REG:
		m->ccmd = (m->ccmd & ~mask) | (val & mask);
		if (high && (m->ccmd & VTD_CCMD_ICC))
			ccmd_fire(m);
		break;
	case VTD_IQT_REG:
		m->iqt = (m->iqt & ~mask) | (val & mask & VTD_IQ_QH_MASK);
		if (mask & 0xffffffffULL)
			iommu_qi_run(m);
		break;
	case VTD_IQA_REG:
		m->iqa = (m->iqa & ~mask) | (val & mask & (VTD_IQA_ADDR_MASK | VTD_IQA_QS_MASK));
		break;
	case VTD_IVA_REG:
		m->iva = (m->iva & ~mask) | (val & mask & (VTD_IVA_ADDR_MASK | VTD_IVA_IH | VTD_IVA_AM_MASK));
		break;
	case VTD_IOTLB_REG:
		m->iotlb_reg = (m->iotlb_reg & ~mask) | (val & mask);
		if (high && (m->iotlb_reg & VTD_IOTLB_IVT))
			iotlb_fire(m);
		break;
	default:
		break;    /* CAP, ECAP, IQH: read-only */
	}
}

void iommu_reg_write(struct iommu *m, uint64_t off, unsigned size, uint64_t val)
{
	uint64_t q = off & ~7ULL;

	if ((size != 4 && size != 8) || (off & (size - 1)) || off >= IOMMU_LEN)
		return;
	if (reg64(m, q)) {
		uint64_t mask = size == 8 ? ~0ULL : 0xffffffffULL << (8 * (off & 4));

		write64(m, q, size == 8 ? val : val << (8 * (off & 4)), mask);
		return;
	}
	write32(m, off, (uint32_t)val);
	if (size == 8)
		write32(m, off + 4, (uint32_t)(val >> 32));
}
