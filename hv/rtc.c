/* SPDX-License-Identifier: MIT */
/*
 * hv/rtc.c - the MC146818 real-time clock and CMOS RAM (hv/rtc.h).
 */
#include <stdint.h>
#include <string.h>

#include "hv/acpi.h"
#include "hv/rtc.h"

#define DAY_SECONDS  86400
#define UIP_CYCLES   8          /* 244 us before the update */
#define NO_ALARM_CACHE INT64_MAX

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

int64_t rtc_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	/* March-based years: the leap day is the last day of a year. */
	int64_t era, yoe, doy, doe;

	if (m <= 2)
		y--;
	era = floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static bool chain_on(const struct rtc *r)
{
	return (r->cmos[RTC_REG_A] & 0x70) == 0x20;
}

static bool updating(const struct rtc *r)
{
	return chain_on(r) && !(r->cmos[RTC_REG_B] & RTC_B_SET);
}

/* The periodic interrupt's period in chain cycles, 0 for none. */
static uint64_t period_cycles(const struct rtc *r)
{
	unsigned rs = r->cmos[RTC_REG_A] & 0xf;

	if (rs == 0)
		return 0;
	if (rs <= 2)
		rs += 7;
	return 1ULL << (rs - 1);
}

/* The chain's cycle at a TSC (cycle k starts at TSC base_tsc +
 * ceil((k - base_cycle) * 10^9 / 32768)), and the TSC at which a cycle starts. */
static uint64_t cycle_of(const struct rtc *r, uint64_t tsc)
{
	if (tsc < r->base_tsc)
		return r->base_cycle;
	return r->base_cycle + dev_scale(tsc - r->base_tsc, RTC_HZ, 0, PC_TSC_HZ);
}

static uint64_t cycle_tsc(const struct rtc *r, uint64_t k)
{
	return r->base_tsc + dev_scale(k - r->base_cycle, PC_TSC_HZ, RTC_HZ - 1, RTC_HZ);
}

static uint64_t enc(const struct rtc *r, unsigned v)
{
	return (r->cmos[RTC_REG_B] & RTC_B_DM) ? v : ((v / 10) << 4) | (v % 10);
}

static unsigned dec(const struct rtc *r, uint8_t b)
{
	return (r->cmos[RTC_REG_B] & RTC_B_DM) ? b : (b >> 4) * 10u + (b & 0xfu);
}

static uint8_t enc_hour(const struct rtc *r, unsigned h)
{
	if (r->cmos[RTC_REG_B] & RTC_B_24H)
		return (uint8_t)enc(r, h);
	return (uint8_t)(enc(r, h % 12 ? h % 12 : 12) | (h >= 12 ? 0x80 : 0));
}

static unsigned dec_hour(const struct rtc *r, uint8_t b)
{
	if (r->cmos[RTC_REG_B] & RTC_B_24H)
		return dec(r, b);
	return dec(r, b & 0x7f) % 12 + (b & 0x80 ? 12 : 0);
}

/* The time and date registers (0-9 without the alarms, and the century)
 * of epoch second t, into regs[]. */
static void encode_time(const struct rtc *r, int64_t t, uint8_t regs[128])
{
	int64_t days = floor_div(t, DAY_SECONDS), y;
	unsigned s = (unsigned)(t - days * DAY_SECONDS), m, d;

	civil_from_days(days, &y, &m, &d);
	regs[RTC_SEC] = (uint8_t)enc(r, s % 60);
	regs[RTC_MIN] = (uint8_t)enc(r, s / 60 % 60);
	regs[RTC_HOUR] = enc_hour(r, s / 3600);
	regs[RTC_WDAY] = (uint8_t)(floor_div(days + 4, 7) * -7 + days + 4 + 1);  /* 1970-01-01: Thursday */
	regs[RTC_MDAY] = (uint8_t)enc(r, d);
	regs[RTC_MONTH] = (uint8_t)enc(r, m);
	regs[RTC_YEAR] = (uint8_t)enc(r, (unsigned)(y % 100));
	regs[RTC_CENTURY] = (uint8_t)enc(r, (unsigned)(y / 100 % 100));
}

/* The epoch second the registers in regs[] name. */
static int64_t decode_time(const struct rtc *r, const uint8_t regs[128])
{
	unsigned m = dec(r, regs[RTC_MONTH]);
	int64_t y = (int64_t)dec(r, regs[RTC_CENTURY]) * 100 + dec(r, regs[RTC_YEAR]);
	int64_t days;

	m = m < 1 ? 1 : m > 12 ? 12 : m;
	days = rtc_days_from_civil(y, m, 1) + (int64_t)dec(r, regs[RTC_MDAY]) - 1;
	return days * DAY_SECONDS + (int64_t)dec_hour(r, regs[RTC_HOUR]) * 3600 +
	       (int64_t)dec(r, regs[RTC_MIN]) * 60 + dec(r, regs[RTC_SEC]);
}

static int64_t now_sec(const struct rtc *r)
{
	return r->base_sec + (int64_t)(r->last / RTC_HZ);
}

