/* SPDX-License-Identifier: MIT */
/*
 * hv/run_dma.c - the DMA and IOMMU part of `hv run`'s report (text and
 * JSON): edu's transfers, the VT-d unit's translations, caches and faults
 * with their reasons, and the canary page. docs/iommu.md shows an example.
 */
#include <inttypes.h>

#include "hv/cliutil.h"
#include "hv/vm.h"
#include "hv/vm_dma.h"

static void sid_name(uint16_t sid, char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x.%u", sid >> 8, (sid >> 3) & 0x1f, sid & 7);
}

/* The GPA an entry of BAR0's EPT table (level 1) maps. */
static uint64_t ept_entry_gpa(unsigned i)
{
	return (EDU_BAR_BASE & ~(PAGE_SIZE_2M - 1)) + (uint64_t)i * PAGE_SIZE_4K;
}

/* hv's canary and BAR0's EPT table page after a pass-through run. */
static void hv_pages_text(FILE *f, struct vm *vm)
{
	const struct vm_dma *d = vm->dma;

	if (d->hv_canary_changed)
		fprintf(f, "hv's canary at HPA 0x%" PRIx64 ": DAMAGED, %" PRIu64 " of %llu bytes changed "
			"(first at HPA 0x%" PRIx64 ")\n", d->hv_canary, d->hv_canary_changed, CANARY_SIZE,
			d->hv_canary_first);
	else
		fprintf(f, "hv's canary at HPA 0x%" PRIx64 ": intact (%llu bytes)\n", d->hv_canary,
			CANARY_SIZE);
	if (!d->ept_changed) {
		fprintf(f, "EPT table page at HPA 0x%" PRIx64 " (GPA 0x%" PRIx64 "-0x%" PRIx64 "): intact\n",
			d->ept_page, ept_entry_gpa(0), ept_entry_gpa(512) - 1);
		return;
	}
	uint64_t v = d->ept_first_value, hpa = v & EPT_ADDR_MASK;
	bool hvmem = hpool_owner(vm->pool, hpa) == FRAME_HV;

	fprintf(f, "EPT table page at HPA 0x%" PRIx64 ": CHANGED, %u entr%s; entry %u (GPA 0x%" PRIx64
		") = 0x%016" PRIx64 "\n", d->ept_page, d->ept_changed, d->ept_changed == 1 ? "y" : "ies",
		d->ept_first, ept_entry_gpa(d->ept_first), v);
	if (v & EPT_RWX)
		fprintf(f, "  it maps HPA 0x%" PRIx64 "%s%s%s%s: the guest %s with plain loads and stores\n",
			hpa, hpa == d->hv_canary ? " (hv's canary)" : hvmem ? " (hv's own memory)" : "",
			v & EPT_R ? " R" : "", v & EPT_W ? "W" : "", v & EPT_X ? "X" : "",
			hvmem ? "reaches hv's own memory" : "reaches memory hv never gave it");
}

#define ROW(f, label, v) fprintf(f, "  %-22s %14" PRIu64 "\n", label, (uint64_t)(v))

