/* SPDX-License-Identifier: MIT */
/*
 * hv/hostmem.h - how much memory this host lets hv use, and what eager
 * mapping of guest RAM costs, so that `hv run` can refuse before starting a
 * guest the host cannot hold.
 */
#ifndef HV_HOSTMEM_H
#define HV_HOSTMEM_H

#include <stddef.h>
#include <stdint.h>

/*
 * The most memory hv may hold: the smallest of physical memory plus swap
 * (/proc/meminfo MemTotal + SwapTotal), the memory limit of hv's cgroup and
 * its ancestors (v2 memory.max, v1 memory.limit_in_bytes) and the
 * RLIMIT_DATA and RLIMIT_AS limits. `what` names the one that set it ("memory
 * and swap", "the cgroup limit", "the data size limit (ulimit -d)", "the
 * address-space limit (ulimit -v)"). Returns UINT64_MAX when nothing is known.
 */
uint64_t host_memory_limit(const char **what);

/*
 * Host bytes hv itself uses to map `mem_size` bytes of guest RAM eagerly with
 * EPT pages of up to 1 << ept_page_shift bytes: the EPT tables, the frame
 * pool's records of each frame, and the dirty-tracking page bitmaps. An
 * estimate from above; the guest RAM itself is not included.
 */
uint64_t eager_overhead_bytes(uint64_t mem_size, unsigned ept_page_shift);

/* EPT leaf entries an eager mapping of mem_size bytes writes (one per page). */
uint64_t eager_leaf_count(uint64_t mem_size, unsigned ept_page_shift);

#endif /* HV_HOSTMEM_H */
