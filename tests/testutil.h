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

/*
 * The line rises at TSC `at` and not one tick before: ADVANCE (the model's
 * advance call) at at - 1 leaves the edge count as it was, at `at` adds one.
 */
#define assert_rises_at(line, at, advance) do {				\
		unsigned rises_before_ = (line)->high;			\
		(line)->tsc = (at) - 1;					\
		advance;						\
		assert_int_equal((line)->high, rises_before_);		\
		(line)->tsc = (at);					\
		advance;						\
		assert_int_equal((line)->high, rises_before_ + 1);	\
	} while (0)

#endif /* HV_TESTUTIL_H */
