/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/optab.h - the opcode table of the software vCPU.
 *
 * One const table, indexed by opcode map and opcode byte, holds what the
 * decoder needs to know about each opcode (what follows it, how the mode
 * changes its operand size, whether it is executed at all) and the handler
 * that executes it. For the opcodes whose frequent forms have handlers of
 * their own (register-register ALU, shifts by a constant, MOV between
 * registers, group 5), a selector picks the handler from ModRM and the
 * operand size; either way the choice is made once per decoded instruction.
 * Handlers live with their concern: flags.c, alu.c, move.c, string.c,
 * branch.c, seg.c, event.c, system.c, cpuid.c.
 */
#ifndef HV_CPU_OPTAB_H
#define HV_CPU_OPTAB_H

#include "hv/cpu/x86.h"

/* Decode attributes (SDM Vol. 2D Appendix A: what follows the opcode). */
#define A_M    0x0001  /* ModRM follows */
#define A_IB   0x0002  /* imm8 */
#define A_IW   0x0004  /* imm16 */
#define A_IZ   0x0008  /* imm16 or imm32 (operand size), sign-extended to 64 */
#define A_IV   0x0010  /* imm16/32/64 (operand size): MOV r, imm */
#define A_AP   0x0020  /* far pointer: offset (16/32) + selector */
#define A_MO   0x0040  /* moffs: address-size offset */
#define A_I64  0x0080  /* invalid in 64-bit mode */
#define A_D64  0x0100  /* default operand size 64 in 64-bit mode */
#define A_F64  0x0200  /* operand size forced to 64 in 64-bit mode (near branches) */
#define A_UD   0x0400  /* decoded for length, not executed: #UD */
#define A_IBW  0x0800  /* ENTER: imm16 + imm8 */
#define A_GRP3 0x1000  /* F6/F7: immediate only for /0 and /1 */
#define A_PFX  0x8000  /* a legacy prefix */

typedef x86_exec_fn (*x86_select_fn)(const struct x86_insn *in);

/* Threaded code of pure handlers without a wrapper of their own: calls fn. */
const struct blk_op *thread_call(struct vcpu_soft *v, const struct blk_op *op);
/* The wrapper of fn in pairs[0..n), or NULL. */
x86_thread_fn thread_find(const struct thread_pair *pairs, size_t n, x86_exec_fn fn);

struct x86_op {
	uint16_t attr;      /* A_* */
	x86_exec_fn fn;     /* the handler, when one serves every form */
	x86_select_fn sel;  /* or: picks the handler for a decoded instruction */
};

/* By map (OP_MAP0 >> 8 .. OP_MAP0F3A >> 8) and opcode byte. */
extern const struct x86_op x86_optab[4][256];

/* Undefined or unsupported encodings (#UD; x87 raises #NM when CR0.EM or CR0.TS). */
int op_invalid(struct vcpu_soft *v, const struct x86_insn *in);

