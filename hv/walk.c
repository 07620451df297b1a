/* SPDX-License-Identifier: MIT */
/*
 * hv/walk.c - `hv walk GVA`: explain one translation reference by reference.
 *
 * Builds the same machine as `hv trace`, translates one address with
 * mmu_translate_traced and prints every paging-structure entry the walk read
 * (which table, which level, where it sits in guest-physical and
 * host-physical memory, its value decoded), the caches that let it skip
 * references, and the result or the fault decoded bit by bit.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hv/cli.h"
#include "hv/scene.h"
#include "hv/vcpu.h"   /* EXIT_REASON_* */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hv walk [options] GVA\n"
		"\n"
		"Translate one guest-virtual address (hex, with or without 0x) and explain\n"
		"every reference of the two-dimensional walk: guest PML4..PT entries, each\n"
		"reached through an EPT walk of its own GPA, then the EPT walk of the final\n"
		"GPA. The footprint is mapped at GVA 0x7f1240000000; an address outside it\n"
		"shows the #PF the walk ends with.\n"
		"\n"
		"options:\n"
		"  --access R|W|X       data read, data write or instruction fetch (default R)\n"
		"  --cpl 0|3            privilege level of the access (default 0)\n"
		"  --warm               first translate the neighbouring page (same page\n"
		"                       table), so this walk shows paging-structure-cache\n"
		"                       and nested-TLB hits\n"
		"  --ept-perms PERMS    set the EPT permissions of the data page's leaf, as\n"
		"                       three letters r, w, x or '-' (r-x, --x, ---): a\n"
		"                       missing permission gives an EPT violation, -w- an\n"
		"                       EPT misconfiguration\n"
		"  --json               one JSON object on stdout (keys: docs/json.md)\n"
		"  --iova               explain a DMA address through the VT-d model instead\n"
		"                       (options: hv walk --iova --help)\n"
		"\n%s"
		"\n"
		"examples:\n"
		"  hv walk --tlb none --pwc none 0x7f1240001234    all 24 references\n"
		"  hv walk 0x7f1240001234                          cold, Skylake caches\n"
		"  hv walk --warm 0x7f1240001234                   cache hits shorten it\n"
		"  hv walk --ept-perms --x 0x7f1240001234          EPT violation: qual 0x7a1\n"
		"                       (0x1a1, plus the guest's U/S and R/W in bits 9-10)\n"
		"  hv walk --ept-perms --- 0x7f1240001234          EPT violation: not present\n"
		"  hv walk --tlb none --pwc none --guest-page 2M --ept-page 2M 0x7f1240201234\n"
		"                                                  15 references\n"
		"  hv walk 0x7f0000000000                          not mapped: #PF\n",
		scene_options_help);
}

enum {
	OPT_ACCESS = SCENE_OPT_LAST + 1,
	OPT_CPL,
	OPT_WARM,
	OPT_EPT_PERMS,
	OPT_JSON,
	OPT_HELP,
};

