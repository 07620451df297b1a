/* SPDX-License-Identifier: MIT */
/*
 * iommu/translate.c - DMA requests through the second-level tables.
 *
 * The second-level walk is ept/walk.h's walker with two more format
 * descriptors (3 and 4 levels, VT-d 9.8); references are counted by the
 * walker's ref hook, as on the CPU side. Legacy mode has no second-level
 * accessed/dirty flags (ECAP.SLADS concerns scalable mode only), so the
 * descriptors maintain none and bits 8/9 are ignored.
 */
#include <errno.h>
#include <string.h>

#include "ept/walk.h"
#include "iommu/internal.h"

/* Reserved in every entry: address bits 51:48 above the HAW, and TM (bit 62)
 * without device-TLB support. Table pointers also reserve SNP (bit 11), and
 * the SL-PML4E reserves PS (bit 7). Large pages reserve the address bits
 * below their size. */
#define SL_RSVD_ALL   (0x000f000000000000ULL | 1ULL << 62)
#define SL_RSVD_TABLE (SL_RSVD_ALL | VTD_SL_SNP)

#define SL_FMT(n)                                                                  \
	{                                                                          \
		.name = "VT-d second level " #n "-level",                        \
		.levels = n, .esz = 8,                                             \
		.shift = { 0, 12, 21, 30, 39 }, .ibits = { 0, 9, 9, 9, 9 },        \
		.present = VTD_SL_R | VTD_SL_W,                                    \
		.ps = VTD_SL_PS, .large = (1u << 2) | (1u << 3),                   \
		.rsvd_table = { 0, SL_RSVD_TABLE, SL_RSVD_TABLE, SL_RSVD_TABLE,    \
				SL_RSVD_TABLE | VTD_SL_PS },                       \
		.rsvd_page = { 0, SL_RSVD_ALL, SL_RSVD_ALL | 0x1ff000ULL,          \
			       SL_RSVD_ALL | 0x3ffff000ULL, 0 },                   \
		.addr = VTD_SL_ADDR_MASK, .and_bits = VTD_SL_R | VTD_SL_W,         \
	}

static const struct walk_fmt sl_fmt3 = SL_FMT(3);
static const struct walk_fmt sl_fmt4 = SL_FMT(4);

const struct walk_fmt *iommu_sl_format(unsigned levels)
{
	return levels == 3 ? &sl_fmt3 : &sl_fmt4;
}

struct walk_ctx {
	struct iommu *m;
	unsigned refs, refs2;
};

/* A table outside memory cannot be read: fault 7, not a reserved-bit fault.
 * A guest-visible unit's tables are guest-physical: each entry's address goes
 * through the second stage first, as in the CPU's 2D walk. */
static bool sl_locate(void *arg, const struct walk_path *p, unsigned level, uint64_t entry_addr,
		      uint64_t *entry_hpa)
{
	struct walk_ctx *w = arg;

	(void)p; (void)level;
	return iommu_phys(w->m, entry_addr, 8, false, entry_hpa, &w->refs2) == 0;
}

static void sl_ref(void *arg, const struct walk_path *p, const struct walk_step *r)
{
	struct walk_ctx *w = arg;

	(void)p; (void)r;
	w->refs++;
}

static const struct walk_ops sl_ops = { .locate = sl_locate, .ref = sl_ref };

int iommu_translate(struct iommu *m, uint16_t sid, uint64_t iova, bool write,
		    struct iommu_xlate *out)
{
	struct iommu_context ctx;
	struct walk_ctx w = { .m = m };
	struct walk_path p;
	struct cache_tag tag = { 0 };
	unsigned fr;
	int rc;

