#!/bin/sh
# tests/plot_test.sh - --plot FILE|DIR on hv trace, hv run and hv sweep:
# gnuplot writes an SVG or PNG that is not empty and says nothing on stderr
# (into DIR: every picture as both, named as documented); the report is the
# same with and without --plot; a wrong name, a missing or failing gnuplot,
# an unwritable file and a directory that cannot be made are clear errors.
set -u

HV=${HV:-./hv/hv}
GUEST=${GUEST:-./guest/guest.elf}
srcdir=${srcdir:-.}
. "$srcdir/tests/testlib.sh"
tl_init plot_test

tl_need "$HV"
case $HV in /*) ;; *) HV=$(pwd)/$HV ;; esac

# Errors that need no gnuplot.
"$HV" trace --plot "$tmp/x.pdf" >/dev/null 2>"$tmp/err"
expect_eq "--plot x.pdf: status" $? 2
expect_eq "--plot x.pdf: message" "$(cat "$tmp/err")" \
	"hv trace: --plot $tmp/x.pdf: the file's name must end in .svg or .png (the picture's format), or name a directory"
: >"$tmp/plain"
"$HV" trace --plot "$tmp/plain" >/dev/null 2>"$tmp/err"
expect_eq "--plot FILE that is no directory: status" $? 2
expect_eq "--plot FILE that is no directory: message" "$(cat "$tmp/err")" \
	"hv trace: --plot $tmp/plain: not a directory, and a file's name must end in .svg or .png (the picture's format)"
"$HV" sweep --plot "$tmp/no/plots" trace --accesses 10,20 >"$tmp/out" 2>"$tmp/err"
expect_eq "--plot DIR without its parent: status" $? 2
expect_eq "--plot DIR without its parent: message" "$(cat "$tmp/err")" \
	"hv sweep: --plot $tmp/no/plots: cannot make the directory in $tmp/no/: No such file or directory"
check "--plot DIR without its parent: said before the sweep" ! -s "$tmp/out"
HV_GNUPLOT=$tmp/nothing "$HV" trace --accesses 1000 --plot "$tmp/x.svg" >"$tmp/out" 2>"$tmp/err"
expect_eq "no gnuplot: status" $? 1
expect_eq "no gnuplot: message" "$(cat "$tmp/err")" \
	"hv trace: --plot: HV_GNUPLOT=$tmp/nothing is not a program that can be run"
check "no gnuplot: said before the replay" ! -s "$tmp/out"
HV_GNUPLOT=$tmp/nothing "$HV" sweep --plot "$tmp/x.svg" trace --accesses 10,20 >/dev/null 2>"$tmp/err"
expect_eq "sweep, no gnuplot: status" $? 1

if ! command -v gnuplot >/dev/null 2>&1; then
	echo "plot_test: gnuplot is not installed (gnuplot-nox); only the errors were checked" >&2
	tl_finish
	exit $?
fi

png_magic() { od -An -tx1 -N8 "$1" | tr -d ' \n'; }

# --- hv trace ------------------------------------------------------------------------
"$HV" trace --accesses 1000 --tlb none --pwc none --plot "$tmp/t.svg" >"$tmp/t.txt" 2>"$tmp/err"
expect_eq "trace svg: status" $? 0
check "trace svg: gnuplot said nothing" ! -s "$tmp/err"
check "trace svg: written" -s "$tmp/t.svg"
expect_eq "trace svg: an SVG document" "$(grep -c '</svg>' "$tmp/t.svg")" 1
# No caches: 1000 walks of 24 references, so every cell of the grid is 1000.
expect_eq "trace svg: the grid's 24 cells say 1000" "$(grep -o '>1000<' "$tmp/t.svg" | wc -l)" 24
check "trace svg: the text report is still printed" -n "$(grep 'references *24000' "$tmp/t.txt")"
"$HV" trace --accesses 2000 --pattern chase --json --plot "$tmp/t.png" >"$tmp/p.json" 2>"$tmp/err"
expect_eq "trace png: status" $? 0
check "trace png: gnuplot said nothing" ! -s "$tmp/err"
expect_eq "trace png: PNG signature" "$(png_magic "$tmp/t.png")" 89504e470d0a1a0a
"$HV" trace --accesses 2000 --pattern chase --json >"$tmp/j.json"
grep -v -e seconds -e per_second "$tmp/p.json" >"$tmp/a"
grep -v -e seconds -e per_second "$tmp/j.json" >"$tmp/b"
if cmp -s "$tmp/a" "$tmp/b"; then pass; else fail "trace --json --plot: the JSON differs from --json alone"; fi
"$HV" trace --accesses 1000 --plot "$tmp/none/x.svg" >/dev/null 2>"$tmp/err"
expect_eq "unwritable plot: status" $? 1
expect_eq "unwritable plot: gnuplot's reason" "$(sed 's/gnuplot ([^)]*)/gnuplot/' "$tmp/err")" \
	"hv trace: --plot: gnuplot: cannot open file; output not changed; system error: No such file or directory"
HV_GNUPLOT=/bin/false "$HV" trace --accesses 1000 --plot "$tmp/f.svg" >/dev/null 2>"$tmp/err"
expect_eq "failing gnuplot: message" "$(cat "$tmp/err")" \
	"hv trace: --plot: gnuplot (/bin/false) failed with status 1"
# --plot DIR: made when missing, each picture alone, as SVG and PNG.
"$HV" trace --accesses 1000 --tlb none --pwc none --plot "$tmp/td/" >/dev/null 2>"$tmp/err"
expect_eq "trace DIR: status" $? 0
check "trace DIR: gnuplot said nothing" ! -s "$tmp/err"
expect_eq "trace DIR: the files" "$(ls "$tmp/td" | tr '\n' ' ')" "grid.png grid.svg walks.png walks.svg "
for f in grid walks; do
	expect_eq "trace DIR: $f.svg an SVG document" "$(grep -c '</svg>' "$tmp/td/$f.svg")" 1
	expect_eq "trace DIR: $f.png PNG signature" "$(png_magic "$tmp/td/$f.png")" 89504e470d0a1a0a
done
expect_eq "trace DIR: grid.svg alone holds the 24 cells" "$(grep -o '>1000<' "$tmp/td/grid.svg" | wc -l)" 24
check "trace DIR: walks.svg is the histogram" -n "$(grep 'walks by the references they made' "$tmp/td/walks.svg")"
check "trace DIR: walks.svg has no grid" -z "$(grep -e 'EPT-L4' "$tmp/td/walks.svg")"
mkdir "$tmp/td2"
"$HV" trace --accesses 1000 --plot "$tmp/td2" >/dev/null 2>"$tmp/err"
expect_eq "trace DIR that exists: 4 files" "$(ls "$tmp/td2" | wc -l)" 4

# --- hv run ----------------------------------------------------------------------------
if [ -f "$GUEST" ]; then
	"$HV" run "$GUEST" --append "workload=seq footprint=1M" --max-insns 300000 --serial none \
		--plot "$tmp/r.png" -o "$tmp/r.txt" >"$tmp/r.out" 2>"$tmp/err"
	expect_eq "run png: status (--max-insns)" $? 6
	expect_eq "run png: PNG signature" "$(png_magic "$tmp/r.png")" 89504e470d0a1a0a
	check "run png: the report is still printed" -n "$(grep '^Translation:' "$tmp/r.txt")"
	check "run png: nothing on stdout (--serial none)" ! -s "$tmp/r.out"
	expect_eq "run png: only the stop on stderr" "$(cat "$tmp/err")" \
		"hv run: insn-limit: stopped after 300000 instructions (--max-insns)"
	HV_GNUPLOT=/bin/false "$HV" run "$GUEST" --max-insns 1000 --serial none --plot "$tmp/f.svg" \
		>/dev/null 2>&1
	expect_eq "run, failing gnuplot: status 8" $? 8
	"$HV" run "$GUEST" --max-insns 300000 --serial none --plot "$tmp/rd" -o "$tmp/rd.txt" 2>"$tmp/err"
	expect_eq "run DIR: status (--max-insns)" $? 6
	expect_eq "run DIR: the files" "$(ls "$tmp/rd" | tr '\n' ' ')" "grid.png grid.svg walks.png walks.svg "
	expect_eq "run DIR: only the stop on stderr" "$(cat "$tmp/err")" \
		"hv run: insn-limit: stopped after 300000 instructions (--max-insns)"
fi

# --- hv sweep --------------------------------------------------------------------------
"$HV" sweep --plot "$tmp/s.svg" trace --footprint 16M..64M --guest-page 4K,2M --ept-page 2M \
	--tlb none --pwc none --accesses 1000 >"$tmp/s.txt" 2>"$tmp/err"
expect_eq "sweep svg: status" $? 0
check "sweep svg: gnuplot said nothing" ! -s "$tmp/err"
expect_eq "sweep svg: an SVG document" "$(grep -c '</svg>' "$tmp/s.svg")" 1
expect_eq "sweep svg: a line for each page size" \
	"$(grep -o -e 'guest-page=4K' -e 'guest-page=2M' "$tmp/s.svg" | sort -u | tr '\n' ' ')" \
	"guest-page=2M guest-page=4K "
expect_eq "sweep svg: the footprints on the x axis" \
	"$(grep -o -e '>16M<' -e '>32M<' -e '>64M<' "$tmp/s.svg" | sort -u | tr '\n' ' ')" \
	">16M< >32M< >64M< "
check "sweep svg: the table is still printed" -n "$(grep '^64M  *2M' "$tmp/s.txt")"
# --plot DIR: refs-per-walk, and each point's pictures named after its report.
# No caches: 4K guest pages make 24 references a walk, 2M guest pages 19.
"$HV" sweep --plot "$tmp/sd" trace --footprint 16M,32M --guest-page 4K,2M --tlb none --pwc none \
	--accesses 1000 >/dev/null 2>"$tmp/err"
expect_eq "sweep DIR: status" $? 0
check "sweep DIR: gnuplot said nothing" ! -s "$tmp/err"
expect_eq "sweep DIR: 2 + 4 files a point" "$(ls "$tmp/sd" | wc -l)" 18
expect_eq "sweep DIR: refs-per-walk as PNG" "$(png_magic "$tmp/sd/refs-per-walk.png")" 89504e470d0a1a0a
expect_eq "sweep DIR: refs-per-walk.svg has both lines" \
	"$(grep -o -e 'guest-page=4K' -e 'guest-page=2M' "$tmp/sd/refs-per-walk.svg" | sort -u | tr '\n' ' ')" \
	"guest-page=2M guest-page=4K "
for p in p0001 p0002 p0003 p0004; do
	for f in walks grid; do
		expect_eq "sweep DIR: $p-$f.png" "$(png_magic "$tmp/sd/$p-$f.png")" 89504e470d0a1a0a
	done
done
expect_eq "sweep DIR: cells of 1000 in each point's grid" \
	"$(for p in p0001 p0002 p0003 p0004; do grep -o '>1000<' "$tmp/sd/$p-grid.svg" | wc -l; done | tr '\n' ' ')" \
	"24 19 24 19 "
check "sweep DIR: a point's picture names its values" \
	-n "$(grep 'point p0004: footprint=32M, guest-page=2M' "$tmp/sd/p0004-grid.svg")"
(cd "$tmp" && "$HV" sweep --list --dir pts trace --pattern random,chase --accesses 1000 | sh)
"$HV" sweep --collect "$tmp/pts" --plot "$tmp/c.png" >/dev/null 2>"$tmp/err"
expect_eq "collect png: status" $? 0
expect_eq "collect png: PNG signature" "$(png_magic "$tmp/c.png")" 89504e470d0a1a0a
"$HV" sweep --collect "$tmp/pts" --plot "$tmp/cd" >/dev/null 2>"$tmp/err"
expect_eq "collect DIR: status" $? 0
expect_eq "collect DIR: the files" "$(ls "$tmp/cd" | tr '\n' ' ')" \
	"p0001-grid.png p0001-grid.svg p0001-walks.png p0001-walks.svg p0002-grid.png p0002-grid.svg p0002-walks.png p0002-walks.svg refs-per-walk.png refs-per-walk.svg "

tl_finish
