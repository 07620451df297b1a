/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/alu.c - arithmetic and logic: the eight ALU operations in all their
 * forms, INC/DEC, NEG/NOT, shifts and rotates, MUL/IMUL/DIV/IDIV, bit tests
 * and scans, CMPXCHG, XADD and the BMI1 group (SDM Vol. 2).
 *
 * The most frequent forms have handlers of their own (register-register and
 * register-immediate at 32 and 64 bits, shifts by a constant): the selectors
 * here pick them once per decoded instruction from the opcode table.
 */
#include "hv/cpu/flags.h"
#include "hv/cpu/mem.h"
#include "hv/cpu/optab.h"


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
							unsigned op, unsigned size, bool to_reg)
{
	unsigned dst = to_reg ? in->reg : in->rm, src = to_reg ? in->rm : in->reg;
	uint64_t m = size_mask(size);
	uint64_t r = alu(v, op, size, v->gpr[dst] & m, v->gpr[src] & m);
	if (op != 7)
		v->gpr[dst] = r;  /* 32-bit results zero-extend; r is already masked */
	return X86_OK;
}

/* By size and direction: xx+1 (r/m, r) writes ModRM.rm, xx+3 (r, r/m) ModRM.reg. */
#define ALU_RR_HANDLER(n, name) \
	static int h_rr32_##name(struct vcpu_soft *v, const struct x86_insn *in) { return alu_rr(v, in, n, 4, false); } \
	static int h_rr64_##name(struct vcpu_soft *v, const struct x86_insn *in) { return alu_rr(v, in, n, 8, false); } \
	static int h_rr32r_##name(struct vcpu_soft *v, const struct x86_insn *in) { return alu_rr(v, in, n, 4, true); } \
	static int h_rr64r_##name(struct vcpu_soft *v, const struct x86_insn *in) { return alu_rr(v, in, n, 8, true); }
ALU_HANDLERS(ALU_RR_HANDLER)
static const x86_exec_fn alu_rr_handlers[4][8] = {
	{ h_rr32_add, h_rr32_or, h_rr32_adc, h_rr32_sbb, h_rr32_and, h_rr32_sub, h_rr32_xor, h_rr32_cmp },
	{ h_rr64_add, h_rr64_or, h_rr64_adc, h_rr64_sbb, h_rr64_and, h_rr64_sub, h_rr64_xor, h_rr64_cmp },
	{ h_rr32r_add, h_rr32r_or, h_rr32r_adc, h_rr32r_sbb, h_rr32r_and, h_rr32r_sub, h_rr32r_xor,
	  h_rr32r_cmp },
	{ h_rr64r_add, h_rr64r_or, h_rr64r_adc, h_rr64r_sbb, h_rr64r_and, h_rr64r_sub, h_rr64r_xor,
	  h_rr64r_cmp },
};

/*
 * reg op= [base + disp] at 32 and 64 bits with a flat 64-bit address
 * (flat_base, mem.h): the operand through the hit path first, else
 * mem_read_flat() with the linear address known.
 */
static inline __attribute__((always_inline)) int alu_rm_b(struct vcpu_soft *v, const struct x86_insn *in,
							  unsigned op, unsigned size)
{
	uint64_t lin = v->gpr[in->base] + (uint64_t)in->disp, b;

	if (__builtin_expect(!mem_read_hit(v, lin, size, &b), 0)) {
		int st = mem_read_flat(v, in->seg, lin, size, &b);

		if (st)
			return st;
	}
	uint64_t r = alu(v, op, size, v->gpr[in->reg] & size_mask(size), b);
	if (op != 7)
		v->gpr[in->reg] = r;   /* 32-bit results zero-extend; r is already masked */
	return X86_OK;
}

