/* SPDX-License-Identifier: MIT */
/*
 * hv/lapic.c - the local APIC (hv/lapic.h; Intel SDM Vol. 3A chapter 11).
 *
 * One register file serves both interfaces: the xAPIC page (MMIO, 32-bit
 * accesses at 16-byte aligned offsets) and the x2APIC MSRs, which add their
 * own rules (read-only ID and LDR, a 64-bit ICR, SELF IPI, #GP for reserved
 * bits) on top.
 */
#include <errno.h>
#include <string.h>

#include "hv/lapic.h"

/* LVT index by register: timer, thermal, perf, LINT0, LINT1, error. */
enum { LVT_TIMER = 0, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR };

/* Writable bits of each LVT entry (SDM 11.5.1, Figure 11-8). Bit 18 of the
 * timer entry selects TSC-deadline mode (CPUID.01H:ECX[24]). */
static const uint32_t lvt_wmask[LAPIC_NLVT] = {
	[LVT_TIMER] = APIC_LVT_VECTOR | APIC_LVT_MASKED | APIC_LVT_TIMER_MODE,
	[LVT_THERMAL] = APIC_LVT_VECTOR | APIC_LVT_DM_MASK | APIC_LVT_MASKED,
	[LVT_PERF] = APIC_LVT_VECTOR | APIC_LVT_DM_MASK | APIC_LVT_MASKED,
	[LVT_LINT0] = APIC_LVT_VECTOR | APIC_LVT_DM_MASK | APIC_LVT_POLARITY | APIC_LVT_LEVEL |
		      APIC_LVT_MASKED,
	[LVT_LINT1] = APIC_LVT_VECTOR | APIC_LVT_DM_MASK | APIC_LVT_POLARITY | APIC_LVT_LEVEL |
		      APIC_LVT_MASKED,
	[LVT_ERROR] = APIC_LVT_VECTOR | APIC_LVT_MASKED,
};

#define SVR_WMASK (0xffu | APIC_SVR_ENABLE | APIC_SVR_FOCUS)

static uint64_t now(const struct lapic *a)
{
	return a->host.clock(a->host.ctx);
}

/* ------------------------------------------------------------------------ */
/* 256-bit vector registers (IRR, ISR, TMR)                                 */
/* ------------------------------------------------------------------------ */

static bool vec_test(const uint32_t *r, unsigned v)
{
	return (r[v / 32] >> (v % 32)) & 1;
}

static void vec_set(uint32_t *r, unsigned v)
{
	r[v / 32] |= 1u << (v % 32);
}

static void vec_clear(uint32_t *r, unsigned v)
{
	r[v / 32] &= ~(1u << (v % 32));
}

/* The highest set vector, or -1. */
static int vec_highest(const uint32_t *r)
{
	for (int i = 7; i >= 0; i--)
		if (r[i])
			return i * 32 + 31 - __builtin_clz(r[i]);
	return -1;
}

/* ------------------------------------------------------------------------ */
/* Priorities and delivery (SDM 11.8)                                       */
/* ------------------------------------------------------------------------ */

uint32_t lapic_ppr(const struct lapic *a)
{
	int isrv = vec_highest(a->isr);
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;

	/* SDM 11.8.3.1: PPR = TPR when TPR[7:4] >= ISRV[7:4], else ISRV[7:4]:0. */
	return (a->tpr & 0xf0) >= isr_class ? a->tpr & 0xff : isr_class;
}

int lapic_pending(const struct lapic *a)
{
	int v;

	if (!lapic_hw_enabled(a))
		return -1;
	v = vec_highest(a->irr);
	/* Only a priority class above the processor priority is delivered. */
	if (v < 0 || ((uint32_t)v & 0xf0) <= (lapic_ppr(a) & 0xf0))
		return -1;
	return v;
}

uint8_t lapic_ack(struct lapic *a)
{
	int v = lapic_pending(a);

	if (v < 0)
		return (uint8_t)(a->svr & 0xff);
	vec_clear(a->irr, (unsigned)v);
	vec_set(a->isr, (unsigned)v);
	return (uint8_t)v;
}

static bool sw_enabled(const struct lapic *a)
{
	return lapic_hw_enabled(a) && (a->svr & APIC_SVR_ENABLE);
}

