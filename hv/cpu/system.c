/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/system.c - system state: modes, segment loads, far transfers,
 * exception and interrupt delivery, control registers, MSRs, CPUID, port I/O
 * and the other instructions a kernel uses.
 *
 * Everything a guest can get wrong here raises the exception the SDM names
 * (mostly #GP, #UD, #NP, #SS, #TS); nothing aborts hv.
 */
#include <stdio.h>
#include <string.h>

#include "hv/cpu/x86.h"

int x86_raise(struct vcpu_soft *v, unsigned vec, bool has_err, uint32_t err)
{
	v->exc_pending = true;
	v->exc_vec = (uint8_t)vec;
	v->exc_has_err = has_err;
	v->exc_err = err;
	return X86_FAULT;
}

/* Recompute what depends on CR0/CR3/CR4/EFER/CS/RFLAGS.AC. */
void cpu_update_mode(struct vcpu_soft *v)
{
	if ((v->efer & EFER_LMA) && v->seg[SEG_CS].l)
		v->mode = 64;
	else
		v->mode = v->seg[SEG_CS].db ? 32 : 16;
	v->ip_mask = v->mode == 64 ? ~0ULL : v->mode == 32 ? 0xffffffffULL : 0xffffULL;
	v->dkey_mode = (uint64_t)v->mode << 56;
	v->cpl = (v->cr0 & CR0_PE) ? (v->seg[SEG_CS].selector & 3) : 0;
	v->ctx.cr0 = v->cr0;
	v->ctx.cr3 = v->cr3;
	v->ctx.cr4 = v->cr4;
	v->ctx.efer = v->efer;
	v->ctx.rflags = v->rflags & RF_AC;
	v->ctx.cpl = v->cpl;
	mmu_set_ctx(v->mmu, &v->ctx);
}

static void seg_flat(struct vcpu_segment *s, uint16_t sel, uint8_t type, bool code64, unsigned dpl)
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

/* The state PVH and multiboot entry code expect: 32-bit protected mode, paging
 * off, flat 4 GiB segments (code 0x10, data 0x18 as in the PVH ABI). */
void cpu_reset(struct vcpu_soft *v)
{
	memset(v->gpr, 0, sizeof(v->gpr));
	v->rip = 0;
	v->rflags = RF_FIXED;
	v->lf_op = LF_NONE;
	seg_flat(&v->seg[SEG_CS], 0x10, 0xb, false, 0);
	for (unsigned i = 0; i < 6; i++)
		if (i != SEG_CS)
			seg_flat(&v->seg[i], 0x18, 0x3, false, 0);
	memset(&v->tr, 0, sizeof(v->tr));
	v->tr.type = 0xb;
	v->tr.present = 1;
	v->tr.limit = 0x67;
	memset(&v->ldt, 0, sizeof(v->ldt));
	v->ldt.type = 2;
	v->ldt.unusable = 1;
	v->gdt.base = v->idt.base = 0;
	v->gdt.limit = v->idt.limit = 0xffff;
	v->cr0 = CR0_PE | CR0_ET;
	v->cr2 = v->cr3 = v->cr4 = v->cr8 = 0;
	v->efer = 0;
	v->apic_base = 0xfee00000ULL | (1ULL << 11) | (1ULL << 8); /* enabled, BSP */
	v->pat = 0x0007040600070406ULL;
	v->dr7 = 0x400;
	v->dr6 = 0xffff0ff0;
	cpu_update_mode(v);
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

/* Read the 8-byte descriptor for `sel` from the GDT or LDT; #GP(sel) past the limit. */
static int desc_read(struct vcpu_soft *v, uint16_t sel, uint64_t *d, uint64_t *where)
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
	return lin_read(v, *where, 8, d, ACC_IMPLICIT_SV);
}

/* The processor sets the accessed bit of a segment descriptor it loads. */
static int desc_set_accessed(struct vcpu_soft *v, uint64_t where, uint64_t d)
{
	if (d & (1ULL << 40))
		return X86_OK;
	uint8_t b = (uint8_t)((d >> 40) | 1);
	return lin_write(v, where + 5, 1, &b, ACC_IMPLICIT_SV);
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

static void set_cs(struct vcpu_soft *v, const struct vcpu_segment *n, unsigned cpl)
{
	v->seg[SEG_CS] = *n;
	v->seg[SEG_CS].selector = (uint16_t)((n->selector & ~3u) | cpl);
	v->seg[SEG_CS].type |= 1;
	cpu_update_mode(v);
}

static inline uint64_t ip_mask_for(const struct vcpu_soft *v, const struct vcpu_segment *cs)
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

/* Data segment registers that the new, less privileged code may not use become null
 * (SDM Vol. 2A IRET/RET: "return to outer privilege level"). */
static void null_outer_segs(struct vcpu_soft *v)
{
	static const unsigned segs[4] = { SEG_ES, SEG_DS, SEG_FS, SEG_GS };
	for (unsigned i = 0; i < 4; i++) {
		struct vcpu_segment *s = &v->seg[segs[i]];
		bool conforming_code = (s->type & 0xc) == 0xc;
		if (!s->unusable && !conforming_code && s->dpl < v->cpl) {
			s->selector = 0;
			s->unusable = 1;
		}
	}
}

int cpu_far_return(struct vcpu_soft *v, unsigned osz, uint16_t pop_bytes)
{
	uint64_t sp = v->gpr[4], ssz = stack_size(v), m = size_mask(ssz);
	uint64_t ip, cs, nsp = 0, nss = 0;
	int st;

	if ((st = mem_read(v, SEG_SS, sp & m, osz, &ip)) ||
	    (st = mem_read(v, SEG_SS, (sp + osz) & m, osz, &cs)))
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
		if ((st = mem_read(v, SEG_SS, (sp + 2 * osz + pop_bytes) & m, osz, &nsp)) ||
		    (st = mem_read(v, SEG_SS, (sp + 3 * osz + pop_bytes) & m, osz, &nss)))
			return st;
		struct vcpu_segment ss;
		uint64_t sw, sd;
		if ((nss & ~3u) == 0 && !(long_mode(v) && n.l))
			return x86_gp(v, 0);
		if ((nss & ~3u) != 0) {
			if ((st = desc_read(v, (uint16_t)nss, &sd, &sw)))
				return st;
			seg_from_desc(&ss, (uint16_t)nss, sd);
			if ((nss & 3) != rpl || !ss.s || (ss.type & 8) || !(ss.type & 2) || ss.dpl != rpl)
				return x86_gp(v, (uint32_t)nss & ~3u);
			if (!ss.present)
				return x86_raise(v, EXC_SS, true, (uint32_t)nss & ~3u);
		} else {
			ss = v->seg[SEG_SS];
			ss.selector = (uint16_t)nss;
			ss.unusable = 1;
			ss.dpl = (uint8_t)rpl;
		}
		set_cs(v, &n, rpl);
		v->seg[SEG_SS] = ss;
		cpu_update_mode(v);
		v->gpr[4] = nsp + pop_bytes;
		null_outer_segs(v);
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
		if ((st = mem_read(v, SEG_SS, sp & m, osz, &ip)) ||
		    (st = mem_read(v, SEG_SS, (sp + osz) & m, osz, &cs)) ||
		    (st = mem_read(v, SEG_SS, (sp + 2 * osz) & m, osz, &fl)))
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
	if ((st = mem_read(v, SEG_SS, sp & m, osz, &ip)) ||
	    (st = mem_read(v, SEG_SS, (sp + osz) & m, osz, &cs)) ||
	    (st = mem_read(v, SEG_SS, (sp + 2 * osz) & m, osz, &fl)))
		return st;
	struct vcpu_segment n, ss;
	uint64_t where, d;
	if ((st = return_code_desc(v, cs, &n, &where, &d)))
		return st;
	unsigned rpl = cs & 3;
	/* In 64-bit mode IRET always pops SS:RSP; otherwise only on a privilege change. */
	bool pop_ss = v->mode == 64 || rpl > v->cpl;
	if (pop_ss) {
		if ((st = mem_read(v, SEG_SS, (sp + 3 * osz) & m, osz, &nsp)) ||
		    (st = mem_read(v, SEG_SS, (sp + 4 * osz) & m, osz, &nss)))
			return st;
		if ((nss & ~3u) == 0) {
			if (!(long_mode(v) && n.l && rpl < 3))
				return x86_gp(v, 0);
			ss = v->seg[SEG_SS];
			ss.selector = (uint16_t)nss;
			ss.unusable = 1;
			ss.dpl = (uint8_t)rpl;
		} else {
			uint64_t sw, sd;
			if ((st = desc_read(v, (uint16_t)nss, &sd, &sw)))
				return st;
			seg_from_desc(&ss, (uint16_t)nss, sd);
			if ((nss & 3) != rpl || !ss.s || (ss.type & 8) || !(ss.type & 2) || ss.dpl != rpl)
				return x86_gp(v, (uint32_t)nss & ~3u);
			if (!ss.present)
				return x86_raise(v, EXC_SS, true, (uint32_t)nss & ~3u);
		}
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

	unsigned old_cpl = v->cpl;
	set_cs(v, &n, rpl);
	if (pop_ss) {
		v->seg[SEG_SS] = ss;
		v->gpr[4] = v->mode == 64 || ss.db ? nsp : (v->gpr[4] & ~0xffffULL) | (nsp & 0xffff);
	} else {
		v->gpr[4] = (sp & ~m) | ((sp + 3 * osz) & m);
	}
	flags_set(v, fl);
	if (rpl > old_cpl)
		null_outer_segs(v);
	cpu_update_mode(v);
	v->next_rip = target;
	return X86_OK;
}

/* ------------------------------------------------------------------------ */
/* Exception and interrupt delivery (SDM Vol. 3A 6.12, 6.14)                 */
/* ------------------------------------------------------------------------ */

static int tss_read(struct vcpu_soft *v, uint64_t off, unsigned size, uint64_t *val)
{
	if (off + size - 1 > v->tr.limit)
		return x86_raise(v, EXC_TS, true, v->tr.selector & ~3u);
	*val = 0;
	return lin_read(v, v->tr.base + off, size, val, ACC_IMPLICIT_SV);
}

/*
 * Deliver vector `vec` through the IDT. soft: INT n / INT3 / INTO (privilege
 * check against the gate DPL, EXT = 0). ret_rip: the RIP saved in the frame.
 * On success sets the new CS:RIP in v (next_rip) and returns X86_OK.
 */
int cpu_deliver(struct vcpu_soft *v, unsigned vec, bool has_err, uint32_t err, bool soft, uint64_t ret_rip)
{
	uint32_t ext = soft ? 0 : 1, idt_err = (vec << 3) | 2 | ext;
	bool lm = long_mode(v);
	unsigned gsz = lm ? 16 : 8;
	uint64_t g[2] = { 0, 0 };
	int st;

	if (!(v->cr0 & CR0_PE)) {
		/* Real mode: IVT entries of 4 bytes (CS:IP). */
		uint64_t ent = 0;
		if (vec * 4 + 3 > v->idt.limit)
			return x86_gp(v, 0);
		if ((st = lin_read(v, v->idt.base + vec * 4, 4, &ent, ACC_IMPLICIT_SV)))
			return st;
		uint64_t fl = flags_get(v);
		uint64_t sp = v->gpr[4] & 0xffff;
		uint16_t frame[3] = { (uint16_t)ret_rip, v->seg[SEG_CS].selector, (uint16_t)fl };
		uint64_t lin = (v->seg[SEG_SS].base + ((sp - 6) & 0xffff)) & 0xffffffffULL;
		if ((st = lin_write(v, lin, 6, frame, MEM_STACK)))
			return st;
		v->gpr[4] = (v->gpr[4] & ~0xffffULL) | ((sp - 6) & 0xffff);
		v->seg[SEG_CS].selector = (uint16_t)(ent >> 16);
		v->seg[SEG_CS].base = (ent >> 16) << 4;
		v->rflags = fl & ~(RF_IF | RF_TF | RF_AC);
		v->next_rip = ent & 0xffff;
		cpu_update_mode(v);
		return X86_OK;
	}

	if ((uint64_t)vec * gsz + gsz - 1 > v->idt.limit)
		return x86_gp(v, idt_err);
	uint64_t glin = v->idt.base + (uint64_t)vec * gsz;
	if (!lm)
		glin &= 0xffffffffULL;
	if ((st = lin_read(v, glin, gsz, g, ACC_IMPLICIT_SV)))
		return st;
	unsigned type = (g[0] >> 40) & 0xf, dpl = (g[0] >> 45) & 3, ist = (g[0] >> 32) & 7;
	bool present = (g[0] >> 47) & 1, trap;
	uint16_t sel = (uint16_t)(g[0] >> 16);
	uint64_t off = (g[0] & 0xffff) | ((g[0] >> 32) & 0xffff0000ULL);
	if (lm) {
		off |= g[1] << 32;
		if (type != 0xe && type != 0xf)
			return x86_gp(v, idt_err);
	} else {
		ist = 0;
		if (type != 0xe && type != 0xf)  /* task and 16-bit gates are not supported */
			return x86_gp(v, idt_err);
	}
	trap = type == 0xf;
	if (soft && dpl < v->cpl)
		return x86_gp(v, idt_err);
	if (!present)
		return x86_raise(v, EXC_NP, true, idt_err);

	/* Target code segment. */
	struct vcpu_segment cs;
	uint64_t where, d;
	if ((sel & ~3u) == 0)
		return x86_gp(v, ext);
	if ((st = desc_read(v, sel, &d, &where)))
		return st;
	seg_from_desc(&cs, sel, d);
	if (!cs.s || !(cs.type & 8) || cs.dpl > v->cpl)
		return x86_gp(v, (sel & ~3u) | ext);
	if (lm && (!cs.l || cs.db))
		return x86_gp(v, (sel & ~3u) | ext);
	if (!cs.present)
		return x86_raise(v, EXC_NP, true, (sel & ~3u) | ext);
	unsigned ncpl = (cs.type & 4) ? v->cpl : cs.dpl;

	uint64_t fl = flags_get(v);
	uint64_t rsp = v->gpr[4];
	struct vcpu_segment ss = v->seg[SEG_SS];
	bool change = ncpl < v->cpl;
	uint64_t frame[6];
	unsigned n = 0;

	if (lm) {
		/* 64-bit frame: always SS:RSP, aligned to 16 (SDM 6.14.2); IST or RSPn from the TSS. */
		if (ist) {
			if ((st = tss_read(v, 0x24 + 8 * (ist - 1), 8, &rsp)))
				return st;
		} else if (change) {
			if ((st = tss_read(v, 4 + 8 * ncpl, 8, &rsp)))
				return st;
		}
		if ((ist || change) && !is_canonical(v, rsp))
			return x86_raise(v, EXC_SS, true, ext);
		if (change) {
			ss.selector = (uint16_t)ncpl;
			ss.unusable = 1;
			ss.dpl = (uint8_t)ncpl;
		}
		rsp &= ~15ULL;
		if (has_err)
			frame[n++] = err;
		frame[n++] = ret_rip;
		frame[n++] = v->seg[SEG_CS].selector;
		frame[n++] = fl;
		frame[n++] = v->gpr[4];
		frame[n++] = v->seg[SEG_SS].selector;
		/* frame[] lists from the lowest address up */
		uint64_t buf[6];
		for (unsigned i = 0; i < n; i++)
			buf[i] = frame[i];
		uint64_t base = rsp - 8 * n;
		if ((st = lin_write(v, base, 8 * n, buf, MEM_STACK | (change ? ACC_IMPLICIT_SV : 0))))
			return st;
		rsp = base;
	} else {
		/* 32-bit gates: SS:ESP from the 32-bit TSS on a privilege change. */
		uint32_t buf[6];
		uint64_t ssbase = ss.base;
		if (change) {
			uint64_t nesp, nss;
			if ((st = tss_read(v, 4 + 8 * ncpl, 4, &nesp)) ||
			    (st = tss_read(v, 8 + 8 * ncpl, 2, &nss)))
				return st;
			uint64_t sd, sw;
			if ((nss & ~3u) == 0)
				return x86_raise(v, EXC_TS, true, ext);
			if ((st = desc_read(v, (uint16_t)nss, &sd, &sw)))
				return st;
			seg_from_desc(&ss, (uint16_t)nss, sd);
			if ((nss & 3) != ncpl || ss.dpl != ncpl || !ss.s || (ss.type & 8) || !(ss.type & 2))
				return x86_raise(v, EXC_TS, true, ((uint32_t)nss & ~3u) | ext);
			if (!ss.present)
				return x86_raise(v, EXC_SS, true, ((uint32_t)nss & ~3u) | ext);
			rsp = nesp;
			ssbase = ss.base;
		}
		if (has_err)
			buf[n++] = err;
		buf[n++] = (uint32_t)ret_rip;
		buf[n++] = v->seg[SEG_CS].selector;
		buf[n++] = (uint32_t)fl;
		if (change) {
			buf[n++] = (uint32_t)v->gpr[4];
			buf[n++] = v->seg[SEG_SS].selector;
		}
		uint64_t nesp = (rsp - 4 * n) & (ss.db ? 0xffffffffULL : 0xffffULL);
		if ((st = lin_write(v, (ssbase + nesp) & 0xffffffffULL, 4 * n, buf,
				     MEM_STACK | (change ? ACC_IMPLICIT_SV : 0))))
			return st;
		rsp = ss.db ? nesp : (rsp & ~0xffffULL) | nesp;
	}

	/* Commit: nothing above changed architectural state. */
	if ((st = desc_set_accessed(v, where, d)))
		return st;
	v->seg[SEG_SS] = ss;
	v->gpr[4] = rsp;
	fl &= ~(RF_TF | RF_NT | RF_RF | RF_VM);
	if (!trap)
		fl &= ~RF_IF;
	flags_set(v, fl);
	set_cs(v, &cs, ncpl);
	v->next_rip = off & ip_mask_for(v, &cs);
	if (soft)
		v->stats.interrupts++;
	return X86_OK;
}

/* ------------------------------------------------------------------------ */
/* Control registers, MSRs, CPUID                                            */
/* ------------------------------------------------------------------------ */

#define MAXPHYADDR 52
#define CR3_RESERVED (~((1ULL << MAXPHYADDR) - 1) & ~(1ULL << 63))

static int write_cr0(struct vcpu_soft *v, uint64_t val)
{
	uint64_t old = v->cr0;
	if (val >> 32)
		return x86_gp(v, 0);
	if ((val & CR0_PG) && !(val & CR0_PE))
		return x86_gp(v, 0);
	if ((val & CR0_NW) && !(val & CR0_CD))
		return x86_gp(v, 0);
	/* SDM MOV CR: clearing CR0.PG while CR4.PCIDE = 1 is #GP(0). */
	if (!(val & CR0_PG) && (v->cr4 & CR4_PCIDE))
		return x86_gp(v, 0);
	val |= CR0_ET;
	/* Entering long mode (SDM 10.8.5): PG with EFER.LME needs CR4.PAE, and CS.L must be 0. */
	if ((val & CR0_PG) && !(old & CR0_PG) && (v->efer & EFER_LME)) {
		if (!(v->cr4 & CR4_PAE) || v->seg[SEG_CS].l)
			return x86_gp(v, 0);
		v->efer |= EFER_LMA;
	}
	if (!(val & CR0_PG) && (old & CR0_PG) && (v->efer & EFER_LMA)) {
		if (v->mode == 64)
			return x86_gp(v, 0);
		v->efer &= ~EFER_LMA;
	}
	v->cr0 = val;
	cpu_update_mode(v);
	if ((old ^ val) & (CR0_PG | CR0_WP | CR0_PE))
		mmu_flush_vpid_all(v->mmu, v->ctx.vpid);
	return X86_OK;
}

static int write_cr4(struct vcpu_soft *v, uint64_t val)
{
	uint64_t old = v->cr4;
	if (val & ~CR4_VALID)
		return x86_gp(v, 0);
	if (long_mode(v) && !(val & CR4_PAE))
		return x86_gp(v, 0);
	if (long_mode(v) && ((old ^ val) & CR4_LA57))
		return x86_gp(v, 0);
	if ((val & CR4_PCIDE) && !(old & CR4_PCIDE) && (!long_mode(v) || (v->cr3 & 0xfff)))
		return x86_gp(v, 0);
	v->cr4 = val;
	cpu_update_mode(v);
	/* SDM 4.10.4.1: changing PGE, PCIDE, PAE, PSE, SMEP, SMAP or LA57 invalidates. */
	if ((old ^ val) & (CR4_PGE | CR4_PCIDE | CR4_PAE | CR4_PSE | CR4_SMEP | CR4_SMAP | CR4_LA57))
		mmu_flush_vpid_all(v->mmu, v->ctx.vpid);
	return X86_OK;
}

static int write_cr3(struct vcpu_soft *v, uint64_t val)
{
	bool noflush = false;
	if (v->cr4 & CR4_PCIDE) {
		noflush = (val >> 63) & 1;
		val &= ~(1ULL << 63);
	}
	/* Bits 63:MAXPHYADDR are reserved; bit 63 is the no-flush bit only with
	 * CR4.PCIDE = 1 (SDM 4.10.4.1, MOV CR), so it is reserved otherwise. */
	if (long_mode(v) && ((val & CR3_RESERVED) || (val >> 63)))
		return x86_gp(v, 0);
	if (!long_mode(v))
		val &= 0xffffffffULL;
	v->cr3 = val;
	cpu_update_mode(v);
	mmu_mov_cr3(v->mmu, &v->ctx, noflush);
	return X86_OK;
}

static int write_efer(struct vcpu_soft *v, uint64_t val)
{
	uint64_t allowed = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
	if (val & ~allowed)
		return x86_gp(v, 0);
	/* LME cannot change while paging is on; LMA is read-only (kept as is). */
	if ((v->cr0 & CR0_PG) && ((val ^ v->efer) & EFER_LME))
		return x86_gp(v, 0);
	val = (val & ~EFER_LMA) | (v->efer & EFER_LMA);
	uint64_t old = v->efer;
	v->efer = val;
	cpu_update_mode(v);
	if ((old ^ val) & EFER_NXE)
		mmu_flush_vpid_all(v->mmu, v->ctx.vpid);
	return X86_OK;
}

static uint64_t tsc_now(const struct vcpu_soft *v)
{
	return v->icount + (uint64_t)v->tsc_offset;
}

static int rdmsr(struct vcpu_soft *v, uint32_t msr, uint64_t *val)
{
	switch (msr) {
	case MSR_TSC: *val = tsc_now(v); return X86_OK;
	case MSR_APIC_BASE: *val = v->apic_base; return X86_OK;
	case MSR_MTRRCAP: *val = 0; return X86_OK;
	case MSR_PAT: *val = v->pat; return X86_OK;
	case MSR_MISC_ENABLE: *val = v->misc_enable; return X86_OK;
	case MSR_EFER: *val = v->efer; return X86_OK;
	case MSR_STAR: *val = v->star; return X86_OK;
	case MSR_LSTAR: *val = v->lstar; return X86_OK;
	case MSR_CSTAR: *val = v->cstar; return X86_OK;
	case MSR_FMASK: *val = v->fmask; return X86_OK;
	case MSR_FS_BASE: *val = v->seg[SEG_FS].base; return X86_OK;
	case MSR_GS_BASE: *val = v->seg[SEG_GS].base; return X86_OK;
	case MSR_KERNEL_GS_BASE: *val = v->kernel_gs_base; return X86_OK;
	case MSR_TSC_AUX: *val = v->tsc_aux; return X86_OK;
	case MSR_SYSENTER_CS: *val = v->sysenter_cs; return X86_OK;
	case MSR_SYSENTER_ESP: *val = v->sysenter_esp; return X86_OK;
	case MSR_SYSENTER_EIP: *val = v->sysenter_eip; return X86_OK;
	default: return x86_gp(v, 0);
	}
}

static int wrmsr(struct vcpu_soft *v, uint32_t msr, uint64_t val)
{
	switch (msr) {
	case MSR_TSC: v->tsc_offset = (int64_t)(val - v->icount); return X86_OK;
	case MSR_APIC_BASE:
		if (val & ~(0xffffffffff000ULL | (1ULL << 11) | (1ULL << 10) | (1ULL << 8)))
			return x86_gp(v, 0);
		v->apic_base = val;
		return X86_OK;
	case MSR_PAT:
		for (unsigned i = 0; i < 8; i++) {
			unsigned t = (val >> (8 * i)) & 0xff;
			if (t == 2 || t == 3 || t > 7)
				return x86_gp(v, 0);
		}
		v->pat = val;
		return X86_OK;
	case MSR_MISC_ENABLE: v->misc_enable = val; return X86_OK;
	case MSR_EFER: return write_efer(v, val);
	case MSR_STAR: v->star = val; return X86_OK;
	case MSR_LSTAR: case MSR_CSTAR: case MSR_FS_BASE: case MSR_GS_BASE: case MSR_KERNEL_GS_BASE:
		if (!is_canonical(v, val))
			return x86_gp(v, 0);
		if (msr == MSR_LSTAR) v->lstar = val;
		else if (msr == MSR_CSTAR) v->cstar = val;
		else if (msr == MSR_FS_BASE) v->seg[SEG_FS].base = val;
		else if (msr == MSR_GS_BASE) v->seg[SEG_GS].base = val;
		else v->kernel_gs_base = val;
		return X86_OK;
	case MSR_FMASK: v->fmask = val & 0xffffffffULL; return X86_OK;
	case MSR_TSC_AUX: v->tsc_aux = val & 0xffffffffULL; return X86_OK;
	/* SDM Vol. 4 Table 2-2: the SYSENTER MSRs exist on every 64-bit
	 * processor, whether or not CPUID advertises SEP (SYSENTER itself is
	 * not implemented and stays #UD); ESP and EIP hold canonical addresses. */
	case MSR_SYSENTER_CS: v->sysenter_cs = val & 0xffffffffULL; return X86_OK;
	case MSR_SYSENTER_ESP: case MSR_SYSENTER_EIP:
		if (!is_canonical(v, val))
			return x86_gp(v, 0);
		if (msr == MSR_SYSENTER_ESP) v->sysenter_esp = val;
		else v->sysenter_eip = val;
		return X86_OK;
	default: return x86_gp(v, 0);
	}
}

/*
 * CPUID: the feature set this interpreter implements, nothing more
 * (docs/softcpu.md lists it). Vendor "GenuineIntel": hv models Intel's EPT
 * and VT-d, and guest software (kvm-unit-tests' PMU set-up, for one) takes
 * any other vendor for AMD and reaches for AMD's MSRs. The hypervisor leaf
 * 0x40000000 names hv.
 */
void cpu_cpuid(uint32_t leaf, uint32_t sub, uint32_t out[4])
{
	static const char vendor[12] = "GenuineIntel";
	memset(out, 0, 16);
	switch (leaf) {
	case 0:
		out[0] = 7;
		memcpy(&out[1], vendor, 4);      /* EBX */
		memcpy(&out[3], vendor + 4, 4);  /* EDX */
		memcpy(&out[2], vendor + 8, 4);  /* ECX */
		break;
	case 1:
		out[0] = 0x000806c1;  /* family 6: a plausible signature, not a real part */
		out[1] = 0;           /* APIC id 0, no CLFLUSH line size */
		out[2] = (1u << 13) | (1u << 17) | (1u << 23) | (1u << 31); /* CX16 PCID POPCNT hypervisor */
		out[3] = (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) |
			 (1u << 13) | (1u << 15) | (1u << 16); /* PSE TSC MSR PAE CX8 PGE CMOV PAT */
		break;
	case 7:
		if (sub == 0) {
			out[1] = (1u << 3) | (1u << 7) | (1u << 9) | (1u << 10) | (1u << 20);
			/* BMI1 SMEP ERMS INVPCID SMAP */
			out[2] = 1u << 16; /* LA57 */
		}
		break;
	case 0x40000000: {
		static const char hv[12] = "hvSoftCPU-64";
		out[0] = 0x40000000;
		memcpy(&out[1], hv, 4);
		memcpy(&out[2], hv + 4, 4);
		memcpy(&out[3], hv + 8, 4);
		break;
	}
	case 0x80000000:
		out[0] = 0x80000008;
		break;
	case 0x80000001:
		out[2] = (1u << 0) | (1u << 5); /* LAHF/SAHF in 64-bit mode, ABM (LZCNT) */
		out[3] = (1u << 11) | (1u << 20) | (1u << 26) | (1u << 27) | (1u << 29);
		/* SYSCALL NX 1GB-pages RDTSCP LM */
		break;
	case 0x80000008:
		out[0] = MAXPHYADDR | (57u << 8);
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------------------ */
/* Port I/O (SDM Vol. 1 ch. 19): one element per exit                         */
/* ------------------------------------------------------------------------ */

/* CPL > IOPL consults the TSS I/O permission bitmap (SDM Vol. 1 19.5.2). */
static int io_allowed(struct vcpu_soft *v, uint16_t port, unsigned size)
{
	unsigned iopl = (unsigned)((flags_get(v) & RF_IOPL) >> 12);
	uint64_t base, bits;
	int st;
	if (!(v->cr0 & CR0_PE) || v->cpl <= iopl)
		return X86_OK;
	/* A TSS too short for the bitmap base, or a bitmap that does not cover the
	 * port, denies the access: #GP(0), not #TS. */
	if (v->tr.limit < 103)
		return x86_gp(v, 0);
	if ((st = tss_read(v, 102, 2, &base)))
		return st;
	if (base + port / 8 + 1 > v->tr.limit)
		return x86_gp(v, 0);
	if ((st = tss_read(v, base + port / 8, 2, &bits)))
		return st;
	if ((bits >> (port & 7)) & ((1u << size) - 1))
		return x86_gp(v, 0);
	return X86_OK;
}

int cpu_io(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned op = in->op & 0xff;
	unsigned size = (op & 1) ? (in->osz == 2 ? 2 : 4) : 1;
	bool str = op >= 0x6c && op <= 0x6f;
	bool isin = str ? op <= 0x6d : !(op & 2);
	uint16_t port = (op >= 0xe4 && op <= 0xe7) ? (uint16_t)(in->imm & 0xff) : (uint16_t)v->gpr[2];
	uint64_t am = size_mask(in->asz);
	int64_t step = (v->rflags & RF_DF) ? -(int64_t)size : (int64_t)size;
	struct vcpu_exit *e = v->exit;
	int st;

	if ((st = io_allowed(v, port, size)))
		return st;
	if (str && in->rep && (v->gpr[1] & am) == 0)
		return X86_OK;

	if (isin) {
		if (v->pend == PEND_IO_IN && v->pend_ready) {
			uint64_t val = v->pend_data & size_mask(size);
			if (str) {
				if ((st = mem_write(v, SEG_ES, v->gpr[7] & am, size, val)))
					return st;
				areg_write(v, 7, am, v->gpr[7] + (uint64_t)step);
				if (in->rep) {
					uint64_t c = ((v->gpr[1] & am) - 1) & am;
					areg_write(v, 1, am, c);
					if (c)
						v->next_rip = v->rip; /* one element per exit; REP resumes */
				}
			} else if (size == 4) {
				v->gpr[0] = val & 0xffffffffULL;
			} else {
				v->gpr[0] = (v->gpr[0] & ~size_mask(size)) | val;
			}
			v->pend = PEND_NONE;
			v->pend_ready = false;
			return X86_OK;
		}
		/* The destination must be writable before the device is asked (no lost reads). */
		if (str && (st = mem_probe_write(v, SEG_ES, v->gpr[7] & am, size)))
			return st;
		e->reason = VCPU_EXIT_IO;
		e->exit_reason_vmx = EXIT_REASON_IO;
		e->io.port = port;
		e->io.size = (uint8_t)size;
		e->io.in = true;
		e->io.data = 0;
		v->pend = PEND_IO_IN;
		v->pend_ready = false;
		return X86_EXIT;
	}

	uint64_t val;
	if (str) {
		if ((st = mem_read(v, in->seg, v->gpr[6] & am, size, &val)))
			return st;
		areg_write(v, 6, am, v->gpr[6] + (uint64_t)step);
		if (in->rep) {
			uint64_t c = ((v->gpr[1] & am) - 1) & am;
			areg_write(v, 1, am, c);
			if (c) {
				v->next_rip = v->rip;
				v->rep_continues = true;
			}
		}
	} else {
		val = v->gpr[0] & size_mask(size);
	}
	e->reason = VCPU_EXIT_IO;
	e->exit_reason_vmx = EXIT_REASON_IO;
	e->io.port = port;
	e->io.size = (uint8_t)size;
	e->io.in = false;
	e->io.data = (uint32_t)val;
	v->exit_after_retire = true;
	return X86_OK;
}

/* ------------------------------------------------------------------------ */
/* System instructions                                                      */
/* ------------------------------------------------------------------------ */

static inline int need_cpl0(struct vcpu_soft *v)
{
	return v->cpl ? x86_gp(v, 0) : X86_OK;
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
		if ((st = lin_read(v, where + 8, 8, &d[1], ACC_IMPLICIT_SV)))
			return st;
	}
	struct vcpu_segment s;
	seg_from_desc(&s, sel, d[0]);
	if (long_mode(v))
		s.base |= d[1] << 32;
	if (s.s || (tr ? (s.type != 9 && s.type != 1) : s.type != 2))
		return x86_gp(v, sel & ~3u);
	if (!s.present)
		return x86_raise(v, EXC_NP, true, sel & ~3u);
	if (tr) {
		/* Mark the TSS busy in the GDT. */
		uint8_t b = (uint8_t)((d[0] >> 40) | 2);
		if ((st = lin_write(v, where + 5, 1, &b, ACC_IMPLICIT_SV)))
			return st;
		s.type |= 2;
		v->tr = s;
	} else {
		v->ldt = s;
	}
	return X86_OK;
}

static void syscall_segs(struct vcpu_soft *v, uint16_t cs_sel, uint16_t ss_sel, bool cs64, unsigned dpl)
{
	seg_flat(&v->seg[SEG_CS], cs_sel, 0xb, cs64, dpl);
	seg_flat(&v->seg[SEG_SS], ss_sel, 0x3, false, dpl);
	v->seg[SEG_SS].db = 1;
}

int exec_system(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned op = in->op, r = in->reg & 7;
	uint64_t a, b;
	int st;

	switch (op) {
	case 0x06: case 0x0e: case 0x16: case 0x1e: /* PUSH ES/CS/SS/DS */
		return stack_push(v, in->osz, v->seg[(op >> 3) & 3].selector);
	case 0x07: case 0x17: case 0x1f: { /* POP ES/SS/DS */
		uint64_t old = v->gpr[4];
		if ((st = stack_pop(v, in->osz, &a)))
			return st;
		if ((st = cpu_load_seg(v, (op >> 3) & 3, (uint16_t)a))) {
			v->gpr[4] = old;
			return st;
		}
		if (op == 0x17)
			v->shadow_left = 2;
		return X86_OK;
	}
	case OP_MAP0F | 0xa0: case OP_MAP0F | 0xa8:
		return stack_push(v, in->osz, v->seg[op == (OP_MAP0F | 0xa0) ? SEG_FS : SEG_GS].selector);
	case OP_MAP0F | 0xa1: case OP_MAP0F | 0xa9: {
		uint64_t old = v->gpr[4];
		unsigned sr = op == (OP_MAP0F | 0xa1) ? SEG_FS : SEG_GS;
		if ((st = stack_pop(v, in->osz, &a)))
			return st;
		if ((st = cpu_load_seg(v, sr, (uint16_t)a))) {
			v->gpr[4] = old;
			return st;
		}
		return X86_OK;
	}
	case OP_MAP0F | 0xb2: case OP_MAP0F | 0xb4: case OP_MAP0F | 0xb5: { /* LSS/LFS/LGS */
		uint64_t ea = insn_ea(v, in), off, sel;
		unsigned sr = op == (OP_MAP0F | 0xb2) ? SEG_SS : op == (OP_MAP0F | 0xb4) ? SEG_FS : SEG_GS;
		if ((st = mem_read(v, in->seg, ea, in->osz, &off)) ||
		    (st = mem_read(v, in->seg, (ea + in->osz) & size_mask(in->asz), 2, &sel)))
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
	case 0xf4: /* HLT */
		if ((st = need_cpl0(v)))
			return st;
		/* With IF=1 and an interrupt already queued, delivery happens right after. */
		if ((v->rflags & RF_IF) && v->irq_count)
			return X86_OK;
		v->exit->reason = VCPU_EXIT_HLT;
		v->exit->exit_reason_vmx = EXIT_REASON_HLT;
		v->exit_after_retire = true;
		return X86_OK;
	case 0xfa: case 0xfb: { /* CLI, STI */
		unsigned iopl = (unsigned)((v->rflags & RF_IOPL) >> 12);
		if ((v->cr0 & CR0_PE) && v->cpl > iopl)
			return x86_gp(v, 0);
		if (op == 0xfa) {
			v->rflags &= ~RF_IF;
		} else {
			if (!(v->rflags & RF_IF))
				v->shadow_left = 2;  /* STI shadow (SDM Vol. 2B STI) */
			v->rflags |= RF_IF;
		}
		return X86_OK;
	}

	case OP_MAP0F | 0x00:
		switch (r) {
		case 0: case 1: /* SLDT, STR */
			a = r == 0 ? v->ldt.selector : v->tr.selector;
			if (in->mod == 3) {
				v->gpr[in->rm] = in->osz == 2 ? (v->gpr[in->rm] & ~0xffffULL) | a : a;
				return X86_OK;
			}
			return mem_write(v, in->seg, insn_ea(v, in), 2, a);
		default: /* LLDT, LTR */
			if ((st = need_cpl0(v)))
				return st;
			if (in->mod == 3)
				a = v->gpr[in->rm] & 0xffff;
			else if ((st = mem_read(v, in->seg, insn_ea(v, in), 2, &a)))
				return st;
			return load_tr_ldt(v, (uint16_t)a, r == 3);
		}

	case OP_MAP0F | 0x01:
		if (in->mod == 3) {
			unsigned rm = in->rm & 7;
			if (r == 0) { /* VMCALL: hypercall exit; RAX gets hv's answer on the next run() */
				struct vcpu_exit *e = v->exit;
				e->reason = VCPU_EXIT_HYPERCALL;
				e->exit_reason_vmx = EXIT_REASON_VMCALL;
				e->hypercall.nr = v->gpr[0];
				e->hypercall.args[0] = v->gpr[7];
				e->hypercall.args[1] = v->gpr[6];
				e->hypercall.args[2] = v->gpr[2];
				e->hypercall.args[3] = v->gpr[1];
				e->hypercall.ret = v->gpr[0];
				v->pend = PEND_HYPERCALL;
				v->exit_after_retire = true;
				return X86_OK;
			}
			if (r == 1) { /* CLAC, STAC: #UD, not #GP, at CPL > 0 (SDM CLAC, STAC) */
				if (v->cpl > 0)
					return x86_ud(v);
				if (rm == 2)
					v->rflags &= ~RF_AC;
				else
					v->rflags |= RF_AC;
				cpu_update_mode(v);
				return X86_OK;
			}
			if (r == 4) { /* SMSW r */
				a = v->cr0;
				if (in->osz == 2)
					v->gpr[in->rm] = (v->gpr[in->rm] & ~0xffffULL) | (a & 0xffff);
				else
					v->gpr[in->rm] = in->osz == 4 ? a & 0xffffffffULL : a;
				return X86_OK;
			}
			if (r == 6) { /* LMSW r */
				a = v->gpr[in->rm];
				goto lmsw;
			}
			/* r == 7 */
			if (rm == 0) { /* SWAPGS */
				if ((st = need_cpl0(v)))
					return st;
				a = v->seg[SEG_GS].base;
				v->seg[SEG_GS].base = v->kernel_gs_base;
				v->kernel_gs_base = a;
				return X86_OK;
			}
			/* RDTSCP */
			if ((v->cr4 & CR4_TSD) && v->cpl)
				return x86_gp(v, 0);
			a = tsc_now(v);
			v->gpr[0] = a & 0xffffffffULL;
			v->gpr[2] = a >> 32;
			v->gpr[1] = v->tsc_aux & 0xffffffffULL;
			return X86_OK;
		}
		switch (r) {
		case 0: case 1: { /* SGDT, SIDT: limit then base (8 bytes in 64-bit mode) */
			const struct vcpu_dtable *t = r == 0 ? &v->gdt : &v->idt;
			uint8_t buf[10];
			unsigned bsz = v->mode == 64 ? 8 : 4;
			uint64_t lin, base = t->base;
			memcpy(buf, &t->limit, 2);
			memcpy(buf + 2, &base, 8);
			if ((st = seg_linear(v, in->seg, insn_ea(v, in), 2 + bsz, &lin)))
				return st;
			return lin_write(v, lin, 2 + bsz, buf, in->seg == SEG_SS ? MEM_STACK : 0);
		}
		case 2: case 3: { /* LGDT, LIDT */
			uint8_t buf[10] = { 0 };
			unsigned bsz = v->mode == 64 ? 8 : 4;
			uint64_t lin, base = 0;
			uint16_t limit;
			if ((st = need_cpl0(v)))
				return st;
			if ((st = seg_linear(v, in->seg, insn_ea(v, in), 2 + bsz, &lin)) ||
			    (st = lin_read(v, lin, 2 + bsz, buf, in->seg == SEG_SS ? MEM_STACK : 0)))
				return st;
			memcpy(&limit, buf, 2);
			memcpy(&base, buf + 2, bsz);
			if (in->osz == 2 && v->mode != 64)
				base &= 0xffffff;
			if (v->mode == 64 && !is_canonical(v, base))
				return x86_gp(v, 0);
			struct vcpu_dtable *t = r == 2 ? &v->gdt : &v->idt;
			t->base = base;
			t->limit = limit;
			return X86_OK;
		}
		case 4: /* SMSW m16 */
			return mem_write(v, in->seg, insn_ea(v, in), 2, v->cr0 & 0xffff);
		case 6: /* LMSW m16 */
			if ((st = mem_read(v, in->seg, insn_ea(v, in), 2, &a)))
				return st;
lmsw:
			if ((st = need_cpl0(v)))
				return st;
			/* LMSW changes PE (set only), MP, EM, TS. */
			b = (v->cr0 & ~0xeULL) | (a & 0xf) | (v->cr0 & CR0_PE);
			return write_cr0(v, b);
		default: { /* 7: INVLPG */
			uint64_t lin;
			if ((st = need_cpl0(v)))
				return st;
			a = insn_ea(v, in);
			if (v->mode == 64)
				lin = in->seg >= SEG_FS ? a + v->seg[in->seg].base : a;
			else
				lin = (v->seg[in->seg].base + a) & 0xffffffffULL;
			mmu_invlpg(v->mmu, &v->ctx, lin);
			return X86_OK;
		}
		}

	case OP_MAP0F | 0x05: /* SYSCALL (SDM Vol. 2B SYSCALL, 64-bit mode) */
		if (!(v->efer & EFER_SCE))
			return x86_ud(v);
		a = flags_get(v);
		v->gpr[1] = v->next_rip;
		v->gpr[11] = a & ~RF_RF;
		{
			uint16_t sel = (uint16_t)(v->star >> 32);
			syscall_segs(v, sel & 0xfffc, (uint16_t)((sel + 8) & 0xfffc), true, 0);
		}
		flags_set(v, (a & ~v->fmask & ~RF_RF) | RF_FIXED);
		cpu_update_mode(v);
		v->next_rip = v->lstar;
		return X86_OK;
	case OP_MAP0F | 0x07: { /* SYSRET */
		if (!(v->efer & EFER_SCE))
			return x86_ud(v);
		if ((st = need_cpl0(v)))
			return st;
		uint16_t sel = (uint16_t)(v->star >> 48);
		bool to64 = in->osz == 8;
		if (to64 && !is_canonical(v, v->gpr[1]))
			return x86_gp(v, 0);
		syscall_segs(v, (uint16_t)((to64 ? sel + 16 : sel) | 3), (uint16_t)((sel + 8) | 3), to64, 3);
		flags_set(v, (v->gpr[11] & 0x3c7fd7ULL) | RF_FIXED);
		cpu_update_mode(v);
		v->next_rip = to64 ? v->gpr[1] : v->gpr[1] & 0xffffffffULL;
		return X86_OK;
	}
	case OP_MAP0F | 0x06: /* CLTS */
		if ((st = need_cpl0(v)))
			return st;
		v->cr0 &= ~CR0_TS;
		cpu_update_mode(v);
		return X86_OK;
	case OP_MAP0F | 0x08: case OP_MAP0F | 0x09: /* INVD, WBINVD: no caches to model */
		return need_cpl0(v);

	case OP_MAP0F | 0x20: /* MOV r, CRn */
		if ((st = need_cpl0(v)))
			return st;
		switch (in->reg) {
		case 0: a = v->cr0; break;
		case 2: a = v->cr2; break;
		case 3: a = v->cr3; break;
		case 4: a = v->cr4; break;
		default: a = v->cr8; break;
		}
		v->gpr[in->rm] = v->mode == 64 ? a : a & 0xffffffffULL;
		return X86_OK;
	case OP_MAP0F | 0x22: /* MOV CRn, r */
		if ((st = need_cpl0(v)))
			return st;
		a = v->gpr[in->rm];
		if (v->mode != 64)
			a &= 0xffffffffULL;
		switch (in->reg) {
		case 0: return write_cr0(v, a);
		case 2: v->cr2 = a; return X86_OK;
		case 3: return write_cr3(v, a);
		case 4: return write_cr4(v, a);
		default:
			if (a & ~0xfULL)
				return x86_gp(v, 0);
			v->cr8 = a;
			return X86_OK;
		}
	case OP_MAP0F | 0x21: case OP_MAP0F | 0x23: { /* MOV DRn (breakpoints are stored, not armed) */
		unsigned n = in->reg;
		if ((st = need_cpl0(v)))
			return st;
		if (n == 4 || n == 5) {
			if (v->cr4 & CR4_DE)
				return x86_ud(v);
			n += 2;
		}
		if (op == (OP_MAP0F | 0x21)) {
			a = n < 4 ? v->dr[n] : n == 6 ? v->dr6 : v->dr7;
			v->gpr[in->rm] = v->mode == 64 ? a : a & 0xffffffffULL;
			return X86_OK;
		}
		a = v->gpr[in->rm];
		if (v->mode != 64)
			a &= 0xffffffffULL;
		if (n >= 6 && (a >> 32))
			return x86_gp(v, 0);
		if (n < 4)
			v->dr[n] = a;
		else if (n == 6)
			v->dr6 = (a & 0x1e00f) | 0xffff0ff0;
		else
			v->dr7 = (a & ~0xd800ULL) | 0x400;
		return X86_OK;
	}
	case OP_MAP0F | 0x30: /* WRMSR */
		if ((st = need_cpl0(v)))
			return st;
		return wrmsr(v, (uint32_t)v->gpr[1], (v->gpr[2] << 32) | (v->gpr[0] & 0xffffffffULL));
	case OP_MAP0F | 0x31: /* RDTSC: retired instructions plus the guest's offset */
		if ((v->cr4 & CR4_TSD) && v->cpl)
			return x86_gp(v, 0);
		a = tsc_now(v);
		v->gpr[0] = a & 0xffffffffULL;
		v->gpr[2] = a >> 32;
		return X86_OK;
	case OP_MAP0F | 0x32: /* RDMSR */
		if ((st = need_cpl0(v)))
			return st;
		if ((st = rdmsr(v, (uint32_t)v->gpr[1], &a)))
			return st;
		v->gpr[0] = a & 0xffffffffULL;
		v->gpr[2] = a >> 32;
		return X86_OK;
	case OP_MAP0F | 0xa2: { /* CPUID */
		uint32_t out[4];
		cpu_cpuid((uint32_t)v->gpr[0], (uint32_t)v->gpr[1], out);
		v->gpr[0] = out[0];
		v->gpr[3] = out[1];
		v->gpr[1] = out[2];
		v->gpr[2] = out[3];
		return X86_OK;
	}
	case OP_MAP0F | 0xae: /* LFENCE, MFENCE, SFENCE: one vCPU, program order already */
		return X86_OK;
	case OP_MAP0F38 | 0x82: { /* INVPCID (SDM Vol. 2A INVPCID) */
		uint64_t desc[2] = { 0, 0 }, lin;
		if ((st = need_cpl0(v)))
			return st;
		a = v->mode == 64 ? v->gpr[in->reg] : v->gpr[in->reg] & 0xffffffffULL;
		if ((st = seg_linear(v, in->seg, insn_ea(v, in), 16, &lin)) ||
		    (st = lin_read(v, lin, 16, desc, in->seg == SEG_SS ? MEM_STACK : 0)))
			return st;
		if (a > 3 || (desc[0] >> 12))
			return x86_gp(v, 0);
		uint16_t pcid = desc[0] & 0xfff;
		if (a == 0 && !is_canonical(v, desc[1]))
			return x86_gp(v, 0);
		if (a < 2 && !(v->cr4 & CR4_PCIDE) && pcid)
			return x86_gp(v, 0);
		mmu_invpcid(v->mmu, v->ctx.vpid, (unsigned)a, pcid, desc[1]);
		return X86_OK;
	}
	default:
		return x86_ud(v);
	}
}

/* Queue-to-IDT: the highest pending vector, when IF=1 and no shadow. */
int cpu_deliver_pending(struct vcpu_soft *v)
{
	for (int i = 31; i >= 0; i--) {
		if (!v->irq_pending[i])
			continue;
		unsigned vec = (unsigned)i * 8 + 31 - (unsigned)__builtin_clz(v->irq_pending[i]);
		v->next_rip = v->rip;
		int st = cpu_deliver(v, vec, false, 0, false, v->rip);
		if (st != X86_OK)
			return st;
		v->irq_pending[i] &= (uint8_t)~(1u << (vec & 7));
		v->irq_count--;
		v->stats.interrupts++;
		v->rip = v->next_rip;
		return X86_OK;
	}
	v->irq_count = 0;
	return X86_OK;
}
