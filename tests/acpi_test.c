/* SPDX-License-Identifier: MIT */
/*
 * tests/acpi_test.c - the ACPI tables (hv/acpi.c) as a guest's OS finds
 * them: the RSDP on a 16-byte boundary of the BIOS area with both checksums,
 * RSDT and XSDT naming the FADT and MADT, every table's checksum, the FADT's
 * and the MADT's fields byte for byte; and the PM1a/PM timer registers.
 */
#include <stdlib.h>
#include <string.h>

#include "hv/acpi.h"
#include "hv/hpet.h"
#include "tests/testutil.h"

static uint8_t area[ACPI_AREA_SIZE];

static uint32_t get32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* The table at guest-physical `gpa`, which must lie in the area. */
static const uint8_t *at(uint64_t gpa)
{
	assert_true(gpa >= ACPI_BASE && gpa - ACPI_BASE < ACPI_AREA_SIZE);
	return area + (gpa - ACPI_BASE);
}

/* A table with signature `sig`, valid length and checksum. */
static const uint8_t *table(uint64_t gpa, const char *sig)
{
	const uint8_t *t = at(gpa);

	assert_memory_equal(t, sig, 4);
	assert_true(get32(t + 4) >= 36 && gpa - ACPI_BASE + get32(t + 4) <= ACPI_AREA_SIZE);
	assert_int_equal(acpi_sum(t, get32(t + 4)), 0);
	assert_memory_equal(t + 10, "HV    ", 6);
	return t;
}

static void test_rsdp_and_roots(void **state)
{
	const uint8_t *rsdp = NULL, *rsdt, *xsdt;

	(void)state;
	acpi_build(area, ACPI_BASE);
	/* The OS's search: "RSD PTR " on a 16-byte boundary. */
	for (unsigned off = 0; off < ACPI_AREA_SIZE; off += 16)
		if (memcmp(area + off, "RSD PTR ", 8) == 0) {
			rsdp = area + off;
			break;
		}
	assert_non_null(rsdp);
	assert_ptr_equal(rsdp, area);
	assert_int_equal(acpi_sum(rsdp, 20), 0);
	assert_int_equal(acpi_sum(rsdp, 36), 0);
	assert_int_equal(rsdp[15], 2);
	assert_int_equal(get32(rsdp + 20), 36);
	rsdt = table(get32(rsdp + 16), "RSDT");
	xsdt = table(get64(rsdp + 24), "XSDT");
	assert_int_equal(get32(rsdt + 4), 48);
	assert_int_equal(get32(xsdt + 4), 60);
	assert_int_equal(get32(rsdt + 36), ACPI_BASE + ACPI_OFF_FADT);
	assert_int_equal(get32(rsdt + 40), ACPI_BASE + ACPI_OFF_MADT);
	assert_int_equal(get32(rsdt + 44), ACPI_BASE + ACPI_OFF_HPET);
	assert_int_equal(get64(xsdt + 36), ACPI_BASE + ACPI_OFF_FADT);
	assert_int_equal(get64(xsdt + 44), ACPI_BASE + ACPI_OFF_MADT);
	assert_int_equal(get64(xsdt + 52), ACPI_BASE + ACPI_OFF_HPET);
	/* No two tables overlap: each one ends before the next begins. */
	{
		static const unsigned off[] = {
			ACPI_OFF_RSDP, ACPI_OFF_RSDT, ACPI_OFF_FACS, ACPI_OFF_FADT, ACPI_OFF_DSDT,
			ACPI_OFF_MADT, ACPI_OFF_DMAR, ACPI_OFF_HPET, ACPI_OFF_XSDT,
		};
		acpi_add_dmar(area, ACPI_BASE, 0xfed90000ULL, 48);   /* the longest roots */
		for (unsigned i = 0; i + 1 < sizeof(off) / sizeof(off[0]); i++) {
			uint32_t len = i == 0 ? 36 : off[i] == ACPI_OFF_DMAR ? 64 : get32(area + off[i] + 4);

			assert_true(off[i] + len <= off[i + 1]);
		}
		assert_true(ACPI_OFF_XSDT + get32(area + ACPI_OFF_XSDT + 4) <= ACPI_AREA_SIZE);
		acpi_build(area, ACPI_BASE);
	}
	/* A changed byte breaks the checksum. */
	area[ACPI_OFF_MADT + 50] ^= 1;
	assert_int_not_equal(acpi_sum(at(ACPI_BASE + ACPI_OFF_MADT), get32(area + ACPI_OFF_MADT + 4)), 0);
}

