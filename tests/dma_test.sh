#!/bin/sh
# tests/dma_test.sh - the edu device and the guest-visible VT-d unit under
# `hv run --edu`, with guest/guest.elf's workloads dma and dma-attack:
#
#  - workload=dma copies pieces through the IOMMU and back, each transfer
#    completed by an MSI the guest takes: the guest's checks pass, the report counts exactly the transfers, bytes, IOTLB and
#    context-cache hits and misses, second-level and EPT references that the
#    guest's program implies, and no fault;
#  - workload=dma-attack: each of the three DMAs outside the domain is
#    refused with its VT-d fault reason (5, 5, 6), source 00:03.0 and page,
#    both in the guest's own reading of the fault records and in hv's
#    report, and the canary page at GPA 0xf0000 is intact;
#  - the same attack with --no-iommu (and iommu=off for the guest) reaches
#    memory: the guest says so, the exit status is the guest's failure (3),
#    hv reports the canary damaged (64 bytes);
#  - the guest finds the unit through the ACPI DMAR table hv adds (its DRHD
#    at 0xfed90000); with --no-iommu there is no DMAR table and the same
#    command line (no iommu=off) just works without a unit; a guest told
#    iommu=on where there is none stops with a clear forbidden-GPA
#    diagnostic; --no-iommu without --edu is a usage error;
#  - workload=viommu: a leaf changed without invalidation is still used
#    (stale IOTLB entry) until a queued page-selective invalidation and a
#    wait descriptor; a removed context entry likewise until a device
#    context-cache and a domain IOTLB invalidation, then reason 2; exact
#    descriptor, wait, IOTLB and context-cache counts; --iotlb 0 leaves
#    nothing stale; --iotlb/--context-cache usage errors;
#  - workload=dma-fault-event: the same refusals reported by the unit's fault
#    event, an MSI (vector 49) whose handler reads and clears the records:
#    one interrupt per fault, none while masked (FECTL.IP set), the pending
#    one on unmasking; 4 fault-event MSIs in the report;
#  - workload=dma-dirty: a device's write during dirty tracking is logged by
#    hv (emulated with and without the unit, passed through with separate
#    tables) and is in neither CPU set; with shared tables it is refused,
#    reason 5, at the page the guest names;
#  - hv walk --iova explains an IOVA entry by entry, with exact fault records;
#    with --guest through both stages (24 references for 4 KiB, 14 for 2 MiB);
#  - under QEMU (-M q35 -device intel-iommu -device edu,addr=3, and without
#    intel-iommu against --no-iommu) the guest prints exactly the same lines,
#    the DMAR discovery included (skipped without QEMU or its devices).
#
# Run by `make check` from the top build directory. HV, GUEST and QEMU
# override the programs.
set -u

HV=${HV:-./hv/hv}
GUEST=${GUEST:-./guest/guest.elf}
QEMU=${QEMU:-qemu-system-x86_64}
. "${srcdir:-.}/tests/testlib.sh"
tl_init dma_test

tl_need "$HV"
tl_want "$GUEST"

show() { sed 's/^/  | /' "$@" >&2; }

expect_eq() {
	if [ "$2" = "$3" ]; then pass; else fail "$1: got '$2', want '$3'"; fi
}

# expect_line FILE LINE WHAT: FILE has LINE, whole and verbatim.
expect_line() {
	if grep -qxF -- "$2" "$1"; then pass; else fail "$3"; show "$1"; fi
}

# --- workload=dma through the IOMMU -------------------------------------
hvrun dma --edu "$GUEST" --append workload=dma
expect_eq "dma: exit status" "$status" 1
grep -q '^acpi: DMAR table: a remapping unit at 0xfed90000$' "$tmp/dma.out" && pass ||
	fail "dma: the unit found through ACPI"
