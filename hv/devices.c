/* SPDX-License-Identifier: MIT */
/*
 * hv/devices.c - the device bus (routing an access to the device whose window
 * holds it) and the hv test device.
 */
#include <errno.h>

#include "hv/devices.h"

/* [a, a+alen) and [b, b+blen) overlap; both are non-empty and do not wrap. */
static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a <= b + (blen - 1) && b <= a + (alen - 1);
}

int dev_bus_add(struct dev_bus *bus, const struct device_ops *ops, uint64_t base, void *priv,
		struct device **out)
{
	uint64_t len = ops->len;

	if (base == UINT64_MAX)
		base = ops->base;
	if (len == 0 || base + (len - 1) < base)
		return -EINVAL;
	if (ops->space == DEV_PIO && base + (len - 1) > 0xffff)
		return -EINVAL;
	if (bus->n == DEV_BUS_MAX)
		return -ENOSPC;
	for (unsigned i = 0; i < bus->n; i++) {
		const struct device *d = &bus->dev[i];

		if (d->ops->space == ops->space && ranges_overlap(d->base, d->len, base, len))
			return -EEXIST;
	}
	struct device *d = &bus->dev[bus->n++];
	d->ops = ops;
	d->base = base;
	d->len = len;
	d->priv = priv;
	d->bus = bus;
	if (ops->space == DEV_PIO)
		for (uint64_t port = base; port <= base + (len - 1); port++)
			bus->pio[port] = (uint8_t)bus->n;
	if (out)
		*out = d;
	return 0;
}

struct device *dev_bus_find(struct dev_bus *bus, enum dev_space space, uint64_t addr,
			    unsigned size)
{
	uint64_t last = addr + (size ? size - 1 : 0);

	if (last < addr)
		return NULL;
	if (space == DEV_PIO) {
		/* Windows of one space do not overlap: the one holding addr is
		 * the only candidate. */
		struct device *d = addr <= 0xffff && bus->pio[addr] ? &bus->dev[bus->pio[addr] - 1] : NULL;

		return d && last <= d->base + (d->len - 1) ? d : NULL;
	}
	for (unsigned i = 0; i < bus->n; i++) {
		struct device *d = &bus->dev[i];

		if (d->ops->space == space && addr >= d->base && last <= d->base + (d->len - 1))
			return d;
	}
	return NULL;
}

uint64_t dev_bus_pio_read(struct dev_bus *bus, uint16_t port, unsigned size)
{
	struct device *d = dev_bus_find(bus, DEV_PIO, port, size);

	if (!d || !d->ops->read) {
		bus->unknown_pio_reads++;
		return dev_ones(size);
	}
	return d->ops->read(d, port - d->base, size) & dev_ones(size);
}

void dev_bus_pio_write(struct dev_bus *bus, uint16_t port, unsigned size, uint64_t val)
{
	struct device *d = dev_bus_find(bus, DEV_PIO, port, size);

	if (!d || !d->ops->write) {
		bus->unknown_pio_writes++;
		return;
	}
	d->ops->write(d, port - d->base, size, val & dev_ones(size));
}

void dev_bus_reset(struct dev_bus *bus)
{
	for (unsigned i = 0; i < bus->n; i++)
		if (bus->dev[i].ops->reset)
			bus->dev[i].ops->reset(&bus->dev[i]);
	bus->stop = false;
	bus->stop_value = 0;
	bus->stop_dev = NULL;
}

/* ------------------------------------------------------------------------ */
/* hv test device                                                           */
/* ------------------------------------------------------------------------ */

/* Byte `off` of a little-endian register `reg` at register offset `roff`,
 * for `size` bytes: lets any access size work inside one register. */
static uint64_t reg_slice(uint64_t reg, uint64_t off, uint64_t roff, unsigned size)
{
	unsigned shift = (unsigned)(off - roff) * 8;

	return (reg >> shift) & dev_ones(size);
}

static uint64_t hvtest_read(struct device *dev, uint64_t off, unsigned size)
{
	struct hvtest *t = dev->priv;

	t->count++;
	if (off + size <= HVTEST_ID + 8)
		return reg_slice(HVTEST_ID_VALUE, off, HVTEST_ID, size);
	if (off >= HVTEST_SCRATCH && off + size <= HVTEST_SCRATCH + 8)
		return reg_slice(t->scratch, off, HVTEST_SCRATCH, size);
	if (off >= HVTEST_COUNT && off + size <= HVTEST_COUNT + 8)
		return reg_slice(t->count, off, HVTEST_COUNT, size);
	return 0;
}

static void hvtest_write(struct device *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct hvtest *t = dev->priv;

	t->count++;
	if (off >= HVTEST_SCRATCH && off + size <= HVTEST_SCRATCH + 8) {
		unsigned shift = (unsigned)(off - HVTEST_SCRATCH) * 8;
		uint64_t mask = dev_ones(size) << shift;

		t->scratch = (t->scratch & ~mask) | ((val << shift) & mask);
	}
}

static void hvtest_reset(struct device *dev)
{
	struct hvtest *t = dev->priv;

	t->scratch = 0;
	t->count = 0;
}

const struct device_ops hvtest_ops = {
	.name = "hv-test-device",
	.space = DEV_MMIO,
	.base = HVTEST_BASE,
	.len = HVTEST_LEN,
	.read = hvtest_read,
	.write = hvtest_write,
	.reset = hvtest_reset,
};
