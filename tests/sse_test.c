/* SPDX-License-Identifier: MIT */
/*
 * tests/sse_test.c - SSE and SSE2 in the software vCPU (hv/cpu/sse.c).
 *
 * Part 1, exact cases: the CR0/CR4 rules (#UD with CR4.OSFXSR clear or
 * CR0.EM set, #NM with CR0.TS set), #GP(0) for a misaligned 128-bit operand,
 * #XM or #UD for an unmasked SIMD floating-point exception with the
 * destination unchanged, LDMXCSR's #GP(0), the FXSAVE image and FXRSTOR,
 * a 16-byte load and store on a device page, a page-split store that faults.
 *
 * Part 2, differential against the host CPU: each form runs HV_TEST_ITERS
 * times (default 1000) on random XMM registers, general registers, flags,
 * memory and MXCSR (every rounding mode, DAZ, FZ, masked and unmasked
 * exceptions), with lanes drawn from zeros, infinities, quiet and signalling
 * NaNs, denormals, the extremes of each format and values near the edges of
 * the integer conversions. The same code - load every register from a
 * scratch area, LDMXCSR, POPFQ, the instruction, then store everything back -
 * runs natively at CODE_VA and in the vCPU at the same guest-virtual
 * address. Results must be equal: XMM0-15, MXCSR, the arithmetic flags,
 * the general registers and the scratch memory. An instruction that faults
 * natively (SIGFPE for #XM, SIGSEGV for #GP) must raise the same vector in
 * the guest, with the same MXCSR and the XMM registers unchanged.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <cmocka.h>

#include "hv/cpu/decode.h"
#include "tests/cpu_harness.h"
#include "tests/cpu_check.h"

#define EXC_UD 6
#define EXC_NM 7
#define EXC_GP 13
#define EXC_PF 14
#define EXC_XM 19

#define CR0_EM (1ULL << 2)
#define CR0_TS (1ULL << 3)
#define CR4_OSFXSR (1ULL << 9)
#define CR4_OSXMMEXCPT (1ULL << 10)

/* ------------------------------------------------------------------------ */
/* Part 1: exact cases in the harness VM                                     */
/* ------------------------------------------------------------------------ */

static void set_cr(struct tvm *vm, uint64_t cr0_set, uint64_t cr0_clear, uint64_t cr4)
{
	struct vcpu_sregs s;

	assert_int_equal(tvm_get_sregs(vm, &s), 0);
	s.cr0 = (s.cr0 | cr0_set) & ~cr0_clear;
	s.cr4 = (s.cr4 & ~(CR4_OSFXSR | CR4_OSXMMEXCPT)) | cr4;
	assert_int_equal(tvm_set_sregs(vm, &s), 0);
}

static struct tvm *sse_vm(const uint8_t *bytes, size_t len, uint64_t cr4)
{
	struct tvm *vm = vm_new("none");

	set_cr(vm, 0, CR0_EM | CR0_TS, cr4);
	tvm_load_code(vm, TVM_CODE, bytes, len);
	return vm;
}

/* movdqu xmm1, [TVM_DATA]; paddd xmm1, xmm1; movdqu [TVM_DATA + 16], xmm1; hlt */
static const uint8_t prog_paddd[] = {
	0xf3, 0x0f, 0x6f, 0x0c, 0x25, 0x00, 0x00, 0x02, 0x00,
	0x66, 0x0f, 0xfe, 0xc9,
	0xf3, 0x0f, 0x7f, 0x0c, 0x25, 0x10, 0x00, 0x02, 0x00,
	0xf4,
};

/* SDM Vol. 3A 13.1.3-13.1.4, Vol. 2 SSE exception tables: CR4.OSFXSR
 * clear or CR0.EM set is #UD, CR0.TS set is #NM; with all three right the
 * instruction runs. */
static void test_cr_rules(void **state)
{
	const uint32_t in[4] = { 1, 2, 3, 0x80000000u };
	uint32_t out[4];
	struct tvm *vm;

	(void)state;
	vm = sse_vm(prog_paddd, sizeof(prog_paddd), 0);
	expect_exception_at(vm, EXC_UD, 0, TVM_CODE);
	tvm_destroy(vm);

	vm = sse_vm(prog_paddd, sizeof(prog_paddd), CR4_OSFXSR);
	set_cr(vm, CR0_EM, 0, CR4_OSFXSR);
	expect_exception_at(vm, EXC_UD, 0, TVM_CODE);
	tvm_destroy(vm);

	/* EM wins over TS: #UD, not #NM. */
	vm = sse_vm(prog_paddd, sizeof(prog_paddd), CR4_OSFXSR);
	set_cr(vm, CR0_EM | CR0_TS, 0, CR4_OSFXSR);
	expect_exception_at(vm, EXC_UD, 0, TVM_CODE);
	tvm_destroy(vm);

	vm = sse_vm(prog_paddd, sizeof(prog_paddd), CR4_OSFXSR);
	set_cr(vm, CR0_TS, 0, CR4_OSFXSR);
	expect_exception_at(vm, EXC_NM, 0, TVM_CODE);
	tvm_destroy(vm);

	vm = sse_vm(prog_paddd, sizeof(prog_paddd), CR4_OSFXSR);
	tvm_write(vm, TVM_DATA, in, sizeof(in));
	expect_exit(vm, VCPU_EXIT_HLT);
	tvm_read(vm, TVM_DATA + 16, out, sizeof(out));
	assert_int_equal(out[0], 2);
	assert_int_equal(out[1], 4);
	assert_int_equal(out[2], 6);
	assert_int_equal(out[3], 0);
	assert_int_equal(regs(vm).rip, TVM_CODE + sizeof(prog_paddd));
	tvm_destroy(vm);
}

/* FXSAVE and FXRSTOR need neither OSFXSR nor SSE, but CR0.EM or CR0.TS is
 * #NM (SDM Vol. 2A FXSAVE, FXRSTOR). The image after RESET (SDM Vol. 3A
 * Table 10-1): FCW 0040H, FSW 0, tag word 5555H (abridged FFH: every
 * register +0.0, tagged zero), MXCSR 1F80H, registers 0. */
static void test_fxsave_nm(void **state)
{
	static const uint8_t prog[] = { 0x0f, 0xae, 0x04, 0x25, 0x00, 0x00, 0x02, 0x00, 0xf4 };
	uint8_t out[416], zero[416 - 32];
	uint32_t csr, mask;
	struct tvm *vm;

	(void)state;
	vm = sse_vm(prog, sizeof(prog), 0);
	expect_exit(vm, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).rip, TVM_CODE + sizeof(prog));
	tvm_read(vm, TVM_DATA, out, sizeof(out));
	assert_int_equal(out[0] | out[1] << 8, 0x40);
	assert_int_equal(out[2] | out[3] << 8, 0);
	assert_int_equal(out[4], 0xff);
	for (unsigned i = 5; i < 24; i++)
		assert_int_equal(out[i], 0);
	memcpy(&csr, out + 24, 4);
	memcpy(&mask, out + 28, 4);
	assert_int_equal(csr, 0x1f80);
	assert_int_equal(mask, 0xffff);
	memset(zero, 0, sizeof(zero));
	assert_memory_equal(out + 32, zero, sizeof(zero));
	tvm_destroy(vm);
	vm = sse_vm(prog, sizeof(prog), CR4_OSFXSR);
	set_cr(vm, CR0_EM, 0, CR4_OSFXSR);
	expect_exception_at(vm, EXC_NM, 0, TVM_CODE);
	tvm_destroy(vm);
}

/* Legacy SSE 128-bit memory operands must be 16-byte aligned (#GP(0)),
 * except MOVUPS/MOVUPD/MOVDQU; the check comes before any translation. */
static void test_alignment(void **state)
{
	/* movaps xmm0, [TVM_DATA + 8] */
	static const uint8_t movaps[] = { 0x0f, 0x28, 0x04, 0x25, 0x08, 0x00, 0x02, 0x00, 0xf4 };
	/* paddb xmm0, [TVM_DATA + 4] */
	static const uint8_t paddb[] = { 0x66, 0x0f, 0xfc, 0x04, 0x25, 0x04, 0x00, 0x02, 0x00, 0xf4 };
	/* movups xmm0, [TVM_DATA + 8]: no alignment needed */
	static const uint8_t movups[] = { 0x0f, 0x10, 0x04, 0x25, 0x08, 0x00, 0x02, 0x00, 0xf4 };
	/* addss xmm0, [TVM_DATA + 4]: a 32-bit operand, no alignment needed */
	static const uint8_t addss[] = { 0xf3, 0x0f, 0x58, 0x04, 0x25, 0x04, 0x00, 0x02, 0x00, 0xf4 };
	/* movaps xmm0, [0x8]: misaligned and on the unmapped page 0: #GP, not #PF */
	static const uint8_t movaps0[] = { 0x0f, 0x28, 0x04, 0x25, 0x08, 0x00, 0x00, 0x00, 0xf4 };
	struct tvm *vm;

	(void)state;
	vm = sse_vm(movaps, sizeof(movaps), CR4_OSFXSR);
	expect_exception_at(vm, EXC_GP, 0, TVM_CODE);
	tvm_destroy(vm);
	vm = sse_vm(paddb, sizeof(paddb), CR4_OSFXSR);
	expect_exception_at(vm, EXC_GP, 0, TVM_CODE);
	tvm_destroy(vm);
	vm = sse_vm(movaps0, sizeof(movaps0), CR4_OSFXSR);
	expect_exception_at(vm, EXC_GP, 0, TVM_CODE);
	tvm_destroy(vm);
	vm = sse_vm(movups, sizeof(movups), CR4_OSFXSR);
	expect_exit(vm, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).rip, TVM_CODE + sizeof(movups));
	tvm_destroy(vm);
	vm = sse_vm(addss, sizeof(addss), CR4_OSFXSR);
	expect_exit(vm, VCPU_EXIT_HLT);
	assert_int_equal(regs(vm).rip, TVM_CODE + sizeof(addss));
	tvm_destroy(vm);
}

/*
 * divps by zero with ZM clear: #XM with CR4.OSXMMEXCPT, #UD without it
 * (SDM Vol. 3A 6.15 interrupt 19); ZE is set in MXCSR, the destination is
 * unchanged. With ZM set: no fault, ZE set, the quotient is infinity.
 *
 *   ldmxcsr [TVM_DATA]; movups xmm0, [TVM_DATA + 16]; movups xmm1, [TVM_DATA + 32]
 *   divps xmm0, xmm1   (at offset 24)
 *   movups [TVM_DATA + 48], xmm0; stmxcsr [TVM_DATA + 64]; hlt
 */
static const uint8_t prog_div[] = {
	0x0f, 0xae, 0x14, 0x25, 0x00, 0x00, 0x02, 0x00,
	0x0f, 0x10, 0x04, 0x25, 0x10, 0x00, 0x02, 0x00,
	0x0f, 0x10, 0x0c, 0x25, 0x20, 0x00, 0x02, 0x00,
	0x0f, 0x5e, 0xc1,
	0x0f, 0x11, 0x04, 0x25, 0x30, 0x00, 0x02, 0x00,
	0x0f, 0xae, 0x1c, 0x25, 0x40, 0x00, 0x02, 0x00,
	0xf4,
};

