/* SPDX-License-Identifier: MIT */
/*
 * hv/hpet.h - the high precision event timer (IA-PC HPET Specification
 * 1.0a), one block of three timers at 0xfed00000 as QEMU's pc machine has
 * it, so that guests written against QEMU find the same registers.
 *
 *   0x000  capabilities (2.3.4): 0x8086a201 = vendor 0x8086, LEG_RT_CAP,
 *          COUNT_SIZE_CAP (64-bit counter), NUM_TIM_CAP 2 (three timers),
 *          revision 1; 0x004 COUNTER_CLK_PERIOD 10,000,000 fs (100 MHz)
 *   0x010  configuration (2.3.5): ENABLE_CNF (bit 0) runs the main counter
 *          and lets timers interrupt; LEG_RT_CNF (bit 1) routes timer 0 to
 *          ISA IRQ 0 (I/O APIC pin 2) and timer 1 to IRQ 8, and takes those
 *          lines from the 8254 and the RTC (hpet_legacy_irq)
 *   0x020  general interrupt status (2.3.6): a level-triggered timer's bit,
 *          set when it fires; writing 1 clears it and lowers its line
 *   0x0f0  main counter (2.3.7), writable while halted
 *   0x100 + 0x20 * n, timer n (2.3.8-2.3.10):
 *     +0x00  configuration: INT_TYPE (1, level), INT_ENB (2), TYPE (3,
 *            periodic), PER_INT_CAP (4, read 1), SIZE_CAP (5, read 1),
 *            VAL_SET (6, the next comparator write sets the comparator of
 *            a periodic timer too), 32MODE (8), INT_ROUTE (13:9); no FSB
 *            (MSI) delivery: FSB_EN (14) and FSB_INT_DEL_CAP (15) read 0
 *     +0x04  INT_ROUTE_CAP: 0x4, I/O APIC input 2 only (QEMU's pc machine)
 *     +0x08  comparator (in periodic mode a write sets the period, and
 *            the comparator with VAL_SET); reset value all-ones
 *     +0x10  FSB route, stored
 *
 * Time is a pure function of the guest TSC (PC_TSC_HZ): one counter tick
 * every HPET_TICK_TSC TSC ticks from the moment ENABLE_CNF was set, so a
 * guest reads the same counts and takes its interrupts at the same TSC on
 * every run. Accesses may be 4 or 8 bytes wide (the specification's 32- and
 * 64-bit accesses); a 1- or 2-byte read returns those bytes of the 32-bit
 * register, a 1- or 2-byte write is ignored.
 *
 * Timers behave as QEMU 7.2's model does: a comparator that is not ahead of
 * the counter (as a signed 64-bit difference, 32-bit in 32MODE) fires one
 * tick later instead of after the counter wraps; a one-shot timer in 32MODE
 * also fires where the counter's low 32 bits reach 0xffffffff, then at the
 * comparator; a periodic timer adds its period to the comparator (as often
 * as needed to pass the counter) each time it fires. A timer's comparator
 * is armed when the timer is enabled, when its comparator is written, and
 * for every comparator other than all-ones when the counter is enabled; a
 * disabled timer's comparator still advances but drives nothing. An
 * edge-triggered interrupt is a pulse on its line; a level-triggered one
 * sets the timer's status bit and holds the line high until the bit is
 * cleared, the timer or the counter is disabled. Differences from QEMU
 * 7.2: 8-byte accesses work (QEMU 7.2 accepts only 4-byte ones), FSB_EN is
 * not writable (QEMU lets it be set without FSB_INT_DEL_CAP), and a timer
 * lowers its line only when it raised it (QEMU lowers the line whenever a
 * timer is disabled, even when another device drives it).
 */
#ifndef HV_HPET_H
#define HV_HPET_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/devices.h"

#define HPET_BASE        0xfed00000ULL
#define HPET_LEN         0x400ULL
#define HPET_TIMERS      3
#define HPET_PERIOD_FS   10000000ULL  /* 10 ns */
#define HPET_TICK_TSC    10ULL        /* TSC ticks (ns at PC_TSC_HZ) a counter tick */

