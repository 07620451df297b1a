#!/bin/sh
# tests/acpi_guest_test.sh - tests/guests/acpi.elf reads the ACPI tables as
# an OS finds them and prints the HPET table field by field (with its byte
# sum), the FADT's PM1a and PM timer blocks and the DSDT's _S3 and _S5
# SLP_TYP values: exactly the expected lines and exit status 1 under hv's
# software vCPU, and the same lines under QEMU TCG's pc machine when it is
# installed (the tables hv gives are QEMU's there).
#
# Run by `make check` from the top build directory. HV, PROBES and QEMU
# override the programs.
set -u

HV=${HV:-./hv/hv}
PROBES=${PROBES:-./tests/guests}
QEMU=${QEMU:-qemu-system-x86_64}
. "${srcdir:-.}/tests/testlib.sh"
tl_init acpi_guest_test

GUEST=$PROBES/acpi.elf
tl_need "$HV" "$GUEST"

# HPET: length 56, revision 1, block ID 8086a201, GAS memory 0 0 0 at
# 00000000 fed00000, number 0, minimum tick 0000, flags 0, sum 0.
cat >"$tmp/want" <<'END'
acpi: start
acpi: HPET 00000038 01 8086a201 00 00 00 00 00000000 fed00000 00 0000 00 00 
acpi: FADT PM1a_EVT PM1a_CNT PM_TMR 00000600 00000604 00000608 
acpi: DSDT _S3 _S5 01 00 
acpi: done
END

hvrun hv --memory 128M "$GUEST"
expect_eq "hv: exit status (isa-debug-exit 0)" "$status" 1
same_lines hv "$tmp/hv.out"

if command -v "$QEMU" >/dev/null 2>&1; then
	QEMU_MACHINE=pc qemu_boot "$tmp/qemu.out" 128M ""
	expect_eq "QEMU: exit status" "$status" 1
	same_lines QEMU "$tmp/qemu.out"
else
	echo "acpi_guest_test: $QEMU not found, hv only" >&2
fi
tl_finish
