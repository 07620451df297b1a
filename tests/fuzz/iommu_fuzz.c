/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/iommu_fuzz.c - libFuzzer harness for the VT-d model's DMA path
 * (iommu/): random root, context and second-level tables, register
 * programming, queued invalidation and requests, in any order.
 *
 * Every input starts from a new unit and a zeroed pool (the anonymous
 * mapping is dropped, so each input runs alone): a root page, two
 * context pages, eight table pages, eight 4 KiB data frames, one 2 MiB and
 * one 1 GiB run, and a queue page. 12-byte records then
 *   - write a 64-bit entry into one of those pages: the address of one of the
 *     pages or runs with random bits 0-3 and 7-11 (R, W, X, PS, snoop; in a
 *     context entry TT, AW and part of the domain id) and, sometimes, a bit
 *     above the host address width or TM;
 *   - write a register (RTADDR is pointed at one of the pages, IQA at the
 *     queue page; every other register takes the raw value);
 *   - translate an address for a source id, reading or writing;
 *   - make a DMA of up to 64 bytes through iommu_dma.
 * Queue descriptors are entries too, so the queue holds context, IOTLB and
 * unsupported invalidations of every granularity. No value has type 5 in
 * bits 3:0, so no wait descriptor writes a status word, and every value in
 * memory is an entry() (a DMA writes entries too).
 *
 * Invariants: a refused translation carries a defined fault reason
 * (VT-d 7.1.3, 1 to 0xD); a translation that succeeds ends in one of the
 * pages the tables were built from, or at the address itself (translation
 * off, or a pass-through context), never anywhere else in the pool; a DMA
 * ends in 0, -EFAULT or -EINVAL. AddressSanitizer checks every access.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ept/ept.h"
#include "ept/hpool.h"
#include "iommu/iommu.h"
#include "tests/fuzz/input.h"

#define POOL_SIZE (4ULL << 30)
enum { NCTX = 2, NTAB = 8, NFRM = 8, NPAGE = 1 + NCTX + NTAB + NFRM + 1 };

static struct hpool *pool;
/* The 4 KiB pages: root, contexts, tables, frames, queue (that order). */
static uint64_t page[NPAGE], run2m, run1g;

static void setup(void)
{
	if (hpool_create(POOL_SIZE, &pool) != 0)
		abort();
	for (unsigned i = 0; i < NPAGE; i++)
		if (hpool_alloc(pool, PAGE_SIZE_4K, i < 1 + NCTX + NTAB ? FRAME_HV : FRAME_GUEST,
				&page[i]) != 0)
			abort();
	if (hpool_alloc(pool, PAGE_SIZE_2M, FRAME_GUEST, &run2m) != 0 ||
	    hpool_alloc(pool, PAGE_SIZE_1G, FRAME_GUEST, &run1g) != 0)
		abort();
}

/* Where a successful translation may end. */
static int in_domain(uint64_t a)
{
	for (unsigned i = 0; i < NPAGE; i++)
		if (a >= page[i] && a < page[i] + PAGE_SIZE_4K)
			return 1;
	return (a >= run2m && a < run2m + PAGE_SIZE_2M) ||
	       (a >= run1g && a < run1g + PAGE_SIZE_1G);
}

/* An entry: one of the pages (or a run, as a large page) with random bits
 * 0-3 and 7-11 and, sometimes, a bit above the host address width or TM. */
static uint64_t entry(uint64_t v)
{
	static const uint64_t high[] = { 0, 1ULL << 62, 1ULL << 49, 1ULL << 52 };
	unsigned k = v % (NPAGE + 2);
	uint64_t e = k < NPAGE ? page[k] : k == NPAGE ? run2m : run1g;

	e |= (v >> 8) & 0xf8f;
	if ((e & 0xf) == 5)
		e ^= 4;   /* not a wait descriptor (which would write memory) */
	e |= high[(v >> 20) % 4];
	return e;
}

static const uint16_t regs[] = {
	VTD_GCMD_REG, VTD_RTADDR_REG, VTD_CCMD_REG, VTD_FSTS_REG, VTD_FECTL_REG,
	VTD_FEDATA_REG, VTD_FEADDR_REG, VTD_IQT_REG, VTD_IQA_REG, VTD_ICS_REG,
	VTD_IECTL_REG, VTD_IVA_REG, VTD_IOTLB_REG, IOMMU_FRO_OFFSET + 8,
	IOMMU_FRO_OFFSET + 16 + 8, VTD_CAP_REG, VTD_GSTS_REG,
};

static void record(struct iommu *m, const uint8_t *r)
{
	uint8_t op = r[0], sel = r[1], sel2 = r[2];
	uint64_t v = fuzz_u64(r + 4);
	struct iommu_xlate x;

	switch (op % 6) {
	case 0:      /* an entry in a table, context or the queue */
	case 1:
		hpool_write64(pool, page[sel % NPAGE] + (uint64_t)(sel2 % 32) * 8, entry(v));
		break;
	case 2: {    /* a register */
		uint16_t off = regs[sel % (sizeof(regs) / sizeof(regs[0]))];
		unsigned size = r[3] & 1 ? 4 : 8;

		if (off == VTD_RTADDR_REG)
			v = page[(v >> 3) % NPAGE] | (v & 0xc00);
		else if (off == VTD_IQA_REG)
			v = page[NPAGE - 1] | (v & 0x800);   /* QS 0, DW 0 or 1 */
		iommu_reg_write(m, off + (size == 4 && (r[3] & 2) ? 4 : 0), size, v);
		break;
	}
	case 3:      /* a translation */
	case 4: {
		uint16_t sid = (uint16_t)(sel << 8 | sel2) & 0x00ff;   /* bus 0 */
		uint64_t iova = v & ((r[3] & 1) ? 0x0000ffffffffffffULL : 0x00000003c0ffffffULL);

		if (iommu_translate(m, sid, iova, r[3] & 2, &x) != 0) {
			if (x.reason < 1 || x.reason > VTD_FR_MAX)
				abort();
		} else if (x.addr != iova && !in_domain(x.addr)) {
			abort();
		}
		break;
	}
	default: {   /* a DMA of up to 64 bytes, its data entries */
		uint64_t buf[8];
		unsigned len = 8 * (1 + sel2 % 8);
		uint16_t sid = sel & 0xff;
		int rc;

		for (unsigned i = 0; i < 8; i++)
			buf[i] = entry(v >> i);
		rc = iommu_dma(m, sid, v & 0x00000003c0fffff8ULL, buf, len, r[3] & 1, &x);
		if (rc != 0 && rc != -EFAULT && rc != -EINVAL)
			abort();
		break;
	}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iommu_config cfg;
	struct iommu *m;

	if (!pool)
		setup();
	if (madvise(hpool_ptr(pool, 0), POOL_SIZE, MADV_DONTNEED) != 0)
		abort();
	iommu_config_default(&cfg);
	if (iommu_create(pool, &cfg, &m) != 0)
		abort();
	for (size_t at = 0; at + 12 <= size; at += 12)
		record(m, data + at);
	iommu_destroy(m);
	return 0;
}
