/* SPDX-License-Identifier: MIT */
/*
 * tests/guests/tsc-skip.S - a 32-bit multiboot guest that checks its TSC
 * against its local APIC timer across a HLT:
 *
 *   three times: read the TSC, start the timer one-shot for 0x10000000
 *   ticks (divide by 1; hv's APIC timer counts the guest's TSC), STI; HLT
 *   until it fires, and read the TSC in the handler. The timer fired
 *   because the guest's time reached its end, so the TSC must have moved
 *   on by at least the count.
 *
 * hv skips a HLT with nothing to do but wait for a timer: the guest's time
 * jumps to the timer's deadline, and its TSC must jump with it (on KVM, hv
 * moves the vCPU's TSC offset). Prints the TSC's advance when it is short,
 * and ends with isa-debug-exit 0 (status 1) when all three were long
 * enough, 3 otherwise.
 */
#define APIC        0xfee00000
#define APIC_EOI    0x0b0
#define APIC_SVR    0x0f0
#define APIC_LVT0   0x350
#define APIC_LVT1   0x360
#define APIC_LVTT   0x320
#define APIC_TMICT  0x380
#define APIC_TDCR   0x3e0
#define TICKS       0x10000000

#define IDT         0x200000    /* 256 gates */
#define STACK_TOP   0x280000
#define COUNT       0x290000    /* timer interrupts taken */
#define T1LO        0x290004    /* the TSC in the handler */
#define T1HI        0x290008

#define UNEXPECTED_MSG msg_unexpected
#include "guest32.inc"

.macro apicw reg, val
	movl $\val, APIC + \reg
.endm

	GUEST32_START
	mov $0x30, %ecx
	mov $timer, %eax
	call set_gate
	lidt idtr

	/* Only the local APIC speaks: both 8259s masked, LINT0/LINT1 masked. */
	mov $0xff, %al
	outb %al, $0x21
	outb %al, $0xa1
	apicw APIC_LVT0, 0x10000
	apicw APIC_LVT1, 0x10000
	apicw APIC_SVR, 0x1ff
	apicw APIC_TDCR, 0xb            /* divide by 1 */
	apicw APIC_LVTT, 0x30           /* one-shot, vector 0x30 */
	say msg_start

	mov $3, %edi
again:
	movl $0, COUNT
	rdtsc
	mov %eax, %esi                  /* t0 in EBP:ESI */
	mov %edx, %ebp
	apicw APIC_TMICT, TICKS
1:	sti
	hlt
	cli
	cmpl $0, COUNT
	je 1b
	cmpl $1, COUNT
	je 2f
	finish_fail msg_count
2:	mov T1LO, %eax                  /* t1 - t0 in EDX:EAX */
	mov T1HI, %edx
	sub %esi, %eax
	sbb %ebp, %edx
	test %edx, %edx
	jnz 3f
	cmp $TICKS, %eax
	jae 3f
	say msg_short
	call put32
	say msg_nl
	finish_fail msg_fail
3:	dec %edi
	jnz again
	finish msg_done

timer:
	push %eax
	push %edx
	rdtsc
	mov %eax, T1LO
	mov %edx, T1HI
	incl COUNT
	movl $0, APIC + APIC_EOI
	pop %edx
	pop %eax
	iret

	GUEST32_END

msg_start:	.asciz "tsc-skip: three one-shot timers of 0x10000000 ticks, each waited for with HLT\n"
msg_short:	.asciz "tsc-skip: the TSC moved on by only "
msg_nl:		.asciz "\n"
msg_fail:	.asciz "tsc-skip: the TSC fell behind the timer\n"
msg_count:	.asciz "tsc-skip: not exactly one interrupt\n"
msg_done:	.asciz "tsc-skip: the TSC moved on by at least the timer's count, three times\n"
msg_unexpected:	.asciz "tsc-skip: unexpected\n"