expect_eq "dma: last line" "$(tail -n 1 "$tmp/dma.out" | cut -d' ' -f1-3)" "RESULT dma ok"
expect_eq "dma: every piece matches" "$(grep -c 'data matches$' "$tmp/dma.out")" 5
# Five pieces out and back: 2 x (4095 + 100 + 8 + 1 + 3072) bytes in ten
# transfers, all through the unit.
expect_eq "dma: transfers" "$(jget "$tmp/dma.json" /dma/transfers)" 10
expect_eq "dma: bytes" "$(jget "$tmp/dma.json" /dma/bytes)" 14552
expect_eq "dma: IOMMU requests" "$(jget "$tmp/dma.json" /iommu/dma_requests)" 10
expect_eq "dma: IOMMU bytes" "$(jget "$tmp/dma.json" /iommu/dma_bytes)" 14552
# Each transfer stays in one page: ten translations, two IOTLB misses (the
# source and the destination page), each a 3-level walk (6 references).
expect_eq "dma: translations" "$(jget "$tmp/dma.json" /iommu/translations)" 10
expect_eq "dma: IOTLB hits" "$(jget "$tmp/dma.json" /iommu/iotlb_hits)" 8
expect_eq "dma: IOTLB misses" "$(jget "$tmp/dma.json" /iommu/iotlb_misses)" 2
expect_eq "dma: context-cache misses" "$(jget "$tmp/dma.json" /iommu/context_misses)" 1
expect_eq "dma: second-level references" "$(jget "$tmp/dma.json" /iommu/walk_refs)" 6
# Stage 2 (EPT, 4 levels, 4 KiB): root and context entries (2 x 2 reads),
# 2 x 3 table entries, 10 data pages, each one 4-reference EPT walk.
expect_eq "dma: EPT lookups" "$(jget "$tmp/dma.json" /iommu/stage2_lookups)" 20
expect_eq "dma: EPT references" "$(jget "$tmp/dma.json" /iommu/stage2_refs)" 80
# Per DMA: 6 / 10 second-level references; (6 + 80) / 10 over both stages.
expect_eq "dma: references per DMA" "$(jget "$tmp/dma.json" /iommu/refs_per_dma)" 0.6
expect_eq "dma: references per DMA, both stages" \
	"$(jget "$tmp/dma.json" /iommu/refs_per_dma_two_stages)" 8.6
expect_eq "dma: no faults" "$(jget "$tmp/dma.json" /iommu/faults)" 0
expect_eq "dma: canary intact" "$(jget "$tmp/dma.json" /canary/changed_bytes)" 0
# Each transfer ends with an MSI the guest takes (vector 48) and acknowledges.
expect_eq "dma: interrupts" "$(jget "$tmp/dma.json" /dma/interrupts)" 10
expect_eq "dma: MSIs" "$(jget "$tmp/dma.json" /dma/msis)" 10
grep -q '^dma: 10 completion interrupts (MSI, vector 48), device status 0x100$' "$tmp/dma.out" &&
	pass || fail "dma: the guest took ten completion interrupts"
# Every register access of the two devices is one of the run's MMIO exits;
# the others are the local APIC's: the spurious-vector register read and
# written once, one EOI per interrupt.
expect_eq "dma: register reads are the MMIO reads" \
	$(($(jget "$tmp/dma.json" /dma/register_reads) + $(jget "$tmp/dma.json" /iommu/register_reads) + 1)) \
	"$(jget "$tmp/dma.json" /devices/mmio_reads)"
expect_eq "dma: register writes are the MMIO writes" \
	$(($(jget "$tmp/dma.json" /dma/register_writes) + $(jget "$tmp/dma.json" /iommu/register_writes) + 1 + 10)) \
	"$(jget "$tmp/dma.json" /devices/mmio_writes)"

# --- workload=dma-attack through the IOMMU ------------------------------
hvrun attack --edu "$GUEST" --append workload=dma-attack
expect_eq "attack: exit status" "$status" 1
expect_eq "attack: last line" "$(tail -n 1 "$tmp/attack.out" | cut -d' ' -f1-3)" "RESULT dma-attack ok"
expect_eq "attack: the guest reads three refusals" \
	"$(grep -c '^attack: .*: refused, fault reason .*source 00:03.0.*memory unchanged$' "$tmp/attack.out")" 3
grep -q '^attack: outside the domain: write to 0xf0000: refused, fault reason 0x5 (write without W), source 00:03.0, write, page 0xf0000; memory unchanged$' \
	"$tmp/attack.out" && pass || fail "attack: the canary write's fault line"
