/* SPDX-License-Identifier: MIT */
/*
 * hv/run.c - `hv run KERNEL`: boot a guest, run it until it stops, and report
 * what the two-stage translation cost. Options and the report are described
 * in docs/run.md, the JSON keys in docs/json-run.md.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hv/cpu/cpuid.h"
#include "hv/cli.h"
#include "hv/csv.h"
#include "hv/plot.h"
#include "hv/cliutil.h"
#include "hv/domain.h"
#include "hv/hostmem.h"
#include "hv/vm.h"
#include "hv/vm_dma.h"

/* Settings of the VM as given (domain file first, then the command line), for
 * hv domxml; the output options (--json, --domain) are not among them. */
#define RUN_MAX_GIVEN 64

struct run_opts {
	const char *cmd;         /* "hv run" or "hv domxml", for messages */
	const char *kernel;
	const char *append;
	const char *tlb, *pwc;
	const char *serial;      /* NULL (default), "stdio", "none" or a file */
	const char *backend;
	const char *domain;      /* --domain FILE */
	bool json, csv;
	const char *plot;        /* --plot FILE|DIR */
	bool no_iommu;           /* --no-iommu */
	struct vm_config vm;
	struct domain_args dom;  /* the options the domain file stands for */
	char **argv;             /* dom.argv then the command line's (owned array) */
	struct domain_opt given[RUN_MAX_GIVEN];
	size_t ngiven;
	char *rom_file[VM_MAX_ROMS];   /* --rom's FILE parts (owned) */
	uint8_t *rom_data[VM_MAX_ROMS]; /* their bytes, read by cmd_run (owned) */
};

/* "N" (fully associative) or "N:W"; N a multiple of W, at most 65536; "0": none. */
static int parse_cache_geom(const char *s, struct cache_geom *g)
{
	unsigned long n, w;
	char *end;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || end == s || n > 65536 || *s == '-')
		return -EINVAL;
	w = n;
	if (*end == ':') {
		const char *ws = end + 1;

		w = strtoul(ws, &end, 10);
		if (errno || end == ws || *ws == '-' || w == 0 || w > n)
			return -EINVAL;
	}
	if (*end || (n && n % w))
		return -EINVAL;
	*g = (struct cache_geom){ .entries = (unsigned)n, .ways = n ? (unsigned)w : 0 };
	return 0;
}

static void run_usage(FILE *f)
{
	fprintf(f,
		"usage: hv run [options] KERNEL\n"
		"\n"
		"Boot KERNEL (an ELF with a PVH note, or a multiboot v1 ELF32) on a vCPU whose\n"
		"every fetch, load and store goes through the two-stage translation model,\n"
		"and report what the translation cost when the guest stops.\n"
		"\n"
		"VM:\n"
		"  --memory SIZE          guest RAM (default 512M; 64G is fine when lazy)\n"
		"  --ept-page 4K|2M|1G    largest EPT page used to map RAM (default 4K)\n"
		"  --ept-levels 4|5       EPT levels (default 4)\n"
		"  --mem-policy eager|lazy  eager: map all RAM at boot; lazy: map on first touch\n"
		"                         from the EPT-violation handler (default eager)\n"
		"  --dirty-track-after N  after N instructions, write-protect RAM in EPT and log\n"
		"                         dirty pages, and collect EPT dirty bits: both reported\n"
		"  --append STRING        kernel command line\n"
		"  --domain FILE          libvirt domain XML with the settings above and below;\n"
		"                         options on the command line override it (KERNEL too)\n"
		"  --backend soft|kvm     vCPU backend (default soft)\n"
		"  --cpu SPEC             CPU model changes, QEMU's -cpu style (soft backend):\n"
		"                         -feature / +feature (pcid, invpcid, la57, smep, smap,\n"
		"                         nx, rdtscp, x2apic, tsc-deadline), phys-bits=N and\n"
		"                         vendor=GenuineIntel|AuthenticAMD, after a model name:\n"
		"                         qemu64/max/host (hv's own), IvyBridge, Opteron_G1\n"
		"  --bios-state           boot with the 8259 pair, 8254 and real-mode vector table\n"
		"                         as a PC BIOS leaves them (IRQ 0 at 18.2 Hz; hv/bios.h)\n"
		"  --rom FILE[@GPA]       FILE's bytes as read-only guest memory at GPA (default:\n"
		"                         ending at 4 GiB), mapped R+X in EPT (on KVM a read-only\n"
		"                         memory slot); guest writes are dropped and counted.\n"
		"                         Outside RAM and the device windows; the last page is\n"
		"                         padded with 0xff; up to 3 times\n"
		"Devices:\n"
		"  --edu                  QEMU's edu PCI device at 00:03.0 (BAR0 0xfea00000), its\n"
		"                         DMA through a guest-visible VT-d unit at 0xfed90000\n"
		"  --no-iommu             no VT-d unit: edu's DMA addresses are guest-physical\n"
		"                         (with --passthrough: host-physical)\n"
		"  --iotlb N[:W]          the VT-d unit's IOTLB: N entries, W ways (default\n"
		"                         64:4; 0 = none, W = N fully associative)\n"
		"  --context-cache N[:W]  its context cache (default 16:16)\n"
		"  --passthrough separate|shared  hand edu to the guest (implies --edu): its\n"
		"                         register page is memory mapped through EPT (no exits),\n"
		"                         its DMA goes through a VT-d unit hv programs and the\n"
		"                         guest never sees, whose tables are its own or EPT's\n"
		"                         (on --backend kvm the device is a thread of its own)\n"
		"Translation model:\n"
		"  --tlb PRESET|FILE      TLB geometry (default skylake; `none` disables)\n"
		"  --pwc PRESET|FILE      paging-structure caches, nested TLB (default skylake)\n"
		"Run:\n"
		"  --max-insns N          stop after N guest instructions\n"
		"  --serial stdio|none|FILE  guest serial output (default: stdout, or stderr\n"
		"                         with --json or --csv when the report has no -o FILE)\n"
		"  -o, --output FILE      the report to FILE (default: the text report to\n"
		"                         stderr, a --json or --csv report to stdout)\n"
		"  --json                 print the report as one JSON object on stdout\n"
		"  --csv                  the same as CSV: a header line and one row, a column\n"
		"                         for each JSON member, named by its path\n"
		"  --plot FILE|DIR        draw the walk-length histogram and the reference grid\n"
		"                         with gnuplot into FILE (.svg or .png), or into DIR\n"
		"                         as walks.svg/.png and grid.svg/.png\n"
		"  -h, --help             this text\n"
		"\n"
		"Exit status: (v << 1) | 1 when the guest writes v to isa-debug-exit (port 0xf4,\n"
		"as QEMU), 0 when it halts, 2 bad options or kernel, 4 the guest broke a rule\n"
		"(forbidden GPA, triple fault, ...), 6 --max-insns reached, 8 hv failed\n"
		"(including guest output or a report that could not be written), 130 / 143\n"
		"stopped by SIGINT / SIGTERM (the report is still printed).\n"
		"\n"
		"Examples:\n"
		"  hv run guest/guest.elf --append 'workload=random footprint=64M'\n"
		"  hv run guest/guest.elf --append 'workload=random pages=2m' --ept-page 2M\n"
		"  hv run guest/guest.elf --memory 64G --mem-policy lazy --append workload=seq\n"
		"  hv run guest/guest.elf --dirty-track-after 1000000 --append workload=cow\n"
		"  hv run guest/guest.elf --tlb none --pwc none --json > report.json\n");
}

/* Where the option being parsed came from, when it came from a domain file. */
static const char *usage_origin;

static const char *usage_cmd = "hv run";

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", usage_cmd);
	if (usage_origin)
		fprintf(stderr, "%s: ", usage_origin);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(%s --help lists the options)\n", usage_cmd);
	return VM_STATUS_USAGE;
}

