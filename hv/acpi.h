/* SPDX-License-Identifier: MIT */
/*
 * hv/acpi.h - the ACPI tables hv gives the guest (ACPI 6.x specification,
 * chapter 5) and the fixed-hardware registers they describe.
 *
 * Tables, built by acpi_build() into the BIOS area (the memory map marks
 * [0xf0000, 0x100000) reserved), where firmware puts them and where the
 * RSDP search of ACPI 5.2.5.1 (16-byte boundaries in 0xe0000-0xfffff) finds
 * it:
 *   RSDP  revision 2 at 0xf1000, OEM "HV    ", pointing to the RSDT and the XSDT
 *   RSDT / XSDT  the FADT, the MADT and the HPET table
 *   FADT  revision 1 layout (116 bytes): FACS, DSDT, SCI on IRQ 9, the PM1a
 *         event block at 0x600, the PM1a control block at 0x604, the PM
 *         timer at 0x608 (24 bits), no SMI command port (ACPI mode is on
 *         from reset: SCI_EN reads 1)
 *   FACS  64 bytes, waking vector 0 (the OS writes it before S3; hv reads it
 *         when the machine wakes)
 *   DSDT  two AML objects at the root: _S3 (SLP_TYP 1) and _S5 (SLP_TYP 0),
 *         the sleep states hv implements, with QEMU's pc machine's values
 *   MADT  local APIC at 0xfee00000 with PCAT_COMPAT (the 8259s exist), one
 *         processor (APIC ID 0), the I/O APIC (ID 0, 0xfec00000, GSI base 0),
 *         the overrides ISA IRQ 0 -> GSI 2 (edge) and IRQ 9 -> GSI 9 (level,
 *         active high), and LINT1 as NMI
 *   HPET  the HPET block of hv/hpet.h (IA-PC HPET 1.0a, 3.2.4), as QEMU's pc
 *         machine describes it: block ID 0x8086a201, base 0xfed00000 in
 *         system memory, HPET number 0, minimum periodic tick 0, no page
 *         protection
 *   DMAR  only with a guest-visible VT-d unit (acpi_add_dmar): one DRHD,
 *         INCLUDE_PCI_ALL, at the unit's register base
 * Every table's bytes sum to 0 (mod 256), the RSDP's first 20 bytes too.
 *
 * Fixed hardware (pm_ops, ports 0x600-0x60b): PM1a status/enable (write 1
 * to clear status), PM1a control (SCI_EN reads 1, SLP_TYP is stored, SLP_EN
 * reads 0), the PM timer counting 3.579545 MHz from the guest's TSC at
 * PC_TSC_HZ. The PM1 events (ACPI 4.8.3.1): TMR_STS is set each time bit
 * 23 of the PM timer changes (every 2^23 ticks, 2.34 s), RTC_STS each time
 * the RTC raises IRQ 8 (acpi_pm_event), WAK_STS when the machine wakes from
 * S3 (it has no enable bit and raises no SCI). While a status bit and its
 * enable bit (TMR_EN, RTC_EN) are both set, the SCI is asserted: IRQ 9,
 * level-triggered and active high as the FADT and the MADT's override say,
 * to the 8259 pair and the I/O APIC; writing 1 to the status bit lowers it.
 * A write that sets SLP_EN leaves the request in `sleep` for
 * the VM, which enters the state after the write (hv/vm_sleep.c): SLP_TYP 1
 * is S3 (sleep, RAM kept, woken by an RTC interrupt when PM1a_EN.RTC_EN is
 * set), SLP_TYP 0 is S5 (soft off: the run ends); other values are stored
 * and ignored, as states the DSDT does not declare.
 */
#ifndef HV_ACPI_H
#define HV_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "hv/devices.h"

/* The RSDP, then the tables: the BIOS area's second page (the first is the
 * DMA canary of hv/vm_dma.h). */
#define ACPI_BASE         0xf1000ULL
#define ACPI_AREA_SIZE    0x1000u      /* what acpi_build fills */
#define ACPI_PM1A_EVT     0x600
#define ACPI_PM1A_CNT     0x604
#define ACPI_PM_TMR       0x608
#define ACPI_SCI_IRQ      9
#define ACPI_PM_TIMER_HZ  3579545ULL

