#!/bin/sh
# tests/sweep_test.sh - hv sweep runs hv trace / hv run over a grid: every
# point's counts are those of the same command run alone, in the table, the
# CSV and the JSON; --list prints commands that GNU parallel (or sh) runs
# unchanged and --collect reads their reports back into the same results;
# bad grids and missing reports are clear errors.
set -u

HV=${HV:-./hv/hv}
GUEST=${GUEST:-./guest/guest.elf}
srcdir=${srcdir:-.}
. "$srcdir/tests/testlib.sh"
tl_init sweep_test

tl_need "$HV"
# Some checks run in another directory.
case $HV in /*) ;; *) HV=$(pwd)/$HV ;; esac
case $GUEST in /*) ;; *) GUEST=$(pwd)/$GUEST ;; esac

# Column NAME of CSV row ROW (1 = the first point) of FILE.
csvcol() {
	awk -F, -v name="$2" -v row="$3" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
		NR == row + 1 { print $c }' "$1"
}

# --- hv trace: the CSV against single runs -----------------------------------
"$HV" sweep --jobs 2 --csv trace --footprint 16M,64M --tlb skylake,none --accesses 20000 \
	>"$tmp/t.csv" 2>"$tmp/err"
expect_eq "trace sweep: status" $? 0
check "trace sweep: nothing on stderr" ! -s "$tmp/err"
expect_eq "trace sweep: header and 4 points" "$(wc -l <"$tmp/t.csv")" 5
expect_eq "trace sweep: axes first" "$(head -n 1 "$tmp/t.csv" | cut -d, -f1-4)" \
	"footprint,tlb,result,translations"
row=0
for fp in 16M 64M; do
	for tlb in skylake none; do
		row=$((row + 1))
		expect_eq "point $row: values" "$(csvcol "$tmp/t.csv" footprint $row),$(csvcol "$tmp/t.csv" tlb $row)" "$fp,$tlb"
		"$HV" trace --footprint $fp --tlb $tlb --accesses 20000 --json >"$tmp/one.json"
		for k in translations walks walk_refs refs_per_walk; do
			expect_eq "point $row ($fp $tlb): $k as run alone" \
				"$(csvcol "$tmp/t.csv" $k $row)" "$(jnum "$tmp/one.json" $k)"
		done
		expect_eq "point $row: result" "$(csvcol "$tmp/t.csv" result $row)" ok
	done
done
# Fixed by the architecture: no caches, every walk is 24 references.
"$HV" sweep --csv trace --footprint 16M..64M --tlb none --pwc none --accesses 5000 >"$tmp/r.csv"
expect_eq "range 16M..64M: three points" "$(cut -d, -f1 "$tmp/r.csv" | tr '\n' ' ')" "footprint 16M 32M 64M "
for row in 1 2 3; do
	expect_eq "no caches, point $row: walks" "$(csvcol "$tmp/r.csv" walks $row)" 5000
	expect_eq "no caches, point $row: walk_refs" "$(csvcol "$tmp/r.csv" walk_refs $row)" 120000
	expect_eq "no caches, point $row: refs_per_walk" "$(csvcol "$tmp/r.csv" refs_per_walk $row)" 24
done

# --- the table ---------------------------------------------------------------
"$HV" sweep trace --guest-page 4K,2M --ept-page 2M --footprint 64M --tlb none --pwc none \
	--accesses 1000 >"$tmp/table" 2>&1
expect_eq "table: status" $? 0
expect_eq "table: title" "$(head -n 1 "$tmp/table" | cut -d, -f1)" "hv sweep: 2 points of hv trace"
# 4K guest pages over 2M EPT pages: 4 x 4 + 3; 2M over 2M: 3 x 4 + 3.
expect_eq "table: 4K over 2M" "$(awk '$1 == "4K" { print $5, $6 }' "$tmp/table")" "19000 19.00"
expect_eq "table: 2M over 2M" "$(awk '$1 == "2M" { print $5, $6 }' "$tmp/table")" "15000 15.00"

# --- JSON: each report as the command wrote it ---------------------------------
"$HV" sweep --json trace --pattern random,chase --accesses 3000 >"$tmp/s.json"
expect_eq "json: status" $? 0
# The Nth report's lines, unindented, without the host timings.
report_n() {
	awk -v n="$2" '
		/"report": \{/ { seen++; if (seen == n) { depth = 1; next } }
		depth > 0 {
			if ($0 ~ /[{[]$/) depth++
			if ($0 ~ /^ *[]}],?$/) depth--
			if (depth > 0) print
		}' "$1" | sed 's/^ *//; s/,$//' | grep -v -e '"seconds"' -e '"translations_per_second"'
}
i=0
for pat in random chase; do
	i=$((i + 1))
	"$HV" trace --pattern $pat --accesses 3000 --json | sed '1d;$d' | sed 's/^ *//; s/,$//' |
		grep -v -e '"seconds"' -e '"translations_per_second"' >"$tmp/alone.$i"
	report_n "$tmp/s.json" $i >"$tmp/swept.$i"
	check "json: report $i ($pat) is the one of hv trace alone" -s "$tmp/alone.$i"
	if cmp -s "$tmp/alone.$i" "$tmp/swept.$i"; then pass; else
		fail "json: report $i differs from hv trace --pattern $pat alone"
		diff "$tmp/alone.$i" "$tmp/swept.$i" | head -n 5 >&2
	fi
