/* SPDX-License-Identifier: MIT */
/*
 * hv/acpi.c - ACPI tables in the BIOS area and the PM1a/PM timer registers
 * they describe (hv/acpi.h).
 */
#include <string.h>

#include "hv/acpi.h"
#include "hv/hpet.h"

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }

uint8_t acpi_sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* The 36-byte system description header (ACPI 5.2.6); the checksum is set
 * by finish() once the body is in. */
static void header(uint8_t *t, const char sig[4], uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, "HV    ", 6);
	memcpy(t + 16, "HVPC    ", 8);
	put32(t + 24, 1);
	memcpy(t + 28, "HV  ", 4);
	put32(t + 32, 1);
}

static void finish(uint8_t *t, uint32_t len)
{
	t[9] = 0;
	t[9] = (uint8_t)-acpi_sum(t, len);
}

static void build_fadt(uint8_t *t, uint64_t base)
{
	header(t, "FACP", 116, 1);
	put32(t + 36, (uint32_t)(base + ACPI_OFF_FACS));
	put32(t + 40, (uint32_t)(base + ACPI_OFF_DSDT));
	put16(t + 46, ACPI_SCI_IRQ);
	/* SMI_CMD 0: no transition to ACPI mode is needed or possible. */
	put32(t + 56, ACPI_PM1A_EVT);
	put32(t + 64, ACPI_PM1A_CNT);
	put32(t + 76, ACPI_PM_TMR);
	t[88] = 4;   /* PM1_EVT_LEN */
	t[89] = 2;   /* PM1_CNT_LEN */
	t[91] = 4;   /* PM_TMR_LEN */
	put16(t + 96, 101);   /* P_LVL2_LAT > 100: no C2 */
	put16(t + 98, 1001);  /* P_LVL3_LAT > 1000: no C3 */
	/* WBINVD, PROC_C1, PWR_BUTTON and SLP_BUTTON as control methods (none). */
	put32(t + 112, (1u << 0) | (1u << 2) | (1u << 4) | (1u << 5));
	finish(t, 116);
}

static void build_madt(uint8_t *t)
{
	uint8_t *e = t + 44;

	put32(t + 36, 0xfee00000u);  /* local APIC address */
	put32(t + 40, 1);            /* PCAT_COMPAT: the 8259 pair is present */
	/* Processor local APIC: UID 0, APIC ID 0, enabled. */
	e[0] = 0; e[1] = 8; e[2] = 0; e[3] = 0; put32(e + 4, 1); e += 8;
	/* I/O APIC: ID 0, 0xfec00000, GSI base 0. */
	e[0] = 1; e[1] = 12; e[2] = 0; e[3] = 0; put32(e + 4, 0xfec00000u); put32(e + 8, 0); e += 12;
	/* Interrupt source overrides: ISA IRQ 0 -> GSI 2 (bus defaults), and
	 * the SCI, IRQ 9 -> GSI 9, level-triggered, active high. */
	e[0] = 2; e[1] = 10; e[2] = 0; e[3] = 0; put32(e + 4, 2); put16(e + 8, 0); e += 10;
	e[0] = 2; e[1] = 10; e[2] = 0; e[3] = ACPI_SCI_IRQ; put32(e + 4, ACPI_SCI_IRQ); put16(e + 8, 0x000d);
	e += 10;
	/* Local APIC NMI: all processors, LINT1. */
	e[0] = 4; e[1] = 6; e[2] = 0xff; put16(e + 3, 0); e[5] = 1; e += 6;
	header(t, "APIC", (uint32_t)(e - t), 3);
	finish(t, (uint32_t)(e - t));
}

/*
 * The DSDT's body is AML at the root scope (ACPI 20.2): the sleep-state
 * packages the OS reads before it writes PM1a_CNT (ACPI 7.4.2), each
 * Name(_Sx, Package(4) { PM1a SLP_TYP, PM1b SLP_TYP, 0, 0 }) with the values
 * QEMU's pc machine gives: S3 is SLP_TYP 1, S5 (soft off) SLP_TYP 0.
 */
static void build_dsdt(uint8_t *t)
{
	static const uint8_t aml[] = {
		0x08, '_', 'S', '3', '_', 0x12, 0x06, 0x04, 0x01, 0x01, 0x00, 0x00,
		0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00,
	};

	header(t, "DSDT", 36 + sizeof(aml), 1);
	memcpy(t + 36, aml, sizeof(aml));
	finish(t, 36 + sizeof(aml));
}

/*
 * The IA-PC HPET specification's description table (1.0a, 3.2.4), as
 * QEMU's pc machine gives it: the event timer block ID (the capabilities
 * register's low half), the block's base as a generic address in system
 * memory (bit width, offset and access size 0), HPET number 0, a minimum
 * periodic tick of 0 and no page protection.
 */
