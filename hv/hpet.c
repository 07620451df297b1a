/* SPDX-License-Identifier: MIT */
/*
 * hv/hpet.c - the high precision event timer block (hv/hpet.h).
 */
#include <stdint.h>

#include "hv/hpet.h"

#define LO32 0xffffffffULL

static bool enabled(const struct hpet *h)
{
	return (h->config & HPET_CFG_ENABLE) != 0;
}

/* The main counter at TSC `tsc`. */
static uint64_t count_at(const struct hpet *h, uint64_t tsc)
{
	if (!enabled(h))
		return h->counter;
	return h->counter + (tsc > h->base_tsc ? (tsc - h->base_tsc) / HPET_TICK_TSC : 0);
}

uint64_t hpet_counter(const struct hpet *h)
{
	return count_at(h, h->clock(h->ctx));
}

bool hpet_legacy(const struct hpet *h)
{
	return (h->config & HPET_CFG_LEGACY) != 0;
}

/* The line timer n drives: LEG_RT_CNF takes timers 0 and 1 to ISA IRQs 0
 * and 8 (HPET 1.0a 2.3.5), otherwise INT_ROUTE. */
static unsigned route(const struct hpet *h, unsigned n)
{
	if (hpet_legacy(h) && n <= 1)
		return n == 0 ? 0 : 8;
	return (unsigned)((h->t[n].config & HPET_TN_ROUTE) >> HPET_TN_ROUTE_SHIFT);
}

int hpet_timer_line(const struct hpet *h, unsigned n)
{
	if (n >= HPET_TIMERS || !enabled(h) || !(h->t[n].config & HPET_TN_ENABLE))
		return -1;
	return (int)route(h, n);
}

/* Counter ticks from `cur` to timer t's comparator: the comparator's lead
 * as a signed difference of the timer's width, one tick when it is not
 * ahead. */
static uint64_t cmp_lead(const struct hpet_timer *t, uint64_t cur)
{
	if (t->config & HPET_TN_32BIT) {
		uint32_t d = (uint32_t)t->cmp - (uint32_t)cur;

		return (int32_t)d > 0 ? d : 1;
	}
	return (int64_t)(t->cmp - cur) > 0 ? t->cmp - cur : 1;
}

/* Arm timer t at counter value `cur`; a 32MODE one-shot timer first fires
 * where the low 32 bits of the counter reach all-ones, if that comes
 * sooner. */
static void arm(struct hpet_timer *t, uint64_t cur)
{
	uint64_t d = cmp_lead(t, cur);

	t->wrap = false;
	if ((t->config & HPET_TN_32BIT) && !(t->config & HPET_TN_PERIODIC)) {
		uint32_t to_wrap = 0xffffffffu - (uint32_t)cur;

		if (to_wrap < d) {
			d = to_wrap;
			t->wrap = true;
		}
	}
	t->due = cur + d;
	t->armed = true;
}

static void irq_lower(struct hpet *h, unsigned n)
{
	uint64_t bit = 1ULL << n;

	if (!(h->isr & bit))
		return;
	h->isr &= ~bit;
	if (h->set_irq)
		h->set_irq(h->ctx, route(h, n), 0);
}

static void irq_raise(struct hpet *h, unsigned n)
{
	unsigned line = route(h, n);

	if (!enabled(h) || !(h->t[n].config & HPET_TN_ENABLE)) {
		irq_lower(h, n);
		return;
	}
	h->fired++;
	if (h->t[n].config & HPET_TN_LEVEL) {
		h->isr |= 1ULL << n;
		if (h->set_irq)
			h->set_irq(h->ctx, line, 1);
	} else if (h->set_irq) {
		h->set_irq(h->ctx, line, 1);
		h->set_irq(h->ctx, line, 0);
	}
}

static void disarm(struct hpet *h, unsigned n)
{
	h->t[n].armed = false;
	irq_lower(h, n);
}

/* Timer n's comparator matched at counter value `cur`. */
static void fire(struct hpet *h, unsigned n, uint64_t cur)
{
	struct hpet_timer *t = &h->t[n];

	if ((t->config & HPET_TN_PERIODIC) && t->period) {
		/* Add the period as many times as it takes to pass the counter
		 * (a late look skips the periods in between, as QEMU does). */
		if (t->config & HPET_TN_32BIT) {
			uint32_t behind = (uint32_t)cur - (uint32_t)t->cmp;
			uint64_t k = (int32_t)behind >= 0 ? behind / t->period + 1 : 0;

			t->cmp = (uint32_t)(t->cmp + k * t->period);
		} else {
			uint64_t behind = cur - t->cmp;
			uint64_t k = (int64_t)behind >= 0 ? behind / t->period + 1 : 0;

			t->cmp += k * t->period;
		}
		arm(t, cur);
	} else if (t->wrap) {
		/* The 32-bit wrap: now the comparator itself. */
		t->wrap = false;
		t->due = cur + cmp_lead(t, cur);
	} else {
		t->armed = false;
	}
	irq_raise(h, n);
}