static struct tvm *div_vm(uint32_t mxcsr, uint64_t cr4)
{
	const float a[4] = { 1.0f, 2.0f, 3.0f, 4.0f }, b[4] = { 2.0f, 0.0f, 1.0f, 1.0f };
	struct tvm *vm = sse_vm(prog_div, sizeof(prog_div), cr4);

	tvm_write(vm, TVM_DATA, &mxcsr, 4);
	tvm_write(vm, TVM_DATA + 16, a, 16);
	tvm_write(vm, TVM_DATA + 32, b, 16);
	return vm;
}

/* Read XMM0 into out through a MOVUPS at the handler's HLT: run the tail of
 * prog_div from the store on. */
static void resume_at_store(struct tvm *vm)
{
	struct vcpu_regs r = regs(vm);

	r.rip = TVM_CODE + 27;
	set_regs(vm, &r);
	expect_exit(vm, VCPU_EXIT_HLT);
}

static void test_unmasked_exception(void **state)
{
	float out[4];
	uint32_t csr;
	struct tvm *vm;

	(void)state;
	/* ZM clear (0x1f80 & ~0x200), #XM */
	vm = div_vm(0x1d80, CR4_OSFXSR | CR4_OSXMMEXCPT);
	expect_exception_at(vm, EXC_XM, 0, TVM_CODE + 24);
	resume_at_store(vm);
	tvm_read(vm, TVM_DATA + 48, out, 16);
	tvm_read(vm, TVM_DATA + 64, &csr, 4);
	assert_true(out[0] == 1.0f && out[1] == 2.0f && out[2] == 3.0f && out[3] == 4.0f);
	assert_int_equal(csr, 0x1d80 | 0x4);   /* ZE, and not PE */
	tvm_destroy(vm);

	/* the same without OSXMMEXCPT: #UD */
	vm = div_vm(0x1d80, CR4_OSFXSR);
	expect_exception_at(vm, EXC_UD, 0, TVM_CODE + 24);
	tvm_destroy(vm);

	/* masked: infinity in lane 1, ZE set */
	vm = div_vm(0x1f80, CR4_OSFXSR | CR4_OSXMMEXCPT);
	expect_exit(vm, VCPU_EXIT_HLT);
	tvm_read(vm, TVM_DATA + 48, out, 16);
	tvm_read(vm, TVM_DATA + 64, &csr, 4);
	assert_true(out[0] == 0.5f && out[1] == __builtin_inff() && out[2] == 3.0f && out[3] == 4.0f);
	assert_int_equal(csr, 0x1f80 | 0x4);
	tvm_destroy(vm);
}

/* LDMXCSR with a bit above MXCSR_MASK (0xffff) set: #GP(0), MXCSR kept. */
static void test_ldmxcsr_reserved(void **state)
{
	struct tvm *vm;

	(void)state;
	vm = div_vm(0x10000 | 0x1f80, CR4_OSFXSR | CR4_OSXMMEXCPT);
	expect_exception_at(vm, EXC_GP, 0, TVM_CODE);
	tvm_destroy(vm);
}

/*
 * FXRSTOR then FXSAVE (64-bit, REX.W): MXCSR and its mask, the XMM
 * registers, the x87 words and pointers come back at their offsets (SDM
 * Vol. 2A Table 3-56); bytes 416-511 are not written; an image with a
 * reserved MXCSR bit makes FXRSTOR #GP(0); a misaligned area is #GP(0).
 *
 *   rex.w fxrstor [TVM_DATA]; rex.w fxsave [TVM_DATA + 0x200]; hlt
 */
static void test_fxsave_image(void **state)
{
	static const uint8_t prog[] = {
		0x48, 0x0f, 0xae, 0x0c, 0x25, 0x00, 0x00, 0x02, 0x00,
		0x48, 0x0f, 0xae, 0x04, 0x25, 0x00, 0x02, 0x02, 0x00,
		0xf4,
	};
	static const uint8_t mis[] = { 0x0f, 0xae, 0x04, 0x25, 0x08, 0x00, 0x02, 0x00, 0xf4 };
	uint8_t img[512], out[512];
	uint32_t csr = 0x7fbf, mask;
	struct tvm *vm;

	(void)state;
	for (unsigned i = 0; i < sizeof(img); i++)
		img[i] = (uint8_t)(i * 7 + 3);
	memcpy(img + 24, &csr, 4);
	vm = sse_vm(prog, sizeof(prog), CR4_OSFXSR);
	tvm_write(vm, TVM_DATA, img, sizeof(img));
	memset(out, 0xee, sizeof(out));
	tvm_write(vm, TVM_DATA + 0x200, out, sizeof(out));
	expect_exit(vm, VCPU_EXIT_HLT);
	tvm_read(vm, TVM_DATA + 0x200, out, sizeof(out));
	assert_int_equal(out[0] | out[1] << 8, (img[0] | img[1] << 8) | 0x40);   /* FCW */
	assert_memory_equal(out + 2, img + 2, 3);                                 /* FSW, FTW */
	assert_int_equal(out[5], 0);
	assert_int_equal(out[6] | out[7] << 8, (img[6] | img[7] << 8) & 0x7ff);  /* FOP */
	assert_memory_equal(out + 8, img + 8, 16);                                /* FIP, FDP */
	memcpy(&csr, out + 24, 4);
	memcpy(&mask, out + 28, 4);
	assert_int_equal(csr, 0x7fbf);
	assert_int_equal(mask, 0xffff);
	for (unsigned i = 0; i < 8; i++) {
		assert_memory_equal(out + 32 + 16 * i, img + 32 + 16 * i, 10);
		for (unsigned j = 10; j < 16; j++)
			assert_int_equal(out[32 + 16 * i + j], 0);
	}
	assert_memory_equal(out + 160, img + 160, 256);                          /* XMM0-15 */
	for (unsigned i = 416; i < 512; i++)
		assert_int_equal(out[i], 0xee);
	tvm_destroy(vm);

	csr = 0x20000;
	memcpy(img + 24, &csr, 4);
	vm = sse_vm(prog, sizeof(prog), CR4_OSFXSR);
	tvm_write(vm, TVM_DATA, img, sizeof(img));
	expect_exception_at(vm, EXC_GP, 0, TVM_CODE);
	tvm_destroy(vm);

	vm = sse_vm(mis, sizeof(mis), CR4_OSFXSR);
	expect_exception_at(vm, EXC_GP, 0, TVM_CODE);
	tvm_destroy(vm);
}

/* FNINIT empties the tags and clears the x87 opcode and pointers of the
 * FXSAVE image, and sets FCW 037FH, FSW 0; MXCSR and the XMM registers
 * stay (SDM Vol. 2A FINIT).
 *   fxrstor [TVM_DATA]; fninit; fxsave [TVM_DATA + 0x200]; hlt */
static void test_fninit_image(void **state)
{
	static const uint8_t prog[] = {
		0x0f, 0xae, 0x0c, 0x25, 0x00, 0x00, 0x02, 0x00,
		0xdb, 0xe3,
		0x0f, 0xae, 0x04, 0x25, 0x00, 0x02, 0x02, 0x00,
		0xf4,
	};
	uint8_t img[512], out[512];
	uint32_t csr = 0x1f80;
	struct tvm *vm;

	(void)state;
	for (unsigned i = 0; i < sizeof(img); i++)
		img[i] = (uint8_t)(i * 13 + 1);
	memcpy(img + 24, &csr, 4);
	vm = sse_vm(prog, sizeof(prog), CR4_OSFXSR);
	tvm_write(vm, TVM_DATA, img, sizeof(img));
	expect_exit(vm, VCPU_EXIT_HLT);
	tvm_read(vm, TVM_DATA + 0x200, out, sizeof(out));
	assert_int_equal(out[0] | out[1] << 8, 0x37f);
	for (unsigned i = 2; i < 24; i++)
		assert_int_equal(out[i], 0);
	assert_memory_equal(out + 24, img + 24, 4);
	assert_memory_equal(out + 160, img + 160, 256);
	tvm_destroy(vm);
}

/*
 * MMX state is the x87 register file (SDM Vol. 1 9.5): after MOVQ mm3,
 * [TVM_DATA], FXSAVE shows TOS 0, every tag valid (abridged FF), ST3 =
 * the value with bits 79:64 all ones; EMMS empties the tags; with FSW.ES
 * set (loaded by FXRSTOR) an MMX instruction raises #MF.
 *   fxrstor [TVM_DATA + 0x400]; movq mm3, [TVM_DATA]; fxsave [TVM_DATA + 0x200];
 *   emms; fxsave [TVM_DATA + 0x600]; hlt
 */
static void test_mmx_state(void **state)
{
	static const uint8_t prog[] = {
		0x0f, 0xae, 0x0c, 0x25, 0x00, 0x04, 0x02, 0x00,
		0x0f, 0x6f, 0x1c, 0x25, 0x00, 0x00, 0x02, 0x00,
		0x0f, 0xae, 0x04, 0x25, 0x00, 0x02, 0x02, 0x00,
		0x0f, 0x77,
		0x0f, 0xae, 0x04, 0x25, 0x00, 0x06, 0x02, 0x00,
		0xf4,
	};
	const uint64_t val = 0x0123456789abcdefULL;
	uint8_t img[512], out[512];
	uint32_t csr = 0x1f80;
	uint16_t fsw;
	struct tvm *vm;

	(void)state;
	memset(img, 0, sizeof(img));
	memcpy(img + 24, &csr, 4);
	fsw = 5 << 11;                       /* TOS 5 */
	memcpy(img + 2, &fsw, 2);
	vm = sse_vm(prog, sizeof(prog), CR4_OSFXSR);
	tvm_write(vm, TVM_DATA, &val, 8);
	tvm_write(vm, TVM_DATA + 0x400, img, sizeof(img));
	expect_exit(vm, VCPU_EXIT_HLT);
	tvm_read(vm, TVM_DATA + 0x200, out, sizeof(out));
	assert_int_equal((out[2] | out[3] << 8) >> 11 & 7, 0);
	assert_int_equal(out[4], 0xff);
	assert_memory_equal(out + 32 + 16 * 3, &val, 8);
	assert_int_equal(out[32 + 16 * 3 + 8], 0xff);
	assert_int_equal(out[32 + 16 * 3 + 9], 0xff);
	tvm_read(vm, TVM_DATA + 0x600, out, sizeof(out));
	assert_int_equal(out[4], 0);
	assert_memory_equal(out + 32 + 16 * 3, &val, 8);
	tvm_destroy(vm);

	fsw = 0x80;                          /* ES: an unmasked x87 exception pending */
	memcpy(img + 2, &fsw, 2);
	vm = sse_vm(prog, sizeof(prog), CR4_OSFXSR);
	tvm_write(vm, TVM_DATA + 0x400, img, sizeof(img));
	expect_exception_at(vm, 16 /* #MF */, 0, TVM_CODE + 8);
	tvm_destroy(vm);
}

