/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/flags.c - lazy arithmetic flags (flags.h) and the instructions that
 * read or write RFLAGS as a whole: PUSHF, POPF, SAHF, LAHF, CLC, STC, CMC,
 * CLD, STD.
 */
#include "hv/cpu/flags.h"
#include "hv/cpu/mem.h"
#include "hv/cpu/optab.h"

bool lf_cf(const struct vcpu_soft *v)
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

bool lf_of(const struct vcpu_soft *v)
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

bool cond_eval_slow(struct vcpu_soft *v, unsigned cc)
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

bool cond_eval(struct vcpu_soft *v, unsigned cc)
{
	return cond_eval_i(v, cc);
}

/* ------------------------------------------------------------------------ */
/* Flag instructions                                                        */
/* ------------------------------------------------------------------------ */

/* PUSHF: VM and RF are cleared in the image. */
int op_pushf(struct vcpu_soft *v, const struct x86_insn *in)
{
	return stack_push(v, in->osz, flags_get(v) & ~(RF_VM | RF_RF) & size_mask(in->osz));
}

/* POPF (SDM Vol. 2B POPF: what each privilege may change). */
int op_popf(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t a;
	int st;
	if ((st = stack_pop(v, in->osz, &a)))
		return st;
	uint64_t f = flags_get(v), keep = RF_VM | RF_VIP | RF_VIF;
	unsigned iopl = (unsigned)((f & RF_IOPL) >> 12);
	if (v->cpl > 0)
		keep |= RF_IOPL;
	if (v->cpl > iopl)
		keep |= RF_IF;
	if (in->osz == 2)
		a = (f & ~0xffffULL) | (a & 0xffff);
	a = (a & ~keep & ~RF_RF) | (f & keep);
	flags_set(v, a);
	cpu_update_mode(v);
	return X86_OK;
}

int op_sahf(struct vcpu_soft *v, const struct x86_insn *in)
{
	flags_put(v, RF_SF | RF_ZF | RF_AF | RF_PF | RF_CF, (v->gpr[0] >> 8) & 0xff);
	return X86_OK;
}

int op_lahf(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t a = (flags_get(v) & 0xd5) | RF_FIXED;
	v->gpr[0] = (v->gpr[0] & ~0xff00ULL) | (a << 8);
	return X86_OK;
}

int op_cmc(struct vcpu_soft *v, const struct x86_insn *in)
{
	flags_put(v, RF_CF, lf_cf(v) ? 0 : RF_CF);
	return X86_OK;
}

/* F8 CLC, F9 STC */
int op_clc_stc(struct vcpu_soft *v, const struct x86_insn *in)
{
	flags_put(v, RF_CF, in->op == 0xf9 ? RF_CF : 0);
	return X86_OK;
}

/* FC CLD, FD STD */
int op_cld_std(struct vcpu_soft *v, const struct x86_insn *in)
{
	if (in->op == 0xfd)
		v->rflags |= RF_DF;
	else
		v->rflags &= ~RF_DF;
	return X86_OK;
}
