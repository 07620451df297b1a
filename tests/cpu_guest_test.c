/* SPDX-License-Identifier: MIT */
/*
 * tests/cpu_guest_test.c - small guest programs on the software vCPU with
 * exact expected results: exception delivery through the IDT (the pushed
 * frame, CR2 and #PF error codes), privilege changes (IRETQ to ring 3, back
 * through interrupt gates with TSS RSP0 and IST), SYSCALL/SYSRET, SWAPGS,
 * CPUID, the MMU counters of a load/store sequence, and every exit hv sees
 * (port I/O, HLT, VMCALL, EPT violation, MMIO, triple fault).
 *
 * The programs are assembled by the build (the asm blocks below, AT&T syntax)
 * and copied into the guest; each is position-independent. The VM and the
 * exception stubs come from tests/cpu_harness.c: an exception ends in the
 * common handler, which records the frame at TVM_EXC_REC and halts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/cpu_harness.h"
#include "tests/cpu_check.h"

#define BLOB(name) extern const uint8_t name##_start[], name##_end[]
/* Offset of a label inside its program. */
#define OFF(name, label) ((uint64_t)(label - name##_start))

/* RFLAGS bit 1 is always set (SDM 3.4.3). */
#define RFL_FIXED 0x2ULL

static void load(struct tvm *vm, uint64_t gva, const uint8_t *start, const uint8_t *end)
{
	tvm_load_code(vm, gva, start, (size_t)(end - start));
}

/* The exception frame the handler recorded must be exactly this. `rflags`
 * is RFLAGS before the event: a fault's image also has RF set (SDM Vol. 3A
 * 18.3.1.1); traps and INT n (vectors 1, 3, 4 and above 31 here) do not. */
static void expect_exception(struct tvm *vm, uint64_t vector, uint64_t error, uint64_t rip,
			     uint64_t cs, uint64_t rflags, uint64_t rsp, uint64_t ss)
{
	struct tvm_exc_record rec;

	expect_exception_at(vm, vector, error, rip);
	tvm_exc_record(vm, &rec);
	assert_int_equal(rec.cs, cs);
	if (vector < 32 && vector != 1 && vector != 3 && vector != 4)
		rflags |= 1ULL << 16;
	assert_int_equal(rec.rflags, rflags);
	assert_int_equal(rec.rsp, rsp);
	assert_int_equal(rec.ss, ss);
}

/* ------------------------------------------------------------------------ */
/* Exceptions at CPL 0                                                      */
/* ------------------------------------------------------------------------ */

__asm__(".pushsection .rodata\n.code64\n"
	/* #DE: DIV by zero (MOVs only, so RFLAGS stays 0x2). */
	"g_de_start:\n"
	"	mov $1, %eax\n"
	"	mov $0, %edx\n"
	"	mov $0, %ecx\n"
	"g_de_fault:\n"
	"	div %ecx\n"
	"	hlt\n"
	"g_de_end:\n"
	/* #UD */
	"g_ud_start:\n"
	"	nop\n"
	"g_ud_fault:\n"
	"	ud2\n"
	"g_ud_end:\n"
	/* INT3 and INT n are traps: the frame holds the next RIP. */
	"g_int3_start:\n"
	"	int3\n"
	"g_int3_next:\n"
	"	hlt\n"
	"g_int3_end:\n"
	"g_intn_start:\n"
	"	int $0x40\n"
	"g_intn_next:\n"
	"	hlt\n"
	"g_intn_end:\n"
	/* #GP(0): a non-canonical data address. */
	"g_gp_start:\n"
	"	movabs $0x8000000000000000, %rax\n"
	"g_gp_fault:\n"
	"	mov (%rax), %rbx\n"
	"	hlt\n"
	"g_gp_end:\n"
	/* #PF: write to a read-only page at CPL 0 with CR0.WP = 1. */
	"g_pfw_start:\n"
	"	mov $0x40000000, %eax\n"
	"g_pfw_fault:\n"
	"	movl $1, (%rax)\n"
	"	hlt\n"
	"g_pfw_end:\n"
	/* #PF: fetch from an execute-disable page. */
	"g_pfx_start:\n"
	"	mov $0x40001000, %eax\n"
	"	jmp *%rax\n"
	"g_pfx_end:\n"
	/* #PF: read of a page that is not present. */
	"g_pfnp_start:\n"
	"	mov $0x50000000, %eax\n"
	"g_pfnp_fault:\n"
	"	mov (%rax), %rbx\n"
	"	hlt\n"
	"g_pfnp_end:\n"
	".popsection\n");
BLOB(g_de);
BLOB(g_ud);
BLOB(g_int3);
BLOB(g_intn);
BLOB(g_gp);
BLOB(g_pfw);
BLOB(g_pfx);
BLOB(g_pfnp);
extern const uint8_t g_de_fault[], g_ud_fault[], g_int3_next[], g_intn_next[], g_gp_fault[],
	g_pfw_fault[], g_pfnp_fault[];

/* SDM 6.15 #DE (fault, no error code); 6.14.2: the 64-bit frame is SS, RSP,
 * RFLAGS, CS, RIP, pushed even without a privilege change. */
static void test_divide_error(void **state)
{
	struct tvm *vm = vm_new("none");
	load(vm, TVM_CODE, g_de_start, g_de_end);
	expect_exception(vm, 0, 0, TVM_CODE + OFF(g_de, g_de_fault), TVM_SEL_KCODE, RFL_FIXED,
			 TVM_STACK_TOP, TVM_SEL_KDATA);
	tvm_destroy(vm);
}

/* SDM 6.15 #UD: fault, RIP of UD2. */
static void test_invalid_opcode(void **state)
{
	struct tvm *vm = vm_new("none");
	load(vm, TVM_CODE, g_ud_start, g_ud_end);
	expect_exception(vm, 6, 0, TVM_CODE + OFF(g_ud, g_ud_fault), TVM_SEL_KCODE, RFL_FIXED,
			 TVM_STACK_TOP, TVM_SEL_KDATA);
	tvm_destroy(vm);
}

/* SDM 6.15 #BP and INT n: traps, the saved RIP is the next instruction. */
static void test_int3_and_int_n(void **state)
{
	struct tvm *vm = vm_new("none");
	load(vm, TVM_CODE, g_int3_start, g_int3_end);
	expect_exception(vm, 3, 0, TVM_CODE + OFF(g_int3, g_int3_next), TVM_SEL_KCODE, RFL_FIXED,
			 TVM_STACK_TOP, TVM_SEL_KDATA);
	tvm_destroy(vm);

	vm = vm_new("none");
	load(vm, TVM_CODE, g_intn_start, g_intn_end);
	expect_exception(vm, 0x40, 0, TVM_CODE + OFF(g_intn, g_intn_next), TVM_SEL_KCODE, RFL_FIXED,
			 TVM_STACK_TOP, TVM_SEL_KDATA);
	tvm_destroy(vm);
}

/* SDM 3.3.7.1: a non-canonical data reference raises #GP(0), not #PF. */
static void test_noncanonical_gp(void **state)
{
	struct tvm *vm = vm_new("none");
	load(vm, TVM_CODE, g_gp_start, g_gp_end);
	expect_exception(vm, 13, 0, TVM_CODE + OFF(g_gp, g_gp_fault), TVM_SEL_KCODE, RFL_FIXED,
			 TVM_STACK_TOP, TVM_SEL_KDATA);
	struct tvm_exc_record rec;
	tvm_exc_record(vm, &rec);
	assert_int_equal(rec.cr2, 0);
	tvm_destroy(vm);
}

/* SDM 4.6.1 and 4.7: supervisor write to a read-only page with CR0.WP = 1:
 * #PF, error code P|W = 0x3, CR2 = the linear address. */
static void test_pf_write_readonly(void **state)
{
	struct tvm *vm = vm_new("none");
	assert_int_equal(tvm_map(vm, 0x40000000, TVM_FREE + 0x10000, 0x1000, 0), 0);
	load(vm, TVM_CODE, g_pfw_start, g_pfw_end);
	expect_exception(vm, 14, PF_P | PF_W, TVM_CODE + OFF(g_pfw, g_pfw_fault), TVM_SEL_KCODE,
			 RFL_FIXED, TVM_STACK_TOP, TVM_SEL_KDATA);
	struct tvm_exc_record rec;
	tvm_exc_record(vm, &rec);
	assert_int_equal(rec.cr2, 0x40000000);
	assert_int_equal(tvm_read64(vm, TVM_FREE + 0x10000), 0); /* the write did not happen */
	tvm_destroy(vm);
}

/* SDM 4.6.2 and 4.7: instruction fetch from an XD page with EFER.NXE = 1:
 * error code P|I = 0x11, CR2 and the saved RIP are the target. */
