/* SPDX-License-Identifier: MIT */
/*
 * tests/cpu_harness.c - the tiny VM shared by the vCPU tests (see the layout
 * in cpu_harness.h). Everything here goes through the public interfaces, the
 * same way hv/ builds a VM.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/cpu_harness.h"

/*
 * The common exception handler. A stub has pushed an error code (a real one
 * or 0) and the vector; the handler copies the frame into the exception
 * record at 0x6000 (TVM_EXC_REC), counts, and halts. Resuming after the HLT
 * halts again, so a test that ends in an exception stops there.
 */
__asm__(".pushsection .rodata\n"
	".globl tvm_handler_start, tvm_handler_end\n"
	"tvm_handler_start:\n"
	".code64\n"
	"	push %rax\n"
	"	mov 8(%rsp), %rax\n"	/* vector */
	"	mov %rax, 0x6000\n"
	"	mov 16(%rsp), %rax\n"	/* error code */
	"	mov %rax, 0x6008\n"
	"	mov 24(%rsp), %rax\n"	/* RIP */
	"	mov %rax, 0x6010\n"
	"	mov 32(%rsp), %rax\n"	/* CS */
	"	mov %rax, 0x6018\n"
	"	mov 40(%rsp), %rax\n"	/* RFLAGS */
	"	mov %rax, 0x6020\n"
	"	mov 48(%rsp), %rax\n"	/* RSP */
	"	mov %rax, 0x6028\n"
	"	mov 56(%rsp), %rax\n"	/* SS */
	"	mov %rax, 0x6030\n"
	"	mov %cr2, %rax\n"
	"	mov %rax, 0x6038\n"
	"	incq 0x6040\n"
	"	pop %rax\n"
	"1:	hlt\n"
	"	jmp 1b\n"
	"tvm_handler_end:\n"
	".popsection\n");
extern const uint8_t tvm_handler_start[], tvm_handler_end[];
_Static_assert(TVM_EXC_REC == 0x6000, "the handler's addresses are written out above");

/* SDM 6.3.1, Table 6-1: the exceptions that push an error code. */
static bool vector_has_error_code(unsigned v)
{
	return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
}

unsigned long tvm_iters(unsigned long dflt)
{
	const char *s = getenv("HV_TEST_ITERS");
	if (!s || !*s)
		return dflt;
	unsigned long v = strtoul(s, NULL, 0);
	return v ? v : dflt;
}

const char *tvm_exit_name(enum vcpu_exit_reason r)
{
	static const char *const names[] = {
		[VCPU_EXIT_NONE] = "none", [VCPU_EXIT_IO] = "io", [VCPU_EXIT_MMIO] = "mmio",
		[VCPU_EXIT_HLT] = "hlt", [VCPU_EXIT_HYPERCALL] = "hypercall",
		[VCPU_EXIT_EPT_VIOLATION] = "ept-violation",
		[VCPU_EXIT_EPT_MISCONFIG] = "ept-misconfig",
		[VCPU_EXIT_TRIPLE_FAULT] = "triple-fault",
		[VCPU_EXIT_INSN_LIMIT] = "insn-limit",
		[VCPU_EXIT_INTERNAL_ERROR] = "internal-error",
	};
	if ((unsigned)r < sizeof(names) / sizeof(names[0]) && names[r])
		return names[r];
	return "?";
}

void *tvm_gpa_ptr(struct tvm *vm, uint64_t gpa, size_t len)
{
	/* Precondition: [gpa, gpa+len) is RAM inside one 2 MiB run. */
	if (gpa >= TVM_RAM_SIZE || len > TVM_RAM_SIZE - gpa ||
	    (len && (gpa >> PAGE_SHIFT_2M) != ((gpa + len - 1) >> PAGE_SHIFT_2M))) {
		fprintf(stderr, "tvm_gpa_ptr: bad range %#llx+%zu\n", (unsigned long long)gpa, len);
		abort();
	}
	uint64_t hpa = vm->ram_hpa[gpa >> PAGE_SHIFT_2M] + (gpa & (PAGE_SIZE_2M - 1));
	return hpool_ptr(vm->pool, hpa);
}

