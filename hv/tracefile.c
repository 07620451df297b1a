/* SPDX-License-Identifier: MIT */
/*
 * hv/tracefile.c - read "R|W|X <hex GVA>" trace lines from a stream, with a
 * bounded line buffer so that no input makes hv's memory grow (see
 * hv/tracefile.h for what is refused and why).
 */
#include "hv/tracefile.h"

#include <errno.h>
#include <string.h>

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int trace_parse_line(const char *line, size_t len, struct trace_access *a, bool *empty,
		     const char **why)
{
	const char *hash = memchr(line, '#', len);
	const char *p = line, *end = hash ? hash : line + len;
	uint64_t v = 0;
	bool any = false;

	*empty = false;
	while (p < end && is_blank(*p))
		p++;
	if (p == end) {
		*empty = true;
		return 0;
	}
	switch (*p) {
	case 'R': case 'r': a->type = ACC_READ; break;
	case 'W': case 'w': a->type = ACC_WRITE; break;
	case 'X': case 'x': a->type = ACC_FETCH; break;
	default:
		*why = "expected an access type R, W or X at the start of the line";
		return -EINVAL;
	}
	p++;
	if (p == end || !is_blank(*p)) {
		*why = p == end ? "expected a hexadecimal address after the access type"
				: "expected a space between the access type and the address";
		return -EINVAL;
	}
	while (p < end && is_blank(*p))
		p++;
	if (end - p >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	for (int d; p < end && (d = hex_digit(*p)) >= 0; p++) {
		if (v >> 60) {
			*why = "address does not fit in 64 bits";
			return -EINVAL;
		}
		v = (v << 4) | (unsigned)d;
		any = true;
	}
	if (!any) {
		*why = "expected a hexadecimal address after the access type";
		return -EINVAL;
	}
	while (p < end && is_blank(*p))
		p++;
	if (p != end) {
		*why = "unexpected text after the address";
		return -EINVAL;
	}
	a->gva = v;
	a->size = 1;
	a->modify = false;
	return 0;
}

int trace_parse_lackey(const char *line, size_t len, struct trace_access *a, bool *empty,
		       const char **why)
{
	const char *p = line, *end = line + len;
	uint64_t v = 0, size = 0;
	bool any = false;

	*empty = false;
	/* valgrind's own messages and blank lines carry no access. */
	if (len >= 2 && ((p[0] == '=' && p[1] == '=') || (p[0] == '-' && p[1] == '-'))) {
		*empty = true;
		return 0;
	}
	while (p < end && is_blank(*p))
		p++;
	if (p == end) {
		*empty = true;
		return 0;
	}
	a->modify = false;
	switch (*p) {
	case 'I': a->type = ACC_FETCH; break;
	case 'L': a->type = ACC_READ; break;
	case 'S': a->type = ACC_WRITE; break;
	case 'M': a->type = ACC_READ; a->modify = true; break;
	default:
		*why = "expected a lackey record I, L, S or M";
		return -EINVAL;
	}
	p++;
	if (p == end || !is_blank(*p)) {
		*why = "expected a space after the record type";
		return -EINVAL;
	}
	while (p < end && is_blank(*p))
		p++;
	for (int d; p < end && (d = hex_digit(*p)) >= 0; p++) {
		if (v >> 60) {
			*why = "address does not fit in 64 bits";
			return -EINVAL;
		}
		v = (v << 4) | (unsigned)d;
		any = true;
	}
	if (!any || p == end || *p != ',') {
		*why = "expected ADDRESS,SIZE (hexadecimal address, decimal size)";
		return -EINVAL;
	}
	for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
		size = size * 10 + (unsigned)(*p - '0');
		if (size > 4096) {
			*why = "access size larger than 4096 bytes";
			return -EINVAL;
		}
	}
	while (p < end && is_blank(*p))
		p++;
	if (size == 0 || p != end) {
		*why = "expected a decimal size from 1 to 4096 after the comma";
		return -EINVAL;
	}
	a->gva = v;
	a->size = (unsigned)size;
	return 0;
}

void trace_reader_init(struct trace_reader *r, FILE *f, const char *name)
{
	r->f = f;
	r->name = name;
	r->lineno = 0;
	r->format = TRACE_FMT_AUTO;
}

void trace_reader_set_format(struct trace_reader *r, enum trace_format format)
{
	r->format = format;
}

/* Which format a content line is in: lackey's has a comma, hv's never. */
static enum trace_format detect_format(const char *line, size_t len)
{
	return memchr(line, ',', len) ? TRACE_FMT_LACKEY : TRACE_FMT_HV;
}

/*
 * Read one line into r->line without its ending: its length, -1 at the end
 * of the stream, or -EINVAL / -EIO with *why set. Byte by byte (unlocked):
 * the checks look at every byte anyway, and the buffer never grows.
 */
static long read_line(struct trace_reader *r, const char **why)
{
	size_t n = 0;
	int c;

	for (;;) {
		c = getc_unlocked(r->f);
		if (c == EOF) {
			if (ferror(r->f)) {
				*why = strerror(errno ? errno : EIO);
				return -EIO;
			}
			if (n == 0)
				return -1;
			break;
		}
		if (c == '\n')
			break;
		if (c == '\r') {
			c = getc_unlocked(r->f);
			if (c == '\n' || c == EOF)
				break;
			*why = "carriage return without a line feed: lines must end in LF or CR LF "
			       "(convert CR-only line endings, e.g. tr '\\r' '\\n')";
			return -EINVAL;
		}
		if (c == '\0') {
			*why = "NUL byte inside the line: a trace is a text file";
			return -EINVAL;
		}
		if (n == TRACE_LINE_MAX) {
			*why = "line longer than " TRACE_LINE_MAX_STR " bytes: a trace is a text "
			       "file of short lines";
			return -EINVAL;
		}
		r->line[n++] = (char)c;
	}
	r->line[n] = '\0';
	/* A UTF-8 byte-order mark, as some editors write, is not content. */
	if (r->lineno == 1 && n >= 3 && memcmp(r->line, "\xef\xbb\xbf", 3) == 0) {
		memmove(r->line, r->line + 3, n - 3 + 1);
		n -= 3;
	}
	return (long)n;
}

int trace_reader_next(struct trace_reader *r, struct trace_access *a, char *err, size_t errlen)
{
	for (;;) {
		const char *why = NULL;
		bool empty;
		long n;

		r->lineno++;
		n = read_line(r, &why);
		if (n == -1)
			return 0;
		if (n >= 0 && r->format == TRACE_FMT_AUTO) {
			bool blank = false;

			if (n >= 2 && (memcmp(r->line, "==", 2) == 0 || memcmp(r->line, "--", 2) == 0))
				r->format = TRACE_FMT_LACKEY; /* valgrind's own line */
			else if (trace_parse_line(r->line, (size_t)n, a, &blank, &why) != 0 || !blank)
				r->format = detect_format(r->line, (size_t)n);
			else
				continue; /* blank or a comment: undecided yet */
		}
		if (n >= 0 && (r->format == TRACE_FMT_LACKEY
				       ? trace_parse_lackey(r->line, (size_t)n, a, &empty, &why)
				       : trace_parse_line(r->line, (size_t)n, a, &empty, &why)) == 0) {
			if (empty)
				continue;
			return 1;
		}
		snprintf(err, errlen, "%s:%lu: %s%s", r->name, r->lineno,
			 n == -EIO ? "read error: " : "", why);
		return n == -EIO ? -EIO : -EINVAL;
	}
}