static void build_hpet(uint8_t *t)
{
	header(t, "HPET", 56, 1);
	put32(t + 36, (uint32_t)HPET_CAP_ID);
	t[40] = 0;                     /* address space: system memory */
	t[41] = t[42] = t[43] = 0;     /* bit width, bit offset, access size */
	put64(t + 44, HPET_BASE);
	t[52] = 0;                     /* HPET number */
	put16(t + 53, 0);              /* main counter minimum clock tick, periodic */
	t[55] = 0;                     /* page protection and OEM attributes */
	finish(t, 56);
}

void acpi_build(uint8_t *buf, uint64_t base)
{
	uint8_t *rsdp = buf + ACPI_OFF_RSDP, *rsdt = buf + ACPI_OFF_RSDT, *xsdt = buf + ACPI_OFF_XSDT;
	uint8_t *facs = buf + ACPI_OFF_FACS;
	const uint64_t tables[3] = { base + ACPI_OFF_FADT, base + ACPI_OFF_MADT, base + ACPI_OFF_HPET };

	memset(buf, 0, ACPI_AREA_SIZE);
	build_fadt(buf + ACPI_OFF_FADT, base);
	build_madt(buf + ACPI_OFF_MADT);
	build_hpet(buf + ACPI_OFF_HPET);
	build_dsdt(buf + ACPI_OFF_DSDT);
	/* FACS (ACPI 5.2.10): no checksum; version 1, no global lock. */
	memcpy(facs, "FACS", 4);
	put32(facs + 4, 64);
	facs[32] = 1;
	header(rsdt, "RSDT", 36 + 4 * 3, 1);
	header(xsdt, "XSDT", 36 + 8 * 3, 1);
	for (unsigned i = 0; i < 3; i++) {
		put32(rsdt + 36 + 4 * i, (uint32_t)tables[i]);
		put64(xsdt + 36 + 8 * i, tables[i]);
	}
	finish(rsdt, 36 + 4 * 3);
	finish(xsdt, 36 + 8 * 3);
	/* RSDP (ACPI 5.2.5.3): checksum over the first 20 bytes, extended
	 * checksum over all 36. */
	memcpy(rsdp, "RSD PTR ", 8);
	memcpy(rsdp + 9, "HV    ", 6);
	rsdp[15] = 2;
	put32(rsdp + 16, (uint32_t)(base + ACPI_OFF_RSDT));
	put32(rsdp + 20, 36);
	put64(rsdp + 24, base + ACPI_OFF_XSDT);
	rsdp[8] = (uint8_t)-acpi_sum(rsdp, 20);
	rsdp[32] = (uint8_t)-acpi_sum(rsdp, 36);
}

/*
 * VT-d 8.1/8.3: the DMA Remapping Reporting table with one DRHD that covers
 * every PCI device of segment 0 (INCLUDE_PCI_ALL), added to the RSDT and
 * the XSDT after acpi_build().
 */
void acpi_add_dmar(uint8_t *buf, uint64_t base, uint64_t drhd, unsigned haw)
{
	uint8_t *t = buf + ACPI_OFF_DMAR, *rsdt = buf + ACPI_OFF_RSDT, *xsdt = buf + ACPI_OFF_XSDT;
	uint32_t rlen = rsdt[4] | (uint32_t)rsdt[5] << 8, xlen = xsdt[4] | (uint32_t)xsdt[5] << 8;

	header(t, "DMAR", 48 + 16, 1);
	t[36] = (uint8_t)(haw - 1);   /* host address width - 1 */
	t[37] = 0;                    /* flags: no interrupt remapping */
	put16(t + 48, 0);             /* DRHD */
	put16(t + 50, 16);
	t[52] = 1;                    /* INCLUDE_PCI_ALL */
	t[53] = 0;                    /* register set: 2^0 pages */
	put16(t + 54, 0);             /* segment 0 */
	put64(t + 56, drhd);
	finish(t, 48 + 16);
	put32(rsdt + rlen, (uint32_t)(base + ACPI_OFF_DMAR));
	put32(rsdt + 4, rlen + 4);
	finish(rsdt, rlen + 4);
	put64(xsdt + xlen, base + ACPI_OFF_DMAR);
	put32(xsdt + 4, xlen + 8);
	finish(xsdt, xlen + 8);
}

/* ------------------------------------------------------------------------ */
/* PM1a event/control and the PM timer (ACPI 4.8)                            */
/* ------------------------------------------------------------------------ */


/* The status bits that raise the SCI with their enable bits (ACPI 4.8.3.1:
 * the enable register has the status register's layout). */
#define SCI_EVENTS (ACPI_PM1_TMR_STS | ACPI_PM1_RTC_STS)

/* The first TSC at which the PM timer has counted `ticks`:
 * ceil(ticks * PC_TSC_HZ / ACPI_PM_TIMER_HZ). */
static uint64_t tsc_of_ticks(uint64_t ticks)
{
	return dev_scale(ticks, PC_TSC_HZ, ACPI_PM_TIMER_HZ - 1, ACPI_PM_TIMER_HZ);
}

