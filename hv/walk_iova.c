/* SPDX-License-Identifier: MIT */
/*
 * hv/walk_iova.c - `hv walk --iova IOVA`: explain one DMA address through a
 * VT-d unit entry by entry: the root entry (by bus), the context entry (by
 * devfn), each second-level entry, then the host-physical address or the
 * fault and the fault recording register it would fill.
 *
 * The machine: a frame pool, hv's VT-d model (iommu/) programmed through its
 * registers like a driver does (root table, SRTP, TE), one domain for the
 * chosen source id whose second-level tables map IOVA [0, footprint) to
 * frames with pages of the chosen size. iommu_explain() reads the tables
 * without the caches, so the walk is always shown in full.
 *
 * With --guest the unit is a guest's (a vIOMMU, as under hv run --edu): the
 * root, context and second-level tables are in guest-physical memory and the
 * unit's output is a GPA, so every address the unit reads and the output go
 * through EPT (4 levels, 4 KiB pages): the device-side 2D walk. Tables sit
 * from GPA GUEST_TABLES on, the mapped IOVAs at GPA GUEST_DATA + IOVA.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hv/cli.h"
#include "hv/cliutil.h"
#include "iommu/iommu.h"

#define IOVA_DOMAIN 1
#define IOVA_DEVICE 0x18   /* the one device with a context entry: 00:03.0 */
#define GUEST_TABLES 0x1000ULL
#define GUEST_DATA   (1ULL << 30)
#define S2_LOG_MAX   32   /* stage-2 lookups of one explanation: 2 x 4 + 5 + 1 at most */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hv walk --iova [options] IOVA\n"
		"\n"
		"Translate one DMA address (hex, with or without 0x) through hv's VT-d model\n"
		"and explain every entry read: the root entry for the requester's bus, its\n"
		"context entry, each second-level entry, and the host-physical address, or\n"
		"the fault reason and the fault recording register the unit would fill.\n"
		"Bus 0 has a context table in which only 00:03.0 has an entry: domain 1,\n"
		"mapping IOVA 0 to the footprint read/write.\n"
		"\n"
		"options:\n"
		"  --sid BB:DD.F        requester (default 00:03.0, edu under hv run --edu)\n"
		"  --access R|W         DMA read or DMA write (default R)\n"
		"  --levels 3|4         second-level tables: 39-bit 3-level or 48-bit\n"
		"                       4-level (default 4)\n"
		"  --page 4K|2M|1G      page size of the mapping (default 4K)\n"
		"  --footprint SIZE     IOVA space mapped (default 64M, at most 4G)\n"
		"  --perms r|w|rw|-     permissions of the leaf that maps IOVA (default rw)\n"
		"  --guest              the unit is a guest's: its tables and output are\n"
		"                       guest-physical, each address translated by EPT\n"
		"                       (4 levels, 4 KiB pages), as for hv run --edu\n"
		"  --json               one JSON object on stdout\n"
		"\n"
		"examples:\n"
		"  hv walk --iova 0x1234                  4 second-level references\n"
		"  hv walk --iova --levels 3 --page 2M 0x201234   2 references\n"
		"  hv walk --iova --page 1G 0x1234        1 GiB page: 2 references\n"
		"  hv walk --iova --perms r --access W 0x1234     fault reason 5\n"
		"  hv walk --iova --sid 00:04.0 0x1234    no context entry: reason 2\n"
		"  hv walk --iova 0x10000000              not mapped: reason 6\n"
		"  hv walk --iova --levels 3 0x8000000000 beyond 39 bits: reason 4\n"
		"  hv walk --iova --guest 0x1234          2 stages: 4 + 5 x 4 = 24 references\n");
}

enum {
	OPT_IOVA = 1, OPT_SID, OPT_ACCESS, OPT_LEVELS, OPT_PAGE, OPT_FOOTPRINT, OPT_PERMS,
	OPT_GUEST, OPT_JSON, OPT_HELP,
};

