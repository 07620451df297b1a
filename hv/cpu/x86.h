/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/x86.h - internal state of the software vCPU (vcpu_soft_ops).
 *
 * Private to hv/cpu/. The public interface is hv/vcpu.h; the instruction
 * decoder is described in hv/cpu/decode.h. docs/softcpu.md explains the
 * design: lazy flags, the pre-decoded blocks, how every fetch, load
 * and store goes through the modelled MMU (ept/mmu.h) and how exits complete.
 *
 * Every helper that can fail architecturally returns an `int` status:
 *   X86_OK     the step went on,
 *   X86_FAULT  an exception is pending in vcpu->exc (delivered by the run loop),
 *   X86_EXIT   a VM exit is pending in vcpu->exit (returned by run()).
 * An instruction that returns a non-OK status has made no architectural
 * change (except rep-string progress, which the SDM allows), so the run loop
 * simply does not retire it.
 */
#ifndef HV_CPU_X86_H
#define HV_CPU_X86_H

#include "hv/cpu/cpuid.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hv/vcpu.h"
#include "hv/cpu/decode.h"
#include "hv/cpu/sse.h"

enum { X86_OK = 0, X86_FAULT = 1, X86_EXIT = 2 };

struct vcpu_soft;
typedef int (*x86_exec_fn)(struct vcpu_soft *v, const struct x86_insn *in);

/* Exception vectors (SDM Vol. 3A 6.3.1, Table 6-1). */
enum {
	EXC_DE = 0, EXC_DB = 1, EXC_NMI = 2, EXC_BP = 3, EXC_OF = 4, EXC_BR = 5,
	EXC_UD = 6, EXC_NM = 7, EXC_DF = 8, EXC_TS = 10, EXC_NP = 11, EXC_SS = 12,
	EXC_GP = 13, EXC_PF = 14, EXC_MF = 16, EXC_AC = 17,
};

/* RFLAGS bits (SDM Vol. 1 3.4.3, Vol. 3A 2.3). */
#define RF_CF   (1ULL << 0)
#define RF_FIXED (1ULL << 1)  /* always 1 */
#define RF_PF   (1ULL << 2)
#define RF_AF   (1ULL << 4)
#define RF_ZF   (1ULL << 6)
#define RF_SF   (1ULL << 7)
#define RF_TF   (1ULL << 8)
#define RF_IF   (1ULL << 9)
#define RF_DF   (1ULL << 10)
#define RF_OF   (1ULL << 11)
#define RF_IOPL (3ULL << 12)
#define RF_NT   (1ULL << 14)
#define RF_RF   (1ULL << 16)
#define RF_VM   (1ULL << 17)
#define RF_AC   (1ULL << 18)
#define RF_VIF  (1ULL << 19)
#define RF_VIP  (1ULL << 20)
#define RF_ID   (1ULL << 21)
#define RF_ARITH (RF_CF | RF_PF | RF_AF | RF_ZF | RF_SF | RF_OF)
/* Bits software can change (VM/VIF/VIP stay 0: no virtual-8086 mode). */
#define RF_WRITABLE (RF_ARITH | RF_TF | RF_IF | RF_DF | RF_IOPL | RF_NT | RF_RF | RF_AC | RF_ID)

/* CR0/CR4 bits beyond those in ept/mmu.h (SDM Vol. 3A 2.5). */
#define CR0_MP (1ULL << 1)
#define CR0_EM (1ULL << 2)
#define CR0_TS (1ULL << 3)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_AM (1ULL << 18)
#define CR0_NW (1ULL << 29)
#define CR0_CD (1ULL << 30)
#define CR4_TSD (1ULL << 2)
#define CR4_DE  (1ULL << 3)
#define CR4_OSFXSR (1ULL << 9)
#define CR4_UMIP (1ULL << 11)
#define CR4_FSGSBASE (1ULL << 16)
/* Physical-address width this vCPU reports (CPUID.80000008H:EAX[7:0]). */
#define MAXPHYADDR 52

