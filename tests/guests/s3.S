/* SPDX-License-Identifier: MIT */
/*
 * tests/guests/s3.S - a 32-bit multiboot guest that suspends the machine to
 * RAM (ACPI S3) and resumes, as an OS does it (ACPI 7.4.2, 16.1):
 *
 *   tables   the RSDP in 0xe0000-0xfffff, the RSDT, the FADT (PM1a event
 *            and control ports, FACS, DSDT), and S3's SLP_TYP from the
 *            DSDT's _S3 package (the AML Name(_S3, Package(){a, ...}))
 *   resume   16-bit code copied to 0x7000, its address written to the
 *            FACS's Firmware_Waking_Vector (X_Firmware_Waking_Vector 0)
 *   wake     PM1a_EN.RTC_EN, an RTC alarm three seconds on (the minutes
 *            and hours alarm registers "don't care") with register B's AIE
 *   mark     0x5a in CMOS RAM byte 0x40
 *   sleep    PM1a_CNT = its value with SLP_TYP and SLP_EN
 *
 * The alarm wakes the machine, and firmware starts the
 * resume code in real mode at CS:IP = 0700:0000. It prints CS, PM1a_STS's
 * WAK_STS and RTC_STS bits and the CMOS mark, and exits through
 * isa-debug-exit 0 (status 1). The lines are the same under hv and QEMU.
 * If the write does not put the machine to sleep, the guest says so and
 * exits 1 (status 3).
 */
#define IDT         0x200000
#define STACK_TOP   0x280000
#define RESUME      0x7000      /* real-mode resume code: CS 0x0700, IP 0 */

#define UNEXPECTED_MSG msg_unexpected
#include "guest32.inc"

	GUEST32_START
	lidt idtr
	say msg_start

	find_rsdp msg_no_rsdp
	/* The FADT ("FACP") among the RSDT's entries. */
	mov 16(%esi), %esi          /* RSDT */
	mov 4(%esi), %ecx
	sub $36, %ecx
	shr $2, %ecx
	lea 36(%esi), %edi
4:	mov (%edi), %ebx
	cmpl $0x50434146, (%ebx)
	je 5f
	add $4, %edi
	loop 4b
	finish_fail msg_no_fadt
5:	mov 56(%ebx), %eax          /* PM1a_EVT_BLK */
	mov %eax, pm1a_evt
	mov 64(%ebx), %eax          /* PM1a_CNT_BLK */
	mov %eax, pm1a_cnt
	mov 36(%ebx), %eax          /* FACS */
	mov %eax, facs
	mov 40(%ebx), %esi          /* DSDT */

	/* _S3: NameOp "_S3_" PackageOp PkgLength NumElements, then the
	 * PM1a SLP_TYP as ZeroOp, OneOp or BytePrefix n. */
	mov 4(%esi), %ecx
	sub $8, %ecx
6:	cmpl $0x5f33535f, (%esi)
	je 7f
	inc %esi
	loop 6b
	finish_fail msg_no_s3
7:	movzbl 7(%esi), %eax
	cmp $0x0a, %al
	jne 8f
	movzbl 8(%esi), %eax
8:	mov %eax, slp_typ
	say msg_slp_typ
	call hex2
	say msg_nl

	/* The resume code at 0x7000, told the PM1a event port. */
	mov $resume_start, %esi
	mov $RESUME, %edi
	mov $resume_end - resume_start, %ecx
	rep movsb
	mov pm1a_evt, %eax
	mov %ax, RESUME + (r_evt - resume_start)
	mov facs, %ebx
	movl $RESUME, 12(%ebx)      /* Firmware_Waking_Vector */
	movl $0, 24(%ebx)           /* X_Firmware_Waking_Vector */
	movl $0, 28(%ebx)

	/* The CMOS mark, the alarm, RTC_EN; WAK_STS and RTC_STS cleared. */
	say msg_sleep
	mov $0x40, %al
	outb %al, $0x70
	mov $0x5a, %al
	outb %al, $0x71
	mov $0x0c, %al
	outb %al, $0x70
	inb $0x71, %al
	/*
	 * The alarm three seconds on (minutes and hours "don't care"), read
	 * outside an update (UIP clear: the time registers hold still for
	 * 244 us). Not one every second: where the guest's time is the
	 * host's (KVM), a second could end between here and the SLP_EN write,
	 * and its interrupt would then hold IRQF over the sleep with no new
	 * edge to wake the machine.
	 */
