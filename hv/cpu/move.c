/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/move.c - data movement: MOV in all its forms, MOVZX/MOVSX/MOVSXD,
 * CMOVcc, SETcc, LEA, XCHG, BSWAP, CBW/CWD and relatives, XLAT, PUSH/POP,
 * PUSHA/POPA, and the hint NOPs.
 */
#include "hv/cpu/flags.h"
#include "hv/cpu/mem.h"
#include "hv/cpu/optab.h"

/* 88, 89: MOV r/m, r */
int op_mov_store(struct vcpu_soft *v, const struct x86_insn *in)
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

static int h_mov_load32(struct vcpu_soft *v, const struct x86_insn *in)
{
	return mov_load_m(v, in, 4);
}

static int h_mov_load64(struct vcpu_soft *v, const struct x86_insn *in)
{
	return mov_load_m(v, in, 8);
}

static int h_mov_store32(struct vcpu_soft *v, const struct x86_insn *in)
{
	return mem_write_i(v, in->seg, insn_ea(v, in), 4, v->gpr[in->reg] & 0xffffffffULL);
}

static int h_mov_store64(struct vcpu_soft *v, const struct x86_insn *in)
{
	return mem_write_i(v, in->seg, insn_ea(v, in), 8, v->gpr[in->reg]);
}

/*
 * The same with a 64-bit [base + disp] address and a segment whose base is
 * 0 in 64-bit mode (flat_base, mem.h): the hit path first (mem_read_hit),
 * then mem_read_flat()/mem_write_flat() with the linear address known.
 */
static inline __attribute__((always_inline)) int mov_load_b(struct vcpu_soft *v, const struct x86_insn *in,
							     unsigned size)
{
	uint64_t lin = v->gpr[in->base] + (uint64_t)in->disp, a;
	int st;

	if (__builtin_expect(!mem_read_hit(v, lin, size, &a), 0)) {
		st = mem_read_flat(v, in->seg, lin, size, &a);   /* zero-extends */
		if (st)
			return st;
	}
	v->gpr[in->reg] = a;
	return X86_OK;
}

static inline __attribute__((always_inline)) int mov_store_b(struct vcpu_soft *v, const struct x86_insn *in,
							      unsigned size)
{
	uint64_t lin = v->gpr[in->base] + (uint64_t)in->disp, val = v->gpr[in->reg] & size_mask(size);

	if (__builtin_expect(mem_write_hit(v, lin, size, val), 1))
		return X86_OK;
	return mem_write_flat(v, in->seg, lin, size, val);
}

static int h_mov_load32_b(struct vcpu_soft *v, const struct x86_insn *in)
{
	return mov_load_b(v, in, 4);
}

static int h_mov_load64_b(struct vcpu_soft *v, const struct x86_insn *in)
{
	return mov_load_b(v, in, 8);
}

static int h_mov_store32_b(struct vcpu_soft *v, const struct x86_insn *in)
{
	return mov_store_b(v, in, 4);
}

static int h_mov_store64_b(struct vcpu_soft *v, const struct x86_insn *in)
{
	return mov_store_b(v, in, 8);
}

/*
 * The rest of a threaded load or store of [base + disp] whose shortcut
 * lookup missed (hit_missed): the model's translation in the chain
 * (mem_miss_chain), the access and the next record; op itself,
 * unexecuted, when the access cannot complete there. Out of line and
 * reached by a tail call, so that the hit path keeps no frame.
 */
static __attribute__((noinline)) const struct blk_op *
t_load_miss(struct vcpu_soft *v, const struct blk_op *op, unsigned size)
{
	uint64_t lin = v->gpr[op->insn.base] + (uint64_t)op->insn.disp, hpa, a = 0;

	if (!mem_miss_chain(v, lin, ACC_READ, &hpa))
		return op;
	v->stats.loads++;
	copy_small(&a, hpool_ptr(v->pool, hpa), size);
	v->gpr[op->insn.reg] = a;
	THREAD_NEXT(v, op);
}