/* Accept a fixed interrupt into IRR. An illegal vector (0-15) sets `esr_bit`
 * instead (SDM 11.5.3). */
static bool accept(struct lapic *a, unsigned vector, bool level, uint32_t esr_bit)
{
	if (!sw_enabled(a))
		return false;
	if (vector < 16) {
		a->esr_pending |= esr_bit;
		return false;
	}
	vec_set(a->irr, vector);
	if (level)
		vec_set(a->tmr, vector);
	else
		vec_clear(a->tmr, vector);
	return true;
}

bool lapic_deliver(struct lapic *a, uint8_t vector, bool level)
{
	return accept(a, vector, level, APIC_ESR_RECV_ILLEGAL);
}

/* A local interrupt through one LVT entry: ignored while masked; fixed
 * and NMI delivery (the other modes are counted). */
static void lvt_fire(struct lapic *a, unsigned lvt)
{
	uint32_t e = a->lvt[lvt];
	unsigned dm = (e & APIC_LVT_DM_MASK) >> APIC_LVT_DM_SHIFT;

	if (e & APIC_LVT_MASKED)
		return;
	/* The timer and error entries have no delivery-mode field: fixed. */
	if (lvt == LVT_TIMER || lvt == LVT_ERROR)
		dm = APIC_DM_FIXED;
	if (dm == APIC_DM_NMI) {
		a->nmi++;
		a->nmi_pending = true;
		return;
	}
	if (dm != APIC_DM_FIXED)
		return;
	accept(a, e & APIC_LVT_VECTOR, false, APIC_ESR_RECV_ILLEGAL);
}

bool lapic_accepts_pic(const struct lapic *a)
{
	uint32_t lint0 = a->lvt[LVT_LINT0];

	if (!lapic_hw_enabled(a))
		return true;
	return !(lint0 & APIC_LVT_MASKED) &&
	       ((lint0 & APIC_LVT_DM_MASK) >> APIC_LVT_DM_SHIFT) == APIC_DM_EXTINT;
}

static void eoi(struct lapic *a)
{
	int v = vec_highest(a->isr);

	if (v < 0)
		return;
	vec_clear(a->isr, (unsigned)v);
	/* A level-triggered interrupt's EOI goes to the IOAPIC (SDM 11.8.5).
	 * TMR keeps the trigger mode until the vector is accepted again. */
	if (vec_test(a->tmr, (unsigned)v) && a->host.eoi)
		a->host.eoi(a->host.ctx, (uint8_t)v);
}

/* ------------------------------------------------------------------------ */
/* Destinations (SDM 11.6.2)                                                */
/* ------------------------------------------------------------------------ */

static uint32_t x2apic_ldr(uint32_t id)
{
	/* SDM 11.12.10.2: cluster ID in 31:16, one bit of the cluster in 15:0. */
	return ((id >> 4) << 16) | (1u << (id & 0xf));
}

/* Does `dest` (physical or logical) name this APIC? `wide`: a 32-bit x2APIC
 * destination rather than an 8-bit one. */
static bool dest_match(const struct lapic *a, uint32_t dest, bool logical, bool wide)
{
	if (lapic_x2apic_mode(a) && wide) {
		if (dest == 0xffffffffu)
			return true;
		if (!logical)
			return dest == a->id;
		return (dest >> 16) == (a->ldr >> 16) && (dest & a->ldr & 0xffff) != 0;
	}
	dest &= 0xff;
	if (dest == 0xff)
		return true;
	if (!logical)
		return dest == (lapic_x2apic_mode(a) ? a->id : a->id >> 24);
	if (lapic_x2apic_mode(a))
		return (dest & a->ldr & 0xff) != 0;  /* an 8-bit logical MSI in x2APIC mode */
	if ((a->dfr >> 28) == 0xf)  /* flat model */
		return (dest & (a->ldr >> 24)) != 0;
	/* cluster model: cluster in 7:4, members in 3:0 */
	return (dest >> 4) == (a->ldr >> 28) && (dest & (a->ldr >> 24) & 0xf) != 0;
}

/* An interrupt message this APIC sent or received, after destination
 * matching: fixed and lowest-priority vectors are accepted, an NMI latched
 * for the vCPU, the rest counted. */
