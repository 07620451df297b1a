/* SPDX-License-Identifier: MIT */
/*
 * hv/tracezip.h - open a trace file as a stdio stream, decompressing gzip and
 * xz files on the fly (recognised by their magic bytes, not their names).
 */
#ifndef HV_TRACEZIP_H
#define HV_TRACEZIP_H

#include <stddef.h>
#include <stdio.h>

/* What messages call standard input (--file -). */
#define TRACE_STDIN_NAME "stdin"

/*
 * Open path for reading ("-": standard input): plain text as it is, gzip or
 * xz data through its decompressor (when hv was built with zlib / liblzma),
 * told by its first bytes, from a file, a pipe or standard input alike.
 * Returns the stream, or NULL with err set (-errno style reasons in words).
 * *compression is "none", "gzip" or "xz".
 */
FILE *trace_open(const char *path, const char **compression, char *err, size_t errlen);

/* Why reading the stream trace_open last opened failed, when it was the
 * decompression (truncated or corrupt gzip or xz data); NULL otherwise. */
const char *trace_read_error(void);

#endif /* HV_TRACEZIP_H */
