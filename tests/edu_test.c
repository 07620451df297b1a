/* SPDX-License-Identifier: MIT */
/* tests/edu_test.c - QEMU's edu device (hv/edu.h) on the PCI bus and the MMIO
 * bus, with its DMA through a VT-d unit: register values as QEMU's
 * docs/specs/edu.rst fixes them, and the fault record of every refused DMA. */
#include <errno.h>
#include <string.h>

#include "tests/testutil.h"
#include "hv/edu.h"
#include "iommu/iommu.h"

#define SID 0x18   /* 00:03.0 */

struct fix {
	struct hpool *pool;
	struct iommu *m;
	struct pci_host pci;
	struct dev_bus bus;
	struct edu edu;
	uint64_t root, ctx, l4, l3, l2, l1;
	uint64_t page_rw, page_ro;       /* HPAs behind IOVA 0x1000 (RW) and 0x2000 (R) */
	unsigned msis;
	uint64_t msi_addr;
	uint32_t msi_data;
};

static int dma_path(void *ctx, uint16_t sid, uint64_t addr, void *buf, uint64_t len, bool write,
		    unsigned *reason)
{
	struct fix *f = ctx;
	struct iommu_xlate x;
	int rc = iommu_dma(f->m, sid, addr, buf, len, write, &x);

	*reason = rc == -EFAULT ? x.reason : 0;
	return rc;
}

static void on_msi(void *ctx, uint64_t addr, uint32_t data)
{
	struct fix *f = ctx;

	f->msis++;
	f->msi_addr = addr;
	f->msi_data = data;
}

static uint64_t page(struct fix *f, enum frame_owner owner)
{
	uint64_t hpa;

	assert_ok(hpool_alloc(f->pool, PAGE_SIZE_4K, owner, &hpa));
	return hpa;
}

/* Domain 1 for 00:03.0, 4-level tables: IOVA 0x1000 RW, 0x2000 read-only,
 * nothing else. Translation is left off; enable() turns it on. */
static int setup(void **state)
{
	static struct fix f;
	struct iommu_config cfg;

	memset(&f, 0, sizeof(f));
	iommu_config_default(&cfg);
	if (hpool_create(1ULL << 30, &f.pool) || iommu_create(f.pool, &cfg, &f.m))
		return -1;
	f.root = page(&f, FRAME_HV);
	f.ctx = page(&f, FRAME_HV);
	f.l4 = page(&f, FRAME_HV);
	f.l3 = page(&f, FRAME_HV);
	f.l2 = page(&f, FRAME_HV);
	f.l1 = page(&f, FRAME_HV);
	f.page_rw = page(&f, FRAME_GUEST);
	f.page_ro = page(&f, FRAME_GUEST);
	hpool_write64(f.pool, f.root, f.ctx | VTD_ROOT_P);
	hpool_write64(f.pool, f.ctx + SID * 16, f.l4 | VTD_CTX_P);
	hpool_write64(f.pool, f.ctx + SID * 16 + 8, 2 | 1u << VTD_CTX_DID_SHIFT);
	hpool_write64(f.pool, f.l4, f.l3 | VTD_SL_R | VTD_SL_W);
	hpool_write64(f.pool, f.l3, f.l2 | VTD_SL_R | VTD_SL_W);
	hpool_write64(f.pool, f.l2, f.l1 | VTD_SL_R | VTD_SL_W);
	hpool_write64(f.pool, f.l1 + 8, f.page_rw | VTD_SL_R | VTD_SL_W);
	hpool_write64(f.pool, f.l1 + 16, f.page_ro | VTD_SL_R);

	pci_host_init(&f.pci);
	edu_init(&f.edu, 3, EDU_BAR_BASE, dma_path, on_msi, &f);
	if (pci_register(&f.pci, 3, 0, &f.edu.fn) ||
	    dev_bus_add(&f.bus, &edu_mmio_ops, EDU_BAR_BASE, &f.edu, NULL))
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	iommu_destroy(f->m);
	hpool_destroy(f->pool);
	return 0;
}