static void test_pf_fetch_nx(void **state)
{
	struct tvm *vm = vm_new("none");
	static const uint8_t hlt = 0xf4;
	assert_int_equal(tvm_map(vm, 0x40001000, TVM_FREE + 0x11000, 0x1000, PTE_W | PTE_XD), 0);
	tvm_write(vm, TVM_FREE + 0x11000, &hlt, 1);
	load(vm, TVM_CODE, g_pfx_start, g_pfx_end);
	expect_exception(vm, 14, PF_P | PF_I, 0x40001000, TVM_SEL_KCODE, RFL_FIXED, TVM_STACK_TOP,
			 TVM_SEL_KDATA);
	struct tvm_exc_record rec;
	tvm_exc_record(vm, &rec);
	assert_int_equal(rec.cr2, 0x40001000);
	tvm_destroy(vm);
}

/* SDM 4.7: read of a not-present page: error code 0. */
static void test_pf_not_present(void **state)
{
	struct tvm *vm = vm_new("none");
	load(vm, TVM_CODE, g_pfnp_start, g_pfnp_end);
	expect_exception(vm, 14, 0, TVM_CODE + OFF(g_pfnp, g_pfnp_fault), TVM_SEL_KCODE, RFL_FIXED,
			 TVM_STACK_TOP, TVM_SEL_KDATA);
	struct tvm_exc_record rec;
	tvm_exc_record(vm, &rec);
	assert_int_equal(rec.cr2, 0x50000000);
	tvm_destroy(vm);
}

/*
 * SDM Vol. 2A 2.3.11: an instruction may be at most 15 bytes; a longer one
 * raises #GP(0) at its first byte. A legal 15-byte NOP executes, and so does
 * an instruction that straddles a page boundary (the second page is
 * translated too).
 */
static void test_instruction_length_limit(void **state)
{
	static const uint8_t nop15[] = { 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x2e, 0x0f, 0x1f,
					 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf4 };
	/* 16 prefixes and a NOP; 10 prefixes and an 8-byte MOV (18 bytes, the
	 * limit is found while reading the displacement). */
	uint8_t too_long[2][19];
	memset(too_long[0], 0x66, 16);
	too_long[0][16] = 0x90;
	too_long[0][17] = 0xf4;
	static const uint8_t mov[] = { 0x48, 0x8b, 0x84, 0x24, 0x00, 0x01, 0x00, 0x00, 0xf4 };
	memset(too_long[1], 0x66, 10);
	memcpy(too_long[1] + 10, mov, sizeof(mov));

	struct tvm *vm;
	for (int i = 0; i < 2; i++) {
		vm = vm_new("none");
		tvm_load_code(vm, TVM_CODE + 0x100, too_long[i], sizeof(too_long[i]));
		expect_exception(vm, 13, 0, TVM_CODE + 0x100, TVM_SEL_KCODE, RFL_FIXED,
				 TVM_STACK_TOP, TVM_SEL_KDATA);
		tvm_destroy(vm);
	}

	vm = vm_new("none");
	tvm_load_code(vm, TVM_CODE + 0x100, nop15, sizeof(nop15));
	expect_exit(vm, VCPU_EXIT_HLT);
	assert_int_equal(vm->exit.rip, TVM_CODE + 0x100 + 15);
	tvm_destroy(vm);

	/* movabs $0x1122334455667788, %rax; hlt -- 10 bytes from 0x10ffb. */
	static const uint8_t movabs[] = { 0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
					  0xf4 };
	vm = vm_new("none");
	tvm_load_code(vm, TVM_CODE + 0xffb, movabs, sizeof(movabs));
	expect_exit(vm, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).gpr[0], 0x1122334455667788ULL);
	assert_int_equal(vm->exit.rip, TVM_CODE + 0xffb + 10);
	tvm_destroy(vm);
}

/* ------------------------------------------------------------------------ */
/* Paging controls and the TLB model                                        */
/* ------------------------------------------------------------------------ */

__asm__(".pushsection .rodata\n.code64\n"
	/* Supervisor fetch from a user page (jump to TVM_UCODE). */
	"g_smep_start:\n"
	"	mov $0x30000, %eax\n"
	"	jmp *%rax\n"
	"g_smep_end:\n"
	/* Supervisor read of a user page, then the same with EFLAGS.AC = 1. */
	"g_smap_start:\n"
	"	mov $0x40000, %eax\n"
	"g_smap_fault:\n"
	"	mov (%rax), %rbx\n"
	"	hlt\n"
	"g_smap_end:\n"
	"g_stac_start:\n"
	"	mov $0x40000, %eax\n"
	"	stac\n"
	"	mov (%rax), %rbx\n"
	"	clac\n"
	"	hlt\n"
	"g_stac_end:\n"
	/* Three loads of one GVA with an OUT (an exit) in between, then INVLPG. */
	"g_stale_start:\n"
	"	mov $0x40003000, %eax\n"
	"	mov (%rax), %rbx\n"
	"	out %al, $0x80\n"
	"	mov (%rax), %rcx\n"
	"	invlpg (%rax)\n"
	"	mov (%rax), %rdx\n"
	"	hlt\n"
	"g_stale_end:\n"
	".popsection\n");
BLOB(g_smep);
BLOB(g_smap);
BLOB(g_stac);
BLOB(g_stale);
extern const uint8_t g_smap_fault[];

static void set_cr(struct tvm *vm, uint64_t cr0_clear, uint64_t cr4_set)
{
	struct vcpu_sregs s;
	assert_int_equal(tvm_get_sregs(vm, &s), 0);
	s.cr0 &= ~cr0_clear;
	s.cr4 |= cr4_set;
	assert_int_equal(tvm_set_sregs(vm, &s), 0);
}

/* SDM 4.6.1: with CR4.SMEP a supervisor fetch from a user page faults:
 * error code P|I = 0x11, CR2 and the saved RIP = the target. */
static void test_smep_fetch(void **state)
{
	struct tvm *vm = vm_new("none");
	static const uint8_t hlt = 0xf4;
	tvm_write(vm, TVM_UCODE, &hlt, 1);
	set_cr(vm, 0, CR4_SMEP);
	load(vm, TVM_CODE, g_smep_start, g_smep_end);
	expect_exception(vm, 14, PF_P | PF_I, TVM_UCODE, TVM_SEL_KCODE, RFL_FIXED, TVM_STACK_TOP,
			 TVM_SEL_KDATA);
	struct tvm_exc_record rec;
	tvm_exc_record(vm, &rec);
	assert_int_equal(rec.cr2, TVM_UCODE);
	tvm_destroy(vm);
}

/* SDM 4.6.1: with CR4.SMAP a supervisor read of a user page faults (error
 * code P = 0x1) unless EFLAGS.AC = 1 (STAC). */
static void test_smap_read(void **state)
{
	struct tvm *vm = vm_new("none");
	tvm_write64(vm, TVM_UDATA, 0x5a5a);
	set_cr(vm, 0, CR4_SMAP);
	load(vm, TVM_CODE, g_smap_start, g_smap_end);
	expect_exception(vm, 14, PF_P, TVM_CODE + OFF(g_smap, g_smap_fault), TVM_SEL_KCODE,
			 RFL_FIXED, TVM_STACK_TOP, TVM_SEL_KDATA);
	tvm_destroy(vm);

	vm = vm_new("none");
	tvm_write64(vm, TVM_UDATA, 0x5a5a);
	set_cr(vm, 0, CR4_SMAP);
	load(vm, TVM_CODE, g_stac_start, g_stac_end);
	expect_exit(vm, VCPU_EXIT_HLT);
	struct tvm_exc_record rec;
	tvm_exc_record(vm, &rec);
	assert_int_equal(rec.count, 0);
	assert_int_equal(regs(vm).gpr[3], 0x5a5a);
	assert_int_equal(regs(vm).rflags & RFLAGS_AC, 0); /* CLAC */
	tvm_destroy(vm);
}

/* SDM 4.6.1: with CR0.WP = 0 supervisor writes ignore R/W = 0. */
static void test_wp0_supervisor_write(void **state)
{
	struct tvm *vm = vm_new("none");
	assert_int_equal(tvm_map(vm, 0x40000000, TVM_FREE + 0x10000, 0x1000, 0), 0);
	set_cr(vm, CR0_WP, 0);
	load(vm, TVM_CODE, g_pfw_start, g_pfw_end);
	expect_exit(vm, VCPU_EXIT_HLT);
	struct tvm_exc_record rec;
	tvm_exc_record(vm, &rec);
	assert_int_equal(rec.count, 0);
	assert_int_equal(tvm_read64(vm, TVM_FREE + 0x10000), 1);
	tvm_destroy(vm);
}

/*
 * SDM 4.10.4.3: a changed PTE need not be seen until INVLPG. The host points
 * the PTE of GVA 0x40003000 from page A to page B between two loads: with a
 * TLB ("skylake") the second load still reads A and only the load after
 * INVLPG reads B; without one ("none") the second load already reads B.
 */
