#!/bin/sh
# tests/output_test.sh - where reports and the guest's output go: -o FILE
# (or --output) puts any command's report in FILE, and hv run keeps the
# guest's serial output alone on stdout then; --serial none|FILE|stdio.
set -u

HV=${HV:-./hv/hv}
GUEST=${GUEST:-./guest/guest.elf}
srcdir=${srcdir:-.}
. "$srcdir/tests/testlib.sh"
tl_init output_test

if [ ! -x "$HV" ] || [ ! -f "$GUEST" ]; then
	echo "output_test: $HV or $GUEST is not built" >&2
	exit 99
fi

# -o FILE: the report in FILE, the guest's serial output alone on stdout.
"$HV" run --max-insns 3000000 -o "$tmp/report.txt" "$GUEST" >"$tmp/serial.txt" 2>/dev/null
expect_eq "-o: status" $? 6
check "-o: report in the file" -n "$(grep '^== hv run' "$tmp/report.txt")"
check "-o: no serial output in the file" -z "$(grep '^hv guest:' "$tmp/report.txt")"
check "-o: serial output on stdout" -n "$(grep '^hv guest:' "$tmp/serial.txt")"
check "-o: no report on stdout" -z "$(grep '^== hv run' "$tmp/serial.txt")"
"$HV" trace --accesses 100 --output="$tmp/trace.txt" >"$tmp/stdout.txt"
check "--output=: trace report in the file" -n "$(grep '^Translation:' "$tmp/trace.txt")"
check "--output=: nothing on stdout" ! -s "$tmp/stdout.txt"
"$HV" trace -o "$tmp/a" --output "$tmp/b" 2>"$tmp/err"
expect_eq "-o twice: status" $? 2

# --serial none: no guest output anywhere; FILE: there only; stdio: stdout.
"$HV" run --max-insns 3000000 --serial none "$GUEST" >"$tmp/none.txt" 2>&1
check "--serial none: no guest output" -z "$(grep '^hv guest:' "$tmp/none.txt")"
check "--serial none: the report" -n "$(grep '^== hv run' "$tmp/none.txt")"
"$HV" run --max-insns 3000000 --serial "$tmp/s.txt" --json "$GUEST" >"$tmp/j.json" 2>"$tmp/err"
check "--serial FILE: guest output in FILE" -n "$(grep '^hv guest:' "$tmp/s.txt")"
check "--serial FILE: JSON alone on stdout" -z "$(grep -v '^[ {}]' "$tmp/j.json")"
check "--serial FILE: nothing of the guest on stderr" -z "$(grep '^hv guest:' "$tmp/err")"
"$HV" run --max-insns 3000000 --serial stdio --json "$GUEST" >"$tmp/both.txt" 2>/dev/null
check "--serial stdio --json: asked for both on stdout" -n "$(grep '^hv guest:' "$tmp/both.txt")"

tl_finish
