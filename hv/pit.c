/* SPDX-License-Identifier: MIT */
/*
 * hv/pit.c - the 8254 interval timer on the guest's TSC (hv/pit.h).
 */
#include "hv/pit.h"

#include "hv/acpi.h"

uint64_t pit_tick(uint64_t tsc)
{
	return dev_scale(tsc, PIT_HZ, 0, PC_TSC_HZ);
}

uint64_t pit_tick_tsc(uint64_t tick)
{
	return dev_scale(tick, PC_TSC_HZ, PIT_HZ - 1, PIT_HZ);
}

static uint64_t now_tick(const struct pit *p)
{
	return pit_tick(p->clock(p->ctx));
}

static bool is_bcd(const struct pit_channel *c)
{
	return c->ctrl & 1;
}

static unsigned rw_mode(const struct pit_channel *c)
{
	return (c->ctrl >> 4) & 3;
}

/* Does the gate let the counter count? Modes 1 and 5 count on once triggered. */
static bool running(const struct pit_channel *c)
{
	return c->gate || c->mode == 1 || c->mode == 5;
}

/* Ticks counted since the count was loaded (or triggered). */
static uint64_t elapsed(const struct pit_channel *c, uint64_t now)
{
	if (!c->counting)
		return 0;
	return c->paused + (running(c) && now > c->start ? now - c->start : 0);
}

static bool out_at(const struct pit_channel *c, uint64_t now)
{
	uint64_t d = elapsed(c, now), n = c->count;

	if (!c->counting)
		return c->mode != 0;
	switch (c->mode) {
	case 0:
	case 1:
		return d >= n;
	case 2:
		return !running(c) || d % n != n - 1;
	case 3:
		return !running(c) || d % n < (n + 1) / 2;
	default:  /* 4, 5 */
		return d != n;
	}
}

static uint16_t to_bcd(unsigned v)
{
	return (uint16_t)(v % 10 | (v / 10 % 10) << 4 | (v / 100 % 10) << 8 | (v / 1000 % 10) << 12);
}

static unsigned from_bcd(uint16_t v)
{
	return (v & 0xf) + (v >> 4 & 0xf) * 10 + (v >> 8 & 0xf) * 100 + (v >> 12 & 0xf) * 1000;
}

static uint16_t count_at(const struct pit_channel *c, uint64_t now)
{
	uint64_t d = elapsed(c, now), n = c->count, m = is_bcd(c) ? 10000 : 65536, v;

	switch (c->mode) {
	case 2:
		v = n - d % n;
		break;
	case 3:
		v = n - (2 * d) % n;
		break;
	default:
		v = (n + m - d % m) % m;
		break;
	}
	v %= m;
	return is_bcd(c) ? to_bcd((unsigned)v) : (uint16_t)v;
}

uint16_t pit_count(const struct pit *p, unsigned c)
{
	return count_at(&p->ch[c], now_tick(p));
}

bool pit_out(const struct pit *p, unsigned c)
{
	return out_at(&p->ch[c], now_tick(p));
}

/* The first tick after `after` at which counter 0's OUT rises, or UINT64_MAX. */
static uint64_t next_rise(const struct pit_channel *c, uint64_t after)
{
	uint64_t n = c->count, d;

	if (!c->counting || !running(c))
		return UINT64_MAX;
	d = after > c->start ? after - c->start : 0;
	switch (c->mode) {
	case 2:
	case 3:
		return c->start + (d / n + 1) * n;
	case 0:
	case 1:
		return d < n ? c->start + n : UINT64_MAX;
	default:
		return d < n + 1 ? c->start + n + 1 : UINT64_MAX;
	}
}

/* Rising edges of OUT in the ticks (a, b]. */
static uint64_t rises(const struct pit_channel *c, uint64_t a, uint64_t b)
{
	uint64_t t = next_rise(c, a);

	if (t > b)
		return 0;
	if (c->mode == 2 || c->mode == 3)
		return (b - c->start) / c->count - (t - c->start) / c->count + 1;
	return 1;
}

