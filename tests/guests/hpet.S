/* SPDX-License-Identifier: MIT */
/*
 * tests/guests/hpet.S - a 32-bit multiboot guest for the HPET at 0xfed00000
 * (IA-PC HPET 1.0a), its interrupts taken through the I/O APIC. Every line
 * it prints follows from the specification and QEMU's pc machine values
 * alone (no host time), so its output is the same under hv and under QEMU:
 *
 *   registers   capabilities and period, the three timers' configuration
 *               and route capability, the counter halted at 0
 *   writable    timer 2's configuration after writing all-ones but FSB_EN
 *               (QEMU 7.2 lets that bit be set), then 0; 32MODE cut its
 *               comparator to 32 bits
 *   counting    ENABLE_CNF with LEG_RT_CNF: the counter moves
 *   one-shot    timer 0, edge, on IRQ 0 (I/O APIC pin 2)
 *   periodic    timer 0 with VAL_SET, three interrupts
 *   level       timer 1, level, on IRQ 8 (pin 8, level): the status
 *               register in the handler, and after writing its bit back
 *   32-bit      a one-shot 32MODE timer fires where the counter wraps to
 *               2^32 and again at its comparator
 *
 * LEG_RT_CNF stays set from the first interrupt on: the 8254 (which a BIOS
 * leaves counting) is then cut off from IRQ 0, so pin 2 carries only the
 * HPET's timer 0. Waits halt until the handler has counted enough. It
 * ends with isa-debug-exit 0 (status 1); a stray vector or an exception
 * prints "hpet: unexpected" and exits 1 (status 3).
 */
#define APIC        0xfee00000
#define APIC_EOI    0x0b0
#define APIC_SVR    0x0f0
#define APIC_LVT0   0x350
#define APIC_LVT1   0x360
#define IOAPIC      0xfec00000
#define HPET        0xfed00000
#define HPET_CFG    (HPET + 0x010)
#define HPET_ISR    (HPET + 0x020)
#define HPET_CNT    (HPET + 0x0f0)
#define T_CFG(n)    (HPET + 0x100 + 0x20 * (n))
#define T_CMP(n)    (HPET + 0x108 + 0x20 * (n))

#define IDT         0x200000
#define STACK_TOP   0x280000
#define COUNT0      0x290000    /* vector 0x40 (pin 2) interrupts */
#define COUNT1      0x290004    /* vector 0x48 (pin 8) interrupts */
#define ISR_IN      0x290008    /* the status register in the 0x48 handler */
#define ISR_OUT     0x29000c    /* and after writing its bit back */

#define UNEXPECTED_MSG msg_unexpected
#include "guest32.inc"

/* Print the 32-bit value at \addr. */
.macro show addr
	mov \addr, %eax
	call put32
.endm

/* I/O APIC redirection entry \pin := \low (destination APIC 0). */
.macro rte pin, low
	movl $(0x10 + 2 * \pin), IOAPIC
	movl $\low, IOAPIC + 0x10
	movl $(0x11 + 2 * \pin), IOAPIC
	movl $0, IOAPIC + 0x10
.endm

/* Timer \n's comparator := the counter + \ticks (all 64 bits). */
.macro cmp_ahead n, ticks
	mov HPET_CNT, %eax
	mov HPET_CNT + 4, %edx
	add $\ticks, %eax
	adc $0, %edx
	mov %eax, T_CMP(\n)
	mov %edx, T_CMP(\n) + 4
.endm

	GUEST32_START
	mov $0x40, %ecx
	mov $irq_pin2, %eax
	call set_gate
	mov $0x48, %ecx
	mov $irq_pin8, %eax
	call set_gate
	lidt idtr
	/* The 8259 pair masked before LINT0: an IRQ 0 a BIOS left pending
	 * in the master is withdrawn, not delivered later. */
	mov $0xff, %al
	outb %al, $0x21
	outb %al, $0xa1
	movl $0x1ff, APIC + APIC_SVR
	movl $0x10000, APIC + APIC_LVT0   /* the 8259 pair's INTR: not taken */
	movl $0x10000, APIC + APIC_LVT1
	say msg_start

	/* registers */
	say msg_caps
	show HPET
	show HPET + 4
	say msg_nl
	say msg_timers
	show T_CFG(0)
	show T_CFG(0) + 4
	show T_CFG(1)
	show T_CFG(1) + 4
	show T_CFG(2)
	show T_CFG(2) + 4
	say msg_nl
	say msg_halted
	show HPET_CNT
	show HPET_CNT + 4
	say msg_config
	show HPET_CFG
	say msg_nl

	/* writable */
	say msg_writable
	movl $0xffffbfff, T_CFG(2)
	show T_CFG(2)
	movl $0, T_CFG(2)
	show T_CFG(2)
	say msg_comparator
	show T_CMP(2) + 4
	show T_CMP(2)
	say msg_nl
	movl $0xffffffff, T_CMP(2)        /* back to all-ones: not armed */
	movl $0xffffffff, T_CMP(2) + 4

	/* counting */
	movl $3, HPET_CFG
	say msg_enabled
	show HPET_CFG
	say msg_nl
	mov HPET_CNT, %ebx
	mov $1000, %ecx
