/* SPDX-License-Identifier: MIT */
/*
 * hv/uart.c - a 16550 UART, enough for the polling drivers of small kernels
 * (wait for LSR.THRE, write THR) and for drivers that probe the chip first
 * (scratch register, loopback test, divisor latch, FIFO enable in IIR).
 *
 * Transmission is instantaneous: a byte written to THR goes straight to the
 * output, so THR and the transmitter are always empty (LSR.THRE|TEMT). There
 * is no interrupt line yet; IIR still reports what would be pending, which is
 * what drivers read after enabling interrupts.
 */
#include <poll.h>
#include <unistd.h>

#include "hv/devices.h"

void uart_init(struct uart *u, FILE *out, int in_fd)
{
	*u = (struct uart){ .out = out, .in_fd = in_fd };
}

bool uart_receive(struct uart *u, uint8_t byte)
{
	if (u->rx_count == UART_RX_FIFO)
		return false;
	u->rx[(u->rx_head + u->rx_count) % UART_RX_FIFO] = byte;
	u->rx_count++;
	u->rx_bytes++;
	return true;
}

/* Pull pending input into the receive FIFO without blocking. Reads happen only
 * when the guest looks at RBR or LSR, so a guest that never polls the UART
 * never consumes hv's stdin. */
static void uart_poll_input(struct uart *u)
{
	struct pollfd pfd = { .fd = u->in_fd, .events = POLLIN };
	uint8_t buf[UART_RX_FIFO];
	ssize_t n;

	if (u->in_fd < 0 || (u->mcr & UART_MCR_LOOP) || u->rx_count == UART_RX_FIFO)
		return;
	if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLIN))
		return;
	n = read(u->in_fd, buf, UART_RX_FIFO - u->rx_count);
	for (ssize_t i = 0; i < n; i++)
		uart_receive(u, buf[i]);
}

static uint8_t uart_iir(struct uart *u)
{
	uint8_t fifo = (u->fcr & UART_FCR_ENABLE) ? UART_IIR_FIFO : 0;

	/* Priority order of the data sheet: line status (never raised here),
	 * received data, THR empty, modem status (never raised here). */
	if ((u->ier & UART_IER_ERBFI) && u->rx_count)
		return fifo | UART_IIR_RDA;
	if ((u->ier & UART_IER_ETBEI) && u->thre_pending) {
		/* Reading IIR while it reports THRE acknowledges that interrupt. */
		u->thre_pending = false;
		return fifo | UART_IIR_THRE;
	}
	return fifo | UART_IIR_NONE;
}

static uint8_t uart_msr(const struct uart *u)
{
	/* Loopback wires the modem-control outputs to the status inputs. */
	if (u->mcr & UART_MCR_LOOP)
		return (uint8_t)(((u->mcr & UART_MCR_RTS) ? UART_MSR_CTS : 0) |
				 ((u->mcr & UART_MCR_DTR) ? UART_MSR_DSR : 0) |
				 ((u->mcr & UART_MCR_OUT1) ? UART_MSR_RI : 0) |
				 ((u->mcr & UART_MCR_OUT2) ? UART_MSR_DCD : 0));
	/* A terminal is connected and ready. */
	return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
}

static uint8_t uart_read_reg(struct uart *u, unsigned reg)
{
	uint8_t v;

	switch (reg) {
	case UART_RBR:
		if (u->lcr & UART_LCR_DLAB)
			return u->dll;
		uart_poll_input(u);
		if (!u->rx_count)
			return 0;
		v = u->rx[u->rx_head];
		u->rx_head = (u->rx_head + 1) % UART_RX_FIFO;
		u->rx_count--;
		return v;
	case UART_IER:
		return (u->lcr & UART_LCR_DLAB) ? u->dlm : u->ier;
	case UART_IIR:
		return uart_iir(u);
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		uart_poll_input(u);
		return UART_LSR_THRE | UART_LSR_TEMT | (u->rx_count ? UART_LSR_DR : 0);
	case UART_MSR:
		return uart_msr(u);
	case UART_SCR:
		return u->scr;
	}
	return 0xff;
}

static void uart_transmit(struct uart *u, uint8_t byte)
{
	if (u->mcr & UART_MCR_LOOP) {
		/* Loopback: the byte comes back on the receiver, not the line. */
		uart_receive(u, byte);
	} else if (u->out) {
		fputc(byte, u->out);
		/* Keep guest lines in order with hv's own messages on stderr. */
		if (byte == '\n')
			fflush(u->out);
	}
	u->tx_bytes++;
	/* The holding register empties at once: a new THRE interrupt. */
	u->thre_pending = true;
}

static void uart_write_reg(struct uart *u, unsigned reg, uint8_t v)
{
	switch (reg) {
	case UART_THR:
		if (u->lcr & UART_LCR_DLAB)
			u->dll = v;
		else
			uart_transmit(u, v);
		break;
	case UART_IER:
		if (u->lcr & UART_LCR_DLAB) {
			u->dlm = v;
		} else {
			/* Enabling ETBEI with THR empty raises THRE at once. */
			if ((v & UART_IER_ETBEI) && !(u->ier & UART_IER_ETBEI))
				u->thre_pending = true;
			u->ier = v & 0x0f;
		}
		break;
	case UART_FCR:
		if (v & UART_FCR_CLEAR_RX)
			u->rx_head = u->rx_count = 0;
		u->fcr = v & (UART_FCR_ENABLE | 0xc0);
		break;
	case UART_LCR:
		u->lcr = v;
		break;
	case UART_MCR:
		u->mcr = v & 0x1f;
		break;
	case UART_SCR:
		u->scr = v;
		break;
	default:
		/* LSR and MSR are read-only (writes are for factory test). */
		break;
	}
}

/* The UART is a byte-wide device: a wider access touches consecutive
 * registers, lowest byte first, as the bus would split it. */
static uint64_t uart_read(struct device *dev, uint64_t off, unsigned size)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)uart_read_reg(dev->priv, (unsigned)(off + i) & 7) << (8 * i);
	return v;
}

static void uart_write(struct device *dev, uint64_t off, unsigned size, uint64_t val)
{
	for (unsigned i = 0; i < size; i++)
		uart_write_reg(dev->priv, (unsigned)(off + i) & 7, (uint8_t)(val >> (8 * i)));
}

/* Power-up registers; the byte counts are hv's, not the chip's, and stay. */
static void uart_reset(struct device *dev)
{
	struct uart *u = dev->priv;
	uint64_t tx = u->tx_bytes, rx = u->rx_bytes;

	uart_init(u, u->out, u->in_fd);
	u->tx_bytes = tx;
	u->rx_bytes = rx;
}

const struct device_ops uart_ops = {
	.name = "uart16550",
	.space = DEV_PIO,
	.base = 0x3f8,
	.len = 8,
	.read = uart_read,
	.write = uart_write,
	.reset = uart_reset,
};
