/* SPDX-License-Identifier: MIT */
/*
 * hv/vm_sleep.c - ACPI sleep states (ACPI 6.x 7.4.2 and chapter 16): what
 * happens after the guest writes SLP_EN to PM1a_CNT with the SLP_TYP the
 * DSDT's _S3 or _S5 package gives (hv/acpi.h).
 *
 * S5 (soft off) ends the run: stop "poweroff", status 0.
 *
 * S3 (suspend to RAM), as a PC does it:
 *   - The processor and every device of the core power well lose their
 *     state; RAM is kept (self-refresh), and so are the RTC with its CMOS
 *     RAM and the PM1 registers (the RTC and resume wells).
 *   - Enabled wake events: an RTC interrupt with PM1a_EN.RTC_EN set (the
 *     alarm, or the update or periodic interrupt register B enables: the
 *     chipset's RTC_STS follows IRQ 8). The guest's time skips to the
 *     first such interrupt, the TSC with it, as over an idle HLT: no host
 *     time passes. With no wake event enabled nothing can wake the machine,
 *     and the run ends (stop "sleep", status 0) with a message saying why.
 *   - On waking, PM1a_STS gains WAK_STS and RTC_STS. The core-well devices
 *     come back in their power-up state (each one's reset: local APIC at
 *     its default base, I/O APIC, 8259 pair, 8254, HPET, UART, PCI,
 *     fw_cfg, pc-testdev, VT-d), then hv does what firmware's resume path
 *     does: LINT0 as firmware leaves it, the 8259 pair and the 8254 as at
 *     boot under --bios-state, and the vCPU from RESET to the FACS waking
 *     vector. X_Firmware_Waking_Vector, when not 0, is entered in 32-bit
 *     protected mode with flat 4 GiB segments and paging off; else
 *     Firmware_Waking_Vector in real mode at CS:IP = vector >> 4 :
 *     vector & 0xf with DS = ES = FS = GS = SS = 0 (ACPI 5.2.10). Both with
 *     interrupts disabled and every general-purpose register 0.
 *
 * Differences from QEMU's pc machine, which resets every device on wake
 * and then sets the status bits: QEMU also clears PM1a_EN and the RTC's
 * interrupt enables and flags (register B's PIE, AIE and SQWE, register C),
 * where a PC keeps them (hv keeps them). The TSC is not reset by S3 on hv
 * (hv's devices count off it; QEMU's TCG TSC goes on as well).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "hv/bios.h"
#include "hv/vm_internal.h"

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

/* The devices of the core well back at power-up (see the top of the file). */
static void reset_core_devices(struct vm *vm)
{
	struct lapic_host host = vm->lapic.host;

	for (unsigned i = 0; i < vm->bus.n; i++) {
		struct device *d = &vm->bus.dev[i];

		if (d->ops == &rtc_ops || d->ops == &acpi_pm_ops || !d->ops->reset)
			continue;
		d->ops->reset(d);
	}
	/* RESET also puts IA32_APIC_BASE back (SDM 11.4.4). */
	lapic_init(&vm->lapic, vm->lapic.initial_id, &host);
	vm_lapic_window_follow(vm);
	vm_firmware_lapic(vm);
	if (vm->cfg.bios_state)
		bios_state_devices(&vm->bus);
}

static struct vcpu_segment real_seg(uint16_t sel, uint8_t type)
{
	return (struct vcpu_segment){ .base = (uint64_t)sel << 4, .limit = 0xffff, .selector = sel,
				      .type = type, .s = 1, .present = 1 };
}

static struct vcpu_segment flat_seg(uint16_t sel, uint8_t type)
{
	return (struct vcpu_segment){ .base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
				      .s = 1, .present = 1, .db = 1, .g = 1 };
}

/* The vCPU from RESET to the waking vector (`prot`: 32-bit protected mode). */
static int resume_vcpu(struct vm *vm, uint64_t vector, bool prot)
{
	struct vcpu_sregs s;
	struct vcpu_regs r;
	int rc;

	rc = vm->ops->reset(vm->vcpu);
	if (!rc)
		rc = vm->ops->get_sregs(vm->vcpu, &s);
	if (rc)
		return rc;
	if (prot) {
		s.cs = flat_seg(0x10, 0xb);
		s.ds = s.es = s.fs = s.gs = s.ss = flat_seg(0x18, 0x3);
		s.cr0 = CR0_PE | (1ULL << 4);        /* PE, ET */
	} else {
		s.cs = real_seg((uint16_t)(vector >> 4), 0xb);
		s.ds = s.es = s.fs = s.gs = s.ss = real_seg(0, 0x3);
		s.cr0 = 1ULL << 4;                   /* ET: caches on, as firmware leaves them */
	}
	s.tr = (struct vcpu_segment){ .limit = 0xffff, .type = 0xb, .present = 1 };
	s.ldt = (struct vcpu_segment){ .type = 2, .present = 1, .limit = 0xffff };
	s.gdt = (struct vcpu_dtable){ 0, 0xffff };
	s.idt = (struct vcpu_dtable){ 0, prot ? 0 : 0x3ff };
	s.cr2 = s.cr3 = s.cr4 = s.cr8 = 0;
	s.efer = 0;
	s.apic_base = vm->lapic.base;
	rc = vm->ops->set_sregs(vm->vcpu, &s);
	if (rc)
		return rc;
	memset(&r, 0, sizeof(r));
	r.rip = prot ? vector : vector & 0xf;
	r.rflags = 0x2;
	return vm->ops->set_regs(vm->vcpu, &r);
}

