/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/optab.c - the opcode table (optab.h): decode attributes and handler
 * of every opcode of the one-byte, 0F, 0F 38 and 0F 3A maps, after the SDM's
 * opcode maps (Vol. 2D Appendix A). An entry without a handler or selector
 * is never executed: the decoder marks it invalid (A_UD, or a ModRM form
 * decode.c rejects) and exec_select() gives op_invalid.
 */
#include "hv/cpu/optab.h"

#define H(a, f) { .attr = (a), .fn = (f) }
#define S(a, s) { .attr = (a), .sel = (s) }
#define D(a)    { .attr = (a) }

/* One row of the ALU block: r/m,r  r,r/m (byte and full size), AL,imm8, eAX,imm. */
#define ALU_ROW(b) \
	[(b) + 0 ... (b) + 3] = S(A_M, sel_alu), [(b) + 4] = S(A_IB, sel_alu), \
	[(b) + 5] = S(A_IZ, sel_alu)

const struct x86_op x86_optab[4][256] = {
	[OP_MAP0 >> 8] = {
		ALU_ROW(0x00), [0x06] = H(A_I64, op_push_sreg), [0x07] = H(A_I64, op_pop_sreg),
		ALU_ROW(0x08), [0x0e] = H(A_I64, op_push_sreg), /* 0F: escape */
		ALU_ROW(0x10), [0x16] = H(A_I64, op_push_sreg), [0x17] = H(A_I64, op_pop_sreg),
		ALU_ROW(0x18), [0x1e] = H(A_I64, op_push_sreg), [0x1f] = H(A_I64, op_pop_sreg),
		ALU_ROW(0x20), [0x26] = D(A_PFX), [0x27] = H(A_I64, op_daa_das),
		ALU_ROW(0x28), [0x2e] = D(A_PFX), [0x2f] = H(A_I64, op_daa_das),
		ALU_ROW(0x30), [0x36] = D(A_PFX), [0x37] = H(A_I64, op_aaa_aas),
		ALU_ROW(0x38), [0x3e] = D(A_PFX), [0x3f] = H(A_I64, op_aaa_aas),
		/* 40-4F: INC/DEC r; REX prefixes in 64-bit mode (the decoder takes them first) */
		[0x40 ... 0x4f] = H(0, op_incdec_reg),
		[0x50 ... 0x57] = S(A_D64, sel_push), [0x58 ... 0x5f] = S(A_D64, sel_pop),
		[0x60] = H(A_I64, op_pusha), [0x61] = H(A_I64, op_popa),
		[0x62] = D(A_M | A_I64 | A_UD),                               /* BOUND */
		[0x63] = H(A_M, op_movsxd),                                   /* ARPL outside 64-bit mode: #UD */
		[0x64 ... 0x67] = D(A_PFX),
		[0x68] = H(A_IZ | A_D64, op_push_imm), [0x69] = H(A_M | A_IZ, op_imul3),
		[0x6a] = H(A_IB | A_D64, op_push_imm), [0x6b] = H(A_M | A_IB, op_imul3),
		[0x6c ... 0x6f] = H(0, op_io),                                /* INS, OUTS */
		[0x70 ... 0x7f] = S(A_IB | A_F64, sel_jcc),
		[0x80] = S(A_M | A_IB, sel_grp1), [0x81] = S(A_M | A_IZ, sel_grp1),
		[0x82] = S(A_M | A_IB | A_I64, sel_grp1), [0x83] = S(A_M | A_IB, sel_grp1),
		[0x84 ... 0x85] = H(A_M, op_test),
		[0x86 ... 0x87] = H(A_M, op_xchg),
		[0x88] = H(A_M, op_mov_store), [0x89] = S(A_M, sel_mov),
		[0x8a] = H(A_M, op_mov_load), [0x8b] = S(A_M, sel_mov),
		[0x8c] = H(A_M, op_mov_from_sreg), [0x8d] = S(A_M, sel_lea),
		[0x8e] = H(A_M, op_mov_to_sreg), [0x8f] = H(A_M | A_D64, op_pop_rm),
		[0x90 ... 0x97] = H(0, op_xchg_ax),                           /* 90: NOP, PAUSE */
		[0x98] = H(0, op_cbw), [0x99] = H(0, op_cwd),
		[0x9a] = H(A_AP | A_I64, op_call_far), [0x9b] = H(0, op_fwait),
		[0x9c] = H(A_D64, op_pushf), [0x9d] = H(A_D64, op_popf),
		[0x9e] = H(0, op_sahf), [0x9f] = H(0, op_lahf),
		[0xa0 ... 0xa3] = H(A_MO, op_mov_moffs),
		[0xa4 ... 0xa7] = H(0, op_string),                            /* MOVS, CMPS */
		[0xa8] = H(A_IB, op_test_acc), [0xa9] = H(A_IZ, op_test_acc),
		[0xaa ... 0xaf] = H(0, op_string),                            /* STOS, LODS, SCAS */
		[0xb0 ... 0xb7] = H(A_IB, op_mov_imm8), [0xb8 ... 0xbf] = S(A_IV, sel_mov_imm),
		[0xc0] = H(A_M | A_IB, op_shift), [0xc1] = S(A_M | A_IB, sel_shift),
		[0xc2] = S(A_IW | A_F64, sel_ret), [0xc3] = S(A_F64, sel_ret),
		[0xc4 ... 0xc5] = H(A_M | A_I64, op_lxs),                      /* LES, LDS (VEX: decode.c) */
		[0xc6] = H(A_M | A_IB, op_mov_rm_imm), [0xc7] = H(A_M | A_IZ, op_mov_rm_imm),
		[0xc8] = H(A_IBW | A_D64, op_enter), [0xc9] = H(A_D64, op_leave),
		[0xca] = H(A_IW, op_ret_far), [0xcb] = H(0, op_ret_far),
		[0xcc] = H(0, op_int3), [0xcd] = H(A_IB, op_int), [0xce] = H(A_I64, op_into),
		[0xcf] = H(0, op_iret),
		[0xd0] = H(A_M, op_shift), [0xd1] = S(A_M, sel_shift), [0xd2 ... 0xd3] = H(A_M, op_shift),
		[0xd4 ... 0xd5] = H(A_IB | A_I64, op_aam_aad),
		[0xd6] = H(A_I64, op_salc), [0xd7] = H(0, op_xlat),
		[0xd8] = D(A_M | A_UD), [0xd9] = H(A_M, op_x87),               /* x87: control only */
		[0xda] = D(A_M | A_UD), [0xdb] = H(A_M, op_x87),
		[0xdc] = D(A_M | A_UD), [0xdd] = H(A_M, op_x87),
		[0xde] = D(A_M | A_UD), [0xdf] = H(A_M, op_x87),
		[0xe0 ... 0xe3] = H(A_IB | A_F64, op_loop),
		[0xe4 ... 0xe7] = H(A_IB, op_io),
		[0xe8] = S(A_IZ | A_F64, sel_call), [0xe9] = H(A_IZ | A_F64, op_jmp),
		[0xea] = H(A_AP | A_I64, op_jmp_far), [0xeb] = H(A_IB | A_F64, op_jmp),
		[0xec ... 0xef] = H(0, op_io),
		[0xf0] = D(A_PFX), [0xf1] = H(0, op_int1), [0xf2 ... 0xf3] = D(A_PFX),
		[0xf4] = H(0, op_hlt), [0xf5] = H(0, op_cmc),
		[0xf6 ... 0xf7] = S(A_M | A_GRP3, sel_grp3),
		[0xf8 ... 0xf9] = H(0, op_clc_stc), [0xfa ... 0xfb] = H(0, op_cli_sti),
		[0xfc ... 0xfd] = H(0, op_cld_std),
		[0xfe] = H(A_M, op_incdec), [0xff] = S(A_M, sel_grp5),
	},
	[OP_MAP0F >> 8] = {
		[0x00] = H(A_M, op_grp6), [0x01] = H(A_M, op_grp7),
		[0x02 ... 0x03] = D(A_M),                                     /* LAR, LSL: #UD */
		[0x04] = D(A_UD), [0x05] = H(0, op_syscall), [0x06] = H(0, op_clts),
		[0x07] = H(0, op_sysret), [0x08 ... 0x09] = H(0, op_invd),
		[0x0a ... 0x0c] = D(A_UD),                                    /* 0B: UD2 */
		[0x0d] = H(A_M, op_nop), [0x0e] = D(A_UD), [0x0f] = D(A_M | A_IB | A_UD),
		[0x10 ... 0x17] = S(A_M, sel_sse), [0x18 ... 0x1f] = H(A_M, op_nop),
		[0x20] = H(A_M | A_F64, op_mov_from_cr), [0x21] = H(A_M | A_F64, op_mov_dr),
		[0x22] = H(A_M | A_F64, op_mov_to_cr), [0x23] = H(A_M | A_F64, op_mov_dr),
		[0x24 ... 0x27] = D(A_UD), [0x28 ... 0x2f] = S(A_M, sel_sse),
		[0x30] = H(0, op_wrmsr), [0x31] = H(0, op_rdtsc), [0x32] = H(0, op_rdmsr),
		[0x33] = H(0, op_rdpmc),
		[0x34 ... 0x37] = D(A_UD), /* 38: escape */ [0x39] = D(A_UD), /* 3A: escape */
		[0x3b ... 0x3f] = D(A_UD),
		[0x40 ... 0x4f] = S(A_M, sel_cmov),
		/* MMX, SSE, SSE2 by mandatory prefix (sse.c); the SSE3/VMX rows are #UD */
		[0x50 ... 0x6f] = S(A_M, sel_sse), [0x70 ... 0x73] = S(A_M | A_IB, sel_sse),
		[0x74 ... 0x76] = S(A_M, sel_sse), [0x77] = S(0, sel_sse), [0x78 ... 0x7d] = D(A_M | A_UD),
		[0x7e ... 0x7f] = S(A_M, sel_sse),
		[0x80 ... 0x8f] = S(A_IZ | A_F64, sel_jcc), [0x90 ... 0x9f] = H(A_M, op_setcc),
		[0xa0] = H(A_D64, op_push_sreg), [0xa1] = H(A_D64, op_pop_sreg), [0xa2] = H(0, op_cpuid),
		[0xa3] = H(A_M, op_bt), [0xa4] = H(A_M | A_IB, op_shd), [0xa5] = H(A_M, op_shd),
		[0xa6 ... 0xa7] = D(A_UD),
		[0xa8] = H(A_D64, op_push_sreg), [0xa9] = H(A_D64, op_pop_sreg), [0xaa] = D(A_UD),
		[0xab] = H(A_M, op_bt), [0xac] = H(A_M | A_IB, op_shd), [0xad] = H(A_M, op_shd),
		[0xae] = S(A_M, sel_grp15), [0xaf] = S(A_M, sel_imul),
		[0xb0 ... 0xb1] = H(A_M, op_cmpxchg), [0xb2] = H(A_M, op_lxs), [0xb3] = H(A_M, op_bt),
		[0xb4 ... 0xb5] = H(A_M, op_lxs), [0xb6 ... 0xb7] = H(A_M, op_movx),
		[0xb8] = H(A_M, op_bitscan), [0xb9] = D(A_M | A_UD),          /* B8: POPCNT, B9: UD1 */
		[0xba] = H(A_M | A_IB, op_bt_imm), [0xbb] = H(A_M, op_bt),
		[0xbc ... 0xbd] = H(A_M, op_bitscan), [0xbe ... 0xbf] = H(A_M, op_movx),
		[0xc0 ... 0xc1] = H(A_M, op_xadd),
		[0xc2] = S(A_M | A_IB, sel_sse), [0xc3] = S(A_M, sel_sse), [0xc4 ... 0xc6] = S(A_M | A_IB, sel_sse),
		[0xc7] = H(A_M, op_cmpxchg8b), [0xc8 ... 0xcf] = H(0, op_bswap),
		[0xd0] = D(A_M | A_UD), [0xd1 ... 0xef] = S(A_M, sel_sse), [0xf0] = D(A_M | A_UD),
		[0xf1 ... 0xfe] = S(A_M, sel_sse), [0xff] = D(A_M | A_UD),
	},
	/* Only INVPCID (66 0F 38 82 /r) is executed from the three-byte maps (decode.c checks the 66). */
	[OP_MAP0F38 >> 8] = {
		[0x00 ... 0x81] = D(A_M | A_UD), [0x82] = H(A_M, op_invpcid), [0x83 ... 0xff] = D(A_M | A_UD),
	},
	[OP_MAP0F3A >> 8] = {
		[0x00 ... 0xff] = D(A_M | A_IB | A_UD),
	},
};