1:	pause
	loop 1b
	mov HPET_CNT, %eax
	cmp %eax, %ebx
	je 2f
	say msg_counting
	jmp 3f
2:	say msg_stopped
3:
	/* Pin 2 edge -> 0x40, pin 8 level -> 0x48. An edge that came while
	 * pin 2 was masked is taken here and not counted (QEMU's I/O APIC
	 * holds one; the 82093AA drops it). */
	rte 2, 0x40
	rte 8, 0x8048
	sti
	nop
	cli
	movl $0, COUNT0
	movl $0, COUNT1

	/* one-shot timer 0 */
	cmp_ahead 0, 10000
	movl $0x4, T_CFG(0)
	wait_count COUNT0, 1
	say msg_oneshot
	show HPET_ISR
	say msg_nl

	/* periodic timer 0: with VAL_SET the comparator, then the period
	 * (100 us); enabled last, as enabling arms it at the comparator */
	movl $0, COUNT0
	movl $0x48, T_CFG(0)
	cmp_ahead 0, 10000
	movl $10000, T_CMP(0)
	movl $0xc, T_CFG(0)
	wait_count COUNT0, 3
	movl $0, T_CFG(0)
	say msg_periodic

	/* level timer 1 */
	cmp_ahead 1, 10000
	movl $0x6, T_CFG(1)
	wait_count COUNT1, 1
	movl $0, T_CFG(1)
	say msg_level
	show ISR_IN
	say msg_then
	show ISR_OUT
	say msg_nl

	/* 32-bit one-shot timer 0: the counter halted and set 0xffff0000
	 * (655 us before the wrap), comparator 0x1000000 (167 ms after it:
	 * far enough apart that QEMU's host timers never merge the two
	 * edges into one interrupt) */
	movl $2, HPET_CFG
	movl $0xffff0000, HPET_CNT
	movl $0, HPET_CNT + 4
	movl $0x104, T_CFG(0)
	movl $0x1000000, T_CMP(0)
	movl $0, COUNT0
	movl $3, HPET_CFG
	wait_count COUNT0, 2
	movl $0, T_CFG(0)
	say msg_wrap
	show HPET_CNT + 4
	say msg_nl

	movl $0, HPET_CFG
	finish msg_done

irq_pin2:
	incl COUNT0
	movl $0, APIC + APIC_EOI
	iret

/* Level: the status bit stays until written back, which lowers IRQ 8. */
irq_pin8:
	push %eax
	mov HPET_ISR, %eax
	mov %eax, ISR_IN
	movl $2, HPET_ISR
	mov HPET_ISR, %eax
	mov %eax, ISR_OUT
	incl COUNT1
	movl $0, APIC + APIC_EOI
	pop %eax
	iret

	GUEST32_END

msg_start:	.asciz "hpet: start\n"
msg_caps:	.asciz "hpet: capabilities "
msg_timers:	.asciz "hpet: timers "
msg_halted:	.asciz "hpet: halted counter "
msg_config:	.asciz "config "
msg_enabled:	.asciz "hpet: enabled, config "
msg_writable:	.asciz "hpet: timer 2 writable "
msg_comparator:	.asciz "comparator "
msg_counting:	.asciz "hpet: counting\n"
msg_stopped:	.asciz "hpet: stopped\n"
msg_oneshot:	.asciz "hpet: one-shot timer 0 on IRQ 0, status "
msg_periodic:	.asciz "hpet: periodic timer 0 three times\n"
msg_level:	.asciz "hpet: level timer 1 on IRQ 8, status "
msg_then:	.asciz "then "
msg_wrap:	.asciz "hpet: 32-bit one-shot at the wrap and the comparator, counter high "
msg_nl:		.asciz "\n"
msg_done:	.asciz "hpet: done\n"
msg_unexpected:	.asciz "hpet: unexpected\n"