	memset(out, 0, sizeof(*out));
	m->st.translations++;
	rc = iommu_context_lookup(m, sid, iova, write, &ctx, &fr);
	if (rc) {
		out->reason = fr;
		return rc;
	}
	if (!ctx.translate || ctx.tt == VTD_TT_PT) {
		out->addr = iova;
		out->shift = PAGE_SHIFT_4K;
		return 0;
	}
	out->did = ctx.did;
	tag.domain = (uint64_t)ctx.did + 1;
	if (m->iotlb && !m->trace) {
		/* IOTLB entries are tagged by domain and used, stale or not,
		 * until an invalidation removes them. One that lacks the
		 * permission asked for is walked again. */
		struct cache_entry *e = cache_find_addr(m->iotlb, iova, &tag);

		if (e && (e->attr & (write ? VTD_SL_W : VTD_SL_R))) {
			cache_hit(m->iotlb, e);
			out->shift = cache_key_shift(e->key);
			out->addr = e->val | (iova & ((1ULL << out->shift) - 1));
			return 0;
		}
		cache_miss(m->iotlb);
	}
	switch (walk_run(iommu_sl_format(ctx.levels), m->pool, &sl_ops, &w, ctx.slptptr, NULL,
			 iova, &p)) {
	case WALK_OK:
		fr = !(p.and_acc & VTD_SL_R) && !write ? VTD_FR_READ :
		     !(p.and_acc & VTD_SL_W) && write ? VTD_FR_WRITE : 0;
		break;
	case WALK_NOT_PRESENT:
		/* VT-d 7.1.3: a non-present entry faults as a missing permission. */
		fr = write ? VTD_FR_WRITE : VTD_FR_READ;
		break;
	case WALK_RESERVED:
		fr = VTD_FR_SL_RSVD;
		break;
	default:
		fr = VTD_FR_SL_ACCESS;
		break;
	}
	out->refs = w.refs;
	out->refs2 = w.refs2;
	m->st.walk_refs += w.refs;
	if (m->trace) {
		m->trace->sl = p;
		m->trace->walked = true;
	}
	if (fr) {
		out->reason = fr;
		if (!m->trace)
			iommu_report_fault(m, sid, iova, fr, write, ctx.fpd);
		return -EFAULT;
	}
	out->addr = p.addr;
	out->shift = p.shift;
	if (m->iotlb && !m->trace) {
		struct cache_entry *e;

		if (!cache_fill(m->iotlb, cache_key(iova, p.shift), &tag, false, &e)) {
			e->val = p.addr & ~((1ULL << p.shift) - 1);
			e->attr = (uint32_t)p.and_acc;
		}
	}
	return 0;
}

void iommu_explain(struct iommu *m, uint16_t sid, uint64_t iova, bool write,
		   struct iommu_trace *t)
{
	struct iommu_stats saved = m->st;
	struct iommu_xlate x;

	memset(t, 0, sizeof(*t));
	m->trace = t;
	if (iommu_context_lookup(m, sid, iova, write, &t->ctx, &t->reason))
		t->ctx = (struct iommu_context){ .translate = true };
	if (iommu_translate(m, sid, iova, write, &x) == 0) {
		t->addr = x.addr;
		t->shift = x.shift;
	} else {
		/* VT-d 11.4.14: what the fault recording register would hold. */
		t->reason = x.reason;
		t->frcd_lo = iova & VTD_FRCD_FI_MASK;
		t->frcd_hi = VTD_FRCD_F | (write ? 0 : VTD_FRCD_T) |
			     (uint64_t)x.reason << VTD_FRCD_FR_SHIFT | sid;
	}
	m->trace = NULL;
	m->st = saved;
}

int iommu_dma(struct iommu *m, uint16_t sid, uint64_t iova, void *buf, uint64_t len, bool write,
	      struct iommu_xlate *last)
{
	uint8_t *b = buf;

	if (len == 0 || iova + len - 1 < iova)
		return -EINVAL;
	m->st.dma++;
	while (len) {
		uint64_t chunk = PAGE_SIZE_4K - (iova & (PAGE_SIZE_4K - 1)), hpa;
		int rc = iommu_translate(m, sid, iova, write, last);

		if (rc)
			return rc;
		if (chunk > len)
			chunk = len;
		/* A translation to an address with no memory behind it is not a
		 * remapping fault: the request is aborted on the bus. One to
		 * read-only memory is not either: the unit's tables allowed the
		 * write, and the memory drops it (as a PC's ROM does). */
		rc = iommu_phys(m, last->addr, chunk, write, &hpa, &last->refs2);
		if (rc == -EROFS) {
			b += chunk;
			iova += chunk;
			len -= chunk;
			continue;
		}
		if (rc)
			return -EFAULT;
		if (write) {
			memcpy(hpool_ptr(m->pool, hpa), b, chunk);
			if (m->cfg.written)
				m->cfg.written(m->cfg.written_ctx, iova, chunk);
		} else
			memcpy(b, hpool_ptr(m->pool, hpa), chunk);
		m->st.dma_bytes += chunk;
		b += chunk;
		iova += chunk;
		len -= chunk;
	}
	return 0;
}
