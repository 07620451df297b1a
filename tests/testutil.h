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

#endif /* HV_TESTUTIL_H */
