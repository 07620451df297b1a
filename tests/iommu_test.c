/* SPDX-License-Identifier: MIT */
/* tests/iommu_test.c - the VT-d register block, context lookup, fault
 * recording and queued invalidation, with the values the specification fixes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tests/testutil.h"
#include "iommu/iommu.h"

struct fix {
	struct hpool *pool;
	struct iommu *m;
	uint64_t root, ctx;      /* one root table, one context table (bus 0) */
	unsigned msis;
	uint64_t msi_addr;
	uint32_t msi_data;
};

static void on_msi(void *ctx, uint64_t addr, uint32_t data)
{
	struct fix *f = ctx;

	f->msis++;
	f->msi_addr = addr;
	f->msi_data = data;
}

static int setup_nfr(void **state, unsigned nfr)
{
	static struct fix f;
	struct iommu_config cfg;

	memset(&f, 0, sizeof(f));
	iommu_config_default(&cfg);
	cfg.nfr = nfr;
	cfg.msi = on_msi;
	cfg.msi_ctx = &f;
	if (hpool_create(4ULL << 30, &f.pool) || iommu_create(f.pool, &cfg, &f.m) ||
	    hpool_alloc(f.pool, PAGE_SIZE_4K, FRAME_HV, &f.root) ||
	    hpool_alloc(f.pool, PAGE_SIZE_4K, FRAME_HV, &f.ctx))
		return -1;
	hpool_write64(f.pool, f.root, f.ctx | VTD_ROOT_P);
	*state = &f;
	return 0;
}
static int setup(void **state) { return setup_nfr(state, 8); }

static int teardown(void **state)
{
	struct fix *f = *state;

	iommu_destroy(f->m);
	hpool_destroy(f->pool);
	return 0;
}

static uint32_t rd32(struct fix *f, uint64_t off) { return (uint32_t)iommu_reg_read(f->m, off, 4); }
static uint64_t rd64(struct fix *f, uint64_t off) { return iommu_reg_read(f->m, off, 8); }
static void wr32(struct fix *f, uint64_t off, uint32_t v) { iommu_reg_write(f->m, off, 4, v); }
static void wr64(struct fix *f, uint64_t off, uint64_t v) { iommu_reg_write(f->m, off, 8, v); }

/* Point the unit at the fixture's root table and turn translation on, one
 * command per GCMD write as VT-d 11.4.4 asks. */
static void enable(struct fix *f)
{
	wr64(f, VTD_RTADDR_REG, f->root);
	wr32(f, VTD_GCMD_REG, VTD_GCMD_SRTP);
	wr32(f, VTD_GCMD_REG, VTD_GCMD_TE);
}

/* Global context-cache and IOTLB invalidation through the registers. */
static void inval_all(struct fix *f)
{
	wr64(f, VTD_CCMD_REG, VTD_CCMD_ICC | 1ULL << VTD_CCMD_CIRG_SHIFT);
	wr64(f, VTD_IOTLB_REG, VTD_IOTLB_IVT | 1ULL << VTD_IOTLB_IIRG_SHIFT);
}

/* Change a context entry the way a driver must: write, then invalidate. */
static void set_ctx(struct fix *f, unsigned devfn, uint64_t lo, uint64_t hi)
{
	hpool_write64(f->pool, f->ctx + devfn * 16, lo);
	hpool_write64(f->pool, f->ctx + devfn * 16 + 8, hi);
	inval_all(f);
}

/* VT-d 11.4.2/11.4.3: the capability registers describe exactly the model. */
static void test_cap_ecap(void **state)
{
	struct fix *f = *state;

	assert_int_equal(rd32(f, VTD_VER_REG), 0x10);
	/* ND 6, SAGAW 39+48, MGAW 47, FRO 0x20, SLLPS 2M+1G, PSI, NFR 7, MAMV 18 */
	assert_int_equal(rd64(f, VTD_CAP_REG), 0x0012078c202f0606ULL);
	/* C, QI, PT, SC, IRO 0x10 */
	assert_int_equal(rd64(f, VTD_ECAP_REG), 0x10c3ULL);
	/* Two dword reads give the same qword. */
	assert_int_equal(rd32(f, VTD_CAP_REG + 4), 0x0012078cU);
	assert_int_equal(rd32(f, VTD_CAP_REG), 0x202f0606U);
	/* Read-only: writes do nothing. */
	wr64(f, VTD_CAP_REG, 0);
	assert_int_equal(rd64(f, VTD_CAP_REG), 0x0012078c202f0606ULL);
	/* Reset values: event interrupts masked. */
	assert_int_equal(rd32(f, VTD_FECTL_REG), VTD_ECTL_IM);
	assert_int_equal(rd32(f, VTD_IECTL_REG), VTD_ECTL_IM);
	assert_int_equal(rd32(f, VTD_GSTS_REG), 0);
	/* Odd sizes and misaligned accesses read all-ones. */
	assert_int_equal(iommu_reg_read(f->m, VTD_CAP_REG, 2), 0xffff);
	assert_int_equal(iommu_reg_read(f->m, VTD_CAP_REG + 4, 8), ~0ULL);
	assert_int_equal(iommu_reg_read(f->m, IOMMU_LEN, 4), 0xffffffffU);
}

/* VT-d 11.4.4/11.4.5: commands and their status; GCMD reads as zero. */
static void test_gcmd(void **state)
{
	struct fix *f = *state;

	wr64(f, VTD_RTADDR_REG, f->root | 0xc00);   /* TTM is not writable */
	assert_int_equal(rd64(f, VTD_RTADDR_REG), f->root);
	wr32(f, VTD_GCMD_REG, VTD_GCMD_SRTP);
	assert_int_equal(rd32(f, VTD_GSTS_REG), VTD_GSTS_RTPS);
	wr32(f, VTD_GCMD_REG, VTD_GCMD_TE);
	assert_int_equal(rd32(f, VTD_GSTS_REG), VTD_GSTS_RTPS | VTD_GSTS_TES);
	assert_int_equal(rd32(f, VTD_GCMD_REG), 0);
	wr32(f, VTD_GCMD_REG, VTD_GCMD_TE | VTD_GCMD_QIE);
	assert_int_equal(rd32(f, VTD_GSTS_REG), VTD_GSTS_RTPS | VTD_GSTS_TES | VTD_GSTS_QIES);
	wr32(f, VTD_GCMD_REG, VTD_GCMD_QIE);
	assert_int_equal(rd32(f, VTD_GSTS_REG), VTD_GSTS_RTPS | VTD_GSTS_QIES);
}

