/* SPDX-License-Identifier: MIT */
/*
 * hv/scene.c - build the machine that trace, walk and bench translate on:
 * back a footprint of guest memory with pool frames, map it in EPT and in
 * guest page tables, and create the MMU. See hv/scene.h for the layout.
 */
#include "hv/scene.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

const char scene_options_help[] =
	"machine (shared by trace, walk and bench):\n"
	"  --footprint SIZE     guest memory mapped at GVA 0x7f1240000000 (default 64M;\n"
	"                       K/M/G/T suffixes, at most 64G)\n"
	"  --guest-page 4K|2M|1G  page size of the guest page tables (default 4K)\n"
	"  --ept-page 4K|2M|1G  largest EPT page size (default 4K)\n"
	"  --guest-levels 4|5   guest paging levels (5 = LA57; default 4)\n"
	"  --ept-levels 4|5     EPT levels (default 4)\n"
	"  --native             no EPT: guest tables point straight at host frames\n"
	"  --vpid N             VPID tag of the translations (default 1)\n"
	"  --tlb PRESET|FILE    TLB sizes: a preset (none, skylake, ...) or a file\n"
	"                       of \"key = entries[/ways]\" lines (default skylake)\n"
	"  --pwc PRESET|FILE    paging-structure caches and nested TLB, same forms\n";

void scene_opts_default(struct scene_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->footprint = 64ULL << 20;
	o->guest_shift = PAGE_SHIFT_4K;
	o->ept_shift = PAGE_SHIFT_4K;
	o->guest_levels = 4;
	o->ept_levels = 4;
	o->vpid = 1;
}

static int parse_levels(const char *arg, unsigned *out)
{
	if (strcmp(arg, "4") == 0)
		*out = 4;
	else if (strcmp(arg, "5") == 0)
		*out = 5;
	else
		return -EINVAL;
	return 0;
}

int scene_parse_option(struct scene_opts *o, int id, const char *arg, char *err, size_t errlen)
{
	uint64_t v;

	switch (id - SCENE_OPT_BASE) {
	case 0:
		if (parse_size(arg, &v) != 0 || v == 0) {
			snprintf(err, errlen, "--footprint: expected a size such as 64M or 1G, got '%s'", arg);
			return -EINVAL;
		}
		if (v > SCENE_MAX_FOOTPRINT) {
			snprintf(err, errlen, "--footprint: at most 64G, got '%s'", arg);
			return -EINVAL;
		}
		o->footprint = v;
		return 0;
	case 1:
	case 2:
		if (parse_page_shift(arg, id == SCENE_OPT_BASE + 1 ? &o->guest_shift : &o->ept_shift)) {
			snprintf(err, errlen, "--%s: expected 4K, 2M or 1G, got '%s'",
				 id == SCENE_OPT_BASE + 1 ? "guest-page" : "ept-page", arg);
			return -EINVAL;
		}
		return 0;
	case 3:
	case 4:
		if (parse_levels(arg, id == SCENE_OPT_BASE + 3 ? &o->guest_levels : &o->ept_levels)) {
			snprintf(err, errlen, "--%s: expected 4 or 5, got '%s'",
				 id == SCENE_OPT_BASE + 3 ? "guest-levels" : "ept-levels", arg);
			return -EINVAL;
		}
		return 0;
	case 5:
		o->native = true;
		return 0;
	case 6:
		/* VMX reserves VPID 0 for the host; 16 bits (SDM 25.6.12). */
		if (parse_u64(arg, &v) != 0 || v == 0 || v > 0xffff) {
			snprintf(err, errlen, "--vpid: expected 1..65535, got '%s'", arg);
			return -EINVAL;
		}
		o->vpid = (uint16_t)v;
		return 0;
	case 7:
		o->tlb = arg;
		return 0;
	case 8:
		o->pwc = arg;
		return 0;
	}
	snprintf(err, errlen, "internal: option id %d is not a machine option", id);
	return -EINVAL;
}

/* Guest table pages set aside for first-touch mappings outside the footprint's
 * own range (8 MiB: thousands of scattered 4 KiB pages). */