expect_eq "attack: faults" "$(jget "$tmp/attack.json" /iommu/faults)" 3
expect_eq "attack: reason 5" "$(jget "$tmp/attack.json" /iommu/faults_by_reason/0x5)" 2
expect_eq "attack: reason 6" "$(jget "$tmp/attack.json" /iommu/faults_by_reason/0x6)" 1
expect_eq "attack: all recorded" "$(jget "$tmp/attack.json" /iommu/faults_recorded)" 3
expect_eq "attack: fault log reasons" "$(jget "$tmp/attack.json" /iommu/fault_log//reason | tr '\n' ' ')" "5 5 6 "
expect_eq "attack: fault log sources" "$(jget "$tmp/attack.json" /iommu/fault_log//sid | tr '\n' ' ')" "24 24 24 "
expect_eq "attack: fault log access" "$(jget "$tmp/attack.json" /iommu/fault_log//access | tr '\n' ' ')" \
	'"write" "write" "read" '
expect_eq "attack: first page" "$(jget "$tmp/attack.json" /iommu/fault_log//page | head -1)" $((0xf0000))
expect_eq "attack: refused transfers" "$(jget "$tmp/attack.json" /dma/iommu_refused)" 3
expect_eq "attack: canary intact" "$(jget "$tmp/attack.json" /canary/changed_bytes)" 0

# --- workload=dma-fault-event: the refusals reported by interrupt ----------
hvrun fevent --edu "$GUEST" --append workload=dma-fault-event
expect_eq "fault event: exit status" "$status" 1
expect_eq "fault event: last line" "$(tail -n 1 "$tmp/fevent.out" | cut -d' ' -f1-3)" \
	"RESULT dma-fault-event ok"
expect_line "$tmp/fevent.out" 'fault-event: MSI to vector 49, unmasked (FECTL 0x0)' \
	"fault event: FEDATA/FEADDR programmed, IM cleared"
expect_eq "fault event: the handler reads the three refusals" \
	"$(grep -c '^attack: .*: refused, fault reason .*source 00:03.0.*memory unchanged$' "$tmp/fevent.out")" 3
expect_line "$tmp/fevent.out" \
	'fault-event: 3 interrupts, 3 fault records read and cleared by the handler; fault status 0x0' \
	"fault event: one interrupt per refused DMA, records cleared"
expect_line "$tmp/fevent.out" \
	'fault-event: masked, a refused write: 0 interrupts, FECTL 0xc0000000 (interrupt pending), fault status 0x2' \
	"fault event: masked, the interrupt waits in FECTL.IP"
expect_line "$tmp/fevent.out" \
	'fault-event: unmasked: 1 interrupt, FECTL 0x0; the handler read fault reason 0x5 (write without W), write, page 0xf0000' \
	"fault event: unmasking sends the pending interrupt"
expect_eq "fault event: MSIs sent by the unit" "$(jget "$tmp/fevent.json" /iommu/fault_events)" 4
expect_eq "fault event: fault log reasons" \
	"$(jget "$tmp/fevent.json" /iommu/fault_log//reason | tr '\n' ' ')" "5 5 6 5 "
expect_eq "fault event: all recorded" "$(jget "$tmp/fevent.json" /iommu/faults_recorded)" 4
expect_eq "fault event: edu's completion interrupts" "$(jget "$tmp/fevent.json" /dma/interrupts)" 9
expect_eq "fault event: canary intact" "$(jget "$tmp/fevent.json" /canary/changed_bytes)" 0
# MMIO writes: both devices' registers, the APIC's spurious-vector register,
# and one EOI per interrupt (9 completions, 4 fault events).
expect_eq "fault event: register writes are the MMIO writes" \
	$(($(jget "$tmp/fevent.json" /dma/register_writes) + $(jget "$tmp/fevent.json" /iommu/register_writes) + 1 + 9 + 4)) \
	"$(jget "$tmp/fevent.json" /devices/mmio_writes)"
