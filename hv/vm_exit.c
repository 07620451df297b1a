/* SPDX-License-Identifier: MIT */
/*
 * hv/vm_exit.c - the exit loop: run the vCPU, and for each exit call the
 * one handler for its reason (device emulation, the RAM side of EPT
 * violations in hv/vm_mem.c, hypercalls, the stops). The same handlers
 * serve every backend.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hv/vm_dma.h"
#include "hv/vm_internal.h"

/* Instructions per run() call: often enough for a live progress line and a
 * precise --max-insns/--dirty-track-after, rarely enough to cost nothing. */
#define RUN_SLICE (1ULL << 22)

const char *vm_stop_name(enum vm_stop_reason r)
{
	static const char *const names[VM_STOP_NREASONS] = {
		[VM_RUNNING] = "running",
		[VM_STOP_DEBUG_EXIT] = "debug-exit",
		[VM_STOP_HLT] = "hlt",
		[VM_STOP_INSN_LIMIT] = "insn-limit",
		[VM_STOP_FORBIDDEN_GPA] = "forbidden-gpa",
		[VM_STOP_EPT_MISCONFIG] = "ept-misconfig",
		[VM_STOP_TRIPLE_FAULT] = "triple-fault",
		[VM_STOP_INTERNAL_ERROR] = "internal-error",
		[VM_STOP_HOST_ERROR] = "host-error",
		[VM_STOP_SIGNAL] = "signal",
		[VM_STOP_POWEROFF] = "poweroff",
		[VM_STOP_SLEEP] = "sleep",
	};
	return (unsigned)r < VM_STOP_NREASONS ? names[r] : "?";
}

const char *vm_exit_name(enum vcpu_exit_reason r)
{
	static const char *const names[] = {
		[VCPU_EXIT_NONE] = "none",
		[VCPU_EXIT_IO] = "io",
		[VCPU_EXIT_MMIO] = "mmio",
		[VCPU_EXIT_HLT] = "hlt",
		[VCPU_EXIT_HYPERCALL] = "hypercall",
		[VCPU_EXIT_EPT_VIOLATION] = "ept_violation",
		[VCPU_EXIT_EPT_MISCONFIG] = "ept_misconfig",
		[VCPU_EXIT_TRIPLE_FAULT] = "triple_fault",
		[VCPU_EXIT_INSN_LIMIT] = "insn_limit",
		[VCPU_EXIT_MSR] = "msr",
		[VCPU_EXIT_IRQ_WINDOW] = "irq_window",
		[VCPU_EXIT_SET_TPR] = "set_tpr",
		[VCPU_EXIT_INTERNAL_ERROR] = "internal_error",
	};
	return (unsigned)r <= VCPU_EXIT_INTERNAL_ERROR ? names[r] : "?";
}

const char *vm_viol_name(enum vm_viol_cause c)
{
	static const char *const names[VIOL_NCAUSES] = {
		[VIOL_LAZY_MAP] = "lazy_map",
		[VIOL_DIRTY_LOG] = "dirty_log",
		[VIOL_MMIO] = "mmio",
		[VIOL_FORBIDDEN] = "forbidden",
		[VIOL_ROM] = "rom",
	};
	return (unsigned)c < VIOL_NCAUSES ? names[c] : "?";
}

const char *mem_policy_name(enum mem_policy p)
{
	return p == MEM_LAZY ? "lazy" : "eager";
}

void vm_decode_qual(uint64_t qual, char *buf, size_t len)
{
	size_t n = 0;

#define PUT(...) (n += (size_t)snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__))
	PUT("%s", (qual & EPT_QUAL_FETCH) ? "fetch" :
		  (qual & EPT_QUAL_WRITE) ? "write" :
		  (qual & EPT_QUAL_READ) ? "read" : "no access bits");
	if (qual & (EPT_QUAL_READABLE | EPT_QUAL_WRITABLE | EPT_QUAL_EXECUTABLE))
		PUT(", EPT allows %s%s%s", (qual & EPT_QUAL_READABLE) ? "R" : "",
		    (qual & EPT_QUAL_WRITABLE) ? "W" : "", (qual & EPT_QUAL_EXECUTABLE) ? "X" : "");
	else
		PUT(", not present in EPT");
	if (!(qual & EPT_QUAL_GLA_VALID))
		PUT(", no linear address");
	else if (!(qual & EPT_QUAL_GLA_XLATE))
		PUT(", during a guest page walk");
	else
		/* Bits 9-11 are the guest's U/S, R/W, XD (zero with paging off). */
		PUT(", to the linear address (guest U/S=%d R/W=%d XD=%d)",
		    !!(qual & EPT_QUAL_GUEST_US), !!(qual & EPT_QUAL_GUEST_RW),
		    !!(qual & EPT_QUAL_GUEST_XD));
#undef PUT
}

