/* SPDX-License-Identifier: MIT */
/*
 * hv/cliutil.c - what the hv commands share: option values (sizes, page
 * sizes, TLB/PWC configurations), a small JSON writer, the translation report
 * in text and JSON, and the progress line.
 *
 * Nothing here exits: callers decide what an error means for their command.
 */
#include "hv/cliutil.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

volatile sig_atomic_t cli_stop_signal;

static void on_stop_signal(int sig)
{
	cli_stop_signal = sig;
}

void cli_catch_stop_signals(struct sigaction old[2])
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	cli_stop_signal = 0;
	/* Ctrl-C twice ends hv at once; SIGTERM, which tools such as
	 * timeout(1) send more than once, always leaves time for the report. */
	sigaction(SIGINT, &sa, &old[0]);
	sa.sa_flags = 0;
	sigaction(SIGTERM, &sa, &old[1]);
}

void cli_restore_stop_signals(const struct sigaction old[2])
{
	sigaction(SIGINT, &old[0], NULL);
	sigaction(SIGTERM, &old[1], NULL);
}

/* ------------------------------------------------------------------------ */
/* Options                                                                  */
/* ------------------------------------------------------------------------ */

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "hv %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 2;
}

const char *cli_option_name(const struct option *opts, int val)
{
	for (const struct option *o = opts; o->name; o++)
		if (o->val == val)
			return o->name;
	return "?";
}

/*
 * The long option `name` (len bytes, from "--name" or "--name=value") means,
 * as getopt_long matches it: an exact name, else the one option it is a
 * prefix of. NULL with *ambiguous set when it is a prefix of several.
 */
static const struct option *match_long(const struct option *opts, const char *name, size_t len,
				       bool *ambiguous)
{
	const struct option *found = NULL;

	*ambiguous = false;
	for (const struct option *o = opts; o->name; o++) {
		if (strncmp(o->name, name, len) != 0)
			continue;
		if (o->name[len] == '\0')
			return o;
		if (found != NULL && found->val != o->val)
			*ambiguous = true;
		found = o;
	}
	return *ambiguous ? NULL : found;
}

const struct option *cli_find_option(const struct option *opts, const char *name, size_t len)
{
	bool ambiguous;

	return match_long(opts, name, len, &ambiguous);
}

/*
 * Check every word of the command line against the options before getopt
 * runs. getopt reads "-append" as a cluster of one-letter options and
 * "--accesses" with no value by taking the next word, and its errors then
 * name a letter or the wrong word; here each message names the word typed.
 */
int cli_check_words(const char *cmd, int argc, char **argv, const struct option *opts)
{
	for (int i = 1; i < argc; i++) {
		const char *w = argv[i], *name, *eq;
		const struct option *o;
		bool ambiguous;
		size_t len;

		if (strcmp(w, "--") == 0)
			break;
		if (w[0] != '-' || w[1] == '\0')
			continue; /* an operand, or "-" */
		if (w[1] != '-') {
			if (strcmp(w, "-h") == 0)
				continue;
			o = match_long(opts, w + 1, strcspn(w + 1, "="), &ambiguous);
			if (o != NULL)
				return cli_usage_error(cmd, "unknown option '%s': long options take two "
						       "dashes (--%s)", w, o->name);
			return cli_usage_error(cmd, "unknown option '%s' (see hv %s --help)", w, cmd);
		}
		name = w + 2;
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		o = match_long(opts, name, len, &ambiguous);
		if (ambiguous) {
			char names[256];
			size_t n = 0;

			names[0] = '\0';
			for (const struct option *p = opts; p->name && n < sizeof(names); p++)
				if (strncmp(p->name, name, len) == 0)
					n += (size_t)snprintf(names + n, sizeof(names) - n, "%s--%s",
							      n ? ", " : "", p->name);
			return cli_usage_error(cmd, "option '--%.*s' is ambiguous (%s)", (int)len, name,
					       names);
		}
		if (o == NULL)
			return cli_usage_error(cmd, "unknown option '--%.*s' (see hv %s --help)",
					       (int)len, name, cmd);
		if (o->has_arg == no_argument && eq)
			return cli_usage_error(cmd, "--%s takes no value, got '%s'", o->name, w);
		if (o->has_arg == required_argument && !eq) {
			if (i + 1 >= argc)
				return cli_usage_error(cmd, "--%s needs a value (see hv %s --help)",
						       o->name, cmd);
			i++; /* the value, whatever it looks like */
		}
	}
	return 0;
}

