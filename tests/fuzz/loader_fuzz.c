/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/loader_fuzz.c - libFuzzer harness for the kernel loader
 * (hv/loader.c): ELF32/ELF64 headers, program headers, the PVH note and the
 * multiboot v1 header, loaded into an 8 MiB guest behind a bounds-checked
 * write callback. An odd-sized input also gets a kernel name (QEMU's
 * multiboot command line).
 *
 * Invariants: every write the loader asks for lies inside the buffer it
 * targets or is refused by the callback (and then the load fails); a load
 * that succeeds has a protocol, at least one segment, the entry inside
 * [load_lo, load_hi) and inside RAM, the boot registers of its protocol and the start info or multiboot information where EBX points;
 * every refusal carries a message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/loader.h"

#define RAM_LOW  0xa0000ULL            /* [0, 640 KiB) */
#define RAM_HIGH 0x100000ULL           /* [1 MiB, 8 MiB) */
#define RAM_END  (8ULL << 20)

static uint8_t ram[RAM_END];

static const struct loader_region map[] = {
	{ 0, RAM_LOW, E820_RAM },
	{ RAM_HIGH, RAM_END - RAM_HIGH, E820_RAM },
};

static int ram_write(void *ctx, uint64_t gpa, const void *src, uint64_t len)
{
	bool in = false;

	(void)ctx;
	for (unsigned i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (gpa >= map[i].gpa && gpa - map[i].gpa <= map[i].size &&
		    len <= map[i].size - (gpa - map[i].gpa))
			in = true;
	if (!in)
		return -14; /* -EFAULT */
	if (src)
		memcpy(ram + gpa, src, len);
	else
		memset(ram + gpa, 0, len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct loader_target t = {
		.write = ram_write,
		.map = map,
		.nmap = sizeof(map) / sizeof(map[0]),
		.kernel_name = (size & 1) ? "guest.elf" : NULL,
	};
	struct boot_state bs;
	char err[512];
	int rc;

	err[0] = '\0';
	memset(&bs, 0xa5, sizeof(bs));
	rc = loader_load(data, size, "console=ttyS0 workload=seq", &t, &bs, err, sizeof(err));
	if (rc != 0) {
		if (rc > 0 || err[0] == '\0' || strlen(err) >= sizeof(err) - 1)
			abort();
		return 0;
	}
	if (bs.protocol != BOOT_PVH && bs.protocol != BOOT_MULTIBOOT)
		abort();
	if (bs.segments == 0 || bs.load_lo >= bs.load_hi || bs.load_hi > RAM_END)
		abort();
	if (bs.entry < bs.load_lo || bs.entry >= bs.load_hi)
		abort();
	if (bs.ebx != BOOT_INFO_GPA)
		abort();
	if (bs.protocol == BOOT_MULTIBOOT) {
		struct multiboot_info mi;

		memcpy(&mi, ram + BOOT_INFO_GPA, sizeof(mi));
		if (bs.eax != MULTIBOOT_BOOTLOADER_MAGIC || mi.cmdline != BOOT_CMDLINE_GPA ||
		    mi.mem_lower != RAM_LOW >> 10 || mi.mem_upper != (RAM_END - RAM_HIGH) >> 10)
			abort();
		if (strncmp((const char *)ram + BOOT_CMDLINE_GPA, "guest.elf ", 10) != 0 &&
		    (size & 1))
			abort();
	} else {
		struct hvm_start_info si;

		memcpy(&si, ram + BOOT_INFO_GPA, sizeof(si));
		if (si.magic != HVM_START_MAGIC || si.memmap_entries != t.nmap ||
		    si.cmdline_paddr != BOOT_CMDLINE_GPA)
			abort();
		if (strcmp((const char *)ram + BOOT_CMDLINE_GPA, "console=ttyS0 workload=seq") != 0)
			abort();
	}
	return 0;
}
