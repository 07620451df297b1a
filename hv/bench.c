/* SPDX-License-Identifier: MIT */
/*
 * hv/bench.c - `hv bench` (and `make bench`): how fast the model is.
 *
 * The benchmarks are a table of named entries (benches[] below), each a
 * function that fills a struct bench_result. To add one, for example vCPU
 * instructions per second on a guest, write its function and add a row: the
 * driver, the text output and the JSON output need no change.
 *
 * Translation benchmarks:
 *   tlb-hit     a working set that fits the L1 dTLB: the hit path.
 *   full-walk   random 4K pages over 1 GiB with every cache off, so each
 *               translation is a full 24-reference 4/4 walk, timed beside a
 *               plain loop that makes the same 24 dependent loads through
 *               the same tables with hpool_read64 and no model: the ratio is
 *               the model's overhead over the memory traffic it describes.
 *   skylake-random  the same addresses with the Skylake preset: what a
 *               realistic configuration costs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hv/cli.h"
#include "hv/scene.h"

struct bench_params {
	bool quick;
};

/*
 * What one benchmark measured.
 *   ops/seconds: the measured loop. unit names an op ("translation").
 *   base_seconds: the same work done by a plain loop (0 = no baseline);
 *   ratio = seconds / base_seconds.
 *   refs_per_op: references the model counted per op (0 = not applicable).
 *   target/target_kind: the goal the result is judged against.
 */
struct bench_result {
	uint64_t ops;
	double seconds;
	const char *unit;
	double base_seconds;
	double refs_per_op;
	enum { TARGET_NONE, TARGET_MIN_RATE, TARGET_MAX_RATIO } target_kind;
	double target;
	char note[160];
};

struct bench {
	const char *name;
	const char *what;
	int (*run)(const struct bench_params *bp, struct bench_result *out, char *err,
		   size_t errlen);
};

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* Random page-aligned GVAs (plus a fixed in-page offset) over the footprint,
 * generated before timing so the loops measure translation only. */
static uint64_t *random_gvas(const struct scene *s, size_t n, uint64_t page)
{
	uint64_t *v = malloc(n * sizeof(*v));
	uint64_t state = 0x243f6a8885a308d3ULL, pages = s->footprint / page;

	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		v[i] = SCENE_GVA_BASE + (xorshift64(&state) % pages) * page + 0x18;
	return v;
}

static int make_scene(uint64_t footprint, const char *caches, struct scene **s, char *err,
		      size_t errlen)
{
	struct scene_opts o;

	scene_opts_default(&o);
	o.footprint = footprint;
	o.tlb = caches;
	o.pwc = caches;
	return scene_create(&o, s, err, errlen);
}

/* Time n translations of gvas[i % ngva]; the sum of HPAs keeps the work live
 * and lets callers compare against the plain loop. */
static double time_model(struct scene *s, const uint64_t *gvas, size_t ngva, uint64_t n,
			 uint64_t *sum, uint64_t *faults)
{
	struct mmu_result r;
	uint64_t acc = 0, bad = 0;
	double t0 = now_seconds();

	for (uint64_t i = 0, k = 0; i < n; i++) {
		mmu_translate(s->mmu, &s->ctx, gvas[k], ACC_READ, &r);
		acc += r.hpa;
		bad += r.status != MMU_OK;
		if (++k == ngva)
			k = 0;
	}
	*sum = acc;
	*faults = bad;
	return now_seconds() - t0;
}

