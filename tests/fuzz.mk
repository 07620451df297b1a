# libFuzzer harnesses (clang, ASan, UBSan), docs/testing.md.
#
#   make fuzz        runs each harness for FUZZ_SECONDS, then the differential
#                    and instruction-length tests with many more cases (nightly);
#   make check       runs each harness for FUZZ_CHECK_SECONDS from its seeds
#                    (check-local, below), when clang with libFuzzer is there;
#                    FUZZ_CHECK=no leaves it out (the sanitizer build and
#                    distcheck do, as the main build already ran it).
#
# Harnesses: vcpu (the software vCPU and the model, random code and tables),
# trace (the trace reader in every format), config (the TLB/PWC configuration
# parser), loader (ELF, PVH, multiboot), walk (the two-stage walk over random
# tables, public ept/ API), cli (the hv walk and hv domxml command lines), cmd
# (hv trace, run, sweep and bench run whole, with bounded work), exit (the
# exit loop and every device model, exits played from the input), iommu
# (the VT-d DMA path: random tables, registers, queued invalidation and
# requests) and, when hv has libvirt, domain (domain XML). Each starts from tests/fuzz/seeds/NAME/
# and keeps what it finds in tests/fuzz/corpus-NAME/ of the build tree.
#
# Every source is compiled once into tests/fuzz/obj/ with the sanitizers and
# the fuzzer's coverage instrumentation, and each harness links what it uses.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_CHECK ?= yes
FUZZ_CHECK_SECONDS ?= 5
FUZZ_DIFF_ITERS ?= 20000
FUZZ_LEN_ITERS ?= 100000
FUZZ_OPT = -O1
FUZZ_CFLAGS = -std=gnu11 -g $(FUZZ_OPT) -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-D_GNU_SOURCE -I$(top_srcdir) -I$(top_builddir) \
	$(LIBVIRT_CFLAGS) $(ZLIB_CFLAGS) $(LZMA_CFLAGS)
FUZZ_LIBS = -lm $(ZLIB_LIBS) $(LZMA_LIBS)

FUZZ_EPT = $(filter %.c,$(ept_libept_a_SOURCES))
# The vCPU harness takes the MMU's walker without comparison tracing (below).
FUZZ_VCPU_SRCS = tests/fuzz/vcpu_fuzz.c tests/cpu_harness.c \
	$(filter-out ept/mmu_walk.c,$(FUZZ_EPT)) $(filter %.c,$(hv_libvcpu_a_SOURCES))
FUZZ_TRACE_SRCS = tests/fuzz/trace_fuzz.c hv/tracefile.c
FUZZ_CONFIG_SRCS = tests/fuzz/config_fuzz.c $(FUZZ_EPT)
FUZZ_LOADER_SRCS = tests/fuzz/loader_fuzz.c hv/loader.c
FUZZ_WALK_SRCS = tests/fuzz/walk_fuzz.c $(FUZZ_EPT)
# The whole front end but main().
FUZZ_CLI_SRCS = tests/fuzz/cli_fuzz.c $(filter-out hv/main.c,$(filter %.c,$(hv_hv_SOURCES))) \
	$(filter %.c,$(hv_libvcpu_a_SOURCES) $(iommu_libiommu_a_SOURCES)) $(FUZZ_EPT)
FUZZ_CMD_SRCS = tests/fuzz/cmd_fuzz.c $(filter-out tests/fuzz/cli_fuzz.c,$(FUZZ_CLI_SRCS))
FUZZ_EXIT_SRCS = tests/fuzz/exit_fuzz.c $(filter-out tests/fuzz/cli_fuzz.c,$(FUZZ_CLI_SRCS))
FUZZ_DOMAIN_SRCS = tests/fuzz/domain_fuzz.c hv/domain.c hv/cliutil.c $(FUZZ_EPT)
FUZZ_IOMMU_SRCS = tests/fuzz/iommu_fuzz.c $(filter %.c,$(iommu_libiommu_a_SOURCES)) $(FUZZ_EPT)

