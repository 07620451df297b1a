#!/bin/sh
# tests/kvm_lane_test.sh - the KVM backend on SVM with nested paging: hv runs
# inside a Debian kernel booted under QEMU TCG (scripts/kvm-lane), and each
# probe guest and guest workload below prints, there, exactly the serial
# output it prints on the software vCPU here, and stops with the same status.
# The IOMMU workloads (edu behind hv's VT-d unit) among them, and edu passed
# through (its register page a memory slot, the device a thread of hv's);
# edu's DMA to ROM, emulated and passed through.
# ACPI S3 resumes on KVM as on the software vCPU (the vCPU reset, then
# started at the FACS waking vector). String I/O and MOVS between devices
# and RAM never touched, which KVM emulates, copying the RAM operand itself,
# land the same bytes as on the software vCPU, eager and lazy, on both kernels.
# KVM's paravirtual clock is not offered (hv's hypervisor leaf; its MSRs
# raise #GP), eager and lazy, on both kernels; a HLT skipped to a timer's
# deadline moves the guest's TSC on with it, on both kernels.
# Lazy RAM (userfaultfd) maps the same frames at first touch as the software
# vCPU; dirty tracking's write-protect log (userfaultfd) and KVM's dirty log
# agree; SIGTERM stops a guest inside KVM_RUN, eager and lazy; hv bench's
# kvm-uffd and kvm-boot run there and print their figures to the log.
# The lane's kernel is Debian 12's (6.1): first touches reach hv through a
# handler thread. A second boot, of Debian 11's kernel (5.10), runs every
# case and extra again, where hv has no userfaultfd write-protection of
# memfd pages, no TSC offset attribute and no binary statistics. A third,
# shorter boot of Debian 12's backports kernel (6.12, userfaultfd poison)
# runs the lazy cases again, with first touches taken in the vCPU's own
# thread, and once more through the handler thread (HV_KVM_LAZY=thread);
# the same output and frames as the software vCPU.
#
# HV_KUT_DIR=DIR (a built kvm-unit-tests tree) adds its x86/s3.flat.
# Runs when HV_KVM_LANE=1, or when the lane's packages are already in its
# cache (then no network is used); HV_KVM_LANE=0 turns it off.  Exit 77
# (skip), saying why, when the lane cannot be had or does not boot in time.
# The bullseye and backports boots run under the same rule (their kernel
# cached, or HV_KVM_LANE=1); when one cannot be had, the test says so and
# goes on.
set -u

HV=${HV:-./hv/hv}
LANE=${srcdir:-.}/scripts/kvm-lane
. "${srcdir:-.}/tests/testlib.sh"
tl_init kvm_lane_test

tl_need "$HV"
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/hv-kvm-lane
case "${HV_KVM_LANE:-}" in
0) echo "kvm_lane_test: HV_KVM_LANE=0, skipping" >&2; exit 77 ;;
1) ;;
*)
	if ! ls "$CACHE"/linux-image-*-amd64_*.deb "$CACHE"/busybox-static_*.deb >/dev/null 2>&1; then
		echo "kvm_lane_test: the lane's packages are not in $CACHE; HV_KVM_LANE=1 fetches them, skipping" >&2
		exit 77
	fi
	;;
esac
if HV_KVM_DEVICE=$tmp/none "$HV" run --backend kvm tests/guests/probe-mmio.elf 2>&1 </dev/null |
	grep -q "without the KVM backend"; then
	echo "kvm_lane_test: this hv was built without the KVM backend, skipping" >&2
	exit 77
fi

