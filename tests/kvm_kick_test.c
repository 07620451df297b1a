/* SPDX-License-Identifier: MIT */
/*
 * tests/kvm_kick_test.c - the KVM backend's stop handshake and its lazy RAM,
 * on the host's /dev/kvm (exit status 77, skipped, where there is none).
 *
 * The handshake: a SIGINT or SIGTERM handler calls vm_kick(); when that
 * happens after hv's stop check but before KVM_RUN, KVM_RUN must return at
 * once instead of running the guest until its next exit. vm_kick() before
 * run() is exactly that moment, so the tests kick first and check that the
 * guest did not move, then that the next run() runs it (the kick is spent).
 *
 * Lazy RAM: the guest's first touches reach hv through userfaultfd; the
 * counts must be the software vCPU's for the same guest.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/vm.h"
#include "tests/testutil.h"

/* Built by `make check` before the tests run (tests/guests/). */
#define PROBE_MMIO "tests/guests/probe-mmio.elf"
#define PROBE_DIRTY "tests/guests/probe-dirty.elf"

static struct vm *make_vm(const struct vcpu_ops *ops, enum mem_policy policy, const char *elf)
{
	struct vm_config cfg = {
		.mem_size = 16ULL << 20,
		.ept_levels = 4,
		.ept_page_shift = PAGE_SHIFT_4K,
		.policy = policy,
		.ops = ops,
		.serial_in_fd = -1,
	};
	struct vm *vm = NULL;
	char err[512];

	if (mmu_config_preset("skylake", &cfg.mmu) != 0)
		fail();
	if (vm_create(&cfg, &vm, err, sizeof(err)) != 0 || vm_load(vm, elf, "", err, sizeof(err)) != 0) {
		fprintf(stderr, "kvm_kick_test: %s\n", err);
		fail();
	}
	return vm;
}

static void kick_before_run(enum mem_policy policy)
{
	struct vm *vm = make_vm(&vcpu_kvm_ops, policy, PROBE_MMIO);
	struct vcpu_exit e;

	/* The kick lands before KVM_RUN: no guest instruction runs. */
	vm_kick(vm);
	memset(&e, 0, sizeof(e));
	assert_ok(vm->ops->run(vm->vcpu, 0, &e));
	assert_int_equal(e.reason, VCPU_EXIT_NONE);
	assert_int_equal(e.rip, vm->boot.entry);
	/* Spent: the next entry runs the guest up to its first port write
	 * (the serial line "probe: start"). */
	memset(&e, 0, sizeof(e));
	assert_ok(vm->ops->run(vm->vcpu, 0, &e));
	assert_int_equal(e.reason, VCPU_EXIT_IO);
	assert_false(e.io.in);
	assert_true(e.rip != vm->boot.entry);
	vm_destroy(vm);
}

static void test_kick_eager(void **state)
{
	(void)state;
	kick_before_run(MEM_EAGER);
}

/* With lazy RAM, KVM_RUN runs in a second thread: the kick must reach it. */
static void test_kick_lazy(void **state)
{
	(void)state;
	kick_before_run(MEM_LAZY);
}

/* A stop request stored while kicked: vm_run stops with the signal's status
 * and names the RIP, since KVM counts no instructions. */
static void test_stop_request(void **state)
{
	struct vm *vm = make_vm(&vcpu_kvm_ops, MEM_LAZY, PROBE_MMIO);
	volatile sig_atomic_t sig = 15;
	char want[64];

	(void)state;
	vm->stop_request = &sig;
	vm_kick(vm);
	assert_ok(vm_run(vm));
	assert_int_equal(vm->stop.reason, VM_STOP_SIGNAL);
	assert_int_equal(vm->stop.status, 128 + 15);
	snprintf(want, sizeof(want), "stopped by SIGTERM at RIP 0x%llx",
		 (unsigned long long)vm->boot.entry);
	assert_non_null(strstr(vm->stop.msg, want));
	vm_destroy(vm);
}

/*
 * The dirty probe under lazy RAM: every frame it touches first is a
 * userfaultfd fault handled as an EPT violation, exactly as many as the
 * soft vCPU's, and KVM's dirty log holds the 64 pages it wrote; with
 * userfaultfd write-protection its first writes reach hv too.
 */
static void test_lazy_counts(void **state)
{
	struct vm *soft = make_vm(&vcpu_soft_ops, MEM_LAZY, PROBE_DIRTY);
	struct vm *kvm = make_vm(&vcpu_kvm_ops, MEM_LAZY, PROBE_DIRTY);

	(void)state;
	assert_ok(vm_run(soft));
	assert_ok(vm_run(kvm));
	assert_ok(vm_dirty_harvest(soft));
	assert_ok(vm_dirty_harvest(kvm));
	assert_int_equal(kvm->stop.reason, VM_STOP_DEBUG_EXIT);
	assert_int_equal(kvm->stop.status, soft->stop.status);
	assert_int_equal(soft->cnt.violations[VIOL_LAZY_MAP], 80);
	assert_int_equal(kvm->cnt.violations[VIOL_LAZY_MAP], 80);
	assert_int_equal(kvm->cnt.lazy_frames, soft->cnt.lazy_frames);
	assert_int_equal(kvm->cnt.prefault_frames, soft->cnt.prefault_frames);
	if (kvm->mem->ops->protect_exits) {
		/* userfaultfd write-protection: each first write was an EPT
		 * violation for hv too, and both sets are the soft vCPU's. */
		assert_int_equal(soft->cnt.violations[VIOL_DIRTY_LOG], 64);
		assert_int_equal(kvm->cnt.violations[VIOL_DIRTY_LOG], 64);
		assert_int_equal(kvm->cnt.exits[VCPU_EXIT_EPT_VIOLATION],
				 soft->cnt.exits[VCPU_EXIT_EPT_VIOLATION]);
		assert_int_equal(kvm->dirty.wp.count, 64);
		assert_int_equal(kvm->dirty.ad.count, 64);
		assert_true(vm_dirty_agree(kvm));
	} else {
		/* Writes do not exit; 64 in the dirty log on kvm_pvm (VMX/SVM
		 * may also log pages a read fault mapped writable). */
		assert_int_equal(kvm->cnt.exits[VCPU_EXIT_EPT_VIOLATION], 80);
		assert_true(kvm->dirty.ad.count >= 64);
	}
	vm_destroy(soft);
	vm_destroy(kvm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kick_eager),
		cmocka_unit_test(test_kick_lazy),
		cmocka_unit_test(test_stop_request),
		cmocka_unit_test(test_lazy_counts),
	};
	char why[200];

	if (vcpu_kvm_ops.probe(why, sizeof(why)) != 0 || vcpu_kvm_ops.probe_lazy(why, sizeof(why)) != 0) {
		printf("kvm_kick_test: skipped: %s\n", why);
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
