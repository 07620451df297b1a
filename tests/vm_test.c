/* SPDX-License-Identifier: MIT */
/*
 * tests/vm_test.c - the VM's exit handling, driven by a scripted backend.
 *
 * The backend below plays back a list of exits instead of running code, so
 * each test states exactly what the "hardware" reported and checks what hv
 * did with it: lazy mapping, dirty logging, MMIO and port emulation, the
 * forbidden-GPA stop, hypercalls, the instruction limit.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv/vm.h"
#include "tests/testutil.h"

#define MAX_SCRIPT 24

struct scripted_vcpu {
	struct vcpu base;
	struct vcpu_exit script[MAX_SCRIPT];
	unsigned n, next;
	/* What hv handed back when completing the previous exit. */
	uint64_t last_mmio_data, last_io_data, last_hc_ret;
	struct vcpu_stats st;
	/* What hv passed to each run() (the completed exit and the interrupt
	 * handshake's inputs) and the budget it gave. */
	struct vcpu_exit seen[MAX_SCRIPT + 1];
	uint64_t budget[MAX_SCRIPT + 1];
	/* Interrupts injected, in order, and before which run() each came. */
	uint8_t injected[MAX_SCRIPT];
	unsigned injected_before[MAX_SCRIPT], ninjected;
	unsigned nmi_before[MAX_SCRIPT], nnmi;
	/* Resets (ops->reset) and the state hv set last, and before which run()
	 * the reset came. */
	unsigned resets, reset_before;
	struct vcpu_sregs sregs;
	struct vcpu_regs regs;
};

static struct scripted_vcpu *the_vcpu;

static struct scripted_vcpu *to_scripted(struct vcpu *v)
{
	return container_of(v, struct scripted_vcpu, base);
}

/*
 * Guest memory: the soft backend's operations on hv's EPT, with every call
 * counted, so that a test can check what the exit loop asked the backend.
 */
struct counting_gmem {
	struct gmem base;
	struct gmem *soft;
	unsigned map, protect, invalidate, dirty_log;
};

static struct counting_gmem *the_mem;

static struct counting_gmem *to_counting(struct gmem *m)
{
	return container_of(m, struct counting_gmem, base);
}

static int count_map(struct gmem *m, uint64_t gpa, uint64_t hpa, uint64_t size, uint64_t attrs,
		     uint64_t page_size)
{
	struct counting_gmem *c = to_counting(m);

	c->map++;
	return c->soft->ops->map(c->soft, gpa, hpa, size, attrs, page_size);
}

static int count_protect(struct gmem *m, uint64_t gpa, uint64_t size, uint64_t perms)
{
	struct counting_gmem *c = to_counting(m);

	c->protect++;
	return c->soft->ops->protect(c->soft, gpa, size, perms);
}

static void count_invalidate(struct gmem *m)
{
	struct counting_gmem *c = to_counting(m);

	c->invalidate++;
	c->soft->ops->invalidate(c->soft);
}

static int count_dirty_log(struct gmem *m, uint64_t gpa, uint64_t size, gmem_dirty_fn fn, void *ctx)
{
	struct counting_gmem *c = to_counting(m);

	c->dirty_log++;
	return c->soft->ops->dirty_log(c->soft, gpa, size, fn, ctx);
}

static const struct gmem_ops counting_gmem_ops = {
	.protect_exits = true,
	.map = count_map,
	.protect = count_protect,
	.invalidate = count_invalidate,
	.dirty_log = count_dirty_log,
};

static int fake_mem_create(const struct vcpu_config *cfg, struct gmem **out)
{
	struct counting_gmem *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	if (gmem_soft_create(cfg, &c->soft) != 0) {
		free(c);
		return -ENOMEM;
	}
	c->base.ops = &counting_gmem_ops;
	the_mem = c;
	*out = &c->base;
	return 0;
}

static void fake_mem_destroy(struct gmem *m)
{
	struct counting_gmem *c = to_counting(m);

	gmem_soft_destroy(c->soft);
	free(c);
}

static const struct vcpu_ops fake_ops;

static int fake_create(const struct vcpu_config *cfg, struct gmem *mem, struct vcpu **out)
{
	(void)cfg;
	(void)mem;
	the_vcpu = calloc(1, sizeof(*the_vcpu));
	if (!the_vcpu)
		return -ENOMEM;
	the_vcpu->base.ops = &fake_ops;
	*out = &the_vcpu->base;
	return 0;
}

static void fake_destroy(struct vcpu *v) { free(to_scripted(v)); }
static uint64_t fake_rflags = 0x2;   /* what fake_get_regs reports */
static int fake_get_regs(struct vcpu *v, struct vcpu_regs *r)
{
	(void)v;
	memset(r, 0, sizeof(*r));
	r->rflags = fake_rflags;
	return 0;
}
static int fake_set_regs(struct vcpu *v, const struct vcpu_regs *r) { to_scripted(v)->regs = *r; return 0; }
static int fake_get_sregs(struct vcpu *v, struct vcpu_sregs *s) { (void)v; memset(s, 0, sizeof(*s)); return 0; }
static int fake_set_sregs(struct vcpu *v, const struct vcpu_sregs *s) { to_scripted(v)->sregs = *s; return 0; }

static int fake_reset(struct vcpu *vcpu)
{
	struct scripted_vcpu *v = to_scripted(vcpu);

	v->resets++;
	v->reset_before = v->next;
	return 0;
}
static void fake_stats(struct vcpu *v, struct vcpu_stats *st) { *st = to_scripted(v)->st; }

/*
 * Play the next exit. `e` is hv's exit structure, which still holds the
 * previous exit completed by hv (an IN or MMIO read value, a hypercall
 * result): record it, as a backend would consume it. Past the end of the
 * script the guest "writes 0 to isa-debug-exit".
 */
static int fake_run(struct vcpu *vcpu, uint64_t max_insns, struct vcpu_exit *e)
{
	struct scripted_vcpu *v = to_scripted(vcpu);

	if (v->next <= MAX_SCRIPT) {
		v->seen[v->next] = *e;
		v->budget[v->next] = max_insns;
	}
	if (v->next > 0) {
		const struct vcpu_exit *prev = &v->script[v->next - 1];

		if (prev->reason == VCPU_EXIT_MMIO && !prev->mmio.write)
			v->last_mmio_data = e->mmio.data;
		if (prev->reason == VCPU_EXIT_IO && prev->io.in)
			v->last_io_data = e->io.data;
		if (prev->reason == VCPU_EXIT_HYPERCALL)
			v->last_hc_ret = e->hypercall.ret;
	}
	uint8_t cr8 = e->irq.cr8;

	if (v->next < v->n) {
		*e = v->script[v->next++];
	} else {
		*e = (struct vcpu_exit){ .reason = VCPU_EXIT_IO };
		e->io.port = DEBUGEXIT_PORT;
		e->io.size = 4;
		e->io.data = 0;
	}
	/* CR8 stays what hv gave unless the script's exit is a MOV to CR8. */
	if (e->reason != VCPU_EXIT_SET_TPR)
		e->irq.cr8 = cr8;
	/* An instruction-limit exit retires exactly the budget. */
	v->st.instructions += e->reason == VCPU_EXIT_INSN_LIMIT ? max_insns : 1;
	return 0;
}

static int fake_inject_irq(struct vcpu *vcpu, uint8_t vector)
{
	struct scripted_vcpu *v = to_scripted(vcpu);

	assert_true(v->ninjected < MAX_SCRIPT);
	v->injected[v->ninjected] = vector;
	v->injected_before[v->ninjected++] = v->next;
	return 0;
}

static int fake_inject_nmi(struct vcpu *vcpu)
{
	struct scripted_vcpu *v = to_scripted(vcpu);

	assert_true(v->nnmi < MAX_SCRIPT);
	v->nmi_before[v->nnmi++] = v->next;
	return 0;
}

