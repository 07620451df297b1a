/* SPDX-License-Identifier: MIT */
/*
 * hv/plot.c - gnuplot scripts for hv's reports, run with the data inline
 * (datablocks), so nothing but the picture is left behind.
 */
#include "config.h"

#include "hv/plot.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef GNUPLOT_PATH
#define GNUPLOT_PATH ""
#endif

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);

	return n > t && strcasecmp(s + n - t, tail) == 0;
}

/* The last component of a path, for the name rules below. */
static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

bool plot_is_dir(const char *target)
{
	struct stat st;

	if (ends_with(target, ".svg") || ends_with(target, ".png"))
		return false;
	return stat(target, &st) == 0 ? S_ISDIR(st.st_mode) : strchr(base_name(target), '.') == NULL;
}

int plot_check_target(const char *target, char *err, size_t errlen)
{
	char parent[PATH_MAX], path[PATH_MAX];
	const char *b;
	struct stat st;
	size_t n;

	if (ends_with(target, ".svg") || ends_with(target, ".png"))
		return 0;
	/* "plots/" is the directory plots. */
	n = strlen(target);
	while (n > 1 && target[n - 1] == '/')
		n--;
	snprintf(path, sizeof(path), "%.*s", (int)n, target);
	b = base_name(path);
	if (stat(target, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "--plot %s: not a directory, and a file's name must end in "
				 ".svg or .png (the picture's format)", target);
			return -EINVAL;
		}
		if (access(target, W_OK | X_OK) != 0) {
			snprintf(err, errlen, "--plot %s: cannot write in the directory: %s", target,
				 strerror(errno));
			return -EACCES;
		}
		return 0;
	}
	if (target[0] == '\0' || strchr(b, '.') != NULL) {
		snprintf(err, errlen, "--plot %s: the file's name must end in .svg or .png (the picture's "
			 "format), or name a directory", target);
		return -EINVAL;
	}
	/* A directory to be made when the pictures are drawn: its parent must
	 * be there now, not found missing at the end of a long run. */
	snprintf(parent, sizeof(parent), "%.*s", b == path ? 1 : (int)(b - path),
		 b == path ? "." : path);
	if (access(parent, W_OK | X_OK) != 0) {
		snprintf(err, errlen, "--plot %s: cannot make the directory in %s: %s", target, parent,
			 strerror(errno));
		return -ENOENT;
	}
	return 0;
}

static bool executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* The gnuplot to run, in buf; 0 or -ENOENT with err. */
static int find_gnuplot(char *buf, size_t len, char *err, size_t errlen)
{
	const char *env = getenv("HV_GNUPLOT"), *path = getenv("PATH");

	if (env != NULL && env[0] != '\0') {
		if (executable(env)) {
			snprintf(buf, len, "%s", env);
			return 0;
		}
		snprintf(err, errlen, "--plot: HV_GNUPLOT=%s is not a program that can be run", env);
		return -ENOENT;
	}
	if (GNUPLOT_PATH[0] != '\0' && executable(GNUPLOT_PATH)) {
		snprintf(buf, len, "%s", GNUPLOT_PATH);
		return 0;
	}
	while (path != NULL && *path) {
		size_t n = strcspn(path, ":");

		snprintf(buf, len, "%.*s/gnuplot", (int)n, path);
		if (n > 0 && executable(buf))
			return 0;
		path += n + (path[n] == ':');
	}
	snprintf(err, errlen, "--plot needs gnuplot, and there is none (%s; install gnuplot-nox, "
		 "or name one with HV_GNUPLOT)",
		 GNUPLOT_PATH[0] ? GNUPLOT_PATH " is gone" : "configure found none");
	return -ENOENT;
}

int plot_available(char *err, size_t errlen)
{
	char path[PATH_MAX];

	return find_gnuplot(path, sizeof(path), err, errlen);
}

/* A gnuplot string in single quotes (a quote inside is written twice). */
static void gp_string(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		if (*s != '\n')
			fputc(*s, f);
	}
	fputc('\'', f);
}

/* The pictures one gnuplot run writes: each file is checked afterwards. */
struct gp_outs {
	char files[4][PATH_MAX];
	size_t n;
};

