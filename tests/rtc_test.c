/* SPDX-License-Identifier: MIT */
/*
 * tests/rtc_test.c - the MC146818 (hv/rtc.c) through ports 0x70/0x71 on a
 * test TSC: power-up registers and CMOS bytes, the TSC of every update and
 * UIP window, BCD/binary and 12/24-hour forms, SET, the divider reset, the
 * calendar (leap years, the century), and the TSC of every IRQ 8 edge from
 * the periodic, alarm and update interrupts.
 */
#include <stdlib.h>

#include "hv/rtc.h"
#include "tests/testutil.h"

#define SEC 1000000000ULL

struct fixture {
	struct test_line line;  /* IRQ 8 */
	struct rtc rtc;
	struct dev_bus bus;
};

static uint8_t rd(struct fixture *f, uint8_t reg)
{
	dev_bus_pio_write(&f->bus, 0x70, 1, reg);
	return (uint8_t)dev_bus_pio_read(&f->bus, 0x71, 1);
}

static void wr(struct fixture *f, uint8_t reg, uint8_t v)
{
	dev_bus_pio_write(&f->bus, 0x70, 1, reg);
	dev_bus_pio_write(&f->bus, 0x71, 1, v);
}

/* Registers 0, 2, 4, 6, 7, 8, 9 and the century as one number, in hex:
 * 0xSSMMHHWWDDMMYYCC. */
static uint64_t now(struct fixture *f)
{
	static const uint8_t regs[] = { 0, 2, 4, 6, 7, 8, 9, 0x32 };
	uint64_t v = 0;

	for (unsigned i = 0; i < 8; i++)
		v = v << 8 | rd(f, regs[i]);
	return v;
}

/* Set the clock (SET held while the registers are written). */
static void set_time(struct fixture *f, uint8_t b, const uint8_t t[8])
{
	static const uint8_t regs[] = { 0, 2, 4, 6, 7, 8, 9, 0x32 };

	wr(f, RTC_REG_B, b | RTC_B_SET);
	for (unsigned i = 0; i < 8; i++)
		wr(f, regs[i], t[i]);
	wr(f, RTC_REG_B, b);
}

static int setup_mem(void **state, uint64_t low, uint64_t high)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->line.irq = 8;
	rtc_init(&f->rtc, test_line_clock, test_line_set_irq, &f->line, low, high, 1);
	assert_ok(dev_bus_add(&f->bus, &rtc_ops, UINT64_MAX, &f->rtc, NULL));
	*state = f;
	return 0;
}

static int setup(void **state) { return setup_mem(state, 256ULL << 20, 0); }

static int teardown(void **state)
{
	free(*state);
	return 0;
}

static void test_power_up(void **state)
{
	struct fixture *f = *state;
	struct fixture *g;

	assert_int_equal(rd(f, RTC_REG_A), 0x26);
	assert_int_equal(rd(f, RTC_REG_B), 0x02);
	assert_int_equal(rd(f, RTC_REG_C), 0x00);
	assert_int_equal(rd(f, RTC_REG_D), 0x80);
	/* 2000-01-01 00:00:00, a Saturday (7), BCD. */
	assert_int_equal(now(f), 0x0000000701010020ULL);
	assert_int_equal(dev_bus_pio_read(&f->bus, 0x70, 1), 0xff);
	/* Memory bytes for 256 MiB: 640 KiB base, 0xffff KiB extended (capped),
	 * 240 MiB above 16 MiB = 0x0f00 * 64 KiB, nothing above 4 GiB, 1 CPU. */
	assert_int_equal(rd(f, 0x15) | rd(f, 0x16) << 8, 640);
	assert_int_equal(rd(f, 0x17) | rd(f, 0x18) << 8, 0xffff);
	assert_int_equal(rd(f, 0x30) | rd(f, 0x31) << 8, 0xffff);
	assert_int_equal(rd(f, 0x34) | rd(f, 0x35) << 8, 0x0f00);
	assert_int_equal(rd(f, 0x5b) | rd(f, 0x5c) << 8 | rd(f, 0x5d) << 16, 0);
	assert_int_equal(rd(f, 0x5f), 0);
	/* 3.5 GiB below 4 GiB and 4.5 GiB above it; 32 MiB. */
	setup_mem((void **)&g, 3584ULL << 20, 4608ULL << 20);
	assert_int_equal(rd(g, 0x34) | rd(g, 0x35) << 8, 0xdf00);
	assert_int_equal(rd(g, 0x5b) | rd(g, 0x5c) << 8 | rd(g, 0x5d) << 16, 0x012000);
	free(g);
	setup_mem((void **)&g, 32ULL << 20, 0);
	assert_int_equal(rd(g, 0x17) | rd(g, 0x18) << 8, 31 * 1024);
	assert_int_equal(rd(g, 0x34) | rd(g, 0x35) << 8, 0x0100);
	/* RAM bytes keep what is written; a word access covers both ports. */
	dev_bus_pio_write(&g->bus, 0x70, 2, 0x5a0e);
	assert_int_equal(rd(g, 0x0e), 0x5a);
	free(g);
}