void vm_stop(struct vm *vm, enum vm_stop_reason reason, int status, uint64_t rip,
	     const char *fmt, ...)
{
	va_list ap;

	vm->stop.reason = reason;
	vm->stop.status = status;
	vm->stop.rip = rip;
	va_start(ap, fmt);
	vsnprintf(vm->stop.msg, sizeof(vm->stop.msg), fmt, ap);
	va_end(ap);
}

/* Stop for an access to a GPA that is neither RAM nor a device. */
static void stop_forbidden(struct vm *vm, uint64_t gpa, uint64_t gva, uint64_t qual,
			   uint64_t rip, const char *what)
{
	char q[256];

	vm->cnt.violations[VIOL_FORBIDDEN]++;
	vm_decode_qual(qual, q, sizeof(q));
	vm_stop(vm, VM_STOP_FORBIDDEN_GPA, VM_STATUS_GUEST, rip,
		"GPA 0x%" PRIx64 " is neither RAM nor a device (%s)\n"
		"GVA %s0x%" PRIx64 ", RIP 0x%" PRIx64 ", exit qualification 0x%" PRIx64 ":\n"
		"  %s",
		gpa, what, (qual & EPT_QUAL_GLA_VALID) ? "" : "(not valid) ",
		(qual & EPT_QUAL_GLA_VALID) ? gva : 0, rip, qual, q);
}

/* MMIO to a device window: emulate the access. false when no device is there. */
static bool mmio_access(struct vm *vm, struct vcpu_exit *e)
{
	struct device *d = dev_bus_find(&vm->bus, DEV_MMIO, e->mmio.gpa, e->mmio.size);

	if (!d)
		return false;
	if (e->mmio.write) {
		vm->cnt.mmio_writes++;
		d->ops->write(d, e->mmio.gpa - d->base, e->mmio.size, e->mmio.data & dev_ones(e->mmio.size));
	} else {
		vm->cnt.mmio_reads++;
		e->mmio.data = d->ops->read(d, e->mmio.gpa - d->base, e->mmio.size) & dev_ones(e->mmio.size);
	}
	return true;
}


/* The TSC of the next timer event: the local APIC timer's expiry, the
 * 8254 counter 0's next IRQ 0 edge, the RTC's next IRQ 8 edge, an HPET
 * comparator's match or the PM timer's SCI, UINT64_MAX for none. */
static uint64_t next_timer_event(struct vm *vm)
{
	uint64_t a = lapic_next_event(&vm->lapic), p = pit_next_event(&vm->pit);
	uint64_t r = rtc_next_event(&vm->rtc), h = hpet_next_event(&vm->hpet);
	uint64_t s = acpi_pm_next_event(&vm->acpi_pm);

	a = a < p ? a : p;
	a = a < r ? a : r;
	a = a < s ? a : s;
	return a < h ? a : h;
}

/* The next run() budget: a slice, cut short so that --max-insns and
 * --dirty-track-after land on the exact instruction, and so that the slice
 * ends at the next timer event `next` (next_timer_event(): the guest's
 * TSC advances one tick per retired instruction on a backend that counts
 * them). */
static uint64_t next_budget(struct vm *vm, uint64_t next)
{
	uint64_t b = RUN_SLICE;

	if (next != UINT64_MAX) {
		uint64_t d = next > vm->tsc ? next - vm->tsc : 1;

		if (d < b)
			b = d;
	}

	if (vm->dma && vm->dma->passthrough && b > VM_DMA_POLL_INSNS)
		b = VM_DMA_POLL_INSNS;  /* the pass-through device's next look */
	if (vm->cfg.max_insns && vm->cfg.max_insns - vm->insns < b)
		b = vm->cfg.max_insns - vm->insns;
	if (vm->cfg.dirty_track_after && !vm->dirty.active && vm->cfg.dirty_track_after > vm->insns &&
	    vm->cfg.dirty_track_after - vm->insns < b)
		b = vm->cfg.dirty_track_after - vm->insns;
	return b;
}

