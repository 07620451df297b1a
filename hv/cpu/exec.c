/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/exec.c - the general-purpose instruction set, lazy flags, and
 * memory accesses through the modelled MMU.
 *
 * Precise faults: an instruction translates every memory operand it writes
 * before it changes anything, and changes registers only after its stores
 * are done, so a fault or exit in the middle leaves no trace (SDM Vol. 3A
 * 6.5: faults are reported with the state before the instruction). String
 * instructions keep the progress of completed iterations, as the SDM allows.
 */
#include <string.h>

#include "hv/cpu/x86.h"

/* ------------------------------------------------------------------------ */
/* Lazy flags                                                               */
/* ------------------------------------------------------------------------ */

static inline unsigned sign_bit(uint64_t x, unsigned size)
{
	return (unsigned)(x >> (size * 8 - 1)) & 1;
}

static bool lf_cf(const struct vcpu_soft *v)
{
	switch (v->lf_op) {
	case LF_ADD: return v->lf_res < v->lf_a;
	case LF_ADC: return v->lf_cin ? v->lf_res <= v->lf_a : v->lf_res < v->lf_a;
	case LF_SUB: return v->lf_a < v->lf_b;
	case LF_SBB: return v->lf_cin ? v->lf_a <= v->lf_b : v->lf_a < v->lf_b;
	case LF_LOGIC: return false;
	case LF_INC: case LF_DEC: return v->lf_cin;
	case LF_SHL: {
		unsigned bits = v->lf_size * 8;
		return v->lf_b <= bits ? (v->lf_a >> (bits - v->lf_b)) & 1 : 0;
	}
	case LF_SHR: return (v->lf_a >> (v->lf_b - 1)) & 1;
	case LF_SAR: {
		int64_t sa = (int64_t)sign_extend(v->lf_a, v->lf_size);
		return ((uint64_t)(sa >> (v->lf_b > 63 ? 63 : v->lf_b - 1))) & 1;
	}
	default: return (v->rflags & RF_CF) != 0;
	}
}

static bool lf_of(const struct vcpu_soft *v)
{
	uint64_t a = v->lf_a, b = v->lf_b, r = v->lf_res;
	switch (v->lf_op) {
	case LF_ADD: case LF_ADC: case LF_INC:
		return sign_bit((a ^ r) & (b ^ r), v->lf_size);
	case LF_SUB: case LF_SBB: case LF_DEC:
		return sign_bit((a ^ b) & (a ^ r), v->lf_size);
	case LF_LOGIC: return false;
	case LF_SHL: return sign_bit(r, v->lf_size) ^ lf_cf(v);  /* defined for count 1 */
	case LF_SHR: return sign_bit(a, v->lf_size);
	case LF_SAR: return false;
	default: return (v->rflags & RF_OF) != 0;
	}
}

static inline bool lf_zf(const struct vcpu_soft *v)
{
	return v->lf_op == LF_NONE ? (v->rflags & RF_ZF) != 0 : v->lf_res == 0;
}

static inline bool lf_sf(const struct vcpu_soft *v)
{
	return v->lf_op == LF_NONE ? (v->rflags & RF_SF) != 0 : sign_bit(v->lf_res, v->lf_size);
}

static inline bool lf_pf(const struct vcpu_soft *v)
{
	return v->lf_op == LF_NONE ? (v->rflags & RF_PF) != 0
				   : !__builtin_parity((unsigned)(v->lf_res & 0xff));
}

static inline bool lf_af(const struct vcpu_soft *v)
{
	if (v->lf_op == LF_NONE)
		return (v->rflags & RF_AF) != 0;
	if (v->lf_op == LF_LOGIC || v->lf_op >= LF_SHL)
		return false;  /* undefined after logic ops and shifts: 0 */
	return ((v->lf_a ^ v->lf_b ^ v->lf_res) >> 4) & 1;
}

uint64_t flags_get(struct vcpu_soft *v)
{
	if (v->lf_op != LF_NONE) {
		uint64_t f = v->rflags & ~RF_ARITH;
		f |= lf_cf(v) ? RF_CF : 0;
		f |= lf_pf(v) ? RF_PF : 0;
		f |= lf_af(v) ? RF_AF : 0;
		f |= lf_zf(v) ? RF_ZF : 0;
		f |= lf_sf(v) ? RF_SF : 0;
		f |= lf_of(v) ? RF_OF : 0;
		v->rflags = f;
		v->lf_op = LF_NONE;
	}
	return v->rflags;
}

void flags_set(struct vcpu_soft *v, uint64_t rflags)
{
	v->lf_op = LF_NONE;
	v->rflags = (rflags & RF_WRITABLE) | RF_FIXED;
}

static inline void lf_set(struct vcpu_soft *v, enum lf_op op, unsigned size, uint64_t a, uint64_t b,
			  uint64_t res)
{
	v->lf_op = op;
	v->lf_size = (uint8_t)size;
	v->lf_a = a;
	v->lf_b = b;
	v->lf_res = res;
}

/*
 * Set the arithmetic flags to explicit values (shifts, multiplies, bit scans).
 * When every arithmetic flag is replaced the lazy ones need not be computed
 * first: the result is the same and the common IMUL path skips flags_get.
 */
static inline void flags_put(struct vcpu_soft *v, uint64_t mask, uint64_t bits)
{
	if ((mask & RF_ARITH) == RF_ARITH) {
		v->lf_op = LF_NONE;
		v->rflags = (v->rflags & ~mask) | (bits & mask);
		return;
	}
	uint64_t f = flags_get(v);
	v->rflags = (f & ~mask) | (bits & mask);
}

static uint64_t flags_szp(uint64_t res, unsigned size)
{
	res &= size_mask(size);
	return (res == 0 ? RF_ZF : 0) | (sign_bit(res, size) ? RF_SF : 0) |
	       (__builtin_parity((unsigned)(res & 0xff)) ? 0 : RF_PF);
}

static bool cond_eval_slow(struct vcpu_soft *v, unsigned cc)
{
	bool r;
	switch (cc >> 1) {
	case 0: r = lf_of(v); break;
	case 1: r = lf_cf(v); break;
	case 2: r = lf_zf(v); break;
	case 3: r = lf_cf(v) || lf_zf(v); break;
	case 4: r = lf_sf(v); break;
	case 5: r = lf_pf(v); break;
	case 6: r = lf_sf(v) != lf_of(v); break;
	default: r = lf_zf(v) || (lf_sf(v) != lf_of(v)); break;
	}
	return r ^ (cc & 1);
}

/* The common case, a CMP/SUB or a logic operation just before the branch, inline. */
static inline __attribute__((always_inline)) bool cond_eval_i(struct vcpu_soft *v, unsigned cc)
{
	bool r;
	if (v->lf_op == LF_SUB) {
		uint64_t a = v->lf_a, b = v->lf_b;
		int64_t sa = (int64_t)sign_extend(a, v->lf_size), sb = (int64_t)sign_extend(b, v->lf_size);
		switch (cc >> 1) {
		case 1: r = a < b; break;
		case 2: r = a == b; break;
		case 3: r = a <= b; break;
		case 6: r = sa < sb; break;
		case 7: r = sa <= sb; break;
		default: return cond_eval_slow(v, cc);
		}
		return r ^ (cc & 1);
	}
	if (v->lf_op == LF_LOGIC && (cc >> 1) == 2)
		return (v->lf_res == 0) ^ (cc & 1);  /* TEST + JE/JNE */
	return cond_eval_slow(v, cc);
}

bool cond_eval(struct vcpu_soft *v, unsigned cc)
{
	return cond_eval_i(v, cc);
}

/* ------------------------------------------------------------------------ */
/* Memory through the model                                                 */
/* ------------------------------------------------------------------------ */

static bool gpa_is_mmio(const struct vcpu_soft *v, uint64_t gpa)
{
	if (v->nmmio == 0)
		return gpa >= v->mem_size;
	for (unsigned i = 0; i < v->nmmio; i++)
		if (gpa - v->mmio[i].base < v->mmio[i].size)
			return true;
	return false;
}

/* Outcome of translating one page-piece of an access. */
struct piece {
	uint64_t hpa;
	uint64_t gpa;
	unsigned len;
	bool mmio;
};

static int xlate_fail(struct vcpu_soft *v, const struct mmu_result *r, unsigned acc, struct piece *pc);

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
	if (__builtin_expect(!(acc & ACC_IMPLICIT_SV), 1) &&
	    __builtin_expect(mmu_translate_hit(v->hit, lin, type, &pc->hpa), 1)) {
		pc->mmio = false;
		return X86_OK;
	}
	mmu_translate(v->mmu, &v->ctx, lin, acc & (type | ACC_IMPLICIT_SV), &res);
	if (__builtin_expect(res.status == MMU_OK, 1)) {
		pc->hpa = res.hpa;
		pc->mmio = false;
		return X86_OK;
	}
	return xlate_fail(v, &res, acc, pc);
}

/* The slow side of xlate: exceptions, exits and device windows. */
static int xlate_fail(struct vcpu_soft *v, const struct mmu_result *r, unsigned acc, struct piece *pc)
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

/* A translated access of up to a page split in at most two pieces. */
struct mref {
	struct piece p[2];
	unsigned n;
	unsigned size;
};

static int mref_load_slow(struct vcpu_soft *v, const struct mref *m, void *buf);

