/* SPDX-License-Identifier: MIT */
/*
 * hv/loader.c - ELF kernels with a PVH note, and multiboot v1 ELF32 kernels.
 *
 * Every number read from the file is checked before it is used: offsets and
 * sizes against the file size, addresses against guest RAM (through the
 * target's write callback), all with overflow-safe comparisons. A malformed
 * file gets an error message that names the field that is wrong.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hv/errmsg.h"
#include "hv/loader.h"

/* Cap on the kernel image size: far above any test kernel, and keeps a
 * mistaken path (a disk image, /dev/zero) from being read into memory. */
#define LOADER_MAX_FILE (256ULL << 20)

/* The program-header fields the loader uses, the same for both ELF classes. */
struct phdr {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

struct elf_info {
	bool is64;
	uint16_t machine;
	uint64_t entry;
	unsigned phnum;
	uint64_t phoff;
};

const char *boot_protocol_name(enum boot_protocol p)
{
	switch (p) {
	case BOOT_PVH:
		return "pvh";
	case BOOT_MULTIBOOT:
		return "multiboot";
	}
	return "?";
}

/* [off, off+len) lies inside a buffer of `size` bytes. */
static bool in_file(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static int parse_ehdr(const uint8_t *img, size_t size, struct elf_info *ei, char *err,
		      size_t errlen)
{
	if (size < EI_NIDENT || memcmp(img, ELFMAG, SELFMAG) != 0)
		return errmsg(err, errlen, -ENOEXEC, "not an ELF file (bad magic)");
	if (img[EI_CLASS] != ELFCLASS32 && img[EI_CLASS] != ELFCLASS64)
		return errmsg(err, errlen, -ENOEXEC, "unknown ELF class %u", img[EI_CLASS]);
	if (img[EI_DATA] != ELFDATA2LSB)
		return errmsg(err, errlen, -ENOEXEC, "not a little-endian ELF file");
	ei->is64 = img[EI_CLASS] == ELFCLASS64;
	if (ei->is64) {
		Elf64_Ehdr eh;

		if (size < sizeof(eh))
			return errmsg(err, errlen, -ENOEXEC, "truncated ELF header (%zu bytes)", size);
		memcpy(&eh, img, sizeof(eh));
		if (eh.e_type != ET_EXEC)
			return errmsg(err, errlen, -ENOEXEC, "ELF type %u is not an executable", eh.e_type);
		if (eh.e_phnum && eh.e_phentsize != sizeof(Elf64_Phdr))
			return errmsg(err, errlen, -ENOEXEC, "program header size %u (expected %zu)",
				    eh.e_phentsize, sizeof(Elf64_Phdr));
		ei->machine = eh.e_machine;
		ei->entry = eh.e_entry;
		ei->phnum = eh.e_phnum;
		ei->phoff = eh.e_phoff;
	} else {
		Elf32_Ehdr eh;

		if (size < sizeof(eh))
			return errmsg(err, errlen, -ENOEXEC, "truncated ELF header (%zu bytes)", size);
		memcpy(&eh, img, sizeof(eh));
		if (eh.e_type != ET_EXEC)
			return errmsg(err, errlen, -ENOEXEC, "ELF type %u is not an executable", eh.e_type);
		if (eh.e_phnum && eh.e_phentsize != sizeof(Elf32_Phdr))
			return errmsg(err, errlen, -ENOEXEC, "program header size %u (expected %zu)",
				    eh.e_phentsize, sizeof(Elf32_Phdr));
		ei->machine = eh.e_machine;
		ei->entry = eh.e_entry;
		ei->phnum = eh.e_phnum;
		ei->phoff = eh.e_phoff;
	}
	if (ei->machine != (ei->is64 ? EM_X86_64 : EM_386))
		return errmsg(err, errlen, -ENOEXEC, "ELF%s machine %u is not %s", ei->is64 ? "64" : "32",
			    ei->machine, ei->is64 ? "x86-64 (62)" : "i386 (3)");
	if (ei->phnum == 0)
		return errmsg(err, errlen, -ENOEXEC, "no program headers");
	if (!in_file(ei->phoff, (uint64_t)ei->phnum * (ei->is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)),
		     size))
		return errmsg(err, errlen, -ENOEXEC, "program headers at 0x%llx (%u entries) run past the end of the file",
			    (unsigned long long)ei->phoff, ei->phnum);
	return 0;
}

static void get_phdr(const uint8_t *img, const struct elf_info *ei, unsigned i, struct phdr *ph)
{
	if (ei->is64) {
		Elf64_Phdr p;

		memcpy(&p, img + ei->phoff + (uint64_t)i * sizeof(p), sizeof(p));
		*ph = (struct phdr){ p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz };
	} else {
		Elf32_Phdr p;

		memcpy(&p, img + ei->phoff + (uint64_t)i * sizeof(p), sizeof(p));
		*ph = (struct phdr){ p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz };
	}
}

/*
 * Look for the PVH entry note in the PT_NOTE segments. 1 and *entry set when
 * found, 0 when absent, -ENOEXEC for a malformed note.
 */
static int find_pvh_note(const uint8_t *img, size_t size, const struct elf_info *ei,
			 uint64_t *entry, char *err, size_t errlen)
{
	for (unsigned i = 0; i < ei->phnum; i++) {
		struct phdr ph;

		get_phdr(img, ei, i, &ph);
		if (ph.type != PT_NOTE)
			continue;
		if (!in_file(ph.offset, ph.filesz, size))
			return errmsg(err, errlen, -ENOEXEC, "note segment %u runs past the end of the file", i);
		/* Each note: namesz, descsz, type (32-bit words in both classes),
		 * then the name and the descriptor, each padded to 4 bytes. */
		uint64_t pos = 0;
		const uint8_t *notes = img + ph.offset;
		while (ph.filesz - pos >= 12) {
			uint64_t namesz = rd32(notes + pos), descsz = rd32(notes + pos + 4);
			uint32_t type = rd32(notes + pos + 8);
			uint64_t name_off = pos + 12;
			uint64_t desc_off = name_off + ((namesz + 3) & ~3ULL);
			uint64_t next = desc_off + ((descsz + 3) & ~3ULL);

			if (next > ph.filesz)
				return errmsg(err, errlen, -ENOEXEC,
					    "note at offset 0x%llx in segment %u runs past its segment",
					    (unsigned long long)(ph.offset + pos), i);
			if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 &&
			    memcmp(notes + name_off, "Xen", 4) == 0) {
				if (descsz == 4)
					*entry = rd32(notes + desc_off);
				else if (descsz == 8)
					*entry = rd64(notes + desc_off);
				else
					return errmsg(err, errlen, -ENOEXEC,
						    "PVH entry note has a %llu-byte value (expected 4 or 8)",
						    (unsigned long long)descsz);
				if (*entry > UINT32_MAX)
					return errmsg(err, errlen, -ENOEXEC,
						    "PVH entry point 0x%llx is above 4 GiB",
						    (unsigned long long)*entry);
				return 1;
			}
			pos = next;
		}
	}
	return 0;
}

