/* SPDX-License-Identifier: MIT */
/*
 * ept/pool.c - the host-physical frame pool.
 *
 * Host-physical memory is one sparse anonymous reservation; an HPA is an
 * offset into it. MAP_NORESERVE means the host commits a page only when it is
 * first touched, so a reservation of several TiB costs nothing until used.
 *
 * Allocation hands out naturally aligned runs of 4 KiB, 2 MiB or 1 GiB:
 *
 *   - a bump pointer `top` moves through the reservation in 1 GiB chunks;
 *   - a 2 MiB request with no free 2 MiB run takes a 1 GiB chunk and puts
 *     the 511 other 2 MiB runs on the 2 MiB free list; a 4 KiB request does
 *     the same with a 2 MiB run. Small allocations therefore pack densely and
 *     never waste the alignment of larger ones.
 *   - freed runs go back on the free list of their size (no coalescing: a
 *     freed run is returned to the host with MADV_DONTNEED, so a fragmented
 *     free list costs address space, not memory).
 *
 * Invariant: every byte that is not allocated reads as zero (never touched,
 * or dropped with MADV_DONTNEED, which re-zeroes private anonymous memory), so
 * hpool_alloc never needs to clear memory.
 *
 * With hpool_create_memfd the reservation is a shared mapping of a sparse
 * memfd (HPA = file offset) instead, and a freed run's pages are punched out
 * of the file, which keeps the same invariant.
 *
 * HPA 0 is never handed out, so that 0 can mean "none" everywhere in hv: the
 * first 4 KiB frame is withheld when the first chunk is carved.
 *
 * Owner records (one byte of information per 4 KiB frame) scale with use,
 * not with the reservation: one small record per 1 GiB chunk, a 512-byte
 * array per chunk that has been split into 2 MiB runs, and a 512-byte array
 * per 2 MiB run that has been split into 4 KiB frames.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ept/ept.h"

/* Marker in an owner array: this run is split, look one level down. */
#define OWNER_SPLIT 0xff

enum run_size { RUN_4K, RUN_2M, RUN_1G, RUN_SIZES };

static const uint64_t run_bytes[RUN_SIZES] = { PAGE_SIZE_4K, PAGE_SIZE_2M, PAGE_SIZE_1G };

/* A stack of free run addresses of one size. */
struct freelist {
	uint64_t *hpa;
	size_t len, cap;
};

/*
 * Owner record of one 1 GiB chunk.
 *   owner: FRAME_* of the whole chunk, or OWNER_SPLIT when o2m describes it.
 *   o2m[i]: owner of 2 MiB run i, or OWNER_SPLIT when o4k[i] describes it.
 *   o4k[i][j]: owner of 4 KiB frame j of run i.
 * Arrays are allocated on the first split and kept until hpool_destroy.
 */
struct chunk {
	uint8_t owner;
	uint8_t *o2m;
	uint8_t **o4k;
};

struct hpool_priv {
	uint64_t top;               /* bump pointer, 1 GiB aligned */
	struct chunk *chunks;       /* size >> 30 records */
	struct freelist free[RUN_SIZES];
	uint64_t live[RUN_SIZES];   /* runs of each size currently allocated */
	struct hpool_stats stats;
};

static void hpool_destroy_priv(struct hpool_priv *priv, uint64_t size);
static int withhold_hpa0(struct hpool *pool);