void hpet_advance(struct hpet *h)
{
	uint64_t cur;

	if (!enabled(h))
		return;
	cur = hpet_counter(h);
	for (unsigned n = 0; n < HPET_TIMERS; n++)
		if (h->t[n].armed && (int64_t)(cur - h->t[n].due) >= 0)
			fire(h, n, cur);
}

uint64_t hpet_timer_next(const struct hpet *h, unsigned n)
{
	uint64_t ticks;

	if (n >= HPET_TIMERS || !h->t[n].armed || !enabled(h))
		return UINT64_MAX;
	ticks = h->t[n].due - h->counter;
	if ((int64_t)ticks < 0)
		return h->base_tsc;
	if (ticks > (UINT64_MAX - h->base_tsc) / HPET_TICK_TSC)
		return UINT64_MAX;
	return h->base_tsc + ticks * HPET_TICK_TSC;
}

uint64_t hpet_next_event(const struct hpet *h)
{
	uint64_t next = UINT64_MAX;

	for (unsigned n = 0; n < HPET_TIMERS; n++) {
		uint64_t t = hpet_timer_next(h, n);

		if (t < next)
			next = t;
	}
	return next;
}

void hpet_legacy_irq(struct hpet *h, unsigned irq, int level)
{
	if (irq == 8)
		h->rtc_level = level;
	if (!hpet_legacy(h) && h->set_irq)
		h->set_irq(h->ctx, irq, level);
}

void hpet_init(struct hpet *h, uint64_t (*clock)(void *),
	       void (*set_irq)(void *, unsigned, int), void *ctx)
{
	*h = (struct hpet){ .clock = clock, .set_irq = set_irq, .ctx = ctx };
	for (unsigned n = 0; n < HPET_TIMERS; n++) {
		h->t[n].config = HPET_TN_PER_CAP | HPET_TN_SIZE_CAP | HPET_INT_ROUTE_CAP << 32;
		h->t[n].cmp = UINT64_MAX;
	}
}

/* The 32-bit register at `off` (a multiple of 4). */
static uint32_t read32(const struct hpet *h, uint64_t off)
{
	uint64_t v = 0;

	if (off >= HPET_REG_TIMER(0)) {
		unsigned n = (unsigned)((off - HPET_REG_TIMER(0)) / 0x20);

		if (n >= HPET_TIMERS)
			return 0;
		switch ((off - HPET_REG_TIMER(0)) % 0x20 & ~7u) {
		case HPET_TN_CFG: v = h->t[n].config; break;
		case HPET_TN_CMP: v = h->t[n].cmp; break;
		case HPET_TN_FSB: v = h->t[n].fsb; break;
		default: return 0;
		}
	} else {
		switch (off & ~7u) {
		case HPET_REG_CAP: v = HPET_CAP_ID | HPET_PERIOD_FS << 32; break;
		case HPET_REG_CFG: v = h->config; break;
		case HPET_REG_ISR: v = h->isr; break;
		case HPET_REG_COUNTER: v = hpet_counter(h); break;
		default: return 0;
		}
	}
	return (uint32_t)(off & 4 ? v >> 32 : v);
}

static void write_cfg(struct hpet *h, uint64_t v)
{
	uint64_t old = h->config, now = h->clock(h->ctx);
	uint64_t cur = count_at(h, now);

	h->config = v & (HPET_CFG_ENABLE | HPET_CFG_LEGACY);
	if (!(old & HPET_CFG_ENABLE) && enabled(h)) {
		/* The counter runs from here; armed at its value now. */
		h->base_tsc = now;
		for (unsigned n = 0; n < HPET_TIMERS; n++)
			if (h->t[n].cmp != UINT64_MAX)
				arm(&h->t[n], cur);
	} else if ((old & HPET_CFG_ENABLE) && !enabled(h)) {
		h->counter = cur;
		for (unsigned n = 0; n < HPET_TIMERS; n++)
			disarm(h, n);
	}
	if (!h->set_irq)
		return;
	if (!(old & HPET_CFG_LEGACY) && hpet_legacy(h)) {
		h->set_irq(h->ctx, 0, 0);
		h->set_irq(h->ctx, 8, 0);
	} else if ((old & HPET_CFG_LEGACY) && !hpet_legacy(h)) {
		h->set_irq(h->ctx, 0, 0);
		h->set_irq(h->ctx, 8, h->rtc_level);
	}
}

