/* SPDX-License-Identifier: MIT */
/*
 * ept/compiler.h - compiler attributes shared by every module.
 *
 * One place for them, so that a header does not include another subsystem's
 * header only to get an attribute.
 */
#ifndef HV_COMPILER_H
#define HV_COMPILER_H

/* The caller must look at the result: an ignored error is a lost error. */
#define HV_MUST_CHECK __attribute__((warn_unused_result))

#endif /* HV_COMPILER_H */
