/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/domain_fuzz.c - libFuzzer harness for libvirt domain XML
 * (hv/domain.c: domain_read, what `hv run --domain FILE` reads), through a
 * memfd so that it reads a real file. Built only when hv has libvirt.
 *
 * Invariants: a domain that is read stands for options of the form
 * --NAME=VALUE or --NAME, each with the file and line it came from; every
 * refusal is a negative errno with a message; nothing leaks (ASan).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hv/domain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	struct domain_args a;
	char err[512];
	int rc;

	if (fd < 0) {
		fd = memfd_create("domain_fuzz", 0);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	err[0] = '\0';
	memset(&a, 0, sizeof(a));
	rc = domain_read(path, &a, err, sizeof(err));
	if (rc != 0) {
		if (rc > 0 || err[0] == '\0')
			abort();
		return 0;
	}
	if (a.argc < 0 || (a.argc > 0 && (a.argv == NULL || a.origin == NULL)))
		abort();
	for (int i = 0; i < a.argc; i++)
		if (strncmp(a.argv[i], "--", 2) != 0 || a.origin[i] == NULL ||
		    strncmp(a.origin[i], path, strlen(path)) != 0)
			abort();
	domain_args_free(&a);
	return 0;
}
