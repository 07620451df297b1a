/* SPDX-License-Identifier: MIT */
/*
 * tests/jsonread_test.c - the JSON reader (hv/jsonread.c) and the CSV
 * writer on top of it (hv/csv.c): what RFC 8259 allows is read, with numbers
 * kept as written; what it does not is an error naming the line, never a
 * crash; a report flattens to columns named by their paths.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/csv.h"
#include "hv/jsonread.h"
#include "tests/testutil.h"

static struct jv *parse_ok(const char *text)
{
	struct jv *v = NULL;
	char err[256] = "";

	if (jv_parse(text, strlen(text), &v, err, sizeof(err)) != 0)
		fail_msg("'%s' refused: %s", text, err);
	return v;
}

static void expect_error(const char *text, size_t len, const char *want)
{
	struct jv *v = NULL;
	char err[256] = "";

	assert_int_equal(jv_parse(text, len, &v, err, sizeof(err)), -EINVAL);
	assert_null(v);
	if (strstr(err, want) == NULL)
		fail_msg("'%.*s': got '%s', want '%s'", (int)len, text, err, want);
}

static void test_values(void **state)
{
	struct jv *v = parse_ok(" {\"a\": {\"b\": [1, 2.5e3, -0, true, null]},\n"
				"  \"s\": \"x\\u00e9\\ud83d\\ude00\\n\\\"\", \"n\": 18446744073709551615} ");
	const struct jv *arr = jv_get(v, "a.b");
	uint64_t u;

	(void)state;
	assert_int_equal(v->type, JV_OBJ);
	assert_non_null(arr);
	assert_int_equal(arr->n, 5);
	/* Numbers keep their text: a report copied through prints the same digits. */
	assert_string_equal(arr->items[1].text, "2.5e3");
	assert_string_equal(arr->items[2].text, "-0");
	assert_int_equal(arr->items[3].type, JV_BOOL);
	assert_true(arr->items[3].b);
	assert_int_equal(arr->items[4].type, JV_NULL);
	/* \u escapes as UTF-8, a surrogate pair as one code point (U+1F600). */
	assert_string_equal(jv_text(v, "s"), "x\xc3\xa9\xf0\x9f\x98\x80\n\"");
	assert_true(jv_u64(v, "n", &u));
	assert_true(u == UINT64_MAX);
	assert_false(jv_u64(v, "a.b", &u));
	assert_null(jv_get(v, "a.c"));
	assert_null(jv_get(v, "s.t"));
	jv_free(v);
}

static void test_errors(void **state)
{
	char deep[200];

	(void)state;
	expect_error("", 0, "line 1: expected a value, found the end");
	expect_error("{\"a\": 1,}", 9, "line 1: expected an object key");
	expect_error("{\"a\" 1}", 7, "line 1: expected ':' after an object key");
	expect_error("[1 2]", 5, "line 1: expected ',' or ']'");
	expect_error("\n\n[01]", 6, "line 3: expected ',' or ']'");
	expect_error("\"abc", 4, "a string is not closed");
	expect_error("\"a\tb\"", 5, "a control character inside a string");
	expect_error("\"\\x\"", 4, "unknown escape");
	expect_error("\"\\u12\"", 6, "four hex digits");
	expect_error("\"\\ud800\"", 8, "a lone UTF-16 surrogate");
	expect_error("\"\\udc00\"", 8, "a lone UTF-16 surrogate");
	expect_error("1.", 2, "digits after '.'");
	expect_error("1e", 2, "digits in its exponent");
	expect_error("tru", 3, "expected a value");
	expect_error("{} {}", 5, "text after the value");
	expect_error("[1\0]", 4, "expected ',' or ']'");
	/* Nesting is bounded: deep input is an error, not a deep recursion. */
	memset(deep, '[', sizeof(deep));
	expect_error(deep, sizeof(deep), "nested deeper than 64 levels");
}

/* CSV of text as csv_capture_end writes it (rows as for hv bench). */
static char *csv_of(const char *json, const char *rows)
{
	struct csv_capture c;
	char *out = NULL, err[256] = "";
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	assert_ok(csv_capture_begin(&c));
	fputs(json, c.f);
	if (csv_capture_end(&c, f, rows, err, sizeof(err)) != 0)
		fail_msg("csv: %s", err);
	fclose(f);
	return out;
}

static void test_csv(void **state)
{
	char *s;

	(void)state;
	s = csv_of("{\"walks\": 3, \"hist\": [0, 2], \"g\": {\"rows\": [\"a,b\", \"q\\\"\"]}, "
		   "\"x\": null, \"ok\": false}", NULL);
	assert_string_equal(s, "walks,hist.0,hist.1,g.rows.0,g.rows.1,ok\n"
			       "3,0,2,\"a,b\",\"q\"\"\",false\n");
	free(s);
	/* One row a member of "b", led by its name; members a row lacks are empty. */
	s = csv_of("{\"command\": \"bench\", \"b\": {\"one\": {\"ops\": 1}, "
		   "\"two\": {\"ops\": 2, \"ratio\": 1.5}}}", "b");
	assert_string_equal(s, "command,name,ops,ratio\nbench,one,1,\nbench,two,2,1.5\n");
	free(s);
	s = csv_of("{\"b\": [{\"ops\": 7}]}", "b");
	assert_string_equal(s, "name,ops\n0,7\n");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_csv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
