/* SPDX-License-Identifier: MIT */
/*
 * hv/main.c - `hv <command> [options]`: find the command and hand it its
 * arguments. Each command parses its own options and prints its own help
 * (`hv <command> --help`, which `hv help <command>` forwards to).
 *
 * Exit status: 0 success, 1 the command failed (a bad trace file, a guest
 * that crashed, standard output could not be written), 2 the command line
 * was wrong. `hv run` has its own statuses and checks its own output.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hv/cli.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "run",   cmd_run,   "boot a guest kernel (software vCPU, or KVM with --backend kvm)" },
	{ "trace", cmd_trace, "replay memory accesses through the two-stage MMU model" },
	{ "walk",  cmd_walk,  "explain one GVA->GPA->HPA translation reference by reference" },
	{ "bench", cmd_bench, "measure the model, the vCPU and KVM (beside a plain walk, QEMU)" },
	{ "domxml", cmd_domxml, "print the libvirt domain XML for an hv run command line" },
	{ "sweep", cmd_sweep, "run trace or run over a grid of configurations, side by side" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hv <command> [options]\n"
		"\n"
		"hv is a small hypervisor that makes two-stage address translation visible:\n"
		"guest page tables (GVA->GPA) over Intel-format EPT (GPA->HPA), with TLBs,\n"
		"paging-structure caches and every page-walk reference counted.\n"
		"\n"
		"commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
		"\n"
		"  hv help <command>   options of one command, with examples\n"
		"  hv <command> -o FILE ...   the report to FILE (--output FILE)\n"
		"  hv --version        print the version\n"
		"\n"
		"examples:\n"
		"  hv trace --pattern random --tlb none --pwc none   24 references per walk\n"
		"  hv walk --tlb none --pwc none 0x7f1240001234      the 24 references, one by one\n"
		"  hv bench --quick                                  translations per second\n");
}

FILE *cli_console;

/*
 * -o FILE, --output FILE, --output=FILE (before a "--"): every command's
 * report goes to FILE instead of stdout. Taken out of argv here so that each
 * command needs no option of its own; stdout is reopened on FILE and the
 * terminal's stdout stays reachable as cli_console (where hv run writes the
 * guest's serial output). Returns 0, or 2 after a message.
 */
static int take_output(int *argc, char **argv)
{
	const char *path = NULL;
	int out = 1, fd;

	for (int i = 1; i < *argc; i++) {
		const char *v = NULL;
		int words = 1;

		if (strcmp(argv[i], "--") == 0) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) {
			if (i + 1 >= *argc) {
				fprintf(stderr, "hv: %s: expected a file name\n", argv[i]);
				return 2;
			}
			v = argv[i + 1];
			words = 2;
		} else if (strncmp(argv[i], "--output=", 9) == 0) {
			v = argv[i] + 9;
		}
		if (v == NULL) {
			argv[out++] = argv[i];
			continue;
		}
		if (path) {
			fprintf(stderr, "hv: -o/--output given twice ('%s', '%s')\n", path, v);
			return 2;
		}
		path = v;
		i += words - 1;
	}
	argv[out] = NULL;
	*argc = out;
	cli_console = stdout;
	if (path == NULL)
		return 0;
	fflush(stdout);
	fd = dup(STDOUT_FILENO);
	cli_console = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (cli_console == NULL || freopen(path, "w", stdout) == NULL) {
		fprintf(stderr, "hv: -o %s: %s\n", path, strerror(errno));
		return 2;
	}
	return 0;
}

/*
 * Output that cannot be written (a full disk, a closed pipe's reader) is a
 * failure: exit 1 with a message, never 0 with the report silently lost.
 * cmd is the command that wrote it (hv run checks its own, with its status).
 */
static int check_stdout(const char *cmd, int status)
{
	int err = fflush(stdout) != 0 ? errno : 0;

	if (err == 0 && !ferror(stdout))
		return status;
	if (cmd != NULL && strcmp(cmd, "run") == 0)
		return status;
	/* A failure in an earlier write leaves only the error flag behind. */
	fprintf(stderr, "hv: cannot write the output%s%s\n",
		err ? ": " : " (a write to standard output failed)", err ? strerror(err) : "");
	return status == 0 ? 1 : status;
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static int dispatch(int argc, char **argv)
{
	const struct command *c;
	int status;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("hv %s\n", PACKAGE_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help") == 0) {
		char help[] = "--help";
		char *sub[3];

		if (argc < 3) {
			usage(stdout);
			return 0;
		}
		if (argc > 3) {
			fprintf(stderr, "hv help: expected one command name, got %d words\n", argc - 2);
			return 2;
		}
		c = find_command(argv[2]);
		if (c == NULL) {
			fprintf(stderr, "hv help: unknown command '%s' (commands: run, trace, walk, bench, domxml, sweep)\n",
				argv[2]);
			return 2;
		}
		sub[0] = argv[2];
		sub[1] = help;
		sub[2] = NULL;
		return c->fn(2, sub);
	}
	if (take_output(&argc, argv) != 0)
		return 2;
	c = find_command(argv[1]);
	if (c == NULL) {
		fprintf(stderr, "hv: unknown command '%s' (commands: run, trace, walk, bench, domxml, sweep; "
				"see hv --help)\n", argv[1]);
		return 2;
	}
	status = check_stdout(argv[1], c->fn(argc - 1, argv + 1));
	if (cli_console != stdout && (fflush(cli_console) != 0 || fclose(stdout) != 0)) {
		fprintf(stderr, "hv: cannot write the report: %s\n", strerror(errno));
		if (status == 0)
			status = 1;
	}
	return status;
}

/* Help and usage text that dispatch printed itself is checked here. */
int main(int argc, char **argv)
{
	int status = dispatch(argc, argv);

	/* A command's output was checked in dispatch (before -o closes it). */
	if (cli_console != NULL)
		return status;
	return check_stdout(argc >= 2 ? argv[1] : NULL, status);
}