enum {
	OPT_MEMORY = 256, OPT_EPT_PAGE, OPT_EPT_LEVELS, OPT_TLB, OPT_PWC, OPT_APPEND,
	OPT_BACKEND, OPT_POLICY, OPT_DIRTY, OPT_MAX_INSNS, OPT_JSON, OPT_SERIAL, OPT_DOMAIN,
	OPT_EDU, OPT_NO_IOMMU, OPT_CSV, OPT_PLOT, OPT_CPU, OPT_PASSTHROUGH, OPT_BIOS_STATE,
	OPT_IOTLB, OPT_CTX_CACHE, OPT_ROM,
};

static const struct option long_opts[] = {
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "ept-page", required_argument, NULL, OPT_EPT_PAGE },
	{ "ept-levels", required_argument, NULL, OPT_EPT_LEVELS },
	{ "tlb", required_argument, NULL, OPT_TLB },
	{ "pwc", required_argument, NULL, OPT_PWC },
	{ "append", required_argument, NULL, OPT_APPEND },
	{ "backend", required_argument, NULL, OPT_BACKEND },
	{ "mem-policy", required_argument, NULL, OPT_POLICY },
	{ "dirty-track-after", required_argument, NULL, OPT_DIRTY },
	{ "max-insns", required_argument, NULL, OPT_MAX_INSNS },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "domain", required_argument, NULL, OPT_DOMAIN },
	{ "edu", no_argument, NULL, OPT_EDU },
	{ "no-iommu", no_argument, NULL, OPT_NO_IOMMU },
	{ "passthrough", required_argument, NULL, OPT_PASSTHROUGH },
	{ "iotlb", required_argument, NULL, OPT_IOTLB },
	{ "context-cache", required_argument, NULL, OPT_CTX_CACHE },
	{ "csv", no_argument, NULL, OPT_CSV },
	{ "cpu", required_argument, NULL, OPT_CPU },
	{ "bios-state", no_argument, NULL, OPT_BIOS_STATE },
	{ "rom", required_argument, NULL, OPT_ROM },
	{ "plot", required_argument, NULL, OPT_PLOT },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};
const struct option *const run_options = long_opts;

/* Options that say how to report, not what the VM is: not part of a domain. */
static bool is_output_opt(int c)
{
	return c == OPT_JSON || c == OPT_CSV || c == OPT_PLOT || c == OPT_DOMAIN || c == 'h';
}

/*
 * Find --domain and put the options its file stands for in front of the
 * command line's, so that the command line overrides the file. Returns -1 to
 * go on, or the exit status to return now.
 */
static int expand_domain(int argc, char **argv, struct run_opts *o)
{
	char err[1024];
	int c, rc;

	/* Check the words typed first: getopt would read '-append' as a
	 * cluster of letters and name the wrong word. */
	if (cli_check_words(o->cmd + 3, argc, argv, long_opts) != 0)
		return VM_STATUS_USAGE;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		if (c != OPT_DOMAIN)
			continue;
		if (o->domain)
			return usage_error("--domain: given twice ('%s')", optarg);
		o->domain = optarg;
	}
	if (o->domain) {
		rc = domain_read(o->domain, &o->dom, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "%s: %s\n", o->cmd, err);
			return rc == -ENOMEM ? VM_STATUS_HOST : VM_STATUS_USAGE;
		}
	}
	o->argv = calloc((size_t)(o->dom.argc + argc + 1), sizeof(*o->argv));
	if (o->argv == NULL) {
		fprintf(stderr, "%s: out of memory\n", o->cmd);
		return VM_STATUS_HOST;
	}
	o->argv[0] = argv[0];
	for (int i = 0; i < o->dom.argc; i++)
		o->argv[1 + i] = o->dom.argv[i];
	for (int i = 1; i < argc; i++)
		o->argv[o->dom.argc + i] = argv[i];
	return -1;
}

static void run_opts_free(struct run_opts *o)
{
	for (unsigned i = 0; i < VM_MAX_ROMS; i++) {
		free(o->rom_file[i]);
		free(o->rom_data[i]);
	}
	free(o->argv);
	domain_args_free(&o->dom);
}

