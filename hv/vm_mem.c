/* SPDX-License-Identifier: MIT */
/*
 * hv/vm_mem.c - guest memory: RAM behind hv's EPT map (eager or lazy), the
 * RAM side of EPT violations, host-side copies to and from guest RAM, and
 * dirty tracking. See hv/vm.h for the guest-physical map and the policies.
 *
 * ept/ holds the map in every backend; every change to it goes through the
 * backend's memory operations (vm->mem->ops), which make the backend's
 * translation follow: the model's EPT and caches, or KVM's memory slots.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv/vm_internal.h"

/* Leaf attributes of guest RAM: full access, write-back. */
#define RAM_ATTRS (EPT_RWX | ((uint64_t)EPT_MT_WB << EPT_MT_SHIFT))
/* While dirty tracking: no W, so that the first write to a page exits. */
#define RAM_ATTRS_WP ((EPT_R | EPT_X) | ((uint64_t)EPT_MT_WB << EPT_MT_SHIFT))

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
	rc = vm->mem->ops->map(vm->mem, gpa, hpa, size, attrs, size);
	if (rc)
		hpool_free(vm->pool, hpa, size);
	return rc;
}

int vm_map_all_ram(struct vm *vm)
{
	uint64_t done = 0;

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
			done += size;
			if (vm->cfg.map_progress && (done & (PAGE_SIZE_1G - 1)) == 0 &&
			    vm->cfg.map_progress(vm->cfg.map_progress_ctx, done, vm->cfg.mem_size))
				return -EINTR;
		}
	}
	return 0;
}

/* Host-physical address of a RAM GPA, or -ENOENT when nothing readable is
 * mapped there yet. The EPT is the one record of where guest RAM lives; the
 * host's copy is no guest access, so it looks up without setting A/D flags. */
static int gpa_to_hpa(struct vm *vm, uint64_t gpa, uint64_t *hpa, uint64_t *page_left)
{
	uint64_t perms;
	unsigned shift;

	if (ept_lookup(vm->ept, gpa, hpa, &shift, &perms) != 0 || !(perms & EPT_R))
		return -ENOENT;
	*page_left = (1ULL << shift) - (gpa & ((1ULL << shift) - 1));
	return 0;
}

