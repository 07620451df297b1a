/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/mem.h - memory accesses of the software vCPU through the modelled
 * MMU, the stack, and instruction operands (registers or ModRM memory).
 *
 * Every fetch, load and store is one model translation per page it touches
 * (docs/softcpu.md). The common case - 64-bit mode, an access inside one
 * page, a hit in the model's L1 TLB - is inline here; mem.c has the rest:
 * faults, exits, device windows, page-split accesses and segmentation.
 *
 * Precise faults: an instruction translates every memory operand it writes
 * before it changes anything, and changes registers only after its stores
 * are done, so a fault or exit in the middle leaves no trace (SDM Vol. 3A
 * 6.5). String instructions keep the progress of completed iterations.
 */
#ifndef HV_CPU_MEM_H
#define HV_CPU_MEM_H

#include <string.h>

#include "hv/cpu/x86.h"

/* Outcome of translating one page-piece of an access. */
struct piece {
	uint64_t hpa;
	uint64_t gpa;
	unsigned len;
	bool mmio;
};

int xlate_fail(struct vcpu_soft *v, const struct mmu_result *r, unsigned acc, struct piece *pc);


/*
 * Count the instruction fetches run_loop() deferred (x86.h, fpage), before
 * anything else - a load, a store, another fetch, an invalidation, a context
 * switch - reaches the MMU, so that the model sees the same sequence as if
 * each had been counted at once.
 */
static inline void fetch_settle(struct vcpu_soft *v)
{
	if (v->fpage) {
		uint64_t n = v->icount - v->fmark;

		/* n = 0 counts nothing: the kept slot's entry is the last its
		 * structure stamped (mmu_hit_count_on). */
		v->stats.fetches += n;
		mmu_hit_count_on(v->hit, v->fslot, ACC_FETCH, n);
		v->fpage = 0;
	}
}

/* Arm the bulk count on the page of lin, whose fetch (at instruction count
 * icount) hit slot s and was counted. */
static inline __attribute__((always_inline)) void fetch_arm(struct vcpu_soft *v, uint64_t lin,
							     uint64_t icount,
							     const struct mmu_hit_slot *s)
{
	v->fpage = (lin & ~0xfffULL) | 1;
	v->fmark = icount;
	v->fslot = s;
	v->fclock = s->clock;
}

/*
 * A fetch of lin (at instruction count v->icount) through the model's
 * shortcut: on a hit, counted, its HPA in *hpa, and the page armed for the
 * fetches that follow on it to be counted in bulk (fpage, fmark, fslot).
 * False, nothing counted, on a miss. The deferred fetches of the page
 * armed before must have been counted (fetch_settle).
 */
static inline __attribute__((always_inline)) bool fetch_hit_arm(struct vcpu_soft *v, uint64_t lin,
								 uint64_t *hpa)
{
	struct mmu_hit_slot *s = mmu_hit_find(v->hit, lin, ACC_FETCH);

	if (__builtin_expect(s == NULL, 0))
		return false;
	*hpa = mmu_hit_take(v->hit, s, lin, ACC_FETCH);
	v->stats.fetches++;
	fetch_arm(v, lin, v->icount, s);
	return true;
}

/*
 * fetch_move()'s hit, for a caller that found slot s for the fetch of lin
 * itself (mmu_hit_find, nothing having reached the MMU since): the deferred
 * fetches and this one counted with one call, the page of lin armed, and
 * the HPA of lin.
 */
static inline __attribute__((always_inline)) uint64_t fetch_move_hit(struct vcpu_soft *v,
								      struct mmu_hit_slot *s,
								      uint64_t lin, unsigned before)
{
	const struct mmu_hit_slot *old = s;
	uint64_t n = 0, hpa;

	if (v->fpage) {
		old = v->fslot;
		n = v->icount - v->fmark - before;
	}
	hpa = mmu_hit_settle_take(v->hit, old, n, s, lin, ACC_FETCH);
	v->stats.fetches += n + 1;
	fetch_arm(v, lin, v->icount, s);
	return hpa;
}

/*
 * fetch_settle() and fetch_hit_arm() in one: the fetch of lin, the
 * instruction at count v->icount, after the fetches deferred on the armed
 * page, v->icount - fmark - before of them (before: 1 between two
 * instructions, where the run loop has not yet moved fmark past the last
 * one; 0 where it has). On a hit both are counted with one call
 * (mmu_hit_settle_take) and the page of lin armed; on a miss the deferred
 * ones are counted, fpage is 0, and false.
 */