/*
 * MASKMOVDQU xmm1, xmm2 and MASKMOVQ mm1, mm2 store the bytes whose mask
 * byte has its top bit set to DS:[RDI] and leave the others alone.
 *   movdqu xmm1, [TVM_DATA]; movdqu xmm2, [TVM_DATA + 16]; maskmovdqu xmm1, xmm2;
 *   movq mm1, [TVM_DATA]; movq mm2, [TVM_DATA + 16]; add rdi, 0x20; maskmovq mm1, mm2; hlt
 */
static void test_maskmov(void **state)
{
	static const uint8_t prog[] = {
		0xf3, 0x0f, 0x6f, 0x0c, 0x25, 0x00, 0x00, 0x02, 0x00,
		0xf3, 0x0f, 0x6f, 0x14, 0x25, 0x10, 0x00, 0x02, 0x00,
		0x66, 0x0f, 0xf7, 0xca,
		0x0f, 0x6f, 0x0c, 0x25, 0x00, 0x00, 0x02, 0x00,
		0x0f, 0x6f, 0x14, 0x25, 0x10, 0x00, 0x02, 0x00,
		0x48, 0x83, 0xc7, 0x20,
		0x0f, 0xf7, 0xca,
		0xf4,
	};
	uint8_t data[32], out[48];
	struct tvm *vm;
	struct vcpu_regs r;

	(void)state;
	for (unsigned i = 0; i < 16; i++) {
		data[i] = (uint8_t)(0xa0 + i);
		data[16 + i] = (i % 3) ? 0x80 : 0x7f;
	}
	vm = sse_vm(prog, sizeof(prog), CR4_OSFXSR);
	tvm_write(vm, TVM_DATA, data, sizeof(data));
	memset(out, 0x55, sizeof(out));
	tvm_write(vm, TVM_DATA + 0x100, out, sizeof(out));
	r = regs(vm);
	r.gpr[7] = TVM_DATA + 0x100;
	set_regs(vm, &r);
	expect_exit(vm, VCPU_EXIT_HLT);
	tvm_read(vm, TVM_DATA + 0x100, out, sizeof(out));
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(out[i], (i % 3) ? 0xa0 + i : 0x55);
	for (unsigned i = 16; i < 32; i++)
		assert_int_equal(out[i], 0x55);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(out[32 + i], (i % 3) ? 0xa0 + i : 0x55);
	for (unsigned i = 40; i < 48; i++)
		assert_int_equal(out[i], 0x55);
	tvm_destroy(vm);
}

/*
 * 32-bit protected mode: the same encodings without REX reach XMM0-7, and
 * FXSAVE's image holds only those (bytes 288-511 untouched).
 *   movdqu xmm7, [0x20000]; paddd xmm7, xmm7; fxsave [0x20200]; hlt
 */
static void test_prot32(void **state)
{
	static const uint8_t prog[] = {
		0xf3, 0x0f, 0x6f, 0x3d, 0x00, 0x00, 0x02, 0x00,
		0x66, 0x0f, 0xfe, 0xff,
		0x0f, 0xae, 0x05, 0x00, 0x02, 0x02, 0x00,
		0xf4,
	};
	const uint32_t in[4] = { 1, 0x40000000, 0xffffffff, 7 };
	uint8_t out[512];
	uint32_t x7[4];
	struct vcpu_sregs s;
	struct vcpu_regs r = { .rip = TVM_CODE, .rflags = 2 };
	struct tvm *vm = vm_new("none");

	(void)state;
	tvm_sregs_prot32(&s);
	s.cr4 |= CR4_OSFXSR;
	assert_int_equal(tvm_set_sregs(vm, &s), 0);
	tvm_write(vm, TVM_CODE, prog, sizeof(prog));
	r.gpr[4] = TVM_STACK_TOP;
	set_regs(vm, &r);
	tvm_write(vm, 0x20000, in, sizeof(in));
	memset(out, 0xee, sizeof(out));
	tvm_write(vm, 0x20200, out, sizeof(out));
	expect_exit(vm, VCPU_EXIT_HLT);
	tvm_read(vm, 0x20200, out, sizeof(out));
	memcpy(x7, out + 160 + 16 * 7, 16);
	assert_int_equal(x7[0], 2);
	assert_int_equal(x7[1], 0x80000000);
	assert_int_equal(x7[2], 0xfffffffe);
	assert_int_equal(x7[3], 14);
	for (unsigned i = 288; i < 512; i++)
		assert_int_equal(out[i], 0xee);
	tvm_destroy(vm);
}

#define DEV_GVA 0x40000000ULL   /* two pages over device GPAs (past RAM) */
#define DEV_A   0xc0000000ULL
#define DEV_B   0xd0000000ULL

static void run_once(struct tvm *vm)
{
	assert_int_equal(vm->ops->run(vm->vcpu, 100000, &vm->exit), 0);
}

static void expect_mmio(struct tvm *vm, uint64_t gpa, unsigned size, bool write)
{
	run_once(vm);
	assert_int_equal(vm->exit.reason, VCPU_EXIT_MMIO);
	assert_int_equal(vm->exit.mmio.gpa, gpa);
	assert_int_equal(vm->exit.mmio.size, size);
	assert_int_equal(vm->exit.mmio.write, write);
}

/*
 * movdqu xmm2, [DEV_GVA + 0x10]; movdqu [DEV_GVA + 0x20], xmm2: the load
 * asks for two 8-byte pieces and completes with both; the store reports
 * both halves in order. Then a load split over the two device pages
 * (DEV_GVA + 0xffc: 4 + 8 + 4 bytes in three exits).
 */
static void test_mmio_16(void **state)
{
	static const uint8_t prog[] = {
		0xf3, 0x0f, 0x6f, 0x14, 0x25, 0x10, 0x00, 0x00, 0x40,
		0xf3, 0x0f, 0x7f, 0x14, 0x25, 0x20, 0x00, 0x00, 0x40,
		0xf3, 0x0f, 0x6f, 0x1c, 0x25, 0xfc, 0x0f, 0x00, 0x40,
		0xf3, 0x0f, 0x7f, 0x1c, 0x25, 0x00, 0x00, 0x02, 0x00,
		0xf4,
	};
	struct tvm *vm = sse_vm(prog, sizeof(prog), CR4_OSFXSR);
	uint64_t out[2];

	(void)state;
	assert_int_equal(tvm_map(vm, DEV_GVA, DEV_A, 0x1000, PTE_W), 0);
	assert_int_equal(tvm_map(vm, DEV_GVA + 0x1000, DEV_B, 0x1000, PTE_W), 0);
	expect_mmio(vm, DEV_A + 0x10, 8, false);
	vm->exit.mmio.data = 0x1111111111111111ULL;
	expect_mmio(vm, DEV_A + 0x18, 8, false);
	vm->exit.mmio.data = 0x2222222222222222ULL;
	expect_mmio(vm, DEV_A + 0x20, 8, true);
	assert_int_equal(vm->exit.mmio.data, 0x1111111111111111ULL);
	expect_mmio(vm, DEV_A + 0x28, 8, true);
	assert_int_equal(vm->exit.mmio.data, 0x2222222222222222ULL);
	expect_mmio(vm, DEV_A + 0xffc, 4, false);
	vm->exit.mmio.data = 0x44332211;
	expect_mmio(vm, DEV_B, 8, false);
	vm->exit.mmio.data = 0xccbbaa9988776655ULL;
	expect_mmio(vm, DEV_B + 8, 4, false);
	vm->exit.mmio.data = 0x11ffeedd;
	run_once(vm);
	assert_int_equal(vm->exit.reason, VCPU_EXIT_HLT);
	tvm_read(vm, TVM_DATA, out, 16);
	assert_int_equal(out[0], 0x8877665544332211ULL);
	assert_int_equal(out[1], 0x11ffeeddccbbaa99ULL);
	tvm_destroy(vm);
}

/* movups [TVM_DATA + 0x1ff8], xmm0 with the second page read-only: #PF
 * with P and W at the second page, and nothing written to the first. */
static void test_split_store_fault(void **state)
{
	static const uint8_t prog[] = { 0x0f, 0x11, 0x04, 0x25, 0xf8, 0x1f, 0x02, 0x00, 0xf4 };
	struct tvm *vm = sse_vm(prog, sizeof(prog), CR4_OSFXSR);
	struct tvm_exc_record rec;
	uint64_t pte, first;

	(void)state;
	pte = gpt_entry_gpa(vm->gpt, TVM_DATA + 0x2000, 1);
	tvm_write64(vm, pte, tvm_read64(vm, pte) & ~2ULL);
	tvm_write64(vm, TVM_DATA + 0x1ff8, 0x5a5a5a5a5a5a5a5aULL);
	expect_exception_at(vm, EXC_PF, 0x3, TVM_CODE);
	tvm_exc_record(vm, &rec);
	assert_int_equal(rec.cr2, TVM_DATA + 0x2000);
	first = tvm_read64(vm, TVM_DATA + 0x1ff8);
	assert_int_equal(first, 0x5a5a5a5a5a5a5a5aULL);
	tvm_destroy(vm);
}

/* The SSE3 rows and the forms no processor has stay #UD, with their length
 * known; the MMX forms are executed. */
static void test_not_executed(void **state)
{
	static const uint8_t forms[][5] = {
		{ 0xf2, 0x0f, 0x7c, 0xc1 },      /* haddps (SSE3) */
		{ 0x66, 0x0f, 0x12, 0xc1 },      /* 66 0F 12 with a register: no such form */
		{ 0x0f, 0x73, 0xd9, 0x01 },      /* 73 /3 on an MMX register: PSRLDQ is XMM only */
		{ 0xf3, 0x0f, 0xd6, 0x00 },      /* MOVQ2DQ with a memory operand */
		{ 0x0f, 0xd6, 0xc1 },            /* NP D6 */
		{ 0x0f, 0x6c, 0xc1 },            /* PUNPCKLQDQ on MMX registers */
	};
	static const int len[] = { 4, 4, 4, 4, 3, 3 };
	static const uint8_t ok[][4] = {
		{ 0x66, 0x0f, 0xfe, 0xc1 },      /* paddd xmm0, xmm1 */
		{ 0x0f, 0x12, 0xc1, 0 },         /* movhlps */
		{ 0xf2, 0x0f, 0x2a, 0xc1 },      /* cvtsi2sd xmm0, ecx */
		{ 0x66, 0x0f, 0x73, 0xf9 },      /* pslldq xmm1, imm8 (short: imm missing) */
	};
	static const uint8_t mmx[][3] = {
		{ 0x0f, 0xfe, 0xc1 },            /* paddd mm0, mm1 */
		{ 0x0f, 0x6f, 0xc1 },            /* movq mm0, mm1 */
		{ 0x0f, 0x2a, 0xc1 },            /* cvtpi2ps xmm0, mm1 */
		{ 0x0f, 0x77, 0x90 },            /* emms (2 bytes) */
	};
	bool valid;

	(void)state;
	for (unsigned i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		assert_int_equal(x86_insn_length(forms[i], len[i], 64, &valid), len[i]);
		assert_false(valid);
	}
	for (unsigned i = 0; i < 4; i++) {
		int n = i == 3 ? 2 : 3;
		assert_int_equal(x86_insn_length(mmx[i], 3, 64, &valid), n);
		assert_true(valid);
	}
	for (unsigned i = 0; i < 3; i++) {
		int n = ok[i][0] == 0x0f ? 3 : 4;
		assert_int_equal(x86_insn_length(ok[i], (size_t)n, 64, &valid), n);
		assert_true(valid);
	}
	uint8_t psl[5] = { 0x66, 0x0f, 0x73, 0xf9, 3 };
	assert_int_equal(x86_insn_length(psl, 5, 64, &valid), 5);
	assert_true(valid);
	assert_int_equal(x86_insn_length(ok[3], 4, 64, &valid), -1);
}

