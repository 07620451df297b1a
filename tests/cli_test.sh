#!/bin/sh
# tests/cli_test.sh - the hv command line: exact reference counts from
# `hv trace --json`, `hv walk` explanations and fault decoding, and the
# errors a user can provoke (exit 1 for a bad trace file, 2 for a bad
# command line).
#
# Run by `make check` from the top build directory; HV overrides the binary
# and srcdir (set by automake's test harness) locates examples/.
set -u

HV=${HV:-./hv/hv}
srcdir=${srcdir:-.}
. "${srcdir:-.}/tests/testlib.sh"
tl_init cli_test

tl_need "$HV"


# jnum FILE KEY: a top-level numeric member of a JSON report (two-space indent).
jnum() {
	sed -n "s/^  \"$2\": \\([0-9.e+-]*\\),\\{0,1\\}\$/\\1/p" "$1" | head -n 1
}


# expect_refs NAME REFS_PER_WALK hv-trace-options...: every translation walks
# (no caches) and every walk makes exactly REFS_PER_WALK references.
expect_refs() {
	name=$1 per=$2
	shift 2
	out=$tmp/$name.json
	if ! "$HV" trace --json --tlb none --pwc none --accesses 20000 "$@" >"$out" 2>"$tmp/err"; then
		fail "$name: hv trace $* failed: $(cat "$tmp/err")"
		return
	fi
	tr=$(jnum "$out" translations)
	walks=$(jnum "$out" walks)
	refs=$(jnum "$out" walk_refs)
	expect_eq "$name translations" "$tr" 20000
	expect_eq "$name walks" "$walks" 20000
	expect_eq "$name walk_refs" "$refs" $((per * 20000))
	expect_eq "$name faulted accesses" "$(jnum "$out" faulted_accesses)" 0
}

# Translation facts section 3: (n+1)(m+1)-1 and the large-page reductions.
expect_refs 4k4k 24 --pattern random
expect_refs 2m2m 15 --pattern random --guest-page 2M --ept-page 2M --footprint 256M
expect_refs 5l5l 35 --pattern random --guest-levels 5 --ept-levels 5
expect_refs 4l5l 29 --pattern random --guest-levels 4 --ept-levels 5
expect_refs native 4 --pattern random --native
expect_refs g2m 19 --pattern stride --stride 2M --guest-page 2M --footprint 256M
expect_refs e2m 19 --pattern random --ept-page 2M
expect_refs e1g 14 --pattern random --ept-page 1G --footprint 1G
expect_refs 1g1g 8 --pattern random --guest-page 1G --ept-page 1G --footprint 4G

# The grid of a 4/4 walk: 4 EPT references for each of gL4..gL1 and the
# data, one guest reference for each guest level, nothing else.
out=$tmp/4k4k.json
cells=$(sed -n '/"cells": \[/,/^    \]/p' "$out" | grep '\[[0-9]' | tr -d ' []' | tr '\n' ';')
expect_eq "4k4k grid" "$cells" \
	"20000,20000,20000,20000,20000,;20000,20000,20000,20000,20000,;20000,20000,20000,20000,20000,;20000,20000,20000,20000,20000,;20000,20000,20000,20000,0;"

# A TLB that holds the whole working set: one walk per page, then hits.
out=$tmp/seq.json
"$HV" trace --json --pattern seq --footprint 64K --accesses 10240 --tlb skylake --pwc none >"$out"
expect_eq "seq 64K walks" "$(jnum "$out" walks)" 16
expect_eq "seq 64K walk_refs" "$(jnum "$out" walk_refs)" $((16 * 24))

# The same seed gives the same run; chase visits every page once per lap.
out=$tmp/chase.json
"$HV" trace --json --pattern chase --footprint 4M --accesses 1024 --tlb none --pwc none --seed 7 >"$out"
expect_eq "chase walks" "$(jnum "$out" walks)" 1024
"$HV" trace --json --pattern chase --footprint 4M --accesses 3072 --tlb skylake --pwc none --seed 7 >"$out"
# 1024 pages, 1536-entry STLB: each page misses once, then every lap hits.
expect_eq "chase distinct pages" "$(jnum "$out" walks)" 1024