/* CR4 bits this vCPU accepts (features it advertises in CPUID). */
#define CR4_VALID (CR4_TSD | CR4_DE | CR4_PSE | CR4_PAE | CR4_PGE | CR4_LA57 | CR4_PCIDE | \
		   CR4_SMEP | CR4_SMAP | (1ULL << 6) /* MCE */ | (1ULL << 8) /* PCE */ | CR4_OSFXSR | \
		   (1ULL << 10) /* OSXMMEXCPT */ | CR4_UMIP | CR4_PKE | CR4_PKS)

/* MSRs (SDM Vol. 4, Table 2-2). */
#define MSR_TSC            0x10
#define MSR_APIC_BASE      0x1b
#define MSR_MTRRCAP        0xfe
#define MSR_PAT            0x277
#define MSR_MISC_ENABLE    0x1a0
#define MSR_EFER           0xc0000080
#define MSR_STAR           0xc0000081
#define MSR_LSTAR          0xc0000082
#define MSR_CSTAR          0xc0000083
#define MSR_FMASK          0xc0000084
#define MSR_FS_BASE        0xc0000100
#define MSR_GS_BASE        0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102
#define MSR_TSC_AUX        0xc0000103
#define MSR_SYSENTER_CS    0x174
#define MSR_SYSENTER_ESP   0x175
#define MSR_SYSENTER_EIP   0x176
#define MSR_PKRS           0x6e1
#define MSR_MCG_CAP        0x179
/* AMD's legacy performance counters (APM Vol. 2 13.2.1): PerfEvtSel0-3, PerfCtr0-3. */
#define MSR_K7_EVNTSEL0    0xc0010000
#define MSR_K7_PERFCTR3    0xc0010007

/* Segment register numbers in the ModRM sreg encoding. */
enum { SEG_ES = 0, SEG_CS = 1, SEG_SS = 2, SEG_DS = 3, SEG_FS = 4, SEG_GS = 5, SEG_NONE = 7 };

/* Lazy arithmetic flags: the last flag-setting operation (see flags_*). */
enum lf_op { LF_NONE = 0, LF_ADD, LF_ADC, LF_SUB, LF_SBB, LF_LOGIC, LF_INC, LF_DEC,
	     LF_SHL, LF_SHR, LF_SAR /* lf_a = value shifted, lf_b = count (1..63) */ };

/* What kind of access, for fault reporting and the statistics. */
#define MEM_STACK  (1u << 8)  /* SS-relative: non-canonical is #SS, not #GP */

/*
 * A pre-decoded block (see vcpu_soft.c): up to BLK_INSNS consecutive
 * instructions on one page, decoded once, keyed by the HPA of the first
 * byte and the code size. It keeps its bytes: it is used only while memory
 * still holds them.
 */
#define BLK_INSNS 24
#define BLK_BYTES 160

/*
 * Threaded code: a pure record's tfn runs its instruction and then jumps to
 * the next record's tfn (a tail call), so a run of pure records executes
 * without returning to the run loop between them; every other record's tfn
 * is thread_stop(), which returns the record it was given. The chain
 * therefore returns the first record that is not pure (or the record after
 * the block's last, whose tfn is thread_stop() too). A few loads and stores
 * have threaded code as well, which takes the model's hit path when it
 * needs neither RIP nor the instruction count and otherwise declines:
 * returns its own record unexecuted, for the run loop to execute with fn
 * (declines set).
 */
struct blk_op;
typedef const struct blk_op *(*x86_thread_fn)(struct vcpu_soft *v, const struct blk_op *op);

