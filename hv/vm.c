/* SPDX-License-Identifier: MIT */
/*
 * hv/vm.c - creating a VM (the guest-physical layout, the frame pool, EPT,
 * the translation model, devices, the backend's memory and vCPU) and loading
 * a kernel into it. Guest memory is in hv/vm_mem.c, the exit loop in
 * hv/vm_exit.c; hv/vm.h describes the guest-physical map and the policies.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hv/bios.h"
#include "hv/errmsg.h"
#include "hv/vm_dma.h"
#include "hv/vm_internal.h"

static void layout_memory(struct vm *vm)
{
	uint64_t size = vm->cfg.mem_size;
	uint64_t low = size < VM_LOW_RAM_MAX ? size : VM_LOW_RAM_MAX;

	vm->ram[0] = (struct loader_region){ 0, low, E820_RAM };
	vm->nram = 1;
	if (size > low)
		vm->ram[vm->nram++] = (struct loader_region){ VM_HIGH_RAM_GPA, size - low, E820_RAM };

	/*
	 * The map the guest sees, laid out like a PC's (and QEMU's): 639 KiB
	 * of conventional memory, the extended BIOS data area and the BIOS
	 * reserved, then RAM from 1 MiB. The same kernel then counts the same
	 * RAM under hv and under QEMU.
	 */
	vm->map[0] = (struct loader_region){ 0, 0x9fc00, E820_RAM };
	vm->map[1] = (struct loader_region){ 0x9fc00, 0x400, E820_RESERVED };
	vm->map[2] = (struct loader_region){ 0xf0000, 0x10000, E820_RESERVED };
	vm->map[3] = (struct loader_region){ 0x100000, low - 0x100000, E820_RAM };
	vm->nmap = 4;
	if (vm->nram == 2)
		vm->map[vm->nmap++] = vm->ram[1];
}

/* Three pages KVM's Intel VMX needs for real-mode emulation (KVM_SET_TSS_ADDR,
 * hv/kvm.c): in hv's map on every backend, so no ROM may take them. */
#define VM_KVM_TSS_GPA  0xfffbd000ULL
#define VM_KVM_TSS_SIZE 0x3000ULL