static bool is_time_reg(unsigned reg)
{
	return reg == RTC_SEC || reg == RTC_MIN || reg == RTC_HOUR || reg == RTC_WDAY ||
	       reg == RTC_MDAY || reg == RTC_MONTH || reg == RTC_YEAR || reg == RTC_CENTURY;
}

/* Does second t match the alarm registers? */
static bool alarm_match(const struct rtc *r, int64_t t)
{
	int64_t days = floor_div(t, DAY_SECONDS);
	unsigned s = (unsigned)(t - days * DAY_SECONDS);
	const uint8_t want[3] = { r->cmos[RTC_SEC_ALARM], r->cmos[RTC_MIN_ALARM], r->cmos[RTC_HOUR_ALARM] };
	const uint8_t have[3] = { (uint8_t)enc(r, s % 60), (uint8_t)enc(r, s / 60 % 60), enc_hour(r, s / 3600) };

	for (unsigned i = 0; i < 3; i++)
		if ((want[i] & 0xc0) != 0xc0 && want[i] != have[i])
			return false;
	return true;
}

/* The first second >= from that matches the alarm, -1 for none (the
 * pattern repeats every day). */
static int64_t alarm_search(struct rtc *r, int64_t from)
{
	if (r->alarm_from != NO_ALARM_CACHE && from >= r->alarm_from &&
	    (r->alarm_at < 0 || from <= r->alarm_at))
		return r->alarm_at < 0 ? -1 : r->alarm_at;
	r->alarm_from = from;
	r->alarm_at = -1;
	for (int64_t t = from; t < from + DAY_SECONDS; t++)
		if (alarm_match(r, t)) {
			r->alarm_at = t;
			break;
		}
	return r->alarm_at;
}

static void update_irq(struct rtc *r)
{
	int level = (r->cmos[RTC_REG_C] & r->cmos[RTC_REG_B] & 0x70) != 0;

	if (level)
		r->cmos[RTC_REG_C] |= RTC_C_IRQF;
	else
		r->cmos[RTC_REG_C] &= (uint8_t)~RTC_C_IRQF;
	if (level == r->irq_level)
		return;
	r->irq_level = level;
	if (level)
		r->irq_edges++;
	if (r->set_irq)
		r->set_irq(r->ctx, RTC_IRQ, level);
}

void rtc_advance(struct rtc *r)
{
	uint64_t c, prev, p = period_cycles(r);

	if (!chain_on(r))
		return;
	c = cycle_of(r, r->clock(r->ctx));
	if (c <= r->last)
		return;
	prev = r->last;
	r->last = c;
	if (p && c / p > prev / p)
		r->cmos[RTC_REG_C] |= RTC_C_PF;
	if (updating(r) && c / RTC_HZ > prev / RTC_HZ) {
		int64_t first = r->base_sec + (int64_t)(prev / RTC_HZ) + 1;
		int64_t a = alarm_search(r, first);

		r->cmos[RTC_REG_C] |= RTC_C_UF;
		if (a >= 0 && a <= now_sec(r))
			r->cmos[RTC_REG_C] |= RTC_C_AF;
	}
	update_irq(r);
}

/* Hold the time in the registers (SET, or the divider leaving 010). */
static void freeze(struct rtc *r)
{
	encode_time(r, now_sec(r), r->cmos);
}

/* Take the time from the registers (SET cleared): the current second of
 * the chain is the registers' second. */
static void thaw(struct rtc *r)
{
	r->base_sec = decode_time(r, r->cmos) - (int64_t)(r->last / RTC_HZ);
}

uint64_t rtc_next_event(struct rtc *r)
{
	uint64_t next = UINT64_MAX, p = period_cycles(r);
	uint8_t b = r->cmos[RTC_REG_B];

	if (r->irq_level || !chain_on(r))
		return UINT64_MAX;
	if ((b & RTC_B_PIE) && p)
		next = (r->last / p + 1) * p;
	if (updating(r) && (b & RTC_B_UIE)) {
		uint64_t u = (r->last / RTC_HZ + 1) * RTC_HZ;

		next = u < next ? u : next;
	}
	if (updating(r) && (b & RTC_B_AIE)) {
		int64_t a = alarm_search(r, now_sec(r) + 1);

		if (a >= 0) {
			uint64_t k = (uint64_t)(a - r->base_sec) * RTC_HZ;

			next = k < next ? k : next;
		}
	}
	return next == UINT64_MAX ? UINT64_MAX : cycle_tsc(r, next);
}

uint8_t rtc_peek(struct rtc *r, unsigned reg)
{
	reg &= 0x7f;
	rtc_advance(r);
	if (reg == RTC_REG_A)
		return (uint8_t)(r->cmos[RTC_REG_A] |
				 (updating(r) && r->last % RTC_HZ >= RTC_HZ - UIP_CYCLES ? RTC_A_UIP : 0));
	if (reg == RTC_REG_D)
		return 0x80;
	if (is_time_reg(reg) && updating(r)) {
		uint8_t regs[128];

		encode_time(r, now_sec(r), regs);
		return regs[reg];
	}
	return r->cmos[reg];
}

