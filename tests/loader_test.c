/* SPDX-License-Identifier: MIT */
/*
 * tests/loader_test.c - the kernel loader on crafted ELF images: PVH and
 * multiboot v1 hand-over as each protocol defines it, and every kind of
 * malformed file rejected with a message naming the problem.
 */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv/loader.h"
#include "tests/testutil.h"

#define RAM_SIZE (4ULL << 20)
#define KERNEL_GPA 0x100000ULL

/* Guest RAM for the tests: a flat buffer, writes outside it fail like the VM's. */
struct fake_ram {
	uint8_t *mem;
	uint64_t size;
};

static int ram_write(void *ctx, uint64_t gpa, const void *src, uint64_t len)
{
	struct fake_ram *r = ctx;

	if (gpa > r->size || len > r->size - gpa)
		return -EFAULT;
	if (src)
		memcpy(r->mem + gpa, src, len);
	else
		memset(r->mem + gpa, 0, len);
	return 0;
}

static const struct loader_region test_map[] = {
	{ 0, 0x9fc00, E820_RAM },
	{ 0x9fc00, 0x100000 - 0x9fc00, E820_RESERVED },
	{ 0x100000, RAM_SIZE - 0x100000, E820_RAM },
};

struct fixture {
	struct fake_ram ram;
	struct loader_target t;
	uint8_t img[8192];
	size_t size;
	char err[256];
	struct boot_state bs;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->ram.size = RAM_SIZE;
	f->ram.mem = calloc(1, RAM_SIZE);
	/* Poison RAM so that zero-filling the bss is visible. */
	memset(f->ram.mem, 0xcc, RAM_SIZE);
	f->t = (struct loader_target){ .write = ram_write, .ctx = &f->ram, .map = test_map, .nmap = 3 };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	free(f->ram.mem);
	free(f);
	return 0;
}

static const uint8_t code[] = { 0xf4, 0xeb, 0xfd, 0x90 }; /* hlt; jmp .-1; nop */

/*
 * An ELF64 PVH kernel: header, two program headers (PT_LOAD at KERNEL_GPA with
 * 4 file bytes and 0x1000 of memory; PT_NOTE with the PVH entry note), the
 * note, then the code at offset 0x200.
 */
static void build_pvh64(struct fixture *f, uint32_t entry)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)f->img;
	Elf64_Phdr *ph = (Elf64_Phdr *)(f->img + sizeof(*eh));
	uint8_t *note = f->img + 0x100;

	memset(f->img, 0, sizeof(f->img));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = 0xffffffff80000000ULL; /* the 64-bit entry: PVH ignores it */
	eh->e_phoff = sizeof(*eh);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 2;
	ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_offset = 0x200, .p_vaddr = KERNEL_GPA,
			      .p_paddr = KERNEL_GPA, .p_filesz = sizeof(code), .p_memsz = 0x1000,
			      .p_flags = PF_R | PF_X, .p_align = 0x1000 };
	ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = 0x100, .p_filesz = 20, .p_align = 4 };
	uint32_t hdr[3] = { 4, 4, XEN_ELFNOTE_PHYS32_ENTRY };
	memcpy(note, hdr, 12);
	memcpy(note + 12, "Xen", 4);
	memcpy(note + 16, &entry, 4);
	memcpy(f->img + 0x200, code, sizeof(code));
	f->size = 0x200 + sizeof(code);
}

/* An ELF32 multiboot kernel: one PT_LOAD of the whole file at KERNEL_GPA,
 * with the multiboot header at offset 0x80 and code at 0x100. */
static void build_mb32(struct fixture *f, uint32_t mbflags)
{
	Elf32_Ehdr *eh = (Elf32_Ehdr *)f->img;
	Elf32_Phdr *ph = (Elf32_Phdr *)(f->img + sizeof(*eh));
	uint32_t mb[3] = { MULTIBOOT_HEADER_MAGIC, mbflags, -(MULTIBOOT_HEADER_MAGIC + mbflags) };

	memset(f->img, 0, sizeof(f->img));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS32;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_386;
	eh->e_version = EV_CURRENT;
	eh->e_entry = KERNEL_GPA + 0x100;
	eh->e_phoff = sizeof(*eh);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 1;
	memcpy(f->img + 0x80, mb, sizeof(mb));
	memcpy(f->img + 0x100, code, sizeof(code));
	f->size = 0x100 + sizeof(code);
	ph[0] = (Elf32_Phdr){ .p_type = PT_LOAD, .p_offset = 0, .p_vaddr = KERNEL_GPA,
			      .p_paddr = KERNEL_GPA, .p_filesz = (uint32_t)f->size,
			      .p_memsz = 0x2000, .p_flags = PF_R | PF_X, .p_align = 0x1000 };
}

static int load(struct fixture *f, const char *cmdline)
{
	f->err[0] = 0;
	return loader_load(f->img, f->size, cmdline, &f->t, &f->bs, f->err, sizeof(f->err));
}

static uint32_t ram32(struct fixture *f, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, f->ram.mem + gpa, 4);
	return v;
}

static uint64_t ram64(struct fixture *f, uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, f->ram.mem + gpa, 8);
	return v;
}

/* PVH ABI: EBX = start info, magic 0x336ec578, version 1, cmdline and memmap
 * below 1 MiB, entry from the note (not e_entry). */
static void test_pvh_handover(void **state)
{
	struct fixture *f = *state;

	build_pvh64(f, KERNEL_GPA + 1);
	assert_ok(load(f, "workload=seq iters=3"));
	assert_int_equal(f->bs.protocol, BOOT_PVH);
	assert_int_equal(f->bs.entry, KERNEL_GPA + 1);
	assert_int_equal(f->bs.ebx, BOOT_INFO_GPA);
	assert_int_equal(f->bs.segments, 1);
	assert_int_equal(f->bs.load_lo, KERNEL_GPA);
	assert_int_equal(f->bs.load_hi, KERNEL_GPA + 0x1000);
	/* file bytes copied, the rest of p_memsz zeroed */
	assert_memory_equal(f->ram.mem + KERNEL_GPA, code, sizeof(code));
	assert_int_equal(f->ram.mem[KERNEL_GPA + sizeof(code)], 0);
	assert_int_equal(f->ram.mem[KERNEL_GPA + 0xfff], 0);
	assert_int_equal(f->ram.mem[KERNEL_GPA + 0x1000], 0xcc);

	struct hvm_start_info si;
	memcpy(&si, f->ram.mem + BOOT_INFO_GPA, sizeof(si));
	assert_int_equal(sizeof(si), 56);
	assert_int_equal(si.magic, 0x336ec578);
	assert_int_equal(si.version, 1);
	assert_int_equal(si.nr_modules, 0);
	assert_int_equal(si.rsdp_paddr, 0);
	assert_int_equal(si.cmdline_paddr, BOOT_CMDLINE_GPA);
	assert_string_equal((char *)f->ram.mem + si.cmdline_paddr, "workload=seq iters=3");
	assert_int_equal(si.memmap_entries, 3);
	assert_true(si.memmap_paddr < 0x100000);
	/* struct hvm_memmap_table_entry: addr, size, type, reserved (24 bytes) */
	assert_int_equal(ram64(f, si.memmap_paddr + 0), 0);
	assert_int_equal(ram64(f, si.memmap_paddr + 8), 0x9fc00);
	assert_int_equal(ram32(f, si.memmap_paddr + 16), 1);
	assert_int_equal(ram32(f, si.memmap_paddr + 24 + 16), 2);
	assert_int_equal(ram64(f, si.memmap_paddr + 48), 0x100000);
	assert_int_equal(ram64(f, si.memmap_paddr + 56), RAM_SIZE - 0x100000);
	assert_int_equal(ram32(f, si.memmap_paddr + 64), 1);
}

/* An 8-byte note value is accepted too (some kernels emit a quad). */
static void test_pvh_note_quad(void **state)
{
	struct fixture *f = *state;
	uint8_t *note = f->img + 0x100;
	uint64_t entry = KERNEL_GPA + 2;

	build_pvh64(f, 0);
	memcpy(note + 4, &(uint32_t){ 8 }, 4);
	memcpy(note + 16, &entry, 8);
	((Elf64_Phdr *)(f->img + sizeof(Elf64_Ehdr)))[1].p_filesz = 24;
	assert_ok(load(f, NULL));
	assert_int_equal(f->bs.entry, KERNEL_GPA + 2);
	assert_string_equal((char *)f->ram.mem + BOOT_CMDLINE_GPA, "");
}

/* Multiboot 3.2: EAX = 0x2BADB002, EBX = info; info flags 0/2/6 with
 * mem_lower 639 KiB, mem_upper = KiB from 1 MiB, mmap entries of 24 bytes
 * whose size field says 20. */
static void test_multiboot_handover(void **state)
{
	struct fixture *f = *state;

	build_mb32(f, 0x3);
	assert_ok(load(f, "console=ttyS0"));
	assert_int_equal(f->bs.protocol, BOOT_MULTIBOOT);
	assert_int_equal(f->bs.eax, 0x2BADB002);
	assert_int_equal(f->bs.ebx, BOOT_INFO_GPA);
	assert_int_equal(f->bs.entry, KERNEL_GPA + 0x100);
	assert_memory_equal(f->ram.mem + KERNEL_GPA + 0x100, code, sizeof(code));
	assert_int_equal(f->ram.mem[KERNEL_GPA + 0x1fff], 0);

	uint64_t mi = f->bs.ebx;
	assert_int_equal(ram32(f, mi + 0), (1u << 0) | (1u << 2) | (1u << 6));
	assert_int_equal(ram32(f, mi + 4), 0x9fc00 >> 10);
	assert_int_equal(ram32(f, mi + 8), (RAM_SIZE - 0x100000) >> 10);
	assert_string_equal((char *)f->ram.mem + ram32(f, mi + 16), "console=ttyS0");
	assert_int_equal(ram32(f, mi + 44), 3 * 24);
	uint32_t mm = ram32(f, mi + 48);
	assert_int_equal(ram32(f, mm), 20);
	assert_int_equal(ram64(f, mm + 4), 0);
	assert_int_equal(ram64(f, mm + 12), 0x9fc00);
	assert_int_equal(ram32(f, mm + 20), 1);
	assert_int_equal(ram64(f, mm + 48 + 4), 0x100000);
	assert_int_equal(ram32(f, mm + 48 + 20), 1);
}

/* Multiboot as QEMU builds it for -kernel: the kernel's name, a space, then
 * the appended text, so that the first word is argv[0]. */
static void test_multiboot_kernel_name(void **state)
{
	struct fixture *f = *state;

	build_mb32(f, 0x3);
	f->t.kernel_name = "x86/msr.flat";
	assert_ok(load(f, "-append one two"));
	assert_string_equal((char *)f->ram.mem + ram32(f, f->bs.ebx + 16), "x86/msr.flat -append one two");
	assert_ok(load(f, NULL));
	assert_string_equal((char *)f->ram.mem + ram32(f, f->bs.ebx + 16), "x86/msr.flat ");
}

static void expect_error(struct fixture *f, int rc, const char *needle)
{
	int got = load(f, "x");

	assert_int_equal(got, rc);
	if (!strstr(f->err, needle))
		fail_msg("message \"%s\" does not mention \"%s\"", f->err, needle);
}

static void test_truncated(void **state)
{
	struct fixture *f = *state;

	build_pvh64(f, KERNEL_GPA);
	f->size = 40; /* inside the ELF header */
	expect_error(f, -ENOEXEC, "truncated ELF header");
	f->size = 3;
	expect_error(f, -ENOEXEC, "not an ELF file");
	/* header complete, program headers cut off */
	build_pvh64(f, KERNEL_GPA);
	f->size = sizeof(Elf64_Ehdr) + 10;
	expect_error(f, -ENOEXEC, "program headers");
}

static void test_segment_beyond_file(void **state)
{
	struct fixture *f = *state;
	Elf64_Phdr *ph = (Elf64_Phdr *)(f->img + sizeof(Elf64_Ehdr));

	build_pvh64(f, KERNEL_GPA);
	ph[0].p_filesz = 0x1000;
	expect_error(f, -ENOEXEC, "past the end of the file");
	/* an offset chosen so that offset + size wraps to a small number */
	build_pvh64(f, KERNEL_GPA);
	ph[0].p_offset = UINT64_MAX - 1;
	expect_error(f, -ENOEXEC, "past the end of the file");
	build_pvh64(f, KERNEL_GPA);
	ph[0].p_filesz = 0x2000;
	ph[0].p_memsz = 0x1000;
	expect_error(f, -ENOEXEC, "larger than memory size");
}

static void test_segment_beyond_ram(void **state)
{
	struct fixture *f = *state;
	Elf64_Phdr *ph = (Elf64_Phdr *)(f->img + sizeof(Elf64_Ehdr));

	build_pvh64(f, (uint32_t)(RAM_SIZE - 0x800));
	ph[0].p_paddr = RAM_SIZE - 0x800;  /* 0x1000 of memory: half beyond RAM */
	expect_error(f, -EFAULT, "not in guest RAM");
	/* a range that ends exactly at 2^64 */
	build_pvh64(f, KERNEL_GPA);
	ph[0].p_paddr = 0ULL - 0x1000;
	expect_error(f, -EFAULT, "not in guest RAM");
	build_pvh64(f, KERNEL_GPA);
	ph[0].p_paddr = 0ULL - 0x800;
	expect_error(f, -ENOEXEC, "wraps");
	/* over the boot data area below 1 MiB */
	build_pvh64(f, BOOT_INFO_GPA);
	ph[0].p_paddr = BOOT_INFO_GPA;
	expect_error(f, -ENOEXEC, "overlaps the boot data");
}

