/*
 * proc.c: ring-3 processes, their system calls, and fork with copy-on-write.
 *
 * A process is an address space (its own PML4, sharing the kernel's slot 0
 * supervisor-only) and a saved register frame. The scheduler is as small as
 * the demo allows: fork runs the child at once, and when a process exits or
 * waits the lowest-numbered runnable process runs. When none is left the
 * kernel continues where proc_run_init() started the first one.
 *
 * System calls (syscall instruction; number in rax, arguments in rdi, rsi):
 *   0 write(buf, len)  1 getpid()  2 fork()  3 exit(status)
 *   4 wait(): exit status of a child, waiting for one if needed; -1 if none.
 */
#include "kernel.h"
#include "x86.h"

enum { SYS_WRITE, SYS_GETPID, SYS_FORK, SYS_EXIT, SYS_WAIT };
enum state { FREE, RUNNABLE, WAITING, ZOMBIE };

#define NPROC 4
#define USER_STACK_PAGES 4

struct proc {
	enum state state;
	int pid, parent, status;
	uint64_t *pml4;
	struct frame tf; /* saved registers while the process is not running */
};

static struct proc procs[NPROC];
static struct proc *current;
static int next_pid;
static struct kjmp kernel_ctx; /* where the kernel resumes when all have exited */
static struct cow_stats stats;

/* The user program, a flat binary linked at USER_BASE (user_blob.S, user.ld). */
extern const char user_image[], user_image_end[];
struct user_header {
	uint64_t entry, text_end, data_start, image_end;
};

static struct proc *proc_alloc(void)
{
	for (int i = 0; i < NPROC; i++) {
		if (procs[i].state == FREE) {
			memset(&procs[i], 0, sizeof(procs[i]));
			procs[i].pid = ++next_pid;
			return &procs[i];
		}
	}
	return NULL;
}

/* Copy the image into fresh frames: text read-only, data and stack no-execute. */
static void image_load(struct proc *p)
{
	const struct user_header *h = (const void *)user_image;
	uint64_t len = (uint64_t)(user_image_end - user_image);

	for (uint64_t va = USER_BASE; va < h->image_end; va += PAGE_SIZE) {
		uint64_t pa = frame_alloc();
		uint64_t off = va - USER_BASE;
		if (off < len)
			memcpy((void *)pa, user_image + off, len - off < PAGE_SIZE ? len - off : PAGE_SIZE);
		uint64_t flags = PTE_U;
		if (va >= h->data_start)
			flags |= PTE_W | PTE_NX;
		map_4k(p->pml4, va, pa, flags);
	}
	for (int i = 1; i <= USER_STACK_PAGES; i++)
		map_4k(p->pml4, USER_STACK_TOP - i * PAGE_SIZE, frame_alloc(), PTE_U | PTE_W | PTE_NX);

	p->tf.rip = h->entry;
	p->tf.rsp = USER_STACK_TOP - 8; /* as if called: rsp + 8 is 16-byte aligned */
	p->tf.cs = SEL_UCODE;
	p->tf.ss = SEL_UDATA;
	p->tf.rflags = 0x2; /* IF clear: the guest takes no interrupts at all */
}

/* Save the running process's registers and load next's into the frame. */
static void switch_to(struct frame *f, struct proc *next)
{
	if (current && current->state != FREE && current->state != ZOMBIE)
		current->tf = *f;
	current = next;
	if (!next) {
		write_cr3((uint64_t)kernel_pml4);
		kjmp_resume(&kernel_ctx);
	}
	*f = next->tf;
	write_cr3((uint64_t)next->pml4);
}

static struct proc *pick_next(void)
{
	for (int i = 0; i < NPROC; i++)
		if (procs[i].state == RUNNABLE)
			return &procs[i];
	return NULL;
}

static struct proc *find(int pid)
{
	for (int i = 0; i < NPROC; i++)
		if (procs[i].state != FREE && procs[i].pid == pid)
			return &procs[i];
	return NULL;
}

/* Zombie child of p, if any; *any_child tells whether p has children at all. */
static struct proc *zombie_child(struct proc *p, bool *any_child)
{
	*any_child = false;
	for (int i = 0; i < NPROC; i++) {
		if (procs[i].state == FREE || procs[i].parent != p->pid)
			continue;
		*any_child = true;
		if (procs[i].state == ZOMBIE)
			return &procs[i];
	}
	return NULL;
}

static int reap(struct proc *z)
{
	int status = z->status;
	z->state = FREE;
	return status;
}

static void proc_exit(struct frame *f, int status)
{
	struct proc *p = current;
	if (p->pid == 1)
		stats.init_status = status;
	write_cr3((uint64_t)kernel_pml4); /* leave the address space before freeing it */
	pml4_free(p->pml4);
	p->pml4 = NULL;
	p->status = status;
	p->state = ZOMBIE;
	stats.checksum = mix64(stats.checksum, (uint64_t)(int64_t)status);

	struct proc *parent = find(p->parent);
	if (!parent)
		p->state = FREE; /* nobody will wait: init's status is kept in stats */
	else if (parent->state == WAITING) {
		parent->tf.rax = (uint64_t)(int64_t)reap(p);
		parent->state = RUNNABLE;
	}
	switch_to(f, pick_next());
}

/* The user range [va, va + len) must be mapped, present and user-accessible. */
static bool user_range_ok(uint64_t va, uint64_t len)
{
	if (va + len < va || va < USER_BASE || va + len > USER_END)
		return false;
	for (uint64_t page = va & ~(PAGE_SIZE - 1); page < va + len; page += PAGE_SIZE) {
		uint64_t *pte = pte_lookup(current->pml4, page, 1, false, 0);
		if (!pte || (*pte & (PTE_P | PTE_U)) != (PTE_P | PTE_U))
			return false;
	}
	return true;
}

static int64_t sys_fork(struct frame *f)
{
	struct proc *child = proc_alloc();
	if (!child)
		return -1;
	child->pml4 = pml4_fork(current->pml4);
	child->parent = current->pid;
	child->tf = *f;
	child->tf.rax = 0; /* fork returns 0 in the child */
	child->state = RUNNABLE;
	f->rax = (uint64_t)child->pid; /* ... and the child's pid in the parent */
	/* The parent's writable pages just became read-only: drop its stale TLB entries. */
	write_cr3((uint64_t)current->pml4);
	switch_to(f, child); /* child first */
	return (int64_t)f->rax;
}

void syscall_dispatch(struct frame *f)
{
	int64_t ret;
	bool any;
	struct proc *z;

	switch (f->rax) {
	case SYS_WRITE:
		if (!user_range_ok(f->rdi, f->rsi)) {
			ret = -1;
			break;
		}
		console_write((const char *)f->rdi, f->rsi);
		for (uint64_t i = 0; i < f->rsi; i++)
			stats.checksum = mix64(stats.checksum, ((const uint8_t *)f->rdi)[i]);
		ret = (int64_t)f->rsi;
		break;
	case SYS_GETPID:
		ret = current->pid;
		break;
	case SYS_FORK:
		sys_fork(f);
		return; /* f now holds whichever process runs next */
	case SYS_EXIT:
		proc_exit(f, (int)f->rdi);
		return;
	case SYS_WAIT:
		z = zombie_child(current, &any);
		if (z) {
			ret = reap(z);
			break;
		}
		if (!any) {
			ret = -1;
			break;
		}
		current->state = WAITING; /* proc_exit of the child fills in rax */
		switch_to(f, pick_next());
		return;
	default:
		ret = -1;
		break;
	}
	f->rax = (uint64_t)ret;
}

/*
 * A write to a present, read-only user page. If its entry carries the COW
 * bit the page is shared since fork: give the writer its own copy, or, if
 * the other side has already gone and this is the last reference, simply
 * make the page writable again. Either way the faulting write is retried.
 */
bool cow_fault(struct frame *f, uint64_t va, uint64_t error)
{
	(void)f;
	if ((error & (PF_P | PF_W | PF_U)) != (PF_P | PF_W | PF_U) || !current)
		return false;
	uint64_t *pte = pte_lookup(current->pml4, va, 1, false, 0);
	if (!pte || !(*pte & PTE_COW))
		return false;

	uint64_t old = *pte & PTE_ADDR;
	uint64_t flags = (*pte & ~PTE_ADDR & ~PTE_COW) | PTE_W;
	if (frame_refs(old) == 1) {
		*pte = old | flags;
		stats.reuses++;
	} else {
		uint64_t copy = frame_alloc();
		memcpy((void *)copy, (const void *)old, PAGE_SIZE);
		*pte = copy | flags;
		frame_put(old);
		stats.copies++;
	}
	/* The TLB may hold the read-only translation: drop it before retrying. */
	invlpg(va);
	stats.faults++;
	return true;
}

/* Any other fault in ring 3 kills the process, as a Unix kernel would. */
bool user_fault(struct frame *f, uint64_t va, uint64_t error)
{
	if (!current)
		return false;
	kprintf("cow: pid %d killed: %s at %p, error 0x%lx, rip %p\n", current->pid,
		f->vector == VEC_PF ? "page fault" : "exception", (void *)va, error, (void *)f->rip);
	proc_exit(f, -1);
	return true;
}

/*
 * Start the first process and return when every process has exited, with
 * the copy-on-write counts and the first process's exit status.
 */
int proc_run_init(struct cow_stats *out)
{
	memset(&stats, 0, sizeof(stats));
	stats.init_status = -1;
	memset(procs, 0, sizeof(procs));
	next_pid = 0;

	struct proc *p = proc_alloc();
	p->pml4 = pml4_new();
	image_load(p);
	p->state = RUNNABLE;
	current = p;

	/* Where a trap from ring 3 would have built its frame: the top of trap_stack. */
	struct frame *f = (struct frame *)((uint64_t)trap_stack_top - sizeof(struct frame));
	*f = p->tf;
	write_cr3((uint64_t)p->pml4);
	if (kjmp_save(&kernel_ctx) == 0)
		user_enter(f);

	*out = stats;
	current = NULL;
	return 0;
}