/* VT-d 11.4.14: the issue's example and its write twin, exact bits. */
static void test_fault_record_bits(void **state)
{
	struct fix *f = *state;
	struct iommu_fault fl;

	iommu_report_fault(f->m, 0x0010, 0x12345678, VTD_FR_READ, false, false);
	assert_int_equal(rd64(f, IOMMU_FRO_OFFSET + 8), 0xC000000600000010ULL);
	assert_int_equal(rd64(f, IOMMU_FRO_OFFSET), 0x12345000ULL);
	assert_int_equal(rd32(f, VTD_FSTS_REG), VTD_FSTS_PPF);   /* FRI 0 */
	iommu_report_fault(f->m, 0x0010, 0x9000, VTD_FR_WRITE, true, false);
	assert_int_equal(rd64(f, IOMMU_FRO_OFFSET + 16 + 8), 0x8000000500000010ULL);
	assert_true(iommu_fault_get(f->m, 1, &fl));
	assert_int_equal(fl.sid, 0x10);
	assert_int_equal(fl.reason, 5);
	assert_false(fl.read);
	assert_int_equal(fl.addr, 0x9000);
	/* RW1C on F; the other bits are read-only. */
	wr64(f, IOMMU_FRO_OFFSET + 8, 0);
	assert_int_equal(rd64(f, IOMMU_FRO_OFFSET + 8), 0xC000000600000010ULL);
	wr32(f, IOMMU_FRO_OFFSET + 12, 0x80000000u);
	assert_int_equal(rd64(f, IOMMU_FRO_OFFSET + 8), 0x4000000600000010ULL);
	/* Record 1 is still pending: PPF with FRI still the first one. */
	assert_int_equal(rd32(f, VTD_FSTS_REG), VTD_FSTS_PPF);
	wr64(f, IOMMU_FRO_OFFSET + 16 + 8, VTD_FRCD_F);
	assert_int_equal(rd32(f, VTD_FSTS_REG), 0);
	/* The next fault goes to index 2, and FRI says so. */
	iommu_report_fault(f->m, 0x0108, 0x1000, VTD_FR_CTX_NOT_PRESENT, false, false);
	assert_int_equal(rd32(f, VTD_FSTS_REG), VTD_FSTS_PPF | 2u << 8);
	assert_int_equal(rd64(f, IOMMU_FRO_OFFSET + 32 + 8), 0xC000000200000108ULL);
	assert_string_equal(iommu_fault_reason_name(6), "read without R");
	assert_string_equal(iommu_fault_reason_name(0xee), "unknown");
}

/* VT-d 7.3.1: with every register full the next fault is lost and sets PFO;
 * nothing is recorded until PFO is cleared. */
static void test_fault_overflow(void **state)
{
	struct fix *f = *state;

	iommu_report_fault(f->m, 1, 0x1000, VTD_FR_READ, false, false);
	iommu_report_fault(f->m, 2, 0x2000, VTD_FR_READ, false, false);
	assert_int_equal(rd32(f, VTD_FSTS_REG), VTD_FSTS_PPF);
	iommu_report_fault(f->m, 3, 0x3000, VTD_FR_WRITE, true, false);
	assert_int_equal(rd32(f, VTD_FSTS_REG), VTD_FSTS_PPF | VTD_FSTS_PFO);
	assert_int_equal(iommu_get_stats(f->m)->overflow, 1);
	assert_int_equal(iommu_get_stats(f->m)->recorded, 2);
	/* Clear record 0 but not PFO: still lost. */
	wr64(f, IOMMU_FRO_OFFSET + 8, VTD_FRCD_F);
	iommu_report_fault(f->m, 4, 0x4000, VTD_FR_WRITE, true, false);
	assert_int_equal(iommu_get_stats(f->m)->overflow, 2);
	wr32(f, VTD_FSTS_REG, VTD_FSTS_PFO);
	iommu_report_fault(f->m, 5, 0x5000, VTD_FR_WRITE, true, false);
	assert_int_equal(rd64(f, IOMMU_FRO_OFFSET + 8), 0x8000000500000005ULL);
	/* FPD: counted, never recorded. */
	iommu_report_fault(f->m, 6, 0x6000, VTD_FR_READ, false, true);
	assert_int_equal(iommu_get_stats(f->m)->suppressed_fpd, 1);
	assert_int_equal(iommu_get_stats(f->m)->faults, 6);
	assert_int_equal(iommu_get_stats(f->m)->by_reason[VTD_FR_WRITE], 3);
}

/* VT-d 7.3.2: one fault event per clear-to-pending transition; masked, it
 * waits in IP and is sent when software unmasks. */
static void test_fault_event(void **state)
{
	struct fix *f = *state;

	wr32(f, VTD_FEDATA_REG, 0x41);
	wr32(f, VTD_FEADDR_REG, 0xfee00000);
	iommu_report_fault(f->m, 1, 0x1000, VTD_FR_READ, false, false);
	assert_int_equal(f->msis, 0);
	assert_int_equal(rd32(f, VTD_FECTL_REG), VTD_ECTL_IM | VTD_ECTL_IP);
	wr32(f, VTD_FECTL_REG, 0);
	assert_int_equal(f->msis, 1);
	assert_int_equal(f->msi_addr, 0xfee00000);
	assert_int_equal(f->msi_data, 0x41);
	assert_int_equal(rd32(f, VTD_FECTL_REG), 0);
	/* Still pending: a second fault raises nothing. */
	iommu_report_fault(f->m, 1, 0x2000, VTD_FR_READ, false, false);
	assert_int_equal(f->msis, 1);
	/* Serviced, then a new fault: a new event. */
	wr64(f, IOMMU_FRO_OFFSET + 8, VTD_FRCD_F);
	wr64(f, IOMMU_FRO_OFFSET + 16 + 8, VTD_FRCD_F);
	iommu_report_fault(f->m, 1, 0x3000, VTD_FR_READ, false, false);
	assert_int_equal(f->msis, 2);
}

