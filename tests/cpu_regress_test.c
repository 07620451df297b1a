/* SPDX-License-Identifier: MIT */
/*
 * tests/cpu_regress_test.c - regression tests for the software vCPU: one
 * case per rule it once broke, each with the SDM rule beside it and exact
 * expectations. The VM comes from tests/cpu_harness.c; an exception ends in
 * the common handler, which records its frame at TVM_EXC_REC and halts.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hv/cpu/cpuid.h"
#include "hv/cpu/x86.h"
#include "tests/cpu_harness.h"
#include "tests/cpu_check.h"

#define RFL_FIXED 0x2ULL
#define RFL_CF 0x1ULL

#define EXC_DE 0
#define EXC_UD 6
#define EXC_DF 8
#define EXC_GP 13
#define EXC_PF 14

static void code(struct tvm *vm, const uint8_t *bytes, size_t len)
{
	tvm_load_code(vm, TVM_CODE, bytes, len);
}

/* ------------------------------------------------------------------------ */
/* Exception chains (SDM Vol. 3A 6.15, Table 6-5)                           */
/* ------------------------------------------------------------------------ */

/* A UD2 whose #UD gate is not present, with RSP on the unmapped page 0: the
 * start of the exception chains below. */
static struct tvm *ud_chain_vm(void)
{
	static const uint8_t ud2[] = { 0x0f, 0x0b };
	struct tvm *vm = vm_new("none");
	struct vcpu_regs r;
	uint64_t lo;

	code(vm, ud2, sizeof(ud2));
	lo = tvm_read64(vm, TVM_IDT + 16 * EXC_UD);
	tvm_write64(vm, TVM_IDT + 16 * EXC_UD, lo & ~(1ULL << 47));      /* P = 0 */
	r = regs(vm);
	r.gpr[4] = 0x1000;   /* pushes land on page 0, which is not mapped */
	set_regs(vm, &r);
	return vm;
}

/*
 * Gate 6 not present, RSP on an unmapped page, gate 8 with IST1:
 * #UD (benign) -> #NP delivering it (benign then contributory: serial) ->
 * #PF pushing #NP's frame (contributory then #PF: serial) -> #PF pushing
 * that frame (#PF then #PF: #DF) -> #DF on IST1, which works. Only a fault
 * while delivering #DF would be a triple fault.
 */
static void test_df_after_serial_chain(void **state)
{
	struct tvm *vm = ud_chain_vm();
	uint64_t lo;

	(void)state;
	lo = tvm_read64(vm, TVM_IDT + 16 * EXC_DF);
	tvm_write64(vm, TVM_IDT + 16 * EXC_DF, (lo & ~(7ULL << 32)) | (1ULL << 32)); /* IST1 */
	expect_exception_at(vm, EXC_DF, 0, TVM_CODE);
	/* The #DF frame is on the IST1 stack: SS, RSP (the unmapped one), RFLAGS, CS, RIP, error. */
	assert_int_equal(tvm_read64(vm, TVM_IST1_TOP - 8), TVM_SEL_KDATA);
	assert_int_equal(tvm_read64(vm, TVM_IST1_TOP - 16), 0x1000);
	assert_int_equal(tvm_read64(vm, TVM_IST1_TOP - 32), TVM_SEL_KCODE);
	assert_int_equal(tvm_read64(vm, TVM_IST1_TOP - 40), TVM_CODE);
	assert_int_equal(tvm_read64(vm, TVM_IST1_TOP - 48), 0);
	tvm_destroy(vm);
}

/* The same chain with gate 8 left without IST: #DF's own push faults on the
 * unmapped stack, that is the triple fault, and the diagnostic names the
 * whole chain. */
static void test_triple_fault_names_chain(void **state)
{
	struct tvm *vm = ud_chain_vm();

	(void)state;
	expect_exit(vm, VCPU_EXIT_TRIPLE_FAULT);
	assert_non_null(strstr(vm->exit.fail.msg, "while delivering #DF"));
	assert_non_null(strstr(vm->exit.fail.msg, "#UD -> #NP -> #PF -> #DF"));
	tvm_destroy(vm);
}

/* ------------------------------------------------------------------------ */
/* MMIO accesses split over two device pages (docs/softcpu.md, exits)       */
/* ------------------------------------------------------------------------ */

#define SPLIT_GVA 0x40000000ULL   /* two pages, each over its own device GPA */
#define DEV_A     0xc0000000ULL
#define DEV_B     0xd0000000ULL

static struct tvm *vm_split_mmio(const uint8_t *bytes, size_t len)
{
	struct tvm *vm = vm_new("none");

	/* Above TVM_RAM_SIZE, so device windows (the harness registers none:
	 * every GPA past RAM is one). */
	assert_int_equal(tvm_map(vm, SPLIT_GVA, DEV_A, 0x1000, PTE_W), 0);
	assert_int_equal(tvm_map(vm, SPLIT_GVA + 0x1000, DEV_B, 0x1000, PTE_W), 0);
	code(vm, bytes, len);
	return vm;
}

static void run_once(struct tvm *vm)
{
	assert_int_equal(vm->ops->run(vm->vcpu, 100000, &vm->exit), 0);
}

/* mov rax, [SPLIT_GVA + 0xffc]: two MMIO read exits, then it retires with
 * both values (the first survives the second piece's exit). */
static void test_mmio_read_split(void **state)
{
	static const uint8_t prog[] = { 0x48, 0x8b, 0x04, 0x25, 0xfc, 0x0f, 0x00, 0x40, 0xf4 };
	struct tvm *vm = vm_split_mmio(prog, sizeof(prog));

	(void)state;
	run_once(vm);
	assert_int_equal(vm->exit.reason, VCPU_EXIT_MMIO);
	assert_int_equal(vm->exit.rip, TVM_CODE);
	assert_int_equal(vm->exit.mmio.gpa, DEV_A + 0xffc);
	assert_int_equal(vm->exit.mmio.size, 4);
	assert_false(vm->exit.mmio.write);
	vm->exit.mmio.data = 0x11223344;
	run_once(vm);
	assert_int_equal(vm->exit.reason, VCPU_EXIT_MMIO);
	assert_int_equal(vm->exit.rip, TVM_CODE);
	assert_int_equal(vm->exit.mmio.gpa, DEV_B);
	assert_int_equal(vm->exit.mmio.size, 4);
	assert_false(vm->exit.mmio.write);
	vm->exit.mmio.data = 0x55667788;
	run_once(vm);
	assert_int_equal(vm->exit.reason, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).gpr[0], 0x5566778811223344ULL);
	assert_int_equal(regs(vm).rip, TVM_CODE + sizeof(prog));
	tvm_destroy(vm);
}

/*
 * repe cmpsb with both strings in MMIO (RSI on DEV_A, RDI on DEV_B, RCX 2):
 * each element is two MMIO read exits, first operand then second, and the
 * first value survives the second's exit; then the instruction goes on. It
 * used to ask for the first operand again after the second, for ever.
 */
static void test_mmio_cmps_two_loads(void **state)
{
	static const uint8_t prog[] = {
		0xbe, 0x00, 0x00, 0x00, 0x40,   /* mov esi, SPLIT_GVA */
		0xbf, 0x00, 0x10, 0x00, 0x40,   /* mov edi, SPLIT_GVA + 0x1000 */
		0xb9, 0x02, 0x00, 0x00, 0x00,   /* mov ecx, 2 */
		0xf3, 0xa6,                     /* repe cmpsb */
		0xf4,
	};
	const uint64_t want[4] = { DEV_A, DEV_B, DEV_A + 1, DEV_B + 1 };
	struct tvm *vm = vm_split_mmio(prog, sizeof(prog));
	struct vcpu_regs r;

	(void)state;
	for (unsigned i = 0; i < 4; i++) {
		run_once(vm);
		assert_int_equal(vm->exit.reason, VCPU_EXIT_MMIO);
		assert_int_equal(vm->exit.rip, TVM_CODE + 15);
		assert_int_equal(vm->exit.mmio.gpa, want[i]);
		assert_int_equal(vm->exit.mmio.size, 1);
		assert_false(vm->exit.mmio.write);
		vm->exit.mmio.data = 0x5a;
	}
	run_once(vm);
	assert_int_equal(vm->exit.reason, VCPU_EXIT_HLT);
	r = regs(vm);
	assert_int_equal(r.gpr[1], 0);
	assert_int_equal(r.gpr[6], SPLIT_GVA + 2);
	assert_int_equal(r.gpr[7], SPLIT_GVA + 0x1002);
	assert_int_equal(r.rflags & 0x40, 0x40);   /* ZF: equal */
	tvm_destroy(vm);
}

/*
 * A far pointer in MMIO (offset, then selector, on DEV_A): JMP far [mem]
 * (FF /5) and LFS make two MMIO read exits, offset then selector, and the
 * offset survives the selector's exit; then the instruction completes. Both
 * used to ask for the offset again after the selector, for ever.
 */
static void test_mmio_farptr_two_loads(void **state)
{
	static const uint8_t prog[] = {
		0x0f, 0xb4, 0x04, 0x25, 0x00, 0x00, 0x00, 0x40,  /* lfs eax, [SPLIT_GVA] */
		0xff, 0x2c, 0x25, 0x00, 0x00, 0x00, 0x40,        /* jmp far dword [SPLIT_GVA] */
		0xf4,                                            /* not reached */
		0xf4,                                            /* +16: the far target */
	};
	static const struct { uint64_t rip, gpa, data; uint8_t size; } want[4] = {
		{ TVM_CODE, DEV_A, 0x12345678, 4 },
		{ TVM_CODE, DEV_A + 4, TVM_SEL_KDATA, 2 },
		{ TVM_CODE + 8, DEV_A, TVM_CODE + 16, 4 },
		{ TVM_CODE + 8, DEV_A + 4, TVM_SEL_KCODE, 2 },
	};
	struct tvm *vm = vm_split_mmio(prog, sizeof(prog));
	struct vcpu_sregs sr;

	(void)state;
	for (unsigned i = 0; i < 4; i++) {
		run_once(vm);
		assert_int_equal(vm->exit.reason, VCPU_EXIT_MMIO);
		assert_int_equal(vm->exit.rip, want[i].rip);
		assert_int_equal(vm->exit.mmio.gpa, want[i].gpa);
		assert_int_equal(vm->exit.mmio.size, want[i].size);
		assert_false(vm->exit.mmio.write);
		vm->exit.mmio.data = want[i].data;
	}
	run_once(vm);
	assert_int_equal(vm->exit.reason, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).rip, TVM_CODE + 17);
	assert_int_equal(regs(vm).gpr[0], 0x12345678);
	assert_int_equal(tvm_get_sregs(vm, &sr), 0);
	assert_int_equal(sr.fs.selector, TVM_SEL_KDATA);
	assert_int_equal(sr.cs.selector, TVM_SEL_KCODE);
	tvm_destroy(vm);
}

/* mov [SPLIT_GVA + 0xffc], rax: both pieces of the store reach hv, in
 * order, each with its own exit, before the guest runs on. */
static void test_mmio_write_split(void **state)
{
	static const uint8_t prog[] = { 0x48, 0x89, 0x04, 0x25, 0xfc, 0x0f, 0x00, 0x40, 0xf4 };
	struct tvm *vm = vm_split_mmio(prog, sizeof(prog));
	struct vcpu_regs r = regs(vm);

	(void)state;
	r.gpr[0] = 0x8877665544332211ULL;
	set_regs(vm, &r);
	run_once(vm);
	assert_int_equal(vm->exit.reason, VCPU_EXIT_MMIO);
	assert_int_equal(vm->exit.rip, TVM_CODE);
	assert_true(vm->exit.mmio.write);
	assert_int_equal(vm->exit.mmio.gpa, DEV_A + 0xffc);
	assert_int_equal(vm->exit.mmio.size, 4);
	assert_int_equal(vm->exit.mmio.data, 0x44332211);
	run_once(vm);
	assert_int_equal(vm->exit.reason, VCPU_EXIT_MMIO);
	assert_int_equal(vm->exit.rip, TVM_CODE);
	assert_true(vm->exit.mmio.write);
	assert_int_equal(vm->exit.mmio.gpa, DEV_B);
	assert_int_equal(vm->exit.mmio.size, 4);
	assert_int_equal(vm->exit.mmio.data, 0x88776655);
	run_once(vm);
	assert_int_equal(vm->exit.reason, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).rip, TVM_CODE + sizeof(prog));
	tvm_destroy(vm);
}

/* ------------------------------------------------------------------------ */
/* System instructions                                                       */
/* ------------------------------------------------------------------------ */

/* Ring 3 with the user selectors, RIP at TVM_UCODE, RSP in the user data. */
static struct tvm *vm_user(const uint8_t *bytes, size_t len)
{
	struct tvm *vm = vm_new("none");
	struct vcpu_sregs sr;
	struct vcpu_regs r;

	tvm_sregs_long64(vm, &sr);
	sr.cs.selector = TVM_SEL_UCODE | 3;
	sr.cs.dpl = 3;
	sr.ss.selector = TVM_SEL_UDATA | 3;
	sr.ss.dpl = 3;
	assert_int_equal(tvm_set_sregs(vm, &sr), 0);
	tvm_write_gva(vm, TVM_UCODE, bytes, len);
	memset(&r, 0, sizeof(r));
	r.rip = TVM_UCODE;
	r.rflags = RFL_FIXED;
	r.gpr[4] = TVM_USER_END;
	set_regs(vm, &r);
	return vm;
}

/* SDM CLAC, STAC: "#UD If ... CPL > 0", not #GP. */
static void test_stac_clac_cpl3_ud(void **state)
{
	static const uint8_t stac[] = { 0x0f, 0x01, 0xcb }, clac[] = { 0x0f, 0x01, 0xca };
	struct tvm *vm;

	(void)state;
	vm = vm_user(stac, sizeof(stac));
	expect_exception_at(vm, EXC_UD, 0, TVM_UCODE);
	tvm_destroy(vm);
	vm = vm_user(clac, sizeof(clac));
	expect_exception_at(vm, EXC_UD, 0, TVM_UCODE);
	tvm_destroy(vm);
}

/* SDM Vol. 4 Table 2-2: IA32_SYSENTER_CS/ESP/EIP (0x174-0x176) are readable
 * and writable on a 64-bit processor; a non-canonical ESP or EIP is #GP(0).
 * WRMSR 0x174 <- 0x1234, WRMSR 0x176 <- 0x12345678, read both back into EBX
 * and EAX; then WRMSR 0x175 <- 0x0100000000000000, not canonical even at
 * the 57 bits the processor supports (the width WRMSR checks, whatever
 * CR4.LA57 is: 0x0000800000000000 is accepted with CR4.LA57 = 0). */
static void test_sysenter_msrs(void **state)
{
	static const uint8_t prog[] = {
		0xb9, 0x74, 0x01, 0x00, 0x00, 0xb8, 0x34, 0x12, 0x00, 0x00, 0x31, 0xd2, 0x0f, 0x30,
		0xb9, 0x76, 0x01, 0x00, 0x00, 0xb8, 0x78, 0x56, 0x34, 0x12, 0x0f, 0x30,
		0xb9, 0x74, 0x01, 0x00, 0x00, 0x0f, 0x32, 0x89, 0xc3,
		0xb9, 0x76, 0x01, 0x00, 0x00, 0x0f, 0x32, 0xf4,
	};
	static const uint8_t bad[] = {
		0xb9, 0x75, 0x01, 0x00, 0x00, 0x31, 0xc0, 0xba, 0x00, 0x00, 0x00, 0x01,
		0x0f, 0x30, 0xf4,
	};
	static const uint8_t wide[] = {
		0xb9, 0x75, 0x01, 0x00, 0x00, 0x31, 0xc0, 0xba, 0x00, 0x80, 0x00, 0x00,
		0x0f, 0x30, 0xf4,
	};
	struct tvm *vm = vm_new("none");

	(void)state;
	code(vm, prog, sizeof(prog));
	expect_exit(vm, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).gpr[3], 0x1234);
	assert_int_equal(regs(vm).gpr[0], 0x12345678);
	assert_int_equal(regs(vm).gpr[2], 0);
	tvm_destroy(vm);

	vm = vm_new("none");
	code(vm, bad, sizeof(bad));
	expect_exception_at(vm, EXC_GP, 0, TVM_CODE + sizeof(bad) - 3);
	tvm_destroy(vm);
	vm = vm_new("none");
	code(vm, wide, sizeof(wide));
	expect_exit(vm, VCPU_EXIT_HLT);
	{
		struct tvm_exc_record rec;

		tvm_exc_record(vm, &rec);
		assert_int_equal(rec.count, 0);
	}
	tvm_destroy(vm);
}

/* SDM Vol. 3B 16.3.1.1: IA32_MCG_CAP (0x179) reads 0 banks here and is
 * read-only: RDMSR gives EDX:EAX = 0, WRMSR is #GP(0). */
static void test_mcg_cap(void **state)
{
	static const uint8_t prog[] = {
		0xb8, 0x11, 0x00, 0x00, 0x00, 0xba, 0x22, 0x00, 0x00, 0x00,
		0xb9, 0x79, 0x01, 0x00, 0x00, 0x0f, 0x32, 0xf4, 0x0f, 0x30, 0xf4,
	};
	struct tvm *vm = vm_new("none");

	(void)state;
	code(vm, prog, sizeof(prog));
	expect_exit(vm, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).gpr[0], 0);
	assert_int_equal(regs(vm).gpr[2], 0);
	expect_exception_at(vm, EXC_GP, 0, TVM_CODE + 18);
	tvm_destroy(vm);
}

/*
 * No performance counters (CPUID leaf 0AH is zero): RDPMC is #GP(0) for any
 * ECX (SDM Vol. 2B RDPMC). CLFLUSH, CLFLUSHOPT and CLWB check their line as
 * a read: on the unmapped page 0 each is a #PF with error code 0 (not
 * present, read, supervisor); on a mapped line they do nothing visible.
 * 0F AE /6 with memory and no 66 (XSAVEOPT) stays #UD.
 */
static void test_rdpmc_cache_lines(void **state)
{
	static const uint8_t rdpmc[] = { 0x31, 0xc9, 0x0f, 0x33, 0xf4 };   /* xor ecx, ecx; rdpmc */
	static const uint8_t lines[][10] = {
		{ 0x0f, 0xae, 0x3c, 0x25, 0x08, 0x00, 0x00, 0x00 },            /* clflush [8] */
		{ 0x66, 0x0f, 0xae, 0x3c, 0x25, 0x08, 0x00, 0x00, 0x00 },      /* clflushopt [8] */
		{ 0x66, 0x0f, 0xae, 0x34, 0x25, 0x08, 0x00, 0x00, 0x00 },      /* clwb [8] */
	};
	/* clflush [0x20000]; clwb [0x20040]; hlt; xsaveopt [0x20000] */
	static const uint8_t mapped[] = {
		0x0f, 0xae, 0x3c, 0x25, 0x00, 0x00, 0x02, 0x00,
		0x66, 0x0f, 0xae, 0x34, 0x25, 0x40, 0x00, 0x02, 0x00, 0xf4,
		0x0f, 0xae, 0x34, 0x25, 0x00, 0x00, 0x02, 0x00,
	};
	struct tvm *vm;

	(void)state;
	vm = vm_new("none");
	code(vm, rdpmc, sizeof(rdpmc));
	expect_exception_at(vm, EXC_GP, 0, TVM_CODE + 2);
	tvm_destroy(vm);
	for (unsigned i = 0; i < 3; i++) {
		vm = vm_new("none");
		code(vm, lines[i], sizeof(lines[i]));
		expect_exception_at(vm, EXC_PF, 0, TVM_CODE);
		tvm_destroy(vm);
	}
	vm = vm_new("none");
	code(vm, mapped, sizeof(mapped));
	expect_exit(vm, VCPU_EXIT_HLT);
	assert_int_equal(vm->exit.rip, TVM_CODE + 17);
	expect_exception_at(vm, EXC_UD, 0, TVM_CODE + 18);
	tvm_destroy(vm);
}

