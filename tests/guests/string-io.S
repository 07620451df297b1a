/* SPDX-License-Identifier: MIT */
/*
 * tests/guests/string-io.S - a 32-bit multiboot guest whose instructions
 * move data between devices and RAM it has never touched: the memory
 * operand of each is on a fresh page (give it 16 MiB; with lazy RAM every
 * one is a first touch), so it is the instruction, not a plain load or
 * store, that touches the page first. Under KVM such an instruction is one
 * KVM emulates, and its RAM operand is KVM's own copy of guest memory.
 *
 * The same five instructions run twice: with paging off on the pages from
 * 0x500000, then with 32-bit paging (4 MiB pages; CR4.PSE) on linear
 * addresses from 0x40200000, which the page directory maps to the fresh
 * pages from 0x600000 (so whoever runs the instruction must walk the
 * guest's table to find them). Offsets from each pass's base:
 *
 *   outsb   rep outsb, 4 bytes from +0xffe (two fresh pages) to COM1's
 *           scratch register, which held 0x5a: it then holds the last
 *           byte, 00 (fresh RAM reads as zeros)
 *   insb    rep insb, 4 bytes of fw_cfg item 0 (the signature "QEMU")
 *           into +0x2ffe (two fresh pages), printed as they landed
 *   ram     rep insb, 8 bytes of fw_cfg item 3 (the RAM size, 64 bits
 *           little-endian) into +0x4ffc (two fresh pages), printed as its
 *           high and low halves
 *   hpet    movsl from the HPET's capabilities register (0xfed00000) to
 *           fresh +0x6000, printed
 *   conf    movsl from fresh +0x7000 to the HPET's configuration register,
 *           which held 1 (enabled): it then holds 0
 *
 * Then, with dirty tracking started (hv's hypercall port, call 1), two
 * more rep insb: fw_cfg's signature into fresh 0x700ffe (two fresh pages)
 * and the low half of the RAM size over the signature the first pass left
 * at 0x502ffe (pages written before, now write-protected), each printed;
 * hv's report then lists the pages written since.
 *
 * Each instruction is checked for its final ESI, EDI and ECX, and the bytes
 * just before and after each destination for staying zero; a failed check
 * prints "string-io: wrong ..." and exits with status 3. It ends with
 * isa-debug-exit 0 (status 1); an exception prints "string-io: unexpected"
 * and exits 1 (status 3).
 */
#define IDT         0x200000
#define STACK_TOP   0x280000

#define COM1_SCR    0x3ff
#define FWCFG_SEL   0x510
#define FWCFG_DATA  0x511
#define HPET        0xfed00000
#define HPET_CONF   0x10

#define PD          0x281000    /* the page directory (paging pass) */
#define BASE1       0x500000    /* paging off */
#define BASE2       0x40200000  /* paging on: linear, mapped to 0x600000 */
#define BASE3       0x700000    /* dirty tracking */
#define HC_PORT     0x580
#define HC_DIRTY_TRACK_START 1

#define OUT_SRC     0x0ffe
#define SIG_DST     0x2ffe
#define RAM_DST     0x4ffc
#define CAP_DST     0x6000
#define CONF_SRC    0x7000

#define UNEXPECTED_MSG msg_unexpected
#include "guest32.inc"

/* Fail with \msg unless \reg equals the pass's base (EBP) plus \off. */
.macro expect_at reg, off, msg
	lea \off(%ebp), %eax
	cmp %eax, \reg
	je 9f
	finish_fail \msg
9:
.endm

/* Fail with \msg unless \reg equals \val. */
.macro expect reg, val, msg
	cmp $\val, \reg
	je 9f
	finish_fail \msg
9:
.endm

/* rep insb of \n bytes of fw_cfg item \item to EDI; fail with \msg unless
 * ECX ends at 0 and EDI \n bytes further on. Uses EAX, EBX and EDX. */
.macro fwcfg_insb item, n, msg
	mov %edi, %ebx
	mov $\item, %ax
	mov $FWCFG_SEL, %dx
	outw %ax, %dx
	mov $FWCFG_DATA, %dx
	mov $\n, %ecx
	rep insb
	expect %ecx, 0, \msg
	lea \n(%ebx), %eax
	cmp %eax, %edi
	je 9f
	finish_fail \msg
9:
.endm

	GUEST32_START
	lidt idtr
	cld
	say msg_start

	/* Paging off. */
	say msg_off
	mov $BASE1, %ebp
	call moves

	/* 32-bit paging with 4 MiB pages: the first 16 MiB and the HPET's
	 * 4 MiB (uncached) as they are, and BASE2's 4 MiB at 0x400000. */
	mov $PD, %edi
	xor %eax, %eax
	mov $1024, %ecx
	rep stosl
	movl $0x00000083, PD + 0 * 4
	movl $0x00400083, PD + 1 * 4
	movl $0x00800083, PD + 2 * 4
	movl $0x00c00083, PD + 3 * 4
	movl $0x00400083, PD + (BASE2 >> 22) * 4
	movl $0xfec0009b, PD + (0xfec00000 >> 22) * 4
	mov %cr4, %eax
	or $0x10, %eax                  /* PSE */
	mov %eax, %cr4
	mov $PD, %eax
	mov %eax, %cr3
	mov %cr0, %eax
	or $0x80000000, %eax            /* PG */
	mov %eax, %cr0
	say msg_on
	mov $BASE2, %ebp
	call moves

	/* Dirty tracking from here on. */
	mov $HC_DIRTY_TRACK_START, %eax
	mov $HC_PORT, %dx
	outl %eax, %dx
	inl %dx, %eax
	expect %eax, 0, msg_wrong_track
	say msg_track
	say msg_insb
	mov $BASE3 + SIG_DST, %edi
	fwcfg_insb 0, 4, msg_wrong_insb
	mov $BASE3 + SIG_DST, %esi
	mov $4, %ecx
	mov $0x3f8, %dx
	rep outsb
	say msg_nl
	say msg_again
	mov $BASE1 + SIG_DST, %edi
	fwcfg_insb 3, 4, msg_wrong_insb
	mov BASE1 + SIG_DST, %eax
	call hex32
	say msg_nl

	finish msg_done

