/* SPDX-License-Identifier: MIT */
/*
 * hv/vm.h - one virtual machine: guest RAM behind EPT, devices, a vCPU, and
 * the exit loop that ties them together.
 *
 * Guest-physical map (the same under every memory policy):
 *
 *   [0, low)              RAM (low = min(--memory, 3 GiB))
 *   [3 GiB, 4 GiB)        no RAM: device windows (HVTEST_BASE, ...) and holes
 *   [4 GiB, 4 GiB + rest) RAM above 4 GiB when --memory is larger than 3 GiB
 *
 * The memory map handed to the guest leaves out [0x9fc00, 0x100000) (EBDA,
 * VGA and BIOS area, as a PC's does); hv still backs it with RAM.
 *
 * ROM (cfg.rom[], hv run --rom): read-only ranges outside RAM and the device
 * windows, by default ending at 4 GiB like a PC's firmware flash. EPT maps
 * their frames R+X; a guest write is dropped, as a PC's chipset drops a
 * write to ROM, and counted. The memory map marks them reserved.
 *
 * Any guest access to a GPA outside RAM reaches hv as an EPT violation or an
 * MMIO exit: a device window is emulated, anything else stops the VM with a
 * diagnostic (the "forbidden GPA" stop).
 *
 * Memory policies:
 *   eager  every RAM byte is allocated and mapped at creation, with the largest
 *          EPT pages that fit (capped by cfg.ept_page_shift);
 *   lazy   nothing is mapped at creation; the EPT-violation handler allocates
 *          and maps the frame (of the EPT page size) holding the faulting GPA
 *          and resumes, so host memory follows what the guest touches.
 *
 * Dirty tracking (both methods run together so they can be compared):
 *   write-protect  at the start point every RAM leaf loses W in EPT; a write
 *                  violation records the 4 KiB page and gives W back to it;
 *   EPT D bits     EPT A/D is on; the start point clears every D bit, the end
 *                  of the run collects the leaves that have D set again.
 */
#ifndef HV_VM_H
#define HV_VM_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ept/mmu.h"
#include "hv/devices.h"
#include "hv/acpi.h"
#include "hv/cpu/cpuid.h"
#include "hv/hpet.h"
#include "hv/ioapic.h"
#include "hv/lapic.h"
#include "hv/pc.h"
#include "hv/pic.h"
#include "hv/pit.h"
#include "hv/rtc.h"
#include "hv/loader.h"
#include "hv/vcpu.h"

/* Where RAM above the 32-bit device hole starts and where the hole starts. */
#define VM_LOW_RAM_MAX  (3ULL << 30)
#define VM_HIGH_RAM_GPA (4ULL << 30)

/*
 * Hypercalls. Two doorbells reach the same handler:
 *  - the hypercall port, on every backend: a 32-bit OUT of the number to
 *    HC_PORT makes the call, a 32-bit IN from HC_PORT reads its result;
 *  - VMCALL with RAX = number, the result in RAX, on the software vCPU only
 *    (KVM answers VMCALL itself and never passes it to hv).
 */
#define HC_PORT 0x0580
#define HC_DIRTY_TRACK_START 1  /* start dirty tracking now; returns 0 */
#define HC_ENOSYS ((uint64_t)-38)  /* unknown hypercall number */

enum mem_policy {
	MEM_EAGER = 0,
	MEM_LAZY = 1,
};

struct vm_dma;

/* At most this many --rom ranges. */
#define VM_MAX_ROMS VCPU_MAX_ROMS
/* vm_rom_config.gpa: place the ROM below 4 GiB, under the ROMs placed so before it. */
#define VM_ROM_AT_TOP UINT64_MAX

/* A file's bytes as read-only guest memory (hv run --rom FILE[@GPA]). */
struct vm_rom_config {
	const char *name;     /* the file, for messages and the report */
	const uint8_t *data;  /* its bytes (the caller's, read during vm_create only) */
	uint64_t len;         /* how many (at least 1); the last page is padded with 0xff */
	uint64_t gpa;         /* where it starts (4 KiB aligned), or VM_ROM_AT_TOP */
};

/* edu handed to the guest as a pass-through device (hv/vm_dma.h): its DMA
 * goes through a VT-d unit hv programs (unless --no-iommu), whose
 * second-level tables are hv's own or EPT's. */
