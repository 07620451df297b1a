#!/bin/sh
# tests/domain_test.sh - libvirt domain XML: every examples/*.xml runs the
# same VM as the hv run command line in its <description> (the whole JSON
# report equal but for host timings), hv domxml writes it back as a fixed
# point, command-line options override the file, and what hv cannot honour
# is an error naming the element and its line, with exit status 2; libvirt
# is loaded only when a description is read, and its absence is named.
#
# Run by `make check` from the top build directory. Skips (77) when hv was
# built without libvirt.
set -u

HV=${HV:-./hv/hv}
GUEST=${GUEST:-./guest/guest.elf}
srcdir=${srcdir:-.}
. "$srcdir/tests/testlib.sh"
tl_init domain_test

if ! grep -q '^#define HAVE_LIBVIRT 1' config.h 2>/dev/null; then
	echo "domain_test: hv was built without libvirt, skipping" >&2
	exit 77
fi
tl_need "$HV" "$GUEST"

# The report without what varies from run to run (host timings) or names
# the kernel by another path.
report() { sed -e '/"host": {/,/}/d' -e '/^  "kernel": /d' "$1"; }

# Bounded runs: the first 300000 instructions of each example.
LIMIT="--max-insns 300000"

for ex in "$srcdir"/examples/*.xml; do
	name=$(basename "$ex" .xml)
	cmd=$(sed -n 's/^.*The same as: hv run \(.*\) KERNEL.*$/\1/p' "$ex")
	check "$name: has an equivalent command line" -n "$cmd"
	# The file and its command line run the same VM.
	"$HV" run --domain "$ex" $LIMIT --json "$GUEST" >"$tmp/$name.file.json" 2>"$tmp/err"
	expect_eq "$name: hv run --domain status" $? 6
	eval "\"\$HV\" run $cmd $LIMIT --json \"\$GUEST\"" >"$tmp/$name.cli.json" 2>"$tmp/err"
	expect_eq "$name: hv run status" $? 6
	report "$tmp/$name.file.json" >"$tmp/a"
	report "$tmp/$name.cli.json" >"$tmp/b"
	if cmp -s "$tmp/a" "$tmp/b"; then pass; else fail "$name: reports differ: $(diff "$tmp/a" "$tmp/b" | head -5)"; fi
	# domxml of the file is a fixed point, and equals domxml of the command line.
	"$HV" domxml --domain "$ex" "$GUEST" >"$tmp/$name.1.xml" || fail "$name: hv domxml --domain"
	"$HV" domxml --domain "$tmp/$name.1.xml" >"$tmp/$name.2.xml" || fail "$name: hv domxml twice"
	if cmp -s "$tmp/$name.1.xml" "$tmp/$name.2.xml"; then pass; else fail "$name: domxml is not a fixed point"; fi
	eval "\"\$HV\" domxml $cmd \"\$GUEST\"" | grep -v '<name>' >"$tmp/c"
	grep -v '<name>' "$tmp/$name.1.xml" >"$tmp/d"
	if cmp -s "$tmp/c" "$tmp/d"; then pass; else fail "$name: domxml of the command line differs: $(diff "$tmp/c" "$tmp/d" | head -5)"; fi
	# What domxml wrote runs the same VM again.
	"$HV" run --domain "$tmp/$name.1.xml" $LIMIT --json >"$tmp/$name.rt.json" 2>"$tmp/err"
	report "$tmp/$name.rt.json" >"$tmp/e"
	if cmp -s "$tmp/a" "$tmp/e"; then pass; else fail "$name: the round trip runs another VM"; fi
	# libvirt's own form (virDomainGetXMLDesc) runs the same VM, and gives
	# back the same hv form.
	"$HV" domxml --libvirt --domain "$ex" "$GUEST" >"$tmp/$name.lv.xml" 2>"$tmp/err"
	expect_eq "$name: hv domxml --libvirt status" $? 0
	check "$name: libvirt's form has libvirt's defaults" \
		-n "$(grep -e "<uuid>" "$tmp/$name.lv.xml" | head -n 1)$(grep "<boot dev='hd'/>" "$tmp/$name.lv.xml")"
	check "$name: libvirt's form has <on_reboot>restart" \
		-n "$(grep '<on_reboot>restart</on_reboot>' "$tmp/$name.lv.xml")"
	"$HV" run --domain "$tmp/$name.lv.xml" $LIMIT --json >"$tmp/$name.lv.json" 2>"$tmp/err"
	expect_eq "$name: hv run --domain of libvirt's form: status" $? 6
	report "$tmp/$name.lv.json" >"$tmp/f"
	if cmp -s "$tmp/a" "$tmp/f"; then pass; else fail "$name: libvirt's form runs another VM: $(head -3 "$tmp/err")"; fi
	"$HV" domxml --domain "$tmp/$name.lv.xml" >"$tmp/$name.3.xml" 2>"$tmp/err"
	if cmp -s "$tmp/$name.1.xml" "$tmp/$name.3.xml"; then pass; else fail "$name: hv domxml of libvirt's form differs"; fi
	# What libvirt's QEMU driver (virsh dumpxml on qemu:///system or
	# session) makes of the example, taken from it unchanged
	# (tests/data/libvirt-qemu/README): the same VM, the same hv form.
	q=$srcdir/tests/data/libvirt-qemu/$name.xml
	check "$name: libvirt's QEMU driver's form is in tests/data/libvirt-qemu" -f "$q"
	"$HV" run --domain "$q" $LIMIT --json "$GUEST" >"$tmp/$name.q.json" 2>"$tmp/err"
	expect_eq "$name: hv run --domain of the QEMU driver's form: status" $? 6
	report "$tmp/$name.q.json" >"$tmp/g"
	if cmp -s "$tmp/a" "$tmp/g"; then pass; else fail "$name: the QEMU driver's form runs another VM: $(head -3 "$tmp/err")"; fi
	"$HV" domxml --domain "$q" "$GUEST" >"$tmp/$name.4.xml" 2>"$tmp/err"
	if cmp -s "$tmp/$name.1.xml" "$tmp/$name.4.xml"; then pass; else fail "$name: hv domxml of the QEMU driver's form differs: $(diff "$tmp/$name.1.xml" "$tmp/$name.4.xml" | head -5)"; fi
done

ex=$srcdir/examples/nested-24.xml
# The command line overrides the file.
"$HV" run --domain "$ex" --memory 64M --tlb skylake --max-insns 1000 --json "$GUEST" \
	>"$tmp/o.json" 2>/dev/null
check "override: memory" -n "$(grep '^    "memory": 67108864,' "$tmp/o.json")"
check "override: tlb" -n "$(grep '"l1i_4k": {' "$tmp/o.json")"

# expect_refusal NAME SED-EXPR MESSAGE: the edited example is refused with
# status 2 and exactly one line matching MESSAGE on stderr.
expect_refusal() {
	sed "$2" "$ex" >"$tmp/$1.xml"
	"$HV" run --domain "$tmp/$1.xml" "$GUEST" >/dev/null 2>"$tmp/$1.err"
	expect_eq "$1: status" $? 2
	expect_eq "$1: message '$3'" "$(grep -c -- "$3" "$tmp/$1.err")" 1
}
expect_refusal vcpu2 's|<vcpu>1</vcpu>|<vcpu>2</vcpu>|' "$tmp/vcpu2.xml:13: <vcpu>: hv runs one vCPU"
expect_refusal disk 's|<memballoon model=.none./>|\
<disk type="file" device="disk"><source file="/tmp/x.img"/><target dev="vda" bus="virtio"/></disk>&|' \
	"$tmp/disk.xml:21: <disk>: hv has no block devices"
# A schema error is libvirt's own message, printed once.
expect_refusal schema 's|<vcpu>1</vcpu>|<vcpus>1</vcpus>|' "failed to validate against schema"
expect_refusal hvmem 's|<hv:tlb>none</hv:tlb>|<hv:memory>1G</hv:memory>|' \
	"$tmp/hvmem.xml:8: <hv:memory>: this setting has a libvirt element of its own"
expect_refusal hvunknown 's|<hv:tlb>none</hv:tlb>|<hv:frobnicate>1</hv:frobnicate>|' \
	"$tmp/hvunknown.xml:8: <hv:frobnicate>: unknown or incomplete option '--frobnicate=1'"
expect_refusal hvbad 's|<hv:tlb>none</hv:tlb>|<hv:ept-levels>6</hv:ept-levels>|' \
	"$tmp/hvbad.xml:8: <hv:ept-levels>: --ept-levels: '6' is not 4 or 5"
expect_refusal relkernel 's|</cmdline>|</cmdline><kernel>guest.elf</kernel>|' \
	"<kernel>: libvirt needs an absolute path"
# libvirt's defaults are accepted as it writes them, other values are not.
expect_refusal boot-net "s|</cmdline>|</cmdline><boot dev='network'/>|" \
	"$tmp/boot-net.xml:16: <boot>: hv boots <kernel> directly"
expect_refusal clock-local "s|</os>|</os><clock offset='localtime'/>|" \
	"$tmp/clock-local.xml:17: <clock>: hv's guest has no wall clock: <clock offset='utc'/> (libvirt's default) or none"
expect_refusal clock-timer "s|</os>|</os><clock offset='utc'><timer name='rtc' tickpolicy='catchup'/></clock>|" \
	"$tmp/clock-timer.xml:17: <timer>: hv's clock is fixed"
expect_refusal reboot-preserve "s|</os>|</os><on_reboot>preserve</on_reboot>|" \
	"$tmp/reboot-preserve.xml:17: <on_reboot>: a reset ends hv's run: 'destroy' (or libvirt's default 'restart', docs/domain.md)"
# What libvirt's QEMU driver writes into every domain is accepted as it
# writes it (tests/data/libvirt-qemu), other values of the same elements are
# not: a guest would see them under QEMU and not under hv.
expect_refusal machine-pc "s|machine='q35'|machine='pc-i440fx-7.2'|" \
	"$tmp/machine-pc.xml:15: <type>: hv's machine is a q35 (its PCI host bridge is the q35's): machine='q35', or pc-q35-\* as libvirt's QEMU driver writes it"
expect_refusal cpu-model "s|</os>|</os><cpu mode='custom' match='exact'><model>Skylake-Client</model></cpu>|" \
	"$tmp/cpu-model.xml:17: <cpu>: hv's vCPU model is fixed (--cpu turns features off): only libvirt's default"
expect_refusal usb "s|<controller type='usb' model='none'/>|<controller type='usb' index='0' model='piix3-uhci'/>|" \
	"$tmp/usb.xml:19: <controller>: hv has no controllers beyond its q35's own"
expect_refusal sata-elsewhere "s|<controller type='usb' model='none'/>|<controller type='sata' index='0'><address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></controller>|" \
	"$tmp/sata-elsewhere.xml:19: <controller>: hv has no controllers beyond its q35's own"
expect_refusal balloon "s|<memballoon model='none'/>|<memballoon model='virtio'/>|" \
	"$tmp/balloon.xml:20: <memballoon>: hv has no memory balloon"
expect_refusal keyboard "s|<memballoon model='none'/>|<input type='keyboard' bus='virtio'/><memballoon model='none'/>|" \
	"$tmp/keyboard.xml:20: <input>: hv has no input devices besides the serial port"
expect_refusal audio "s|<memballoon model='none'/>|<audio id='1' type='pulseaudio'/><memballoon model='none'/>|" \
	"$tmp/audio.xml:20: <audio>: hv has no sound device: only <audio type='none'/>"
sed "s|</cmdline>|</cmdline><boot dev='hd'/>|; s|</os>|</os><clock offset='utc'/><on_reboot>restart</on_reboot>|" \
	"$ex" >"$tmp/defaults.xml"
"$HV" run --domain "$tmp/defaults.xml" --max-insns 1000 --json "$GUEST" >/dev/null 2>"$tmp/err"
expect_eq "libvirt's defaults written by hand: accepted" "$?:$(grep -c 'domain' "$tmp/err")" "6:0"
# hv domxml: libvirt validates what it prints.
"$HV" domxml --libvirt "$GUEST" | grep -c '<uuid>' >"$tmp/n"
expect_eq "hv domxml --libvirt without a file: a <uuid>" "$(cat "$tmp/n")" 1

# The edu device (<hostdev>) and its VT-d unit (<iommu>): only as hv has them.
ex=$srcdir/examples/edu-dma.xml
expect_refusal iommu-alone '/<hostdev/,/<\/hostdev>/d' \
	"$tmp/iommu-alone.xml:15: <iommu>: hv's VT-d unit translates the DMA of its edu device: add the <hostdev> for it"
expect_refusal iommu-smmu "s|<iommu model='intel'/>|<iommu model='smmuv3'/>|" \
	"$tmp/iommu-smmu.xml:21: <iommu>: hv models Intel VT-d: model='intel'"
expect_refusal iommu-driver "s|<iommu model='intel'/>|<iommu model='intel'><driver aw_bits='48'/></iommu>|" \
	"$tmp/iommu-driver.xml:21: <driver>: hv's VT-d unit has fixed capabilities"
expect_refusal hostdev-slot "s|slot='0x03'|slot='0x04'|" \
	"$tmp/hostdev-slot.xml:15: <hostdev>: hv gives a guest one device, its model of QEMU's edu at 0000:00:03.0"
expect_refusal hostdev-two "s|<iommu model='intel'/>|<hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></source></hostdev>|" \
	"$tmp/hostdev-two.xml:21: <hostdev>: hv has one edu device"
expect_refusal hv-edu "s|<os>|<metadata><hv:hv xmlns:hv='urn:hv:domain:1'><hv:edu/></hv:hv></metadata><os>|" \
	"<hv:edu>: this setting has a libvirt element of its own"

# Pass-through: the <hostdev> with VFIO's driver, and no guest-visible <iommu>.
ex=$srcdir/examples/edu-passthrough.xml
expect_refusal pt-iommu "s|</hostdev>|</hostdev><iommu model='intel'/>|" \
	"$tmp/pt-iommu.xml:22: <iommu>: the DMA of hv's pass-through edu goes through a VT-d unit the guest does not see: no <iommu> with <driver name='vfio'/>"
expect_refusal pt-kvm "s|<driver name='vfio'/>|<driver name='kvm'/>|" \
	"$tmp/pt-kvm.xml:17: <driver>: hv hands its edu to the guest as VFIO does: <driver name='vfio'/>"
"$HV" domxml --passthrough separate --no-iommu "$GUEST" >"$tmp/out" 2>"$tmp/err"
expect_eq "domxml --passthrough --no-iommu: status" $? 2
expect_eq "domxml --passthrough --no-iommu: message" "$(cat "$tmp/err")" \
	"hv domxml: --passthrough with --no-iommu: libvirt's pass-through (<driver name='vfio'/>) always has the host's IOMMU, so there is no domain XML for it"
"$HV" domxml --passthrough separate "$GUEST" >"$tmp/pt.xml"
expect_eq "domxml --passthrough separate: VFIO's driver, no <iommu>, no metadata" \
	"$(grep -c -e "<driver name='vfio'/>" -e '<iommu' -e '<metadata>' "$tmp/pt.xml")" 1
"$HV" domxml --edu --passthrough shared "$GUEST" >"$tmp/pt2.xml"
expect_eq "domxml --edu --passthrough shared: VFIO's driver and <hv:passthrough>" \
	"$(grep -c -e "<driver name='vfio'/>" -e '<hv:passthrough>shared</hv:passthrough>' -e '<iommu' "$tmp/pt2.xml")" 2

# libvirt and libxml2 are loaded only when a description is read: hv itself
# does not link them, and a library that cannot be loaded is named, with the
# Debian package to install, and exit status 2.
if command -v ldd >/dev/null 2>&1; then
	expect_eq "hv does not link libvirt or libxml2" \
		"$(ldd "$HV" | grep -c -e 'libvirt\.so' -e 'libxml2\.so')" 0
fi
mkdir "$tmp/lib"
: >"$tmp/lib/libvirt.so.0"
LD_LIBRARY_PATH=$tmp/lib "$HV" run --domain "$srcdir/examples/dirty.xml" "$GUEST" >"$tmp/out" 2>"$tmp/err"
expect_eq "no loadable libvirt: status" $? 2
expect_eq "no loadable libvirt: the message names the package" \
	"$(sed -n 's/^\(hv run: domain XML needs libvirt.so.0 (Debian package libvirt0)\): .*/\1/p' "$tmp/err")" \
	"hv run: domain XML needs libvirt.so.0 (Debian package libvirt0)"
LD_LIBRARY_PATH=$tmp/lib "$HV" domxml "$GUEST" >"$tmp/out" 2>"$tmp/err"
expect_eq "no loadable libvirt: hv domxml's status" $? 2
check "no loadable libvirt: hv domxml prints nothing on standard output" ! -s "$tmp/out"

tl_finish
