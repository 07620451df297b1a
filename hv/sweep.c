/* SPDX-License-Identifier: MIT */
/*
 * hv/sweep.c - `hv sweep`: run hv trace or hv run over a grid of
 * configurations and put the results side by side.
 *
 * An option of the swept command whose value is a list ("--footprint
 * 16M,64M", "--tlb skylake,none", "--footprint 4M..1G") is an axis; the grid
 * is every combination of the axes' values. Each point is an ordinary hv
 * command writing its --json report to a file of its own, so the points are
 * exactly what `hv sweep --list` prints for GNU parallel or a Slurm array,
 * and `hv sweep --collect DIR` reads the same files back. DIR/sweep.json
 * (the manifest) says which file is which point.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hv/cli.h"
#include "hv/cliutil.h"
#include "hv/csv.h"
#include "hv/jsonread.h"
#include "hv/plot.h"

/* Large enough for any grid a person means, small enough that a typo such
 * as "1..1T" is an error, not a week of runs. */
#define SWEEP_MAX_POINTS 100000
#define SWEEP_MAX_RANGE  64

struct axis {
	const char *name;   /* the option's long name */
	char **values;
	size_t n;
};

/* One word of a point's command line: fixed text, or the value of an axis. */
struct word {
	const char *text;
	int axis;           /* -1: text */
};

struct point {
	char **values;      /* one per axis (the manifest's strings in --collect) */
	char *file;         /* the report, relative to the sweep's directory */
	char **argv;        /* the command without the program name, NULL-terminated */
	int status;         /* exit status, -1 when not run here */
	struct jv *report;
	char *why;          /* why there is no report */
};

struct sweep {
	const char *cmd;    /* "trace" or "run" */
	char **owned;       /* strings the words point to, freed at the end */
	size_t nowned;
	struct axis *axes;
	size_t naxes;
	struct point *pts;
	size_t npoints;
	const char *dir;
};

enum out_format { OUT_TABLE, OUT_CSV, OUT_JSON };

enum {
	OPT_JOBS = 256, OPT_DIR, OPT_LIST, OPT_COLLECT, OPT_CSV, OPT_JSON, OPT_PLOT, OPT_HELP,
};

static const struct option sweep_options[] = {
	{ "jobs",    required_argument, NULL, OPT_JOBS },
	{ "dir",     required_argument, NULL, OPT_DIR },
	{ "list",    no_argument,       NULL, OPT_LIST },
	{ "collect", required_argument, NULL, OPT_COLLECT },
	{ "csv",     no_argument,       NULL, OPT_CSV },
	{ "json",    no_argument,       NULL, OPT_JSON },
	{ "plot",    required_argument, NULL, OPT_PLOT },
	{ "help",    no_argument,       NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

/* Keep s until the sweep ends; NULL when out of memory (s is freed). */
static char *own(struct sweep *sw, char *s)
{
	char **n;

	if (s == NULL)
		return NULL;
	n = realloc(sw->owned, (sw->nowned + 1) * sizeof(*n));
	if (n == NULL) {
		free(s);
		return NULL;
	}
	sw->owned = n;
	sw->owned[sw->nowned++] = s;
	return s;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hv sweep [options] trace|run [their options, with lists] [KERNEL]\n"
		"       hv sweep --collect DIR [--csv | --json]\n"
		"\n"
		"Run hv trace or hv run once for every combination of the listed values\n"
		"and print the results side by side: walks, references per walk, TLB hit\n"
		"rate, exits, time. An option value with commas is a list (write \\, for a\n"
		"comma inside a value); A..B is every power-of-two multiple of A up to B\n"
		"(--footprint 4M..1G is 4M,8M,...,1G).\n"
		"\n"
		"options (before trace or run):\n"
		"  --jobs N             run N points at a time (default 1)\n"
		"  --dir DIR            keep each point's JSON report in DIR, with the\n"
		"                       manifest DIR/sweep.json (default: a temporary\n"
		"                       directory, removed at the end)\n"
		"  --list               print one self-contained command a line instead of\n"
		"                       running them (for GNU parallel or a Slurm array);\n"
		"                       writes DIR/sweep.json (DIR default hv-sweep)\n"
		"  --collect DIR        read the reports those commands wrote into DIR\n"
		"  --csv                the results as CSV (one row a point)\n"
		"  --json               the results as one JSON object, with every report\n"
		"  --plot FILE|DIR      draw references per walk against the first axis of\n"
		"                       sizes or numbers (else the first axis), a line for\n"
		"                       each combination of the others, with gnuplot into\n"
		"                       FILE (.svg or .png); into DIR: refs-per-walk and\n"
		"                       each point's walks and grid, as .svg and .png\n"
		"  -o, --output FILE    the results to FILE\n"
		"  -h, --help           this text\n"
		"\n"
		"Exit status: 0 every point gave its report, 1 some did not (the table\n"
		"says which), 2 bad options (also when a point's command line is wrong),\n"
		"130 / 143 stopped by SIGINT / SIGTERM (the points done are reported).\n"
		"\n"
		"examples:\n"
		"  hv sweep trace --footprint 16M..1G --tlb skylake,none --jobs 2\n"
		"  hv sweep --csv trace --guest-page 4K,2M --ept-page 4K,2M --pattern random,chase\n"
		"  hv sweep run --append 'workload=seq,workload=random' guest/guest.elf\n"
		"  hv sweep --list --dir out trace --footprint 64M,1G | parallel\n"
		"  hv sweep --collect out --csv\n"
		"  hv sweep --plot refs.svg trace --footprint 16M..1G --guest-page 4K,2M --ept-page 4K,2M\n"
		"  hv sweep --plot plots trace --footprint 16M..1G --guest-page 4K,2M\n");
}

/* ------------------------------------------------------------------------ */
/* The grid                                                                 */
/* ------------------------------------------------------------------------ */

/* 16M, 1G, 4K or plain bytes: the shortest exact spelling. */
static char *size_word(uint64_t v)
{
	static const char suffix[] = "KMGT";
	char buf[32];
	int u = -1;

	while (u + 1 < 4 && v != 0 && v % (1ULL << (10 * (u + 2))) == 0)
		u++;
	if (u < 0)
		snprintf(buf, sizeof(buf), "%" PRIu64, v);
	else
		snprintf(buf, sizeof(buf), "%" PRIu64 "%c", v >> (10 * (u + 1)), suffix[u]);
	return strdup(buf);
}

static int add_value(struct axis *a, char *v)
{
	char **nv;

	if (v == NULL)
		return -ENOMEM;
	nv = realloc(a->values, (a->n + 1) * sizeof(*nv));
	if (nv == NULL) {
		free(v);
		return -ENOMEM;
	}
	a->values = nv;
	a->values[a->n++] = v;
	return 0;
}

/* One comma-separated piece: "A..B" of two sizes is a doubling range,
 * anything else is the value itself. */
static int add_piece(struct axis *a, const char *piece, const char *opt)
{
	const char *dots = strstr(piece, "..");
	uint64_t lo, hi;

	if (piece[0] == '\0')
		return cli_usage_error("sweep", "--%s: an empty value in the list", opt);
	if (dots != NULL) {
		char *left = strndup(piece, (size_t)(dots - piece));
		int bad = left == NULL || parse_size(left, &lo) || parse_size(dots + 2, &hi);

		free(left);
		if (!bad) {
			unsigned n = 0;

			if (lo == 0 || hi < lo)
				return cli_usage_error("sweep", "--%s: '%s': a range A..B needs 0 < A <= B",
						       opt, piece);
			for (uint64_t v = lo; v <= hi && v >= lo; v *= 2) {
				if (++n > SWEEP_MAX_RANGE)
					return cli_usage_error("sweep", "--%s: '%s' has more than %d values",
							       opt, piece, SWEEP_MAX_RANGE);
				if (add_value(a, size_word(v)))
					return -ENOMEM;
				if (v > UINT64_MAX / 2)
					break;
			}
			return 0;
		}
	}
	return add_value(a, strdup(piece)) ? -ENOMEM : 0;
}

/* Split an option's value at its unescaped commas into a's values. */
static int split_value(struct axis *a, const char *value, const char *opt)
{
	size_t len = strlen(value);
	char *buf = malloc(len + 1), *o = buf;
	int rc = 0;

	if (buf == NULL)
		return -ENOMEM;
	for (const char *p = value;; p++) {
		if (*p == '\\' && p[1] == ',') {
			*o++ = *++p;
			continue;
		}
		if (*p == ',' || *p == '\0') {
			*o = '\0';
			rc = add_piece(a, buf, opt);
			o = buf;
			if (rc || *p == '\0')
				break;
			continue;
		}
		*o++ = *p;
	}
	free(buf);
	return rc;
}

static void axes_free(struct axis *axes, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < axes[i].n; k++)
			free(axes[i].values[k]);
		free(axes[i].values);
	}
	free(axes);
}

