/*
 * dma.c: a driver for QEMU's edu PCI device and for a VT-d DMA-remapping
 * unit, and the workloads that use them.
 *
 *   workload=dma         the device copies pages through the IOMMU and the
 *                        kernel checks every byte
 *   workload=dma-attack  the device is pointed at memory its domain does not
 *                        map (the page at GPA 0xf0000, a read-only page, a
 *                        kernel secret): each DMA must be refused with a VT-d
 *                        fault record and leave memory as it was; with
 *                        hpa-canary= and hpa-ept= (hv run --passthrough gives
 *                        them) and no visible IOMMU, at hv's own pages
 *                        instead: read and write hv's canary, and write an
 *                        entry into the EPT table that maps BAR0 so that
 *                        BAR0 + 0x1000 maps hv's canary
 *   workload=dma-dirty   hv's dirty tracking starts (hypercall), then the
 *                        device writes a page the CPU leaves alone
 *   workload=dma-fault-event  the attacks of dma-attack with the unit's
 *                        fault event unmasked: each refused DMA raises an
 *                        MSI (vector VEC_IRQ_VTD) whose handler reads and
 *                        clears the fault records; then a fault while the
 *                        event is masked, whose interrupt waits in FECTL.IP
 *                        until it is unmasked
 *
 * The VT-d unit is the one the ACPI DMAR table announces (its first DRHD);
 * without a DMAR table there is none and bus addresses are guest-physical.
 * iommu=off on the command line says there is none whatever the tables say,
 * iommu=on that there is one (at QEMU's default base 0xfed90000 when no
 * table says where). The same kernel
 * runs under hv (--edu) and under QEMU (-M q35 -device intel-iommu
 * -device edu) and prints the same lines.
 *
 * References: QEMU docs/specs/edu.rst for the device; the VT-d specification
 * (root/context entries 9.1/9.3, second-level entries 9.8, registers 11.4,
 * fault recording 7.3) for the unit. Each transfer asks for edu's DMA
 * interrupt, an MSI to the local APIC on vector VEC_IRQ_DMA: the transfer is
 * over when the start bit of the command register is clear and the
 * interrupt has been taken (and acknowledged at the device and the APIC).
 */
#include "kernel.h"
#include "x86.h"

/* PCI Local Bus 3.0, 3.2.2.3.2: configuration mechanism #1. */
#define PCI_ADDR 0xcf8
#define PCI_DATA 0xcfc

static uint32_t pci_read(unsigned devfn, unsigned off)
{
	outl(PCI_ADDR, 0x80000000u | devfn << 8 | (off & 0xfc));
	return inl(PCI_DATA);
}

static void pci_write(unsigned devfn, unsigned off, uint32_t v)
{
	outl(PCI_ADDR, 0x80000000u | devfn << 8 | (off & 0xfc));
	outl(PCI_DATA, v);
}

/* edu.rst: registers of BAR0. */
#define EDU_ID 0x00
#define EDU_LIVE 0x04
#define EDU_FACT 0x08
#define EDU_STATUS 0x20
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_ACK 0x64
#define EDU_IRQ_DMA 0x100
#define EDU_CMD_IRQ 4
#define EDU_SRC 0x80
#define EDU_DST 0x88
#define EDU_CNT 0x90
#define EDU_CMD 0x98
#define EDU_CMD_START 1
#define EDU_CMD_TO_RAM 2
#define EDU_BUF 0x40000ULL

/* VT-d 11.4: register offsets and bits. The unit's base comes from the
 * ACPI DMAR table (QEMU's default base when iommu=on is given without one). */
#define VTD_BASE_DEFAULT 0xfed90000ULL
static uint64_t vtd_base = VTD_BASE_DEFAULT;
#define VTD_VER 0x00
#define VTD_CAP 0x08
#define VTD_ECAP 0x10
#define VTD_GCMD 0x18
#define VTD_GSTS 0x1c
#define VTD_RTADDR 0x20
#define VTD_CCMD 0x28
#define VTD_FSTS 0x34
#define VTD_FECTL 0x38
#define VTD_FEDATA 0x3c
#define VTD_FEADDR 0x40
#define VTD_FEUADDR 0x44
#define FECTL_IM (1u << 31)
#define FECTL_IP (1u << 30)
#define FSTS_PFO 1u
#define FSTS_FRI(s) (((s) >> 8) & 0xff)
#define VTD_IQT 0x88
#define VTD_IQA 0x90
#define GCMD_QIE (1u << 26)
/* VT-d 6.5.2: invalidation descriptors (low qword; the high one is given). */
#define DESC_CC 1ULL
#define DESC_IOTLB 2ULL
#define DESC_WAIT 5ULL
#define DESC_G(g) ((uint64_t)(g) << 4)
#define DESC_DID(d) ((uint64_t)(d) << 16)
#define DESC_CC_SID(s) ((uint64_t)(s) << 32)
#define DESC_WAIT_SW (1ULL << 5)
#define DESC_WAIT_DATA(x) ((uint64_t)(x) << 32)
#define GCMD_TE (1u << 31)
#define GCMD_SRTP (1u << 30)
#define CCMD_ICC (1ULL << 63)
#define CCMD_GLOBAL (1ULL << 61)  /* CIRG = 01 */
#define IOTLB_IVT (1ULL << 63)
#define IOTLB_GLOBAL (1ULL << 60) /* IIRG = 01 */
#define FRCD_F (1ULL << 63)
#define FRCD_T (1ULL << 62)
#define SL_R 1ULL
#define SL_W 2ULL

/* The device's domain: what its IOVAs map to. */
#define DOMAIN_ID 1
#define IOVA_SRC 0x100000ULL   /* read/write */
#define IOVA_DST 0x101000ULL   /* read/write */
#define IOVA_RO 0x200000ULL    /* read-only */
#define IOVA_DIRTY 0x102000ULL /* read/write, workload=dma-dirty only */
#define CANARY_GPA 0xf0000ULL  /* reserved in the memory map; no IOVA maps it */

