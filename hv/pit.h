/* SPDX-License-Identifier: MIT */
/*
 * hv/pit.h - the 8254 programmable interval timer of a PC (Intel 82C54
 * datasheet; the PIIX/ICH "Timer/Counters" and NMI status/control port 0x61
 * chapters).
 *
 *   ports   0x40-0x42 counters 0-2, 0x43 control word (counter select, read
 *           and load: latch, LSB, MSB, LSB then MSB; mode 0-5; BCD) and the
 *           read-back command (latched count and/or status byte: OUT, null
 *           count, the programmed control bits); 0x61 (pit_port61_ops):
 *           bit 0 counter 2's gate, bit 1 speaker data (stored), bit 4 the
 *           refresh toggle (15.085 us), bit 5 counter 2's OUT.
 *   clock   1.193182 MHz derived from the guest's TSC (the host's clock
 *           callback, at PC_TSC_HZ): tick k starts at TSC ceil(k * 10^9 /
 *           1193182). Nothing advances on its own: the counters are a pure
 *           function of the clock, so every count a guest reads and every
 *           IRQ 0 edge lands on a deterministic TSC.
 *   output  counter 0's OUT drives ISA IRQ 0 through the host's set_irq
 *           callback (the 8259 pair's IR0, the I/O APIC's pin 2).
 *           pit_advance() drives the edges due by now (a pulse that began
 *           and ended since the last call is still one rising edge);
 *           pit_next_event() gives the TSC of the next rising edge.
 * Counting model: the count written starts counting at the tick of the
 * write (the datasheet's "one CLK pulse to load" is not modelled); with
 * N = the count (0 means 65536, or 10000 in BCD) and d the ticks since:
 *   mode 0  OUT low until d = N, then high; the counter wraps past 0
 *   mode 1  as mode 0, started (and restarted) by a rising gate
 *   mode 2  period N: OUT low for the tick d mod N = N - 1; counter N - d mod N
 *   mode 3  period N: OUT high for ceil(N/2) ticks, low for floor(N/2);
 *           the counter counts down by 2
 *   mode 4  OUT high, low for the one tick d = N
 *   mode 5  as mode 4, started by a rising gate
 * At reset nothing counts and every OUT is low (the state mode 0 leaves);
 * a control word for modes 1-5 raises OUT, for counter 0 an IRQ 0 edge, as
 * the 8254 does from that state. A count written while counting takes
 * effect at once (not at the end of the period).
 * Counters 0 and 1 have their gate tied high; counter 2's gate is port 0x61
 * bit 0 (low: modes 0 and 4 pause, modes 2 and 3 hold OUT high and restart
 * on the rising gate).
 */
#ifndef HV_PIT_H
#define HV_PIT_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/devices.h"

#define PIT_HZ          1193182ULL
#define PIT_BASE_PORT   0x40
#define PIT_PORT61      0x61
#define PIT_IRQ         0

struct pit_channel {
	uint8_t ctrl;          /* RW (5:4), mode (3:1), BCD (0) as written */
	uint8_t mode;          /* 0-5 */
	uint32_t count;        /* N in ticks (1-65536, or 1-10000 in BCD) */
	uint64_t start;        /* PIT tick counting started at */
	uint64_t paused;       /* gate low in modes 0/4: ticks counted before */
	bool counting;         /* a count was written (and, modes 1/5, triggered) */
	bool null_count;       /* control word written, no count loaded yet */
	bool gate;
	bool write_msb;        /* LSB-then-MSB: the MSB comes next */
	bool read_msb;
	uint8_t write_lsb;
	uint16_t latch;        /* latched count */
	uint8_t latch_bytes;   /* latched count bytes still to read (0-2) */
	bool status_latched;
	uint8_t status;
};

struct pit {
	struct pit_channel ch[3];
	uint8_t port61;        /* bits 0-1 as written */
	uint64_t (*clock)(void *ctx);                        /* guest TSC */
	void (*set_irq)(void *ctx, unsigned irq, int level); /* may be NULL */
	void *ctx;
	uint64_t last_tick;    /* the PIT tick pit_advance() saw last */
	int irq_level;
	uint64_t irq_edges;    /* IRQ 0 rising edges driven */
	/* What pit_advance() left (seen_ok): counter 0, IRQ 0's level and
	 * counter 0's next rise after last_tick. While counter 0's counting
	 * state and the level are unchanged, another pit_advance() in the same
	 * tick has nothing to do and pit_next_event() is seen_next. */
	bool seen_ok;
	int seen_level;
	struct pit_channel seen;
	uint64_t seen_next;
};

void pit_init(struct pit *p, uint64_t (*clock)(void *), void (*set_irq)(void *, unsigned, int),
	      void *ctx);
/* The PIT tick of a TSC, and the first TSC of a PIT tick. */
uint64_t pit_tick(uint64_t tsc);
uint64_t pit_tick_tsc(uint64_t tick);
/* Counter `c`'s value and OUT at the current clock. */
uint16_t pit_count(const struct pit *p, unsigned c);
bool pit_out(const struct pit *p, unsigned c);
/* Drive IRQ 0 for the edges of counter 0's OUT up to now. */
void pit_advance(struct pit *p);
/* The TSC of counter 0's next rising OUT edge after the last pit_advance(),
 * UINT64_MAX for none. */
uint64_t pit_next_event(const struct pit *p);

extern const struct device_ops pit_ops;         /* 0x40-0x43, priv: struct pit */
extern const struct device_ops pit_port61_ops;  /* 0x61 */

#endif /* HV_PIT_H */
