/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/seg.c - segmentation: descriptors, segment-register loads, far
 * JMP/CALL/RET and IRET with their privilege checks, LTR/LLDT/STR/SLDT
 * (SDM Vol. 3A ch. 3 and 5, Vol. 2 for each instruction).
 *
 * Everything a guest can get wrong here raises the exception the SDM names
 * (#GP, #NP, #SS, #TS); nothing aborts hv.
 */
#include <string.h>

#include "hv/cpu/flags.h"
#include "hv/cpu/mem.h"
#include "hv/cpu/optab.h"

void seg_flat(struct vcpu_segment *s, uint16_t sel, uint8_t type, bool code64, unsigned dpl)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->base = 0;
	s->limit = 0xffffffff;
	s->type = type;
	s->s = 1;
	s->dpl = (uint8_t)dpl;
	s->present = 1;
	s->g = 1;
	s->l = code64;
	s->db = !code64;
}

/* ------------------------------------------------------------------------ */
/* Descriptors (SDM Vol. 3A 3.4.5, 3.5)                                      */
/* ------------------------------------------------------------------------ */

void seg_from_desc(struct vcpu_segment *s, uint16_t sel, uint64_t d)
{
	uint32_t limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
	s->selector = sel;
	s->base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
	s->type = (d >> 40) & 0xf;
	s->s = (d >> 44) & 1;
	s->dpl = (d >> 45) & 3;
	s->present = (d >> 47) & 1;
	s->avl = (d >> 52) & 1;
	s->l = (d >> 53) & 1;
	s->db = (d >> 54) & 1;
	s->g = (d >> 55) & 1;
	s->limit = s->g ? (limit << 12) | 0xfff : limit;
	s->unusable = 0;
}

/*
 * lin_read and lin_write for the accesses the vCPU makes on its own behalf:
 * descriptor tables, the IDT, the TSS and event frames, with acc as
 * implicit_sv() and MEM_STACK make it. When acc asks for a plain access (no
 * ACC_IMPLICIT_SV), the access lies on one page and no data breakpoint is
 * armed, the model's shortcut serves it as it serves a load or a store
 * (xlate_hit: the same translation, counted the same, as lin_read's and
 * lin_write's); otherwise, or when the shortcut misses, lin_read or
 * lin_write makes it with every check, fault and exit.
 */
int sys_read(struct vcpu_soft *v, uint64_t lin, unsigned size, void *buf, unsigned acc)
{
	uint64_t hpa;

	if (!(acc & ACC_IMPLICIT_SV) && (lin & 0xfff) + size <= 4096 && !v->dbg_data &&
	    xlate_hit(v, lin, ACC_READ, &hpa)) {
		v->stats.loads++;
		memcpy(buf, hpool_ptr(v->pool, hpa), size);
		return X86_OK;
	}
	return lin_read(v, lin, size, buf, acc);
}

int sys_write(struct vcpu_soft *v, uint64_t lin, unsigned size, const void *buf, unsigned acc)
{
	uint64_t hpa;

	if (!(acc & ACC_IMPLICIT_SV) && (lin & 0xfff) + size <= 4096 && !v->dbg_data &&
	    xlate_hit(v, lin, ACC_WRITE, &hpa)) {
		v->stats.stores++;
		memcpy(hpool_ptr(v->pool, hpa), buf, size);
		return X86_OK;
	}
	return lin_write(v, lin, size, buf, acc);
}

/* Read the 8-byte descriptor for `sel` from the GDT or LDT; #GP(sel) past the limit. */
int desc_read(struct vcpu_soft *v, uint16_t sel, uint64_t *d, uint64_t *where)
{
	uint64_t base, limit, idx = sel & ~7u;
	if (sel & 4) {
		if (v->ldt.unusable)
			return x86_gp(v, sel & ~3u);
		base = v->ldt.base;
		limit = v->ldt.limit;
	} else {
		base = v->gdt.base;
		limit = v->gdt.limit;
	}
	if (idx + 7 > limit)
		return x86_gp(v, sel & ~3u);
	*where = base + idx;
	if (!long_mode(v))
		*where &= 0xffffffffULL;
	*d = 0;
	return sys_read(v, *where, 8, d, implicit_sv(v));
}

