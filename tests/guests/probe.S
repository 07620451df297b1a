/* SPDX-License-Identifier: MIT */
/*
 * tests/guests/probe.S - tiny 32-bit guests that each do one thing hv must
 * handle: built once per PROBE_<name> (see tests/local.mk), entered in
 * protected mode with paging off and no IDT.
 *
 *   mmio       multiboot: read the hv test device's ID register, write and
 *              read back its scratch register, exit 0 (status 1)
 *   dirty      multiboot: start dirty tracking with hypercall 1 (through the
 *              hypercall port, hv/vm.h), write one byte to each of 64 pages
 *              at 4 MiB (one of them twice), read 16 more pages, exit 0:
 *              exactly 64 dirty pages
 *   touch      multiboot: write one byte to each page from 4 MiB to the end
 *              of RAM (multiboot's mem_upper), at most 8192 pages (36 MiB
 *              of RAM), four instructions a page, exit 0: under lazy RAM,
 *              that many first touches and little else (hv bench kvm-uffd)
 *   forbidden  PVH: load from GPA 0xc0000000, neither RAM nor a device
 *   rom        multiboot, with hv run --rom probe-rom.rom (tests/guests/rom.S,
 *              5000 bytes, so at 0xffffe000, ending at 4 GiB): read the
 *              ROM's signature, write it (a 4-byte store of 0xdeadbeef, a
 *              byte store, an INC of its word at offset 8: three writes, each
 *              dropped), read the same bytes again, read the 0xff padding
 *              after the file's last byte, run the ROM's code, exit 0;
 *              without the ROM, the first read is a forbidden GPA
 *   ud         PVH: ud2 with no IDT (#UD cannot be delivered: triple fault)
 *   triple     PVH: divide by zero under a zero-limit IDT (triple fault)
 *   zero       multiboot: enter 64-bit mode (the first 2 GiB identity-mapped
 *              by 2 MiB pages, tables at 2 MiB), clear RAM from 64 MiB to
 *              the end of RAM or 64 MiB + 1 GiB, whichever is lower, with one
 *              REP STOSQ, exit 0: 1028 stores before it (the tables, the
 *              code descriptor's accessed flag), then one per qword
 *              cleared (docs/softcpu.md, "String instructions")
 *
 * The code never writes memory except where a probe says so (no stack), so
 * that the dirty probe's dirty set is exactly what it wrote.
 */
#define HVTEST_BASE 0xfeb00000

	.code32
	.text
	.globl _start

	/* Multiboot v1 header: magic, flags, checksum (the first 8 KiB). */
	.align 4
mb_header:
	.long 0x1BADB002, 0, -0x1BADB002

#if defined(PROBE_forbidden) || defined(PROBE_ud) || defined(PROBE_triple)
	/* PVH entry note: type 18, owner "Xen", the 32-bit entry point. */
	.pushsection .note.pvh, "a", @note
	.align 4
	.long 4, 4, 18
	.asciz "Xen"
	.long _start
	.popsection
#endif

/* Print the NUL-terminated string at \msg on COM1, without a stack. */
.macro puts msg
	mov $\msg, %esi
	mov $0x3f8, %dx
1:	lodsb
	test %al, %al
	jz 2f
	outb %al, %dx
	jmp 1b
2:
.endm

.macro exit code
	mov $\code, %eax
	mov $0xf4, %dx
	outl %eax, %dx
	hlt
.endm

_start:
	puts msg_hello

#ifdef PROBE_mmio
	mov HVTEST_BASE, %eax            /* ID */
	cmp $0x44547668, %eax
	jne fail
	movl $0x5a5aa5a5, HVTEST_BASE + 8 /* SCRATCH */
	mov HVTEST_BASE + 8, %eax
	cmp $0x5a5aa5a5, %eax
	jne fail
	puts msg_mmio
#endif

#ifdef PROBE_dirty
	mov $1, %eax                     /* HC_DIRTY_TRACK_START */
	mov $0x580, %dx                  /* HC_PORT: works on KVM, where VMCALL */
	outl %eax, %dx                   /* never reaches hv */
	inl %dx, %eax                    /* the result */
	test %eax, %eax
	jnz fail
	mov $0x400000, %edi
	mov $64, %ecx
3:	movb $1, (%edi)
	add $0x1000, %edi
	loop 3b
	movb $2, 0x400000                /* again: still one page */
	mov $0x800000, %edi
	mov $16, %ecx
4:	mov (%edi), %eax
	add $0x1000, %edi
	loop 4b
	puts msg_dirty
#endif

