/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/vcpu_soft.c - the software vCPU behind struct vcpu_ops: creation,
 * register access, the run loop and the pre-decoded blocks.
 *
 * The run loop, per instruction: deliver a queued interrupt if RFLAGS.IF
 * allows it; translate RIP through the model (one translation, two if the
 * instruction crosses a page; inside a block, a hit counted in bulk); take
 * the running block's next record, or find the block that starts at that HPA
 * or decode it; execute; retire (advance RIP, count). A fault is delivered
 * through the guest's IDT; an exit returns to hv.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/cpu/mem.h"

/* ------------------------------------------------------------------------ */
/* Pre-decoded blocks                                                       */
/* ------------------------------------------------------------------------ */
/*
 * A block is a run of instructions on one page, decoded once into (handler,
 * operands) records, keyed by the HPA of its first byte and the code size.
 * It keeps its bytes, and a lookup that starts a block compares them with
 * memory: code written by anyone between two uses - the guest, a device,
 * hv's loader, a test harness - is decoded again. While a block runs, the
 * guest's own stores are the only writers (devices and hv act at exits, which
 * end the run), and xlate() marks code_written when one goes to the block's
 * page, which ends the block after the storing instruction.
 *
 * Every instruction is still fetched through the model, in order: the run
 * loop translates RIP before each one, and only when the result is the HPA
 * of the block's next record does it skip the lookup. A branch, a fault, an
 * interrupt, a changed mapping or mode simply leads to another lookup.
 */

/* Tag of a block: the HPA (below 2^52) with the code size above it (v->dkey_mode), never 0. */
static inline uint64_t blk_key(const struct vcpu_soft *v, uint64_t hpa)
{
	return hpa | v->dkey_mode;
}

static inline struct block *blk_slot(const struct vcpu_soft *v, uint64_t hpa)
{
	return &v->blocks[(hpa ^ (hpa >> 13)) & (BLK_SLOTS - 1)];
}

/*
 * Instructions after which a block stops being decoded: nothing after them
 * runs next (unconditional transfers, HLT, system calls). A stop is only an
 * economy - the run loop checks RIP's translation before every record - so
 * conditional branches and faulting instructions do not end blocks.
 */
static bool blk_stop(const struct x86_insn *in)
{
	switch (in->op) {
	case 0xc2: case 0xc3: case 0xca: case 0xcb: case 0xcc: case 0xcd: case 0xcf:
	case 0xe8: case 0xe9: case 0xea: case 0xeb: case 0xf4: case 0x9a:
	case 0x105: case 0x107: case 0x134: case 0x135:   /* SYSCALL, SYSRET, SYSENTER, SYSEXIT */
		return true;
	case 0xff:
		return in->reg >= 2 && in->reg <= 5;   /* CALL/JMP near and far, indirect */
	default:
		return false;
	}
}

/* Decode a block at hpa (p its host address) into b. False if not even
 * the first instruction lies whole on the page and decodes. */
static bool blk_build(struct vcpu_soft *v, struct block *b, uint64_t hpa, const uint8_t *p)
{
	unsigned off = 0, page_left = 4096 - (unsigned)(hpa & 0xfff), n = 0;

	while (n < BLK_INSNS && off < page_left) {
		struct blk_op *o = &b->op[n];
		unsigned avail = page_left - off;
		int len = x86_decode(p + off, avail < 15 ? avail : 15, v->mode, &o->insn);

		if (len < 0 || off + (unsigned)len > BLK_BYTES)
			break;
		o->fn = exec_select(&o->insn);
		b->off[n++] = (uint16_t)off;
		off += (unsigned)len;
		if (blk_stop(&o->insn))
			break;
	}
	if (n == 0) {
		b->key = 0;
		return false;
	}
	b->n = (uint16_t)n;
	b->len = (uint16_t)off;
	memcpy(b->bytes, p, off);
	b->key = blk_key(v, hpa);
	return true;
}

/* The block starting at hpa, decoded now if its slot holds another or its
 * bytes changed; NULL when the instruction there needs the one-off path. */
static struct block *blk_get(struct vcpu_soft *v, uint64_t hpa)
{
	const uint8_t *p = hpool_ptr(v->pool, hpa);
	struct block *b = blk_slot(v, hpa);