/* UIP in the last 8 cycles (244 us) of each second; the registers change at
 * the second's end. Cycle 32760 begins at TSC ceil(32760 * 10^9 / 32768). */
static void test_update_and_uip(void **state)
{
	struct fixture *f = *state;

	f->line.tsc = 999755859;
	assert_int_equal(rd(f, RTC_REG_A), 0x26);
	f->line.tsc = 999755860;
	assert_int_equal(rd(f, RTC_REG_A), 0xa6);
	f->line.tsc = SEC - 1;
	assert_int_equal(rd(f, RTC_REG_A), 0xa6);
	assert_int_equal(rd(f, RTC_SEC), 0x00);
	assert_int_equal(rd(f, RTC_REG_C), 0x40);  /* PF (1024 Hz) */
	f->line.tsc = SEC;
	assert_int_equal(rd(f, RTC_REG_A), 0x26);
	assert_int_equal(rd(f, RTC_SEC), 0x01);
	/* UF and PF are set; IRQF is not (nothing enabled). */
	assert_int_equal(rd(f, RTC_REG_C), 0x50);
	assert_int_equal(rd(f, RTC_REG_C), 0x00);
	assert_int_equal(f->line.high, 0);
	/* An hour later, in one step. */
	f->line.tsc = 3601 * SEC + 5;
	assert_int_equal(now(f), 0x0100010701010020ULL);
	/* SET holds the time and reads UIP 0. */
	f->line.tsc = 3601 * SEC + 999900000;
	wr(f, RTC_REG_B, RTC_B_SET | RTC_B_24H | RTC_B_UIE);
	assert_int_equal(rd(f, RTC_REG_B), RTC_B_SET | RTC_B_24H);  /* SET clears UIE */
	assert_int_equal(rd(f, RTC_REG_A), 0x26);
	f->line.tsc = 3700 * SEC;
	assert_int_equal(now(f), 0x0100010701010020ULL);
}

/* Binary and 12-hour forms; the calendar across a year, a leap day and a
 * century that is not a leap year. */
static void test_formats_and_calendar(void **state)
{
	struct fixture *f = *state;
	const uint8_t bin12[8] = { 59, 59, 0x80 | 11, 6, 31, 12, 99, 19 };  /* 1999-12-31 11:59:59 PM */
	const uint8_t leap[8] = { 0x59, 0x59, 0x23, 1, 0x28, 0x02, 0x24, 0x20 };  /* 2024-02-28 */
	const uint8_t noleap[8] = { 0x59, 0x59, 0x23, 1, 0x28, 0x02, 0x00, 0x21 };  /* 2100-02-28 */

	/* SET at TSC 0, so the next update is at 1 s. */
	set_time(f, RTC_B_DM, bin12);
	assert_int_equal(now(f), 0x3b3b8b061f0c6313ULL);
	f->line.tsc = SEC - 1;
	assert_int_equal(rd(f, RTC_HOUR), 0x8b);
	f->line.tsc = SEC;
	/* 2000-01-01 12 AM (hour 12, PM clear), Saturday, binary century 20. */
	assert_int_equal(now(f), 0x00000c0701010014ULL);
	wr(f, RTC_REG_B, RTC_B_DM | RTC_B_24H);
	assert_int_equal(rd(f, RTC_HOUR), 0);
	f->line.tsc = (13 * 3600 + 1) * SEC;   /* 13:00:00 */
	wr(f, RTC_REG_B, 0);        /* BCD, 12-hour */
	assert_int_equal(rd(f, RTC_HOUR), 0x81);
	assert_int_equal(rd(f, RTC_MIN), 0x00);

	set_time(f, RTC_B_24H, leap);
	f->line.tsc += SEC;
	assert_int_equal(now(f), 0x0000000529022420ULL);  /* Thursday 29 February */
	set_time(f, RTC_B_24H, noleap);
	f->line.tsc += SEC;
	assert_int_equal(now(f), 0x0000000201030021ULL);  /* 2100: Monday 1 March */
}

