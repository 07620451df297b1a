/*
 * kernel.h: the guest kernel's internal interfaces. Read this first.
 *
 * The kernel is identity-mapped: a kernel virtual address equals the
 * guest-physical address behind it, so a pointer to a page table is also the
 * value stored in the entry above it. Everything else lives at addresses the
 * kernel picks far above RAM, one PML4 slot each:
 *
 *   PML4[0]  0x0000000000000000  identity map of RAM (kernel only, U=0)
 *   PML4[1]  0x0000008000000000  user process image and stack (per process)
 *   PML4[2]  0x0000010000000000  workload region, demand-zero (kernel)
 *   PML4[3]  0x0000018000000000  protection demo pages (kernel)
 */
#ifndef GUEST_KERNEL_H
#define GUEST_KERNEL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define USER_BASE 0x0000008000000000ULL
#define USER_STACK_TOP (USER_BASE + 0x200000ULL)
#define USER_END USER_STACK_TOP
#define REGION_BASE 0x0000010000000000ULL
#define PROTECT_BASE 0x0000018000000000ULL

/* Exit codes written to isa-debug-exit; QEMU exits with (code << 1) | 1. */
#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_PANIC 2

/* GDT selectors (trap.c). The order is fixed by sysret: see trap.c. */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA (0x18 | 3)
#define SEL_UCODE (0x20 | 3)
#define SEL_TSS 0x28

/*
 * The register state saved on every trap, exception or system call, in the
 * order entry.S pushes it (the last five words are the CPU's own iret frame).
 */
struct frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};
#define VEC_SYSCALL 256 /* vector recorded for syscall entries */
#define VEC_IRQ_DMA 48  /* the edu device's MSI (guest/dma.c) */
#define VEC_IRQ_VTD 49  /* the VT-d unit's fault event MSI (guest/dma.c) */
#define VEC_IRQ_LAST VEC_IRQ_VTD

/* A saved kernel context: callee-saved registers, stack and resume point. */
struct kjmp {
	uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip;
};

/* entry.S */
int kjmp_save(struct kjmp *j) __attribute__((returns_twice));
void kjmp_resume(const struct kjmp *j) __attribute__((noreturn));
void user_enter(struct frame *f) __attribute__((noreturn));
void syscall_entry(void);
extern uint64_t exception_stubs[32];
extern char trap_stack_top[];

/* console.c: 16550 UART at 0x3f8 and a small printf. */
void console_init(void);
void console_write(const char *s, size_t n);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void kvprintf(const char *fmt, va_list ap);
void guest_exit(uint32_t code) __attribute__((noreturn));
void panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* lib.c */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);
uint64_t mix64(uint64_t h, uint64_t v);
uint64_t xorshift64(uint64_t *state);

/* mm.c: physical frames and page tables. */
struct memrange {
	uint64_t base, size;
};
void frames_init(const struct memrange *ram, int n, uint64_t kernel_end);
uint64_t frame_alloc(void);    /* one zeroed 4 KiB frame; panics when out */
uint64_t frame_alloc_2m(void); /* 512 contiguous, aligned, zeroed frames */
void frame_get(uint64_t pa);
void frame_put(uint64_t pa);
unsigned frame_refs(uint64_t pa);
uint64_t frames_free(void);
uint64_t ram_top(void);

extern uint64_t *kernel_pml4;
void paging_init(bool nx);
bool nx_enabled(void);
uint64_t *pte_lookup(uint64_t *pml4, uint64_t va, int level, bool create, uint64_t table_flags);
void map_4k(uint64_t *pml4, uint64_t va, uint64_t pa, uint64_t flags);
void map_2m(uint64_t *pml4, uint64_t va, uint64_t pa, uint64_t flags);
void pml4_slot_free(uint64_t *pml4, unsigned slot);
uint64_t *pml4_new(void);
uint64_t *pml4_fork(uint64_t *parent);
void pml4_free(uint64_t *pml4);

/* trap.c */
void cpu_tables_init(void);
/* Call fn for external interrupt `vec` (only VEC_IRQ_DMA and VEC_IRQ_VTD
 * have gates); fn acknowledges the source and the local APIC. */
void irq_register(unsigned vec, void (*fn)(void));
void syscall_init(void);
void probe_arm(struct kjmp *resume); /* see trap.c */
void probe_disarm(void);
uint64_t probe_error(void);
uint64_t probe_address(void);

/* demand.c: the demand-zero workload region. */
void region_setup(uint64_t size, bool huge);
bool region_fault(uint64_t va, uint64_t error);
uint64_t region_faults(void);
void region_teardown(void);

/* proc.c: ring-3 processes, system calls, fork with copy-on-write. */
void syscall_dispatch(struct frame *f);
bool cow_fault(struct frame *f, uint64_t va, uint64_t error);
bool user_fault(struct frame *f, uint64_t va, uint64_t error);
struct cow_stats {
	uint64_t faults, copies, reuses, checksum;
	int init_status; /* exit status of pid 1 */
};
int proc_run_init(struct cow_stats *out);

/* dma.c: the edu device and the VT-d unit; workloads dma and dma-attack. */
/* Is a VT-d unit announced by an ACPI DMAR table? (prints what it found) */
bool dma_iommu_announced(void);
bool dma_probe(bool iommu);  /* find edu, map its BAR (and the VT-d window) */
/* Host-physical addresses a hypervisor told the kernel (0: not told):
 * hpa-canary= and hpa-ept= are pages of the hypervisor's own for dma-attack
 * to aim at; hpa-ram= is where RAM starts in host-physical memory, for a
 * device that speaks host-physical addresses (pass-through without an IOMMU). */
struct dma_hpa {
	uint64_t canary, ept, ram;
	bool ram_given;
};
bool dma_workload(const char *name, bool iommu, const struct dma_hpa *hpa, uint64_t *checksum);

/* workload.c */
struct options {
	const char *workload;
	uint64_t footprint, iters, seed, stride;
	bool huge;
	bool iommu;   /* iommu=on|off: is there a VT-d unit (default: as ACPI says) */
	bool iommu_given;
	struct dma_hpa hpa;  /* hpa-canary=, hpa-ept=, hpa-ram= */
	bool iters_given, footprint_given;
};
int workload_run(const struct options *o);

#endif
