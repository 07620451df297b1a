#!/bin/sh
# tests/passthrough_test.sh - edu passed through to the guest
# (`hv run --passthrough separate|shared`), with guest/guest.elf's
# workload=dma (no DMAR table: the guest sees no IOMMU):
#
#  - the guest's register accesses are memory accesses to a page mapped
#    through EPT: no edu register access exits, where the emulated device
#    (--edu) takes 87 exits for the same work; the device notices the 47
#    register writes itself, at a look every 1024 instructions;
#  - every DMA goes through hv's own VT-d unit: separate tables map all of
#    RAM (259 table pages with 4 KiB EPT pages, 3 with 2 MiB), shared tables
#    are EPT's (no page of their own); the second-level references per IOTLB
#    miss are those of the page size (4 for 4 KiB, 3 for 2 MiB);
#  - workload=dma-attack with the HPAs hv hands the guest (hpa-canary=,
#    hpa-ept=), 128 MiB of RAM so that they are in edu's 28-bit reach: with
#    hv's unit the read and the write of hv's canary (above guest RAM) are
#    refused with exact faults (6, 5, 6 for the read-back) recorded by hv's
#    unit, and the write meant for the EPT entry of BAR0 + 0x1000 lands in the
#    guest's own page of that number; hv's canary and the EPT table page are
#    intact. With --no-iommu the guest reads and writes hv's canary and
#    rewrites the EPT entry so that GPA 0xfea01000 maps hv's canary, which it
#    then reads with a plain load: hv reports the canary and the EPT page
#    damaged and what the entry maps;
#  - bad option combinations are usage errors.
#
# Run by `make check` from the top build directory. HV and GUEST override the
# programs.
set -u

HV=${HV:-./hv/hv}
GUEST=${GUEST:-./guest/guest.elf}
. "${srcdir:-.}/tests/testlib.sh"
tl_init passthrough_test

tl_need "$HV"
tl_want "$GUEST"

show() { sed 's/^/  | /' "$@" >&2; }

expect_eq() {
	if [ "$2" = "$3" ]; then pass; else fail "$1: got '$2', want '$3'"; fi
}

# dma_ok NAME: the guest's workload=dma passed, every transfer through the device.
dma_ok() {
	expect_eq "$1: exit status" "$status" 1
	expect_eq "$1: last line" "$(tail -n 1 "$tmp/$1.out" | cut -d' ' -f1-3)" "RESULT dma ok"
	expect_eq "$1: every piece matches" "$(grep -c 'data matches$' "$tmp/$1.out")" 5
	expect_eq "$1: transfers" "$(jget "$tmp/$1.json" /dma/transfers)" 10
	expect_eq "$1: bytes" "$(jget "$tmp/$1.json" /dma/bytes)" 14552
	expect_eq "$1: MSIs" "$(jget "$tmp/$1.json" /dma/msis)" 10
}

# --- emulated, for comparison ----------------------------------------------
hvrun emulated --edu --no-iommu "$GUEST" --append workload=dma
dma_ok emulated
expect_eq "emulated: register reads (exits)" "$(jget "$tmp/emulated.json" /dma/register_reads)" 35
expect_eq "emulated: register writes (exits)" "$(jget "$tmp/emulated.json" /dma/register_writes)" 52
# 87 edu accesses + the local APIC's SVR read and write + 10 EOIs.
expect_eq "emulated: MMIO exits" "$(jget "$tmp/emulated.json" /exits/mmio)" 99

# --- separate tables ------------------------------------------------------
hvrun sep --passthrough separate "$GUEST" --append workload=dma
dma_ok sep
grep -q '^acpi: no DMAR table$' "$tmp/sep.out" && pass || fail "separate: hv's unit is not announced"
expect_eq "separate: register reads (exits)" "$(jget "$tmp/sep.json" /dma/register_reads)" 0
expect_eq "separate: register writes (exits)" "$(jget "$tmp/sep.json" /dma/register_writes)" 0
expect_eq "separate: MMIO exits (the APIC's only)" "$(jget "$tmp/sep.json" /exits/mmio)" 12
expect_eq "separate: writes the device saw" "$(jget "$tmp/sep.json" /passthrough/register_writes_seen)" 47
expect_eq "separate: a look per exit" "$(jget "$tmp/sep.json" /passthrough/device_looks)" \
	"$(jget "$tmp/sep.json" /exits/total)"
expect_eq "separate: tables" "$(jget "$tmp/sep.json" /passthrough/tables)" '"separate"'
expect_eq "separate: table pages (4K)" "$(jget "$tmp/sep.json" /passthrough/table_pages)" 259
expect_eq "separate: RAM pinned" "$(jget "$tmp/sep.json" /passthrough/pinned_bytes)" $((512 << 20))
expect_eq "separate: the guest does not see the unit" "$(jget "$tmp/sep.json" /iommu/guest_visible)" false
expect_eq "separate: DMA requests" "$(jget "$tmp/sep.json" /iommu/dma_requests)" 10
expect_eq "separate: IOTLB misses" "$(jget "$tmp/sep.json" /iommu/iotlb_misses)" 2
expect_eq "separate: IOTLB hits" "$(jget "$tmp/sep.json" /iommu/iotlb_hits)" 8
expect_eq "separate: second-level refs (2 x 4)" "$(jget "$tmp/sep.json" /iommu/walk_refs)" 8
expect_eq "separate: one stage only" "$(jget "$tmp/sep.json" /iommu/stage2_refs)" 0
expect_eq "separate: no fault" "$(jget "$tmp/sep.json" /iommu/faults)" 0

hvrun sep2m --passthrough separate --ept-page 2M "$GUEST" --append workload=dma
dma_ok sep2m
expect_eq "separate 2M: table pages" "$(jget "$tmp/sep2m.json" /passthrough/table_pages)" 3
# Both buffers in one 2 MiB page: one miss, 3 references.
expect_eq "separate 2M: IOTLB misses" "$(jget "$tmp/sep2m.json" /iommu/iotlb_misses)" 1
expect_eq "separate 2M: second-level refs" "$(jget "$tmp/sep2m.json" /iommu/walk_refs)" 3

hvrun seplazy --passthrough separate --mem-policy lazy --memory 64M "$GUEST" \
	--append workload=dma
dma_ok seplazy
expect_eq "separate lazy: all RAM pinned" "$(jget "$tmp/seplazy.json" /passthrough/pinned_bytes)" $((64 << 20))

# --- shared with EPT --------------------------------------------------------
hvrun shared --passthrough shared "$GUEST" --append workload=dma
dma_ok shared
expect_eq "shared: register accesses (exits)" \
	"$(jget "$tmp/shared.json" /dma/register_reads) $(jget "$tmp/shared.json" /dma/register_writes)" "0 0"
expect_eq "shared: tables" "$(jget "$tmp/shared.json" /passthrough/tables)" '"shared"'
expect_eq "shared: no table page of its own" "$(jget "$tmp/shared.json" /passthrough/table_pages)" 0
expect_eq "shared: second-level refs (EPT's 4 levels)" "$(jget "$tmp/shared.json" /iommu/walk_refs)" 8
expect_eq "shared: no fault" "$(jget "$tmp/shared.json" /iommu/faults)" 0

# --- the attack on hv's own memory -----------------------------------------
for tables in separate shared; do
	hvrun "pa-$tables" --passthrough $tables --memory 128M "$GUEST" --append workload=dma-attack
	j="$tmp/pa-$tables.json"
	o="$tmp/pa-$tables.out"
	expect_eq "attack $tables: exit status" "$status" 1
	expect_eq "attack $tables: last line" "$(tail -n 1 "$o" | cut -d' ' -f1-3)" "RESULT dma-attack ok"
	canary=$(jget "$j" /hv_canary/hpa)
	ept=$(jget "$j" /ept_watch/hpa)
	c=$(printf '0x%x' "$canary")
	grep -q "^cmdline: ignoring" "$o" && fail "attack $tables: the guest ignored hv's additions" || pass
	grep -q "^attack: hv's memory: read of $c: nothing came back$" "$o" && pass ||
		{ fail "attack $tables: read line"; show "$o"; }
	grep -q "^attack: hv's memory: write to $c: no effect seen$" "$o" && pass ||
		fail "attack $tables: write line"
	grep -q "^attack: EPT table page: write to $(printf '0x%x' $((ept + 8))) (the entry for GPA 0xfea01000): no effect, GPA 0xfea01000 is still the device's window (0xffffffffffffffff); the bytes went to this guest's own page at that address$" "$o" &&
		pass || fail "attack $tables: EPT line"
	# Read (6), write (5), read back (6): the page hv's canary is at, as an IOVA.
	expect_eq "attack $tables: fault reasons" "$(jget "$j" /iommu/fault_log//reason | tr '\n' ' ')" "6 5 6 "
	expect_eq "attack $tables: fault pages" "$(jget "$j" /iommu/fault_log//page | sort -u)" "$canary"
	expect_eq "attack $tables: fault sources" "$(jget "$j" /iommu/fault_log//sid | tr '\n' ' ')" "24 24 24 "
	expect_eq "attack $tables: all recorded" "$(jget "$j" /iommu/faults_recorded)" 3
	expect_eq "attack $tables: hv's canary intact" "$(jget "$j" /hv_canary/changed_bytes)" 0
	expect_eq "attack $tables: EPT page intact" "$(jget "$j" /ept_watch/changed_entries)" 0
	check "attack $tables: hv's canary above guest RAM" "$canary" -ge $((128 << 20))
done

# Without an IOMMU the device speaks host-physical addresses: with 2 MiB EPT
# pages guest RAM is one run of host memory and hv says where (hpa-ram=), so
# the guest's own DMA works - and so does the attack.
hvrun none-dma --passthrough separate --no-iommu --ept-page 2M --memory 128M "$GUEST" \
	--append workload=dma
dma_ok none-dma
grep -q "^dma: no IOMMU: bus addresses are host-physical, RAM at 0x[0-9a-f]*$" \
	"$tmp/none-dma.out" && pass || fail "no iommu: the guest uses host-physical addresses"
expect_eq "no iommu: no IOMMU section" "$(grep -c '"iommu": {' "$tmp/none-dma.json")" 0

hvrun pa-none --passthrough separate --no-iommu --ept-page 2M --memory 128M "$GUEST" \
	--append workload=dma-attack
j="$tmp/pa-none.json"
o="$tmp/pa-none.out"
canary=$(jget "$j" /hv_canary/hpa)
c=$(printf '0x%x' "$canary")
expect_eq "no iommu: exit status (the guest's failure)" "$status" 3
expect_eq "no iommu: last line" "$(tail -n 1 "$o" | cut -d' ' -f1-3)" "RESULT dma-attack FAIL"
grep -q "^attack: hv's memory: read of $c: LEAKED, the device has it: 0xa5a5a5a5a5a5a5a5...$" "$o" &&
	pass || { fail "no iommu: read line"; show "$o"; }
grep -q "^attack: hv's memory: write to $c: REACHED it, the device reads back what it wrote$" "$o" &&
	pass || fail "no iommu: write line"
grep -q "^attack: EPT table page: write to 0x[0-9a-f]* (the entry for GPA 0xfea01000): GAINED, GPA 0xfea01000 now reads hv's memory: 0x[0-9a-f]*$" "$o" &&
	pass || fail "no iommu: EPT line"
expect_eq "no iommu: hv's canary damaged" "$(jget "$j" /hv_canary/changed_bytes)" 64
expect_eq "no iommu: EPT entries changed" "$(jget "$j" /ept_watch/changed_entries)" 1
expect_eq "no iommu: the changed entry's GPA" "$(jget "$j" /ept_watch/first_gpa)" $((0xfea01000))
# R W X, memory type WB (0x37), and A (0x100): the guest's load walked it.
expect_eq "no iommu: it maps hv's canary, RWX, WB" "$(jget "$j" /ept_watch/first_value)" $((canary | 0x137))
expect_eq "no iommu: hv's memory" "$(jget "$j" /ept_watch/maps_hv_memory)" true
# Where the device's writes went, by the frame's owner: hv's canary and the
# EPT table page; the guest's own buffer twice (the write-back of the read
# attack and of the canary read-back).
expect_eq "no iommu: writes to hv's memory" "$(jget "$j" /passthrough/writes_to_hv_memory)" 2
expect_eq "no iommu: writes to guest RAM" "$(jget "$j" /passthrough/writes_to_guest_ram)" 2
"$HV" run --passthrough separate --no-iommu --ept-page 2M --memory 128M --serial none "$GUEST" \
	--append workload=dma-attack >/dev/null 2>"$tmp/pa-none.txt"
grep -q "^hv's canary at HPA $c: DAMAGED, 64 of 4096 bytes changed (first at HPA $c)$" "$tmp/pa-none.txt" &&
	pass || { fail "no iommu: text report, canary"; show "$tmp/pa-none.txt"; }
grep -q "^  it maps HPA $c (hv's canary) RWX: the guest reaches hv's own memory with plain loads and stores$" \
	"$tmp/pa-none.txt" && pass || fail "no iommu: text report, EPT entry"

# --- usage errors -----------------------------------------------------------
"$HV" run --passthrough both "$GUEST" >/dev/null 2>"$tmp/u1.err"
expect_eq "usage: --passthrough both" "$?" 2
grep -q "expected separate or shared" "$tmp/u1.err" && pass || { fail "usage: message"; show "$tmp/u1.err"; }
"$HV" run --passthrough shared --ept-levels 5 "$GUEST" >/dev/null 2>"$tmp/u2.err"
expect_eq "usage: shared with 5-level EPT" "$?" 2
grep -q "EPT must have 4 too" "$tmp/u2.err" && pass || { fail "usage: 5-level message"; show "$tmp/u2.err"; }

tl_finish