static int bench_tlb_hit(const struct bench_params *bp, struct bench_result *out, char *err,
			 size_t errlen)
{
	/* 32 pages: inside Skylake's 64-entry L1 dTLB, so after the first lap
	 * every translation is a hit. */
	const size_t ngva = 4096;
	struct scene *s;
	uint64_t *gvas, sum, faults, n = bp->quick ? 2000000 : 50000000;
	int rc = make_scene(32 * PAGE_SIZE_4K, "skylake", &s, err, errlen);

	if (rc)
		return rc;
	gvas = random_gvas(s, ngva, PAGE_SIZE_4K);
	if (gvas == NULL) {
		scene_destroy(s);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	time_model(s, gvas, ngva, ngva, &sum, &faults); /* warm the TLB */
	mmu_reset_stats(s->mmu);
	out->seconds = time_model(s, gvas, ngva, n, &sum, &faults);
	out->ops = n;
	out->unit = "translation";
	out->refs_per_op = (double)mmu_stats(s->mmu)->walk_refs / (double)n;
	out->target_kind = TARGET_MIN_RATE;
	out->target = 100e6;
	snprintf(out->note, sizeof(out->note), "32 pages, %" PRIu64 " walks, %" PRIu64 " faults",
		 mmu_stats(s->mmu)->walks, faults);
	free(gvas);
	scene_destroy(s);
	return 0;
}

/* The plain loop: follow the real entries, no model, no counting. */
static inline uint64_t plain_ept(const struct hpool *pool, uint64_t root, unsigned levels,
				 uint64_t gpa)
{
	uint64_t table = root;

	for (unsigned l = levels; l >= 1; l--) {
		uint64_t idx = (gpa >> (PAGE_SHIFT_4K + 9 * (l - 1))) & 0x1ff;

		table = hpool_read64(pool, table + idx * 8) & EPT_ADDR_MASK;
	}
	return table | (gpa & 0xfff);
}

/* Precondition: 4K pages in both stages (no PS bits to look at). */
static inline uint64_t plain_walk(const struct hpool *pool, uint64_t eroot, unsigned elevels,
				  uint64_t cr3, unsigned glevels, uint64_t gva)
{
	uint64_t table = cr3 & PTE_ADDR_MASK;

	for (unsigned l = glevels; l >= 1; l--) {
		uint64_t idx = (gva >> (PAGE_SHIFT_4K + 9 * (l - 1))) & 0x1ff;
		uint64_t hpa = plain_ept(pool, eroot, elevels, table + idx * 8);

		table = hpool_read64(pool, hpa) & PTE_ADDR_MASK;
	}
	return plain_ept(pool, eroot, elevels, table | (gva & 0xfff));
}

static double time_plain(const struct scene *s, const uint64_t *gvas, size_t ngva, uint64_t n,
			 uint64_t *sum)
{
	uint64_t acc = 0, eroot = s->ept->root, cr3 = s->ctx.cr3;
	unsigned el = s->ept->levels, gl = s->o.guest_levels;
	double t0 = now_seconds();

	for (uint64_t i = 0, k = 0; i < n; i++) {
		acc += plain_walk(s->pool, eroot, el, cr3, gl, gvas[k]);
		if (++k == ngva)
			k = 0;
	}
	*sum = acc;
	return now_seconds() - t0;
}

static int bench_walks(const struct bench_params *bp, struct bench_result *out, char *err,
		       size_t errlen, const char *caches, bool baseline)
{
	const size_t ngva = 1 << 20;
	struct scene *s;
	uint64_t *gvas, sum, psum, faults, n = bp->quick ? 200000 : 3000000;
	const struct mmu_stats *st;
	int rc = make_scene(PAGE_SIZE_1G, caches, &s, err, errlen);

	if (rc)
		return rc;
	gvas = random_gvas(s, ngva, PAGE_SIZE_4K);
	if (gvas == NULL) {
		scene_destroy(s);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* One untimed lap of each so that neither pays for first-touch page
	 * faults of the host. */
	time_model(s, gvas, ngva, ngva, &sum, &faults);
	if (baseline)
		time_plain(s, gvas, ngva, ngva, &psum);
	mmu_reset_stats(s->mmu);

	out->seconds = time_model(s, gvas, ngva, n, &sum, &faults);
	out->ops = n;
	out->unit = "translation";
	st = mmu_stats(s->mmu);
	out->refs_per_op = (double)st->walk_refs / (double)n;
	snprintf(out->note, sizeof(out->note), "1 GiB, random 4K pages, %.2f refs/walk, %" PRIu64
		 " faults", st->walks ? (double)st->walk_refs / (double)st->walks : 0.0, faults);
	if (baseline) {
		out->base_seconds = time_plain(s, gvas, ngva, n, &psum);
		out->target_kind = TARGET_MAX_RATIO;
		out->target = 2.0;
		/* Both loops must have found the same frames, or the
		 * comparison is meaningless. */
		if (psum != sum) {
			snprintf(err, errlen, "the model and the plain walk disagree on the HPAs "
					      "(sums 0x%" PRIx64 " and 0x%" PRIx64 ")", sum, psum);
			rc = -EPROTO;
		}
	}
	free(gvas);
	scene_destroy(s);
	return rc;
}

static int bench_full_walk(const struct bench_params *bp, struct bench_result *out, char *err,
			   size_t errlen)
{
	return bench_walks(bp, out, err, errlen, "none", true);
}

static int bench_skylake_random(const struct bench_params *bp, struct bench_result *out,
				char *err, size_t errlen)
{
	return bench_walks(bp, out, err, errlen, "skylake", false);
}

static const struct bench benches[] = {
	{ "tlb-hit", "translations that hit the L1 dTLB", bench_tlb_hit },
	{ "full-walk", "24-reference walks, no caches, vs a plain loop", bench_full_walk },
	{ "skylake-random", "random pages over 1 GiB, Skylake caches", bench_skylake_random },
};

#define NBENCHES (sizeof(benches) / sizeof(benches[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hv bench [--quick] [--json] [NAME...]\n"
		"\n"
		"Measure how fast the translation model runs. Each benchmark prints\n"
		"operations per second, nanoseconds per operation and, where there is one,\n"
		"the ratio to a plain loop doing the same memory references without the\n"
		"model. Targets: >= 100 M translations/s on the hit path; full walks\n"
		"within 2x of the plain loop.\n"
		"\n"
		"options:\n"
		"  --quick      about 20 times fewer operations (CI smoke run)\n"
		"  --json       one JSON object on stdout (keys: docs/json.md)\n"
		"  NAME...      run only these benchmarks\n"
		"\n"
		"benchmarks:\n");
	for (size_t i = 0; i < NBENCHES; i++)
		fprintf(f, "  %-15s %s\n", benches[i].name, benches[i].what);
	fprintf(f,
		"\n"
		"examples:\n"
		"  hv bench                 all benchmarks\n"
		"  hv bench --quick --json  a fast smoke run, machine-readable\n"
		"  hv bench full-walk       only the walk-versus-plain-loop comparison\n");
}

enum { OPT_QUICK = 1, OPT_JSON, OPT_HELP };

static const struct option longopts[] = {
	{ "quick", no_argument, NULL, OPT_QUICK },
	{ "json",  no_argument, NULL, OPT_JSON },
	{ "help",  no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static bool target_met(const struct bench_result *r)
{
	switch (r->target_kind) {
	case TARGET_MIN_RATE: return (double)r->ops / r->seconds >= r->target;
	case TARGET_MAX_RATIO: return r->seconds / r->base_seconds <= r->target;
	case TARGET_NONE: break;
	}
	return true;
}

static void print_text(const struct bench *b, const struct bench_result *r)
{
	double rate = (double)r->ops / r->seconds;

	printf("%-15s %8.1f M %s/s  %7.1f ns each", b->name, rate / 1e6, r->unit,
	       1e9 * r->seconds / (double)r->ops);
	if (r->base_seconds > 0)
		printf("\n%-15s %8.1f M plain walks/s %6.1f ns each  ratio %.2fx", "",
		       (double)r->ops / r->base_seconds / 1e6, 1e9 * r->base_seconds / (double)r->ops,
		       r->seconds / r->base_seconds);
	if (r->target_kind == TARGET_MIN_RATE)
		printf("  (target >= %.0f M/s: %s)", r->target / 1e6, target_met(r) ? "met" : "MISSED");
	else if (r->target_kind == TARGET_MAX_RATIO)
		printf("  (target <= %.1fx: %s)", r->target, target_met(r) ? "met" : "MISSED");
	printf("\n%-15s %s\n", "", r->note);
}

static void print_json(struct json *j, const struct bench *b, const struct bench_result *r)
{
	json_obj_begin(j, b->name);
	json_str(j, "unit", r->unit);
	json_u64(j, "ops", r->ops);
	json_f64(j, "seconds", r->seconds);
	json_f64(j, "ops_per_second", (double)r->ops / r->seconds);
	json_f64(j, "ns_per_op", 1e9 * r->seconds / (double)r->ops);
	json_f64(j, "refs_per_op", r->refs_per_op);
	if (r->base_seconds > 0) {
		json_f64(j, "plain_seconds", r->base_seconds);
		json_f64(j, "plain_ns_per_op", 1e9 * r->base_seconds / (double)r->ops);
		json_f64(j, "ratio_to_plain", r->seconds / r->base_seconds);
	}
	if (r->target_kind != TARGET_NONE) {
		json_str(j, "target", r->target_kind == TARGET_MIN_RATE ? "min_ops_per_second"
									: "max_ratio_to_plain");
		json_f64(j, "target_value", r->target);
		json_bool(j, "target_met", target_met(r));
	}
	json_str(j, "note", r->note);
	json_obj_end(j);
}

int cmd_bench(int argc, char **argv)
{
	struct bench_params bp = { .quick = false };
	bool json = false, selected[NBENCHES], any = false;
	struct json j;
	int opt, status = 0, failed = 0;

	optind = 0;
	while ((opt = cli_getopt("bench", argc, argv, longopts, &status)) > 0) {
		switch (opt) {
		case OPT_QUICK: bp.quick = true; break;
		case OPT_JSON: json = true; break;
		case OPT_HELP: usage(stdout); return 0;
		}
	}
	if (status)
		return status;
	memset(selected, 0, sizeof(selected));
	for (int i = optind; i < argc; i++) {
		size_t k;

		for (k = 0; k < NBENCHES; k++)
			if (strcmp(argv[i], benches[k].name) == 0)
				break;
		if (k == NBENCHES)
			return cli_usage_error("bench", "unknown benchmark '%s' (see hv bench --help)", argv[i]);
		selected[k] = true;
		any = true;
	}

	if (json) {
		json_begin(&j, stdout);
		json_str(&j, "command", "bench");
		json_bool(&j, "quick", bp.quick);
		json_obj_begin(&j, "benchmarks");
	} else {
		printf("hv bench%s: translation model speed\n\n", bp.quick ? " --quick" : "");
	}
	for (size_t i = 0; i < NBENCHES; i++) {
		struct bench_result r;
		char err[256] = "";

		if (any && !selected[i])
			continue;
		memset(&r, 0, sizeof(r));
		if (benches[i].run(&bp, &r, err, sizeof(err)) != 0) {
			fprintf(stderr, "hv bench: %s: %s\n", benches[i].name, err);
			failed = 1;
			continue;
		}
		if (json)
			print_json(&j, &benches[i], &r);
		else
			print_text(&benches[i], &r);
	}
	if (json) {
		json_obj_end(&j);
		json_end(&j);
	}
	return failed;
}