/* ------------------------------------------------------------------------ */
/* Part 2: differential against the host CPU                                 */
/* ------------------------------------------------------------------------ */

#define CODE_VA      0x71000000ULL
#define SCR_VA       (CODE_VA + 0x1000)
#define SCR_SIZE     0x2000
#define CODE_GPA     (TVM_FREE + 0x100000)
#define DUMP_OFF     0x800              /* the store-back code, alone (after a fault) */

/* Scratch layout (offsets from SCR_VA) */
#define S_XIN    0x000   /* XMM0-15 in */
#define S_CSRIN  0x100   /* MXCSR in */
#define S_HOST   0x104   /* the MXCSR before, restored at the end */
#define S_MEM    0x200   /* memory operands: 0x200-0x27f */
#define S_XOUT   0x400   /* XMM0-15 out */
#define S_CSROUT 0x500
#define S_FLOUT  0x508
#define S_GIN    0x600   /* RAX-R14 in (RSP's slot unused) */
#define S_GOUT   0x680
#define S_FLIN   0x6f8
#define S_MMIN   0x700   /* MM0-7 in */
#define S_MMOUT  0x740   /* MM0-7 out */
#define S_SPLIT  0xff8   /* an operand that crosses into the second page */

__asm__(".text\n"
	".globl sse_native_call\n"
	"sse_native_call:\n"
	"	push %rbx\n"
	"	push %rbp\n"
	"	push %r12\n"
	"	push %r13\n"
	"	push %r14\n"
	"	push %r15\n"
	"	call *%rdi\n"
	"	pop %r15\n"
	"	pop %r14\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbp\n"
	"	pop %rbx\n"
	"	ret\n");
void sse_native_call(uint64_t code);

struct buf {
	uint8_t b[0x800];
	unsigned n;
};

static void emit(struct buf *c, unsigned n, ...)
{
	va_list ap;

	va_start(ap, n);
	for (unsigned i = 0; i < n; i++)
		c->b[c->n++] = (uint8_t)va_arg(ap, int);
	va_end(ap);
}

static void emit32(struct buf *c, uint32_t v)
{
	memcpy(c->b + c->n, &v, 4);
	c->n += 4;
}

/* [r15 + disp32] as ModRM (mod 10, rm 111 with REX.B) after the opcode. */
static void modrm_r15(struct buf *c, unsigned reg, uint32_t disp)
{
	emit(c, 1, 0x80 | ((reg & 7) << 3) | 7);
	emit32(c, disp);
}

static void movdqu_r15(struct buf *c, bool store, unsigned x, uint32_t disp)
{
	emit(c, 4, 0xf3, 0x41 | (x >= 8 ? 4 : 0), 0x0f, store ? 0x7f : 0x6f);
	modrm_r15(c, x, disp);
}

static void mxcsr_r15(struct buf *c, bool store, uint32_t disp)
{
	emit(c, 3, 0x41, 0x0f, 0xae);
	modrm_r15(c, store ? 3 : 2, disp);
}

/* The store-back: MXCSR, XMM0-15, and with gprs the GPRs and flags first. */
static void emit_tail(struct buf *c, bool gprs, uint8_t end)
{
	if (gprs) {
		emit(c, 3, 0x9c, 0x41, 0x8f);           /* pushfq; pop [r15 + S_FLOUT] */
		modrm_r15(c, 0, S_FLOUT);
	}
	mxcsr_r15(c, true, S_CSROUT);
	if (gprs) {
		for (unsigned r = 0; r < 15; r++) {
			if (r == 4)
				continue;
			emit(c, 2, 0x49 | (r >= 8 ? 4 : 0), 0x89);
			modrm_r15(c, r, S_GOUT + 8 * r);
		}
	}
	for (unsigned x = 0; x < 16; x++)
		movdqu_r15(c, true, x, S_XOUT + 16 * x);
	for (unsigned m = 0; m < 8; m++) {               /* movq [r15 + S_MMOUT + 8m], mm */
		emit(c, 3, 0x41, 0x0f, 0x7f);
		modrm_r15(c, m, S_MMOUT + 8 * m);
	}
	emit(c, 2, 0x0f, 0x77);                          /* emms */
	mxcsr_r15(c, false, S_HOST);
	emit(c, 1, end);
}

static void build_code(struct buf *c, const uint8_t *insn, unsigned len, uint8_t end)
{
	c->n = 0;
	emit(c, 2, 0x49, 0xbf);                          /* movabs r15, SCR_VA */
	emit32(c, (uint32_t)SCR_VA);
	emit32(c, 0);
	mxcsr_r15(c, true, S_HOST);
	for (unsigned x = 0; x < 16; x++)
		movdqu_r15(c, false, x, S_XIN + 16 * x);
	for (unsigned m = 0; m < 8; m++) {               /* movq mm, [r15 + S_MMIN + 8m] */
		emit(c, 3, 0x41, 0x0f, 0x6f);
		modrm_r15(c, m, S_MMIN + 8 * m);
	}
	for (unsigned r = 0; r < 15; r++) {
		if (r == 4)
			continue;
		emit(c, 2, 0x49 | (r >= 8 ? 4 : 0), 0x8b);
		modrm_r15(c, r, S_GIN + 8 * r);
	}
	mxcsr_r15(c, false, S_CSRIN);
	emit(c, 2, 0x41, 0xff);                          /* push [r15 + S_FLIN]; popfq */
	modrm_r15(c, 6, S_FLIN);
	emit(c, 1, 0x9d);
	memcpy(c->b + c->n, insn, len);
	c->n += len;
	emit_tail(c, true, end);
}

/* Operand kinds of a form. */
enum kind {
	K_PS,      /* xmm, xmm/m: lanes of single precision */
	K_PD,      /* double precision */
	K_INT,     /* integers */
	K_SHIMM,   /* 66 71-73 /n xmm, imm8 */
	K_GPR_SRC, /* xmm, r/m32|64 (CVTSI2SS/SD, MOVD/MOVQ, PINSRW) */
	K_GPR_DST, /* r32|64, xmm (CVTSS2SI..., MOVMSK, PMOVMSKB, PEXTRW) */
	K_RM_DST,  /* r/m32|64, xmm (66 7E MOVD/MOVQ) */
	K_MOVNTI,  /* m32|64, r */
	K_MMX,     /* mm, mm/m64 (integers) */
	K_MMX_SHIMM,   /* NP 71-73 /n mm, imm8 */
	K_MMX_GPR_SRC, /* mm, r/m32|64; PINSRW */
	K_MMX_GPR_DST, /* r32, mm: PEXTRW, PMOVMSKB */
	K_MMX_RM_DST,  /* r/m32|64, mm */
	K_X_MM,    /* xmm, mm/m64: CVTPI2PS, CVTPI2PD, MOVQ2DQ */
	K_MM_X,    /* mm, xmm/m: CVT(T)PS2PI, CVT(T)PD2PI, MOVDQ2Q */
	K_NONE,    /* no operand: EMMS */
};

/* Memory forms (M_* bits). */
#define M_REG   1   /* register form exists */
#define M_MEM   2   /* memory form exists */
#define M_ALIGN 4   /* a 16-byte memory operand must be aligned */

struct form {
	const char *name;
	uint8_t pfx, op, sub;     /* sub: ModRM.reg of 71-73 */
	uint8_t kind, mforms, msize;
	uint8_t imm;              /* 1: any imm8; 8: 0-7 (CMPxx predicates) */
	uint8_t rexw;             /* the REX.W variant */
	uint8_t flags_out;        /* writes RFLAGS (COMISS...) */
};

#define RM (M_REG | M_MEM)
#define RMA (M_REG | M_MEM | M_ALIGN)