static int message(struct lapic *a, unsigned dm, unsigned vector, bool level, uint32_t esr_bit)
{
	switch (dm) {
	case APIC_DM_FIXED:
	case APIC_DM_LOWEST:
		return accept(a, vector, level, esr_bit) ? 0 : vector < 16 ? -ERANGE : -ENXIO;
	case APIC_DM_NMI:
		a->nmi++;
		a->nmi_pending = true;
		return 0;
	case APIC_DM_INIT:
		a->init++;
		return -EOPNOTSUPP;
	case APIC_DM_STARTUP:
		a->sipi++;
		return -EOPNOTSUPP;
	case APIC_DM_SMI:
		a->smi++;
		return -EOPNOTSUPP;
	default:
		return -EOPNOTSUPP;
	}
}

/* A write to ICR low (xAPIC) or ICR (x2APIC) sends the IPI (SDM 11.6.1). */
static void send_ipi(struct lapic *a, uint32_t lo, uint32_t dest)
{
	unsigned shorthand = (lo >> APIC_ICR_SHORTHAND_SHIFT) & 3;
	unsigned dm = (lo >> 8) & 7;
	bool to_self;

	switch (shorthand) {
	case APIC_DEST_SELF:
	case APIC_DEST_ALLINC:
		to_self = true;
		break;
	case APIC_DEST_ALLBUT:
		to_self = false;
		break;
	default:
		to_self = dest_match(a, dest, lo & APIC_ICR_DEST_LOGICAL, true);
		break;
	}
	/* Every other processor of the shorthand or destination: none exists. */
	if (shorthand == APIC_DEST_ALLINC || shorthand == APIC_DEST_ALLBUT ||
	    (shorthand == APIC_DEST_NOSHORT && !to_self))
		a->ipi_dropped++;
	if (!to_self)
		return;
	/* A level-triggered INIT de-assert is a no-op on modern processors. */
	if (dm == APIC_DM_INIT && (lo & APIC_ICR_TRIGGER_LEVEL) && !(lo & APIC_ICR_LEVEL_ASSERT))
		return;
	(void)message(a, dm, lo & 0xff, false, APIC_ESR_SEND_ILLEGAL | APIC_ESR_RECV_ILLEGAL);
}

int lapic_msi(struct lapic *a, uint64_t addr, uint32_t data)
{
	uint32_t dest = (uint32_t)(addr >> MSI_ADDR_DEST_SHIFT) & 0xff;
	unsigned dm = (data >> MSI_DATA_DM_SHIFT) & 7;

	if ((addr & MSI_ADDR_BASE_MASK) != MSI_ADDR_BASE || (addr >> 32) ||
	    (addr & MSI_ADDR_IR_FORMAT))
		return -EINVAL;
	if (!sw_enabled(a) || !dest_match(a, dest, addr & MSI_ADDR_DM_LOGICAL, false))
		return -ENXIO;
	a->msis++;
	return message(a, dm, data & MSI_DATA_VECTOR, (data & MSI_DATA_TRIGGER_LEVEL) != 0,
		       APIC_ESR_RECV_ILLEGAL);
}

/* ------------------------------------------------------------------------ */
/* Timer (SDM 11.5.4)                                                        */
/* ------------------------------------------------------------------------ */

static unsigned timer_mode(const struct lapic *a)
{
	return a->lvt[LVT_TIMER] & APIC_LVT_TIMER_MODE;
}

/* Divide configuration bits 3,1:0 -> log2 of the divisor (Figure 11-10):
 * 000 -> 2, 001 -> 4, ..., 110 -> 128, 111 -> 1. */
static unsigned divide_shift(uint32_t tdcr)
{
	unsigned v = (tdcr & 3) | ((tdcr >> 1) & 4);

	return (v + 1) & 7;
}

/* Timer ticks (after the divider) elapsed since tm_base. */
static uint64_t ticks_since_base(const struct lapic *a, uint64_t t)
{
	return t > a->tm_base ? (t - a->tm_base) >> a->tm_shift : 0;
}