/* SDM 11.4.1, 11.5.1, 11.8.5: the local APIC's xAPIC page. */
#define LAPIC_BASE 0xfee00000ULL
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_SVR_ENABLE 0x100

struct edu {
	unsigned devfn;
	volatile uint8_t *regs;
	bool msi;               /* completion interrupts are on */
};

struct vtd {
	volatile uint8_t *regs;
	uint64_t cap, ecap;
	unsigned fro, nfr, iro;
	uint32_t gcmd;          /* persistent command bits (TE) */
	uint64_t *root, *ctx, *l3, *l2, *l1;
	uint64_t *iq;           /* the invalidation queue (256 descriptors), or NULL */
	unsigned iq_tail;
	volatile uint32_t *iq_status;  /* where wait descriptors write */
	unsigned iq_descs, iq_waits;
};

static uint32_t r32(volatile uint8_t *b, unsigned off) { return *(volatile uint32_t *)(b + off); }
static uint64_t r64(volatile uint8_t *b, unsigned off) { return *(volatile uint64_t *)(b + off); }
static void w32(volatile uint8_t *b, unsigned off, uint32_t v) { *(volatile uint32_t *)(b + off) = v; }
static void w64(volatile uint8_t *b, unsigned off, uint64_t v) { *(volatile uint64_t *)(b + off) = v; }

static void pause(void)
{
	__asm__ volatile("pause");
}

/* A device register window, identity-mapped (page tables stay, like ioremap). */
static void map_mmio(uint64_t pa, uint64_t len)
{
	for (uint64_t off = 0; off < len; off += PAGE_SIZE)
		map_4k(kernel_pml4, pa + off, pa + off, PTE_W);
	write_cr3(read_cr3());
}

static bool edu_found;

static bool edu_find(struct edu *e)
{
	for (unsigned dev = 0; dev < 32; dev++) {
		unsigned devfn = dev << 3;

		if (pci_read(devfn, 0) != 0x11e81234u)
			continue;
		uint32_t bar = pci_read(devfn, 0x10) & ~0xfu;
		e->devfn = devfn;
		e->regs = (volatile uint8_t *)(uint64_t)bar;
		map_mmio(bar, 1ULL << 20);
		/* Memory space and bus mastering on (PCI 3.0, 6.2.2). */
		pci_write(devfn, 0x04, (pci_read(devfn, 0x04) & 0xffff) | 0x6);
		return true;
	}
	return false;
}

/* Completion interrupts taken, and what the device's status held. */
static volatile uint64_t dma_irqs;
static volatile uint32_t dma_irq_status;

/* VEC_IRQ_DMA: acknowledge the device (edu.rst: the ISR must write the
 * status back to the acknowledge register), then the local APIC. */
static struct edu the_edu;

static void edu_irq(void)
{
	volatile uint8_t *r = the_edu.regs;

	dma_irq_status |= r32(r, EDU_IRQ_STATUS);
	w32(r, EDU_IRQ_ACK, r32(r, EDU_IRQ_STATUS));
	dma_irqs++;
	w32((volatile uint8_t *)LAPIC_BASE, LAPIC_EOI, 0);
}

/* PCI 3.0, 6.8.1: find the MSI capability and point it at this CPU's local
 * APIC (destination 0, fixed delivery, edge) with VEC_IRQ_DMA. */
static bool edu_msi_setup(struct edu *e)
{
	unsigned ptr = pci_read(e->devfn, 0x34) & 0xfc;

	for (unsigned n = 0; ptr && n < 48; n++) {
		uint32_t head = pci_read(e->devfn, ptr);

		if ((head & 0xff) == 0x05) {
			uint16_t ctrl = (uint16_t)(head >> 16);
			unsigned data = ctrl & 0x80 ? ptr + 12 : ptr + 8;

			pci_write(e->devfn, ptr + 4, (uint32_t)LAPIC_BASE);
			if (ctrl & 0x80)
				pci_write(e->devfn, ptr + 8, 0);
			pci_write(e->devfn, data, VEC_IRQ_DMA);
			pci_write(e->devfn, ptr, (head & 0xffff) | (uint32_t)(ctrl | 1) << 16);
			irq_register(VEC_IRQ_DMA, edu_irq);
			w32((volatile uint8_t *)LAPIC_BASE, LAPIC_SVR,
			    r32((volatile uint8_t *)LAPIC_BASE, LAPIC_SVR) | LAPIC_SVR_ENABLE | 0xff);
			e->msi = true;
			return true;
		}
		ptr = (head >> 8) & 0xfc;
	}
	return false;
}

static void edu_dma(struct edu *e, uint64_t src, uint64_t dst, uint64_t cnt, uint64_t cmd)
{
	uint64_t irqs = dma_irqs;

	w64(e->regs, EDU_SRC, src);
	w64(e->regs, EDU_DST, dst);
	w64(e->regs, EDU_CNT, cnt);
	w64(e->regs, EDU_CMD, cmd | EDU_CMD_START | (e->msi ? EDU_CMD_IRQ : 0));
	while (r64(e->regs, EDU_CMD) & EDU_CMD_START)
		pause();
	/* With interrupts on, the transfer is over when its MSI was taken. */
	while (e->msi && dma_irqs == irqs)
		pause();
}

/* Copy len bytes of guest memory at bus address `bus` into the device's
 * buffer at `off`, and from the buffer to memory. */
static void edu_from_ram(struct edu *e, uint64_t bus, uint64_t off, uint64_t len)
{
	edu_dma(e, bus, EDU_BUF + off, len, 0);
}

static void edu_to_ram(struct edu *e, uint64_t off, uint64_t bus, uint64_t len)
{
	edu_dma(e, EDU_BUF + off, bus, len, EDU_CMD_TO_RAM);
}

/* ------------------------------------------------------------------------ */
/* Finding the unit: ACPI                                                   */
/* ------------------------------------------------------------------------ */

