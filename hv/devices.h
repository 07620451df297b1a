/* SPDX-License-Identifier: MIT */
/*
 * hv/devices.h - device models and the buses that route guest accesses to them.
 *
 * A device model is a const operations table (struct device_ops) filled with
 * designated initializers: the address space it lives in (port I/O or MMIO),
 * its default window, and read/write/reset callbacks. An instance (struct
 * device) pairs the table with the model's private state. A struct dev_bus
 * holds every instance of one VM and finds the one an access falls into;
 * accesses that hit nothing are counted, and reads of them return all-ones as
 * an ISA bus with nothing driving it does.
 *
 * Models in this folder:
 *   uart.c       16550 UART (COM1 at 0x3f8)
 *   debugexit.c  isa-debug-exit at 0xf4 (QEMU's test-harness exit port)
 *   pci.c        PCI host bridge, configuration mechanism #1 at 0xcf8/0xcfc
 *   devices.c    the bus itself and the hv test device (an MMIO page, HVTEST_*)
 *
 * Device callbacks never fail because of what a guest does: odd sizes and
 * offsets are handled the way the hardware would (ignored, or all-ones).
 */
#ifndef HV_DEVICES_H
#define HV_DEVICES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ept/ept.h"

enum dev_space {
	DEV_PIO = 0,  /* x86 port I/O, 16-bit port numbers */
	DEV_MMIO = 1, /* guest-physical addresses with no RAM behind them */
};

struct device;
struct dev_bus;

struct device_ops {
	const char *name;
	enum dev_space space;
	uint64_t base, len;  /* default window; dev_bus_add may place it elsewhere */
	/* size is 1, 2, 4 or 8; off is relative to the window base. */
	uint64_t (*read)(struct device *dev, uint64_t off, unsigned size);
	void (*write)(struct device *dev, uint64_t off, unsigned size, uint64_t val);
	void (*reset)(struct device *dev);  /* may be NULL */
};

/*
 * One device instance.
 *   ops, base, len, priv, bus: set once by dev_bus_add.
 */
struct device {
	const struct device_ops *ops;
	uint64_t base, len;
	void *priv;
	struct dev_bus *bus;
};

#define DEV_BUS_MAX 24
_Static_assert(DEV_BUS_MAX < 256, "struct dev_bus pio[] holds device numbers in a byte");

/*
 * Every device of a VM.
 *   dev[], n: filled at VM creation, then read-only.
 *   pio[port]: 1 + the index in dev[] of the port device whose window holds
 *     the port, 0 for none; kept by dev_bus_add (port windows never move),
 *     so that finding a port's device is one load, not a search.
 *   stop, stop_value, stop_dev: set by a device that ends the run
 *     (isa-debug-exit); the exit loop checks them after each access.
 *   unknown_*: accesses that hit no device, counted for the report.
 */
struct dev_bus {
	struct device dev[DEV_BUS_MAX];
	unsigned n;
	uint8_t pio[0x10000];
	bool stop;
	uint64_t stop_value;
	const struct device *stop_dev;
	uint64_t unknown_pio_reads, unknown_pio_writes;
};

/* Add an instance of `ops` at `base` (the model's default when base is
 * UINT64_MAX). -EEXIST when its window overlaps another one of the same space,
 * -ENOSPC when the bus is full, -EINVAL for an empty or wrapping window. */
int dev_bus_add(struct dev_bus *bus, const struct device_ops *ops, uint64_t base, void *priv,
		struct device **out) HV_MUST_CHECK;
/* The device whose window holds all of [addr, addr+size), or NULL. */
struct device *dev_bus_find(struct dev_bus *bus, enum dev_space space, uint64_t addr,
			    unsigned size);
/* Port I/O as the exit loop sees it: unknown ports read all-ones and ignore
 * writes (both counted). */
uint64_t dev_bus_pio_read(struct dev_bus *bus, uint16_t port, unsigned size);
void dev_bus_pio_write(struct dev_bus *bus, uint16_t port, unsigned size, uint64_t val);
void dev_bus_reset(struct dev_bus *bus);

