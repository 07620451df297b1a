/* SPDX-License-Identifier: MIT */
/*
 * tests/cpu_diff_test.c - differential test of the software vCPU against the
 * host CPU.
 *
 * For each unprivileged instruction form, random operands and flags are
 * generated from a fixed seed; the same bytes run
 *
 *   natively: in an RWX page of this process at CODE_VA, between an entry
 *     routine that loads every GPR but RSP and RFLAGS from a struct and an exit
 *     routine that stores them back (native_enter / native_exit below), and
 *   in the interpreter: at the same guest-virtual address CODE_VA, followed by
 *     HLT, in a 64-bit ring-0 guest built by tests/cpu_harness.c.
 *
 * Memory operands point into a scratch area that also sits at the same
 * address on both sides (SCRATCH_VA), so effective addresses, RIP-relative
 * operands and memory results compare directly. Afterwards every GPR except
 * RSP, the arithmetic flags and DF, and the scratch bytes must be equal; flags
 * (and, for BSF/BSR of 0, the destination) the SDM leaves undefined are masked
 * per instruction, with the rule named in flag_rule_mask().
 *
 * HV_TEST_ITERS sets the number of random cases per form (default 2000);
 * HV_DIFF_VERBOSE=1 prints the cases that fault natively.
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
#include <cpuid.h>

#include <cmocka.h>

#include "hv/cpu/decode.h"
#include "tests/cpu_harness.h"

/* Below 4 GiB, so that 67h (32-bit) addressing reaches the scratch area too;
 * free in a Linux process (PIE images and libraries load far higher). */
#define CODE_VA      0x70000000ULL
#define SCRATCH_VA   (CODE_VA + 0x1000)
#define SCRATCH_SIZE 0x2000
#define SCRATCH_MID  (SCRATCH_VA + SCRATCH_SIZE / 2)
#define CODE_GPA     (TVM_FREE + 0x100000)
#define SCRATCH_GPA  (CODE_GPA + 0x1000)

/* RFLAGS bits (SDM 3.4.3). */
#define FL_CF 0x001ULL
#define FL_PF 0x004ULL
#define FL_AF 0x010ULL
#define FL_ZF 0x040ULL
#define FL_SF 0x080ULL
#define FL_IF 0x200ULL
#define FL_DF 0x400ULL
#define FL_OF 0x800ULL
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI };

/* The register file both sides load and store; offsets are used by the asm. */
struct cpu_state {
	uint64_t gpr[16];
	uint64_t rflags;
};
_Static_assert(offsetof(struct cpu_state, rflags) == 128, "native_enter uses offset 128");

/* ------------------------------------------------------------------------ */
/* Native execution                                                          */
/* ------------------------------------------------------------------------ */
/*
 * native_enter(state, code): saves the callee-saved registers and RSP, loads
 * the GPRs (not RSP) and RFLAGS from *state and "returns" into code. The code
 * page ends with `jmp *native_exit`, which stores the GPRs and RFLAGS back,
 * clears DF (the ABI wants it clear), restores RSP and returns to the caller.
 * The instruction under test never touches RSP (the generator keeps it out of
 * every operand), so the stack stays valid in between.
 */
__asm__(".text\n"
	".globl native_enter, native_exit, native_exit_taken, native_taken\n"
	"native_enter:\n"
	"	push %rbx\n"
	"	push %rbp\n"
	"	push %r12\n"
	"	push %r13\n"
	"	push %r14\n"
	"	push %r15\n"
	"	mov %rsp, native_saved_rsp(%rip)\n"
	"	mov %rdi, native_state(%rip)\n"
	"	push %rsi\n"		/* where the final ret goes */
	"	pushq 128(%rdi)\n"
	"	mov 0(%rdi), %rax\n"
	"	mov 8(%rdi), %rcx\n"
	"	mov 16(%rdi), %rdx\n"
	"	mov 24(%rdi), %rbx\n"
	"	mov 40(%rdi), %rbp\n"
	"	mov 48(%rdi), %rsi\n"
	"	mov 64(%rdi), %r8\n"
	"	mov 72(%rdi), %r9\n"
	"	mov 80(%rdi), %r10\n"
	"	mov 88(%rdi), %r11\n"
	"	mov 96(%rdi), %r12\n"
	"	mov 104(%rdi), %r13\n"
	"	mov 112(%rdi), %r14\n"
	"	mov 120(%rdi), %r15\n"
	"	mov 56(%rdi), %rdi\n"
	"	popfq\n"
	"	ret\n"
	/* A branch's target: note that it was taken (MOV leaves the flags
	 * alone), then the common exit. */
	"native_exit_taken:\n"
	"	movb $1, native_taken(%rip)\n"
	"native_exit:\n"
	"	pushfq\n"
	"	push %rax\n"
	"	mov native_state(%rip), %rax\n"
	"	popq 0(%rax)\n"
	"	popq 128(%rax)\n"
	"	mov %rcx, 8(%rax)\n"
	"	mov %rdx, 16(%rax)\n"
	"	mov %rbx, 24(%rax)\n"
	"	mov %rbp, 40(%rax)\n"
	"	mov %rsi, 48(%rax)\n"
	"	mov %rdi, 56(%rax)\n"
	"	mov %r8, 64(%rax)\n"
	"	mov %r9, 72(%rax)\n"
	"	mov %r10, 80(%rax)\n"
	"	mov %r11, 88(%rax)\n"
	"	mov %r12, 96(%rax)\n"
	"	mov %r13, 104(%rax)\n"
	"	mov %r14, 112(%rax)\n"
	"	mov %r15, 120(%rax)\n"
	"	cld\n"
	"	mov native_saved_rsp(%rip), %rsp\n"
	"	pop %r15\n"
	"	pop %r14\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbp\n"
	"	pop %rbx\n"
	"	ret\n"
	".bss\n"
	".balign 8\n"
	"native_saved_rsp: .quad 0\n"
	"native_state: .quad 0\n"
	"native_taken: .byte 0\n"
	".text\n");
void native_enter(struct cpu_state *st, void *code);
extern char native_exit[], native_exit_taken[];
extern volatile uint8_t native_taken;

/* Branch forms jump this far past their own end; both ends hold an exit. */
#define BRANCH_DISP 16

static uint8_t *native_page; /* CODE_VA: code page, then the scratch pages */
static sigjmp_buf native_fault_jmp;
static volatile sig_atomic_t native_signal;

static void native_fault(int sig)
{
	native_signal = sig;
	siglongjmp(native_fault_jmp, 1);
}

static void put_exit_jump(uint8_t *at, const void *to)
{
	static const uint8_t jmp_exit[] = { 0xff, 0x25, 0, 0, 0, 0 }; /* jmp *0(%rip) */
	uint64_t target = (uint64_t)(uintptr_t)to;
	memcpy(at, jmp_exit, sizeof(jmp_exit));
	memcpy(at + sizeof(jmp_exit), &target, 8);
}

/* Run `code` natively on *st; 0, or the signal number it raised. After a
 * branch form, native_taken says which way it went. */
static int native_run(const uint8_t *code, size_t len, struct cpu_state *st)
{
	_Static_assert(BRANCH_DISP >= 14, "the fall-through exit jump is 14 bytes");
	memcpy(native_page, code, len);
	put_exit_jump(native_page + len, native_exit);
	put_exit_jump(native_page + len + BRANCH_DISP, native_exit_taken);
	native_taken = 0;
	native_signal = 0;
	if (sigsetjmp(native_fault_jmp, 1) == 0)
		native_enter(st, native_page);
	return native_signal;
}

/* ------------------------------------------------------------------------ */
/* Instruction forms                                                        */
/* ------------------------------------------------------------------------ */

enum kind {
	K_MODRM,       /* ModRM.reg is a register operand, ModRM.rm register or memory */
	K_DIGIT,       /* ModRM.reg is an opcode extension (/digit) */
	K_ACC,         /* accumulator and immediate, no ModRM */
	K_OPREG,       /* register in the opcode's low 3 bits */
	K_NONE,        /* no explicit operands */
	K_STRING,      /* string instruction: RSI/RDI/RCX set up inside the scratch area */
	K_LEA,         /* LEA: any addressing form, the address is not accessed */
	K_BRANCH,      /* relative branch BRANCH_DISP bytes past its end (imm = rel8/rel32) */
};

