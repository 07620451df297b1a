/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/vcpu_soft.c - the software vCPU behind struct vcpu_ops: creation,
 * register access, the run loop and the pre-decoded blocks.
 *
 * The run loop: deliver a queued interrupt if RFLAGS.IF allows it;
 * translate RIP through the model (one translation, two if the instruction
 * crosses a page); take the running block's next record, or find the block
 * that starts at that HPA or decode it; then run records while each next one
 * is the next instruction (run_records: execute, retire, and the next fetch
 * a hit counted in bulk). A fault is delivered through the guest's IDT; an
 * exit returns to hv.
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
 * Comparing the bytes is needed only when something could have written them
 * unseen: code_watch.epoch counts the stretches during which no code could have
 * changed - it moves when run() starts, after a guest store to a frame a block
 * was decoded from or compared with since the frame's last such store
 * (code_watch.map, code_store()) and after a walk that wrote A/D bits
 * (walk_wrote()) - and a block whose bytes matched in the current stretch is
 * used as it is, on any page. Every block current in the stretch has its
 * frame marked in the map, so a store to an unmarked frame changes no current
 * block. An exception needs no move of its own: its delivery's stack writes
 * are guest stores like any other.
 *
 * Every instruction is still fetched through the model, in order: the run
 * loop translates RIP before each one, and only when the result is the HPA
 * of the block's next record does it skip the lookup. A branch, a fault, an
 * interrupt, a changed mapping or mode simply leads to another lookup.
 */

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

/* Jcc and JMP rel: a target relative to the instruction's end. */
static bool blk_rel_jump(const struct x86_insn *in)
{
	return (in->op >= 0x70 && in->op <= 0x7f) || (in->op >= 0x180 && in->op <= 0x18f) ||
	       in->op == 0xe9 || in->op == 0xeb;
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
		o->h_slot = &thread_no_slot;
		o->off = (uint16_t)off;
		o->idx = (uint8_t)n;
		o->tgt = BLK_NO_TGT;
		/* 64-bit mode: RIP moves by the offsets, without a mask. */
		o->tfn = v->mode == 64 ? exec_thread(o->fn, &o->insn,
						     (unsigned)(hpa & 0xfff) + off + (unsigned)len,
						     &o->declines) : NULL;
		n++;
		off += (unsigned)len;
		if (blk_stop(&o->insn))
			break;
	}
	if (n == 0) {
		b->key = 0;
		return false;
	}
	/* The threaded code: each pure record runs on into the next. */
	b->op[n].tfn = thread_stop;
	b->op[n].npure = 0;
	b->op[n].idx = (uint8_t)n;
	for (unsigned i = n; i-- > 0;) {
		struct blk_op *o = &b->op[i];

		o->npure = o->tfn != NULL ? (uint8_t)(o[1].npure + 1) : 0;
		if (o->tfn == NULL)
			o->tfn = thread_stop;
		/* A near jump with threaded code into this block: which record. */
		if (o->npure && blk_rel_jump(&o->insn)) {
			int64_t t = (int64_t)o->off + o->insn.len + (int64_t)o->insn.imm;

			for (unsigned j = 0; j < n; j++)
				if (b->op[j].off == t)
					o->tgt = (uint8_t)j;
		}
	}
	b->n = (uint16_t)n;
	b->len = (uint16_t)off;
	b->h_next = b;
	b->h_fslot = &thread_no_slot;
	memcpy(b->bytes, p, off);
	code_map_set(v, hpa);
	b->key = blk_key(v, hpa);
	b->epoch = v->code->epoch;
	return true;
}

/* blk_get() when b's bytes are not known current: compared, or decoded again. */
static __attribute__((noinline)) struct block *blk_get_slow(struct vcpu_soft *v, struct block *b,
							     uint64_t hpa)
{
	const uint8_t *p = hpool_ptr(v->pool, hpa);

	if (b->key == blk_key(v, hpa) && memcmp(b->bytes, p, b->len) == 0) {
		code_map_set(v, hpa);
		b->epoch = v->code->epoch;
		return b;
	}
	return blk_build(v, b, hpa, p) ? b : NULL;
}

/* The block starting at hpa, decoded now if its slot holds another or its
 * bytes changed; NULL when the instruction there needs the one-off path. */
