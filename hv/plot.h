/* SPDX-License-Identifier: MIT */
/*
 * hv/plot.h - pictures of hv's reports through gnuplot (--plot FILE):
 * SVG or PNG, chosen by FILE's name.
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

/* Is file a name --plot can write (.svg or .png)? 0, or -EINVAL with err. */
int plot_check_name(const char *file, char *err, size_t errlen) HV_MUST_CHECK;
/* Is there a gnuplot to run? 0, or -ENOENT with err saying what to install. */
int plot_available(char *err, size_t errlen) HV_MUST_CHECK;

/*
 * The walk-length histogram and the reference grid as a heat map, side by
 * side, from a translation report (the members report_mmu_json writes:
 * refs_hist, grid.rows/cols/cells). title heads the picture.
 */
int plot_translation(const char *file, const struct jv *xlat, const char *title, char *err,
		     size_t errlen) HV_MUST_CHECK;

/*
 * One line a series: y against x, each series named. x[i] are positions
 * (logscale base 2 when logx), xlabels[i] what the axis says there.
 */
struct plot_series {
	const char *name;
	size_t n;
	const double *x, *y;
	const char *const *xlabels;
};
int plot_lines(const char *file, const char *title, const char *xlabel, const char *ylabel,
	       bool logx, const struct plot_series *s, size_t nseries, char *err,
	       size_t errlen) HV_MUST_CHECK;

#endif /* HV_PLOT_H */
