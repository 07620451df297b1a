# ept/: the translation engine (frame pool, EPT, guest paging, 2D walk, TLB/PWC, stats).
noinst_LIBRARIES += ept/libept.a
ept_libept_a_SOURCES = \
	ept/ept.h ept/mmu.h \
	ept/pool.c ept/ept.c \
	ept/compiler.h ept/hpool.h ept/cache.h ept/cache.c ept/walk.h ept/walk.c \
	ept/mmu_int.h ept/mmu.c ept/mmu_walk.c ept/mmu_fast.c ept/mmu_inval.c ept/presets.c ept/gptbuild.c

if HAVE_CMOCKA
check_PROGRAMS += tests/cache_test tests/walk_test tests/ept_test tests/mmu_test
TESTS += tests/cache_test tests/walk_test tests/ept_test tests/mmu_test
tests_walk_test_SOURCES = tests/walk_test.c tests/testutil.h
tests_walk_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_walk_test_LDADD = ept/libept.a $(CMOCKA_LIBS)
tests_cache_test_SOURCES = tests/cache_test.c tests/testutil.h
tests_cache_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_cache_test_LDADD = ept/libept.a $(CMOCKA_LIBS)
tests_ept_test_SOURCES = tests/ept_test.c tests/testutil.h
tests_ept_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_ept_test_LDADD = ept/libept.a $(CMOCKA_LIBS)
tests_mmu_test_SOURCES = tests/mmu_test.c tests/testutil.h
tests_mmu_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_mmu_test_LDADD = ept/libept.a $(CMOCKA_LIBS)
endif