static void enable(struct fix *f)
{
	iommu_reg_write(f->m, VTD_RTADDR_REG, 8, f->root);
	iommu_reg_write(f->m, VTD_GCMD_REG, 4, VTD_GCMD_SRTP);
	iommu_reg_write(f->m, VTD_GCMD_REG, 4, VTD_GCMD_TE);
}

static uint64_t rd(struct fix *f, uint64_t off, unsigned size)
{
	struct device *d = dev_bus_find(&f->bus, DEV_MMIO, EDU_BAR_BASE + off, size);

	assert_non_null(d);
	return d->ops->read(d, off, size);
}

static void wr(struct fix *f, uint64_t off, unsigned size, uint64_t v)
{
	struct device *d = dev_bus_find(&f->bus, DEV_MMIO, EDU_BAR_BASE + off, size);

	assert_non_null(d);
	d->ops->write(d, off, size, v);
}

static uint32_t cfg_rd(struct fix *f, unsigned off, unsigned size)
{
	return pci_config_read(&f->pci, 0, SID, off, size);
}

static void cfg_wr(struct fix *f, unsigned off, unsigned size, uint32_t v)
{
	pci_config_write(&f->pci, 0, SID, off, size, v);
}

static void bus_master(struct fix *f)
{
	cfg_wr(f, PCI_COMMAND, 2, PCI_CMD_MEM | PCI_CMD_MASTER);
}

/* Program and start one transfer. */
static void dma(struct fix *f, uint64_t src, uint64_t dst, uint64_t cnt, uint64_t cmd)
{
	wr(f, EDU_DMA_SRC, 8, src);
	wr(f, EDU_DMA_DST, 8, dst);
	wr(f, EDU_DMA_CNT, 8, cnt);
	wr(f, EDU_DMA_CMD, 8, cmd);
}

/* edu.rst "PCI specs" and QEMU's class/revision; PCI 3.0 6.2.5.1 BAR sizing. */
static void test_config_space(void **state)
{
	struct fix *f = *state;

	assert_int_equal(cfg_rd(f, PCI_VENDOR_ID, 4), 0x11e81234);
	assert_int_equal(cfg_rd(f, PCI_REVISION, 4), 0x00ff0010);   /* class 00ff, rev 0x10 */
	assert_int_equal(cfg_rd(f, PCI_COMMAND, 4), 0x00100002);    /* caps list; memory on */
	assert_int_equal(cfg_rd(f, PCI_BAR0, 4), 0xfea00000);
	assert_int_equal(cfg_rd(f, PCI_INT_PIN, 1), 1);
	assert_int_equal(cfg_rd(f, PCI_CAP_PTR, 1), 0x40);
	assert_int_equal(cfg_rd(f, EDU_MSI_CAP, 4), 0x00800005);    /* MSI, last, 64-bit */
	/* Read-only identity. */
	cfg_wr(f, PCI_VENDOR_ID, 4, 0);
	assert_int_equal(cfg_rd(f, PCI_VENDOR_ID, 4), 0x11e81234);
	/* Sizing: all-ones reads back the 1 MiB mask; the device does not
	 * answer at its old address meanwhile; restoring brings it back. */
	cfg_wr(f, PCI_BAR0, 4, 0xffffffff);
	assert_int_equal(cfg_rd(f, PCI_BAR0, 4), 0xfff00000);
	assert_int_equal(rd(f, EDU_ID, 4), 0xffffffff);
	cfg_wr(f, PCI_BAR0, 4, 0xfea00000);
	assert_int_equal(rd(f, EDU_ID, 4), EDU_ID_VALUE);
	/* Memory decoding off: nothing answers. */
	cfg_wr(f, PCI_COMMAND, 2, 0);
	assert_int_equal(rd(f, EDU_ID, 4), 0xffffffff);
	/* A reset restores what firmware set. */
	f->edu.fn.ops->reset(&f->edu.fn);
	assert_int_equal(rd(f, EDU_ID, 4), EDU_ID_VALUE);
}