/* VT-d 3.4.3, 7.1.3: every fault the root and context tables can cause. */
static void test_context_faults(void **state)
{
	struct fix *f = *state;
	struct iommu_context c;
	unsigned fr = 0;

	/* Translation off: the address passes untouched. */
	assert_ok(iommu_context_lookup(f->m, 0x10, 0x1000, false, &c, &fr));
	assert_false(c.translate);
	enable(f);
	/* Bus 1 has no root entry. */
	assert_int_equal(iommu_context_lookup(f->m, 0x0110, 0x1000, false, &c, &fr), -EFAULT);
	assert_int_equal(fr, VTD_FR_ROOT_NOT_PRESENT);
	assert_int_equal(iommu_context_lookup(f->m, 0x0010, 0x1000, true, &c, &fr), -EFAULT);
	assert_int_equal(fr, VTD_FR_CTX_NOT_PRESENT);
	set_ctx(f, 0x10, 0x5000 | VTD_CTX_P | 1u << 4, 2);
	assert_int_equal(iommu_context_lookup(f->m, 0x10, 0, false, &c, &fr), -EFAULT);
	assert_int_equal(fr, VTD_FR_CTX_RSVD);
	set_ctx(f, 0x10, 0x5000 | VTD_CTX_P, 2 | 1ULL << 24);
	assert_int_equal(iommu_context_lookup(f->m, 0x10, 0, false, &c, &fr), -EFAULT);
	assert_int_equal(fr, VTD_FR_CTX_RSVD);
	set_ctx(f, 0x10, 0x5000 | VTD_CTX_P, 3);          /* AW 3 (57-bit) not in SAGAW */
	assert_int_equal(iommu_context_lookup(f->m, 0x10, 0, false, &c, &fr), -EFAULT);
	assert_int_equal(fr, VTD_FR_CTX_INVALID);
	set_ctx(f, 0x10, 0x5000 | VTD_CTX_P | 1ULL << 2, 2); /* TT 01 without ECAP.DT */
	assert_int_equal(iommu_context_lookup(f->m, 0x10, 0, false, &c, &fr), -EFAULT);
	assert_int_equal(fr, VTD_FR_CTX_INVALID);
	/* AW 1: 39-bit, 3 levels; 2^39 is beyond. */
	set_ctx(f, 0x10, 0x5000 | VTD_CTX_P, 1 | 7u << 8);
	assert_ok(iommu_context_lookup(f->m, 0x10, (1ULL << 39) - 1, false, &c, &fr));
	assert_int_equal(c.levels, 3);
	assert_int_equal(c.did, 7);
	assert_int_equal(c.slptptr, 0x5000);
	assert_int_equal(iommu_context_lookup(f->m, 0x10, 1ULL << 39, true, &c, &fr), -EFAULT);
	assert_int_equal(fr, VTD_FR_ADDR_BEYOND);
	assert_int_equal(rd64(f, IOMMU_FRO_OFFSET + 6 * 16 + 8), 0x8000000400000010ULL);
	assert_int_equal(rd64(f, IOMMU_FRO_OFFSET + 6 * 16), 1ULL << 39);
	/* FPD in a valid entry suppresses the record. */
	set_ctx(f, 0x10, 0x5000 | VTD_CTX_P | VTD_CTX_FPD, 1);
	assert_int_equal(iommu_context_lookup(f->m, 0x10, 1ULL << 40, true, &c, &fr), -EFAULT);
	assert_int_equal(iommu_get_stats(f->m)->suppressed_fpd, 1);
	/* Pass-through: AW is ignored. */
	set_ctx(f, 0x10, VTD_CTX_P | 2ULL << 2, 0 | 3u << 8);
	assert_ok(iommu_context_lookup(f->m, 0x10, 1ULL << 50, false, &c, &fr));
	assert_int_equal(c.tt, VTD_TT_PT);
	/* Reserved bits in the root entry, then a root table outside memory. */
	hpool_write64(f->pool, f->root + 8, 1);
	inval_all(f);
	assert_int_equal(iommu_context_lookup(f->m, 0x10, 0, false, &c, &fr), -EFAULT);
	assert_int_equal(fr, VTD_FR_ROOT_RSVD);
	hpool_write64(f->pool, f->root + 8, 0);
	inval_all(f);
	hpool_write64(f->pool, f->root, f->ctx | 1ULL << 50 | VTD_ROOT_P);   /* above the HAW */
	inval_all(f);
	assert_int_equal(iommu_context_lookup(f->m, 0x10, 0, false, &c, &fr), -EFAULT);
	assert_int_equal(fr, VTD_FR_ROOT_RSVD);
	wr64(f, VTD_RTADDR_REG, f->pool->size + 0x1000);
	wr32(f, VTD_GCMD_REG, VTD_GCMD_TE | VTD_GCMD_SRTP);
	inval_all(f);
	assert_int_equal(iommu_context_lookup(f->m, 0x10, 0, false, &c, &fr), -EFAULT);
	assert_int_equal(fr, VTD_FR_ROOT_ACCESS);
	/* A context table outside memory. */
	wr64(f, VTD_RTADDR_REG, f->root);
	wr32(f, VTD_GCMD_REG, VTD_GCMD_TE | VTD_GCMD_SRTP);
	inval_all(f);
	hpool_write64(f->pool, f->root, (f->pool->size + 0x1000) | VTD_ROOT_P);
	inval_all(f);
	assert_int_equal(iommu_context_lookup(f->m, 0x10, 0, false, &c, &fr), -EFAULT);
	assert_int_equal(fr, VTD_FR_CTX_ACCESS);
}

/* VT-d 11.4.7 / 11.4.8: register-based invalidation commands complete at
 * once, report the granularity used, and fire on the high dword. */
static void test_register_invalidation(void **state)
{
	struct fix *f = *state;

	wr32(f, VTD_CCMD_REG, 5);                              /* DID 5, low half only */
	assert_int_equal(rd64(f, VTD_CCMD_REG), 5);
	wr32(f, VTD_CCMD_REG + 4, 0x80000000u | 2u << 29);      /* ICC, domain */
	/* Carried out globally, and CAIG says so. */
	assert_int_equal(rd64(f, VTD_CCMD_REG), 1ULL << 59 | 2ULL << 61 | 5);
	wr64(f, VTD_IVA_REG, 0x40000000ULL | 19);                  /* AM 19 > MAMV */
	wr64(f, VTD_IOTLB_REG, VTD_IOTLB_IVT | 3ULL << 60 | 5ULL << 32);
	assert_int_equal(rd64(f, VTD_IOTLB_REG), 3ULL << 60 | 2ULL << 57 | 5ULL << 32);
	wr64(f, VTD_IVA_REG, 0x40000000ULL | 9);
	wr64(f, VTD_IOTLB_REG, VTD_IOTLB_IVT | 3ULL << 60 | 5ULL << 32);
	assert_int_equal(rd64(f, VTD_IOTLB_REG), 3ULL << 60 | 3ULL << 57 | 5ULL << 32);
	assert_int_equal(iommu_get_stats(f->m)->ccmd_inv, 1);
	assert_int_equal(iommu_get_stats(f->m)->iotlb_reg_inv, 2);
	/* With queued invalidation on, register commands are not performed. */
	wr32(f, VTD_GCMD_REG, VTD_GCMD_QIE);
	wr64(f, VTD_CCMD_REG, VTD_CCMD_ICC | 1ULL << 61);
	assert_int_equal(rd64(f, VTD_CCMD_REG), 1ULL << 61);
}

/* VT-d 6.5.2: descriptors run when the tail moves; a wait descriptor writes
 * its status and raises the completion event; a bad one stops the queue. */
