#!/bin/sh
# tests/lackey_test.sh - hv trace reads valgrind lackey traces: the format is
# detected from the content, M is a load then a store, an access that crosses
# a page is one translation per page, pages are mapped on first touch
# anywhere in the canonical address space, a non-canonical address is an
# error naming its line; SIGINT/SIGTERM on a pipe reports what was read. tests/data/small.lackey is written by hand (its
# counts follow from the rules above); tests/data/true-head.lackey is the
# first 2000 records of `valgrind --tool=lackey --trace-mem=yes /bin/true`.
set -u

HV=${HV:-./hv/hv}
srcdir=${srcdir:-.}
. "$srcdir/tests/testlib.sh"
tl_init lackey_test

tl_need "$HV"

small=$srcdir/tests/data/small.lackey
# No caches: every translation is a full 24-reference walk.
"$HV" trace --file "$small" --tlb none --pwc none --json >"$tmp/small.json" 2>"$tmp/err"
expect_eq "small: status" $? 0
expect_eq "small: format detected" "$(sed -n 's/^ *"format": "\(.*\)",*$/\1/p' "$tmp/small.json")" lackey
expect_eq "small: records" "$(jnum "$tmp/small.json" records)" 5
# I, L across a page (2), S, M (load + store), I across a page (2).
expect_eq "small: translations" "$(jnum "$tmp/small.json" translations)" 8
expect_eq "small: fetches" "$(jnum "$tmp/small.json" fetches)" 3
expect_eq "small: reads" "$(jnum "$tmp/small.json" reads)" 3
expect_eq "small: writes" "$(jnum "$tmp/small.json" writes)" 2
expect_eq "small: walks" "$(jnum "$tmp/small.json" walks)" 8
expect_eq "small: walk_refs" "$(jnum "$tmp/small.json" walk_refs)" 192
expect_eq "small: pages touched" "$(jnum "$tmp/small.json" pages_touched)" 5
expect_eq "small: faults" "$(jnum "$tmp/small.json" faulted_accesses)" 0
# 2M guest pages: the two pages near 0x7ff001000 are one, and so are 0x400000/0x401000.
"$HV" trace --file "$small" --guest-page 2M --ept-page 2M --tlb none --pwc none --json \
	>"$tmp/small2m.json" 2>/dev/null
expect_eq "small 2M: translations" "$(jnum "$tmp/small2m.json" translations)" 6
expect_eq "small 2M: pages touched" "$(jnum "$tmp/small2m.json" pages_touched)" 3
expect_eq "small 2M: walk_refs (15 a walk)" "$(jnum "$tmp/small2m.json" walk_refs)" 90