static inline int mref_get(struct vcpu_soft *v, uint64_t lin, unsigned size, unsigned acc, struct mref *m)
{
	unsigned first = 4096 - (unsigned)(lin & 0xfff);
	int st;

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

/*
 * An MMIO read completes when the instruction is executed again with hv's
 * value. A load split over two device pages needs two values: each piece has
 * its own slot, so the first value survives the second piece's exit.
 */
static int piece_load(struct vcpu_soft *v, const struct piece *pc, uint8_t *dst)
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
	if (n == 2)   /* a third device piece: start over (no instruction has one) */
		n = 0;
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

/* The load that used the MMIO values is complete: they are spent (one shot). */
static void mmio_read_done(struct vcpu_soft *v)
{
	if (v->pend == PEND_MMIO_READ) {
		v->pend = PEND_NONE;
		v->pend_nmmio = 0;
		v->pend_ready = false;
	}
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

static int mref_load_slow(struct vcpu_soft *v, const struct mref *m, void *buf)
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

static void mref_store_slow(struct vcpu_soft *v, const struct mref *m, const void *buf);

static inline void mref_store(struct vcpu_soft *v, const struct mref *m, const void *buf)
{
	if (__builtin_expect(m->n == 1 && !m->p[0].mmio, 1))
		copy_small(hpool_ptr(v->pool, m->p[0].hpa), buf, m->size);
	else
		mref_store_slow(v, m, buf);
}

static void mref_store_slow(struct vcpu_soft *v, const struct mref *m, const void *buf)
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

static int mem_read_slow(struct vcpu_soft *v, unsigned seg, uint64_t off, unsigned size, uint64_t *val)
{
	uint64_t lin;
	int st = seg_linear(v, seg, off, size, &lin);
	*val = 0;
	if (st)
		return st;
	return lin_read(v, lin, size, val, seg == SEG_SS ? MEM_STACK : 0);
}

static int mem_write_slow(struct vcpu_soft *v, unsigned seg, uint64_t off, unsigned size, uint64_t val)
{
	uint64_t lin;
	int st = seg_linear(v, seg, off, size, &lin);
	if (st)
		return st;
	return lin_write(v, lin, size, &val, seg == SEG_SS ? MEM_STACK : 0);
}

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
			m.n = 1;
			m.size = size;
			m.p[0].len = size;
			mref_store(v, &m, &val);
			return X86_OK;
		}
	}
	return mem_write_slow(v, seg, off, size, val);
}

int mem_read(struct vcpu_soft *v, unsigned seg, uint64_t off, unsigned size, uint64_t *val)
{
	return mem_read_i(v, seg, off, size, val);
}

int mem_write(struct vcpu_soft *v, unsigned seg, uint64_t off, unsigned size, uint64_t val)
{
	return mem_write_i(v, seg, off, size, val);
}

/* Translate a read-modify-write operand once, for write (a locked or RMW access
 * is checked for write before it reads: a read-only page faults with W=1). */
