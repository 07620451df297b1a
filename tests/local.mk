# tests/: vCPU tests and guest boot tests (module unit tests are declared in each module's local.mk).
EXTRA_DIST += tests/testutil.h tests/testlib.sh

# The hv command line: exact reference counts from hv trace, hv walk's
# explanations and fault decoding, usage errors (run from the build dir).
TESTS += tests/cli_test.sh
EXTRA_DIST += tests/cli_test.sh

# The guest kernel under QEMU: every workload's RESULT line and exit status.
TESTS += tests/guest_qemu_test.sh
EXTRA_DIST += tests/guest_qemu_test.sh

# Unit tests need cmocka (configure's summary says whether it was found);
# a new cmocka test goes inside an `if HAVE_CMOCKA` block.
if HAVE_CMOCKA
# The trace file reader (hv/tracefile.c).
check_PROGRAMS += tests/tracefile_test
TESTS += tests/tracefile_test
tests_tracefile_test_SOURCES = tests/tracefile_test.c tests/testutil.h hv/tracefile.c hv/tracefile.h
tests_tracefile_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_tracefile_test_LDADD = $(CMOCKA_LIBS)

# The JSON reader and the CSV writer (hv/jsonread.c, hv/csv.c).
check_PROGRAMS += tests/jsonread_test
TESTS += tests/jsonread_test
tests_jsonread_test_SOURCES = tests/jsonread_test.c tests/testutil.h hv/jsonread.c hv/jsonread.h \
	hv/csv.c hv/csv.h
tests_jsonread_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_jsonread_test_LDADD = $(CMOCKA_LIBS)

# The VM's loader and device models (hv/), each tested alone.
check_PROGRAMS += tests/loader_test tests/devices_test tests/vm_test
TESTS += tests/loader_test tests/devices_test tests/vm_test
tests_loader_test_SOURCES = tests/loader_test.c tests/testutil.h hv/loader.c hv/loader.h hv/errmsg.h
tests_loader_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_loader_test_LDADD = $(CMOCKA_LIBS)
tests_devices_test_SOURCES = tests/devices_test.c tests/testutil.h hv/devices.h hv/devices.c \
	hv/uart.c hv/debugexit.c hv/pci.c
tests_devices_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_devices_test_LDADD = $(CMOCKA_LIBS)
# The local APIC (hv/lapic.c) on a test clock.
check_PROGRAMS += tests/lapic_test
TESTS += tests/lapic_test
tests_lapic_test_SOURCES = tests/lapic_test.c tests/testutil.h hv/lapic.h hv/lapic.c hv/devices.h \
	hv/devices.c
tests_lapic_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_lapic_test_LDADD = $(CMOCKA_LIBS)
# The I/O APIC (hv/ioapic.c) in front of a local APIC.
check_PROGRAMS += tests/ioapic_test
TESTS += tests/ioapic_test
tests_ioapic_test_SOURCES = tests/ioapic_test.c tests/testutil.h hv/ioapic.h hv/ioapic.c hv/lapic.h \
	hv/lapic.c hv/devices.h hv/devices.c
tests_ioapic_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_ioapic_test_LDADD = $(CMOCKA_LIBS)
# The 8259A pair (hv/pic.c).
check_PROGRAMS += tests/pic_test
TESTS += tests/pic_test
tests_pic_test_SOURCES = tests/pic_test.c tests/testutil.h hv/pic.h hv/pic.c hv/devices.h hv/devices.c
tests_pic_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_pic_test_LDADD = $(CMOCKA_LIBS)
# The 8254 interval timer (hv/pit.c) on a test clock.
check_PROGRAMS += tests/pit_test
TESTS += tests/pit_test
tests_pit_test_SOURCES = tests/pit_test.c tests/testutil.h hv/pit.h hv/pit.c hv/acpi.h hv/devices.h \
	hv/devices.c
tests_pit_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_pit_test_LDADD = $(CMOCKA_LIBS)
# The HPET (hv/hpet.c) on a test clock.
check_PROGRAMS += tests/hpet_test
TESTS += tests/hpet_test
tests_hpet_test_SOURCES = tests/hpet_test.c tests/testutil.h hv/hpet.h hv/hpet.c hv/devices.h \
	hv/devices.c
tests_hpet_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_hpet_test_LDADD = $(CMOCKA_LIBS)
# The MC146818 RTC and CMOS (hv/rtc.c) on a test clock.
check_PROGRAMS += tests/rtc_test
TESTS += tests/rtc_test
tests_rtc_test_SOURCES = tests/rtc_test.c tests/testutil.h hv/rtc.h hv/rtc.c hv/acpi.h hv/devices.h \
	hv/devices.c