/* General registers (HPET 1.0a 2.3.1). */
#define HPET_REG_CAP     0x000
#define HPET_REG_PERIOD  0x004
#define HPET_REG_CFG     0x010
#define HPET_REG_ISR     0x020
#define HPET_REG_COUNTER 0x0f0
#define HPET_REG_TIMER(n) (0x100 + 0x20 * (n))
#define HPET_TN_CFG      0x00
#define HPET_TN_CMP      0x08
#define HPET_TN_FSB      0x10

/* 2.3.4: rev 1, three timers, 64-bit counter, LEG_RT_CAP, vendor 0x8086. */
#define HPET_CAP_ID      0x8086a201ULL
#define HPET_CFG_ENABLE  (1ULL << 0)
#define HPET_CFG_LEGACY  (1ULL << 1)

/* 2.3.8: timer n configuration and capabilities. */
#define HPET_TN_LEVEL    (1ULL << 1)
#define HPET_TN_ENABLE   (1ULL << 2)
#define HPET_TN_PERIODIC (1ULL << 3)
#define HPET_TN_PER_CAP  (1ULL << 4)
#define HPET_TN_SIZE_CAP (1ULL << 5)
#define HPET_TN_SETVAL   (1ULL << 6)
#define HPET_TN_32BIT    (1ULL << 8)
#define HPET_TN_ROUTE_SHIFT 9
#define HPET_TN_ROUTE    (0x1fULL << HPET_TN_ROUTE_SHIFT)
#define HPET_TN_WRITABLE (HPET_TN_LEVEL | HPET_TN_ENABLE | HPET_TN_PERIODIC | HPET_TN_SETVAL | \
			  HPET_TN_32BIT | HPET_TN_ROUTE)
#define HPET_INT_ROUTE_CAP 0x4ULL     /* bits 63:32: I/O APIC input 2 */

struct hpet_timer {
	uint64_t config;   /* guest-visible (capabilities in 63:32) */
	uint64_t cmp;
	uint64_t period;
	uint64_t fsb;
	uint64_t due;      /* armed: the counter value it fires at */
	bool armed;
	bool wrap;         /* 32MODE one-shot: armed for the 32-bit wrap first */
};

/*
 * The timer block.
 *   clock, set_irq, ctx: set once by hpet_init. set_irq(ctx, line, level)
 *     drives ISA IRQ / GSI `line` (0 = ISA IRQ 0, I/O APIC pin 2).
 *   config, isr, counter, base_tsc, t[]: guest-visible state, reset by
 *     hpet_init; counter is the main counter while halted, its value at
 *     base_tsc while running.
 *   rtc_level: the RTC's IRQ 8 output, held while LEG_RT_CNF hides it.
 */
struct hpet {
	uint64_t (*clock)(void *ctx);
	void (*set_irq)(void *ctx, unsigned line, int level);
	void *ctx;
	uint64_t config, isr, counter, base_tsc;
	struct hpet_timer t[HPET_TIMERS];
	int rtc_level;
	uint64_t fired;    /* interrupts raised (pulses and level rises) */
};

void hpet_init(struct hpet *h, uint64_t (*clock)(void *),
	       void (*set_irq)(void *, unsigned, int), void *ctx);
/* The main counter now. */
uint64_t hpet_counter(const struct hpet *h);
/* Fire the timers due by now. */
void hpet_advance(struct hpet *h);
/* The TSC at which timer n fires next, UINT64_MAX when it is not armed. */
uint64_t hpet_timer_next(const struct hpet *h, unsigned n);
/* The line timer n would interrupt on if it fired now, -1 for none (the
 * timer or the counter disabled). */
int hpet_timer_line(const struct hpet *h, unsigned n);
/* The earliest hpet_timer_next() of the three. */
uint64_t hpet_next_event(const struct hpet *h);
/* Is LEG_RT_CNF set (the 8254's IRQ 0 and the RTC's IRQ 8 disconnected)? */
bool hpet_legacy(const struct hpet *h);
/* The 8254's (irq 0) or the RTC's (irq 8) output: passed on to set_irq
 * unless the HPET has the line in legacy replacement mode. */
void hpet_legacy_irq(struct hpet *h, unsigned irq, int level);

extern const struct device_ops hpet_ops;  /* 0xfed00000, priv: struct hpet */

#endif /* HV_HPET_H */
