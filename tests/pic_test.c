/* SPDX-License-Identifier: MIT */
/*
 * tests/pic_test.c - the 8259A pair (hv/pic.c) through its ports, after the
 * initialisation a PC kernel does: vectors, masking, fully nested priority
 * and EOI, the cascade through IR2, spurious IRQ 7, level mode by ELCR,
 * OCW3 reads and poll mode, automatic EOI.
 */
#include <stdlib.h>

#include "hv/pic.h"
#include "tests/testutil.h"

struct fixture {
	struct pic_pair pic;
	struct dev_bus bus;
};

static void out8(struct fixture *f, uint16_t port, uint8_t v) { dev_bus_pio_write(&f->bus, port, 1, v); }
static uint8_t in8(struct fixture *f, uint16_t port) { return (uint8_t)dev_bus_pio_read(&f->bus, port, 1); }

/* ICW1 edge + ICW4, ICW2 base, ICW3 cascade, ICW4 8086 mode (aeoi optional). */
static void init_pair(struct fixture *f, uint8_t icw4)
{
	out8(f, 0x20, 0x11);
	out8(f, 0x21, 0x20);
	out8(f, 0x21, 0x04);
	out8(f, 0x21, icw4);
	out8(f, 0xa0, 0x11);
	out8(f, 0xa1, 0x28);
	out8(f, 0xa1, 0x02);
	out8(f, 0xa1, icw4);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	pic_init(&f->pic);
	assert_ok(dev_bus_add(&f->bus, &pic_master_ops, UINT64_MAX, &f->pic, NULL));
	assert_ok(dev_bus_add(&f->bus, &pic_slave_ops, UINT64_MAX, &f->pic, NULL));
	assert_ok(dev_bus_add(&f->bus, &pic_elcr_ops, UINT64_MAX, &f->pic, NULL));
	init_pair(f, 0x01);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static void test_vectors_and_mask(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(in8(f, 0x21), 0);   /* ICW1 cleared IMR */
	out8(f, 0x21, 0xfb);
	out8(f, 0xa1, 0xff);
	assert_int_equal(in8(f, 0x21), 0xfb);
	assert_int_equal(in8(f, 0xa1), 0xff);
	pic_set_irq(&f->pic, 1, 1);          /* masked: requested, not presented */
	assert_false(pic_intr(&f->pic));
	assert_int_equal(in8(f, 0x20), 0x02); /* IRR */
	out8(f, 0x21, 0xf9);
	assert_true(pic_intr(&f->pic));
	assert_int_equal(pic_ack(&f->pic), 0x21);
	out8(f, 0x20, 0x0b);                 /* OCW3: read ISR */
	assert_int_equal(in8(f, 0x20), 0x02);
	assert_false(pic_intr(&f->pic));     /* edge: IRR cleared by INTA */
	out8(f, 0x20, 0x20);                 /* non-specific EOI */
	assert_int_equal(in8(f, 0x20), 0x00);
}

/* IRQ 3 waits behind IRQ 1 in service; IRQ 0 goes ahead of it. */
static void test_nested_priority(void **state)
{
	struct fixture *f = *state;

	pic_set_irq(&f->pic, 1, 1);
	assert_int_equal(pic_ack(&f->pic), 0x21);
	pic_set_irq(&f->pic, 3, 1);
	assert_false(pic_intr(&f->pic));
	pic_set_irq(&f->pic, 0, 1);
	assert_int_equal(pic_ack(&f->pic), 0x20);
	out8(f, 0x20, 0x60);                 /* specific EOI of IRQ 0 */
	assert_false(pic_intr(&f->pic));     /* IRQ 1 still in service */
	out8(f, 0x20, 0x20);
	assert_int_equal(pic_ack(&f->pic), 0x23);
	/* No new edge: nothing more. */
	pic_set_irq(&f->pic, 1, 1);
	out8(f, 0x20, 0x20);
	assert_false(pic_intr(&f->pic));
}

/* A slave IRQ (10) reaches the CPU through master IR2, both ISRs set. */
static void test_cascade_and_spurious(void **state)
{
	struct fixture *f = *state;

	pic_set_irq(&f->pic, 10, 1);
	assert_true(pic_intr(&f->pic));
	assert_int_equal(pic_ack(&f->pic), 0x2a);
	out8(f, 0x20, 0x0b);
	out8(f, 0xa0, 0x0b);
	assert_int_equal(in8(f, 0x20), 0x04);
	assert_int_equal(in8(f, 0xa0), 0x04);
	out8(f, 0xa0, 0x20);
	out8(f, 0x20, 0x20);
	assert_int_equal(in8(f, 0x20), 0);
	/* INTA with nothing requested: the master's IRQ 7 vector, no ISR. */
	assert_int_equal(pic_ack(&f->pic), 0x27);
	assert_int_equal(in8(f, 0x20), 0);
	assert_int_equal(f->pic.spurious, 1);
}

/* ELCR level mode: IRR follows the line, so the request stays after INTA
 * and comes back after EOI while the line is high. IRQ 0-2 stay edge. */
static void test_elcr_level(void **state)
{
	struct fixture *f = *state;

	out8(f, 0x4d0, 0xff);
	out8(f, 0x4d1, 0xff);
	assert_int_equal(in8(f, 0x4d0), 0xf8);
	assert_int_equal(in8(f, 0x4d1), 0xde);
	pic_set_irq(&f->pic, 11, 1);
	assert_int_equal(pic_ack(&f->pic), 0x2b);
	out8(f, 0xa0, 0x20);
	out8(f, 0x20, 0x20);
	assert_int_equal(pic_ack(&f->pic), 0x2b);  /* still high */
	pic_set_irq(&f->pic, 11, 0);
	out8(f, 0xa0, 0x20);
	out8(f, 0x20, 0x20);
	assert_false(pic_intr(&f->pic));
}

/* OCW3 poll: the read acknowledges the highest request (0x80 | IRQ). */
static void test_poll_and_aeoi(void **state)
{
	struct fixture *f = *state;

	pic_set_irq(&f->pic, 5, 1);
	out8(f, 0x20, 0x0c);
	assert_int_equal(in8(f, 0x20), 0x85);
	out8(f, 0x20, 0x0c);
	assert_int_equal(in8(f, 0x20), 0x00);
	out8(f, 0x20, 0x20);
	/* Automatic EOI: nothing stays in service. */
	init_pair(f, 0x03);
	pic_set_irq(&f->pic, 6, 0);
	pic_set_irq(&f->pic, 6, 1);
	assert_int_equal(pic_ack(&f->pic), 0x26);
	out8(f, 0x20, 0x0b);
	assert_int_equal(in8(f, 0x20), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_vectors_and_mask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nested_priority, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cascade_and_spurious, setup, teardown),
		cmocka_unit_test_setup_teardown(test_elcr_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poll_and_aeoi, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
