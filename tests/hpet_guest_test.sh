#!/bin/sh
# tests/hpet_guest_test.sh - tests/guests/hpet.elf, a guest that reads the
# HPET's registers and takes one-shot, periodic, level-triggered and 32-bit
# timer interrupts through the I/O APIC in legacy replacement mode, prints
# exactly the expected lines and exits with status 1 under hv's software
# vCPU, with the exact counts of interrupts taken and HLT wake-ups; and
# prints the same lines under QEMU TCG's pc machine (whose HPET hv's
# follows) when QEMU is installed.
#
# Run by `make check` from the top build directory. HV, PROBES and QEMU
# override the programs.
set -u

HV=${HV:-./hv/hv}
PROBES=${PROBES:-./tests/guests}
QEMU=${QEMU:-qemu-system-x86_64}
. "${srcdir:-.}/tests/testlib.sh"
tl_init hpet_guest_test

GUEST=$PROBES/hpet.elf
tl_need "$HV" "$GUEST"

# Timers: configuration (PER_INT_CAP, SIZE_CAP), then INT_ROUTE_CAP
# (input 2). Writable: all-ones but FSB_EN reads 3f7e (read-only bits 0, 7,
# 15 stay 0, capabilities 4-5 stay 1).
cat >"$tmp/want" <<'END'
hpet: start
hpet: capabilities 8086a201 00989680 
hpet: timers 00000030 00000004 00000030 00000004 00000030 00000004 
hpet: halted counter 00000000 00000000 config 00000000 
hpet: timer 2 writable 00003f7e 00000030 comparator 00000000 ffffffff 
hpet: enabled, config 00000003 
hpet: counting
hpet: one-shot timer 0 on IRQ 0, status 00000000 
hpet: periodic timer 0 three times
hpet: level timer 1 on IRQ 8, status 00000002 then 00000000 
hpet: 32-bit one-shot at the wrap and the comparator, counter high 00000001 
hpet: done
END

hvrun hv --memory 128M "$GUEST"
expect_eq "hv: exit status (isa-debug-exit 0)" "$status" 1
same_lines hv "$tmp/hv.out"
# One-shot 1, periodic 3, level 1, 32-bit 2 (wrap, comparator): each wakes a HLT.
expect_eq "hv: interrupts delivered" "$(jget "$tmp/hv.json" /guest/interrupts)" 7
expect_eq "hv: HLT exits" "$(jget "$tmp/hv.json" /exits/hlt)" 7

if command -v "$QEMU" >/dev/null 2>&1; then
	QEMU_MACHINE=pc qemu_boot "$tmp/qemu.out" 128M ""
	expect_eq "QEMU: exit status" "$status" 1
	same_lines QEMU "$tmp/qemu.out"
else
	echo "hpet_guest_test: $QEMU not found, hv only" >&2
fi
tl_finish
