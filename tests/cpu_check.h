/* SPDX-License-Identifier: MIT */
/*
 * tests/cpu_check.h - cmocka assertions over the vCPU test harness, shared
 * by the guest-program tests (include after <cmocka.h> and cpu_harness.h).
 */
#ifndef HV_CPU_CHECK_H
#define HV_CPU_CHECK_H

#include <stdio.h>

static inline struct tvm *vm_new(const char *preset)
{
	struct tvm *vm = NULL;
	assert_int_equal(tvm_create(preset, &vm), 0);
	return vm;
}

static inline struct vcpu_regs regs(struct tvm *vm)
{
	struct vcpu_regs r;
	assert_int_equal(tvm_get_regs(vm, &r), 0);
	return r;
}

static inline void set_regs(struct tvm *vm, const struct vcpu_regs *r)
{
	assert_int_equal(tvm_set_regs(vm, r), 0);
}

/* Run until the next exit, which must be `want`; say what happened if not. */
static inline void expect_exit(struct tvm *vm, enum vcpu_exit_reason want)
{
	enum vcpu_exit_reason got = tvm_run(vm, 100000);
	if (got != want) {
		struct tvm_exc_record rec;
		tvm_exc_record(vm, &rec);
		fprintf(stderr, "exit %s at rip %#llx, expected %s", tvm_exit_name(got),
			(unsigned long long)vm->exit.rip, tvm_exit_name(want));
		if (got == VCPU_EXIT_INTERNAL_ERROR || got == VCPU_EXIT_TRIPLE_FAULT)
			fprintf(stderr, " (%s)", vm->exit.fail.msg);
		if (rec.count)
			fprintf(stderr, "; last exception: vector %llu error %#llx rip %#llx",
				(unsigned long long)rec.vector, (unsigned long long)rec.error,
				(unsigned long long)rec.rip);
		fprintf(stderr, "\n");
	}
	assert_int_equal(got, want);
}

/* Run to the HLT of the common exception handler; exactly one exception, this
 * vector, error code and RIP, must have been recorded. */
static inline void expect_exception_at(struct tvm *vm, uint64_t vector, uint64_t error,
				       uint64_t rip)
{
	struct tvm_exc_record rec;

	expect_exit(vm, VCPU_EXIT_HLT);
	tvm_exc_record(vm, &rec);
	assert_int_equal(rec.count, 1);
	assert_int_equal(rec.vector, vector);
	assert_int_equal(rec.error, error);
	assert_int_equal(rec.rip, rip);
}

#endif /* HV_CPU_CHECK_H */
