#!/bin/sh
# tests/man_test.sh - the manual page renders with `man -l` without a
# warning and names every command and every option that `hv COMMAND --help`
# lists; the bash completion offers the commands, a command's options and
# the --tlb presets. Skips (77) without man.
set -u

HV=${HV:-./hv/hv}
srcdir=${srcdir:-.}
. "$srcdir/tests/testlib.sh"
tl_init man_test

if ! command -v man >/dev/null 2>&1; then
	echo "man_test: man is not installed, skipping" >&2
	exit 77
fi
tl_need "$HV"

LC_ALL=C MANWIDTH=80 man --warnings -l "$srcdir/docs/hv.1" >"$tmp/man.txt" 2>"$tmp/man.err"
expect_eq "man -l status" $? 0
expect_eq "man -l warnings" "$(cat "$tmp/man.err")" ""
check "man page rendered" -s "$tmp/man.txt"

check "man page has hv domxml" -n "$(grep -- "hv domxml" "$tmp/man.txt")"
for cmd in run trace walk bench sweep; do
	check "man page has hv $cmd" -n "$(grep -- "hv $cmd" "$tmp/man.txt")"
	# The options are the lines of the help text that start with one.
	"$HV" "$cmd" --help | sed -n 's/^ *\(-[a-zA-Z], \)\{0,1\}\(--[a-z][a-z0-9-]*\).*/\2/p' |
		sort -u >"$tmp/opts"
	check "hv $cmd --help lists options" -s "$tmp/opts"
	while read -r opt; do
		check "man page has $opt (hv $cmd)" -n "$(grep -- "$opt\\b" "$tmp/man.txt")"
	done <"$tmp/opts"
done
check "man page has EXIT STATUS" -n "$(grep '^EXIT STATUS' "$tmp/man.txt")"
check "man page has EXAMPLES" -n "$(grep '^EXAMPLES' "$tmp/man.txt")"
check "man page has --output" -n "$(grep -- '--output' "$tmp/man.txt")"

if command -v bash >/dev/null 2>&1; then
	# complete WORDS...: what the completion offers for the last word.
	complete_words() {
		bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _hv; echo "${COMPREPLY[*]}"' \
			sh "$srcdir/scripts/hv.bash-completion" "$HV" "$@"
	}
	expect_eq "completion: commands" "$(complete_words d)" "domxml"
	expect_eq "completion: run options" "$(complete_words run --dom)" "--domain"
	expect_eq "completion: trace options" "$(complete_words trace --acc)" "--access --accesses"
	check "completion: presets" -n "$(complete_words trace --tlb sky | grep -w skylake)"
	expect_eq "completion: page sizes" "$(complete_words trace --ept-page 2)" "2M"
	expect_eq "completion: sweep options" "$(complete_words sweep --co)" "--collect"
	expect_eq "completion: swept command" "$(complete_words sweep --jobs 2 t)" "trace"
	expect_eq "completion: swept command's options" "$(complete_words sweep --jobs 2 trace --pat)" "--pattern"
	expect_eq "completion: swept command's values" "$(complete_words sweep trace --pattern c)" "chase"
fi

tl_finish
