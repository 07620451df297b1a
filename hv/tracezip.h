/* SPDX-License-Identifier: MIT */
/*
 * hv/tracezip.h - open a trace file as a stdio stream, decompressing gzip and
 * xz files on the fly (recognised by their magic bytes, not their names).
 */
#ifndef HV_TRACEZIP_H
#define HV_TRACEZIP_H

#include <stddef.h>
#include <stdio.h>

/*
 * Open path for reading: a plain file as it is, a gzip or xz file through
 * its decompressor (when hv was built with zlib / liblzma). Returns the
 * stream, or NULL with err set (-errno style reasons in words).
 * *compression is "none", "gzip" or "xz".
 */
FILE *trace_open(const char *path, const char **compression, char *err, size_t errlen);

#endif /* HV_TRACEZIP_H */