static inline __attribute__((always_inline)) bool fetch_move(struct vcpu_soft *v, uint64_t lin,
							      unsigned before, uint64_t *hpa)
{
	struct mmu_hit_slot *s = mmu_hit_find(v->hit, lin, ACC_FETCH);

	if (__builtin_expect(s == NULL, 0)) {
		if (v->fpage) {
			uint64_t n = v->icount - v->fmark - before;

			v->stats.fetches += n;
			mmu_hit_count_on(v->hit, v->fslot, ACC_FETCH, n);
			v->fpage = 0;
		}
		return false;
	}
	*hpa = fetch_move_hit(v, s, lin, before);
	return true;
}

/*
 * Whether a data hit on slot s stamps another structure than the fetches
 * deferred on fpage (mmu_hit_apart, with the fetch slot's clock kept since
 * fpage was armed: the slot cannot change before fpage is settled).
 */
static inline bool fetch_apart(const struct vcpu_soft *v, const struct mmu_hit_slot *s)
{
	return s->clock != v->fclock;
}

/* Whether frame f is marked: a current block was decoded from it. */
static inline bool code_frame(const struct vcpu_soft *v, uint64_t f)
{
	return f < v->code->frames && ((v->code->map[f >> 6] >> (f & 63)) & 1);
}

/* Mark the frame of hpa as one a current block was decoded from (vcpu_soft.c). */
static inline void code_map_set(struct vcpu_soft *v, uint64_t hpa)
{
	uint64_t f = hpa >> 12;

	if (f < v->code->frames)
		v->code->map[f >> 6] |= 1ULL << (f & 63);
}

/*
 * A guest store is about to change the frame of hpa. If the frame is marked
 * (a block decoded from it or compared with it since the last such store), no
 * block's bytes are known current any more (code_watch.epoch), and a store to
 * the running block's page ends the block after this instruction
 * (code_written). The mark goes with the move: until a block of the frame is
 * decoded or compared again, none is current, and further stores to the frame
 * (a variable beside start-up code, say) need not move the epoch.
 */
static inline void code_store(struct vcpu_soft *v, uint64_t hpa)
{
	uint64_t f = hpa >> 12;

	if (__builtin_expect(code_frame(v, f), 0)) {
		v->code->map[f >> 6] &= ~(1ULL << (f & 63));
		v->code->epoch++;
		if (f == v->blk_page)
			v->code_written = true;
	}
}

/*
 * After a translation that may have walked: a walk that set accessed or
 * dirty flags wrote guest memory on pages nobody named, so blocks are
 * compared again, and the running one ends after this instruction.
 */
static inline bool walk_wrote(struct vcpu_soft *v)
{
	const struct mmu_stats *st = v->hit->st;
	uint64_t ad = st->guest_ad_writes + st->ept_ad_writes;

	if (__builtin_expect(ad != v->ad_seen, 0)) {
		v->ad_seen = ad;
		v->code->epoch++;
		v->code_written = true;
		return true;
	}
	return false;
}

/*
 * One access of `type` (ACC_READ, ACC_WRITE or ACC_FETCH) at lin when the
 * model's shortcut holds it: counted in the model (not in v->stats) and
 * true with the HPA; false, nothing counted, when the shortcut misses.
 */
static inline __attribute__((always_inline)) bool xlate_hit(struct vcpu_soft *v, uint64_t lin, unsigned type,
							    uint64_t *hpa)
{
	struct mmu_hit_slot *s = mmu_hit_find(v->hit, lin, type);

	if (__builtin_expect(s == NULL, 0))
		return false;
	/* A data hit in a structure of its own leaves the deferred fetches'
	 * counters and stamps as they are: they stay deferred
	 * (mmu_hit_apart), and the run goes on counting them in bulk. */
	if (v->fpage && ((type & ACC_FETCH) || !fetch_apart(v, s)))
		fetch_settle(v);
	*hpa = mmu_hit_take(v->hit, s, lin, type);
	if (type & ACC_WRITE)
		code_store(v, *hpa);
	return true;
}

/*
 * Translate one linear address for `acc` (ACC_* plus MEM_STACK / ACC_IMPLICIT_SV).
 * Turns the MMU's answer into a guest exception, a VM exit, or an MMIO piece.
 */
static inline __attribute__((always_inline)) int xlate(struct vcpu_soft *v, uint64_t lin, unsigned acc,
							struct piece *pc)
{
	struct mmu_result res;
	unsigned type = acc & (ACC_READ | ACC_WRITE | ACC_FETCH);

