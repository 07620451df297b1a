/* SPDX-License-Identifier: MIT */
/*
 * tests/pit_test.c - the 8254 (hv/pit.c) through its ports on a test TSC:
 * exact counts read through every access mode, the read-back command, modes
 * 0, 2 and 3, counter 2's gate and OUT through port 0x61, and the TSC of
 * every IRQ 0 edge.
 */
#include <stdlib.h>

#include "hv/pit.h"
#include "tests/testutil.h"

struct fixture {
	struct test_line line;  /* IRQ 0 */
	struct pit pit;
	struct dev_bus bus;
};

static void out8(struct fixture *f, uint16_t port, uint8_t v) { dev_bus_pio_write(&f->bus, port, 1, v); }
static uint8_t in8(struct fixture *f, uint16_t port) { return (uint8_t)dev_bus_pio_read(&f->bus, port, 1); }

/* Move the clock to the first TSC of PIT tick `t`. */
static void at_tick(struct fixture *f, uint64_t t) { f->line.tsc = pit_tick_tsc(t); }

/* Counter `c`'s latched count, LSB then MSB. */
static unsigned latched(struct fixture *f, unsigned c)
{
	unsigned lo;

	out8(f, 0x43, (uint8_t)(c << 6));
	lo = in8(f, 0x40 + c);
	return lo | in8(f, 0x40 + c) << 8;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	pit_init(&f->pit, test_line_clock, test_line_set_irq, &f->line);
	assert_ok(dev_bus_add(&f->bus, &pit_ops, UINT64_MAX, &f->pit, NULL));
	assert_ok(dev_bus_add(&f->bus, &pit_port61_ops, UINT64_MAX, &f->pit, NULL));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* 1.193182 MHz on a 1 GHz TSC: tick k starts at ceil(k * 10^9 / 1193182). */
static void test_clock(void **state)
{
	(void)state;
	assert_int_equal(pit_tick_tsc(1), 839);
	assert_int_equal(pit_tick_tsc(1193), 999848);
	assert_int_equal(pit_tick(999847), 1192);
	assert_int_equal(pit_tick(999848), 1193);
	assert_int_equal(pit_tick(1000000000), 1193182);
	/* past the TSCs whose products fit 64 bits: the same rounding */
	assert_int_equal(pit_tick(15460126010708ULL), 18446744073ULL);
	assert_int_equal(pit_tick(15460126010709ULL), 18446744073ULL);
	assert_int_equal(pit_tick(UINT64_MAX), 22010322987356910ULL);
	assert_int_equal(pit_tick_tsc(18446744073ULL), 15460126010115ULL);
	assert_int_equal(pit_tick_tsc(18446744074ULL), 15460126010953ULL);
}

/* Two looks in one PIT tick: the second changes nothing, unless counter 0
 * was reprogrammed in between (OUT then follows the new mode at once). */
static void test_same_tick(void **state)
{
	struct fixture *f = *state;

	out8(f, 0x43, 0x36);                  /* counter 0, LSB/MSB, mode 3 */
	out8(f, 0x40, 100);
	out8(f, 0x40, 0);
	at_tick(f, 10);
	pit_advance(&f->pit);
	assert_int_equal(f->line.level, 1);
	assert_int_equal(pit_next_event(&f->pit), pit_tick_tsc(100));
	f->line.tsc++;                        /* still tick 10 */
	pit_advance(&f->pit);
	assert_int_equal(f->line.level, 1);
	assert_int_equal(f->line.high, 1);
	assert_int_equal(f->line.low, 0);
	assert_int_equal(pit_next_event(&f->pit), pit_tick_tsc(100));
	out8(f, 0x43, 0x30);                  /* mode 0, no count yet: OUT low */
	assert_int_equal(pit_next_event(&f->pit), UINT64_MAX);
	pit_advance(&f->pit);
	assert_int_equal(f->line.level, 0);
	assert_int_equal(f->line.low, 1);
	out8(f, 0x40, 5);
	out8(f, 0x40, 0);                     /* counts from tick 10: OUT rises at 15 */
	assert_int_equal(pit_next_event(&f->pit), pit_tick_tsc(15));
	pit_advance(&f->pit);
	assert_int_equal(pit_next_event(&f->pit), pit_tick_tsc(15));
	at_tick(f, 15);
	pit_advance(&f->pit);
	assert_int_equal(f->line.level, 1);
	assert_int_equal(f->line.high, 2);
}

/* Reset: nothing counts, no IRQ 0 edge is ever due. */
static void test_reset_idle(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(pit_next_event(&f->pit), UINT64_MAX);
	f->line.tsc = 123456789;
	pit_advance(&f->pit);
	assert_int_equal(f->line.high, 0);
	assert_false(pit_out(&f->pit, 0));
}

/* Mode 2 with 1193 (the ~1 kHz rate Linux calibrates with): counts, and an
 * IRQ 0 edge at ticks 1193, 2386, ...; edges missed between two advances
 * merge into one. */
static void test_mode2_rate(void **state)
{
	struct fixture *f = *state;

	out8(f, 0x43, 0x34);                  /* counter 0, LSB/MSB, mode 2 */
	out8(f, 0x40, 0xa9);
	out8(f, 0x40, 0x04);                  /* 0x04a9 = 1193 */
	assert_int_equal(latched(f, 0), 1193);
	at_tick(f, 100);
	assert_int_equal(latched(f, 0), 1093);
	at_tick(f, 1192);
	assert_int_equal(latched(f, 0), 1);
	assert_false(pit_out(&f->pit, 0));    /* the one low tick */
	assert_int_equal(pit_next_event(&f->pit), 999848);
	assert_rises_at(&f->line, 999848, pit_advance(&f->pit));
	assert_int_equal(latched(f, 0), 1193);
	assert_int_equal(pit_next_event(&f->pit), pit_tick_tsc(2386));
	at_tick(f, 5 * 1193 + 3);             /* four edges since: one latch */
	pit_advance(&f->pit);
	assert_int_equal(f->line.high, 2);
	assert_int_equal(f->line.low, 1);
	assert_int_equal(f->pit.irq_edges, 2);
	assert_int_equal(latched(f, 0), 1190);
	assert_int_equal(pit_next_event(&f->pit), 5999085);
}

/* Mode 0: OUT low until the count runs out, one edge, then the counter
 * wraps through 0xffff; writing the first byte stops counting. */
static void test_mode0_oneshot(void **state)
{
	struct fixture *f = *state;

	out8(f, 0x43, 0x30);
	out8(f, 0x40, 100);
	out8(f, 0x40, 0);
	at_tick(f, 99);
	assert_int_equal(latched(f, 0), 1);
	pit_advance(&f->pit);
	assert_int_equal(f->line.high, 0);
	assert_int_equal(pit_next_event(&f->pit), 83810);
	at_tick(f, 100);
	pit_advance(&f->pit);
	assert_int_equal(f->line.high, 1);
	assert_int_equal(latched(f, 0), 0);
	at_tick(f, 101);
	assert_int_equal(latched(f, 0), 0xffff);
	assert_int_equal(pit_next_event(&f->pit), UINT64_MAX);
	out8(f, 0x40, 50);                    /* LSB only: stopped, OUT low */
	assert_false(pit_out(&f->pit, 0));
	pit_advance(&f->pit);
	assert_int_equal(f->line.low, 1);
	out8(f, 0x40, 0);                     /* MSB: 50 counts from here */
	at_tick(f, 110);
	assert_int_equal(latched(f, 0), 41);
	assert_int_equal(pit_next_event(&f->pit), pit_tick_tsc(151));
}

/* LSB-only, MSB-only and BCD counts; a latch holds until both bytes are read
 * and a second latch command is ignored meanwhile. */
static void test_access_modes(void **state)
{
	struct fixture *f = *state;

	out8(f, 0x43, 0x50);                  /* counter 1, LSB only, mode 0 */
	out8(f, 0x41, 0x50);
	at_tick(f, 16);
	assert_int_equal(in8(f, 0x41), 0x40);
	out8(f, 0x43, 0x61);                  /* counter 1, MSB only, mode 0, BCD */
	out8(f, 0x41, 0x12);                  /* 1200 */
	at_tick(f, 21);
	assert_int_equal(in8(f, 0x41), 0x11); /* 1195 = BCD 0x1195 */
	out8(f, 0x43, 0x71);                  /* LSB/MSB, BCD */
	out8(f, 0x41, 0x00);
	out8(f, 0x41, 0x00);                  /* 0 = 10000 */
	at_tick(f, 22);
	out8(f, 0x43, 0x40);                  /* latch: 9999 */
	at_tick(f, 30);
	out8(f, 0x43, 0x40);                  /* ignored */
	assert_int_equal(in8(f, 0x41), 0x99);
	assert_int_equal(in8(f, 0x41), 0x99);
	assert_int_equal(in8(f, 0x41), 0x91); /* live now: 9991 */
	assert_int_equal(in8(f, 0x41), 0x99);
}

/* Read-back: status (OUT, null count, control bits) before the count. */
static void test_readback(void **state)
{
	struct fixture *f = *state;

	out8(f, 0x43, 0x34);
	out8(f, 0x43, 0xe2);                  /* status only, counter 0 */
	assert_int_equal(in8(f, 0x40), 0xc0 | 0x34);  /* OUT high, null count */
	out8(f, 0x40, 0x10);
	out8(f, 0x40, 0x00);                  /* 16 */
	at_tick(f, 3);
	out8(f, 0x43, 0xc2);                  /* count and status */
	at_tick(f, 15);
	assert_int_equal(in8(f, 0x40), 0x80 | 0x34);
	assert_int_equal(in8(f, 0x40), 13);
	assert_int_equal(in8(f, 0x40), 0);
	out8(f, 0x43, 0xd2);                  /* count only, at tick 15: OUT low */
	out8(f, 0x43, 0xe2);
	assert_int_equal(in8(f, 0x40), 0x00 | 0x34);
	assert_int_equal(in8(f, 0x40), 1);
	assert_int_equal(in8(f, 0x40), 0);
}

/* Counter 2 in mode 3 behind port 0x61: gate low holds OUT high, the
 * rising gate starts the square wave (high 5 ticks, low 5 for 10). */
static void test_counter2_gate(void **state)
{
	struct fixture *f = *state;

	out8(f, 0x43, 0xb6);                  /* counter 2, LSB/MSB, mode 3 */
	out8(f, 0x42, 10);
	out8(f, 0x42, 0);
	at_tick(f, 50);
	assert_int_equal(in8(f, 0x61) & 0x21, 0x20);  /* gate low: OUT high */
	assert_int_equal(latched(f, 2), 10);
	out8(f, 0x61, 0x01);
	at_tick(f, 51);
	assert_int_equal(latched(f, 2), 8);
	at_tick(f, 54);
	assert_int_equal(in8(f, 0x61) & 0x21, 0x21);
	at_tick(f, 55);
	assert_int_equal(in8(f, 0x61) & 0x21, 0x01);
	at_tick(f, 60);
	assert_int_equal(in8(f, 0x61) & 0x21, 0x21);
	out8(f, 0x61, 0x00);
	at_tick(f, 66);
	assert_int_equal(in8(f, 0x61) & 0x21, 0x20);
	assert_int_equal(f->line.high, 0);     /* counter 2 has no IRQ */
	/* Refresh toggle: every 15085 TSC ticks. */
	f->line.tsc = 15084;
	assert_int_equal(in8(f, 0x61) & 0x10, 0);
	f->line.tsc = 15085;
	assert_int_equal(in8(f, 0x61) & 0x10, 0x10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clock),
		cmocka_unit_test_setup_teardown(test_reset_idle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_tick, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode2_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mode0_oneshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_access_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counter2_gate, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
