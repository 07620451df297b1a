/* SPDX-License-Identifier: MIT */
/*
 * tests/ioapic_test.c - the I/O APIC (hv/ioapic.c) in front of a local APIC
 * (hv/lapic.c): registers through the MMIO window, edge and level pins,
 * Remote IRR and the EOI that re-sends a pin still asserted, masking, and
 * destinations the local APIC refuses.
 */
#include <stdlib.h>

#include "hv/ioapic.h"
#include "tests/testutil.h"

struct fixture {
	struct lapic apic;
	struct ioapic io;
	struct dev_bus bus;
};

static uint64_t zero_clock(void *ctx)
{
	(void)ctx;
	return 0;
}

static void to_ioapic(void *ctx, uint8_t vector)
{
	ioapic_eoi(ctx, vector);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const struct lapic_host host = { .clock = zero_clock, .eoi = to_ioapic, .ctx = &f->io };

	lapic_init(&f->apic, 0, &host);
	lapic_mmio_write32(&f->apic, APIC_SVR, 0x1ff);
	ioapic_init(&f->io, &f->apic);
	assert_ok(dev_bus_add(&f->bus, &ioapic_ops, UINT64_MAX, &f->io, NULL));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static uint32_t rd(struct fixture *f, uint32_t reg)
{
	struct device *d = dev_bus_find(&f->bus, DEV_MMIO, IOAPIC_BASE, 4);

	d->ops->write(d, IOAPIC_REGSEL, 4, reg);
	return (uint32_t)d->ops->read(d, IOAPIC_WIN, 4);
}

static void wr(struct fixture *f, uint32_t reg, uint32_t val)
{
	struct device *d = dev_bus_find(&f->bus, DEV_MMIO, IOAPIC_BASE, 4);

	d->ops->write(d, IOAPIC_REGSEL, 4, reg);
	d->ops->write(d, IOAPIC_WIN, 4, val);
}

static bool irr(struct fixture *f, unsigned v)
{
	return (f->apic.irr[v / 32] >> (v % 32)) & 1;
}

static void test_registers(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rd(f, IOAPIC_REG_VER), 0x00170011);
	wr(f, IOAPIC_REG_VER, 0);
	assert_int_equal(rd(f, IOAPIC_REG_VER), 0x00170011);
	wr(f, IOAPIC_REG_ID, 0xffffffff);
	assert_int_equal(rd(f, IOAPIC_REG_ID), 0x0f000000);  /* only bits 27:24 */
	assert_int_equal(rd(f, IOAPIC_REG_ARB), 0x0f000000);
	for (unsigned i = 0; i < IOAPIC_NPINS; i++) {
		assert_int_equal(rd(f, IOAPIC_REG_RTE + 2 * i), 0x10000);  /* masked */
		assert_int_equal(rd(f, IOAPIC_REG_RTE + 2 * i + 1), 0);
	}
	/* Delivery status and Remote IRR are read-only; the high half keeps 31:24. */
	wr(f, IOAPIC_REG_RTE + 6, 0xffffffff);
	assert_int_equal(rd(f, IOAPIC_REG_RTE + 6), 0x1afff);
	wr(f, IOAPIC_REG_RTE + 7, 0xffffffff);
	assert_int_equal(rd(f, IOAPIC_REG_RTE + 7), 0xff000000);
	/* Past the 24 entries: all-ones, writes ignored. */
	assert_int_equal(rd(f, IOAPIC_REG_RTE + 48), 0xffffffff);
	/* A sub-dword access reads all-ones. */
	struct device *d = dev_bus_find(&f->bus, DEV_MMIO, IOAPIC_BASE, 4);
	assert_int_equal(d->ops->read(d, IOAPIC_WIN, 2), 0xffff);
}