done
grep -q '"axes": \["pattern"\]' "$tmp/s.json"
expect_eq "json: axes" $? 0

# --- --list, GNU parallel (or sh), --collect ------------------------------------
(cd "$tmp" && "$HV" sweep --list --dir pts trace --footprint 16M,64M --tlb skylake,none \
	--accesses 20000 >list) 2>"$tmp/err"
expect_eq "list: status" $? 0
expect_eq "list: one command a point" "$(wc -l <"$tmp/list")" 4
expect_eq "list: third command" "$(sed -n 3p "$tmp/list" | cut -d' ' -f2-)" \
	"trace --footprint 64M --tlb skylake --accesses 20000 --json -o pts/p0003.json"
check "list: manifest written" -s "$tmp/pts/sweep.json"
if command -v parallel >/dev/null 2>&1; then
	(cd "$tmp" && parallel -j2 <list)
else
	echo "sweep_test: GNU parallel is not installed; running the commands with sh" >&2
	(cd "$tmp" && sh list)
fi
expect_eq "list: the commands ran" $? 0
(cd "$tmp" && "$HV" sweep --collect pts --csv) >"$tmp/c.csv"
expect_eq "collect: status" $? 0
cut -d, -f1-8 "$tmp/t.csv" >"$tmp/t8"
cut -d, -f1-8 "$tmp/c.csv" >"$tmp/c8"
if cmp -s "$tmp/t8" "$tmp/c8"; then pass; else fail "collect: CSV differs from the direct sweep's"; fi
(cd "$tmp" && "$HV" sweep --collect pts) >"$tmp/ct"
expect_eq "collect: table title" "$(head -n 1 "$tmp/ct")" "hv sweep: 4 points of hv trace, collected from pts"
rm "$tmp/pts/p0002.json"
(cd "$tmp" && "$HV" sweep --collect pts) >"$tmp/ct" 2>"$tmp/err"
expect_eq "collect, a report missing: status" $? 1
expect_eq "collect, a report missing: its row" "$(sed -n 5p "$tmp/ct")" \
	"16M        none     (no report pts/p0002.json)"
expect_eq "collect, a report missing: message" "$(cat "$tmp/err")" "hv sweep: 1 of 4 points have no report"
# A trace point stopped by a signal wrote the part it replayed: not a result.
sed 's/^\(  "translations_per_second": .*\)$/\1,\n  "stopped_by": "SIGINT"/' "$tmp/pts/p0003.json" \
	>"$tmp/p3" && mv "$tmp/p3" "$tmp/pts/p0003.json"
(cd "$tmp" && "$HV" sweep --collect pts) >"$tmp/ct" 2>"$tmp/err"
expect_eq "collect, a partial report: status" $? 1
expect_eq "collect, a partial report: its row" "$(sed -n 6p "$tmp/ct")" \
	"64M        skylake  (stopped by SIGINT: pts/p0003.json is partial)"
expect_eq "collect, a partial report: message" "$(cat "$tmp/err")" "hv sweep: 2 of 4 points have no report"

# --- hv run: a quoted command line through --list and sh -----------------------
if [ -f "$GUEST" ]; then
	(cd "$tmp" && "$HV" sweep --list --dir runs run --max-insns 3000000 \
		--append "workload=seq footprint=1M,workload=random footprint=1M" \
		--ept-page 4K,2M "$GUEST" >rlist)
	expect_eq "run list: status" $? 0
	expect_eq "run list: quoted" "$(sed -n 1p "$tmp/rlist" | grep -c "'workload=seq footprint=1M'")" 1
	(cd "$tmp" && sh rlist 2>/dev/null)
	(cd "$tmp" && "$HV" sweep --collect runs --csv) >"$tmp/run.csv"
	expect_eq "run collect: status" $? 0
	row=0
	for app in "workload=seq footprint=1M" "workload=random footprint=1M"; do
		for ep in 4K 2M; do
			row=$((row + 1))
			"$HV" run --max-insns 3000000 --append "$app" --ept-page $ep "$GUEST" --json \
				--serial none >"$tmp/run1.json" 2>/dev/null
			expect_eq "run point $row: stop" "$(csvcol "$tmp/run.csv" stop $row)" insn-limit
			expect_eq "run point $row: instructions" "$(csvcol "$tmp/run.csv" instructions $row)" 3000000
			for k in walks walk_refs translations; do
				expect_eq "run point $row ($app, $ep): $k as run alone" \
					"$(csvcol "$tmp/run.csv" $k $row)" "$(jnum "$tmp/run1.json" $k)"
			done
		done
	done
	# The same two points run by hv sweep itself.
	"$HV" sweep --csv run --max-insns 3000000 --append "workload=seq footprint=1M" \
		--ept-page 4K,2M "$GUEST" >"$tmp/run2.csv"
	expect_eq "run sweep: status" $? 0
	for row in 1 2; do
		expect_eq "run sweep, point $row: walks as listed" "$(csvcol "$tmp/run2.csv" walks $row)" \
			"$(csvcol "$tmp/run.csv" walks $row)"
	done