/* PM timer ticks counted by `tsc` (the counter's value before its 24-bit wrap). */
static uint64_t ticks_of_tsc(uint64_t tsc)
{
	return dev_scale(tsc, ACPI_PM_TIMER_HZ, 0, PC_TSC_HZ);
}

/* The half-period (2^23 ticks) `now` falls in, and the TSC at which the
 * next one begins: when TMR_STS is due next. */
static void tmr_sync(struct acpi_pm *pm, uint64_t now)
{
	pm->tmr_half = ticks_of_tsc(now) >> 23;
	pm->tmr_next = tsc_of_ticks((pm->tmr_half + 1) << 23);
}

static void drive_sci(struct acpi_pm *pm)
{
	int level = (pm->cnt & ACPI_PM1_SCI_EN) && (pm->sts & pm->en & SCI_EVENTS);

	if (level == pm->sci)
		return;
	pm->sci = level;
	if (level)
		pm->sci_edges++;
	if (pm->set_irq)
		pm->set_irq(pm->ctx, ACPI_SCI_IRQ, level);
}

void acpi_pm_init(struct acpi_pm *pm, uint64_t (*clock)(void *ctx),
		  void (*set_irq)(void *ctx, unsigned line, int level), void *ctx)
{
	memset(pm, 0, sizeof(*pm));
	pm->clock = clock;
	pm->set_irq = set_irq;
	pm->ctx = ctx;
	pm->cnt = ACPI_PM1_SCI_EN;
	tmr_sync(pm, clock(ctx));
}

uint32_t acpi_pm_timer(uint64_t tsc)
{
	return (uint32_t)ticks_of_tsc(tsc) & 0xffffff;
}

void acpi_pm_advance(struct acpi_pm *pm)
{
	uint64_t now = pm->clock(pm->ctx);

	if (now >= pm->tmr_next) {
		tmr_sync(pm, now);
		pm->sts |= ACPI_PM1_TMR_STS;
	}
	drive_sci(pm);
}

void acpi_pm_event(struct acpi_pm *pm, uint16_t sts)
{
	pm->sts |= sts;
	drive_sci(pm);
}

uint64_t acpi_pm_next_event(const struct acpi_pm *pm)
{
	if (!(pm->en & ACPI_PM1_TMR_EN) || (pm->sts & ACPI_PM1_TMR_STS))
		return UINT64_MAX;
	return pm->tmr_next;
}

/* The 12 bytes of the block, little-endian: STS, EN, CNT, 2 reserved, TMR. */
static void image(const struct acpi_pm *pm, uint8_t img[12])
{
	memset(img, 0, 12);
	put16(img, pm->sts);
	put16(img + 2, pm->en);
	put16(img + 4, pm->cnt);
	put32(img + 8, acpi_pm_timer(pm->clock(pm->ctx)));
}

static uint64_t pm_read(struct device *dev, uint64_t off, unsigned size)
{
	uint8_t img[12];
	uint64_t v = 0;

	if (off + size > 12)
		return dev_ones(size);
	acpi_pm_advance(dev->priv);
	image(dev->priv, img);
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)img[off + i] << (8 * i);
	return v;
}

static void pm_write(struct device *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct acpi_pm *pm = dev->priv;

	acpi_pm_advance(pm);   /* a status bit due by now is set before it can be cleared */
	for (unsigned i = 0; i < size && off + i < 12; i++) {
		unsigned o = (unsigned)off + i, shift = (o & 1) * 8;
		uint16_t b = (uint16_t)(((val >> (8 * i)) & 0xff) << shift);

		if (o < 2)
			pm->sts &= (uint16_t)~b;   /* write 1 to clear */
		else if (o < 4)
			pm->en = (uint16_t)((pm->en & ~(0xff << shift)) | b);
		else if (o < 6) {
			pm->cnt = (uint16_t)((pm->cnt & ~(0xff << shift)) | b);
			/* SLP_EN (write-only) asks for the sleep state SLP_TYP
			 * names; the VM enters it after this write. */
			if (pm->cnt & ACPI_PM1_SLP_EN)
				pm->sleep = (uint8_t)(ACPI_PM1_SLP_TYP(pm->cnt) + 1);
			pm->cnt = (uint16_t)((pm->cnt & ~ACPI_PM1_SLP_EN) | ACPI_PM1_SCI_EN);
		}
	}
	drive_sci(pm);
}

static void pm_reset(struct device *dev)
{
	struct acpi_pm *pm = dev->priv;
	int sci = pm->sci;

	acpi_pm_init(pm, pm->clock, pm->set_irq, pm->ctx);
	pm->sci = sci;
	drive_sci(pm);   /* lowers a raised SCI */
}

const struct device_ops acpi_pm_ops = {
	.name = "acpi-pm",
	.space = DEV_PIO,
	.base = ACPI_PM1A_EVT,
	.len = 12,
	.read = pm_read,
	.write = pm_write,
	.reset = pm_reset,
};
