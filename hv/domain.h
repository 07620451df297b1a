/* SPDX-License-Identifier: MIT */
/*
 * hv/domain.h - libvirt domain XML for `hv run`: a domain file stands for a
 * set of hv run options, and a command line can be written back as a domain.
 *
 * Reading goes through libvirt itself (its embedded test driver, no daemon):
 * libvirt validates the file against its schema and normalises it (units,
 * defaults), and hv reads the normalised XML back. What hv has maps onto
 * libvirt's own elements; hv's other settings live under <metadata> in the
 * hv namespace as <hv:OPTION>VALUE</hv:OPTION>, one per `hv run --OPTION`.
 * The mapping is described in docs/domain.md.
 */
#ifndef HV_DOMAIN_H
#define HV_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The XML namespace of hv's settings under <metadata>. */
#define HV_DOMAIN_NS "urn:hv:domain:1"

/* The hv run options a domain file stands for. */
struct domain_args {
	int argc;
	char **argv;    /* "--memory=536870912", "--append=...", ...; owned */
	char **origin;  /* for each argv[i]: "FILE:LINE: <element>", for messages */
	char *kernel;   /* <os><kernel>, or NULL when the file has none */
	char *name;     /* <name> */
};

/* True when hv was built with libvirt (configure found libvirt and libxml2). */
bool domain_supported(void);

/*
 * Read the domain file at path into the options it stands for. Returns 0,
 * -ENOTSUP when hv was built without libvirt, -EINVAL when the file is not a
 * domain hv can run (libvirt's own message, or the element hv cannot honour
 * and its line), -ENOMEM, or -errno from reading the file; err says what.
 */
int domain_read(const char *path, struct domain_args *out, char *err, size_t errlen)
	__attribute__((warn_unused_result));
void domain_args_free(struct domain_args *a);

/* One option of an hv run command line (value NULL for a flag). */
struct domain_opt {
	const char *name;
	const char *value;
};

/*
 * Write the domain XML that stands for opts (in order; a later one wins) and
 * kernel (an absolute path, or NULL). Returns 0 or -EINVAL with err set when
 * a value cannot be expressed (a size that is not a whole number of KiB).
 */
int domain_write(FILE *f, const char *name, const char *kernel, const struct domain_opt *opts,
		 size_t n, char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * The domain XML xml as libvirt defines it: validated against libvirt's
 * schema by its test driver, and read back with virDomainGetXMLDesc (what
 * `virsh dumpxml` prints), into *out (free()). Returns 0, -ENOTSUP without
 * libvirt, or -EINVAL with libvirt's message in err.
 */
int domain_libvirt_form(const char *xml, char **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif /* HV_DOMAIN_H */
