/* SPDX-License-Identifier: MIT */
/*
 * hv/pic.c - the 8259A pair (hv/pic.h).
 */
#include <string.h>

#include "hv/pic.h"

static void chip_reset(struct pic8259 *c, uint8_t elcr_mask)
{
	uint8_t elcr = c->elcr;

	memset(c, 0, sizeof(*c));
	c->elcr = elcr;
	c->elcr_mask = elcr_mask;
}

void pic_init(struct pic_pair *p)
{
	memset(p, 0, sizeof(*p));
	chip_reset(&p->pic[0], 0xf8);
	chip_reset(&p->pic[1], 0xde);
}

/* The highest-priority (lowest-numbered) bit of m, or 8. */
static unsigned lowest_bit(uint8_t m)
{
	return m ? (unsigned)__builtin_ctz(m) : 8;
}

/* The IRQ this chip would present: requested, unmasked, and above every
 * level in service (fully nested). -1 when none. */
static int chip_pending(const struct pic8259 *c)
{
	unsigned req = lowest_bit(c->irr & (uint8_t)~c->imr), svc = lowest_bit(c->isr);

	return req < svc ? (int)req : -1;
}

static void chip_set(struct pic8259 *c, unsigned irq, int level)
{
	uint8_t bit = (uint8_t)(1u << irq);

	if (c->elcr & bit) {
		if (level)
			c->irr |= bit;
		else
			c->irr &= (uint8_t)~bit;
	} else if (level && !(c->lines & bit)) {
		c->irr |= bit;
	}
	c->lines = level ? c->lines | bit : c->lines & (uint8_t)~bit;
}

/* The slave's INT output is the master's IR2. */
static void cascade(struct pic_pair *p)
{
	chip_set(&p->pic[0], 2, chip_pending(&p->pic[1]) >= 0);
}

void pic_set_irq(struct pic_pair *p, unsigned irq, int level)
{
	if (irq >= 16)
		return;
	chip_set(&p->pic[irq >> 3], irq & 7, level);
	cascade(p);
}

bool pic_intr(const struct pic_pair *p)
{
	return chip_pending(&p->pic[0]) >= 0;
}

/* INTA on one chip for `irq`: ISR set (unless AEOI), an edge request cleared. */
static void chip_ack(struct pic8259 *c, unsigned irq)
{
	uint8_t bit = (uint8_t)(1u << irq);

	if (!c->auto_eoi)
		c->isr |= bit;
	if (!(c->elcr & bit))
		c->irr &= (uint8_t)~bit;
}

uint8_t pic_ack(struct pic_pair *p)
{
	struct pic8259 *m = &p->pic[0], *s = &p->pic[1];
	int irq = chip_pending(m), sirq;
	uint8_t vec;

	if (irq < 0) {
		p->spurious++;
		return (uint8_t)(m->base | 7);
	}
	p->acks++;
	chip_ack(m, (unsigned)irq);
	if (irq != 2 || m->single) {
		vec = (uint8_t)(m->base | irq);
	} else {
		sirq = chip_pending(s);
		if (sirq < 0) {
			p->spurious++;
			vec = (uint8_t)(s->base | 7);
		} else {
			chip_ack(s, (unsigned)sirq);
			vec = (uint8_t)(s->base | sirq);
		}
	}
	cascade(p);
	return vec;
}

/* A command-port write: ICW1, OCW2 or OCW3. */
static void write_cmd(struct pic8259 *c, uint8_t v)
{
	if (v & 0x10) {            /* ICW1 */
		uint8_t lines = c->lines;

		chip_reset(c, c->elcr_mask);
		c->lines = lines;
		c->icw4 = v & 1;
		c->single = (v & 2) != 0;
		c->init_step = 2;
	} else if (v & 0x08) {     /* OCW3 */
		if (v & 0x04)
			c->poll = true;
		if (v & 0x02)
			c->read_isr = v & 1;
	} else {                   /* OCW2 */
		unsigned cmd = v >> 5, irq;

		switch (cmd) {
		case 1:                /* non-specific EOI */
		case 5:                /* rotate on non-specific EOI: no rotation */
			irq = lowest_bit(c->isr);
			if (irq < 8)
				c->isr &= (uint8_t)~(1u << irq);
			break;
		case 3:                /* specific EOI */
		case 7:                /* rotate on specific EOI */
			c->isr &= (uint8_t)~(1u << (v & 7));
			break;
		default:               /* rotation and priority commands */
			break;
		}
	}
}

