/* SPDX-License-Identifier: MIT */
/*
 * tests/lapic_test.c - the local APIC model (hv/lapic.c) against the rules of
 * Intel SDM Vol. 3A chapter 11: power-up register values, priority and
 * in-service rules, EOI, the timer in all three modes on a test clock, IPIs
 * to self, MSIs, the x2APIC MSR interface and IA32_APIC_BASE transitions.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv/lapic.h"
#include "tests/testutil.h"

struct fixture {
	struct lapic apic;
	struct dev_bus bus;
	uint64_t now;
	uint8_t eois[8];
	unsigned neoi;
};

static uint64_t test_clock(void *ctx)
{
	return ((struct fixture *)ctx)->now;
}

static void test_eoi(void *ctx, uint8_t vector)
{
	struct fixture *f = ctx;

	if (f->neoi < sizeof(f->eois))
		f->eois[f->neoi] = vector;
	f->neoi++;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const struct lapic_host host = { .clock = test_clock, .eoi = test_eoi, .ctx = f };

	lapic_init(&f->apic, 0, &host);
	assert_ok(dev_bus_add(&f->bus, &lapic_mmio_ops, UINT64_MAX, &f->apic, NULL));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* Guest view: 32-bit MMIO through the bus, as the exit loop performs it. */
static uint32_t rd(struct fixture *f, unsigned off)
{
	struct device *d = dev_bus_find(&f->bus, DEV_MMIO, APIC_DEFAULT_BASE + off, 4);

	assert_non_null(d);
	return (uint32_t)d->ops->read(d, off, 4);
}

static void wr(struct fixture *f, unsigned off, uint32_t val)
{
	struct device *d = dev_bus_find(&f->bus, DEV_MMIO, APIC_DEFAULT_BASE + off, 4);

	assert_non_null(d);
	d->ops->write(d, off, 4, val);
}

static void sw_enable(struct fixture *f)
{
	wr(f, APIC_SVR, APIC_SVR_ENABLE | 0xff);
}

/* SDM 11.4.7.1: the state after power-up. */
static void test_reset_values(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(f->apic.base, 0xfee00900ULL);  /* base, EN, BSP */
	assert_int_equal(rd(f, APIC_ID), 0);
	assert_int_equal(rd(f, APIC_VERSION), 0x00050014);
	assert_int_equal(rd(f, APIC_TPR), 0);
	assert_int_equal(rd(f, APIC_PPR), 0);
	assert_int_equal(rd(f, APIC_LDR), 0);
	assert_int_equal(rd(f, APIC_DFR), 0xffffffff);
	assert_int_equal(rd(f, APIC_SVR), 0xff);
	for (unsigned off = APIC_LVTT; off <= APIC_LVTERR; off += 0x10)
		assert_int_equal(rd(f, off), 0x00010000);
	assert_int_equal(rd(f, APIC_TMICT), 0);
	assert_int_equal(rd(f, APIC_TMCCT), 0);
	assert_int_equal(rd(f, APIC_TDCR), 0);
	for (unsigned i = 0; i < 8; i++) {
		assert_int_equal(rd(f, APIC_IRR + i * 0x10), 0);
		assert_int_equal(rd(f, APIC_ISR + i * 0x10), 0);
	}
	assert_int_equal(lapic_pending(&f->apic), -1);
}

/* Writable bits: ID 31:24, LDR 31:24, DFR 31:28 (27:0 read as ones), SVR
 * 9:0, TDCR 3,1:0, LVT fields by entry. */