static const struct vcpu_ops fake_ops = {
	.name = "scripted",
	.counts_instructions = true,   /* it retires exactly the budget it is given */
	.mem_create = fake_mem_create,
	.mem_destroy = fake_mem_destroy,
	.create = fake_create,
	.destroy = fake_destroy,
	.get_regs = fake_get_regs,
	.set_regs = fake_set_regs,
	.get_sregs = fake_get_sregs,
	.set_sregs = fake_set_sregs,
	.reset = fake_reset,
	.run = fake_run,
	.inject_irq = fake_inject_irq,
	.inject_nmi = fake_inject_nmi,
	.get_stats = fake_stats,
};

static struct vm *make_vm(enum mem_policy policy, unsigned ept_shift)
{
	struct vm_config cfg = {
		.mem_size = 64ULL << 20,
		.ept_levels = 4,
		.ept_page_shift = ept_shift,
		.policy = policy,
		.ops = &fake_ops,
		.serial_in_fd = -1,
	};
	struct vm *vm;
	char err[256];

	assert_ok(mmu_config_preset("skylake", &cfg.mmu));
	assert_int_equal(vm_create(&cfg, &vm, err, sizeof(err)), 0);
	return vm;
}

static void push(struct vm *vm, struct vcpu_exit e)
{
	(void)vm;
	assert_true(the_vcpu->n < MAX_SCRIPT);
	the_vcpu->script[the_vcpu->n++] = e;
}

static struct vcpu_exit ept_exit(uint64_t gpa, uint64_t qual)
{
	struct vcpu_exit e = { .reason = VCPU_EXIT_EPT_VIOLATION, .rip = 0x1234 };

	e.ept.gpa = gpa;
	e.ept.gva = gpa + 0x7f0000000000ULL;
	e.ept.qual = qual;
	return e;
}

static bool ept_allows(struct vm *vm, uint64_t gpa, unsigned type)
{
	struct ept_access acc = { .type = type };
	struct ept_walk_result r;

	assert_ok(ept_walk(vm->ept, gpa, &acc, NULL, &r));
	return r.status == EPT_OK;
}

/* Lazy policy: the first touch maps the frame holding the GPA (4K here),
 * counted once; the guest then stops through isa-debug-exit with status 1. */
static void test_lazy_map(void **state)
{
	struct vm *vm = make_vm(MEM_LAZY, PAGE_SHIFT_4K);
	struct hpool_stats ps;

	(void)state;
	assert_false(ept_allows(vm, 0x200123, ACC_READ));
	push(vm, ept_exit(0x200123, EPT_QUAL_READ | EPT_QUAL_GLA_VALID | EPT_QUAL_GLA_XLATE));
	assert_ok(vm_run(vm));
	assert_int_equal(vm->stop.reason, VM_STOP_DEBUG_EXIT);
	assert_int_equal(vm->stop.status, 1);
	assert_int_equal(vm->cnt.violations[VIOL_LAZY_MAP], 1);
	assert_int_equal(vm->cnt.lazy_frames, 1);
	/* the map changed through the backend's memory operations, once */
	assert_int_equal(the_mem->map, 1);
	assert_int_equal(the_mem->protect + the_mem->invalidate + the_mem->dirty_log, 0);
	assert_true(ept_allows(vm, 0x200000, ACC_WRITE));
	assert_true(ept_allows(vm, 0x200fff, ACC_FETCH));
	assert_false(ept_allows(vm, 0x201000, ACC_READ));
	hpool_get_stats(vm->pool, &ps);
	assert_int_equal(ps.guest_bytes, 4096);
	vm_destroy(vm);
}

/* With 2M EPT pages a lazy violation maps the whole 2M frame. */
static void test_lazy_map_2m(void **state)
{
	struct vm *vm = make_vm(MEM_LAZY, PAGE_SHIFT_2M);
	struct hpool_stats ps;

	(void)state;
	push(vm, ept_exit(0x3ff000, EPT_QUAL_WRITE));
	assert_ok(vm_run(vm));
	assert_true(ept_allows(vm, 0x200000, ACC_WRITE));
	assert_true(ept_allows(vm, 0x3fffff, ACC_READ));
	assert_false(ept_allows(vm, 0x400000, ACC_READ));
	hpool_get_stats(vm->pool, &ps);
	assert_int_equal(ps.guest_bytes, 2ULL << 20);
	vm_destroy(vm);
}

/* Eager: all 64M mapped at creation; a host write lands in guest RAM. */
static void test_eager(void **state)
{
	struct vm *vm = make_vm(MEM_EAGER, PAGE_SHIFT_2M);
	struct hpool_stats ps;
	uint32_t v = 0xfeedf00d, got = 0;

	(void)state;
	hpool_get_stats(vm->pool, &ps);
	assert_int_equal(ps.guest_bytes, 64ULL << 20);
	assert_true(ept_allows(vm, (64ULL << 20) - 1, ACC_WRITE));
	assert_false(ept_allows(vm, 64ULL << 20, ACC_READ));
	assert_ok(vm_write_gpa(vm, 0x123456, &v, 4));
	assert_ok(vm_read_gpa(vm, 0x123456, &got, 4));
	assert_int_equal(got, 0xfeedf00d);
	/* overflow-safe range checks: the end of RAM and the end of the space */
	assert_int_equal(vm_write_gpa(vm, (64ULL << 20) - 2, &v, 4), -EFAULT);
	assert_int_equal(vm_read_gpa(vm, UINT64_MAX - 1, &got, 4), -EFAULT);
	assert_false(vm_gpa_is_ram(vm, UINT64_MAX, 2));
	vm_destroy(vm);
}

/* A GPA that is neither RAM nor a device: a stop with status 4 and a
 * diagnostic with the GPA, GVA, RIP and the decoded qualification. */
static void test_forbidden(void **state)
{
	struct vm *vm = make_vm(MEM_EAGER, PAGE_SHIFT_4K);

	(void)state;
	push(vm, ept_exit(0xd0000000, 0x181));
	assert_ok(vm_run(vm));
	assert_int_equal(vm->stop.reason, VM_STOP_FORBIDDEN_GPA);
	assert_int_equal(vm->stop.status, VM_STATUS_GUEST);
	assert_int_equal(vm->stop.rip, 0x1234);
	assert_int_equal(vm->cnt.violations[VIOL_FORBIDDEN], 1);
	assert_non_null(strstr(vm->stop.msg, "GPA 0xd0000000"));
	assert_non_null(strstr(vm->stop.msg, "GVA 0x7f00d0000000"));
	assert_non_null(strstr(vm->stop.msg, "RIP 0x1234"));
	assert_non_null(strstr(vm->stop.msg, "exit qualification 0x181"));
	assert_non_null(strstr(vm->stop.msg, "read, not present in EPT"));
	/* the guest did not get to the debug-exit write */
	assert_int_equal(the_vcpu->next, 1);
	vm_destroy(vm);
}

/* SDM 28.2.1 decoding, the worked example of translation-facts.md: a read
 * of an execute-only page through a linear address (0x1A1 + advanced bits). */
static void test_decode_qual(void **state)
{
	char buf[200];

	(void)state;
	vm_decode_qual(0x1a1 | EPT_QUAL_GUEST_RW, buf, sizeof(buf));
	assert_string_equal(buf, "read, EPT allows X, to the linear address (guest U/S=0 R/W=1 XD=0)");
	vm_decode_qual(EPT_QUAL_WRITE | EPT_QUAL_READABLE | EPT_QUAL_GLA_VALID, buf, sizeof(buf));
	assert_string_equal(buf, "write, EPT allows R, during a guest page walk");
	vm_decode_qual(EPT_QUAL_FETCH, buf, sizeof(buf));
	assert_string_equal(buf, "fetch, not present in EPT, no linear address");
}

