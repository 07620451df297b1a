#!/bin/sh
# tests/passthrough_test.sh - edu passed through to the guest
# (`hv run --passthrough separate|shared`), with guest/guest.elf's
# workload=dma (iommu=off: the guest sees no IOMMU):
#
#  - the guest's register accesses are memory accesses to a page mapped
#    through EPT: no edu register access exits, where the emulated device
#    (--edu) takes 87 exits for the same work; the device notices the 47
#    register writes itself, at a look every 1024 instructions;
#  - every DMA goes through hv's own VT-d unit: separate tables map all of
#    RAM (259 table pages with 4 KiB EPT pages, 3 with 2 MiB), shared tables
#    are EPT's (no page of their own); the second-level references per IOTLB
#    miss are those of the page size (4 for 4 KiB, 3 for 2 MiB);
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
hvrun emulated --edu --no-iommu "$GUEST" --append 'workload=dma iommu=off'
dma_ok emulated
expect_eq "emulated: register reads (exits)" "$(jget "$tmp/emulated.json" /dma/register_reads)" 35
expect_eq "emulated: register writes (exits)" "$(jget "$tmp/emulated.json" /dma/register_writes)" 52
# 87 edu accesses + the local APIC's SVR read and write + 10 EOIs.
expect_eq "emulated: MMIO exits" "$(jget "$tmp/emulated.json" /exits/mmio)" 99

# --- separate tables ------------------------------------------------------
hvrun sep --passthrough separate "$GUEST" --append 'workload=dma iommu=off'
dma_ok sep
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

hvrun sep2m --passthrough separate --ept-page 2M "$GUEST" --append 'workload=dma iommu=off'
dma_ok sep2m
expect_eq "separate 2M: table pages" "$(jget "$tmp/sep2m.json" /passthrough/table_pages)" 3
# Both buffers in one 2 MiB page: one miss, 3 references.
expect_eq "separate 2M: IOTLB misses" "$(jget "$tmp/sep2m.json" /iommu/iotlb_misses)" 1
expect_eq "separate 2M: second-level refs" "$(jget "$tmp/sep2m.json" /iommu/walk_refs)" 3

hvrun seplazy --passthrough separate --mem-policy lazy --memory 64M "$GUEST" \
	--append 'workload=dma iommu=off'
dma_ok seplazy
expect_eq "separate lazy: all RAM pinned" "$(jget "$tmp/seplazy.json" /passthrough/pinned_bytes)" $((64 << 20))

# --- shared with EPT --------------------------------------------------------
hvrun shared --passthrough shared "$GUEST" --append 'workload=dma iommu=off'
dma_ok shared
expect_eq "shared: register accesses (exits)" \
	"$(jget "$tmp/shared.json" /dma/register_reads) $(jget "$tmp/shared.json" /dma/register_writes)" "0 0"
expect_eq "shared: tables" "$(jget "$tmp/shared.json" /passthrough/tables)" '"shared"'
expect_eq "shared: no table page of its own" "$(jget "$tmp/shared.json" /passthrough/table_pages)" 0
expect_eq "shared: second-level refs (EPT's 4 levels)" "$(jget "$tmp/shared.json" /iommu/walk_refs)" 8
expect_eq "shared: no fault" "$(jget "$tmp/shared.json" /iommu/faults)" 0

# --- usage errors -----------------------------------------------------------
"$HV" run --passthrough both "$GUEST" >/dev/null 2>"$tmp/u1.err"
expect_eq "usage: --passthrough both" "$?" 2
grep -q "expected separate or shared" "$tmp/u1.err" && pass || { fail "usage: message"; show "$tmp/u1.err"; }
"$HV" run --passthrough shared --ept-levels 5 "$GUEST" >/dev/null 2>"$tmp/u2.err"
expect_eq "usage: shared with 5-level EPT" "$?" 2
grep -q "EPT must have 4 too" "$tmp/u2.err" && pass || { fail "usage: 5-level message"; show "$tmp/u2.err"; }
"$HV" run --passthrough separate --backend kvm "$GUEST" >/dev/null 2>"$tmp/u3.err"
expect_eq "usage: KVM backend" "$?" 2

tl_finish
