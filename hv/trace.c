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
#include <sys/stat.h>

#include "hv/cli.h"
#include "hv/scene.h"
#include "hv/tracefile.h"

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

/* Read a whole trace file into *out; errors are reported as "F:LINE: what"
 * on stderr and make the command exit 1. */
static int load_trace(const char *path, const struct scene *s, struct trace_access **out, uint64_t *n)
{
	FILE *f = fopen(path, "r");
	struct trace_reader *rd = NULL;
	struct trace_access *v = NULL;
	uint64_t len = 0, cap = 0;
	struct stat st;
	char err[512];
	int rc = 0;

	if (f == NULL) {
		fprintf(stderr, "hv trace: cannot open '%s': %s\n", path, strerror(errno));
		return -errno;
	}
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fprintf(stderr, "hv trace: --file %s: is a directory, not a trace file\n", path);
		rc = -EISDIR;
		goto out;
	}
	rd = malloc(sizeof(*rd));
	if (rd == NULL) {
		fprintf(stderr, "hv trace: out of memory reading '%s'\n", path);
		rc = -ENOMEM;
		goto out;
	}
	trace_reader_init(rd, f, path);
	for (;;) {
		struct trace_access a;

		rc = trace_reader_next(rd, &a, err, sizeof(err));
		if (rc == 0)
			break;
		if (rc < 0) {
			fprintf(stderr, "%s\n", err);
			goto out;
		}
		rc = 0;
		if (!scene_contains(s, a.gva)) {
			fprintf(stderr,
				"%s:%lu: address 0x%" PRIx64 " is outside the mapped footprint "
				"[0x%" PRIx64 ", 0x%" PRIx64 ") (see --footprint)\n",
				path, rd->lineno, a.gva, SCENE_GVA_BASE, SCENE_GVA_BASE + s->footprint);
			rc = -ERANGE;
			goto out;
		}
		if (len == cap) {
			struct trace_access *nv;

			cap = cap ? cap * 2 : 1024;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				fprintf(stderr, "hv trace: out of memory reading '%s'\n", path);
				rc = -ENOMEM;
				goto out;
			}
			v = nv;
		}
		v[len++] = a;
	}
	if (len == 0) {
		fprintf(stderr, "%s: no accesses in the file\n", path);
		rc = -EINVAL;
		goto out;
	}
