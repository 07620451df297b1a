#!/bin/sh
# tests/fuzz/run-harness.sh SEEDS NAME SECONDS MAX_LEN [libFuzzer options...]
#
# Run tests/fuzz/NAME_fuzz (from the build directory) for SECONDS over its
# corpus, tests/fuzz/corpus-NAME or $FUZZ_CORPUS, and its seeds in
# SEEDS/NAME when there are any. Prints how many inputs ran; on a failure,
# the end of libFuzzer's report (the whole one is in tests/fuzz/NAME.log, the
# input that failed in tests/fuzz/) and exit status 1.
set -u
seeds=$1 name=$2 seconds=$3 maxlen=$4
shift 4
corpus=${FUZZ_CORPUS:-tests/fuzz/corpus-$name}
log=tests/fuzz/$name.log
mkdir -p "$corpus"
# -timeout flags one input that runs longer than FUZZ_TIMEOUT seconds as a
# hang. The slowest seeds (hv walk over a 24 GiB footprint) take about 5 s of
# CPU under ASan, and several times that in wall time on a loaded machine.
set -- -max_total_time="$seconds" -max_len="$maxlen" -timeout="${FUZZ_TIMEOUT:-90}" -rss_limit_mb=4096 \
	-artifact_prefix="$PWD/tests/fuzz/" -print_final_stats=1 "$@"
# The commands (cli: hv walk, hv domxml; cmd: the others) print their reports
# and messages.
case $name in cli|cmd) set -- -close_fd_mask=3 "$@" ;; esac
set -- "$@" "$corpus"
[ -d "$seeds/$name" ] && set -- "$@" "$seeds/$name"
if ! "./tests/fuzz/${name}_fuzz" "$@" >"$log" 2>&1; then
	echo "fuzz $name: FAILED (tests/fuzz/$name.log):" >&2
	grep -v '^#[0-9]' "$log" | tail -n 40 >&2
	exit 1
fi
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
echo "fuzz $name: ${runs:-?} inputs in $seconds s, none failed"