static void run_stale(const char *preset, uint64_t want_rcx)
{
	const uint64_t page_a = TVM_FREE + 0x20000, page_b = TVM_FREE + 0x21000;
	struct tvm *vm = vm_new(preset);
	tvm_write64(vm, page_a, 0xaaaa);
	tvm_write64(vm, page_b, 0xbbbb);
	assert_int_equal(tvm_map(vm, 0x40003000, page_a, 0x1000, PTE_W), 0);
	load(vm, TVM_CODE, g_stale_start, g_stale_end);
	expect_exit(vm, VCPU_EXIT_IO);
	uint64_t pte = gpt_entry_gpa(vm->gpt, 0x40003000, 1);
	uint64_t old = tvm_read64(vm, pte);
	tvm_write64(vm, pte, (old & ~PTE_ADDR_MASK) | page_b);
	expect_exit(vm, VCPU_EXIT_HLT);
	struct vcpu_regs r = regs(vm);
	assert_int_equal(r.gpr[3], 0xaaaa);
	assert_int_equal(r.gpr[1], want_rcx);
	assert_int_equal(r.gpr[2], 0xbbbb);
	tvm_destroy(vm);
}

static void test_tlb_stale_until_invlpg(void **state)
{
	run_stale("skylake", 0xaaaa);
	run_stale("none", 0xbbbb);
}

/* ------------------------------------------------------------------------ */
/* Ring 3, SYSCALL/SYSRET, SWAPGS                                           */
/* ------------------------------------------------------------------------ */

#define USER_RSP (TVM_UDATA + 0x1000)

__asm__(".pushsection .rodata\n.code64\n"
	/* Ring 0: IRETQ to the user code at 0x30000 (TVM_UCODE) with RSP
	 * 0x41000 (USER_RSP), user selectors 0x2b/0x23. */
	"g_to3_start:\n"
	"	pushq $0x23\n"
	"	pushq $0x41000\n"
	"	pushq $0x2\n"
	"	pushq $0x2b\n"
	"	pushq $0x30000\n"
	"	iretq\n"
	"g_to3_end:\n"
	/* Ring 3: INT 0x80 (gate DPL 3, RSP0 stack). */
	"u_int80_start:\n"
	"	mov $0x1234, %eax\n"
	"	int $0x80\n"
	"u_int80_next:\n"
	"u_int80_end:\n"
	/* Ring 3: INT 0x81 (gate with IST1). */
	"u_int81_start:\n"
	"	int $0x81\n"
	"u_int81_next:\n"
	"u_int81_end:\n"
	/* Ring 3: read a supervisor page. */
	"u_rdsv_start:\n"
	"	mov $0x20000, %eax\n"
	"u_rdsv_fault:\n"
	"	mov (%rax), %rbx\n"
	"u_rdsv_end:\n"
	/* Ring 3: HLT is privileged (#GP(0) at CPL 3). */
	"u_hlt_start:\n"
	"u_hlt_fault:\n"
	"	hlt\n"
	"u_hlt_end:\n"
	/* Ring 0: set CR4.UMIP (g_to3 follows it). */
	"g_umip_start:\n"
	"	mov %cr4, %rax\n"
	"	bts $11, %rax\n"
	"	mov %rax, %cr4\n"
	"g_umip_end:\n"
	/* Ring 3: what UMIP forbids, one instruction each. */
	"u_smsw_start:\n"
	"	smsw %eax\n"
	"u_smsw_end:\n"
	"u_sgdt_start:\n"
	"	sgdt -16(%rsp)\n"
	"u_sgdt_end:\n"
	"u_sidt_start:\n"
	"	sidt -16(%rsp)\n"
	"u_sidt_end:\n"
	"u_sldt_start:\n"
	"	sldt %eax\n"
	"u_sldt_end:\n"
	"u_str_start:\n"
	"	str -16(%rsp)\n"
	"u_str_end:\n"
	".popsection\n");
BLOB(g_to3);
BLOB(u_int80);
BLOB(u_int81);
BLOB(u_rdsv);
BLOB(u_hlt);
BLOB(g_umip);
BLOB(u_smsw);
BLOB(u_sgdt);
BLOB(u_sidt);
BLOB(u_sldt);
BLOB(u_str);
extern const uint8_t u_int80_next[], u_int81_next[], u_rdsv_fault[], u_hlt_fault[];

static struct tvm *vm_ring3(const uint8_t *ustart, const uint8_t *uend)
{
	struct tvm *vm = vm_new("none");
	tvm_write_gva(vm, TVM_UCODE, ustart, (size_t)(uend - ustart));
	load(vm, TVM_CODE, g_to3_start, g_to3_end);
	return vm;
}

/* SDM 6.12.1, 6.14.2: INT n from CPL 3 through a DPL-3 interrupt gate
 * switches to the TSS RSP0 stack and pushes the user SS:RSP. */
static void test_ring3_int_rsp0(void **state)
{
	struct tvm *vm = vm_ring3(u_int80_start, u_int80_end);
	expect_exception(vm, 0x80, 0, TVM_UCODE + OFF(u_int80, u_int80_next), TVM_SEL_UCODE | 3,
			 RFL_FIXED, USER_RSP, TVM_SEL_UDATA | 3);
	/* The frame sits at the top of the RSP0 stack: SS at RSP0 - 8. */
	assert_int_equal(tvm_read64(vm, TVM_RSP0_TOP - 8), TVM_SEL_UDATA | 3);
	assert_int_equal(tvm_read64(vm, TVM_RSP0_TOP - 16), USER_RSP);
	assert_int_equal(tvm_read64(vm, TVM_RSP0_TOP - 40), TVM_UCODE + OFF(u_int80, u_int80_next));
	assert_int_equal(regs(vm).gpr[0], 0x1234);
	struct vcpu_sregs s;
	assert_int_equal(tvm_get_sregs(vm, &s), 0);
	assert_int_equal(s.cs.selector, TVM_SEL_KCODE);
	assert_int_equal(s.cs.dpl, 0);
	tvm_destroy(vm);
}

/* SDM 6.14.5: a gate with IST = 1 switches to TSS.IST1 whatever the CPL. */
static void test_ring3_int_ist(void **state)
{
	struct tvm *vm = vm_ring3(u_int81_start, u_int81_end);
	expect_exception(vm, 0x81, 0, TVM_UCODE + OFF(u_int81, u_int81_next), TVM_SEL_UCODE | 3,
			 RFL_FIXED, USER_RSP, TVM_SEL_UDATA | 3);
	assert_int_equal(tvm_read64(vm, TVM_IST1_TOP - 8), TVM_SEL_UDATA | 3);
	assert_int_equal(tvm_read64(vm, TVM_IST1_TOP - 16), USER_RSP);
	assert_int_equal(tvm_read64(vm, TVM_RSP0_TOP - 8), 0); /* RSP0 stack untouched */
	tvm_destroy(vm);
}

/* SDM 4.6.1, 4.7: user-mode read of a supervisor page: error code P|U = 0x5. */
static void test_ring3_read_supervisor(void **state)
{
	struct tvm *vm = vm_ring3(u_rdsv_start, u_rdsv_end);
	expect_exception(vm, 14, PF_P | PF_U, TVM_UCODE + OFF(u_rdsv, u_rdsv_fault),
			 TVM_SEL_UCODE | 3, RFL_FIXED, USER_RSP, TVM_SEL_UDATA | 3);
	struct tvm_exc_record rec;
	tvm_exc_record(vm, &rec);
	assert_int_equal(rec.cr2, TVM_DATA);
	tvm_destroy(vm);
}

/* SDM HLT: "#GP(0) if the current privilege level is not 0." */
static void test_ring3_hlt_gp(void **state)
{
	struct tvm *vm = vm_ring3(u_hlt_start, u_hlt_end);
	expect_exception(vm, 13, 0, TVM_UCODE + OFF(u_hlt, u_hlt_fault), TVM_SEL_UCODE | 3,
			 RFL_FIXED, USER_RSP, TVM_SEL_UDATA | 3);
	tvm_destroy(vm);
}

/* SDM Vol. 3A 2.5 (CR4.UMIP): SMSW, SGDT, SIDT, SLDT and STR are #GP(0) at
 * CPL 3 with UMIP set. Without UMIP they run at CPL 3 too. */
static void test_ring3_umip_gp(void **state)
{
	static const struct { const uint8_t *start, *end; } insn[] = {
		{ u_smsw_start, u_smsw_end }, { u_sgdt_start, u_sgdt_end },
		{ u_sidt_start, u_sidt_end }, { u_sldt_start, u_sldt_end },
		{ u_str_start, u_str_end },
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(insn) / sizeof(insn[0]); i++) {
		struct tvm *vm = vm_new("none");

		tvm_write_gva(vm, TVM_UCODE, insn[i].start, (size_t)(insn[i].end - insn[i].start));
		tvm_write_gva(vm, TVM_CODE + (uint64_t)(g_umip_end - g_umip_start), g_to3_start,
			      (size_t)(g_to3_end - g_to3_start));
		load(vm, TVM_CODE, g_umip_start, g_umip_end);
		expect_exception(vm, 13, 0, TVM_UCODE, TVM_SEL_UCODE | 3, RFL_FIXED, USER_RSP,
				 TVM_SEL_UDATA | 3);
		tvm_destroy(vm);
		/* UMIP clear: the instruction runs, and ring 3 goes on to the
		 * zeros after it (ADD [RAX], AL: a user write to an address
		 * with no user page, #PF). */
		vm = vm_ring3(insn[i].start, insn[i].end);
		expect_exception(vm, 14, PF_U | PF_W, TVM_UCODE + (uint64_t)(insn[i].end - insn[i].start),
				 TVM_SEL_UCODE | 3, RFL_FIXED, USER_RSP, TVM_SEL_UDATA | 3);
		tvm_destroy(vm);
	}
}