# NAME|hv run options (paths under the build directory; the lane's /g holds
# the same files by their base names).
cat >"$tmp/cases" <<'CASES'
probe-mmio|--memory 16M tests/guests/probe-mmio.elf
probe-forbidden|--memory 16M tests/guests/probe-forbidden.elf
probe-ud|--memory 16M tests/guests/probe-ud.elf
probe-triple|--memory 16M tests/guests/probe-triple.elf
probe-dirty|--memory 16M tests/guests/probe-dirty.elf
probe-rom|--memory 16M --rom tests/guests/probe-rom.rom tests/guests/probe-rom.elf
apic|--memory 16M tests/guests/apic.elf
compute|--memory 128M guest/guest.elf --append "workload=compute iters=20000"
memloop|--memory 128M guest/guest.elf --append "workload=memloop iters=20000"
protect|--memory 128M guest/guest.elf --append "workload=protect iters=20000"
random|--memory 128M guest/guest.elf --append "workload=random iters=3000 footprint=256K"
seq|--memory 128M guest/guest.elf --append "workload=seq iters=5000 footprint=256K"
stride|--memory 128M guest/guest.elf --append "workload=stride iters=2000 footprint=512K stride=4096"
chase|--memory 128M guest/guest.elf --append "workload=chase iters=2000 footprint=64K"
cow|--memory 128M guest/guest.elf --append "workload=cow"
dma|--edu --memory 128M guest/guest.elf --append "workload=dma"
viommu|--edu --memory 128M guest/guest.elf --append "workload=viommu"
dma-attack|--edu --memory 128M guest/guest.elf --append "workload=dma-attack"
pt-dma|--passthrough separate --memory 128M guest/guest.elf --append "workload=dma"
pt-attack|--passthrough shared --memory 128M guest/guest.elf --append "workload=dma-attack"
lazy-dirty|--mem-policy lazy --memory 16M tests/guests/probe-dirty.elf
lazy-random|--mem-policy lazy --memory 128M guest/guest.elf --append "workload=random iters=3000 footprint=256K"
lazy-random-2m|--mem-policy lazy --ept-page 2M --memory 128M guest/guest.elf --append "workload=random iters=3000 footprint=1M"
lazy-apic|--mem-policy lazy --memory 16M tests/guests/apic.elf
lazy-timer|--mem-policy lazy --memory 16M tests/guests/timer-touch.elf
lazy-rom|--mem-policy lazy --memory 16M --rom tests/guests/probe-rom.rom tests/guests/probe-rom.elf
s3|--memory 128M tests/guests/s3.elf
dma-rom|--edu --memory 16M --rom tests/guests/probe-rom.rom@0x2000000 tests/guests/dma-rom.elf
pt-dma-rom|--passthrough separate --memory 16M --rom tests/guests/probe-rom.rom@0x2000000 tests/guests/dma-rom.elf
lazy-s3|--mem-policy lazy --memory 128M tests/guests/s3.elf
string-io|--memory 16M tests/guests/string-io.elf
lazy-string-io|--mem-policy lazy --memory 16M tests/guests/string-io.elf
lazy-string-io-2m|--mem-policy lazy --ept-page 2M --memory 16M tests/guests/string-io.elf
sti-hlt|--memory 16M tests/guests/sti-hlt.elf
lazy-sti-hlt|--mem-policy lazy --memory 16M tests/guests/sti-hlt.elf
hlt-user|--memory 16M tests/guests/hlt-user.elf
lazy-hlt-user|--mem-policy lazy --memory 16M tests/guests/hlt-user.elf
pvclock|--memory 16M tests/guests/pvclock.elf
lazy-pvclock|--mem-policy lazy --memory 16M tests/guests/pvclock.elf
tsc-skip|--memory 16M tests/guests/tsc-skip.elf
lazy-tsc-skip|--mem-policy lazy --memory 16M tests/guests/tsc-skip.elf
CASES
# kvm-unit-tests' s3 with its arguments, when HV_KUT_DIR names a built tree
# (about a minute in the lane and on the software vCPU each).
FILES=
S3CASES="s3 lazy-s3"
if [ -n "${HV_KUT_DIR:-}" ]; then
	if [ -f "$HV_KUT_DIR/x86/s3.flat" ]; then
		echo "kut-s3|--bios-state --memory 256M $HV_KUT_DIR/x86/s3.flat" >>"$tmp/cases"
		FILES="--file $HV_KUT_DIR/x86/s3.flat"
		S3CASES="$S3CASES kut-s3"
	else
		echo "kvm_lane_test: no x86/s3.flat under HV_KUT_DIR=$HV_KUT_DIR" >&2
	fi
fi
# Commands after the cases: SIGTERM two seconds after a guest that never
# exits to hv printed its first line (eager and lazy RAM; counted from the
# guest's output, not from hv's start, which under TCG on a loaded host can
# take longer than any fixed delay), the KVM benchmarks, the dirty probe
# without userfaultfd write-protection, and tsc-skip with the guest's TSC
# moved by IA32_TSC writes (as before Linux 5.16) where the kernel has the
# vCPU's TSC offset.
LONG='--memory 128M guest.elf --append "workload=compute iters=100000000000"'
cat >"$tmp/extras" <<EXTRAS
@2 run $LONG
@2 run --mem-policy lazy $LONG
bench --quick --guest guest.elf kvm-uffd kvm-boot
HV_KVM_UFFD_WP=0 run --memory 16M probe-dirty.elf
HV_KVM_TSC_OFFSET=0 run --memory 16M tsc-skip.elf
EXTRAS

