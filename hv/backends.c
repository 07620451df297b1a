/* SPDX-License-Identifier: MIT */
/*
 * hv/backends.c - the vCPU backends this build has.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "hv/vcpu.h"

const struct vcpu_ops *const vcpu_backends[] = {
	&vcpu_soft_ops,
#ifdef HAVE_LINUX_KVM_H
	&vcpu_kvm_ops,
#endif
	NULL,
};

const struct vcpu_ops *backend_find(const char *name, char *why, size_t whylen)
{
	for (unsigned i = 0; vcpu_backends[i]; i++)
		if (strcmp(vcpu_backends[i]->name, name) == 0)
			return vcpu_backends[i];
	if (strcmp(name, "kvm") == 0)
		snprintf(why, whylen, "this hv was built without the KVM backend (configure found no "
			 "<linux/kvm.h>: install linux-libc-dev and rebuild); use --backend soft");
	else
		snprintf(why, whylen, "unknown backend '%s'; use --backend soft", name);
	return NULL;
}