struct blk_op {
	x86_exec_fn fn;          /* exec_select(&insn) */
	x86_thread_fn tfn;       /* pure: exec_thread(); otherwise thread_stop */
	/* Threaded code that loads or stores (one kind of access a record):
	 * the slot of the model's shortcut its access took last, a hint
	 * (mem_slot_threaded in mem.h); thread_no_slot until then. */
	const struct mmu_hit_slot *h_slot;
	uint16_t off;            /* offset of the instruction from the block's first byte */
	uint8_t npure;           /* records with threaded code from this one on, this one
				    included; 0: none (exec_thread(), 64-bit blocks) */
	bool declines;           /* its threaded code may return it unexecuted */
	uint8_t idx;             /* its place in the block: op[idx] */
	uint8_t tgt;             /* Jcc/JMP rel with threaded code whose target starts a
				    record of the same block: that record's idx; else BLK_NO_TGT */
	struct x86_insn insn;
};

#define BLK_NO_TGT 0xff

/* Records one chain may run through taken transfers (struct vcpu_soft, t_climit). */
#define THREAD_RUN_MAX 1024

/* Run the next record's threaded code (the tail of every pure record's tfn). */
#define THREAD_NEXT(v, op) \
	do { \
		const struct blk_op *next_ = (op) + 1; \
		return next_->tfn((v), next_); \
	} while (0)

/* A threaded-code wrapper t_NAME around the handler NAME (inlined into it). */
#define THREAD_WRAP(name) \
	static const struct blk_op *t_##name(struct vcpu_soft *v, const struct blk_op *op) \
	{ \
		name(v, &op->insn); \
		THREAD_NEXT(v, op); \
	}

/* A handler and its threaded-code wrapper (exec_thread's tables). */
struct thread_pair {
	x86_exec_fn fn;
	x86_thread_fn tfn;
};

struct block {
	uint64_t key;            /* blk_key(HPA of the first byte, mode); 0 = empty */
	uint64_t epoch;          /* code_watch.epoch when its bytes last matched memory */
	/*
	 * Hints for threaded code going on from this block (follow, branch.c):
	 * the block a taken transfer out of it (a CALL, RET, JMP or Jcc) went
	 * on into last, and the slot of the model's shortcut that served the
	 * fetch there. Only hints: each is used after the test the lookup it
	 * saves would make (the slot is the one mmu_hit_find() would give, the
	 * block has the key blk_slot()'s would need, and the epoch), so they
	 * never change what runs or what is counted. Never NULL (blk_build).
	 */
	struct block *h_next;
	const struct mmu_hit_slot *h_fslot;
	uint16_t n;              /* instructions */
	uint16_t len;            /* bytes, all on the first byte's page */
	uint8_t bytes[BLK_BYTES];
	struct blk_op op[BLK_INSNS + 1];   /* op[n]: the end, tfn thread_stop */
};

#define BLK_SLOTS 8192     /* direct-mapped by a hash of the HPA */
#define BLK_NO_PAGE (~0ULL)
#define BLK_HPA_MASK ((1ULL << 52) - 1)   /* the HPA in a block's key */

/*
 * Where the threaded code of record op keeps its slot hint (h_slot). The
 * records are the vCPU's own memory, which threaded code sees as const:
 * the hint is the one field it writes.
 */
static inline const struct mmu_hit_slot **op_hint(const struct blk_op *op)
{
	return &((struct blk_op *)(uintptr_t)op)->h_slot;
}

/* The block whose record op is (never the run loop's record of its own). */
static inline struct block *op_block(const struct blk_op *op)
{
	return (struct block *)(void *)((char *)(uintptr_t)(op - op->idx) - offsetof(struct block, op));
}

/* Why the vCPU stopped in the middle of an instruction, to finish it on the next run(). */
enum pend_kind { PEND_NONE = 0, PEND_IO_IN, PEND_MMIO_READ, PEND_HYPERCALL, PEND_MSR };

/*
 * The software vCPU. Legend:
 *   base: the neutral struct vcpu hv holds (hv/vcpu.h), set once at create.
 *   cfg fields (pool, mmu, ept, mmio): set once at create.
 *   architectural state: changed only by instructions, events and set_*regs.
 *   ctx, mode, cpl: derived, recomputed by cpu_update_mode() whenever CR0,
 *   CR3, CR4, EFER, CS or RFLAGS.AC change; cpu_update_mode() also makes ctx
 *   the MMU's current context, which mmu_translate_hit() relies on.
 */
