/* SPDX-License-Identifier: MIT */
/*
 * hv/kvm_stats.h - reading KVM's binary statistics (Linux 5.14+,
 * KVM_CAP_BINARY_STATS_FD) of a VM or a vCPU file descriptor.
 */
#ifndef HV_KVM_STATS_H
#define HV_KVM_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "ept/compiler.h"

/* One statistic; a histogram's value is the sum of its buckets. */
struct kvm_stat {
	char name[48];
	uint64_t value;
	unsigned unit;       /* KVM_STATS_UNIT_* >> KVM_STATS_UNIT_SHIFT */
	bool histogram, peak, instant;
};

struct kvm_stats {
	struct kvm_stat *stat;
	unsigned n;
};

/* Read every statistic of owner_fd (a VM or vCPU fd); 0 or -errno.
 * On success the caller frees with kvm_stats_free(). */
int kvm_stats_read(int owner_fd, struct kvm_stats *out) HV_MUST_CHECK;
void kvm_stats_free(struct kvm_stats *s);
/* The value of the statistic called name, 0 (and *found false) if absent. */
uint64_t kvm_stats_get(const struct kvm_stats *s, const char *name, bool *found);

#endif /* HV_KVM_STATS_H */