/* MMIO to the hv test device; port I/O to an unknown port and the UART. */
static void test_mmio_and_ports(void **state)
{
	struct vm *vm = make_vm(MEM_EAGER, PAGE_SHIFT_4K);
	struct vcpu_exit e = { .reason = VCPU_EXIT_MMIO };

	(void)state;
	e.mmio.gpa = HVTEST_BASE + HVTEST_SCRATCH;
	e.mmio.size = 8;
	e.mmio.write = true;
	e.mmio.data = 0x0123456789abcdefULL;
	push(vm, e);
	e.mmio.write = false;
	e.mmio.data = 0;
	e.mmio.size = 4;
	e.mmio.gpa = HVTEST_BASE + HVTEST_SCRATCH + 4;
	push(vm, e);
	e = (struct vcpu_exit){ .reason = VCPU_EXIT_IO };
	e.io.port = 0x80;
	e.io.size = 2;
	e.io.in = true;
	push(vm, e);
	e = (struct vcpu_exit){ .reason = VCPU_EXIT_IO };
	e.io.port = 0x3f8 + UART_LSR;
	e.io.size = 1;
	e.io.in = true;
	push(vm, e);
	e = (struct vcpu_exit){ .reason = VCPU_EXIT_IO };
	e.io.port = DEBUGEXIT_PORT;
	e.io.size = 4;
	e.io.data = 5;
	push(vm, e);
	assert_ok(vm_run(vm));
	assert_int_equal(vm->stop.reason, VM_STOP_DEBUG_EXIT);
	assert_int_equal(vm->stop.status, 11);  /* (5 << 1) | 1 */
	assert_int_equal(vm->hvtest.scratch, 0x0123456789abcdefULL);
	assert_int_equal(vm->cnt.mmio_writes, 1);
	assert_int_equal(vm->cnt.mmio_reads, 1);
	assert_int_equal(vm->cnt.violations[VIOL_MMIO], 2);
	assert_int_equal(vm->cnt.exits[VCPU_EXIT_MMIO], 2);
	assert_int_equal(vm->cnt.exits[VCPU_EXIT_IO], 3);
	assert_int_equal(vm->bus.unknown_pio_reads, 1);
	/* the UART LSR read was the last IN before the exit write */
	assert_int_equal(the_vcpu->last_io_data, UART_LSR_THRE | UART_LSR_TEMT);
	vm_destroy(vm);
}

/* The MMIO read value reaches the backend; unknown ports read all-ones. */
static void test_completion_values(void **state)
{
	struct vm *vm = make_vm(MEM_EAGER, PAGE_SHIFT_4K);
	struct vcpu_exit e = { .reason = VCPU_EXIT_MMIO };

	(void)state;
	e.mmio.gpa = HVTEST_BASE + HVTEST_ID;
	e.mmio.size = 4;
	push(vm, e);
	e = (struct vcpu_exit){ .reason = VCPU_EXIT_IO };
	e.io.port = 0x1234;
	e.io.size = 2;
	e.io.in = true;
	push(vm, e);
	e = (struct vcpu_exit){ .reason = VCPU_EXIT_HYPERCALL };
	e.hypercall.nr = 999;
	push(vm, e);
	assert_ok(vm_run(vm));
	assert_int_equal(the_vcpu->last_mmio_data, HVTEST_ID_VALUE);
	assert_int_equal(the_vcpu->last_io_data, 0xffff);
	assert_int_equal(the_vcpu->last_hc_ret, HC_ENOSYS);
	assert_int_equal(vm->cnt.hypercalls_unknown, 1);
	vm_destroy(vm);
}

/*
 * Dirty tracking started by hypercall 1: RAM loses W (and the EPT D flags
 * are cleared); a write violation logs the page and gives W back to that
 * 4 KiB page only; the D-flag harvest then finds the same page.
 */
static void test_dirty_tracking(void **state)
{
	struct vm *vm = make_vm(MEM_EAGER, PAGE_SHIFT_2M);
	struct vcpu_exit e = { .reason = VCPU_EXIT_HYPERCALL };
	struct ept_access wr = { .type = ACC_WRITE };
	struct ept_walk_result r;

	(void)state;
	/* eager: 64 MiB in 2 MiB pages, one map operation each */
	assert_int_equal(the_mem->map, 32);
	/* a write before tracking: its D flag must not count */
	assert_ok(ept_walk(vm->ept, 0x500000, &wr, NULL, &r));
	e.hypercall.nr = HC_DIRTY_TRACK_START;
	push(vm, e);
	push(vm, ept_exit(0x300008, EPT_QUAL_WRITE | EPT_QUAL_READABLE | EPT_QUAL_EXECUTABLE));
	assert_ok(vm_run(vm));
	assert_int_equal(the_vcpu->last_hc_ret, 0);
	assert_true(vm->dirty.active);
	assert_string_equal(vm->dirty.started_by, "hypercall");
	assert_int_equal(vm->dirty.started_at, 1);
	assert_int_equal(vm->cnt.violations[VIOL_DIRTY_LOG], 1);
	assert_int_equal(vm->dirty.wp.count, 1);
	assert_true(ept_allows(vm, 0x300000, ACC_WRITE));
	assert_false(ept_allows(vm, 0x301000, ACC_WRITE));
	assert_false(ept_allows(vm, 0x2ff000, ACC_WRITE));
	assert_true(ept_allows(vm, 0x301000, ACC_READ));
	/* INVEPT once, at the start point */
	assert_int_equal(vm->cnt.invept, 1);
	/* through the memory operations: the start point empties the log and
	 * write-protects the one RAM region; the violation unprotects a page */
	assert_int_equal(the_mem->invalidate, 1);
	assert_int_equal(the_mem->dirty_log, 1);
	assert_int_equal(the_mem->protect, 2);
	/* the hardware's retry of the write sets D on the 4K leaf */
	assert_ok(ept_walk(vm->ept, 0x300008, &wr, NULL, &r));
	assert_int_equal(r.status, EPT_OK);
	assert_ok(vm_dirty_harvest(vm));
	assert_int_equal(the_mem->dirty_log, 2);
	assert_int_equal(vm->dirty.ad.count, 1);
	assert_true(vm_dirty_agree(vm));
	vm_destroy(vm);
}

/* io_exit(port, size, in, data): a port access as a backend reports it. */
static struct vcpu_exit io_exit(uint16_t port, uint8_t size, bool in, uint32_t data)
{
	struct vcpu_exit e = { .reason = VCPU_EXIT_IO };

	e.io.port = port;
	e.io.size = size;
	e.io.in = in;
	e.io.data = data;
	return e;
}

/*
 * The hypercall port (hv/vm.h), the doorbell every backend passes to hv: a
 * 32-bit OUT of the number makes the call, a 32-bit IN reads its result. An
 * unknown number reads -ENOSYS's low 32 bits; other sizes are ordinary
 * (unclaimed) port accesses.
 */
static void test_hypercall_port(void **state)
{
	struct vm *vm = make_vm(MEM_EAGER, PAGE_SHIFT_4K);

	(void)state;
	push(vm, io_exit(HC_PORT, 4, false, 999));
	push(vm, io_exit(HC_PORT, 4, true, 0));
	push(vm, io_exit(HC_PORT, 4, false, HC_DIRTY_TRACK_START));
	push(vm, io_exit(HC_PORT, 4, true, 0xdead));
	push(vm, io_exit(HC_PORT, 2, true, 0));
	assert_ok(vm_run(vm));
	/* seen[k + 1] holds exit k as hv completed it */
	assert_int_equal(the_vcpu->seen[2].io.data, (uint32_t)HC_ENOSYS);
	assert_int_equal(the_vcpu->seen[4].io.data, 0);
	assert_int_equal(the_vcpu->seen[5].io.data, 0xffff);
	assert_int_equal(vm->cnt.hypercalls, 2);
	assert_int_equal(vm->cnt.hypercalls_unknown, 1);
	assert_true(vm->dirty.active);
	assert_string_equal(vm->dirty.started_by, "hypercall");
	assert_int_equal(vm->cnt.exits[VCPU_EXIT_HYPERCALL], 0);
	assert_int_equal(vm->cnt.exits[VCPU_EXIT_IO], 6);  /* five, then the debug exit */
	assert_int_equal(vm->bus.unknown_pio_reads, 1);
	vm_destroy(vm);
}