out:
	free(rd);
	fclose(f);
	if (rc) {
		free(v);
		return rc;
	}
	*out = v;
	*n = len;
	return 0;
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
		"                       blank lines and # comments allowed\n"
		"  --json               one JSON object on stdout (keys: docs/json.md)\n"
		"\n%s"
		"\n"
		"examples:\n"
		"  hv trace --pattern random --tlb none --pwc none        24 refs a walk\n"
		"  hv trace --guest-page 2M --ept-page 2M --footprint 1G  large pages\n"
		"  hv trace --guest-levels 5 --ept-levels 5 --json        up to 35 refs\n"
		"  hv trace --native --pattern chase                      no EPT at all\n"
		"  hv trace --file examples/stride.trace\n",
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
	OPT_JSON,
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
	{ "json",     no_argument,       NULL, OPT_JSON },
	{ "help",     no_argument,       NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

struct trace_opts {
	enum pattern pattern;
	uint64_t accesses, stride, seed;
	unsigned type;
	const char *file;
	bool json;
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
	struct trace_access *file_acc = NULL;
	uint64_t nfile = 0, n, fault_other = 0;
	char fp[32];
	struct gen g = { 0 };
	struct progress prog;
	struct report_shape shape;
	const struct mmu_stats *st;
	char err[512];
	const char *gen_opt = NULL; /* the first option that only a generator uses */
	double t0, t1;
	int opt, status = 0, rc;

	scene_opts_default(&so);
	optind = 0;
	while ((opt = cli_getopt("trace", argc, argv, longopts, &status)) > 0) {
		uint64_t v;

		if (opt >= SCENE_OPT_BASE && opt <= SCENE_OPT_LAST) {
			if (scene_parse_option(&so, opt, optarg, err, sizeof(err)))
				return cli_usage_error("trace", "%s", err);
			continue;
		}
		if (gen_opt == NULL && opt != OPT_FILE && opt != OPT_JSON && opt != OPT_HELP)
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
		case OPT_JSON:
			t.json = true;
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
	if (t.file != NULL)
		t.pattern = PAT_FILE;
	if (t.pattern == PAT_CHASE && so.footprint / t.stride < 2)
		return cli_usage_error("trace", "--pattern chase: the footprint holds fewer than two --stride granules");
	if (t.pattern == PAT_CHASE && so.footprint / t.stride > UINT32_MAX)
		return cli_usage_error("trace", "--pattern chase: too many granules; use a larger --stride");

	rc = scene_create(&so, &s, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "hv trace: %s\n", err);
		return rc == -EINVAL || rc == -ENOENT ? 2 : 1;
	}

	g.pattern = t.pattern;
	g.footprint = s->footprint;
	g.stride = t.stride;
	g.state = t.seed;
	if (t.pattern == PAT_FILE) {
		if (load_trace(t.file, s, &file_acc, &nfile)) {
			scene_destroy(s);
			return 1;
		}
	} else if (t.pattern == PAT_CHASE) {
		g.granules = s->footprint / t.stride;
		if (chase_build(g.granules, t.seed, &g.next)) {
			fprintf(stderr, "hv trace: out of memory for the chase permutation\n");
			scene_destroy(s);
			return 1;
		}
	}
	n = t.pattern == PAT_FILE ? nfile : t.accesses;

	progress_init(&prog, "hv trace");
	t0 = now_seconds();
	for (uint64_t i = 0; i < n; i++) {
		struct mmu_result r;
		uint64_t gva;
		unsigned type;

		if (t.pattern == PAT_FILE) {
			gva = file_acc[i].gva;
			type = file_acc[i].type;
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
			progress_update(&prog, i, n);
	}
	t1 = now_seconds();
	progress_done(&prog);

	st = mmu_stats(s->mmu);
	scene_shape(s, &shape);
	if (t.json) {
		struct json j;

		json_begin(&j, stdout);
		json_str(&j, "command", "trace");
		json_obj_begin(&j, "options");
		scene_opts_json(&j, s);
		json_str(&j, "pattern", pattern_names[t.pattern]);
		if (t.pattern == PAT_FILE) {
			json_str(&j, "file", t.file);
		} else {
			json_u64(&j, "accesses", t.accesses);
			json_u64(&j, "stride", t.stride);
			json_u64(&j, "seed", t.seed);
			json_str(&j, "access", access_name(t.type));
		}
		json_obj_end(&j);
		report_mmu_json(&j, st, &s->cfg, &shape);
		json_u64(&j, "faulted_accesses", fault_other);
		json_f64(&j, "seconds", t1 - t0);
		json_f64(&j, "translations_per_second", (t1 > t0) ? (double)n / (t1 - t0) : 0.0);
		json_end(&j);
	} else {
		if (t.pattern == PAT_FILE)
			printf("hv trace: %" PRIu64 " accesses from %s, footprint %s\n", n,
			       t.file, format_size(s->footprint, fp, sizeof(fp)));
		else
			printf("hv trace: %" PRIu64 " %s %s accesses, footprint %s, seed %" PRIu64 "\n",
			       n, pattern_names[t.pattern], access_name(t.type),
			       format_size(s->footprint, fp, sizeof(fp)), t.seed);
		report_mmu_text(stdout, st, &s->cfg, &shape);
		if (fault_other)
			printf("\n  warning: %" PRIu64 " accesses faulted although every address is "
			       "mapped\n", fault_other);
		printf("\n  %.3f s, %.1f M translations/s\n", t1 - t0,
		       t1 > t0 ? (double)n / (t1 - t0) / 1e6 : 0.0);
	}
	free(g.next);
	free(file_acc);
	scene_destroy(s);
	return 0;
}
