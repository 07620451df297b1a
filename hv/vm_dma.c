/* SPDX-License-Identifier: MIT */
/*
 * hv/vm_dma.c - the VM's DMA side (hv/vm_dma.h): edu's DMA path through the
 * VT-d unit or straight to guest-physical memory, the unit's register window
 * on the MMIO bus, MSIs to the local APIC, and the canary page.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hv/vm_dma.h"
#include "hv/vm_internal.h"

/* The frame of ROM (--rom) at gpa: its HPA; false outside every ROM. */
static bool rom_hpa(struct vm *vm, uint64_t gpa, uint64_t *hpa)
{
	uint64_t perms;
	unsigned shift;

	return vm_rom_at(vm, gpa) && ept_lookup(vm->ept, gpa, hpa, &shift, &perms) == 0;
}

/* The unit's second stage: its "physical" addresses are guest-physical. A
 * ROM is read in place; a write to it is -EROFS, dropped by the ROM (the
 * guest's tables allowed it, so it is no remapping fault). */
static int dma_stage2(void *ctx, uint64_t gpa, bool write, uint64_t *hpa, unsigned *refs)
{
	struct vm *vm = ctx;
	int rc;

	rc = vm_gpa_to_hpa(vm, gpa, hpa, refs);
	if (rc && rom_hpa(vm, gpa, hpa)) {
		if (write) {
			vm->dma->rom_writes++;
			return -EROFS;
		}
		rc = 0;
	}
	vm->dma->stage2_refs += *refs;
	/* The unit writes whole pieces within one page (DMA data, a wait
	 * descriptor's status): log the page. */
	if (!rc && write)
		vm_dirty_dma(vm, gpa, 1);
	return rc;
}

/* hv's unit in front of a pass-through device: its IOVAs are GPAs. */
static void dma_written(void *ctx, uint64_t iova, uint64_t len)
{
	vm_dirty_dma(ctx, iova, len);
}

static void dma_msi(void *ctx, uint64_t addr, uint32_t data)
{
	struct vm *vm = ctx;

	/* An MSI to an address the APIC does not decode is a write to nowhere. */
	(void)lapic_msi(&vm->lapic, addr, data);
	vm->dma->msis++;
}

static int run_cmp(const void *a, const void *b)
{
	const struct vm_dma_run *x = a, *y = b;

	return x->hpa < y->hpa ? -1 : x->hpa > y->hpa;
}

/* The runs of guest RAM by HPA, from EPT lookups over every RAM region
 * (pages not mapped yet, as under lazy RAM, are left out). */
static int runs_build(struct vm *vm)
{
	struct vm_dma *d = vm->dma;
	size_t n = 0, cap = 16;
	struct vm_dma_run *r = malloc(cap * sizeof(*r));

	if (!r)
		return -ENOMEM;
	for (unsigned i = 0; i < vm->nram; i++) {
		uint64_t end = vm->ram[i].gpa + vm->ram[i].size;

		for (uint64_t gpa = vm->ram[i].gpa, next; gpa < end; gpa = next) {
			uint64_t hpa, perms, len;
			unsigned shift;
			int rc = ept_lookup(vm->ept, gpa, &hpa, &shift, &perms);

			next = (gpa | ((1ULL << (rc ? 12 : shift)) - 1)) + 1;
			if (next > end)
				next = end;
			if (rc)
				continue;
			len = next - gpa;
			if (n && r[n - 1].gpa + r[n - 1].len == gpa && r[n - 1].hpa + r[n - 1].len == hpa) {
				r[n - 1].len += len;
				continue;
			}
			if (n == cap) {
				struct vm_dma_run *t = realloc(r, 2 * cap * sizeof(*r));

				if (!t) {
					free(r);
					return -ENOMEM;
				}
				r = t;
				cap *= 2;
			}
			r[n++] = (struct vm_dma_run){ .hpa = hpa, .gpa = gpa, .len = len };
		}
	}
	qsort(r, n, sizeof(*r), run_cmp);
	free(d->runs);
	d->runs = r;
	d->nruns = n;
	d->run_builds++;
	return 0;
}