/* --dirty-track-after and --max-insns land on the exact instruction. */
static void test_insn_points(void **state)
{
	struct vm_config cfg = {
		.mem_size = 64ULL << 20, .ept_levels = 4, .ept_page_shift = PAGE_SHIFT_4K,
		.policy = MEM_EAGER, .ops = &fake_ops, .serial_in_fd = -1,
		.dirty_track_after = 1000, .max_insns = 5000,
	};
	struct vcpu_exit lim = { .reason = VCPU_EXIT_INSN_LIMIT };
	struct vm *vm;
	char err[200];

	(void)state;
	assert_ok(mmu_config_preset("none", &cfg.mmu));
	assert_ok(vm_create(&cfg, &vm, err, sizeof(err)));
	for (int i = 0; i < 4; i++)
		push(vm, lim);
	assert_ok(vm_run(vm));
	assert_int_equal(vm->stop.reason, VM_STOP_INSN_LIMIT);
	assert_int_equal(vm->stop.status, VM_STATUS_LIMIT);
	assert_int_equal(vm->insns, 5000);
	assert_int_equal(vm->dirty.started_at, 1000);
	assert_string_equal(vm->dirty.started_by, "option");
	vm_destroy(vm);
}

static void test_triple_fault(void **state)
{
	struct vm *vm = make_vm(MEM_EAGER, PAGE_SHIFT_4K);
	struct vcpu_exit e = { .reason = VCPU_EXIT_TRIPLE_FAULT, .rip = 0x100091 };

	(void)state;
	snprintf(e.fail.msg, sizeof(e.fail.msg), "triple fault: #GP while delivering #DF after #UD");
	push(vm, e);
	assert_ok(vm_run(vm));
	assert_int_equal(vm->stop.reason, VM_STOP_TRIPLE_FAULT);
	assert_int_equal(vm->stop.status, VM_STATUS_GUEST);
	assert_string_equal(vm->stop.msg,
			    "triple fault at RIP 0x100091: #GP while delivering #DF after #UD");
	vm_destroy(vm);
}

/* ------------------------------------------------------------------------ */
/* Interrupt delivery from the local APIC (hv/vm_exit.c, struct vcpu_exit irq) */
/* ------------------------------------------------------------------------ */

/* A 4-byte write to the xAPIC register at `off`; `ready`: the vCPU could
 * take an interrupt right after it; `tsc`: its TSC then. */
static struct vcpu_exit apic_write(unsigned off, uint32_t val, bool ready, uint64_t tsc)
{
	struct vcpu_exit e = { .reason = VCPU_EXIT_MMIO, .rip = 0x1000 };

	e.mmio.gpa = APIC_DEFAULT_BASE + off;
	e.mmio.size = 4;
	e.mmio.write = true;
	e.mmio.data = val;
	e.irq.ready = ready;
	e.irq.tsc = tsc;
	return e;
}

static struct vcpu_exit msr_exit(uint32_t msr, bool write, uint64_t val)
{
	struct vcpu_exit e = { .reason = VCPU_EXIT_MSR, .rip = 0x1000 };

	e.msr.index = msr;
	e.msr.write = write;
	e.msr.data = write ? val : 0;
	e.irq.ready = true;
	return e;
}

/*
 * Two self-IPIs while the vCPU cannot take them: hv asks for the interrupt
 * window instead of injecting; when it opens, the higher vector (0x61) goes
 * first and moves to ISR; 0x41 waits below the processor priority until the
 * EOI, then goes before the next run.
 */
static void test_irq_window_and_priority(void **state)
{
	struct vm *vm = make_vm(MEM_EAGER, PAGE_SHIFT_4K);
	struct scripted_vcpu *v;
	struct vcpu_exit win = { .reason = VCPU_EXIT_IRQ_WINDOW, .rip = 0x1000 };

	(void)state;
	push(vm, apic_write(APIC_SVR, 0x1ff, false, 10));
	push(vm, apic_write(APIC_ICR, 0x40041, false, 20));  /* self, fixed, vector 0x41 */
	push(vm, apic_write(APIC_ICR, 0x40061, false, 30));  /* self, fixed, vector 0x61 */
	win.irq.ready = true;
	push(vm, win);
	push(vm, apic_write(APIC_EOI, 0, true, 50));
	assert_ok(vm_run(vm));
	v = the_vcpu;
	assert_int_equal(vm->stop.reason, VM_STOP_DEBUG_EXIT);
	assert_false(v->seen[1].irq.window);   /* nothing pending yet */
	assert_true(v->seen[2].irq.window);    /* 0x41 pending, vCPU not ready */
	assert_true(v->seen[3].irq.window);
	assert_false(v->seen[4].irq.window);   /* 0x61 injected, 0x41 below PPR */
	assert_false(v->seen[5].irq.window);
	assert_int_equal(v->ninjected, 2);
	assert_int_equal(v->injected[0], 0x61);
	assert_int_equal(v->injected_before[0], 4);
	assert_int_equal(v->injected[1], 0x41);
	assert_int_equal(v->injected_before[1], 5);
	assert_int_equal(vm->lapic.isr[0x41 / 32], 1u << (0x41 % 32));
	assert_int_equal(vm->lapic.isr[0x61 / 32], 0);
	assert_int_equal(vm->lapic.irr[0x41 / 32] | vm->lapic.irr[0x61 / 32], 0);
	assert_int_equal(vm->cnt.irqs_injected, 2);
	assert_int_equal(vm->cnt.exits[VCPU_EXIT_IRQ_WINDOW], 1);
	vm_destroy(vm);
}

/*
 * The one-shot timer armed at TSC 100 for 1000 ticks (divide by 1) ends the
 * next run slice at its expiry (budget 1000); a HLT with interrupts enabled
 * at TSC 150 skips the 950 ticks left (the vCPU's TSC moves on by them) and
 * the timer's vector 0x30 is injected; a HLT with interrupts disabled then
 * stops the VM.
 */
static void test_hlt_timer_wakeup(void **state)
{
	struct vm *vm = make_vm(MEM_EAGER, PAGE_SHIFT_4K);
	struct vcpu_exit hlt = { .reason = VCPU_EXIT_HLT, .rip = 0x1000 };
	struct scripted_vcpu *v;

	(void)state;
	push(vm, apic_write(APIC_SVR, 0x1ff, false, 10));
	push(vm, apic_write(APIC_TDCR, 0xb, false, 20));
	push(vm, apic_write(APIC_LVTT, 0x30, false, 30));
	push(vm, apic_write(APIC_TMICT, 1000, false, 100));
	hlt.irq.ready = true;
	hlt.irq.tsc = 150;
	push(vm, hlt);
	hlt.irq.ready = false;
	hlt.irq.tsc = 1101;
	push(vm, hlt);
	assert_ok(vm_run(vm));
	v = the_vcpu;
	assert_int_equal(vm->stop.reason, VM_STOP_HLT);
	assert_non_null(strstr(vm->stop.msg, "nothing can wake it: interrupts disabled (RFLAGS.IF=0)"));
	assert_int_equal(v->budget[4], 1000);
	assert_int_equal(v->seen[4].irq.idle, 0);
	assert_int_equal(v->seen[5].irq.idle, 950);
	assert_int_equal(v->ninjected, 1);
	assert_int_equal(v->injected[0], 0x30);
	assert_int_equal(v->injected_before[0], 5);
	assert_int_equal(vm->cnt.hlt_wakeups, 1);
	assert_int_equal(vm->cnt.idle_ticks, 950);
	assert_int_equal(vm->lapic.timer_irqs, 1);
	vm_destroy(vm);
}