	if (b->key == blk_key(v, hpa) && memcmp(b->bytes, p, b->len) == 0)
		return b;
	return blk_build(v, b, hpa, p) ? b : NULL;
}

/* The linear address of RIP. */
static inline uint64_t rip_linear(const struct vcpu_soft *v)
{
	if (v->mode != 64)
		return (v->seg[SEG_CS].base + v->rip) & 0xffffffffULL;
	return v->rip;
}

/* Translate RIP for an instruction fetch (one model translation). */
static inline int fetch_xlate(struct vcpu_soft *v, uint64_t lin, uint64_t *hpa)
{
	fetch_settle(v);
	v->stats.fetches++;
	if (__builtin_expect(mmu_translate_hit(v->hit, lin, ACC_FETCH, hpa), 1)) {
		/* Further fetches from this page may be counted in bulk (run_loop). */
		v->fpage = (lin & ~0xfffULL) | 1;
		return X86_OK;
	}
	struct mmu_result res;

	mmu_translate(v->mmu, &v->ctx, lin, ACC_FETCH, &res);
	if (__builtin_expect(res.status != MMU_OK, 0))
		return fetch_fail(v, &res);
	*hpa = res.hpa;
	return X86_OK;
}

/*
 * Decode the one instruction at lin (already translated to hpa) that no block
 * holds: it crosses into the next page (translated too) or does not decode.
 */
static int fetch_one(struct vcpu_soft *v, uint64_t lin, uint64_t hpa, struct x86_insn *tmp)
{
	const uint8_t *p = hpool_ptr(v->pool, hpa);
	size_t avail = 4096 - (hpa & 0xfff);
	int n = x86_decode(p, avail < 15 ? avail : 15, v->mode, tmp);
	int st;

	if (n == -1 && avail < 15) {
		/* The instruction continues on the next page: translate it too. */
		uint8_t buf[16];
		uint64_t lin2 = lin + avail;
		if (v->mode != 64)
			lin2 &= 0xffffffffULL;
		memcpy(buf, p, avail);
		if ((st = lin_read(v, lin2, (unsigned)(15 - avail), buf + avail, ACC_FETCH)))
			return st;
		n = x86_decode(buf, 15, v->mode, tmp);
	}
	if (n < 0)
		return x86_gp(v, 0);  /* SDM 2.3.11: longer than 15 bytes */
	return X86_OK;
}

/* ------------------------------------------------------------------------ */
/* Exceptions: double and triple faults (SDM Vol. 3A 6.15, Table 6-5)        */
/* ------------------------------------------------------------------------ */

static bool contributory(unsigned vec)
{
	return vec == EXC_DE || vec == EXC_TS || vec == EXC_NP || vec == EXC_SS || vec == EXC_GP;
}

static const char *exc_name(unsigned vec)
{
	static const char *const names[] = { "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
					     "#DF", "?9", "#TS", "#NP", "#SS", "#GP", "#PF", "?15",
					     "#MF", "#AC", "#MC", "#XM" };
	return vec < sizeof(names) / sizeof(names[0]) ? names[vec] : "vector";
}

/*
 * Deliver the exception pending in v (raised by the instruction at v->rip).
 * A fault while delivering one exception is combined with it as Table 6-5
 * says: benign then anything, or contributory then #PF, is handled serially
 * (the second is delivered instead); contributory then contributory, or #PF
 * then #PF or contributory, becomes #DF; only a fault while delivering #DF
 * is a triple fault (shutdown). A delivery can fail only with a
 * contributory exception or #PF, so the chain is at most benign,
 * contributory, #PF, #DF; the bound is a safety net, not architecture.
 */
#define EXC_CHAIN_MAX 8