/* Edge: one message per 0 -> 1 change of the pin. */
static void test_edge(void **state)
{
	struct fixture *f = *state;

	wr(f, IOAPIC_REG_RTE + 2 * 14, 0x76);
	ioapic_set_irq(&f->io, 14, 1);
	assert_int_equal(lapic_pending(&f->apic), 0x76);
	assert_int_equal(lapic_ack(&f->apic), 0x76);
	ioapic_set_irq(&f->io, 14, 1);            /* no edge */
	assert_int_equal(f->io.sent, 1);
	ioapic_set_irq(&f->io, 14, 0);
	ioapic_set_irq(&f->io, 14, 1);
	assert_int_equal(f->io.sent, 2);
	assert_true(irr(f, 0x76));
	assert_int_equal(f->apic.tmr[0x76 / 32], 0);  /* edge: TMR clear */
	assert_int_equal(rd(f, IOAPIC_REG_RTE + 2 * 14) & IOAPIC_RTE_REMOTE_IRR, 0);
}

/* Level: Remote IRR holds further messages until the EOI, which re-sends a
 * pin that is still asserted. */
static void test_level_eoi(void **state)
{
	struct fixture *f = *state;

	wr(f, IOAPIC_REG_RTE + 2 * 14, 0x8077);   /* level, vector 0x77 */
	ioapic_set_irq(&f->io, 14, 1);
	assert_true(irr(f, 0x77));
	assert_true(f->apic.tmr[0x77 / 32] & (1u << (0x77 % 32)));
	assert_int_equal(rd(f, IOAPIC_REG_RTE + 2 * 14), 0xc077);  /* Remote IRR */
	assert_int_equal(lapic_ack(&f->apic), 0x77);
	ioapic_set_irq(&f->io, 14, 1);
	assert_int_equal(f->io.sent, 1);
	lapic_mmio_write32(&f->apic, APIC_EOI, 0);  /* still asserted: sent again */
	assert_int_equal(f->io.sent, 2);
	assert_true(irr(f, 0x77));
	assert_int_equal(lapic_ack(&f->apic), 0x77);
	ioapic_set_irq(&f->io, 14, 0);
	lapic_mmio_write32(&f->apic, APIC_EOI, 0);
	assert_int_equal(f->io.sent, 2);
	assert_int_equal(rd(f, IOAPIC_REG_RTE + 2 * 14), 0x8077);
	assert_int_equal(lapic_pending(&f->apic), -1);
}

/* A masked level pin sends when unmasked; an edge while masked is lost. */
static void test_mask(void **state)
{
	struct fixture *f = *state;

	wr(f, IOAPIC_REG_RTE + 2 * 13, 0x18081);  /* masked, level, 0x81 */
	ioapic_set_irq(&f->io, 13, 1);
	assert_int_equal(f->io.sent, 0);
	wr(f, IOAPIC_REG_RTE + 2 * 13, 0x8081);
	assert_int_equal(f->io.sent, 1);
	assert_true(irr(f, 0x81));
	wr(f, IOAPIC_REG_RTE + 2 * 12, 0x10082);  /* masked, edge, 0x82 */
	ioapic_set_irq(&f->io, 12, 1);
	wr(f, IOAPIC_REG_RTE + 2 * 12, 0x82);
	assert_false(irr(f, 0x82));
	ioapic_set_irq(&f->io, 24, 1);            /* no such pin */
	assert_int_equal(f->io.sent, 1);
}

/* Destination 1 names no APIC (ours is 0): the message is dropped; logical
 * destination 1 matches an LDR of 0x01000000 (flat model). */
static void test_destination(void **state)
{
	struct fixture *f = *state;

	wr(f, IOAPIC_REG_RTE + 2 * 5 + 1, 0x01000000);
	wr(f, IOAPIC_REG_RTE + 2 * 5, 0x90);
	ioapic_set_irq(&f->io, 5, 1);
	assert_int_equal(f->io.dropped, 1);
	assert_false(irr(f, 0x90));
	lapic_mmio_write32(&f->apic, APIC_LDR, 0x01000000);
	wr(f, IOAPIC_REG_RTE + 2 * 6 + 1, 0x01000000);
	wr(f, IOAPIC_REG_RTE + 2 * 6, 0x891);      /* logical */
	ioapic_set_irq(&f->io, 6, 1);
	assert_true(irr(f, 0x91));
	/* Delivery mode NMI latches an NMI in the local APIC. */
	wr(f, IOAPIC_REG_RTE + 2 * 7, 0x400);
	ioapic_set_irq(&f->io, 7, 1);
	assert_true(f->apic.nmi_pending);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_eoi, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destination, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