int cli_getopt(const char *cmd, int argc, char **argv, const struct option *opts, int *status)
{
	int opt;

	if (optind == 0 && cli_check_words(cmd, argc, argv, opts) != 0) {
		*status = 2;
		return 0;
	}
	opterr = 0; /* the messages below say what to fix; getopt's do not */
	opt = getopt_long(argc, argv, ":h", opts, NULL);
	if (opt == 'h') {
		for (const struct option *o = opts; o->name; o++)
			if (strcmp(o->name, "help") == 0)
				return o->val;
	}
	/* cli_check_words has refused what getopt would: these are a fallback. */
	if (opt == '?') {
		*status = cli_usage_error(cmd, "unknown option '%s' (see hv %s --help)",
					  argv[optind - 1], cmd);
		return 0;
	}
	if (opt == ':') {
		*status = cli_usage_error(cmd, "%s needs a value (see hv %s --help)",
					  argv[optind - 1], cmd);
		return 0;
	}
	return opt;
}

/* ------------------------------------------------------------------------ */
/* Option values                                                            */
/* ------------------------------------------------------------------------ */

/* Parse the leading unsigned number of s (decimal or 0x-hex) without
 * accepting signs or spaces, which strtoull would silently allow. */
static int parse_number_prefix(const char *s, uint64_t *out, const char **end)
{
	uint64_t v = 0;
	unsigned base = 10;
	const char *p = s;
	bool any = false;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (;; p++) {
		unsigned d;

		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = (unsigned)(*p - 'A' + 10);
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			return -ERANGE;
		v = v * base + d;
		any = true;
	}
	if (!any)
		return -EINVAL;
	*out = v;
	*end = p;
	return 0;
}