/*
 * A CPU model without PCID, INVPCID, RDTSCP and NX, and with a 36-bit
 * MAXPHYADDR (hv run --cpu -pcid,-invpcid,-rdtscp,-nx,phys-bits=36): CPUID
 * stops reporting them and the vCPU faults as such a processor does.
 */
static void test_cpu_model(void **state)
{
	/* cpuid(1); hlt; cpuid(7); hlt; cpuid(0x80000001); hlt; cpuid(0x80000008); hlt */
	static const uint8_t ids[] = {
		0xb8, 0x01, 0x00, 0x00, 0x00, 0x31, 0xc9, 0x0f, 0xa2, 0xf4,
		0xb8, 0x07, 0x00, 0x00, 0x00, 0x31, 0xc9, 0x0f, 0xa2, 0xf4,
		0xb8, 0x01, 0x00, 0x00, 0x80, 0x0f, 0xa2, 0xf4,
		0xb8, 0x08, 0x00, 0x00, 0x80, 0x0f, 0xa2, 0xf4,
	};
	/* mov rax, cr4; bts rax, 17; mov cr4, rax (PCIDE) */
	static const uint8_t pcide[] = { 0x0f, 0x20, 0xe0, 0x48, 0x0f, 0xba, 0xe8, 0x11, 0x0f, 0x22, 0xe0, 0xf4 };
	/* invpcid rax, [rsp] */
	static const uint8_t invpcid[] = { 0x66, 0x0f, 0x38, 0x82, 0x04, 0x24, 0xf4 };
	/* rdtscp */
	static const uint8_t rdtscp[] = { 0x0f, 0x01, 0xf9, 0xf4 };
	/* mov ecx, 0xc0000080; rdmsr; bts eax, 11; wrmsr (EFER.NXE) */
	static const uint8_t nxe[] = { 0xb9, 0x80, 0x00, 0x00, 0xc0, 0x0f, 0x32, 0x0f, 0xba, 0xe8, 0x0b,
				       0x0f, 0x30, 0xf4 };
	/* mov rax, cr3; bts rax, 40; mov cr3, rax */
	static const uint8_t cr3[] = { 0x0f, 0x20, 0xd8, 0x48, 0x0f, 0xba, 0xe8, 0x28, 0x0f, 0x22, 0xd8, 0xf4 };
	const uint64_t off = (1ULL << CPUF_PCID) | (1ULL << CPUF_INVPCID) | (1ULL << CPUF_RDTSCP) |
			     (1ULL << CPUF_NX);
	struct tvm *vm = NULL;

	(void)state;
	assert_int_equal(tvm_create_cpu("none", off, 36, &vm), 0);
	code(vm, ids, sizeof(ids));
	expect_exit(vm, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).gpr[1], (1u << 13) | (1u << 23) | (1u << 31));  /* CX16 POPCNT hypervisor */
	expect_exit(vm, VCPU_EXIT_HLT);
	/* BMI1 SMEP ERMS SMAP CLFLUSHOPT CLWB, no INVPCID */
	assert_int_equal(regs(vm).gpr[3], (1u << 3) | (1u << 7) | (1u << 9) | (1u << 20) | (1u << 23) | (1u << 24));
	expect_exit(vm, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).gpr[2], (1u << 11) | (1u << 26) | (1u << 29));  /* no NX, RDTSCP */
	expect_exit(vm, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).gpr[0], 36 | (57u << 8));
	tvm_destroy(vm);

	const struct { const uint8_t *p; size_t n; unsigned vec; uint64_t rip; } cases[] = {
		{ pcide, sizeof(pcide), EXC_GP, TVM_CODE + 8 },
		{ invpcid, sizeof(invpcid), EXC_UD, TVM_CODE },
		{ rdtscp, sizeof(rdtscp), EXC_UD, TVM_CODE },
		{ nxe, sizeof(nxe), EXC_GP, TVM_CODE + 11 },
		{ cr3, sizeof(cr3), EXC_GP, TVM_CODE + 8 },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(tvm_create_cpu("none", off, 36, &vm), 0);
		code(vm, cases[i].p, cases[i].n);
		expect_exception_at(vm, cases[i].vec, 0, cases[i].rip);
		tvm_destroy(vm);
		/* The same code with the default model does not fault there (the
		 * CR3 case would go on to fetch through tables at GPA 2^40). */
		if (cases[i].p == cr3)
			continue;
		vm = vm_new("none");
		code(vm, cases[i].p, cases[i].n);
		expect_exit(vm, VCPU_EXIT_HLT);
		{
			struct tvm_exc_record rec;

			tvm_exc_record(vm, &rec);
			assert_int_equal(rec.count, 0);
		}
		tvm_destroy(vm);
	}
}

/*
 * The vendor: CPUID leaves 0, 1, 7, 80000000H and 80000001H, exactly, on
 * hv's default model (GenuineIntel) and on `Opteron_G1,vendor=AuthenticAMD`
 * (what kvm-unit-tests' syscall entry asks QEMU for). AMD repeats the vendor
 * string in 80000000H (APM Fn8000_0000_E[B,C,D]X) and the leaf-1 EDX bits in
 * 80000001H EDX (Fn8000_0001_EDX); Intel reserves both (SDM CPUID).
 */
static void test_vendor_cpuid(void **state)
{
	static const uint32_t leaves[] = { 0, 1, 7, 0x80000000, 0x80000001 };
	/* Leaf 1 EDX: PSE TSC MSR PAE CX8 PGE CMOV PAT (APIC needs hv's local
	 * APIC, which this VM leaves out), then CLFLUSH, which AMD does not
	 * repeat. */
	const uint32_t edx1 = (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) | (1u << 13) |
			      (1u << 15) | (1u << 16) | (1u << 23) | (1u << 24);   /* ... MMX FXSR */
	const uint32_t sse = (1u << 25) | (1u << 26);   /* SSE SSE2, which AMD does not repeat */
	const uint32_t clfsh = 1u << 19, ext_ecx = (1u << 0) | (1u << 5);  /* LAHF-LM ABM */
	const uint32_t syscall = 1u << 11, nx = 1u << 20, gb = 1u << 26, rdtscp = 1u << 27,
		       lm = 1u << 29;
	/* "GenuineIntel", "AuthenticAMD" as EBX, EDX, ECX */
	const uint32_t gi[3] = { 0x756e6547, 0x49656e69, 0x6c65746e };
	const uint32_t aa[3] = { 0x68747541, 0x69746e65, 0x444d4163 };
	const uint32_t want[2][5][4] = {  /* EAX EBX ECX EDX */
		{ { 7, gi[0], gi[2], gi[1] },
		  { 0x000806c1, 0x800, (1u << 13) | (1u << 17) | (1u << 23) | (1u << 31), edx1 | clfsh | sse },
		  { 0, (1u << 3) | (1u << 7) | (1u << 9) | (1u << 10) | (1u << 20) | (1u << 23) | (1u << 24),
		    (1u << 2) | (1u << 3) | (1u << 16) | (1u << 31), 0 },
		  { 0x80000008, 0, 0, 0 },
		  { 0, 0, ext_ecx, syscall | nx | gb | rdtscp | lm } },
		/* Family 15, model 6, stepping 1; CX16 POPCNT hypervisor (no PCID);
		 * leaf 7: BMI1 ERMS CLFLUSHOPT CLWB (no SMEP, INVPCID, SMAP, UMIP,
		 * PKU, LA57, PKS); no RDTSCP. */
		{ { 7, aa[0], aa[2], aa[1] },
		  { 0x00000f61, 0x800, (1u << 13) | (1u << 23) | (1u << 31), edx1 | clfsh | sse },
		  { 0, (1u << 3) | (1u << 9) | (1u << 23) | (1u << 24), 0, 0 },
		  { 0x80000008, aa[0], aa[2], aa[1] },
		  { 0, 0, ext_ecx, edx1 | syscall | nx | gb | lm } },
	};
	struct cpu_model amd = { 0 };
	char why[128];
	uint8_t prog[5 * 10];

	(void)state;
	/* mov eax, leaf; xor ecx, ecx; cpuid; hlt */
	for (unsigned i = 0; i < 5; i++) {
		uint8_t *p = prog + 10 * i;

		p[0] = 0xb8;
		memcpy(p + 1, &leaves[i], 4);
		p[5] = 0x31, p[6] = 0xc9, p[7] = 0x0f, p[8] = 0xa2, p[9] = 0xf4;
	}
	assert_int_equal(cpu_model_parse("Opteron_G1,vendor=AuthenticAMD", &amd, why, sizeof(why)), 0);
	assert_int_equal(amd.vendor, CPU_VENDOR_AMD);
	for (unsigned v = 0; v < 2; v++) {
		struct tvm *vm = NULL;

		if (v == 0)
			vm = vm_new("none");
		else
			assert_int_equal(tvm_create_model("none", &amd, &vm), 0);
		code(vm, prog, sizeof(prog));
		for (unsigned i = 0; i < 5; i++) {
			struct vcpu_regs r;

			expect_exit(vm, VCPU_EXIT_HLT);
			r = regs(vm);
			assert_int_equal(r.gpr[0], want[v][i][0]);
			assert_int_equal(r.gpr[3], want[v][i][1]);
			assert_int_equal(r.gpr[1], want[v][i][2]);
			assert_int_equal(r.gpr[2], want[v][i][3]);
		}
		tvm_destroy(vm);
	}
}

/* The model names and vendors --cpu takes, and what it refuses. */
static void test_vendor_parse(void **state)
{
	struct cpu_model m = { 0 };
	char why[160];

	(void)state;
	assert_int_equal(cpu_model_parse("max,vendor=AuthenticAMD", &m, why, sizeof(why)), 0);
	assert_int_equal(m.vendor, CPU_VENDOR_AMD);
	assert_int_equal(m.signature, 0);
	assert_int_equal(m.off, 0);
	assert_int_equal(cpu_model_parse("vendor=GenuineIntel", &m, why, sizeof(why)), 0);
	assert_int_equal(m.vendor, CPU_VENDOR_INTEL);
	memset(&m, 0, sizeof(m));
	assert_int_equal(cpu_model_parse("IvyBridge,phys-bits=36", &m, why, sizeof(why)), 0);
	assert_int_equal(m.vendor, CPU_VENDOR_INTEL);
	assert_int_equal(m.signature, 0x000306a9);
	assert_int_equal(m.phys_bits, 36);
	assert_int_equal(m.off, (1ULL << CPUF_PCID) | (1ULL << CPUF_INVPCID) | (1ULL << CPUF_SMAP) |
				(1ULL << CPUF_UMIP) | (1ULL << CPUF_PKU) | (1ULL << CPUF_LA57) |
				(1ULL << CPUF_PKS));
	memset(&m, 0, sizeof(m));
	assert_int_equal(cpu_model_parse("Opteron_G1,+rdtscp", &m, why, sizeof(why)), 0);
	assert_int_equal(m.vendor, CPU_VENDOR_AMD);
	assert_int_equal((m.off >> CPUF_RDTSCP) & 1, 0);
	assert_int_equal((m.off >> CPUF_X2APIC) & 1, 1);
	assert_int_equal(cpu_model_parse("max,vendor=CyrixInstead", &m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "GenuineIntel or AuthenticAMD"));
	assert_int_equal(cpu_model_parse("Skylake-Server", &m, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "not a CPU model hv has"));
	assert_string_equal(cpu_vendor_name(CPU_VENDOR_AMD), "AuthenticAMD");
	assert_string_equal(cpu_vendor_name(CPU_VENDOR_INTEL), "GenuineIntel");
}

/*
 * SYSCALL from compatibility mode. Ring 0 sets EFER.SCE, STAR (SYSRET base
 * 0x18, SYSCALL CS 0x08) and IA32_CSTAR, and IRETQs to 32-bit ring-3 code
 * (CS 0x1b) at TVM_UCODE: SYSCALL, then INT 0x80. The SDM's SYSCALL is #UD
 * unless CS.L = 1 and EFER.LMA = 1: on Intel the #UD is at the SYSCALL. The
 * APM's goes through IA32_CSTAR to 64-bit ring 0 with RCX = the 32-bit
 * return address; the entry stores RCX and CS at TVM_DATA and SYSRETLs
 * (CS = STAR[63:48] | 3) back to the INT 0x80.
 */
__asm__(".pushsection .rodata\n.code64\n"
	"rg_sysc_start:\n"
	"	mov $0xc0000080, %ecx\n"
	"	rdmsr\n"
	"	or $1, %eax\n"
	"	wrmsr\n"
	"	mov $0xc0000081, %ecx\n"
	"	xor %eax, %eax\n"
	"	mov $0x00180008, %edx\n"
	"	wrmsr\n"
	"	mov $0xc0000083, %ecx\n"
	"	lea rg_sysc_entry(%rip), %rax\n"
	"	mov %rax, %rdx\n"
	"	shr $32, %rdx\n"
	"	wrmsr\n"
	"	pushq $0x23\n"
	"	pushq $0x41000\n"
	"	pushq $0x2\n"
	"	pushq $0x1b\n"
	"	pushq $0x30000\n"
	"	iretq\n"
	"rg_sysc_entry:\n"
	"	mov %rcx, 0x20000\n"
	"	mov %cs, %rbx\n"
	"	mov %rbx, 0x20008\n"
	"	mov %r11, 0x20010\n"
	"	sysretl\n"
	"rg_sysc_end:\n"
	".code32\n"
	"ru_sysc_start:\n"
	"	syscall\n"
	"ru_sysc_ret:\n"
	"	int $0x80\n"
	"ru_sysc_end:\n"
	".code64\n"
	".popsection\n");
extern const uint8_t rg_sysc_start[], rg_sysc_end[], ru_sysc_start[], ru_sysc_ret[], ru_sysc_end[];

static void test_syscall_compat_vendor(void **state)
{
	const struct cpu_model amd = { .vendor = CPU_VENDOR_AMD };
	struct tvm_exc_record rec;
	struct tvm *vm = NULL;

	(void)state;
	for (unsigned v = 0; v < 2; v++) {
		if (v == 0)
			vm = vm_new("none");
		else
			assert_int_equal(tvm_create_model("none", &amd, &vm), 0);
		tvm_write_gva(vm, TVM_UCODE, ru_sysc_start, (size_t)(ru_sysc_end - ru_sysc_start));
		tvm_write64(vm, TVM_DATA, 0);
		tvm_load_code(vm, TVM_CODE, rg_sysc_start, (size_t)(rg_sysc_end - rg_sysc_start));
		expect_exit(vm, VCPU_EXIT_HLT);
		tvm_exc_record(vm, &rec);
		assert_int_equal(rec.count, 1);
		assert_int_equal(rec.cs, TVM_SEL_UCODE32 | 3);
		if (v == 0) {
			assert_int_equal(rec.vector, EXC_UD);
			assert_int_equal(rec.rip, TVM_UCODE);
			assert_int_equal(tvm_read64(vm, TVM_DATA), 0);
		} else {
			assert_int_equal(rec.vector, 0x80);
			assert_int_equal(rec.rip, TVM_UCODE + (uint64_t)(ru_sysc_end - ru_sysc_start));
			assert_int_equal(tvm_read64(vm, TVM_DATA),
					 TVM_UCODE + (uint64_t)(ru_sysc_ret - ru_sysc_start));
			assert_int_equal(tvm_read64(vm, TVM_DATA + 8), TVM_SEL_KCODE);
			assert_int_equal(tvm_read64(vm, TVM_DATA + 16), RFL_FIXED);
		}
		tvm_destroy(vm);
	}
}

/*
 * AMD's legacy performance counters (APM Vol. 2 13.2.1: PerfEvtSel0-3 at
 * C001_0000h, PerfCtr0-3 at C001_0004h, on every AMD64 processor, 48-bit
 * counters) and RDPMC reading them (APM Vol. 3 RDPMC, ECX 0-3). On hv's
 * Intel model, with no PMU in CPUID leaf 0AH, the MSRs do not exist: #GP(0).
 * WRMSR C001_0004h <- 0x0123456789abcdef; RDPMC(0); HLT.
 */
static void test_amd_perf_counters(void **state)
{
	static const uint8_t prog[] = {
		0xb9, 0x04, 0x00, 0x01, 0xc0,   /* mov ecx, 0xc0010004 */
		0xb8, 0xef, 0xcd, 0xab, 0x89,   /* mov eax, 0x89abcdef */
		0xba, 0x67, 0x45, 0x23, 0x01,   /* mov edx, 0x01234567 */
		0x0f, 0x30,                     /* wrmsr */
		0x31, 0xc9,                     /* xor ecx, ecx */
		0x0f, 0x33,                     /* rdpmc */
		0xf4,
	};
	const struct cpu_model amd = { .vendor = CPU_VENDOR_AMD };
	struct tvm *vm = vm_new("none");

	(void)state;
	code(vm, prog, sizeof(prog));
	expect_exception_at(vm, EXC_GP, 0, TVM_CODE + 15);
	tvm_destroy(vm);
	assert_int_equal(tvm_create_model("none", &amd, &vm), 0);
	code(vm, prog, sizeof(prog));
	expect_exit(vm, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).gpr[0], 0x89abcdef);
	assert_int_equal(regs(vm).gpr[2], 0x4567);   /* bits 63:48 are not kept */
	tvm_destroy(vm);
}

/* Give the 4 KiB page at gva protection key `key` (PTE bits 62:59). */
static void set_pkey(struct tvm *vm, uint64_t gva, unsigned key)
{
	uint64_t pte = gpt_entry_gpa(vm->gpt, gva, 1);

	tvm_write64(vm, pte, (tvm_read64(vm, pte) & ~(0xfULL << 59)) | ((uint64_t)key << 59));
}

/*
 * Protection keys (SDM 4.6.2, RDPKRU, WRPKRU, IA32_PKRS). The user page
 * TVM_UDATA and the supervisor page TVM_DATA get key 1 in their PTEs.
 *
 * PKU: CR4.PKE; CPUID.7 ECX into R8 (PKU, OSPKE); a read of TVM_UDATA with
 * PKRU = 0, which fills the TLB; WRPKRU AD1 (4); RDPKRU into R9; the same
 * read again: #PF with P | PK (a supervisor read of a user page), although
 * the TLB holds the translation.
 */
