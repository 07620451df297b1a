/* SPDX-License-Identifier: MIT */
/*
 * tests/cpu_len_test.c - the vCPU decoder's instruction lengths against
 * Capstone (Debian's libcapstone), in 64-bit and 32-bit mode.
 *
 * Two parts:
 *   - a fixed table of encodings whose lengths follow from SDM Vol. 2A ch. 2
 *     (prefixes, REX, ModRM/SIB/displacement, immediates) and Vol. 2 appendix
 *     A (which opcodes take a ModRM byte or an immediate);
 *   - random byte strings, half of them shaped like real code (legacy
 *     prefixes, REX, the 0F/0F38/0F3A maps, VEX and EVEX), compared wherever
 *     both decoders accept the bytes. The decoder documents (hv/cpu/decode.h)
 *     that it knows the length of every opcode it reports, including the
 *     x87/SSE/AVX encodings the vCPU rejects with #UD, so those are compared too.
 *
 * Excluded from the random comparison, each for a stated reason (see
 * excluded() and docs/testing.md):
 *   - bytes either decoder rejects (Capstone's tables and the architecture
 *     differ on which reserved encodings exist; only the length is compared);
 *   - 66-prefixed near branches (E8, E9, 0F 80..8F) in 64-bit mode: Intel
 *     ignores the operand-size prefix there (rel32, SDM Vol. 2A 2.2.1.7 and
 *     the CALL/JMP/Jcc pages), AMD honours it (rel16); Capstone follows AMD.
 *
 * HV_TEST_ITERS scales the number of random strings (200 per unit, default
 * 2500 units: 500000 strings per mode).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Capstone's x86.h declares an `enum x86_insn` (instruction ids), which
 * clashes with the decoder's `struct x86_insn`; rename Capstone's in this file
 * only (an enum tag has no link-time name). */
#define x86_insn capstone_x86_insn
#include <capstone/capstone.h>
#undef x86_insn

#include "hv/cpu/decode.h"
#include "hv/cpu/optab.h"

struct known {
	unsigned mode;
	int len;
	uint8_t b[15];
	const char *what;
};