int parse_u64(const char *s, uint64_t *out)
{
	const char *end;
	uint64_t v;
	int err;

	if (s == NULL)
		return -EINVAL;
	err = parse_number_prefix(s, &v, &end);
	if (err)
		return err;
	if (*end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

const char *format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const unit[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };
	unsigned u = 0;

	while (u + 1 < sizeof(unit) / sizeof(unit[0]) && bytes >= (1ULL << (10 * (u + 1))))
		u++;
	if (u == 0 || bytes % (1ULL << (10 * u)) == 0)
		snprintf(buf, len, "%" PRIu64 " %s", bytes >> (10 * u), unit[u]);
	else
		snprintf(buf, len, "%.1f %s", (double)bytes / (double)(1ULL << (10 * u)), unit[u]);
	return buf;
}

int parse_size(const char *s, uint64_t *out)
{
	const char *end;
	unsigned shift = 0;
	uint64_t v;
	int err;

	if (s == NULL)
		return -EINVAL;
	err = parse_number_prefix(s, &v, &end);
	if (err)
		return err;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: return -EINVAL;
	}
	/* Accept the spellings people type: 4K, 4KB, 4KiB. */
	if (shift && (strcmp(end, "B") == 0 || strcmp(end, "iB") == 0))
		end += strlen(end);
	if (*end != '\0')
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

int parse_page_shift(const char *s, unsigned *shift)
{
	uint64_t bytes;

	if (parse_size(s, &bytes) != 0)
		return -EINVAL;
	switch (bytes) {
	case PAGE_SIZE_4K: *shift = PAGE_SHIFT_4K; return 0;
	case PAGE_SIZE_2M: *shift = PAGE_SHIFT_2M; return 0;
	case PAGE_SIZE_1G: *shift = PAGE_SHIFT_1G; return 0;
	default: return -EINVAL;
	}
}

/* A --tlb/--pwc value names a file when it looks like a path or names an
 * existing regular file; everything else is a preset name. */
static bool looks_like_file(const char *v)
{
	struct stat st;

	if (strchr(v, '/') != NULL || strchr(v, '.') != NULL)
		return true;
	return stat(v, &st) == 0 && S_ISREG(st.st_mode);
}

/* A configuration file: its whole text through mmu_config_parse. On error
 * writes "path: what" (or the parser's "path:line: what") to err. */
static int config_file_load(const char *path, struct mmu_config *out, char *err, size_t errlen)
{
	/* Far more than any configuration (a few dozen short lines). */
	enum { CONFIG_MAX_BYTES = 1 << 20 };
	struct stat st;
	char *text;
	size_t len;
	FILE *f;
	int rc;

	f = fopen(path, "r");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: is a directory, not a configuration file", path);
		fclose(f);
		return -EINVAL;
	}
	text = malloc(CONFIG_MAX_BYTES + 1);
	if (!text) {
		fclose(f);
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	len = fread(text, 1, CONFIG_MAX_BYTES + 1, f);
	if (ferror(f)) {
		rc = -EIO;
		snprintf(err, errlen, "%s: read error", path);
	} else if (len > CONFIG_MAX_BYTES) {
		rc = -EFBIG;
		snprintf(err, errlen, "%s: larger than %u bytes, not a configuration file", path,
			 (unsigned)CONFIG_MAX_BYTES);
	} else {
		rc = mmu_config_parse(path, text, len, out, err, errlen);
	}
	free(text);
	fclose(f);
	return rc;
}

static int load_one(const char *opt, const char *v, struct mmu_config *out, char *err,
		    size_t errlen)
{
	const char *const *names;
	size_t n;
	int rc;

	if (looks_like_file(v)) {
		char why[256] = "";

		rc = config_file_load(v, out, why, sizeof(why));
		if (rc) {
			if (why[0])
				snprintf(err, errlen, "%s: %s", opt, why);
			else
				snprintf(err, errlen, "%s: cannot load '%s': %s", opt, v, strerror(-rc));
		}
		return rc;
	}
	rc = mmu_config_preset(v, out);
	if (rc == 0)
		return 0;
	n = (size_t)snprintf(err, errlen, "%s: unknown preset '%s' (presets:", opt, v);
	for (names = mmu_preset_names(); *names && n < errlen; names++)
		n += (size_t)snprintf(err + n, errlen - n, " %s", *names);
	if (n < errlen)
		snprintf(err + n, errlen - n, "; or a configuration file path)");
	return rc;
}

static bool is_pwc_struct(enum tlb_id id)
{
	return id >= PWC_PML5 && id <= NESTED_TLB;
}

int cli_mmu_config(const char *tlb, const char *pwc, struct mmu_config *out, char *err,
		   size_t errlen)
{
	struct mmu_config t, p;
	int rc;

	if (tlb == NULL)
		tlb = "skylake";
	if (pwc == NULL)
		pwc = "skylake";
	rc = load_one("--tlb", tlb, &t, err, errlen);
	if (rc)
		return rc;
	rc = load_one("--pwc", pwc, &p, err, errlen);
	if (rc)
		return rc;

	/* TLB structures from one, paging-structure caches and the nested TLB
	 * from the other, so the two can be varied independently. */
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < MMU_NSTRUCT; i++) {
		const struct mmu_config *src = is_pwc_struct((enum tlb_id)i) ? &p : &t;

		out->geom[i] = src->geom[i];
		out->perfect[i] = src->perfect[i];
	}
	if (strcmp(t.name, p.name) == 0)
		snprintf(out->name, sizeof(out->name), "%s", t.name);
	else
		snprintf(out->name, sizeof(out->name), "%.15s+%.15s", t.name, p.name);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* JSON writer                                                              */
/* ------------------------------------------------------------------------ */
/*
 * Objects put one member a line, indented; arrays keep scalar elements on one
 * line so that histograms and grid rows stay readable. The depth limit is a
 * caller contract (the reports nest four levels at most).
 */

static void json_indent(struct json *j)
{
	fputc('\n', j->f);
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

/*
 * Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF), or 0 when p does not start one.
 */
static size_t utf8_seq_len(const unsigned char *p)
{
	unsigned char c = p[0];
	size_t n;
	unsigned lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* The second byte's range rules out overlong forms, surrogates and
	 * code points above U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* A JSON string holds only Unicode text: a byte that is not part of valid
 * UTF-8 (a command line or a file name may hold any byte) is written as the
 * code point of the same value, \u0080..\u00ff, so the output stays valid
 * JSON and the byte can still be told (docs/json.md). */
static void json_string_body(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= 0x80) {
			size_t n = utf8_seq_len(p);

			if (n == 0) {
				fprintf(f, "\\u%04x", *p);
			} else {
				fwrite(p, 1, n, f);
				p += n - 1;
			}
			continue;
		}
		switch (*p) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\t': fputs("\\t", f); break;
		case '\r': fputs("\\r", f); break;
		default:
			if (*p < 0x20)
				fprintf(f, "\\u%04x", *p);
			else
				fputc(*p, f);
		}
	}
	fputc('"', f);
}

