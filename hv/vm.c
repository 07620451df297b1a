/* SPDX-License-Identifier: MIT */
/*
 * hv/vm.c - guest memory behind EPT, the device bus, the vCPU and the exit
 * loop. See hv/vm.h for the guest-physical map and the memory policies.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "hv/errmsg.h"
#include "hv/vm.h"

/* Leaf attributes of guest RAM: full access, write-back. */
#define RAM_ATTRS (EPT_RWX | ((uint64_t)EPT_MT_WB << EPT_MT_SHIFT))
/* While dirty tracking: no W, so that the first write to a page exits. */
#define RAM_ATTRS_WP ((EPT_R | EPT_X) | ((uint64_t)EPT_MT_WB << EPT_MT_SHIFT))

/* Instructions per run() call: often enough for a live progress line and a
 * precise --max-insns/--dirty-track-after, rarely enough to cost nothing. */
#define RUN_SLICE (1ULL << 22)

const char *vm_stop_name(enum vm_stop_reason r)
{
	static const char *const names[VM_STOP_NREASONS] = {
		[VM_RUNNING] = "running",
		[VM_STOP_DEBUG_EXIT] = "debug-exit",
		[VM_STOP_HLT] = "hlt",
		[VM_STOP_INSN_LIMIT] = "insn-limit",
		[VM_STOP_FORBIDDEN_GPA] = "forbidden-gpa",
		[VM_STOP_EPT_MISCONFIG] = "ept-misconfig",
		[VM_STOP_TRIPLE_FAULT] = "triple-fault",
		[VM_STOP_INTERNAL_ERROR] = "internal-error",
		[VM_STOP_HOST_ERROR] = "host-error",
	};
	return (unsigned)r < VM_STOP_NREASONS ? names[r] : "?";
}

const char *vm_exit_name(enum vcpu_exit_reason r)
{
	static const char *const names[] = {
		[VCPU_EXIT_NONE] = "none",
		[VCPU_EXIT_IO] = "io",
		[VCPU_EXIT_MMIO] = "mmio",
		[VCPU_EXIT_HLT] = "hlt",
		[VCPU_EXIT_HYPERCALL] = "hypercall",
		[VCPU_EXIT_EPT_VIOLATION] = "ept_violation",
		[VCPU_EXIT_EPT_MISCONFIG] = "ept_misconfig",
		[VCPU_EXIT_TRIPLE_FAULT] = "triple_fault",
		[VCPU_EXIT_INSN_LIMIT] = "insn_limit",
		[VCPU_EXIT_INTERNAL_ERROR] = "internal_error",
	};
	return (unsigned)r <= VCPU_EXIT_INTERNAL_ERROR ? names[r] : "?";
}

const char *vm_viol_name(enum vm_viol_cause c)
{
	static const char *const names[VIOL_NCAUSES] = {
		[VIOL_LAZY_MAP] = "lazy_map",
		[VIOL_DIRTY_LOG] = "dirty_log",
		[VIOL_MMIO] = "mmio",
		[VIOL_FORBIDDEN] = "forbidden",
	};
	return (unsigned)c < VIOL_NCAUSES ? names[c] : "?";
}

const char *mem_policy_name(enum mem_policy p)
{
	return p == MEM_LAZY ? "lazy" : "eager";
}

void vm_decode_qual(uint64_t qual, char *buf, size_t len)
{
	size_t n = 0;

#define PUT(...) (n += (size_t)snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__))
	PUT("%s", (qual & EPT_QUAL_FETCH) ? "fetch" :
		  (qual & EPT_QUAL_WRITE) ? "write" :
		  (qual & EPT_QUAL_READ) ? "read" : "no access bits");
	if (qual & (EPT_QUAL_READABLE | EPT_QUAL_WRITABLE | EPT_QUAL_EXECUTABLE))
		PUT(", EPT allows %s%s%s", (qual & EPT_QUAL_READABLE) ? "R" : "",
		    (qual & EPT_QUAL_WRITABLE) ? "W" : "", (qual & EPT_QUAL_EXECUTABLE) ? "X" : "");
	else
		PUT(", not present in EPT");
	if (!(qual & EPT_QUAL_GLA_VALID))
		PUT(", no linear address");
	else if (!(qual & EPT_QUAL_GLA_XLATE))
		PUT(", during a guest page walk");
	else
		/* Bits 9-11 are the guest's U/S, R/W, XD (zero with paging off). */
		PUT(", to the linear address (guest U/S=%d R/W=%d XD=%d)",
		    !!(qual & EPT_QUAL_GUEST_US), !!(qual & EPT_QUAL_GUEST_RW),
		    !!(qual & EPT_QUAL_GUEST_XD));
#undef PUT
}

