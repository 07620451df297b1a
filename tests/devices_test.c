/* SPDX-License-Identifier: MIT */
/*
 * tests/devices_test.c - device models through the bus, as a guest sees them:
 * 16550 register semantics (PC16550D data sheet), isa-debug-exit, PCI
 * configuration mechanism #1 (PCI 3.0, 3.2.2.3.2), the hv test device and
 * unknown ports.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hv/devices.h"
#include "tests/testutil.h"

struct fixture {
	struct dev_bus bus;
	struct uart uart;
	struct pci_host pci;
	struct hvtest hvt;
	FILE *out;
	char *outbuf;
	size_t outlen;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->out = open_memstream(&f->outbuf, &f->outlen);
	uart_init(&f->uart, f->out, -1);
	pci_host_init(&f->pci);
	assert_ok(dev_bus_add(&f->bus, &uart_ops, UINT64_MAX, &f->uart, NULL));
	assert_ok(dev_bus_add(&f->bus, &debugexit_ops, UINT64_MAX, NULL, NULL));
	assert_ok(dev_bus_add(&f->bus, &pci_host_ops, UINT64_MAX, &f->pci, NULL));
	assert_ok(dev_bus_add(&f->bus, &hvtest_ops, UINT64_MAX, &f->hvt, NULL));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fclose(f->out);
	free(f->outbuf);
	free(f);
	return 0;
}

static uint8_t in8(struct fixture *f, uint16_t port)
{
	return (uint8_t)dev_bus_pio_read(&f->bus, port, 1);
}

static void out8(struct fixture *f, uint16_t port, uint8_t v)
{
	dev_bus_pio_write(&f->bus, port, 1, v);
}

#define COM1 0x3f8

/* A polling driver: LSR.THRE and TEMT are set, bytes written to THR go out. */
static void test_uart_transmit(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(in8(f, COM1 + UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	for (const char *s = "hi\n"; *s; s++)
		out8(f, COM1 + UART_THR, (uint8_t)*s);
	fflush(f->out);
	assert_int_equal(f->outlen, 3);
	assert_memory_equal(f->outbuf, "hi\n", 3);
	assert_int_equal(f->uart.tx_bytes, 3);
}

/* LCR.DLAB=1 maps offsets 0/1 to the divisor latch; THR writes do not
 * transmit and IER keeps its value. */
static void test_uart_dlab(void **state)
{
	struct fixture *f = *state;

	out8(f, COM1 + UART_IER, 0x05);
	out8(f, COM1 + UART_LCR, UART_LCR_DLAB | 0x03);
	out8(f, COM1 + 0, 0x01);  /* DLL: 115200 baud */
	out8(f, COM1 + 1, 0x00);  /* DLM */
	assert_int_equal(in8(f, COM1 + 0), 0x01);
	assert_int_equal(in8(f, COM1 + 1), 0x00);
	out8(f, COM1 + UART_LCR, 0x03);  /* 8N1, DLAB off */
	assert_int_equal(in8(f, COM1 + UART_LCR), 0x03);
	assert_int_equal(in8(f, COM1 + UART_IER), 0x05);
	assert_int_equal(f->uart.dll, 1);
	fflush(f->out);
	assert_int_equal(f->outlen, 0);
}

static void test_uart_scratch_and_iir(void **state)
{
	struct fixture *f = *state;

	out8(f, COM1 + UART_SCR, 0x5a);
	assert_int_equal(in8(f, COM1 + UART_SCR), 0x5a);
	/* no FIFO, nothing pending */
	assert_int_equal(in8(f, COM1 + UART_IIR), UART_IIR_NONE);
	/* FCR enable: IIR bits 7:6 read 11 (a 16550A, not an 8250) */
	out8(f, COM1 + UART_FCR, UART_FCR_ENABLE);
	assert_int_equal(in8(f, COM1 + UART_IIR), 0xc1);
	/* enabling ETBEI with an empty THR raises THRE; reading IIR acknowledges it */
	out8(f, COM1 + UART_IER, UART_IER_ETBEI);
	assert_int_equal(in8(f, COM1 + UART_IIR), 0xc2);
	assert_int_equal(in8(f, COM1 + UART_IIR), 0xc1);
	/* a transmission empties THR again: THRE once more */
	out8(f, COM1 + UART_THR, 'x');
	assert_int_equal(in8(f, COM1 + UART_IIR), 0xc2);
}

/* MCR.LOOP: transmitted bytes come back in RBR with LSR.DR; MSR mirrors MCR
 * (CTS=RTS, DSR=DTR, RI=OUT1, DCD=OUT2); nothing reaches the output. */
static void test_uart_loopback(void **state)
{
	struct fixture *f = *state;

	out8(f, COM1 + UART_MCR, UART_MCR_LOOP | UART_MCR_RTS | UART_MCR_OUT2);
	assert_int_equal(in8(f, COM1 + UART_MSR), UART_MSR_CTS | UART_MSR_DCD);
	out8(f, COM1 + UART_THR, 0xae);
	assert_int_equal(in8(f, COM1 + UART_LSR), UART_LSR_THRE | UART_LSR_TEMT | UART_LSR_DR);
	/* received data outranks THRE in IIR */
	out8(f, COM1 + UART_IER, UART_IER_ERBFI | UART_IER_ETBEI);
	assert_int_equal(in8(f, COM1 + UART_IIR), UART_IIR_RDA);
	assert_int_equal(in8(f, COM1 + UART_RBR), 0xae);
	assert_int_equal(in8(f, COM1 + UART_LSR), UART_LSR_THRE | UART_LSR_TEMT);
	assert_int_equal(in8(f, COM1 + UART_RBR), 0);
	out8(f, COM1 + UART_MCR, UART_MCR_DTR | UART_MCR_RTS | UART_MCR_OUT2);
	assert_int_equal(in8(f, COM1 + UART_MSR), UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS);
	fflush(f->out);
	assert_int_equal(f->outlen, 0);
}

/* Input from a file descriptor (a terminal in real runs: a pipe here). */
static void test_uart_input(void **state)
{
	struct fixture *f = *state;
	int p[2];

	assert_ok(pipe(p));
	f->uart.in_fd = p[0];
	assert_int_equal(in8(f, COM1 + UART_LSR) & UART_LSR_DR, 0);
	assert_int_equal(write(p[1], "ok", 2), 2);
	assert_int_equal(in8(f, COM1 + UART_LSR) & UART_LSR_DR, UART_LSR_DR);
	assert_int_equal(in8(f, COM1 + UART_RBR), 'o');
	assert_int_equal(in8(f, COM1 + UART_RBR), 'k');
	assert_int_equal(in8(f, COM1 + UART_LSR) & UART_LSR_DR, 0);
	/* FCR bit 1 clears the receive FIFO */
	assert_true(uart_receive(&f->uart, 'z'));
	out8(f, COM1 + UART_FCR, UART_FCR_ENABLE | UART_FCR_CLEAR_RX);
	assert_int_equal(in8(f, COM1 + UART_LSR) & UART_LSR_DR, 0);
	close(p[0]);
	close(p[1]);
	f->uart.in_fd = -1;
}

/* A 16-bit access touches two consecutive byte registers. */
static void test_uart_wide_access(void **state)
{
	struct fixture *f = *state;

	dev_bus_pio_write(&f->bus, COM1 + UART_LCR, 2, 0x0b03);  /* LCR=03, MCR=0b */
	assert_int_equal(in8(f, COM1 + UART_LCR), 0x03);
	assert_int_equal(in8(f, COM1 + UART_MCR), 0x0b);
	assert_int_equal(dev_bus_pio_read(&f->bus, COM1 + UART_LCR, 2), 0x0b03);
}

static void test_debug_exit(void **state)
{
	struct fixture *f = *state;

	assert_false(f->bus.stop);
	dev_bus_pio_write(&f->bus, DEBUGEXIT_PORT, 4, 0x10);
	assert_true(f->bus.stop);
	assert_int_equal(f->bus.stop_value, 0x10);
	assert_string_equal(f->bus.stop_dev->ops->name, "isa-debug-exit");
	/* QEMU: exit status (v << 1) | 1 */
	assert_int_equal(debugexit_status(0x10), 0x21);
	assert_int_equal(debugexit_status(0), 1);
	/* the first value wins */
	dev_bus_pio_write(&f->bus, DEBUGEXIT_PORT, 4, 0x3);
	assert_int_equal(f->bus.stop_value, 0x10);
	dev_bus_reset(&f->bus);
	assert_false(f->bus.stop);
}

/* Unknown ports: reads are all-ones of the access size, writes are dropped,
 * both counted. */
static void test_unknown_ports(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(dev_bus_pio_read(&f->bus, 0x80, 1), 0xff);
	assert_int_equal(dev_bus_pio_read(&f->bus, 0x60, 2), 0xffff);
	assert_int_equal(dev_bus_pio_read(&f->bus, 0x1000, 4), 0xffffffff);
	dev_bus_pio_write(&f->bus, 0x80, 1, 0);
	assert_int_equal(f->bus.unknown_pio_reads, 3);
	assert_int_equal(f->bus.unknown_pio_writes, 1);
	/* an access straddling the end of a device window is not the device's */
	assert_int_equal(dev_bus_pio_read(&f->bus, COM1 + 7, 2), 0xffff);
	assert_int_equal(f->bus.unknown_pio_reads, 4);
}

static uint32_t cfg_read(struct fixture *f, unsigned bdf, unsigned reg, unsigned size)
{
	dev_bus_pio_write(&f->bus, PCI_CONFIG_ADDRESS, 4, PCI_CFG_ENABLE | (bdf << 8) | (reg & 0xfc));
	return (uint32_t)dev_bus_pio_read(&f->bus, (uint16_t)(PCI_CONFIG_DATA + (reg & 3)), size);
}

static void cfg_write(struct fixture *f, unsigned bdf, unsigned reg, unsigned size, uint32_t v)
{
	dev_bus_pio_write(&f->bus, PCI_CONFIG_ADDRESS, 4, PCI_CFG_ENABLE | (bdf << 8) | (reg & 0xfc));
	dev_bus_pio_write(&f->bus, (uint16_t)(PCI_CONFIG_DATA + (reg & 3)), size, v);
}

/* 00:00.0 is q35's host bridge: 8086:29c0, class 06/00. */
static void test_pci_host_bridge(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cfg_read(f, 0, 0x00, 4), 0x29c08086);
	assert_int_equal(cfg_read(f, 0, 0x00, 2), 0x8086);
	assert_int_equal(cfg_read(f, 0, 0x02, 2), 0x29c0);
	assert_int_equal(cfg_read(f, 0, 0x01, 1), 0x80);
	assert_int_equal(cfg_read(f, 0, 0x03, 1), 0x29);
	assert_int_equal(cfg_read(f, 0, 0x0b, 1), 0x06);
	assert_int_equal(cfg_read(f, 0, 0x0a, 1), 0x00);
	assert_int_equal(cfg_read(f, 0, 0x08, 4) >> 8, 0x060000);
	assert_int_equal(cfg_read(f, 0, 0x0e, 1), 0x00);
	/* the address latch reads back, reserved bits 1:0 clear */
	dev_bus_pio_write(&f->bus, PCI_CONFIG_ADDRESS, 4, 0x80000013);
	assert_int_equal(dev_bus_pio_read(&f->bus, PCI_CONFIG_ADDRESS, 4), 0x80000010);
}

/* Absent functions and a disabled latch read all-ones (the enumeration rule). */
static void test_pci_absent(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cfg_read(f, PCI_DEVFN(1, 0), 0, 4), 0xffffffff);
	assert_int_equal(cfg_read(f, PCI_DEVFN(0, 1), 0, 2), 0xffff);
	assert_int_equal(cfg_read(f, (1u << 8) | 0, 0, 4), 0xffffffff);  /* bus 1 */
	dev_bus_pio_write(&f->bus, PCI_CONFIG_ADDRESS, 4, 0);  /* enable bit clear */
	assert_int_equal(dev_bus_pio_read(&f->bus, PCI_CONFIG_DATA, 4), 0xffffffff);
}