	if (type & ACC_FETCH)
		v->stats.fetches++;
	else if (type & ACC_WRITE)
		v->stats.stores++;
	else
		v->stats.loads++;
	if (__builtin_expect(!(acc & ACC_IMPLICIT_SV) && !v->hit_missed, 1) &&
	    __builtin_expect(xlate_hit(v, lin, type, &pc->hpa), 1)) {
		pc->mmio = false;
		return X86_OK;
	}
	v->hit_missed = false;
	if (__builtin_expect(v->miss_pending, 0) && v->miss_lin == lin &&
	    !(acc & ACC_IMPLICIT_SV)) {
		/* Made by the threaded code of this record (mem_miss_chain). */
		v->miss_pending = false;
		res = v->miss_res;
	} else {
		/* A data translation leaves fetches deferred in a structure of
		 * their own deferred: it cannot touch their counters or stamps
		 * (ept/mmu.h), and the run goes on counting them in bulk. */
		if (v->fpage && ((type & ACC_FETCH) ||
				 !mmu_hit_data_apart(&v->fonly, v->fslot, v->fpage, lin)))
			fetch_settle(v);
		/* v->ctx is the model's current context (cpu_update_mode, run_loop). */
		mmu_translate_cur(v->mmu, lin, acc & (type | ACC_IMPLICIT_SV), &res);
		walk_wrote(v);
	}
	if (__builtin_expect(res.status == MMU_OK, 1)) {
		pc->hpa = res.hpa;
		pc->mmio = false;
		if (type & ACC_WRITE)
			code_store(v, res.hpa);
		return X86_OK;
	}
	return xlate_fail(v, &res, acc, pc);
}

/* A translated access of up to a page split in at most two pieces. */
struct mref {
	struct piece p[2];
	unsigned n;
	unsigned size;
};


int mref_load_slow(struct vcpu_soft *v, const struct mref *m, void *buf);
void mref_store_slow(struct vcpu_soft *v, const struct mref *m, const void *buf);
/* The value of an MMIO piece of a load: from hv's answer, or an exit to ask for it. */
int piece_load(struct vcpu_soft *v, const struct piece *pc, uint8_t *dst);
void mmio_read_done(struct vcpu_soft *v);

/* A data access the data breakpoints of DR7 may match (debug.c). */
static inline void dbg_data_check(struct vcpu_soft *v, uint64_t lin, unsigned size, unsigned acc)
{
	if (__builtin_expect(v->dbg_data, 0) && !(acc & ACC_FETCH))
		dbg_data_access(v, lin, size, (acc & ACC_WRITE) != 0);
}

static inline int mref_get(struct vcpu_soft *v, uint64_t lin, unsigned size, unsigned acc, struct mref *m)
{
	unsigned first = 4096 - (unsigned)(lin & 0xfff);
	int st;

	dbg_data_check(v, lin, size, acc);
	m->size = size;
	if (first >= size) {
		m->n = 1;
		m->p[0].len = size;
		return xlate(v, lin, acc, &m->p[0]);
	}
	m->n = 2;
	m->p[0].len = first;
	m->p[1].len = size - first;
	st = xlate(v, lin, acc, &m->p[0]);
	if (st)
		return st;
	uint64_t lin2 = lin + first;
	if (!long_mode(v))
		lin2 &= 0xffffffffULL;
	return xlate(v, lin2, acc, &m->p[1]);
}

static inline void copy_small(void *dst, const void *src, unsigned size)
{
	switch (size) {
	case 1: memcpy(dst, src, 1); break;
	case 2: memcpy(dst, src, 2); break;
	case 4: memcpy(dst, src, 4); break;
	case 8: memcpy(dst, src, 8); break;
	default: memcpy(dst, src, size); break;
	}
}

static inline int mref_load(struct vcpu_soft *v, const struct mref *m, void *buf)
{
	if (__builtin_expect(m->n == 1 && !m->p[0].mmio, 1)) {
		copy_small(buf, hpool_ptr(v->pool, m->p[0].hpa), m->size);
		return X86_OK;
	}
	return mref_load_slow(v, m, buf);
}

static inline void mref_store(struct vcpu_soft *v, const struct mref *m, const void *buf)
{
	if (__builtin_expect(m->n == 1 && !m->p[0].mmio, 1))
		copy_small(hpool_ptr(v->pool, m->p[0].hpa), buf, m->size);
	else
		mref_store_slow(v, m, buf);
}