/* ------------------------------------------------------------------------ */
/* Guest RAM                                                                */
/* ------------------------------------------------------------------------ */

static const struct loader_region *ram_region(const struct vm *vm, uint64_t gpa)
{
	for (unsigned i = 0; i < vm->nram; i++)
		if (gpa >= vm->ram[i].gpa && gpa - vm->ram[i].gpa < vm->ram[i].size)
			return &vm->ram[i];
	return NULL;
}

bool vm_gpa_is_ram(const struct vm *vm, uint64_t gpa, uint64_t len)
{
	const struct loader_region *r = ram_region(vm, gpa);

	if (len == 0)
		return r != NULL;
	return r && len <= r->size - (gpa - r->gpa);
}

/*
 * The frame that holds `gpa` (lazy mapping): the largest page, up to the EPT
 * page size, that is naturally aligned and lies inside the RAM region, as
 * eager mapping would have chosen it.
 */
static void frame_for(const struct vm *vm, const struct loader_region *r, uint64_t gpa,
		      uint64_t *base, uint64_t *size)
{
	for (unsigned shift = vm->cfg.ept_page_shift;; shift -= 9) {
		uint64_t s = 1ULL << shift, b = gpa & ~(s - 1);

		if (shift == PAGE_SHIFT_4K || (b >= r->gpa && b - r->gpa + s <= r->size)) {
			*base = b;
			*size = s;
			return;
		}
	}
}

/* Allocate and map one frame of guest RAM. */
static int map_frame(struct vm *vm, uint64_t gpa, uint64_t size, uint64_t attrs)
{
	uint64_t hpa;
	int rc;

	rc = hpool_alloc(vm->pool, size, FRAME_GUEST, &hpa);
	if (rc)
		return rc;
	rc = ept_map(vm->ept, gpa, hpa, size, attrs, size);
	if (rc)
		hpool_free(vm->pool, hpa, size);
	return rc;
}

static int map_all_ram(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nram; i++) {
		const struct loader_region *r = &vm->ram[i];

		for (uint64_t gpa = r->gpa; gpa - r->gpa < r->size;) {
			uint64_t left = r->size - (gpa - r->gpa), size;
			unsigned shift = vm->cfg.ept_page_shift;
			int rc;

			/* The largest page that starts here and fits. */
			while (shift > PAGE_SHIFT_4K &&
			       ((gpa & ((1ULL << shift) - 1)) || (1ULL << shift) > left))
				shift -= 9;
			size = 1ULL << shift;
			rc = map_frame(vm, gpa, size, RAM_ATTRS);
			if (rc)
				return rc;
			gpa += size;
		}
	}
	return 0;
}

/* Host-physical address of a RAM GPA, or -ENOENT when nothing is mapped
 * there yet. The EPT is the one record of where guest RAM lives. */
static int gpa_to_hpa(struct vm *vm, uint64_t gpa, uint64_t *hpa, uint64_t *page_left)
{
	struct ept_access acc = { .type = ACC_READ };
	struct ept_walk_result res;

	if (ept_walk(vm->ept, gpa, &acc, NULL, &res) != 0 || res.status != EPT_OK)
		return -ENOENT;
	*hpa = res.hpa;
	*page_left = (1ULL << res.page_shift) - (gpa & ((1ULL << res.page_shift) - 1));
	return 0;
}

/* Copy between host and guest RAM in page-sized pieces; `write` maps what a
 * lazy VM has not mapped yet. */
static int copy_gpa(struct vm *vm, uint64_t gpa, void *host, const void *src, uint64_t len,
		    bool write)
{
	if (!vm_gpa_is_ram(vm, gpa, len))
		return -EFAULT;
	while (len) {
		uint64_t hpa, left, n;
		int rc = gpa_to_hpa(vm, gpa, &hpa, &left);

		if (rc == -ENOENT && write) {
			uint64_t base, size;

			frame_for(vm, ram_region(vm, gpa), gpa, &base, &size);
			rc = map_frame(vm, base, size, RAM_ATTRS);
			if (rc)
				return rc;
			vm->cnt.prefault_frames++;
			rc = gpa_to_hpa(vm, gpa, &hpa, &left);
		}
		if (rc)
			return rc == -ENOENT ? -EFAULT : rc;
		n = len < left ? len : left;
		if (write && src)
			memcpy(hpool_ptr(vm->pool, hpa), src, n);
		else if (write)
			memset(hpool_ptr(vm->pool, hpa), 0, n);
		else
			memcpy(host, hpool_ptr(vm->pool, hpa), n);
		gpa += n;
		len -= n;
		if (src)
			src = (const uint8_t *)src + n;
		if (host)
			host = (uint8_t *)host + n;
	}
	return 0;
}