/*
 * The guest code the blocks were decoded from (vcpu_soft.c): allocated with
 * the vCPU, beside its registers, so that the epoch only ever grows.
 */
struct code_watch {
	uint64_t epoch;          /* see blk_get() */
	uint64_t frames;         /* frames the map covers (the pool's) */
	uint64_t map[];          /* a bit per HPA frame a block was decoded from */
};

struct vcpu_soft {
	/* architectural state */
	uint64_t gpr[16];
	uint64_t rip;
	uint64_t next_rip;        /* during an instruction: where it continues (branches set it) */
	uint64_t rflags;          /* arithmetic bits are stale while lf_op != LF_NONE */
	uint8_t lf_op;            /* enum lf_op; next to lf_size, so that both are one store */
	uint8_t lf_size;          /* operand size in bytes */
	bool lf_cin;              /* ADC/SBB carry in; INC/DEC: the preserved CF */
	uint64_t lf_res, lf_a, lf_b;
	struct vcpu_segment seg[6];
	struct vcpu_segment tr, ldt;
	struct vcpu_dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, cr8, efer, apic_base;
	uint64_t star, lstar, cstar, fmask, kernel_gs_base, tsc_aux, pat, misc_enable;
	uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
	uint32_t pkru, pkrs;      /* protection-key rights: PKRU, IA32_PKRS */
	uint64_t amd_perf[8];     /* AMD model: PerfEvtSel0-3, PerfCtr0-3 as written */
	uint64_t dr6, dr7, dr[4];
	uint16_t fcw, fsw;        /* x87 control and status words (control instructions only) */
	int64_t tsc_offset;       /* TSC = icount + tsc_offset */

	/* derived */
	unsigned mode;            /* 16, 32 or 64: code-segment size */
	unsigned cpl;
	uint64_t ip_mask;         /* RIP width of mode: ~0, 0xffffffff or 0xffff */
	uint64_t dkey_mode;       /* mode in the pre-decoded blocks' key (vcpu_soft.c) */
	struct mmu_ctx ctx;

	/* events */
	bool exc_pending;
	uint8_t exc_vec;
	bool exc_has_err;
	uint32_t exc_err;
	uint8_t irq_pending[32];  /* injected external interrupts (bitmap by vector) */
	unsigned irq_count;
	bool irq_window;          /* hv asked for VCPU_EXIT_IRQ_WINDOW (exit->irq.window) */
	bool nmi_pending;         /* an NMI is queued (inject_nmi) */
	bool nmi_blocked;         /* from an NMI's delivery to the next IRET */
	/*
	 * What the run loop must look at after an instruction retires, in one
	 * word so that the common case (all zero) is a single test.
	 */
	union {
		uint64_t retire_attn;
		struct {
			uint8_t shadow_left;      /* STI / MOV SS shadow: instructions until interrupts unblock */
			bool rep_continues;       /* a REP string instruction stopped early and runs again */
			bool exit_after_retire;   /* an exit recorded by an instruction that still retires */
			bool tf_after;            /* single step follows RFLAGS.TF after the instruction */
			bool code_written;        /* a store went to the page of the running block */
			bool dbg_attn;            /* DR7 enables a breakpoint, or a #DB is held (debug.c) */
		};
	};
	/* debug registers in use (debug.c) */
	bool dbg_data;            /* DR7 enables a data breakpoint: accesses are checked */
	bool movss_now;           /* the instruction loaded SS (MOV SS, POP SS) */
	bool ss_shadow;           /* shadow_left was set by MOV SS or POP SS, not STI */
	uint32_t dbg_hits;        /* B0-B3 of the data breakpoints the instruction hit */
	uint32_t dbg_held;        /* B0-B3 and BS held over a MOV SS shadow */
	uint32_t dbg_after_hlt;   /* B0-B3 and BS of a trap after HLT, taken when it wakes */
	bool shutdown;            /* after a triple fault */

