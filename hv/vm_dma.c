/* SPDX-License-Identifier: MIT */
/*
 * hv/vm_dma.c - the VM's DMA side (hv/vm_dma.h): edu's DMA path through the
 * VT-d unit or straight to guest-physical memory, the unit's register window
 * on the MMIO bus, MSIs to the local APIC, and the canary page.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv/vm_dma.h"
#include "hv/vm_internal.h"

/* The unit's second stage: its "physical" addresses are guest-physical. */
static int dma_stage2(void *ctx, uint64_t gpa, bool write, uint64_t *hpa, unsigned *refs)
{
	struct vm *vm = ctx;
	int rc;

	(void)write;
	rc = vm_gpa_to_hpa(vm, gpa, hpa, refs);
	vm->dma->stage2_refs += *refs;
	return rc;
}

static void dma_msi(void *ctx, uint64_t addr, uint32_t data)
{
	struct vm *vm = ctx;

	/* An MSI to an address the APIC does not decode is a write to nowhere. */
	(void)lapic_msi(&vm->lapic, addr, data);
}

/* Without an IOMMU the bus address is the GPA. */
static int dma_direct(struct vm *vm, uint64_t gpa, void *buf, uint64_t len, bool write)
{
	uint8_t *b = buf;

	while (len) {
		uint64_t chunk = PAGE_SIZE_4K - (gpa & (PAGE_SIZE_4K - 1)), hpa;
		unsigned refs = 0;
		int rc;

		if (chunk > len)
			chunk = len;
		rc = vm_gpa_to_hpa(vm, gpa, &hpa, &refs);
		vm->dma->stage2_refs += refs;
		if (rc)
			return rc;
		if (write)
			memcpy(hpool_ptr(vm->pool, hpa), b, chunk);
		else
			memcpy(b, hpool_ptr(vm->pool, hpa), chunk);
		b += chunk;
		gpa += chunk;
		len -= chunk;
	}
	return 0;
}

static int edu_dma(void *ctx, uint16_t sid, uint64_t addr, void *buf, uint64_t len, bool write,
		   unsigned *reason)
{
	struct vm *vm = ctx;
	struct iommu_xlate x;
	int rc;

	*reason = 0;
	if (len == 0 || addr + len - 1 < addr)
		return -EINVAL;
	if (vm->dma->iommu) {
		rc = iommu_dma(vm->dma->iommu, sid, addr, buf, len, write, &x);
		if (rc == -EFAULT && x.reason)
			*reason = x.reason;
	} else {
		rc = dma_direct(vm, addr, buf, len, write);
	}
	if (rc && !*reason)
		vm->dma->aborts++;
	return rc;
}

/* The unit's window: priv is the VM (its vm_dma holds the unit). */
static uint64_t vtd_read(struct device *dev, uint64_t off, unsigned size)
{
	struct vm_dma *d = ((struct vm *)dev->priv)->dma;

	d->vtd_reads++;
	return iommu_reg_read(d->iommu, off, size);
}

static void vtd_write(struct device *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct vm_dma *d = ((struct vm *)dev->priv)->dma;

	d->vtd_writes++;
	iommu_reg_write(d->iommu, off, size, val);
}

static void vtd_reset(struct device *dev)
{
	iommu_reset(((struct vm *)dev->priv)->dma->iommu);
}

/* VT-d chapter 11: the register block, at QEMU's default base. */
static const struct device_ops vtd_mmio_ops = {
	.name = "vt-d",
	.space = DEV_MMIO,
	.base = IOMMU_BASE,
	.len = IOMMU_LEN,
	.read = vtd_read,
	.write = vtd_write,
	.reset = vtd_reset,
};

int vm_dma_create(struct vm *vm)
{
	struct vm_dma *d;
	int rc;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	vm->dma = d;
	if (vm->cfg.edu) {
		edu_init(&d->edu, EDU_PCI_DEV, EDU_BAR_BASE, edu_dma, dma_msi, vm);
		rc = pci_register(&vm->pci, EDU_PCI_DEV, 0, &d->edu.fn);
		if (!rc)
			rc = dev_bus_add(&vm->bus, &edu_mmio_ops, EDU_BAR_BASE, &d->edu, NULL);
		if (rc)
			return rc;
	}
	if (!vm->cfg.iommu)
		return 0;

	struct iommu_config cfg;

	iommu_config_default(&cfg);
	cfg.msi = dma_msi;
	cfg.msi_ctx = vm;
	cfg.mem = (struct iommu_mem){ .translate = dma_stage2, .ctx = vm };
	rc = iommu_create(vm->pool, &cfg, &d->iommu);
	if (rc)
		return rc;
	return dev_bus_add(&vm->bus, &vtd_mmio_ops, IOMMU_BASE, vm, NULL);
}

void vm_dma_destroy(struct vm *vm)
{
	if (!vm->dma)
		return;
	if (vm->dma->iommu)
		iommu_destroy(vm->dma->iommu);
	free(vm->dma);
	vm->dma = NULL;
}

int vm_dma_place_canary(struct vm *vm)
{
	uint8_t page[CANARY_SIZE];

	if (!vm_gpa_is_ram(vm, CANARY_GPA, CANARY_SIZE))
		return 0;
	memset(page, CANARY_BYTE, sizeof(page));
	vm->dma->canary_placed = true;
	return vm_write_gpa(vm, CANARY_GPA, page, sizeof(page));
}

int vm_dma_check_canary(struct vm *vm)
{
	uint8_t page[CANARY_SIZE];
	struct vm_dma *d = vm->dma;
	int rc;

	if (!d->canary_placed || d->canary_checked)
		return 0;
	rc = vm_read_gpa(vm, CANARY_GPA, page, sizeof(page));
	if (rc)
		return rc;
	d->canary_checked = true;
	for (uint64_t i = 0; i < CANARY_SIZE; i++) {
		if (page[i] == CANARY_BYTE)
			continue;
		if (!d->canary_changed)
			d->canary_first = CANARY_GPA + i;
		d->canary_changed++;
	}
	return 0;
}
