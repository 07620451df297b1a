/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/sse.c - SSE and SSE2 on XMM registers (SDM Vol. 1 ch. 10-11,
 * Vol. 2 instruction pages, Vol. 3A 13.1-13.2 for the CR0/CR4 rules).
 *
 * The 0F-map opcodes are selected by their mandatory prefix: none, 66, F3
 * or F2 (F2/F3 win over 66). Data movement, integer SIMD, shuffles and the
 * bitwise operations are plain C over union xmm. Floating point is run on
 * the host's own SSE unit, which is exact by definition: the guest's
 * rounding control, DAZ and FZ are loaded into the host's MXCSR with every
 * exception masked and the flags clear, the one instruction runs, and the
 * flags it raised are then checked against the guest's masks (sse_fp_done):
 * an unmasked one raises #XM (#UD with CR4.OSXMMEXCPT clear) and leaves the
 * destination unchanged, as the processor does (SDM Vol. 1 11.5.2).
 *
 * Memory operands go through the same translation as every other access
 * (mem.h), one translation per page the operand touches; the 128-bit
 * operands of legacy SSE are #GP(0) unless 16-byte aligned, except those
 * of MOVUPS, MOVUPD, MOVDQU and MASKMOVDQU.
 *
 * The MMX instructions and the SSE/SSE2 forms on MMX registers (no prefix
 * in 60-7F and C4-FF, the MMX conversions, MOVQ2DQ, MOVDQ2Q) share the
 * integer operations at half the width; the MMX registers are the low 64
 * bits of the x87 physical registers, kept with the FXSAVE image.
 */
#include <string.h>

#include "hv/cpu/mem.h"
#include "hv/cpu/optab.h"
#include "hv/cpu/sse.h"

typedef long long v2di __attribute__((vector_size(16)));

void sse_reset(struct vcpu_soft *v)
{
	memset(&v->sse, 0, sizeof(v->sse));
	v->sse.mxcsr = MXCSR_RESET;
	v->sse.ftw = 0xff;   /* tag word 5555H: every register +0.0, tagged zero (not empty) */
}

void sse_fninit(struct vcpu_soft *v)
{
	v->sse.ftw = 0;
	v->sse.fop = 0;
	v->sse.fip = v->sse.fdp = 0;
	v->sse.fcs = v->sse.fds = 0;
}

/* 0: no prefix, 1: 66, 2: F3, 3: F2 (the mandatory prefix of the 0F map). */
enum { P_NP = 0, P_66 = 1, P_F3 = 2, P_F2 = 3 };

static unsigned sse_pfx(const struct x86_insn *in)
{
	if (in->rep == 0xf3)
		return P_F3;
	if (in->rep == 0xf2)
		return P_F2;
	return in->pfx66 ? P_66 : P_NP;
}

/*
 * The encodings executed, by opcode: a bit per prefix (1 << P_*), and
 * whether the form needs a register (R) or a memory (M) operand.
 */
#define NP  (1u << P_NP)
#define X66 (1u << P_66)
#define XF3 (1u << P_F3)
#define XF2 (1u << P_F2)
#define R_ONLY 0x10u
#define M_ONLY 0x20u

static unsigned sse_forms(unsigned opc, unsigned pfx, bool mem)
{
	unsigned p = 1u << pfx;

	switch (opc) {
	case 0x10: case 0x11: case 0x51: case 0x58: case 0x59: case 0x5c: case 0x5d:
	case 0x5e: case 0x5f: case 0xc2: case 0x5a:
		return NP | X66 | XF3 | XF2;
	case 0x12: case 0x16:                 /* MOVLPS/MOVHLPS, MOVHPS/MOVLHPS, MOVLPD, MOVHPD */
		return p == X66 ? (mem ? X66 : 0) : NP;
	case 0x13: case 0x17:
		return mem ? NP | X66 : 0;
	case 0x14: case 0x15: case 0x28: case 0x29: case 0x2e: case 0x2f: case 0x54:
	case 0x55: case 0x56: case 0x57: case 0xc6:
		return NP | X66;
	case 0x2b:
		return mem ? NP | X66 : 0;
	case 0x2a: case 0x2c: case 0x2d:      /* NP and 66: the MMX-register conversions */
		return NP | X66 | XF3 | XF2;
	case 0x50:
		return mem ? 0 : NP | X66;
	case 0x52: case 0x53:
		return NP | XF3;
	case 0x5b:
		return NP | X66 | XF3;
	case 0x6c: case 0x6d:
		return X66;
	case 0x60 ... 0x6b: case 0x74: case 0x75: case 0x76:      /* NP: on MMX registers */
	case 0xd1 ... 0xd5: case 0xd8 ... 0xdf: case 0xe0 ... 0xe5: case 0xe8 ... 0xef:
	case 0xf1 ... 0xf6: case 0xf8 ... 0xfe: case 0x6e: case 0xc4:
		return NP | X66;
	case 0x6f: case 0x7f:
		return NP | X66 | XF3;
	case 0x70:
		return NP | X66 | XF3 | XF2;
	case 0x71: case 0x72: case 0x73:
		return mem ? 0 : NP | X66;
	case 0x77:                            /* EMMS */
		return NP;
	case 0x7e:
		return NP | X66 | XF3;
	case 0xc3:
		return mem ? NP : 0;
	case 0xc5: case 0xd7: case 0xf7:
		return mem ? 0 : NP | X66;
	case 0xd6:                            /* F3: MOVQ2DQ, F2: MOVDQ2Q */
		return mem ? X66 : X66 | XF3 | XF2;
	case 0xe6:
		return X66 | XF3 | XF2;
	case 0xe7:
		return mem ? NP | X66 : 0;
	default:
		return 0;
	}
}

bool sse_supported(const struct x86_insn *in)
{
	unsigned opc = in->op & 0xff, r = in->reg & 7;

	if ((in->op & 0xff00) != OP_MAP0F || in->lock)
		return false;
	if (opc >= 0x71 && opc <= 0x73 && in->mod == 3) {
		if (in->rep)
			return false;
		if (opc == 0x73)      /* PSRLDQ and PSLLDQ exist only on XMM registers */
			return r == 2 || r == 6 || (in->pfx66 && (r == 3 || r == 7));
		return r == 2 || r == 4 || r == 6;
	}
	return (sse_forms(opc, sse_pfx(in), in->mod != 3) >> sse_pfx(in)) & 1;
}

/* ---- exceptions ---- */

/* SDM Vol. 3A Table 13-? rules for an SSE/SSE2 instruction: CR0.EM or
 * CR4.OSFXSR clear: #UD; then CR0.TS: #NM. */
static int sse_avail(struct vcpu_soft *v)
{
	if ((v->cr0 & CR0_EM) || !(v->cr4 & CR4_OSFXSR))
		return x86_ud(v);
	if (v->cr0 & CR0_TS)
		return x86_raise(v, EXC_NM, false, 0);
	return X86_OK;
}

/* ---- operands ---- */

static union xmm *xreg(struct vcpu_soft *v, unsigned r)
{
	return &v->sse.xmm[r & 15];
}

/* Linear address of the memory operand; 16-byte alignment is #GP(0). */
static int op_lin(struct vcpu_soft *v, const struct x86_insn *in, unsigned size, bool align,
		  uint64_t *lin)
{
	int st = seg_linear(v, in->seg, insn_ea(v, in), size, lin);

	if (st)
		return st;
	if (align && (*lin & 15))
		return x86_gp(v, 0);
	return X86_OK;
}

static unsigned op_acc(const struct x86_insn *in)
{
	return in->seg == SEG_SS ? MEM_STACK : 0;
}

/*
 * Copy bytes [off, off + len) of a translated access into or out of buf.
 * A device piece goes in pieces of at most 8 bytes (what an MMIO exit
 * carries): a 16-byte load from a device page exits twice, a store reports
 * its first two 8-byte pieces (docs/softcpu.md).
 */
static int mref_in(struct vcpu_soft *v, const struct mref *m, uint8_t *buf)
{
	uint8_t *b = buf;
	bool mmio = false;

	if (!m->p[0].mmio && (m->n == 1 || !m->p[1].mmio))
		return mref_load(v, m, buf);
	for (unsigned i = 0; i < m->n; i++) {
		const struct piece *pc = &m->p[i];
		for (unsigned off = 0; off < pc->len; off += 8) {
			struct piece c = *pc;
			int st;

			c.len = pc->len - off < 8 ? pc->len - off : 8;
			if (c.mmio)
				c.gpa += off;
			else
				c.hpa += off;
			if ((st = piece_load(v, &c, b + off)))
				return st;
		}
		mmio |= pc->mmio;
		b += pc->len;
	}
	if (mmio)
		mmio_read_done(v);
	return X86_OK;
}

