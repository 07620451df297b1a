/* SPDX-License-Identifier: MIT */
/*
 * hv/csv.c - a JSON report flattened to CSV columns named by their paths.
 */
#include "hv/csv.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hv/jsonread.h"

void csv_field(FILE *f, const char *s, bool first)
{
	if (!first)
		fputc(',', f);
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* The columns (paths, in the order first seen) and one row's cells. */
struct table {
	char **names;
	size_t ncols, cap;
};

struct row {
	const char **cells; /* indexed like table.names; NULL = empty */
	size_t cap;
};

static int column_of(struct table *t, const char *name, size_t *out)
{
	char **n;

	for (size_t i = 0; i < t->ncols; i++)
		if (strcmp(t->names[i], name) == 0) {
			*out = i;
			return 0;
		}
	if (t->ncols == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;

		n = realloc(t->names, cap * sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		t->names = n;
		t->cap = cap;
	}
	t->names[t->ncols] = strdup(name);
	if (t->names[t->ncols] == NULL)
		return -ENOMEM;
	*out = t->ncols++;
	return 0;
}

static int row_set(struct row *r, size_t col, const char *text)
{
	if (col >= r->cap) {
		size_t cap = col + 64;
		const char **c = realloc(r->cells, cap * sizeof(*c));

		if (c == NULL)
			return -ENOMEM;
		memset(c + r->cap, 0, (cap - r->cap) * sizeof(*c));
		r->cells = c;
		r->cap = cap;
	}
	r->cells[col] = text;
	return 0;
}

/* Every scalar under v, as the column path/... (skip: a member of the top
 * level left out, the rows of a multi-row report). */
static int flatten(struct table *t, struct row *r, const struct jv *v, char *path, size_t len,
		   size_t cap, const char *skip)
{
	size_t col;
	int rc;

	switch (v->type) {
	case JV_NULL:
		return 0;
	case JV_BOOL:
	case JV_NUM:
	case JV_STR:
		rc = column_of(t, path, &col);
		return rc ? rc : row_set(r, col, v->type == JV_BOOL ? (v->b ? "true" : "false")
								 : v->text);
	case JV_ARR:
	case JV_OBJ:
		break;
	}
	for (size_t i = 0; i < v->n; i++) {
		int n;

		if (skip != NULL && v->type == JV_OBJ && strcmp(v->keys[i], skip) == 0)
			continue;
		if (v->type == JV_OBJ)
			n = snprintf(path + len, cap - len, "%s%s", len ? "." : "", v->keys[i]);
		else
			n = snprintf(path + len, cap - len, "%s%zu", len ? "." : "", i);
		if (n < 0 || (size_t)n >= cap - len)
			return -ENAMETOOLONG;
		rc = flatten(t, r, &v->items[i], path, len + (size_t)n, cap, NULL);
		if (rc)
			return rc;
	}
	path[len] = '\0';
	return 0;
}

int csv_capture_begin(struct csv_capture *c)
{
	memset(c, 0, sizeof(*c));
	c->f = open_memstream(&c->buf, &c->len);
	return c->f ? 0 : -ENOMEM;
}

int csv_capture_parse(struct csv_capture *c, struct jv **root, char *err, size_t errlen)
{
	int rc = fclose(c->f);

	c->f = NULL;
	if (rc != 0) {
		snprintf(err, errlen, "out of memory for the report");
		return -ENOMEM;
	}
	return jv_parse(c->buf, c->len, root, err, errlen);
}

void csv_capture_free(struct csv_capture *c)
{
	if (c->f)
		fclose(c->f);
	c->f = NULL;
	free(c->buf);
	c->buf = NULL;
}

int csv_write(FILE *out, const struct jv *root, const char *rows, char *err, size_t errlen)
{
	struct table t = { 0 };
	struct row *r = NULL;
	const struct jv *many = NULL;
	char path[512] = "", idx[24];
	char **names = NULL;
	size_t nrows = 1;
	int rc = 0;

	if (rows != NULL) {
		many = jv_get(root, rows);
		if (many != NULL && (many->type == JV_OBJ || many->type == JV_ARR))
			nrows = many->n;
		else
			many = NULL;
	}
	r = calloc(nrows + 1, sizeof(*r));
	names = calloc(nrows + 1, sizeof(*names));
	if (r == NULL || names == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	for (size_t k = 0; k < nrows; k++) {
		size_t col;

		rc = flatten(&t, &r[k], root, path, 0, sizeof(path), many ? rows : NULL);
		if (rc == 0 && many != NULL) {
			if (many->type == JV_OBJ) {
				names[k] = many->keys[k];
			} else {
				snprintf(idx, sizeof(idx), "%zu", k);
				names[k] = strdup(idx);
			}
			rc = names[k] ? column_of(&t, "name", &col) : -ENOMEM;
			if (rc == 0)
				rc = row_set(&r[k], col, names[k]);
			if (rc == 0)
				rc = flatten(&t, &r[k], &many->items[k], path, 0, sizeof(path), NULL);
		}
		if (rc)
			goto fail;
	}
	for (size_t i = 0; i < t.ncols; i++)
		csv_field(out, t.names[i], i == 0);
	fputc('\n', out);
	for (size_t k = 0; k < nrows; k++) {
		for (size_t i = 0; i < t.ncols; i++)
			csv_field(out, i < r[k].cap && r[k].cells[i] ? r[k].cells[i] : "", i == 0);
		fputc('\n', out);
	}
	goto out;
fail:
	snprintf(err, errlen, "%s", rc == -ENAMETOOLONG ? "a member's path is too long for a CSV column"
							 : "out of memory for the CSV");
out:
	for (size_t k = 0; r != NULL && k < nrows; k++) {
		free(r[k].cells);
		if (many != NULL && many->type == JV_ARR)
			free(names[k]);
	}
	free(r);
	free(names);
	for (size_t i = 0; i < t.ncols; i++)
		free(t.names[i]);
	free(t.names);
	return rc;
}

int csv_capture_end(struct csv_capture *c, FILE *out, const char *rows, char *err,
		    size_t errlen)
{
	struct jv *root = NULL;
	int rc = csv_capture_parse(c, &root, err, errlen);

	if (rc == 0)
		rc = csv_write(out, root, rows, err, errlen);
	jv_free(root);
	csv_capture_free(c);
	return rc;
}