/* Separator, newline/indent and key before a value; `container` is true for
 * objects and arrays, which always start on their own line inside arrays. */
static void json_member(struct json *j, const char *key, bool container)
{
	bool arr = j->in_array[j->depth];

	if (j->need_comma[j->depth])
		fputc(',', j->f);
	if (!arr || container)
		json_indent(j);
	else if (j->need_comma[j->depth])
		fputc(' ', j->f);
	j->need_comma[j->depth] = true;
	if (key != NULL && !arr) {
		json_string_body(j->f, key);
		fputs(": ", j->f);
	}
}

static void json_open(struct json *j, const char *key, char c, bool array)
{
	json_member(j, key, true);
	/* An array holding containers is laid out like an object from here on,
	 * so that its closing bracket gets its own line. */
	j->in_array[j->depth] = false;
	fputc(c, j->f);
	/* Precondition: nesting stays within the writer's fixed depth. */
	assert(j->depth + 1 < (int)(sizeof(j->need_comma) / sizeof(j->need_comma[0])));
	j->depth++;
	j->need_comma[j->depth] = false;
	j->in_array[j->depth] = array;
}

static void json_close(struct json *j, char c)
{
	bool had = j->need_comma[j->depth];
	bool arr = j->in_array[j->depth];

	j->depth--;
	/* Objects close on their own line; arrays of scalars close in place. */
	if (had && !arr)
		json_indent(j);
	fputc(c, j->f);
}

void json_begin(struct json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	fputc('{', f);
	j->depth = 1;
}

void json_end(struct json *j)
{
	json_close(j, '}');
	fputc('\n', j->f);
	fflush(j->f);
}

void json_obj_begin(struct json *j, const char *key) { json_open(j, key, '{', false); }
void json_obj_end(struct json *j) { json_close(j, '}'); }
void json_arr_begin(struct json *j, const char *key) { json_open(j, key, '[', true); }
void json_arr_end(struct json *j) { json_close(j, ']'); }

void json_u64(struct json *j, const char *key, uint64_t v)
{
	json_member(j, key, false);
	fprintf(j->f, "%" PRIu64, v);
}

void json_i64(struct json *j, const char *key, int64_t v)
{
	json_member(j, key, false);
	fprintf(j->f, "%" PRId64, v);
}