/* Which rule decides the undefined flags and the input constraints. */
enum rule {
	R_ALL,         /* every arithmetic flag defined (or unaffected) */
	R_LOGIC,       /* SDM AND/OR/XOR/TEST: OF=CF=0, AF undefined */
	R_SHIFT,       /* SDM SAL/SAR/SHL/SHR */
	R_ROT,         /* SDM RCL/RCR/ROL/ROR */
	R_SHXD,        /* SDM SHLD/SHRD */
	R_MUL,         /* SDM MUL/IMUL: SF, ZF, AF, PF undefined */
	R_DIV,         /* SDM DIV/IDIV: CF, OF, SF, ZF, AF, PF undefined */
	R_BT,          /* SDM BT/BTS/BTR/BTC: OF, SF, AF, PF undefined, ZF unaffected */
	R_BSF,         /* SDM BSF/BSR: CF, OF, SF, AF, PF undefined; dest undefined for 0 */
	R_LZCNT,       /* SDM LZCNT/TZCNT: OF, SF, PF, AF undefined */
};

enum group { G_ALU, G_SHIFT, G_MULDIV, G_BITS, G_CMOV, G_MOVES, G_STRINGS, G_BRANCH };

struct form {
	char name[40];
	uint8_t op[3], oplen;
	uint8_t prefix;     /* 0xf3/0xf2 (mandatory or REP), or 0 */
	int8_t digit;       /* K_DIGIT: the /digit */
	uint8_t size;       /* operand size in bits (the ModRM.reg operand for K_MODRM) */
	uint8_t rm_size;    /* size of the r/m operand (movzx/movsx/movsxd/setcc differ) */
	uint8_t imm;        /* immediate bytes */
	uint8_t shift_op;   /* R_SHIFT/R_ROT/R_SHXD: 0 rol,1 ror,2 rcl,3 rcr,4 shl,5 shr,7 sar; 8 shld, 9 shrd */
	uint8_t count_src;  /* shifts: 1 = by one, 2 = by imm8, 3 = by CL */
	bool divide, signed_div;
	bool bt_mem_reg;    /* BT* r/m, reg: the bit offset may leave the operand */
	bool lockable;      /* LOCK allowed when r/m is memory */
	bool rm_mem_only;   /* r/m must be memory */
	uint8_t align;      /* alignment the memory operand needs (CMPXCHG16B), or 0 */
	bool cmpxchg;       /* CMPXCHG*: make "equal" likely */
	bool uses_rcx;      /* LOOPcc, JRCXZ: RCX values near 0 and 2^32 */
	bool a32;           /* always a 67h prefix (string forms: ESI, EDI, ECX) */
	enum kind kind;
	enum rule rule;
	enum group group;
};

#define MAX_FORMS 1200
static struct form forms[MAX_FORMS];
static unsigned nforms;
static enum group building; /* the group add_form() puts new forms in */

