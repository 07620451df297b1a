/* SPDX-License-Identifier: MIT */
/*
 * hv/jsonread.c - a small recursive-descent JSON reader (RFC 8259) for hv's
 * own reports. Anything malformed is an error naming the line, never a
 * crash: nesting is bounded, strings are checked for control characters and
 * their escapes decoded to UTF-8.
 */
#include "hv/jsonread.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Deeper than any report hv writes, shallow enough for the C stack. */
#define JV_MAX_DEPTH 64
#define JV_MAX_FILE (64u << 20)

struct jp {
	const char *p, *end;
	unsigned line, depth;
	char *err;
	size_t errlen;
	int rc;
};

static int jp_fail(struct jp *jp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int jp_fail(struct jp *jp, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (jp->rc)
		return jp->rc;
	n = snprintf(jp->err, jp->errlen, "line %u: ", jp->line);
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < jp->errlen)
		vsnprintf(jp->err + n, jp->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	jp->rc = -EINVAL;
	return jp->rc;
}

static int jp_nomem(struct jp *jp)
{
	snprintf(jp->err, jp->errlen, "out of memory");
	jp->rc = -ENOMEM;
	return jp->rc;
}

static void jp_space(struct jp *jp)
{
	while (jp->p < jp->end) {
		char c = *jp->p;

		if (c == '\n')
			jp->line++;
		else if (c != ' ' && c != '\t' && c != '\r')
			return;
		jp->p++;
	}
}

static void put_utf8(char *out, size_t *n, unsigned cp)
{
	if (cp < 0x80) {
		out[(*n)++] = (char)cp;
	} else if (cp < 0x800) {
		out[(*n)++] = (char)(0xc0 | (cp >> 6));
		out[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		out[(*n)++] = (char)(0xe0 | (cp >> 12));
		out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		out[(*n)++] = (char)(0xf0 | (cp >> 18));
		out[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[(*n)++] = (char)(0x80 | (cp & 0x3f));
	}
}

static int hex4(struct jp *jp, unsigned *out)
{
	unsigned v = 0;

	if (jp->end - jp->p < 4)
		return jp_fail(jp, "a \\u escape needs four hex digits");
	for (int i = 0; i < 4; i++) {
		char c = *jp->p++;

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return jp_fail(jp, "a \\u escape needs four hex digits");
	}
	*out = v;
	return 0;
}

/* At the opening quote. The decoded text is never longer than the escaped
 * one (\uXXXX is six bytes for at most four), so one allocation of the
 * source length is enough. */
static int jp_string(struct jp *jp, char **out)
{
	const char *start = ++jp->p;
	const char *q = start;
	char *s;
	size_t n = 0;

	while (q < jp->end && *q != '"') {
		if (*q == '\\' && q + 1 < jp->end)
			q++;
		q++;
	}
	if (q >= jp->end)
		return jp_fail(jp, "a string is not closed");
	s = malloc((size_t)(q - start) + 1);
	if (s == NULL)
		return jp_nomem(jp);
	while (*jp->p != '"') {
		unsigned char c = (unsigned char)*jp->p++;
		unsigned cp, lo;

		if (c < 0x20) {
			free(s);
			return jp_fail(jp, "a control character inside a string");
		}
		if (c != '\\') {
			s[n++] = (char)c;
			continue;
		}
		c = (unsigned char)*jp->p++;
		switch (c) {
		case '"': case '\\': case '/': s[n++] = (char)c; break;
		case 'b': s[n++] = '\b'; break;
		case 'f': s[n++] = '\f'; break;
		case 'n': s[n++] = '\n'; break;
		case 'r': s[n++] = '\r'; break;
		case 't': s[n++] = '\t'; break;
		case 'u':
			if (hex4(jp, &cp))
				goto bad;
			/* A surrogate pair is one code point; a lone half is an error. */
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (jp->end - jp->p < 2 || jp->p[0] != '\\' || jp->p[1] != 'u') {
					jp_fail(jp, "a lone UTF-16 surrogate in a \\u escape");
					goto bad;
				}
				jp->p += 2;
				if (hex4(jp, &lo))
					goto bad;
				if (lo < 0xdc00 || lo > 0xdfff) {
					jp_fail(jp, "a lone UTF-16 surrogate in a \\u escape");
					goto bad;
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				jp_fail(jp, "a lone UTF-16 surrogate in a \\u escape");
				goto bad;
			}
			put_utf8(s, &n, cp);
			break;
		default:
			jp_fail(jp, "unknown escape '\\%c' in a string", c);
			goto bad;
		}
	}
	jp->p++;
	s[n] = '\0';
	*out = s;
	return 0;
bad:
	free(s);
	return jp->rc;
}

static int jp_number(struct jp *jp, struct jv *v)
{
	const char *s = jp->p;

	if (jp->p < jp->end && *jp->p == '-')
		jp->p++;
	if (jp->p >= jp->end || *jp->p < '0' || *jp->p > '9')
		return jp_fail(jp, "expected a value");
	if (*jp->p == '0')
		jp->p++;
	else
		while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9')
			jp->p++;
	if (jp->p < jp->end && *jp->p == '.') {
		jp->p++;
		if (jp->p >= jp->end || *jp->p < '0' || *jp->p > '9')
			return jp_fail(jp, "a number needs digits after '.'");
		while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9')
			jp->p++;
	}
	if (jp->p < jp->end && (*jp->p == 'e' || *jp->p == 'E')) {
		jp->p++;
		if (jp->p < jp->end && (*jp->p == '+' || *jp->p == '-'))
			jp->p++;
		if (jp->p >= jp->end || *jp->p < '0' || *jp->p > '9')
			return jp_fail(jp, "a number needs digits in its exponent");
		while (jp->p < jp->end && *jp->p >= '0' && *jp->p <= '9')
			jp->p++;
	}
	v->type = JV_NUM;
	v->text = strndup(s, (size_t)(jp->p - s));
	return v->text ? 0 : jp_nomem(jp);
}

static bool jp_word(struct jp *jp, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(jp->end - jp->p) < n || memcmp(jp->p, w, n) != 0)
		return false;
	jp->p += n;
	return true;
}

static int jp_value(struct jp *jp, struct jv *v);

/* Items of an array or object, after the opening bracket. */
static int jp_items(struct jp *jp, struct jv *v, bool object)
{
	size_t cap = 0;
	char close = object ? '}' : ']';

	v->type = object ? JV_OBJ : JV_ARR;
	if (++jp->depth > JV_MAX_DEPTH)
		return jp_fail(jp, "nested deeper than %d levels", JV_MAX_DEPTH);
	jp_space(jp);
	if (jp->p < jp->end && *jp->p == close) {
		jp->p++;
		jp->depth--;
		return 0;
	}
	for (;;) {
		char *key = NULL;

		if (v->n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct jv *items = realloc(v->items, ncap * sizeof(*items));
			char **keys;

			if (items == NULL)
				return jp_nomem(jp);
			v->items = items;
			if (object) {
				keys = realloc(v->keys, ncap * sizeof(*keys));
				if (keys == NULL)
					return jp_nomem(jp);
				v->keys = keys;
			}
			cap = ncap;
		}
		jp_space(jp);
		if (object) {
			if (jp->p >= jp->end || *jp->p != '"')
				return jp_fail(jp, "expected an object key (a string)");
			if (jp_string(jp, &key))
				return jp->rc;
			jp_space(jp);
			if (jp->p >= jp->end || *jp->p != ':') {
				free(key);
				return jp_fail(jp, "expected ':' after an object key");
			}
			jp->p++;
			v->keys[v->n] = key;
		}
		memset(&v->items[v->n], 0, sizeof(v->items[0]));
		v->n++;
		if (jp_value(jp, &v->items[v->n - 1]))
			return jp->rc;
		jp_space(jp);
		if (jp->p < jp->end && *jp->p == ',') {
			jp->p++;
			continue;
		}
		if (jp->p < jp->end && *jp->p == close) {
			jp->p++;
			jp->depth--;
			return 0;
		}
		return jp_fail(jp, "expected ',' or '%c'", close);
	}
}

static int jp_value(struct jp *jp, struct jv *v)
{
	jp_space(jp);
	if (jp->p >= jp->end)
		return jp_fail(jp, "expected a value, found the end");
	switch (*jp->p) {
	case '{':
		jp->p++;
		return jp_items(jp, v, true);
	case '[':
		jp->p++;
		return jp_items(jp, v, false);
	case '"':
		v->type = JV_STR;
		return jp_string(jp, &v->text);
	case 't':
	case 'f':
		v->type = JV_BOOL;
		v->b = *jp->p == 't';
		if (jp_word(jp, v->b ? "true" : "false"))
			return 0;
		return jp_fail(jp, "expected a value");
	case 'n':
		v->type = JV_NULL;
		if (jp_word(jp, "null"))
			return 0;
		return jp_fail(jp, "expected a value");
	default:
		return jp_number(jp, v);
	}
}

static void jv_clear(struct jv *v)
{
	for (size_t i = 0; i < v->n; i++) {
		jv_clear(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->text);
}

void jv_free(struct jv *v)
{
	if (v == NULL)
		return;
	jv_clear(v);
	free(v);
}

int jv_parse(const char *text, size_t len, struct jv **out, char *err, size_t errlen)
{
	struct jp jp = { .p = text, .end = text + len, .line = 1, .err = err, .errlen = errlen };
	struct jv *v = calloc(1, sizeof(*v));

	if (v == NULL)
		return jp_nomem(&jp);
	if (jp_value(&jp, v) == 0) {
		jp_space(&jp);
		if (jp.p != jp.end)
			jp_fail(&jp, "text after the value");
	}
	if (jp.rc) {
		jv_free(v);
		return jp.rc;
	}
	*out = v;
	return 0;
}

int jv_parse_file(const char *path, struct jv **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL, why[256];
	size_t n = 0, cap = 0;
	int rc;

	if (f == NULL) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	for (;;) {
		size_t got;

		if (n == cap) {
			char *nb;

			if (cap >= JV_MAX_FILE) {
				snprintf(err, errlen, "%s: larger than %u MiB", path, JV_MAX_FILE >> 20);
				rc = -EFBIG;
				goto out;
			}
			cap = cap ? cap * 2 : 1 << 16;
			nb = realloc(buf, cap);
			if (nb == NULL) {
				snprintf(err, errlen, "%s: out of memory", path);
				rc = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		rc = -EIO;
		goto out;
	}
	rc = jv_parse(buf ? buf : "", n, out, why, sizeof(why));
	if (rc)
		snprintf(err, errlen, "%s: %s", path, why);
out:
	free(buf);
	fclose(f);
	return rc;
}

const struct jv *jv_get(const struct jv *v, const char *path)
{
	while (v != NULL && *path) {
		size_t len = strcspn(path, ".");
		const struct jv *next = NULL;

		if (v->type != JV_OBJ)
			return NULL;
		for (size_t i = 0; i < v->n; i++)
			if (strlen(v->keys[i]) == len && memcmp(v->keys[i], path, len) == 0)
				next = &v->items[i];
		v = next;
		path += len;
		if (*path == '.')
			path++;
	}
	return v;
}

bool jv_u64(const struct jv *v, const char *path, uint64_t *out)
{
	const struct jv *x = jv_get(v, path);
	uint64_t r = 0;

	if (x == NULL || x->type != JV_NUM || x->text[0] == '\0')
		return false;
	for (const char *p = x->text; *p; p++) {
		if (*p < '0' || *p > '9' || r > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return false;
		r = r * 10 + (uint64_t)(*p - '0');
	}
	*out = r;
	return true;
}

const char *jv_text(const struct jv *v, const char *path)
{
	const struct jv *x = jv_get(v, path);

	return x != NULL && (x->type == JV_NUM || x->type == JV_STR) ? x->text : NULL;
}
