/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/walk_fuzz.c - libFuzzer harness for the two-stage translation
 * (ept/: guest paging over EPT, the TLBs and paging-structure caches) with
 * random tables, through the public API only.
 *
 * Each input builds a small guest: 4 MiB of RAM mapped by EPT (4 or 5
 * levels, pages up to 4K, 2M or 1G, A/D on or off), guest tables of 4 or 5
 * levels made with the gpt builder (1 MiB of 4K pages, a 2M page over the
 * tables themselves). Then 16-byte records poke raw EPT entries
 * (ept_set_raw) and raw guest entries (written where EPT puts them), and
 * translate, trace, invalidate and walk EPT alone, in any order.
 *
 * Invariants: every translation ends in one of its statuses; a success of
 * mmu_translate gives an HPA inside the frame pool and a page size of 4K,
 * 2M or 1G; no walk makes more than (g+1)(e+1)-1 references, and a
 * reference a trace records outside the pool read nothing (all ones); a
 * page fault carries an error code of defined bits only, an EPT violation
 * the kind of access in its qualification; the counters add up (walk
 * references = the histogram's sum, translations = reads + writes +
 * fetches); teardown frees each table once (the pool asserts it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ept/ept.h"
#include "ept/mmu.h"
#include "tests/fuzz/input.h"

#define RAM_SIZE    (4ULL << 20)
#define DATA_GPA    0x100000ULL        /* 1 MiB of data pages */
#define TABLE_GPA   0x200000ULL        /* the guest tables */
#define TABLE_LEN   0x10000ULL         /* 16 table pages are plenty */
#define DATA_LEN    0x100000ULL
#define DATA_GVA    0x400000ULL
#define TABLES_GVA  0x40000000ULL      /* a 2M page over the tables */
#define POOL_SIZE   (1ULL << 30)

static struct hpool *pool;
static uint64_t ram_hpa;
static struct mmu *mmus[2];            /* caches "none" and "skylake" */

static void setup(void)
{
	struct mmu_config c;

	if (hpool_create(POOL_SIZE, &pool) != 0 ||
	    hpool_alloc(pool, PAGE_SIZE_2M, FRAME_GUEST, &ram_hpa) != 0)
		abort();
	/* The second 2 MiB run must follow the first for one 4 MiB range. */
	{
		uint64_t second;

		if (hpool_alloc(pool, PAGE_SIZE_2M, FRAME_GUEST, &second) != 0 ||
		    second != ram_hpa + PAGE_SIZE_2M)
			abort();
	}
	if (mmu_config_preset("none", &c) != 0 || mmu_create(pool, &c, &mmus[0]) != 0 ||
	    mmu_config_preset("skylake", &c) != 0 || mmu_create(pool, &c, &mmus[1]) != 0)
		abort();
}

/* A GVA from a selector: mostly inside what the builder mapped. */
static uint64_t pick_gva(uint64_t sel, bool la57)
{
	switch (sel & 3) {
	case 0: return DATA_GVA + ((sel >> 2) & (DATA_LEN - 1));
	case 1: return TABLES_GVA + ((sel >> 2) & (PAGE_SIZE_2M - 1));
	case 2: {
		/* Canonical, anywhere. */
		unsigned bits = la57 ? 57 : 48;
		uint64_t v = (sel >> 2) & ((1ULL << bits) - 1);

		return (v & (1ULL << (bits - 1))) ? v | ~((1ULL << bits) - 1) : v;
	}
	default: return sel;  /* often non-canonical */
	}
}

static void check_stats(const struct mmu *m)
{
	const struct mmu_stats *st = mmu_stats(m);
	uint64_t sum = 0;

	for (unsigned i = 0; i <= MMU_MAX_REFS; i++)
		sum += (uint64_t)i * st->refs_hist[i];
	if (sum != st->walk_refs ||
	    st->translations != st->by_access[0] + st->by_access[1] + st->by_access[2])
		abort();
}

static void check_result(const struct mmu_result *r, uint64_t gva, unsigned max_refs)
{
	switch (r->status) {
	case MMU_OK:
		if (r->hpa >= pool->size || (r->page_shift != 12 && r->page_shift != 21 &&
					      r->page_shift != 30))
			abort();
		break;
	case MMU_PAGE_FAULT:
		if ((r->pf_error & ~(PF_P | PF_W | PF_U | PF_RSVD | PF_I | PF_PK)) || r->gva != gva)
			abort();
		break;
	case MMU_EPT_VIOLATION:
		if ((r->qual & (EPT_QUAL_READ | EPT_QUAL_WRITE | EPT_QUAL_FETCH)) == 0)
			abort();
		break;
	case MMU_NONCANONICAL:
	case MMU_EPT_MISCONFIG:
		break;
	default:
		abort();
	}
	if (r->refs > max_refs || (r->tlb_hit && r->refs != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t max_page[3] = { PAGE_SIZE_4K, PAGE_SIZE_2M, PAGE_SIZE_1G };
	const struct ept_caps caps = { .exec_only = true, .page_1g = true, .mbec = false };
	struct gpt_builder *b;
	struct ept *ept;
	struct mmu *m;
	struct mmu_ctx ctx;
	unsigned elevels, glevels, max_refs;
	uint8_t f0, f1;

	if (pool == NULL)
		setup();
	if (size < 2)
		return 0;
	f0 = data[0];
	f1 = data[1];
	data += 2;
	size -= 2;
	elevels = (f0 & 1) ? 5 : 4;
	glevels = (f0 & 2) ? 5 : 4;
	max_refs = (glevels + 1) * (elevels + 1) - 1;
	m = mmus[(f0 >> 5) & 1];

	/* A fresh guest: zeroed RAM, new EPT and tables, empty caches. */
	memset(hpool_ptr(pool, ram_hpa), 0, RAM_SIZE);
	if (ept_create(pool, elevels, (f0 & 4) != 0, &caps, &ept) != 0)
		abort();
	if (ept_map(ept, 0, ram_hpa, RAM_SIZE, EPT_RWX | ((uint64_t)EPT_MT_WB << EPT_MT_SHIFT),
		    max_page[((f0 >> 3) & 3) % 3]) != 0)
		abort();
	if (gpt_builder_create(pool, ept, glevels, TABLE_GPA, TABLE_LEN, &b) != 0)
		abort();
	if (gpt_map(b, DATA_GVA, DATA_GPA, DATA_LEN, PTE_W | PTE_U, 12) != 0 ||
	    gpt_map(b, TABLES_GVA, TABLE_GPA & ~(PAGE_SIZE_2M - 1), PAGE_SIZE_2M, PTE_W, 21) != 0)
		abort();
	mmu_invvpid(m, INVVPID_ALL, 0, 0);
	mmu_invept(m, INVEPT_GLOBAL, 0);
	mmu_reset_stats(m);
	ctx = (struct mmu_ctx){
		.cr0 = CR0_PE | CR0_PG | ((f0 & 0x40) ? CR0_WP : 0),
		.cr3 = gpt_builder_cr3(b),
		.cr4 = CR4_PAE | CR4_PGE | (glevels == 5 ? CR4_LA57 : 0) |
		       ((f1 & 1) ? CR4_SMEP : 0) | ((f1 & 2) ? CR4_SMAP : 0),
		.efer = EFER_LME | EFER_LMA | ((f0 & 0x80) ? EFER_NXE : 0),
		.rflags = (f1 & 4) ? RFLAGS_AC : 0,
		.cpl = (f1 >> 3) & 3,
		.vpid = 1,
		.ept = ept,
	};

	for (; size >= 16; data += 16, size -= 16) {
		unsigned op = data[0] % 6, level = data[1];
		uint64_t sel = fuzz_u64(data) >> 16, value = fuzz_u64(data + 8);
		unsigned access = (unsigned[]){ ACC_READ, ACC_WRITE, ACC_FETCH }[data[2] % 3];
		struct mmu_result res;

		switch (op) {
		case 0: {  /* a raw EPT entry at some level for a GPA */
			uint64_t gpa = (sel << 12) & ((1ULL << 36) - 1);

			if (ept_set_raw(ept, gpa, 1 + level % elevels, value) != 0)
				break;
			/* What hardware needs after changing EPT: INVEPT. */
			mmu_invept(m, INVEPT_SINGLE, ept_eptp(ept));
			break;
		}
		case 1: {  /* a raw guest entry where EPT puts it */
			uint64_t gva = pick_gva(sel, glevels == 5);
			uint64_t egpa = gpt_entry_gpa(b, gva, 1 + level % glevels);
			struct ept_access acc = { .type = ACC_WRITE };
			struct ept_walk_result wr;

			/* Only into guest RAM: EPT may have been poked to map
			 * anything, but a guest can only write its own memory. */
			if (egpa == 0 || ept_walk(ept, egpa, &acc, NULL, &wr) != 0 ||
			    wr.status != EPT_OK || hpool_owner(pool, wr.hpa) != FRAME_GUEST)
				break;
			if (wr.hpa > pool->size - 8)
				abort();
			hpool_write64(pool, wr.hpa & ~7ULL, value);
			mmu_invlpg(m, &ctx, gva);
			break;
		}
		case 2: {
			uint64_t gva = pick_gva(sel, glevels == 5);

			mmu_translate(m, &ctx, gva, access, &res);
			check_result(&res, gva, max_refs);
			break;
		}
		case 3: {
			uint64_t gva = pick_gva(sel, glevels == 5);
			struct walk_trace tr;

			mmu_translate_traced(m, &ctx, gva, access, &res, &tr);
			check_result(&res, gva, max_refs);
			if (tr.n > MMU_MAX_REFS + 1)
				abort();
			/* Outside the pool nothing is read: all ones, as from a
			 * bus with nothing on it. */
			for (unsigned i = 0; i < tr.n; i++)
				if (tr.ref[i].entry_hpa > pool->size - 8 && tr.ref[i].value != ~0ULL)
					abort();
			break;
		}
		case 4:
			switch (level & 3) {
			case 0: mmu_invlpg(m, &ctx, pick_gva(sel, glevels == 5)); break;
			case 1: mmu_mov_cr3(m, &ctx, false); break;
			case 2: mmu_invept(m, INVEPT_SINGLE, ept_eptp(ept)); break;
			default: mmu_flush_vpid_all(m, ctx.vpid); break;
			}
			break;
		default: {  /* EPT alone */
			struct ept_access acc = { .type = access, .paging_entry = level & 1 };
			struct ept_walk_result wr;
			uint64_t gpa = (level & 2) ? sel : sel & (RAM_SIZE * 2 - 1);

			if (ept_walk(ept, gpa, &acc, NULL, &wr) != 0)
				abort();
			/* An HPA beyond the pool is fine here (a raw leaf may name
			 * one; mmu_translate and hv check before using it). */
			if (wr.refs > elevels)
				abort();
			if (wr.status == EPT_VIOLATION &&
			    (wr.qual & (EPT_QUAL_READ | EPT_QUAL_WRITE | EPT_QUAL_FETCH)) == 0)
				abort();
			break;
		}
		}
	}
	check_stats(m);
	gpt_builder_destroy(b);
	ept_destroy(ept);
	return 0;
}