static void mref_out(struct vcpu_soft *v, const struct mref *m, unsigned len, const uint8_t *buf)
{
	const uint8_t *b = buf;

	if (len == m->size && !m->p[0].mmio && (m->n == 1 || !m->p[1].mmio)) {
		mref_store(v, m, buf);
		return;
	}
	for (unsigned i = 0; i < m->n && len; i++) {
		const struct piece *pc = &m->p[i];
		unsigned n = pc->len < len ? pc->len : len;

		if (!pc->mmio) {
			memcpy(hpool_ptr(v->pool, pc->hpa), b, n);
		} else {
			for (unsigned off = 0; off < n; off += 8) {
				struct mref c = { .n = 1 };

				c.p[0] = *pc;
				c.p[0].gpa += off;
				c.p[0].len = n - off < 8 ? n - off : 8;
				c.size = c.p[0].len;
				mref_store_slow(v, &c, b + off);
			}
		}
		b += n;
		len -= n;
	}
}

/* Read `size` bytes of the ModRM memory operand. */
static int mem_in(struct vcpu_soft *v, const struct x86_insn *in, unsigned size, bool align, void *buf)
{
	struct mref m;
	uint64_t lin;
	int st;

	if ((st = op_lin(v, in, size, align, &lin)) ||
	    (st = mref_get(v, lin, size, ACC_READ | op_acc(in), &m)))
		return st;
	return mref_in(v, &m, buf);
}

static int mem_out(struct vcpu_soft *v, const struct x86_insn *in, unsigned size, bool align,
		   const void *buf)
{
	struct mref m;
	uint64_t lin;
	int st;

	if ((st = op_lin(v, in, size, align, &lin)) ||
	    (st = mref_get(v, lin, size, ACC_WRITE | op_acc(in), &m)))
		return st;
	mref_out(v, &m, size, buf);
	return X86_OK;
}

/*
 * The source operand: the XMM register rm, or `size` bytes of memory into
 * the low end of *s with the rest zero (16 bytes are aligned).
 */
static int src_get(struct vcpu_soft *v, const struct x86_insn *in, unsigned size, union xmm *s)
{
	if (in->mod == 3) {
		*s = *xreg(v, in->rm);
		return X86_OK;
	}
	memset(s, 0, sizeof(*s));
	return mem_in(v, in, size, size == 16, s);
}

static int sse_mmx_avail(struct vcpu_soft *v);
static void mmx_enter(struct vcpu_soft *v);
static uint64_t mm_get(const struct vcpu_soft *v, unsigned r);

/* ---- data movement ---- */

/* 10/11 MOVUPS MOVUPD MOVSS MOVSD, 28/29 MOVAPS MOVAPD, 6F/7F MOVDQA MOVDQU,
 * 2B/E7 MOVNTPS MOVNTPD MOVNTDQ, 12/13/16/17 the 64-bit halves. */
static int sse_mov(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned opc = in->op & 0xff, pfx = sse_pfx(in);
	union xmm *r = xreg(v, in->reg), t;
	bool store = opc == 0x11 || opc == 0x29 || opc == 0x7f || opc == 0x2b || opc == 0xe7 ||
		     opc == 0x13 || opc == 0x17;
	unsigned size = 16;
	bool align;
	int st;

	if ((st = sse_avail(v)))
		return st;
	if ((opc == 0x10 || opc == 0x11) && (pfx == P_F3 || pfx == P_F2)) {
		size = pfx == P_F3 ? 4 : 8;
		if (in->mod == 3) {
			union xmm *d = store ? xreg(v, in->rm) : r, *s = store ? r : xreg(v, in->rm);
			memcpy(d, s, size);
			return X86_OK;
		}
		if (store)
			return mem_out(v, in, size, false, r);
		memset(&t, 0, sizeof(t));
		if ((st = mem_in(v, in, size, false, &t)))
			return st;
		*r = t;   /* a load from memory clears the rest */
		return X86_OK;
	}
	if (opc == 0x12 || opc == 0x13 || opc == 0x16 || opc == 0x17) {
		unsigned half = opc >= 0x16;
		if (in->mod == 3) {         /* MOVHLPS, MOVLHPS */
			r->q[half] = xreg(v, in->rm)->q[!half];
			return X86_OK;
		}
		if (store)
			return mem_out(v, in, 8, false, &r->q[half]);
		if ((st = mem_in(v, in, 8, false, &t.q[0])))
			return st;
		r->q[half] = t.q[0];
		return X86_OK;
	}
	/* 128-bit moves: the unaligned ones are 10/11 and MOVDQU (F3 6F/7F). */
	align = !(opc == 0x10 || opc == 0x11 || pfx == P_F3);
	if (in->mod == 3) {
		if (store)
			*xreg(v, in->rm) = *r;
		else
			*r = *xreg(v, in->rm);
		return X86_OK;
	}
	if (store)
		return mem_out(v, in, 16, align, r);
	if ((st = mem_in(v, in, 16, align, &t)))
		return st;
	*r = t;
	return X86_OK;
}

/* 66 6E MOVD/MOVQ xmm, r/m; 66 7E MOVD/MOVQ r/m, xmm; F3 7E MOVQ xmm, xmm/m64;
 * 66 D6 MOVQ xmm/m64, xmm. */
static int sse_movdq(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned opc = in->op & 0xff, pfx = sse_pfx(in);
	unsigned size = (in->rex & 8) ? 8 : 4;
	union xmm *r = xreg(v, in->reg), t;
	uint64_t a;
	int st;

	if ((st = sse_avail(v)))
		return st;
	if (opc == 0x6e) {
		if ((st = rm_read(v, in, size, &a)))
			return st;
		memset(r, 0, sizeof(*r));
		r->q[0] = a;
		return X86_OK;
	}
	if (opc == 0x7e && pfx == P_66)
		return rm_write(v, in, size, r->q[0] & size_mask(size));
	if (opc == 0x7e) {              /* F3 7E: MOVQ xmm, xmm/m64 */
		if ((st = src_get(v, in, 8, &t)))
			return st;
		r->q[0] = t.q[0];
		r->q[1] = 0;
		return X86_OK;
	}
	/* 66 D6 */
	if (in->mod == 3) {
		union xmm *d = xreg(v, in->rm);
		d->q[0] = r->q[0];
		d->q[1] = 0;
		return X86_OK;
	}
	return mem_out(v, in, 8, false, &r->q[0]);
}

/* 50 MOVMSKPS/MOVMSKPD, 66 D7 PMOVMSKB, 66 C5 PEXTRW, 66 C4 PINSRW. */
static int sse_gpr(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned opc = in->op & 0xff, pfx = sse_pfx(in);
	uint64_t m = 0, a;
	int st;

	if ((st = sse_avail(v)))
		return st;
	const union xmm *s = xreg(v, in->rm);
	switch (opc) {
	case 0x50:
		if (pfx == P_NP)
			for (unsigned i = 0; i < 4; i++)
				m |= (uint64_t)(s->d[i] >> 31) << i;
		else
			for (unsigned i = 0; i < 2; i++)
				m |= (s->q[i] >> 63) << i;
		break;
	case 0xd7:
		for (unsigned i = 0; i < 16; i++)
			m |= (uint64_t)(s->b[i] >> 7) << i;
		break;
	case 0xc5:
		m = s->w[in->imm & 7];
		break;
	default:                           /* C4: PINSRW xmm, r32/m16, imm8 */
		if ((st = rm_read(v, in, 2, &a)))
			return st;
		xreg(v, in->reg)->w[in->imm & 7] = (uint16_t)a;
		return X86_OK;
	}
	v->gpr[in->reg] = m;   /* r32 or r64: zero-extended either way */
	return X86_OK;
}

/* NP 0F C3: MOVNTI m32/m64, r (an SSE2 instruction on general registers:
 * no CR0/CR4 condition). */
static int sse_movnti(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned size = in->osz == 8 ? 8 : 4;

	return mem_write(v, in->seg, insn_ea(v, in), size, v->gpr[in->reg] & size_mask(size));
}

