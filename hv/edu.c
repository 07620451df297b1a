/* SPDX-License-Identifier: MIT */
/*
 * hv/edu.c - QEMU's educational PCI device (hv/edu.h describes the
 * registers): configuration space with BAR0 and an MSI capability, the
 * MMIO registers, the factorial unit, the interrupt status and the DMA engine
 * whose every request goes out through the caller's DMA path with the
 * function's source id.
 */
#include <string.h>

#include "hv/edu.h"

static uint32_t cfg_get(const struct pci_function *fn, unsigned off, unsigned size)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint32_t)fn->cfg[off + i] << (8 * i);
	return v;
}

static void cfg_set(struct pci_function *fn, unsigned off, unsigned size, uint32_t v,
		    uint32_t wmask)
{
	for (unsigned i = 0; i < size; i++) {
		fn->cfg[off + i] = (uint8_t)(v >> (8 * i));
		fn->wmask[off + i] = (uint8_t)(wmask >> (8 * i));
	}
}

static uint16_t edu_command(const struct edu *e)
{
	return (uint16_t)cfg_get(&e->fn, PCI_COMMAND, 2);
}

/* The device decodes its window only where firmware put it and while memory
 * space is enabled (PCI 3.0, 6.2.2: command bit 1). */
static bool edu_decodes(const struct edu *e)
{
	return (edu_command(e) & PCI_CMD_MEM) && cfg_get(&e->fn, PCI_BAR0, 4) == (uint32_t)e->bar;
}

/* PCI 3.0, 6.8.1.3: an MSI is a memory write of the data register to the
 * address register, sent when MSI is enabled (and, being a write the function
 * masters, only while bus mastering is on). */
static bool edu_msi_enabled(const struct edu *e)
{
	return cfg_get(&e->fn, EDU_MSI_CAP + 2, 2) & PCI_MSI_CTRL_EN;
}

static void edu_raise(struct edu *e, uint32_t val)
{
	e->irq_status |= val;
	if (!e->irq_status)
		return;
	e->st.irqs++;
	if (edu_msi_enabled(e)) {
		uint64_t addr = cfg_get(&e->fn, EDU_MSI_CAP + 4, 4) |
				(uint64_t)cfg_get(&e->fn, EDU_MSI_CAP + 8, 4) << 32;
		uint32_t data = cfg_get(&e->fn, EDU_MSI_CAP + 12, 2);

		if (!(edu_command(e) & PCI_CMD_MASTER))
			return;
		e->st.msis++;
		if (e->msi)
			e->msi(e->ctx, addr, data);
	} else {
		e->intx = true;
	}
}

static void edu_lower(struct edu *e, uint32_t val)
{
	e->irq_status &= ~val;
	if (!e->irq_status)
		e->intx = false;
}

/* [a, a+n) lies inside the 4 KiB buffer (overflow-safe). */
static bool in_buffer(uint64_t a, uint64_t n)
{
	return a >= EDU_BUF_ADDR && n <= EDU_BUF_SIZE && a - EDU_BUF_ADDR <= EDU_BUF_SIZE - n;
}

static void edu_dma_run(struct edu *e)
{
	bool to_ram = e->dma_cmd & EDU_CMD_TO_RAM;
	uint64_t local = to_ram ? e->dma_src : e->dma_dst;
	uint64_t bus = to_ram ? e->dma_dst : e->dma_src;
	uint64_t n = e->dma_cnt;
	unsigned reason = 0;

	e->st.dma++;
	if (!in_buffer(local, n)) {
		e->st.dma_range_errors++;
	} else if (!(edu_command(e) & PCI_CMD_MASTER)) {
		e->st.dma_no_master++;
	} else if (n) {
		if ((bus & e->dma_mask) != bus)
			e->st.dma_clamped++;
		bus &= e->dma_mask;
		if (e->dma(e->ctx, e->sid, bus, e->buf + (local - EDU_BUF_ADDR), n, to_ram,
			   &reason) == 0) {
			e->st.dma_bytes += n;
		} else {
			e->st.dma_faults++;
			e->st.last_reason = reason;
		}
	}
	e->dma_cmd &= ~(uint64_t)EDU_CMD_START;
	if (e->dma_cmd & EDU_CMD_IRQ)
		edu_raise(e, EDU_IRQ_DMA);
}

static uint32_t factorial(uint32_t n)
{
	uint32_t r = 1;

	while (n > 0)
		r *= n--;   /* modulo 2^32, as a 32-bit register holds it */
	return r;
}

static uint64_t *dma_reg(struct edu *e, uint64_t off)
{
	switch (off) {
	case EDU_DMA_SRC: return &e->dma_src;
	case EDU_DMA_DST: return &e->dma_dst;
	case EDU_DMA_CNT: return &e->dma_cnt;
	case EDU_DMA_CMD: return &e->dma_cmd;
	default:          return NULL;
	}
}

static bool size_ok(uint64_t off, unsigned size)
{
	return off < 0x80 ? size == 4 : (size == 4 || size == 8);
}

