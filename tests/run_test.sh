#!/bin/sh
# tests/run_test.sh - boot guests under `hv run` and check what comes out:
#
#  - every workload of guest/guest.elf exits with status 1 (isa-debug-exit
#    write of 0) and a last line `RESULT <workload> ok checksum=<hex>`;
#  - the counters of the --json report satisfy their invariants (hits and
#    walks add up to translations, the histogram and the grid add up to the
#    walk references, lazy mapping faults once per frame, ...);
#  - two runs with the same options print the same counts;
#  - 4K vs 2M pages in each stage give the uncached 24/19/15 references;
#  - lazy mapping: a 64 GiB guest that touches little allocates little;
#  - dirty tracking: write-protect logging and EPT dirty bits agree, and the
#    probe guest that writes 64 pages gets exactly 64 in both sets;
#  - a 64-bit REP STOSQ over 32 MiB counts one store per qword;
#  - the hv test device (MMIO), a forbidden GPA, #UD and #DE with no IDT
#    (triple faults) and --max-insns stop cleanly with a diagnostic;
#  - the guest prints the same lines under hv and under QEMU, for every
#    workload (skipped when qemu-system-x86_64 is not installed).
#
# Run by `make check` from the top build directory (VPATH builds included).
# HV, GUEST, PROBES and QEMU override the programs. Exit 77 (skip) when the
# guest kernel is not built.
set -u

HV=${HV:-./hv/hv}
GUEST=${GUEST:-./guest/guest.elf}
PROBES=${PROBES:-./tests/guests}
QEMU=${QEMU:-qemu-system-x86_64}
ITERS=${ITERS:-100000}
. "${srcdir:-.}/tests/testlib.sh"
tl_init run_test

tl_need "$HV"
tl_want "$GUEST"


# sum of the numbers in a one-line JSON array value "[a, b, c]"
arrsum() { echo "$1" | tr -d '[],' | awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; print s }'; }
# sum of i * a[i] over the same
arrwsum() { echo "$1" | tr -d '[],' | awk '{ s = 0; for (i = 1; i <= NF; i++) s += (i - 1) * $i; print s }'; }
# highest index holding a non-zero number
arrmax() { echo "$1" | tr -d '[],' | awk '{ m = -1; for (i = 1; i <= NF; i++) if ($i > 0) m = i - 1; print m }'; }

show() { sed 's/^/  | /' "$@" >&2; }

# The translation invariants every report must satisfy.
invariants() {
	j=$tmp/$1.json
	tr=$(jget "$j" /translation/translations)
	walks=$(jget "$j" /translation/walks)
	refs=$(jget "$j" /translation/walk_refs)
	r=$(jget "$j" /translation/reads)
	w=$(jget "$j" /translation/writes)
	x=$(jget "$j" /translation/fetches)
	hist=$(jget "$j" /translation/refs_hist)
	if [ -z "$tr" ] || [ -z "$walks" ] || [ -z "$hist" ]; then
		fail "$1: report lacks translation counts"
		return
	fi
	check "$1: reads + writes + fetches = translations" $((r + w + x)) -eq "$tr"
	check "$1: walks <= translations" "$walks" -le "$tr"
	check "$1: histogram counts every walk" "$(arrsum "$hist")" -eq "$walks"
	check "$1: histogram weights sum to walk_refs" "$(arrwsum "$hist")" -eq "$refs"
	cells=$(awk '/"cells": \[/ { on = 1; next } on && /^ *\]/ { on = 0 } on' "$j" | tr -d '[],' |
		awk '{ for (i = 1; i <= NF; i++) s += $i } END { print s + 0 }')
	check "$1: reference grid sums to walk_refs" "$cells" -eq "$refs"
	ev=$(jget "$j" /ept_violations/total)
	gf=$(jget "$j" /guest/fetches)
	gl=$(jget "$j" /guest/loads)
	gs=$(jget "$j" /guest/stores)
	# Every access the vCPU makes is exactly one translation, faulting or not.
	check "$1: vCPU fetches + loads + stores = MMU translations" $((gf + gl + gs)) -eq "$tr"
	check "$1: vCPU fetches = MMU fetch translations" "$gf" -eq "$x"
	mv=$(jget "$j" /translation/faults/ept_violations)
	check "$1: every EPT violation the MMU saw was handled" "$ev" -eq "$mv"
	l=$(jget "$j" /ept_violations/lazy_map)
	d=$(jget "$j" /ept_violations/dirty_log)
	m=$(jget "$j" /ept_violations/mmio)
	f=$(jget "$j" /ept_violations/forbidden)
	check "$1: violation causes add up" $((l + d + m + f)) -eq "$ev"
	lf=$(jget "$j" /memory/lazy_frames)
	check "$1: one lazy-map violation per frame mapped" "$l" -eq "$lf"
	et=0
	for k in io mmio hlt hypercall ept_violation ept_misconfig triple_fault insn_limit msr irq_window set_tpr \
		 internal_error; do
		et=$((et + $(jget "$j" /exits/$k)))
	done
	check "$1: exits by reason add up" "$et" -eq "$(jget "$j" /exits/total)"
	# hits + misses of each cache = its lookups: the L1 data TLB is looked
	# up by every load and store that is not a fetch
	h=$(jget "$j" /translation/structures/l1d_4k/hits)
	mi=$(jget "$j" /translation/structures/l1d_4k/misses)
	if [ -n "$h" ] && [ -n "$mi" ]; then
		check "$1: l1d_4k hits + misses <= data translations" $((h + mi)) -le $((r + w))
	fi
}

