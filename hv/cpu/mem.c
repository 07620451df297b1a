/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/mem.c - the slow side of memory accesses (mem.h): faults and exits
 * from the model, device windows, accesses split over two pages,
 * segmentation outside 64-bit mode, and the stack.
 */
#include <string.h>

#include "hv/cpu/mem.h"

static bool gpa_is_mmio(const struct vcpu_soft *v, uint64_t gpa)
{
	if (v->nmmio == 0)
		return gpa >= v->mem_size;
	for (unsigned i = 0; i < v->nmmio; i++)
		if (gpa - v->mmio[i].base < v->mmio[i].size)
			return true;
	return false;
}


/* The slow side of xlate: exceptions, exits and device windows. */
int xlate_fail(struct vcpu_soft *v, const struct mmu_result *r, unsigned acc, struct piece *pc)
{
	struct mmu_result res = *r;
	unsigned type = acc & (ACC_READ | ACC_WRITE | ACC_FETCH);
	switch (res.status) {
	case MMU_OK:
		pc->hpa = res.hpa;
		pc->mmio = false;
		return X86_OK;
	case MMU_PAGE_FAULT:
		v->cr2 = res.gva;
		return x86_raise(v, EXC_PF, true, res.pf_error);
	case MMU_NONCANONICAL:
		return x86_raise(v, (acc & MEM_STACK) ? EXC_SS : EXC_GP, true, 0);
	case MMU_EPT_VIOLATION:
		/* A plain data access to a device window is MMIO, not a fault of the guest. */
		if (!(type & ACC_FETCH) && (res.qual & EPT_QUAL_GLA_XLATE) && gpa_is_mmio(v, res.gpa)) {
			pc->gpa = res.gpa;
			pc->mmio = true;
			return X86_OK;
		}
		v->exit->reason = VCPU_EXIT_EPT_VIOLATION;
		v->exit->exit_reason_vmx = EXIT_REASON_EPT_VIOLATION;
		v->exit->ept.gpa = res.gpa;
		v->exit->ept.gva = res.gva;
		v->exit->ept.qual = res.qual;
		return X86_EXIT;
	case MMU_EPT_MISCONFIG:
	default:
		v->exit->reason = VCPU_EXIT_EPT_MISCONFIG;
		v->exit->exit_reason_vmx = EXIT_REASON_EPT_MISCONFIG;
		v->exit->ept.gpa = res.gpa;
		v->exit->ept.gva = res.gva;
		v->exit->ept.qual = 0;
		return X86_EXIT;
	}
}

/* The failure side of an instruction-fetch translation (vcpu_soft.c calls the MMU itself). */
int fetch_fail(struct vcpu_soft *v, const struct mmu_result *res)
{
	struct piece pc;
	return xlate_fail(v, res, ACC_FETCH, &pc);
}

/*
 * An MMIO read completes when the instruction is executed again with hv's
 * value. A load split over two device pages needs two values: each piece has
 * its own slot, so the first value survives the second piece's exit.
 */
int piece_load(struct vcpu_soft *v, const struct piece *pc, uint8_t *dst)
{
	unsigned n;

	if (!pc->mmio) {
		memcpy(dst, hpool_ptr(v->pool, pc->hpa), pc->len);
		return X86_OK;
	}
	n = v->pend == PEND_MMIO_READ ? v->pend_nmmio : 0;
	for (unsigned i = 0; i < n; i++) {
		if (v->pend_mmio_gpa[i] == pc->gpa && (i + 1 < n || v->pend_ready)) {
			memcpy(dst, &v->pend_mmio_data[i], pc->len);
			return X86_OK;
		}
	}
	if (n == sizeof(v->pend_mmio_gpa) / sizeof(v->pend_mmio_gpa[0]))
		n = 0;   /* one device piece too many: start over (no instruction has one) */
	v->exit->reason = VCPU_EXIT_MMIO;
	v->exit->exit_reason_vmx = EXIT_REASON_EPT_VIOLATION;
	v->exit->mmio.gpa = pc->gpa;
	v->exit->mmio.size = (uint8_t)pc->len;
	v->exit->mmio.write = false;
	v->exit->mmio.data = 0;
	v->pend = PEND_MMIO_READ;
	v->pend_mmio_gpa[n] = pc->gpa;
	v->pend_mmio_data[n] = 0;
	v->pend_nmmio = n + 1;
	v->pend_ready = false;
	return X86_EXIT;
}

/* The load that used the MMIO values is complete: they are spent (one shot),
 * unless the instruction has a second load to do (mmio_hold: CMPS). */
