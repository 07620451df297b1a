/* SPDX-License-Identifier: MIT */
/*
 * hv/hostmem.c - the host's memory limits and the cost of eager mapping
 * (see hv/hostmem.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "hv/hostmem.h"

/* A "Key:  N kB" line of /proc/meminfo, in bytes (0 when absent). */
static uint64_t meminfo_bytes(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	unsigned long long kb;

	if (p == NULL || sscanf(p + strlen(key), " %llu kB", &kb) != 1)
		return 0;
	return kb > UINT64_MAX / 1024 ? UINT64_MAX : (uint64_t)kb * 1024;
}

static size_t read_small_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return 0;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	return n;
}

/* A cgroup limit file: a byte count, or "max" (v2) / a huge value (v1) for
 * no limit. UINT64_MAX when unlimited or unreadable. */
static uint64_t cgroup_file_limit(const char *path)
{
	char buf[64];
	unsigned long long v;

	if (read_small_file(path, buf, sizeof(buf)) == 0 || sscanf(buf, "%llu", &v) != 1)
		return UINT64_MAX;
	/* v1 writes "no limit" as the largest page-aligned long. */
	return v >= (1ULL << 62) ? UINT64_MAX : (uint64_t)v;
}

/* The smallest limit along a cgroup path and its ancestors, `dir` being
 * where the hierarchy is mounted and `file` the limit's name. */
static uint64_t cgroup_path_limit(const char *dir, const char *path, const char *file)
{
	char rel[1024], full[1200];
	uint64_t best = UINT64_MAX;

	if (snprintf(rel, sizeof(rel), "%s", path) >= (int)sizeof(rel))
		return UINT64_MAX;
	for (;;) {
		char *slash;
		uint64_t v;

		snprintf(full, sizeof(full), "%s%s/%s", dir, rel, file);
		v = cgroup_file_limit(full);
		if (v < best)
			best = v;
		slash = strrchr(rel, '/');
		if (slash == NULL)
			break;
		*slash = '\0';
	}
	return best;
}

/* hv's cgroup memory limit (v2 unified, or v1's memory controller). */
static uint64_t cgroup_limit(void)
{
	char buf[4096], *line, *save = NULL;
	uint64_t best = UINT64_MAX;

	if (read_small_file("/proc/self/cgroup", buf, sizeof(buf)) == 0)
		return UINT64_MAX;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		uint64_t v = UINT64_MAX;
		char *path = strchr(line, ':');

		if (path == NULL || (path = strchr(path + 1, ':')) == NULL)
			continue;
		path++;
		if (strncmp(line, "0::", 3) == 0) {
			v = cgroup_path_limit("/sys/fs/cgroup", path, "memory.max");
		} else {
			char *ctl = strchr(line, ':') + 1;
			size_t n = (size_t)(path - 1 - ctl);

			/* The controllers of a v1 hierarchy: "memory" alone or in a list. */
			for (char *c = ctl; c < ctl + n;) {
				size_t k = strcspn(c, ",:");

				if (k == 6 && strncmp(c, "memory", 6) == 0)
					v = cgroup_path_limit("/sys/fs/cgroup/memory", path,
							      "memory.limit_in_bytes");
				c += k + 1;
			}
		}
		if (v < best)
			best = v;
	}
	return best;
}

uint64_t host_memory_limit(const char **what)
{
	char buf[8192];
	uint64_t best = UINT64_MAX, v;
	struct rlimit rl;

	*what = "nothing";
	if (read_small_file("/proc/meminfo", buf, sizeof(buf)) != 0) {
		v = meminfo_bytes(buf, "MemTotal:");
		if (v != 0) {
			best = v + meminfo_bytes(buf, "SwapTotal:");
			*what = "its memory and swap";
		}
	}
	v = cgroup_limit();
	if (v < best) {
		best = v;
		*what = "the memory limit of its cgroup";
	}
	if (getrlimit(RLIMIT_DATA, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < best) {
		best = rl.rlim_cur;
		*what = "the data size limit (ulimit -d)";
	}
	if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < best) {
		best = rl.rlim_cur;
		*what = "the address-space limit (ulimit -v)";
	}
	return best;
}

uint64_t eager_leaf_count(uint64_t mem_size, unsigned ept_page_shift)
{
	/* RAM is at most two regions (below 3 GiB and from 4 GiB): one partly
	 * filled page at each end of each. */
	return (mem_size >> ept_page_shift) + 4;
}

uint64_t eager_overhead_bytes(uint64_t mem_size, unsigned ept_page_shift)
{
	uint64_t tables = 0, n = eager_leaf_count(mem_size, ept_page_shift), gib = (mem_size >> 30) + 4;
	uint64_t bytes;

	/* EPT: one 4 KiB table per 512 entries at each level, plus one partly
	 * filled table per level at each end of each region. */
	for (unsigned shift = ept_page_shift; shift < 57; shift += 9) {
		n = n / 512 + 4;
		tables += n;
	}
	bytes = tables * 4096;
	/* Frame records: 512 bytes per 2 MiB run split into 4 KiB frames (the
	 * EPT tables, and all of RAM with 4 KiB pages), and per 1 GiB chunk a
	 * 24-byte record, a 512-byte array and 512 run pointers. */
	bytes += (ept_page_shift == 12 ? mem_size : tables * 4096) / 4096;
	bytes += gib * (24 + 512 + 512 * 8);
	/* The two dirty-tracking bitmaps: one bit per 4 KiB page each. */
	bytes += 2 * (mem_size / 4096 / 8);
	/* Allocator slack, and hv's own memory (the translation model's caches,
	 * buffers, the program). */
	return bytes + bytes / 8 + (64ULL << 20);
}
