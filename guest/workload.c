/*
 * workload.c: the workloads chosen on the command line.
 *
 * Memory workloads (random, seq, stride, chase, memloop) run in the kernel
 * over the demand-zero region at REGION_BASE; their checksums depend only on
 * the data, so 4 KiB and 2 MiB pages, QEMU and hv must all give the same
 * value. compute and memloop are the loops `hv bench` times to measure guest
 * instructions per second: one in registers, one of loads and stores that
 * stay inside the TLB.
 * cow runs a ring-3 process that forks; protect maps read-only and
 * no-execute pages and catches the faults. Every workload also checks that
 * it gave back every frame it took.
 */
#include "kernel.h"
#include "x86.h"

#define FNV_OFFSET 0xcbf29ce484222325ULL

struct outcome {
	bool ok;
	uint64_t checksum;
};

static void print_size(const char *prefix, uint64_t bytes)
{
	if (bytes && bytes % (1ULL << 20) == 0)
		kprintf("%s%luM", prefix, bytes >> 20);
	else if (bytes && bytes % 1024 == 0)
		kprintf("%s%luK", prefix, bytes >> 10);
	else
		kprintf("%s%lu", prefix, bytes);
}

static uint64_t seed_state(uint64_t seed)
{
	return seed ? seed : 0x9e3779b97f4a7c15ULL; /* xorshift must not start at 0 */
}

/*
 * Each access adds a value to one word and folds the word's old contents
 * into the checksum. Afterwards the sum of all words must equal the sum of
 * everything added: a check that every demand-zero page really started as
 * zero and that no two addresses shared a frame.
 */
static struct outcome verify_sum(const char *name, volatile uint64_t *data, uint64_t nwords,
				 uint64_t added, uint64_t h)
{
	uint64_t faults = region_faults();
	uint64_t total = 0;
	for (uint64_t i = 0; i < nwords; i++)
		total += data[i];
	kprintf("%s: %lu demand-zero faults during the run, %lu more to verify\n", name, faults,
		region_faults() - faults);
	struct outcome r = { total == added, mix64(h, total) };
	if (!r.ok)
		kprintf("%s: sum of memory %016lx, expected %016lx\n", name, total, added);
	return r;
}

static struct outcome run_random(const struct options *o)
{
	volatile uint64_t *data = (volatile uint64_t *)REGION_BASE;
	uint64_t n = o->footprint / 8, rng = seed_state(o->seed), added = 0, h = FNV_OFFSET;
	for (uint64_t i = 0; i < o->iters; i++) {
		uint64_t x = xorshift64(&rng);
		uint64_t idx = x % n;
		uint64_t v = data[idx];
		data[idx] = v + x;
		added += x;
		h = mix64(h, v);
	}
	return verify_sum("random", data, n, added, h);
}

static struct outcome run_seq(const struct options *o)
{
	volatile uint64_t *data = (volatile uint64_t *)REGION_BASE;
	uint64_t n = o->footprint / 8, added = 0, h = FNV_OFFSET, idx = 0;
	for (uint64_t i = 0; i < o->iters; i++) {
		uint64_t x = i * 0x9e3779b97f4a7c15ULL + o->seed;
		uint64_t v = data[idx];
		data[idx] = v + x;
		added += x;
		h = mix64(h, v);
		if (++idx == n)
			idx = 0;
	}
	return verify_sum("seq", data, n, added, h);
}

/* One word every `stride` bytes, wrapping around the region. */
static struct outcome run_stride(const struct options *o)
{
	volatile uint64_t *data = (volatile uint64_t *)REGION_BASE;
	uint64_t n = o->footprint / 8, step = o->stride / 8, added = 0, h = FNV_OFFSET, idx = 0;
	for (uint64_t i = 0; i < o->iters; i++) {
		uint64_t x = i * 0x9e3779b97f4a7c15ULL + o->seed;
		uint64_t v = data[idx];
		data[idx] = v + x;
		added += x;
		h = mix64(h, v);
		idx += step;
		if (idx >= n)
			idx -= n;
	}
	return verify_sum("stride", data, n, added, h);
}

/*
 * Pointer chasing: one node per 64-byte line, linked into a single random
 * cycle (Sattolo's shuffle), then followed. Each load's address depends on
 * the previous load, so nothing overlaps: the access pattern that exposes
 * TLB misses and page walks most directly.
 */
struct node {
	struct node *next;
	uint64_t pad[7];
};

static struct outcome run_chase(const struct options *o)
{
	struct node *nodes = (struct node *)REGION_BASE;
	uint64_t n = o->footprint / sizeof(struct node), rng = seed_state(o->seed);
	for (uint64_t i = 0; i < n; i++)
		nodes[i].next = &nodes[i];
	for (uint64_t i = n - 1; i > 0; i--) {
		uint64_t j = xorshift64(&rng) % i;
		struct node *t = nodes[i].next;
		nodes[i].next = nodes[j].next;
		nodes[j].next = t;
	}
	kprintf("chase: %lu nodes in one cycle, %lu demand-zero faults while building it\n", n,
		region_faults());

	uint64_t h = FNV_OFFSET;
	struct node *p = &nodes[0];
	for (uint64_t i = 0; i < o->iters; i++) {
		p = p->next;
		h = mix64(h, (uint64_t)(p - nodes));
	}
	uint64_t len = 1;
	for (struct node *q = nodes[0].next; q != &nodes[0] && len <= n; q = q->next)
		len++;
	struct outcome r = { len == n, mix64(h, len) };
	if (!r.ok)
		kprintf("chase: cycle length %lu, expected %lu\n", len, n);
	return r;
}

/*
 * memloop: two loads and a store per iteration over a footprint small enough
 * to stay TLB-resident (32 KiB, 8 pages, unless footprint= says otherwise),
 * so after the first lap every access hits the modelled L1 dTLB: the cost
 * measured is the vCPU's memory path, not page walks. One index trails the
 * other by half the region, so each iteration reads two different pages.
 */
static struct outcome run_memloop(const struct options *o)
{
	volatile uint64_t *data = (volatile uint64_t *)REGION_BASE;
	uint64_t n = o->footprint / 8, added = 0, h = FNV_OFFSET, j = 0, k = n / 2;
	for (uint64_t i = 0; i < o->iters; i++) {
		uint64_t x = data[k] ^ i;
		uint64_t w = data[j];
		data[j] = w + x;
		added += x;
		h = (h ^ w) * 0x100000001b3ULL;
		if (++j == n)
			j = 0;
		if (++k == n)
			k = 0;
	}
	return verify_sum("memloop", data, n, added, h);
}

/*
 * compute: integer mixing that lives in registers (xorshift, multiply,
 * rotate, add): the loop makes no data reference at all, so under hv only
 * its instruction fetches go through the translation model. The check is
 * the loop count, kept in a register of its own and compared with the
 * closed form.
 */
static struct outcome run_compute(const struct options *o)
{
	uint64_t a = seed_state(o->seed), b = FNV_OFFSET, c = 0, d = 0;
	kprintf("compute: iters=%lu seed=%lu\n", o->iters, o->seed);
	for (uint64_t i = 0; i < o->iters; i++) {
		a ^= a << 13;
		a ^= a >> 7;
		a ^= a << 17;
		b = (b ^ a) * 0x100000001b3ULL;
		b = (b << 23) | (b >> 41);
		c += b ^ i;
		d += i;
	}
	uint64_t expect = o->iters ? (o->iters % 2 ? o->iters * ((o->iters - 1) / 2)
						   : (o->iters / 2) * (o->iters - 1))
				   : 0;
	struct outcome r = { d == expect && a != 0, mix64(mix64(b, c), a) };
	if (!r.ok)
		kprintf("compute: %lu iterations counted, expected %lu\n", d, expect);
	return r;
}

static struct outcome run_cow(void)
{
	struct cow_stats s;
	proc_run_init(&s);
	kprintf("cow: %lu copy-on-write faults: %lu pages copied, %lu reused by the last owner\n",
		s.faults, s.copies, s.reuses);
	kprintf("cow: pid 1 exited with status %d\n", s.init_status);
	uint64_t h = mix64(mix64(mix64(s.checksum, s.faults), s.copies), s.reuses);
	struct outcome r = { s.init_status == 0 && s.copies >= 1 && s.faults >= 2, h };
	return r;
}

/*
 * protect: the same frame mapped twice, once executable and once
 * no-execute, and a read-only page. Each access that should fault is run
 * under a probe; the #PF handler records the error code and resumes after it.
 */
#define PROT_RO (PROTECT_BASE)
#define PROT_X (PROTECT_BASE + PAGE_SIZE)
#define PROT_NX (PROTECT_BASE + 2 * PAGE_SIZE)
#define PROT_NONE (PROTECT_BASE + 3 * PAGE_SIZE)