int vm_write_gpa(struct vm *vm, uint64_t gpa, const void *src, uint64_t len)
{
	return copy_gpa(vm, gpa, NULL, src, len, true);
}

int vm_read_gpa(struct vm *vm, uint64_t gpa, void *dst, uint64_t len)
{
	return copy_gpa(vm, gpa, dst, NULL, len, false);
}

static int loader_write(void *ctx, uint64_t gpa, const void *src, uint64_t len)
{
	return vm_write_gpa(ctx, gpa, src, len);
}

/* ------------------------------------------------------------------------ */
/* Dirty tracking                                                           */
/* ------------------------------------------------------------------------ */

static int page_set_init(struct page_set *s, uint64_t npages)
{
	s->npages = npages;
	s->count = 0;
	s->bits = calloc((npages + 63) / 64, sizeof(uint64_t));
	return s->bits ? 0 : -ENOMEM;
}

static void page_set_add(struct page_set *s, uint64_t gpa)
{
	uint64_t pfn = gpa >> PAGE_SHIFT_4K;

	/* Precondition: gpa is RAM, below the span the set covers. */
	if (pfn >= s->npages || (s->bits[pfn / 64] & (1ULL << (pfn % 64))))
		return;
	s->bits[pfn / 64] |= 1ULL << (pfn % 64);
	s->count++;
}

/* The end of the highest RAM region: the span the page sets cover. */
static uint64_t ram_end(const struct vm *vm)
{
	const struct loader_region *r = &vm->ram[vm->nram - 1];

	return r->gpa + r->size;
}

static void discard_dirty(void *ctx, uint64_t gpa, uint64_t size)
{
	(void)ctx;
	(void)gpa;
	(void)size;
}

/*
 * Start dirty tracking: clear every EPT D bit, write-protect every RAM leaf,
 * then invalidate. The invalidation is required: TLB entries created before
 * now still allow writes (and would not set D again), and hardware keeps using
 * a cached translation until INVEPT removes it (SDM 28.3.3.4).
 */
static int dirty_start(struct vm *vm, const char *by)
{
	int rc;

	if (vm->dirty.active)
		return 0;
	rc = page_set_init(&vm->dirty.wp, ram_end(vm) >> PAGE_SHIFT_4K);
	if (!rc)
		rc = page_set_init(&vm->dirty.ad, ram_end(vm) >> PAGE_SHIFT_4K);
	for (unsigned i = 0; !rc && i < vm->nram; i++) {
		rc = ept_harvest_dirty(vm->ept, vm->ram[i].gpa, vm->ram[i].size, discard_dirty, NULL);
		if (!rc)
			rc = ept_protect(vm->ept, vm->ram[i].gpa, vm->ram[i].size, EPT_R | EPT_X);
	}
	if (rc)
		return rc;
	mmu_invept(vm->mmu, INVEPT_SINGLE, ept_eptp(vm->ept));
	vm->cnt.invept++;
	vm->dirty.active = true;
	vm->dirty.started_at = vm->insns;
	vm->dirty.started_by = by;
	return 0;
}

static void collect_dirty(void *ctx, uint64_t gpa, uint64_t size)
{
	struct page_set *s = ctx;

	for (uint64_t off = 0; off < size; off += PAGE_SIZE_4K)
		page_set_add(s, gpa + off);
}

int vm_dirty_harvest(struct vm *vm)
{
	if (!vm->dirty.active || vm->dirty.harvested)
		return 0;
	for (unsigned i = 0; i < vm->nram; i++) {
		int rc = ept_harvest_dirty(vm->ept, vm->ram[i].gpa, vm->ram[i].size, collect_dirty,
					   &vm->dirty.ad);
		if (rc)
			return rc;
	}
	vm->dirty.harvested = true;
	return 0;
}

bool vm_dirty_agree(const struct vm *vm)
{
	const struct page_set *a = &vm->dirty.wp, *b = &vm->dirty.ad;

	if (!vm->dirty.active)
		return true;
	if (a->count != b->count)
		return false;
	return memcmp(a->bits, b->bits, (a->npages + 63) / 64 * sizeof(uint64_t)) == 0;
}