static void test_fadt_facs_dsdt(void **state)
{
	const uint8_t *f, *facs;

	(void)state;
	acpi_build(area, ACPI_BASE);
	f = table(ACPI_BASE + ACPI_OFF_FADT, "FACP");
	assert_int_equal(get32(f + 4), 116);
	assert_int_equal(f[8], 1);
	facs = at(get32(f + 36));
	assert_memory_equal(facs, "FACS", 4);
	assert_int_equal(get32(facs + 4), 64);
	assert_int_equal((get32(f + 36) & 63), 0);     /* 64-byte aligned */
	assert_int_equal(get32(facs + 12), 0);         /* waking vector */
	table(get32(f + 40), "DSDT");
	assert_int_equal(get32(at(get32(f + 40)) + 4), 60);
	assert_int_equal(get16(f + 46), 9);            /* SCI_INT */
	assert_int_equal(get32(f + 48), 0);            /* no SMI_CMD */
	assert_int_equal(get32(f + 56), 0x600);        /* PM1a_EVT_BLK */
	assert_int_equal(get32(f + 64), 0x604);        /* PM1a_CNT_BLK */
	assert_int_equal(get32(f + 76), 0x608);        /* PM_TMR_BLK */
	assert_int_equal(f[88], 4);
	assert_int_equal(f[89], 2);
	assert_int_equal(f[91], 4);
	assert_int_equal(get32(f + 112), 0x35);        /* WBINVD PROC_C1 PWR/SLP_BUTTON */
}

/*
 * The DSDT's AML (ACPI 20.2): at the root, NameOp (0x08) "_S3_" PackageOp
 * (0x12) PkgLength 6, NumElements 4, then OneOp/ZeroOp elements: _S3 is
 * { 1, 1, 0, 0 } and _S5 { 0, 0, 0, 0 }, the SLP_TYP values PM1a_CNT takes.
 */
static void test_dsdt_sleep_states(void **state)
{
	static const uint8_t aml[] = {
		0x08, 0x5f, 0x53, 0x33, 0x5f, 0x12, 0x06, 0x04, 0x01, 0x01, 0x00, 0x00,
		0x08, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00,
	};
	const uint8_t *d;

	(void)state;
	acpi_build(area, ACPI_BASE);
	d = table(ACPI_BASE + ACPI_OFF_DSDT, "DSDT");
	assert_int_equal(get32(d + 4), 36 + sizeof(aml));
	assert_int_equal(d[8], 1);
	assert_memory_equal(d + 36, aml, sizeof(aml));
	assert_int_equal(ACPI_SLP_TYP_S3, aml[8]);
	assert_int_equal(ACPI_SLP_TYP_S5, aml[20]);
	/* The DSDT ends before the MADT begins. */
	assert_true(ACPI_OFF_DSDT + 36 + sizeof(aml) <= ACPI_OFF_MADT);
}

/*
 * The HPET description table (IA-PC HPET 1.0a, 3.2.4) byte for byte, as
 * QEMU's pc machine has it: revision 1, 56 bytes, event timer block ID
 * 0x8086a201 (the capabilities register's low half: vendor 0x8086,
 * LEG_RT_CAP, 64-bit counter, three timers, revision 1), the base
 * 0xfed00000 as a generic address in system memory, HPET number 0, no
 * minimum tick, no page protection.
 */
static void test_hpet_table(void **state)
{
	static const uint8_t body[] = {
		0x01, 0xa2, 0x86, 0x80,                           /* event timer block ID */
		0x00, 0x00, 0x00, 0x00,                           /* GAS: memory, width, offset, size */
		0x00, 0x00, 0xd0, 0xfe, 0x00, 0x00, 0x00, 0x00,   /* GAS: address */
		0x00,                                             /* HPET number */
		0x00, 0x00,                                       /* minimum clock tick */
		0x00,                                             /* page protection */
	};
	const uint8_t *t;

	(void)state;
	acpi_build(area, ACPI_BASE);
	t = table(ACPI_BASE + ACPI_OFF_HPET, "HPET");
	assert_int_equal(get32(t + 4), 56);
	assert_int_equal(t[8], 1);
	assert_memory_equal(t + 36, body, sizeof(body));
	assert_int_equal(get32(t + 36), HPET_CAP_ID);      /* what the block itself reports */
	assert_int_equal(get64(t + 44), HPET_BASE);
}