static int mem_rmw_get(struct vcpu_soft *v, unsigned seg, uint64_t off, unsigned size, struct mref *m,
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

unsigned stack_size(const struct vcpu_soft *v)
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

/* ------------------------------------------------------------------------ */
/* Arithmetic                                                               */
/* ------------------------------------------------------------------------ */

/* The eight ALU operations of opcodes 00-3F and group 1, in encoding order. */
static inline __attribute__((always_inline)) uint64_t alu(struct vcpu_soft *v, unsigned op, unsigned size,
							 uint64_t a, uint64_t b)
{
	uint64_t m = size_mask(size), r;
	bool cin;
	switch (op) {
	case 0: r = (a + b) & m; lf_set(v, LF_ADD, size, a, b, r); return r;
	case 1: r = a | b; lf_set(v, LF_LOGIC, size, a, b, r); return r;
	case 2:
		cin = lf_cf(v);
		r = (a + b + cin) & m;
		lf_set(v, LF_ADC, size, a, b, r);
		v->lf_cin = cin;
		return r;
	case 3:
		cin = lf_cf(v);
		r = (a - b - cin) & m;
		lf_set(v, LF_SBB, size, a, b, r);
		v->lf_cin = cin;
		return r;
	case 4: r = a & b; lf_set(v, LF_LOGIC, size, a, b, r); return r;
	case 5: case 7: r = (a - b) & m; lf_set(v, LF_SUB, size, a, b, r); return r;
	default: r = a ^ b; lf_set(v, LF_LOGIC, size, a, b, r); return r;
	}
}

static inline __attribute__((always_inline)) int exec_alu_op(struct vcpu_soft *v, const struct x86_insn *in,
							      unsigned op)
{
	unsigned form = in->op & 7;
	unsigned size = (form & 1) ? in->osz : 1;
	uint64_t a, b, r;
	struct rmw w;
	int st;

	switch (form) {
	case 0: case 1:  /* r/m op= reg */
		b = reg_get(v, in, in->reg, size);
		if (op == 7) {
			if ((st = rm_read(v, in, size, &a)))
				return st;
			alu(v, op, size, a, b);
			return X86_OK;
		}
		if ((st = rmw_read(v, in, size, &w, &a)))
			return st;
		r = alu(v, op, size, a, b);
		rmw_commit(v, in, size, &w, r);
		return X86_OK;
	case 2: case 3:  /* reg op= r/m */
		if ((st = rm_read(v, in, size, &b)))
			return st;
		a = reg_get(v, in, in->reg, size);
		r = alu(v, op, size, a, b);
		if (op != 7)
			reg_set(v, in, in->reg, size, r);
		return X86_OK;
	default:         /* AL/eAX op= imm */
		a = reg_get(v, in, 0, size);
		r = alu(v, op, size, a, in->imm & size_mask(size));
		if (op != 7)
			reg_set(v, in, 0, size, r);
		return X86_OK;
	}
}

static int exec_alu(struct vcpu_soft *v, const struct x86_insn *in)
{
	return exec_alu_op(v, in, (in->op >> 3) & 7);
}

/* One copy per operation, so that alu()'s switch folds away on the hot path. */
#define ALU_HANDLERS(X) X(0, add) X(1, or) X(2, adc) X(3, sbb) X(4, and) X(5, sub) X(6, xor) X(7, cmp)
#define ALU_HANDLER(n, name) \
	static int h_alu_##name(struct vcpu_soft *v, const struct x86_insn *in) { return exec_alu_op(v, in, n); }
ALU_HANDLERS(ALU_HANDLER)
static const x86_exec_fn alu_handlers[8] = {
	h_alu_add, h_alu_or, h_alu_adc, h_alu_sbb, h_alu_and, h_alu_sub, h_alu_xor, h_alu_cmp,
};

/*
 * Register-register forms of the ALU operations at 32 and 64 bits, the bulk
 * of compiled code: no ModRM memory path, no byte-register cases.
 */
static inline __attribute__((always_inline)) int alu_rr(struct vcpu_soft *v, const struct x86_insn *in,
							unsigned op, unsigned size)
{
	unsigned dst = (in->op & 2) ? in->reg : in->rm, src = (in->op & 2) ? in->rm : in->reg;
	uint64_t m = size_mask(size);
	uint64_t r = alu(v, op, size, v->gpr[dst] & m, v->gpr[src] & m);
	if (op != 7)
		v->gpr[dst] = r;  /* 32-bit results zero-extend; r is already masked */
	return X86_OK;
}

#define ALU_RR_HANDLER(n, name) \
	static int h_rr32_##name(struct vcpu_soft *v, const struct x86_insn *in) { return alu_rr(v, in, n, 4); } \
	static int h_rr64_##name(struct vcpu_soft *v, const struct x86_insn *in) { return alu_rr(v, in, n, 8); }
ALU_HANDLERS(ALU_RR_HANDLER)
static const x86_exec_fn alu_rr_handlers[2][8] = {
	{ h_rr32_add, h_rr32_or, h_rr32_adc, h_rr32_sbb, h_rr32_and, h_rr32_sub, h_rr32_xor, h_rr32_cmp },
	{ h_rr64_add, h_rr64_or, h_rr64_adc, h_rr64_sbb, h_rr64_and, h_rr64_sub, h_rr64_xor, h_rr64_cmp },
};

/* Shifts and rotates (group 2; SDM Vol. 2B SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR). */
static uint64_t shift(struct vcpu_soft *v, unsigned op, unsigned size, uint64_t a, unsigned cnt)
{
	unsigned bits = size * 8;
	uint64_t m = size_mask(size), r = a, f = 0;
	uint64_t mask = RF_CF | RF_OF;
	bool cf;

	cnt &= size == 8 ? 63 : 31;
	if (cnt == 0)
		return a;
	switch (op) {
	case 0: { /* ROL */
		unsigned c = cnt % bits;
		r = c ? ((a << c) | (a >> (bits - c))) & m : a;
		cf = r & 1;
		f = (cf ? RF_CF : 0) | ((sign_bit(r, size) ^ cf) ? RF_OF : 0);
		break;
	}
	case 1: { /* ROR */
		unsigned c = cnt % bits;
		r = c ? ((a >> c) | (a << (bits - c))) & m : a;
		cf = sign_bit(r, size);
		f = (cf ? RF_CF : 0) | ((sign_bit(r, size) ^ ((r >> (bits - 2)) & 1)) ? RF_OF : 0);
		break;
	}
	case 2: case 3: { /* RCL, RCR: rotate through CF, one bit at a time */
		unsigned c = cnt % (bits + 1);
		cf = lf_cf(v);
		for (unsigned i = 0; i < c; i++) {
			bool out;
			if (op == 2) {
				out = sign_bit(r, size);
				r = ((r << 1) | cf) & m;
			} else {
				out = r & 1;
				r = (r >> 1) | ((uint64_t)cf << (bits - 1));
			}
			cf = out;
		}
		if (op == 2)
			f = (cf ? RF_CF : 0) | ((sign_bit(r, size) ^ cf) ? RF_OF : 0);
		else
			f = (cf ? RF_CF : 0) | ((sign_bit(r, size) ^ ((r >> (bits - 2)) & 1)) ? RF_OF : 0);
		break;
	}
	/* SHL/SHR/SAR leave their flags lazy (lf_cf/lf_of know how to compute them). */
	case 4: case 6: /* SHL/SAL */
		r = cnt < 64 ? (a << cnt) & m : 0;
		lf_set(v, LF_SHL, size, a, cnt, r);
		return r;
	case 5: /* SHR */
		r = a >> cnt;
		lf_set(v, LF_SHR, size, a, cnt, r);
		return r;
	default: { /* SAR */
		int64_t sa = (int64_t)sign_extend(a, size);
		r = (uint64_t)(sa >> (cnt > 63 ? 63 : cnt)) & m;
		lf_set(v, LF_SAR, size, a, cnt, r);
		return r;
	}
	}
	flags_put(v, mask, f);
	return r;
}

/* SHLD/SHRD (SDM Vol. 2B). */
static uint64_t shift_double(struct vcpu_soft *v, bool left, unsigned size, uint64_t dst, uint64_t src,
			     unsigned cnt)
{
	unsigned bits = size * 8;
	uint64_t m = size_mask(size), r;
	bool cf;
	cnt &= size == 8 ? 63 : 31;
	if (cnt == 0)
		return dst;
	if (cnt > bits)       /* undefined for 16-bit operands: keep something sensible */
		cnt = cnt % bits ? cnt % bits : bits;
	if (left) {
		unsigned __int128 x = ((unsigned __int128)dst << bits) | src;
		r = (uint64_t)(x >> (bits - cnt)) & m;
		cf = (dst >> (bits - cnt)) & 1;
	} else {
		unsigned __int128 x = ((unsigned __int128)src << bits) | dst;
		r = (uint64_t)(x >> cnt) & m;
		cf = (dst >> (cnt - 1)) & 1;
	}
	flags_put(v, RF_ARITH, (cf ? RF_CF : 0) | ((sign_bit(r, size) ^ sign_bit(dst, size)) ? RF_OF : 0) |
				       flags_szp(r, size));
	return r;
}

static int exec_grp3(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned size = in->op == 0xf6 ? 1 : in->osz;
	unsigned r = in->reg & 7;
	uint64_t a, m = size_mask(size);
	struct rmw w;
	int st;

	if (r < 2) { /* TEST r/m, imm */
		if ((st = rm_read(v, in, size, &a)))
			return st;
		lf_set(v, LF_LOGIC, size, a, 0, a & in->imm & m);
		return X86_OK;
	}
	if (r == 2 || r == 3) { /* NOT, NEG */
		if ((st = rmw_read(v, in, size, &w, &a)))
			return st;
		uint64_t res;
		if (r == 2) {
			res = ~a & m;
		} else {
			res = (0 - a) & m;
			lf_set(v, LF_SUB, size, 0, a, res);
		}
		rmw_commit(v, in, size, &w, res);
		return X86_OK;
	}
	if ((st = rm_read(v, in, size, &a)))
		return st;
	uint64_t *ax = &v->gpr[0];
	bool ovf;
	switch (r) {
	case 4: case 5: { /* MUL, IMUL (one operand) */
		uint64_t lo, hi;
		if (r == 4) {
			unsigned __int128 p = (unsigned __int128)(reg_get(v, in, 0, size)) * a;
			lo = (uint64_t)p & m;
			hi = size == 8 ? (uint64_t)(p >> 64) : (uint64_t)(p >> (size * 8)) & m;
			ovf = hi != 0;
		} else {
			__int128 p = (__int128)(int64_t)sign_extend(reg_get(v, in, 0, size), size) *
				     (int64_t)sign_extend(a, size);
			lo = (uint64_t)p & m;
			hi = size == 8 ? (uint64_t)(p >> 64) : (uint64_t)(p >> (size * 8)) & m;
			ovf = p != (__int128)(int64_t)sign_extend(lo, size);
		}
		if (size == 1) {
			*ax = (*ax & ~0xffffULL) | lo | (hi << 8);
		} else {
			reg_set(v, in, 0, size, lo);
			reg_set(v, in, 2, size, hi);
		}
		flags_put(v, RF_ARITH, (ovf ? RF_CF | RF_OF : 0) | flags_szp(lo, size));
		return X86_OK;
	}
	default: { /* DIV, IDIV: #DE on zero divisor or quotient overflow (SDM Vol. 2A DIV) */
		if ((a & m) == 0)
			return x86_raise(v, EXC_DE, false, 0);
		uint64_t lo = size == 1 ? *ax & 0xff : reg_get(v, in, 0, size);
		uint64_t hi = size == 1 ? (*ax >> 8) & 0xff : reg_get(v, in, 2, size);
		uint64_t q, rem;
		if (r == 6) {
			unsigned __int128 n = size == 8 ? ((unsigned __int128)hi << 64) | lo
						      : (unsigned __int128)((hi << (size * 8)) | lo);
			unsigned __int128 qq = n / a;
			if (qq > m)
				return x86_raise(v, EXC_DE, false, 0);
			q = (uint64_t)qq;
			rem = (uint64_t)(n % a);
		} else {
			__int128 n;
			if (size == 8)
				n = (__int128)(((unsigned __int128)hi << 64) | lo);
			else
				n = (int64_t)sign_extend((hi << (size * 8)) | lo, size * 2);
			__int128 d = (int64_t)sign_extend(a, size);
			if (size == 8 && d == -1 && (unsigned __int128)n == (unsigned __int128)1 << 127)
				return x86_raise(v, EXC_DE, false, 0);
			__int128 qq = n / d;
			__int128 lim = (__int128)1 << (size * 8 - 1);
			if (qq >= lim || qq < -lim)
				return x86_raise(v, EXC_DE, false, 0);
			q = (uint64_t)qq & m;
			rem = (uint64_t)(n % d) & m;
		}
		if (size == 1) {
			*ax = (*ax & ~0xffffULL) | (q & 0xff) | ((rem & 0xff) << 8);
		} else {
			reg_set(v, in, 0, size, q);
			reg_set(v, in, 2, size, rem);
		}
		return X86_OK;
	}
	}
}

static int exec_imul2(struct vcpu_soft *v, const struct x86_insn *in, uint64_t a, uint64_t b)
{
	unsigned size = in->osz;
	__int128 p = (__int128)(int64_t)sign_extend(a, size) * (int64_t)sign_extend(b, size);
	uint64_t lo = (uint64_t)p & size_mask(size);
	bool ovf = p != (__int128)(int64_t)sign_extend(lo, size);
	reg_set(v, in, in->reg, size, lo);
	flags_put(v, RF_ARITH, (ovf ? RF_CF | RF_OF : 0) | flags_szp(lo, size));
	return X86_OK;
}

/* BT/BTS/BTR/BTC. op: 0 test, 1 set, 2 reset, 3 complement. */
static int exec_bt(struct vcpu_soft *v, const struct x86_insn *in, unsigned op, uint64_t bitoff, bool imm)
{
	unsigned size = in->osz, bits = size * 8;
	uint64_t val;
	struct rmw w;
	int st;

	w.mem = false;
	if (in->mod == 3 || imm) {
		bitoff &= bits - 1;
		if (op == 0) {
			if ((st = rm_read(v, in, size, &val)))
				return st;
		} else if ((st = rmw_read(v, in, size, &w, &val))) {
			return st;
		}
	} else {
		/* A register bit offset addresses memory beyond the operand (signed). */
		int64_t off = (int64_t)sign_extend(bitoff, size);
		int64_t unit = off >> (size == 8 ? 6 : size == 4 ? 5 : 4);
		uint64_t ea = (insn_ea(v, in) + (uint64_t)(unit * (int64_t)size)) & size_mask(in->asz);
		bitoff = (uint64_t)off & (bits - 1);
		if (op == 0)
			st = mem_read(v, in->seg, ea, size, &val);
		else
			st = mem_rmw_get(v, in->seg, ea, size, &w.m, &val);
		if (st)
			return st;
		w.mem = true;
	}
	bool bit = (val >> bitoff) & 1;
	if (op) {
		uint64_t b = 1ULL << bitoff;
		val = op == 1 ? val | b : op == 2 ? val & ~b : val ^ b;
		rmw_commit(v, in, size, &w, val);
	}
	flags_put(v, RF_CF, bit ? RF_CF : 0);
	return X86_OK;
}

/* ------------------------------------------------------------------------ */
/* String instructions                                                      */
/* ------------------------------------------------------------------------ */

static int exec_string(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned op = in->op, size = (op & 1) ? in->osz : 1;
	uint64_t am = size_mask(in->asz);
	bool rep = in->rep != 0;
	int64_t step = (v->rflags & RF_DF) ? -(int64_t)size : (int64_t)size;
	unsigned chunk = 0;
	int st;

	for (;;) {
		uint64_t cnt = v->gpr[1] & am;
		if (rep && cnt == 0)
			break;
		uint64_t si = v->gpr[6] & am, di = v->gpr[7] & am, a, b;
		bool stop = false;
		switch (op) {
		case 0xa4: case 0xa5: /* MOVS */
			if ((st = mem_read(v, in->seg, si, size, &a)) || (st = mem_write(v, SEG_ES, di, size, a)))
				return st;
			areg_write(v, 6, am, si + (uint64_t)step);
			areg_write(v, 7, am, di + (uint64_t)step);
			break;
		case 0xa6: case 0xa7: /* CMPS */
			if ((st = mem_read(v, in->seg, si, size, &a)) || (st = mem_read(v, SEG_ES, di, size, &b)))
				return st;
			alu(v, 7, size, a, b);
			areg_write(v, 6, am, si + (uint64_t)step);
			areg_write(v, 7, am, di + (uint64_t)step);
			stop = true;
			break;
		case 0xaa: case 0xab: /* STOS */
			if ((st = mem_write(v, SEG_ES, di, size, v->gpr[0] & size_mask(size))))
				return st;
			areg_write(v, 7, am, di + (uint64_t)step);
			break;
		case 0xac: case 0xad: /* LODS */
			if ((st = mem_read(v, in->seg, si, size, &a)))
				return st;
			reg_set(v, in, 0, size, a);
			areg_write(v, 6, am, si + (uint64_t)step);
			break;
		default: /* SCAS */
			if ((st = mem_read(v, SEG_ES, di, size, &b)))
				return st;
			alu(v, 7, size, v->gpr[0] & size_mask(size), b);
			areg_write(v, 7, am, di + (uint64_t)step);
			stop = true;
			break;
		}
		if (!rep)
			break;
		areg_write(v, 1, am, cnt - 1);
		/* REPE/REPNE end on ZF for CMPS and SCAS (SDM Vol. 2B REP). */
		if (stop && (in->rep == 0xf3 ? !lf_zf(v) : lf_zf(v)))
			break;
		/*
		 * An MMIO write ends the iteration: hv must see every element. Long
		 * repeats yield every 64 Ki elements so that run()'s budget and
		 * interrupts are honoured; the instruction then continues (counted once).
		 */
		if (v->exit_after_retire || ++chunk == 65536) {
			if ((v->gpr[1] & am) != 0) {
				v->next_rip = v->rip;
				v->rep_continues = true;
			}
			break;
		}
	}
	return X86_OK;
}

/* ------------------------------------------------------------------------ */
/* The dispatcher                                                           */
/* ------------------------------------------------------------------------ */

static inline uint64_t ip_mask(const struct vcpu_soft *v)
{
	return v->ip_mask;
}

static inline int jump(struct vcpu_soft *v, uint64_t target)
{
	target &= ip_mask(v);
	if (v->mode == 64 && !is_canonical(v, target))
		return x86_gp(v, 0);
	v->next_rip = target;
	return X86_OK;
}

static int exec_bitscan(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned size = in->osz, bits = size * 8;
	uint64_t a;
	int st;
	if ((st = rm_read(v, in, size, &a)))
		return st;
	a &= size_mask(size);
	switch (in->op & 0xff) {
	case 0xb8: { /* POPCNT */
		uint64_t r = (uint64_t)__builtin_popcountll(a);
		reg_set(v, in, in->reg, size, r);
		flags_put(v, RF_ARITH, a == 0 ? RF_ZF : 0);
		return X86_OK;
	}
	case 0xbc:
		if (in->rep == 0xf3) { /* TZCNT (CPUID.07H:EBX.BMI1) */
			uint64_t r = a ? (uint64_t)__builtin_ctzll(a) : bits;
			reg_set(v, in, in->reg, size, r);
			flags_put(v, RF_CF | RF_ZF, (a == 0 ? RF_CF : 0) | (r == 0 ? RF_ZF : 0));
			return X86_OK;
		}
		/* BSF */
		if (a == 0) {
			flags_put(v, RF_ZF, RF_ZF);
			return X86_OK;
		}
		reg_set(v, in, in->reg, size, (uint64_t)__builtin_ctzll(a));
		flags_put(v, RF_ZF, 0);
		return X86_OK;
	default:
		if (in->rep == 0xf3) { /* LZCNT (CPUID.80000001H:ECX.ABM) */
			uint64_t r = a ? (uint64_t)(__builtin_clzll(a) - (64 - bits)) : bits;
			reg_set(v, in, in->reg, size, r);
			flags_put(v, RF_CF | RF_ZF, (a == 0 ? RF_CF : 0) | (r == 0 ? RF_ZF : 0));
			return X86_OK;
		}
		/* BSR */
		if (a == 0) {
			flags_put(v, RF_ZF, RF_ZF);
			return X86_OK;
		}
		reg_set(v, in, in->reg, size, (uint64_t)(63 - __builtin_clzll(a)));
		flags_put(v, RF_ZF, 0);
		return X86_OK;
	}
}

static int exec_cmpxchg(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned size = in->op == (OP_MAP0F | 0xb0) ? 1 : in->osz;
	uint64_t d, acc = reg_get(v, in, 0, size);
	struct rmw w;
	int st;

	memset(&w, 0, sizeof(w));
	if ((st = rmw_read(v, in, size, &w, &d)))
		return st;
	alu(v, 7, size, acc, d);
	if (acc == d) {
		rmw_commit(v, in, size, &w, reg_get(v, in, in->reg, size));
	} else {
		/* The destination is written back unchanged, then the accumulator loaded. */
		if (w.mem)
			rmw_commit(v, in, size, &w, d);
		reg_set(v, in, 0, size, d);
	}
	return X86_OK;
}

static int exec_cmpxchg8b(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned half = in->osz == 8 ? 8 : 4;
	uint64_t ea = insn_ea(v, in), lin;
	uint64_t cur[2] = { 0, 0 };
	struct mref m;
	int st;
	if (half == 8 && (ea & 15))
		return x86_gp(v, 0);  /* CMPXCHG16B needs 16-byte alignment */
	if ((st = seg_linear(v, in->seg, ea, half * 2, &lin)))
		return st;
	if ((st = mref_get(v, lin, half * 2, ACC_WRITE, &m)) || (st = mref_load(v, &m, cur)))
		return st;
	uint64_t m_ = size_mask(half);
	uint64_t lo = half == 8 ? cur[0] : cur[0] & m_, hi = half == 8 ? cur[1] : cur[0] >> 32;
	bool eq = lo == (v->gpr[0] & m_) && hi == (v->gpr[2] & m_);
	uint64_t f = flags_get(v) & ~RF_ZF;
	if (eq) {
		uint64_t nv[2];
		if (half == 8) {
			nv[0] = v->gpr[3];
			nv[1] = v->gpr[1];
		} else {
			nv[0] = (v->gpr[3] & m_) | (v->gpr[1] << 32);
		}
		mref_store(v, &m, nv);
		f |= RF_ZF;
	} else {
		mref_store(v, &m, cur);
		reg_set(v, in, 0, half, lo);
		reg_set(v, in, 2, half, hi);
	}
	v->rflags = f;
	return X86_OK;
}

static int exec_enter(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned size = in->osz, level = (unsigned)in->imm2 & 31;
	uint64_t sm = stack_mask(v);
	uint64_t rsp = v->gpr[4], rbp = v->gpr[5];
	uint64_t frame = (rsp - size) & sm;
	int st;
	/* Write everything first, commit RSP/RBP last: a fault leaves no trace. */
	if ((st = mem_write(v, SEG_SS, frame, size, rbp & size_mask(size))))
		return st;
	uint64_t sp = frame;
	for (unsigned i = 1; i < level; i++) {
		uint64_t t;
		rbp = (rbp - size) & sm;
		if ((st = mem_read(v, SEG_SS, rbp, size, &t)))
			return st;
		sp = (sp - size) & sm;
		if ((st = mem_write(v, SEG_SS, sp, size, t)))
			return st;
	}
	if (level) {
		sp = (sp - size) & sm;
		if ((st = mem_write(v, SEG_SS, sp, size, frame)))
			return st;
	}
	sp = (sp - in->imm) & sm;
	reg_set(v, in, 5, size == 2 ? 2 : stack_size(v), frame);
	set_rsp(v, sp);
	return X86_OK;
}

/* BMI1 (SDM Vol. 2A ANDN, BEXTR, BLSI, BLSMSK, BLSR): VEX-encoded, 32/64-bit. */
static int exec_bmi1(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned size = in->osz, bits = size * 8;
	uint64_t m = size_mask(size), src, r, f;
	uint64_t vv = v->gpr[in->vvvv] & m;
	int st = rm_read(v, in, size, &src);
	if (st)
		return st;
	switch (in->op & 0xff) {
	case 0xf2: /* ANDN r, vvvv, r/m */
		r = ~vv & src & m;
		reg_set(v, in, in->reg, size, r);
		f = (r == 0 ? RF_ZF : 0) | (sign_bit(r, size) ? RF_SF : 0);
		break;
	case 0xf7: { /* BEXTR r, r/m, vvvv */
		unsigned start = vv & 0xff, len = (vv >> 8) & 0xff;
		r = start < bits ? src >> start : 0;
		if (len < bits)
			r &= (1ULL << len) - 1;
		r &= m;
		reg_set(v, in, in->reg, size, r);
		f = r == 0 ? RF_ZF : 0;
		break;
	}
	default: /* group 17: BLSR /1, BLSMSK /2, BLSI /3; destination is vvvv */
		switch (in->reg & 7) {
		case 1:
			r = src & (src - 1) & m;
			f = (src == 0 ? RF_CF : 0) | (r == 0 ? RF_ZF : 0);
			break;
		case 2:
			r = (src ^ (src - 1)) & m;
			f = src == 0 ? RF_CF : 0;
			break;
		default:
			r = src & (0 - src) & m;
			f = (src != 0 ? RF_CF : 0) | (r == 0 ? RF_ZF : 0);
			break;
		}
		f |= sign_bit(r, size) ? RF_SF : 0;
		reg_set(v, in, in->vvvv, size, r);
		break;
	}
	flags_put(v, RF_ARITH, f);
	return X86_OK;
}

/*
 * Small handlers for the instructions compiled code runs most. exec_select()
 * picks one once per decoded instruction (the decode cache keeps it), which
 * spares the hot path exec_insn's big switch and its register spills.
 */
static int h_mov_store(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned size = in->op == 0x88 ? 1 : in->osz;
	return rm_write(v, in, size, reg_get(v, in, in->reg, size));
}

/* MOV between 32- or 64-bit registers (89 /r, 8B /r with mod 3): one copy per direction and size. */
static int h_mov_rr89_64(struct vcpu_soft *v, const struct x86_insn *in)
{
	v->gpr[in->rm] = v->gpr[in->reg];
	return X86_OK;
}

static int h_mov_rr8b_64(struct vcpu_soft *v, const struct x86_insn *in)
{
	v->gpr[in->reg] = v->gpr[in->rm];
	return X86_OK;
}

static int h_mov_rr89_32(struct vcpu_soft *v, const struct x86_insn *in)
{
	v->gpr[in->rm] = v->gpr[in->reg] & 0xffffffffULL;  /* zero-extends (SDM Vol. 1 3.4.1.1) */
	return X86_OK;
}

static int h_mov_rr8b_32(struct vcpu_soft *v, const struct x86_insn *in)
{
	v->gpr[in->reg] = v->gpr[in->rm] & 0xffffffffULL;
	return X86_OK;
}

/* MOV between a 32- or 64-bit register and memory (89 /r, 8B /r with mod != 3). */
static inline __attribute__((always_inline)) int mov_load_m(struct vcpu_soft *v, const struct x86_insn *in,
							     unsigned size)
{
	uint64_t a;  /* mem_read_i zero-extends: a 32-bit load clears the upper half */
	int st = mem_read_i(v, in->seg, insn_ea(v, in), size, &a);
	if (st)
		return st;
	v->gpr[in->reg] = a;
	return X86_OK;
}

static int h_mov_load32(struct vcpu_soft *v, const struct x86_insn *in) { return mov_load_m(v, in, 4); }
static int h_mov_load64(struct vcpu_soft *v, const struct x86_insn *in) { return mov_load_m(v, in, 8); }

static int h_mov_store32(struct vcpu_soft *v, const struct x86_insn *in)
{
	return mem_write_i(v, in->seg, insn_ea(v, in), 4, v->gpr[in->reg] & 0xffffffffULL);
}

static int h_mov_store64(struct vcpu_soft *v, const struct x86_insn *in)
{
	return mem_write_i(v, in->seg, insn_ea(v, in), 8, v->gpr[in->reg]);
}

static int h_mov_load(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned size = in->op == 0x8a ? 1 : in->osz;
	uint64_t a;
	int st = rm_read(v, in, size, &a);
	if (st)
		return st;
	reg_set(v, in, in->reg, size, a);
	return X86_OK;
}

static int h_lea(struct vcpu_soft *v, const struct x86_insn *in)
{
	reg_set(v, in, in->reg, in->osz, insn_ea(v, in));
	return X86_OK;
}

static int h_jcc(struct vcpu_soft *v, const struct x86_insn *in)
{
	if (cond_eval_i(v, in->op & 15))
		return jump(v, v->next_rip + in->imm);
	return X86_OK;
}

static int h_jmp(struct vcpu_soft *v, const struct x86_insn *in)
{
	return jump(v, v->next_rip + in->imm);
}

static int h_push(struct vcpu_soft *v, const struct x86_insn *in)
{
	return stack_push(v, in->osz, v->gpr[(in->op & 7) | ((in->rex & 1) << 3)] & size_mask(in->osz));
}

static int h_pop(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t a;
	int st = stack_pop(v, in->osz, &a);
	if (st)
		return st;
	reg_set(v, in, (in->op & 7) | ((in->rex & 1) << 3), in->osz, a);
	return X86_OK;
}

static int h_mov_imm(struct vcpu_soft *v, const struct x86_insn *in)
{
	reg_set(v, in, (in->op & 7) | ((in->rex & 1) << 3), in->osz, in->imm);
	return X86_OK;
}

static inline __attribute__((always_inline)) int grp1_op(struct vcpu_soft *v, const struct x86_insn *in,
							  unsigned aop)
{
	unsigned op = in->op;
	unsigned size = op == 0x80 || op == 0x82 ? 1 : in->osz;
	uint64_t a, b = in->imm & size_mask(size), r;
	struct rmw w;
	int st;
	if (aop == 7) {
		if ((st = rm_read(v, in, size, &a)))
			return st;
		alu(v, 7, size, a, b);
		return X86_OK;
	}
	if ((st = rmw_read(v, in, size, &w, &a)))
		return st;
	r = alu(v, aop, size, a, b);
	rmw_commit(v, in, size, &w, r);
	return X86_OK;
}

#define GRP1_HANDLER(n, name) \
	static int h_grp1_##name(struct vcpu_soft *v, const struct x86_insn *in) { return grp1_op(v, in, n); }
ALU_HANDLERS(GRP1_HANDLER)
static const x86_exec_fn grp1_handlers[8] = {
	h_grp1_add, h_grp1_or, h_grp1_adc, h_grp1_sbb, h_grp1_and, h_grp1_sub, h_grp1_xor, h_grp1_cmp,
};

/* Group 1 with a 32- or 64-bit register destination (81 /n id, 83 /n ib with mod 3). */
static inline __attribute__((always_inline)) int alu_ri(struct vcpu_soft *v, const struct x86_insn *in,
							unsigned op, unsigned size)
{
	uint64_t m = size_mask(size);
	uint64_t r = alu(v, op, size, v->gpr[in->rm] & m, in->imm & m);
	if (op != 7)
		v->gpr[in->rm] = r;  /* r is already masked: 32-bit results zero-extend */
	return X86_OK;
}

#define ALU_RI_HANDLER(n, name) \
	static int h_ri32_##name(struct vcpu_soft *v, const struct x86_insn *in) { return alu_ri(v, in, n, 4); } \
	static int h_ri64_##name(struct vcpu_soft *v, const struct x86_insn *in) { return alu_ri(v, in, n, 8); }
ALU_HANDLERS(ALU_RI_HANDLER)
static const x86_exec_fn alu_ri_handlers[2][8] = {
	{ h_ri32_add, h_ri32_or, h_ri32_adc, h_ri32_sbb, h_ri32_and, h_ri32_sub, h_ri32_xor, h_ri32_cmp },
	{ h_ri64_add, h_ri64_or, h_ri64_adc, h_ri64_sbb, h_ri64_and, h_ri64_sub, h_ri64_xor, h_ri64_cmp },
};

static int h_test(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned size = in->op == 0x84 ? 1 : in->osz;
	uint64_t a, b;
	int st = rm_read(v, in, size, &a);
	if (st)
		return st;
	b = reg_get(v, in, in->reg, size);
	lf_set(v, LF_LOGIC, size, a, b, a & b);
	return X86_OK;
}

static int h_call(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t r = (v->next_rip + in->imm) & ip_mask(v);
	int st;
	if (v->mode == 64 && !is_canonical(v, r))
		return x86_gp(v, 0);
	if ((st = stack_push(v, in->osz, v->next_rip)))
		return st;
	v->next_rip = r;
	return X86_OK;
}

static int h_ret(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t old = v->gpr[4], a;
	int st;
	if ((st = stack_pop(v, in->osz, &a)))
		return st;
	if ((st = jump(v, a))) {
		v->gpr[4] = old;
		return st;
	}
	if (in->op == 0xc2)
		set_rsp(v, v->gpr[4] + (in->imm & 0xffff));
	return X86_OK;
}

static int h_movx(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned size = (in->op & 1) ? 2 : 1;
	uint64_t a;
	int st = rm_read(v, in, size, &a);
	if (st)
		return st;
	if (in->op & 8)
		a = sign_extend(a, size);
	reg_set(v, in, in->reg, in->osz, a);
	return X86_OK;
}

static int h_shift(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned op = in->op, size = (op & 1) ? in->osz : 1;
	unsigned cnt = op <= 0xc1 ? (unsigned)in->imm : op <= 0xd1 ? 1 : (unsigned)v->gpr[1];
	uint64_t a, r;
	struct rmw w;
	int st;
	if ((st = rmw_read(v, in, size, &w, &a)))
		return st;
	r = shift(v, in->reg & 7, size, a, cnt & 0xff);
	rmw_commit(v, in, size, &w, r);
	return X86_OK;
}

/*
 * SHL/SHR/SAR/ROL/ROR of a 32- or 64-bit register by an immediate or by 1
 * (C1 /n ib, D1 /n, mod 3) whose masked count is not 0: exec_select() checks
 * the count, so these do what shift() does for that case without its
 * switch, the count-0 test and the read-modify-write operand.
 */
static inline __attribute__((always_inline)) int shift_ri(struct vcpu_soft *v, const struct x86_insn *in,
							   unsigned op, unsigned size)
{
	unsigned bits = size * 8;
	unsigned cnt = (in->op == 0xd1 ? 1u : (unsigned)in->imm) & (bits - 1);
	uint64_t m = size_mask(size), a = v->gpr[in->rm] & m, r;
	bool cf;

	switch (op) {
	case 0: /* ROL */
		r = ((a << cnt) | (a >> (bits - cnt))) & m;
		cf = r & 1;
		flags_put(v, RF_CF | RF_OF, (cf ? RF_CF : 0) | ((sign_bit(r, size) ^ cf) ? RF_OF : 0));
		break;
	case 1: /* ROR */
		r = ((a >> cnt) | (a << (bits - cnt))) & m;
		cf = sign_bit(r, size);
		flags_put(v, RF_CF | RF_OF,
			  (cf ? RF_CF : 0) | ((sign_bit(r, size) ^ ((r >> (bits - 2)) & 1)) ? RF_OF : 0));
		break;
	case 4: case 6: /* SHL/SAL */
		r = (a << cnt) & m;
		lf_set(v, LF_SHL, size, a, cnt, r);
		break;
	case 5: /* SHR */
		r = a >> cnt;
		lf_set(v, LF_SHR, size, a, cnt, r);
		break;
	default: /* SAR */
		r = (uint64_t)((int64_t)sign_extend(a, size) >> cnt) & m;
		lf_set(v, LF_SAR, size, a, cnt, r);
		break;
	}
	v->gpr[in->rm] = r;
	return X86_OK;
}

#define SHIFT_RI_HANDLERS(X) X(0, rol) X(1, ror) X(4, shl) X(5, shr) X(7, sar)
#define SHIFT_RI_HANDLER(n, name) \
	static int h_ri32_##name(struct vcpu_soft *v, const struct x86_insn *in) { return shift_ri(v, in, n, 4); } \
	static int h_ri64_##name(struct vcpu_soft *v, const struct x86_insn *in) { return shift_ri(v, in, n, 8); }
SHIFT_RI_HANDLERS(SHIFT_RI_HANDLER)
/* By ModRM.reg; RCL/RCR (2, 3) keep the general handler. */
static const x86_exec_fn shift_ri_handlers[2][8] = {
	{ h_ri32_rol, h_ri32_ror, NULL, NULL, h_ri32_shl, h_ri32_shr, h_ri32_shl, h_ri32_sar },
	{ h_ri64_rol, h_ri64_ror, NULL, NULL, h_ri64_shl, h_ri64_shr, h_ri64_shl, h_ri64_sar },
};

static x86_exec_fn select_shift(const struct x86_insn *in)
{
	if ((in->op == 0xc1 || in->op == 0xd1) && in->mod == 3 && in->osz >= 4) {
		unsigned cnt = (in->op == 0xd1 ? 1u : (unsigned)in->imm) & (in->osz * 8 - 1);
		x86_exec_fn fn = shift_ri_handlers[in->osz == 8][in->reg & 7];
		if (cnt && fn)
			return fn;
	}
	return h_shift;
}

static int h_cmov(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t a;
	int st = rm_read(v, in, in->osz, &a);
	if (st)
		return st;
	/* With a 32-bit operand the destination is zero-extended even when not moved. */
	reg_set(v, in, in->reg, in->osz, cond_eval(v, in->op & 15) ? a : v->gpr[in->reg]);
	return X86_OK;
}

/* CMOVcc between 32- or 64-bit registers (mod 3). */
static inline __attribute__((always_inline)) int cmov_rr(struct vcpu_soft *v, const struct x86_insn *in,
							 unsigned size)
{
	uint64_t m = size_mask(size);
	/* With a 32-bit operand the destination is zero-extended even when not moved. */
	v->gpr[in->reg] = (cond_eval_i(v, in->op & 15) ? v->gpr[in->rm] : v->gpr[in->reg]) & m;
	return X86_OK;
}

static int h_cmov_rr32(struct vcpu_soft *v, const struct x86_insn *in) { return cmov_rr(v, in, 4); }
static int h_cmov_rr64(struct vcpu_soft *v, const struct x86_insn *in) { return cmov_rr(v, in, 8); }

static int h_setcc(struct vcpu_soft *v, const struct x86_insn *in)
{
	return rm_write(v, in, 1, cond_eval(v, in->op & 15));
}

static int h_imul(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t a;
	int st = rm_read(v, in, in->osz, &a);
	if (st)
		return st;
	return exec_imul2(v, in, reg_get(v, in, in->reg, in->osz), a);
}

static int h_imul3(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t a;
	int st = rm_read(v, in, in->osz, &a);
	if (st)
		return st;
	return exec_imul2(v, in, a, in->imm);
}

static int h_mov_rm_imm(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned size = in->op == 0xc6 ? 1 : in->osz;
	return rm_write(v, in, size, in->imm & size_mask(size));
}

static int h_incdec(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned r3 = in->reg & 7, size = in->op == 0xfe ? 1 : in->osz;
	uint64_t a, r;
	struct rmw w;
	int st;
	if (r3 >= 2)
		return exec_insn(v, in);
	if ((st = rmw_read(v, in, size, &w, &a)))
		return st;
	bool cin = lf_cf(v);
	r = (r3 ? a - 1 : a + 1) & size_mask(size);
	lf_set(v, r3 ? LF_DEC : LF_INC, size, a, 1, r);
	v->lf_cin = cin;
	rmw_commit(v, in, size, &w, r);
	return X86_OK;
}

/* Undefined or unsupported encodings: #UD. x87 (no FPU: CPUID.01H:EDX.FPU = 0) raises #NM
 * instead when CR0.EM or CR0.TS is set. */
static int exec_invalid(struct vcpu_soft *v, const struct x86_insn *in)
{
	if (in->op >= 0xd8 && in->op <= 0xdf && !in->vex && (v->cr0 & (CR0_EM | CR0_TS)))
		return x86_raise(v, EXC_NM, false, 0);
	return x86_ud(v);
}

x86_exec_fn exec_select(const struct x86_insn *in)
{
	unsigned op = in->op;
	if (!in->valid)
		return exec_invalid;
	if (in->vex)
		return exec_bmi1;
	switch (op) {
	case 0x00 ... 0x05: case 0x08 ... 0x0d: case 0x10 ... 0x15: case 0x18 ... 0x1d:
	case 0x20 ... 0x25: case 0x28 ... 0x2d: case 0x30 ... 0x35: case 0x38 ... 0x3d:
		if ((op & 7) == 1 || (op & 7) == 3) {
			if (in->mod == 3 && in->osz >= 4)
				return alu_rr_handlers[in->osz == 8][(op >> 3) & 7];
		}
		return alu_handlers[(op >> 3) & 7];
	case 0x50 ... 0x57: return h_push;
	case 0x58 ... 0x5f: return h_pop;
	case 0x70 ... 0x7f: case OP_MAP0F | 0x80 ... OP_MAP0F | 0x8f: return h_jcc;
	case 0x81: case 0x83:
		if (in->mod == 3 && in->osz >= 4)
			return alu_ri_handlers[in->osz == 8][in->reg & 7];
		return grp1_handlers[in->reg & 7];
	case 0x80: case 0x82: return grp1_handlers[in->reg & 7];
	case 0x84: case 0x85: return h_test;
	case 0x89: case 0x8b:
		if (in->mod == 3 && in->osz >= 4)
			return in->osz == 8 ? (op == 0x89 ? h_mov_rr89_64 : h_mov_rr8b_64)
					    : (op == 0x89 ? h_mov_rr89_32 : h_mov_rr8b_32);
		if (in->osz >= 4)
			return in->osz == 8 ? (op == 0x89 ? h_mov_store64 : h_mov_load64)
					    : (op == 0x89 ? h_mov_store32 : h_mov_load32);
		return op == 0x89 ? h_mov_store : h_mov_load;
	case 0x88: return h_mov_store;
	case 0x8a: return h_mov_load;
	case 0x8d: return h_lea;
	case 0xb8 ... 0xbf: return h_mov_imm;
	case 0xc1: case 0xd1: return select_shift(in);
	case 0xc0: case 0xd0: case 0xd2: case 0xd3: return h_shift;
	case 0xc2: case 0xc3: return h_ret;
	case 0xc6: case 0xc7: return h_mov_rm_imm;
	case 0xe8: return h_call;
	case 0xe9: case 0xeb: return h_jmp;
	case 0xfe: case 0xff: return h_incdec;
	case OP_MAP0F | 0x40 ... OP_MAP0F | 0x4f:
		if (in->mod == 3 && in->osz >= 4)
			return in->osz == 8 ? h_cmov_rr64 : h_cmov_rr32;
		return h_cmov;
	case OP_MAP0F | 0x90 ... OP_MAP0F | 0x9f: return h_setcc;
	case OP_MAP0F | 0xaf: return h_imul;
	case 0x69: case 0x6b: return h_imul3;
	case OP_MAP0F | 0xb6: case OP_MAP0F | 0xb7: case OP_MAP0F | 0xbe: case OP_MAP0F | 0xbf:
		return h_movx;
	default: return exec_insn;
	}
}

int exec_insn(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned op = in->op, osz = in->osz, size;
	uint64_t a, b, r;
	struct rmw w;
	int st;

	if (in->vex)
		return exec_bmi1(v, in);
	switch (op) {
	case 0x00 ... 0x05: case 0x08 ... 0x0d: case 0x10 ... 0x15: case 0x18 ... 0x1d:
	case 0x20 ... 0x25: case 0x28 ... 0x2d: case 0x30 ... 0x35: case 0x38 ... 0x3d:
		return exec_alu(v, in);

	case 0x40 ... 0x4f: { /* INC/DEC r (16/32-bit modes) */
		unsigned reg = op & 7;
		a = reg_get(v, in, reg, osz);
		bool cin = lf_cf(v);
		bool dec = op >= 0x48;
		r = (dec ? a - 1 : a + 1) & size_mask(osz);
		lf_set(v, dec ? LF_DEC : LF_INC, osz, a, 1, r);
		v->lf_cin = cin;
		reg_set(v, in, reg, osz, r);
		return X86_OK;
	}
	case 0x50 ... 0x57:
		return stack_push(v, osz, v->gpr[(op & 7) | ((in->rex & 1) << 3)] & size_mask(osz));
	case 0x58 ... 0x5f: {
		unsigned reg = (op & 7) | ((in->rex & 1) << 3);
		if ((st = stack_pop(v, osz, &a)))
			return st;
		reg_set(v, in, reg, osz, a);
		return X86_OK;
	}
	case 0x60: { /* PUSHA */
		uint64_t sp = v->gpr[4], vals[8];
		uint8_t buf[32];
		for (unsigned i = 0; i < 8; i++)
			vals[i] = i == 4 ? sp : v->gpr[i];
		for (unsigned i = 0; i < 8; i++)
			memcpy(buf + (7 - i) * osz, &vals[i], osz);
		uint64_t nsp = (sp - 8 * osz) & stack_mask(v), lin;
		if ((st = seg_linear(v, SEG_SS, nsp, 8 * osz, &lin)) ||
		    (st = lin_write(v, lin, 8 * osz, buf, MEM_STACK)))
			return st;
		set_rsp(v, nsp);
		return X86_OK;
	}
	case 0x61: { /* POPA */
		uint8_t buf[32];
		uint64_t sp = v->gpr[4] & stack_mask(v), lin;
		if ((st = seg_linear(v, SEG_SS, sp, 8 * osz, &lin)) ||
		    (st = lin_read(v, lin, 8 * osz, buf, MEM_STACK)))
			return st;
		for (unsigned i = 0; i < 8; i++) {
			uint64_t t = 0;
			memcpy(&t, buf + (7 - i) * osz, osz);
			if (i != 4)
				reg_set(v, in, i, osz, t);
		}
		set_rsp(v, sp + 8 * osz);
		return X86_OK;
	}
	case 0x63: /* MOVSXD */
		if ((st = rm_read(v, in, 4, &a)))
			return st;
		reg_set(v, in, in->reg, osz, osz == 8 ? sign_extend(a, 4) : a);
		return X86_OK;
	case 0x68: case 0x6a:
		return stack_push(v, osz, in->imm & size_mask(osz));
	case 0x69: case 0x6b:
		if ((st = rm_read(v, in, osz, &a)))
			return st;
		return exec_imul2(v, in, a, in->imm);
	case 0x6c ... 0x6f: case 0xe4 ... 0xe7: case 0xec ... 0xef:
		return cpu_io(v, in);
	case 0x70 ... 0x7f:
	case OP_MAP0F | 0x80 ... OP_MAP0F | 0x8f:
		if (cond_eval(v, op & 15))
			return jump(v, v->next_rip + in->imm);
		return X86_OK;
	case 0x80: case 0x81: case 0x82: case 0x83:
		return grp1_op(v, in, in->reg & 7);
	case 0x84: case 0x85:
		size = op == 0x84 ? 1 : osz;
		if ((st = rm_read(v, in, size, &a)))
			return st;
		b = reg_get(v, in, in->reg, size);
		lf_set(v, LF_LOGIC, size, a, b, a & b);
		return X86_OK;
	case 0x86: case 0x87: /* XCHG r/m, r: memory written first */
		size = op == 0x86 ? 1 : osz;
		if ((st = rmw_read(v, in, size, &w, &a)))
			return st;
		b = reg_get(v, in, in->reg, size);
		rmw_commit(v, in, size, &w, b);
		reg_set(v, in, in->reg, size, a);
		return X86_OK;
	case 0x88: case 0x89:
		size = op == 0x88 ? 1 : osz;
		return rm_write(v, in, size, reg_get(v, in, in->reg, size));
	case 0x8a: case 0x8b:
		size = op == 0x8a ? 1 : osz;
		if ((st = rm_read(v, in, size, &a)))
			return st;
		reg_set(v, in, in->reg, size, a);
		return X86_OK;
	case 0x8c: /* MOV r/m, Sreg: 16-bit to memory, zero-extended to a register */
		a = v->seg[in->reg & 7].selector;
		return rm_write(v, in, in->mod == 3 ? osz : 2, a);
	case 0x8d:
		reg_set(v, in, in->reg, osz, insn_ea(v, in));
		return X86_OK;
	case 0x8e:
		if ((st = rm_read(v, in, 2, &a)))
			return st;
		if ((st = cpu_load_seg(v, in->reg & 7, (uint16_t)a)))
			return st;
		if ((in->reg & 7) == SEG_SS) {
			/* MOV SS blocks interrupts until after the next instruction (SDM 6.8.3). */
			v->shadow_left = 2;
		}
		return X86_OK;
	case 0x8f: { /* POP r/m: RSP is incremented before the address is computed */
		uint64_t old = v->gpr[4];
		if ((st = stack_pop(v, osz, &a)))
			return st;
		if ((st = rm_write(v, in, osz, a))) {
			v->gpr[4] = old;
			return st;
		}
		return X86_OK;
	}
	case 0x90:
		if (in->rex & 1) { /* XCHG r8, rax */
			a = v->gpr[8];
			reg_set(v, in, 8, osz, v->gpr[0]);
			reg_set(v, in, 0, osz, a);
		}
		return X86_OK; /* NOP, PAUSE */
	case 0x91 ... 0x97: {
		unsigned reg = (op & 7) | ((in->rex & 1) << 3);
		a = v->gpr[reg];
		reg_set(v, in, reg, osz, v->gpr[0]);
		reg_set(v, in, 0, osz, a);
		return X86_OK;
	}
	case 0x98: /* CBW/CWDE/CDQE */
		reg_set(v, in, 0, osz, sign_extend(v->gpr[0], osz / 2));
		return X86_OK;
	case 0x99: /* CWD/CDQ/CQO */
		reg_set(v, in, 2, osz, sign_bit(v->gpr[0], osz) ? ~0ULL : 0);
		return X86_OK;
	case 0x9a: /* CALL far ptr16:16/32 */
		return cpu_far_transfer(v, (uint16_t)in->imm2, in->imm, true, osz, v->next_rip);
	case 0x9b: /* FWAIT: #NM when CR0.MP and CR0.TS */
		if ((v->cr0 & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS))
			return x86_raise(v, EXC_NM, false, 0);
		return X86_OK;
	case 0x9c: /* PUSHF: VM and RF are cleared in the image */
		return stack_push(v, osz, flags_get(v) & ~(RF_VM | RF_RF) & size_mask(osz));
	case 0x9d: { /* POPF (SDM Vol. 2B POPF: what each privilege may change) */
		if ((st = stack_pop(v, osz, &a)))
			return st;
		uint64_t f = flags_get(v), keep = RF_VM | RF_VIP | RF_VIF;
		unsigned iopl = (unsigned)((f & RF_IOPL) >> 12);
		if (v->cpl > 0)
			keep |= RF_IOPL;
		if (v->cpl > iopl)
			keep |= RF_IF;
		if (osz == 2)
			a = (f & ~0xffffULL) | (a & 0xffff);
		a = (a & ~keep & ~RF_RF) | (f & keep);
		flags_set(v, a);
		cpu_update_mode(v);
		return X86_OK;
	}
	case 0x9e: /* SAHF */
		flags_put(v, RF_SF | RF_ZF | RF_AF | RF_PF | RF_CF, (v->gpr[0] >> 8) & 0xff);
		return X86_OK;
	case 0x9f: /* LAHF */
		a = (flags_get(v) & 0xd5) | RF_FIXED;
		v->gpr[0] = (v->gpr[0] & ~0xff00ULL) | (a << 8);
		return X86_OK;
	case 0xa0 ... 0xa3: { /* MOV with a moffs operand */
		size = (op & 1) ? osz : 1;
		uint64_t off = in->imm & size_mask(in->asz);
		if (op < 0xa2) {
			if ((st = mem_read(v, in->seg, off, size, &a)))
				return st;
			reg_set(v, in, 0, size, a);
			return X86_OK;
		}
		return mem_write(v, in->seg, off, size, v->gpr[0] & size_mask(size));
	}
	case 0xa4 ... 0xa7: case 0xaa ... 0xaf:
		return exec_string(v, in);
	case 0xa8: case 0xa9:
		size = op == 0xa8 ? 1 : osz;
		a = reg_get(v, in, 0, size);
		lf_set(v, LF_LOGIC, size, a, 0, a & in->imm & size_mask(size));
		return X86_OK;
	case 0xb0 ... 0xb7:
		reg_set(v, in, (op & 7) | ((in->rex & 1) << 3), 1, in->imm);
		return X86_OK;
	case 0xb8 ... 0xbf:
		reg_set(v, in, (op & 7) | ((in->rex & 1) << 3), osz, in->imm);
		return X86_OK;
	case 0xc0: case 0xc1: case 0xd0 ... 0xd3: {
		size = (op & 1) ? osz : 1;
		unsigned cnt = op <= 0xc1 ? (unsigned)in->imm : op <= 0xd1 ? 1 : (unsigned)v->gpr[1];
		if ((st = rmw_read(v, in, size, &w, &a)))
			return st;
		r = shift(v, in->reg & 7, size, a, cnt & 0xff);
		rmw_commit(v, in, size, &w, r);
		return X86_OK;
	}
	case 0xc2: case 0xc3: { /* RET near */
		uint64_t old = v->gpr[4];
		if ((st = stack_pop(v, osz, &a)))
			return st;
		if ((st = jump(v, a))) {
			v->gpr[4] = old;
			return st;
		}
		if (op == 0xc2)
			set_rsp(v, v->gpr[4] + (in->imm & 0xffff));
		return X86_OK;
	}
	case 0xc6: case 0xc7:
		size = op == 0xc6 ? 1 : osz;
		return rm_write(v, in, size, in->imm & size_mask(size));
	case 0xc8:
		return exec_enter(v, in);
	case 0xc9: { /* LEAVE */
		uint64_t old = v->gpr[4];
		set_rsp(v, v->gpr[5]);
		if ((st = stack_pop(v, osz, &a))) {
			v->gpr[4] = old;
			return st;
		}
		reg_set(v, in, 5, osz, a);
		return X86_OK;
	}
	case 0xca: case 0xcb:
		return cpu_far_return(v, osz, op == 0xca ? (uint16_t)in->imm : 0);
	case 0xcc:
		return cpu_deliver(v, EXC_BP, false, 0, true, v->next_rip);
	case 0xcd:
		return cpu_deliver(v, (unsigned)in->imm & 0xff, false, 0, true, v->next_rip);
	case 0xce:
		if (lf_of(v))
			return cpu_deliver(v, EXC_OF, false, 0, true, v->next_rip);
		return X86_OK;
	case 0xcf:
		return cpu_iret(v, osz);
	case 0xd7: /* XLAT */
		if ((st = mem_read(v, in->seg, (v->gpr[3] + (v->gpr[0] & 0xff)) & size_mask(in->asz), 1, &a)))
			return st;
		reg_set(v, in, 0, 1, a);
		return X86_OK;
	case 0xe0 ... 0xe3: { /* LOOPNE, LOOPE, LOOP, JrCXZ */
		uint64_t am = size_mask(in->asz), cnt = v->gpr[1] & am;
		bool take;
		if (op == 0xe3) {
			take = cnt == 0;
		} else {
			cnt = (cnt - 1) & am;
			take = cnt != 0;
			if (op == 0xe0)
				take = take && !lf_zf(v);
			else if (op == 0xe1)
				take = take && lf_zf(v);
		}
		if (take && (st = jump(v, v->next_rip + in->imm)))
			return st;
		if (op != 0xe3)
			areg_write(v, 1, am, cnt);
		return X86_OK;
	}
	case 0xe8: /* CALL rel */
		r = (v->next_rip + in->imm) & ip_mask(v);
		if (v->mode == 64 && !is_canonical(v, r))
			return x86_gp(v, 0);
		if ((st = stack_push(v, osz, v->next_rip)))
			return st;
		v->next_rip = r;
		return X86_OK;
	case 0xe9: case 0xeb:
		return jump(v, v->next_rip + in->imm);
	case 0xea:
		return cpu_far_transfer(v, (uint16_t)in->imm2, in->imm, false, osz, 0);
	case 0xf1: /* INT1 */
		return cpu_deliver(v, EXC_DB, false, 0, false, v->next_rip);
	case 0xf5:
		flags_put(v, RF_CF, lf_cf(v) ? 0 : RF_CF);
		return X86_OK;
	case 0xf6: case 0xf7:
		return exec_grp3(v, in);
	case 0xf8: case 0xf9:
		flags_put(v, RF_CF, op == 0xf9 ? RF_CF : 0);
		return X86_OK;
	case 0xfc: v->rflags &= ~RF_DF; return X86_OK;
	case 0xfd: v->rflags |= RF_DF; return X86_OK;
	case 0xfe: case 0xff: {
		unsigned r3 = in->reg & 7;
		size = op == 0xfe ? 1 : osz;
		if (r3 < 2) { /* INC/DEC r/m */
			if ((st = rmw_read(v, in, size, &w, &a)))
				return st;
			bool cin = lf_cf(v);
			r = (r3 ? a - 1 : a + 1) & size_mask(size);
			lf_set(v, r3 ? LF_DEC : LF_INC, size, a, 1, r);
			v->lf_cin = cin;
			rmw_commit(v, in, size, &w, r);
			return X86_OK;
		}
		if (r3 == 2 || r3 == 4) { /* CALL/JMP near indirect: 64-bit operand in long mode */
			size = v->mode == 64 ? 8 : osz;
			if ((st = rm_read(v, in, size, &a)))
				return st;
			a &= ip_mask(v);
			if (v->mode == 64 && !is_canonical(v, a))
				return x86_gp(v, 0);
			if (r3 == 2 && (st = stack_push(v, size, v->next_rip)))
				return st;
			v->next_rip = a;
			return X86_OK;
		}
		if (r3 == 3 || r3 == 5) { /* CALL/JMP far m16:16/32/64 */
			uint64_t ea = insn_ea(v, in), sel;
			if ((st = mem_read(v, in->seg, ea, osz, &a)) ||
			    (st = mem_read(v, in->seg, (ea + osz) & size_mask(in->asz), 2, &sel)))
				return st;
			return cpu_far_transfer(v, (uint16_t)sel, a, r3 == 3, osz, v->next_rip);
		}
		/* PUSH r/m */
		if ((st = rm_read(v, in, osz, &a)))
			return st;
		return stack_push(v, osz, a);
	}

	/* ---- two-byte opcodes ---- */
	case OP_MAP0F | 0x0d: case OP_MAP0F | 0x18 ... OP_MAP0F | 0x1f:
		return X86_OK; /* PREFETCHW, hint NOPs, ENDBR */
	case OP_MAP0F | 0x40 ... OP_MAP0F | 0x4f:
		if ((st = rm_read(v, in, osz, &a)))
			return st;
		/* With a 32-bit operand the destination is zero-extended even when not moved. */
		reg_set(v, in, in->reg, osz, cond_eval(v, op & 15) ? a : v->gpr[in->reg]);
		return X86_OK;
	case OP_MAP0F | 0x90 ... OP_MAP0F | 0x9f:
		return rm_write(v, in, 1, cond_eval(v, op & 15));
	case OP_MAP0F | 0xa3: case OP_MAP0F | 0xab: case OP_MAP0F | 0xb3: case OP_MAP0F | 0xbb: {
		/* A3 BT, AB BTS, B3 BTR, BB BTC: bits 4:3 of the opcode */
		return exec_bt(v, in, ((op & 0xff) >> 3) & 3, reg_get(v, in, in->reg, osz), false);
	}
	case OP_MAP0F | 0xba:
		return exec_bt(v, in, (in->reg & 7) - 4, in->imm & 0xff, true);
	case OP_MAP0F | 0xa4: case OP_MAP0F | 0xa5: case OP_MAP0F | 0xac: case OP_MAP0F | 0xad: {
		unsigned cnt = (op & 1) ? (unsigned)v->gpr[1] : (unsigned)in->imm;
		if ((st = rmw_read(v, in, osz, &w, &a)))
			return st;
		r = shift_double(v, (op & 0xff) < 0xa8, osz, a, reg_get(v, in, in->reg, osz), cnt & 0xff);
		rmw_commit(v, in, osz, &w, r);
		return X86_OK;
	}
	case OP_MAP0F | 0xaf:
		if ((st = rm_read(v, in, osz, &a)))
			return st;
		return exec_imul2(v, in, reg_get(v, in, in->reg, osz), a);
	case OP_MAP0F | 0xb0: case OP_MAP0F | 0xb1:
		return exec_cmpxchg(v, in);
	case OP_MAP0F | 0xb6: case OP_MAP0F | 0xb7: case OP_MAP0F | 0xbe: case OP_MAP0F | 0xbf:
		size = (op & 1) ? 2 : 1;
		if ((st = rm_read(v, in, size, &a)))
			return st;
		if (op & 8)
			a = sign_extend(a, size);
		reg_set(v, in, in->reg, osz, a);
		return X86_OK;
	case OP_MAP0F | 0xb8: case OP_MAP0F | 0xbc: case OP_MAP0F | 0xbd:
		return exec_bitscan(v, in);
	case OP_MAP0F | 0xc0: case OP_MAP0F | 0xc1: /* XADD */
		size = op == (OP_MAP0F | 0xc0) ? 1 : osz;
		if ((st = rmw_read(v, in, size, &w, &a)))
			return st;
		b = reg_get(v, in, in->reg, size);
		r = alu(v, 0, size, a, b);
		reg_set(v, in, in->reg, size, a);
		rmw_commit(v, in, size, &w, r);
		return X86_OK;
	case OP_MAP0F | 0xc7:
		return exec_cmpxchg8b(v, in);
	case OP_MAP0F | 0xc8 ... OP_MAP0F | 0xcf: {
		unsigned reg = (op & 7) | ((in->rex & 1) << 3);
		if (osz == 8)
			v->gpr[reg] = __builtin_bswap64(v->gpr[reg]);
		else if (osz == 4)
			v->gpr[reg] = __builtin_bswap32((uint32_t)v->gpr[reg]);
		else
			v->gpr[reg] &= ~0xffffULL; /* 16-bit BSWAP is undefined; hardware clears it */
		return X86_OK;
	}
	default:
		return exec_system(v, in);
	}
}