# ---------------------------------------------------------------------------
# Every workload: status, RESULT line, invariants.
for wl in random seq stride chase cow protect compute memloop all; do
	hvrun "$wl" --memory 128M "$GUEST" --append "workload=$wl iters=$ITERS"
	if [ "$status" -ne 1 ]; then
		fail "$wl: exit status $status, want 1"
		show "$tmp/$wl.out" "$tmp/$wl.err"
		continue
	fi
	if tail -n 1 "$tmp/$wl.out" | grep -Eq "^RESULT $wl ok checksum=[0-9a-f]{16}\$"; then
		pass
	else
		fail "$wl: last line is '$(tail -n 1 "$tmp/$wl.out")'"
	fi
	check "$wl: stop reason" "$(jget "$tmp/$wl.json" /stop/reason)" = '"debug-exit"'
	invariants "$wl"
done

# ---------------------------------------------------------------------------
# Determinism: the same run twice gives the same report, wall time aside.
hvrun det1 --memory 128M --mem-policy lazy "$GUEST" --append "workload=chase iters=$ITERS seed=3"
hvrun det2 --memory 128M --mem-policy lazy "$GUEST" --append "workload=chase iters=$ITERS seed=3"
sed '/"host": {/,/}/d' "$tmp/det1.json" >"$tmp/det1.cut"
sed '/"host": {/,/}/d' "$tmp/det2.json" >"$tmp/det2.cut"
if [ -s "$tmp/det1.cut" ] && cmp -s "$tmp/det1.cut" "$tmp/det2.cut"; then
	pass
else
	fail "two identical runs differ"
	diff "$tmp/det1.cut" "$tmp/det2.cut" | head -20 >&2
fi
invariants det1

# ---------------------------------------------------------------------------
# Uncached walks: the longest walk is (n+1)(m+1)-1 with 4K pages, shorter by
# a dimension with 2M pages (translation-facts.md section 3).
walkmax() { # NAME GUESTPAGES EPTPAGE WANT
	hvrun "$1" --memory 128M --tlb none --pwc none --ept-page "$3" "$GUEST" \
		--append "workload=random iters=2000 footprint=8M pages=$2"
	got=$(arrmax "$(jget "$tmp/$1.json" /translation/refs_hist)")
	check "$1: longest uncached walk ($2 guest, $3 EPT) is $4 references" "$got" -eq "$4"
}
walkmax walk4k4k 4k 4K 24
walkmax walk4k2m 4k 2M 19
hvrun walk2m2m --memory 128M --tlb none --pwc none --ept-page 2M "$GUEST" \
	--append "workload=random iters=2000 footprint=8M pages=2m"
n15=$(jget "$tmp/walk2m2m.json" /translation/refs_hist | tr -d '[],' | awk '{ print $16 }')
check "walk2m2m: 2M guest pages over 2M EPT pages make 15-reference walks" "${n15:-0}" -gt 0

