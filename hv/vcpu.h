/* SPDX-License-Identifier: MIT */
/*
 * hv/vcpu.h - the one vCPU interface every backend implements.
 *
 * A backend is two const operations tables: struct vcpu_ops runs a vCPU,
 * struct gmem_ops keeps the backend's view of guest memory in step with the
 * guest-physical map hv holds in ept/. Each backend's vCPU embeds the neutral
 * struct vcpu and its memory object embeds struct gmem; the backend recovers
 * its own struct with container_of(). Which backends exist is decided at
 * build time (configure's <linux/kvm.h> check), see hv/backends.c.
 *
 * ops->run() executes guest code until something needs the hypervisor and
 * then fills a struct vcpu_exit: the same information KVM reports in its
 * kvm_run structure, so hv/ has exactly one switch that handles exits from
 * every backend.
 *
 * Completing an exit: for a port IN or an MMIO read, hv writes the value into
 * exit->io.data / exit->mmio.data before calling run() again; the backend
 * finishes the instruction with it (KVM does the same).
 */
#ifndef HV_VCPU_H
#define HV_VCPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ept/mmu.h"

enum vcpu_exit_reason {
	VCPU_EXIT_NONE = 0,
	VCPU_EXIT_IO,             /* port I/O: io */
	VCPU_EXIT_MMIO,           /* access to a GPA with no RAM behind it in EPT: mmio */
	VCPU_EXIT_HLT,            /* HLT with interrupts disabled, or waiting for one */
	VCPU_EXIT_HYPERCALL,      /* VMCALL: hypercall (rax = nr, rdi, rsi, rdx, rcx) */
	VCPU_EXIT_EPT_VIOLATION,  /* ept: gpa, gva, qual (SDM 28.2.1) */
	VCPU_EXIT_EPT_MISCONFIG,  /* ept: gpa */
	VCPU_EXIT_TRIPLE_FAULT,   /* fail: diagnostic */
	VCPU_EXIT_INSN_LIMIT,     /* the instruction budget given to run() was used up */
	VCPU_EXIT_MSR,            /* RDMSR/WRMSR of an MSR hv emulates (lapic_exits): msr */
	VCPU_EXIT_IRQ_WINDOW,     /* irq.window was set and an interrupt can now be taken */
	VCPU_EXIT_SET_TPR,        /* a MOV to CR8 retired (lapic_exits): the value is irq.cr8 */
	VCPU_EXIT_INTERNAL_ERROR, /* the backend cannot continue: fail */
};

/* VMX basic exit reasons (SDM Appendix C) that hv reports. */
#define EXIT_REASON_TRIPLE_FAULT   2
#define EXIT_REASON_HLT            12
#define EXIT_REASON_VMCALL         18
#define EXIT_REASON_IO             30
#define EXIT_REASON_EPT_VIOLATION  48
#define EXIT_REASON_EPT_MISCONFIG  49