static void test_register_masks(void **state)
{
	struct fixture *f = *state;

	sw_enable(f);
	wr(f, APIC_ID, 0xffffffff);
	assert_int_equal(rd(f, APIC_ID), 0xff000000);
	wr(f, APIC_LDR, 0x12345678);
	assert_int_equal(rd(f, APIC_LDR), 0x12000000);
	wr(f, APIC_DFR, 0x0);
	assert_int_equal(rd(f, APIC_DFR), 0x0fffffff);
	wr(f, APIC_SVR, 0xffffffff);
	assert_int_equal(rd(f, APIC_SVR), 0x3ff);
	wr(f, APIC_TDCR, 0xffffffff);
	assert_int_equal(rd(f, APIC_TDCR), 0xb);
	wr(f, APIC_LVTT, 0xffffffff);
	assert_int_equal(rd(f, APIC_LVTT), 0x000700ff);
	wr(f, APIC_LVT0, 0xffffffff);
	assert_int_equal(rd(f, APIC_LVT0), 0x0001a7ff);
	wr(f, APIC_LVTERR, 0xffffffff);
	assert_int_equal(rd(f, APIC_LVTERR), 0x000100ff);
	wr(f, APIC_TPR, 0x1ff);
	assert_int_equal(rd(f, APIC_TPR), 0xff);
	/* Read-only registers keep their values. */
	wr(f, APIC_VERSION, 0);
	assert_int_equal(rd(f, APIC_VERSION), 0x00050014);
}

/* SDM 11.4.7.2: clearing SVR.8 masks every LVT entry, and a write while
 * software-disabled cannot unmask one; fixed interrupts are not accepted. */
static void test_software_disable(void **state)
{
	struct fixture *f = *state;

	sw_enable(f);
	wr(f, APIC_LVTT, 0x40);
	wr(f, APIC_LVT1, 0x400);
	assert_int_equal(rd(f, APIC_LVTT), 0x40);
	wr(f, APIC_SVR, 0xff);
	assert_int_equal(rd(f, APIC_LVTT), 0x10040);
	assert_int_equal(rd(f, APIC_LVT1), 0x10400);
	wr(f, APIC_LVTT, 0x41);
	assert_int_equal(rd(f, APIC_LVTT), 0x10041);
	assert_false(lapic_deliver(&f->apic, 0x50, false));
	assert_int_equal(lapic_pending(&f->apic), -1);
}

/* SDM 11.8.3.1 and 11.8.4: the highest vector whose priority class is above
 * PPR is taken; PPR follows TPR or the highest in-service class; EOI clears
 * the highest in-service vector. */
static void test_priority_and_eoi(void **state)
{
	struct fixture *f = *state;
	struct lapic *a = &f->apic;

	sw_enable(f);
	assert_true(lapic_deliver(a, 0x31, false));
	assert_true(lapic_deliver(a, 0x52, false));
	assert_true(lapic_deliver(a, 0x40, false));
	assert_int_equal(rd(f, APIC_IRR + 0x10), (1u << 0x11));  /* 0x31: word 1, bit 17 */
	assert_int_equal(rd(f, APIC_IRR + 0x20), (1u << 0x12) | (1u << 0));  /* 0x52, 0x40 */
	assert_int_equal(lapic_pending(a), 0x52);
	assert_int_equal(lapic_ack(a), 0x52);
	assert_int_equal(rd(f, APIC_ISR + 0x20), 1u << 0x12);
	assert_int_equal(rd(f, APIC_PPR), 0x50);
	/* Class 4 is below the in-service class 5. */
	assert_int_equal(lapic_pending(a), -1);
	/* A higher class preempts. */
	assert_true(lapic_deliver(a, 0x61, false));
	assert_int_equal(lapic_ack(a), 0x61);
	assert_int_equal(rd(f, APIC_PPR), 0x60);
	wr(f, APIC_EOI, 0);
	assert_int_equal(rd(f, APIC_PPR), 0x50);
	assert_int_equal(lapic_pending(a), -1);
	wr(f, APIC_EOI, 0);
	assert_int_equal(rd(f, APIC_PPR), 0);
	assert_int_equal(rd(f, APIC_ISR + 0x20), 0);
	/* The order the remaining two are taken in: 0x40, then 0x31 after its EOI. */
	assert_int_equal(lapic_ack(a), 0x40);
	assert_int_equal(lapic_pending(a), -1);
	wr(f, APIC_EOI, 0);
	assert_int_equal(lapic_ack(a), 0x31);
	wr(f, APIC_EOI, 0);
	assert_int_equal(lapic_pending(a), -1);
	/* Nothing deliverable: INTA returns the spurious vector. */
	assert_int_equal(lapic_ack(a), 0xff);
	/* Edge-triggered EOIs are not broadcast. */
	assert_int_equal(f->neoi, 0);
}