/* Returns -1 to go on, or the exit status to return now. */
static int parse_opts(int argc, char **argv, struct run_opts *o, const char *cmd)
{
	uint64_t v;
	int c, idx, rc, before;

	usage_cmd = cmd;
	*o = (struct run_opts){
		.cmd = cmd,
		.append = "",
		.backend = "soft",
		.vm = {
			.mem_size = 512ULL << 20,
			.ept_levels = 4,
			.ept_page_shift = PAGE_SHIFT_4K,
			.policy = MEM_EAGER,
			.serial_in_fd = -1,
		},
	};
	rc = expand_domain(argc, argv, o);
	if (rc >= 0)
		return rc;
	argc += o->dom.argc;
	argv = o->argv;
	optind = 0;
	opterr = 0;
	for (;;) {
		before = optind < 1 ? 1 : optind;
		idx = -1;
		c = getopt_long(argc, argv, "h", long_opts, &idx);
		if (c == -1)
			break;
		/* The domain's options come first, one word each. */
		usage_origin = before <= o->dom.argc ? o->dom.origin[before - 1] : NULL;
		if (usage_origin && optind > o->dom.argc + 1)
			return usage_error("%s: expected a value", argv[before]);
		if (c != '?' && !is_output_opt(c) && idx >= 0) {
			if (o->ngiven == RUN_MAX_GIVEN)
				return usage_error("more than %s settings", "64");
			o->given[o->ngiven++] = (struct domain_opt){ long_opts[idx].name, optarg };
		}
		switch (c) {
		case OPT_MEMORY:
			if (parse_size(optarg, &o->vm.mem_size))
				return usage_error("--memory: '%s' is not a size (e.g. 512M, 64G)", optarg);
			break;
		case OPT_EPT_PAGE:
			if (parse_page_shift(optarg, &o->vm.ept_page_shift))
				return usage_error("--ept-page: '%s' is not 4K, 2M or 1G", optarg);
			break;
		case OPT_EPT_LEVELS:
			if (parse_u64(optarg, &v) || (v != 4 && v != 5))
				return usage_error("--ept-levels: '%s' is not 4 or 5", optarg);
			o->vm.ept_levels = (unsigned)v;
			break;
		case OPT_TLB:
			o->tlb = optarg;
			break;
		case OPT_PWC:
			o->pwc = optarg;
			break;
		case OPT_APPEND:
			o->append = optarg;
			break;
		case OPT_CPU: {
			char why[200];

			if (cpu_model_parse(optarg, &o->vm.cpu, why, sizeof(why)))
				return usage_error("--cpu: %s", why);
			break;
		}
		case OPT_BIOS_STATE:
			o->vm.bios_state = true;
			break;
		case OPT_ROM: {
			const char *at = strrchr(optarg, '@');
			struct vm_rom_config *r = &o->vm.rom[o->vm.nrom];
			char *file;

			if (o->vm.nrom == VM_MAX_ROMS)
				return usage_error("--rom: at most 3 ROMs (got another: '%s')", optarg);
			r->gpa = VM_ROM_AT_TOP;
			if (at && parse_u64(at + 1, &r->gpa))
				return usage_error("--rom: '%s': expected FILE or FILE@GPA, GPA a number "
						   "(e.g. rom.bin@0xfffe0000)", optarg);
			file = at ? strndup(optarg, (size_t)(at - optarg)) : strdup(optarg);
			if (!file || !file[0]) {
				free(file);
				return usage_error("--rom: '%s': no file name", optarg);
			}
			o->rom_file[o->vm.nrom] = file;
			r->name = file;
			o->vm.nrom++;
			break;
		}
		case OPT_BACKEND:
			if (strcmp(optarg, "soft") != 0 && strcmp(optarg, "kvm") != 0)
				return usage_error("--backend: '%s' is not soft or kvm", optarg);
			o->backend = optarg;
			break;
		case OPT_POLICY:
			if (strcmp(optarg, "eager") == 0)
				o->vm.policy = MEM_EAGER;
			else if (strcmp(optarg, "lazy") == 0)
				o->vm.policy = MEM_LAZY;
			else
				return usage_error("--mem-policy: '%s' is not eager or lazy", optarg);
			break;
		case OPT_DIRTY:
			if (parse_u64(optarg, &o->vm.dirty_track_after) == -ERANGE)
				return usage_error("--dirty-track-after: '%s' is too large (at most "
						   "18446744073709551615)", optarg);
			if (parse_u64(optarg, &o->vm.dirty_track_after) || o->vm.dirty_track_after == 0)
				return usage_error("--dirty-track-after: '%s' is not a positive count", optarg);
			break;
		case OPT_MAX_INSNS:
			if (parse_u64(optarg, &o->vm.max_insns) == -ERANGE)
				return usage_error("--max-insns: '%s' is too large (at most "
						   "18446744073709551615)", optarg);
			if (parse_u64(optarg, &o->vm.max_insns) || o->vm.max_insns == 0)
				return usage_error("--max-insns: '%s' is not a positive count", optarg);
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case OPT_SERIAL:
			if (optarg[0] == '\0')
				return usage_error("--serial: expected stdio, none or a file name%s", "");
			o->serial = optarg;
			break;
		case OPT_DOMAIN:
			break; /* read by expand_domain() */
		case OPT_CSV:
			o->csv = true;
			break;
		case OPT_PLOT: {
			char why[256];

			if (plot_check_target(optarg, why, sizeof(why)))
				return usage_error("%s", why);
			o->plot = optarg;
			break;
		}
		case OPT_EDU:
			o->vm.edu = true;
			break;
		case OPT_NO_IOMMU:
			o->no_iommu = true;
			break;
		case OPT_IOTLB:
		case OPT_CTX_CACHE: {
			struct cache_geom *g = c == OPT_IOTLB ? &o->vm.iotlb : &o->vm.ctx_cache;

			if (!o->vm.iommu_caches) {
				struct iommu_config def;

				iommu_config_default(&def);
				o->vm.iotlb = def.iotlb;
				o->vm.ctx_cache = def.ctx;
				o->vm.iommu_caches = true;
			}
			if (parse_cache_geom(optarg, g))
				return usage_error(c == OPT_IOTLB ?
						   "--iotlb: expected ENTRIES or ENTRIES:WAYS, ENTRIES a "
						   "multiple of WAYS (0: none), got '%s'" :
						   "--context-cache: expected ENTRIES or ENTRIES:WAYS, ENTRIES "
						   "a multiple of WAYS (0: none), got '%s'", optarg);
			break;
		}
		case OPT_PASSTHROUGH:
			if (strcmp(optarg, "separate") == 0)
				o->vm.passthrough = PT_SEPARATE;
			else if (strcmp(optarg, "shared") == 0)
				o->vm.passthrough = PT_SHARED;
			else
				return usage_error("--passthrough: expected separate or shared, got '%s'", optarg);
			o->vm.edu = true;
			break;
		case 'h':
			run_usage(stdout);
			return 0;
		default:
			return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	usage_origin = NULL;
	if (o->json && o->csv)
		return usage_error("--json and --csv: choose one%s", "");
	if (o->no_iommu && !o->vm.edu)
		return usage_error("--no-iommu: there is no DMA device without --edu%s", "");
	o->vm.iommu = o->vm.edu && !o->no_iommu;
	if (o->vm.iommu_caches && !o->vm.iommu)
		return usage_error("--iotlb, --context-cache: there is no VT-d unit without --edu "
				   "(or with --no-iommu)%s", "");
	if (o->vm.passthrough == PT_SHARED && o->vm.iommu && o->vm.ept_levels != 4)
		return usage_error("--passthrough shared: the VT-d unit walks 4 levels (48 bits); "
				   "EPT must have 4 too (--ept-levels 4)%s", "");
	if (optind == argc && o->dom.kernel) {
		o->kernel = o->dom.kernel;
		return -1;
	}
	if (optind != argc - 1)
		return usage_error("%s", optind >= argc ? "expected one KERNEL argument"
							: "expected exactly one KERNEL argument");
	o->kernel = argv[optind];
	return -1;
}

/*
 * The guest page size for the report's "with these pages" line comes from the
 * toy kernel's own `pages=` option; other kernels are assumed to use 4 KiB.
 */
static unsigned guest_page_shift(const char *append)
{
	const char *p = append;

	while ((p = strstr(p, "pages=")) != NULL) {
		if (p == append || p[-1] == ' ') {
			if (strncmp(p + 6, "2m", 2) == 0 || strncmp(p + 6, "2M", 2) == 0)
				return PAGE_SHIFT_2M;
			if (strncmp(p + 6, "1g", 2) == 0 || strncmp(p + 6, "1G", 2) == 0)
				return PAGE_SHIFT_1G;
			return PAGE_SHIFT_4K;
		}
		p += 6;
	}
	return PAGE_SHIFT_4K;
}

static void build_shape(struct vm *vm, const struct run_opts *o, struct report_shape *sh)
{
	struct vcpu_sregs s;

	sh->guest_levels = 0;
	if (vm->ops->get_sregs(vm->vcpu, &s) == 0 && (s.efer & EFER_LMA))
		sh->guest_levels = (s.cr4 & CR4_LA57) ? 5 : 4;
	sh->ept_levels = o->vm.ept_levels;
	sh->guest_page_shift = guest_page_shift(o->append);
	sh->ept_page_shift = o->vm.ept_page_shift;
}

static const char *page_label(unsigned shift)
{
	return shift == PAGE_SHIFT_1G ? "1G" : shift == PAGE_SHIFT_2M ? "2M" : "4K";
}

/* Host memory hv itself holds at its peak (ru_maxrss is in KiB on Linux). */
static uint64_t host_maxrss(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (uint64_t)ru.ru_maxrss * 1024;
}

static void print_mib(FILE *f, const char *label, uint64_t bytes)
{
	fprintf(f, "  %-22s %14.1f MiB\n", label, (double)bytes / (1 << 20));
}

struct run_result {
	double wall;
	struct vcpu_stats vs;
	struct hpool_stats ps;
	struct report_shape shape;
};

/* A diagnostic may span lines: the first gets `first`, the others `indent`. */
static void print_indented(FILE *f, const char *first, const char *indent, const char *msg)
{
	for (const char *m = msg, *pre = first; *m; pre = indent) {
		size_t n = strcspn(m, "\n");

		fprintf(f, "%s%.*s\n", pre, (int)n, m);
		m += n + (m[n] == '\n');
	}
}

/* Where the model does not see the accesses, the report says so instead of
 * printing its counters (which would all be zero). */
static const char no_model_translation[] =
	"not modelled: the guest's accesses are translated by the host's KVM and its "
	"hardware, so hv's TLB, walk and reference counts do not see them";

static void hw_stat_text(void *ctx, const char *scope, const char *name, uint64_t value)
{
	if (value)
		fprintf(ctx, "  %-4s %-26s %14" PRIu64 "\n", scope, name, value);
}

/* The JSON writer's state for hw_stat_json: the scope whose object is open. */
struct hw_stat_json {
	struct json *j;
	char scope[8];
};

static void hw_stat_json(void *ctx, const char *scope, const char *name, uint64_t value)
{
	struct hw_stat_json *h = ctx;

	if (strcmp(h->scope, scope) != 0) {
		if (h->scope[0])
			json_obj_end(h->j);
		snprintf(h->scope, sizeof(h->scope), "%s", scope);
		json_obj_begin(h->j, h->scope);
	}
	json_u64(h->j, name, value);
}

/* Where an S3 resume began, as firmware would name it. */
static void sleep_vector_text(const struct vm *vm, char *buf, size_t len)
{
	uint64_t v = vm->sleep.last_vector;

	if (vm->sleep.last_protected)
		snprintf(buf, len, "32-bit protected mode at 0x%" PRIx64 " (X_Firmware_Waking_Vector)", v);
	else
		snprintf(buf, len, "real mode at %04" PRIx64 ":%04" PRIx64 " (Firmware_Waking_Vector 0x%"
			 PRIx64 ")", v >> 4, v & 0xf, v);
}

/* ACPI S3 (hv/vm_sleep.c): only for a run that slept. */
static void report_sleep_text(FILE *f, const struct vm *vm)
{
	const struct vm_sleep_log *s = &vm->sleep;
	char where[128];

	if (!s->count)
		return;
	sleep_vector_text(vm, where, sizeof(where));
	fprintf(f, "Sleep (ACPI S3)\n");
	fprintf(f, "  %-22s %14" PRIu64 "\n", "slept and resumed", s->count);
	fprintf(f, "  %-22s %14.6f s (%" PRIu64 " TSC ticks)\n", "guest time asleep",
		(double)s->ticks / (double)PC_TSC_HZ, s->ticks);
	fprintf(f, "  %-22s TSC %" PRIu64 " to %" PRIu64 ", woken by the RTC's interrupt\n", "last sleep",
		s->last_enter_tsc, s->last_wake_tsc);
	fprintf(f, "  %-22s %s\n", "resumed in", where);
}

static void report_sleep_json(struct json *j, const struct vm *vm)
{
	const struct vm_sleep_log *s = &vm->sleep;

	if (!s->count)
		return;
	json_obj_begin(j, "sleep");
	json_u64(j, "s3_resumes", s->count);
	json_u64(j, "ticks_asleep", s->ticks);
	json_u64(j, "last_enter_tsc", s->last_enter_tsc);
	json_u64(j, "last_wake_tsc", s->last_wake_tsc);
	json_str(j, "woken_by", "rtc");
	json_u64(j, "resume_vector", s->last_vector);
	json_str(j, "resume_mode", s->last_protected ? "protected32" : "real");
	json_obj_end(j);
}

/* Where a backend reports a write to ROM without the EPT violation's
 * qualification, the report says why. */
static const char rom_no_qual[] =
	"not reported: KVM took the violation and emulated the write itself";

/* The ROM section, when the VM has ROM. */
static void report_rom_text(FILE *f, const struct vm *vm)
{
	const struct vm_rom_write *w = &vm->rom_first;
	char sz[32], q[256];

	if (!vm->nrom)
		return;
	fprintf(f, "ROM (read-only: writes are dropped)\n");
	for (unsigned i = 0; i < vm->nrom; i++) {
		const struct vm_rom *r = &vm->rom[i];

		fprintf(f, "  %s at [0x%" PRIx64 ", 0x%" PRIx64 "), %s (%" PRIu64 " bytes of file%s): "
			"%" PRIu64 " write%s\n", r->name, r->gpa, r->gpa + r->size,
			format_size(r->size, sz, sizeof(sz)), r->len, r->len < r->size ? ", then 0xff" : "",
			r->writes, r->writes == 1 ? "" : "s");
	}
	fprintf(f, "  %-22s %14" PRIu64 "\n", "writes to ROM", vm->cnt.rom_writes);
	if (!w->seen)
		return;
	fprintf(f, "  first write: %u bytes of 0x%" PRIx64 " to GPA 0x%" PRIx64 ", RIP 0x%" PRIx64 "%s\n",
		(unsigned)w->size, w->value, w->gpa, w->rip,
		w->qual_known ? "" : " (after the instruction: the backend completed it)");
	if (w->qual_known) {
		vm_decode_qual(w->qual, q, sizeof(q));
		fprintf(f, "    exit qualification 0x%" PRIx64 ": %s\n", w->qual, q);
	} else {
		fprintf(f, "    exit qualification %s\n", rom_no_qual);
	}
}

static void report_rom_json(struct json *j, const struct vm *vm)
{
	const struct vm_rom_write *w = &vm->rom_first;

	if (!vm->nrom)
		return;
	json_obj_begin(j, "rom");
	json_arr_begin(j, "regions");
	for (unsigned i = 0; i < vm->nrom; i++) {
		const struct vm_rom *r = &vm->rom[i];

		json_obj_begin(j, NULL);
		json_str(j, "file", r->name);
		json_u64(j, "gpa", r->gpa);
		json_u64(j, "size", r->size);
		json_u64(j, "file_bytes", r->len);
		json_u64(j, "writes", r->writes);
		json_obj_end(j);
	}
	json_arr_end(j);
	json_u64(j, "writes", vm->cnt.rom_writes);
	if (w->seen) {
		json_obj_begin(j, "first_write");
		json_u64(j, "gpa", w->gpa);
		json_u64(j, "size", w->size);
		json_u64(j, "value", w->value);
		json_u64(j, "rip", w->rip);
		if (w->qual_known)
			json_u64(j, "exit_qualification", w->qual);
		else
			json_str(j, "exit_qualification", rom_no_qual);
		json_obj_end(j);
	}
	json_obj_end(j);
}

/* Why the backend's own statistics could not be read (hw_stats gave rc). */
static const char *hw_stats_why_not(int rc)
{
	return rc == -ENOSYS ? "this kernel has no KVM_GET_STATS_FD (Linux 5.14)" : strerror(-rc);
}

/* Why the guest's writes to protected pages do not exit (no write-protect
 * log beside the backend's dirty log), in the backend's words if it has any. */
static const char *no_write_exits_why(const struct vm *vm)
{
	const char *why = vm->mem->ops->no_write_exits ? vm->mem->ops->no_write_exits(vm->mem) : NULL;

	return why ? why : "writes do not exit";
}

static void report_text(FILE *f, struct vm *vm, const struct run_opts *o,
			const struct run_result *rr)
{
	const struct vm_counters *c = &vm->cnt;
	uint64_t nviol = 0, nexit = 0;

	fprintf(f, "\n== hv run %s (%s): %.0f MiB RAM %s, %u-level EPT %s, %s vCPU\n", o->kernel,
		boot_protocol_name(vm->boot.protocol), (double)o->vm.mem_size / (1 << 20),
		mem_policy_name(o->vm.policy), o->vm.ept_levels, page_label(o->vm.ept_page_shift),
		vm->ops->name);
	fprintf(f, "Stop:        %s, exit status %d\n", vm_stop_name(vm->stop.reason),
		vm->stop.status);
	print_indented(f, "  ", "  ", vm->stop.msg);
	fputc('\n', f);

	if (vm->ops->models_translation) {
		fprintf(f, "Guest\n");
		fprintf(f, "  %-22s %14" PRIu64 "\n", "instructions", rr->vs.instructions);
		fprintf(f, "  %-22s %14" PRIu64 "\n", "fetches", rr->vs.fetches);
		fprintf(f, "  %-22s %14" PRIu64 "\n", "loads", rr->vs.loads);
		fprintf(f, "  %-22s %14" PRIu64 "\n", "stores", rr->vs.stores);
		fprintf(f, "  %-22s %14" PRIu64 "\n\n", "exceptions", rr->vs.exceptions);
		report_mmu_text(f, mmu_stats(vm->mmu), &o->vm.mmu, &rr->shape);
	} else {
		uint64_t leaves[3];

		fprintf(f, "Guest instructions and translation (TLB, walks, references):\n  %s.\n",
			no_model_translation);
		/* Beside the backend's own mappings (KVM's pages_4k/2m/1g below). */
		ept_count_leaves(vm->ept, leaves);
		fprintf(f, "  hv's EPT map, which the %s memory follows: leaves 4 KiB %" PRIu64
			", 2 MiB %" PRIu64 ", 1 GiB %" PRIu64 "\n", vm->ops->name, leaves[0], leaves[1],
			leaves[2]);
	}
	if (vm->ops->hw_stats) {
		fprintf(f, "\n%s statistics (the host kernel's own counts, nonzero ones):\n",
			vm->ops->name);
		int rc = vm->ops->hw_stats(vm->vcpu, hw_stat_text, f);

		if (rc)
			fprintf(f, "  not available: %s\n", hw_stats_why_not(rc));
	}

	for (int i = 0; i < VIOL_NCAUSES; i++)
		nviol += c->violations[i];
	fprintf(f, "\n%-24s %14" PRIu64 "\n", "EPT violations", nviol);
	for (int i = 0; i < VIOL_NCAUSES; i++)
		if (i != VIOL_ROM || vm->nrom)
			fprintf(f, "  %-22s %14" PRIu64 "\n", vm_viol_name((enum vm_viol_cause)i),
				c->violations[i]);

	for (int i = 0; i <= VCPU_EXIT_INTERNAL_ERROR; i++)
		nexit += c->exits[i];
	fprintf(f, "%-24s %14" PRIu64 "\n", "Exits", nexit);
	for (int i = 1; i <= VCPU_EXIT_INTERNAL_ERROR; i++)
		if (c->exits[i])
			fprintf(f, "  %-22s %14" PRIu64 "\n", vm_exit_name((enum vcpu_exit_reason)i),
				c->exits[i]);
	fprintf(f, "Devices\n");
	fprintf(f, "  %-22s %14" PRIu64 "\n", "serial bytes out", vm->uart.tx_bytes);
	fprintf(f, "  %-22s %14" PRIu64 "\n", "MMIO reads", c->mmio_reads);
	fprintf(f, "  %-22s %14" PRIu64 "\n", "MMIO writes", c->mmio_writes);
	fprintf(f, "  %-22s %14" PRIu64 "\n", "unknown port reads", vm->bus.unknown_pio_reads);
	fprintf(f, "  %-22s %14" PRIu64 "\n", "unknown port writes", vm->bus.unknown_pio_writes);
	fprintf(f, "  %-22s %14" PRIu64 "\n", "hypercalls", c->hypercalls);
	run_dma_report_text(f, vm);
	report_sleep_text(f, vm);
	report_rom_text(f, vm);

	if (vm->dirty.active && vm->mem->ops->protect_exits) {
		/* Without a model (KVM) the second set is the backend's dirty log. */
		if (vm->ops->counts_instructions)
			fprintf(f, "Dirty tracking (from instruction %" PRIu64 ", by %s)\n",
				vm->dirty.started_at, vm->dirty.started_by);
		else
			fprintf(f, "Dirty tracking (by %s)\n", vm->dirty.started_by);
		fprintf(f, "  %-22s %14" PRIu64 " pages\n", "write-protect log", vm->dirty.wp.count);
		fprintf(f, "  %-22s %14" PRIu64 " pages\n",
			vm->ops->models_translation ? "EPT dirty bits" : "dirty log", vm->dirty.ad.count);
		fprintf(f, "  %-22s %14s\n", "sets agree", vm_dirty_agree(vm) ? "yes" : "NO");
	} else if (vm->dirty.active) {
		/* The backend's own dirty log is the only set: no writes exit. */
		fprintf(f, "Dirty tracking (by %s)\n", vm->dirty.started_by);
		fprintf(f, "  %-22s not kept: %s\n", "write-protect log", no_write_exits_why(vm));
		fprintf(f, "  %-22s %14" PRIu64 " pages\n", "dirty log", vm->dirty.ad.count);
	}
	if (vm->dirty.active && vm->dma) {
		fprintf(f, "  %-22s %14" PRIu64 " pages\n", "DMA write log", vm->dirty.dma.count);
		fprintf(f, "  %-22s %14" PRIu64 " pages\n", "  written by DMA only",
			vm_dirty_dma_only(vm));
	}

	fprintf(f, "Memory\n");
	print_mib(f, "guest RAM declared", o->vm.mem_size);
	print_mib(f, "guest RAM allocated", rr->ps.guest_bytes);
	print_mib(f, "EPT and hv tables", rr->ps.hv_bytes);
	print_mib(f, "pool peak", rr->ps.peak_bytes);
	fprintf(f, "  %-22s %14" PRIu64 " (%" PRIu64 " lazily, %" PRIu64 " by the loader)\n",
		"frames mapped on demand", c->lazy_frames + c->prefault_frames, c->lazy_frames,
		c->prefault_frames);
	if (vm->mem->ops->lazy_path && vm->mem->ops->lazy_path(vm->mem))
		fprintf(f, "  %-22s %s\n", "first touches reach hv", vm->mem->ops->lazy_path(vm->mem));
	print_mib(f, "host max RSS", host_maxrss());
	fprintf(f, "Time\n");
	fprintf(f, "  %-22s %14.3f s\n", "wall", rr->wall);
	if (vm->ops->counts_instructions)
		fprintf(f, "  %-22s %14.2f M/s\n", "guest instructions",
			rr->wall > 0 ? (double)rr->vs.instructions / rr->wall / 1e6 : 0.0);
}

static void report_json(FILE *f, struct vm *vm, const struct run_opts *o,
			const struct run_result *rr)
{
	const struct vm_counters *c = &vm->cnt;
	struct json j;
	uint64_t n = 0;
	int rc;

	json_begin(&j, f);
	json_str(&j, "kernel", o->kernel);
	json_obj_begin(&j, "config");
	json_str(&j, "backend", vm->ops->name);
	json_u64(&j, "memory", o->vm.mem_size);
	json_str(&j, "ept_page", page_label(o->vm.ept_page_shift));
	json_u64(&j, "ept_levels", o->vm.ept_levels);
	json_str(&j, "mem_policy", mem_policy_name(o->vm.policy));
	json_u64(&j, "dirty_track_after", o->vm.dirty_track_after);
	json_u64(&j, "max_insns", o->vm.max_insns);
	json_str(&j, "append", o->append);
	json_str(&j, "boot_protocol", boot_protocol_name(vm->boot.protocol));
	json_obj_end(&j);

	json_obj_begin(&j, "stop");
	json_str(&j, "reason", vm_stop_name(vm->stop.reason));
	json_i64(&j, "status", vm->stop.status);
	json_u64(&j, "debug_exit_value", vm->bus.stop ? vm->bus.stop_value : 0);
	json_u64(&j, "rip", vm->stop.rip);
	json_str(&j, "message", vm->stop.msg);
	json_obj_end(&j);

	json_obj_begin(&j, "guest");
	json_u64(&j, "instructions", rr->vs.instructions);
	json_u64(&j, "fetches", rr->vs.fetches);
	json_u64(&j, "loads", rr->vs.loads);
	json_u64(&j, "stores", rr->vs.stores);
	json_u64(&j, "exceptions", rr->vs.exceptions);
	json_u64(&j, "interrupts", rr->vs.interrupts);
	json_obj_end(&j);

	json_obj_begin(&j, "translation");
	if (vm->ops->models_translation) {
		report_mmu_json(&j, mmu_stats(vm->mmu), &o->vm.mmu, &rr->shape);
	} else {
		uint64_t leaves[3];

		json_bool(&j, "modelled", false);
		json_str(&j, "why_not", no_model_translation);
		/* hv's map, which the backend's own (hw_stats) follows. */
		ept_count_leaves(vm->ept, leaves);
		json_u64(&j, "ept_leaves_4k", leaves[0]);
		json_u64(&j, "ept_leaves_2m", leaves[1]);
		json_u64(&j, "ept_leaves_1g", leaves[2]);
	}
	json_obj_end(&j);

	if (vm->ops->hw_stats) {
		struct hw_stat_json h = { .j = &j };

		/* The kernel's counters, by the kernel's names: vm and vcpu scopes. */
		json_obj_begin(&j, "hw_stats");
		json_str(&j, "source", "KVM_GET_STATS_FD");
		rc = vm->ops->hw_stats(vm->vcpu, hw_stat_json, &h);
		if (h.scope[0])
			json_obj_end(&j);
		json_bool(&j, "available", rc == 0);
		if (rc)
			json_str(&j, "why_not", hw_stats_why_not(rc));
		json_obj_end(&j);
	}

	json_obj_begin(&j, "ept_violations");
	for (int i = 0; i < VIOL_NCAUSES; i++) {
		if (i != VIOL_ROM || vm->nrom)
			json_u64(&j, vm_viol_name((enum vm_viol_cause)i), c->violations[i]);
		n += c->violations[i];
	}
	json_u64(&j, "total", n);
	json_obj_end(&j);

	n = 0;
	json_obj_begin(&j, "exits");
	for (int i = 1; i <= VCPU_EXIT_INTERNAL_ERROR; i++) {
		json_u64(&j, vm_exit_name((enum vcpu_exit_reason)i), c->exits[i]);
		n += c->exits[i];
	}
	json_u64(&j, "total", n + c->exits[0]);
	json_obj_end(&j);

	json_obj_begin(&j, "devices");
	json_u64(&j, "serial_tx_bytes", vm->uart.tx_bytes);
	json_u64(&j, "mmio_reads", c->mmio_reads);
	json_u64(&j, "mmio_writes", c->mmio_writes);
	json_u64(&j, "unknown_port_reads", vm->bus.unknown_pio_reads);
	json_u64(&j, "unknown_port_writes", vm->bus.unknown_pio_writes);
	json_u64(&j, "hypercalls", c->hypercalls);
	json_u64(&j, "hypercalls_unknown", c->hypercalls_unknown);
	json_obj_end(&j);
	run_dma_report_json(&j, vm);
	report_sleep_json(&j, vm);
	report_rom_json(&j, vm);

	json_obj_begin(&j, "dirty");
	json_bool(&j, "enabled", vm->dirty.active);
	json_u64(&j, "started_at", vm->dirty.started_at);
	json_str(&j, "started_by", vm->dirty.active ? vm->dirty.started_by : "");
	json_u64(&j, "write_protect_pages", vm->dirty.wp.count);
	json_u64(&j, "ept_dirty_pages", vm->dirty.ad.count);
	json_u64(&j, "dma_write_pages", vm->dirty.dma.count);
	json_u64(&j, "dma_only_pages", vm_dirty_dma_only(vm));
	if (vm->mem->ops->protect_exits)
		json_bool(&j, "agree", vm_dirty_agree(vm));
	/* Without a model, ept_dirty_pages is the backend's own log
	 * (KVM_GET_DIRTY_LOG), and writes exit only where the backend can
	 * write-protect (userfaultfd). */
	if (!vm->ops->models_translation) {
		json_bool(&j, "write_protect_log", vm->mem->ops->protect_exits);
		if (!vm->mem->ops->protect_exits)
			json_str(&j, "write_protect_log_why_not", no_write_exits_why(vm));
	}
	json_u64(&j, "invept", c->invept);
	json_obj_end(&j);

	json_obj_begin(&j, "memory");
	json_u64(&j, "guest_ram_declared", o->vm.mem_size);
	json_u64(&j, "guest_ram_allocated", rr->ps.guest_bytes);
	json_u64(&j, "hv_table_bytes", rr->ps.hv_bytes);
	json_u64(&j, "pool_peak_bytes", rr->ps.peak_bytes);
	json_u64(&j, "lazy_frames", c->lazy_frames);
	json_u64(&j, "loader_frames", c->prefault_frames);
	if (vm->mem->ops->lazy_path && vm->mem->ops->lazy_path(vm->mem))
		json_str(&j, "lazy_path", vm->mem->ops->lazy_path(vm->mem));
	json_u64(&j, "ept_table_pages", vm->ept->table_pages);
	json_obj_end(&j);

	/* Everything that varies from run to run sits under "host". */
	json_obj_begin(&j, "host");
	json_f64(&j, "wall_seconds", rr->wall);
	json_f64(&j, "instructions_per_second",
		 rr->wall > 0 ? (double)rr->vs.instructions / rr->wall : 0.0);
	json_u64(&j, "maxrss_bytes", host_maxrss());
	json_obj_end(&j);
	json_end(&j);
}

/* Progress between run slices: instructions so far and the rate. */
struct run_progress {
	struct progress p;
};

static void show_progress(struct vm *vm, void *ctx)
{
	struct run_progress *rp = ctx;

	if (!progress_due(&rp->p))
		return;
	fprintf(stderr, "\rhv run: %" PRIu64 " instructions, %.2f M/s  ", vm->insns,
		(double)vm->insns / (rp->p.last - rp->p.start) / 1e6);
}

/* A ROM file's bytes: all of them, at most 1 GiB (what fits below 4 GiB
 * beside the device windows), at least one. On error "FILE: what" in err. */
#define ROM_MAX_BYTES (1ULL << 30)

static int read_rom(const char *path, uint8_t **out, uint64_t *len, char *err, size_t errlen)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0;
	FILE *f;
	int rc = 0;

	f = fopen(path, "rb");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: is a directory, not a ROM image", path);
		fclose(f);
		return -EISDIR;
	}
	for (;;) {
		if (n == cap) {
			uint8_t *nb;

			cap = cap ? cap * 2 : 1 << 16;
			nb = cap <= ROM_MAX_BYTES + 1 ? realloc(buf, cap) : NULL;
			if (!nb) {
				rc = cap > ROM_MAX_BYTES + 1 ? -EFBIG : -ENOMEM;
				break;
			}
			buf = nb;
		}
		size_t got = fread(buf + n, 1, cap - n, f);

		n += got;
		if (got == 0 || n > ROM_MAX_BYTES)
			break;
	}
	if (!rc && ferror(f))
		rc = -EIO;
	if (!rc && n > ROM_MAX_BYTES)
		rc = -EFBIG;
	if (!rc && n == 0)
		rc = -ENODATA;
	fclose(f);
	if (rc) {
		free(buf);
		snprintf(err, errlen, "%s: %s", path,
			 rc == -EFBIG ? "larger than 1 GiB, more than fits below 4 GiB" :
			 rc == -ENODATA ? "the file is empty" :
			 rc == -EIO ? "read error" : strerror(-rc));
		return rc;
	}
	*out = buf;
	*len = n;
	return 0;
}