/* ------------------------------------------------------------------------ */
/* Creation                                                                 */
/* ------------------------------------------------------------------------ */

static void layout_memory(struct vm *vm)
{
	uint64_t size = vm->cfg.mem_size;
	uint64_t low = size < VM_LOW_RAM_MAX ? size : VM_LOW_RAM_MAX;

	vm->ram[0] = (struct loader_region){ 0, low, E820_RAM };
	vm->nram = 1;
	if (size > low)
		vm->ram[vm->nram++] = (struct loader_region){ VM_HIGH_RAM_GPA, size - low, E820_RAM };

	/*
	 * The map the guest sees, laid out like a PC's (and QEMU's): 639 KiB
	 * of conventional memory, the extended BIOS data area and the BIOS
	 * reserved, then RAM from 1 MiB. The same kernel then counts the same
	 * RAM under hv and under QEMU.
	 */
	vm->map[0] = (struct loader_region){ 0, 0x9fc00, E820_RAM };
	vm->map[1] = (struct loader_region){ 0x9fc00, 0x400, E820_RESERVED };
	vm->map[2] = (struct loader_region){ 0xf0000, 0x10000, E820_RESERVED };
	vm->map[3] = (struct loader_region){ 0x100000, low - 0x100000, E820_RAM };
	vm->nmap = 4;
	if (vm->nram == 2)
		vm->map[vm->nmap++] = vm->ram[1];
}

static int check_config(const struct vm_config *cfg, char *err, size_t errlen)
{
	unsigned gpa_bits = cfg->ept_levels == 5 ? 57 : 48;
	uint64_t top;

	if (cfg->ept_levels != 4 && cfg->ept_levels != 5)
		return errmsg(err, errlen, -EINVAL, "EPT levels must be 4 or 5 (got %u)", cfg->ept_levels);
	if (cfg->ept_page_shift != PAGE_SHIFT_4K && cfg->ept_page_shift != PAGE_SHIFT_2M &&
	    cfg->ept_page_shift != PAGE_SHIFT_1G)
		return errmsg(err, errlen, -EINVAL, "EPT page size must be 4K, 2M or 1G");
	if (cfg->mem_size < (2ULL << 20) || (cfg->mem_size & (PAGE_SIZE_4K - 1)))
		return errmsg(err, errlen, -EINVAL,
			      "guest memory must be at least 2M and a multiple of 4K (got %" PRIu64 " bytes)",
			      cfg->mem_size);
	top = cfg->mem_size > VM_LOW_RAM_MAX ? VM_HIGH_RAM_GPA + (cfg->mem_size - VM_LOW_RAM_MAX)
					     : cfg->mem_size;
	if (top < cfg->mem_size || (top - 1) >> gpa_bits)
		return errmsg(err, errlen, -ERANGE,
			      "guest memory of %" PRIu64 " bytes does not fit the %u-bit GPA space of %u-level EPT",
			      cfg->mem_size, gpa_bits, cfg->ept_levels);
	if (!cfg->ops)
		return errmsg(err, errlen, -EINVAL, "no vCPU backend");
	return 0;
}

static int add_devices(struct vm *vm)
{
	int rc;

	uart_init(&vm->uart, vm->cfg.serial_out, vm->cfg.serial_in_fd);
	pci_host_init(&vm->pci);
	rc = dev_bus_add(&vm->bus, &uart_ops, UINT64_MAX, &vm->uart, NULL);
	if (!rc)
		rc = dev_bus_add(&vm->bus, &debugexit_ops, UINT64_MAX, NULL, NULL);
	if (!rc)
		rc = dev_bus_add(&vm->bus, &pci_host_ops, UINT64_MAX, &vm->pci, NULL);
	if (!rc)
		rc = dev_bus_add(&vm->bus, &hvtest_ops, UINT64_MAX, &vm->hvtest, NULL);
	if (rc)
		return rc;
	/* Tell the backend which non-RAM GPAs are devices: accesses there are
	 * MMIO exits, anything else outside RAM stays an EPT violation. */
	for (unsigned i = 0; i < vm->bus.n; i++)
		if (vm->bus.dev[i].ops->space == DEV_MMIO)
			vm->mmio[vm->nmmio++] = (struct gpa_range){ vm->bus.dev[i].base, vm->bus.dev[i].len };
	return 0;
}

