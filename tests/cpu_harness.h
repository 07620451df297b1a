/* SPDX-License-Identifier: MIT */
/*
 * tests/cpu_harness.h - a tiny VM for the vCPU tests, built only from the
 * public interfaces (ept/ept.h, ept/mmu.h, hv/vcpu.h).
 *
 * Guest-physical layout (TVM_RAM_SIZE bytes of RAM from GPA 0, mapped RWX in
 * EPT with 4 KiB pages so that tests can change one page's permissions):
 *
 *   0x001000  GDT (TVM_SEL_* selectors)        0x010000  ring-0 code
 *   0x002000  IDT, 256 gates to the stubs      0x020000  ring-0 data
 *   0x003000  64-bit TSS (RSP0, IST1)          0x030000  user code   (U=1)
 *   0x004000  exception stubs, 16 bytes each   0x040000  user data   (U=1, to 0x48000)
 *   0x005000  common exception handler         0x050000  ring-0 stack top
 *   0x006000  exception record                 0x060000  RSP0 stack top
 *   0x007000  IST1 stack (top 0x008000)        0x100000  guest page tables
 *                                              0x200000  free pages for tests
 *
 * The guest page tables identity-map [0x1000, 0x100000) (user pages where
 * noted above, supervisor elsewhere, all writable and executable) and
 * [0x200000, TVM_RAM_SIZE) supervisor-writable. Page 0 is not mapped, so a
 * stray null access faults.
 */
#ifndef HV_TESTS_CPU_HARNESS_H
#define HV_TESTS_CPU_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ept/ept.h"
#include "ept/mmu.h"
#include "hv/cpu/cpuid.h"
#include "hv/vcpu.h"

#define TVM_RAM_SIZE   (8ULL << 20)

#define TVM_GDT        0x1000ULL
#define TVM_IDT        0x2000ULL
#define TVM_TSS        0x3000ULL
#define TVM_STUBS      0x4000ULL
#define TVM_HANDLER    0x5000ULL
#define TVM_EXC_REC    0x6000ULL
#define TVM_IST1_TOP   0x8000ULL
#define TVM_CODE       0x10000ULL
#define TVM_DATA       0x20000ULL
#define TVM_UCODE      0x30000ULL
#define TVM_UDATA      0x40000ULL
#define TVM_USER_END   0x48000ULL
#define TVM_STACK_TOP  0x50000ULL
#define TVM_RSP0_TOP   0x60000ULL
#define TVM_PT_BASE    0x100000ULL
#define TVM_PT_SIZE    0x100000ULL
#define TVM_FREE       0x200000ULL

/* GDT layout; the SYSCALL/SYSRET selector arithmetic (SDM SYSCALL, SYSRET)
 * wants kernel CS, kernel SS = CS + 8, then user CS32, user SS = CS32 + 8,
 * user CS64 = CS32 + 16: STAR = (TVM_SEL_UCODE32 << 48) | (TVM_SEL_KCODE << 32). */
#define TVM_SEL_KCODE   0x08
#define TVM_SEL_KDATA   0x10
#define TVM_SEL_UCODE32 0x18
#define TVM_SEL_UDATA   0x20
#define TVM_SEL_UCODE   0x28
#define TVM_SEL_TSS     0x30

/* Offsets in the 64-bit TSS (SDM 8.7, Figure 8-11). */
#define TSS64_RSP0 0x04
#define TSS64_IST1 0x24

/*
 * What the common exception handler stores at TVM_EXC_REC before it halts.
 * Stubs push a zero error code for vectors that have none, so the frame is
 * always: vector, error code, RIP, CS, RFLAGS, RSP, SS (SDM 6.14.2).
 */
struct tvm_exc_record {
	uint64_t vector, error, rip, cs, rflags, rsp, ss, cr2, count;
};

struct tvm {
	struct hpool *pool;
	struct ept *ept;
	struct mmu *mmu;
	struct gpt_builder *gpt;
	struct vcpu *vcpu;
	const struct vcpu_ops *ops;
	uint64_t ram_hpa[TVM_RAM_SIZE >> PAGE_SHIFT_2M]; /* HPA of each 2 MiB run of RAM */
	struct vcpu_exit exit;                         /* of the last tvm_run() */
};

/* Build the VM: pool, EPT (4 levels, A/D off), guest RAM, guest page tables,
 * MMU with `preset` ("none", "skylake", ...), a soft vCPU in 64-bit ring 0
 * (tvm_sregs_long64) with RIP = TVM_CODE, RSP = TVM_STACK_TOP. */