static __attribute__((noinline)) const struct blk_op *
t_store_miss(struct vcpu_soft *v, const struct blk_op *op, unsigned size, uint64_t val)
{
	uint64_t lin = v->gpr[op->insn.base] + (uint64_t)op->insn.disp, hpa;

	if (!mem_miss_chain(v, lin, ACC_WRITE, &hpa))
		return op;
	v->stats.stores++;
	copy_small(hpool_ptr(v->pool, hpa), &val, size);
	THREAD_NEXT(v, op);
}

/*
 * Their threaded code (x86.h): the hit path when mem_hit_threaded() allows
 * it, or, when the shortcut missed, the model's translation in the chain
 * (t_load_miss, t_store_miss); else the record is returned to the run loop
 * unexecuted.
 */
static inline __attribute__((always_inline)) const struct blk_op *
t_mov_load_b(struct vcpu_soft *v, const struct blk_op *op, unsigned size)
{
	const struct x86_insn *in = &op->insn;
	uint64_t lin = v->gpr[in->base] + (uint64_t)in->disp, hpa, a = 0;   /* a 32-bit load clears the upper half */

	if (__builtin_expect(!mem_hit_threaded(v, op, lin, size, ACC_READ, &hpa), 0))
		return v->hit_missed ? t_load_miss(v, op, size) : op;
	v->stats.loads++;
	copy_small(&a, hpool_ptr(v->pool, hpa), size);
	v->gpr[in->reg] = a;
	THREAD_NEXT(v, op);
}

/*
 * A store of val (size bytes) to [base + disp] through the TLB-hit path, then
 * the next record; op itself, unexecuted, when the hit path cannot take it.
 */
static inline __attribute__((always_inline)) const struct blk_op *
t_store_val(struct vcpu_soft *v, const struct blk_op *op, unsigned size, uint64_t val)
{
	const struct x86_insn *in = &op->insn;
	uint64_t lin = v->gpr[in->base] + (uint64_t)in->disp, hpa;

	if (__builtin_expect(!mem_hit_threaded(v, op, lin, size, ACC_WRITE, &hpa), 0))
		return v->hit_missed ? t_store_miss(v, op, size, val) : op;
	v->stats.stores++;
	copy_small(hpool_ptr(v->pool, hpa), &val, size);
	THREAD_NEXT(v, op);
}

static inline __attribute__((always_inline)) const struct blk_op *
t_mov_store_b(struct vcpu_soft *v, const struct blk_op *op, unsigned size)
{
	return t_store_val(v, op, size, v->gpr[op->insn.reg] & size_mask(size));
}

static const struct blk_op *t_mov_load32_b(struct vcpu_soft *v, const struct blk_op *op)
{
	return t_mov_load_b(v, op, 4);
}

static const struct blk_op *t_mov_load64_b(struct vcpu_soft *v, const struct blk_op *op)
{
	return t_mov_load_b(v, op, 8);
}

static const struct blk_op *t_mov_store32_b(struct vcpu_soft *v, const struct blk_op *op)
{
	return t_mov_store_b(v, op, 4);
}

static const struct blk_op *t_mov_store64_b(struct vcpu_soft *v, const struct blk_op *op)
{
	return t_mov_store_b(v, op, 8);
}


int op_mov_load(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned size = in->op == 0x8a ? 1 : in->osz;
	uint64_t a;
	int st = rm_read(v, in, size, &a);
	if (st)
		return st;
	reg_set(v, in, in->reg, size, a);
	return X86_OK;
}

