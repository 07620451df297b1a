/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/system.c - system state and the instructions a kernel uses: modes,
 * control and debug registers, MSRs, descriptor-table registers, port I/O,
 * HLT, CLI/STI, SYSCALL/SYSRET, TLB invalidation and VMCALL.
 *
 * Everything a guest can get wrong here raises the exception the SDM names
 * (mostly #GP and #UD); nothing aborts hv.
 */
#include <string.h>

#include "hv/cpu/flags.h"
#include "hv/cpu/mem.h"
#include "hv/cpu/optab.h"

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
	v->ctx.pkru = v->pkru;
	v->ctx.pkrs = v->pkrs;
	/* Deferred fetches first; callers that then invalidate rely on it too. */
	fetch_settle(v);
	mmu_set_ctx(v->mmu, &v->ctx);
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
	v->fcw = 0x40;            /* x87 control word after RESET (SDM Vol. 3A Table 9-1) */
	v->pkru = v->pkrs = 0;
	sse_reset(v);
	cpu_update_mode(v);
}

/* ------------------------------------------------------------------------ */
/* Control registers, MSRs                                                  */
/* ------------------------------------------------------------------------ */

/* CR3 bits 63:MAXPHYADDR, less the no-flush bit 63 (the CPU model's width). */
static uint64_t cr3_reserved(const struct vcpu_soft *v)
{
	unsigned bits = v->phys_bits ? v->phys_bits : MAXPHYADDR;

	return ~((1ULL << bits) - 1) & ~(1ULL << 63);
}

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
	uint64_t old = v->cr4, valid = CR4_VALID;
	/* A feature the CPU model lacks leaves its CR4 bit reserved. */
	if (!cpu_has(v, CPUF_PCID)) valid &= ~CR4_PCIDE;
	if (!cpu_has(v, CPUF_SMEP)) valid &= ~CR4_SMEP;
	if (!cpu_has(v, CPUF_SMAP)) valid &= ~CR4_SMAP;
	if (!cpu_has(v, CPUF_LA57)) valid &= ~CR4_LA57;
	if (!cpu_has(v, CPUF_UMIP)) valid &= ~CR4_UMIP;
	if (!cpu_has(v, CPUF_PKU)) valid &= ~CR4_PKE;
	if (!cpu_has(v, CPUF_PKS)) valid &= ~CR4_PKS;
	if (val & ~valid)
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
	if (long_mode(v) && ((val & cr3_reserved(v)) || (val >> 63)))
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
	uint64_t allowed = EFER_SCE | EFER_LME | EFER_LMA | (cpu_has(v, CPUF_NX) ? EFER_NXE : 0);
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
	/* SDM Vol. 3B 16.3.1.1: IA32_MCG_CAP, read-only; no error-reporting banks. */
	case MSR_MCG_CAP: *val = 0; return X86_OK;
	case MSR_SYSENTER_ESP: *val = v->sysenter_esp; return X86_OK;
	case MSR_SYSENTER_EIP: *val = v->sysenter_eip; return X86_OK;
	case MSR_PKRS:
		if (!cpu_has(v, CPUF_PKS))
			return x86_gp(v, 0);
		*val = v->pkrs;
		return X86_OK;
	/* AMD's four legacy counters exist on every AMD64 processor, with no
	 * CPUID bit (APM Vol. 2 13.2.1); Intel's model has no such MSRs. hv
	 * counts no events: they hold what software wrote. */
	case MSR_K7_EVNTSEL0 ... MSR_K7_PERFCTR3:
		if (v->vendor != CPU_VENDOR_AMD)
			return x86_gp(v, 0);
		*val = v->amd_perf[msr - MSR_K7_EVNTSEL0];
		return X86_OK;
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
		if (!is_canonical_max(v, val))
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
		if (!is_canonical_max(v, val))
			return x86_gp(v, 0);
		if (msr == MSR_SYSENTER_ESP) v->sysenter_esp = val;
		else v->sysenter_eip = val;
		return X86_OK;
	case MSR_PKRS: /* SDM Vol. 4 Table 2-2: bits 63:32 reserved */
		if (!cpu_has(v, CPUF_PKS) || (val >> 32))
			return x86_gp(v, 0);
		v->pkrs = (uint32_t)val;
		cpu_update_mode(v);
		return X86_OK;
	case MSR_K7_EVNTSEL0 ... MSR_K7_PERFCTR3:   /* the counters are 48 bits wide */
		if (v->vendor != CPU_VENDOR_AMD)
			return x86_gp(v, 0);
		v->amd_perf[msr - MSR_K7_EVNTSEL0] = msr >= MSR_K7_EVNTSEL0 + 4 ? val & 0xffffffffffffULL : val;
		return X86_OK;
	default: return x86_gp(v, 0);
	}
}
/* ------------------------------------------------------------------------ */
/* Port I/O (SDM Vol. 1 ch. 19): one element per exit                         */
/* ------------------------------------------------------------------------ */