static void test_protection_keys(void **state)
{
	static const uint8_t pku[] = {
		0x0f, 0x20, 0xe0, 0x48, 0x0f, 0xba, 0xe8, 0x16, 0x0f, 0x22, 0xe0,  /* CR4.PKE */
		0xb8, 0x07, 0x00, 0x00, 0x00, 0x31, 0xc9, 0x0f, 0xa2, 0x49, 0x89, 0xc8, /* cpuid(7); mov r8, rcx */
		0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x04, 0x00,                    /* mov rax, [0x40000] */
		0x31, 0xc9, 0x31, 0xd2, 0xb8, 0x04, 0x00, 0x00, 0x00, 0x0f, 0x01, 0xef, /* wrpkru AD1 */
		0x31, 0xc9, 0x0f, 0x01, 0xee, 0x49, 0x89, 0xc1,                    /* rdpkru; mov r9, rax */
		0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x04, 0x00,                    /* mov rax, [0x40000] */
		0xf4,
	};
	/* PKS: CR4.PKS; IA32_PKRS = WD1 (8); a read of TVM_DATA (allowed), a
	 * write (CR0.WP = 1: #PF with P | W | PK). */
	static const uint8_t pks[] = {
		0x0f, 0x20, 0xe0, 0x48, 0x0f, 0xba, 0xe8, 0x18, 0x0f, 0x22, 0xe0,  /* CR4.PKS */
		0xb9, 0xe1, 0x06, 0x00, 0x00, 0xb8, 0x08, 0x00, 0x00, 0x00, 0x31, 0xd2, 0x0f, 0x30,
		0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x02, 0x00,                    /* mov rax, [0x20000] */
		0x48, 0xc7, 0x04, 0x25, 0x00, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, /* mov qword [0x20000], 1 */
		0xf4,
	};
	/* RDPKRU with CR4.PKE = 0: #UD. */
	static const uint8_t rd_nopke[] = { 0x31, 0xc9, 0x0f, 0x01, 0xee, 0xf4 };
	/* CR4.PKE, then WRPKRU with ECX = 1: #GP(0). */
	static const uint8_t wr_ecx[] = {
		0x0f, 0x20, 0xe0, 0x48, 0x0f, 0xba, 0xe8, 0x16, 0x0f, 0x22, 0xe0,
		0xb9, 0x01, 0x00, 0x00, 0x00, 0x31, 0xd2, 0x31, 0xc0, 0x0f, 0x01, 0xef, 0xf4,
	};
	/* WRMSR IA32_PKRS with EDX = 1 (bits 63:32 reserved): #GP(0). */
	static const uint8_t pkrs_high[] = {
		0xb9, 0xe1, 0x06, 0x00, 0x00, 0x31, 0xc0, 0xba, 0x01, 0x00, 0x00, 0x00, 0x0f, 0x30, 0xf4,
	};
	/* RDMSR IA32_PKRS. */
	static const uint8_t pkrs_read[] = { 0xb9, 0xe1, 0x06, 0x00, 0x00, 0x0f, 0x32, 0xf4 };
	const uint64_t off = (1ULL << CPUF_PKU) | (1ULL << CPUF_PKS);
	struct tvm_exc_record rec;
	struct tvm *vm;

	(void)state;
	vm = vm_new("skylake");
	code(vm, pku, sizeof(pku));
	set_pkey(vm, TVM_UDATA, 1);
	expect_exception_at(vm, EXC_PF, 0x21 /* P PK */, TVM_CODE + 51);
	tvm_exc_record(vm, &rec);
	assert_int_equal(rec.cr2, TVM_UDATA);
	assert_int_equal(regs(vm).gpr[8] & 0x18, 0x18);     /* PKU, OSPKE */
	assert_int_equal(regs(vm).gpr[9], 4);
	tvm_destroy(vm);

	vm = vm_new("skylake");
	code(vm, pks, sizeof(pks));
	set_pkey(vm, TVM_DATA, 1);
	expect_exception_at(vm, EXC_PF, 0x23 /* P W PK */, TVM_CODE + 33);
	tvm_exc_record(vm, &rec);
	assert_int_equal(rec.cr2, TVM_DATA);
	tvm_destroy(vm);

	const struct { const uint8_t *p; size_t n; uint64_t off; unsigned vec; uint64_t rip; } cases[] = {
		{ rd_nopke, sizeof(rd_nopke), 0, EXC_UD, TVM_CODE + 2 },
		{ wr_ecx, sizeof(wr_ecx), 0, EXC_GP, TVM_CODE + 20 },
		{ pkrs_high, sizeof(pkrs_high), 0, EXC_GP, TVM_CODE + 12 },
		{ pku, sizeof(pku), off, EXC_GP, TVM_CODE + 8 },      /* no PKU: CR4.PKE reserved */
		{ pks, sizeof(pks), off, EXC_GP, TVM_CODE + 8 },      /* no PKS: CR4.PKS reserved */
		{ pkrs_read, sizeof(pkrs_read), off, EXC_GP, TVM_CODE + 5 },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(tvm_create_cpu("none", cases[i].off, 0, &vm), 0);
		code(vm, cases[i].p, cases[i].n);
		expect_exception_at(vm, cases[i].vec, 0, cases[i].rip);
		tvm_destroy(vm);
	}
}

/*
 * MOV to CR8 with the local APIC left to hv (lapic_exits): as with VMX's TPR
 * shadow and a TPR threshold at the TPR, only a write that lowers the TPR
 * exits (an interrupt held back may be deliverable); raising it, or writing
 * the same value again, does not, and hv reads CR8 from the next exit.
 * mov eax, 5; mov cr8, rax; mov cr8, rax; mov eax, 3; mov cr8, rax; hlt
 */
static void test_cr8_exits_on_lowering(void **state)
{
	static const uint8_t prog[] = {
		0xb8, 0x05, 0x00, 0x00, 0x00, 0x44, 0x0f, 0x22, 0xc0, 0x44, 0x0f, 0x22, 0xc0,
		0xb8, 0x03, 0x00, 0x00, 0x00, 0x44, 0x0f, 0x22, 0xc0, 0xf4,
	};
	struct tvm *vm;

	(void)state;
	assert_int_equal(tvm_create_lapic("none", &vm), 0);
	code(vm, prog, sizeof(prog));
	expect_exit(vm, VCPU_EXIT_SET_TPR);
	assert_int_equal(vm->exit.rip, TVM_CODE + 18);   /* the MOV that lowered it */
	assert_int_equal(vm->exit.irq.cr8, 3);
	expect_exit(vm, VCPU_EXIT_HLT);
	tvm_destroy(vm);
}

/*
 * MAXPHYADDR in guest walks (SDM 4.5, Table 4-19): with phys-bits=36, a PTE
 * with bit 40 set has a reserved bit, so the load faults with #PF, error
 * code P | RSVD and CR2 the address; with the default 52 bits it is an
 * address bit and the load leaves to the hypervisor as an MMIO access (no
 * RAM at GPA 2^40). mov rax, [TVM_DATA]; hlt.
 */
static void test_phys_bits_reserved(void **state)
{
	static const uint8_t prog[] = { 0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x02, 0x00, 0xf4 };
	struct tvm_exc_record rec;
	struct tvm *vm;

	(void)state;
	for (unsigned bits = 36; bits <= 52; bits += 16) {
		uint64_t pte;

		assert_int_equal(tvm_create_cpu("none", 0, bits == 52 ? 0 : bits, &vm), 0);
		code(vm, prog, sizeof(prog));
		pte = gpt_entry_gpa(vm->gpt, TVM_DATA, 1);
		tvm_write64(vm, pte, tvm_read64(vm, pte) | (1ULL << 40));
		if (bits == 36) {
			expect_exception_at(vm, 14 /* #PF */, 0x9 /* P RSVD */, TVM_CODE);
			tvm_exc_record(vm, &rec);
			assert_int_equal(rec.cr2, TVM_DATA);
		} else {
			expect_exit(vm, VCPU_EXIT_MMIO);
			assert_int_equal(vm->exit.mmio.gpa, (1ULL << 40) | TVM_DATA);
		}
		tvm_destroy(vm);
	}
}

/* SDM MOV CR: CR3 bits 63:MAXPHYADDR are reserved; bit 63 means "do not
 * flush" only with CR4.PCIDE = 1. mov rax, cr3; bts rax, 63; mov cr3, rax. */
static void test_cr3_bit63_without_pcide(void **state)
{
	static const uint8_t prog[] = { 0x0f, 0x20, 0xd8, 0x48, 0x0f, 0xba, 0xe8, 0x3f,
					0x0f, 0x22, 0xd8, 0xf4 };
	struct tvm *vm = vm_new("none");
	struct vcpu_sregs sr;

	(void)state;
	code(vm, prog, sizeof(prog));
	expect_exception_at(vm, EXC_GP, 0, TVM_CODE + 8);
	tvm_destroy(vm);

	/* With PCIDE = 1 the same write is legal: it loads CR3 without a flush. */
	vm = vm_new("none");
	tvm_sregs_long64(vm, &sr);
	sr.cr4 |= CR4_PCIDE;
	assert_int_equal(tvm_set_sregs(vm, &sr), 0);
	code(vm, prog, sizeof(prog));
	expect_exit(vm, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).rip, TVM_CODE + sizeof(prog));
	assert_int_equal(tvm_get_sregs(vm, &sr), 0);
	assert_int_equal(sr.cr3 >> 63, 0);
	tvm_destroy(vm);
}

/* SDM MOV CR: "#GP(0) If an attempt is made to clear CR0.PG while
 * CR4.PCIDE = 1". In compatibility mode (in 64-bit mode clearing PG is #GP
 * anyway): mov eax, cr0; btr eax, 31; mov cr0, eax. */
static void test_cr0_pg_clear_with_pcide(void **state)
{
	static const uint8_t prog[] = { 0x0f, 0x20, 0xc0, 0x0f, 0xba, 0xf0, 0x1f,
					0x0f, 0x22, 0xc0, 0xf4 };
	struct tvm *vm = vm_new("none");
	struct vcpu_sregs sr;
	uint64_t cr0;

	(void)state;
	tvm_sregs_long64(vm, &sr);
	sr.cr4 |= CR4_PCIDE;
	sr.cs.l = 0;     /* compatibility mode, still IA-32e */
	sr.cs.db = 1;
	cr0 = sr.cr0;
	assert_int_equal(tvm_set_sregs(vm, &sr), 0);
	code(vm, prog, sizeof(prog));
	expect_exception_at(vm, EXC_GP, 0, TVM_CODE + 7);
	assert_int_equal(tvm_get_sregs(vm, &sr), 0);
	assert_int_equal(sr.cr0, cr0);
	tvm_destroy(vm);
}

/* ------------------------------------------------------------------------ */
/* Pre-decoded blocks and fetches counted in bulk (docs/softcpu.md)          */
/* ------------------------------------------------------------------------ */

#define EXC_DB 1

/*
 * The same program twice under the Skylake caches: once in one run(), where
 * blocks run and fetches inside them are counted in bulk, and once one
 * instruction per run(), where every fetch is translated and counted on its
 * own. Everything must come out the same: registers, the exit, the vCPU's
 * counters and every counter and LRU-driven outcome of the model. Returns
 * the first VM (the caller checks the program's own result and frees it).
 */
/* When set, run on each VM of run_twins_mmu() and assert_chunks_match()
 * after its code and registers: more set-up a test needs in every VM. */
static void (*twin_setup)(struct tvm *vm);

static struct tvm *run_twins_mmu(const struct mmu_config *cfg, const uint8_t *prog, size_t len,
				 uint64_t gva, uint64_t rflags, const uint64_t *gpr,
				 enum vcpu_exit_reason want)
{
	struct tvm *vm[2] = { NULL, NULL };
	struct vcpu_stats vs[2];
	struct vcpu_regs r[2];
	struct tvm_exc_record rec[2];

	for (int k = 0; k < 2; k++) {
		struct vcpu_regs rr;

		assert_int_equal(tvm_create_mmu(cfg, &vm[k]), 0);
		tvm_load_code(vm[k], gva, prog, len);
		rr = regs(vm[k]);
		rr.gpr[3] = TVM_DATA;      /* rbx: a data page */
		for (int g = 0; gpr != NULL && g < 16; g++)
			if (g != 4)
				rr.gpr[g] = gpr[g];
		rr.rflags = rflags;
		set_regs(vm[k], &rr);
		if (twin_setup != NULL)
			twin_setup(vm[k]);
	}
	expect_exit(vm[0], want);
	for (int n = 0; n < 100000; n++) {
		enum vcpu_exit_reason got = tvm_run(vm[1], 1);

		if (got == VCPU_EXIT_INSN_LIMIT)
			continue;
		assert_int_equal(got, want);
		break;
	}
	for (int k = 0; k < 2; k++) {
		r[k] = regs(vm[k]);
		vm[k]->ops->get_stats(vm[k]->vcpu, &vs[k]);
		tvm_exc_record(vm[k], &rec[k]);
	}
	assert_memory_equal(&r[0], &r[1], sizeof(r[0]));
	assert_memory_equal(&rec[0], &rec[1], sizeof(rec[0]));
	assert_int_equal(vs[0].instructions, vs[1].instructions);
	assert_int_equal(vs[0].fetches, vs[1].fetches);
	assert_int_equal(vs[0].loads, vs[1].loads);
	assert_int_equal(vs[0].stores, vs[1].stores);
	assert_memory_equal(mmu_stats(vm[0]->mmu), mmu_stats(vm[1]->mmu), sizeof(struct mmu_stats));
	/* The vCPU's fetch count is the model's. */
	assert_int_equal(vs[0].fetches, mmu_stats(vm[0]->mmu)->by_access[2]);
	tvm_destroy(vm[1]);
	return vm[0];
}

static struct tvm *run_twins_regs(const uint8_t *prog, size_t len, uint64_t gva, uint64_t rflags,
				  const uint64_t *gpr, enum vcpu_exit_reason want)
{
	struct mmu_config cfg;

	assert_int_equal(mmu_config_preset("skylake", &cfg), 0);
	return run_twins_mmu(&cfg, prog, len, gva, rflags, gpr, want);
}

static struct tvm *run_twins(const uint8_t *prog, size_t len, uint64_t gva, uint64_t rflags,
			     enum vcpu_exit_reason want)
{
	return run_twins_regs(prog, len, gva, rflags, NULL, want);
}

/* The program's one exception: its vector and the RIP it reported. */
static void assert_one_exception(struct tvm *vm, uint64_t vector, uint64_t rip)
{
	struct tvm_exc_record rec;

	tvm_exc_record(vm, &rec);
	assert_int_equal(rec.count, 1);
	assert_int_equal(rec.vector, vector);
	assert_int_equal(rec.rip, rip);
}

/* INC RAX ten times, then HLT (31 bytes). */
static void ten_incs(uint8_t *prog)
{
	for (int i = 0; i < 10; i++)
		memcpy(prog + 3 * i, (const uint8_t[]){ 0x48, 0xff, 0xc0 }, 3);
	prog[30] = 0xf4;
}

/* Ten INC RAX from 10 bytes before a page end, then HLT: the fourth
 * instruction crosses into the next page (two fetch translations), the
 * block before it ends at the page. */
static void test_block_page_end(void **state)
{
	uint8_t prog[31];
	struct vcpu_stats vs;
	struct tvm *vm;

	(void)state;
	ten_incs(prog);
	vm = run_twins(prog, sizeof(prog), TVM_CODE + 0x1000 - 10, RFL_FIXED, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).gpr[0], 10);
	vm->ops->get_stats(vm->vcpu, &vs);
	assert_int_equal(vs.instructions, 11);
	assert_int_equal(vs.fetches, 12);
	tvm_destroy(vm);
}

/* A #PF in the middle of a block: the two INCs before it retired and were
 * counted, the one after it never ran. */
static void test_block_fault_inside(void **state)
{
	static const uint8_t prog[] = {
		0x48, 0xff, 0xc0,                                 /* inc rax */
		0x48, 0xff, 0xc0,                                 /* inc rax */
		0x48, 0x8b, 0x0c, 0x25, 0x08, 0x00, 0x00, 0x00,   /* mov rcx, [8]: page 0, unmapped */
		0x48, 0xff, 0xc0,                                 /* inc rax */
		0xf4,
	};
	struct tvm_exc_record rec;
	struct tvm *vm;

	(void)state;
	vm = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	assert_one_exception(vm, EXC_PF, TVM_CODE + 6);
	tvm_exc_record(vm, &rec);
	assert_int_equal(rec.error, 0);
	assert_int_equal(rec.cr2, 8);
	assert_int_equal(regs(vm).gpr[0], 2);
	tvm_destroy(vm);
}

/* A store into a later instruction of the running block: MOV EAX, 1
 * becomes MOV EAX, 2 before it runs. */
static void test_block_code_written(void **state)
{
	static const uint8_t prog[] = {
		0xc6, 0x05, 0x04, 0x00, 0x00, 0x00, 0x02,   /* mov byte [rip + 4], 2 */
		0x48, 0xff, 0xc1,                           /* inc rcx */
		0xb8, 0x01, 0x00, 0x00, 0x00,               /* mov eax, 1: its immediate is the target */
		0xf4,
	};
	struct tvm *vm;

	(void)state;
	vm = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).gpr[0], 2);
	assert_int_equal(regs(vm).gpr[1], 1);
	tvm_destroy(vm);
}

/*
 * A loop that stores into its own running block with MOV [rbx + disp32]
 * between register instructions, where such a store can run as threaded
 * code: from the second pass on the store hits the model's shortcut, and
 * its threaded code must leave it to the run loop (the page holds decoded
 * code), which ends the block after it. Each pass writes RAX into the
 * immediate of MOV EDX, imm32, which then adds it to RDI: 1 + 2 + 3.
 */
static void test_block_code_written_threaded(void **state)
{
	static const uint8_t prog[] = {
		0x48, 0x83, 0xc1, 0x01,                     /* 00: 1: add rcx, 1 */
		0x48, 0x83, 0xc0, 0x01,                     /* 04: add rax, 1 */
		0x89, 0x83, 0x15, 0x00, 0x00, 0x00,         /* 08: mov [rbx + 0x15], eax */
		0x48, 0x89, 0xc6,                           /* 0e: mov rsi, rax */
		0x48, 0x89, 0xc6,                           /* 11: mov rsi, rax */
		0xba, 0x00, 0x00, 0x00, 0x00,               /* 14: mov edx, imm32 (imm at 15) */
		0x48, 0x01, 0xd7,                           /* 19: add rdi, rdx */
		0x48, 0x83, 0xf9, 0x03,                     /* 1c: cmp rcx, 3 */
		0x75, 0xde,                                 /* 20: jne 1b */
		0xf4,                                       /* 22: hlt */
	};
	uint64_t gpr[16] = { 0 };
	struct tvm *vm;

	(void)state;
	gpr[3] = TVM_CODE;
	vm = run_twins_regs(prog, sizeof(prog), TVM_CODE, RFL_FIXED, gpr, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).gpr[7], 6);
	assert_int_equal(regs(vm).gpr[1], 3);
	tvm_destroy(vm);
}

/* Code on one page rewritten from another page between two runs of it:
 * MOV EAX, 1 becomes MOV EAX, 2 while the second page runs, and the jump
 * back sees the new bytes (a block's bytes are compared again once the
 * running page has changed). */