/*
 * Read the swept command's words into the word list and the axes. Returns
 * 0, 2 after a usage message, or -ENOMEM.
 */
static int read_grid(struct sweep *sw, int argc, char **argv, const struct option *opts,
		     struct word **out, size_t *nout)
{
	struct word *w = calloc((size_t)argc * 2 + 1, sizeof(*w));
	struct seen_opt {
		const struct option *opt;
		bool list;
	} *seen = calloc((size_t)argc, sizeof(*seen));
	size_t n = 0, nseen = 0;
	int rc;

	if (w == NULL || seen == NULL) {
		free(w);
		free(seen);
		return -ENOMEM;
	}
	/* hv sweep's own options belong before the command's name. */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		const char *name = argv[i] + 2;
		size_t len = strcspn(name, "=");

		if (strncmp(argv[i], "--", 2) != 0 || cli_find_option(opts, name, len))
			continue;
		if (cli_find_option(sweep_options, name, len)) {
			rc = cli_usage_error("sweep", "%.*s is an option of hv sweep: put it before "
					     "'%s'", (int)len + 2, argv[i], sw->cmd);
			goto fail;
		}
	}
	rc = cli_check_words(sw->cmd, argc, argv, opts);
	if (rc)
		goto fail;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *name, *eq, *value;
		const struct option *o;
		struct axis ax = { 0 }, *nax;
		size_t len;

		if (strcmp(a, "--") == 0) {
			while (i < argc)
				w[n++] = (struct word){ argv[i++], -1 };
			break;
		}
		if (strcmp(a, "-h") == 0) {
			rc = cli_usage_error("sweep", "-h: see hv %s --help for its options", sw->cmd);
			goto fail;
		}
		if (strncmp(a, "--", 2) != 0) {
			w[n++] = (struct word){ a, -1 };
			continue;
		}
		name = a + 2;
		eq = strchr(name, '=');
		len = eq ? (size_t)(eq - name) : strlen(name);
		o = cli_find_option(opts, name, len);
		/* cli_check_words has refused unknown and ambiguous names. */
		if (strcmp(o->name, "help") == 0) {
			rc = cli_usage_error("sweep", "--help: see hv %s --help for its options", sw->cmd);
			goto fail;
		}
		if (strcmp(o->name, "json") == 0)
			continue; /* every point writes JSON anyway */
		if (o->has_arg != required_argument) {
			w[n++] = (struct word){ a, -1 };
			continue;
		}
		value = eq ? eq + 1 : argv[++i];
		ax.name = o->name;
		rc = split_value(&ax, value, o->name);
		/* The option's full name: a prefix the user typed may be
		 * ambiguous once other options are added. */
		w[n].text = rc ? NULL : own(sw, xasprintf("--%s", o->name));
		w[n++].axis = -1;
		if (rc == 0 && w[n - 1].text == NULL)
			rc = -ENOMEM;
		/* The same option again, once as a list: every point would pass
		 * both, the command takes the last, and the table would name
		 * values that were not run. */
		for (size_t j = 0; rc == 0 && j < nseen; j++)
			if (seen[j].opt == o && (seen[j].list || ax.n > 1))
				rc = cli_usage_error("sweep", "--%s is given twice and once as a "
						     "list: give it once (its values as one list)",
						     o->name);
		if (rc == 0)
			seen[nseen++] = (struct seen_opt){ o, ax.n > 1 };
		if (rc == 0 && ax.n == 1) {
			/* One value: a fixed word of every point, not an axis. */
			w[n++] = (struct word){ ax.values[0], -1 };
			rc = own(sw, ax.values[0]) ? 0 : -ENOMEM;
			ax.n = 0;
		}
		if (rc == 0 && ax.n > 1) {
			nax = realloc(sw->axes, (sw->naxes + 1) * sizeof(*nax));
			if (nax == NULL) {
				rc = -ENOMEM;
			} else {
				sw->axes = nax;
				sw->axes[sw->naxes] = ax;
				w[n++] = (struct word){ NULL, (int)sw->naxes++ };
				ax.n = 0;
				ax.values = NULL;
			}
		}
		for (size_t k = 0; k < ax.n; k++)
			free(ax.values[k]);
		free(ax.values);
		if (rc)
			goto fail;
	}
	free(seen);
	*out = w;
	*nout = n;
	return 0;
fail:
	free(seen);
	free(w);
	return rc;
}