# A trace file: every access line is one translation.
out=$tmp/basic.json
if "$HV" trace --json --file "$srcdir/examples/basic.trace" --tlb none --pwc none >"$out" 2>"$tmp/err"; then
	expect_eq "basic.trace translations" "$(jnum "$out" translations)" 7
	expect_eq "basic.trace writes" "$(jnum "$out" writes)" 2
	expect_eq "basic.trace fetches" "$(jnum "$out" fetches)" 1
	expect_eq "basic.trace walk_refs" "$(jnum "$out" walk_refs)" $((7 * 24))
else
	fail "basic.trace: $(cat "$tmp/err")"
fi

# A malformed line: "file:line: what", exit 1.
printf 'R 0x7f1240000000\n# fine\n\nQ 0x7f1240001000\n' >"$tmp/bad.trace"
"$HV" trace --file "$tmp/bad.trace" >/dev/null 2>"$tmp/err"
expect_eq "malformed trace exit" $? 1
if grep -q "^$tmp/bad.trace:4: expected an access type R, W or X" "$tmp/err"; then pass; else
	fail "malformed trace message: $(cat "$tmp/err")"; fi

printf 'R 0x7f1240000000\nR zz\n' >"$tmp/bad2.trace"
"$HV" trace --file "$tmp/bad2.trace" >/dev/null 2>"$tmp/err"
expect_eq "bad address exit" $? 1
if grep -q "^$tmp/bad2.trace:2: expected a hexadecimal address" "$tmp/err"; then pass; else
	fail "bad address message: $(cat "$tmp/err")"; fi

printf 'W 0x7f1240000000\nR 0x1000\n' >"$tmp/outside.trace"
"$HV" trace --file "$tmp/outside.trace" >/dev/null 2>"$tmp/err"
expect_eq "outside footprint exit" $? 1
if grep -q "^$tmp/outside.trace:2: address 0x1000 is outside the mapped footprint" "$tmp/err"; then
	pass; else fail "outside footprint message: $(cat "$tmp/err")"; fi

# Trace files that are not text: refused at the line, after reading a bounded
# amount (a line of NULs once grew memory without bound, a NUL once cut the
# line short silently, CR-only endings made one huge line).
head -c 100000 /dev/zero >"$tmp/zeros.trace"
"$HV" trace --file "$tmp/zeros.trace" >/dev/null 2>"$tmp/err"
expect_eq "NUL trace exit" $? 1
expect_eq "NUL trace message" "$(cat "$tmp/err")" "$tmp/zeros.trace:1: NUL byte inside the line: a trace is a text file"
{ echo "R 0x7f1240000000"; head -c 5000 /dev/zero | tr '\0' ' '; echo; } >"$tmp/long.trace"
"$HV" trace --file "$tmp/long.trace" >/dev/null 2>"$tmp/err"
expect_eq "long line exit" $? 1
expect_eq "long line message" "$(cat "$tmp/err")" \
	"$tmp/long.trace:2: line longer than 4096 bytes: a trace is a text file of short lines"
printf 'R 0x7f1240000000\rR 0x7f1240001000\r' >"$tmp/cr.trace"
"$HV" trace --file "$tmp/cr.trace" >/dev/null 2>"$tmp/err"
expect_eq "CR-only exit" $? 1
if grep -q "^$tmp/cr.trace:1: carriage return without a line feed" "$tmp/err"; then pass; else
	fail "CR-only message: $(cat "$tmp/err")"; fi
printf '\357\273\277R 0x7f1240000000\r\nW 0x7f1240001000\r\n' >"$tmp/bom.trace"
out=$tmp/bom.json
if "$HV" trace --json --file "$tmp/bom.trace" >"$out" 2>"$tmp/err"; then
	expect_eq "BOM and CR LF trace translations" "$(jnum "$out" translations)" 2
else
	fail "BOM and CR LF trace: $(cat "$tmp/err")"
fi
"$HV" trace --file "$tmp" >/dev/null 2>"$tmp/err"
expect_eq "directory trace exit" $? 1
expect_eq "directory trace message" "$(cat "$tmp/err")" \
	"hv trace: --file $tmp: is a directory, not a trace file"

# A file gives the accesses: a generator option beside it is a mistake, named
# (--pattern once replaced the file, the others were silently ignored).
for opt in "--pattern chase" "--accesses 10" "--seed 3" "--access W" "--stride 64"; do
	"$HV" trace --file "$srcdir/examples/basic.trace" $opt >/dev/null 2>"$tmp/err"
	expect_eq "--file with $opt exit" $? 2
	expect_eq "--file with $opt message" "$(cat "$tmp/err")" \
		"hv trace: --file and ${opt% *} cannot be used together: the file gives the accesses"