static int deliver_exception(struct vcpu_soft *v)
{
	unsigned chain[EXC_CHAIN_MAX];
	bool has_err = v->exc_has_err;
	uint32_t err = v->exc_err;
	unsigned cur = v->exc_vec, n = 0;

	if (v->dbg_held) {
		/* A fault on the instruction after MOV SS drops the #DB traps held. */
		v->dbg_held = 0;
		dbg_update(v);
	}
	for (;;) {
		chain[n++] = cur;
		v->exc_pending = false;
		v->stats.exceptions++;
		v->next_rip = v->rip;
		/* The RFLAGS image of a fault has RF set, so that IRET back to the
		 * instruction does not hit its instruction breakpoint again (SDM
		 * Vol. 3A 18.3.1.1); #DB here is a trap (single step, INT1). */
		uint64_t fl = flags_get(v);
		bool rf = cur != EXC_DB && (v->cr0 & CR0_PE);
		if (rf)
			flags_set(v, fl | RF_RF);
		int st = cpu_deliver(v, cur, has_err, err, false, v->rip);
		if (st == X86_OK) {
			v->rip = v->next_rip;
			return X86_OK;
		}
		if (rf)
			flags_set(v, fl);
		if (st == X86_EXIT)
			return st;
		unsigned second = v->exc_vec;
		if (cur == EXC_DF || n == EXC_CHAIN_MAX) {
			struct vcpu_exit *e = v->exit;
			char path[8 * EXC_CHAIN_MAX] = "";
			size_t len = 0;

			for (unsigned i = 0; i < n && len < sizeof(path); i++)
				len += (size_t)snprintf(path + len, sizeof(path) - len, "%s%s",
							i ? " -> " : "", exc_name(chain[i]));
			e->reason = VCPU_EXIT_TRIPLE_FAULT;
			e->exit_reason_vmx = EXIT_REASON_TRIPLE_FAULT;
			snprintf(e->fail.msg, sizeof(e->fail.msg),
				 "triple fault: %s (error 0x%x) while delivering %s (%s) at rip 0x%llx",
				 exc_name(second), v->exc_err, exc_name(cur), path,
				 (unsigned long long)v->rip);
			v->exc_pending = false;
			v->shutdown = true;
			return X86_EXIT;
		}
		if ((contributory(cur) && contributory(second)) ||
		    (cur == EXC_PF && (second == EXC_PF || contributory(second)))) {
			cur = EXC_DF;
			has_err = true;
			err = 0;
		} else {
			/* Serial: the second exception is delivered instead. */
			cur = second;
			has_err = v->exc_has_err;
			err = v->exc_err;
		}
	}
}

/* ------------------------------------------------------------------------ */
/* vcpu_ops                                                                 */
/* ------------------------------------------------------------------------ */

static int soft_probe(char *why, size_t whylen)
{
	if (why && whylen)
		why[0] = '\0';
	return 0;
}

static struct vcpu_soft *to_soft(struct vcpu *vcpu)
{
	return container_of(vcpu, struct vcpu_soft, base);
}

static int soft_create(const struct vcpu_config *cfg, struct gmem *mem, struct vcpu **out)
{
	struct vcpu_soft *v;
	/* Precondition: the VM supplies the pool, the EPT and the MMU. The soft
	 * vCPU translates through the model's EPT directly; mem edits it. */
	(void)mem;
	if (!cfg || !cfg->pool || !cfg->soft.mmu || !out)
		return -EINVAL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	/* calloc: untouched blocks cost no memory; key 0 is empty (keys carry the mode). */
	v->blocks = calloc(BLK_SLOTS, sizeof(*v->blocks));
	if (!v->blocks) {
		free(v);
		return -ENOMEM;
	}
	v->blk_page = BLK_NO_PAGE;
	v->base.ops = &vcpu_soft_ops;
	v->pool = cfg->pool;
	v->mmu = cfg->soft.mmu;
	v->hit = mmu_hit(cfg->soft.mmu);
	v->ept = cfg->ept;
	v->mmio = cfg->mmio;
	v->nmmio = cfg->nmmio;
	v->mem_size = cfg->mem_size;
	v->lapic_exits = cfg->lapic_exits;
	v->features_off = cfg->soft.features_off;
	v->phys_bits = cfg->soft.phys_bits;
	v->ctx.vpid = cfg->soft.vpid;
	v->ctx.maxphyaddr = (uint8_t)cfg->soft.phys_bits;   /* reserved bits in guest walks */
	v->ctx.ept = cfg->ept;
	cpu_reset(v);
	*out = &v->base;
	return 0;
}

static void soft_destroy(struct vcpu *vcpu)
{
	struct vcpu_soft *v;

	if (!vcpu)
		return;
	v = to_soft(vcpu);
	free(v->blocks);
	free(v);
}