/* The GPA EPT maps to `hpa`, by the runs (checked against EPT). */
static bool runs_find(struct vm *vm, uint64_t hpa, uint64_t *gpa)
{
	const struct vm_dma *d = vm->dma;
	size_t lo = 0, hi = d->nruns;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct vm_dma_run *r = &d->runs[mid];

		if (hpa < r->hpa)
			hi = mid;
		else if (hpa - r->hpa >= r->len)
			lo = mid + 1;
		else {
			uint64_t got, perms;
			unsigned shift;

			*gpa = r->gpa + (hpa - r->hpa);
			return ept_lookup(vm->ept, *gpa, &got, &shift, &perms) == 0 && got == hpa;
		}
	}
	return false;
}

/*
 * A pass-through device's write without an IOMMU reached HPA [hpa, hpa +
 * len) (within one frame): counted by the frame's owner; in a frame of
 * guest RAM, the GPA EPT maps to it goes into the DMA write log. A frame of
 * guest RAM the runs do not explain (mapped or moved since they were built)
 * makes them be rebuilt.
 */
static void dma_host_write(struct vm *vm, uint64_t hpa, uint64_t len)
{
	struct vm_dma *d = vm->dma;
	uint64_t gpa;

	if (hpool_owner(vm->pool, hpa) != FRAME_GUEST) {
		d->hpa_writes_hv++;
		return;
	}
	d->hpa_writes_ram++;
	d->last_ram_hpa = hpa;
	d->last_ram_gpa = ~0ULL;
	if (!runs_find(vm, hpa, &gpa) && (runs_build(vm) || !runs_find(vm, hpa, &gpa)))
		return;
	d->last_ram_gpa = gpa;
	vm_dirty_dma(vm, gpa, len);
}

/*
 * Without an IOMMU the bus address is the GPA (host false) or, for a device
 * passed through, the HPA (host true): whatever frame it names is reached,
 * hv's own included, and a frame nobody owns has no memory behind it (the
 * request is aborted).
 */
static int dma_direct(struct vm *vm, uint64_t addr, void *buf, uint64_t len, bool write, bool host)
{
	uint8_t *b = buf;

	while (len) {
		uint64_t chunk = PAGE_SIZE_4K - (addr & (PAGE_SIZE_4K - 1)), hpa = addr;
		unsigned refs = 0;
		int rc = 0;

		if (chunk > len)
			chunk = len;
		if (!host)
			rc = vm_gpa_to_hpa(vm, addr, &hpa, &refs);
		else if (addr >= vm->pool->size || hpool_owner(vm->pool, addr) == FRAME_FREE)
			rc = -EFAULT;
		vm->dma->stage2_refs += refs;
		/* A ROM: read in place, a write dropped there. */
		if (rc && !host && rom_hpa(vm, addr, &hpa)) {
			rc = 0;
			if (write) {
				vm->dma->rom_writes++;
				b += chunk;
				addr += chunk;
				len -= chunk;
				continue;
			}
		}
		if (rc)
			return rc;
		if (write)
			memcpy(hpool_ptr(vm->pool, hpa), b, chunk);
		else
			memcpy(b, hpool_ptr(vm->pool, hpa), chunk);
		if (write && !host)
			vm_dirty_dma(vm, addr, chunk);
		else if (write)
			dma_host_write(vm, hpa, chunk);
		b += chunk;
		addr += chunk;
		len -= chunk;
	}
	return 0;
}

static int edu_dma(void *ctx, uint16_t sid, uint64_t addr, void *buf, uint64_t len, bool write,
		   unsigned *reason)
{
	struct vm *vm = ctx;
	struct iommu_xlate x;
	int rc;

	*reason = 0;
	if (len == 0 || addr + len - 1 < addr)
		return -EINVAL;
	if (vm->dma->iommu) {
		rc = iommu_dma(vm->dma->iommu, sid, addr, buf, len, write, &x);
		if (rc == -EFAULT && x.reason)
			*reason = x.reason;
	} else {
		rc = dma_direct(vm, addr, buf, len, write, vm->dma->passthrough);
	}
	if (rc && !*reason)
		vm->dma->aborts++;
	return rc;
}

