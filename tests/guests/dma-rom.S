/* SPDX-License-Identifier: MIT */
/*
 * tests/guests/dma-rom.S - a 32-bit multiboot guest whose edu device
 * (00:03.0, hv run --edu or --passthrough) reads and writes read-only
 * memory by DMA. Run it with the ROM image of probe-rom at ROM_GPA:
 *
 *   hv run --edu --memory 16M --rom probe-rom.rom@0x2000000 dma-rom.elf
 *
 * ROM_GPA is inside edu's 28-bit DMA reach, so the bus address is the GPA
 * with or without an IOMMU (this guest leaves a guest-visible unit's
 * translation off). With paging off, every address below is physical.
 *
 *   read   the device copies the ROM's first 64 bytes into its buffer and
 *          from there into RAM: they must be the bytes the processor reads
 *   write  the device copies 64 bytes of 0xa5 from RAM into its buffer and
 *          from there to the ROM: the ROM must be as it was (the ROM drops
 *          the write, or an IOMMU hv programs refuses it)
 *
 *   halt   the device copies 64 bytes with its interrupt on (an MSI to
 *          vector 0x40), and the processor halts at once, before a device
 *          passed through has looked at its registers: the MSI must wake it
 *
 * The first DMAs are polled to their end (the command register's start bit
 * clears), so the guest runs the same with edu emulated at exits or passed
 * through, looking at its registers now and then. Exit status 1
 * (isa-debug-exit 0) when all three hold; 3 otherwise.
 */
#define IDT         0x200000
#define STACK_TOP   0x280000
#define ROM_GPA     0x2000000
#define RAM_A       0x300000        /* what the device read */
#define RAM_B       0x301000        /* what it writes */
#define RAM_C       0x302000        /* the processor's copy of the ROM */
#define EDU_DEV     3
#define EDU_BUF     0x40000         /* edu.rst: the DMA buffer, in the device */
#define EDU_SRC     0x80
#define EDU_DST     0x88
#define EDU_CNT     0x90
#define EDU_CMD     0x98
#define CMD_START   1
#define CMD_TO_RAM  2
#define CMD_IRQ     4
#define EDU_IRQ_ACK 0x64
#define EDU_IRQ_DMA 0x100
#define MSI_CAP     0x40            /* edu's MSI capability (64-bit) */
#define MSI_VECTOR  0x40
#define LAPIC_SVR   0xfee000f0
#define LAPIC_EOI   0xfee000b0

#define UNEXPECTED_MSG msg_unexpected
#include "guest32.inc"

/* PCI configuration mechanism #1: dword \off of 00:EDU_DEV.0 into EAX. */
.macro cfg_read off
	mov $(0x80000000 | EDU_DEV << 11 | \off), %eax
	mov $0xcf8, %dx
	outl %eax, %dx
	mov $0xcfc, %dx
	inl %dx, %eax
.endm

/* Write EAX to dword \off of 00:EDU_DEV.0. */
.macro cfg_write off
	push %eax
	mov $(0x80000000 | EDU_DEV << 11 | \off), %eax
	mov $0xcf8, %dx
	outl %eax, %dx
	pop %eax
	mov $0xcfc, %dx
	outl %eax, %dx
.endm

	GUEST32_START
	lidt idtr
	say msg_start

	cfg_read 0
	cmp $0x11e81234, %eax
	je 1f
	finish_fail msg_no_edu
1:	/* Memory space and bus mastering on (PCI 3.0 6.2.2: command bits 1, 2). */
	cfg_read 4
	or $6, %eax
	out %eax, %dx
	cfg_read 0x10
	and $0xfffffff0, %eax
	mov %eax, %ebp                  /* BAR0 */

	/* The processor's view of the ROM, and RAM_A cleared. */
	mov $ROM_GPA, %esi
	mov $RAM_C, %edi
	mov $64, %ecx
	rep movsb
	mov $RAM_A, %edi
	xor %eax, %eax
	mov $16, %ecx
	rep stosl

	/* Read: ROM -> buffer -> RAM_A. */
	mov $ROM_GPA, %eax
	mov $EDU_BUF, %ebx
	mov $CMD_START, %ecx
	call dma
	mov $EDU_BUF, %eax
	mov $RAM_A, %ebx
	mov $(CMD_START | CMD_TO_RAM), %ecx
	call dma
	mov $RAM_A, %esi
	mov $RAM_C, %edi
	mov $64, %ecx
	repe cmpsb
	je 2f
	say msg_read_bad
	movl $1, failed
	jmp 3f