/* CPL > IOPL consults the TSS I/O permission bitmap (SDM Vol. 1 19.5.2). */
static int io_allowed(struct vcpu_soft *v, uint16_t port, unsigned size)
{
	/* IOPL is never one of the lazily computed arithmetic flags. */
	unsigned iopl = (unsigned)((v->rflags & RF_IOPL) >> 12);
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

/* 6C-6F INS/OUTS, E4-E7 and EC-EF IN/OUT */
int op_io(struct vcpu_soft *v, const struct x86_insn *in)
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
			if (v->dbg_attn)
				dbg_io_access(v, port, size);
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
	if (v->dbg_attn)
		dbg_io_access(v, port, size);
	return X86_OK;
}

/* ------------------------------------------------------------------------ */
/* System instructions                                                      */
/* ------------------------------------------------------------------------ */

static void syscall_segs(struct vcpu_soft *v, uint16_t cs_sel, uint16_t ss_sel, bool cs64, unsigned dpl)
{
	seg_flat(&v->seg[SEG_CS], cs_sel, 0xb, cs64, dpl);
	seg_flat(&v->seg[SEG_SS], ss_sel, 0x3, false, dpl);
	v->seg[SEG_SS].db = 1;
}

/* F4: HLT */
int op_hlt(struct vcpu_soft *v, const struct x86_insn *in)
{
	int st;
	if ((st = need_cpl0(v)))
		return st;
	/* With an NMI or (IF=1) an interrupt already queued, delivery happens right after. */
	if (((v->rflags & RF_IF) && v->irq_count) || (v->nmi_pending && !v->nmi_blocked))
		return X86_OK;
	v->exit->reason = VCPU_EXIT_HLT;
	v->exit->exit_reason_vmx = EXIT_REASON_HLT;
	v->exit_after_retire = true;
	return X86_OK;
}

/* FA: CLI, FB: STI */
int op_cli_sti(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned iopl = (unsigned)((v->rflags & RF_IOPL) >> 12);
	if ((v->cr0 & CR0_PE) && v->cpl > iopl)
		return x86_gp(v, 0);
	if (in->op == 0xfa) {
		v->rflags &= ~RF_IF;
	} else {
		if (!(v->rflags & RF_IF)) {
			v->shadow_left = 2;  /* STI shadow (SDM Vol. 2B STI) */
			v->ss_shadow = false;
		}
		v->rflags |= RF_IF;
	}
	return X86_OK;
}

/* 9B: FWAIT: #NM when CR0.MP and CR0.TS */
int op_fwait(struct vcpu_soft *v, const struct x86_insn *in)
{
	if ((v->cr0 & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS))
		return x86_raise(v, EXC_NM, false, 0);
	return X86_OK;
}

