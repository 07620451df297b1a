/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/exit_fuzz.c - libFuzzer harness for what a guest reaches
 * through its exits: hv's exit loop (hv/vm_exit.c) and every device model
 * on its buses (UART, PCI, the PIT, the 8259s, the I/O APIC, the local
 * APIC, ACPI PM with S3 sleep and resume and S5, fw_cfg, pc-testdev, the
 * hv test device, edu and its VT-d unit with their DMA), driven by a
 * backend that plays exits from the input instead of running instructions.
 *
 * Input: byte 0 configures the VM: bit 0 edu, bit 1 no VT-d unit in front
 * of it, bit 2 lazy mapping, bit 3 2M EPT pages, bit 4 dirty tracking from
 * the start, bits 6:5 edu passed through (% 3: off, the unit with its own
 * tables, the unit walking EPT's). Then records of 14 bytes, one exit each:
 *   byte 0      kind (% 16): 0, 1 port write, read; 2, 3 MMIO write, read;
 *               4, 5 WRMSR, RDMSR; 6 HLT; 7 interrupt window; 8 MOV to CR8;
 *               9 EPT violation; 10 hypercall; 11 instruction limit;
 *               12 a store of v to memory, no exit (RAM at v, or with
 *               selector bit 7 the GPA below: edu's register page when it
 *               is passed through); 13-15 HLT
 *   byte 1      selector: which device of the port or MMIO bus (% their
 *               number), which of the MSRs the exit loop handles
 *               (IA32_APIC_BASE, IA32_TSC_DEADLINE, x2APIC registers);
 *               bit 7: a raw port (w), GPA (w << 16 | byte 3 << 3) or MSR
 *               index (w << 4 | selector bits 3:0)
 *   byte 2      bits 1:0 access size (1, 2, 4, 8; ports: 8 is 4), bit 2
 *               "ready" (an injected interrupt is taken at once), bits 7:3
 *               the TSC moves on by 2^n - 1 ticks before this exit
 *   byte 3      EPT violation: qualification bits 7:0 (w: bits 16:8)
 *   bytes 4-5   w: offset in the device's window, raw port or MSR
 *   bytes 6-13  v: the value written (CR8: v & 15), the EPT violation's
 *               GPA, the hypercall number (v & 7 unless raw) and arguments
 * After the records the guest writes 0 to isa-debug-exit. At most 4096
 * records.
 *
 * Invariants: vm_run ends (no hang), with a stop reason and the status that
 * goes with it; an interrupt is injected only when the last exit said the
 * vCPU is ready for one, at most once per run(); no crash, leak or
 * undefined behaviour (ASan, UBSan).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/vm.h"
#include "hv/vm_dma.h"

/* Not used here (hv/main.c's): the front end's sources are linked whole. */
FILE *cli_console;

#define REC 14
#define MAX_RECS 4096

struct play {
	struct vcpu base;
	const uint8_t *rec;
	size_t nrec, next;
	uint64_t tsc;
	bool ready;          /* the last exit said an interrupt is taken at once */
	unsigned injected;   /* since the last run() */
	struct vm *vm;
	struct vcpu_stats st;
};

static struct play *the_play;

static struct play *to_play(struct vcpu *v)
{
	return (struct play *)((char *)v - offsetof(struct play, base));
}

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = n; i-- > 0;)
		v = (v << 8) | p[i];
	return v;
}

static const struct vcpu_ops play_ops;

static int play_create(const struct vcpu_config *cfg, struct gmem *mem, struct vcpu **out)
{
	(void)cfg;
	(void)mem;
	the_play = calloc(1, sizeof(*the_play));
	if (the_play == NULL)
		return -ENOMEM;
	the_play->base.ops = &play_ops;
	*out = &the_play->base;
	return 0;
}

static void play_destroy(struct vcpu *v) { free(to_play(v)); }
static int play_get_regs(struct vcpu *v, struct vcpu_regs *r) { (void)v; memset(r, 0, sizeof(*r)); return 0; }
static int play_set_regs(struct vcpu *v, const struct vcpu_regs *r) { (void)v; (void)r; return 0; }
static int play_get_sregs(struct vcpu *v, struct vcpu_sregs *s) { (void)v; memset(s, 0, sizeof(*s)); return 0; }
static int play_set_sregs(struct vcpu *v, const struct vcpu_sregs *s) { (void)v; (void)s; return 0; }
static int play_reset(struct vcpu *v) { (void)v; return 0; }
static void play_stats(struct vcpu *v, struct vcpu_stats *st) { *st = to_play(v)->st; }

static const struct device *pick(const struct dev_bus *bus, enum dev_space space, unsigned k)
{
	unsigned n = 0;

	for (unsigned i = 0; i < bus->n; i++)
		n += bus->dev[i].ops->space == space;
	for (unsigned i = 0; n && i < bus->n; i++)
		if (bus->dev[i].ops->space == space && k-- % n == 0)
			return &bus->dev[i];
	return NULL;
}

static int play_run(struct vcpu *vcpu, uint64_t max_insns, struct vcpu_exit *e)
{
	static const uint32_t msrs[] = { 0x1b, 0x6e0, 0x802, 0x803, 0x808, 0x80b, 0x80f,
					 0x830, 0x832, 0x838, 0x839, 0x83e, 0x83f };
	static const unsigned sizes[4] = { 1, 2, 4, 8 };
	struct play *p = to_play(vcpu);
	uint8_t cr8 = e->irq.cr8;

	p->injected = 0;
	if (p->next >= p->nrec) {
		*e = (struct vcpu_exit){ .reason = VCPU_EXIT_IO };
		e->io.port = DEBUGEXIT_PORT;
		e->io.size = 4;
		e->io.data = 0;
		e->irq.cr8 = cr8;
		e->irq.tsc = p->tsc;
		p->st.instructions++;
		return 0;
	}
	const uint8_t *r = p->rec + REC * p->next++;
	unsigned kind = r[0] % 16, sel = r[1], size = sizes[r[2] & 3];
	uint64_t w = le(r + 4, 2), v = le(r + 6, 8);
	const struct device *d;

	/* Stores to memory are no exits: the guest goes on to the next record
	 * (a pass-through device finds its registers written this way). */
	while (kind == 12) {
		uint64_t gpa = sel & 0x80 ? w << 16 | (uint64_t)r[3] << 3 : v % p->vm->cfg.mem_size;

		(void)vm_write_gpa(p->vm, gpa, &v, size);
		if (p->next >= p->nrec)
			return play_run(vcpu, max_insns, e);
		r = p->rec + REC * p->next++;
		kind = r[0] % 16;
		sel = r[1];
		size = sizes[r[2] & 3];
		w = le(r + 4, 2);
		v = le(r + 6, 8);
	}

	*e = (struct vcpu_exit){ 0 };
	switch (kind) {
	case 0:
	case 1:
		e->reason = VCPU_EXIT_IO;
		d = pick(&p->vm->bus, DEV_PIO, sel & 0x7f);
		e->io.port = (uint16_t)((sel & 0x80) || d == NULL ? w : d->base + w % (d->len + 1));
		e->io.size = (uint8_t)(size == 8 ? 4 : size);
		e->io.in = kind == 1;
		e->io.data = kind == 0 ? (uint32_t)v : 0;
		break;
	case 2:
	case 3:
		e->reason = VCPU_EXIT_MMIO;
		d = pick(&p->vm->bus, DEV_MMIO, sel & 0x7f);
		e->mmio.gpa = (sel & 0x80) || d == NULL ? w << 16 | (uint64_t)r[3] << 3
							: d->base + w % (d->len + 8);
		e->mmio.size = (uint8_t)size;
		e->mmio.write = kind == 2;
		e->mmio.data = kind == 2 ? v : 0;
		break;
	case 4:
	case 5:
		e->reason = VCPU_EXIT_MSR;
		e->msr.index = sel & 0x80 ? (uint32_t)w << 4 | (sel & 15)
					  : msrs[sel % (sizeof(msrs) / sizeof(msrs[0]))];
		e->msr.write = kind == 4;
		e->msr.data = kind == 4 ? v : 0;
		break;
	case 7:
		e->reason = VCPU_EXIT_IRQ_WINDOW;
		break;
	case 8:
		e->reason = VCPU_EXIT_SET_TPR;
		cr8 = v & 15;
		break;
	case 9:
		e->reason = VCPU_EXIT_EPT_VIOLATION;
		e->ept.gpa = v;
		e->ept.gva = v;
		e->ept.qual = r[3] | (uint64_t)(w & 0x1ff) << 8;
		break;
	case 10:
		e->reason = VCPU_EXIT_HYPERCALL;
		e->hypercall.nr = sel & 0x80 ? v : v & 7;
		for (int i = 0; i < 4; i++)
			e->hypercall.args[i] = v >> (16 * i);
		break;
	case 11:
		e->reason = VCPU_EXIT_INSN_LIMIT;
		break;
	default:
		e->reason = VCPU_EXIT_HLT;
		break;
	}
	e->rip = 0x100000 + p->next;
	e->irq.cr8 = cr8;
	/* The TSC moves on: by a little, or by a lot (a guest can write it). */
	p->tsc += (1ULL << (r[2] >> 3)) - 1;
	e->irq.tsc = p->tsc;
	e->irq.ready = (r[2] & 4) != 0;
	p->ready = e->irq.ready;
	p->st.instructions += e->reason == VCPU_EXIT_INSN_LIMIT ? max_insns : 1;
	return 0;
}

