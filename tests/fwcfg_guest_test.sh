#!/bin/sh
# tests/fwcfg_guest_test.sh - tests/guests/fwcfg.elf, a guest that reads
# fw_cfg's signature, CPU count and RAM size items through ports 0x510/0x511
# and prints the CPUID bits of seven features, run twice with the same memory
# size and the same CPU model string under hv (--cpu) and QEMU TCG (-cpu):
# every feature on with 128 MiB, every feature off with 256 MiB. Each run
# prints exactly the expected lines and exits with status 1. QEMU runs only
# when it is installed.
#
# Run by `make check` from the top build directory. HV, PROBES and QEMU
# override the programs.
set -u

HV=${HV:-./hv/hv}
PROBES=${PROBES:-./tests/guests}
QEMU=${QEMU:-qemu-system-x86_64}
. "${srcdir:-.}/tests/testlib.sh"
tl_init fwcfg_guest_test

GUEST=$PROBES/fwcfg.elf
tl_need "$HV" "$GUEST"

# The features both hv's --cpu and QEMU 7.2's TCG offer (TCG has no pcid
# or invpcid: "+pcid" there only warns).
ON=qemu64,+smep,+smap,+umip,+pku,+la57,+nx,+rdtscp
OFF=qemu64,-smep,-smap,-umip,-pku,-la57,-nx,-rdtscp

# run_both NAME MEM CPU: boot $GUEST under hv and QEMU with MEM of RAM and
# the model string CPU; both must exit with status 1 having printed $tmp/want.
run_both() {
	hvrun "hv-$1" --memory "$2" --cpu "$3" "$GUEST"
	expect_eq "hv $1: exit status (isa-debug-exit 0)" "$status" 1
	same_lines "hv $1" "$tmp/hv-$1.out"
	if command -v "$QEMU" >/dev/null 2>&1; then
		timeout 60 "$QEMU" -accel tcg -M "${QEMU_MACHINE:-q35}" -cpu "$3" -m "$2" \
			-kernel "$GUEST" -device isa-debug-exit,iobase=0xf4,iosize=4 \
			-display none -serial stdio -monitor none -no-reboot -nodefaults \
			</dev/null >"$tmp/qemu-$1.out" 2>"$tmp/qemu-$1.err"
		status=$?
		expect_eq "QEMU $1: exit status (isa-debug-exit 0)" "$status" 1
		same_lines "QEMU $1" "$tmp/qemu-$1.out"
	else
		echo "$tl_name: $QEMU not found, hv only" >&2
	fi
}

# The RAM size item is 64 bits, printed high half first.
cat >"$tmp/want" <<'END'
fwcfg: start
fwcfg: signature QEMU
fwcfg: cpus 0001
fwcfg: ram 00000000 08000000 
cpuid: smep yes
cpuid: smap yes
cpuid: umip yes
cpuid: pku yes
cpuid: la57 yes
cpuid: nx yes
cpuid: rdtscp yes
fwcfg: done
END
run_both on 128M "$ON"

cat >"$tmp/want" <<'END'
fwcfg: start
fwcfg: signature QEMU
fwcfg: cpus 0001
fwcfg: ram 00000000 10000000 
cpuid: smep no
cpuid: smap no
cpuid: umip no
cpuid: pku no
cpuid: la57 no
cpuid: nx no
cpuid: rdtscp no
fwcfg: done
END
run_both off 256M "$OFF"
tl_finish