/* The processor sets the accessed bit of a segment descriptor it loads. */
int desc_set_accessed(struct vcpu_soft *v, uint64_t where, uint64_t d)
{
	if (d & (1ULL << 40))
		return X86_OK;
	uint8_t b = (uint8_t)((d >> 40) | 1);
	return sys_write(v, where + 5, 1, &b, implicit_sv(v));
}

/* MOV/POP to DS, ES, FS, GS, SS (SDM Vol. 2B MOV: protected-mode checks). */
int cpu_load_seg(struct vcpu_soft *v, unsigned sreg, uint16_t sel)
{
	struct vcpu_segment *s = &v->seg[sreg];
	uint64_t d, where;
	unsigned rpl = sel & 3;
	int st;

	if (!(v->cr0 & CR0_PE)) {
		s->selector = sel;
		s->base = (uint64_t)sel << 4;
		s->unusable = 0;
		return X86_OK;
	}
	if ((sel & ~3u) == 0) {
		/* A null SS is only allowed in 64-bit mode below CPL 3 with RPL = CPL. */
		if (sreg == SEG_SS && !(v->mode == 64 && v->cpl < 3 && rpl == v->cpl))
			return x86_gp(v, 0);
		s->selector = sel;
		s->unusable = 1;
		if (sreg == SEG_SS)
			s->dpl = (uint8_t)v->cpl;
		return X86_OK;
	}
	if ((st = desc_read(v, sel, &d, &where)))
		return st;
	struct vcpu_segment n;
	seg_from_desc(&n, sel, d);
	bool code = n.type & 8;
	if (sreg == SEG_SS) {
		if (rpl != v->cpl || !n.s || code || !(n.type & 2) || n.dpl != v->cpl)
			return x86_gp(v, sel & ~3u);
		if (!n.present)
			return x86_raise(v, EXC_SS, true, sel & ~3u);
	} else {
		if (!n.s || (code && !(n.type & 2)))
			return x86_gp(v, sel & ~3u);
		/* data and non-conforming code: DPL >= max(CPL, RPL) */
		if ((!code || !(n.type & 4)) && (n.dpl < v->cpl || n.dpl < rpl))
			return x86_gp(v, sel & ~3u);
		if (!n.present)
			return x86_raise(v, EXC_NP, true, sel & ~3u);
	}
	if ((st = desc_set_accessed(v, where, d)))
		return st;
	n.type |= 1;
	/* In 64-bit mode the FS/GS base may have come from the MSRs; a load replaces it (32 bits). */
	*s = n;
	return X86_OK;
}

/* Check and fetch a code-segment descriptor for a far JMP/CALL/RET/IRET. */
static int code_desc(struct vcpu_soft *v, uint16_t sel, struct vcpu_segment *n, uint64_t *where,
		     uint64_t *d)
{
	int st;
	if ((sel & ~3u) == 0)
		return x86_gp(v, 0);
	if ((st = desc_read(v, sel, d, where)))
		return st;
	seg_from_desc(n, sel, *d);
	if (!n->s || !(n->type & 8))
		return x86_gp(v, sel & ~3u);
	if (long_mode(v) && n->l && n->db)
		return x86_gp(v, sel & ~3u);
	return X86_OK;
}

/*
 * The code segment a far RET or IRET returns to (SDM RET, IRET): never to a
 * more privileged level, at exactly the selector's RPL (a conforming segment:
 * DPL at most RPL), and present.
 */
static int return_code_desc(struct vcpu_soft *v, uint64_t cs, struct vcpu_segment *n, uint64_t *where,
			    uint64_t *d)
{
	unsigned rpl = cs & 3;
	int st;

	if ((st = code_desc(v, (uint16_t)cs, n, where, d)))
		return st;
	if (rpl < v->cpl || ((n->type & 4) ? n->dpl > rpl : n->dpl != rpl))
		return x86_gp(v, (uint32_t)cs & ~3u);
	if (!n->present)
		return x86_raise(v, EXC_NP, true, (uint32_t)cs & ~3u);
	return X86_OK;
}