static int enter_s3(struct vm *vm, struct vcpu_exit *e)
{
	uint8_t facs[32];
	uint64_t wake, vector;
	bool prot;
	int rc;

	if (!vm->ops->reset) {
		vm_stop(vm, VM_STOP_INTERNAL_ERROR, VM_STATUS_HOST, e->rip,
			"guest entered ACPI S3 (PM1a_CNT write at RIP 0x%" PRIx64 "), but the %s backend "
			"cannot reset its vCPU for the resume (S3 needs --backend soft)",
			e->rip, vm->ops->name);
		return 0;
	}
	rtc_advance(&vm->rtc);
	wake = (vm->acpi_pm.en & ACPI_PM1_RTC_EN) ? rtc_next_event(&vm->rtc) : UINT64_MAX;
	if (wake == UINT64_MAX) {
		vm_stop(vm, VM_STOP_SLEEP, VM_STATUS_HALT, e->rip,
			"guest entered ACPI S3 (PM1a_CNT write at RIP 0x%" PRIx64 ") and nothing can "
			"wake it: %s", e->rip,
			!(vm->acpi_pm.en & ACPI_PM1_RTC_EN)
				? "no wake event is enabled (PM1a_EN.RTC_EN is clear)"
				: "the RTC will raise no interrupt (register B enables none, or "
				  "register C still holds IRQF: read it before sleeping)");
		return 0;
	}
	/* Where firmware would resume: the FACS as the guest left it. */
	rc = vm_read_gpa(vm, ACPI_BASE + ACPI_OFF_FACS, facs, sizeof(facs));
	if (rc) {
		vm_stop(vm, VM_STOP_HOST_ERROR, VM_STATUS_HOST, e->rip,
			"cannot read the FACS at 0x%" PRIx64 ": %s", (uint64_t)(ACPI_BASE + ACPI_OFF_FACS),
			strerror(-rc));
		return rc;
	}
	vector = get_le(facs + ACPI_FACS_X_WAKING_VECTOR, 8);
	prot = vector != 0;
	if (!prot)
		vector = get_le(facs + ACPI_FACS_WAKING_VECTOR, 4);
	if (vector == 0 || (prot && vector > 0xffffffffULL) || (!prot && vector >= 0x100000)) {
		vm_stop(vm, VM_STOP_SLEEP, VM_STATUS_GUEST, e->rip,
			"guest entered ACPI S3 (PM1a_CNT write at RIP 0x%" PRIx64 "), but the FACS at "
			"0x%" PRIx64 " gives no waking vector to resume at: %s%" PRIx64 "%s", e->rip,
			(uint64_t)(ACPI_BASE + ACPI_OFF_FACS),
			vector == 0 ? "both are 0x" : prot ? "X_Firmware_Waking_Vector 0x"
							   : "Firmware_Waking_Vector 0x",
			vector,
			vector == 0 ? "" : prot ? " is above 4 GiB" : " is above the real-mode 1 MiB");
		return 0;
	}

	/* Asleep until the RTC's interrupt. */
	if (wake < vm->tsc)
		wake = vm->tsc;
	vm->sleep.last_enter_tsc = vm->tsc;
	vm->sleep.ticks += wake - vm->tsc;
	e->irq.idle += wake - vm->tsc;
	vm->tsc = wake;
	rtc_advance(&vm->rtc);
	reset_core_devices(vm);
	/* After the 8259s and the I/O APIC came back with their lines low:
	 * WAK_STS, and RTC_STS, which with RTC_EN raises the SCI. */
	vm->acpi_pm.sci = 0;
	acpi_pm_event(&vm->acpi_pm, ACPI_PM1_WAK_STS | ACPI_PM1_RTC_STS);
	rc = resume_vcpu(vm, vector, prot);
	if (rc) {
		vm_stop(vm, VM_STOP_HOST_ERROR, VM_STATUS_HOST, e->rip,
			"the %s backend could not resume its vCPU from ACPI S3: %s", vm->ops->name,
			strerror(-rc));
		return rc;
	}
	e->irq.ready = false;
	e->irq.window = false;
	vm->sleep.count++;
	vm->sleep.last_wake_tsc = wake;
	vm->sleep.last_vector = vector;
	vm->sleep.last_protected = prot;
	return 0;
}

int vm_sleep(struct vm *vm, struct vcpu_exit *e)
{
	unsigned typ = vm->acpi_pm.sleep - 1u;

	vm->acpi_pm.sleep = 0;
	switch (typ) {
	case ACPI_SLP_TYP_S5:
		vm_stop(vm, VM_STOP_POWEROFF, VM_STATUS_HALT, e->rip,
			"guest powered off (ACPI S5: PM1a_CNT SLP_TYP %u with SLP_EN, at RIP 0x%" PRIx64 ")",
			typ, e->rip);
		return 0;
	case ACPI_SLP_TYP_S3:
		return enter_s3(vm, e);
	default:
		return 0;   /* a state the DSDT does not declare: stored, nothing happens */
	}
}