int op_invalid(struct vcpu_soft *v, const struct x86_insn *in)
{
	if (in->op >= 0xd8 && in->op <= 0xdf && !in->vex && (v->cr0 & (CR0_EM | CR0_TS)))
		return x86_raise(v, EXC_NM, false, 0);
	return x86_ud(v);
}

x86_exec_fn exec_select(const struct x86_insn *in)
{
	const struct x86_op *o;

	if (!in->valid)
		return op_invalid;
	if (in->vex)
		return op_bmi1;   /* the only VEX encodings the decoder accepts */
	o = &x86_optab[in->op >> 8][in->op & 0xff];
	if (o->sel)
		return o->sel(in);
	return o->fn ? o->fn : op_invalid;
}

const struct blk_op *thread_stop(struct vcpu_soft *v, const struct blk_op *op)
{
	(void)v;
	return op;
}

const struct blk_op *thread_call(struct vcpu_soft *v, const struct blk_op *op)
{
	op->fn(v, &op->insn);
	THREAD_NEXT(v, op);
}

x86_thread_fn thread_find(const struct thread_pair *pairs, size_t n, x86_exec_fn fn)
{
	for (size_t i = 0; i < n; i++)
		if (pairs[i].fn == fn)
			return pairs[i].tfn;
	return NULL;
}

x86_thread_fn exec_thread(x86_exec_fn fn, const struct x86_insn *in, unsigned next_off,
			  bool *declines)
{
	x86_thread_fn t;

	*declines = false;
	if (in->lock || in->vex)
		return NULL;
	if ((t = alu_thread(fn, in, declines)) != NULL)
		return t;
	if ((t = move_thread(fn, in, declines)) != NULL)
		return t;
	t = branch_thread(fn, in, next_off, declines);
	if (t == NULL)
		*declines = false;
	return t;
}