# run_lane OUT ERR ARGS...: scripts/kvm-lane ARGS, its output in OUT and
# ERR, its status in rc. A boot whose kernel died before the lane's init ran
# (its first line, "=== lane: kvm ...", never came) says nothing about hv:
# under TCG the emulated kernel has, once in a while, taken a general
# protection fault in text_poke_early while it started. Such a boot is
# tried once more, and the log says so; a panic after init is hv's or
# KVM's and fails the test as any other.
run_lane() {
	lane_out=$1
	lane_err=$2
	shift 2
	for lane_try in 1 2; do
		sh "$LANE" "$@" >"$lane_out" 2>"$lane_err"
		rc=$?
		if [ $rc -ne 1 ] || [ $lane_try -eq 2 ] || grep -q '=== lane: ' "$lane_out" ||
			! grep -q 'Kernel panic' "$lane_out"; then
			return 0
		fi
		echo "kvm_lane_test: the lane's kernel died before its init ran; booting it again:" >&2
		grep -a -m3 -e 'Oops' -e 'RIP:' -e 'Kernel panic' "$lane_out" >&2
	done
}

set --
while IFS='|' read -r name args; do
	set -- "$@" "run $(echo "$args" | sed -e 's#[^ ]*/\([^ /]*\.elf\)#\1#' \
		-e 's#[^ ]*/\([^ /]*\.rom\)#\1#' -e 's#[^ ]*/\([^ /]*\.flat\)#\1#')"
done <"$tmp/cases"
while read -r c; do
	set -- "$@" "$c"
done <"$tmp/extras"
# shellcheck disable=SC2086 # FILES is --file PATH, or empty
run_lane "$tmp/kvm.lane" "$tmp/kvm.err" --build . --kernel stable \
	--timeout "${HV_KVM_LANE_TIMEOUT:-300}" $FILES "$@"
case $rc in
0) ;;
77 | 3)
	echo "kvm_lane_test: skipping: $(cat "$tmp/kvm.err")" >&2
	exit 77 ;;
*)
	cat "$tmp/kvm.lane" "$tmp/kvm.err" >&2
	fail "the lane did not run its commands (status $rc)"
	tl_finish
	exit 1 ;;
esac

# The software vCPU's run of each case, on this host: what every boot's
# runs are compared with.
while IFS='|' read -r name args; do
	# kvm-unit-tests' s3 spins for a guest second on the software vCPU
	# (about 42 s of CPU, minutes under load).
	limit=120
	[ "$name" = kut-s3 ] && limit=900
	eval "timeout $limit \"\$HV\" run --backend soft $args" >"$tmp/$name.soft.stdout" \
		2>"$tmp/$name.soft.stderr" </dev/null
	echo "status $?" >"$tmp/$name.soft.status"
	cat "$tmp/$name.soft.stdout" >"$tmp/$name.soft.out"
done <"$tmp/cases"

# Helpers of the checks below.
# viol FILE: the EPT-violation exits of a text report.
viol() { sed -n 's/^  ept_violation  *\([0-9]*\)$/\1/p' "$1"; }
# dirty_logs NAME BOOT PAGES KERNEL: the report $tmp/NAME.BOOT.stderr (BOOT
# kvm: the Linux 6.1 boot; k510: the 5.10 one; bpo: the 6.12 one) has hv's write-protect log and
# KVM's dirty log each at PAGES pages and agreeing, and the EPT-violation
# exits of the software vCPU's run; on Linux 5.10, KVM's dirty log alone.
dirty_logs() {
	if [ "$4" = 5.10 ]; then
		check "$1 (Linux $4): the write-protect log is not kept, and why" \
			"$(grep -c "^  write-protect log  *not kept: this kernel cannot write-protect memfd pages (Linux 5.19)$" "$tmp/$1.$2.stderr")" -eq 1
		got=$(sed -n 's/^  dirty log  *\([0-9]*\) pages$/\1/p' "$tmp/$1.$2.stderr")
		check "$1 (Linux $4): KVM's dirty log holds the $3 pages written (got '$got')" "${got:-0}" -ge $3
		expect_eq "$1 (Linux $4): first-touch EPT violations vs soft" \
			"$(grep '^  lazy_map ' "$tmp/$1.$2.stderr")" "$(grep '^  lazy_map ' "$tmp/$1.soft.stderr")"
		return
	fi
	for line in "  write-protect log  *$3 pages" "  dirty log  *$3 pages" '  sets agree  *yes'; do
		check "$1 (Linux $4): '$line'" "$(grep -c "^$line\$" "$tmp/$1.$2.stderr")" -eq 1
	done
	expect_eq "$1 (Linux $4): EPT-violation exits vs soft" "$(viol "$tmp/$1.$2.stderr")" \
		"$(viol "$tmp/$1.soft.stderr")"
}
# frames NAME.BOOT: the frames mapped at first touch, as the text report
# (on standard error) says.
frames() { grep '^  frames mapped on demand ' "$tmp/$1.stderr"; }
# strio FILE: the guest's lines that carry what the instructions moved, with
# paging off and on (each of the five twice) and under dirty tracking (two
# more), and its last line.
strio() {
	grep -c -e '^string-io: paging on (4 MiB pages), linear 0x40200000 at 0x600000$' \
		-e '^string-io: dirty tracking on$' \
		-e '^string-io: rep insb over the first signature, ram 01000000$' \
		-e '^string-io: rep outsb from fresh RAM, scratch 5a 00$' \
		-e '^string-io: rep insb into fresh RAM, signature QEMU$' \
		-e '^string-io: rep insb into fresh RAM, ram 00000000 01000000$' \
		-e '^string-io: movsl from the HPET into fresh RAM, capabilities 8086a201$' \
		-e '^string-io: movsl from fresh RAM into the HPET, configuration 00000001 00000000$' \
		-e '^string-io: done$' "$1"
}
# path FILE: how first touches reached hv, as the text report says.
path() { sed -n 's/^  first touches reach hv //p' "$1"; }
# block N: block N of the boot's output (the extras come after the cases).
block() {
	awk -v n="$1" '/^=== lane: hv /{k++; next} /^=== lane: status /{if (k == n) print; next}
		k == n {print}' "$tmp/$B.lane"
}