static void test_madt(void **state)
{
	static const uint8_t entries[] = {
		0, 8, 0, 0, 1, 0, 0, 0,                           /* local APIC 0, enabled */
		1, 12, 0, 0, 0x00, 0x00, 0xc0, 0xfe, 0, 0, 0, 0,  /* I/O APIC 0, 0xfec00000, GSI 0 */
		2, 10, 0, 0, 2, 0, 0, 0, 0, 0,                    /* IRQ 0 -> GSI 2 */
		2, 10, 0, 9, 9, 0, 0, 0, 0x0d, 0,                 /* IRQ 9 -> GSI 9, level, high */
		4, 6, 0xff, 0, 0, 1,                              /* NMI on LINT1 */
	};
	const uint8_t *m;

	(void)state;
	acpi_build(area, ACPI_BASE);
	m = table(ACPI_BASE + ACPI_OFF_MADT, "APIC");
	assert_int_equal(get32(m + 4), 44 + sizeof(entries));
	assert_int_equal(get32(m + 36), 0xfee00000);
	assert_int_equal(get32(m + 40), 1);
	assert_memory_equal(m + 44, entries, sizeof(entries));
}

static uint64_t tsc_now;
static uint64_t test_clock(void *ctx)
{
	(void)ctx;
	return tsc_now;
}

static void test_pm_registers(void **state)
{
	struct acpi_pm pm;
	struct dev_bus bus;

	(void)state;
	memset(&bus, 0, sizeof(bus));
	acpi_pm_init(&pm, test_clock, NULL, NULL);
	assert_ok(dev_bus_add(&bus, &acpi_pm_ops, UINT64_MAX, &pm, NULL));
	/* 1 s of TSC is 3579545 PM timer ticks, modulo 2^24. */
	tsc_now = PC_TSC_HZ;
	assert_int_equal(dev_bus_pio_read(&bus, ACPI_PM_TMR, 4), 3579545 & 0xffffff);
	tsc_now = 1000;  /* 1 us: 3 ticks */
	assert_int_equal(dev_bus_pio_read(&bus, ACPI_PM_TMR, 4), 3);
	/* PM1a_CNT: SCI_EN always set; SLP_EN reads 0. SLP_TYP is kept, and
	 * a write with SLP_EN leaves SLP_TYP + 1 for the VM. */
	assert_int_equal(dev_bus_pio_read(&bus, ACPI_PM1A_CNT, 2), 1);
	dev_bus_pio_write(&bus, ACPI_PM1A_CNT, 2, 0x0400);
	assert_int_equal(pm.sleep, 0);
	dev_bus_pio_write(&bus, ACPI_PM1A_CNT, 2, 0x2400);
	assert_int_equal(dev_bus_pio_read(&bus, ACPI_PM1A_CNT, 2), 0x0401);
	assert_int_equal(pm.sleep, ACPI_SLP_TYP_S3 + 1);
	pm.sleep = 0;
	dev_bus_pio_write(&bus, ACPI_PM1A_CNT + 1, 1, 0x20);   /* the high byte alone: S5 */
	assert_int_equal(pm.sleep, ACPI_SLP_TYP_S5 + 1);
	assert_int_equal(dev_bus_pio_read(&bus, ACPI_PM1A_CNT, 2), 0x0001);
	pm.sleep = 0;
	dev_bus_pio_write(&bus, ACPI_PM1A_CNT, 1, 0xff);       /* the low byte cannot sleep */
	assert_int_equal(pm.sleep, 0);
	dev_bus_pio_write(&bus, ACPI_PM1A_EVT, 4, 0x3c000000);  /* 32 bits from PM1a_STS */
	assert_int_equal(pm.sleep, 0);
	assert_int_equal(pm.en, 0x3c00);
	/* PM1a_EN is stored; PM1a_STS is write-1-to-clear. */
	dev_bus_pio_write(&bus, ACPI_PM1A_EVT + 2, 2, 0x0400);
	assert_int_equal(dev_bus_pio_read(&bus, ACPI_PM1A_EVT + 2, 2), 0x0400);
	pm.sts = 0x8001;
	dev_bus_pio_write(&bus, ACPI_PM1A_EVT, 2, 0x0001);
	assert_int_equal(dev_bus_pio_read(&bus, ACPI_PM1A_EVT, 2), 0x8000);
	assert_int_equal(dev_bus_pio_read(&bus, ACPI_PM1A_EVT, 4), 0x04008000);
}

