/* SPDX-License-Identifier: MIT */
/*
 * hv/ioapic.h - the I/O APIC (Intel 82093AA datasheet; ICH/PCH I/O APIC
 * chapters): 24 interrupt input pins, each routed by a 64-bit redirection
 * table entry to the local APIC as an interrupt message.
 *
 *   guest access  an MMIO window at 0xfec00000: IOREGSEL at offset 0x00
 *                 selects a register, IOWIN at offset 0x10 reads or writes
 *                 it (32 bits). Registers: 0x00 ID (bits 27:24 writable),
 *                 0x01 version (0x00170011: 24 entries, version 0x11), 0x02
 *                 arbitration ID, 0x10 + 2n / 0x11 + 2n the low/high halves
 *                 of entry n.
 *   inputs        ioapic_set_irq(): the level of pin n (1 asserted). An
 *                 edge-triggered entry sends on a 0 -> 1 change; a
 *                 level-triggered one sends while the pin is asserted and its
 *                 Remote IRR is clear, sets Remote IRR, and sends again after
 *                 the local APIC's EOI of its vector (ioapic_eoi) if the pin
 *                 is still asserted. The polarity bit is stored, not applied:
 *                 callers give the asserted level (as QEMU's model does).
 *   output        the message goes through lapic_msi() with the entry's
 *                 destination, destination mode, delivery mode, vector and
 *                 trigger mode, so the local APIC decides acceptance.
 */
#ifndef HV_IOAPIC_H
#define HV_IOAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/devices.h"
#include "hv/lapic.h"

#define IOAPIC_BASE      0xfec00000ULL
#define IOAPIC_NPINS     24
#define IOAPIC_REGSEL    0x00
#define IOAPIC_WIN       0x10
#define IOAPIC_REG_ID    0x00
#define IOAPIC_REG_VER   0x01
#define IOAPIC_REG_ARB   0x02
#define IOAPIC_REG_RTE   0x10
#define IOAPIC_VERSION   0x00170011u

/* Redirection table entry fields. */
#define IOAPIC_RTE_VECTOR     0xffULL
#define IOAPIC_RTE_DM_SHIFT   8
#define IOAPIC_RTE_DEST_LOG   (1ULL << 11)
#define IOAPIC_RTE_STATUS     (1ULL << 12)   /* delivery status: read-only */
#define IOAPIC_RTE_POLARITY   (1ULL << 13)
#define IOAPIC_RTE_REMOTE_IRR (1ULL << 14)   /* read-only */
#define IOAPIC_RTE_LEVEL      (1ULL << 15)
#define IOAPIC_RTE_MASKED     (1ULL << 16)
#define IOAPIC_RTE_DEST_SHIFT 56

/*
 * I/O APIC state.
 *   lapic: set once by ioapic_init; where messages go.
 *   id, sel, rte[]: guest-visible, back to power-up values by reset
 *     (entries masked, everything else 0).
 *   level: the input pins' levels (bit n = pin n asserted).
 *   sent, dropped: messages sent, and those the local APIC refused.
 */
struct ioapic {
	struct lapic *lapic;
	uint32_t id, sel;
	uint64_t rte[IOAPIC_NPINS];
	uint32_t level;
	uint64_t sent, dropped;
};

void ioapic_init(struct ioapic *io, struct lapic *lapic);
/* Pin `pin` is now at `level` (non-zero: asserted); pins >= 24 are ignored. */
void ioapic_set_irq(struct ioapic *io, unsigned pin, int level);
/* The local APIC's EOI of a level-triggered `vector`. */
void ioapic_eoi(struct ioapic *io, uint8_t vector);
/* Register `reg` as IOWIN reads it after IOREGSEL = reg. */
uint32_t ioapic_read_reg(const struct ioapic *io, uint32_t reg);

extern const struct device_ops ioapic_ops;  /* 0xfec00000, priv: struct ioapic */

#endif /* HV_IOAPIC_H */
