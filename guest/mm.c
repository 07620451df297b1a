/*
 * mm.c: guest-physical frames and the kernel's own 4-level page tables.
 *
 * Frames come from the RAM ranges of the PVH memory map, above the kernel
 * image. A bump pointer hands out never-used frames and a free list takes
 * them back; each frame has a reference count so that fork can share a frame
 * between two address spaces until one of them writes (copy-on-write).
 */
#include "kernel.h"
#include "x86.h"

#define MAX_RANGES 32

static struct memrange ranges[MAX_RANGES];
static int nranges;
static int bump_range;     /* range the bump pointer is in */
static uint64_t bump;      /* next never-used frame */
static uint64_t free_head; /* free list, linked through each frame's first word */
static uint64_t nfree;     /* frames on the free list or not yet bumped */
static uint64_t top;       /* end of the highest RAM range */
static uint16_t *refs;     /* reference count per frame, indexed by frame number */

uint64_t *kernel_pml4;
static bool nx_on;

static void zero_frame(uint64_t pa)
{
	uint64_t *p = (uint64_t *)pa;
	for (unsigned i = 0; i < PAGE_SIZE / 8; i++)
		p[i] = 0;
}

static void free_push(uint64_t pa)
{
	*(uint64_t *)pa = free_head;
	free_head = pa;
	nfree++;
}

/* Take the next never-used frame at or after an alignment; 0 when none left. */
static uint64_t bump_take(uint64_t align, uint64_t size)
{
	while (bump_range < nranges) {
		struct memrange *r = &ranges[bump_range];
		uint64_t end = r->base + r->size;
		uint64_t at = (bump + align - 1) & ~(align - 1);
		if (at >= bump && at + size <= end) {
			/* The frames skipped to reach the alignment are not lost. */
			for (; bump < at; bump += PAGE_SIZE) {
				nfree--;
				free_push(bump);
			}
			bump = at + size;
			nfree -= size / PAGE_SIZE;
			return at;
		}
		for (; bump + PAGE_SIZE <= end; bump += PAGE_SIZE) {
			nfree--;
			free_push(bump);
		}
		if (++bump_range < nranges)
			bump = ranges[bump_range].base;
	}
	return 0;
}

/*
 * RAM is used only below USER_BASE: the identity map is PML4[0], and the
 * slots above it belong to processes and workloads. A guest of more than
 * 512 GiB says how much it leaves out.
 */