/* 89, 8B with a 32/64-bit operand: register-register and register-memory forms of their own. */
x86_exec_fn sel_mov(const struct x86_insn *in)
{
	bool store = in->op == 0x89;
	if (in->osz < 4)
		return store ? op_mov_store : op_mov_load;
	if (in->mod == 3)
		return in->osz == 8 ? (store ? h_mov_rr89_64 : h_mov_rr8b_64)
				    : (store ? h_mov_rr89_32 : h_mov_rr8b_32);
	if (flat_base(in))
		return in->osz == 8 ? (store ? h_mov_store64_b : h_mov_load64_b)
				    : (store ? h_mov_store32_b : h_mov_load32_b);
	return in->osz == 8 ? (store ? h_mov_store64 : h_mov_load64)
			    : (store ? h_mov_store32 : h_mov_load32);
}

/* A0-A3: MOV with a moffs operand */
int op_mov_moffs(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned op = in->op, size = (op & 1) ? in->osz : 1;
	uint64_t off = in->imm & size_mask(in->asz), a;
	int st;
	if (op < 0xa2) {
		if ((st = mem_read(v, in->seg, off, size, &a)))
			return st;
		reg_set(v, in, 0, size, a);
		return X86_OK;
	}
	return mem_write(v, in->seg, off, size, v->gpr[0] & size_mask(size));
}

/* B0-B7: MOV r8, imm8 */
int op_mov_imm8(struct vcpu_soft *v, const struct x86_insn *in)
{
	reg_set(v, in, (in->op & 7) | ((in->rex & 1) << 3), 1, in->imm);
	return X86_OK;
}

/* B8-BF: MOV r, imm */
int op_mov_imm(struct vcpu_soft *v, const struct x86_insn *in)
{
	reg_set(v, in, (in->op & 7) | ((in->rex & 1) << 3), in->osz, in->imm);
	return X86_OK;
}

/* B8+r at 32 and 64 bits: no size switch (a 32-bit immediate zero-extends). */
static int h_mov_imm32(struct vcpu_soft *v, const struct x86_insn *in)
{
	v->gpr[(in->op & 7) | ((in->rex & 1) << 3)] = in->imm & 0xffffffffULL;
	return X86_OK;
}

static int h_mov_imm64(struct vcpu_soft *v, const struct x86_insn *in)
{
	v->gpr[(in->op & 7) | ((in->rex & 1) << 3)] = in->imm;
	return X86_OK;
}

x86_exec_fn sel_mov_imm(const struct x86_insn *in)
{
	return in->osz == 8 ? h_mov_imm64 : in->osz == 4 ? h_mov_imm32 : op_mov_imm;
}

/* C6, C7: MOV r/m, imm */
static inline unsigned mov_imm_size(const struct x86_insn *in)
{
	return in->op == 0xc6 ? 1 : in->osz;
}

int op_mov_rm_imm(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned size = mov_imm_size(in);
	return rm_write(v, in, size, in->imm & size_mask(size));
}

/*
 * Its threaded code: to a register (pure), or to [base + disp] with a flat
 * 64-bit address through the hit path when mem_hit_threaded() allows it,
 * else the record is declined.
 */
static const struct blk_op *t_mov_rm_imm_r(struct vcpu_soft *v, const struct blk_op *op)
{
	const struct x86_insn *in = &op->insn;
	unsigned size = mov_imm_size(in);

	reg_set(v, in, in->rm, size, in->imm & size_mask(size));
	THREAD_NEXT(v, op);
}

static const struct blk_op *t_mov_imm_store_b(struct vcpu_soft *v, const struct blk_op *op)
{
	unsigned size = mov_imm_size(&op->insn);

	return t_store_val(v, op, size, op->insn.imm & size_mask(size));
}

/* 0F B6, B7, BE, BF: MOVZX, MOVSX */
static inline unsigned movx_size(const struct x86_insn *in)
{
	return (in->op & 1) ? 2 : 1;
}

static inline void movx_set(struct vcpu_soft *v, const struct x86_insn *in, uint64_t a)
{
	if (in->op & 8)
		a = sign_extend(a, movx_size(in));
	reg_set(v, in, in->reg, in->osz, a);
}

int op_movx(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t a;
	int st = rm_read(v, in, movx_size(in), &a);
	if (st)
		return st;
	movx_set(v, in, a);
	return X86_OK;
}

