/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/cmd_fuzz.c - libFuzzer harness for whole commands run in this
 * process: `hv trace`, `hv run`, `hv sweep` (its --list and --collect
 * paths) and `hv bench` (its command line), with the work each does kept
 * small.
 *
 * Input: the first byte picks the command (trace, run, sweep --list, sweep
 * --collect, bench); then the command's words, one a line (at most 24 of at
 * most 200 bytes), up to a NUL; after the NUL, the contents of the file "f"
 * (a trace, a TLB configuration, domain XML, a kernel: whatever the words
 * make of it). For sweep --collect the contents are split at 0x01 bytes into
 * d/sweep.json, d/p0001.json, d/p0002.json and d/p0003.json, and
 * "--collect d" comes first.
 *
 * Each command runs in a private directory, emptied before each input, that
 * holds "f" and "k" (guest/guest.elf from where the harness was started,
 * or $HV_FUZZ_KERNEL). An input is skipped when a word holds '/' or is "..",
 * so that nothing outside that directory is named, and when it asks for
 * more work than a fuzzer can wait for:
 *   trace: more than 20000 accesses, a footprint over 64M, or more than
 *          2^20 --stride granules in it; no --accesses and no --file gets
 *          --accesses=1000;
 *   run:   --max-insns over 200000, --memory over 1G, --backend kvm;
 *          --max-insns=20000, --memory=64M and --backend=soft are added
 *          when not given (they override a --domain file), and with
 *          --domain, --serial=none and the kernel k unless given;
 *   sweep: "--list" comes first (the grid is written and listed, never run;
 *          running it would start this program again);
 *   bench: "--" and "@" come last, so that the words are parsed and then
 *          refused as an unknown benchmark (or --help prints).
 * Options are found with getopt_long over the commands' own tables, as the
 * commands find them. gnuplot is /bin/true (HV_GNUPLOT) and PATH names no
 * directory: --plot runs the script writer, not gnuplot.
 *
 * Invariants: the exit status is one the command documents (trace, sweep:
 * 0, 1, 2; bench: 0, 2; run: 0, 2, 4, 6, 8 or an odd isa-debug-exit value
 * up to 511); no crash, leak or undefined behaviour (ASan, UBSan); nothing
 * calls exit(). Run with -close_fd_mask=3.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hv/cli.h"
#include "hv/cliutil.h"
#include "tests/fuzz/words.h"

FILE *cli_console;

#define MAX_WORDS FUZZ_MAX_WORDS

enum { CMD_TRACE, CMD_RUN, CMD_SWEEP_LIST, CMD_SWEEP_COLLECT, CMD_BENCH, NCMDS };

static char sandbox[64];
static int home = -1; /* where the harness started: corpus and artifacts */
static char *kernel;
static size_t kernel_len;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level > 0)
		remove(path);
	return 0;
}

static void empty_dir(const char *dir)
{
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void remove_sandbox(void)
{
	empty_dir(sandbox);
	rmdir(sandbox);
}

static void write_file(const char *name, const void *data, size_t len)
{
	int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || (len && write(fd, data, len) != (ssize_t)len))
		abort();
	close(fd);
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n)) != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		*len = (size_t)n;
	fclose(f);
	return buf;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *k = getenv("HV_FUZZ_KERNEL");
	int null = open("/dev/null", O_RDONLY);

	(void)argc;
	(void)argv;
	kernel = read_all(k && k[0] ? k : "guest/guest.elf", &kernel_len);
	snprintf(sandbox, sizeof(sandbox), "/tmp/hv-cmd-fuzz.XXXXXX");
	home = open(".", O_RDONLY | O_DIRECTORY);
	if (home < 0 || mkdtemp(sandbox) == NULL)
		abort();
	atexit(remove_sandbox);
	/* --file - reads standard input: make it empty, never a terminal. */
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		close(null);
	}
	setenv("HV_GNUPLOT", "/bin/true", 1);
	setenv("PATH", "/nonexistent-hv-cmd-fuzz", 1);
	setenv("TMPDIR", sandbox, 1);
	return 0;
}

/* The long option that getopt_long found, by name; NULL for others. */
struct found {
	const char *name, *value;
};

/* Every long option of words[1..argc) as the command's getopt_long finds
 * it, in f (at most MAX_WORDS); returns how many, and the index of the
 * first word that is not an option in *first_arg. */
static int scan(const struct option *opts, int argc, char **argv, struct found *f,
		int *first_arg)
{
	char *copy[MAX_WORDS + 8];
	int n = 0, opt, idx;

	memcpy(copy, argv, (size_t)(argc + 1) * sizeof(*copy));
	opterr = 0;
	optind = 0;
	for (;;) {
		idx = -1;
		opt = getopt_long(argc, copy, ":h", opts, &idx);
		if (opt == -1)
			break;
		if (idx >= 0 && n < MAX_WORDS)
			f[n++] = (struct found){ opts[idx].name, optarg };
	}
	*first_arg = optind;
	optind = 0;
	return n;
}

/* A value above limit that parses (a size when size, else a count). */
static bool above(const char *value, uint64_t limit, bool size)
{
	uint64_t v;

	return value && (size ? parse_size(value, &v) : parse_u64(value, &v)) == 0 && v > limit;
}

static const char *value_of(const struct found *f, int n, const char *name, bool *given)
{
	const char *v = NULL;

	*given = false;
	for (int i = 0; i < n; i++)
		if (strcmp(f[i].name, name) == 0) {
			*given = true;
			v = f[i].value;
		}
	return v;
}