/*
 * Eager mapping gives the guest all of its RAM before it starts: refuse a size
 * this host cannot hold instead of starting a guest that would exhaust it, and
 * say up front when the mapping itself will take a while. Returns -1 to go on
 * or the exit status.
 */
#define EAGER_SLOW_LEAVES (1ULL << 24)  /* 64 GiB of 4 KiB pages: seconds */

static int check_eager_size(const struct run_opts *o)
{
	uint64_t mem = o->vm.mem_size, over, leaves, limit;
	char a[32], b[32], c[32], d[32];
	const char *what;

	if (o->vm.policy != MEM_EAGER)
		return -1;
	over = eager_overhead_bytes(mem, o->vm.ept_page_shift);
	limit = host_memory_limit(&what);
	if (mem > limit || over > limit - mem) {
		fprintf(stderr, "%s: --mem-policy eager gives the guest all %s of its RAM before "
			"it starts: with %s of EPT tables and frame records that needs %s of "
			"host memory, more than this host allows (%s: %s). Use --mem-policy "
			"lazy (host memory then follows what the guest touches) or a smaller "
			"--memory.\n", o->cmd, format_size(mem, a, sizeof(a)),
			format_size(over, b, sizeof(b)),
			mem > UINT64_MAX - over ? "more than 16 EiB" : format_size(mem + over, c, sizeof(c)),
			format_size(limit, d, sizeof(d)), what);
		return VM_STATUS_USAGE;
	}
	leaves = eager_leaf_count(mem, o->vm.ept_page_shift);
	if (leaves >= EAGER_SLOW_LEAVES)
		fprintf(stderr, "%s: mapping %s of guest RAM with %" PRIu64 " EPT pages of %s "
			"before the guest starts (--mem-policy eager); --ept-page 2M or "
			"--mem-policy lazy start at once\n", o->cmd, format_size(mem, a, sizeof(a)),
			leaves, format_size(1ULL << o->vm.ept_page_shift, b, sizeof(b)));
	return -1;
}