static const struct form forms[] = {
	/* moves */
	{ "movups", 0, 0x10, 0, K_PS, RM, 16, 0, 0, 0 }, { "movups st", 0, 0x11, 0, K_PS, RM, 16, 0, 0, 0 },
	{ "movupd", 0x66, 0x10, 0, K_PD, RM, 16, 0, 0, 0 }, { "movupd st", 0x66, 0x11, 0, K_PD, RM, 16, 0, 0, 0 },
	{ "movss", 0xf3, 0x10, 0, K_PS, RM, 4, 0, 0, 0 }, { "movss st", 0xf3, 0x11, 0, K_PS, RM, 4, 0, 0, 0 },
	{ "movsd", 0xf2, 0x10, 0, K_PD, RM, 8, 0, 0, 0 }, { "movsd st", 0xf2, 0x11, 0, K_PD, RM, 8, 0, 0, 0 },
	{ "movlps/movhlps", 0, 0x12, 0, K_PS, RM, 8, 0, 0, 0 }, { "movlps st", 0, 0x13, 0, K_PS, M_MEM, 8, 0, 0, 0 },
	{ "movlpd", 0x66, 0x12, 0, K_PD, M_MEM, 8, 0, 0, 0 }, { "movlpd st", 0x66, 0x13, 0, K_PD, M_MEM, 8, 0, 0, 0 },
	{ "movhps/movlhps", 0, 0x16, 0, K_PS, RM, 8, 0, 0, 0 }, { "movhps st", 0, 0x17, 0, K_PS, M_MEM, 8, 0, 0, 0 },
	{ "movhpd", 0x66, 0x16, 0, K_PD, M_MEM, 8, 0, 0, 0 }, { "movhpd st", 0x66, 0x17, 0, K_PD, M_MEM, 8, 0, 0, 0 },
	{ "movaps", 0, 0x28, 0, K_PS, RMA, 16, 0, 0, 0 }, { "movaps st", 0, 0x29, 0, K_PS, RMA, 16, 0, 0, 0 },
	{ "movapd", 0x66, 0x28, 0, K_PD, RMA, 16, 0, 0, 0 }, { "movapd st", 0x66, 0x29, 0, K_PD, RMA, 16, 0, 0, 0 },
	{ "movntps", 0, 0x2b, 0, K_PS, M_MEM | M_ALIGN, 16, 0, 0, 0 },
	{ "movntpd", 0x66, 0x2b, 0, K_PD, M_MEM | M_ALIGN, 16, 0, 0, 0 },
	{ "movdqa", 0x66, 0x6f, 0, K_INT, RMA, 16, 0, 0, 0 }, { "movdqa st", 0x66, 0x7f, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "movdqu", 0xf3, 0x6f, 0, K_INT, RM, 16, 0, 0, 0 }, { "movdqu st", 0xf3, 0x7f, 0, K_INT, RM, 16, 0, 0, 0 },
	{ "movntdq", 0x66, 0xe7, 0, K_INT, M_MEM | M_ALIGN, 16, 0, 0, 0 },
	{ "movd xmm, r/m32", 0x66, 0x6e, 0, K_GPR_SRC, RM, 4, 0, 0, 0 },
	{ "movq xmm, r/m64", 0x66, 0x6e, 0, K_GPR_SRC, RM, 8, 0, 1, 0 },
	{ "movd r/m32, xmm", 0x66, 0x7e, 0, K_RM_DST, RM, 4, 0, 0, 0 },
	{ "movq r/m64, xmm", 0x66, 0x7e, 0, K_RM_DST, RM, 8, 0, 1, 0 },
	{ "movq xmm, xmm/m64", 0xf3, 0x7e, 0, K_INT, RM, 8, 0, 0, 0 },
	{ "movq xmm/m64, xmm", 0x66, 0xd6, 0, K_INT, RM, 8, 0, 0, 0 },
	{ "movmskps", 0, 0x50, 0, K_GPR_DST, M_REG, 0, 0, 0, 0 },
	{ "movmskpd", 0x66, 0x50, 0, K_GPR_DST, M_REG, 0, 0, 0, 0 },
	{ "pmovmskb", 0x66, 0xd7, 0, K_GPR_DST, M_REG, 0, 0, 0, 0 },
	{ "pextrw", 0x66, 0xc5, 0, K_GPR_DST, M_REG, 0, 1, 0, 0 },
	{ "pinsrw", 0x66, 0xc4, 0, K_GPR_SRC, RM, 2, 1, 0, 0 },
	{ "movnti", 0, 0xc3, 0, K_MOVNTI, M_MEM, 4, 0, 0, 0 },
	{ "movnti 64", 0, 0xc3, 0, K_MOVNTI, M_MEM, 8, 0, 1, 0 },
	/* bitwise, shuffles */
	{ "andps", 0, 0x54, 0, K_PS, RMA, 16, 0, 0, 0 }, { "andpd", 0x66, 0x54, 0, K_PD, RMA, 16, 0, 0, 0 },
	{ "andnps", 0, 0x55, 0, K_PS, RMA, 16, 0, 0, 0 }, { "andnpd", 0x66, 0x55, 0, K_PD, RMA, 16, 0, 0, 0 },
	{ "orps", 0, 0x56, 0, K_PS, RMA, 16, 0, 0, 0 }, { "orpd", 0x66, 0x56, 0, K_PD, RMA, 16, 0, 0, 0 },
	{ "xorps", 0, 0x57, 0, K_PS, RMA, 16, 0, 0, 0 }, { "xorpd", 0x66, 0x57, 0, K_PD, RMA, 16, 0, 0, 0 },
	{ "unpcklps", 0, 0x14, 0, K_PS, RMA, 16, 0, 0, 0 }, { "unpcklpd", 0x66, 0x14, 0, K_PD, RMA, 16, 0, 0, 0 },
	{ "unpckhps", 0, 0x15, 0, K_PS, RMA, 16, 0, 0, 0 }, { "unpckhpd", 0x66, 0x15, 0, K_PD, RMA, 16, 0, 0, 0 },
	{ "shufps", 0, 0xc6, 0, K_PS, RMA, 16, 1, 0, 0 }, { "shufpd", 0x66, 0xc6, 0, K_PD, RMA, 16, 1, 0, 0 },
	{ "pshufd", 0x66, 0x70, 0, K_INT, RMA, 16, 1, 0, 0 }, { "pshufhw", 0xf3, 0x70, 0, K_INT, RMA, 16, 1, 0, 0 },
	{ "pshuflw", 0xf2, 0x70, 0, K_INT, RMA, 16, 1, 0, 0 },
	/* floating point */
	{ "addps", 0, 0x58, 0, K_PS, RMA, 16, 0, 0, 0 }, { "addpd", 0x66, 0x58, 0, K_PD, RMA, 16, 0, 0, 0 },
	{ "addss", 0xf3, 0x58, 0, K_PS, RM, 4, 0, 0, 0 }, { "addsd", 0xf2, 0x58, 0, K_PD, RM, 8, 0, 0, 0 },
	{ "subps", 0, 0x5c, 0, K_PS, RMA, 16, 0, 0, 0 }, { "subpd", 0x66, 0x5c, 0, K_PD, RMA, 16, 0, 0, 0 },
	{ "subss", 0xf3, 0x5c, 0, K_PS, RM, 4, 0, 0, 0 }, { "subsd", 0xf2, 0x5c, 0, K_PD, RM, 8, 0, 0, 0 },
	{ "mulps", 0, 0x59, 0, K_PS, RMA, 16, 0, 0, 0 }, { "mulpd", 0x66, 0x59, 0, K_PD, RMA, 16, 0, 0, 0 },
	{ "mulss", 0xf3, 0x59, 0, K_PS, RM, 4, 0, 0, 0 }, { "mulsd", 0xf2, 0x59, 0, K_PD, RM, 8, 0, 0, 0 },
	{ "divps", 0, 0x5e, 0, K_PS, RMA, 16, 0, 0, 0 }, { "divpd", 0x66, 0x5e, 0, K_PD, RMA, 16, 0, 0, 0 },
	{ "divss", 0xf3, 0x5e, 0, K_PS, RM, 4, 0, 0, 0 }, { "divsd", 0xf2, 0x5e, 0, K_PD, RM, 8, 0, 0, 0 },
	{ "minps", 0, 0x5d, 0, K_PS, RMA, 16, 0, 0, 0 }, { "minpd", 0x66, 0x5d, 0, K_PD, RMA, 16, 0, 0, 0 },
	{ "minss", 0xf3, 0x5d, 0, K_PS, RM, 4, 0, 0, 0 }, { "minsd", 0xf2, 0x5d, 0, K_PD, RM, 8, 0, 0, 0 },
	{ "maxps", 0, 0x5f, 0, K_PS, RMA, 16, 0, 0, 0 }, { "maxpd", 0x66, 0x5f, 0, K_PD, RMA, 16, 0, 0, 0 },
	{ "maxss", 0xf3, 0x5f, 0, K_PS, RM, 4, 0, 0, 0 }, { "maxsd", 0xf2, 0x5f, 0, K_PD, RM, 8, 0, 0, 0 },
	{ "sqrtps", 0, 0x51, 0, K_PS, RMA, 16, 0, 0, 0 }, { "sqrtpd", 0x66, 0x51, 0, K_PD, RMA, 16, 0, 0, 0 },
	{ "sqrtss", 0xf3, 0x51, 0, K_PS, RM, 4, 0, 0, 0 }, { "sqrtsd", 0xf2, 0x51, 0, K_PD, RM, 8, 0, 0, 0 },
	{ "rsqrtps", 0, 0x52, 0, K_PS, RMA, 16, 0, 0, 0 }, { "rsqrtss", 0xf3, 0x52, 0, K_PS, RM, 4, 0, 0, 0 },
	{ "rcpps", 0, 0x53, 0, K_PS, RMA, 16, 0, 0, 0 }, { "rcpss", 0xf3, 0x53, 0, K_PS, RM, 4, 0, 0, 0 },
	{ "cmpps", 0, 0xc2, 0, K_PS, RMA, 16, 8, 0, 0 }, { "cmppd", 0x66, 0xc2, 0, K_PD, RMA, 16, 8, 0, 0 },
	{ "cmpss", 0xf3, 0xc2, 0, K_PS, RM, 4, 8, 0, 0 }, { "cmpsd", 0xf2, 0xc2, 0, K_PD, RM, 8, 8, 0, 0 },
	{ "comiss", 0, 0x2f, 0, K_PS, RM, 4, 0, 0, 1 }, { "comisd", 0x66, 0x2f, 0, K_PD, RM, 8, 0, 0, 1 },
	{ "ucomiss", 0, 0x2e, 0, K_PS, RM, 4, 0, 0, 1 }, { "ucomisd", 0x66, 0x2e, 0, K_PD, RM, 8, 0, 0, 1 },
	{ "cvtsi2ss", 0xf3, 0x2a, 0, K_GPR_SRC, RM, 4, 0, 0, 0 }, { "cvtsi2ss 64", 0xf3, 0x2a, 0, K_GPR_SRC, RM, 8, 0, 1, 0 },
	{ "cvtsi2sd", 0xf2, 0x2a, 0, K_GPR_SRC, RM, 4, 0, 0, 0 }, { "cvtsi2sd 64", 0xf2, 0x2a, 0, K_GPR_SRC, RM, 8, 0, 1, 0 },
	{ "cvtss2si", 0xf3, 0x2d, 0, K_GPR_DST, RM, 4, 0, 0, 0 }, { "cvtss2si 64", 0xf3, 0x2d, 0, K_GPR_DST, RM, 4, 0, 1, 0 },
	{ "cvttss2si", 0xf3, 0x2c, 0, K_GPR_DST, RM, 4, 0, 0, 0 }, { "cvttss2si 64", 0xf3, 0x2c, 0, K_GPR_DST, RM, 4, 0, 1, 0 },
	{ "cvtsd2si", 0xf2, 0x2d, 0, K_GPR_DST, RM, 8, 0, 0, 0 }, { "cvtsd2si 64", 0xf2, 0x2d, 0, K_GPR_DST, RM, 8, 0, 1, 0 },
	{ "cvttsd2si", 0xf2, 0x2c, 0, K_GPR_DST, RM, 8, 0, 0, 0 }, { "cvttsd2si 64", 0xf2, 0x2c, 0, K_GPR_DST, RM, 8, 0, 1, 0 },
	{ "cvtps2pd", 0, 0x5a, 0, K_PS, RM, 8, 0, 0, 0 }, { "cvtpd2ps", 0x66, 0x5a, 0, K_PD, RMA, 16, 0, 0, 0 },
	{ "cvtss2sd", 0xf3, 0x5a, 0, K_PS, RM, 4, 0, 0, 0 }, { "cvtsd2ss", 0xf2, 0x5a, 0, K_PD, RM, 8, 0, 0, 0 },
	{ "cvtdq2ps", 0, 0x5b, 0, K_INT, RMA, 16, 0, 0, 0 }, { "cvtps2dq", 0x66, 0x5b, 0, K_PS, RMA, 16, 0, 0, 0 },
	{ "cvttps2dq", 0xf3, 0x5b, 0, K_PS, RMA, 16, 0, 0, 0 },
	{ "cvttpd2dq", 0x66, 0xe6, 0, K_PD, RMA, 16, 0, 0, 0 }, { "cvtdq2pd", 0xf3, 0xe6, 0, K_INT, RM, 8, 0, 0, 0 },
	{ "cvtpd2dq", 0xf2, 0xe6, 0, K_PD, RMA, 16, 0, 0, 0 },
	/* integer */
	{ "punpcklbw", 0x66, 0x60, 0, K_INT, RMA, 16, 0, 0, 0 }, { "punpcklwd", 0x66, 0x61, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "punpckldq", 0x66, 0x62, 0, K_INT, RMA, 16, 0, 0, 0 }, { "packsswb", 0x66, 0x63, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "pcmpgtb", 0x66, 0x64, 0, K_INT, RMA, 16, 0, 0, 0 }, { "pcmpgtw", 0x66, 0x65, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "pcmpgtd", 0x66, 0x66, 0, K_INT, RMA, 16, 0, 0, 0 }, { "packuswb", 0x66, 0x67, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "punpckhbw", 0x66, 0x68, 0, K_INT, RMA, 16, 0, 0, 0 }, { "punpckhwd", 0x66, 0x69, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "punpckhdq", 0x66, 0x6a, 0, K_INT, RMA, 16, 0, 0, 0 }, { "packssdw", 0x66, 0x6b, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "punpcklqdq", 0x66, 0x6c, 0, K_INT, RMA, 16, 0, 0, 0 }, { "punpckhqdq", 0x66, 0x6d, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "pcmpeqb", 0x66, 0x74, 0, K_INT, RMA, 16, 0, 0, 0 }, { "pcmpeqw", 0x66, 0x75, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "pcmpeqd", 0x66, 0x76, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "psrlw", 0x66, 0xd1, 0, K_INT, RMA, 16, 0, 0, 0 }, { "psrld", 0x66, 0xd2, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "psrlq", 0x66, 0xd3, 0, K_INT, RMA, 16, 0, 0, 0 }, { "paddq", 0x66, 0xd4, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "pmullw", 0x66, 0xd5, 0, K_INT, RMA, 16, 0, 0, 0 }, { "psubusb", 0x66, 0xd8, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "psubusw", 0x66, 0xd9, 0, K_INT, RMA, 16, 0, 0, 0 }, { "pminub", 0x66, 0xda, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "pand", 0x66, 0xdb, 0, K_INT, RMA, 16, 0, 0, 0 }, { "paddusb", 0x66, 0xdc, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "paddusw", 0x66, 0xdd, 0, K_INT, RMA, 16, 0, 0, 0 }, { "pmaxub", 0x66, 0xde, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "pandn", 0x66, 0xdf, 0, K_INT, RMA, 16, 0, 0, 0 }, { "pavgb", 0x66, 0xe0, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "psraw", 0x66, 0xe1, 0, K_INT, RMA, 16, 0, 0, 0 }, { "psrad", 0x66, 0xe2, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "pavgw", 0x66, 0xe3, 0, K_INT, RMA, 16, 0, 0, 0 }, { "pmulhuw", 0x66, 0xe4, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "pmulhw", 0x66, 0xe5, 0, K_INT, RMA, 16, 0, 0, 0 }, { "psubsb", 0x66, 0xe8, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "psubsw", 0x66, 0xe9, 0, K_INT, RMA, 16, 0, 0, 0 }, { "pminsw", 0x66, 0xea, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "por", 0x66, 0xeb, 0, K_INT, RMA, 16, 0, 0, 0 }, { "paddsb", 0x66, 0xec, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "paddsw", 0x66, 0xed, 0, K_INT, RMA, 16, 0, 0, 0 }, { "pmaxsw", 0x66, 0xee, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "pxor", 0x66, 0xef, 0, K_INT, RMA, 16, 0, 0, 0 }, { "psllw", 0x66, 0xf1, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "pslld", 0x66, 0xf2, 0, K_INT, RMA, 16, 0, 0, 0 }, { "psllq", 0x66, 0xf3, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "pmuludq", 0x66, 0xf4, 0, K_INT, RMA, 16, 0, 0, 0 }, { "pmaddwd", 0x66, 0xf5, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "psadbw", 0x66, 0xf6, 0, K_INT, RMA, 16, 0, 0, 0 }, { "psubb", 0x66, 0xf8, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "psubw", 0x66, 0xf9, 0, K_INT, RMA, 16, 0, 0, 0 }, { "psubd", 0x66, 0xfa, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "psubq", 0x66, 0xfb, 0, K_INT, RMA, 16, 0, 0, 0 }, { "paddb", 0x66, 0xfc, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "paddw", 0x66, 0xfd, 0, K_INT, RMA, 16, 0, 0, 0 }, { "paddd", 0x66, 0xfe, 0, K_INT, RMA, 16, 0, 0, 0 },
	{ "psrlw imm", 0x66, 0x71, 2, K_SHIMM, M_REG, 0, 1, 0, 0 }, { "psraw imm", 0x66, 0x71, 4, K_SHIMM, M_REG, 0, 1, 0, 0 },
	{ "psllw imm", 0x66, 0x71, 6, K_SHIMM, M_REG, 0, 1, 0, 0 }, { "psrld imm", 0x66, 0x72, 2, K_SHIMM, M_REG, 0, 1, 0, 0 },
	{ "psrad imm", 0x66, 0x72, 4, K_SHIMM, M_REG, 0, 1, 0, 0 }, { "pslld imm", 0x66, 0x72, 6, K_SHIMM, M_REG, 0, 1, 0, 0 },
	{ "psrlq imm", 0x66, 0x73, 2, K_SHIMM, M_REG, 0, 1, 0, 0 }, { "psrldq", 0x66, 0x73, 3, K_SHIMM, M_REG, 0, 1, 0, 0 },
	{ "psllq imm", 0x66, 0x73, 6, K_SHIMM, M_REG, 0, 1, 0, 0 }, { "pslldq", 0x66, 0x73, 7, K_SHIMM, M_REG, 0, 1, 0, 0 },
	/* MMX, and SSE/SSE2 on MMX registers */
	{ "punpcklbw mm", 0, 0x60, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "punpcklwd mm", 0, 0x61, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "punpckldq mm", 0, 0x62, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "packsswb mm", 0, 0x63, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "pcmpgtb mm", 0, 0x64, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "pcmpgtw mm", 0, 0x65, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "pcmpgtd mm", 0, 0x66, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "packuswb mm", 0, 0x67, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "punpckhbw mm", 0, 0x68, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "punpckhwd mm", 0, 0x69, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "punpckhdq mm", 0, 0x6a, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "packssdw mm", 0, 0x6b, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "pcmpeqb mm", 0, 0x74, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "pcmpeqw mm", 0, 0x75, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "pcmpeqd mm", 0, 0x76, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "psrlw mm", 0, 0xd1, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "psrld mm", 0, 0xd2, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "psrlq mm", 0, 0xd3, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "paddq mm", 0, 0xd4, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "pmullw mm", 0, 0xd5, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "psubusb mm", 0, 0xd8, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "psubusw mm", 0, 0xd9, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "pminub mm", 0, 0xda, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "pand mm", 0, 0xdb, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "paddusb mm", 0, 0xdc, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "paddusw mm", 0, 0xdd, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "pmaxub mm", 0, 0xde, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "pandn mm", 0, 0xdf, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "pavgb mm", 0, 0xe0, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "psraw mm", 0, 0xe1, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "psrad mm", 0, 0xe2, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "pavgw mm", 0, 0xe3, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "pmulhuw mm", 0, 0xe4, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "pmulhw mm", 0, 0xe5, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "psubsb mm", 0, 0xe8, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "psubsw mm", 0, 0xe9, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "pminsw mm", 0, 0xea, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "por mm", 0, 0xeb, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "paddsb mm", 0, 0xec, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "paddsw mm", 0, 0xed, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "pmaxsw mm", 0, 0xee, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "pxor mm", 0, 0xef, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "psllw mm", 0, 0xf1, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "pslld mm", 0, 0xf2, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "psllq mm", 0, 0xf3, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "pmuludq mm", 0, 0xf4, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "pmaddwd mm", 0, 0xf5, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "psadbw mm", 0, 0xf6, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "psubb mm", 0, 0xf8, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "psubw mm", 0, 0xf9, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "psubd mm", 0, 0xfa, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "psubq mm", 0, 0xfb, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "paddb mm", 0, 0xfc, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "paddw mm", 0, 0xfd, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "paddd mm", 0, 0xfe, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "movq mm, mm/m64", 0, 0x6f, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "movq mm/m64, mm", 0, 0x7f, 0, K_MMX, RM, 8, 0, 0, 0 },
	{ "movntq", 0, 0xe7, 0, K_MMX, M_MEM, 8, 0, 0, 0 },
	{ "pshufw", 0, 0x70, 0, K_MMX, RM, 8, 1, 0, 0 },
	{ "psrlw mm imm", 0, 0x71, 2, K_MMX_SHIMM, M_REG, 0, 1, 0, 0 },
	{ "psraw mm imm", 0, 0x71, 4, K_MMX_SHIMM, M_REG, 0, 1, 0, 0 },
	{ "psllw mm imm", 0, 0x71, 6, K_MMX_SHIMM, M_REG, 0, 1, 0, 0 },
	{ "psrld mm imm", 0, 0x72, 2, K_MMX_SHIMM, M_REG, 0, 1, 0, 0 },
	{ "psrad mm imm", 0, 0x72, 4, K_MMX_SHIMM, M_REG, 0, 1, 0, 0 },
	{ "pslld mm imm", 0, 0x72, 6, K_MMX_SHIMM, M_REG, 0, 1, 0, 0 },
	{ "psrlq mm imm", 0, 0x73, 2, K_MMX_SHIMM, M_REG, 0, 1, 0, 0 },
	{ "psllq mm imm", 0, 0x73, 6, K_MMX_SHIMM, M_REG, 0, 1, 0, 0 },
	{ "movd mm, r/m32", 0, 0x6e, 0, K_MMX_GPR_SRC, RM, 4, 0, 0, 0 },
	{ "movq mm, r/m64", 0, 0x6e, 0, K_MMX_GPR_SRC, RM, 8, 0, 1, 0 },
	{ "movd r/m32, mm", 0, 0x7e, 0, K_MMX_RM_DST, RM, 4, 0, 0, 0 },
	{ "movq r/m64, mm", 0, 0x7e, 0, K_MMX_RM_DST, RM, 8, 0, 1, 0 },
	{ "pinsrw mm", 0, 0xc4, 0, K_MMX_GPR_SRC, RM, 2, 1, 0, 0 },
	{ "pextrw mm", 0, 0xc5, 0, K_MMX_GPR_DST, M_REG, 0, 1, 0, 0 },
	{ "pmovmskb mm", 0, 0xd7, 0, K_MMX_GPR_DST, M_REG, 0, 0, 0, 0 },
	{ "cvtpi2ps", 0, 0x2a, 0, K_X_MM, RM, 8, 0, 0, 0 },
	{ "cvtpi2pd", 0x66, 0x2a, 0, K_X_MM, RM, 8, 0, 0, 0 },
	{ "movq2dq", 0xf3, 0xd6, 0, K_X_MM, M_REG, 0, 0, 0, 0 },
	{ "cvtps2pi", 0, 0x2d, 0, K_MM_X, RM, 8, 0, 0, 0 },
	{ "cvttps2pi", 0, 0x2c, 0, K_MM_X, RM, 8, 0, 0, 0 },
	{ "cvtpd2pi", 0x66, 0x2d, 0, K_MM_X, RMA, 16, 0, 0, 0 },
	{ "cvttpd2pi", 0x66, 0x2c, 0, K_MM_X, RMA, 16, 0, 0, 0 },
	{ "movdq2q", 0xf2, 0xd6, 0, K_MM_X, M_REG, 0, 0, 0, 0 },
	{ "emms", 0, 0x77, 0, K_NONE, M_REG, 0, 0, 0, 0 },
};
#define NFORMS (sizeof(forms) / sizeof(forms[0]))

