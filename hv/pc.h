/* SPDX-License-Identifier: MIT */
/*
 * hv/pc.h - PC devices that test kernels written for QEMU expect besides the
 * local APIC (hv/lapic.h): QEMU's fw_cfg interface and QEMU's pc-testdev.
 *
 *   fwcfg.c      fw_cfg at ports 0x510 (selector) and 0x511 (data), the
 *                traditional interface of QEMU's docs/specs/fw_cfg.rst
 *   pctestdev.c  pc-testdev: a data port at 0xe0 (and 0xe8), a flush port at
 *                0xe4, IRQ lines at 0x2000-0x2017 and 64 KiB of MMIO scratch
 *                at 0xff000000, as QEMU's hw/misc/pc-testdev.c places them
 */
#ifndef HV_PC_H
#define HV_PC_H

#include <stdint.h>

#include "hv/devices.h"

/* ------------------------------------------------------------------------ */
/* fw_cfg                                                                   */
/* ------------------------------------------------------------------------ */
#define FWCFG_PORT_SEL   0x510  /* 16-bit write: select an item, offset 0 */
#define FWCFG_PORT_DATA  0x511  /* 8-bit read: the next byte of the item */

/* Item keys (QEMU docs/specs/fw_cfg.rst; little-endian integers). */
#define FWCFG_SIGNATURE  0x00   /* "QEMU" */
#define FWCFG_ID         0x01   /* u32 feature bits: bit 0 traditional interface */
#define FWCFG_UUID       0x02   /* 16 bytes */
#define FWCFG_RAM_SIZE   0x03   /* u64 bytes of guest RAM */
#define FWCFG_NOGRAPHIC  0x04   /* u16 */
#define FWCFG_NB_CPUS    0x05   /* u16 */
#define FWCFG_BOOT_MENU  0x0e   /* u16 */
#define FWCFG_MAX_CPUS   0x0f   /* u16 */
#define FWCFG_FILE_DIR   0x19   /* u32 big-endian count, then 64-byte entries */
#define FWCFG_IRQ0_OVERRIDE 0x8002  /* u32: the timer is on IOAPIC pin 2 */

#define FWCFG_MAX_ITEMS  12
#define FWCFG_ITEM_MAX   16     /* bytes: the largest item hv provides */

struct fwcfg_item {
	uint16_t key;
	uint8_t len;
	uint8_t data[FWCFG_ITEM_MAX];
};

/*
 * fw_cfg state.
 *   items, n: set once by fwcfg_init.
 *   sel, off: the guest's selection and read position; reset by reset.
 */
struct fwcfg {
	struct fwcfg_item items[FWCFG_MAX_ITEMS];
	unsigned n;
	uint16_t sel;
	uint32_t off;
};

extern const struct device_ops fwcfg_ops;  /* ports 0x510-0x511 */
/* The items of a machine with `ncpus` processors and `ram_size` bytes of RAM. */
void fwcfg_init(struct fwcfg *c, unsigned ncpus, uint64_t ram_size);
/* Byte `off` of item `key` as the data port returns it (0 past the end or
 * for an item that does not exist). */
uint8_t fwcfg_byte(const struct fwcfg *c, uint16_t key, uint32_t off);

/* ------------------------------------------------------------------------ */
/* pc-testdev                                                               */
/* ------------------------------------------------------------------------ */
#define PCTESTDEV_PORT_DATA  0xe0    /* 4 ports: a 32-bit register, any width */
#define PCTESTDEV_PORT_FLUSH 0xe4    /* 4 ports: write a GPA, "flush" its page */
#define PCTESTDEV_PORT_BYTE  0xe8    /* 4 ports: the same register */
#define PCTESTDEV_PORT_IRQ   0x2000  /* 24 ports: write v to 0x2000+n sets IRQ n to !!v */
#define PCTESTDEV_NIRQ       24
#define PCTESTDEV_IOMEM      0xff000000ULL
#define PCTESTDEV_IOMEM_LEN  0x10000ULL

/*
 * pc-testdev state (one struct behind the four windows).
 *   set_irq, irq_ctx: set once; where IRQ line writes go (NULL: counted only).
 *   data, iomem, irq_level: guest-visible, cleared by reset.
 */
struct pctestdev {
	void (*set_irq)(void *ctx, unsigned line, int level);
	void *irq_ctx;
	uint32_t data;
	uint8_t irq_level[PCTESTDEV_NIRQ];
	uint64_t flushes, irq_writes;
	uint8_t iomem[PCTESTDEV_IOMEM_LEN];
};

extern const struct device_ops pctestdev_data_ops;   /* 0xe0 */
extern const struct device_ops pctestdev_flush_ops;  /* 0xe4 */
extern const struct device_ops pctestdev_byte_ops;   /* 0xe8 */
extern const struct device_ops pctestdev_irq_ops;    /* 0x2000 */
extern const struct device_ops pctestdev_iomem_ops;  /* 0xff000000 */

#endif /* HV_PC_H */
