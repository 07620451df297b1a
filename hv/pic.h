/* SPDX-License-Identifier: MIT */
/*
 * hv/pic.h - the two cascaded 8259A programmable interrupt controllers of a
 * PC (Intel 8259A datasheet; the PIIX/ICH "8259 Interrupt Controllers"
 * chapters for ELCR), as a kernel's probe and the legacy interrupt path use
 * them.
 *
 *   ports   master 0x20 (ICW1, OCW2, OCW3; reads IRR, ISR or the poll word)
 *           and 0x21 (ICW2-4, OCW1: reads IMR); slave 0xa0/0xa1 the same;
 *           ELCR 0x4d0/0x4d1 (level-triggered inputs; IRQ 0, 1, 2, 8 and 13
 *           are always edge).
 *   inputs  pic_set_irq(): ISA IRQ 0-15 at a level. Edge inputs latch IRR on
 *           a rising level, level inputs hold IRR while high. The slave's
 *           output is the master's IR2.
 *   output  pic_intr(): INTR to the CPU; pic_ack(): the INTA cycle, which
 *           returns the vector (ICW2 base + IRQ, the slave's for IR2) and
 *           sets ISR (not in automatic-EOI mode), or IRQ 7's vector of the
 *           chip with nothing to give (a spurious interrupt).
 * Priorities are fixed (IR0 highest, fully nested: an ISR bit holds back
 * that level and lower ones until its EOI); rotation and special mask mode
 * are accepted and ignored.
 */
#ifndef HV_PIC_H
#define HV_PIC_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/devices.h"

#define PIC_MASTER_CMD  0x20
#define PIC_SLAVE_CMD   0xa0
#define PIC_ELCR        0x4d0

/* One 8259A. */
struct pic8259 {
	uint8_t irr, isr, imr, elcr, elcr_mask;
	uint8_t lines;         /* input levels, for edge detection */
	uint8_t base;          /* ICW2 & 0xf8 */
	uint8_t init_step;     /* 0 ready; 2, 3, 4: the ICW expected next */
	bool icw4, single, auto_eoi, read_isr, poll;
};

/* The master (pic[0]) and the slave (pic[1]); reset: everything 0, ELCR
 * masks 0xf8 and 0xde. */
struct pic_pair {
	struct pic8259 pic[2];
	uint64_t acks, spurious;
};

void pic_init(struct pic_pair *p);
/* ISA IRQ `irq` (0-15) is now at `level`; others are ignored. */
void pic_set_irq(struct pic_pair *p, unsigned irq, int level);
/* Is INTR asserted? */
bool pic_intr(const struct pic_pair *p);
/* INTA: the vector the CPU takes. */
uint8_t pic_ack(struct pic_pair *p);

extern const struct device_ops pic_master_ops;  /* 0x20-0x21, priv: struct pic_pair */
extern const struct device_ops pic_slave_ops;   /* 0xa0-0xa1 */
extern const struct device_ops pic_elcr_ops;    /* 0x4d0-0x4d1 */

#endif /* HV_PIC_H */
