/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/event.c - exceptions and interrupts: raising them, delivery through
 * the IDT (SDM Vol. 3A 6.12, 6.14) or the real-mode IVT, queued external
 * interrupts, and the instructions INT n, INT3, INTO and INT1.
 */
#include <string.h>

#include "hv/cpu/flags.h"
#include "hv/cpu/mem.h"
#include "hv/cpu/optab.h"

int x86_raise(struct vcpu_soft *v, unsigned vec, bool has_err, uint32_t err)
{
	v->exc_pending = true;
	v->exc_vec = (uint8_t)vec;
	v->exc_has_err = has_err;
	v->exc_err = err;
	return X86_FAULT;
}

int tss_read(struct vcpu_soft *v, uint64_t off, unsigned size, uint64_t *val)
{
	if (off + size - 1 > v->tr.limit)
		return x86_raise(v, EXC_TS, true, v->tr.selector & ~3u);
	*val = 0;
	return sys_read(v, v->tr.base + off, size, val, implicit_sv(v));
}

/* cpu_deliver() under the context it chose (below). */
static int deliver(struct vcpu_soft *v, unsigned vec, bool has_err, uint32_t err, bool soft, uint64_t ret_rip)
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
		if ((st = lin_read(v, v->idt.base + vec * 4, 4, &ent, implicit_sv(v))))
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
	if ((st = sys_read(v, glin, gsz, g, implicit_sv(v))))
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
		if (!change && v->ctx.cpl != v->cpl)
			cpu_update_mode(v);   /* a handler at CPL 3: its frame is a user-mode write */
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
		if ((st = sys_write(v, base, 8 * n, buf, MEM_STACK | (change ? implicit_sv(v) : 0))))
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
		if (!change && v->ctx.cpl != v->cpl)
			cpu_update_mode(v);   /* as above */
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
				     MEM_STACK | (change ? implicit_sv(v) : 0))))
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

/*
 * Deliver vector `vec` through the IDT. soft: INT n / INT3 / INTO (privilege
 * check against the gate DPL, EXT = 0). ret_rip: the RIP saved in the frame.
 * On success sets the new CS:RIP in v (next_rip) and returns X86_OK.
 *
 * From CPL 3 the IDT, GDT and TSS reads, and the stack writes of a change to
 * an inner level, are implicit supervisor-mode accesses. The model checks
 * those as it checks an explicit access at CPL 0 with EFLAGS.AC = 0 under the
 * same paging state (SDM 4.6: no user-mode rights, SMAP whatever AC, no U/S
 * bit in a #PF error code, the same protection-key rules), so they are made
 * under that context, where they may hit the shortcut as the kernel's own
 * accesses do; the commit (set_cs) then moves to the handler's context.
 */
int cpu_deliver(struct vcpu_soft *v, unsigned vec, bool has_err, uint32_t err, bool soft, uint64_t ret_rip)
{
	int st;

	if (v->cpl < 3 || !(v->cr0 & CR0_PE))
		return deliver(v, vec, has_err, err, soft, ret_rip);
	v->ctx.cpl = 0;
	v->ctx.rflags = 0;
	fetch_settle(v);
	mmu_set_ctx(v->mmu, &v->ctx);
	st = deliver(v, vec, has_err, err, soft, ret_rip);
	if (st != X86_OK && v->ctx.cpl != v->cpl)
		cpu_update_mode(v);   /* the interrupted code's context again */
	return st;
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

/* The queued NMI, through IDT vector 2 whatever RFLAGS.IF; NMIs are then
 * blocked until the next IRET (SDM Vol. 3A 6.7.1). */
int cpu_deliver_nmi(struct vcpu_soft *v)
{
	v->next_rip = v->rip;
	int st = cpu_deliver(v, EXC_NMI, false, 0, false, v->rip);
	if (st != X86_OK)
		return st;
	v->nmi_pending = false;
	v->nmi_blocked = true;
	v->stats.interrupts++;
	v->rip = v->next_rip;
	return X86_OK;
}

/* CC: INT3 */
int op_int3(struct vcpu_soft *v, const struct x86_insn *in)
{
	return cpu_deliver(v, EXC_BP, false, 0, true, v->next_rip);
}

/* CD: INT n */
int op_int(struct vcpu_soft *v, const struct x86_insn *in)
{
	return cpu_deliver(v, (unsigned)in->imm & 0xff, false, 0, true, v->next_rip);
}

/* CE: INTO */
int op_into(struct vcpu_soft *v, const struct x86_insn *in)
{
	if (lf_of(v))
		return cpu_deliver(v, EXC_OF, false, 0, true, v->next_rip);
	return X86_OK;
}

/* F1: INT1 (a #DB trap that is not a software interrupt: EXT = 1, no DPL check) */
int op_int1(struct vcpu_soft *v, const struct x86_insn *in)
{
	/* Its #DB stands for the traps a MOV SS held (one delivery). */
	if (v->dbg_held) {
		v->dbg_held = 0;
		dbg_update(v);
	}
	return cpu_deliver(v, EXC_DB, false, 0, false, v->next_rip);
}