void frames_init(const struct memrange *ram, int n, uint64_t kernel_end)
{
	uint64_t unused = 0;

	for (int i = 0; i < n && nranges < MAX_RANGES; i++) {
		uint64_t base = (ram[i].base + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
		uint64_t end = (ram[i].base + ram[i].size) & ~(PAGE_SIZE - 1);
		if (end > USER_BASE) {
			uint64_t from = base > USER_BASE ? base : USER_BASE;
			unused += end > from ? end - from : 0;
			end = USER_BASE;
		}
		if (end > top)
			top = end;
		if (base < kernel_end) /* the image, and everything below it */
			base = (kernel_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
		if (base >= end)
			continue;
		ranges[nranges].base = base;
		ranges[nranges].size = end - base;
		nfree += (end - base) / PAGE_SIZE;
		nranges++;
	}
	if (!nranges)
		panic("no usable RAM above the kernel");
	if (unused)
		kprintf("mm: %lu MiB of RAM above 512 GiB left unused (the kernel maps RAM "
			"in one PML4 slot)\n", unused >> 20);
	bump = ranges[0].base;

	uint64_t nframes = top / PAGE_SIZE;
	uint64_t bytes = (nframes * sizeof(uint16_t) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	refs = (uint16_t *)bump_take(PAGE_SIZE, bytes);
	if (!refs)
		panic("no room for %lu frame reference counts", nframes);
	memset(refs, 0, bytes);
}

uint64_t frame_alloc(void)
{
	uint64_t pa;
	if (free_head) {
		pa = free_head;
		free_head = *(uint64_t *)pa;
		nfree--;
	} else {
		pa = bump_take(PAGE_SIZE, PAGE_SIZE);
		if (!pa)
			panic("out of guest memory");
	}
	zero_frame(pa);
	refs[pa / PAGE_SIZE] = 1;
	return pa;
}

/* Freed 2 MiB frames go back as 4 KiB frames: only the bump pointer makes new ones. */
uint64_t frame_alloc_2m(void)
{
	uint64_t pa = bump_take(PAGE_2M, PAGE_2M);
	if (!pa)
		panic("out of 2 MiB-aligned guest memory");
	for (uint64_t off = 0; off < PAGE_2M; off += PAGE_SIZE) {
		zero_frame(pa + off);
		refs[(pa + off) / PAGE_SIZE] = 1;
	}
	return pa;
}

void frame_get(uint64_t pa)
{
	refs[pa / PAGE_SIZE]++;
}

void frame_put(uint64_t pa)
{
	if (refs[pa / PAGE_SIZE] == 0)
		panic("frame %p freed twice", (void *)pa);
	if (--refs[pa / PAGE_SIZE] == 0)
		free_push(pa);
}

unsigned frame_refs(uint64_t pa)
{
	return refs[pa / PAGE_SIZE];
}

uint64_t frames_free(void)
{
	return nfree;
}

uint64_t ram_top(void)
{
	return top;
}

bool nx_enabled(void)
{
	return nx_on;
}

/* SDM 4.5: bits 47:39, 38:30, 29:21, 20:12 index levels 4, 3, 2, 1. */
static unsigned pt_index(uint64_t va, int level)
{
	return (va >> (12 + 9 * (level - 1))) & 511;
}

/*
 * Return the entry that maps va at the given level (1 = page table,
 * 2 = page directory) in the tree rooted at pml4, or NULL if a table on the
 * way is missing and create is false. New tables get table_flags: the leaf
 * entry decides the permissions, so upper levels are as permissive as the
 * region needs (SDM 4.6: the access rights of all levels combine).
 */
uint64_t *pte_lookup(uint64_t *pml4, uint64_t va, int level, bool create, uint64_t table_flags)
{
	uint64_t *table = pml4;
	for (int l = 4; l > level; l--) {
		uint64_t *e = &table[pt_index(va, l)];
		if (!(*e & PTE_P)) {
			if (!create)
				return NULL;
			*e = frame_alloc() | table_flags | PTE_P;
		} else if (*e & PTE_PS) {
			return NULL; /* a large page covers va above the level asked for */
		}
		table = (uint64_t *)(*e & PTE_ADDR);
	}
	return &table[pt_index(va, level)];
}

void map_4k(uint64_t *pml4, uint64_t va, uint64_t pa, uint64_t flags)
{
	uint64_t tf = PTE_W | (flags & PTE_U);
	uint64_t *e = pte_lookup(pml4, va, 1, true, tf);
	if (!e)
		panic("map_4k %p: a 2 MiB page is in the way", (void *)va);
	if (!nx_on)
		flags &= ~PTE_NX;
	*e = pa | flags | PTE_P;
}

void map_2m(uint64_t *pml4, uint64_t va, uint64_t pa, uint64_t flags)
{
	uint64_t tf = PTE_W | (flags & PTE_U);
	uint64_t *e = pte_lookup(pml4, va, 2, true, tf);
	if (!e)
		panic("map_2m %p: no page directory", (void *)va);
	if (!nx_on)
		flags &= ~PTE_NX;
	*e = pa | flags | PTE_PS | PTE_P;
}

/* Drop one reference to every frame a table maps, then free the table. */
static void table_free(uint64_t table_pa, int level)
{
	uint64_t *t = (uint64_t *)table_pa;
	for (unsigned i = 0; i < 512; i++) {
		uint64_t e = t[i];
		if (!(e & PTE_P))
			continue;
		if (level == 1) {
			frame_put(e & PTE_ADDR);
		} else if (e & PTE_PS) { /* 2 MiB page: 512 frames */
			for (uint64_t off = 0; off < PAGE_2M; off += PAGE_SIZE)
				frame_put((e & PTE_ADDR) + off);
		} else {
			table_free(e & PTE_ADDR, level - 1);
		}
	}
	frame_put(table_pa);
}

/* Unmap everything under one PML4 slot and free it; flushes if pml4 is live. */
void pml4_slot_free(uint64_t *pml4, unsigned slot)
{
	if (!(pml4[slot] & PTE_P))
		return;
	uint64_t t = pml4[slot] & PTE_ADDR;
	pml4[slot] = 0;
	if (read_cr3() == (uint64_t)pml4)
		write_cr3((uint64_t)pml4); /* no stale translation into freed frames */
	table_free(t, 3);
}

/*
 * The kernel's own tables: RAM identity-mapped with 2 MiB pages, except the
 * first 2 MiB, mapped with 4 KiB pages so that page 0 can stay unmapped and
 * a NULL dereference faults instead of reading the real-mode IVT.
 */
void paging_init(bool nx)
{
	if (nx) {
		wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
		nx_on = true;
	}
	kernel_pml4 = (uint64_t *)frame_alloc();
	for (uint64_t pa = PAGE_SIZE; pa < PAGE_2M; pa += PAGE_SIZE)
		map_4k(kernel_pml4, pa, pa, PTE_W);
	for (uint64_t pa = PAGE_2M; pa < top; pa += PAGE_2M)
		map_2m(kernel_pml4, pa, pa, PTE_W);
	write_cr3((uint64_t)kernel_pml4);
	write_cr0(read_cr0() | CR0_WP);
}

/* A process's PML4: the kernel slot is shared, and U=0 there keeps ring 3 out. */
uint64_t *pml4_new(void)
{
	uint64_t *p = (uint64_t *)frame_alloc();
	p[0] = kernel_pml4[0];
	return p;
}

/*
 * Copy the user half of an address space for fork. The page tables are
 * copied; the pages are not. Every writable page becomes read-only with the
 * COW bit in both parent and child, and its frame gains a reference; the
 * first write on either side faults and cow_fault() gives the writer its own
 * copy. The caller flushes the parent's TLB (it reloads CR3).
 */
static uint64_t table_fork(uint64_t *src, int level)
{
	uint64_t *dst = (uint64_t *)frame_alloc();
	for (unsigned i = 0; i < 512; i++) {
		uint64_t e = src[i];
		if (!(e & PTE_P))
			continue;
		if (level == 1) {
			if (e & PTE_W)
				e = (e & ~PTE_W) | PTE_COW;
			src[i] = e;
			frame_get(e & PTE_ADDR);
			dst[i] = e;
		} else {
			/* User trees use 4 KiB pages only; see proc.c. */
			dst[i] = table_fork((uint64_t *)(e & PTE_ADDR), level - 1) | (e & ~PTE_ADDR);
		}
	}
	return (uint64_t)dst;
}

uint64_t *pml4_fork(uint64_t *parent)
{
	uint64_t *child = pml4_new();
	unsigned slot = pt_index(USER_BASE, 4);
	if (parent[slot] & PTE_P)
		child[slot] = table_fork((uint64_t *)(parent[slot] & PTE_ADDR), 3) |
			      (parent[slot] & ~PTE_ADDR);
	return child;
}

/* The caller has switched away from this address space. */
void pml4_free(uint64_t *pml4)
{
	pml4_slot_free(pml4, pt_index(USER_BASE, 4));
	frame_put((uint64_t)pml4);
}