int vm_gpa_to_hpa(struct vm *vm, uint64_t gpa, uint64_t *hpa, unsigned *refs)
{
	struct ept_access acc = { .type = ACC_READ };
	struct ept_walk_result res;
	const struct loader_region *r = ram_region(vm, gpa);
	uint64_t base, size;
	int rc;

	if (!r)
		return -EFAULT;
	for (int tries = 0; tries < 2; tries++) {
		if (ept_walk(vm->ept, gpa, &acc, NULL, &res) != 0)
			return -EFAULT;
		*refs += res.refs;
		if (res.status == EPT_OK) {
			*hpa = res.hpa;
			return 0;
		}
		/* Not mapped yet (lazy): map it as a first touch would. */
		frame_for(vm, r, gpa, &base, &size);
		rc = map_frame(vm, base, size, RAM_ATTRS);
		if (rc)
			return rc;
		vm->cnt.lazy_frames++;
	}
	return -EFAULT;
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
 * Start dirty tracking: empty the dirty log (clear every EPT D bit),
 * write-protect every RAM leaf, then invalidate. The invalidation is required: TLB entries created before
 * now still allow writes (and would not set D again), and hardware keeps using
 * a cached translation until INVEPT removes it (SDM 28.3.3.4).
 */
int vm_dirty_start(struct vm *vm, const char *by)
{
	int rc;

	if (vm->dirty.active)
		return 0;
	rc = page_set_init(&vm->dirty.wp, ram_end(vm) >> PAGE_SHIFT_4K);
	if (!rc)
		rc = page_set_init(&vm->dirty.ad, ram_end(vm) >> PAGE_SHIFT_4K);
	if (!rc)
		rc = page_set_init(&vm->dirty.dma, ram_end(vm) >> PAGE_SHIFT_4K);
	for (unsigned i = 0; !rc && i < vm->nram; i++) {
		rc = vm->mem->ops->dirty_log(vm->mem, vm->ram[i].gpa, vm->ram[i].size, discard_dirty,
					     NULL);
		if (!rc)
			rc = vm->mem->ops->protect(vm->mem, vm->ram[i].gpa, vm->ram[i].size, EPT_R | EPT_X);
	}
	if (rc)
		return rc;
	vm->mem->ops->invalidate(vm->mem);
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
		int rc = vm->mem->ops->dirty_log(vm->mem, vm->ram[i].gpa, vm->ram[i].size,
						 collect_dirty, &vm->dirty.ad);
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

static bool page_set_has(const struct page_set *s, uint64_t pfn)
{
	return pfn < s->npages && (s->bits[pfn / 64] & (1ULL << (pfn % 64)));
}

/*
 * A device's write is no CPU write: EPT write protection does not stop it
 * and EPT D does not record it (an emulated device's DMA is hv copying into
 * guest RAM; a pass-through device's goes through the IOMMU's own tables).
 * hv logs it here, as it makes or translates the request.
 */
void vm_dirty_dma(struct vm *vm, uint64_t gpa, uint64_t len)
{
	if (!vm->dirty.active || len == 0 || !vm_gpa_is_ram(vm, gpa, len))
		return;
	for (uint64_t p = gpa & ~(PAGE_SIZE_4K - 1); p <= gpa + len - 1; p += PAGE_SIZE_4K)
		page_set_add(&vm->dirty.dma, p);
}

uint64_t vm_dirty_dma_only(const struct vm *vm)
{
	const struct page_set *d = &vm->dirty.dma;
	uint64_t n = 0;

	for (uint64_t pfn = 0; vm->dirty.active && pfn < d->npages; pfn++)
		if (page_set_has(d, pfn) && !page_set_has(&vm->dirty.wp, pfn) &&
		    !page_set_has(&vm->dirty.ad, pfn))
			n++;
	return n;
}

/* ------------------------------------------------------------------------ */
/* EPT violations on RAM                                                    */
/* ------------------------------------------------------------------------ */

/*
 * EPT violation on a RAM GPA: map it (lazy) or log it (dirty tracking).
 * Returns 0 to resume the guest, which re-executes the faulting instruction.
 */
int vm_ram_violation(struct vm *vm, const struct vcpu_exit *e)
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
		 * large leaf; the protect operation does). Raising a permission needs no INVEPT by itself:
		 * an EPT violation invalidates the cached translations of the
		 * faulting GPA (SDM 28.3.3.1). Freeing a table does: once the
		 * last page of a table has W again, ept_protect folds it back
		 * into one large leaf, and the guest-physical paging-structure
		 * caches may still point at the freed table (SDM 28.3.3.4).
		 */
		rc = vm->mem->ops->protect(vm->mem, page, PAGE_SIZE_4K, RAM_ATTRS & EPT_RWX);
		if (rc)
			return rc;
		if (vm->ept->table_pages < tables) {
			vm->mem->ops->invalidate(vm->mem);
			vm->cnt.invept++;
		}
		vm->cnt.violations[VIOL_DIRTY_LOG]++;
		return 0;
	}
	return -EPROTO;
}

/* ------------------------------------------------------------------------ */
/* ROM                                                                      */
/* ------------------------------------------------------------------------ */

/* Leaf attributes of ROM: readable and executable, never writable. */
#define ROM_ATTRS ((EPT_R | EPT_X) | ((uint64_t)EPT_MT_WB << EPT_MT_SHIFT))
/* What the bytes past the end of a ROM file read: an erased flash's (and an
 * undriven PC bus's) all-ones. */
#define ROM_PAD 0xff

const struct vm_rom *vm_rom_at(const struct vm *vm, uint64_t gpa)
{
	for (unsigned i = 0; i < vm->nrom; i++)
		if (gpa >= vm->rom[i].gpa && gpa - vm->rom[i].gpa < vm->rom[i].size)
			return &vm->rom[i];
	return NULL;
}