/* 66 F7: MASKMOVDQU xmm1, xmm2 (NP F7: MASKMOVQ mm1, mm2): the bytes of
 * the first operand whose byte in the second has its top bit set go to
 * DS:[rDI] (a segment override applies). */
static int sse_maskmov(struct vcpu_soft *v, const struct x86_insn *in)
{
	bool mmx = !in->pfx66;
	unsigned n = mmx ? 8 : 16;
	union xmm dv, mv;
	const union xmm *d = &dv, *mask = &mv;
	uint64_t lin, off = v->gpr[7] & size_mask(in->asz);
	uint16_t sel = 0;
	struct mref m;
	int st;

	if ((st = mmx ? sse_mmx_avail(v) : sse_avail(v)))
		return st;
	if (mmx) {
		dv.q[0] = mm_get(v, in->reg);
		mv.q[0] = mm_get(v, in->rm);
	} else {
		dv = *xreg(v, in->reg);
		mv = *xreg(v, in->rm);
	}
	for (unsigned i = 0; i < n; i++)
		sel |= (uint16_t)((mask->b[i] >> 7) << i);
	if (!sel) {
		if (mmx)
			mmx_enter(v);
		return X86_OK;   /* nothing is written; this vCPU then checks nothing either */
	}
	if ((st = seg_linear(v, in->seg, off, n, &lin)) ||
	    (st = mref_get(v, lin, n, ACC_WRITE, &m)))
		return st;
	if (mmx)
		mmx_enter(v);
	/* Byte by byte, so that unselected bytes are not written. */
	unsigned pos = 0;
	for (unsigned i = 0; i < m.n; i++) {
		for (unsigned j = 0; j < m.p[i].len; j++, pos++) {
			if (!((sel >> pos) & 1))
				continue;
			struct mref c = { .n = 1, .size = 1 };
			c.p[0] = m.p[i];
			c.p[0].len = 1;
			if (c.p[0].mmio)
				c.p[0].gpa += j;
			else
				c.p[0].hpa += j;
			mref_store(v, &c, &d->b[pos]);
		}
	}
	return X86_OK;
}

/* ---- integer SIMD ---- */

static int8_t sat_s8(int x) { return (int8_t)(x > 127 ? 127 : x < -128 ? -128 : x); }
static uint8_t sat_u8(int x) { return (uint8_t)(x > 255 ? 255 : x < 0 ? 0 : x); }
static int16_t sat_s16(int x) { return (int16_t)(x > 32767 ? 32767 : x < -32768 ? -32768 : x); }
static uint16_t sat_u16(int x) { return (uint16_t)(x > 65535 ? 65535 : x < 0 ? 0 : x); }

/* Shift every lane of `bits` bits in the low n bytes by count: logical
 * left (kind 0) or right (1), or arithmetic right (2). */
static void shift_lanes(union xmm *d, unsigned n, unsigned bits, uint64_t count, int kind)
{
	for (unsigned i = 0; i < n * 8 / bits; i++) {
		switch (bits) {
		case 16:
			if (kind == 2)
				d->sw[i] = (int16_t)(d->sw[i] >> (count > 15 ? 15 : count));
			else if (count > 15)
				d->w[i] = 0;
			else
				d->w[i] = (uint16_t)(kind ? d->w[i] >> count : d->w[i] << count);
			break;
		case 32:
			if (kind == 2)
				d->sd[i] = d->sd[i] >> (count > 31 ? 31 : count);
			else if (count > 31)
				d->d[i] = 0;
			else
				d->d[i] = kind ? d->d[i] >> count : d->d[i] << count;
			break;
		default:
			if (count > 63)
				d->q[i] = 0;
			else
				d->q[i] = kind ? d->q[i] >> count : d->q[i] << count;
			break;
		}
	}
}

static int16_t sat_s16_of32(int32_t x) { return (int16_t)(x > 32767 ? 32767 : x < -32768 ? -32768 : x); }

/*
 * d = d op s for the two-operand integer and bitwise operations over the
 * low n bytes: 16 for XMM registers, 8 for MMX registers (the same
 * instruction on half the lanes; the unpacks take the low or high half of
 * the n bytes, the packs put d's lanes before s's).
 */
