/* SPDX-License-Identifier: MIT */
/*
 * ept/presets.c - TLB and paging-structure-cache geometries, by name or from
 * the text of a small configuration file (the front end reads the file).
 *
 * TLB sizes are the vendors' published figures (Intel optimization manual,
 * AMD software optimization guides; see docs/translation.md). Neither vendor
 * publishes the sizes of the per-level paging-structure caches, the
 * guest-physical caches or a separate nested TLB: those below are modest,
 * documented defaults, the same for every preset of a vendor, and every one
 * can be overridden from a file.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ept/mmu_int.h"

static const char *const struct_names[MMU_NSTRUCT] = {
	[TLB_L1I_4K] = "l1i_4k",
	[TLB_L1I_2M] = "l1i_2m",
	[TLB_L1D_4K] = "l1d_4k",
	[TLB_L1D_2M] = "l1d_2m",
	[TLB_L1D_1G] = "l1d_1g",
	[TLB_L2_4K2M] = "l2_4k2m",
	[TLB_L2_1G] = "l2_1g",
	[PWC_PML5] = "pml5_cache",
	[PWC_PML4] = "pml4_cache",
	[PWC_PDPTE] = "pdpte_cache",
	[PWC_PDE] = "pde_cache",
	[PWC_GP_PML4] = "gp_pml4_cache",
	[PWC_GP_PDPTE] = "gp_pdpte_cache",
	[PWC_GP_PDE] = "gp_pde_cache",
	[NESTED_TLB] = "nested_tlb",
};

const char *mmu_struct_name(enum tlb_id id)
{
	return (unsigned)id < MMU_NSTRUCT ? struct_names[id] : "?";
}

static const char *const preset_names[] = {
	"none", "skylake", "goldencove", "zen2", "zen4", "perfect", NULL,
};

const char *const *mmu_preset_names(void) { return preset_names; }

/*
 * Paging-structure caches and guest-physical structures. Neither Intel nor
 * AMD publishes their sizes; these defaults are hv's own (docs/translation.md):
 * MMU_INTEL_PWC and MMU_AMD_PWC in ept/mmu_int.h, beside the presets' TLB
 * geometries, which the MMU's miss path is also compiled for.
 */

/* Geometry as { entries, ways }; a structure left out is disabled. */
static const struct preset {
	const char *name;
	struct cache_geom geom[MMU_NSTRUCT];
	bool perfect;   /* every structure unbounded: the reference experiments */
} presets[] = {
	/* Everything disabled: every translation walks (native/2D reference counts). */
	{ .name = "none" },
	/* Published TLB sizes (translation-facts.md §4). */
	{ .name = "skylake", .geom = MMU_SKYLAKE_GEOM },
	{ .name = "goldencove", .geom = MMU_GOLDENCOVE_GEOM },
	{ .name = "zen2", .geom = MMU_ZEN2_GEOM },
	{ .name = "zen4", .geom = MMU_ZEN4_GEOM },
	{ .name = "perfect", .perfect = true },
};

