# tests/: vCPU tests and guest boot tests (module unit tests are declared in each module's local.mk).
EXTRA_DIST += tests/testutil.h

# The hv command line: exact reference counts from hv trace, hv walk's
# explanations and fault decoding, usage errors (run from the build dir).
TESTS += tests/cli_test.sh
EXTRA_DIST += tests/cli_test.sh

# The guest kernel under QEMU: every workload's RESULT line and exit status.
TESTS += tests/guest_qemu_test.sh
EXTRA_DIST += tests/guest_qemu_test.sh

# The VM's loader and device models (hv/), each tested alone.
check_PROGRAMS += tests/loader_test tests/devices_test
TESTS += tests/loader_test tests/devices_test
tests_loader_test_SOURCES = tests/loader_test.c tests/testutil.h hv/loader.c hv/loader.h
tests_loader_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_loader_test_LDADD = $(CMOCKA_LIBS)
tests_devices_test_SOURCES = tests/devices_test.c tests/testutil.h hv/devices.h hv/devices.c \
	hv/uart.c hv/debugexit.c hv/pci.c
tests_devices_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_devices_test_LDADD = $(CMOCKA_LIBS)
