/* SPDX-License-Identifier: MIT */
/*
 * tests/guests/sti-hlt.S - a 32-bit multiboot guest that halts with STI; HLT
 * while an interrupt is already pending, the HLT being the first byte of a
 * page the guest has never touched:
 *
 *   a self-IPI (vector 0x41) is sent with IF=0, then STI is executed at the
 *   last byte of one page and HLT at the first byte of the next. STI holds
 *   the interrupt back for one instruction (its interrupt shadow, SDM 6.8.3),
 *   so the HLT is executed first and the interrupt wakes it: the handler
 *   sees the address after the HLT as the one to return to.
 *
 * Under hardware virtualization the fetch of that HLT is the guest's first
 * touch of its page, so the processor leaves the guest there, inside STI's
 * shadow, for the host to map the page (a nested page fault), and enters it
 * again. A processor that drops the shadow at that entry takes the interrupt
 * before the HLT; its handler returns to the HLT, which then waits for an
 * interrupt that never comes. (QEMU's emulated SVM before version 9.1 does
 * so: its VMRUN ignored the VMCB's interrupt shadow.) hv delivers an
 * interrupt that finds the vCPU standing at a HLT as if it had come during
 * the halt, after the HLT.
 *
 * Prints the address the handler was to return to relative to the HLT, and
 * ends with isa-debug-exit 0 (status 1) when it was the one after the HLT;
 * 3 otherwise, or on anything unexpected.
 */
#define APIC        0xfee00000
#define APIC_EOI    0x0b0
#define APIC_ICR    0x300
#define SELF        (1 << 18)

#define IDT         0x200000    /* 256 gates */
#define STACK_TOP   0x280000
#define COUNT       0x290000    /* interrupts taken */
#define RETURN_EIP  0x290004    /* where the handler was to return to */

#define UNEXPECTED_MSG msg_unexpected
#include "guest32.inc"

.macro apicw reg, val
	movl $\val, APIC + \reg
.endm

	GUEST32_START
	mov $0x41, %ecx
	mov $irq41, %eax
	call set_gate
	lidt idtr

	lapic_only
	movl $0, COUNT
	movl $0, RETURN_EIP
	say msg_start

	apicw APIC_ICR, SELF | 0x41
	jmp sti_at
back:
	cli
	cmpl $1, COUNT
	je 1f
	finish_fail msg_count
1:	mov RETURN_EIP, %eax
	cmp $hlt_at + 1, %eax
	jne 2f
	finish msg_after
2:	cmp $hlt_at, %eax
	jne 3f
	finish_fail msg_before
3:	finish_fail msg_elsewhere

irq41:
	incl COUNT
	push %eax
	mov 4(%esp), %eax               /* the EIP of the interrupt's frame */
	mov %eax, RETURN_EIP
	movl $0, APIC + APIC_EOI
	pop %eax
	iret

	GUEST32_END

msg_start:	.asciz "sti-hlt: start, vector 0x41 pending, STI; HLT with the HLT on a fresh page\n"
msg_after:	.asciz "sti-hlt: the interrupt came after the HLT\n"
msg_before:	.asciz "sti-hlt: the interrupt came before the HLT (STI's shadow was lost)\n"
msg_elsewhere:	.asciz "sti-hlt: the interrupt came at another address\n"
msg_count:	.asciz "sti-hlt: not exactly one interrupt\n"
msg_unexpected:	.asciz "sti-hlt: unexpected\n"

/* STI and HLT across a page boundary, the HLT's page never touched. */
	sti_hlt_across_pages
	jmp back