static int soft_get_regs(struct vcpu *vcpu, struct vcpu_regs *r)
{
	struct vcpu_soft *v = to_soft(vcpu);

	memcpy(r->gpr, v->gpr, sizeof(r->gpr));
	r->rip = v->rip;
	r->rflags = flags_get(v);
	return 0;
}

static int soft_set_regs(struct vcpu *vcpu, const struct vcpu_regs *r)
{
	struct vcpu_soft *v = to_soft(vcpu);

	/* Moving RIP abandons a half-done IN or MMIO read (its value would be stale). */
	if (r->rip != v->rip && v->pend != PEND_HYPERCALL) {
		v->pend = PEND_NONE;
		v->pend_nmmio = 0;
		v->pend_ready = false;
	}
	memcpy(v->gpr, r->gpr, sizeof(v->gpr));
	v->rip = r->rip;
	flags_set(v, r->rflags);
	cpu_update_mode(v);
	return 0;
}

static int soft_get_sregs(struct vcpu *vcpu, struct vcpu_sregs *s)
{
	struct vcpu_soft *v = to_soft(vcpu);

	s->es = v->seg[SEG_ES];
	s->cs = v->seg[SEG_CS];
	s->ss = v->seg[SEG_SS];
	s->ds = v->seg[SEG_DS];
	s->fs = v->seg[SEG_FS];
	s->gs = v->seg[SEG_GS];
	s->tr = v->tr;
	s->ldt = v->ldt;
	s->gdt = v->gdt;
	s->idt = v->idt;
	s->cr0 = v->cr0;
	s->cr2 = v->cr2;
	s->cr3 = v->cr3;
	s->cr4 = v->cr4;
	s->cr8 = v->cr8;
	s->efer = v->efer;
	s->apic_base = v->apic_base;
	return 0;
}

/*
 * Accepts any consistent state: 32-bit protected mode with paging off or on,
 * or long mode (CR0.PG|PE, CR4.PAE, EFER.LME|LMA, CS.L). -EINVAL for states
 * the interpreter cannot run (paging without protection, LMA without PAE/PG).
 */
static int soft_set_sregs(struct vcpu *vcpu, const struct vcpu_sregs *s)
{
	struct vcpu_soft *v = to_soft(vcpu);

	if ((s->cr0 & CR0_PG) && !(s->cr0 & CR0_PE))
		return -EINVAL;
	if ((s->efer & EFER_LMA) && (!(s->cr0 & CR0_PG) || !(s->cr4 & CR4_PAE) || !(s->efer & EFER_LME)))
		return -EINVAL;
	if (s->cr4 & ~CR4_VALID)
		return -EINVAL;
	bool paging_changed = s->cr0 != v->cr0 || s->cr3 != v->cr3 || s->cr4 != v->cr4 ||
			      s->efer != v->efer;
	v->seg[SEG_ES] = s->es;
	v->seg[SEG_CS] = s->cs;
	v->seg[SEG_SS] = s->ss;
	v->seg[SEG_DS] = s->ds;
	v->seg[SEG_FS] = s->fs;
	v->seg[SEG_GS] = s->gs;
	v->tr = s->tr;
	v->ldt = s->ldt;
	v->gdt = s->gdt;
	v->idt = s->idt;
	v->cr0 = s->cr0 | CR0_ET;
	v->cr2 = s->cr2;
	v->cr3 = s->cr3;
	v->cr4 = s->cr4;
	v->cr8 = s->cr8 & 0xf;
	v->efer = s->efer;
	v->apic_base = s->apic_base;
	v->shutdown = false;  /* loading a new state leaves the shutdown state, like INIT */
	cpu_update_mode(v);
	if (paging_changed)
		mmu_flush_vpid_all(v->mmu, v->ctx.vpid);
	return 0;
}

static int soft_inject_irq(struct vcpu *vcpu, uint8_t vector)
{
	struct vcpu_soft *v = to_soft(vcpu);

	uint8_t bit = (uint8_t)(1u << (vector & 7));
	if (!(v->irq_pending[vector / 8] & bit)) {
		v->irq_pending[vector / 8] |= bit;
		v->irq_count++;
	}
	return 0;
}

static int soft_inject_nmi(struct vcpu *vcpu)
{
	to_soft(vcpu)->nmi_pending = true;  /* a second one before delivery merges */
	return 0;
}

static void soft_get_stats(struct vcpu *vcpu, struct vcpu_stats *s)
{
	struct vcpu_soft *v = to_soft(vcpu);

	*s = v->stats;
	s->instructions = v->icount;
}

/* Complete an exit hv has handled: IN data, MMIO read data, hypercall result. */
static void complete_pending(struct vcpu_soft *v, const struct vcpu_exit *e)
{
	switch (v->pend) {
	case PEND_IO_IN:
		v->pend_data = e->io.data;
		v->pend_ready = true;
		break;
	case PEND_MMIO_READ:
		v->pend_mmio_data[v->pend_nmmio - 1] = e->mmio.data;
		v->pend_ready = true;
		break;
	case PEND_HYPERCALL:
		v->gpr[0] = e->hypercall.ret;
		v->pend = PEND_NONE;
		break;
	case PEND_MSR:
		v->pend_data = e->msr.data;
		v->pend_fault = e->msr.fault;
		v->pend_ready = true;
		break;
	default:
		break;
	}
}

/* A #DB trap reporting `trap` (B0-B3 replace DR6's, BS is added). */
static int dbg_trap(struct vcpu_soft *v, uint32_t trap)
{
	if (trap & 0xf)
		v->dr6 = (v->dr6 & ~0xfULL) | (trap & 0xf);
	v->dr6 |= trap & DR6_BS;
	x86_raise(v, EXC_DB, false, 0);
	return deliver_exception(v);
}

/*
 * After an instruction retired with something to look at (retire_attn or
 * single-step): a store to the running block's page, a REP that runs again,
 * the interrupt shadow, the single-step trap, an exit after retirement. True
 * when run() must return (exit->rip is set).
 */
static bool retire_attention(struct vcpu_soft *v, const struct x86_insn *in, uint32_t single_step,
			     uint64_t rip, struct vcpu_exit *exit, struct block **blk)
{
	/* A store to the block's page: look its bytes up again. */
	if (v->code_written) {
		v->code_written = false;
		*blk = NULL;
	}
	/* A REP instruction that will run again retires (and counts) once, at its end. */
	if (v->rep_continues) {
		v->rep_continues = false;
		v->icount--;
	}
	if (v->shadow_left)
		v->shadow_left--;
	/* SYSCALL and SYSRET: the TF they leave decides (FMASK clearing TF
	 * means no trap after SYSCALL; SYSRET loading TF traps at once, in
	 * user mode), as QEMU and KVM's emulator do. */
	if (v->tf_after) {
		v->tf_after = false;
		single_step = (uint32_t)(v->rflags & RF_TF);
	}
	/* RFLAGS.TF at the start of an instruction: a #DB trap after it (SDM
	 * 18.3.1.4), with the data breakpoints it hit (debug.c); none after
	 * INT n, INT3 and INT1, whose delivery cleared TF. After MOV SS or POP
	 * SS both wait for the next instruction (SDM 6.8.3). */
	uint32_t trap = single_step && in->op != 0xcd && in->op != 0xcc && in->op != 0xf1 ?
			(uint32_t)DR6_BS : 0;
	if (v->dbg_attn | v->movss_now) {
		trap |= v->dbg_hits;
		v->dbg_hits = 0;
		if (v->movss_now) {
			v->movss_now = false;
			v->dbg_held |= trap;
			trap = 0;
		} else {
			trap |= v->dbg_held;
			v->dbg_held = 0;
		}
		dbg_update(v);
	}
	if (trap && in->op == 0xf4 && v->exit_after_retire) {
		/* HLT halts first: its trap is taken when the vCPU wakes. */
		v->dbg_after_hlt = trap;
		trap = 0;
	}
	if (trap) {
		if (dbg_trap(v, trap) == X86_EXIT) {
			v->exit_after_retire = false;
			exit->rip = v->rip;
			return true;
		}
	}
	if (v->exit_after_retire) {
		v->exit_after_retire = false;
		exit->rip = rip;
		return true;
	}
	return false;
}