"$HV" run --edu --serial none "$GUEST" --append workload=dma-fault-event >"$tmp/fevent.txt" 2>&1
expect_line "$tmp/fevent.txt" '    fault events (MSIs)               4' "fault event: the text report's row"
hvrun fevent-none --edu --no-iommu "$GUEST" --append workload=dma-fault-event
expect_eq "fault event without a unit: exit status" "$status" 3
expect_line "$tmp/fevent-none.out" 'dma-fault-event: needs a visible IOMMU' \
	"fault event without a unit: the guest says why"

"$HV" run --edu --serial none "$GUEST" --append workload=dma-attack >"$tmp/attack.txt" 2>&1
grep -q '^    fault 0: 00:03.0 write page 0xf0000, reason 0x5 (write without W)$' "$tmp/attack.txt" &&
	pass || { fail "attack: text report's fault line"; show "$tmp/attack.txt"; }
grep -q '^Canary at GPA 0xf0000: intact (4096 bytes)$' "$tmp/attack.txt" && pass ||
	fail "attack: text report's canary line"

# --- the same attack without the IOMMU ----------------------------------
# No DMAR table: the guest knows there is no unit without being told.
hvrun canary --edu --no-iommu "$GUEST" --append workload=dma-attack
expect_eq "no-iommu: exit status (the guest's failure)" "$status" 3
grep -q '^acpi: no DMAR table$' "$tmp/canary.out" && pass || fail "no-iommu: no DMAR table"
grep -q '^dma: no IOMMU: bus addresses are guest-physical$' "$tmp/canary.out" && pass ||
	fail "no-iommu: the guest uses GPAs"
expect_eq "no-iommu: last line" "$(tail -n 1 "$tmp/canary.out" | cut -d' ' -f1-3)" "RESULT dma-attack FAIL"
grep -q '^attack: outside the domain: write to 0xf0000: REACHED MEMORY, it changed$' "$tmp/canary.out" &&
	pass || { fail "no-iommu: the canary write reached memory"; show "$tmp/canary.out"; }
grep -q '^attack: kernel secret: read of 0x[0-9a-f]*: LEAKED, the device has it$' "$tmp/canary.out" &&
	pass || fail "no-iommu: the secret leaked"
expect_eq "no-iommu: canary damaged" "$(jget "$tmp/canary.json" /canary/changed_bytes)" 64
expect_eq "no-iommu: first damaged byte" "$(jget "$tmp/canary.json" /canary/first_changed)" $((0xf0000))
expect_eq "no-iommu: no IOMMU section" "$(grep -c '"iommu": {' "$tmp/canary.json")" 0
expect_eq "no-iommu: the report says so" "$(jget "$tmp/canary.json" /dma/iommu)" false

# workload=dma without the IOMMU moves the same data.
hvrun direct --edu --no-iommu "$GUEST" --append 'workload=dma iommu=off'
expect_eq "direct: exit status" "$status" 1
expect_eq "direct: same checksum as through the IOMMU" "$(tail -n 1 "$tmp/direct.out")" \
	"$(tail -n 1 "$tmp/dma.out")"

# A guest told there is a unit where there is none: a clean stop.
hvrun nounit --edu --no-iommu "$GUEST" --append 'workload=dma iommu=on'
expect_eq "no unit: exit status" "$status" 4
grep -q 'GPA 0xfed90000 is neither RAM nor a device' "$tmp/nounit.err" && pass ||
	{ fail "no unit: diagnostic"; show "$tmp/nounit.err"; }
"$HV" run --no-iommu "$GUEST" >/dev/null 2>"$tmp/usage.err"
expect_eq "--no-iommu alone: usage status" "$?" 2
grep -q 'no DMA device without --edu' "$tmp/usage.err" && pass || fail "--no-iommu alone: message"

# --- workload=viommu: the unit's caches and queued invalidation -----------
hvrun viommu --edu "$GUEST" --append workload=viommu
expect_eq "viommu: exit status" "$status" 1
expect_eq "viommu: last line" "$(tail -n 1 "$tmp/viommu.out" | cut -d' ' -f1-3)" "RESULT viommu ok"
grep -q '^viommu: leaf moved to another page, not invalidated: the device reads the old page$' \
	"$tmp/viommu.out" && pass || { fail "viommu: the stale IOTLB entry is used"; show "$tmp/viommu.out"; }