/* The periodic interrupt: PF at every period, IRQ 8 high until C is read. */
static void test_periodic_irq(void **state)
{
	struct fixture *f = *state;

	wr(f, RTC_REG_B, RTC_B_24H | RTC_B_PIE);  /* 1024 Hz: 32 cycles */
	assert_int_equal(rtc_next_event(&f->rtc), 976563);
	assert_rises_at(&f->line, 976563, rtc_advance(&f->rtc));
	assert_int_equal(rtc_next_event(&f->rtc), UINT64_MAX);  /* high until C is read */
	assert_int_equal(rd(f, RTC_REG_C), 0xc0);
	assert_int_equal(f->line.low, 1);
	assert_int_equal(rtc_next_event(&f->rtc), 1953125);
	/* 8192 Hz (rate 3: 4 cycles), then rate 1 = rate 8 (256 Hz, 128 cycles). */
	wr(f, RTC_REG_A, 0x23);
	assert_int_equal(rtc_next_event(&f->rtc), 1098633);    /* cycle 36 */
	wr(f, RTC_REG_A, 0x21);
	assert_int_equal(rtc_next_event(&f->rtc), 3906250);    /* cycle 128 */
	/* Rate 0: none; PIE cleared while PF is set drops IRQF. */
	f->line.tsc = 3906250;
	rtc_advance(&f->rtc);
	assert_int_equal(f->line.high, 2);
	wr(f, RTC_REG_B, RTC_B_24H);
	assert_int_equal(f->line.low, 2);
	assert_int_equal(rd(f, RTC_REG_C), 0x40);
	wr(f, RTC_REG_A, 0x20);
	wr(f, RTC_REG_B, RTC_B_24H | RTC_B_PIE);
	assert_int_equal(rtc_next_event(&f->rtc), UINT64_MAX);
}

/* Alarm and update-ended interrupts; alarm values with bits 7:6 set match
 * any value (s3.flat's "every second"). */
static void test_alarm_irq(void **state)
{
	struct fixture *f = *state;

	wr(f, RTC_SEC_ALARM, 0x05);
	wr(f, RTC_MIN_ALARM, 0x00);
	wr(f, RTC_HOUR_ALARM, 0x00);
	wr(f, RTC_REG_B, RTC_B_24H | RTC_B_AIE);
	assert_int_equal(rtc_next_event(&f->rtc), 5 * SEC);
	assert_rises_at(&f->line, 5 * SEC, rtc_advance(&f->rtc));
	assert_int_equal(rd(f, RTC_REG_C), 0xf0);  /* IRQF, PF, AF, UF */
	/* The next match is a day later. */
	assert_int_equal(rtc_next_event(&f->rtc), (86400 + 5) * SEC);
	/* Don't-care everywhere: every second. */
	wr(f, RTC_SEC_ALARM, 0xc0);
	wr(f, RTC_MIN_ALARM, 0xff);
	wr(f, RTC_HOUR_ALARM, 0xc0);
	assert_int_equal(rtc_next_event(&f->rtc), 6 * SEC);
	/* Hour 1 exactly: passed over in one long step, AF is still set. */
	wr(f, RTC_SEC_ALARM, 0x00);
	wr(f, RTC_MIN_ALARM, 0x00);
	wr(f, RTC_HOUR_ALARM, 0x01);
	wr(f, RTC_REG_B, RTC_B_24H);
	f->line.tsc = 7200 * SEC + 3;
	assert_int_equal(rd(f, RTC_REG_C), 0x70);
	/* No hour 0x25 ever comes; UIE alone gives the next second. */
	wr(f, RTC_HOUR_ALARM, 0x25);
	wr(f, RTC_REG_B, RTC_B_24H | RTC_B_AIE);
	assert_int_equal(rtc_next_event(&f->rtc), UINT64_MAX);
	wr(f, RTC_REG_B, RTC_B_24H | RTC_B_AIE | RTC_B_UIE);
	assert_int_equal(rtc_next_event(&f->rtc), 7201 * SEC);
	f->line.tsc = 7201 * SEC;
	rtc_advance(&f->rtc);
	assert_int_equal(rd(f, RTC_REG_C), 0xd0);  /* IRQF, PF, UF */
}

/* The divider in reset holds the time; out of reset, the first update
 * comes half a second later. A field written while running is replaced at
 * once and the second keeps its fraction. */
static void test_divider_and_running_write(void **state)
{
	struct fixture *f = *state;

	f->line.tsc = 2 * SEC + SEC / 4;
	wr(f, RTC_MIN, 0x30);
	assert_int_equal(now(f), 0x0230000701010020ULL);
	f->line.tsc = 3 * SEC;
	assert_int_equal(rd(f, RTC_SEC), 0x03);
	assert_int_equal(rd(f, RTC_MIN), 0x30);
	f->line.tsc = 3 * SEC + 1234;
	wr(f, RTC_REG_A, 0x76);
	f->line.tsc = 10 * SEC;
	assert_int_equal(rd(f, RTC_SEC), 0x03);
	assert_int_equal(rd(f, RTC_REG_A), 0x76);
	assert_int_equal(rd(f, RTC_REG_C), 0x50);  /* PF, UF from before the reset only */
	assert_int_equal(rd(f, RTC_REG_C), 0x00);
	wr(f, RTC_REG_A, 0x26);
	f->line.tsc = 10 * SEC + SEC / 2 - 1;
	assert_int_equal(rd(f, RTC_SEC), 0x03);
	f->line.tsc = 10 * SEC + SEC / 2;
	assert_int_equal(rd(f, RTC_SEC), 0x04);
	assert_int_equal(rd(f, RTC_REG_C), 0x50);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_power_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_and_uip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_formats_and_calendar, setup, teardown),
		cmocka_unit_test_setup_teardown(test_periodic_irq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alarm_irq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_divider_and_running_write, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
