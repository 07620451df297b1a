#!/bin/sh
# tests/rom_test.sh - read-only guest memory (hv run --rom) on the software
# backend: the probe-rom guest reads the ROM (tests/guests/rom.S), writes it
# three times, reads the same bytes back, reads hv's 0xff padding and runs
# the ROM's code. Each write is an EPT violation with the qualification the
# SDM fixes for a write to a page EPT maps R+X (Table 28-7: bit 1 write,
# bits 3 and 5 readable and executable, bits 7 and 8 a linear address
# translated; paging is off, so bits 9-11 are 0): 0x1aa. hv drops the write,
# the guest goes on, the report counts it (text and JSON). The refusals:
# ROM on RAM, on a device window, on KVM's TSS pages, on another ROM, an
# unaligned address, an empty, missing or unreadable file, a directory.
# The default layout is untouched: the same run without --rom has no ROM
# section and no rom violation cause.
set -u

HV=${HV:-./hv/hv}
PROBES=${PROBES:-./tests/guests}
srcdir=${srcdir:-.}
. "$srcdir/tests/testlib.sh"
tl_init rom_test

ROM=$PROBES/probe-rom.rom
tl_need "$HV" "$PROBES/probe-rom.elf" "$ROM"
expect_eq "the ROM image is 5000 bytes" "$(wc -c <"$ROM" | tr -d ' ')" 5000

# The guest's own checks, then the report.
hvrun rom --memory 16M --rom "$ROM" "$PROBES/probe-rom.elf"
expect_eq "rom: exit status (isa-debug-exit 0)" "$status" 1
printf 'probe: start\nprobe: read the ROM, 3 writes left it as it was, ran its code\n' >"$tmp/want"
same_lines rom "$tmp/rom.out"
expect_eq "rom: writes to ROM" "$(jget "$tmp/rom.json" /rom/writes)" 3
expect_eq "rom: the region's writes" "$(jget "$tmp/rom.json" /rom/regions//writes)" 3
expect_eq "rom: placed to end at 4 GiB" "$(jget "$tmp/rom.json" /rom/regions//gpa)" $((0xffffe000))
expect_eq "rom: two pages" "$(jget "$tmp/rom.json" /rom/regions//size)" 8192
expect_eq "rom: the file's bytes" "$(jget "$tmp/rom.json" /rom/regions//file_bytes)" 5000
expect_eq "rom: one EPT violation per write" "$(jget "$tmp/rom.json" /ept_violations/rom)" 3
expect_eq "rom: no other violations" "$(jget "$tmp/rom.json" /ept_violations/total)" 3
# Each write: the violation, then the MMIO write that completes it; the INC
# also reads the ROM through the MMIO path as it is executed again.
expect_eq "rom: EPT-violation exits" "$(jget "$tmp/rom.json" /exits/ept_violation)" 3
expect_eq "rom: MMIO exits" "$(jget "$tmp/rom.json" /exits/mmio)" 4
expect_eq "rom: no device saw a write" "$(jget "$tmp/rom.json" /devices/mmio_writes)" 0
expect_eq "rom: first write GPA" "$(jget "$tmp/rom.json" /rom/first_write/gpa)" $((0xffffe000))
expect_eq "rom: first write size" "$(jget "$tmp/rom.json" /rom/first_write/size)" 4
expect_eq "rom: first write value" "$(jget "$tmp/rom.json" /rom/first_write/value)" $((0xdeadbeef))
expect_eq "rom: exit qualification (SDM Table 28-7)" \
	"$(jget "$tmp/rom.json" /rom/first_write/exit_qualification)" $((0x1aa))
# The RIP is the store's: the instruction `movl $0xdeadbeef, 0xffffe000`.
rip=$(jget "$tmp/rom.json" /rom/first_write/rip)
if command -v objdump >/dev/null 2>&1; then
	expect_eq "rom: first write RIP is the store's" \
		"$(objdump -d "$PROBES/probe-rom.elf" | grep -c "^ *$(printf '%x' "$rip"):.*movl *\$0xdeadbeef,0xffffe000")" 1
fi

# The text report.
"$HV" run --memory 16M --rom "$ROM" "$PROBES/probe-rom.elf" >/dev/null 2>"$tmp/text" </dev/null
check "text: the ROM line" "$(grep -c "^  $ROM at \[0xffffe000, 0x100000000), 8 KiB (5000 bytes of file, then 0xff): 3 writes$" "$tmp/text")" -eq 1
check "text: writes to ROM" "$(grep -c '^  writes to ROM  *3$' "$tmp/text")" -eq 1
check "text: rom violations" "$(grep -c '^  rom  *3$' "$tmp/text")" -eq 1
check "text: the qualification in words" \
	"$(grep -c '^    exit qualification 0x1aa: write, EPT allows RX, to the linear address' "$tmp/text")" -eq 1