/*
 * The x87 control instructions, no more: FNINIT (DB E3), FNCLEX (DB E2),
 * FLDCW m16 (D9 /5), FNSTCW m16 (D9 /7), FNSTSW m16 (DD /7) and AX (DF E0)
 * over a control and a status word, so that the probe software runs to
 * find an FPU (FNINIT, then the two stores) sees one at its initial state.
 * There is no register stack: every other x87 instruction is #UD, and CPUID
 * reports no FPU. CR0.EM or CR0.TS makes these #NM (SDM Vol. 3A 2.5).
 */
int op_x87(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t a;
	int st;

	if (v->cr0 & (CR0_EM | CR0_TS))
		return x86_raise(v, EXC_NM, false, 0);
	switch (in->op) {
	case 0xdb:
		if ((in->rm & 7) == 3) {
			v->fcw = 0x37f;   /* FNINIT: the default control word, status 0 */
			sse_fninit(v);    /* tags empty, pointers and opcode 0 */
		}
		v->fsw = (in->rm & 7) == 3 ? 0 : v->fsw & 0x7f00;  /* FNCLEX: exception flags, ES, B */
		return X86_OK;
	case 0xd9:
		if ((in->reg & 7) == 7)
			return mem_write(v, in->seg, insn_ea(v, in), 2, v->fcw);
		if ((st = mem_read(v, in->seg, insn_ea(v, in), 2, &a)))
			return st;
		v->fcw = (uint16_t)(a | 0x40);  /* bit 6 reads as 1 */
		return X86_OK;
	case 0xdd:
		return mem_write(v, in->seg, insn_ea(v, in), 2, v->fsw);
	default:
		v->gpr[0] = (v->gpr[0] & ~0xffffULL) | v->fsw;
		return X86_OK;
	}
}

/* LMSW changes PE (set only), MP, EM, TS. */
static int lmsw(struct vcpu_soft *v, uint64_t a)
{
	int st;
	if ((st = need_cpl0(v)))
		return st;
	return write_cr0(v, (v->cr0 & ~0xeULL) | (a & 0xf) | (v->cr0 & CR0_PE));
}

/* 0F 01 with a register operand: VMCALL, CLAC, STAC, SMSW r, RDPKRU, WRPKRU, LMSW r,
 * SWAPGS, RDTSCP. */
static int grp7_reg(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned r = in->reg & 7, rm = in->rm & 7;
	uint64_t a;
	int st;

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
		if ((st = umip_check(v)))
			return st;
		a = v->cr0;
		if (in->osz == 2)
			v->gpr[in->rm] = (v->gpr[in->rm] & ~0xffffULL) | (a & 0xffff);
		else
			v->gpr[in->rm] = in->osz == 4 ? a & 0xffffffffULL : a;
		return X86_OK;
	}
	if (r == 5) { /* RDPKRU (EE), WRPKRU (EF): #UD with CR4.PKE = 0 */
		if (!(v->cr4 & CR4_PKE))
			return x86_ud(v);
		if ((uint32_t)v->gpr[1] || (rm == 7 && (uint32_t)v->gpr[2]))
			return x86_gp(v, 0);
		if (rm == 6) {
			v->gpr[0] = v->pkru;
			v->gpr[2] = 0;
			return X86_OK;
		}
		v->pkru = (uint32_t)v->gpr[0];
		cpu_update_mode(v);
		return X86_OK;
	}
	if (r == 6) /* LMSW r */
		return lmsw(v, v->gpr[in->rm]);
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
	if (!cpu_has(v, CPUF_RDTSCP))
		return x86_ud(v);
	if ((v->cr4 & CR4_TSD) && v->cpl)
		return x86_gp(v, 0);
	a = tsc_now(v);
	v->gpr[0] = a & 0xffffffffULL;
	v->gpr[2] = a >> 32;
	v->gpr[1] = v->tsc_aux & 0xffffffffULL;
	return X86_OK;
}