int vm_map_roms(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nrom; i++) {
		const struct vm_rom_config *c = &vm->cfg.rom[i];
		const struct vm_rom *r = &vm->rom[i];

		for (uint64_t off = 0; off < r->size; off += PAGE_SIZE_4K) {
			uint64_t hpa, n = off < c->len ? c->len - off : 0;
			uint8_t *p;
			int rc;

			rc = hpool_alloc(vm->pool, PAGE_SIZE_4K, FRAME_GUEST, &hpa);
			if (rc)
				return rc;
			p = hpool_ptr(vm->pool, hpa);
			if (n > PAGE_SIZE_4K)
				n = PAGE_SIZE_4K;
			memcpy(p, c->data + off, n);
			memset(p + n, ROM_PAD, PAGE_SIZE_4K - n);
			rc = vm->mem->ops->map(vm->mem, r->gpa + off, hpa, PAGE_SIZE_4K, ROM_ATTRS,
					       PAGE_SIZE_4K);
			if (rc) {
				hpool_free(vm->pool, hpa, PAGE_SIZE_4K);
				return rc;
			}
		}
	}
	return 0;
}

/*
 * A write to ROM on a backend that reports it as an EPT violation (the
 * software vCPU, whose model found W clear in the leaf: SDM 28.3.3.2). A PC
 * drops such a write and the instruction completes; here the range's entry
 * in the device windows the vCPU reads is armed, so that the instruction,
 * executed again, meets the same violation on a device window and completes
 * with an MMIO write, which vm_rom_mmio drops. Everything else the
 * instruction does (a read of the ROM by the same instruction, its other
 * operands, RIP) is the vCPU's as for any device write.
 */
int vm_rom_violation(struct vm *vm, const struct vcpu_exit *e)
{
	const struct vm_rom *r = vm_rom_at(vm, e->ept.gpa);
	uint64_t qual = e->ept.qual;

	if (!r || !(qual & EPT_QUAL_WRITE) || (qual & EPT_QUAL_WRITABLE))
		return -EPROTO;
	/* An access to a paging structure (bit 8 clear): the walk setting A
	 * or D in a guest table the guest placed in ROM, no instruction's
	 * write that could be dropped. */
	if (!(qual & EPT_QUAL_GLA_VALID) || !(qual & EPT_QUAL_GLA_XLATE))
		return -EPERM;
	if (vm->mmio[r->arm].size)
		return -ELOOP;
	vm->mmio[r->arm] = (struct gpa_range){ r->gpa, r->size };
	vm->cnt.violations[VIOL_ROM]++;
	if (!vm->rom_first.seen && !vm->rom_first.qual_known) {
		vm->rom_first.qual_known = true;
		vm->rom_first.qual = qual;
		vm->rom_first.rip = e->rip;   /* the writing instruction's */
	}
	return 0;
}

bool vm_rom_mmio(struct vm *vm, struct vcpu_exit *e)
{
	struct vm_rom *r = (struct vm_rom *)vm_rom_at(vm, e->mmio.gpa);
	struct vm_rom_write *w = &vm->rom_first;

	if (!r)
		return false;
	if (!e->mmio.write) {
		/* No backend reads ROM through an exit; if one does, the bytes. */
		uint64_t off = e->mmio.gpa - r->gpa, hpa, left;
		uint64_t perms;
		unsigned shift;

		e->mmio.data = 0;
		if (e->mmio.size <= 8 && off + e->mmio.size <= r->size &&
		    ept_lookup(vm->ept, e->mmio.gpa, &hpa, &shift, &perms) == 0) {
			left = PAGE_SIZE_4K - (e->mmio.gpa & (PAGE_SIZE_4K - 1));
			memcpy(&e->mmio.data, hpool_ptr(vm->pool, hpa),
			       e->mmio.size < left ? e->mmio.size : left);
		}
		return true;
	}
	/* The software vCPU completing the write whose violation armed the
	 * range; any other backend (KVM: a write to a read-only memory slot,
	 * which KVM took as its violation and emulated) reports the write here
	 * alone, so it is the violation too. */
	if (vm->mmio[r->arm].size)
		vm->mmio[r->arm] = (struct gpa_range){ 0, 0 };
	else
		vm->cnt.violations[VIOL_ROM]++;
	r->writes++;
	vm->cnt.rom_writes++;
	if (!w->seen) {
		w->seen = true;
		w->gpa = e->mmio.gpa;
		w->size = e->mmio.size;
		w->value = e->mmio.data & dev_ones(e->mmio.size);
		if (!w->qual_known)
			w->rip = e->rip;
	}
	return true;
}