static void test_block_code_written_elsewhere(void **state)
{
	static uint8_t prog[0x1014];
	static const uint8_t a[] = {
		0xb8, 0x01, 0x00, 0x00, 0x00,                     /* 10000: mov eax, 1 */
		0xe9, 0xf6, 0x0f, 0x00, 0x00,                     /* 10005: jmp 11000 */
	};
	static const uint8_t b[] = {
		0xc6, 0x04, 0x25, 0x01, 0x00, 0x01, 0x00, 0x02,   /* 11000: mov byte [10001], 2 */
		0x85, 0xc9,                                       /* 11008: test ecx, ecx */
		0x75, 0x07,                                       /* 1100a: jnz 11013 */
		0xff, 0xc1,                                       /* 1100c: inc ecx */
		0xe9, 0xed, 0xef, 0xff, 0xff,                     /* 1100e: jmp 10000 */
		0xf4,                                             /* 11013: hlt */
	};
	struct tvm *vm;

	(void)state;
	memcpy(prog, a, sizeof(a));
	memcpy(prog + 0x1000, b, sizeof(b));
	vm = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).gpr[0], 2);
	assert_int_equal(regs(vm).gpr[1], 1);
	tvm_destroy(vm);
}

/*
 * A frame a store has unmarked (code_store) is marked again when one of its
 * blocks is compared and found unchanged: the first pass stores data beside
 * the code on page 10000 and runs it again (compared, unchanged), the second
 * rewrites MOV EAX, 1 into MOV EAX, 2, and the third pass must run the new
 * bytes. Were the frame left unmarked, the second store would not move the
 * epoch and the block compared after the first would run as it was.
 */
static void test_block_code_compared_marks(void **state)
{
	static uint8_t prog[0x1027];
	static const uint8_t a[] = {
		0xb8, 0x01, 0x00, 0x00, 0x00,                     /* 10000: mov eax, 1 */
		0xe9, 0xf6, 0x0f, 0x00, 0x00,                     /* 10005: jmp 11000 */
	};
	static const uint8_t b[] = {
		0xff, 0xc1,                                       /* 11000: inc ecx */
		0x83, 0xf9, 0x01,                                 /* 11002: cmp ecx, 1 */
		0x75, 0x0d,                                       /* 11005: jne 11014 */
		0xc6, 0x04, 0x25, 0x00, 0x08, 0x01, 0x00, 0x07,   /* 11007: mov byte [10800], 7 */
		0xe9, 0xec, 0xef, 0xff, 0xff,                     /* 1100f: jmp 10000 */
		0x83, 0xf9, 0x02,                                 /* 11014: cmp ecx, 2 */
		0x75, 0x0d,                                       /* 11017: jne 11026 */
		0xc6, 0x04, 0x25, 0x01, 0x00, 0x01, 0x00, 0x02,   /* 11019: mov byte [10001], 2 */
		0xe9, 0xda, 0xef, 0xff, 0xff,                     /* 11021: jmp 10000 */
		0xf4,                                             /* 11026: hlt */
	};
	uint8_t data;
	struct tvm *vm;

	(void)state;
	memcpy(prog, a, sizeof(a));
	memcpy(prog + 0x1000, b, sizeof(b));
	vm = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).gpr[0], 2);
	assert_int_equal(regs(vm).gpr[1], 3);
	tvm_read(vm, TVM_CODE + 0x800, &data, 1);
	assert_int_equal(data, 7);
	tvm_destroy(vm);
}

/*
 * An exception whose delivery writes its frame over code that ran: with RSP
 * at 11040, the #PF of the store at 100c3 pushes its RIP (c3 00 01 00 ...)
 * onto 11018, where MOV EAX, 1; RET was called before. The handler (IDT
 * gate 14 pointed at 10100) calls 11018 again, which is now a RET: EAX keeps
 * the 2 set before the fault. The frame's stores go through the same check
 * as any other store (code_store), which is what makes the block at 11018
 * be compared again; the fault itself moves nothing. (The first two stores
 * make page 11000 and the GDT's page dirty beforehand, so that no A/D write
 * of the walker's moves the epoch during the delivery either.)
 */
static void test_block_fault_frame_on_code(void **state)
{
	static uint8_t prog[0x101e];
	static const uint8_t a[] = {
		0xc6, 0x04, 0x25, 0x00, 0x18, 0x01, 0x00, 0x00,   /* 10000: mov byte [11800], 0 */
		0xc6, 0x04, 0x25, 0x00, 0x10, 0x00, 0x00, 0x00,   /* 10008: mov byte [1000], 0 (GDT) */
		0x48, 0xb8, 0x00, 0x01, 0x08, 0x00, 0x00, 0x8e, 0x01, 0x00,   /* 10010: mov rax, gate */
		0x48, 0x89, 0x04, 0x25, 0xe0, 0x20, 0x00, 0x00,   /* 1001a: mov [20e0], rax (vector 14) */
		0xe8, 0xf1, 0x0f, 0x00, 0x00,                     /* 10022: call 11018 */
		0x49, 0x89, 0xc0,                                 /* 10027: mov r8, rax */
		0xb8, 0x02, 0x00, 0x00, 0x00,                     /* 1002a: mov eax, 2 */
		0xbc, 0x40, 0x10, 0x01, 0x00,                     /* 1002f: mov esp, 11040 */
		0xe9, 0x8a, 0x00, 0x00, 0x00,                     /* 10034: jmp 100c3 */
	};
	static const uint8_t fault[] = {
		0xc6, 0x04, 0x25, 0x00, 0x00, 0x00, 0x00, 0x01,   /* 100c3: mov byte [0], 1: #PF */
		0xf4,                                             /* 100cb: hlt */
	};
	static const uint8_t handler[] = {
		0xbc, 0x00, 0x00, 0x05, 0x00,                     /* 10100: mov esp, 50000 */
		0xe8, 0x0e, 0x0f, 0x00, 0x00,                     /* 10105: call 11018 */
		0xf4,                                             /* 1010a: hlt */
	};
	static const uint8_t callee[] = {
		0xb8, 0x01, 0x00, 0x00, 0x00,                     /* 11018: mov eax, 1 */
		0xc3,                                             /* 1101d: ret */
	};
	struct tvm_exc_record rec;
	struct tvm *vm;

	(void)state;
	memcpy(prog, a, sizeof(a));
	memcpy(prog + 0xc3, fault, sizeof(fault));
	memcpy(prog + 0x100, handler, sizeof(handler));
	memcpy(prog + 0x1018, callee, sizeof(callee));
	vm = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).gpr[0], 2);
	assert_int_equal(regs(vm).gpr[8], 1);
	assert_int_equal(regs(vm).rip, TVM_CODE + 0x10b);
	assert_int_equal(tvm_read64(vm, TVM_CODE + 0x1010), 2);         /* error code: W, not present */
	assert_int_equal(tvm_read64(vm, TVM_CODE + 0x1018), TVM_CODE + 0xc3);
	tvm_exc_record(vm, &rec);
	assert_int_equal(rec.count, 0);
	tvm_destroy(vm);
}

/*
 * INT 0x40 to a ring-0 handler that returns with IRETQ, once or twice: the
 * second delivery's IDT and GDT reads and frame store, and its IRETQ's stack
 * and GDT reads, hit the model's shortcut (sys_read, sys_write, the stack
 * reads), the first's took the general path after walks. Each pair adds the
 * same accesses: 9 loads (the 16-byte gate, the CS descriptor, the five
 * stack slots, the CS and SS descriptors) and 1 store (the 40-byte frame).
 */
static void int_iret_prog(uint8_t *prog, bool twice)
{
	static const uint8_t a[] = {
		0x48, 0xb8, 0x00, 0x01, 0x08, 0x00, 0x00, 0x8e, 0x01, 0x00,   /* 10000: mov rax, gate */
		0x48, 0x89, 0x04, 0x25, 0x00, 0x24, 0x00, 0x00,   /* 1000a: mov [2400], rax (vector 0x40) */
		0xcd, 0x40,                                       /* 10012: int 0x40 */
		0xcd, 0x40,                                       /* 10014: int 0x40, or two NOPs */
		0xf4,                                             /* 10016: hlt */
	};
	static const uint8_t handler[] = {
		0x48, 0xff, 0xc1,                                 /* 10100: inc rcx */
		0x48, 0xcf,                                       /* 10103: iretq */
	};

	memcpy(prog, a, sizeof(a));
	if (!twice)
		prog[0x14] = prog[0x15] = 0x90;
	memcpy(prog + 0x100, handler, sizeof(handler));
}

static void test_event_accesses_on_hit_path(void **state)
{
	static uint8_t prog[0x105];
	struct vcpu_stats vs[2];
	struct tvm *vm;

	(void)state;
	for (int k = 0; k < 2; k++) {
		int_iret_prog(prog, k == 1);
		vm = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
		assert_int_equal(regs(vm).gpr[1], (uint64_t)k + 1);
		assert_int_equal(regs(vm).gpr[4], TVM_STACK_TOP);
		assert_int_equal(regs(vm).rip, TVM_CODE + 0x17);
		vm->ops->get_stats(vm->vcpu, &vs[k]);
		tvm_destroy(vm);
	}
	assert_int_equal(vs[1].loads - vs[0].loads, 9);
	assert_int_equal(vs[1].stores - vs[0].stores, 1);
	assert_int_equal(vs[1].instructions - vs[0].instructions, 1);   /* INT, INC, IRETQ for two NOPs */
}

/*
 * PUSH and POP as threaded code among register instructions: PUSH RSP
 * stores the value before the push, POP RSP ends with the value read, a
 * push that crosses a page (1fffc) and one onto the page the code runs from
 * (10f00, where a store must end the block) leave the record to the run
 * loop. The same registers and counts as one instruction a run().
 */
static void test_threaded_push_pop(void **state)
{
	static const uint8_t prog[] = {
		0x48, 0xc7, 0xc0, 0x11, 0x00, 0x00, 0x00,   /* 00: mov rax, 0x11 */
		0x48, 0xc7, 0xc3, 0x22, 0x00, 0x00, 0x00,   /* 07: mov rbx, 0x22 */
		0x50,                                       /* 0e: push rax */
		0x53,                                       /* 0f: push rbx */
		0x59,                                       /* 10: pop rcx */
		0x5a,                                       /* 11: pop rdx */
		0x54,                                       /* 12: push rsp */
		0x5e,                                       /* 13: pop rsi */
		0x41, 0x50,                                 /* 14: push r8 */
		0x41, 0x59,                                 /* 16: pop r9 */
		0x48, 0xc7, 0xc4, 0x04, 0x00, 0x02, 0x00,   /* 18: mov rsp, 0x20004 */
		0x50,                                       /* 1f: push rax: 1fffc, two pages */
		0x5f,                                       /* 20: pop rdi */
		0x48, 0xc7, 0xc4, 0x00, 0x0f, 0x01, 0x00,   /* 21: mov rsp, 0x10f00 */
		0x50,                                       /* 28: push rax: onto the code's page */
		0x41, 0x5a,                                 /* 29: pop r10 */
		0x48, 0xc7, 0xc4, 0x00, 0x00, 0x05, 0x00,   /* 2b: mov rsp, 0x50000 */
		0x48, 0xc7, 0xc0, 0x00, 0xff, 0x04, 0x00,   /* 32: mov rax, 0x4ff00 */
		0x50,                                       /* 39: push rax */
		0x5c,                                       /* 3a: pop rsp */
		0xf4,                                       /* 3b: hlt */
	};
	uint64_t gpr[16] = { 0 };
	struct vcpu_regs r;
	struct tvm *vm;

	(void)state;
	gpr[8] = 0x88;
	gpr[9] = 0x99;
	vm = run_twins_regs(prog, sizeof(prog), TVM_CODE, RFL_FIXED, gpr, VCPU_EXIT_HLT);
	r = regs(vm);
	assert_int_equal(r.gpr[1], 0x22);
	assert_int_equal(r.gpr[2], 0x11);
	assert_int_equal(r.gpr[6], TVM_STACK_TOP);
	assert_int_equal(r.gpr[9], 0x88);
	assert_int_equal(r.gpr[7], 0x11);
	assert_int_equal(r.gpr[10], 0x11);
	assert_int_equal(r.gpr[4], 0x4ff00);
	assert_int_equal(tvm_read64(vm, 0x1fffc), 0x11);
	tvm_destroy(vm);
}

/*
 * TEST r, r, MOVZX, MOVSX and MOVSXD with register operands (high byte
 * registers among them) and SETcc after them, all as threaded code, checked
 * against one instruction a run and against the values the SDM gives.
 */
static void test_threaded_register_forms(void **state)
{
	static const uint8_t prog[] = {
		0x48, 0xc7, 0xc0, 0xf0, 0x80, 0x00, 0x00,   /* mov rax, 0x80f0 */
		0x48, 0xc7, 0xc3, 0xfe, 0xff, 0xff, 0xff,   /* mov rbx, -2 */
		0x84, 0xdc,                                 /* test ah, bl: 0x80, SF */
		0x0f, 0x98, 0xc1,                           /* sets cl */
		0x0f, 0xbe, 0xd4,                           /* movsx edx, ah */
		0x0f, 0xb7, 0xf3,                           /* movzx esi, bx */
		0x48, 0x63, 0xfb,                           /* movsxd rdi, ebx */
		0x48, 0x85, 0xf7,                           /* test rdi, rsi: not zero */
		0x0f, 0x94, 0xc5,                           /* setz ch */
		0x45, 0x85, 0xc0,                           /* test r8d, r8d: zero */
		0x41, 0x0f, 0x94, 0xc1,                     /* setz r9b */
		0xf4,                                       /* hlt */
	};
	uint64_t gpr[16] = { 0 };
	struct vcpu_regs r;
	struct tvm *vm;

	(void)state;
	gpr[9] = 0x1200;
	vm = run_twins_regs(prog, sizeof(prog), TVM_CODE, RFL_FIXED, gpr, VCPU_EXIT_HLT);
	r = regs(vm);
	assert_int_equal(r.gpr[1], 0x0001);
	assert_int_equal(r.gpr[2], 0xffffff80);
	assert_int_equal(r.gpr[6], 0xfffe);
	assert_int_equal(r.gpr[7], 0xfffffffffffffffeULL);
	assert_int_equal(r.gpr[9], 0x1201);
	assert_int_equal(r.rflags & 0x8c1, 0x40);   /* OF SF ZF CF: ZF alone */
	tvm_destroy(vm);
}

/*
 * MOV [base + disp], imm at each size and CMP [base + disp], imm as threaded
 * code, with a store across a page (20ffe) and one onto the code's page
 * (10f00) left to the run loop; the flags the compares leave read by SETcc.
 */
static void test_threaded_imm_mem_forms(void **state)
{
	static const uint8_t prog[] = {
		0xc7, 0x43, 0x10, 0x44, 0x33, 0x22, 0x11,               /* mov dword [rbx + 0x10], 0x11223344 */
		0x48, 0xc7, 0x43, 0x18, 0xf0, 0xff, 0xff, 0xff,         /* mov qword [rbx + 0x18], -16 */
		0xc6, 0x43, 0x20, 0x7f,                                 /* mov byte [rbx + 0x20], 0x7f */
		0x66, 0xc7, 0x43, 0x22, 0x34, 0x12,                     /* mov word [rbx + 0x22], 0x1234 */
		0x81, 0x7b, 0x10, 0x44, 0x33, 0x22, 0x11,               /* cmp dword [rbx + 0x10], 0x11223344 */
		0x0f, 0x94, 0xc0,                                       /* setz al */
		0x48, 0x83, 0x7b, 0x18, 0xf0,                           /* cmp qword [rbx + 0x18], -16 */
		0x0f, 0x94, 0xc4,                                       /* setz ah */
		0x80, 0x7b, 0x20, 0x80,                                 /* cmp byte [rbx + 0x20], 0x80 */
		0x0f, 0x92, 0xc1,                                       /* setb cl: 1 */
		0x0f, 0x9c, 0xc5,                                       /* setl ch: 0 (SF = OF = 1) */
		0xc7, 0x83, 0xfc, 0x0f, 0x00, 0x00, 0xaa, 0xbb, 0xcc, 0xdd,   /* mov dword [rbx + 0xffc], .. */
		0xc7, 0x83, 0xfe, 0x0f, 0x00, 0x00, 0x88, 0x77, 0x66, 0x55,   /* mov dword [rbx + 0xffe]: 2 pages */
		0x48, 0xc7, 0xc5, 0x00, 0x0f, 0x01, 0x00,               /* mov rbp, 0x10f00 */
		0xc7, 0x45, 0x00, 0x01, 0x02, 0x03, 0x04,               /* mov dword [rbp], ..: the code's page */
		0x81, 0x7d, 0x00, 0x01, 0x02, 0x03, 0x04,               /* cmp dword [rbp], 0x04030201 */
		0x0f, 0x94, 0xc2,                                       /* setz dl */
		0xf4,                                                   /* hlt */
	};
	uint8_t b;
	uint16_t w;
	uint32_t d;
	struct vcpu_regs r;
	struct tvm *vm;

	(void)state;
	vm = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	r = regs(vm);
	assert_int_equal(r.gpr[0], 0x0101);
	assert_int_equal(r.gpr[1], 0x0001);
	assert_int_equal(r.gpr[2], 0x01);
	assert_int_equal(tvm_read64(vm, TVM_DATA + 0x10) & 0xffffffff, 0x11223344);
	assert_int_equal(tvm_read64(vm, TVM_DATA + 0x18), 0xfffffffffffffff0ULL);
	tvm_read(vm, TVM_DATA + 0x20, &b, 1);
	assert_int_equal(b, 0x7f);
	tvm_read(vm, TVM_DATA + 0x22, &w, 2);
	assert_int_equal(w, 0x1234);
	tvm_read(vm, TVM_DATA + 0xffc, &d, 4);
	assert_int_equal(d, 0x7788bbaa);
	tvm_read(vm, TVM_DATA + 0x1000, &w, 2);
	assert_int_equal(w, 0x5566);
	tvm_read(vm, TVM_CODE + 0xf00, &d, 4);
	assert_int_equal(d, 0x04030201);
	tvm_destroy(vm);
}

/*
 * A loop that calls a function on the next page: the run goes on across
 * the CALL and the RET, each fetch on the other page made in the run
 * through the shortcut, the blocks looked up without comparing their bytes
 * again. The same registers and counts as one instruction a run(), with the
 * Skylake caches and with one STLB for code and data.
 */
