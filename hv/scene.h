/* SPDX-License-Identifier: MIT */
/*
 * hv/scene.h - the machine `hv trace`, `hv walk` and `hv bench` translate on:
 * a frame pool, an EPT, guest page tables and an MMU, built for a footprint of
 * guest memory with chosen page sizes and levels. No vCPU and no guest code:
 * the tables are written from the host side with the gpt_builder.
 *
 * Layout (the same for every command, so that addresses in trace files and
 * in `hv walk` mean the same thing):
 *
 *   GVA  [SCENE_GVA_BASE, + footprint)           guest data pages
 *    |      guest tables at GPA [SCENE_TABLE_GPA, + table_len)
 *   GPA  [SCENE_DATA_GPA, + footprint)
 *    |      EPT (both GPA ranges, pages up to --ept-page)
 *   HPA  frames of the pool (FRAME_GUEST), in chunks
 *
 * With --native there is no EPT: the guest tables point straight at HPAs
 * (a GPA is the HPA), which is what a bare-metal walk looks like.
 */
#ifndef HV_SCENE_H
#define HV_SCENE_H

#include <getopt.h>

#include "hv/cliutil.h"

#define SCENE_GVA_BASE   UINT64_C(0x00007f1240000000) /* 1 GiB aligned, non-zero indices */
#define SCENE_TABLE_GPA  UINT64_C(0x0000000040000000) /* 1 GiB */
#define SCENE_DATA_GPA   UINT64_C(0x0000000100000000) /* 4 GiB */
#define SCENE_MAX_FOOTPRINT (UINT64_C(64) << 30)

/* What the layout options chose. */
struct scene_opts {
	uint64_t footprint;
	unsigned guest_shift, ept_shift;   /* 12, 21, 30 */
	unsigned guest_levels, ept_levels; /* 4 or 5 */
	bool native;                       /* no EPT */
	bool first_touch;                  /* map GVAs on first touch (scene_touch) */
	uint16_t vpid;
	const char *tlb, *pwc;             /* preset or file; NULL = default */
};

/*
 * The built machine. Everything is set once by scene_create.
 *   footprint: the requested footprint rounded up to the larger page size.
 *   chunk, chunk_hpa[]: the data frames, footprint / chunk runs of `chunk`
 *   bytes each (GPA SCENE_DATA_GPA + i * chunk, or the HPA itself natively).
 */
struct scene {
	struct scene_opts o;
	struct hpool *pool;
	struct ept *ept;            /* NULL with --native */
	struct gpt_builder *gpt;
	struct mmu *mmu;
	struct mmu_config cfg;
	struct mmu_ctx ctx;
	uint64_t footprint;
	uint64_t table_gpa, table_len;
	uint64_t chunk;
	uint64_t nchunks;
	uint64_t *chunk_hpa;
	/* first_touch: the guest pages mapped so far (an open-addressing set of
	 * page numbers, 0 = empty slot; a page number is never 0 there because
	 * the set stores page + 1), and how many. */
	uint64_t *touched;
	uint64_t touched_cap, ntouched;
};

void scene_opts_default(struct scene_opts *o);

/* Long options shared by the commands that build a scene; ids from 0x100. */
#define SCENE_OPT_BASE 0x100
#define SCENE_LONGOPTS                                              \
	{ "footprint",    required_argument, NULL, SCENE_OPT_BASE + 0 }, \
	{ "guest-page",   required_argument, NULL, SCENE_OPT_BASE + 1 }, \
	{ "ept-page",     required_argument, NULL, SCENE_OPT_BASE + 2 }, \
	{ "guest-levels", required_argument, NULL, SCENE_OPT_BASE + 3 }, \
	{ "ept-levels",   required_argument, NULL, SCENE_OPT_BASE + 4 }, \
	{ "native",       no_argument,       NULL, SCENE_OPT_BASE + 5 }, \
	{ "vpid",         required_argument, NULL, SCENE_OPT_BASE + 6 }, \
	{ "tlb",          required_argument, NULL, SCENE_OPT_BASE + 7 }, \
	{ "pwc",          required_argument, NULL, SCENE_OPT_BASE + 8 }
#define SCENE_OPT_LAST (SCENE_OPT_BASE + 8)

/* Help text for the shared options, for the commands' --help. */
extern const char scene_options_help[];

/*
 * Apply one shared option (getopt_long's return value `id` in
 * SCENE_OPT_BASE..SCENE_OPT_LAST). On a bad value writes
 * "--option: what is wrong" to err and returns -EINVAL.
 */
int scene_parse_option(struct scene_opts *o, int id, const char *arg, char *err,
		       size_t errlen) HV_MUST_CHECK;

/* Build the machine; on failure err says why. */
int scene_create(const struct scene_opts *o, struct scene **out, char *err,
		 size_t errlen) HV_MUST_CHECK;
void scene_destroy(struct scene *s);

void scene_shape(const struct scene *s, struct report_shape *shape);

/* Is gva one of the footprint's addresses? */
static inline bool scene_contains(const struct scene *s, uint64_t gva)
{
	return gva >= SCENE_GVA_BASE && gva - SCENE_GVA_BASE < s->footprint;
}

/*
 * With o.first_touch, the guest tables start empty and a guest page is mapped
 * the first time one of its addresses is touched, to the next free page of
 * the footprint's guest RAM, as an operating system would. Returns 0 (mapped
 * now or before), -EINVAL for a non-canonical address, -ENOSPC when the
 * footprint's pages or the guest table space are used up (err says which).
 */
int scene_touch(struct scene *s, uint64_t gva, char *err, size_t errlen) HV_MUST_CHECK;

/* The GPA behind a footprint GVA, as the scene mapped it.
 * Precondition: scene_contains(s, gva). */
uint64_t scene_gpa(const struct scene *s, uint64_t gva);

/* Write the options as JSON members (object "options" of the reports). */
void scene_opts_json(struct json *j, const struct scene *s);

#endif /* HV_SCENE_H */