/* TPR holds back classes at or below TPR[7:4]; PPR takes TPR's low bits
 * when TPR's class is the higher one; CR8 is TPR[7:4]. */
static void test_tpr(void **state)
{
	struct fixture *f = *state;
	struct lapic *a = &f->apic;

	sw_enable(f);
	wr(f, APIC_TPR, 0x57);
	assert_int_equal(rd(f, APIC_PPR), 0x57);
	assert_true(lapic_deliver(a, 0x5f, false));
	assert_int_equal(lapic_pending(a), -1);
	assert_true(lapic_deliver(a, 0x60, false));
	assert_int_equal(lapic_pending(a), 0x60);
	assert_int_equal(lapic_get_cr8(a), 5);
	lapic_set_cr8(a, 6);
	assert_int_equal(rd(f, APIC_TPR), 0x60);
	assert_int_equal(lapic_pending(a), -1);
	lapic_set_cr8(a, 0);
	assert_int_equal(lapic_pending(a), 0x60);
}

/* A level-triggered vector sets TMR and its EOI is broadcast (SDM 11.8.5). */
static void test_level_eoi(void **state)
{
	struct fixture *f = *state;
	struct lapic *a = &f->apic;

	sw_enable(f);
	assert_true(lapic_deliver(a, 0x71, true));
	assert_int_equal(rd(f, APIC_TMR + 0x30), 1u << 0x11);
	assert_int_equal(lapic_ack(a), 0x71);
	wr(f, APIC_EOI, 0);
	assert_int_equal(f->neoi, 1);
	assert_int_equal(f->eois[0], 0x71);
	/* TMR keeps the vector's trigger mode after the EOI (kvm-unit-tests'
	 * ioapic test reads it); an edge-triggered acceptance clears it. */
	assert_int_equal(rd(f, APIC_TMR + 0x30), 1u << 0x11);
	assert_true(lapic_deliver(a, 0x71, false));
	assert_int_equal(rd(f, APIC_TMR + 0x30), 0);
}

/* SDM 11.5.4: one-shot counts down once per divided tick and interrupts at
 * zero; the divide configuration 1011 divides by 1 and 0000 by 2. */
static void test_timer_oneshot(void **state)
{
	struct fixture *f = *state;
	struct lapic *a = &f->apic;

	sw_enable(f);
	wr(f, APIC_TDCR, 0xb);
	wr(f, APIC_LVTT, 0x40);
	f->now = 100;
	wr(f, APIC_TMICT, 1000);
	assert_int_equal(lapic_next_event(a), 1100);
	f->now = 600;
	assert_int_equal(rd(f, APIC_TMCCT), 500);
	f->now = 1099;
	lapic_advance(a);
	assert_int_equal(lapic_pending(a), -1);
	assert_int_equal(rd(f, APIC_TMCCT), 1);
	f->now = 1100;
	lapic_advance(a);
	assert_int_equal(lapic_pending(a), 0x40);
	assert_int_equal(rd(f, APIC_TMCCT), 0);
	assert_int_equal(lapic_next_event(a), UINT64_MAX);
	assert_int_equal(a->timer_irqs, 1);

	/* Divide by 2: 10 counts take 20 ticks. */
	wr(f, APIC_TDCR, 0x0);
	f->now = 2000;
	wr(f, APIC_TMICT, 10);
	assert_int_equal(lapic_next_event(a), 2020);
	f->now = 2005;
	assert_int_equal(rd(f, APIC_TMCCT), 8);
	/* Writing 0 stops the timer. */
	wr(f, APIC_TMICT, 0);
	assert_int_equal(lapic_next_event(a), UINT64_MAX);
	assert_int_equal(rd(f, APIC_TMCCT), 0);
}