static inline __attribute__((always_inline)) struct block *blk_get(struct vcpu_soft *v, uint64_t hpa)
{
	struct block *b = blk_slot(v, hpa);

	if (__builtin_expect(b->key == blk_key(v, hpa) && b->epoch == v->code->epoch, 1))
		return b;
	return blk_get_slow(v, b, hpa);
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
	/* On a hit, further fetches from this page may be counted in bulk (run_loop). */
	if (__builtin_expect(fetch_move(v, lin, 0, hpa), 1))
		return X86_OK;
	v->stats.fetches++;
	struct mmu_result res;

	mmu_translate_cur(v->mmu, lin, ACC_FETCH, &res);   /* v->ctx is current */
	walk_wrote(v);
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
	uint64_t frames;
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
	frames = cfg->pool->size >> 12;
	v->code = calloc(1, sizeof(*v->code) + (frames + 63) / 64 * sizeof(uint64_t));
	if (!v->blocks || !v->code) {
		free(v->blocks);
		free(v->code);
		free(v);
		return -ENOMEM;
	}
	v->code->frames = frames;
	v->blk_page = BLK_NO_PAGE;
	v->base.ops = &vcpu_soft_ops;
	v->pool = cfg->pool;
	v->mmu = cfg->soft.mmu;
	v->hit = mmu_hit(cfg->soft.mmu);
	mmu_fetch_only(cfg->soft.mmu, &v->fonly);
	v->ept = cfg->ept;
	v->mmio = cfg->mmio;
	v->nmmio = cfg->nmmio;
	v->mem_size = cfg->mem_size;
	v->lapic_exits = cfg->lapic_exits;
	v->features_off = cfg->soft.features_off;
	v->phys_bits = cfg->soft.phys_bits;
	v->vendor = cfg->soft.vendor;
	v->signature = cfg->soft.signature;
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
	free(v->code);
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

/*
 * RESET (SDM Vol. 3A 10.1.1, Table 10-1): every architectural register and
 * MSR back to its power-up value (cpu_reset's entry state for the ones hv
 * sets anyway), no event, exception or breakpoint pending, an empty TLB and
 * paging-structure caches. The TSC goes on (tsc_offset is kept), and the
 * pre-decoded blocks stay: they are checked against memory as always.
 */
static int soft_reset(struct vcpu *vcpu)
{
	struct vcpu_soft *v = to_soft(vcpu);

	fetch_settle(v);
	v->star = v->lstar = v->cstar = v->fmask = v->kernel_gs_base = v->tsc_aux = 0;
	v->misc_enable = 0;
	v->sysenter_cs = v->sysenter_esp = v->sysenter_eip = 0;
	memset(v->dr, 0, sizeof(v->dr));
	memset(v->amd_perf, 0, sizeof(v->amd_perf));
	v->fsw = 0;
	v->exc_pending = false;
	v->exc_vec = 0;
	v->exc_has_err = false;
	v->exc_err = 0;
	memset(v->irq_pending, 0, sizeof(v->irq_pending));
	v->irq_count = 0;
	v->irq_window = false;
	v->nmi_pending = v->nmi_blocked = false;
	v->retire_attn = 0;
	v->dbg_data = v->movss_now = v->ss_shadow = false;
	v->dbg_hits = v->dbg_held = v->dbg_after_hlt = 0;
	v->shutdown = false;
	v->pend = PEND_NONE;
	v->pend_ready = v->pend_fault = false;
	v->pend_nmmio = 0;
	v->wr2_pending = false;
	v->blk_page = BLK_NO_PAGE;
	cpu_reset(v);
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
 * single-step): a store to the running block's page, the interrupt shadow,
 * the single-step trap, an exit after retirement (a REP that runs again is
 * settled by the caller). True when run() must return (exit->rip is set).
 */
static bool retire_attention(struct vcpu_soft *v, const struct x86_insn *in, uint32_t single_step,
			     uint64_t rip, struct vcpu_exit *exit, struct block **blk)
{
	/* A store to the block's page: look its bytes up again. */
	if (v->code_written) {
		v->code_written = false;
		v->code->epoch++;
		*blk = NULL;
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

/* How a run of records ended (run_records). */
enum seg_end {
	SEG_END,      /* after the record s->op: a branch or block end it could not follow, the budget */
	SEG_ATTN,     /* after the record s->op, with retire_attn or RFLAGS.TF set */
	SEG_FAULT,    /* in the record s->op: s->st is X86_FAULT or X86_EXIT, it did not retire */
	SEG_FETCHED,  /* before the record s->op: its fetch, done, found other bytes (s->lin, s->hpa) */
};

struct seg {
	const struct blk_op *op;    /* in: the first record; out: see enum seg_end */
	const struct blk_op *stop;  /* in: the record after the last one the budget allows */
	struct block *blk;          /* in/out: the block of s->op (NULL: a record of its own) */
	uint64_t hpa0;              /* in/out: HPA of that block's first byte */
	uint64_t fpage;             /* in: v->fpage as the first record's fetch armed it */
	uint64_t left;              /* in: records the budget allows from s->op on (stop is
				       already within it); out: steps left after s->op */
	bool chain;                 /* in: may go on into the next block (no event, no TF) */
	uint64_t rip;               /* out, SEG_END and SEG_ATTN: RIP of the record s->op */
	uint64_t lin, hpa;          /* out, SEG_FETCHED: the next instruction's address, translated */
	int st;                     /* out, SEG_FAULT */
};

/*
 * Run the records from s->op while each next one is the next instruction:
 * the previous one fell through (no branch, no wrap of IP), it left nothing
 * for retire_attention, and the budget allows it. Its fetch is then the
 * model's shortcut hitting the slot the last counted fetch used, nothing
 * having reached the MMU since but accesses that commute with it (fpage
 * still armed: a load or store that hits the shortcut in the fetch's own
 * structure, one that misses it when a data translation may touch that
 * structure or the fetch's page, an invalidation or a mode change disarms
 * it): it is counted in bulk with the others (fetch_settle, icount - fmark). When something else did reach the
 * MMU, the fetch is made here, in its turn, through the shortcut; a miss
 * ends the run without counting, and the run loop translates it.
 *
 * Records with threaded code (exec_thread: pure ones, and loads and stores
 * of [base + disp] when the model's hit path allows) run one after another
 * without RIP or the instruction count, which are brought up to date before
 * any other record, and at the end.
 *
 * After a branch, or at the end of a block, the run goes on into the block
 * at the next instruction when that is on the same page with fpage still
 * armed (its fetch is then one more hit on the same slot) and the block is
 * decoded with bytes known current (blk_get's epoch); otherwise, on another
 * page or with fpage disarmed, its fetch is made here through the shortcut
 * and the block looked up with blk_get. A miss of the shortcut, or a block
 * that does not start where the same page's would, ends the run having
 * counted nothing, and the run loop fetches and looks up as usual.
 *
 * Interrupts, NMIs and single-step are the caller's: it allows one record
 * when an event is pending (hv injects only between runs) or RFLAGS.TF is
 * set; an instruction that sets TF ends the run (SEG_ATTN), so that the
 * next one starts alone with its trap.
 */
static inline __attribute__((always_inline)) enum seg_end run_records(struct vcpu_soft *v,
								      struct seg *s)
{
	/* RIP and icount are those of `base`. */
	const struct blk_op *op = s->op, *stop = s->stop, *base = op;
	uint64_t fpage = s->fpage, fall;
	enum seg_end end;

	/* Each record retired adds one to icount, up to the budget's end. */
	v->t_limit = v->icount + s->left;
	for (;;) {
		if (op->npure) {
			if ((op->npure > 1 || (op->declines && s->chain)) && op + op->npure <= stop) {
				/* Threaded: the records up to the next other one, or
				 * stop, or one that declined: that one is run below;
				 * or a near transfer that was taken. A record on its
				 * own is worth a chain when it may decline (a load, a
				 * store, a transfer, which may go on from there), but
				 * only in a run that may go on into other blocks:
				 * thread_jump() and thread_follow() rely on it. */
				v->t_lin0 = v->rip - base->off;
				v->t_base = base;
				v->t_climit = v->t_limit - v->icount > THREAD_RUN_MAX ?
					      v->icount + THREAD_RUN_MAX : v->t_limit;
				op = op->tfn(v, op);
				if (v->t_moved) {
					/* It followed taken transfers (thread_jump,
					 * thread_follow): op is a record of t_base's
					 * block, and the budget is what is left. */
					struct block *b = op_block(v->t_base);
					uint64_t room = v->t_limit - v->icount;

					v->t_moved = false;
					base = v->t_base;
					fpage = v->fpage;
					s->blk = b;
					s->hpa0 = b->key & BLK_HPA_MASK;
					stop = (uint64_t)(b->n - base->idx) < room ? &b->op[b->n] : base + room;
				}
				if (op == stop)
					goto run_end;
				if (op == &thread_taken) {
					/* It retired: RIP moves on from it to its target. */
					op = v->t_branch;
					fall = v->rip + (uint64_t)(op->off + op->insn.len - base->off);
					v->icount += (uint64_t)(op->idx - base->idx) + 1;
					v->rip = v->t_target;
					goto next_block;
				}
			} else if (!op->declines) {
				/* One on its own, or the budget ends among them. */
				op->fn(v, &op->insn);
				if (++op != stop)
					continue;
				goto run_end;
			}
		}
		v->rip += (uint64_t)(op->off - base->off);
		v->icount += (uint64_t)(op->idx - base->idx);
		fall = v->rip + op->insn.len;
		v->next_rip = fall & v->ip_mask;
		s->st = op->fn(v, &op->insn);
		if (__builtin_expect(s->st != X86_OK, 0)) {
			end = SEG_FAULT;
			goto done;
		}
		v->rip = v->next_rip;
		v->icount++;
		if (__builtin_expect((v->retire_attn | (v->rflags & RF_TF)) != 0, 0)) {
			end = SEG_ATTN;
			goto done;
		}
		if (v->rip != fall || op + 1 == stop)
			goto next_block;
		if (__builtin_expect(v->fpage != fpage, 0)) {
			uint64_t lin = rip_linear(v), hpa;

			fetch_settle(v);
			if (!fetch_hit_arm(v, lin, &hpa)) {
				end = SEG_END;
				goto done;
			}
			fpage = v->fpage;
			if (hpa != s->hpa0 + op[1].off || v->dkey_mode != s->blk->key >> 56 << 56) {
				s->op = op + 1;
				s->lin = lin;
				s->hpa = hpa;
				s->left = v->t_limit - v->icount - 1;
				return SEG_FETCHED;
			}
		}
		base = ++op;
		continue;
run_end:
		/* The records from base to stop ran as threaded code. */
		op--;
		v->rip += (uint64_t)(op->off + op->insn.len - base->off);
		v->icount += (uint64_t)(op->idx - base->idx) + 1;
		fall = v->rip;
next_block:
		/* op retired and RIP is the next instruction's: follow it when its fetch is a hit counted in bulk. */
		end = SEG_END;
		if (!s->chain || v->icount == v->t_limit)
			goto done;
		{
			uint64_t lin = rip_linear(v), hpa, room;
			struct block *b;

			if (v->fpage == fpage && ((lin & ~0xfffULL) | 1) == fpage) {
				/* The same page: one more bulk-counted hit. */
				hpa = (s->hpa0 & ~0xfffULL) | (lin & 0xfff);
				b = blk_slot(v, hpa);
				if (b->key != blk_key(v, hpa) || b->epoch != v->code->epoch)
					goto done;
			} else {
				/* Another page, or something reached the MMU since the
				 * last counted fetch: the fetch is made here, in its turn,
				 * through the shortcut (a miss ends the run, nothing
				 * counted), as fetch_xlate() would, and the block looked
				 * up as the run loop would (blk_get). Between two
				 * instructions the deferred fetches are icount - fmark - 1
				 * (the run loop's SEG_END adds the 1 to fmark). */
				if (!fetch_move(v, lin, 1, &hpa))
					goto done;
				fpage = v->fpage;
				b = blk_get(v, hpa);
				if (b == NULL) {
					/* One instruction on its own: the run loop's. */
					s->op = op + 1;
					s->blk = NULL;
					s->lin = lin;
					s->hpa = hpa;
					s->left = v->t_limit - v->icount - 1;
					v->blk_page = BLK_NO_PAGE;
					return SEG_FETCHED;
				}
				v->blk_page = hpa >> 12;
			}
			room = v->t_limit - v->icount;
			s->blk = b;
			s->hpa0 = hpa;
			base = op = &b->op[0];
			stop = &b->op[b->n < room ? b->n : room];
		}
	}
done:
	s->op = op;
	s->rip = fall - op->insn.len;
	s->left = v->t_limit - v->icount - (end == SEG_FAULT);
	return end;
}

static int run_loop(struct vcpu_soft *v, uint64_t max_insns, bool mem_untouched,
		    struct vcpu_exit *exit)
{
	struct blk_op one;            /* an instruction no block holds */
	struct seg s = { 0 };
	struct block *blk = NULL;     /* the running block */
	uint64_t blk_hpa = 0, blk_mode = 0;
	unsigned k = 0;               /* its next record */
	bool irq_quiet;
	uint64_t left = max_insns ? max_insns : ~0ULL;  /* steps still allowed */
	uint64_t lin = 0, hpa = 0;
	int st;

	/* Something else (hv walk, a test) may have translated under another context. */
	mmu_set_ctx(v->mmu, &v->ctx);
	/* ... and written memory: devices, the loader, a test (unless hv says
	 * it wrote none since the last exit). */
	if (!mem_untouched)
		v->code->epoch++;
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
no_event:
		lin = rip_linear(v);
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
fetched:
		/* The next record of the running block, or the block that starts here. */
		if (__builtin_expect(blk != NULL && k < blk->n && hpa == blk_hpa + blk->op[k].off &&
				     v->dkey_mode == blk_mode, 1)) {
			s.op = &blk->op[k];
		} else {
			blk = blk_get(v, hpa);
			if (blk != NULL) {
				blk_hpa = hpa;
				blk_mode = v->dkey_mode;
				v->blk_page = hpa >> 12;
				s.op = &blk->op[0];
			} else {
				v->blk_page = BLK_NO_PAGE;
				st = fetch_one(v, lin, hpa, &one.insn);
				if (st != X86_OK)
					goto fault_or_exit;
				one.fn = exec_select(&one.insn);
				one.off = 0;
				one.npure = 0;
				one.declines = false;
				one.idx = 0;
				one.tgt = BLK_NO_TGT;
				one.tfn = thread_stop;
				one.h_slot = &thread_no_slot;
				s.op = &one;
			}
		}
		/* The block-local budget: the steps left, one record when an
		 * event is pending or RFLAGS.TF traps after the instruction, or
		 * when this fetch missed the model's shortcut (the next one is
		 * made on its own, and then hits it). */
		uint32_t single_step = (uint32_t)(v->rflags & RF_TF);
		/* Something for retire_attention already (an interrupt shadow, a
		 * #DB held over MOV SS, breakpoints enabled): one record, so that
		 * it is looked at after the instruction, and the breakpoint test
		 * above comes before each. */
		bool attn = (v->retire_attn | (v->dr7 & 0xff)) != 0;
		s.fpage = (lin & ~0xfffULL) | 1;
		s.chain = blk != NULL && irq_quiet && !single_step && !attn && v->fpage == s.fpage;
		s.stop = blk != NULL ? &blk->op[blk->n] : &one + 1;
		if (!s.chain)
			s.stop = s.op + 1;
		else if ((uint64_t)(s.stop - s.op) > left + 1)
			s.stop = s.op + left + 1;
		s.left = left + 1;
		s.blk = blk;
		s.hpa0 = blk_hpa;

		enum seg_end end = run_records(v, &s);

		left = s.left;
		blk = s.blk;
		blk_hpa = s.hpa0;
		k = blk != NULL ? (unsigned)s.op->idx + 1 : 0;
		switch (end) {
		case SEG_FETCHED:
			k--;
			lin = s.lin;
			hpa = s.hpa;
			goto fetched;
		case SEG_FAULT:
			st = s.st;
			goto fault_or_exit;
		case SEG_END:
			/* The next instruction is fetched on its own. */
			v->fmark++;
			if (!single_step && !attn)
				continue;
			break;
		case SEG_ATTN:
			/* A REP instruction that will run again retires (and
			 * counts) once, at its end; it is fetched again. */
			if (v->rep_continues) {
				v->rep_continues = false;
				v->icount--;
			} else {
				v->fmark++;
			}
			break;
		}
		if (retire_attention(v, &s.op->insn, single_step, s.rip, exit, &blk))
			goto out;
		continue;
fault_or_exit:
		/* A store before the fault may have gone to the block's page:
		 * code_store() moved the epoch for it already. */
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
	bool mem_untouched = exit->mem_untouched;
	int rc;

	complete_pending(v, exit);
	memset(exit, 0, sizeof(*exit));
	if (v->lapic_exits) {
		v->irq_window = window;
		v->tsc_offset += (int64_t)idle;
		v->cr8 = cr8 & 0xf;
	}
	rc = run_loop(v, max_insns, mem_untouched, exit);
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
	.reset = soft_reset,
	.run = soft_run,
	.inject_irq = soft_inject_irq,
	.inject_nmi = soft_inject_nmi,
	.get_stats = soft_get_stats,
};