/*
 * The local APIC's MSRs reach the model: IA32_APIC_BASE into x2APIC mode,
 * the version register read, a read of the write-only EOI register answered
 * with #GP; MOV to CR8 sets TPR[7:4], and a TPR written through its MSR
 * reaches the vCPU's CR8 at the next run().
 */
static void test_msr_and_tpr(void **state)
{
	struct vm *vm = make_vm(MEM_EAGER, PAGE_SHIFT_4K);
	struct vcpu_exit tpr = { .reason = VCPU_EXIT_SET_TPR, .rip = 0x1000 };
	struct scripted_vcpu *v;

	(void)state;
	push(vm, msr_exit(MSR_IA32_APIC_BASE, true, 0xfee00d00));
	push(vm, msr_exit(0x803, false, 0));
	push(vm, msr_exit(0x80b, false, 0));
	push(vm, msr_exit(MSR_IA32_APIC_BASE, false, 0));
	tpr.irq.cr8 = 5;
	push(vm, tpr);
	push(vm, msr_exit(0x808, true, 0x70));
	assert_ok(vm_run(vm));
	v = the_vcpu;
	assert_false(v->seen[1].msr.fault);
	assert_true(lapic_x2apic_mode(&vm->lapic));
	assert_false(v->seen[2].msr.fault);
	assert_int_equal(v->seen[2].msr.data, APIC_VERSION_VALUE);
	assert_true(v->seen[3].msr.fault);
	assert_int_equal(v->seen[4].msr.data, 0xfee00d00);
	assert_int_equal(v->seen[5].irq.cr8, 5);
	assert_int_equal(vm->lapic.tpr, 0x70);
	assert_int_equal(v->seen[6].irq.cr8, 7);
	assert_int_equal(vm->cnt.exits[VCPU_EXIT_MSR], 5);
	assert_int_equal(vm->cnt.exits[VCPU_EXIT_SET_TPR], 1);
	vm_destroy(vm);
}

/*
 * A self-NMI through ICR is handed to the vCPU before the next run whether or
 * not it could take an interrupt (the vCPU holds it while NMIs are blocked),
 * and never through the interrupt path.
 */
static void test_nmi_injection(void **state)
{
	struct vm *vm = make_vm(MEM_EAGER, PAGE_SHIFT_4K);
	struct scripted_vcpu *v;

	(void)state;
	push(vm, apic_write(APIC_SVR, 0x1ff, false, 10));
	push(vm, apic_write(APIC_ICR, 0x40400, false, 20));  /* self, NMI */
	push(vm, apic_write(APIC_ICR, 0x40400, false, 30));
	push(vm, apic_write(APIC_ICR, 0x40400, false, 40));
	assert_ok(vm_run(vm));
	v = the_vcpu;
	assert_int_equal(v->nnmi, 3);
	assert_int_equal(v->nmi_before[0], 2);
	assert_int_equal(v->nmi_before[1], 3);
	assert_int_equal(v->nmi_before[2], 4);
	assert_int_equal(v->ninjected, 0);
	assert_false(v->seen[2].irq.window);
	assert_int_equal(vm->lapic.nmi, 3);
	assert_false(vm->lapic.nmi_pending);
	assert_int_equal(vm->cnt.nmis_injected, 3);
	vm_destroy(vm);
}

static struct vcpu_exit port_out(uint16_t port, uint32_t val, bool ready)
{
	struct vcpu_exit e = { .reason = VCPU_EXIT_IO, .rip = 0x1000 };

	e.io.port = port;
	e.io.size = 1;
	e.io.data = val;
	e.irq.ready = ready;
	return e;
}

/*
 * The 8259 path: after the master's initialisation (vector base 0x20), with
 * LINT0 in ExtINT mode as hv starts it, pc-testdev's IRQ line 1 raises INTR; the vCPU
 * cannot take it yet, so hv asks for the window, and then injects the
 * PIC's vector 0x21 (the INTA sets the master's ISR bit 1).
 */
static void test_pic_extint(void **state)
{
	struct vm *vm = make_vm(MEM_EAGER, PAGE_SHIFT_4K);
	struct vcpu_exit win = { .reason = VCPU_EXIT_IRQ_WINDOW, .rip = 0x1000 };
	struct scripted_vcpu *v;

	(void)state;
	assert_int_equal(vm->lapic.lvt[3], 0x700);  /* LINT0 ExtINT from the start */
	push(vm, apic_write(APIC_SVR, 0x1ff, false, 10));
	push(vm, port_out(0x20, 0x11, false));
	push(vm, port_out(0x21, 0x20, false));
	push(vm, port_out(0x21, 0x04, false));
	push(vm, port_out(0x21, 0x01, false));
	push(vm, port_out(0x2001, 1, false));   /* pc-testdev: IRQ 1 high */
	win.irq.ready = true;
	push(vm, win);
	assert_ok(vm_run(vm));
	v = the_vcpu;
	assert_false(v->seen[5].irq.window);
	assert_true(v->seen[6].irq.window);
	assert_int_equal(v->ninjected, 1);
	assert_int_equal(v->injected[0], 0x21);
	assert_int_equal(v->injected_before[0], 7);
	assert_int_equal(vm->pic.pic[0].isr, 0x02);
	vm_destroy(vm);
}

/*
 * The 8254's counter 0 in mode 2 with 1193, loaded at TSC 1000 (PIT tick 1).
 * The control word raises OUT from its reset level: one IRQ 0 edge at once,
 * taken at the first HLT (vector 0x20 from the 8259, no idle time). After
 * the EOI, the run slice ends at the next edge, tick 1194 = TSC 1000686, and
 * a HLT with interrupts enabled at TSC 3000 skips to it.
 */
static void test_pit_irq0_wakeup(void **state)
{
	struct vm *vm = make_vm(MEM_EAGER, PAGE_SHIFT_4K);
	static const uint8_t init[][2] = {
		{ 0x20, 0x11 }, { 0x21, 0x20 }, { 0x21, 0x04 }, { 0x21, 0x01 },
		{ 0x43, 0x34 }, { 0x40, 0xa9 }, { 0x40, 0x04 },
	};
	struct vcpu_exit hlt = { .reason = VCPU_EXIT_HLT, .rip = 0x1000 }, eoi = port_out(0x20, 0x20, true);
	struct scripted_vcpu *v;

	(void)state;
	push(vm, apic_write(APIC_SVR, 0x1ff, false, 10));
	for (unsigned i = 0; i < sizeof(init) / sizeof(init[0]); i++) {
		struct vcpu_exit e = port_out(init[i][0], init[i][1], false);

		e.irq.tsc = 1000;
		push(vm, e);
	}
	hlt.irq.ready = true;
	hlt.irq.tsc = 2000;
	push(vm, hlt);
	eoi.irq.tsc = 2500;
	push(vm, eoi);
	hlt.irq.tsc = 3000;
	push(vm, hlt);
	hlt.irq.ready = false;
	hlt.irq.tsc = 1000700;
	push(vm, hlt);
	fake_rflags = 0x202;   /* IF set, and still not ready: a shadow or an event in flight */
	assert_ok(vm_run(vm));
	fake_rflags = 0x2;
	v = the_vcpu;
	assert_int_equal(vm->stop.reason, VM_STOP_HLT);
	assert_non_null(strstr(vm->stop.msg, "RFLAGS.IF=1 but the vCPU could not take an interrupt"));
	assert_int_equal(v->seen[9].irq.idle, 0);
	assert_int_equal(v->budget[10], 1000686 - 2500);
	assert_int_equal(v->seen[11].irq.idle, 1000686 - 3000);
	assert_int_equal(v->ninjected, 2);
	assert_int_equal(v->injected[0], 0x20);
	assert_int_equal(v->injected_before[0], 9);
	assert_int_equal(v->injected[1], 0x20);
	assert_int_equal(v->injected_before[1], 11);
	assert_int_equal(vm->cnt.hlt_wakeups, 1);
	assert_int_equal(vm->pit.irq_edges, 2);
	assert_int_equal(vm->pic.pic[0].isr, 0x01);
	vm_destroy(vm);
}

