/* SPDX-License-Identifier: MIT */
/*
 * tests/guests/pvclock.S - a 32-bit multiboot guest that asks for KVM's
 * paravirtual clock the way a Linux guest would, and checks that hv offers
 * none (docs/kvm.md "KVM's paravirtual clock"):
 *
 *   CPUID 0x40000000 gives hv's own hypervisor leaf: maximum leaf
 *   0x40000000 and a signature beginning "hv", not KVM's "KVMKVMKVM";
 *
 *   writing and reading each of KVM's clock and steal-time MSRs
 *   (MSR_KVM_WALL_CLOCK 0x11, MSR_KVM_SYSTEM_TIME 0x12, their new numbers
 *   0x4b564d00 and 0x4b564d01, MSR_KVM_STEAL_TIME 0x4b564d03) raises #GP,
 *   as for any MSR the processor lacks; the value written is the address
 *   of a page the guest has never touched, with the enable bit;
 *
 *   that 32 KiB block is all zeros afterwards: nobody wrote a clock there.
 *
 * A write that is taken instead is reported with what was then found in
 * the system-time area (its version and tsc_to_system_mul); the signature
 * is printed when it is not hv's (hv's differs by backend). Ends with
 * isa-debug-exit 0 (status 1) when everything is as above, 3 otherwise.
 */
#define IDT         0x200000    /* 256 gates */
#define STACK_TOP   0x280000
#define GPS         0x290000    /* #GPs taken */
#define AREA        0x300000    /* 32 KiB never touched before the check */
#define SYSTIME     AREA                /* struct pvclock_vcpu_time_info */
#define STEAL       (AREA + 0x1000)     /* struct kvm_steal_time */
#define WALLCLOCK   (AREA + 0x2000)     /* struct pvclock_wall_clock */

#define UNEXPECTED_MSG msg_unexpected
#include "guest32.inc"

/* WRMSR \msr with \val, then RDMSR \msr: one line each, "#GP" or the
 * value; a write taken counts in EBP. */
.macro try msr, val
	mov $\msr, %ecx
	mov $\val, %eax
	xor %edx, %edx
	call try_wrmsr
	mov $\msr, %ecx
	call try_rdmsr
.endm

	GUEST32_START
	mov $13, %ecx
	mov $gp, %eax
	call set_gate
	lidt idtr
	movl $0, GPS
	xor %ebp, %ebp                  /* writes taken */

	/* The hypervisor leaf. */
	say msg_leaf
	mov $0x40000000, %eax
	xor %ecx, %ecx
	cpuid
	mov %eax, %edi
	mov %ebx, sig
	mov %ecx, sig + 4
	mov %edx, sig + 8
	call put32
	cmpw $0x7668, sig               /* "hv" */
	jne 0f
	say msg_ours
	jmp 3f
0:	say msg_sig
	mov $sig, %esi
	mov $12, %ecx
1:	lodsb
	test %al, %al
	jz 2f
	mov $0x3f8, %dx
	outb %al, %dx
2:	loop 1b
	say msg_nl
3:

	try 0x11, WALLCLOCK
	try 0x12, SYSTIME + 1
	try 0x4b564d00, WALLCLOCK
	try 0x4b564d01, SYSTIME + 1
	try 0x4b564d03, STEAL + 1

	/* A write was taken: what the host put in the system-time area. */
	test %ebp, %ebp
	jz 3f
	say msg_area
	mov SYSTIME, %eax               /* version */
	call put32
	say msg_mul
	mov SYSTIME + 24, %eax          /* tsc_to_system_mul */
	call put32
	say msg_nl
3:
	/* The block, all zeros? */
	mov $AREA, %esi
	xor %eax, %eax
4:	or (%esi), %eax
	add $4, %esi
	cmp $AREA + 0x8000, %esi
	jb 4b
	mov %eax, %ebx

	say msg_gps
	mov GPS, %eax
	call put32
	say msg_nl

	cmp $0x40000000, %edi
	je 5f
	finish_fail msg_maxleaf
5:	cmpw $0x7668, sig               /* "hv" */
	je 6f
	finish_fail msg_notours
6:	cmpl $10, GPS
	je 7f
	finish_fail msg_taken
7:	test %ebx, %ebx
	jz 8f
	finish_fail msg_written
8:	finish msg_none

/* WRMSR ECX <- EDX:EAX; prints "wrmsr <msr> #GP" or "wrmsr <msr> taken". */
try_wrmsr:
	mov GPS, %ebx
	say msg_wr
	push %eax
	mov %ecx, %eax
	call put32
	pop %eax
	wrmsr
	cmp GPS, %ebx
	jne 1f
	inc %ebp
	say msg_taken1
	ret
1:	say msg_gp
	ret

/* RDMSR ECX; prints "rdmsr <msr> #GP" or "rdmsr <msr> <EDX> <EAX>". */
try_rdmsr:
	mov GPS, %ebx
	say msg_rd
	mov %ecx, %eax
	call put32
	xor %eax, %eax
	xor %edx, %edx
	rdmsr
	cmp GPS, %ebx
	jne 1f
	push %eax
	mov %edx, %eax
	call put32
	pop %eax
	call put32
	say msg_nl
	ret
1:	say msg_gp
	ret

/* #GP: count it and step over the 2-byte WRMSR or RDMSR. */
gp:
	incl GPS
	add $4, %esp                    /* the error code */
	addl $2, (%esp)
	iret

	GUEST32_END

	.align 4
sig:	.long 0, 0, 0

msg_leaf:	.asciz "pvclock: CPUID 0x40000000: max leaf "
msg_sig:	.asciz "signature "
msg_ours:	.asciz "hv's signature\n"
msg_nl:		.asciz "\n"
msg_wr:		.asciz "pvclock: wrmsr "
msg_rd:		.asciz "pvclock: rdmsr "
msg_gp:		.asciz "#GP\n"
msg_taken1:	.asciz "taken\n"
msg_area:	.asciz "pvclock: system-time area: version "
msg_mul:	.asciz "tsc_to_system_mul "
msg_gps:	.asciz "pvclock: #GPs "
msg_maxleaf:	.asciz "pvclock: the hypervisor leaf offers more leaves\n"
msg_notours:	.asciz "pvclock: the hypervisor leaf is not hv's\n"
msg_taken:	.asciz "pvclock: an MSR access was taken\n"
msg_written:	.asciz "pvclock: the never-touched block is not all zeros\n"
msg_none:	.asciz "pvclock: no paravirtual clock, every MSR access #GP, the block untouched\n"
msg_unexpected:	.asciz "pvclock: unexpected\n"