static int run_loop(struct vcpu_soft *v, uint64_t max_insns, struct vcpu_exit *exit)
{
	struct blk_op one;            /* an instruction no block holds */
	const struct blk_op *op, *op_end;
	const struct x86_insn *in;
	struct block *blk = NULL;     /* the running block */
	uint64_t blk_hpa = 0, blk_mode = 0, blk_fpage = 0;
	unsigned k = 0;               /* its next record */
	bool irq_quiet;
	uint64_t left = max_insns ? max_insns : ~0ULL;  /* steps still allowed */
	int st;

	/* Something else (hv walk, a test) may have translated under another context. */
	mmu_set_ctx(v->mmu, &v->ctx);
	v->exit = exit;
	v->exit_after_retire = false;
	if (v->shutdown) {
		exit->reason = VCPU_EXIT_TRIPLE_FAULT;
		exit->exit_reason_vmx = EXIT_REASON_TRIPLE_FAULT;
		snprintf(exit->fail.msg, sizeof(exit->fail.msg), "vCPU is in shutdown after a triple fault");
		exit->rip = v->rip;
		return 0;
	}
	if (v->wr2_pending) {
		/* The rest of a page-split MMIO store, before anything else runs. */
		v->wr2_pending = false;
		exit->reason = VCPU_EXIT_MMIO;
		exit->exit_reason_vmx = EXIT_REASON_EPT_VIOLATION;
		exit->mmio.gpa = v->wr2_gpa;
		exit->mmio.size = v->wr2_size;
		exit->mmio.write = true;
		exit->mmio.data = v->wr2_data;
		exit->rip = v->wr2_rip;
		return 0;
	}

	if (v->dbg_after_hlt) {
		uint32_t trap = v->dbg_after_hlt;

		v->dbg_after_hlt = 0;
		if (dbg_trap(v, trap) == X86_EXIT) {
			exit->rip = v->rip;
			return 0;
		}
	}

	for (;;) {
		if (__builtin_expect(left == 0, 0)) {
			exit->reason = VCPU_EXIT_INSN_LIMIT;
			break;
		}
		left--;
		/* NMIs, then external interrupts, at the instruction boundary
		 * (SDM Vol. 3A 6.8.3, 6.9); an STI or MOV SS shadow holds both. */
		irq_quiet = (v->irq_count | v->irq_window | v->nmi_pending) == 0;
		if (__builtin_expect(!irq_quiet, 0) &&
		    !v->shadow_left && v->pend == PEND_NONE) {
			if (v->nmi_pending && !v->nmi_blocked)
				st = cpu_deliver_nmi(v);
			else if (!(v->rflags & RF_IF) || !(v->irq_count | v->irq_window))
				goto no_event;
			else if (!v->irq_count) {
				v->irq_window = false;
				exit->reason = VCPU_EXIT_IRQ_WINDOW;
				break;
			} else
				st = cpu_deliver_pending(v);
			if (st == X86_OK)
				continue;
			goto fault_or_exit;
		}
no_event:;
		uint64_t lin = rip_linear(v), hpa = 0;
		if (__builtin_expect(v->dr7 & 0xff, 0)) {
			/* Instruction breakpoints: a #DB fault before the instruction,
			 * unless RF (cleared as the instruction starts) says it ran. */
			uint32_t hits = v->rflags & RF_RF ? 0 : dbg_exec_hits(v, lin);

			v->rflags &= ~RF_RF;
			v->dbg_hits = 0;
			if (hits) {
				v->dr6 = (v->dr6 & ~0xfULL) | hits;
				st = x86_raise(v, EXC_DB, false, 0);
				goto fault_or_exit;
			}
		}
		st = fetch_xlate(v, lin, &hpa);
		if (__builtin_expect(st != X86_OK, 0))
			goto fault_or_exit;
		/* The next record of the running block, or the block that starts here. */
		if (__builtin_expect(blk != NULL && k < blk->n && hpa == blk_hpa + blk->off[k] &&
				     v->dkey_mode == blk_mode, 1)) {
			op = &blk->op[k];
			op_end = &blk->op[blk->n];
		} else {
			blk = blk_get(v, hpa);
			if (blk != NULL) {
				blk_hpa = hpa;
				blk_mode = v->dkey_mode;
				v->blk_page = hpa >> 12;
				k = 0;
				op = &blk->op[0];
				op_end = &blk->op[blk->n];
			} else {
				v->blk_page = BLK_NO_PAGE;
				st = fetch_one(v, lin, hpa, &one.insn);
				if (st != X86_OK)
					goto fault_or_exit;
				one.fn = exec_select(&one.insn);
				op = &one;
				op_end = &one + 1;
			}
		}
		blk_fpage = (lin & ~0xfffULL) | 1;
		/* Run records while each next one is the next instruction. */
		for (;;) {
			uint64_t rip = v->rip, fall = rip + op->insn.len;
			uint32_t single_step = (uint32_t)(v->rflags & RF_TF);

			in = &op->insn;
			k++;
			v->next_rip = fall & v->ip_mask;
			st = op->fn(v, in);
			if (__builtin_expect(st != X86_OK, 0))
				goto fault_or_exit;
			v->rip = v->next_rip;
			v->icount++;
			/* One test for the shadow, REP, exit-after-retire, code-written and single-step cases. */
			if (__builtin_expect((v->retire_attn | single_step) != 0, 0)) {
				if (retire_attention(v, in, single_step, rip, exit, &blk))
					goto out;
				break;
			}
			/*
			 * The next record is the next instruction if this one fell
			 * through (no branch, no wrap of IP) and its fetch hits the
			 * slot the block's last fetch used, nothing else having
			 * reached the MMU since (fpage is still armed for the page;
			 * a mode change disarms it too, in cpu_update_mode): then
			 * that fetch is counted with the others when they settle.
			 * Interrupts and NMIs only become deliverable here when some
			 * were pending at the last lookup (hv injects between runs).
			 */
			if (++op == op_end || v->rip != fall || v->fpage != blk_fpage || left == 0 ||
			    !irq_quiet)
				break;
			left--;
			v->stats.fetches++;
			v->fpend++;
		}
		continue;
fault_or_exit:
		/* A store before the fault may have gone to the block's page. */
		v->code_written = false;
		blk = NULL;
		if (st == X86_EXIT) {
			exit->rip = v->rip;
			goto out;
		}
		if (deliver_exception(v) == X86_EXIT) {
			exit->rip = v->rip;
			goto out;
		}
	}
	exit->rip = v->rip;
out:
	fetch_settle(v);
	v->code_written = false;
	v->blk_page = BLK_NO_PAGE;
	return 0;
}

