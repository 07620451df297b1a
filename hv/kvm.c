/* SPDX-License-Identifier: MIT */
/*
 * hv/kvm.c - the KVM backend: the same guest on hardware virtualization.
 *
 * Guest memory follows hv's map. The frame pool is a memfd (HPA = file
 * offset); each RAM region is one KVM memory slot whose host memory is a
 * "view" reservation in which every mapped frame is the pool's frame mapped
 * again (MAP_FIXED over the memfd at its HPA), so GPA -> HPA under KVM is what
 * ept/ holds. GPAs with no slot (device windows, holes) reach hv as
 * KVM_EXIT_MMIO, which this file classifies like the software vCPU does: a
 * device window is an MMIO exit, anything else an EPT violation for hv's
 * handler. KVM's exits are translated into struct vcpu_exit so the same
 * handlers serve both backends.
 *
 * Lazy RAM (--mem-policy lazy): the views start as anonymous memory
 * registered with userfaultfd for missing pages, and a first touch reaches
 * hv's EPT-violation handler (vcpu_config.exit_now) as an exit. hv allocates
 * the frame from the pool and maps it; the view's page becomes that pool
 * frame (MAP_FIXED over the memfd, as for eager RAM) and KVM takes the fault
 * again, now finding the frame. (UFFDIO_COPY and UFFDIO_ZEROPAGE would put a
 * fresh anonymous page there instead, outside the pool, and GPA -> HPA would
 * no longer be ept/'s map.) How the fault reaches hv is chosen at start-up:
 *
 *  - In the vCPU's own thread, where userfaultfd can poison pages (Linux 6.6,
 *    UFFD_FEATURE_POISON): every page of the views is poisoned. KVM's fault
 *    on one finds no page to map and sends the thread that runs KVM_RUN a
 *    SIGBUS with the page's host address (BUS_MCEERR_AR, as for a memory
 *    error), then leaves KVM_RUN with EINTR; that thread maps the frame and
 *    enters again. No other thread takes part. KVM's own copy of a RAM
 *    operand (an instruction it emulates: string I/O, MOVS to or from a
 *    device) fails on a poisoned page without a signal and comes back as
 *    KVM_EXIT_MMIO at a RAM GPA: hv maps the page the same way and does
 *    that access itself (take_ram_mmio).
 *  - Through a handler thread, elsewhere (Linux 6.1): KVM_RUN runs in a
 *    second thread, the kernel holds KVM's access in a userfaultfd fault, and
 *    this thread reads it, maps the frame and lets KVM go on with UFFDIO_WAKE:
 *    two thread wake-ups a fault. HV_KVM_LAZY=thread chooses this one.
 *
 * Dirty tracking: KVM's dirty log is on in every slot. Where userfaultfd can
 * write-protect memfd pages, a page without W in hv's map is also
 * write-protected in its view, so the guest's first write to it waits in the
 * userfaultfd like a missing page and reaches hv's handler as the software
 * vCPU's EPT violation does; from the first such protection on, KVM_RUN runs
 * in the second thread.
 *
 * A page hv maps through EPT outside RAM (edu's register page, passed
 * through) is a memory slot of its own over its pool frame.
 *
 * ROM (--rom) is a read-only memory slot (KVM_MEM_READONLY) over its pool
 * frames: the guest reads and executes it in place, and KVM turns a write
 * into KVM_EXIT_MMIO, which this file reports as an MMIO exit so that hv's
 * handler drops it, as it drops the software vCPU's.
 *
 * Timers: run() is given the guest TSC of hv's next timer event, and the
 * guest is kicked out of KVM_RUN when the guest TSC (at KVM_GET_TSC_KHZ)
 * gets there, so the event reaches a guest that does not exit by itself,
 * also while its first touches are handled: by a POSIX timer that signals
 * the thread in KVM_RUN, or, where the second thread runs KVM_RUN anyway
 * (or no such timer can be had), by this thread.
 *
 * Kicks: a SIGINT or SIGTERM handler, or another thread of hv's (a
 * pass-through device raising an interrupt: vcpu_config.async_kick, which
 * puts KVM_RUN in the second thread) calls vm_kick(), which sets
 * kvm_run.immediate_exit (KVM_RUN then returns EINTR at once, even when the
 * kick came between hv's last check and the ioctl) and, with the second
 * thread, sends that thread KICK_SIGNAL to end a KVM_RUN under way.
 *
 * Interrupts come from hv's own local APIC through KVM_INTERRUPT (no
 * in-kernel irqchip). One that finds the vCPU standing at a HLT it has not
 * executed is delivered after the HLT (retire_hlt), so that STI; HLT holds
 * even where the processor loses STI's shadow over a VM entry.
 *
 * CPUID is the host's as KVM supports it, with hv's hypervisor leaf in
 * place of KVM's: KVM's paravirtual clock and its other paravirtual
 * features are not offered, and their MSRs raise #GP (set_cpuid).
 *
 * What KVM does not give hv: per-access TLB and walk counts (the hardware's),
 * instruction counts (so no --max-insns or --dirty-track-after), and VMCALL
 * exits (KVM answers hypercalls itself: guests use the hypercall port).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "hv/kvm_stats.h"
#include "hv/vcpu.h"

/* Linux 6.6's userfaultfd poison, for older headers (include/uapi/linux/
 * userfaultfd.h): a poisoned page makes every access fail as a memory error. */
#ifndef UFFD_FEATURE_POISON
#define UFFD_FEATURE_POISON (1 << 14)
#endif
#ifndef _UFFDIO_POISON
#define _UFFDIO_POISON (0x08)
struct uffdio_poison {
	struct uffdio_range range;
	__u64 mode;
	__s64 updated;
};
#define UFFDIO_POISON _IOWR(UFFDIO, _UFFDIO_POISON, struct uffdio_poison)
#endif

/* Linux 6.10's KVM_PRE_FAULT_MEMORY, for older headers (include/uapi/linux/
 * kvm.h): map guest memory into KVM's own EPT/NPT before the guest touches it. */
#ifndef KVM_CAP_PRE_FAULT_MEMORY
#define KVM_CAP_PRE_FAULT_MEMORY 236
#endif
#ifndef KVM_PRE_FAULT_MEMORY
struct kvm_pre_fault_memory {
	__u64 gpa;
	__u64 size;
	__u64 flags;
	__u64 padding[5];
};
#define KVM_PRE_FAULT_MEMORY _IOWR(KVMIO, 0xd5, struct kvm_pre_fault_memory)
#endif

/* RAM below the hole, RAM above 4 GiB, device pages hv maps through EPT
 * (edu's register page when it is passed through) and the ROMs. */
#define KVM_MAX_SLOTS (4 + VCPU_MAX_ROMS)
/* Ends the KVM_RUN of the thread that runs the guest (lazy RAM); the handler
 * does nothing, the interrupted system call is the point. */
#define KICK_SIGNAL SIGUSR1

/* RFLAGS bits (SDM Vol. 1 3.4.3): the trap flag and virtual-8086 mode. */
#define RFLAGS_TF (1ULL << 8)
#define RFLAGS_VM (1ULL << 17)
/* The vCPU's kvm_run.immediate_exit (one vCPU), for KICK_SIGNAL's handler. */
static volatile __u8 *kick_exit;
/* Debian 12's glibc (2.36) names the thread of SIGEV_THREAD_ID only by its
 * union member (the kernel's asm-generic/siginfo.h has this name). */
#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

/* The device node; HV_KVM_DEVICE overrides it (tests of the error paths). */
static const char *kvm_device(void)
{
	const char *d = getenv("HV_KVM_DEVICE");

	return d && *d ? d : "/dev/kvm";
}

/* Open the device and check the API version; 0 or -errno with a reason. */
static int kvm_open(int *fd, char *why, size_t whylen)
{
	const char *dev = kvm_device();
	int k = open(dev, O_RDWR | O_CLOEXEC), rc;

	if (k < 0) {
		rc = -errno;
		if (rc == -ENOENT)
			snprintf(why, whylen, "%s does not exist: this host has no KVM (load kvm_intel or "
				 "kvm_amd, or enable nested virtualization in the VM hv runs in)", dev);
		else if (rc == -EACCES || rc == -EPERM)
			snprintf(why, whylen, "no permission to open %s: add your user to the group that "
				 "owns it (usually kvm) or run as root", dev);
		else
			snprintf(why, whylen, "cannot open %s: %s", dev, strerror(-rc));
		return rc;
	}
	rc = ioctl(k, KVM_GET_API_VERSION, 0);
	if (rc != KVM_API_VERSION) {
		snprintf(why, whylen, "%s speaks KVM API version %d, hv needs %d", dev, rc, KVM_API_VERSION);
		close(k);
		return -ENOTSUP;
	}
	*fd = k;
	return 0;
}

/* The capabilities hv cannot do without, and why it needs each. */
static const struct {
	int cap;
	const char *name, *what;
} needed_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest RAM in hv's memory" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR", "the TSS area Intel VMX needs" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", "a CPUID with long mode" },
	{ KVM_CAP_SYNC_REGS, "KVM_CAP_SYNC_REGS", "the guest RIP of every exit" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", "stopping on SIGINT and SIGTERM" },
};

static int kvm_check_caps(int k, char *why, size_t whylen)
{
	for (unsigned i = 0; i < sizeof(needed_caps) / sizeof(needed_caps[0]); i++)
		if (ioctl(k, KVM_CHECK_EXTENSION, needed_caps[i].cap) <= 0) {
			snprintf(why, whylen, "KVM lacks %s (needed for %s): a newer kernel is needed",
				 needed_caps[i].name, needed_caps[i].what);
			return -ENOTSUP;
		}
	return 0;
}

static int kvm_probe(char *why, size_t whylen)
{
	int k, rc;

	rc = kvm_open(&k, why, whylen);
	if (rc)
		return rc;
	rc = kvm_check_caps(k, why, whylen);
	close(k);
	return rc;
}

/*
 * A userfaultfd for the views (missing pages of lazy RAM, write-protected
 * pages while dirty tracking) with the features `want` turned on; 0 or
 * -errno with a reason. *features: what this kernel's userfaultfd offers
 * (UFFD_FEATURE_*; with `want` 0) or has turned on, or NULL.
 */
static int uffd_open(int *out, uint64_t want, uint64_t *features, char *why, size_t whylen)
{
	struct uffdio_api api = { .api = UFFD_API, .features = want };
	int fd, rc;

	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
#ifdef USERFAULTFD_IOC_NEW
	if (fd < 0 && errno == EPERM) {
		/* Without the right to handle the kernel's own faults: the device
		 * node grants it to whoever may open it (Linux 6.1). */
		int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);

		if (dev >= 0) {
			fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
			close(dev);
		}
		errno = fd < 0 ? EPERM : 0;
	}
#endif
	if (fd < 0) {
		rc = -errno;
		if (rc == -EPERM)
			snprintf(why, whylen, "this user may not take the kernel's page faults through "
				 "userfaultfd: run as root, set the sysctl vm.unprivileged_userfaultfd=1, "
				 "or give read-write access to /dev/userfaultfd");
		else if (rc == -ENOSYS)
			snprintf(why, whylen, "this kernel has no userfaultfd (CONFIG_USERFAULTFD)");
		else
			snprintf(why, whylen, "userfaultfd: %s", strerror(-rc));
		return rc;
	}
	if (ioctl(fd, UFFDIO_API, &api) < 0 || !(api.ioctls & (1ULL << _UFFDIO_REGISTER))) {
		rc = errno ? -errno : -ENOTSUP;
		snprintf(why, whylen, "userfaultfd refused API version 0x%llx: %s",
			 (unsigned long long)UFFD_API, strerror(-rc));
		close(fd);
		return rc;
	}
	if (features)
		*features = api.features;
	*out = fd;
	return 0;
}

