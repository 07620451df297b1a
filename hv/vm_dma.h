/* SPDX-License-Identifier: MIT */
/*
 * hv/vm_dma.h - the VM's DMA side: the edu device on the PCI bus, the VT-d
 * unit in front of it (a guest-visible IOMMU at 0xfed90000) and a canary
 * page that shows what a DMA reaches when no IOMMU stands in the way.
 *
 * DMA path of a device request (bus address `addr`, source id `sid`):
 *   with the IOMMU:  addr --guest's VT-d tables--> GPA --EPT--> HPA
 *                    (the unit's tables are guest-physical too: every entry
 *                    the unit reads goes through EPT, like the 2D walk)
 *   without:         addr is a GPA --EPT--> HPA
 * A request the IOMMU refuses is a VT-d fault in its recording registers;
 * nothing moves. A GPA that is not RAM aborts the request (counted). A GPA
 * in a ROM (--rom) is read as the processor reads it; a write there is
 * dropped by the ROM (counted), as a PC's chipset drops the processor's.
 * Where hv programs the unit itself (pass-through), its second level maps
 * each ROM read-only, as EPT does: the write is a remapping fault, reason
 * 0x5 (VT-d 7.1.3: a write to a page without write permission).
 *
 * Pass-through (vm_config.passthrough): the guest owns edu and does not know
 * an IOMMU exists. The page of BAR0 that holds the registers is a frame
 * mapped through EPT, so the guest's register accesses are plain memory
 * accesses (no exit); the device looks at that page on its own every
 * VM_DMA_POLL_INSNS guest instructions (a deterministic point), acts on what
 * changed there and writes its registers back. On a backend whose vCPU does
 * not stop at instruction counts (KVM) the device is a thread of its own
 * instead, looking at the page every VM_DMA_POLL_US microseconds while the
 * guest runs on another CPU (and at every exit, as on the software vCPU);
 * an MSI it raises kicks the vCPU out of the guest to take it. Its lock
 * guards the device state, the unit, the local APIC and hv's map: the
 * thread holds it for each look, the exit loop at all times except while
 * the vCPU runs. Its DMA addresses are then
 * guest-physical, translated by a VT-d unit hv programs itself:
 *   bus address (GPA) --hv's second-level tables (or EPT's)--> HPA
 * and without an IOMMU (--no-iommu) they are host-physical addresses, which
 * is what makes pass-through without one unsafe.
 *
 * hv's own memory, watched for a pass-through device: a canary page hv
 * allocates outside guest RAM once RAM is mapped (so its HPA lies above the
 * HPAs of guest RAM, and as a bus address it is no GPA of RAM), and the EPT
 * table page that maps BAR0 (a copy is kept to compare). vm_dma_cmdline
 * hands both HPAs to the guest, the worst case of a guest that has learnt
 * them, so that workload=dma-attack can aim at them.
 *
 * The canary: CANARY_GPA is a page of guest RAM that the memory map reports
 * reserved (the BIOS area), so no guest allocates it. hv fills it with a
 * pattern at load and compares it when the run ends.
 */
#ifndef HV_VM_DMA_H
#define HV_VM_DMA_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hv/edu.h"
#include "iommu/iommu.h"

struct vm;

#define CANARY_GPA   0xf0000ULL
#define CANARY_SIZE  0x1000ULL
#define CANARY_BYTE  0xa5

/* How often a pass-through device looks at its register page: in guest
 * instructions (software vCPU), in microseconds (its own thread, KVM). */
#define VM_DMA_POLL_INSNS 1024
#define VM_DMA_POLL_US 100
/* The part of BAR0's register page the device keeps (edu's registers end at 0xa0). */
#define VM_DMA_REGS 0x100

/*
 * The VM's DMA state.
 *   edu, iommu (NULL when vm_config.iommu is off): set once by
 *     vm_dma_create; their registers change as the guest uses them.
 *   canary_*: set by vm_dma_place_canary and vm_dma_check_canary.
 *   aborts: DMA requests whose GPA was not RAM (nor ROM).
 *   rom_writes: pieces of DMA writes (one page's part of a request each)
 *     that reached a ROM (--rom) and were dropped there.
 */
struct vm_dma {
	struct edu edu;
	struct iommu *iommu;
	bool canary_placed, canary_checked;
	uint64_t canary_changed;      /* bytes of the canary page found changed */
	uint64_t canary_first;        /* GPA of the first changed byte */
	uint64_t aborts;
	uint64_t rom_writes;
	uint64_t stage2_refs;         /* EPT entries read for DMA (tables and data) */
	uint64_t vtd_reads, vtd_writes;  /* register accesses to the unit (MMIO exits) */

