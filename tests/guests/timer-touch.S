/* SPDX-License-Identifier: MIT */
/*
 * tests/guests/timer-touch.S - a 32-bit multiboot guest whose local APIC
 * timer falls due while it writes to fresh pages: one byte to each of 1024
 * pages from 4 MiB (4 MiB; give it 16 MiB of RAM), interrupts on, the
 * one-shot timer armed for 2000 ticks just before. With lazy RAM each of
 * those writes is a first touch that hv handles while the guest waits (on
 * KVM inside KVM_RUN, through userfaultfd), and nothing else in the loop
 * exits. It prints whether the interrupt came during the writes, which it
 * must wherever a timer that is due reaches the guest without waiting for
 * an exit of the guest's own (the software vCPU: after 2000 instructions,
 * a few hundred pages in; KVM: at its time, a few microseconds).
 *
 * It ends with isa-debug-exit 0 (status 1); a stray vector or exception
 * prints "timer-touch: unexpected" and exits 1 (status 3).
 */
#define APIC        0xfee00000
#define APIC_EOI    0x0b0
#define APIC_LVTT   0x320
#define APIC_TMICT  0x380
#define APIC_TDCR   0x3e0

#define IDT         0x200000    /* 256 gates */
#define STACK_TOP   0x280000
#define AT          0x290000    /* pages written when the interrupt came; ~0: not yet */
#define PAGES       1024

#define UNEXPECTED_MSG msg_unexpected
#include "guest32.inc"

	GUEST32_START
	mov $0x30, %ecx
	mov $timer, %eax
	call set_gate
	lidt idtr

	lapic_only
	movl $-1, AT
	say msg_start

	/* One-shot, divide by 1, vector 0x30, 2000 ticks; then the writes. */
	movl $0xb, APIC + APIC_TDCR
	movl $0x30, APIC + APIC_LVTT
	xor %ebx, %ebx
	mov $0x400000, %edi
	movl $2000, APIC + APIC_TMICT
	sti
1:	movb $1, (%edi)
	add $0x1000, %edi
	inc %ebx
	cmp $PAGES, %ebx
	jb 1b
	cli
	cmpl $PAGES, AT
	jb 2f
	say msg_after
	jmp 3f
2:	say msg_during
3:	finish msg_done

/* The interrupt: note how far the writes got, EOI, and go back to the
 * interrupted instruction with interrupts off (the one-shot timer fires
 * once). Not by IRET: KVM's instruction emulator, which runs the whole
 * guest on hosts like kvm_pvm, cannot emulate a protected-mode IRET.
 * EAX is free in the loop; LEA leaves the flags as the loop had them. */
timer:
	mov %ebx, AT
	movl $0, APIC + APIC_EOI
	pop %eax                       /* EIP; then CS and EFLAGS */
	lea 8(%esp), %esp
	jmp *%eax

	GUEST32_END

msg_start:	.asciz "timer-touch: start\n"
msg_during:	.asciz "timer-touch: the timer interrupt came during the writes\n"
msg_after:	.asciz "timer-touch: the timer interrupt did not come during the writes\n"
msg_done:	.asciz "timer-touch: done\n"
msg_unexpected:	.asciz "timer-touch: unexpected\n"
