/* SPDX-License-Identifier: MIT */
/*
 * hv/loader.h - load a guest kernel into guest RAM and describe how to enter it.
 *
 * Two boot protocols, both entered in 32-bit protected mode with paging off:
 *
 *   PVH (Xen's x86/HVM direct boot ABI): an ELF (32 or 64-bit) carrying a note
 *     of type 18 (XEN_ELFNOTE_PHYS32_ENTRY) owned by "Xen" whose value is the
 *     32-bit physical entry point. EBX = GPA of struct hvm_start_info, which
 *     points at the command line and an E820-style memory map.
 *   Multiboot v1: an ELF32 (i386) whose first 8 KiB hold the multiboot header
 *     (magic 0x1BADB002, flags, checksum with magic + flags + checksum = 0).
 *     EAX = 0x2BADB002, EBX = GPA of the multiboot information structure.
 *
 * The loader does not know about the VM: it writes through a struct
 * loader_target (a bounds-checked "copy to guest-physical" callback) and
 * returns the entry state in struct boot_state. Everything a file can get
 * wrong is a returned error with a message naming the problem.
 */
#ifndef HV_LOADER_H
#define HV_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "ept/ept.h"

/* Xen public/arch-x86/hvm/start_info.h: struct hvm_start_info (version 1). */
#define HVM_START_MAGIC 0x336ec578u
struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;    /* version >= 1 */
	uint32_t memmap_entries;  /* version >= 1 */
	uint32_t reserved;
};
/* struct hvm_memmap_table_entry: E820 types. */
struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};
#define E820_RAM      1
#define E820_RESERVED 2

#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* Multiboot Specification 0.6.96, 3.1 and 3.3. */
#define MULTIBOOT_HEADER_MAGIC     0x1BADB002u
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u
#define MULTIBOOT_SEARCH           8192
#define MB_INFO_MEMORY   (1u << 0)   /* mem_lower, mem_upper valid */
#define MB_INFO_CMDLINE  (1u << 2)
#define MB_INFO_MMAP     (1u << 6)
#define MB_INFO_LOADER_NAME (1u << 9)
struct multiboot_info {
	uint32_t flags;
	uint32_t mem_lower, mem_upper;   /* KiB below 1 MiB, KiB from 1 MiB to the first hole */
	uint32_t boot_device;
	uint32_t cmdline;
	uint32_t mods_count, mods_addr;
	uint32_t syms[4];
	uint32_t mmap_length, mmap_addr;
	uint32_t drives_length, drives_addr;
	uint32_t config_table;
	uint32_t boot_loader_name;
	uint32_t apm_table;
};
/* One multiboot memory-map entry: `size` counts the bytes after itself (20). */
struct __attribute__((packed)) multiboot_mmap_entry {
	uint32_t size;
	uint64_t addr;
	uint64_t len;
	uint32_t type;
};

/*
 * Where the boot data goes, below 1 MiB and below where kernels load
 * (conventionally at 1 MiB). A segment that overlaps this area is an error.
 */
#define BOOT_INFO_GPA    0x6000ULL   /* hvm_start_info or multiboot_info */
#define BOOT_MMAP_GPA    0x6200ULL   /* memory map */
#define BOOT_CMDLINE_GPA 0x7000ULL   /* NUL-terminated command line */
#define BOOT_CMDLINE_MAX 0x1000ULL
#define BOOT_AREA_END    (BOOT_CMDLINE_GPA + BOOT_CMDLINE_MAX)

/* A RAM region of the guest-physical map. */
struct loader_region {
	uint64_t gpa, size;
	uint32_t type;   /* E820_RAM or E820_RESERVED */
};
#define LOADER_MAX_REGIONS 8

/* What the loader writes into. */
struct loader_target {
	/* Copy len bytes to guest-physical gpa (src NULL: zero-fill). 0, or
	 * -EFAULT when any part of the range is not guest RAM. */
	int (*write)(void *ctx, uint64_t gpa, const void *src, uint64_t len);
	void *ctx;
	/* The memory map handed to the guest. */
	const struct loader_region *map;
	unsigned nmap;
	/* Multiboot: the command line is this name, a space, then the given
	 * command line, as QEMU builds it for -kernel (kernels take the first
	 * word as argv[0]). NULL: the command line alone. PVH ignores it. */
	const char *kernel_name;
};

enum boot_protocol {
	BOOT_PVH = 1,
	BOOT_MULTIBOOT = 2,
};

/* How to enter the kernel: 32-bit protected mode, flat 4 GiB segments, paging off. */
struct boot_state {
	enum boot_protocol protocol;
	uint32_t entry;      /* EIP */
	uint32_t eax, ebx;
	uint64_t load_lo, load_hi;  /* lowest and highest+1 GPA loaded from the file */
	unsigned segments;
};

/* Load an image held in memory. On failure, err holds a message. */
int loader_load(const uint8_t *image, size_t size, const char *cmdline,
		const struct loader_target *t, struct boot_state *out, char *err,
		size_t errlen) HV_MUST_CHECK;
/* Read `path` and load it (the message names the file on failure). */
int loader_load_file(const char *path, const char *cmdline, const struct loader_target *t,
		     struct boot_state *out, char *err, size_t errlen) HV_MUST_CHECK;
const char *boot_protocol_name(enum boot_protocol p);

#endif /* HV_LOADER_H */