/* The unit's window: priv is the VM (its vm_dma holds the unit). */
static uint64_t vtd_read(struct device *dev, uint64_t off, unsigned size)
{
	struct vm_dma *d = ((struct vm *)dev->priv)->dma;

	d->vtd_reads++;
	return iommu_reg_read(d->iommu, off, size);
}

static void vtd_write(struct device *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct vm_dma *d = ((struct vm *)dev->priv)->dma;

	d->vtd_writes++;
	iommu_reg_write(d->iommu, off, size, val);
}

static void vtd_reset(struct device *dev)
{
	iommu_reset(((struct vm *)dev->priv)->dma->iommu);
}

/* VT-d chapter 11: the register block, at QEMU's default base. */
static const struct device_ops vtd_mmio_ops = {
	.name = "vt-d",
	.space = DEV_MMIO,
	.base = IOMMU_BASE,
	.len = IOMMU_LEN,
	.read = vtd_read,
	.write = vtd_write,
	.reset = vtd_reset,
};

/* ------------------------------------------------------------------------ */
/* Pass-through                                                             */
/* ------------------------------------------------------------------------ */

/* edu's registers in the order the device takes in what the guest wrote
 * (lowest offset first, so that a DMA's addresses and count are in place
 * before its command), and whether a write there does anything. */
static const struct { uint16_t off; uint8_t size; bool writable; } pt_regs[] = {
	{ EDU_ID, 4, false },         { EDU_LIVENESS, 4, true },   { EDU_FACTORIAL, 4, true },
	{ EDU_STATUS, 4, true },      { EDU_IRQ_STATUS, 4, false }, { EDU_IRQ_RAISE, 4, true },
	{ EDU_IRQ_ACK, 4, true },     { EDU_DMA_SRC, 8, true },    { EDU_DMA_DST, 8, true },
	{ EDU_DMA_CNT, 8, true },     { EDU_DMA_CMD, 8, true },
};

/*
 * One register of the page, read or replaced as a whole: on KVM the guest
 * writes the page while the device looks at it, from another CPU.
 */
static uint64_t reg_load(const uint8_t *p, unsigned size)
{
	if (size == 4)
		return __atomic_load_n((const uint32_t *)(const void *)p, __ATOMIC_ACQUIRE);
	return __atomic_load_n((const uint64_t *)(const void *)p, __ATOMIC_ACQUIRE);
}

/* Replace `was` by `v`, unless the guest has written the register since
 * (false: its write stays, and the device takes it at its next look). */