void tvm_write(struct tvm *vm, uint64_t gpa, const void *src, size_t len)
{
	memcpy(tvm_gpa_ptr(vm, gpa, len), src, len);
}

void tvm_read(struct tvm *vm, uint64_t gpa, void *dst, size_t len)
{
	memcpy(dst, tvm_gpa_ptr(vm, gpa, len), len);
}

uint64_t tvm_read64(struct tvm *vm, uint64_t gpa)
{
	uint64_t v;
	tvm_read(vm, gpa, &v, sizeof(v));
	return v;
}

void tvm_write64(struct tvm *vm, uint64_t gpa, uint64_t v)
{
	tvm_write(vm, gpa, &v, sizeof(v));
}

uint64_t tvm_gva_to_gpa(struct tvm *vm, uint64_t gva)
{
	uint64_t table = gpt_builder_cr3(vm->gpt) & PTE_ADDR_MASK;
	for (unsigned level = 4; level >= 1; level--) {
		unsigned shift = 12 + 9 * (level - 1);
		uint64_t e = tvm_read64(vm, table + ((gva >> shift) & 511) * 8);
		if (!(e & PTE_P))
			return ~0ULL;
		if (level == 1 || ((level == 2 || level == 3) && (e & PTE_PS))) {
			uint64_t base = e & PTE_ADDR_MASK & ~((1ULL << shift) - 1);
			return base | (gva & ((1ULL << shift) - 1));
		}
		table = e & PTE_ADDR_MASK;
	}
	return ~0ULL;
}

void tvm_write_gva(struct tvm *vm, uint64_t gva, const void *src, size_t len)
{
	const uint8_t *p = src;
	while (len) {
		size_t chunk = PAGE_SIZE_4K - (gva & (PAGE_SIZE_4K - 1));
		if (chunk > len)
			chunk = len;
		uint64_t gpa = tvm_gva_to_gpa(vm, gva);
		if (gpa == ~0ULL) {
			fprintf(stderr, "tvm_write_gva: %#llx not mapped\n", (unsigned long long)gva);
			abort();
		}
		tvm_write(vm, gpa, p, chunk);
		gva += chunk;
		p += chunk;
		len -= chunk;
	}
}

int tvm_map(struct tvm *vm, uint64_t gva, uint64_t gpa, uint64_t len, uint64_t flags)
{
	return gpt_map(vm->gpt, gva, gpa, len, flags, PAGE_SHIFT_4K);
}

static struct vcpu_segment flat_seg(uint16_t sel, uint8_t type, uint8_t dpl, uint8_t l, uint8_t db)
{
	return (struct vcpu_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type, .s = 1,
		.dpl = dpl, .present = 1, .l = l, .db = db, .g = 1,
	};
}

static void common_sregs(struct vcpu_sregs *s)
{
	s->tr = (struct vcpu_segment){ .base = TVM_TSS, .limit = 0x67, .selector = TVM_SEL_TSS,
				       .type = 0xb /* busy TSS */, .present = 1 };
	s->ldt = (struct vcpu_segment){ .unusable = 1 };
	s->gdt = (struct vcpu_dtable){ .base = TVM_GDT, .limit = 0x3f };
	s->idt = (struct vcpu_dtable){ .base = TVM_IDT, .limit = 256 * 16 - 1 };
}

void tvm_sregs_long64(const struct tvm *vm, struct vcpu_sregs *s)
{
	memset(s, 0, sizeof(*s));
	s->cs = flat_seg(TVM_SEL_KCODE, 0xb, 0, 1, 0);
	s->ds = s->es = s->ss = s->fs = s->gs = flat_seg(TVM_SEL_KDATA, 0x3, 0, 0, 1);
	common_sregs(s);
	s->cr0 = CR0_PE | CR0_WP | CR0_PG | (1ULL << 4) /* ET */;
	s->cr3 = gpt_builder_cr3(vm->gpt);
	s->cr4 = CR4_PAE;
	s->efer = EFER_LME | EFER_LMA | EFER_NXE;
}

