#!/bin/sh
# tests/dma_rom_test.sh - edu's DMA to and from read-only memory (hv run
# --rom): tests/guests/dma-rom.elf has the device read the ROM's first 64
# bytes (they must be what the processor reads) and write 64 bytes over
# them (the ROM must stay as it was), with the ROM at GPA 0x2000000, inside
# edu's 28-bit DMA reach.
#
#   --edu              the guest's VT-d unit, translation off: the bus
#                      address is the GPA, the write lands on the ROM, which
#                      drops it, as a PC's does the processor's (counted,
#                      no remapping fault: no table refused it)
#   --edu --no-iommu   the same without a unit
#   --passthrough separate|shared
#                      hv's own unit in front of the device maps each ROM
#                      read-only, as EPT does: the write is a remapping
#                      fault with reason 0x5 (VT-d 7.1.3: a write request to
#                      a page without write permission), recorded for
#                      source 00:03.0 at page 0x2000000; the read works
#
# Then the device copies 64 bytes with its interrupt and the processor halts
# at once: passed through, the device has not looked at the command yet, so
# hv lets it look at the halt and its MSI wakes the processor (before, the
# run stopped: "nothing can wake it").
#
# Lazy RAM changes none of it. Without --rom the DMA section has no ROM line.
# GUEST_ELF overrides guest/guest.elf (that check).
set -u

HV=${HV:-./hv/hv}
PROBES=${PROBES:-./tests/guests}
srcdir=${srcdir:-.}
. "$srcdir/tests/testlib.sh"
tl_init dma_rom_test

GUEST=$PROBES/dma-rom.elf
ROM=$PROBES/probe-rom.rom
tl_need "$HV" "$GUEST" "$ROM"

cat >"$tmp/want" <<'END'
dma-rom: start
dma-rom: the device read the ROM: the bytes the processor reads
dma-rom: the device wrote the ROM: it is as it was
dma-rom: the device's interrupt woke the halted processor
dma-rom: done
END

# NAME|options
cat >"$tmp/cases" <<'CASES'
edu|--edu
edu-lazy|--edu --mem-policy lazy
no-iommu|--edu --no-iommu
pt-separate|--passthrough separate
pt-shared|--passthrough shared
pt-separate-lazy|--passthrough separate --mem-policy lazy
CASES
while IFS='|' read -r name opts; do
	# shellcheck disable=SC2086 # opts is a list of options
	hvrun "$name" $opts --memory 16M --rom "$ROM@0x2000000" "$GUEST"
	expect_eq "$name: exit status (isa-debug-exit 0)" "$status" 1
	same_lines "$name" "$tmp/$name.out"
	j=$tmp/$name.json
	# Five transfers: ROM -> buffer -> RAM, RAM -> buffer -> ROM, and
	# RAM -> buffer with the interrupt the processor halts for.
	expect_eq "$name: transfers" "$(jget "$j" /dma/transfers)" 5
	expect_eq "$name: one MSI" "$(jget "$j" /dma/msis)" 1
	expect_eq "$name: none aborted" "$(jget "$j" /dma/aborted)" 0
	expect_eq "$name: the processor wrote no ROM" "$(jget "$j" /rom/writes)" 0
	case $name in
	pt-*)
		expect_eq "$name: refused by hv's unit" "$(jget "$j" /dma/iommu_refused)" 1
		expect_eq "$name: none dropped at the ROM" "$(jget "$j" /dma/rom_writes_dropped)" 0
		expect_eq "$name: the unit is hv's" "$(jget "$j" /iommu/guest_visible)" false
		expect_eq "$name: one fault" "$(jget "$j" /iommu/faults)" 1
		expect_eq "$name: reason 0x5, write without W (VT-d 7.1.3)" \
			"$(jget "$j" /iommu/faults_by_reason/0x5)" 1
		expect_eq "$name: the fault's reason" "$(jget "$j" /iommu/fault_log//reason)" 5
		expect_eq "$name: the fault's access" "$(jget "$j" /iommu/fault_log//access)" '"write"'
		expect_eq "$name: the fault's page" "$(jget "$j" /iommu/fault_log//page)" $((0x2000000))
		expect_eq "$name: the fault's source" "$(jget "$j" /iommu/fault_log//source)" '"00:03.0"'
		# 64 bytes each of four transfers; the refused one moved none.
		expect_eq "$name: bytes moved" "$(jget "$j" /dma/bytes)" 256
		# The processor halted before the device looked at the command:
		# it looked then, and its MSI woke the processor.
		expect_eq "$name: the device looked at the halt" "$(jget "$j" /passthrough/halt_looks)" 1
		expect_eq "$name: and its MSI woke the vCPU" "$(jget "$j" /passthrough/halt_wakes)" 1
		;;
	*)
		expect_eq "$name: refused by no unit" "$(jget "$j" /dma/iommu_refused)" 0
		expect_eq "$name: one write dropped at the ROM" "$(jget "$j" /dma/rom_writes_dropped)" 1
		# The device sent all five transfers' bytes; the ROM dropped 64.
		expect_eq "$name: bytes moved" "$(jget "$j" /dma/bytes)" 320
		;;
	esac
done <"$tmp/cases"
for name in edu no-iommu; do
	expect_eq "$name: no remapping fault" "$(jget "$tmp/$name.json" /iommu/faults)" \
		"$([ $name = edu ] && echo 0)"
done

# The text report.
"$HV" run --edu --memory 16M --rom "$ROM@0x2000000" "$GUEST" >/dev/null 2>"$tmp/text" </dev/null
check "text: writes dropped at ROM" "$(grep -c '^  writes dropped at ROM  *1$' "$tmp/text")" -eq 1
"$HV" run --passthrough shared --memory 16M --rom "$ROM@0x2000000" "$GUEST" >/dev/null \
	2>"$tmp/text2" </dev/null
check "text: the fault" \
	"$(grep -c '^    fault 0: 00:03.0 write page 0x2000000, reason 0x5 (write without W)$' "$tmp/text2")" -eq 1

# No ROM, no ROM line (edu's own workload, without --rom).
G=${GUEST_ELF:-./guest/guest.elf}
if [ -f "$G" ]; then
	hvrun norom --edu --memory 128M "$G" --append "workload=dma"
	expect_eq "no ROM: workload=dma's status" "$status" 1
	expect_eq "no ROM: no ROM line in the JSON" "$(grep -c rom_writes_dropped "$tmp/norom.json")" 0
	"$HV" run --edu --memory 128M "$G" --append "workload=dma" >/dev/null 2>"$tmp/text3" </dev/null
	expect_eq "no ROM: no ROM line in the text" "$(grep -c 'dropped at ROM' "$tmp/text3")" 0
fi
tl_finish
