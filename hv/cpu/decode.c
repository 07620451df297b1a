/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/decode.c - instruction decoding (SDM Vol. 2A ch. 2, opcode maps in
 * Vol. 2D Appendix A).
 *
 * Each opcode has a small attribute word in the opcode table (optab.c)
 * saying what follows it (ModRM, immediate kind) and how mode affects it.
 * Lengths are decided here for every encoding, executed or not; `valid` says
 * whether the vCPU executes it.
 */
#include <string.h>

#include "hv/cpu/decode.h"
#include "hv/cpu/optab.h"

/* Default segment of a memory operand: SS when the base is rSP or rBP (SDM 3.7.4). */
static void decode_modrm32(const uint8_t *p, size_t avail, size_t *pos, unsigned mode,
			   struct x86_insn *in, bool *more)
{
	unsigned mod = in->mod, rm = p[*pos - 1] & 7;
	in->base = X86_NOREG;
	in->index = X86_NOREG;
	in->seg = SEG_DS;
	if (rm == 4) {
		if (*pos >= avail) { *more = true; return; }
		uint8_t sib = p[(*pos)++];
		unsigned base = sib & 7, index = ((sib >> 3) & 7) | ((in->rex & 2) << 2);
		in->scale = sib >> 6;
		if (index != 4)
			in->index = (uint8_t)index;
		if (base == 5 && mod == 0) {
			in->disp = 4; /* marker: disp32 follows, no base */
		} else {
			in->base = (uint8_t)(base | ((in->rex & 1) << 3));
		}
	} else if (rm == 5 && mod == 0) {
		in->disp = 4;
		if (mode == 64)
			in->rip_rel = 1;
	} else {
		in->base = (uint8_t)(rm | ((in->rex & 1) << 3));
	}
	if ((in->base & 7) == 4 || ((in->base & 7) == 5 && in->base != X86_NOREG))
		in->seg = SEG_SS;
	unsigned dsize = mod == 1 ? 1 : mod == 2 ? 4 : (in->disp == 4 ? 4 : 0);
	if (*pos + dsize > avail) { *more = true; return; }
	int64_t d = 0;
	if (dsize == 1)
		d = (int8_t)p[*pos];
	else if (dsize == 4) {
		int32_t t;
		memcpy(&t, p + *pos, 4);
		d = t;
	}
	in->disp = d;
	*pos += dsize;
}

static void decode_modrm16(const uint8_t *p, size_t avail, size_t *pos, struct x86_insn *in,
			   bool *more)
{
	static const uint8_t b16[8] = { 3, 3, 5, 5, 6, 7, 5, 3 };        /* bx bx bp bp si di bp bx */
	static const uint8_t i16[8] = { 6, 7, 6, 7, X86_NOREG, X86_NOREG, X86_NOREG, X86_NOREG };
	unsigned mod = in->mod, rm = p[*pos - 1] & 7;
	unsigned dsize = mod == 1 ? 1 : mod == 2 ? 2 : 0;
	in->base = b16[rm];
	in->index = i16[rm];
	in->scale = 0;
	if (rm == 4) { in->base = 6; in->index = X86_NOREG; }
	if (rm == 5) { in->base = 7; in->index = X86_NOREG; }
	if (mod == 0 && rm == 6) {
		in->base = X86_NOREG;
		dsize = 2;
	}
	in->seg = (in->base == 5) ? SEG_SS : SEG_DS;
	if (*pos + dsize > avail) { *more = true; return; }
	if (dsize == 1)
		in->disp = (int8_t)p[*pos];
	else if (dsize == 2)
		in->disp = (int16_t)(p[*pos] | (p[*pos + 1] << 8));
	else
		in->disp = 0;
	*pos += dsize;
}