enum vm_passthrough {
	PT_OFF = 0,
	PT_SEPARATE,   /* the unit has its own tables mapping guest RAM */
	PT_SHARED,     /* the unit walks EPT's tables */
};

struct vm_config {
	uint64_t mem_size;          /* bytes of guest RAM, a multiple of 4 KiB */
	unsigned ept_levels;        /* 4 or 5 */
	unsigned ept_page_shift;    /* largest EPT page: 12, 21 or 30 */
	enum mem_policy policy;
	uint64_t dirty_track_after; /* start dirty tracking after this many instructions (0: never;
	                               the guest may still start it with HC_DIRTY_TRACK_START) */
	uint64_t max_insns;         /* stop after this many instructions (0: no limit) */
	struct mmu_config mmu;      /* TLBs and paging-structure caches */
	const struct vcpu_ops *ops; /* backend */
	bool edu;                   /* QEMU's edu PCI device at 00:03.0 (hv/edu.h) */
	struct cpu_model cpu;       /* CPUID changes (hv/cpu/cpuid.h; soft backend) */
	bool iommu;                 /* a VT-d unit at 0xfed90000 in front of its DMA
	                               (with passthrough: hv's unit, invisible to the guest) */
	enum vm_passthrough passthrough;
	bool bios_state;            /* leave the PIC, PIT and IVT as a PC BIOS does (hv/bios.h) */
	/* The unit's IOTLB and context cache (entries 0: none); used when
	 * iommu_caches is set, else iommu_config_default's. */
	bool iommu_caches;
	struct cache_geom iotlb, ctx_cache;
	struct vm_rom_config rom[VM_MAX_ROMS];
	unsigned nrom;
	FILE *serial_out;           /* UART output (NULL: discarded) */
	int serial_in_fd;           /* UART input (-1: none) */
	/* Called after each GiB an eager mapping has mapped (NULL: not); a
	 * non-zero return stops the mapping, and vm_create fails with -EINTR. */
	int (*map_progress)(void *ctx, uint64_t done, uint64_t total);
	void *map_progress_ctx;
};

/* Why the VM stopped. */
enum vm_stop_reason {
	VM_RUNNING = 0,
	VM_STOP_DEBUG_EXIT,     /* guest wrote isa-debug-exit: status (v << 1) | 1 */
	VM_STOP_HLT,            /* guest halted with nothing to wake it: status 0 */
	VM_STOP_INSN_LIMIT,     /* --max-insns reached: status VM_STATUS_LIMIT */
	VM_STOP_FORBIDDEN_GPA,  /* access to a GPA that is neither RAM nor a device */
	VM_STOP_EPT_MISCONFIG,
	VM_STOP_TRIPLE_FAULT,
	VM_STOP_INTERNAL_ERROR, /* the backend could not continue (unsupported instruction...) */
	VM_STOP_HOST_ERROR,     /* hv itself failed (out of frames...) */
	VM_STOP_SIGNAL,         /* *stop_request became non-zero: status 128 + signal */
	VM_STOP_POWEROFF,       /* guest entered ACPI S5 (soft off): status 0 */
	VM_STOP_SLEEP,          /* guest entered ACPI S3 and could not resume: nothing can wake
				   it (status 0) or no waking vector to resume at (status 4) */
	VM_STOP_NREASONS
};

/* hv's exit statuses besides isa-debug-exit's (always odd) ones. */
#define VM_STATUS_HALT   0
#define VM_STATUS_USAGE  2   /* bad options or kernel file: the VM never ran */
#define VM_STATUS_GUEST  4   /* the guest broke a rule: forbidden GPA, triple fault, ... */
#define VM_STATUS_LIMIT  6   /* --max-insns reached */
#define VM_STATUS_HOST   8   /* hv failed */

struct vm_stop {
	enum vm_stop_reason reason;
	int status;             /* the process exit status to use */
	uint64_t value;         /* isa-debug-exit: the value written */
	uint64_t rip;           /* guest RIP at the stop */
	char msg[512];          /* one or more lines of diagnostic */
};

/* EPT violations by what the handler did with them. */
enum vm_viol_cause {
	VIOL_LAZY_MAP = 0,   /* first touch of RAM under the lazy policy: mapped */
	VIOL_DIRTY_LOG,      /* write to write-protected RAM during dirty tracking: logged */
	VIOL_MMIO,           /* access to a device window: emulated */
	VIOL_FORBIDDEN,      /* neither RAM nor a device: VM stopped */
	VIOL_ROM,            /* write to ROM: dropped (listed only when the VM has ROM) */
	VIOL_NCAUSES
};

