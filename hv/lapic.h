/* SPDX-License-Identifier: MIT */
/*
 * hv/lapic.h - the local APIC of the one vCPU (Intel SDM Vol. 3A chapter 11,
 * "Advanced Programmable Interrupt Controller").
 *
 * The model holds the registers a kernel programs (ID, version, TPR, PPR,
 * EOI, LDR, DFR, SVR, ISR/TMR/IRR, ESR, ICR, the six LVT entries, the timer)
 * and decides which interrupt the vCPU takes next. It knows nothing of the
 * vCPU: hv asks it and tells it.
 *
 *   guest access   xAPIC: lapic_mmio_ops, a 4 KiB MMIO window at 0xfee00000;
 *                  x2APIC: lapic_msr_read/lapic_msr_write for MSRs 0x800-0x8ff
 *                  and IA32_TSC_DEADLINE; IA32_APIC_BASE through
 *                  lapic_set_base.
 *   interrupts in  lapic_msi() (PCI MSI writes, VT-d fault events), the
 *                  IOAPIC (lapic_deliver), the timer and self-IPIs (inside).
 *   interrupts out lapic_pending() says which vector the vCPU should take
 *                  when it can; lapic_ack() is the INTA cycle (IRR -> ISR).
 *   time           the timer counts in the vCPU's TSC ticks, read through
 *                  host->clock (one APIC bus tick = one TSC tick before the
 *                  divide configuration). lapic_next_event() tells hv when the
 *                  next expiry is due so that a run slice can stop there;
 *                  lapic_advance() fires what is due.
 *
 * Only one processor exists: IPIs reach this APIC when their destination
 * names it (physical ID, logical match, broadcast or a self shorthand) and
 * are dropped otherwise. An NMI (ICR, MSI or an LVT entry in NMI mode) is
 * latched in nmi_pending for hv to hand to the vCPU; SMI, INIT and SIPI are
 * counted, not delivered.
 */
#ifndef HV_LAPIC_H
#define HV_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/devices.h"

/* IA32_APIC_BASE (SDM Vol. 3A 11.4.4, Figure 11-5). */
#define MSR_IA32_APIC_BASE   0x1b
#define APIC_BASE_BSP        (1ULL << 8)
#define APIC_BASE_EXTD       (1ULL << 10)  /* x2APIC mode (SDM 11.12.1) */
#define APIC_BASE_EN         (1ULL << 11)  /* global enable */
#define APIC_DEFAULT_BASE    0xfee00000ULL
#define MSR_IA32_TSC_DEADLINE 0x6e0        /* SDM 11.5.4.1 */
#define MSR_X2APIC_FIRST     0x800         /* SDM 11.12.1.2, Table 11-6 */
#define MSR_X2APIC_LAST      0x8ff

/* Register offsets in the xAPIC page (SDM Vol. 3A 11.4.1, Table 11-1); the
 * x2APIC MSR of a register is 0x800 + offset / 16. */
#define APIC_ID      0x020
#define APIC_VERSION 0x030
#define APIC_TPR     0x080
#define APIC_APR     0x090
#define APIC_PPR     0x0a0
#define APIC_EOI     0x0b0
#define APIC_RRD     0x0c0
#define APIC_LDR     0x0d0
#define APIC_DFR     0x0e0
#define APIC_SVR     0x0f0
#define APIC_ISR     0x100  /* 8 registers, 0x100-0x170 */
#define APIC_TMR     0x180
#define APIC_IRR     0x200
#define APIC_ESR     0x280
#define APIC_ICR     0x300
#define APIC_ICR2    0x310
#define APIC_LVTT    0x320  /* timer */
#define APIC_LVTTHMR 0x330  /* thermal sensor */
#define APIC_LVTPC   0x340  /* performance counters */
#define APIC_LVT0    0x350  /* LINT0 */
#define APIC_LVT1    0x360  /* LINT1 */
#define APIC_LVTERR  0x370  /* error */
#define APIC_TMICT   0x380  /* timer initial count */
#define APIC_TMCCT   0x390  /* timer current count */
#define APIC_TDCR    0x3e0  /* timer divide configuration */
#define APIC_SELF_IPI 0x3f0 /* x2APIC only (MSR 0x83f) */

/* Version register: version 0x14 (an integrated APIC, as QEMU's), six LVT
 * entries (max LVT field = 5), no EOI-broadcast suppression. */
#define APIC_VERSION_VALUE 0x00050014u

/* SVR (SDM 11.9). */
#define APIC_SVR_ENABLE  (1u << 8)
#define APIC_SVR_FOCUS   (1u << 9)

