/*
 * x86.h: the few x86-64 architectural definitions the guest kernel uses,
 * each next to the section of the Intel SDM (Vol. 3A unless noted) that
 * defines it, and thin inline wrappers for the system instructions.
 *
 * Only the instructions hv's software vCPU implements appear here: mov to and
 * from control registers, rdmsr/wrmsr, lgdt/lidt/ltr, invlpg, in/out, cpuid,
 * hlt, pause.
 */
#ifndef GUEST_X86_H
#define GUEST_X86_H

#include <stdint.h>

/* SDM 2.5: CR0 and CR4 bits we set. */
#define CR0_PE (1ULL << 0)
#define CR0_WP (1ULL << 16) /* supervisor writes honour read-only pages */
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)

/* SDM 2.2.1, Vol. 4 table 2-2: IA32_EFER (MSR 0xc0000080). */
#define MSR_EFER 0xc0000080u
#define EFER_SCE (1ULL << 0)  /* syscall/sysret enable */
#define EFER_LME (1ULL << 8)  /* long mode enable */
#define EFER_NXE (1ULL << 11) /* bit 63 of paging entries means no-execute */

/* SDM Vol. 2B, SYSCALL: the three MSRs that describe the system call entry. */
#define MSR_STAR 0xc0000081u  /* [47:32] kernel CS, [63:48] sysret base */
#define MSR_LSTAR 0xc0000082u /* 64-bit entry point */
#define MSR_FMASK 0xc0000084u /* RFLAGS bits cleared on entry */

/*
 * SDM 4.5, tables 4-15 to 4-20: 4-level paging entries. Every level uses the
 * same low bits; PS turns a page-directory entry into a 2 MiB page.
 */
#define PTE_P (1ULL << 0)    /* present */
#define PTE_W (1ULL << 1)    /* writable */
#define PTE_U (1ULL << 2)    /* user (ring 3) may access */
#define PTE_A (1ULL << 5)    /* accessed, set by the walk */
#define PTE_D (1ULL << 6)    /* dirty, set by a write */
#define PTE_PS (1ULL << 7)   /* page size: 2 MiB page at the PD level */
#define PTE_COW (1ULL << 9)  /* software bit (ignored by hardware): copy on write */
#define PTE_NX (1ULL << 63)  /* no-execute, needs EFER.NXE */
#define PTE_ADDR 0x000ffffffffff000ULL /* bits 51:12, the next frame */

#define PAGE_SIZE 4096ULL
#define PAGE_2M (2ULL << 20)

/* SDM 4.7: page-fault error code bits. */
#define PF_P (1u << 0) /* 0: page not present, 1: protection violation */
#define PF_W (1u << 1) /* the access was a write */
#define PF_U (1u << 2) /* the access came from ring 3 */
#define PF_I (1u << 4) /* the access was an instruction fetch */

/* SDM 6.15: exception vectors used by name. */
#define VEC_DF 8
#define VEC_PF 14

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint64_t read_cr0(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}

static inline void write_cr0(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}

static inline uint64_t read_cr2(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

static inline uint64_t read_cr3(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

/* Loading CR3 also flushes every non-global TLB entry (SDM 4.10.4.1). */
static inline void write_cr3(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

static inline void invlpg(uint64_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

static inline __attribute__((noreturn)) void halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

#endif
