/* SPDX-License-Identifier: MIT */
/*
 * hv/pctestdev.c - QEMU's pc-testdev, the device kvm-unit-tests uses for
 * port I/O, MMIO and IRQ-line tests. Like isa-debug-exit it exists because
 * test kernels expect it; the ports and the window are where QEMU puts them.
 */
#include <string.h>

#include "hv/pc.h"

/* The 32-bit data register at 0xe0 (and, byte by byte, 0xe8): an access of
 * `size` bytes at byte `off` of the register reads or replaces those bytes. */
static uint64_t data_read(struct device *dev, uint64_t off, unsigned size)
{
	struct pctestdev *t = dev->priv;

	return (t->data >> ((off & 3) * 8)) & dev_ones(size);
}

static void data_write(struct device *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct pctestdev *t = dev->priv;
	unsigned shift = (unsigned)(off & 3) * 8;
	uint32_t mask = (uint32_t)(dev_ones(size) << shift);

	t->data = (t->data & ~mask) | ((uint32_t)(val << shift) & mask);
}

/* QEMU drops the host mapping of the page so that KVM refaults it; hv's
 * mappings have nothing to drop, so the write is only counted. */
static uint64_t flush_read(struct device *dev, uint64_t off, unsigned size)
{
	return 0;
}

static void flush_write(struct device *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct pctestdev *t = dev->priv;

	t->flushes++;
}

static uint64_t irq_read(struct device *dev, uint64_t off, unsigned size)
{
	return 0;
}

/* One byte per line: a write of v to 0x2000 + n drives ISA IRQ n to !!v. */
static void irq_write(struct device *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct pctestdev *t = dev->priv;

	if (size != 1)
		return;
	t->irq_writes++;
	t->irq_level[off] = val != 0;
	if (t->set_irq)
		t->set_irq(t->irq_ctx, (unsigned)off, val != 0);
}

static uint64_t iomem_read(struct device *dev, uint64_t off, unsigned size)
{
	struct pctestdev *t = dev->priv;
	uint64_t v = 0;

	memcpy(&v, &t->iomem[off], size);  /* little-endian host, like the guest */
	return v;
}

static void iomem_write(struct device *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct pctestdev *t = dev->priv;

	memcpy(&t->iomem[off], &val, size);
}

static void pctestdev_reset(struct device *dev)
{
	struct pctestdev *t = dev->priv;

	t->data = 0;
	memset(t->irq_level, 0, sizeof(t->irq_level));
	memset(t->iomem, 0, sizeof(t->iomem));
}

const struct device_ops pctestdev_data_ops = {
	.name = "pc-testdev-ioport",
	.space = DEV_PIO,
	.base = PCTESTDEV_PORT_DATA,
	.len = 4,
	.read = data_read,
	.write = data_write,
	.reset = pctestdev_reset,
};

const struct device_ops pctestdev_byte_ops = {
	.name = "pc-testdev-ioport-byte",
	.space = DEV_PIO,
	.base = PCTESTDEV_PORT_BYTE,
	.len = 4,
	.read = data_read,
	.write = data_write,
};

const struct device_ops pctestdev_flush_ops = {
	.name = "pc-testdev-flush-page",
	.space = DEV_PIO,
	.base = PCTESTDEV_PORT_FLUSH,
	.len = 4,
	.read = flush_read,
	.write = flush_write,
};

const struct device_ops pctestdev_irq_ops = {
	.name = "pc-testdev-irq-line",
	.space = DEV_PIO,
	.base = PCTESTDEV_PORT_IRQ,
	.len = PCTESTDEV_NIRQ,
	.read = irq_read,
	.write = irq_write,
};

const struct device_ops pctestdev_iomem_ops = {
	.name = "pc-testdev-iomem",
	.space = DEV_MMIO,
	.base = PCTESTDEV_IOMEM,
	.len = PCTESTDEV_IOMEM_LEN,
	.read = iomem_read,
	.write = iomem_write,
};
