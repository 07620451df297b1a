#!/bin/sh
# tests/s3_guest_test.sh - tests/guests/s3.elf suspends the machine to RAM
# (ACPI S3) the way an OS does, from the ACPI tables alone, and is woken by
# an RTC alarm: under hv's software vCPU it must resume in real mode at the
# FACS waking vector (CS 0700), see WAK_STS and RTC_STS in PM1a_STS and its
# CMOS mark kept, print exactly the expected lines and exit with status 1;
# the report must say it slept once, from the SLP_EN write to the alarm it
# set three seconds on: the RTC's update at the end of the guest's third
# second (TSC 3,000,000,000). Under QEMU TCG's pc machine (when installed)
# the same lines; QEMU's RTC runs on host time, so that takes up to three
# seconds there.
#
# Run by `make check` from the top build directory. HV, PROBES and QEMU
# override the programs.
set -u

HV=${HV:-./hv/hv}
PROBES=${PROBES:-./tests/guests}
QEMU=${QEMU:-qemu-system-x86_64}
. "${srcdir:-.}/tests/testlib.sh"
tl_init s3_guest_test

GUEST=$PROBES/s3.elf
tl_need "$HV" "$GUEST"

cat >"$tmp/want" <<'END'
s3: start
s3: _S3 SLP_TYP 01
s3: sleeping
s3: resumed in real mode, CS 0700
s3: PM1a_STS WAK_STS|RTC_STS 8400
s3: CMOS 0x40 5a
s3: done
END

hvrun hv --memory 128M "$GUEST"
expect_eq "hv: exit status (isa-debug-exit 0)" "$status" 1
same_lines hv "$tmp/hv.out"
expect_eq "hv: S3 resumes" "$(jget "$tmp/hv.json" /sleep/s3_resumes)" 1
expect_eq "hv: woken at the third second's update" "$(jget "$tmp/hv.json" /sleep/last_wake_tsc)" 3000000000
expect_eq "hv: resumed at" "$(jget "$tmp/hv.json" /sleep/resume_vector)" 28672
expect_eq "hv: resumed in" "$(jget "$tmp/hv.json" /sleep/resume_mode)" '"real"'
# The text report says so too.
hv_text=$("$HV" run --memory 128M "$GUEST" 2>&1 >/dev/null)
case $hv_text in
*"slept and resumed                   1"*"real mode at 0700:0000 (Firmware_Waking_Vector 0x7000)"*) pass ;;
*) fail "hv: the text report's Sleep section"; echo "$hv_text" | sed 's/^/  | /' >&2 ;;
esac

if command -v "$QEMU" >/dev/null 2>&1; then
	QEMU_MACHINE=pc qemu_boot "$tmp/qemu.out" 128M ""
	expect_eq "QEMU: exit status" "$status" 1
	same_lines QEMU "$tmp/qemu.out"
else
	echo "s3_guest_test: $QEMU not found, hv only" >&2
fi
tl_finish