# The same under lazy RAM, 2 MiB EPT pages, 5-level EPT and no caches.
for o in "--mem-policy lazy" "--ept-page 2M" "--ept-levels 5" "--tlb none --pwc none"; do
	n=$(echo "$o" | tr -dc 'a-z0-9')
	hvrun "$n" --memory 16M $o --rom "$ROM" "$PROBES/probe-rom.elf"
	expect_eq "$o: exit status" "$status" 1
	same_lines "$o" "$tmp/$n.out"
	expect_eq "$o: writes to ROM" "$(jget "$tmp/$n.json" /rom/writes)" 3
	expect_eq "$o: exit qualification" \
		"$(jget "$tmp/$n.json" /rom/first_write/exit_qualification)" $((0x1aa))
done

# At an address of the user's: above the end of RAM. The guest looks at
# 0xffffe000, finds nothing there and stops on a forbidden GPA.
hvrun high --memory 16M --rom "$ROM@0x100000000" "$PROBES/probe-rom.elf"
expect_eq "ROM at 4 GiB: the guest's read below is forbidden" "$status" 4
expect_eq "ROM at 4 GiB: placed there" "$(jget "$tmp/high.json" /rom/regions//gpa)" $((0x100000000))
check "ROM at 4 GiB: the diagnostic" "$(grep -c 'GPA 0xffffe000 is neither RAM nor a device' "$tmp/high.err")" -eq 1

# Without --rom: no ROM section, no rom cause, and the first read is forbidden.
hvrun none --memory 16M "$PROBES/probe-rom.elf"
expect_eq "no ROM: forbidden GPA" "$status" 4
check "no ROM: no rom section" "$(grep -c '"rom"' "$tmp/none.json")" -eq 0

# A libvirt domain: <hv:rom> with the file's absolute path, and the same run.
"$HV" domxml --memory 16M --rom "$ROM" "$PROBES/probe-rom.elf" >"$tmp/vm.xml" 2>"$tmp/domxml.err"
expect_eq "domxml: status" "$?" 0
check "domxml: <hv:rom> with an absolute path" \
	"$(grep -c "^ *<hv:rom>/.*/probe-rom.rom</hv:rom>\$" "$tmp/vm.xml")" -eq 1
if grep -q '^#define HAVE_LIBVIRT 1' config.h 2>/dev/null; then
	hvrun dom --domain "$tmp/vm.xml"
	expect_eq "domain: exit status" "$status" 1
	expect_eq "domain: writes to ROM" "$(jget "$tmp/dom.json" /rom/writes)" 3
fi

# Refusals: status 2 and a message naming the problem.
refuse() {
	what=$1 want=$2
	shift 2
	"$HV" run --memory 16M "$@" "$PROBES/probe-rom.elf" >/dev/null 2>"$tmp/err" </dev/null
	expect_eq "$what: usage status" "$?" 2
	check "$what: says '$want'" "$(grep -c -- "$want" "$tmp/err")" -eq 1
}
: >"$tmp/empty"
mkdir "$tmp/dir"
refuse "on RAM" "overlaps guest RAM \[0x0, 0x1000000)" --rom "$ROM@0x100000"
refuse "on the local APIC" "overlaps the device window of local-apic" --rom "$ROM@0xfee00000"
refuse "on KVM's TSS" "the pages KVM's TSS takes: choose another address" --rom "$ROM@0xfffbc000"
refuse "on another ROM" "overlaps ROM" --rom "$ROM@0xfffff000" --rom "$ROM"
refuse "unaligned" "must be a multiple of 4 KiB" --rom "$ROM@0xfed00800"
refuse "outside 4-level EPT" "does not fit the 48-bit GPA space" --rom "$ROM@0x1000000000000"
refuse "bad GPA" "expected FILE or FILE@GPA" --rom "$ROM@xyz"
refuse "empty" "the file is empty" --rom "$tmp/empty"
refuse "missing" "No such file or directory" --rom "$tmp/none.rom"
refuse "a directory" "is a directory, not a ROM image" --rom "$tmp/dir"
refuse "four ROMs" "at most 3 ROMs" --rom "$ROM@0xfe000000" --rom "$ROM@0xfe100000" \
	--rom "$ROM@0xfe200000" --rom "$ROM@0xfe300000"
if [ "$(id -u)" -ne 0 ]; then
	cp "$ROM" "$tmp/noread.rom" && chmod 000 "$tmp/noread.rom"
	refuse "unreadable" "Permission denied" --rom "$tmp/noread.rom"
fi

tl_finish