/*
 * Look for a multiboot v1 header: 4-byte aligned in the first 8 KiB. 1 when
 * found (flags in *flags), 0 when absent, -ENOEXEC when the magic is there
 * but the checksum is wrong.
 */
static int find_multiboot(const uint8_t *img, size_t size, uint32_t *flags, char *err,
			  size_t errlen)
{
	size_t limit = size < MULTIBOOT_SEARCH ? size : MULTIBOOT_SEARCH;

	for (size_t off = 0; off + 12 <= limit; off += 4) {
		if (rd32(img + off) != MULTIBOOT_HEADER_MAGIC)
			continue;
		uint32_t f = rd32(img + off + 4), sum = rd32(img + off + 8);
		if ((uint32_t)(MULTIBOOT_HEADER_MAGIC + f + sum) != 0)
			return errmsg(err, errlen, -ENOEXEC,
				    "multiboot header at offset 0x%zx has a bad checksum", off);
		*flags = f;
		return 1;
	}
	return 0;
}

static int load_segments(const uint8_t *img, size_t size, const struct elf_info *ei,
			 uint64_t entry, const struct loader_target *t, struct boot_state *bs,
			 char *err, size_t errlen)
{
	bool entry_ok = false;
	int rc;

	bs->load_lo = UINT64_MAX;
	bs->load_hi = 0;
	bs->segments = 0;
	for (unsigned i = 0; i < ei->phnum; i++) {
		struct phdr ph;

		get_phdr(img, ei, i, &ph);
		if (ph.type != PT_LOAD || ph.memsz == 0)
			continue;
		if (ph.filesz > ph.memsz)
			return errmsg(err, errlen, -ENOEXEC,
				    "segment %u: file size 0x%llx larger than memory size 0x%llx", i,
				    (unsigned long long)ph.filesz, (unsigned long long)ph.memsz);
		if (!in_file(ph.offset, ph.filesz, size))
			return errmsg(err, errlen, -ENOEXEC,
				    "segment %u: bytes [0x%llx, +0x%llx) run past the end of the file (%zu bytes)",
				    i, (unsigned long long)ph.offset, (unsigned long long)ph.filesz, size);
		/* Inclusive end: a segment may end exactly at 2^64 without wrapping. */
		uint64_t last = ph.paddr + (ph.memsz - 1);
		if (last < ph.paddr)
			return errmsg(err, errlen, -ENOEXEC, "segment %u: address range wraps around", i);
		if (ph.paddr < BOOT_AREA_END && last >= BOOT_INFO_GPA)
			return errmsg(err, errlen, -ENOEXEC,
				    "segment %u: [0x%llx, 0x%llx] overlaps the boot data at [0x%llx, 0x%llx)",
				    i, (unsigned long long)ph.paddr, (unsigned long long)last,
				    BOOT_INFO_GPA, BOOT_AREA_END);
		rc = t->write(t->ctx, ph.paddr, img + ph.offset, ph.filesz);
		if (rc == 0 && ph.memsz > ph.filesz)
			rc = t->write(t->ctx, ph.paddr + ph.filesz, NULL, ph.memsz - ph.filesz);
		if (rc)
			return errmsg(err, errlen, rc,
				    "segment %u: [0x%llx, 0x%llx] is not in guest RAM (try a larger --memory)",
				    i, (unsigned long long)ph.paddr, (unsigned long long)last);
		if (ph.paddr < bs->load_lo)
			bs->load_lo = ph.paddr;
		if (last + 1 > bs->load_hi)
			bs->load_hi = last + 1;
		if (entry >= ph.paddr && entry <= last)
			entry_ok = true;
		bs->segments++;
	}
	if (bs->segments == 0)
		return errmsg(err, errlen, -ENOEXEC, "no loadable segments");
	if (!entry_ok)
		return errmsg(err, errlen, -ENOEXEC, "entry point 0x%llx is outside every loaded segment",
			    (unsigned long long)entry);
	return 0;
}