void mmio_read_done(struct vcpu_soft *v)
{
	if (v->pend == PEND_MMIO_READ && !v->mmio_hold) {
		v->pend = PEND_NONE;
		v->pend_nmmio = 0;
		v->pend_ready = false;
	}
}

/*
 * A far pointer at seg:ea, its offset (osz bytes) then its selector: two
 * loads (JMP/CALL far indirect, LDS, LES, LFS, LGS, LSS). As for CMPS, a
 * value hv gave the first load survives the second's MMIO exit, else the
 * instruction would ask for the offset again for ever.
 */
int mem_read_farptr(struct vcpu_soft *v, unsigned seg, uint64_t ea, unsigned osz, unsigned asz,
		    uint64_t *off, uint64_t *sel)
{
	int st;

	v->mmio_hold = true;
	st = mem_read(v, seg, ea, osz, off);
	v->mmio_hold = false;
	if (!st && (st = mem_read(v, seg, (ea + osz) & size_mask(asz), 2, sel)) != X86_EXIT && st)
		mmio_read_done(v);
	if (st)
		return st;
	mmio_read_done(v);
	return X86_OK;
}

int mref_load_slow(struct vcpu_soft *v, const struct mref *m, void *buf)
{
	uint8_t *b = buf;
	bool mmio = false;
	for (unsigned i = 0; i < m->n; i++) {
		int st = piece_load(v, &m->p[i], b);
		if (st)
			return st;
		b += m->p[i].len;
		mmio |= m->p[i].mmio;
	}
	if (mmio)
		mmio_read_done(v);
	return X86_OK;
}

void mref_store_slow(struct vcpu_soft *v, const struct mref *m, const void *buf)
{
	const uint8_t *b = buf;
	for (unsigned i = 0; i < m->n; i++) {
		const struct piece *pc = &m->p[i];
		if (!pc->mmio) {
			memcpy(hpool_ptr(v->pool, pc->hpa), b, pc->len);
		} else if (!v->exit_after_retire) {
			/* MMIO writes retire; hv sees the value in the exit. */
			v->exit->reason = VCPU_EXIT_MMIO;
			v->exit->exit_reason_vmx = EXIT_REASON_EPT_VIOLATION;
			v->exit->mmio.gpa = pc->gpa;
			v->exit->mmio.size = (uint8_t)pc->len;
			v->exit->mmio.write = true;
			v->exit->mmio.data = 0;
			memcpy(&v->exit->mmio.data, b, pc->len);
			v->exit_after_retire = true;
		} else if (!v->wr2_pending) {
			/* The second piece of a page-split store: its own exit, next. */
			v->wr2_pending = true;
			v->wr2_gpa = pc->gpa;
			v->wr2_size = (uint8_t)pc->len;
			v->wr2_data = 0;
			memcpy(&v->wr2_data, b, pc->len);
			v->wr2_rip = v->rip;
		}
		b += pc->len;
	}
}

int lin_read(struct vcpu_soft *v, uint64_t lin, unsigned size, void *buf, unsigned acc)
{
	struct mref m;
	int st;
	/* Larger than a page only for descriptor-table reads, which never are. */
	if (!(acc & ACC_FETCH))
		acc |= ACC_READ;
	st = mref_get(v, lin, size, acc, &m);
	if (st)
		return st;
	return mref_load(v, &m, buf);
}

int mem_probe_write(struct vcpu_soft *v, unsigned seg, uint64_t off, unsigned size)
{
	struct mref m;
	uint64_t lin;
	int st = seg_linear(v, seg, off, size, &lin);
	if (st)
		return st;
	return mref_get(v, lin, size, ACC_WRITE | (seg == SEG_SS ? MEM_STACK : 0), &m);
}

int lin_write(struct vcpu_soft *v, uint64_t lin, unsigned size, const void *buf, unsigned acc)
{
	struct mref m;
	int st = mref_get(v, lin, size, acc | ACC_WRITE, &m);
	if (st)
		return st;
	mref_store(v, &m, buf);
	return X86_OK;
}

/* Segmentation (SDM Vol. 3A 3.4, 5.3): offset -> linear address. */
int seg_linear(struct vcpu_soft *v, unsigned seg, uint64_t off, unsigned size, uint64_t *lin)
{
	if (v->mode == 64) {
		*lin = seg >= SEG_FS ? off + v->seg[seg].base : off;
		return X86_OK;
	}
	const struct vcpu_segment *s = &v->seg[seg];
	if (s->unusable)
		return x86_raise(v, seg == SEG_SS ? EXC_SS : EXC_GP, true, 0);
	/* Expand-up limit check; expand-down data segments are not checked (flat kernels). */
	if (!(s->s && !(s->type & 8) && (s->type & 4)) && off + size - 1 > s->limit)
		return x86_raise(v, seg == SEG_SS ? EXC_SS : EXC_GP, true, 0);
	*lin = (s->base + off) & 0xffffffffULL;
	return X86_OK;
}