tests_rtc_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_rtc_test_LDADD = $(CMOCKA_LIBS)
# The state a PC BIOS leaves (hv/bios.c): vector table, 8259s, 8254.
check_PROGRAMS += tests/bios_test
TESTS += tests/bios_test
tests_bios_test_SOURCES = tests/bios_test.c tests/testutil.h hv/bios.h hv/bios.c hv/pic.h hv/pic.c \
	hv/pit.h hv/pit.c hv/acpi.h hv/devices.h hv/devices.c
tests_bios_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_bios_test_LDADD = $(CMOCKA_LIBS)
# The ACPI tables and PM registers (hv/acpi.c).
check_PROGRAMS += tests/acpi_test
TESTS += tests/acpi_test
tests_acpi_test_SOURCES = tests/acpi_test.c tests/testutil.h hv/acpi.h hv/acpi.c hv/devices.h hv/devices.c
tests_acpi_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_acpi_test_LDADD = $(CMOCKA_LIBS)
# fw_cfg and pc-testdev (hv/pc.h) through the bus.
check_PROGRAMS += tests/pc_test
TESTS += tests/pc_test
tests_pc_test_SOURCES = tests/pc_test.c tests/testutil.h hv/pc.h hv/fwcfg.c hv/pctestdev.c \
	hv/devices.h hv/devices.c
tests_pc_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_pc_test_LDADD = $(CMOCKA_LIBS)
# The exit loop with a scripted backend in place of a vCPU.
tests_vm_test_SOURCES = tests/vm_test.c tests/testutil.h hv/vm.h hv/vm_internal.h hv/vm.c \
	hv/vm_mem.c hv/vm_exit.c hv/vm_sleep.c hv/gmem_soft.c hv/loader.c hv/devices.c hv/uart.c hv/debugexit.c hv/pci.c \
	hv/lapic.c hv/ioapic.c hv/pic.c hv/pit.c hv/rtc.c hv/hpet.c hv/bios.c hv/acpi.c hv/fwcfg.c hv/pctestdev.c hv/edu.c hv/vm_dma.c
tests_vm_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_vm_test_LDADD = iommu/libiommu.a ept/libept.a $(CMOCKA_LIBS)
# The edu device (hv/edu.h) with its DMA through a VT-d unit (iommu/).
check_PROGRAMS += tests/edu_test
TESTS += tests/edu_test
tests_edu_test_SOURCES = tests/edu_test.c tests/testutil.h hv/edu.h hv/edu.c hv/devices.h \
	hv/devices.c hv/pci.c
tests_edu_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_edu_test_LDADD = iommu/libiommu.a ept/libept.a $(CMOCKA_LIBS)

# The software vCPU: differential test against the host CPU, instruction
# lengths against Capstone, small guest programs (docs/testing.md).
check_PROGRAMS += tests/cpu_diff_test tests/cpu_guest_test tests/cpu_regress_test
TESTS += tests/cpu_diff_test tests/cpu_guest_test tests/cpu_regress_test
EXTRA_DIST += tests/cpu_harness.h
tests_cpu_diff_test_SOURCES = tests/cpu_diff_test.c tests/cpu_harness.c tests/cpu_harness.h
tests_cpu_diff_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_cpu_diff_test_LDADD = hv/libvcpu.a ept/libept.a $(CMOCKA_LIBS)
if HAVE_CAPSTONE
check_PROGRAMS += tests/cpu_len_test
TESTS += tests/cpu_len_test
tests_cpu_len_test_SOURCES = tests/cpu_len_test.c
tests_cpu_len_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CAPSTONE_CFLAGS)
tests_cpu_len_test_LDADD = hv/libvcpu.a ept/libept.a $(CMOCKA_LIBS) $(CAPSTONE_LIBS)
endif
tests_cpu_guest_test_SOURCES = tests/cpu_guest_test.c tests/cpu_check.h tests/cpu_harness.c tests/cpu_harness.h
tests_cpu_guest_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_cpu_guest_test_LDADD = hv/libvcpu.a ept/libept.a $(CMOCKA_LIBS)
# SSE and SSE2: exact cases and a differential test against the host CPU.
check_PROGRAMS += tests/sse_test
TESTS += tests/sse_test
tests_sse_test_SOURCES = tests/sse_test.c tests/cpu_check.h tests/cpu_harness.c tests/cpu_harness.h
tests_sse_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_sse_test_LDADD = hv/libvcpu.a ept/libept.a $(CMOCKA_LIBS)
# One case per rule the vCPU once broke.
tests_cpu_regress_test_SOURCES = tests/cpu_regress_test.c tests/cpu_check.h tests/cpu_harness.c tests/cpu_harness.h
tests_cpu_regress_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_cpu_regress_test_LDADD = hv/libvcpu.a ept/libept.a $(CMOCKA_LIBS)
# Counting on a kept shortcut slot (ept/mmu.h), as the vCPU counts its fetches.
check_PROGRAMS += tests/mmu_hit_test
TESTS += tests/mmu_hit_test
tests_mmu_hit_test_SOURCES = tests/mmu_hit_test.c tests/testutil.h
tests_mmu_hit_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_mmu_hit_test_LDADD = ept/libept.a $(CMOCKA_LIBS)
endif
include tests/fuzz.mk