static uint8_t *native;          /* CODE_VA, then the scratch */
static struct tvm *dvm;

/* ---- random inputs ---- */

static uint32_t rand_f32(uint64_t *rs)
{
	uint64_t r = tvm_rand(rs);
	uint32_t sign = (uint32_t)(r >> 63) << 31, m = (uint32_t)(r >> 8) & 0x7fffff;

	switch ((r >> 40) % 16) {
	case 0: return sign;                                   /* ±0 */
	case 1: return sign | 0x7f800000;                      /* ±inf */
	case 2: return sign | 0x7fc00000 | (m & 0x3fffff);     /* QNaN */
	case 3: return sign | 0x7f800000 | ((m & 0x3fffff) ? m & 0x3fffff : 1);   /* SNaN */
	case 4: return sign | (m ? m : 1);                     /* denormal */
	case 5: return sign | 0x00800000;                      /* smallest normal */
	case 6: return sign | 0x7f7fffff;                      /* largest */
	case 7: return sign | 0x3f800000;                      /* 1 */
	case 8: return sign | (uint32_t)(((r >> 33) % 24) << 23) | m;   /* tiny normals */
	case 9: return sign | (uint32_t)((230 + (r >> 33) % 24) << 23) | m;  /* huge */
	case 10: return sign | (uint32_t)((150 + (r >> 33) % 12) << 23) | m; /* near 2^31, 2^63 */
	default: return sign | (uint32_t)((100 + (r >> 33) % 56) << 23) | m;
	}
}