/*
 * SYSCALL/SYSRET and SWAPGS. Ring 0 sets EFER.SCE, STAR, LSTAR (the entry
 * below), FMASK = DF, KERNEL_GS_BASE = 0x20100 (holding a marker), then
 * IRETQs to ring 3. The user sets DF and does SYSCALL; the entry records RCX,
 * R11, its RFLAGS, CS and SS at 0x20000.., reads the marker through GS after
 * SWAPGS, adds 1 to RAX and SYSRETs. Back in ring 3, INT 0x80 ends the run.
 */
__asm__(".pushsection .rodata\n.code64\n"
	"g_sys_start:\n"
	"	mov $0xc0000080, %ecx\n"	/* EFER.SCE */
	"	rdmsr\n"
	"	or $1, %eax\n"
	"	wrmsr\n"
	"	mov $0xc0000081, %ecx\n"	/* STAR: sysret base 0x18, syscall CS 0x08 */
	"	mov $0, %eax\n"
	"	mov $0x00180008, %edx\n"
	"	wrmsr\n"
	"	mov $0xc0000082, %ecx\n"	/* LSTAR */
	"	lea g_sys_entry(%rip), %rax\n"
	"	mov %rax, %rdx\n"
	"	shr $32, %rdx\n"
	"	wrmsr\n"
	"	mov $0xc0000084, %ecx\n"	/* FMASK: clear DF on entry */
	"	mov $0x400, %eax\n"
	"	mov $0, %edx\n"
	"	wrmsr\n"
	"	mov $0xc0000102, %ecx\n"	/* KERNEL_GS_BASE */
	"	mov $0x20100, %eax\n"
	"	mov $0, %edx\n"
	"	wrmsr\n"
	"	movabs $0x5157415053, %rax\n"	/* the marker SWAPGS must reach */
	"	mov %rax, 0x20100\n"
	"	pushq $0x23\n"
	"	pushq $0x41000\n"
	"	pushq $0x2\n"
	"	pushq $0x2b\n"
	"	pushq $0x30000\n"
	"	iretq\n"
	"g_sys_entry:\n"
	"	mov %rcx, 0x20000\n"
	"	mov %r11, 0x20008\n"
	"	pushfq\n"			/* SYSCALL keeps RSP: this is the user stack, */
	"	popq 0x20010\n"			/* writable at CPL 0 (no SMAP) */
	"	mov %cs, %rbx\n"
	"	mov %rbx, 0x20018\n"
	"	mov %ss, %rbx\n"
	"	mov %rbx, 0x20020\n"
	"	swapgs\n"
	"	mov %gs:0, %rbx\n"
	"	mov %rbx, 0x20028\n"
	"	swapgs\n"
	"	add $1, %rax\n"
	"	sysretq\n"
	"g_sys_end:\n"
	"u_sys_start:\n"
	"	mov $41, %eax\n"
	"	std\n"
	"	syscall\n"
	"u_sys_ret:\n"
	"	int $0x80\n"
	"u_sys_next:\n"
	"u_sys_end:\n"
	".popsection\n");
BLOB(g_sys);
BLOB(u_sys);
extern const uint8_t u_sys_ret[], u_sys_next[];

/* SDM SYSCALL, SYSRET, SWAPGS. */
static void test_syscall_sysret_swapgs(void **state)
{
	struct tvm *vm = vm_ring3(u_sys_start, u_sys_end);
	load(vm, TVM_CODE, g_sys_start, g_sys_end);
	/* Back in ring 3 with R11's RFLAGS (DF set), CS = STAR[63:48] + 16 | 3. */
	expect_exception(vm, 0x80, 0, TVM_UCODE + OFF(u_sys, u_sys_next), TVM_SEL_UCODE | 3,
			 RFL_FIXED | 0x400, USER_RSP, TVM_SEL_UDATA | 3);
	/* SYSCALL: RCX = next RIP, R11 = RFLAGS, RFLAGS &= ~FMASK, CS = STAR[47:32], SS = CS + 8. */
	assert_int_equal(tvm_read64(vm, TVM_DATA + 0x00), TVM_UCODE + OFF(u_sys, u_sys_ret));
	assert_int_equal(tvm_read64(vm, TVM_DATA + 0x08), RFL_FIXED | 0x400);
	assert_int_equal(tvm_read64(vm, TVM_DATA + 0x10), RFL_FIXED);
	assert_int_equal(tvm_read64(vm, TVM_DATA + 0x18), TVM_SEL_KCODE);
	assert_int_equal(tvm_read64(vm, TVM_DATA + 0x20), TVM_SEL_KDATA);
	/* SWAPGS exchanged GS.base with KERNEL_GS_BASE. */
	assert_int_equal(tvm_read64(vm, TVM_DATA + 0x28), 0x5157415053ULL);
	struct vcpu_regs r = regs(vm);
	assert_int_equal(r.gpr[0], 42);
	assert_int_equal(r.gpr[1], TVM_UCODE + OFF(u_sys, u_sys_ret));
	tvm_destroy(vm);
}

/* ------------------------------------------------------------------------ */
/* Debug registers                                                           */
/* ------------------------------------------------------------------------ */

/*
 * The #DB handler of the debug-register guests (each blob holds its own
 * copy): it logs each #DB at TVM_DATA, the count at +0, then for entry k
 * the pushed RIP at +8 + 16k and DR6 at +16 + 16k, and returns. With
 * DB_LOG_SET_RF it first sets RF in the image, so that an instruction
 * breakpoint lets its instruction run on return.
 */
#define DB_LOG_HANDLER(set_rf) \
	"	push %rax\n" \
	"	push %rbx\n" \
	"	mov 0x20000, %rbx\n" \
	"	shl $4, %rbx\n" \
	"	mov 16(%rsp), %rax\n" \
	"	mov %rax, 0x20008(%rbx)\n" \
	"	mov %dr6, %rax\n" \
	"	mov %rax, 0x20010(%rbx)\n" \
	"	incq 0x20000\n" \
	set_rf \
	"	pop %rbx\n" \
	"	pop %rax\n" \
	"	iretq\n"
#define DB_LOG_SET_RF "	orq $0x10000, 32(%rsp)\n"

/*
 * g_dbg_handler (gate 1) is that handler, setting RF. The program:
 *   exec   DR0 on `dbg_exec` (L0, R/W 00): a fault before the NOP
 *   write  DR1 on 4 bytes at TVM_DATA + 0x800 (G1, R/W 01, LEN 11): a store
 *          overlapping it traps after the store; a load of it, a store next
 *          to it do not
 *   rw     DR1 R/W 11: the load traps too, with BS kept in DR6 from software
 *   movss  TF set by POPF; MOV SS holds the single-step trap of its own
 *          instruction, so the first #DB is after the instruction after it
 *   gd     DR7.GD: MOV from DR0 is a #DB fault with BD, GD is cleared for
 *          the handler and the MOV then runs
 */
__asm__(".pushsection .rodata\n.code64\n"
	"g_dbg_start:\n"
	"	lea dbg_exec(%rip), %rax\n"
	"	mov %rax, %dr0\n"
	"	mov $0x401, %eax\n"
	"	mov %rax, %dr7\n"
	"dbg_exec:\n"
	"	nop\n"
	"	mov $0x20800, %eax\n"
	"	mov %rax, %dr1\n"
	"	mov $0xd00408, %eax\n"           /* G1, R/W1 = 01, LEN1 = 11 */
	"	mov %rax, %dr7\n"
	"	movl $5, 0x20802\n"
	"dbg_after_store:\n"
	"	mov 0x20800, %ecx\n"
	"	movl $6, 0x20804\n"
	"	mov $0xf00408, %eax\n"           /* R/W1 = 11 */
	"	mov %rax, %dr7\n"
	"	mov $0x4000, %eax\n"
	"	mov %rax, %dr6\n"                /* BS set by software */
	"	mov 0x20800, %cl\n"
	"dbg_after_load:\n"
	"	xor %eax, %eax\n"
	"	mov %rax, %dr6\n"
	"	mov $0x400, %eax\n"
	"	mov %rax, %dr7\n"
	"	pushf\n"
	"	orq $0x100, (%rsp)\n"
	"	mov %ss, %ax\n"
	"	popf\n"
	"	mov %ax, %ss\n"
	"	nop\n"
	"dbg_after_movss:\n"
	"	pushf\n"
	"dbg_after_pushf:\n"
	"	andq $~0x100, (%rsp)\n"
	"dbg_after_and:\n"
	"	popf\n"
	"dbg_after_popf:\n"
	"	xor %eax, %eax\n"
	"	mov %rax, %dr6\n"
	"	mov $0x2400, %eax\n"             /* GD */
	"	mov %rax, %dr7\n"
	"dbg_gd:\n"
	"	mov %dr0, %rbx\n"
	"	mov %dr7, %rdx\n"
	"	hlt\n"
	"g_dbg_handler:\n"
	DB_LOG_HANDLER(DB_LOG_SET_RF)
	"g_dbg_end:\n"
	".popsection\n");