static const struct option longopts[] = {
	SCENE_LONGOPTS,
	{ "access",    required_argument, NULL, OPT_ACCESS },
	{ "cpl",       required_argument, NULL, OPT_CPL },
	{ "warm",      no_argument,       NULL, OPT_WARM },
	{ "ept-perms", required_argument, NULL, OPT_EPT_PERMS },
	{ "json",      no_argument,       NULL, OPT_JSON },
	{ "help",      no_argument,       NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* Table and entry names by level (SDM 4.5 for the guest, 29.3.2 for EPT). */
static const char *const table_name[6] = { "data page", "PT", "PD", "PDPT", "PML4", "PML5" };
static const char *const entry_name[6] = { "?", "PTE", "PDE", "PDPTE", "PML4E", "PML5E" };

/* Parse "r-x"-style permissions into EPT_R/W/X. */
static int parse_perms(const char *s, uint64_t *perms)
{
	static const char letters[3] = { 'r', 'w', 'x' };
	uint64_t p = 0;

	if (strlen(s) != 3)
		return -EINVAL;
	for (int i = 0; i < 3; i++) {
		if (s[i] == letters[i] || s[i] == letters[i] - 'a' + 'A')
			p |= 1ULL << i; /* EPT_R, EPT_W, EPT_X are bits 0, 1, 2 */
		else if (s[i] != '-')
			return -EINVAL;
	}
	*perms = p;
	return 0;
}

/* Parse a GVA: hexadecimal, optional 0x. */
static int parse_gva(const char *s, uint64_t *out)
{
	char buf[24];

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return parse_u64(s, out);
	if (strlen(s) > 16)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "0x%s", s);
	return parse_u64(buf, out);
}

/* Decoded flags of a guest paging-structure entry (SDM 4.5 Tables 4-15..20). */
static void guest_entry_flags(uint64_t v, unsigned level, char *buf, size_t len)
{
	bool leaf = level == 1 || (level <= 3 && (v & PTE_PS));

	snprintf(buf, len, "%s%s%s%s%s%s%s%s",
		 v & PTE_P ? "P" : "not-present", v & PTE_W ? " W" : " RO", v & PTE_U ? " U" : " S",
		 v & PTE_A ? " A" : "", leaf && (v & PTE_D) ? " D" : "",
		 level > 1 && (v & PTE_PS) ? " PS" : "", leaf && (v & PTE_G) ? " G" : "",
		 v & PTE_XD ? " XD" : "");
}

/* Decoded flags of an EPT entry (SDM 29.3.2 Tables 29-1..29-6). */
static void ept_entry_flags(uint64_t v, unsigned level, char *buf, size_t len)
{
	static const char *const mt[8] = { "UC", "WC", "MT2?", "MT3?", "WT", "WP", "WB", "MT7?" };
	bool leaf = level == 1 || (level <= 3 && (v & EPT_PS));

	snprintf(buf, len, "%c%c%c%s%s%s%s%s%s",
		 v & EPT_R ? 'R' : '-', v & EPT_W ? 'W' : '-', v & EPT_X ? 'X' : '-',
		 leaf ? " " : "", leaf ? mt[(v & EPT_MT_MASK) >> EPT_MT_SHIFT] : "",
		 level > 1 && (v & EPT_PS) ? " PS" : "", v & EPT_A ? " A" : "",
		 leaf && (v & EPT_D) ? " D" : "", v & EPT_XU ? " XU" : "");
}

static bool ref_is_leaf(const struct walk_ref *r)
{
	unsigned level = (unsigned)(r->ept_level ? r->ept_level : r->guest_level);
	uint64_t ps = r->ept_level ? EPT_PS : PTE_PS;

	return level == 1 || (level <= 3 && (r->value & ps));
}

static void print_ref(unsigned n, const struct walk_ref *r, bool native)
{
	char flags[64];
	uint64_t addr = r->value & EPT_ADDR_MASK;
	const char *what = ref_is_leaf(r) ? "page" : "table";

	if (r->ept_level > 0) {
		unsigned idx = (unsigned)((r->entry_hpa & 0xfff) / 8);

		printf("  %2u  EPT %s[%u] for GPA 0x%" PRIx64 " (%s%s) -> %s HPA 0x%" PRIx64 "\n",
		       n, entry_name[r->ept_level], idx, r->gpa, r->guest_level ? "guest " : "",
		       table_name[r->guest_level], what, addr);
		ept_entry_flags(r->value, (unsigned)r->ept_level, flags, sizeof(flags));
		printf("      at HPA 0x%" PRIx64 " = 0x%016" PRIx64 "  %s\n", r->entry_hpa, r->value,
		       flags);
	} else {
		unsigned idx = (unsigned)((r->gpa & 0xfff) / 8);

		/* Bit 12 of a large-page entry is PAT, not address. */
		if (ref_is_leaf(r) && r->guest_level > 1)
			addr &= ~(uint64_t)PTE_PAT_LARGE;
		printf("  %2u  guest %s[%u]", n, entry_name[r->guest_level], idx);
		if (r->value & PTE_P)
			printf(" -> %s %s 0x%" PRIx64, what, native ? "HPA" : "GPA", addr);
		printf("\n");
		guest_entry_flags(r->value, (unsigned)r->guest_level, flags, sizeof(flags));
		if (native)
			printf("      at HPA 0x%" PRIx64, r->entry_hpa);
		else
			printf("      at GPA 0x%" PRIx64 " HPA 0x%" PRIx64, r->gpa, r->entry_hpa);
		printf(" = 0x%016" PRIx64 "  %s\n", r->value, flags);
	}
}

/* What one cache hit saved, for the explanation. */
static const char *hit_meaning(enum tlb_id id)
{
	switch (id) {
	case PWC_PML5: return "guest PML5E cached: walk starts at the PML4";
	case PWC_PML4: return "guest PML4E cached: walk starts at the PDPT";
	case PWC_PDPTE: return "guest PDPTE cached: walk starts at the PD";
	case PWC_PDE: return "guest PDE cached: walk starts at the PT";
	case PWC_GP_PML4: return "EPT PML4E cached for a GPA: its EPT walk starts lower";
	case PWC_GP_PDPTE: return "EPT PDPTE cached for a GPA: its EPT walk starts lower";
	case PWC_GP_PDE: return "EPT PDE cached for a GPA: only its EPT PTE is read";
	case NESTED_TLB: return "GPA->HPA cached: no EPT references for that GPA";
	case MMU_NSTRUCT: break;
	default: return "combined GVA->HPA translation cached: no walk at all";
	}
	return "";
}

struct bit_doc {
	unsigned bit;
	const char *name;
	const char *if_set, *if_clear;
};

/* SDM 4.7: #PF error code. */
static const struct bit_doc pf_bits[] = {
	{ 0, "P", "protection violation on a present page", "the page was not present" },
	{ 1, "W/R", "the access was a write", "the access was a read" },
	{ 2, "U/S", "user-mode access (CPL 3)", "supervisor-mode access" },
	{ 3, "RSVD", "a reserved bit was set in a paging entry", "no reserved bit set" },
	{ 4, "I/D", "instruction fetch", "not an instruction fetch" },
	{ 5, "PK", "protection-key violation", "no protection-key violation" },
};

/* SDM 28.2.1 Table 28-7: EPT violation exit qualification. */
static const struct bit_doc qual_bits[] = {
	{ 0, "read", "the access was a data read", "not a data read" },
	{ 1, "write", "the access was a data write", "not a data write" },
	{ 2, "fetch", "the access was an instruction fetch", "not an instruction fetch" },
	{ 3, "readable", "the GPA is readable (R at every EPT level)", "the GPA is not readable" },
	{ 4, "writable", "the GPA is writable (W at every EPT level)", "the GPA is not writable" },
	{ 5, "executable", "the GPA is executable (X at every EPT level)", "the GPA is not executable" },
	{ 6, "user-exec", "user-mode executable (XU, MBEC)", "not user-mode executable (MBEC)" },
	{ 7, "gla-valid", "the guest linear address field is valid", "no guest linear address" },
	{ 8, "gla-xlate", "access to the translated linear address", "access to a guest paging-structure entry" },
	{ 9, "guest-us", "guest page is user-mode (advanced info)", "guest page is supervisor-mode" },
	{ 10, "guest-rw", "guest page is writable (advanced info)", "guest page is read-only" },
	{ 11, "guest-xd", "guest page is execute-disable (advanced info)", "guest page is executable" },
	{ 12, "nmi-unblock", "NMI unblocking due to IRET", "no NMI unblocking" },
};

static void print_bits(uint64_t v, const struct bit_doc *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool set = (v >> d[i].bit) & 1;

		printf("    bit %2u %-11s = %d  %s\n", d[i].bit, d[i].name, set,
		       set ? d[i].if_set : d[i].if_clear);
	}
}