# ---------------------------------------------------------------------------
# Memory policies.
hvrun eager --memory 128M "$GUEST" --append "workload=seq iters=1000"
check "eager: all RAM allocated at boot" "$(jget "$tmp/eager.json" /memory/guest_ram_allocated)" -eq $((128 << 20))
check "eager: no lazy-map violations" "$(jget "$tmp/eager.json" /ept_violations/lazy_map)" -eq 0
hvrun lazy64g --memory 64G --mem-policy lazy "$GUEST" --append "workload=seq iters=1000 footprint=32M"
check "lazy64g: status" "$status" -eq 1
alloc=$(jget "$tmp/lazy64g.json" /memory/guest_ram_allocated)
check "lazy64g: a 64G guest touching ~40M allocates less than 128M" "${alloc:-999999999999}" -lt $((128 << 20))
lf=$(jget "$tmp/lazy64g.json" /memory/lazy_frames)
ldf=$(jget "$tmp/lazy64g.json" /memory/loader_frames)
check "lazy64g: allocated RAM = frames mapped on demand x 4K" "$alloc" -eq $(((lf + ldf) * 4096))
invariants lazy64g
hvrun lazy2m --memory 1G --mem-policy lazy --ept-page 2M "$GUEST" --append "workload=seq iters=1000"
alloc=$(jget "$tmp/lazy2m.json" /memory/guest_ram_allocated)
lf=$(jget "$tmp/lazy2m.json" /memory/lazy_frames)
ldf=$(jget "$tmp/lazy2m.json" /memory/loader_frames)
check "lazy2m: frames are 2M" "$alloc" -eq $(((lf + ldf) * 2097152))

# Eager mapping gives the guest all of its RAM up front: a size the host
# cannot hold is refused at once, naming the limit (before: 1T mapped for
# minutes while hv's memory grew). ulimit -v makes the limit exact here.
host_kb=$(awk '/^(MemTotal|SwapTotal):/ { t += $2 } END { print t + 0 }' /proc/meminfo)
if [ "$host_kb" -lt $((1 << 30)) ]; then
	timeout 60 "$HV" run --memory 1T "$GUEST" >"$tmp/1t.out" 2>"$tmp/1t.err"
	check "eager 1T: refused with usage status" $? -eq 2
	if grep -q 'eager gives the guest all 1 TiB of its RAM before it starts' "$tmp/1t.err" &&
		grep -q 'Use --mem-policy lazy' "$tmp/1t.err"; then pass
	else fail "eager 1T: message"; show "$tmp/1t.err"; fi
	check "eager 1T: no report" "$(wc -c <"$tmp/1t.out")" -eq 0
fi
(ulimit -v 1048576 && exec "$HV" run --memory 2G "$GUEST") >/dev/null 2>"$tmp/ulim.err"
check "eager 2G under ulimit -v 1G: usage status" $? -eq 2
expect_msg() {
	if grep -q "$2" "$3"; then pass; else fail "$1"; show "$3"; fi
}
expect_msg "eager 2G under ulimit -v 1G: names the limit" \
	'more than this host allows (1 GiB: the address-space limit (ulimit -v))' "$tmp/ulim.err"
(ulimit -v 1048576 && exec "$HV" run --memory 2G --mem-policy lazy "$GUEST") >/dev/null 2>"$tmp/ulim-lazy.err"
check "lazy 2G under ulimit -v 1G: host status" $? -eq 8
expect_msg "lazy 2G under ulimit -v 1G: names the reservation and the limit" \
	'cannot reserve 4104 MiB of host address space for the guest: .*ulimit -v' "$tmp/ulim-lazy.err"
# Lazy 1T is not refused; the guest uses RAM below 512 GiB only (its identity
# map is one PML4 slot; before, it handed out frames above that and panicked).
hvrun lazy1t --memory 1T --mem-policy lazy --max-insns 200000 "$GUEST"
check "lazy 1T: runs to the instruction limit" "$status" -eq 6
expect_msg "lazy 1T: the guest leaves RAM above 512 GiB out" \
	'^mm: 525312 MiB of RAM above 512 GiB left unused' "$tmp/lazy1t.out"

# ---------------------------------------------------------------------------
# Dirty tracking: both methods agree, on the real guest and on the probe.
for pol in eager lazy; do
	hvrun dirty-$pol --memory 128M --mem-policy $pol --dirty-track-after 300000 "$GUEST" \
		--append "workload=random iters=$ITERS"
	check "dirty-$pol: status" "$status" -eq 1
	check "dirty-$pol: the two dirty sets agree" "$(jget "$tmp/dirty-$pol.json" /dirty/agree)" = true
	wp=$(jget "$tmp/dirty-$pol.json" /dirty/write_protect_pages)
	check "dirty-$pol: pages were dirtied" "${wp:-0}" -gt 0
	check "dirty-$pol: one dirty-log violation per page" "$(jget "$tmp/dirty-$pol.json" /ept_violations/dirty_log)" -eq "$wp"
	invariants dirty-$pol
	hvrun pdirty-$pol --memory 64M --mem-policy $pol "$PROBES/probe-dirty.elf"
	check "probe dirty ($pol): status" "$status" -eq 1
	check "probe dirty ($pol): started by the hypercall" "$(jget "$tmp/pdirty-$pol.json" /dirty/started_by)" = '"hypercall"'
	check "probe dirty ($pol): 64 pages by write protection" "$(jget "$tmp/pdirty-$pol.json" /dirty/write_protect_pages)" -eq 64
	check "probe dirty ($pol): 64 pages by EPT D bits" "$(jget "$tmp/pdirty-$pol.json" /dirty/ept_dirty_pages)" -eq 64
