/* SPDX-License-Identifier: MIT */
/*
 * hv/cli.h - the command-line front end: `hv <command> [options]`.
 *
 * Only the front end prints and exits. Each command is a function that takes
 * its own argv (argv[0] = the command name) and returns the process exit
 * status. hv/main.c dispatches; hv/cliutil.c has the shared option helpers
 * (sizes, page sizes, TLB presets), the JSON writer and the report printer.
 */
#ifndef HV_CLI_H
#define HV_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ept/mmu.h"

/* The terminal's stdout: stdout itself, unless -o FILE sent the report
 * (stdout) to FILE (hv/main.c). */
extern FILE *cli_console;

int cmd_trace(int argc, char **argv);  /* hv/trace.c: replay accesses through the engine */
int cmd_walk(int argc, char **argv);   /* hv/walk.c: explain one translation */
int cmd_walk_iova(int argc, char **argv);  /* hv/walk_iova.c: hv walk --iova */
int cmd_bench(int argc, char **argv);  /* hv/bench.c: translation and vCPU speed */
int cmd_run(int argc, char **argv);    /* hv/run.c: boot a guest */
int cmd_domxml(int argc, char **argv); /* hv/run.c: the libvirt domain XML of a run */
int cmd_sweep(int argc, char **argv);  /* hv/sweep.c: a grid of trace or run configurations */

/* The option tables of hv trace and hv run, for hv sweep to read a grid. */
struct option;
extern const struct option *const trace_options;
extern const struct option *const run_options;

#endif /* HV_CLI_H */
