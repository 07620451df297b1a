/*
 * entry.S: the ways into and out of the kernel once in long mode.
 *
 * Every entry builds the same struct frame (kernel.h) on the stack and calls
 * trap(frame) in C; every exit pops it and leaves with iretq. A trap from
 * ring 3 lands on trap_stack (TSS.RSP0), and so does syscall, so the frame of
 * the interrupted process is always the top of that stack.
 */

	.text

/* SDM 6.13: these vectors push an error code; the others get a dummy 0. */
#define HAS_ERROR(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

/* 32 stubs, 16 bytes apart, so exception_stubs[v] = stub_0 + 16 * v. */
	.balign 16
stub_0:
	.set v, 0
	.rept 32
	.balign 16
	.if (HAS_ERROR(v)) == 0
	pushq $0
	.endif
	pushq $v
	jmp trap_common
	.set v, v + 1
	.endr

/* External interrupts that have a handler (trap.c, irq_register): vector in
 * the frame, dummy error code, the same path as the exceptions. */
	.balign 16
	.globl irq_stub_48
irq_stub_48:
	pushq $0
	pushq $48
	jmp trap_common
	.balign 16
	.globl irq_stub_49
irq_stub_49:
	pushq $0
	pushq $49
	jmp trap_common

	.section .rodata
	.balign 8
	.globl exception_stubs
exception_stubs:
	.set v, 0
	.rept 32
	.quad stub_0 + v * 16
	.set v, v + 1
	.endr
	.text

trap_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	cld
	call trap
	/* fall through: trap() may have rewritten the frame (process switch) */
trap_return:
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp                 /* vector and error code */
	iretq

/*
 * SDM Vol. 2B, SYSCALL: RCX = user RIP, R11 = user RFLAGS, RSP untouched,
 * CS/SS from STAR, RFLAGS &= ~FMASK (so IF is clear here). The kernel runs on
 * one CPU with interrupts off, so a plain memory slot can hold the user RSP
 * while the stack is switched; no swapgs is needed.
 */
	.globl syscall_entry
syscall_entry:
	movq %rsp, syscall_user_rsp(%rip)
	leaq trap_stack_top(%rip), %rsp
	pushq $0x1b                    /* SEL_UDATA */
	pushq syscall_user_rsp(%rip)
	pushq %r11
	pushq $0x23                    /* SEL_UCODE */
	pushq %rcx
	pushq $0                       /* error */
	pushq $256                     /* VEC_SYSCALL */
	jmp trap_common

/* user_enter(frame): switch to the frame (which sits on trap_stack) and iretq. */
	.globl user_enter
user_enter:
	movq %rdi, %rsp
	jmp trap_return

/* kjmp_save(j): save the callee-saved registers, return 0 now, 1 on resume. */
	.globl kjmp_save
kjmp_save:
	movq %rbx, 0(%rdi)
	movq %rbp, 8(%rdi)
	movq %r12, 16(%rdi)
	movq %r13, 24(%rdi)
	movq %r14, 32(%rdi)
	movq %r15, 40(%rdi)
	leaq 8(%rsp), %rax
	movq %rax, 48(%rdi)
	movq (%rsp), %rax
	movq %rax, 56(%rdi)
	xorl %eax, %eax
	ret

/* kjmp_resume(j): return a second time from the kjmp_save that filled j. */
	.globl kjmp_resume
kjmp_resume:
	movq 0(%rdi), %rbx
	movq 8(%rdi), %rbp
	movq 16(%rdi), %r12
	movq 24(%rdi), %r13
	movq 32(%rdi), %r14
	movq 40(%rdi), %r15
	movq 48(%rdi), %rsp
	movl $1, %eax
	jmpq *56(%rdi)

	.bss
	.balign 16
syscall_user_rsp:
	.quad 0
	.balign 16
trap_stack:
	.skip 16384
	.globl trap_stack_top
trap_stack_top:
