/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/vcpu_fuzz.c - libFuzzer harness for the software vCPU.
 *
 * Everything a guest controls comes from the input: the code it runs, its
 * register values, its processor mode, and the contents of its page tables.
 * Whatever those are, hv must not crash, hang, leak or read outside the frame
 * pool: the run ends in an exit or at the instruction limit (built with
 * -fsanitize=fuzzer,address,undefined by `make fuzz`, see tests/fuzz.mk).
 *
 * Two VMs are built once and reused (building one per input cost most of
 * the time): one with EPT accessed/dirty flags, one without. Each input gets
 * a new MMU (nothing cached) and the vCPU's state as it was created (the
 * whole struct vcpu_soft is copied back but for its pre-decoded blocks,
 * which compare their bytes with memory before each use: that the harness
 * rewrote the code is seen as any other writer's change). Afterwards the
 * input's RAM is put back from a copy taken at the start, and so are the
 * EPT leaves it changed. With EPT A/D, only the pages whose EPT
 * dirty flag the run set, and those the harness wrote, are copied back, and
 * every 64th input compares all of RAM with the copy: a page that differs is
 * a guest write that did not set its EPT dirty flag (SDM 29.3.5), a finding.
 * Without A/D, all of RAM is copied back.
 *
 * Input layout (short inputs are padded with zeros):
 *   byte 0        mode: bit 0 = 32-bit protected mode with paging off,
 *                 bit 1 = start at CPL 3 (user code page), bit 2 = preset
 *                 "skylake" instead of "none", bit 3 = CR4.SMEP|SMAP,
 *                 bits 7:4 = number of page-table pokes
 *   byte 1        EPT permissions of the code page (bits 2:0) and data page (5:3);
 *                 bit 6: queue an external interrupt (vector = byte 2), IF = 1;
 *                 bit 7: EPT A/D flags off
 *   bytes 2..9    seed of the 16 GPR values (splitmix64), so that short
 *                 inputs reach the code quickly
 *   then          pokes of 10 bytes each: a kind byte and an index byte, then
 *                 8 bytes written raw into guest memory the processor reads on
 *                 its own: kind bits 3:2 = 0: the paging entry of level
 *                 1 + (bits 1:0) for the code, data or stack address (index
 *                 % 3); 1: IDT qword (index); 2: GDT qword (index % 8);
 *                 3: TSS qword (index % 13)
 *   then          code bytes, copied to the code page (at most 4 KiB)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/cpu/x86.h"
#include "tests/cpu_harness.h"
#include "tests/fuzz/input.h"

#define FUZZ_INSNS  1000   /* instruction budget per run() */
#define FUZZ_EXITS  8      /* exits handled before giving up */
#define DATA_GVA    0x400000ULL
#define CHECK_EVERY 64     /* inputs between whole-RAM comparisons (A/D on) */

/* The two VMs ([0]: EPT A/D on, [1]: off), each with its RAM as built. */
static struct tvm *vms[2];
static uint8_t *pristine[2];
static struct vcpu_soft born[2];  /* each VM's vCPU as created */

static struct vcpu_soft *soft(struct tvm *vm)
{
	return (struct vcpu_soft *)((char *)vm->vcpu - offsetof(struct vcpu_soft, base));
}

static uint8_t *ram(struct tvm *vm, uint64_t gpa)
{
	return tvm_gpa_ptr(vm, gpa, 1);
}

static struct tvm *vm_get(unsigned which)
{
	if (vms[which] == NULL) {
		if (tvm_create_ept_ad("none", 0, 0, which == 0, &vms[which]) != 0)
			abort(); /* the harness itself must work: that is not a finding */
		pristine[which] = malloc(TVM_RAM_SIZE);
		if (pristine[which] == NULL)
			abort();
		for (uint64_t gpa = 0; gpa < TVM_RAM_SIZE; gpa += PAGE_SIZE_2M)
			memcpy(pristine[which] + gpa, ram(vms[which], gpa), PAGE_SIZE_2M);
		born[which] = *soft(vms[which]);
		mmu_destroy(vms[which]->mmu);
		vms[which]->mmu = NULL;
	}
	return vms[which];
}

/* A new MMU with preset, and the vCPU as it was created. The MMU lives for
 * one input (destroyed at its end), so that an input frees what it
 * allocates: libFuzzer then has no reason to run it again looking for a
 * leak. */
static void renew(struct tvm *vm, unsigned which, const char *preset)
{
	struct vcpu_soft *v = soft(vm);
	struct block *blocks = v->blocks;
	struct mmu_config cfg;

	if (mmu_config_preset(preset, &cfg) != 0 || mmu_create(vm->pool, &cfg, &vm->mmu) != 0)
		abort();
	*v = born[which];
	v->blocks = blocks;
	/* As created, the vCPU has no blocks: the last input's would still
	 * hold hints into the shortcut slots of its MMU, destroyed with it
	 * (struct block's h_fslot, each record's h_slot). */
	for (unsigned i = 0; i < BLK_SLOTS; i++)
		blocks[i].key = 0;
	v->mmu = vm->mmu;
	v->hit = mmu_hit(vm->mmu);
}

static void restore_page(void *ctx, uint64_t gpa, uint64_t size)
{
	struct tvm *vm = ctx;
	const uint8_t *from = pristine[vm == vms[0] ? 0 : 1];

	for (uint64_t a = gpa & ~0xfffULL; a < gpa + size && a < TVM_RAM_SIZE; a += 0x1000)
		memcpy(ram(vm, a), from + a, 0x1000);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t head[10] = { 0 };
	size_t used = size < sizeof(head) ? size : sizeof(head);
	memcpy(head, data, used);
	data += used;
	size -= used;

	uint8_t mode = head[0];
	unsigned which = head[1] >> 7;
	struct tvm *vm = vm_get(which);
	renew(vm, which, mode & 4 ? "skylake" : "none");
	/* Pages the harness writes itself, put back whatever the EPT says. */
	uint64_t written[16 + 2];
	unsigned nwritten = 0;

	bool user = (mode & 2) != 0;
	uint64_t code_gva = user ? TVM_UCODE : TVM_CODE;

	/* EPT permissions of two leaves, written raw: they may make the code
	 * or data page unreadable, execute-only, or write-without-read (an EPT
	 * misconfiguration, SDM 29.3.3.1). */
	uint64_t perm[2] = { head[1] & 7u, (head[1] >> 3) & 7u };
	uint64_t gpa[2] = { code_gva, DATA_GVA };
	uint64_t leaf_hpa[2];
	for (int i = 0; i < 2; i++) {
		leaf_hpa[i] = vm->ram_hpa[gpa[i] >> PAGE_SHIFT_2M] + (gpa[i] & (PAGE_SIZE_2M - 1));
		written[nwritten++] = gpa[i];
		if (!perm[i])
			continue;
		uint64_t leaf = leaf_hpa[i] | perm[i] | ((uint64_t)EPT_MT_WB << EPT_MT_SHIFT);
		if (ept_set_raw(vm->ept, gpa[i], 1, leaf) != 0)
			abort();
	}

	/* Pokes into the guest's own paging structures. */
	unsigned npokes = mode >> 4;
	for (unsigned i = 0; i < npokes && size >= 10; i++) {
		static const uint64_t targets[3] = { TVM_CODE, DATA_GVA, TVM_STACK_TOP - 8 };
		uint64_t gpa = 0;
		switch ((data[0] >> 2) & 3) {
		case 0: {
			uint64_t gva = data[1] % 3 == 0 && user ? TVM_UCODE : targets[data[1] % 3];
			gpa = gpt_entry_gpa(vm->gpt, gva, 1 + (data[0] & 3u));
			break;
		}
		case 1:
			gpa = TVM_IDT + 8ULL * data[1];
			break;
		case 2:
			gpa = TVM_GDT + 8ULL * (data[1] % 8);
			break;
		case 3:
			gpa = TVM_TSS + 8ULL * (data[1] % 13);
			break;
		}
		if (gpa) {
			tvm_write64(vm, gpa, fuzz_u64(data + 2));
			written[nwritten++] = gpa;
		}
		data += 10;
		size -= 10;
	}

	size_t code_len = size < 0x1000 ? size : 0x1000;
	tvm_write(vm, code_gva, data, code_len);

	struct vcpu_regs r = { .rip = code_gva, .rflags = 0x2 };
	uint64_t seed = fuzz_u64(head + 2);
	for (int i = 0; i < 16; i++) {
		uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		r.gpr[i] = z ^ (z >> 31);
	}
	r.gpr[4] = user ? TVM_UDATA + 0x1000 : TVM_STACK_TOP;

	struct vcpu_sregs s;
	if (mode & 1) {
		tvm_sregs_prot32(&s);
		r.rip &= 0xffffffff;
	} else {
		tvm_sregs_long64(vm, &s);
		if (mode & 8)
			s.cr4 |= CR4_SMEP | CR4_SMAP;
		if (user) {
			s.cs.selector = TVM_SEL_UCODE | 3;
			s.cs.dpl = 3;
			s.ss.selector = TVM_SEL_UDATA | 3;
			s.ss.dpl = 3;
			s.ds = s.es = s.ss;
		}
	}
	if (head[1] & 0x40)
		r.rflags |= 0x200; /* IF */
	if (tvm_set_sregs(vm, &s) != 0 || tvm_set_regs(vm, &r) != 0)
		abort();
	if ((head[1] & 0x40) && vm->ops->inject_irq(vm->vcpu, head[2]) != 0)
		abort();

	for (int n = 0; n < FUZZ_EXITS; n++) {
		enum vcpu_exit_reason why = tvm_run(vm, FUZZ_INSNS);
		if (why == VCPU_EXIT_IO && vm->exit.io.in)
			vm->exit.io.data = 0xffffffff;
		else if (why == VCPU_EXIT_MMIO && !vm->exit.mmio.write)
			vm->exit.mmio.data = ~0ULL;
		else if (why == VCPU_EXIT_HYPERCALL)
			vm->exit.hypercall.ret = 0;
		else if (why != VCPU_EXIT_IO && why != VCPU_EXIT_MMIO && why != VCPU_EXIT_HLT)
			break; /* limit, triple fault, EPT exits, internal error: done */
	}

	/* Put the VM back as it was built. */
	static unsigned long inputs;
	mmu_destroy(vm->mmu);
	vm->mmu = NULL;
	if (which == 0) {
		if (ept_harvest_dirty(vm->ept, 0, TVM_RAM_SIZE, restore_page, vm) != 0)
			abort();
		for (unsigned i = 0; i < nwritten; i++)
			restore_page(vm, written[i], 8);
	} else {
		restore_page(vm, 0, TVM_RAM_SIZE);
	}
	for (int i = 0; i < 2; i++)
		if (perm[i] && ept_set_raw(vm->ept, gpa[i], 1, leaf_hpa[i] | EPT_RWX |
					   ((uint64_t)EPT_MT_WB << EPT_MT_SHIFT)) != 0)
			abort();
	if (which == 0 && ++inputs % CHECK_EVERY == 0) {
		for (uint64_t a = 0; a < TVM_RAM_SIZE; a += 0x1000) {
			if (memcmp(ram(vm, a), pristine[0] + a, 0x1000) != 0) {
				fprintf(stderr, "vcpu_fuzz: GPA 0x%llx was written without its EPT "
					"dirty flag being set\n", (unsigned long long)a);
				abort();
			}
		}
	}
	return 0;
}