int vm_create(const struct vm_config *cfg, struct vm **out, char *err, size_t errlen)
{
	const struct ept_caps caps = { .exec_only = true, .page_1g = true, .mbec = false };
	struct vcpu_config vcfg;
	struct vm *vm;
	char why[160] = "";
	int rc;

	rc = check_config(cfg, err, errlen);
	if (rc)
		return rc;
	if (cfg->ops->probe) {
		rc = cfg->ops->probe(why, sizeof(why));
		if (rc)
			return errmsg(err, errlen, rc, "the %s backend cannot run here: %s",
				      cfg->ops->name, why);
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	vm->cfg = *cfg;
	vm->ops = cfg->ops;
	layout_memory(vm);

	/* The reservation is sparse: room for all of RAM, the EPT tables (a
	 * 4 KiB table per 2 MiB of 4 KiB-mapped RAM, well under 1%) and the
	 * alignment of the largest pages. Only what is touched costs memory. */
	rc = hpool_create(cfg->mem_size + cfg->mem_size / 256 + (2ULL << 30), &vm->pool);
	if (rc) {
		errmsg(err, errlen, rc, "cannot reserve host memory for the guest: %s", strerror(-rc));
		goto out_free;
	}
	rc = ept_create(vm->pool, cfg->ept_levels, true, &caps, &vm->ept);
	if (rc) {
		errmsg(err, errlen, rc, "cannot create the EPT: %s", strerror(-rc));
		goto out_pool;
	}
	rc = mmu_create(vm->pool, &cfg->mmu, &vm->mmu);
	if (rc) {
		errmsg(err, errlen, rc, "cannot create the translation model: %s", strerror(-rc));
		goto out_ept;
	}
	if (cfg->policy == MEM_EAGER) {
		rc = map_all_ram(vm);
		if (rc) {
			errmsg(err, errlen, rc, "cannot map %" PRIu64 " bytes of guest RAM: %s",
			       cfg->mem_size, strerror(-rc));
			goto out_mmu;
		}
	}
	rc = add_devices(vm);
	if (rc) {
		errmsg(err, errlen, rc, "cannot register the devices: %s", strerror(-rc));
		goto out_mmu;
	}
	vcfg = (struct vcpu_config){
		.pool = vm->pool,
		.ept = vm->ept,
		.mmu = vm->mmu,
		.vpid = 1,
		.mem_size = cfg->mem_size,
		.mmio = vm->mmio,
		.nmmio = vm->nmmio,
	};
	rc = vm->ops->create(&vcfg, &vm->vcpu);
	if (rc) {
		errmsg(err, errlen, rc, "cannot create the %s vCPU: %s", vm->ops->name, strerror(-rc));
		goto out_mmu;
	}
	*out = vm;
	return 0;

out_mmu:
	mmu_destroy(vm->mmu);
out_ept:
	ept_destroy(vm->ept);
out_pool:
	hpool_destroy(vm->pool);
out_free:
	free(vm);
	return rc;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	vm->ops->destroy(vm->vcpu);
	mmu_destroy(vm->mmu);
	ept_destroy(vm->ept);
	hpool_destroy(vm->pool);
	free(vm->dirty.wp.bits);
	free(vm->dirty.ad.bits);
	free(vm);
}

/* PVH and multiboot both start here: 32-bit protected mode, paging off, flat
 * 4 GiB code and data segments, interrupts off (PVH ABI; Multiboot 3.2). */
static int set_entry_state(struct vm *vm)
{
	const struct vcpu_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = 0x10, .type = 0xb, .s = 1,
		.dpl = 0, .present = 1, .db = 1, .g = 1,
	};
	const struct vcpu_segment data = {
		.base = 0, .limit = 0xffffffff, .selector = 0x18, .type = 0x3, .s = 1,
		.dpl = 0, .present = 1, .db = 1, .g = 1,
	};
	struct vcpu_sregs s;
	struct vcpu_regs r;
	int rc;

	rc = vm->ops->get_sregs(vm->vcpu, &s);
	if (rc)
		return rc;
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.tr = (struct vcpu_segment){ .limit = 0xffff, .type = 0xb, .present = 1 };
	s.ldt = (struct vcpu_segment){ .unusable = 1 };
	s.gdt = (struct vcpu_dtable){ 0, 0 };
	s.idt = (struct vcpu_dtable){ 0, 0 };
	s.cr0 = CR0_PE | (1ULL << 4); /* PE, ET */
	s.cr2 = s.cr3 = s.cr4 = s.cr8 = 0;
	s.efer = 0;
	rc = vm->ops->set_sregs(vm->vcpu, &s);
	if (rc)
		return rc;
	memset(&r, 0, sizeof(r));
	r.rip = vm->boot.entry;
	r.rflags = 0x2; /* bit 1 is always set */
	r.gpr[0] = vm->boot.eax;
	r.gpr[3] = vm->boot.ebx;
	return vm->ops->set_regs(vm->vcpu, &r);
}