/* LVT fields (SDM 11.5.1, Figure 11-8). */
#define APIC_LVT_VECTOR     0xffu
#define APIC_LVT_DM_SHIFT   8
#define APIC_LVT_DM_MASK    (7u << 8)
#define APIC_LVT_STATUS     (1u << 12)
#define APIC_LVT_POLARITY   (1u << 13)
#define APIC_LVT_REMOTE_IRR (1u << 14)
#define APIC_LVT_LEVEL      (1u << 15)
#define APIC_LVT_MASKED     (1u << 16)
#define APIC_LVT_TIMER_SHIFT 17
#define APIC_LVT_TIMER_ONESHOT  (0u << 17)
#define APIC_LVT_TIMER_PERIODIC (1u << 17)
#define APIC_LVT_TIMER_TSCDEADLINE (2u << 17)
#define APIC_LVT_TIMER_MODE (3u << 17)

/* Delivery modes (LVT, ICR, MSI data; SDM 11.6.1). */
#define APIC_DM_FIXED    0
#define APIC_DM_LOWEST   1
#define APIC_DM_SMI      2
#define APIC_DM_NMI      4
#define APIC_DM_INIT     5
#define APIC_DM_STARTUP  6
#define APIC_DM_EXTINT   7

/* ICR fields (SDM 11.6.1, Figure 11-12). */
#define APIC_ICR_DEST_LOGICAL (1u << 11)
#define APIC_ICR_BUSY         (1u << 12)
#define APIC_ICR_LEVEL_ASSERT (1u << 14)
#define APIC_ICR_TRIGGER_LEVEL (1u << 15)
#define APIC_ICR_SHORTHAND_SHIFT 18
#define APIC_DEST_NOSHORT  0
#define APIC_DEST_SELF     1
#define APIC_DEST_ALLINC   2
#define APIC_DEST_ALLBUT   3

/* ESR bits (SDM 11.5.3, Figure 11-9). */
#define APIC_ESR_SEND_ILLEGAL   (1u << 5)
#define APIC_ESR_RECV_ILLEGAL   (1u << 6)
#define APIC_ESR_ILLEGAL_REG    (1u << 7)

/* MSI address and data (SDM 11.11.1, Figures 11-24 and 11-25). */
#define MSI_ADDR_BASE       0xfee00000ULL
#define MSI_ADDR_BASE_MASK  0xfff00000ULL
#define MSI_ADDR_DEST_SHIFT 12      /* bits 19:12: destination ID */
#define MSI_ADDR_RH         (1u << 3)
#define MSI_ADDR_DM_LOGICAL (1u << 2)
#define MSI_ADDR_IR_FORMAT  (1u << 4)  /* VT-d remappable format (VT-d 5.1.5.2) */
#define MSI_DATA_VECTOR     0xffu
#define MSI_DATA_DM_SHIFT   8
#define MSI_DATA_LEVEL_ASSERT (1u << 14)
#define MSI_DATA_TRIGGER_LEVEL (1u << 15)

#define LAPIC_NLVT 6

/* What the APIC needs from its surroundings. */
struct lapic_host {
	/* The vCPU's TSC now. Required. */
	uint64_t (*clock)(void *ctx);
	/* EOI of a level-triggered vector: broadcast to the IOAPIC. May be NULL. */
	void (*eoi)(void *ctx, uint8_t vector);
	void *ctx;
};

/*
 * The APIC's state.
 *   host, initial_id: set once by lapic_init.
 *   base: IA32_APIC_BASE (lapic_set_base).
 *   registers: changed by guest accesses, interrupts and the timer;
 *     lapic_reset puts them back to their power-up values (SDM 11.4.7.1).
 *   timer: the count was cnt_base at TSC tick tm_base; it runs down one per
 *     2^tm_shift ticks; tm_fired counts the expiries delivered since then
 *     (periodic mode reloads tmict). armed is false once a one-shot count
 *     reached 0 or the timer was never started. deadline: IA32_TSC_DEADLINE.
 *   counters: events that one vCPU cannot take (NMI, INIT, SMI, SIPI,
 *     IPIs to other APICs), kept for the report.
 */
struct lapic {
	struct lapic_host host;
	uint32_t initial_id;
	uint64_t base;

	uint32_t id, tpr, ldr, dfr, svr, esr, esr_pending;
	uint32_t icr_lo, icr_hi;
	uint32_t lvt[LAPIC_NLVT];  /* timer, thermal, perf, LINT0, LINT1, error */
	uint32_t tmict, tdcr;
	uint32_t irr[8], isr[8], tmr[8];

	bool armed;
	uint64_t tm_base, tm_fired;
	uint32_t cnt_base;
	unsigned tm_shift;
	uint64_t deadline;

	bool nmi_pending;  /* an NMI for the vCPU, not yet handed to it */
	uint64_t nmi, init, sipi, smi, ipi_dropped;
	uint64_t timer_irqs, msis;
};