uint32_t lapic_timer_count(const struct lapic *a, uint64_t t)
{
	uint64_t e;

	if (!a->armed || timer_mode(a) == APIC_LVT_TIMER_TSCDEADLINE)
		return 0;
	e = ticks_since_base(a, t);
	if (e < a->cnt_base)
		return (uint32_t)(a->cnt_base - e);
	if (timer_mode(a) != APIC_LVT_TIMER_PERIODIC || a->tmict == 0)
		return 0;
	/* Periodic: reloaded from the initial count at every expiry. */
	return (uint32_t)(a->tmict - (e - a->cnt_base) % a->tmict);
}

/* Start counting down from `count` now. */
static void timer_start(struct lapic *a, uint32_t count, uint64_t t)
{
	a->tm_base = t;
	a->cnt_base = count;
	a->tm_fired = 0;
	a->armed = count != 0;
}

uint64_t lapic_next_event(const struct lapic *a)
{
	uint64_t ticks;

	if (!a->armed)
		return UINT64_MAX;
	if (timer_mode(a) == APIC_LVT_TIMER_TSCDEADLINE)
		return a->deadline;
	/* The k-th expiry (k = tm_fired) is cnt_base + k * tmict timer ticks
	 * after tm_base. */
	if (timer_mode(a) == APIC_LVT_TIMER_PERIODIC)
		ticks = a->cnt_base + a->tm_fired * (uint64_t)a->tmict;
	else
		ticks = a->cnt_base;
	ticks <<= a->tm_shift;
	return a->tm_base + ticks < a->tm_base ? UINT64_MAX : a->tm_base + ticks;
}

void lapic_advance(struct lapic *a)
{
	uint64_t t = now(a), next = lapic_next_event(a);

	if (next > t)
		return;
	a->timer_irqs++;
	lvt_fire(a, LVT_TIMER);
	switch (timer_mode(a)) {
	case APIC_LVT_TIMER_TSCDEADLINE:
		/* SDM 11.5.4.1: the deadline MSR reads 0 once the timer fired. */
		a->deadline = 0;
		a->armed = false;
		break;
	case APIC_LVT_TIMER_PERIODIC:
		if (a->tmict == 0) {
			a->armed = false;
			break;
		}
		/* Expiries missed in between merge into the one IRR bit. */
		a->tm_fired = (ticks_since_base(a, t) - a->cnt_base) / a->tmict + 1;
		break;
	default:
		a->armed = false;
		break;
	}
}

/* LVT timer write: a change between TSC-deadline and the count modes disarms
 * the timer (SDM 11.5.4.1). */
static void write_lvt_timer(struct lapic *a, uint32_t val)
{
	uint32_t old = timer_mode(a);
	uint64_t t = now(a);

	lapic_advance(a);
	if (old != (val & APIC_LVT_TIMER_MODE) &&
	    (old == APIC_LVT_TIMER_TSCDEADLINE || (val & APIC_LVT_TIMER_MODE) == APIC_LVT_TIMER_TSCDEADLINE)) {
		a->armed = false;
		a->tmict = 0;
		a->deadline = 0;
	} else if (a->armed && old != (val & APIC_LVT_TIMER_MODE)) {
		/* One-shot <-> periodic: keep counting from where the count is. */
		timer_start(a, lapic_timer_count(a, t), t);
	}
	a->lvt[LVT_TIMER] = val;
}

static void write_tdcr(struct lapic *a, uint32_t val)
{
	uint64_t t = now(a);

	lapic_advance(a);
	if (a->armed && timer_mode(a) != APIC_LVT_TIMER_TSCDEADLINE)
		timer_start(a, lapic_timer_count(a, t), t);
	a->tdcr = val & 0xb;
	a->tm_shift = divide_shift(a->tdcr);
}

static void write_tmict(struct lapic *a, uint32_t val)
{
	/* SDM 11.5.4.1: in TSC-deadline mode writes to the initial count are ignored. */
	if (timer_mode(a) == APIC_LVT_TIMER_TSCDEADLINE)
		return;
	a->tmict = val;
	timer_start(a, val, now(a));
}

static void write_deadline(struct lapic *a, uint64_t val)
{
	/* Outside TSC-deadline mode the MSR ignores writes (SDM 11.5.4.1). */
	if (timer_mode(a) != APIC_LVT_TIMER_TSCDEADLINE)
		return;
	a->deadline = val;
	a->armed = val != 0;
	lapic_advance(a);
}

/* ------------------------------------------------------------------------ */
/* Registers                                                                */
/* ------------------------------------------------------------------------ */