/* CS loaded from n at privilege level cpl, the mode not yet updated. */
static void cs_load(struct vcpu_soft *v, const struct vcpu_segment *n, unsigned cpl)
{
	v->seg[SEG_CS] = *n;
	v->seg[SEG_CS].selector = (uint16_t)((n->selector & ~3u) | cpl);
	v->seg[SEG_CS].type |= 1;
}

void set_cs(struct vcpu_soft *v, const struct vcpu_segment *n, unsigned cpl)
{
	cs_load(v, n, cpl);
	cpu_update_mode(v);
}

uint64_t ip_mask_for(const struct vcpu_soft *v, const struct vcpu_segment *cs)
{
	if (long_mode(v) && cs->l)
		return ~0ULL;
	return cs->db ? 0xffffffffULL : 0xffffULL;
}

/* Far JMP/CALL to a code segment (call gates and task switches are not supported: #GP). */
int cpu_far_transfer(struct vcpu_soft *v, uint16_t sel, uint64_t off, bool call, unsigned osz,
		     uint64_t ret_rip)
{
	struct vcpu_segment n;
	uint64_t where, d;
	int st;

	if (!(v->cr0 & CR0_PE)) {
		if (call) {
			if ((st = stack_push(v, osz, v->seg[SEG_CS].selector)))
				return st;
			if ((st = stack_push(v, osz, ret_rip)))
				return st;
		}
		v->seg[SEG_CS].selector = sel;
		v->seg[SEG_CS].base = (uint64_t)sel << 4;
		v->next_rip = off & size_mask(osz);
		return X86_OK;
	}
	if ((st = code_desc(v, sel, &n, &where, &d)))
		return st;
	if (n.type & 4) {
		if (n.dpl > v->cpl)
			return x86_gp(v, sel & ~3u);
	} else if ((sel & 3) > v->cpl || n.dpl != v->cpl) {
		return x86_gp(v, sel & ~3u);
	}
	if (!n.present)
		return x86_raise(v, EXC_NP, true, sel & ~3u);
	uint64_t target = off & ip_mask_for(v, &n);
	if (long_mode(v) && n.l && !is_canonical(v, target))
		return x86_gp(v, 0);
	if ((st = desc_set_accessed(v, where, d)))
		return st;
	if (call) {
		/* Both pushes must fit before anything changes. */
		uint64_t rsp = v->gpr[4];
		if ((st = stack_push(v, osz, v->seg[SEG_CS].selector)) ||
		    (st = stack_push(v, osz, ret_rip))) {
			v->gpr[4] = rsp;
			return st;
		}
	}
	set_cs(v, &n, v->cpl);
	v->next_rip = target;
	return X86_OK;
}

/* Data segment registers that the new, less privileged code (at cpl) may not use
 * become null (SDM Vol. 2A IRET/RET: "return to outer privilege level"). */
static void null_outer_segs(struct vcpu_soft *v, unsigned cpl)
{
	static const unsigned segs[4] = { SEG_ES, SEG_DS, SEG_FS, SEG_GS };
	for (unsigned i = 0; i < 4; i++) {
		struct vcpu_segment *s = &v->seg[segs[i]];
		bool conforming_code = (s->type & 0xc) == 0xc;
		if (!s->unusable && !conforming_code && s->dpl < cpl) {
			s->selector = 0;
			s->unusable = 1;
		}
	}
}

/*
 * The stack segment a far RET to an outer privilege level, or an IRET that
 * pops SS:RSP, switches to (SDM Vol. 2A IRET, Vol. 2B RET): a present,
 * writable data segment with RPL and DPL equal to the new CPL `rpl`. A null
 * selector is allowed only when returning to 64-bit code below CPL 3; SS is
 * then unusable with DPL = the new CPL.
 */
static int return_stack_desc(struct vcpu_soft *v, uint64_t nss, unsigned rpl,
			     const struct vcpu_segment *cs, struct vcpu_segment *ss)
{
	uint64_t sw, sd;
	int st;

	if ((nss & ~3u) == 0) {
		if (!(long_mode(v) && cs->l && rpl < 3))
			return x86_gp(v, 0);
		*ss = v->seg[SEG_SS];
		ss->selector = (uint16_t)nss;
		ss->unusable = 1;
		ss->dpl = (uint8_t)rpl;
		return X86_OK;
	}
	if ((st = desc_read(v, (uint16_t)nss, &sd, &sw)))
		return st;
	seg_from_desc(ss, (uint16_t)nss, sd);
	if ((nss & 3) != rpl || !ss->s || (ss->type & 8) || !(ss->type & 2) || ss->dpl != rpl)
		return x86_gp(v, (uint32_t)nss & ~3u);
	if (!ss->present)
		return x86_raise(v, EXC_SS, true, (uint32_t)nss & ~3u);
	return X86_OK;
}