/* memory through the model. lin_* take linear addresses. */
int fetch_fail(struct vcpu_soft *v, const struct mmu_result *res);
int lin_read(struct vcpu_soft *v, uint64_t lin, unsigned size, void *buf, unsigned acc);
int lin_write(struct vcpu_soft *v, uint64_t lin, unsigned size, const void *buf, unsigned acc);
int seg_linear(struct vcpu_soft *v, unsigned seg, uint64_t off, unsigned size, uint64_t *lin);
int mem_read_slow(struct vcpu_soft *v, unsigned seg, uint64_t off, unsigned size, uint64_t *val);
int mem_write_slow(struct vcpu_soft *v, unsigned seg, uint64_t off, unsigned size, uint64_t val);
int mem_read(struct vcpu_soft *v, unsigned seg, uint64_t off, unsigned size, uint64_t *val);
int mem_read_farptr(struct vcpu_soft *v, unsigned seg, uint64_t ea, unsigned osz, unsigned asz,
		    uint64_t *off, uint64_t *sel);
int mem_write(struct vcpu_soft *v, unsigned seg, uint64_t off, unsigned size, uint64_t val);
/* The same for 4 or 8 bytes in ES, CS, SS or DS in 64-bit mode (off is the linear address). */
int mem_read_flat(struct vcpu_soft *v, unsigned seg, uint64_t lin, unsigned size, uint64_t *val);
int mem_write_flat(struct vcpu_soft *v, unsigned seg, uint64_t lin, unsigned size, uint64_t val);
/* Translate for write without storing (INS checks its destination before the port read). */
int mem_probe_write(struct vcpu_soft *v, unsigned seg, uint64_t off, unsigned size);
/* Translate a read-modify-write operand once, for write, and read it. */
int mem_rmw_get(struct vcpu_soft *v, unsigned seg, uint64_t off, unsigned size, struct mref *m,
		uint64_t *val);

/*
 * The common case inline: 64-bit mode (no segment limits), an access inside
 * one page. It is the same single mmu_translate the general path makes.
 */
static inline __attribute__((always_inline)) int mem_read_i(struct vcpu_soft *v, unsigned seg, uint64_t off,
							    unsigned size, uint64_t *val)
{
	if (__builtin_expect(v->mode == 64, 1)) {
		uint64_t lin = seg >= SEG_FS ? off + v->seg[seg].base : off;
		if (__builtin_expect((lin & 0xfff) + size <= 4096, 1)) {
			struct piece pc;
			int st = xlate(v, lin, ACC_READ | (seg == SEG_SS ? MEM_STACK : 0), &pc);
			dbg_data_check(v, lin, size, ACC_READ);
			*val = 0;
			if (st)
				return st;
			if (__builtin_expect(!pc.mmio, 1)) {
				copy_small(val, hpool_ptr(v->pool, pc.hpa), size);
				return X86_OK;
			}
			pc.len = size;
			st = piece_load(v, &pc, (uint8_t *)val);
			if (st == X86_OK)
				mmio_read_done(v);
			return st;
		}
	}
	return mem_read_slow(v, seg, off, size, val);
}

static inline __attribute__((always_inline)) int mem_write_i(struct vcpu_soft *v, unsigned seg, uint64_t off,
							     unsigned size, uint64_t val)
{
	if (__builtin_expect(v->mode == 64, 1)) {
		uint64_t lin = seg >= SEG_FS ? off + v->seg[seg].base : off;
		if (__builtin_expect((lin & 0xfff) + size <= 4096, 1)) {
			struct mref m;
			int st = xlate(v, lin, ACC_WRITE | (seg == SEG_SS ? MEM_STACK : 0), &m.p[0]);
			if (st)
				return st;
			dbg_data_check(v, lin, size, ACC_WRITE);
			m.n = 1;
			m.size = size;
			m.p[0].len = size;
			mref_store(v, &m, &val);
			return X86_OK;
		}
	}
	return mem_write_slow(v, seg, off, size, val);
}

/*
 * A memory operand [base + disp] with a 64-bit address (so 64-bit mode) in
 * ES, CS, SS or DS, whose bases count as 0 there (SDM Vol. 1 3.4.2.1): its
 * linear address is the register plus the displacement.
 */
static inline bool flat_base(const struct x86_insn *in)
{
	return in->mod != 3 && in->asz == 8 && !in->rip_rel && in->base != X86_NOREG &&
	       in->index == X86_NOREG && in->seg < SEG_FS;
}