done

# ---------------------------------------------------------------------------
# MMIO window: the hv test device (multiboot probe).
hvrun mmio --memory 64M "$PROBES/probe-mmio.elf"
check "mmio: status" "$status" -eq 1
check "mmio: guest saw the device" "$(grep -c 'hv test device ok' "$tmp/mmio.out")" -eq 1
check "mmio: two reads" "$(jget "$tmp/mmio.json" /devices/mmio_reads)" -eq 2
check "mmio: one write" "$(jget "$tmp/mmio.json" /devices/mmio_writes)" -eq 1
check "mmio: boot protocol" "$(jget "$tmp/mmio.json" /config/boot_protocol)" = '"multiboot"'

# ---------------------------------------------------------------------------
# One REP STOSQ in 64-bit mode over the RAM from 64 MiB (multiboot probe):
# the string fast path, one store per qword (docs/softcpu.md).
hvrun zero --memory 96M "$PROBES/probe-zero.elf"
check "zero: status" "$status" -eq 1
check "zero: the guest finished" "$(grep -c 'cleared the RAM from 64 MiB' "$tmp/zero.out")" -eq 1
check "zero: 1028 stores, then one per qword of 32 MiB" "$(jget "$tmp/zero.json" /guest/stores)" -eq \
	$((1028 + 32 * 1024 * 1024 / 8))
invariants zero

# ---------------------------------------------------------------------------
# Guests that break a rule: a clean stop, status 4, a diagnostic.
hvrun forbidden --memory 64M "$PROBES/probe-forbidden.elf"
check "forbidden: status 4" "$status" -eq 4
check "forbidden: stop reason" "$(jget "$tmp/forbidden.json" /stop/reason)" = '"forbidden-gpa"'
if grep -q 'GPA 0xc0000000' "$tmp/forbidden.err" && grep -q 'exit qualification 0x' "$tmp/forbidden.err" &&
	grep -q 'RIP 0x' "$tmp/forbidden.err" && grep -q 'read, not present in EPT' "$tmp/forbidden.err"; then
	pass
else
	fail "forbidden: diagnostic lacks GPA, decoded qualification or RIP"
	show "$tmp/forbidden.err"
fi
check "forbidden: counted" "$(jget "$tmp/forbidden.json" /ept_violations/forbidden)" -eq 1
for p in ud triple; do
	hvrun $p --memory 64M "$PROBES/probe-$p.elf"
	check "$p: status 4" "$status" -eq 4
	check "$p: stop reason" "$(jget "$tmp/$p.json" /stop/reason)" = '"triple-fault"'
	if grep -q 'triple fault at RIP 0x' "$tmp/$p.err"; then pass; else fail "$p: no diagnostic"; show "$tmp/$p.err"; fi
	check "$p: the guest did not go on" "$(grep -c survived "$tmp/$p.out")" -eq 0
done
hvrun limit --memory 128M --max-insns 12345 "$GUEST" --append "workload=seq"
check "max-insns: status 6" "$status" -eq 6
check "max-insns: exact count" "$(jget "$tmp/limit.json" /guest/instructions)" -eq 12345
"$HV" run --memory 1M "$GUEST" >/dev/null 2>"$tmp/small.err"
check "--memory 1M: usage status" $? -eq 2
echo "not a kernel" >"$tmp/notelf"
"$HV" run "$tmp/notelf" >/dev/null 2>"$tmp/notelf.err"
check "non-ELF kernel: usage status" $? -eq 2
if grep -q 'not an ELF file' "$tmp/notelf.err"; then pass; else fail "non-ELF kernel: message"; fi