done

# Messages name the word typed, even where getopt would read a cluster of
# one-letter options, and a missing value says so.
"$HV" run -append x guest.elf >/dev/null 2>"$tmp/err"
expect_eq "single-dash run exit" $? 2
expect_eq "single-dash run message" "$(cat "$tmp/err")" \
	"hv run: unknown option '-append': long options take two dashes (--append)"
"$HV" trace --accesses 10 -footprint 1M >/dev/null 2>"$tmp/err"
expect_eq "single-dash trace message" "$(cat "$tmp/err")" \
	"hv trace: unknown option '-footprint': long options take two dashes (--footprint)"
"$HV" trace -x >/dev/null 2>"$tmp/err"
expect_eq "unknown letter message" "$(cat "$tmp/err")" "hv trace: unknown option '-x' (see hv trace --help)"
"$HV" run --memory >/dev/null 2>"$tmp/err"
expect_eq "run missing value exit" $? 2
expect_eq "run missing value message" "$(cat "$tmp/err")" "hv run: --memory needs a value (see hv run --help)"
"$HV" trace --acc R >/dev/null 2>"$tmp/err"
expect_eq "ambiguous message" "$(cat "$tmp/err")" "hv trace: option '--acc' is ambiguous (--accesses, --access)"
"$HV" walk --json=yes 0x7f1240001234 >/dev/null 2>"$tmp/err"
expect_eq "value to a flag message" "$(cat "$tmp/err")" "hv walk: --json takes no value, got '--json=yes'"
# The value of an option may start with a dash: it is the option's value.
"$HV" trace --pattern -footprint >/dev/null 2>"$tmp/err"
expect_eq "dash value message" "$(cat "$tmp/err")" \
	"hv trace: --pattern: expected seq, stride, random or chase, got '-footprint'"

# --ept-perms on an address outside the footprint: the message once read the
# freed machine (AddressSanitizer: heap-use-after-free).
"$HV" walk --ept-perms r-- 0 >/dev/null 2>"$tmp/err"
expect_eq "walk perms outside exit" $? 2
expect_eq "walk perms outside message" "$(cat "$tmp/err")" \
	"hv walk: --ept-perms: GVA 0x0 is outside the footprint [0x7f1240000000, 0x7f1244000000)"

# Output that cannot be written is a failure (it once exited 0, the report lost).
if [ -w /dev/full ]; then
	"$HV" trace --json --accesses 1000 >/dev/full 2>"$tmp/err"
	expect_eq "trace to a full disk exit" $? 1
	expect_eq "trace to a full disk message" "$(cat "$tmp/err")" \
		"hv: cannot write the output (a write to standard output failed)"
	"$HV" trace --accesses 1000 -o /dev/full 2>"$tmp/err"
	expect_eq "trace -o full disk exit" $? 1
	expect_eq "trace -o full disk message" "$(cat "$tmp/err")" \
		"hv: cannot write the output: No space left on device"
	"$HV" walk 0x7f1240001234 >/dev/full 2>"$tmp/err"
	expect_eq "walk to a full disk exit" $? 1
	expect_eq "walk to a full disk message" "$(cat "$tmp/err")" \
		"hv: cannot write the output: No space left on device"
fi

# JSON strings are valid UTF-8 whatever the bytes given: a byte that is not
# part of valid UTF-8 is written as \u00XX, valid sequences as they are.
name=$(printf '%s/t\377\303\251.trace' "$tmp")
printf 'R 0x7f1240000000\n' >"$name"
out=$tmp/name.json
"$HV" trace --json --file "$name" >"$out" 2>"$tmp/err"
expect_eq "non-UTF-8 file name exit" $? 0
expect_eq "non-UTF-8 file name in JSON" "$(sed -n 's/^    "file": "\(.*\)",\{0,1\}$/\1/p' "$out")" \
	"$(printf '%s/t\\u00ff\303\251.trace' "$tmp")"
if command -v python3 >/dev/null; then
	python3 -c 'import json, sys; json.load(open(sys.argv[1], encoding="utf-8"))' "$out"
	expect_eq "non-UTF-8 file name: valid JSON" $? 0
fi

# hv run: a count too large says so and gives the limit.
"$HV" run --max-insns 99999999999999999999 x.elf >/dev/null 2>"$tmp/err"
expect_eq "max-insns too large exit" $? 2
expect_eq "max-insns too large message" "$(head -n 1 "$tmp/err")" \
	"hv run: --max-insns: '99999999999999999999' is too large (at most 18446744073709551615)"

