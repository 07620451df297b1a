/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/config_fuzz.c - libFuzzer harness for the TLB/PWC configuration
 * parser (mmu_config_parse in ept/presets.c), given the input as a file's
 * text.
 *
 * Invariants: a parsed configuration has only geometries the caches accept
 * (entries a multiple of ways, within MMU_MAX_ENTRIES and MMU_MAX_WAYS, or
 * perfect) and builds an MMU; every refusal says "name:line: why".
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ept/ept.h"
#include "ept/mmu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char name[] = "fuzz.cfg";
	static struct hpool *pool;
	struct mmu_config c;
	char err[512];
	int rc;

	if (!pool && hpool_create(64ULL << 20, &pool) != 0)
		abort();
	err[0] = '\0';
	rc = mmu_config_parse(name, (const char *)data, size, &c, err, sizeof(err));
	if (rc != 0) {
		if (strncmp(err, name, strlen(name)) != 0 || err[strlen(name)] != ':')
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