/* A read from the stack at off for a far RET or IRET: the model's shortcut
 * first in 64-bit mode (mem_read_hit, the same access as mem_read's). */
static inline int stack_read_at(struct vcpu_soft *v, uint64_t off, unsigned size, uint64_t *val)
{
	if (v->mode == 64 && mem_read_hit(v, off, size, val))
		return X86_OK;
	return mem_read(v, SEG_SS, off, size, val);
}

int cpu_far_return(struct vcpu_soft *v, unsigned osz, uint16_t pop_bytes)
{
	uint64_t sp = v->gpr[4], ssz = stack_size(v), m = size_mask(ssz);
	uint64_t ip, cs, nsp = 0, nss = 0;
	int st;

	if ((st = stack_read_at(v, sp & m, osz, &ip)) ||
	    (st = stack_read_at(v, (sp + osz) & m, osz, &cs)))
		return st;
	struct vcpu_segment n;
	uint64_t where, d;
	if (!(v->cr0 & CR0_PE)) {
		v->seg[SEG_CS].selector = (uint16_t)cs;
		v->seg[SEG_CS].base = (cs & 0xffff) << 4;
		v->gpr[4] = (sp & ~m) | ((sp + 2 * osz + pop_bytes) & m);
		v->next_rip = ip & size_mask(osz);
		return X86_OK;
	}
	if ((st = return_code_desc(v, cs, &n, &where, &d)))
		return st;
	unsigned rpl = cs & 3;
	if (rpl > v->cpl) {
		if ((st = stack_read_at(v, (sp + 2 * osz + pop_bytes) & m, osz, &nsp)) ||
		    (st = stack_read_at(v, (sp + 3 * osz + pop_bytes) & m, osz, &nss)))
			return st;
		struct vcpu_segment ss;
		if ((st = return_stack_desc(v, nss, rpl, &n, &ss)))
			return st;
		set_cs(v, &n, rpl);
		v->seg[SEG_SS] = ss;
		cpu_update_mode(v);
		v->gpr[4] = nsp + pop_bytes;
		null_outer_segs(v, v->cpl);
	} else {
		set_cs(v, &n, v->cpl);
		v->gpr[4] = (sp & ~m) | ((sp + 2 * osz + pop_bytes) & m);
	}
	v->next_rip = ip & ip_mask_for(v, &v->seg[SEG_CS]);
	return X86_OK;
}