static void test_queued_invalidation(void **state)
{
	struct fix *f = *state;
	uint64_t q, status;

	assert_ok(hpool_alloc(f->pool, PAGE_SIZE_4K, FRAME_HV, &q));
	assert_ok(hpool_alloc(f->pool, PAGE_SIZE_4K, FRAME_HV, &status));
	wr64(f, VTD_IQA_REG, q);                       /* QS 0: 256 descriptors */
	wr32(f, VTD_GCMD_REG, VTD_GCMD_QIE);
	wr32(f, VTD_IEDATA_REG, 0x42);
	wr32(f, VTD_IEADDR_REG, 0xfee00000);
	hpool_write64(f->pool, q, VTD_DESC_CC | 1u << 4);                    /* global */
	hpool_write64(f->pool, q + 16, VTD_DESC_IOTLB | 3u << 4 | 9u << 16);  /* page */
	hpool_write64(f->pool, q + 24, 0x200000 | 9);
	hpool_write64(f->pool, q + 32, VTD_DESC_WAIT | VTD_DESC_WAIT_SW | VTD_DESC_WAIT_IF |
					  0x1234ULL << 32);
	hpool_write64(f->pool, q + 40, status + 4);
	wr64(f, VTD_IQT_REG, 3 << 4);
	assert_int_equal(rd64(f, VTD_IQH_REG), 3 << 4);
	assert_int_equal(*(uint32_t *)hpool_ptr(f->pool, status + 4), 0x1234);
	assert_int_equal(rd32(f, VTD_ICS_REG), VTD_ICS_IWC);
	assert_int_equal(rd32(f, VTD_IECTL_REG), VTD_ECTL_IM | VTD_ECTL_IP);
	assert_int_equal(f->msis, 0);
	wr32(f, VTD_IECTL_REG, 0);
	assert_int_equal(f->msis, 1);
	assert_int_equal(f->msi_data, 0x42);
	assert_int_equal(iommu_get_stats(f->m)->qi_desc, 3);
	/* Device-TLB descriptor (type 3): not supported, IQE, head stays. */
	hpool_write64(f->pool, q + 48, 3);
	hpool_write64(f->pool, q + 64, VTD_DESC_WAIT);
	wr64(f, VTD_IQT_REG, 5 << 4);
	assert_int_equal(rd64(f, VTD_IQH_REG), 3 << 4);
	assert_int_equal(rd32(f, VTD_FSTS_REG), VTD_FSTS_IQE);
	assert_int_equal(rd32(f, VTD_FECTL_REG), VTD_ECTL_IM | VTD_ECTL_IP);
	/* Software fixes the descriptor and clears IQE: the queue runs on. */
	hpool_write64(f->pool, q + 48, VTD_DESC_WAIT);
	wr32(f, VTD_FSTS_REG, VTD_FSTS_IQE);
	assert_int_equal(rd64(f, VTD_IQH_REG), 5 << 4);
	assert_int_equal(rd32(f, VTD_FECTL_REG), VTD_ECTL_IM);
	/* Reserved bits in an IOTLB descriptor are an error too. */
	hpool_write64(f->pool, q + 80, VTD_DESC_IOTLB | 1u << 4 | 1ULL << 40);
	wr64(f, VTD_IQT_REG, 6 << 4);
	assert_int_equal(rd32(f, VTD_FSTS_REG), VTD_FSTS_IQE);
	assert_int_equal(iommu_get_stats(f->m)->qi_errors, 2);
	/* Disabling waits for an empty queue. */
	wr32(f, VTD_GCMD_REG, 0);
	assert_int_equal(rd32(f, VTD_GSTS_REG) & VTD_GSTS_QIES, VTD_GSTS_QIES);
}

/* Build 4-level tables for domain 3 at sid 0x10: IOVA 0x1000 -> a read-only
 * 4 KiB page, 0x200000 -> a 2 MiB RW page, 0x40000000 -> a 1 GiB RW page. */
static uint64_t sl_setup(struct fix *f, uint64_t *page4k, uint64_t *page2m)
{
	uint64_t l4, l3, l2, l1;

	assert_ok(hpool_alloc(f->pool, PAGE_SIZE_4K, FRAME_HV, &l4));
	assert_ok(hpool_alloc(f->pool, PAGE_SIZE_4K, FRAME_HV, &l3));
	assert_ok(hpool_alloc(f->pool, PAGE_SIZE_4K, FRAME_HV, &l2));
	assert_ok(hpool_alloc(f->pool, PAGE_SIZE_4K, FRAME_HV, &l1));
	assert_ok(hpool_alloc(f->pool, PAGE_SIZE_4K, FRAME_GUEST, page4k));
	assert_ok(hpool_alloc(f->pool, PAGE_SIZE_2M, FRAME_GUEST, page2m));
	hpool_write64(f->pool, l4, l3 | VTD_SL_R | VTD_SL_W);
	hpool_write64(f->pool, l3, l2 | VTD_SL_R | VTD_SL_W);
	hpool_write64(f->pool, l3 + 8, 0 | VTD_SL_PS | VTD_SL_R | VTD_SL_W);   /* 1 GiB at HPA 0 */
	hpool_write64(f->pool, l2, l1 | VTD_SL_R | VTD_SL_W);
	hpool_write64(f->pool, l2 + 8, *page2m | VTD_SL_PS | VTD_SL_R | VTD_SL_W);
	hpool_write64(f->pool, l1 + 8, *page4k | VTD_SL_R);
	set_ctx(f, 0x10, l4 | VTD_CTX_P, 2 | 3u << 8);
	enable(f);
	return l1;
}

/* VT-d 3.6, 9.8: the walk, its references, permissions and fault records. */
static void test_sl_walk(void **state)
{
	struct fix *f = *state;
	struct iommu_xlate x;
	uint64_t p4k, p2m, l1;

	l1 = sl_setup(f, &p4k, &p2m);
	assert_ok(iommu_translate(f->m, 0x10, 0x1abc, false, &x));
	assert_int_equal(x.addr, p4k + 0xabc);
	assert_int_equal(x.refs, 4);
	assert_int_equal(x.shift, 12);
	assert_int_equal(x.did, 3);
	assert_ok(iommu_translate(f->m, 0x10, 0x212345, true, &x));
	assert_int_equal(x.addr, p2m + 0x12345);
	assert_int_equal(x.refs, 3);
	assert_int_equal(x.shift, 21);
	assert_ok(iommu_translate(f->m, 0x10, 0x40001000, false, &x));
	assert_int_equal(x.addr, 0x1000);
	assert_int_equal(x.refs, 2);
	assert_int_equal(x.shift, 30);
	/* The same tables below the top as a 3-level (39-bit) hierarchy. */
	set_ctx(f, 0x18, (hpool_read64(f->pool, hpool_read64(f->pool, f->ctx + 0x10 * 16) &
					      VTD_CTX_SLPTPTR_MASK) & VTD_SL_ADDR_MASK) | VTD_CTX_P,
		1 | 4u << 8);
	assert_ok(iommu_translate(f->m, 0x18, 0x212345, false, &x));
	assert_int_equal(x.addr, p2m + 0x12345);
	assert_int_equal(x.refs, 2);
	assert_int_equal(x.did, 4);
	/* Write to the read-only page: reason 5, T = 0. */
	assert_int_equal(iommu_translate(f->m, 0x10, 0x1008, true, &x), -EFAULT);
	assert_int_equal(x.reason, VTD_FR_WRITE);
	assert_int_equal(rd64(f, IOMMU_FRO_OFFSET + 8), 0x8000000500000010ULL);
	assert_int_equal(rd64(f, IOMMU_FRO_OFFSET), 0x1000);
	/* Read of an unmapped page: the issue's example, 0xC000000600000010. */
	assert_int_equal(iommu_translate(f->m, 0x10, 0x5000, false, &x), -EFAULT);
	assert_int_equal(x.reason, VTD_FR_READ);
	assert_int_equal(rd64(f, IOMMU_FRO_OFFSET + 16 + 8), 0xC000000600000010ULL);
	assert_int_equal(rd64(f, IOMMU_FRO_OFFSET + 16), 0x5000);
	/* TM (bit 62) is reserved without device-TLB support: reason 0xC. */
	hpool_write64(f->pool, l1 + 16, p4k | VTD_SL_R | 1ULL << 62);
	assert_int_equal(iommu_translate(f->m, 0x10, 0x2000, false, &x), -EFAULT);
	assert_int_equal(x.reason, VTD_FR_SL_RSVD);
	/* A leaf table outside memory: reason 7. */
	hpool_write64(f->pool, f->ctx + 0x10 * 16, ((f->pool->size + 0x1000) | VTD_CTX_P));
	inval_all(f);
	assert_int_equal(iommu_translate(f->m, 0x10, 0x1000, false, &x), -EFAULT);
	assert_int_equal(x.reason, VTD_FR_SL_ACCESS);
	assert_int_equal(iommu_get_stats(f->m)->walk_refs, 4 + 3 + 2 + 2 + 4 + 4 + 4);
}