struct vcpu_exit {
	enum vcpu_exit_reason reason;
	uint32_t exit_reason_vmx; /* the VMX basic exit reason where one exists (above) */
	union {
		struct {
			uint16_t port;
			uint8_t size;   /* 1, 2 or 4 */
			bool in;
			uint32_t data;  /* OUT: value written; IN: hv fills it */
		} io;
		struct {
			uint64_t gpa;
			uint8_t size;   /* 1, 2, 4 or 8 */
			bool write;
			uint64_t data;  /* write: value; read: hv fills it */
		} mmio;
		struct {
			uint64_t nr;
			uint64_t args[4];
			uint64_t ret;   /* hv fills it: returned in rax */
		} hypercall;
		struct {
			uint64_t gpa;
			uint64_t gva;   /* valid when qual has EPT_QUAL_GLA_VALID */
			uint64_t qual;
		} ept;
		struct {
			uint32_t index;
			bool write;
			bool fault;     /* hv sets it: the instruction raises #GP(0) instead */
			uint64_t data;  /* WRMSR: value written; RDMSR: hv fills it */
		} msr;
		struct {
			char msg[160];
		} fail;
	};
	uint64_t rip;             /* guest RIP of the exiting instruction */
	/*
	 * in: hv wrote no guest memory since run() returned this exit (the
	 * exit's handler and everything up to the next run() touched device
	 * registers only). The software vCPU then keeps the code it decoded as
	 * known current instead of comparing it with memory again. false is
	 * always safe; run() clears it with the rest of the struct.
	 */
	bool mem_untouched;
	/*
	 * The interrupt handshake with hv's interrupt controller, read and
	 * written on every run() like the fields of the same names in KVM's
	 * struct kvm_run; only a vCPU created with cfg->lapic_exits uses it.
	 *   window  in: exit with VCPU_EXIT_IRQ_WINDOW as soon as an external
	 *           interrupt can be taken (RFLAGS.IF=1, no STI/MOV SS shadow,
	 *           no instruction half done);
	 *   idle    in: TSC ticks the vCPU spent halted since the last exit (hv
	 *           woke it from HLT at a timer expiry): the TSC moves on by that;
	 *   deadline in: the guest TSC at which hv's next timer event falls due
	 *           (0: none); a backend whose run() does not end at instruction
	 *           counts leaves the guest by then, so that hv can deliver it
	 *           (the software vCPU's budget already ends there);
	 *   cr8     in and out: TPR[7:4] of hv's local APIC;
	 *   ready   out: an interrupt inject_irq() queues now is taken before the
	 *           next instruction;
	 *   tsc     out: the guest's TSC at the exit.
	 */
	struct {
		bool window;
		bool ready;
		uint8_t cr8;
		uint64_t idle;
		uint64_t deadline;
		uint64_t tsc;
	} irq;
};

/* General-purpose state, in the order of the ModRM register encoding. */
struct vcpu_regs {
	uint64_t gpr[16];   /* rax rcx rdx rbx rsp rbp rsi rdi r8..r15 */
	uint64_t rip;
	uint64_t rflags;
};

struct vcpu_segment {
	uint64_t base;
	uint32_t limit;
	uint16_t selector;
	uint8_t type;       /* descriptor type field (4 bits) */
	uint8_t s, dpl, present, avl, l, db, g;
	uint8_t unusable;
};

struct vcpu_dtable {
	uint64_t base;
	uint16_t limit;
};

/* System state (like KVM's kvm_sregs). */
struct vcpu_sregs {
	struct vcpu_segment cs, ds, es, fs, gs, ss, tr, ldt;
	struct vcpu_dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, cr8, efer, apic_base;
};

/* Counters every backend keeps (the soft backend counts exactly; KVM what it can). */
struct vcpu_stats {
	uint64_t instructions;
	uint64_t fetches, loads, stores;   /* translated accesses */
	uint64_t exceptions, interrupts;
};

#ifndef container_of
/* The struct of type `type` whose member `member` is at `ptr`. */
#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#endif

struct vcpu_ops;
struct gmem_ops;

/*
 * The neutral part of a vCPU, embedded in each backend's own struct.
 *   ops: set once by the backend's create().
 */
struct vcpu {
	const struct vcpu_ops *ops;
};

/*
 * The neutral part of a backend's guest memory, embedded in its own struct.
 *   ops: set once by the backend's mem_create().
 */
struct gmem {
	const struct gmem_ops *ops;
};

/* A range of guest-physical addresses [base, base + size). */
struct gpa_range {
	uint64_t base, size;
};

/* Read-only ranges a VM can have (struct vcpu_config.rom). */
#define VCPU_MAX_ROMS 3

/* Configuration only the software backend uses. */
struct vcpu_soft_config {
	struct mmu *mmu;       /* the translation model: TLBs, caches, walks */
	uint16_t vpid;
	uint64_t features_off; /* CPUID features turned off (hv/cpu/cpuid.h) */
	unsigned phys_bits;    /* MAXPHYADDR reported (0: 52) */
	unsigned vendor;       /* enum cpu_vendor (hv/cpu/cpuid.h; 0: GenuineIntel) */
	uint32_t signature;    /* CPUID.1:EAX (0: hv's own) */
};

