/* SPDX-License-Identifier: MIT */
/*
 * hv/bios.c - the state a PC BIOS leaves (hv/bios.h).
 */
#include <stdint.h>
#include <string.h>

#include "hv/bios.h"

/* Handler offsets in segment F000 (linear 0xf0000 + offset). */
#define H_IRET   0xf000
#define H_TIMER  0xf010
#define H_MASTER 0xf030
#define H_SLAVE  0xf040

/* 16-bit real-mode code of the handlers, at BIOS_STUB_GPA. */
static void stubs(uint8_t *b)
{
	static const uint8_t iret[] = { 0xcf };
	static const uint8_t timer[] = {
		0x1e,                                   /* push ds */
		0x50,                                   /* push ax */
		0x31, 0xc0,                             /* xor ax, ax */
		0x8e, 0xd8,                             /* mov ds, ax */
		0x83, 0x06, 0x6c, 0x04, 0x01,           /* add word [0x46c], 1 */
		0x83, 0x16, 0x6e, 0x04, 0x00,           /* adc word [0x46e], 0 */
		0xcd, 0x1c,                             /* int 0x1c */
		0xb0, 0x20,                             /* mov al, 0x20 */
		0xe6, 0x20,                             /* out 0x20, al (EOI) */
		0x58,                                   /* pop ax */
		0x1f,                                   /* pop ds */
		0xcf,                                   /* iret */
	};
	static const uint8_t master[] = {
		0x50, 0xb0, 0x20, 0xe6, 0x20, 0x58, 0xcf,             /* EOI to the master */
	};
	static const uint8_t slave[] = {
		0x50, 0xb0, 0x20, 0xe6, 0xa0, 0xe6, 0x20, 0x58, 0xcf, /* EOI to both */
	};

	memset(b, 0xcc, BIOS_STUB_SIZE);
	memcpy(b + (H_IRET - 0xf000), iret, sizeof(iret));
	memcpy(b + (H_TIMER - 0xf000), timer, sizeof(timer));
	memcpy(b + (H_MASTER - 0xf000), master, sizeof(master));
	memcpy(b + (H_SLAVE - 0xf000), slave, sizeof(slave));
}

void bios_state_devices(struct dev_bus *bus)
{
	static const struct { uint16_t port; uint8_t val; } outs[] = {
		{ 0x20, 0x11 }, { 0x21, 0x08 }, { 0x21, 0x04 }, { 0x21, 0x01 },  /* master */
		{ 0xa0, 0x11 }, { 0xa1, 0x70 }, { 0xa1, 0x02 }, { 0xa1, 0x01 },  /* slave */
		{ 0x21, 0xfa }, { 0xa1, 0xff },          /* IRQ 0 and the cascade open */
		{ 0x43, 0x34 }, { 0x40, 0x00 }, { 0x40, 0x00 },  /* counter 0, mode 2, 65536 */
	};

	for (unsigned i = 0; i < sizeof(outs) / sizeof(outs[0]); i++)
		dev_bus_pio_write(bus, outs[i].port, 1, outs[i].val);
}

int bios_state_setup(struct dev_bus *bus, int (*write)(void *ctx, uint64_t gpa, const void *src,
						      uint64_t len), void *ctx)
{
	uint8_t ivt[1024], code[BIOS_STUB_SIZE];
	static const uint8_t base_kib[2] = { 639 & 0xff, 639 >> 8 }, ticks[4] = { 0 };
	int rc;

	for (unsigned v = 0; v < 256; v++) {
		uint16_t off = v == 8 ? H_TIMER : (v >= 9 && v <= 0x0f) ? H_MASTER :
			       (v >= 0x70 && v <= 0x77) ? H_SLAVE : H_IRET;

		ivt[4 * v] = (uint8_t)off;
		ivt[4 * v + 1] = (uint8_t)(off >> 8);
		ivt[4 * v + 2] = 0x00;
		ivt[4 * v + 3] = 0xf0;                  /* segment F000 */
	}
	stubs(code);
	rc = write(ctx, 0, ivt, sizeof(ivt));
	if (!rc)
		rc = write(ctx, 0x413, base_kib, sizeof(base_kib));
	if (!rc)
		rc = write(ctx, 0x46c, ticks, sizeof(ticks));
	if (!rc)
		rc = write(ctx, BIOS_STUB_GPA, code, sizeof(code));
	if (rc)
		return rc;
	bios_state_devices(bus);
	return 0;
}