int mmu_config_preset(const char *name, struct mmu_config *out)
{
	for (size_t p = 0; p < sizeof(presets) / sizeof(presets[0]); p++) {
		if (strcmp(name, presets[p].name) != 0)
			continue;
		memset(out, 0, sizeof(*out));
		snprintf(out->name, sizeof(out->name), "%s", name);
		for (unsigned i = 0; i < MMU_NSTRUCT; i++) {
			out->geom[i] = presets[p].geom[i];
			out->perfect[i] = presets[p].perfect;
		}
		return 0;
	}
	return -ENOENT;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int parse_uint(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (*end)
		return -EINVAL;
	if (errno || v > MMU_MAX_ENTRIES)
		return -ERANGE;
	*out = (unsigned)v;
	return 0;
}

/*
 * One "key = value" line. Values: "perfect", "0" (disabled), "N" (fully
 * associative) or "N/W" (W ways). Keys: the structure names, plus
 * "base = <preset>" to start from a preset and "name = <text>".
 */
static int parse_line(char *line, struct mmu_config *c, bool first, const char **why)
{
	char *eq = strchr(line, '='), *key, *val, *slash;
	unsigned entries, ways, i;

	if (!eq) {
		*why = "expected 'key = value'";
		return -EINVAL;
	}
	*eq = '\0';
	key = trim(line);
	val = trim(eq + 1);
	if (!strcmp(key, "base")) {
		/* A preset replaces the whole configuration: after other
		 * lines it would silently discard them. */
		if (!first) {
			*why = "'base =' must be the first setting (it replaces everything before it)";
			return -EINVAL;
		}
		if (mmu_config_preset(val, c)) {
			*why = "unknown preset";
			return -EINVAL;
		}
		return 0;
	}
	if (!strcmp(key, "name")) {
		if (strlen(val) >= sizeof(c->name)) {
			*why = "name too long";
			return -EINVAL;
		}
		snprintf(c->name, sizeof(c->name), "%s", val);
		return 0;
	}
	for (i = 0; i < MMU_NSTRUCT; i++)
		if (!strcmp(key, struct_names[i]))
			break;
	if (i == MMU_NSTRUCT) {
		*why = "unknown structure name";
		return -EINVAL;
	}
	if (!strcmp(val, "perfect")) {
		c->perfect[i] = true;
		c->geom[i].entries = 0;
		c->geom[i].ways = 0;
		return 0;
	}
	slash = strchr(val, '/');
	if (slash)
		*slash = '\0';
	switch (parse_uint(trim(val), &entries)) {
	case 0:
		break;
	case -ERANGE:
		*why = "too many entries (at most 4194304; 'perfect' for an unbounded structure)";
		return -EINVAL;
	default:
		*why = "entries must be a number, '0' or 'perfect'";
		return -EINVAL;
	}
	ways = entries;
	if (slash && parse_uint(trim(slash + 1), &ways)) {
		*why = "ways must be a number";
		return -EINVAL;
	}
	if (entries && ways > MMU_MAX_WAYS) {
		*why = "at most 1024 ways: a set is searched entry by entry (write entries/ways, "
		       "or 'perfect' for an unbounded structure)";
		return -EINVAL;
	}
	if (entries && (ways == 0 || entries % ways)) {
		*why = "entries must be a multiple of ways";
		return -EINVAL;
	}
	c->perfect[i] = false;
	c->geom[i].entries = entries;
	c->geom[i].ways = entries ? ways : 0;
	return 0;
}

int mmu_config_parse(const char *name, const char *text, size_t len, struct mmu_config *out,
		     char *err, size_t errlen)
{
	struct mmu_config c;
	char line[256];
	unsigned lineno = 0;
	const char *base, *why = NULL, *p = text, *end = text + len;
	bool seen = false;
	int rc = 0;

	memset(&c, 0, sizeof(c));
	base = strrchr(name, '/');
	snprintf(c.name, sizeof(c.name), "%s", base ? base + 1 : name);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		char *s, *hash, *cr;

		lineno++;
		if (n >= sizeof(line) - 1) {
			why = "line too long";
			rc = -EINVAL;
			break;
		}
		if (memchr(p, '\0', n)) {
			why = "NUL byte in a line";
			rc = -EINVAL;
			break;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p = nl ? nl + 1 : end;
		cr = strchr(line, '\r');
		if (cr != NULL && cr[1] != '\0') {
			why = "carriage return without a line feed: lines must end in LF or CR LF";
			rc = -EINVAL;
			break;
		}
		/* A UTF-8 byte-order mark, as some editors write, is not content. */
		if (lineno == 1 && memcmp(line, "\xef\xbb\xbf", 3) == 0)
			memmove(line, line + 3, strlen(line + 3) + 1);
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		s = trim(line);
		if (!*s)
			continue;
		rc = parse_line(s, &c, !seen, &why);
		if (rc)
			break;
		seen = true;
	}
	if (rc) {
		snprintf(err, errlen, "%s:%u: %s", name, lineno, why);
		return rc;
	}
	*out = c;
	return 0;
}