void json_f64(struct json *j, const char *key, double v)
{
	json_member(j, key, false);
	/* JSON has no NaN or infinity: a rate over zero events is null. */
	if (!isfinite(v))
		fputs("null", j->f);
	else
		fprintf(j->f, "%.6g", v);
}

void json_number_text(struct json *j, const char *key, const char *text)
{
	json_member(j, key, false);
	fputs(text, j->f);
}

void json_str(struct json *j, const char *key, const char *v)
{
	json_member(j, key, false);
	if (v == NULL)
		fputs("null", j->f);
	else
		json_string_body(j->f, v);
}

void json_bool(struct json *j, const char *key, bool v)
{
	json_member(j, key, false);
	fputs(v ? "true" : "false", j->f);
}

/* ------------------------------------------------------------------------ */
/* Translation report                                                       */
/* ------------------------------------------------------------------------ */

/* Worst case of a walk with no caches: (n+1)(m+1)-1 with EPT, n natively. */
static unsigned shape_worst(const struct report_shape *sh)
{
	if (sh->guest_levels == 0)
		return sh->ept_levels;
	if (sh->ept_levels == 0)
		return sh->guest_levels;
	return (sh->guest_levels + 1) * (sh->ept_levels + 1) - 1;
}

/* Levels a walk reads when pages of 1 << shift end it early (4K: all). */
static unsigned levels_walked(unsigned levels, unsigned shift)
{
	unsigned skip = shift > PAGE_SHIFT_4K ? (shift - PAGE_SHIFT_4K) / 9 : 0;

	return levels > skip ? levels - skip : 0;
}

/*
 * References of an uncached walk with these page sizes, assuming the guest
 * tables sit in memory mapped by EPT pages of the same size as the data: each
 * guest level read costs an EPT walk plus the entry, then the final GPA's EPT
 * walk (translation-facts.md section 3).
 */
static unsigned shape_expected(const struct report_shape *sh)
{
	unsigned g = levels_walked(sh->guest_levels, sh->guest_page_shift);
	unsigned e = levels_walked(sh->ept_levels, sh->ept_page_shift);

	if (sh->guest_levels == 0)
		return e;
	if (sh->ept_levels == 0)
		return g;
	return g * (e + 1) + e;
}

static const char *page_name(unsigned shift)
{
	switch (shift) {
	case PAGE_SHIFT_4K: return "4K";
	case PAGE_SHIFT_2M: return "2M";
	case PAGE_SHIFT_1G: return "1G";
	default: return "?";
	}
}

static bool struct_enabled(const struct mmu_config *cfg, int i)
{
	return cfg->geom[i].entries != 0 || cfg->perfect[i];
}

static double ratio(uint64_t num, uint64_t den)
{
	return den ? (double)num / (double)den : NAN;
}

/*
 * Grid layout (ept/mmu.h): row r is a guest step, 0 = the top guest level,
 * then down to level 1, and the row after the last guest level is the final
 * GPA (the data). Column c is the EPT level 5 - c; column 5 is the guest
 * entry itself. With no guest paging only the data row is used.
 */
static unsigned grid_rows(const struct report_shape *sh) { return sh->guest_levels + 1; }
static unsigned grid_first_col(const struct report_shape *sh)
{
	return sh->ept_levels ? 5 - sh->ept_levels : GRID_COLS - 1;
}

static void grid_row_label(const struct report_shape *sh, unsigned r, char *buf, size_t len)
{
	if (r == sh->guest_levels)
		snprintf(buf, len, "data");
	else
		snprintf(buf, len, "gL%u", sh->guest_levels - r);
}

static void grid_col_label(unsigned c, char *buf, size_t len)
{
	if (c == GRID_COLS - 1)
		snprintf(buf, len, "guest");
	else
		snprintf(buf, len, "EPT-L%u", 5 - c);
}