/* ------------------------------------------------------------------------ */
/* ACPI sleep states (hv/vm_sleep.c)                                        */
/* ------------------------------------------------------------------------ */

static struct vcpu_exit io_at(uint16_t port, uint8_t size, bool in, uint32_t data, uint64_t tsc)
{
	struct vcpu_exit e = io_exit(port, size, in, data);

	e.rip = 0x2000;
	e.irq.tsc = tsc;
	return e;
}

/* The ACPI tables in guest RAM (vm_load puts them there), with the FACS's
 * two waking vectors set as an OS would. */
static void put_facs(struct vm *vm, uint32_t vector, uint64_t x_vector)
{
	uint8_t t[ACPI_AREA_SIZE];

	acpi_build(t, ACPI_BASE);
	memcpy(t + ACPI_OFF_FACS + ACPI_FACS_WAKING_VECTOR, &vector, 4);
	memcpy(t + ACPI_OFF_FACS + ACPI_FACS_X_WAKING_VECTOR, &x_vector, 8);
	assert_ok(vm_write_gpa(vm, ACPI_BASE, t, sizeof(t)));
}

/* RTC register `reg` = `val` through ports 0x70/0x71, at TSC `tsc`. */
static void rtc_set(struct vm *vm, uint8_t reg, uint8_t val, uint64_t tsc)
{
	push(vm, io_at(0x70, 1, false, reg, tsc));
	push(vm, io_at(0x71, 1, false, val, tsc));
}

/*
 * S3 as s3.flat of kvm-unit-tests does it: RTC_EN in PM1a_EN, an alarm for
 * every second (the three alarm registers "don't care") with AIE, then
 * SLP_TYP 1 | SLP_EN at TSC 400,000,000. The machine sleeps to the next
 * second's update, TSC 1,000,000,000 exactly (the RTC's chain starts at TSC
 * 0), and resumes at the FACS waking vector 0x12345 in real mode: CS 0x1234
 * (base 0x12340), IP 5, data segments 0, CR0 = ET, interrupts off. The vCPU
 * was reset once, before the run that follows the sleep, whose TSC moves
 * on by the 600,000,000 ticks asleep. PM1a_STS reads WAK_STS | RTC_STS,
 * PM1a_EN is kept, CMOS RAM (0x40) and the RTC's AF/IRQF are kept, the
 * 8254 is back at power-up (counter 0's control 0x30), the local APIC too
 * (TPR 0) with LINT0 in ExtINT mode as firmware leaves it.
 */
static void test_s3_sleep_and_resume(void **state)
{
	struct vm *vm = make_vm(MEM_EAGER, PAGE_SHIFT_4K);
	struct scripted_vcpu *v;
	const uint64_t t0 = 400000000, wake = 1000000000;

	(void)state;
	put_facs(vm, 0x12345, 0);
	push(vm, io_at(ACPI_PM1A_EVT + 2, 2, false, ACPI_PM1_RTC_EN, t0));
	push(vm, io_at(0x43, 1, false, 0x34, t0));        /* 8254 counter 0: mode 2 */
	push(vm, apic_write(APIC_TPR, 0x50, false, t0));
	rtc_set(vm, 0x40, 0x5a, t0);                      /* a CMOS RAM byte */
	rtc_set(vm, RTC_SEC_ALARM, 0xc0, t0);
	rtc_set(vm, RTC_MIN_ALARM, 0xc0, t0);
	rtc_set(vm, RTC_HOUR_ALARM, 0xc0, t0);
	rtc_set(vm, RTC_REG_B, RTC_B_24H | RTC_B_AIE, t0);
	push(vm, io_at(ACPI_PM1A_CNT, 2, false, 0x2400, t0));   /* run 13 */
	push(vm, io_at(ACPI_PM1A_EVT, 2, true, 0, wake + 10));  /* run 14 */
	push(vm, io_at(ACPI_PM1A_EVT + 2, 2, true, 0, wake + 20));
	push(vm, io_at(0x70, 1, false, 0x40, wake + 30));
	push(vm, io_at(0x71, 1, true, 0, wake + 40));
	assert_ok(vm_run(vm));
	v = the_vcpu;
	assert_int_equal(vm->stop.reason, VM_STOP_DEBUG_EXIT);
	assert_int_equal(v->resets, 1);
	assert_int_equal(v->reset_before, 14);
	assert_int_equal(v->seen[13].irq.idle, 0);
	assert_int_equal(v->seen[14].irq.idle, wake - t0);
	assert_int_equal(v->sregs.cs.selector, 0x1234);
	assert_int_equal(v->sregs.cs.base, 0x12340);
	assert_int_equal(v->sregs.cs.limit, 0xffff);
	assert_int_equal(v->sregs.cs.db, 0);
	assert_int_equal(v->sregs.ds.selector, 0);
	assert_int_equal(v->sregs.ss.base, 0);
	assert_int_equal(v->sregs.cr0, 0x10);
	assert_int_equal(v->sregs.efer, 0);
	assert_int_equal(v->sregs.idt.limit, 0x3ff);
	assert_int_equal(v->sregs.apic_base, 0xfee00900);
	assert_int_equal(v->regs.rip, 5);
	assert_int_equal(v->regs.rflags, 2);
	assert_int_equal(v->regs.gpr[4], 0);
	/* What the guest read after waking: PM1a_STS, PM1a_EN, CMOS 0x40
	 * (each IN's value reaches the backend with the next run). */
	assert_int_equal(v->seen[15].io.data, ACPI_PM1_WAK_STS | ACPI_PM1_RTC_STS);
	assert_int_equal(v->seen[16].io.data, ACPI_PM1_RTC_EN);
	assert_int_equal(v->last_io_data, 0x5a);
	/* The second's update matched the alarm: AF with AIE raised IRQF. */
	assert_int_equal(rtc_peek(&vm->rtc, RTC_REG_C),
			 RTC_C_IRQF | RTC_C_PF | RTC_C_AF | RTC_C_UF);
	assert_int_equal(vm->pit.ch[0].ctrl, 0x30);
	assert_int_equal(vm->lapic.tpr, 0);
	assert_int_equal(vm->lapic.lvt[3], APIC_DM_EXTINT << APIC_LVT_DM_SHIFT);
	assert_int_equal(vm->sleep.count, 1);
	assert_int_equal(vm->sleep.ticks, wake - t0);
	assert_int_equal(vm->sleep.last_enter_tsc, t0);
	assert_int_equal(vm->sleep.last_wake_tsc, wake);
	assert_int_equal(vm->sleep.last_vector, 0x12345);
	assert_false(vm->sleep.last_protected);
	vm_destroy(vm);
}

/* X_Firmware_Waking_Vector, when not 0, wins: 32-bit protected mode, flat
 * 4 GiB segments, paging off, EIP = the vector. */
static void test_s3_protected_mode_vector(void **state)
{
	struct vm *vm = make_vm(MEM_EAGER, PAGE_SHIFT_4K);
	struct scripted_vcpu *v;

	(void)state;
	put_facs(vm, 0x1000, 0x00345678);
	push(vm, io_at(ACPI_PM1A_EVT + 2, 2, false, ACPI_PM1_RTC_EN, 5));
	rtc_set(vm, RTC_REG_B, RTC_B_24H | RTC_B_UIE, 5);    /* the next update wakes it */
	push(vm, io_at(ACPI_PM1A_CNT + 1, 1, false, 0x24, 5));   /* one byte: SLP_EN | SLP_TYP 1 */
	assert_ok(vm_run(vm));
	v = the_vcpu;
	assert_int_equal(vm->stop.reason, VM_STOP_DEBUG_EXIT);
	assert_int_equal(v->resets, 1);
	assert_int_equal(v->seen[4].irq.idle, 1000000000 - 5);
	assert_int_equal(v->sregs.cs.base, 0);
	assert_int_equal(v->sregs.cs.limit, 0xffffffff);
	assert_int_equal(v->sregs.cs.db, 1);
	assert_int_equal(v->sregs.ds.limit, 0xffffffff);
	assert_int_equal(v->sregs.cr0, 0x11);
	assert_int_equal(v->regs.rip, 0x00345678);
	assert_true(vm->sleep.last_protected);
	vm_destroy(vm);
}