/* DMA page by page; ranges that wrap are refused, one ending at 2^64 - 1 is not. */
static void test_dma(void **state)
{
	struct fix *f = *state;
	struct iommu_xlate x;
	uint64_t p4k, p2m;
	uint8_t buf[8192], out[8192];

	sl_setup(f, &p4k, &p2m);
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	/* Across the 2 MiB page's end into the unmapped range: the first part lands. */
	assert_int_equal(iommu_dma(f->m, 0x10, 0x3ff000, buf, 8192, true, &x), -EFAULT);
	assert_int_equal(x.reason, VTD_FR_WRITE);
	assert_memory_equal(hpool_ptr(f->pool, p2m + 0x1ff000), buf, 4096);
	assert_ok(iommu_dma(f->m, 0x10, 0x200ff0, buf, 100, true, &x));
	assert_ok(iommu_dma(f->m, 0x10, 0x200ff0, out, 100, false, &x));
	assert_memory_equal(out, buf, 100);
	assert_int_equal(iommu_dma(f->m, 0x10, ~0ULL, buf, 2, false, &x), -EINVAL);
	assert_int_equal(iommu_dma(f->m, 0x10, 0, buf, 0, false, &x), -EINVAL);
	assert_int_equal(iommu_dma(f->m, 0x10, ~0ULL, buf, 1, false, &x), -EFAULT);
	assert_int_equal(x.reason, VTD_FR_ADDR_BEYOND);
	/* Pass-through: the bus address is the HPA. */
	set_ctx(f, 0x10, VTD_CTX_P | 2ULL << 2, 0);
	assert_ok(iommu_dma(f->m, 0x10, p4k, out, 16, false, &x));
	assert_int_equal(x.refs, 0);
	assert_int_equal(iommu_get_stats(f->m)->dma_bytes, 4096 + 200 + 16);
}

/* VT-d 6.5: cached translations and contexts are used, stale, until the
 * matching invalidation; other domains' invalidations do not touch them. */
static void test_stale_until_invalidated(void **state)
{
	struct fix *f = *state;
	struct iommu_xlate x;
	uint64_t p4k, p2m, l1, other, q;

	l1 = sl_setup(f, &p4k, &p2m);
	assert_ok(hpool_alloc(f->pool, PAGE_SIZE_4K, FRAME_GUEST, &other));
	assert_ok(iommu_translate(f->m, 0x10, 0x1010, false, &x));
	assert_int_equal(x.refs, 4);
	hpool_write64(f->pool, l1 + 8, other | VTD_SL_R);
	assert_ok(iommu_translate(f->m, 0x10, 0x1020, false, &x));
	assert_int_equal(x.addr, p4k + 0x20);       /* stale IOTLB entry */
	assert_int_equal(x.refs, 0);
	/* Page-selective for another domain, and for another page: no effect. */
	wr64(f, VTD_IVA_REG, 0x1000);
	wr64(f, VTD_IOTLB_REG, VTD_IOTLB_IVT | 3ULL << 60 | 4ULL << 32);
	wr64(f, VTD_IVA_REG, 0x2000);
	wr64(f, VTD_IOTLB_REG, VTD_IOTLB_IVT | 3ULL << 60 | 3ULL << 32);
	assert_ok(iommu_translate(f->m, 0x10, 0x1020, false, &x));
	assert_int_equal(x.addr, p4k + 0x20);
	/* The queue's page-selective descriptor with AM 1 covers 0x0-0x1fff. */
	assert_ok(hpool_alloc(f->pool, PAGE_SIZE_4K, FRAME_HV, &q));
	wr64(f, VTD_IQA_REG, q);
	wr32(f, VTD_GCMD_REG, VTD_GCMD_TE | VTD_GCMD_QIE);
	hpool_write64(f->pool, q, VTD_DESC_IOTLB | 3u << 4 | 3u << 16);
	hpool_write64(f->pool, q + 8, 0x0 | 1);
	wr64(f, VTD_IQT_REG, 1 << 4);
	assert_ok(iommu_translate(f->m, 0x10, 0x1020, false, &x));
	assert_int_equal(x.addr, other + 0x20);
	assert_int_equal(x.refs, 4);
	/* A context entry is stale too: removing it changes nothing until a
	 * device-selective context invalidation (FM 0) for that source id. */
	hpool_write64(f->pool, f->ctx + 0x10 * 16, 0);
	assert_ok(iommu_translate(f->m, 0x10, 0x1020, false, &x));
	hpool_write64(f->pool, q + 16, VTD_DESC_CC | 3u << 4 | 3u << 16 | 0x11ULL << 32);
	hpool_write64(f->pool, q + 32, VTD_DESC_CC | 3u << 4 | 3u << 16 | 0x10ULL << 32);
	wr64(f, VTD_IQT_REG, 2 << 4);
	assert_ok(iommu_translate(f->m, 0x10, 0x1020, false, &x));   /* 0x11 is not 0x10 */
	wr64(f, VTD_IQT_REG, 3 << 4);
	assert_int_equal(iommu_translate(f->m, 0x10, 0x1020, false, &x), -EFAULT);
	assert_int_equal(x.reason, VTD_FR_CTX_NOT_PRESENT);
	assert_int_equal(iommu_get_stats(f->m)->iotlb.hits, 4);
}