/* What a backend needs from the VM: the neutral part, then one part per backend. */
struct vcpu_config {
	struct hpool *pool;    /* host memory: guest RAM frames and EPT tables */
	struct ept *ept;       /* hv's guest-physical map, the one every backend follows */
	uint64_t mem_size;     /* bytes of guest RAM */
	/*
	 * Device windows: an access to a GPA inside one of these that is not
	 * RAM becomes VCPU_EXIT_MMIO. With nmmio == 0, every GPA at or above
	 * mem_size is treated as a device window. The array must stay valid for
	 * the life of the vCPU.
	 */
	const struct gpa_range *mmio;
	unsigned nmmio;
	struct gpa_range ram[2];  /* the RAM regions (below the hole, above 4 GiB) */
	unsigned nram;
	/* Read-only ranges (--rom): hv maps their frames without W. A guest
	 * write there is an EPT violation for hv's handler (software vCPU) or,
	 * where the backend emulates it itself (KVM's read-only memory slots),
	 * VCPU_EXIT_MMIO; reads and fetches never exit. */
	struct gpa_range rom[VCPU_MAX_ROMS];
	unsigned nrom;
	/* The local APIC is hv's (hv/lapic.h): the vCPU follows the exit's irq
	 * handshake, MOV to CR8 exits with VCPU_EXIT_SET_TPR, and (software
	 * backend) RDMSR/WRMSR of IA32_APIC_BASE, IA32_TSC_DEADLINE and the
	 * x2APIC range exit with VCPU_EXIT_MSR; CPUID reports the APIC, x2APIC
	 * and TSC-deadline features. */
	bool lapic_exits;
	/* RAM is mapped on first touch (--mem-policy lazy): the backend reports
	 * a guest access to unmapped RAM as an EPT violation without R/W/X in
	 * its qualification, and hv maps the frame. */
	bool lazy;
	/* A thread of hv's other than the one that calls run() may kick() the
	 * vCPU (a device of its own thread raising an interrupt): the backend
	 * must end a run() in progress when that happens. */
	bool async_kick;
	/*
	 * For a backend that takes an exit while the guest waits inside run()
	 * (KVM: a userfaultfd fault on lazily mapped RAM, which must be
	 * resolved before KVM_RUN can return): hv handles it like an exit of
	 * run(), in the calling thread. 0: the guest resumes; otherwise the VM
	 * stopped (-ECANCELED) or hv failed (-errno), and run() must return
	 * with VCPU_EXIT_NONE as soon as the guest is out.
	 */
	int (*exit_now)(void *ctx, struct vcpu_exit *e);
	void *exit_ctx;
	struct vcpu_soft_config soft;
};

/* Called with each dirty range a dirty-log harvest finds. */
typedef void (*gmem_dirty_fn)(void *ctx, uint64_t gpa, uint64_t size);

/*
 * Guest-memory operations. hv decides what the guest-physical map holds
 * (ept/ is the record of it in every backend); these make the backend's
 * translation follow it. All return 0 or -errno.
 */
struct gmem_ops {
	/* Removing W with protect() makes the guest's next write to the page an
	 * EPT violation for hv (false: the backend tracks writes only through
	 * dirty_log, as KVM does). */
	bool protect_exits;
	/* [gpa, gpa + size) now maps [hpa, hpa + size) with EPT leaf attributes
	 * attrs (permissions and memory type), as pages of page_size. */
	int (*map)(struct gmem *m, uint64_t gpa, uint64_t hpa, uint64_t size, uint64_t attrs,
		   uint64_t page_size);
	/* Set the permissions (EPT_R/W/X) of every mapped page in the range. */
	int (*protect)(struct gmem *m, uint64_t gpa, uint64_t size, uint64_t perms);
	/* Drop every cached translation derived from the map (INVEPT single-context). */
	void (*invalidate)(struct gmem *m);
	/* Report the pages written since the last call (or since mapping) and
	 * start a new interval. */
	int (*dirty_log)(struct gmem *m, uint64_t gpa, uint64_t size, gmem_dirty_fn fn, void *ctx);
	/* How a first touch of lazy RAM reaches hv's handler, in a few words
	 * for the report, or NULL where the backend's own run() meets it (the
	 * software vCPU) or RAM is not lazy. */
	const char *(*lazy_path)(const struct gmem *m);
	/* Why writes to protected pages do not exit here (protect_exits false),
	 * in a few words for the report, or NULL where no reason is known. */
	const char *(*no_write_exits)(const struct gmem *m);
};

/* One of a backend's own counters: scope ("vm" or "vcpu"), its name as the
 * backend names it, and its value. */
typedef void (*vcpu_hw_stat_fn)(void *ctx, const char *scope, const char *name, uint64_t value);

