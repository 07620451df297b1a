/* SPDX-License-Identifier: MIT */
/*
 * hv/errmsg.h - errors a user can act on travel up as a negative errno plus a
 * message in a caller-supplied buffer; only the front end prints them.
 */
#ifndef HV_ERRMSG_H
#define HV_ERRMSG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Format the message into err (when given) and return rc, so that a failure
 * path is one statement: `return errmsg(err, errlen, -EINVAL, "...", ...);` */
static inline int __attribute__((format(printf, 4, 5)))
errmsg(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

#endif /* HV_ERRMSG_H */
