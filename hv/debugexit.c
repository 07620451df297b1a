/* SPDX-License-Identifier: MIT */
/*
 * hv/debugexit.c - isa-debug-exit: the port test guests write to end the run.
 *
 * A write of v stops the VM and hv exits with status (v << 1) | 1, exactly as
 * QEMU does with -device isa-debug-exit,iobase=0xf4,iosize=4: the same guest
 * reports the same status under both.
 */
#include "hv/devices.h"

static uint64_t debugexit_read(struct device *dev, uint64_t off, unsigned size)
{
	/* Nothing drives the bus on a read. */
	return dev_ones(size);
}

static void debugexit_write(struct device *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct dev_bus *bus = dev->bus;

	/* The first write wins: the VM stops before the guest can write again. */
	if (bus->stop)
		return;
	bus->stop = true;
	bus->stop_value = val;
	bus->stop_dev = dev;
}

const struct device_ops debugexit_ops = {
	.name = "isa-debug-exit",
	.space = DEV_PIO,
	.base = DEBUGEXIT_PORT,
	.len = 4,
	.read = debugexit_read,
	.write = debugexit_write,
};