/* xorshift64*: a fixed seed, so every run checks the same requests. */
static uint64_t rnd(uint64_t *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545F4914F6CDD1DULL;
}

/* Random second-level tables and requests (with random rewrites and
 * invalidations between them): the walk never crashes, every fault has a
 * second-level reason, and every translation lands in memory the tables
 * were built from (the domain's 4 KiB frames, its 2 MiB run, its 1 GiB run
 * or its own table pages), never anywhere else in the pool. */
/* The fuzz test's steps: 2000000, or HV_TEST_ITERS for a long run
 * (docs/iommu.md). */
static unsigned long fuzz_steps(void)
{
	const char *s = getenv("HV_TEST_ITERS");
	unsigned long v = s && *s ? strtoul(s, NULL, 0) : 0;

	return v ? v : 2000000;
}

static void test_dma_fuzz(void **state)
{
	struct fix *f = *state;
	enum { NT = 8, NF = 8 };
	unsigned long reqs = fuzz_steps();
	uint64_t tab[NT], frm[NF], run2m, run1g, seed = 0x9e3779b97f4a7c15ULL;
	static const uint64_t junk[] = { 0, 1ULL << 62, 1ULL << 49, VTD_SL_SNP, VTD_SL_PS, 1ULL << 8 };
	struct iommu_xlate x;
	unsigned ok = 0, faults = 0;

	for (unsigned i = 0; i < NT; i++)
		assert_ok(hpool_alloc(f->pool, PAGE_SIZE_4K, FRAME_HV, &tab[i]));
	for (unsigned i = 0; i < NF; i++)
		assert_ok(hpool_alloc(f->pool, PAGE_SIZE_4K, FRAME_GUEST, &frm[i]));
	assert_ok(hpool_alloc(f->pool, PAGE_SIZE_2M, FRAME_GUEST, &run2m));
	assert_ok(hpool_alloc(f->pool, PAGE_SIZE_1G, FRAME_GUEST, &run1g));
	set_ctx(f, 0x10, tab[0] | VTD_CTX_P, 2 | 1u << 8);
	enable(f);
	for (unsigned long r = 0; r < reqs; r++) {
		uint64_t v = rnd(&seed);

		if (r % 4 == 0) {
			/* Rewrite one entry near the low indexes of a table. */
			uint64_t t = tab[v % NT], idx = (v >> 8) % 4, e;
			unsigned kind = (v >> 16) % 4;

			e = kind == 0 ? tab[(v >> 20) % NT] : kind == 1 ? frm[(v >> 20) % NF] :
			    kind == 2 ? run2m | VTD_SL_PS : run1g | VTD_SL_PS;
			e |= (v >> 24) & 3;
			e |= junk[(v >> 28) % 6] & ((v >> 31) & 1 ? ~0ULL : 0);
			hpool_write64(f->pool, t + idx * 8, e);
			if ((v >> 40) % 8 == 0)
				inval_all(f);
		} else {
			uint64_t iova = ((v >> 4) & 0x3) << 39 | ((v >> 6) & 3) << 30 |
					((v >> 8) & 3) << 21 | ((v >> 10) & 3) << 12 | (v >> 52);
			bool in = false;

			if ((v & 0xff) == 0)
				iova |= 1ULL << 48;   /* beyond the AGAW */
			if (iommu_translate(f->m, 0x10, iova, (v >> 12) & 1, &x)) {
				assert_true(x.reason == VTD_FR_READ || x.reason == VTD_FR_WRITE ||
					    x.reason == VTD_FR_SL_RSVD || x.reason == VTD_FR_ADDR_BEYOND);
				faults++;
				/* Keep the records flowing. */
				for (unsigned i = 0; i < 8; i++)
					wr64(f, IOMMU_FRO_OFFSET + 16 * i + 8, VTD_FRCD_F);
				wr32(f, VTD_FSTS_REG, VTD_FSTS_PFO);
				continue;
			}
			ok++;
			for (unsigned i = 0; i < NT; i++)
				in |= x.addr >= tab[i] && x.addr < tab[i] + PAGE_SIZE_4K;
			for (unsigned i = 0; i < NF; i++)
				in |= x.addr >= frm[i] && x.addr < frm[i] + PAGE_SIZE_4K;
			in |= x.addr >= run2m && x.addr < run2m + PAGE_SIZE_2M;
			in |= x.addr >= run1g && x.addr < run1g + PAGE_SIZE_1G;
			assert_true(in);
		}
	}
	/* Both outcomes were exercised. */
	assert_true(ok > 1000);
	assert_true(faults > 1000);
}

static void test_create_refuses(void **state)
{
	struct fix *f = *state;
	struct iommu_config cfg;
	struct iommu *m;

	iommu_config_default(&cfg);
	cfg.nfr = 0;
	assert_int_equal(iommu_create(f->pool, &cfg, &m), -EINVAL);
	cfg.nfr = IOMMU_NFR_MAX + 1;
	assert_int_equal(iommu_create(f->pool, &cfg, &m), -EINVAL);
	iommu_config_default(&cfg);
	cfg.agaw39 = cfg.agaw48 = false;
	assert_int_equal(iommu_create(f->pool, &cfg, &m), -EINVAL);
}

/* A guest-visible unit: its physical addresses are guest-physical and a
 * second stage (here: +1 GiB, 4 entries read per lookup, nothing above
 * 1 GiB) gives the HPA of every table entry and of the data. */
#define S2_OFF (1ULL << 30)
static int s2_translate(void *ctx, uint64_t pa, bool write, uint64_t *hpa, unsigned *refs)
{
	(void)ctx; (void)write;
	*refs = 4;
	if (pa >= S2_OFF)
		return -EFAULT;
	*hpa = pa + S2_OFF;
	return 0;
}