/* edu.rst "MMIO area spec": identification, liveness, factorial, sizes. */
static void test_registers(void **state)
{
	struct fix *f = *state;

	assert_int_equal(rd(f, EDU_ID, 4), 0x010000ed);
	wr(f, EDU_LIVENESS, 4, 0x12345678);
	assert_int_equal(rd(f, EDU_LIVENESS, 4), 0xedcba987);
	wr(f, EDU_FACTORIAL, 4, 10);
	assert_int_equal(rd(f, EDU_STATUS, 4) & EDU_STATUS_COMPUTING, 0);
	assert_int_equal(rd(f, EDU_FACTORIAL, 4), 3628800);
	wr(f, EDU_FACTORIAL, 4, 13);                  /* 13! = 6227020800, mod 2^32 */
	assert_int_equal(rd(f, EDU_FACTORIAL, 4), 0x7328cc00);
	/* Below 0x80 only 4-byte accesses; unknown offsets read all-ones. */
	assert_int_equal(rd(f, EDU_ID, 8), ~0ULL);
	assert_int_equal(rd(f, EDU_ID, 2), 0xffff);
	assert_int_equal(rd(f, 0x10, 4), 0xffffffff);
	wr(f, EDU_LIVENESS, 2, 0);
	assert_int_equal(rd(f, EDU_LIVENESS, 4), 0xedcba987);
	/* DMA registers: 8 bytes, or 4 (zero-extended); 0x84 is nothing. */
	wr(f, EDU_DMA_SRC, 8, 0x123456789abcdef0ULL);
	assert_int_equal(rd(f, EDU_DMA_SRC, 8), 0x123456789abcdef0ULL);
	assert_int_equal(rd(f, EDU_DMA_SRC, 4), 0x9abcdef0);
	wr(f, EDU_DMA_SRC, 4, 0x1000);
	assert_int_equal(rd(f, EDU_DMA_SRC, 8), 0x1000);
	assert_int_equal(rd(f, EDU_DMA_SRC + 4, 4), 0xffffffff);
	assert_int_equal(rd(f, EDU_DMA_CNT, 2), 0xffff);
	/* The status register keeps only the interrupt-enable bit. */
	wr(f, EDU_STATUS, 4, 0xffffffff);
	assert_int_equal(rd(f, EDU_STATUS, 4), EDU_STATUS_IRQFACT);
}

/* edu.rst "IRQ controller": raise ORs, acknowledge clears; INTx while MSI is
 * off, one MSI per raise when it is on (and bus mastering is on). */
static void test_interrupts(void **state)
{
	struct fix *f = *state;

	wr(f, EDU_IRQ_RAISE, 4, 0x5);
	assert_int_equal(rd(f, EDU_IRQ_STATUS, 4), 0x5);
	assert_true(f->edu.intx);
	wr(f, EDU_IRQ_ACK, 4, 0x4);
	assert_int_equal(rd(f, EDU_IRQ_STATUS, 4), 0x1);
	assert_true(f->edu.intx);
	wr(f, EDU_IRQ_ACK, 4, 0x1);
	assert_int_equal(rd(f, EDU_IRQ_STATUS, 4), 0);
	assert_false(f->edu.intx);
	/* Factorial with the interrupt bit: status 0x1. */
	wr(f, EDU_STATUS, 4, EDU_STATUS_IRQFACT);
	wr(f, EDU_FACTORIAL, 4, 5);
	assert_int_equal(rd(f, EDU_FACTORIAL, 4), 120);
	assert_int_equal(rd(f, EDU_IRQ_STATUS, 4), EDU_IRQ_FACT);
	wr(f, EDU_IRQ_ACK, 4, EDU_IRQ_FACT);
	assert_int_equal(f->msis, 0);
	/* MSI on: address and data as programmed. */
	cfg_wr(f, EDU_MSI_CAP + 4, 4, 0xfee00000);
	cfg_wr(f, EDU_MSI_CAP + 8, 4, 0);
	cfg_wr(f, EDU_MSI_CAP + 12, 2, 0x41);
	cfg_wr(f, EDU_MSI_CAP + 2, 2, PCI_MSI_CTRL_EN);
	assert_int_equal(cfg_rd(f, EDU_MSI_CAP + 2, 2), PCI_MSI_CTRL_EN | PCI_MSI_CTRL_64);
	wr(f, EDU_IRQ_RAISE, 4, 0x2);
	assert_int_equal(f->msis, 0);                 /* no bus mastering, no write */
	bus_master(f);
	wr(f, EDU_IRQ_RAISE, 4, 0x2);
	assert_int_equal(f->msis, 1);
	assert_int_equal(f->msi_addr, 0xfee00000);
	assert_int_equal(f->msi_data, 0x41);
	assert_false(f->edu.intx);
	assert_int_equal(f->edu.st.irqs, 4);
}