/* Is a LOCK prefix allowed here (SDM Vol. 2A, LOCK: memory-destination RMW forms only)? */
static bool lock_ok(const struct x86_insn *in)
{
	unsigned r = in->reg & 7;
	if (in->mod == 3)
		return false;
	switch (in->op) {
	case 0x00: case 0x01: case 0x08: case 0x09: case 0x10: case 0x11: case 0x18: case 0x19:
	case 0x20: case 0x21: case 0x28: case 0x29: case 0x30: case 0x31: case 0x86: case 0x87:
	case OP_MAP0F | 0xab: case OP_MAP0F | 0xb3: case OP_MAP0F | 0xbb:
	case OP_MAP0F | 0xb0: case OP_MAP0F | 0xb1: case OP_MAP0F | 0xc0: case OP_MAP0F | 0xc1:
		return true;
	case 0x80: case 0x81: case 0x82: case 0x83:
		return r != 7;
	case 0xf6: case 0xf7:
		return r == 2 || r == 3;
	case 0xfe: case 0xff:
		return r < 2;
	case OP_MAP0F | 0xba:
		return r >= 5;
	case OP_MAP0F | 0xc7:
		return r == 1;
	default:
		return false;
	}
}

/*
 * Encodings whose validity depends on ModRM or prefixes. Returns false for
 * forms this vCPU does not execute (they raise #UD).
 */
static bool insn_supported(const struct x86_insn *in, unsigned mode)
{
	unsigned r = in->reg & 7, rm = in->rm & 7;
	bool mem = in->mod != 3;

	if (in->lock && !lock_ok(in))
		return false;
	/* SSE/SSE2: the mandatory prefix and the operand kind choose the form. */
	if ((in->op & 0xff00) == OP_MAP0F && x86_optab[OP_MAP0F >> 8][in->op & 0xff].sel == sel_sse)
		return sse_supported(in);
	switch (in->op) {
	case 0x8f: case 0xc6: case 0xc7:
		return r == 0;
	case 0xfe:
		return r < 2;
	case 0xff:
		return r != 7 && !((r == 3 || r == 5) && !mem);
	case 0x8c:
		return r < 6;
	case 0x8e:
		return r < 6 && r != SEG_CS;
	case 0x8d:
		return mem;
	case OP_MAP0F | 0x00:
		return r < 4;
	case OP_MAP0F | 0x01:
		if (mem)
			return r != 5;
		if (r == 0)
			return rm == 1;                        /* VMCALL */
		if (r == 1)
			return rm == 2 || rm == 3;             /* CLAC, STAC */
		if (r == 4 || r == 6)
			return true;                           /* SMSW, LMSW */
		if (r == 5)                                    /* RDPKRU, WRPKRU */
			return (rm == 6 || rm == 7) && !in->rep && !in->pfx66;
		if (r == 7)
			return (rm == 0 && mode == 64) || rm == 1; /* SWAPGS, RDTSCP */
		return false;
	case OP_MAP0F | 0x02: case OP_MAP0F | 0x03:
		return false;                                  /* LAR, LSL */
	case OP_MAP0F | 0x05:
		return true;                                   /* SYSCALL: op_syscall checks the mode */
	case OP_MAP0F | 0x07:
		return mode == 64;                             /* SYSRET: 64-bit only here */
	case OP_MAP0F | 0x0d:
		return mem;
	case OP_MAP0F | 0x20: case OP_MAP0F | 0x22:
		return in->reg == 0 || in->reg == 2 || in->reg == 3 || in->reg == 4 || in->reg == 8;
	case OP_MAP0F | 0x21: case OP_MAP0F | 0x23:
		return in->reg < 8;
	case 0xc4: case 0xc5:
		return mem;                                    /* LES, LDS (mod 11: VEX) */
	case 0xd9:
		return mem && (r == 5 || r == 7);              /* FLDCW, FNSTCW */
	case 0xdb:
		return !mem && r == 4 && (rm == 2 || rm == 3); /* FNCLEX, FNINIT */
	case 0xdd:
		return mem && r == 7;                          /* FNSTSW m16 */
	case 0xdf:
		return !mem && r == 4 && rm == 0;              /* FNSTSW AX */
	case OP_MAP0F | 0xae:
		if (mem)         /* FXSAVE, FXRSTOR, LDMXCSR, STMXCSR; CLFLUSH(OPT), CLWB */
			return !in->rep && (r == 7 || (r == 6 && in->pfx66) || (r <= 3 && !in->pfx66));
		return r >= 5;                                 /* LFENCE, MFENCE, SFENCE */
	case OP_MAP0F | 0xb2: case OP_MAP0F | 0xb4: case OP_MAP0F | 0xb5:
		return mem;
	case OP_MAP0F | 0xb8:
		return in->rep == 0xf3;                        /* POPCNT */
	case OP_MAP0F | 0xba:
		return r >= 4;
	case OP_MAP0F | 0xc7:
		return mem && r == 1;                          /* CMPXCHG8B/16B */
	case OP_MAP0F38 | 0x82:
		return mem && mode == 64;                      /* INVPCID */
	default:
		return true;
	}
}