void lapic_reset(struct lapic *a)
{
	/* SDM 11.4.7.1: power-up and reset state. */
	a->id = lapic_x2apic_mode(a) ? a->initial_id : a->initial_id << 24;
	a->tpr = 0;
	a->ldr = lapic_x2apic_mode(a) ? x2apic_ldr(a->initial_id) : 0;
	a->dfr = 0xffffffffu;
	a->svr = 0xff;
	a->esr = a->esr_pending = 0;
	a->icr_lo = a->icr_hi = 0;
	for (unsigned i = 0; i < LAPIC_NLVT; i++)
		a->lvt[i] = APIC_LVT_MASKED;
	a->tmict = 0;
	a->tdcr = 0;
	a->tm_shift = divide_shift(0);
	memset(a->irr, 0, sizeof(a->irr));
	memset(a->isr, 0, sizeof(a->isr));
	memset(a->tmr, 0, sizeof(a->tmr));
	a->armed = false;
	a->tm_base = a->tm_fired = 0;
	a->cnt_base = 0;
	a->deadline = 0;
}

void lapic_init(struct lapic *a, uint32_t id, const struct lapic_host *host)
{
	memset(a, 0, sizeof(*a));
	a->host = *host;
	a->initial_id = id;
	a->base = APIC_DEFAULT_BASE | APIC_BASE_EN | APIC_BASE_BSP;
	lapic_reset(a);
}

int lapic_set_base(struct lapic *a, uint64_t val, unsigned maxphyaddr)
{
	uint64_t addr_mask = ((1ULL << maxphyaddr) - 1) & ~0xfffULL;
	uint64_t mode_old = a->base & (APIC_BASE_EN | APIC_BASE_EXTD);
	uint64_t mode_new = val & (APIC_BASE_EN | APIC_BASE_EXTD);

	if (val & ~(addr_mask | APIC_BASE_EN | APIC_BASE_EXTD | APIC_BASE_BSP))
		return -EINVAL;
	/* SDM 11.12.5, Figure 11-27: EXTD without EN is invalid; x2APIC ->
	 * xAPIC and disabled -> x2APIC are not allowed. */
	if (mode_new == APIC_BASE_EXTD)
		return -EINVAL;
	if (mode_old == (APIC_BASE_EN | APIC_BASE_EXTD) && mode_new == APIC_BASE_EN)
		return -EINVAL;
	if (mode_old == 0 && mode_new == (APIC_BASE_EN | APIC_BASE_EXTD))
		return -EINVAL;
	/* The BSP flag is read-only. */
	a->base = (val & ~APIC_BASE_BSP) | (a->base & APIC_BASE_BSP);
	if (mode_new == 0) {
		/* Disabling resets the APIC's state (SDM 11.4.3). */
		lapic_reset(a);
	} else if (mode_new != mode_old && (mode_new & APIC_BASE_EXTD)) {
		/* Entering x2APIC mode: the ID becomes the 32-bit x2APIC ID and
		 * LDR is derived from it (SDM 11.12.5.1). */
		a->id = a->initial_id;
		a->ldr = x2apic_ldr(a->initial_id);
	}
	return 0;
}

void lapic_set_cr8(struct lapic *a, uint8_t cr8)
{
	a->tpr = (uint32_t)(cr8 & 0xf) << 4;
}

/* Register read by 16-byte-aligned offset. */
static uint32_t reg_read(struct lapic *a, unsigned off)
{
	lapic_advance(a);
	switch (off) {
	case APIC_ID: return a->id;
	case APIC_VERSION: return APIC_VERSION_VALUE;
	case APIC_TPR: return a->tpr;
	case APIC_APR: return 0;
	case APIC_PPR: return lapic_ppr(a);
	case APIC_LDR: return a->ldr;
	case APIC_DFR: return a->dfr;
	case APIC_SVR: return a->svr;
	case APIC_ESR: return a->esr;
	case APIC_ICR: return a->icr_lo & ~APIC_ICR_BUSY;  /* delivered at once: idle */
	case APIC_ICR2: return a->icr_hi;
	case APIC_TMICT: return a->tmict;
	case APIC_TMCCT: return lapic_timer_count(a, now(a));
	case APIC_TDCR: return a->tdcr;
	default:
		break;
	}
	if (off >= APIC_LVTT && off <= APIC_LVTERR)
		return a->lvt[(off - APIC_LVTT) >> 4];
	if (off >= APIC_ISR && off < APIC_ISR + 0x80)
		return a->isr[(off - APIC_ISR) >> 4];
	if (off >= APIC_TMR && off < APIC_TMR + 0x80)
		return a->tmr[(off - APIC_TMR) >> 4];
	if (off >= APIC_IRR && off < APIC_IRR + 0x80)
		return a->irr[(off - APIC_IRR) >> 4];
	return 0;
}

