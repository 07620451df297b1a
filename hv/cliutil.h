/* SPDX-License-Identifier: MIT */
/*
 * hv/cliutil.h - helpers shared by the hv commands: option values, the JSON
 * writer, the translation report and the progress line.
 */
#ifndef HV_CLIUTIL_H
#define HV_CLIUTIL_H

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ept/mmu.h"

/*
 * getopt_long with hv's messages: returns the next option's val, -1 at the
 * end, or 0 after printing a one-line usage error (then *status = 2). -h is
 * the option named "help"; every other option is long. Callers set
 * optind = 0 before the first call, which checks every word first so that a
 * message names the word the user typed ("-append", not a letter of it).
 */
int cli_getopt(const char *cmd, int argc, char **argv, const struct option *opts,
	       int *status);
/* The check cli_getopt's first call makes, for callers that run getopt_long
 * themselves: 0, or 2 after printing the usage error. */
int cli_check_words(const char *cmd, int argc, char **argv, const struct option *opts);
/* The long name (without "--") of the option whose val is `val`. */
const char *cli_option_name(const struct option *opts, int val);
/* The option that "--name" (len bytes of name) means, exactly or as the
 * unique prefix getopt_long accepts; NULL when unknown or ambiguous. */
const struct option *cli_find_option(const struct option *opts, const char *name, size_t len);
/* "hv CMD: message" on stderr; returns 2, the exit status of a usage error. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * SIGINT and SIGTERM while hv trace replays: the first one is recorded in
 * cli_stop_signal, and the replay stops, still prints its report and exits
 * with 128 + the signal, as perf stat does; a second one ends hv at once.
 * No SA_RESTART: a read waiting on a pipe returns (EINTR) so that the
 * replay sees the signal. catch sets the handlers (and clears
 * cli_stop_signal), restore puts the old ones back. (hv run has its own,
 * which also kicks the vCPU.)
 */
extern volatile sig_atomic_t cli_stop_signal;
void cli_catch_stop_signals(struct sigaction old[2]);
void cli_restore_stop_signals(const struct sigaction old[2]);

/* "4096", "0x1000", "4K", "512M", "64G", "1T" -> bytes. -EINVAL / -ERANGE. */
int parse_size(const char *s, uint64_t *out);
/* Bytes as a short human string: "4 KiB", "64 MiB", "1.5 GiB" (exact when it can be). */
const char *format_size(uint64_t bytes, char *buf, size_t len);
/* "4K" / "2M" / "1G" -> 12 / 21 / 30. */
int parse_page_shift(const char *s, unsigned *shift);
/* Unsigned decimal or 0x-hex, whole string. */
int parse_u64(const char *s, uint64_t *out);

/*
 * Build an MMU configuration from --tlb and --pwc values: each is a preset
 * name or a path to a configuration file; tlb selects the TLB structures and
 * pwc the paging-structure caches and nested TLB. NULL = the default
 * ("skylake" for both). On error writes a message naming what to fix.
 */
int cli_mmu_config(const char *tlb, const char *pwc, struct mmu_config *out, char *err,
		   size_t errlen);

/* A small streaming JSON writer (keys in insertion order, no trailing commas). */
struct json {
	FILE *f;
	int depth;
	bool need_comma[32];
	bool in_array[32];   /* container at this depth is an array: scalars stay on one line */
};
void json_begin(struct json *j, FILE *f);             /* opens the top-level object */
void json_end(struct json *j);                        /* closes it, newline */
void json_obj_begin(struct json *j, const char *key); /* key NULL inside arrays */
void json_obj_end(struct json *j);
void json_arr_begin(struct json *j, const char *key);
void json_arr_end(struct json *j);
void json_u64(struct json *j, const char *key, uint64_t v);
void json_i64(struct json *j, const char *key, int64_t v);
void json_f64(struct json *j, const char *key, double v);
void json_str(struct json *j, const char *key, const char *v);
/* A number written exactly as text holds it (a JSON number, as read back). */
void json_number_text(struct json *j, const char *key, const char *text);
void json_bool(struct json *j, const char *key, bool v);

/* Shape of the translation being reported (for the grid labels and the ideal count). */
struct report_shape {
	unsigned guest_levels;   /* 4 or 5; 0 = no guest paging */
	unsigned ept_levels;     /* 4 or 5; 0 = no EPT */
	unsigned guest_page_shift, ept_page_shift;
};
/* The translation part of a report: TLB/PWC hits and misses, walks, refs per
 * walk with histogram, the reference grid. Human-readable, fits 80 columns. */
void report_mmu_text(FILE *f, const struct mmu_stats *st, const struct mmu_config *cfg,
		     const struct report_shape *shape);
/* The same as JSON members of the current object (keys documented in docs/json.md):
 * translations, walks, walk_refs, refs_per_walk, refs_hist, grid, structures{...}. */
void report_mmu_json(struct json *j, const struct mmu_stats *st, const struct mmu_config *cfg,
		     const struct report_shape *shape);

/* Progress line on stderr, only when stderr is a terminal and the run has lasted
 * more than a second; progress_done() erases it. */
struct progress {
	bool enabled;
	double start, last;
	const char *what;
};
void progress_init(struct progress *p, const char *what);
void progress_update(struct progress *p, uint64_t done, uint64_t total);
/* For a caller drawing its own line: true when it is time to draw (p->last
 * is then now). */
bool progress_due(struct progress *p);
void progress_done(struct progress *p);
double now_seconds(void);

#endif /* HV_CLIUTIL_H */
