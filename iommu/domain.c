/* SPDX-License-Identifier: MIT */
/*
 * iommu/domain.c - hv as the unit's driver: second-level tables hv builds in
 * the frame pool, and a device attached to a domain (root entry, context
 * entry, SRTP, global invalidations, TE) through the register block, as a
 * driver written to VT-d 9.1, 9.3, 9.8 and 11.4 does it.
 */
#include <errno.h>
#include <string.h>

#include "iommu/internal.h"

static unsigned index_at(uint64_t iova, unsigned level)
{
	return (unsigned)(iova >> (PAGE_SHIFT_4K + 9 * (level - 1))) & 511;
}

static uint64_t level_size(unsigned level)
{
	return 1ULL << (PAGE_SHIFT_4K + 9 * (level - 1));
}

/* The table that `table`'s entry for iova at `level` points to, made on first
 * use. A large page there cannot be descended into: -EEXIST. */
static int descend(struct iommu_sl *sl, uint64_t table, unsigned level, uint64_t iova,
		   uint64_t *child)
{
	uint64_t slot = table + index_at(iova, level) * 8, e = hpool_read64(sl->pool, slot);
	int rc;

	if (e & (VTD_SL_R | VTD_SL_W)) {
		if (e & VTD_SL_PS)
			return -EEXIST;
		*child = e & VTD_SL_ADDR_MASK;
		return 0;
	}
	rc = hpool_alloc(sl->pool, PAGE_SIZE_4K, FRAME_HV, child);
	if (rc)
		return rc;
	sl->tables++;
	/* VT-d 9.8: a table pointer grants what its subtree may grant. */
	hpool_write64(sl->pool, slot, *child | VTD_SL_R | VTD_SL_W);
	return 0;
}

int iommu_sl_create(struct hpool *pool, unsigned levels, struct iommu_sl *sl)
{
	memset(sl, 0, sizeof(*sl));
	if (levels != 3 && levels != 4)
		return -EINVAL;
	sl->pool = pool;
	sl->levels = levels;
	sl->tables = 1;
	return hpool_alloc(pool, PAGE_SIZE_4K, FRAME_HV, &sl->top);
}

int iommu_sl_map(struct iommu_sl *sl, uint64_t iova, uint64_t hpa, uint64_t len, uint64_t perms,
		 unsigned max_shift)
{
	if (!len || ((iova | hpa | len) & (PAGE_SIZE_4K - 1)) || iova + len - 1 < iova ||
	    (iova + len - 1) >> (PAGE_SHIFT_4K + 9 * sl->levels) || (perms & ~(VTD_SL_R | VTD_SL_W)))
		return -EINVAL;
	while (len) {
		unsigned leaf = 1;
		uint64_t t = sl->top;
		int rc = 0;

		/* The largest page that fits, both addresses aligned to it. */
		while (leaf < 3 && PAGE_SHIFT_4K + 9 * leaf <= max_shift &&
		       !((iova | hpa) & (level_size(leaf + 1) - 1)) && len >= level_size(leaf + 1))
			leaf++;
		for (unsigned l = sl->levels; l > leaf && !rc; l--)
			rc = descend(sl, t, l, iova, &t);
		if (rc)
			return rc;
		hpool_write64(sl->pool, t + index_at(iova, leaf) * 8,
			      hpa | perms | (leaf > 1 ? VTD_SL_PS : 0));
		iova += level_size(leaf);
		hpa += level_size(leaf);
		len -= level_size(leaf);
	}
	return 0;
}

static void free_table(struct hpool *pool, uint64_t table, unsigned level)
{
	for (unsigned i = 0; level > 1 && i < 512; i++) {
		uint64_t e = hpool_read64(pool, table + i * 8);

		if ((e & (VTD_SL_R | VTD_SL_W)) && !(e & VTD_SL_PS))
			free_table(pool, e & VTD_SL_ADDR_MASK, level - 1);
	}
	hpool_free(pool, table, PAGE_SIZE_4K);
}

void iommu_sl_destroy(struct iommu_sl *sl)
{
	if (sl->top)
		free_table(sl->pool, sl->top, sl->levels);
	sl->top = 0;
	sl->tables = 0;
}

int iommu_attach(struct iommu *m, uint16_t sid, uint16_t did, uint64_t slptptr, unsigned levels)
{
	uint64_t ctx;
	int rc;

	if ((levels == 3 && !m->cfg.agaw39) || (levels == 4 && !m->cfg.agaw48) ||
	    (levels != 3 && levels != 4) || (slptptr & ~VTD_SL_ADDR_MASK))
		return -EINVAL;
	if (!m->own_root) {
		rc = hpool_alloc(m->pool, PAGE_SIZE_4K, FRAME_HV, &m->own_root);
		if (rc)
			return rc;
	}
	/* VT-d 9.1: the root entry of the device's bus points at its context table. */
	uint64_t root_entry = m->own_root + (uint64_t)(sid >> 8) * 16;

	if (!m->own_ctx[sid >> 8]) {
		rc = hpool_alloc(m->pool, PAGE_SIZE_4K, FRAME_HV, &m->own_ctx[sid >> 8]);
		if (rc)
			return rc;
	}
	ctx = m->own_ctx[sid >> 8];
	hpool_write64(m->pool, root_entry, ctx | VTD_ROOT_P);
	/* VT-d 9.3: present, TT 0 (untranslated requests through the second
	 * level), AW 1 (39-bit, 3 levels) or 2 (48-bit, 4 levels), the domain. */
	hpool_write64(m->pool, ctx + (sid & 0xff) * 16 + 8,
		      (levels == 3 ? 1ULL : 2ULL) | (uint64_t)did << VTD_CTX_DID_SHIFT);
	hpool_write64(m->pool, ctx + (sid & 0xff) * 16, slptptr | VTD_CTX_P);
	/* VT-d 11.4.4-11.4.8: the table pointer latched, every cached context
	 * and translation dropped, then translation on. */
	iommu_reg_write(m, VTD_RTADDR_REG, 8, m->own_root);
	iommu_reg_write(m, VTD_GCMD_REG, 4, VTD_GCMD_SRTP);
	iommu_reg_write(m, VTD_CCMD_REG, 8, VTD_CCMD_ICC | (uint64_t)VTD_INV_GLOBAL << VTD_CCMD_CIRG_SHIFT);
	iommu_reg_write(m, VTD_IOTLB_REG, 8, VTD_IOTLB_IVT | (uint64_t)VTD_INV_GLOBAL << VTD_IOTLB_IIRG_SHIFT);
	iommu_reg_write(m, VTD_GCMD_REG, 4, VTD_GCMD_TE);
	return (iommu_reg_read(m, VTD_GSTS_REG, 4) & VTD_GSTS_TES) ? 0 : -EIO;
}
