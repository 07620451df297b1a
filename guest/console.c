/*
 * console.c: the 16550 UART at I/O port 0x3f8, a small printf, and the
 * isa-debug-exit port that ends the run with a status.
 */
#include "kernel.h"
#include "x86.h"

/* 16550 registers, as offsets from the base port (PC16550D datasheet). */
#define COM1 0x3f8
#define UART_THR 0 /* transmit holding (write, DLAB=0) */
#define UART_DLL 0 /* divisor latch low (DLAB=1) */
#define UART_IER 1 /* interrupt enable (DLAB=0) */
#define UART_DLM 1 /* divisor latch high (DLAB=1) */
#define UART_FCR 2 /* FIFO control */
#define UART_LCR 3 /* line control; bit 7 = DLAB */
#define UART_MCR 4 /* modem control */
#define UART_LSR 5 /* line status */
#define LSR_THRE 0x20 /* transmit holding register empty */

#define DEBUG_EXIT_PORT 0xf4

void console_init(void)
{
	outb(COM1 + UART_IER, 0x00); /* no interrupts: the kernel polls */
	outb(COM1 + UART_LCR, 0x80); /* DLAB on to reach the divisor */
	outb(COM1 + UART_DLL, 0x01); /* 115200 baud */
	outb(COM1 + UART_DLM, 0x00);
	outb(COM1 + UART_LCR, 0x03); /* 8 data bits, no parity, 1 stop bit */
	outb(COM1 + UART_FCR, 0x07); /* enable and clear the FIFOs */
	outb(COM1 + UART_MCR, 0x03); /* DTR, RTS */
}

static void console_putc(char c)
{
	while (!(inb(COM1 + UART_LSR) & LSR_THRE))
		__asm__ volatile("pause");
	outb(COM1 + UART_THR, (uint8_t)c);
}

void console_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		console_putc(s[i]);
}

/* Format an unsigned number into the end of buf; returns the first digit. */
static char *format_unsigned(char *end, uint64_t v, unsigned base)
{
	char *p = end;
	do {
		*--p = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	return p;
}

static bool left_justify;

static void put_padded(const char *s, size_t n, int width, char pad)
{
	if (left_justify) {
		console_write(s, n);
		pad = ' ';
	}
	for (int i = (int)n; i < width; i++)
		console_putc(pad);
	if (!left_justify)
		console_write(s, n);
}

/*
 * Supports %c %s %d %u %x %p and %%, with an optional 0 or - flag, a width and
 * the l/ll/z length modifiers: what the kernel's messages need.
 */
void kvprintf(const char *fmt, va_list ap)
{
	char buf[24];
	char *end = buf + sizeof(buf);

	for (const char *f = fmt; *f; f++) {
		if (*f != '%') {
			console_putc(*f);
			continue;
		}
		f++;
		char pad = ' ';
		int width = 0, longs = 0;
		left_justify = *f == '-';
		if (left_justify)
			f++;
		if (*f == '0') {
			pad = '0';
			f++;
		}
		while (*f >= '0' && *f <= '9')
			width = width * 10 + (*f++ - '0');
		while (*f == 'l' || *f == 'z') {
			longs++;
			f++;
		}
		uint64_t u;
		int64_t s;
		char *p;
		switch (*f) {
		case 'c':
			buf[0] = (char)va_arg(ap, int);
			put_padded(buf, 1, width, ' ');
			break;
		case 's':
			p = va_arg(ap, char *);
			put_padded(p, strlen(p), width, ' ');
			break;
		case 'd':
			s = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
			p = format_unsigned(end, s < 0 ? -(uint64_t)s : (uint64_t)s, 10);
			if (s < 0)
				*--p = '-';
			put_padded(p, (size_t)(end - p), width, pad);
			break;
		case 'u':
		case 'x':
			u = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			p = format_unsigned(end, u, *f == 'x' ? 16 : 10);
			put_padded(p, (size_t)(end - p), width, pad);
			break;
		case 'p':
			u = (uint64_t)va_arg(ap, void *);
			p = format_unsigned(end, u, 16);
			console_write("0x", 2);
			put_padded(p, (size_t)(end - p), width, pad);
			break;
		case '%':
			console_putc('%');
			break;
		default: /* unknown conversion: show it rather than guess */
			console_putc('%');
			console_putc(*f);
			if (!*f)
				return;
			break;
		}
	}
}

void kprintf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
}

/* isa-debug-exit: a write of v makes QEMU (and hv) exit with (v << 1) | 1. */
void guest_exit(uint32_t code)
{
	outl(DEBUG_EXIT_PORT, code);
	halt_forever(); /* no exit device: stop here */
}

void panic(const char *fmt, ...)
{
	va_list ap;
	kprintf("PANIC: ");
	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
	kprintf("\n");
	guest_exit(EXIT_PANIC);
}
