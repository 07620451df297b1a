/* SPDX-License-Identifier: MIT */
/*
 * tests/guests/hlt-user.S - sti-hlt's STI; HLT, at CPL 3: a 32-bit multiboot
 * guest that sends itself an interrupt (vector 0x41) with IF=0, enters ring 3
 * with IOPL 3 (so that STI is allowed there, SDM 6.8.1) and executes STI at
 * the last byte of one page and HLT at the first byte of the next, a page it
 * has never touched. HLT is privileged: at CPL 3 it raises #GP(0) and does
 * not halt (SDM Vol. 2A, HLT).
 *
 * Whichever comes first at the HLT, the #GP or the interrupt (the interrupt
 * first where a VM entry dropped STI's shadow, as sti-hlt.S explains; hv then
 * must not treat the HLT as executed, since it would not have halted), the
 * guest must see #GP(0) at the HLT's address from CS 0x1b and the interrupt
 * exactly once. An instruction after the HLT (UD2) means the HLT was passed
 * over. Exit status 1 (isa-debug-exit 0) when all holds; 3 otherwise.
 *
 * Ring 0's handlers load DS themselves: returning to ring 3 cleared it.
 */
#define APIC        0xfee00000
#define APIC_EOI    0x0b0
#define APIC_ICR    0x300
#define SELF        (1 << 18)

#define IDT         0x200000
#define STACK_TOP   0x280000
#define USER_STACK  0x288000
#define COUNT       0x290000    /* interrupts taken */

#define KCODE       0x08
#define KDATA       0x10
#define UCODE       0x1b        /* GDT entry 3, RPL 3 */
#define UDATA       0x23        /* GDT entry 4, RPL 3 */
#define TSS_SEL     0x28

#define UNEXPECTED_MSG msg_unexpected
#include "guest32.inc"

.macro apicw reg, val
	movl $\val, APIC + \reg
.endm

/* The start of a ring-0 handler: DS and ES back to the kernel's data. */
.macro kernel_ds
	mov $KDATA, %ax
	mov %ax, %ds
	mov %ax, %es
.endm

	GUEST32_START
	mov $6, %ecx
	mov $ud_handler, %eax
	call set_gate
	mov $13, %ecx
	mov $gp_handler, %eax
	call set_gate
	mov $0x41, %ecx
	mov $irq41, %eax
	call set_gate
	lidt idtr

	/* This guest's GDT: the flat ring-0 pair, a flat ring-3 pair and a TSS
	 * whose SS0:ESP0 is the stack ring 0 takes interrupts on. */
	mov $tss, %eax
	mov %ax, gdt3_tss + 2
	shr $16, %eax
	mov %al, gdt3_tss + 4
	mov %ah, gdt3_tss + 7
	movl $STACK_TOP, tss + 4
	movl $KDATA, tss + 8
	lgdt gdt3r
	ljmp $KCODE, $1f
1:	mov $TSS_SEL, %ax
	ltr %ax

	lapic_only
	movl $0, COUNT
	say msg_start

	apicw APIC_ICR, SELF | 0x41
	/* To ring 3: IOPL 3, IF=0. */
	pushl $UDATA
	pushl $USER_STACK
	pushl $0x3002
	pushl $UCODE
	pushl $sti_at
	iret

irq41:
	push %eax
	push %ds
	push %es
	kernel_ds
	incl COUNT
	movl $0, APIC + APIC_EOI
	pop %es
	pop %ds
	pop %eax
	iret

/* #GP: error code, EIP, CS on the stack. Ends the run either way. */
gp_handler:
	kernel_ds
	cmpl $0, (%esp)
	jne 2f
	cmpl $hlt_at, 4(%esp)
	jne 2f
	cmpl $UCODE, 8(%esp)
	jne 2f
	/* The interrupt: taken already, or pending with IF=0 in here. */
	sti
	nop
	cli
	cmpl $1, COUNT
	jne 3f
	finish msg_gp
2:	finish_fail msg_gp_elsewhere
3:	finish_fail msg_count

ud_handler:
	kernel_ds
	finish_fail msg_passed

	GUEST32_END

	.align 8
gdt3:
	.quad 0
	.quad 0x00cf9a000000ffff        /* 0x08: ring-0 code, 32-bit, flat */
	.quad 0x00cf92000000ffff        /* 0x10: ring-0 data, flat */
	.quad 0x00cffa000000ffff        /* 0x18: ring-3 code, 32-bit, flat */
	.quad 0x00cff2000000ffff        /* 0x20: ring-3 data, flat */
gdt3_tss:
	.quad 0x0000890000000067        /* 0x28: 32-bit TSS, available; base set above */
gdt3_end:
gdt3r:
	.word gdt3_end - gdt3 - 1
	.long gdt3
	.align 4
tss:
	.skip 0x68

msg_start:	.asciz "hlt-user: start, vector 0x41 pending, STI; HLT at CPL 3 with the HLT on a fresh page\n"
msg_gp:		.asciz "hlt-user: the HLT raised #GP(0) at CPL 3, and the interrupt came once\n"
msg_gp_elsewhere: .asciz "hlt-user: #GP, but not #GP(0) at the HLT from CS 0x1b\n"
msg_count:	.asciz "hlt-user: not exactly one interrupt\n"
msg_passed:	.asciz "hlt-user: the HLT at CPL 3 was passed over without #GP\n"
msg_unexpected:	.asciz "hlt-user: unexpected\n"

/* STI and HLT across a page boundary, the HLT's page never touched; ring 3
 * runs them. */
	sti_hlt_across_pages
	ud2