static int put_cmdline(const struct loader_target *t, const char *cmdline, char *err,
		       size_t errlen)
{
	size_t len = strlen(cmdline ? cmdline : "");

	if (len >= BOOT_CMDLINE_MAX)
		return errmsg(err, errlen, -E2BIG, "command line is %zu bytes (at most %llu)", len,
			    BOOT_CMDLINE_MAX - 1);
	if (t->write(t->ctx, BOOT_CMDLINE_GPA, cmdline ? cmdline : "", len + 1))
		return errmsg(err, errlen, -EFAULT, "no guest RAM for the command line");
	return 0;
}

static int boot_pvh(const struct loader_target *t, const char *cmdline, struct boot_state *bs,
		    char *err, size_t errlen)
{
	struct hvm_start_info si = {
		.magic = HVM_START_MAGIC,
		.version = 1,
		.cmdline_paddr = BOOT_CMDLINE_GPA,
		.rsdp_paddr = 0,
		.memmap_paddr = BOOT_MMAP_GPA,
		.memmap_entries = t->nmap,
	};
	int rc;

	for (unsigned i = 0; i < t->nmap; i++) {
		struct hvm_memmap_entry e = {
			.addr = t->map[i].gpa, .size = t->map[i].size, .type = t->map[i].type,
		};
		if (t->write(t->ctx, BOOT_MMAP_GPA + i * sizeof(e), &e, sizeof(e)))
			return errmsg(err, errlen, -EFAULT, "no guest RAM for the memory map");
	}
	rc = put_cmdline(t, cmdline, err, errlen);
	if (rc)
		return rc;
	if (t->write(t->ctx, BOOT_INFO_GPA, &si, sizeof(si)))
		return errmsg(err, errlen, -EFAULT, "no guest RAM for the start info");
	bs->ebx = (uint32_t)BOOT_INFO_GPA;
	bs->eax = 0;
	return 0;
}

static int boot_multiboot(const struct loader_target *t, const char *cmdline,
			  struct boot_state *bs, char *err, size_t errlen)
{
	struct multiboot_info mi = {
		.flags = MB_INFO_MEMORY | MB_INFO_CMDLINE | MB_INFO_MMAP,
		.cmdline = (uint32_t)BOOT_CMDLINE_GPA,
		.mmap_addr = (uint32_t)BOOT_MMAP_GPA,
		.mmap_length = (uint32_t)(t->nmap * sizeof(struct multiboot_mmap_entry)),
	};
	int rc;

