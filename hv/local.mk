# hv/: the hypervisor. The software vCPU is a library so tests can link it alone.
noinst_LIBRARIES += hv/libvcpu.a
hv_libvcpu_a_SOURCES = \
	hv/vcpu.h \
	hv/cpu/x86.h hv/cpu/decode.h hv/cpu/decode.c hv/cpu/optab.h hv/cpu/optab.c \
	hv/cpu/flags.h hv/cpu/flags.c hv/cpu/mem.h hv/cpu/mem.c hv/cpu/alu.c hv/cpu/move.c \
	hv/cpu/string.c hv/cpu/branch.c hv/cpu/seg.c hv/cpu/event.c hv/cpu/system.c hv/cpu/debug.c \
	hv/cpu/cpuid.h hv/cpu/cpuid.c hv/cpu/sse.h hv/cpu/sse.c hv/cpu/vcpu_soft.c hv/gmem_soft.c

bin_PROGRAMS += hv/hv
# Front end: commands, options, reports (trace / walk / bench).
hv_hv_SOURCES = hv/main.c hv/cli.h hv/cliutil.h hv/cliutil.c hv/trace.c hv/tracefile.h hv/tracefile.c \
	hv/walk.c hv/walk_iova.c hv/bench.c \
	hv/scene.h hv/scene.c \
	hv/sweep.c hv/jsonread.h hv/jsonread.c hv/csv.h hv/csv.c hv/plot.h hv/plot.c
# The VM: memory, loader, devices, exit handling, `hv run`.
hv_hv_SOURCES += hv/run.c hv/hostmem.h hv/hostmem.c hv/backends.c hv/vm.h hv/vm_internal.h hv/vm.c hv/vm_mem.c hv/vm_exit.c hv/vm_sleep.c \
	hv/loader.h hv/loader.c hv/errmsg.h \
	hv/devices.h hv/devices.c hv/uart.c hv/debugexit.c hv/pci.c \
	hv/lapic.h hv/lapic.c hv/ioapic.h hv/ioapic.c hv/pic.h hv/pic.c hv/pit.h hv/pit.c hv/rtc.h hv/rtc.c hv/hpet.h hv/hpet.c hv/bios.h hv/bios.c hv/acpi.h hv/acpi.c hv/pc.h hv/fwcfg.c hv/pctestdev.c \
	hv/edu.h hv/edu.c hv/vm_dma.h hv/vm_dma.c hv/run_dma.c
if HAVE_KVM_H
hv_hv_SOURCES += hv/kvm.c hv/kvm_stats.h hv/kvm_stats.c
endif
EXTRA_DIST += hv/kvm.c hv/kvm_stats.h hv/kvm_stats.c
# libvirt domain XML (hv run --domain, hv domxml); the libraries are optional
# (configure's summary says which were found).
hv_hv_SOURCES += hv/domain.h hv/domain.c
# Compressed trace files (zlib, liblzma), also optional.
hv_hv_SOURCES += hv/tracezip.h hv/tracezip.c
hv_hv_CFLAGS = $(AM_CFLAGS) $(LIBVIRT_CFLAGS) $(ZLIB_CFLAGS) $(LZMA_CFLAGS)
hv_hv_LDADD = hv/libvcpu.a iommu/libiommu.a ept/libept.a -lm $(ZLIB_LIBS) $(LZMA_LIBS)