void tvm_sregs_prot32(struct vcpu_sregs *s)
{
	memset(s, 0, sizeof(*s));
	s->cs = flat_seg(TVM_SEL_KCODE, 0xb, 0, 0, 1);
	s->ds = s->es = s->ss = s->fs = s->gs = flat_seg(TVM_SEL_KDATA, 0x3, 0, 0, 1);
	common_sregs(s);
	s->tr.type = 0xb;
	s->cr0 = CR0_PE | (1ULL << 4);
}

/* SDM 3.4.5: a code/data segment descriptor. */
static uint64_t seg_desc(uint8_t type, uint8_t dpl, bool l, bool db)
{
	return 0xffffULL | (0xfULL << 48) | ((uint64_t)type << 40) | (1ULL << 44) /* S */ |
	       ((uint64_t)dpl << 45) | (1ULL << 47) /* P */ | ((uint64_t)l << 53) |
	       ((uint64_t)db << 54) | (1ULL << 55) /* G */;
}

void tvm_setup_system(struct tvm *vm)
{
	uint64_t gdt[8] = { 0 };
	gdt[TVM_SEL_KCODE / 8] = seg_desc(0xb, 0, true, false);
	gdt[TVM_SEL_KDATA / 8] = seg_desc(0x3, 0, false, true);
	gdt[TVM_SEL_UCODE32 / 8] = seg_desc(0xb, 3, false, true);
	gdt[TVM_SEL_UDATA / 8] = seg_desc(0x3, 3, false, true);
	gdt[TVM_SEL_UCODE / 8] = seg_desc(0xb, 3, true, false);
	/* SDM 8.2.3: 16-byte TSS descriptor, type 0xB (busy: TR is loaded). */
	gdt[TVM_SEL_TSS / 8] = 0x67 | ((TVM_TSS & 0xffffff) << 16) | (0xbULL << 40) | (1ULL << 47) |
			       ((TVM_TSS >> 24) & 0xff) << 56;
	gdt[TVM_SEL_TSS / 8 + 1] = TVM_TSS >> 32;
	tvm_write(vm, TVM_GDT, gdt, sizeof(gdt));

	uint8_t tss[0x68] = { 0 };
	uint64_t rsp0 = TVM_RSP0_TOP, ist1 = TVM_IST1_TOP;
	memcpy(tss + TSS64_RSP0, &rsp0, 8);
	memcpy(tss + TSS64_IST1, &ist1, 8);
	tss[0x66] = sizeof(tss); /* I/O map base beyond the limit: no bitmap */
	tvm_write(vm, TVM_TSS, tss, sizeof(tss));

	tvm_write(vm, TVM_HANDLER, tvm_handler_start, (size_t)(tvm_handler_end - tvm_handler_start));

	for (unsigned v = 0; v < 256; v++) {
		uint8_t stub[16];
		size_t n = 0;
		uint64_t at = TVM_STUBS + 16 * v;
		if (!vector_has_error_code(v)) {
			stub[n++] = 0x6a; /* push $0 */
			stub[n++] = 0x00;
		}
		stub[n++] = 0x68; /* push $v */
		uint32_t imm = v;
		memcpy(stub + n, &imm, 4);
		n += 4;
		stub[n++] = 0xe9; /* jmp rel32 to the common handler */
		int32_t rel = (int32_t)(TVM_HANDLER - (at + n + 4));
		memcpy(stub + n, &rel, 4);
		n += 4;
		while (n < sizeof(stub))
			stub[n++] = 0xcc;
		tvm_write(vm, at, stub, sizeof(stub));

		/* SDM 6.14.1, Figure 6-8: 64-bit interrupt gate (type 0xE). */
		unsigned dpl = (v == 3 || v == 4 || v == 0x80 || v == 0x81) ? 3 : 0;
		unsigned ist = v == 0x81 ? 1 : 0;
		uint64_t lo = (at & 0xffff) | ((uint64_t)TVM_SEL_KCODE << 16) | ((uint64_t)ist << 32) |
			      (0xeULL << 40) | ((uint64_t)dpl << 45) | (1ULL << 47) |
			      ((at >> 16) & 0xffff) << 48;
		uint64_t hi = at >> 32;
		tvm_write64(vm, TVM_IDT + 16 * v, lo);
		tvm_write64(vm, TVM_IDT + 16 * v + 8, hi);
	}
	static const uint8_t zero[sizeof(struct tvm_exc_record)];
	tvm_write(vm, TVM_EXC_REC, zero, sizeof(zero));
}