/* Read-only identity, writable command bits; byte, word, dword data access. */
static void test_pci_writes(void **state)
{
	struct fixture *f = *state;
	struct pci_function fn;

	pci_function_init(&fn, 0x1234, 0x11e8, 0x00, 0xff, 0x00, NULL, NULL);
	assert_ok(pci_register(&f->pci, 3, 0, &fn));
	assert_int_equal(pci_register(&f->pci, 3, 0, &fn), -EEXIST);
	assert_int_equal(pci_register(&f->pci, 32, 0, &fn), -EINVAL);
	assert_int_equal(cfg_read(f, PCI_DEVFN(3, 0), 0, 4), 0x11e81234);
	cfg_write(f, PCI_DEVFN(3, 0), 0x00, 4, 0);  /* IDs are read-only */
	assert_int_equal(cfg_read(f, PCI_DEVFN(3, 0), 0, 4), 0x11e81234);
	cfg_write(f, PCI_DEVFN(3, 0), PCI_COMMAND, 2, 0xffff);
	assert_int_equal(cfg_read(f, PCI_DEVFN(3, 0), PCI_COMMAND, 2), 0x0407);
	cfg_write(f, PCI_DEVFN(3, 0), PCI_INT_LINE, 1, 0x0b);
	assert_int_equal(cfg_read(f, PCI_DEVFN(3, 0), PCI_INT_LINE, 1), 0x0b);
	assert_int_equal(cfg_read(f, PCI_DEVFN(3, 0), 0x3c, 4) & 0xff, 0x0b);
	/* direct accessors reject accesses past the 256-byte space */
	assert_int_equal(pci_config_read(&f->pci, 0, PCI_DEVFN(3, 0), 0xfe, 4), 0xffffffff);
}