static void test_second_stage(void **state)
{
	struct fix *f = *state;
	struct iommu_config cfg;
	struct iommu_xlate x;
	struct iommu *m;
	uint64_t gpa = 0x100000, hpa = gpa + S2_OFF;   /* root, context, 4 tables, data */
	uint8_t out[16];

	/* The pool reservation is sparse: frames at 1 GiB + 1 MiB are plain memory. */
	iommu_config_default(&cfg);
	cfg.mem = (struct iommu_mem){ .translate = s2_translate };
	assert_ok(iommu_create(f->pool, &cfg, &m));
	hpool_write64(f->pool, hpa, (gpa + 0x1000) | VTD_ROOT_P);
	hpool_write64(f->pool, hpa + 0x1000 + 0x10 * 16, (gpa + 0x2000) | VTD_CTX_P);
	hpool_write64(f->pool, hpa + 0x1000 + 0x10 * 16 + 8, 2 | 5u << 8);
	for (unsigned l = 0; l < 3; l++)
		hpool_write64(f->pool, hpa + 0x2000 + l * 0x1000, (gpa + 0x3000 + l * 0x1000) | 3);
	hpool_write64(f->pool, hpa + 0x5000 + 8, (gpa + 0x6000) | 3);      /* IOVA 0x1000 */
	hpool_write64(f->pool, hpa + 0x5000 + 16, (S2_OFF + 0x6000) | 3);  /* IOVA 0x2000: no GPA */
	memcpy(hpool_ptr(f->pool, hpa + 0x6000), "second stage!!!", 16);
	iommu_reg_write(m, VTD_RTADDR_REG, 8, gpa);
	iommu_reg_write(m, VTD_GCMD_REG, 4, VTD_GCMD_SRTP);
	iommu_reg_write(m, VTD_GCMD_REG, 4, VTD_GCMD_TE);
	/* 4 second-level references, each table entry's GPA through the
	 * second stage (4 x 4), then the data's (4): the 2D walk's shape. */
	assert_ok(iommu_dma(m, 0x10, 0x1000, out, 16, false, &x));
	assert_memory_equal(out, "second stage!!!", 16);
	assert_int_equal(x.refs, 4);
	assert_int_equal(x.refs2, 4 * 4 + 4);
	assert_int_equal(x.addr, gpa + 0x6000);
	/* Root and context entries come first, 16 bytes each read as two
	 * quadwords (the high one is checked for reserved bits). */
	assert_int_equal(iommu_get_stats(m)->stage2_lookups, 2 + 2 + 4 + 1);
	assert_int_equal(iommu_get_stats(m)->stage2_refs, (2 + 2 + 4 + 1) * 4);
	/* An output GPA with nothing behind it aborts the request, no fault. */
	assert_int_equal(iommu_dma(m, 0x10, 0x2000, out, 16, false, &x), -EFAULT);
	assert_int_equal(x.reason, 0);
	assert_int_equal(iommu_get_stats(m)->faults, 0);
	iommu_destroy(m);
}

/* iommu_explain: the same decisions as a DMA, entry by entry, and no trace
 * of it afterwards (no record, no cache fill, no count). */
static void test_explain(void **state)
{
	struct fix *f = *state;
	struct iommu_trace t;
	struct iommu_xlate x;
	uint64_t p4k, p2m;
	struct iommu_stats before;

	sl_setup(f, &p4k, &p2m);
	before = *iommu_get_stats(f->m);
	iommu_explain(f->m, 0x10, 0x1abc, false, &t);
	assert_int_equal(t.reason, 0);
	assert_int_equal(t.addr, p4k + 0xabc);
	assert_int_equal(t.sl.n, 4);
	assert_int_equal(t.sl.ref[3].value, p4k | VTD_SL_R);
	assert_int_equal(t.root_addr, f->root);
	assert_int_equal(t.ctx_addr, f->ctx + 0x10 * 16);
	assert_int_equal(t.ctx.did, 3);
	/* Write to the read-only page: the record it would fill. */
	iommu_explain(f->m, 0x10, 0x1008, true, &t);
	assert_int_equal(t.reason, VTD_FR_WRITE);
	assert_int_equal(t.frcd_hi, 0x8000000500000010ULL);
	assert_int_equal(t.frcd_lo, 0x1000);
	/* No context entry for 0x11: reason 2, no walk. */
	iommu_explain(f->m, 0x11, 0x1000, false, &t);
	assert_int_equal(t.reason, VTD_FR_CTX_NOT_PRESENT);
	assert_false(t.walked);
	assert_int_equal(iommu_get_stats(f->m)->faults, before.faults);
	assert_int_equal(iommu_get_stats(f->m)->translations, before.translations);
	assert_int_equal(iommu_get_stats(f->m)->iotlb.misses, before.iotlb.misses);
	assert_int_equal(rd32(f, VTD_FSTS_REG), 0);
	/* The IOTLB was not filled: the first real DMA still misses. */
	assert_ok(iommu_translate(f->m, 0x10, 0x1abc, false, &x));
	assert_int_equal(x.refs, 4);
}


/* hv as the driver: its own second-level tables (iommu_sl) with the largest
 * pages that fit, and iommu_attach's root and context entries. */
static void test_attach_own_tables(void **state)
{
	struct fix *f = *state;
	struct iommu_sl sl;
	struct iommu_xlate x;
	uint64_t big, small, ctx_hi, root;

	assert_ok(hpool_alloc(f->pool, PAGE_SIZE_2M, FRAME_GUEST, &big));
	assert_ok(hpool_alloc(f->pool, PAGE_SIZE_4K, FRAME_GUEST, &small));
	assert_ok(iommu_sl_create(f->pool, 4, &sl));
	/* 2 MiB at IOVA 2 MiB: one SL-PDE with PS; then 4 KiB at 0x1000 under
	 * the same SL-PDPE: 3 pages, then 4. */
	assert_ok(iommu_sl_map(&sl, 0x200000, big, PAGE_SIZE_2M, VTD_SL_R | VTD_SL_W, 21));
	assert_int_equal(sl.tables, 3);
	assert_ok(iommu_sl_map(&sl, 0x1000, small, PAGE_SIZE_4K, VTD_SL_R, 30));
	assert_int_equal(sl.tables, 4);
	/* Refused: misaligned, beyond 48 bits, other bits, into a large page. */
	assert_int_equal(iommu_sl_map(&sl, 0x1800, small, PAGE_SIZE_4K, VTD_SL_R, 12), -EINVAL);
	assert_int_equal(iommu_sl_map(&sl, 1ULL << 48, small, PAGE_SIZE_4K, VTD_SL_R, 12), -EINVAL);
	assert_int_equal(iommu_sl_map(&sl, 0x3000, small, PAGE_SIZE_4K, VTD_SL_SNP, 12), -EINVAL);
	assert_int_equal(iommu_sl_map(&sl, 0x201000, small, PAGE_SIZE_4K, VTD_SL_R, 12), -EEXIST);

	assert_ok(iommu_attach(f->m, 0x0018, 7, sl.top, 4));
	assert_int_equal(rd32(f, VTD_GSTS_REG), VTD_GSTS_TES | VTD_GSTS_RTPS);
	root = rd64(f, VTD_RTADDR_REG);
	assert_int_not_equal(root, 0);
	/* Context entry of devfn 0x18: present + SLPTPTR; AW 2, domain 7. */
	uint64_t ctx = hpool_read64(f->pool, root) & VTD_ROOT_CTP_MASK;
	assert_int_equal(hpool_read64(f->pool, root) & ~VTD_ROOT_CTP_MASK, VTD_ROOT_P);
	assert_int_equal(hpool_read64(f->pool, ctx + 0x18 * 16), sl.top | VTD_CTX_P);
	ctx_hi = hpool_read64(f->pool, ctx + 0x18 * 16 + 8);
	assert_int_equal(ctx_hi, 0x702);

	assert_ok(iommu_translate(f->m, 0x18, 0x212345, true, &x));
	assert_int_equal(x.addr, big + 0x12345);
	assert_int_equal(x.refs, 3);
	assert_int_equal(x.shift, 21);
	assert_int_equal(x.did, 7);
	assert_ok(iommu_translate(f->m, 0x18, 0x1008, false, &x));
	assert_int_equal(x.addr, small + 8);
	assert_int_equal(x.refs, 4);
	/* Read-only page written, and an IOVA nothing maps. */
	assert_int_equal(iommu_translate(f->m, 0x18, 0x1008, true, &x), -EFAULT);
	assert_int_equal(x.reason, VTD_FR_WRITE);
	assert_int_equal(rd64(f, IOMMU_FRO_OFFSET + 8), 0x8000000500000018ULL);
	assert_int_equal(iommu_translate(f->m, 0x18, 0x40000000, false, &x), -EFAULT);
	assert_int_equal(x.reason, VTD_FR_READ);
	assert_int_equal(rd64(f, IOMMU_FRO_OFFSET + 16 + 8), 0xC000000600000018ULL);
	assert_int_equal(rd64(f, IOMMU_FRO_OFFSET + 16), 0x40000000);
	/* Another device has no context entry. */
	assert_int_equal(iommu_translate(f->m, 0x20, 0x1000, false, &x), -EFAULT);
	assert_int_equal(x.reason, VTD_FR_CTX_NOT_PRESENT);
	iommu_sl_destroy(&sl);
	assert_int_equal(sl.tables, 0);
}

