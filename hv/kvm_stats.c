/* SPDX-License-Identifier: MIT */
/*
 * hv/kvm_stats.c - KVM's binary statistics (KVM_GET_STATS_FD).
 *
 * A stats file starts with struct kvm_stats_header; the descriptors (each
 * struct kvm_stats_desc followed by a name of header.name_size bytes) and the
 * data (u64 values at each descriptor's offset) are where the header says.
 * Values are read with pread, so the same descriptors can be read again for
 * a later snapshot. These are the kernel's counts, not hv's model: hv only
 * reads and prints them.
 */
#include "config.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hv/kvm_stats.h"

/* pread exactly len bytes at off; 0 or -errno (-EIO for a short file). */
static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

void kvm_stats_free(struct kvm_stats *s)
{
	if (!s)
		return;
	free(s->stat);
	s->stat = NULL;
	s->n = 0;
}

int kvm_stats_read(int owner_fd, struct kvm_stats *out)
{
	struct kvm_stats_header h;
	size_t dsz;
	char *descs = NULL;
	int fd, rc;

	/* Precondition: out is zeroed or freed. */
	memset(out, 0, sizeof(*out));
	fd = ioctl(owner_fd, KVM_GET_STATS_FD, NULL);
	if (fd < 0)
		return -errno;
	rc = pread_all(fd, &h, sizeof(h), 0);
	if (rc)
		goto out_close;
	/* The kernel's header bounds what follows; refuse absurd sizes rather
	 * than allocate them. */
	if (h.name_size == 0 || h.name_size > 4096 || h.num_desc > 65536) {
		rc = -EPROTO;
		goto out_close;
	}
	dsz = sizeof(struct kvm_stats_desc) + h.name_size;
	descs = malloc(dsz * h.num_desc);
	out->stat = calloc(h.num_desc ? h.num_desc : 1, sizeof(out->stat[0]));
	if (!descs || !out->stat) {
		rc = -ENOMEM;
		goto out_free;
	}
	rc = pread_all(fd, descs, dsz * h.num_desc, h.desc_offset);
	if (rc)
		goto out_free;
	for (uint32_t i = 0; i < h.num_desc; i++) {
		const struct kvm_stats_desc *d = (const void *)(descs + i * dsz);
		struct kvm_stat *st = &out->stat[out->n];
		uint32_t type = d->flags & KVM_STATS_TYPE_MASK;
		uint64_t sum = 0, v;

		if (d->size == 0)
			continue;
		/* A histogram is summed over its buckets: the number of samples. */
		for (uint16_t j = 0; j < d->size; j++) {
			rc = pread_all(fd, &v, sizeof(v), (uint64_t)h.data_offset + d->offset + 8u * j);
			if (rc)
				goto out_free;
			sum += v;
		}
		memcpy(st->name, d->name, h.name_size < sizeof(st->name) ? h.name_size : sizeof(st->name));
		st->name[sizeof(st->name) - 1] = '\0';
		st->value = sum;
		st->histogram = type == KVM_STATS_TYPE_LINEAR_HIST || type == KVM_STATS_TYPE_LOG_HIST;
		st->peak = type == KVM_STATS_TYPE_PEAK;
		st->instant = type == KVM_STATS_TYPE_INSTANT;
		st->unit = (d->flags & KVM_STATS_UNIT_MASK) >> KVM_STATS_UNIT_SHIFT;
		out->n++;
	}
	rc = 0;
out_free:
	free(descs);
	if (rc)
		kvm_stats_free(out);
out_close:
	close(fd);
	return rc;
}

uint64_t kvm_stats_get(const struct kvm_stats *s, const char *name, bool *found)
{
	for (unsigned i = 0; i < s->n; i++)
		if (strcmp(s->stat[i].name, name) == 0) {
			if (found)
				*found = true;
			return s->stat[i].value;
		}
	if (found)
		*found = false;
	return 0;
}