static void int_op(unsigned opc, unsigned n, union xmm *d, const union xmm *s)
{
	union xmm r = *d;
	unsigned i, h = n / 2;

	switch (opc) {
	case 0x60: for (i = 0; i < h; i++) { r.b[2 * i] = d->b[i]; r.b[2 * i + 1] = s->b[i]; } break;
	case 0x61: for (i = 0; i < h / 2; i++) { r.w[2 * i] = d->w[i]; r.w[2 * i + 1] = s->w[i]; } break;
	case 0x62: for (i = 0; i < h / 4; i++) { r.d[2 * i] = d->d[i]; r.d[2 * i + 1] = s->d[i]; } break;
	case 0x6c: r.q[1] = s->q[0]; break;
	case 0x68:
		for (i = 0; i < h; i++) { r.b[2 * i] = d->b[h + i]; r.b[2 * i + 1] = s->b[h + i]; }
		break;
	case 0x69:
		for (i = 0; i < h / 2; i++) { r.w[2 * i] = d->w[h / 2 + i]; r.w[2 * i + 1] = s->w[h / 2 + i]; }
		break;
	case 0x6a:
		for (i = 0; i < h / 4; i++) { r.d[2 * i] = d->d[h / 4 + i]; r.d[2 * i + 1] = s->d[h / 4 + i]; }
		break;
	case 0x6d: r.q[0] = d->q[1]; r.q[1] = s->q[1]; break;
	case 0x63:
		for (i = 0; i < h; i++) { r.sb[i] = sat_s8(d->sw[i]); r.sb[h + i] = sat_s8(s->sw[i]); }
		break;
	case 0x67:
		for (i = 0; i < h; i++) { r.b[i] = sat_u8(d->sw[i]); r.b[h + i] = sat_u8(s->sw[i]); }
		break;
	case 0x6b:
		for (i = 0; i < h / 2; i++) {
			r.sw[i] = sat_s16_of32(d->sd[i]);
			r.sw[h / 2 + i] = sat_s16_of32(s->sd[i]);
		}
		break;
	case 0x64: for (i = 0; i < n; i++) r.b[i] = d->sb[i] > s->sb[i] ? 0xff : 0; break;
	case 0x65: for (i = 0; i < n / 2; i++) r.w[i] = d->sw[i] > s->sw[i] ? 0xffff : 0; break;
	case 0x66: for (i = 0; i < n / 4; i++) r.d[i] = d->sd[i] > s->sd[i] ? ~0u : 0; break;
	case 0x74: for (i = 0; i < n; i++) r.b[i] = d->b[i] == s->b[i] ? 0xff : 0; break;
	case 0x75: for (i = 0; i < n / 2; i++) r.w[i] = d->w[i] == s->w[i] ? 0xffff : 0; break;
	case 0x76: for (i = 0; i < n / 4; i++) r.d[i] = d->d[i] == s->d[i] ? ~0u : 0; break;
	case 0xfc: for (i = 0; i < n; i++) r.b[i] = (uint8_t)(d->b[i] + s->b[i]); break;
	case 0xfd: for (i = 0; i < n / 2; i++) r.w[i] = (uint16_t)(d->w[i] + s->w[i]); break;
	case 0xfe: for (i = 0; i < n / 4; i++) r.d[i] = d->d[i] + s->d[i]; break;
	case 0xd4: for (i = 0; i < n / 8; i++) r.q[i] = d->q[i] + s->q[i]; break;
	case 0xf8: for (i = 0; i < n; i++) r.b[i] = (uint8_t)(d->b[i] - s->b[i]); break;
	case 0xf9: for (i = 0; i < n / 2; i++) r.w[i] = (uint16_t)(d->w[i] - s->w[i]); break;
	case 0xfa: for (i = 0; i < n / 4; i++) r.d[i] = d->d[i] - s->d[i]; break;
	case 0xfb: for (i = 0; i < n / 8; i++) r.q[i] = d->q[i] - s->q[i]; break;
	case 0xec: for (i = 0; i < n; i++) r.sb[i] = sat_s8(d->sb[i] + s->sb[i]); break;
	case 0xed: for (i = 0; i < n / 2; i++) r.sw[i] = sat_s16(d->sw[i] + s->sw[i]); break;
	case 0xdc: for (i = 0; i < n; i++) r.b[i] = sat_u8(d->b[i] + s->b[i]); break;
	case 0xdd: for (i = 0; i < n / 2; i++) r.w[i] = sat_u16(d->w[i] + s->w[i]); break;
	case 0xe8: for (i = 0; i < n; i++) r.sb[i] = sat_s8(d->sb[i] - s->sb[i]); break;
	case 0xe9: for (i = 0; i < n / 2; i++) r.sw[i] = sat_s16(d->sw[i] - s->sw[i]); break;
	case 0xd8: for (i = 0; i < n; i++) r.b[i] = sat_u8(d->b[i] - s->b[i]); break;
	case 0xd9: for (i = 0; i < n / 2; i++) r.w[i] = sat_u16(d->w[i] - s->w[i]); break;
	case 0xda: for (i = 0; i < n; i++) r.b[i] = d->b[i] < s->b[i] ? d->b[i] : s->b[i]; break;
	case 0xde: for (i = 0; i < n; i++) r.b[i] = d->b[i] > s->b[i] ? d->b[i] : s->b[i]; break;
	case 0xea: for (i = 0; i < n / 2; i++) r.sw[i] = d->sw[i] < s->sw[i] ? d->sw[i] : s->sw[i]; break;
	case 0xee: for (i = 0; i < n / 2; i++) r.sw[i] = d->sw[i] > s->sw[i] ? d->sw[i] : s->sw[i]; break;
	case 0xe0: for (i = 0; i < n; i++) r.b[i] = (uint8_t)((d->b[i] + s->b[i] + 1) >> 1); break;
	case 0xe3: for (i = 0; i < n / 2; i++) r.w[i] = (uint16_t)((d->w[i] + s->w[i] + 1) >> 1); break;
	case 0xd5:
		for (i = 0; i < n / 2; i++)
			r.w[i] = (uint16_t)((uint32_t)d->w[i] * s->w[i]);
		break;
	case 0xe5:
		for (i = 0; i < n / 2; i++)
			r.w[i] = (uint16_t)((uint32_t)((int32_t)d->sw[i] * s->sw[i]) >> 16);
		break;
	case 0xe4:
		for (i = 0; i < n / 2; i++)
			r.w[i] = (uint16_t)(((uint32_t)d->w[i] * s->w[i]) >> 16);
		break;
	case 0xf4:
		for (i = 0; i < n / 8; i++)
			r.q[i] = (uint64_t)d->d[2 * i] * s->d[2 * i];
		break;
	case 0xf5:
		for (i = 0; i < n / 4; i++)
			r.d[i] = (uint32_t)((int32_t)d->sw[2 * i] * s->sw[2 * i]) +
				 (uint32_t)((int32_t)d->sw[2 * i + 1] * s->sw[2 * i + 1]);
		break;
	case 0xf6:
		for (i = 0; i < n / 8; i++) {
			unsigned sum = 0;
			for (unsigned j = 0; j < 8; j++) {
				int x = d->b[8 * i + j] - s->b[8 * i + j];
				sum += (unsigned)(x < 0 ? -x : x);
			}
			r.q[i] = sum;
		}
		break;
	case 0xdb: case 0x54: for (i = 0; i < n / 8; i++) r.q[i] = d->q[i] & s->q[i]; break;
	case 0xdf: case 0x55: for (i = 0; i < n / 8; i++) r.q[i] = ~d->q[i] & s->q[i]; break;
	case 0xeb: case 0x56: for (i = 0; i < n / 8; i++) r.q[i] = d->q[i] | s->q[i]; break;
	case 0xef: case 0x57: for (i = 0; i < n / 8; i++) r.q[i] = d->q[i] ^ s->q[i]; break;
	case 0xd1: shift_lanes(&r, n, 16, s->q[0], 1); break;
	case 0xd2: shift_lanes(&r, n, 32, s->q[0], 1); break;
	case 0xd3: shift_lanes(&r, n, 64, s->q[0], 1); break;
	case 0xe1: shift_lanes(&r, n, 16, s->q[0], 2); break;
	case 0xe2: shift_lanes(&r, n, 32, s->q[0], 2); break;
	case 0xf1: shift_lanes(&r, n, 16, s->q[0], 0); break;
	case 0xf2: shift_lanes(&r, n, 32, s->q[0], 0); break;
	case 0xf3: shift_lanes(&r, n, 64, s->q[0], 0); break;
	case 0x14: r.d[0] = d->d[0]; r.d[1] = s->d[0]; r.d[2] = d->d[1]; r.d[3] = s->d[1]; break;
	case 0x15: r.d[0] = d->d[2]; r.d[1] = s->d[2]; r.d[2] = d->d[3]; r.d[3] = s->d[3]; break;
	}
	*d = r;
}

/* Integer SIMD and bitwise operations xmm1, xmm2/m128 (aligned). */
static int sse_int(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned opc = in->op & 0xff;
	union xmm s;
	int st;

	if ((st = sse_avail(v)) || (st = src_get(v, in, 16, &s)))
		return st;
	if (in->pfx66 && (opc == 0x14 || opc == 0x15)) {      /* UNPCKLPD, UNPCKHPD */
		union xmm *d = xreg(v, in->reg);
		unsigned h = opc == 0x15;
		d->q[0] = d->q[h];
		d->q[1] = s.q[h];
		return X86_OK;
	}
	int_op(opc, 16, xreg(v, in->reg), &s);
	return X86_OK;
}

/* 66 71/72/73: shifts by an immediate; 73 /3 PSRLDQ and /7 PSLLDQ by bytes. */
static int sse_shift_imm(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned opc = in->op & 0xff, r = in->reg & 7;
	uint64_t count = in->imm & 0xff;
	union xmm *d = xreg(v, in->rm), t;
	int st;

	if ((st = sse_avail(v)))
		return st;
	if (opc == 0x73 && (r == 3 || r == 7)) {
		unsigned n = count > 16 ? 16 : (unsigned)count;
		memset(&t, 0, sizeof(t));
		if (r == 3)
			memcpy(t.b, d->b + n, 16 - n);
		else
			memcpy(t.b + n, d->b, 16 - n);
		*d = t;
		return X86_OK;
	}
	shift_lanes(d, 16, opc == 0x71 ? 16 : opc == 0x72 ? 32 : 64, count, r == 2 ? 1 : r == 4 ? 2 : 0);
	return X86_OK;
}

/* 66/F3/F2 70: PSHUFD, PSHUFHW, PSHUFLW; NP/66 C6: SHUFPS, SHUFPD. */
static int sse_shuf(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned opc = in->op & 0xff, pfx = sse_pfx(in), imm = (unsigned)in->imm & 0xff;
	union xmm s, *d = xreg(v, in->reg), r;
	int st;

	if ((st = sse_avail(v)) || (st = src_get(v, in, 16, &s)))
		return st;
	r = s;
	if (opc == 0xc6 && pfx == P_NP) {
		r.d[0] = d->d[imm & 3];
		r.d[1] = d->d[(imm >> 2) & 3];
		r.d[2] = s.d[(imm >> 4) & 3];
		r.d[3] = s.d[(imm >> 6) & 3];
	} else if (opc == 0xc6) {
		r.q[0] = d->q[imm & 1];
		r.q[1] = s.q[(imm >> 1) & 1];
	} else if (pfx == P_66) {
		for (unsigned i = 0; i < 4; i++)
			r.d[i] = s.d[(imm >> (2 * i)) & 3];
	} else {
		unsigned base = pfx == P_F3 ? 4 : 0;
		for (unsigned i = 0; i < 4; i++)
			r.w[base + i] = s.w[base + ((imm >> (2 * i)) & 3)];
	}
	*d = r;
	return X86_OK;
}

/* ---- MMX registers ---- */

/*
 * MMX register i is the low 64 bits of x87 physical register i (SDM Vol. 1
 * 9.5). An MMX instruction (or an SSE one on an MMX register) needs
 * CR0.EM clear (#UD) and CR0.TS clear (#NM), and raises #MF while an
 * unmasked x87 exception is pending (FSW.ES); as it completes, TOS becomes
 * 0 and every tag valid; a write sets bits 79:64 of the register to ones.
 */