static uint64_t rand_f64(uint64_t *rs)
{
	uint64_t r = tvm_rand(rs), r2 = tvm_rand(rs);
	uint64_t sign = r & (1ULL << 63), m = r2 & ((1ULL << 52) - 1);

	switch ((r >> 40) % 16) {
	case 0: return sign;
	case 1: return sign | 0x7ff0000000000000ULL;
	case 2: return sign | 0x7ff8000000000000ULL | (m >> 1);
	case 3: return sign | 0x7ff0000000000000ULL | ((m >> 1) ? m >> 1 : 1);
	case 4: return sign | (m ? m : 1);
	case 5: return sign | 0x0010000000000000ULL;
	case 6: return sign | 0x7fefffffffffffffULL;
	case 7: return sign | 0x3ff0000000000000ULL;
	case 8: return sign | (((r >> 20) % 60) << 52) | m;                 /* tiny */
	case 9: return sign | ((2000 + (r >> 20) % 46) << 52) | m;          /* huge */
	case 10: return sign | ((1050 + (r >> 20) % 16) << 52) | m;         /* near 2^31, 2^63 */
	case 11: return sign | ((850 + (r >> 20) % 40) << 52) | m;          /* single's tiny range */
	case 12: return sign | ((1150 + (r >> 20) % 40) << 52) | m;         /* single's huge range */
	default: return sign | ((900 + (r >> 20) % 250) << 52) | m;
	}
}

static void rand_xmm(uint64_t *rs, enum kind k, uint8_t x[16])
{
	if (k == K_PS) {
		for (unsigned i = 0; i < 4; i++) {
			uint32_t f = rand_f32(rs);
			memcpy(x + 4 * i, &f, 4);
		}
	} else if (k == K_PD) {
		for (unsigned i = 0; i < 2; i++) {
			uint64_t f = rand_f64(rs);
			memcpy(x + 8 * i, &f, 8);
		}
	} else {
		static const uint16_t edge[] = { 0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x100 };
		for (unsigned i = 0; i < 8; i++) {
			uint64_t r = tvm_rand(rs);
			uint16_t w = (r & 3) == 0 ? edge[(r >> 8) % 9] : (uint16_t)(r >> 16);
			memcpy(x + 2 * i, &w, 2);
		}
		if ((tvm_rand(rs) & 7) == 0) {    /* small shift counts in the low qword */
			uint64_t c = tvm_rand(rs) % 70;
			memcpy(x, &c, 8);
		}
	}
}

static uint64_t rand_gpr(uint64_t *rs)
{
	static const uint64_t edge[] = { 0, 1, 0x7fffffff, 0x80000000, 0xffffffff, ~0ULL,
					 0x8000000000000000ULL, 0x7fffffffffffffffULL };
	uint64_t r = tvm_rand(rs);

	if ((r & 3) == 0)
		return edge[(r >> 8) % 8];
	if ((r & 3) == 1)
		return tvm_rand(rs) >> ((r >> 8) % 64);
	return tvm_rand(rs);
}

static uint32_t rand_mxcsr(uint64_t *rs)
{
	uint64_t r = tvm_rand(rs);
	uint32_t c = (uint32_t)((r >> 13) & 3) << 13;   /* RC */

	if ((r & 3) == 0)
		c |= 0x40;                                  /* DAZ */
	if (((r >> 2) & 3) == 0)
		c |= 0x8000;                                /* FZ */
	if (((r >> 4) & 3) == 0)
		c |= (uint32_t)(r >> 20) & 0x1f80;          /* some exceptions unmasked */
	else
		c |= 0x1f80;
	if (((r >> 6) & 3) == 0)
		c |= (uint32_t)(r >> 40) & 0x3f;            /* sticky flags already set */
	return c;
}

/* The registers a GPR operand may name: not RSP, not R15 (the scratch base). */
static unsigned rand_greg(uint64_t *rs)
{
	unsigned r = (unsigned)(tvm_rand(rs) % 14);
	return r >= 4 ? r + 1 : r;
}

/* ---- one case ---- */

struct outcome {
	int vector;                 /* -1: ran to the end */
	uint8_t scr[SCR_SIZE];
};

static sigjmp_buf nat_jmp;
static volatile int nat_sig;
static uint32_t nat_csr;
static uint8_t nat_xmm[256];
static uint8_t nat_mm[64];

static void nat_handler(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;

	(void)si;
	nat_sig = sig;
	nat_csr = uc->uc_mcontext.fpregs->mxcsr;
	memcpy(nat_xmm, uc->uc_mcontext.fpregs->_xmm, sizeof(nat_xmm));
	for (unsigned i = 0; i < 8; i++)   /* ST(i) = MMi: the prologue's MOVQs made TOS 0 */
		memcpy(nat_mm + 8 * i, uc->uc_mcontext.fpregs->_st[i].significand, 8);
	siglongjmp(nat_jmp, 1);
}

static void run_native(const struct buf *code, const uint8_t *scr, struct outcome *o)
{
	memcpy(native, code->b, code->n);
	memcpy(native + 0x1000, scr, SCR_SIZE);
	nat_sig = 0;
	__builtin_ia32_ldmxcsr(0x1f80);
	if (sigsetjmp(nat_jmp, 1) == 0)
		sse_native_call(CODE_VA);
	__builtin_ia32_ldmxcsr(0x1f80);
	memcpy(o->scr, native + 0x1000, SCR_SIZE);
	o->vector = -1;
	if (nat_sig) {
		o->vector = nat_sig == SIGFPE ? EXC_XM : nat_sig == SIGSEGV || nat_sig == SIGBUS ? EXC_GP : 255;
		memcpy(o->scr + S_XOUT, nat_xmm, sizeof(nat_xmm));
		memcpy(o->scr + S_CSROUT, &nat_csr, 4);
		memcpy(o->scr + S_MMOUT, nat_mm, sizeof(nat_mm));
	}
}

static void run_guest(const struct buf *code, const uint8_t *scr, struct outcome *o)
{
	struct tvm_exc_record rec;
	struct vcpu_regs r;
	struct buf dump = { .n = 0 };
	uint8_t zero[sizeof(rec)];

	emit_tail(&dump, false, 0xf4);
	tvm_write(dvm, CODE_GPA, code->b, code->n);
	tvm_write(dvm, CODE_GPA + DUMP_OFF, dump.b, dump.n);
	tvm_write(dvm, CODE_GPA + 0x1000, scr, SCR_SIZE);
	memset(zero, 0, sizeof(zero));
	tvm_write(dvm, TVM_EXC_REC, zero, sizeof(zero));
	memset(&r, 0, sizeof(r));
	r.rip = CODE_VA;
	r.gpr[4] = TVM_STACK_TOP;
	r.rflags = 2;
	assert_int_equal(tvm_set_regs(dvm, &r), 0);
	enum vcpu_exit_reason why = tvm_run(dvm, 1000);
	assert_int_equal(why, VCPU_EXIT_HLT);
	tvm_exc_record(dvm, &rec);
	o->vector = -1;
	if (rec.count) {
		o->vector = (int)rec.vector;
		r = regs(dvm);
		r.rip = CODE_VA + DUMP_OFF;
		r.gpr[15] = SCR_VA;
		r.gpr[4] = TVM_STACK_TOP;
		assert_int_equal(tvm_set_regs(dvm, &r), 0);
		assert_int_equal(tvm_run(dvm, 1000), VCPU_EXIT_HLT);
	}
	tvm_read(dvm, CODE_GPA + 0x1000, o->scr, SCR_SIZE);
}