2:	say msg_read_ok
3:
	/* Write: 0xa5 from RAM_B -> buffer -> ROM. */
	mov $RAM_B, %edi
	mov $0xa5a5a5a5, %eax
	mov $16, %ecx
	rep stosl
	mov $RAM_B, %eax
	mov $EDU_BUF, %ebx
	mov $CMD_START, %ecx
	call dma
	mov $EDU_BUF, %eax
	mov $ROM_GPA, %ebx
	mov $(CMD_START | CMD_TO_RAM), %ecx
	call dma
	mov $ROM_GPA, %esi
	mov $RAM_C, %edi
	mov $64, %ecx
	repe cmpsb
	je 4f
	say msg_write_bad
	movl $1, failed
	jmp 5f
4:	say msg_write_ok
5:
	/* Halt: the MSI (64-bit capability at MSI_CAP) to the local APIC,
	 * software-enabled, vector MSI_VECTOR; then one DMA with its interrupt,
	 * and halt until the interrupt has come (STI's shadow: none comes
	 * between the check and the HLT). */
	mov $MSI_VECTOR, %ecx
	mov $msi_handler, %eax
	call set_gate
	movl $0x1ff, LAPIC_SVR
	cfg_read 0x34
	cmp $MSI_CAP, %al
	je 9f
	finish_fail msg_no_msi
9:	mov $0xfee00000, %eax
	cfg_write MSI_CAP + 4
	xor %eax, %eax
	cfg_write MSI_CAP + 8
	mov $MSI_VECTOR, %eax
	cfg_write MSI_CAP + 12
	cfg_read MSI_CAP
	or $0x10000, %eax               /* Message Control: MSI enable */
	out %eax, %dx
	mov $RAM_B, %eax
	mov %eax, EDU_SRC(%ebp)
	movl $EDU_BUF, EDU_DST(%ebp)
	movl $64, EDU_CNT(%ebp)
	movl $(CMD_START | CMD_IRQ), EDU_CMD(%ebp)
10:	cli
	cmpl $0, msi_count
	jne 11f
	sti
	hlt
	jmp 10b
11:	movl $EDU_IRQ_DMA, EDU_IRQ_ACK(%ebp)
	say msg_woken

	cmpl $0, failed
	je 6f
	finish_fail msg_failed
6:	finish msg_done

msi_handler:
	incl msi_count
	movl $0, LAPIC_EOI
	iret

/* One edu DMA of 64 bytes: source EAX, destination EBX, command ECX; the
 * command last (it starts the transfer), then wait for its start bit to
 * clear (a passed-through device answers when it next looks). */
dma:
	mov %eax, EDU_SRC(%ebp)
	mov %ebx, EDU_DST(%ebp)
	movl $64, EDU_CNT(%ebp)
	mov %ecx, EDU_CMD(%ebp)
	mov $100000000, %ecx
7:	testl $CMD_START, EDU_CMD(%ebp)
	jz 8f
	pause
	loop 7b
	finish_fail msg_stuck
8:	ret

	GUEST32_END

	.align 4
failed:		.long 0
msi_count:	.long 0

msg_start:	.asciz "dma-rom: start\n"
msg_no_edu:	.asciz "dma-rom: no edu device at 00:03.0\n"
msg_read_ok:	.asciz "dma-rom: the device read the ROM: the bytes the processor reads\n"
msg_read_bad:	.asciz "dma-rom: the device read the ROM: OTHER BYTES\n"
msg_write_ok:	.asciz "dma-rom: the device wrote the ROM: it is as it was\n"
msg_write_bad:	.asciz "dma-rom: the device wrote the ROM: it CHANGED\n"
msg_woken:	.asciz "dma-rom: the device's interrupt woke the halted processor\n"
msg_no_msi:	.asciz "dma-rom: edu has no MSI capability at 0x40\n"
msg_stuck:	.asciz "dma-rom: a DMA did not end\n"
msg_failed:	.asciz "dma-rom: failed\n"
msg_done:	.asciz "dma-rom: done\n"
msg_unexpected:	.asciz "dma-rom: unexpected\n"