static int mmx_avail(struct vcpu_soft *v)
{
	if (v->cr0 & CR0_EM)
		return x86_ud(v);
	if (v->cr0 & CR0_TS)
		return x86_raise(v, EXC_NM, false, 0);
	if (v->fsw & 0x80)
		return x86_raise(v, EXC_MF, false, 0);
	return X86_OK;
}

/* An SSE instruction with an MMX register operand: SSE's rules, then #MF. */
static int sse_mmx_avail(struct vcpu_soft *v)
{
	int st = sse_avail(v);

	if (st)
		return st;
	return v->fsw & 0x80 ? x86_raise(v, EXC_MF, false, 0) : X86_OK;
}

static void mmx_enter(struct vcpu_soft *v)
{
	v->fsw &= (uint16_t)~(7u << 11);
	v->sse.ftw = 0xff;
}

static uint64_t mm_get(const struct vcpu_soft *v, unsigned r)
{
	uint64_t x;

	memcpy(&x, v->sse.st[r & 7], 8);
	return x;
}

static void mm_set(struct vcpu_soft *v, unsigned r, uint64_t x)
{
	memcpy(v->sse.st[r & 7], &x, 8);
	v->sse.st[r & 7][8] = v->sse.st[r & 7][9] = 0xff;
}

/* The mm/m64 source operand into the low 8 bytes of *s, the rest zero. */
static int mmx_src(struct vcpu_soft *v, const struct x86_insn *in, union xmm *s)
{
	memset(s, 0, sizeof(*s));
	if (in->mod == 3) {
		s->q[0] = mm_get(v, in->rm);
		return X86_OK;
	}
	return mem_in(v, in, 8, false, s);
}

/* The integer operations mm, mm/m64, and PSHUFW. */
static int mmx_int(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned opc = in->op & 0xff;
	union xmm s, d;
	int st;

	if ((st = mmx_avail(v)) || (st = mmx_src(v, in, &s)))
		return st;
	memset(&d, 0, sizeof(d));
	d.q[0] = mm_get(v, in->reg);
	if (opc == 0x70) {
		for (unsigned i = 0; i < 4; i++)
			d.w[i] = s.w[(in->imm >> (2 * i)) & 3];
	} else {
		int_op(opc, 8, &d, &s);
	}
	mmx_enter(v);
	mm_set(v, in->reg, d.q[0]);
	return X86_OK;
}

/* NP 71-73: PSRLW/PSRAW/PSLLW, PSRLD/PSRAD/PSLLD, PSRLQ/PSLLQ mm, imm8. */
static int mmx_shift_imm(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned opc = in->op & 0xff, r = in->reg & 7;
	union xmm d;
	int st;

	if ((st = mmx_avail(v)))
		return st;
	memset(&d, 0, sizeof(d));
	d.q[0] = mm_get(v, in->rm);
	shift_lanes(&d, 8, opc == 0x71 ? 16 : opc == 0x72 ? 32 : 64, in->imm & 0xff,
		    r == 2 ? 1 : r == 4 ? 2 : 0);
	mmx_enter(v);
	mm_set(v, in->rm, d.q[0]);
	return X86_OK;
}

/* MOVD/MOVQ mm to and from r/m, MOVQ mm, mm/m64 and back, MOVNTQ,
 * PINSRW, PEXTRW, PMOVMSKB on MMX registers, EMMS, MOVQ2DQ, MOVDQ2Q. */
static int mmx_move(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned opc = in->op & 0xff, pfx = sse_pfx(in);
	unsigned size = (in->rex & 8) ? 8 : 4;
	union xmm s;
	uint64_t a, m = 0;
	int st;

	if ((st = opc == 0xd6 ? sse_mmx_avail(v) : mmx_avail(v)))
		return st;
	switch (opc) {
	case 0x77:                         /* EMMS: every tag empty */
		v->sse.ftw = 0;
		return X86_OK;
	case 0x6e:
		if ((st = rm_read(v, in, size, &a)))
			return st;
		mmx_enter(v);
		mm_set(v, in->reg, a);
		return X86_OK;
	case 0x7e:
		if ((st = rm_write(v, in, size, mm_get(v, in->reg) & size_mask(size))))
			return st;
		mmx_enter(v);
		return X86_OK;
	case 0x6f:
		if ((st = mmx_src(v, in, &s)))
			return st;
		mmx_enter(v);
		mm_set(v, in->reg, s.q[0]);
		return X86_OK;
	case 0x7f: case 0xe7:
		a = mm_get(v, in->reg);
		if (in->mod == 3) {
			mmx_enter(v);
			mm_set(v, in->rm, a);
			return X86_OK;
		}
		if ((st = mem_out(v, in, 8, false, &a)))
			return st;
		mmx_enter(v);
		return X86_OK;
	case 0xc4:
		if ((st = rm_read(v, in, 2, &a)))
			return st;
		s.q[0] = mm_get(v, in->reg);
		s.w[in->imm & 3] = (uint16_t)a;
		mmx_enter(v);
		mm_set(v, in->reg, s.q[0]);
		return X86_OK;
	case 0xc5:
		s.q[0] = mm_get(v, in->rm);
		m = s.w[in->imm & 3];
		break;
	case 0xd7:
		s.q[0] = mm_get(v, in->rm);
		for (unsigned i = 0; i < 8; i++)
			m |= (uint64_t)(s.b[i] >> 7) << i;
		break;
	default:                           /* D6: F3 MOVQ2DQ xmm, mm; F2 MOVDQ2Q mm, xmm */
		if (pfx == P_F3) {
			union xmm *d = xreg(v, in->reg);
			d->q[0] = mm_get(v, in->rm);
			d->q[1] = 0;
		} else {
			a = xreg(v, in->rm)->q[0];
			mmx_enter(v);
			mm_set(v, in->reg, a);
			return X86_OK;
		}
		mmx_enter(v);
		return X86_OK;
	}
	mmx_enter(v);
	v->gpr[in->reg] = m;
	return X86_OK;
}

/* ---- floating point on the host's SSE unit ---- */

/*
 * Run `insn src, dst` under the MXCSR csr (the guest's rounding, DAZ and
 * FZ, every exception masked, no flag set) and give the flags it raised.
 * The host's own MXCSR is saved and restored inside the same asm, so that
 * no compiler-generated code runs under the guest's.
 */
#define HOST_FP(insn) \
	asm volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" insn " %[s], %[d]\n\t" \
		     "stmxcsr %[o]\n\tldmxcsr %[h]" \
		     : [d] "+x"(d), [o] "=m"(out), [h] "+m"(host) : [s] "x"(s), [c] "m"(csr))

#define FP4(b, np, x66, f3, f2) \
	case b: \
		switch (pfx) { \
		case P_NP: HOST_FP(np); break; \
		case P_66: HOST_FP(x66); break; \
		case P_F3: HOST_FP(f3); break; \
		default: HOST_FP(f2); break; \
		} \
		break

