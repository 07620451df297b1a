# `make fuzz`: the long-running checks for nightly use (docs/testing.md), not
# part of `make check`. Builds the libFuzzer harness with clang, ASan and UBSan,
# runs it for FUZZ_SECONDS, then the differential and instruction-length tests
# with many more cases. Each knob can be set in the environment.
# -len_control=0: inputs may be long from the start (the first 10 bytes are
# the header, the code comes after the page-table pokes).
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_DIFF_ITERS ?= 20000
FUZZ_LEN_ITERS ?= 100000
FUZZ_CFLAGS = -std=gnu11 -g -O1 -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-D_GNU_SOURCE -I$(top_srcdir) -I$(top_builddir)
# The harness compiles the engine and the vCPU itself: they need the
# sanitizers and the fuzzer's coverage instrumentation too.
FUZZ_SRCS = tests/fuzz/vcpu_fuzz.c tests/cpu_harness.c \
	$(filter %.c,$(ept_libept_a_SOURCES) $(hv_libvcpu_a_SOURCES))
EXTRA_DIST += tests/fuzz/vcpu_fuzz.c tests/fuzz.mk
CLEANFILES += tests/fuzz/vcpu_fuzz

tests/fuzz/vcpu_fuzz: $(addprefix $(srcdir)/,$(FUZZ_SRCS)) $(srcdir)/tests/cpu_harness.h
	@command -v $(FUZZ_CC) >/dev/null || { echo "make fuzz needs $(FUZZ_CC) (apt-get install clang)"; exit 1; }
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(addprefix $(srcdir)/,$(FUZZ_SRCS))

.PHONY: fuzz
fuzz: tests/fuzz/vcpu_fuzz tests/cpu_diff_test tests/cpu_len_test
	@$(MKDIR_P) tests/fuzz/corpus
	./tests/fuzz/vcpu_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=1024 -len_control=0 \
		-timeout=10 -artifact_prefix=tests/fuzz/ tests/fuzz/corpus
	HV_TEST_ITERS=$(FUZZ_DIFF_ITERS) ./tests/cpu_diff_test
	HV_TEST_ITERS=$(FUZZ_LEN_ITERS) ./tests/cpu_len_test
