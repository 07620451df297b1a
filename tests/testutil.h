/* SPDX-License-Identifier: MIT */
/* tests/testutil.h - helpers shared by the cmocka tests. */
#ifndef HV_TESTUTIL_H
#define HV_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Assert an int-returning library call succeeded, printing the errno value on failure. */
#define assert_ok(expr) assert_int_equal((expr), 0)

/*
 * A device model's clock and interrupt line in a test: the clock hook reads
 * `tsc`, which the test moves; the IRQ hook asserts that the model drives
 * only line `irq` and only changes its level, and counts the rising and
 * falling edges. Pass the struct as the hooks' context.
 */
struct test_line {
	uint64_t tsc;
	unsigned irq;
	int level;
	unsigned high, low;  /* edges seen */
};

static inline uint64_t test_line_clock(void *ctx)
{
	return ((struct test_line *)ctx)->tsc;
}

static inline void test_line_set_irq(void *ctx, unsigned irq, int level)
{
	struct test_line *l = ctx;

	assert_int_equal(irq, l->irq);
	assert_int_not_equal(level, l->level);  /* only changes are driven */
	l->level = level;
	if (level)
		l->high++;
	else
		l->low++;
}

#endif /* HV_TESTUTIL_H */
