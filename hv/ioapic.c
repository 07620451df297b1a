/* SPDX-License-Identifier: MIT */
/*
 * hv/ioapic.c - the I/O APIC: redirection table, edge and level pins, EOI.
 */
#include <string.h>

#include "hv/ioapic.h"

/* Bits of an entry's low half the guest writes (82093AA 3.2.4). */
#define RTE_LOW_WRITABLE (IOAPIC_RTE_VECTOR | (7ULL << IOAPIC_RTE_DM_SHIFT) | IOAPIC_RTE_DEST_LOG | \
			  IOAPIC_RTE_POLARITY | IOAPIC_RTE_LEVEL | IOAPIC_RTE_MASKED)

static void reset(struct ioapic *io)
{
	io->id = 0;
	io->sel = 0;
	for (unsigned i = 0; i < IOAPIC_NPINS; i++)
		io->rte[i] = IOAPIC_RTE_MASKED;
}

void ioapic_init(struct ioapic *io, struct lapic *lapic)
{
	memset(io, 0, sizeof(*io));
	io->lapic = lapic;
	reset(io);
}

/* Send entry `pin`'s message to the local APIC (SDM 11.11 address/data). */
static void send(struct ioapic *io, unsigned pin)
{
	uint64_t e = io->rte[pin];
	uint64_t addr = MSI_ADDR_BASE | ((e >> IOAPIC_RTE_DEST_SHIFT) << MSI_ADDR_DEST_SHIFT) |
			((e & IOAPIC_RTE_DEST_LOG) ? MSI_ADDR_DM_LOGICAL : 0);
	uint32_t data = (uint32_t)(e & (IOAPIC_RTE_VECTOR | (7ULL << IOAPIC_RTE_DM_SHIFT)));

	if (e & IOAPIC_RTE_LEVEL)
		data |= MSI_DATA_TRIGGER_LEVEL | MSI_DATA_LEVEL_ASSERT;
	io->sent++;
	if (lapic_msi(io->lapic, addr, data) != 0) {
		io->dropped++;
		return;
	}
	if (e & IOAPIC_RTE_LEVEL)
		io->rte[pin] |= IOAPIC_RTE_REMOTE_IRR;
}

/* A level-triggered entry sends while its pin is asserted and Remote IRR is clear. */
static void service_level(struct ioapic *io, unsigned pin)
{
	uint64_t e = io->rte[pin];

	if ((e & IOAPIC_RTE_LEVEL) && !(e & (IOAPIC_RTE_MASKED | IOAPIC_RTE_REMOTE_IRR)) &&
	    (io->level & (1u << pin)))
		send(io, pin);
}

void ioapic_set_irq(struct ioapic *io, unsigned pin, int level)
{
	uint32_t bit;
	bool was;

	if (pin >= IOAPIC_NPINS)
		return;
	bit = 1u << pin;
	was = (io->level & bit) != 0;
	io->level = level ? io->level | bit : io->level & ~bit;
	if (io->rte[pin] & IOAPIC_RTE_LEVEL)
		service_level(io, pin);
	else if (level && !was && !(io->rte[pin] & IOAPIC_RTE_MASKED))
		send(io, pin);
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
	for (unsigned i = 0; i < IOAPIC_NPINS; i++) {
		if ((io->rte[i] & IOAPIC_RTE_VECTOR) != vector || !(io->rte[i] & IOAPIC_RTE_LEVEL))
			continue;
		io->rte[i] &= ~IOAPIC_RTE_REMOTE_IRR;
		service_level(io, i);
	}
}

uint32_t ioapic_read_reg(const struct ioapic *io, uint32_t reg)
{
	switch (reg) {
	case IOAPIC_REG_ID:
	case IOAPIC_REG_ARB:
		return io->id;
	case IOAPIC_REG_VER:
		return IOAPIC_VERSION;
	default:
		if (reg >= IOAPIC_REG_RTE && reg < IOAPIC_REG_RTE + 2 * IOAPIC_NPINS) {
			uint64_t e = io->rte[(reg - IOAPIC_REG_RTE) / 2];

			return (uint32_t)(reg & 1 ? e >> 32 : e);
		}
		return 0xffffffffu;
	}
}

static void write_reg(struct ioapic *io, uint32_t reg, uint32_t val)
{
	unsigned pin;
	uint64_t e;

	if (reg == IOAPIC_REG_ID) {
		io->id = val & 0x0f000000u;
		return;
	}
	if (reg < IOAPIC_REG_RTE || reg >= IOAPIC_REG_RTE + 2 * IOAPIC_NPINS)
		return;  /* version, arbitration and reserved registers are read-only */
	pin = (reg - IOAPIC_REG_RTE) / 2;
	e = io->rte[pin];
	if (reg & 1)
		e = (e & 0xffffffffULL) | ((uint64_t)(val & 0xff000000u) << 32);
	else
		e = (e & ~RTE_LOW_WRITABLE) | (val & RTE_LOW_WRITABLE);
	/* An edge-triggered entry has no Remote IRR. */
	if (!(e & IOAPIC_RTE_LEVEL))
		e &= ~IOAPIC_RTE_REMOTE_IRR;
	io->rte[pin] = e;
	/* Unmasking (or turning to level) an entry whose pin is asserted sends now. */
	service_level(io, pin);
}

static uint64_t ioapic_mmio_read(struct device *dev, uint64_t off, unsigned size)
{
	const struct ioapic *io = dev->priv;

	if (size != 4)
		return dev_ones(size);
	if (off == IOAPIC_REGSEL)
		return io->sel;
	if (off == IOAPIC_WIN)
		return ioapic_read_reg(io, io->sel);
	return 0;
}

static void ioapic_mmio_write(struct device *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct ioapic *io = dev->priv;

	if (size != 4)
		return;
	if (off == IOAPIC_REGSEL)
		io->sel = (uint32_t)val & 0xff;
	else if (off == IOAPIC_WIN)
		write_reg(io, io->sel, (uint32_t)val);
}

static void ioapic_mmio_reset(struct device *dev)
{
	reset(dev->priv);
}

const struct device_ops ioapic_ops = {
	.name = "ioapic",
	.space = DEV_MMIO,
	.base = IOAPIC_BASE,
	.len = 0x1000,
	.read = ioapic_mmio_read,
	.write = ioapic_mmio_write,
	.reset = ioapic_mmio_reset,
};