/* IRET (SDM Vol. 2A IRET, protected mode and IA-32e mode; no task return, no VM86). */
int cpu_iret(struct vcpu_soft *v, unsigned osz)
{
	uint64_t sp = v->gpr[4], m = size_mask(stack_size(v));
	uint64_t ip, cs, fl, nsp = 0, nss = 0;
	int st;

	if (!(v->cr0 & CR0_PE)) {
		if ((st = stack_read_at(v, sp & m, osz, &ip)) ||
		    (st = stack_read_at(v, (sp + osz) & m, osz, &cs)) ||
		    (st = stack_read_at(v, (sp + 2 * osz) & m, osz, &fl)))
			return st;
		v->seg[SEG_CS].selector = (uint16_t)cs;
		v->seg[SEG_CS].base = (cs & 0xffff) << 4;
		flags_set(v, osz == 2 ? (flags_get(v) & ~0xffffULL) | fl : fl);
		v->gpr[4] = (sp & ~m) | ((sp + 3 * osz) & m);
		v->next_rip = ip & size_mask(osz);
		cpu_update_mode(v);
		return X86_OK;
	}
	if (flags_get(v) & RF_NT)
		return x86_gp(v, 0);  /* task return: no hardware task switching here */
	if ((st = stack_read_at(v, sp & m, osz, &ip)) ||
	    (st = stack_read_at(v, (sp + osz) & m, osz, &cs)) ||
	    (st = stack_read_at(v, (sp + 2 * osz) & m, osz, &fl)))
		return st;
	struct vcpu_segment n, ss;
	uint64_t where, d;
	if ((st = return_code_desc(v, cs, &n, &where, &d)))
		return st;
	unsigned rpl = cs & 3;
	/* In 64-bit mode IRET always pops SS:RSP; otherwise only on a privilege change. */
	bool pop_ss = v->mode == 64 || rpl > v->cpl;
	if (pop_ss) {
		if ((st = stack_read_at(v, (sp + 3 * osz) & m, osz, &nsp)) ||
		    (st = stack_read_at(v, (sp + 4 * osz) & m, osz, &nss)))
			return st;
		if ((st = return_stack_desc(v, nss, rpl, &n, &ss)))
			return st;
	}
	uint64_t target = ip & ip_mask_for(v, &n);
	if (long_mode(v) && n.l && !is_canonical(v, target))
		return x86_gp(v, 0);

	/* Which RFLAGS bits the old privilege level may change. */
	uint64_t old = flags_get(v), keep = RF_VM | RF_VIF | RF_VIP;
	unsigned iopl = (unsigned)((old & RF_IOPL) >> 12);
	if (v->cpl > 0)
		keep |= RF_IOPL;
	if (v->cpl > iopl)
		keep |= RF_IF;
	if (osz == 2)
		fl = (old & ~0xffffULL) | (fl & 0xffff);
	else if (osz == 4)
		fl = (old & ~0xffffffffULL) | (fl & 0xffffffffULL);
	fl = (fl & ~keep) | (old & keep);

	/* The mode and the MMU's context are updated once, at the end: no
	 * access is made in between. */
	unsigned old_cpl = v->cpl;
	cs_load(v, &n, rpl);
	if (pop_ss) {
		v->seg[SEG_SS] = ss;
		v->gpr[4] = (long_mode(v) && n.l) || ss.db ? nsp : (v->gpr[4] & ~0xffffULL) | (nsp & 0xffff);
	} else {
		v->gpr[4] = (sp & ~m) | ((sp + 3 * osz) & m);
	}
	flags_set(v, fl);
	if (rpl > old_cpl)
		null_outer_segs(v, rpl);
	cpu_update_mode(v);
	v->next_rip = target;
	return X86_OK;
}

/* ------------------------------------------------------------------------ */
/* Segment-register instructions                                            */
/* ------------------------------------------------------------------------ */

/* The segment register of PUSH/POP sreg: ES CS SS DS by bits 4:3 of 06-1F, FS for 0F A0/A1, GS for 0F A8/A9. */
static unsigned sreg_of(const struct x86_insn *in)
{
	if (in->op & OP_MAP0F)
		return (in->op & 0xff) < 0xa8 ? SEG_FS : SEG_GS;
	return (in->op >> 3) & 3;
}

/* 06, 0E, 16, 1E, 0F A0, 0F A8: PUSH sreg */
int op_push_sreg(struct vcpu_soft *v, const struct x86_insn *in)
{
	return stack_push(v, in->osz, v->seg[sreg_of(in)].selector);
}

/* 07, 17, 1F, 0F A1, 0F A9: POP sreg */
int op_pop_sreg(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t old = v->gpr[4], a;
	int st;
	if ((st = stack_pop(v, in->osz, &a)))
		return st;
	if ((st = cpu_load_seg(v, sreg_of(in), (uint16_t)a))) {
		v->gpr[4] = old;
		return st;
	}
	if (in->op == 0x17) {
		v->shadow_left = 2;  /* POP SS blocks interrupts until after the next instruction */
		v->movss_now = true; /* and holds its #DB traps (debug.c) */
		v->ss_shadow = true;
	}
	return X86_OK;
}

/* 8C: MOV r/m, Sreg: 16-bit to memory, zero-extended to a register */
int op_mov_from_sreg(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t a = v->seg[in->reg & 7].selector;
	return rm_write(v, in, in->mod == 3 ? in->osz : 2, a);
}