struct vm_counters {
	uint64_t exits[VCPU_EXIT_INTERNAL_ERROR + 1];  /* by enum vcpu_exit_reason */
	uint64_t violations[VIOL_NCAUSES];
	uint64_t mmio_reads, mmio_writes;
	uint64_t hypercalls, hypercalls_unknown;
	uint64_t lazy_frames;      /* frames mapped by the violation handler */
	uint64_t prefault_frames;  /* frames mapped because hv wrote there (loader) */
	uint64_t invept;           /* INVEPT single-context invalidations issued */
	uint64_t irqs_injected;    /* external interrupts handed to the vCPU */
	uint64_t nmis_injected;    /* NMIs handed to the vCPU */
	uint64_t hlt_wakeups;      /* HLTs ended by a timer expiry hv skipped ahead to */
	uint64_t idle_ticks;       /* TSC ticks skipped over while halted */
	uint64_t rom_writes;       /* guest writes to ROM, dropped */
};

/*
 * One ROM range of the VM. gpa, size (the file's length rounded up to 4 KiB),
 * len, name, arm: set once by vm_create; writes: by the exit handlers.
 * arm is the range's entry in vm->mmio: empty except between a write's EPT
 * violation and the MMIO exit in which the software vCPU completes that
 * write without storing it (hv/vm_mem.c).
 */
struct vm_rom {
	const char *name;
	uint64_t gpa, size, len;
	uint64_t writes;
	unsigned arm;
};

/* The first write to ROM the guest made, for the report. qual is the EPT
 * violation's exit qualification where the backend reports one (qual_known:
 * the software vCPU; KVM emulates the write and reports only the access). */
struct vm_rom_write {
	bool seen, qual_known;
	uint8_t size;
	uint64_t gpa, rip, value, qual;
};

/* ACPI S3: each sleep the guest took and woke from (hv/vm_sleep.c). */
struct vm_sleep_log {
	uint64_t count;          /* S3 entries that resumed */
	uint64_t ticks;          /* TSC ticks spent asleep, all sleeps */
	uint64_t last_enter_tsc, last_wake_tsc;
	uint64_t last_vector;    /* where the last resume began (linear address) */
	bool last_protected;     /* ... in 32-bit protected mode (X_Firmware_Waking_Vector),
				    else in real mode at CS:IP = vector >> 4 : vector & 0xf */
};

/* A set of 4 KiB guest pages (one bit each over the RAM span). */
struct page_set {
	uint64_t *bits;
	uint64_t npages;   /* pages covered: (end of RAM) / 4 KiB */
	uint64_t count;    /* pages in the set */
};

struct vm_dirty {
	bool active;
	uint64_t started_at;        /* instruction count when tracking started */
	const char *started_by;     /* "option" or "hypercall" */
	struct page_set wp;         /* pages logged by write-protect violations */
	struct page_set ad;         /* pages with EPT D set, collected at the end */
	struct page_set dma;        /* pages a device's DMA wrote (hv logs them: neither
				     * EPT write protection nor EPT D sees a device) */
	bool harvested;
};

/*
 * One VM.
 *   cfg, pool, ept, mmu, ram[], nram, map[], nmap: set once by vm_create.
 *   bus, uart, pci, hvtest: device instances, registered by vm_create; their
 *     registers change as the guest uses them.
 *   ops, mem, vcpu: the backend, its view of guest memory and its vCPU,
 *     created by vm_create.
 *   boot: filled by vm_load.
 *   cnt, dirty, stop, insns: updated by vm_run only.
 */
struct vm {
	struct vm_config cfg;
	struct hpool *pool;
	struct ept *ept;
	struct mmu *mmu;
	struct loader_region ram[2];     /* RAM as mapped in EPT */
	unsigned nram;
	struct loader_region map[LOADER_MAX_REGIONS]; /* the memory map the guest gets */
	unsigned nmap;

