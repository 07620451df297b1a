/* SPDX-License-Identifier: MIT */
/*
 * hv/pci.c - a PCI host bridge with configuration mechanism #1 (PCI Local
 * Bus Specification 3.0, 3.2.2.3.2) and a registry of functions on bus 0.
 *
 * Port 0xcf8 is the CONFIG_ADDRESS latch (dword accesses only):
 *   bit 31 enable, bits 23:16 bus, 15:11 device, 10:8 function, 7:2 register.
 * Ports 0xcfc..0xcff are CONFIG_DATA: a byte, word or dword access at 0xcfc+k
 * reaches byte k of the selected dword. With the enable bit clear, or for a
 * function nobody registered, reads return all-ones and writes are dropped:
 * that is how software enumerating the bus learns a slot is empty.
 */
#include <errno.h>
#include <string.h>

#include "hv/devices.h"

static void cfg_put(uint8_t *cfg, unsigned off, unsigned size, uint32_t v)
{
	for (unsigned i = 0; i < size; i++)
		cfg[off + i] = (uint8_t)(v >> (8 * i));
}

void pci_function_init(struct pci_function *fn, uint16_t vendor, uint16_t device,
		       uint8_t class_base, uint8_t class_sub, uint8_t prog_if,
		       const struct pci_function_ops *ops, void *priv)
{
	memset(fn, 0, sizeof(*fn));
	cfg_put(fn->cfg, PCI_VENDOR_ID, 2, vendor);
	cfg_put(fn->cfg, PCI_DEVICE_ID, 2, device);
	fn->cfg[PCI_CLASS_PROG] = prog_if;
	fn->cfg[PCI_CLASS_SUB] = class_sub;
	fn->cfg[PCI_CLASS_BASE] = class_base;
	fn->cfg[PCI_HEADER_TYPE] = 0x00;
	/* Command register: I/O space, memory space, bus master (bits 0-2),
	 * INTx disable (bit 10). The interrupt line is for software to fill. */
	fn->wmask[PCI_COMMAND] = 0x07;
	fn->wmask[PCI_COMMAND + 1] = 0x04;
	fn->wmask[PCI_INT_LINE] = 0xff;
	fn->ops = ops;
	fn->priv = priv;
}

static const struct pci_function_ops host_bridge_ops = {
	.name = "host-bridge",
};

void pci_host_init(struct pci_host *h)
{
	memset(h, 0, sizeof(*h));
	/* Same identity as the q35 machine's host bridge, so a guest that
	 * enumerates the bus sees the same 00:00.0 under hv and under QEMU. */
	pci_function_init(&h->bridge, 0x8086, 0x29c0, 0x06, 0x00, 0x00, &host_bridge_ops, NULL);
	h->fn[PCI_DEVFN(0, 0)] = &h->bridge;
}

int pci_register(struct pci_host *h, unsigned dev, unsigned fn, struct pci_function *f)
{
	if (dev > 31 || fn > 7)
		return -EINVAL;
	if (h->fn[PCI_DEVFN(dev, fn)])
		return -EEXIST;
	h->fn[PCI_DEVFN(dev, fn)] = f;
	return 0;
}

/* The function an access goes to: bus 0 only (there are no bridges). */
static struct pci_function *pci_lookup(struct pci_host *h, uint8_t bus, uint8_t devfn)
{
	return bus == 0 ? h->fn[devfn] : NULL;
}

uint32_t pci_config_read(struct pci_host *h, uint8_t bus, uint8_t devfn, unsigned off,
			 unsigned size)
{
	struct pci_function *f = pci_lookup(h, bus, devfn);
	uint32_t v = 0;

	if (!f || size > 4 || off >= PCI_CFG_SIZE || off + size > PCI_CFG_SIZE)
		return (uint32_t)dev_ones(size > 4 ? 4 : size);
	for (unsigned i = 0; i < size; i++)
		v |= (uint32_t)f->cfg[off + i] << (8 * i);
	return v;
}

void pci_config_write(struct pci_host *h, uint8_t bus, uint8_t devfn, unsigned off,
		      unsigned size, uint32_t val)
{
	struct pci_function *f = pci_lookup(h, bus, devfn);

	if (!f || size > 4 || off >= PCI_CFG_SIZE || off + size > PCI_CFG_SIZE)
		return;
	for (unsigned i = 0; i < size; i++) {
		uint8_t m = f->wmask[off + i], b = (uint8_t)(val >> (8 * i));

		f->cfg[off + i] = (uint8_t)((f->cfg[off + i] & ~m) | (b & m));
	}
	if (f->ops && f->ops->config_written)
		f->ops->config_written(f, off, size);
}

/* Window layout: offsets 0..3 are CONFIG_ADDRESS, 4..7 CONFIG_DATA. */
static uint64_t pci_host_read(struct device *dev, uint64_t off, unsigned size)
{
	struct pci_host *h = dev->priv;
	uint32_t a = h->config_address;

	if (off < 4)
		/* Only a dword access at 0xcf8 is the latch; narrower ones are
		 * other ISA ports on a PC and read as nothing here. */
		return (off == 0 && size == 4) ? a : dev_ones(size);
	if (!(a & PCI_CFG_ENABLE) || off - 4 + size > 4)
		return dev_ones(size);
	return pci_config_read(h, (uint8_t)(a >> 16), (uint8_t)(a >> 8),
			       (a & 0xfc) + (unsigned)(off - 4), size);
}

static void pci_host_write(struct device *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct pci_host *h = dev->priv;
	uint32_t a = h->config_address;

	if (off < 4) {
		/* Bits 1:0 are reserved and read back as zero; so do 30:24. */
		if (off == 0 && size == 4)
			h->config_address = (uint32_t)val & 0x80fffffcu;
		return;
	}
	if (!(a & PCI_CFG_ENABLE) || off - 4 + size > 4)
		return;
	pci_config_write(h, (uint8_t)(a >> 16), (uint8_t)(a >> 8), (a & 0xfc) + (unsigned)(off - 4),
			 size, (uint32_t)val);
}

static void pci_host_reset(struct device *dev)
{
	struct pci_host *h = dev->priv;

	h->config_address = 0;
	for (unsigned i = 0; i < 256; i++)
		if (h->fn[i] && h->fn[i]->ops && h->fn[i]->ops->reset)
			h->fn[i]->ops->reset(h->fn[i]);
}

const struct device_ops pci_host_ops = {
	.name = "pci-host",
	.space = DEV_PIO,
	.base = PCI_CONFIG_ADDRESS,
	.len = 8,
	.read = pci_host_read,
	.write = pci_host_write,
	.reset = pci_host_reset,
};