/*
 * The hit path alone, for handlers chosen at decode time for a 64-bit
 * address with a segment whose base is 0 (ES, CS, SS, DS in 64-bit mode):
 * an access inside one page that the shortcut holds, with no data
 * breakpoint armed. True: done and counted. False: nothing done, and the
 * handler takes the general path (mem_read_i, mem_write_i), which makes
 * the same translation and checks with faults, exits and breakpoints.
 */
static inline __attribute__((always_inline)) bool mem_read_hit(struct vcpu_soft *v, uint64_t lin,
							       unsigned size, uint64_t *val)
{
	uint64_t hpa;

	if (__builtin_expect((lin & 0xfff) + size > 4096 || v->dbg_data || v->hit_missed, 0) ||
	    !xlate_hit(v, lin, ACC_READ, &hpa))
		return false;
	v->stats.loads++;
	*val = 0;
	copy_small(val, hpool_ptr(v->pool, hpa), size);
	return true;
}

static inline __attribute__((always_inline)) bool mem_write_hit(struct vcpu_soft *v, uint64_t lin,
								unsigned size, uint64_t val)
{
	uint64_t hpa;

	if (__builtin_expect((lin & 0xfff) + size > 4096 || v->dbg_data || v->hit_missed, 0) ||
	    !xlate_hit(v, lin, ACC_WRITE, &hpa))
		return false;
	v->stats.stores++;
	copy_small(hpool_ptr(v->pool, hpa), &val, size);
	return true;
}

/*
 * The hit path as threaded code may take it (x86.h, struct blk_op): with
 * RIP and the instruction count not brought up to date, so only when
 * nothing would need them. Besides mem_read_hit's and mem_write_hit's
 * conditions: no fetch counted in bulk to settle first (a data hit in a
 * structure of the fetches' own), and for a store, not to a frame code was
 * decoded from (code_store). mem_slot_threaded() gives the shortcut's slot,
 * nothing counted yet (mmu_hit_take counts the access); mem_hit_threaded()
 * takes it. NULL or false: nothing done or counted, and the record is left
 * to the run loop, which executes it with its handler; when the shortcut
 * missed, that handler's access goes to the model without trying the
 * shortcut again (hit_missed, x86.h). The slot is first looked for where
 * *hint says (the record's h_slot: the slot its access took last, or
 * thread_no_slot), and taken there only when it is the slot the lookup
 * would give (mmu_hit_is); otherwise the lookup runs, and its answer
 * becomes the hint.
 */
static inline __attribute__((always_inline)) struct mmu_hit_slot *
mem_slot_threaded(struct vcpu_soft *v, uint64_t lin, unsigned size, unsigned type,
		  const struct mmu_hit_slot **hint)
{
	struct mmu_hit_slot *s;

	if (__builtin_expect((lin & 0xfff) + size > 4096 || v->dbg_data, 0))
		return NULL;
	s = (struct mmu_hit_slot *)(uintptr_t)*hint;
	if (__builtin_expect(!mmu_hit_is(v->hit, s, lin), 0)) {
		s = mmu_hit_find(v->hit, lin, type);
		if (__builtin_expect(s == NULL, 0)) {
			v->hit_missed = true;   /* the handler goes straight to the model */
			return NULL;
		}
		*hint = s;
	}
	if (v->fpage && !fetch_apart(v, s))
		return NULL;
	if ((type & ACC_WRITE) && code_frame(v, s->hpa >> 12))
		return NULL;
	return s;
}

static inline __attribute__((always_inline)) bool mem_hit_threaded(struct vcpu_soft *v,
								   const struct blk_op *op, uint64_t lin,
								   unsigned size, unsigned type,
								   uint64_t *hpa)
{
	struct mmu_hit_slot *s = mem_slot_threaded(v, lin, size, type, op_hint(op));

	if (__builtin_expect(s == NULL, 0))
		return false;
	*hpa = mmu_hit_take(v->hit, s, lin, type);
	return true;
}

/*
 * After mem_slot_threaded() found the shortcut missing (hit_missed set), the
 * model translation of the access made in the chain, when the deferred
 * fetches need not be counted first (none armed, or mmu_hit_data_apart):
 * true with the HPA when the access can complete there (RAM, no A/D flag
 * written by the walk, for a store no frame code was decoded from), which
 * the caller then makes and counts in v->stats; false otherwise, nothing
 * done, and the record goes back to the run loop, whose handler makes the
 * same access: with the translation waiting for it (miss_pending) when it
 * was made here (mem.c).
 */