#define CMP4(n) \
	case n: \
		switch (pfx) { \
		case P_NP: HOST_FP("cmpps $" #n ","); break; \
		case P_66: HOST_FP("cmppd $" #n ","); break; \
		case P_F3: HOST_FP("cmpss $" #n ","); break; \
		default: HOST_FP("cmpsd $" #n ","); break; \
		} \
		break

static uint32_t host_fp(unsigned opc, unsigned pfx, unsigned imm, v2di *dst, v2di s, uint32_t csr)
{
	uint32_t out = 0, host = 0;
	v2di d = *dst;

	switch (opc) {
	FP4(0x51, "sqrtps", "sqrtpd", "sqrtss", "sqrtsd");
	FP4(0x52, "rsqrtps", "rsqrtps", "rsqrtss", "rsqrtss");
	FP4(0x53, "rcpps", "rcpps", "rcpss", "rcpss");
	FP4(0x58, "addps", "addpd", "addss", "addsd");
	FP4(0x59, "mulps", "mulpd", "mulss", "mulsd");
	FP4(0x5a, "cvtps2pd", "cvtpd2ps", "cvtss2sd", "cvtsd2ss");
	FP4(0x5b, "cvtdq2ps", "cvtps2dq", "cvttps2dq", "cvttps2dq");
	FP4(0x5c, "subps", "subpd", "subss", "subsd");
	FP4(0x5d, "minps", "minpd", "minss", "minsd");
	FP4(0x5e, "divps", "divpd", "divss", "divsd");
	FP4(0x5f, "maxps", "maxpd", "maxss", "maxsd");
	FP4(0xe6, "cvttpd2dq", "cvttpd2dq", "cvtdq2pd", "cvtpd2dq");
	case 0xc2:
		switch (imm & 7) {
		CMP4(0); CMP4(1); CMP4(2); CMP4(3); CMP4(4); CMP4(5); CMP4(6); CMP4(7);
		}
		break;
	}
	*dst = d;
	return out & MXCSR_FLAGS;
}

/* COMISS/UCOMISS/COMISD/UCOMISD: ZF, PF, CF as the host sets them. */
static uint32_t host_comi(unsigned opc, unsigned pfx, v2di d, v2di s, uint32_t csr, uint64_t *fl)
{
	uint32_t out = 0, host = 0;
	bool z, p, c;

#define HOST_COMI(insn) \
	asm volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" insn " %[s], %[d]\n\t" \
		     "stmxcsr %[o]\n\tldmxcsr %[h]" \
		     : "=@ccz"(z), "=@ccp"(p), "=@ccc"(c), [o] "=m"(out), [h] "+m"(host) \
		     : [d] "x"(d), [s] "x"(s), [c] "m"(csr))
	if (opc == 0x2e && pfx == P_66)
		HOST_COMI("ucomisd");
	else if (opc == 0x2e)
		HOST_COMI("ucomiss");
	else if (pfx == P_66)
		HOST_COMI("comisd");
	else
		HOST_COMI("comiss");
#undef HOST_COMI
	*fl = (z ? RF_ZF : 0) | (p ? RF_PF : 0) | (c ? RF_CF : 0);
	return out & MXCSR_FLAGS;
}

/* CVTSI2SS/CVTSI2SD xmm, r/m32|64. */
static uint32_t host_cvtsi(unsigned pfx, bool q, uint64_t a, v2di *dst, uint32_t csr)
{
	uint32_t out = 0, host = 0;
	v2di d = *dst;

#define HOST_CVTSI(insn, cons, val) \
	asm volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" insn " %[a], %[d]\n\t" \
		     "stmxcsr %[o]\n\tldmxcsr %[h]" \
		     : [d] "+x"(d), [o] "=m"(out), [h] "+m"(host) : [a] cons(val), [c] "m"(csr))
	uint32_t a32 = (uint32_t)a;

	if (pfx == P_F3 && q)
		HOST_CVTSI("cvtsi2ssq", "r", a);
	else if (pfx == P_F3)
		HOST_CVTSI("cvtsi2ssl", "r", a32);
	else if (q)
		HOST_CVTSI("cvtsi2sdq", "r", a);
	else
		HOST_CVTSI("cvtsi2sdl", "r", a32);
#undef HOST_CVTSI
	*dst = d;
	return out & MXCSR_FLAGS;
}

/* CVTSS2SI, CVTTSS2SI, CVTSD2SI, CVTTSD2SI r32|64, xmm. */
static uint32_t host_cvt2si(unsigned opc, unsigned pfx, bool q, v2di s, uint32_t csr, uint64_t *res)
{
	uint32_t out = 0, host = 0;
	uint64_t r = 0;

#define HOST_CVT2SI(insn, reg) \
	asm volatile("stmxcsr %[h]\n\tldmxcsr %[c]\n\t" insn " %[s], " reg "\n\t" \
		     "stmxcsr %[o]\n\tldmxcsr %[h]" \
		     : [r] "+r"(r), [o] "=m"(out), [h] "+m"(host) : [s] "x"(s), [c] "m"(csr))
	unsigned k = (pfx == P_F3 ? 0 : 4) | (opc == 0x2c ? 0 : 2) | q;

	switch (k) {
	case 0: HOST_CVT2SI("cvttss2si", "%k[r]"); break;
	case 1: HOST_CVT2SI("cvttss2si", "%q[r]"); break;
	case 2: HOST_CVT2SI("cvtss2si", "%k[r]"); break;
	case 3: HOST_CVT2SI("cvtss2si", "%q[r]"); break;
	case 4: HOST_CVT2SI("cvttsd2si", "%k[r]"); break;
	case 5: HOST_CVT2SI("cvttsd2si", "%q[r]"); break;
	case 6: HOST_CVT2SI("cvtsd2si", "%k[r]"); break;
	default: HOST_CVT2SI("cvtsd2si", "%q[r]"); break;
	}
#undef HOST_CVT2SI
	*res = q ? r : r & 0xffffffffULL;
	return out & MXCSR_FLAGS;
}

/*
 * The guest's MXCSR as the host runs one instruction under it: its
 * rounding control, DAZ and FZ, every exception masked, no flag.
 */
static uint32_t run_csr(uint32_t mxcsr)
{
	return (mxcsr & (MXCSR_RC | MXCSR_DAZ | MXCSR_FZ)) | MXCSR_MASKS;
}

/*
 * What the flags an instruction raised (with every exception masked) mean
 * for the guest (SDM Vol. 1 11.5.2): when one of invalid, denormal or
 * divide-by-zero is unmasked, only those pre-computation flags are set and
 * the instruction faults; when overflow or underflow is unmasked, it faults
 * with every flag raised set, except that precision then says whether the
 * result rounded with an unbounded exponent is inexact (pe_trap, from
 * x87_inexact: the masked run's precision flag describes the infinity or
 * denormal it delivered instead); when precision alone is unmasked, every
 * flag raised is set and it faults; otherwise the flags join MXCSR's and
 * the result is stored. uflags are the flags of the same
 * instruction run with FZ set, whose UE reports every tiny result: an
 * unmasked underflow traps on a tiny result even when it is exact.
 * X86_OK: store the result.
 */
static bool sse_post_trap(const struct vcpu_soft *v, uint32_t flags, uint32_t uflags)
{
	uint32_t unmasked = ~(v->sse.mxcsr >> 7) & MXCSR_FLAGS;

	if (unmasked & MXCSR_UE)
		flags |= uflags & MXCSR_UE;
	return !(flags & unmasked & (MXCSR_IE | MXCSR_DE | MXCSR_ZE)) &&
	       (flags & unmasked & (MXCSR_OE | MXCSR_UE));
}

static int sse_fp_done(struct vcpu_soft *v, uint32_t flags, uint32_t uflags, uint32_t pe_trap)
{
	uint32_t unmasked = ~(v->sse.mxcsr >> 7) & MXCSR_FLAGS;
	uint32_t pre = MXCSR_IE | MXCSR_DE | MXCSR_ZE;

	if (unmasked & MXCSR_UE)
		flags |= uflags & MXCSR_UE;
	if (flags & unmasked & pre) {
		v->sse.mxcsr |= flags & pre;
	} else if (flags & unmasked & (MXCSR_OE | MXCSR_UE)) {
		v->sse.mxcsr |= (flags & ~MXCSR_PE) | pe_trap;
	} else if (flags & unmasked) {
		v->sse.mxcsr |= flags;
	} else {
		v->sse.mxcsr |= flags;
		return X86_OK;
	}
	if (v->cr4 & CR4_OSXMMEXCPT)
		return x86_raise(v, EXC_XM, false, 0);
	return x86_ud(v);
}

/*
 * Is d op s (op: ADD, SUB, MUL, DIV, or a conversion of s to single
 * precision) inexact when rounded to the precision of the format under the
 * guest's rounding control, with an exponent range no float or double
 * result can leave? The x87 unit answers: its 15-bit exponent holds every
 * such result, and its precision control rounds the significand to 24 or
 * 53 bits. With DAZ, denormal operands count as zero, as SSE takes them.
 */
static bool x87_inexact(unsigned opc, bool dbl, uint64_t d, uint64_t s, uint32_t mxcsr)
{
	uint64_t expm = dbl ? 0x7ff0000000000000ULL : 0x7f800000ULL;
	uint64_t sign = dbl ? 1ULL << 63 : 1ULL << 31;
	uint16_t cw, old = 0, sw = 0;
	float fd, fs;
	double dd, ds;

	if (mxcsr & MXCSR_DAZ) {
		if (!(d & expm))
			d &= sign;
		if (!(s & expm))
			s &= sign;
	}
	if (opc == 0x5a)        /* CVTPD2PS, CVTSD2SS: the double s rounded to single */
		dbl = false;
	cw = (uint16_t)(0x3f | (dbl ? 0x200 : 0) | (((mxcsr >> 13) & 3) << 10));
#define X87(load, op, opa, opb) \
	asm volatile("fnstcw %[old]\n\tfldcw %[cw]\n\tfnclex\n\t" load " %[b]\n\t" load " %[a]\n\t" \
		     op "\n\tfnstsw %[sw]\n\tfstp %%st(0)\n\tfstp %%st(0)\n\tfldcw %[old]" \
		     : [old] "+m"(old), [sw] "=m"(sw) : [cw] "m"(cw), [a] "m"(opa), [b] "m"(opb))
	if (opc == 0x5a) {
		memcpy(&ds, &s, 8);
		double one = 1.0;
		X87("fldl", "fmul %%st(1), %%st", one, ds);
		return sw & 0x20;
	}
	if (dbl) {
		memcpy(&dd, &d, 8);
		memcpy(&ds, &s, 8);
	} else {
		uint32_t d32 = (uint32_t)d, s32 = (uint32_t)s;
		memcpy(&fd, &d32, 4);
		memcpy(&fs, &s32, 4);
	}
	switch (opc) {
	case 0x58:
		if (dbl)
			X87("fldl", "fadd %%st(1), %%st", dd, ds);
		else
			X87("flds", "fadd %%st(1), %%st", fd, fs);
		break;
	case 0x5c:
		if (dbl)
			X87("fldl", "fsub %%st(1), %%st", dd, ds);
		else
			X87("flds", "fsub %%st(1), %%st", fd, fs);
		break;
	case 0x59:
		if (dbl)
			X87("fldl", "fmul %%st(1), %%st", dd, ds);
		else
			X87("flds", "fmul %%st(1), %%st", fd, fs);
		break;
	default:
		if (dbl)
			X87("fldl", "fdiv %%st(1), %%st", dd, ds);
		else
			X87("flds", "fdiv %%st(1), %%st", fd, fs);
		break;
	}
#undef X87
	return sw & 0x20;
}

/*
 * The precision flag to report with an unmasked overflow or underflow
 * (sse_fp_done): any lane the instruction computes inexact with an
 * unbounded exponent, or, with FZ under a masked underflow, a lane flushed
 * to zero (which the masked run's UE then reports).
 */
static uint32_t pe_unbounded(unsigned opc, unsigned pfx, const union xmm *d, const union xmm *s,
			     uint32_t mxcsr, uint32_t flags)
{
	bool dbl = pfx == P_66 || pfx == P_F2;
	unsigned lanes = pfx == P_F3 || pfx == P_F2 ? 1 : dbl ? 2 : 4;
	bool pe = false;

	if (opc == 0x5a)        /* 66: CVTPD2PS (2 lanes), F2: CVTSD2SS (1) */
		dbl = true;
	for (unsigned i = 0; i < lanes; i++) {
		if (dbl)
			pe |= x87_inexact(opc, true, d->q[i], s->q[i], mxcsr);
		else
			pe |= x87_inexact(opc, false, d->d[i], s->d[i], mxcsr);
	}
	if ((mxcsr & MXCSR_FZ) && (mxcsr & (MXCSR_UE << 7)) && (flags & MXCSR_UE))
		pe = true;
	return pe ? MXCSR_PE : 0;
}

/* The memory size of the source of a floating-point form. */
static unsigned fp_src_size(unsigned opc, unsigned pfx)
{
	switch (opc) {
	case 0x5a:
		return pfx == P_NP ? 8 : pfx == P_66 ? 16 : pfx == P_F3 ? 4 : 8;
	case 0xe6:
		return pfx == P_F3 ? 8 : 16;
	case 0x5b:
		return 16;
	case 0x2e: case 0x2f:
		return pfx == P_66 ? 8 : 4;
	case 0x2c: case 0x2d:
		return pfx == P_F3 ? 4 : 8;
	default:
		return pfx == P_F3 ? 4 : pfx == P_F2 ? 8 : 16;
	}
}

/* Arithmetic, comparisons and conversions between XMM lanes. */
static int sse_fp(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned opc = in->op & 0xff, pfx = sse_pfx(in);
	uint32_t csr = run_csr(v->sse.mxcsr), flags, uflags = 0, pe = 0;
	bool ufz = !(v->sse.mxcsr & (MXCSR_UE << 7));   /* underflow unmasked */
	union xmm s, *d = xreg(v, in->reg);
	v2di sv, dv, t;
	int st;

	if ((st = sse_avail(v)) || (st = src_get(v, in, fp_src_size(opc, pfx), &s)))
		return st;
	memcpy(&sv, &s, 16);
	memcpy(&dv, d, 16);
	if (opc == 0x2e || opc == 0x2f) {
		uint64_t fl, fl2;
		flags = host_comi(opc, pfx, dv, sv, csr, &fl);
		if (ufz)
			uflags = host_comi(opc, pfx, dv, sv, csr | MXCSR_FZ, &fl2);
		if ((st = sse_fp_done(v, flags, uflags, 0)))
			return st;
		v->rflags = (flags_get(v) & ~RF_ARITH) | fl;
		return X86_OK;
	}
	if (opc == 0x2c || opc == 0x2d) {
		uint64_t r, r2;
		bool q = (in->rex & 8) != 0;
		flags = host_cvt2si(opc, pfx, q, sv, csr, &r);
		if (ufz)
			uflags = host_cvt2si(opc, pfx, q, sv, csr | MXCSR_FZ, &r2);
		if ((st = sse_fp_done(v, flags, uflags, 0)))
			return st;
		v->gpr[in->reg] = r;
		return X86_OK;
	}
	t = dv;
	flags = host_fp(opc, pfx, (unsigned)in->imm, &t, sv, csr);
	if (ufz) {
		v2di t2 = dv;
		uflags = host_fp(opc, pfx, (unsigned)in->imm, &t2, sv, csr | MXCSR_FZ);
	}
	if (sse_post_trap(v, flags, uflags))
		pe = pe_unbounded(opc, pfx, d, &s, v->sse.mxcsr, flags);
	if ((st = sse_fp_done(v, flags, uflags, pe)))
		return st;
	memcpy(d, &t, 16);
	return X86_OK;
}

/* F3/F2 2A: CVTSI2SS, CVTSI2SD xmm, r/m32|64. */
static int sse_cvtsi(struct vcpu_soft *v, const struct x86_insn *in)
{
	bool q = (in->rex & 8) != 0;
	uint32_t csr = run_csr(v->sse.mxcsr), flags, uflags = 0;
	union xmm *d = xreg(v, in->reg);
	v2di dv, t;
	uint64_t a;
	int st;

	if ((st = sse_avail(v)) || (st = rm_read(v, in, q ? 8 : 4, &a)))
		return st;
	memcpy(&dv, d, 16);
	t = dv;
	flags = host_cvtsi(sse_pfx(in), q, a, &t, csr);
	if (!(v->sse.mxcsr & (MXCSR_UE << 7))) {
		v2di t2 = dv;
		uflags = host_cvtsi(sse_pfx(in), q, a, &t2, csr | MXCSR_FZ);
	}
	if ((st = sse_fp_done(v, flags, uflags, 0)))
		return st;
	memcpy(d, &t, 16);
	return X86_OK;
}

/*
 * The conversions with an MMX register: NP 2A CVTPI2PS xmm, mm/m64; 66 2A
 * CVTPI2PD xmm, mm/m64; NP 2D/2C CVT(T)PS2PI mm, xmm/m64; 66 2D/2C
 * CVT(T)PD2PI mm, xmm/m128. Each is its XMM twin on the low lanes
 * (CVTDQ2PS, CVTDQ2PD, CVT(T)PS2DQ, CVT(T)PD2DQ) with the other lanes 0,
 * which raise no flag. A memory source of CVTPI2PS/PD leaves the x87
 * state alone; every other form is an MMX instruction for the tags.
 */
static int sse_cvt_mmx(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned opc = in->op & 0xff, pfx = sse_pfx(in);
	bool to_xmm = opc == 0x2a, mmx_state = !to_xmm || in->mod == 3;
	uint32_t csr = run_csr(v->sse.mxcsr), flags;
	union xmm s, *d = xreg(v, in->reg);
	v2di sv, t;
	int st;

	if ((st = mmx_state ? sse_mmx_avail(v) : sse_avail(v)))
		return st;
	if (to_xmm) {
		if ((st = mmx_src(v, in, &s)))
			return st;
	} else if ((st = src_get(v, in, pfx == P_66 ? 16 : 8, &s))) {
		return st;
	}
	if (!to_xmm && pfx == P_NP)
		s.q[1] = 0;
	memcpy(&sv, &s, 16);
	memcpy(&t, d, 16);
	if (to_xmm)
		flags = pfx == P_NP ? host_fp(0x5b, P_NP, 0, &t, sv, csr) : host_fp(0xe6, P_F3, 0, &t, sv, csr);
	else if (pfx == P_NP)
		flags = host_fp(0x5b, opc == 0x2d ? P_66 : P_F3, 0, &t, sv, csr);
	else
		flags = host_fp(0xe6, opc == 0x2d ? P_F2 : P_66, 0, &t, sv, csr);
	if ((st = sse_fp_done(v, flags, 0, 0)))
		return st;
	if (mmx_state)
		mmx_enter(v);
	if (!to_xmm) {
		union xmm r;
		memcpy(&r, &t, 16);
		mm_set(v, in->reg, r.q[0]);
	} else if (pfx == P_NP) {
		memcpy(&d->q[0], &t, 8);       /* CVTPI2PS: the upper lanes stay */
	} else {
		memcpy(d, &t, 16);
	}
	return X86_OK;
}

/* ---- group 15: FXSAVE, FXRSTOR, LDMXCSR, STMXCSR ---- */

/* The FXSAVE image's XMM area holds XMM0-15 in 64-bit mode, XMM0-7 elsewhere. */
static unsigned fx_nxmm(const struct vcpu_soft *v)
{
	return v->mode == 64 ? 16 : 8;
}

/*
 * FXSAVE (SDM Vol. 2A FXSAVE, Table 3-53/3-56): x87 words, MXCSR and its
 * mask, ST0-7, the XMM registers. REX.W selects the 64-bit instruction and
 * operand pointers; otherwise they are 32 bits with their selectors. The
 * whole 512-byte area is checked for write; bytes past the XMM area are
 * reserved or software's and are not written.
 */
static int op_fxsave(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint8_t img[512];
	unsigned used = 160 + 16 * fx_nxmm(v);
	struct mref m;
	uint64_t lin;
	int st;

	if (v->cr0 & (CR0_EM | CR0_TS))
		return x86_raise(v, EXC_NM, false, 0);
	if ((st = op_lin(v, in, 512, true, &lin)) ||
	    (st = mref_get(v, lin, 512, ACC_WRITE | op_acc(in), &m)))
		return st;
	memset(img, 0, sizeof(img));
	memcpy(img + 0, &v->fcw, 2);
	memcpy(img + 2, &v->fsw, 2);
	img[4] = v->sse.ftw;
	memcpy(img + 6, &v->sse.fop, 2);
	if (in->rex & 8) {
		memcpy(img + 8, &v->sse.fip, 8);
		memcpy(img + 16, &v->sse.fdp, 8);
	} else {
		memcpy(img + 8, &v->sse.fip, 4);
		memcpy(img + 12, &v->sse.fcs, 2);
		memcpy(img + 16, &v->sse.fdp, 4);
		memcpy(img + 20, &v->sse.fds, 2);
	}
	memcpy(img + 24, &v->sse.mxcsr, 4);
	uint32_t mask = MXCSR_WRITABLE;
	memcpy(img + 28, &mask, 4);
	for (unsigned i = 0; i < 8; i++)        /* ST(i): physical register TOS + i */
		memcpy(img + 32 + 16 * i, v->sse.st[(((v->fsw >> 11) & 7) + i) & 7], 10);
	for (unsigned i = 0; i < fx_nxmm(v); i++)
		memcpy(img + 160 + 16 * i, &v->sse.xmm[i], 16);
	mref_out(v, &m, used, img);
	return X86_OK;
}

static int op_fxrstor(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint8_t img[512];
	uint32_t mxcsr;
	int st;

	if (v->cr0 & (CR0_EM | CR0_TS))
		return x86_raise(v, EXC_NM, false, 0);
	if ((st = mem_in(v, in, 512, true, img)))
		return st;
	memcpy(&mxcsr, img + 24, 4);
	if (mxcsr & ~MXCSR_WRITABLE)
		return x86_gp(v, 0);
	memcpy(&v->fcw, img + 0, 2);
	v->fcw |= 0x40;   /* bit 6 reads as 1, as after FLDCW */
	memcpy(&v->fsw, img + 2, 2);
	v->sse.ftw = img[4];
	memcpy(&v->sse.fop, img + 6, 2);
	v->sse.fop &= 0x7ff;
	if (in->rex & 8) {
		memcpy(&v->sse.fip, img + 8, 8);
		memcpy(&v->sse.fdp, img + 16, 8);
		v->sse.fcs = v->sse.fds = 0;
	} else {
		uint32_t ip, dp;
		memcpy(&ip, img + 8, 4);
		memcpy(&v->sse.fcs, img + 12, 2);
		memcpy(&dp, img + 16, 4);
		memcpy(&v->sse.fds, img + 20, 2);
		v->sse.fip = ip;
		v->sse.fdp = dp;
	}
	v->sse.mxcsr = mxcsr;
	for (unsigned i = 0; i < 8; i++)
		memcpy(v->sse.st[(((v->fsw >> 11) & 7) + i) & 7], img + 32 + 16 * i, 10);
	for (unsigned i = 0; i < fx_nxmm(v); i++)
		memcpy(&v->sse.xmm[i], img + 160 + 16 * i, 16);
	return X86_OK;
}

/* LDMXCSR m32: #GP(0) for a reserved bit. */
static int op_ldmxcsr(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint32_t a = 0;
	int st;

	if ((st = sse_avail(v)) || (st = mem_in(v, in, 4, false, &a)))
		return st;
	if (a & ~MXCSR_WRITABLE)
		return x86_gp(v, 0);
	v->sse.mxcsr = a;
	return X86_OK;
}

static int op_stmxcsr(struct vcpu_soft *v, const struct x86_insn *in)
{
	int st;

	if ((st = sse_avail(v)))
		return st;
	return mem_out(v, in, 4, false, &v->sse.mxcsr);
}

sse_exec_fn sel_grp15(const struct x86_insn *in)
{
	if (in->mod != 3 && !in->rep && !in->pfx66) {
		switch (in->reg & 7) {
		case 0: return op_fxsave;
		case 1: return op_fxrstor;
		case 2: return op_ldmxcsr;
		case 3: return op_stmxcsr;
		}
	}
	return op_fence;
}

sse_exec_fn sel_sse(const struct x86_insn *in)
{
	unsigned opc = in->op & 0xff, pfx = sse_pfx(in);

	if (!sse_supported(in))
		return op_invalid;
	if (opc == 0x2a || opc == 0x2c || opc == 0x2d) {
		if (pfx == P_NP || pfx == P_66)
			return sse_cvt_mmx;
	} else if (opc == 0xd6 && pfx != P_66) {
		return mmx_move;
	} else if (pfx == P_NP && opc != 0xc3 && ((opc >= 0x60 && opc <= 0x7f) || opc >= 0xc4)) {
		switch (opc) {
		case 0x6e: case 0x6f: case 0x77: case 0x7e: case 0x7f: case 0xe7: case 0xc4: case 0xc5:
		case 0xd7:
			return mmx_move;
		case 0x71: case 0x72: case 0x73:
			return mmx_shift_imm;
		case 0xf7:
			return sse_maskmov;
		case 0xc6:
			break;            /* SHUFPS */
		default:
			return mmx_int;
		}
	}
	switch (opc) {
	case 0x10: case 0x11: case 0x12: case 0x13: case 0x16: case 0x17: case 0x28: case 0x29:
	case 0x2b: case 0x6f: case 0x7f: case 0xe7:
		return sse_mov;
	case 0x6e: case 0x7e: case 0xd6:
		return sse_movdq;
	case 0x50: case 0xd7: case 0xc4: case 0xc5:
		return sse_gpr;
	case 0xc3:
		return sse_movnti;
	case 0xf7:
		return sse_maskmov;
	case 0x71: case 0x72: case 0x73:
		return sse_shift_imm;
	case 0x70: case 0xc6:
		return sse_shuf;
	case 0x2a:
		return sse_cvtsi;
	case 0x2c: case 0x2d: case 0x2e: case 0x2f: case 0x51: case 0x52: case 0x53: case 0x58:
	case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f: case 0xc2:
	case 0xe6:
		return sse_fp;
	default:
		return sse_int;
	}
}
