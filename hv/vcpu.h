/* SPDX-License-Identifier: MIT */
/*
 * hv/vcpu.h - the one vCPU interface both backends implement.
 *
 * A backend is a const operations table (struct vcpu_ops). hv calls
 * ops->run(), which executes guest code until something needs the hypervisor
 * and then fills a struct vcpu_exit: the same information KVM reports in its
 * kvm_run structure, so hv/ has exactly one switch that handles exits from
 * either backend.
 *
 * Completing an exit: for a port IN or an MMIO read, hv writes the value into
 * exit->io.data / exit->mmio.data before calling run() again; the backend
 * finishes the instruction with it (KVM does the same).
 */
#ifndef HV_VCPU_H
#define HV_VCPU_H

#include <stdbool.h>
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
	VCPU_EXIT_INTERNAL_ERROR, /* the backend cannot continue: fail */
};

struct vcpu_exit {
	enum vcpu_exit_reason reason;
	uint32_t exit_reason_vmx; /* the VMX basic exit reason where one exists (ept.h) */
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
			char msg[160];
		} fail;
	};
	uint64_t rip;             /* guest RIP of the exiting instruction */
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

struct vcpu;

/* A range of guest-physical addresses [base, base + size). */
struct gpa_range {
	uint64_t base, size;
};

/* What a backend needs from the VM. */
struct vcpu_config {
	struct hpool *pool;
	struct ept *ept;
	struct mmu *mmu;       /* the translation model (soft backend) */
	uint16_t vpid;
	uint64_t mem_size;     /* bytes of guest RAM from GPA 0 (KVM memslot) */
	/*
	 * Device windows (soft backend): an EPT violation caused by a plain data
	 * load or store to a GPA inside one of these becomes VCPU_EXIT_MMIO. With
	 * nmmio == 0, every GPA at or above mem_size is treated as a device window.
	 * The array must stay valid for the life of the vCPU.
	 */
	const struct gpa_range *mmio;
	unsigned nmmio;
};

struct vcpu_ops {
	const char *name;
	/* Can this backend run here? 0, or -errno with a reason in why. */
	int (*probe)(char *why, size_t whylen);
	int (*create)(const struct vcpu_config *cfg, struct vcpu **out);
	void (*destroy)(struct vcpu *vcpu);
	int (*get_regs)(struct vcpu *vcpu, struct vcpu_regs *regs);
	int (*set_regs)(struct vcpu *vcpu, const struct vcpu_regs *regs);
	int (*get_sregs)(struct vcpu *vcpu, struct vcpu_sregs *sregs);
	int (*set_sregs)(struct vcpu *vcpu, const struct vcpu_sregs *sregs);
	/* Run until an exit or until `max_insns` instructions retired (0 = no limit). */
	int (*run)(struct vcpu *vcpu, uint64_t max_insns, struct vcpu_exit *exit);
	/* Queue an external interrupt; delivered when RFLAGS.IF=1 and no sti/mov-ss shadow. */
	int (*inject_irq)(struct vcpu *vcpu, uint8_t vector);
	void (*get_stats)(struct vcpu *vcpu, struct vcpu_stats *stats);
};

extern const struct vcpu_ops vcpu_soft_ops;
extern const struct vcpu_ops vcpu_kvm_ops;

#endif /* HV_VCPU_H */