/* Start a picture in f: the terminal for file's format, and file itself. */
static void gp_begin(FILE *f, struct gp_outs *o, const char *file, unsigned width,
		     unsigned height)
{
	if (ends_with(file, ".svg"))
		fprintf(f, "set terminal svg size %u,%u dynamic noenhanced font 'sans,10'\n", width, height);
	else
		fprintf(f, "set terminal pngcairo size %u,%u noenhanced font 'sans,10'\n", width, height);
	fputs("set output ", f);
	gp_string(f, file);
	/* reset: nothing of the previous picture in this script carries over
	 * (terminal, output and the data are kept). */
	fputs("\nreset\nset encoding utf8\nset grid\n", f);
	if (o->n < sizeof(o->files) / sizeof(o->files[0]))
		snprintf(o->files[o->n++], sizeof(o->files[0]), "%s", file);
}

/*
 * The files of one picture: FILE itself, or in directory dir the picture's
 * name in both formats (dir/NAME.svg, dir/NAME.png). Returns how many.
 */
static size_t picture_files(const char *target, const char *prefix, const char *name,
			    char files[2][PATH_MAX])
{
	if (!plot_is_dir(target)) {
		snprintf(files[0], PATH_MAX, "%s", target);
		return 1;
	}
	for (int k = 0; k < 2; k++)
		snprintf(files[k], PATH_MAX, "%s%s%s%s.%s", target,
			 target[strlen(target) - 1] == '/' ? "" : "/", prefix, name, k ? "png" : "svg");
	return 2;
}

/* Make directory target if --plot names one that is not there yet. */
static int make_dir(const char *target, char *err, size_t errlen)
{
	if (!plot_is_dir(target) || mkdir(target, 0777) == 0 || errno == EEXIST)
		return 0;
	snprintf(err, errlen, "--plot %s: cannot make the directory: %s", target, strerror(errno));
	return -EIO;
}

/* Run gnuplot on the script in f (a temporary file), which writes the files
 * in o: 0, or -EIO with err holding gnuplot's own first message. Its other
 * messages go to stderr. */
