/* SPDX-License-Identifier: MIT */
/*
 * hv/tracezip.c - compressed trace files as stdio streams (fopencookie), so
 * the trace reader reads a .gz or .xz file line by line, in constant memory,
 * exactly as it reads a plain one; files, pipes and standard input alike.
 */
#include "config.h"

#include "hv/tracezip.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdarg.h>

/*
 * Where a stream's bytes come from: the first bytes, read to see what the
 * file is, then the file. A regular file is rewound instead (no head) and
 * read with fread. A pipe or a terminal is read with read(2), which hands on
 * what it holds at once where fread would wait for its whole count: a trace
 * (compressed or not) is replayed as it arrives, and a signal that stops the
 * replay finds every line that arrived replayed.
 */
struct src {
	FILE *in;
	bool raw;                /* read(2) the file descriptor */
	unsigned char head[8];
	size_t n, pos;
};

/* Up to size bytes: the head first, then the file. 0 at the end, -1 with
 * errno on an error (EINTR when a signal stopped the wait). */
static ssize_t src_read(struct src *s, void *out, size_t size)
{
	unsigned char *o = out;
	size_t k = 0, got;

	while (k < size && s->pos < s->n)
		o[k++] = s->head[s->pos++];
	if (k > 0)
		return (ssize_t)k;
	if (s->raw)
		return read(fileno(s->in), out, size);
	got = fread(out, 1, size, s->in);
	if (got == 0 && ferror(s->in)) {
		if (errno == 0)
			errno = EIO;
		return -1;
	}
	return (ssize_t)got;
}

/* Why the last compressed stream failed (one is read at a time). */
static char zip_why[256];

const char *trace_read_error(void)
{
	return zip_why[0] ? zip_why : NULL;
}