/*
 * SIGINT and SIGTERM stop the guest, not hv: the handler only records the
 * signal and kicks the vCPU (vm_kick is async-signal-safe; nothing else is
 * here), vm_run sees it between slices and stops with status 128 + signal,
 * and the report is printed as for any other stop. They are caught from
 * before the serial file is opened: one that comes while hv opens files,
 * maps RAM or loads the kernel stops the VM before its first instruction
 * (an eager mapping stops at the next GiB). SA_RESTART: a blocking open (a
 * FIFO) goes on. A second SIGINT (Ctrl-C twice) ends hv at once. SIGTERM
 * never does: tools send it more than once (timeout(1) signals the child
 * and then its whole process group), and each must still get the report.
 */
static volatile sig_atomic_t run_signal;
/* The VM whose vCPU the handler kicks out of the guest (KVM_RUN returns at
 * once: hv/kvm.c), set while vm_run runs. */
static struct vm *volatile run_vm;

/* Progress of a large eager mapping, on a terminal; non-zero stops it. */
static int show_map_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct progress *p = ctx;

	if (progress_due(p))
		fprintf(stderr, "\rhv run: mapped %" PRIu64 " of %" PRIu64 " GiB of guest RAM (%.0f%%)  ",
			done >> 30, total >> 30, 100.0 * (double)done / (double)total);
	return run_signal != 0;
}

