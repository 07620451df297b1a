/* SPDX-License-Identifier: MIT */
/*
 * hv/rtc.h - the MC146818 real-time clock and its CMOS RAM, as a PC has it
 * at ports 0x70 (index) and 0x71 (data) with its interrupt on ISA IRQ 8
 * (Motorola MC146818A datasheet; the PIIX/ICH "Real Time Clock" chapters).
 *
 *   0x00-0x09  seconds, alarm seconds, minutes, alarm minutes, hours, alarm
 *              hours, day of week (1 = Sunday), day, month, year (0-99), in
 *              BCD or binary (register B bit 2) and in 24- or 12-hour form
 *              (B bit 1; 12-hour: bit 7 of the hour is PM)
 *   0x0a  A    UIP (bit 7, read only), divider (6:4: 010 runs the clock),
 *              periodic rate (3:0: 0 none, 1-2 as 8-9, else a period of
 *              2^(RS-1) cycles of 32.768 kHz)
 *   0x0b  B    SET (halts updates, clears UIE), PIE, AIE, UIE, SQWE, DM,
 *              24/12, DSE (stored, no daylight saving)
 *   0x0c  C    IRQF, PF, AF, UF; read only, cleared by a read
 *   0x0d  D    VRT (bit 7, always 1)
 *   0x0e-0x7f  battery-backed RAM; hv fills the bytes a PC BIOS reads as
 *              QEMU does: 0x15-0x18 and 0x30-0x31 memory in KiB, 0x34-0x35
 *              memory from 16 MiB to 4 GiB and 0x5b-0x5d above 4 GiB in
 *              64 KiB units, 0x5f processors - 1, 0x32 the century
 *              (formatted like the time registers)
 *
 * Time is a pure function of the guest's TSC (PC_TSC_HZ): the divider chain
 * counts 32768 cycles a second, cycle k of the chain beginning at TSC
 * base_tsc + ceil(k * 10^9 / 32768). The clock starts at 2000-01-01
 * 00:00:00 with the chain at cycle 0 at TSC 0, so every guest sees the same
 * time at the same TSC. UIP reads 1 in the last 8 cycles (244 us) of each
 * second while the clock runs (QEMU's model: the registers change at the
 * second's end, with no 2 ms update window after it). Taking the divider
 * out of reset (writing 010 to A's 6:4) restarts the chain half a second
 * before the next update, as the datasheet says; clearing SET starts the
 * second anew from the registers as written. A time register written while
 * the clock runs replaces that field at once (the fraction of the second is
 * kept). Out-of-range values are normalised as a calendar would (day 0 is
 * the last day of the month before), the day of week is always the date's.
 *
 * Flags: PF at each periodic boundary while the divider runs, UF at each
 * second's update and AF when the new time matches the alarm registers (a
 * value with bits 7:6 set matches anything), while the clock runs. IRQF =
 * (PF & PIE) | (AF & AIE) | (UF & UIE); IRQ 8 is high while IRQF is set (the
 * edge the 8259 and the I/O APIC see), low after a read of C.
 */
#ifndef HV_RTC_H
#define HV_RTC_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/devices.h"

#define RTC_BASE_PORT   0x70
#define RTC_IRQ         8
#define RTC_HZ          32768ULL
#define RTC_BASE_EPOCH  946684800LL    /* 2000-01-01 00:00:00 UTC */

#define RTC_SEC         0x00
#define RTC_SEC_ALARM   0x01
#define RTC_MIN         0x02
#define RTC_MIN_ALARM   0x03
#define RTC_HOUR        0x04
#define RTC_HOUR_ALARM  0x05
#define RTC_WDAY        0x06
#define RTC_MDAY        0x07
#define RTC_MONTH       0x08
#define RTC_YEAR        0x09
#define RTC_REG_A       0x0a
#define RTC_REG_B       0x0b
#define RTC_REG_C       0x0c
#define RTC_REG_D       0x0d
#define RTC_CENTURY     0x32

#define RTC_A_UIP       0x80
#define RTC_B_SET       0x80
#define RTC_B_PIE       0x40
#define RTC_B_AIE       0x20
#define RTC_B_UIE       0x10
#define RTC_B_DM        0x04   /* 1: binary */
#define RTC_B_24H       0x02
#define RTC_C_IRQF      0x80
#define RTC_C_PF        0x40
#define RTC_C_AF        0x20
#define RTC_C_UF        0x10

struct rtc {
	uint8_t cmos[128];     /* time registers as last frozen or written; A-D; RAM */
	uint8_t index;
	int64_t base_sec;      /* epoch second at chain cycle 0 (while updating) */
	uint64_t base_tsc;     /* the TSC at which the chain was at base_cycle */
	uint64_t base_cycle;
	uint64_t last;         /* chain cycle rtc_advance() saw last */
	int64_t alarm_from, alarm_at;  /* cached: first alarm second >= from (-1: none) */
	uint64_t (*clock)(void *ctx);                        /* guest TSC */
	void (*set_irq)(void *ctx, unsigned irq, int level); /* may be NULL */
	void *ctx;
	int irq_level;
	uint64_t irq_edges;    /* IRQ 8 rising edges driven */
};

/* A clock at 2000-01-01 00:00:00 (A = 0x26, B = 0x02: BCD, 24-hour), CMOS
 * memory bytes for `ram_low` bytes below 4 GiB, `ram_high` above it and
 * `ncpus` processors. */
void rtc_init(struct rtc *r, uint64_t (*clock)(void *), void (*set_irq)(void *, unsigned, int),
	      void *ctx, uint64_t ram_low, uint64_t ram_high, unsigned ncpus);
/* The register or RAM byte `reg` as the guest would read it (C is not
 * cleared), and a write as the guest's. */
uint8_t rtc_peek(struct rtc *r, unsigned reg);
uint8_t rtc_read(struct rtc *r, unsigned reg);
void rtc_write(struct rtc *r, unsigned reg, uint8_t val);
/* Set the flags due by now, and IRQ 8 with them. */
void rtc_advance(struct rtc *r);
/* The TSC at which IRQF would next rise (after the last rtc_advance()),
 * UINT64_MAX for none (IRQF already set, or no enabled source). */
uint64_t rtc_next_event(struct rtc *r);
/* Calendar helpers (proleptic Gregorian, UTC): days since 1970-01-01. */
int64_t rtc_days_from_civil(int64_t y, unsigned m, unsigned d);

extern const struct device_ops rtc_ops;  /* ports 0x70-0x71, priv: struct rtc */

#endif /* HV_RTC_H */
