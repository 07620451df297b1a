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

# Parser harnesses: the trace reader in every format, the TLB/PWC
# configuration parser. Each starts from its seed corpus in tests/fuzz/seeds/
# and keeps what it finds in tests/fuzz/corpus-NAME/ of the build tree.
FUZZ_TRACE_SRCS = tests/fuzz/trace_fuzz.c hv/tracefile.c
FUZZ_CONFIG_SRCS = tests/fuzz/config_fuzz.c $(filter %.c,$(ept_libept_a_SOURCES))
EXTRA_DIST += tests/fuzz/trace_fuzz.c tests/fuzz/config_fuzz.c \
	$(wildcard $(srcdir)/tests/fuzz/seeds/trace/*) $(wildcard $(srcdir)/tests/fuzz/seeds/config/*)
CLEANFILES += tests/fuzz/trace_fuzz tests/fuzz/config_fuzz

tests/fuzz/trace_fuzz: $(addprefix $(srcdir)/,$(FUZZ_TRACE_SRCS)) $(srcdir)/hv/tracefile.h
	@command -v $(FUZZ_CC) >/dev/null || { echo "make fuzz needs $(FUZZ_CC) (apt-get install clang)"; exit 1; }
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(addprefix $(srcdir)/,$(FUZZ_TRACE_SRCS))

tests/fuzz/config_fuzz: $(addprefix $(srcdir)/,$(FUZZ_CONFIG_SRCS))
	@command -v $(FUZZ_CC) >/dev/null || { echo "make fuzz needs $(FUZZ_CC) (apt-get install clang)"; exit 1; }
	@$(MKDIR_P) tests/fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(addprefix $(srcdir)/,$(FUZZ_CONFIG_SRCS))

.PHONY: fuzz
fuzz: tests/fuzz/vcpu_fuzz tests/fuzz/trace_fuzz tests/fuzz/config_fuzz tests/cpu_diff_test tests/cpu_len_test
	@$(MKDIR_P) tests/fuzz/corpus tests/fuzz/corpus-trace tests/fuzz/corpus-config
	./tests/fuzz/trace_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=10 \
		-artifact_prefix=tests/fuzz/ tests/fuzz/corpus-trace $(srcdir)/tests/fuzz/seeds/trace
	./tests/fuzz/config_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=2048 -timeout=10 \
		-artifact_prefix=tests/fuzz/ tests/fuzz/corpus-config $(srcdir)/tests/fuzz/seeds/config
	./tests/fuzz/vcpu_fuzz -max_total_time=$(FUZZ_SECONDS) -max_len=1024 -len_control=0 \
		-timeout=10 -artifact_prefix=tests/fuzz/ tests/fuzz/corpus
	HV_TEST_ITERS=$(FUZZ_DIFF_ITERS) ./tests/cpu_diff_test
	HV_TEST_ITERS=$(FUZZ_LEN_ITERS) ./tests/cpu_len_test
