/* SPDX-License-Identifier: MIT */
/*
 * hv/trace.c - `hv trace`: replay memory accesses through the two-stage MMU
 * model and report what the TLBs, the paging-structure caches and the walks
 * did. Accesses come from a generator (seq, stride, random, chase) or from a
 * text file of "R|W|X <hex address>" lines.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hv/cli.h"
#include "hv/csv.h"
#include "hv/plot.h"
#include "hv/scene.h"
#include "hv/tracefile.h"
#include "hv/tracezip.h"

enum pattern { PAT_SEQ, PAT_STRIDE, PAT_RANDOM, PAT_CHASE, PAT_FILE };

static const char *const pattern_names[] = { "seq", "stride", "random", "chase", "file" };

/* splitmix64: a tiny, well-mixed PRNG whose whole state is one word, so a
 * seed names a run exactly on every platform (rand() would not). */
static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A uniform value in [0, n): multiply-high keeps the bias below 2^-32 for
 * any n the footprint allows. Precondition: n > 0. */
static uint64_t rand_below(uint64_t *state, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)splitmix64(state) * n) >> 64);
}

/*
 * The chase order: a random cyclic permutation of the footprint's granules
 * (Sattolo's algorithm gives a single cycle, so the walk visits every
 * granule once before repeating, and no hardware prefetcher-like pattern
 * hides in it). next[i] is the granule visited after granule i.
 */
static int chase_build(uint64_t n, uint64_t seed, uint32_t **out)
{
	uint32_t *next, *order;
	uint64_t state = seed;

	next = malloc(n * sizeof(*next));
	order = malloc(n * sizeof(*order));
	if (next == NULL || order == NULL) {
		free(next);
		free(order);
		return -ENOMEM;
	}
	for (uint64_t i = 0; i < n; i++)
		order[i] = (uint32_t)i;
	for (uint64_t i = n - 1; i > 0; i--) {
		uint64_t k = rand_below(&state, i); /* k < i: Sattolo, not Fisher-Yates */
		uint32_t t = order[i];

		order[i] = order[k];
		order[k] = t;
	}
	for (uint64_t i = 0; i < n; i++)
		next[order[i]] = order[(i + 1) % n];
	free(order);
	*out = next;
	return 0;
}

/*
 * A trace file, read as the replay goes (constant memory whatever its
 * length). One record may stand for several translations: lackey's M is a
 * load then a store, and an access that crosses a guest page is one
 * translation per page, as the hardware does it.
 */
struct file_src {
	FILE *f;
	struct trace_reader rd;
	const struct scene *s;     /* set once the scene is built */
	struct trace_access pend[4];
	unsigned npend, next;
	uint64_t records;
};

static int file_open(struct file_src *fs, const char *path, enum trace_format fmt)
{
	const char *compression;
	char err[512];

	memset(fs, 0, sizeof(*fs));
	fs->f = trace_open(path, &compression, err, sizeof(err));
	if (fs->f == NULL) {
		fprintf(stderr, "hv trace: %s\n", err);
		return -EINVAL;
	}
	trace_reader_init(&fs->rd, fs->f, strcmp(path, "-") == 0 ? TRACE_STDIN_NAME : path);
	trace_reader_set_format(&fs->rd, fmt);
	return 0;
}

/* Read the next record into the pending translations: 1, 0 at the end, or a
 * negative errno after a message. */
