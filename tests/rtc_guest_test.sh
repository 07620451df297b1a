#!/bin/sh
# tests/rtc_guest_test.sh - tests/guests/rtc.elf, a guest that sets the
# MC146818 RTC and takes its update-ended, alarm and periodic interrupts on
# IRQ 8 through the 8259 pair, prints exactly the expected lines and exits
# with status 1 under hv's software vCPU, with the exact counts of
# interrupts taken and HLT wake-ups; and prints the same lines under QEMU
# TCG when it is installed (about five seconds there: QEMU's RTC runs on
# host time, hv's on the guest's TSC).
#
# Run by `make check` from the top build directory. HV, PROBES and QEMU
# override the programs.
set -u

HV=${HV:-./hv/hv}
PROBES=${PROBES:-./tests/guests}
QEMU=${QEMU:-qemu-system-x86_64}
. "${srcdir:-.}/tests/testlib.sh"
tl_init rtc_guest_test

GUEST=$PROBES/rtc.elf
tl_need "$HV" "$GUEST"

# Register C: b0 = IRQF, AF, UF (the alarm registers start at 00:00:00, so
# midnight matches); 90 = IRQF, UF; c0 = IRQF, PF. The time:
# century, year, month, day, weekday (1 = Sunday), hours, minutes, seconds.
cat >"$tmp/want" <<'END'
rtc: start
rtc: A B D 26 02 80 
rtc: memory 02 80 ff ff 07 00 
rtc: update C b0 time 20 00 01 01 07 00 00 00 
rtc: alarm C b0 time 20 00 01 01 07 00 00 02 
rtc: binary 12-hour C 90 time 14 18 02 1d 05 0c 00 00 
rtc: periodic three, C c0 
rtc: done
END

probe_both 128M
# One update, one alarm, one update, three periodic: each wakes a HLT.
expect_eq "hv: interrupts delivered" "$(jget "$tmp/hv.json" /guest/interrupts)" 6
expect_eq "hv: HLT exits" "$(jget "$tmp/hv.json" /exits/hlt)" 6
tl_finish