	struct dev_bus bus;
	struct uart uart;
	struct pci_host pci;
	struct hvtest hvtest;
	struct lapic lapic;              /* the local APIC; clock: vm->tsc */
	struct fwcfg fwcfg;
	struct pctestdev testdev;
	struct ioapic ioapic;
	struct pic_pair pic;
	struct pit pit;                  /* the 8254; clock: vm->tsc */
	struct rtc rtc;                  /* the MC146818 and CMOS; clock: vm->tsc */
	struct hpet hpet;                /* the HPET; clock: vm->tsc */
	struct acpi_pm acpi_pm;
	struct vm_dma *dma;              /* edu, VT-d, canary (hv/vm_dma.h); NULL when off */
	/* MMIO device windows, for the backend, then one entry per ROM (arm) */
	struct gpa_range mmio[DEV_BUS_MAX + VM_MAX_ROMS];
	unsigned nmmio;
	struct vm_rom rom[VM_MAX_ROMS];  /* read-only ranges, in cfg.rom's order */
	unsigned nrom;
	struct vm_rom_write rom_first;

	const struct vcpu_ops *ops;
	struct gmem *mem;
	struct vcpu *vcpu;
	struct boot_state boot;

	struct vm_counters cnt;
	struct vm_sleep_log sleep;
	struct vm_dirty dirty;
	uint32_t hc_port_result;         /* what an IN from HC_PORT reads: the last call's result */
	struct vm_stop stop;
	uint64_t insns;                  /* instructions retired so far */
	uint64_t tsc;                    /* the guest's TSC at the last exit, plus idle time */
	void (*progress)(struct vm *vm, void *ctx);  /* called between run slices, may be NULL */
	void *progress_ctx;
	/* Set by the caller, may be NULL. A signal handler stores the signal
	 * number here and does nothing else; vm_run reads it between slices and
	 * stops the guest, so the report is printed outside the handler. */
	volatile sig_atomic_t *stop_request;
};

/* Build the VM: pool, EPT, MMU, RAM per the policy, devices, vCPU. On failure
 * err says what went wrong. */
int vm_create(const struct vm_config *cfg, struct vm **out, char *err, size_t errlen) HV_MUST_CHECK;
void vm_destroy(struct vm *vm);
/* Load a kernel and set the vCPU's entry state. */
int vm_load(struct vm *vm, const char *path, const char *cmdline, char *err,
	    size_t errlen) HV_MUST_CHECK;
/* Run until the VM stops; the outcome is in vm->stop. Returns 0, or -errno
 * when hv itself failed (vm->stop says how). */
int vm_run(struct vm *vm) HV_MUST_CHECK;
/* Async-signal-safe: make the vCPU leave the guest now, or its next entry
 * return at once, so that vm_run sees a stop request the handler stored in
 * *stop_request without waiting for the guest's next exit. */
void vm_kick(struct vm *vm);
/* Collect the EPT D-bit dirty set (once, after vm_run). */
int vm_dirty_harvest(struct vm *vm) HV_MUST_CHECK;
/* Do the two dirty sets hold exactly the same pages? */
bool vm_dirty_agree(const struct vm *vm);
/* Log the RAM pages of [gpa, gpa + len) that a device's DMA wrote (nothing
 * when dirty tracking is off or the range is not RAM). */
void vm_dirty_dma(struct vm *vm, uint64_t gpa, uint64_t len);
/* Pages in the DMA log that neither CPU-side set holds: what a dirty log
 * of CPU writes alone would miss. */
uint64_t vm_dirty_dma_only(const struct vm *vm);

/* Copy to/from guest RAM from the host side (loader, tests). -EFAULT when any
 * byte is not RAM. Under the lazy policy a write maps what it touches. */
int vm_write_gpa(struct vm *vm, uint64_t gpa, const void *src, uint64_t len) HV_MUST_CHECK;
int vm_read_gpa(struct vm *vm, uint64_t gpa, void *dst, uint64_t len) HV_MUST_CHECK;
/* Is [gpa, gpa+len) entirely guest RAM? */
bool vm_gpa_is_ram(const struct vm *vm, uint64_t gpa, uint64_t len);
/* The ROM range holding gpa, or NULL. */
const struct vm_rom *vm_rom_at(const struct vm *vm, uint64_t gpa);

const char *vm_stop_name(enum vm_stop_reason r);
const char *vm_exit_name(enum vcpu_exit_reason r);
const char *vm_viol_name(enum vm_viol_cause c);
const char *mem_policy_name(enum mem_policy p);
/* Decode an EPT-violation exit qualification into words ("read, GPA
 * readable+executable, linear address valid, ..."). */
void vm_decode_qual(uint64_t qual, char *buf, size_t len);

#endif /* HV_VM_H */