else
	echo "sweep_test: $GUEST is not built; skipping the hv run sweep" >&2
fi

# A "--" in the command: the report's options go before it, not after.
"$HV" sweep --list --dir "$tmp/dd" run --memory 32M,64M -- "$GUEST" >"$tmp/out" 2>"$tmp/err"
expect_eq "--: listed before it" "$(sed -n 1p "$tmp/out" | sed 's/^[^ ]* //')" \
	"run --serial none --memory 32M --json -o $tmp/dd/p0001.json -- $GUEST"
"$HV" sweep --csv run --memory 32M,64M --append 'workload=compute iters=10' -- "$GUEST" \
	>"$tmp/dd.csv" 2>"$tmp/err"
expect_eq "--: both points run" "$?:$(csvcol "$tmp/dd.csv" result 1),$(csvcol "$tmp/dd.csv" result 2)" "0:ok,ok"

# --- errors --------------------------------------------------------------------
"$HV" sweep trace --footprint 16M,1T --accesses 1000 >"$tmp/out" 2>"$tmp/err"
expect_eq "bad value: status" $? 2
expect_eq "bad value: the point's own message, once" "$(cat "$tmp/err")" \
	"hv trace: --footprint: at most 64G, got '1T'"
"$HV" sweep trace --footprint 16M --jobs 2 >/dev/null 2>"$tmp/err"
expect_eq "sweep option after the command: status" $? 2
expect_eq "sweep option after the command: message" "$(cat "$tmp/err")" \
	"hv sweep: --jobs is an option of hv sweep: put it before 'trace'"
"$HV" sweep trace --footprint 16M,,64M >/dev/null 2>"$tmp/err"
expect_eq "empty value: message" "$(cat "$tmp/err")" "hv sweep: --footprint: an empty value in the list"
"$HV" sweep trace --footprint 64M..16M >/dev/null 2>"$tmp/err"
expect_eq "backward range: message" "$(cat "$tmp/err")" \
	"hv sweep: --footprint: '64M..16M': a range A..B needs 0 < A <= B"
for twice in "--footprint 16M,64M --footprint=32M" "--footprint 16M --foot 32M,64M" \
	"--footprint 16M,32M --footprint 64M,128M"; do
	# shellcheck disable=SC2086 # the options are words
	"$HV" sweep --list trace $twice >/dev/null 2>"$tmp/err"
	expect_eq "an axis given twice ($twice): status" $? 2
	expect_eq "an axis given twice ($twice): message" "$(cat "$tmp/err")" \
		"hv sweep: --footprint is given twice and once as a list: give it once (its values as one list)"
done
"$HV" sweep --list --dir "$tmp/twice" trace --footprint 16M --footprint 32M >"$tmp/out" 2>"$tmp/err"
expect_eq "a fixed option given twice: passed on as it is" "$?:$(wc -l <"$tmp/out")" 0:1
"$HV" sweep trace --bogus 1,2 >/dev/null 2>"$tmp/err"
expect_eq "unknown option: status" $? 2
expect_eq "unknown option: message" "$(cat "$tmp/err")" "hv trace: unknown option '--bogus' (see hv trace --help)"
"$HV" sweep walk >/dev/null 2>"$tmp/err"
expect_eq "walk: message" "$(cat "$tmp/err")" "hv sweep: 'walk': hv sweep runs trace or run"
"$HV" sweep --csv --json trace >/dev/null 2>"$tmp/err"
expect_eq "csv and json: message" "$(cat "$tmp/err")" "hv sweep: --csv and --json: choose one"
"$HV" sweep --collect "$tmp/nowhere" >/dev/null 2>"$tmp/err"
expect_eq "collect nothing: status" $? 1
grep -q "nowhere/sweep.json: No such file or directory" "$tmp/err"
expect_eq "collect nothing: names the manifest" $? 0
echo '{"sweep": "trace", "axes": [], "points": [{"report": "../x.json", "values": [], "argv": []}]}' \
	>"$tmp/pts/sweep.json"
"$HV" sweep --collect "$tmp/pts" >/dev/null 2>"$tmp/err"
expect_eq "collect, a report outside DIR: status" $? 1
expect_eq "collect, a report outside DIR: message" "$(cat "$tmp/err")" \
	"hv sweep: --collect: $tmp/pts/sweep.json is not a manifest that hv sweep wrote"
printf '{"sweep": "trace", "axes": [' >"$tmp/pts/sweep.json"
"$HV" sweep --collect "$tmp/pts" >/dev/null 2>"$tmp/err"
expect_eq "collect, a broken manifest: message" "$(cat "$tmp/err")" \
	"hv sweep: --collect: $tmp/pts/sweep.json: line 1: expected a value, found the end"

tl_finish