/*
 * The ways out without a resume: S3 with RTC_EN clear, S3 with the RTC's
 * interrupts all disabled, S3 with both waking vectors 0 (the guest's
 * fault: status 4), S5 (power off: status 0). The vCPU is never reset.
 */
static void test_s3_no_wake_and_s5(void **state)
{
	static const struct {
		uint16_t en;
		uint8_t b;
		uint32_t vector;
		uint16_t cnt;
		enum vm_stop_reason reason;
		int status;
		const char *msg;
	} c[] = {
		{ 0, RTC_B_AIE, 0x1000, 0x2400, VM_STOP_SLEEP, 0, "PM1a_EN.RTC_EN is clear" },
		{ ACPI_PM1_RTC_EN, 0, 0x1000, 0x2400, VM_STOP_SLEEP, 0, "RTC will raise no interrupt" },
		{ ACPI_PM1_RTC_EN, RTC_B_AIE, 0, 0x2400, VM_STOP_SLEEP, 4, "both are 0x0" },
		{ ACPI_PM1_RTC_EN, RTC_B_AIE, 0x100000, 0x2400, VM_STOP_SLEEP, 4, "above the real-mode" },
		{ 0, 0, 0, 0x2000, VM_STOP_POWEROFF, 0, "ACPI S5" },
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct vm *vm = make_vm(MEM_EAGER, PAGE_SHIFT_4K);

		put_facs(vm, c[i].vector, 0);
		push(vm, io_at(ACPI_PM1A_EVT + 2, 2, false, c[i].en, 7));
		rtc_set(vm, RTC_REG_B, (uint8_t)(RTC_B_24H | c[i].b), 7);
		push(vm, io_at(ACPI_PM1A_CNT, 2, false, c[i].cnt, 7));
		assert_ok(vm_run(vm));
		assert_int_equal(vm->stop.reason, c[i].reason);
		assert_int_equal(vm->stop.status, c[i].status);
		assert_non_null(strstr(vm->stop.msg, c[i].msg));
		assert_int_equal(the_vcpu->resets, 0);
		assert_int_equal(vm->sleep.count, 0);
		assert_int_equal(vm->cnt.exits[VCPU_EXIT_IO], 4);
		vm_destroy(vm);
	}
}

/* A VM with one ROM of `len` bytes of 0xa5 (the rest of its last page is
 * hv's 0xff) at gpa, or VM_ROM_AT_TOP. */
static uint8_t rom_bytes[5000];

static struct vm *make_rom_vm(uint64_t gpa, uint64_t len)
{
	struct vm_config cfg = {
		.mem_size = 64ULL << 20, .ept_levels = 4, .ept_page_shift = PAGE_SHIFT_4K,
		.policy = MEM_EAGER, .ops = &fake_ops, .serial_in_fd = -1,
		.rom = { { .name = "t.rom", .data = rom_bytes, .len = len, .gpa = gpa } },
		.nrom = 1,
	};
	struct vm *vm;
	char err[256];

	memset(rom_bytes, 0xa5, sizeof(rom_bytes));
	assert_ok(mmu_config_preset("skylake", &cfg.mmu));
	assert_int_equal(vm_create(&cfg, &vm, err, sizeof(err)), 0);
	return vm;
}

static struct vcpu_exit mmio_exit(uint64_t gpa, uint8_t size, bool write, uint64_t data)
{
	struct vcpu_exit e = { .reason = VCPU_EXIT_MMIO, .rip = 0x2000 };

	e.mmio.gpa = gpa;
	e.mmio.size = size;
	e.mmio.write = write;
	e.mmio.data = data;
	return e;
}

/*
 * ROM: mapped R+X and not W at the top of 4 GiB, reserved in the guest's
 * memory map. A write, as the software vCPU reports it (an EPT violation
 * with qualification 0x1aa, then the MMIO write that completes the
 * instruction) and as KVM reports it (the MMIO write alone), is dropped and
 * counted once each, with one violation each; the ROM's entry among the
 * device windows is armed between the two exits only. An MMIO read of ROM
 * gets its bytes.
 */
static void test_rom_writes(void **state)
{
	const uint64_t rom = 0xffffe000;
	struct vm *vm = make_rom_vm(VM_ROM_AT_TOP, 5000);
	const struct vm_rom *r;
	bool reserved = false;

	(void)state;
	assert_int_equal(vm->nrom, 1);
	r = vm_rom_at(vm, rom + 0x1fff);
	assert_non_null(r);
	assert_int_equal(r->gpa, rom);
	assert_int_equal(r->size, 8192);
	assert_null(vm_rom_at(vm, rom - 1));
	assert_true(ept_allows(vm, rom, ACC_READ));
	assert_true(ept_allows(vm, rom + 0x1fff, ACC_FETCH));
	assert_false(ept_allows(vm, rom, ACC_WRITE));
	for (unsigned i = 0; i < vm->nmap; i++)
		if (vm->map[i].gpa == rom && vm->map[i].size == 8192 && vm->map[i].type == E820_RESERVED)
			reserved = true;
	assert_true(reserved);
	assert_int_equal(vm->mmio[r->arm].size, 0);

	push(vm, ept_exit(rom + 8, 0x1aa));                       /* soft: the violation */
	push(vm, mmio_exit(rom + 8, 4, true, 0xdeadbeef));        /* ... and its completion */
	push(vm, mmio_exit(rom + 0x1000, 2, true, 0x1234));       /* KVM: the write alone */
	push(vm, mmio_exit(rom + 4996, 8, false, 0));             /* a read across the padding */
	assert_ok(vm_run(vm));
	assert_int_equal(vm->stop.reason, VM_STOP_DEBUG_EXIT);
	assert_int_equal(vm->cnt.rom_writes, 2);
	assert_int_equal(vm->rom[0].writes, 2);
	assert_int_equal(vm->cnt.violations[VIOL_ROM], 2);
	assert_int_equal(vm->cnt.violations[VIOL_MMIO], 0);
	assert_int_equal(vm->cnt.mmio_writes, 0);
	assert_int_equal(vm->mmio[r->arm].size, 0);
	assert_int_equal(the_vcpu->last_mmio_data, 0xffffffffa5a5a5a5ULL);
	/* Armed after the violation, disarmed after the write completed it. */
	assert_int_equal(the_vcpu->seen[1].reason, VCPU_EXIT_EPT_VIOLATION);
	assert_true(vm->rom_first.seen && vm->rom_first.qual_known);
	assert_int_equal(vm->rom_first.qual, 0x1aa);
	assert_int_equal(vm->rom_first.gpa, rom + 8);
	assert_int_equal(vm->rom_first.size, 4);
	assert_int_equal(vm->rom_first.value, 0xdeadbeef);
	assert_int_equal(vm->rom_first.rip, 0x1234);   /* the violation's: the instruction's */
	vm_destroy(vm);
}


/*
 * The SCI through the I/O APIC: pin 9 programmed level-triggered, active
 * high, vector 0x49 (as the MADT's override for IRQ 9 says), the 8259s
 * masked, PM1a_EN.TMR_EN set. A HLT at TSC 3000 skips to the PM timer's tick 2^23, TSC 2343484438,
 * where TMR_STS raises IRQ 9 and 0x49 is injected. The guest clears TMR_STS
 * (the line falls) and EOIs: nothing is sent again. The next HLT skips to
 * tick 2^24, TSC 4686968875, and 0x49 comes a second time; with the status
 * left set nothing else can wake the last HLT.
 */