static uint64_t read_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/*
 * VEX and EVEX encodings (SDM Vol. 2A 2.3, 2.7). Only the BMI1 group is
 * executed (ANDN, BEXTR, BLSR, BLSMSK, BLSI: VEX.LZ.0F38, no SIMD prefix);
 * everything else is decoded for its length and raises #UD (no AVX).
 */
static int decode_vex(const uint8_t *p, size_t avail, size_t pos, unsigned mode, struct x86_insn *in)
{
	unsigned map, opc, pp, l, w = 0, r, x = 1, b = 1, vvvv;
	uint8_t b0 = p[pos];
	size_t need = b0 == 0xc5 ? 2 : b0 == 0xc4 ? 3 : 4;
	if (pos + need + 1 > avail)
		return -1;
	if (b0 == 0xc5) {
		map = 1;
		r = p[pos + 1] >> 7;
		vvvv = (~p[pos + 1] >> 3) & 15;
		l = (p[pos + 1] >> 2) & 1;
		pp = p[pos + 1] & 3;
	} else {
		map = p[pos + 1] & (b0 == 0x62 ? 0x7 : 0x1f);
		r = p[pos + 1] >> 7;
		x = (p[pos + 1] >> 6) & 1;
		b = (p[pos + 1] >> 5) & 1;
		w = p[pos + 2] >> 7;
		vvvv = (~p[pos + 2] >> 3) & 15;
		l = (p[pos + 2] >> 2) & 1;
		pp = p[pos + 2] & 3;
	}
	pos += need;
	opc = p[pos++];
	in->valid = 0;
	in->vex = 1;
	in->op = (uint16_t)(((map & 3) << 8) | opc);
	/* R, X, B are stored inverted; outside 64-bit mode only the low 8 registers exist. */
	if (mode == 64) {
		in->rex = (uint8_t)(0x40 | (w << 3) | (!r << 2) | (!x << 1) | !b);
		in->vvvv = (uint8_t)vvvv;
		in->osz = w ? 8 : 4;
	} else {
		in->rex = 0;
		in->vvvv = vvvv & 7;
		in->osz = 4;
	}
	bool modrm = !(map == 1 && opc == 0x77 && b0 != 0x62);
	if (modrm) {
		bool more = false;
		if (pos >= avail)
			return -1;
		uint8_t m = p[pos++];
		in->has_modrm = 1;
		in->mod = m >> 6;
		in->reg = (uint8_t)(((m >> 3) & 7) | ((in->rex & 4) << 1));
		in->rm = (uint8_t)((m & 7) | ((in->rex & 1) << 3));
		if (in->mod != 3) {
			uint8_t seg = in->seg, ovr = in->seg_ovr;
			if (in->asz == 2)
				decode_modrm16(p, avail, &pos, in, &more);
			else
				decode_modrm32(p, avail, &pos, mode, in, &more);
			if (more)
				return -1;
			if (ovr)
				in->seg = seg;
			/* EVEX compressed disp8 does not change the length. */
		}
	}
	unsigned imm = 0;
	if (map == 3)
		imm = 1;
	else if (map == 1 && ((opc >= 0x70 && opc <= 0x73) || opc == 0xc2 || (opc >= 0xc4 && opc <= 0xc6)))
		imm = 1;
	if (pos + imm > avail)
		return -1;
	pos += imm;
	if (pos > 15)
		return -2;
	/* BMI1 (CPUID.07H:EBX.BMI1): VEX (not EVEX), map 0F38, no SIMD prefix, L = 0. */
	if (b0 != 0x62 && map == 2 && pp == 0 && l == 0 && !in->lock && !in->rep && !in->pfx66) {
		if (opc == 0xf2 || opc == 0xf7 || (opc == 0xf3 && (in->reg & 7) >= 1 && (in->reg & 7) <= 3))
			in->valid = 1;
	}
	return (int)pos;
}