grep -q '^viommu: after a page-selective IOTLB invalidation and a wait: the device reads the new page$' \
	"$tmp/viommu.out" && pass || fail "viommu: the invalidation takes effect"
grep -q '^viommu: context entry removed, not invalidated: the device reads the new page$' \
	"$tmp/viommu.out" && pass || fail "viommu: the stale context entry is used"
grep -q '^viommu: after a device context and a domain IOTLB invalidation: the device reads nothing; fault reason 0x2 (context entry not present)$' \
	"$tmp/viommu.out" && pass || fail "viommu: refused once invalidated"
# Five descriptors (IOTLB page, wait, context device, IOTLB domain, wait).
expect_eq "viommu: queued descriptors" "$(jget "$tmp/viommu.json" /iommu/queued_descriptors)" 5
expect_eq "viommu: waits" "$(jget "$tmp/viommu.json" /iommu/queue_waits)" 2
expect_eq "viommu: queue errors" "$(jget "$tmp/viommu.json" /iommu/queue_errors)" 0
# Ten transfers (five reads of IOVA 0x100000, five writes to 0x101000):
# misses at the first of each page, the re-read after the page invalidation,
# and none after the domain invalidation (the context lookup faults first).
expect_eq "viommu: IOTLB hits" "$(jget "$tmp/viommu.json" /iommu/iotlb_hits)" 5
expect_eq "viommu: IOTLB misses" "$(jget "$tmp/viommu.json" /iommu/iotlb_misses)" 3
expect_eq "viommu: context hits" "$(jget "$tmp/viommu.json" /iommu/context_hits)" 7
expect_eq "viommu: context misses" "$(jget "$tmp/viommu.json" /iommu/context_misses)" 3
expect_eq "viommu: fault reasons" "$(jget "$tmp/viommu.json" /iommu/fault_log//reason | tr '\n' ' ')" "2 2 "
# Without an IOMMU cache nothing is stale; the smallest caches still work.
hvrun viommu0 --edu --iotlb 0 --context-cache 0 "$GUEST" --append workload=viommu
expect_eq "viommu, no caches: exit status" "$status" 1
grep -q '^viommu: leaf moved to another page, not invalidated: the device reads the new page$' \
	"$tmp/viommu0.out" && pass || { fail "viommu, no IOTLB: nothing stale"; show "$tmp/viommu0.out"; }
expect_eq "viommu, no caches: IOTLB lookups" \
	"$(jget "$tmp/viommu0.json" /iommu/iotlb_hits) $(jget "$tmp/viommu0.json" /iommu/iotlb_misses)" "0 0"
expect_eq "viommu, no caches: sizes" "$(jget "$tmp/viommu0.json" /iommu/iotlb_entries)" 0
hvrun viommu1 --edu --iotlb 1 --context-cache 1:1 "$GUEST" --append workload=viommu
expect_eq "viommu, 1-entry caches: exit status" "$status" 1
"$HV" run --edu --iotlb 6:4 "$GUEST" >/dev/null 2>"$tmp/iotlb.err"
expect_eq "--iotlb 6:4: usage status" "$?" 2
grep -q 'expected ENTRIES or ENTRIES:WAYS' "$tmp/iotlb.err" && pass || fail "--iotlb 6:4: message"
"$HV" run --iotlb 8 "$GUEST" >/dev/null 2>&1
expect_eq "--iotlb without a unit: usage status" "$?" 2