	/* Pass-through: set by vm_dma_create / vm_dma_start, then the device's. */
	bool passthrough;
	uint64_t bar_hpa;                /* the frame behind BAR0's register page */
	uint8_t shadow[VM_DMA_REGS];     /* that page as the device last left it */
	struct iommu_sl sl;              /* PT_SEPARATE: the unit's own tables */
	uint64_t pinned;                 /* bytes of RAM mapped for the device (PT_SEPARATE) */
	uint64_t polls, noticed;         /* looks at the page; register writes found there */
	uint64_t hlt_looks, hlt_wakes;   /* looks at a halt with nothing else to wake it; MSIs they sent */
	uint64_t msis;                   /* MSIs sent to the local APIC */
	/* The device's thread (KVM): threaded from vm_dma_thread_start to
	 * vm_dma_thread_stop; quit tells it to end. */
	bool threaded, quit;
	pthread_t thread;
	pthread_mutex_t lock;
	uint64_t hv_canary;              /* HPA of hv's canary page (a 2 MiB run of hv's) */
	uint64_t hv_canary_changed, hv_canary_first;  /* bytes found changed; HPA of the first */
	uint64_t ept_page;               /* HPA of the EPT table that maps BAR0 */
	uint64_t *ept_copy;              /* its 512 entries as hv left them */
	unsigned ept_changed, ept_first; /* entries found changed; index of the first */
	uint64_t ept_first_value;        /* that entry's value at the end */

	/* Guest RAM by HPA, for a pass-through device's writes without an
	 * IOMMU (bus address = HPA; the dirty log is by GPA): built from EPT
	 * when first needed, rebuilt when EPT no longer agrees. */
	struct vm_dma_run *runs;         /* sorted by hpa, disjoint */
	size_t nruns;
	uint64_t run_builds;             /* times it was built */
	uint64_t hpa_writes_ram, hpa_writes_hv;  /* such writes (pieces) by the frame's owner */
	uint64_t last_ram_hpa, last_ram_gpa;     /* the last into guest RAM (GPA ~0: not mapped) */
};

/* HPA [hpa, hpa + len) is GPA [gpa, gpa + len) in EPT. */
struct vm_dma_run {
	uint64_t hpa, gpa, len;
};

/* Register edu (vm->cfg.edu) and the VT-d window (vm->cfg.iommu) on vm's
 * buses; called while the devices are added, when either is on. */
int vm_dma_create(struct vm *vm) HV_MUST_CHECK;
void vm_dma_destroy(struct vm *vm);
/* The guest's command line for a pass-through VM: `append` plus
 * " hpa-canary=0x... hpa-ept=0x..." (hv's canary and BAR0's EPT table page);
 * `append` alone otherwise. -ENOSPC when out does not hold it. */
int vm_dma_cmdline(struct vm *vm, const char *append, char *out, size_t len) HV_MUST_CHECK;
/* After the kernel is loaded: fill the canary page; for pass-through, build
 * the device's domain over guest RAM and turn hv's unit on. */
int vm_dma_start(struct vm *vm) HV_MUST_CHECK;
/* A pass-through device's look at its register page (vm_run, every
 * VM_DMA_POLL_INSNS instructions and at every exit; its thread). */
void vm_dma_poll(struct vm *vm);
/* The vCPU halted with nothing else to wake it: a device passed through
 * looks at its registers now instead of at its next period (the guest gave
 * it work, then halted for its interrupt). Its work is done within the
 * look, so one look settles it: true when it sent an MSI. Caller holds the
 * device's lock (the exit loop does). */
bool vm_dma_hlt_look(struct vm *vm);
/* vm_run's start and end: the pass-through device's thread where the vCPU
 * does not count instructions (nothing otherwise). 0 or -errno. */
int vm_dma_thread_start(struct vm *vm) HV_MUST_CHECK;
void vm_dma_thread_stop(struct vm *vm);
/* The device lock (see above); nothing while there is no thread. */
void vm_dma_lock(struct vm *vm);
void vm_dma_unlock(struct vm *vm);
/* Compare the canary pages with their pattern and BAR0's EPT table page
 * with its copy (after the run). */
int vm_dma_check_canary(struct vm *vm) HV_MUST_CHECK;

/* hv run's report: the DMA, IOMMU and canary sections (hv/run_dma.c);
 * nothing when vm->dma is NULL. */
#include <stdio.h>
struct json;
void run_dma_report_text(FILE *f, struct vm *vm);
void run_dma_report_json(struct json *j, struct vm *vm);

#endif /* HV_VM_DMA_H */