static void test_block_cross_page_calls(void **state)
{
	static uint8_t prog[0x1007];
	static const uint8_t a[] = {
		0xb9, 0x64, 0x00, 0x00, 0x00,   /* 10000: mov ecx, 100 */
		0xe8, 0xf6, 0x0f, 0x00, 0x00,   /* 10005: call 11000 */
		0x48, 0x01, 0xc6,               /* 1000a: add rsi, rax */
		0xff, 0xc9,                     /* 1000d: dec ecx */
		0x75, 0xf4,                     /* 1000f: jnz 10005 */
		0xf4,                           /* 10011: hlt */
	};
	static const uint8_t b[] = {
		0x48, 0xff, 0xc0,               /* 11000: inc rax */
		0x48, 0x89, 0x03,               /* 11003: mov [rbx], rax */
		0xc3,                           /* 11006: ret */
	};
	struct mmu_config cfg = { .name = "shared" };
	struct vcpu_stats vs;
	struct tvm *vm;

	(void)state;
	memcpy(prog, a, sizeof(a));
	memcpy(prog + 0x1000, b, sizeof(b));
	/* Skylake; one STLB of 4 entries; one of 2, where the four pages
	 * evict each other and fetches on both pages walk inside the runs. */
	for (int k = 0; k < 3; k++) {
		if (k == 0) {
			assert_int_equal(mmu_config_preset("skylake", &cfg), 0);
		} else {
			memset(&cfg, 0, sizeof(cfg));
			cfg.geom[TLB_L2_4K2M] = k == 1 ? (struct cache_geom){ 4, 4 } : (struct cache_geom){ 2, 2 };
		}
		vm = run_twins_mmu(&cfg, prog, sizeof(prog), TVM_CODE, RFL_FIXED, NULL, VCPU_EXIT_HLT);
		assert_int_equal(regs(vm).gpr[0], 100);
		assert_int_equal(regs(vm).gpr[6], 5050);
		assert_int_equal(tvm_read64(vm, TVM_DATA), 100);
		vm->ops->get_stats(vm->vcpu, &vs);
		assert_int_equal(vs.instructions, 1 + 7 * 100 + 1);
		assert_int_equal(vs.fetches, 1 + 7 * 100 + 1);
		assert_int_equal(vs.loads, 100);            /* RET */
		assert_int_equal(vs.stores, 200);           /* CALL, MOV */
		/* Two code pages, the stack, the data page: one walk each. */
		if (k < 2)
			assert_int_equal(mmu_stats(vm->mmu)->walks, 4);
		else
			assert_true(mmu_stats(vm->mmu)->walks > 100);
		tvm_destroy(vm);
	}
}

/*
 * Code on page A changed three times from page B, the later times by a
 * store that hits the TLB (no walk, no A/D write): each change is seen
 * when A runs again (code_store marks every frame a block came from).
 */
static void test_block_code_changed_from_other_page(void **state)
{
	static uint8_t prog[0x1013];
	static const uint8_t a[] = {
		0xb8, 0x01, 0x00, 0x00, 0x00,                     /* 10000: mov eax, 1 */
		0x01, 0xc6,                                       /* 10005: add esi, eax */
		0xe9, 0xf4, 0x0f, 0x00, 0x00,                     /* 10007: jmp 11000 */
	};
	static const uint8_t b[] = {
		0xfe, 0x04, 0x25, 0x01, 0x00, 0x01, 0x00,         /* 11000: inc byte [10001] */
		0xff, 0xc1,                                       /* 11007: inc ecx */
		0x83, 0xf9, 0x03,                                 /* 11009: cmp ecx, 3 */
		0x0f, 0x85, 0xee, 0xef, 0xff, 0xff,               /* 1100c: jne 10000 */
		0xf4,                                             /* 11012: hlt */
	};
	struct tvm *vm;

	(void)state;
	memcpy(prog, a, sizeof(a));
	memcpy(prog + 0x1000, b, sizeof(b));
	vm = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).gpr[6], 1 + 2 + 3);
	assert_int_equal(regs(vm).gpr[0], 3);
	tvm_destroy(vm);
}

/* RFLAGS.TF: the #DB trap comes after the first instruction of the block
 * (SDM Vol. 3A 18.3.1.4), not at the block's end. */
static void test_block_single_step(void **state)
{
	static const uint8_t prog[] = {
		0x48, 0xff, 0xc0, 0x48, 0xff, 0xc0, 0x48, 0xff, 0xc0, 0xf4,   /* inc rax x3; hlt */
	};
	struct tvm *vm;

	(void)state;
	vm = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED | (1ULL << 8), VCPU_EXIT_HLT);
	assert_one_exception(vm, EXC_DB, TVM_CODE + 3);
	tvm_destroy(vm);
}

/* POPF setting RFLAGS.TF in the middle of a block: no trap after POPF (TF
 * was clear when it started), the #DB trap after the instruction that
 * follows it (SDM Vol. 3A 18.3.1.4). */
static void test_block_popf_sets_tf(void **state)
{
	static const uint8_t prog[] = {
		0x9c,                                             /* pushfq */
		0x48, 0x81, 0x0c, 0x24, 0x00, 0x01, 0x00, 0x00,   /* or qword [rsp], 0x100 */
		0x9d,                                             /* popfq */
		0x48, 0xff, 0xc0,                                 /* inc rax: #DB after it */
		0x48, 0xff, 0xc0,                                 /* inc rax */
		0xf4,
	};
	struct tvm *vm;

	(void)state;
	vm = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	assert_one_exception(vm, EXC_DB, TVM_CODE + 13);
	assert_int_equal(regs(vm).gpr[0], 1);
	tvm_destroy(vm);
}

/* An instruction budget that ends in the middle of a block: exactly that
 * many instructions retire and are fetched, and the next run() goes on from
 * the next one. */
static void test_block_budget(void **state)
{
	uint8_t prog[31];
	struct vcpu_stats vs;
	struct tvm *vm = vm_new("skylake");
	struct vcpu_regs r;

	(void)state;
	ten_incs(prog);
	tvm_load_code(vm, TVM_CODE, prog, sizeof(prog));
	assert_int_equal(tvm_run(vm, 4), VCPU_EXIT_INSN_LIMIT);
	r = regs(vm);
	assert_int_equal(r.gpr[0], 4);
	assert_int_equal(r.rip, TVM_CODE + 12);
	vm->ops->get_stats(vm->vcpu, &vs);
	assert_int_equal(vs.instructions, 4);
	assert_int_equal(vs.fetches, 4);
	assert_int_equal(mmu_stats(vm->mmu)->by_access[2], 4);
	assert_int_equal(tvm_run(vm, 5), VCPU_EXIT_INSN_LIMIT);
	assert_int_equal(regs(vm).gpr[0], 9);
	expect_exit(vm, VCPU_EXIT_HLT);
	vm->ops->get_stats(vm->vcpu, &vs);
	assert_int_equal(regs(vm).gpr[0], 10);
	assert_int_equal(vs.instructions, 11);
	assert_int_equal(vs.fetches, 11);
	assert_int_equal(mmu_stats(vm->mmu)->by_access[2], 11);
	tvm_destroy(vm);
}

/* A loop with loads and stores between the fetches (each access settles
 * the fetches counted in bulk before it), 1000 times. */
static void test_block_loop_counts(void **state)
{
	static const uint8_t prog[] = {
		0xb9, 0xe8, 0x03, 0x00, 0x00,   /* mov ecx, 1000 */
		0x48, 0x03, 0x03,               /* 1: add rax, [rbx] */
		0x48, 0x89, 0x43, 0x08,         /* mov [rbx + 8], rax */
		0x48, 0xff, 0xc3,               /* inc rbx */
		0x48, 0xff, 0xc2,               /* inc rdx */
		0xff, 0xc9,                     /* dec ecx */
		0x75, 0xf0,                     /* jnz 1b */
		0xf4,
	};
	struct vcpu_stats vs;
	struct tvm *vm;

	(void)state;
	vm = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).gpr[2], 1000);
	vm->ops->get_stats(vm->vcpu, &vs);
	assert_int_equal(vs.instructions, 1 + 6 * 1000 + 1);
	assert_int_equal(vs.fetches, vs.instructions);
	assert_int_equal(vs.loads, 1000);
	assert_int_equal(vs.stores, 1000);
	tvm_destroy(vm);
}

/*
 * Loads that hit while fetches wait to be counted in bulk. With the Skylake
 * caches the L1 dTLB and iTLB are apart and the loads leave the fetches
 * waiting (test_block_loop_counts); here no L1 exists and one two-way STLB
 * holds code and data, so the order of their hits decides which entry is
 * the least recently used. Code page C1 ends with: load A (a miss, filled
 * beside C1), NOP, load A (a hit, two fetches waiting); the next fetch, on
 * C2, misses and evicts the least recently used: C1, whose last fetch came
 * before the hit on A. The load of A on C2 then hits: three walks, and five
 * hits (two fetches and a load on C1, the load and the HLT on C2).
 * Counting the waiting fetches after the hit would evict A instead.
 */
static void test_block_shared_tlb(void **state)
{
	static const uint8_t prog[] = {
		0x48, 0x8b, 0x03,               /* mov rax, [rbx] */
		0x90,                           /* nop */
		0x48, 0x8b, 0x03,               /* mov rax, [rbx]: the last bytes of C1 */
		0x48, 0x8b, 0x03,               /* C2: mov rax, [rbx] */
		0xf4,                           /* hlt */
	};
	struct mmu_config cfg = { .name = "shared" };
	const struct mmu_stats *ms;
	struct tvm *vm;

	(void)state;
	cfg.geom[TLB_L2_4K2M] = (struct cache_geom){ 2, 2 };
	vm = run_twins_mmu(&cfg, prog, sizeof(prog), TVM_CODE + 0x1000 - 7, RFL_FIXED, NULL,
			   VCPU_EXIT_HLT);
	ms = mmu_stats(vm->mmu);
	assert_int_equal(ms->walks, 3);
	assert_int_equal(ms->s[TLB_L2_4K2M].hits, 5);
	tvm_destroy(vm);
}

/*
 * MOV to and from [base + disp] with a 64-bit address has handlers of their
 * own that try the shortcut first (move.c, mem_read_hit): a first touch that
 * walks, hits, a 32-bit load that zero-extends, stores and loads across a
 * page end, a store into the running block and a #PF all go as the general
 * path goes, with the same counts.
 */