static bool ranges_meet(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/*
 * Place the ROMs (those without a GPA end at 4 GiB, each below the one
 * placed so before it) and check that each is page aligned, inside the GPA
 * space, and meets neither RAM, another ROM nor the KVM TSS pages. Device
 * windows are checked once the devices exist (check_rom_devices).
 */
static int layout_roms(struct vm *vm, char *err, size_t errlen)
{
	unsigned gpa_bits = vm->cfg.ept_levels == 5 ? 57 : 48;
	uint64_t top = VM_HIGH_RAM_GPA;

	if (vm->cfg.nrom > VM_MAX_ROMS)
		return errmsg(err, errlen, -EINVAL, "at most %u ROMs (got %u)", VM_MAX_ROMS,
			      vm->cfg.nrom);
	for (unsigned i = 0; i < vm->cfg.nrom; i++) {
		const struct vm_rom_config *c = &vm->cfg.rom[i];
		struct vm_rom *r = &vm->rom[i];

		if (!c->data || c->len == 0)
			return errmsg(err, errlen, -EINVAL, "ROM %s is empty", c->name);
		if (c->len > (1ULL << 30))
			return errmsg(err, errlen, -EFBIG, "ROM %s is %" PRIu64 " bytes; a ROM "
				      "is at most 1 GiB", c->name, c->len);
		r->name = c->name;
		r->len = c->len;
		r->size = (c->len + PAGE_SIZE_4K - 1) & ~(PAGE_SIZE_4K - 1);
		if (c->gpa == VM_ROM_AT_TOP) {
			if (r->size > top)
				return errmsg(err, errlen, -ERANGE, "ROM %s does not fit below 4 GiB",
					      c->name);
			r->gpa = top - r->size;
			top = r->gpa;
		} else {
			r->gpa = c->gpa;
		}
		if (r->gpa & (PAGE_SIZE_4K - 1))
			return errmsg(err, errlen, -EINVAL, "ROM %s at 0x%" PRIx64 ": the address "
				      "must be a multiple of 4 KiB", c->name, r->gpa);
		if (r->gpa + r->size < r->gpa || (r->gpa + r->size - 1) >> gpa_bits)
			return errmsg(err, errlen, -ERANGE, "ROM %s at 0x%" PRIx64 " does not fit "
				      "the %u-bit GPA space of %u-level EPT", c->name, r->gpa, gpa_bits,
				      vm->cfg.ept_levels);
		for (unsigned k = 0; k < vm->nram; k++)
			if (ranges_meet(r->gpa, r->size, vm->ram[k].gpa, vm->ram[k].size))
				return errmsg(err, errlen, -EINVAL, "ROM %s at [0x%" PRIx64 ", 0x%"
					      PRIx64 ") overlaps guest RAM [0x%" PRIx64 ", 0x%" PRIx64
					      "): place it in the hole below 4 GiB or above the end "
					      "of RAM", c->name, r->gpa, r->gpa + r->size,
					      vm->ram[k].gpa, vm->ram[k].gpa + vm->ram[k].size);
		for (unsigned k = 0; k < i; k++)
			if (ranges_meet(r->gpa, r->size, vm->rom[k].gpa, vm->rom[k].size))
				return errmsg(err, errlen, -EINVAL, "ROM %s at [0x%" PRIx64 ", 0x%"
					      PRIx64 ") overlaps ROM %s at [0x%" PRIx64 ", 0x%" PRIx64
					      ")", c->name, r->gpa, r->gpa + r->size, vm->rom[k].name,
					      vm->rom[k].gpa, vm->rom[k].gpa + vm->rom[k].size);
		if (ranges_meet(r->gpa, r->size, VM_KVM_TSS_GPA, VM_KVM_TSS_SIZE))
			return errmsg(err, errlen, -EINVAL, "ROM %s at [0x%" PRIx64 ", 0x%" PRIx64
				      ") overlaps [0x%llx, 0x%llx), the pages KVM's TSS takes: %s",
				      c->name, r->gpa, r->gpa + r->size, VM_KVM_TSS_GPA,
				      VM_KVM_TSS_GPA + VM_KVM_TSS_SIZE, c->gpa == VM_ROM_AT_TOP ?
				      "ROMs of more than 256 KiB in all need an address (FILE@GPA)" :
				      "choose another address");
		vm->nrom++;
	}
	/* The guest's memory map marks each ROM reserved, in address order. */
	for (unsigned i = 0; i < vm->nrom; i++) {
		unsigned at = vm->nmap;

		while (at > 0 && vm->map[at - 1].gpa > vm->rom[i].gpa) {
			vm->map[at] = vm->map[at - 1];
			at--;
		}
		vm->map[at] = (struct loader_region){ vm->rom[i].gpa, vm->rom[i].size, E820_RESERVED };
		vm->nmap++;
	}
	return 0;
}

/* No ROM may take a device window's addresses. */
static int check_rom_devices(struct vm *vm, char *err, size_t errlen)
{
	for (unsigned i = 0; i < vm->nrom; i++) {
		const struct vm_rom *r = &vm->rom[i];

		for (unsigned k = 0; k < vm->bus.n; k++) {
			const struct device *d = &vm->bus.dev[k];

			if (d->ops->space == DEV_MMIO && ranges_meet(r->gpa, r->size, d->base, d->len))
				return errmsg(err, errlen, -EINVAL, "ROM %s at [0x%" PRIx64 ", 0x%"
					      PRIx64 ") overlaps the device window of %s at [0x%" PRIx64
					      ", 0x%" PRIx64 ")", r->name, r->gpa, r->gpa + r->size,
					      d->ops->name, d->base, d->base + d->len);
		}
	}
	return 0;
}

static int check_config(const struct vm_config *cfg, char *err, size_t errlen)
{
	unsigned gpa_bits = cfg->ept_levels == 5 ? 57 : 48;
	uint64_t top;

	if (cfg->ept_levels != 4 && cfg->ept_levels != 5)
		return errmsg(err, errlen, -EINVAL, "EPT levels must be 4 or 5 (got %u)", cfg->ept_levels);
	if (cfg->ept_page_shift != PAGE_SHIFT_4K && cfg->ept_page_shift != PAGE_SHIFT_2M &&
	    cfg->ept_page_shift != PAGE_SHIFT_1G)
		return errmsg(err, errlen, -EINVAL, "EPT page size must be 4K, 2M or 1G");
	if (cfg->mem_size < (2ULL << 20) || (cfg->mem_size & (PAGE_SIZE_4K - 1)))
		return errmsg(err, errlen, -EINVAL,
			      "guest memory must be at least 2M and a multiple of 4K (got %" PRIu64 " bytes)",
			      cfg->mem_size);
	top = cfg->mem_size > VM_LOW_RAM_MAX ? VM_HIGH_RAM_GPA + (cfg->mem_size - VM_LOW_RAM_MAX)
					     : cfg->mem_size;
	if (top < cfg->mem_size || (top - 1) >> gpa_bits)
		return errmsg(err, errlen, -ERANGE,
			      "guest memory of %" PRIu64 " bytes does not fit the %u-bit GPA space of %u-level EPT",
			      cfg->mem_size, gpa_bits, cfg->ept_levels);
	if (!cfg->ops)
		return errmsg(err, errlen, -EINVAL, "no vCPU backend");
	if (!cfg->ops->counts_instructions && (cfg->max_insns || cfg->dirty_track_after))
		return errmsg(err, errlen, -EINVAL,
			      "the %s backend does not count instructions: --max-insns and "
			      "--dirty-track-after need --backend soft", cfg->ops->name);
	if ((cfg->cpu.off || cfg->cpu.phys_bits || cfg->cpu.vendor || cfg->cpu.signature) &&
	    strcmp(cfg->ops->name, "soft") != 0)
		return errmsg(err, errlen, -EINVAL,
			      "--cpu changes the software vCPU's CPUID: it needs --backend soft");
	return 0;
}

/* The local APIC's clock: the guest's TSC as the vCPU reported it at the
 * last exit (hv/vm_exit.c). */
static uint64_t lapic_clock(void *ctx)
{
	return ((const struct vm *)ctx)->tsc;
}

/* The local APIC's EOI of a level-triggered vector reaches the I/O APIC. */
static void lapic_eoi(void *ctx, uint8_t vector)
{
	ioapic_eoi(&((struct vm *)ctx)->ioapic, vector);
}

/*
 * An interrupt line of the PC (pc-testdev's IRQ ports): ISA IRQs 0-15 reach
 * the 8259 pair and the I/O APIC, where IRQ 0 is pin 2 (as the MADT's
 * override and fw_cfg's IRQ0 override say) and every other line n is pin n.
 */
static void pc_set_irq(void *ctx, unsigned line, int level)
{
	struct vm *vm = ctx;

	if (line < 16)
		pic_set_irq(&vm->pic, line, level);
	ioapic_set_irq(&vm->ioapic, line == 0 ? 2 : line, level);
}

/* The 8254's IRQ 0 and the RTC's IRQ 8 pass through the HPET, which takes
 * them over in legacy replacement mode. */
static void legacy_set_irq(void *ctx, unsigned line, int level)
{
	struct vm *vm = ctx;

	/* The RTC's IRQ 8 also sets PM1a_STS.RTC_STS (ACPI 4.8.3.1.1). */
	if (line == RTC_IRQ && level)
		acpi_pm_event(&vm->acpi_pm, ACPI_PM1_RTC_STS);
	hpet_legacy_irq(&vm->hpet, line, level);
}

void vm_firmware_lapic(struct vm *vm)
{
	/* As firmware leaves the BSP (and as QEMU resets it): LINT0 in ExtINT
	 * mode, unmasked, so the 8259 pair's INTR reaches the vCPU. */
	vm->lapic.lvt[3] = APIC_DM_EXTINT << APIC_LVT_DM_SHIFT;
}

/* The PC devices test kernels written for QEMU expect (hv/lapic.h,
 * hv/ioapic.h, hv/pic.h, hv/pit.h, hv/rtc.h, hv/hpet.h, hv/pc.h). */
static int add_pc_devices(struct vm *vm)
{
	static const struct device_ops *const testdev[] = {
		&pctestdev_data_ops, &pctestdev_flush_ops, &pctestdev_byte_ops,
		&pctestdev_irq_ops, &pctestdev_iomem_ops,
	};
	const struct lapic_host host = { .clock = lapic_clock, .eoi = lapic_eoi, .ctx = vm };
	int rc;

	lapic_init(&vm->lapic, 0, &host);
	vm_firmware_lapic(vm);
	ioapic_init(&vm->ioapic, &vm->lapic);
	pic_init(&vm->pic);
	hpet_init(&vm->hpet, lapic_clock, pc_set_irq, vm);
	pit_init(&vm->pit, lapic_clock, legacy_set_irq, vm);
	rtc_init(&vm->rtc, lapic_clock, legacy_set_irq, vm, vm->ram[0].size,
		 vm->nram > 1 ? vm->ram[1].size : 0, 1);
	acpi_pm_init(&vm->acpi_pm, lapic_clock, pc_set_irq, vm);
	fwcfg_init(&vm->fwcfg, 1, vm->cfg.mem_size);
	vm->testdev.set_irq = pc_set_irq;
	vm->testdev.irq_ctx = vm;
	rc = dev_bus_add(&vm->bus, &lapic_mmio_ops, UINT64_MAX, &vm->lapic, NULL);
	if (!rc)
		rc = dev_bus_add(&vm->bus, &ioapic_ops, UINT64_MAX, &vm->ioapic, NULL);
	if (!rc)
		rc = dev_bus_add(&vm->bus, &pic_master_ops, UINT64_MAX, &vm->pic, NULL);
	if (!rc)
		rc = dev_bus_add(&vm->bus, &pic_slave_ops, UINT64_MAX, &vm->pic, NULL);
	if (!rc)
		rc = dev_bus_add(&vm->bus, &pic_elcr_ops, UINT64_MAX, &vm->pic, NULL);
	if (!rc)
		rc = dev_bus_add(&vm->bus, &pit_ops, UINT64_MAX, &vm->pit, NULL);
	if (!rc)
		rc = dev_bus_add(&vm->bus, &pit_port61_ops, UINT64_MAX, &vm->pit, NULL);
	if (!rc)
		rc = dev_bus_add(&vm->bus, &rtc_ops, UINT64_MAX, &vm->rtc, NULL);
	if (!rc)
		rc = dev_bus_add(&vm->bus, &hpet_ops, UINT64_MAX, &vm->hpet, NULL);
	if (!rc)
		rc = dev_bus_add(&vm->bus, &acpi_pm_ops, UINT64_MAX, &vm->acpi_pm, NULL);
	if (!rc)
		rc = dev_bus_add(&vm->bus, &fwcfg_ops, UINT64_MAX, &vm->fwcfg, NULL);
	for (unsigned i = 0; !rc && i < sizeof(testdev) / sizeof(testdev[0]); i++)
		rc = dev_bus_add(&vm->bus, testdev[i], UINT64_MAX, &vm->testdev, NULL);
	return rc;
}

static int add_devices(struct vm *vm)
{
	int rc;

	uart_init(&vm->uart, vm->cfg.serial_out, vm->cfg.serial_in_fd);
	pci_host_init(&vm->pci);
	rc = dev_bus_add(&vm->bus, &uart_ops, UINT64_MAX, &vm->uart, NULL);
	if (!rc)
		rc = dev_bus_add(&vm->bus, &debugexit_ops, UINT64_MAX, NULL, NULL);
	if (!rc)
		rc = dev_bus_add(&vm->bus, &pci_host_ops, UINT64_MAX, &vm->pci, NULL);
	if (!rc)
		rc = dev_bus_add(&vm->bus, &hvtest_ops, UINT64_MAX, &vm->hvtest, NULL);
	if (!rc)
		rc = add_pc_devices(vm);
	if (!rc && (vm->cfg.edu || vm->cfg.iommu))
		rc = vm_dma_create(vm);
	if (rc)
		return rc;
	/* Tell the backend which non-RAM GPAs are devices: accesses there are
	 * MMIO exits, anything else outside RAM stays an EPT violation. */
	for (unsigned i = 0; i < vm->bus.n; i++)
		if (vm->bus.dev[i].ops->space == DEV_MMIO)
			vm->mmio[vm->nmmio++] = (struct gpa_range){ vm->bus.dev[i].base, vm->bus.dev[i].len };
	/* Each ROM's entry, empty until a write to it is being completed
	 * (vm_rom_violation). */
	for (unsigned i = 0; i < vm->nrom; i++) {
		vm->rom[i].arm = vm->nmmio;
		vm->mmio[vm->nmmio++] = (struct gpa_range){ 0, 0 };
	}
	return 0;
}

int vm_create(const struct vm_config *cfg, struct vm **out, char *err, size_t errlen)
{
	const struct ept_caps caps = { .exec_only = true, .page_1g = true, .mbec = false };
	struct vcpu_config vcfg;
	struct vm *vm;
	char why[160] = "";
	uint64_t reserve;
	int rc;

	rc = check_config(cfg, err, errlen);
	if (rc)
		return rc;
	if (cfg->ops->probe) {
		rc = cfg->ops->probe(why, sizeof(why));
		if (rc)
			return errmsg(err, errlen, rc, "the %s backend cannot run here: %s",
				      cfg->ops->name, why);
	}
	if (cfg->policy == MEM_LAZY && cfg->ops->probe_lazy) {
		rc = cfg->ops->probe_lazy(why, sizeof(why));
		if (rc)
			return errmsg(err, errlen, rc, "the %s backend cannot map guest RAM lazily "
				      "here: %s (--mem-policy eager needs no userfaultfd)",
				      cfg->ops->name, why);
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return errmsg(err, errlen, -ENOMEM, "out of memory");
	vm->cfg = *cfg;
	vm->ops = cfg->ops;
	layout_memory(vm);
	rc = layout_roms(vm, err, errlen);
	if (rc) {
		free(vm);
		return rc;
	}

	/* The reservation is sparse: room for all of RAM, the EPT tables (a
	 * 4 KiB table per 2 MiB of 4 KiB-mapped RAM, well under 1%) and the
	 * alignment of the largest pages. Only what is touched costs memory. */
	reserve = cfg->mem_size + cfg->mem_size / 256 + (2ULL << 30);
	rc = (cfg->ops->needs_memfd_pool ? hpool_create_memfd : hpool_create)(reserve, &vm->pool);
	if (rc) {
		errmsg(err, errlen, rc, "cannot reserve %" PRIu64 " MiB of host address space for the "
		       "guest: %s (an address-space limit, ulimit -v, counts it all)",
		       reserve >> 20, strerror(-rc));
		goto out_free;
	}
	rc = ept_create(vm->pool, cfg->ept_levels, true, &caps, &vm->ept);
	if (rc) {
		errmsg(err, errlen, rc, "cannot create the EPT: %s", strerror(-rc));
		goto out_pool;
	}
	rc = mmu_create(vm->pool, &cfg->mmu, &vm->mmu);
	if (rc) {
		errmsg(err, errlen, rc, "cannot create the translation model: %s", strerror(-rc));
		goto out_ept;
	}
	/* The backend's memory first: a device's page mapped through EPT (edu
	 * passed through) goes through its map like RAM. vcfg.nmmio is set once
	 * the devices are registered, before the vCPU is created. */
	vcfg = (struct vcpu_config){
		.pool = vm->pool,
		.ept = vm->ept,
		.mem_size = cfg->mem_size,
		.mmio = vm->mmio,
		.nram = vm->nram,
		.lapic_exits = true,
		.lazy = cfg->policy == MEM_LAZY,
		.async_kick = cfg->passthrough != PT_OFF,
		.exit_now = vm_exit_now,
		.exit_ctx = vm,
		.soft = { .mmu = vm->mmu, .vpid = 1, .features_off = cfg->cpu.off,
			  .phys_bits = cfg->cpu.phys_bits, .vendor = cfg->cpu.vendor,
			  .signature = cfg->cpu.signature },
	};
	for (unsigned i = 0; i < vm->nram; i++)
		vcfg.ram[i] = (struct gpa_range){ vm->ram[i].gpa, vm->ram[i].size };
	for (unsigned i = 0; i < vm->nrom; i++)
		vcfg.rom[i] = (struct gpa_range){ vm->rom[i].gpa, vm->rom[i].size };
	vcfg.nrom = vm->nrom;
	rc = vm->ops->mem_create(&vcfg, &vm->mem);
	if (rc) {
		errmsg(err, errlen, rc, "cannot set up guest memory for the %s backend: %s%s",
		       vm->ops->name, strerror(-rc), rc == -ENOTSUP && vm->nrom ?
		       " (ROM needs read-only memory: KVM_CAP_READONLY_MEM)" : "");
		goto out_mmu;
	}
	/* The device windows are known before the vCPU is: register first. */
	rc = add_devices(vm);
	if (rc) {
		errmsg(err, errlen, rc, "cannot register the devices: %s", strerror(-rc));
		goto out_mem;
	}
	vcfg.nmmio = vm->nmmio;
	rc = check_rom_devices(vm, err, errlen);
	if (rc)
		goto out_mem;
	if (cfg->policy == MEM_EAGER) {
		rc = vm_map_all_ram(vm);
		if (rc) {
			errmsg(err, errlen, rc, "cannot map %" PRIu64 " bytes of guest RAM: %s",
			       cfg->mem_size, strerror(-rc));
			goto out_mem;
		}
	}
	/* After RAM, so that RAM gets the frames it gets without a ROM. */
	rc = vm_map_roms(vm);
	if (rc) {
		errmsg(err, errlen, rc, "cannot map the ROM: %s", strerror(-rc));
		goto out_mem;
	}
	rc = vm->ops->create(&vcfg, vm->mem, &vm->vcpu);
	if (rc) {
		errmsg(err, errlen, rc, "cannot create the %s vCPU: %s", vm->ops->name, strerror(-rc));
		goto out_mem;
	}
	*out = vm;
	return 0;

out_mem:
	vm->ops->mem_destroy(vm->mem);
out_mmu:
	vm_dma_destroy(vm);
	mmu_destroy(vm->mmu);
out_ept:
	ept_destroy(vm->ept);
out_pool:
	hpool_destroy(vm->pool);
out_free:
	free(vm);
	return rc;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	vm->ops->destroy(vm->vcpu);
	vm->ops->mem_destroy(vm->mem);
	vm_dma_destroy(vm);
	mmu_destroy(vm->mmu);
	ept_destroy(vm->ept);
	hpool_destroy(vm->pool);
	free(vm->dirty.wp.bits);
	free(vm->dirty.ad.bits);
	free(vm->dirty.dma.bits);
	free(vm);
}

/* PVH and multiboot both start here: 32-bit protected mode, paging off, flat
 * 4 GiB code and data segments, interrupts off (PVH ABI; Multiboot 3.2). */
static int set_entry_state(struct vm *vm)
{
	const struct vcpu_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = 0x10, .type = 0xb, .s = 1,
		.dpl = 0, .present = 1, .db = 1, .g = 1,
	};
	const struct vcpu_segment data = {
		.base = 0, .limit = 0xffffffff, .selector = 0x18, .type = 0x3, .s = 1,
		.dpl = 0, .present = 1, .db = 1, .g = 1,
	};
	struct vcpu_sregs s;
	struct vcpu_regs r;
	int rc;

	rc = vm->ops->get_sregs(vm->vcpu, &s);
	if (rc)
		return rc;
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.tr = (struct vcpu_segment){ .limit = 0xffff, .type = 0xb, .present = 1 };
	s.ldt = (struct vcpu_segment){ .unusable = 1 };
	s.gdt = (struct vcpu_dtable){ 0, 0 };
	s.idt = (struct vcpu_dtable){ 0, 0 };
	s.cr0 = CR0_PE | (1ULL << 4); /* PE, ET */
	s.cr2 = s.cr3 = s.cr4 = s.cr8 = 0;
	s.efer = 0;
	rc = vm->ops->set_sregs(vm->vcpu, &s);
	if (rc)
		return rc;
	memset(&r, 0, sizeof(r));
	r.rip = vm->boot.entry;
	r.rflags = 0x2; /* bit 1 is always set */
	r.gpr[0] = vm->boot.eax;
	r.gpr[3] = vm->boot.ebx;
	return vm->ops->set_regs(vm->vcpu, &r);
}

static int loader_write(void *ctx, uint64_t gpa, const void *src, uint64_t len)
{
	return vm_write_gpa(ctx, gpa, src, len);
}

int vm_load(struct vm *vm, const char *path, const char *cmdline, char *err, size_t errlen)
{
	const struct loader_target t = {
		.write = loader_write, .ctx = vm, .map = vm->map, .nmap = vm->nmap,
		.kernel_name = path,
	};
	uint8_t acpi[ACPI_AREA_SIZE];
	int rc;

	/* The ACPI tables in the BIOS area, where an OS looks for them. */
	acpi_build(acpi, ACPI_BASE);
	/* A guest-visible VT-d unit is announced as firmware does: DMAR. */
	if (vm->dma && vm->dma->iommu && !vm->dma->passthrough)
		acpi_add_dmar(acpi, ACPI_BASE, IOMMU_BASE, IOMMU_HAW_BITS);
	rc = vm_write_gpa(vm, ACPI_BASE, acpi, sizeof(acpi));
	if (rc)
		return errmsg(err, errlen, rc, "cannot write the ACPI tables: %s", strerror(-rc));
	if (vm->cfg.bios_state) {
		rc = bios_state_setup(&vm->bus, loader_write, vm);
		if (rc)
			return errmsg(err, errlen, rc, "cannot write the BIOS state: %s", strerror(-rc));
	}
	rc = loader_load_file(path, cmdline, &t, &vm->boot, err, errlen);
	if (rc)
		return rc;
	rc = set_entry_state(vm);
	if (rc)
		return errmsg(err, errlen, rc, "cannot set the vCPU entry state: %s", strerror(-rc));
	if (vm->dma && vm->cfg.edu) {
		rc = vm_dma_start(vm);
		if (rc)
			return errmsg(err, errlen, rc, "cannot set up the DMA side (canary, pass-through "
				      "domain): %s", strerror(-rc));
	}
	return 0;
}
