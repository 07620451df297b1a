/*
 * main.c: kmain(), where 64-bit C begins (boot.S calls it), and the
 * command-line parser.
 *
 * Order matters here: the start info, command line and memory map are read
 * while the boot tables still map them; the frame allocator must know the
 * RAM before the kernel can build its own page tables; the GDT/TSS/IDT come
 * after, so that a fault from here on is reported with vector and address.
 */
#include "kernel.h"
#include "x86.h"

/* Xen public/arch-x86/hvm/start_info.h: the PVH start info, version >= 1. */
#define HVM_START_MAGIC 0x336ec578u
struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr;
	uint64_t memmap_paddr; /* version >= 1 */
	uint32_t memmap_entries, reserved;
};
struct hvm_memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved; /* type 1: RAM (E820 numbering) */
};
#define MEMMAP_RAM 1

extern char _end[]; /* guest.ld: end of the kernel image, bss included */

static char cmdline[512];
static struct memrange ram[32];
static int nram;

static bool parse_size(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	unsigned base = 10;
	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		i = 2;
	}
	if (i == n)
		return false;
	for (; i < n; i++) {
		char c = s[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
	}
	unsigned shift = 0;
	if (i < n) {
		switch (s[i]) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		default: return false;
		}
		if (++i != n)
			return false;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return false;
	*out = v << shift;
	return true;
}

/* key=value words; unknown keys are reported and ignored (a loader may add some). */
static bool parse_cmdline(const char *s, struct options *o)
{
	static char workload[16];
	bool ok = true;

	while (*s) {
		while (*s == ' ')
			s++;
		const char *word = s;
		while (*s && *s != ' ')
			s++;
		size_t n = (size_t)(s - word);
		if (!n)
			break;
		const char *eq = word;
		while (eq < s && *eq != '=')
			eq++;
		size_t klen = (size_t)(eq - word);
		const char *val = eq + 1;
		size_t vlen = eq < s ? (size_t)(s - val) : 0;
		bool good = eq < s;
#define KEY(k) (klen == sizeof(k) - 1 && strncmp(word, k, klen) == 0)
		if (good && KEY("workload")) {
			good = vlen > 0 && vlen < sizeof(workload);
			if (good) {
				memcpy(workload, val, vlen);
				workload[vlen] = 0;
				o->workload = workload;
			}
		} else if (good && KEY("pages")) {
			if (vlen == 2 && strncmp(val, "4k", 2) == 0)
				o->huge = false;
			else if (vlen == 2 && strncmp(val, "2m", 2) == 0)
				o->huge = true;
			else
				good = false;
		} else if (good && KEY("footprint")) {
			good = parse_size(val, vlen, &o->footprint) && o->footprint > 0;
			o->footprint_given = true;
		} else if (good && KEY("iters")) {
			good = parse_size(val, vlen, &o->iters);
			o->iters_given = true;
		} else if (good && KEY("seed")) {
			good = parse_size(val, vlen, &o->seed);
		} else if (good && KEY("iommu")) {
			if (vlen == 2 && strncmp(val, "on", 2) == 0)
				o->iommu = true;
			else if (vlen == 3 && strncmp(val, "off", 3) == 0)
				o->iommu = false;
			else
				good = false;
			o->iommu_given = good;
		} else if (good && KEY("hpa-canary")) {
			good = parse_size(val, vlen, &o->hpa.canary);
		} else if (good && KEY("hpa-ept")) {
			good = parse_size(val, vlen, &o->hpa.ept);
		} else if (good && KEY("hpa-ram")) {
			good = parse_size(val, vlen, &o->hpa.ram);
			o->hpa.ram_given = good;
		} else if (good && KEY("stride")) {
			good = parse_size(val, vlen, &o->stride) && o->stride >= 8;
		} else {
			kprintf("cmdline: ignoring '");
			console_write(word, n);
			kprintf("'\n");
			continue;
		}
#undef KEY
		if (!good) {
			kprintf("cmdline: bad value in '");
			console_write(word, n);
			kprintf("'\n");
			ok = false;
		}
	}
	/* The region is whole pages of the size asked for, and the stride whole words. */
	uint64_t unit = o->huge ? PAGE_2M : PAGE_SIZE;
	o->footprint = (o->footprint + unit - 1) & ~(unit - 1);
	o->stride &= ~7ULL;
	return ok;
}

static void read_start_info(uint64_t pa)
{
	const struct hvm_start_info *si = (const void *)pa;
	if (si->magic != HVM_START_MAGIC) {
		kprintf("boot: no PVH start info at %p (magic 0x%x)\n", (void *)pa, si->magic);
		guest_exit(EXIT_FAIL);
	}
	if (si->cmdline_paddr) {
		const char *c = (const char *)si->cmdline_paddr;
		size_t i;
		for (i = 0; i < sizeof(cmdline) - 1 && c[i]; i++)
			cmdline[i] = c[i];
		cmdline[i] = 0;
	}
	if (si->version < 1 || !si->memmap_paddr || !si->memmap_entries) {
		kprintf("boot: start info version %u has no memory map\n", si->version);
		guest_exit(EXIT_FAIL);
	}
	const struct hvm_memmap_entry *m = (const void *)si->memmap_paddr;
	for (uint32_t i = 0; i < si->memmap_entries && nram < 32; i++) {
		if (m[i].type != MEMMAP_RAM || m[i].addr + m[i].size < m[i].addr)
			continue;
		ram[nram].base = m[i].addr;
		ram[nram].size = m[i].size;
		nram++;
	}
}

/* CPUID leaf 0x80000001 EDX bit 20 reports NX (SDM Vol. 2A, CPUID). */
static bool cpu_has_nx(void)
{
	uint32_t a, b, c, d;
	cpuid(0x80000000u, &a, &b, &c, &d);
	if (a < 0x80000001u)
		return false;
	cpuid(0x80000001u, &a, &b, &c, &d);
	return d & (1u << 20);
}

void kmain(uint64_t start_info);

void kmain(uint64_t start_info)
{
	console_init();
	read_start_info(start_info);

	uint64_t total = 0;
	for (int i = 0; i < nram; i++)
		total += ram[i].size;
	kprintf("hv guest: PVH boot, %lu MiB of RAM\n", total >> 20);
	bool nx = cpu_has_nx();
	kprintf("cpu: %s\n", nx ? "NX reported, data pages are no-execute"
			       : "NX not reported, pages stay executable");

	frames_init(ram, nram, (uint64_t)_end);
	paging_init(nx);
	cpu_tables_init();
	syscall_init();

	struct options o = {
		.workload = "all",
		.footprint = 16ULL << 20,
		.iters = 1000000,
		.seed = 1,
		.stride = 4096,
		.huge = false,
		.iommu = true,
	};
	if (!parse_cmdline(cmdline, &o)) {
		kprintf("RESULT %s FAIL checksum=%016lx\n", o.workload, 0UL);
		guest_exit(EXIT_FAIL);
	}
	guest_exit((uint32_t)workload_run(&o));
}
