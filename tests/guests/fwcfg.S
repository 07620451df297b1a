/* SPDX-License-Identifier: MIT */
/*
 * tests/guests/fwcfg.S - a 32-bit multiboot guest that reads the fw_cfg
 * items every PC machine serves through the port interface (selector 0x510,
 * data 0x511) and the CPUID bits a --cpu / -cpu model string changes, and
 * prints them on COM1, so that hv and QEMU given the same memory size and
 * the same CPU options print the same lines:
 *
 *   signature  item 0x0000, four bytes: "QEMU"
 *   cpus       item 0x0005 (the CPU count), 16 bits little-endian
 *   ram        item 0x0003 (the RAM size), 64 bits little-endian, printed
 *              as its high and low halves
 *   smep       CPUID.(7,0):EBX bit 7
 *   smap       CPUID.(7,0):EBX bit 20
 *   umip       CPUID.(7,0):ECX bit 2
 *   pku        CPUID.(7,0):ECX bit 3
 *   la57       CPUID.(7,0):ECX bit 16
 *   nx         CPUID.80000001H:EDX bit 20
 *   rdtscp     CPUID.80000001H:EDX bit 27
 *
 * (pcid and invpcid are left out: QEMU's TCG does not offer them, so
 * "+pcid" there is a warning and the bit stays clear.)
 *
 * It ends with isa-debug-exit 0 (status 1); an exception prints
 * "fwcfg: unexpected" and exits 1 (status 3).
 */
#define IDT         0x200000
#define STACK_TOP   0x280000

#define FWCFG_SEL   0x510
#define FWCFG_DATA  0x511

#define UNEXPECTED_MSG msg_unexpected
#include "guest32.inc"

/* Select fw_cfg item \key. */
.macro fwsel key
	mov $\key, %ax
	mov $FWCFG_SEL, %dx
	outw %ax, %dx
.endm

/* The next \n (1..4) bytes of the selected item, little-endian, into EAX. */
.macro fwread n
	mov $\n, %ecx
	call fw_read
.endm

/* Print \msg, then "yes" or "no" as bit \bit of \reg is set or clear. */
.macro showbit msg, reg, bit
	say \msg
	bt $\bit, \reg
	call yesno
.endm

	GUEST32_START
	lidt idtr
	say msg_start

	/* signature: four bytes, printed as they come */
	say msg_sig
	fwsel 0x0000
	mov $4, %ebx
1:	mov $FWCFG_DATA, %dx
	inb %dx, %al
	mov $0x3f8, %dx
	outb %al, %dx
	dec %ebx
	jnz 1b
	say msg_nl

	/* CPU count: 16 bits */
	say msg_cpus
	fwsel 0x0005
	fwread 2
	mov %eax, %ebx
	mov %bh, %al
	call hex2
	mov %bl, %al
	call hex2
	say msg_nl

	/* RAM size: 64 bits, low half first */
	say msg_ram
	fwsel 0x0003
	fwread 4
	mov %eax, %ebx
	fwread 4
	call put32
	mov %ebx, %eax
	call put32
	say msg_nl

	/* CPUID: leaf 7 subleaf 0, then leaf 0x80000001 */
	mov $7, %eax
	xor %ecx, %ecx
	cpuid
	mov %ebx, %edi
	mov %ecx, %ebp
	showbit msg_smep, %edi, 7
	showbit msg_smap, %edi, 20
	showbit msg_umip, %ebp, 2
	showbit msg_pku, %ebp, 3
	showbit msg_la57, %ebp, 16
	mov $0x80000001, %eax
	xor %ecx, %ecx
	cpuid
	mov %edx, %edi
	showbit msg_nx, %edi, 20
	showbit msg_rdtscp, %edi, 27

	finish msg_done

/* Read ECX (1..4) bytes of the selected item into EAX, the first byte
 * lowest: each byte enters at the top of EBX and the earlier ones move down
 * a byte; 4 - ECX more byte shifts bring the first byte to bit 0. */
fw_read:
	push %edx
	push %ebx
	xor %ebx, %ebx
	mov $4, %edx
	sub %ecx, %edx
	push %edx
	mov $FWCFG_DATA, %dx
2:	inb %dx, %al
	movzbl %al, %eax
	shl $24, %eax
	shr $8, %ebx
	or %eax, %ebx
	loop 2b
	pop %ecx
	jecxz 4f
3:	shr $8, %ebx
	loop 3b
4:	mov %ebx, %eax
	pop %ebx
	pop %edx
	ret

/* Print "yes" with CF set, "no" with CF clear, and a newline. */
yesno:
	jc 5f
	say msg_no
	ret
5:	say msg_yes
	ret

	GUEST32_END

	.data
msg_start:      .asciz "fwcfg: start\n"
msg_sig:        .asciz "fwcfg: signature "
msg_cpus:       .asciz "fwcfg: cpus "
msg_ram:        .asciz "fwcfg: ram "
msg_smep:       .asciz "cpuid: smep "
msg_smap:       .asciz "cpuid: smap "
msg_umip:       .asciz "cpuid: umip "
msg_pku:        .asciz "cpuid: pku "
msg_la57:       .asciz "cpuid: la57 "
msg_nx:         .asciz "cpuid: nx "
msg_rdtscp:     .asciz "cpuid: rdtscp "
msg_yes:        .asciz "yes\n"
msg_no:         .asciz "no\n"
msg_nl:         .asciz "\n"
msg_done:       .asciz "fwcfg: done\n"
msg_unexpected: .asciz "fwcfg: unexpected\n"