/* Lengths fixed by the encoding rules; each line says which rule it exercises. */
static const struct known known[] = {
	{ 64, 8, { 0x48, 0x8b, 0x84, 0x24, 0x00, 0x01, 0x00, 0x00 }, "mov rax,[rsp+0x100]: REX, ModRM, SIB, disp32" },
	{ 64, 1, { 0x90 }, "nop" },
	{ 64, 1, { 0xc3 }, "ret" },
	{ 64, 3, { 0xc2, 0x08, 0x00 }, "ret imm16" },
	{ 64, 10, { 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8 }, "mov rax, imm64 (REX.W B8: the only 8-byte immediate)" },
	{ 64, 5, { 0xb8, 1, 2, 3, 4 }, "mov eax, imm32" },
	{ 64, 5, { 0x66, 0x41, 0xb8, 1, 2 }, "mov r8w, imm16: 66 shrinks the immediate" },
	{ 64, 7, { 0x48, 0xc7, 0xc0, 1, 2, 3, 4 }, "mov rax, imm32 sign-extended (C7 /0 keeps imm32 with REX.W)" },
	{ 64, 6, { 0x8b, 0x05, 0, 0, 0, 0 }, "mov eax,[rip+disp32]: mod=00 rm=101 is RIP-relative" },
	{ 64, 7, { 0x8b, 0x04, 0x25, 0, 0, 0, 0 }, "mov eax,[disp32]: SIB base=101 with mod=00 adds disp32" },
	{ 64, 3, { 0x8b, 0x45, 0x10 }, "mov eax,[rbp+disp8]" },
	{ 64, 4, { 0x8b, 0x44, 0x24, 0x10 }, "mov eax,[rsp+disp8]: rm=100 needs SIB" },
	{ 64, 7, { 0xc6, 0x05, 0, 0, 0, 0, 0x11 }, "mov byte [rip+disp32], imm8" },
	{ 64, 10, { 0xc7, 0x05, 0, 0, 0, 0, 1, 2, 3, 4 }, "mov dword [rip+disp32], imm32" },
	{ 64, 3, { 0x83, 0xc0, 0x01 }, "add eax, imm8" },
	{ 64, 6, { 0x81, 0xc0, 1, 2, 3, 4 }, "add eax, imm32" },
	{ 64, 5, { 0x66, 0x81, 0xc0, 1, 2 }, "add ax, imm16" },
	{ 64, 2, { 0xf6, 0xd0 }, "not al: F6 /2 has no immediate" },
	{ 64, 3, { 0xf6, 0xc0, 0x01 }, "test al, imm8: F6 /0 has one" },
	{ 64, 6, { 0xf7, 0xc0, 1, 2, 3, 4 }, "test eax, imm32: F7 /0" },
	{ 64, 2, { 0xf7, 0xd8 }, "neg eax: F7 /3" },
	{ 64, 5, { 0xe8, 0, 0, 0, 0 }, "call rel32" },
	{ 64, 2, { 0xeb, 0xfe }, "jmp rel8" },
	{ 64, 6, { 0x0f, 0x84, 0, 0, 0, 0 }, "je rel32" },
	{ 64, 9, { 0xa1, 1, 2, 3, 4, 5, 6, 7, 8 }, "mov eax, moffs64: 64-bit address size" },
	{ 64, 6, { 0x67, 0xa1, 1, 2, 3, 4 }, "mov eax, moffs32 with 67" },
	{ 64, 4, { 0xc8, 0x10, 0x00, 0x01 }, "enter imm16, imm8" },
	{ 64, 2, { 0xcd, 0x80 }, "int 0x80" },
	{ 64, 2, { 0x0f, 0x05 }, "syscall" },
	{ 64, 3, { 0x0f, 0x01, 0xc1 }, "vmcall" },
	{ 64, 4, { 0x0f, 0xba, 0xe0, 0x05 }, "bt eax, 5: 0F BA /4 ib" },
	{ 64, 5, { 0xf3, 0x48, 0x0f, 0xb8, 0xc1 }, "popcnt rcx, rax: mandatory F3 before REX" },
	{ 64, 4, { 0x0f, 0x38, 0xf0, 0x06 }, "movbe eax,[rsi]: three-byte map 0F 38" },
	{ 64, 6, { 0x66, 0x0f, 0x3a, 0x0f, 0xc1, 0x08 }, "palignr xmm0, xmm1, 8: 0F 3A always has imm8" },
	{ 64, 3, { 0xc5, 0xf8, 0x77 }, "vzeroupper: 2-byte VEX" },
	{ 64, 5, { 0xc4, 0xe2, 0x79, 0x18, 0x06 }, "vbroadcastss xmm0,[rsi]: 3-byte VEX" },
	{ 64, 6, { 0x62, 0xf1, 0x7c, 0x48, 0x28, 0xc1 }, "vmovaps zmm0, zmm1: EVEX" },
	{ 64, 2, { 0xd9, 0xe8 }, "fld1: x87" },
	{ 64, 6, { 0xdd, 0x05, 0, 0, 0, 0 }, "fld qword [rip+disp32]: x87 with memory" },
	{ 64, 15, { 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0, 0, 0, 0, 0 }, "15-byte padded nopw: the longest legal instruction" },
	{ 64, 2, { 0x0f, 0x0b }, "ud2" },
	{ 32, 5, { 0xb8, 1, 2, 3, 4 }, "mov eax, imm32" },
	{ 32, 1, { 0x40 }, "inc eax: 40..4F are INC/DEC outside 64-bit mode" },
	{ 32, 6, { 0x8b, 0x05, 1, 2, 3, 4 }, "mov eax,[disp32]: mod=00 rm=101 is absolute in 32-bit mode" },
	{ 32, 4, { 0x67, 0x8b, 0x46, 0x10 }, "mov eax,[bp+disp8]: 16-bit addressing with 67" },
	{ 32, 5, { 0x67, 0x8b, 0x06, 0x34, 0x12 }, "mov eax,[disp16]: 16-bit mod=00 rm=110" },
	{ 32, 5, { 0xa1, 1, 2, 3, 4 }, "mov eax, moffs32" },
	{ 32, 4, { 0x66, 0xe8, 0x10, 0x00 }, "call rel16 with 66" },
	{ 32, 7, { 0xea, 1, 2, 3, 4, 0x08, 0x00 }, "jmp far ptr16:32" },
	{ 32, 5, { 0x66, 0x0f, 0xd6, 0x45, 0x00 }, "movq [ebp+0], xmm0: SSE2" },
	{ 32, 2, { 0xcd, 0x21 }, "int 0x21" },
	{ 32, 1, { 0x60 }, "pusha (invalid in 64-bit mode)" },
};