/* Point k's values (the last axis changes fastest) and command line. */
static int make_point(struct sweep *sw, size_t k, const struct word *w, size_t nw,
		      unsigned digits)
{
	struct point *p = &sw->pts[k];
	size_t rem = k, na = 0;

	p->status = -1;
	p->values = calloc(sw->naxes + 1, sizeof(*p->values));
	p->argv = calloc(nw + 8, sizeof(*p->argv));
	p->file = xasprintf("p%0*zu.json", (int)digits, k + 1);
	if (p->values == NULL || p->argv == NULL || p->file == NULL)
		return -ENOMEM;
	for (size_t i = sw->naxes; i-- > 0;) {
		p->values[i] = sw->axes[i].values[rem % sw->axes[i].n];
		rem /= sw->axes[i].n;
	}
	p->argv[na++] = (char *)sw->cmd;
	/* The guest's serial output would only fill the points' error files. */
	if (strcmp(sw->cmd, "run") == 0) {
		p->argv[na++] = "--serial";
		p->argv[na++] = "none";
	}
	/* The report's options go last, or before a "--": after one they would
	 * be arguments (a KERNEL named "-x" needs it). The report is the word
	 * p->file itself: run_all and --list put DIR/ in front of it. */
	for (size_t i = 0; i <= nw; i++) {
		if (i == nw || (w[i].axis < 0 && strcmp(w[i].text, "--") == 0)) {
			p->argv[na++] = "--json";
			p->argv[na++] = "-o";
			p->argv[na++] = p->file;
			while (i < nw)
				p->argv[na++] = (char *)w[i++].text; /* "--" and what follows: no axes */
			break;
		}
		if (w[i].axis >= 0)
			p->argv[na++] = p->values[w[i].axis];
		else
			p->argv[na++] = (char *)w[i].text;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The manifest (DIR/sweep.json)                                            */
/* ------------------------------------------------------------------------ */

static char *dir_file(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

/* DIR/pN.err beside DIR/pN.json: what point pN said on stderr. */
static char *err_path(const struct sweep *sw, const char *report)
{
	return xasprintf("%s/%.*s.err", sw->dir, (int)(strlen(report) - 5), report);
}

static int write_manifest(const struct sweep *sw)
{
	char *path = dir_file(sw->dir, "sweep.json");
	struct json j;
	FILE *f;
	int rc = 0;

	if (path == NULL)
		return -ENOMEM;
	f = fopen(path, "w");
	if (f == NULL) {
		fprintf(stderr, "hv sweep: %s: %s\n", path, strerror(errno));
		free(path);
		return -errno;
	}
	json_begin(&j, f);
	json_str(&j, "sweep", sw->cmd);
	json_arr_begin(&j, "axes");
	for (size_t i = 0; i < sw->naxes; i++) {
		json_obj_begin(&j, NULL);
		json_str(&j, "option", sw->axes[i].name);
		json_arr_begin(&j, "values");
		for (size_t k = 0; k < sw->axes[i].n; k++)
			json_str(&j, NULL, sw->axes[i].values[k]);
		json_arr_end(&j);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_arr_begin(&j, "points");
	for (size_t k = 0; k < sw->npoints; k++) {
		const struct point *p = &sw->pts[k];

		json_obj_begin(&j, NULL);
		json_str(&j, "report", p->file);
		json_arr_begin(&j, "values");
		for (size_t i = 0; i < sw->naxes; i++)
			json_str(&j, NULL, p->values[i]);
		json_arr_end(&j);
		json_arr_begin(&j, "argv");
		for (char **a = p->argv; *a; a++)
			json_str(&j, NULL, *a);
		json_arr_end(&j);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_end(&j);
	if (ferror(f) | (fclose(f) != 0)) {
		fprintf(stderr, "hv sweep: cannot write %s\n", path);
		rc = -EIO;
	}
	free(path);
	return rc;
}

/* Strings of a JSON array, as a NULL-terminated vector (borrowed). */
static char **strings_of(const struct jv *arr, size_t want)
{
	char **v;

	if (arr == NULL || arr->type != JV_ARR || (want != SIZE_MAX && arr->n != want))
		return NULL;
	v = calloc(arr->n + 1, sizeof(*v));
	for (size_t i = 0; v != NULL && i < arr->n; i++) {
		if (arr->items[i].type != JV_STR) {
			free(v);
			return NULL;
		}
		v[i] = arr->items[i].text;
	}
	return v;
}

static int read_manifest(struct sweep *sw, struct jv **tree)
{
	char *path = dir_file(sw->dir, "sweep.json");
	char err[512];
	const struct jv *m, *axes, *pts;
	int rc;

	if (path == NULL)
		return -ENOMEM;
	rc = jv_parse_file(path, tree, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "hv sweep: --collect: %s%s\n", err,
			rc == -ENOENT ? " (the directory that hv sweep --list --dir DIR wrote)" : "");
		free(path);
		return rc;
	}
	m = *tree;
	axes = jv_get(m, "axes");
	pts = jv_get(m, "points");
	sw->cmd = jv_text(m, "sweep");
	if (sw->cmd == NULL || (strcmp(sw->cmd, "trace") && strcmp(sw->cmd, "run")) ||
	    axes == NULL || axes->type != JV_ARR || pts == NULL || pts->type != JV_ARR)
		goto bad;
	sw->naxes = axes->n;
	sw->axes = calloc(axes->n + 1, sizeof(*sw->axes));
	sw->npoints = pts->n;
	sw->pts = calloc(pts->n + 1, sizeof(*sw->pts));
	if (sw->axes == NULL || sw->pts == NULL)
		goto bad;
	for (size_t i = 0; i < axes->n; i++) {
		sw->axes[i].name = jv_text(&axes->items[i], "option");
		if (sw->axes[i].name == NULL)
			goto bad;
	}
	for (size_t k = 0; k < pts->n; k++) {
		struct point *p = &sw->pts[k];
		const char *file = jv_text(&pts->items[k], "report");

		p->status = -1;
		p->values = strings_of(jv_get(&pts->items[k], "values"), axes->n);
		p->argv = strings_of(jv_get(&pts->items[k], "argv"), SIZE_MAX);
		/* A report's name is a plain file name inside DIR. */
		if (p->values == NULL || p->argv == NULL || file == NULL || strchr(file, '/') ||
		    file[0] == '.' || (p->file = strdup(file)) == NULL)
			goto bad;
	}
	free(path);
	return 0;
bad:
	fprintf(stderr, "hv sweep: --collect: %s is not a manifest that hv sweep wrote\n", path);
	free(path);
	return -EINVAL;
}

/* ------------------------------------------------------------------------ */
/* Running the points                                                       */
/* ------------------------------------------------------------------------ */

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

/* In the child: the point's stderr to DIR/pN.err, stdout and stdin to
 * /dev/null (the report goes to -o DIR/pN.json), then the same hv, in the
 * same directory (the command's relative paths mean what they meant). */
static pid_t run_point(const struct sweep *sw, const struct point *p, char **argv)
{
	char *errname = err_path(sw, p->file);
	pid_t pid = errname ? fork() : -1;
	int fd;

	if (pid != 0) {
		free(errname);
		return pid;
	}
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	fd = open(errname, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		close(fd);
	}
	execv("/proc/self/exe", argv);
	fprintf(stderr, "hv sweep: cannot run hv again: %s\n", strerror(errno));
	_exit(127);
}

static void progress_points(const struct progress *pr, size_t done, size_t total,
			    unsigned running)
{
	double t = now_seconds() - pr->start;

	if (pr->enabled && t >= 1.0)
		fprintf(stderr, "\rhv sweep: %zu / %zu points done, %u running, %.0f s  ", done,
			total, running, t);
}

/* The first line of a point's error file (what the command said). */
static char *first_error(const struct sweep *sw, const struct point *p)
{
	char *path = err_path(sw, p->file);
	char line[512] = "";
	FILE *f = path ? fopen(path, "r") : NULL;

	if (f != NULL) {
		if (fgets(line, sizeof(line), f) == NULL)
			line[0] = '\0';
		fclose(f);
	}
	free(path);
	line[strcspn(line, "\n")] = '\0';
	return strdup(line);
}

/*
 * Run every point, `jobs` at a time. A point whose command line is wrong
 * (status 2) stops the sweep: every other point would say the same.
 * Returns 0, 2 (that usage error, already printed) or the stopping signal.
 */
static int run_all(struct sweep *sw, unsigned jobs)
{
	struct sigaction sa = { .sa_handler = on_stop }, old_int, old_term;
	pid_t *pids = calloc(sw->npoints, sizeof(*pids));
	size_t next = 0, done = 0;
	unsigned running = 0;
	struct progress pr;
	bool usage = false;
	int rc = 0;

	if (pids == NULL)
		return -ENOMEM;
	/* No SA_RESTART: a signal ends waitpid so that the loop sees it. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	progress_init(&pr, "hv sweep");
	for (;;) {
		int st;
		pid_t pid;
		size_t k;

		while (!stop_signal && !usage && running < jobs && next < sw->npoints) {
			struct point *p = &sw->pts[next];
			char *argv[1024], *report = dir_file(sw->dir, p->file);
			size_t n = 0;

			argv[n++] = "hv";
			for (char **a = p->argv; *a && n + 1 < sizeof(argv) / sizeof(argv[0]); a++)
				argv[n++] = *a == p->file ? report : *a;
			argv[n] = NULL;
			pids[next] = report ? run_point(sw, p, argv) : -1;
			free(report);
			if (pids[next] < 0) {
				fprintf(stderr, "hv sweep: cannot start a point: %s\n", strerror(errno));
				rc = 1;
				usage = true;
				break;
			}
			next++;
			running++;
		}
		if (running == 0)
			break;
		pid = waitpid(-1, &st, 0);
		if (pid < 0) {
			if (errno != EINTR)
				break;
			/* The terminal sends SIGINT to every point; SIGTERM came to
			 * hv sweep alone, so it is passed on. */
			if (stop_signal == SIGTERM)
				for (k = 0; k < next; k++)
					if (pids[k] > 0)
						kill(pids[k], SIGTERM);
			continue;
		}
		for (k = 0; k < next && pids[k] != pid; k++)
			;
		if (k == next)
			continue;
		pids[k] = 0;
		running--;
		done++;
		sw->pts[k].status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		if (sw->pts[k].status == 2 && !usage) {
			char *e = first_error(sw, &sw->pts[k]);

			progress_done(&pr);
			fprintf(stderr, "%s\n", e && e[0] ? e : "hv sweep: a point's command line is wrong");
			free(e);
			usage = true;
			rc = 2;
		}
		pr.last = 1; /* progress_done erases the line */
		progress_points(&pr, done, sw->npoints, running);
	}
	progress_done(&pr);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	free(pids);
	if (rc == 0 && stop_signal)
		rc = 128 + stop_signal;
	return rc;
}

/* Read each point's report; a missing or broken one says why. */
static unsigned load_reports(struct sweep *sw, bool ran)
{
	unsigned missing = 0;

	for (size_t k = 0; k < sw->npoints; k++) {
		struct point *p = &sw->pts[k];
		char *path = dir_file(sw->dir, p->file);
		char err[512];
		int rc;

		if (ran && p->status < 0) {
			p->why = strdup("not run");
			missing++;
			free(path);
			continue;
		}
		rc = path ? jv_parse_file(path, &p->report, err, sizeof(err)) : -ENOMEM;
		if (rc == 0 && p->report->type == JV_OBJ && jv_get(p->report, "stopped_by") == NULL) {
			free(path);
			continue;
		}
		/* hv trace stopped by a signal reports the part it replayed:
		 * not the point's result. */
		if (rc == 0 && p->report->type == JV_OBJ) {
			const char *by = jv_text(p->report, "stopped_by");

			p->why = xasprintf("stopped by %s: %s is partial", by ? by : "a signal", path);
			jv_free(p->report);
			p->report = NULL;
			missing++;
			free(path);
			continue;
		}
		if (rc == 0) {
			jv_free(p->report);
			p->report = NULL;
		}
		missing++;
		if (ran && p->status != 0) {
			char *e = first_error(sw, p);

			p->why = xasprintf("status %d%s%s", p->status, e && e[0] ? ": " : "",
					   e ? e : "");
			free(e);
		} else {
			p->why = xasprintf("%s %s", rc == -ENOENT ? "no report" : "unreadable", path);
		}
		free(path);
	}
	return missing;
}

/* ------------------------------------------------------------------------ */
/* Results                                                                  */
/* ------------------------------------------------------------------------ */

enum col_kind { C_TEXT, C_RATIO2, C_TLB_HIT, C_SECONDS };

struct column {
	const char *head;   /* table */
	const char *csv;    /* CSV header */
	const char *path;   /* in the report; the translation block's members are
			       relative to `xlat` */
	bool xlat;
	enum col_kind kind;
};

static const struct column trace_cols[] = {
	{ "translations", "translations", "translations", true, C_TEXT },
	{ "TLB hit %", "tlb_hit_rate", NULL, true, C_TLB_HIT },
	{ "walks", "walks", "walks", true, C_TEXT },
	{ "refs", "walk_refs", "walk_refs", true, C_TEXT },
	{ "refs/walk", "refs_per_walk", "refs_per_walk", true, C_RATIO2 },
	{ "seconds", "seconds", "seconds", false, C_SECONDS },
};

static const struct column run_cols[] = {
	{ "stop", "stop", "stop.reason", false, C_TEXT },
	{ "status", "status", "stop.status", false, C_TEXT },
	{ "instructions", "instructions", "guest.instructions", false, C_TEXT },
	{ "exits", "exits", "exits.total", false, C_TEXT },
	{ "translations", "translations", "translations", true, C_TEXT },
	{ "TLB hit %", "tlb_hit_rate", NULL, true, C_TLB_HIT },
	{ "walks", "walks", "walks", true, C_TEXT },
	{ "refs", "walk_refs", "walk_refs", true, C_TEXT },
	{ "refs/walk", "refs_per_walk", "refs_per_walk", true, C_RATIO2 },
	{ "seconds", "seconds", "host.wall_seconds", false, C_SECONDS },
};

static const struct jv *xlat_of(const struct sweep *sw, const struct jv *report)
{
	return strcmp(sw->cmd, "run") == 0 ? jv_get(report, "translation") : report;
}

/* A cell's text: for the table (human) or CSV (exact). "" when absent. */
static void cell(const struct sweep *sw, const struct point *p, const struct column *c, bool csv,
		 char *buf, size_t len)
{
	const struct jv *from = c->xlat ? xlat_of(sw, p->report) : p->report;
	const char *t;
	uint64_t tr, walks, nc;

	buf[0] = '\0';
	if (p->report == NULL)
		return;
	if (c->kind == C_TLB_HIT) {
		/* Translations that needed no walk (report_mmu_text's TLB hits). */
		if (!jv_u64(from, "translations", &tr) || !jv_u64(from, "walks", &walks) ||
		    !jv_u64(from, "faults.noncanonical", &nc) || tr == 0 || walks + nc > tr)
			return;
		snprintf(buf, len, csv ? "%.6g" : "%.2f",
			 (double)(tr - walks - nc) / (double)tr * (csv ? 1.0 : 100.0));
		/* A rate that only rounds to 100% must not read as no walks. */
		if (!csv && walks + nc > 0 && strcmp(buf, "100.00") == 0)
			snprintf(buf, len, ">99.99");
		return;
	}
	t = jv_text(from, c->path);
	if (t == NULL)
		return;
	if (!csv && (c->kind == C_RATIO2 || c->kind == C_SECONDS) &&
	    jv_get(from, c->path)->type == JV_NUM)
		snprintf(buf, len, c->kind == C_RATIO2 ? "%.2f" : "%.3f", strtod(t, NULL));
	else
		snprintf(buf, len, "%s", t);
}

static void columns_of(const struct sweep *sw, const struct column **cols, size_t *n)
{
	if (strcmp(sw->cmd, "run") == 0) {
		*cols = run_cols;
		*n = sizeof(run_cols) / sizeof(run_cols[0]);
	} else {
		*cols = trace_cols;
		*n = sizeof(trace_cols) / sizeof(trace_cols[0]);
	}
}

static void print_table(const struct sweep *sw, FILE *f, const char *how)
{
	const struct column *cols;
	size_t ncols, nw;
	size_t *wid;
	char buf[128];

	columns_of(sw, &cols, &ncols);
	nw = sw->naxes + ncols + 1;
	wid = calloc(nw, sizeof(*wid));
	if (wid == NULL)
		return;
	for (size_t i = 0; i < sw->naxes; i++)
		wid[i] = strlen(sw->axes[i].name);
	for (size_t c = 0; c < ncols; c++)
		wid[sw->naxes + c] = strlen(cols[c].head);
	for (size_t k = 0; k < sw->npoints; k++) {
		const struct point *p = &sw->pts[k];

		for (size_t i = 0; i < sw->naxes; i++)
			if (strlen(p->values[i]) > wid[i])
				wid[i] = strlen(p->values[i]);
		for (size_t c = 0; c < ncols && p->report; c++) {
			cell(sw, p, &cols[c], false, buf, sizeof(buf));
			if (strlen(buf) > wid[sw->naxes + c])
				wid[sw->naxes + c] = strlen(buf);
		}
	}
	fprintf(f, "hv sweep: %zu point%s of hv %s%s\n\n", sw->npoints, sw->npoints == 1 ? "" : "s",
		sw->cmd, how);
	for (size_t i = 0; i < sw->naxes; i++)
		fprintf(f, "%s%-*s", i ? "  " : "", (int)wid[i], sw->axes[i].name);
	for (size_t c = 0; c < ncols; c++)
		fprintf(f, "%s%*s", c + sw->naxes ? "  " : "", (int)wid[sw->naxes + c], cols[c].head);
	fputc('\n', f);
	for (size_t k = 0; k < sw->npoints; k++) {
		const struct point *p = &sw->pts[k];

		for (size_t i = 0; i < sw->naxes; i++)
			fprintf(f, "%s%-*s", i ? "  " : "", (int)wid[i], p->values[i]);
		if (p->report == NULL) {
			fprintf(f, "%s(%s)\n", sw->naxes ? "  " : "", p->why ? p->why : "no report");
			continue;
		}
		for (size_t c = 0; c < ncols; c++) {
			cell(sw, p, &cols[c], false, buf, sizeof(buf));
			fprintf(f, "%s%*s", c + sw->naxes ? "  " : "", (int)wid[sw->naxes + c], buf);
		}
		fputc('\n', f);
	}
	free(wid);
}

/* The cache structures any point reports, in the order the first shows them. */
static size_t structure_names(const struct sweep *sw, const char **names, size_t max)
{
	size_t n = 0;

	for (size_t k = 0; k < sw->npoints; k++) {
		const struct jv *s = sw->pts[k].report
					     ? jv_get(xlat_of(sw, sw->pts[k].report), "structures")
					     : NULL;

		for (size_t i = 0; s && s->type == JV_OBJ && i < s->n; i++) {
			size_t m = 0;

			while (m < n && strcmp(names[m], s->keys[i]) != 0)
				m++;
			if (m == n && n < max)
				names[n++] = s->keys[i];
		}
	}
	return n;
}

static void print_csv(const struct sweep *sw, FILE *f)
{
	const struct column *cols;
	const char *names[64];
	size_t ncols, nst = structure_names(sw, names, 64);
	char buf[128];

	columns_of(sw, &cols, &ncols);
	for (size_t i = 0; i < sw->naxes; i++)
		csv_field(f, sw->axes[i].name, i == 0);
	csv_field(f, "result", sw->naxes == 0);
	for (size_t c = 0; c < ncols; c++)
		csv_field(f, cols[c].csv, false);
	for (size_t s = 0; s < nst; s++) {
		snprintf(buf, sizeof(buf), "%s_hit_rate", names[s]);
		csv_field(f, buf, false);
	}
	fputc('\n', f);
	for (size_t k = 0; k < sw->npoints; k++) {
		const struct point *p = &sw->pts[k];

		for (size_t i = 0; i < sw->naxes; i++)
			csv_field(f, p->values[i], i == 0);
		csv_field(f, p->report ? "ok" : p->why ? p->why : "no report", sw->naxes == 0);
		for (size_t c = 0; c < ncols; c++) {
			cell(sw, p, &cols[c], true, buf, sizeof(buf));
			csv_field(f, buf, false);
		}
		for (size_t s = 0; s < nst; s++) {
			char path[128];
			const char *t;

			snprintf(path, sizeof(path), "structures.%s.hit_rate", names[s]);
			t = p->report ? jv_text(xlat_of(sw, p->report), path) : NULL;
			csv_field(f, t ? t : "", false);
		}
		fputc('\n', f);
	}
}

/* A report copied into the sweep's JSON as it was (numbers digit for digit). */
static void json_copy(struct json *j, const char *key, const struct jv *v)
{
	switch (v->type) {
	case JV_NULL: json_str(j, key, NULL); break;
	case JV_BOOL: json_bool(j, key, v->b); break;
	case JV_NUM: json_number_text(j, key, v->text); break;
	case JV_STR: json_str(j, key, v->text); break;
	case JV_ARR:
		json_arr_begin(j, key);
		for (size_t i = 0; i < v->n; i++)
			json_copy(j, NULL, &v->items[i]);
		json_arr_end(j);
		break;
	case JV_OBJ:
		json_obj_begin(j, key);
		for (size_t i = 0; i < v->n; i++)
			json_copy(j, v->keys[i], &v->items[i]);
		json_obj_end(j);
		break;
	}
}

static void print_json(const struct sweep *sw, FILE *f)
{
	struct json j;

	json_begin(&j, f);
	json_str(&j, "command", "sweep");
	json_str(&j, "sweep", sw->cmd);
	json_arr_begin(&j, "axes");
	for (size_t i = 0; i < sw->naxes; i++)
		json_str(&j, NULL, sw->axes[i].name);
	json_arr_end(&j);
	json_arr_begin(&j, "points");
	for (size_t k = 0; k < sw->npoints; k++) {
		const struct point *p = &sw->pts[k];

		json_obj_begin(&j, NULL);
		json_obj_begin(&j, "values");
		for (size_t i = 0; i < sw->naxes; i++)
			json_str(&j, sw->axes[i].name, p->values[i]);
		json_obj_end(&j);
		json_arr_begin(&j, "argv");
		for (char **a = p->argv; *a; a++)
			json_str(&j, NULL, *a);
		json_arr_end(&j);
		if (p->report)
			json_copy(&j, "report", p->report);
		else
			json_str(&j, "error", p->why ? p->why : "no report");
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_end(&j);
}

/* ------------------------------------------------------------------------ */
/* --plot                                                                   */
/* ------------------------------------------------------------------------ */

/* The index of v among the distinct values of axis a seen so far in the
 * points (first-seen order), so that --collect needs no value lists. */
static size_t value_rank(const struct sweep *sw, size_t a, const char *v)
{
	size_t rank = 0;

	for (size_t k = 0; k < sw->npoints; k++) {
		const char *w = sw->pts[k].values[a];
		bool seen = false;

		if (strcmp(w, v) == 0)
			return rank;
		for (size_t m = 0; m < k && !seen; m++)
			seen = strcmp(sw->pts[m].values[a], w) == 0;
		if (!seen)
			rank++;
	}
	return rank;
}

/*
 * References per walk against one axis: the first whose values are all sizes
 * or numbers (positions on a log2 scale when they span a factor of 4 or
 * more), else the first axis (values in order). Each combination of the
 * other axes is a line.
 */
static int plot_sweep(const struct sweep *sw, const char *file, char *err, size_t errlen)
{
	struct plot_series *ser = calloc(sw->npoints + 1, sizeof(*ser));
	double *x = calloc(sw->npoints + 1, sizeof(*x)), *y = calloc(sw->npoints + 1, sizeof(*y));
	const char **xl = calloc(sw->npoints + 1, sizeof(*xl));
	char **names = calloc(sw->npoints + 1, sizeof(*names));
	size_t *slot = calloc(sw->npoints + 1, sizeof(*slot));
	size_t xa = 0, nser = 0, used = 0;
	bool numeric = false, logx = false;
	double lo = 0, hi = 0;
	char title[128];
	int rc = -ENOMEM;

	if (ser == NULL || x == NULL || y == NULL || xl == NULL || names == NULL || slot == NULL) {
		snprintf(err, errlen, "--plot: out of memory");
		goto out;
	}
	for (size_t a = 0; a < sw->naxes && !numeric; a++) {
		bool all = sw->npoints > 0;
		uint64_t v;

		for (size_t k = 0; k < sw->npoints && all; k++)
			all = parse_size(sw->pts[k].values[a], &v) == 0;
		if (all) {
			numeric = true;
			xa = a;
		}
	}
	for (size_t k = 0; numeric && k < sw->npoints; k++) {
		uint64_t v = 0;
		double d;

		(void)parse_size(sw->pts[k].values[xa], &v);
		d = (double)v;
		lo = k == 0 || d < lo ? d : lo;
		hi = k == 0 || d > hi ? d : hi;
	}
	/* Each series' points, contiguous in x/y/xl (at most npoints in all). */
	for (size_t k = 0; k < sw->npoints; k++) {
		const struct point *p = &sw->pts[k];
		char name[512] = "";
		size_t len = 0, si;

		for (size_t a = 0; a < sw->naxes; a++)
			if (a != xa && len < sizeof(name))
				len += (size_t)snprintf(name + len, sizeof(name) - len, "%s%s=%s",
							len ? ", " : "", sw->axes[a].name, p->values[a]);
		for (si = 0; si < nser && strcmp(names[si], name) != 0; si++)
			;
		if (si == nser) {
			names[nser] = strdup(name[0] ? name : "references per walk");
			if (names[nser] == NULL)
				goto out;
			ser[nser].name = names[nser];
			nser++;
		}
		slot[k] = si;
	}
	for (size_t si = 0; si < nser; si++) {
		ser[si].x = x + used;
		ser[si].y = y + used;
		ser[si].xlabels = xl + used;
		for (size_t k = 0; k < sw->npoints; k++) {
			const struct point *p = &sw->pts[k];
			const char *t = p->report ? jv_text(xlat_of(sw, p->report), "refs_per_walk") : NULL;
			const char *xv = sw->naxes ? p->values[xa] : "1";
			uint64_t v = 0;

			if (slot[k] != si || t == NULL || jv_get(xlat_of(sw, p->report),
								 "refs_per_walk")->type != JV_NUM)
				continue;
			if (numeric && parse_size(xv, &v) == 0) {
				x[used] = (double)v;
			} else {
				x[used] = (double)(sw->naxes ? value_rank(sw, xa, xv) : 0);
			}
			y[used] = strtod(t, NULL);
			xl[used] = xv;
			used++;
			ser[si].n++;
		}
	}
	logx = numeric && lo > 0 && hi >= 4 * lo;
	snprintf(title, sizeof(title), "hv sweep: references per walk (hv %s)", sw->cmd);
	rc = plot_lines(file, "refs-per-walk", title, sw->naxes ? sw->axes[xa].name : "point",
			"references per walk", logx, ser, nser, err, errlen);
out:
	for (size_t si = 0; names != NULL && si < nser; si++)
		free(names[si]);
	free(names);
	free(slot);
	free(ser);
	free(x);
	free(y);
	free(xl);
	return rc;
}

/*
 * --plot DIR: beside refs-per-walk, each point's walk-length histogram and
 * reference grid, named after its report (p01-walks.svg, p01-grid.png, ...).
 * A point without a report has none.
 */
static int plot_points(const struct sweep *sw, const char *dir, char *err, size_t errlen)
{
	for (size_t k = 0; k < sw->npoints; k++) {
		const struct point *p = &sw->pts[k];
		char prefix[256], title[1024];
		size_t len;
		int rc;

		if (p->report == NULL)
			continue;
		snprintf(prefix, sizeof(prefix), "%.*s-", (int)strcspn(p->file, "."), p->file);
		len = (size_t)snprintf(title, sizeof(title), "hv sweep %s, point %.*s:", sw->cmd,
				       (int)strcspn(p->file, "."), p->file);
		for (size_t a = 0; a < sw->naxes && len < sizeof(title); a++)
			len += (size_t)snprintf(title + len, sizeof(title) - len, "%s %s=%s",
						a ? "," : "", sw->axes[a].name, p->values[a]);
		rc = plot_translation(dir, prefix, xlat_of(sw, p->report), title, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* --list                                                                   */
/* ------------------------------------------------------------------------ */

/* A word as the shell reads it back: as it is when it is safe, else in
 * single quotes (with ' written '\''). */
static void shell_word(FILE *f, const char *w)
{
	if (w[0] != '\0' && strspn(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				      "0123456789_-+=./:,@%") == strlen(w)) {
		fputs(w, f);
		return;
	}
	fputc('\'', f);
	for (; *w; w++) {
		if (*w == '\'')
			fputs("'\\''", f);
		else
			fputc(*w, f);
	}
	fputc('\'', f);
}

/* How the commands name hv: as typed when found through PATH, else by the
 * absolute path of this very program. */
static char *hv_name(void)
{
	char buf[PATH_MAX];

	if (strchr(program_invocation_name, '/') == NULL)
		return strdup(program_invocation_name);
	if (realpath("/proc/self/exe", buf) == NULL)
		return strdup(program_invocation_name);
	return strdup(buf);
}

static void print_list(const struct sweep *sw, FILE *f)
{
	char *hv = hv_name();

	for (size_t k = 0; k < sw->npoints; k++) {
		const struct point *p = &sw->pts[k];

		shell_word(f, hv ? hv : "hv");
		for (char **a = p->argv; *a; a++) {
			fputc(' ', f);
			/* The report's name is relative to DIR when run here. */
			if (*a == p->file) {
				char *path = dir_file(sw->dir, *a);

				shell_word(f, path ? path : *a);
				free(path);
			} else {
				shell_word(f, *a);
			}
		}
		fputc('\n', f);
	}
	free(hv);
}

/* ------------------------------------------------------------------------ */
/* The command                                                              */
/* ------------------------------------------------------------------------ */

/* The index of the swept command's name: the first word that is neither a
 * sweep option nor its value. */
static int find_command(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const struct option *o;
		const char *w = argv[i];

		if (w[0] != '-' || strcmp(w, "-") == 0)
			return i;
		if (strcmp(w, "--") == 0)
			return i + 1;
		if (w[1] != '-')
			continue;
		o = cli_find_option(sweep_options, w + 2, strcspn(w + 2, "="));
		if (o && o->has_arg == required_argument && strchr(w, '=') == NULL)
			i++;
	}
	return argc;
}

static void sweep_free(struct sweep *sw, bool owned)
{
	for (size_t k = 0; k < sw->npoints; k++) {
		struct point *p = &sw->pts[k];

		jv_free(p->report);
		free(p->values);
		free(p->file);
		free(p->why);
		free(p->argv);
	}
	free(sw->pts);
	for (size_t i = 0; i < sw->nowned; i++)
		free(sw->owned[i]);
	free(sw->owned);
	if (owned)
		axes_free(sw->axes, sw->naxes);
	else
		free(sw->axes);
}

/* Remove what a sweep in a temporary directory wrote there. */
static void remove_dir(const struct sweep *sw)
{
	char *path;

	for (size_t k = 0; k < sw->npoints; k++) {
		const char *f = sw->pts[k].file;

		path = dir_file(sw->dir, f);
		if (path)
			unlink(path);
		free(path);
		path = err_path(sw, f);
		if (path)
			unlink(path);
		free(path);
	}
	path = dir_file(sw->dir, "sweep.json");
	if (path)
		unlink(path);
	free(path);
	rmdir(sw->dir);
}

/* Remove the empty error files of the points that said nothing. */
static void tidy_errors(const struct sweep *sw)
{
	for (size_t k = 0; k < sw->npoints; k++) {
		const char *f = sw->pts[k].file;
		char *path = err_path(sw, f);
		struct stat st;

		if (path && stat(path, &st) == 0 && st.st_size == 0)
			unlink(path);
		free(path);
	}
}

static int make_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0777) == 0 || (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode)))
		return 0;
	fprintf(stderr, "hv sweep: --dir %s: %s\n", dir, errno == EEXIST ? "not a directory" :
		strerror(errno));
	return -1;
}

int cmd_sweep(int argc, char **argv)
{
	struct sweep sw = { 0 };
	enum out_format fmt = OUT_TABLE;
	const char *collect = NULL, *dir = NULL, *plot = NULL;
	char errbuf[512];
	char tmpdir[PATH_MAX] = "";
	unsigned jobs = 1, missing;
	bool list = false, owned = false;
	struct word *words = NULL;
	size_t nwords = 0;
	struct jv *manifest = NULL;
	int opt, status = 0, rc = 0, cmd_at = find_command(argc, argv);
	double t0;
	char how[128] = "";

	optind = 0;
	while ((opt = cli_getopt("sweep", cmd_at, argv, sweep_options, &status)) > 0) {
		uint64_t v;

		switch (opt) {
		case OPT_JOBS:
			if (parse_u64(optarg, &v) || v == 0 || v > 1024)
				return cli_usage_error("sweep", "--jobs: expected a number from 1 to 1024, got '%s'", optarg);
			jobs = (unsigned)v;
			break;
		case OPT_DIR:
			dir = optarg;
			break;
		case OPT_LIST:
			list = true;
			break;
		case OPT_COLLECT:
			collect = optarg;
			break;
		case OPT_CSV:
		case OPT_JSON:
			if (fmt != OUT_TABLE && fmt != (opt == OPT_CSV ? OUT_CSV : OUT_JSON))
				return cli_usage_error("sweep", "--csv and --json: choose one");
			fmt = opt == OPT_CSV ? OUT_CSV : OUT_JSON;
			break;
		case OPT_PLOT:
			if (plot_check_target(optarg, errbuf, sizeof(errbuf)))
				return cli_usage_error("sweep", "%s", errbuf);
			plot = optarg;
			break;
		case OPT_HELP:
			usage(stdout);
			return 0;
		}
	}
	if (status)
		return status;
	if (plot != NULL && plot_available(errbuf, sizeof(errbuf))) {
		fprintf(stderr, "hv sweep: %s\n", errbuf);
		return 1;
	}
	if (optind < cmd_at)
		return cli_usage_error("sweep", "unexpected argument '%s' (see hv sweep --help)", argv[optind]);

	if (collect != NULL) {
		if (cmd_at < argc)
			return cli_usage_error("sweep", "--collect reads the reports; '%s' would run a "
					       "sweep", argv[cmd_at]);
		if (list || dir)
			return cli_usage_error("sweep", "--collect: not with --%s", list ? "list" : "dir");
		sw.dir = collect;
		if (read_manifest(&sw, &manifest)) {
			sweep_free(&sw, false);
			jv_free(manifest);
			return 1;
		}
		snprintf(how, sizeof(how), ", collected from %s", collect);
		missing = load_reports(&sw, false);
		goto print;
	}

	if (cmd_at >= argc)
		return cli_usage_error("sweep", "expected trace or run, then their options (see hv sweep --help)");
	sw.cmd = argv[cmd_at];
	if (strcmp(sw.cmd, "trace") != 0 && strcmp(sw.cmd, "run") != 0)
		return cli_usage_error("sweep", "'%s': hv sweep runs trace or run", sw.cmd);
	owned = true;
	rc = read_grid(&sw, argc - cmd_at, argv + cmd_at,
		       strcmp(sw.cmd, "run") == 0 ? run_options : trace_options, &words, &nwords);
	if (rc)
		goto grid_fail;
	sw.npoints = 1;
	for (size_t i = 0; i < sw.naxes; i++) {
		if (sw.npoints > SWEEP_MAX_POINTS / sw.axes[i].n) {
			rc = cli_usage_error("sweep", "more than %d points; make the lists shorter",
					     SWEEP_MAX_POINTS);
			goto grid_fail;
		}
		sw.npoints *= sw.axes[i].n;
	}
	sw.pts = calloc(sw.npoints, sizeof(*sw.pts));
	if (sw.pts == NULL) {
		rc = -ENOMEM;
		goto grid_fail;
	}
	{
		unsigned digits = 4;

		for (size_t m = 10000; m < sw.npoints + 1 && digits < 9; m *= 10)
			digits++;
		for (size_t k = 0; k < sw.npoints; k++)
			if ((rc = make_point(&sw, k, words, nwords, digits)) != 0)
				goto grid_fail;
	}

	if (list || dir) {
		sw.dir = dir ? dir : "hv-sweep";
		if (make_dir(sw.dir)) {
			rc = 1;
			goto out;
		}
	} else {
		const char *t = getenv("TMPDIR");

		snprintf(tmpdir, sizeof(tmpdir), "%s/hv-sweep.XXXXXX", t && t[0] ? t : "/tmp");
		if (mkdtemp(tmpdir) == NULL) {
			fprintf(stderr, "hv sweep: cannot make a directory %s: %s\n", tmpdir,
				strerror(errno));
			rc = 1;
			goto out;
		}
		sw.dir = tmpdir;
	}
	if (write_manifest(&sw)) {
		rc = 1;
		goto out;
	}
	if (list) {
		print_list(&sw, stdout);
		rc = 0;
		goto out;
	}
	t0 = now_seconds();
	rc = run_all(&sw, jobs);
	if (rc == 2 || rc < 0)
		goto out;
	missing = load_reports(&sw, true);
	snprintf(how, sizeof(how), ", %u at a time, %.1f s", jobs, now_seconds() - t0);
	if (rc > 128)
		snprintf(how + strlen(how), sizeof(how) - strlen(how), ", stopped by %s",
			 rc == 128 + SIGINT ? "SIGINT" : "SIGTERM");
	if (tmpdir[0] == '\0')
		tidy_errors(&sw);
print:
	switch (fmt) {
	case OUT_TABLE: print_table(&sw, stdout, how); break;
	case OUT_CSV: print_csv(&sw, stdout); break;
	case OUT_JSON: print_json(&sw, stdout); break;
	}
	if (missing)
		fprintf(stderr, "hv sweep: %u of %zu points have no report\n", missing, sw.npoints);
	if (rc == 0)
		rc = missing ? 1 : 0;
	if (plot != NULL) {
		fflush(stdout);
		if (plot_sweep(&sw, plot, errbuf, sizeof(errbuf)) ||
		    (plot_is_dir(plot) && plot_points(&sw, plot, errbuf, sizeof(errbuf)))) {
			fprintf(stderr, "hv sweep: %s\n", errbuf);
			rc = 1;
		}
	}
	goto out;

grid_fail:
	if (rc == -ENOMEM) {
		fprintf(stderr, "hv sweep: out of memory\n");
		rc = 1;
	}
out:
	if (tmpdir[0])
		remove_dir(&sw);
	sweep_free(&sw, owned);
	free(words);
	jv_free(manifest);
	return rc < 0 ? 1 : rc;
}