/* The five instructions on the pages from EBP. */
moves:
	/* rep outsb from fresh RAM to the scratch register */
	say msg_outsb
	mov $COM1_SCR, %dx
	mov $0x5a, %al
	outb %al, %dx
	inb %dx, %al
	call puthex
	lea OUT_SRC(%ebp), %esi
	mov $4, %ecx
	rep outsb
	expect %ecx, 0, msg_wrong_outsb
	expect_at %esi, OUT_SRC + 4, msg_wrong_outsb
	inb %dx, %al
	call hex2
	say msg_nl

	/* rep insb of the signature into fresh RAM */
	say msg_insb
	lea SIG_DST(%ebp), %edi
	fwcfg_insb 0, 4, msg_wrong_insb
	cmpb $0, SIG_DST - 1(%ebp)
	jne wrong_insb
	cmpb $0, SIG_DST + 4(%ebp)
	jne wrong_insb
	lea SIG_DST(%ebp), %esi
	mov $4, %ecx
	mov $0x3f8, %dx
	rep outsb
	say msg_nl

	/* rep insb of the RAM size into fresh RAM */
	say msg_ram
	lea RAM_DST(%ebp), %edi
	fwcfg_insb 3, 8, msg_wrong_ram
	cmpb $0, RAM_DST - 1(%ebp)
	jne wrong_ram
	cmpb $0, RAM_DST + 8(%ebp)
	jne wrong_ram
	mov RAM_DST + 4(%ebp), %eax
	call put32
	mov RAM_DST(%ebp), %eax
	call hex32
	say msg_nl

	/* movsl from the HPET to fresh RAM */
	say msg_hpet
	mov $HPET, %esi
	lea CAP_DST(%ebp), %edi
	movsl
	expect %esi, HPET + 4, msg_wrong_hpet
	expect_at %edi, CAP_DST + 4, msg_wrong_hpet
	cmpl $0, CAP_DST + 4(%ebp)
	jne wrong_hpet
	mov CAP_DST(%ebp), %eax
	call hex32
	say msg_nl

	/* movsl from fresh RAM to the HPET's configuration */
	say msg_conf
	movl $1, HPET + HPET_CONF
	mov HPET + HPET_CONF, %eax
	call put32
	lea CONF_SRC(%ebp), %esi
	mov $HPET + HPET_CONF, %edi
	movsl
	expect_at %esi, CONF_SRC + 4, msg_wrong_conf
	expect %edi, HPET + HPET_CONF + 4, msg_wrong_conf
	mov HPET + HPET_CONF, %eax
	call hex32
	say msg_nl
	ret

wrong_insb:
	finish_fail msg_wrong_insb
wrong_ram:
	finish_fail msg_wrong_ram
wrong_hpet:
	finish_fail msg_wrong_hpet

/* Print EAX as eight hex digits (no space after). */
hex32:
	push %ecx
	mov $4, %ecx
1:	rol $8, %eax
	call hex2
	loop 1b
	pop %ecx
	ret

	GUEST32_END

msg_start:	.asciz "string-io: start\n"
msg_off:	.asciz "string-io: paging off\n"
msg_on:		.asciz "string-io: paging on (4 MiB pages), linear 0x40200000 at 0x600000\n"
msg_outsb:	.asciz "string-io: rep outsb from fresh RAM, scratch "
msg_insb:	.asciz "string-io: rep insb into fresh RAM, signature "
msg_ram:	.asciz "string-io: rep insb into fresh RAM, ram "
msg_track:	.asciz "string-io: dirty tracking on\n"
msg_again:	.asciz "string-io: rep insb over the first signature, ram "
msg_hpet:	.asciz "string-io: movsl from the HPET into fresh RAM, capabilities "
msg_conf:	.asciz "string-io: movsl from fresh RAM into the HPET, configuration "
msg_nl:		.asciz "\n"
msg_done:	.asciz "string-io: done\n"
msg_wrong_outsb: .asciz "\nstring-io: wrong rep outsb\n"
msg_wrong_insb:	.asciz "\nstring-io: wrong rep insb (signature)\n"
msg_wrong_ram:	.asciz "\nstring-io: wrong rep insb (ram)\n"
msg_wrong_hpet:	.asciz "\nstring-io: wrong movsl from the HPET\n"
msg_wrong_conf:	.asciz "\nstring-io: wrong movsl into the HPET\n"
msg_wrong_track: .asciz "string-io: dirty tracking did not start\n"
msg_unexpected:	.asciz "string-io: unexpected\n"