void tvm_exc_record(struct tvm *vm, struct tvm_exc_record *rec)
{
	tvm_read(vm, TVM_EXC_REC, rec, sizeof(*rec));
}

int tvm_get_regs(struct tvm *vm, struct vcpu_regs *r) { return vm->ops->get_regs(vm->vcpu, r); }
int tvm_set_regs(struct tvm *vm, const struct vcpu_regs *r) { return vm->ops->set_regs(vm->vcpu, r); }
int tvm_get_sregs(struct tvm *vm, struct vcpu_sregs *s) { return vm->ops->get_sregs(vm->vcpu, s); }
int tvm_set_sregs(struct tvm *vm, const struct vcpu_sregs *s) { return vm->ops->set_sregs(vm->vcpu, s); }

void tvm_load_code(struct tvm *vm, uint64_t gva, const void *code, size_t len)
{
	tvm_write_gva(vm, gva, code, len);
	struct vcpu_regs r = { .rip = gva, .rflags = 0x2 };
	r.gpr[4] = TVM_STACK_TOP;
	if (tvm_set_regs(vm, &r) != 0) {
		fprintf(stderr, "tvm_load_code: set_regs failed\n");
		abort();
	}
}

enum vcpu_exit_reason tvm_run(struct tvm *vm, uint64_t max_insns)
{
	memset(&vm->exit, 0, sizeof(vm->exit));
	if (vm->ops->run(vm->vcpu, max_insns, &vm->exit) != 0)
		return VCPU_EXIT_INTERNAL_ERROR;
	return vm->exit.reason;
}

int tvm_create(const char *preset, struct tvm **out)
{
	return tvm_create_cpu(preset, 0, 0, out);
}

int tvm_create_cpu(const char *preset, uint64_t features_off, unsigned phys_bits, struct tvm **out)
{
	return tvm_create_ept_ad(preset, features_off, phys_bits, false, out);
}