/* Its threaded code: the hit path when mem_hit_threaded() allows it, else the record is declined. */
static inline __attribute__((always_inline)) const struct blk_op *
t_alu_rm_b(struct vcpu_soft *v, const struct blk_op *op, unsigned aop, unsigned size)
{
	const struct x86_insn *in = &op->insn;
	uint64_t hpa, b = 0;

	if (__builtin_expect(!mem_hit_threaded(v, op, v->gpr[in->base] + (uint64_t)in->disp, size,
					       ACC_READ, &hpa), 0))
		return op;
	v->stats.loads++;
	copy_small(&b, hpool_ptr(v->pool, hpa), size);
	uint64_t r = alu(v, aop, size, v->gpr[in->reg] & size_mask(size), b);
	if (aop != 7)
		v->gpr[in->reg] = r;
	THREAD_NEXT(v, op);
}

#define ALU_RM_HANDLER(n, name) \
	static int h_rm32b_##name(struct vcpu_soft *v, const struct x86_insn *in) { return alu_rm_b(v, in, n, 4); } \
	static int h_rm64b_##name(struct vcpu_soft *v, const struct x86_insn *in) { return alu_rm_b(v, in, n, 8); }
ALU_HANDLERS(ALU_RM_HANDLER)
#define ALU_RM_THREAD(n, name) \
	static const struct blk_op *t_rm32b_##name(struct vcpu_soft *v, const struct blk_op *op) \
	{ return t_alu_rm_b(v, op, n, 4); } \
	static const struct blk_op *t_rm64b_##name(struct vcpu_soft *v, const struct blk_op *op) \
	{ return t_alu_rm_b(v, op, n, 8); }
ALU_HANDLERS(ALU_RM_THREAD)
static const x86_exec_fn alu_rm_handlers[2][8] = {
	{ h_rm32b_add, h_rm32b_or, h_rm32b_adc, h_rm32b_sbb, h_rm32b_and, h_rm32b_sub, h_rm32b_xor,
	  h_rm32b_cmp },
	{ h_rm64b_add, h_rm64b_or, h_rm64b_adc, h_rm64b_sbb, h_rm64b_and, h_rm64b_sub, h_rm64b_xor,
	  h_rm64b_cmp },
};

/* 00-3D: the ALU block; the register-register 32/64-bit forms and reg op= [base + disp]
 * have their own handlers. */
x86_exec_fn sel_alu(const struct x86_insn *in)
{
	unsigned op = in->op;
	if (((op & 7) == 1 || (op & 7) == 3) && in->mod == 3 && in->osz >= 4)
		return alu_rr_handlers[(op & 2) + (in->osz == 8)][(op >> 3) & 7];
	if ((op & 7) == 3 && in->osz >= 4 && flat_base(in))
		return alu_rm_handlers[in->osz == 8][(op >> 3) & 7];
	return alu_handlers[(op >> 3) & 7];
}

/* Shifts and rotates (group 2; SDM Vol. 2B SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR). */

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

/* 80-83: group 1; a 32/64-bit register destination has its own handlers. */
x86_exec_fn sel_grp1(const struct x86_insn *in)
{
	if ((in->op == 0x81 || in->op == 0x83) && in->mod == 3 && in->osz >= 4)
		return alu_ri_handlers[in->osz == 8][in->reg & 7];
	return grp1_handlers[in->reg & 7];
}

static inline void test_rm_r(struct vcpu_soft *v, const struct x86_insn *in, unsigned size, uint64_t a)
{
	uint64_t b = reg_get(v, in, in->reg, size);

	lf_set(v, LF_LOGIC, size, a, b, a & b);
}

int op_test(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned size = in->op == 0x84 ? 1 : in->osz;
	uint64_t a;
	int st = rm_read(v, in, size, &a);
	if (st)
		return st;
	test_rm_r(v, in, size, a);
	return X86_OK;
}