static void report_shape_line(FILE *f, const struct report_shape *sh)
{
	if (sh->guest_levels && sh->ept_levels)
		fprintf(f, "%u-level guest paging (%s pages) over %u-level EPT (%s pages)",
			sh->guest_levels, page_name(sh->guest_page_shift), sh->ept_levels,
			page_name(sh->ept_page_shift));
	else if (sh->guest_levels)
		fprintf(f, "%u-level guest paging (%s pages), no EPT (native)", sh->guest_levels,
			page_name(sh->guest_page_shift));
	else
		fprintf(f, "no guest paging, %u-level EPT (%s pages)", sh->ept_levels,
			page_name(sh->ept_page_shift));
}

void report_mmu_text(FILE *f, const struct mmu_stats *st, const struct mmu_config *cfg,
		     const struct report_shape *sh)
{
	uint64_t faults = st->page_faults + st->noncanonical + st->ept_violations +
			  st->ept_misconfigs;
	uint64_t hits = st->translations >= st->walks + st->noncanonical
				? st->translations - st->walks - st->noncanonical
				: 0;
	uint64_t histmax = 0;
	unsigned first = grid_first_col(sh);
	bool any_enabled = false;
	char lab[16];

	fprintf(f, "Translation: ");
	report_shape_line(f, sh);
	fprintf(f, "\nCaches:      %s\n\n", cfg->name);

	fprintf(f, "  translations  %14" PRIu64 "   (R %" PRIu64 ", W %" PRIu64 ", X %" PRIu64 ")\n",
		st->translations, st->by_access[0], st->by_access[1], st->by_access[2]);
	fprintf(f, "  TLB hits      %14" PRIu64 "   %.2f%% of translations\n", hits,
		st->translations ? 100.0 * ratio(hits, st->translations) : 0.0);
	fprintf(f, "  walks         %14" PRIu64 "\n", st->walks);
	fprintf(f, "  references    %14" PRIu64 "   ", st->walk_refs);
	if (st->walks)
		fprintf(f, "%.2f per walk", ratio(st->walk_refs, st->walks));
	else
		fprintf(f, "no walks");
	fprintf(f, "; worst case %u", shape_worst(sh));
	if (shape_expected(sh) != shape_worst(sh))
		fprintf(f, ", %u with these pages", shape_expected(sh));
	fputc('\n', f);
	fprintf(f, "  faults        %14" PRIu64, faults);
	if (faults)
		fprintf(f, "   (#PF %" PRIu64 ", #GP %" PRIu64 ", EPT violation %" PRIu64
			   ", misconfig %" PRIu64 ")",
			st->page_faults, st->noncanonical, st->ept_violations, st->ept_misconfigs);
	fputc('\n', f);
	fprintf(f, "  A/D writes    %14" PRIu64 "   (guest %" PRIu64 ", EPT %" PRIu64 ")\n\n",
		st->guest_ad_writes + st->ept_ad_writes, st->guest_ad_writes, st->ept_ad_writes);

	fprintf(f, "  %-14s %9s %12s %12s %8s %12s\n", "structure", "size", "hits", "misses",
		"hit rate", "evictions");
	for (int i = 0; i < MMU_NSTRUCT; i++) {
		const struct cache_stats *cs = &st->s[i];
		char size[16];

		if (!struct_enabled(cfg, i))
			continue;
		any_enabled = true;
		if (cfg->perfect[i])
			snprintf(size, sizeof(size), "perfect");
		else if (cfg->geom[i].ways == cfg->geom[i].entries)
			snprintf(size, sizeof(size), "%u full", cfg->geom[i].entries);
		else
			snprintf(size, sizeof(size), "%u/%uw", cfg->geom[i].entries, cfg->geom[i].ways);
		fprintf(f, "  %-14s %9s %12" PRIu64 " %12" PRIu64, mmu_struct_name((enum tlb_id)i), size,
			cs->hits, cs->misses);
		if (cs->hits + cs->misses)
			fprintf(f, " %7.2f%%", 100.0 * ratio(cs->hits, cs->hits + cs->misses));
		else
			fprintf(f, " %8s", "-");
		fprintf(f, " %12" PRIu64 "\n", cs->evictions);
	}
	if (!any_enabled)
		fprintf(f, "  (no TLB or paging-structure cache enabled)\n");
	fputc('\n', f);

	fprintf(f, "  references per walk\n");
	for (unsigned r = 0; r <= MMU_MAX_REFS; r++)
		if (st->refs_hist[r] > histmax)
			histmax = st->refs_hist[r];
	if (histmax == 0)
		fprintf(f, "    (no walks)\n");
	for (unsigned r = 0; r <= MMU_MAX_REFS; r++) {
		uint64_t n = st->refs_hist[r];
		int bar;

		if (n == 0)
			continue;
		/* Round up so that any non-zero bucket shows at least one mark. */
		bar = (int)((n * 40 + histmax - 1) / histmax);
		fprintf(f, "    %2u %12" PRIu64 " %6.2f%% %.*s\n", r, n,
			100.0 * ratio(n, st->walks ? st->walks : 1), bar,
			"########################################");
	}
	fputc('\n', f);

	fprintf(f, "  reference grid\n  %-6s", "");
	for (unsigned c = first; c < GRID_COLS; c++) {
		grid_col_label(c, lab, sizeof(lab));
		fprintf(f, " %10s", lab);
	}
	fprintf(f, " %10s\n", "total");
	{
		uint64_t coltot[GRID_COLS] = { 0 }, all = 0;

		for (unsigned r = 0; r < grid_rows(sh) && r < GRID_ROWS; r++) {
			uint64_t rowtot = 0;

			grid_row_label(sh, r, lab, sizeof(lab));
			fprintf(f, "  %-6s", lab);
			for (unsigned c = first; c < GRID_COLS; c++) {
				fprintf(f, " %10" PRIu64, st->grid[r][c]);
				rowtot += st->grid[r][c];
				coltot[c] += st->grid[r][c];
			}
			all += rowtot;
			fprintf(f, " %10" PRIu64 "\n", rowtot);
		}
		fprintf(f, "  %-6s", "total");
		for (unsigned c = first; c < GRID_COLS; c++)
			fprintf(f, " %10" PRIu64, coltot[c]);
		fprintf(f, " %10" PRIu64 "\n", all);
	}
	fprintf(f, "  rows: the guest level gLn whose entry is read, data = the final GPA;\n"
		   "  columns: the EPT level read to translate that GPA, guest = the guest\n"
		   "  entry itself\n");
}