/* The exit's interrupt handshake (struct vcpu_exit, irq), around the run. */
static int soft_run(struct vcpu *vcpu, uint64_t max_insns, struct vcpu_exit *exit)
{
	struct vcpu_soft *v = to_soft(vcpu);
	bool window = exit->irq.window;
	uint64_t idle = exit->irq.idle;
	uint8_t cr8 = exit->irq.cr8;
	int rc;

	complete_pending(v, exit);
	memset(exit, 0, sizeof(*exit));
	if (v->lapic_exits) {
		v->irq_window = window;
		v->tsc_offset += (int64_t)idle;
		v->cr8 = cr8 & 0xf;
	}
	rc = run_loop(v, max_insns, exit);
	if (v->lapic_exits) {
		exit->irq.ready = (v->rflags & RF_IF) && !v->shadow_left && v->pend == PEND_NONE &&
				  !v->shutdown;
		exit->irq.cr8 = (uint8_t)v->cr8;
		exit->irq.tsc = v->icount + (uint64_t)v->tsc_offset;
	}
	return rc;
}

const struct vcpu_ops vcpu_soft_ops = {
	.name = "soft",
	.counts_instructions = true,
	.models_translation = true,
	.probe = soft_probe,
	.mem_create = gmem_soft_create,
	.mem_destroy = gmem_soft_destroy,
	.create = soft_create,
	.destroy = soft_destroy,
	.get_regs = soft_get_regs,
	.set_regs = soft_set_regs,
	.get_sregs = soft_get_sregs,
	.set_sregs = soft_set_sregs,
	.run = soft_run,
	.inject_irq = soft_inject_irq,
	.inject_nmi = soft_inject_nmi,
	.get_stats = soft_get_stats,
};