	/* exit in progress */
	struct vcpu_exit *exit;   /* the caller's exit structure during run() */
	enum pend_kind pend;
	uint64_t pend_data;       /* PEND_IO_IN: the value hv supplied */
	bool pend_ready;          /* pend_data (IN, RDMSR) or the last MMIO slot holds hv's value */
	bool pend_fault;          /* PEND_MSR: hv answered #GP */
	/* PEND_MMIO_READ: one slot per page piece of the load (a load that
	 * straddles two device pages exits twice); slots below pend_nmmio - 1
	 * hold their data, the last one once pend_ready is set. */
	unsigned pend_nmmio;
	bool mmio_hold;           /* CMPS: the first operand's MMIO value outlives its load */
	uint64_t pend_mmio_gpa[4];   /* 4: a 16-byte SSE load split over two device pages */
	uint64_t pend_mmio_data[4];
	/* The second piece of a page-split MMIO store, reported by an exit of
	 * its own at the start of the next run() (the instruction has retired). */
	bool wr2_pending;
	uint8_t wr2_size;
	uint64_t wr2_gpa, wr2_data, wr2_rip;

	/* configuration */
	struct hpool *pool;
	struct mmu *mmu;
	struct mmu_hit *hit;      /* mmu's hit shortcut (mmu_translate_hit) */
	struct ept *ept;
	const struct gpa_range *mmio;
	unsigned nmmio;
	uint64_t mem_size;
	bool lapic_exits;         /* hv's local APIC: see struct vcpu_config */
	uint64_t features_off;    /* CPUID features turned off (enum cpu_feature bits) */
	unsigned phys_bits;       /* MAXPHYADDR CPUID reports and CR3 checks (0: MAXPHYADDR) */
	unsigned vendor;          /* enum cpu_vendor: CPUID's vendor and SYSCALL's rules */
	uint32_t signature;       /* CPUID.1:EAX (0: CPU_SIGNATURE_HV) */

	/* pre-decoded blocks, keyed by HPA (vcpu_soft.c) */
	struct block *blocks;               /* BLK_SLOTS blocks */
	uint64_t blk_page;                  /* HPA >> 12 of the running block, or BLK_NO_PAGE */
	struct code_watch *code;            /* what may have changed the blocks' bytes */
	uint64_t ad_seen;                   /* the model's A/D writes when last looked at */
	/*
	 * Instruction fetches counted in bulk: after a fetch that hit the
	 * model's shortcut for the linear page fpage (its address | 1; 0 =
	 * none), each instruction retired since, icount - fmark of them, was
	 * followed by a fetch from that page that hit the same slot; they are
	 * added to the model by fetch_settle() (mem.h) before anything else
	 * reaches it - except a load or store that hits the shortcut in
	 * another structure, or one that misses it while the fetches are in a
	 * structure no data translation touches (mmu_hit_data_apart), which
	 * commute with them (xlate). The run loop moves fmark so that an
	 * instruction ending a run of records (whose successor is fetched on
	 * its own) adds none.
	 */
	uint64_t fpage;
	uint64_t fmark;
	/* While fpage is armed: the shortcut slot its fetches hit, kept to
	 * count them on (mmu_hit_count_on), and its structure's LRU clock,
	 * which tells a data hit apart (mem.h). */
	const struct mmu_hit_slot *fslot;
	const uint64_t *fclock;
	/* The structures only fetches use: a data translation that misses the
	 * shortcut leaves the deferred fetches deferred when they are in one
	 * (mmu_hit_data_apart, xlate in mem.h). */
	struct mmu_fetch_only fonly;
	/*
	 * Threaded code's view of the run (run_records, branch.c):
	 *   t_lin0: the linear address of the running block's first byte,
	 *     from which a transfer computes its target and a CALL its
	 *     return address;
	 *   t_base: the record whose RIP and instruction count v->rip and
	 *     v->icount are (threaded records do not move them);
	 *   t_limit: the instruction count at which the run's budget ends;
	 *   t_climit: the count past which the current chain does not go on
	 *     (t_limit, or THREAD_RUN_MAX records after the chain started, so
	 *     that a chain stays bounded where its records call each other
	 *     instead of jumping: a build without optimisation);
	 *   t_branch, t_target: a taken transfer handed back to the run loop;
	 *   t_moved: a taken transfer went on into another block's threaded
	 *     code itself (thread_follow), having retired the records up to it
	 *     and made the next fetch: t_base, t_lin0, RIP and the count are
	 *     that block's first record's.
	 */
	uint64_t t_lin0;
	const struct blk_op *t_base;
	uint64_t t_limit;
	uint64_t t_climit;
	const struct blk_op *t_branch;
	uint64_t t_target;
	bool t_moved;
	/*
	 * Threaded code declined a load or store because the model's shortcut
	 * missed it (mem_slot_threaded, mem.h): the handler the run loop calls
	 * next makes the same access, and goes to the model without looking
	 * the shortcut up again (mem_read_hit, mem_write_hit and xlate skip
	 * it; the next xlate clears the flag). Skipping the shortcut never
	 * changes a count: a hit is counted the same either way.
	 */
	bool hit_missed;
	/*
	 * Threaded code made the model translation of a load or store that
	 * missed the shortcut itself (mem_miss_chain, mem.c) and could not
	 * complete the access in the chain (a fault, a device window, a walk
	 * that wrote A/D flags, a store to a code frame): the result waits
	 * here for the handler of the same record, which makes the same
	 * access, and xlate() takes it instead of translating again, so that
	 * the translation is made and counted once. hit_missed stays set
	 * meanwhile, so the handler does not look the shortcut up either.
	 * (miss_lin and miss_res are at the end.)
	 */
	bool miss_pending;