int mem_read_slow(struct vcpu_soft *v, unsigned seg, uint64_t off, unsigned size, uint64_t *val)
{
	uint64_t lin;
	int st = seg_linear(v, seg, off, size, &lin);
	*val = 0;
	if (st)
		return st;
	return lin_read(v, lin, size, val, seg == SEG_SS ? MEM_STACK : 0);
}

int mem_write_slow(struct vcpu_soft *v, unsigned seg, uint64_t off, unsigned size, uint64_t val)
{
	uint64_t lin;
	int st = seg_linear(v, seg, off, size, &lin);
	if (st)
		return st;
	return lin_write(v, lin, size, &val, seg == SEG_SS ? MEM_STACK : 0);
}

/* The inline paths of mem.h, for callers that do not need them inline. */
int mem_read(struct vcpu_soft *v, unsigned seg, uint64_t off, unsigned size, uint64_t *val)
{
	return mem_read_i(v, seg, off, size, val);
}

int mem_write(struct vcpu_soft *v, unsigned seg, uint64_t off, unsigned size, uint64_t val)
{
	return mem_write_i(v, seg, off, size, val);
}

/*
 * mem_read()/mem_write() of 4 or 8 bytes in ES, CS, SS or DS in 64-bit
 * mode, where the offset is the linear address: what the [base + disp]
 * handlers call when the hit path did not take the access, with the size
 * a constant in each copy of the inline path.
 */
int mem_read_flat(struct vcpu_soft *v, unsigned seg, uint64_t lin, unsigned size, uint64_t *val)
{
	if (seg >= SEG_FS)
		__builtin_unreachable();
	return size == 8 ? mem_read_i(v, seg, lin, 8, val) : mem_read_i(v, seg, lin, 4, val);
}

int mem_write_flat(struct vcpu_soft *v, unsigned seg, uint64_t lin, unsigned size, uint64_t val)
{
	if (seg >= SEG_FS)
		__builtin_unreachable();
	return size == 8 ? mem_write_i(v, seg, lin, 8, val) : mem_write_i(v, seg, lin, 4, val);
}

bool mem_miss_chain(struct vcpu_soft *v, uint64_t lin, unsigned type, uint64_t *hpa)
{
	struct mmu_result *res = &v->miss_res;
	bool wrote;

	if (v->fpage && !mmu_hit_data_apart(&v->fonly, v->fslot, v->fpage, lin))
		return false;
	/* v->ctx is the model's current context (cpu_update_mode, run_loop). */
	mmu_translate_cur(v->mmu, lin, type, res);
	wrote = walk_wrote(v);
	if (__builtin_expect(res->status == MMU_OK && !wrote, 1) &&
	    !((type & ACC_WRITE) && code_frame(v, res->hpa >> 12))) {
		v->hit_missed = false;
		*hpa = res->hpa;
		return true;
	}
	v->miss_pending = true;
	v->miss_lin = lin;
	return false;
}

/* Translate a read-modify-write operand once, for write (a locked or RMW access
 * is checked for write before it reads: a read-only page faults with W=1). */
int mem_rmw_get(struct vcpu_soft *v, unsigned seg, uint64_t off, unsigned size, struct mref *m,
		uint64_t *val)
{
	uint64_t lin;
	int st = seg_linear(v, seg, off, size, &lin);
	if (st)
		return st;
	st = mref_get(v, lin, size, ACC_WRITE | (seg == SEG_SS ? MEM_STACK : 0), m);
	if (st)
		return st;
	*val = 0;
	return mref_load(v, m, val);
}

int stack_push(struct vcpu_soft *v, unsigned size, uint64_t val)
{
	uint64_t rsp = (v->gpr[4] - size) & stack_mask(v);
	int st = mem_write_i(v, SEG_SS, rsp, size, val);
	if (st)
		return st;
	set_rsp(v, rsp);
	return X86_OK;
}

int stack_pop(struct vcpu_soft *v, unsigned size, uint64_t *val)
{
	uint64_t rsp = v->gpr[4] & stack_mask(v);
	int st = mem_read_i(v, SEG_SS, rsp, size, val);
	if (st)
		return st;
	set_rsp(v, rsp + size);
	return X86_OK;
}