static void test_known_lengths(void **state)
{
	unsigned bad = 0;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		const struct known *k = &known[i];
		uint8_t buf[32];
		bool valid;
		memset(buf, 0, sizeof(buf));
		memcpy(buf, k->b, sizeof(k->b));
		int len = x86_insn_length(buf, sizeof(buf), k->mode, &valid);
		if (len != k->len) {
			fprintf(stderr, "%u-bit %s: length %d, expected %d\n", k->mode, k->what, len, k->len);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* SDM Vol. 2A 2.2.1: lengths need the whole instruction in `avail`. */
static void test_truncated(void **state)
{
	static const uint8_t movabs[] = { 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8 };
	bool valid;
	assert_int_equal(x86_insn_length(movabs, sizeof(movabs), 64, &valid), 10);
	assert_int_equal(x86_insn_length(movabs, sizeof(movabs) - 1, 64, &valid), -1);
	/* SDM 2.3.11: more than 15 bytes raises #GP; 15 prefixes + NOP is 16. */
	uint8_t longest[20];
	memset(longest, 0x66, sizeof(longest));
	longest[15] = 0x90;
	assert_int_equal(x86_insn_length(longest, sizeof(longest), 64, &valid), -1);
}

static uint64_t rng;

static uint64_t rnd(void)
{
	uint64_t x = rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* A random string, often shaped like real code. */
static void random_insn(uint8_t *b, size_t n, unsigned mode)
{
	static const uint8_t pfx[] = { 0x66, 0x67, 0xf2, 0xf3, 0xf0, 0x2e, 0x3e, 0x26, 0x64, 0x65, 0x36 };
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)rnd();
	if (rnd() % 2)
		return;
	size_t k = 0;
	unsigned np = (unsigned)(rnd() % 4);
	for (unsigned i = 0; i < np; i++)
		b[k++] = pfx[rnd() % sizeof(pfx)];
	if (mode == 64 && rnd() % 2)
		b[k++] = (uint8_t)(0x40 | (rnd() & 15));
	switch (rnd() % 6) {
	case 0:
	case 1:
		break; /* one-byte map: the random byte already there */
	case 2:
		b[k++] = 0x0f;
		break;
	case 3:
		b[k++] = 0x0f;
		b[k++] = rnd() % 2 ? 0x38 : 0x3a;
		break;
	case 4:
		b[k++] = rnd() % 2 ? 0xc4 : 0xc5;
		if (mode == 32)
			b[k] |= 0xc0; /* outside 64-bit mode VEX needs ModRM.mod = 11 in its byte */
		break;
	case 5:
		b[k++] = 0x62;
		if (mode == 32)
			b[k] |= 0xc0;
		break;
	}
}

/*
 * Classes of encodings left out of the random comparison. Each is either
 * outside the Intel architecture (the vCPU raises #UD, so its length means
 * nothing) or an encoding where Capstone 4 disagrees with the SDM.
 */
static bool excluded(const uint8_t *b, unsigned mode, const char *cs_ops, const char **why)
{
	size_t i = 0;
	bool has66 = false, has67 = false, hasf2f3 = false, rexw = false;
	while (i < 14) {
		uint8_t c = b[i];
		if (c == 0x66)
			has66 = true;
		else if (c == 0xf2 || c == 0xf3)
			hasf2f3 = true;
		else if (c == 0x67)
			has67 = true;
		else if (mode == 64 && (c & 0xf0) == 0x40)
			rexw = (c & 8) != 0; /* only the last REX counts */
		else if (!(c == 0xf0 || c == 0x2e || c == 0x3e || c == 0x26 ||
			   c == 0x64 || c == 0x65 || c == 0x36))
			break;
		if ((c & 0xf0) != 0x40 || mode != 64)
			rexw = false;
		i++;
	}
	const uint8_t *op = b + i;
	bool near_branch = op[0] == 0xe8 || op[0] == 0xe9 || (op[0] == 0x0f && (op[1] & 0xf0) == 0x80);

	if (has66 && near_branch && mode == 64) {
		*why = "66 on a near branch in 64-bit mode: Intel ignores it (rel32), AMD and Capstone use rel16";
		return true;
	}
	if (has66 && hasf2f3 && (near_branch || op[0] == 0x68)) {
		*why = "66 with F2/F3 on a near branch or PUSH imm: Capstone 4 drops the 66 (rel16/imm16 per SDM)";
		return true;
	}
	if (has67 && near_branch && mode == 64) {
		*why = "67 on a near branch in 64-bit mode: Capstone 4 takes rel16 with REX.W, the SDM keeps rel32";
		return true;
	}
	if (has67 && op[0] == 0x62 && (mode == 64 || (op[1] & 0xc0) == 0xc0)) {
		*why = "EVEX with 67: Capstone 4 miscounts the memory operand";
		return true;
	}
	if (op[0] == 0x0f && (op[1] == 0xb9 || op[1] == 0xff)) {
		*why = "UD1/UD0 (0F B9, 0F FF): the SDM gives both a ModRM byte, Capstone 4 does not";
		return true;
	}
	if (op[0] == 0x0f && (op[1] == 0x78 || op[1] == 0x79)) {
		*why = "0F 78/79: VMREAD/VMWRITE (#UD in a guest) or AMD SSE4a EXTRQ/INSERTQ; Capstone 4 "
		       "picks EXTRQ for some prefix mixes";
		return true;
	}
	if (op[0] == 0x0f && (op[1] == 0xa6 || op[1] == 0xa7)) {
		*why = "VIA PadLock (0F A6/A7): not Intel architecture, #UD in the vCPU";
		return true;
	}
	if (op[0] == 0x8f && (op[1] & 0x1f) >= 8) {
		*why = "AMD XOP (8F with map select >= 8): not Intel architecture, #UD in the vCPU";
		return true;
	}
	if (mode == 64 && rexw && (op[0] == 0xc2 || op[0] == 0xca)) {
		*why = "RET imm16 with REX.W: Capstone 4 reads a longer immediate, the SDM says iw";
		return true;
	}
	if (op[0] == 0x62 && strstr(cs_ops, "-sae}")) {
		*why = "EVEX register forms Capstone 4 shows with embedded rounding ({rn/rd/ru/rz-sae}): "
		       "it counts one byte too many";
		return true;
	}
	return false;
}

static void compare_random(unsigned mode, uint64_t seed)
{
	csh h;
	const char *ev = getenv("HV_TEST_ITERS");
	unsigned long units = ev && *ev ? strtoul(ev, NULL, 0) : 0;
	unsigned long n = 200 * (units ? units : 2500);
	unsigned long compared = 0, cs_only = 0, hv_only = 0, neither = 0, skipped = 0, bad = 0;

	assert_int_equal(cs_open(CS_ARCH_X86, mode == 64 ? CS_MODE_64 : CS_MODE_32, &h), CS_ERR_OK);
	cs_insn *insn = cs_malloc(h);
	assert_non_null(insn);
	rng = seed;
	for (unsigned long it = 0; it < n; it++) {
		uint8_t b[32];
		memset(b, 0, sizeof(b));
		random_insn(b, 15, mode);
		const uint8_t *code = b;
		size_t size = 15;
		uint64_t addr = 0x1000;
		bool cs_ok = cs_disasm_iter(h, &code, &size, &addr, insn);
		bool valid;
		int len = x86_insn_length(b, 15, mode, &valid);
		const char *why;
		if (!cs_ok || len < 0) {
			if (cs_ok)
				cs_only++;
			else if (len >= 0)
				hv_only++;
			else
				neither++;
			continue;
		}
		if (excluded(b, mode, insn->op_str, &why)) {
			if (getenv("HV_LEN_VERBOSE"))
				fprintf(stderr, "excluded: %s\n", why);
			skipped++;
			continue;
		}
		compared++;
		if ((int)insn->size != len) {
			if (bad < 20) {
				fprintf(stderr, "%u-bit length mismatch: hv %d (%s), capstone %u (%s %s):", mode,
					len, valid ? "valid" : "#UD", insn->size, insn->mnemonic, insn->op_str);
				for (int i = 0; i < 15; i++)
					fprintf(stderr, " %02x", b[i]);
				fprintf(stderr, "\n");
			}
			bad++;
		}
	}
	fprintf(stderr, "%u-bit: %lu compared, %lu excluded by rule, %lu only Capstone decodes, "
		"%lu only hv decodes, %lu neither, %lu mismatches\n",
		mode, compared, skipped, cs_only, hv_only, neither, bad);
	cs_free(insn, 1);
	cs_close(&h);
	assert_int_equal(bad, 0);
	/* The comparison must have covered most strings, or it proves little. */
	assert_true(compared > n / 2);
}

static void test_random_64(void **state) { compare_random(64, 0x64); }
static void test_random_32(void **state) { compare_random(32, 0x32); }

/*
 * The opcode table: every opcode the decoder can accept has a handler or a
 * selector, and no opcode it always rejects (A_UD) or that is a prefix has
 * one. Exceptions: the escapes 0F, 0F 38, 0F 3A (no entry of their own) and
 * LAR/LSL (0F 02/03: decoded with ModRM, rejected by decode.c).
 */
/*
 * is_canonical (x86.h): 48-bit canonical addresses are canonical with
 * CR4.LA57 too; the others only with LA57, when bits 63:56 copy bit 56
 * (SDM Vol. 3A 4.5).
 */
static void test_is_canonical(void **state)
{
	static const struct {
		uint64_t a;
		bool c48, c57;
	} cases[] = {
		{ 0x0000000000000000ULL, true, true },
		{ 0x00007fffffffffffULL, true, true },
		{ 0x0000800000000000ULL, false, true },
		{ 0xffff800000000000ULL, true, true },
		{ 0xffff7fffffffffffULL, false, true },
		{ 0x00ffffffffffffffULL, false, true },
		{ 0x0100000000000000ULL, false, false },
		{ 0xff00000000000000ULL, false, true },
		{ 0xfeffffffffffffffULL, false, false },
		{ 0x8000000000000000ULL, false, false },
	};
	static struct vcpu_soft v;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		v.cr4 = 0;
		assert_int_equal(is_canonical(&v, cases[i].a), cases[i].c48);
		v.cr4 = CR4_LA57;
		assert_int_equal(is_canonical(&v, cases[i].a), cases[i].c57);
	}
}

static void test_optab_complete(void **state)
{
	unsigned handled = 0;
	for (unsigned map = 0; map < 4; map++) {
		for (unsigned b = 0; b < 256; b++) {
			const struct x86_op *o = &x86_optab[map][b];
			bool has = o->fn || o->sel;
			bool escape = (map == 0 && b == 0x0f) || (map == 1 && (b == 0x38 || b == 0x3a));
			bool rejected = map == 1 && (b == 0x02 || b == 0x03);
			if ((o->attr & (A_UD | A_PFX)) || escape || rejected) {
				if (has)
					fail_msg("map %u opcode %02x: a handler on an opcode never executed", map, b);
				continue;
			}
			if (!has)
				fail_msg("map %u opcode %02x: accepted but no handler", map, b);
			handled++;
		}
	}
	/* Count of executed opcode bytes over all maps; changes only with the instruction set. */
	assert_int_equal(handled, 459);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_lengths),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_random_64),
		cmocka_unit_test(test_random_32),
		cmocka_unit_test(test_optab_complete),
		cmocka_unit_test(test_is_canonical),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