BLOB(g_dbg);
extern const uint8_t dbg_exec[], dbg_after_store[], dbg_after_load[], dbg_after_movss[],
	dbg_after_pushf[], dbg_after_and[], dbg_after_popf[], dbg_gd[], g_dbg_handler[];

static void test_debug_registers(void **state)
{
	static const struct { const uint8_t *at; uint64_t dr6; } want[] = {
		{ dbg_exec, 0xffff0ff1 },            /* B0 */
		{ dbg_after_store, 0xffff0ff2 },     /* B1 */
		{ dbg_after_load, 0xffff4ff2 },      /* B1, BS as software left it */
		{ dbg_after_movss, 0xffff4ff0 },     /* BS, one instruction late */
		{ dbg_after_pushf, 0xffff4ff0 },
		{ dbg_after_and, 0xffff4ff0 },
		{ dbg_after_popf, 0xffff4ff0 },      /* the POPF that cleared TF traps */
		{ dbg_gd, 0xffff2ff0 },              /* BD: a fault, at the MOV */
	};
	uint64_t h = TVM_CODE + OFF(g_dbg, g_dbg_handler), gate[2];
	struct tvm *vm = vm_new("none");

	(void)state;
	load(vm, TVM_CODE, g_dbg_start, g_dbg_end);
	gate[0] = (h & 0xffff) | ((uint64_t)TVM_SEL_KCODE << 16) | (0x8eULL << 40) |
		  ((h >> 16 & 0xffff) << 48);
	gate[1] = h >> 32;
	tvm_write(vm, TVM_IDT + 16, gate, sizeof(gate));
	expect_exit(vm, VCPU_EXIT_HLT);
	assert_int_equal(tvm_read64(vm, TVM_DATA), 8);
	for (unsigned k = 0; k < 8; k++) {
		assert_int_equal(tvm_read64(vm, TVM_DATA + 8 + 16 * k),
				 TVM_CODE + (uint64_t)(want[k].at - g_dbg_start));
		assert_int_equal(tvm_read64(vm, TVM_DATA + 16 + 16 * k), want[k].dr6);
	}
	assert_int_equal(regs(vm).gpr[2], 0x400);   /* DR7 after the #DB: GD cleared */
	assert_int_equal(tvm_read64(vm, TVM_DATA + 0x800), 0x0000000600050000ULL);  /* both stores done */
	tvm_destroy(vm);
}

/*
 * MOV SS blocking and instruction breakpoints (SDM Vol. 3A 6.8.3): DR0 (L0,
 * R/W 00) is on `ssbp_at`, the instruction after MOV SS. Reached after MOV
 * SS, its breakpoint is not taken (Intel); reached again by a jump, it is:
 * one #DB only, at ssbp_at with B0, and EBP counts both passes. The handler
 * is DB_LOG_HANDLER, setting RF, as in test_debug_registers.
 */
__asm__(".pushsection .rodata\n.code64\n"
	"g_ssbp_start:\n"
	"	lea ssbp_at(%rip), %rax\n"
	"	mov %rax, %dr0\n"
	"	mov $0x401, %eax\n"
	"	mov %rax, %dr7\n"
	"	xor %ebp, %ebp\n"
	"	mov %ss, %ax\n"
	"	mov %ax, %ss\n"
	"ssbp_at:\n"
	"	inc %ebp\n"
	"	cmp $1, %ebp\n"
	"	je ssbp_at\n"
	"	hlt\n"
	"g_ssbp_handler:\n"
	DB_LOG_HANDLER(DB_LOG_SET_RF)
	"g_ssbp_end:\n"
	".popsection\n");
BLOB(g_ssbp);
extern const uint8_t ssbp_at[], g_ssbp_handler[];

static void test_movss_inhibits_insn_breakpoint(void **state)
{
	uint64_t h = TVM_CODE + OFF(g_ssbp, g_ssbp_handler), gate[2];
	struct tvm *vm = vm_new("none");

	(void)state;
	load(vm, TVM_CODE, g_ssbp_start, g_ssbp_end);
	gate[0] = (h & 0xffff) | ((uint64_t)TVM_SEL_KCODE << 16) | (0x8eULL << 40) |
		  ((h >> 16 & 0xffff) << 48);
	gate[1] = h >> 32;
	tvm_write(vm, TVM_IDT + 16, gate, sizeof(gate));
	expect_exit(vm, VCPU_EXIT_HLT);
	assert_int_equal(tvm_read64(vm, TVM_DATA), 1);
	assert_int_equal(tvm_read64(vm, TVM_DATA + 8), TVM_CODE + (uint64_t)(ssbp_at - g_ssbp_start));
	assert_int_equal(tvm_read64(vm, TVM_DATA + 16), 0xffff0ff1);  /* B0 */
	assert_int_equal(regs(vm).gpr[5], 2);
	tvm_destroy(vm);
}

/*
 * I/O breakpoints (SDM 18.2.4, 18.2.5, 18.3.1.2): with CR4.DE set, R/W = 10
 * traps after an IN, OUT, INS or OUTS whose ports overlap the breakpoint's
 * aligned range. DR0 is port 0x71 (LEN 00), DR1 ports 0x60-0x63 (LEN 11,
 * set as 0x61: the low bits are ignored). The program, logging with
 * DB_LOG_HANDLER (RF left alone: these breakpoints are traps):
 *   OUT 0x70        no hit (next to DR0)
 *   OUT 0x71        B0, after the OUT
 *   IN  0x62 (word) B1, after the IN has its value
 *   IN  0x5e (dword, 0x5e-0x61) B1
 *   OUT 0x64 (dword) no hit (next to DR1)
 *   REP OUTSB x3 to 0x71: B0 after each element; the first two leave RIP at
 *                   the OUTSB (RCX 2, then 1), the last after it
 *   CR4.DE cleared: OUT 0x71 no hit (R/W = 10 undefined: hv never fires)
 * DR6 is B0 (0xffff0ff1) or B1 (0xffff0ff2): the trap's B bits replace the
 * last ones.
 */
__asm__(".pushsection .rodata\n.code64\n"
	"g_iodbg_start:\n"
	"	mov %cr4, %rax\n"
	"	or $0x8, %rax\n"                /* CR4.DE */
	"	mov %rax, %cr4\n"
	"	mov $0x71, %eax\n"
	"	mov %rax, %dr0\n"
	"	mov $0x61, %eax\n"
	"	mov %rax, %dr1\n"
	"	mov $0xe20405, %eax\n"          /* L0 L1, R/W0 = 10, R/W1 = 10 LEN1 = 11 */
	"	mov %rax, %dr7\n"
	"	out %al, $0x70\n"
	"	out %al, $0x71\n"
	"iodbg_after_out71:\n"
	"	mov $0x62, %edx\n"
	"	in (%dx), %ax\n"
	"iodbg_after_in62:\n"
	"	mov $0x5e, %edx\n"
	"	in (%dx), %eax\n"
	"iodbg_after_in5e:\n"
	"	mov %eax, %ebp\n"
	"	out %eax, $0x64\n"
	"	mov $0x20900, %esi\n"
	"	mov $3, %ecx\n"
	"	mov $0x71, %edx\n"
	"iodbg_outs:\n"
	"	rep outsb\n"
	"iodbg_after_outs:\n"
	"	mov %cr4, %rax\n"
	"	and $~0x8, %rax\n"
	"	mov %rax, %cr4\n"
	"	out %al, $0x71\n"
	"	hlt\n"
	"g_iodbg_handler:\n"
	DB_LOG_HANDLER("")
	"g_iodbg_end:\n"
	".popsection\n");
BLOB(g_iodbg);
extern const uint8_t iodbg_after_out71[], iodbg_after_in62[], iodbg_after_in5e[], iodbg_outs[],
	iodbg_after_outs[], g_iodbg_handler[];

