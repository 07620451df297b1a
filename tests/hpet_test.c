/* SPDX-License-Identifier: MIT */
/*
 * tests/hpet_test.c - the HPET (hv/hpet.c) through its MMIO window on a
 * test TSC: power-up registers as QEMU's pc machine shows them, writable
 * bits, the main counter's ticks, and the TSC, line and order of every
 * interrupt from one-shot, periodic, level-triggered, 32-bit and legacy
 * replacement timers.
 */
#include <stdlib.h>

#include "hv/hpet.h"
#include "tests/testutil.h"

#define MAX_EVENTS 32
#define TIMER_CFG(n) (HPET_REG_TIMER(n) + HPET_TN_CFG)
#define TIMER_CMP(n) (HPET_REG_TIMER(n) + HPET_TN_CMP)

struct fixture {
	struct hpet hpet;
	struct dev_bus bus;
	uint64_t tsc;
	unsigned n;                 /* set_irq calls, in order: */
	unsigned line[MAX_EVENTS];
	int level[MAX_EVENTS];
};

static uint64_t clock_fn(void *ctx) { return ((struct fixture *)ctx)->tsc; }

static void set_irq(void *ctx, unsigned line, int level)
{
	struct fixture *f = ctx;

	assert_true(f->n < MAX_EVENTS);
	f->line[f->n] = line;
	f->level[f->n++] = level;
}

static uint64_t rd(struct fixture *f, uint64_t off, unsigned size)
{
	struct device *d = dev_bus_find(&f->bus, DEV_MMIO, HPET_BASE + off, size);

	assert_non_null(d);
	return d->ops->read(d, off, size);
}

static uint32_t rd32(struct fixture *f, uint64_t off) { return (uint32_t)rd(f, off, 4); }

static void wr(struct fixture *f, uint64_t off, unsigned size, uint64_t v)
{
	struct device *d = dev_bus_find(&f->bus, DEV_MMIO, HPET_BASE + off, size);

	assert_non_null(d);
	d->ops->write(d, off, size, v);
}

static void wr32(struct fixture *f, uint64_t off, uint32_t v) { wr(f, off, 4, v); }

/* Call i of set_irq was (line, level). */
static void assert_irq(const struct fixture *f, unsigned i, unsigned line, int level)
{
	assert_true(i < f->n);
	assert_int_equal(f->line[i], line);
	assert_int_equal(f->level[i], level);
}

static void advance_to(struct fixture *f, uint64_t tsc)
{
	f->tsc = tsc;
	hpet_advance(&f->hpet);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	hpet_init(&f->hpet, clock_fn, set_irq, f);
	assert_ok(dev_bus_add(&f->bus, &hpet_ops, UINT64_MAX, &f->hpet, NULL));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* HPET 1.0a 2.3.4/2.3.8 with QEMU's pc values: three timers, 10 ns, route
 * capability input 2 only; comparators all-ones; nothing counts. */
static void test_power_up(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rd32(f, HPET_REG_CAP), 0x8086a201);
	assert_int_equal(rd32(f, HPET_REG_PERIOD), 10000000);
	assert_int_equal(rd(f, HPET_REG_CAP, 8), 0x009896808086a201ULL);
	assert_int_equal(rd(f, 0x1, 1), 0xa2);
	assert_int_equal(rd(f, 0x2, 2), 0x8086);
	assert_int_equal(rd32(f, HPET_REG_CFG), 0);
	assert_int_equal(rd32(f, HPET_REG_ISR), 0);
	for (unsigned n = 0; n < HPET_TIMERS; n++) {
		assert_int_equal(rd(f, TIMER_CFG(n), 8), 0x0000000400000030ULL);
		assert_int_equal(rd(f, TIMER_CMP(n), 8), UINT64_MAX);
	}
	assert_int_equal(rd32(f, HPET_REG_TIMER(3)), 0);  /* no fourth timer */
	f->tsc = 123456789;
	assert_int_equal(rd(f, HPET_REG_COUNTER, 8), 0);
	/* Read-only bits stay: capabilities, FSB_EN/FSB_CAP, bits 0 and 7. */
	wr32(f, TIMER_CFG(1), 0xffffffff);
	assert_int_equal(rd32(f, TIMER_CFG(1)), 0x3f7e);
	wr32(f, TIMER_CFG(1) + 4, 0xffffffff);
	assert_int_equal(rd32(f, TIMER_CFG(1) + 4), 4);
	wr32(f, HPET_REG_CAP, 0);
	assert_int_equal(rd32(f, HPET_REG_CAP), 0x8086a201);
	/* 32MODE cut the comparator to 32 bits. */
	assert_int_equal(rd(f, TIMER_CMP(1), 8), 0xffffffffULL);
	assert_int_equal(hpet_next_event(&f->hpet), UINT64_MAX);
	assert_int_equal(f->n, 0);
}