/*
 * (x * mul + add) / div, rounded down, for the device clocks that count off
 * the guest TSC. While x * mul + add fits 64 bits (hours to days of guest
 * time at the rates used) the division is a 64-bit one, which the compiler
 * turns into a multiplication for a constant div; past that, 128 bits. The
 * quotient is the same either way.
 */
static inline uint64_t dev_scale(uint64_t x, uint64_t mul, uint64_t add, uint64_t div)
{
	uint64_t p;

	if (!__builtin_mul_overflow(x, mul, &p) && !__builtin_add_overflow(p, add, &p))
		return p / div;
	return (uint64_t)(((unsigned __int128)x * mul + add) / div);
}

/* All-ones of `size` bytes (1, 2, 4 or 8). */
static inline uint64_t dev_ones(unsigned size)
{
	return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

/* ------------------------------------------------------------------------ */
/* 16550 UART (National Semiconductor PC16550D data sheet)                  */
/* ------------------------------------------------------------------------ */

/* Register offsets from the base port. With LCR.DLAB=1, offsets 0 and 1 are
 * the divisor latch (DLL, DLM) instead of RBR/THR and IER. */
#define UART_RBR 0  /* read: receiver buffer */
#define UART_THR 0  /* write: transmitter holding */
#define UART_IER 1  /* interrupt enable */
#define UART_IIR 2  /* read: interrupt identification */
#define UART_FCR 2  /* write: FIFO control */
#define UART_LCR 3  /* line control */
#define UART_MCR 4  /* modem control */
#define UART_LSR 5  /* line status */
#define UART_MSR 6  /* modem status */
#define UART_SCR 7  /* scratch */

#define UART_IER_ERBFI 0x01  /* received data available */
#define UART_IER_ETBEI 0x02  /* transmitter holding register empty */
#define UART_IER_ELSI  0x04  /* receiver line status */
#define UART_IER_EDSSI 0x08  /* modem status */

#define UART_IIR_NONE  0x01  /* bit 0 = 1: no interrupt pending */
#define UART_IIR_THRE  0x02
#define UART_IIR_RDA   0x04
#define UART_IIR_FIFO  0xc0  /* bits 7:6 set when FCR enabled the FIFOs */

#define UART_FCR_ENABLE   0x01
#define UART_FCR_CLEAR_RX 0x02
#define UART_FCR_CLEAR_TX 0x04

#define UART_LCR_DLAB  0x80

#define UART_MCR_DTR   0x01
#define UART_MCR_RTS   0x02
#define UART_MCR_OUT1  0x04
#define UART_MCR_OUT2  0x08
#define UART_MCR_LOOP  0x10

#define UART_LSR_DR    0x01  /* data ready */
#define UART_LSR_THRE  0x20  /* transmitter holding register empty */
#define UART_LSR_TEMT  0x40  /* transmitter empty */

#define UART_MSR_CTS   0x10
#define UART_MSR_DSR   0x20
#define UART_MSR_RI    0x40
#define UART_MSR_DCD   0x80

#define UART_RX_FIFO 16

/*
 * UART state.
 *   out, in_fd: set once by uart_init (in_fd -1: no input).
 *   everything else: guest-visible registers, cleared by reset.
 */
struct uart {
	FILE *out;
	int in_fd;
	uint8_t ier, lcr, mcr, scr, fcr;
	uint8_t dll, dlm;
	bool thre_pending;     /* THR-empty interrupt raised and not yet acknowledged */
	uint8_t rx[UART_RX_FIFO];
	unsigned rx_head, rx_count;
	uint64_t tx_bytes, rx_bytes;
};

extern const struct device_ops uart_ops;
/* Output goes to `out` (may be NULL: discarded); input is read from in_fd
 * when it has bytes (pass -1 unless it is a terminal). */
void uart_init(struct uart *u, FILE *out, int in_fd);
/* Queue a received byte (input, tests); false when the FIFO is full. */
bool uart_receive(struct uart *u, uint8_t byte);

/* ------------------------------------------------------------------------ */
/* isa-debug-exit                                                           */
/* ------------------------------------------------------------------------ */
#define DEBUGEXIT_PORT 0xf4
/* A write of v stops the VM; hv's exit status is then (v << 1) | 1, as QEMU's. */
extern const struct device_ops debugexit_ops;
static inline int debugexit_status(uint64_t v)
{
	return (int)((((uint32_t)v << 1) | 1) & 0xff);
}

/* ------------------------------------------------------------------------ */
/* PCI (PCI Local Bus Specification 3.0, 3.2.2.3.2: configuration mechanism #1) */
/* ------------------------------------------------------------------------ */
#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA    0xcfc
#define PCI_CFG_ENABLE     (1u << 31)

/* Configuration-space header offsets (PCI 3.0, 6.1). */
#define PCI_VENDOR_ID   0x00
#define PCI_DEVICE_ID   0x02
#define PCI_COMMAND     0x04
#define PCI_STATUS      0x06
#define PCI_REVISION    0x08
#define PCI_CLASS_PROG  0x09
#define PCI_CLASS_SUB   0x0a
#define PCI_CLASS_BASE  0x0b
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0        0x10
#define PCI_SUBSYS_VENDOR 0x2c
#define PCI_SUBSYS_ID   0x2e
#define PCI_INT_LINE    0x3c
#define PCI_INT_PIN     0x3d

#define PCI_CFG_SIZE 256
#define PCI_DEVFN(dev, fn) ((uint8_t)(((dev) << 3) | (fn)))

struct pci_function;

/* What a PCI device model adds to plain configuration-space storage. */
struct pci_function_ops {
	const char *name;
	/* Called after a guest write to configuration space has been stored
	 * (BAR placement, command register); may be NULL. */
	void (*config_written)(struct pci_function *fn, unsigned off, unsigned size);
	void (*reset)(struct pci_function *fn);
};

/*
 * One function's configuration space.
 *   cfg: the registers; wmask: which bits a guest may write (the rest are
 *     read-only: IDs, class, header type).
 *   ops, priv: set once at registration.
 */
struct pci_function {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];
	const struct pci_function_ops *ops;
	void *priv;
};