static struct form *add_form(enum kind kind, enum rule rule, unsigned size, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static struct form *add_form(enum kind kind, enum rule rule, unsigned size, const char *fmt, ...)
{
	assert_true(nforms < MAX_FORMS);
	struct form *f = &forms[nforms++];
	va_list ap;

	memset(f, 0, sizeof(*f));
	va_start(ap, fmt);
	vsnprintf(f->name, sizeof(f->name), fmt, ap);
	va_end(ap);
	f->kind = kind;
	f->rule = rule;
	f->size = (uint8_t)size;
	f->rm_size = (uint8_t)size;
	f->digit = -1;
	f->group = building;
	return f;
}

static void set_op(struct form *f, unsigned n, uint8_t a, uint8_t b, uint8_t c)
{
	f->oplen = (uint8_t)n;
	f->op[0] = a;
	f->op[1] = b;
	f->op[2] = c;
}

static const unsigned sizes[4] = { 8, 16, 32, 64 };

static void build_alu(void)
{
	static const char *const names[8] = { "add", "or", "adc", "sbb", "and", "sub", "xor", "cmp" };
	for (unsigned k = 0; k < 8; k++) {
		enum rule rule = (k == 1 || k == 4 || k == 6) ? R_LOGIC : R_ALL;
		bool lock = k != 7;
		for (unsigned i = 0; i < 4; i++) {
			unsigned s = sizes[i];
			uint8_t w = s != 8;
			struct form *f = add_form(K_MODRM, rule, s, "%s r/m%u, r%u", names[k], s, s);
			set_op(f, 1, (uint8_t)(8 * k + w), 0, 0);
			f->lockable = lock;
			f = add_form(K_MODRM, rule, s, "%s r%u, r/m%u", names[k], s, s);
			set_op(f, 1, (uint8_t)(8 * k + 2 + w), 0, 0);
			f = add_form(K_ACC, rule, s, "%s acc%u, imm", names[k], s);
			set_op(f, 1, (uint8_t)(8 * k + 4 + w), 0, 0);
			f->imm = s == 8 ? 1 : s == 16 ? 2 : 4;
			f = add_form(K_DIGIT, rule, s, "%s r/m%u, imm", names[k], s);
			set_op(f, 1, s == 8 ? 0x80 : 0x81, 0, 0);
			f->digit = (int8_t)k;
			f->imm = s == 8 ? 1 : s == 16 ? 2 : 4;
			f->lockable = lock;
			if (s != 8) {
				f = add_form(K_DIGIT, rule, s, "%s r/m%u, imm8", names[k], s);
				set_op(f, 1, 0x83, 0, 0);
				f->digit = (int8_t)k;
				f->imm = 1;
				f->lockable = lock;
			}
		}
	}
	for (unsigned i = 0; i < 4; i++) {
		unsigned s = sizes[i];
		uint8_t w = s != 8;
		static const char *const un[4] = { "inc", "dec", "not", "neg" };
		static const uint8_t digit[4] = { 0, 1, 2, 3 };
		for (unsigned u = 0; u < 4; u++) {
			struct form *f = add_form(K_DIGIT, R_ALL, s, "%s r/m%u", un[u], s);
			set_op(f, 1, u < 2 ? (uint8_t)(0xfe + w) : (uint8_t)(0xf6 + w), 0, 0);
			f->digit = (int8_t)digit[u];
			f->lockable = true;
		}
		struct form *f = add_form(K_MODRM, R_LOGIC, s, "test r/m%u, r%u", s, s);
		set_op(f, 1, (uint8_t)(0x84 + w), 0, 0);
		f = add_form(K_ACC, R_LOGIC, s, "test acc%u, imm", s);
		set_op(f, 1, (uint8_t)(0xa8 + w), 0, 0);
		f->imm = s == 8 ? 1 : s == 16 ? 2 : 4;
		f = add_form(K_DIGIT, R_LOGIC, s, "test r/m%u, imm", s);
		set_op(f, 1, (uint8_t)(0xf6 + w), 0, 0);
		f->digit = 0;
		f->imm = s == 8 ? 1 : s == 16 ? 2 : 4;
	}
}

static void build_shifts(void)
{
	static const char *const names[8] = { "rol", "ror", "rcl", "rcr", "shl", "shr", NULL, "sar" };
	for (unsigned d = 0; d < 8; d++) {
		if (!names[d])
			continue;
		for (unsigned i = 0; i < 4; i++) {
			unsigned s = sizes[i];
			uint8_t w = s != 8;
			enum rule rule = d < 4 ? R_ROT : R_SHIFT;
			struct form *f = add_form(K_DIGIT, rule, s, "%s r/m%u, 1", names[d], s);
			set_op(f, 1, (uint8_t)(0xd0 + w), 0, 0);
			f->digit = (int8_t)d;
			f->shift_op = (uint8_t)d;
			f->count_src = 1;
			f = add_form(K_DIGIT, rule, s, "%s r/m%u, imm8", names[d], s);
			set_op(f, 1, (uint8_t)(0xc0 + w), 0, 0);
			f->digit = (int8_t)d;
			f->imm = 1;
			f->shift_op = (uint8_t)d;
			f->count_src = 2;
			f = add_form(K_DIGIT, rule, s, "%s r/m%u, cl", names[d], s);
			set_op(f, 1, (uint8_t)(0xd2 + w), 0, 0);
			f->digit = (int8_t)d;
			f->shift_op = (uint8_t)d;
			f->count_src = 3;
		}
	}
	for (unsigned i = 1; i < 4; i++) {
		unsigned s = sizes[i];
		for (unsigned right = 0; right < 2; right++) {
			const char *n = right ? "shrd" : "shld";
			uint8_t base = right ? 0xac : 0xa4;
			struct form *f = add_form(K_MODRM, R_SHXD, s, "%s r/m%u, r%u, imm8", n, s, s);
			set_op(f, 2, 0x0f, base, 0);
			f->imm = 1;
			f->shift_op = (uint8_t)(8 + right);
			f->count_src = 2;
			f = add_form(K_MODRM, R_SHXD, s, "%s r/m%u, r%u, cl", n, s, s);
			set_op(f, 2, 0x0f, (uint8_t)(base + 1), 0);
			f->shift_op = (uint8_t)(8 + right);
			f->count_src = 3;
		}
	}
}

static bool host_has_lzcnt, host_has_tzcnt, host_has_popcnt, host_has_lahf;

static void build_muldiv_bits(void)
{
	for (unsigned i = 0; i < 4; i++) {
		unsigned s = sizes[i];
		uint8_t w = s != 8;
		static const char *const n[4] = { "mul", "imul", "div", "idiv" };
		building = G_MULDIV;
		for (unsigned k = 0; k < 4; k++) {
			struct form *f = add_form(K_DIGIT, k < 2 ? R_MUL : R_DIV, s, "%s r/m%u", n[k], s);
			set_op(f, 1, (uint8_t)(0xf6 + w), 0, 0);
			f->digit = (int8_t)(4 + k);
			f->divide = k >= 2;
			f->signed_div = k == 3;
		}
		if (s == 8)
			continue;
		building = G_MULDIV;
		struct form *f = add_form(K_MODRM, R_MUL, s, "imul r%u, r/m%u", s, s);
		set_op(f, 2, 0x0f, 0xaf, 0);
		f = add_form(K_MODRM, R_MUL, s, "imul r%u, r/m%u, imm", s, s);
		set_op(f, 1, 0x69, 0, 0);
		f->imm = s == 16 ? 2 : 4;
		f = add_form(K_MODRM, R_MUL, s, "imul r%u, r/m%u, imm8", s, s);
		set_op(f, 1, 0x6b, 0, 0);
		f->imm = 1;

		building = G_BITS;
		static const char *const bn[4] = { "bt", "bts", "btr", "btc" };
		for (unsigned k = 0; k < 4; k++) {
			f = add_form(K_MODRM, R_BT, s, "%s r/m%u, r%u", bn[k], s, s);
			set_op(f, 2, 0x0f, (uint8_t)(0xa3 + 8 * k), 0);
			f->bt_mem_reg = true;
			f->lockable = k != 0;
			f = add_form(K_DIGIT, R_BT, s, "%s r/m%u, imm8", bn[k], s);
			set_op(f, 2, 0x0f, 0xba, 0);
			f->digit = (int8_t)(4 + k);
			f->imm = 1;
			f->lockable = k != 0;
		}
		f = add_form(K_MODRM, R_BSF, s, "bsf r%u, r/m%u", s, s);
		set_op(f, 2, 0x0f, 0xbc, 0);
		f = add_form(K_MODRM, R_BSF, s, "bsr r%u, r/m%u", s, s);
		set_op(f, 2, 0x0f, 0xbd, 0);
		if (host_has_popcnt) {
			f = add_form(K_MODRM, R_ALL, s, "popcnt r%u, r/m%u", s, s);
			set_op(f, 2, 0x0f, 0xb8, 0);
			f->prefix = 0xf3;
		}
		if (host_has_tzcnt) {
			f = add_form(K_MODRM, R_LZCNT, s, "tzcnt r%u, r/m%u", s, s);
			set_op(f, 2, 0x0f, 0xbc, 0);
			f->prefix = 0xf3;
		}
		if (host_has_lzcnt) {
			f = add_form(K_MODRM, R_LZCNT, s, "lzcnt r%u, r/m%u", s, s);
			set_op(f, 2, 0x0f, 0xbd, 0);
			f->prefix = 0xf3;
		}
	}
}

static void build_moves(void)
{
	for (unsigned i = 0; i < 4; i++) {
		unsigned s = sizes[i];
		uint8_t w = s != 8;
		struct form *f = add_form(K_MODRM, R_ALL, s, "mov r/m%u, r%u", s, s);
		set_op(f, 1, (uint8_t)(0x88 + w), 0, 0);
		f = add_form(K_MODRM, R_ALL, s, "mov r%u, r/m%u", s, s);
		set_op(f, 1, (uint8_t)(0x8a + w), 0, 0);
		f = add_form(K_DIGIT, R_ALL, s, "mov r/m%u, imm", s);
		set_op(f, 1, (uint8_t)(0xc6 + w), 0, 0);
		f->digit = 0;
		f->imm = s == 8 ? 1 : s == 16 ? 2 : 4;
		f = add_form(K_OPREG, R_ALL, s, "mov r%u, imm%u", s, s);
		set_op(f, 1, s == 8 ? 0xb0 : 0xb8, 0, 0);
		f->imm = (uint8_t)(s / 8);
		f = add_form(K_MODRM, R_ALL, s, "xchg r/m%u, r%u", s, s);
		set_op(f, 1, (uint8_t)(0x86 + w), 0, 0);
		f->lockable = true;
		f = add_form(K_MODRM, R_ALL, s, "cmpxchg r/m%u, r%u", s, s);
		set_op(f, 2, 0x0f, (uint8_t)(0xb0 + w), 0);
		f->lockable = true;
		f->cmpxchg = true;
		f = add_form(K_MODRM, R_ALL, s, "xadd r/m%u, r%u", s, s);
		set_op(f, 2, 0x0f, (uint8_t)(0xc0 + w), 0);
		f->lockable = true;
		if (s != 8) {
			f = add_form(K_OPREG, R_ALL, s, "xchg acc%u, r%u", s, s);
			set_op(f, 1, 0x90, 0, 0);
			f = add_form(K_LEA, R_ALL, s, "lea r%u, m", s);
			set_op(f, 1, 0x8d, 0, 0);
			f = add_form(K_MODRM, R_ALL, s, "movzx r%u, r/m8", s);
			set_op(f, 2, 0x0f, 0xb6, 0);
			f->rm_size = 8;
			f = add_form(K_MODRM, R_ALL, s, "movsx r%u, r/m8", s);
			set_op(f, 2, 0x0f, 0xbe, 0);
			f->rm_size = 8;
		}
		if (s >= 32) {
			f = add_form(K_MODRM, R_ALL, s, "movzx r%u, r/m16", s);
			set_op(f, 2, 0x0f, 0xb7, 0);
			f->rm_size = 16;
			f = add_form(K_MODRM, R_ALL, s, "movsx r%u, r/m16", s);
			set_op(f, 2, 0x0f, 0xbf, 0);
			f->rm_size = 16;
			/* SDM BSWAP: the 16-bit form's result is undefined, so only 32/64. */
			f = add_form(K_OPREG, R_ALL, s, "bswap r%u", s);
			set_op(f, 2, 0x0f, 0xc8, 0);
		}
	}
	struct form *f = add_form(K_MODRM, R_ALL, 64, "movsxd r64, r/m32");
	set_op(f, 1, 0x63, 0, 0);
	f->rm_size = 32;
	f = add_form(K_NONE, R_ALL, 32, "nop");
	set_op(f, 1, 0x90, 0, 0);
	/* SDM CMPXCHG8B/16B: ZF defined, CF, PF, AF, SF, OF unaffected. */
	f = add_form(K_DIGIT, R_ALL, 32, "cmpxchg8b m64");
	set_op(f, 2, 0x0f, 0xc7, 0);
	f->digit = 1;
	f->rm_mem_only = true;
	f->lockable = true;
	f->cmpxchg = true;
	f = add_form(K_DIGIT, R_ALL, 64, "cmpxchg16b m128");
	set_op(f, 2, 0x0f, 0xc7, 0);
	f->digit = 1;
	f->rm_mem_only = true;
	f->lockable = true;
	f->cmpxchg = true;
	f->align = 16; /* SDM CMPXCHG16B: #GP unless the operand is 16-byte aligned */
	/* Flag instructions (SDM LAHF/SAHF need CPUID.80000001H:ECX.LAHF-SAHF in 64-bit mode). */
	static const struct { const char *n; uint8_t op; } fl[] = {
		{ "cmc", 0xf5 }, { "clc", 0xf8 }, { "stc", 0xf9 }, { "cld", 0xfc }, { "std", 0xfd },
		{ "lahf", 0x9f }, { "sahf", 0x9e },
	};
	for (unsigned i = 0; i < sizeof(fl) / sizeof(fl[0]); i++) {
		if (fl[i].op >= 0x9e && !host_has_lahf)
			continue;
		f = add_form(K_NONE, R_ALL, 32, "%s", fl[i].n);
		set_op(f, 1, fl[i].op, 0, 0);
	}
	static const struct { const char *n; unsigned s; uint8_t op; } conv[] = {
		{ "cbw", 16, 0x98 }, { "cwde", 32, 0x98 }, { "cdqe", 64, 0x98 },
		{ "cwd", 16, 0x99 }, { "cdq", 32, 0x99 }, { "cqo", 64, 0x99 },
	};
	for (unsigned i = 0; i < sizeof(conv) / sizeof(conv[0]); i++) {
		f = add_form(K_NONE, R_ALL, conv[i].s, "%s", conv[i].n);
		set_op(f, 1, conv[i].op, 0, 0);
	}
	static const char *const cc[16] = { "o", "no", "b", "ae", "e", "ne", "be", "a",
					     "s", "ns", "p", "np", "l", "ge", "le", "g" };
	building = G_CMOV;
	for (unsigned c = 0; c < 16; c++) {
		for (unsigned i = 1; i < 4; i++) {
			f = add_form(K_MODRM, R_ALL, sizes[i], "cmov%s r%u, r/m%u", cc[c], sizes[i], sizes[i]);
			set_op(f, 2, 0x0f, (uint8_t)(0x40 + c), 0);
		}
		f = add_form(K_DIGIT, R_ALL, 8, "set%s r/m8", cc[c]);
		set_op(f, 2, 0x0f, (uint8_t)(0x90 + c), 0);
		f->digit = 0;
	}
}

static void build_branches(void)
{
	static const char *const cc[16] = { "o", "no", "b", "ae", "e", "ne", "be", "a",
					     "s", "ns", "p", "np", "l", "ge", "le", "g" };
	struct form *f;
	for (unsigned c = 0; c < 16; c++) {
		f = add_form(K_BRANCH, R_ALL, 32, "j%s rel8", cc[c]);
		set_op(f, 1, (uint8_t)(0x70 + c), 0, 0);
		f->imm = 1;
		f = add_form(K_BRANCH, R_ALL, 32, "j%s rel32", cc[c]);
		set_op(f, 2, 0x0f, (uint8_t)(0x80 + c), 0);
		f->imm = 4;
	}
	f = add_form(K_BRANCH, R_ALL, 32, "jmp rel8");
	set_op(f, 1, 0xeb, 0, 0);
	f->imm = 1;
	f = add_form(K_BRANCH, R_ALL, 32, "jmp rel32");
	set_op(f, 1, 0xe9, 0, 0);
	f->imm = 4;
	/* SDM LOOP/JRCXZ: the count register is RCX, or ECX with 67h. */
	static const struct { const char *n; uint8_t op; } lp[] = {
		{ "loopne", 0xe0 }, { "loope", 0xe1 }, { "loop", 0xe2 }, { "jrcxz", 0xe3 },
	};
	for (unsigned i = 0; i < 4; i++) {
		for (unsigned a32 = 0; a32 < 2; a32++) {
			f = add_form(K_BRANCH, R_ALL, 32, "%s rel8%s", lp[i].n, a32 ? " (67h: ecx)" : "");
			set_op(f, 1, lp[i].op, 0, 0);
			f->imm = 1;
			f->prefix = a32 ? 0x67 : 0;
			f->uses_rcx = true;
		}
	}
}

static void build_strings(void)
{
	static const struct { const char *n; uint8_t op; bool cmp; } str[] = {
		{ "movs", 0xa4, false }, { "cmps", 0xa6, true }, { "stos", 0xaa, false },
		{ "lods", 0xac, false }, { "scas", 0xae, true },
	};
	for (unsigned k = 0; k < 5; k++) {
		for (unsigned i = 0; i < 4; i++) {
			for (unsigned a32 = 0; a32 < 2; a32++) {
				unsigned s = sizes[i];
				uint8_t op = (uint8_t)(str[k].op + (s != 8));
				const char *as = a32 ? " (67h)" : "";
				struct form *f = add_form(K_STRING, R_ALL, s, "%s%u%s", str[k].n, s, as);
				set_op(f, 1, op, 0, 0);
				f->a32 = a32;
				f = add_form(K_STRING, R_ALL, s, "rep%s %s%u%s", str[k].cmp ? "e" : "",
					     str[k].n, s, as);
				set_op(f, 1, op, 0, 0);
				f->prefix = 0xf3;
				f->a32 = a32;
				if (str[k].cmp) {
					f = add_form(K_STRING, R_ALL, s, "repne %s%u%s", str[k].n, s, as);
					set_op(f, 1, op, 0, 0);
					f->prefix = 0xf2;
					f->a32 = a32;
				}
			}
		}
	}
}

/* ------------------------------------------------------------------------ */
/* Random cases                                                              */
/* ------------------------------------------------------------------------ */

struct insn {
	uint8_t b[16];
	unsigned len;
	bool rex;
	int reg;          /* ModRM.reg register operand (K_MODRM), or the K_OPREG register */
	int rm;           /* register when mod == 3, else -1 */
	bool mem;
	uint64_t ea;      /* effective address of the memory operand */
	uint64_t imm;
	unsigned imm_len;
};

struct tcase {
	struct cpu_state in;
	uint8_t mem[SCRATCH_SIZE];
	struct insn insn;
};

static uint64_t rng;

static uint64_t rnd(void) { return tvm_rand(&rng); }
static unsigned rndn(unsigned n) { return (unsigned)(rnd() % n); }

/* Operand values biased towards the edges where flags change. */
static uint64_t rand_value(void)
{
	static const unsigned bits[4] = { 8, 16, 32, 64 };
	unsigned b = bits[rndn(4)];
	uint64_t top = 1ULL << (b - 1);
	switch (rndn(8)) {
	case 0: return rndn(4);
	case 1: return (uint64_t)0 - rndn(4);
	case 2: return top - rndn(3);
	case 3: return top + rndn(3);
	case 4: {
		/* all ones (or all ones - 1) at size b, random bits above */
		uint64_t ones = b == 64 ? ~0ULL : (top << 1) - 1;
		return (rnd() & ~ones) | (ones - rndn(2));
	}
	case 5: return rnd() & 0xff;
	default: return rnd();
	}
}

/* Byte-register numbering: without REX, 4..7 are AH, CH, DH, BH. */
static int byte_reg_gpr(int r, bool rex) { return (!rex && r >= 4 && r < 8) ? r - 4 : r; }

static uint64_t get_reg(const struct cpu_state *st, int r, unsigned size, bool rex)
{
	if (size == 8 && !rex && r >= 4 && r < 8)
		return (st->gpr[r - 4] >> 8) & 0xff;
	uint64_t v = st->gpr[r];
	return size == 64 ? v : v & ((1ULL << size) - 1);
}

static void set_reg_low(struct cpu_state *st, int r, unsigned size, bool rex, uint64_t v)
{
	if (size == 8 && !rex && r >= 4 && r < 8) {
		st->gpr[r - 4] = (st->gpr[r - 4] & ~0xff00ULL) | ((v & 0xff) << 8);
		return;
	}
	uint64_t m = size == 64 ? ~0ULL : (1ULL << size) - 1;
	st->gpr[r] = (st->gpr[r] & ~m) | (v & m);
}

static uint64_t mem_get(const struct tcase *c, uint64_t ea, unsigned size)
{
	uint64_t v = 0;
	memcpy(&v, c->mem + (ea - SCRATCH_VA), size / 8);
	return v;
}

static void mem_set(struct tcase *c, uint64_t ea, unsigned size, uint64_t v)
{
	memcpy(c->mem + (ea - SCRATCH_VA), &v, size / 8);
}

/* A random register operand; `avoid` is a GPR number to stay clear of (or -1). */
static int pick_reg(bool rex, bool byte, int avoid)
{
	for (;;) {
		int r = (int)rndn(rex ? 16 : 8);
		int gpr = byte ? byte_reg_gpr(r, rex) : r;
		if (gpr == RSP)
			continue; /* RSP (and SPL) stay out of every operand */
		if (gpr == avoid)
			continue;
		return r;
	}
}

/*
 * Encode one random instance of f into c->insn and set up c->in so that its
 * memory operand (if any) lands in the scratch area.
 */
static void encode(const struct form *f, struct tcase *c)
{
	struct insn *in = &c->insn;
	uint8_t *p = in->b;
	unsigned n = 0;
	bool byte_reg = f->size == 8, byte_rm = f->rm_size == 8;
	bool w = f->size == 64;
	bool has_modrm = f->kind == K_MODRM || f->kind == K_DIGIT || f->kind == K_LEA;

	memset(in, 0, sizeof(*in));
	in->rm = -1;
	in->reg = -1;
	/* REX: forced by W, otherwise random so that r8..r15 and, for byte
	 * operands, SPL/BPL/SIL/DIL vs AH/CH/DH/BH are both covered. */
	in->rex = w || (rndn(2) == 0);

	bool mem = false;
	if (has_modrm) {
		if (f->kind == K_LEA || f->rm_mem_only)
			mem = true;
		else
			mem = rndn(3) == 0;
	}
	bool lock = mem && f->lockable && rndn(2) == 0;
	/* 32-bit address size: the base register's upper half must be ignored. */
	bool a32 = f->a32 || (mem && f->kind != K_LEA && rndn(8) == 0);

	if (lock)
		p[n++] = 0xf0;
	if (f->prefix)
		p[n++] = f->prefix;
	if (f->size == 16)
		p[n++] = 0x66;
	if (a32 || (f->kind == K_LEA && rndn(4) == 0))
		p[n++] = 0x67; /* 32-bit address computation */


	unsigned rex_at = n;
	if (in->rex)
		p[n++] = 0x40;
	uint8_t rex = 0x40 | (w ? 0x08 : 0);

	for (unsigned i = 0; i < f->oplen; i++)
		p[n++] = f->op[i];

	if (f->kind == K_OPREG) {
		int r = pick_reg(in->rex, byte_reg, -1);
		if (f->op[0] == 0x90 && r == RAX)
			r = in->rex ? 8 : RCX; /* 0x90 alone is NOP, tested on its own */
		in->reg = r;
		p[n - 1] = (uint8_t)(p[n - 1] + (r & 7));
		if (r & 8)
			rex |= 0x01;
	} else if (has_modrm) {
		int base = -1;
		unsigned mod, rm;
		int reg;
		if (mem && f->kind != K_LEA) {
			/* Base register: not RSP/R12 (they need a SIB byte), not
			 * the register operand, and not a register constrain()
			 * rewrites (CL for counts, RAX/RDX for dividends and
			 * CMPXCHG's comparand), so the address is stable. */
			do
				base = (int)rndn(in->rex ? 16 : 8);
			while ((base & 7) == RSP || (f->count_src == 3 && base == RCX) ||
			       ((f->divide || f->cmpxchg) && (base == RAX || base == RDX)));
		}
		if (f->kind == K_DIGIT)
			reg = f->digit;
		else
			reg = pick_reg(in->rex, byte_reg, base);
		if (f->kind != K_DIGIT)
			in->reg = reg;
		if (reg & 8)
			rex |= 0x04;
		if (f->kind == K_LEA) {
			/* Any addressing form: the address is only computed. */
			mod = rndn(3);
			rm = rndn(8);
			bool rip_rel = mod == 0 && rm == 5;
			p[n++] = (uint8_t)((mod << 6) | ((reg & 7) << 3) | rm);
			if (in->rex && rndn(2))
				rex |= 0x01;
			if (rm == 4) {
				uint8_t sib = (uint8_t)rnd();
				if ((sib & 7) == RSP && !(rex & 0x01))
					sib = (uint8_t)((sib & ~7) | RBX); /* RSP differs between the two sides */
				p[n++] = sib;
				if (in->rex && rndn(2))
					rex |= 0x02;
				if (mod == 0 && (sib & 7) == 5) {
					int32_t d = (int32_t)rnd();
					memcpy(p + n, &d, 4);
					n += 4;
				}
			} else if (rip_rel) {
				int32_t d = (int32_t)rnd();
				memcpy(p + n, &d, 4);
				n += 4;
			}
			if (mod == 1)
				p[n++] = (uint8_t)rnd();
			else if (mod == 2) {
				int32_t d = (int32_t)rnd();
				memcpy(p + n, &d, 4);
				n += 4;
			}
		} else if (mem) {
			int64_t disp = 0;
			mod = (base & 7) == RBP ? 1 + rndn(2) : rndn(3);
			p[n++] = (uint8_t)((mod << 6) | ((reg & 7) << 3) | (base & 7));
			if (base & 8)
				rex |= 0x01;
			if (mod == 1) {
				disp = (int8_t)rnd();
				p[n++] = (uint8_t)disp;
			} else if (mod == 2) {
				disp = (int32_t)(rnd() % 0x800) - 0x400;
				int32_t d = (int32_t)disp;
				memcpy(p + n, &d, 4);
				n += 4;
			}
			int64_t off = (int64_t)(rnd() % 0xe00) - 0x700;
			in->mem = true;
			in->ea = SCRATCH_MID + (uint64_t)off;
			if (f->align)
				in->ea &= ~(uint64_t)(f->align - 1);
			c->in.gpr[base] = in->ea - (uint64_t)disp;
			if (a32)
				c->in.gpr[base] = (c->in.gpr[base] & 0xffffffff) | (rnd() << 32);
		} else {
			int r = pick_reg(in->rex, byte_rm, -1);
			in->rm = r;
			p[n++] = (uint8_t)(0xc0 | ((reg & 7) << 3) | (r & 7));
			if (r & 8)
				rex |= 0x01;
		}
	}
	if (in->rex)
		p[rex_at] = rex;
	else if (rex != 0x40)
		fail_msg("encoder: REX bits needed without a REX prefix");

	unsigned imm_len = f->imm;
	if (f->kind == K_OPREG && f->op[0] == 0xb8 && f->size == 64)
		imm_len = 8;
	if (f->kind == K_BRANCH) {
		uint32_t d = BRANCH_DISP;
		memcpy(p + n, &d, imm_len);
		in->imm = d;
		in->imm_len = imm_len;
		n += imm_len;
	} else if (imm_len) {
		uint64_t v = rand_value();
		memcpy(p + n, &v, imm_len);
		in->imm = v & (imm_len == 8 ? ~0ULL : (1ULL << (8 * imm_len)) - 1);
		in->imm_len = imm_len;
		n += imm_len;
	}
	in->len = n;
}

static void set_imm(struct insn *in, uint64_t v)
{
	memcpy(in->b + in->len - in->imm_len, &v, in->imm_len);
	in->imm = v & (in->imm_len == 8 ? ~0ULL : (1ULL << (8 * in->imm_len)) - 1);
}

/* The r/m operand's current value in the case inputs. */
static uint64_t rm_value(const struct form *f, const struct tcase *c)
{
	if (c->insn.mem)
		return mem_get(c, c->insn.ea, f->rm_size);
	return get_reg(&c->in, c->insn.rm, f->rm_size, c->insn.rex);
}

static void rm_store(const struct form *f, struct tcase *c, uint64_t v)
{
	if (c->insn.mem)
		mem_set(c, c->insn.ea, f->rm_size, v);
	else
		set_reg_low(&c->in, c->insn.rm, f->rm_size, c->insn.rex, v);
}

static unsigned interesting_count(unsigned size)
{
	static const unsigned cnt[] = { 0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65 };
	if (rndn(2))
		return cnt[rndn(sizeof(cnt) / sizeof(cnt[0]))];
	return rndn(size == 64 ? 256 : 64);
}

/* SDM DIV/IDIV: #DE when the divisor is 0 or the quotient does not fit. */
static bool divide_faults(unsigned size, bool sgn, uint64_t hi, uint64_t lo, uint64_t d)
{
	if (d == 0)
		return true;
	if (!sgn) {
		if (size == 64)
			return hi >= d;
		unsigned __int128 x = ((unsigned __int128)hi << size) | lo;
		return (x / d) >> size != 0;
	}
	__int128 sd = size == 64 ? (int64_t)d : (int64_t)(d << (64 - size)) >> (64 - size);
	__int128 x;
	if (size == 64) {
		x = (__int128)((unsigned __int128)hi << 64 | lo);
		if (sd == -1 && hi == 0x8000000000000000ULL && lo == 0)
			return true;
	} else {
		uint64_t all = (hi << size) | lo;
		x = (int64_t)(all << (64 - 2 * size)) >> (64 - 2 * size);
	}
	__int128 q = x / sd;
	__int128 lim = (__int128)1 << (size - 1);
	return q >= lim || q < -lim;
}

/* Adjust inputs so that the case is meaningful on real hardware. */
static bool constrain(const struct form *f, struct tcase *c)
{
	struct insn *in = &c->insn;

	if (f->count_src == 2)
		set_imm(in, interesting_count(f->size));
	if (f->count_src == 3)
		c->in.gpr[RCX] = (c->in.gpr[RCX] & ~0xffULL) | interesting_count(f->size);
	if (f->rule == R_SHXD && f->size == 16) {
		/* SDM SHLD/SHRD: for a 16-bit operand a count above 16 leaves the
		 * result and all flags undefined; keep counts within 0..16. */
		uint64_t cnt = f->count_src == 2 ? in->imm : c->in.gpr[RCX] & 0xff;
		if ((cnt & 31) > 16) {
			cnt &= 15;
			if (f->count_src == 2)
				set_imm(in, cnt);
			else
				c->in.gpr[RCX] = (c->in.gpr[RCX] & ~0xffULL) | cnt;
		}
	}
	if (f->bt_mem_reg && in->mem) {
		/* The register bit offset is signed and addresses beyond the
		 * operand (SDM BT: bit-string addressing); keep it in the scratch. */
		int64_t bits = (int64_t)(rnd() % 0x2000) - 0x1000;
		set_reg_low(&c->in, in->reg, f->size, true, (uint64_t)bits);
	}
	if (f->rule == R_BSF || f->rule == R_LZCNT || (f->rule == R_ALL && f->prefix == 0xf3 && f->op[1] == 0xb8)) {
		if (rndn(8) == 0)
			rm_store(f, c, 0);
	}
	if (f->cmpxchg && rndn(2)) {
		/* Make the comparison succeed half of the time. */
		if (f->kind == K_DIGIT && f->size == 32) {
			uint64_t m = mem_get(c, in->ea, 64);
			c->in.gpr[RAX] = m & 0xffffffff;
			c->in.gpr[RDX] = m >> 32;
		} else if (f->kind == K_DIGIT) {
			c->in.gpr[RAX] = mem_get(c, in->ea, 64);
			c->in.gpr[RDX] = mem_get(c, in->ea + 8, 64);
		} else {
			set_reg_low(&c->in, RAX, f->size, true, rm_value(f, c));
		}
	}
	if (f->kind == K_NONE && rndn(2))
		c->in.rflags |= FL_DF;
	if (f->uses_rcx) {
		static const uint64_t rcx[] = { 0, 1, 2, 0x100000000ULL, 0x100000001ULL, ~0ULL };
		if (rndn(4))
			c->in.gpr[RCX] = rcx[rndn(sizeof(rcx) / sizeof(rcx[0]))];
	}
	if (f->kind == K_STRING) {
		c->in.gpr[RSI] = SCRATCH_MID + (uint64_t)((int64_t)(rnd() % 0x600) - 0x300);
		c->in.gpr[RDI] = SCRATCH_MID + (uint64_t)((int64_t)(rnd() % 0x600) - 0x300);
		if (f->prefix)
			c->in.gpr[RCX] = rndn(4) == 0 ? rndn(2) : rndn(24);
		if (f->a32) {
			/* 67h: ESI, EDI, ECX are used; the upper halves are not. */
			c->in.gpr[RSI] |= rnd() << 32;
			c->in.gpr[RDI] |= rnd() << 32;
			c->in.gpr[RCX] |= rnd() << 32;
		}
		if (rndn(2))
			c->in.rflags |= FL_DF;
		if ((f->op[0] & ~1) == 0xa6 || (f->op[0] & ~1) == 0xae) {
			/* Make long runs of equal elements likely. */
			if (rndn(2))
				for (unsigned i = 0; i < SCRATCH_SIZE; i++)
					c->mem[i] = rndn(16) ? 0 : 0x41;
			if (rndn(2))
				c->in.gpr[RAX] = rndn(2) ? 0 : 0x4141414141414141ULL;
		}
	}
	if (f->divide) {
		/* SDM DIV: with the divisor in AH or (E/R)DX the dividend always
		 * overflows the quotient; those encodings only raise #DE. */
		if (f->size == 8 && !in->rex && in->rm == 4)
			return false;
		if (f->size != 8 && in->rm == RDX)
			return false;
		for (int tries = 0; tries < 16; tries++) {
			uint64_t d = rm_value(f, c);
			uint64_t hi, lo;
			if (f->size == 8) {
				hi = (c->in.gpr[RAX] >> 8) & 0xff;
				lo = c->in.gpr[RAX] & 0xff;
			} else {
				hi = get_reg(&c->in, RDX, f->size, true);
				lo = get_reg(&c->in, RAX, f->size, true);
			}
			if (!divide_faults(f->size, f->signed_div, hi, lo, d))
				return true;
			if (d == 0 || tries > 8)
				rm_store(f, c, rand_value() | 3);
			uint64_t nhi;
			if (tries % 2 == 0)
				nhi = rnd() >> rndn(64); /* keep some large dividends */
			else if (f->signed_div)
				nhi = (lo >> (f->size - 1)) & 1 ? ~0ULL : 0; /* sign-extend */
			else
				nhi = d ? hi % d : 0;
			if (f->size == 8)
				c->in.gpr[RAX] = (c->in.gpr[RAX] & ~0xff00ULL) | ((nhi & 0xff) << 8);
			else
				set_reg_low(&c->in, RDX, f->size, true, nhi);
		}
		return false;
	}
	return true;
}

/* The flags the SDM leaves undefined for this case (masked before comparing). */
static uint64_t flag_rule_mask(const struct form *f, const struct tcase *c)
{
	unsigned mask_bits = f->size == 64 ? 63 : 31;
	uint64_t cnt;

	switch (f->rule) {
	case R_ALL:
		return 0;
	case R_LOGIC:
		return FL_AF; /* SDM AND/OR/XOR/TEST: "The state of the AF flag is undefined." */
	case R_MUL:
		return FL_SF | FL_ZF | FL_AF | FL_PF; /* SDM MUL/IMUL: SF, ZF, AF, PF undefined */
	case R_DIV:
		return FL_ARITH; /* SDM DIV/IDIV: CF, OF, SF, ZF, AF, PF undefined */
	case R_BT:
		return FL_OF | FL_SF | FL_AF | FL_PF; /* SDM BT: OF, SF, AF, PF undefined */
	case R_BSF:
		return FL_CF | FL_OF | FL_SF | FL_AF | FL_PF; /* SDM BSF/BSR: all but ZF undefined */
	case R_LZCNT:
		return FL_OF | FL_SF | FL_PF | FL_AF; /* SDM LZCNT/TZCNT: OF, SF, PF, AF undefined */
	case R_SHIFT:
	case R_ROT:
	case R_SHXD:
		break;
	}
	if (f->count_src == 1)
		cnt = 1;
	else if (f->count_src == 2)
		cnt = c->insn.imm & 0xff;
	else
		cnt = c->in.gpr[RCX] & 0xff;
	cnt &= mask_bits; /* SDM: the count is masked to 5 bits (6 with REX.W) */
	if (cnt == 0)
		return 0; /* SDM: a masked count of 0 affects no flags */
	uint64_t m = 0;
	if (cnt != 1)
		m |= FL_OF; /* SDM: OF is defined only for 1-bit shifts and rotates */
	if (f->rule == R_SHIFT || f->rule == R_SHXD)
		m |= FL_AF; /* SDM SHL/SHR/SAR, SHLD/SHRD: AF undefined for a non-zero count */
	if (f->rule == R_SHIFT && (f->shift_op == 4 || f->shift_op == 5) && cnt >= f->size)
		m |= FL_CF; /* SDM SHL/SHR: CF undefined when count >= operand size */
	return m;
}

/* ------------------------------------------------------------------------ */
/* Running one case on both sides                                            */
/* ------------------------------------------------------------------------ */

static struct tvm *vm;
/* test_comparison_is_live: flip these RFLAGS bits in the interpreter's input only. */
static uint64_t corrupt_guest_flags;

static void print_state(const char *what, const struct cpu_state *s)
{
	static const char *const names[16] = { "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
					       "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" };
	fprintf(stderr, "  %s:", what);
	for (int i = 0; i < 16; i++) {
		if (i == RSP)
			continue;
		fprintf(stderr, "%s%s=%016llx", i % 4 == 0 ? "\n    " : " ", names[i],
			(unsigned long long)s->gpr[i]);
	}
	fprintf(stderr, "\n    rflags=%06llx\n", (unsigned long long)s->rflags);
}

static void print_case(const struct form *f, const struct tcase *c, const char *why)
{
	fprintf(stderr, "MISMATCH %s: %s\n  bytes:", f->name, why);
	for (unsigned i = 0; i < c->insn.len; i++)
		fprintf(stderr, " %02x", c->insn.b[i]);
	if (c->insn.mem)
		fprintf(stderr, "  (memory operand at %#llx)", (unsigned long long)c->insn.ea);
	fprintf(stderr, "\n");
	print_state("input", &c->in);
}

/* Run case c; returns false (after printing) on a mismatch. */
static bool run_case(const struct form *f, struct tcase *c, unsigned long *skipped)
{
	static struct cpu_state nat;
	static uint8_t code[48];
	uint64_t undef = flag_rule_mask(f, c);
	uint64_t cmp_flags = (FL_ARITH | FL_DF) & ~undef;

	/* Native. */
	nat = c->in;
	nat.rflags = (c->in.rflags & (FL_ARITH | FL_DF)) | FL_IF | 0x2;
	memcpy(native_page + 0x1000, c->mem, SCRATCH_SIZE);
	int sig = native_run(c->insn.b, c->insn.len, &nat);
	if (sig) {
		/* Inputs that fault natively are outside what this test compares. */
		if (getenv("HV_DIFF_VERBOSE"))
			print_case(f, c, sig == SIGFPE ? "native SIGFPE" : "native signal");
		(*skipped)++;
		return true;
	}

	/* The decoder must agree with the encoder on the length, and call a form
	 * the hardware just executed valid. */
	bool valid;
	int dlen = x86_insn_length(c->insn.b, c->insn.len, 64, &valid);
	if (dlen != (int)c->insn.len || !valid) {
		char msg[120];
		snprintf(msg, sizeof(msg), "x86_insn_length says %d (%s), the encoding has %u bytes", dlen,
			 valid ? "valid" : "#UD", c->insn.len);
		print_case(f, c, msg);
		return false;
	}

	/* Interpreter: same bytes, then HLTs (a branch form stops at the one
	 * BRANCH_DISP bytes further when taken). */
	memset(code, 0xf4, sizeof(code));
	memcpy(code, c->insn.b, c->insn.len);
	tvm_write(vm, CODE_GPA, code, sizeof(code));
	uint64_t want_rip = CODE_VA + c->insn.len + (native_taken ? BRANCH_DISP : 0);
	tvm_write(vm, SCRATCH_GPA, c->mem, SCRATCH_SIZE);
	struct vcpu_regs r;
	memcpy(r.gpr, c->in.gpr, sizeof(r.gpr));
	r.gpr[RSP] = TVM_STACK_TOP;
	r.rip = CODE_VA;
	r.rflags = ((c->in.rflags & (FL_ARITH | FL_DF)) | 0x2) ^ corrupt_guest_flags;
	assert_int_equal(tvm_set_regs(vm, &r), 0);
	enum vcpu_exit_reason why = tvm_run(vm, 1000);
	if (why != VCPU_EXIT_HLT || vm->exit.rip != want_rip) {
		char msg[400];
		snprintf(msg, sizeof(msg), "interpreter exit %s at rip %#llx (expected hlt at %#llx)%s%s",
			 tvm_exit_name(why), (unsigned long long)vm->exit.rip,
			 (unsigned long long)want_rip,
			 why == VCPU_EXIT_INTERNAL_ERROR || why == VCPU_EXIT_TRIPLE_FAULT ? ": " : "",
			 why == VCPU_EXIT_INTERNAL_ERROR || why == VCPU_EXIT_TRIPLE_FAULT ? vm->exit.fail.msg : "");
		struct tvm_exc_record rec;
		tvm_exc_record(vm, &rec);
		print_case(f, c, msg);
		if (rec.count)
			fprintf(stderr, "  guest exception: vector %llu error %#llx at rip %#llx\n",
				(unsigned long long)rec.vector, (unsigned long long)rec.error,
				(unsigned long long)rec.rip);
		const uint8_t *g = tvm_gpa_ptr(vm, CODE_GPA, 16);
		fprintf(stderr, "  guest code page:");
		for (unsigned i = 0; i < 16; i++)
			fprintf(stderr, " %02x", g[i]);
		fprintf(stderr, "\n");
		return false;
	}
	assert_int_equal(tvm_get_regs(vm, &r), 0);
	struct cpu_state emu;
	memcpy(emu.gpr, r.gpr, sizeof(emu.gpr));
	emu.rflags = r.rflags;

	/* SDM BSF/BSR: "If the content of the source operand is 0, the content
	 * of the destination operand is undefined." */
	int skip_reg = -1;
	if (f->rule == R_BSF && rm_value(f, c) == 0)
		skip_reg = c->insn.reg;

	const char *what = NULL;
	char buf[120];
	for (int i = 0; i < 16 && !what; i++) {
		if (i == RSP || i == skip_reg)
			continue;
		if (nat.gpr[i] != emu.gpr[i]) {
			snprintf(buf, sizeof(buf), "gpr %d differs", i);
			what = buf;
		}
	}
	if (!what && r.gpr[RSP] != TVM_STACK_TOP)
		what = "rsp changed";
	if (!what && ((nat.rflags ^ emu.rflags) & cmp_flags)) {
		snprintf(buf, sizeof(buf), "flags differ in %#llx (compared %#llx)",
			 (unsigned long long)((nat.rflags ^ emu.rflags) & cmp_flags),
			 (unsigned long long)cmp_flags);
		what = buf;
	}
	if (!what) {
		const uint8_t *gm = tvm_gpa_ptr(vm, SCRATCH_GPA, SCRATCH_SIZE);
		const uint8_t *nm = native_page + 0x1000;
		for (unsigned i = 0; i < SCRATCH_SIZE; i++) {
			if (gm[i] != nm[i]) {
				snprintf(buf, sizeof(buf), "memory at %#llx: native %02x, interpreter %02x",
					 (unsigned long long)(SCRATCH_VA + i), nm[i], gm[i]);
				what = buf;
				break;
			}
		}
	}
	if (what) {
		print_case(f, c, what);
		print_state("native", &nat);
		print_state("interpreter", &emu);
		return false;
	}
	return true;
}

/* Run every form of group g. */
static void run_forms(enum group g, uint64_t seed)
{
	unsigned long iters = tvm_iters(2000);
	unsigned long cases = 0, skipped = 0, failed_forms = 0;
	static struct tcase c;

	/* Installed here, not in setup(): cmocka sets its own handlers for
	 * these signals around each test and restores them afterwards. */
	struct sigaction sa = { .sa_handler = native_fault };
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGFPE, &sa, NULL);
	sigaction(SIGILL, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);

	for (unsigned fi = 0; fi < nforms; fi++) {
		const struct form *f = &forms[fi];
		if (f->group != g)
			continue;
		rng = seed ^ (0x9e3779b97f4a7c15ULL * (fi + 1));
		for (unsigned i = 0; i < SCRATCH_SIZE; i += 8) {
			uint64_t v = rnd();
			memcpy(c.mem + i, &v, 8);
		}
		for (unsigned long it = 0; it < iters; it++) {
			for (int i = 0; i < 16; i++)
				c.in.gpr[i] = rand_value();
			c.in.gpr[RSP] = 0;
			c.in.rflags = rnd() & FL_ARITH;
			/* Fresh values in part of the scratch; the rest keeps the
			 * previous case's inputs (both sides start from c.mem). */
			for (unsigned i = 0; i < 64; i++) {
				uint64_t v = rndn(4) ? rnd() : rand_value();
				memcpy(c.mem + 8 * rndn(SCRATCH_SIZE / 8), &v, 8);
			}
			encode(f, &c);
			if (!constrain(f, &c)) {
				skipped++;
				continue;
			}
			cases++;
			if (!run_case(f, &c, &skipped)) {
				failed_forms++;
				break;
			}
		}
	}
	fprintf(stderr, "  %lu cases, %lu skipped (no defined result, or faulting natively)\n", cases, skipped);
	/* A comparison that skips much proves little (DIV/IDIV skip about 2%). */
	if (skipped * 10 > cases)
		fail_msg("%lu of %lu cases skipped", skipped, cases + skipped);
	if (failed_forms)
		fail_msg("%lu instruction form(s) disagree with the host CPU", failed_forms);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */
/* ------------------------------------------------------------------------ */

/*
 * The comparison itself: a case whose interpreter input differs from the
 * native input in CF alone must be reported for ADC (CF feeds the result),
 * and must not be for an AND, whose result ignores CF and which clears it.
 */
static void test_comparison_is_live(void **state)
{
	static struct tcase c;
	unsigned long skipped = 0;
	const struct form *adc = NULL, *and = NULL;
	for (unsigned i = 0; i < nforms; i++) {
		if (!strcmp(forms[i].name, "adc r/m64, r64"))
			adc = &forms[i];
		if (!strcmp(forms[i].name, "and r/m64, r64"))
			and = &forms[i];
	}
	assert_non_null(adc);
	assert_non_null(and);
	rng = 42;
	memset(&c, 0, sizeof(c));
	for (int i = 0; i < 16; i++)
		c.in.gpr[i] = rand_value();
	encode(adc, &c);
	corrupt_guest_flags = FL_CF;
	fprintf(stderr, "  (a MISMATCH report for adc is expected here)\n");
	bool adc_same = run_case(adc, &c, &skipped);
	encode(and, &c);
	bool and_same = run_case(and, &c, &skipped);
	corrupt_guest_flags = 0;
	assert_false(adc_same);
	assert_true(and_same);
	assert_int_equal(skipped, 0);
}

/* SDM Vol. 1 3.4.3.1 and the ADD..CMP, INC/DEC/NEG/NOT, TEST pages. */
static void test_alu(void **state)
{
	run_forms(G_ALU, 1);
}

/* SDM SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR, SHLD, SHRD: count masking and flags. */
static void test_shift_rotate(void **state)
{
	run_forms(G_SHIFT, 2);
}

/* SDM MUL, IMUL (1-, 2-, 3-operand), DIV, IDIV. */
static void test_mul_div(void **state)
{
	run_forms(G_MULDIV, 3);
}

/* SDM BT/BTS/BTR/BTC (bit-string addressing), BSF/BSR, POPCNT, LZCNT, TZCNT. */
static void test_bits(void **state)
{
	run_forms(G_BITS, 4);
}

/* SDM CMOVcc (32-bit forms zero-extend even when the condition is false), SETcc. */
static void test_cmov_setcc(void **state)
{
	run_forms(G_CMOV, 5);
}

/* SDM MOV, MOVZX, MOVSX/MOVSXD, CBW.., XCHG, CMPXCHG, XADD, BSWAP, LEA, NOP. */
static void test_moves(void **state)
{
	run_forms(G_MOVES, 6);
}

/* SDM MOVS/CMPS/STOS/LODS/SCAS with REP/REPE/REPNE, DF = 0 and 1. */
static void test_strings(void **state)
{
	run_forms(G_STRINGS, 7);
}

/* SDM Jcc, JMP, LOOP/LOOPcc, JRCXZ/JECXZ: taken or not, and RCX/ECX. */
static void test_branches(void **state)
{
	run_forms(G_BRANCH, 8);
}

static int setup(void **state)
{
	unsigned a, b, cc, d;
	if (__get_cpuid(1, &a, &b, &cc, &d))
		host_has_popcnt = (cc >> 23) & 1;
	if (__get_cpuid_count(7, 0, &a, &b, &cc, &d))
		host_has_tzcnt = (b >> 3) & 1; /* BMI1 */
	if (__get_cpuid(0x80000001, &a, &b, &cc, &d)) {
		host_has_lzcnt = (cc >> 5) & 1; /* LZCNT (ABM) */
		host_has_lahf = cc & 1;         /* LAHF/SAHF in 64-bit mode */
	}

	nforms = 0;
	building = G_ALU;
	build_alu();
	building = G_SHIFT;
	build_shifts();
	build_muldiv_bits();
	building = G_MOVES;
	build_moves();
	building = G_STRINGS;
	build_strings();
	building = G_BRANCH;
	build_branches();

	void *p = mmap((void *)CODE_VA, 0x1000 + SCRATCH_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != (void *)CODE_VA) {
		fprintf(stderr, "cannot map the native code page at %#llx\n", (unsigned long long)CODE_VA);
		return -1;
	}
	native_page = p;

	if (tvm_create("skylake", &vm) != 0)
		return -1;
	if (tvm_map(vm, CODE_VA, CODE_GPA, 0x1000 + SCRATCH_SIZE, PTE_W) != 0)
		return -1;
	fprintf(stderr, "%u instruction forms, %lu cases each (HV_TEST_ITERS)%s%s%s\n", nforms,
		tvm_iters(2000), host_has_popcnt ? "" : "; no popcnt on this host",
		host_has_lzcnt ? "" : "; no lzcnt on this host",
		host_has_tzcnt ? "" : "; no tzcnt on this host");
	return 0;
}

static int teardown(void **state)
{
	tvm_destroy(vm);
	if (native_page)
		munmap(native_page, 0x1000 + SCRATCH_SIZE);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_comparison_is_live),
		cmocka_unit_test(test_alu),
		cmocka_unit_test(test_shift_rotate),
		cmocka_unit_test(test_mul_div),
		cmocka_unit_test(test_bits),
		cmocka_unit_test(test_cmov_setcc),
		cmocka_unit_test(test_moves),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_branches),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