/* The guest TSC of the next timer event still to come (0: none). */
static uint64_t timer_deadline(const struct vm *vm, uint64_t next)
{
	return next != UINT64_MAX && next > vm->tsc ? next : 0;
}

static void update_insns(struct vm *vm)
{
	struct vcpu_stats st;

	vm->ops->get_stats(vm->vcpu, &st);
	vm->insns = st.instructions;
}

/* ------------------------------------------------------------------------ */
/* One handler per exit                                                     */
/* ------------------------------------------------------------------------ */
/*
 * Each handler completes its exit (the guest resumes) or records why the VM
 * stops in vm->stop. It returns 0, or -errno when hv itself failed and
 * vm_run() must return that error.
 */

/* Make hypercall nr; its result. */
static uint64_t hypercall(struct vm *vm, uint64_t nr)
{
	vm->cnt.hypercalls++;
	switch (nr) {
	case HC_DIRTY_TRACK_START:
		return vm_dirty_start(vm, "hypercall") ? HC_ENOSYS : 0;
	default:
		vm->cnt.hypercalls_unknown++;
		return HC_ENOSYS;
	}
}

static int handle_io(struct vm *vm, struct vcpu_exit *e)
{
	if (e->io.port == HC_PORT && e->io.size == 4) {
		if (e->io.in)
			e->io.data = vm->hc_port_result;
		else
			vm->hc_port_result = (uint32_t)hypercall(vm, e->io.data);
		return 0;
	}
	if (e->io.in)
		e->io.data = (uint32_t)dev_bus_pio_read(&vm->bus, e->io.port, e->io.size);
	else
		dev_bus_pio_write(&vm->bus, e->io.port, e->io.size, e->io.data);
	if (vm->bus.stop)
		vm_stop(vm, VM_STOP_DEBUG_EXIT, debugexit_status(vm->bus.stop_value), e->rip,
			"guest wrote 0x%" PRIx64 " to isa-debug-exit (status %d)",
			vm->bus.stop_value, debugexit_status(vm->bus.stop_value));
	else if (vm->acpi_pm.sleep)
		return vm_sleep(vm, e);
	return 0;
}

static int handle_mmio(struct vm *vm, struct vcpu_exit *e)
{
	if (mmio_access(vm, e)) {
		vm->cnt.violations[VIOL_MMIO]++;
		return 0;
	}
	if (vm->nrom && vm_rom_mmio(vm, e))
		return 0;
	stop_forbidden(vm, e->mmio.gpa, 0, e->mmio.write ? EPT_QUAL_WRITE : EPT_QUAL_READ,
		       e->rip, e->mmio.write ? "MMIO write" : "MMIO read");
	return 0;
}

/* A write to ROM (hv/vm_mem.c drops it), or what cannot be one. */
static int handle_rom_violation(struct vm *vm, struct vcpu_exit *e)
{
	int rc = vm_rom_violation(vm, e);
	char q[256];

	if (rc == 0)
		return 0;
	vm_decode_qual(e->ept.qual, q, sizeof(q));
	if (rc == -EPERM) {
		vm_stop(vm, VM_STOP_FORBIDDEN_GPA, VM_STATUS_GUEST, e->rip,
			"the guest's page walk writes an accessed or dirty flag into ROM at GPA 0x%"
			PRIx64 " (a paging structure in ROM)\n"
			"RIP 0x%" PRIx64 ", exit qualification 0x%" PRIx64 ":\n  %s",
			e->ept.gpa, e->rip, e->ept.qual, q);
		return 0;
	}
	vm_stop(vm, VM_STOP_HOST_ERROR, VM_STATUS_HOST, e->rip,
		"unexpected EPT violation on ROM at GPA 0x%" PRIx64 ": %s\n"
		"  exit qualification 0x%" PRIx64 ": %s\n  GVA 0x%" PRIx64 ", RIP 0x%" PRIx64,
		e->ept.gpa, rc == -ELOOP ? "the write came back after it was armed to be dropped"
		: "ROM allows reads and fetches", e->ept.qual, q, e->ept.gva, e->rip);
	return -EFAULT;
}