	for (unsigned i = 0; i < t->nmap; i++) {
		const struct loader_region *r = &t->map[i];
		struct multiboot_mmap_entry e = {
			.size = sizeof(e) - 4, .addr = r->gpa, .len = r->size, .type = r->type,
		};
		if (t->write(t->ctx, BOOT_MMAP_GPA + i * sizeof(e), &e, sizeof(e)))
			return errmsg(err, errlen, -EFAULT, "no guest RAM for the memory map");
		/* mem_lower: RAM from 0 up to 640 KiB; mem_upper: contiguous RAM
		 * from 1 MiB to the first hole, both in KiB (Multiboot 3.3). */
		if (r->type != E820_RAM)
			continue;
		if (r->gpa == 0)
			mi.mem_lower = (uint32_t)((r->size < 0xa0000 ? r->size : 0xa0000) >> 10);
		if (r->gpa <= 0x100000 && r->gpa + r->size > 0x100000) {
			uint64_t kib = (r->gpa + r->size - 0x100000) >> 10;
			mi.mem_upper = kib > UINT32_MAX ? UINT32_MAX : (uint32_t)kib;
		}
	}
	if (t->kernel_name) {
		char line[BOOT_CMDLINE_MAX];
		int n = snprintf(line, sizeof(line), "%s %s", t->kernel_name, cmdline ? cmdline : "");

		if (n < 0 || (size_t)n >= sizeof(line))
			return errmsg(err, errlen, -E2BIG,
				      "kernel name and command line are %d bytes (at most %llu)", n,
				      BOOT_CMDLINE_MAX - 1);
		rc = put_cmdline(t, line, err, errlen);
	} else {
		rc = put_cmdline(t, cmdline, err, errlen);
	}
	if (rc)
		return rc;
	if (t->write(t->ctx, BOOT_INFO_GPA, &mi, sizeof(mi)))
		return errmsg(err, errlen, -EFAULT, "no guest RAM for the multiboot information");
	bs->eax = MULTIBOOT_BOOTLOADER_MAGIC;
	bs->ebx = (uint32_t)BOOT_INFO_GPA;
	return 0;
}

int loader_load(const uint8_t *image, size_t size, const char *cmdline,
		const struct loader_target *t, struct boot_state *out, char *err, size_t errlen)
{
	struct elf_info ei = { 0 };
	struct boot_state bs = { 0 };
	uint64_t entry = 0;
	uint32_t mbflags = 0;
	int rc;

	if (t->nmap * sizeof(struct hvm_memmap_entry) > BOOT_CMDLINE_GPA - BOOT_MMAP_GPA)
		return errmsg(err, errlen, -E2BIG, "memory map has too many entries (%u)", t->nmap);
	rc = parse_ehdr(image, size, &ei, err, errlen);
	if (rc)
		return rc;
	rc = find_pvh_note(image, size, &ei, &entry, err, errlen);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		bs.protocol = BOOT_PVH;
	} else {
		rc = find_multiboot(image, size, &mbflags, err, errlen);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return errmsg(err, errlen, -ENOEXEC,
				    "no PVH note (ELF note type 18 owned by \"Xen\") and no multiboot header in the first 8 KiB");
		if (ei.is64)
			return errmsg(err, errlen, -ENOEXEC,
				    "multiboot v1 kernels must be ELF32 (this one is ELF64 with no PVH note)");
		/* Bits 15:0 are requirements: fail on any we do not meet
		 * (bit 0 page-aligned modules and bit 1 memory info are met). */
		if (mbflags & 0xfffc)
			return errmsg(err, errlen, -ENOTSUP,
				    "multiboot header requires features hv does not provide (flags 0x%x)",
				    mbflags);
		bs.protocol = BOOT_MULTIBOOT;
		entry = ei.entry;
	}
	rc = load_segments(image, size, &ei, entry, t, &bs, err, errlen);
	if (rc)
		return rc;
	rc = bs.protocol == BOOT_PVH ? boot_pvh(t, cmdline, &bs, err, errlen)
				     : boot_multiboot(t, cmdline, &bs, err, errlen);
	if (rc)
		return rc;
	bs.entry = (uint32_t)entry;
	*out = bs;
	return 0;
}

int loader_load_file(const char *path, const char *cmdline, const struct loader_target *t,
		     struct boot_state *out, char *err, size_t errlen)
{
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd, rc;
	char why[200];

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		return errmsg(err, errlen, rc, "%s: %s", path, strerror(-rc));
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		errmsg(err, errlen, rc, "%s: %s", path, strerror(-rc));
		goto out_close;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > LOADER_MAX_FILE) {
		rc = errmsg(err, errlen, -EINVAL, "%s: not a regular file of at most %llu MiB", path,
			  LOADER_MAX_FILE >> 20);
		goto out_close;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		rc = errmsg(err, errlen, -ENOMEM, "%s: out of memory", path);
		goto out_close;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = errmsg(err, errlen, n < 0 ? -errno : -EIO, "%s: read failed", path);
			goto out_free;
		}
		got += (size_t)n;
	}
	rc = loader_load(buf, got, cmdline, t, out, why, sizeof(why));
	if (rc)
		errmsg(err, errlen, rc, "%s: %s", path, why);
out_free:
	free(buf);
out_close:
	close(fd);
	return rc;
}