static void write_timer(struct hpet *h, unsigned n, uint64_t reg, uint64_t v, uint64_t m)
{
	struct hpet_timer *t = &h->t[n];

	if (reg == HPET_TN_CFG) {
		uint64_t old = t->config, w = m & HPET_TN_WRITABLE;

		t->config = (old & ~w) | (v & w);
		if (v & m & HPET_TN_32BIT) {
			t->cmp = (uint32_t)t->cmp;
			t->period = (uint32_t)t->period;
		}
		if (!(old & HPET_TN_ENABLE) && (t->config & HPET_TN_ENABLE) && enabled(h))
			arm(t, hpet_counter(h));
		else if ((old & HPET_TN_ENABLE) && !(t->config & HPET_TN_ENABLE))
			disarm(h, n);
	} else if (reg == HPET_TN_CMP) {
		if (t->config & HPET_TN_32BIT)
			m &= LO32;
		if (!(t->config & HPET_TN_PERIODIC) || (t->config & HPET_TN_SETVAL))
			t->cmp = (t->cmp & ~m) | (v & m);
		if (t->config & HPET_TN_PERIODIC) {
			uint64_t max = t->config & HPET_TN_32BIT ? LO32 >> 1 : UINT64_MAX >> 1;

			t->period = ((t->period & ~m) | (v & m)) & max;
		}
		t->config &= ~HPET_TN_SETVAL;
		if (enabled(h))
			arm(t, hpet_counter(h));
	} else if (reg == HPET_TN_FSB) {
		t->fsb = (t->fsb & ~m) | (v & m);
	}
}

/* A write of the bytes `m` of the 64-bit register at `off` (a multiple of
 * 8), `v` in place. */
static void write64(struct hpet *h, uint64_t off, uint64_t v, uint64_t m)
{
	if (off >= HPET_REG_TIMER(0)) {
		unsigned n = (unsigned)((off - HPET_REG_TIMER(0)) / 0x20);

		if (n < HPET_TIMERS)
			write_timer(h, n, (off - HPET_REG_TIMER(0)) % 0x20, v, m);
		return;
	}
	switch (off) {
	case HPET_REG_CFG:
		if (m & LO32)
			write_cfg(h, (h->config & ~m) | (v & m));
		break;
	case HPET_REG_ISR:
		for (unsigned n = 0; n < HPET_TIMERS; n++)
			if (v & m & h->isr & (1ULL << n))
				irq_lower(h, n);
		break;
	case HPET_REG_COUNTER:
		/* Software halts the counter before writing it (2.3.7). */
		if (!enabled(h))
			h->counter = (h->counter & ~m) | (v & m);
		break;
	default:
		break;
	}
}

static uint64_t hpet_read(struct device *dev, uint64_t off, unsigned size)
{
	struct hpet *h = dev->priv;
	uint64_t v = 0;

	hpet_advance(h);
	for (unsigned i = 0; i < size; i++) {
		uint64_t a = off + i;

		v |= (uint64_t)(read32(h, a & ~3ULL) >> (a & 3) * 8 & 0xff) << i * 8;
	}
	return v;
}

static void hpet_write(struct device *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct hpet *h = dev->priv;

	hpet_advance(h);
	if (size == 8 && !(off & 7))
		write64(h, off, val, UINT64_MAX);
	else if (size == 4 && !(off & 3))
		write64(h, off & ~7ULL, val << (off & 4) * 8, LO32 << (off & 4) * 8);
}

/*
 * Power-up (a PC's reset, or its wake from S3): the registers as hpet_init
 * leaves them. Lines the timers hold high go low, and with legacy
 * replacement leaving, the RTC's line reaches IRQ 8 again at its level. The
 * wiring, the RTC's level and the count of interrupts raised stay.
 */
static void hpet_reset(struct device *dev)
{
	struct hpet *h = dev->priv;
	uint64_t fired = h->fired;
	int rtc_level = h->rtc_level;
	bool legacy = hpet_legacy(h);

	for (unsigned n = 0; n < HPET_TIMERS; n++)
		irq_lower(h, n);
	if (legacy && h->set_irq) {
		h->set_irq(h->ctx, 0, 0);
		h->set_irq(h->ctx, 8, rtc_level);
	}
	hpet_init(h, h->clock, h->set_irq, h->ctx);
	h->fired = fired;
	h->rtc_level = rtc_level;
}

const struct device_ops hpet_ops = {
	.name = "hpet", .space = DEV_MMIO, .base = HPET_BASE, .len = HPET_LEN,
	.read = hpet_read, .write = hpet_write, .reset = hpet_reset,
};