static int handle_ept_violation(struct vm *vm, struct vcpu_exit *e)
{
	char q[256];
	int rc;

	if (vm_gpa_is_ram(vm, e->ept.gpa, 1)) {
		rc = vm_ram_violation(vm, e);
		if (rc == 0)
			return 0;
		vm_decode_qual(e->ept.qual, q, sizeof(q));
		vm_stop(vm, VM_STOP_HOST_ERROR, VM_STATUS_HOST, e->rip,
			"unexpected EPT violation on guest RAM at GPA 0x%" PRIx64 ": %s\n"
			"  exit qualification 0x%" PRIx64 ": %s\n  GVA 0x%" PRIx64 ", RIP 0x%" PRIx64,
			e->ept.gpa, rc == -EPROTO ? "no handler applies" : strerror(-rc),
			e->ept.qual, q, e->ept.gva, e->rip);
		return rc == -EPROTO ? -EFAULT : rc;
	}
	if (vm->nrom && vm_rom_at(vm, e->ept.gpa))
		return handle_rom_violation(vm, e);
	if (dev_bus_find(&vm->bus, DEV_MMIO, e->ept.gpa, 1)) {
		/* A backend that reports device windows as plain violations
		 * cannot have the access emulated. */
		vm->cnt.violations[VIOL_MMIO]++;
		vm_stop(vm, VM_STOP_INTERNAL_ERROR, VM_STATUS_HOST, e->rip,
			"the %s backend reported MMIO at GPA 0x%" PRIx64
			" as an EPT violation, not an MMIO exit", vm->ops->name, e->ept.gpa);
		return 0;
	}
	stop_forbidden(vm, e->ept.gpa, e->ept.gva, e->ept.qual, e->rip, "EPT violation");
	return 0;
}

static int handle_ept_misconfig(struct vm *vm, struct vcpu_exit *e)
{
	vm_stop(vm, VM_STOP_EPT_MISCONFIG, VM_STATUS_GUEST, e->rip,
		"EPT misconfiguration at GPA 0x%" PRIx64 ", RIP 0x%" PRIx64
		" (an EPT entry hv wrote is invalid)", e->ept.gpa, e->rip);
	return 0;
}

static int handle_hypercall(struct vm *vm, struct vcpu_exit *e)
{
	e->hypercall.ret = hypercall(vm, e->hypercall.nr);
	return 0;
}

/* Does the 8259 pair's INTR reach the vCPU now? */
static bool pic_reaches_cpu(const struct vm *vm)
{
	return pic_intr(&vm->pic) && lapic_accepts_pic(&vm->lapic);
}

#define HLT_MAX_EVENTS 16

/* Can an edge on line `irq` (an ISA IRQ below 16, else a GSI) reach the
 * vCPU: through the 8259 pair (the line unmasked, and for 8-15 the cascade
 * on master IR2 too; its INTR taken through LINT0 or with the APIC
 * disabled) or the I/O APIC's pin (IRQ 0 is pin 2; unmasked)? */
static bool isa_irq_unmasked(const struct vm *vm, unsigned irq)
{
	bool pic = irq < 8 ? !(vm->pic.pic[0].imr & (1u << irq))
		 : irq < 16 && !(vm->pic.pic[0].imr & 4) && !(vm->pic.pic[1].imr & (1u << (irq - 8)));

	return (pic && lapic_accepts_pic(&vm->lapic)) ||
	       (irq < IOAPIC_NPINS && !(vm->ioapic.rte[irq == 0 ? 2 : irq] & IOAPIC_RTE_MASKED));
}

/* The next event that may wake a halted vCPU: an unmasked local APIC timer
 * expiry, or an IRQ 0 (8254), IRQ 8 (RTC) or HPET timer's edge when the
 * 8259 pair or the I/O APIC leaves its line unmasked (the 8254's and the
 * RTC's only while the HPET's legacy replacement leaves them connected;
 * UINT64_MAX for none). */