/* A masked timer counts but raises nothing. */
static void test_timer_masked(void **state)
{
	struct fixture *f = *state;
	struct lapic *a = &f->apic;

	sw_enable(f);
	wr(f, APIC_TDCR, 0xb);
	wr(f, APIC_LVTT, APIC_LVT_MASKED | 0x40);
	wr(f, APIC_TMICT, 50);
	f->now = 60;
	lapic_advance(a);
	assert_int_equal(rd(f, APIC_TMCCT), 0);
	assert_int_equal(lapic_pending(a), -1);
	assert_int_equal(rd(f, APIC_IRR + 0x20), 0);
}

/* Periodic mode reloads the initial count; expiries missed while the IRR bit
 * was still set merge into it. */
static void test_timer_periodic(void **state)
{
	struct fixture *f = *state;
	struct lapic *a = &f->apic;

	sw_enable(f);
	wr(f, APIC_TDCR, 0xb);
	wr(f, APIC_LVTT, APIC_LVT_TIMER_PERIODIC | 0x41);
	wr(f, APIC_TMICT, 100);
	assert_int_equal(lapic_next_event(a), 100);
	f->now = 100;
	lapic_advance(a);
	assert_int_equal(lapic_ack(a), 0x41);
	wr(f, APIC_EOI, 0);
	assert_int_equal(rd(f, APIC_TMCCT), 100);
	assert_int_equal(lapic_next_event(a), 200);
	f->now = 250;
	assert_int_equal(rd(f, APIC_TMCCT), 50);
	lapic_advance(a);
	assert_int_equal(lapic_next_event(a), 300);
	assert_int_equal(a->timer_irqs, 2);
	assert_int_equal(lapic_pending(a), 0x41);
	/* Switching to one-shot keeps the current count. */
	f->now = 270;
	wr(f, APIC_LVTT, 0x41);
	assert_int_equal(rd(f, APIC_TMCCT), 30);
	assert_int_equal(lapic_next_event(a), 300);
}

/* SDM 11.5.4.1: TSC-deadline mode fires when the TSC reaches the MSR's value
 * and clears it; the initial count is ignored; outside the mode the MSR reads
 * 0 and ignores writes; changing the mode disarms. */
static void test_timer_tsc_deadline(void **state)
{
	struct fixture *f = *state;
	struct lapic *a = &f->apic;
	uint64_t v;

	sw_enable(f);
	assert_ok(lapic_msr_write(a, MSR_IA32_TSC_DEADLINE, 500));
	assert_ok(lapic_msr_read(a, MSR_IA32_TSC_DEADLINE, &v));
	assert_int_equal(v, 0);
	wr(f, APIC_LVTT, APIC_LVT_TIMER_TSCDEADLINE | 0x42);
	wr(f, APIC_TMICT, 10);
	assert_int_equal(rd(f, APIC_TMICT), 0);
	f->now = 10;
	assert_ok(lapic_msr_write(a, MSR_IA32_TSC_DEADLINE, 500));
	assert_ok(lapic_msr_read(a, MSR_IA32_TSC_DEADLINE, &v));
	assert_int_equal(v, 500);
	assert_int_equal(lapic_next_event(a), 500);
	f->now = 499;
	lapic_advance(a);
	assert_int_equal(lapic_pending(a), -1);
	f->now = 500;
	lapic_advance(a);
	assert_int_equal(lapic_pending(a), 0x42);
	assert_ok(lapic_msr_read(a, MSR_IA32_TSC_DEADLINE, &v));
	assert_int_equal(v, 0);
	/* A deadline in the past fires at once. */
	lapic_ack(a);
	wr(f, APIC_EOI, 0);
	assert_ok(lapic_msr_write(a, MSR_IA32_TSC_DEADLINE, 100));
	assert_int_equal(lapic_pending(a), 0x42);
	/* Mode change disarms. */
	assert_ok(lapic_msr_write(a, MSR_IA32_TSC_DEADLINE, 1000));
	wr(f, APIC_LVTT, 0x42);
	assert_int_equal(lapic_next_event(a), UINT64_MAX);
}