	/* counters */
	uint64_t icount;
	struct vcpu_stats stats;
	uint64_t exc_chain[2];              /* the last exceptions, for the triple-fault diagnostic */

	/* XMM registers, MXCSR, the FXSAVE image's x87 fields (sse.c) */
	struct sse_state sse;

	/* The translation waiting for the handler (miss_pending): of miss_lin. */
	uint64_t miss_lin;
	struct mmu_result miss_res;

	/* Last: the hot fields above keep their offsets. */
	struct vcpu base;
};

/* Tag of a block: the HPA (below 2^52) with the code size above it (v->dkey_mode), never 0. */
static inline uint64_t blk_key(const struct vcpu_soft *v, uint64_t hpa)
{
	return hpa | v->dkey_mode;
}

/* The slot of the blocks' table (vcpu_soft.c) a block starting at hpa is kept in. */
static inline struct block *blk_slot(const struct vcpu_soft *v, uint64_t hpa)
{
	return &v->blocks[(hpa ^ (hpa >> 13)) & (BLK_SLOTS - 1)];
}

/* ---- helpers shared by the instruction files ---- */

static inline uint64_t size_mask(unsigned size)
{
	return size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

/* Effective address (offset within the segment) of the ModRM memory operand. */
static inline uint64_t insn_ea(const struct vcpu_soft *v, const struct x86_insn *in)
{
	uint64_t ea = (uint64_t)in->disp;
	if (in->rip_rel)
		ea += v->next_rip;
	if (in->base != X86_NOREG)
		ea += v->gpr[in->base];
	if (in->index != X86_NOREG)
		ea += v->gpr[in->index] << in->scale;
	return ea & size_mask(in->asz);
}

/*
 * Write a count or index register (RCX/RSI/RDI) at the address size am. A
 * 32-bit write zero-extends into the whole register, as every 32-bit GPR
 * write does in 64-bit mode; a 16-bit write keeps the upper bits (SDM Vol. 1
 * 3.4.1.1).
 */
static inline void areg_write(struct vcpu_soft *v, unsigned r, uint64_t am, uint64_t val)
{
	v->gpr[r] = am == 0xffff ? (v->gpr[r] & ~am) | (val & am) : val & am;
}

static inline uint64_t sign_extend(uint64_t v, unsigned size)
{
	switch (size) {
	case 1: return (uint64_t)(int64_t)(int8_t)v;
	case 2: return (uint64_t)(int64_t)(int16_t)v;
	case 4: return (uint64_t)(int64_t)(int32_t)v;
	default: return v;
	}
}

static inline bool is_canonical(const struct vcpu_soft *v, uint64_t a)
{
	/* Canonical in 48 bits is canonical in 57 too: CR4.LA57 only for the rest. */
	if (__builtin_expect((uint64_t)((int64_t)(a << 16) >> 16) == a, 1))
		return true;
	return (v->cr4 & CR4_LA57) && (uint64_t)((int64_t)(a << 7) >> 7) == a;
}

/* Does the CPU model have feature f (hv/cpu/cpuid.h)? */
bool cpu_has(const struct vcpu_soft *v, enum cpu_feature f);

/*
 * Canonical for the widest linear address the processor supports (57 bits
 * with LA57 in the CPU model, whatever CR4.LA57 says): the check of addresses
 * loaded into registers rather than used, i.e. WRMSR of FS/GS/KERNEL_GS_BASE,
 * LSTAR, CSTAR and the SYSENTER MSRs, LGDT/LIDT, and LLDT/LTR descriptor
 * bases (SDM Vol. 3A 4.1.4, as KVM implements it).
 */
static inline bool is_canonical_max(const struct vcpu_soft *v, uint64_t a)
{
	unsigned bits = cpu_has(v, CPUF_LA57) ? 57 : 48;
	return (uint64_t)((int64_t)(a << (64 - bits)) >> (64 - bits)) == a;
}

static inline bool long_mode(const struct vcpu_soft *v) { return (v->efer & EFER_LMA) != 0; }

/* exception raising: always returns X86_FAULT */
int x86_raise(struct vcpu_soft *v, unsigned vec, bool has_err, uint32_t err);
static inline int x86_ud(struct vcpu_soft *v) { return x86_raise(v, EXC_UD, false, 0); }
static inline int x86_gp(struct vcpu_soft *v, uint32_t err) { return x86_raise(v, EXC_GP, true, err); }
static inline int need_cpl0(struct vcpu_soft *v) { return v->cpl ? x86_gp(v, 0) : X86_OK; }
/* SDM Vol. 3A 2.5: with CR4.UMIP, SGDT, SIDT, SLDT, SMSW and STR are #GP(0)
 * at CPL > 0. */
static inline int umip_check(struct vcpu_soft *v)
{
	return (v->cr4 & CR4_UMIP) && v->cpl ? x86_gp(v, 0) : X86_OK;
}

/* debug registers (debug.c) */
#define DR6_BD  (1ULL << 13)
#define DR6_BS  (1ULL << 14)
#define DR7_GD  (1ULL << 13)
void dbg_update(struct vcpu_soft *v);
void dbg_data_access(struct vcpu_soft *v, uint64_t lin, unsigned size, bool write);
uint32_t dbg_exec_hits(const struct vcpu_soft *v, uint64_t lin);
/* An IN, OUT, INS or OUTS of `size` bytes at `port` completed: its I/O
 * breakpoints (R/W = 10 with CR4.DE) join the instruction's #DB trap. */
void dbg_io_access(struct vcpu_soft *v, uint16_t port, unsigned size);

/* modes, segments, events (system.c, seg.c, event.c) */
void cpu_update_mode(struct vcpu_soft *v);
void cpu_reset(struct vcpu_soft *v);
void seg_flat(struct vcpu_segment *s, uint16_t sel, uint8_t type, bool code64, unsigned dpl);
void seg_from_desc(struct vcpu_segment *s, uint16_t sel, uint64_t desc);
int desc_read(struct vcpu_soft *v, uint16_t sel, uint64_t *d, uint64_t *where);
int desc_set_accessed(struct vcpu_soft *v, uint64_t where, uint64_t d);
void set_cs(struct vcpu_soft *v, const struct vcpu_segment *n, unsigned cpl);
uint64_t ip_mask_for(const struct vcpu_soft *v, const struct vcpu_segment *cs);
int cpu_load_seg(struct vcpu_soft *v, unsigned sreg, uint16_t sel);
int cpu_far_transfer(struct vcpu_soft *v, uint16_t sel, uint64_t off, bool call, unsigned osz,
		     uint64_t ret_rip);
int cpu_far_return(struct vcpu_soft *v, unsigned osz, uint16_t pop_bytes);
int cpu_iret(struct vcpu_soft *v, unsigned osz);
int tss_read(struct vcpu_soft *v, uint64_t off, unsigned size, uint64_t *val);
int sys_read(struct vcpu_soft *v, uint64_t lin, unsigned size, void *buf, unsigned acc);
int sys_write(struct vcpu_soft *v, uint64_t lin, unsigned size, const void *buf, unsigned acc);

/*
 * The MMU flag for an implicit supervisor-mode access (GDT, LDT, IDT, TSS,
 * and the stack of an event that changes privilege; SDM 4.6). Below CPL 3
 * the model checks it as it checks an explicit supervisor access, except
 * under SMAP with EFLAGS.AC = 1, which only the explicit access may use to
 * reach a user-mode page: otherwise it is made as a plain access, which may
 * take the model's hit path. At CPL 3 it must not pass for a user access.
 */
static inline unsigned implicit_sv(const struct vcpu_soft *v)
{
	const struct mmu_ctx *c = &v->ctx;   /* what the model checks against */

	if (c->cpl < 3 && !((c->cr4 & CR4_SMAP) && (c->rflags & RF_AC)))
		return 0;
	return ACC_IMPLICIT_SV;
}
int cpu_deliver(struct vcpu_soft *v, unsigned vec, bool has_err, uint32_t err, bool soft, uint64_t ret_rip);
int cpu_deliver_pending(struct vcpu_soft *v);
int cpu_deliver_nmi(struct vcpu_soft *v);

/* flags (flags.c, flags.h) */
uint64_t flags_get(struct vcpu_soft *v);
void flags_set(struct vcpu_soft *v, uint64_t rflags);
bool cond_eval(struct vcpu_soft *v, unsigned cc);

/* The handler for a decoded instruction, from the opcode table (optab.c). */
x86_exec_fn exec_select(const struct x86_insn *in);
/*
 * Pure records: fn, executing in, only reads and writes general registers
 * and the arithmetic flags: it cannot fault or exit, does not branch, reads
 * neither RIP nor the instruction count, reaches no memory and no MMU, and
 * leaves retire_attn and RFLAGS.TF alone (optab.c; the run loop relies on
 * it). exec_thread() gives such a record's threaded code (a wrapper with fn
 * inlined where fn has one, else one that calls fn), or a load's or store's
 * that may decline (*declines set), or a near transfer's (branch_thread,
 * next_off as it says), NULL for the others.
 */
x86_thread_fn exec_thread(x86_exec_fn fn, const struct x86_insn *in, unsigned next_off,
			  bool *declines);
const struct blk_op *thread_stop(struct vcpu_soft *v, const struct blk_op *op);
/*
 * Near transfers as threaded code (branch.c), for 64-bit blocks: Jcc and JMP
 * rel whose target lies on the instruction's own page (next_off: the page
 * offset of the byte after the instruction, which the decoder alone does not
 * know), CALL rel and RET with a 64-bit stack. A taken one records itself in
 * t_branch and its target in t_target and returns &thread_taken; a Jcc not
 * taken runs on into the next record; CALL and RET decline (*declines set)
 * whenever their handler could fault or would leave the hit path. NULL for
 * other instructions.
 */
x86_thread_fn branch_thread(x86_exec_fn fn, const struct x86_insn *in, unsigned next_off,
			    bool *declines);
extern const struct blk_op thread_taken;
/* A slot no hint test takes (branch.c): struct block's h_fslot before any transfer. */
extern const struct mmu_hit_slot thread_no_slot;

#endif /* HV_CPU_X86_H */