static void test_io_breakpoints(void **state)
{
	static const struct { uint16_t port; uint8_t size; bool in; } want_io[] = {
		{ 0x70, 1, false }, { 0x71, 1, false }, { 0x62, 2, true }, { 0x5e, 4, true },
		{ 0x64, 4, false }, { 0x71, 1, false }, { 0x71, 1, false }, { 0x71, 1, false },
		{ 0x71, 1, false },
	};
	const struct { const uint8_t *at; uint64_t dr6; } want[] = {
		{ iodbg_after_out71, 0xffff0ff1 },
		{ iodbg_after_in62, 0xffff0ff2 },
		{ iodbg_after_in5e, 0xffff0ff2 },
		{ iodbg_outs, 0xffff0ff1 },
		{ iodbg_outs, 0xffff0ff1 },
		{ iodbg_after_outs, 0xffff0ff1 },
	};
	uint64_t h = TVM_CODE + OFF(g_iodbg, g_iodbg_handler), gate[2];
	struct tvm *vm = vm_new("none");

	(void)state;
	load(vm, TVM_CODE, g_iodbg_start, g_iodbg_end);
	gate[0] = (h & 0xffff) | ((uint64_t)TVM_SEL_KCODE << 16) | (0x8eULL << 40) |
		  ((h >> 16 & 0xffff) << 48);
	gate[1] = h >> 32;
	tvm_write(vm, TVM_IDT + 16, gate, sizeof(gate));
	tvm_write(vm, TVM_DATA + 0x900, "abc", 3);
	for (unsigned k = 0; k < sizeof(want_io) / sizeof(want_io[0]); k++) {
		/* After an IN, run() gets the exit back with the value in it. */
		if (k > 0 && want_io[k - 1].in) {
			assert_int_equal(vm->ops->run(vm->vcpu, 100000, &vm->exit), 0);
			assert_int_equal(vm->exit.reason, VCPU_EXIT_IO);
		} else {
			expect_exit(vm, VCPU_EXIT_IO);
		}
		assert_int_equal(vm->exit.io.port, want_io[k].port);
		assert_int_equal(vm->exit.io.size, want_io[k].size);
		assert_int_equal(vm->exit.io.in, want_io[k].in);
		if (want_io[k].in)
			vm->exit.io.data = 0x12345678;
	}
	expect_exit(vm, VCPU_EXIT_HLT);
	assert_int_equal(tvm_read64(vm, TVM_DATA), 6);
	for (unsigned k = 0; k < 6; k++) {
		assert_int_equal(tvm_read64(vm, TVM_DATA + 8 + 16 * k),
				 TVM_CODE + (uint64_t)(want[k].at - g_iodbg_start));
		assert_int_equal(tvm_read64(vm, TVM_DATA + 16 + 16 * k), want[k].dr6);
	}
	assert_int_equal(regs(vm).gpr[5], 0x12345678);  /* the IN's value */
	assert_int_equal(regs(vm).gpr[1], 0);
	tvm_destroy(vm);
}

/* ------------------------------------------------------------------------ */
/* CPUID, MMU counts                                                         */
/* ------------------------------------------------------------------------ */

__asm__(".pushsection .rodata\n.code64\n"
	"g_cpuid_start:\n"
	"	mov $-1, %rbx\n"
	"	mov $-1, %rcx\n"
	"	mov $-1, %rdx\n"
	"	movabs $0x80000001, %rax\n"
	"	cpuid\n"
	"	hlt\n"
	"g_cpuid_end:\n"
	/* One load and one store to a page no one has touched, then HLT. */
	"g_mmu_start:\n"
	"	mov $0x300000, %eax\n"
	"	mov (%rax), %rbx\n"
	"	mov %rbx, 8(%rax)\n"
	"	hlt\n"
	"g_mmu_end:\n"
	/* Two loads from one page. */
	"g_tlb_start:\n"
	"	mov $0x300000, %eax\n"
	"	mov (%rax), %rbx\n"
	"	mov 8(%rax), %rcx\n"
	"	hlt\n"
	"g_tlb_end:\n"
	".popsection\n");
BLOB(g_cpuid);
BLOB(g_mmu);
BLOB(g_tlb);

/* SDM CPUID: the 32-bit results are zero-extended into RAX..RDX; leaf
 * 80000001h EDX bit 29 (Intel 64) and bit 11 (SYSCALL/SYSRET) must be set for
 * a 64-bit CPU that runs the SYSCALL test above. */
static void test_cpuid(void **state)
{
	struct tvm *vm = vm_new("none");
	load(vm, TVM_CODE, g_cpuid_start, g_cpuid_end);
	expect_exit(vm, VCPU_EXIT_HLT);
	struct vcpu_regs r = regs(vm);
	for (int i = 0; i < 4; i++)
		assert_int_equal(r.gpr[i] >> 32, 0);
	assert_true(r.gpr[2] & (1u << 29));
	assert_true(r.gpr[2] & (1u << 11));
	tvm_destroy(vm);
}

/* translation-facts 3: with no TLB or paging-structure cache (preset
 * "none"), every translation is a full 4-level over 4-level walk of 24
 * references, and each access type is counted once per access; SDM 4.8 for
 * the accessed and dirty flags the walk leaves behind. */
static void test_mmu_counts_none(void **state)
{
	struct tvm *vm = vm_new("none");
	load(vm, TVM_CODE, g_mmu_start, g_mmu_end);
	mmu_reset_stats(vm->mmu);
	expect_exit(vm, VCPU_EXIT_HLT);
	const struct mmu_stats *st = mmu_stats(vm->mmu);
	struct vcpu_stats vs;
	vm->ops->get_stats(vm->vcpu, &vs);
	assert_int_equal(st->by_access[0], 1);  /* the load */
	assert_int_equal(st->by_access[1], 1);  /* the store */
	assert_true(st->by_access[2] >= 1);     /* fetches: at least one per page used */
	assert_int_equal(st->by_access[2], vs.fetches);
	assert_int_equal(vs.loads, 1);
	assert_int_equal(vs.stores, 1);
	assert_int_equal(st->walks, st->translations);
	assert_int_equal(st->walk_refs, 24 * st->walks);
	assert_int_equal(st->refs_hist[24], st->walks);
	assert_int_equal(st->page_faults, 0);
	/* SDM 4.8: the walk set A in every entry it used and, for the store,
	 * D in the PTE only. */
	for (unsigned level = 4; level >= 1; level--) {
		uint64_t e = tvm_read64(vm, gpt_entry_gpa(vm->gpt, 0x300000, level));
		assert_true(e & PTE_A);
		assert_int_equal(!!(e & PTE_D), level == 1);
	}
	tvm_destroy(vm);
}

/* SDM 4.10.2: the second load from a page hits the data TLB (preset
 * "skylake": L1 dTLB 4K 64 entries). */
static void test_mmu_tlb_hit(void **state)
{
	struct tvm *vm = vm_new("skylake");
	load(vm, TVM_CODE, g_tlb_start, g_tlb_end);
	mmu_reset_stats(vm->mmu);
	expect_exit(vm, VCPU_EXIT_HLT);
	const struct mmu_stats *st = mmu_stats(vm->mmu);
	assert_int_equal(st->by_access[0], 2);
	assert_int_equal(st->s[TLB_L1D_4K].misses, 1);
	assert_int_equal(st->s[TLB_L1D_4K].hits, 1);
	tvm_destroy(vm);
}

/* ------------------------------------------------------------------------ */
/* Exits                                                                     */
/* ------------------------------------------------------------------------ */

__asm__(".pushsection .rodata\n.code64\n"
	"g_io_start:\n"
	"	mov $0x3f8, %edx\n"
	"	mov $0x41, %eax\n"
	"g_io_out:\n"
	"	out %al, %dx\n"
	"g_io_in:\n"
	"	in $0x60, %al\n"
	"	mov $0xf4, %edx\n"
	"	mov $0x11223344, %eax\n"
	"g_io_outl:\n"
	"	out %eax, %dx\n"
	"g_io_hlt:\n"
	"	hlt\n"
	"g_io_end:\n"
	"g_vmcall_start:\n"
	"	mov $7, %eax\n"
	"	mov $1, %edi\n"
	"	mov $2, %esi\n"
	"	mov $3, %edx\n"
	"	mov $4, %ecx\n"
	"g_vmcall_at:\n"
	"	vmcall\n"
	"	hlt\n"
	"g_vmcall_end:\n"
	/* Store to GVA 0x300000 (identity, GPA 0x300000). */
	"g_eptv_start:\n"
	"	mov $0x300000, %eax\n"
	"g_eptv_at:\n"
	"	movq $5, (%rax)\n"
	"	hlt\n"
	"g_eptv_end:\n"
	/* Load from GVA 0x40002000, mapped to GPA 0xfee00000 (no RAM). */
	"g_mmio_start:\n"
	"	mov $0x40002000, %eax\n"
	"g_mmio_at:\n"
	"	mov 0x30(%rax), %ebx\n"
	"	hlt\n"
	"g_mmio_end:\n"
	/* An empty IDT: #UD cannot be delivered (#GP), nor can #DF: triple fault. */
	"g_triple_start:\n"
	"	pushq $0\n"
	"	pushq $0\n"
	"	lidt 6(%rsp)\n"
	"	ud2\n"
	"g_triple_end:\n"
	".popsection\n");
BLOB(g_io);
BLOB(g_vmcall);
BLOB(g_eptv);
BLOB(g_mmio);
BLOB(g_triple);
extern const uint8_t g_io_out[], g_io_in[], g_io_outl[], g_io_hlt[], g_vmcall_at[], g_eptv_at[],
	g_mmio_at[];

