#!/bin/sh
# tests/guest_qemu_test.sh - boot guest/guest.elf under QEMU (TCG) once per
# workload and check what the guest reports: exit status 1 (isa-debug-exit
# write of 0, QEMU's (0 << 1) | 1), and a last line
# `RESULT <workload> ok checksum=<16 hex digits>`. Also: the checksum of a
# workload does not depend on the guest page size (4 KiB vs 2 MiB), a
# footprint larger than RAM ends in `RESULT ... FAIL` with status 3, and the
# kernel contains no SSE/x87 instructions (hv's software vCPU has none).
#
# Run by `make check` from the top build directory (VPATH builds included);
# GUEST and QEMU override the kernel and the emulator. Skips (77) when QEMU
# is not installed.
set -u

GUEST=${GUEST:-./guest/guest.elf}
QEMU=${QEMU:-qemu-system-x86_64}
. "${srcdir:-.}/tests/testlib.sh"
tl_init guest_qemu_test

if ! command -v "$QEMU" >/dev/null 2>&1; then
	echo "guest_qemu_test: $QEMU not found, skipping" >&2
	exit 77
fi
tl_need "$GUEST"


# boot NAME MEM APPEND: run the guest, leave its serial output in $tmp/NAME
# and its exit status in $status.
boot() {
	qemu_boot "$tmp/$1" "$2" "$3"
}

checksum_of() {
	tail -n 1 "$tmp/$1" | sed -n 's/^RESULT [a-z]* [a-zA-Z]* checksum=\([0-9a-f]\{16\}\)$/\1/p'
}

# expect_ok NAME WORKLOAD APPEND
expect_ok() {
	boot "$1" 128M "$3"
	if [ "$status" -ne 1 ]; then
		fail "$3: exit status $status, want 1 (guest wrote 0 to port 0xf4)"
		sed 's/^/  | /' "$tmp/$1" "$tmp/$1.err" >&2
		return
	fi
	if tail -n 1 "$tmp/$1" | grep -Eq "^RESULT $2 ok checksum=[0-9a-f]{16}\$"; then
		pass
	else
		fail "$3: last line is '$(tail -n 1 "$tmp/$1")'"
	fi
	if grep -q 'PANIC\|unexpected' "$tmp/$1"; then
		fail "$3: the kernel reported an unexpected fault"
	else
		pass
	fi
}

for w in random seq stride chase cow protect compute memloop; do
	expect_ok "$w" "$w" "workload=$w iters=200000"
done
expect_ok all all ""
expect_ok random2m random "workload=random iters=200000 pages=2m"
expect_ok chase2m chase "workload=chase iters=200000 pages=2m seed=7"
expect_ok chase4k chase "workload=chase iters=200000 pages=4k seed=7"

# The data, not the mapping, decides the checksum.
a=$(checksum_of random)
b=$(checksum_of random2m)
if [ -n "$a" ] && [ "$a" = "$b" ]; then pass; else fail "random checksum 4k '$a' vs 2m '$b'"; fi
a=$(checksum_of chase4k)
b=$(checksum_of chase2m)
if [ -n "$a" ] && [ "$a" = "$b" ]; then pass; else fail "chase checksum 4k '$a' vs 2m '$b'"; fi
# ... and the seed does change it.
a=$(checksum_of chase)
if [ -n "$a" ] && [ "$a" != "$b" ]; then pass; else fail "chase seed 1 and 7 gave '$a' and '$b'"; fi

# One demand fault per 4 KiB page of a 16 MiB region touched everywhere.
if grep -q '^random: 4096 pages of 4 KiB mapped on demand, all freed$' "$tmp/random"; then
	pass
else
	fail "random: expected 4096 demand-zero pages"
fi
# Fork: the child's write stays in the child.
if grep -q '^cow: parent: child exited with status 7, parent reads 100$' "$tmp/cow"; then
	pass
else
	fail "cow: parent did not read its own value"
fi
# SDM 4.6: ring 3 may not read a U=0 page; error 0x5 = present | user.
if grep -q '^cow: pid 3 killed: page fault at 0x100000, error 0x5,' "$tmp/cow"; then
	pass
else
	fail "cow: a user read of kernel memory was not refused"
fi
# SDM 4.7: write to a present read-only page 0x3, fetch from an NX page 0x11.
if grep -q 'write the read-only page *-> #PF error 0x3 ' "$tmp/protect" &&
	grep -q 'call the no-execute alias *-> #PF error 0x11 ' "$tmp/protect"; then
	pass
else
	fail "protect: page-fault error codes"
fi

# A region larger than RAM is refused, and the failure reaches the exit status.
boot toolarge 128M "workload=random footprint=1G"
if [ "$status" -eq 3 ] && tail -n 1 "$tmp/toolarge" | grep -q '^RESULT random FAIL '; then
	pass
else
	fail "footprint=1G in 128M: status $status, last line '$(tail -n 1 "$tmp/toolarge")'"
fi

# No floating point or SIMD instructions anywhere in the kernel.
if command -v objdump >/dev/null 2>&1; then
	if objdump -d "$GUEST" | grep -Eq 'xmm|ymm|zmm|fld|fst'; then
		fail "guest.elf contains SSE/AVX/x87 instructions"
	else
		pass
	fi
fi

tl_finish