/* edu.rst "DMA controller" through VT-d: what the domain maps moves, what it
 * does not is refused with its fault record (VT-d 7.3, 11.4.14) and nothing
 * reaches memory. */
static void test_dma_through_iommu(void **state)
{
	struct fix *f = *state;
	uint8_t *rw = hpool_ptr(f->pool, f->page_rw), *ro = hpool_ptr(f->pool, f->page_ro);

	enable(f);
	bus_master(f);
	for (unsigned i = 0; i < 100; i++)
		rw[i] = (uint8_t)(i * 3 + 1);
	/* RAM to device: IOVA 0x1000 into the buffer at 0x40000. */
	dma(f, 0x1000, EDU_BUF_ADDR, 100, EDU_CMD_START);
	assert_int_equal(rd(f, EDU_DMA_CMD, 8), 0);          /* start bit clear: done */
	assert_memory_equal(f->edu.buf, rw, 100);
	/* Device to RAM: back to IOVA 0x1000 + 100, with the DMA interrupt. */
	dma(f, EDU_BUF_ADDR, 0x1000 + 100, 100, EDU_CMD_START | EDU_CMD_TO_RAM | EDU_CMD_IRQ);
	assert_memory_equal(rw + 100, rw, 100);
	assert_int_equal(rd(f, EDU_IRQ_STATUS, 4), EDU_IRQ_DMA);
	assert_int_equal(rd(f, EDU_DMA_CMD, 8), EDU_CMD_TO_RAM | EDU_CMD_IRQ);
	assert_int_equal(f->edu.st.dma_bytes, 200);

	/* Write to the read-only IOVA 0x2000: reason 5, T = 0 (write). */
	dma(f, EDU_BUF_ADDR, 0x2000, 16, EDU_CMD_START | EDU_CMD_TO_RAM);
	assert_int_equal(f->edu.st.dma_faults, 1);
	assert_int_equal(f->edu.st.last_reason, VTD_FR_WRITE);
	assert_int_equal(iommu_reg_read(f->m, IOMMU_FRO_OFFSET + 8, 8), 0x8000000500000018ULL);
	assert_int_equal(iommu_reg_read(f->m, IOMMU_FRO_OFFSET, 8), 0x2000);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(ro[i], 0);
	/* Read from an IOVA the domain does not map: reason 6, T = 1 (read);
	 * the buffer keeps what it held. */
	dma(f, 0x7000, EDU_BUF_ADDR, 100, EDU_CMD_START);
	assert_int_equal(f->edu.st.last_reason, VTD_FR_READ);
	assert_int_equal(iommu_reg_read(f->m, IOMMU_FRO_OFFSET + 16 + 8, 8), 0xC000000600000018ULL);
	assert_int_equal(iommu_reg_read(f->m, IOMMU_FRO_OFFSET + 16, 8), 0x7000);
	assert_memory_equal(f->edu.buf, rw, 100);
	/* FSTS: primary pending fault, FRI 0. */
	assert_int_equal(iommu_reg_read(f->m, VTD_FSTS_REG, 4), VTD_FSTS_PPF);
	/* A source id with no context entry: reason 2 for 00:04.0's requests. */
	{
		struct iommu_xlate x;
		uint8_t b;

		assert_int_equal(iommu_dma(f->m, 0x20, 0x1000, &b, 1, false, &x), -EFAULT);
		assert_int_equal(x.reason, VTD_FR_CTX_NOT_PRESENT);
	}
	/* hv's log keeps them even after software clears the records. */
	iommu_reg_write(f->m, IOMMU_FRO_OFFSET + 12, 4, VTD_FRCD_F >> 32);
	assert_int_equal(iommu_reg_read(f->m, IOMMU_FRO_OFFSET + 8, 8), 0x0000000500000018ULL);
	{
		struct iommu_fault l;

		assert_true(iommu_fault_log(f->m, 0, &l));
		assert_int_equal(l.reason, VTD_FR_WRITE);
		assert_int_equal(l.sid, SID);
		assert_int_equal(l.addr, 0x2000);
		assert_false(l.read);
		assert_true(l.recorded);
		assert_true(iommu_fault_log(f->m, 2, &l));
		assert_int_equal(l.reason, VTD_FR_CTX_NOT_PRESENT);
		assert_false(iommu_fault_log(f->m, 3, &l));
	}
	assert_int_equal(f->edu.st.dma, 4);
	assert_int_equal(f->edu.st.dma_faults, 2);
	assert_int_equal(iommu_get_stats(f->m)->by_reason[VTD_FR_WRITE], 1);
	assert_int_equal(iommu_get_stats(f->m)->by_reason[VTD_FR_READ], 1);
}

