/*
 * trap.c: the GDT with its TSS, the IDT, the system call MSRs, and trap(),
 * where every exception and system call arrives from entry.S.
 */
#include "kernel.h"
#include "x86.h"

/*
 * SDM 3.4.5 and 5.2.1: segment descriptors. In long mode only the type, DPL,
 * present and L bits of code segments matter. The order is dictated by
 * sysret (SDM Vol. 2B, SYSRET): it loads SS from STAR[63:48] + 8 and CS from
 * STAR[63:48] + 16, so user data must sit just before user code.
 */
static uint64_t gdt[7] = {
	0,
	0x00af9a000000ffffULL, /* 0x08 kernel code: present, DPL 0, L=1 */
	0x00cf92000000ffffULL, /* 0x10 kernel data */
	0x00cff2000000ffffULL, /* 0x18 user data: DPL 3 */
	0x00affa000000ffffULL, /* 0x20 user code: DPL 3, L=1 */
	0, 0,                  /* 0x28 TSS, a 16-byte system descriptor */
};

/* SDM 8.7, figure 8-11: the 64-bit TSS holds only stack pointers now. */
struct tss {
	uint32_t reserved0;
	uint64_t rsp[3]; /* stack for a trap from ring 3 lands at rsp[0] */
	uint64_t reserved1;
	uint64_t ist[7]; /* interrupt stack table: ist[0] is IST1 */
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

static struct tss tss;
static uint8_t df_stack[4096] __attribute__((aligned(16)));

/* SDM 6.14.1, figure 6-8: a 64-bit interrupt gate, as two words. */
static uint64_t idt[2 * (VEC_IRQ_LAST + 1)] __attribute__((aligned(16)));
static void (*irq_handler[VEC_IRQ_LAST + 1])(void);
extern char irq_stub_48[], irq_stub_49[];

struct table_register {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static void set_gate(unsigned vec, uint64_t handler, unsigned ist)
{
	idt[2 * vec] = (handler & 0xffff) | ((uint64_t)SEL_KCODE << 16) |
		       ((uint64_t)ist << 32) | (0x8eULL << 40) | /* present, DPL 0, interrupt gate */
		       ((handler >> 16 & 0xffff) << 48);
	idt[2 * vec + 1] = handler >> 32;
}

void cpu_tables_init(void)
{
	uint64_t base = (uint64_t)&tss, limit = sizeof(tss) - 1;
	tss.rsp[0] = (uint64_t)trap_stack_top;
	tss.ist[0] = (uint64_t)(df_stack + sizeof(df_stack)); /* #DF gets a known-good stack */
	tss.iomap_base = sizeof(tss); /* no I/O permission bitmap */
	/* SDM 8.2.3: 64-bit TSS descriptor, type 9 (available), present. */
	gdt[5] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ULL << 40) |
		 ((limit >> 16 & 0xf) << 48) | ((base >> 24 & 0xff) << 56);
	gdt[6] = base >> 32;

	struct table_register gdtr = { sizeof(gdt) - 1, (uint64_t)gdt };
	/*
	 * CS keeps selector 0x08, which describes the same 64-bit code segment in
	 * the boot GDT and in this one, so it needs no far jump to reload; the
	 * data selectors are reloaded for form (their bases are ignored in long
	 * mode anyway, SDM 3.4.4).
	 */
	__asm__ volatile("lgdt %0\n\t"
			 "movl %1, %%eax\n\t"
			 "movl %%eax, %%ds\n\t"
			 "movl %%eax, %%es\n\t"
			 "movl %%eax, %%ss\n\t"
			 "ltr %w2"
			 :
			 : "m"(gdtr), "i"(SEL_KDATA), "r"(SEL_TSS)
			 : "rax", "memory");