probe=tests/guests/probe-ud.elf
if [ -f "$probe" ] && [ -w /dev/full ]; then
	# The guest's serial output and the report are checked like any output.
	"$HV" run --serial /dev/full "$probe" >/dev/null 2>"$tmp/err"
	expect_eq "run serial to a full disk exit" $? 8
	expect_eq "run serial to a full disk message" "$(head -n 1 "$tmp/err")" \
		"hv run: cannot write the guest's serial output to /dev/full"
	"$HV" run --json "$probe" >/dev/full 2>"$tmp/err"
	expect_eq "run report to a full disk exit" $? 8
	"$HV" run --json --append "$(printf 'a\377b')" "$probe" >"$tmp/run.json" 2>/dev/null
	expect_eq "run non-UTF-8 append" "$(sed -n 's/^    "append": "\(.*\)",$/\1/p' "$tmp/run.json")" 'a\u00ffb'
fi

# SIGINT / SIGTERM stop the guest, not hv: the report is still printed, with
# status 128 + signal. The signal is sent once the guest has written to its
# serial port (so the run loop is running), whatever the time that takes.
if [ -f guest/guest.elf ]; then
	for sig in INT TERM; do
		rm -f "$tmp/ser"
		"$HV" run guest/guest.elf --json --serial "$tmp/ser" \
			--append 'workload=random iters=4000000000' >"$tmp/sig.json" 2>"$tmp/err" &
		pid=$!
		n=0
		while [ ! -s "$tmp/ser" ] && [ $n -lt 1200 ]; do sleep 0.05; n=$((n + 1)); done
		kill -$sig $pid
		wait $pid
		st=$?
		want=130
		[ $sig = TERM ] && want=143
		expect_eq "SIG$sig status" $st $want
		expect_eq "SIG$sig stop reason" "$(sed -n '/"stop"/,/}/s/.*"reason": "\([a-z-]*\)".*/\1/p' "$tmp/sig.json")" signal
		if grep -q "stopped by SIG$sig after [0-9]* instructions" "$tmp/err"; then pass; else
			fail "SIG$sig message: $(cat "$tmp/err")"; fi
	done
fi

# start_on_fifo NAME [OPTION...]: hv run (with the options) with its --serial
# on a FIFO, its JSON report in $tmp/NAME.json; returns once hv waits in the
# FIFO's open (wait_for_partner in /proc), with its pid in $pid.
start_on_fifo() {
	name=$1
	shift
	rm -f "$tmp/fifo"
	mkfifo "$tmp/fifo"
	"$HV" run guest/guest.elf "$@" --json --serial "$tmp/fifo" >"$tmp/$name.json" 2>"$tmp/err" &
	pid=$!
	n=0
	while [ "$(cat /proc/$pid/wchan 2>/dev/null)" != wait_for_partner ] && [ $n -lt 1200 ]; do
		sleep 0.05
		n=$((n + 1))
	done
}

# A signal before the guest starts stops it before its first instruction,
# with the report: here hv is waiting to open its --serial FIFO (a blocking
# open, seen as wait_for_partner in /proc) when SIGTERM comes.
if [ -f guest/guest.elf ] && command -v mkfifo >/dev/null && [ -r /proc/self/wchan ]; then
	start_on_fifo early
	kill -TERM $pid
	cat "$tmp/fifo" >/dev/null
	wait $pid
	expect_eq "SIGTERM before the guest starts: status" $? 143
	expect_eq "SIGTERM before the guest starts: stop reason" \
		"$(sed -n '/"stop"/,/}/s/.*"reason": "\([a-z-]*\)".*/\1/p' "$tmp/early.json")" signal
	expect_eq "SIGTERM before the guest starts: no instruction ran" \
		"$(grep -c 'stopped by SIGTERM after 0 instructions' "$tmp/err")" 1
fi

# A signal while an eager mapping goes on stops it at the next GiB, before
# the guest starts. The SIGTERM comes while hv waits to open its --serial
# FIFO (the handlers are in place); then hv maps 2 GiB (2M EPT pages) and
# must stop at the first GiB. Only where this host can hold a 2 GiB eager
# guest (hv refuses it before opening the FIFO otherwise).
if [ -f guest/guest.elf ] && command -v mkfifo >/dev/null && [ -r /proc/self/wchan ] &&
	"$HV" run --memory 2G --ept-page 2M --max-insns 1 --serial none guest/guest.elf \
		>/dev/null 2>&1; [ $? -eq 6 ]; then
	start_on_fifo mapping --memory 2G --ept-page 2M
	kill -TERM $pid
	timeout 60 cat "$tmp/fifo" >/dev/null
	wait $pid
	expect_eq "SIGTERM while mapping: status" $? 143
	expect_eq "SIGTERM while mapping: message" "$(cat "$tmp/err")" \
		"hv run: stopped by SIGTERM while mapping guest RAM, before the guest started"
