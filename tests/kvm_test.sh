#!/bin/sh
# tests/kvm_test.sh - the KVM backend on real KVM, against the software vCPU:
#
#  - clear errors: no device node, --max-insns (which needs instruction
#    counts the KVM backend lacks);
#  - where /dev/kvm can be opened: each probe guest and each guest workload
#    below prints the same serial output and stops with the same reason and
#    status on both backends, a forbidden GPA is reported at the same GPA,
#    and the MMIO and port exits the guest caused are counted the same;
#  - the report under KVM: no model counts, KVM's own statistics; SIGTERM;
#  - dirty tracking: KVM's dirty log, and the write-protect log kept through
#    userfaultfd, against the software backend's sets;
#  - lazy RAM (userfaultfd): the same guests with --mem-policy lazy, and the
#    frames mapped at first touch counted exactly as on the software vCPU;
#  - the IOMMU workloads (edu behind hv's VT-d unit): the same DMA, unit and
#    canary counts; edu passed through (its register page a memory slot,
#    the device on a thread of its own) likewise;
#  - string I/O and MOVS between devices and RAM never touched (KVM copies
#    the RAM operand itself), eager and lazy; STI; HLT with an interrupt
#    pending and the HLT on a fresh page (not on kvm_pvm);
#  - on kvm_pvm hosts (KVM emulates each guest instruction) KVM's emulation
#    counts equal the software vCPU's instruction and exception counts.
#
# Exit 77 (skip), saying why, when this host cannot run KVM.
set -u

HV=${HV:-./hv/hv}
GUEST=${GUEST:-./guest/guest.elf}
PROBES=${PROBES:-./tests/guests}
. "${srcdir:-.}/tests/testlib.sh"
tl_init kvm_test

tl_need "$HV"

# The error paths run everywhere the backend is built.
HV_KVM_DEVICE=$tmp/no-such-device "$HV" run --backend kvm "$PROBES/probe-mmio.elf" \
	>"$tmp/nodev.out" 2>"$tmp/nodev.err" </dev/null
expect_eq "missing device: usage status" "$?" 2
if grep -q "without the KVM backend" "$tmp/nodev.err"; then
	echo "kvm_test: this hv was built without the KVM backend, skipping" >&2
	exit 77
fi
check "missing device: the message names the device and the cause" \
	"$(grep -c "no-such-device does not exist: this host has no KVM" "$tmp/nodev.err")" -eq 1

# jget FILE KEY: the first scalar member KEY of the JSON report.
jget() { sed -n "s/^ *\"$2\": \\([^,]*\\),\\{0,1\\}\$/\\1/p" "$1" | head -1; }
# jobj FILE OBJECT: the lines of the top-level object OBJECT.
jobj() { sed -n "/^  \"$2\": {/,/^  }/p" "$1"; }
# jsec FILE OBJECT KEY: the scalar member KEY of the top-level object OBJECT.
jsec() { sed -n "/^  \"$2\": {/,/^  }/s/^ *\"$3\": \\([^,]*\\),\\{0,1\\}\$/\\1/p" "$1" | head -1; }

if ! "$HV" run --backend kvm --memory 16M "$PROBES/probe-mmio.elf" >"$tmp/probe.out" 2>"$tmp/probe.err" \
	</dev/null && [ "$?" -ne 1 ]; then
	:
fi
if grep -q "backend cannot run here" "$tmp/probe.err"; then
	echo "kvm_test: KVM cannot run on this host, skipping: $(cat "$tmp/probe.err")" >&2
	tl_finish
	exit 77
fi

"$HV" run --backend kvm --max-insns 100 "$PROBES/probe-mmio.elf" >/dev/null 2>"$tmp/limit.err" </dev/null
expect_eq "--max-insns on KVM: usage status" "$?" 2
check "--max-insns on KVM: says why" "$(grep -c "does not count instructions" "$tmp/limit.err")" -eq 1

# both NAME [hv options...]: run on each backend, compare what the guest did.
both() {
	name=$1
	shift
	for b in soft kvm; do
		timeout 60 "$HV" run --json --backend $b --serial "$tmp/$name.$b.out" "$@" \
			>"$tmp/$name.$b.json" 2>"$tmp/$name.$b.err" </dev/null
		echo $? >"$tmp/$name.$b.status"
	done
	expect_eq "$name: exit status, kvm vs soft" "$(cat "$tmp/$name.kvm.status")" \
		"$(cat "$tmp/$name.soft.status")"
	if cmp -s "$tmp/$name.soft.out" "$tmp/$name.kvm.out"; then
		pass
	else
		fail "$name: the guest's serial output differs between soft and kvm"
		diff "$tmp/$name.soft.out" "$tmp/$name.kvm.out" | head -5 >&2
	fi
	for k in reason mmio_reads mmio_writes; do
		# NOT_COMPARED: counts that differ for a reason the caller checks.
		case " ${NOT_COMPARED:-} " in *" $k "*) continue ;; esac
		expect_eq "$name: $k, kvm vs soft" "$(jget "$tmp/$name.kvm.json" $k)" \
			"$(jget "$tmp/$name.soft.json" $k)"
	done
	expect_eq "$name: the report names the backend" "$(jget "$tmp/$name.kvm.json" backend)" '"kvm"'
}

# lazy NAME [hv options...]: `both` under --mem-policy lazy; each first touch
# of RAM is an EPT violation for hv on both backends (on KVM through
# userfaultfd), so the frames mapped and how must be the same counts.
lazy() {
	name=$1
	shift
	both "$name" --mem-policy lazy "$@"
	for k in lazy_map lazy_frames loader_frames; do
		expect_eq "$name: $k, kvm vs soft" "$(jget "$tmp/$name.kvm.json" $k)" \
			"$(jget "$tmp/$name.soft.json" $k)"
	done
	# First touches and, while dirty tracking, first writes (userfaultfd
	# write-protection on KVM; without it, HV_KVM_UFFD_WP=0, none).
	expect_eq "$name: EPT violations, kvm vs soft" \
		"$(jget "$tmp/$name.kvm.json" ept_violation)" \
		"$(( $(jget "$tmp/$name.soft.json" lazy_map) + ${WP_EXITS:-1} * $(jget "$tmp/$name.soft.json" dirty_log) ))"
	check "$name: frames mapped at first touch" "$(jget "$tmp/$name.kvm.json" lazy_frames)" -gt 0
}

both probe-mmio --memory 16M "$PROBES/probe-mmio.elf"
both probe-forbidden --memory 16M "$PROBES/probe-forbidden.elf"
# The same first line of diagnostic: the GPA, and that it is neither RAM nor a device.
expect_eq "forbidden: the same diagnostic" \
	"$(grep -m1 "neither RAM" "$tmp/probe-forbidden.kvm.err")" \
	"$(grep -m1 "neither RAM" "$tmp/probe-forbidden.soft.err")"
both probe-ud --memory 16M "$PROBES/probe-ud.elf"
# ROM (--rom): on KVM a read-only memory slot over the pool's frames; KVM
# turns each of the probe's three writes into KVM_EXIT_MMIO, which hv drops
# in the handler that drops the software vCPU's EPT violation. The same
# output, writes, violations and first write (but its qualification, which
# KVM does not report, and its RIP).
for p in eager lazy; do
	both probe-rom-$p --memory 16M --mem-policy $p --rom "$PROBES/probe-rom.rom" \
		"$PROBES/probe-rom.elf"
	jobj "$tmp/probe-rom-$p.soft.json" rom | grep -v '"exit_qualification"\|"rip"' \
		>"$tmp/rom-$p.soft"
	jobj "$tmp/probe-rom-$p.kvm.json" rom | grep -v '"exit_qualification"\|"rip"' \
		>"$tmp/rom-$p.kvm"
	check "probe-rom ($p): the ROM section, kvm vs soft" -z \
		"$(cmp "$tmp/rom-$p.soft" "$tmp/rom-$p.kvm" 2>&1)"
	expect_eq "probe-rom ($p): three writes on kvm" "$(jsec "$tmp/probe-rom-$p.kvm.json" rom writes)" 3
	expect_eq "probe-rom ($p): rom violations, kvm vs soft" \
		"$(jsec "$tmp/probe-rom-$p.kvm.json" ept_violations rom)" \
		"$(jsec "$tmp/probe-rom-$p.soft.json" ept_violations rom)"
	check "probe-rom ($p): kvm says it has no qualification" \
		"$(grep -c '"exit_qualification": "not reported' "$tmp/probe-rom-$p.kvm.json")" -eq 1
