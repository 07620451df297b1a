/* SPDX-License-Identifier: MIT */
/*
 * tests/guests/acpi.S - a 32-bit multiboot guest that reads the ACPI tables
 * as an OS finds them (the RSDP on a 16-byte boundary of 0xe0000-0xfffff,
 * then the RSDT) and prints what hv gives as QEMU's pc machine does, so
 * that the lines are the same under both:
 *
 *   hpet  the HPET table: length, revision, the event timer block ID, the
 *         base address's generic address (space, bit width, bit offset,
 *         access size, address), the HPET number, the minimum clock tick,
 *         the page protection byte, and the byte sum of the table (00)
 *   fadt  the PM1a event and control blocks and the PM timer block
 *   dsdt  the SLP_TYP values of the _S3 and _S5 packages
 *
 * It ends with isa-debug-exit 0 (status 1); a table it cannot find prints
 * "acpi: no ..." and exits 1 (status 3).
 */
#define IDT         0x200000
#define STACK_TOP   0x280000

#define UNEXPECTED_MSG msg_unexpected
#include "guest32.inc"

	GUEST32_START
	lidt idtr
	say msg_start

	/* The RSDT, from the RSDP. */
	find_rsdp msg_no_rsdp
	mov 16(%esi), %eax
	mov %eax, rsdt

	/* HPET */
	mov $0x54455048, %eax            /* "HPET" */
	call find_table
	test %ebx, %ebx
	jnz 4f
	finish_fail msg_no_hpet
4:	say msg_hpet
	mov 4(%ebx), %eax
	call put32
	mov 8(%ebx), %al
	call puthex
	mov 36(%ebx), %eax
	call put32
	mov 40(%ebx), %al
	call puthex
	mov 41(%ebx), %al
	call puthex
	mov 42(%ebx), %al
	call puthex
	mov 43(%ebx), %al
	call puthex
	mov 48(%ebx), %eax
	call put32
	mov 44(%ebx), %eax
	call put32
	mov 52(%ebx), %al
	call puthex
	mov 54(%ebx), %al
	call hex2
	mov 53(%ebx), %al
	call puthex
	mov 55(%ebx), %al
	call puthex
	call table_sum
	call puthex
	say msg_nl

	/* FADT: PM1a_EVT_BLK, PM1a_CNT_BLK, PM_TMR_BLK */
	mov $0x50434146, %eax            /* "FACP" */
	call find_table
	test %ebx, %ebx
	jnz 5f
	finish_fail msg_no_fadt
5:	say msg_fadt
	mov 56(%ebx), %eax
	call put32
	mov 64(%ebx), %eax
	call put32
	mov 76(%ebx), %eax
	call put32
	say msg_nl

	/* DSDT: _S3 and _S5 */
	say msg_dsdt
	mov 40(%ebx), %esi
	mov $0x5f33535f, %eax            /* "_S3_" */
	call slp_typ
	call puthex
	mov $0x5f35535f, %eax            /* "_S5_" */
	call slp_typ
	call puthex
	say msg_nl

	finish msg_done

/* The table with signature EAX among the RSDT's entries: EBX, 0 if none. */
find_table:
	push %ecx
	push %esi
	mov rsdt, %esi
	mov 4(%esi), %ecx
	sub $36, %ecx
	shr $2, %ecx
	add $36, %esi
6:	mov (%esi), %ebx
	cmp %eax, (%ebx)
	je 7f
	add $4, %esi
	loop 6b
	xor %ebx, %ebx
7:	pop %esi
	pop %ecx
	ret

/* The byte sum of the table at EBX, in AL. */
table_sum:
	push %ecx
	push %esi
	mov %ebx, %esi
	mov 4(%ebx), %ecx
	xor %eax, %eax
8:	add (%esi), %al
	inc %esi
	loop 8b
	pop %esi
	pop %ecx
	ret

/* The first element of the package the AML Name at the name EAX declares
 * in the DSDT at ESI (ZeroOp, OneOp or BytePrefix n), in AL; ff if the
 * name is not there. */
slp_typ:
	push %ecx
	push %edi
	mov %esi, %edi
	mov 4(%esi), %ecx
	sub $8, %ecx
9:	cmp %eax, (%edi)
	je 10f
	inc %edi
	loop 9b
	mov $0xff, %eax
	jmp 11f
10:	movzbl 7(%edi), %eax
	cmp $0x0a, %al
	jne 11f
	movzbl 8(%edi), %eax
11:	pop %edi
	pop %ecx
	ret

	GUEST32_END

	.align 4
rsdt:		.long 0

msg_start:	.asciz "acpi: start\n"
msg_hpet:	.asciz "acpi: HPET "
msg_fadt:	.asciz "acpi: FADT PM1a_EVT PM1a_CNT PM_TMR "
msg_dsdt:	.asciz "acpi: DSDT _S3 _S5 "
msg_nl:		.asciz "\n"
msg_done:	.asciz "acpi: done\n"
msg_no_rsdp:	.asciz "acpi: no RSDP\n"
msg_no_hpet:	.asciz "acpi: no HPET table\n"
msg_no_fadt:	.asciz "acpi: no FADT\n"
msg_unexpected:	.asciz "acpi: unexpected\n"