static void test_mov_base_disp(void **state)
{
	static const uint8_t prog[] = {
		0x48, 0xc7, 0xc2, 0x00, 0x00, 0x01, 0x00,  /* 00: mov rdx, TVM_CODE */
		0xb8, 0x2a, 0x00, 0x00, 0x00,              /* 07: mov eax, 42 */
		0x49, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff,  /* 0c: mov r8, -1 */
		0x48, 0x89, 0x43, 0x08,                    /* 13: mov [rbx + 8], rax: first touch, a walk */
		0x48, 0x89, 0x43, 0x10,                    /* 17: mov [rbx + 16], rax: a hit */
		0x48, 0x8b, 0x4b, 0x08,                    /* 1b: mov rcx, [rbx + 8] */
		0x44, 0x8b, 0x43, 0x08,                    /* 1f: mov r8d, [rbx + 8]: zero-extends */
		0x89, 0x83, 0xfe, 0x0f, 0x00, 0x00,        /* 23: mov [rbx + 0xffe], eax: across the page end */
		0x48, 0x8b, 0xbb, 0xfd, 0x0f, 0x00, 0x00,  /* 29: mov rdi, [rbx + 0xffd]: across it too */
		0x89, 0x42, 0x34,                          /* 30: mov [rdx + 0x34], eax: the next immediate */
		0xbd, 0x01, 0x00, 0x00, 0x00,              /* 33: mov ebp, 1: becomes 42 */
		0xf4,                                      /* 38: hlt */
	};
	static const uint8_t fault[] = {
		0x48, 0x8b, 0x4b, 0x08,                    /* mov rcx, [rbx + 8] */
		0x48, 0x8b, 0x46, 0x08,                    /* mov rax, [rsi + 8]: page 0, #PF */
		0xf4,
	};
	struct vcpu_stats vs;
	struct tvm_exc_record rec;
	struct vcpu_regs r;
	struct tvm *vm;

	(void)state;
	vm = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	r = regs(vm);
	assert_int_equal(r.rip, TVM_CODE + sizeof(prog));
	assert_int_equal(r.gpr[1], 42);                /* rcx */
	assert_int_equal(r.gpr[8], 42);                /* r8: upper half cleared */
	assert_int_equal(r.gpr[7], 0x2a00);            /* rdi: bytes 0xffd..0x1004 */
	assert_int_equal(r.gpr[5], 42);                /* rbp: the rewritten immediate */
	assert_int_equal(tvm_read64(vm, TVM_DATA + 16), 42);
	vm->ops->get_stats(vm->vcpu, &vs);
	/* Loads: two of one page, one of two pieces; stores: two, one of two
	 * pieces, one into the code. One fetch an instruction, two for none. */
	assert_int_equal(vs.loads, 2 + 2);
	assert_int_equal(vs.stores, 2 + 2 + 1);
	assert_int_equal(vs.instructions, 12);
	assert_int_equal(vs.fetches, 12);
	tvm_destroy(vm);

	vm = run_twins(fault, sizeof(fault), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	assert_one_exception(vm, EXC_PF, TVM_CODE + 4);
	tvm_exc_record(vm, &rec);
	assert_int_equal(rec.error, 0);
	assert_int_equal(rec.cr2, 8);
	tvm_destroy(vm);
}

/*
 * PUSH, POP, CALL and RET with 64-bit operands and reg op= [base + disp]
 * (hit paths first, the general handlers on a miss): the stack's first
 * touch walks, the rest hit; exact values and counts, twins.
 */
static void test_stack_alu_hit_paths(void **state)
{
	static const uint8_t prog[] = {
		0x48, 0xc7, 0xc0, 0x11, 0x11, 0x00, 0x00,  /* 00: mov rax, 0x1111 */
		0x50,                                      /* 07: push rax */
		0x41, 0x53,                                /* 08: push r11 (TVM_DATA) */
		0xe8, 0x06, 0x00, 0x00, 0x00,              /* 0a: call 15 */
		0x59,                                      /* 0f: pop rcx */
		0x5a,                                      /* 10: pop rdx */
		0xf4,                                      /* 11: hlt */
		0x90, 0x90, 0x90,
		0x48, 0x8b, 0x34, 0x24,                    /* 15: mov rsi, [rsp]: CODE + 0x0f */
		0x48, 0x03, 0x74, 0x24, 0x08,              /* 19: add rsi, [rsp + 8] */
		0x48, 0x3b, 0x74, 0x24, 0x10,              /* 1e: cmp rsi, [rsp + 16]: CF clear */
		0x19, 0xff,                                /* 23: sbb edi, edi: 0 */
		0x2b, 0x7c, 0x24, 0x10,                    /* 25: sub edi, [rsp + 16]: -0x1111, zero-extended */
		0xc2, 0x00, 0x00,                          /* 29: ret 0 */
	};
	/* Each first writes and reads the stack's page, so that the pops hit. */
	static const uint8_t pop_rsp[] = {
		0x48, 0x89, 0x4c, 0x24, 0xf8,                    /* mov [rsp - 8], rcx */
		0x48, 0x8b, 0x4c, 0x24, 0xf8,                    /* mov rcx, [rsp - 8] */
		0x48, 0x8d, 0x84, 0x24, 0x00, 0xff, 0xff, 0xff,  /* lea rax, [rsp - 0x100] */
		0x50,                                            /* push rax */
		0x5c,                                            /* pop rsp: the value read */
		0xf4,
	};
	static const uint8_t bad_ret[] = {
		0x48, 0x89, 0x4c, 0x24, 0xf8,              /* 00: mov [rsp - 8], rcx */
		0x48, 0x8b, 0x4c, 0x24, 0xf8,              /* 05: mov rcx, [rsp - 8] */
		0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0x80,     /* 0a: mov rax, 1 << 63 */
		0x50,                                      /* 14: push rax */
		0xc3,                                      /* 15: ret: #GP, RSP unchanged */
	};
	uint64_t gpr[16] = { [11] = TVM_DATA };
	struct vcpu_stats vs;
	struct tvm_exc_record rec;
	struct vcpu_regs r;
	struct tvm *vm;

	(void)state;
	vm = run_twins_regs(prog, sizeof(prog), TVM_CODE, RFL_FIXED, gpr, VCPU_EXIT_HLT);
	r = regs(vm);
	assert_int_equal(r.rip, TVM_CODE + 0x12);
	assert_int_equal(r.gpr[4], TVM_STACK_TOP);
	assert_int_equal(r.gpr[1], TVM_DATA);          /* rcx */
	assert_int_equal(r.gpr[2], 0x1111);            /* rdx */
	assert_int_equal(r.gpr[6], TVM_CODE + 0x0f + TVM_DATA);
	assert_int_equal(r.gpr[7], 0xffffeeefULL);     /* rdi */
	assert_int_equal(r.rflags & RFL_CF, RFL_CF);     /* 0 - 0x1111 borrows */
	vm->ops->get_stats(vm->vcpu, &vs);
	assert_int_equal(vs.instructions, 13);
	assert_int_equal(vs.fetches, 13);
	assert_int_equal(vs.stores, 3);                /* push, push, call */
	assert_int_equal(vs.loads, 7);                 /* mov, add, cmp, sub, ret, pop, pop */
	tvm_destroy(vm);

	vm = run_twins(pop_rsp, sizeof(pop_rsp), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).gpr[4], TVM_STACK_TOP - 0x100);
	tvm_destroy(vm);

	vm = run_twins(bad_ret, sizeof(bad_ret), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	assert_one_exception(vm, EXC_GP, TVM_CODE + 0x15);
	tvm_exc_record(vm, &rec);
	assert_int_equal(rec.error, 0);
	assert_int_equal(rec.rsp, TVM_STACK_TOP - 8);
	tvm_destroy(vm);
}

/* DIV with a dividend that fits 64 bits (the short path) and one that does
 * not, and the #DE of a 32-bit quotient that does not fit. */
static void test_div_forms(void **state)
{
	static const uint8_t prog[] = {
		0xb8, 0x64, 0x00, 0x00, 0x00,              /* mov eax, 100 */
		0x31, 0xd2,                                /* xor edx, edx */
		0xb9, 0x07, 0x00, 0x00, 0x00,              /* mov ecx, 7 */
		0x48, 0xf7, 0xf1,                          /* div rcx: 14 rem 2 */
		0x49, 0x89, 0xc0,                          /* mov r8, rax */
		0x49, 0x89, 0xd1,                          /* mov r9, rdx */
		0xba, 0x03, 0x00, 0x00, 0x00,              /* mov edx, 3 */
		0x48, 0x31, 0xc0,                          /* xor rax, rax */
		0x48, 0xc7, 0xc1, 0x10, 0x00, 0x00, 0x00,  /* mov rcx, 16 */
		0x48, 0xf7, 0xf1,                          /* div rcx: 3 << 60, rem 0 */
		0x49, 0x89, 0xc2,                          /* mov r10, rax */
		0xba, 0x01, 0x00, 0x00, 0x00,              /* mov edx, 1 */
		0xb8, 0x05, 0x00, 0x00, 0x00,              /* mov eax, 5 */
		0xb9, 0x02, 0x00, 0x00, 0x00,              /* mov ecx, 2 */
		0xf7, 0xf1,                                /* div ecx: 0x80000002 rem 1 */
		0xba, 0x02, 0x00, 0x00, 0x00,              /* mov edx, 2 */
		0xf7, 0xf1,                                /* div ecx: quotient 2^32 + ..: #DE */
		0xf4,
	};
	struct vcpu_regs r;
	struct tvm *vm;

	(void)state;
	vm = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	r = regs(vm);
	assert_int_equal(r.gpr[8], 14);
	assert_int_equal(r.gpr[9], 2);
	assert_int_equal(r.gpr[10], 3ULL << 60);
	assert_int_equal(r.gpr[0], 0x80000002ULL);     /* unchanged by the #DE */
	assert_int_equal(r.gpr[2], 2);
	assert_one_exception(vm, EXC_DE, TVM_CODE + sizeof(prog) - 3);
	tvm_destroy(vm);
}

/* The loop of test_block_loop_counts, its branch back followed inside a
 * run, cut by budgets of 2 to 13 instructions a run(): the same registers
 * and counts as one instruction a run(). */
static void test_block_budget_chunks(void **state)
{
	static const uint8_t prog[] = {
		0xb9, 0x64, 0x00, 0x00, 0x00,   /* mov ecx, 100 */
		0x48, 0x03, 0x03,               /* 1: add rax, [rbx] */
		0x48, 0xff, 0xc2,               /* inc rdx */
		0x48, 0x01, 0xd6,               /* add rsi, rdx */
		0xff, 0xc9,                     /* dec ecx */
		0x75, 0xf3,                     /* jnz 1b */
		0xf4,
	};
	struct tvm *one = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	struct vcpu_stats want, got;

	(void)state;
	one->ops->get_stats(one->vcpu, &want);
	assert_int_equal(want.instructions, 1 + 5 * 100 + 1);
	for (uint64_t chunk = 2; chunk <= 13; chunk++) {
		struct tvm *vm = vm_new("skylake");
		struct vcpu_regs rr;
		enum vcpu_exit_reason e;

		tvm_load_code(vm, TVM_CODE, prog, sizeof(prog));
		rr = regs(vm);
		rr.gpr[3] = TVM_DATA;
		set_regs(vm, &rr);
		/* Each run() that stops on its budget retires exactly that many. */
		for (uint64_t done = 0; (e = tvm_run(vm, chunk)) == VCPU_EXIT_INSN_LIMIT;) {
			done += chunk;
			vm->ops->get_stats(vm->vcpu, &got);
			assert_int_equal(got.instructions, done);
		}
		assert_int_equal(e, VCPU_EXIT_HLT);
		vm->ops->get_stats(vm->vcpu, &got);
		assert_memory_equal(&got, &want, sizeof(got));
		assert_int_equal(regs(vm).gpr[6], regs(one).gpr[6]);
		assert_int_equal(regs(vm).rip, regs(one).rip);
		assert_memory_equal(mmu_stats(vm->mmu), mmu_stats(one->mmu), sizeof(struct mmu_stats));
		tvm_destroy(vm);
	}
	tvm_destroy(one);
}

/*
 * Near transfers as threaded code: a JNZ taken back into its own block and
 * to the start of another, a CALL to the next page and RETs, each after a
 * register instruction so that they run in a chain; the last RET pops a
 * non-canonical target, which must leave the chain with nothing counted and
 * raise #GP(0) with RSP as it was. Twins, exact values and counts.
 */
static void test_threaded_transfers(void **state)
{
	static uint8_t prog[0x100b];
	static const uint8_t a[] = {
		0x48, 0x89, 0x4c, 0x24, 0xf8,   /* 00: mov [rsp - 8], rcx */
		0x48, 0x8b, 0x4c, 0x24, 0xf8,   /* 05: mov rcx, [rsp - 8] */
		0xb9, 0x32, 0x00, 0x00, 0x00,   /* 0a: mov ecx, 50 */
		0x31, 0xc0,                     /* 0f: xor eax, eax */
		0x48, 0x01, 0xc8,               /* 11: add rax, rcx */
		0xff, 0xc9,                     /* 14: dec ecx */
		0x75, 0xf9,                     /* 16: jnz 11 */
		0xe8, 0xe3, 0x0f, 0x00, 0x00,   /* 18: call 1000 */
		0x48, 0x01, 0xc2,               /* 1d: add rdx, rax */
		0x41, 0x50,                     /* 20: push r8 */
		0x4d, 0x89, 0xc1,               /* 22: mov r9, r8 */
		0xc3,                           /* 25: ret: #GP(0) */
	};
	static const uint8_t b[] = {
		0x48, 0xff, 0xc6,               /* 1000: inc rsi */
		0x48, 0x89, 0xf2,               /* 1003: mov rdx, rsi */
		0x4d, 0x89, 0xc1,               /* 1006: mov r9, r8 */
		0xc3,                           /* 1009: ret */
	};
	uint64_t gpr[16] = { [8] = 1ULL << 63 };
	struct tvm_exc_record rec;
	struct vcpu_regs r;
	struct tvm *vm;

	(void)state;
	memcpy(prog, a, sizeof(a));
	memcpy(prog + 0x1000, b, sizeof(b));
	vm = run_twins_regs(prog, sizeof(prog), TVM_CODE, RFL_FIXED, gpr, VCPU_EXIT_HLT);
	r = regs(vm);
	assert_int_equal(r.gpr[0], 50 * 51 / 2);
	assert_int_equal(r.gpr[1], 0);
	assert_int_equal(r.gpr[6], 1);
	assert_int_equal(r.gpr[2], 1 + 50 * 51 / 2);
	assert_int_equal(r.gpr[9], 1ULL << 63);
	assert_one_exception(vm, EXC_GP, TVM_CODE + 0x25);
	tvm_exc_record(vm, &rec);
	assert_int_equal(rec.error, 0);
	assert_int_equal(rec.rsp, TVM_STACK_TOP - 8);
	tvm_destroy(vm);
}

/*
 * Branches followed inside a chain: a JNS forward and a JNZ back, both to
 * records of the block they are in, so that the loop runs in threaded code
 * without returning to the run loop. Run whole (twins: one instruction a
 * run), then cut by budgets of 2 to 13 instructions a run(): each run()
 * retires exactly its budget, and everything ends the same.
 */
static void test_block_loop_in_chain(void **state)
{
	static const uint8_t prog[] = {
		0xb9, 0x28, 0x00, 0x00, 0x00,   /* 00: mov ecx, 40 */
		0x31, 0xc0,                     /* 05: xor eax, eax */
		0x01, 0xc8,                     /* 07: add eax, ecx */
		0x85, 0xc0,                     /* 09: test eax, eax */
		0x79, 0x02,                     /* 0b: jns 0f */
		0xff, 0xc2,                     /* 0d: inc edx (never runs) */
		0xff, 0xc3,                     /* 0f: inc ebx */
		0xff, 0xc3,                     /* 11: inc ebx */
		0xff, 0xc3,                     /* 13: inc ebx */
		0xff, 0xc3,                     /* 15: inc ebx */
		0xff, 0xc9,                     /* 17: dec ecx */
		0x75, 0xec,                     /* 19: jnz 07 */
		0xf4,                           /* 1b: hlt */
	};
	struct tvm *one = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	struct vcpu_stats want, got;

	(void)state;
	assert_int_equal(regs(one).gpr[0], 40 * 41 / 2);
	assert_int_equal(regs(one).gpr[1], 0);
	assert_int_equal(regs(one).gpr[2], 0);
	assert_int_equal(regs(one).gpr[3], TVM_DATA + 4 * 40);
	one->ops->get_stats(one->vcpu, &want);
	assert_int_equal(want.instructions, 2 + 9 * 40 + 1);
	assert_int_equal(want.fetches, want.instructions);
	for (uint64_t chunk = 2; chunk <= 13; chunk++) {
		struct tvm *vm = vm_new("skylake");
		enum vcpu_exit_reason e;

		uint64_t done = 0;

		tvm_load_code(vm, TVM_CODE, prog, sizeof(prog));
		while ((e = tvm_run(vm, chunk)) == VCPU_EXIT_INSN_LIMIT) {
			done += chunk;
			vm->ops->get_stats(vm->vcpu, &got);
			assert_int_equal(got.instructions, done);
		}
		assert_int_equal(e, VCPU_EXIT_HLT);
		/* The last run() retired the rest: at most its budget. */
		assert_true(want.instructions > done && want.instructions - done <= chunk);
		vm->ops->get_stats(vm->vcpu, &got);
		assert_memory_equal(&got, &want, sizeof(got));
		assert_int_equal(regs(vm).gpr[0], 40 * 41 / 2);
		assert_int_equal(regs(vm).rip, regs(one).rip);
		assert_memory_equal(mmu_stats(vm->mmu), mmu_stats(one->mmu), sizeof(struct mmu_stats));
		tvm_destroy(vm);
	}
	tvm_destroy(one);
}

/*
 * Run prog (loaded at TVM_CODE, rbx = TVM_DATA) cut by budgets of 2 to 13
 * instructions a run(): each run() that stops on its budget retires exactly
 * that many, and the registers and every count end as in `one`, the same
 * program run one instruction a run().
 */
static void assert_chunks_match(const uint8_t *prog, size_t len, struct tvm *one)
{
	struct vcpu_stats want, got;
	struct vcpu_regs r1 = regs(one);

	one->ops->get_stats(one->vcpu, &want);
	for (uint64_t chunk = 2; chunk <= 13; chunk++) {
		struct tvm *vm = vm_new("skylake");
		struct vcpu_regs rr;
		enum vcpu_exit_reason e;
		uint64_t done = 0;

		tvm_load_code(vm, TVM_CODE, prog, len);
		rr = regs(vm);
		rr.gpr[3] = TVM_DATA;
		set_regs(vm, &rr);
		if (twin_setup != NULL)
			twin_setup(vm);
		while ((e = tvm_run(vm, chunk)) == VCPU_EXIT_INSN_LIMIT) {
			done += chunk;
			vm->ops->get_stats(vm->vcpu, &got);
			assert_int_equal(got.instructions, done);
		}
		assert_int_equal(e, VCPU_EXIT_HLT);
		assert_true(want.instructions > done && want.instructions - done <= chunk);
		vm->ops->get_stats(vm->vcpu, &got);
		assert_memory_equal(&got, &want, sizeof(got));
		rr = regs(vm);
		assert_memory_equal(rr.gpr, r1.gpr, sizeof(rr.gpr));
		assert_int_equal(rr.rip, r1.rip);
		assert_memory_equal(mmu_stats(vm->mmu), mmu_stats(one->mmu), sizeof(struct mmu_stats));
		tvm_destroy(vm);
	}
}

/*
 * A JNZ back into its own block whose target's threaded run ends at a
 * record without threaded code (CLD): the run loop takes the chain back
 * in the middle of the block with the budget that is left.
 */
static void test_block_jump_then_unthreaded(void **state)
{
	static const uint8_t prog[] = {
		0xb9, 0x28, 0x00, 0x00, 0x00,   /* 00: mov ecx, 40 */
		0x31, 0xc0,                     /* 05: xor eax, eax */
		0x01, 0xc8,                     /* 07: add eax, ecx */
		0xff, 0xc6,                     /* 09: inc esi */
		0xfc,                           /* 0b: cld */
		0xff, 0xc7,                     /* 0c: inc edi */
		0xff, 0xc9,                     /* 0e: dec ecx */
		0x75, 0xf5,                     /* 10: jnz 07 */
		0xf4,                           /* 12: hlt */
	};
	struct tvm *one = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	struct mmu_config cfg;
	struct vcpu_stats st;

	(void)state;
	one->ops->get_stats(one->vcpu, &st);
	assert_int_equal(st.instructions, 2 + 6 * 40 + 1);
	assert_int_equal(regs(one).gpr[0], 40 * 41 / 2);
	assert_int_equal(regs(one).gpr[6], 40);
	assert_int_equal(regs(one).gpr[7], 40);
	assert_chunks_match(prog, sizeof(prog), one);
	tvm_destroy(one);
	/* With no TLB no fetch is counted in bulk, so no run goes on into
	 * other records, and a jump must not either: every fetch is made on
	 * its own, one a record, whole or one instruction a run(). */
	assert_int_equal(mmu_config_preset("none", &cfg), 0);
	one = run_twins_mmu(&cfg, prog, sizeof(prog), TVM_CODE, RFL_FIXED, NULL, VCPU_EXIT_HLT);
	one->ops->get_stats(one->vcpu, &st);
	assert_int_equal(st.fetches, 2 + 6 * 40 + 1);
	assert_int_equal(mmu_stats(one->mmu)->walks, 2 + 6 * 40 + 1);
	tvm_destroy(one);
}

/*
 * A loop of a million iterations in one run(): its jump back goes on in
 * the chain, and a chain stops going on after THREAD_RUN_MAX records, so
 * that where the records call each other instead of jumping (a build
 * without optimisation, the sanitizers') the host stack stays bounded.
 */
static void test_block_long_chain(void **state)
{
	static const uint8_t prog[] = {
		0xb9, 0x40, 0x42, 0x0f, 0x00,   /* 00: mov ecx, 1000000 */
		0x31, 0xc0,                     /* 05: xor eax, eax */
		0x01, 0xc8,                     /* 07: add eax, ecx */
		0x48, 0x8b, 0x13,               /* 09: mov rdx, [rbx] */
		0x48, 0x89, 0x03,               /* 0c: mov [rbx], rax */
		0xff, 0xc9,                     /* 0f: dec ecx */
		0x75, 0xf4,                     /* 11: jnz 07 */
		0xf4,                           /* 13: hlt */
	};
	struct tvm *vm = vm_new("skylake");
	struct vcpu_stats st;
	struct vcpu_regs r;
	uint32_t sum = (uint32_t)(1000000ULL * 1000001 / 2);

	(void)state;
	tvm_load_code(vm, TVM_CODE, prog, sizeof(prog));
	r = regs(vm);
	r.gpr[3] = TVM_DATA;
	set_regs(vm, &r);
	assert_int_equal(tvm_run(vm, 0), VCPU_EXIT_HLT);
	vm->ops->get_stats(vm->vcpu, &st);
	assert_int_equal(st.instructions, 2 + 5 * 1000000 + 1);
	assert_int_equal(st.fetches, st.instructions);
	assert_int_equal(st.loads, 1000000);
	assert_int_equal(st.stores, 1000000);
	assert_int_equal(regs(vm).gpr[0], sum);
	assert_int_equal(regs(vm).gpr[2], sum - 1);   /* the sum before the last add of 1 */
	tvm_destroy(vm);
}

/*
 * Taken transfers that go on into the threaded code of other blocks: a
 * CALL to the next page and its RET, a JMP and a JNZ to the starts of
 * blocks on the same page, one of them beginning a chain that a record
 * without threaded code (CLD) ends, and a load and a store on the way.
 * Whole (twins), and cut by budgets of 2 to 13.
 */
static void test_block_follow_transfers(void **state)
{
	static uint8_t prog[0x1008];
	static const uint8_t a[] = {
		0xb9, 0x1e, 0x00, 0x00, 0x00,   /* 00: mov ecx, 30 */
		0x31, 0xc0,                     /* 05: xor eax, eax */
		0x01, 0xc8,                     /* 07: add eax, ecx */
		0xe8, 0xf2, 0x0f, 0x00, 0x00,   /* 09: call 1000 */
		0xff, 0xc6,                     /* 0e: inc esi */
		0xeb, 0x02,                     /* 10: jmp 14 */
		0xff, 0xc7,                     /* 12: inc edi (never) */
		0xff, 0xc2,                     /* 14: inc edx */
		0xfc,                           /* 16: cld */
		0x48, 0x89, 0x03,               /* 17: mov [rbx], rax */
		0xff, 0xc9,                     /* 1a: dec ecx */
		0x75, 0xe9,                     /* 1c: jnz 07 */
		0xf4,                           /* 1e: hlt */
	};
	static const uint8_t b[] = {
		0x4c, 0x03, 0x03,               /* 1000: add r8, [rbx] */
		0x41, 0xff, 0xc1,               /* 1003: inc r9d */
		0xc3,                           /* 1006: ret */
	};
	struct tvm *one;
	struct vcpu_regs r;

	(void)state;
	memcpy(prog, a, sizeof(a));
	memcpy(prog + 0x1000, b, sizeof(b));
	one = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	r = regs(one);
	assert_int_equal(r.gpr[0], 30 * 31 / 2);
	assert_int_equal(r.gpr[2], 30);
	assert_int_equal(r.gpr[6], 30);
	assert_int_equal(r.gpr[7], 0);
	assert_int_equal(r.gpr[9], 30);
	/* r8 adds [rbx], the sum stored the iteration before: of 30, 30+29, ... */
	assert_int_equal(r.gpr[8], 8990);
	assert_chunks_match(prog, sizeof(prog), one);
	tvm_destroy(one);
}

/*
 * A CALL in a chain into a block whose bytes a store from another page
 * changed since it was decoded: the chain must not go on into the block
 * as it was decoded, but into the new code (INC R10D instead of INC R9D).
 * A first store of the same byte makes the second one a hit of the
 * model's shortcut, so that nothing but the block's epoch tells.
 */
static void test_block_follow_changed_code(void **state)
{
	static uint8_t prog[0x1004];
	static const uint8_t a[] = {
		0xc6, 0x05, 0xfb, 0x0f, 0x00, 0x00, 0xc1,   /* 00: mov byte [rip + 0xffb], 0xc1 */
		0xb9, 0x03, 0x00, 0x00, 0x00,   /* 07: mov ecx, 3 */
		0xe8, 0xef, 0x0f, 0x00, 0x00,   /* 0c: call 1000 */
		0xff, 0xc9,                     /* 11: dec ecx */
		0x75, 0xf7,                     /* 13: jnz 0c */
		0xc6, 0x05, 0xe6, 0x0f, 0x00, 0x00, 0xc2,   /* 15: mov byte [rip + 0xfe6], 0xc2 */
		0xff, 0xc0,                     /* 1c: inc eax */
		0xe8, 0xdd, 0x0f, 0x00, 0x00,   /* 1e: call 1000 */
		0xf4,                           /* 23: hlt */
	};
	static const uint8_t b[] = {
		0x41, 0xff, 0xc1,               /* 1000: inc r9d (then inc r10d) */
		0xc3,                           /* 1003: ret */
	};
	struct tvm *one;

	(void)state;
	memcpy(prog, a, sizeof(a));
	memcpy(prog + 0x1000, b, sizeof(b));
	one = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	assert_int_equal(regs(one).gpr[9], 3);
	assert_int_equal(regs(one).gpr[10], 1);
	assert_chunks_match(prog, sizeof(prog), one);
	tvm_destroy(one);
}

/* ------------------------------------------------------------------------ */
/* REP MOVS / REP STOS fast path (docs/softcpu.md, "String instructions")    */
/* ------------------------------------------------------------------------ */

#define RAX 0
#define RCX 1
#define RSI 6
#define RDI 7

/* REP STOSQ over three pages from 16 bytes into a page: whole pages at once,
 * the same counts as element by element. */
static void test_rep_stos_pages(void **state)
{
	static const uint8_t prog[] = { 0xf3, 0x48, 0xab, 0xf4 };   /* rep stosq; hlt */
	uint64_t gpr[16] = { [RAX] = 0x1122334455667788ULL, [RCX] = 1200, [RDI] = TVM_FREE + 0x10 };
	struct vcpu_stats vs;
	struct tvm *vm;

	(void)state;
	vm = run_twins_regs(prog, sizeof(prog), TVM_CODE, RFL_FIXED, gpr, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).gpr[RCX], 0);
	assert_int_equal(regs(vm).gpr[RDI], TVM_FREE + 0x10 + 1200 * 8);
	assert_int_equal(tvm_read64(vm, TVM_FREE + 0x8), 0);
	assert_int_equal(tvm_read64(vm, TVM_FREE + 0x10), 0x1122334455667788ULL);
	assert_int_equal(tvm_read64(vm, TVM_FREE + 0x1000), 0x1122334455667788ULL);
	assert_int_equal(tvm_read64(vm, TVM_FREE + 0x10 + 1199 * 8), 0x1122334455667788ULL);
	assert_int_equal(tvm_read64(vm, TVM_FREE + 0x10 + 1200 * 8), 0);
	vm->ops->get_stats(vm->vcpu, &vs);
	assert_int_equal(vs.stores, 1200);
	assert_int_equal(vs.instructions, 2);
	tvm_destroy(vm);
}

