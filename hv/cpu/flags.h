/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/flags.h - lazy arithmetic flags of the software vCPU.
 *
 * The last flag-setting operation, its operands, result and size are kept
 * (struct vcpu_soft lf_*); a flag is computed only when something reads it.
 * flags.c holds the out-of-line parts and the flag instructions.
 */
#ifndef HV_CPU_FLAGS_H
#define HV_CPU_FLAGS_H

#include "hv/cpu/x86.h"

static inline unsigned sign_bit(uint64_t x, unsigned size)
{
	return (unsigned)(x >> (size * 8 - 1)) & 1;
}

bool lf_cf(const struct vcpu_soft *v);
bool lf_of(const struct vcpu_soft *v);
bool cond_eval_slow(struct vcpu_soft *v, unsigned cc);

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

static inline void lf_set(struct vcpu_soft *v, enum lf_op op, unsigned size, uint64_t a, uint64_t b,
			  uint64_t res)
{
	v->lf_op = (uint8_t)op;
	v->lf_size = (uint8_t)size;
	/* Flags after a logic operation depend on the result alone. */
	if (op != LF_LOGIC) {
		v->lf_a = a;
		v->lf_b = b;
	}
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
	uint64_t f = v->lf_op == LF_NONE ? v->rflags : flags_get(v);
	v->rflags = (f & ~mask) | (bits & mask);
}

static inline uint64_t flags_szp(uint64_t res, unsigned size)
{
	res &= size_mask(size);
	return (res == 0 ? RF_ZF : 0) | (sign_bit(res, size) ? RF_SF : 0) |
	       (__builtin_parity((unsigned)(res & 0xff)) ? 0 : RF_PF);
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


#endif /* HV_CPU_FLAGS_H */
