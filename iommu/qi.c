/* SPDX-License-Identifier: MIT */
/*
 * iommu/qi.c - queued invalidation (VT-d 6.5.2): 128-bit descriptors in a
 * ring of 2^QS pages at IQA, consumed from IQH up to IQT whenever software
 * moves the tail. A descriptor the unit does not accept (unknown type,
 * reserved bits set) stops the queue with IQH pointing at it and sets
 * FSTS.IQE (VT-d 6.5.2.10), which raises the fault event.
 */
#include "iommu/internal.h"

/* Carry out one descriptor; false when it is invalid. */
static bool qi_desc(struct iommu *m, uint64_t lo, uint64_t hi)
{
	unsigned g = (unsigned)(lo >> VTD_DESC_G_SHIFT) & 3;
	uint16_t did = (uint16_t)(lo >> VTD_DESC_DID_SHIFT);

	switch (lo & VTD_DESC_TYPE_MASK) {
	case VTD_DESC_CC:
		if ((lo & VTD_DESC_CC_RSVD) || hi || !g)
			return false;
		(void)iommu_inv_context(m, g, did, (uint16_t)(lo >> VTD_DESC_CC_SID_SHIFT),
				  (unsigned)(lo >> VTD_DESC_CC_FM_SHIFT) & 3);
		return true;
	case VTD_DESC_IOTLB:
		if ((lo & VTD_DESC_IOTLB_RSVD_LO) || (hi & VTD_DESC_IOTLB_RSVD_HI) || !g ||
		    (g == VTD_INV_PAGE && (hi & VTD_IVA_AM_MASK) > IOMMU_MAMV))
			return false;
		iommu_inv_iotlb(m, g, did, hi & VTD_IVA_ADDR_MASK, (unsigned)(hi & VTD_IVA_AM_MASK),
				(hi & VTD_IVA_IH) != 0);
		return true;
	case VTD_DESC_WAIT:
		if ((lo & VTD_DESC_WAIT_RSVD_LO) || (hi & VTD_DESC_WAIT_RSVD_HI))
			return false;
		m->st.qi_waits++;
		if ((lo & VTD_DESC_WAIT_SW) &&
		    iommu_phys_write32(m, hi, (uint32_t)(lo >> VTD_DESC_WAIT_DATA_SHIFT)))
			return false;
		if ((lo & VTD_DESC_WAIT_IF) && !(m->ics & VTD_ICS_IWC)) {
			m->ics |= VTD_ICS_IWC;
			if (m->iectl & VTD_ECTL_IM) {
				m->iectl |= VTD_ECTL_IP;
			} else {
				m->st.inv_events++;
				if (m->cfg.msi)
					m->cfg.msi(m->cfg.msi_ctx,
						   (uint64_t)m->ieuaddr << 32 | m->ieaddr, m->iedata);
			}
		}
		return true;
	default:
		/* Device-TLB, interrupt-entry and PASID descriptors: the
		 * capabilities they need are not announced. */
		return false;
	}
}

void iommu_qi_run(struct iommu *m)
{
	uint64_t entries = 256ULL << (m->iqa & VTD_IQA_QS_MASK);
	uint64_t base = m->iqa & VTD_IQA_ADDR_MASK;

	if (!(m->gsts & VTD_GSTS_QIES))
		return;
	while (m->iqh != m->iqt) {
		uint64_t idx = m->iqh >> 4, lo, hi;

		if ((m->iqt >> 4) >= entries || idx >= entries ||
		    iommu_phys_read64(m, base + idx * 16, &lo) ||
		    iommu_phys_read64(m, base + idx * 16 + 8, &hi) || !qi_desc(m, lo, hi)) {
			uint32_t before = (uint32_t)iommu_reg_read(m, VTD_FSTS_REG, 4);

			m->st.qi_errors++;
			m->fsts_rw1c |= VTD_FSTS_IQE;
			iommu_fault_event(m, before);
			return;
		}
		m->st.qi_desc++;
		m->iqh = ((idx + 1) % entries) << 4;
	}
}
