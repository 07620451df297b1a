/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/sse.h - SSE and SSE2 state of the software vCPU (sse.c).
 *
 * The XMM registers, MXCSR and the x87 fields FXSAVE and FXRSTOR carry
 * (SDM Vol. 1 ch. 9-11, Vol. 2A FXSAVE). The vCPU has no x87 arithmetic:
 * the x87 registers hold the MMX registers (SDM Vol. 1 9.5) and what
 * FXRSTOR loaded, and FXSAVE gives them back. docs/softcpu.md, "SSE and SSE2", says which
 * instructions exist and how floating point is made exact.
 */
#ifndef HV_CPU_SSE_H
#define HV_CPU_SSE_H

#include <stdbool.h>
#include <stdint.h>

struct vcpu_soft;
struct x86_insn;

/* MXCSR (SDM Vol. 1 10.2.3, Figure 10-3). */
#define MXCSR_IE    0x0001u   /* invalid operation */
#define MXCSR_DE    0x0002u   /* denormal operand */
#define MXCSR_ZE    0x0004u   /* divide by zero */
#define MXCSR_OE    0x0008u   /* overflow */
#define MXCSR_UE    0x0010u   /* underflow */
#define MXCSR_PE    0x0020u   /* precision */
#define MXCSR_FLAGS 0x003fu
#define MXCSR_DAZ   0x0040u   /* denormals are zeros */
#define MXCSR_MASKS 0x1f80u   /* IM DM ZM OM UM PM: an exception's mask is its flag << 7 */
#define MXCSR_RC    0x6000u   /* rounding control */
#define MXCSR_FZ    0x8000u   /* flush to zero */
#define MXCSR_RESET 0x1f80u   /* after RESET: every exception masked, round to nearest */
/* The bits LDMXCSR and FXRSTOR may set (FXSAVE's MXCSR_MASK): all 16 with DAZ. */
#define MXCSR_WRITABLE 0xffffu

/* CR4.OSXMMEXCPT: unmasked SIMD floating-point exceptions raise #XM, not #UD. */
#define CR4_OSXMMEXCPT (1ULL << 10)

/* SIMD floating-point exception (SDM Vol. 3A 6.15, interrupt 19). */
#define EXC_XM 19

union xmm {
	uint8_t b[16];
	int8_t sb[16];
	uint16_t w[8];
	int16_t sw[8];
	uint32_t d[4];
	int32_t sd[4];
	uint64_t q[2];
	int64_t sq[2];
};

struct sse_state {
	union xmm xmm[16];
	uint32_t mxcsr;
	/* x87 fields of the FXSAVE image (the control and status words are
	 * struct vcpu_soft's fcw and fsw) */
	uint8_t ftw;              /* abridged tag word: a bit per register, 1 = valid */
	uint16_t fop;             /* last x87 opcode, 11 bits */
	uint64_t fip, fdp;        /* last x87 instruction and operand pointers */
	uint16_t fcs, fds;
	uint8_t st[8][10];        /* x87 physical registers R0-R7 (80-bit; ST(i) is
				     R((TOS + i) mod 8)); MMi is the low 64 bits of Ri */
};

/* RESET state (SDM Vol. 3A Table 10-1): XMM registers 0, MXCSR 1F80H; x87
 * registers +0.0 with tag word 5555H (abridged FFH), pointers and opcode 0. */
void sse_reset(struct vcpu_soft *v);
/* FNINIT's part of the FXSAVE image: every tag empty (abridged 0), the
 * x87 opcode and pointers 0 (SDM Vol. 2A FINIT). */
void sse_fninit(struct vcpu_soft *v);

/* Does the vCPU execute this 0F-map encoding as SSE/SSE2 (mandatory prefix,
 * register or memory form)? decode.c asks for the opcodes optab.c sends to
 * sel_sse. */
bool sse_supported(const struct x86_insn *in);

typedef int (*sse_exec_fn)(struct vcpu_soft *v, const struct x86_insn *in);
/* The handler of an SSE/SSE2 opcode (optab.c), and of group 15 (0F AE:
 * FXSAVE, FXRSTOR, LDMXCSR, STMXCSR, the fences, CLFLUSH). */
sse_exec_fn sel_sse(const struct x86_insn *in);
sse_exec_fn sel_grp15(const struct x86_insn *in);

#endif /* HV_CPU_SSE_H */