/* 2.3.7: the counter ticks every 10 TSC ticks from the TSC of the enable,
 * holds its value while halted, and takes writes only then. */
static void test_counter(void **state)
{
	struct fixture *f = *state;

	wr(f, HPET_REG_COUNTER, 8, 0xfffffffffULL);
	wr32(f, HPET_REG_COUNTER, 0x100);
	assert_int_equal(rd(f, HPET_REG_COUNTER, 8), 0xf00000100ULL);
	f->tsc = 1000;
	wr32(f, HPET_REG_CFG, 1);
	assert_int_equal(rd32(f, HPET_REG_CFG), 1);
	f->tsc = 1009;
	assert_int_equal(rd32(f, HPET_REG_COUNTER), 0x100);
	f->tsc = 1010;
	assert_int_equal(rd32(f, HPET_REG_COUNTER), 0x101);
	wr32(f, HPET_REG_COUNTER, 0);       /* ignored while running */
	f->tsc = 1000 + 10 * 0x1000 + 9;
	assert_int_equal(rd(f, HPET_REG_COUNTER, 8), 0xf00001100ULL);
	assert_int_equal(rd32(f, HPET_REG_COUNTER + 4), 0xf);
	wr32(f, HPET_REG_CFG, 0);
	f->tsc = 5000000;
	assert_int_equal(rd(f, HPET_REG_COUNTER, 8), 0xf00001100ULL);
	assert_int_equal(hpet_counter(&f->hpet), 0xf00001100ULL);
}

/* A one-shot edge-triggered timer on input 2 pulses once at its
 * comparator; a comparator behind the counter fires one tick later. */
static void test_oneshot_edge(void **state)
{
	struct fixture *f = *state;

	wr32(f, TIMER_CMP(2), 1000);
	wr32(f, TIMER_CMP(2) + 4, 0);
	wr32(f, TIMER_CFG(2), HPET_TN_ENABLE | 2 << HPET_TN_ROUTE_SHIFT);
	assert_int_equal(hpet_timer_next(&f->hpet, 2), UINT64_MAX);  /* counter halted */
	assert_int_equal(hpet_timer_line(&f->hpet, 2), -1);
	f->tsc = 500;
	wr32(f, HPET_REG_CFG, HPET_CFG_ENABLE);
	assert_int_equal(hpet_timer_line(&f->hpet, 2), 2);
	assert_int_equal(hpet_next_event(&f->hpet), 10500);
	advance_to(f, 10499);
	assert_int_equal(f->n, 0);
	advance_to(f, 10500);
	assert_int_equal(f->n, 2);
	assert_irq(f, 0, 2, 1);
	assert_irq(f, 1, 2, 0);
	assert_int_equal(rd32(f, HPET_REG_ISR), 0);
	assert_int_equal(hpet_next_event(&f->hpet), UINT64_MAX);
	assert_int_equal(f->hpet.fired, 1);
	/* Counter at 1000 now; a comparator at 50 fires at the next tick. */
	wr32(f, TIMER_CMP(2), 50);
	assert_int_equal(hpet_next_event(&f->hpet), 10510);
	advance_to(f, 10510);
	assert_int_equal(f->n, 4);
	assert_int_equal(rd32(f, TIMER_CMP(2)), 50);
}

/* A periodic level-triggered timer: VAL_SET lets the first write set the
 * comparator, the second sets the period; each match adds the period and
 * sets ISR bit 0 with the line high until the bit is written back. A late
 * look skips the periods in between (one interrupt). */
static void test_periodic_level(void **state)
{
	struct fixture *f = *state;

	wr32(f, TIMER_CFG(0), HPET_TN_ENABLE | HPET_TN_PERIODIC | HPET_TN_SETVAL | HPET_TN_LEVEL |
				      2 << HPET_TN_ROUTE_SHIFT);
	assert_int_equal(rd32(f, TIMER_CFG(0)), 0x44e | 0x30);
	wr(f, TIMER_CMP(0), 8, 500);
	assert_int_equal(rd32(f, TIMER_CFG(0)), 0x40e | 0x30);  /* VAL_SET clears */
	wr32(f, TIMER_CMP(0), 400);       /* the period only */
	assert_int_equal(rd(f, TIMER_CMP(0), 8), 500);
	wr32(f, HPET_REG_CFG, HPET_CFG_ENABLE);
	assert_int_equal(hpet_next_event(&f->hpet), 5000);
	advance_to(f, 5000);
	assert_int_equal(f->n, 1);
	assert_irq(f, 0, 2, 1);
	assert_int_equal(rd32(f, HPET_REG_ISR), 1);
	assert_int_equal(rd32(f, TIMER_CMP(0)), 900);
	assert_int_equal(hpet_next_event(&f->hpet), 9000);
	wr32(f, HPET_REG_ISR, 6);         /* other bits: nothing */
	assert_int_equal(rd32(f, HPET_REG_ISR), 1);
	wr32(f, HPET_REG_ISR, 1);
	assert_int_equal(rd32(f, HPET_REG_ISR), 0);
	assert_irq(f, 1, 2, 0);
	/* Looked at 2.5 periods late: one interrupt, the comparator past. */
	advance_to(f, 19000);
	assert_int_equal(f->n, 3);
	assert_irq(f, 2, 2, 1);
	assert_int_equal(rd32(f, TIMER_CMP(0)), 2100);
	assert_int_equal(f->hpet.fired, 2);
	/* Disabling the timer lowers the line it raised. */
	wr32(f, TIMER_CFG(0), HPET_TN_PERIODIC | HPET_TN_LEVEL | 2 << HPET_TN_ROUTE_SHIFT);
	assert_int_equal(f->n, 4);
	assert_irq(f, 3, 2, 0);
	assert_int_equal(rd32(f, HPET_REG_ISR), 0);
	/* A comparator written while the counter runs arms even a disabled
	 * timer: its comparator advances, nothing is driven. */
	wr32(f, TIMER_CMP(0), 400);
	advance_to(f, 21000);
	assert_int_equal(f->n, 4);
	assert_int_equal(rd32(f, TIMER_CMP(0)), 2500);
}