/* Encode one case of form f into insn; returns its length. */
static unsigned encode(const struct form *f, uint64_t *rs, bool mem, uint32_t disp, uint8_t *insn)
{
	unsigned n = 0, reg, rm;
	bool w = f->rexw;

	switch (f->kind) {
	case K_GPR_DST:
		reg = rand_greg(rs);
		rm = (unsigned)(tvm_rand(rs) % 16);
		break;
	case K_GPR_SRC:
		reg = (unsigned)(tvm_rand(rs) % 16);
		rm = rand_greg(rs);
		break;
	case K_RM_DST:
		reg = (unsigned)(tvm_rand(rs) % 16);
		rm = rand_greg(rs);
		break;
	case K_MOVNTI:
		reg = rand_greg(rs);
		rm = 0;
		break;
	case K_SHIMM:
		reg = f->sub;
		rm = (unsigned)(tvm_rand(rs) % 16);
		break;
	case K_MMX:
		reg = (unsigned)(tvm_rand(rs) % 8);
		rm = (unsigned)(tvm_rand(rs) % 8);
		break;
	case K_MMX_SHIMM:
		reg = f->sub;
		rm = (unsigned)(tvm_rand(rs) % 8);
		break;
	case K_MMX_GPR_SRC:
		reg = (unsigned)(tvm_rand(rs) % 8);
		rm = rand_greg(rs);
		break;
	case K_MMX_GPR_DST:
		reg = rand_greg(rs);
		rm = (unsigned)(tvm_rand(rs) % 8);
		break;
	case K_MMX_RM_DST:
		reg = (unsigned)(tvm_rand(rs) % 8);
		rm = rand_greg(rs);
		break;
	case K_X_MM:
		reg = (unsigned)(tvm_rand(rs) % 16);
		rm = (unsigned)(tvm_rand(rs) % 8);
		break;
	case K_MM_X:
		reg = (unsigned)(tvm_rand(rs) % 8);
		rm = (unsigned)(tvm_rand(rs) % 16);
		break;
	case K_NONE:
		insn[n++] = 0x0f;
		insn[n++] = f->op;
		return n;
	default:
		reg = (unsigned)(tvm_rand(rs) % 16);
		rm = (unsigned)(tvm_rand(rs) % 16);
		break;
	}
	if (f->pfx)
		insn[n++] = f->pfx;
	if (mem)
		rm = 15;                    /* [r15 + disp32] */
	insn[n++] = (uint8_t)(0x40 | (w ? 8 : 0) | (reg >= 8 ? 4 : 0) | (rm >= 8 ? 1 : 0));
	insn[n++] = 0x0f;
	insn[n++] = f->op;
	if (mem) {
		insn[n++] = (uint8_t)(0x80 | ((reg & 7) << 3) | 7);
		memcpy(insn + n, &disp, 4);
		n += 4;
	} else {
		insn[n++] = (uint8_t)(0xc0 | ((reg & 7) << 3) | (rm & 7));
	}
	if (f->imm == 1) {
		uint64_t r = tvm_rand(rs);
		insn[n++] = (f->kind == K_SHIMM || f->kind == K_MMX_SHIMM) && (r & 1) ? (uint8_t)((r >> 8) % 70)
											   : (uint8_t)(r >> 16);
	} else if (f->imm == 8) {
		insn[n++] = (uint8_t)(tvm_rand(rs) % 8);
	}
	return n;
}

static void print_diff(const struct form *f, const uint8_t *insn, unsigned len, const uint8_t *scr,
		       const struct outcome *nat, const struct outcome *gst, const char *what)
{
	fprintf(stderr, "%s: %s differs; bytes", f->name, what);
	for (unsigned i = 0; i < len; i++)
		fprintf(stderr, " %02x", insn[i]);
	uint32_t csr;
	memcpy(&csr, scr + S_CSRIN, 4);
	fprintf(stderr, "\n  mxcsr in %#x; vector native %d, vcpu %d\n", csr, nat->vector, gst->vector);
	for (unsigned off = 0; off < SCR_SIZE; off += 16) {
		if (!memcmp(nat->scr + off, gst->scr + off, 16))
			continue;
		fprintf(stderr, "  scratch +%#05x in    ", off);
		for (unsigned i = 0; i < 16; i++)
			fprintf(stderr, "%02x", scr[off + 15 - i]);
		fprintf(stderr, "\n                native ");
		for (unsigned i = 0; i < 16; i++)
			fprintf(stderr, "%02x", nat->scr[off + 15 - i]);
		fprintf(stderr, "\n                vcpu   ");
		for (unsigned i = 0; i < 16; i++)
			fprintf(stderr, "%02x", gst->scr[off + 15 - i]);
		fprintf(stderr, "\n");
	}
	/* the input registers the instruction read */
	for (unsigned x = 0; x < 16; x++) {
		if (!memcmp(scr + S_XIN + 16 * x, nat->scr + S_XOUT + 16 * x, 16))
			continue;
		fprintf(stderr, "  xmm%u in ", x);
		for (unsigned i = 0; i < 16; i++)
			fprintf(stderr, "%02x", scr[S_XIN + 16 * x + 15 - i]);
		fprintf(stderr, "\n");
	}
}

/* Run every case of one form; false on the first difference. */
static bool run_form(const struct form *f, unsigned long iters, uint64_t seed)
{
	static uint8_t scr[SCR_SIZE];
	static struct outcome nat, gst;
	uint64_t rs = seed;
	struct buf code;
	uint8_t insn[16];
	unsigned long faults = 0;

	for (unsigned long it = 0; it < iters; it++) {
		bool mem = (f->mforms & M_MEM) && (!(f->mforms & M_REG) || (tvm_rand(&rs) & 1));
		enum kind k = f->kind == K_GPR_DST || f->kind == K_GPR_SRC || f->kind == K_RM_DST ||
				      f->kind == K_MOVNTI || f->kind == K_MM_X
			      ? (f->op == 0x2d || f->op == 0x2c || f->op == 0x50
					 ? (f->pfx == 0xf2 || f->pfx == 0x66 ? K_PD : K_PS)
					 : K_INT)
			      : f->kind == K_PS || f->kind == K_PD ? f->kind : K_INT;
		uint32_t disp = S_MEM + 16 * (uint32_t)(tvm_rand(&rs) % 4);
		uint64_t r = tvm_rand(&rs);

		if ((r & 7) == 0)
			disp = S_SPLIT - (uint32_t)((r >> 8) % 12);          /* crosses the page */
		else if ((f->mforms & M_ALIGN) && ((r >> 3) & 15) == 0)
			disp += 8;                                              /* misaligned: #GP */
		else if (!(f->mforms & M_ALIGN))
			disp += (uint32_t)((r >> 8) % 16);
		memset(scr, 0, sizeof(scr));
		for (unsigned x = 0; x < 16; x++)
			rand_xmm(&rs, k, scr + S_XIN + 16 * x);
		for (unsigned off = S_MEM; off < S_MEM + 0x80; off += 16)
			rand_xmm(&rs, k, scr + off);
		for (unsigned off = S_MMIN; off < S_MMIN + 64; off += 16)
			rand_xmm(&rs, K_INT, scr + off);
		for (unsigned off = S_SPLIT - 16; off < S_SPLIT + 32; off += 16)
			rand_xmm(&rs, k, scr + off);
		uint32_t csr = rand_mxcsr(&rs);
		memcpy(scr + S_CSRIN, &csr, 4);
		uint32_t host = 0x1f80;
		memcpy(scr + S_HOST, &host, 4);
		for (unsigned g = 0; g < 15; g++) {
			uint64_t v = rand_gpr(&rs);
			memcpy(scr + S_GIN + 8 * g, &v, 8);
		}
		uint64_t fl = 2 | (tvm_rand(&rs) & 0x8d5);
		memcpy(scr + S_FLIN, &fl, 8);

		unsigned len = encode(f, &rs, mem, disp, insn);
		bool valid;
		if (x86_insn_length(insn, len, 64, &valid) != (int)len || !valid) {
			fprintf(stderr, "%s: x86_insn_length disagrees (%d, %s) with %u bytes\n", f->name,
				x86_insn_length(insn, len, 64, &valid), valid ? "valid" : "#UD", len);
			return false;
		}
		build_code(&code, insn, len, 0xc3);
		run_native(&code, scr, &nat);
		build_code(&code, insn, len, 0xf4);
		run_guest(&code, scr, &gst);
		if (nat.vector != -1)
			faults++;
		if (nat.vector != gst.vector) {
			print_diff(f, insn, len, scr, &nat, &gst, "the exception");
			return false;
		}
		/* RFLAGS: the arithmetic flags (only COMISS and its kin write
		 * them; the others must leave them as POPFQ set them). */
		for (struct outcome *o = &nat; o; o = o == &nat ? &gst : NULL) {
			uint64_t fo;
			memcpy(&fo, o->scr + S_FLOUT, 8);
			fo &= 0x8d5;
			memcpy(o->scr + S_FLOUT, &fo, 8);
			memset(o->scr + S_HOST, 0, 4);   /* the test process's own MXCSR */
		}
		if (memcmp(nat.scr, gst.scr, SCR_SIZE)) {
			print_diff(f, insn, len, scr, &nat, &gst, "the state");
			return false;
		}
	}
	(void)faults;
	return true;
}

static void test_differential(void **state)
{
	static const int sigs[] = { SIGFPE, SIGSEGV, SIGBUS, SIGILL };
	struct sigaction sa, old[4];
	unsigned long iters = tvm_iters(1000);
	unsigned failed = 0;

	(void)state;
	/* cmocka installs its own handlers as a test starts: ours go on top
	 * for the native runs, and back off afterwards. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = nat_handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	for (unsigned i = 0; i < 4; i++)
		sigaction(sigs[i], &sa, &old[i]);
	for (unsigned i = 0; i < NFORMS; i++)
		if (!run_form(&forms[i], iters, 0x5e5e0000ULL + i * 7919))
			failed++;
	for (unsigned i = 0; i < 4; i++)
		sigaction(sigs[i], &old[i], NULL);
	if (failed)
		fprintf(stderr, "%u of %zu forms differ\n", failed, NFORMS);
	assert_int_equal(failed, 0);
}

static int diff_setup(void **state)
{
	struct vcpu_sregs s;

	(void)state;
	native = mmap((void *)CODE_VA, 0x1000 + SCR_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (native != (void *)CODE_VA) {
		fprintf(stderr, "cannot map the native code page at %#llx\n", (unsigned long long)CODE_VA);
		return -1;
	}
	if (tvm_create("skylake", &dvm) != 0)
		return -1;
	if (tvm_map(dvm, CODE_VA, CODE_GPA, 0x1000 + SCR_SIZE, PTE_W) != 0)
		return -1;
	if (tvm_get_sregs(dvm, &s) != 0)
		return -1;
	s.cr0 &= ~(CR0_EM | CR0_TS);
	s.cr4 |= CR4_OSFXSR | CR4_OSXMMEXCPT;
	if (tvm_set_sregs(dvm, &s) != 0)
		return -1;
	fprintf(stderr, "%zu SSE/SSE2 forms, %lu cases each (HV_TEST_ITERS)\n", NFORMS, tvm_iters(1000));
	return 0;
}

static int diff_teardown(void **state)
{
	(void)state;
	tvm_destroy(dvm);
	munmap(native, 0x1000 + SCR_SIZE);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cr_rules),
		cmocka_unit_test(test_fxsave_nm),
		cmocka_unit_test(test_alignment),
		cmocka_unit_test(test_unmasked_exception),
		cmocka_unit_test(test_ldmxcsr_reserved),
		cmocka_unit_test(test_fxsave_image),
		cmocka_unit_test(test_fninit_image),
		cmocka_unit_test(test_mmx_state),
		cmocka_unit_test(test_maskmov),
		cmocka_unit_test(test_prot32),
		cmocka_unit_test(test_mmio_16),
		cmocka_unit_test(test_split_store_fault),
		cmocka_unit_test(test_not_executed),
		cmocka_unit_test(test_differential),
	};
	return cmocka_run_group_tests(tests, diff_setup, diff_teardown);
}
