/* SPDX-License-Identifier: MIT */
/*
 * ept/walk.c - the one page-table walker (see ept/walk.h). It knows no format:
 * everything it tests comes from the descriptor, everything a model adds is
 * a hook.
 */
#include "ept/walk.h"
#include "ept/ept.h"

static inline uint64_t read_entry(const struct hpool *pool, uint64_t hpa, unsigned esz)
{
	if (esz == 8)
		return hpool_read64(pool, hpa);
	return *(const volatile uint32_t *)hpool_ptr(pool, hpa);
}

static bool write_ad(const struct walk_fmt *f, struct hpool *pool, const struct walk_ops *ops,
		     void *arg, struct walk_path *p, struct walk_step *r, uint64_t nv)
{
	if (ops && ops->ad && !ops->ad(arg, p, r, nv))
		return false;
	if (f->esz == 8)
		hpool_write64(pool, r->entry_hpa, nv);
	else
		*(volatile uint32_t *)hpool_ptr(pool, r->entry_hpa) = (uint32_t)nv;
	r->value = nv;
	p->ad_writes++;
	return true;
}

static inline enum walk_status done(struct walk_path *p, enum walk_status st)
{
	p->status = st;
	return st;
}

enum walk_status walk_run(const struct walk_fmt *f, struct hpool *pool,
			  const struct walk_ops *ops,
		      void *arg, uint64_t root, const struct walk_start *start, uint64_t addr,
		      struct walk_path *p)
{
	unsigned level = start ? start->level : f->levels;
	uint64_t table = start ? start->table : root;
	uint64_t andb = start ? start->and_bits : f->and_bits;
	uint64_t orb = start ? start->or_bits : 0;

	p->start = level;
	p->n = 0;
	p->ad_writes = 0;
	p->addr = 0;
	p->shift = 0;
	p->and_acc = andb;
	p->or_acc = orb;
	if (addr >> (f->shift[f->levels] + f->ibits[f->levels]))
		return done(p, WALK_RANGE);
	for (;;) {
		unsigned sh = f->shift[level];
		uint64_t ea = table + ((addr >> sh) & ((1ULL << f->ibits[level]) - 1)) * f->esz;
		uint64_t eh, e;
		struct walk_step *r;
		bool leaf;

		p->table[level] = table;
		p->and_at[level] = andb;
		p->or_at[level] = orb;
		if (ops && ops->locate) {
			if (!ops->locate(arg, p, level, ea, &eh))
				return done(p, WALK_STOPPED);
			e = read_entry(pool, eh, f->esz);
		} else {
			/* Nothing answers a read outside host memory: all ones. */
			eh = ea;
			e = ea < pool->size && pool->size - ea >= f->esz ? read_entry(pool, ea, f->esz)
									 : ~0ULL;
		}
		r = &p->ref[p->n++];
		r->level = level;
		r->entry_addr = ea;
		r->entry_hpa = eh;
		r->value = e;
		if (ops && ops->ref)
			ops->ref(arg, p, r);
		if (!(e & f->present))
			return done(p, WALK_NOT_PRESENT);
		leaf = level == 1 || ((e & f->ps) && ((f->large >> level) & 1));
		if ((e & (leaf ? f->rsvd_page[level] : f->rsvd_table[level])) ||
		    (f->bad && f->bad(f, e, level, leaf)))
			return done(p, WALK_RESERVED);
		andb &= e;
		orb |= e & f->or_bits;
		p->and_acc = andb;
		p->or_acc = orb;
		if (leaf) {
			uint64_t mask = (1ULL << sh) - 1;
			uint64_t frame = f->frame ? f->frame(e, level) : (e & f->addr);

			p->addr = (frame & ~mask) | (addr & mask);
			p->shift = sh;
			return done(p, WALK_OK);
		}
		if (f->ad_tables_early && f->a && !(e & f->a) &&
		    !write_ad(f, pool, ops, arg, p, r, e | f->a))
			return done(p, WALK_STOPPED);
		table = e & f->addr;
		level--;
	}
}

bool walk_set_ad(const struct walk_fmt *f, struct hpool *pool, const struct walk_ops *ops,
		 void *arg, struct walk_path *p, bool dirty)
{
	unsigned i;

	if (!f->a || p->n == 0)
		return true;
	for (i = f->ad_tables_early ? p->n - 1 : 0; i < p->n; i++) {
		struct walk_step *r = &p->ref[i];
		uint64_t nv = r->value | f->a | (i == p->n - 1 && dirty ? f->d : 0);

		if (nv != r->value && !write_ad(f, pool, ops, arg, p, r, nv))
			return false;
	}
	return true;
}