static int file_fill(struct file_src *fs, unsigned guest_shift)
{
	struct trace_access a;
	char err[512];
	uint64_t page = 1ULL << guest_shift, end;
	int rc;

	rc = trace_reader_next(&fs->rd, &a, err, sizeof(err));
	/* A read cut short by SIGINT/SIGTERM (waiting on a pipe): the end of
	 * the replay, not an error. */
	if (rc < 0 && cli_stop_signal)
		return 0;
	/* A read error of gzip or xz data: the decompressor says why. */
	if (rc == -EIO && trace_read_error() != NULL)
		fprintf(stderr, "%s:%lu: %s\n", fs->rd.name, fs->rd.lineno, trace_read_error());
	else if (rc < 0)
		fprintf(stderr, "%s\n", err);
	if (rc <= 0)
		return rc;
	fs->records++;
	fs->npend = fs->next = 0;
	end = a.gva + a.size - 1;
	for (int pass = 0; pass < (a.modify ? 2 : 1); pass++) {
		unsigned type = pass ? ACC_WRITE : a.type;

		fs->pend[fs->npend++] = (struct trace_access){ .gva = a.gva, .type = type };
		/* The last byte on another page: that page is translated too. */
		if (end > a.gva && (end & ~(page - 1)) != (a.gva & ~(page - 1)))
			fs->pend[fs->npend++] = (struct trace_access){ .gva = end & ~(page - 1),
								      .type = type };
	}
	return 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hv trace [options]\n"
		"\n"
		"Build guest page tables and EPT for a footprint of guest memory, replay\n"
		"accesses through the MMU model and report TLB and paging-structure-cache\n"
		"hits, walks, references per walk and the 2D reference grid.\n"
		"\n"
		"accesses:\n"
		"  --pattern P          seq (consecutive 64-byte lines), stride (steps of\n"
		"                       --stride), random (uniform 8-byte addresses) or\n"
		"                       chase (a random cycle over --stride-sized granules,\n"
		"                       each visited once per lap); default random\n"
		"  --accesses N         number of accesses (default 1000000)\n"
		"  --stride SIZE        step of stride, granule of chase (default 4K)\n"
		"  --seed N             seed of random and chase (default 1)\n"
		"  --access R|W|X       type of the generated accesses (default R)\n"
		"  --file F             replay F instead: one \"R|W|X <hex GVA>\" a line,\n"
		"                       blank lines and # comments allowed, or valgrind\n"
		"                       lackey's output (I/L/S/M ADDR,SIZE), whose pages\n"
		"                       are mapped on first touch anywhere in the address\n"
		"                       space, up to --footprint of them\n"
		"  --format auto|hv|lackey  the file's format (default auto: from its content);\n"
		"                       gzip and xz data are read as they are; --file -\n"
		"                       reads standard input (a pipe, such as valgrind's)\n"
		"  --json               one JSON object on stdout (keys: docs/json.md)\n"
		"  --csv                the same as CSV: a header line and one row, a\n"
		"                       column for each JSON member, named by its path\n"
		"  --plot FILE|DIR      draw the walk-length histogram and the reference\n"
		"                       grid with gnuplot into FILE (.svg or .png), or into\n"
		"                       DIR as walks.svg/.png and grid.svg/.png\n"
		"\n%s"
		"\n"
		"Exit status: 0 success, 1 the trace failed (a malformed file, an address\n"
		"outside the footprint), 2 bad options, 130 / 143 stopped by SIGINT / SIGTERM\n"
		"(the report covers the translations before it).\n"
		"\n"
		"examples:\n"
		"  hv trace --pattern random --tlb none --pwc none        24 refs a walk\n"
		"  hv trace --guest-page 2M --ept-page 2M --footprint 1G  large pages\n"
		"  hv trace --guest-levels 5 --ept-levels 5 --json        up to 35 refs\n"
		"  hv trace --native --pattern chase                      no EPT at all\n"
		"  hv trace --file examples/stride.trace\n"
		"  valgrind --tool=lackey --trace-mem=yes --log-file=ls.lackey ls\n"
		"  hv trace --file ls.lackey                              a real program\n",
		scene_options_help);
}

/* Options after the machine's own. */
enum {
	OPT_PATTERN = SCENE_OPT_LAST + 1,
	OPT_ACCESSES,
	OPT_STRIDE,
	OPT_SEED,
	OPT_ACCESS,
	OPT_FILE,
	OPT_FORMAT,
	OPT_JSON,
	OPT_CSV,
	OPT_PLOT,
	OPT_HELP,
};

