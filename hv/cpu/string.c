/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/string.c - the string instructions MOVS, CMPS, STOS, LODS, SCAS
 * with REP/REPE/REPNE (SDM Vol. 2B REP). INS and OUTS are port I/O
 * (system.c).
 */
#include "hv/cpu/flags.h"
#include "hv/cpu/mem.h"
#include "hv/cpu/optab.h"

/* CMPS and SCAS compare as CMP does: the flags of a - b. */
static inline void str_cmp(struct vcpu_soft *v, unsigned size, uint64_t a, uint64_t b)
{
	lf_set(v, LF_SUB, size, a, b, (a - b) & size_mask(size));
}

/*
 * The fast path of REP MOVS and REP STOS, in 64-bit mode with 64-bit
 * addresses and DF=0 (docs/softcpu.md, "String instructions"). It is
 * called after an element went the ordinary way (op_string below) and takes
 * the rest of that element's page(s) at once when they are RAM the model's
 * shortcut holds. Every element is still counted as the ordinary path counts
 * it: one translation per operand, in order. The next element's
 * translations are made with mmu_translate_hit(); when they hit, the
 * elements after it on the same pages would hit the same slots with nothing
 * else reaching the MMU in between, so they are added with mmu_hit_count(),
 * in an order that leaves the same final LRU stamps (reads and writes
 * alternate: all but the last pair, then the last read, then the last
 * write). The data moves with one memset/memmove, or element by element
 * when a forward copy overlaps its own destination. A page end, a shortcut
 * miss, a device page or a fault leaves the rest to the ordinary path.
 * Returns how many elements it did (RCX, RSI, RDI updated); *st is not
 * X86_OK only when the element it started fails as the ordinary path would.
 */
static uint64_t rep_fast(struct vcpu_soft *v, const struct x86_insn *in, unsigned size,
			 uint64_t limit, int *st)
{
	bool movs = in->op <= 0xa5;
	uint64_t cnt = v->gpr[1], di = v->gpr[7], si = v->gpr[6], n, dhpa, shpa = 0;
	uint64_t slin = si + (in->seg >= SEG_FS ? v->seg[in->seg].base : 0);

	*st = X86_OK;
	/* The element before may have left fetches deferred (xlate); the hits
	 * below are counted as if nothing were. */
	fetch_settle(v);
	n = (4096 - (di & 0xfff)) / size;
	if (movs && (4096 - (slin & 0xfff)) / size < n)
		n = (4096 - (slin & 0xfff)) / size;
	if (cnt < n)
		n = cnt;
	if (limit < n)
		n = limit;
	if (n < 2)
		return 0;
	if (movs) {
		uint64_t val = 0;

		if (!mmu_translate_hit(v->hit, slin, ACC_READ, &shpa))
			return 0;
		v->stats.loads++;
		if (!mmu_translate_hit(v->hit, di, ACC_WRITE, &dhpa)) {
			/* The read was made: finish this element the ordinary way. */
			copy_small(&val, hpool_ptr(v->pool, shpa), size);
			if ((*st = mem_write(v, SEG_ES, di, size, val)))
				return 0;
			v->gpr[6] = si + size;
			v->gpr[7] = di + size;
			v->gpr[1] = cnt - 1;
			return 1;
		}
		v->stats.stores++;
		if (n > 2) {
			mmu_hit_count(v->hit, slin, ACC_READ, n - 2);
			mmu_hit_count(v->hit, di, ACC_WRITE, n - 2);
		}
		mmu_hit_count(v->hit, slin, ACC_READ, 1);
		mmu_hit_count(v->hit, di, ACC_WRITE, 1);
		v->stats.loads += n - 1;
		v->stats.stores += n - 1;
		uint8_t *d = hpool_ptr(v->pool, dhpa);
		const uint8_t *s = hpool_ptr(v->pool, shpa);
		if (dhpa > shpa && dhpa < shpa + n * size) {
			/* Forward copy into itself: element by element, as the guest asked. */
			for (uint64_t k = 0; k < n; k++) {
				uint64_t e;

				copy_small(&e, s + k * size, size);
				copy_small(d + k * size, &e, size);
			}
		} else {
			memmove(d, s, n * size);
		}
		v->gpr[6] = si + n * size;
	} else {
		uint64_t val = v->gpr[0] & size_mask(size);

		if (!mmu_translate_hit(v->hit, di, ACC_WRITE, &dhpa))
			return 0;
		v->stats.stores++;
		mmu_hit_count(v->hit, di, ACC_WRITE, n - 1);
		v->stats.stores += n - 1;
		uint8_t *d = hpool_ptr(v->pool, dhpa);
		if (val == 0 || size == 1) {
			memset(d, (int)val, n * size);
		} else {
			for (uint64_t k = 0; k < n; k++)
				copy_small(d + k * size, &val, size);
		}
	}
	code_store(v, dhpa);
	v->gpr[7] = di + n * size;
	v->gpr[1] = cnt - n;
	return n;
}

