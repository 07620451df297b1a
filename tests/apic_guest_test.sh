#!/bin/sh
# tests/apic_guest_test.sh - tests/guests/apic.elf, a guest that takes
# interrupts from the local APIC (self-IPI priority order, TPR, the STI
# shadow, the timer in one-shot, periodic and TSC-deadline modes while
# halted, NMI blocking until IRET), prints exactly the expected lines and
# exits with status 1 under hv's software vCPU, with the exact counts of
# interrupts taken and HLT wake-ups; and prints the same lines under QEMU
# TCG when it is installed.
#
# Run by `make check` from the top build directory. HV, PROBES and QEMU
# override the programs.
set -u

HV=${HV:-./hv/hv}
PROBES=${PROBES:-./tests/guests}
QEMU=${QEMU:-qemu-system-x86_64}
. "${srcdir:-.}/tests/testlib.sh"
tl_init apic_guest_test

GUEST=$PROBES/apic.elf
tl_need "$HV" "$GUEST"

cat >"$tmp/want" <<'END'
apic: start
apic: sti with 0x41 and 0x61 pending
apic: irq 0x61
apic: irq 0x41
apic: order done
apic: tpr 0x60 holds 0x55
apic: irq 0x55
apic: tpr 0 released it
apic: irq 0x41 after the instruction that follows sti
apic: one-shot timer fired once
apic: periodic timer fired three times
apic: tsc-deadline timer done
apic: nmi 1
apic: nmi 1 returns
apic: nmi 2
apic: nmi done
apic: done
END

probe_both 128M
# 0x61, 0x41, 0x55, 0x41, five timer expiries, two NMIs.
expect_eq "hv: interrupts delivered" "$(jget "$tmp/hv.json" /guest/interrupts)" 11
# One-shot, three periodic, one TSC-deadline: each wakes a HLT.
expect_eq "hv: HLT exits" "$(jget "$tmp/hv.json" /exits/hlt)" 5
# WRMSR IA32_TSC_DEADLINE is the guest's only MSR exit.
expect_eq "hv: MSR exits" "$(jget "$tmp/hv.json" /exits/msr)" 1
tl_finish
