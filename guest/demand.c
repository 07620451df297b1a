/*
 * demand.c: the workload region, demand-zero paging.
 *
 * region_setup() maps nothing; it only records where the region is and which
 * page size to use. The first touch of each page faults, and region_fault()
 * allocates a zeroed frame (4 KiB) or a zeroed 2 MiB frame and maps it: the
 * "allocate a new zero page" case of a page fault in the seed chapter. The
 * faulting instruction then runs again and succeeds.
 */
#include "kernel.h"
#include "x86.h"

static uint64_t region_size;
static bool region_huge;
static uint64_t nfaults;

void region_setup(uint64_t size, bool huge)
{
	region_size = size;
	region_huge = huge;
	nfaults = 0;
}

bool region_fault(uint64_t va, uint64_t error)
{
	if (va < REGION_BASE || va - REGION_BASE >= region_size)
		return false;
	if (error & PF_P)
		return false; /* present but not allowed: not ours to fix */

	if (region_huge) {
		uint64_t page = va & ~(PAGE_2M - 1);
		uint64_t *pde = pte_lookup(kernel_pml4, page, 2, true, PTE_W);
		if (pde && (*pde & PTE_P))
			return true; /* SDM 4.10.4.3: a stale not-present fault, retry */
		map_2m(kernel_pml4, page, frame_alloc_2m(), PTE_W | PTE_NX);
	} else {
		uint64_t page = va & ~(PAGE_SIZE - 1);
		uint64_t *pte = pte_lookup(kernel_pml4, page, 1, true, PTE_W);
		if (pte && (*pte & PTE_P))
			return true;
		map_4k(kernel_pml4, page, frame_alloc(), PTE_W | PTE_NX);
	}
	/*
	 * No invlpg: a not-present entry is never cached in the TLB, so turning
	 * it present needs no invalidation (SDM 4.10.4.3).
	 */
	nfaults++;
	return true;
}

uint64_t region_faults(void)
{
	return nfaults;
}

void region_teardown(void)
{
	pml4_slot_free(kernel_pml4, (REGION_BASE >> 39) & 511);
	region_size = 0;
}