static void on_stop_signal(int sig)
{
	run_signal = sig;
	vm_kick(run_vm);
}

static void catch_stop_signals(struct sigaction old[2])
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sa.sa_flags = SA_RESETHAND | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	run_signal = 0;
	sigaction(SIGINT, &sa, &old[0]);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGTERM, &sa, &old[1]);
}

static void restore_stop_signals(const struct sigaction old[2])
{
	sigaction(SIGINT, &old[0], NULL);
	sigaction(SIGTERM, &old[1], NULL);
}

int cmd_run(int argc, char **argv)
{
	struct run_opts o;
	struct run_result rr = { 0 };
	struct run_progress rp;
	FILE *serial = NULL, *report;
	bool output_failed = false;
	struct sigaction old_sig[2];
	struct vm *vm = NULL;
	char err[512];
	double t0;
	int rc, status;

	rc = parse_opts(argc, argv, &o, "hv run");
	if (rc >= 0)
		goto out_opts;
	status = VM_STATUS_USAGE;
	if (cli_mmu_config(o.tlb, o.pwc, &o.vm.mmu, err, sizeof(err)) != 0) {
		fprintf(stderr, "hv run: %s\n", err);
		goto out_opts_status;
	}
	o.vm.ops = backend_find(o.backend, err, sizeof(err));
	if (!o.vm.ops) {
		fprintf(stderr, "hv run: --backend %s: %s\n", o.backend, err);
		goto out_opts_status;
	}
	rc = check_eager_size(&o);
	if (rc >= 0)
		goto out_opts;
	for (unsigned i = 0; i < o.vm.nrom; i++) {
		rc = read_rom(o.rom_file[i], &o.rom_data[i], &o.vm.rom[i].len, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "hv run: --rom %s\n", err);
			status = rc == -ENOMEM ? VM_STATUS_HOST : VM_STATUS_USAGE;
			goto out_opts_status;
		}
		o.vm.rom[i].data = o.rom_data[i];
	}
	/* A missing gnuplot is said before the guest runs, not after. */
	if (o.plot && plot_available(err, sizeof(err))) {
		fprintf(stderr, "hv run: %s\n", err);
		status = VM_STATUS_HOST;
		goto out_opts_status;
	}
	/*
	 * The guest's output and the report share a stream only when asked.
	 * With -o FILE the report goes to FILE and the guest's output to stdout.
	 * Otherwise the text report goes to stderr, as perf stat's does, and the
	 * guest's output has stdout; a --json or --csv report has stdout, and the
	 * guest's output goes to stderr.
	 */
	report = (o.json || o.csv || cli_console != stdout) ? stdout : stderr;
	catch_stop_signals(old_sig);
	if (o.serial == NULL) {
		o.vm.serial_out = (o.json || o.csv) && cli_console == stdout ? stderr : cli_console;
	} else if (strcmp(o.serial, "stdio") == 0) {
		o.vm.serial_out = cli_console;
	} else if (strcmp(o.serial, "none") == 0) {
		o.vm.serial_out = NULL;
	} else {
		serial = fopen(o.serial, "w");
		if (!serial) {
			fprintf(stderr, "hv run: --serial %s: %s\n", o.serial, strerror(errno));
			goto out_serial;
		}
		o.vm.serial_out = serial;
	}
	/* Keyboard input only from a terminal: a script's stdin stays untouched. */
	o.vm.serial_in_fd = isatty(STDIN_FILENO) ? STDIN_FILENO : -1;

	progress_init(&rp.p, "hv run");
	o.vm.map_progress = show_map_progress;
	o.vm.map_progress_ctx = &rp.p;
	rc = vm_create(&o.vm, &vm, err, sizeof(err));
	progress_done(&rp.p);
	if (rc == -EINTR && run_signal) {
		fprintf(stderr, "hv run: stopped by %s while mapping guest RAM, before the guest "
			"started\n", run_signal == SIGINT ? "SIGINT" : "SIGTERM");
		status = 128 + run_signal;
		goto out_serial;
	}
	if (rc) {
		fprintf(stderr, "hv run: %s\n", err);
		status = rc == -ENOMEM ? VM_STATUS_HOST : VM_STATUS_USAGE;
		goto out_serial;
	}
	/* A pass-through VM's guest learns the HPAs of hv's watched pages. */
	char cmdline[4096];

	rc = vm_dma_cmdline(vm, o.append, cmdline, sizeof(cmdline));
	if (!rc)
		rc = vm_load(vm, o.kernel, cmdline, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "the kernel command line is too long with hv's additions");
	if (rc) {
		fprintf(stderr, "hv run: %s\n", err);
		status = VM_STATUS_USAGE;
		goto out_vm;
	}

	progress_init(&rp.p, "hv run");
	vm->progress = show_progress;
	vm->progress_ctx = &rp;
	vm->stop_request = &run_signal;
	run_vm = vm;
	t0 = now_seconds();
	rc = vm_run(vm);
	rr.wall = now_seconds() - t0;
	/* The handlers stay until the report is out (restored at out_serial):
	 * a late SIGTERM only sets run_signal, which nothing reads any more. */
	run_vm = NULL;
	progress_done(&rp.p);
	/* The guest's output is part of the result: losing it is a failure. */
	errno = 0;
	if (o.vm.serial_out && (fflush(o.vm.serial_out) != 0 || ferror(o.vm.serial_out))) {
		fprintf(stderr, "hv run: cannot write the guest's serial output%s%s%s%s\n",
			serial ? " to " : "", serial ? o.serial : "", errno ? ": " : "",
			errno ? strerror(errno) : "");
		output_failed = true;
	}
	if (vm_dirty_harvest(vm) != 0)
		fprintf(stderr, "hv run: could not collect the EPT dirty bits\n");
	if (vm->dma && vm_dma_check_canary(vm) != 0)
		fprintf(stderr, "hv run: could not read the DMA canary page\n");

	vm->ops->get_stats(vm->vcpu, &rr.vs);
	hpool_get_stats(vm->pool, &rr.ps);
	build_shape(vm, &o, &rr.shape);
	status = vm->stop.status;
	/* The diagnostic of a stop that is not the guest's own choice goes to
	 * stderr as well (unless the report is there), where a user looks first. */
	if (vm->stop.reason != VM_STOP_DEBUG_EXIT && vm->stop.reason != VM_STOP_HLT &&
	    vm->stop.reason != VM_STOP_POWEROFF && report != stderr) {
		fprintf(stderr, "hv run: %s: ", vm_stop_name(vm->stop.reason));
		print_indented(stderr, "", "  ", vm->stop.msg);
	}
	if (o.csv || o.plot) {
		struct csv_capture cap;
		struct jv *root = NULL;

		/* CSV and the plot are made from the JSON report, written into memory. */
		if (csv_capture_begin(&cap) == 0) {
			report_json(cap.f, vm, &o, &rr);
			rc = csv_capture_parse(&cap, &root, err, sizeof(err));
		} else {
			rc = -ENOMEM;
			snprintf(err, sizeof(err), "out of memory for the report");
		}
		if (rc == 0 && o.csv)
			rc = csv_write(report, root, NULL, err, sizeof(err));
		else if (rc == 0 && o.json)
			fwrite(cap.buf, 1, cap.len, report);
		else if (rc == 0)
			report_text(report, vm, &o, &rr);
		csv_capture_free(&cap);
		if (rc) {
			fprintf(stderr, "hv run: %s\n", err);
			output_failed = true;
		}
		if (rc == 0 && o.plot) {
			char title[512];

			snprintf(title, sizeof(title), "hv run %s%s%s: %s EPT pages, caches %s",
				 o.kernel, o.append ? " " : "", o.append ? o.append : "",
				 page_label(o.vm.ept_page_shift), o.vm.mmu.name);
			fflush(report);
			if (plot_translation(o.plot, "", jv_get(root, "translation"), title, err,
					     sizeof(err))) {
				fprintf(stderr, "hv run: %s\n", err);
				status = VM_STATUS_HOST;
			}
		}
		jv_free(root);
	} else if (o.json) {
		report_json(report, vm, &o, &rr);
	} else {
		report_text(report, vm, &o, &rr);
	}
	errno = 0;
	if (fflush(report) != 0 || ferror(report)) {
		if (!output_failed || report != o.vm.serial_out)
			fprintf(stderr, "hv run: cannot write the report%s%s\n", errno ? ": " : "",
				errno ? strerror(errno) : "");
		output_failed = true;
	}
	if (output_failed)
		status = VM_STATUS_HOST;
	(void)rc;