# --- DMA writes during dirty tracking --------------------------------------
# workload=dma-dirty starts dirty tracking by hypercall, then edu copies a
# page into a page of the kernel's that no CPU write touches afterwards.
# A device's write is no CPU write (EPT write protection does not stop it,
# EPT D does not record it): hv logs it, as it makes the write (emulated,
# through the guest's unit or straight to a GPA) or as its own unit
# translates it (passed through, separate tables), and it is in neither CPU
# set. With shared tables the write-protected EPT leaf is the unit's leaf:
# the write is refused, reason 5, and the guest sees the data missing.
#
# Passed through without an IOMMU the bus address is an HPA: hv maps the frame
# written back to its GPA through EPT for the log. With 2 MiB EPT pages RAM is
# one run of host memory (hv passes hpa-ram=), the guest names its page by its
# HPA and the log holds that page; with 4 KiB pages the guest can only use the
# GPA as bus address, the write lands in the frame with that HPA, which is
# another page of the guest's, and that page is the one logged.
for mode in unit nounit separate shared none-2m none-4k; do
	case $mode in
	unit) set -- --edu ;;
	nounit) set -- --edu --no-iommu ;;
	none-2m) set -- --passthrough separate --no-iommu --ept-page 2M ;;
	none-4k) set -- --passthrough separate --no-iommu ;;
	*) set -- --passthrough "$mode" ;;
	esac
	hvrun "dirty-$mode" "$@" "$GUEST" --append workload=dma-dirty
	j=$tmp/dirty-$mode.json
	grep -q '^dma-dirty: dirty tracking started by hypercall$' "$tmp/dirty-$mode.out" && pass ||
		fail "dirty $mode: tracking started by the guest's hypercall"
	expect_eq "dirty $mode: started by" "$(jget "$j" /dirty/started_by)" '"hypercall"'
	expect_eq "dirty $mode: CPU sets agree" "$(jget "$j" /dirty/agree)" true
	gpa=$(sed -n 's/^dma-dirty: the device wrote 4095 bytes to GPA \(0x[0-9a-f]*\) .*/\1/p' \
		"$tmp/dirty-$mode.out")
	if [ "$mode" = shared ]; then
		expect_eq "dirty shared: exit status" "$status" 3
		grep -q ': MISMATCH$' "$tmp/dirty-$mode.out" && pass ||
			fail "dirty shared: the guest sees the write missing"
		expect_eq "dirty shared: DMA write log" "$(jget "$j" /dirty/dma_write_pages)" 0
		expect_eq "dirty shared: faults" "$(jget "$j" /iommu/faults)" 1
		expect_eq "dirty shared: reason" "$(jget "$j" /iommu/fault_log//reason)" 5
		expect_eq "dirty shared: access" "$(jget "$j" /iommu/fault_log//access)" '"write"'
		expect_eq "dirty shared: page" "$(printf '0x%x' "$(jget "$j" /iommu/fault_log//page)")" \
			"$gpa"
	elif [ "$mode" = none-4k ]; then
		expect_eq "dirty none-4k: exit status" "$status" 3
		grep -q "^dma-dirty: the device wrote 4095 bytes to GPA $gpa (bus address $gpa): MISMATCH\$" \
			"$tmp/dirty-$mode.out" && pass || fail "dirty none-4k: the bytes went elsewhere"
		expect_eq "dirty none-4k: DMA write log" "$(jget "$j" /dirty/dma_write_pages)" 1
		expect_eq "dirty none-4k: written by DMA only" "$(jget "$j" /dirty/dma_only_pages)" 1
		expect_eq "dirty none-4k: writes to guest RAM" "$(jget "$j" /passthrough/writes_to_guest_ram)" 1
		expect_eq "dirty none-4k: the frame written" \
			"$(printf '0x%x' "$(jget "$j" /passthrough/last_ram_write_hpa)")" "$gpa"
		other=$(jget "$j" /passthrough/last_ram_write_gpa)
		check "dirty none-4k: logged at another GPA of RAM" "$other" -ne $((gpa))
		check "dirty none-4k: logged at a GPA of RAM" "$other" -lt $((512 << 20))
	else
		expect_eq "dirty $mode: exit status" "$status" 1
		grep -q ': data matches$' "$tmp/dirty-$mode.out" && pass ||
			fail "dirty $mode: the device's data arrived"
		expect_eq "dirty $mode: DMA write log" "$(jget "$j" /dirty/dma_write_pages)" 1
		expect_eq "dirty $mode: written by DMA only" "$(jget "$j" /dirty/dma_only_pages)" 1
	fi
	if [ "$mode" = none-2m ]; then
		expect_eq "dirty none-2m: writes to guest RAM" \
			"$(jget "$j" /passthrough/writes_to_guest_ram)" 1
		expect_eq "dirty none-2m: writes to hv's memory" \
			"$(jget "$j" /passthrough/writes_to_hv_memory)" 0
		expect_eq "dirty none-2m: mapped back to the guest's page" \
			"$(printf '0x%x' "$(jget "$j" /passthrough/last_ram_write_gpa)")" "$gpa"
	fi
done
timeout 120 "$HV" run --edu "$GUEST" --append workload=dma-dirty >/dev/null 2>"$tmp/dirty-text.err"
grep -q '^    written by DMA only  *1 pages$' "$tmp/dirty-text.err" && pass ||
	fail "dirty: the text report's DMA-only line"
# Addresses edu cut to its 28-bit DMA mask (none here) have a row of their own.
grep -q '^  cut to the DMA mask  *0$' "$tmp/dirty-text.err" && pass ||
	fail "dirty: the text report's DMA-mask row"

# --- hv walk --iova -------------------------------------------------------
"$HV" walk --iova 0x1234 >"$tmp/w1" 2>&1
expect_eq "walk --iova: status" "$?" 0
expect_eq "walk --iova: 4-level walk" "$(grep -c '^  SL-' "$tmp/w1")" 4
grep -q '^result: HPA 0x[0-9a-f]*234 (4K page), 4 second-level references' "$tmp/w1" && pass ||
	{ fail "walk --iova: result line"; show "$tmp/w1"; }
"$HV" walk --iova --levels 3 --page 2M 0x201234 >"$tmp/w2" 2>&1
grep -q '(2M page), 2 second-level references' "$tmp/w2" && pass || fail "walk --iova: 2M in 3 levels"
"$HV" walk --iova --perms r --access W 0x1234 >"$tmp/w3" 2>&1
grep -q '^  fault recording register: 0x8000000500000018 0x0000000000001000$' "$tmp/w3" && pass ||
	{ fail "walk --iova: write to a read-only leaf"; show "$tmp/w3"; }
"$HV" walk --iova --sid 00:04.0 0x1234 >"$tmp/w4" 2>&1
grep -q '^fault: reason 0x2 (context entry not present)$' "$tmp/w4" && pass || fail "walk --iova: reason 2"
grep -q '0xc000000200000020 0x0000000000001000$' "$tmp/w4" && pass || fail "walk --iova: reason 2 record"
"$HV" walk --iova --levels 3 0x8000000000 >"$tmp/w5" 2>&1
grep -q '^fault: reason 0x4 (address beyond the AGAW)$' "$tmp/w5" && pass || fail "walk --iova: reason 4"
"$HV" walk --iova --json 0x10000000 >"$tmp/w6.json" 2>&1
expect_eq "walk --iova --json: reason" "$(jget "$tmp/w6.json" /fault_reason)" 6
expect_eq "walk --iova --json: entries read" "$(jget "$tmp/w6.json" /second_level//level | tr '\n' ' ')" "4 3 2 "
"$HV" walk --iova 0x12x >/dev/null 2>&1
expect_eq "walk --iova: a bad address is a usage error" "$?" 2
# --guest: a guest's unit, as under hv run --edu. Every entry's GPA and the
# output GPA go through EPT (4 levels, 4 KiB pages: 4 references each): the
# device-side 2D walk, 4 + 4 x 4 + 4 = 24 references, and 2 x 2 quadwords
# of root and context entry, 16 EPT references more. 2 MiB in 3 levels:
# 2 + 2 x 4 + 4 = 14.
"$HV" walk --iova --guest 0x1234 >"$tmp/g1" 2>&1
expect_eq "walk --iova --guest: status" "$?" 0
expect_eq "walk --iova --guest: entries at GPAs" "$(grep -c '^  SL-.* at GPA 0x[0-9a-f]*: ' "$tmp/g1")" 4
expect_eq "walk --iova --guest: EPT walks shown" "$(grep -c 'EPT: GPA 0x[0-9a-f]* -> HPA ' "$tmp/g1")" 7
grep -q '^result: GPA 0x40001234 (4K page), 4 second-level' "$tmp/g1" && pass ||
	{ fail "walk --iova --guest: the output is a GPA"; show "$tmp/g1"; }
grep -q '^2D walk: 4 second-level + 16 EPT references for their GPAs + 4 for the output = 24 (the root and context entries: 16 EPT references more)$' \
	"$tmp/g1" && pass || { fail "walk --iova --guest: 24 references"; show "$tmp/g1"; }
"$HV" walk --iova --guest --levels 3 --page 2M 0x201234 >"$tmp/g2" 2>&1
grep -q '^2D walk: 2 second-level + 8 EPT references for their GPAs + 4 for the output = 14 ' "$tmp/g2" &&
	pass || { fail "walk --iova --guest: 2M in 3 levels"; show "$tmp/g2"; }
"$HV" walk --iova --guest --perms r --access W 0x1234 >"$tmp/g3" 2>&1
grep -q '^  fault recording register: 0x8000000500000018 0x0000000000001000$' "$tmp/g3" && pass ||
	{ fail "walk --iova --guest: write to a read-only leaf"; show "$tmp/g3"; }
"$HV" walk --iova --guest --json 0x1234 >"$tmp/g4.json" 2>&1
expect_eq "walk --iova --guest --json: guest" "$(jget "$tmp/g4.json" /guest)" true
expect_eq "walk --iova --guest --json: root entry's EPT references" \
	"$(jget "$tmp/g4.json" /root_entry/ept_refs)" 8
expect_eq "walk --iova --guest --json: per entry" \
	"$(jget "$tmp/g4.json" /second_level//ept_refs | tr '\n' ' ')" "4 4 4 4 "
expect_eq "walk --iova --guest --json: output GPA" "$(jget "$tmp/g4.json" /gpa)" $((0x40001234))
expect_eq "walk --iova --guest --json: output" "$(jget "$tmp/g4.json" /output_ept_refs)" 4

# --- the same kernel under QEMU ------------------------------------------
if command -v "$QEMU" >/dev/null 2>&1 &&
	"$QEMU" -device help 2>/dev/null | grep -q '"edu"' &&
	"$QEMU" -device help 2>/dev/null | grep -q '"intel-iommu"'; then
	for w in dma dma-attack dma-fault-event viommu; do
		timeout 120 "$QEMU" -accel tcg -M q35 -cpu max -m 512M -kernel "$GUEST" \
			-append "workload=$w" -device intel-iommu -device edu,addr=3 \
			-device isa-debug-exit,iobase=0xf4,iosize=4 \
			-display none -serial stdio -monitor none -no-reboot -nodefaults \
			</dev/null >"$tmp/qemu-$w.out" 2>"$tmp/qemu-$w.err"
		expect_eq "qemu $w: exit status" "$?" 1
		hvrun "hv-$w" --edu "$GUEST" --append "workload=$w"
		if cmp -s "$tmp/qemu-$w.out" "$tmp/hv-$w.out"; then
			pass
		else
			fail "qemu $w: the guest's output differs between QEMU and hv"
			diff "$tmp/qemu-$w.out" "$tmp/hv-$w.out" >&2
		fi
	done
	# Without intel-iommu QEMU has no DMAR table either.
	timeout 120 "$QEMU" -accel tcg -M q35 -cpu max -m 512M -kernel "$GUEST" \
		-append workload=dma -device edu,addr=3 -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-display none -serial stdio -monitor none -no-reboot -nodefaults \
		</dev/null >"$tmp/qemu-nounit.out" 2>"$tmp/qemu-nounit.err"
	expect_eq "qemu without a unit: exit status" "$?" 1
	hvrun hv-nounit --edu --no-iommu "$GUEST" --append workload=dma
	if cmp -s "$tmp/qemu-nounit.out" "$tmp/hv-nounit.out"; then
		pass
	else
		fail "qemu without a unit: the guest's output differs between QEMU and hv"
		diff "$tmp/qemu-nounit.out" "$tmp/hv-nounit.out" >&2
	fi
else
	echo "dma_test: QEMU with edu and intel-iommu not found, the comparison is skipped" >&2
fi

tl_finish
