#!/bin/sh
# tests/csv_test.sh - --csv beside --json on hv trace, hv run and hv bench:
# a header line and a row (one row a benchmark), one column for each JSON
# member named by its path, every value the JSON's own.
set -u

HV=${HV:-./hv/hv}
GUEST=${GUEST:-./guest/guest.elf}
srcdir=${srcdir:-.}
. "$srcdir/tests/testlib.sh"
tl_init csv_test

tl_need "$HV"

# Column NAME of row ROW (1 = the first after the header); fields without
# quoted commas before them.
col() {
	awk -F, -v name="$2" -v row="$3" '
		NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
		NR == row + 1 && c { print $c }' "$1"
}

# --- hv trace -------------------------------------------------------------------
"$HV" trace --accesses 1000 --tlb none --pwc none --csv >"$tmp/t.csv" 2>"$tmp/err"
expect_eq "trace --csv: status" $? 0
expect_eq "trace --csv: two lines" "$(wc -l <"$tmp/t.csv")" 2
expect_eq "trace --csv: as many fields as columns" \
	"$(awk -F, '{ print NF }' "$tmp/t.csv" | uniq | wc -l)" 1
# No caches: every translation is a 24-reference walk (4 x 5 + 4).
expect_eq "trace --csv: walks" "$(col "$tmp/t.csv" walks 1)" 1000
expect_eq "trace --csv: walk_refs" "$(col "$tmp/t.csv" walk_refs 1)" 24000
expect_eq "trace --csv: refs_hist.24" "$(col "$tmp/t.csv" refs_hist.24 1)" 1000
expect_eq "trace --csv: refs_hist.23" "$(col "$tmp/t.csv" refs_hist.23 1)" 0
expect_eq "trace --csv: the data row's EPT-L1 cell" "$(col "$tmp/t.csv" grid.cells.4.3 1)" 1000
expect_eq "trace --csv: options.tlb" "$(col "$tmp/t.csv" options.tlb 1)" none
"$HV" trace --accesses 5000 --pattern chase --csv >"$tmp/c.csv"
"$HV" trace --accesses 5000 --pattern chase --json >"$tmp/c.json"
for k in translations walks walk_refs refs_per_walk; do
	expect_eq "trace --csv: $k as --json" "$(col "$tmp/c.csv" $k 1)" "$(jnum "$tmp/c.json" $k)"
done
expect_eq "trace --csv: l1d_4k hits as --json" "$(col "$tmp/c.csv" structures.l1d_4k.hits 1)" \
	"$(sed -n '/"l1d_4k"/,/}/s/^ *"hits": \([0-9]*\),$/\1/p' "$tmp/c.json")"
"$HV" trace --json --csv >/dev/null 2>"$tmp/err"
expect_eq "trace --json --csv: status" $? 2
expect_eq "trace --json --csv: message" "$(cat "$tmp/err")" "hv trace: --json and --csv: choose one"

# --- hv run -----------------------------------------------------------------------
if [ -f "$GUEST" ]; then
	"$HV" run "$GUEST" --append "workload=seq footprint=1M" --max-insns 200000 --csv \
		>"$tmp/r.csv" 2>"$tmp/serial"
	expect_eq "run --csv: status (--max-insns)" $? 6
	expect_eq "run --csv: stdout has only the CSV" "$(wc -l <"$tmp/r.csv")" 2
	check "run --csv: the guest's output on stderr" -n "$(grep 'hv guest' "$tmp/serial")"
	"$HV" run "$GUEST" --append "workload=seq footprint=1M" --max-insns 200000 --json \
		>"$tmp/r.json" 2>/dev/null
	expect_eq "run --csv: guest.instructions" "$(col "$tmp/r.csv" guest.instructions 1)" 200000
	expect_eq "run --csv: stop.reason" "$(col "$tmp/r.csv" stop.reason 1)" insn-limit
	for k in walks walk_refs translations; do
		expect_eq "run --csv: translation.$k as --json" \
			"$(col "$tmp/r.csv" translation.$k 1)" "$(jnum "$tmp/r.json" $k)"
	done
	expect_eq "run --csv: exits.total as --json" "$(col "$tmp/r.csv" exits.total 1)" \
		"$(sed -n '/"exits"/,/}/s/^ *"total": \([0-9]*\)$/\1/p' "$tmp/r.json")"
	"$HV" run "$GUEST" --csv --json >/dev/null 2>"$tmp/err"
	expect_eq "run --json --csv: status" $? 2
	check "run --json --csv: message" -n "$(grep -- '--json and --csv: choose one' "$tmp/err")"
fi

# --- hv bench ---------------------------------------------------------------------
"$HV" bench --quick --no-qemu --csv tlb-hit full-walk >"$tmp/b.csv" 2>"$tmp/err"
expect_eq "bench --csv: status" $? 0
expect_eq "bench --csv: a header and a row a benchmark" "$(wc -l <"$tmp/b.csv")" 3
expect_eq "bench --csv: first columns" "$(head -n 1 "$tmp/b.csv" | cut -d, -f1-5)" \
	"command,quick,name,unit,ops"
expect_eq "bench --csv: the rows' names" "$(cut -d, -f3 "$tmp/b.csv" | sed 1d | tr '\n' ' ')" \
	"tlb-hit full-walk "
expect_eq "bench --csv: full walks are 24 references" "$(col "$tmp/b.csv" refs_per_op 2)" 24
# The note holds commas: it is quoted (RFC 4180).
check "bench --csv: a field with commas is quoted" \
	-n "$(grep -F ',"1 GiB, random 4K pages, 24.00 refs/walk, 0 faults",' "$tmp/b.csv")"

tl_finish