static int gp_run(FILE *script, const struct gp_outs *o, char *err, size_t errlen)
{
	char gp[PATH_MAX], line[512];
	FILE *msgs = tmpfile();
	struct stat st;
	int status = 0, rc = 0;
	bool first = true, failed;
	size_t n = 0;
	pid_t pid;

	if (msgs == NULL || fflush(script) != 0 || ferror(script)) {
		snprintf(err, errlen, "--plot: cannot write gnuplot's script: %s", strerror(errno));
		rc = -EIO;
		goto out;
	}
	rc = find_gnuplot(gp, sizeof(gp), err, errlen);
	if (rc)
		goto out;
	rewind(script);
	pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "--plot: cannot start gnuplot: %s", strerror(errno));
		rc = -EIO;
		goto out;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(fileno(script), STDIN_FILENO);
		dup2(fileno(msgs), STDERR_FILENO);
		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		execl(gp, "gnuplot", (char *)NULL);
		fprintf(stderr, "cannot run %s: %s\n", gp, strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	if (failed)
		n = (size_t)snprintf(err, errlen, "--plot: gnuplot (%s)", gp);
	rewind(msgs);
	/* gnuplot names an error in several lines: the command it ran
	 * ("gnuplot> ..."), a caret under it, "line N: what", and perhaps
	 * "system error: why". The last two are the message. */
	while (fgets(line, sizeof(line), msgs) != NULL) {
		char *l = line + strspn(line, " \t");

		l[strcspn(l, "\n")] = '\0';
		if (l[0] == '\0' || l[0] == '^' || strncmp(l, "gnuplot>", 8) == 0)
			continue;
		if (strncmp(l, "line ", 5) == 0 && strchr(l, ':'))
			l = strchr(l, ':') + 1 + strspn(strchr(l, ':') + 1, " \t");
		if (failed && n < errlen)
			n += (size_t)snprintf(err + n, errlen - n, "%s %s", first ? ":" : ";", l);
		else if (!failed)
			fprintf(stderr, "gnuplot: %s\n", l);
		first = false;
	}
	if (failed) {
		if (first)
			snprintf(err, errlen, "--plot: gnuplot (%s) failed with status %d", gp,
				 WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		rc = -EIO;
	} else {
		for (size_t k = 0; k < o->n && rc == 0; k++) {
			if (stat(o->files[k], &st) != 0 || st.st_size == 0) {
				snprintf(err, errlen, "--plot: gnuplot wrote nothing to %s", o->files[k]);
				rc = -EIO;
			}
		}
	}
out:
	if (msgs)
		fclose(msgs);
	return rc;
}

/* A picture's title: the run's on its own line (when the picture is alone in
 * its file), then what the picture shows. A double-quoted gnuplot string, so
 * that \n is a line break. */
static void gp_title(FILE *f, const char *title, const char *what)
{
	fputs("set title \"", f);
	for (const char *c = title ? title : ""; *c; c++) {
		if (*c == '"' || *c == '\\')
			fputc('\\', f);
		if (*c != '\n')
			fputc(*c, f);
	}
	fprintf(f, "%s%s\"\n", title ? "\\n" : "", what);
}

static void hist_picture(FILE *f, const char *title, size_t last)
{
	gp_title(f, title, "walks by the references they made");
	fputs("set xlabel 'references in the walk'\n"
	      "set ylabel 'walks'\n"
	      "set style fill solid 0.8 border -1\n"
	      "set boxwidth 0.8\n"
	      "set yrange [0:*]\n", f);
	fprintf(f, "set xrange [-0.5:%zu.5]\n", last + 1);
	fputs("plot $hist using 1:2 with boxes lc rgb '#3b75af' notitle\n", f);
}

static void grid_picture(FILE *f, const char *title, const struct jv *rows,
			 const struct jv *cols)
{
	gp_title(f, title, "reference grid: references by guest step and EPT level");
	fputs("set xlabel 'EPT level read (guest: the guest entry itself)'\n"
	      "set ylabel 'guest step (data: the final GPA)'\n"
	      "unset grid\n"
	      "set palette defined (0 '#ffffff', 1 '#fdd49e', 2 '#fc8d59', 3 '#b30000')\n"
	      "set cbrange [0:*]\n"
	      "set xtics (", f);
	for (size_t c = 0; c < cols->n; c++) {
		fputs(c ? ", " : "", f);
		gp_string(f, cols->items[c].type == JV_STR ? cols->items[c].text : "?");
		fprintf(f, " %zu", c);
	}
	fputs(")\nset ytics (", f);
	for (size_t r = 0; r < rows->n; r++) {
		fputs(r ? ", " : "", f);
		gp_string(f, rows->items[r].type == JV_STR ? rows->items[r].text : "?");
		fprintf(f, " %zu", r);
	}
	fprintf(f, ")\nset xrange [-0.5:%zu.5]\nset yrange [%zu.5:-0.5]\n",
		cols->n ? cols->n - 1 : 0, rows->n ? rows->n - 1 : 0);
	fputs("plot $grid matrix with image notitle, "
	      "$grid matrix using 1:2:(sprintf('%g', $3)) with labels notitle\n", f);
}

int plot_translation(const char *target, const char *prefix, const struct jv *xlat,
		     const char *title, char *err, size_t errlen)
{
	const struct jv *hist = jv_get(xlat, "refs_hist"), *rows = jv_get(xlat, "grid.rows"),
			*cols = jv_get(xlat, "grid.cols"), *cells = jv_get(xlat, "grid.cells");
	char files[2][PATH_MAX];
	struct gp_outs o = { .n = 0 };
	size_t last = 0, n;
	FILE *f;
	int rc;

	if (hist == NULL || hist->type != JV_ARR || rows == NULL || rows->type != JV_ARR ||
	    cols == NULL || cols->type != JV_ARR || cells == NULL || cells->type != JV_ARR ||
	    cells->n != rows->n) {
		snprintf(err, errlen, "--plot: the report has no walk histogram and grid");
		return -EINVAL;
	}
	rc = make_dir(target, err, errlen);
	if (rc)
		return rc;
	f = tmpfile();
	if (f == NULL) {
		snprintf(err, errlen, "--plot: cannot make a temporary file: %s", strerror(errno));
		return -EIO;
	}
	fputs("$hist << EOD\n", f);
	for (size_t i = 0; i < hist->n; i++) {
		const char *t = hist->items[i].type == JV_NUM ? hist->items[i].text : "0";

		fprintf(f, "%zu %s\n", i, t);
		if (strcmp(t, "0") != 0)
			last = i;
	}
	fputs("EOD\n$grid << EOD\n", f);
	for (size_t r = 0; r < cells->n; r++) {
		const struct jv *row = &cells->items[r];

		for (size_t c = 0; row->type == JV_ARR && c < row->n; c++)
			fprintf(f, "%s%s", c ? " " : "",
				row->items[c].type == JV_NUM ? row->items[c].text : "0");
		fputc('\n', f);
	}
	fputs("EOD\n", f);
	if (!plot_is_dir(target)) {
		/* One file: the two side by side. */
		gp_begin(f, &o, target, 1100, 460);
		fputs("set multiplot layout 1,2 title ", f);
		gp_string(f, title);
		fputc('\n', f);
		hist_picture(f, NULL, last);
		grid_picture(f, NULL, rows, cols);
		fputs("unset multiplot\n", f);
	} else {
		/* A directory: each picture on its own, as SVG and as PNG. */
		n = picture_files(target, prefix, "walks", files);
		for (size_t k = 0; k < n; k++) {
			gp_begin(f, &o, files[k], 800, 480);
			hist_picture(f, title, last);
		}
		n = picture_files(target, prefix, "grid", files);
		for (size_t k = 0; k < n; k++) {
			gp_begin(f, &o, files[k], 800, 520);
			grid_picture(f, title, rows, cols);
		}
	}
	rc = gp_run(f, &o, err, errlen);
	fclose(f);
	return rc;
}
int plot_lines(const char *target, const char *name, const char *title, const char *xlabel,
	       const char *ylabel, bool logx, const struct plot_series *s, size_t nseries,
	       char *err, size_t errlen)
{
	char files[2][PATH_MAX];
	struct gp_outs o = { .n = 0 };
	size_t nfiles;
	FILE *f;
	int rc;

	rc = make_dir(target, err, errlen);
	if (rc)
		return rc;
	f = tmpfile();
	if (f == NULL) {
		snprintf(err, errlen, "--plot: cannot make a temporary file: %s", strerror(errno));
		return -EIO;
	}
	for (size_t k = 0; k < nseries; k++) {
		fprintf(f, "$s%zu << EOD\n", k);
		for (size_t i = 0; i < s[k].n; i++) {
			/* A data file's text column is in double quotes. */
			fprintf(f, "%.17g %.17g \"", s[k].x[i], s[k].y[i]);
			for (const char *c = s[k].xlabels[i]; *c; c++)
				if (*c != '"' && *c != '\n')
					fputc(*c, f);
			fputs("\"\n", f);
		}
		fputs("EOD\n", f);
	}
	nfiles = picture_files(target, "", name, files);
	for (size_t n = 0; n < nfiles; n++) {
		gp_begin(f, &o, files[n], 900, 520);
		fputs("set title ", f);
		gp_string(f, title);
		fputs("\nset xlabel ", f);
		gp_string(f, xlabel);
		fputs("\nset ylabel ", f);
		gp_string(f, ylabel);
		fputs("\nset yrange [0:*]\nset key outside right top\n"
		      "set offsets graph 0.04, graph 0.04, 0, 0\n", f);
		if (logx)
			fputs("set logscale x 2\n", f);
		fputs("plot ", f);
		for (size_t k = 0; k < nseries; k++) {
			fprintf(f, "%s$s%zu using 1:2:xtic(3) with linespoints pt 7 title ", k ? ", " : "",
				k);
			gp_string(f, s[k].name);
		}
		if (nseries == 0)
			fputs("0 notitle", f);
		fputc('\n', f);
	}
	rc = gp_run(f, &o, err, errlen);
	fclose(f);
	return rc;
}
