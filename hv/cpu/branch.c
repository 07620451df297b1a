/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/branch.c - control transfer: Jcc, JMP, CALL and RET (near, and far
 * through cpu_far_transfer/cpu_far_return in seg.c), LOOPcc and JrCXZ,
 * ENTER/LEAVE and IRET.
 */
#include "hv/cpu/flags.h"
#include "hv/cpu/mem.h"
#include "hv/cpu/optab.h"

/* A near branch target: truncated to the code size, canonical in 64-bit mode
 * (as the page of the branch itself is, when the target shares it). */
static inline int jump(struct vcpu_soft *v, uint64_t target)
{
	target &= v->ip_mask;
	if (v->mode == 64 && ((target ^ v->rip) >> 12) != 0 && !is_canonical(v, target))
		return x86_gp(v, 0);
	v->next_rip = target;
	return X86_OK;
}

/* 70-7F, 0F 80-8F: one handler per condition, so that the common CMP/SUB
 * and TEST cases fold. */
#define JCC_HANDLER(cc) \
	static int h_jcc_##cc(struct vcpu_soft *v, const struct x86_insn *in) \
	{ \
		if (cond_eval_i(v, 0x##cc)) \
			return jump(v, v->next_rip + in->imm); \
		return X86_OK; \
	}
JCC_HANDLER(0) JCC_HANDLER(1) JCC_HANDLER(2) JCC_HANDLER(3) JCC_HANDLER(4) JCC_HANDLER(5)
JCC_HANDLER(6) JCC_HANDLER(7) JCC_HANDLER(8) JCC_HANDLER(9) JCC_HANDLER(a) JCC_HANDLER(b)
JCC_HANDLER(c) JCC_HANDLER(d) JCC_HANDLER(e) JCC_HANDLER(f)

x86_exec_fn sel_jcc(const struct x86_insn *in)
{
	static const x86_exec_fn h[16] = {
		h_jcc_0, h_jcc_1, h_jcc_2, h_jcc_3, h_jcc_4, h_jcc_5, h_jcc_6, h_jcc_7,
		h_jcc_8, h_jcc_9, h_jcc_a, h_jcc_b, h_jcc_c, h_jcc_d, h_jcc_e, h_jcc_f,
	};
	return h[in->op & 15];
}

int op_jmp(struct vcpu_soft *v, const struct x86_insn *in)
{
	return jump(v, v->next_rip + in->imm);
}

/* E8: CALL rel */
int op_call(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t r = (v->next_rip + in->imm) & v->ip_mask;
	int st;
	if (v->mode == 64 && !is_canonical(v, r))
		return x86_gp(v, 0);
	if ((st = stack_push(v, in->osz, v->next_rip)))
		return st;
	v->next_rip = r;
	return X86_OK;
}

int op_ret(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t old = v->gpr[4], a;
	int st;
	if ((st = stack_pop(v, in->osz, &a)))
		return st;
	if ((st = jump(v, a))) {
		v->gpr[4] = old;
		return st;
	}
	if (in->op == 0xc2)
		set_rsp(v, v->gpr[4] + (in->imm & 0xffff));
	return X86_OK;
}

/*
 * CALL rel and RET with a 64-bit operand (so in 64-bit mode): the return
 * address through the hit path first; the general handlers above make the
 * same accesses when it misses.
 */
static int h_call64(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t r = v->next_rip + in->imm;

	if (!is_canonical(v, r))
		return x86_gp(v, 0);
	if (__builtin_expect(!push64_hit(v, v->next_rip), 0))
		return op_call(v, in);
	v->next_rip = r;
	return X86_OK;
}

static int h_ret64(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t a;
	int st;

	if (__builtin_expect(!pop64_hit(v, &a), 0))
		return op_ret(v, in);
	/* A #GP for a non-canonical target leaves RSP as it was. */
	if ((st = jump(v, a)))
		return st;
	v->gpr[4] += 8 + (in->op == 0xc2 ? (in->imm & 0xffff) : 0);
	return X86_OK;
}

/* ---- threaded code (x86.h, branch_thread) ---- */

/* What a taken transfer's threaded code returns: not a record of any block. */
const struct blk_op thread_taken = { .tfn = thread_stop };

static inline __attribute__((always_inline)) const struct blk_op *
thread_take(struct vcpu_soft *v, const struct blk_op *op, uint64_t target)
{
	v->t_branch = op;
	v->t_target = target;
	return &thread_taken;
}

/* The hints' "nothing yet" (struct block): a slot mmu_hit_is() never takes
 * (its tag is 0, and a context's generation never is). */
const struct mmu_hit_slot thread_no_slot = { .tag = 0 };

/*
 * A taken transfer to target whose threaded code would hand it back to the
 * run loop goes on into the threaded code of the block at target itself,
 * doing what the run loop would (run_records, next_block), when that is
 * quick and the budget allows the target block's whole threaded run:
 *  - the transfer retires: the count moves past it, RIP to the target;
 *  - the target's fetch: on the running block's page with the bulk count
 *    still armed, one more hit counted in bulk; otherwise one translation
 *    through the model's shortcut, after the deferred fetches are counted,
 *    as fetch_xlate() makes it;
 *  - the block at the target is one decoded with bytes known current
 *    (blk_get's fast case) and its first record has threaded code.
 * When any of these fails, or the chain has run THREAD_RUN_MAX records
 * (t_climit), nothing has been done or counted and the transfer is handed
 * back (thread_take). t_moved tells the run loop that the chain it gets
 * back may be another block's.
 *
 * The shortcut's slot and the block are first tried where the hints *hs and
 * *hb say (struct block): the slot when mmu_hit_is() takes it, the block
 * when its key is the target's; the lookups run only when a hint fails, and
 * put their answer in the hint.
 */
static inline __attribute__((always_inline)) const struct blk_op *
follow(struct vcpu_soft *v, const struct blk_op *op, uint64_t target,
       const struct mmu_hit_slot **hs, struct block **hb)
{
	uint64_t icount = v->icount + (uint64_t)(op->idx - v->t_base->idx) + 1;
	uint64_t page = (target & ~0xfffULL) | 1, hpa, key;
	struct mmu_hit_slot *s = NULL;
	const struct blk_op *t;
	struct block *b;

	if (((target ^ v->t_lin0) >> 12) == 0 && v->fpage == page) {
		hpa = (op_block(op)->key & (BLK_HPA_MASK & ~0xfffULL)) | (target & 0xfff);
	} else {
		s = (struct mmu_hit_slot *)(uintptr_t)*hs;
		if (__builtin_expect(!mmu_hit_is(v->hit, s, target), 0)) {
			s = mmu_hit_find(v->hit, target, ACC_FETCH);
			if (__builtin_expect(s == NULL, 0))
				return thread_take(v, op, target);
			*hs = s;
		}
		hpa = s->hpa | (target & 0xfff);
	}
	key = blk_key(v, hpa);
	b = *hb;
	if (__builtin_expect(b->key != key, 0)) {
		b = blk_slot(v, hpa);
		*hb = b;
	}
	t = &b->op[0];
	if (__builtin_expect(b->key != key || b->epoch != v->code->epoch, 0) ||
	    t->npure == 0 || icount + t->npure > v->t_climit)
		return thread_take(v, op, target);
	v->icount = icount;
	v->rip = target;
	if (s != NULL) {
		/* Between two instructions the deferred fetches are icount - fmark - 1. */
		fetch_move_hit(v, s, target, 1);
		v->blk_page = hpa >> 12;
	}
	v->t_lin0 = target;
	v->t_base = t;
	v->t_moved = true;
	return t->tfn(v, t);
}

/* follow() with the hints of the transfer's own block. */
static inline __attribute__((always_inline)) const struct blk_op *
thread_follow_i(struct vcpu_soft *v, const struct blk_op *op, uint64_t target)
{
	struct block *cb = op_block(op);

	return follow(v, op, target, &cb->h_fslot, &cb->h_next);
}

static __attribute__((noinline)) const struct blk_op *
thread_follow(struct vcpu_soft *v, const struct blk_op *op, uint64_t target)
{
	return thread_follow_i(v, op, target);
}

/*
 * Jcc and JMP rel to the same page: that page's addresses are canonical, so
 * the handler's only check cannot fail. The target is the linear address of
 * the block's first byte plus the offsets. A target that starts a record of
 * the running block (op->tgt) needs no lookup: the block's bytes are
 * current (a store to its page ends the run), its fetch is one more hit
 * counted in bulk, and the chain goes on there when the budget allows that
 * record's threaded run; other targets go through thread_follow().
 */
static inline __attribute__((always_inline)) const struct blk_op *
thread_jump(struct vcpu_soft *v, const struct blk_op *op)
{
	uint64_t target = v->t_lin0 + op->off + op->insn.len + op->insn.imm;

	if (op->tgt != BLK_NO_TGT) {
		const struct blk_op *t = op - op->idx + op->tgt;
		uint64_t icount = v->icount + (uint64_t)(op->idx - v->t_base->idx) + 1;

		if (icount < v->t_climit && icount + t->npure <= v->t_climit) {
			v->icount = icount;
			v->rip = target;
			v->t_base = t;
			v->t_moved = true;
			return t->tfn(v, t);
		}
	}
	return thread_follow(v, op, target);
}

#define JCC_THREAD(cc) \
	static const struct blk_op *t_jcc_##cc(struct vcpu_soft *v, const struct blk_op *op) \
	{ \
		if (cond_eval_i(v, 0x##cc)) \
			return thread_jump(v, op); \
		THREAD_NEXT(v, op); \
	}
JCC_THREAD(0) JCC_THREAD(1) JCC_THREAD(2) JCC_THREAD(3) JCC_THREAD(4) JCC_THREAD(5)
JCC_THREAD(6) JCC_THREAD(7) JCC_THREAD(8) JCC_THREAD(9) JCC_THREAD(a) JCC_THREAD(b)
JCC_THREAD(c) JCC_THREAD(d) JCC_THREAD(e) JCC_THREAD(f)

static const struct blk_op *t_jmp(struct vcpu_soft *v, const struct blk_op *op)
{
	return thread_jump(v, op);
}

/* h_call64 when the push hits the shortcut and the target is canonical. */
static const struct blk_op *t_call64(struct vcpu_soft *v, const struct blk_op *op)
{
	uint64_t next = v->t_lin0 + op->off + op->insn.len, r = next + op->insn.imm, hpa;

	if (__builtin_expect(!is_canonical(v, r), 0) ||
	    __builtin_expect(!mem_hit_threaded(v, op, v->gpr[4] - 8, 8, ACC_WRITE, &hpa), 0))
		return op;
	v->stats.stores++;
	copy_small(hpool_ptr(v->pool, hpa), &next, 8);
	v->gpr[4] -= 8;
	return thread_follow_i(v, op, r);
}

/*
 * h_ret64 when the pop hits the shortcut and the target passes jump()'s
 * check: the return address is read before the hit is counted, so that a
 * target that would fault declines with nothing counted.
 */
static inline __attribute__((always_inline)) const struct blk_op *
t_ret64_n(struct vcpu_soft *v, const struct blk_op *op, uint64_t pop)
{
	uint64_t lin = v->gpr[4], rip = v->t_lin0 + op->off, a;
	struct mmu_hit_slot *s = mem_slot_threaded(v, lin, 8, ACC_READ, op_hint(op));

	if (__builtin_expect(s == NULL, 0))
		return op;
	memcpy(&a, hpool_ptr(v->pool, s->hpa | (lin & 0xfff)), 8);
	if (__builtin_expect(((a ^ rip) >> 12) != 0 && !is_canonical(v, a), 0))
		return op;
	mmu_hit_take(v->hit, s, lin, ACC_READ);
	v->stats.loads++;
	v->gpr[4] += pop;
	return thread_follow_i(v, op, a);
}

/* C3 and C2 (RET imm16: the bytes to release beside the return address). */
static const struct blk_op *t_ret64(struct vcpu_soft *v, const struct blk_op *op)
{
	return t_ret64_n(v, op, 8);
}

static const struct blk_op *t_ret64_imm(struct vcpu_soft *v, const struct blk_op *op)
{
	return t_ret64_n(v, op, 8 + (op->insn.imm & 0xffff));
}

x86_thread_fn branch_thread(x86_exec_fn fn, const struct x86_insn *in, unsigned next_off,
			    bool *declines)
{
	static const x86_thread_fn jcc[16] = {
		t_jcc_0, t_jcc_1, t_jcc_2, t_jcc_3, t_jcc_4, t_jcc_5, t_jcc_6, t_jcc_7,
		t_jcc_8, t_jcc_9, t_jcc_a, t_jcc_b, t_jcc_c, t_jcc_d, t_jcc_e, t_jcc_f,
	};
	int64_t target = (int64_t)next_off + (int64_t)in->imm;
	bool near = target >= 0 && target < 4096;

	/* The handlers read RIP (next_rip): never run on their own without it. */
	*declines = true;
	if (fn == h_call64)
		return t_call64;
	if (fn == h_ret64)
		return in->op == 0xc2 ? t_ret64_imm : t_ret64;
	if (!near)
		return NULL;
	if (fn == op_jmp)
		return t_jmp;
	if (((in->op >= 0x70 && in->op <= 0x7f) || (in->op >= 0x180 && in->op <= 0x18f)) &&
	    fn == sel_jcc(in))
		return jcc[in->op & 15];
	return NULL;
}

x86_exec_fn sel_call(const struct x86_insn *in)
{
	return in->osz == 8 ? h_call64 : op_call;
}

x86_exec_fn sel_ret(const struct x86_insn *in)
{
	return in->osz == 8 ? h_ret64 : op_ret;
}

/* FF /2, /4: CALL/JMP near indirect (64-bit operand in long mode) */
static int op_jmp_ind(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned r3 = in->reg & 7, size = v->mode == 64 ? 8 : in->osz;
	uint64_t a;
	int st;
	if ((st = rm_read(v, in, size, &a)))
		return st;
	a &= v->ip_mask;
	if (v->mode == 64 && !is_canonical(v, a))
		return x86_gp(v, 0);
	if (r3 == 2 && (st = stack_push(v, size, v->next_rip)))
		return st;
	v->next_rip = a;
	return X86_OK;
}

/* FF /3, /5: CALL/JMP far m16:16/32/64 */
static int op_far_ind(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t ea = insn_ea(v, in), sel, a;
	int st;
	if ((st = mem_read_farptr(v, in->seg, ea, in->osz, in->asz, &a, &sel)))
		return st;
	return cpu_far_transfer(v, (uint16_t)sel, a, (in->reg & 7) == 3, in->osz, v->next_rip);
}

/* FF: group 5 by ModRM.reg (/7 is #UD, decided by the decoder). */
x86_exec_fn sel_grp5(const struct x86_insn *in)
{
	switch (in->reg & 7) {
	case 0: case 1: return op_incdec;
	case 2: case 4: return op_jmp_ind;
	case 3: case 5: return op_far_ind;
	default: return op_push_rm;
	}
}

/* 9A: CALL far ptr16:16/32 */
int op_call_far(struct vcpu_soft *v, const struct x86_insn *in)
{
	return cpu_far_transfer(v, (uint16_t)in->imm2, in->imm, true, in->osz, v->next_rip);
}

/* EA: JMP far ptr16:16/32 */
int op_jmp_far(struct vcpu_soft *v, const struct x86_insn *in)
{
	return cpu_far_transfer(v, (uint16_t)in->imm2, in->imm, false, in->osz, 0);
}

/* CA, CB: RET far */
int op_ret_far(struct vcpu_soft *v, const struct x86_insn *in)
{
	return cpu_far_return(v, in->osz, in->op == 0xca ? (uint16_t)in->imm : 0);
}

/* CF: IRET */
int op_iret(struct vcpu_soft *v, const struct x86_insn *in)
{
	int st = cpu_iret(v, in->osz);

	/* IRET ends the blocking of NMIs an NMI's delivery began (SDM 6.7.1). */
	if (st == X86_OK)
		v->nmi_blocked = false;
	return st;
}

/* E0-E3: LOOPNE, LOOPE, LOOP, JrCXZ */
int op_loop(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned op = in->op;
	uint64_t am = size_mask(in->asz), cnt = v->gpr[1] & am;
	bool take;
	int st;
	if (op == 0xe3) {
		take = cnt == 0;
	} else {
		cnt = (cnt - 1) & am;
		take = cnt != 0;
		if (op == 0xe0)
			take = take && !lf_zf(v);
		else if (op == 0xe1)
			take = take && lf_zf(v);
	}
	if (take && (st = jump(v, v->next_rip + in->imm)))
		return st;
	if (op != 0xe3)
		areg_write(v, 1, am, cnt);
	return X86_OK;
}

/* C8: ENTER */
int op_enter(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned size = in->osz, level = (unsigned)in->imm2 & 31;
	uint64_t sm = stack_mask(v);
	uint64_t rsp = v->gpr[4], rbp = v->gpr[5];
	uint64_t frame = (rsp - size) & sm;
	int st;
	/* Write everything first, commit RSP/RBP last: a fault leaves no trace. */
	if ((st = mem_write(v, SEG_SS, frame, size, rbp & size_mask(size))))
		return st;
	uint64_t sp = frame;
	for (unsigned i = 1; i < level; i++) {
		uint64_t t;
		rbp = (rbp - size) & sm;
		if ((st = mem_read(v, SEG_SS, rbp, size, &t)))
			return st;
		sp = (sp - size) & sm;
		if ((st = mem_write(v, SEG_SS, sp, size, t)))
			return st;
	}
	if (level) {
		sp = (sp - size) & sm;
		if ((st = mem_write(v, SEG_SS, sp, size, frame)))
			return st;
	}
	sp = (sp - in->imm) & sm;
	reg_set(v, in, 5, size == 2 ? 2 : stack_size(v), frame);
	set_rsp(v, sp);
	return X86_OK;
}

/* C9: LEAVE */
int op_leave(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t old = v->gpr[4], a;
	int st;
	set_rsp(v, v->gpr[5]);
	if ((st = stack_pop(v, in->osz, &a))) {
		v->gpr[4] = old;
		return st;
	}
	reg_set(v, in, 5, in->osz, a);
	return X86_OK;
}
