/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/debug.c - the debug registers DR0-DR3 and DR7 at work (SDM Vol. 3A
 * 18.2-18.3): instruction breakpoints (faults, checked before an instruction
 * unless RFLAGS.RF is set), data breakpoints on writes or on reads and
 * writes of 1, 2, 4 or 8 aligned bytes, and I/O breakpoints (R/W = 10 with
 * CR4.DE set) on the ports of 1, 2, 4 or 8 aligned bytes at DRn (traps,
 * reported after the instruction: after each element of a REP INS or OUTS,
 * each of which ends with RIP still at the instruction, SDM 18.3.1.2).
 * With CR4.DE clear, R/W = 10 is undefined (SDM 18.2.4); hv's breakpoint
 * then never fires (QEMU does the same), and MOV to or from DR4/DR5, which
 * alias DR6/DR7 then, raises #UD only with CR4.DE set.
 *
 * While DR7 enables any breakpoint, dbg_attn makes every instruction retire
 * through the run loop's slow path (vcpu_soft.c), which reports the data
 * hits with the single-step trap in one #DB; dbg_data makes every data
 * access call dbg_data_access(). MOV SS and POP SS hold the #DB traps of
 * their instruction until the next one retires (dbg_held). On an Intel
 * vCPU an instruction breakpoint on the instruction after MOV SS or POP SS
 * is not taken at all (SDM Vol. 3A 6.8.3: MOV SS blocking inhibits
 * instruction breakpoints); AMD processors take it, and so does hv with the
 * AMD vendor. After STI the breakpoint is taken on both.
 */
#include "hv/cpu/x86.h"

/* Breakpoint i enabled (L or G), and its R/W and LEN fields. */
static bool bp_enabled(uint64_t dr7, unsigned i) { return (dr7 >> (2 * i)) & 3; }
static unsigned bp_rw(uint64_t dr7, unsigned i) { return (unsigned)(dr7 >> (16 + 4 * i)) & 3; }

static uint64_t bp_len(uint64_t dr7, unsigned i)
{
	static const uint8_t len[4] = { 1, 2, 8, 4 };

	return len[(dr7 >> (18 + 4 * i)) & 3];
}

void dbg_update(struct vcpu_soft *v)
{
	bool data = false;

	for (unsigned i = 0; i < 4; i++)
		if (bp_enabled(v->dr7, i) && (bp_rw(v->dr7, i) & 1))
			data = true;
	v->dbg_data = data;
	v->dbg_attn = (v->dr7 & 0xff) != 0 || v->dbg_held != 0;
}

void dbg_data_access(struct vcpu_soft *v, uint64_t lin, unsigned size, bool write)
{
	for (unsigned i = 0; i < 4; i++) {
		unsigned rw = bp_rw(v->dr7, i);
		uint64_t len = bp_len(v->dr7, i), base = v->dr[i] & ~(len - 1);

		if (!bp_enabled(v->dr7, i) || !(rw & 1) || (rw == 1 && !write))
			continue;
		if (lin < base + len && base < lin + size)
			v->dbg_hits |= 1u << i;
	}
}

void dbg_io_access(struct vcpu_soft *v, uint16_t port, unsigned size)
{
	if (!(v->cr4 & CR4_DE))
		return;
	for (unsigned i = 0; i < 4; i++) {
		uint64_t len = bp_len(v->dr7, i), base = v->dr[i] & ~(len - 1);

		if (bp_enabled(v->dr7, i) && bp_rw(v->dr7, i) == 2 && port < base + len &&
		    base < (uint64_t)port + size)
			v->dbg_hits |= 1u << i;
	}
}

uint32_t dbg_exec_hits(const struct vcpu_soft *v, uint64_t lin)
{
	uint32_t hits = 0;

	if (v->ss_shadow && v->shadow_left == 1 && v->vendor != CPU_VENDOR_AMD)
		return 0;  /* the instruction after MOV SS or POP SS */
	for (unsigned i = 0; i < 4; i++)
		if (bp_enabled(v->dr7, i) && bp_rw(v->dr7, i) == 0 && v->dr[i] == lin)
			hits |= 1u << i;
	return hits;
}