void report_mmu_json(struct json *j, const struct mmu_stats *st, const struct mmu_config *cfg,
		     const struct report_shape *sh)
{
	unsigned first = grid_first_col(sh);
	char lab[16];

	json_u64(j, "translations", st->translations);
	json_u64(j, "reads", st->by_access[0]);
	json_u64(j, "writes", st->by_access[1]);
	json_u64(j, "fetches", st->by_access[2]);
	json_u64(j, "walks", st->walks);
	json_u64(j, "walk_refs", st->walk_refs);
	json_f64(j, "refs_per_walk", ratio(st->walk_refs, st->walks));
	json_u64(j, "worst_case_refs", shape_worst(sh));
	json_u64(j, "expected_refs", shape_expected(sh));
	json_obj_begin(j, "faults");
	json_u64(j, "page_faults", st->page_faults);
	json_u64(j, "noncanonical", st->noncanonical);
	json_u64(j, "ept_violations", st->ept_violations);
	json_u64(j, "ept_misconfigs", st->ept_misconfigs);
	json_obj_end(j);
	json_obj_begin(j, "ad_writes");
	json_u64(j, "guest", st->guest_ad_writes);
	json_u64(j, "ept", st->ept_ad_writes);
	json_obj_end(j);

	/* refs_hist[k] = walks that made k references, k = 0..35. */
	json_arr_begin(j, "refs_hist");
	for (unsigned r = 0; r <= MMU_MAX_REFS; r++)
		json_u64(j, NULL, st->refs_hist[r]);
	json_arr_end(j);

	json_obj_begin(j, "grid");
	json_arr_begin(j, "rows");
	for (unsigned r = 0; r < grid_rows(sh) && r < GRID_ROWS; r++) {
		grid_row_label(sh, r, lab, sizeof(lab));
		json_str(j, NULL, lab);
	}
	json_arr_end(j);
	json_arr_begin(j, "cols");
	for (unsigned c = first; c < GRID_COLS; c++) {
		grid_col_label(c, lab, sizeof(lab));
		json_str(j, NULL, lab);
	}
	json_arr_end(j);
	json_arr_begin(j, "cells");
	for (unsigned r = 0; r < grid_rows(sh) && r < GRID_ROWS; r++) {
		json_arr_begin(j, NULL);
		for (unsigned c = first; c < GRID_COLS; c++)
			json_u64(j, NULL, st->grid[r][c]);
		json_arr_end(j);
	}
	json_arr_end(j);
	json_obj_end(j);

	json_str(j, "config", cfg->name);
	json_obj_begin(j, "structures");
	for (int i = 0; i < MMU_NSTRUCT; i++) {
		const struct cache_stats *cs = &st->s[i];

		if (!struct_enabled(cfg, i))
			continue;
		json_obj_begin(j, mmu_struct_name((enum tlb_id)i));
		json_u64(j, "entries", cfg->geom[i].entries);
		json_u64(j, "ways", cfg->geom[i].ways);
		json_bool(j, "perfect", cfg->perfect[i]);
		json_u64(j, "hits", cs->hits);
		json_u64(j, "misses", cs->misses);
		json_f64(j, "hit_rate", ratio(cs->hits, cs->hits + cs->misses));
		json_u64(j, "fills", cs->fills);
		json_u64(j, "evictions", cs->evictions);
		json_u64(j, "invalidations", cs->invalidations);
		json_obj_end(j);
	}
	json_obj_end(j);
}