/*
 * The host bridge and bus 0.
 *   config_address: the 0xcf8 latch.
 *   fn[devfn]: registered functions on bus 0 (NULL: absent, reads all-ones).
 */
struct pci_host {
	uint32_t config_address;
	struct pci_function *fn[256];
	struct pci_function bridge;  /* 00:00.0 */
};

extern const struct device_ops pci_host_ops;  /* ports 0xcf8..0xcff */
/* Set up the bus with the host bridge at 00:00.0 (8086:29c0, class 0600, like q35's). */
void pci_host_init(struct pci_host *h);
/* Fill a function's identity and the usual writable bits (command register). */
void pci_function_init(struct pci_function *fn, uint16_t vendor, uint16_t device,
		       uint8_t class_base, uint8_t class_sub, uint8_t prog_if,
		       const struct pci_function_ops *ops, void *priv);
/* Put a function at 00:dev.fn; -EEXIST when taken, -EINVAL when out of range. */
int pci_register(struct pci_host *h, unsigned dev, unsigned fn, struct pci_function *f) HV_MUST_CHECK;
/* Configuration read/write as the data port does it (tests call these too). */
uint32_t pci_config_read(struct pci_host *h, uint8_t bus, uint8_t devfn, unsigned off,
			 unsigned size);
void pci_config_write(struct pci_host *h, uint8_t bus, uint8_t devfn, unsigned off,
		      unsigned size, uint32_t val);

/* ------------------------------------------------------------------------ */
/* hv test device: one MMIO page the scenarios use                          */
/* ------------------------------------------------------------------------ */
/*
 * Registers (little-endian, any access size that stays inside one register):
 *   0x00 ID       read-only, HVTEST_ID_VALUE ("hvTD")
 *   0x08 SCRATCH  read/write, 64 bits
 *   0x10 COUNT    read-only, number of accesses the device has seen, this read included
 * Other offsets read as zero and ignore writes.
 */
#define HVTEST_BASE      0xfeb00000ULL
#define HVTEST_LEN       0x1000ULL
#define HVTEST_ID        0x00
#define HVTEST_SCRATCH   0x08
#define HVTEST_COUNT     0x10
#define HVTEST_ID_VALUE  0x44547668ULL  /* "hvTD" in memory order */

struct hvtest {
	uint64_t scratch;
	uint64_t count;
};
extern const struct device_ops hvtest_ops;

#endif /* HV_DEVICES_H */