/* 8E: MOV Sreg, r/m */
int op_mov_to_sreg(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t a;
	int st;
	if ((st = rm_read(v, in, 2, &a)))
		return st;
	if ((st = cpu_load_seg(v, in->reg & 7, (uint16_t)a)))
		return st;
	if ((in->reg & 7) == SEG_SS) {
		/* MOV SS blocks interrupts until after the next instruction (SDM 6.8.3),
		 * and holds its #DB traps until then (debug.c). */
		v->shadow_left = 2;
		v->movss_now = true;
		v->ss_shadow = true;
	}
	return X86_OK;
}

/* 0F B2 LSS, 0F B4 LFS, 0F B5 LGS; C4 LES, C5 LDS outside 64-bit mode */
int op_lxs(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned op = in->op;
	uint64_t ea = insn_ea(v, in), off, sel;
	unsigned sr = op == (OP_MAP0F | 0xb2) ? SEG_SS : op == (OP_MAP0F | 0xb4) ? SEG_FS :
		      op == 0xc4 ? SEG_ES : op == 0xc5 ? SEG_DS : SEG_GS;
	int st;
	if ((st = mem_read_farptr(v, in->seg, ea, in->osz, in->asz, &off, &sel)))
		return st;
	if ((st = cpu_load_seg(v, sr, (uint16_t)sel)))
		return st;
	if (in->osz == 4)
		v->gpr[in->reg] = off & 0xffffffffULL;
	else if (in->osz == 2)
		v->gpr[in->reg] = (v->gpr[in->reg] & ~0xffffULL) | (off & 0xffff);
	else
		v->gpr[in->reg] = off;
	return X86_OK;
}

static int load_tr_ldt(struct vcpu_soft *v, uint16_t sel, bool tr)
{
	uint64_t d[2] = { 0, 0 }, where;
	int st;
	if ((sel & ~3u) == 0) {
		if (tr)
			return x86_gp(v, 0);
		v->ldt.selector = sel;
		v->ldt.unusable = 1;
		return X86_OK;
	}
	if (sel & 4)
		return x86_gp(v, sel & ~3u);
	if ((st = desc_read(v, sel, &d[0], &where)))
		return st;
	if (long_mode(v)) {
		if ((sel & ~7u) + 15 > v->gdt.limit)
			return x86_gp(v, sel & ~3u);
		if ((st = lin_read(v, where + 8, 8, &d[1], implicit_sv(v))))
			return st;
	}
	struct vcpu_segment s;
	seg_from_desc(&s, sel, d[0]);
	if (long_mode(v)) {
		s.base |= d[1] << 32;
		if (!is_canonical_max(v, s.base))
			return x86_gp(v, sel & ~3u);
	}
	if (s.s || (tr ? (s.type != 9 && s.type != 1) : s.type != 2))
		return x86_gp(v, sel & ~3u);
	if (!s.present)
		return x86_raise(v, EXC_NP, true, sel & ~3u);
	if (tr) {
		/* Mark the TSS busy in the GDT. */
		uint8_t b = (uint8_t)((d[0] >> 40) | 2);
		if ((st = lin_write(v, where + 5, 1, &b, implicit_sv(v))))
			return st;
		s.type |= 2;
		v->tr = s;
	} else {
		v->ldt = s;
	}
	return X86_OK;
}

/* 0F 00: SLDT, STR, LLDT, LTR (/0-/3; the decoder rejects the rest) */
int op_grp6(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned r = in->reg & 7;
	uint64_t a;
	int st;

	if (r < 2) {
		if ((st = umip_check(v)))
			return st;
		a = r == 0 ? v->ldt.selector : v->tr.selector;
		if (in->mod == 3) {
			v->gpr[in->rm] = in->osz == 2 ? (v->gpr[in->rm] & ~0xffffULL) | a : a;
			return X86_OK;
		}
		return mem_write(v, in->seg, insn_ea(v, in), 2, a);
	}
	if ((st = need_cpl0(v)))
		return st;
	if (in->mod == 3)
		a = v->gpr[in->rm] & 0xffff;
	else if ((st = mem_read(v, in->seg, insn_ea(v, in), 2, &a)))
		return st;
	return load_tr_ldt(v, (uint16_t)a, r == 3);
}