/* ------------------------------------------------------------------------ */
/* Progress line                                                            */
/* ------------------------------------------------------------------------ */

double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void progress_init(struct progress *p, const char *what)
{
	p->enabled = isatty(STDERR_FILENO) == 1;
	p->start = now_seconds();
	p->last = 0;
	p->what = what;
}

bool progress_due(struct progress *p)
{
	double t;

	if (!p->enabled)
		return false;
	t = now_seconds();
	/* Quiet for the first second, then at most five updates a second. */
	if (t - p->start < 1.0 || t - p->last < 0.2)
		return false;
	p->last = t;
	return true;
}

/* A rate a person reads at a glance: millions, thousands or units a second. */
static void format_rate(char *buf, size_t len, double per_second)
{
	if (per_second >= 1e6)
		snprintf(buf, len, "%.1f M/s", per_second / 1e6);
	else if (per_second >= 1e3)
		snprintf(buf, len, "%.1f k/s", per_second / 1e3);
	else
		snprintf(buf, len, "%.0f /s", per_second);
}

void progress_update(struct progress *p, uint64_t done, uint64_t total)
{
	char rate[32];

	if (!progress_due(p))
		return;
	format_rate(rate, sizeof(rate), (double)done / (p->last - p->start));
	if (total)
		fprintf(stderr, "\r%s: %" PRIu64 " / %" PRIu64 " (%.0f%%), %s  ", p->what, done,
			total, 100.0 * (double)done / (double)total, rate);
	else
		fprintf(stderr, "\r%s: %" PRIu64 ", %s  ", p->what, done, rate);
}

void progress_done(struct progress *p)
{
	/* Erase only if something was drawn. */
	if (p->enabled && p->last != 0)
		fprintf(stderr, "\r\033[K");
	p->last = 0;
}