struct probe_result {
	bool faulted;
	uint64_t error, address;
};

static struct probe_result probe_write(volatile uint64_t *p, uint64_t v)
{
	struct kjmp j;
	struct probe_result r = { false, 0, 0 };
	if (kjmp_save(&j) == 0) {
		probe_arm(&j);
		*p = v;
		probe_disarm();
	} else {
		r.faulted = true;
		r.error = probe_error();
		r.address = probe_address();
	}
	return r;
}

static struct probe_result probe_read(volatile uint64_t *p, uint64_t *out)
{
	struct kjmp j;
	struct probe_result r = { false, 0, 0 };
	if (kjmp_save(&j) == 0) {
		probe_arm(&j);
		*out = *p;
		probe_disarm();
	} else {
		r.faulted = true;
		r.error = probe_error();
		r.address = probe_address();
	}
	return r;
}

static struct probe_result probe_call(uint64_t addr, uint64_t *out)
{
	struct kjmp j;
	struct probe_result r = { false, 0, 0 };
	if (kjmp_save(&j) == 0) {
		probe_arm(&j);
		*out = ((uint64_t (*)(void))addr)();
		probe_disarm();
	} else {
		r.faulted = true;
		r.error = probe_error();
		r.address = probe_address();
	}
	return r;
}

static bool expect(const char *what, struct probe_result r, bool fault, uint64_t error,
		   uint64_t *h)
{
	if (r.faulted)
		kprintf("protect: %-28s -> #PF error 0x%lx at %p (caught)\n", what, r.error,
			(void *)r.address);
	else
		kprintf("protect: %-28s -> no fault\n", what);
	*h = mix64(mix64(*h, r.faulted), r.error);
	bool ok = r.faulted == fault && (!fault || r.error == error);
	if (!ok)
		kprintf("protect: expected %s\n", fault ? "a fault" : "no fault");
	return ok;
}

static struct outcome run_protect(void)
{
	uint64_t h = FNV_OFFSET, v = 0;
	bool ok = true;

	uint64_t data = frame_alloc(), code = frame_alloc();
	*(uint64_t *)data = 0x1234;
	/* mov $42, %eax; ret: written through the identity map, run through PROT_X. */
	static const uint8_t ret42[] = { 0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3 };
	memcpy((void *)code, ret42, sizeof(ret42));
	map_4k(kernel_pml4, PROT_RO, data, PTE_NX);
	map_4k(kernel_pml4, PROT_X, code, 0);
	frame_get(code);
	map_4k(kernel_pml4, PROT_NX, code, PTE_NX);
	kprintf("protect: page %p read-only, %p executable, %p the same frame no-execute\n",
		(void *)PROT_RO, (void *)PROT_X, (void *)PROT_NX);
	kprintf("protect: CR0.WP is set, so the kernel is held to read-only pages too\n");

	ok &= expect("read the read-only page", probe_read((uint64_t *)PROT_RO, &v), false, 0, &h);
	h = mix64(h, v);
	/* SDM 4.7: error 0x3 = present (P) | write (W), from ring 0. */
	ok &= expect("write the read-only page", probe_write((uint64_t *)PROT_RO, 1), true,
		     PF_P | PF_W, &h);
	ok &= expect("call the executable page", probe_call(PROT_X, &v), false, 0, &h);
	kprintf("protect: the executable page returned %lu\n", v);
	h = mix64(h, v);
	if (nx_enabled()) {
		/* 0x11 = present (P) | instruction fetch (I/D). */
		ok &= expect("call the no-execute alias", probe_call(PROT_NX, &v), true,
			     PF_P | PF_I, &h);
	} else {
		kprintf("protect: no-execute not available, that probe is skipped\n");
	}
	/* 0x0: not present, read, ring 0; nothing is mapped there. */
	ok &= expect("read an unmapped page", probe_read((uint64_t *)PROT_NONE, &v), true, 0, &h);

	pml4_slot_free(kernel_pml4, (PROTECT_BASE >> 39) & 511);
	struct outcome r = { ok, h };
	return r;
}

static bool is(const char *a, const char *b)
{
	size_t n = strlen(b);
	return strncmp(a, b, n + 1) == 0;
}

static bool memory_workload(const char *w)
{
	return is(w, "random") || is(w, "seq") || is(w, "stride") || is(w, "chase") ||
	       is(w, "memloop");
}