static int kvm_probe_lazy(char *why, size_t whylen)
{
	int fd, rc = uffd_open(&fd, 0, NULL, why, whylen);

	if (!rc)
		close(fd);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Guest memory                                                             */
/* ------------------------------------------------------------------------ */

/*
 * One memory slot: [gpa, gpa + size) of guest RAM (ram true) or a device's
 * page hv maps through EPT outside RAM, whose host memory is the view at
 * `view` (frames mapped again from the pool's memfd). Device slots have no
 * dirty log and no userfaultfd: they are mapped once, at creation.
 */
struct kvm_slot {
	uint64_t gpa, size;
	uint8_t *view;
	bool ram;
	bool readonly;   /* ROM: KVM_MEM_READONLY, guest writes exit as MMIO */
	/* Pages hv wrote for the guest since the last dirty_log() (a write of
	 * KVM's own that hv completed: take_ram_mmio), which KVM's dirty log
	 * cannot hold; one bit a page, allocated at the first (NULL: none). */
	uint64_t *hv_dirty;
};

/*
 * Legend: all fields set once by kvm_mem_create, except slot[].view's
 * contents, which map() changes, and wp_used, set by the first protect()
 * that removes W.
 */
struct gmem_kvm {
	struct gmem base;
	struct gmem *soft;        /* hv's own map (ept/), edited first */
	struct ept *ept;          /* that map, for lookups */
	struct hpool *pool;
	int kvm_fd, vm_fd;
	struct kvm_slot slot[KVM_MAX_SLOTS];
	unsigned nslot;
	/* Missing pages of the views (lazy RAM) and, with wp, write-protected
	 * pages; -1: none (eager RAM on a host without a usable userfaultfd). */
	int uffd;
	/* Lazy RAM in the vCPU's own thread: the userfaultfd the views' unmapped
	 * pages are registered and poisoned with (UFFD_FEATURE_POISON, and
	 * UFFD_FEATURE_SIGBUS so that no access can wait in it); -1: lazy faults
	 * go through uffd and the handler thread. */
	int puffd;
	bool lazy;                /* the views start unmapped, registered for missing pages */
	bool wp;                  /* uffd write-protects the views' frames (ops: gmem_kvm_wp_ops) */
	const char *no_wp;        /* else why not, for the report (kvm_no_write_exits) */
	bool wp_used;             /* some page was write-protected: faults can come at any write */
	/*
	 * Frames map() has recorded but not yet mapped into the view: one run
	 * contiguous in both GPA and HPA, of one kind (wp: mapped without W)
	 * (size 0: none). Eager mapping hands out frames in ascending order,
	 * so a whole region becomes a few mmap calls instead of one per frame;
	 * flush_views() runs before the guest.
	 */
	struct {
		struct kvm_slot *slot;
		uint64_t gpa, hpa, size;
		bool wp;
	} pend;
};

static struct gmem_kvm *to_kvm_mem(struct gmem *m)
{
	return container_of(m, struct gmem_kvm, base);
}

static struct kvm_slot *slot_of(struct gmem_kvm *k, uint64_t gpa, uint64_t size)
{
	for (unsigned i = 0; i < k->nslot; i++) {
		struct kvm_slot *s = &k->slot[i];

		if (gpa >= s->gpa && gpa - s->gpa < s->size && size <= s->size - (gpa - s->gpa))
			return s;
	}
	return NULL;
}

/*
 * Write-protect (on) or unprotect the view's pages [addr, addr + size), which
 * show pool frames. A new mapping of the memfd is not registered with the
 * userfaultfd (mmap replaced whatever was there), so protecting registers it
 * first; registering again what already is registered changes nothing.
 * Unprotecting does not wake a waiting fault: the caller does that.
 * The kernel's MMU notifier makes KVM drop its own mappings of the pages, so
 * KVM's next write to one asks the host for a writable page and waits in the
 * userfaultfd.
 */
static int wp_range(struct gmem_kvm *k, uint64_t addr, uint64_t size, bool on)
{
	struct uffdio_writeprotect w = {
		.range = { addr, size },
		.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : UFFDIO_WRITEPROTECT_MODE_DONTWAKE,
	};
	int rc = 0;

	if (on) {
		struct uffdio_register reg = {
			.range = { addr, size },
			.mode = UFFDIO_REGISTER_MODE_WP,
		};

		if (ioctl(k->uffd, UFFDIO_REGISTER, &reg) < 0)
			return -errno;
		if (!(reg.ioctls & (1ULL << _UFFDIO_WRITEPROTECT)))
			return -ENOTSUP;
		k->wp_used = true;
	}
	if (ioctl(k->uffd, UFFDIO_WRITEPROTECT, &w) == 0)
		return 0;
	/* Before Linux 6.4 one UFFDIO_WRITEPROTECT covers one mapping only
	 * (ENOENT otherwise), and the range may be several mmaps of the
	 * memfd: then page by page, each inside one mapping. */
	if (errno != ENOENT || size == PAGE_SIZE_4K)
		return -errno;
	for (uint64_t off = 0; !rc && off < size; off += PAGE_SIZE_4K) {
		w.range = (struct uffdio_range){ addr + off, PAGE_SIZE_4K };
		rc = ioctl(k->uffd, UFFDIO_WRITEPROTECT, &w) < 0 ? -errno : 0;
	}
	return rc;
}

/* Map the pending run into its slot's view: the slot's host memory at those
 * GPAs becomes the pool's frames. KVM follows the change through its MMU
 * notifier. */
static int flush_views(struct gmem_kvm *k)
{
	struct kvm_slot *s = k->pend.slot;
	uint64_t size = k->pend.size;
	void *at;

	if (!size)
		return 0;
	at = s->view + (k->pend.gpa - s->gpa);
	if (mmap(at, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, k->pool->fd,
		 (off_t)k->pend.hpa) == MAP_FAILED)
		return -errno;
	k->pend.size = 0;
	/* Frames mapped without W while dirty tracking (lazy RAM). */
	if (k->pend.wp)
		return wp_range(k, (uint64_t)(uintptr_t)at, size, true);
	return 0;
}

static int add_slot(struct gmem_kvm *k, uint64_t gpa, uint64_t size, bool ram, bool readonly);

static int kvm_map(struct gmem *m, uint64_t gpa, uint64_t hpa, uint64_t size, uint64_t attrs,
		   uint64_t page_size)
{
	struct gmem_kvm *k = to_kvm_mem(m);
	struct kvm_slot *s = slot_of(k, gpa, size);
	bool wp;
	int rc;

	/* Outside RAM: a device's page, a slot of its own. */
	if (!s) {
		if (k->nslot >= KVM_MAX_SLOTS || (gpa | size) & (PAGE_SIZE_4K - 1) || !size)
			return -EINVAL;
		rc = add_slot(k, gpa, size, false, false);
		if (rc)
			return rc;
		s = &k->slot[k->nslot - 1];
	}
	/* RAM without W is write-protected in its view; a read-only slot (ROM)
	 * needs nothing more: KVM never writes it. */
	wp = k->wp && s->ram && !(attrs & EPT_W);
	rc = k->soft->ops->map(k->soft, gpa, hpa, size, attrs, page_size);
	if (rc)
		return rc;
	if (k->pend.size && k->pend.slot == s && k->pend.wp == wp &&
	    gpa == k->pend.gpa + k->pend.size && hpa == k->pend.hpa + k->pend.size) {
		k->pend.size += size;
		return 0;
	}
	rc = flush_views(k);
	if (rc)
		return rc;
	k->pend.slot = s;
	k->pend.gpa = gpa;
	k->pend.hpa = hpa;
	k->pend.size = size;
	k->pend.wp = wp;
	return 0;
}

/* hv's map records the permissions; KVM's own write tracking (the dirty log
 * on every slot) is what observes writes, so the slots stay as they are. */
static int kvm_protect(struct gmem *m, uint64_t gpa, uint64_t size, uint64_t perms)
{
	struct gmem_kvm *k = to_kvm_mem(m);

	return k->soft->ops->protect(k->soft, gpa, size, perms);
}

/*
 * With userfaultfd write-protection: the view pages of every frame mapped in
 * [gpa, gpa + size) follow W as hv's map has it, so that a guest write to a
 * page without W waits in the userfaultfd and reaches hv's handler, as an EPT
 * violation does on the software backend. Pages not mapped yet (lazy RAM)
 * are left alone: map() protects them when they come.
 */
static int kvm_protect_wp(struct gmem *m, uint64_t gpa, uint64_t size, uint64_t perms)
{
	struct gmem_kvm *k = to_kvm_mem(m);
	int rc = k->soft->ops->protect(k->soft, gpa, size, perms);

	if (!rc)
		rc = flush_views(k);
	for (unsigned i = 0; !rc && i < k->nslot; i++) {
		const struct kvm_slot *s = &k->slot[i];
		uint64_t lo = gpa > s->gpa ? gpa : s->gpa;

		if (!s->ram)
			continue;
		uint64_t hi = gpa + size < s->gpa + s->size ? gpa + size : s->gpa + s->size;
		uint64_t run = lo;   /* start of the run of mapped pages before a */

		/* Precondition: gpa + size does not wrap (hv passes RAM ranges). */
		for (uint64_t a = lo; !rc && a <= hi; a += PAGE_SIZE_4K) {
			uint64_t hpa, p;
			unsigned shift;

			if (a < hi && ept_lookup(k->ept, a, &hpa, &shift, &p) == 0)
				continue;
			if (a > run)
				rc = wp_range(k, (uint64_t)(uintptr_t)(s->view + (run - s->gpa)),
					      a - run, !(perms & EPT_W));
			run = a + PAGE_SIZE_4K;
		}
	}
	return rc;
}

/* KVM keeps its own EPT coherent with the slots: nothing to flush. */
static void kvm_invalidate(struct gmem *m)
{
	(void)m;
}

/* KVM_GET_DIRTY_LOG returns the slot's dirty bitmap and starts a new interval. */
static int kvm_dirty_log(struct gmem *m, uint64_t gpa, uint64_t size, gmem_dirty_fn fn, void *ctx)
{
	struct gmem_kvm *k = to_kvm_mem(m);

	for (unsigned i = 0; i < k->nslot; i++) {
		struct kvm_slot *s = &k->slot[i];
		uint64_t npages = s->size / PAGE_SIZE_4K;
		struct kvm_dirty_log log = { .slot = i };
		uint64_t *bits;

		if (!s->ram || gpa + size <= s->gpa || gpa >= s->gpa + s->size)
			continue;
		bits = calloc((npages + 63) / 64, sizeof(uint64_t));
		if (!bits)
			return -ENOMEM;
		log.dirty_bitmap = bits;
		if (ioctl(k->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0) {
			int rc = -errno;

			free(bits);
			return rc;
		}
		/* The guest's writes hv made for KVM count as the guest's: read
		 * and cleared with KVM's log, as KVM's own bits are. */
		if (s->hv_dirty) {
			for (uint64_t w = 0; w < (npages + 63) / 64; w++)
				bits[w] |= s->hv_dirty[w];
			memset(s->hv_dirty, 0, (npages + 63) / 64 * sizeof(uint64_t));
		}
		for (uint64_t p = 0; p < npages; p++) {
			uint64_t a = s->gpa + p * PAGE_SIZE_4K;

			if ((bits[p / 64] >> (p % 64)) & 1 && a >= gpa && a - gpa < size)
				fn(ctx, a, PAGE_SIZE_4K);
		}
		free(bits);
	}
	return 0;
}

static const char *kvm_lazy_path(const struct gmem *m)
{
	const struct gmem_kvm *k = container_of(m, struct gmem_kvm, base);

	if (!k->lazy)
		return NULL;
	return k->puffd >= 0 ? "in the vCPU's thread (poisoned pages: KVM's SIGBUS)"
			     : "through a handler thread (userfaultfd)";
}

static const char *kvm_no_write_exits(const struct gmem *m)
{
	return container_of(m, struct gmem_kvm, base)->no_wp;
}

static const struct gmem_ops gmem_kvm_ops = {
	.protect_exits = false,   /* KVM handles write faults itself; the dirty log sees them */
	.map = kvm_map,
	.protect = kvm_protect,
	.invalidate = kvm_invalidate,
	.dirty_log = kvm_dirty_log,
	.lazy_path = kvm_lazy_path,
	.no_write_exits = kvm_no_write_exits,
};

/* Where the host's userfaultfd can write-protect the views' frames. */
static const struct gmem_ops gmem_kvm_wp_ops = {
	.protect_exits = true,    /* a write to a page without W waits in the userfaultfd for hv */
	.map = kvm_map,
	.protect = kvm_protect_wp,
	.invalidate = kvm_invalidate,
	.dirty_log = kvm_dirty_log,
	.lazy_path = kvm_lazy_path,
};

static void kvm_mem_destroy(struct gmem *m)
{
	struct gmem_kvm *k;

	if (!m)
		return;
	k = to_kvm_mem(m);
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	for (unsigned i = 0; i < k->nslot; i++) {
		munmap(k->slot[i].view, k->slot[i].size);
		free(k->slot[i].hv_dirty);
	}
	if (k->kvm_fd >= 0)
		close(k->kvm_fd);
	if (k->uffd >= 0)
		close(k->uffd);
	if (k->puffd >= 0)
		close(k->puffd);
	gmem_soft_destroy(k->soft);
	free(k);
}

/*
 * Register the view [view, view + size) with the poison userfaultfd and
 * poison every page of it (lazy RAM in the vCPU's thread). 0 or -errno; the
 * kernel may stop part-way through a large range and say how far it got.
 */
static int poison_view(struct gmem_kvm *k, uint8_t *view, uint64_t size)
{
	struct uffdio_register reg = {
		.range = { (uint64_t)(uintptr_t)view, size },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	uint64_t done = 0;

	if (ioctl(k->puffd, UFFDIO_REGISTER, &reg) < 0)
		return -errno;
	if (!(reg.ioctls & (1ULL << _UFFDIO_POISON)))
		return -ENOTSUP;
	while (done < size) {
		struct uffdio_poison p = {
			.range = { (uint64_t)(uintptr_t)view + done, size - done },
		};

		if (ioctl(k->puffd, UFFDIO_POISON, &p) < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (p.updated <= 0 || (uint64_t)p.updated > size - done)
			return p.updated < 0 ? (int)p.updated : -EIO;
		done += (uint64_t)p.updated;
	}
	return 0;
}

static int add_slot(struct gmem_kvm *k, uint64_t gpa, uint64_t size, bool ram, bool readonly)
{
	struct kvm_slot *s = &k->slot[k->nslot];
	struct kvm_userspace_memory_region r;
	void *view;

	/* Until a frame is mapped there, the view is anonymous memory nobody
	 * uses (hv maps every frame before the guest can reach it). */
	view = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		    -1, 0);
	if (view == MAP_FAILED)
		return -errno;
	/* The first lazy slot decides: poisoned pages if this kernel can, else
	 * userfaultfd faults for the handler thread. */
	if (k->lazy && ram && k->puffd >= 0 && poison_view(k, view, size) != 0) {
		if (k->nslot) {
			munmap(view, size);
			return -EIO;   /* the first slot took it: cannot happen */
		}
		close(k->puffd);
		k->puffd = -1;
		munmap(view, size);
		view = mmap(NULL, size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (view == MAP_FAILED)
			return -errno;
	}
	if (k->lazy && ram && k->puffd < 0) {
		/* Lazy RAM: KVM's first touch of a page hv has not mapped is a
		 * userfaultfd fault (hv maps every frame before the host uses it). */
		struct uffdio_register reg = {
			.range = { (uint64_t)(uintptr_t)view, size },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		errno = 0;
		if (ioctl(k->uffd, UFFDIO_REGISTER, &reg) < 0 ||
		    !(reg.ioctls & (1ULL << _UFFDIO_WAKE))) {
			int rc = errno ? -errno : -ENOTSUP;

			munmap(view, size);
			return rc;
		}
	}
	r = (struct kvm_userspace_memory_region){
		.slot = k->nslot,
		.flags = (ram ? KVM_MEM_LOG_DIRTY_PAGES : 0) | (readonly ? KVM_MEM_READONLY : 0),
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)view,
	};
	if (ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
		int rc = -errno;

		munmap(view, size);
		return rc;
	}
	*s = (struct kvm_slot){ .gpa = gpa, .size = size, .view = view, .ram = ram, .readonly = readonly };
	k->nslot++;
	return 0;
}

/* Whether the environment variable name is set to value (the switches below). */
static bool env_is(const char *name, const char *value)
{
	const char *e = getenv(name);

	return e && strcmp(e, value) == 0;
}

/*
 * Dirty tracking with userfaultfd write-protection of memfd (shmem) pages
 * needs UFFD_FEATURE_WP_HUGETLBFS_SHMEM (Linux 5.19). HV_KVM_UFFD_WP=0 turns
 * it off, leaving KVM's dirty log as the only record (the tests run both).
 */
static bool uffd_wp_wanted(void)
{
	return !env_is("HV_KVM_UFFD_WP", "0");
}

/*
 * HV_KVM_PREFAULT=1: KVM_PRE_FAULT_MEMORY after each poisoned page, so that
 * the guest does not fault on the new frame again. Off by default: in the
 * nested lane with QEMU counting instructions it costs more work than the
 * guest's second fault saves (docs/performance.md); hardware may differ.
 */
static bool prefault_wanted(void)
{
	return env_is("HV_KVM_PREFAULT", "1");
}

/* HV_KVM_TSC_OFFSET=0: a skipped HLT moves the guest's TSC with IA32_TSC
 * writes even where the vCPU's TSC offset could be moved (guest_tsc). */
static bool tsc_offset_wanted(void)
{
	return !env_is("HV_KVM_TSC_OFFSET", "0");
}

/* HV_KVM_LAZY=thread: lazy faults through the handler thread even where the
 * vCPU's thread could take them (the tests and the bench compare both). */
static bool lazy_in_thread_wanted(void)
{
	return !env_is("HV_KVM_LAZY", "thread");
}

/* A userfaultfd that can poison pages and never holds an access (SIGBUS
 * instead), or -1 where this kernel's cannot (before Linux 6.6). */
static int poison_uffd_open(void)
{
	const uint64_t want = UFFD_FEATURE_POISON | UFFD_FEATURE_SIGBUS;
	uint64_t have = 0;
	char why[200];
	int fd;

	/* What the kernel offers first: asking for a feature it lacks fails. */
	if (uffd_open(&fd, 0, &have, why, sizeof(why)) != 0)
		return -1;
	close(fd);
	if ((have & want) != want || uffd_open(&fd, want, &have, why, sizeof(why)) != 0)
		return -1;
	if ((have & want) != want) {
		close(fd);
		return -1;
	}
	return fd;
}

static int kvm_mem_create(const struct vcpu_config *cfg, struct gmem **out)
{
	struct gmem_kvm *k;
	uint64_t features = 0;
	char why[200];
	int rc;

	/* Precondition: a memfd pool (vcpu_kvm_ops.needs_memfd_pool). */
	if (!cfg || !cfg->pool || cfg->pool->fd < 0 || !out)
		return -EINVAL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->base.ops = &gmem_kvm_ops;
	k->pool = cfg->pool;
	k->ept = cfg->ept;
	k->kvm_fd = k->vm_fd = k->uffd = k->puffd = -1;
	k->lazy = cfg->lazy;
	rc = gmem_soft_create(cfg, &k->soft);
	if (rc)
		goto fail;
	/* Lazy RAM needs the userfaultfd; write-protection uses it where it can. */
	rc = uffd_open(&k->uffd, 0, &features, why, sizeof(why));
	if (rc && k->lazy)
		goto fail;
	k->wp = !rc && uffd_wp_wanted() && (features & UFFD_FEATURE_PAGEFAULT_FLAG_WP) &&
		(features & UFFD_FEATURE_WP_HUGETLBFS_SHMEM);
	if (rc)
		k->no_wp = "no userfaultfd here";
	else if (!uffd_wp_wanted())
		k->no_wp = "turned off (HV_KVM_UFFD_WP=0)";
	else if (!(features & UFFD_FEATURE_PAGEFAULT_FLAG_WP))
		k->no_wp = "this kernel's userfaultfd cannot write-protect (Linux 5.7)";
	else if (!k->wp)
		k->no_wp = "this kernel cannot write-protect memfd pages (Linux 5.19)";
	if (k->wp)
		k->base.ops = &gmem_kvm_wp_ops;
	else if (!k->lazy && k->uffd >= 0) {
		close(k->uffd);
		k->uffd = -1;
	}
	if (k->lazy && lazy_in_thread_wanted())
		k->puffd = poison_uffd_open();
	rc = kvm_open(&k->kvm_fd, why, sizeof(why));
	if (rc)
		goto fail;
	k->vm_fd = ioctl(k->kvm_fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0) {
		rc = -errno;
		goto fail;
	}
	/* Three pages below 4 GiB, inside the device hole, that Intel VMX
	 * needs for real-mode emulation; no RAM is there. */
	if (ioctl(k->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0) {
		rc = -errno;
		goto fail;
	}
	for (unsigned i = 0; i < cfg->nram && i < KVM_MAX_SLOTS; i++) {
		rc = add_slot(k, cfg->ram[i].base, cfg->ram[i].size, true, false);
		if (rc)
			goto fail;
	}
	/* ROM: read-only slots, which KVM has had since Linux 3.8 on x86. */
	if (cfg->nrom && ioctl(k->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) <= 0) {
		rc = -ENOTSUP;
		goto fail;
	}
	for (unsigned i = 0; i < cfg->nrom && i < VCPU_MAX_ROMS; i++) {
		rc = add_slot(k, cfg->rom[i].base, cfg->rom[i].size, false, true);
		if (rc)
			goto fail;
	}
	*out = &k->base;
	return 0;
fail:
	kvm_mem_destroy(&k->base);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* The vCPU                                                                 */
/* ------------------------------------------------------------------------ */

/*
 * Legend: fd, run, run_size, mem, mmio, exit_now, exit_ctx: set once by
 * kvm_create. pend: the exit hv is completing (an IN or MMIO read whose value
 * goes back to KVM before the next KVM_RUN). rip: the guest RIP at the last
 * KVM exit. The runner fields exist with lazy RAM (from creation) or once
 * pages are write-protected (from the next run): go_fd and done_fd
 * (eventfds) start and end one KVM_RUN in the runner thread, which leaves
 * KVM_RUN's errno in run_err (0: an exit); in_run: the runner was started
 * and its done not yet read; quit: the runner ends at its next start.
 */
struct vcpu_kvm {
	struct vcpu base;
	struct gmem_kvm *mem;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	const struct gpa_range *mmio;
	unsigned nmmio;
	uint64_t mem_size;
	enum vcpu_exit_reason pend;
	/* The elements of KVM's last I/O exit (string I/O: KVM reads ahead up
	 * to a page of INS's items, or gives several OUTS items, in one exit)
	 * and the next one to hand to hv: hv takes them one by one, each an
	 * I/O exit of its own as from the software vCPU, before the guest runs
	 * again. */
	uint32_t io_count, io_next;
	/* The last KVM_RUN ended at an instruction boundary with nothing left
	 * for KVM to complete at the next one: an interrupt-window exit, or
	 * EINTR (a signal or immediate_exit). retire_hlt() may move RIP then. */
	bool at_boundary;
	bool lapic_exits;
	uint64_t rip;
	int (*exit_now)(void *ctx, struct vcpu_exit *e);
	void *exit_ctx;
	bool has_runner, in_run, quit;
	/* The host address of the poisoned page KVM met in the last KVM_RUN
	 * (lazy RAM in the vCPU's thread); 0: none. */
	uintptr_t poisoned;
	/* KVM_PRE_FAULT_MEMORY works here (Linux 6.10, two-dimensional paging)
	 * and HV_KVM_PREFAULT=1 asks for it: a frame hv mapped for a poisoned
	 * page enters KVM's map at once, so the guest does not fault on it a
	 * second time. */
	bool prefault;
	pthread_t runner;
	int go_fd, done_fd, run_err;
	/* hv's next timer event during this run (wake_set): the CLOCK_MONOTONIC
	 * time at which the guest's TSC reaches it, at tsc_khz (KVM_GET_TSC_KHZ;
	 * 0: unknown, no wake-ups). */
	uint32_t tsc_khz;
	bool tsc_offset_attr;    /* KVM_VCPU_TSC_OFFSET moves the guest's TSC (guest_tsc) */
	bool wake_set;
	struct timespec wake;
	/* Without the runner thread: a POSIX timer that sends KICK_SIGNAL to
	 * the thread timer_tid at the wake time (has_timer: created; armed:
	 * set for this run). */
	timer_t timer;
	pid_t timer_tid;
	bool has_timer, timer_armed;
	struct vcpu_stats stats;
	/* The vCPU as KVM created it (RESET), taken once by kvm_create, for
	 * kvm_reset (a wake from ACPI S3). */
	struct {
		struct kvm_regs regs;
		struct kvm_sregs sregs;
		struct kvm_fpu fpu;
		struct kvm_debugregs dregs;
		struct kvm_xcrs xcrs;
		bool has_xcrs, has_dregs;
		struct kvm_xsave *xsave;  /* NULL without KVM_CAP_XSAVE: then fpu */
		struct kvm_msrs *msrs;    /* the MSRs of reset_msrs[] this KVM has */
	} at_reset;
};

static struct vcpu_kvm *to_kvm(struct vcpu *v)
{
	return container_of(v, struct vcpu_kvm, base);
}

static void stop_runner(struct vcpu_kvm *v);

static void kvm_destroy(struct vcpu *vcpu)
{
	struct vcpu_kvm *v;

	if (!vcpu)
		return;
	v = to_kvm(vcpu);
	if (v->has_runner) {
		uint64_t one = 1;

		stop_runner(v);
		v->quit = true;
		if (write(v->go_fd, &one, sizeof(one)) == sizeof(one))
			pthread_join(v->runner, NULL);
	}
	if (v->has_timer)
		timer_delete(v->timer);
	if (v->run && kick_exit == &v->run->immediate_exit)
		kick_exit = NULL;
	if (v->go_fd >= 0)
		close(v->go_fd);
	if (v->done_fd >= 0)
		close(v->done_fd);
	if (v->run)
		munmap(v->run, v->run_size);
	if (v->fd >= 0)
		close(v->fd);
	free(v->at_reset.msrs);
	free(v->at_reset.xsave);
	free(v);
}

/*
 * The hypervisor leaf the guest sees on KVM (CPUID 0x40000000): hv's, with
 * no leaf after it, as on the software vCPU (which says "hvSoftCPU-64").
 * Not KVM's "KVMKVMKVM" and its feature leaf 0x40000001: those offer KVM's
 * paravirtual clock (and steal time, PV EOI, ...), whose time is the host's
 * clock, while hv's guest time is the TSC that hv moves on over a HLT with
 * nothing to do but wait for a timer; a guest on that clock would no longer
 * agree with hv's timers (docs/kvm.md "KVM's paravirtual clock").
 */
static const char kvm_hv_signature[12] = "hvKVMvCPU-64";

/* Whether CPUID `function` is in the hypervisor range, 0x40000000-0x4fffffff. */
static bool hypervisor_leaf(uint32_t function)
{
	return (function & 0xf0000000u) == 0x40000000u;
}

/*
 * With KVM's leaves gone, KVM's paravirtual MSRs (MSR_KVM_SYSTEM_TIME_NEW,
 * MSR_KVM_STEAL_TIME, ...) and hypercalls are refused when the guest uses
 * them, as CPUID says: an MSR access raises #GP. Without this capability
 * (Linux before 5.10) KVM still takes them; the guest was not told they
 * exist.
 */
static int enforce_pv_cpuid(struct vcpu_kvm *v)
{
	struct kvm_enable_cap cap = { .cap = KVM_CAP_ENFORCE_PV_FEATURE_CPUID, .args = { 1 } };

	if (ioctl(v->mem->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ENFORCE_PV_FEATURE_CPUID) <= 0)
		return 0;
	return ioctl(v->fd, KVM_ENABLE_CAP, &cap) < 0 ? -errno : 0;
}

/* The host's supported CPUID, which has long mode, as the guest's, with
 * hv's hypervisor leaf in place of KVM's. */
static int set_cpuid(struct vcpu_kvm *v)
{
	unsigned n = 128, kept;
	struct kvm_cpuid2 *c;
	struct kvm_cpuid_entry2 *hv;
	int rc = 0;

	for (;;) {
		/* One entry more than KVM may fill: hv's hypervisor leaf. */
		c = calloc(1, sizeof(*c) + (n + 1) * sizeof(c->entries[0]));
		if (!c)
			return -ENOMEM;
		c->nent = n;
		if (ioctl(v->mem->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			break;
		rc = -errno;
		free(c);
		if (rc != -E2BIG || n >= 4096)
			return rc;
		n *= 2;
	}
	/* hv's local APIC is xAPIC only on KVM: KVM emulates the x2APIC MSRs
	 * only with its in-kernel APIC, which hv does not use. */
	for (unsigned i = 0; v->lapic_exits && i < c->nent; i++)
		if (c->entries[i].function == 1)
			c->entries[i].ecx &= ~(1u << 21);
	kept = 0;
	for (unsigned i = 0; i < c->nent; i++)
		if (!hypervisor_leaf(c->entries[i].function))
			c->entries[kept++] = c->entries[i];
	hv = &c->entries[kept++];
	memset(hv, 0, sizeof(*hv));
	hv->function = 0x40000000;
	hv->eax = 0x40000000;
	memcpy(&hv->ebx, kvm_hv_signature, 4);
	memcpy(&hv->ecx, kvm_hv_signature + 4, 4);
	memcpy(&hv->edx, kvm_hv_signature + 8, 4);
	c->nent = kept;
	rc = ioctl(v->fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
	free(c);
	if (!rc)
		rc = enforce_pv_cpuid(v);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* The runner thread (userfaultfd faults: lazy RAM, write-protection)      */
/* ------------------------------------------------------------------------ */

/* KICK_SIGNAL: ends a KVM_RUN under way; one that comes just before the
 * entry ends the next at once (immediate_exit). kvm_kick has set it too. */
static void on_kick(int sig)
{
	(void)sig;
	if (kick_exit)
		*kick_exit = 1;
}

/* on_kick for KICK_SIGNAL, once; no SA_RESTART: the point of the signal is
 * the EINTR. */
static int catch_kick(void)
{
	static bool done;
	struct sigaction sa;

	if (done)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_kick;
	sigemptyset(&sa.sa_mask);
	if (sigaction(KICK_SIGNAL, &sa, NULL) < 0)
		return -errno;
	done = true;
	return 0;
}

/*
 * Lazy RAM in the vCPU's thread. KVM's fault on a poisoned page of a view
 * sends the thread in KVM_RUN a SIGBUS (BUS_MCEERR_AR) with the page's host
 * address and leaves KVM_RUN with EINTR; the handler notes the address for
 * that thread. Any other SIGBUS (outside KVM_RUN, or another kind) is hv's
 * own bug or a real memory error: the default action, as before.
 */
static __thread volatile sig_atomic_t tl_in_kvm_run;
static __thread volatile uintptr_t tl_poisoned;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (tl_in_kvm_run && si->si_code == BUS_MCEERR_AR && si->si_addr && !tl_poisoned) {
		tl_poisoned = (uintptr_t)si->si_addr;
		return;
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static int catch_poison(void)
{
	static bool done;
	struct sigaction sa;
	sigset_t bus;

	sigemptyset(&bus);
	sigaddset(&bus, SIGBUS);
	pthread_sigmask(SIG_UNBLOCK, &bus, NULL);
	if (done)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL) < 0)
		return -errno;
	done = true;
	return 0;
}

/*
 * One KVM_RUN in this thread: 0 (an exit) or its errno. The host address of
 * a poisoned page KVM met (lazy RAM in the vCPU's thread) goes to
 * v->poisoned (0: none).
 */
static int run_kvm(struct vcpu_kvm *v)
{
	int err;

	tl_poisoned = 0;
	tl_in_kvm_run = 1;
	err = ioctl(v->fd, KVM_RUN, 0) < 0 ? errno : 0;
	tl_in_kvm_run = 0;
	v->poisoned = tl_poisoned;
	return err;
}

/* KVM_RUN, each time go_fd says so, until quit. Every signal but KICK_SIGNAL
 * is blocked here (hv's own handlers run in the main thread). */
static void *runner_main(void *arg)
{
	struct vcpu_kvm *v = arg;
	sigset_t kick;
	uint64_t n;

	sigemptyset(&kick);
	sigaddset(&kick, KICK_SIGNAL);
	sigaddset(&kick, SIGBUS);   /* KVM's word of a poisoned page (run_kvm) */
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	for (;;) {
		if (read(v->go_fd, &n, sizeof(n)) != sizeof(n)) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (v->quit)
			break;
		v->run_err = run_kvm(v);
		n = 1;
		if (write(v->done_fd, &n, sizeof(n)) != sizeof(n))
			break;
	}
	return NULL;
}

static int start_runner(struct vcpu_kvm *v)
{
	sigset_t all, old;
	int rc;

	v->go_fd = eventfd(0, EFD_CLOEXEC);
	v->done_fd = eventfd(0, EFD_CLOEXEC);
	if (v->go_fd < 0 || v->done_fd < 0)
		return -errno;
	rc = catch_kick();
	if (rc)
		return rc;
	/* The thread starts with every signal blocked, then lets KICK_SIGNAL in. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&v->runner, NULL, runner_main, v);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!rc)
		v->has_runner = true;
	return rc;
}

/*
 * The MSRs RESET gives a value (SDM Vol. 3A 10.1.1 and Table 10-1; AMD APM
 * Vol. 2 14.1.3) that the guest can change and that hv does not keep
 * itself: SYSENTER, MISC_ENABLE, DEBUGCTL, PAT, the MTRRs, SPEC_CTRL, XSS,
 * the SYSCALL MSRs, KERNEL_GS_BASE, TSC_AUX, PKRS and AMD's VM_HSAVE_PA.
 * Not the TSC and TSC_ADJUST (the TSC keeps counting over S3: hv's devices
 * count off it), not IA32_APIC_BASE (the sregs carry it), and none of
 * KVM's paravirtual MSRs: writing one (the wall clock's) writes guest
 * memory.
 */
static const uint32_t reset_msrs[] = {
	0x048, 0x174, 0x175, 0x176, 0x1a0, 0x1d9, 0x277, 0x2ff,
	0x200, 0x201, 0x202, 0x203, 0x204, 0x205, 0x206, 0x207,
	0x208, 0x209, 0x20a, 0x20b, 0x20c, 0x20d, 0x20e, 0x20f,
	0x250, 0x258, 0x259, 0x268, 0x269, 0x26a, 0x26b, 0x26c, 0x26d, 0x26e, 0x26f,
	0x6e1, 0xda0,
	0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, 0xc0000102, 0xc0000103,
	0xc0010117,
};

/*
 * Keep the state KVM created the vCPU in (its RESET), after CPUID is set
 * (which MSRs exist follows it), for kvm_reset. An MSR is kept when KVM
 * reads it and takes the value back; each ioctl of the state this KVM
 * offers must succeed.
 */
static int save_reset_state(struct vcpu_kvm *v)
{
	const unsigned n = sizeof(reset_msrs) / sizeof(reset_msrs[0]);
	struct kvm_msrs *m;
	int sz;

	if (ioctl(v->fd, KVM_GET_REGS, &v->at_reset.regs) < 0 ||
	    ioctl(v->fd, KVM_GET_SREGS, &v->at_reset.sregs) < 0 ||
	    ioctl(v->fd, KVM_GET_FPU, &v->at_reset.fpu) < 0)
		return -errno;
	if (ioctl(v->mem->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_DEBUGREGS) > 0) {
		if (ioctl(v->fd, KVM_GET_DEBUGREGS, &v->at_reset.dregs) < 0)
			return -errno;
		v->at_reset.has_dregs = true;
	}
	if (ioctl(v->mem->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0) {
		if (ioctl(v->fd, KVM_GET_XCRS, &v->at_reset.xcrs) < 0)
			return -errno;
		v->at_reset.has_xcrs = true;
	}
	if (ioctl(v->mem->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0) {
		/* KVM_CAP_XSAVE2 gives the size when it exceeds struct kvm_xsave. */
		sz = ioctl(v->mem->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
		if (sz < (int)sizeof(struct kvm_xsave))
			sz = (int)sizeof(struct kvm_xsave);
		v->at_reset.xsave = calloc(1, (size_t)sz);
		if (!v->at_reset.xsave)
			return -ENOMEM;
		if (ioctl(v->fd, sz > (int)sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE,
			  v->at_reset.xsave) < 0)
			return -errno;
	}
	m = calloc(1, sizeof(*m) + n * sizeof(m->entries[0]));
	if (!m)
		return -ENOMEM;
	v->at_reset.msrs = m;
	for (unsigned i = 0; i < n; i++) {
		struct {
			struct kvm_msrs h;
			struct kvm_msr_entry e;
		} one = { .h = { .nmsrs = 1 }, .e = { .index = reset_msrs[i] } };

		if (ioctl(v->fd, KVM_GET_MSRS, &one) != 1 || ioctl(v->fd, KVM_SET_MSRS, &one) != 1)
			continue;   /* not on this CPU model */
		m->entries[m->nmsrs++] = one.e;
	}
	return 0;
}

static int kvm_create(const struct vcpu_config *cfg, struct gmem *mem, struct vcpu **out)
{
	struct vcpu_kvm *v;
	int rc, sz;

	/* Precondition: mem came from kvm_mem_create. */
	if (!cfg || !mem || !out)
		return -EINVAL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->base.ops = &vcpu_kvm_ops;
	v->mem = to_kvm_mem(mem);
	v->mmio = cfg->mmio;
	v->nmmio = cfg->nmmio;
	v->mem_size = cfg->mem_size;
	v->lapic_exits = cfg->lapic_exits;
	v->exit_now = cfg->exit_now;
	v->exit_ctx = cfg->exit_ctx;
	v->go_fd = v->done_fd = -1;
	v->fd = ioctl(v->mem->vm_fd, KVM_CREATE_VCPU, 0);
	if (v->fd < 0) {
		rc = -errno;
		goto fail;
	}
	sz = ioctl(v->mem->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz <= 0) {
		rc = sz < 0 ? -errno : -EINVAL;
		goto fail;
	}
	v->run_size = (size_t)sz;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		rc = -errno;
		goto fail;
	}
	rc = set_cpuid(v);
	if (!rc)
		rc = save_reset_state(v);
	if (rc)
		goto fail;
	/* The general registers come back with every exit (the RIP of the exit). */
	v->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
	kick_exit = &v->run->immediate_exit;
	sz = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);
	v->tsc_khz = sz > 0 ? (uint32_t)sz : 0;
	{
		struct kvm_device_attr a = { .group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET };

		v->tsc_offset_attr = ioctl(v->fd, KVM_HAS_DEVICE_ATTR, &a) == 0 &&
				     tsc_offset_wanted();
	}
	if (v->mem->lazy && v->mem->puffd >= 0) {
		/* Precondition: hv handles the faults of lazy RAM (exit_now). */
		rc = v->exit_now ? catch_poison() : -EINVAL;
		if (rc)
			goto fail;
		v->prefault = ioctl(v->mem->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_PRE_FAULT_MEMORY) > 0 &&
			      prefault_wanted();
	}
	if (v->mem->lazy && v->mem->puffd < 0) {
		rc = v->exit_now ? start_runner(v) : -EINVAL;
		if (rc)
			goto fail;
	} else if (cfg->async_kick) {
		/* Kicks from hv's other threads: KICK_SIGNAL ends a KVM_RUN of
		 * the runner's, which nothing else in hv waits in. */
		rc = start_runner(v);
		if (rc)
			goto fail;
	}
	*out = &v->base;
	return 0;
fail:
	kvm_destroy(&v->base);
	return rc;
}

/* KVM's register file is in the same order as the ModRM encoding. */
static int kvm_get_regs(struct vcpu *vcpu, struct vcpu_regs *r)
{
	struct vcpu_kvm *v = to_kvm(vcpu);
	struct kvm_regs k;

	if (ioctl(v->fd, KVM_GET_REGS, &k) < 0)
		return -errno;
	r->gpr[0] = k.rax; r->gpr[1] = k.rcx; r->gpr[2] = k.rdx; r->gpr[3] = k.rbx;
	r->gpr[4] = k.rsp; r->gpr[5] = k.rbp; r->gpr[6] = k.rsi; r->gpr[7] = k.rdi;
	r->gpr[8] = k.r8; r->gpr[9] = k.r9; r->gpr[10] = k.r10; r->gpr[11] = k.r11;
	r->gpr[12] = k.r12; r->gpr[13] = k.r13; r->gpr[14] = k.r14; r->gpr[15] = k.r15;
	r->rip = k.rip;
	r->rflags = k.rflags;
	return 0;
}

static int kvm_set_regs(struct vcpu *vcpu, const struct vcpu_regs *r)
{
	struct vcpu_kvm *v = to_kvm(vcpu);
	struct kvm_regs k = {
		.rax = r->gpr[0], .rcx = r->gpr[1], .rdx = r->gpr[2], .rbx = r->gpr[3],
		.rsp = r->gpr[4], .rbp = r->gpr[5], .rsi = r->gpr[6], .rdi = r->gpr[7],
		.r8 = r->gpr[8], .r9 = r->gpr[9], .r10 = r->gpr[10], .r11 = r->gpr[11],
		.r12 = r->gpr[12], .r13 = r->gpr[13], .r14 = r->gpr[14], .r15 = r->gpr[15],
		.rip = r->rip, .rflags = r->rflags,
	};

	return ioctl(v->fd, KVM_SET_REGS, &k) < 0 ? -errno : 0;
}

static void seg_from_kvm(struct vcpu_segment *d, const struct kvm_segment *s)
{
	*d = (struct vcpu_segment){
		.base = s->base, .limit = s->limit, .selector = s->selector, .type = s->type,
		.s = s->s, .dpl = s->dpl, .present = s->present, .avl = s->avl, .l = s->l,
		.db = s->db, .g = s->g, .unusable = s->unusable,
	};
}

static void seg_to_kvm(struct kvm_segment *d, const struct vcpu_segment *s)
{
	*d = (struct kvm_segment){
		.base = s->base, .limit = s->limit, .selector = s->selector, .type = s->type,
		.s = s->s, .dpl = s->dpl, .present = s->present, .avl = s->avl, .l = s->l,
		.db = s->db, .g = s->g, .unusable = s->unusable,
	};
}

static int kvm_get_sregs(struct vcpu *vcpu, struct vcpu_sregs *s)
{
	struct vcpu_kvm *v = to_kvm(vcpu);
	struct kvm_sregs k;

	if (ioctl(v->fd, KVM_GET_SREGS, &k) < 0)
		return -errno;
	seg_from_kvm(&s->cs, &k.cs);
	seg_from_kvm(&s->ds, &k.ds);
	seg_from_kvm(&s->es, &k.es);
	seg_from_kvm(&s->fs, &k.fs);
	seg_from_kvm(&s->gs, &k.gs);
	seg_from_kvm(&s->ss, &k.ss);
	seg_from_kvm(&s->tr, &k.tr);
	seg_from_kvm(&s->ldt, &k.ldt);
	s->gdt = (struct vcpu_dtable){ k.gdt.base, k.gdt.limit };
	s->idt = (struct vcpu_dtable){ k.idt.base, k.idt.limit };
	s->cr0 = k.cr0; s->cr2 = k.cr2; s->cr3 = k.cr3; s->cr4 = k.cr4; s->cr8 = k.cr8;
	s->efer = k.efer;
	s->apic_base = k.apic_base;
	return 0;
}

static int kvm_set_sregs(struct vcpu *vcpu, const struct vcpu_sregs *s)
{
	struct vcpu_kvm *v = to_kvm(vcpu);
	struct kvm_sregs k;

	/* Start from KVM's own (the interrupt bitmap and anything hv has no word for). */
	if (ioctl(v->fd, KVM_GET_SREGS, &k) < 0)
		return -errno;
	seg_to_kvm(&k.cs, &s->cs);
	seg_to_kvm(&k.ds, &s->ds);
	seg_to_kvm(&k.es, &s->es);
	seg_to_kvm(&k.fs, &s->fs);
	seg_to_kvm(&k.gs, &s->gs);
	seg_to_kvm(&k.ss, &s->ss);
	seg_to_kvm(&k.tr, &s->tr);
	seg_to_kvm(&k.ldt, &s->ldt);
	k.gdt.base = s->gdt.base;
	k.gdt.limit = s->gdt.limit;
	k.idt.base = s->idt.base;
	k.idt.limit = s->idt.limit;
	k.cr0 = s->cr0; k.cr2 = s->cr2; k.cr3 = s->cr3; k.cr4 = s->cr4; k.cr8 = s->cr8;
	k.efer = s->efer;
	if (s->apic_base)
		k.apic_base = s->apic_base;
	return ioctl(v->fd, KVM_SET_SREGS, &k) < 0 ? -errno : 0;
}

/*
 * RESET, as KVM created the vCPU (save_reset_state): registers, system
 * registers (with no interrupt waiting for injection), x87/SSE/AVX state,
 * XCR0, debug registers, the MSRs RESET sets, and no pending exception,
 * interrupt or NMI. Guest TLB entries go with the CR0/CR3/CR4 KVM_SET_SREGS
 * loads. The TSC keeps counting.
 *
 * First the exit hv is returning from is completed: KVM finishes an OUT or
 * an MMIO access (moving RIP past it) only at the next KVM_RUN, which
 * would then undo the new RIP; a KVM_RUN with immediate_exit set does that
 * and returns without entering the guest (KVM's API documentation).
 */
static int kvm_reset(struct vcpu *vcpu)
{
	struct vcpu_kvm *v = to_kvm(vcpu);
	volatile __u8 *imm = &v->run->immediate_exit;
	struct kvm_vcpu_events ev;
	__u8 kicked = *imm;
	int rc = 0;

	/* Precondition: between run()s (the runner thread, if any, is idle). */
	*imm = 1;
	if (ioctl(v->fd, KVM_RUN, 0) == 0)
		rc = -EIO;   /* the exit needs hv again: not one hv resets after */
	else if (errno != EINTR && errno != EAGAIN)
		rc = -errno;
	*imm = kicked;
	v->pend = VCPU_EXIT_NONE;
	v->io_count = v->io_next = 0;
	v->at_boundary = false;
	if (rc)
		return rc;
	memset(&ev, 0, sizeof(ev));
	ev.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW;
	if (ioctl(v->fd, KVM_SET_REGS, &v->at_reset.regs) < 0 ||
	    ioctl(v->fd, KVM_SET_SREGS, &v->at_reset.sregs) < 0 ||
	    ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	if (v->at_reset.xsave ? ioctl(v->fd, KVM_SET_XSAVE, v->at_reset.xsave) < 0
			      : ioctl(v->fd, KVM_SET_FPU, &v->at_reset.fpu) < 0)
		return -errno;
	if (v->at_reset.has_xcrs && ioctl(v->fd, KVM_SET_XCRS, &v->at_reset.xcrs) < 0)
		return -errno;
	if (v->at_reset.has_dregs && ioctl(v->fd, KVM_SET_DEBUGREGS, &v->at_reset.dregs) < 0)
		return -errno;
	rc = ioctl(v->fd, KVM_SET_MSRS, v->at_reset.msrs);
	if (rc < 0)
		return -errno;
	return (__u32)rc == v->at_reset.msrs->nmsrs ? 0 : -EIO;
}

/* Is gpa inside a device window (the same rule as the software vCPU's)? */
static bool gpa_is_device(const struct vcpu_kvm *v, uint64_t gpa)
{
	if (v->nmmio == 0)
		return gpa >= v->mem_size;
	for (unsigned i = 0; i < v->nmmio; i++)
		if (gpa >= v->mmio[i].base && gpa - v->mmio[i].base < v->mmio[i].size)
			return true;
	return false;
}

/* Is gpa inside a read-only slot (ROM), where KVM reports writes as MMIO? */
static bool gpa_is_rom(const struct vcpu_kvm *v, uint64_t gpa)
{
	for (unsigned i = 0; i < v->mem->nslot; i++) {
		const struct kvm_slot *s = &v->mem->slot[i];

		if (s->readonly && gpa >= s->gpa && gpa - s->gpa < s->size)
			return true;
	}
	return false;
}

/* Give KVM the value hv supplied for the exit it is completing. */
static void complete_pending(struct vcpu_kvm *v, const struct vcpu_exit *e)
{
	struct kvm_run *r = v->run;

	if (v->pend == VCPU_EXIT_IO)
		memcpy((uint8_t *)r + r->io.data_offset + (size_t)(v->io_next - 1) * r->io.size,
		       &e->io.data, r->io.size);
	else if (v->pend == VCPU_EXIT_MMIO)
		memcpy(r->mmio.data, &e->mmio.data, r->mmio.len);
	v->pend = VCPU_EXIT_NONE;
}

static void fail_exit(struct vcpu_exit *e, enum vcpu_exit_reason reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail_exit(struct vcpu_exit *e, enum vcpu_exit_reason reason, const char *fmt, ...)
{
	va_list ap;

	e->reason = reason;
	va_start(ap, fmt);
	vsnprintf(e->fail.msg, sizeof(e->fail.msg), fmt, ap);
	va_end(ap);
}

/* The next element of KVM's I/O exit as hv's I/O exit. */
static void io_element(struct vcpu_kvm *v, struct vcpu_exit *e)
{
	struct kvm_run *r = v->run;
	const uint8_t *data = (const uint8_t *)r + r->io.data_offset +
			      (size_t)v->io_next * r->io.size;

	e->reason = VCPU_EXIT_IO;
	e->exit_reason_vmx = EXIT_REASON_IO;
	e->io.port = r->io.port;
	e->io.size = r->io.size;
	e->io.in = r->io.direction == KVM_EXIT_IO_IN;
	if (!e->io.in)
		memcpy(&e->io.data, data, r->io.size);
	else
		v->pend = VCPU_EXIT_IO;
	v->io_next++;
}

/* Translate the exit KVM reported into hv's. */
static void translate_exit(struct vcpu_kvm *v, struct vcpu_exit *e)
{
	struct kvm_run *r = v->run;

	switch (r->exit_reason) {
	case KVM_EXIT_IO:
		if (r->io.count == 0 || (r->io.size != 1 && r->io.size != 2 && r->io.size != 4) ||
		    r->io.data_offset > v->run_size ||
		    (uint64_t)r->io.count * r->io.size > v->run_size - r->io.data_offset) {
			fail_exit(e, VCPU_EXIT_INTERNAL_ERROR,
				  "KVM reported port I/O hv cannot take "
				  "(%u items of %u bytes at port 0x%x)", (unsigned)r->io.count,
				  (unsigned)r->io.size, (unsigned)r->io.port);
			break;
		}
		v->io_count = r->io.count;
		v->io_next = 0;
		io_element(v, e);
		break;
	case KVM_EXIT_MMIO:
		/* No memory slot here: a device window, or a GPA hv's handler must
		 * classify (it is neither RAM nor a device); or a write to ROM,
		 * which hv's MMIO handler drops. */
		if (gpa_is_device(v, r->mmio.phys_addr) || gpa_is_rom(v, r->mmio.phys_addr)) {
			e->reason = VCPU_EXIT_MMIO;
			e->exit_reason_vmx = EXIT_REASON_EPT_VIOLATION;
			e->mmio.gpa = r->mmio.phys_addr;
			e->mmio.size = (uint8_t)r->mmio.len;
			e->mmio.write = r->mmio.is_write;
			if (e->mmio.write)
				memcpy(&e->mmio.data, r->mmio.data, r->mmio.len);
			else
				v->pend = VCPU_EXIT_MMIO;
		} else {
			/* KVM names neither the linear address nor the kind of
			 * access beyond read/write: the qualification says so. */
			e->reason = VCPU_EXIT_EPT_VIOLATION;
			e->exit_reason_vmx = EXIT_REASON_EPT_VIOLATION;
			e->ept.gpa = r->mmio.phys_addr;
			e->ept.qual = r->mmio.is_write ? EPT_QUAL_WRITE : EPT_QUAL_READ;
		}
		break;
	case KVM_EXIT_HLT:
		e->reason = VCPU_EXIT_HLT;
		e->exit_reason_vmx = EXIT_REASON_HLT;
		break;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		e->reason = VCPU_EXIT_IRQ_WINDOW;
		break;
	case KVM_EXIT_SET_TPR:
		e->reason = VCPU_EXIT_SET_TPR;
		e->exit_reason_vmx = 28;  /* control-register access */
		break;
	case KVM_EXIT_SHUTDOWN:
		e->reason = VCPU_EXIT_TRIPLE_FAULT;
		e->exit_reason_vmx = EXIT_REASON_TRIPLE_FAULT;
		snprintf(e->fail.msg, sizeof(e->fail.msg),
			 "KVM reported a shutdown (the exception could not be delivered)");
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		fail_exit(e, VCPU_EXIT_INTERNAL_ERROR, "KVM internal error, suberror %u%s",
			  (unsigned)r->internal.suberror, r->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ?
			  " (an instruction KVM could not emulate)" : "");
		break;
	case KVM_EXIT_FAIL_ENTRY:
		fail_exit(e, VCPU_EXIT_INTERNAL_ERROR,
			  "VM entry failed: hardware entry failure reason 0x%llx (on CPU %u)",
			  (unsigned long long)r->fail_entry.hardware_entry_failure_reason,
			  (unsigned)r->fail_entry.cpu);
		break;
	default:
		fail_exit(e, VCPU_EXIT_INTERNAL_ERROR, "unexpected KVM exit reason %u",
			  (unsigned)r->exit_reason);
		break;
	}
}

/*
 * The guest's TSC (IA32_TSC, MSR 0x10): read, or moved on by `add` ticks.
 *
 * A host's write of IA32_TSC that lands within a second of the value KVM
 * expects (the last host write plus the time since) is taken by KVM for an
 * attempt to synchronize vCPUs, and KVM keeps the offset it had
 * (kvm_synchronize_tsc); a HLT skipped by less than a second of guest time
 * would never reach the guest's TSC (in the lane, a one-shot LAPIC timer of
 * 0x10000000 ticks fired with the guest's TSC 0x144411 ticks on). So:
 * - where KVM has the vCPU's TSC offset attribute (KVM_VCPU_TSC_OFFSET,
 *   Linux 5.16), hv moves the offset, which KVM takes as it is;
 * - before, one KVM_SET_MSRS writes IA32_TSC twice: first 2^62 ticks away
 *   from the value wanted, a value no write of the last second can be near
 *   (centuries of guest time), then the value wanted, which is that far
 *   from the first write and so taken. The time between hv's read and the
 *   write is not added (microseconds; the guest, halted, saw none of it),
 *   so the guest's TSC stands at the timer's deadline when it runs again.
 * HV_KVM_TSC_OFFSET=0 takes the second way where the first could be had
 * (the tests run it on the kernels that have the attribute).
 */
static int guest_tsc(struct vcpu_kvm *v, uint64_t add, uint64_t *tsc)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[2];
	} m = { .h = { .nmsrs = 1 }, .e = { { .index = 0x10 } } };
	uint64_t off;
	struct kvm_device_attr a = { .group = KVM_VCPU_TSC_CTRL, .attr = KVM_VCPU_TSC_OFFSET,
				     .addr = (uint64_t)(uintptr_t)&off };

	if (ioctl(v->fd, KVM_GET_MSRS, &m) != 1)
		return -EIO;
	if (add && v->tsc_offset_attr) {
		if (ioctl(v->fd, KVM_GET_DEVICE_ATTR, &a) < 0)
			return -errno;
		off += add;
		if (ioctl(v->fd, KVM_SET_DEVICE_ATTR, &a) < 0)
			return -errno;
		m.e[0].data += add;
	} else if (add) {
		m.e[0].data += add;
		m.e[1] = m.e[0];
		m.e[0].data ^= 1ULL << 62;
		m.h.nmsrs = 2;
		if (ioctl(v->fd, KVM_SET_MSRS, &m) != 2)
			return -EIO;
		m.e[0] = m.e[1];
	}
	*tsc = m.e[0].data;
	return 0;
}

/* The frame view address `addr` shows: its GPA, or ~0 outside every slot. */
static uint64_t view_to_gpa(const struct gmem_kvm *k, uint64_t addr)
{
	for (unsigned i = 0; i < k->nslot; i++) {
		uint64_t base = (uint64_t)(uintptr_t)k->slot[i].view;

		if (addr >= base && addr - base < k->slot[i].size)
			return k->slot[i].gpa + (addr - base);
	}
	return ~0ULL;
}

static void kvm_kick(struct vcpu *vcpu)
{
	struct vcpu_kvm *v = to_kvm(vcpu);

	*(volatile __u8 *)&v->run->immediate_exit = 1;
	if (v->has_runner)
		pthread_kill(v->runner, KICK_SIGNAL);
}

/* A userfaultfd fault: the view page (4 KiB aligned), the access, and
 * whether the page was there but write-protected (else it was missing). */
struct uffd_fault {
	uint64_t addr;
	bool write, wp;
};

/* Let the faulting page be faulted again. `resolve`: hv did not map or
 * unprotect it (the VM is stopping): a zero page outside the pool, or the
 * write let through, ends the wait. */
static void uffd_release(struct gmem_kvm *k, const struct uffd_fault *f, bool resolve)
{
	struct uffdio_range range = { f->addr, PAGE_SIZE_4K };

	if (resolve && f->wp) {
		struct uffdio_writeprotect w = { .range = range, .mode = 0 };

		if (ioctl(k->uffd, UFFDIO_WRITEPROTECT, &w) == 0)
			return;
	} else if (resolve) {
		struct uffdio_zeropage z = { .range = range };

		if (ioctl(k->uffd, UFFDIO_ZEROPAGE, &z) == 0)
			return;
	}
	ioctl(k->uffd, UFFDIO_WAKE, &range);
}

/* The next userfaultfd message; false when there is none (or it is no fault). */
static bool read_fault(struct gmem_kvm *k, struct uffd_fault *f)
{
	struct uffd_msg msg;

	if (read(k->uffd, &msg, sizeof(msg)) != sizeof(msg) || msg.event != UFFD_EVENT_PAGEFAULT)
		return false;
	f->addr = msg.arg.pagefault.address & ~(PAGE_SIZE_4K - 1);
	f->write = msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE;
	f->wp = msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP;
	return true;
}

/*
 * A KVM access that waits in the userfaultfd, as hv's EPT-violation handler
 * (exit_now) sees it. A missing page is lazy RAM hv has not mapped: KVM does
 * not say whether the guest was fetching, so the qualification is a read or
 * a write, with no R/W/X (not mapped); the handler maps the frame and the
 * view then shows it. A write-protected page is a write to a page without W
 * in hv's map: the qualification carries the page's permissions there, as
 * the hardware's does (SDM 28.2.3.2), and the handler logs it and gives W
 * back. Either way KVM then takes the fault again.
 */
static int take_fault(struct vcpu_kvm *v)
{
	struct vcpu_exit e;
	struct uffd_fault f;
	uint64_t gpa;
	int rc;

	if (!read_fault(v->mem, &f))
		return 0;
	gpa = view_to_gpa(v->mem, f.addr);
	if (gpa == ~0ULL) {
		uffd_release(v->mem, &f, true);
		return -EFAULT;
	}
	memset(&e, 0, sizeof(e));
	e.reason = VCPU_EXIT_EPT_VIOLATION;
	e.exit_reason_vmx = EXIT_REASON_EPT_VIOLATION;
	e.ept.gpa = gpa;
	e.ept.qual = f.write ? EPT_QUAL_WRITE : EPT_QUAL_READ;
	if (f.wp) {
		uint64_t hpa, perms;
		unsigned shift;

		if (ept_lookup(v->mem->ept, gpa, &hpa, &shift, &perms) == 0)
			e.ept.qual |= (perms & EPT_R ? EPT_QUAL_READABLE : 0) |
				      (perms & EPT_W ? EPT_QUAL_WRITABLE : 0) |
				      (perms & EPT_X ? EPT_QUAL_EXECUTABLE : 0);
	}
	e.rip = v->rip;
	rc = v->exit_now(v->exit_ctx, &e);
	if (!rc)
		rc = flush_views(v->mem);
	uffd_release(v->mem, &f, rc != 0);
	return rc;
}

/*
 * The poisoned page KVM met in the last KVM_RUN (lazy RAM in the vCPU's
 * thread), as hv's EPT-violation handler sees it: lazy RAM hv has not
 * mapped. KVM does not say whether the guest was reading, writing or
 * fetching, so the qualification is a read with no R/W/X (not mapped), as
 * for a missing page in the userfaultfd; the handler maps the frame, and
 * mapping it replaces the poisoned page in the view. A page hv has mapped
 * that KVM found poisoned is a memory error of the host's: hv stops.
 */
static int take_poison(struct vcpu_kvm *v)
{
	uint64_t gpa = view_to_gpa(v->mem, v->poisoned & ~(uintptr_t)(PAGE_SIZE_4K - 1));
	uint64_t hpa, perms;
	struct vcpu_exit e;
	unsigned shift;
	int rc;

	v->poisoned = 0;
	if (gpa == ~0ULL)
		return -EFAULT;
	if (ept_lookup(v->mem->ept, gpa, &hpa, &shift, &perms) == 0)
		return -EHWPOISON;
	memset(&e, 0, sizeof(e));
	e.reason = VCPU_EXIT_EPT_VIOLATION;
	e.exit_reason_vmx = EXIT_REASON_EPT_VIOLATION;
	e.ept.gpa = gpa;
	e.ept.qual = EPT_QUAL_READ;
	e.rip = v->rip = v->run->s.regs.regs.rip;
	rc = v->exit_now(v->exit_ctx, &e);
	if (!rc)
		rc = flush_views(v->mem);
	if (!rc && v->prefault) {
		struct kvm_pre_fault_memory pf = { .gpa = gpa & ~(PAGE_SIZE_4K - 1),
						   .size = PAGE_SIZE_4K };

		/* Only a shortcut: where KVM declines, the guest faults again. */
		if (ioctl(v->fd, KVM_PRE_FAULT_MEMORY, &pf) < 0 && errno != EINTR && errno != EAGAIN)
			v->prefault = false;
	}
	return rc;
}

/*
 * KVM's own access to lazy RAM hv has not mapped (in the vCPU's thread). An
 * instruction KVM emulates (string I/O, or MOVS with a device on the other
 * side) copies its RAM operand itself, outside any guest page fault. On a
 * poisoned page that copy fails with neither a wait nor a signal, and KVM
 * then takes the GPA for a device's: a KVM_EXIT_MMIO inside a RAM slot, at
 * most 8 bytes inside one page. hv hands the page to the same EPT-violation
 * handler as any first touch (again with the write and the page's
 * permissions, as for a write-protected page, if a write finds no W after
 * the first), then does the access KVM could not: a read fills
 * kvm_run.mmio.data from the frame, a write lands in the frame, and KVM
 * completes the instruction when the guest enters again. A page hv had
 * mapped already is a memory error of the host's, as in take_poison(); a
 * page the handler leaves without the access stops the VM with the reason
 * (*exit, 2).
 * 1: done (enter again); 0: not such an access; 2: *exit says why the VM
 * stops; -errno.
 */
static int take_ram_mmio(struct vcpu_kvm *v, struct vcpu_exit *exit)
{
	struct kvm_run *r = v->run;
	struct gmem_kvm *k = v->mem;
	uint64_t gpa = r->mmio.phys_addr, page = gpa & ~(PAGE_SIZE_4K - 1);
	uint64_t hpa, perms, need = r->mmio.is_write ? EPT_W : EPT_R;
	struct kvm_slot *s = slot_of(k, gpa, r->mmio.len);
	unsigned shift;
	uint8_t *at;
	int rc;

	if (!k->lazy || !s || !s->ram || s->readonly || r->mmio.len == 0 || r->mmio.len > 8 ||
	    (gpa & (PAGE_SIZE_4K - 1)) + r->mmio.len > PAGE_SIZE_4K)
		return 0;
	if (ept_lookup(k->ept, page, &hpa, &shift, &perms) == 0)
		return -EHWPOISON;
	for (unsigned n = 0;; n++) {
		struct vcpu_exit e;
		bool mapped = ept_lookup(k->ept, page, &hpa, &shift, &perms) == 0;

		if (mapped && (perms & need))
			break;
		if (n == 2) {
			fail_exit(exit, VCPU_EXIT_INTERNAL_ERROR,
				  "KVM's own %s of guest RAM at GPA 0x%llx (an instruction "
				  "KVM emulated): hv's handler left the page %s",
				  r->mmio.is_write ? "write" : "read", (unsigned long long)gpa,
				  mapped ? "without that permission" : "unmapped");
			return 2;
		}
		memset(&e, 0, sizeof(e));
		e.reason = VCPU_EXIT_EPT_VIOLATION;
		e.exit_reason_vmx = EXIT_REASON_EPT_VIOLATION;
		e.ept.gpa = gpa;
		e.ept.qual = r->mmio.is_write ? EPT_QUAL_WRITE : EPT_QUAL_READ;
		if (mapped)
			e.ept.qual |= (perms & EPT_R ? EPT_QUAL_READABLE : 0) |
				      (perms & EPT_W ? EPT_QUAL_WRITABLE : 0) |
				      (perms & EPT_X ? EPT_QUAL_EXECUTABLE : 0);
		e.rip = v->rip = r->s.regs.regs.rip;
		rc = v->exit_now(v->exit_ctx, &e);
		if (!rc)
			rc = flush_views(k);
		if (rc)
			return rc;
	}
	/* Through the pool's own mapping of the frame, which no userfaultfd
	 * watches (the view's page may be registered for write-protection):
	 * hv's own access must never wait for hv. */
	if (ept_lookup(k->ept, gpa, &hpa, &shift, &perms) != 0)
		return -EFAULT;
	at = hpool_ptr(k->pool, hpa);
	if (r->mmio.is_write) {
		uint64_t p = (gpa - s->gpa) / PAGE_SIZE_4K;

		if (!s->hv_dirty)
			s->hv_dirty = calloc((s->size / PAGE_SIZE_4K + 63) / 64, sizeof(uint64_t));
		if (!s->hv_dirty)
			return -ENOMEM;
		s->hv_dirty[p / 64] |= 1ULL << (p % 64);
		memcpy(at, r->mmio.data, r->mmio.len);
	} else
		memcpy(r->mmio.data, at, r->mmio.len);
	return 1;
}

/* Out of KVM_RUN without hv's handler (the VM stops or hv failed): faults
 * still waiting get zero pages, which nothing reads afterwards, or their
 * writes. */
static void stop_runner(struct vcpu_kvm *v)
{
	struct uffd_fault f;
	uint64_t n;

	if (!v->in_run)
		return;
	kvm_kick(&v->base);
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = v->mem->uffd, .events = POLLIN },
			{ .fd = v->done_fd, .events = POLLIN },
		};

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;   /* cannot happen with valid fds */
		}
		if ((p[0].revents & POLLIN) && read_fault(v->mem, &f))
			uffd_release(v->mem, &f, true);
		if ((p[1].revents & POLLIN) && read(v->done_fd, &n, sizeof(n)) == sizeof(n))
			break;
	}
	v->in_run = false;
}

/* The time from now to *at in *left; false when *at has come. */
static bool time_left(const struct timespec *at, struct timespec *left)
{
	struct timespec now;
	int64_t ns;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (int64_t)(at->tv_sec - now.tv_sec) * 1000000000 + (at->tv_nsec - now.tv_nsec);
	if (ns <= 0)
		return false;
	left->tv_sec = ns / 1000000000;
	left->tv_nsec = ns % 1000000000;
	return true;
}

/* When the guest's TSC reaches `deadline` (a guest TSC value), as a
 * CLOCK_MONOTONIC time in v->wake (wake_set); none beyond an hour. */
static int set_wake(struct vcpu_kvm *v, uint64_t deadline)
{
	uint64_t now, ticks, ns;
	int rc = guest_tsc(v, 0, &now);

	if (rc)
		return rc;
	ticks = deadline > now ? deadline - now : 0;
	if (ticks / v->tsc_khz > 3600ULL * 1000)
		return 0;
	ns = ticks / v->tsc_khz * 1000000 + ticks % v->tsc_khz * 1000000 / v->tsc_khz;
	clock_gettime(CLOCK_MONOTONIC, &v->wake);
	ns += (uint64_t)v->wake.tv_nsec;
	v->wake.tv_sec += (time_t)(ns / 1000000000);
	v->wake.tv_nsec = (long)(ns % 1000000000);
	v->wake_set = true;
	return 0;
}

/*
 * The wake-up timer of a KVM_RUN in this thread (no runner thread): at
 * v->wake, KICK_SIGNAL to this thread, whose handler sets immediate_exit,
 * so KVM_RUN returns EINTR whether the signal comes inside it or just
 * before it. Created at the first use, for the thread that runs the vCPU;
 * 0 or -errno (then the runner thread does it).
 */
static int arm_wake_timer(struct vcpu_kvm *v)
{
	struct itimerspec at = { .it_value = v->wake };

	if (!v->has_timer) {
		struct sigevent ev;
		int rc = catch_kick();

		if (rc)
			return rc;
		memset(&ev, 0, sizeof(ev));
		ev.sigev_notify = SIGEV_THREAD_ID;
		ev.sigev_signo = KICK_SIGNAL;
		ev.sigev_notify_thread_id = gettid();
		if (timer_create(CLOCK_MONOTONIC, &ev, &v->timer) < 0)
			return -errno;
		v->has_timer = true;
		v->timer_tid = gettid();
	}
	if (v->timer_tid != gettid())
		return -EPERM;   /* the timer signals another thread */
	if (timer_settime(v->timer, TIMER_ABSTIME, &at, NULL) < 0)
		return -errno;
	v->timer_armed = true;
	return 0;
}

static void disarm_wake_timer(struct vcpu_kvm *v)
{
	struct itimerspec off;

	memset(&off, 0, sizeof(off));
	timer_settime(v->timer, 0, &off, NULL);
	v->timer_armed = false;
}

/*
 * One KVM_RUN in the runner thread while this thread takes the userfaultfd
 * faults of lazy RAM to hv, and kicks the guest out when hv's next timer
 * event falls due. 0 with KVM_RUN's errno in *err, or -errno.
 */
static int run_in_runner(struct vcpu_kvm *v, int *err)
{
	uint64_t n = 1;
	int rc;

	if (write(v->go_fd, &n, sizeof(n)) != sizeof(n))
		return -errno;
	v->in_run = true;
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = v->mem->uffd, .events = POLLIN },
			{ .fd = v->done_fd, .events = POLLIN },
		};
		struct timespec left;

		/* hv's timer event is due (also while hv was handling a fault
		 * for the guest): the guest leaves KVM_RUN, hv delivers it. */
		if (v->wake_set && !time_left(&v->wake, &left)) {
			v->wake_set = false;
			kvm_kick(&v->base);
		}
		rc = ppoll(p, 2, v->wake_set ? &left : NULL, NULL);
		if (rc == 0)
			continue;
		if (rc < 0) {
			if (errno != EINTR) {
				rc = -errno;
				stop_runner(v);
				return rc;
			}
			/* A signal for hv: leave the guest so that hv sees it. */
			kvm_kick(&v->base);
			continue;
		}
		if (p[0].revents & POLLIN) {
			rc = take_fault(v);
			if (rc) {
				stop_runner(v);
				return rc;
			}
			continue;
		}
		if ((p[1].revents & POLLIN) && read(v->done_fd, &n, sizeof(n)) == sizeof(n)) {
			v->in_run = false;
			*err = v->run_err;
			return 0;
		}
	}
}

/*
 * KVM runs until an exit; it retires no counted instructions, so max_insns
 * is not a budget here (hv refuses the options that need one). The exit's
 * interrupt handshake maps onto kvm_run's fields for a user-space interrupt
 * controller (request_interrupt_window, ready_for_interrupt_injection, cr8),
 * interrupts go in with KVM_INTERRUPT and NMIs with KVM_NMI.
 */
static int kvm_run(struct vcpu *vcpu, uint64_t max_insns, struct vcpu_exit *exit)
{
	struct vcpu_kvm *v = to_kvm(vcpu);
	struct kvm_run *r = v->run;
	uint64_t idle = exit->irq.idle, deadline = exit->irq.deadline, tsc;
	bool filled = false;
	int rc, err = 0;

	(void)max_insns;
	if (v->io_next < v->io_count) {
		/* The next element of KVM's last I/O exit, before the guest runs
		 * again: the guest's time and TPR are as they were. */
		uint8_t cr8 = exit->irq.cr8;

		tsc = exit->irq.tsc;
		complete_pending(v, exit);
		memset(exit, 0, sizeof(*exit));
		io_element(v, exit);
		exit->rip = v->rip;
		exit->irq.cr8 = cr8;
		exit->irq.tsc = tsc;
		return 0;
	}
	if (v->lapic_exits) {
		r->request_interrupt_window = exit->irq.window;
		r->cr8 = exit->irq.cr8;
		if (idle && (rc = guest_tsc(v, idle, &tsc)))
			return rc;
	}
	/* The frames hv mapped since the last run are in the slots before the guest runs. */
	if ((rc = flush_views(v->mem)))
		return rc;
	/* Write-protected pages (dirty tracking) fault in the userfaultfd from
	 * now on: KVM_RUN moves to the runner thread, as with lazy RAM. */
	if (v->mem->wp_used && !v->has_runner && (rc = v->exit_now ? start_runner(v) : -EINVAL))
		return rc;
	/* A timer event of hv's to come: it must reach a guest that does not
	 * exit by itself. With the runner thread, this thread kicks it out in
	 * time; without, a POSIX timer signals this thread at that time, which
	 * ends its KVM_RUN (or the next one at once). Where no such timer can
	 * be had, KVM_RUN moves to the runner thread from now on. */
	v->wake_set = false;
	if (v->lapic_exits && deadline && v->tsc_khz) {
		if ((rc = set_wake(v, deadline)))
			return rc;
		if (!v->has_runner && v->wake_set && arm_wake_timer(v) != 0 &&
		    (rc = start_runner(v)))
			return rc;
	}
	if (!v->wake_set && v->timer_armed)
		disarm_wake_timer(v);
	complete_pending(v, exit);
	memset(exit, 0, sizeof(*exit));
	for (;;) {
		if (v->has_runner) {
			rc = run_in_runner(v, &err);
			/* hv stopped the VM while handling a fault: the guest is out. */
			if (rc == -ECANCELED) {
				err = EINTR;
				break;
			} else if (rc) {
				return rc;
			}
		} else {
			err = run_kvm(v);
		}
		if (!v->poisoned) {
			/* KVM's own access to a page of lazy RAM not mapped yet:
			 * map it, do the access, enter again. */
			if (err || r->exit_reason != KVM_EXIT_MMIO)
				break;
			rc = take_ram_mmio(v, exit);
			if (rc == 1)
				continue;
			if (rc == -ECANCELED) {
				err = EINTR;
				break;
			}
			if (rc < 0)
				return rc;
			filled = rc == 2;
			break;
		}
		/* Lazy RAM in this thread: map the page KVM met, enter again. A
		 * kick meanwhile (immediate_exit) ends the next KVM_RUN at once. */
		rc = take_poison(v);
		if (rc == -ECANCELED) {
			err = EINTR;
			break;
		} else if (rc) {
			return rc;
		}
		if (err != EINTR)
			break;
	}
	if (filled) {
		/* take_ram_mmio() said why the VM stops. */
	} else if (err) {
		/* A signal reached hv (or a kick came before the entry): an exit
		 * with nothing to handle, so that the exit loop sees a stop
		 * request. The kick is spent; a later one sets it again. */
		if (err != EINTR && err != EAGAIN)
			return -err;
		*(volatile __u8 *)&r->immediate_exit = 0;
		exit->reason = VCPU_EXIT_NONE;
	} else {
		translate_exit(v, exit);
	}
	v->at_boundary = !filled && (err ? err == EINTR || err == EAGAIN
				       : r->exit_reason == KVM_EXIT_IRQ_WINDOW_OPEN);
	exit->rip = v->rip = r->s.regs.regs.rip;
	if (v->lapic_exits) {
		exit->irq.ready = r->ready_for_interrupt_injection && r->if_flag;
		exit->irq.cr8 = (uint8_t)r->cr8;
		if ((rc = guest_tsc(v, 0, &exit->irq.tsc)))
			return rc;
	}
	return 0;
}

/* The byte of guest code at rip, through the guest's segments and paging
 * as KVM holds them and hv's map of guest-physical memory; false when the
 * address leads to no frame hv has mapped. */
static bool code_byte(struct vcpu_kvm *v, const struct kvm_sregs *s, uint64_t rip, uint8_t *b)
{
	struct kvm_translation t;
	uint64_t hpa, perms;
	unsigned shift;

	memset(&t, 0, sizeof(t));
	if ((s->efer & EFER_LMA) && s->cs.l)
		t.linear_address = rip;
	else
		t.linear_address = (uint32_t)(s->cs.base + (rip & (s->cs.db ? 0xffffffffULL : 0xffffULL)));
	if (ioctl(v->fd, KVM_TRANSLATE, &t) < 0 || !t.valid ||
	    ept_lookup(v->mem->ept, t.physical_address, &hpa, &shift, &perms) != 0)
		return false;
	*b = *(const uint8_t *)hpool_ptr(v->mem->pool, hpa);
	return true;
}

/*
 * hv is about to inject an interrupt while the vCPU stands at a HLT it has
 * not executed, interrupts enabled: RIP moves past the HLT first, so that
 * the interrupt is delivered as if it had come while the vCPU was halted
 * there (an external interrupt comes when it comes; the guest cannot tell
 * the two apart). The guest's STI; HLT then holds whatever the processor
 * did with STI's interrupt shadow over a VM exit and entry: one that drops
 * it at VMRUN (QEMU's emulated SVM before 9.1) lets KVM report the window
 * open at the HLT, and an interrupt delivered there would return to the HLT,
 * which then waits for another that may never come. 1 when RIP moved, 0
 * when not, or -errno.
 */
static int retire_hlt(struct vcpu_kvm *v)
{
	struct kvm_regs regs = v->run->s.regs.regs;
	struct kvm_sregs s;
	uint8_t b;

	if (!v->at_boundary || ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return 0;
	/* Only a HLT that would halt: at CPL 0 (SS.DPL is the CPL; real mode
	 * is CPL 0, virtual-8086 mode CPL 3: elsewhere HLT raises #GP), with
	 * no single-step trap to follow it, and not at the end of a 16-bit
	 * code segment's offsets (IP would wrap). */
	if (((s.cr0 & 1) && s.ss.dpl != 0) || (regs.rflags & (RFLAGS_VM | RFLAGS_TF)) ||
	    (!((s.efer & EFER_LMA) && s.cs.l) && !s.cs.db && (regs.rip & 0xffff) == 0xffff))
		return 0;
	if (!code_byte(v, &s, regs.rip, &b) || b != 0xf4)
		return 0;
	regs.rip++;
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	v->run->s.regs.regs.rip = v->rip = regs.rip;
	return 1;
}

static int kvm_inject_irq(struct vcpu *vcpu, uint8_t vector)
{
	struct vcpu_kvm *v = to_kvm(vcpu);
	struct kvm_interrupt irq = { .irq = vector };
	int rc = retire_hlt(v);

	if (rc < 0)
		return rc;
	v->at_boundary = false;
	return ioctl(v->fd, KVM_INTERRUPT, &irq) < 0 ? -errno : 0;
}

static int kvm_inject_nmi(struct vcpu *vcpu)
{
	return ioctl(to_kvm(vcpu)->fd, KVM_NMI) < 0 ? -errno : 0;
}

static void kvm_get_stats(struct vcpu *vcpu, struct vcpu_stats *s)
{
	*s = to_kvm(vcpu)->stats;
}

/* KVM's binary statistics of the VM, then of the vCPU: the kernel's counts. */
static int kvm_hw_stats(struct vcpu *vcpu, vcpu_hw_stat_fn fn, void *ctx)
{
	struct vcpu_kvm *v = to_kvm(vcpu);
	const struct {
		const char *scope;
		int fd;
	} owner[] = { { "vm", v->mem->vm_fd }, { "vcpu", v->fd } };

	if (ioctl(v->mem->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_BINARY_STATS_FD) <= 0)
		return -ENOSYS;

	for (unsigned i = 0; i < 2; i++) {
		struct kvm_stats st;
		int rc = kvm_stats_read(owner[i].fd, &st);

		if (rc)
			return rc;
		for (unsigned k = 0; k < st.n; k++)
			fn(ctx, owner[i].scope, st.stat[k].name, st.stat[k].value);
		kvm_stats_free(&st);
	}
	return 0;
}

const struct vcpu_ops vcpu_kvm_ops = {
	.name = "kvm",
	.needs_memfd_pool = true,
	.counts_instructions = false,
	.probe = kvm_probe,
	.probe_lazy = kvm_probe_lazy,
	.mem_create = kvm_mem_create,
	.mem_destroy = kvm_mem_destroy,
	.create = kvm_create,
	.destroy = kvm_destroy,
	.get_regs = kvm_get_regs,
	.set_regs = kvm_set_regs,
	.get_sregs = kvm_get_sregs,
	.set_sregs = kvm_set_sregs,
	.reset = kvm_reset,
	.run = kvm_run,
	.inject_irq = kvm_inject_irq,
	.inject_nmi = kvm_inject_nmi,
	.kick = kvm_kick,
	.get_stats = kvm_get_stats,
	.hw_stats = kvm_hw_stats,
};