# boot_checks B V P: the checks of a boot that ran the cases and the extras,
# its output in $tmp/B.lane, its files named $tmp/NAME.B.*, on Linux V; P
# begins each check's name.
boot_checks() {
	B=$1
	LV=$2
	P=$3
	expect_eq "${P}the lane has /dev/kvm with nested paging" \
		"$(grep -c '=== lane: kvm npt=Y$' "$tmp/$B.lane")" 1

	i=0
	while IFS='|' read -r name args; do
		i=$((i + 1))
		# Block i of the lane: standard output, standard error, status.
		awk -v n=$i '/^=== lane: hv /{k++; part = "out"; next}
			/^=== lane: stderr$/{part = "err"; next}
			/^=== lane: status /{if (k == n) print "status " $4 > "/dev/stderr"; part = ""; next}
			k == n && part == "out" {print}' "$tmp/$B.lane" >"$tmp/$name.$B.stdout" \
			2>"$tmp/$name.$B.status"
		awk -v n=$i '/^=== lane: hv /{k++; part = ""; next}
			/^=== lane: stderr$/{part = "err"; next}
			/^=== lane: status /{part = ""; next}
			k == n && part == "err" {print}' "$tmp/$B.lane" >"$tmp/$name.$B.stderr"
		cat "$tmp/$name.$B.stdout" >"$tmp/$name.$B.out"

		expect_eq "$P$name: exit status in the lane vs soft" "$(cat "$tmp/$name.$B.status")" \
			"$(cat "$tmp/$name.soft.status")"
		check "$P$name: the guest printed something" -s "$tmp/$name.soft.out"
		if cmp -s "$tmp/$name.soft.out" "$tmp/$name.$B.out"; then
			pass
		else
			fail "$P$name: the serial output differs between soft and the lane's kvm"
			diff "$tmp/$name.soft.out" "$tmp/$name.$B.out" | head -5 >&2
		fi
		# The stop line, and on a difference what hv said of the lane's stop
		# (the line after it), so that a log says why.
		got=$(grep -m1 '^Stop:' "$tmp/$name.$B.stderr")
		want=$(grep -m1 '^Stop:' "$tmp/$name.soft.stderr")
		if [ "$got" = "$want" ]; then
			pass
		else
			fail "$P$name: the stop line: got '$got', want '$want'; in the lane:" \
				"$(grep -A1 -m1 '^Stop:' "$tmp/$name.$B.stderr" | sed -n 2p)"
		fi
		check "$P$name: the text report is on standard error" \
			-n "$(grep -m1 '^Stop:' "$tmp/$name.soft.stderr")"
		check "$P$name: ran on the kvm vCPU" \
			"$(grep -c '^== hv run .* kvm vCPU$' "$tmp/$name.$B.stderr")" -eq 1
	done <"$tmp/cases"

	# ROM as a read-only memory slot: the three writes dropped, counted as the
	# software vCPU counts them; KVM gives no exit qualification, and says so.
	for name in probe-rom lazy-rom; do
		for line in '  writes to ROM ' '  rom  '; do
			expect_eq "$P$name: '$line' in the lane vs soft" \
				"$(grep "^$line" "$tmp/$name.$B.stderr")" "$(grep "^$line" "$tmp/$name.soft.stderr")"
		done
		# The ROM's place, size and writes (the file is named by another path there).
		expect_eq "$P$name: the ROM line in the lane vs soft" \
			"$(grep -o 'probe-rom.rom at .*' "$tmp/$name.$B.stderr")" \
			"$(grep -o 'probe-rom.rom at .*' "$tmp/$name.soft.stderr")"
		check "$P$name: three writes in the lane" "$(grep -c '^  writes to ROM  *3$' "$tmp/$name.$B.stderr")" -eq 1
		check "$P$name: no qualification from KVM" \
			"$(grep -c '^    exit qualification not reported: KVM' "$tmp/$name.$B.stderr")" -eq 1
	done

	# ACPI S3 on KVM: the vCPU reset and started at the FACS waking vector, as
	# on the software vCPU (the same serial lines above); the Sleep section says
	# so alike. The time asleep differs: the guest's time is the host's there.
	for name in $S3CASES; do
		for line in '  slept and resumed ' '  resumed in '; do
			expect_eq "$P$name: '$line' in the lane vs soft" \
				"$(grep "^$line" "$tmp/$name.$B.stderr")" "$(grep "^$line" "$tmp/$name.soft.stderr")"
		done
		check "$P$name: slept and resumed once in the lane" \
			"$(grep -c '^  slept and resumed  *1$' "$tmp/$name.$B.stderr")" -eq 1
	done

	# edu's DMA to ROM: the device reads it and its write is dropped by the ROM
	# (emulated edu) or refused by hv's unit with fault reason 0x5 (passed
	# through, the device on a thread of its own), as on the software vCPU.
	for name in dma-rom pt-dma-rom; do
		for line in '  writes dropped at ROM ' '  refused by the IOMMU ' '    reason 0x5 ' '    fault 0: '; do
			expect_eq "$P$name: '$line' in the lane vs soft" \
				"$(grep "^$line" "$tmp/$name.$B.stderr")" "$(grep "^$line" "$tmp/$name.soft.stderr")"
		done
	done
	check "${P}pt-dma-rom: fault reason 0x5 in the lane" \
		"$(grep -c '^    fault 0: 00:03.0 write page 0x2000000, reason 0x5 (write without W)$' "$tmp/pt-dma-rom.$B.stderr")" -eq 1
	check "${P}dma-rom: the write dropped at the ROM in the lane" \
		"$(grep -c '^  writes dropped at ROM  *1$' "$tmp/dma-rom.$B.stderr")" -eq 1

	# A forbidden GPA: the same first diagnostic line.
	expect_eq "${P}probe-forbidden: the same diagnostic" \
		"$(grep -m1 "neither RAM" "$tmp/probe-forbidden.$B.stderr")" \
		"$(grep -m1 "neither RAM" "$tmp/probe-forbidden.soft.stderr")"
	# The workloads finished and said so.
	for wl in compute memloop protect random seq stride chase cow dma viommu dma-attack; do
		check "$P$wl: RESULT ok in the lane" "$(grep -c "^RESULT $wl ok" "$tmp/$wl.$B.out")" -eq 1
	done
	for name in pt-dma pt-attack; do
		wl=$(sed -n "s/^$name|.*workload=\([a-z-]*\).*/\1/p" "$tmp/cases")
		check "$P$name: RESULT $wl ok in the lane" "$(grep -c "^RESULT $wl ok" "$tmp/$name.$B.out")" -eq 1
		# The device saw the same register writes, sent the same MSIs, and
		# the guest's accesses to its registers did not exit.
		for line in '  register writes seen ' '  MSIs sent ' '  register reads (exits) ' \
			'  register writes (exits) ' "hv's canary at HPA "; do
			expect_eq "$P$name: '$line' in the lane vs soft" \
				"$(grep "^$line" "$tmp/$name.$B.stderr")" "$(grep "^$line" "$tmp/$name.soft.stderr")"
		done
	done
	check "${P}pt-dma: no exits for edu's registers in the lane" \
		"$(grep -c '^  register \(reads\|writes\) (exits)  *0$' "$tmp/pt-dma.$B.stderr")" -eq 4
	# hv's EPT map beside KVM's own statistics: 128 MiB of eager 4 KiB RAM.
	check "${P}compute: hv's EPT map in the lane's report" \
		"$(grep -c "^  hv's EPT map, which the kvm memory follows: leaves 4 KiB 32768, 2 MiB 0, 1 GiB 0$" "$tmp/compute.$B.stderr")" -eq 1

	# Dirty tracking with userfaultfd write-protection (Linux 6.1 has it for
	# memfd pages): each first write reached hv's handler as on the software
	# vCPU, the write-protect log holds the 64 pages the probe wrote, and so does
	# KVM's dirty log (eager and lazy RAM). Linux 5.10 has no write-protection
	# for memfd pages (5.19): KVM's dirty log is the only record, holding at
	# least the pages written, the report says why, and only the first touches
	# of lazy RAM reach hv.
	for name in probe-dirty lazy-dirty; do
		dirty_logs $name $B 64 $LV
	done

	# Lazy RAM: every first touch reached hv (through userfaultfd in the lane),
	# the same frames as on the software vCPU, mapped the same way.
	for name in lazy-dirty lazy-random lazy-random-2m lazy-apic lazy-timer lazy-string-io \
		lazy-string-io-2m; do
		expect_eq "$P$name: frames mapped on demand, in the lane vs soft" "$(frames $name.$B)" \
			"$(frames $name.soft)"
	done
	# String I/O and MOVS with a device on the other side: KVM emulates them and
	# copies the RAM operand itself; the bytes the guest reads back are the
	# device's (the soft runs print the same, compared above).
	for name in string-io lazy-string-io lazy-string-io-2m; do
		check "$P$name: the bytes each instruction moved, in the lane" "$(strio "$tmp/$name.$B.out")" -eq 15
		# The writes under dirty tracking, KVM's own among them (hv made them
		# for KVM and adds them to KVM's dirty log): six pages, as on soft.
		dirty_logs $name $B 6 $LV
	done
	check "${P}lazy-string-io: 21 first touches" \
		"$(frames lazy-string-io.$B | grep -c '^  frames mapped on demand  *25 (21 lazily, 4 by the loader)$')" -eq 1
	# A timer due while hv maps first touches reaches the guest then (hv kicks
	# it out of KVM_RUN at the event's time), as on the software vCPU.
	# STI; HLT with an interrupt pending, the HLT's page never touched: the
	# interrupt is delivered after the HLT (the lane's emulated SVM drops STI's
	# shadow at the VM entry after the nested page fault, and KVM reports the
	# window open at the HLT itself; hv moves past the HLT before injecting).
	for name in sti-hlt lazy-sti-hlt; do
		check "$P$name: the interrupt came after the HLT in the lane" \
			"$(grep -c '^sti-hlt: the interrupt came after the HLT$' "$tmp/$name.$B.out")" -eq 1
	done
	# The same at CPL 3, where HLT raises #GP: hv must not move past it.
	for name in hlt-user lazy-hlt-user; do
		check "$P$name: the HLT at CPL 3 raised #GP in the lane" \
			"$(grep -c '^hlt-user: the HLT raised #GP(0) at CPL 3, and the interrupt came once$' "$tmp/$name.$B.out")" -eq 1
	done
	# KVM's paravirtual clock is not offered: hv's hypervisor leaf, #GP for
	# each of KVM's clock and steal-time MSRs, and the page given to them never
	# written by KVM (on Linux 6.12 with lazy RAM KVM's write to a poisoned page
	# would be lost without a word); the same first touches as on soft.
	for name in pvclock lazy-pvclock; do
		check "$P$name: no paravirtual clock in the lane" \
			"$(grep -c "^pvclock: no paravirtual clock, every MSR access #GP, the block untouched$" "$tmp/$name.$B.out")" -eq 1
	done
	expect_eq "${P}lazy-pvclock: frames mapped on demand, in the lane vs soft" "$(frames lazy-pvclock.$B)" \
		"$(frames lazy-pvclock.soft)"
	# A HLT skipped to the timer's deadline moves the guest's TSC on with it
	# (the vCPU's TSC offset; KVM swallowed a host IA32_TSC write of less than a
	# second's jump), on both kernels.
	for name in tsc-skip lazy-tsc-skip; do
		check "$P$name: the TSC kept up with the timer in the lane" \
			"$(grep -c "^tsc-skip: the TSC moved on by at least the timer's count, three times$" "$tmp/$name.$B.out")" -eq 1
	done
	check "${P}lazy-timer: the interrupt came during the writes in the lane" \
		"$(grep -c '^timer-touch: the timer interrupt came during the writes$' "$tmp/lazy-timer.$B.out")" -eq 1
	check "${P}lazy-dirty: 80 first touches" \
		"$(frames lazy-dirty.$B | grep -c '^  frames mapped on demand  *84 (80 lazily, 4 by the loader)$')" -eq 1
	# Linux 6.1 and 5.10 cannot poison pages: the handler thread, and the
	# report says so.
	for name in lazy-dirty lazy-random lazy-timer lazy-string-io lazy-string-io-2m; do
		expect_eq "$P$name: first touches on Linux $LV" "$(path "$tmp/$name.$B.stderr")" \
			"through a handler thread (userfaultfd)"
	done
	check "${P}soft: no first-touch path line (the vCPU meets them itself)" \
		"$(grep -c '^  first touches reach hv' "$tmp/lazy-random.soft.stderr")" -eq 0

	# The extras, after the cases.
	n=$(wc -l <"$tmp/cases")
	for k in 1 2; do
		block $((n + k)) >"$tmp/sig$k.out"
		ram=$([ $k = 1 ] && echo eager || echo lazy)
		check "${P}SIGTERM ($ram RAM): the VM stopped for it with status 143" \
			"$(grep -c '^Stop:  *signal, exit status 143$' "$tmp/sig$k.out")" -eq 1
		check "${P}SIGTERM ($ram RAM): the stop names the RIP" \
			"$(grep -c 'stopped by SIGTERM at RIP 0x[0-9a-f]* (the kvm vCPU left the guest for it)' "$tmp/sig$k.out")" -ge 1
		grep -q '^Stop:  *signal, exit status 143$' "$tmp/sig$k.out" || head -20 "$tmp/sig$k.out" >&2
	done
	block $((n + 3)) >"$tmp/bench.out"
	expect_eq "${P}bench in the lane: status" "$(sed -n 's/^=== lane: status //p' "$tmp/bench.out")" 0
	check "${P}bench kvm-uffd in the lane: a round trip figure" \
		"$(grep -c 'round trip [0-9.]* us (lazy [0-9.]* ms - eager [0-9.]* ms over [0-9]* faults a run)' "$tmp/bench.out")" -eq 1
	check "${P}bench kvm-boot in the lane: KVM and soft times" \
		"$(grep -c 'boot to exit: KVM [0-9.]* ms, soft vCPU [0-9.]* ms a run' "$tmp/bench.out")" -eq 1
	# Without write-protection (HV_KVM_UFFD_WP=0) KVM's dirty log is the only
	# record, and holds at least the 64 pages written: SVM with nested paging
	# logs 80 here, the 16 pages the probe only reads too (a read fault maps a
	# writable page writable), see docs/kvm.md.
	block $((n + 4)) >"$tmp/nowp.out"
	check "${P}no uffd-wp: the write-protect log is not kept" \
		"$(grep -c '^  write-protect log  *not kept: turned off (HV_KVM_UFFD_WP=0)$' "$tmp/nowp.out")" -eq 1
	dirty=$(sed -n 's/^  dirty log  *\([0-9]*\) pages$/\1/p' "$tmp/nowp.out")
	check "${P}no uffd-wp: KVM's dirty log holds the 64 pages written (got '$dirty')" "${dirty:-0}" -ge 64
	# A HLT skipped by less than a second reaches the guest's TSC through two
	# IA32_TSC writes too (KVM took one such write for a vCPU synchronization).
	block $((n + 5)) >"$tmp/tscmsr.out"
	check "${P}HV_KVM_TSC_OFFSET=0: the TSC kept up with the timer in the lane" \
		"$(grep -c "^tsc-skip: the TSC moved on by at least the timer's count, three times$" "$tmp/tscmsr.out")" -eq 1
	# KVM's own statistics: Linux 5.14 and later have them, and the report says
	# when the kernel has none.
	if [ "$LV" = 5.10 ]; then
		check "${P}compute (Linux $LV): the report says why KVM's statistics are missing" \
			"$(grep -c '^  not available: this kernel has no KVM_GET_STATS_FD (Linux 5.14)$' "$tmp/compute.$B.stderr")" -eq 1
	else
		check "${P}compute (Linux $LV): KVM's statistics in the report" \
			"$(grep -c '^  vcpu exits  *[0-9]*$' "$tmp/compute.$B.stderr")" -eq 1
	fi
	echo "kvm_lane_test: figures in the lane (Linux $LV, SVM+NPT under TCG):" >&2
	grep -E 'round trip|boot to exit' "$tmp/bench.out" >&2
}
boot_checks kvm 6.1 ""