fi

# SIGTERM twice, as timeout(1) sends it (to hv, then to its process group):
# the second must not end hv before its report. The first is delivered (no
# longer pending in /proc/PID/status) before the second is sent.
if [ -f guest/guest.elf ] && command -v mkfifo >/dev/null && [ -r /proc/self/wchan ]; then
	start_on_fifo twice
	kill -TERM $pid
	n=0
	while grep -q '^ShdPnd:.*[1-9a-f]' /proc/$pid/status 2>/dev/null && [ $n -lt 200 ]; do
		sleep 0.05
		n=$((n + 1))
	done
	kill -TERM $pid
	sleep 0.2
	# An hv that the second signal ended never opens the FIFO: don't wait for it.
	if kill -0 $pid 2>/dev/null; then cat "$tmp/fifo" >/dev/null; fi
	wait $pid
	expect_eq "SIGTERM twice: status" $? 143
	expect_eq "SIGTERM twice: the report is written" \
		"$(sed -n '/"stop"/,/}/s/.*"reason": "\([a-z-]*\)".*/\1/p' "$tmp/twice.json")" signal
fi

# Configuration files: each mistake named with its line and the limit.
cfg_error() { # NAME CONTENT WANT
	printf "$2" >"$tmp/$1.conf"
	"$HV" trace --accesses 10 --tlb "$tmp/$1.conf" >/dev/null 2>"$tmp/err"
	expect_eq "config $1 exit" $? 2
	expect_eq "config $1 message" "$(cat "$tmp/err")" "hv trace: --tlb: $tmp/$1.conf:$3"
}
cfg_error entries 'l1d_4k = 1000000000/4\n' \
	"1: too many entries (at most 4194304; 'perfect' for an unbounded structure)"
# 262144 entries fully associative took 6.5 s for 20,000 accesses.
cfg_error ways 'l1d_4k = 262144\n' \
	"1: at most 1024 ways: a set is searched entry by entry (write entries/ways, or 'perfect' for an unbounded structure)"
cfg_error late_base 'l1d_4k = 64/4\nbase = skylake\n' \
	"2: 'base =' must be the first setting (it replaces everything before it)"
cfg_error cr_only 'base = skylake\rl1d_4k = 64/4\r' \
	"1: carriage return without a line feed: lines must end in LF or CR LF"
printf '\357\273\277base = skylake\r\nl1d_4k = 64/4\r\n' >"$tmp/bom.conf"
"$HV" trace --accesses 10 --tlb "$tmp/bom.conf" >/dev/null 2>"$tmp/err"
expect_eq "config with BOM and CR LF exit" $? 0
"$HV" trace --accesses 10 --tlb ./ >/dev/null 2>"$tmp/err"
expect_eq "config directory exit" $? 2
expect_eq "config directory message" "$(cat "$tmp/err")" \
	"hv trace: --tlb: ./: is a directory, not a configuration file"

# Command-line mistakes: one line saying what to fix, exit 2.
"$HV" trace --guest-page 3M >/dev/null 2>"$tmp/err"
expect_eq "bad page size exit" $? 2
expect_eq "bad page size message" "$(cat "$tmp/err")" \
	"hv trace: --guest-page: expected 4K, 2M or 1G, got '3M'"
"$HV" trace --frobnicate >/dev/null 2>"$tmp/err"
expect_eq "unknown option exit" $? 2
expect_eq "unknown option lines" "$(wc -l <"$tmp/err" | tr -d ' ')" 1
"$HV" trace --accesses >/dev/null 2>"$tmp/err"
expect_eq "missing value exit" $? 2
"$HV" trace --tlb nosuchpreset >/dev/null 2>"$tmp/err"
expect_eq "unknown preset exit" $? 2
"$HV" frobnicate >/dev/null 2>&1
expect_eq "unknown command exit" $? 2
"$HV" walk >/dev/null 2>&1
expect_eq "walk without address exit" $? 2
"$HV" walk --ept-perms rwz 0x7f1240001234 >/dev/null 2>&1
expect_eq "bad ept perms exit" $? 2
"$HV" --help >/dev/null
expect_eq "hv --help exit" $? 0
"$HV" help trace | grep -q -- '--guest-page'
expect_eq "hv help trace" $? 0
"$HV" --version | grep -q '^hv [0-9]'
expect_eq "hv --version" $? 0