static void write_svr(struct lapic *a, uint32_t val)
{
	a->svr = val & SVR_WMASK;
	/* SDM 11.4.7.2: software-disabling masks every LVT entry. */
	if (!(a->svr & APIC_SVR_ENABLE))
		for (unsigned i = 0; i < LAPIC_NLVT; i++)
			a->lvt[i] |= APIC_LVT_MASKED;
}

/* Register write by 16-byte-aligned offset; false for a read-only or absent
 * register (the x2APIC path turns that into #GP). */
static bool reg_write(struct lapic *a, unsigned off, uint32_t val)
{
	lapic_advance(a);
	switch (off) {
	case APIC_ID:
		a->id = val & 0xff000000u;
		return true;
	case APIC_TPR:
		a->tpr = val & 0xff;
		return true;
	case APIC_EOI:
		eoi(a);
		return true;
	case APIC_LDR:
		a->ldr = val & 0xff000000u;
		return true;
	case APIC_DFR:
		a->dfr = (val & 0xf0000000u) | 0x0fffffffu;
		return true;
	case APIC_SVR:
		write_svr(a, val);
		return true;
	case APIC_ESR:
		/* A write latches the errors seen since the last one (SDM 11.5.3). */
		a->esr = a->esr_pending;
		a->esr_pending = 0;
		return true;
	case APIC_ICR:
		a->icr_lo = val & ~APIC_ICR_BUSY;
		send_ipi(a, val, a->icr_hi >> 24);
		return true;
	case APIC_ICR2:
		a->icr_hi = val & 0xff000000u;
		return true;
	case APIC_TMICT:
		write_tmict(a, val);
		return true;
	case APIC_TDCR:
		write_tdcr(a, val);
		return true;
	default:
		break;
	}
	if (off >= APIC_LVTT && off <= APIC_LVTERR) {
		unsigned i = (off - APIC_LVTT) >> 4;

		val &= lvt_wmask[i];
		if (!(a->svr & APIC_SVR_ENABLE))
			val |= APIC_LVT_MASKED;
		if (i == LVT_TIMER)
			write_lvt_timer(a, val);
		else
			a->lvt[i] = val;
		return true;
	}
	return false;
}

uint32_t lapic_mmio_read32(struct lapic *a, unsigned off)
{
	return reg_read(a, off & 0xff0);
}

void lapic_mmio_write32(struct lapic *a, unsigned off, uint32_t val)
{
	if (off & 0xf)
		return;
	(void)reg_write(a, off, val);
}

/*
 * The xAPIC page. Registers are 32 bits wide at 16-byte-aligned offsets and
 * the SDM asks for aligned 32-bit accesses (11.4.1); narrower reads return
 * the bytes they cover, other writes are ignored (KVM does the same). In
 * x2APIC mode or with the APIC globally disabled the page is not decoded:
 * reads return all-ones and writes are dropped.
 */
static uint64_t lapic_mmio_read(struct device *dev, uint64_t off, unsigned size)
{
	struct lapic *a = dev->priv;
	unsigned shift = (unsigned)(off & 3) * 8;

	if (!lapic_hw_enabled(a) || lapic_x2apic_mode(a))
		return dev_ones(size);
	if ((off & 0xf) + size > 4)
		return 0;
	return ((uint64_t)lapic_mmio_read32(a, (unsigned)off) >> shift) & dev_ones(size);
}

static void lapic_mmio_write(struct device *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct lapic *a = dev->priv;

	if (!lapic_hw_enabled(a) || lapic_x2apic_mode(a) || size != 4)
		return;
	lapic_mmio_write32(a, (unsigned)off, (uint32_t)val);
}