static bool reg_replace(uint8_t *p, unsigned size, uint64_t was, uint64_t v)
{
	if (size == 4) {
		uint32_t w = (uint32_t)was;

		return __atomic_compare_exchange_n((uint32_t *)(void *)p, &w, (uint32_t)v, false,
						   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	}
	return __atomic_compare_exchange_n((uint64_t *)(void *)p, &was, v, false, __ATOMIC_SEQ_CST,
					   __ATOMIC_SEQ_CST);
}

#define PT_NREGS (sizeof(pt_regs) / sizeof(pt_regs[0]))

/* The device writes its registers into the page (the write-only ones read
 * 0). seen: what the device found there at this look (NULL: the page is
 * the device's alone, before the guest runs). */
static void pt_publish(struct vm_dma *d, uint8_t *page, const uint64_t *seen)
{
	for (size_t i = 0; i < PT_NREGS; i++) {
		uint8_t *p = page + pt_regs[i].off, *sh = d->shadow + pt_regs[i].off;
		uint64_t v = 0;

		if (pt_regs[i].off != EDU_IRQ_RAISE && pt_regs[i].off != EDU_IRQ_ACK)
			v = edu_reg_get(&d->edu, pt_regs[i].off, pt_regs[i].size);
		if (!seen)
			memcpy(p, &v, pt_regs[i].size);
		else if (v != seen[i] && !reg_replace(p, pt_regs[i].size, seen[i], v))
			v = seen[i];
		memcpy(sh, &v, pt_regs[i].size);
	}
}

void vm_dma_poll(struct vm *vm)
{
	struct vm_dma *d = vm->dma;
	uint8_t *page = hpool_ptr(vm->pool, d->bar_hpa);
	uint64_t now[PT_NREGS];

	d->polls++;
	/* The page, highest register first: the DMA command (the highest) is
	 * read before the addresses and count it uses, so a command seen here
	 * comes with what the guest wrote before it (x86 keeps one CPU's
	 * stores in order and these loads in order). */
	for (size_t i = PT_NREGS; i-- > 0;)
		now[i] = reg_load(page + pt_regs[i].off, pt_regs[i].size);
	/* A register whose bytes differ from what the device left there was
	 * written; several writes of one register between two looks are one. */
	for (size_t i = 0; i < PT_NREGS; i++) {
		uint64_t was = 0;

		memcpy(&was, d->shadow + pt_regs[i].off, pt_regs[i].size);
		if (now[i] == was || !pt_regs[i].writable)
			continue;
		d->noticed++;
		edu_reg_set(&d->edu, pt_regs[i].off, pt_regs[i].size, now[i]);
	}
	pt_publish(d, page, now);
}

bool vm_dma_hlt_look(struct vm *vm)
{
	struct vm_dma *d = vm->dma;
	uint64_t msis;

	if (!d || !d->passthrough)
		return false;
	msis = d->msis;
	d->hlt_looks++;
	vm_dma_poll(vm);
	if (d->msis == msis)
		return false;
	d->hlt_wakes++;
	return true;
}

/* ------------------------------------------------------------------------ */
/* The device's own thread (KVM)                                            */
/* ------------------------------------------------------------------------ */

/* The device looks at its page every VM_DMA_POLL_US; an MSI it raised is
 * in the local APIC, and the vCPU is kicked out of the guest to take it. */
static void *device_main(void *arg)
{
	struct vm *vm = arg;
	struct vm_dma *d = vm->dma;
	const struct timespec period = { 0, VM_DMA_POLL_US * 1000L };

	while (!__atomic_load_n(&d->quit, __ATOMIC_ACQUIRE)) {
		uint64_t msis;

		nanosleep(&period, NULL);
		pthread_mutex_lock(&d->lock);
		msis = d->msis;
		vm_dma_poll(vm);
		if (d->msis != msis)
			vm_kick(vm);
		pthread_mutex_unlock(&d->lock);
	}
	return NULL;
}

int vm_dma_thread_start(struct vm *vm)
{
	struct vm_dma *d = vm->dma;
	int rc;

	if (!d || !d->passthrough || vm->ops->counts_instructions || d->threaded)
		return 0;
	rc = -pthread_mutex_init(&d->lock, NULL);
	if (rc)
		return rc;
	d->quit = false;
	rc = -pthread_create(&d->thread, NULL, device_main, vm);
	if (rc) {
		pthread_mutex_destroy(&d->lock);
		return rc;
	}
	d->threaded = true;
	return 0;
}

void vm_dma_thread_stop(struct vm *vm)
{
	struct vm_dma *d = vm->dma;

	if (!d || !d->threaded)
		return;
	__atomic_store_n(&d->quit, true, __ATOMIC_RELEASE);
	pthread_join(d->thread, NULL);
	pthread_mutex_destroy(&d->lock);
	d->threaded = false;
}

void vm_dma_lock(struct vm *vm)
{
	if (vm->dma && vm->dma->threaded)
		pthread_mutex_lock(&vm->dma->lock);
}

void vm_dma_unlock(struct vm *vm)
{
	if (vm->dma && vm->dma->threaded)
		pthread_mutex_unlock(&vm->dma->lock);
}

/* BAR0's register page becomes a frame mapped through EPT (read/write,
 * uncacheable); the rest of BAR0 stays an emulated window. */
static int passthrough_create(struct vm *vm)
{
	struct vm_dma *d = vm->dma;
	int rc;

	if (vm->cfg.passthrough == PT_SHARED && vm->cfg.iommu && vm->cfg.ept_levels != 4)
		return -ENOTSUP;
	d->passthrough = true;
	rc = hpool_alloc(vm->pool, PAGE_SIZE_4K, FRAME_HV, &d->bar_hpa);
	if (!rc)
		rc = vm->mem->ops->map(vm->mem, EDU_BAR_BASE, d->bar_hpa, PAGE_SIZE_4K,
				       EPT_R | EPT_W | (uint64_t)EPT_MT_UC << EPT_MT_SHIFT,
				       PAGE_SIZE_4K);
	if (!rc)
		pt_publish(d, hpool_ptr(vm->pool, d->bar_hpa), NULL);
	return rc;
}

/* PT_SEPARATE: map every RAM byte for the device, GPA -> HPA as EPT has it,
 * with the largest pages EPT uses, and each ROM read-only. Under the lazy policy a frame not yet
 * mapped is mapped now: a device cannot wait for a fault to be handled, so
 * an assigned device's memory is pinned, all of it. */
static int passthrough_map_ram(struct vm *vm)
{
	struct vm_dma *d = vm->dma;
	int rc = iommu_sl_create(vm->pool, 4, &d->sl);

	for (unsigned i = 0; i < vm->nram && !rc; i++) {
		uint64_t gpa = vm->ram[i].gpa, end = gpa + vm->ram[i].size;

		while (gpa < end && !rc) {
			uint64_t hpa, perms, len;
			unsigned shift, refs = 0;

			if (ept_lookup(vm->ept, gpa, &hpa, &shift, &perms) != 0) {
				rc = vm_gpa_to_hpa(vm, gpa, &hpa, &refs);
				if (!rc)
					rc = ept_lookup(vm->ept, gpa, &hpa, &shift, &perms);
				if (rc)
					break;
			}
			len = (1ULL << shift) - (gpa & ((1ULL << shift) - 1));
			if (len > end - gpa)
				len = end - gpa;
			rc = iommu_sl_map(&d->sl, gpa, hpa, len, VTD_SL_R | VTD_SL_W, shift);
			d->pinned += len;
			gpa += len;
		}
	}
	/* Each ROM read-only, as EPT maps it: the device reads it, and its
	 * write is a remapping fault (reason 0x5), as with EPT's tables. */
	for (unsigned i = 0; i < vm->nrom && !rc; i++)
		for (uint64_t off = 0; off < vm->rom[i].size && !rc; off += PAGE_SIZE_4K) {
			uint64_t hpa;

			rc = rom_hpa(vm, vm->rom[i].gpa + off, &hpa) ? 0 : -EFAULT;
			if (!rc)
				rc = iommu_sl_map(&d->sl, vm->rom[i].gpa + off, hpa, PAGE_SIZE_4K,
						  VTD_SL_R, 12);
		}
	return rc;
}

/* hv's canary: a 2 MiB run taken once RAM is mapped, its first page filled. */
static int hv_canary_alloc(struct vm *vm)
{
	struct vm_dma *d = vm->dma;
	int rc;

	if (d->hv_canary)
		return 0;
	rc = hpool_alloc(vm->pool, PAGE_SIZE_2M, FRAME_HV, &d->hv_canary);
	if (!rc)
		memset(hpool_ptr(vm->pool, d->hv_canary), CANARY_BYTE, CANARY_SIZE);
	return rc;
}

/* The EPT table (level 1) that maps BAR0's register page, read from EPT's
 * entries, and a copy of it. */
static int ept_page_watch(struct vm *vm)
{
	struct vm_dma *d = vm->dma;
	uint64_t t = vm->ept->root;

	for (unsigned l = vm->ept->levels; l > 1; l--) {
		uint64_t e = hpool_read64(vm->pool,
					  t + ((EDU_BAR_BASE >> (12 + 9 * (l - 1))) & 511) * 8);

		if (!(e & EPT_RWX) || (e & EPT_PS))
			return -EFAULT;
		t = e & EPT_ADDR_MASK;
	}
	d->ept_page = t;
	d->ept_copy = malloc(PAGE_SIZE_4K);
	if (!d->ept_copy)
		return -ENOMEM;
	memcpy(d->ept_copy, hpool_ptr(vm->pool, t), PAGE_SIZE_4K);
	return 0;
}

/* Is all of guest RAM mapped to one run of host memory, HPA = base + GPA? */
static bool ram_hpa_base(struct vm *vm, uint64_t *base)
{
	bool first = true;

	for (unsigned i = 0; i < vm->nram; i++) {
		for (uint64_t gpa = vm->ram[i].gpa; gpa < vm->ram[i].gpa + vm->ram[i].size;) {
			uint64_t hpa, perms;
			unsigned shift;

			if (ept_lookup(vm->ept, gpa, &hpa, &shift, &perms) != 0 ||
			    (!first && hpa - gpa != *base))
				return false;
			*base = hpa - gpa;
			first = false;
			gpa = (gpa | ((1ULL << shift) - 1)) + 1;
		}
	}
	return !first;
}

int vm_dma_cmdline(struct vm *vm, const char *append, char *out, size_t len)
{
	int rc, n;

	if (!vm->dma || !vm->dma->passthrough)
		n = snprintf(out, len, "%s", append ? append : "");
	else {
		rc = hv_canary_alloc(vm);
		if (!rc && !vm->dma->ept_copy)
			rc = ept_page_watch(vm);
		if (rc)
			return rc;
		n = snprintf(out, len, "%s%shpa-canary=0x%" PRIx64 " hpa-ept=0x%" PRIx64,
			     append ? append : "", append && *append ? " " : "", vm->dma->hv_canary,
			     vm->dma->ept_page);
		/* Without an IOMMU the device needs host-physical addresses: say
		 * where RAM is when it is one run of host memory. */
		uint64_t base;

		if (n >= 0 && (size_t)n < len && !vm->dma->iommu && ram_hpa_base(vm, &base))
			n += snprintf(out + n, len - (size_t)n, " hpa-ram=0x%" PRIx64, base);
	}
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

static int passthrough_start(struct vm *vm)
{
	struct vm_dma *d = vm->dma;
	int rc;

	rc = hv_canary_alloc(vm);
	if (!rc && !d->ept_copy)
		rc = ept_page_watch(vm);
	if (rc || !d->iommu)
		return rc;
	if (vm->cfg.passthrough == PT_SHARED)
		/* EPT's own hierarchy is the domain's second level. */
		return iommu_attach(d->iommu, d->edu.sid, 1, vm->ept->root, 4);
	rc = passthrough_map_ram(vm);
	if (!rc)
		rc = iommu_attach(d->iommu, d->edu.sid, 1, d->sl.top, 4);
	return rc;
}

int vm_dma_create(struct vm *vm)
{
	struct vm_dma *d;
	int rc;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	vm->dma = d;
	if (vm->cfg.edu) {
		edu_init(&d->edu, EDU_PCI_DEV, EDU_BAR_BASE, edu_dma, dma_msi, vm);
		rc = pci_register(&vm->pci, EDU_PCI_DEV, 0, &d->edu.fn);
		if (!rc)
			rc = dev_bus_add(&vm->bus, &edu_mmio_ops, EDU_BAR_BASE, &d->edu, NULL);
		if (rc)
			return rc;
	}
	if (vm->cfg.passthrough) {
		rc = passthrough_create(vm);
		if (rc)
			return rc;
	}
	if (!vm->cfg.iommu)
		return 0;

	struct iommu_config cfg;

	iommu_config_default(&cfg);
	if (vm->cfg.iommu_caches) {
		cfg.iotlb = vm->cfg.iotlb;
		cfg.ctx = vm->cfg.ctx_cache;
	}
	cfg.msi = dma_msi;
	cfg.msi_ctx = vm;
	/* hv's own unit reads host-physical tables; the guest's goes through EPT. */
	if (!vm->cfg.passthrough)
		cfg.mem = (struct iommu_mem){ .translate = dma_stage2, .ctx = vm };
	else {
		cfg.written = dma_written;
		cfg.written_ctx = vm;
	}
	rc = iommu_create(vm->pool, &cfg, &d->iommu);
	if (rc || vm->cfg.passthrough)
		return rc;
	return dev_bus_add(&vm->bus, &vtd_mmio_ops, IOMMU_BASE, vm, NULL);
}

void vm_dma_destroy(struct vm *vm)
{
	if (!vm->dma)
		return;
	vm_dma_thread_stop(vm);
	if (vm->dma->iommu)
		iommu_destroy(vm->dma->iommu);
	iommu_sl_destroy(&vm->dma->sl);
	free(vm->dma->ept_copy);
	free(vm->dma->runs);
	if (vm->dma->hv_canary)
		hpool_free(vm->pool, vm->dma->hv_canary, PAGE_SIZE_2M);
	if (vm->dma->bar_hpa)
		hpool_free(vm->pool, vm->dma->bar_hpa, PAGE_SIZE_4K);
	free(vm->dma);
	vm->dma = NULL;
}

int vm_dma_start(struct vm *vm)
{
	uint8_t page[CANARY_SIZE];

	if (vm->dma->passthrough) {
		int rc = passthrough_start(vm);

		if (rc)
			return rc;
	}
	if (!vm_gpa_is_ram(vm, CANARY_GPA, CANARY_SIZE))
		return 0;
	memset(page, CANARY_BYTE, sizeof(page));
	vm->dma->canary_placed = true;
	return vm_write_gpa(vm, CANARY_GPA, page, sizeof(page));
}

/* hv's own pages after the run: its canary and BAR0's EPT table. */
static void check_hv_pages(struct vm *vm)
{
	struct vm_dma *d = vm->dma;
	const uint8_t *c = hpool_ptr(vm->pool, d->hv_canary);
	const uint64_t *e = hpool_ptr(vm->pool, d->ept_page);

	for (uint64_t i = 0; d->hv_canary && i < CANARY_SIZE; i++) {
		if (c[i] == CANARY_BYTE)
			continue;
		if (!d->hv_canary_changed)
			d->hv_canary_first = d->hv_canary + i;
		d->hv_canary_changed++;
	}
	/* The CPU's accesses set A and D: those are not changes. */
	for (unsigned i = 0; d->ept_copy && i < 512; i++) {
		if (((e[i] ^ d->ept_copy[i]) & ~(EPT_A | EPT_D)) == 0)
			continue;
		if (!d->ept_changed) {
			d->ept_first = i;
			d->ept_first_value = e[i];
		}
		d->ept_changed++;
	}
}

int vm_dma_check_canary(struct vm *vm)
{
	uint8_t page[CANARY_SIZE];
	struct vm_dma *d = vm->dma;
	int rc;

	if (d->canary_checked)
		return 0;
	if (d->passthrough)
		check_hv_pages(vm);
	if (!d->canary_placed) {
		d->canary_checked = true;
		return 0;
	}
	rc = vm_read_gpa(vm, CANARY_GPA, page, sizeof(page));
	if (rc)
		return rc;
	d->canary_checked = true;
	for (uint64_t i = 0; i < CANARY_SIZE; i++) {
		if (page[i] == CANARY_BYTE)
			continue;
		if (!d->canary_changed)
			d->canary_first = CANARY_GPA + i;
		d->canary_changed++;
	}
	return 0;
}