bool mem_miss_chain(struct vcpu_soft *v, uint64_t lin, unsigned type, uint64_t *hpa);

/* ---- the stack ---- */

static inline unsigned stack_size(const struct vcpu_soft *v)
{
	return v->mode == 64 ? 8 : (v->seg[SEG_SS].db ? 4 : 2);
}

static inline uint64_t stack_mask(const struct vcpu_soft *v)
{
	return size_mask(stack_size(v));
}

static inline void set_rsp(struct vcpu_soft *v, uint64_t rsp)
{
	uint64_t m = stack_mask(v);
	v->gpr[4] = (v->gpr[4] & ~m) | (rsp & m);
}
int stack_push(struct vcpu_soft *v, unsigned size, uint64_t val);
int stack_pop(struct vcpu_soft *v, unsigned size, uint64_t *val);

/*
 * An 8-byte push or pop in 64-bit mode (SS's base counts as 0, RSP is used
 * whole) through the hit path: true when done and counted, false with
 * nothing done, for stack_push()/stack_pop() to make the same access with
 * its faults, exits and breakpoints.
 */
static inline __attribute__((always_inline)) bool push64_hit(struct vcpu_soft *v, uint64_t val)
{
	if (!mem_write_hit(v, v->gpr[4] - 8, 8, val))
		return false;
	v->gpr[4] -= 8;
	return true;
}

static inline __attribute__((always_inline)) bool pop64_hit(struct vcpu_soft *v, uint64_t *val)
{
	return mem_read_hit(v, v->gpr[4], 8, val);   /* the caller moves RSP */
}

/* ------------------------------------------------------------------------ */
/* Operands                                                                 */
/* ------------------------------------------------------------------------ */

static inline uint64_t reg_get(const struct vcpu_soft *v, const struct x86_insn *in, unsigned r,
			       unsigned size)
{
	if (size == 1 && !in->rex && r >= 4 && r < 8)
		return (v->gpr[r - 4] >> 8) & 0xff;
	return v->gpr[r] & size_mask(size);
}

static inline void reg_set(struct vcpu_soft *v, const struct x86_insn *in, unsigned r, unsigned size,
			   uint64_t val)
{
	switch (size) {
	case 1:
		if (!in->rex && r >= 4 && r < 8)
			v->gpr[r - 4] = (v->gpr[r - 4] & ~0xff00ULL) | ((val & 0xff) << 8);
		else
			v->gpr[r] = (v->gpr[r] & ~0xffULL) | (val & 0xff);
		break;
	case 2:
		v->gpr[r] = (v->gpr[r] & ~0xffffULL) | (val & 0xffff);
		break;
	case 4:
		v->gpr[r] = val & 0xffffffffULL;  /* 32-bit results zero-extend (SDM Vol. 1 3.4.1.1) */
		break;
	default:
		v->gpr[r] = val;
	}
}

static inline int rm_read(struct vcpu_soft *v, const struct x86_insn *in, unsigned size, uint64_t *val)
{
	if (in->mod == 3) {
		*val = reg_get(v, in, in->rm, size);
		return X86_OK;
	}
	return mem_read_i(v, in->seg, insn_ea(v, in), size, val);
}

static inline int rm_write(struct vcpu_soft *v, const struct x86_insn *in, unsigned size, uint64_t val)
{
	if (in->mod == 3) {
		reg_set(v, in, in->rm, size, val);
		return X86_OK;
	}
	return mem_write_i(v, in->seg, insn_ea(v, in), size, val);
}

/* A read-modify-write r/m operand: read it now, write it with rmw_commit. */
struct rmw {
	bool mem;
	struct mref m;
};

static inline int rmw_read(struct vcpu_soft *v, const struct x86_insn *in, unsigned size, struct rmw *w,
			   uint64_t *val)
{
	w->mem = in->mod != 3;
	if (!w->mem) {
		*val = reg_get(v, in, in->rm, size);
		return X86_OK;
	}
	return mem_rmw_get(v, in->seg, insn_ea(v, in), size, &w->m, val);
}

static inline void rmw_commit(struct vcpu_soft *v, const struct x86_insn *in, unsigned size,
			      const struct rmw *w, uint64_t val)
{
	if (!w->mem)
		reg_set(v, in, in->rm, size, val);
	else
		mref_store(v, &w->m, &val);
}

#endif /* HV_CPU_MEM_H */