/* SDM 11.6.1: a self IPI through ICR (shorthand or own physical ID) sets IRR;
 * another destination reaches nobody; an illegal vector sets ESR, which a
 * write latches. ICR reads back idle. */
static void test_ipi_self(void **state)
{
	struct fixture *f = *state;
	struct lapic *a = &f->apic;

	sw_enable(f);
	wr(f, APIC_ICR, (APIC_DEST_SELF << APIC_ICR_SHORTHAND_SHIFT) | 0x33);
	assert_int_equal(lapic_pending(a), 0x33);
	assert_int_equal(rd(f, APIC_ICR), 0x40033);
	wr(f, APIC_ICR2, 0x00000000);
	wr(f, APIC_ICR, 0x34);  /* physical destination 0: this APIC */
	assert_int_equal(rd(f, APIC_IRR + 0x10), (1u << 0x13) | (1u << 0x14));
	wr(f, APIC_ICR2, 0x01000000);
	wr(f, APIC_ICR, 0x35);
	assert_int_equal(rd(f, APIC_IRR + 0x10), (1u << 0x13) | (1u << 0x14));
	assert_int_equal(a->ipi_dropped, 1);
	wr(f, APIC_ICR, (APIC_DEST_SELF << APIC_ICR_SHORTHAND_SHIFT) | 0x05);
	assert_int_equal(rd(f, APIC_ESR), 0);
	wr(f, APIC_ESR, 0);
	assert_int_equal(rd(f, APIC_ESR), APIC_ESR_SEND_ILLEGAL | APIC_ESR_RECV_ILLEGAL);
	wr(f, APIC_ESR, 0);
	assert_int_equal(rd(f, APIC_ESR), 0);
	/* NMI to self: latched for the vCPU, not in IRR. */
	assert_false(a->nmi_pending);
	wr(f, APIC_ICR, (APIC_DEST_SELF << APIC_ICR_SHORTHAND_SHIFT) | (APIC_DM_NMI << 8));
	assert_int_equal(a->nmi, 1);
	assert_true(a->nmi_pending);
	assert_int_equal(rd(f, APIC_IRR), 0);
}

/* SDM 11.11: MSI address 0xfee<dest>xxx, data vector/delivery mode/trigger. */
static void test_msi(void **state)
{
	struct fixture *f = *state;
	struct lapic *a = &f->apic;

	/* Software-disabled: dropped. */
	assert_int_equal(lapic_msi(a, 0xfee00000, 0x61), -ENXIO);
	sw_enable(f);
	assert_int_equal(lapic_msi(a, 0xfee00000, 0x61), 0);
	assert_int_equal(lapic_pending(a), 0x61);
	assert_int_equal(lapic_msi(a, 0xfee01000, 0x62), -ENXIO);   /* destination 1 */
	assert_int_equal(lapic_msi(a, 0xfed00000, 0x62), -EINVAL);  /* not an MSI address */
	assert_int_equal(lapic_msi(a, 0xfee00010, 0x62), -EINVAL);  /* remappable format */
	assert_int_equal(lapic_msi(a, 0xfee00000, 0x0f), -ERANGE);
	assert_int_equal(lapic_msi(a, 0xfee00000, 0x400 | 0x62), 0);  /* NMI: latched */
	assert_int_equal(a->nmi, 1);
	assert_true(a->nmi_pending);
	assert_int_equal(lapic_msi(a, 0xfee00000, 0x200 | 0x62), -EOPNOTSUPP);  /* SMI */
	assert_int_equal(a->smi, 1);
	assert_int_equal(lapic_msi(a, 0xfeeff000, 0x63), 0);        /* broadcast */
	/* Logical, flat model: LDR bit 0 set. */
	wr(f, APIC_LDR, 0x01000000);
	assert_int_equal(lapic_msi(a, 0xfee01004, 0x64), 0);
	assert_int_equal(lapic_msi(a, 0xfee02004, 0x65), -ENXIO);
	/* Level-triggered: TMR set, EOI broadcast. */
	assert_int_equal(lapic_msi(a, 0xfee00000, 0xc000 | 0x70), 0);
	assert_int_equal(rd(f, APIC_TMR + 0x30), 1u << 16);
	/* 0x61, 0x63, 0x64, 0x70: all in IRR word 3. */
	assert_int_equal(rd(f, APIC_IRR + 0x30), (1u << 1) | (1u << 3) | (1u << 4) | (1u << 16));
	assert_int_equal(a->msis, 7);  /* every message that named this APIC (the SMI too) */
}