uint8_t rtc_read(struct rtc *r, unsigned reg)
{
	uint8_t v = rtc_peek(r, reg);

	if ((reg & 0x7f) == RTC_REG_C) {
		r->cmos[RTC_REG_C] = 0;
		update_irq(r);
	}
	return v;
}

void rtc_write(struct rtc *r, unsigned reg, uint8_t val)
{
	reg &= 0x7f;
	rtc_advance(r);
	switch (reg) {
	case RTC_REG_A: {
		bool was_on = chain_on(r), was_updating = updating(r);

		if (was_updating)
			freeze(r);
		r->cmos[RTC_REG_A] = val & 0x7f;
		if (chain_on(r) && !was_on) {
			/* Out of reset: the first update comes half a second later. */
			r->base_tsc = r->clock(r->ctx);
			r->base_cycle = r->last = RTC_HZ / 2;
		}
		if (updating(r))
			thaw(r);
		break;
	}
	case RTC_REG_B:
		if (val & RTC_B_SET)
			val &= (uint8_t)~RTC_B_UIE;
		if (updating(r) && (val & RTC_B_SET))
			freeze(r);
		else if (chain_on(r) && (r->cmos[RTC_REG_B] & RTC_B_SET) && !(val & RTC_B_SET)) {
			r->cmos[RTC_REG_B] = val;
			thaw(r);
		}
		r->cmos[RTC_REG_B] = val;
		r->alarm_from = NO_ALARM_CACHE;
		break;
	case RTC_REG_C:
	case RTC_REG_D:
		return;
	default:
		if (is_time_reg(reg) && updating(r)) {
			/* Replace one field of the running time, keeping the
			 * fraction of the second. */
			int64_t cur = now_sec(r);

			encode_time(r, cur, r->cmos);
			r->cmos[reg] = val;
			r->base_sec += decode_time(r, r->cmos) - cur;
		} else {
			r->cmos[reg] = val;
		}
		if (reg == RTC_SEC_ALARM || reg == RTC_MIN_ALARM || reg == RTC_HOUR_ALARM)
			r->alarm_from = NO_ALARM_CACHE;
		break;
	}
	update_irq(r);
}

/* Port 0x70 selects a register (bit 7, the NMI mask on a PC, is dropped);
 * port 0x71 reads and writes it. A wider access covers both ports. */
static uint64_t rtc_port_read(struct device *dev, uint64_t off, unsigned size)
{
	struct rtc *r = dev->priv;
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)(off + i == 1 ? rtc_read(r, r->index) : 0xff) << (8 * i);
	return v;
}

static void rtc_port_write(struct device *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct rtc *r = dev->priv;

	for (unsigned i = 0; i < size; i++) {
		uint8_t b = (uint8_t)(val >> (8 * i));

		if (off + i == 0)
			r->index = b & 0x7f;
		else if (off + i == 1)
			rtc_write(r, r->index, b);
	}
}

void rtc_init(struct rtc *r, uint64_t (*clock)(void *), void (*set_irq)(void *, unsigned, int),
	      void *ctx, uint64_t ram_low, uint64_t ram_high, unsigned ncpus)
{
	uint64_t ext = ram_low > (1 << 20) ? (ram_low - (1 << 20)) / 1024 : 0;
	uint64_t above16 = ram_low > (16 << 20) ? (ram_low - (16 << 20)) / 65536 : 0;
	uint64_t above4g = ram_high / 65536;

	*r = (struct rtc){ .clock = clock, .set_irq = set_irq, .ctx = ctx,
			   .base_sec = RTC_BASE_EPOCH, .alarm_from = NO_ALARM_CACHE };
	r->cmos[RTC_REG_A] = 0x26;              /* 32.768 kHz, 1024 Hz periodic rate */
	r->cmos[RTC_REG_B] = RTC_B_24H;         /* BCD, 24-hour */
	encode_time(r, RTC_BASE_EPOCH, r->cmos);
	ext = ext > 0xffff ? 0xffff : ext;
	above16 = above16 > 0xffff ? 0xffff : above16;
	r->cmos[0x15] = 640 & 0xff;
	r->cmos[0x16] = 640 >> 8;
	r->cmos[0x17] = r->cmos[0x30] = (uint8_t)ext;
	r->cmos[0x18] = r->cmos[0x31] = (uint8_t)(ext >> 8);
	r->cmos[0x34] = (uint8_t)above16;
	r->cmos[0x35] = (uint8_t)(above16 >> 8);
	r->cmos[0x5b] = (uint8_t)above4g;
	r->cmos[0x5c] = (uint8_t)(above4g >> 8);
	r->cmos[0x5d] = (uint8_t)(above4g >> 16);
	r->cmos[0x5f] = (uint8_t)(ncpus ? ncpus - 1 : 0);
	r->last = cycle_of(r, clock(ctx));     /* the chain at cycle 0 at TSC 0 */
}

const struct device_ops rtc_ops = {
	.name = "rtc", .space = DEV_PIO, .base = RTC_BASE_PORT, .len = 2,
	.read = rtc_port_read, .write = rtc_port_write,
};