static void test_wrong_class_machine(void **state)
{
	struct fixture *f = *state;

	build_pvh64(f, KERNEL_GPA);
	f->img[EI_CLASS] = 3;
	expect_error(f, -ENOEXEC, "ELF class 3");
	build_pvh64(f, KERNEL_GPA);
	((Elf64_Ehdr *)f->img)->e_machine = EM_AARCH64;
	expect_error(f, -ENOEXEC, "machine 183 is not x86-64");
	build_pvh64(f, KERNEL_GPA);
	f->img[EI_DATA] = ELFDATA2MSB;
	expect_error(f, -ENOEXEC, "little-endian");
	build_pvh64(f, KERNEL_GPA);
	((Elf64_Ehdr *)f->img)->e_type = ET_DYN;
	expect_error(f, -ENOEXEC, "not an executable");
	build_mb32(f, 0);
	((Elf32_Ehdr *)f->img)->e_machine = EM_X86_64;
	expect_error(f, -ENOEXEC, "is not i386");
}

static void test_missing_note(void **state)
{
	struct fixture *f = *state;
	uint8_t *note = f->img + 0x100;

	build_pvh64(f, KERNEL_GPA);
	memcpy(note + 12, "Xem", 4);  /* wrong owner */
	expect_error(f, -ENOEXEC, "no PVH note");
	build_pvh64(f, KERNEL_GPA);
	memcpy(note + 8, &(uint32_t){ 17 }, 4);  /* wrong type */
	expect_error(f, -ENOEXEC, "no PVH note");
	/* a note whose descriptor runs past its segment */
	build_pvh64(f, KERNEL_GPA);
	memcpy(note + 4, &(uint32_t){ 0x100 }, 4);
	expect_error(f, -ENOEXEC, "runs past its segment");
	build_pvh64(f, KERNEL_GPA);
	memcpy(note + 4, &(uint32_t){ 2 }, 4);
	expect_error(f, -ENOEXEC, "2-byte value");
	/* PVH entry outside the loaded image */
	build_pvh64(f, 0x300000);
	expect_error(f, -ENOEXEC, "outside every loaded segment");
}

static void test_multiboot_malformed(void **state)
{
	struct fixture *f = *state;

	build_mb32(f, 0);
	f->img[0x88] ^= 1;  /* checksum */
	expect_error(f, -ENOEXEC, "bad checksum");
	build_mb32(f, 1u << 2);  /* asks for a video mode */
	expect_error(f, -ENOTSUP, "requires features");
	/* the header beyond the first 8 KiB is not a header */
	build_mb32(f, 0);
	memset(f->img + 0x80, 0, 12);
	expect_error(f, -ENOEXEC, "no multiboot header");
}

/* Multiboot v1 is ELF32 only: an ELF64 with a multiboot header but no PVH
 * note is refused (QEMU refuses it too). */
static void test_multiboot_elf64(void **state)
{
	struct fixture *f = *state;
	uint32_t mb[3] = { MULTIBOOT_HEADER_MAGIC, 0, -MULTIBOOT_HEADER_MAGIC };

	build_pvh64(f, KERNEL_GPA);
	((Elf64_Phdr *)(f->img + sizeof(Elf64_Ehdr)))[1].p_type = PT_NULL;
	memcpy(f->img + 0x1f0, mb, sizeof(mb));
	expect_error(f, -ENOEXEC, "must be ELF32");
}

static void test_cmdline_too_long(void **state)
{
	struct fixture *f = *state;
	char *c = malloc(BOOT_CMDLINE_MAX + 1);

	memset(c, 'a', BOOT_CMDLINE_MAX);
	c[BOOT_CMDLINE_MAX] = 0;
	build_pvh64(f, KERNEL_GPA);
	assert_int_equal(loader_load(f->img, f->size, c, &f->t, &f->bs, f->err, sizeof(f->err)),
			 -E2BIG);
	c[BOOT_CMDLINE_MAX - 1] = 0;
	assert_ok(loader_load(f->img, f->size, c, &f->t, &f->bs, f->err, sizeof(f->err)));
	free(c);
}

static void test_load_file_errors(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(loader_load_file("/nonexistent/kernel.elf", "", &f->t, &f->bs, f->err,
					  sizeof(f->err)),
			 -ENOENT);
	assert_non_null(strstr(f->err, "/nonexistent/kernel.elf"));
	assert_int_equal(loader_load_file("/", "", &f->t, &f->bs, f->err, sizeof(f->err)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_pvh_handover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pvh_note_quad, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multiboot_handover, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_segment_beyond_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_segment_beyond_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_class_machine, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_note, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multiboot_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multiboot_kernel_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multiboot_elf64, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmdline_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_file_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