/* hv test device: ID, a 64-bit scratch register with partial writes, COUNT. */
static void test_hvtest(void **state)
{
	struct fixture *f = *state;
	struct device *d = dev_bus_find(&f->bus, DEV_MMIO, HVTEST_BASE, 4);

	assert_non_null(d);
	assert_null(dev_bus_find(&f->bus, DEV_MMIO, HVTEST_BASE + HVTEST_LEN - 4, 8));
	assert_null(dev_bus_find(&f->bus, DEV_MMIO, UINT64_MAX - 3, 8));
	assert_int_equal(d->ops->read(d, HVTEST_ID, 4), 0x44547668);
	d->ops->write(d, HVTEST_SCRATCH, 8, 0x1122334455667788ULL);
	d->ops->write(d, HVTEST_SCRATCH + 2, 2, 0xabcd);
	assert_int_equal(d->ops->read(d, HVTEST_SCRATCH, 8), 0x11223344abcd7788ULL);
	assert_int_equal(d->ops->read(d, HVTEST_SCRATCH + 4, 4), 0x11223344);
	assert_int_equal(d->ops->read(d, HVTEST_COUNT, 8), 6);  /* this read included */
	d->ops->write(d, HVTEST_ID, 4, 0);  /* read-only */
	assert_int_equal(d->ops->read(d, HVTEST_ID, 4), 0x44547668);
}