/* iommu_config.written: each piece of a DMA write the unit let through, by
 * IOVA, page by page; reads and refused writes are not reported. */
struct written_log {
	unsigned n;
	uint64_t iova[4], len[4];
};

static void on_written(void *ctx, uint64_t iova, uint64_t len)
{
	struct written_log *w = ctx;

	if (w->n < 4) {
		w->iova[w->n] = iova;
		w->len[w->n] = len;
	}
	w->n++;
}

static void test_written(void **state)
{
	struct fix *f = *state;
	struct written_log w = { 0 };
	struct iommu_config cfg;
	struct iommu_xlate x;
	struct iommu_sl sl;
	struct iommu *m;
	uint64_t rw, rw2, ro;
	uint8_t buf[16] = "sixteen bytes!!";

	iommu_config_default(&cfg);
	cfg.written = on_written;
	cfg.written_ctx = &w;
	assert_ok(iommu_create(f->pool, &cfg, &m));
	assert_ok(hpool_alloc(f->pool, PAGE_SIZE_4K, FRAME_GUEST, &rw));
	assert_ok(hpool_alloc(f->pool, PAGE_SIZE_4K, FRAME_GUEST, &rw2));
	assert_ok(hpool_alloc(f->pool, PAGE_SIZE_4K, FRAME_GUEST, &ro));
	assert_ok(iommu_sl_create(f->pool, 4, &sl));
	assert_ok(iommu_sl_map(&sl, 0x1000, rw, PAGE_SIZE_4K, VTD_SL_R | VTD_SL_W, 12));
	assert_ok(iommu_sl_map(&sl, 0x2000, rw2, PAGE_SIZE_4K, VTD_SL_R | VTD_SL_W, 12));
	assert_ok(iommu_sl_map(&sl, 0x3000, ro, PAGE_SIZE_4K, VTD_SL_R, 12));
	assert_ok(iommu_attach(m, 0x18, 1, sl.top, 4));
	/* A write across a page boundary: two pieces. */
	assert_ok(iommu_dma(m, 0x18, 0x1ff8, buf, 16, true, &x));
	assert_int_equal(w.n, 2);
	assert_int_equal(w.iova[0], 0x1ff8);
	assert_int_equal(w.len[0], 8);
	assert_int_equal(w.iova[1], 0x2000);
	assert_int_equal(w.len[1], 8);
	assert_memory_equal(hpool_ptr(f->pool, rw + 0xff8), buf, 8);
	assert_memory_equal(hpool_ptr(f->pool, rw2), buf + 8, 8);
	/* A read is not reported. */
	assert_ok(iommu_dma(m, 0x18, 0x1ff8, buf, 16, false, &x));
	assert_int_equal(w.n, 2);
	/* A write that runs into the read-only page: the first piece arrived
	 * (and is reported), the second is refused with reason 5. */
	assert_int_equal(iommu_dma(m, 0x18, 0x2ff8, buf, 16, true, &x), -EFAULT);
	assert_int_equal(x.reason, VTD_FR_WRITE);
	assert_int_equal(w.n, 3);
	assert_int_equal(w.iova[2], 0x2ff8);
	assert_int_equal(w.len[2], 8);
	iommu_sl_destroy(&sl);
	iommu_destroy(m);
}

/* Shared tables: the unit walks an EPT hierarchy as its second level. R, W,
 * PS and the address line up; X, the memory type and A/D are ignored; an
 * execute-only page is not readable by a device. */
static void test_attach_ept_tables(void **state)
{
	struct fix *f = *state;
	const struct ept_caps caps = { .exec_only = true, .page_1g = true };
	struct ept *ept;
	struct iommu_xlate x;
	uint64_t ram, code, hpa, perms;
	unsigned shift;

	assert_ok(ept_create(f->pool, 4, true, &caps, &ept));
	assert_ok(hpool_alloc(f->pool, PAGE_SIZE_2M, FRAME_GUEST, &ram));
	assert_ok(hpool_alloc(f->pool, PAGE_SIZE_4K, FRAME_GUEST, &code));
	assert_ok(ept_map(ept, 0x400000, ram, PAGE_SIZE_2M,
			  EPT_RWX | (uint64_t)EPT_MT_WB << EPT_MT_SHIFT | EPT_IPAT, PAGE_SIZE_2M));
	assert_ok(ept_map(ept, 0x1000, code, PAGE_SIZE_4K,
			  EPT_X | (uint64_t)EPT_MT_WB << EPT_MT_SHIFT, PAGE_SIZE_4K));
	assert_ok(iommu_attach(f->m, 0x0018, 1, ept->root, 4));
	assert_ok(ept_lookup(ept, 0x4abcde, &hpa, &shift, &perms));
	assert_ok(iommu_translate(f->m, 0x18, 0x4abcde, true, &x));
	assert_int_equal(x.addr, hpa);
	assert_int_equal(x.shift, shift);
	assert_int_equal(x.refs, 3);
	assert_int_equal(iommu_translate(f->m, 0x18, 0x1000, false, &x), -EFAULT);
	assert_int_equal(x.reason, VTD_FR_READ);
	assert_int_equal(x.refs, 4);
	ept_destroy(ept);
}

static int setup2(void **state) { return setup_nfr(state, 2); }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cap_ecap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gcmd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_record_bits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_overflow, setup2, teardown),
		cmocka_unit_test_setup_teardown(test_fault_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_context_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_invalidation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queued_invalidation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sl_walk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_until_invalidated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma_fuzz, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_stage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_explain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_own_tables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_ept_tables, setup, teardown),
		cmocka_unit_test_setup_teardown(test_written, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
