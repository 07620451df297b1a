/* SPDX-License-Identifier: MIT */
/*
 * hv/fwcfg.c - QEMU's fw_cfg, traditional (port) interface only: a kernel
 * writes an item key to the 16-bit selector port and reads the item's bytes
 * one at a time from the data port. The DMA interface is not offered (the ID
 * item says so), and writes to the data port are ignored, as QEMU has done
 * since 2.4. Test kernels learn the CPU count and RAM size here.
 */
#include <string.h>

#include "hv/pc.h"

static void put(struct fwcfg *c, uint16_t key, const void *data, unsigned len)
{
	struct fwcfg_item *it = &c->items[c->n++];

	/* Precondition: fwcfg_init adds at most FWCFG_MAX_ITEMS of at most FWCFG_ITEM_MAX bytes. */
	it->key = key;
	it->len = (uint8_t)len;
	memcpy(it->data, data, len);
}

static void put_le(struct fwcfg *c, uint16_t key, uint64_t v, unsigned len)
{
	uint8_t b[8];

	for (unsigned i = 0; i < len; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put(c, key, b, len);
}

void fwcfg_init(struct fwcfg *c, unsigned ncpus, uint64_t ram_size)
{
	static const uint8_t uuid[16];
	static const uint8_t empty_dir[4];  /* no files: a big-endian count of 0 */

	memset(c, 0, sizeof(*c));
	put(c, FWCFG_SIGNATURE, "QEMU", 4);
	put_le(c, FWCFG_ID, 1, 4);
	put(c, FWCFG_UUID, uuid, 16);
	put_le(c, FWCFG_RAM_SIZE, ram_size, 8);
	put_le(c, FWCFG_NOGRAPHIC, 0, 2);
	put_le(c, FWCFG_NB_CPUS, ncpus, 2);
	put_le(c, FWCFG_BOOT_MENU, 0, 2);
	put_le(c, FWCFG_MAX_CPUS, ncpus, 2);
	put(c, FWCFG_FILE_DIR, empty_dir, 4);
	put_le(c, FWCFG_IRQ0_OVERRIDE, 1, 4);
}

uint8_t fwcfg_byte(const struct fwcfg *c, uint16_t key, uint32_t off)
{
	for (unsigned i = 0; i < c->n; i++)
		if (c->items[i].key == key)
			return off < c->items[i].len ? c->items[i].data[off] : 0;
	return 0;
}

static uint64_t fwcfg_read(struct device *dev, uint64_t off, unsigned size)
{
	struct fwcfg *c = dev->priv;
	uint64_t v = 0;

	/* The selector reads nothing back; the data port is one byte wide, a
	 * wider read takes successive bytes (QEMU's data port does the same). */
	if (off != FWCFG_PORT_DATA - FWCFG_PORT_SEL)
		return 0;
	for (unsigned i = 0; i < size; i++) {
		v |= (uint64_t)fwcfg_byte(c, c->sel, c->off) << (8 * i);
		if (c->off != UINT32_MAX)
			c->off++;
	}
	return v;
}

static void fwcfg_write(struct device *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct fwcfg *c = dev->priv;

	if (off == 0 && size >= 2) {
		c->sel = (uint16_t)val;
		c->off = 0;
	}
}

static void fwcfg_reset(struct device *dev)
{
	struct fwcfg *c = dev->priv;

	c->sel = 0;
	c->off = 0;
}

const struct device_ops fwcfg_ops = {
	.name = "fw_cfg",
	.space = DEV_PIO,
	.base = FWCFG_PORT_SEL,
	.len = 2,
	.read = fwcfg_read,
	.write = fwcfg_write,
	.reset = fwcfg_reset,
};