/* flags.c */
int op_pushf(struct vcpu_soft *v, const struct x86_insn *in);
int op_popf(struct vcpu_soft *v, const struct x86_insn *in);
int op_sahf(struct vcpu_soft *v, const struct x86_insn *in);
int op_lahf(struct vcpu_soft *v, const struct x86_insn *in);
int op_cmc(struct vcpu_soft *v, const struct x86_insn *in);
int op_clc_stc(struct vcpu_soft *v, const struct x86_insn *in);
int op_cld_std(struct vcpu_soft *v, const struct x86_insn *in);
/* alu.c */
x86_exec_fn sel_alu(const struct x86_insn *in);
x86_exec_fn sel_grp1(const struct x86_insn *in);
int op_test(struct vcpu_soft *v, const struct x86_insn *in);
int op_test_acc(struct vcpu_soft *v, const struct x86_insn *in);
int op_incdec_reg(struct vcpu_soft *v, const struct x86_insn *in);
int op_incdec(struct vcpu_soft *v, const struct x86_insn *in);
int op_grp3(struct vcpu_soft *v, const struct x86_insn *in);
x86_exec_fn sel_grp3(const struct x86_insn *in);
int op_bt(struct vcpu_soft *v, const struct x86_insn *in);
int op_bt_imm(struct vcpu_soft *v, const struct x86_insn *in);
int op_shift(struct vcpu_soft *v, const struct x86_insn *in);
x86_exec_fn sel_shift(const struct x86_insn *in);
int op_shd(struct vcpu_soft *v, const struct x86_insn *in);
int op_imul(struct vcpu_soft *v, const struct x86_insn *in);
x86_exec_fn sel_imul(const struct x86_insn *in);
x86_thread_fn alu_thread(x86_exec_fn fn, const struct x86_insn *in, bool *declines);
int op_imul3(struct vcpu_soft *v, const struct x86_insn *in);
int op_bitscan(struct vcpu_soft *v, const struct x86_insn *in);
int op_cmpxchg(struct vcpu_soft *v, const struct x86_insn *in);
int op_cmpxchg8b(struct vcpu_soft *v, const struct x86_insn *in);
int op_xadd(struct vcpu_soft *v, const struct x86_insn *in);
int op_bmi1(struct vcpu_soft *v, const struct x86_insn *in);
/* move.c */
int op_mov_store(struct vcpu_soft *v, const struct x86_insn *in);
int op_mov_load(struct vcpu_soft *v, const struct x86_insn *in);
x86_exec_fn sel_mov(const struct x86_insn *in);
int op_mov_moffs(struct vcpu_soft *v, const struct x86_insn *in);
int op_mov_imm8(struct vcpu_soft *v, const struct x86_insn *in);
int op_mov_imm(struct vcpu_soft *v, const struct x86_insn *in);
x86_exec_fn sel_mov_imm(const struct x86_insn *in);
int op_mov_rm_imm(struct vcpu_soft *v, const struct x86_insn *in);
int op_movx(struct vcpu_soft *v, const struct x86_insn *in);
int op_movsxd(struct vcpu_soft *v, const struct x86_insn *in);
int op_cmov(struct vcpu_soft *v, const struct x86_insn *in);
x86_exec_fn sel_cmov(const struct x86_insn *in);
int op_setcc(struct vcpu_soft *v, const struct x86_insn *in);
int op_lea(struct vcpu_soft *v, const struct x86_insn *in);
x86_exec_fn sel_lea(const struct x86_insn *in);
x86_thread_fn move_thread(x86_exec_fn fn, const struct x86_insn *in, bool *declines);
int op_xchg(struct vcpu_soft *v, const struct x86_insn *in);
int op_xchg_ax(struct vcpu_soft *v, const struct x86_insn *in);
int op_bswap(struct vcpu_soft *v, const struct x86_insn *in);
int op_cbw(struct vcpu_soft *v, const struct x86_insn *in);
int op_cwd(struct vcpu_soft *v, const struct x86_insn *in);
int op_xlat(struct vcpu_soft *v, const struct x86_insn *in);
int op_nop(struct vcpu_soft *v, const struct x86_insn *in);
int op_push(struct vcpu_soft *v, const struct x86_insn *in);
int op_pop(struct vcpu_soft *v, const struct x86_insn *in);
x86_exec_fn sel_push(const struct x86_insn *in);
x86_exec_fn sel_pop(const struct x86_insn *in);
int op_push_imm(struct vcpu_soft *v, const struct x86_insn *in);
int op_push_rm(struct vcpu_soft *v, const struct x86_insn *in);
int op_pop_rm(struct vcpu_soft *v, const struct x86_insn *in);
int op_pusha(struct vcpu_soft *v, const struct x86_insn *in);
int op_popa(struct vcpu_soft *v, const struct x86_insn *in);
/* string.c */
int op_string(struct vcpu_soft *v, const struct x86_insn *in);
/* branch.c */
x86_exec_fn sel_jcc(const struct x86_insn *in);
int op_jmp(struct vcpu_soft *v, const struct x86_insn *in);
int op_call(struct vcpu_soft *v, const struct x86_insn *in);
int op_ret(struct vcpu_soft *v, const struct x86_insn *in);
x86_exec_fn sel_call(const struct x86_insn *in);
x86_exec_fn sel_ret(const struct x86_insn *in);
x86_exec_fn sel_grp5(const struct x86_insn *in);
int op_call_far(struct vcpu_soft *v, const struct x86_insn *in);
int op_jmp_far(struct vcpu_soft *v, const struct x86_insn *in);
int op_ret_far(struct vcpu_soft *v, const struct x86_insn *in);
int op_iret(struct vcpu_soft *v, const struct x86_insn *in);
int op_loop(struct vcpu_soft *v, const struct x86_insn *in);
int op_enter(struct vcpu_soft *v, const struct x86_insn *in);
int op_leave(struct vcpu_soft *v, const struct x86_insn *in);
/* seg.c */
int op_push_sreg(struct vcpu_soft *v, const struct x86_insn *in);
int op_pop_sreg(struct vcpu_soft *v, const struct x86_insn *in);
int op_mov_from_sreg(struct vcpu_soft *v, const struct x86_insn *in);
int op_mov_to_sreg(struct vcpu_soft *v, const struct x86_insn *in);
int op_lxs(struct vcpu_soft *v, const struct x86_insn *in);
int op_grp6(struct vcpu_soft *v, const struct x86_insn *in);
/* event.c */
int op_int3(struct vcpu_soft *v, const struct x86_insn *in);
int op_int(struct vcpu_soft *v, const struct x86_insn *in);
int op_into(struct vcpu_soft *v, const struct x86_insn *in);
int op_int1(struct vcpu_soft *v, const struct x86_insn *in);
/* system.c */
int op_io(struct vcpu_soft *v, const struct x86_insn *in);
int op_hlt(struct vcpu_soft *v, const struct x86_insn *in);
int op_cli_sti(struct vcpu_soft *v, const struct x86_insn *in);
int op_fwait(struct vcpu_soft *v, const struct x86_insn *in);
int op_grp7(struct vcpu_soft *v, const struct x86_insn *in);
int op_syscall(struct vcpu_soft *v, const struct x86_insn *in);
int op_sysret(struct vcpu_soft *v, const struct x86_insn *in);
int op_clts(struct vcpu_soft *v, const struct x86_insn *in);
int op_invd(struct vcpu_soft *v, const struct x86_insn *in);
int op_mov_from_cr(struct vcpu_soft *v, const struct x86_insn *in);
int op_mov_to_cr(struct vcpu_soft *v, const struct x86_insn *in);
int op_mov_dr(struct vcpu_soft *v, const struct x86_insn *in);
int op_wrmsr(struct vcpu_soft *v, const struct x86_insn *in);
int op_rdtsc(struct vcpu_soft *v, const struct x86_insn *in);
int op_rdmsr(struct vcpu_soft *v, const struct x86_insn *in);
int op_fence(struct vcpu_soft *v, const struct x86_insn *in);
int op_rdpmc(struct vcpu_soft *v, const struct x86_insn *in);
int op_x87(struct vcpu_soft *v, const struct x86_insn *in);
int op_daa_das(struct vcpu_soft *v, const struct x86_insn *in);
int op_aaa_aas(struct vcpu_soft *v, const struct x86_insn *in);
int op_aam_aad(struct vcpu_soft *v, const struct x86_insn *in);
int op_salc(struct vcpu_soft *v, const struct x86_insn *in);
int op_invpcid(struct vcpu_soft *v, const struct x86_insn *in);
/* cpuid.c */
int op_cpuid(struct vcpu_soft *v, const struct x86_insn *in);

#endif /* HV_CPU_OPTAB_H */