11:	mov $0x0a, %al
	outb %al, $0x70
	inb $0x71, %al
	test $0x80, %al
	jnz 11b
	mov $0x0b, %al
	outb %al, $0x70
	inb $0x71, %al
	mov %al, %bl                /* register B: DM (bit 2) binary, else BCD */
	xor %al, %al
	outb %al, $0x70
	inb $0x71, %al
	movzbl %al, %eax
	test $0x04, %bl
	jnz 12f
	mov %eax, %ecx              /* BCD to binary */
	shr $4, %ecx
	and $0x0f, %eax
	imul $10, %ecx, %ecx
	add %ecx, %eax
12:	add $3, %eax
	cmp $60, %eax
	jb 13f
	sub $60, %eax
13:	test $0x04, %bl
	jnz 14f
	xor %edx, %edx              /* binary to BCD */
	mov $10, %ecx
	div %ecx
	shl $4, %eax
	or %edx, %eax
14:	mov %al, %ah
	mov $0x01, %al
	outb %al, $0x70
	mov %ah, %al
	outb %al, $0x71
	mov $0x03, %al
	outb %al, $0x70
	mov $0xc0, %al
	outb %al, $0x71
	mov $0x05, %al
	outb %al, $0x70
	mov $0xc0, %al
	outb %al, $0x71
	mov $0x0b, %al
	outb %al, $0x70
	inb $0x71, %al
	or $0x20, %al
	mov %al, %ah
	mov $0x0b, %al
	outb %al, $0x70
	mov %ah, %al
	outb %al, $0x71
	mov pm1a_evt, %edx
	mov $0x8400, %ax
	outw %ax, %dx
	add $2, %edx
	inw %dx, %ax
	or $0x0400, %ax
	outw %ax, %dx

	mov pm1a_cnt, %edx
	inw %dx, %ax
	and $0xc3ff, %ax
	mov slp_typ, %ecx
	and $7, %ecx
	shl $10, %ecx
	or %cx, %ax
	or $0x2000, %ax
	outw %ax, %dx
	/* Asleep by now; time enough for a machine that takes a moment. */
	mov $200000000, %ecx
10:	loop 10b
	finish_fail msg_awake

	GUEST32_END

	.align 4
pm1a_evt:	.long 0
pm1a_cnt:	.long 0
facs:		.long 0
slp_typ:	.long 0

msg_start:	.asciz "s3: start\n"
msg_slp_typ:	.asciz "s3: _S3 SLP_TYP "
msg_sleep:	.asciz "s3: sleeping\n"
msg_nl:		.asciz "\n"
msg_no_rsdp:	.asciz "s3: no RSDP\n"
msg_no_fadt:	.asciz "s3: no FADT\n"
msg_no_s3:	.asciz "s3: no _S3 in the DSDT\n"
msg_awake:	.asciz "s3: still awake after the SLP_EN write\n"
msg_unexpected:	.asciz "s3: unexpected\n"

/*
 * The resume code, run from 0x7000 in real mode. Its own segment for data
 * (DS = CS) and a stack below it (SS:SP = 0000:7000).
 */
	.code16
resume_start:
	cli
	xor %ax, %ax
	mov %ax, %ss
	mov $RESUME, %sp
	mov %cs, %ax
	mov %ax, %ds
	mov $(r_resumed - resume_start), %si
	call r_puts
	mov %cs, %ax
	call r_hex16
	mov $(r_sts - resume_start), %si
	call r_puts
	mov (r_evt - resume_start), %dx
	inw %dx, %ax
	and $0x8400, %ax
	call r_hex16
	mov $(r_cmos - resume_start), %si
	call r_puts
	mov $0x40, %al
	outb %al, $0x70
	inb $0x71, %al
	call r_hex2
	mov $(r_done - resume_start), %si
	call r_puts
	xor %eax, %eax
	mov $0xf4, %dx
	outl %eax, %dx
1:	hlt
	jmp 1b

/* DS:SI's NUL-terminated string to COM1. */
r_puts:	lodsb
	test %al, %al
	jz 2f
	mov $0x3f8, %dx
	outb %al, %dx
	jmp r_puts
2:	ret

/* AX as four hex digits; AL as two. */
r_hex16:
	push %ax
	mov %ah, %al
	call r_hex2
	pop %ax
r_hex2:	push %ax
	shr $4, %al
	call r_digit
	pop %ax
	push %ax
	and $0xf, %al
	call r_digit
	pop %ax
	ret
r_digit:
	add $'0', %al
	cmp $'9', %al
	jbe 3f
	add $'a' - '0' - 10, %al
3:	mov $0x3f8, %dx
	outb %al, %dx
	ret

r_evt:		.word 0
r_resumed:	.asciz "s3: resumed in real mode, CS "
r_sts:		.asciz "\ns3: PM1a_STS WAK_STS|RTC_STS "
r_cmos:		.asciz "\ns3: CMOS 0x40 "
r_done:		.asciz "\ns3: done\n"
resume_end:
	.code32
