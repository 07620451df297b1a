/* SPDX-License-Identifier: MIT */
/*
 * hv/jsonread.h - read JSON (RFC 8259) into a tree: what `hv sweep` needs to
 * take hv's own reports back in (--collect, the sweep's table and CSV).
 *
 * Numbers keep the text they were written with, so a report copied through
 * the tree prints its counts digit for digit.
 */
#ifndef HV_JSONREAD_H
#define HV_JSONREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ept/compiler.h"

enum jv_type { JV_NULL, JV_BOOL, JV_NUM, JV_STR, JV_ARR, JV_OBJ };

struct jv {
	enum jv_type type;
	bool b;            /* JV_BOOL */
	char *text;        /* JV_NUM: the number as written; JV_STR: decoded (UTF-8) */
	size_t n;          /* JV_ARR, JV_OBJ: number of items */
	struct jv *items;  /* JV_ARR, JV_OBJ */
	char **keys;       /* JV_OBJ: keys[i] names items[i] */
};

/*
 * Parse len bytes of text (one value, white space around it). Returns 0 and
 * the tree in *out (free with jv_free), or -EINVAL with err saying where
 * ("line 3: expected ':' after an object key") or -ENOMEM.
 */
int jv_parse(const char *text, size_t len, struct jv **out, char *err,
	     size_t errlen) HV_MUST_CHECK;
/* Read and parse a whole file (at most 64 MiB); err names the file. */
int jv_parse_file(const char *path, struct jv **out, char *err, size_t errlen) HV_MUST_CHECK;
void jv_free(struct jv *v);

/* The member at a dotted path ("translation.walks"), or NULL. */
const struct jv *jv_get(const struct jv *v, const char *path);
/* The number at path as an unsigned count; false when absent or not one. */
bool jv_u64(const struct jv *v, const char *path, uint64_t *out);
/* The text of the number or string at path, or NULL. */
const char *jv_text(const struct jv *v, const char *path);

#endif /* HV_JSONREAD_H */
