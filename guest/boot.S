/*
 * boot.S: from the PVH entry in 32-bit protected mode to 64-bit C.
 *
 * PVH boot (Xen's x86/HVM direct boot ABI, also what QEMU's -kernel does for
 * an ELF with this note): the loader enters at the address in the
 * XEN_ELFNOTE_PHYS32_ENTRY note in 32-bit protected mode, paging off, flat
 * 4 GiB code and data segments, and %ebx = guest-physical address of
 * struct hvm_start_info.
 *
 * The tables below are only good enough to reach long mode: they identity
 * map the first 1 GiB with 2 MiB pages. kmain() replaces them with tables
 * built from the memory map. They are filled in at assembly time so the
 * 32-bit code does no loops and no string instructions.
 */

#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_PS 0x80

/* Xen public/elfnote.h: XEN_ELFNOTE_PHYS32_ENTRY = 18, owner "Xen". */
	.section .note.Xen, "a", @note
	.balign 4
	.long 2f - 1f          /* namesz */
	.long 4f - 3f          /* descsz */
	.long 18               /* type */
1:	.asciz "Xen"
2:	.balign 4
3:	.quad pvh_start32      /* 8 bytes, little-endian: a 4-byte read agrees */
4:	.balign 4

	.section .text.boot, "ax"
	.code32
	.globl pvh_start32
pvh_start32:
	cli
	cld
	movl %ebx, %edi                /* start_info, kept for kmain */
	lgdt boot_gdt_desc

	/* SDM 10.8.5: PAE, CR3, EFER.LME, then CR0.PG activates long mode. */
	movl %cr4, %eax
	orl $0x20, %eax                /* CR4.PAE */
	movl %eax, %cr4
	movl $boot_pml4, %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx         /* IA32_EFER */
	rdmsr
	orl $0x100, %eax               /* LME */
	wrmsr
	movl %cr0, %eax
	orl $0x80000001, %eax          /* PG | PE */
	movl %eax, %cr0

	/* Still 32-bit compatibility mode until CS holds a 64-bit (L=1) segment. */
	ljmp $0x08, $start64

	.code64
start64:
	movl $0x10, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	/*
	 * ELF loaders zero the bss (p_memsz beyond p_filesz); do it again so a
	 * loader that copies only the file image still works. Nothing is on
	 * the stack yet, so clearing the stack along with the rest is safe.
	 */
	movq $__bss_start, %rax
	movq $_end, %rcx
2:	movq $0, (%rax)
	addq $8, %rax
	cmpq %rcx, %rax
	jb 2b
	movq $boot_stack_top, %rsp
	movl %edi, %edi                /* zero-extend start_info into arg 0 */
	call kmain
1:	cli
	hlt
	jmp 1b

	.section .data.boot, "aw"
	.balign 8
/* SDM 3.4.5: null, 64-bit code (L=1, D=0), data. Replaced in trap.c. */
boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff
	.quad 0x00cf92000000ffff
boot_gdt_end:
boot_gdt_desc:
	.word boot_gdt_end - boot_gdt - 1
	.long boot_gdt

	.balign 4096
boot_pml4:
	.quad boot_pdpt + (PTE_P | PTE_W)
	.fill 511, 8, 0
boot_pdpt:
	.quad boot_pd + (PTE_P | PTE_W)
	.fill 511, 8, 0
boot_pd:
	.set i, 0
	.rept 512
	.quad (i << 21) | (PTE_P | PTE_W | PTE_PS)
	.set i, i + 1
	.endr

	.section .bss.boot, "aw", @nobits
	.balign 16
	.globl boot_stack_top
boot_stack:
	.skip 16384
boot_stack_top:
