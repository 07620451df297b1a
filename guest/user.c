/*
 * user.c: the program the cow workload runs in ring 3, in its own address
 * space. It knows the kernel only through the syscall instruction.
 *
 * It forks, and parent and child both write the same variable. Before the
 * writes the two processes share every page, read-only; the kernel gives
 * each writer its own copy on the first write (copy-on-write), so each
 * process keeps seeing its own value. A second child then tries to read
 * kernel memory and is killed for it.
 */
#include <stddef.h>
#include <stdint.h>

enum { SYS_WRITE, SYS_GETPID, SYS_FORK, SYS_EXIT, SYS_WAIT };

static long syscall2(long n, long a, long b)
{
	long ret;
	/* SDM Vol. 2B, SYSCALL: the CPU overwrites rcx (return rip) and r11 (rflags). */
	__asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b) : "rcx", "r11", "memory");
	return ret;
}

static long sys_write(const char *s, size_t n) { return syscall2(SYS_WRITE, (long)s, (long)n); }
static long sys_getpid(void) { return syscall2(SYS_GETPID, 0, 0); }
static long sys_fork(void) { return syscall2(SYS_FORK, 0, 0); }
static long sys_wait(void) { return syscall2(SYS_WAIT, 0, 0); }

static void __attribute__((noreturn)) sys_exit(long status)
{
	syscall2(SYS_EXIT, status, 0);
	for (;;)
		;
}

/* One line is built in a buffer and written with one system call. */
static char line[128];
static size_t len;

static void add(const char *s)
{
	while (*s && len < sizeof(line))
		line[len++] = *s++;
}

static void add_num(long v)
{
	char buf[24];
	int i = sizeof(buf);
	unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;
	do {
		buf[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		buf[--i] = '-';
	while (i < (int)sizeof(buf) && len < sizeof(line))
		line[len++] = buf[i++];
}

static void flush(void)
{
	add("\n");
	sys_write(line, len);
	len = 0;
}

/* The variable both processes write. It sits in a data page of its own. */
static volatile long value __attribute__((aligned(4096))) = 100;

static int user_main(void)
{
	long me = sys_getpid();
	add("cow: pid ");
	add_num(me);
	add(" in ring 3, value = ");
	add_num(value);
	flush();

	long child = sys_fork();
	if (child == 0) {
		me = sys_getpid();
		add("cow: child pid ");
		add_num(me);
		add(" reads ");
		add_num(value);
		value = 200;
		add(", writes 200, reads ");
		add_num(value);
		flush();
		sys_exit(7);
	}

	add("cow: parent pid ");
	add_num(me);
	add(" resumes, fork returned ");
	add_num(child);
	flush();
	long status = sys_wait();
	long seen = value;
	add("cow: parent: child exited with status ");
	add_num(status);
	add(", parent reads ");
	add_num(seen);
	flush();
	value = 300;
	add("cow: parent writes 300, reads ");
	add_num(value);
	flush();

	/*
	 * A second child reads the kernel's own memory. The kernel is mapped in
	 * every address space but with U=0, so the read faults and the kernel
	 * kills the child: the same page tables that share memory also guard it.
	 */
	if (sys_fork() == 0) {
		add("cow: child pid ");
		add_num(sys_getpid());
		add(" reads kernel memory at 0x100000");
		flush();
		long stolen = *(volatile long *)0x100000;
		add("cow: ... and got ");
		add_num(stolen);
		flush();
		sys_exit(0);
	}
	long killed = sys_wait();
	add("cow: parent: second child exited with status ");
	add_num(killed);
	flush();
	return (status == 7 && seen == 100 && value == 300 && killed == -1) ? 0 : 1;
}

void __attribute__((section(".text.start"), noreturn)) _ustart(void)
{
	sys_exit(user_main());
}