/* 63: MOVSXD */
static inline void movsxd_set(struct vcpu_soft *v, const struct x86_insn *in, uint64_t a)
{
	reg_set(v, in, in->reg, in->osz, in->osz == 8 ? sign_extend(a, 4) : a);
}

int op_movsxd(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t a;
	int st;
	if ((st = rm_read(v, in, 4, &a)))
		return st;
	movsxd_set(v, in, a);
	return X86_OK;
}

/* Their register forms (mod = 3) as threaded code. */
static const struct blk_op *t_movx_r(struct vcpu_soft *v, const struct blk_op *op)
{
	movx_set(v, &op->insn, reg_get(v, &op->insn, op->insn.rm, movx_size(&op->insn)));
	THREAD_NEXT(v, op);
}

static const struct blk_op *t_movsxd_r(struct vcpu_soft *v, const struct blk_op *op)
{
	movsxd_set(v, &op->insn, reg_get(v, &op->insn, op->insn.rm, 4));
	THREAD_NEXT(v, op);
}

int op_cmov(struct vcpu_soft *v, const struct x86_insn *in)
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

/* Between 64-bit registers: one handler per condition, as Jcc (branch.c). */
#define CMOV_HANDLER(cc) \
	static int h_cmov_rr64_##cc(struct vcpu_soft *v, const struct x86_insn *in) \
	{ \
		if (cond_eval_i(v, 0x##cc)) \
			v->gpr[in->reg] = v->gpr[in->rm]; \
		return X86_OK; \
	}
CMOV_HANDLER(0) CMOV_HANDLER(1) CMOV_HANDLER(2) CMOV_HANDLER(3) CMOV_HANDLER(4) CMOV_HANDLER(5)
CMOV_HANDLER(6) CMOV_HANDLER(7) CMOV_HANDLER(8) CMOV_HANDLER(9) CMOV_HANDLER(a) CMOV_HANDLER(b)
CMOV_HANDLER(c) CMOV_HANDLER(d) CMOV_HANDLER(e) CMOV_HANDLER(f)

static const x86_exec_fn cmov_rr64[16] = {
	h_cmov_rr64_0, h_cmov_rr64_1, h_cmov_rr64_2, h_cmov_rr64_3, h_cmov_rr64_4, h_cmov_rr64_5,
	h_cmov_rr64_6, h_cmov_rr64_7, h_cmov_rr64_8, h_cmov_rr64_9, h_cmov_rr64_a, h_cmov_rr64_b,
	h_cmov_rr64_c, h_cmov_rr64_d, h_cmov_rr64_e, h_cmov_rr64_f,
};

/* 0F 40-4F: CMOVcc; between 32/64-bit registers with handlers of their own. */
x86_exec_fn sel_cmov(const struct x86_insn *in)
{
	if (in->mod == 3 && in->osz >= 4)
		return in->osz == 8 ? cmov_rr64[in->op & 15] : h_cmov_rr32;
	return op_cmov;
}

/* 8D: LEA */
int op_lea(struct vcpu_soft *v, const struct x86_insn *in)
{
	reg_set(v, in, in->reg, in->osz, insn_ea(v, in));
	return X86_OK;
}

/* LEA of a 64-bit [base + disp] or [base + index * scale + disp] into a 64-bit register. */
static int h_lea64_b(struct vcpu_soft *v, const struct x86_insn *in)
{
	v->gpr[in->reg] = v->gpr[in->base] + (uint64_t)in->disp;
	return X86_OK;
}

static int h_lea64_bi(struct vcpu_soft *v, const struct x86_insn *in)
{
	v->gpr[in->reg] = v->gpr[in->base] + (v->gpr[in->index] << in->scale) + (uint64_t)in->disp;
	return X86_OK;
}

x86_exec_fn sel_lea(const struct x86_insn *in)
{
	if (in->osz == 8 && in->asz == 8 && in->mod != 3 && !in->rip_rel && in->base != X86_NOREG)
		return in->index != X86_NOREG ? h_lea64_bi : h_lea64_b;
	return op_lea;
}

/*
 * The handlers of this file that only touch registers and flags, for
 * exec_thread(), with their threaded code (and, below, the loads and stores
 * of [base + disp] whose threaded code may decline): MOV, CMOVcc, MOVZX/MOVSX/MOVSXD and XCHG between registers,
 * MOV r, imm, LEA (no RIP-relative address), BSWAP, CBW/CWD, NOP.
 */
THREAD_WRAP(h_mov_rr89_64)
THREAD_WRAP(h_mov_rr8b_64)
THREAD_WRAP(h_mov_rr89_32)
THREAD_WRAP(h_mov_rr8b_32)
THREAD_WRAP(h_cmov_rr32)
THREAD_WRAP(h_lea64_b)
THREAD_WRAP(h_lea64_bi)
THREAD_WRAP(op_mov_imm)
THREAD_WRAP(h_mov_imm32)
THREAD_WRAP(h_mov_imm64)
#define CMOV_THREAD(cc) THREAD_WRAP(h_cmov_rr64_##cc)
CMOV_THREAD(0) CMOV_THREAD(1) CMOV_THREAD(2) CMOV_THREAD(3) CMOV_THREAD(4) CMOV_THREAD(5)
CMOV_THREAD(6) CMOV_THREAD(7) CMOV_THREAD(8) CMOV_THREAD(9) CMOV_THREAD(a) CMOV_THREAD(b)
CMOV_THREAD(c) CMOV_THREAD(d) CMOV_THREAD(e) CMOV_THREAD(f)

#define CMOV_PAIR(cc) { h_cmov_rr64_##cc, t_h_cmov_rr64_##cc },
static const struct thread_pair move_threads[] = {
	{ h_mov_rr89_64, t_h_mov_rr89_64 }, { h_mov_rr8b_64, t_h_mov_rr8b_64 },
	{ h_mov_rr89_32, t_h_mov_rr89_32 }, { h_mov_rr8b_32, t_h_mov_rr8b_32 },
	{ h_cmov_rr32, t_h_cmov_rr32 }, { h_lea64_b, t_h_lea64_b }, { h_lea64_bi, t_h_lea64_bi },
	{ op_mov_imm, t_op_mov_imm }, { h_mov_imm32, t_h_mov_imm32 }, { h_mov_imm64, t_h_mov_imm64 },
	CMOV_PAIR(0) CMOV_PAIR(1) CMOV_PAIR(2) CMOV_PAIR(3) CMOV_PAIR(4) CMOV_PAIR(5) CMOV_PAIR(6)
	CMOV_PAIR(7) CMOV_PAIR(8) CMOV_PAIR(9) CMOV_PAIR(a) CMOV_PAIR(b) CMOV_PAIR(c) CMOV_PAIR(d)
	CMOV_PAIR(e) CMOV_PAIR(f)
};

static int h_push64(struct vcpu_soft *v, const struct x86_insn *in);
static int h_pop64(struct vcpu_soft *v, const struct x86_insn *in);
static const struct blk_op *t_push64(struct vcpu_soft *v, const struct blk_op *op);
static const struct blk_op *t_pop64(struct vcpu_soft *v, const struct blk_op *op);

/* Loads, stores, PUSH and POP whose threaded code may decline (mem_hit_threaded). */
static const struct thread_pair move_threads_mem[] = {
	{ h_mov_load32_b, t_mov_load32_b }, { h_mov_load64_b, t_mov_load64_b },
	{ h_mov_store32_b, t_mov_store32_b }, { h_mov_store64_b, t_mov_store64_b },
	{ h_push64, t_push64 }, { h_pop64, t_pop64 },
};

x86_thread_fn move_thread(x86_exec_fn fn, const struct x86_insn *in, bool *declines)
{
	x86_thread_fn t = thread_find(move_threads, sizeof(move_threads) / sizeof(move_threads[0]), fn);

	if (t != NULL)
		return t;
	t = thread_find(move_threads_mem, sizeof(move_threads_mem) / sizeof(move_threads_mem[0]), fn);
	if (t != NULL) {
		*declines = true;
		return t;
	}
	if (fn == op_bswap || fn == op_cbw || fn == op_cwd || fn == op_nop)
		return thread_call;
	if (fn == op_lea)
		return in->mod != 3 && !in->rip_rel ? thread_call : NULL;
	if (fn == op_mov_rm_imm) {
		if (in->mod == 3)
			return t_mov_rm_imm_r;
		if (!flat_base(in))
			return NULL;
		*declines = true;
		return t_mov_imm_store_b;
	}
	if (in->mod != 3)
		return NULL;
	if (fn == op_movx)
		return t_movx_r;
	if (fn == op_movsxd)
		return t_movsxd_r;
	return fn == op_xchg || fn == op_setcc ? thread_call : NULL;
}

int op_setcc(struct vcpu_soft *v, const struct x86_insn *in)
{
	return rm_write(v, in, 1, cond_eval(v, in->op & 15));
}

/* 86, 87: XCHG r/m, r (memory written first) */
int op_xchg(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned size = in->op == 0x86 ? 1 : in->osz;
	uint64_t a, b;
	struct rmw w;
	int st;
	if ((st = rmw_read(v, in, size, &w, &a)))
		return st;
	b = reg_get(v, in, in->reg, size);
	rmw_commit(v, in, size, &w, b);
	reg_set(v, in, in->reg, size, a);
	return X86_OK;
}

/* 90-97: XCHG r, rAX; 90 without REX.B is NOP (and F3 90 PAUSE), not XCHG eAX, eAX. */
int op_xchg_ax(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned reg = (in->op & 7) | ((in->rex & 1) << 3);
	if (reg == 0)
		return X86_OK;
	uint64_t a = v->gpr[reg];
	reg_set(v, in, reg, in->osz, v->gpr[0]);
	reg_set(v, in, 0, in->osz, a);
	return X86_OK;
}

/* 0F C8-CF: BSWAP */
int op_bswap(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned reg = (in->op & 7) | ((in->rex & 1) << 3);
	if (in->osz == 8)
		v->gpr[reg] = __builtin_bswap64(v->gpr[reg]);
	else if (in->osz == 4)
		v->gpr[reg] = __builtin_bswap32((uint32_t)v->gpr[reg]);
	else
		v->gpr[reg] &= ~0xffffULL; /* 16-bit BSWAP is undefined; hardware clears it */
	return X86_OK;
}

/* 98: CBW/CWDE/CDQE */
int op_cbw(struct vcpu_soft *v, const struct x86_insn *in)
{
	reg_set(v, in, 0, in->osz, sign_extend(v->gpr[0], in->osz / 2));
	return X86_OK;
}

/* 99: CWD/CDQ/CQO */
int op_cwd(struct vcpu_soft *v, const struct x86_insn *in)
{
	reg_set(v, in, 2, in->osz, sign_bit(v->gpr[0], in->osz) ? ~0ULL : 0);
	return X86_OK;
}

/* D7: XLAT */
int op_xlat(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t a;
	int st;
	if ((st = mem_read(v, in->seg, (v->gpr[3] + (v->gpr[0] & 0xff)) & size_mask(in->asz), 1, &a)))
		return st;
	reg_set(v, in, 0, 1, a);
	return X86_OK;
}

/* 0F 0D, 0F 18-1F: PREFETCHW, hint NOPs, ENDBR */
int op_nop(struct vcpu_soft *v, const struct x86_insn *in)
{
	return X86_OK;
}

/* ---- the stack ---- */

/* 50-57: PUSH r, 58-5F: POP r */
int op_push(struct vcpu_soft *v, const struct x86_insn *in)
{
	return stack_push(v, in->osz, v->gpr[(in->op & 7) | ((in->rex & 1) << 3)] & size_mask(in->osz));
}

int op_pop(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t a;
	int st = stack_pop(v, in->osz, &a);
	if (st)
		return st;
	reg_set(v, in, (in->op & 7) | ((in->rex & 1) << 3), in->osz, a);
	return X86_OK;
}

/* PUSH r, POP r with a 64-bit operand: the hit path first. */
static int h_push64(struct vcpu_soft *v, const struct x86_insn *in)
{
	if (__builtin_expect(push64_hit(v, v->gpr[(in->op & 7) | ((in->rex & 1) << 3)]), 1))
		return X86_OK;
	return op_push(v, in);
}

static int h_pop64(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t a;

	if (__builtin_expect(!pop64_hit(v, &a), 0))
		return op_pop(v, in);
	/* POP RSP loads the value read (SDM Vol. 2B POP): RSP moves first. */
	v->gpr[4] += 8;
	v->gpr[(in->op & 7) | ((in->rex & 1) << 3)] = a;
	return X86_OK;
}

/*
 * Their threaded code (x86.h): the store or load through the model's
 * shortcut when mem_hit_threaded() allows it (the same access and counts as
 * push64_hit and pop64_hit), else the record goes back to the run loop
 * unexecuted, which runs h_push64 or h_pop64.
 */
static const struct blk_op *t_push64(struct vcpu_soft *v, const struct blk_op *op)
{
	const struct x86_insn *in = &op->insn;
	uint64_t hpa, val = v->gpr[(in->op & 7) | ((in->rex & 1) << 3)];

	if (__builtin_expect(!mem_hit_threaded(v, op, v->gpr[4] - 8, 8, ACC_WRITE, &hpa), 0))
		return op;
	v->stats.stores++;
	copy_small(hpool_ptr(v->pool, hpa), &val, 8);
	v->gpr[4] -= 8;
	THREAD_NEXT(v, op);
}

static const struct blk_op *t_pop64(struct vcpu_soft *v, const struct blk_op *op)
{
	const struct x86_insn *in = &op->insn;
	uint64_t hpa, a;

	if (__builtin_expect(!mem_hit_threaded(v, op, v->gpr[4], 8, ACC_READ, &hpa), 0))
		return op;
	v->stats.loads++;
	copy_small(&a, hpool_ptr(v->pool, hpa), 8);
	v->gpr[4] += 8;
	v->gpr[(in->op & 7) | ((in->rex & 1) << 3)] = a;
	THREAD_NEXT(v, op);
}

x86_exec_fn sel_push(const struct x86_insn *in)
{
	return in->osz == 8 ? h_push64 : op_push;
}

x86_exec_fn sel_pop(const struct x86_insn *in)
{
	return in->osz == 8 ? h_pop64 : op_pop;
}

/* 68, 6A: PUSH imm */
int op_push_imm(struct vcpu_soft *v, const struct x86_insn *in)
{
	return stack_push(v, in->osz, in->imm & size_mask(in->osz));
}

/* FF /6: PUSH r/m */
int op_push_rm(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t a;
	int st;
	if ((st = rm_read(v, in, in->osz, &a)))
		return st;
	return stack_push(v, in->osz, a);
}

/* 8F /0: POP r/m: RSP is incremented before the address is computed */
int op_pop_rm(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t old = v->gpr[4], a;
	int st;
	if ((st = stack_pop(v, in->osz, &a)))
		return st;
	if ((st = rm_write(v, in, in->osz, a))) {
		v->gpr[4] = old;
		return st;
	}
	return X86_OK;
}

/* 60: PUSHA */
int op_pusha(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned osz = in->osz;
	uint64_t sp = v->gpr[4], vals[8];
	uint8_t buf[32];
	int st;
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

/* 61: POPA */
int op_popa(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned osz = in->osz;
	uint8_t buf[32];
	uint64_t sp = v->gpr[4] & stack_mask(v), lin;
	int st;
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