/* Is counter 0 as pit_advance() left it (struct pit, seen), in every field
 * out_at() and next_rise() read? */
static bool seen_same(const struct pit *p)
{
	const struct pit_channel *c = &p->ch[0], *s = &p->seen;

	return p->seen_ok && p->irq_level == p->seen_level && c->start == s->start &&
	       c->paused == s->paused && c->count == s->count && c->mode == s->mode &&
	       c->counting == s->counting && c->gate == s->gate;
}

void pit_advance(struct pit *p)
{
	const struct pit_channel *c = &p->ch[0];
	uint64_t now = now_tick(p);
	int level;

	/* The same tick, the same counter: no edge, the same level (next_rise()
	 * is after the tick it is asked about, and the level is out_at()'s). */
	if (now == p->last_tick && seen_same(p))
		return;
	if (now < p->last_tick)
		p->last_tick = now;
	level = out_at(c, now);
	if (rises(c, p->last_tick, now)) {
		if (p->irq_level && p->set_irq)
			p->set_irq(p->ctx, PIT_IRQ, 0);
		if (p->set_irq)
			p->set_irq(p->ctx, PIT_IRQ, 1);
		p->irq_level = 1;
		p->irq_edges++;
	}
	if (level != p->irq_level) {
		if (p->set_irq)
			p->set_irq(p->ctx, PIT_IRQ, level);
		if (level)
			p->irq_edges++;
		p->irq_level = level;
	}
	p->last_tick = now;
	p->seen_ok = true;
	p->seen_level = p->irq_level;
	p->seen = *c;
	p->seen_next = next_rise(c, now);
}

uint64_t pit_next_event(const struct pit *p)
{
	uint64_t t = seen_same(p) ? p->seen_next : next_rise(&p->ch[0], p->last_tick);

	return t == UINT64_MAX ? t : pit_tick_tsc(t);
}

static void load(struct pit_channel *c, uint16_t v, uint64_t now)
{
	if (is_bcd(c))
		c->count = v ? from_bcd(v) : 10000;
	else
		c->count = v ? v : 65536;
	if (!c->count)  /* BCD digits above 9 that sum to 0 cannot happen; be safe */
		c->count = 10000;
	c->null_count = false;
	c->start = now;
	c->paused = 0;
	c->counting = c->mode != 1 && c->mode != 5;
}

static void latch_count(struct pit_channel *c, uint64_t now)
{
	if (c->latch_bytes)
		return;
	c->latch = count_at(c, now);
	c->latch_bytes = rw_mode(c) == 3 ? 2 : 1;
}

static void control(struct pit *p, uint8_t v, uint64_t now)
{
	unsigned sc = v >> 6;
	struct pit_channel *c;

	if (sc == 3) {  /* read-back */
		for (unsigned i = 0; i < 3; i++) {
			c = &p->ch[i];
			if (!(v & (2u << i)))
				continue;
			if (!(v & 0x20))
				latch_count(c, now);
			if (!(v & 0x10) && !c->status_latched) {
				c->status = (uint8_t)(out_at(c, now) << 7 | c->null_count << 6 | c->ctrl);
				c->status_latched = true;
			}
		}
		return;
	}
	c = &p->ch[sc];
	if (!(v & 0x30)) {
		latch_count(c, now);
		return;
	}
	c->ctrl = v & 0x3f;
	c->mode = (v >> 1) & 7;
	if (c->mode > 5)
		c->mode -= 4;
	c->counting = false;
	c->null_count = true;
	c->write_msb = c->read_msb = false;
}

