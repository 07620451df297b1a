#!/bin/sh
# tests/kvm_test.sh - the KVM backend on real KVM, against the software vCPU:
#
#  - clear errors: no device node, --max-insns and --mem-policy lazy (which
#    need instruction counts or lazy faults the KVM backend lacks);
#  - where /dev/kvm can be opened: each probe guest and each guest workload
#    below prints the same serial output and stops with the same reason and
#    status on both backends, a forbidden GPA is reported at the same GPA,
#    and the MMIO and port exits the guest caused are counted the same.
#
# Exit 77 (skip), saying why, when this host cannot run KVM.
set -u

HV=${HV:-./hv/hv}
GUEST=${GUEST:-./guest/guest.elf}
PROBES=${PROBES:-./tests/guests}
. "${srcdir:-.}/tests/testlib.sh"
tl_init kvm_test

if [ ! -x "$HV" ]; then
	echo "kvm_test: $HV is not built" >&2
	exit 99
fi

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
"$HV" run --backend kvm --mem-policy lazy "$PROBES/probe-mmio.elf" >/dev/null 2>"$tmp/lazy.err" </dev/null
expect_eq "lazy on KVM: usage status" "$?" 2

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
		expect_eq "$name: $k, kvm vs soft" "$(jget "$tmp/$name.kvm.json" $k)" \
			"$(jget "$tmp/$name.soft.json" $k)"
	done
	expect_eq "$name: the report names the backend" "$(jget "$tmp/$name.kvm.json" backend)" '"kvm"'
}

both probe-mmio --memory 16M "$PROBES/probe-mmio.elf"
both probe-forbidden --memory 16M "$PROBES/probe-forbidden.elf"
# The same first line of diagnostic: the GPA, and that it is neither RAM nor a device.
expect_eq "forbidden: the same diagnostic" \
	"$(grep -m1 "neither RAM" "$tmp/probe-forbidden.kvm.err")" \
	"$(grep -m1 "neither RAM" "$tmp/probe-forbidden.soft.err")"
both probe-ud --memory 16M "$PROBES/probe-ud.elf"
both probe-triple --memory 16M "$PROBES/probe-triple.elf"
if [ -f "$GUEST" ]; then
	for wl in compute memloop protect; do
		both "$wl" --memory 128M "$GUEST" --append "workload=$wl iters=20000"
		check "$wl: RESULT ok on KVM" "$(grep -c "^RESULT $wl ok" "$tmp/$wl.kvm.out")" -eq 1
	done
fi

tl_finish
