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

/* A4-A7, AA-AF */
int op_string(struct vcpu_soft *v, const struct x86_insn *in)
{
	unsigned op = in->op, size = (op & 1) ? in->osz : 1;
	uint64_t am = size_mask(in->asz);
	bool rep = in->rep != 0;
	int64_t step = (v->rflags & RF_DF) ? -(int64_t)size : (int64_t)size;
	unsigned chunk = 0;
	int st;

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
			if ((st = mem_read(v, in->seg, si, size, &a)) || (st = mem_read(v, SEG_ES, di, size, &b)))
				return st;
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
		if (v->exit_after_retire || ++chunk == 65536) {
			if ((v->gpr[1] & am) != 0) {
				v->next_rip = v->rip;
				v->rep_continues = true;
			}
			break;
		}
	}
	return X86_OK;
}
