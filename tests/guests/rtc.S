/* SPDX-License-Identifier: MIT */
/*
 * tests/guests/rtc.S - a 32-bit multiboot guest for the MC146818 RTC at
 * ports 0x70/0x71, its interrupt on IRQ 8 taken through the 8259 pair
 * (slave IR0, vector 0x28) and LINT0 in ExtINT mode. Every line it prints
 * on COM1 follows from the datasheet alone (no host time), so its output is
 * the same under hv and under QEMU:
 *
 *   power-up  registers A, B and D, and the CMOS memory-size bytes
 *             (0x15-0x16, 0x17-0x18, 0x34-0x35) for 128 MiB
 *   update    1999-12-31 23:59:59 set under SET (BCD, 24-hour), the
 *             update-ended interrupt: register C and 2000-01-01 00:00:00
 *   alarm     alarm 00:00:02: register C and the time at the interrupt
 *   binary    2024-02-28 11:59:59 PM in binary 12-hour form, the update:
 *             12 AM on Thursday 29 February
 *   periodic  four interrupts a second (rate 14), three taken
 *
 * Every wait is a HLT for the interrupt (the handler reads C, which lowers
 * IRQ 8). It ends with isa-debug-exit 0 (status 1); a stray vector or an
 * exception prints "rtc: unexpected" and exits 1 (status 3).
 */
#define APIC        0xfee00000
#define APIC_SVR    0x0f0
#define APIC_LVT0   0x350
#define APIC_LVT1   0x360

#define IDT         0x200000
#define STACK_TOP   0x280000
#define COUNT       0x290000    /* IRQ 8 interrupts taken */
#define LASTC       0x290004    /* register C as the handler read it */

#define UNEXPECTED_MSG msg_unexpected
#include "guest32.inc"

/* Register \reg of the RTC into AL. */
.macro rtcr reg
	mov $\reg, %al
	outb %al, $0x70
	inb $0x71, %al
.endm

.macro rtcw reg, val
	mov $\reg, %al
	outb %al, $0x70
	mov $\val, %al
	outb %al, $0x71
.endm

/* Print register \reg as two hex digits and a space. */
.macro showreg reg
	rtcr \reg
	call puthex
.endm

	GUEST32_START
	mov $0x28, %ecx
	mov $irq8, %eax
	call set_gate
	lidt idtr

	/* The 8259 pair: vectors 0x20 and 0x28, slave on IR2; only IR2 and
	 * the slave's IR0 (IRQ 8) open. LINT0 takes the master's INTR. */
	mov $0x11, %al
	outb %al, $0x20
	outb %al, $0xa0
	mov $0x20, %al
	outb %al, $0x21
	mov $0x28, %al
	outb %al, $0xa1
	mov $0x04, %al
	outb %al, $0x21
	mov $0x02, %al
	outb %al, $0xa1
	mov $0x01, %al
	outb %al, $0x21
	outb %al, $0xa1
	mov $0xfb, %al
	outb %al, $0x21
	mov $0xfe, %al
	outb %al, $0xa1
	movl $0x1ff, APIC + APIC_SVR
	movl $0x700, APIC + APIC_LVT0
	movl $0x10000, APIC + APIC_LVT1
	movl $0, COUNT
	say msg_start

	/* power-up */
	say msg_regs
	showreg 0x0a
	showreg 0x0b
	showreg 0x0d
	say msg_nl
	say msg_mem
	showreg 0x16
	showreg 0x15
	showreg 0x18
	showreg 0x17
	showreg 0x35
	showreg 0x34
	say msg_nl

	/* update: set 1999-12-31 23:59:59 (a Friday), then wait for UF */
	rtcw 0x0b, 0x82
	rtcw 0x00, 0x59
	rtcw 0x02, 0x59
	rtcw 0x04, 0x23
	rtcw 0x06, 0x06
	rtcw 0x07, 0x31
	rtcw 0x08, 0x12
	rtcw 0x09, 0x99
	rtcw 0x32, 0x19
	rtcr 0x0c
	rtcw 0x0b, 0x12
	wait_count COUNT, 1
	rtcw 0x0b, 0x02
	say msg_update
	call show_c
	call show_time

	/* alarm at 00:00:02 */
	rtcw 0x01, 0x02
	rtcw 0x03, 0x00
	rtcw 0x05, 0x00
	rtcw 0x0b, 0x22
	wait_count COUNT, 2
	rtcw 0x0b, 0x02
	say msg_alarm
	call show_c
	call show_time

	/* binary, 12-hour: 2024-02-28 11:59:59 PM */
	rtcw 0x0b, 0x84
	rtcw 0x00, 59
	rtcw 0x02, 59
	rtcw 0x04, 0x8b
	rtcw 0x07, 28
	rtcw 0x08, 2
	rtcw 0x09, 24
	rtcw 0x32, 20
	rtcw 0x0b, 0x14
	wait_count COUNT, 3
	rtcw 0x0b, 0x04
	say msg_binary
	call show_c
	call show_time

	/* periodic: rate 14 (4 Hz), three interrupts */
	rtcw 0x0a, 0x2e
	rtcw 0x0b, 0x42
	wait_count COUNT, 6
	rtcw 0x0b, 0x02
	rtcw 0x0a, 0x26
	say msg_periodic
	mov LASTC, %al
	and $0xc0, %al
	call puthex
	say msg_nl

	finish msg_done

/* "C xx" with the flags IRQF, AF and UF of the last interrupt (PF is left
 * out: whether it is set without PIE differs between implementations). */
show_c:
	say msg_c
	mov LASTC, %al
	and $0xb0, %al
	call puthex
	ret

/* The registers in the order century, year, month, day, weekday, hours,
 * minutes, seconds. */
show_time:
	say msg_time
	showreg 0x32
	showreg 0x09
	showreg 0x08
	showreg 0x07
	showreg 0x06
	showreg 0x04
	showreg 0x02
	showreg 0x00
	say msg_nl
	ret

/* IRQ 8: read C (lowering the line), count, EOI the slave and the master. */
irq8:
	push %eax
	mov $0x0c, %al
	outb %al, $0x70
	inb $0x71, %al
	mov %al, LASTC
	incl COUNT
	mov $0x20, %al
	outb %al, $0xa0
	outb %al, $0x20
	pop %eax
	iret

	GUEST32_END

msg_start:	.asciz "rtc: start\n"
msg_regs:	.asciz "rtc: A B D "
msg_mem:	.asciz "rtc: memory "
msg_update:	.asciz "rtc: update "
msg_alarm:	.asciz "rtc: alarm "
msg_binary:	.asciz "rtc: binary 12-hour "
msg_periodic:	.asciz "rtc: periodic three, C "
msg_c:		.asciz "C "
msg_time:	.asciz "time "
msg_nl:		.asciz "\n"
msg_done:	.asciz "rtc: done\n"
msg_unexpected:	.asciz "rtc: unexpected\n"