/* PM1 status and enable bits (ACPI 4.8.3.1) and control bits (4.8.3.2). */
#define ACPI_PM1_TMR_STS   0x0001   /* status: PM timer bit 23 changed */
#define ACPI_PM1_TMR_EN    0x0001   /* enable: TMR_STS raises the SCI */
#define ACPI_PM1_RTC_STS   0x0400   /* status: the RTC raised its interrupt */
#define ACPI_PM1_WAK_STS   0x8000   /* status: the machine woke from a sleep state */
#define ACPI_PM1_RTC_EN    0x0400   /* enable: an RTC interrupt wakes the machine */
#define ACPI_PM1_SCI_EN    0x0001
#define ACPI_PM1_SLP_EN    0x2000   /* write-only */
#define ACPI_PM1_SLP_TYP(cnt)  (((unsigned)(cnt) >> 10) & 7)
/* The SLP_TYP values the DSDT's _S3 and _S5 give. */
#define ACPI_SLP_TYP_S3    1
#define ACPI_SLP_TYP_S5    0
/* FACS fields (ACPI 5.2.10): the real-mode waking vector (32 bits) and the
 * protected-mode one (64 bits, used when not 0). */
#define ACPI_FACS_WAKING_VECTOR    12
#define ACPI_FACS_X_WAKING_VECTOR  24
/* The guest TSC's nominal rate for devices that count time (one tick a
 * nanosecond; hv's software vCPU retires one instruction per tick). */
#define PC_TSC_HZ         1000000000ULL

/* Offsets of the tables from ACPI_BASE. */
#define ACPI_OFF_RSDP   0x000
#define ACPI_OFF_RSDT   0x040   /* room for 23 entries */
#define ACPI_OFF_FACS   0x0c0   /* 64-byte aligned (ACPI 5.2.10) */
#define ACPI_OFF_FADT   0x100
#define ACPI_OFF_DSDT   0x180
#define ACPI_OFF_MADT   0x200
#define ACPI_OFF_DMAR   0x300
#define ACPI_OFF_HPET   0x380
#define ACPI_OFF_XSDT   0x400   /* last: the rest of the page */

/* Fill buf (ACPI_AREA_SIZE bytes) with the tables as they sit at guest
 * physical address `base`. */
void acpi_build(uint8_t *buf, uint64_t base);
/* Add a DMAR table (VT-d 8.1) announcing one remapping unit with its
 * registers at `drhd` for all PCI devices, host address width `haw` bits, to
 * the tables acpi_build() made in buf (RSDT and XSDT gain its address). */
void acpi_add_dmar(uint8_t *buf, uint64_t base, uint64_t drhd, unsigned haw);
/* The sum of `len` bytes, mod 256 (0 for a valid table). */
uint8_t acpi_sum(const uint8_t *p, size_t len);

/*
 * PM1a and PM timer state.
 *   clock, set_irq, ctx: set once; the guest TSC now, and where the SCI
 *     goes (set_irq may be NULL: nowhere).
 *   sts, en, cnt: guest-visible registers.
 *   sleep: SLP_TYP + 1 of the last write that set SLP_EN (0: none); the VM
 *     clears it when it acts on it.
 *   tmr_half: PM timer ticks >> 23 when TMR_STS was last brought up to date;
 *     tmr_next: the TSC at which that count next changes.
 *   sci: the SCI's level as last driven; sci_edges: its rising edges.
 */
struct acpi_pm {
	uint64_t (*clock)(void *ctx);
	void (*set_irq)(void *ctx, unsigned line, int level);
	void *ctx;
	uint16_t sts, en, cnt;
	uint8_t sleep;
	uint64_t tmr_half, tmr_next;
	int sci;
	uint64_t sci_edges;
};

/* Power-up state (the PM timer runs on from the clock's value). */
void acpi_pm_init(struct acpi_pm *pm, uint64_t (*clock)(void *ctx),
		  void (*set_irq)(void *ctx, unsigned line, int level), void *ctx);
/* Bring TMR_STS up to the guest's time now and drive the SCI. */
void acpi_pm_advance(struct acpi_pm *pm);
/* Set status bits (ACPI_PM1_*_STS) from outside (the RTC's IRQ 8, a wake)
 * and drive the SCI. */
void acpi_pm_event(struct acpi_pm *pm, uint16_t sts);
/* The TSC at which TMR_STS will rise and raise the SCI, UINT64_MAX when it
 * cannot (TMR_EN clear or TMR_STS already set). */
uint64_t acpi_pm_next_event(const struct acpi_pm *pm);
/* The PM timer's 24-bit value at TSC tick `tsc`. */
uint32_t acpi_pm_timer(uint64_t tsc);
extern const struct device_ops acpi_pm_ops;  /* ports 0x600-0x60b, priv: struct acpi_pm */

#endif /* HV_ACPI_H */