static uint64_t pit_read(struct device *dev, uint64_t off, unsigned size)
{
	struct pit *p = dev->priv;
	struct pit_channel *c;
	uint16_t v;
	bool msb;

	(void)size;
	if (off >= 3)
		return 0xff;  /* the control word is write-only */
	c = &p->ch[off];
	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	if (c->latch_bytes) {
		msb = rw_mode(c) == 2 || (rw_mode(c) == 3 && c->latch_bytes == 1);
		c->latch_bytes--;
		return msb ? c->latch >> 8 : c->latch & 0xff;
	}
	v = count_at(c, now_tick(p));
	if (rw_mode(c) == 3) {
		msb = c->read_msb;
		c->read_msb = !c->read_msb;
	} else {
		msb = rw_mode(c) == 2;
	}
	return msb ? v >> 8 : v & 0xff;
}

static void pit_write(struct device *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct pit *p = dev->priv;
	struct pit_channel *c;
	uint64_t now = now_tick(p);
	uint8_t b = (uint8_t)val;

	(void)size;
	if (off == 3) {
		control(p, b, now);
		return;
	}
	c = &p->ch[off];
	switch (rw_mode(c)) {
	case 1:
		load(c, b, now);
		break;
	case 2:
		load(c, (uint16_t)(b << 8), now);
		break;
	default:
		if (!c->write_msb) {
			c->write_lsb = b;
			c->write_msb = true;
			if (c->mode == 0)
				c->counting = false;  /* the first byte stops mode 0 */
		} else {
			c->write_msb = false;
			load(c, (uint16_t)(c->write_lsb | b << 8), now);
		}
		break;
	}
}

static void set_gate(struct pit_channel *c, bool g, uint64_t now)
{
	if (g == c->gate)
		return;
	c->gate = g;
	if (!g) {
		if (c->counting && c->mode != 1 && c->mode != 5 && now > c->start)
			c->paused += now - c->start;
		return;
	}
	if (c->mode == 2 || c->mode == 3 || c->mode == 1 || c->mode == 5) {
		c->paused = 0;
		if (!c->null_count)
			c->counting = true;
	}
	c->start = now;
}

static uint64_t port61_read(struct device *dev, uint64_t off, unsigned size)
{
	struct pit *p = dev->priv;
	uint64_t tsc = p->clock(p->ctx);

	(void)off;
	(void)size;
	return (p->port61 & 3) | ((tsc / 15085) & 1) << 4 | (uint64_t)out_at(&p->ch[2], pit_tick(tsc)) << 5;
}

static void port61_write(struct device *dev, uint64_t off, unsigned size, uint64_t val)
{
	struct pit *p = dev->priv;

	(void)off;
	(void)size;
	set_gate(&p->ch[2], val & 1, now_tick(p));
	p->port61 = val & 3;
}

void pit_init(struct pit *p, uint64_t (*clock)(void *), void (*set_irq)(void *, unsigned, int),
	      void *ctx)
{
	*p = (struct pit){ .clock = clock, .set_irq = set_irq, .ctx = ctx };
	for (unsigned i = 0; i < 3; i++) {
		p->ch[i].ctrl = 0x30;  /* LSB then MSB, mode 0, binary; not counting */
		p->ch[i].count = 65536;
		p->ch[i].gate = i != 2;
	}
	p->last_tick = now_tick(p);
}

/* Power-up (a PC's reset, or its wake from S3): the counters as pit_init
 * leaves them, IRQ 0 low; the clock and the wiring stay. */
static void pit_reset(struct device *dev)
{
	struct pit *p = dev->priv;

	if (p->irq_level && p->set_irq)
		p->set_irq(p->ctx, PIT_IRQ, 0);
	pit_init(p, p->clock, p->set_irq, p->ctx);
}

const struct device_ops pit_ops = {
	.name = "pit", .space = DEV_PIO, .base = PIT_BASE_PORT, .len = 4,
	.read = pit_read, .write = pit_write, .reset = pit_reset,
};

const struct device_ops pit_port61_ops = {
	.name = "port61", .space = DEV_PIO, .base = PIT_PORT61, .len = 1,
	.read = port61_read, .write = port61_write,
};
