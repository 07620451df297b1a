# tests/testlib.sh - shared by the shell tests (sourced, not run).
#
#   tl_init NAME      a scratch directory in $tmp, removed on exit
#   tl_need FILE...   what the test cannot do without (hv, a guest kernel):
#                     the first one missing is named and the test is an error
#                     (exit 99)
#   tl_want FILE...   the same, but the test is skipped (exit 77)
#   pass, fail MSG    count one check
#   check WHAT EXPR   pass when the test(1) expression EXPR holds
#   expect_eq WHAT GOT WANT
#   jnum FILE KEY     the first number member KEY of a JSON report (hv's layout:
#                     one member a line)
#   qemu_boot OUT MEM APPEND   boot $GUEST under $QEMU (TCG, machine
#                     $QEMU_MACHINE or q35, isa-debug-exit at 0xf4, serial on
#                     stdout) into OUT; status in $status
#   same_lines WHO FILE  FILE holds exactly the lines of $tmp/want
#   tl_finish         print the tally and return non-zero if a check failed
#   jget FILE PATH    a scalar of an hv --json report
#   hvrun NAME ARGS   `$HV run --json` into $tmp/NAME.{json,out,err}; status in $status
#   probe_both MEM    $GUEST, a probe that ends through isa-debug-exit, under hv
#                     (`hvrun hv`) and under $QEMU when it is installed, with MEM
#                     of RAM: each exits with status 1 and prints $tmp/want

tl_init() {
	tl_name=$1
	fails=0
	checks=0
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/hv-$tl_name.XXXXXX") || exit 99
	trap 'rm -rf "$tmp"' EXIT INT TERM
}

tl_need() {
	for f; do
		[ -e "$f" ] && continue
		echo "$tl_name: $f is not built" >&2
		exit 99
	done
}

tl_want() {
	for f; do
		[ -e "$f" ] && continue
		echo "$tl_name: $f is not built, skipping" >&2
		exit 77
	done
}

pass() { checks=$((checks + 1)); }

fail() {
	checks=$((checks + 1))
	fails=$((fails + 1))
	echo "FAIL: $*" >&2
}

check() {
	what=$1
	shift
	if [ "$@" ]; then pass; else fail "$what ($*)"; fi
}

expect_eq() {
	if [ "$2" = "$3" ]; then pass; else fail "$1: got '$2', want '$3'"; fi
}

jnum() {
	sed -n "s/^ *\"$2\": \\([0-9.e+-]*\\),\\{0,1\\}\$/\\1/p" "$1" | head -n 1
}

# The command line the README and docs/guest.md give for QEMU, plus what a
# test needs: no monitor, no default devices, no reboot on a triple fault.
qemu_boot() {
	timeout 60 "$QEMU" -accel tcg -M "${QEMU_MACHINE:-q35}" -cpu max -m "$2" -kernel "$GUEST" \
		-append "$3" -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-display none -serial stdio -monitor none -no-reboot -nodefaults \
		</dev/null >"$1" 2>"$1.err"
	status=$?
}

same_lines() {
	if cmp -s "$tmp/want" "$2"; then
		pass
	else
		fail "$1: serial output differs from the expected lines"
		diff "$tmp/want" "$2" | sed 's/^/  | /' >&2
	fi
}

tl_finish() {
	echo "$tl_name: $checks checks, $fails failed"
	[ "$fails" -eq 0 ]
}

# jget FILE PATH: the scalar at PATH (/obj/key) in the JSON report. The
# writer puts one member per line and closes containers on their own line,
# which is all this needs.
jget() {
	awk -v want="$2" '
	NR == 1 { next }
	{
		line = $0
		sub(/^[ \t]+/, "", line)
		key = ""
		if (line ~ /^"[^"]*": /) {
			key = line
			sub(/^"/, "", key)
			sub(/".*/, "", key)
		}
	}
	line ~ /^[}\]]/ { sub(/\/[^\/]*$/, "", path); next }
	line ~ /[{[]$/ { path = path "/" key; next }
	key != "" {
		v = line
		sub(/^"[^"]*": /, "", v)
		sub(/,$/, "", v)
		if (path "/" key == want)
			print v
	}' "$1"
}

# hvrun NAME [hv options...] KERNEL: JSON in $tmp/NAME.json, serial output in
# $tmp/NAME.out, hv's stderr in $tmp/NAME.err, exit status in $status.
hvrun() {
	name=$1
	shift
	timeout 120 "$HV" run --json --serial "$tmp/$name.out" "$@" >"$tmp/$name.json" \
		2>"$tmp/$name.err" </dev/null
	status=$?
}

# probe_both MEM: boot $GUEST with MEM of RAM under hv (report in $tmp/hv.json)
# and, when $QEMU is installed, under QEMU TCG; each must exit with status 1
# (the guest wrote 0 to isa-debug-exit) having printed exactly $tmp/want.
probe_both() {
	hvrun hv --memory "$1" "$GUEST"
	expect_eq "hv: exit status (isa-debug-exit 0)" "$status" 1
	same_lines hv "$tmp/hv.out"
	if command -v "$QEMU" >/dev/null 2>&1; then
		qemu_boot "$tmp/qemu.out" "$1" ""
		expect_eq "QEMU: exit status (isa-debug-exit 0)" "$status" 1
		same_lines QEMU "$tmp/qemu.out"
	else
		echo "$tl_name: $QEMU not found, hv only" >&2
	fi
}
