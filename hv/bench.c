/* SPDX-License-Identifier: MIT */
/*
 * hv/bench.c - `hv bench` (and `make bench`): how fast the model is.
 *
 * The benchmarks are a table of named entries (benches[] below), each a
 * function that fills a struct bench_result. To add one, for example vCPU
 * instructions per second on a guest, write its function and add a row: the
 * driver, the text output and the JSON output need no change.
 *
 * Translation benchmarks:
 *   tlb-hit     a working set that fits the L1 dTLB: the hit path.
 *   full-walk   random 4K pages over 1 GiB with every cache off, so each
 *               translation is a full 24-reference 4/4 walk, timed beside a
 *               plain loop that makes the same 24 dependent loads through
 *               the same tables with hpool_read64 and no model: the ratio is
 *               the model's overhead over the memory traffic it describes.
 *   cached-walk random 4K pages over 64 MiB with the Skylake preset: the
 *               TLBs miss, the paging-structure caches hit, so this is the
 *               cost of a walk that starts from them (per walk in the note;
 *               the plain 24-load loop beside it for scale).
 *   skylake-random  the same addresses with the Skylake preset: what a
 *               realistic configuration costs.
 *
 * vCPU benchmarks (guest instructions per second with the full model on):
 *   vcpu-compute  guest/guest.elf `workload=compute`: integer mixing in
 *               registers, so only instruction fetches are translated.
 *   vcpu-memloop  `workload=memloop`: two loads and a store per iteration
 *               over 8 pages that stay in the L1 dTLB.
 * Each boots the guest in this process on the software vCPU, as `hv run`
 * does with its defaults (Skylake TLB and paging-structure caches, 4-level
 * EPT with 4K pages, eager RAM) but with 128 MiB so that the guest prints
 * what it prints under QEMU with -m 128M. Two runs, iters=N and iters=2N:
 * the differences of retired instructions and of vm_run's wall and CPU time
 * are the loop's alone, boot and checks cancel out. N doubles until the CPU
 * time difference is long enough to measure; one that stays too short is
 * reported as noise, never as a failure (the target is judged by CPU time,
 * which other work on the machine disturbs much less than wall time). When
 * QEMU is installed the same
 * guest runs under TCG too and the ratio hv/QEMU is printed; see
 * run_vcpu_loop() for how its instructions are counted.
 *
 * Memory-bound vCPU benchmarks (see run_mem_loop()):
 *   vcpu-random-4m, -64m, -1g  `workload=random`, a random read-modify-write
 *               of one word per iteration over 4 MiB, 64 MiB and 1 GiB (the
 *               last with 1280 MiB of guest RAM): most accesses miss the
 *               modelled TLBs and walk.
 *   vcpu-seq-64m, vcpu-chase-64m  `workload=seq` and `chase` over 64 MiB.
 * hv and QEMU run the same lines, interleaved, and the target is on the
 * time ratio hv/QEMU.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hv/cli.h"
#include "hv/csv.h"
#include "hv/scene.h"
#include "hv/vm.h"

struct bench_params {
	bool quick;
	const char *guest;   /* guest kernel for the vCPU benchmarks (NULL: not found) */
	const char *qemu;    /* QEMU program to compare with */
	const char *qemu_skip;  /* why QEMU is not run (NULL: it is) */
	double min_cpu;      /* a vCPU loop's measurable CPU time difference (s) */
};

/*
 * What one benchmark measured.
 *   ops/seconds: the measured loop. unit names an op ("translation").
 *   base_seconds: the same work done by a plain loop (0 = no baseline);
 *   ratio = seconds / base_seconds.
 *   refs_per_op: references the model counted per op (0 = not applicable).
 *   target/target_kind: the goal the result is judged against.
 */
struct bench_result {
	uint64_t ops;
	double seconds;
	const char *unit;
	double base_seconds;
	double refs_per_op;
	enum { TARGET_NONE, TARGET_MIN_RATE, TARGET_MAX_RATIO, TARGET_MAX_QEMU_RATIO } target_kind;
	double target;
	char note[160];
	/* Another emulator doing the same kind of op: cmp_ops ops in
	 * cmp_seconds (cmp_name NULL: no comparison in this benchmark; cmp_ops
	 * 0: none this time, cmp_skip says why). */
	const char *cmp_name;
	uint64_t cmp_ops;
	double cmp_seconds;
	char cmp_skip[160];
	/* CPU time (user + system) of the same differences, for the vCPU
	 * benchmarks (0: not measured). Less disturbed than wall time when other
	 * work shares the machine. */
	double cpu_seconds, cmp_cpu_seconds;
	/* Not empty: hv's timed difference was too short in CPU time to be a
	 * measurement, so there is no rate; says what was measured. Timing
	 * depends on the machine, not on hv: this is not a failure. */
	char noise[200];
};

struct mem_loop;

/* A benchmark: its own function, or (run NULL) a memory-bound guest loop. */
struct bench {
	const char *name;
	const char *what;
	int (*run)(const struct bench_params *bp, struct bench_result *out, char *err,
		   size_t errlen);
	const struct mem_loop *mem;
};

static uint64_t xorshift64(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* Random page-aligned GVAs (plus a fixed in-page offset) over the footprint,
 * generated before timing so the loops measure translation only. */
static uint64_t *random_gvas(const struct scene *s, size_t n, uint64_t page)
{
	uint64_t *v = malloc(n * sizeof(*v));
	uint64_t state = 0x243f6a8885a308d3ULL, pages = s->footprint / page;

	if (v == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		v[i] = SCENE_GVA_BASE + (xorshift64(&state) % pages) * page + 0x18;
	return v;
}

static int make_scene(uint64_t footprint, const char *caches, struct scene **s, char *err,
		      size_t errlen)
{
	struct scene_opts o;

	scene_opts_default(&o);
	o.footprint = footprint;
	o.tlb = caches;
	o.pwc = caches;
	return scene_create(&o, s, err, errlen);
}

/* Time n translations of gvas[i % ngva]; the sum of HPAs keeps the work live
 * and lets callers compare against the plain loop. */
static double time_model(struct scene *s, const uint64_t *gvas, size_t ngva, uint64_t n,
			 uint64_t *sum, uint64_t *faults)
{
	struct mmu_result r;
	uint64_t acc = 0, bad = 0;
	double t0 = now_seconds();

	for (uint64_t i = 0, k = 0; i < n; i++) {
		mmu_translate(s->mmu, &s->ctx, gvas[k], ACC_READ, &r);
		acc += r.hpa;
		bad += r.status != MMU_OK;
		if (++k == ngva)
			k = 0;
	}
	*sum = acc;
	*faults = bad;
	return now_seconds() - t0;
}

static int bench_tlb_hit(const struct bench_params *bp, struct bench_result *out, char *err,
			 size_t errlen)
{
	/* 32 pages: inside Skylake's 64-entry L1 dTLB, so after the first lap
	 * every translation is a hit. */
	const size_t ngva = 4096;
	struct scene *s;
	uint64_t *gvas, sum, faults, n = bp->quick ? 2000000 : 50000000;
	int rc = make_scene(32 * PAGE_SIZE_4K, "skylake", &s, err, errlen);

	if (rc)
		return rc;
	gvas = random_gvas(s, ngva, PAGE_SIZE_4K);
	if (gvas == NULL) {
		scene_destroy(s);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	time_model(s, gvas, ngva, ngva, &sum, &faults); /* warm the TLB */
	mmu_reset_stats(s->mmu);
	out->seconds = time_model(s, gvas, ngva, n, &sum, &faults);
	out->ops = n;
	out->unit = "translation";
	out->refs_per_op = (double)mmu_stats(s->mmu)->walk_refs / (double)n;
	out->target_kind = TARGET_MIN_RATE;
	out->target = 100e6;
	snprintf(out->note, sizeof(out->note), "32 pages, %" PRIu64 " walks, %" PRIu64 " faults",
		 mmu_stats(s->mmu)->walks, faults);
	free(gvas);
	scene_destroy(s);
	return 0;
}

/* The plain loop: follow the real entries, no model, no counting. */
static inline uint64_t plain_ept(const struct hpool *pool, uint64_t root, unsigned levels,
				 uint64_t gpa)
{
	uint64_t table = root;

	for (unsigned l = levels; l >= 1; l--) {
		uint64_t idx = (gpa >> (PAGE_SHIFT_4K + 9 * (l - 1))) & 0x1ff;

		table = hpool_read64(pool, table + idx * 8) & EPT_ADDR_MASK;
	}
	return table | (gpa & 0xfff);
}

/* Precondition: 4K pages in both stages (no PS bits to look at). */
static inline uint64_t plain_walk(const struct hpool *pool, uint64_t eroot, unsigned elevels,
				  uint64_t cr3, unsigned glevels, uint64_t gva)
{
	uint64_t table = cr3 & PTE_ADDR_MASK;

	for (unsigned l = glevels; l >= 1; l--) {
		uint64_t idx = (gva >> (PAGE_SHIFT_4K + 9 * (l - 1))) & 0x1ff;
		uint64_t hpa = plain_ept(pool, eroot, elevels, table + idx * 8);

		table = hpool_read64(pool, hpa) & PTE_ADDR_MASK;
	}
	return plain_ept(pool, eroot, elevels, table | (gva & 0xfff));
}

static double time_plain(const struct scene *s, const uint64_t *gvas, size_t ngva, uint64_t n,
			 uint64_t *sum)
{
	uint64_t acc = 0, eroot = s->ept->root, cr3 = s->ctx.cr3;
	unsigned el = s->ept->levels, gl = s->o.guest_levels;
	double t0 = now_seconds();

	for (uint64_t i = 0, k = 0; i < n; i++) {
		acc += plain_walk(s->pool, eroot, el, cr3, gl, gvas[k]);
		if (++k == ngva)
			k = 0;
	}
	*sum = acc;
	return now_seconds() - t0;
}

/* Timed rounds of the walk benchmarks (one with --quick). */
#define WALK_ROUNDS 5

static int bench_walks(const struct bench_params *bp, struct bench_result *out, char *err,
		       size_t errlen, const char *caches, bool baseline, uint64_t footprint)
{
	const size_t ngva = 1 << 20;
	struct scene *s;
	uint64_t *gvas, sum, psum, faults, n = bp->quick ? 200000 : 3000000;
	const struct mmu_stats *st;
	int rc = make_scene(footprint, caches, &s, err, errlen);

	if (rc)
		return rc;
	gvas = random_gvas(s, ngva, PAGE_SIZE_4K);
	if (gvas == NULL) {
		scene_destroy(s);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* One untimed lap of each so that neither pays for first-touch page
	 * faults of the host. */
	time_model(s, gvas, ngva, ngva, &sum, &faults);
	if (baseline)
		time_plain(s, gvas, ngva, ngva, &psum);
	/*
	 * Best of several rounds, the two loops alternating: whatever else the
	 * machine does can only add time to a round, so the fastest round of
	 * each loop is the figure to compare. Every round makes the same walks
	 * (the warm-up lap set every A flag), so the last round's statistics
	 * stand for all of them.
	 */
	unsigned rounds = bp->quick ? 1 : WALK_ROUNDS;
	double t;

	out->seconds = out->base_seconds = 0;
	for (unsigned r = 0; r < rounds; r++) {
		mmu_reset_stats(s->mmu);
		t = time_model(s, gvas, ngva, n, &sum, &faults);
		if (r == 0 || t < out->seconds)
			out->seconds = t;
		if (baseline) {
			t = time_plain(s, gvas, ngva, n, &psum);
			if (r == 0 || t < out->base_seconds)
				out->base_seconds = t;
		}
	}
	out->ops = n;
	out->unit = "translation";
	st = mmu_stats(s->mmu);
	out->refs_per_op = (double)st->walk_refs / (double)n;
	if (footprint >= PAGE_SIZE_1G)
		snprintf(out->note, sizeof(out->note), "%" PRIu64 " GiB, random 4K pages, %.2f refs/walk, %"
			 PRIu64 " faults", footprint >> 30,
			 st->walks ? (double)st->walk_refs / (double)st->walks : 0.0, faults);
	else
		/* Most translations walk, and the walk starts from a cache:
		 * per walk is the figure that matters. */
		snprintf(out->note, sizeof(out->note), "%" PRIu64 " MiB, random 4K pages, %.1f%% walked, "
			 "%.2f refs/walk, %.1f ns per walk, %" PRIu64 " faults", footprint >> 20,
			 100.0 * (double)st->walks / (double)n,
			 st->walks ? (double)st->walk_refs / (double)st->walks : 0.0,
			 st->walks ? 1e9 * out->seconds / (double)st->walks : 0.0, faults);
	if (baseline && footprint >= PAGE_SIZE_1G) {
		out->target_kind = TARGET_MAX_RATIO;
		out->target = 2.0;
	}
	if (baseline) {
		/* Both loops must have found the same frames, or the
		 * comparison is meaningless. */
		if (psum != sum) {
			snprintf(err, errlen, "the model and the plain walk disagree on the HPAs "
					      "(sums 0x%" PRIx64 " and 0x%" PRIx64 ")", sum, psum);
			rc = -EPROTO;
		}
	}
	free(gvas);
	scene_destroy(s);
	return rc;
}

static int bench_full_walk(const struct bench_params *bp, struct bench_result *out, char *err,
			   size_t errlen)
{
	return bench_walks(bp, out, err, errlen, "none", true, PAGE_SIZE_1G);
}

/* Walks that start from the paging-structure caches: 64 MiB of random 4K
 * pages is 8 times what the Skylake STLB maps but within what its PDE cache
 * covers (32 entries of 2 MiB), so nearly every translation walks and nearly
 * every walk reads one guest PTE and its EPT PTE. The plain loop (24 loads,
 * no model) is printed beside it for scale, with no target. */
static int bench_cached_walk(const struct bench_params *bp, struct bench_result *out,
			     char *err, size_t errlen)
{
	return bench_walks(bp, out, err, errlen, "skylake", true, 64ULL << 20);
}

static int bench_skylake_random(const struct bench_params *bp, struct bench_result *out,
				char *err, size_t errlen)
{
	return bench_walks(bp, out, err, errlen, "skylake", false, PAGE_SIZE_1G);
}

/*
 * vCPU benchmarks.
 *
 * Guest RAM as QEMU's -m 128M, so that both print "127 MiB of RAM" and their
 * outputs can be compared byte for byte.
 */
#define BENCH_GUEST_MEM (128ULL << 20)
#define QEMU_TIMEOUT_SECONDS 300

/* One boot of the guest kernel, under hv or under QEMU. */
struct guest_run {
	uint64_t insns;   /* instructions retired (hv only) */
	double seconds;   /* hv: vm_run alone; QEMU: the whole process */
	double cpu;       /* CPU time of the same span: hv's process, QEMU's threads */
	int status;       /* exit status: 1 when the guest wrote 0 to isa-debug-exit */
	uint64_t lazy;    /* frames hv mapped at the guest's first touch (lazy RAM) */
	char *out;        /* serial output, malloc'd, NUL-terminated */
};

static void guest_run_free(struct guest_run *gr)
{
	free(gr->out);
	gr->out = NULL;
}

/* Did the guest stop by itself and report success? */
static bool guest_ok(const struct guest_run *gr, const char *workload)
{
	char want[64];
	const char *last;
	size_t len;

	if (gr->status != 1 || gr->out == NULL)
		return false;
	len = strlen(gr->out);
	while (len > 0 && gr->out[len - 1] == '\n')
		len--;
	last = gr->out + len;
	while (last > gr->out && last[-1] != '\n')
		last--;
	snprintf(want, sizeof(want), "RESULT %s ok ", workload);
	return strncmp(last, want, strlen(want)) == 0;
}

/* The last line of the guest's output, for a diagnostic. */
static void last_line(const struct guest_run *gr, char *buf, size_t len)
{
	const char *o = gr->out ? gr->out : "", *end = o + strlen(o), *start;

	while (end > o && end[-1] == '\n')
		end--;
	start = end;
	while (start > o && start[-1] != '\n')
		start--;
	snprintf(buf, len, "%.*s", (int)(end - start), start);
}

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The guest on a backend; boot (when not NULL) gets the wall time from
 * vm_create to the guest's exit. */
static int backend_guest_run_policy(const struct vcpu_ops *ops, enum mem_policy policy,
				    const char *guest, const char *append, uint64_t mem,
				    struct guest_run *gr, double *boot, char *err, size_t errlen)
{
	struct vm_config cfg = {
		.mem_size = mem,
		.ept_levels = 4,
		.ept_page_shift = PAGE_SHIFT_4K,
		.policy = policy,
		.ops = ops,
		.serial_in_fd = -1,
	};
	struct vcpu_stats vs;
	struct vm *vm;
	size_t outlen = 0;
	FILE *serial;
	double t0, c0, tb;
	int rc;

	memset(gr, 0, sizeof(*gr));
	rc = cli_mmu_config(NULL, NULL, &cfg.mmu, err, errlen);
	if (rc)
		return rc;
	serial = open_memstream(&gr->out, &outlen);
	if (serial == NULL) {
		snprintf(err, errlen, "open_memstream: %s", strerror(errno));
		return -errno;
	}
	cfg.serial_out = serial;
	tb = now_seconds();
	rc = vm_create(&cfg, &vm, err, errlen);
	if (rc)
		goto out_serial;
	rc = vm_load(vm, guest, append, err, errlen);
	if (rc)
		goto out_vm;
	c0 = cpu_seconds();
	t0 = now_seconds();
	rc = vm_run(vm);
	gr->seconds = now_seconds() - t0;
	if (boot)
		*boot = now_seconds() - tb;
	gr->cpu = cpu_seconds() - c0;
	if (rc) {
		snprintf(err, errlen, "hv failed: %s", vm->stop.msg);
		goto out_vm;
	}
	vm->ops->get_stats(vm->vcpu, &vs);
	gr->insns = vs.instructions;
	gr->status = vm->stop.status;
	gr->lazy = vm->cnt.lazy_frames;
out_vm:
	vm_destroy(vm);
out_serial:
	fclose(serial);  /* sets gr->out to the finished buffer */
	if (rc)
		guest_run_free(gr);
	return rc;
}

static int backend_guest_run(const struct vcpu_ops *ops, const char *guest, const char *append,
			     uint64_t mem, struct guest_run *gr, double *boot, char *err,
			     size_t errlen)
{
	return backend_guest_run_policy(ops, MEM_EAGER, guest, append, mem, gr, boot, err, errlen);
}

static int hv_guest_run(const char *guest, const char *append, uint64_t mem,
			struct guest_run *gr, char *err, size_t errlen)
{
	return backend_guest_run(&vcpu_soft_ops, guest, append, mem, gr, NULL, err, errlen);
}

extern char **environ;

/* Wait for the child, killing it after QEMU_TIMEOUT_SECONDS. Polls every
 * millisecond, which is also the resolution of the timing. */
static int wait_child(pid_t pid, int *wstatus, double *cpu)
{
	const struct timespec ms = { 0, 1000000 };
	double deadline = now_seconds() + QEMU_TIMEOUT_SECONDS;
	struct rusage ru;

	for (;;) {
		pid_t r = wait4(pid, wstatus, WNOHANG, &ru);

		if (r == pid) {
			*cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
			       1e-6 * (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
			return 0;
		}
		if (r < 0 && errno != EINTR)
			return -errno;
		if (now_seconds() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, wstatus, 0);
			return -ETIMEDOUT;
		}
		nanosleep(&ms, NULL);
	}
}

/* Read a whole (temporary) file into a NUL-terminated buffer. */
static char *slurp(FILE *f)
{
	size_t cap = 4096, len = 0, n;
	char *buf = malloc(cap);

	if (buf == NULL)
		return NULL;
	rewind(f);
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len - 1 == 0) {
			char *bigger = realloc(buf, cap * 2);

			if (bigger == NULL) {
				free(buf);
				return NULL;
			}
			buf = bigger;
			cap *= 2;
		}
	}
	buf[len] = '\0';
	return buf;
}

/* The guest under QEMU TCG, with the command line tests/guest_qemu_test.sh
 * uses; the time is the whole process, startup included. */
static int qemu_guest_run(const char *qemu, const char *guest, const char *append,
			  uint64_t mem, struct guest_run *gr, char *err, size_t errlen)
{
	char msize[32];
	char *argv[] = {
		(char *)qemu, "-accel", "tcg", "-M", "q35", "-cpu", "max", "-m", msize,
		"-kernel", (char *)guest, "-append", (char *)append,
		"-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-display", "none",
		"-serial", "stdio", "-monitor", "none", "-no-reboot", "-nodefaults", NULL,
	};
	posix_spawn_file_actions_t fa;
	FILE *out;
	pid_t pid;
	double t0;
	int rc, ws;

	memset(gr, 0, sizeof(*gr));
	snprintf(msize, sizeof(msize), "%" PRIu64 "M", mem >> 20);
	out = tmpfile();
	if (out == NULL) {
		snprintf(err, errlen, "tmpfile: %s", strerror(errno));
		return -errno;
	}
	rc = -posix_spawn_file_actions_init(&fa);
	if (rc)
		goto out_file;
	rc = -posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (!rc)
		rc = -posix_spawn_file_actions_adddup2(&fa, fileno(out), 1);
	if (!rc)
		rc = -posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (rc) {
		snprintf(err, errlen, "posix_spawn_file_actions: %s", strerror(-rc));
		goto out_fa;
	}
	t0 = now_seconds();
	rc = -posix_spawnp(&pid, qemu, &fa, NULL, argv, environ);
	if (rc) {
		snprintf(err, errlen, "cannot start %s: %s", qemu, strerror(-rc));
		goto out_fa;
	}
	rc = wait_child(pid, &ws, &gr->cpu);
	gr->seconds = now_seconds() - t0;
	if (rc) {
		snprintf(err, errlen, "%s: %s", qemu, rc == -ETIMEDOUT ? "timed out, killed"
								: strerror(-rc));
		goto out_fa;
	}
	gr->status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
	gr->out = slurp(out);
	if (gr->out == NULL) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
	}
out_fa:
	posix_spawn_file_actions_destroy(&fa);
out_file:
	fclose(out);
	return rc;
}

/* Is prog an executable file, found directly (it has a slash) or on PATH? */
static bool on_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0;
	if (path == NULL)
		path = "/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		if (n > 0 && (size_t)snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, prog) <
			     sizeof(buf) && access(buf, X_OK) == 0)
			return true;
		path += n + (path[n] == ':');
	}
	return false;
}

/*
 * One guest loop: hv runs iters=N and 2N, QEMU qemu_iters=M and 2M. --quick
 * divides N by 20 and M by 4 (QEMU's difference must stay well above its
 * startup jitter); M stays a multiple of N.
 */
struct vcpu_loop {
	const char *workload;
	uint64_t iters;
	uint64_t qemu_iters;
};

/*
 * A pair of runs at iters=n and iters=2n, each repeated reps times keeping
 * the shortest time: on a shared machine the minimum is the run least
 * disturbed by others (hv's instruction count is the same every time).
 */
static int run_pair(bool qemu, const struct bench_params *bp, const char *workload, uint64_t n,
		    int reps, struct guest_run gr[2], char *err, size_t errlen)
{
	for (int k = 0; k < 2; k++) {
		char append[128];

		snprintf(append, sizeof(append), "workload=%s iters=%" PRIu64, workload, n * (k + 1));
		for (int rep = 0; rep < reps; rep++) {
			struct guest_run g;
			int rc = qemu ? qemu_guest_run(bp->qemu, bp->guest, append, BENCH_GUEST_MEM,
							&g, err, errlen)
				      : hv_guest_run(bp->guest, append, BENCH_GUEST_MEM, &g, err,
						     errlen);

			if (rc == 0 && !guest_ok(&g, workload)) {
				char line[120];

				last_line(&g, line, sizeof(line));
				snprintf(err, errlen, "%s: `%s` exited with status %d, last line '%s'",
					 qemu ? bp->qemu : "hv", append, g.status, line);
				guest_run_free(&g);
				rc = -EPROTO;
			}
			if (rc) {
				if (k == 1 || rep > 0)
					guest_run_free(&gr[0]);
				if (k == 1 && rep > 0)
					guest_run_free(&gr[1]);
				return rc;
			}
			if (rep == 0) {
				gr[k] = g;
			} else {
				if (g.seconds < gr[k].seconds)
					gr[k].seconds = g.seconds;
				if (g.cpu < gr[k].cpu)
					gr[k].cpu = g.cpu;
				guest_run_free(&g);
			}
		}
	}
	return 0;
}

/*
 * QEMU's side. QEMU does not count instructions, but the guest executes the
 * same ones on both: the loop is linear in iters (checked: hv's instruction
 * difference is a whole number of instructions per iteration, give or take
 * VCPU_LINEAR_SLACK for numbers and checksums printed at other lengths), so
 * a QEMU run of iters=M and 2M executes M times that many. QEMU runs the loop 30
 * to 100 times faster than hv does, so it gets more iterations than hv
 * (qemu_iters) or its difference would drown in its startup time. First,
 * one QEMU boot with hv's own iters=N line must print exactly what hv
 * printed: the same guest, the same work.
 */
#define VCPU_LINEAR_SLACK 1000

/*
 * QEMU's difference of iters=2n over iters=n is a measurement when the loop,
 * not QEMU's startup, dominates the longer run: at least 0.05 s and a fifth
 * of that run. Judged by CPU time (QEMU's threads), which other work on the
 * machine disturbs much less than wall time (a busy machine has made the
 * longer run's wall time the shorter one); by wall time when CPU time is
 * missing. Otherwise says why in out->cmp_skip.
 */
static bool qemu_measured(const struct guest_run gr[2], uint64_t n, struct bench_result *out)
{
	bool cpu = gr[0].cpu > 0 && gr[1].cpu > 0;
	double d = cpu ? gr[1].cpu - gr[0].cpu : gr[1].seconds - gr[0].seconds;
	double total = cpu ? gr[1].cpu : gr[1].seconds;

	if (d >= 0.05 && d >= 0.2 * total)
		return true;
	snprintf(out->cmp_skip, sizeof(out->cmp_skip), "not measurable: iters=%" PRIu64 " took "
		 "%.3f s of %s more than iters=%" PRIu64 " out of %.3f s (startup noise)", 2 * n, d,
		 cpu ? "CPU time" : "wall time", n, total);
	out->cmp_ops = 0;
	return false;
}

static void run_qemu_side(const struct bench_params *bp, const struct vcpu_loop *l, uint64_t n,
			  uint64_t qn, const struct guest_run *hv, struct bench_result *out)
{
	struct guest_run check, gr[2];
	char err[256] = "", append[64];
	uint64_t dinsn = hv[1].insns - hv[0].insns, per = (dinsn + n / 2) / n;
	uint64_t off = dinsn > per * n ? dinsn - per * n : per * n - dinsn;

	out->cmp_name = "QEMU TCG";
	if (bp->qemu_skip != NULL) {
		snprintf(out->cmp_skip, sizeof(out->cmp_skip), "skipped: %s", bp->qemu_skip);
		return;
	}
	if (per == 0 || off > VCPU_LINEAR_SLACK) {
		snprintf(out->cmp_skip, sizeof(out->cmp_skip), "skipped: the loop's instruction "
			 "count is not linear in iters (%" PRIu64 " for %" PRIu64 " iterations)",
			 dinsn, n);
		return;
	}
	snprintf(append, sizeof(append), "workload=%s iters=%" PRIu64, l->workload, n);
	if (qemu_guest_run(bp->qemu, bp->guest, append, BENCH_GUEST_MEM, &check, err,
			   sizeof(err)) != 0) {
		snprintf(out->cmp_skip, sizeof(out->cmp_skip), "failed: %s", err);
		return;
	}
	if (check.status != 1 || strcmp(check.out, hv[0].out) != 0) {
		snprintf(out->cmp_skip, sizeof(out->cmp_skip), "failed: the guest printed "
			 "something else under QEMU (status %d) than under hv", check.status);
		guest_run_free(&check);
		return;
	}
	guest_run_free(&check);
	if (run_pair(true, bp, l->workload, qn, bp->quick ? 1 : 3, gr, err, sizeof(err)) != 0) {
		snprintf(out->cmp_skip, sizeof(out->cmp_skip), "failed: %s", err);
		return;
	}
	out->cmp_ops = per * qn;
	out->cmp_seconds = gr[1].seconds - gr[0].seconds;
	out->cmp_cpu_seconds = gr[1].cpu - gr[0].cpu;
	qemu_measured(gr, qn, out);
	guest_run_free(&gr[0]);
	guest_run_free(&gr[1]);
}

/*
 * How long hv's timed difference must be in CPU time to be a measurement:
 * the loop then dominates what varies from run to run. A shorter one makes N
 * larger, up to VCPU_TRIES times; under half of it in the end is noise.
 */
#define VCPU_MIN_CPU_QUICK 0.2
#define VCPU_MIN_CPU 0.5
#define VCPU_TRIES 3
#define VCPU_GROWTH 128  /* the most one try multiplies N by (64, then a digit) */
#define VCPU_REPS 5  /* runs of each of the pair without --quick */

/* That minimum, or HV_BENCH_MIN_CPU (seconds, > 0) when it is set, so that a
 * test can put it out of reach and take the noise path whatever the machine
 * does. Returns -EINVAL for a value that is not a positive number. */
static int vcpu_min_cpu(bool quick, double *min_cpu)
{
	const char *env = getenv("HV_BENCH_MIN_CPU");
	char *end;

	*min_cpu = quick ? VCPU_MIN_CPU_QUICK : VCPU_MIN_CPU;
	if (env == NULL)
		return 0;
	errno = 0;
	*min_cpu = strtod(env, &end);
	if (end == env || *end != '\0' || errno || !(*min_cpu > 0))
		return -EINVAL;
	return 0;
}

static void set_noise(struct bench_result *out, uint64_t n, const struct guest_run hv[2],
		      double min_cpu)
{
	snprintf(out->noise, sizeof(out->noise), "iters=%" PRIu64 " took %+.3f s of CPU time "
		 "more than iters=%" PRIu64 " (%.3f s and %.3f s), less than the %.2f s a "
		 "measurement needs: noise", 2 * n, hv[1].cpu - hv[0].cpu, n, hv[1].cpu, hv[0].cpu,
		 min_cpu);
}

/* Instruction counts are exact: a loop that does not grow with iters is a
 * broken guest or vCPU, not noise. */
static int check_growth(uint64_t n, const struct guest_run hv[2], char *err, size_t errlen)
{
	if (hv[1].insns > hv[0].insns)
		return 0;
	snprintf(err, errlen, "iters=%" PRIu64 " retired %" PRIu64 " instructions, not more than "
		 "iters=%" PRIu64 " (%" PRIu64 ")", 2 * n, hv[1].insns, n, hv[0].insns);
	return -EPROTO;
}

static unsigned decimal_digits(uint64_t v)
{
	unsigned d = 1;

	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

static int run_vcpu_loop(const struct bench_params *bp, const struct vcpu_loop *l,
			 struct bench_result *out, char *err, size_t errlen)
{
	uint64_t n = bp->quick ? l->iters / 20 : l->iters;
	uint64_t qn = bp->quick ? l->qemu_iters / 4 : l->qemu_iters;
	double min_cpu = bp->min_cpu, reach;
	struct guest_run hv[2];
	int rc;

	if (bp->guest == NULL) {
		snprintf(err, errlen, "guest/guest.elf not found (build it with make, or give "
				      "--guest FILE)");
		return -ENOENT;
	}
	for (int tries = 1;; tries++) {
		double cpu, grow;

		rc = run_pair(false, bp, l->workload, n, 1, hv, err, errlen);
		if (rc)
			return rc;
		rc = check_growth(n, hv, err, errlen);
		if (rc)
			goto out;
		cpu = hv[1].cpu - hv[0].cpu;
		if (cpu >= min_cpu || tries == VCPU_TRIES)
			break;
		/* The difference is at most the 2N run's own CPU time: when the
		 * growth the tries left allow cannot bring that to the minimum,
		 * growing N would only take time. */
		reach = hv[1].cpu;
		for (int t = tries; t < VCPU_TRIES; t++)
			reach *= VCPU_GROWTH;
		if (reach < min_cpu)
			break;
		/* Aim a quarter above the minimum, doubling N (at most 64-fold). */
		grow = cpu > min_cpu / 64 ? 1.25 * min_cpu / cpu : 64;
		guest_run_free(&hv[0]);
		guest_run_free(&hv[1]);
		for (double g = 1; g < grow; g *= 2)
			n *= 2;
		/* The guest prints iters: when 2N has a digit more than N, the
		 * difference would hold that digit's printing too. */
		if (decimal_digits(2 * n) != decimal_digits(n))
			n *= 2;
	}
	/* More runs at that N, keeping the shortest: the run least disturbed. */
	if (!bp->quick) {
		struct guest_run more[2];

		rc = run_pair(false, bp, l->workload, n, VCPU_REPS - 1, more, err, errlen);
		if (rc)
			goto out;
		for (int k = 0; k < 2; k++) {
			hv[k].seconds = more[k].seconds < hv[k].seconds ? more[k].seconds : hv[k].seconds;
			hv[k].cpu = more[k].cpu < hv[k].cpu ? more[k].cpu : hv[k].cpu;
			guest_run_free(&more[k]);
		}
	}
	out->ops = hv[1].insns - hv[0].insns;
	out->seconds = hv[1].seconds - hv[0].seconds;
	out->cpu_seconds = hv[1].cpu - hv[0].cpu;
	out->unit = "instruction";
	out->target_kind = TARGET_MIN_RATE;
	out->target = 100e6;
	snprintf(out->note, sizeof(out->note), "workload=%s iters=%" PRIu64 " and %" PRIu64
		 ": +%" PRIu64 " instructions (%.2f per iteration) in +%.3f s (CPU +%.3f s)",
		 l->workload, n, 2 * n, out->ops, (double)out->ops / (double)n, out->seconds,
		 out->cpu_seconds);
	if (out->cpu_seconds < min_cpu / 2)
		set_noise(out, n, hv, min_cpu / 2);
	else
		run_qemu_side(bp, l, n, qn, hv, out);
out:
	guest_run_free(&hv[0]);
	guest_run_free(&hv[1]);
	return rc;
}

static int bench_vcpu_compute(const struct bench_params *bp, struct bench_result *out,
			      char *err, size_t errlen)
{
	static const struct vcpu_loop l = { "compute", 3000000, 600000000 };

	return run_vcpu_loop(bp, &l, out, err, errlen);
}

static int bench_vcpu_memloop(const struct bench_params *bp, struct bench_result *out,
			      char *err, size_t errlen)
{
	static const struct vcpu_loop l = { "memloop", 2000000, 200000000 };

	return run_vcpu_loop(bp, &l, out, err, errlen);
}

/*
 * Memory-bound vCPU loops: the guest's memory workloads (docs/guest.md) over
 * a footprint much larger than the modelled TLBs, so most accesses walk.
 * QEMU, whose softmmu TLB misses there too, is much closer to hv than on
 * the register loop, so both run the same iters=N and 2N, interleaved (hv
 * N, QEMU N, hv 2N, QEMU 2N, repeated reps times, the shortest of each
 * kept): whatever else the machine does falls on both alike. Every QEMU
 * run must print byte for byte what hv printed for the same line, so both
 * did the same work and QEMU's difference is hv's instruction difference.
 * The target is on the time ratio hv/QEMU by CPU time, which a loaded
 * machine disturbs less than wall time (both are printed).
 */
struct mem_loop {
	const char *workload;
	const char *footprint;  /* as the guest's footprint= takes it */
	uint64_t mem;           /* guest RAM, hv --memory and QEMU -m */
	uint64_t iters;         /* N; --quick divides it by 4 */
	int reps;               /* rounds of the four runs; --quick: 1 */
	double target;          /* hv/QEMU time ratio to meet */
};

/* Keep the shorter wall and CPU times of two runs of the same line in *best. */
static void keep_best(struct guest_run *best, struct guest_run *g, bool first)
{
	if (first) {
		*best = *g;
		return;
	}
	if (g->seconds < best->seconds)
		best->seconds = g->seconds;
	if (g->cpu < best->cpu)
		best->cpu = g->cpu;
	guest_run_free(g);
}

/*
 * QEMU runs a memory loop several times faster than hv, so at hv's N its
 * difference can drown in its startup (booting, zeroing and first touches
 * of the footprint). Then QEMU alone runs iters=kN and 2kN (k = 4, then 16),
 * the best of reps rounds each, and each must end with the workload's own
 * "ok" RESULT line; the loop is linear in iters (check_growth, and hv's
 * output at N and 2N was already compared with QEMU's byte for byte), so
 * QEMU's difference executes k times hv's. Leaves out->cmp_skip saying why
 * when even 16N is not enough.
 */
static void qemu_mem_loop_longer(const struct bench_params *bp, const struct mem_loop *ml,
				 uint64_t n, int reps, struct bench_result *out)
{
	for (uint64_t k = 4; k <= 16; k *= 4) {
		struct guest_run qm[2] = { { 0 } };
		bool ok = true;

		for (int rep = 0; rep < reps && ok; rep++) {
			for (int i = 0; i < 2 && ok; i++) {
				char append[128], qerr[256] = "";
				uint64_t iters = k * n * (uint64_t)(i + 1);
				struct guest_run g;

				snprintf(append, sizeof(append), "workload=%s footprint=%s iters=%" PRIu64,
					 ml->workload, ml->footprint, iters);
				if (qemu_guest_run(bp->qemu, bp->guest, append, ml->mem, &g, qerr,
						   sizeof(qerr)) != 0) {
					snprintf(out->cmp_skip, sizeof(out->cmp_skip), "failed: %s", qerr);
					ok = false;
				} else if (!guest_ok(&g, ml->workload)) {
					snprintf(out->cmp_skip, sizeof(out->cmp_skip), "failed: iters=%"
						 PRIu64 " under QEMU ended with status %d, not its RESULT "
						 "ok line", iters, g.status);
					guest_run_free(&g);
					ok = false;
				} else {
					keep_best(&qm[i], &g, rep == 0);
				}
			}
		}
		if (ok) {
			out->cmp_ops = k * out->ops;
			out->cmp_seconds = qm[1].seconds - qm[0].seconds;
			out->cmp_cpu_seconds = qm[1].cpu - qm[0].cpu;
			if (qemu_measured(qm, k * n, out)) {
				out->cmp_skip[0] = '\0';
				snprintf(out->note + strlen(out->note), sizeof(out->note) -
					 strlen(out->note), "; QEMU: iters=%" PRIu64 " and %" PRIu64,
					 k * n, 2 * k * n);
			}
		}
		guest_run_free(&qm[0]);
		guest_run_free(&qm[1]);
		if (!ok || out->cmp_ops != 0)
			return;
	}
}

static int run_mem_loop(const struct bench_params *bp, const struct mem_loop *ml,
			struct bench_result *out, char *err, size_t errlen)
{
	uint64_t n = bp->quick ? ml->iters / 4 : ml->iters;
	int reps = bp->quick ? 1 : ml->reps, rc = 0;
	struct guest_run hv[2] = { { 0 } }, qm[2] = { { 0 } };
	bool qemu = bp->qemu_skip == NULL;

	if (bp->guest == NULL) {
		snprintf(err, errlen, "guest/guest.elf not found (build it with make, or give "
				      "--guest FILE)");
		return -ENOENT;
	}
	out->cmp_name = "QEMU TCG";
	if (!qemu)
		snprintf(out->cmp_skip, sizeof(out->cmp_skip), "skipped: %s", bp->qemu_skip);
	for (int rep = 0; rep < reps && rc == 0; rep++) {
		for (int k = 0; k < 2 && rc == 0; k++) {
			char append[128], qerr[256] = "";
			struct guest_run g;

			snprintf(append, sizeof(append), "workload=%s footprint=%s iters=%" PRIu64,
				 ml->workload, ml->footprint, n * (k + 1));
			rc = hv_guest_run(bp->guest, append, ml->mem, &g, err, errlen);
			if (rc)
				break;
			if (!guest_ok(&g, ml->workload) || (rep > 0 && g.insns != hv[k].insns)) {
				char line[120];

				last_line(&g, line, sizeof(line));
				snprintf(err, errlen, "hv: iters=%" PRIu64 " exited with status %d, last "
					 "line '%s'%s", n * (k + 1), g.status, line,
					 rep > 0 && g.insns != hv[k].insns ?
					 ", instruction count changed between runs" : "");
				guest_run_free(&g);
				rc = -EPROTO;
				break;
			}
			keep_best(&hv[k], &g, rep == 0);
			if (!qemu)
				continue;
			if (qemu_guest_run(bp->qemu, bp->guest, append, ml->mem, &g, qerr,
					   sizeof(qerr)) != 0) {
				snprintf(out->cmp_skip, sizeof(out->cmp_skip), "failed: %s", qerr);
				qemu = false;
			} else if (g.status != 1 || strcmp(g.out, hv[k].out) != 0) {
				snprintf(out->cmp_skip, sizeof(out->cmp_skip), "failed: iters=%" PRIu64
					 " printed something else under QEMU (status %d) than under hv",
					 n * (k + 1), g.status);
				guest_run_free(&g);
				qemu = false;
			} else {
				keep_best(&qm[k], &g, rep == 0);
			}
			if (!qemu) {
				guest_run_free(&qm[0]);
				guest_run_free(&qm[1]);
			}
		}
	}
	if (rc == 0)
		rc = check_growth(n, hv, err, errlen);
	if (rc == 0) {
		out->ops = hv[1].insns - hv[0].insns;
		out->seconds = hv[1].seconds - hv[0].seconds;
		out->cpu_seconds = hv[1].cpu - hv[0].cpu;
		out->unit = "instruction";
		out->target_kind = TARGET_MAX_QEMU_RATIO;
		out->target = ml->target;
		snprintf(out->note, sizeof(out->note), "workload=%s footprint=%s iters=%" PRIu64
			 " and %" PRIu64 ", --memory %" PRIu64 "M: +%" PRIu64 " instructions "
			 "(%.2f per iteration)", ml->workload, ml->footprint, n, 2 * n,
			 ml->mem >> 20, out->ops, (double)out->ops / (double)n);
		if (out->cpu_seconds < bp->min_cpu / 2)
			set_noise(out, n, hv, bp->min_cpu / 2);
	}
	if (rc == 0 && qemu && !out->noise[0]) {
		out->cmp_ops = out->ops;
		out->cmp_seconds = qm[1].seconds - qm[0].seconds;
		out->cmp_cpu_seconds = qm[1].cpu - qm[0].cpu;
		if (!qemu_measured(qm, n, out))
			qemu_mem_loop_longer(bp, ml, n, reps, out);
	}
	for (int k = 0; k < 2; k++) {
		guest_run_free(&hv[k]);
		guest_run_free(&qm[k]);
	}
	return rc;
}

/*
 * The KVM backend beside the software vCPU: the same guest and command line
 * on each (docs/kvm.md). A run counts from vm_create to the guest's exit for
 * kvm-boot, and vm_run alone for the loops. The ops of a loop are the
 * instructions the software vCPU retires for that command line: KVM retires
 * the same ones but does not count them. Where this hv has no KVM backend or
 * /dev/kvm cannot be used, the benchmark says why instead of a figure.
 */
struct kvm_loop {
	const char *workload;   /* what the guest's RESULT line names */
	const char *what;       /* for the note */
	const char *append;     /* the guest's command line */
	int runs, quick_runs;   /* boots on each backend */
	bool boot;              /* time vm_create..exit instead of vm_run */
};

static int run_kvm_loop(const struct bench_params *bp, const struct kvm_loop *kl,
			struct bench_result *out, char *err, size_t errlen)
{
	const struct vcpu_ops *kvm;
	char why[200] = "";
	double t[2] = { 0, 0 }, b;
	uint64_t insns = 0;
	int runs = bp->quick ? kl->quick_runs : kl->runs;

	out->unit = kl->boot ? "boot" : "instruction";
	if (bp->guest == NULL) {
		snprintf(err, errlen, "guest/guest.elf not found (build it with make, or give "
				      "--guest FILE)");
		return -ENOENT;
	}
	kvm = backend_find("kvm", why, sizeof(why));
	if (kvm != NULL && kvm->probe(why, sizeof(why)) != 0)
		kvm = NULL;
	if (kvm == NULL) {
		snprintf(out->noise, sizeof(out->noise), "no KVM here: %s", why);
		snprintf(out->note, sizeof(out->note), "%s under KVM and the soft vCPU", kl->what);
		return 0;
	}
	for (int i = 0; i < runs; i++) {
		for (int k = 0; k < 2; k++) {
			struct guest_run g;
			char line[120];
			int rc = backend_guest_run(k ? kvm : &vcpu_soft_ops, bp->guest, kl->append,
						   BENCH_GUEST_MEM, &g, &b, err, errlen);

			if (rc)
				return rc;
			if (!guest_ok(&g, kl->workload)) {
				last_line(&g, line, sizeof(line));
				snprintf(err, errlen, "the guest failed on %s (status %d): %s",
					 k ? "kvm" : "soft", g.status, line);
				guest_run_free(&g);
				return -EPROTO;
			}
			t[k] += kl->boot ? b : g.seconds;
			if (k == 0)
				insns = g.insns;
			guest_run_free(&g);
		}
	}
	out->ops = kl->boot ? (uint64_t)runs : insns * (uint64_t)runs;
	out->seconds = t[1];
	snprintf(out->note, sizeof(out->note),
		 "%s: KVM %.1f ms, soft vCPU %.1f ms a run (KVM/soft %.2fx, %d runs each, %s)",
		 kl->what, 1e3 * t[1] / runs, 1e3 * t[0] / runs, t[1] / t[0], runs, kl->append);
	return 0;
}

static int bench_kvm_boot(const struct bench_params *bp, struct bench_result *out, char *err,
			  size_t errlen)
{
	static const struct kvm_loop kl = { "compute", "boot to exit", "workload=compute iters=1", 3, 1,
					    true };

	return run_kvm_loop(bp, &kl, out, err, errlen);
}

static int bench_kvm_compute(const struct bench_params *bp, struct bench_result *out, char *err,
			     size_t errlen)
{
	static const struct kvm_loop kl = { "compute", "guest ALU loop", "workload=compute iters=20000",
					    2, 1, false };

	return run_kvm_loop(bp, &kl, out, err, errlen);
}

static int bench_kvm_random(const struct bench_params *bp, struct bench_result *out, char *err,
			    size_t errlen)
{
	static const struct kvm_loop kl = { "random", "guest demand-zero faults and random writes",
					    "workload=random iters=5000 footprint=256K", 2, 1, false };

	return run_kvm_loop(bp, &kl, out, err, errlen);
}

/* The kernel's own first touch: ms to write one byte to each page of `size`
 * bytes of a fresh memfd (what the pool's frames are), or < 0 on error. */
static double first_touch_ms(uint64_t size)
{
	int fd = memfd_create("hv-bench", MFD_CLOEXEC);
	volatile uint8_t *p;
	double t0, t;

	if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	t0 = now_seconds();
	for (uint64_t off = 0; off < size; off += PAGE_SIZE_4K)
		p[off] = 1;
	t = now_seconds() - t0;
	munmap((void *)p, size);
	return 1e3 * t;
}

/*
 * kvm-uffd: EPT-violation round trips through userfaultfd. The touch probe
 * (tests/guests/probe-touch.elf in the guest's build tree, or beside the
 * guest) writes once to each page from 4 MiB to the end of RAM, four
 * instructions a page: 8192 pages in 36 MiB, 1024 in 8 MiB (--quick). Run
 * with lazy RAM, each first touch goes through hv's handler, which maps the
 * pool frame (in the vCPU's thread through a poisoned page, or through the
 * handler thread: the run's report says which, hv/kvm.c); run eager, the
 * same touches fault only in the kernel. vm_run's difference per
 * lazy fault is the round trip through hv; beside it, the kernel's own first
 * touch of a memfd page in this process. The runs alternate, lazy first.
 */
static int bench_kvm_uffd(const struct bench_params *bp, struct bench_result *out, char *err,
			  size_t errlen)
{
	const struct vcpu_ops *kvm;
	char why[200] = "", probe[4096];
	double t[2] = { 0, 0 }, touch = 0;
	uint64_t faults = 0, mem = (bp->quick ? 8ULL : 36ULL) << 20;
	uint64_t pages = (mem - (4ULL << 20)) / PAGE_SIZE_4K;
	int runs = bp->quick ? 1 : 3;
	const char *slash;

	out->unit = "fault";
	if (bp->guest == NULL) {
		snprintf(err, errlen, "guest/guest.elf not found (build it with make, or give "
				      "--guest FILE)");
		return -ENOENT;
	}
	/* BUILD/guest/guest.elf -> BUILD/tests/guests/probe-touch.elf, or
	 * beside the guest (a folder holding both, as in the nested lane). */
	slash = strrchr(bp->guest, '/');
	for (int i = 0; i < 2; i++) {
		snprintf(probe, sizeof(probe), "%.*s%s", slash ? (int)(slash + 1 - bp->guest) : 0,
			 bp->guest, i ? "probe-touch.elf" : "../tests/guests/probe-touch.elf");
		if (access(probe, R_OK) == 0)
			break;
	}
	kvm = backend_find("kvm", why, sizeof(why));
	if (kvm != NULL && (kvm->probe(why, sizeof(why)) != 0 ||
			    kvm->probe_lazy(why, sizeof(why)) != 0))
		kvm = NULL;
	if (kvm == NULL) {
		snprintf(out->noise, sizeof(out->noise), "no KVM here: %s", why);
		snprintf(out->note, sizeof(out->note), "userfaultfd round trips under KVM");
		return 0;
	}
	for (int r = 0; r < runs; r++) {
		for (int k = 0; k < 2; k++) {
			struct guest_run g;
			int rc = backend_guest_run_policy(kvm, k ? MEM_EAGER : MEM_LAZY, probe, "",
							  mem, &g, NULL, err, errlen);

			if (rc)
				return rc;
			if (g.status != 1 || !strstr(g.out, "probe: touched the pages from 4 MiB") ||
			    (k == 0 && g.lazy < pages)) {
				snprintf(err, errlen, "%s: the touch probe failed (status %d)", probe,
					 g.status);
				guest_run_free(&g);
				return -EPROTO;
			}
			t[k] += g.seconds;
			if (k == 0)
				faults += g.lazy;
			guest_run_free(&g);
		}
		double ms = first_touch_ms(pages * PAGE_SIZE_4K);

		if (ms < 0) {
			snprintf(err, errlen, "memfd for the first-touch loop: %s", strerror(errno));
			return -errno;
		}
		touch += ms;
	}
	out->ops = faults;
	out->seconds = t[0] - t[1];
	if (out->seconds <= 0) {
		snprintf(out->noise, sizeof(out->noise), "the lazy runs were not slower than the eager "
			 "ones (%.1f vs %.1f ms): noise", 1e3 * t[0] / runs, 1e3 * t[1] / runs);
		out->seconds = 0;
	}
	{
		double rt = 1e6 * out->seconds / (double)faults;
		double ft = 1e3 * touch / ((double)pages * runs);

		snprintf(out->note, sizeof(out->note),
			 "round trip %.2f us (lazy %.1f ms - eager %.1f ms over %" PRIu64 " faults a "
			 "run); kernel first touch %.2f us a page; ratio %.1fx; %d runs",
			 rt, 1e3 * t[0] / runs, 1e3 * t[1] / runs, faults / (uint64_t)runs, ft,
			 ft > 0 ? rt / ft : 0, runs);
	}
	return 0;
}

static const struct mem_loop random_4m = { "random", "4M", 128ULL << 20, 3000000, 3, 1.5 };
static const struct mem_loop random_64m = { "random", "64M", 128ULL << 20, 2000000, 3, 1.0 };
/* 1 GiB: booting a guest of 1280 MiB and filling its footprint costs seconds
 * that vary by about 1 s between runs, so the loop is sized to dominate. */
static const struct mem_loop random_1g = { "random", "1G", 1280ULL << 20, 16000000, 1, 1.0 };
static const struct mem_loop seq_64m = { "seq", "64M", 128ULL << 20, 4000000, 3, 1.0 };
static const struct mem_loop chase_64m = { "chase", "64M", 128ULL << 20, 2000000, 3, 1.0 };

static const struct bench benches[] = {
	{ "tlb-hit", "translations that hit the L1 dTLB", bench_tlb_hit, NULL },
	{ "full-walk", "24-reference walks, no caches, vs a plain loop", bench_full_walk, NULL },
	{ "cached-walk", "random pages over 64 MiB, Skylake caches: walks from the PWCs", bench_cached_walk, NULL },
	{ "skylake-random", "random pages over 1 GiB, Skylake caches", bench_skylake_random, NULL },
	{ "vcpu-compute", "guest ALU loop on the soft vCPU, full model, vs QEMU", bench_vcpu_compute, NULL },
	{ "vcpu-memloop", "guest load/store loop, TLB-resident, vs QEMU", bench_vcpu_memloop, NULL },
	{ "vcpu-random-4m", "guest random read-modify-write over 4 MiB, vs QEMU", NULL, &random_4m },
	{ "vcpu-random-64m", "the same over 64 MiB", NULL, &random_64m },
	{ "vcpu-random-1g", "the same over 1 GiB (1280 MiB of guest RAM)", NULL, &random_1g },
	{ "vcpu-seq-64m", "guest sequential read-modify-write over 64 MiB, vs QEMU", NULL, &seq_64m },
	{ "vcpu-chase-64m", "guest pointer chase over 64 MiB, vs QEMU", NULL, &chase_64m },
	{ "kvm-boot", "guest boot to exit, KVM backend vs soft vCPU", bench_kvm_boot, NULL },
	{ "kvm-compute", "guest ALU loop, KVM backend vs soft vCPU", bench_kvm_compute, NULL },
	{ "kvm-random", "guest demand-zero faults and random writes, KVM vs soft", bench_kvm_random,
	  NULL },
	{ "kvm-uffd", "lazy RAM on KVM: userfaultfd round trips vs the kernel's first touch",
	  bench_kvm_uffd, NULL },
};

#define NBENCHES (sizeof(benches) / sizeof(benches[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hv bench [--quick] [--json|--csv] [--guest FILE] [--qemu PROG|--no-qemu]\n"
		"                [NAME...]\n"
		"\n"
		"Measure how fast the translation model and the software vCPU run. Each\n"
		"benchmark prints operations per second, nanoseconds per operation and,\n"
		"where there is one, a comparison: for full walks a plain loop doing the\n"
		"same memory references without the model, for the vCPU loops the same\n"
		"guest loop under QEMU TCG (when QEMU is installed). Targets: >= 100 M\n"
		"translations/s on the hit path; full walks within 2x of the plain loop;\n"
		">= 100 M guest instructions/s with the full model on; on the memory-bound\n"
		"loops at most 1.5x QEMU's time at 4 MiB and 1.0x at 64 MiB and 1 GiB.\n"
		"\n"
		"options:\n"
		"  --quick        about 20 times fewer operations, vCPU loops of at least\n"
		"                 0.2 s of CPU time instead of 0.5 s (CI smoke run; rough figures)\n"
		"  --json         one JSON object on stdout (keys: docs/json.md)\n"
		"  --csv          the same as CSV: one row a benchmark, a column for each\n"
		"                 JSON member\n"
		"  --guest FILE   the guest kernel for the vCPU loops (default: guest/guest.elf\n"
		"                 here, else ../guest/guest.elf from the hv binary's folder)\n"
		"  --qemu PROG    the QEMU to compare with (default qemu-system-x86_64)\n"
		"  --no-qemu      no QEMU comparison\n"
		"  NAME...        run only these benchmarks\n"
		"\n"
		"benchmarks:\n");
	for (size_t i = 0; i < NBENCHES; i++)
		fprintf(f, "  %-15s %s\n", benches[i].name, benches[i].what);
	fprintf(f,
		"\n"
		"examples:\n"
		"  hv bench                 all benchmarks\n"
		"  hv bench --quick --json  a fast smoke run, machine-readable\n"
		"  hv bench full-walk       only the walk-versus-plain-loop comparison\n"
		"  hv bench vcpu-compute vcpu-memloop   guest instructions/s, hv and QEMU\n"
		"  hv bench vcpu-random-4m vcpu-random-64m   memory-bound, hv beside QEMU\n");
}

enum { OPT_QUICK = 1, OPT_JSON, OPT_HELP, OPT_GUEST, OPT_QEMU, OPT_NO_QEMU, OPT_CSV };

static const struct option longopts[] = {
	{ "quick", no_argument, NULL, OPT_QUICK },
	{ "json",  no_argument, NULL, OPT_JSON },
	{ "csv",   no_argument, NULL, OPT_CSV },
	{ "guest", required_argument, NULL, OPT_GUEST },
	{ "qemu",  required_argument, NULL, OPT_QEMU },
	{ "no-qemu", no_argument, NULL, OPT_NO_QEMU },
	{ "help",  no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* guest/guest.elf in the current folder (the build tree, as `make bench`
 * runs), else in the build tree the running hv belongs to (hv/hv ->
 * ../guest/guest.elf). NULL when neither exists. */
static const char *find_guest(void)
{
	static char buf[4096];
	ssize_t n;
	char *slash;

	if (access("guest/guest.elf", R_OK) == 0)
		return "guest/guest.elf";
	n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (slash == NULL || (size_t)(slash - buf) + sizeof("/../guest/guest.elf") > sizeof(buf))
		return NULL;
	strcpy(slash, "/../guest/guest.elf");
	return access(buf, R_OK) == 0 ? buf : NULL;
}

/* hv's time over QEMU's for the same instructions, by CPU time (by wall
 * time when CPU time is missing); 0 when QEMU was not measured. */
static double qemu_time_ratio(const struct bench_result *r)
{
	if (r->cmp_name == NULL || r->cmp_ops == 0)
		return 0;
	if (r->cpu_seconds > 0 && r->cmp_cpu_seconds > 0)
		return (r->cpu_seconds / (double)r->ops) / (r->cmp_cpu_seconds / (double)r->cmp_ops);
	return (r->seconds / (double)r->ops) / (r->cmp_seconds / (double)r->cmp_ops);
}

static bool target_met(const struct bench_result *r)
{
	switch (r->target_kind) {
	case TARGET_MIN_RATE:
		return (double)r->ops / (r->cpu_seconds > 0 ? r->cpu_seconds : r->seconds) >= r->target;
	case TARGET_MAX_RATIO: return r->seconds / r->base_seconds <= r->target;
	case TARGET_MAX_QEMU_RATIO:
		return r->cmp_ops > 0 && qemu_time_ratio(r) <= r->target;
	case TARGET_NONE: break;
	}
	return true;
}

/* A rate by wall time for the secondary line: a difference of wall times
 * that is not positive is the machine's doing, and says so. */
static void print_wall_rate(const char *who, uint64_t ops, double seconds)
{
	if (seconds > 0)
		printf("%s %.1f M/s", who, (double)ops / seconds / 1e6);
	else
		printf("%s not measurable (%+.3f s: noise)", who, seconds);
}

/*
 * The vCPU benchmarks (cpu_seconds set) give their rates by CPU time, which
 * other work on the machine disturbs much less than wall time, and the
 * wall-clock rates on a line of their own.
 */
static void print_text(const struct bench *b, const struct bench_result *r)
{
	bool by_cpu = r->cpu_seconds > 0;
	double t = by_cpu ? r->cpu_seconds : r->seconds, rate = (double)r->ops / t;
	double ct = by_cpu && r->cmp_cpu_seconds > 0 ? r->cmp_cpu_seconds : r->cmp_seconds;

	if (r->noise[0]) {
		printf("%-15s not measurable: %s\n%-15s %s\n", b->name, r->noise, "", r->note);
		return;
	}
	printf("%-15s %8.1f M %s/s  %7.1f ns each%s", b->name, rate / 1e6, r->unit,
	       1e9 * t / (double)r->ops, by_cpu ? " by CPU time" : "");
	if (r->base_seconds > 0)
		printf("\n%-15s %8.1f M plain walks/s %6.1f ns each  ratio %.2fx", "",
		       (double)r->ops / r->base_seconds / 1e6, 1e9 * r->base_seconds / (double)r->ops,
		       r->seconds / r->base_seconds);
	if (r->target_kind == TARGET_MIN_RATE)
		printf("  (target >= %.0f M/s: %s)", r->target / 1e6, target_met(r) ? "met" : "MISSED");
	else if (r->target_kind == TARGET_MAX_RATIO)
		printf("  (target <= %.1fx: %s)", r->target, target_met(r) ? "met" : "MISSED");
	if (r->cmp_name != NULL && r->cmp_ops > 0 && r->target_kind == TARGET_MAX_QEMU_RATIO) {
		double cmp_rate = (double)r->cmp_ops / ct;

		printf("\n%-15s %s: %.1f M %s/s, %.2f ns each; time hv/QEMU %.2fx wall, "
		       "%.2fx CPU (target <= %.1fx by CPU time: %s)", "", r->cmp_name,
		       cmp_rate / 1e6, r->unit, 1e9 * ct / (double)r->cmp_ops,
		       (r->seconds / (double)r->ops) / (r->cmp_seconds / (double)r->cmp_ops),
		       qemu_time_ratio(r), r->target, target_met(r) ? "met" : "MISSED");
	} else if (r->cmp_name != NULL && r->cmp_ops > 0) {
		double cmp_rate = (double)r->cmp_ops / ct;

		printf("\n%-15s %s: %.0f M %s/s, %.2f ns each; hv/QEMU %.3fx (hv %.0fx slower)",
		       "", r->cmp_name, cmp_rate / 1e6, r->unit, 1e9 * ct / (double)r->cmp_ops,
		       rate / cmp_rate, cmp_rate / rate);
	} else if (r->target_kind == TARGET_MAX_QEMU_RATIO) {
		printf("\n%-15s %s: %s (target <= %.1fx: not measured)", "", r->cmp_name,
		       r->cmp_skip, r->target);
	} else if (r->cmp_name != NULL) {
		printf("\n%-15s %s: %s", "", r->cmp_name, r->cmp_skip);
	}
	if (by_cpu) {
		printf("\n%-15s by wall time instead: ", "");
		print_wall_rate("hv", r->ops, r->seconds);
		if (r->cmp_ops > 0)
			print_wall_rate(", QEMU", r->cmp_ops, r->cmp_seconds);
	}
	printf("\n%-15s %s\n", "", r->note);
}

static void print_json(struct json *j, const struct bench *b, const struct bench_result *r)
{
	bool by_cpu = r->cpu_seconds > 0;
	double t = by_cpu ? r->cpu_seconds : r->seconds;
	double ct = by_cpu && r->cmp_cpu_seconds > 0 ? r->cmp_cpu_seconds : r->cmp_seconds;

	json_obj_begin(j, b->name);
	json_str(j, "unit", r->unit);
	json_u64(j, "ops", r->ops);
	json_f64(j, "seconds", r->seconds);
	if (r->noise[0]) {
		if (r->cpu_seconds != 0)
			json_f64(j, "cpu_seconds", r->cpu_seconds);
		json_str(j, "not_measurable", r->noise);
		json_str(j, "note", r->note);
		json_obj_end(j);
		return;
	}
	/* The rates are by CPU time when it was measured. */
	json_str(j, "clock", by_cpu ? "cpu" : "wall");
	json_f64(j, "ops_per_second", (double)r->ops / t);
	json_f64(j, "ns_per_op", 1e9 * t / (double)r->ops);
	json_f64(j, "refs_per_op", r->refs_per_op);
	if (r->base_seconds > 0) {
		json_f64(j, "plain_seconds", r->base_seconds);
		json_f64(j, "plain_ns_per_op", 1e9 * r->base_seconds / (double)r->ops);
		json_f64(j, "ratio_to_plain", r->seconds / r->base_seconds);
	}
	if (r->cpu_seconds > 0)
		json_f64(j, "cpu_seconds", r->cpu_seconds);
	if (r->cmp_name != NULL && r->cmp_ops > 0) {
		json_u64(j, "qemu_ops", r->cmp_ops);
		json_f64(j, "qemu_seconds", r->cmp_seconds);
		json_f64(j, "qemu_cpu_seconds", r->cmp_cpu_seconds);
		json_f64(j, "qemu_ops_per_second", (double)r->cmp_ops / ct);
		json_f64(j, "ratio_to_qemu", ((double)r->ops / t) / ((double)r->cmp_ops / ct));
		json_f64(j, "time_ratio_to_qemu", qemu_time_ratio(r));
	} else if (r->cmp_name != NULL) {
		json_str(j, "qemu_skipped", r->cmp_skip);
	}
	if (r->target_kind != TARGET_NONE) {
		json_str(j, "target", r->target_kind == TARGET_MIN_RATE ? "min_ops_per_second" :
				      r->target_kind == TARGET_MAX_RATIO ? "max_ratio_to_plain" :
									   "max_time_ratio_to_qemu");
		json_f64(j, "target_value", r->target);
		json_bool(j, "target_met", target_met(r));
	}
	json_str(j, "note", r->note);
	json_obj_end(j);
}

int cmd_bench(int argc, char **argv)
{
	struct bench_params bp = { .quick = false, .qemu = "qemu-system-x86_64" };
	bool no_qemu = false;
	static char qemu_missing[256];
	bool json = false, csv = false, selected[NBENCHES], any = false;
	struct csv_capture cap;
	struct json j;
	int opt, status = 0, failed = 0;

	optind = 0;
	while ((opt = cli_getopt("bench", argc, argv, longopts, &status)) > 0) {
		switch (opt) {
		case OPT_QUICK: bp.quick = true; break;
		case OPT_JSON: json = true; break;
		case OPT_CSV: csv = true; break;
		case OPT_GUEST: bp.guest = optarg; break;
		case OPT_QEMU: bp.qemu = optarg; break;
		case OPT_NO_QEMU: no_qemu = true; break;
		case OPT_HELP: usage(stdout); return 0;
		}
	}
	if (status)
		return status;
	if (json && csv)
		return cli_usage_error("bench", "--json and --csv: choose one");
	if (vcpu_min_cpu(bp.quick, &bp.min_cpu))
		return cli_usage_error("bench", "HV_BENCH_MIN_CPU='%s' is not a positive number of "
				       "seconds", getenv("HV_BENCH_MIN_CPU"));
	if (bp.guest == NULL)
		bp.guest = find_guest();
	else if (access(bp.guest, R_OK) != 0)
		return cli_usage_error("bench", "--guest %s: %s", bp.guest, strerror(errno));
	if (no_qemu) {
		bp.qemu_skip = "--no-qemu";
	} else if (!on_path(bp.qemu)) {
		snprintf(qemu_missing, sizeof(qemu_missing), "%s not found%s", bp.qemu,
			 strchr(bp.qemu, '/') ? "" : " on PATH");
		bp.qemu_skip = qemu_missing;
	}
	memset(selected, 0, sizeof(selected));
	for (int i = optind; i < argc; i++) {
		size_t k;

		for (k = 0; k < NBENCHES; k++)
			if (strcmp(argv[i], benches[k].name) == 0)
				break;
		if (k == NBENCHES)
			return cli_usage_error("bench", "unknown benchmark '%s' (see hv bench --help)", argv[i]);
		selected[k] = true;
		any = true;
	}

	/* CSV is the JSON report, written into memory, one row a benchmark. */
	if (csv) {
		if (csv_capture_begin(&cap)) {
			fprintf(stderr, "hv bench: out of memory for the report\n");
			return 1;
		}
		json = true;
	}
	if (json) {
		json_begin(&j, csv ? cap.f : stdout);
		json_str(&j, "command", "bench");
		json_bool(&j, "quick", bp.quick);
		json_obj_begin(&j, "benchmarks");
	} else {
		printf("hv bench%s: translation model and vCPU speed\n\n", bp.quick ? " --quick" : "");
	}
	for (size_t i = 0; i < NBENCHES; i++) {
		struct bench_result r;
		char err[256] = "";

		if (any && !selected[i])
			continue;
		memset(&r, 0, sizeof(r));
		if ((benches[i].run ? benches[i].run(&bp, &r, err, sizeof(err))
				    : run_mem_loop(&bp, benches[i].mem, &r, err, sizeof(err))) != 0) {
			fprintf(stderr, "hv bench: %s: %s\n", benches[i].name, err);
			failed = 1;
			continue;
		}
		if (json)
			print_json(&j, &benches[i], &r);
		else
			print_text(&benches[i], &r);
	}
	if (json) {
		json_obj_end(&j);
		json_end(&j);
	}
	if (csv) {
		char err[256];

		if (csv_capture_end(&cap, stdout, "benchmarks", err, sizeof(err))) {
			fprintf(stderr, "hv bench: %s\n", err);
			return 1;
		}
	}
	return failed;
}