static void lapic_mmio_reset(struct device *dev)
{
	lapic_reset(dev->priv);
}

const struct device_ops lapic_mmio_ops = {
	.name = "local-apic",
	.space = DEV_MMIO,
	.base = APIC_DEFAULT_BASE,
	.len = 0x1000,
	.read = lapic_mmio_read,
	.write = lapic_mmio_write,
	.reset = lapic_mmio_reset,
};

/* ------------------------------------------------------------------------ */
/* x2APIC MSRs (SDM 11.12.1.2, Table 11-6)                                   */
/* ------------------------------------------------------------------------ */

/* Does the x2APIC interface have register `off`, and may it be read/written? */
static bool x2apic_readable(unsigned off)
{
	switch (off) {
	case APIC_ID: case APIC_VERSION: case APIC_TPR: case APIC_PPR: case APIC_LDR:
	case APIC_SVR: case APIC_ESR: case APIC_ICR: case APIC_TMICT: case APIC_TMCCT:
	case APIC_TDCR:
		return true;
	default:
		return (off >= APIC_ISR && off < APIC_IRR + 0x80) ||
		       (off >= APIC_LVTT && off <= APIC_LVTERR);
	}
}

int lapic_msr_read(struct lapic *a, uint32_t msr, uint64_t *val)
{
	unsigned off;

	if (msr == MSR_IA32_TSC_DEADLINE) {
		lapic_advance(a);
		*val = timer_mode(a) == APIC_LVT_TIMER_TSCDEADLINE ? a->deadline : 0;
		return 0;
	}
	if (msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST || !lapic_x2apic_mode(a))
		return -EINVAL;
	off = (msr - MSR_X2APIC_FIRST) << 4;
	if (!x2apic_readable(off))
		return -EINVAL;
	*val = reg_read(a, off);
	if (off == APIC_ICR)
		*val |= (uint64_t)a->icr_hi << 32;
	return 0;
}

int lapic_msr_write(struct lapic *a, uint32_t msr, uint64_t val)
{
	unsigned off;

	if (msr == MSR_IA32_TSC_DEADLINE) {
		write_deadline(a, val);
		return 0;
	}
	if (msr < MSR_X2APIC_FIRST || msr > MSR_X2APIC_LAST || !lapic_x2apic_mode(a))
		return -EINVAL;
	off = (msr - MSR_X2APIC_FIRST) << 4;
	/* Everything but the ICR is 32 bits wide: the upper half is reserved. */
	if (off != APIC_ICR && (val >> 32))
		return -EINVAL;
	switch (off) {
	case APIC_TPR:
		if (val & ~0xffULL)
			return -EINVAL;
		break;
	case APIC_EOI:
	case APIC_ESR:
		/* SDM 11.12.1.2: a non-zero write is #GP. */
		if (val)
			return -EINVAL;
		break;
	case APIC_SVR:
		if (val & ~(uint64_t)SVR_WMASK)
			return -EINVAL;
		break;
	case APIC_TDCR:
		if (val & ~0xbULL)
			return -EINVAL;
		break;
	case APIC_ICR:
		a->icr_lo = (uint32_t)val & ~APIC_ICR_BUSY;
		a->icr_hi = (uint32_t)(val >> 32);
		lapic_advance(a);
		send_ipi(a, (uint32_t)val, (uint32_t)(val >> 32));
		return 0;
	case APIC_SELF_IPI:
		if (val & ~0xffULL)
			return -EINVAL;
		lapic_advance(a);
		(void)accept(a, (unsigned)val, false, APIC_ESR_SEND_ILLEGAL | APIC_ESR_RECV_ILLEGAL);
		return 0;
	case APIC_TMICT:
		break;
	default:
		if (off >= APIC_LVTT && off <= APIC_LVTERR) {
			if (val & ~(uint64_t)(lvt_wmask[(off - APIC_LVTT) >> 4] | APIC_LVT_STATUS |
					      APIC_LVT_REMOTE_IRR))
				return -EINVAL;
			break;
		}
		/* ID, version, PPR, LDR, ISR/TMR/IRR, current count: read-only;
		 * APR, RRD, DFR, ICR2: absent. */
		return -EINVAL;
	}
	return reg_write(a, off, (uint32_t)val) ? 0 : -EINVAL;
}