void run_dma_report_text(FILE *f, struct vm *vm)
{
	const struct vm_dma *d = vm->dma;
	char sid[16];

	if (!d)
		return;
	if (vm->cfg.edu) {
		const struct edu_stats *e = &d->edu.st;

		sid_name(d->edu.sid, sid, sizeof(sid));
		fprintf(f, "DMA (edu at %s, %s)\n", sid,
			d->passthrough ? (d->iommu ? "passed through, DMA through hv's VT-d unit"
						   : "passed through, no IOMMU: bus addresses are HPAs") :
			d->iommu ? "through the VT-d unit" : "no IOMMU: bus addresses are GPAs");
		ROW(f, "transfers", e->dma);
		ROW(f, "bytes moved", e->dma_bytes);
		ROW(f, "refused by the IOMMU", e->dma_faults - d->aborts);
		ROW(f, "aborted (not RAM)", d->aborts);
		if (vm->nrom)
			ROW(f, "writes dropped at ROM", d->rom_writes);
		ROW(f, "outside edu's buffer", e->dma_range_errors);
		ROW(f, "bus master off", e->dma_no_master);
		ROW(f, "cut to the DMA mask", e->dma_clamped);
		ROW(f, "interrupts raised", e->irqs);
		ROW(f, "MSIs sent", e->msis);
		ROW(f, "EPT references", d->stage2_refs);
		ROW(f, "register reads (exits)", e->reg_reads);
		ROW(f, "register writes (exits)", e->reg_writes);
	}
	if (d->passthrough) {
		fprintf(f, "Pass-through (BAR0 registers at GPA 0x%llx = HPA 0x%" PRIx64 " through EPT)\n",
			EDU_BAR_BASE, d->bar_hpa);
		ROW(f, "device looks", d->polls);
		ROW(f, "register writes seen", d->noticed);
		if (d->iommu)
			fprintf(f, "  %-22s %14s\n", "second-level tables",
				vm->cfg.passthrough == PT_SHARED ? "EPT's" : "hv's own");
		if (d->sl.top) {
			ROW(f, "  table pages", d->sl.tables);
			ROW(f, "  RAM pinned (bytes)", d->pinned);
		}
		if (!d->iommu) {
			/* Bus addresses are HPAs: where the device's writes went. */
			ROW(f, "writes to guest RAM", d->hpa_writes_ram);
			ROW(f, "writes to hv's memory", d->hpa_writes_hv);
			if (d->hpa_writes_ram && d->last_ram_gpa != ~0ULL)
				fprintf(f, "  %-22s HPA 0x%" PRIx64 " = GPA 0x%" PRIx64 " (EPT)\n",
					"last to guest RAM", d->last_ram_hpa, d->last_ram_gpa);
		}
	}
	if (d->iommu) {
		const struct iommu_stats *s = iommu_get_stats(d->iommu);
		struct iommu_fault l;

		if (d->passthrough)
			fprintf(f, "IOMMU (hv's VT-d unit, not visible to the guest, translation %s at the end)\n",
				iommu_reg_read(d->iommu, VTD_GSTS_REG, 4) & VTD_GSTS_TES ? "on" : "off");
		else
			fprintf(f, "IOMMU (VT-d at 0x%llx, translation %s at the end)\n", IOMMU_BASE,
				iommu_reg_read(d->iommu, VTD_GSTS_REG, 4) & VTD_GSTS_TES ? "on" : "off");
		ROW(f, "DMA requests", s->dma);
		ROW(f, "bytes", s->dma_bytes);
		ROW(f, "translations", s->translations);
		fprintf(f, "  %-22s %14" PRIu64 " / %" PRIu64 "\n", "IOTLB hits / misses",
			s->iotlb.hits, s->iotlb.misses);
		fprintf(f, "  %-22s %14" PRIu64 " / %" PRIu64 "\n", "context hits / misses",
			s->ctx.hits, s->ctx.misses);
		ROW(f, "second-level refs", s->walk_refs);
		ROW(f, "EPT refs (stage 2)", s->stage2_refs);
		if (s->dma) {
			fprintf(f, "  %-22s %14.2f\n", "refs per DMA, 1 stage",
				(double)s->walk_refs / (double)s->dma);
			if (!d->passthrough)
				fprintf(f, "  %-22s %14.2f\n", "refs per DMA, 2 stages",
					(double)(s->walk_refs + s->stage2_refs) / (double)s->dma);
		}
		ROW(f, "invalidations", s->ccmd_inv + s->iotlb_reg_inv + s->qi_desc);
		ROW(f, "register reads (exits)", d->vtd_reads);
		ROW(f, "register writes (exits)", d->vtd_writes);
		ROW(f, "faults", s->faults);
		if (s->fault_events)
			ROW(f, "  fault events (MSIs)", s->fault_events);
		for (unsigned r = 1; r <= VTD_FR_MAX; r++)
			if (s->by_reason[r])
				fprintf(f, "    reason 0x%x %-22s %" PRIu64 "\n", r,
					iommu_fault_reason_name(r), s->by_reason[r]);
		for (unsigned i = 0; iommu_fault_log(d->iommu, i, &l); i++) {
			sid_name(l.sid, sid, sizeof(sid));
			fprintf(f, "    fault %u: %s %s page 0x%" PRIx64 ", reason 0x%x (%s)%s\n", i,
				sid, l.read ? "read" : "write", l.addr, l.reason,
				iommu_fault_reason_name(l.reason), l.recorded ? "" : ", not recorded");
		}
	}
	if (d->canary_checked && d->passthrough)
		hv_pages_text(f, vm);
	if (d->canary_checked && d->canary_placed) {
		if (d->canary_changed)
			fprintf(f, "Canary at GPA 0x%llx: DAMAGED, %" PRIu64 " of %llu bytes changed "
				"(first at GPA 0x%" PRIx64 ")\n", CANARY_GPA, d->canary_changed,
				CANARY_SIZE, d->canary_first);
		else
			fprintf(f, "Canary at GPA 0x%llx: intact (%llu bytes)\n", CANARY_GPA,
				CANARY_SIZE);
	}
}