static unsigned sci_calls;
static int sci_line, sci_level;
static void test_set_irq(void *ctx, unsigned line, int level)
{
	(void)ctx;
	sci_calls++;
	sci_line = (int)line;
	sci_level = level;
}

/*
 * The SCI (ACPI 4.8.3.1, 5.2.9 SCI_INT): TMR_STS rises each time bit 23 of
 * the PM timer changes, the first time at tick 2^23 = TSC
 * ceil(2^23 * 10^9 / 3579545) = 2343484438, the next at tick 2^24 = TSC
 * 4686968875; with TMR_EN the status raises IRQ 9, and writing 1 to it
 * lowers the line. RTC_STS with RTC_EN does the same; WAK_STS has no enable
 * bit and raises nothing. A device reset lowers a raised SCI.
 */
static void test_sci(void **state)
{
	struct acpi_pm pm;
	struct dev_bus bus;

	(void)state;
	memset(&bus, 0, sizeof(bus));
	tsc_now = 0;
	sci_calls = 0;
	acpi_pm_init(&pm, test_clock, test_set_irq, NULL);
	assert_ok(dev_bus_add(&bus, &acpi_pm_ops, UINT64_MAX, &pm, NULL));
	assert_int_equal(acpi_pm_next_event(&pm), UINT64_MAX);          /* TMR_EN clear */
	dev_bus_pio_write(&bus, ACPI_PM1A_EVT + 2, 2, ACPI_PM1_TMR_EN);
	assert_int_equal(acpi_pm_next_event(&pm), 2343484438ULL);
	tsc_now = 2343484437ULL;
	acpi_pm_advance(&pm);
	assert_int_equal(dev_bus_pio_read(&bus, ACPI_PM1A_EVT, 2), 0);
	assert_int_equal(dev_bus_pio_read(&bus, ACPI_PM_TMR, 4), 0x7fffff);
	assert_int_equal(sci_calls, 0);
	tsc_now = 2343484438ULL;
	assert_int_equal(dev_bus_pio_read(&bus, ACPI_PM_TMR, 4), 0x800000);
	assert_int_equal(dev_bus_pio_read(&bus, ACPI_PM1A_EVT, 2), ACPI_PM1_TMR_STS);
	assert_int_equal(sci_calls, 1);
	assert_int_equal(sci_line, ACPI_SCI_IRQ);
	assert_int_equal(sci_level, 1);
	assert_int_equal(acpi_pm_next_event(&pm), UINT64_MAX);          /* already raised */
	dev_bus_pio_write(&bus, ACPI_PM1A_EVT, 2, ACPI_PM1_TMR_STS);     /* write 1 to clear */
	assert_int_equal(sci_calls, 2);
	assert_int_equal(sci_level, 0);
	assert_int_equal(dev_bus_pio_read(&bus, ACPI_PM1A_EVT, 2), 0);
	assert_int_equal(acpi_pm_next_event(&pm), 4686968875ULL);
	/* With TMR_EN clear the status still rises, silently; setting TMR_EN
	 * then raises the SCI at once. */
	dev_bus_pio_write(&bus, ACPI_PM1A_EVT + 2, 2, 0);
	tsc_now = 4686968875ULL;
	acpi_pm_advance(&pm);
	assert_int_equal(pm.sts, ACPI_PM1_TMR_STS);
	assert_int_equal(sci_calls, 2);
	dev_bus_pio_write(&bus, ACPI_PM1A_EVT + 2, 2, ACPI_PM1_TMR_EN);
	assert_int_equal(sci_calls, 3);
	assert_int_equal(sci_level, 1);
	assert_int_equal(pm.sci_edges, 2);
	dev_bus_pio_write(&bus, ACPI_PM1A_EVT, 2, ACPI_PM1_TMR_STS);
	assert_int_equal(sci_level, 0);
	/* RTC_STS: silent without RTC_EN, then raised by enabling it. */
	acpi_pm_event(&pm, ACPI_PM1_RTC_STS);
	assert_int_equal(sci_calls, 4);
	dev_bus_pio_write(&bus, ACPI_PM1A_EVT + 2, 2, ACPI_PM1_RTC_EN);
	assert_int_equal(sci_calls, 5);
	assert_int_equal(sci_level, 1);
	dev_bus_pio_write(&bus, ACPI_PM1A_EVT, 2, ACPI_PM1_RTC_STS);
	assert_int_equal(sci_level, 0);
	/* WAK_STS: no enable bit (bit 15 of PM1_EN is reserved). */
	dev_bus_pio_write(&bus, ACPI_PM1A_EVT + 2, 2, 0xffff);
	acpi_pm_event(&pm, ACPI_PM1_WAK_STS);
	assert_int_equal(sci_calls, 6);
	assert_int_equal(pm.sts, ACPI_PM1_WAK_STS);
	/* A reset lowers a raised SCI. */
	acpi_pm_event(&pm, ACPI_PM1_RTC_STS);
	assert_int_equal(sci_level, 1);
	dev_bus_reset(&bus);
	assert_int_equal(sci_level, 0);
	assert_int_equal(pm.sts, 0);
	assert_int_equal(sci_calls, 8);
}