/* Power-up state for an APIC whose ID is `id` (the BSP: IA32_APIC_BASE =
 * 0xfee00000 | EN | BSP, xAPIC mode). */
void lapic_init(struct lapic *a, uint32_t id, const struct lapic_host *host);
/* Back to the power-up register values (keeps host and IA32_APIC_BASE). */
void lapic_reset(struct lapic *a);

/* IA32_APIC_BASE write (SDM 11.12.5, Figure 11-27): 0, or -EINVAL for a
 * reserved bit or a transition the architecture forbids (the vCPU raises
 * #GP). `maxphyaddr` bounds the base address. */
int lapic_set_base(struct lapic *a, uint64_t val, unsigned maxphyaddr);
static inline bool lapic_x2apic_mode(const struct lapic *a)
{
	return (a->base & (APIC_BASE_EN | APIC_BASE_EXTD)) == (APIC_BASE_EN | APIC_BASE_EXTD);
}
static inline bool lapic_hw_enabled(const struct lapic *a)
{
	return (a->base & APIC_BASE_EN) != 0;
}

/* A 32-bit register read/write through the xAPIC page at offset `off`. */
uint32_t lapic_mmio_read32(struct lapic *a, unsigned off);
void lapic_mmio_write32(struct lapic *a, unsigned off, uint32_t val);
/* The 4 KiB window at 0xfee00000 (priv: struct lapic). */
extern const struct device_ops lapic_mmio_ops;

/* RDMSR/WRMSR of the x2APIC range or IA32_TSC_DEADLINE: 0, or -EINVAL where
 * the SDM says #GP (not in x2APIC mode, a write-only or absent register,
 * reserved bits, a non-zero EOI). */
int lapic_msr_read(struct lapic *a, uint32_t msr, uint64_t *val);
int lapic_msr_write(struct lapic *a, uint32_t msr, uint64_t val);

/* CR8 is TPR[7:4] (SDM 10.8.6.1): MOV to CR8 writes TPR = cr8 << 4. */
static inline uint8_t lapic_get_cr8(const struct lapic *a) { return (uint8_t)(a->tpr >> 4); }
void lapic_set_cr8(struct lapic *a, uint8_t cr8);

/*
 * Deliver a fixed-vector MSI: a 4-byte write of `data` to `addr` in the
 * 0xfee00000-0xfeefffff window (SDM 11.11: destination ID in address bits
 * 19:12, bit 2 logical destination; vector in data bits 7:0, delivery mode
 * 10:8, trigger mode bit 15). Returns
 *   0            the vector is now pending in IRR (or already was), or
 *                an NMI is latched (nmi_pending),
 *   -EINVAL      the address is not an MSI address, or uses the VT-d
 *                remappable format (remap it before calling),
 *   -ENXIO       the destination does not name this APIC, or the APIC is
 *                disabled: the message is dropped,
 *   -EOPNOTSUPP  a delivery mode other than fixed, lowest priority or
 *                NMI (SMI, INIT are counted, not delivered),
 *   -ERANGE      vector below 16 (illegal; ESR records it).
 */
int lapic_msi(struct lapic *a, uint64_t addr, uint32_t data);

/* Accept a fixed interrupt from the IOAPIC or another source wired to this
 * APIC: IRR set (TMR too when level-triggered). false when the APIC is
 * disabled or the vector is illegal. */
bool lapic_deliver(struct lapic *a, uint8_t vector, bool level);

/* The vector the vCPU should take next (IRR above the processor priority,
 * SDM 11.8.3.1), or -1. */
int lapic_pending(const struct lapic *a);
/* The vCPU takes the interrupt (INTA): the highest deliverable IRR vector
 * moves to ISR and is returned; the spurious vector when none is deliverable
 * (SDM 11.9). */
uint8_t lapic_ack(struct lapic *a);
/* Processor priority (SDM 11.8.3.1). */
uint32_t lapic_ppr(const struct lapic *a);
/* Does the 8259's INTR reach the vCPU (LINT0 unmasked in ExtINT mode, or the
 * APIC globally disabled)? */
bool lapic_accepts_pic(const struct lapic *a);

/* Fire every timer expiry due at or before the clock's current value. */
void lapic_advance(struct lapic *a);
/* The timer's current count at TSC tick `tsc` (what TMCCT reads then). */
uint32_t lapic_timer_count(const struct lapic *a, uint64_t tsc);
/* The TSC tick of the next timer expiry, UINT64_MAX when none is armed. */
uint64_t lapic_next_event(const struct lapic *a);
/* Does an expiry of the timer raise no interrupt (its LVT entry masked)? */
static inline bool lapic_timer_masked(const struct lapic *a)
{
	return (a->lvt[0] & APIC_LVT_MASKED) != 0;
}

#endif /* HV_LAPIC_H */