#define SCENE_TOUCH_TABLES 2048

static uint64_t round_up(uint64_t v, uint64_t align)
{
	return (v + align - 1) & ~(align - 1);
}

/* Guest table pages a footprint needs at most: at each level from the leaf
 * up, one table per span that level covers, plus one for misalignment. */
static uint64_t table_pages_needed(uint64_t footprint, unsigned levels, unsigned leaf_shift)
{
	uint64_t pages = 0;

	for (unsigned l = 1; l <= levels; l++) {
		unsigned span_shift = PAGE_SHIFT_4K + 9 * l; /* bytes one level-l table maps */

		if (PAGE_SHIFT_4K + 9 * (l - 1) < leaf_shift)
			continue; /* no tables below the leaf level */
		pages += (span_shift >= 64 ? 0 : footprint >> span_shift) + 1 + 1;
	}
	return pages;
}

/*
 * Allocate [gpa, gpa+len) in runs of `run` bytes and map each run in EPT with
 * pages up to the --ept-page size. hpas (may be NULL) receives each run's HPA.
 */
static int back_range(struct scene *s, uint64_t gpa, uint64_t len, uint64_t run, uint64_t *hpas,
		      char *err, size_t errlen)
{
	const uint64_t attrs = EPT_RWX | ((uint64_t)EPT_MT_WB << EPT_MT_SHIFT);
	uint64_t n = len / run;
	int rc;

	for (uint64_t i = 0; i < n; i++) {
		uint64_t hpa;

		rc = hpool_alloc(s->pool, run, FRAME_GUEST, &hpa);
		if (rc) {
			snprintf(err, errlen, "cannot allocate guest memory: %s", strerror(-rc));
			return rc;
		}
		if (hpas)
			hpas[i] = hpa;
		if (s->ept == NULL)
			continue;
		rc = ept_map(s->ept, gpa + i * run, hpa, run, attrs, 1ULL << s->o.ept_shift);
		if (rc) {
			snprintf(err, errlen, "ept_map of GPA 0x%" PRIx64 ": %s", gpa + i * run,
				 strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static int build(struct scene *s, char *err, size_t errlen)
{
	const struct scene_opts *o = &s->o;
	uint64_t gpage = 1ULL << o->guest_shift;
	uint64_t epage = o->native ? PAGE_SIZE_4K : 1ULL << o->ept_shift;
	uint64_t unit = gpage > epage ? gpage : epage;
	uint64_t table_run, pool_size;
	int rc;

	s->footprint = round_up(o->footprint, unit);
	/* Fewer, larger runs when the footprint allows: the EPT page size still
	 * decides how they are mapped. */
	s->chunk = unit;
	if (unit < PAGE_SIZE_2M && s->footprint % PAGE_SIZE_2M == 0)
		s->chunk = PAGE_SIZE_2M;
	s->nchunks = s->footprint / s->chunk;
	s->chunk_hpa = calloc(s->nchunks, sizeof(uint64_t));
	if (s->chunk_hpa == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}

	/*
	 * The table region is a whole number of EPT pages so that a walk to a
	 * guest table costs as many EPT references as a walk to data: that is
	 * what makes 2M/2M walks 15 references and 4K-over-1G walks 14.
	 */
	s->table_len = table_pages_needed(s->footprint, o->guest_levels, o->guest_shift) *
		       PAGE_SIZE_4K;
	/* Pages touched anywhere need tables of their own at every level; a
	 * program's pages sit in a few clusters, so a fixed allowance does. */
	if (o->first_touch)
		s->table_len += SCENE_TOUCH_TABLES * PAGE_SIZE_4K;
	table_run = epage > PAGE_SIZE_2M ? epage : PAGE_SIZE_2M;
	if (o->native && s->table_len > PAGE_SIZE_2M)
		table_run = PAGE_SIZE_1G; /* natively the region must be one run */
	s->table_len = round_up(s->table_len, table_run);

	pool_size = s->footprint + s->table_len + s->footprint / 256 + (8ULL << 30);
	rc = hpool_create(pool_size, &s->pool);
	if (rc) {
		snprintf(err, errlen, "cannot reserve %" PRIu64 " MiB of host-physical space: %s",
			 pool_size >> 20, strerror(-rc));
		return rc;
	}
	if (!o->native) {
		struct ept_caps caps = { .exec_only = true, .page_1g = true, .mbec = false };

		rc = ept_create(s->pool, o->ept_levels, true, &caps, &s->ept);
		if (rc) {
			snprintf(err, errlen, "ept_create: %s", strerror(-rc));
			return rc;
		}
	}

	if (o->native) {
		uint64_t hpa;

		rc = back_range(s, 0, s->table_len, s->table_len, &hpa, err, errlen);
		if (rc)
			return rc;
		s->table_gpa = hpa;
	} else {
		s->table_gpa = SCENE_TABLE_GPA;
		rc = back_range(s, s->table_gpa, s->table_len, table_run, NULL, err, errlen);
		if (rc)
			return rc;
	}
	rc = gpt_builder_create(s->pool, s->ept, o->guest_levels, s->table_gpa, s->table_len,
				&s->gpt);
	if (rc) {
		snprintf(err, errlen, "gpt_builder_create: %s", strerror(-rc));
		return rc;
	}

	rc = back_range(s, SCENE_DATA_GPA, s->footprint, s->chunk, s->chunk_hpa, err, errlen);
	if (rc)
		return rc;
	/* Writable, user-accessible, executable: the walk itself decides nothing
	 * here, so --cpl 3 and fetches translate too. */
	if (o->first_touch) {
		rc = 0; /* scene_touch maps pages as they are used */
	} else if (o->native) {
		for (uint64_t i = 0; i < s->nchunks; i++) {
			rc = gpt_map(s->gpt, SCENE_GVA_BASE + i * s->chunk, s->chunk_hpa[i], s->chunk,
				     PTE_W | PTE_U, o->guest_shift);
			if (rc)
				break;
		}
	} else {
		rc = gpt_map(s->gpt, SCENE_GVA_BASE, SCENE_DATA_GPA, s->footprint, PTE_W | PTE_U,
			     o->guest_shift);
	}
	if (rc) {
		snprintf(err, errlen, "gpt_map: %s", strerror(-rc));
		return rc;
	}

	rc = cli_mmu_config(o->tlb, o->pwc, &s->cfg, err, errlen);
	if (rc)
		return rc;
	rc = mmu_create(s->pool, &s->cfg, &s->mmu);
	if (rc) {
		snprintf(err, errlen, "mmu_create: %s", strerror(-rc));
		return rc;
	}

	s->ctx.cr0 = CR0_PE | CR0_PG | CR0_WP;
	s->ctx.cr4 = CR4_PAE | (o->guest_levels == 5 ? CR4_LA57 : 0);
	s->ctx.efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
	s->ctx.cr3 = gpt_builder_cr3(s->gpt);
	s->ctx.cpl = 0;
	s->ctx.vpid = o->vpid;
	s->ctx.ept = s->ept;
	return 0;
}

int scene_create(const struct scene_opts *o, struct scene **out, char *err, size_t errlen)
{
	struct scene *s;
	int rc;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->o = *o;
	rc = build(s, err, errlen);
	if (rc) {
		scene_destroy(s);
		return rc;
	}
	*out = s;
	return 0;
}

void scene_destroy(struct scene *s)
{
	if (s == NULL)
		return;
	/* Everything lives in the pool: destroying it frees the frames too. */
	if (s->mmu)
		mmu_destroy(s->mmu);
	if (s->gpt)
		gpt_builder_destroy(s->gpt);
	if (s->ept)
		ept_destroy(s->ept);
	if (s->pool)
		hpool_destroy(s->pool);
	free(s->chunk_hpa);
	free(s->touched);
	free(s);
}

static uint64_t touch_slot(const uint64_t *set, uint64_t cap, uint64_t key)
{
	uint64_t i = (key * 0x9e3779b97f4a7c15ULL) & (cap - 1);

	while (set[i] != 0 && set[i] != key)
		i = (i + 1) & (cap - 1);
	return i;
}

/* Make room for one more page in the set (load factor at most 1/2). */
static int touch_grow(struct scene *s)
{
	uint64_t cap = s->touched_cap ? s->touched_cap * 2 : 1024, *set;

	if ((s->ntouched + 1) * 2 <= s->touched_cap)
		return 0;
	set = calloc(cap, sizeof(*set));
	if (set == NULL)
		return -ENOMEM;
	for (uint64_t i = 0; i < s->touched_cap; i++)
		if (s->touched[i])
			set[touch_slot(set, cap, s->touched[i])] = s->touched[i];
	free(s->touched);
	s->touched = set;
	s->touched_cap = cap;
	return 0;
}

int scene_touch(struct scene *s, uint64_t gva, char *err, size_t errlen)
{
	unsigned va_bits = s->o.guest_levels == 5 ? 57 : 48;
	uint64_t gpage = 1ULL << s->o.guest_shift, key, slot, off, target;
	int64_t top = (int64_t)gva >> (va_bits - 1);
	int rc;

	if (top != 0 && top != -1) {
		snprintf(err, errlen, "address 0x%" PRIx64 " is not canonical for %u-level paging "
			 "(bits 63:%u must equal bit %u)", gva, s->o.guest_levels, va_bits - 1,
			 va_bits - 1);
		return -EINVAL;
	}
	key = (gva >> s->o.guest_shift) + 1;
	if (s->touched_cap && s->touched[touch_slot(s->touched, s->touched_cap, key)] == key)
		return 0;
	off = s->ntouched * gpage;
	if (off >= s->footprint) {
		char fp[32];

		snprintf(err, errlen, "more than %" PRIu64 " pages touched: the footprint (%s) is "
			 "used up; raise --footprint", s->ntouched,
			 format_size(s->footprint, fp, sizeof(fp)));
		return -ENOSPC;
	}
	if (touch_grow(s) != 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	target = s->o.native ? s->chunk_hpa[off / s->chunk] + off % s->chunk : SCENE_DATA_GPA + off;
	rc = gpt_map(s->gpt, gva & ~(gpage - 1), target, gpage, PTE_W | PTE_U, s->o.guest_shift);
	if (rc) {
		snprintf(err, errlen, "cannot map GVA 0x%" PRIx64 " (%s): %" PRIu64 " pages touched "
			 "need more guest tables than hv sets aside", gva, strerror(-rc), s->ntouched);
		return rc == -ENOMEM ? -ENOSPC : rc;
	}
	slot = touch_slot(s->touched, s->touched_cap, key);
	s->touched[slot] = key;
	s->ntouched++;
	return 0;
}

void scene_shape(const struct scene *s, struct report_shape *shape)
{
	shape->guest_levels = s->o.guest_levels;
	shape->ept_levels = s->o.native ? 0 : s->o.ept_levels;
	shape->guest_page_shift = s->o.guest_shift;
	shape->ept_page_shift = s->o.native ? 0 : s->o.ept_shift;
}

uint64_t scene_gpa(const struct scene *s, uint64_t gva)
{
	uint64_t off = gva - SCENE_GVA_BASE;

	if (s->ept != NULL)
		return SCENE_DATA_GPA + off;
	return s->chunk_hpa[off / s->chunk] + off % s->chunk;
}

static const char *size_name(unsigned shift)
{
	return shift == PAGE_SHIFT_1G ? "1G" : shift == PAGE_SHIFT_2M ? "2M" : "4K";
}

void scene_opts_json(struct json *j, const struct scene *s)
{
	json_u64(j, "footprint", s->footprint);
	json_str(j, "guest_page", size_name(s->o.guest_shift));
	json_str(j, "ept_page", s->o.native ? NULL : size_name(s->o.ept_shift));
	json_u64(j, "guest_levels", s->o.guest_levels);
	json_u64(j, "ept_levels", s->o.native ? 0 : s->o.ept_levels);
	json_bool(j, "native", s->o.native);
	json_u64(j, "vpid", s->o.vpid);
	json_str(j, "tlb", s->o.tlb ? s->o.tlb : "skylake");
	json_str(j, "pwc", s->o.pwc ? s->o.pwc : "skylake");
}