/* 2.3.9: a 32-bit one-shot timer also fires where the counter's low half
 * reaches all-ones, then at its comparator. */
static void test_32bit_wrap(void **state)
{
	struct fixture *f = *state;

	wr32(f, HPET_REG_COUNTER, 0xfffffff0);
	wr32(f, TIMER_CFG(1), HPET_TN_ENABLE | HPET_TN_32BIT | 2 << HPET_TN_ROUTE_SHIFT);
	wr32(f, TIMER_CMP(1), 0x10);
	assert_int_equal(rd(f, TIMER_CMP(1), 8), 0x10);
	wr32(f, HPET_REG_CFG, HPET_CFG_ENABLE);
	assert_int_equal(hpet_next_event(&f->hpet), 150);
	advance_to(f, 150);
	assert_int_equal(f->n, 2);
	assert_int_equal(hpet_next_event(&f->hpet), 320);
	advance_to(f, 320);
	assert_int_equal(f->n, 4);
	assert_int_equal(rd(f, HPET_REG_COUNTER, 8), 0x100000010ULL);
	assert_int_equal(hpet_next_event(&f->hpet), UINT64_MAX);
}

/* 2.3.5: LEG_RT_CNF sends timer 0 to IRQ 0 and timer 1 to IRQ 8 and takes
 * those lines from the 8254 and the RTC; the RTC's level comes back when it
 * is cleared. */
static void test_legacy_replacement(void **state)
{
	struct fixture *f = *state;

	hpet_legacy_irq(&f->hpet, 0, 1);
	hpet_legacy_irq(&f->hpet, 8, 1);
	assert_int_equal(f->n, 2);
	assert_irq(f, 0, 0, 1);
	assert_irq(f, 1, 8, 1);
	wr(f, TIMER_CMP(0), 8, 100);
	wr32(f, TIMER_CFG(0), HPET_TN_ENABLE | 5 << HPET_TN_ROUTE_SHIFT);
	wr(f, TIMER_CMP(1), 8, 200);
	wr32(f, TIMER_CFG(1), HPET_TN_ENABLE | HPET_TN_LEVEL);
	wr32(f, HPET_REG_CFG, HPET_CFG_ENABLE | HPET_CFG_LEGACY);
	assert_true(hpet_legacy(&f->hpet));
	assert_int_equal(f->n, 4);
	assert_irq(f, 2, 0, 0);
	assert_irq(f, 3, 8, 0);
	hpet_legacy_irq(&f->hpet, 0, 1);  /* the 8254 is cut off */
	hpet_legacy_irq(&f->hpet, 8, 0);
	hpet_legacy_irq(&f->hpet, 8, 1);
	assert_int_equal(f->n, 4);
	assert_int_equal(hpet_timer_line(&f->hpet, 0), 0);
	assert_int_equal(hpet_timer_line(&f->hpet, 1), 8);
	advance_to(f, 2000);
	assert_int_equal(f->n, 7);
	assert_irq(f, 4, 0, 1);
	assert_irq(f, 5, 0, 0);
	assert_irq(f, 6, 8, 1);
	assert_int_equal(rd32(f, HPET_REG_ISR), 2);
	wr32(f, HPET_REG_ISR, 2);
	assert_irq(f, 7, 8, 0);
	wr32(f, HPET_REG_CFG, HPET_CFG_ENABLE);
	assert_int_equal(f->n, 10);
	assert_irq(f, 8, 0, 0);
	assert_irq(f, 9, 8, 1);           /* the RTC's level */
	assert_int_equal(hpet_timer_line(&f->hpet, 0), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_power_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oneshot_edge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_periodic_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_32bit_wrap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_legacy_replacement, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
