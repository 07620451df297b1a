/* SPDX-License-Identifier: MIT */
/*
 * hv/csv.h - CSV beside JSON. A command writes its JSON report into memory
 * and the report comes out as CSV (RFC 4180): one column for every member,
 * named by its path in the JSON ("translation.walks", "refs_hist.24",
 * "structures.l1d_4k.hit_rate"), so the columns are documented by
 * docs/json.md and can never disagree with the JSON.
 */
#ifndef HV_CSV_H
#define HV_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "ept/compiler.h"
#include "hv/jsonread.h"

/* One field, quoted when it holds a comma, a quote or a line break; a comma
 * in front unless it is the first of its line. */
void csv_field(FILE *f, const char *s, bool first);

struct csv_capture {
	FILE *f;      /* where the JSON report is written */
	char *buf;
	size_t len;
};

/* Open the memory stream the JSON report is written to. -ENOMEM. */
int csv_capture_begin(struct csv_capture *c) HV_MUST_CHECK;
/*
 * Close the capture and write it to out as CSV: a header line and one row,
 * or, when rows names a member of the top-level object (an object or an
 * array), one row for each of its members, led by a "name" column (the
 * member's key, or its index) after the other top-level members, which every
 * row repeats. Returns 0, or a negative errno with err saying why.
 */
int csv_capture_end(struct csv_capture *c, FILE *out, const char *rows, char *err,
		    size_t errlen) HV_MUST_CHECK;

/* The steps of csv_capture_end, for a report that is also plotted: close
 * the capture and read the report back (*root: jv_free it; the text stays
 * in c->buf), write a tree as CSV, free the capture. */
int csv_capture_parse(struct csv_capture *c, struct jv **root, char *err,
		      size_t errlen) HV_MUST_CHECK;
int csv_write(FILE *out, const struct jv *root, const char *rows, char *err,
	      size_t errlen) HV_MUST_CHECK;
void csv_capture_free(struct csv_capture *c);

#endif /* HV_CSV_H */