out_vm:
	vm_destroy(vm);
out_serial:
	restore_stop_signals(old_sig);
	if (serial && fclose(serial) != 0 && status != VM_STATUS_HOST) {
		fprintf(stderr, "hv run: cannot write the guest's serial output to %s: %s\n",
			o.serial, strerror(errno));
		status = VM_STATUS_HOST;
	}
out_opts_status:
	rc = status;
out_opts:
	run_opts_free(&o);
	return rc;
}

static void domxml_usage(FILE *f)
{
	fprintf(f,
		"usage: hv domxml [--libvirt] [hv run options] KERNEL\n"
		"\n"
		"Print the libvirt domain XML that stands for an hv run command line, so that\n"
		"`hv run --domain FILE` runs the same VM. Takes every option of hv run\n"
		"(hv run --help), --domain included: the file's settings, overridden by the\n"
		"command line's, are written back. KERNEL and a --serial file are written as\n"
		"absolute paths, as libvirt requires. When hv has libvirt, libvirt validates\n"
		"the XML against its schema before it is printed.\n"
		"\n"
		"  --libvirt    print the domain as libvirt defines it instead: its normalised\n"
		"               XML (virDomainGetXMLDesc, what virsh dumpxml prints), with\n"
		"               libvirt's defaults and a <uuid>; hv run --domain takes it too\n"
		"\n"
		"Exit status: 0 success, 2 bad options, a KERNEL that does not exist, or XML\n"
		"that libvirt refuses.\n"
		"\n"
		"Examples:\n"
		"  hv domxml --memory 64M --ept-page 2M --append workload=seq guest.elf > vm.xml\n"
		"  hv run --domain vm.xml\n"
		"  hv domxml --domain vm.xml --tlb none     the same VM without TLBs\n"
		"  hv domxml --libvirt --domain vm.xml      what libvirt stores for it\n");
}