/* vcpu.h: port I/O exits carry port, size, direction and data; IN completes
 * with the data hv puts in exit->io.data. HLT exits at the HLT. */
static void test_port_io_and_hlt(void **state)
{
	struct tvm *vm = vm_new("none");
	load(vm, TVM_CODE, g_io_start, g_io_end);
	expect_exit(vm, VCPU_EXIT_IO);
	assert_int_equal(vm->exit.exit_reason_vmx, EXIT_REASON_IO);
	assert_int_equal(vm->exit.io.port, 0x3f8);
	assert_int_equal(vm->exit.io.size, 1);
	assert_false(vm->exit.io.in);
	assert_int_equal(vm->exit.io.data, 0x41);
	assert_int_equal(vm->exit.rip, TVM_CODE + OFF(g_io, g_io_out));

	expect_exit(vm, VCPU_EXIT_IO);
	assert_int_equal(vm->exit.io.port, 0x60);
	assert_int_equal(vm->exit.io.size, 1);
	assert_true(vm->exit.io.in);
	assert_int_equal(vm->exit.rip, TVM_CODE + OFF(g_io, g_io_in));
	vm->exit.io.data = 0x5a;
	/* run() is called again with the same exit structure: the IN completes. */
	struct vcpu_exit *e = &vm->exit;
	assert_int_equal(vm->ops->run(vm->vcpu, 100000, e), 0);
	assert_int_equal(e->reason, VCPU_EXIT_IO);
	assert_int_equal(e->io.port, 0xf4);
	assert_int_equal(e->io.size, 4);
	assert_false(e->io.in);
	assert_int_equal(e->io.data, 0x11223344);
	assert_int_equal(e->rip, TVM_CODE + OFF(g_io, g_io_outl));
	struct vcpu_regs r = regs(vm);
	assert_int_equal(r.gpr[2], 0xf4);

	expect_exit(vm, VCPU_EXIT_HLT);
	assert_int_equal(vm->exit.exit_reason_vmx, EXIT_REASON_HLT);
	assert_int_equal(vm->exit.rip, TVM_CODE + OFF(g_io, g_io_hlt));
	tvm_destroy(vm);
}

/* The IN's value arrived in AL (checked separately: the OUT above replaced EAX). */
static void test_port_in_value(void **state)
{
	static const uint8_t prog[] = { 0xe4, 0x60, 0xf4 }; /* in $0x60, %al; hlt */
	struct tvm *vm = vm_new("none");
	tvm_load_code(vm, TVM_CODE, prog, sizeof(prog));
	expect_exit(vm, VCPU_EXIT_IO);
	vm->exit.io.data = 0x5a;
	struct vcpu_exit *e = &vm->exit;
	assert_int_equal(vm->ops->run(vm->vcpu, 100000, e), 0);
	assert_int_equal(e->reason, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).gpr[0], 0x5a);
	tvm_destroy(vm);
}

/* vcpu.h: VMCALL exits with rax = nr and rdi, rsi, rdx, rcx; ret lands in RAX. */
static void test_vmcall(void **state)
{
	struct tvm *vm = vm_new("none");
	load(vm, TVM_CODE, g_vmcall_start, g_vmcall_end);
	expect_exit(vm, VCPU_EXIT_HYPERCALL);
	assert_int_equal(vm->exit.exit_reason_vmx, EXIT_REASON_VMCALL);
	assert_int_equal(vm->exit.rip, TVM_CODE + OFF(g_vmcall, g_vmcall_at));
	assert_int_equal(vm->exit.hypercall.nr, 7);
	assert_int_equal(vm->exit.hypercall.args[0], 1);
	assert_int_equal(vm->exit.hypercall.args[1], 2);
	assert_int_equal(vm->exit.hypercall.args[2], 3);
	assert_int_equal(vm->exit.hypercall.args[3], 4);
	vm->exit.hypercall.ret = 99;
	struct vcpu_exit *e = &vm->exit;
	assert_int_equal(vm->ops->run(vm->vcpu, 100000, e), 0);
	assert_int_equal(e->reason, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).gpr[0], 99);
	tvm_destroy(vm);
}

/* SDM 28.2.1, Table 28-7: a data write to a GPA whose EPT leaf is read-only,
 * through a guest linear address whose guest PTE is writable supervisor:
 * qualification = write (bit 1) | readable (3) | GLA valid (7) | access to
 * the translation (8) | guest R/W (10) = 0x58a. */
static void test_ept_violation_write(void **state)
{
	struct tvm *vm = vm_new("none");
	assert_int_equal(ept_protect(vm->ept, 0x300000, 0x1000, EPT_R), 0);
	load(vm, TVM_CODE, g_eptv_start, g_eptv_end);
	expect_exit(vm, VCPU_EXIT_EPT_VIOLATION);
	assert_int_equal(vm->exit.exit_reason_vmx, EXIT_REASON_EPT_VIOLATION);
	assert_int_equal(vm->exit.rip, TVM_CODE + OFF(g_eptv, g_eptv_at));
	assert_int_equal(vm->exit.ept.gpa, 0x300000);
	assert_int_equal(vm->exit.ept.gva, 0x300000);
	assert_int_equal(vm->exit.ept.qual, EPT_QUAL_WRITE | EPT_QUAL_READABLE | EPT_QUAL_GLA_VALID |
					       EPT_QUAL_GLA_XLATE | EPT_QUAL_GUEST_RW);
	assert_int_equal(vm->exit.ept.qual, 0x58a);
	/* Nothing was written, and RIP still points at the store. */
	assert_int_equal(tvm_read64(vm, 0x300000), 0);
	assert_int_equal(regs(vm).rip, TVM_CODE + OFF(g_eptv, g_eptv_at));
	tvm_destroy(vm);
}

/* vcpu.h: a GPA with no RAM behind it is MMIO: a 4-byte read at 0xfee00030. */
static void test_mmio_read(void **state)
{
	struct tvm *vm = vm_new("none");
	assert_int_equal(tvm_map(vm, 0x40002000, 0xfee00000, 0x1000, PTE_W), 0);
	load(vm, TVM_CODE, g_mmio_start, g_mmio_end);
	expect_exit(vm, VCPU_EXIT_MMIO);
	assert_int_equal(vm->exit.rip, TVM_CODE + OFF(g_mmio, g_mmio_at));
	assert_int_equal(vm->exit.mmio.gpa, 0xfee00030);
	assert_int_equal(vm->exit.mmio.size, 4);
	assert_false(vm->exit.mmio.write);
	vm->exit.mmio.data = 0xcafef00d;
	struct vcpu_exit *e = &vm->exit;
	assert_int_equal(vm->ops->run(vm->vcpu, 100000, e), 0);
	assert_int_equal(e->reason, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).gpr[3], 0xcafef00d);
	tvm_destroy(vm);
}

/* SDM 6.15 (interrupt 8): a fault while delivering #DF shuts the processor
 * down; in VMX non-root operation that is a VM exit with basic reason 2,
 * triple fault (SDM Vol. 3C Appendix C). Here: #UD with an empty IDT -> #GP
 * -> #DF -> triple fault. */
static void test_triple_fault(void **state)
{
	struct tvm *vm = vm_new("none");
	load(vm, TVM_CODE, g_triple_start, g_triple_end);
	expect_exit(vm, VCPU_EXIT_TRIPLE_FAULT);
	assert_int_equal(vm->exit.exit_reason_vmx, EXIT_REASON_TRIPLE_FAULT);
	tvm_destroy(vm);
}

/* ------------------------------------------------------------------------ */
/* 32-bit protected mode, paging off                                        */
/* ------------------------------------------------------------------------ */

__asm__(".pushsection .rodata\n.code32\n"
	"g_p32_start:\n"
	"	mov $5, %eax\n"
	"	add $3, %eax\n"
	"	movl $0x11223344, 0x20000\n"
	"	push %eax\n"
	"	pop %ebx\n"
	"	hlt\n"
	"g_p32_end:\n"
	".code64\n"
	".popsection\n");
BLOB(g_p32);

/* With CR0.PG = 0 a linear address is the GPA (SDM 4.1.1), and CS.D = 1
 * selects 32-bit operands and addresses. */
static void test_protected_mode_32(void **state)
{
	struct tvm *vm = vm_new("none");
	struct vcpu_sregs s;
	tvm_sregs_prot32(&s);
	assert_int_equal(tvm_set_sregs(vm, &s), 0);
	tvm_write(vm, TVM_CODE, g_p32_start, (size_t)(g_p32_end - g_p32_start));
	struct vcpu_regs r = { .rip = TVM_CODE, .rflags = RFL_FIXED };
	r.gpr[4] = TVM_STACK_TOP;
	assert_int_equal(tvm_set_regs(vm, &r), 0);
	mmu_reset_stats(vm->mmu);
	expect_exit(vm, VCPU_EXIT_HLT);
	r = regs(vm);
	assert_int_equal(r.gpr[0], 8);
	assert_int_equal(r.gpr[3], 8);
	assert_int_equal(r.gpr[4], TVM_STACK_TOP);
	assert_int_equal(tvm_read64(vm, 0x20000) & 0xffffffff, 0x11223344);
	assert_int_equal(tvm_read64(vm, TVM_STACK_TOP - 4) & 0xffffffff, 8);
	/* No guest paging: only the EPT dimension, 4 references per walk. */
	const struct mmu_stats *st = mmu_stats(vm->mmu);
	assert_int_equal(st->walk_refs, 4 * st->walks);
	tvm_destroy(vm);
}

