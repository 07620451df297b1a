/* SPDX-License-Identifier: MIT */
/*
 * ept/mmu_inval.c - invalidation of the MMU's TLBs and paging-structure
 * caches by the instructions and events that flush them (SDM 4.10.4, 28.3.3).
 */
#include "ept/mmu_int.h"


static void inval_range(struct mmu *m, enum tlb_id first, enum tlb_id last,
			const struct cache_inval *inv)
{
	unsigned i;

	for (i = first; i <= last; i++)
		if (m->t[i])
			cache_invalidate(m->t[i], inv);
}

#define COMBINED_TLBS TLB_L1I_4K, TLB_L2_1G
#define COMBINED_PWCS PWC_PML5, PWC_PDE
#define GUEST_PHYS    PWC_GP_PML4, NESTED_TLB

void mmu_invlpg(struct mmu *m, const struct mmu_ctx *ctx, uint64_t gva)
{
	uint16_t pcid = ctx_pcid(ctx);
	struct cache_inval tl = { .flags = CACHE_INV_VMID | CACHE_INV_ASID_OR_G | CACHE_INV_ADDR, .vmid = ctx->vpid,
				.asid = pcid,
				.addr = (ctx->efer & EFER_LMA) ? gva : (gva & 0xffffffffULL) };
	struct cache_inval pw = { .flags = CACHE_INV_VMID | CACHE_INV_ASID, .vmid = ctx->vpid, .asid = pcid };

	/* SDM 4.10.4.1: the page's translations (global ones too) and every
	 * paging-structure-cache entry of the current PCID, for every EPTP. */
	inval_range(m, COMBINED_TLBS, &tl);
	inval_range(m, COMBINED_PWCS, &pw);
}

void mmu_mov_cr3(struct mmu *m, const struct mmu_ctx *ctx, bool noflush)
{
	bool pcide = (ctx->cr4 & CR4_PCIDE) != 0;
	struct cache_inval tl = { .flags = CACHE_INV_VMID | CACHE_INV_ASID | CACHE_INV_KEEP_GLOBAL, .vmid = ctx->vpid,
				.asid = ctx_pcid(ctx) };
	struct cache_inval pw = { .flags = CACHE_INV_VMID | CACHE_INV_ASID, .vmid = ctx->vpid,
				.asid = ctx_pcid(ctx) };

	/* SDM 4.10.4.1: with CR4.PCIDE=1 and bit 63 set nothing is invalidated. */
	if (pcide && noflush)
		return;
	inval_range(m, COMBINED_TLBS, &tl);
	inval_range(m, COMBINED_PWCS, &pw);
}

void mmu_flush_vpid_all(struct mmu *m, uint16_t vpid)
{
	struct cache_inval inv = { .flags = CACHE_INV_VMID, .vmid = vpid };

	inval_range(m, COMBINED_TLBS, &inv);
	inval_range(m, COMBINED_PWCS, &inv);
}

void mmu_invvpid(struct mmu *m, enum invvpid_type type, uint16_t vpid, uint64_t gva)
{
	struct cache_inval tl = { .vmid = vpid, .addr = gva };
	struct cache_inval pw = { .flags = CACHE_INV_VMID, .vmid = vpid };

	/* SDM 28.3.3.3 / INVVPID: linear and combined mappings, every PCID and EPTP. */
	switch (type) {
	case INVVPID_ADDR:
		tl.flags = CACHE_INV_VMID | CACHE_INV_ADDR;
		break;
	case INVVPID_SINGLE:
		tl.flags = CACHE_INV_VMID;
		break;
	case INVVPID_ALL:
		tl.flags = CACHE_INV_NOT_VMID0;
		pw.flags = CACHE_INV_NOT_VMID0;
		break;
	case INVVPID_SINGLE_KEEP_GLOBAL:
		tl.flags = CACHE_INV_VMID | CACHE_INV_KEEP_GLOBAL;
		break;
	default:
		return;   /* not an INVVPID type: the instruction fails, nothing changes */
	}
	inval_range(m, COMBINED_TLBS, &tl);
	inval_range(m, COMBINED_PWCS, &pw);
}

void mmu_invept(struct mmu *m, enum invept_type type, uint64_t eptp)
{
	struct cache_inval inv = { .domain = eptp_root(eptp) | 1 };

	/* SDM 28.3.3.3 / INVEPT: guest-physical and combined mappings of one EP4TA, or all. */
	if (type == INVEPT_SINGLE)
		inv.flags = CACHE_INV_DOMAIN;
	else if (type == INVEPT_GLOBAL)
		inv.flags = CACHE_INV_ANY_DOMAIN;
	else
		return;
	inval_range(m, COMBINED_TLBS, &inv);
	inval_range(m, COMBINED_PWCS, &inv);
	inval_range(m, GUEST_PHYS, &inv);
}

void mmu_invpcid(struct mmu *m, uint16_t vpid, unsigned type, uint16_t pcid, uint64_t gva)
{
	struct cache_inval tl = { .vmid = vpid, .asid = pcid, .addr = gva };
	struct cache_inval pw = { .flags = CACHE_INV_VMID | CACHE_INV_ASID, .vmid = vpid, .asid = pcid };

	/* SDM INVPCID: 0 one address of one PCID (not globals), 1 one PCID (not
	 * globals), 2 everything including globals, 3 everything but globals. */
	switch (type) {
	case 0:
		tl.flags = CACHE_INV_VMID | CACHE_INV_ASID | CACHE_INV_ADDR | CACHE_INV_KEEP_GLOBAL;
		break;
	case 1:
		tl.flags = CACHE_INV_VMID | CACHE_INV_ASID | CACHE_INV_KEEP_GLOBAL;
		break;
	case 2:
		tl.flags = CACHE_INV_VMID;
		pw.flags = CACHE_INV_VMID;
		break;
	case 3:
		tl.flags = CACHE_INV_VMID | CACHE_INV_KEEP_GLOBAL;
		pw.flags = CACHE_INV_VMID;
		break;
	default:
		return;   /* #GP in the guest: the caller raises it */
	}
	inval_range(m, COMBINED_TLBS, &tl);
	inval_range(m, COMBINED_PWCS, &pw);
}

