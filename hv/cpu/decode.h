/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/decode.h - x86 instruction decoder of the software vCPU.
 *
 * The decoder turns instruction bytes into a struct x86_insn: prefixes,
 * opcode, ModRM/SIB operands, displacement and immediates, the operand and
 * address sizes that apply, and the length (SDM Vol. 2A ch. 2). It knows the
 * length of every opcode of the one-, two- and three-byte maps (including
 * SSE, x87, VEX and EVEX encodings, which this vCPU does not execute apart
 * from the BMI1 group) so that an unsupported instruction raises #UD with the
 * right RIP and a length checker can compare it with another disassembler.
 */
#ifndef HV_CPU_DECODE_H
#define HV_CPU_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Opcode maps, as the high byte of x86_insn.op. */
#define OP_MAP0    0x000   /* one-byte opcodes */
#define OP_MAP0F   0x100   /* 0F xx */
#define OP_MAP0F38 0x200   /* 0F 38 xx */
#define OP_MAP0F3A 0x300   /* 0F 3A xx */

#define X86_NOREG 0xff

struct x86_insn {
	uint16_t op;        /* map | opcode byte */
	uint8_t len;        /* 1..15 */
	uint8_t osz;        /* operand size in bytes: 2, 4 or 8 */
	uint8_t asz;        /* address size in bytes: 2, 4 or 8 */
	uint8_t rep;        /* last of F2/F3: 0xf2, 0xf3 or 0 */
	uint8_t pfx66;      /* 66 present (mandatory-prefix checks) */
	uint8_t lock;       /* F0 present */
	uint8_t seg;        /* segment of the memory operand: override or default (SEG_*) */
	uint8_t seg_ovr;    /* an override prefix was given */
	uint8_t rex;        /* REX byte, 0 if none */
	uint8_t has_modrm;
	uint8_t mod, reg, rm;     /* reg and rm include REX.R / REX.B */
	uint8_t base, index;      /* X86_NOREG when absent */
	uint8_t scale;            /* shift count 0..3 */
	uint8_t rip_rel;
	uint8_t valid;            /* false: undefined or unsupported, raises #UD */
	uint8_t vex;              /* VEX-encoded (op is map | opcode) */
	uint8_t vvvv;             /* VEX.vvvv, the extra register operand */
	int64_t disp;
	uint64_t imm;             /* sign-extended per the encoding where the SDM says so */
	uint64_t imm2;            /* ENTER: nesting level; far pointers: selector */
};

/*
 * Decode one instruction at `code` (`avail` bytes readable) for a code
 * segment of `mode_bits` (16, 32, 64). Returns the length (1..15), or -1 if
 * more than `avail` bytes would be needed, or -2 if the instruction is longer
 * than 15 bytes (#GP(0) on hardware).
 */
int x86_decode(const uint8_t *code, size_t avail, unsigned mode_bits, struct x86_insn *out);

/*
 * The length the decoder assigns to the instruction at `code` (1..15), or -1
 * if it needs more than `avail` bytes or exceeds 15. *valid = false when the
 * opcode is undefined or unsupported by this vCPU (executing it raises #UD).
 */
int x86_insn_length(const uint8_t *code, size_t avail, unsigned mode_bits, bool *valid);

#endif /* HV_CPU_DECODE_H */
