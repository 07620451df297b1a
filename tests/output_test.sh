#!/bin/sh
# tests/output_test.sh - where reports and the guest's output go: -o FILE
# (or --output) puts any command's report in FILE, and hv run keeps the
# guest's serial output alone on stdout then; without -o, hv run's text
# report goes to stderr (a --json or --csv report to stdout, the guest's
# output to stderr); --serial none|FILE|stdio.
set -u

HV=${HV:-./hv/hv}
GUEST=${GUEST:-./guest/guest.elf}
srcdir=${srcdir:-.}
. "$srcdir/tests/testlib.sh"
tl_init output_test

tl_need "$HV" "$GUEST"

# The default: the guest's serial output alone on stdout, the text report on
# stderr (as perf stat's), the stop said once, in the report.
"$HV" run --max-insns 3000000 "$GUEST" >"$tmp/d.out" 2>"$tmp/d.err"
expect_eq "default: status" $? 6
"$HV" run --max-insns 3000000 --serial "$tmp/d.serial" "$GUEST" >/dev/null 2>&1
check "default: stdout is exactly the guest's serial output" -s "$tmp/d.out"
if cmp -s "$tmp/d.out" "$tmp/d.serial"; then pass; else fail "default: stdout differs from --serial FILE"; fi
expect_eq "default: the report starts stderr" "$(sed -n 2p "$tmp/d.err" | cut -c1-10)" "== hv run "
check "default: no guest output on stderr" -z "$(grep '^hv guest:' "$tmp/d.err")"
expect_eq "default: the stop said once" "$(grep -c 'stopped after 3000000 instructions' "$tmp/d.err")" 1
"$HV" run --max-insns 3000000 --serial stdio "$GUEST" >"$tmp/st.out" 2>"$tmp/st.err"
if cmp -s "$tmp/st.out" "$tmp/d.serial"; then pass; else fail "--serial stdio: stdout differs from --serial FILE"; fi
check "--serial stdio: the report on stderr" -n "$(grep '^== hv run' "$tmp/st.err")"
# A --json or --csv report has stdout, the guest's output goes to stderr, and
# then the stop that was not the guest's own choice.
{ cat "$tmp/d.serial"; echo "hv run: insn-limit: stopped after 3000000 instructions (--max-insns)"; } \
	>"$tmp/d.want"
"$HV" run --max-insns 3000000 --json "$GUEST" >"$tmp/dj.out" 2>"$tmp/dj.err"
check "--json: JSON alone on stdout" -z "$(grep -v '^[ {}]' "$tmp/dj.out")"
if cmp -s "$tmp/dj.err" "$tmp/d.want"; then pass; else fail "--json: stderr is not the serial output and the stop"; fi
"$HV" run --max-insns 3000000 --csv "$GUEST" >"$tmp/dc.out" 2>"$tmp/dc.err"
expect_eq "--csv: two lines on stdout" "$(wc -l <"$tmp/dc.out")" 2
if cmp -s "$tmp/dc.err" "$tmp/d.want"; then pass; else fail "--csv: stderr is not the serial output and the stop"; fi

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
