/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/trace_fuzz.c - libFuzzer harness for the trace reader
 * (hv/tracefile.c) in every format it reads. The first byte picks the
 * format (auto, hv, lackey); the rest is the file.
 *
 * Invariants: every access has a valid type and a non-zero size; every
 * refusal is "t.trace:LINE: why" with LINE no further than the input's lines;
 * the reader never reads past the end and never grows without bound (ASan).
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/tracefile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct trace_reader r;
	static const enum trace_format formats[] = { TRACE_FMT_AUTO, TRACE_FMT_HV,
						     TRACE_FMT_LACKEY };
	struct trace_access a;
	char err[512];
	size_t lines = 1;
	FILE *f;
	int rc;

	if (size < 1)
		return 0;
	for (size_t i = 1; i < size; i++)
		lines += data[i] == '\n' || data[i] == '\r';
	f = fmemopen(size > 1 ? (void *)(data + 1) : (void *)"", size > 1 ? size - 1 : 1, "r");
	if (f == NULL)
		return 0;
	trace_reader_init(&r, f, "t.trace");
	trace_reader_set_format(&r, formats[data[0] % 3]);
	while ((rc = trace_reader_next(&r, &a, err, sizeof(err))) == 1) {
		if (a.type != ACC_READ && a.type != ACC_WRITE && a.type != ACC_FETCH)
			abort();
		if (a.size == 0)
			abort();
		if (r.lineno > lines)
			abort();
	}
	if (rc < 0 && (strncmp(err, "t.trace:", 8) != 0 || strlen(err) < 12))
		abort();
	if (rc > 0)
		abort();
	fclose(f);
	return 0;
}