/* REP MOVSB into its own source 3 bytes on: a forward copy repeats the
 * first 3 bytes (the guest's order of elements, not memmove's). */
static void test_rep_movs_overlap(void **state)
{
	static const uint8_t prog[] = { 0xf3, 0xa4, 0xf4 };   /* rep movsb; hlt */
	uint64_t gpr[16] = { [RCX] = 5000, [RSI] = TVM_FREE, [RDI] = TVM_FREE + 3 };
	static const uint8_t head[] = { 0xa1, 0xb2, 0xc3 };
	struct vcpu_stats vs;
	struct tvm *vm;
	uint8_t out[5003];

	(void)state;
	vm = run_twins_regs(prog, sizeof(prog), TVM_CODE, RFL_FIXED, gpr, VCPU_EXIT_HLT);
	tvm_destroy(vm);
	/* Again with data in place (the twins start from zeroed RAM). */
	vm = vm_new("skylake");
	tvm_load_code(vm, TVM_CODE, prog, sizeof(prog));
	tvm_write(vm, TVM_FREE, head, sizeof(head));
	struct vcpu_regs r = regs(vm);
	r.gpr[RCX] = 5000;
	r.gpr[RSI] = TVM_FREE;
	r.gpr[RDI] = TVM_FREE + 3;
	set_regs(vm, &r);
	expect_exit(vm, VCPU_EXIT_HLT);
	tvm_read(vm, TVM_FREE, out, sizeof(out));
	for (size_t k = 0; k < sizeof(out); k++)
		assert_int_equal(out[k], head[k % 3]);
	vm->ops->get_stats(vm->vcpu, &vs);
	assert_int_equal(vs.loads, 5000);
	assert_int_equal(vs.stores, 5000);
	tvm_destroy(vm);
}

/* REP MOVSQ between pages that are not aligned alike: each run ends at
 * whichever page ends first. */
static void test_rep_movs_pages(void **state)
{
	static const uint8_t prog[] = { 0xf3, 0x48, 0xa5, 0xf4 };   /* rep movsq; hlt */
	uint64_t gpr[16] = { [RCX] = 1000, [RSI] = TVM_FREE + 0x100, [RDI] = TVM_FREE + 0x5000 - 0x18 };
	struct tvm *vm;

	(void)state;
	vm = run_twins_regs(prog, sizeof(prog), TVM_CODE, RFL_FIXED, gpr, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).gpr[RCX], 0);
	assert_int_equal(regs(vm).gpr[RSI], TVM_FREE + 0x100 + 8000);
	assert_int_equal(regs(vm).gpr[RDI], TVM_FREE + 0x5000 - 0x18 + 8000);
	tvm_destroy(vm);
}

/* REP STOSQ running into an unmapped page: #PF at its first byte with RCX
 * and RDI saying how far it got (SDM Vol. 2B REP: the registers reflect the
 * elements done). */
static void test_rep_stos_unmapped(void **state)
{
	static const uint8_t prog[] = { 0xf3, 0x48, 0xab, 0xf4 };
	uint64_t gpr[16] = { [RAX] = 5, [RCX] = 100, [RDI] = TVM_RAM_SIZE - 0x20 };
	struct tvm_exc_record rec;
	struct tvm *vm;

	(void)state;
	vm = run_twins_regs(prog, sizeof(prog), TVM_CODE, RFL_FIXED, gpr, VCPU_EXIT_HLT);
	tvm_exc_record(vm, &rec);
	assert_int_equal(rec.vector, EXC_PF);
	assert_int_equal(rec.rip, TVM_CODE);
	assert_int_equal(rec.cr2, TVM_RAM_SIZE);
	assert_int_equal(regs(vm).gpr[RCX], 96);
	assert_int_equal(regs(vm).gpr[RDI], TVM_RAM_SIZE);
	assert_int_equal(tvm_read64(vm, TVM_RAM_SIZE - 8), 5);
	tvm_destroy(vm);
}

/* REP STOSQ from RAM into a device page: the RAM elements are stored, then
 * each device element is an MMIO exit of its own, in order. */
static void test_rep_stos_into_mmio(void **state)
{
	static const uint8_t prog[] = { 0xf3, 0x48, 0xab, 0xf4 };
	struct tvm *vm = vm_new("skylake");
	struct vcpu_regs r;

	(void)state;
	assert_int_equal(tvm_map(vm, SPLIT_GVA, TVM_FREE + 0x10000, 0x1000, PTE_W), 0);
	assert_int_equal(tvm_map(vm, SPLIT_GVA + 0x1000, DEV_A, 0x1000, PTE_W), 0);
	code(vm, prog, sizeof(prog));
	r = regs(vm);
	r.gpr[RAX] = 0x77;
	r.gpr[RCX] = 6;
	r.gpr[RDI] = SPLIT_GVA + 0x1000 - 0x20;
	set_regs(vm, &r);
	for (int k = 0; k < 2; k++) {
		run_once(vm);
		assert_int_equal(vm->exit.reason, VCPU_EXIT_MMIO);
		assert_true(vm->exit.mmio.write);
		assert_int_equal(vm->exit.mmio.gpa, DEV_A + 8 * (uint64_t)k);
		assert_int_equal(vm->exit.mmio.size, 8);
		assert_int_equal(vm->exit.mmio.data, 0x77);
	}
	run_once(vm);
	assert_int_equal(vm->exit.reason, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).gpr[RCX], 0);
	for (int k = 0; k < 4; k++)
		assert_int_equal(tvm_read64(vm, TVM_FREE + 0x10000 + 0x1000 - 0x20 + 8 * (uint64_t)k), 0x77);
	tvm_destroy(vm);
}

/* The soft vCPU of a test VM (its struct vcpu is the last member). */
static struct vcpu_soft *soft_of(struct tvm *vm)
{
	return (struct vcpu_soft *)(void *)((char *)vm->vcpu - offsetof(struct vcpu_soft, base));
}

/*
 * Threaded loads, stores, ALU loads, PUSH and POP that miss the model's
 * shortcut (the first access of each kind to a page) are declined and made
 * by their handlers, which go to the model without looking the shortcut up
 * again (hit_missed); the next accesses hit it. 32-bit loads on that path
 * zero-extend. Whole, one instruction a
 * run(), and cut by budgets of 2 to 13: the same registers and counts, and
 * no miss left marked after a run.
 */
static void test_block_miss_goes_to_model(void **state)
{
	static const uint8_t prog[] = {
		0x31, 0xc0,                                 /* 00: xor eax, eax */
		0x48, 0x8b, 0x13,                           /* 02: mov rdx, [rbx]: read miss */
		0x48, 0x03, 0x43, 0x08,                     /* 05: add rax, [rbx+8]: hit */
		0x48, 0x89, 0x53, 0x10,                     /* 09: mov [rbx+16], rdx: write miss */
		0x48, 0x89, 0x43, 0x18,                     /* 0d: mov [rbx+24], rax: hit */
		0x52,                                       /* 11: push rdx: write miss */
		0x59,                                       /* 12: pop rcx: read miss */
		0x48, 0x8b, 0xb3, 0x00, 0x10, 0x00, 0x00,   /* 13: mov rsi, [rbx+0x1000]: miss */
		0x49, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff,   /* 1a: mov r8, -1 */
		0x44, 0x8b, 0x83, 0x00, 0x20, 0x00, 0x00,   /* 21: mov r8d, [rbx+0x2000]: miss, 0 */
		0x49, 0xc7, 0xc1, 0xff, 0xff, 0xff, 0xff,   /* 28: mov r9, -1 */
		0x44, 0x03, 0x8b, 0x00, 0x30, 0x00, 0x00,   /* 2f: add r9d, [rbx+0x3000]: miss */
		0x48, 0xff, 0xc0,                           /* 36: inc rax */
		0xf4,                                       /* 39: hlt */
	};
	struct tvm *one, *vm;
	struct vcpu_stats st;
	struct vcpu_regs r;

	(void)state;
	one = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	assert_false(soft_of(one)->hit_missed);
	one->ops->get_stats(one->vcpu, &st);
	assert_int_equal(st.instructions, 14);
	assert_int_equal(st.loads, 6);
	assert_int_equal(st.stores, 3);
	/* 32-bit results through the miss path zero-extend */
	assert_int_equal(regs(one).gpr[8], 0);
	assert_int_equal(regs(one).gpr[9], 0xffffffffULL);
	assert_chunks_match(prog, sizeof(prog), one);
	tvm_destroy(one);

	vm = vm_new("skylake");
	tvm_load_code(vm, TVM_CODE, prog, sizeof(prog));
	r = regs(vm);
	r.gpr[3] = TVM_DATA;
	set_regs(vm, &r);
	for (uint64_t budget = 2; budget < 5; budget++) {
		assert_int_equal(tvm_run(vm, budget), VCPU_EXIT_INSN_LIMIT);
		assert_false(soft_of(vm)->hit_missed);
	}
	tvm_destroy(vm);
}

/*
 * A threaded load whose shortcut lookup misses, to page 0, unmapped: the
 * handler's translation faults (#PF, CR2 = 8) and leaves no miss marked;
 * whole and one instruction a run(), the same registers and counts.
 */
static void test_block_miss_then_fault(void **state)
{
	static const uint8_t prog[] = {
		0x31, 0xc0,                                 /* 00: xor eax, eax */
		0x48, 0x8b, 0x93, 0x08, 0x00, 0xfe, 0xff,   /* 02: mov rdx, [rbx-0x1fff8]: [8] */
		0x48, 0xff, 0xc0,                           /* 09: inc rax */
		0xf4,                                       /* 0c: hlt */
	};
	struct tvm_exc_record rec;
	struct tvm *one;

	(void)state;
	one = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	assert_false(soft_of(one)->hit_missed);
	assert_one_exception(one, EXC_PF, TVM_CODE + 2);
	tvm_exc_record(one, &rec);
	assert_int_equal(rec.error, 0);
	assert_int_equal(rec.cr2, 8);
	assert_int_equal(regs(one).gpr[0], 0);   /* the handler halts: INC never runs */
	tvm_destroy(one);
}

/*
 * The vCPU's translations after a miss go to the model under its current
 * context without comparing it again (mmu_translate_cur): each run() makes
 * the vCPU's context current first. Between two runs, something else (hv's
 * walk command, a test) translates on the same MMU under another VPID
 * whose CR3 points at an empty table: the vCPU's next load and store, which
 * miss the shortcut after that switch, still use the guest's own tables.
 */
static void test_other_context_between_runs(void **state)
{
	static const uint8_t prog[] = {
		0x31, 0xc9,                 /* 00: xor ecx, ecx */
		0x48, 0x8b, 0x03,           /* 02: mov rax, [rbx] */
		0x48, 0x89, 0x43, 0x08,     /* 05: mov [rbx+8], rax */
		0xf4,                       /* 09: hlt */
	};
	struct tvm *vm = vm_new("skylake");
	struct tvm_exc_record rec;
	struct mmu_result res;
	struct mmu_ctx other;
	struct vcpu_regs r;

	(void)state;
	tvm_load_code(vm, TVM_CODE, prog, sizeof(prog));
	tvm_write64(vm, TVM_DATA, 0x1122334455667788ULL);
	r = regs(vm);
	r.gpr[3] = TVM_DATA;
	set_regs(vm, &r);
	assert_int_equal(tvm_run(vm, 1), VCPU_EXIT_INSN_LIMIT);   /* the XOR */
	other = soft_of(vm)->ctx;
	other.cr3 = TVM_FREE;                                       /* zeroed: nothing present */
	other.vpid++;                                               /* none of its entries cached */
	mmu_translate(vm->mmu, &other, TVM_DATA, ACC_READ, &res);
	assert_int_not_equal(res.status, MMU_OK);
	assert_int_equal(tvm_run(vm, 0), VCPU_EXIT_HLT);
	tvm_exc_record(vm, &rec);
	assert_int_equal(rec.count, 0);
	assert_int_equal(regs(vm).gpr[0], 0x1122334455667788ULL);
	assert_int_equal(tvm_read64(vm, TVM_DATA + 8), 0x1122334455667788ULL);
	tvm_destroy(vm);
}

/*
 * Loads and stores that miss the shortcut while the fetches of the running
 * page are counted in bulk. With the L1 iTLBs the fetches stay deferred
 * across the data translations (none touches the iTLBs:
 * mmu_hit_data_apart). Without them, fetches hit a small STLB (4 sets of 4
 * ways) that the data misses fill, where the order of the stamps decides
 * which entry is evicted: each data miss must count the fetches first, else
 * the code page's entry looks older than it is and is evicted by the loop's
 * fills, and the fetch after the CALL's return walks again. Whole and one
 * instruction a run(), the same registers and every count; with the iTLBs
 * also cut by budgets of 2 to 13.
 */
static void test_data_miss_fetch_order(void **state)
{
	static uint8_t prog[0x1003];
	static const uint8_t a[] = {
		0x31, 0xc0,                                 /* 00: xor eax, eax */
		0xbf, 0x02, 0x00, 0x00, 0x00,               /* 02: mov edi, 2 */
		0xbb, 0x00, 0x00, 0x20, 0x00,               /* 07: mov ebx, 0x200000 */
		0xb9, 0xc8, 0x00, 0x00, 0x00,               /* 0c: mov ecx, 200 */
		0x48, 0x03, 0x03,                           /* 11: add rax, [rbx]: miss */
		0x48, 0x89, 0x03,                           /* 14: mov [rbx], rax: miss */
		0x48, 0x81, 0xc3, 0x00, 0x10, 0x00, 0x00,   /* 17: add rbx, 0x1000 */
		0xff, 0xc9,                                 /* 1e: dec ecx */
		0x75, 0xef,                                 /* 20: jnz 11 */
		0xff, 0xcf,                                 /* 22: dec edi */
		0x75, 0xe1,                                 /* 24: jnz 07 */
		0xe8, 0xd5, 0x0f, 0x00, 0x00,               /* 26: call 1000 */
		0xf4,                                       /* 2b: hlt */
	};
	static const uint8_t b[] = {
		0xff, 0xc6,                                 /* 1000: inc esi */
		0xc3,                                       /* 1002: ret */
	};
	struct mmu_config cfg;
	struct vcpu_stats st;
	struct tvm *one;

	(void)state;
	memcpy(prog, a, sizeof(a));
	memcpy(prog + 0x1000, b, sizeof(b));
	one = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	one->ops->get_stats(one->vcpu, &st);
	assert_int_equal(st.instructions, 2 + 2 * (2 + 200 * 5 + 2) + 4);
	assert_int_equal(st.fetches, 2 + 2 * (2 + 200 * 5 + 2) + 4);
	assert_int_equal(st.loads, 2 * 200 + 1);
	assert_int_equal(st.stores, 2 * 200 + 1);
	assert_int_equal(regs(one).gpr[6], 1);
	assert_chunks_match(prog, sizeof(prog), one);
	tvm_destroy(one);

	assert_int_equal(mmu_config_preset("skylake", &cfg), 0);
	cfg.geom[TLB_L1I_4K] = (struct cache_geom){ 0 };
	cfg.geom[TLB_L1I_2M] = (struct cache_geom){ 0 };
	cfg.geom[TLB_L2_4K2M] = (struct cache_geom){ 16, 4 };
	one = run_twins_mmu(&cfg, prog, sizeof(prog), TVM_CODE, RFL_FIXED, NULL, VCPU_EXIT_HLT);
	assert_true(mmu_stats(one->mmu)->s[TLB_L2_4K2M].evictions > 300);
	tvm_destroy(one);
}

/*
 * A threaded store whose shortcut lookup misses, to a frame a block was
 * decoded from, on another page than the running one: the model's
 * translation is made in the chain (mem_miss_chain), but the store goes
 * back to the handler, which marks the frame's blocks stale (code_store),
 * so the next CALL runs the new bytes. The first store (the same bytes)
 * sets the page's dirty flag, and INVLPG drops its TLB entries, so that
 * the second store misses with nothing to write in the tables: only the
 * code-frame test stops it in the chain. Whole, one instruction a run(),
 * and cut by budgets of 2 to 13.
 */
static void test_chain_miss_store_to_code(void **state)
{
	static uint8_t prog[0x1003];
	static const uint8_t a[] = {
		0xe8, 0xfb, 0x0f, 0x00, 0x00,   /* 00: call 1000 */
		0x48, 0x89, 0x13,               /* 05: mov [rbx], rdx: the same bytes */
		0x0f, 0x01, 0x3b,               /* 08: invlpg [rbx] */
		0xe8, 0xf0, 0x0f, 0x00, 0x00,   /* 0b: call 1000 */
		0x48, 0x89, 0x33,               /* 10: mov [rbx], rsi: inc edi */
		0xe8, 0xe8, 0x0f, 0x00, 0x00,   /* 13: call 1000 */
		0xf4,                           /* 18: hlt */
	};
	static const uint8_t b[] = {
		0xff, 0xc1,                     /* 1000: inc ecx (then inc edi) */
		0xc3,                           /* 1002: ret */
	};
	uint64_t gpr[16] = { 0 };
	struct tvm *one;

	(void)state;
	memcpy(prog, a, sizeof(a));
	memcpy(prog + 0x1000, b, sizeof(b));
	gpr[3] = TVM_CODE + 0x1000;
	gpr[2] = 0xc3c1ffULL;
	gpr[6] = 0xc3c7ffULL;
	one = run_twins_regs(prog, sizeof(prog), TVM_CODE, RFL_FIXED, gpr, VCPU_EXIT_HLT);
	assert_int_equal(regs(one).gpr[1], 2);
	assert_int_equal(regs(one).gpr[7], 1);
	tvm_destroy(one);
}

/*
 * A RET whose threaded code goes on into the block after the CALL: the
 * block it went on into last and that page's slot of the model's shortcut
 * are hints kept in the RET's block (struct block), used only when they
 * are what the lookups would give. Here the callee adds RDX to its return
 * address, 0 on the first two calls and 7 on the third, so that the third
 * RET goes to 1d (INC EDI), not to the block at 16 its hint names. Whole,
 * one instruction a run() and cut by budgets: the same registers and
 * counts. Fails when the block hint is taken without its key compared.
 */