static int play_inject_irq(struct vcpu *vcpu, uint8_t vector)
{
	struct play *p = to_play(vcpu);

	(void)vector;
	/* hv injects only into a vCPU that said it takes one now, and one a run. */
	if (p->next > 0 && (!p->ready || p->injected++ > 0)) {
		fprintf(stderr, "exit_fuzz: interrupt %u injected when the vCPU was not ready "
			"for one\n", vector);
		abort();
	}
	return 0;
}

static int play_inject_nmi(struct vcpu *vcpu)
{
	(void)vcpu;
	return 0;
}

/* Named "soft": it stands in for the software vCPU over the same guest
 * memory (gmem_soft), so that what only that backend offers (edu passed
 * through) is reached too. */
static const struct vcpu_ops play_ops = {
	.name = "soft",
	.counts_instructions = true,
	.mem_create = gmem_soft_create,
	.mem_destroy = gmem_soft_destroy,
	.create = play_create,
	.destroy = play_destroy,
	.get_regs = play_get_regs,
	.set_regs = play_set_regs,
	.get_sregs = play_get_sregs,
	.set_sregs = play_set_sregs,
	.reset = play_reset,
	.run = play_run,
	.inject_irq = play_inject_irq,
	.inject_nmi = play_inject_nmi,
	.get_stats = play_stats,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vm_config cfg = {
		/* 4 MiB: a VM is made per input and its eager mapping was most
		 * of an input's time at 16 MiB (77% of it, mostly the walker's
		 * coverage counters); every device window and the DMA canary
		 * stay where they were. */
		.mem_size = 4ULL << 20,
		.ept_levels = 4,
		.ops = &play_ops,
		.serial_in_fd = -1,
	};
	struct vm *vm;
	char err[256];
	int rc;

	if (size < 1)
		return 0;
	cfg.edu = data[0] & 1;
	cfg.iommu = cfg.edu && !(data[0] & 2);
	cfg.policy = data[0] & 4 ? MEM_LAZY : MEM_EAGER;
	cfg.ept_page_shift = data[0] & 8 ? 21 : 12;
	cfg.dirty_track_after = data[0] & 16 ? 1 : 0;
	cfg.passthrough = cfg.edu ? (enum vm_passthrough)((data[0] >> 5) % 3) : PT_OFF;
	if (mmu_config_preset("none", &cfg.mmu) != 0)
		abort();
	if (vm_create(&cfg, &vm, err, sizeof(err)) != 0) {
		fprintf(stderr, "exit_fuzz: %s\n", err);
		abort(); /* the harness itself must work: not a finding */
	}
	if (vm->dma && cfg.edu && vm_dma_start(vm) != 0)
		abort();
	the_play->vm = vm;
	the_play->rec = data + 1;
	the_play->nrec = (size - 1) / REC;
	if (the_play->nrec > MAX_RECS)
		the_play->nrec = MAX_RECS;

	rc = vm_run(vm);
	if (rc == 0) {
		const struct vm_stop *s = &vm->stop;
		bool ok;

		switch (s->reason) {
		case VM_STOP_DEBUG_EXIT: ok = (s->status & 1) && s->status <= 511; break;
		case VM_STOP_HLT: ok = s->status == VM_STATUS_HALT; break;
		case VM_STOP_INSN_LIMIT: ok = s->status == VM_STATUS_LIMIT; break;
		case VM_STOP_HOST_ERROR: ok = s->status == VM_STATUS_HOST; break;
		case VM_STOP_POWEROFF: ok = s->status == VM_STATUS_HALT; break;
		case VM_STOP_SLEEP: ok = s->status == VM_STATUS_HALT || s->status == VM_STATUS_GUEST; break;
		case VM_STOP_FORBIDDEN_GPA:
		case VM_STOP_EPT_MISCONFIG:
		case VM_STOP_TRIPLE_FAULT:
		case VM_STOP_INTERNAL_ERROR: ok = s->status == VM_STATUS_GUEST || s->status == VM_STATUS_HOST; break;
		default: ok = false; break;
		}
		if (!ok) {
			fprintf(stderr, "exit_fuzz: stop %s with status %d\n",
				vm_stop_name(s->reason), s->status);
			abort();
		}
		if (vm_dirty_harvest(vm) != 0)
			abort();
		if (vm->dma && vm_dma_check_canary(vm) != 0)
			abort();
	}
	vm_destroy(vm);
	return 0;
}