/*
 * Instructions of 16- and 32-bit code (SDM Vol. 2): the BCD adjustments,
 * SALC, LES/LDS and the x87 control instructions, each result stored at
 * TVM_DATA + 4k:
 *   0  79 + 35, DAA: AL 0x14, CF (BCD 114)     1  35 - 47, DAS: AL 0x88, CF
 *   2  9 + 8, AAA: AX 0x0107, CF, AF           3  0x0203 - 5, AAS: AX 0x0108
 *   4  AAM of 87: AX 0x0807; AAM 16 of 0x57: AX 0x0507
 *   5  AAD of 0x0807: AX 0x0057
 *   6  SALC with CF = 1, then 0: AL 0xff, 0
 *   7  LES EBX and LDS ECX from the far pointer 0010:12345678
 *   8  FNINIT: status 0, control 0x037f; FLDCW 0x027f; FNSTSW AX
 */
__asm__(".pushsection .rodata\n.code32\n"
	"g_legacy_start:\n"
	"	mov $0x79, %al\n"
	"	add $0x35, %al\n"
	"	daa\n"
	"	setc %ah\n"
	"	mov %ax, 0x20000\n"
	"	mov $0x35, %al\n"
	"	sub $0x47, %al\n"
	"	das\n"
	"	setc %ah\n"
	"	mov %ax, 0x20004\n"
	"	mov $0x0009, %ax\n"
	"	add $0x08, %al\n"
	"	aaa\n"
	"	lahf\n"                         /* AH = SF ZF 0 AF 0 PF 1 CF */
	"	and $0x11, %ah\n"               /* AF and CF (the others are undefined) */
	"	mov %ah, 0x2000a\n"
	"	mov $0x0009, %ax\n"
	"	add $0x08, %al\n"
	"	aaa\n"
	"	mov %ax, 0x20008\n"
	"	mov $0x0203, %ax\n"
	"	sub $5, %al\n"
	"	aas\n"
	"	mov %ax, 0x2000c\n"
	"	mov $0x0057, %ax\n"
	"	aam\n"
	"	mov %ax, 0x20010\n"
	"	mov $0x0057, %ax\n"
	"	aam $16\n"
	"	mov %ax, 0x20012\n"
	"	mov $0x0807, %ax\n"
	"	aad\n"
	"	mov %ax, 0x20014\n"
	"	stc\n"
	"	.byte 0xd6\n"                 /* SALC */

	"	mov %al, 0x20018\n"
	"	clc\n"
	"	.byte 0xd6\n"                 /* SALC */

	"	mov %al, 0x20019\n"
	"	movl $0x12345678, 0x20100\n"
	"	movw $0x10, 0x20104\n"
	"	les 0x20100, %ebx\n"
	"	mov %ebx, 0x2001c\n"
	"	mov %es, %ax\n"
	"	mov %ax, 0x20020\n"
	"	lds 0x20100, %ecx\n"
	"	mov %ecx, 0x20024\n"
	"	movw $0xffff, 0x20028\n"
	"	movw $0xffff, 0x2002a\n"
	"	fninit\n"
	"	fnstsw 0x20028\n"
	"	fnstcw 0x2002a\n"
	"	movw $0x027f, 0x2002c\n"
	"	fldcw 0x2002c\n"
	"	fnstcw 0x2002e\n"
	"	mov $-1, %eax\n"
	"	fnstsw %ax\n"
	"	mov %eax, 0x20030\n"
	"	hlt\n"
	"g_legacy_end:\n"
	".code64\n"
	".popsection\n");
BLOB(g_legacy);

static void test_legacy_instructions(void **state)
{
	struct tvm *vm = vm_new("none");
	struct vcpu_sregs s;
	struct vcpu_regs r = { .rip = TVM_CODE, .rflags = RFL_FIXED };
	/* 64-bit mode: DAA is #UD; x87 arithmetic (FLD1) is #UD; with CR0.TS
	 * FNINIT is #NM. */
	static const uint8_t daa[] = { 0x27 }, fld1[] = { 0xd9, 0xe8 }, fninit[] = { 0x9b, 0xdb, 0xe3 };

	(void)state;
	tvm_sregs_prot32(&s);
	assert_int_equal(tvm_set_sregs(vm, &s), 0);
	tvm_write(vm, TVM_CODE, g_legacy_start, (size_t)(g_legacy_end - g_legacy_start));
	r.gpr[4] = TVM_STACK_TOP;
	assert_int_equal(tvm_set_regs(vm, &r), 0);
	expect_exit(vm, VCPU_EXIT_HLT);
	assert_int_equal(tvm_read64(vm, 0x20000), 0x0000018800000114ULL);       /* DAA, DAS */
	assert_int_equal(tvm_read64(vm, 0x20008), 0x0000010800110107ULL);       /* AAA (AF CF), AAS */
	assert_int_equal(tvm_read64(vm, 0x20010), 0x0000005705070807ULL);       /* AAM, AAM 16, AAD */
	assert_int_equal(tvm_read64(vm, 0x20018) & 0xffff, 0x00ff);             /* SALC */
	assert_int_equal(tvm_read64(vm, 0x2001c), 0x0000001012345678ULL);       /* LES: EBX, ES */
	assert_int_equal(tvm_read64(vm, 0x20024) & 0xffffffff, 0x12345678);     /* LDS: ECX */
	assert_int_equal(tvm_read64(vm, 0x20028), 0x027f027f037f0000ULL);       /* FNSTSW, FNSTCW, FLDCW */
	assert_int_equal(tvm_read64(vm, 0x20030) & 0xffffffff, 0xffff0000);     /* FNSTSW AX */
	tvm_destroy(vm);

	vm = vm_new("none");
	load(vm, TVM_CODE, daa, daa + sizeof(daa));
	expect_exception(vm, 6, 0, TVM_CODE, TVM_SEL_KCODE, RFL_FIXED, TVM_STACK_TOP, TVM_SEL_KDATA);
	tvm_destroy(vm);
	vm = vm_new("none");
	load(vm, TVM_CODE, fld1, fld1 + sizeof(fld1));
	expect_exception(vm, 6, 0, TVM_CODE, TVM_SEL_KCODE, RFL_FIXED, TVM_STACK_TOP, TVM_SEL_KDATA);
	tvm_destroy(vm);
	vm = vm_new("none");
	tvm_get_sregs(vm, &s);
	s.cr0 |= 1ULL << 3;   /* TS */
	assert_int_equal(tvm_set_sregs(vm, &s), 0);
	load(vm, TVM_CODE, fninit, fninit + sizeof(fninit));
	expect_exception(vm, 7, 0, TVM_CODE + 1, TVM_SEL_KCODE, RFL_FIXED, TVM_STACK_TOP, TVM_SEL_KDATA);
	tvm_destroy(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_divide_error),
		cmocka_unit_test(test_invalid_opcode),
		cmocka_unit_test(test_int3_and_int_n),
		cmocka_unit_test(test_noncanonical_gp),
		cmocka_unit_test(test_pf_write_readonly),
		cmocka_unit_test(test_pf_fetch_nx),
		cmocka_unit_test(test_pf_not_present),
		cmocka_unit_test(test_instruction_length_limit),
		cmocka_unit_test(test_smep_fetch),
		cmocka_unit_test(test_smap_read),
		cmocka_unit_test(test_wp0_supervisor_write),
		cmocka_unit_test(test_tlb_stale_until_invlpg),
		cmocka_unit_test(test_ring3_int_rsp0),
		cmocka_unit_test(test_ring3_int_ist),
		cmocka_unit_test(test_ring3_read_supervisor),
		cmocka_unit_test(test_ring3_hlt_gp),
		cmocka_unit_test(test_ring3_umip_gp),
		cmocka_unit_test(test_syscall_sysret_swapgs),
		cmocka_unit_test(test_debug_registers),
		cmocka_unit_test(test_movss_inhibits_insn_breakpoint),
		cmocka_unit_test(test_io_breakpoints),
		cmocka_unit_test(test_legacy_instructions),
		cmocka_unit_test(test_cpuid),
		cmocka_unit_test(test_mmu_counts_none),
		cmocka_unit_test(test_mmu_tlb_hit),
		cmocka_unit_test(test_port_io_and_hlt),
		cmocka_unit_test(test_port_in_value),
		cmocka_unit_test(test_vmcall),
		cmocka_unit_test(test_ept_violation_write),
		cmocka_unit_test(test_mmio_read),
		cmocka_unit_test(test_triple_fault),
		cmocka_unit_test(test_protected_mode_32),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