static uint64_t hlt_wake_event(struct vm *vm)
{
	uint64_t a = lapic_timer_masked(&vm->lapic) ? UINT64_MAX : lapic_next_event(&vm->lapic);
	uint64_t p = pit_next_event(&vm->pit), r = rtc_next_event(&vm->rtc);
	bool legacy = hpet_legacy(&vm->hpet);

	if (p != UINT64_MAX && (legacy || !isa_irq_unmasked(vm, PIT_IRQ)))
		p = UINT64_MAX;
	if (r != UINT64_MAX && (legacy || !isa_irq_unmasked(vm, RTC_IRQ)))
		r = UINT64_MAX;
	a = a < p ? a : p;
	a = a < r ? a : r;
	if (isa_irq_unmasked(vm, ACPI_SCI_IRQ)) {
		uint64_t s = acpi_pm_next_event(&vm->acpi_pm);

		a = a < s ? a : s;
	}
	for (unsigned n = 0; n < HPET_TIMERS; n++) {
		int line = hpet_timer_line(&vm->hpet, n);
		uint64_t h = hpet_timer_next(&vm->hpet, n);

		if (line >= 0 && h < a && isa_irq_unmasked(vm, (unsigned)line))
			a = h;
	}
	return a;
}

/*
 * HLT. An NMI, or with interrupts enabled an interrupt, already pending
 * wakes the vCPU at once (the loop injects it); otherwise time skips ahead to the local
 * APIC timer's next expiry, the 8254's next IRQ 0 edge, the RTC's next
 * IRQ 8 edge or an HPET timer's interrupt, whichever comes first (as
 * hlt_wake_event() picks them), the guest's TSC with it (no host time
 * passes); it wakes when that makes an interrupt deliverable.
 * When none can happen, nothing will ever wake the vCPU: the VM stops.
 */
/* Why a HLT stops the VM, in words: which of the wake paths was closed. */
static const char *hlt_why(struct vm *vm, const struct vcpu_exit *e)
{
	struct vcpu_regs r;

	if (e->irq.ready)
		return vm->dma && vm->dma->passthrough
			       ? "interrupts enabled, none pending or due from a timer, and the "
				 "device passed through looked and had no interrupt to send"
			       : "interrupts enabled, none pending or due from a timer";
	if (vm->ops->get_regs(vm->vcpu, &r) == 0 && (r.rflags & (1ULL << 9)))   /* RFLAGS.IF */
		return "RFLAGS.IF=1 but the vCPU could not take an interrupt (an event still "
		       "being delivered, or an interrupt shadow)";
	return "interrupts disabled (RFLAGS.IF=0)";
}

static int handle_hlt(struct vm *vm, struct vcpu_exit *e)
{
	uint64_t next, idle = 0;

	if (vm->lapic.nmi_pending)
		return 0;
	if (e->irq.ready) {
		if (lapic_pending(&vm->lapic) >= 0 || pic_reaches_cpu(vm))
			return 0;
		/* Events that deliver nothing (a vector held below the PPR, an
		 * IRQ 0 edge behind an 8259 in service) are skipped, a bounded
		 * number of them: then nothing is taken to wake the vCPU. */
		for (unsigned n = 0; n < HLT_MAX_EVENTS && (next = hlt_wake_event(vm)) != UINT64_MAX; n++) {
			if (next > vm->tsc) {
				idle += next - vm->tsc;
				vm->cnt.idle_ticks += next - vm->tsc;
				vm->tsc = next;
			}
			lapic_advance(&vm->lapic);
			pit_advance(&vm->pit);
			rtc_advance(&vm->rtc);
			hpet_advance(&vm->hpet);
			acpi_pm_advance(&vm->acpi_pm);
			if (lapic_pending(&vm->lapic) >= 0 || pic_reaches_cpu(vm)) {
				e->irq.idle = idle;
				vm->cnt.hlt_wakeups++;
				return 0;
			}
		}
		/* A device passed through may hold work it has not looked at
		 * yet: it looks now, and its MSI wakes the vCPU. */
		if (vm_dma_hlt_look(vm) && lapic_pending(&vm->lapic) >= 0)
			return 0;
	}
	vm_stop(vm, VM_STOP_HLT, VM_STATUS_HALT, e->rip,
		"guest halted (HLT at RIP 0x%" PRIx64 ", nothing can wake it: %s)", e->rip,
		hlt_why(vm, e));
	return 0;
}