static const struct option longopts[] = {
	SCENE_LONGOPTS,
	{ "pattern",  required_argument, NULL, OPT_PATTERN },
	{ "accesses", required_argument, NULL, OPT_ACCESSES },
	{ "stride",   required_argument, NULL, OPT_STRIDE },
	{ "seed",     required_argument, NULL, OPT_SEED },
	{ "access",   required_argument, NULL, OPT_ACCESS },
	{ "file",     required_argument, NULL, OPT_FILE },
	{ "format",   required_argument, NULL, OPT_FORMAT },
	{ "json",     no_argument,       NULL, OPT_JSON },
	{ "csv",      no_argument,       NULL, OPT_CSV },
	{ "plot",     required_argument, NULL, OPT_PLOT },
	{ "help",     no_argument,       NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};
const struct option *const trace_options = longopts;

struct trace_opts {
	enum pattern pattern;
	uint64_t accesses, stride, seed;
	unsigned type;
	const char *file;
	const char *plot;
	enum trace_format format;
	bool json, csv;
};

static int parse_access_type(const char *arg, unsigned *type)
{
	if (strcmp(arg, "R") == 0 || strcmp(arg, "r") == 0)
		*type = ACC_READ;
	else if (strcmp(arg, "W") == 0 || strcmp(arg, "w") == 0)
		*type = ACC_WRITE;
	else if (strcmp(arg, "X") == 0 || strcmp(arg, "x") == 0)
		*type = ACC_FETCH;
	else
		return -EINVAL;
	return 0;
}

static const char *access_name(unsigned type)
{
	return type == ACC_WRITE ? "W" : type == ACC_FETCH ? "X" : "R";
}

/*
 * Generate the next address. The generators are cheap and inline-able so
 * that the replay measures the MMU, not the generator.
 */
struct gen {
	enum pattern pattern;
	uint64_t footprint, stride, pos, state;
	uint32_t *next;    /* chase */
	uint64_t granules; /* chase */
};

static uint64_t gen_next(struct gen *g)
{
	uint64_t off;

	switch (g->pattern) {
	case PAT_SEQ:
		off = g->pos;
		g->pos = (g->pos + 64) % g->footprint;
		return off;
	case PAT_STRIDE:
		off = g->pos;
		g->pos = (g->pos + g->stride) % g->footprint;
		return off;
	case PAT_RANDOM:
		return rand_below(&g->state, g->footprint / 8) * 8;
	case PAT_CHASE:
		off = g->pos * g->stride;
		g->pos = g->next[g->pos];
		return off;
	case PAT_FILE:
		break;
	}
	return 0;
}

int cmd_trace(int argc, char **argv)
{
	struct trace_opts t = {
		.pattern = PAT_RANDOM, .accesses = 1000000, .stride = 4096, .seed = 1,
		.type = ACC_READ,
	};
	struct scene_opts so;
	struct scene *s = NULL;
	uint64_t n, i, fault_other = 0;
	char fp[32];
	struct gen g = { 0 };
	struct progress prog;
	struct report_shape shape;
	const struct mmu_stats *st;
	char err[512];
	const char *gen_opt = NULL; /* the first option that only a generator uses */
	struct file_src fs = { 0 };
	bool format_given = false;
	const char *shown = NULL; /* the file as messages name it */
	struct jv *root = NULL;   /* the JSON report read back, for CSV and --plot */
	struct sigaction old_sig[2];
	double t0, t1;
	int opt, status = 0, rc, stopped = 0;

	scene_opts_default(&so);
	optind = 0;
	while ((opt = cli_getopt("trace", argc, argv, longopts, &status)) > 0) {
		uint64_t v;

		if (opt >= SCENE_OPT_BASE && opt <= SCENE_OPT_LAST) {
			if (scene_parse_option(&so, opt, optarg, err, sizeof(err)))
				return cli_usage_error("trace", "%s", err);
			continue;
		}
		if (gen_opt == NULL && opt != OPT_FILE && opt != OPT_FORMAT && opt != OPT_JSON && opt != OPT_CSV && opt != OPT_PLOT &&
		    opt != OPT_HELP)
			gen_opt = cli_option_name(longopts, opt);
		switch (opt) {
		case OPT_PATTERN:
			if (strcmp(optarg, "seq") == 0)
				t.pattern = PAT_SEQ;
			else if (strcmp(optarg, "stride") == 0)
				t.pattern = PAT_STRIDE;
			else if (strcmp(optarg, "random") == 0)
				t.pattern = PAT_RANDOM;
			else if (strcmp(optarg, "chase") == 0)
				t.pattern = PAT_CHASE;
			else
				return cli_usage_error("trace", "--pattern: expected seq, stride, random or chase, got '%s'", optarg);
			break;
		case OPT_ACCESSES:
			if (parse_u64(optarg, &v) == -ERANGE)
				return cli_usage_error("trace", "--accesses: '%s' is too large (at most 18446744073709551615)", optarg);
			if (parse_u64(optarg, &v) || v == 0)
				return cli_usage_error("trace", "--accesses: expected a positive number, got '%s'", optarg);
			t.accesses = v;
			break;
		case OPT_STRIDE:
			if (parse_size(optarg, &v) || v == 0 || v % 8 != 0)
				return cli_usage_error("trace", "--stride: expected a size that is a non-zero multiple of 8 (such as 64 or 4K), got '%s'", optarg);
			t.stride = v;
			break;
		case OPT_SEED:
			if (parse_u64(optarg, &v) == -ERANGE)
				return cli_usage_error("trace", "--seed: '%s' is too large (at most 18446744073709551615)", optarg);
			if (parse_u64(optarg, &v))
				return cli_usage_error("trace", "--seed: expected a number, got '%s'", optarg);
			t.seed = v;
			break;
		case OPT_ACCESS:
			if (parse_access_type(optarg, &t.type))
				return cli_usage_error("trace", "--access: expected R, W or X, got '%s'", optarg);
			break;
		case OPT_FILE:
			t.file = optarg;
			break;
		case OPT_FORMAT:
			if (strcmp(optarg, "auto") == 0)
				t.format = TRACE_FMT_AUTO;
			else if (strcmp(optarg, "hv") == 0)
				t.format = TRACE_FMT_HV;
			else if (strcmp(optarg, "lackey") == 0)
				t.format = TRACE_FMT_LACKEY;
			else
				return cli_usage_error("trace", "--format: expected auto, hv or lackey, got '%s'", optarg);
			format_given = true;
			break;
		case OPT_JSON:
			t.json = true;
			break;
		case OPT_CSV:
			t.csv = true;
			break;
		case OPT_PLOT:
			if (plot_check_target(optarg, err, sizeof(err)))
				return cli_usage_error("trace", "%s", err);
			t.plot = optarg;
			break;
		case OPT_HELP:
			usage(stdout);
			return 0;
		}
	}
	if (status)
		return status;
	if (optind < argc)
		return cli_usage_error("trace", "unexpected argument '%s' (see hv trace --help)", argv[optind]);
	/* A file gives the accesses: a generator option beside it would be
	 * silently ignored, so it is a mistake to report. */
	if (t.file != NULL && gen_opt != NULL)
		return cli_usage_error("trace", "--file and --%s cannot be used together: the file "
				       "gives the accesses", gen_opt);
	if (t.json && t.csv)
		return cli_usage_error("trace", "--json and --csv: choose one");
	if (format_given && t.file == NULL)
		return cli_usage_error("trace", "--format: only with --file");
	/* Before the replay, not after it: a missing gnuplot is no reason to
	 * find out at the end of a long run. */
	if (t.plot != NULL && plot_available(err, sizeof(err))) {
		fprintf(stderr, "hv trace: %s\n", err);
		return 1;
	}
	if (t.file != NULL) {
		t.pattern = PAT_FILE;
		shown = strcmp(t.file, "-") == 0 ? TRACE_STDIN_NAME : t.file;
	}
	if (t.pattern == PAT_CHASE && so.footprint / t.stride < 2)
		return cli_usage_error("trace", "--pattern chase: the footprint holds fewer than two --stride granules");
	if (t.pattern == PAT_CHASE && so.footprint / t.stride > UINT32_MAX)
		return cli_usage_error("trace", "--pattern chase: too many granules; use a larger --stride");

	/* A file's first record says its format, and lackey's addresses are
	 * mapped on first touch: read it before building the scene. */
	if (t.pattern == PAT_FILE) {
		if (file_open(&fs, t.file, t.format))
			return 1;
		rc = file_fill(&fs, so.guest_shift);
		if (rc == 0)
			fprintf(stderr, "%s: no accesses in the file\n", shown);
		if (rc <= 0) {
			fclose(fs.f);
			return 1;
		}
		t.format = fs.rd.format;
		so.first_touch = t.format == TRACE_FMT_LACKEY;
	}
	rc = scene_create(&so, &s, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "hv trace: %s\n", err);
		if (fs.f)
			fclose(fs.f);
		return rc == -EINVAL || rc == -ENOENT ? 2 : 1;
	}

	g.pattern = t.pattern;
	g.footprint = s->footprint;
	g.stride = t.stride;
	g.state = t.seed;
	if (t.pattern == PAT_CHASE) {
		g.granules = s->footprint / t.stride;
		if (chase_build(g.granules, t.seed, &g.next)) {
			fprintf(stderr, "hv trace: out of memory for the chase permutation\n");
			scene_destroy(s);
			return 1;
		}
	}
	n = t.pattern == PAT_FILE ? UINT64_MAX : t.accesses;

	progress_init(&prog, "hv trace");
	cli_catch_stop_signals(old_sig);
	t0 = now_seconds();
	for (i = 0; i < n && !cli_stop_signal; i++) {
		struct mmu_result r;
		uint64_t gva;
		unsigned type;

		if (t.pattern == PAT_FILE) {
			if (fs.next == fs.npend) {
				rc = file_fill(&fs, so.guest_shift);
				if (rc < 0)
					goto file_fail;
				if (rc == 0)
					break;
			}
			gva = fs.pend[fs.next].gva;
			type = fs.pend[fs.next].type;
			fs.next++;
			if (so.first_touch) {
				rc = scene_touch(s, gva, err, sizeof(err));
				if (rc) {
					fprintf(stderr, "%s:%lu: %s\n", shown, fs.rd.lineno, err);
					goto file_fail;
				}
			} else if (!scene_contains(s, gva)) {
				fprintf(stderr,
					"%s:%lu: address 0x%" PRIx64 " is outside the mapped footprint "
					"[0x%" PRIx64 ", 0x%" PRIx64 ") (see --footprint)\n",
					shown, fs.rd.lineno, gva, SCENE_GVA_BASE,
					SCENE_GVA_BASE + s->footprint);
				goto file_fail;
			}
		} else {
			gva = SCENE_GVA_BASE + gen_next(&g);
			type = t.type;
		}
		mmu_translate(s->mmu, &s->ctx, gva, type, &r);
		/* Every address is mapped, so a fault here means the model and
		 * the tables disagree: count it (the stats split it by kind). */
		if (r.status != MMU_OK)
			fault_other++;
		if ((i & 0xffff) == 0)
			progress_update(&prog, i, t.pattern == PAT_FILE ? 0 : n);
	}
	n = i;
	t1 = now_seconds();
	cli_restore_stop_signals(old_sig);
	stopped = cli_stop_signal;
	progress_done(&prog);
	if (stopped)
		fprintf(stderr, "hv trace: stopped by %s after %" PRIu64 " translations\n",
			stopped == SIGINT ? "SIGINT" : "SIGTERM", i);
	if (fs.f)
		fclose(fs.f);
	fs.f = NULL;

	st = mmu_stats(s->mmu);
	scene_shape(s, &shape);
	if (t.json || t.csv || t.plot) {
		struct csv_capture cap;
		FILE *jf = stdout;
		struct json j;

		/* CSV and the plot are made from the JSON report. */
		if (t.csv || t.plot) {
			if (csv_capture_begin(&cap)) {
				fprintf(stderr, "hv trace: out of memory for the report\n");
				goto fail;
			}
			jf = cap.f;
		}
		json_begin(&j, jf);
		json_str(&j, "command", "trace");
		json_obj_begin(&j, "options");
		scene_opts_json(&j, s);
		json_str(&j, "pattern", pattern_names[t.pattern]);
		if (t.pattern == PAT_FILE) {
			json_str(&j, "file", t.file);
			json_str(&j, "format", t.format == TRACE_FMT_LACKEY ? "lackey" : "hv");
		} else {
			json_u64(&j, "accesses", t.accesses);
			json_u64(&j, "stride", t.stride);
			json_u64(&j, "seed", t.seed);
			json_str(&j, "access", access_name(t.type));
		}
		json_obj_end(&j);
		report_mmu_json(&j, st, &s->cfg, &shape);
		json_u64(&j, "faulted_accesses", fault_other);
		if (so.first_touch) {
			json_u64(&j, "records", fs.records);
			json_u64(&j, "pages_touched", s->ntouched);
		}
		json_f64(&j, "seconds", t1 - t0);
		json_f64(&j, "translations_per_second", (t1 > t0) ? (double)n / (t1 - t0) : 0.0);
		if (stopped)
			json_str(&j, "stopped_by", stopped == SIGINT ? "SIGINT" : "SIGTERM");
		json_end(&j);
		if (jf != stdout) {
			rc = csv_capture_parse(&cap, &root, err, sizeof(err));
			if (rc == 0 && t.json)
				fwrite(cap.buf, 1, cap.len, stdout);
			if (rc == 0 && t.csv)
				rc = csv_write(stdout, root, NULL, err, sizeof(err));
			csv_capture_free(&cap);
			if (rc) {
				fprintf(stderr, "hv trace: %s\n", err);
				goto fail;
			}
		}
	}
	if (!t.json && !t.csv) {
		if (so.first_touch)
			printf("hv trace: %" PRIu64 " translations of %" PRIu64 " lackey records "
			       "from %s, %" PRIu64 " pages mapped on first touch (footprint %s)\n",
			       n, fs.records, shown, s->ntouched,
			       format_size(s->footprint, fp, sizeof(fp)));
		else if (t.pattern == PAT_FILE)
			printf("hv trace: %" PRIu64 " accesses from %s, footprint %s\n", n,
			       shown, format_size(s->footprint, fp, sizeof(fp)));
		else
			printf("hv trace: %" PRIu64 " %s %s accesses, footprint %s, seed %" PRIu64 "\n",
			       n, pattern_names[t.pattern], access_name(t.type),
			       format_size(s->footprint, fp, sizeof(fp)), t.seed);
		if (stopped)
			printf("  stopped by %s: the report covers the translations before it\n",
			       stopped == SIGINT ? "SIGINT" : "SIGTERM");
		report_mmu_text(stdout, st, &s->cfg, &shape);
		if (fault_other)
			printf("\n  warning: %" PRIu64 " accesses faulted although every address is "
			       "mapped\n", fault_other);
		printf("\n  %.3f s, %.1f M translations/s\n", t1 - t0,
		       t1 > t0 ? (double)n / (t1 - t0) / 1e6 : 0.0);
	}
	if (t.plot) {
		char title[256];

		snprintf(title, sizeof(title), "hv trace: %s, footprint %s, %s guest pages over %s, "
			 "caches %s", t.pattern == PAT_FILE ? shown : pattern_names[t.pattern],
			 format_size(s->footprint, fp, sizeof(fp)),
			 shape.guest_page_shift == 21 ? "2M" : shape.guest_page_shift == 30 ? "1G" : "4K",
			 shape.ept_levels == 0 ? "no EPT" : shape.ept_page_shift == 21 ? "2M EPT pages" :
			 shape.ept_page_shift == 30 ? "1G EPT pages" : "4K EPT pages", s->cfg.name);
		fflush(stdout);
		if (plot_translation(t.plot, "", root, title, err, sizeof(err))) {
			fprintf(stderr, "hv trace: %s\n", err);
			goto fail;
		}
	}
	jv_free(root);
	free(g.next);
	scene_destroy(s);
	return stopped ? 128 + stopped : 0;

fail:
	jv_free(root);
	free(g.next);
	scene_destroy(s);
	return 1;

file_fail:
	cli_restore_stop_signals(old_sig);
	progress_done(&prog);
	fclose(fs.f);
	scene_destroy(s);
	return 1;
}
