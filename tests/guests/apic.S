/* SPDX-License-Identifier: MIT */
/*
 * tests/guests/apic.S - a 32-bit multiboot guest that takes interrupts from
 * the local APIC (xAPIC page at 0xfee00000) and prints each event on COM1,
 * so that its output is the same wherever the APIC behaves as the SDM says
 * (hv's software and KVM backends, QEMU):
 *
 *   order     two self-IPIs (0x41, 0x61) sent with IF=0: 0x61 is taken
 *             first, 0x41 after the EOI of 0x61 (SDM 11.8.3)
 *   tpr       TPR 0x60 holds vector 0x55 back; lowering it lets 0x55 in
 *             right after the write
 *   sti       an interrupt pending at STI waits one instruction (the STI
 *             shadow): the handler sees the store that follows STI
 *   oneshot   the timer, one-shot, vector 0x30, while halted
 *   periodic  the timer, periodic: three expiries, each waking a HLT
 *   deadline  TSC-deadline mode (when CPUID.1:ECX[24] says so)
 *   nmi       a self-NMI; a second one sent from the NMI handler waits for
 *             its IRET (NMI blocking, SDM 6.7.1)
 *
 * It ends with isa-debug-exit 0 (status 1); anything unexpected (a stray
 * vector, an exception) prints "apic: unexpected" and exits 1 (status 3).
 */
#define APIC        0xfee00000
#define APIC_TPR    0x080
#define APIC_EOI    0x0b0
#define APIC_ICR    0x300
#define APIC_LVTT   0x320
#define APIC_TMICT  0x380
#define APIC_TDCR   0x3e0
#define SELF        (1 << 18)

#define IDT         0x200000    /* 256 gates */
#define STACK_TOP   0x280000
#define COUNT       0x290000    /* timer interrupts taken */
#define FLAG        0x290004    /* the store after STI */
#define NMIS        0x290008    /* NMIs taken */

#define UNEXPECTED_MSG msg_unexpected
#include "guest32.inc"

.macro apicw reg, val
	movl $\val, APIC + \reg
.endm

	GUEST32_START
	mov $2, %ecx
	mov $nmi, %eax
	call set_gate
	mov $0x30, %ecx
	mov $timer, %eax
	call set_gate
	mov $0x41, %ecx
	mov $irq41, %eax
	call set_gate
	mov $0x55, %ecx
	mov $irq55, %eax
	call set_gate
	mov $0x61, %ecx
	mov $irq61, %eax
	call set_gate
	mov $0xff, %ecx
	mov $spurious, %eax
	call set_gate
	lidt idtr

	lapic_only
	movl $0, COUNT
	movl $0, FLAG
	movl $0, NMIS
	say msg_start

	/* order */
	apicw APIC_ICR, SELF | 0x41
	apicw APIC_ICR, SELF | 0x61
	say msg_sti
	sti
	nop
	cli
	say msg_order_done

	/* tpr */
	apicw APIC_TPR, 0x60
	apicw APIC_ICR, SELF | 0x55
	sti
	nop
	say msg_tpr_holds
	apicw APIC_TPR, 0
	say msg_tpr_released
	cli

	/* sti shadow */
	apicw APIC_ICR, SELF | 0x41
	sti
	movl $1, FLAG
	cli

	/* oneshot: divide by 1, 100000 ticks */
	apicw APIC_TDCR, 0xb
	apicw APIC_LVTT, 0x30
	apicw APIC_TMICT, 100000
3:	sti
	hlt
	cli
	cmpl $1, COUNT
	jb 3b
	say msg_oneshot

	/* periodic: three more expiries */
	apicw APIC_LVTT, 0x20030
	apicw APIC_TMICT, 1000000
4:	sti
	hlt
	cli
	cmpl $4, COUNT
	jb 4b
	apicw APIC_LVTT, 0x10030
	apicw APIC_TMICT, 0
	say msg_periodic

	/* deadline: IA32_TSC_DEADLINE = TSC + 100000 */
	mov $1, %eax
	cpuid
	bt $24, %ecx
	jnc 6f
	apicw APIC_LVTT, 0x40030
	rdtsc
	add $100000, %eax
	adc $0, %edx
	mov $0x6e0, %ecx
	wrmsr
5:	sti
	hlt
	cli
	cmpl $5, COUNT
	jb 5b
6:	say msg_deadline

	/* nmi */
	apicw APIC_ICR, SELF | (4 << 8)
7:	cmpl $2, NMIS
	jb 7b
	say msg_nmi_done

	finish msg_done

.macro handler name, msg
\name:
	pusha
	say \msg
	movl $0, APIC + APIC_EOI
	popa
	iret
.endm

	handler irq55, msg_irq55
	handler irq61, msg_irq61

irq41:
	pusha
	cmpl $0, FLAG
	jne 1f
	say msg_irq41
	jmp 2f
1:	say msg_irq41_after_sti
2:	movl $0, APIC + APIC_EOI
	popa
	iret

timer:
	incl COUNT
	movl $0, APIC + APIC_EOI
	iret

nmi:
	pusha
	incl NMIS
	cmpl $1, NMIS
	jne 1f
	say msg_nmi1
	/* A second NMI now: held until this handler's IRET. */
	apicw APIC_ICR, SELF | (4 << 8)
	say msg_nmi1_end
	jmp 2f
1:	say msg_nmi2
2:	popa
	iret

spurious:
	iret

	GUEST32_END

msg_start:		.asciz "apic: start\n"
msg_sti:		.asciz "apic: sti with 0x41 and 0x61 pending\n"
msg_irq61:		.asciz "apic: irq 0x61\n"
msg_irq41:		.asciz "apic: irq 0x41\n"
msg_irq41_after_sti:	.asciz "apic: irq 0x41 after the instruction that follows sti\n"
msg_order_done:		.asciz "apic: order done\n"
msg_tpr_holds:		.asciz "apic: tpr 0x60 holds 0x55\n"
msg_irq55:		.asciz "apic: irq 0x55\n"
msg_tpr_released:	.asciz "apic: tpr 0 released it\n"
msg_oneshot:		.asciz "apic: one-shot timer fired once\n"
msg_periodic:		.asciz "apic: periodic timer fired three times\n"
msg_deadline:		.asciz "apic: tsc-deadline timer done\n"
msg_nmi1:		.asciz "apic: nmi 1\n"
msg_nmi1_end:		.asciz "apic: nmi 1 returns\n"
msg_nmi2:		.asciz "apic: nmi 2\n"
msg_nmi_done:		.asciz "apic: nmi done\n"
msg_done:		.asciz "apic: done\n"
msg_unexpected:		.asciz "apic: unexpected\n"