FUZZ_NAMES = vcpu trace config loader walk cli cmd exit iommu
if HAVE_LIBVIRT
FUZZ_NAMES += domain
endif
FUZZ_BINS = $(addprefix tests/fuzz/,$(addsuffix _fuzz,$(FUZZ_NAMES)))
fuzz_objs = $(addprefix tests/fuzz/obj/,$(patsubst %.c,%.o,$(1)))

EXTRA_DIST += tests/fuzz.mk tests/fuzz/run-harness.sh \
	tests/fuzz/vcpu_fuzz.c tests/fuzz/trace_fuzz.c tests/fuzz/config_fuzz.c \
	tests/fuzz/loader_fuzz.c tests/fuzz/walk_fuzz.c tests/fuzz/cli_fuzz.c \
	tests/fuzz/domain_fuzz.c tests/fuzz/cmd_fuzz.c tests/fuzz/exit_fuzz.c tests/fuzz/words.h tests/fuzz/input.h \
	tests/fuzz/iommu_fuzz.c \
	$(wildcard $(srcdir)/tests/fuzz/seeds/*/*)
CLEANFILES += tests/fuzz/vcpu_fuzz tests/fuzz/trace_fuzz tests/fuzz/config_fuzz \
	tests/fuzz/loader_fuzz tests/fuzz/walk_fuzz tests/fuzz/cli_fuzz tests/fuzz/domain_fuzz \
	tests/fuzz/cmd_fuzz tests/fuzz/exit_fuzz tests/fuzz/iommu_fuzz

clean-local: clean-fuzz
.PHONY: clean-fuzz
clean-fuzz:
	rm -rf tests/fuzz/obj tests/fuzz/check-* tests/fuzz/*.log

# Any header may change any object: depend on them all (and config.h).
FUZZ_HDR_DEPS = $(wildcard $(srcdir)/*/*.h $(srcdir)/hv/cpu/*.h $(srcdir)/tests/*.h \
	$(srcdir)/tests/fuzz/*.h) config.h

# clang 14 takes minutes of CPU time over ept/mmu_walk.c at -O1 with the
# sanitizers (the walker's descriptors inlined everywhere); -O0 takes seconds.
tests/fuzz/obj/ept/mmu_walk.o tests/fuzz/obj/ept/mmu_walk-nocmp.o: FUZZ_OPT = -O0

# The vCPU harness's guest walks its tables on every TLB miss: at -O0, the
# walker's calls to libFuzzer's comparison hooks took a third of that
# harness's CPU time, mostly for values its input does not choose (TLB and
# walk-cache tags, addresses). Its walker keeps edge coverage and the
# sanitizers; walk_fuzz, which fuzzes the table entries themselves, keeps
# the comparisons.
tests/fuzz/obj/ept/mmu_walk-nocmp.o: $(srcdir)/ept/mmu_walk.c $(FUZZ_HDR_DEPS)
	@$(MKDIR_P) $(@D)
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_CFLAGS) -fno-sanitize-coverage=trace-cmp -c -o $@ $<

tests/fuzz/obj/%.o: $(srcdir)/%.c $(FUZZ_HDR_DEPS)
	@command -v $(FUZZ_CC) >/dev/null || { echo "the fuzz harnesses need $(FUZZ_CC) (apt-get install clang)"; exit 1; }
	@$(MKDIR_P) $(@D)
	$(AM_V_CC)$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

tests/fuzz/vcpu_fuzz: $(call fuzz_objs,$(FUZZ_VCPU_SRCS)) tests/fuzz/obj/ept/mmu_walk-nocmp.o
tests/fuzz/trace_fuzz: $(call fuzz_objs,$(FUZZ_TRACE_SRCS))
tests/fuzz/config_fuzz: $(call fuzz_objs,$(FUZZ_CONFIG_SRCS))
tests/fuzz/loader_fuzz: $(call fuzz_objs,$(FUZZ_LOADER_SRCS))
tests/fuzz/walk_fuzz: $(call fuzz_objs,$(FUZZ_WALK_SRCS))
tests/fuzz/cli_fuzz: $(call fuzz_objs,$(FUZZ_CLI_SRCS))
tests/fuzz/cmd_fuzz: $(call fuzz_objs,$(FUZZ_CMD_SRCS))
tests/fuzz/exit_fuzz: $(call fuzz_objs,$(FUZZ_EXIT_SRCS))
tests/fuzz/domain_fuzz: $(call fuzz_objs,$(FUZZ_DOMAIN_SRCS))
tests/fuzz/iommu_fuzz: $(call fuzz_objs,$(FUZZ_IOMMU_SRCS))
$(FUZZ_BINS):
	$(AM_V_CCLD)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $^ $(FUZZ_LIBS)

# One harness: NAME SECONDS MAX_LEN [libFuzzer options...], from its seeds.
FUZZ_RUN = $(SHELL) $(srcdir)/tests/fuzz/run-harness.sh $(srcdir)/tests/fuzz/seeds

.PHONY: fuzz fuzz-check fuzz-check-run
# -len_control=0 for vcpu: inputs may be long from the start (the first 10
# bytes are the header, the code comes after the page-table pokes).
fuzz: $(FUZZ_BINS) tests/cpu_diff_test tests/cpu_len_test
	$(FUZZ_RUN) trace $(FUZZ_SECONDS) 8192
	$(FUZZ_RUN) config $(FUZZ_SECONDS) 2048
	$(FUZZ_RUN) loader $(FUZZ_SECONDS) 262144 \
		$$(test -f guest/guest.elf && echo -seed_inputs=guest/guest.elf)
	$(FUZZ_RUN) walk $(FUZZ_SECONDS) 2048
	$(FUZZ_RUN) cli $(FUZZ_SECONDS) 2048
	$(FUZZ_RUN) cmd $(FUZZ_SECONDS) 8192
	$(FUZZ_RUN) exit $(FUZZ_SECONDS) 8192
	$(FUZZ_RUN) iommu $(FUZZ_SECONDS) 4096
	test ! -x tests/fuzz/domain_fuzz || $(FUZZ_RUN) domain $(FUZZ_SECONDS) 8192
	$(FUZZ_RUN) vcpu $(FUZZ_SECONDS) 1024 -len_control=0
	HV_TEST_ITERS=$(FUZZ_DIFF_ITERS) ./tests/cpu_diff_test
	HV_TEST_ITERS=$(FUZZ_LEN_ITERS) ./tests/cpu_len_test

# In make check: every harness briefly, when clang can build a fuzzer here.
check-local: fuzz-check
fuzz-check:
	@if [ "$(FUZZ_CHECK)" = no ]; then \
		echo "fuzz-check: not run here (FUZZ_CHECK=no)"; \
	elif ! printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' | \
		$(FUZZ_CC) -fsanitize=fuzzer -x c -o /dev/null - >/dev/null 2>&1; then \
		echo "fuzz-check: SKIP: $(FUZZ_CC) with libFuzzer not found (apt-get install clang)"; \
	else \
		$(MAKE) $(AM_MAKEFLAGS) fuzz-check-run; \
	fi
fuzz-check-run: $(FUZZ_BINS)
	@for n in $(FUZZ_NAMES); do \
		case $$n in \
		vcpu) len=1024; extra=-len_control=0 ;; \
		loader) len=262144; extra= ;; \
		trace|domain|cmd|exit) len=8192; extra= ;; \
		iommu) len=4096; extra= ;; \
		*) len=2048; extra= ;; \
		esac; \
		FUZZ_CORPUS=tests/fuzz/check-$$n $(FUZZ_RUN) $$n $(FUZZ_CHECK_SECONDS) $$len $$extra || exit 1; \
	done