# Tiny probe guests (tests/guests/probe.S), one per rule a guest can break or
# feature it exercises, and the boot tests that run them and guest/guest.elf.
HV_PROBES = mmio dirty forbidden ud triple touch zero rom
HV_PROBE_ELFS = $(HV_PROBES:%=tests/guests/probe-%.elf)
check_DATA = $(HV_PROBE_ELFS) tests/guests/probe-rom.rom
CLEANFILES += $(HV_PROBE_ELFS) $(HV_PROBES:%=tests/guests/probe-%.o) \
	tests/guests/probe-rom.rom tests/guests/rom.o
EXTRA_DIST += tests/guests/probe.S tests/guests/probe.ld tests/run_test.sh tests/guests/rom.S

# The ROM image probe-rom reads (hv run --rom): the bytes of rom.S, flat.
tests/guests/probe-rom.rom: $(srcdir)/tests/guests/rom.S
	@$(MKDIR_P) tests/guests
	$(CC) -m32 -c -o tests/guests/rom.o $(srcdir)/tests/guests/rom.S
	$(CC) -m32 -nostdlib -static -no-pie -Wl,--oformat=binary -Wl,-Ttext=0 -Wl,-e,0 \
		-Wl,--build-id=none -o $@ tests/guests/rom.o

$(HV_PROBES:%=tests/guests/probe-%.o): tests/guests/probe-%.o: $(srcdir)/tests/guests/probe.S
	@$(MKDIR_P) tests/guests
	$(CC) -m32 -c -DPROBE_$* -o $@ $(srcdir)/tests/guests/probe.S

$(HV_PROBE_ELFS): tests/guests/probe-%.elf: tests/guests/probe-%.o $(srcdir)/tests/guests/probe.ld
	$(CC) -m32 -nostdlib -static -no-pie -Wl,-T,$(srcdir)/tests/guests/probe.ld \
		-Wl,-z,max-page-size=0x1000 -Wl,--build-id=none -o $@ $<

TESTS += tests/run_test.sh
# Read-only guest memory (hv run --rom) with probe-rom.
TESTS += tests/rom_test.sh
EXTRA_DIST += tests/rom_test.sh
# edu's DMA to and from ROM (tests/guests/dma-rom.S).
TESTS += tests/dma_rom_test.sh
EXTRA_DIST += tests/dma_rom_test.sh

# The edu device and the VT-d unit under hv run (guest workloads dma and
# dma-attack, with and without the IOMMU, and against QEMU).
TESTS += tests/dma_test.sh
EXTRA_DIST += tests/dma_test.sh
TESTS += tests/passthrough_test.sh
EXTRA_DIST += tests/passthrough_test.sh

# Guests that take interrupts from the local APIC (tests/guests/apic.S),
# from the RTC through the 8259 pair (tests/guests/rtc.S) and from the HPET
# through the I/O APIC (tests/guests/hpet.S), run under the software vCPU
# and QEMU by tests/apic_guest_test.sh, rtc_guest_test.sh and hpet_guest_test.sh;
# a timer due while the guest writes fresh pages (tests/guests/timer-touch.S,
# tests/kvm_test.sh); fw_cfg's items and the CPUID bits --cpu changes
# (tests/guests/fwcfg.S, tests/fwcfg_guest_test.sh); string I/O and MOVS
# between devices and fresh RAM (tests/guests/string-io.S, the KVM lane);
# STI; HLT with an interrupt pending and the HLT on a fresh page, at CPL 0
# and at CPL 3 (tests/guests/sti-hlt.S, hlt-user.S, the KVM lane); KVM's
# paravirtual clock not offered (tests/guests/pvclock.S, the KVM lane); the
# TSC moved on with the timer over a skipped HLT (tests/guests/tsc-skip.S).
GUEST32 = tests/guests/apic.elf tests/guests/rtc.elf tests/guests/hpet.elf \
	tests/guests/timer-touch.elf tests/guests/s3.elf tests/guests/acpi.elf \
	tests/guests/dma-rom.elf tests/guests/fwcfg.elf tests/guests/string-io.elf \
	tests/guests/sti-hlt.elf tests/guests/hlt-user.elf tests/guests/pvclock.elf \
	tests/guests/tsc-skip.elf