/* 0F 01: group 7 (the decoder rejects the forms not listed here) */
int op_grp7(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned r = in->reg & 7;
	uint64_t a;
	int st;

	if (in->mod == 3)
		return grp7_reg(v, in);
	switch (r) {
	case 0: case 1: { /* SGDT, SIDT: limit then base (8 bytes in 64-bit mode) */
		const struct vcpu_dtable *t = r == 0 ? &v->gdt : &v->idt;
		uint8_t buf[10];
		unsigned bsz = v->mode == 64 ? 8 : 4;
		uint64_t lin, base = t->base;
		if ((st = umip_check(v)))
			return st;
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
		if (v->mode == 64 && !is_canonical_max(v, base))
			return x86_gp(v, 0);
		struct vcpu_dtable *t = r == 2 ? &v->gdt : &v->idt;
		t->base = base;
		t->limit = limit;
		return X86_OK;
	}
	case 4: /* SMSW m16 */
		if ((st = umip_check(v)))
			return st;
		return mem_write(v, in->seg, insn_ea(v, in), 2, v->cr0 & 0xffff);
	case 6: /* LMSW m16 */
		if ((st = mem_read(v, in->seg, insn_ea(v, in), 2, &a)))
			return st;
		return lmsw(v, a);
	default: { /* 7: INVLPG */
		uint64_t lin;
		if ((st = need_cpl0(v)))
			return st;
		a = insn_ea(v, in);
		if (v->mode == 64)
			lin = in->seg >= SEG_FS ? a + v->seg[in->seg].base : a;
		else
			lin = (v->seg[in->seg].base + a) & 0xffffffffULL;
		fetch_settle(v);
		mmu_invlpg(v->mmu, &v->ctx, lin);
		return X86_OK;
	}
	}
}

/* 0F 05: SYSCALL (SDM Vol. 2B SYSCALL, 64-bit mode) */
int op_syscall(struct vcpu_soft *v, const struct x86_insn *in)
{
	/* Long mode only: from 64-bit code to LSTAR; from compatibility mode
	 * #UD on Intel (SDM: CS.L must be 1), CSTAR on AMD (APM Vol. 3
	 * SYSCALL). Legacy mode: #UD (AMD's legacy-mode SYSCALL is not
	 * modelled). */
	bool compat = v->mode != 64;
	if (!(v->efer & EFER_SCE) || !long_mode(v) || (compat && v->vendor != CPU_VENDOR_AMD))
		return x86_ud(v);
	uint64_t a = flags_get(v);
	uint16_t sel = (uint16_t)(v->star >> 32);
	v->gpr[1] = v->next_rip;
	v->gpr[11] = a & ~RF_RF;
	syscall_segs(v, sel & 0xfffc, (uint16_t)((sel + 8) & 0xfffc), true, 0);
	flags_set(v, (a & ~v->fmask & ~RF_RF) | RF_FIXED);
	cpu_update_mode(v);
	v->next_rip = compat ? v->cstar : v->lstar;
	v->tf_after = true;
	return X86_OK;
}

/* 0F 07: SYSRET */
int op_sysret(struct vcpu_soft *v, const struct x86_insn *in)
{
	int st;
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
	v->tf_after = true;
	return X86_OK;
}

/* 0F 06: CLTS */
int op_clts(struct vcpu_soft *v, const struct x86_insn *in)
{
	int st;
	if ((st = need_cpl0(v)))
		return st;
	v->cr0 &= ~CR0_TS;
	cpu_update_mode(v);
	return X86_OK;
}

/* 0F 08, 0F 09: INVD, WBINVD (no caches to model) */
int op_invd(struct vcpu_soft *v, const struct x86_insn *in)
{
	return need_cpl0(v);
}

/* 0F 20: MOV r, CRn */
int op_mov_from_cr(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t a;
	int st;
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
}