static int create_vm(const struct mmu_config *cfg, const struct cpu_model *model, bool ept_ad,
		     bool lapic_exits, struct tvm **out)
{
	struct tvm *vm = calloc(1, sizeof(*vm));
	struct ept_caps caps = { .exec_only = true, .page_1g = true };
	int err;

	if (!vm)
		return -ENOMEM;
	vm->ops = &vcpu_soft_ops;
	err = hpool_create(TVM_RAM_SIZE * 4, &vm->pool);
	if (err)
		goto free_vm;
	err = ept_create(vm->pool, 4, ept_ad, &caps, &vm->ept);
	if (err)
		goto destroy_pool;
	/* 4 KiB EPT pages: walks have the full 4-level EPT dimension and a
	 * test can change one page's permissions without a split. */
	for (uint64_t gpa = 0; gpa < TVM_RAM_SIZE; gpa += PAGE_SIZE_2M) {
		uint64_t hpa;
		err = hpool_alloc(vm->pool, PAGE_SIZE_2M, FRAME_GUEST, &hpa);
		if (err)
			goto destroy_ept;
		vm->ram_hpa[gpa >> PAGE_SHIFT_2M] = hpa;
		err = ept_map(vm->ept, gpa, hpa, PAGE_SIZE_2M,
			      EPT_RWX | ((uint64_t)EPT_MT_WB << EPT_MT_SHIFT), PAGE_SIZE_4K);
		if (err)
			goto destroy_ept;
	}
	err = gpt_builder_create(vm->pool, vm->ept, 4, TVM_PT_BASE, TVM_PT_SIZE, &vm->gpt);
	if (err)
		goto destroy_ept;
	if ((err = tvm_map(vm, 0x1000, 0x1000, TVM_UCODE - 0x1000, PTE_W)) ||
	    (err = tvm_map(vm, TVM_UCODE, TVM_UCODE, TVM_USER_END - TVM_UCODE, PTE_W | PTE_U)) ||
	    (err = tvm_map(vm, TVM_USER_END, TVM_USER_END, TVM_PT_BASE - TVM_USER_END, PTE_W)) ||
	    (err = tvm_map(vm, TVM_FREE, TVM_FREE, TVM_RAM_SIZE - TVM_FREE, PTE_W)))
		goto destroy_gpt;

	err = mmu_create(vm->pool, cfg, &vm->mmu);
	if (err)
		goto destroy_gpt;

	struct vcpu_config vc = { .pool = vm->pool, .ept = vm->ept, .mem_size = TVM_RAM_SIZE,
				  .lapic_exits = lapic_exits,
				  .soft = { .mmu = vm->mmu, .vpid = 1, .features_off = model->off,
					    .phys_bits = model->phys_bits, .vendor = model->vendor,
					    .signature = model->signature } };
	/* The harness edits the EPT itself: the soft vCPU needs no gmem. */
	err = vm->ops->create(&vc, NULL, &vm->vcpu);
	if (err)
		goto destroy_mmu;

	tvm_setup_system(vm);
	struct vcpu_sregs s;
	tvm_sregs_long64(vm, &s);
	err = tvm_set_sregs(vm, &s);
	if (err)
		goto destroy_vcpu;
	struct vcpu_regs r = { .rip = TVM_CODE, .rflags = 0x2 };
	r.gpr[4] = TVM_STACK_TOP;
	err = tvm_set_regs(vm, &r);
	if (err)
		goto destroy_vcpu;
	*out = vm;
	return 0;

destroy_vcpu:
	vm->ops->destroy(vm->vcpu);
destroy_mmu:
	mmu_destroy(vm->mmu);
destroy_gpt:
	gpt_builder_destroy(vm->gpt);
destroy_ept:
	ept_destroy(vm->ept);
destroy_pool:
	hpool_destroy(vm->pool);
free_vm:
	free(vm);
	return err;
}

int tvm_create_ept_ad(const char *preset, uint64_t features_off, unsigned phys_bits, bool ept_ad,
		      struct tvm **out)
{
	struct mmu_config cfg;
	int err = mmu_config_preset(preset, &cfg);

	if (err)
		return err;
	return create_vm(&cfg, &(struct cpu_model){ .off = features_off, .phys_bits = phys_bits },
			 ept_ad, false, out);
}

int tvm_create_model(const char *preset, const struct cpu_model *m, struct tvm **out)
{
	struct mmu_config cfg;
	int err = mmu_config_preset(preset, &cfg);

	if (err)
		return err;
	return create_vm(&cfg, m, false, false, out);
}

int tvm_create_mmu(const struct mmu_config *cfg, struct tvm **out)
{
	return create_vm(cfg, &(struct cpu_model){ 0 }, false, false, out);
}

int tvm_create_lapic(const char *preset, struct tvm **out)
{
	struct mmu_config cfg;
	int err = mmu_config_preset(preset, &cfg);

	if (err)
		return err;
	return create_vm(&cfg, &(struct cpu_model){ 0 }, false, true, out);
}

void tvm_destroy(struct tvm *vm)
{
	if (!vm)
		return;
	vm->ops->destroy(vm->vcpu);
	mmu_destroy(vm->mmu);
	gpt_builder_destroy(vm->gpt);
	ept_destroy(vm->ept);
	hpool_destroy(vm->pool);
	free(vm);
}