/*
 * The xAPIC window follows IA32_APIC_BASE (SDM 11.4.4): the device and the
 * backend's device-window entry move together. A base on guest RAM is not
 * reachable (RAM wins), as with most chipsets.
 */
void vm_lapic_window_follow(struct vm *vm)
{
	uint64_t base = vm->lapic.base & ~0xfffULL & ((1ULL << 52) - 1);

	for (unsigned i = 0; i < vm->bus.n; i++) {
		struct device *d = &vm->bus.dev[i];

		if (d->ops != &lapic_mmio_ops || d->base == base)
			continue;
		for (unsigned k = 0; k < vm->nmmio; k++)
			if (vm->mmio[k].base == d->base && vm->mmio[k].size == d->len)
				vm->mmio[k].base = base;
		d->base = base;
	}
}

/* RDMSR/WRMSR of the local APIC's MSRs: the model answers, #GP where it says. */
static int handle_msr(struct vm *vm, struct vcpu_exit *e)
{
	int rc;

	if (e->msr.index == MSR_IA32_APIC_BASE) {
		/* MAXPHYADDR as CPUID leaf 0x80000008 reports it. */
		if (e->msr.write) {
			rc = lapic_set_base(&vm->lapic, e->msr.data,
					    vm->cfg.cpu.phys_bits ? vm->cfg.cpu.phys_bits : 52);
			if (!rc)
				vm_lapic_window_follow(vm);
		} else {
			e->msr.data = vm->lapic.base;
			rc = 0;
		}
	} else if (e->msr.write) {
		rc = lapic_msr_write(&vm->lapic, e->msr.index, e->msr.data);
	} else {
		rc = lapic_msr_read(&vm->lapic, e->msr.index, &e->msr.data);
	}
	e->msr.fault = rc != 0;
	return 0;
}

/*
 * Before each run(): fire the timer expiries that are due, hand over a
 * latched NMI, give the vCPU the TPR, and hand it the local APIC's (or else
 * the 8259 pair's) interrupt when it can take one now (the INTA cycle moves
 * it to ISR at that moment); when it cannot, ask for an exit at the moment
 * it can (struct vcpu_exit, irq).
 */
static int irq_before_run(struct vm *vm, struct vcpu_exit *e)
{
	uint8_t vec;
	int rc;

	lapic_advance(&vm->lapic);
	pit_advance(&vm->pit);
	rtc_advance(&vm->rtc);
	hpet_advance(&vm->hpet);
	acpi_pm_advance(&vm->acpi_pm);
	if (vm->lapic.nmi_pending && vm->ops->inject_nmi) {
		/* The vCPU holds it until NMIs are unblocked. */
		rc = vm->ops->inject_nmi(vm->vcpu);
		if (rc) {
			vm_stop(vm, VM_STOP_HOST_ERROR, VM_STATUS_HOST, e->rip,
				"the %s backend could not inject an NMI: %s", vm->ops->name, strerror(-rc));
			return rc;
		}
		vm->lapic.nmi_pending = false;
		vm->cnt.nmis_injected++;
	}
	e->irq.cr8 = lapic_get_cr8(&vm->lapic);
	e->irq.window = false;
	if (lapic_pending(&vm->lapic) < 0 && !pic_reaches_cpu(vm))
		return 0;
	if (!e->irq.ready) {
		e->irq.window = true;
		return 0;
	}
	/* The local APIC's vector first; the 8259's INTR (ExtINT through LINT0
	 * or with the APIC disabled) when it has none. */
	vec = lapic_pending(&vm->lapic) >= 0 ? lapic_ack(&vm->lapic) : pic_ack(&vm->pic);
	rc = vm->ops->inject_irq(vm->vcpu, vec);
	if (rc) {
		vm_stop(vm, VM_STOP_HOST_ERROR, VM_STATUS_HOST, e->rip,
			"the %s backend could not inject an interrupt: %s", vm->ops->name, strerror(-rc));
		return rc;
	}
	vm->cnt.irqs_injected++;
	e->irq.ready = false;
	return 0;
}