uint64_t edu_reg_get(struct edu *e, uint64_t off, unsigned size)
{
	uint64_t *r;

	if (!edu_decodes(e) || !size_ok(off, size))
		return dev_ones(size);
	switch (off) {
	case EDU_ID:         return EDU_ID_VALUE;
	case EDU_LIVENESS:   return e->liveness;
	case EDU_FACTORIAL:  return e->fact;
	case EDU_STATUS:     return e->status;
	case EDU_IRQ_STATUS: return e->irq_status;
	}
	r = dma_reg(e, off);
	return r ? *r & dev_ones(size) : dev_ones(size);
}

void edu_reg_set(struct edu *e, uint64_t off, unsigned size, uint64_t val)
{
	uint64_t *r;

	if (!edu_decodes(e) || !size_ok(off, size))
		return;
	switch (off) {
	case EDU_LIVENESS:
		e->liveness = ~(uint32_t)val;
		return;
	case EDU_FACTORIAL:
		if (e->status & EDU_STATUS_COMPUTING)
			return;
		e->fact = factorial((uint32_t)val);
		e->st.factorials++;
		if (e->status & EDU_STATUS_IRQFACT)
			edu_raise(e, EDU_IRQ_FACT);
		return;
	case EDU_STATUS:
		e->status = (e->status & EDU_STATUS_COMPUTING) | ((uint32_t)val & EDU_STATUS_IRQFACT);
		return;
	case EDU_IRQ_RAISE:
		edu_raise(e, (uint32_t)val);
		return;
	case EDU_IRQ_ACK:
		edu_lower(e, (uint32_t)val);
		return;
	}
	r = dma_reg(e, off);
	if (!r || (e->dma_cmd & EDU_CMD_START))
		return;
	if (off == EDU_DMA_CMD) {
		/* Only a write with the start bit starts (and stores) a command. */
		if (!(val & EDU_CMD_START))
			return;
		e->dma_cmd = val;
		edu_dma_run(e);
		return;
	}
	*r = val;  /* a 4-byte write sets the register to the zero-extended value */
}

static uint64_t edu_read(struct device *dev, uint64_t off, unsigned size)
{
	struct edu *e = dev->priv;

	e->st.reg_reads++;
	return edu_reg_get(e, off, size);
}

static void edu_write(struct device *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct edu *e = dev->priv;

	e->st.reg_writes++;
	edu_reg_set(e, off, size, val);
}

static void edu_mmio_reset(struct device *dev)
{
	(void)dev;  /* the PCI function's reset clears the registers */
}

const struct device_ops edu_mmio_ops = {
	.name = "edu",
	.space = DEV_MMIO,
	.base = EDU_BAR_BASE,
	.len = EDU_BAR_SIZE,
	.read = edu_read,
	.write = edu_write,
	.reset = edu_mmio_reset,
};

static void edu_fn_reset(struct pci_function *fn)
{
	struct edu *e = fn->priv;

	e->liveness = e->fact = e->status = e->irq_status = 0;
	e->dma_src = e->dma_dst = e->dma_cnt = e->dma_cmd = 0;
	e->intx = false;
	memset(e->buf, 0, sizeof(e->buf));
	/* Firmware's work: BAR0 placed, memory decoding on, MSI off. */
	cfg_set(fn, PCI_BAR0, 4, (uint32_t)e->bar, (uint32_t)~(EDU_BAR_SIZE - 1));
	cfg_set(fn, PCI_COMMAND, 2, PCI_CMD_MEM, 0x0407);
	cfg_set(fn, EDU_MSI_CAP + 2, 2, PCI_MSI_CTRL_64, PCI_MSI_CTRL_EN);
	cfg_set(fn, EDU_MSI_CAP + 4, 4, 0, 0xfffffffc);
	cfg_set(fn, EDU_MSI_CAP + 8, 4, 0, 0xffffffff);
	cfg_set(fn, EDU_MSI_CAP + 12, 2, 0, 0xffff);
}

static const struct pci_function_ops edu_fn_ops = {
	.name = "edu",
	.reset = edu_fn_reset,
};

void edu_init(struct edu *e, unsigned dev, uint64_t bar, edu_dma_fn dma, edu_msi_fn msi,
	      void *ctx)
{
	memset(e, 0, sizeof(*e));
	/* Class 00ff: "unclassified, other", as QEMU's PCI_CLASS_OTHERS. */
	pci_function_init(&e->fn, EDU_VENDOR_ID, EDU_DEVICE_ID, 0x00, 0xff, 0x00, &edu_fn_ops, e);
	e->fn.cfg[PCI_REVISION] = EDU_REVISION;
	e->fn.cfg[PCI_INT_PIN] = 1;   /* INTA# */
	cfg_set(&e->fn, PCI_STATUS, 2, PCI_STATUS_CAPS, 0);
	e->fn.cfg[PCI_CAP_PTR] = EDU_MSI_CAP;
	e->fn.cfg[EDU_MSI_CAP] = PCI_CAP_ID_MSI;
	e->fn.cfg[EDU_MSI_CAP + 1] = 0;   /* the last capability */
	e->sid = (uint16_t)PCI_DEVFN(dev, 0);
	e->bar = bar;
	e->dma = dma;
	e->msi = msi;
	e->ctx = ctx;
	e->dma_mask = EDU_DMA_MASK_DEFAULT;
	edu_fn_reset(&e->fn);
}