static int pool_create(uint64_t size, bool memfd, struct hpool **out)
{
	struct hpool *pool;
	struct hpool_priv *priv;
	void *base;
	int fd = -1;

	/* Round up to 1 GiB; refuse 0 and sizes that wrap. */
	if (size == 0 || size > UINT64_MAX - (PAGE_SIZE_1G - 1))
		return -EINVAL;
	size = (size + PAGE_SIZE_1G - 1) & ~(PAGE_SIZE_1G - 1);
	/* HPAs are 52-bit (MAXPHYADDR 52 in EPT entries). */
	if (size > (1ULL << 52))
		return -ERANGE;

	pool = calloc(1, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	priv = calloc(1, sizeof(*priv));
	if (!priv)
		goto err_pool;
	priv->chunks = calloc(size >> PAGE_SHIFT_1G, sizeof(*priv->chunks));
	if (!priv->chunks)
		goto err_priv;
	if (memfd) {
		fd = memfd_create("hv-pool", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, (off_t)size) != 0)
			goto err_fd;
		base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	} else {
		base = mmap(NULL, size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	}
	if (base == MAP_FAILED)
		goto err_fd;
	/*
	 * Transparent huge pages where the host offers them on request: a
	 * first touch then brings in a zeroed 2 MiB page with one kernel fault
	 * instead of 512. Runs are handed out densely (above), so a huge page
	 * is rarely brought in for one small run alone. Only advice: a host without
	 * THP (EINVAL) runs as before, and MADV_DONTNEED on part of a huge page
	 * still returns it as zeroes (the invariant above). A memfd's pages
	 * follow the host's shmem setting instead.
	 */
	if (!memfd)
		(void)madvise(base, size, MADV_HUGEPAGE);

	pool->base = base;
	pool->size = size;
	pool->fd = fd;
	pool->priv = priv;
	if (withhold_hpa0(pool))
		goto err_map;
	priv->stats.reserved_bytes = size;
	*out = pool;
	return 0;

err_map:
	pool->priv = NULL;
	hpool_destroy_priv(priv, size);
	munmap(base, size);
	if (fd >= 0)
		close(fd);
	free(pool);
	return -ENOMEM;
err_fd:
	if (fd >= 0)
		close(fd);
	free(priv->chunks);
err_priv:
	free(priv);
err_pool:
	free(pool);
	return -ENOMEM;
}

int hpool_create(uint64_t size, struct hpool **out)
{
	return pool_create(size, false, out);
}

int hpool_create_memfd(uint64_t size, struct hpool **out)
{
	return pool_create(size, true, out);
}

/*
 * Make room so that every run of size s that exists (free or live, plus `extra`
 * about to exist) fits on its free list. hpool_free cannot fail, so the room
 * a free will need is claimed at allocation time.
 */
static int freelist_reserve(struct hpool_priv *priv, enum run_size s, size_t extra)
{
	struct freelist *fl = &priv->free[s];
	size_t need = fl->len + (size_t)priv->live[s] + extra;
	size_t cap;
	uint64_t *n;

	if (need <= fl->cap)
		return 0;
	cap = fl->cap ? fl->cap : 1024;
	while (cap < need)
		cap *= 2;
	n = realloc(fl->hpa, cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	fl->hpa = n;
	fl->cap = cap;
	return 0;
}

/* Owner arrays for a chunk split into 2 MiB runs (all inheriting `owner`). */
static int chunk_split(struct chunk *ch)
{
	if (!ch->o2m) {
		ch->o2m = malloc(512);
		if (!ch->o2m)
			return -ENOMEM;
	}
	if (!ch->o4k) {
		ch->o4k = calloc(512, sizeof(*ch->o4k));
		if (!ch->o4k)
			return -ENOMEM;
	}
	memset(ch->o2m, FRAME_FREE, 512);
	ch->owner = OWNER_SPLIT;
	return 0;
}

static int run2m_split(struct chunk *ch, unsigned i)
{
	if (!ch->o4k[i]) {
		ch->o4k[i] = malloc(512);
		if (!ch->o4k[i])
			return -ENOMEM;
	}
	memset(ch->o4k[i], FRAME_FREE, 512);
	ch->o2m[i] = OWNER_SPLIT;
	return 0;
}

static void set_owner(struct hpool *pool, uint64_t hpa, enum run_size s, uint8_t owner)
{
	struct chunk *ch = &pool->priv->chunks[hpa >> PAGE_SHIFT_1G];
	unsigned i = (hpa >> PAGE_SHIFT_2M) & 511, j = (hpa >> PAGE_SHIFT_4K) & 511;

	switch (s) {
	case RUN_1G:
		ch->owner = owner;
		break;
	case RUN_2M:
		ch->o2m[i] = owner;
		break;
	default:
		ch->o4k[i][j] = owner;
		break;
	}
}

/*
 * Take a free run of size s (not yet owned) into *hpa, carving a larger run
 * when the free list is empty.
 */
static int take_run(struct hpool *pool, enum run_size s, uint64_t *hpa)
{
	struct hpool_priv *priv = pool->priv;
	struct freelist *fl = &priv->free[s];
	uint64_t big, n;
	int err;

	if (fl->len) {
		*hpa = fl->hpa[--fl->len];
		return 0;
	}
	if (s == RUN_1G) {
		if (priv->top >= pool->size)
			return -ENOMEM;
		*hpa = priv->top;
		priv->top += PAGE_SIZE_1G;
		return 0;
	}
	/*
	 * Room first, so that a failure leaves nothing half-done: the 511
	 * siblings plus the run itself once it is freed, and a slot to put
	 * the big run back if splitting its owner record fails.
	 */
	err = freelist_reserve(priv, s, 512);
	if (!err)
		err = freelist_reserve(priv, s + 1, 1);
	if (err)
		return err;
	err = take_run(pool, s + 1, &big);
	if (err)
		return err;
	{
		struct chunk *ch = &priv->chunks[big >> PAGE_SHIFT_1G];

		err = (s == RUN_2M) ? chunk_split(ch) : run2m_split(ch, (big >> PAGE_SHIFT_2M) & 511);
		if (err) {
			/* Put the big run back where it came from. */
			struct freelist *bfl = &priv->free[s + 1];

			bfl->hpa[bfl->len++] = big;
			return err;
		}
	}
	for (n = 511; n >= 1; n--)
		fl->hpa[fl->len++] = big + n * run_bytes[s];
	*hpa = big;
	return 0;
}

/*
 * Split the first chunk down to 4 KiB frames and put everything but frame 0
 * on the free lists, so that HPA 0 is never handed out.
 */
static int withhold_hpa0(struct hpool *pool)
{
	struct hpool_priv *priv = pool->priv;
	struct chunk *ch = &priv->chunks[0];
	uint64_t n;

	if (freelist_reserve(priv, RUN_2M, 511) || freelist_reserve(priv, RUN_4K, 511) ||
	    chunk_split(ch) || run2m_split(ch, 0))
		return -ENOMEM;
	/* Push high to low so that the lowest addresses come out first. */
	for (n = 511; n >= 1; n--)
		priv->free[RUN_2M].hpa[priv->free[RUN_2M].len++] = n << PAGE_SHIFT_2M;
	for (n = 511; n >= 1; n--)
		priv->free[RUN_4K].hpa[priv->free[RUN_4K].len++] = n << PAGE_SHIFT_4K;
	priv->top = PAGE_SIZE_1G;
	return 0;
}

static void hpool_destroy_priv(struct hpool_priv *priv, uint64_t size)
{
	uint64_t nchunks = size >> PAGE_SHIFT_1G, c;

	for (c = 0; c < nchunks; c++) {
		struct chunk *ch = &priv->chunks[c];

		if (ch->o4k) {
			for (unsigned i = 0; i < 512; i++)
				free(ch->o4k[i]);
			free(ch->o4k);
		}
		free(ch->o2m);
	}
	for (unsigned s = 0; s < RUN_SIZES; s++)
		free(priv->free[s].hpa);
	free(priv->chunks);
	free(priv);
}

void hpool_destroy(struct hpool *pool)
{
	if (!pool)
		return;
	hpool_destroy_priv(pool->priv, pool->size);
	munmap(pool->base, pool->size);
	if (pool->fd >= 0)
		close(pool->fd);
	free(pool);
}

static int size_to_run(uint64_t size, enum run_size *s)
{
	switch (size) {
	case PAGE_SIZE_4K: *s = RUN_4K; return 0;
	case PAGE_SIZE_2M: *s = RUN_2M; return 0;
	case PAGE_SIZE_1G: *s = RUN_1G; return 0;
	default: return -EINVAL;
	}
}

int hpool_alloc(struct hpool *pool, uint64_t size, enum frame_owner owner, uint64_t *hpa)
{
	struct hpool_priv *priv = pool->priv;
	struct hpool_stats *st = &priv->stats;
	enum run_size s;
	uint64_t got;
	int err;

	if (size_to_run(size, &s) || (owner != FRAME_HV && owner != FRAME_GUEST))
		return -EINVAL;
	/* Claim the free-list slot this run will need when it is freed. */
	err = freelist_reserve(priv, s, 1);
	if (err)
		return err;
	err = take_run(pool, s, &got);
	if (err)
		return err;
	set_owner(pool, got, s, (uint8_t)owner);
	priv->live[s]++;
	if (owner == FRAME_HV)
		st->hv_bytes += size;
	else
		st->guest_bytes += size;
	if (st->hv_bytes + st->guest_bytes > st->peak_bytes)
		st->peak_bytes = st->hv_bytes + st->guest_bytes;
	st->allocs++;
	*hpa = got;
	return 0;
}

/* Owner of the run of size s at hpa, or OWNER_SPLIT/FRAME_FREE if there is none. */
static uint8_t run_owner(const struct hpool *pool, uint64_t hpa, enum run_size s)
{
	const struct chunk *ch = &pool->priv->chunks[hpa >> PAGE_SHIFT_1G];
	unsigned i = (hpa >> PAGE_SHIFT_2M) & 511, j = (hpa >> PAGE_SHIFT_4K) & 511;

	if (s == RUN_1G || ch->owner != OWNER_SPLIT)
		return ch->owner;
	if (s == RUN_2M || ch->o2m[i] != OWNER_SPLIT)
		return ch->o2m[i];
	return ch->o4k[i][j];
}

void hpool_free(struct hpool *pool, uint64_t hpa, uint64_t size)
{
	struct hpool_priv *priv = pool->priv;
	enum run_size s = RUN_4K;
	uint8_t owner;
	int rc;

	rc = size_to_run(size, &s);
	assert(rc == 0 && (hpa & (size - 1)) == 0 && hpa < pool->size && hpa != 0);
	(void)rc;
	owner = run_owner(pool, hpa, s);
	/* Precondition: the run was allocated at exactly this size. */
	assert(owner == FRAME_HV || owner == FRAME_GUEST);

	/* Give the memory back to the host; it reads as zero when next touched.
	 * MADV_DONTNEED does not drop a shared mapping's file pages: punch them. */
	if (pool->fd >= 0)
		fallocate(pool->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)hpa, (off_t)size);
	else
		madvise(pool->base + hpa, size, MADV_DONTNEED);
	set_owner(pool, hpa, s, FRAME_FREE);
	priv->live[s]--;
	/* Room was reserved by hpool_alloc (freelist_reserve). */
	priv->free[s].hpa[priv->free[s].len++] = hpa;
	if (owner == FRAME_HV)
		priv->stats.hv_bytes -= size;
	else
		priv->stats.guest_bytes -= size;
	priv->stats.frees++;
}

enum frame_owner hpool_owner(const struct hpool *pool, uint64_t hpa)
{
	uint8_t o;

	if (hpa >= pool->size)
		return FRAME_FREE;
	o = run_owner(pool, hpa, RUN_4K);
	return o == OWNER_SPLIT ? FRAME_FREE : (enum frame_owner)o;
}

void hpool_get_stats(const struct hpool *pool, struct hpool_stats *out)
{
	*out = pool->priv->stats;
}