/* 0F 22: MOV CRn, r */
int op_mov_to_cr(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t a;
	int st;
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
		/*
		 * The TPR is hv's. As with VMX's TPR shadow and TPR threshold,
		 * a write that lowers it exits once it retired (an interrupt
		 * held back may be deliverable now); one that raises it or
		 * leaves it as it was reaches hv with the next exit, whose
		 * irq.cr8 carries it before hv handles anything.
		 */
		if (v->lapic_exits && a < v->cr8) {
			v->exit->reason = VCPU_EXIT_SET_TPR;
			v->exit->exit_reason_vmx = 28;  /* control-register access */
			v->exit_after_retire = true;
		}
		v->cr8 = a;
		return X86_OK;
	}
}

/* 0F 21, 0F 23: MOV DRn (SDM Vol. 3A 18.2; breakpoints: debug.c) */
int op_mov_dr(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned n = in->reg;
	uint64_t a;
	int st;
	if ((st = need_cpl0(v)))
		return st;
	if (n == 4 || n == 5) {
		if (v->cr4 & CR4_DE)
			return x86_ud(v);
		n += 2;
	}
	if (v->dr7 & DR7_GD) {
		/* General detect: a #DB fault, with GD cleared for the handler. */
		v->dr6 |= DR6_BD;
		v->dr7 &= ~DR7_GD;
		return x86_raise(v, EXC_DB, false, 0);
	}
	if (in->op == (OP_MAP0F | 0x21)) {
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
	else {
		v->dr7 = (a & ~0xd800ULL) | 0x400;
		v->rflags &= ~RF_RF;  /* cleared by this instruction's completion */
		dbg_update(v);
	}
	return X86_OK;
}

/* The local APIC's MSRs, which hv's model answers when it is hv's (SDM
 * Vol. 3A 11.4.4, 11.5.4.1, 11.12.1.2). */
static bool msr_is_lapic(const struct vcpu_soft *v, uint32_t msr)
{
	return v->lapic_exits && (msr == MSR_APIC_BASE || (msr == 0x6e0 && cpu_has(v, CPUF_TSC_DEADLINE)) ||
				  (msr >= 0x800 && msr <= 0x8ff));
}

/*
 * RDMSR/WRMSR of an MSR hv emulates: the first execution exits with
 * VCPU_EXIT_MSR, the second (after hv answered) completes with hv's value or
 * raises the #GP hv asked for.
 */
static int msr_exit(struct vcpu_soft *v, uint32_t msr, bool write, uint64_t val, uint64_t *out)
{
	struct vcpu_exit *e = v->exit;

	if (v->pend == PEND_MSR && v->pend_ready) {
		v->pend = PEND_NONE;
		v->pend_ready = false;
		if (v->pend_fault)
			return x86_gp(v, 0);
		if (write && msr == MSR_APIC_BASE)
			v->apic_base = val;
		*out = v->pend_data;
		return X86_OK;
	}
	e->reason = VCPU_EXIT_MSR;
	e->exit_reason_vmx = write ? 32 : 31;  /* WRMSR, RDMSR (SDM Vol. 3C Appendix C) */
	e->msr.index = msr;
	e->msr.write = write;
	e->msr.data = write ? val : 0;
	v->pend = PEND_MSR;
	v->pend_ready = false;
	return X86_EXIT;
}

/* 0F 30: WRMSR */
int op_wrmsr(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint32_t msr = (uint32_t)v->gpr[1];
	uint64_t val = (v->gpr[2] << 32) | (v->gpr[0] & 0xffffffffULL), unused;
	int st;
	if ((st = need_cpl0(v)))
		return st;
	/* Without x2APIC in the CPU model, IA32_APIC_BASE.EXTD is reserved. */
	if (msr == MSR_APIC_BASE && (val & (1ULL << 10)) && !cpu_has(v, CPUF_X2APIC))
		return x86_gp(v, 0);
	if (msr_is_lapic(v, msr))
		return msr_exit(v, msr, true, val, &unused);
	return wrmsr(v, msr, val);
}

/* 0F 31: RDTSC: retired instructions plus the guest's offset */
int op_rdtsc(struct vcpu_soft *v, const struct x86_insn *in)
{
	if ((v->cr4 & CR4_TSD) && v->cpl)
		return x86_gp(v, 0);
	uint64_t a = tsc_now(v);
	v->gpr[0] = a & 0xffffffffULL;
	v->gpr[2] = a >> 32;
	return X86_OK;
}

/* 0F 32: RDMSR */
int op_rdmsr(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t a = 0;
	int st;
	if ((st = need_cpl0(v)))
		return st;
	if (msr_is_lapic(v, (uint32_t)v->gpr[1]))
		st = msr_exit(v, (uint32_t)v->gpr[1], false, 0, &a);
	else
		st = rdmsr(v, (uint32_t)v->gpr[1], &a);
	if (st)
		return st;
	v->gpr[0] = a & 0xffffffffULL;
	v->gpr[2] = a >> 32;
	return X86_OK;
}

/*
 * 0F AE /5-/7 with a register: LFENCE, MFENCE, SFENCE: one vCPU, program
 * order already. With memory: 0F AE /7 CLFLUSH, 66 0F AE /7 CLFLUSHOPT,
 * 66 0F AE /6 CLWB: no cache is modelled, but the line's address is checked
 * and translated as a one-byte read is (segment limits, #PF, EPT), with
 * nothing read (a device window sees no access).
 */
int op_fence(struct vcpu_soft *v, const struct x86_insn *in)
{
	struct mref m;
	uint64_t lin;
	int st;

	if (in->mod == 3)
		return X86_OK;
	if ((st = seg_linear(v, in->seg, insn_ea(v, in), 1, &lin)))
		return st;
	return mref_get(v, lin, 1, ACC_READ | (in->seg == SEG_SS ? MEM_STACK : 0), &m);
}

/* 0F 33: RDPMC. Intel: CPUID leaf 0AH reports no performance-monitoring
 * counters, so no ECX names a valid one: #GP(0) (SDM Vol. 2B RDPMC). AMD:
 * ECX 0-3 read PerfCtr0-3, at CPL > 0 only with CR4.PCE (APM Vol. 3 RDPMC). */
int op_rdpmc(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint32_t n = (uint32_t)v->gpr[1];

	if (v->vendor != CPU_VENDOR_AMD || n > 3 || (v->cpl && !(v->cr4 & (1ULL << 8))))
		return x86_gp(v, 0);
	v->gpr[0] = v->amd_perf[4 + n] & 0xffffffffULL;
	v->gpr[2] = v->amd_perf[4 + n] >> 32;
	return X86_OK;
}

/* 66 0F 38 82: INVPCID (SDM Vol. 2A INVPCID) */
int op_invpcid(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t desc[2] = { 0, 0 }, lin, a;
	int st;
	if (!cpu_has(v, CPUF_INVPCID))
		return x86_ud(v);
	if ((st = need_cpl0(v)))
		return st;
	a = v->mode == 64 ? v->gpr[in->reg] : v->gpr[in->reg] & 0xffffffffULL;
	if ((st = seg_linear(v, in->seg, insn_ea(v, in), 16, &lin)) ||
	    (st = lin_read(v, lin, 16, desc, in->seg == SEG_SS ? MEM_STACK : 0)))
		return st;
	if (a > 3 || (desc[0] >> 12))
		return x86_gp(v, 0);
	uint16_t pcid = desc[0] & 0xfff;
	if (a == 0 && !is_canonical_max(v, desc[1]))
		return x86_gp(v, 0);
	if (a < 2 && !(v->cr4 & CR4_PCIDE) && pcid)
		return x86_gp(v, 0);
	fetch_settle(v);
	mmu_invpcid(v->mmu, v->ctx.vpid, (unsigned)a, pcid, desc[1]);
	return X86_OK;
}
