/* SPDX-License-Identifier: MIT */
/*
 * hv/tracefile.h - reading trace files, one access at a time.
 *
 * The text format: one access a line, "R|W|X <hex GVA>" (0x optional, either
 * case), blank lines and everything after '#' ignored. A reader takes any
 * stdio stream, so a file, a pipe or a decompressor's stream read alike.
 *
 * What a reader refuses, each with "NAME:LINE: why" (docs/cli.md):
 *   - a line longer than TRACE_LINE_MAX bytes (a binary or runaway file
 *     such as /dev/zero is refused after one line, not read into memory);
 *   - a NUL byte inside a line (not a text file);
 *   - a carriage return not followed by a line feed (CR-only line endings);
 *     CR LF endings are read as LF.
 * A UTF-8 byte-order mark at the very start of the stream is skipped.
 */
#ifndef HV_TRACEFILE_H
#define HV_TRACEFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ept/ept.h"

/* Longest line read, without its line ending. */
#define TRACE_LINE_MAX 4096
#define TRACE_LINE_MAX_STR "4096"

/* One access of a replay. */
struct trace_access {
	uint64_t gva;
	unsigned type; /* ACC_READ / ACC_WRITE / ACC_FETCH */
};

/*
 * A reader over one stream. f and name are set by trace_reader_init and
 * never changed; lineno is the line last read (the one an error names).
 */
struct trace_reader {
	FILE *f;
	const char *name;
	unsigned long lineno;
	char line[TRACE_LINE_MAX + 1];
};

/* Start reading f; name is what messages call it (a path). */
void trace_reader_init(struct trace_reader *r, FILE *f, const char *name);

/*
 * The next access: 1 with *a filled, 0 at the end of the stream, or a
 * negative errno with "NAME:LINE: why" in err (-EINVAL: bad content, -EIO: the
 * stream failed).
 */
int trace_reader_next(struct trace_reader *r, struct trace_access *a, char *err,
		      size_t errlen) HV_MUST_CHECK;

/*
 * Parse one line (len bytes, no line ending, no NUL inside): 0 with *a set,
 * or with *empty set for a blank or comment line; -EINVAL with *why set.
 */
int trace_parse_line(const char *line, size_t len, struct trace_access *a, bool *empty,
		     const char **why) HV_MUST_CHECK;

#endif /* HV_TRACEFILE_H */