int vm_load(struct vm *vm, const char *path, const char *cmdline, char *err, size_t errlen)
{
	const struct loader_target t = {
		.write = loader_write, .ctx = vm, .map = vm->map, .nmap = vm->nmap,
	};
	int rc;

	rc = loader_load_file(path, cmdline, &t, &vm->boot, err, errlen);
	if (rc)
		return rc;
	rc = set_entry_state(vm);
	if (rc)
		return errmsg(err, errlen, rc, "cannot set the vCPU entry state: %s", strerror(-rc));
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The exit loop                                                            */
/* ------------------------------------------------------------------------ */

static void vm_stop(struct vm *vm, enum vm_stop_reason reason, int status, uint64_t rip,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void vm_stop(struct vm *vm, enum vm_stop_reason reason, int status, uint64_t rip,
		    const char *fmt, ...)
{
	va_list ap;

	vm->stop.reason = reason;
	vm->stop.status = status;
	vm->stop.rip = rip;
	va_start(ap, fmt);
	vsnprintf(vm->stop.msg, sizeof(vm->stop.msg), fmt, ap);
	va_end(ap);
}

/* Stop for an access to a GPA that is neither RAM nor a device. */
static void stop_forbidden(struct vm *vm, uint64_t gpa, uint64_t gva, uint64_t qual,
			   uint64_t rip, const char *what)
{
	char q[256];

	vm->cnt.violations[VIOL_FORBIDDEN]++;
	vm_decode_qual(qual, q, sizeof(q));
	vm_stop(vm, VM_STOP_FORBIDDEN_GPA, VM_STATUS_GUEST, rip,
		"GPA 0x%" PRIx64 " is neither RAM nor a device (%s)\n"
		"GVA %s0x%" PRIx64 ", RIP 0x%" PRIx64 ", exit qualification 0x%" PRIx64 ":\n"
		"  %s",
		gpa, what, (qual & EPT_QUAL_GLA_VALID) ? "" : "(not valid) ",
		(qual & EPT_QUAL_GLA_VALID) ? gva : 0, rip, qual, q);
}

/* MMIO to a device window: emulate the access. false when no device is there. */
static bool mmio_access(struct vm *vm, struct vcpu_exit *e)
{
	struct device *d = dev_bus_find(&vm->bus, DEV_MMIO, e->mmio.gpa, e->mmio.size);

	if (!d)
		return false;
	if (e->mmio.write) {
		vm->cnt.mmio_writes++;
		d->ops->write(d, e->mmio.gpa - d->base, e->mmio.size, e->mmio.data & dev_ones(e->mmio.size));
	} else {
		vm->cnt.mmio_reads++;
		e->mmio.data = d->ops->read(d, e->mmio.gpa - d->base, e->mmio.size) & dev_ones(e->mmio.size);
	}
	return true;
}

/*
 * EPT violation on a RAM GPA: map it (lazy) or log it (dirty tracking).
 * Returns 0 to resume the guest, which re-executes the faulting instruction.
 */
static int ram_violation(struct vm *vm, const struct vcpu_exit *e)
{
	uint64_t gpa = e->ept.gpa, qual = e->ept.qual;
	bool mapped = qual & (EPT_QUAL_READABLE | EPT_QUAL_WRITABLE | EPT_QUAL_EXECUTABLE);
	int rc;

	if (!mapped && vm->cfg.policy == MEM_LAZY) {
		uint64_t base, size;

		frame_for(vm, ram_region(vm, gpa), gpa, &base, &size);
		/*
		 * Not present -> present needs no invalidation: translations
		 * that fail are never cached (SDM 28.3.2), so the re-executed
		 * instruction walks again and finds the new entry. During dirty
		 * tracking the frame starts read-only like all RAM, so that a
		 * first write is logged by both methods.
		 */
		rc = map_frame(vm, base, size, vm->dirty.active ? RAM_ATTRS_WP : RAM_ATTRS);
		if (rc)
			return rc;
		vm->cnt.violations[VIOL_LAZY_MAP]++;
		vm->cnt.lazy_frames++;
		return 0;
	}
	if (mapped && vm->dirty.active && (qual & EPT_QUAL_WRITE) && !(qual & EPT_QUAL_WRITABLE)) {
		uint64_t page = gpa & ~(PAGE_SIZE_4K - 1);

		uint64_t tables = vm->ept->table_pages;

		page_set_add(&vm->dirty.wp, page);
		/*
		 * Give W back to this 4 KiB page only (ept_protect splits a
		 * large leaf). Raising a permission needs no INVEPT by itself:
		 * an EPT violation invalidates the cached translations of the
		 * faulting GPA (SDM 28.3.3.1). Freeing a table does: once the
		 * last page of a table has W again, ept_protect folds it back
		 * into one large leaf, and the guest-physical paging-structure
		 * caches may still point at the freed table (SDM 28.3.3.4).
		 */
		rc = ept_protect(vm->ept, page, PAGE_SIZE_4K, RAM_ATTRS & EPT_RWX);
		if (rc)
			return rc;
		if (vm->ept->table_pages < tables) {
			mmu_invept(vm->mmu, INVEPT_SINGLE, ept_eptp(vm->ept));
			vm->cnt.invept++;
		}
		vm->cnt.violations[VIOL_DIRTY_LOG]++;
		return 0;
	}
	return -EPROTO;
}

static void handle_hypercall(struct vm *vm, struct vcpu_exit *e)
{
	vm->cnt.hypercalls++;
	switch (e->hypercall.nr) {
	case HC_DIRTY_TRACK_START:
		e->hypercall.ret = dirty_start(vm, "hypercall") ? HC_ENOSYS : 0;
		break;
	default:
		vm->cnt.hypercalls_unknown++;
		e->hypercall.ret = HC_ENOSYS;
		break;
	}
}

/* The next run() budget: a slice, cut short so that --max-insns and
 * --dirty-track-after land on the exact instruction. */
static uint64_t next_budget(const struct vm *vm)
{
	uint64_t b = RUN_SLICE;

	if (vm->cfg.max_insns && vm->cfg.max_insns - vm->insns < b)
		b = vm->cfg.max_insns - vm->insns;
	if (vm->cfg.dirty_track_after && !vm->dirty.active && vm->cfg.dirty_track_after > vm->insns &&
	    vm->cfg.dirty_track_after - vm->insns < b)
		b = vm->cfg.dirty_track_after - vm->insns;
	return b;
}

static void update_insns(struct vm *vm)
{
	struct vcpu_stats st;

	vm->ops->get_stats(vm->vcpu, &st);
	vm->insns = st.instructions;
}

/*
 * Run the guest until it stops. Every exit of either backend is handled in
 * the one switch below; a case either completes the exit and resumes the
 * guest, or records why the VM stops.
 */
int vm_run(struct vm *vm)
{
	struct vcpu_exit e = { 0 };
	char q[256];
	int rc;

	while (vm->stop.reason == VM_RUNNING) {
		/* Points decided by instruction count, checked between slices. */
		if (vm->cfg.dirty_track_after && !vm->dirty.active &&
		    vm->insns >= vm->cfg.dirty_track_after) {
			rc = dirty_start(vm, "option");
			if (rc) {
				vm_stop(vm, VM_STOP_HOST_ERROR, VM_STATUS_HOST, 0,
					"cannot start dirty tracking: %s", strerror(-rc));
				return rc;
			}
		}
		if (vm->cfg.max_insns && vm->insns >= vm->cfg.max_insns) {
			struct vcpu_regs r;

			if (vm->ops->get_regs(vm->vcpu, &r))
				r.rip = 0;
			vm_stop(vm, VM_STOP_INSN_LIMIT, VM_STATUS_LIMIT, r.rip,
				"stopped after %" PRIu64 " instructions (--max-insns)", vm->insns);
			break;
		}
		if (vm->progress)
			vm->progress(vm, vm->progress_ctx);

		rc = vm->ops->run(vm->vcpu, next_budget(vm), &e);
		update_insns(vm);
		if (rc) {
			vm_stop(vm, VM_STOP_HOST_ERROR, VM_STATUS_HOST, e.rip,
				"the %s backend failed: %s", vm->ops->name, strerror(-rc));
			return rc;
		}
		if ((unsigned)e.reason <= VCPU_EXIT_INTERNAL_ERROR)
			vm->cnt.exits[e.reason]++;

		switch (e.reason) {
		case VCPU_EXIT_IO:
			if (e.io.in)
				e.io.data = (uint32_t)dev_bus_pio_read(&vm->bus, e.io.port, e.io.size);
			else
				dev_bus_pio_write(&vm->bus, e.io.port, e.io.size, e.io.data);
			if (vm->bus.stop)
				vm_stop(vm, VM_STOP_DEBUG_EXIT, debugexit_status(vm->bus.stop_value), e.rip,
					"guest wrote 0x%" PRIx64 " to isa-debug-exit (status %d)",
					vm->bus.stop_value, debugexit_status(vm->bus.stop_value));
			break;

		case VCPU_EXIT_MMIO:
			if (mmio_access(vm, &e)) {
				vm->cnt.violations[VIOL_MMIO]++;
				break;
			}
			stop_forbidden(vm, e.mmio.gpa, 0, e.mmio.write ? EPT_QUAL_WRITE : EPT_QUAL_READ,
				       e.rip, e.mmio.write ? "MMIO write" : "MMIO read");
			break;

		case VCPU_EXIT_EPT_VIOLATION:
			if (vm_gpa_is_ram(vm, e.ept.gpa, 1)) {
				rc = ram_violation(vm, &e);
				if (rc == 0)
					break;
				vm_decode_qual(e.ept.qual, q, sizeof(q));
				vm_stop(vm, VM_STOP_HOST_ERROR, VM_STATUS_HOST, e.rip,
					"unexpected EPT violation on guest RAM at GPA 0x%" PRIx64 ": %s\n"
					"  exit qualification 0x%" PRIx64 ": %s\n  GVA 0x%" PRIx64 ", RIP 0x%" PRIx64,
					e.ept.gpa, rc == -EPROTO ? "no handler applies" : strerror(-rc),
					e.ept.qual, q, e.ept.gva, e.rip);
				return rc == -EPROTO ? -EFAULT : rc;
			}
			if (dev_bus_find(&vm->bus, DEV_MMIO, e.ept.gpa, 1)) {
				/* A backend that reports device windows as plain
				 * violations cannot have the access emulated. */
				vm->cnt.violations[VIOL_MMIO]++;
				vm_stop(vm, VM_STOP_INTERNAL_ERROR, VM_STATUS_HOST, e.rip,
					"the %s backend reported MMIO at GPA 0x%" PRIx64
					" as an EPT violation, not an MMIO exit", vm->ops->name, e.ept.gpa);
				break;
			}
			stop_forbidden(vm, e.ept.gpa, e.ept.gva, e.ept.qual, e.rip, "EPT violation");
			break;

		case VCPU_EXIT_EPT_MISCONFIG:
			vm_stop(vm, VM_STOP_EPT_MISCONFIG, VM_STATUS_GUEST, e.rip,
				"EPT misconfiguration at GPA 0x%" PRIx64 ", RIP 0x%" PRIx64
				" (an EPT entry hv wrote is invalid)", e.ept.gpa, e.rip);
			break;

		case VCPU_EXIT_HYPERCALL:
			handle_hypercall(vm, &e);
			break;

		case VCPU_EXIT_HLT:
			/* No interrupt source can wake the vCPU: this is the end. */
			vm_stop(vm, VM_STOP_HLT, VM_STATUS_HALT, e.rip,
				"guest halted (HLT at RIP 0x%" PRIx64 ", nothing can wake it)", e.rip);
			break;

		case VCPU_EXIT_TRIPLE_FAULT:
			{
				/* The backend's message may already name the event. */
				const char *m = e.fail.msg[0] ? e.fail.msg : "no exception handler could be delivered";

				if (strncmp(m, "triple fault: ", 14) == 0)
					m += 14;
				vm_stop(vm, VM_STOP_TRIPLE_FAULT, VM_STATUS_GUEST, e.rip,
					"triple fault at RIP 0x%" PRIx64 ": %s", e.rip, m);
			}
			break;

		case VCPU_EXIT_INSN_LIMIT:
		case VCPU_EXIT_NONE:
			/* The slice ended: the checks at the top of the loop decide. */
			break;

		case VCPU_EXIT_INTERNAL_ERROR:
			vm_stop(vm, VM_STOP_INTERNAL_ERROR, VM_STATUS_GUEST, e.rip,
				"vCPU stopped at RIP 0x%" PRIx64 ": %s", e.rip,
				e.fail.msg[0] ? e.fail.msg : "internal error");
			break;

		default:
			vm_stop(vm, VM_STOP_HOST_ERROR, VM_STATUS_HOST, e.rip,
				"unknown exit reason %d from the %s backend", (int)e.reason, vm->ops->name);
			return -EPROTO;
		}
	}
	return 0;
}
