/* SPDX-License-Identifier: MIT */
/*
 * hv/tracezip.c - compressed trace files as stdio streams (fopencookie), so
 * the trace reader reads a .gz or .xz file line by line, in constant memory,
 * exactly as it reads a plain one.
 */
#include "config.h"

#include "hv/tracezip.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifdef HAVE_ZLIB
#include <zlib.h>

static ssize_t gz_read(void *cookie, char *buf, size_t size)
{
	int n = gzread(cookie, buf, size > INT32_MAX ? INT32_MAX : (unsigned)size);

	if (n < 0) {
		errno = EIO;
		return -1;
	}
	return n;
}

static int gz_close(void *cookie)
{
	return gzclose(cookie) == Z_OK ? 0 : EOF;
}

static FILE *open_gzip(const char *path, char *err, size_t errlen)
{
	static const cookie_io_functions_t io = { .read = gz_read, .close = gz_close };
	gzFile gz = gzopen(path, "rb");
	FILE *f;

	if (gz == NULL) {
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno ? errno : ENOMEM));
		return NULL;
	}
	f = fopencookie(gz, "r", io);
	if (f == NULL) {
		gzclose(gz);
		snprintf(err, errlen, "out of memory opening '%s'", path);
	}
	return f;
}
#endif

#ifdef HAVE_LZMA
#include <lzma.h>

struct xz {
	FILE *in;
	lzma_stream strm;
	bool eof, done;
	uint8_t buf[1 << 16];
};

static ssize_t xz_read(void *cookie, char *out, size_t size)
{
	struct xz *x = cookie;

	x->strm.next_out = (uint8_t *)out;
	x->strm.avail_out = size;
	while (x->strm.avail_out > 0 && !x->done) {
		lzma_ret ret;

		if (x->strm.avail_in == 0 && !x->eof) {
			x->strm.next_in = x->buf;
			x->strm.avail_in = fread(x->buf, 1, sizeof(x->buf), x->in);
			if (ferror(x->in)) {
				errno = EIO;
				return -1;
			}
			x->eof = feof(x->in);
		}
		ret = lzma_code(&x->strm, x->eof ? LZMA_FINISH : LZMA_RUN);
		if (ret == LZMA_STREAM_END) {
			x->done = true;
		} else if (ret != LZMA_OK) {
			/* A corrupt or truncated file: the reader reports a read error. */
			errno = EIO;
			return -1;
		}
	}
	return (ssize_t)(size - x->strm.avail_out);
}

static int xz_close(void *cookie)
{
	struct xz *x = cookie;
	int rc = fclose(x->in);

	lzma_end(&x->strm);
	free(x);
	return rc;
}

static FILE *open_xz(FILE *in, const char *path, char *err, size_t errlen)
{
	static const cookie_io_functions_t io = { .read = xz_read, .close = xz_close };
	struct xz *x = calloc(1, sizeof(*x));
	FILE *f;

	if (x == NULL)
		goto nomem;
	x->in = in;
	x->strm = (lzma_stream)LZMA_STREAM_INIT;
	if (lzma_stream_decoder(&x->strm, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK)
		goto nomem;
	f = fopencookie(x, "r", io);
	if (f == NULL) {
		lzma_end(&x->strm);
		goto nomem;
	}
	return f;
nomem:
	free(x);
	fclose(in);
	snprintf(err, errlen, "out of memory opening '%s'", path);
	return NULL;
}
#endif

FILE *trace_open(const char *path, const char **compression, char *err, size_t errlen)
{
	static const unsigned char gz_magic[2] = { 0x1f, 0x8b };
	static const unsigned char xz_magic[6] = { 0xfd, '7', 'z', 'X', 'Z', 0 };
	unsigned char head[6];
	struct stat st;
	size_t n;
	FILE *f = fopen(path, "r");

	*compression = "none";
	if (f == NULL) {
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "--file %s: is a directory, not a trace file", path);
		fclose(f);
		return NULL;
	}
	/* Only a regular file can be looked into and rewound. */
	if (!S_ISREG(st.st_mode))
		return f;
	n = fread(head, 1, sizeof(head), f);
	rewind(f);
	if (n >= 2 && memcmp(head, gz_magic, 2) == 0) {
		*compression = "gzip";
		fclose(f);
#ifdef HAVE_ZLIB
		return open_gzip(path, err, errlen);
#else
		snprintf(err, errlen, "%s: a gzip file, and hv was built without zlib "
			 "(zlib1g-dev); decompress it first (gzip -d)", path);
		return NULL;
#endif
	}
	if (n == 6 && memcmp(head, xz_magic, 6) == 0) {
		*compression = "xz";
#ifdef HAVE_LZMA
		return open_xz(f, path, err, errlen);
#else
		fclose(f);
		snprintf(err, errlen, "%s: an xz file, and hv was built without liblzma "
			 "(liblzma-dev); decompress it first (xz -d)", path);
		return NULL;
#endif
	}
	return f;
}