static void test_ret_hint_other_address(void **state)
{
	static uint8_t prog[0x1005];
	static const uint8_t a[] = {
		0xb9, 0x03, 0x00, 0x00, 0x00,   /* 00: mov ecx, 3 */
		0x31, 0xd2,                     /* 05: xor edx, edx */
		0x83, 0xf9, 0x01,               /* 07: cmp ecx, 1 */
		0x75, 0x05,                     /* 0a: jne 11 */
		0xba, 0x07, 0x00, 0x00, 0x00,   /* 0c: mov edx, 7 */
		0xe8, 0xea, 0x0f, 0x00, 0x00,   /* 11: call 1000 */
		0xff, 0xc6,                     /* 16: inc esi */
		0xff, 0xc9,                     /* 18: dec ecx */
		0x75, 0xe9,                     /* 1a: jne 05 */
		0xf4,                           /* 1c: hlt */
		0xff, 0xc7,                     /* 1d: inc edi */
		0xf4,                           /* 1f: hlt */
	};
	static const uint8_t b[] = {
		0x48, 0x01, 0x14, 0x24,         /* 1000: add [rsp], rdx */
		0xc3,                           /* 1004: ret */
	};
	struct tvm *one;

	(void)state;
	memcpy(prog, a, sizeof(a));
	memcpy(prog + 0x1000, b, sizeof(b));
	one = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	assert_int_equal(regs(one).rip, TVM_CODE + 0x20);
	assert_int_equal(regs(one).gpr[1], 1);
	assert_int_equal(regs(one).gpr[6], 2);
	assert_int_equal(regs(one).gpr[7], 1);
	assert_chunks_match(prog, sizeof(prog), one);
	tvm_destroy(one);
}

/*
 * The callee stores DL over the code the RET returns to: the same byte
 * (INC ESI) on the first three calls, INC EDI's on the fourth. The first
 * store sets the page's dirty flag, so that the others hit the model's
 * shortcut and the RET after them runs as threaded code, whose hint names
 * the block at 19 as decoded before the store: it must not run again.
 * Fails when a hinted block is taken without its epoch compared.
 */
static void test_ret_hint_code_written(void **state)
{
	static uint8_t prog[0x1007];
	static const uint8_t a[] = {
		0xb9, 0x04, 0x00, 0x00, 0x00,   /* 00: mov ecx, 4 */
		0xba, 0xc6, 0x00, 0x00, 0x00,   /* 05: mov edx, 0xc6 */
		0x83, 0xf9, 0x01,               /* 0a: cmp ecx, 1 */
		0x75, 0x05,                     /* 0d: jne 14 */
		0xba, 0xc7, 0x00, 0x00, 0x00,   /* 0f: mov edx, 0xc7 */
		0xe8, 0xe7, 0x0f, 0x00, 0x00,   /* 14: call 1000 */
		0xff, 0xc6,                     /* 19: inc esi (then inc edi) */
		0xff, 0xc9,                     /* 1b: dec ecx */
		0x75, 0xe6,                     /* 1d: jnz 05 */
		0xf4,                           /* 1f: hlt */
	};
	static const uint8_t b[] = {
		0x88, 0x15, 0x14, 0xf0, 0xff, 0xff,   /* 1000: mov [rip - 0xfec], dl: [1a] */
		0xc3,                           /* 1006: ret */
	};
	struct tvm *one;

	(void)state;
	memcpy(prog, a, sizeof(a));
	memcpy(prog + 0x1000, b, sizeof(b));
	one = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	assert_int_equal(regs(one).gpr[1], 0);
	assert_int_equal(regs(one).gpr[6], 3);
	assert_int_equal(regs(one).gpr[7], 1);
	assert_chunks_match(prog, sizeof(prog), one);
	tvm_destroy(one);
}

/*
 * A second address space for test_ret_hint_other_space: a copy of the
 * guest's tables along the path of TVM_CODE (one table a level, at
 * TVM_FREE + 0x20000 on), whose last entry maps TVM_CODE to a copy of its
 * frame at TVM_FREE + 0x10000 with the byte at 0b changed to c7 (INC ESI
 * becomes INC EDI); RAX gets its CR3. Every present entry of the copies
 * has its accessed flag set, and those of the last level their dirty flag
 * too, so that no walk in the new space writes guest memory (which would
 * make every block be compared again).
 */
static void other_space_setup(struct tvm *vm)
{
	uint64_t frame = TVM_FREE + 0x10000, at = TVM_FREE + 0x20000, table, cr3, entry = 0;
	static uint64_t page[512];
	struct vcpu_sregs sr;
	struct vcpu_regs r;

	assert_int_equal(tvm_get_sregs(vm, &sr), 0);
	table = sr.cr3 & PTE_ADDR_MASK;
	cr3 = at | (sr.cr3 & ~PTE_ADDR_MASK);
	for (unsigned shift = 39; shift >= 12; shift -= 9, at += 0x1000) {
		tvm_read(vm, table, page, sizeof(page));
		for (unsigned i = 0; i < 512; i++)
			if (page[i] & PTE_P)
				page[i] |= PTE_A | (shift == 12 ? PTE_D : 0);
		tvm_write(vm, at, page, sizeof(page));
		if (entry != 0)
			tvm_write64(vm, entry, (tvm_read64(vm, entry) & ~PTE_ADDR_MASK) | at);
		entry = at + ((TVM_CODE >> shift) & 511) * 8;
		table = tvm_read64(vm, entry) & PTE_ADDR_MASK;
	}
	tvm_read(vm, table, page, sizeof(page));
	((uint8_t *)page)[0x0b] = 0xc7;
	tvm_write(vm, frame, page, sizeof(page));
	tvm_write64(vm, entry, (tvm_read64(vm, entry) & ~PTE_ADDR_MASK) | frame);
	r = regs(vm);
	r.gpr[0] = cr3;
	set_regs(vm, &r);
}

/*
 * On the fourth call the callee loads CR3 with another address space
 * (other_space_setup), where the RET's return address lies on a frame with
 * other code. The RET is in a block of its own (reached by a JMP on every
 * call), whose hints name the first space's slot of the model's shortcut
 * for the return page and its block there; the load of [RSP] before it
 * misses the flushed TLBs and is translated in the chain, so the RET runs
 * as threaded code with those hints, which must give way to the new
 * space's translation. Fails when a hinted slot is taken without its tag
 * and generation compared.
 */
static void test_ret_hint_other_space(void **state)
{
	static uint8_t prog[0x1011];
	static const uint8_t a[] = {
		0xb9, 0x04, 0x00, 0x00, 0x00,   /* 00: mov ecx, 4 */
		0xe8, 0xf6, 0x0f, 0x00, 0x00,   /* 05: call 1000 */
		0xff, 0xc6,                     /* 0a: inc esi (inc edi in the other space) */
		0xff, 0xc9,                     /* 0c: dec ecx */
		0x75, 0xf5,                     /* 0e: jnz 05 */
		0xf4,                           /* 10: hlt */
	};
	static const uint8_t b[] = {
		0x83, 0xf9, 0x01,               /* 1000: cmp ecx, 1 */
		0x75, 0x05,                     /* 1003: jne 100a */
		0x0f, 0x22, 0xd8,               /* 1005: mov cr3, rax */
		0xeb, 0x02,                     /* 1008: jmp 100c */
		0xeb, 0x00,                     /* 100a: jmp 100c */
		0x48, 0x8b, 0x14, 0x24,         /* 100c: mov rdx, [rsp] */
		0xc3,                           /* 1010: ret */
	};
	struct tvm *one;

	(void)state;
	memcpy(prog, a, sizeof(a));
	memcpy(prog + 0x1000, b, sizeof(b));
	twin_setup = other_space_setup;
	one = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	assert_int_equal(regs(one).gpr[1], 0);
	assert_int_equal(regs(one).gpr[2], TVM_CODE + 0x0a);
	assert_int_equal(regs(one).gpr[6], 3);
	assert_int_equal(regs(one).gpr[7], 1);
	assert_chunks_match(prog, sizeof(prog), one);
	twin_setup = NULL;
	tvm_destroy(one);
}

/*
 * On the fourth call the callee invalidates the return page's translation
 * (INVLPG [RAX]) and jumps to the RET, in a block of its own whose hint
 * names the shortcut's slot that served the return page's fetches: the slot
 * still holds the page, but the model's entry behind it is gone, so the
 * fetch at the return address must walk and be counted as a miss, as it
 * is one instruction a run(). Fails when a hinted slot is taken without
 * its entry's generation compared.
 */
static void test_ret_hint_invlpg(void **state)
{
	static uint8_t prog[0x100d];
	static const uint8_t a[] = {
		0xb9, 0x04, 0x00, 0x00, 0x00,   /* 00: mov ecx, 4 */
		0xe8, 0xf6, 0x0f, 0x00, 0x00,   /* 05: call 1000 */
		0xff, 0xc6,                     /* 0a: inc esi */
		0xff, 0xc9,                     /* 0c: dec ecx */
		0x75, 0xf5,                     /* 0e: jnz 05 */
		0xf4,                           /* 10: hlt */
	};
	static const uint8_t b[] = {
		0x83, 0xf9, 0x01,               /* 1000: cmp ecx, 1 */
		0x75, 0x05,                     /* 1003: jne 100a */
		0x0f, 0x01, 0x38,               /* 1005: invlpg [rax] */
		0xeb, 0x02,                     /* 1008: jmp 100c */
		0xeb, 0x00,                     /* 100a: jmp 100c */
		0xc3,                           /* 100c: ret */
	};
	uint64_t gpr[16] = { 0 };
	struct tvm *one;

	(void)state;
	memcpy(prog, a, sizeof(a));
	memcpy(prog + 0x1000, b, sizeof(b));
	gpr[0] = TVM_CODE;
	gpr[3] = TVM_DATA;
	one = run_twins_regs(prog, sizeof(prog), TVM_CODE, RFL_FIXED, gpr, VCPU_EXIT_HLT);
	assert_int_equal(regs(one).gpr[1], 0);
	assert_int_equal(regs(one).gpr[6], 4);
	tvm_destroy(one);
}

/*
 * RET imm16 as threaded code (its own: RET releases 8 bytes and imm16 more,
 * SDM Vol. 2B RET): the caller pushes an argument before each CALL, the
 * callee adds it and returns with RET 8, so RSP ends where it started.
 * Whole, one instruction a run() and cut by budgets: the same registers.
 */
static void test_threaded_ret_imm(void **state)
{
	static uint8_t prog[0x1008];
	static const uint8_t a[] = {
		0xb9, 0x03, 0x00, 0x00, 0x00,   /* 00: mov ecx, 3 */
		0x51,                           /* 05: push rcx */
		0xe8, 0xf5, 0x0f, 0x00, 0x00,   /* 06: call 1000 */
		0xff, 0xc9,                     /* 0b: dec ecx */
		0x75, 0xf6,                     /* 0d: jnz 05 */
		0x48, 0x89, 0xe2,               /* 0f: mov rdx, rsp */
		0xf4,                           /* 12: hlt */
	};
	static const uint8_t b[] = {
		0x48, 0x03, 0x44, 0x24, 0x08,   /* 1000: add rax, [rsp+8] */
		0xc2, 0x08, 0x00,               /* 1005: ret 8 */
	};
	struct tvm *one;

	(void)state;
	memcpy(prog, a, sizeof(a));
	memcpy(prog + 0x1000, b, sizeof(b));
	one = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	assert_int_equal(regs(one).gpr[0], 6);
	assert_int_equal(regs(one).gpr[2], TVM_STACK_TOP);
	assert_int_equal(regs(one).gpr[4], TVM_STACK_TOP);
	assert_chunks_match(prog, sizeof(prog), one);
	tvm_destroy(one);
}

/* TVM_DATA holds 1 and the page after it 0x100 (test_load_hint_pages). */
static void two_pages_setup(struct tvm *vm)
{
	tvm_write64(vm, TVM_DATA, 1);
	tvm_write64(vm, TVM_DATA + 0x1000, 0x100);
}

/*
 * One threaded load whose address moves between two pages that the model's
 * shortcut holds: the slot its record took last (h_slot) is a hint, taken
 * only when it holds the page of this access. Six loads, three from each
 * page: RAX = 3 + 3 * 0x100. Whole, one instruction a run() and cut by
 * budgets: the same registers and counts. Fails when a hinted slot is
 * taken without its tag compared (every load would read the first page).
 */
static void test_load_hint_pages(void **state)
{
	static const uint8_t prog[] = {
		0xb9, 0x06, 0x00, 0x00, 0x00,               /* 00: mov ecx, 6 */
		0x31, 0xc0,                                 /* 05: xor eax, eax */
		0x48, 0x8b, 0x13,                           /* 07: mov rdx, [rbx] */
		0x48, 0x01, 0xd0,                           /* 0a: add rax, rdx */
		0x48, 0x81, 0xf3, 0x00, 0x10, 0x00, 0x00,   /* 0d: xor rbx, 0x1000 */
		0xff, 0xc9,                                 /* 14: dec ecx */
		0x75, 0xef,                                 /* 16: jnz 07 */
		0xf4,                                       /* 18: hlt */
	};
	struct tvm *one;

	(void)state;
	twin_setup = two_pages_setup;
	one = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	assert_int_equal(regs(one).gpr[0], 3 + 3 * 0x100);
	assert_int_equal(regs(one).gpr[3], TVM_DATA);
	assert_chunks_match(prog, sizeof(prog), one);
	twin_setup = NULL;
	tvm_destroy(one);
}

/*
 * A threaded load that hits the model's shortcut twice (its record keeps
 * the slot as its hint), then 80 loads from the pages after it, which evict
 * its page's entry from the L1 dTLB (64 entries, 4 ways) while the slot,
 * which no other page uses, still names the page: the next time the load's
 * hint holds the page but not a live entry, and the load must go to the
 * model, as it does one instruction a run(). Fails when a hinted slot is
 * taken without its entry's generation compared (the twins' hit and walk
 * counts differ).
 */
static void test_load_hint_evicted(void **state)
{
	static const uint8_t prog[] = {
		0xb9, 0x03, 0x00, 0x00, 0x00,               /* 00: mov ecx, 3 */
		0x41, 0xb9, 0x02, 0x00, 0x00, 0x00,         /* 05: mov r9d, 2 */
		0x48, 0x8b, 0x03,                           /* 0b: mov rax, [rbx] */
		0x41, 0xff, 0xc9,                           /* 0e: dec r9d */
		0x75, 0xf8,                                 /* 11: jnz 0b */
		0x48, 0x89, 0xde,                           /* 13: mov rsi, rbx */
		0xbf, 0x50, 0x00, 0x00, 0x00,               /* 16: mov edi, 80 */
		0x48, 0x81, 0xc6, 0x00, 0x10, 0x00, 0x00,   /* 1b: add rsi, 0x1000 */
		0x4c, 0x8b, 0x06,                           /* 22: mov r8, [rsi] */
		0xff, 0xcf,                                 /* 25: dec edi */
		0x75, 0xf2,                                 /* 27: jnz 1b */
		0xff, 0xc9,                                 /* 29: dec ecx */
		0x75, 0xd8,                                 /* 2b: jnz 05 */
		0xf4,                                       /* 2d: hlt */
	};
	struct tvm *one;

	(void)state;
	twin_setup = two_pages_setup;
	one = run_twins(prog, sizeof(prog), TVM_CODE, RFL_FIXED, VCPU_EXIT_HLT);
	assert_int_equal(regs(one).gpr[0], 1);
	assert_int_equal(regs(one).gpr[6], TVM_DATA + 80 * 0x1000);
	assert_true(mmu_stats(one->mmu)->s[TLB_L1D_4K].evictions >= 3);
	assert_chunks_match(prog, sizeof(prog), one);
	twin_setup = NULL;
	tvm_destroy(one);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_df_after_serial_chain),
		cmocka_unit_test(test_triple_fault_names_chain),
		cmocka_unit_test(test_mmio_read_split),
		cmocka_unit_test(test_mmio_cmps_two_loads),
		cmocka_unit_test(test_mmio_farptr_two_loads),
		cmocka_unit_test(test_mmio_write_split),
		cmocka_unit_test(test_stac_clac_cpl3_ud),
		cmocka_unit_test(test_sysenter_msrs),
		cmocka_unit_test(test_mcg_cap),
		cmocka_unit_test(test_rdpmc_cache_lines),
		cmocka_unit_test(test_cpu_model),
		cmocka_unit_test(test_vendor_cpuid),
		cmocka_unit_test(test_vendor_parse),
		cmocka_unit_test(test_syscall_compat_vendor),
		cmocka_unit_test(test_amd_perf_counters),
		cmocka_unit_test(test_protection_keys),
		cmocka_unit_test(test_cr8_exits_on_lowering),
		cmocka_unit_test(test_phys_bits_reserved),
		cmocka_unit_test(test_cr3_bit63_without_pcide),
		cmocka_unit_test(test_cr0_pg_clear_with_pcide),
		cmocka_unit_test(test_block_page_end),
		cmocka_unit_test(test_block_fault_inside),
		cmocka_unit_test(test_block_code_written),
		cmocka_unit_test(test_block_code_written_threaded),
		cmocka_unit_test(test_block_code_written_elsewhere),
		cmocka_unit_test(test_block_code_compared_marks),
		cmocka_unit_test(test_block_fault_frame_on_code),
		cmocka_unit_test(test_event_accesses_on_hit_path),
		cmocka_unit_test(test_threaded_push_pop),
		cmocka_unit_test(test_threaded_register_forms),
		cmocka_unit_test(test_threaded_imm_mem_forms),
		cmocka_unit_test(test_block_cross_page_calls),
		cmocka_unit_test(test_threaded_transfers),
		cmocka_unit_test(test_block_loop_in_chain),
		cmocka_unit_test(test_block_jump_then_unthreaded),
		cmocka_unit_test(test_block_follow_transfers),
		cmocka_unit_test(test_block_follow_changed_code),
		cmocka_unit_test(test_block_long_chain),
		cmocka_unit_test(test_block_miss_goes_to_model),
		cmocka_unit_test(test_block_miss_then_fault),
		cmocka_unit_test(test_other_context_between_runs),
		cmocka_unit_test(test_data_miss_fetch_order),
		cmocka_unit_test(test_chain_miss_store_to_code),
		cmocka_unit_test(test_ret_hint_other_address),
		cmocka_unit_test(test_ret_hint_code_written),
		cmocka_unit_test(test_ret_hint_other_space),
		cmocka_unit_test(test_ret_hint_invlpg),
		cmocka_unit_test(test_threaded_ret_imm),
		cmocka_unit_test(test_load_hint_pages),
		cmocka_unit_test(test_load_hint_evicted),
		cmocka_unit_test(test_block_code_changed_from_other_page),
		cmocka_unit_test(test_block_single_step),
		cmocka_unit_test(test_block_loop_counts),
		cmocka_unit_test(test_block_shared_tlb),
		cmocka_unit_test(test_mov_base_disp),
		cmocka_unit_test(test_stack_alu_hit_paths),
		cmocka_unit_test(test_div_forms),
		cmocka_unit_test(test_block_popf_sets_tf),
		cmocka_unit_test(test_block_budget),
		cmocka_unit_test(test_block_budget_chunks),
		cmocka_unit_test(test_rep_stos_pages),
		cmocka_unit_test(test_rep_movs_overlap),
		cmocka_unit_test(test_rep_movs_pages),
		cmocka_unit_test(test_rep_stos_unmapped),
		cmocka_unit_test(test_rep_stos_into_mmio),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