# hv walk, cold 4/4 with no caches: 24 references, guest entries at
# positions 5, 10, 15, 20 (translation facts section 3).
out=$tmp/walk.json
"$HV" walk --json --tlb none --pwc none 0x7f1240001234 >"$out"
expect_eq "walk ref_count" "$(jnum "$out" ref_count)" 24
expect_eq "walk refs listed" "$(grep -c '"kind": ' "$out")" 24
kinds=$(sed -n 's/.*"kind": "\([a-z]*\)".*/\1/p' "$out" | awk '$0 == "guest" { printf "%d,", NR }')
expect_eq "walk guest positions" "$kinds" "5,10,15,20,"
expect_eq "walk status" "$(sed -n 's/.*"status": "\([a-z_]*\)".*/\1/p' "$out")" ok
expect_eq "walk gpa" "$(sed -n '/"result"/,/}/s/.*"gpa": "\(0x[0-9a-f]*\)".*/\1/p' "$out")" 0x100001234
"$HV" walk --tlb none --pwc none 0x7f1240001234 >"$tmp/walk.txt"
expect_eq "walk text references" "$(grep -c '^  *[0-9][0-9]*  \(EPT\|guest\) ' "$tmp/walk.txt")" 24

# With the Skylake caches even a cold walk reuses what its own earlier steps
# cached (the guest tables share EPT tables); --warm first translates the
# neighbouring page, after which the walk is shorter still.
out=$tmp/cold.json
"$HV" walk --json 0x7f1240001234 >"$out"
cold=$(jnum "$out" ref_count)
out=$tmp/warm.json
"$HV" walk --json --warm 0x7f1240001234 >"$out"
warm=$(jnum "$out" ref_count)
if [ -n "$cold" ] && [ -n "$warm" ] && [ "$cold" -lt 24 ] && [ "$warm" -lt "$cold" ]; then
	pass
else
	fail "cached walks: cold $cold, warm $warm references"
fi

# SDM 28.2.1: a data read reaching an execute-only leaf through a guest linear
# address: read (bit 0), executable (5), GLA valid (7), translated access (8),
# plus the guest page's U/S and R/W (9, 10): 0x7a1, i.e. 0x1a1 + advanced info.
out=$tmp/viol.json
"$HV" walk --json --ept-perms --x 0x7f1240001234 >"$out"
expect_eq "violation status" "$(sed -n 's/.*"status": "\([a-z_]*\)".*/\1/p' "$out")" ept_violation
expect_eq "violation qual" "$(sed -n 's/.*"qual": "\(0x[0-9a-f]*\)".*/\1/p' "$out")" 0x7a1
"$HV" walk --ept-perms --x 0x7f1240001234 >"$tmp/viol.txt"
for line in "bit  0 read        = 1" "bit  1 write       = 0" "bit  3 readable    = 0" \
	"bit  5 executable  = 1" "bit  7 gla-valid   = 1" "bit  8 gla-xlate   = 1"; do
	if grep -q "$line" "$tmp/viol.txt"; then pass; else fail "violation text lacks '$line'"; fi
done

# SDM 29.3.3.1: write permission without read is a misconfiguration (exit 49).
out=$tmp/misconf.json
"$HV" walk --json --ept-perms -w- 0x7f1240001234 >"$out"
expect_eq "misconfig status" "$(sed -n 's/.*"status": "\([a-z_]*\)".*/\1/p' "$out")" ept_misconfig
expect_eq "misconfig exit reason" "$(sed -n 's/.*"exit_reason": \([0-9]*\).*/\1/p' "$out")" 49

# Not mapped: #PF with P=0 (not present), W/R=0 (read).
out=$tmp/pf.json
"$HV" walk --json 0x7f0000000000 >"$out"
expect_eq "pf status" "$(sed -n 's/.*"status": "\([a-z_]*\)".*/\1/p' "$out")" page_fault
expect_eq "pf error" "$(sed -n 's/.*"pf_error": "\(0x[0-9a-f]*\)".*/\1/p' "$out")" 0x0

tl_finish
