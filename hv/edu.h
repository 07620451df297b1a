/* SPDX-License-Identifier: MIT */
/*
 * hv/edu.h - QEMU's educational PCI device (1234:11e8), as QEMU's
 * docs/specs/edu.rst specifies it, with every DMA it makes going out through
 * a caller-supplied path (the IOMMU, or straight to guest-physical memory).
 *
 * BAR0 is 1 MiB of 32-bit memory space. Registers (offset, access):
 *   0x00 RO  identification 0x010000ed (version 1.0)
 *   0x04 RW  liveness: reads back the inverse of what was written
 *   0x08 RW  factorial: writing n (when not computing) stores n!
 *   0x20 RW  status: 0x01 computing (RO), 0x80 interrupt after factorial
 *   0x24 RO  interrupt status
 *   0x60 WO  interrupt raise (ORed into the status)
 *   0x64 WO  interrupt acknowledge (cleared from the status)
 *   0x80 RW  DMA source, 0x88 DMA destination, 0x90 DMA count (64 bits)
 *   0x98 RW  DMA command: 0x01 start, 0x02 direction (1: buffer to RAM),
 *            0x04 raise interrupt 0x100 when done
 *   0x40000  the device's 4 KiB DMA buffer, as DMA addresses on its side
 * Below 0x80 only 4-byte accesses work, from 0x80 4 or 8; anything else, and
 * any other offset, reads all-ones and ignores writes (as QEMU's model does).
 *
 * Differences from QEMU's model, all deterministic: the factorial and the
 * DMA are done at the write that starts them (QEMU uses a thread and a
 * 100 ms timer), so the "computing" and "start" bits read back clear at once;
 * a transfer whose buffer side leaves the 4 KiB buffer is refused and counted
 * (QEMU logs it and goes on); DMA needs the command register's bus-master
 * bit, as a PCI function does.
 */
#ifndef HV_EDU_H
#define HV_EDU_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/devices.h"

#define EDU_VENDOR_ID  0x1234
#define EDU_DEVICE_ID  0x11e8
#define EDU_REVISION   0x10
#define EDU_BAR_SIZE   0x100000ULL   /* 1 MiB */
#define EDU_BAR_BASE   0xfea00000ULL /* where hv, as firmware, places BAR0 */
#define EDU_PCI_DEV    3             /* 00:03.0 */

/* Register offsets. */
#define EDU_ID         0x00
#define EDU_LIVENESS   0x04
#define EDU_FACTORIAL  0x08
#define EDU_STATUS     0x20
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_RAISE  0x60
#define EDU_IRQ_ACK    0x64
#define EDU_DMA_SRC    0x80
#define EDU_DMA_DST    0x88
#define EDU_DMA_CNT    0x90
#define EDU_DMA_CMD    0x98

#define EDU_ID_VALUE          0x010000edu
#define EDU_STATUS_COMPUTING  0x01
#define EDU_STATUS_IRQFACT    0x80
#define EDU_IRQ_FACT          0x001
#define EDU_IRQ_DMA           0x100
#define EDU_CMD_START         0x1
#define EDU_CMD_TO_RAM        0x2
#define EDU_CMD_IRQ           0x4
#define EDU_BUF_ADDR          0x40000ULL
#define EDU_BUF_SIZE          4096
#define EDU_DMA_MASK_DEFAULT  ((1ULL << 28) - 1)  /* QEMU's dma_mask default */

/* PCI 3.0, 6.8.1: the MSI capability, 64-bit, one vector, no masking; placed
 * at the first capability offset, as QEMU's msi_init places it. */
#define EDU_MSI_CAP      0x40
#define PCI_CAP_PTR      0x34
#define PCI_STATUS_CAPS  0x10       /* status bit 4: capabilities list */
#define PCI_CAP_ID_MSI   0x05
#define PCI_MSI_CTRL_EN  0x0001
#define PCI_MSI_CTRL_64  0x0080
#define PCI_CMD_MEM      0x0002
#define PCI_CMD_MASTER   0x0004

/*
 * The path a DMA request takes. Returns 0 when all len bytes moved, or a
 * negative errno (-EFAULT refused or aborted; *reason is the VT-d fault
 * reason when an IOMMU refused it, else 0).
 */
typedef int (*edu_dma_fn)(void *ctx, uint16_t sid, uint64_t addr, void *buf, uint64_t len,
			  bool write, unsigned *reason);
typedef void (*edu_msi_fn)(void *ctx, uint64_t addr, uint32_t data);

struct edu_stats {
	uint64_t dma, dma_bytes;     /* transfers started, bytes that moved */
	uint64_t dma_faults;         /* refused by the DMA path (IOMMU fault, no memory) */
	uint64_t dma_range_errors;   /* the buffer side left the 4 KiB buffer: refused */
	uint64_t dma_no_master;      /* started with bus mastering off: nothing moved */
	uint64_t dma_clamped;        /* addresses cut to the DMA mask */
	uint64_t irqs, msis;         /* interrupts raised, MSIs sent */
	uint64_t factorials;
	uint64_t reg_reads, reg_writes;  /* BAR0 accesses (each one an MMIO exit under hv) */
	unsigned last_reason;        /* VT-d fault reason of the last refused DMA, or 0 */
};

/*
 * The device.
 *   fn: configuration space, on the PCI bus through pci_register.
 *   sid, bar, dma, msi, ctx, dma_mask: set once by edu_init.
 *   everything else: device registers, cleared by reset (stats survive).
 */
struct edu {
	struct pci_function fn;
	uint16_t sid;
	uint64_t bar;
	edu_dma_fn dma;
	edu_msi_fn msi;
	void *ctx;
	uint64_t dma_mask;

	uint32_t liveness, fact, status, irq_status;
	uint64_t dma_src, dma_dst, dma_cnt, dma_cmd;
	bool intx;                   /* INTx asserted (interrupt status non-zero, MSI off) */
	uint8_t buf[EDU_BUF_SIZE];
	struct edu_stats st;
};

/* The BAR0 window; the device answers it only while memory decoding is on
 * and BAR0 holds the address edu_init gave it. */
extern const struct device_ops edu_mmio_ops;

/* A register read or write as the device sees it, whoever makes it (an MMIO
 * exit through edu_mmio_ops, which counts it, or hv noticing a write to a
 * pass-through register page). */
uint64_t edu_reg_get(struct edu *e, uint64_t off, unsigned size);
void edu_reg_set(struct edu *e, uint64_t off, unsigned size, uint64_t val);

/* Set up the device as PCI function 00:dev.0 (source id dev << 3) with
 * BAR0 at `bar`. msi may be NULL (MSIs are then counted only). */
void edu_init(struct edu *e, unsigned dev, uint64_t bar, edu_dma_fn dma, edu_msi_fn msi,
	      void *ctx);

#endif /* HV_EDU_H */