static struct outcome run_one(const struct options *opts)
{
	struct options sized = *opts;
	const struct options *o = &sized;
	const char *w = o->workload;
	struct outcome r = { false, 0 };
	bool dma = is(w, "dma") || is(w, "dma-attack") || is(w, "dma-dirty") ||
		   is(w, "dma-fault-event") || is(w, "viommu");

	/* The device windows' page tables stay, as a kernel's ioremap keeps
	 * them: map them before counting frames. */
	bool iommu = o->iommu;

	if (dma && !o->iommu_given)
		iommu = dma_iommu_announced();
	if (dma && !dma_probe(iommu))
		return r;
	uint64_t before = frames_free();

	/* memloop is about the vCPU, not the TLB: its default footprint fits
	 * any L1 dTLB. */
	if (is(w, "memloop") && !o->footprint_given)
		sized.footprint = 32ULL << 10;

	if (memory_workload(w)) {
		kprintf("%s: footprint=", w);
		print_size("", o->footprint);
		kprintf(" pages=%s iters=%lu seed=%lu", o->huge ? "2m" : "4k", o->iters, o->seed);
		if (is(w, "stride"))
			kprintf(" stride=%lu", o->stride);
		kprintf("\n");
		/* Room for the data and its page tables, with a margin for the kernel. */
		uint64_t need = o->footprint / PAGE_SIZE + o->footprint / PAGE_2M + 64;
		if (o->huge)
			need += 512;
		if (need > before) {
			kprintf("%s: footprint needs %lu frames, %lu are free\n", w, need, before);
			return r;
		}
		region_setup(o->footprint, o->huge);
		if (is(w, "random"))
			r = run_random(o);
		else if (is(w, "seq"))
			r = run_seq(o);
		else if (is(w, "stride"))
			r = run_stride(o);
		else if (is(w, "memloop"))
			r = run_memloop(o);
		else
			r = run_chase(o);
		uint64_t pages = region_faults();
		region_teardown();
		kprintf("%s: %lu pages of %s mapped on demand, all freed\n", w, pages,
			o->huge ? "2 MiB" : "4 KiB");
	} else if (is(w, "cow")) {
		r = run_cow();
	} else if (is(w, "protect")) {
		r = run_protect();
	} else if (is(w, "compute")) {
		r = run_compute(o);
	} else if (dma) {
		r.checksum = FNV_OFFSET;
		r.ok = dma_workload(w, iommu, &o->hpa, &r.checksum);
	} else {
		kprintf("unknown workload '%s' (random seq stride chase cow protect compute "
			"memloop dma dma-attack dma-dirty dma-fault-event viommu all)\n", w);
		return r;
	}
	uint64_t after = frames_free();
	if (after != before) {
		kprintf("%s: %ld frames not given back\n", w, (int64_t)(before - after));
		r.ok = false;
	}
	return r;
}

/* workload=all: every demo, small, with the 2 MiB run checked against 4 KiB. */
static struct outcome run_all(const struct options *o)
{
	static const char *const names[] = { "random", "seq", "stride", "chase", "cow", "protect" };
	struct outcome all = { true, FNV_OFFSET };
	uint64_t random4k = 0;

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]) + 1; i++) {
		struct options sub = *o;
		sub.workload = i < 6 ? names[i] : "random";
		sub.huge = i == 6;
		if (!o->iters_given)
			sub.iters = 100000;
		if (!o->footprint_given)
			sub.footprint = 4ULL << 20;
		struct outcome r = run_one(&sub);
		kprintf("%s%s %s checksum=%016lx\n", sub.workload, sub.huge ? " pages=2m" : "",
			r.ok ? "ok" : "FAIL", r.checksum);
		if (i == 0)
			random4k = r.checksum;
		if (i == 6 && r.checksum != random4k) {
			kprintf("random: 2 MiB pages changed the checksum\n");
			r.ok = false;
		}
		if (i == 6 && r.ok)
			kprintf("random: same checksum with 4 KiB and 2 MiB pages\n");
		all.ok &= r.ok;
		all.checksum = mix64(all.checksum, r.checksum);
	}
	return all;
}

int workload_run(const struct options *o)
{
	struct outcome r = is(o->workload, "all") ? run_all(o) : run_one(o);
	kprintf("RESULT %s %s checksum=%016lx\n", o->workload, r.ok ? "ok" : "FAIL", r.checksum);
	return r.ok ? EXIT_OK : EXIT_FAIL;
}
