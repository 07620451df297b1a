/* SPDX-License-Identifier: MIT */
/*
 * hv/bios.h - the machine state a PC BIOS leaves before it boots a kernel
 * (hv run --bios-state): what test kernels written for QEMU and SeaBIOS
 * count on once they drop to real mode and wait for an interrupt.
 *
 *   8259 pair  initialized (ICW1-4): master at vectors 0x08-0x0f, slave at
 *              0x70-0x77, cascade on IR2; IRQ 0 and the cascade unmasked
 *   8254       counter 0 in mode 2 with a count of 65536: IRQ 0 at
 *              18.2065 Hz (PIT_HZ / 65536)
 *   IVT        at 0: every vector to an IRET at F000:F000; vector 0x08 to a
 *              timer handler that counts ticks in the BIOS data area (the
 *              32-bit count at 0x46c), calls INT 1Ch and acknowledges the
 *              master; 0x09-0x0f and 0x70-0x77 to handlers that acknowledge
 *              the master, or the slave and the master
 *   BDA        0x413: 639 KiB of conventional memory; 0x46c: 0 ticks
 *
 * The handlers are 16-bit code at 0xff000 (in the BIOS area the memory map
 * reserves). Nothing else of a BIOS is there: no INT 10h/13h/15h services.
 * A wake from ACPI S3 programs the two devices again as at boot (the RAM
 * parts, IVT, BDA and handlers, were kept with the rest of RAM).
 */
#ifndef HV_BIOS_H
#define HV_BIOS_H

#include "hv/devices.h"

#define BIOS_STUB_GPA  0xff000ULL
#define BIOS_STUB_SIZE 0x60

/* Write the IVT, BDA bytes and handlers through `write` (guest-physical),
 * and program the 8259 pair and the 8254 through `bus` as a BIOS would. */
int bios_state_setup(struct dev_bus *bus, int (*write)(void *ctx, uint64_t gpa, const void *src,
						      uint64_t len), void *ctx);

/* Program the 8259 pair and the 8254 alone, as above. */
void bios_state_devices(struct dev_bus *bus);

#endif /* HV_BIOS_H */
