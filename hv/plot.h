/* SPDX-License-Identifier: MIT */
/*
 * hv/plot.h - pictures of hv's reports through gnuplot (--plot FILE|DIR):
 * SVG or PNG, chosen by FILE's name, or both of each picture in DIR.
 *
 * gnuplot is found in this order: $HV_GNUPLOT, the one configure found, the
 * first gnuplot on PATH. The plots are drawn from the JSON report (read back
 * with hv/jsonread.h), so they show exactly what --json says.
 */
#ifndef HV_PLOT_H
#define HV_PLOT_H

#include <stdbool.h>
#include <stddef.h>

#include "ept/compiler.h"
#include "hv/jsonread.h"

/*
 * --plot TARGET: a file whose name ends in .svg or .png (the format), or a
 * directory (one that exists, or a name without a dot: made when the
 * pictures are drawn), where each picture is written as NAME.svg and
 * NAME.png. 0, or a negative errno with err saying why not.
 */
int plot_check_target(const char *target, char *err, size_t errlen) HV_MUST_CHECK;
/* Does TARGET (checked) name a directory? */
bool plot_is_dir(const char *target);
/* Is there a gnuplot to run? 0, or -ENOENT with err saying what to install. */
int plot_available(char *err, size_t errlen) HV_MUST_CHECK;

/*
 * The walk-length histogram and the reference grid as a heat map, from a
 * translation report (the members report_mmu_json writes: refs_hist,
 * grid.rows/cols/cells), under title: side by side in a file, or in a
 * directory as PREFIXwalks.svg/.png and PREFIXgrid.svg/.png.
 */
int plot_translation(const char *target, const char *prefix, const struct jv *xlat,
		     const char *title, char *err, size_t errlen) HV_MUST_CHECK;

/*
 * One line a series: y against x, each series named. x[i] are positions
 * (logscale base 2 when logx), xlabels[i] what the axis says there. In a
 * directory the picture is NAME.svg and NAME.png.
 */
struct plot_series {
	const char *name;
	size_t n;
	const double *x, *y;
	const char *const *xlabels;
};
int plot_lines(const char *target, const char *name, const char *title, const char *xlabel,
	       const char *ylabel, bool logx, const struct plot_series *s, size_t nseries,
	       char *err, size_t errlen) HV_MUST_CHECK;

#endif /* HV_PLOT_H */