/* A4-A7, AA-AF */
int op_string(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned op = in->op, size = (op & 1) ? in->osz : 1;
	uint64_t am = size_mask(in->asz);
	bool rep = in->rep != 0;
	int64_t step = (v->rflags & RF_DF) ? -(int64_t)size : (int64_t)size;
	unsigned chunk = 0;
	int st;
	/* The fast path's conditions (rep_fast). */
	bool fast = rep && (op <= 0xa5 || op == 0xaa || op == 0xab) && v->mode == 64 &&
		    in->asz == 8 && step > 0;

	for (;;) {
		uint64_t cnt = v->gpr[1] & am;
		if (rep && cnt == 0)
			break;
		uint64_t si = v->gpr[6] & am, di = v->gpr[7] & am, a, b;
		bool stop = false;
		switch (op) {
		case 0xa4: case 0xa5: /* MOVS */
			if ((st = mem_read(v, in->seg, si, size, &a)) || (st = mem_write(v, SEG_ES, di, size, a)))
				return st;
			areg_write(v, 6, am, si + (uint64_t)step);
			areg_write(v, 7, am, di + (uint64_t)step);
			break;
		case 0xa6: case 0xa7: /* CMPS */
			/* Two loads: a value hv gave the first survives the
			 * second's MMIO exit, else each would ask again for ever. */
			v->mmio_hold = true;
			st = mem_read(v, in->seg, si, size, &a);
			v->mmio_hold = false;
			if (!st && (st = mem_read(v, SEG_ES, di, size, &b)) != X86_EXIT && st)
				mmio_read_done(v);
			if (st)
				return st;
			mmio_read_done(v);
			str_cmp(v, size, a, b);
			areg_write(v, 6, am, si + (uint64_t)step);
			areg_write(v, 7, am, di + (uint64_t)step);
			stop = true;
			break;
		case 0xaa: case 0xab: /* STOS */
			if ((st = mem_write(v, SEG_ES, di, size, v->gpr[0] & size_mask(size))))
				return st;
			areg_write(v, 7, am, di + (uint64_t)step);
			break;
		case 0xac: case 0xad: /* LODS */
			if ((st = mem_read(v, in->seg, si, size, &a)))
				return st;
			reg_set(v, in, 0, size, a);
			areg_write(v, 6, am, si + (uint64_t)step);
			break;
		default: /* SCAS */
			if ((st = mem_read(v, SEG_ES, di, size, &b)))
				return st;
			str_cmp(v, size, v->gpr[0] & size_mask(size), b);
			areg_write(v, 7, am, di + (uint64_t)step);
			stop = true;
			break;
		}
		if (!rep)
			break;
		areg_write(v, 1, am, cnt - 1);
		/* REPE/REPNE end on ZF for CMPS and SCAS (SDM Vol. 2B REP). */
		if (stop && (in->rep == 0xf3 ? !lf_zf(v) : lf_zf(v)))
			break;
		/*
		 * An MMIO write ends the iteration: hv must see every element. Long
		 * repeats yield every 64 Ki elements so that run()'s budget and
		 * interrupts are honoured; the instruction then continues (counted once).
		 */
		if (!v->exit_after_retire && ++chunk < 65536 && fast) {
			chunk += (unsigned)rep_fast(v, in, size, 65536 - chunk, &st);
			if (st)
				return st;
		}
		if (v->exit_after_retire || chunk >= 65536) {
			if ((v->gpr[1] & am) != 0) {
				v->next_rip = v->rip;
				v->rep_continues = true;
			}
			break;
		}
	}
	return X86_OK;
}