/* Bound hv trace's work; false to skip the input. */
static bool bound_trace(int *argc, char **argv)
{
	struct found f[MAX_WORDS];
	int first, n = scan(trace_options, *argc, argv, f, &first);
	bool acc, file, fpg, stg;
	const char *accesses = value_of(f, n, "accesses", &acc);
	const char *fp = value_of(f, n, "footprint", &fpg);
	const char *stride = value_of(f, n, "stride", &stg);
	uint64_t footprint = 64ULL << 20, granule = 4096;

	(void)value_of(f, n, "file", &file);
	if (above(accesses, 20000, false) || above(fp, 64ULL << 20, true))
		return false;
	if (fp)
		parse_size(fp, &footprint);
	if (stride && (parse_size(stride, &granule) || granule == 0))
		granule = 4096;
	if (footprint / granule > (1u << 20))
		return false;
	if (!acc && !file)
		argv[(*argc)++] = (char *)"--accesses=1000";
	return true;
}

/* Bound hv run's work; false to skip the input. */
static bool bound_run(int *argc, char **argv)
{
	struct found f[MAX_WORDS];
	int first, given = *argc, n = scan(run_options, *argc, argv, f, &first);
	bool insns, mem, backend, domain, serial;
	const char *max = value_of(f, n, "max-insns", &insns);
	const char *memory = value_of(f, n, "memory", &mem);
	const char *be = value_of(f, n, "backend", &backend);

	(void)value_of(f, n, "domain", &domain);
	(void)value_of(f, n, "serial", &serial);
	if (above(max, 200000, false) || above(memory, 1ULL << 30, true) ||
	    (be && strcmp(be, "kvm") == 0))
		return false;
	if (!insns)
		argv[(*argc)++] = (char *)"--max-insns=20000";
	if (!mem)
		argv[(*argc)++] = (char *)"--memory=64M";
	if (!backend)
		argv[(*argc)++] = (char *)"--backend=soft";
	if (domain && !serial)
		argv[(*argc)++] = (char *)"--serial=none";
	if (domain && first >= given)
		argv[(*argc)++] = (char *)"k";
	return true;
}

/* The --collect directory d from the contents, split at 0x01 bytes. */
static void write_collect(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "d/sweep.json", "d/p0001.json", "d/p0002.json",
					     "d/p0003.json" };
	size_t part = 0, start = 0;

	if (mkdir("d", 0755) != 0)
		abort();
	for (size_t i = 0; i <= size && part < 4; i++) {
		if (i == size || data[i] == 0x01) {
			write_file(names[part++], data + start, i - start);
			start = i + 1;
		}
	}
}

/* Could the word name something outside the directory ("a/b", "..",
 * "--dir=..")? Ranges such as 4M..1G are words of their own. */
static bool outside(const char *w)
{
	size_t n = strlen(w);

	return strchr(w, '/') || strcmp(w, "..") == 0 || (n >= 3 && strcmp(w + n - 3, "=..") == 0);
}

static bool status_ok(unsigned cmd, int status)
{
	switch (cmd) {
	case CMD_TRACE:
	case CMD_SWEEP_LIST:
	case CMD_SWEEP_COLLECT:
		return status >= 0 && status <= 2;
	case CMD_BENCH:
		return status == 0 || status == 2;
	case CMD_RUN:
		return status == 0 || status == 2 || status == 4 || status == 6 || status == 8 ||
		       (status > 0 && status <= 511 && (status & 1));
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "trace", "run", "sweep", "sweep", "bench" };
	/* Room for the words the harness adds before and after them. */
	char *argv[MAX_WORDS + 8], words[MAX_WORDS][FUZZ_MAX_WORD + 1];
	int argc = 1, status, nwords;
	unsigned cmd;
	size_t i = 1;

	cli_console = stdout;
	if (size < 1)
		return 0;
	cmd = data[0] % NCMDS;
	argv[0] = (char *)names[cmd];
	if (cmd == CMD_SWEEP_LIST)
		argv[argc++] = (char *)"--list";
	if (cmd == CMD_SWEEP_COLLECT) {
		argv[argc++] = (char *)"--collect";
		argv[argc++] = (char *)"d";
	}
	nwords = fuzz_words(data, size, &i, true, words, argv + argc);
	for (int w = 0; w < nwords; w++)
		if (outside(words[w]))
			return 0;
	argc += nwords;
	argv[argc] = NULL;

	if (chdir(sandbox) != 0)
		abort();
	empty_dir(".");
	write_file("f", data + i, size - i);
	if (kernel)
		write_file("k", kernel, kernel_len);
	if (cmd == CMD_SWEEP_COLLECT)
		write_collect(data + i, size - i);
	if ((cmd == CMD_TRACE && !bound_trace(&argc, argv)) ||
	    (cmd == CMD_RUN && !bound_run(&argc, argv))) {
		if (fchdir(home) != 0)
			abort();
		return 0;
	}
	if (cmd == CMD_BENCH) {
		argv[argc++] = (char *)"--";
		argv[argc++] = (char *)"@";
	}
	argv[argc] = NULL;

	switch (cmd) {
	case CMD_TRACE: status = cmd_trace(argc, argv); break;
	case CMD_RUN: status = cmd_run(argc, argv); break;
	case CMD_BENCH: status = cmd_bench(argc, argv); break;
	default: status = cmd_sweep(argc, argv); break;
	}
	fflush(stdout);
	clearerr(stdout);
	if (fchdir(home) != 0)
		abort();
	if (!status_ok(cmd, status)) {
		fprintf(stderr, "cmd_fuzz: hv %s returned %d\n", names[cmd], status);
		abort();
	}
	return 0;
}