done
# Dirty tracking started by the guest through the hypercall port: KVM's dirty
# log (KVM_GET_DIRTY_LOG) holds the 64 pages the probe wrote, the set both of
# the software backend's methods find. Where userfaultfd can write-protect
# memfd pages (Linux 5.19 and later: this check asks for it there), each
# first write also reaches hv's handler as on the software backend, and
# the write-protect log holds the same 64 pages; HV_KVM_UFFD_WP=0 runs the
# dirty log alone.
kver=$(uname -r | sed 's/^\([0-9]*\)\.\([0-9]*\).*/\1 \2/')
if [ "${kver% *}" -gt 5 ] || { [ "${kver% *}" -eq 5 ] && [ "${kver#* }" -ge 19 ]; }; then
	wp_runs="1 0"
else
	echo "kvm_test: kernel $(uname -r) predates userfaultfd write-protection of memfd pages" >&2
	wp_runs=0
fi
# dirty_ok WHAT PAGES: KVM's dirty log of the dirty probe holds its 64
# written pages. Without write-protection and under hardware two-dimensional
# paging (not kvm_pvm) it may also hold the 16 the probe only reads: 80 on
# SVM with nested paging (docs/kvm.md, the nested lane).
dirty_ok() {
	if [ "$wp" = 1 ] || [ -d /sys/module/kvm_pvm ]; then
		expect_eq "$1" "$2" 64
	else
		check "$1 (the 64 written, and at most the 16 read)" "$2" -ge 64 -a "$2" -le 80
	fi
}
for wp in $wp_runs; do
	export HV_KVM_UFFD_WP=$wp
	both probe-dirty-wp$wp --memory 16M "$PROBES/probe-dirty.elf"
	for b in soft kvm; do
		j=$tmp/probe-dirty-wp$wp.$b.json
		expect_eq "dirty ($b): one hypercall" "$(jsec "$j" devices hypercalls)" 1
		expect_eq "dirty ($b): started by it" "$(jget "$j" started_by)" '"hypercall"'
		if [ $b = kvm ]; then
			dirty_ok "dirty (kvm): 64 dirty pages" "$(jget "$j" ept_dirty_pages)"
		else
			expect_eq "dirty ($b): 64 dirty pages" "$(jget "$j" ept_dirty_pages)" 64
		fi
	done
	expect_eq "dirty (soft): 64 pages by write protection" \
		"$(jget "$tmp/probe-dirty-wp$wp.soft.json" write_protect_pages)" 64
	j=$tmp/probe-dirty-wp$wp.kvm.json
	if [ "$wp" = 1 ]; then
		expect_eq "dirty (kvm, uffd-wp): the write-protect log is kept" "$(jget "$j" write_protect_log)" true
		expect_eq "dirty (kvm, uffd-wp): 64 pages by write protection" "$(jget "$j" write_protect_pages)" 64
		expect_eq "dirty (kvm, uffd-wp): it agrees with KVM's dirty log" "$(jget "$j" agree)" true
		expect_eq "dirty (kvm, uffd-wp): 64 write faults reached hv, as on soft" \
			"$(jget "$j" dirty_log)" "$(jget "$tmp/probe-dirty-wp$wp.soft.json" dirty_log)"
		"$HV" run --backend kvm --memory 16M "$PROBES/probe-dirty.elf" >/dev/null \
			2>"$tmp/dirty-text.err" </dev/null
		check "dirty (kvm, uffd-wp): the text report says the sets agree" \
			"$(grep -c '^  sets agree  *yes$' "$tmp/dirty-text.err")" -eq 1
	else
		expect_eq "dirty (kvm, no uffd-wp): no write-protect log, said so" \
			"$(jget "$j" write_protect_log)" false
		expect_eq "dirty (kvm, no uffd-wp): the JSON report says why" \
			"$(jget "$j" write_protect_log_why_not)" '"turned off (HV_KVM_UFFD_WP=0)"'
		expect_eq "dirty (kvm, no uffd-wp): no write faults reached hv" "$(jget "$j" dirty_log)" 0
	fi
	# Lazy RAM: the probe's 80 pages (64 written, 16 read) are first
	# touches; its dirty log still holds the 64 written.
	WP_EXITS=$wp
	lazy lazy-dirty-wp$wp --memory 16M "$PROBES/probe-dirty.elf"
	j=$tmp/lazy-dirty-wp$wp.kvm.json
	expect_eq "lazy dirty: 80 first touches" "$(jget "$j" lazy_map)" 80
	dirty_ok "lazy dirty (kvm): 64 dirty pages" "$(jget "$j" ept_dirty_pages)"
	if [ "$wp" = 1 ]; then
		expect_eq "lazy dirty (kvm, uffd-wp): 64 pages by write protection" \
			"$(jget "$j" write_protect_pages)" 64
		expect_eq "lazy dirty (kvm, uffd-wp): it agrees with KVM's dirty log" "$(jget "$j" agree)" true
	fi