/* A8, A9: TEST AL/eAX, imm */
int op_test_acc(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned size = in->op == 0xa8 ? 1 : in->osz;
	uint64_t a = reg_get(v, in, 0, size);
	lf_set(v, LF_LOGIC, size, a, 0, a & in->imm & size_mask(size));
	return X86_OK;
}

/* 40-4F: INC/DEC r (16/32-bit modes; REX prefixes in 64-bit mode) */
int op_incdec_reg(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned op = in->op, reg = op & 7, osz = in->osz;
	uint64_t a = reg_get(v, in, reg, osz);
	bool cin = lf_cf(v);
	bool dec = op >= 0x48;
	uint64_t r = (dec ? a - 1 : a + 1) & size_mask(osz);
	lf_set(v, dec ? LF_DEC : LF_INC, osz, a, 1, r);
	v->lf_cin = cin;
	reg_set(v, in, reg, osz, r);
	return X86_OK;
}

/* FE /0 /1, FF /0 /1: INC/DEC r/m */
int op_incdec(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned r3 = in->reg & 7, size = in->op == 0xfe ? 1 : in->osz;
	uint64_t a, r;
	struct rmw w;
	int st;
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

int op_grp3(struct vcpu_soft *v, const struct x86_insn *in)
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
		if (r == 6 && (size < 8 || hi == 0)) {
			/* The dividend fits 64 bits: no overflow past 64 bits either. */
			uint64_t n = size == 8 ? lo : (hi << (size * 8)) | lo;
			q = n / a;
			if (q > m)
				return x86_raise(v, EXC_DE, false, 0);
			rem = n % a;
		} else if (r == 6) {
			unsigned __int128 n = ((unsigned __int128)hi << 64) | lo;
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

/*
 * DIV of a 32- or 64-bit register (F7 /6, mod 3) when the dividend fits 64
 * bits (RDX 0 at 64 bits): divides in 64 bits; a zero divisor, a quotient
 * that overflows or a wider dividend is left to op_grp3 (#DE, 128-bit
 * division). Flags are not changed, as in op_grp3.
 */
static inline __attribute__((always_inline)) bool div_r_fast(struct vcpu_soft *v, const struct x86_insn *in,
							     unsigned size)
{
	uint64_t m = size_mask(size), d = v->gpr[in->rm] & m, n, q;

	if (size == 8) {
		if (d == 0 || v->gpr[2] != 0)
			return false;
		n = v->gpr[0];
	} else {
		n = ((v->gpr[2] & m) << 32) | (v->gpr[0] & m);
		if (d == 0 || n / d > m)
			return false;
	}
	q = n / d;
	v->gpr[2] = n % d;   /* 32-bit results zero-extend */
	v->gpr[0] = q;
	return true;
}

static int h_div_r32(struct vcpu_soft *v, const struct x86_insn *in)
{
	return div_r_fast(v, in, 4) ? X86_OK : op_grp3(v, in);
}

static int h_div_r64(struct vcpu_soft *v, const struct x86_insn *in)
{
	return div_r_fast(v, in, 8) ? X86_OK : op_grp3(v, in);
}

/* F6, F7: group 3; DIV of a 32/64-bit register has its own handler. */
x86_exec_fn sel_grp3(const struct x86_insn *in)
{
	if (in->op == 0xf7 && in->mod == 3 && (in->reg & 7) == 6 && in->osz >= 4)
		return in->osz == 8 ? h_div_r64 : h_div_r32;
	return op_grp3;
}

/* Their threaded code: declined when op_grp3 is needed. */
static const struct blk_op *t_div_r32(struct vcpu_soft *v, const struct blk_op *op)
{
	if (__builtin_expect(!div_r_fast(v, &op->insn, 4), 0))
		return op;
	THREAD_NEXT(v, op);
}

static const struct blk_op *t_div_r64(struct vcpu_soft *v, const struct blk_op *op)
{
	if (__builtin_expect(!div_r_fast(v, &op->insn, 8), 0))
		return op;
	THREAD_NEXT(v, op);
}

static inline __attribute__((always_inline)) int imul2_sized(struct vcpu_soft *v,
							       const struct x86_insn *in, uint64_t a,
							       uint64_t b, unsigned size)
{
	int64_t sa = (int64_t)sign_extend(a, size), sb = (int64_t)sign_extend(b, size), p;
	uint64_t lo;
	bool ovf;

	if (size == 8) {
		ovf = __builtin_mul_overflow(sa, sb, &p);
		lo = (uint64_t)p;
	} else {
		/* Operands of 16 or 32 bits: the product fits in 64. */
		p = sa * sb;
		lo = (uint64_t)p & size_mask(size);
		ovf = p != (int64_t)sign_extend(lo, size);
	}
	reg_set(v, in, in->reg, size, lo);
	flags_put(v, RF_ARITH, (ovf ? RF_CF | RF_OF : 0) | flags_szp(lo, size));
	return X86_OK;
}

static int exec_imul2(struct vcpu_soft *v, const struct x86_insn *in, uint64_t a, uint64_t b)
{
	return imul2_sized(v, in, a, b, in->osz);
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

/* 0F A3 BT, AB BTS, B3 BTR, BB BTC (bits 4:3 of the opcode) with a register bit offset */
int op_bt(struct vcpu_soft *v, const struct x86_insn *in)
{
	return exec_bt(v, in, ((in->op & 0xff) >> 3) & 3, reg_get(v, in, in->reg, in->osz), false);
}

/* 0F BA /4-/7: BT, BTS, BTR, BTC with an immediate bit offset */
int op_bt_imm(struct vcpu_soft *v, const struct x86_insn *in)
{
	return exec_bt(v, in, (in->reg & 7) - 4, in->imm & 0xff, true);
}

int op_shift(struct vcpu_soft *v, const struct x86_insn *in)
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
/* Inlined into their threaded code (THREAD_WRAP) too. */
#define SHIFT_RI_HANDLER(n, name) \
	static inline __attribute__((always_inline)) int h_ri32_##name(struct vcpu_soft *v, \
								       const struct x86_insn *in) \
	{ return shift_ri(v, in, n, 4); } \
	static inline __attribute__((always_inline)) int h_ri64_##name(struct vcpu_soft *v, \
								       const struct x86_insn *in) \
	{ return shift_ri(v, in, n, 8); }
SHIFT_RI_HANDLERS(SHIFT_RI_HANDLER)
/* By ModRM.reg; RCL/RCR (2, 3) keep the general handler. */
static const x86_exec_fn shift_ri_handlers[2][8] = {
	{ h_ri32_rol, h_ri32_ror, NULL, NULL, h_ri32_shl, h_ri32_shr, h_ri32_shl, h_ri32_sar },
	{ h_ri64_rol, h_ri64_ror, NULL, NULL, h_ri64_shl, h_ri64_shr, h_ri64_shl, h_ri64_sar },
};

x86_exec_fn sel_shift(const struct x86_insn *in)
{
	if ((in->op == 0xc1 || in->op == 0xd1) && in->mod == 3 && in->osz >= 4) {
		unsigned cnt = (in->op == 0xd1 ? 1u : (unsigned)in->imm) & (in->osz * 8 - 1);
		x86_exec_fn fn = shift_ri_handlers[in->osz == 8][in->reg & 7];
		if (cnt && fn)
			return fn;
	}
	return op_shift;
}
/* 0F A4/A5 SHLD, 0F AC/AD SHRD (imm8 or CL) */
int op_shd(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned op = in->op, osz = in->osz;
	unsigned cnt = (op & 1) ? (unsigned)v->gpr[1] : (unsigned)in->imm;
	uint64_t a, r;
	struct rmw w;
	int st;
	if ((st = rmw_read(v, in, osz, &w, &a)))
		return st;
	r = shift_double(v, (op & 0xff) < 0xa8, osz, a, reg_get(v, in, in->reg, osz), cnt & 0xff);
	rmw_commit(v, in, osz, &w, r);
	return X86_OK;
}

/* IMUL r, r at 32 or 64 bits (0F AF with mod 3): no memory path. */
static int h_imul_rr32(struct vcpu_soft *v, const struct x86_insn *in)
{
	return imul2_sized(v, in, v->gpr[in->reg] & 0xffffffffULL, v->gpr[in->rm] & 0xffffffffULL, 4);
}

static int h_imul_rr64(struct vcpu_soft *v, const struct x86_insn *in)
{
	return imul2_sized(v, in, v->gpr[in->reg], v->gpr[in->rm], 8);
}

x86_exec_fn sel_imul(const struct x86_insn *in)
{
	if (in->mod == 3 && in->osz >= 4)
		return in->osz == 8 ? h_imul_rr64 : h_imul_rr32;
	return op_imul;
}

/*
 * The handlers of this file that only touch registers and flags, for
 * exec_thread(), with their threaded code: the register forms of the ALU block, group 1, shifts by a
 * constant, INC/DEC, TEST and IMUL.
 */
#define ALU_THREAD(n, name) \
	THREAD_WRAP(h_rr32_##name) THREAD_WRAP(h_rr64_##name) THREAD_WRAP(h_rr32r_##name) \
	THREAD_WRAP(h_rr64r_##name) THREAD_WRAP(h_ri32_##name) THREAD_WRAP(h_ri64_##name)
ALU_HANDLERS(ALU_THREAD)
/*
 * ROL and ROR replace CF and OF only, so with lazy flags pending they first
 * compute the others (flags_put, flags_get). Their threaded code tests that
 * first and leaves the rare case to a function of its own, so that the
 * common one needs no stack frame.
 */
static __attribute__((noinline)) const struct blk_op *t_rot_lazy(struct vcpu_soft *v,
								     const struct blk_op *op)
{
	flags_get(v);   /* as flags_put would; the handler then finds lf_op LF_NONE */
	return thread_call(v, op);
}

#define ROT_THREAD(name) \
	static const struct blk_op *t_##name(struct vcpu_soft *v, const struct blk_op *op) \
	{ \
		if (__builtin_expect(v->lf_op != LF_NONE, 0)) \
			return t_rot_lazy(v, op); \
		name(v, &op->insn); \
		THREAD_NEXT(v, op); \
	}
ROT_THREAD(h_ri32_rol) ROT_THREAD(h_ri64_rol) ROT_THREAD(h_ri32_ror) ROT_THREAD(h_ri64_ror)
#define SHIFT_THREAD(n, name) THREAD_WRAP(h_ri32_##name) THREAD_WRAP(h_ri64_##name)
SHIFT_THREAD(4, shl) SHIFT_THREAD(5, shr) SHIFT_THREAD(7, sar)
THREAD_WRAP(h_imul_rr32)
THREAD_WRAP(h_imul_rr64)

#define ALU_PAIRS(n, name) \
	{ h_rr32_##name, t_h_rr32_##name }, { h_rr64_##name, t_h_rr64_##name }, \
	{ h_rr32r_##name, t_h_rr32r_##name }, { h_rr64r_##name, t_h_rr64r_##name }, \
	{ h_ri32_##name, t_h_ri32_##name }, { h_ri64_##name, t_h_ri64_##name },
#define SHIFT_PAIRS(n, name) { h_ri32_##name, t_h_ri32_##name }, { h_ri64_##name, t_h_ri64_##name },
static const struct thread_pair alu_threads[] = {
	ALU_HANDLERS(ALU_PAIRS)
	SHIFT_RI_HANDLERS(SHIFT_PAIRS)
	{ h_imul_rr32, t_h_imul_rr32 }, { h_imul_rr64, t_h_imul_rr64 },
};

/* reg op= [base + disp]: threaded code that may decline. */
#define ALU_RM_PAIRS(n, name) { h_rm32b_##name, t_rm32b_##name }, { h_rm64b_##name, t_rm64b_##name },
static const struct thread_pair alu_threads_mem[] = {
	ALU_HANDLERS(ALU_RM_PAIRS)
	{ h_div_r32, t_div_r32 }, { h_div_r64, t_div_r64 },   /* not memory, but may decline too */
};

/* TEST AL/eAX, imm and TEST r, imm (F6/F7 /0 and /1 with a register operand). */
THREAD_WRAP(op_test_acc)

static const struct blk_op *t_test_ri(struct vcpu_soft *v, const struct blk_op *op)
{
	const struct x86_insn *in = &op->insn;
	unsigned size = in->op == 0xf6 ? 1 : in->osz;
	uint64_t a = reg_get(v, in, in->rm, size);

	lf_set(v, LF_LOGIC, size, a, 0, a & in->imm & size_mask(size));
	THREAD_NEXT(v, op);
}

/*
 * CMP [base + disp], imm (80-83 /7 with a flat 64-bit address): the load
 * through the hit path when mem_hit_threaded() allows it, else the record
 * is declined (h_grp1_cmp then makes it with the general path).
 */
static const struct blk_op *t_grp1_cmp_b(struct vcpu_soft *v, const struct blk_op *op)
{
	const struct x86_insn *in = &op->insn;
	unsigned size = in->op == 0x80 || in->op == 0x82 ? 1 : in->osz;
	uint64_t hpa, a = 0;

	if (__builtin_expect(!mem_hit_threaded(v, op, v->gpr[in->base] + (uint64_t)in->disp, size,
					       ACC_READ, &hpa), 0))
		return op;
	v->stats.loads++;
	copy_small(&a, hpool_ptr(v->pool, hpa), size);
	alu(v, 7, size, a, in->imm & size_mask(size));
	THREAD_NEXT(v, op);
}

/* TEST r, r (84, 85 with mod = 3). */
static const struct blk_op *t_test_rr(struct vcpu_soft *v, const struct blk_op *op)
{
	const struct x86_insn *in = &op->insn;
	unsigned size = in->op == 0x84 ? 1 : in->osz;

	test_rm_r(v, in, size, reg_get(v, in, in->rm, size));
	THREAD_NEXT(v, op);
}

x86_thread_fn alu_thread(x86_exec_fn fn, const struct x86_insn *in, bool *declines)
{
	x86_thread_fn t = thread_find(alu_threads, sizeof(alu_threads) / sizeof(alu_threads[0]), fn);

	if (t != NULL)
		return t;
	t = thread_find(alu_threads_mem, sizeof(alu_threads_mem) / sizeof(alu_threads_mem[0]), fn);
	if (t != NULL) {
		*declines = true;
		return t;
	}
	if (fn == h_grp1_cmp && flat_base(in)) {
		*declines = true;
		return t_grp1_cmp_b;
	}
	if (fn == op_test_acc)
		return t_op_test_acc;
	if (fn == op_grp3 && in->mod == 3 && (in->reg & 7) < 2)
		return t_test_ri;
	if (fn == op_test && in->mod == 3)
		return t_test_rr;
	if (in->mod == 3 && (fn == op_incdec || fn == op_imul || fn == op_imul3))
		return thread_call;
	return NULL;
}

int op_imul(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t a;
	int st = rm_read(v, in, in->osz, &a);
	if (st)
		return st;
	return exec_imul2(v, in, reg_get(v, in, in->reg, in->osz), a);
}

int op_imul3(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t a;
	int st = rm_read(v, in, in->osz, &a);
	if (st)
		return st;
	return exec_imul2(v, in, a, in->imm);
}

int op_bitscan(struct vcpu_soft *v, const struct x86_insn *in)
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

int op_cmpxchg(struct vcpu_soft *v, const struct x86_insn *in)
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

int op_cmpxchg8b(struct vcpu_soft *v, const struct x86_insn *in)
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

/* 0F C0/C1: XADD */
int op_xadd(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned size = in->op == (OP_MAP0F | 0xc0) ? 1 : in->osz;
	uint64_t a, b, r;
	struct rmw w;
	int st;
	if ((st = rmw_read(v, in, size, &w, &a)))
		return st;
	b = reg_get(v, in, in->reg, size);
	r = alu(v, 0, size, a, b);
	reg_set(v, in, in->reg, size, a);
	rmw_commit(v, in, size, &w, r);
	return X86_OK;
}

/* BMI1 (SDM Vol. 2A ANDN, BEXTR, BLSI, BLSMSK, BLSR): VEX-encoded, 32/64-bit. */
int op_bmi1(struct vcpu_soft *v, const struct x86_insn *in)
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
 * BCD adjustments (SDM Vol. 2A DAA, DAS, AAA, AAS, AAM, AAD), outside
 * 64-bit mode. Flags the SDM leaves undefined: OF is kept by DAA/DAS;
 * AAA/AAS keep OF, SF, ZF, PF; AAM/AAD clear CF, OF and AF.
 */

/* 27: DAA, 2F: DAS */
int op_daa_das(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned old = v->gpr[0] & 0xff, al = old;
	bool cf = lf_cf(v), sub = in->op == 0x2f, c = false;
	uint64_t f = 0;

	if ((al & 0xf) > 9 || lf_af(v)) {
		if (sub)
			c = old < 6;     /* the borrow of AL - 6 */
		al = (sub ? al - 6 : al + 6) & 0xff;
		f |= RF_AF;
	}
	if (old > 0x99 || cf) {
		al = (sub ? al - 0x60 : al + 0x60) & 0xff;
		c = true;
	} else if (!sub) {
		c = false;
	}
	v->gpr[0] = (v->gpr[0] & ~0xffULL) | al;
	flags_put(v, RF_SF | RF_ZF | RF_AF | RF_PF | RF_CF, f | flags_szp(al, 1) | (c ? RF_CF : 0));
	return X86_OK;
}

/* 37: AAA, 3F: AAS */
int op_aaa_aas(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t ax = v->gpr[0] & 0xffff;
	bool adj = (ax & 0xf) > 9 || lf_af(v);

	if (adj)
		ax = in->op == 0x37 ? ax + 0x106 : ax - 6 - 0x100;
	ax &= 0xff0f;
	v->gpr[0] = (v->gpr[0] & ~0xffffULL) | ax;
	flags_put(v, RF_AF | RF_CF, adj ? RF_AF | RF_CF : 0);
	return X86_OK;
}

/* D4 ib: AAM (#DE for a base of 0), D5 ib: AAD */
int op_aam_aad(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned base = (unsigned)in->imm & 0xff, al = v->gpr[0] & 0xff, ah = (v->gpr[0] >> 8) & 0xff;

	if (in->op == 0xd4) {
		if (base == 0)
			return x86_raise(v, EXC_DE, false, 0);
		ah = al / base;
		al %= base;
	} else {
		al = (al + ah * base) & 0xff;
		ah = 0;
	}
	v->gpr[0] = (v->gpr[0] & ~0xffffULL) | (uint64_t)ah << 8 | al;
	flags_put(v, RF_ARITH, flags_szp(al, 1));
	return X86_OK;
}

/* D6: SALC (AL = CF ? FFh : 0), outside 64-bit mode: on Intel's and AMD's
 * processors alike, though the SDM's opcode map leaves D6 unnamed. */
int op_salc(struct vcpu_soft *v, const struct x86_insn *in)
{
	v->gpr[0] = (v->gpr[0] & ~0xffULL) | (lf_cf(v) ? 0xff : 0);
	return X86_OK;
}