/* Overlapping and wrapping windows are refused. */
static void test_bus_add(void **state)
{
	struct fixture *f = *state;
	static const struct device_ops wide = {
		.name = "wide", .space = DEV_PIO, .base = 0x3f0, .len = 16,
	};
	static const struct device_ops wrap = {
		.name = "wrap", .space = DEV_MMIO, .base = UINT64_MAX - 1, .len = 4,
	};
	static const struct device_ops top = {
		.name = "top", .space = DEV_MMIO, .base = UINT64_MAX - 3, .len = 4,
	};

	assert_int_equal(dev_bus_add(&f->bus, &wide, UINT64_MAX, NULL, NULL), -EEXIST);
	assert_ok(dev_bus_add(&f->bus, &wide, 0x500, NULL, NULL));
	assert_int_equal(dev_bus_add(&f->bus, &wide, 0xfff8, NULL, NULL), -EINVAL);
	assert_int_equal(dev_bus_add(&f->bus, &wrap, UINT64_MAX, NULL, NULL), -EINVAL);
	/* a window that ends exactly at 2^64 - 1 is fine */
	assert_ok(dev_bus_add(&f->bus, &top, UINT64_MAX, NULL, NULL));
	assert_non_null(dev_bus_find(&f->bus, DEV_MMIO, UINT64_MAX - 3, 4));
	assert_null(dev_bus_find(&f->bus, DEV_MMIO, UINT64_MAX - 1, 4));
}

/* Port lookups: one table entry per port, exactly the windows dev_bus_add
 * accepted (a refused add leaves none behind), whole accesses only. */