check_DATA += $(GUEST32)
CLEANFILES += $(GUEST32) $(GUEST32:.elf=.o)
EXTRA_DIST += tests/guests/guest32.inc tests/guests/apic.S tests/guests/rtc.S tests/guests/hpet.S \
	tests/guests/timer-touch.S tests/guests/s3.S tests/guests/acpi.S tests/guests/dma-rom.S \
	tests/guests/fwcfg.S tests/guests/string-io.S tests/guests/sti-hlt.S tests/guests/hlt-user.S \
	tests/guests/pvclock.S tests/guests/tsc-skip.S tests/apic_guest_test.sh tests/rtc_guest_test.sh \
	tests/hpet_guest_test.sh tests/s3_guest_test.sh tests/acpi_guest_test.sh tests/fwcfg_guest_test.sh
$(GUEST32:.elf=.o): tests/guests/%.o: $(srcdir)/tests/guests/%.S $(srcdir)/tests/guests/guest32.inc
	@$(MKDIR_P) tests/guests
	$(CC) -m32 -c -o $@ $(srcdir)/tests/guests/$*.S
$(GUEST32): tests/guests/%.elf: tests/guests/%.o $(srcdir)/tests/guests/probe.ld
	$(CC) -m32 -nostdlib -static -no-pie -Wl,-T,$(srcdir)/tests/guests/probe.ld \
		-Wl,-z,max-page-size=0x1000 -Wl,--build-id=none -o $@ tests/guests/$*.o
TESTS += tests/apic_guest_test.sh tests/rtc_guest_test.sh tests/hpet_guest_test.sh \
	tests/fwcfg_guest_test.sh
# ACPI S3 through the FACS waking vector, woken by the RTC (tests/guests/s3.S),
# and the ACPI tables as a guest reads them (tests/guests/acpi.S).
TESTS += tests/s3_guest_test.sh tests/acpi_guest_test.sh

# libvirt domain XML: the examples both ways, overrides, refusals.
TESTS += tests/domain_test.sh
EXTRA_DIST += tests/domain_test.sh tests/data/libvirt-qemu/README \
	$(wildcard $(srcdir)/tests/data/libvirt-qemu/*.xml)

# The manual page and the bash completion.
TESTS += tests/man_test.sh
EXTRA_DIST += tests/man_test.sh

# Where the report and the guest's output go (-o, --serial).
TESTS += tests/output_test.sh
EXTRA_DIST += tests/output_test.sh

# valgrind lackey traces: a small hand-written one and the start of a real one.
TESTS += tests/lackey_test.sh
EXTRA_DIST += tests/lackey_test.sh tests/data/small.lackey tests/data/true-head.lackey

# hv sweep: grids over trace and run, --list / --collect.
TESTS += tests/sweep_test.sh
EXTRA_DIST += tests/sweep_test.sh

# --csv beside --json (trace, run, bench).
TESTS += tests/csv_test.sh
EXTRA_DIST += tests/csv_test.sh

# --plot FILE through gnuplot (trace, run, sweep).
TESTS += tests/plot_test.sh
EXTRA_DIST += tests/plot_test.sh

# The KVM backend on real KVM against the software vCPU (skips where the
# host has no usable /dev/kvm).
TESTS += tests/kvm_test.sh
EXTRA_DIST += tests/kvm_test.sh
# The stop handshake (kvm_run.immediate_exit) and lazy RAM (userfaultfd) of
# the KVM backend, on the host's /dev/kvm; skips without one.
if HAVE_KVM_H
check_PROGRAMS += tests/kvm_kick_test
TESTS += tests/kvm_kick_test
endif
tests_kvm_kick_test_SOURCES = tests/kvm_kick_test.c tests/testutil.h hv/vm.h hv/vm_internal.h \
	hv/vm.c hv/vm_mem.c hv/vm_exit.c hv/vm_sleep.c hv/kvm.c hv/kvm_stats.h hv/kvm_stats.c hv/loader.c \
	hv/devices.c hv/uart.c hv/debugexit.c hv/pci.c hv/lapic.c hv/ioapic.c hv/pic.c hv/pit.c hv/rtc.c hv/hpet.c hv/bios.c \
	hv/acpi.c hv/fwcfg.c hv/pctestdev.c hv/edu.c hv/vm_dma.c
tests_kvm_kick_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_kvm_kick_test_LDADD = hv/libvcpu.a iommu/libiommu.a ept/libept.a $(CMOCKA_LIBS)
EXTRA_DIST += tests/kvm_kick_test.c

# The KVM backend on SVM with nested paging, inside a Debian kernel under QEMU
# TCG (scripts/kvm-lane); skips unless HV_KVM_LANE=1 or the lane's packages
# are already cached.
TESTS += tests/kvm_lane_test.sh
EXTRA_DIST += tests/kvm_lane_test.sh