# ---------------------------------------------------------------------------
# hv bench: a busy machine is not a failure. Both cores are kept busy while
# the vCPU loops are timed (before, 3 of 15 such runs exited 1 with "was not
# slower"); the run must succeed, each instruction difference is exactly that
# of hv run at the same two lines, and each rate is by CPU time or reported
# as noise.
busy() { while :; do :; done; }
busy & b1=$!
busy & b2=$!
"$HV" bench --quick --no-qemu --json vcpu-compute vcpu-memloop >"$tmp/bench.json" 2>"$tmp/bench.err"
st=$?
kill "$b1" "$b2"
wait "$b1" "$b2" 2>/dev/null
check "bench under load: exit status 0" "$st" -eq 0
for b in vcpu-compute vcpu-memloop; do
	ops=$(jget "$tmp/bench.json" "/benchmarks/$b/ops")
	n=$(jget "$tmp/bench.json" "/benchmarks/$b/note" | sed -n 's/.*iters=\([0-9]*\) and.*/\1/p')
	# The difference is 20 per iteration plus whatever the longer numbers
	# iters=2N prints cost (N grows until the loop is measurable, so how many
	# digits change depends on the machine's load). hv run at the same two
	# lines gives the exact expected difference.
	for k in 1 2; do
		"$HV" run --memory 128M --json --append "workload=${b#vcpu-} iters=$((k * ${n:-1}))" \
			"$GUEST" >"$tmp/bench-$k.json" 2>/dev/null
	done
	want=$(( $(jget "$tmp/bench-2.json" /guest/instructions) - $(jget "$tmp/bench-1.json" /guest/instructions) ))
	check "bench $b: the instruction difference of hv run at the same lines" "${ops:-0}" -eq "$want"
	off=$(( want - 20 * ${n:-1} ))
	check "bench $b: 20 instructions per iteration, apart from printing" "$off" -lt 1000
	if jget "$tmp/bench.json" "/benchmarks/$b/not_measurable" | grep -q 'noise"$'; then
		pass
	elif [ "$(jget "$tmp/bench.json" "/benchmarks/$b/clock")" = '"cpu"' ] &&
		[ -n "$(jget "$tmp/bench.json" "/benchmarks/$b/ops_per_second")" ]; then
		pass
	else fail "bench $b: neither a rate by CPU time nor noise"; show "$tmp/bench.json"; fi
done

# The noise path, taken whatever the machine does: with a minimum CPU time out
# of reach (HV_BENCH_MIN_CPU, seconds), N is not grown (even 128-fold twice
# cannot reach it) and the result is noise, exit status 0, in the text and
# JSON reports.
HV_BENCH_MIN_CPU=1e6 "$HV" bench --quick --no-qemu vcpu-compute >"$tmp/noise.txt" 2>"$tmp/noise.err"
check "bench noise: exit status 0" $? -eq 0
if grep -q '^vcpu-compute    not measurable: iters=300000 took [-+][0-9.]* s of CPU time more than iters=150000 (.*), less than the 500000.00 s a measurement needs: noise$' "$tmp/noise.txt"; then
	pass
else fail "bench noise: the text line"; show "$tmp/noise.txt"; fi
HV_BENCH_MIN_CPU=1e6 "$HV" bench --quick --no-qemu --json vcpu-memloop >"$tmp/noise.json" 2>"$tmp/noise.err"
check "bench noise, JSON: exit status 0" $? -eq 0
if jget "$tmp/noise.json" /benchmarks/vcpu-memloop/not_measurable | grep -q 'iters=200000 took .* less than the 500000.00 s a measurement needs: noise"$' &&
	[ -z "$(jget "$tmp/noise.json" /benchmarks/vcpu-memloop/ops_per_second)" ]; then
	pass
else fail "bench noise, JSON: not_measurable and no rate"; show "$tmp/noise.json"; fi
HV_BENCH_MIN_CPU=soon "$HV" bench --quick --no-qemu vcpu-compute >/dev/null 2>"$tmp/noise.err"
check "bench: HV_BENCH_MIN_CPU not a number: status 2" $? -eq 2
expect_eq "bench: HV_BENCH_MIN_CPU not a number: message" "$(cat "$tmp/noise.err")" \
	"hv bench: HV_BENCH_MIN_CPU='soon' is not a positive number of seconds"

# ---------------------------------------------------------------------------
# The same guest lines under hv and under QEMU.
if command -v "$QEMU" >/dev/null 2>&1; then
	for wl in random seq stride chase cow protect compute memloop all; do
		qemu_boot "$tmp/$wl.qemu" 128M "workload=$wl iters=$ITERS"
		check "$wl: QEMU exit status" "$status" -eq 1
		# hv's output file may lack QEMU's \r; compare the lines themselves
		tr -d '\r' <"$tmp/$wl.qemu" >"$tmp/$wl.q"
		if [ -s "$tmp/$wl.q" ] && cmp -s "$tmp/$wl.q" "$tmp/$wl.out"; then
			pass
		else
			fail "$wl: guest lines differ between hv and QEMU"
			diff "$tmp/$wl.q" "$tmp/$wl.out" | head -10 >&2
		fi
	done
else
	echo "run_test: $QEMU not found, skipping the QEMU comparison" >&2
fi

tl_finish