int tvm_create(const char *preset, struct tvm **out) __attribute__((warn_unused_result));
/* The same with CPUID features turned off and a MAXPHYADDR (hv/cpu/cpuid.h). */
int tvm_create_cpu(const char *preset, uint64_t features_off, unsigned phys_bits, struct tvm **out)
	__attribute__((warn_unused_result));
/* The same with a whole CPU model: features, MAXPHYADDR, vendor, signature. */
int tvm_create_model(const char *preset, const struct cpu_model *m, struct tvm **out)
	__attribute__((warn_unused_result));
/* The same with EPT accessed and dirty flags on or off. */
int tvm_create_ept_ad(const char *preset, uint64_t features_off, unsigned phys_bits, bool ept_ad,
		      struct tvm **out) __attribute__((warn_unused_result));
/* A vCPU that leaves the local APIC to hv (vcpu_config.lapic_exits): MSR and
 * MOV-to-CR8 exits, the irq handshake of struct vcpu_exit. */
int tvm_create_lapic(const char *preset, struct tvm **out) __attribute__((warn_unused_result));
/* The same with the MMU geometry of cfg instead of a preset. */
int tvm_create_mmu(const struct mmu_config *cfg, struct tvm **out) __attribute__((warn_unused_result));
void tvm_destroy(struct tvm *vm);

/* Host pointer for [gpa, gpa + len). Precondition: the range is RAM and does
 * not cross a 2 MiB boundary. */
void *tvm_gpa_ptr(struct tvm *vm, uint64_t gpa, size_t len);
void tvm_write(struct tvm *vm, uint64_t gpa, const void *src, size_t len);
void tvm_read(struct tvm *vm, uint64_t gpa, void *dst, size_t len);
uint64_t tvm_read64(struct tvm *vm, uint64_t gpa);
void tvm_write64(struct tvm *vm, uint64_t gpa, uint64_t v);

/* Walk the guest's 4-level tables by hand (no MMU, no counting): the GPA of
 * gva, or ~0 when not mapped. */
uint64_t tvm_gva_to_gpa(struct tvm *vm, uint64_t gva);
/* Copy bytes to a mapped GVA range (page by page through tvm_gva_to_gpa). */
void tvm_write_gva(struct tvm *vm, uint64_t gva, const void *src, size_t len);

/* Add a 4 KiB-page mapping gva -> gpa to the guest tables (PTE_W/U/XD). */
int tvm_map(struct tvm *vm, uint64_t gva, uint64_t gpa, uint64_t len, uint64_t flags)
	__attribute__((warn_unused_result));

/* System state presets. */
void tvm_sregs_long64(const struct tvm *vm, struct vcpu_sregs *s);   /* CPL0, CS.L=1, paging */
void tvm_sregs_prot32(struct vcpu_sregs *s);                         /* CPL0, CS.D=1, paging off */

/* Write GDT, IDT (gates to the stubs; vectors 3, 4, 0x80 and 0x81 have DPL 3,
 * vector 0x81 uses IST1), TSS (RSP0 = TVM_RSP0_TOP, IST1 = TVM_IST1_TOP), the
 * stubs and the common handler into guest memory. tvm_create does this. */
void tvm_setup_system(struct tvm *vm);

/* Load code at a GVA and point RIP at it, with RSP = TVM_STACK_TOP and the
 * other GPRs zero, RFLAGS = 0x2. */
void tvm_load_code(struct tvm *vm, uint64_t gva, const void *code, size_t len);

int tvm_get_regs(struct tvm *vm, struct vcpu_regs *r);
int tvm_set_regs(struct tvm *vm, const struct vcpu_regs *r);
int tvm_get_sregs(struct tvm *vm, struct vcpu_sregs *s);
int tvm_set_sregs(struct tvm *vm, const struct vcpu_sregs *s);

/* Run at most max_insns instructions (0: no limit); returns the exit reason,
 * or VCPU_EXIT_INTERNAL_ERROR when run() itself failed. */
enum vcpu_exit_reason tvm_run(struct tvm *vm, uint64_t max_insns);

/* The exception record the common handler wrote. */
void tvm_exc_record(struct tvm *vm, struct tvm_exc_record *rec);

const char *tvm_exit_name(enum vcpu_exit_reason r);

/* Deterministic random numbers (xorshift64*), seeded per test. */
static inline uint64_t tvm_rand(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Iteration scale: HV_TEST_ITERS (default `dflt`). */
unsigned long tvm_iters(unsigned long dflt);

#endif /* HV_TESTS_CPU_HARNESS_H */