#ifdef PROBE_touch
	mov 8(%ebx), %eax                /* multiboot mem_upper: KiB above 1 MiB */
	shl $10, %eax
	add $0x100000, %eax              /* the end of RAM */
	cmp $0x2400000, %eax             /* at most 36 MiB: 8192 pages */
	jbe 7f
	mov $0x2400000, %eax
7:	mov $0x400000, %edi
	cmp %eax, %edi
	jae 6f
5:	movb $1, (%edi)
	add $0x1000, %edi
	cmp %eax, %edi
	jb 5b
6:	puts msg_touch
#endif

#ifdef PROBE_zero
#define ZERO_PML4 0x200000
#define ZERO_PDPT 0x201000
#define ZERO_PD   0x202000               /* two tables: 2 GiB */
	mov 8(%ebx), %esi                /* multiboot mem_upper: KiB above 1 MiB */
	shl $10, %esi
	add $0x100000, %esi              /* the end of RAM */
	cmp $0x44000000, %esi            /* at most 64 MiB + 1 GiB */
	jbe 8f
	mov $0x44000000, %esi
8:	movl $ZERO_PDPT | 3, ZERO_PML4
	movl $ZERO_PD | 3, ZERO_PDPT
	movl $(ZERO_PD + 0x1000) | 3, ZERO_PDPT + 8
	xor %ecx, %ecx
9:	mov %ecx, %eax                   /* PD entry ECX: 2 MiB page ECX, P | RW | PS */
	shl $21, %eax
	or $0x83, %eax
	mov %eax, ZERO_PD(,%ecx,8)
	inc %ecx
	cmp $1024, %ecx
	jne 9b
	lgdt zero_gdtr
	mov %cr4, %eax
	or $0x20, %eax                   /* PAE */
	mov %eax, %cr4
	mov $ZERO_PML4, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx            /* EFER.LME */
	rdmsr
	or $0x100, %eax
	wrmsr
	mov %cr0, %eax
	or $0x80000001, %eax             /* PG | PE */
	mov %eax, %cr0
	ljmp $0x08, $zero64

	.code64
zero64:
	mov $0x4000000, %edi             /* 64 MiB */
	mov %esi, %ecx
	sub %edi, %ecx
	shr $3, %ecx
	xor %eax, %eax
	cld
	rep stosq
	puts msg_zero
	exit 0
	.code32

	.align 8
zero_gdt:
	.quad 0
	.quad 0x00af9a000000ffff         /* 0x08: 64-bit code */
zero_gdtr:
	.word 15
	.long zero_gdt
msg_zero:	.asciz "probe: cleared the RAM from 64 MiB\n"
#endif

#ifdef PROBE_rom
#define ROM 0xffffe000
	mov ROM, %eax
	cmp $0x4f527668, %eax            /* "hvRO" */
	jne fail
	movl $0xdeadbeef, ROM            /* dropped */
	mov ROM, %eax
	cmp $0x4f527668, %eax
	jne fail
	movb $0, ROM + 4                 /* dropped */
	cmpb $'M', ROM + 4
	jne fail
	incl ROM + 8                     /* reads the ROM; the write is dropped */
	cmpl $0x12345678, ROM + 8
	jne fail
	cmpb $0x5a, ROM + 4999           /* the file's last byte */
	jne fail
	cmpb $0xff, ROM + 5000           /* hv's padding */
	jne fail
	cmpl $0xffffffff, ROM + 0x1ffc   /* the last word below 4 GiB */
	jne fail
	mov $10f, %ecx
	mov $ROM + 16, %edx
	jmp *%edx                        /* the ROM's code: EAX = 42, back to 10 */
10:	cmp $42, %eax
	jne fail
	puts msg_rom
#endif

#ifdef PROBE_forbidden
	mov 0xc0000000, %eax
	puts msg_survived
	exit 1
#endif

#ifdef PROBE_ud
	ud2
	puts msg_survived
	exit 1
#endif

#ifdef PROBE_triple
	lidt idt_null
	xor %edx, %edx
	xor %ecx, %ecx
	mov $1, %eax
	div %ecx
	puts msg_survived
	exit 1
#endif

	exit 0
fail:
	puts msg_fail
	exit 1

	.align 4
idt_null:
	.word 0
	.long 0
msg_hello:	.asciz "probe: start\n"
msg_mmio:	.asciz "probe: hv test device ok\n"
msg_dirty:	.asciz "probe: wrote 64 pages\n"
msg_touch:	.asciz "probe: touched the pages from 4 MiB\n"
msg_rom:	.asciz "probe: read the ROM, 3 writes left it as it was, ran its code\n"
msg_survived:	.asciz "probe: survived (it should not have)\n"
msg_fail:	.asciz "probe: FAIL\n"
