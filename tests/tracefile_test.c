/* SPDX-License-Identifier: MIT */
/*
 * tests/tracefile_test.c - the trace reader (hv/tracefile.c): what it reads,
 * and that every input it refuses is refused with the line named and a reason,
 * after a bounded amount of reading.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/tracefile.h"
#include "tests/testutil.h"

/* Read all of buf (len bytes, may hold NULs); returns what the last
 * trace_reader_next returned, the accesses in out[] and their count. */
struct result {
	int rc;
	unsigned n;
	struct trace_access acc[16];
	unsigned long lineno;
	char err[512];
};

static void read_all(const char *buf, size_t len, struct result *res)
{
	FILE *f = fmemopen((void *)buf, len, "r");
	struct trace_reader *r = malloc(sizeof(*r));

	assert_non_null(f);
	assert_non_null(r);
	memset(res, 0, sizeof(*res));
	trace_reader_init(r, f, "t.trace");
	for (;;) {
		struct trace_access a;

		res->rc = trace_reader_next(r, &a, res->err, sizeof(res->err));
		if (res->rc <= 0)
			break;
		if (res->n < 16)
			res->acc[res->n] = a;
		res->n++;
	}
	res->lineno = r->lineno;
	free(r);
	fclose(f);
}

static void test_lines(void **state)
{
	static const char text[] =
		"# comment\n"
		"\n"
		"R 0x7f1240000000\n"
		"  w\t7F1240000008   # trailing comment\n"
		"X 0XABC\n"
		"r ffffffffffffffff";          /* no final newline */
	struct result res;

	(void)state;
	read_all(text, strlen(text), &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 4);
	assert_int_equal(res.acc[0].type, ACC_READ);
	assert_int_equal(res.acc[0].gva, 0x7f1240000000ULL);
	assert_int_equal(res.acc[1].type, ACC_WRITE);
	assert_int_equal(res.acc[1].gva, 0x7f1240000008ULL);
	assert_int_equal(res.acc[2].type, ACC_FETCH);
	assert_int_equal(res.acc[2].gva, 0xabc);
	assert_int_equal(res.acc[3].gva, UINT64_MAX);
}

/* CR LF endings read as LF (files written on Windows). */
static void test_crlf(void **state)
{
	static const char text[] = "R 1000\r\nW 2000\r\n\r\n";
	struct result res;

	(void)state;
	read_all(text, strlen(text), &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 2);
	assert_int_equal(res.acc[1].gva, 0x2000);
}

/* CR-only endings (classic Mac OS) would make the whole file one line:
 * refused at the first lone CR, naming it. */
static void test_cr_only(void **state)
{
	static const char text[] = "R 1000\rW 2000\rR 3000\r";
	struct result res;

	(void)state;
	read_all(text, strlen(text), &res);
	assert_int_equal(res.rc, -EINVAL);
	assert_int_equal(res.n, 0);
	assert_non_null(strstr(res.err, "t.trace:1: carriage return without a line feed"));
}

/* A UTF-8 byte-order mark at the start is skipped; anywhere else it is text. */
static void test_bom(void **state)
{
	static const char text[] = "\xef\xbb\xbfR 1000\n";
	static const char late[] = "R 1000\n\xef\xbb\xbfR 2000\n";
	struct result res;

	(void)state;
	read_all(text, strlen(text), &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 1);
	assert_int_equal(res.acc[0].gva, 0x1000);
	read_all(late, strlen(late), &res);
	assert_int_equal(res.rc, -EINVAL);
	assert_int_equal(res.n, 1);
	assert_non_null(strstr(res.err, "t.trace:2: expected an access type"));
}

/* A NUL inside a line once cut the line short silently: "R 10\0garbage"
 * read as "R 10". Now it is an error naming the line. */
static void test_nul(void **state)
{
	static const char text[] = "R 1000\nR 10\0garbage\n";
	struct result res;

	(void)state;
	read_all(text, sizeof(text) - 1, &res);
	assert_int_equal(res.rc, -EINVAL);
	assert_int_equal(res.n, 1);
	assert_non_null(strstr(res.err, "t.trace:2: NUL byte inside the line"));
}

/* Lines are bounded: TRACE_LINE_MAX bytes are read, one more is refused
 * (and the reader stops there instead of reading the whole stream). */
static void test_line_length(void **state)
{
	size_t len = TRACE_LINE_MAX + 16;
	char *buf = malloc(len + 2);
	struct result res;

	(void)state;
	assert_non_null(buf);
	/* "R 1000" then blanks up to exactly TRACE_LINE_MAX bytes. */
	memset(buf, ' ', len);
	memcpy(buf, "R 1000", 6);
	buf[TRACE_LINE_MAX] = '\n';
	read_all(buf, TRACE_LINE_MAX + 1, &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 1);

	/* Line 2 is one byte too long. */
	memcpy(buf, "R 1\n", 4);
	memset(buf + 4, ' ', len - 4);
	buf[4] = 'W';
	buf[5] = ' ';
	buf[6] = '2';
	buf[4 + TRACE_LINE_MAX + 1] = '\n';
	read_all(buf, 4 + TRACE_LINE_MAX + 2, &res);
	assert_int_equal(res.rc, -EINVAL);
	assert_int_equal(res.n, 1);
	assert_non_null(strstr(res.err, "t.trace:2: line longer than 4096 bytes"));
	free(buf);
}

static void test_bad_lines(void **state)
{
	static const struct {
		const char *text, *why;
	} cases[] = {
		{ "Q 1000\n", "t.trace:1: expected an access type R, W or X" },
		{ "R1000\n", "t.trace:1: expected a space between" },
		{ "R\n", "t.trace:1: expected a hexadecimal address" },
		{ "R   # nothing\n", "t.trace:1: expected a hexadecimal address" },
		{ "R 0x\n", "t.trace:1: expected a hexadecimal address" },
		{ "R 10000000000000000\n", "t.trace:1: address does not fit in 64 bits" },
		{ "\nR 1000 2000\n", "t.trace:2: unexpected text after the address" },
		{ "R 1000z\n", "t.trace:1: unexpected text after the address" },
	};
	struct result res;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		read_all(cases[i].text, strlen(cases[i].text), &res);
		assert_int_equal(res.rc, -EINVAL);
		if (strstr(res.err, cases[i].why) == NULL)
			fail_msg("'%s': got '%s', want '%s'", cases[i].text, res.err, cases[i].why);
	}
}

static void test_empty(void **state)
{
	struct result res;

	(void)state;
	read_all("", 0, &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 0);
	read_all("# only a comment", 16, &res);
	assert_int_equal(res.rc, 0);
	assert_int_equal(res.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_cr_only),
		cmocka_unit_test(test_bom),
		cmocka_unit_test(test_nul),
		cmocka_unit_test(test_line_length),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