# Debian 11's kernel (Linux 5.10): every case and extra again. It has no
# userfaultfd write-protection of memfd pages, no TSC offset attribute and
# no binary statistics, and the checks above expect what hv does then. It
# runs under the same rule as the first boot (its kernel cached, or
# HV_KVM_LANE=1); when it cannot be had, the test says so and goes on.
k510_ok=yes
if [ "${HV_KVM_LANE:-}" != 1 ] && ! ls "$CACHE"/bullseye/linux-image-*-amd64_*.deb >/dev/null 2>&1; then
	echo "kvm_lane_test: the bullseye kernel is not in $CACHE/bullseye; HV_KVM_LANE=1 fetches it" >&2
	k510_ok=no
fi
if [ $k510_ok = yes ]; then
	# shellcheck disable=SC2086 # FILES is --file PATH, or empty
	run_lane "$tmp/k510.lane" "$tmp/k510.err" --build . --kernel bullseye \
		--timeout "${HV_KVM_LANE_TIMEOUT:-300}" $FILES "$@"
	case $rc in
	0) boot_checks k510 5.10 "Linux 5.10: " ;;
	77 | 3)
		echo "kvm_lane_test: the bullseye boot was skipped: $(cat "$tmp/k510.err")" >&2 ;;
	*)
		cat "$tmp/k510.lane" "$tmp/k510.err" >&2
		fail "the bullseye lane did not run its commands (status $rc)" ;;
	esac