static int handle_triple_fault(struct vm *vm, struct vcpu_exit *e)
{
	/* The backend's message may already name the event. */
	const char *m = e->fail.msg[0] ? e->fail.msg : "no exception handler could be delivered";

	if (strncmp(m, "triple fault: ", 14) == 0)
		m += 14;
	vm_stop(vm, VM_STOP_TRIPLE_FAULT, VM_STATUS_GUEST, e->rip,
		"triple fault at RIP 0x%" PRIx64 ": %s", e->rip, m);
	return 0;
}

/* The slice ended: the checks at the top of vm_run's loop decide. */
static int handle_slice_end(struct vm *vm, struct vcpu_exit *e)
{
	(void)vm;
	(void)e;
	return 0;
}

static int handle_internal_error(struct vm *vm, struct vcpu_exit *e)
{
	vm_stop(vm, VM_STOP_INTERNAL_ERROR, VM_STATUS_GUEST, e->rip,
		"vCPU stopped at RIP 0x%" PRIx64 ": %s", e->rip,
		e->fail.msg[0] ? e->fail.msg : "internal error");
	return 0;
}

static int handle_unknown(struct vm *vm, struct vcpu_exit *e)
{
	vm_stop(vm, VM_STOP_HOST_ERROR, VM_STATUS_HOST, e->rip,
		"unknown exit reason %d from the %s backend", (int)e->reason, vm->ops->name);
	return -EPROTO;
}

/* ------------------------------------------------------------------------ */
/* The loop                                                                 */
/* ------------------------------------------------------------------------ */

/* Count the exit and call its handler: the one switch every exit of every
 * backend goes through. */
static int handle_exit(struct vm *vm, struct vcpu_exit *e)
{
	if ((unsigned)e->reason <= VCPU_EXIT_INTERNAL_ERROR)
		vm->cnt.exits[e->reason]++;

	switch (e->reason) {
	case VCPU_EXIT_IO:             return handle_io(vm, e);
	case VCPU_EXIT_MMIO:           return handle_mmio(vm, e);
	case VCPU_EXIT_EPT_VIOLATION:  return handle_ept_violation(vm, e);
	case VCPU_EXIT_EPT_MISCONFIG:  return handle_ept_misconfig(vm, e);
	case VCPU_EXIT_HYPERCALL:      return handle_hypercall(vm, e);
	case VCPU_EXIT_HLT:            return handle_hlt(vm, e);
	case VCPU_EXIT_TRIPLE_FAULT:   return handle_triple_fault(vm, e);
	case VCPU_EXIT_MSR:            return handle_msr(vm, e);
	case VCPU_EXIT_INSN_LIMIT:
	case VCPU_EXIT_SET_TPR:
	case VCPU_EXIT_IRQ_WINDOW:
	case VCPU_EXIT_NONE:           return handle_slice_end(vm, e);
	case VCPU_EXIT_INTERNAL_ERROR: return handle_internal_error(vm, e);
	default:                       return handle_unknown(vm, e);
	}
}

/*
 * Did handling exit e leave guest memory as it was? Port I/O (no port device
 * reads or writes guest memory), the local APIC's MSRs, HLT and the exits
 * that only end a run touch device state alone; MMIO (a device may start a
 * DMA), EPT violations (frames get mapped) and a pass-through device's
 * polls between runs may write it.
 */
static bool exit_kept_memory(const struct vm *vm, const struct vcpu_exit *e)
{
	if (vm->dma && vm->dma->passthrough)
		return false;
	switch (e->reason) {
	case VCPU_EXIT_IO:
	case VCPU_EXIT_MSR:
	case VCPU_EXIT_HLT:
	case VCPU_EXIT_INSN_LIMIT:
	case VCPU_EXIT_SET_TPR:
	case VCPU_EXIT_IRQ_WINDOW:
	case VCPU_EXIT_NONE:
		return true;
	default:
		return false;
	}
}

int vm_exit_now(void *ctx, struct vcpu_exit *e)
{
	struct vm *vm = ctx;
	int rc;

	/* Inside run(): the exit loop does not hold the device lock there. */
	vm_dma_lock(vm);
	rc = handle_exit(vm, e);
	vm_dma_unlock(vm);
	if (rc)
		return rc;
	return vm->stop.reason == VM_RUNNING ? 0 : -ECANCELED;
}