struct vcpu_ops {
	const char *name;
	/* Guest RAM must be a memfd pool (hpool_create_memfd): the backend maps
	 * pool frames a second time. */
	bool needs_memfd_pool;
	/* run() counts retired instructions and honours its budget (the
	 * instruction limit and the dirty-tracking start point need that). */
	bool counts_instructions;
	/* Each access goes through hv's TLB and walk model, so the report's
	 * translation counts are this guest's (false: they are the hardware's). */
	bool models_translation;
	/* Can this backend run here? 0, or -errno with a reason in why. */
	int (*probe)(char *why, size_t whylen);
	/* Can it map RAM on first touch here (NULL: always)? As probe. */
	int (*probe_lazy)(char *why, size_t whylen);
	/* Guest memory comes first: RAM is mapped before the vCPU exists. */
	int (*mem_create)(const struct vcpu_config *cfg, struct gmem **out);
	void (*mem_destroy)(struct gmem *m);
	int (*create)(const struct vcpu_config *cfg, struct gmem *mem, struct vcpu **out);
	void (*destroy)(struct vcpu *vcpu);
	int (*get_regs)(struct vcpu *vcpu, struct vcpu_regs *regs);
	int (*set_regs)(struct vcpu *vcpu, const struct vcpu_regs *regs);
	int (*get_sregs)(struct vcpu *vcpu, struct vcpu_sregs *sregs);
	int (*set_sregs)(struct vcpu *vcpu, const struct vcpu_sregs *sregs);
	/* Put the vCPU in the state RESET leaves it in (SDM Vol. 3A 10.1.1):
	 * registers, MSRs, debug registers, pending events and TLBs, for the
	 * caller to set what firmware leaves next (a wake from ACPI S3). The
	 * TSC keeps counting: hv's devices count off it. NULL when the backend
	 * cannot; 0 or -errno. */
	int (*reset)(struct vcpu *vcpu);
	/* Run until an exit or until `max_insns` instructions retired (0 = no limit). */
	int (*run)(struct vcpu *vcpu, uint64_t max_insns, struct vcpu_exit *exit);
	/* Queue an external interrupt; delivered when RFLAGS.IF=1 and no sti/mov-ss shadow. */
	int (*inject_irq)(struct vcpu *vcpu, uint8_t vector);
	/* Queue an NMI: taken at the next instruction boundary outside NMI
	 * blocking (from an NMI's delivery to the next IRET) and outside an
	 * STI/MOV SS shadow; one queued while another waits merges with it. */
	int (*inject_nmi)(struct vcpu *vcpu);
	/* Async-signal-safe (a signal handler calls it) and callable from any
	 * thread: the run() in progress returns as soon as it can, or the next
	 * one at once, with VCPU_EXIT_NONE; later run()s are not affected. NULL:
	 * run() returns often enough by itself (the soft vCPU's slices). */
	void (*kick)(struct vcpu *vcpu);
	void (*get_stats)(struct vcpu *vcpu, struct vcpu_stats *stats);
	/* The backend's own statistics as they are now (KVM's binary stats), VM
	 * scope first; NULL when the backend keeps none. 0 or -errno: -ENOSYS
	 * where the host kernel has no such statistics (KVM before Linux 5.14). */
	int (*hw_stats)(struct vcpu *vcpu, vcpu_hw_stat_fn fn, void *ctx);
};

/* The software backend: the interpreter over the translation model. */
extern const struct vcpu_ops vcpu_soft_ops;
/* The KVM backend (hv/kvm.c), in builds that found <linux/kvm.h>. */
extern const struct vcpu_ops vcpu_kvm_ops;
/* Its memory operations edit the model's EPT and invalidate the model's
 * caches; other backends and tests reuse them for hv's own map. */
int gmem_soft_create(const struct vcpu_config *cfg, struct gmem **out) HV_MUST_CHECK;
void gmem_soft_destroy(struct gmem *m);

/*
 * The backends this build has, soft first, NULL-terminated (hv/backends.c).
 * backend_find() returns NULL for a name this build does not know; why says
 * whether the backend exists at all and what to do.
 */
extern const struct vcpu_ops *const vcpu_backends[];
const struct vcpu_ops *backend_find(const char *name, char *why, size_t whylen);

#endif /* HV_VCPU_H */