	for (unsigned v = 0; v < 32; v++)
		set_gate(v, exception_stubs[v], v == VEC_DF ? 1 : 0);
	set_gate(VEC_IRQ_DMA, (uint64_t)irq_stub_48, 0);
	set_gate(VEC_IRQ_VTD, (uint64_t)irq_stub_49, 0);
	struct table_register idtr = { sizeof(idt) - 1, (uint64_t)idt };
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

void syscall_init(void)
{
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
	/* sysret base 0x10: SS = 0x18 | 3, CS = 0x20 | 3; syscall CS = 0x08, SS = 0x10. */
	wrmsr(MSR_STAR, ((uint64_t)0x10 << 48) | ((uint64_t)SEL_KCODE << 32));
	wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
	/* Clear IF, TF, DF and AC on entry (SDM 3.4.3: bits 9, 8, 10, 18). */
	wrmsr(MSR_FMASK, (1u << 9) | (1u << 8) | (1u << 10) | (1u << 18));
}

/*
 * Probes: a demo that expects a fault arms a probe with a resume point saved
 * by kjmp_save(). The #PF handler then records the error code and address
 * and resumes there (kjmp_save returns 1) instead of treating the fault as a
 * kernel bug.
 */
static struct kjmp *probe_resume;
static uint64_t probe_err, probe_cr2;

void probe_arm(struct kjmp *resume)
{
	probe_resume = resume;
}

void probe_disarm(void)
{
	probe_resume = NULL;
}

uint64_t probe_error(void)
{
	return probe_err;
}

uint64_t probe_address(void)
{
	return probe_cr2;
}

static void resume_at(struct frame *f, const struct kjmp *j)
{
	f->rbx = j->rbx;
	f->rbp = j->rbp;
	f->r12 = j->r12;
	f->r13 = j->r13;
	f->r14 = j->r14;
	f->r15 = j->r15;
	f->rsp = j->rsp;
	f->rip = j->rip;
	f->rax = 1;
}

static const char *const exception_names[32] = {
	"#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
	"#BR bound range", "#UD invalid opcode", "#NM device not available",
	"#DF double fault", "coprocessor segment overrun", "#TS invalid TSS",
	"#NP segment not present", "#SS stack fault", "#GP general protection",
	"#PF page fault", "reserved 15", "#MF x87 error", "#AC alignment check",
	"#MC machine check", "#XM SIMD error", "#VE virtualization", "#CP control protection",
	"reserved 22", "reserved 23", "reserved 24", "reserved 25", "reserved 26",
	"reserved 27", "#HV hypervisor injection", "#VC VMM communication",
	"#SX security", "reserved 31",
};

static void page_fault(struct frame *f)
{
	uint64_t va = read_cr2();

	if (probe_resume && !(f->error & PF_U)) {
		probe_err = f->error;
		probe_cr2 = va;
		const struct kjmp *j = probe_resume;
		probe_resume = NULL;
		resume_at(f, j);
		return;
	}
	if (!(f->error & PF_U) && region_fault(va, f->error))
		return;
	if (f->error & PF_U) {
		if (cow_fault(f, va, f->error))
			return;
		if (user_fault(f, va, f->error))
			return;
	}
	panic("unexpected #PF: error 0x%lx rip %p cr2 %p", f->error, (void *)f->rip, (void *)va);
}

void irq_register(unsigned vec, void (*fn)(void))
{
	if (vec < 32 || vec > VEC_IRQ_LAST || !idt[2 * vec])
		panic("no gate for interrupt vector %u", vec);
	irq_handler[vec] = fn;
}

void trap(struct frame *f)
{
	if (f->vector >= 32 && f->vector <= VEC_IRQ_LAST && irq_handler[f->vector]) {
		irq_handler[f->vector]();
		return;
	}
	if (f->vector == VEC_SYSCALL) {
		syscall_dispatch(f);
		return;
	}
	if (f->vector == VEC_PF) {
		page_fault(f);
		return;
	}
	if ((f->cs & 3) && user_fault(f, read_cr2(), f->error))
		return;
	kprintf("unexpected exception %lu (%s): error 0x%lx rip %p cr2 %p rsp %p cs 0x%lx\n",
		f->vector, f->vector < 32 ? exception_names[f->vector] : "?", f->error,
		(void *)f->rip, (void *)read_cr2(), (void *)f->rsp, f->cs);
	kprintf("RESULT crash FAIL checksum=%016lx\n", (uint64_t)f->vector);
	guest_exit(EXIT_PANIC);
}