int x86_decode(const uint8_t *p, size_t avail, unsigned mode, struct x86_insn *in)
{
	size_t pos = 0;
	bool more = false;
	unsigned def = mode == 16 ? 2 : 4;
	bool p66 = false, p67 = false;

	memset(in, 0, sizeof(*in));
	in->seg = SEG_DS;
	in->base = in->index = X86_NOREG;
	if (avail > 15)
		avail = 15 + 1; /* enough to detect the 15-byte limit */

	/* Legacy prefixes, then REX (only if it immediately precedes the opcode). */
	for (;;) {
		if (pos >= avail)
			return pos >= 15 ? -2 : -1;
		uint8_t b = p[pos];
		if (x86_optab[0][b].attr & A_PFX) {
			switch (b) {
			case 0x26: in->seg = SEG_ES; in->seg_ovr = 1; break;
			case 0x2e: in->seg = SEG_CS; in->seg_ovr = 1; break;
			case 0x36: in->seg = SEG_SS; in->seg_ovr = 1; break;
			case 0x3e: in->seg = SEG_DS; in->seg_ovr = 1; break;
			case 0x64: in->seg = SEG_FS; in->seg_ovr = 1; break;
			case 0x65: in->seg = SEG_GS; in->seg_ovr = 1; break;
			case 0x66: p66 = true; break;
			case 0x67: p67 = true; break;
			case 0xf0: in->lock = 1; break;
			default: in->rep = b; break;
			}
			in->rex = 0;
			pos++;
			continue;
		}
		if (mode == 64 && (b & 0xf0) == 0x40) {
			in->rex = b;
			pos++;
			continue;
		}
		break;
	}
	uint8_t seg_pfx = in->seg;
	in->pfx66 = p66;
	if (mode == 64)
		in->asz = p67 ? 4 : 8;
	else
		in->asz = (uint8_t)((def == 2) != p67 ? 2 : 4);
	in->osz = (uint8_t)((def == 2) != p66 ? 2 : 4);
	if (in->rex & 8)
		in->osz = 8;

	uint8_t b = p[pos++];
	uint16_t attr;
	in->valid = 1;
	if (b == 0x0f) {
		if (pos >= avail)
			return -1;
		b = p[pos++];
		if (b == 0x38 || b == 0x3a) {
			if (pos >= avail)
				return -1;
			in->op = (uint16_t)((b == 0x38 ? OP_MAP0F38 : OP_MAP0F3A) | p[pos]);
			attr = x86_optab[in->op >> 8][p[pos]].attr;
			/* INVPCID (66 0F 38 82 /r) needs its 66. */
			if (in->op == (OP_MAP0F38 | 0x82) && !p66)
				attr |= A_UD;
			pos++;
		} else {
			in->op = OP_MAP0F | b;
			attr = x86_optab[OP_MAP0F >> 8][b].attr;
		}
	} else if ((b == 0xc4 || b == 0xc5 || b == 0x62) &&
		   (mode == 64 || (pos < avail && (p[pos] & 0xc0) == 0xc0))) {
		/* VEX / EVEX: outside 64-bit mode only when ModRM.mod would be 11b. */
		int n = decode_vex(p, avail, pos - 1, mode, in);
		if (n > 0)
			in->len = (uint8_t)n;
		return n;
	} else {
		in->op = b;
		attr = x86_optab[OP_MAP0 >> 8][b].attr;
	}

	if (mode == 64 && (attr & A_I64))
		attr |= A_UD;
	if (mode == 64 && (attr & (A_D64 | A_F64))) {
		if ((attr & A_F64) || !p66)
			in->osz = 8;
	}
	if (in->op == 0x63 && mode != 64)
		attr |= A_UD;  /* ARPL: not supported (no virtual-8086 software) */

	if (attr & A_M) {
		if (pos >= avail)
			return -1;
		uint8_t m = p[pos++];
		in->has_modrm = 1;
		in->mod = m >> 6;
		in->reg = (uint8_t)(((m >> 3) & 7) | ((in->rex & 4) << 1));
		in->rm = (uint8_t)((m & 7) | ((in->rex & 1) << 3));
		/* MOV to/from control and debug registers: mod is ignored, always registers. */
		if (in->op >= (OP_MAP0F | 0x20) && in->op <= (OP_MAP0F | 0x23))
			in->mod = 3;
		if (in->mod != 3) {
			if (in->asz == 2)
				decode_modrm16(p, avail, &pos, in, &more);
			else
				decode_modrm32(p, avail, &pos, mode, in, &more);
			if (more)
				return pos >= 15 ? -2 : -1;
			if (in->seg_ovr)
				in->seg = seg_pfx;
		}
		/* Group 5: near CALL/JMP are 64-bit in long mode, PUSH defaults to 64. */
		if (in->op == 0xff && mode == 64) {
			unsigned r = in->reg & 7;
			if (r == 2 || r == 4)
				in->osz = 8;
			else if (r == 6 && !p66)
				in->osz = 8;
		}
	}

	unsigned isz = 0;
	if (attr & A_IB)
		isz = 1;
	else if (attr & A_IW)
		isz = 2;
	else if (attr & A_IZ)
		isz = in->osz == 2 ? 2 : 4;
	else if (attr & A_IV)
		isz = in->osz;
	else if (attr & A_MO)
		isz = in->asz;
	else if (attr & A_AP)
		isz = (in->osz == 2 ? 2 : 4) + 2;
	else if (attr & A_IBW)
		isz = 3;
	else if ((attr & A_GRP3) && (in->reg & 7) < 2)
		isz = b == 0xf6 ? 1 : (in->osz == 2 ? 2 : 4);
	/* 64-bit near branches with 66: Intel keeps the 32-bit displacement. */
	if ((attr & A_F64) && (attr & A_IZ) && mode == 64)
		isz = 4;
	if (pos + isz > avail)
		return pos + isz > 15 ? -2 : -1;
	if (attr & A_AP) {
		unsigned osz = isz - 2;
		in->imm = read_le(p + pos, osz);
		in->imm2 = read_le(p + pos + osz, 2);
	} else if (attr & A_IBW) {
		in->imm = read_le(p + pos, 2);
		in->imm2 = p[pos + 2];
	} else if (attr & (A_IV | A_MO)) {
		in->imm = read_le(p + pos, isz);
	} else if (isz) {
		in->imm = sign_extend(read_le(p + pos, isz), isz);
	}
	pos += isz;
	if (pos > 15)
		return -2;
	in->len = (uint8_t)pos;
	if ((attr & A_UD) || !insn_supported(in, mode))
		in->valid = 0;
	return (int)pos;
}

int x86_insn_length(const uint8_t *code, size_t avail, unsigned mode_bits, bool *valid)
{
	struct x86_insn in;
	int n = x86_decode(code, avail, mode_bits, &in);
	if (n < 0) {
		if (valid)
			*valid = false;
		return -1;
	}
	if (valid)
		*valid = in.valid;
	return n;
}
