/* SPDX-License-Identifier: MIT */
/*
 * hv/vm_internal.h - what the three parts of the VM (hv/vm.c creation and
 * loading, hv/vm_mem.c guest memory, hv/vm_exit.c the exit loop) share.
 */
#ifndef HV_VM_INTERNAL_H
#define HV_VM_INTERNAL_H

#include "hv/vm.h"

/* Map all of RAM with the largest EPT pages that fit (eager policy). */
int vm_map_all_ram(struct vm *vm) HV_MUST_CHECK;
/* Start dirty tracking; `by` says who asked ("option", "hypercall"). */
int vm_dirty_start(struct vm *vm, const char *by) HV_MUST_CHECK;
/*
 * An EPT violation on a RAM GPA: map it (lazy) or log it (dirty tracking).
 * 0 to resume the guest, which re-executes the faulting instruction;
 * -EPROTO when no handler applies; another -errno when hv failed.
 */
int vm_ram_violation(struct vm *vm, const struct vcpu_exit *e) HV_MUST_CHECK;

/*
 * HPA of a RAM GPA as EPT maps it (a device's DMA): under the lazy policy an
 * unmapped frame is mapped first. *refs gains the EPT entries read. -EFAULT
 * when the GPA is not RAM.
 */
int vm_gpa_to_hpa(struct vm *vm, uint64_t gpa, uint64_t *hpa, unsigned *refs) HV_MUST_CHECK;

/* Copy each ROM's bytes into frames of its own and map them R+X (vm_create,
 * after the layout is checked). */
int vm_map_roms(struct vm *vm) HV_MUST_CHECK;
/*
 * An EPT violation on ROM (software vCPU): a write, which the vCPU completes
 * as an MMIO write when it executes the instruction again (vm_rom_mmio drops
 * it). 0 to resume; -EPERM when the write was the guest's page walk setting
 * an accessed or dirty flag in a paging structure in ROM (nothing can drop
 * that); -ELOOP when the range was armed already and the write came back as
 * a violation (the backend did not complete it); -EPROTO for a read or fetch.
 */
int vm_rom_violation(struct vm *vm, const struct vcpu_exit *e) HV_MUST_CHECK;
/* An MMIO exit on ROM: a write is dropped and counted, a read gets the ROM's
 * bytes. false when the GPA is not ROM. */
bool vm_rom_mmio(struct vm *vm, struct vcpu_exit *e);

/* vcpu_config.exit_now: an exit the backend takes while its guest waits
 * inside run(), handled as vm_run handles one (ctx is the VM). */
int vm_exit_now(void *ctx, struct vcpu_exit *e) HV_MUST_CHECK;

/* Record why the VM stops (hv/vm_exit.c). */
void vm_stop(struct vm *vm, enum vm_stop_reason reason, int status, uint64_t rip,
	     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Move the local APIC's device window to where IA32_APIC_BASE puts it. */
void vm_lapic_window_follow(struct vm *vm);
/* The interrupt-controller state firmware leaves the BSP in (hv/vm.c). */
void vm_firmware_lapic(struct vm *vm);
/*
 * After a port write set PM1a_CNT.SLP_EN (acpi_pm.sleep): enter the sleep
 * state SLP_TYP names (hv/vm_sleep.c). S3 sleeps until a wake event and
 * resumes the vCPU at the FACS waking vector (e->irq.idle gains the time
 * asleep); S5 stops the VM. 0, or -errno when hv failed.
 */
int vm_sleep(struct vm *vm, struct vcpu_exit *e) HV_MUST_CHECK;

#endif /* HV_VM_INTERNAL_H */