void vm_kick(struct vm *vm)
{
	if (vm && vm->ops->kick && vm->vcpu)
		vm->ops->kick(vm->vcpu);
}

/* vm_run's loop, with the device lock held except inside run(). */
static int run_loop(struct vm *vm)
{
	struct vcpu_exit e = { 0 };
	uint64_t next;
	int rc;

	while (vm->stop.reason == VM_RUNNING) {
		/* Points decided by instruction count, checked between slices. */
		if (vm->cfg.dirty_track_after && !vm->dirty.active &&
		    vm->insns >= vm->cfg.dirty_track_after) {
			rc = vm_dirty_start(vm, "option");
			if (rc) {
				vm_stop(vm, VM_STOP_HOST_ERROR, VM_STATUS_HOST, 0,
					"cannot start dirty tracking: %s", strerror(-rc));
				return rc;
			}
		}
		if (vm->cfg.max_insns && vm->insns >= vm->cfg.max_insns) {
			struct vcpu_regs r;

			if (vm->ops->get_regs(vm->vcpu, &r))
				r.rip = 0;
			vm_stop(vm, VM_STOP_INSN_LIMIT, VM_STATUS_LIMIT, r.rip,
				"stopped after %" PRIu64 " instructions (--max-insns)", vm->insns);
			break;
		}
		if (vm->stop_request != NULL && *vm->stop_request != 0) {
			int sig = *vm->stop_request;
			const char *name;
			struct vcpu_regs r;

			if (vm->ops->get_regs(vm->vcpu, &r))
				r.rip = 0;
			name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
			if (vm->ops->counts_instructions)
				vm_stop(vm, VM_STOP_SIGNAL, 128 + sig, r.rip,
					"stopped by %s after %" PRIu64 " instructions", name, vm->insns);
			else
				vm_stop(vm, VM_STOP_SIGNAL, 128 + sig, r.rip,
					"stopped by %s at RIP 0x%" PRIx64 " (the %s vCPU left the guest "
					"for it)", name, r.rip, vm->ops->name);
			break;
		}
		if (vm->progress)
			vm->progress(vm, vm->progress_ctx);

		if (vm->dma && vm->dma->passthrough)
			vm_dma_poll(vm);
		rc = irq_before_run(vm, &e);
		if (rc)
			return rc;
		next = next_timer_event(vm);
		e.irq.deadline = timer_deadline(vm, next);
		vm_dma_unlock(vm);
		rc = vm->ops->run(vm->vcpu, next_budget(vm, next), &e);
		vm_dma_lock(vm);
		update_insns(vm);
		/* The guest's time, and its TPR as MOV to CR8 left it (SDM 10.8.6.1). */
		vm->tsc = e.irq.tsc;
		if (e.irq.cr8 != lapic_get_cr8(&vm->lapic))
			lapic_set_cr8(&vm->lapic, e.irq.cr8);
		if (rc) {
			/* An exit taken inside run() (exit_now) may have said why already. */
			if (vm->stop.reason == VM_RUNNING)
				vm_stop(vm, VM_STOP_HOST_ERROR, VM_STATUS_HOST, e.rip,
					"the %s backend failed: %s", vm->ops->name, strerror(-rc));
			return rc;
		}
		rc = handle_exit(vm, &e);
		if (rc)
			return rc;
		e.mem_untouched = exit_kept_memory(vm, &e);
	}
	return 0;
}

/*
 * Run the guest until it stops. Every exit of every backend goes through
 * handle_exit's switch, which calls the exit's handler. A pass-through
 * device on a thread of its own (KVM) runs beside it meanwhile.
 */
int vm_run(struct vm *vm)
{
	int rc = vm_dma_thread_start(vm);

	if (rc) {
		vm_stop(vm, VM_STOP_HOST_ERROR, VM_STATUS_HOST, 0,
			"cannot start the pass-through device's thread: %s", strerror(-rc));
		return rc;
	}
	vm_dma_lock(vm);
	rc = run_loop(vm);
	vm_dma_unlock(vm);
	vm_dma_thread_stop(vm);
	return rc;
}