static void test_sci_ioapic(void **state)
{
	struct vm *vm = make_vm(MEM_EAGER, PAGE_SHIFT_4K);
	struct vcpu_exit hlt = { .reason = VCPU_EXIT_HLT, .rip = 0x1000 };
	const uint64_t t1 = 2343484438ULL, t2 = 4686968875ULL;
	struct vcpu_exit e;
	struct scripted_vcpu *v;

	(void)state;
	push(vm, apic_write(APIC_SVR, 0x1ff, false, 10));
	push(vm, port_out(0x21, 0xff, false));    /* both 8259s masked, as an OS using */
	push(vm, port_out(0xa1, 0xff, false));    /* the I/O APIC leaves them */
	push(vm, mmio_exit(IOAPIC_BASE, 4, true, 0x10 + 2 * ACPI_SCI_IRQ));     /* IOREGSEL */
	push(vm, mmio_exit(IOAPIC_BASE + 0x10, 4, true, 0x8049));               /* level, 0x49 */
	push(vm, io_at(ACPI_PM1A_EVT + 2, 2, false, ACPI_PM1_TMR_EN, 100));
	hlt.irq.ready = true;
	hlt.irq.tsc = 3000;
	push(vm, hlt);
	e = io_at(ACPI_PM1A_EVT, 2, false, ACPI_PM1_TMR_STS, t1 + 100);
	push(vm, e);
	push(vm, apic_write(APIC_EOI, 0, true, t1 + 200));
	hlt.irq.tsc = t1 + 300;
	push(vm, hlt);
	hlt.irq.ready = false;
	hlt.irq.tsc = t2 + 100;
	push(vm, hlt);
	assert_ok(vm_run(vm));
	v = the_vcpu;
	assert_int_equal(vm->stop.reason, VM_STOP_HLT);
	assert_int_equal(v->ninjected, 2);
	assert_int_equal(v->injected[0], 0x49);
	assert_int_equal(v->injected_before[0], 7);
	assert_int_equal(v->seen[7].irq.idle, t1 - 3000);
	assert_int_equal(v->injected[1], 0x49);
	assert_int_equal(v->injected_before[1], 10);
	assert_int_equal(v->seen[10].irq.idle, t2 - (t1 + 300));
	assert_int_equal(vm->acpi_pm.sci_edges, 2);
	assert_int_equal(vm->acpi_pm.sts, ACPI_PM1_TMR_STS);
	assert_int_equal(vm->cnt.hlt_wakeups, 2);
	vm_destroy(vm);
}

/* What cannot be dropped: the guest's page walk writing A/D into ROM (a
 * guest error, status 4), and a write that comes back as a violation after
 * the range was armed (the backend did not complete it: hv's error). */
static void test_rom_faults(void **state)
{
	const uint64_t rom = 0xfe000000;
	struct vm *vm = make_rom_vm(rom, 100);

	(void)state;
	/* write, R+X, linear address valid but a paging-structure access */
	push(vm, ept_exit(rom, 0xaa));
	assert_ok(vm_run(vm));
	assert_int_equal(vm->stop.reason, VM_STOP_FORBIDDEN_GPA);
	assert_int_equal(vm->stop.status, VM_STATUS_GUEST);
	assert_non_null(strstr(vm->stop.msg, "page walk writes an accessed or dirty flag into ROM"));
	assert_non_null(strstr(vm->stop.msg, "exit qualification 0xaa"));
	assert_int_equal(vm->cnt.rom_writes, 0);
	vm_destroy(vm);

	vm = make_rom_vm(rom, 100);
	push(vm, ept_exit(rom, 0x1aa));
	push(vm, ept_exit(rom, 0x1aa));
	assert_int_equal(vm_run(vm), -EFAULT);
	assert_int_equal(vm->stop.reason, VM_STOP_HOST_ERROR);
	assert_non_null(strstr(vm->stop.msg, "came back after it was armed"));
	assert_int_equal(vm->cnt.violations[VIOL_ROM], 1);
	vm_destroy(vm);
}

/* ROM placement refusals, each naming what is in the way. */
static void test_rom_layout_errors(void **state)
{
	struct vm_config cfg = {
		.mem_size = 64ULL << 20, .ept_levels = 4, .ept_page_shift = PAGE_SHIFT_4K,
		.ops = &fake_ops, .serial_in_fd = -1, .nrom = 1,
		.rom = { { .name = "t.rom", .data = rom_bytes, .len = 4096 } },
	};
	static const struct {
		uint64_t gpa;
		int rc;
		const char *msg;
	} cases[] = {
		{ 0x3fff000, -EINVAL, "overlaps guest RAM [0x0, 0x4000000)" },
		{ 0xfec00000, -EINVAL, "overlaps the device window of ioapic" },
		{ 0xfffbf000, -EINVAL, "the pages KVM's TSS takes" },
		{ 0xfe000800, -EINVAL, "must be a multiple of 4 KiB" },
		{ 1ULL << 48, -ERANGE, "48-bit GPA space" },
	};
	struct vm *vm;
	char err[256];

	(void)state;
	assert_ok(mmu_config_preset("none", &cfg.mmu));
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cfg.rom[0].gpa = cases[i].gpa;
		assert_int_equal(vm_create(&cfg, &vm, err, sizeof(err)), cases[i].rc);
		assert_non_null(strstr(err, cases[i].msg));
	}
	cfg.rom[0].gpa = 0xfe000000;
	cfg.rom[0].len = 0;
	assert_int_equal(vm_create(&cfg, &vm, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is empty"));
}

static void test_config_errors(void **state)
{
	struct vm_config cfg = {
		.mem_size = 1ULL << 20, .ept_levels = 4, .ept_page_shift = PAGE_SHIFT_4K,
		.ops = &fake_ops, .serial_in_fd = -1,
	};
	struct vm *vm;
	char err[200];

	(void)state;
	assert_ok(mmu_config_preset("none", &cfg.mmu));
	assert_int_equal(vm_create(&cfg, &vm, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "at least 2M"));
	cfg.mem_size = 1ULL << 48;  /* past the 48-bit GPA space once the hole is added */
	assert_int_equal(vm_create(&cfg, &vm, err, sizeof(err)), -ERANGE);
	cfg.mem_size = 64ULL << 20;
	cfg.ept_levels = 3;
	assert_int_equal(vm_create(&cfg, &vm, err, sizeof(err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lazy_map),
		cmocka_unit_test(test_lazy_map_2m),
		cmocka_unit_test(test_eager),
		cmocka_unit_test(test_forbidden),
		cmocka_unit_test(test_decode_qual),
		cmocka_unit_test(test_mmio_and_ports),
		cmocka_unit_test(test_completion_values),
		cmocka_unit_test(test_dirty_tracking),
		cmocka_unit_test(test_hypercall_port),
		cmocka_unit_test(test_insn_points),
		cmocka_unit_test(test_triple_fault),
		cmocka_unit_test(test_irq_window_and_priority),
		cmocka_unit_test(test_hlt_timer_wakeup),
		cmocka_unit_test(test_msr_and_tpr),
		cmocka_unit_test(test_nmi_injection),
		cmocka_unit_test(test_pic_extint),
		cmocka_unit_test(test_pit_irq0_wakeup),
		cmocka_unit_test(test_s3_sleep_and_resume),
		cmocka_unit_test(test_s3_protected_mode_vector),
		cmocka_unit_test(test_s3_no_wake_and_s5),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_rom_writes),
		cmocka_unit_test(test_rom_faults),
		cmocka_unit_test(test_sci_ioapic),
		cmocka_unit_test(test_rom_layout_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