/* VT-d 8.1/8.3: the DMAR table acpi_add_dmar adds, found through both roots. */
static void test_dmar(void **state)
{
	const uint8_t *rsdt, *xsdt, *d;

	(void)state;
	acpi_build(area, ACPI_BASE);
	acpi_add_dmar(area, ACPI_BASE, 0xfed90000ULL, 48);
	rsdt = table(ACPI_BASE + ACPI_OFF_RSDT, "RSDT");
	xsdt = table(ACPI_BASE + ACPI_OFF_XSDT, "XSDT");
	assert_int_equal(get32(rsdt + 4), 52);
	assert_int_equal(get32(xsdt + 4), 68);
	assert_int_equal(get32(rsdt + 48), ACPI_BASE + ACPI_OFF_DMAR);
	assert_int_equal(get64(xsdt + 60), ACPI_BASE + ACPI_OFF_DMAR);
	/* The tables already there stay where they were. */
	assert_int_equal(get32(rsdt + 36), ACPI_BASE + ACPI_OFF_FADT);
	assert_int_equal(get64(xsdt + 44), ACPI_BASE + ACPI_OFF_MADT);
	d = table(ACPI_BASE + ACPI_OFF_DMAR, "DMAR");
	assert_int_equal(get32(d + 4), 64);
	assert_int_equal(d[8], 1);
	assert_int_equal(d[36], 47);      /* host address width - 1 */
	assert_int_equal(d[37], 0);       /* no interrupt remapping */
	/* One DRHD: type 0, length 16, INCLUDE_PCI_ALL, segment 0, base. */
	assert_int_equal(d[48] | d[49] << 8, 0);
	assert_int_equal(d[50] | d[51] << 8, 16);
	assert_int_equal(d[52], 1);
	assert_int_equal(d[54] | d[55] << 8, 0);
	assert_int_equal(get64(d + 56), 0xfed90000ULL);
	/* It does not reach the next table's place. */
	assert_true(ACPI_OFF_DMAR + 64 <= ACPI_OFF_HPET && ACPI_OFF_MADT + 0x100 <= ACPI_OFF_DMAR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rsdp_and_roots),
		cmocka_unit_test(test_fadt_facs_dsdt),
		cmocka_unit_test(test_dsdt_sleep_states),
		cmocka_unit_test(test_hpet_table),
		cmocka_unit_test(test_madt),
		cmocka_unit_test(test_pm_registers),
		cmocka_unit_test(test_sci),
		cmocka_unit_test(test_dmar),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