# A real program: translations = records + M records + page crossings,
# counted here independently of hv.
real=$srcdir/tests/data/true-head.lackey
want=$(awk '
	function hex(s,  i, v) { v = 0; s = tolower(s)
		for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
		return v }
	/^(I | [LSM]) / { split($2, f, ","); a = hex(f[1]); n = 1
		if ((a % 4096) + f[2] > 4096) n = 2
		t += ($1 == "M") ? 2 * n : n; r++ }
	END { print r, t }' "$real")
"$HV" trace --file "$real" --json >"$tmp/real.json" 2>"$tmp/err"
expect_eq "true: status" $? 0
expect_eq "true: records translations" \
	"$(jnum "$tmp/real.json" records) $(jnum "$tmp/real.json" translations)" "$want"
expect_eq "true: walks (Skylake caches)" "$(jnum "$tmp/real.json" walks)" 13
expect_eq "true: walk_refs" "$(jnum "$tmp/real.json" walk_refs)" 42
expect_eq "true: pages touched" "$(jnum "$tmp/real.json" pages_touched)" 11
expect_eq "true: faults" "$(jnum "$tmp/real.json" faulted_accesses)" 0

# Errors name the line.
printf 'I  00400000,4\n L 800000000000,8\n' >"$tmp/noncanon.lackey"
"$HV" trace --file "$tmp/noncanon.lackey" >/dev/null 2>"$tmp/err"
expect_eq "non-canonical: status" $? 1
check "non-canonical: names line 2" -n "$(grep "noncanon.lackey:2: address 0x800000000000 is not canonical" "$tmp/err")"
"$HV" trace --file "$tmp/noncanon.lackey" --guest-levels 5 --json >"$tmp/la57.json" 2>/dev/null
expect_eq "LA57: the same address is canonical" "$(jnum "$tmp/la57.json" translations)" 2
"$HV" trace --file "$small" --format hv >/dev/null 2>"$tmp/err"
expect_eq "--format hv on lackey: status" $? 1
check "--format hv on lackey: names line 1" -n "$(grep 'small.lackey:1: expected an access type' "$tmp/err")"
printf 'I  00400000\n' >"$tmp/nosize.lackey"
"$HV" trace --file "$tmp/nosize.lackey" --format lackey >/dev/null 2>"$tmp/err"
check "no size: names line 1" -n "$(grep 'nosize.lackey:1: expected ADDRESS,SIZE' "$tmp/err")"
"$HV" trace --format lackey >/dev/null 2>&1
expect_eq "--format without --file: status" $? 2
# More pages than the footprint holds.
"$HV" trace --file "$small" --footprint 16K >/dev/null 2>"$tmp/err"
expect_eq "footprint used up: status" $? 1
check "footprint used up: message" -n "$(grep 'small.lackey:8: more than 4 pages touched: the footprint (16 KiB) is used up' "$tmp/err")"

# Compressed traces read as they are, with the same counts (when hv has zlib
# / liblzma and the compressors are installed).
counts() { grep -E '"(translations|walks|walk_refs|records|pages_touched)"' "$1"; }
"$HV" trace --file "$real" --json >"$tmp/plain.json" 2>/dev/null
if grep -q '^#define HAVE_ZLIB 1' config.h 2>/dev/null && command -v gzip >/dev/null; then
	gzip -c "$real" >"$tmp/real.gz"
	"$HV" trace --file "$tmp/real.gz" --json >"$tmp/gz.json" 2>"$tmp/err"
	expect_eq "gzip: status" $? 0
	expect_eq "gzip: same counts" "$(counts "$tmp/gz.json")" "$(counts "$tmp/plain.json")"
	# Through a pipe: the magic bytes are read from the stream, then given back.
	"$HV" trace --file - --json <"$tmp/real.gz" >"$tmp/gzin.json" 2>"$tmp/err"
	expect_eq "gzip on stdin: status" $? 0
	expect_eq "gzip on stdin: same counts" "$(counts "$tmp/gzin.json")" "$(counts "$tmp/plain.json")"
	cat "$tmp/real.gz" "$tmp/real.gz" | "$HV" trace --file - --json >"$tmp/gz2.json" 2>"$tmp/err"
	expect_eq "two gzip members: twice the records" "$(jnum "$tmp/gz2.json" records)" \
		"$(($(jnum "$tmp/plain.json" records) * 2))"
	# A truncated or corrupt file: the lines before the damage are read,
	# and the error names the line it cut and what the decompressor said.
	head -c 300 "$tmp/real.gz" >"$tmp/cut.gz"
	n=$(($(gzip -dc <"$tmp/cut.gz" 2>/dev/null | wc -l) + 1))
	"$HV" trace --file - <"$tmp/cut.gz" >/dev/null 2>"$tmp/err"
	expect_eq "truncated gzip on a pipe: status" $? 1
	expect_eq "truncated gzip on a pipe: message" "$(cat "$tmp/err")" \
		"stdin:$n: gzip data ends early: the file is truncated"
	check "truncated gzip: some lines were read first" "$n" -gt 1
	n=$(($(wc -l <"$real") + 1))
	{ cat "$tmp/real.gz"; echo garbage; } | "$HV" trace --file - >/dev/null 2>"$tmp/err"
	expect_eq "gzip then other data: message" "$(cat "$tmp/err")" \
		"stdin:$n: gzip data is corrupt (zlib: incorrect header check)"
	# Another CRC-32 in the trailer (its 8th to 5th bytes from the end).
	{ head -c -8 "$tmp/real.gz"; printf '\001\002\003\004'; tail -c 4 "$tmp/real.gz"; } >"$tmp/crc.gz"
	"$HV" trace --file "$tmp/crc.gz" >/dev/null 2>"$tmp/err"
	expect_eq "gzip with a wrong CRC: message" "$(cat "$tmp/err")" \
		"$tmp/crc.gz:$n: gzip data is corrupt (zlib: incorrect data check)"
fi
# Plain text on standard input, from a pipe and from a file.
cat "$real" | "$HV" trace --file - --json >"$tmp/in.json" 2>"$tmp/err"
expect_eq "stdin (pipe): status" $? 0
expect_eq "stdin (pipe): same counts" "$(counts "$tmp/in.json")" "$(counts "$tmp/plain.json")"
"$HV" trace --file - --json <"$real" >"$tmp/in.json" 2>"$tmp/err"
expect_eq "stdin (file): same counts" "$(counts "$tmp/in.json")" "$(counts "$tmp/plain.json")"
printf ' L 7ff000000,8\n L 800000000000,8\n' | "$HV" trace --file - >/dev/null 2>"$tmp/err"
expect_eq "stdin: an error names stdin" "$(cat "$tmp/err")" \
	"stdin:2: address 0x800000000000 is not canonical for 4-level paging (bits 63:47 must equal bit 47)"
"$HV" trace --file - </dev/null >/dev/null 2>"$tmp/err"
expect_eq "stdin, empty: message" "$(cat "$tmp/err")" "stdin: no accesses in the file"
if grep -q '^#define HAVE_LZMA 1' config.h 2>/dev/null && command -v xz >/dev/null; then
	xz -c "$real" >"$tmp/real.xz"
	"$HV" trace --file "$tmp/real.xz" --json >"$tmp/xz.json" 2>"$tmp/err"
	expect_eq "xz: status" $? 0
	expect_eq "xz: same counts" "$(counts "$tmp/xz.json")" "$(counts "$tmp/plain.json")"
	xz -c "$real" | "$HV" trace --file - --json >"$tmp/xzin.json" 2>"$tmp/err"
	expect_eq "xz on a pipe: same counts" "$(counts "$tmp/xzin.json")" "$(counts "$tmp/plain.json")"
	head -c 200 "$tmp/real.xz" >"$tmp/cut.xz"
	n=$(($(xz -dc <"$tmp/cut.xz" 2>/dev/null | wc -l) + 1))
	"$HV" trace --file "$tmp/cut.xz" >/dev/null 2>"$tmp/err"
	expect_eq "truncated xz: status" $? 1
	expect_eq "truncated xz: message" "$(cat "$tmp/err")" \
		"$tmp/cut.xz:$n: xz data ends early (a truncated file, or data after the end)"
fi

# SIGINT or SIGTERM while hv trace waits on a pipe for more records: what it
# read is replayed and reported, exactly small.lackey's counts, with the exit
# status 128 + the signal. hv is known to wait when it sits in read(0, ...).
# The same for gzip and xz data on the pipe: what arrived is decompressed and
# replayed before hv waits for more (it used to wait for 64 KiB of input
# first, and replayed nothing here).
cases="plain:INT:130 plain:TERM:143"
if grep -q '^#define HAVE_ZLIB 1' config.h 2>/dev/null && command -v gzip >/dev/null; then
	cases="$cases gzip:INT:130"
fi
if grep -q '^#define HAVE_LZMA 1' config.h 2>/dev/null && command -v xz >/dev/null; then
	cases="$cases xz:TERM:143"
fi
if [ -r /proc/self/syscall ]; then
	for c in $cases; do
		how=${c%%:*}
		want=${c##*:}
		sig=${c#*:}
		sig=${sig%:*}
		case $how in
		plain) cat "$small" ;;
		gzip) gzip -c "$small" ;;
		xz) xz -c "$small" ;;
		esac >"$tmp/sig.in"
		rm -f "$tmp/fifo"
		mkfifo "$tmp/fifo"
		"$HV" trace --file - --tlb none --pwc none --json <"$tmp/fifo" >"$tmp/sig.json" 2>"$tmp/sig.err" &
		pid=$!
		exec 3>"$tmp/fifo"
		cat "$tmp/sig.in" >&3
		k=0
		while [ $k -lt 600 ] && ! grep -q '^0 0x0 ' "/proc/$pid/syscall" 2>/dev/null; do
			sleep 0.1
			k=$((k + 1))
		done
		kill -$sig $pid
		# A hv that ignores the signal must not hang the test.
		k=0
		while [ $k -lt 600 ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] &&
			[ -e "/proc/$pid" ]; do
			sleep 0.1
			k=$((k + 1))
		done
		[ $k -ge 600 ] && kill -KILL $pid
		wait $pid
		expect_eq "SIG$sig on a pipe ($how): status" $? "$want"
		exec 3>&-
		expect_eq "SIG$sig on a pipe ($how): translations" "$(jnum "$tmp/sig.json" translations)" 8
		expect_eq "SIG$sig on a pipe ($how): references" "$(jnum "$tmp/sig.json" walk_refs)" 192
		expect_eq "SIG$sig on a pipe ($how): stopped_by" \
			"$(sed -n 's/^  "stopped_by": "\(.*\)"$/\1/p' "$tmp/sig.json")" "SIG$sig"
		expect_eq "SIG$sig on a pipe ($how): said on stderr" "$(cat "$tmp/sig.err")" \
			"hv trace: stopped by SIG$sig after 8 translations"
	done
fi
# A replay that ends by itself says nothing of a signal.
"$HV" trace --file "$small" --json >"$tmp/nosig.json"
check "no signal: no stopped_by" -z "$(grep stopped_by "$tmp/nosig.json")"

tl_finish