/* Transfers the device itself refuses: bus mastering off, the buffer side
 * outside the 4 KiB buffer, a count of zero; addresses cut to the 28-bit
 * DMA mask as QEMU's model cuts them. */
static void test_dma_refused_by_device(void **state)
{
	struct fix *f = *state;
	uint8_t *rw = hpool_ptr(f->pool, f->page_rw);

	enable(f);
	memset(rw, 0x5a, 64);
	dma(f, 0x1000, EDU_BUF_ADDR, 64, EDU_CMD_START);
	assert_int_equal(f->edu.st.dma_no_master, 1);
	assert_int_equal(f->edu.buf[0], 0);
	bus_master(f);
	dma(f, 0x1000, EDU_BUF_ADDR + 0xf00, 0x200, EDU_CMD_START);
	dma(f, 0x1000, EDU_BUF_ADDR - 1, 2, EDU_CMD_START);
	dma(f, 0x1000, ~0ULL, 2, EDU_CMD_START);
	assert_int_equal(f->edu.st.dma_range_errors, 3);
	dma(f, 0x1000, EDU_BUF_ADDR, 0, EDU_CMD_START);
	assert_int_equal(f->edu.st.dma_bytes, 0);
	/* The whole buffer, from the last possible start. */
	dma(f, 0x1000, EDU_BUF_ADDR, EDU_BUF_SIZE, EDU_CMD_START);
	assert_int_equal(f->edu.st.dma_bytes, EDU_BUF_SIZE);
	/* 0x10001000 is cut to 0x1000: the mapped page. */
	memset(f->edu.buf, 0, 64);
	dma(f, 0x10001000, EDU_BUF_ADDR, 64, EDU_CMD_START);
	assert_int_equal(f->edu.st.dma_clamped, 1);
	assert_int_equal(f->edu.buf[63], 0x5a);
	/* A write without the start bit does nothing, not even store. */
	wr(f, EDU_DMA_CMD, 8, EDU_CMD_TO_RAM);
	assert_int_equal(rd(f, EDU_DMA_CMD, 8), 0);
	assert_int_equal(f->edu.st.dma_faults, 0);
}

/* VT-d 3.4.3: with translation off the bus address is used as it is. */
static void test_dma_translation_off(void **state)
{
	struct fix *f = *state;

	bus_master(f);
	f->edu.dma_mask = ~0ULL;
	memset(f->edu.buf, 0x77, 32);
	dma(f, EDU_BUF_ADDR, f->page_ro + 8, 32, EDU_CMD_START | EDU_CMD_TO_RAM);
	assert_int_equal(((uint8_t *)hpool_ptr(f->pool, f->page_ro))[8], 0x77);
	assert_int_equal(f->edu.st.dma_faults, 0);
	assert_int_equal(iommu_get_stats(f->m)->walk_refs, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_space, setup, teardown),
		cmocka_unit_test_setup_teardown(test_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma_through_iommu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma_refused_by_device, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma_translation_off, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
