/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/cli_fuzz.c - libFuzzer harness for the command lines of the
 * subcommands that do bounded work whatever they are given: `hv walk` (one
 * translation, explained) and `hv domxml` (hv run's option parser, the
 * domain file included, then the XML). The first byte picks the command;
 * the rest is its words, separated by newlines or NULs (at most 24 words of
 * at most 200 bytes). tests/fuzz/cmd_fuzz.c runs the other commands, whose
 * work it has to bound.
 *
 * Invariants: the exit status is 0, 1 or 2 (domxml: 0, 2 or 8); no crash,
 * leak or undefined behaviour (ASan, UBSan). Run with -close_fd_mask=3: the
 * commands print to stdout and stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/cli.h"
#include "tests/fuzz/words.h"

FILE *cli_console;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "walk", "domxml" };
	char *argv[FUZZ_MAX_WORDS + 2], words[FUZZ_MAX_WORDS][FUZZ_MAX_WORD + 1];
	int argc, status;
	unsigned cmd;
	size_t i = 1;

	cli_console = stdout;
	if (size < 1)
		return 0;
	cmd = data[0] % 2;
	argv[0] = (char *)names[cmd];
	argc = 1 + fuzz_words(data, size, &i, false, words, argv + 1);
	argv[argc] = NULL;
	status = cmd == 0 ? cmd_walk(argc, argv) : cmd_domxml(argc, argv);
	fflush(stdout);
	clearerr(stdout);
	if (cmd == 0 ? (status < 0 || status > 2) : (status != 0 && status != 2 && status != 8))
		abort();
	return 0;
}