/* SDM 11.12: x2APIC MSRs. ID and LDR are read-only and derived from the
 * initial ID; EOI and SELF IPI are write-only; absent registers, reserved
 * bits and non-zero EOI writes are #GP (-EINVAL); the MMIO page goes away. */
static void test_x2apic(void **state)
{
	struct fixture *f = *state;
	struct lapic *a = &f->apic;
	uint64_t v;

	assert_int_equal(lapic_msr_read(a, 0x802, &v), -EINVAL);  /* xAPIC mode */
	assert_ok(lapic_set_base(a, 0xfee00000 | APIC_BASE_EN | APIC_BASE_EXTD, 46));
	assert_true(lapic_x2apic_mode(a));
	assert_int_equal(rd(f, APIC_VERSION), 0xffffffff);
	assert_ok(lapic_msr_read(a, 0x802, &v));
	assert_int_equal(v, 0);
	assert_ok(lapic_msr_read(a, 0x803, &v));
	assert_int_equal(v, 0x00050014);
	assert_ok(lapic_msr_read(a, 0x80d, &v));
	assert_int_equal(v, 0x00000001);
	assert_int_equal(lapic_msr_write(a, 0x802, 1), -EINVAL);
	assert_int_equal(lapic_msr_write(a, 0x80d, 1), -EINVAL);
	assert_int_equal(lapic_msr_read(a, 0x80b, &v), -EINVAL);  /* EOI */
	assert_int_equal(lapic_msr_read(a, 0x83f, &v), -EINVAL);  /* SELF IPI */
	assert_int_equal(lapic_msr_read(a, 0x80e, &v), -EINVAL);  /* DFR: absent */
	assert_int_equal(lapic_msr_read(a, 0x831, &v), -EINVAL);  /* ICR2: absent */
	assert_int_equal(lapic_msr_write(a, 0x808, 0x100), -EINVAL);
	assert_int_equal(lapic_msr_write(a, 0x80f, 0x1ff | (1u << 12)), -EINVAL);
	assert_ok(lapic_msr_write(a, 0x80f, 0x1ff));
	assert_ok(lapic_msr_write(a, 0x83f, 0x44));
	assert_int_equal(lapic_pending(a), 0x44);
	assert_ok(lapic_msr_read(a, 0x822, &v));  /* IRR word 2 */
	assert_int_equal(v, 1u << 4);
	assert_int_equal(lapic_ack(a), 0x44);
	assert_int_equal(lapic_msr_write(a, 0x80b, 1), -EINVAL);
	assert_ok(lapic_msr_write(a, 0x80b, 0));
	assert_int_equal(lapic_pending(a), -1);
	/* ICR is one 64-bit MSR with the destination in 63:32. */
	assert_ok(lapic_msr_write(a, 0x830, 0x0000000000000045ULL));
	assert_int_equal(lapic_pending(a), 0x45);
	assert_ok(lapic_msr_write(a, 0x830, 0x0000000100000046ULL));
	assert_int_equal(a->ipi_dropped, 1);
	assert_ok(lapic_msr_read(a, 0x830, &v));
	assert_int_equal(v, 0x0000000100000046ULL);
	/* TPR through its MSR. */
	assert_ok(lapic_msr_write(a, 0x808, 0x50));
	assert_ok(lapic_msr_read(a, 0x80a, &v));
	assert_int_equal(v, 0x50);
}