static uint8_t sum8(const uint8_t *p, uint64_t n)
{
	uint8_t s = 0;

	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static bool sig_is(const uint8_t *p, const char *sig, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (p[i] != (uint8_t)sig[i])
			return false;
	return true;
}

static uint32_t le32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ACPI 5.2.5.1: the RSDP on a 16-byte boundary of 0xe0000-0xfffff, its first
 * 20 bytes summing to 0; 0 when there is none. */
static uint64_t acpi_rsdp(void)
{
	for (uint64_t a = 0xe0000; a < 0x100000; a += 16) {
		const uint8_t *p = (const uint8_t *)a;

		if (sig_is(p, "RSD PTR ", 8) && sum8(p, 20) == 0)
			return a;
	}
	return 0;
}

/* VT-d 8.1, 8.3: the register base of the DMAR table's first DRHD (through
 * the RSDT, which every RSDP revision has); 0 when there is none. A table
 * whose bytes do not sum to 0 or whose structures overrun it is ignored. */
static uint64_t acpi_drhd(void)
{
	uint64_t rsdp = acpi_rsdp();

	if (!rsdp)
		return 0;
	const uint8_t *rsdt = (const uint8_t *)(uint64_t)le32((const uint8_t *)rsdp + 16);
	uint32_t rlen = le32(rsdt + 4);

	if (!sig_is(rsdt, "RSDT", 4) || rlen < 36 || sum8(rsdt, rlen) != 0)
		return 0;
	for (uint32_t off = 36; off + 4 <= rlen; off += 4) {
		const uint8_t *t = (const uint8_t *)(uint64_t)le32(rsdt + off);
		uint32_t len = le32(t + 4);

		if (!sig_is(t, "DMAR", 4) || len < 48 || sum8(t, len) != 0)
			continue;
		for (uint32_t s = 48; s + 4 <= len;) {
			uint16_t type = (uint16_t)(t[s] | t[s + 1] << 8);
			uint16_t slen = (uint16_t)(t[s + 2] | t[s + 3] << 8);

			if (slen < 4 || s + slen > len)
				break;
			if (type == 0 && slen >= 16)
				return le32(t + s + 8) | (uint64_t)le32(t + s + 12) << 32;
			s += slen;
		}
	}
	return 0;
}

bool dma_iommu_announced(void)
{
	uint64_t base = acpi_drhd();

	if (!base) {
		kprintf("acpi: no DMAR table\n");
		return false;
	}
	kprintf("acpi: DMAR table: a remapping unit at 0x%lx\n", base);
	vtd_base = base;
	return true;
}

/* ------------------------------------------------------------------------ */
/* VT-d                                                                     */
/* ------------------------------------------------------------------------ */

static void vtd_command(struct vtd *v, uint32_t cmd)
{
	/* VT-d 11.4.4: one command per write, the persistent bits kept. */
	w32(v->regs, VTD_GCMD, v->gcmd | cmd);
	while (!(r32(v->regs, VTD_GSTS) & cmd))
		pause();
}

static void vtd_invalidate_all(struct vtd *v)
{
	w64(v->regs, VTD_CCMD, CCMD_ICC | CCMD_GLOBAL);
	while (r64(v->regs, VTD_CCMD) & CCMD_ICC)
		pause();
	w64(v->regs, v->iro + 8, IOTLB_IVT | IOTLB_GLOBAL);
	while (r64(v->regs, v->iro + 8) & IOTLB_IVT)
		pause();
}

/* Map one 4 KiB IOVA in the 3-level (39-bit) tables. */
static void vtd_map(struct vtd *v, uint64_t iova, uint64_t pa, uint64_t perms)
{
	/* All IOVAs here sit under one SL-PDE: one table per level. */
	v->l3[(iova >> 30) & 511] = (uint64_t)v->l2 | SL_R | SL_W;
	v->l2[(iova >> 21) & 511] = (uint64_t)v->l1 | SL_R | SL_W;
	v->l1[(iova >> 12) & 511] = pa | perms;
}

static bool vtd_init(struct vtd *v, const struct edu *e, uint64_t src, uint64_t dst, uint64_t ro)
{
	v->regs = (volatile uint8_t *)vtd_base;
	uint32_t ver = r32(v->regs, VTD_VER);
	v->cap = r64(v->regs, VTD_CAP);
	v->ecap = r64(v->regs, VTD_ECAP);
	v->fro = (unsigned)((v->cap >> 24) & 0x3ff) * 16;
	v->nfr = (unsigned)((v->cap >> 40) & 0xff) + 1;
	v->iro = (unsigned)((v->ecap >> 8) & 0x3ff) * 16;
	kprintf("vt-d: version %u.%u at 0x%lx, 39-bit tables %s\n", (ver >> 4) & 0xf, ver & 0xf,
		vtd_base, (v->cap >> 9) & 1 ? "supported" : "NOT supported");
	if (!((v->cap >> 9) & 1))
		return false;

	v->root = (uint64_t *)frame_alloc();
	v->ctx = (uint64_t *)frame_alloc();
	v->l3 = (uint64_t *)frame_alloc();
	v->l2 = (uint64_t *)frame_alloc();
	v->l1 = (uint64_t *)frame_alloc();
	/* VT-d 9.1 / 9.3: bus 0's root entry, then the device's context entry:
	 * present, translation type 0, AW 1 (39-bit), domain DOMAIN_ID. */
	v->root[0] = (uint64_t)v->ctx | 1;
	v->ctx[e->devfn * 2] = (uint64_t)v->l3 | 1;
	v->ctx[e->devfn * 2 + 1] = 1 | (uint64_t)DOMAIN_ID << 8;
	vtd_map(v, IOVA_SRC, src, SL_R | SL_W);
	vtd_map(v, IOVA_DST, dst, SL_R | SL_W);
	vtd_map(v, IOVA_RO, ro, SL_R);

	w64(v->regs, VTD_RTADDR, (uint64_t)v->root);
	vtd_command(v, GCMD_SRTP);
	vtd_invalidate_all(v);
	vtd_command(v, GCMD_TE);
	v->gcmd |= GCMD_TE;
	kprintf("vt-d: domain %u maps IOVA 0x%lx-0x%lx read/write and 0x%lx read-only; "
		"translation on\n", DOMAIN_ID, (uint64_t)IOVA_SRC, (uint64_t)(IOVA_DST + PAGE_SIZE - 1),
		(uint64_t)IOVA_RO);
	return true;
}

/* VT-d 6.5.2: the invalidation queue, one 4 KiB page (QS 0: 256
 * descriptors), then QIE; from here on invalidations go through it. */
static void vtd_qi_enable(struct vtd *v)
{
	v->iq = (uint64_t *)frame_alloc();
	v->iq_status = (volatile uint32_t *)frame_alloc();
	v->iq_tail = 0;
	w64(v->regs, VTD_IQT, 0);
	w64(v->regs, VTD_IQA, (uint64_t)v->iq);
	vtd_command(v, GCMD_QIE);
	v->gcmd |= GCMD_QIE;
}

static void vtd_qi_put(struct vtd *v, uint64_t lo, uint64_t hi)
{
	v->iq[v->iq_tail * 2] = lo;
	v->iq[v->iq_tail * 2 + 1] = hi;
	v->iq_tail = (v->iq_tail + 1) % 256;
	v->iq_descs++;
}

/* A wait descriptor that writes 1 to the status dword; the queue's tail
 * moves past everything queued, and the kernel waits for the write. */
static void vtd_qi_sync(struct vtd *v)
{
	*v->iq_status = 0;
	vtd_qi_put(v, DESC_WAIT | DESC_WAIT_SW | DESC_WAIT_DATA(1), (uint64_t)v->iq_status);
	w64(v->regs, VTD_IQT, (uint64_t)v->iq_tail << 4);
	while (*v->iq_status != 1)
		pause();
	v->iq_waits++;
}

/* Translation off (and the queue, whose work is done), tables freed. */
static void vtd_fini(struct vtd *v)
{
	w32(v->regs, VTD_GCMD, 0);
	while (r32(v->regs, VTD_GSTS) & (GCMD_TE | GCMD_QIE))
		pause();
	v->gcmd = 0;
	vtd_invalidate_all(v);
	if (v->iq) {
		frame_put((uint64_t)v->iq);
		frame_put((uint64_t)v->iq_status);
	}
	frame_put((uint64_t)v->root);
	frame_put((uint64_t)v->ctx);
	frame_put((uint64_t)v->l3);
	frame_put((uint64_t)v->l2);
	frame_put((uint64_t)v->l1);
}

struct fault {
	bool found;
	unsigned reason, sid;
	bool read;
	uint64_t page;
};

/* VT-d 7.3.1, 11.4.14: take the first pending fault record and clear it. */
static struct fault vtd_take_fault(struct vtd *v)
{
	struct fault f = { false, 0, 0, false, 0 };

	for (unsigned i = 0; i < v->nfr; i++) {
		unsigned off = v->fro + i * 16;
		uint64_t hi = r64(v->regs, off + 8);

		if (!(hi & FRCD_F))
			continue;
		f.found = true;
		f.reason = (unsigned)(hi >> 32) & 0xff;
		f.sid = (unsigned)hi & 0xffff;
		f.read = (hi & FRCD_T) != 0;
		f.page = r64(v->regs, off) & ~0xfffULL;
		w32(v->regs, off + 12, (uint32_t)(FRCD_F >> 32));   /* RW1C */
		break;
	}
	return f;
}

/*
 * The fault event (VT-d 7.3.2, 11.4.9): an MSI to this CPU's local APIC on
 * VEC_IRQ_VTD. The handler serves every pending record from FSTS.FRI on
 * (clearing F lets the unit record again and raise the next event), clears
 * an overflow, and keeps what it read for the workload to print.
 */
#define FAULTS_KEPT 8
static struct vtd *event_vtd;
static volatile unsigned fault_irqs, faults_taken;
static struct fault faults_kept[FAULTS_KEPT];

static void vtd_fault_irq(void)
{
	struct vtd *v = event_vtd;
	uint32_t fsts = r32(v->regs, VTD_FSTS);

	for (unsigned n = 0, i = FSTS_FRI(fsts) % v->nfr; n < v->nfr; n++, i = (i + 1) % v->nfr) {
		uint64_t hi = r64(v->regs, v->fro + i * 16 + 8);

		if (!(hi & FRCD_F))
			continue;
		struct fault f = { true, (unsigned)(hi >> 32) & 0xff, (unsigned)hi & 0xffff,
				   (hi & FRCD_T) != 0, r64(v->regs, v->fro + i * 16) & ~0xfffULL };
		w32(v->regs, v->fro + i * 16 + 12, (uint32_t)(FRCD_F >> 32));   /* RW1C */
		faults_kept[faults_taken % FAULTS_KEPT] = f;
		faults_taken++;
	}
	if (fsts & FSTS_PFO)
		w32(v->regs, VTD_FSTS, FSTS_PFO);
	fault_irqs++;
	w32((volatile uint8_t *)LAPIC_BASE, LAPIC_EOI, 0);
}

/* Point the fault event at VEC_IRQ_VTD (destination 0, fixed, edge). */
static void vtd_fault_event_setup(struct vtd *v)
{
	event_vtd = v;
	fault_irqs = 0;
	faults_taken = 0;
	irq_register(VEC_IRQ_VTD, vtd_fault_irq);
	w32(v->regs, VTD_FEDATA, VEC_IRQ_VTD);
	w32(v->regs, VTD_FEADDR, (uint32_t)LAPIC_BASE);
	w32(v->regs, VTD_FEUADDR, 0);
}

/* The next fault the handler took (the interrupt has come when the DMA's
 * completion interrupt has; the wait is a bound, not a delay). */
static struct fault vtd_event_fault(unsigned seen)
{
	struct fault none = { false, 0, 0, false, 0 };

	for (unsigned n = 0; n < 1000000 && faults_taken == seen; n++)
		pause();
	return faults_taken == seen ? none : faults_kept[seen % FAULTS_KEPT];
}

static const char *reason_name(unsigned r)
{
	switch (r) {
	case 5: return "write without W";
	case 6: return "read without R";
	case 2: return "context entry not present";
	case 4: return "address beyond the AGAW";
	default: return "other";
	}
}

/* ------------------------------------------------------------------------ */
/* Workloads                                                                */
/* ------------------------------------------------------------------------ */

static void fill(uint8_t *p, uint64_t n, uint64_t seed)
{
	for (uint64_t i = 0; i < n; i++)
		p[i] = (uint8_t)(xorshift64(&seed) >> 32);
}

static uint64_t hash(uint64_t h, const uint8_t *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i += 8)
		h = mix64(h, *(const uint64_t *)(p + i));
	return h;
}

