/* SPDX-License-Identifier: MIT */
/*
 * hv/gmem_soft.c - guest-memory operations of the software backend: the
 * model's EPT is the map the vCPU translates through, so a change is an EPT
 * edit, and invalidation is INVEPT in the model (its TLBs and
 * paging-structure caches).
 */
#include <errno.h>
#include <stdlib.h>

#include "hv/vcpu.h"

struct gmem_soft {
	struct gmem base;
	struct ept *ept;   /* set once */
	struct mmu *mmu;   /* set once; NULL: no model to invalidate */
};

static struct gmem_soft *to_soft(struct gmem *m)
{
	return container_of(m, struct gmem_soft, base);
}

static int soft_map(struct gmem *m, uint64_t gpa, uint64_t hpa, uint64_t size, uint64_t attrs,
		    uint64_t page_size)
{
	return ept_map(to_soft(m)->ept, gpa, hpa, size, attrs, page_size);
}

static int soft_protect(struct gmem *m, uint64_t gpa, uint64_t size, uint64_t perms)
{
	return ept_protect(to_soft(m)->ept, gpa, size, perms);
}

static void soft_invalidate(struct gmem *m)
{
	struct gmem_soft *s = to_soft(m);

	if (s->mmu)
		mmu_invept(s->mmu, INVEPT_SINGLE, ept_eptp(s->ept));
}

/* The EPT D bits are the log: harvesting reports and clears them. */
static int soft_dirty_log(struct gmem *m, uint64_t gpa, uint64_t size, gmem_dirty_fn fn, void *ctx)
{
	return ept_harvest_dirty(to_soft(m)->ept, gpa, size, fn, ctx);
}

static const struct gmem_ops gmem_soft_ops = {
	.protect_exits = true,
	.map = soft_map,
	.protect = soft_protect,
	.invalidate = soft_invalidate,
	.dirty_log = soft_dirty_log,
};

int gmem_soft_create(const struct vcpu_config *cfg, struct gmem **out)
{
	struct gmem_soft *s;

	/* Precondition: the VM supplies the EPT. */
	if (!cfg || !cfg->ept || !out)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->base.ops = &gmem_soft_ops;
	s->ept = cfg->ept;
	s->mmu = cfg->soft.mmu;
	*out = &s->base;
	return 0;
}

void gmem_soft_destroy(struct gmem *m)
{
	if (m)
		free(to_soft(m));
}