/* SDM 11.12.5, Figure 11-27: the allowed IA32_APIC_BASE transitions. */
static void test_apic_base(void **state)
{
	struct fixture *f = *state;
	struct lapic *a = &f->apic;
	uint64_t v;

	assert_int_equal(lapic_set_base(a, 0xfee00000 | APIC_BASE_EXTD, 46), -EINVAL);
	assert_int_equal(lapic_set_base(a, 0xfee00000 | APIC_BASE_EN | 0x1, 46), -EINVAL);
	assert_int_equal(lapic_set_base(a, (1ULL << 46) | APIC_BASE_EN, 46), -EINVAL);
	sw_enable(f);
	wr(f, APIC_TPR, 0x20);
	assert_ok(lapic_set_base(a, 0xfee00000 | APIC_BASE_EN | APIC_BASE_EXTD, 46));
	/* x2APIC -> xAPIC is not allowed; -> disabled is, and resets the APIC. */
	assert_int_equal(lapic_set_base(a, 0xfee00000 | APIC_BASE_EN, 46), -EINVAL);
	assert_ok(lapic_set_base(a, 0xfee00000, 46));
	assert_false(lapic_hw_enabled(a));
	assert_int_equal(a->base, 0xfee00100ULL);  /* BSP stays */
	assert_true(lapic_accepts_pic(a));
	assert_int_equal(lapic_msr_read(a, 0x808, &v), -EINVAL);
	assert_int_equal(rd(f, APIC_VERSION), 0xffffffff);
	/* disabled -> x2APIC is not allowed; -> xAPIC is. */
	assert_int_equal(lapic_set_base(a, 0xfee00000 | APIC_BASE_EN | APIC_BASE_EXTD, 46), -EINVAL);
	assert_ok(lapic_set_base(a, 0xfee00000 | APIC_BASE_EN, 46));
	assert_int_equal(rd(f, APIC_TPR), 0);
	assert_int_equal(rd(f, APIC_SVR), 0xff);
	assert_int_equal(rd(f, APIC_LVT0), 0x10000);
}

/* LINT0 in ExtINT mode lets the 8259's INTR through (virtual-wire mode). */
static void test_lint0_extint(void **state)
{
	struct fixture *f = *state;

	assert_false(lapic_accepts_pic(&f->apic));
	sw_enable(f);
	wr(f, APIC_LVT0, APIC_DM_EXTINT << 8);
	assert_true(lapic_accepts_pic(&f->apic));
	wr(f, APIC_LVT0, APIC_LVT_MASKED | (APIC_DM_EXTINT << 8));
	assert_false(lapic_accepts_pic(&f->apic));
}

/* Narrow reads return the bytes they cover; writes other than 32 bits, or
 * off a 16-byte boundary, are ignored. */
static void test_mmio_sizes(void **state)
{
	struct fixture *f = *state;
	struct device *d = dev_bus_find(&f->bus, DEV_MMIO, APIC_DEFAULT_BASE, 4);

	assert_int_equal(d->ops->read(d, APIC_VERSION, 1), 0x14);
	assert_int_equal(d->ops->read(d, APIC_VERSION + 2, 1), 0x05);
	assert_int_equal(d->ops->read(d, APIC_VERSION + 2, 2), 0x0005);
	d->ops->write(d, APIC_TPR, 2, 0x30);
	assert_int_equal(rd(f, APIC_TPR), 0);
	d->ops->write(d, APIC_TPR + 4, 4, 0x30);
	assert_int_equal(rd(f, APIC_TPR), 0);
	d->ops->write(d, APIC_TPR, 4, 0x30);
	assert_int_equal(rd(f, APIC_TPR), 0x30);
	/* Unused offsets read as zero. */
	assert_int_equal(rd(f, 0x400), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reset_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_masks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_software_disable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_priority_and_eoi, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tpr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_eoi, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timer_oneshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timer_masked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timer_periodic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timer_tsc_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipi_self, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msi, setup, teardown),
		cmocka_unit_test_setup_teardown(test_x2apic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apic_base, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lint0_extint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmio_sizes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