/* An absolute form of path (which need not exist, but its folder must). */
static char *absolute_path(const char *path)
{
	char *dir, *base, *rdir, *out = NULL;
	const char *slash = strrchr(path, '/');

	if (path[0] == '/')
		return strdup(path);
	dir = slash ? strndup(path, (size_t)(slash - path + 1)) : strdup(".");
	base = strdup(slash ? slash + 1 : path);
	rdir = dir ? realpath(dir, NULL) : NULL;
	if (rdir && base && asprintf(&out, "%s/%s", rdir, base) < 0)
		out = NULL;
	free(dir);
	free(base);
	free(rdir);
	return out;
}

int cmd_domxml(int argc, char **argv)
{
	struct run_opts o;
	char err[512], name[80], *kernel = NULL, *serial = NULL, *xml = NULL, *lv = NULL;
	char *rom_abs[VM_MAX_ROMS] = { NULL };
	unsigned nrom_abs = 0;
	const char *base, *dot;
	bool libvirt_form = false;
	size_t xml_len = 0;
	FILE *mem;
	int rc, n = 1;

	/* --help and --libvirt are domxml's own; the rest are hv run's. */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < argc)
				argv[n++] = argv[i++];
			break;
		}
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			domxml_usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--libvirt") == 0)
			libvirt_form = true;
		else
			argv[n++] = argv[i];
	}
	argc = n;
	argv[argc] = NULL;
	rc = parse_opts(argc, argv, &o, "hv domxml");
	if (rc >= 0)
		goto out;
	rc = VM_STATUS_USAGE;
	kernel = realpath(o.kernel, NULL);
	if (kernel == NULL) {
		fprintf(stderr, "hv domxml: KERNEL %s: %s\n", o.kernel, strerror(errno));
		goto out;
	}
	/* libvirt takes only absolute paths for files. */
	for (size_t i = 0; i < o.ngiven; i++) {
		const char *v = o.given[i].value;

		if (strcmp(o.given[i].name, "rom") == 0) {
			const char *at = strrchr(v, '@');
			char *file = at ? strndup(v, (size_t)(at - v)) : strdup(v);
			char *abs = file ? absolute_path(file) : NULL;
			char *nv = NULL;

			if (abs && asprintf(&nv, "%s%s", abs, at ? at : "") < 0)
				nv = NULL;
			free(file);
			free(abs);
			if (nv == NULL) {
				fprintf(stderr, "hv domxml: --rom %s: %s\n", v, strerror(errno));
				goto out;
			}
			free(rom_abs[nrom_abs]);
			rom_abs[nrom_abs] = nv;
			nrom_abs = (nrom_abs + 1) % VM_MAX_ROMS;
			o.given[i].value = nv;
			continue;
		}
		if (strcmp(o.given[i].name, "serial") != 0 || strcmp(v, "stdio") == 0 ||
		    strcmp(v, "none") == 0)
			continue;
		free(serial);
		serial = absolute_path(v);
		if (serial == NULL) {
			fprintf(stderr, "hv domxml: --serial %s: %s\n", v, strerror(errno));
			goto out;
		}
		o.given[i].value = serial;
	}
	base = strrchr(kernel, '/') + 1;
	dot = strchr(base, '.');
	if (o.dom.name)
		snprintf(name, sizeof(name), "%s", o.dom.name);
	else
		snprintf(name, sizeof(name), "hv-%.*s", dot ? (int)(dot - base) : 70, base);
	mem = open_memstream(&xml, &xml_len);
	if (mem == NULL) {
		fprintf(stderr, "hv domxml: out of memory\n");
		rc = VM_STATUS_HOST;
		goto out;
	}
	if (domain_write(mem, name, kernel, o.given, o.ngiven, err, sizeof(err)) != 0) {
		fclose(mem);
		fprintf(stderr, "hv domxml: %s\n", err);
		goto out;
	}
	if (fclose(mem) != 0) {
		fprintf(stderr, "hv domxml: out of memory\n");
		rc = VM_STATUS_HOST;
		goto out;
	}
	/* What is printed is a domain libvirt defines: validated by libvirt
	 * itself whenever hv has it. */
	if ((libvirt_form || domain_supported()) &&
	    domain_libvirt_form(xml, &lv, err, sizeof(err)) != 0) {
		fprintf(stderr, "hv domxml: %s\n", err);
		goto out;
	}
	fputs(libvirt_form ? lv : xml, stdout);
	rc = fflush(stdout) == 0 ? 0 : VM_STATUS_HOST;
out:
	free(xml);
	free(lv);
	free(kernel);
	free(serial);
	for (unsigned i = 0; i < VM_MAX_ROMS; i++)
		free(rom_abs[i]);
	run_opts_free(&o);
	return rc;
}