static const struct option longopts[] = {
	{ "iova", no_argument, NULL, OPT_IOVA },
	{ "sid", required_argument, NULL, OPT_SID },
	{ "access", required_argument, NULL, OPT_ACCESS },
	{ "levels", required_argument, NULL, OPT_LEVELS },
	{ "page", required_argument, NULL, OPT_PAGE },
	{ "footprint", required_argument, NULL, OPT_FOOTPRINT },
	{ "perms", required_argument, NULL, OPT_PERMS },
	{ "guest", no_argument, NULL, OPT_GUEST },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

struct iova_opts {
	unsigned sid, levels, page_shift;
	uint64_t footprint, perms, iova;
	bool write, json, guest;
};

/* "bb:dd.f" -> bus << 8 | dev << 3 | fn. */
static int parse_sid(const char *s, unsigned *out)
{
	unsigned bus, dev, fn;
	char end;

	if (sscanf(s, "%2x:%2x.%1u%c", &bus, &dev, &fn, &end) != 3 || dev > 31 || fn > 7)
		return -EINVAL;
	*out = bus << 8 | dev << 3 | fn;
	return 0;
}

static int parse_iova(const char *s, uint64_t *out)
{
	const char *digits = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? s + 2 : s;
	char *end;

	if (!*digits || strlen(digits) > 16 || strspn(digits, "0123456789abcdefABCDEF") != strlen(digits))
		return -EINVAL;
	errno = 0;
	*out = strtoull(digits, &end, 16);
	return errno ? -EINVAL : 0;
}

static int parse(int argc, char **argv, struct iova_opts *o, int *status)
{
	int opt;

	*o = (struct iova_opts){ .sid = 0x18, .levels = 4, .page_shift = PAGE_SHIFT_4K,
				 .footprint = 64ULL << 20, .perms = VTD_SL_R | VTD_SL_W };
	optind = 0;
	while ((opt = cli_getopt("walk", argc, argv, longopts, status)) > 0) {
		switch (opt) {
		case OPT_IOVA:
			break;
		case OPT_SID:
			if (parse_sid(optarg, &o->sid))
				return cli_usage_error("walk", "--sid: expected BB:DD.F such as 00:03.0, got '%s'", optarg);
			break;
		case OPT_ACCESS:
			if (strcmp(optarg, "R") && strcmp(optarg, "r") && strcmp(optarg, "W") && strcmp(optarg, "w"))
				return cli_usage_error("walk", "--access: expected R or W for a DMA, got '%s'", optarg);
			o->write = optarg[0] == 'W' || optarg[0] == 'w';
			break;
		case OPT_LEVELS:
			if (strcmp(optarg, "3") && strcmp(optarg, "4"))
				return cli_usage_error("walk", "--levels: expected 3 or 4, got '%s'", optarg);
			o->levels = (unsigned)(optarg[0] - '0');
			break;
		case OPT_PAGE:
			if (parse_page_shift(optarg, &o->page_shift))
				return cli_usage_error("walk", "--page: expected 4K, 2M or 1G, got '%s'", optarg);
			break;
		case OPT_FOOTPRINT:
			if (parse_size(optarg, &o->footprint) || o->footprint == 0 ||
			    o->footprint > (4ULL << 30))
				return cli_usage_error("walk", "--footprint: expected a size up to 4G, got '%s'", optarg);
			break;
		case OPT_PERMS:
			if (!strcmp(optarg, "rw"))
				o->perms = VTD_SL_R | VTD_SL_W;
			else if (!strcmp(optarg, "r"))
				o->perms = VTD_SL_R;
			else if (!strcmp(optarg, "w"))
				o->perms = VTD_SL_W;
			else if (!strcmp(optarg, "-"))
				o->perms = 0;
			else
				return cli_usage_error("walk", "--perms: expected r, w, rw or -, got '%s'", optarg);
			break;
		case OPT_GUEST:
			o->guest = true;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_HELP:
			usage(stdout);
			return 0;
		}
	}
	if (*status)
		return *status;
	if (optind >= argc)
		return cli_usage_error("walk", "--iova: expected a DMA address such as 0x1234 (see hv walk --iova --help)");
	if (optind + 1 < argc)
		return cli_usage_error("walk", "expected one address, got '%s' and '%s'", argv[optind], argv[optind + 1]);
	if (parse_iova(argv[optind], &o->iova))
		return cli_usage_error("walk", "expected a hexadecimal IOVA, got '%s'", argv[optind]);
	o->footprint = (o->footprint + (1ULL << o->page_shift) - 1) & ~((1ULL << o->page_shift) - 1);
	return -1;
}

/* ------------------------------------------------------------------------ */
/* The machine                                                              */
/* ------------------------------------------------------------------------ */

/* One stage-2 (EPT) translation the guest's unit asked for. */
struct s2_lookup {
	uint64_t gpa, hpa;
	unsigned refs;
};

/*
 * ept, tables_end, next_table, log: --guest only. The unit's addresses are
 * then GPAs: tables come from [GUEST_TABLES, tables_end), and log[] holds
 * every EPT translation the unit made, in order.
 */
struct iova_machine {
	struct hpool *pool;
	struct iommu *m;
	uint64_t root;
	struct ept *ept;
	uint64_t tables_end, next_table;
	struct s2_lookup log[S2_LOG_MAX];
	unsigned nlog;
};

static int table(struct iova_machine *x, uint64_t *out)
{
	if (!x->ept)
		return hpool_alloc(x->pool, PAGE_SIZE_4K, FRAME_HV, out);
	if (x->next_table >= x->tables_end)
		return -ENOSPC;
	*out = x->next_table;
	x->next_table += PAGE_SIZE_4K;
	return 0;
}

/* The unit's address space: HPAs, or with --guest GPAs mapped by EPT. */
static uint64_t *entry(struct iova_machine *x, uint64_t addr)
{
	uint64_t hpa = addr, perms;
	unsigned shift;

	if (x->ept && ept_lookup(x->ept, addr, &hpa, &shift, &perms))
		return NULL;
	return hpool_ptr(x->pool, hpa);
}

static int put64(struct iova_machine *x, uint64_t addr, uint64_t v)
{
	uint64_t *e = entry(x, addr);

	if (!e)
		return -EFAULT;
	*e = v;
	return 0;
}

/* The guest unit's second stage: an EPT walk, logged for the display. */
static int s2_translate(void *ctx, uint64_t gpa, bool write, uint64_t *hpa, unsigned *refs)
{
	struct iova_machine *x = ctx;
	struct ept_access acc = { .type = write ? ACC_WRITE : ACC_READ };
	struct ept_walk_result res;

	if (ept_walk(x->ept, gpa, &acc, NULL, &res) != 0)
		return -EFAULT;
	*refs += res.refs;
	if (x->nlog < S2_LOG_MAX)
		x->log[x->nlog++] = (struct s2_lookup){ gpa, res.hpa, res.refs };
	if (res.status != EPT_OK)
		return -EFAULT;
	*hpa = res.hpa;
	return 0;
}

/* The first logged EPT translation of gpa (NULL: none). */
static const struct s2_lookup *s2_find(const struct iova_machine *x, uint64_t gpa)
{
	for (unsigned i = 0; i < x->nlog; i++)
		if (x->log[i].gpa == gpa)
			return &x->log[i];
	return NULL;
}

/* The EPT references of the unit's reads of `quads` quadwords at gpa. */
static unsigned s2_refs(const struct iova_machine *x, uint64_t gpa, unsigned quads)
{
	unsigned refs = 0;

	for (unsigned q = 0; q < quads; q++) {
		const struct s2_lookup *l = s2_find(x, gpa + 8 * q);

		refs += l ? l->refs : 0;
	}
	return refs;
}

/* Guest RAM for --guest: [0, tables_end) for the tables and
 * [GUEST_DATA, GUEST_DATA + footprint) for the pages IOVAs map, each 2 MiB
 * of it a run of host frames mapped with 4 KiB EPT pages. */
static int guest_ram(struct iova_machine *x, uint64_t footprint)
{
	struct ept_caps caps = { .page_1g = true };
	uint64_t pages = 8 + footprint / PAGE_SIZE_2M + footprint / PAGE_SIZE_1G;
	uint64_t spans[2][2] = { { 0, (pages * PAGE_SIZE_4K + PAGE_SIZE_2M - 1) & ~(PAGE_SIZE_2M - 1) },
				 { GUEST_DATA, (footprint + PAGE_SIZE_2M - 1) & ~(PAGE_SIZE_2M - 1) } };
	int rc = ept_create(x->pool, 4, false, &caps, &x->ept);

	x->next_table = GUEST_TABLES;
	x->tables_end = spans[0][1];
	for (unsigned i = 0; i < 2 && !rc; i++) {
		for (uint64_t off = 0; off < spans[i][1] && !rc; off += PAGE_SIZE_2M) {
			uint64_t hpa;

			rc = hpool_alloc(x->pool, PAGE_SIZE_2M, FRAME_GUEST, &hpa);
			if (!rc)
				rc = ept_map(x->ept, spans[i][0] + off, hpa, PAGE_SIZE_2M,
					     EPT_RWX | (uint64_t)EPT_MT_WB << EPT_MT_SHIFT, PAGE_SIZE_4K);
		}
	}
	return rc;
}

/* The table at `level` below `parent`'s entry for iova, made on first use. */
static int descend(struct iova_machine *x, uint64_t parent, unsigned level, uint64_t iova,
		   uint64_t *child)
{
	uint64_t slot = parent + ((iova >> (12 + 9 * level)) & 511) * 8, *e = entry(x, slot);
	int rc;

	if (!e)
		return -EFAULT;
	if (*e & (VTD_SL_R | VTD_SL_W)) {
		*child = *e & VTD_SL_ADDR_MASK;
		return 0;
	}
	rc = table(x, child);
	if (!rc)
		*e = *child | VTD_SL_R | VTD_SL_W;
	return rc;
}

/* One domain for 00:03.0 (bus 0's only root entry) mapping [0, footprint) with o->page_shift pages;
 * the leaf of o->iova gets o->perms. Then SRTP and TE through the registers. */
static int build(struct iova_machine *x, const struct iova_opts *o)
{
	struct iommu_config cfg;
	uint64_t ctx, top;
	uint64_t page = 1ULL << o->page_shift;
	unsigned leaf_level = (o->page_shift - 12) / 9 + 1;
	int rc;

	iommu_config_default(&cfg);
	/* Sparse: room for the pages, their tables and 1 GiB alignment (with
	 * --guest also the tables' 2 MiB runs and EPT's tables). */
	rc = hpool_create(o->footprint + (2ULL << 30) + (64ULL << 20), &x->pool);
	if (!rc && o->guest) {
		rc = guest_ram(x, o->footprint);
		cfg.mem = (struct iommu_mem){ .translate = s2_translate, .ctx = x };
	}
	if (rc)
		return rc;
	rc = iommu_create(x->pool, &cfg, &x->m);
	if (!rc)
		rc = table(x, &x->root);
	if (!rc)
		rc = table(x, &ctx);
	if (!rc)
		rc = table(x, &top);
	if (rc)
		return rc;
	rc = put64(x, x->root, ctx | VTD_ROOT_P);
	if (!rc)
		rc = put64(x, ctx + IOVA_DEVICE * 16, top | VTD_CTX_P);
	if (!rc)
		rc = put64(x, ctx + IOVA_DEVICE * 16 + 8,
			   (o->levels == 3 ? 1 : 2) | (uint64_t)IOVA_DOMAIN << VTD_CTX_DID_SHIFT);
	for (uint64_t iova = 0; iova < o->footprint; iova += page) {
		uint64_t t = top, perms = VTD_SL_R | VTD_SL_W, frame = 0;

		for (unsigned l = o->levels; l > leaf_level && !rc; l--)
			rc = descend(x, t, l - 1, iova, &t);
		if (!rc && o->guest)
			frame = GUEST_DATA + iova;
		else if (!rc)
			rc = hpool_alloc(x->pool, page, FRAME_GUEST, &frame);
		if (!rc && iova >> o->page_shift == o->iova >> o->page_shift)
			perms = o->perms;
		if (!rc)
			rc = put64(x, t + ((iova >> o->page_shift) & 511) * 8,
				   frame | perms | (leaf_level > 1 ? VTD_SL_PS : 0));
		if (rc)
			return rc;
	}
	iommu_reg_write(x->m, VTD_RTADDR_REG, 8, x->root);
	iommu_reg_write(x->m, VTD_GCMD_REG, 4, VTD_GCMD_SRTP);
	iommu_reg_write(x->m, VTD_GCMD_REG, 4, VTD_GCMD_TE);
	return 0;
}

static void machine_free(struct iova_machine *x)
{
	if (x->m)
		iommu_destroy(x->m);
	if (x->ept)
		ept_destroy(x->ept);
	if (x->pool)
		hpool_destroy(x->pool);
}

/* ------------------------------------------------------------------------ */
/* Output                                                                   */
/* ------------------------------------------------------------------------ */

static const char *sl_name(unsigned level)
{
	static const char *const names[] = { "", "SL-PTE", "SL-PDE", "SL-PDPE", "SL-PML4E" };

	return level <= 4 ? names[level] : "?";
}

static const char *tt_name(unsigned tt)
{
	return tt == VTD_TT_SL ? "untranslated requests through the second level" :
	       tt == VTD_TT_PT ? "pass-through" : "other";
}

/* --guest: the EPT translation(s) of the unit's read at `gpa` (`quads`
 * quadwords), on a line of their own; the references they took. */
static unsigned s2_text(const struct iova_machine *x, const char *indent, uint64_t gpa,
			unsigned quads)
{
	const struct s2_lookup *l = s2_find(x, gpa);
	unsigned refs = s2_refs(x, gpa, quads);

	if (!x->ept || !l)
		return 0;
	printf("%sEPT: GPA 0x%" PRIx64 " -> HPA 0x%" PRIx64 ", %u references%s\n", indent, gpa,
	       l->hpa, refs, quads > 1 ? " (two quadwords, a walk each)" : "");
	return refs;
}

static void print_text(const struct iova_opts *o, const struct iova_machine *x,
		       const struct iommu_trace *t)
{
	const char *at = x->ept ? "GPA" : "HPA";
	unsigned refs = 0, s2_tables = 0, s2_sl = 0, s2_out = 0;

	printf("IOVA 0x%" PRIx64 " from %02x:%02x.%u (source id 0x%04x), DMA %s\n", o->iova,
	       o->sid >> 8, (o->sid >> 3) & 31, o->sid & 7, o->sid, o->write ? "write" : "read");
	if (x->ept)
		printf("through a guest's unit: its tables and its output are GPAs, each "
		       "translated by EPT\n");
	printf("(16-byte entries as bits 127:64, then 63:0)\n");
	if (t->root_addr) {
		refs++;
		printf("  root entry    [bus 0x%02x]    at %s 0x%" PRIx64 ": 0x%016" PRIx64 " 0x%016" PRIx64 "\n",
		       o->sid >> 8, at, t->root_addr, t->root_hi, t->root_lo);
		if (t->root_lo & VTD_ROOT_P)
			printf("    present, context table at 0x%" PRIx64 "\n",
			       (uint64_t)(t->root_lo & VTD_ROOT_CTP_MASK));
		else
			printf("    not present\n");
		s2_tables += s2_text(x, "    ", t->root_addr, 2);
	}
	if (t->ctx_addr) {
		refs++;
		printf("  context entry [devfn 0x%02x]  at %s 0x%" PRIx64 ": 0x%016" PRIx64 " 0x%016" PRIx64 "\n",
		       o->sid & 0xff, at, t->ctx_addr, t->ctx_hi, t->ctx_lo);
		if (t->ctx_lo & VTD_CTX_P)
			printf("    present, TT %u (%s), AW %u, domain %u, second-level table at 0x%" PRIx64 "%s\n",
			       (unsigned)((t->ctx_lo & VTD_CTX_TT_MASK) >> VTD_CTX_TT_SHIFT),
			       tt_name((unsigned)((t->ctx_lo & VTD_CTX_TT_MASK) >> VTD_CTX_TT_SHIFT)),
			       (unsigned)(t->ctx_hi & VTD_CTX_AW_MASK),
			       (unsigned)(t->ctx_hi >> VTD_CTX_DID_SHIFT) & 0xffff,
			       (uint64_t)(t->ctx_lo & VTD_CTX_SLPTPTR_MASK),
			       t->ctx_lo & VTD_CTX_FPD ? ", FPD" : "");
		else
			printf("    not present\n");
		s2_tables += s2_text(x, "    ", t->ctx_addr, 2);
	}
	for (unsigned i = 0; t->walked && i < t->sl.n; i++) {
		const struct walk_step *r = &t->sl.ref[i];
		unsigned shift = 12 + 9 * (r->level - 1);

		printf("  %-9s[%3" PRIu64 "]       at %s 0x%" PRIx64 ": 0x%016" PRIx64 "  %c%c%s%s\n",
		       sl_name(r->level), (o->iova >> shift) & 511, at,
		       x->ept ? r->entry_addr : r->entry_hpa, r->value,
		       r->value & VTD_SL_R ? 'R' : '-', r->value & VTD_SL_W ? 'W' : '-',
		       r->value & VTD_SL_PS ? " PS" : "", r->value & VTD_SL_SNP ? " SNP" : "");
		s2_sl += s2_text(x, "    ", r->entry_addr, 1);
	}
	refs += t->walked ? t->sl.n : 0;
	if (t->reason == 0) {
		printf("result: %s 0x%" PRIx64 " (%s page), %u second-level references after the "
		       "root and context entries\n", at, t->addr,
		       t->shift == 30 ? "1G" : t->shift == 21 ? "2M" : "4K", refs - 2);
		s2_out = s2_text(x, "  ", t->addr, 1);
		if (x->ept)
			printf("2D walk: %u second-level + %u EPT references for their GPAs + %u for "
			       "the output = %u (the root and context entries: %u EPT references more)\n",
			       refs - 2, s2_sl, s2_out, refs - 2 + s2_sl + s2_out, s2_tables);
	} else {
		printf("fault: reason 0x%x (%s)\n", t->reason, iommu_fault_reason_name(t->reason));
		printf("  fault recording register: 0x%016" PRIx64 " 0x%016" PRIx64 "\n", t->frcd_hi,
		       t->frcd_lo);
		printf("    F=1, T=%u (%s), reason 0x%x, source id 0x%04x, page 0x%" PRIx64 "\n",
		       (unsigned)(t->frcd_hi >> 62) & 1, o->write ? "write" : "read", t->reason, o->sid,
		       t->frcd_lo);
	}
}

/* --guest: a read's GPA, the HPA EPT gave and the EPT references (of both
 * quadwords for a 16-byte entry). */
static void s2_json(struct json *j, const struct iova_machine *x, uint64_t gpa, unsigned quads)
{
	const struct s2_lookup *l = s2_find(x, gpa);

	if (!x->ept)
		return;
	json_u64(j, "gpa", gpa);
	json_u64(j, "ept_hpa", l ? l->hpa : 0);
	json_u64(j, "ept_refs", s2_refs(x, gpa, quads));
}

static void print_json(const struct iova_opts *o, const struct iova_machine *x,
		       const struct iommu_trace *t)
{
	struct json j;
	char buf[16];

	json_begin(&j, stdout);
	json_u64(&j, "iova", o->iova);
	snprintf(buf, sizeof(buf), "%02x:%02x.%u", o->sid >> 8, (o->sid >> 3) & 31, o->sid & 7);
	json_str(&j, "source", buf);
	json_u64(&j, "sid", o->sid);
	json_str(&j, "access", o->write ? "write" : "read");
	json_u64(&j, "levels", o->levels);
	json_bool(&j, "guest", o->guest);
	if (t->root_addr) {
		json_obj_begin(&j, "root_entry");
		if (!x->ept)
			json_u64(&j, "hpa", t->root_addr);
		s2_json(&j, x, t->root_addr, 2);
		json_u64(&j, "lo", t->root_lo);
		json_u64(&j, "hi", t->root_hi);
		json_obj_end(&j);
	}
	if (t->ctx_addr) {
		json_obj_begin(&j, "context_entry");
		if (!x->ept)
			json_u64(&j, "hpa", t->ctx_addr);
		s2_json(&j, x, t->ctx_addr, 2);
		json_u64(&j, "lo", t->ctx_lo);
		json_u64(&j, "hi", t->ctx_hi);
		json_obj_end(&j);
	}
	json_arr_begin(&j, "second_level");
	for (unsigned i = 0; t->walked && i < t->sl.n; i++) {
		json_obj_begin(&j, NULL);
		json_u64(&j, "level", t->sl.ref[i].level);
		json_u64(&j, "hpa", t->sl.ref[i].entry_hpa);
		s2_json(&j, x, t->sl.ref[i].entry_addr, 1);
		json_u64(&j, "value", t->sl.ref[i].value);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	if (t->reason == 0) {
		if (x->ept) {
			const struct s2_lookup *l = s2_find(x, t->addr);

			json_u64(&j, "gpa", t->addr);
			json_u64(&j, "hpa", l ? l->hpa : 0);
			json_u64(&j, "output_ept_refs", l ? l->refs : 0);
		} else {
			json_u64(&j, "hpa", t->addr);
		}
		json_u64(&j, "page_size", 1ULL << t->shift);
	} else {
		json_u64(&j, "fault_reason", t->reason);
		json_str(&j, "fault_reason_name", iommu_fault_reason_name(t->reason));
		json_u64(&j, "frcd_hi", t->frcd_hi);
		json_u64(&j, "frcd_lo", t->frcd_lo);
	}
	json_end(&j);
}

int cmd_walk_iova(int argc, char **argv)
{
	struct iova_machine x = { 0 };
	struct iova_opts o;
	struct iommu_trace t;
	int status = 0, rc;

	rc = parse(argc, argv, &o, &status);
	if (rc >= 0)
		return rc;
	rc = build(&x, &o);
	if (rc) {
		fprintf(stderr, "hv walk: cannot build the VT-d tables: %s\n", strerror(-rc));
		machine_free(&x);
		return 1;
	}
	iommu_explain(x.m, (uint16_t)o.sid, o.iova, o.write, &t);
	/* A guest's unit hands the GPA on: EPT gives the HPA. */
	if (x.ept && t.reason == 0) {
		uint64_t hpa;
		unsigned refs = 0;

		(void)s2_translate(&x, t.addr, o.write, &hpa, &refs);
	}
	if (o.json)
		print_json(&o, &x, &t);
	else
		print_text(&o, &x, &t);
	machine_free(&x);
	return 0;
}