done
unset HV_KVM_UFFD_WP WP_EXITS
both probe-triple --memory 16M "$PROBES/probe-triple.elf"
both lazy-forbidden --mem-policy lazy --memory 16M "$PROBES/probe-forbidden.elf"
expect_eq "lazy forbidden: the same diagnostic" \
	"$(grep -m1 "neither RAM" "$tmp/lazy-forbidden.kvm.err")" \
	"$(grep -m1 "neither RAM" "$tmp/lazy-forbidden.soft.err")"
lazy lazy-touch --memory 64M "$PROBES/probe-touch.elf"
check "lazy touch: 8192 pages and the probe's own" "$(jget "$tmp/lazy-touch.kvm.json" lazy_map)" -ge 8192
check "lazy touch: the probe finished" "$(grep -c "^probe: touched the pages from 4 MiB" "$tmp/lazy-touch.kvm.out")" -eq 1
# String I/O and MOVS between devices and RAM never touched (docs/kvm.md,
# "KVM's own copies to and from lazy RAM"): KVM emulates those instructions
# and copies the RAM operand itself; the guest must read back the devices'
# bytes, and the pages written under dirty tracking must be in the logs, as
# on the software vCPU: eager, and lazy with 4 KiB and 2 MiB EPT pages.
WP_EXITS=1
[ "$wp_runs" = 0 ] && WP_EXITS=0
# With lazy RAM and 4 KiB pages the software vCPU reads the HPET twice for
# each of the two MOVS from it into a fresh page (the store's EPT violation
# restarts the instruction, as hardware would), KVM's emulator once.
both string-io --memory 16M "$PROBES/string-io.elf"
NOT_COMPARED=mmio_reads
lazy lazy-string-io --memory 16M "$PROBES/string-io.elf"
unset NOT_COMPARED
expect_eq "lazy-string-io: MMIO reads, soft = kvm + 2 (two MOVS restarted on soft)" \
	"$(jget "$tmp/lazy-string-io.soft.json" mmio_reads)" \
	"$(( $(jget "$tmp/lazy-string-io.kvm.json" mmio_reads) + 2 ))"
lazy lazy-string-io-2m --ept-page 2M --memory 16M "$PROBES/string-io.elf"
for name in string-io lazy-string-io lazy-string-io-2m; do
	check "$name: the guest read the devices' bytes and finished on KVM" \
		"$(grep -c -e '^string-io: rep insb into fresh RAM, signature QEMU$' \
			-e '^string-io: rep insb over the first signature, ram 01000000$' \
			-e '^string-io: done$' "$tmp/$name.kvm.out")" -eq 5
	j=$tmp/$name.kvm.json
	expect_eq "$name: KVM's dirty log, kvm vs soft" "$(jget "$j" ept_dirty_pages)" \
		"$(jget "$tmp/$name.soft.json" ept_dirty_pages)"
	if [ $WP_EXITS = 1 ]; then
		expect_eq "$name: the write-protect log, kvm vs soft" "$(jget "$j" write_protect_pages)" \
			"$(jget "$tmp/$name.soft.json" write_protect_pages)"
		expect_eq "$name: it agrees with KVM's dirty log" "$(jget "$j" agree)" true
	fi