#if defined(HAVE_ZLIB) || defined(HAVE_LZMA)
static ssize_t zip_fail(bool *failed, size_t produced, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static ssize_t zip_again(void)
{
	errno = EIO;
	return -1;
}

/* A decompression error after `produced` bytes of this read: those are
 * returned first, and the error (errno EIO) on the next read. */
static ssize_t zip_fail(bool *failed, size_t produced, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(zip_why, sizeof(zip_why), fmt, ap);
	va_end(ap);
	*failed = true;
	return produced > 0 ? (ssize_t)produced : zip_again();
}
#endif

#ifdef HAVE_ZLIB
#include <zlib.h>

/* gzip through inflate over a stdio stream (not gzopen, which wants a file
 * descriptor at its start: a pipe's first bytes were read to see what it is). */
struct gz {
	struct src src;
	z_stream strm;
	bool eof, done, failed;
	bool between;  /* a member has ended and nothing was read since */
	unsigned char buf[1 << 16];
};

static ssize_t gz_read(void *cookie, char *out, size_t size)
{
	struct gz *g = cookie;

	if (g->failed)
		return zip_again();
	g->strm.next_out = (unsigned char *)out;
	g->strm.avail_out = size > UINT32_MAX ? UINT32_MAX : (uInt)size;
	while (g->strm.avail_out > 0 && !g->done) {
		size_t produced = size - g->strm.avail_out;
		int ret;

		if (g->strm.avail_in == 0 && !g->eof) {
			ssize_t got;

			/* What is inflated goes on before waiting for more. */
			if (produced > 0)
				break;
			got = src_read(&g->src, g->buf, sizeof(g->buf));
			if (got < 0)
				return errno == EINTR ? -1 : zip_fail(&g->failed, 0, "%s", strerror(errno));
			g->strm.next_in = g->buf;
			g->strm.avail_in = (uInt)got;
			g->eof = got == 0;
			/* The end of the data right after a member: the end. */
			if (g->eof && g->between) {
				g->done = true;
				break;
			}
			g->between = false;
		}
		ret = inflate(&g->strm, Z_NO_FLUSH);
		if (ret == Z_STREAM_END) {
			/* gzip files may be several members end to end (cat a.gz b.gz),
			 * as gzip -d reads them; anything else after one is an error. */
			if (g->strm.avail_in == 0 && g->eof) {
				g->done = true;
			} else if (inflateReset(&g->strm) != Z_OK) {
				return zip_fail(&g->failed, size - g->strm.avail_out,
						"gzip: cannot read on after a member");
			} else {
				g->between = g->strm.avail_in == 0;
			}
		} else if (ret == Z_BUF_ERROR && g->eof && g->strm.avail_in == 0) {
			return zip_fail(&g->failed, size - g->strm.avail_out,
					"gzip data ends early: the file is truncated");
		} else if (ret != Z_OK && ret != Z_BUF_ERROR) {
			return zip_fail(&g->failed, size - g->strm.avail_out,
					"gzip data is corrupt (zlib: %s)",
					g->strm.msg ? g->strm.msg : "error");
		}
	}
	return (ssize_t)(size - g->strm.avail_out);
}

static int gz_close(void *cookie)
{
	struct gz *g = cookie;
	int rc = fclose(g->src.in);

	inflateEnd(&g->strm);
	free(g);
	return rc;
}

static FILE *open_gzip(const struct src *in, const char *path, char *err, size_t errlen)
{
	static const cookie_io_functions_t io = { .read = gz_read, .close = gz_close };
	struct gz *g = calloc(1, sizeof(*g));
	FILE *f;

	if (g == NULL)
		goto nomem;
	g->src = *in;
	/* 15 + 16: a window of 2^15 bytes, gzip header and trailer only. */
	if (inflateInit2(&g->strm, 15 + 16) != Z_OK)
		goto nomem;
	f = fopencookie(g, "r", io);
	if (f == NULL) {
		inflateEnd(&g->strm);
		goto nomem;
	}
	return f;
nomem:
	free(g);
	fclose(in->in);
	snprintf(err, errlen, "out of memory opening '%s'", path);
	return NULL;
}
#endif

#ifdef HAVE_LZMA
#include <lzma.h>

struct xz {
	struct src src;
	lzma_stream strm;
	bool eof, done, failed;
	uint8_t buf[1 << 16];
};

static const char *xz_why(lzma_ret ret)
{
	switch (ret) {
	case LZMA_BUF_ERROR: return "xz data ends early (a truncated file, or data after the end)";
	case LZMA_FORMAT_ERROR: return "xz data is followed by data that is not xz";
	case LZMA_OPTIONS_ERROR: return "xz data uses options liblzma cannot read";
	case LZMA_MEM_ERROR: return "out of memory decompressing xz data";
	default: return "xz data is corrupt";
	}
}

static ssize_t xz_read(void *cookie, char *out, size_t size)
{
	struct xz *x = cookie;

	if (x->failed)
		return zip_again();
	x->strm.next_out = (uint8_t *)out;
	x->strm.avail_out = size;
	while (x->strm.avail_out > 0 && !x->done) {
		size_t produced = size - x->strm.avail_out;
		lzma_ret ret;

		if (x->strm.avail_in == 0 && !x->eof) {
			ssize_t got;

			/* What is decoded goes on before waiting for more. */
			if (produced > 0)
				break;
			got = src_read(&x->src, x->buf, sizeof(x->buf));
			if (got < 0)
				return errno == EINTR ? -1 : zip_fail(&x->failed, 0, "%s", strerror(errno));
			x->strm.next_in = x->buf;
			x->strm.avail_in = (size_t)got;
			x->eof = got == 0;
		}
		ret = lzma_code(&x->strm, x->eof ? LZMA_FINISH : LZMA_RUN);
		if (ret == LZMA_STREAM_END)
			x->done = true;
		else if (ret != LZMA_OK)
			return zip_fail(&x->failed, size - x->strm.avail_out, "%s", xz_why(ret));
	}
	return (ssize_t)(size - x->strm.avail_out);
}

static int xz_close(void *cookie)
{
	struct xz *x = cookie;
	int rc = fclose(x->src.in);

	lzma_end(&x->strm);
	free(x);
	return rc;
}

static FILE *open_xz(const struct src *in, const char *path, char *err, size_t errlen)
{
	static const cookie_io_functions_t io = { .read = xz_read, .close = xz_close };
	struct xz *x = calloc(1, sizeof(*x));
	FILE *f;

	if (x == NULL)
		goto nomem;
	x->src = *in;
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
	fclose(in->in);
	snprintf(err, errlen, "out of memory opening '%s'", path);
	return NULL;
}
#endif

/* A plain trace on a pipe or a terminal: its head given back, then read(2). */
static ssize_t prefixed_read(void *cookie, char *out, size_t size)
{
	return src_read(cookie, out, size);
}

/* Up to len bytes from fd, fewer only at the end of the data; -1 on error. */
static ssize_t read_head(int fd, unsigned char *buf, size_t len)
{
	size_t n = 0;

	while (n < len) {
		ssize_t got = read(fd, buf + n, len - n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -1;
		if (got == 0)
			break;
		n += (size_t)got;
	}
	return (ssize_t)n;
}

static int prefixed_close(void *cookie)
{
	struct src *p = cookie;
	int rc = fclose(p->in);

	free(p);
	return rc;
}

static FILE *give_back(const struct src *in, const char *path, char *err, size_t errlen)
{
	static const cookie_io_functions_t io = { .read = prefixed_read, .close = prefixed_close };
	struct src *p = malloc(sizeof(*p));
	FILE *f = NULL;

	if (p != NULL) {
		*p = *in;
		f = fopencookie(p, "r", io);
	}
	if (f == NULL) {
		free(p);
		fclose(in->in);
		snprintf(err, errlen, "out of memory opening '%s'", path);
	}
	return f;
}

FILE *trace_open(const char *path, const char **compression, char *err, size_t errlen)
{
	static const unsigned char gz_magic[2] = { 0x1f, 0x8b };
	static const unsigned char xz_magic[6] = { 0xfd, '7', 'z', 'X', 'Z', 0 };
	bool is_stdin = strcmp(path, "-") == 0;
	const char *name = is_stdin ? TRACE_STDIN_NAME : path;
	unsigned char head[6];
	struct stat st;
	struct src src = { 0 };
	ssize_t got;
	size_t n;
	FILE *f = is_stdin ? stdin : fopen(path, "r");

	*compression = "none";
	zip_why[0] = '\0';
	if (f == NULL) {
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "--file %s: is a directory, not a trace file", path);
		fclose(f);
		return NULL;
	}
	/* The magic bytes say what it is, whatever its name. A regular file is
	 * rewound; a pipe gets them back through a small stream in front, and
	 * is read with read(2) from the first byte on. */
	if (S_ISREG(st.st_mode) && !is_stdin) {
		n = fread(head, 1, sizeof(head), f);
		got = ferror(f) ? -1 : (ssize_t)n;
	} else {
		got = read_head(fileno(f), head, sizeof(head));
		n = got < 0 ? 0 : (size_t)got;
	}
	if (got < 0) {
		snprintf(err, errlen, "%s: read error", name);
		fclose(f);
		return NULL;
	}
	src.in = f;
	if (S_ISREG(st.st_mode) && !is_stdin) {
		rewind(f);
	} else {
		src.raw = true;
		memcpy(src.head, head, n);
		src.n = n;
	}
	if (n >= 2 && memcmp(head, gz_magic, 2) == 0) {
		*compression = "gzip";
#ifdef HAVE_ZLIB
		return open_gzip(&src, name, err, errlen);
#else
		fclose(f);
		snprintf(err, errlen, "%s: gzip data, and hv was built without zlib "
			 "(zlib1g-dev); decompress it first (gzip -d)", name);
		return NULL;
#endif
	}
	if (n == 6 && memcmp(head, xz_magic, 6) == 0) {
		*compression = "xz";
#ifdef HAVE_LZMA
		return open_xz(&src, name, err, errlen);
#else
		fclose(f);
		snprintf(err, errlen, "%s: xz data, and hv was built without liblzma "
			 "(liblzma-dev); decompress it first (xz -d)", name);
		return NULL;
#endif
	}
	return src.raw ? give_back(&src, name, err, errlen) : f;
}
