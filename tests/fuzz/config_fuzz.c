/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/config_fuzz.c - libFuzzer harness for the TLB/PWC configuration
 * parser (mmu_config_load in ept/presets.c), through a memfd so that the
 * parser reads a real file.
 *
 * Invariants: a loaded configuration has only geometries the caches accept
 * (entries a multiple of ways, within MMU_MAX_ENTRIES and MMU_MAX_WAYS, or
 * perfect) and builds an MMU; every refusal says "path:line: why".
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ept/ept.h"
#include "ept/mmu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	static struct hpool *pool;
	struct mmu_config c;
	char err[512];
	int rc;

	if (fd < 0) {
		fd = memfd_create("config_fuzz", 0);
		if (fd < 0 || hpool_create(64ULL << 20, &pool) != 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	err[0] = '\0';
	rc = mmu_config_load(path, &c, err, sizeof(err));
	if (rc != 0) {
		if (strncmp(err, path, strlen(path)) != 0 || err[strlen(path)] != ':')
			abort();
		return 0;
	}
	for (int i = 0; i < MMU_NSTRUCT; i++) {
		const struct cache_geom *g = &c.geom[i];

		if (c.perfect[i])
			continue;
		if (g->entries == 0)
			continue;
		if (g->ways == 0 || g->entries % g->ways != 0 || g->entries > MMU_MAX_ENTRIES ||
		    g->ways > MMU_MAX_WAYS)
			abort();
	}
	/* Small enough geometries must build; the largest ones only cost memory. */
	{
		struct mmu *m;
		bool small = true;

		for (int i = 0; i < MMU_NSTRUCT; i++)
			small = small && c.geom[i].entries <= 4096;
		if (small) {
			if (mmu_create(pool, &c, &m) != 0)
				abort();
			mmu_destroy(m);
		}
	}
	return 0;
}