done
unset WP_EXITS
# STI; HLT with an interrupt pending and the HLT's page never touched
# (docs/kvm.md, "An interrupt that finds the vCPU standing at a HLT"): the
# interrupt comes after the HLT, eager and lazy. Not on kvm_pvm, where
# interrupt-window exits do not arrive and a 32-bit IRET fails.
if [ ! -d /sys/module/kvm_pvm ]; then
	both sti-hlt --memory 16M "$PROBES/sti-hlt.elf"
	lazy lazy-sti-hlt --memory 16M "$PROBES/sti-hlt.elf"
	for name in sti-hlt lazy-sti-hlt; do
		check "$name: the interrupt came after the HLT on KVM" \
			"$(grep -c '^sti-hlt: the interrupt came after the HLT$' "$tmp/$name.kvm.out")" -eq 1
	done
	both hlt-user --memory 16M "$PROBES/hlt-user.elf"
	lazy lazy-hlt-user --memory 16M "$PROBES/hlt-user.elf"
	for name in hlt-user lazy-hlt-user; do
		check "$name: the HLT at CPL 3 raised #GP on KVM" \
			"$(grep -c '^hlt-user: the HLT raised #GP(0) at CPL 3, and the interrupt came once$' "$tmp/$name.kvm.out")" -eq 1
	done
	# KVM's paravirtual clock is not offered (docs/kvm.md, "KVM's
	# paravirtual clock"): hv's hypervisor leaf, #GP for KVM's clock and
	# steal-time MSRs, the page given to them left untouched.
	both pvclock --memory 16M "$PROBES/pvclock.elf"
	lazy lazy-pvclock --memory 16M "$PROBES/pvclock.elf"
	for name in pvclock lazy-pvclock; do
		check "$name: no paravirtual clock on KVM" \
			"$(grep -c "^pvclock: no paravirtual clock, every MSR access #GP, the block untouched$" "$tmp/$name.kvm.out")" -eq 1
	done
	# A HLT skipped to the timer's deadline moves the guest's TSC on too.
	both tsc-skip --memory 16M "$PROBES/tsc-skip.elf"
	check "tsc-skip: the TSC kept up with the timer on KVM" \
		"$(grep -c "^tsc-skip: the TSC moved on by at least the timer's count, three times$" "$tmp/tsc-skip.kvm.out")" -eq 1