static void write_data(struct pic8259 *c, uint8_t v)
{
	switch (c->init_step) {
	case 2:
		c->base = v & 0xf8;
		c->init_step = c->single ? (c->icw4 ? 4 : 0) : 3;
		break;
	case 3:                    /* ICW3: the cascade wiring is fixed */
		c->init_step = c->icw4 ? 4 : 0;
		break;
	case 4:
		c->auto_eoi = (v & 2) != 0;
		c->init_step = 0;
		break;
	default:
		c->imr = v;            /* OCW1 */
		break;
	}
}

static uint8_t read_cmd(struct pic_pair *p, struct pic8259 *c)
{
	if (c->poll) {
		int irq = chip_pending(c);

		c->poll = false;
		if (irq < 0)
			return 0;
		chip_ack(c, (unsigned)irq);
		cascade(p);
		return (uint8_t)(0x80 | irq);
	}
	return c->read_isr ? c->isr : c->irr;
}

static uint64_t chip_read(struct device *dev, struct pic8259 *c, uint64_t off, unsigned size)
{
	if (size != 1)
		return dev_ones(size);
	return off ? c->imr : read_cmd(dev->priv, c);
}

static void chip_write(struct device *dev, struct pic8259 *c, uint64_t off, unsigned size, uint64_t val)
{
	if (size != 1)
		return;
	if (off)
		write_data(c, (uint8_t)val);
	else
		write_cmd(c, (uint8_t)val);
	cascade(dev->priv);
}

static struct pic8259 *master(struct device *d) { return &((struct pic_pair *)d->priv)->pic[0]; }
static struct pic8259 *slave(struct device *d) { return &((struct pic_pair *)d->priv)->pic[1]; }

static uint64_t master_read(struct device *d, uint64_t off, unsigned size) { return chip_read(d, master(d), off, size); }
static uint64_t slave_read(struct device *d, uint64_t off, unsigned size) { return chip_read(d, slave(d), off, size); }
static void master_write(struct device *d, uint64_t off, unsigned size, uint64_t val) { chip_write(d, master(d), off, size, val); }
static void slave_write(struct device *d, uint64_t off, unsigned size, uint64_t val) { chip_write(d, slave(d), off, size, val); }

static void pair_reset(struct device *d)
{
	pic_init(d->priv);
}

const struct device_ops pic_master_ops = {
	.name = "pic-master", .space = DEV_PIO, .base = PIC_MASTER_CMD, .len = 2,
	.read = master_read, .write = master_write, .reset = pair_reset,
};

const struct device_ops pic_slave_ops = {
	.name = "pic-slave", .space = DEV_PIO, .base = PIC_SLAVE_CMD, .len = 2,
	.read = slave_read, .write = slave_write,
};

static uint64_t elcr_read(struct device *d, uint64_t off, unsigned size)
{
	struct pic_pair *p = d->priv;

	if (size != 1)
		return dev_ones(size);
	return p->pic[off & 1].elcr;
}

static void elcr_write(struct device *d, uint64_t off, unsigned size, uint64_t val)
{
	struct pic8259 *c = &((struct pic_pair *)d->priv)->pic[off & 1];

	if (size == 1)
		c->elcr = (uint8_t)val & c->elcr_mask;
}

const struct device_ops pic_elcr_ops = {
	.name = "elcr", .space = DEV_PIO, .base = PIC_ELCR, .len = 2,
	.read = elcr_read, .write = elcr_write,
};