fi

# The backports kernel (Linux 6.12): first touches in the vCPU's own thread.
BPO="lazy-dirty lazy-random lazy-random-2m lazy-apic lazy-timer lazy-rom lazy-s3 lazy-string-io
	lazy-string-io-2m lazy-sti-hlt lazy-hlt-user lazy-pvclock lazy-tsc-skip"
bpo_ok=yes
if [ "${HV_KVM_LANE:-}" != 1 ] && ! ls "$CACHE"/backports/linux-image-*-amd64_*.deb >/dev/null 2>&1; then
	echo "kvm_lane_test: the backports kernel is not in $CACHE/backports; HV_KVM_LANE=1 fetches it" >&2
	bpo_ok=no
fi
if [ $bpo_ok = yes ]; then
	set --
	for name in $BPO; do
		args=$(sed -n "s/^$name|//p" "$tmp/cases")
		set -- "$@" "run $(echo "$args" | sed -e 's#[^ ]*/\([^ /]*\.elf\)#\1#' \
			-e 's#[^ ]*/\([^ /]*\.rom\)#\1#')"
	done
	args=$(sed -n 's/^lazy-random|//p' "$tmp/cases" | sed -e 's#[^ ]*/\([^ /]*\.elf\)#\1#')
	set -- "$@" "HV_KVM_LAZY=thread run $args" "@2 run --mem-policy lazy $LONG"
	run_lane "$tmp/bpo.out" "$tmp/bpo.err" --build . --kernel backports \
		--timeout "${HV_KVM_LANE_TIMEOUT:-300}" "$@"
	case $rc in
	0) ;;
	77 | 3)
		echo "kvm_lane_test: the backports boot was skipped: $(cat "$tmp/bpo.err")" >&2
		bpo_ok=no ;;
	*)
		cat "$tmp/bpo.out" "$tmp/bpo.err" >&2
		fail "the backports lane did not run its commands (status $rc)"
		bpo_ok=no ;;
	esac