fi
if [ -f "$GUEST" ]; then
	for wl in compute memloop protect; do
		both "$wl" --memory 128M "$GUEST" --append "workload=$wl iters=20000"
		check "$wl: RESULT ok on KVM" "$(grep -c "^RESULT $wl ok" "$tmp/$wl.kvm.out")" -eq 1
	done
	# The workloads whose pages are demand-zero faults in the guest, sized to
	# finish in seconds where the host's KVM emulates each guest instruction.
	# Their RESULT lines carry the checksum of every value read.
	for spec in "random iters=3000 footprint=256K" "seq iters=5000 footprint=256K" \
		"stride iters=2000 footprint=512K stride=4096" "chase iters=2000 footprint=64K"; do
		wl=${spec%% *}
		both "$wl" --memory 128M "$GUEST" --append "workload=$spec"
		check "$wl: RESULT ok on KVM" "$(grep -c "^RESULT $wl ok" "$tmp/$wl.kvm.out")" -eq 1
	done
	# Lazy RAM under the guest's own paging and demand-zero faults, 4 KiB
	# and 2 MiB frames.
	lazy lazy-random --memory 128M "$GUEST" --append "workload=random iters=3000 footprint=256K"
	check "lazy random: RESULT ok on KVM" "$(grep -c "^RESULT random ok" "$tmp/lazy-random.kvm.out")" -eq 1
	lazy lazy-random-2m --ept-page 2M --memory 128M "$GUEST" --append "workload=random iters=3000 footprint=1M"
	lazy lazy-protect --memory 128M "$GUEST" --append "workload=protect iters=2000"
	# A local APIC timer falls due while hv maps first touches for the guest
	# (on KVM inside KVM_RUN, through userfaultfd; the loop has no exit of
	# its own): hv kicks the guest out at the event's time, so the interrupt
	# comes during the writes, as on the software vCPU.
	lazy timer-touch --memory 16M "$PROBES/timer-touch.elf"
	check "timer-touch: the interrupt came during the writes on KVM" \
		"$(grep -c "^timer-touch: the timer interrupt came during the writes$" "$tmp/timer-touch.kvm.out")" -eq 1

	# The IOMMU workloads: edu and the VT-d unit are hv's device models on
	# both backends, so the guest's MMIO to them exits on KVM too, and hv's
	# DMA, unit, and canary counts are the same numbers, section by section.
	while IFS='|' read -r name wl opts; do
		# shellcheck disable=SC2086 # opts: words
		both "$name" --edu $opts --memory 128M "$GUEST" --append "workload=$wl"
		check "$name: RESULT ok on KVM" "$(grep -c "^RESULT $wl ok" "$tmp/$name.kvm.out")" -eq 1
		check "$name: the report has a dma section" "$(jobj "$tmp/$name.kvm.json" dma | wc -l)" -gt 2
		for obj in dma iommu canary devices; do
			expect_eq "$name: the report's $obj section, kvm vs soft" \
				"$(jobj "$tmp/$name.kvm.json" $obj)" "$(jobj "$tmp/$name.soft.json" $obj)"
		done
	done <<-IOMMU
	dma|dma|
	viommu|viommu|
	dma-attack|dma-attack|
	dma-fault-event|dma-fault-event|
	dma-noiommu|dma|--no-iommu
	dma-lazy|dma|--mem-policy lazy
	IOMMU
	check "viommu: the unit's faults are in the report" \
		"$(jobj "$tmp/viommu.kvm.json" iommu | grep -c '"faults"')" -ge 1

	# Pass-through: edu's register page is a memory slot of KVM's (the
	# guest's register accesses do not exit) and the device a thread of hv's
	# own beside the vCPU, its DMA through hv's VT-d unit or, with
	# --no-iommu, to host-physical addresses (RAM one run of host memory
	# with 2 MiB EPT pages, so the guest is told where). The same transfers,
	# interrupts, unit counts and canaries as the soft vCPU, whose device
	# looks at fixed instruction counts; how often it looked is the one
	# difference.
	jnolooks() { jobj "$1" "$2" | grep -v '"device_looks"'; }
	while IFS='|' read -r name wl opts; do
		# shellcheck disable=SC2086 # opts: words
		both "$name" $opts --memory 128M "$GUEST" --append "workload=$wl"
		check "$name: RESULT ok on KVM" "$(grep -c "^RESULT $wl ok" "$tmp/$name.kvm.out")" -eq 1
		for obj in dma passthrough iommu hv_canary ept_watch canary devices; do
			expect_eq "$name: the report's $obj section, kvm vs soft" \
				"$(jnolooks "$tmp/$name.kvm.json" $obj)" "$(jnolooks "$tmp/$name.soft.json" $obj)"
		done
		check "$name: the device looked at its page on its own" \
			"$(jsec "$tmp/$name.kvm.json" passthrough device_looks)" -gt 0
		# (dma-attack reads BAR0 + 0x1000 once: an emulated window.)
		[ "$wl" = dma ] && expect_eq "$name: no exit for edu's registers" \
			"$(jsec "$tmp/$name.kvm.json" dma register_reads)/$(jsec "$tmp/$name.kvm.json" dma register_writes)" 0/0
	done <<-PT
	pt-dma-separate|dma|--passthrough separate
	pt-dma-shared|dma|--passthrough shared
	pt-attack-separate|dma-attack|--passthrough separate
	pt-attack-shared|dma-attack|--passthrough shared
	pt-dma-lazy|dma|--passthrough shared --mem-policy lazy
	pt-dma-noiommu|dma|--passthrough separate --no-iommu --ept-page 2M
	PT
	expect_eq "pass-through dma: ten completion MSIs on KVM" \
		"$(jsec "$tmp/pt-dma-separate.kvm.json" dma msis)" 10
	# Without an IOMMU the attack reaches hv's canary on both backends. Its
	# write into the EPT table page that maps BAR0 changes hv's map on
	# both, but only the software vCPU translates through that page: KVM's
	# tables are the kernel's, outside the device's reach, so on KVM the
	# guest gains nothing by it.
	for b in soft kvm; do
		timeout 60 "$HV" run --json --backend $b --serial "$tmp/pt-noiommu-attack.$b.out" \
			--passthrough separate --no-iommu --ept-page 2M --memory 128M "$GUEST" \
			--append workload=dma-attack >"$tmp/pt-noiommu-attack.$b.json" 2>/dev/null </dev/null
		echo $? >"$tmp/pt-noiommu-attack.$b.status"
	done
	a=$tmp/pt-noiommu-attack
	expect_eq "pass-through attack without IOMMU: status, kvm vs soft" \
		"$(cat "$a.kvm.status")" "$(cat "$a.soft.status")"
	expect_eq "pass-through attack without IOMMU: hv's memory, kvm vs soft" \
		"$(grep "^attack: hv's memory" "$a.kvm.out")" "$(grep "^attack: hv's memory" "$a.soft.out")"
	check "pass-through attack without IOMMU: hv's canary read and written" \
		"$(grep -c "^attack: hv's memory: .*\(LEAKED\|REACHED\)" "$a.kvm.out")" -eq 2
	for obj in hv_canary canary; do
		expect_eq "pass-through attack without IOMMU: the report's $obj section, kvm vs soft" \
			"$(jobj "$a.kvm.json" $obj)" "$(jobj "$a.soft.json" $obj)"
	done
	check "pass-through attack without IOMMU: soft vCPU, the EPT entry gained hv's memory" \
		"$(grep -c "^attack: EPT table page: .*GAINED" "$a.soft.out")" -eq 1
	check "pass-through attack without IOMMU: KVM, no effect on the guest's map" \
		"$(grep -c "^attack: EPT table page: .*no effect" "$a.kvm.out")" -eq 1
	for b in soft kvm; do
		expect_eq "pass-through attack without IOMMU: $b: hv's EPT table page changed" \
			"$(jsec "$a.$b.json" ept_watch changed_entries)" 1
	done

	# hv's EPT map beside KVM's: 128 MiB of eager 4 KiB RAM is 32768 leaves;
	# with lazy RAM the leaves are the frames hv mapped, 4 KiB or 2 MiB.
	expect_eq "compute: hv's EPT map, 4 KiB leaves" "$(jget "$tmp/compute.kvm.json" ept_leaves_4k)" 32768
	expect_eq "compute: hv's EPT map, 2 MiB leaves" "$(jget "$tmp/compute.kvm.json" ept_leaves_2m)" 0
	for name in lazy-random lazy-random-2m lazy-protect; do
		j=$tmp/$name.kvm.json
		expect_eq "$name: hv's EPT leaves are the frames it mapped" \
			"$(( $(jget "$j" ept_leaves_4k) + $(jget "$j" ept_leaves_2m) ))" \
			"$(( $(jget "$j" lazy_frames) + $(jget "$j" loader_frames) ))"
	done
	check "lazy-random-2m: 2 MiB leaves" "$(jget "$tmp/lazy-random-2m.kvm.json" ept_leaves_2m)" -ge 1

	# The report: no model counts under KVM, and says so; KVM's own
	# statistics instead (the vCPU left the guest at least once per port
	# exit hv handled).
	expect_eq "kvm report: translation marked as not modelled" \
		"$(jget "$tmp/chase.kvm.json" modelled)" false
	# Kernels before Linux 5.14 have no binary statistics, and the report
	# says so instead.
	kv=$(uname -r | sed -n 's/^\([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
	stats=yes
	# shellcheck disable=SC2086 # kv is two numbers
	[ -n "$kv" ] && [ "$(printf '%d%03d' $kv)" -lt 5014 ] && stats=no
	"$HV" run --backend kvm --memory 128M "$GUEST" --append "workload=compute iters=10" \
		>"$tmp/text.out" 2>&1 </dev/null
	check "kvm text report: says the translation counts are not modelled" \
		"$(grep -c "^  not modelled: the guest's accesses are translated by the host's KVM" "$tmp/text.out")" -eq 1
	if [ $stats = yes ]; then
		check "kvm report: KVM's statistics are read" \
			"$(jget "$tmp/chase.kvm.json" exits)" -ge "$(jget "$tmp/chase.kvm.json" io)"
		check "kvm text report: prints KVM's statistics" \
			"$(grep -c "^  vcpu exits  " "$tmp/text.out")" -eq 1
	else
		expect_eq "kvm report: no KVM statistics before Linux 5.14" \
			"$(jsec "$tmp/chase.kvm.json" hw_stats available)" false
		expect_eq "kvm report: the JSON report says why KVM's statistics are missing" \
			"$(jsec "$tmp/chase.kvm.json" hw_stats why_not)" \
			'"this kernel has no KVM_GET_STATS_FD (Linux 5.14)"'
		check "kvm text report: says why KVM's statistics are missing" \
			"$(grep -c "^  not available: this kernel has no KVM_GET_STATS_FD (Linux 5.14)$" "$tmp/text.out")" -eq 1
	fi
	check "kvm text report: hv's EPT map beside them" \
		"$(grep -c "^  hv's EPT map, which the kvm memory follows: leaves 4 KiB 32768, 2 MiB 0, 1 GiB 0$" "$tmp/text.out")" -eq 1

	# SIGTERM while the guest runs inside KVM_RUN stops the VM (KVM_RUN
	# returns EINTR), with the signal's status, not after the guest ends.
	timeout 5 "$HV" run --json --backend kvm --memory 128M "$GUEST" \
		--append "workload=compute iters=100000000000" >"$tmp/sig.json" 2>/dev/null </dev/null
	expect_eq "SIGTERM during KVM_RUN: stop reason" "$(jget "$tmp/sig.json" reason)" '"signal"'
	expect_eq "SIGTERM during KVM_RUN: status" "$(jget "$tmp/sig.json" status)" 143
	# With lazy RAM KVM_RUN runs in a second thread: the signal reaches hv's
	# thread, which kicks the other out of the guest.
	timeout 5 "$HV" run --json --backend kvm --mem-policy lazy --memory 128M "$GUEST" \
		--append "workload=compute iters=100000000000" >"$tmp/sig-lazy.json" 2>"$tmp/sig-lazy.err" </dev/null
	expect_eq "SIGTERM, lazy RAM: stop reason" "$(jget "$tmp/sig-lazy.json" reason)" '"signal"'
	expect_eq "SIGTERM, lazy RAM: status" "$(jget "$tmp/sig-lazy.json" status)" 143
	check "SIGTERM, lazy RAM: the stop names the RIP" \
		"$(grep -c "stopped by SIGTERM at RIP 0x[0-9a-f]* (the kvm vCPU left the guest for it)" "$tmp/sig-lazy.err")" -eq 1

	# hv bench's KVM path: one boot on each backend, the guest's result
	# checked on both (a figure, not a timed assertion).
	"$HV" bench --quick --json --guest "$GUEST" kvm-boot >"$tmp/bench.json" 2>"$tmp/bench.err" </dev/null
	expect_eq "bench kvm-boot: status" "$?" 0
	expect_eq "bench kvm-boot: one boot (--quick)" "$(jget "$tmp/bench.json" ops)" 1
	check "bench kvm-boot: KVM and soft times in the note" \
		"$(grep -c '"note": "boot to exit: KVM [0-9.]* ms, soft vCPU [0-9.]* ms a run' "$tmp/bench.json")" -eq 1

	# Where the host's KVM is kvm_pvm, it runs this (non-PVM) guest through
	# KVM's instruction emulator: each retired instruction is one successful
	# emulation and each faulting one a failed emulation, so KVM's own counts
	# must equal the software vCPU's instruction and exception counts.
	if [ -d /sys/module/kvm_pvm ]; then
		for wl in compute chase; do
			emul=$(jget "$tmp/$wl.kvm.json" insn_emulation)
			nfail=$(jget "$tmp/$wl.kvm.json" insn_emulation_fail)
			expect_eq "$wl: KVM emulated exactly the soft vCPU's instructions" \
				"$((emul - nfail))" "$(jget "$tmp/$wl.soft.json" instructions)"
			expect_eq "$wl: KVM's failed emulations are the soft vCPU's exceptions" \
				"$nfail" "$(jget "$tmp/$wl.soft.json" exceptions)"
		done
	else
		echo "kvm_test: the host's KVM is not kvm_pvm: instruction counts are not compared" >&2
	fi
fi

tl_finish