void run_dma_report_json(struct json *j, struct vm *vm)
{
	const struct vm_dma *d = vm->dma;
	char buf[32];

	if (!d)
		return;
	if (vm->cfg.edu) {
		const struct edu_stats *e = &d->edu.st;

		json_obj_begin(j, "dma");
		sid_name(d->edu.sid, buf, sizeof(buf));
		json_str(j, "device", buf);
		json_bool(j, "iommu", d->iommu != NULL);
		json_u64(j, "transfers", e->dma);
		json_u64(j, "bytes", e->dma_bytes);
		json_u64(j, "iommu_refused", e->dma_faults - d->aborts);
		json_u64(j, "aborted", d->aborts);
		if (vm->nrom)
			json_u64(j, "rom_writes_dropped", d->rom_writes);
		json_u64(j, "range_errors", e->dma_range_errors);
		json_u64(j, "no_bus_master", e->dma_no_master);
		json_u64(j, "clamped", e->dma_clamped);
		json_u64(j, "interrupts", e->irqs);
		json_u64(j, "msis", e->msis);
		json_u64(j, "ept_refs", d->stage2_refs);
		json_u64(j, "register_reads", e->reg_reads);
		json_u64(j, "register_writes", e->reg_writes);
		json_obj_end(j);
	}
	if (d->passthrough) {
		json_obj_begin(j, "passthrough");
		json_u64(j, "bar_gpa", EDU_BAR_BASE);
		json_u64(j, "bar_hpa", d->bar_hpa);
		json_u64(j, "device_looks", d->polls);
		json_u64(j, "register_writes_seen", d->noticed);
		json_u64(j, "halt_looks", d->hlt_looks);
		json_u64(j, "halt_wakes", d->hlt_wakes);
		json_str(j, "tables", !d->iommu ? "none" :
			 vm->cfg.passthrough == PT_SHARED ? "shared" : "separate");
		json_u64(j, "table_pages", d->sl.tables);
		json_u64(j, "pinned_bytes", d->pinned);
		if (!d->iommu) {
			json_u64(j, "writes_to_guest_ram", d->hpa_writes_ram);
			json_u64(j, "writes_to_hv_memory", d->hpa_writes_hv);
			if (d->hpa_writes_ram) {
				json_u64(j, "last_ram_write_hpa", d->last_ram_hpa);
				if (d->last_ram_gpa != ~0ULL)
					json_u64(j, "last_ram_write_gpa", d->last_ram_gpa);
			}
		}
		json_obj_end(j);
	}
	if (d->iommu) {
		const struct iommu_stats *s = iommu_get_stats(d->iommu);
		struct iommu_fault l;

		json_obj_begin(j, "iommu");
		json_u64(j, "base", d->passthrough ? 0 : IOMMU_BASE);
		json_bool(j, "guest_visible", !d->passthrough);
		json_bool(j, "translation",
			  (iommu_reg_read(d->iommu, VTD_GSTS_REG, 4) & VTD_GSTS_TES) != 0);
		json_u64(j, "dma_requests", s->dma);
		json_u64(j, "dma_bytes", s->dma_bytes);
		json_u64(j, "translations", s->translations);
		json_u64(j, "iotlb_hits", s->iotlb.hits);
		json_u64(j, "iotlb_misses", s->iotlb.misses);
		json_u64(j, "context_hits", s->ctx.hits);
		json_u64(j, "context_misses", s->ctx.misses);
		json_u64(j, "walk_refs", s->walk_refs);
		json_u64(j, "stage2_lookups", s->stage2_lookups);
		json_u64(j, "stage2_refs", s->stage2_refs);
		json_f64(j, "refs_per_dma", s->dma ? (double)s->walk_refs / (double)s->dma : 0);
		json_f64(j, "refs_per_dma_two_stages",
			 s->dma ? (double)(s->walk_refs + s->stage2_refs) / (double)s->dma : 0);
		json_u64(j, "context_invalidations", s->ccmd_inv);
		json_u64(j, "iotlb_invalidations", s->iotlb_reg_inv);
		json_u64(j, "queued_descriptors", s->qi_desc);
		json_u64(j, "queue_errors", s->qi_errors);
		json_u64(j, "queue_waits", s->qi_waits);
		json_u64(j, "iotlb_entries", vm->cfg.iommu_caches ? vm->cfg.iotlb.entries : 64);
		json_u64(j, "context_cache_entries", vm->cfg.iommu_caches ? vm->cfg.ctx_cache.entries : 16);
		json_u64(j, "fault_events", s->fault_events);
		json_u64(j, "register_reads", d->vtd_reads);
		json_u64(j, "register_writes", d->vtd_writes);
		json_u64(j, "faults", s->faults);
		json_u64(j, "faults_recorded", s->recorded);
		json_u64(j, "faults_suppressed_fpd", s->suppressed_fpd);
		json_u64(j, "faults_overflow", s->overflow);
		json_obj_begin(j, "faults_by_reason");
		for (unsigned r = 1; r <= VTD_FR_MAX; r++) {
			if (!s->by_reason[r])
				continue;
			snprintf(buf, sizeof(buf), "0x%x", r);
			json_u64(j, buf, s->by_reason[r]);
		}
		json_obj_end(j);
		json_arr_begin(j, "fault_log");
		for (unsigned i = 0; iommu_fault_log(d->iommu, i, &l); i++) {
			json_obj_begin(j, NULL);
			sid_name(l.sid, buf, sizeof(buf));
			json_str(j, "source", buf);
			json_u64(j, "sid", l.sid);
			json_str(j, "access", l.read ? "read" : "write");
			json_u64(j, "page", l.addr);
			json_u64(j, "reason", l.reason);
			json_str(j, "reason_name", iommu_fault_reason_name(l.reason));
			json_bool(j, "recorded", l.recorded);
			json_obj_end(j);
		}
		json_arr_end(j);
		json_obj_end(j);
	}
	if (d->canary_checked && d->passthrough) {
		json_obj_begin(j, "hv_canary");
		json_u64(j, "hpa", d->hv_canary);
		json_u64(j, "size", CANARY_SIZE);
		json_u64(j, "changed_bytes", d->hv_canary_changed);
		json_u64(j, "first_changed", d->hv_canary_changed ? d->hv_canary_first : 0);
		json_obj_end(j);
		json_obj_begin(j, "ept_watch");
		json_u64(j, "hpa", d->ept_page);
		json_u64(j, "gpa", EDU_BAR_BASE & ~(PAGE_SIZE_2M - 1));
		json_u64(j, "changed_entries", d->ept_changed);
		if (d->ept_changed) {
			json_u64(j, "first_gpa", ept_entry_gpa(d->ept_first));
			json_u64(j, "first_value", d->ept_first_value);
			json_bool(j, "maps_hv_memory", hpool_owner(vm->pool, d->ept_first_value & EPT_ADDR_MASK) == FRAME_HV);
		}
		json_obj_end(j);
	}
	if (d->canary_checked && d->canary_placed) {
		json_obj_begin(j, "canary");
		json_u64(j, "gpa", CANARY_GPA);
		json_u64(j, "size", CANARY_SIZE);
		json_u64(j, "changed_bytes", d->canary_changed);
		json_u64(j, "first_changed", d->canary_changed ? d->canary_first : 0);
		json_obj_end(j);
	}
}
