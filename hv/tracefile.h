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
 *
 * The lackey format, what `valgrind --tool=lackey --trace-mem=yes PROG`
 * writes: "I  ADDR,SIZE" (instruction fetch), " L ADDR,SIZE" (load),
 * " S ADDR,SIZE" (store), " M ADDR,SIZE" (modify: a load then a store),
 * ADDR in hex without 0x and SIZE in decimal bytes; valgrind's own lines
 * ("==PID== ...", "--PID-- ...") are skipped. With TRACE_FMT_AUTO the first
 * line that is neither blank nor a comment decides the format.
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
	unsigned size; /* bytes (1 in hv's format), so a caller can split at pages */
	bool modify;   /* lackey's M: a load then a store of the same bytes */
};

enum trace_format { TRACE_FMT_AUTO, TRACE_FMT_HV, TRACE_FMT_LACKEY };

/*
 * A reader over one stream. f and name are set by trace_reader_init and
 * never changed; lineno is the line last read (the one an error names).
 */
struct trace_reader {
	FILE *f;
	const char *name;
	unsigned long lineno;
	enum trace_format format; /* AUTO until the first access line decides */
	char line[TRACE_LINE_MAX + 1];
};

/* Start reading f; name is what messages call it (a path). */
void trace_reader_init(struct trace_reader *r, FILE *f, const char *name);
/* Read f in this format (the default is TRACE_FMT_AUTO). */
void trace_reader_set_format(struct trace_reader *r, enum trace_format format);

/* Parse one lackey line as trace_parse_line does hv's. */
int trace_parse_lackey(const char *line, size_t len, struct trace_access *a, bool *empty,
		       const char **why) HV_MUST_CHECK;

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
