/* SPDX-License-Identifier: MIT */
/*
 * tests/pc_test.c - fw_cfg (QEMU docs/specs/fw_cfg.rst, traditional
 * interface) and pc-testdev (QEMU hw/misc/pc-testdev.c) through the bus, as
 * a guest's IN/OUT and MMIO reach them.
 */
#include <stdlib.h>
#include <string.h>

#include "hv/pc.h"
#include "tests/testutil.h"

struct fixture {
	struct dev_bus bus;
	struct fwcfg fwcfg;
	struct pctestdev testdev;
	unsigned last_line;
	int last_level;
	unsigned nirq;
};

static void record_irq(void *ctx, unsigned line, int level)
{
	struct fixture *f = ctx;

	f->last_line = line;
	f->last_level = level;
	f->nirq++;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const struct device_ops *ops[] = {
		&pctestdev_data_ops, &pctestdev_flush_ops, &pctestdev_byte_ops,
		&pctestdev_irq_ops, &pctestdev_iomem_ops,
	};

	fwcfg_init(&f->fwcfg, 1, 256ULL << 20);
	f->testdev.set_irq = record_irq;
	f->testdev.irq_ctx = f;
	assert_ok(dev_bus_add(&f->bus, &fwcfg_ops, UINT64_MAX, &f->fwcfg, NULL));
	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		assert_ok(dev_bus_add(&f->bus, ops[i], UINT64_MAX, &f->testdev, NULL));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* Select with a 16-bit OUT to 0x510, then read bytes from 0x511. */
static uint64_t fw_read(struct fixture *f, uint16_t key, unsigned bytes)
{
	uint64_t v = 0;

	dev_bus_pio_write(&f->bus, FWCFG_PORT_SEL, 2, key);
	for (unsigned i = 0; i < bytes; i++)
		v |= dev_bus_pio_read(&f->bus, FWCFG_PORT_DATA, 1) << (8 * i);
	return v;
}

static void test_fwcfg_items(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(fw_read(f, FWCFG_SIGNATURE, 4), 0x554d4551);  /* "QEMU" */
	assert_int_equal(fw_read(f, FWCFG_ID, 4), 1);
	assert_int_equal(fw_read(f, FWCFG_NB_CPUS, 2), 1);
	assert_int_equal(fw_read(f, FWCFG_MAX_CPUS, 2), 1);
	assert_int_equal(fw_read(f, FWCFG_RAM_SIZE, 8), 256ULL << 20);
	assert_int_equal(fw_read(f, FWCFG_IRQ0_OVERRIDE, 4), 1);
	assert_int_equal(fw_read(f, FWCFG_FILE_DIR, 4), 0);
	/* kvm-unit-tests reads key 0x11 for a memory limit: absent, so 0. */
	assert_int_equal(fw_read(f, 0x11, 8), 0);
	/* Past an item's end the data port reads 0. */
	assert_int_equal(fw_read(f, FWCFG_NB_CPUS, 4), 1);
}

/* A new selection starts again at offset 0; data-port writes are ignored. */
static void test_fwcfg_reselect(void **state)
{
	struct fixture *f = *state;

	dev_bus_pio_write(&f->bus, FWCFG_PORT_SEL, 2, FWCFG_SIGNATURE);
	assert_int_equal(dev_bus_pio_read(&f->bus, FWCFG_PORT_DATA, 1), 'Q');
	assert_int_equal(dev_bus_pio_read(&f->bus, FWCFG_PORT_DATA, 1), 'E');
	dev_bus_pio_write(&f->bus, FWCFG_PORT_DATA, 1, 0x55);
	assert_int_equal(dev_bus_pio_read(&f->bus, FWCFG_PORT_DATA, 1), 'M');
	dev_bus_pio_write(&f->bus, FWCFG_PORT_SEL, 2, FWCFG_SIGNATURE);
	assert_int_equal(dev_bus_pio_read(&f->bus, FWCFG_PORT_DATA, 1), 'Q');
	assert_int_equal(fwcfg_byte(&f->fwcfg, FWCFG_SIGNATURE, 3), 'U');
	assert_int_equal(fwcfg_byte(&f->fwcfg, FWCFG_SIGNATURE, 4), 0);
}

/* The data register at 0xe0: each access replaces or returns the bytes it
 * covers; 0xe8 is the same register. */
static void test_testdev_ports(void **state)
{
	struct fixture *f = *state;

	dev_bus_pio_write(&f->bus, 0xe0, 4, 0x12345678);
	assert_int_equal(dev_bus_pio_read(&f->bus, 0xe0, 4), 0x12345678);
	assert_int_equal(dev_bus_pio_read(&f->bus, 0xe1, 1), 0x56);
	assert_int_equal(dev_bus_pio_read(&f->bus, 0xe2, 2), 0x1234);
	dev_bus_pio_write(&f->bus, 0xe2, 1, 0xab);
	assert_int_equal(dev_bus_pio_read(&f->bus, 0xe0, 4), 0x12ab5678);
	assert_int_equal(dev_bus_pio_read(&f->bus, 0xe8, 4), 0x12ab5678);
	dev_bus_pio_write(&f->bus, 0xe9, 2, 0xcdef);
	assert_int_equal(dev_bus_pio_read(&f->bus, 0xe0, 4), 0x12cdef78);
	dev_bus_pio_write(&f->bus, 0xe4, 4, 0x1000);
	assert_int_equal(f->testdev.flushes, 1);
	assert_int_equal(f->bus.unknown_pio_writes, 0);
}

/* Writing v to 0x2000 + n drives IRQ line n to !!v. */
static void test_testdev_irq(void **state)
{
	struct fixture *f = *state;

	dev_bus_pio_write(&f->bus, 0x200e, 1, 7);
	assert_int_equal(f->nirq, 1);
	assert_int_equal(f->last_line, 14);
	assert_int_equal(f->last_level, 1);
	assert_int_equal(f->testdev.irq_level[14], 1);
	dev_bus_pio_write(&f->bus, 0x200e, 1, 0);
	assert_int_equal(f->last_level, 0);
	assert_int_equal(dev_bus_pio_read(&f->bus, 0x2000, 1), 0);
	/* 0x2018 is past the 24 lines. */
	dev_bus_pio_write(&f->bus, 0x2018, 1, 1);
	assert_int_equal(f->nirq, 2);
	assert_int_equal(f->bus.unknown_pio_writes, 1);
}

/* 64 KiB of little-endian scratch at 0xff000000, any access size. */
static void test_testdev_iomem(void **state)
{
	struct fixture *f = *state;
	struct device *d = dev_bus_find(&f->bus, DEV_MMIO, PCTESTDEV_IOMEM + 0xfff8, 8);

	assert_non_null(d);
	assert_null(dev_bus_find(&f->bus, DEV_MMIO, PCTESTDEV_IOMEM + 0xfffc, 8));
	d->ops->write(d, 0xfff8, 8, 0x1122334455667788ULL);
	assert_int_equal(d->ops->read(d, 0xfff8, 8), 0x1122334455667788ULL);
	assert_int_equal(d->ops->read(d, 0xfffb, 2), 0x4455);
	d->ops->write(d, 0xfff9, 1, 0xaa);
	assert_int_equal(d->ops->read(d, 0xfff8, 4), 0x5566aa88);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fwcfg_items, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fwcfg_reselect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_testdev_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_testdev_irq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_testdev_iomem, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