static void json_bits(struct json *j, const char *key, uint64_t v, const struct bit_doc *d,
		      size_t n)
{
	json_obj_begin(j, key);
	for (size_t i = 0; i < n; i++)
		json_bool(j, d[i].name, (v >> d[i].bit) & 1);
	json_obj_end(j);
}

static void json_hex(struct json *j, const char *key, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
	json_str(j, key, buf);
}

static const char *status_name(enum mmu_status s)
{
	switch (s) {
	case MMU_OK: return "ok";
	case MMU_PAGE_FAULT: return "page_fault";
	case MMU_NONCANONICAL: return "noncanonical";
	case MMU_EPT_VIOLATION: return "ept_violation";
	case MMU_EPT_MISCONFIG: return "ept_misconfig";
	}
	return "?";
}

static const char *access_word(unsigned type)
{
	return type == ACC_WRITE ? "write" : type == ACC_FETCH ? "fetch" : "read";
}

static unsigned worst_refs(const struct report_shape *sh)
{
	if (sh->ept_levels == 0)
		return sh->guest_levels;
	return (sh->guest_levels + 1) * (sh->ept_levels + 1) - 1;
}

static void print_text(const struct scene *s, uint64_t gva, unsigned type, unsigned cpl,
		       const struct mmu_result *r, const struct walk_trace *tr)
{
	struct report_shape sh;
	unsigned levels = s->o.guest_levels;

	scene_shape(s, &sh);
	printf("hv walk: %s of GVA 0x%" PRIx64 " at CPL %u\n", access_word(type), gva, cpl);
	printf("  %u-level guest paging (%s pages) ", levels,
	       s->o.guest_shift == 30 ? "1G" : s->o.guest_shift == 21 ? "2M" : "4K");
	if (s->ept)
		printf("over %u-level EPT (%s pages)", s->o.ept_levels,
		       s->o.ept_shift == 30 ? "1G" : s->o.ept_shift == 21 ? "2M" : "4K");
	else
		printf("with no EPT (native)");
	printf(", caches %s\n", s->cfg.name);
	printf("  indices:");
	for (unsigned l = levels; l >= 1; l--)
		printf(" %s %u", table_name[l], (unsigned)((gva >> (12 + 9 * (l - 1))) & 0x1ff));
	printf("  offset 0x%" PRIx64 "\n", gva & 0xfff);
	printf("  CR3 = %s 0x%" PRIx64, s->ept ? "GPA" : "HPA", s->ctx.cr3);
	if (s->ept)
		printf(", EPTP = 0x%" PRIx64, ept_eptp(s->ept));
	printf("\n\n");

	if (r->tlb_hit)
		printf("  TLB hit: the combined GVA->HPA mapping was cached; no references.\n");
	for (unsigned i = 0; i < tr->n; i++)
		print_ref(i + 1, &tr->ref[i], s->ept == NULL);
	if (tr->nhits) {
		printf("\n  cache hits that avoided memory references:\n");
		for (unsigned i = 0; i < tr->nhits && i < 16; i++)
			printf("    %-12s %s\n", mmu_struct_name(tr->hit[i]), hit_meaning(tr->hit[i]));
	}
	printf("\n  %u references (worst case for this shape: %u)\n", tr->n, worst_refs(&sh));
	if (tr->n)
		printf("  entries are shown as the walk left them: with the A flags it set and,\n"
		       "  for a write, the D flag (SDM 4.8; EPT: 29.3.5)\n");
	printf("\n");

	switch (r->status) {
	case MMU_OK:
		printf("  result: GVA 0x%" PRIx64 " -> ", gva);
		if (s->ept)
			printf("GPA 0x%" PRIx64 " -> ", r->gpa);
		printf("HPA 0x%" PRIx64 " (%s page)\n", r->hpa,
		       r->page_shift == 30 ? "1G" : r->page_shift == 21 ? "2M" : "4K");
		break;
	case MMU_PAGE_FAULT:
		printf("  result: #PF (vector 14), CR2 = 0x%" PRIx64 ", error code 0x%x\n", r->gva,
		       r->pf_error);
		print_bits(r->pf_error, pf_bits, sizeof(pf_bits) / sizeof(pf_bits[0]));
		break;
	case MMU_NONCANONICAL:
		printf("  result: #GP: 0x%" PRIx64 " is not canonical for %u-level paging\n", gva,
		       levels);
		break;
	case MMU_EPT_VIOLATION:
		printf("  result: EPT violation (exit reason %d) at GPA 0x%" PRIx64 ", GVA 0x%" PRIx64
		       "\n  exit qualification 0x%" PRIx64 ":\n",
		       EXIT_REASON_EPT_VIOLATION, r->gpa, r->gva, r->qual);
		print_bits(r->qual, qual_bits, sizeof(qual_bits) / sizeof(qual_bits[0]));
		break;
	case MMU_EPT_MISCONFIG:
		printf("  result: EPT misconfiguration (exit reason %d) at GPA 0x%" PRIx64
		       " (no exit qualification)\n",
		       EXIT_REASON_EPT_MISCONFIG, r->gpa);
		break;
	}
}

