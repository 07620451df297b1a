/* SPDX-License-Identifier: MIT */
/*
 * tests/guests/rom.S - the ROM image probe-rom runs against (hv run --rom):
 * 5000 bytes, so hv pads its second page with 0xff from offset 5000.
 *
 *   offset 0   "hvROM-01"
 *   offset 8   0x12345678 (the probe tries to increment it)
 *   offset 16  code: EAX = 42, then back to the address in ECX
 *   then 0x5a up to offset 4999
 *
 * Position-independent: the code runs wherever the ROM is placed.
 */
	.code32
	.text
rom_start:
	.ascii "hvROM-01"
	.long 0x12345678
	.long 0
	mov $42, %eax
	jmp *%ecx
	.fill 5000 - (. - rom_start), 1, 0x5a