static bool same(const uint8_t *a, const uint8_t *b, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

struct dma_env {
	struct edu edu;
	struct vtd vtd;
	bool iommu;
	uint8_t *src, *dst, *ro;
	uint64_t bus_src, bus_dst, bus_ro;  /* the three pages' bus addresses */
	bool fault_event;       /* faults come by interrupt, not by polling */
};

static bool env_init(struct dma_env *d, bool iommu, const struct dma_hpa *hpa)
{
	d->iommu = iommu;
	d->edu = the_edu;
	volatile uint8_t *r = d->edu.regs;
	/* A device passed through answers when it next looks at its registers
	 * (memory to this kernel): wait for the answer, not for an exit. */
	w32(r, EDU_LIVE, 0x5a5a1234);
	bool live = false;
	for (unsigned n = 0; n < 1000000 && !live; n++) {
		live = r32(r, EDU_LIVE) == ~0x5a5a1234u;
		if (!live)
			pause();
	}
	w32(r, EDU_FACT, 10);
	for (unsigned n = 0; n < 1000000; n++) {
		if (!(r32(r, EDU_STATUS) & 1) && r32(r, EDU_FACT) == 3628800)
			break;
		pause();
	}
	kprintf("dma: edu at 00:%02x.%u, id 0x%08x, liveness %s, 10! = %u\n", d->edu.devfn >> 3,
		d->edu.devfn & 7, r32(r, EDU_ID), live ? "ok" : "FAILED", r32(r, EDU_FACT));
	if (!live)
		return false;
	if (!edu_msi_setup(&d->edu)) {
		kprintf("dma: edu has no MSI capability\n");
		return false;
	}
	d->edu.msi = true;
	dma_irqs = 0;
	dma_irq_status = 0;
	/* 8259A data sheet, OCW1: mask every line of both PICs. Firmware may
	 * have left the timer on the master at vector 8, which would arrive
	 * as a "double fault" once interrupts are on; only MSIs may come. */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	__asm__ volatile("sti");
	d->src = (uint8_t *)frame_alloc();
	d->dst = (uint8_t *)frame_alloc();
	d->ro = (uint8_t *)frame_alloc();
	if (iommu) {
		if (!vtd_init(&d->vtd, &d->edu, (uint64_t)d->src, (uint64_t)d->dst, (uint64_t)d->ro))
			return false;
		d->bus_src = IOVA_SRC;
		d->bus_dst = IOVA_DST;
		d->bus_ro = IOVA_RO;
	} else if (hpa->ram_given) {
		/* A device that speaks host-physical addresses, and a hypervisor
		 * that said where this RAM is in them. */
		kprintf("dma: no IOMMU: bus addresses are host-physical, RAM at 0x%lx\n",
			hpa->ram);
		d->bus_src = (uint64_t)d->src + hpa->ram;
		d->bus_dst = (uint64_t)d->dst + hpa->ram;
		d->bus_ro = (uint64_t)d->ro + hpa->ram;
	} else {
		kprintf("dma: no IOMMU: bus addresses are guest-physical\n");
		d->bus_src = (uint64_t)d->src;
		d->bus_dst = (uint64_t)d->dst;
		d->bus_ro = (uint64_t)d->ro;
	}
	return true;
}

static void env_fini(struct dma_env *d)
{
	__asm__ volatile("cli");
	kprintf("dma: %lu completion interrupts (MSI, vector %u), device status 0x%x\n",
		(uint64_t)dma_irqs, VEC_IRQ_DMA, dma_irq_status);
	if (d->iommu)
		vtd_fini(&d->vtd);
	frame_put((uint64_t)d->src);
	frame_put((uint64_t)d->dst);
	frame_put((uint64_t)d->ro);
}

/* workload=dma: whole pages and odd pieces, out to the device and back. */
static bool run_dma(struct dma_env *d, uint64_t *checksum)
{
	/* The buffer's last byte stays out of every transfer: QEMU 7.2's edu
	 * refuses (and stops the machine on) a transfer that reaches it. */
	static const struct { uint64_t off, len, boff; } pieces[] = {
		{ 0, 4095, 0 }, { 0x7b, 100, 0x10 }, { 0xff8, 8, 0xff0 }, { 0x800, 1, 0x3 },
		{ 0x123, 0xc00, 0x200 },
	};
	bool ok = true;
	uint64_t h = *checksum;

	for (unsigned i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		uint64_t off = pieces[i].off, len = pieces[i].len, boff = pieces[i].boff;

		fill(d->src, PAGE_SIZE, i + 1);
		memset(d->dst, 0, PAGE_SIZE);
		edu_from_ram(&d->edu, d->bus_src + off, boff, len);
		edu_to_ram(&d->edu, boff, d->bus_dst + off, len);
		bool good = same(d->src + off, d->dst + off, len);
		/* Nothing around the piece may have changed. */
		for (uint64_t k = 0; k < PAGE_SIZE && good; k++)
			if ((k < off || k >= off + len) && d->dst[k])
				good = false;
		kprintf("dma: %lu bytes at offset 0x%lx to the device (buffer +0x%lx) and back: %s\n",
			len, off, boff, good ? "data matches" : "MISMATCH");
		ok &= good;
		h = hash(h, d->dst, PAGE_SIZE);
	}
	if (d->iommu) {
		uint32_t fsts = r32(d->vtd.regs, VTD_FSTS);
		kprintf("dma: fault status 0x%x (%s)\n", fsts, fsts & 2 ? "faults pending" : "no faults");
		ok &= !(fsts & 2);
	}
	*checksum = h;
	return ok;
}

/* One attack: a DMA the domain does not allow. With the IOMMU it must be
 * refused with `reason` and leave `watch` (len bytes) as it was. */
static bool attack(struct dma_env *d, const char *what, bool write, uint64_t bus, uint8_t *watch,
		   unsigned reason)
{
	uint8_t before[64];
	bool changed;
	unsigned seen = faults_taken;

	memcpy(before, watch, sizeof(before));
	if (write) {
		/* The buffer's first 64 bytes: a pattern no page here holds. */
		fill(d->dst, 64, 0xbad);
		edu_from_ram(&d->edu, d->bus_dst, 0, 64);
		edu_to_ram(&d->edu, 0, bus, 64);
		changed = !same(before, watch, sizeof(before));
	} else {
		uint8_t buf[64];
		memset(d->dst, 0, 64);
		edu_from_ram(&d->edu, d->bus_dst, 0, 64);    /* clear the buffer */
		edu_from_ram(&d->edu, bus, 0, 64);            /* the attack */
		edu_to_ram(&d->edu, 0, d->bus_dst, 64);       /* what the device got */
		memcpy(buf, d->dst, 64);
		changed = same(buf, watch, 64);             /* the device holds the secret */
	}
	kprintf("attack: %s %s 0x%lx: ", what, write ? "write to" : "read of", bus);
	if (!d->iommu) {
		kprintf("%s\n", changed ? (write ? "REACHED MEMORY, it changed" : "LEAKED, the device has it")
					: "no effect");
		return !changed;
	}
	struct fault f = d->fault_event ? vtd_event_fault(seen) : vtd_take_fault(&d->vtd);
	if (!f.found) {
		kprintf("no fault recorded, memory %s\n", changed ? "CHANGED" : "unchanged");
		return false;
	}
	kprintf("refused, fault reason 0x%x (%s), source %02x:%02x.%u, %s, page 0x%lx; %s\n",
		f.reason, reason_name(f.reason), f.sid >> 8, (f.sid >> 3) & 31, f.sid & 7,
		f.read ? "read" : "write", f.page, changed ? "memory CHANGED" : "memory unchanged");
	return !changed && f.reason == reason && f.sid == d->edu.devfn && f.read == !write &&
	       f.page == (bus & ~0xfffULL);
}

/* workload=dma-attack: the device aims outside its domain. */
static bool run_attack(struct dma_env *d, uint64_t *checksum)
{
	bool ok = true;
	uint8_t *secret = (uint8_t *)frame_alloc();

	fill(secret, PAGE_SIZE, 0x5ec);
	/* The reserved page at 0xf0000: the kernel never uses it. */
	ok &= attack(d, "outside the domain:", true, CANARY_GPA, (uint8_t *)CANARY_GPA, 5);
	fill(d->ro, PAGE_SIZE, 0x40);
	ok &= attack(d, "read-only page:", true, d->bus_ro, d->ro, 5);
	ok &= attack(d, "kernel secret:", false, (uint64_t)secret, secret, 6);
	*checksum = hash(*checksum, d->ro, 64);
	frame_put((uint64_t)secret);
	return ok;
}

/*
 * workload=dma-fault-event: dma-attack's refused DMAs reported by the unit's
 * fault event instead of polled; then one with the event masked: no
 * interrupt, FECTL.IP set, and the interrupt comes when IM is cleared.
 */
static bool run_fault_event(struct dma_env *d, uint64_t *checksum)
{
	struct vtd *v = &d->vtd;
	bool ok;

	vtd_fault_event_setup(v);
	w32(v->regs, VTD_FECTL, 0);
	kprintf("fault-event: MSI to vector %u, unmasked (FECTL 0x%x)\n", VEC_IRQ_VTD,
		r32(v->regs, VTD_FECTL));
	d->fault_event = true;
	ok = run_attack(d, checksum);
	unsigned irqs = fault_irqs, taken = faults_taken;
	uint32_t fsts = r32(v->regs, VTD_FSTS);
	kprintf("fault-event: %u interrupts, %u fault records read and cleared by the handler; "
		"fault status 0x%x\n", irqs, taken, fsts);
	ok &= irqs == 3 && taken == 3 && fsts == 0;

	/* Masked: the fault is recorded, the interrupt waits in IP. */
	w32(v->regs, VTD_FECTL, FECTL_IM);
	fill(d->dst, 64, 0xbad);
	edu_from_ram(&d->edu, d->bus_dst, 0, 64);
	edu_to_ram(&d->edu, 0, CANARY_GPA, 64);
	uint32_t fectl = r32(v->regs, VTD_FECTL);
	fsts = r32(v->regs, VTD_FSTS);
	kprintf("fault-event: masked, a refused write: %u interrupts, FECTL 0x%x (%s), fault "
		"status 0x%x\n", fault_irqs - irqs, fectl,
		fectl & FECTL_IP ? "interrupt pending" : "nothing pending", fsts & 3);
	ok &= fault_irqs == irqs && fectl == (FECTL_IM | FECTL_IP) && (fsts & 2);
	w32(v->regs, VTD_FECTL, 0);
	struct fault f = vtd_event_fault(taken);
	kprintf("fault-event: unmasked: %u interrupt, FECTL 0x%x; the handler read fault reason "
		"0x%x (%s), %s, page 0x%lx\n", fault_irqs - irqs, r32(v->regs, VTD_FECTL), f.reason,
		reason_name(f.reason), f.read ? "read" : "write", f.page);
	ok &= fault_irqs == irqs + 1 && f.found && f.reason == 5 && !f.read && f.page == CANARY_GPA;
	ok &= r32(v->regs, VTD_FSTS) == 0;
	w32(v->regs, VTD_FECTL, FECTL_IM);
	d->fault_event = false;
	return ok;
}

/*
 * The attack on host memory, for a device passed through: the bus addresses
 * are host-physical where there is no IOMMU, guest-physical where the
 * hypervisor put one in front of the device. This kernel cannot tell which.
 */
#define EDU_SPARE 0x1000        /* BAR0 + 0x1000: no register; an emulated window */
#define EDU_DMA_REACH (1ULL << 28)  /* edu's DMA mask: 28 address bits */
#define EPT_RWX_WB 0x37ULL      /* SDM 29.3.2: R, W, X, memory type 6 (WB) */

static bool run_host_attack(struct dma_env *d, uint64_t canary, uint64_t ept, uint64_t *checksum)
{
	volatile uint64_t *spare = (volatile uint64_t *)(d->edu.regs + EDU_SPARE);
	uint64_t entry = canary | EPT_RWX_WB, spare_gpa = (uint64_t)spare;
	bool leaked = false, reached = false, gained;

	if (canary + PAGE_SIZE > EDU_DMA_REACH || ept + PAGE_SIZE > EDU_DMA_REACH) {
		kprintf("attack: hv's pages at 0x%lx and 0x%lx: beyond edu's 28-bit DMA reach, "
			"not tried\n", canary, ept);
		return true;
	}
	/* hv's canary, read: what comes back into the device's buffer. */
	memset(d->dst, 0, 64);
	edu_from_ram(&d->edu, d->bus_dst, 0, 64);
	edu_from_ram(&d->edu, canary, 0, 64);
	edu_to_ram(&d->edu, 0, d->bus_dst, 64);
	for (unsigned i = 0; i < 64; i++)
		leaked |= d->dst[i] != 0;
	kprintf("attack: hv's memory: read of 0x%lx: %s", canary,
		leaked ? "LEAKED, the device has it: " : "nothing came back\n");
	if (leaked)
		kprintf("0x%016lx...\n", *(uint64_t *)d->dst);
	/* hv's canary, written, then read back. */
	fill(d->src, 64, 0xbad);
	edu_from_ram(&d->edu, d->bus_src, 0, 64);
	edu_to_ram(&d->edu, 0, canary, 64);
	memset(d->dst, 0, 64);
	edu_from_ram(&d->edu, d->bus_dst, 0, 64);
	edu_from_ram(&d->edu, canary, 0, 64);
	edu_to_ram(&d->edu, 0, d->bus_dst, 64);
	reached = same(d->src, d->dst, 64);
	kprintf("attack: hv's memory: write to 0x%lx: %s\n", canary,
		reached ? "REACHED it, the device reads back what it wrote" : "no effect seen");
	/* The EPT entry for BAR0 + 0x1000 (index 1 of the table that maps
	 * BAR0, a 2 MiB-aligned window): hv's canary, read/write. */
	uint64_t *own = (uint64_t *)(ept + 8);
	uint64_t own_before = *own;
	memcpy(d->src, &entry, 8);
	edu_from_ram(&d->edu, d->bus_src, 0, 8);
	edu_to_ram(&d->edu, 0, ept + 8, 8);
	uint64_t got = *spare;
	gained = got != ~0ULL;
	kprintf("attack: EPT table page: write to 0x%lx (the entry for GPA 0x%lx): ", ept + 8, spare_gpa);
	if (gained)
		kprintf("GAINED, GPA 0x%lx now reads hv's memory: 0x%016lx\n", spare_gpa, got);
	else
		kprintf("no effect, GPA 0x%lx is still the device's window (0x%016lx)%s\n", spare_gpa, got,
			*own == entry && own_before != entry ?
			"; the bytes went to this guest's own page at that address" : "");
	*checksum = hash(*checksum, (const uint8_t *)&got, 8);
	return !leaked && !reached && !gained;
}

/*
 * workload=viommu: the guest-visible unit's caches, as the specification lets
 * them behave. The device reads IOVA_SRC; the leaf is then pointed at another
 * page without an invalidation, and the device may still read the old one
 * through the IOTLB; a queued page-selective IOTLB invalidation and a wait
 * descriptor make the new mapping take effect. Then the device's context
 * entry is removed: it keeps working from the context cache and the IOTLB
 * until a queued device-selective context invalidation and a domain IOTLB
 * invalidation, after which the DMA is refused (fault reason 2).
 */
static uint64_t device_reads(struct dma_env *d, uint64_t bus)
{
	uint64_t v;

	memset(d->dst, 0, 8);
	edu_from_ram(&d->edu, bus, 0, 8);
	edu_to_ram(&d->edu, 0, d->bus_dst, 8);
	memcpy(&v, d->dst, 8);
	return v;
}

static const char *which(uint64_t v, uint64_t a, uint64_t b)
{
	return v == a ? "the old page" : v == b ? "the new page" : v == 0 ? "nothing" : "other bytes";
}

static bool run_viommu(struct dma_env *d, uint64_t *checksum)
{
	struct vtd *v = &d->vtd;
	uint64_t *alt = (uint64_t *)frame_alloc(), a, b, got;
	unsigned slot = (IOVA_SRC >> 12) & 511, devfn = d->edu.devfn;
	bool ok = true;

	vtd_qi_enable(v);
	kprintf("viommu: queued invalidation on (256 descriptors at 0x%lx)\n", (uint64_t)v->iq);
	fill(d->src, 8, 0xa11);
	fill((uint8_t *)alt, 8, 0xb22);
	memcpy(&a, d->src, 8);
	b = alt[0];
	got = device_reads(d, IOVA_SRC);
	kprintf("viommu: IOVA 0x%lx: the device reads %s\n", (uint64_t)IOVA_SRC, which(got, a, b));
	ok &= got == a;
	/* VT-d 6.1: software must invalidate after changing a present entry;
	 * until then the unit may use what it cached. */
	v->l1[slot] = (uint64_t)alt | SL_R | SL_W;
	got = device_reads(d, IOVA_SRC);
	kprintf("viommu: leaf moved to another page, not invalidated: the device reads %s\n",
		which(got, a, b));
	ok &= got == a || got == b;
	vtd_qi_put(v, DESC_IOTLB | DESC_G(3) | DESC_DID(DOMAIN_ID), IOVA_SRC);
	vtd_qi_sync(v);
	got = device_reads(d, IOVA_SRC);
	kprintf("viommu: after a page-selective IOTLB invalidation and a wait: the device reads %s\n",
		which(got, a, b));
	ok &= got == b;
	*checksum = hash(*checksum, (const uint8_t *)&got, 8);

	/* The context entry removed: cached context and translations go on. */
	v->ctx[devfn * 2] = 0;
	v->ctx[devfn * 2 + 1] = 0;
	got = device_reads(d, IOVA_SRC);
	kprintf("viommu: context entry removed, not invalidated: the device reads %s\n",
		which(got, a, b));
	ok &= got == b || got == 0;
	vtd_qi_put(v, DESC_CC | DESC_G(3) | DESC_DID(DOMAIN_ID) | DESC_CC_SID(devfn), 0);
	vtd_qi_put(v, DESC_IOTLB | DESC_G(2) | DESC_DID(DOMAIN_ID), 0);
	vtd_qi_sync(v);
	got = device_reads(d, IOVA_SRC);
	struct fault f = vtd_take_fault(v);
	kprintf("viommu: after a device context and a domain IOTLB invalidation: the device reads "
		"%s; fault reason 0x%x (%s)\n", which(got, a, b), f.reason, reason_name(f.reason));
	ok &= got == 0 && f.found && f.reason == 2 && f.sid == devfn;
	/* The write back to IOVA_DST faulted too; a unit may or may not record
	 * a second fault of one source while the first is pending (QEMU's
	 * does not): clear whatever is there. */
	while (vtd_take_fault(v).found)
		;
	kprintf("viommu: %u descriptors, %u waits\n", v->iq_descs, v->iq_waits);
	frame_put((uint64_t)alt);
	return ok;
}

/* hv's hypercall port (docs/run.md): a 32-bit OUT of the number makes the
 * call, a 32-bit IN reads its result. Elsewhere nothing answers there. */
#define HC_PORT 0x580
#define HC_DIRTY_TRACK_START 1

/* workload=dma-dirty: dirty tracking starts, then the device writes a page
 * the CPU does not write again (a page of this kernel's, never freed, so no
 * free list is written into it): a dirty log that sees only CPU writes
 * misses it. */
static uint8_t dirty_page[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

static bool run_dirty(struct dma_env *d, uint64_t *checksum)
{
	uint64_t pa = (uint64_t)dirty_page, bus = pa + (d->bus_dst - (uint64_t)d->dst);

	if (d->iommu) {
		/* Not present -> present: nothing cached to invalidate. */
		bus = IOVA_DIRTY;
		vtd_map(&d->vtd, IOVA_DIRTY, pa, SL_R | SL_W);
	}
	fill(d->src, PAGE_SIZE, 0xd1);
	memset(dirty_page, 0, PAGE_SIZE);
	outl(HC_PORT, HC_DIRTY_TRACK_START);
	uint32_t rc = inl(HC_PORT);
	kprintf("dma-dirty: dirty tracking %s\n", rc == 0 ? "started by hypercall" : "not offered");
	edu_from_ram(&d->edu, d->bus_src, 0, PAGE_SIZE - 1);
	edu_to_ram(&d->edu, 0, bus, PAGE_SIZE - 1);
	bool good = same(d->src, dirty_page, PAGE_SIZE - 1);
	kprintf("dma-dirty: the device wrote %lu bytes to GPA 0x%lx (bus address 0x%lx): %s\n",
		(uint64_t)(PAGE_SIZE - 1), pa, bus, good ? "data matches" : "MISMATCH");
	*checksum = hash(*checksum, dirty_page, PAGE_SIZE);
	return good;
}

bool dma_probe(bool iommu)
{
	if (!edu_found && !edu_find(&the_edu)) {
		kprintf("dma: no edu device (1234:11e8) on bus 0\n");
		return false;
	}
	if (!edu_found && iommu)
		map_mmio(vtd_base, PAGE_SIZE);
	if (!edu_found)
		map_mmio(LAPIC_BASE, PAGE_SIZE);
	edu_found = true;
	return true;
}

bool dma_workload(const char *name, bool iommu, const struct dma_hpa *hpa, uint64_t *checksum)
{
	struct dma_env d;
	bool ok;

	memset(&d, 0, sizeof(d));
	if (!env_init(&d, iommu, hpa))
		return false;
	if (strncmp(name, "viommu", 7) == 0 && !iommu) {
		kprintf("viommu: needs a visible IOMMU\n");
		ok = false;
	} else if (strncmp(name, "viommu", 7) == 0)
		ok = run_viommu(&d, checksum);
	else if (strncmp(name, "dma-attack", 11) == 0 && !iommu && hpa->canary && hpa->ept)
		ok = run_host_attack(&d, hpa->canary, hpa->ept, checksum);
	else if (strncmp(name, "dma-attack", 11) == 0)
		ok = run_attack(&d, checksum);
	else if (strncmp(name, "dma-fault-event", 16) == 0 && !iommu) {
		kprintf("dma-fault-event: needs a visible IOMMU\n");
		ok = false;
	} else if (strncmp(name, "dma-fault-event", 16) == 0)
		ok = run_fault_event(&d, checksum);
	else if (strncmp(name, "dma-dirty", 10) == 0)
		ok = run_dirty(&d, checksum);
	else
		ok = run_dma(&d, checksum);
	env_fini(&d);
	return ok;
}