static void test_port_lookup(void **state)
{
	struct fixture *f = *state;
	static const struct device_ops wide = {
		.name = "wide", .space = DEV_PIO, .base = 0x3f0, .len = 16,
	};
	static const struct device_ops last = {
		.name = "last", .space = DEV_PIO, .base = 0xfff0, .len = 16,
	};
	struct device *w, *l;

	assert_int_equal(dev_bus_add(&f->bus, &wide, UINT64_MAX, NULL, NULL), -EEXIST);
	assert_null(dev_bus_find(&f->bus, DEV_PIO, 0x3f0, 1));
	assert_ok(dev_bus_add(&f->bus, &wide, 0x3e8, NULL, &w));
	assert_ok(dev_bus_add(&f->bus, &last, UINT64_MAX, NULL, &l));
	assert_ptr_equal(dev_bus_find(&f->bus, DEV_PIO, 0x3e8, 4), w);
	assert_ptr_equal(dev_bus_find(&f->bus, DEV_PIO, 0x3f7, 1), w);
	/* the next window starts at once: its own device, and no access spans both */
	assert_string_equal(dev_bus_find(&f->bus, DEV_PIO, COM1, 1)->ops->name, "uart16550");
	assert_null(dev_bus_find(&f->bus, DEV_PIO, 0x3f7, 2));
	assert_null(dev_bus_find(&f->bus, DEV_PIO, 0x3e7, 1));
	assert_null(dev_bus_find(&f->bus, DEV_PIO, 0x3e7, 2));
	/* the top of the port space */
	assert_ptr_equal(dev_bus_find(&f->bus, DEV_PIO, 0xfffc, 4), l);
	assert_ptr_equal(dev_bus_find(&f->bus, DEV_PIO, 0xffff, 1), l);
	assert_null(dev_bus_find(&f->bus, DEV_PIO, 0xffff, 2));
	assert_null(dev_bus_find(&f->bus, DEV_PIO, 0x10000, 1));
	assert_null(dev_bus_find(&f->bus, DEV_PIO, UINT64_MAX, 1));
	/* every port agrees with the windows */
	for (unsigned port = 0; port <= 0xffff; port++) {
		const struct device *d = dev_bus_find(&f->bus, DEV_PIO, port, 1), *want = NULL;

		for (unsigned i = 0; i < f->bus.n; i++)
			if (f->bus.dev[i].ops->space == DEV_PIO && port >= f->bus.dev[i].base &&
			    port < f->bus.dev[i].base + f->bus.dev[i].len)
				want = &f->bus.dev[i];
		if (d != want)
			fail_msg("port 0x%x: %s, not %s", port, d ? d->ops->name : "none",
				 want ? want->ops->name : "none");
	}
	assert_int_equal(dev_bus_pio_read(&f->bus, 0xffff, 1), 0xff);  /* no read callback */
}

/* dev_scale: the 64-bit quotient while the product fits, the 128-bit one
 * past it, the same rounding on both sides (RTC 32.768 kHz, ACPI PM timer
 * 3.579545 MHz, the RTC's cycle-to-TSC ceiling, a sum that carries). */
static void test_scale(void **state)
{
	static const struct { uint64_t x, mul, add, div, want; } c[] = {
		{ 562949953421311ULL, 32768ULL, 0ULL, 1000000000ULL, 18446744073ULL },
		{ 562949953421312ULL, 32768ULL, 0ULL, 1000000000ULL, 18446744073ULL },
		{ 18446744073709551615ULL, 32768ULL, 0ULL, 1000000000ULL, 604462909807314ULL },
		{ 5153376776576ULL, 3579545ULL, 0ULL, 1000000000ULL, 18446744073ULL },
		{ 5153376776577ULL, 3579545ULL, 0ULL, 1000000000ULL, 18446744073ULL },
		{ 18446744073709551615ULL, 3579545ULL, 0ULL, 1000000000ULL, 66030950515326656ULL },
		{ 18446744073ULL, 1000000000ULL, 32767ULL, 32768ULL, 562949953399659ULL },
		{ 18446744074ULL, 1000000000ULL, 32767ULL, 32768ULL, 562949953430176ULL },
		{ 18446744073709551615ULL, 1ULL, 2ULL, 3ULL, 6148914691236517205ULL },
		{ 1000000000ULL, 3579545ULL, 0ULL, 1000000000ULL, 3579545ULL },
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		assert_int_equal(dev_scale(c[i].x, c[i].mul, c[i].add, c[i].div), c[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_uart_transmit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uart_dlab, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uart_scratch_and_iir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uart_loopback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uart_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_uart_wide_access, setup, teardown),
		cmocka_unit_test_setup_teardown(test_debug_exit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_ports, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pci_host_bridge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pci_absent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pci_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hvtest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_add, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_lookup, setup, teardown),
		cmocka_unit_test(test_scale),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
