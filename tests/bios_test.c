/* SPDX-License-Identifier: MIT */
/*
 * tests/bios_test.c - the state hv run --bios-state leaves (hv/bios.h): the
 * real-mode vector table and handlers, the BIOS data area bytes, the 8259
 * pair initialized at vectors 0x08/0x70 with IRQ 0 open, and the 8254's
 * counter 0 in mode 2 at 65536, driving IRQ 0 at the TSCs the count gives.
 */
#include <stdlib.h>
#include <string.h>

#include "hv/bios.h"
#include "hv/pic.h"
#include "hv/pit.h"
#include "tests/testutil.h"

struct fixture {
	struct dev_bus bus;
	struct pic_pair pic;
	struct pit pit;
	uint64_t tsc;
	uint8_t mem[1 << 20];   /* the first MiB of guest memory */
};

static uint64_t clock_fn(void *ctx) { return ((struct fixture *)ctx)->tsc; }

static void set_irq(void *ctx, unsigned irq, int level)
{
	pic_set_irq(&((struct fixture *)ctx)->pic, irq, level);
}

static int write_mem(void *ctx, uint64_t gpa, const void *src, uint64_t len)
{
	struct fixture *f = ctx;

	if (gpa + len > sizeof(f->mem))
		return -1;
	memcpy(f->mem + gpa, src, len);
	return 0;
}

static void test_bios_state(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	static const uint8_t timer_head[] = { 0x1e, 0x50, 0x31, 0xc0, 0x8e, 0xd8 };

	(void)state;
	memset(f->mem, 0x5a, sizeof(f->mem));
	pic_init(&f->pic);
	pit_init(&f->pit, clock_fn, set_irq, f);
	assert_ok(dev_bus_add(&f->bus, &pic_master_ops, UINT64_MAX, &f->pic, NULL));
	assert_ok(dev_bus_add(&f->bus, &pic_slave_ops, UINT64_MAX, &f->pic, NULL));
	assert_ok(dev_bus_add(&f->bus, &pit_ops, UINT64_MAX, &f->pit, NULL));
	assert_ok(bios_state_setup(&f->bus, write_mem, f));

	/* IVT: far pointers (offset, segment F000). */
	assert_int_equal(f->mem[0] | f->mem[1] << 8 | f->mem[2] << 16 | (uint32_t)f->mem[3] << 24, 0xf000f000);
	assert_int_equal(f->mem[4 * 8] | f->mem[4 * 8 + 1] << 8, 0xf010);
	assert_int_equal(f->mem[4 * 9] | f->mem[4 * 9 + 1] << 8, 0xf030);
	assert_int_equal(f->mem[4 * 0x0f] | f->mem[4 * 0x0f + 1] << 8, 0xf030);
	assert_int_equal(f->mem[4 * 0x10] | f->mem[4 * 0x10 + 1] << 8, 0xf000);
	assert_int_equal(f->mem[4 * 0x70] | f->mem[4 * 0x70 + 1] << 8, 0xf040);
	assert_int_equal(f->mem[4 * 0x77] | f->mem[4 * 0x77 + 1] << 8, 0xf040);
	assert_int_equal(f->mem[4 * 0xff + 3], 0xf0);
	assert_int_equal(f->mem[0x400], 0x5a);                   /* the BDA is not cleared */
	assert_int_equal(f->mem[0x413] | f->mem[0x414] << 8, 639);
	assert_int_equal(f->mem[0x46c] | f->mem[0x46f], 0);
	/* Handlers: IRET; the timer's prologue; EOI to the slave then the master. */
	assert_int_equal(f->mem[0xff000], 0xcf);
	assert_memory_equal(f->mem + 0xff010, timer_head, sizeof(timer_head));
	assert_int_equal(f->mem[0xff040 + 4], 0xa0);
	assert_int_equal(f->mem[0xff040 + 8], 0xcf);

	/* The 8259s: IMR 0xfa / 0xff; mode 2's control word raised OUT: IRQ 0
	 * is pending at vector 0x08. */
	assert_int_equal(dev_bus_pio_read(&f->bus, 0x21, 1), 0xfa);
	assert_int_equal(dev_bus_pio_read(&f->bus, 0xa1, 1), 0xff);
	pit_advance(&f->pit);
	assert_true(pic_intr(&f->pic));
	assert_int_equal(pic_ack(&f->pic), 0x08);
	dev_bus_pio_write(&f->bus, 0x20, 1, 0x20);
	/* Counter 0: mode 2, 65536: the next rising edge ends tick 65536. */
	assert_int_equal(pit_next_event(&f->pit), pit_tick_tsc(65536));
	dev_bus_pio_write(&f->bus, 0x43, 1, 0xe2);           /* read-back: status of counter 0 */
	assert_int_equal(dev_bus_pio_read(&f->bus, 0x40, 1), 0x80 | 0x34);   /* OUT high, LSB+MSB, mode 2 */
	f->tsc = pit_tick_tsc(65536);
	pit_advance(&f->pit);
	assert_int_equal(pic_ack(&f->pic), 0x08);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bios_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