static void print_json(const struct scene *s, uint64_t gva, unsigned type, unsigned cpl,
		       bool warm, const char *perms, const struct mmu_result *r,
		       const struct walk_trace *tr)
{
	struct report_shape sh;
	struct json j;

	scene_shape(s, &sh);
	json_begin(&j, stdout);
	json_str(&j, "command", "walk");
	json_obj_begin(&j, "options");
	scene_opts_json(&j, s);
	json_str(&j, "access", type == ACC_WRITE ? "W" : type == ACC_FETCH ? "X" : "R");
	json_u64(&j, "cpl", cpl);
	json_bool(&j, "warm", warm);
	json_str(&j, "ept_perms", perms);
	json_obj_end(&j);
	json_hex(&j, "gva", gva);
	json_hex(&j, "cr3", s->ctx.cr3);
	if (s->ept)
		json_hex(&j, "eptp", ept_eptp(s->ept));
	json_bool(&j, "tlb_hit", r->tlb_hit);
	json_u64(&j, "ref_count", tr->n);
	json_u64(&j, "worst_case_refs", worst_refs(&sh));
	json_arr_begin(&j, "refs");
	for (unsigned i = 0; i < tr->n; i++) {
		const struct walk_ref *w = &tr->ref[i];

		json_obj_begin(&j, NULL);
		json_str(&j, "kind", w->ept_level ? "ept" : "guest");
		json_i64(&j, "guest_level", w->guest_level);
		json_i64(&j, "ept_level", w->ept_level);
		json_hex(&j, "gpa", w->gpa);
		json_hex(&j, "entry_hpa", w->entry_hpa);
		json_hex(&j, "value", w->value);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_arr_begin(&j, "cache_hits");
	for (unsigned i = 0; i < tr->nhits && i < 16; i++)
		json_str(&j, NULL, mmu_struct_name(tr->hit[i]));
	json_arr_end(&j);
	json_obj_begin(&j, "result");
	json_str(&j, "status", status_name(r->status));
	json_hex(&j, "gva", r->status == MMU_OK ? gva : r->gva);
	json_hex(&j, "gpa", r->gpa);
	if (r->status == MMU_OK) {
		json_hex(&j, "hpa", r->hpa);
		json_u64(&j, "page_size", 1ULL << r->page_shift);
	} else if (r->status == MMU_PAGE_FAULT) {
		json_hex(&j, "pf_error", r->pf_error);
		json_bits(&j, "pf_error_bits", r->pf_error, pf_bits, sizeof(pf_bits) / sizeof(pf_bits[0]));
	} else if (r->status == MMU_EPT_VIOLATION) {
		json_u64(&j, "exit_reason", EXIT_REASON_EPT_VIOLATION);
		json_hex(&j, "qual", r->qual);
		json_bits(&j, "qual_bits", r->qual, qual_bits, sizeof(qual_bits) / sizeof(qual_bits[0]));
	} else if (r->status == MMU_EPT_MISCONFIG) {
		json_u64(&j, "exit_reason", EXIT_REASON_EPT_MISCONFIG);
	}
	json_obj_end(&j);
	json_end(&j);
}

int cmd_walk(int argc, char **argv)
{
	struct scene_opts so;
	struct scene *s = NULL;
	struct mmu_result r;
	struct walk_trace *tr;
	const char *perms_arg = NULL;
	uint64_t gva, perms = 0;
	unsigned type = ACC_READ, cpl = 0;
	bool warm = false, json = false;
	char err[512];
	int opt, status = 0, rc;

	/* An IOVA through the VT-d model has a machine of its own. */
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--iova"))
			return cmd_walk_iova(argc, argv);
	scene_opts_default(&so);
	optind = 0;
	while ((opt = cli_getopt("walk", argc, argv, longopts, &status)) > 0) {
		if (opt >= SCENE_OPT_BASE && opt <= SCENE_OPT_LAST) {
			if (scene_parse_option(&so, opt, optarg, err, sizeof(err)))
				return cli_usage_error("walk", "%s", err);
			continue;
		}
		switch (opt) {
		case OPT_ACCESS:
			if (strcmp(optarg, "R") == 0 || strcmp(optarg, "r") == 0)
				type = ACC_READ;
			else if (strcmp(optarg, "W") == 0 || strcmp(optarg, "w") == 0)
				type = ACC_WRITE;
			else if (strcmp(optarg, "X") == 0 || strcmp(optarg, "x") == 0)
				type = ACC_FETCH;
			else
				return cli_usage_error("walk", "--access: expected R, W or X, got '%s'", optarg);
			break;
		case OPT_CPL:
			if (strcmp(optarg, "0") == 0)
				cpl = 0;
			else if (strcmp(optarg, "3") == 0)
				cpl = 3;
			else
				return cli_usage_error("walk", "--cpl: expected 0 or 3, got '%s'", optarg);
			break;
		case OPT_WARM:
			warm = true;
			break;
		case OPT_EPT_PERMS:
			if (parse_perms(optarg, &perms))
				return cli_usage_error("walk", "--ept-perms: expected three letters from r, w, x or '-' such as r-x or --x, got '%s'", optarg);
			perms_arg = optarg;
			break;
		case OPT_JSON:
			json = true;
			break;
		case OPT_HELP:
			usage(stdout);
			return 0;
		}
	}
	if (status)
		return status;
	if (optind >= argc)
		return cli_usage_error("walk", "expected a guest-virtual address such as 0x7f1240001234 (see hv walk --help)");
	if (optind + 1 < argc)
		return cli_usage_error("walk", "expected one address, got '%s' and '%s'", argv[optind], argv[optind + 1]);
	if (parse_gva(argv[optind], &gva))
		return cli_usage_error("walk", "expected a hexadecimal guest-virtual address, got '%s'", argv[optind]);
	if (perms_arg && so.native)
		return cli_usage_error("walk", "--ept-perms needs EPT; drop --native");

	rc = scene_create(&so, &s, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "hv walk: %s\n", err);
		return rc == -EINVAL || rc == -ENOENT ? 2 : 1;
	}
	if (perms_arg) {
		uint64_t epage = 1ULL << so.ept_shift;
		uint64_t gpa;

		if (!scene_contains(s, gva)) {
			/* The message reads the footprint: print it before the
			 * scene goes. */
			status = cli_usage_error("walk", "--ept-perms: GVA 0x%" PRIx64 " is outside the footprint [0x%" PRIx64 ", 0x%" PRIx64 ")",
						 gva, SCENE_GVA_BASE, SCENE_GVA_BASE + s->footprint);
			scene_destroy(s);
			return status;
		}
		gpa = scene_gpa(s, gva) & ~(epage - 1);
		if ((perms & EPT_W) && !(perms & EPT_R)) {
			/* Write without read is a misconfiguration (SDM 29.3.3.1),
			 * which ept_protect rightly refuses to create: write the
			 * leaf raw to show the exit it causes. */
			uint64_t off = gva - SCENE_GVA_BASE;
			uint64_t hpa = (s->chunk_hpa[off / s->chunk] + off % s->chunk) & ~(epage - 1);
			unsigned level = so.ept_shift == PAGE_SHIFT_1G ? 3 : so.ept_shift == PAGE_SHIFT_2M ? 2 : 1;
			uint64_t raw = hpa | perms | ((uint64_t)EPT_MT_WB << EPT_MT_SHIFT) |
				       (level > 1 ? EPT_PS : 0);

			rc = ept_set_raw(s->ept, gpa, level, raw);
		} else if (!(perms & EPT_RWX)) {
			/* No permission at all is a not-present entry (SDM 29.3.2):
			 * remove the mapping. */
			rc = ept_unmap(s->ept, gpa, epage);
		} else {
			rc = ept_protect(s->ept, gpa, epage, perms);
		}
		if (rc) {
			fprintf(stderr, "hv walk: setting the EPT leaf of GPA 0x%" PRIx64 " to %s: %s\n", gpa,
				perms_arg, strerror(-rc));
			scene_destroy(s);
			return 1;
		}
	}
	s->ctx.cpl = cpl;
	if (warm) {
		/* The neighbouring page shares every table with this one, so the
		 * caches hold the upper entries but the TLB not this page. */
		uint64_t other = gva ^ (1ULL << so.guest_shift);

		mmu_translate(s->mmu, &s->ctx, other, ACC_READ, &r);
	}
	tr = calloc(1, sizeof(*tr));
	if (tr == NULL) {
		scene_destroy(s);
		fprintf(stderr, "hv walk: out of memory\n");
		return 1;
	}
	mmu_translate_traced(s->mmu, &s->ctx, gva, type, &r, tr);
	if (json)
		print_json(s, gva, type, cpl, warm, perms_arg, &r, tr);
	else
		print_text(s, gva, type, cpl, &r, tr);
	free(tr);
	scene_destroy(s);
	return 0;
}