fi
if [ $bpo_ok = yes ]; then
	# bblock N PART: block N of the backports boot, its "out" or "err" part,
	# or its status line (PART status).
	bblock() {
		awk -v n="$1" -v want="$2" '/^=== lane: hv /{k++; part = "out"; next}
			/^=== lane: stderr$/{part = "err"; next}
			/^=== lane: status /{if (k == n && want == "status") print $4; part = ""; next}
			k == n && part == want {print}' "$tmp/bpo.out"
	}
	i=0
	for name in $BPO; do
		i=$((i + 1))
		bblock $i out >"$tmp/$name.bpo.out"
		bblock $i err >"$tmp/$name.bpo.stderr"
		expect_eq "$name (Linux 6.12): exit status vs soft" "status $(bblock $i status)" \
			"$(cat "$tmp/$name.soft.status")"
		if cmp -s "$tmp/$name.soft.out" "$tmp/$name.bpo.out"; then
			pass
		else
			fail "$name (Linux 6.12): the serial output differs from soft's"
			diff "$tmp/$name.soft.out" "$tmp/$name.bpo.out" | head -5 >&2
		fi
		expect_eq "$name (Linux 6.12): frames mapped on demand vs soft" \
			"$(frames $name.bpo)" "$(frames $name.soft)"
		expect_eq "$name (Linux 6.12): first touches in the vCPU's thread" \
			"$(path "$tmp/$name.bpo.stderr")" "in the vCPU's thread (poisoned pages: KVM's SIGBUS)"
	done
	dirty_logs lazy-dirty bpo 64 6.12
	check "lazy-tsc-skip (Linux 6.12): the TSC kept up with the timer" \
		"$(grep -c "^tsc-skip: the TSC moved on by at least the timer's count, three times$" "$tmp/lazy-tsc-skip.bpo.out")" -eq 1
	check "lazy-timer (Linux 6.12): the interrupt came during the writes" \
		"$(grep -c '^timer-touch: the timer interrupt came during the writes$' "$tmp/lazy-timer.bpo.out")" -eq 1
	# KVM's own copies to and from poisoned pages: hv maps each through
	# its handler and does the access KVM could not.
	for name in lazy-string-io lazy-string-io-2m; do
		check "$name (Linux 6.12): the bytes each instruction moved" \
			"$(strio "$tmp/$name.bpo.out")" -eq 15
		dirty_logs $name bpo 6 6.12
	done
	i=$((i + 1))
	bblock $i err >"$tmp/thread.bpo.stderr"
	expect_eq "HV_KVM_LAZY=thread (Linux 6.12): the handler thread" \
		"$(path "$tmp/thread.bpo.stderr")" "through a handler thread (userfaultfd)"
	expect_eq "HV_KVM_LAZY=thread (Linux 6.12): frames mapped on demand vs soft" \
		"$(frames thread.bpo)" "$(frames lazy-random.soft)"
	check "HV_KVM_LAZY=thread (Linux 6.12): RESULT ok" \
		"$(bblock $i out | grep -c '^RESULT random ok')" -eq 1
	i=$((i + 1))
	check "SIGTERM (lazy RAM, Linux 6.12): the VM stopped for it with status 143" \
		"$(bblock $i err | grep -c '^Stop:  *signal, exit status 143$')" -eq 1
fi

tl_finish
