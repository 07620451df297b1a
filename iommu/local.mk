# iommu/: the VT-d DMA-remapping model (register block, root/context tables,
# fault recording, queued invalidation).
noinst_LIBRARIES += iommu/libiommu.a
iommu_libiommu_a_SOURCES = iommu/iommu.h iommu/internal.h \
	iommu/regs.c iommu/qi.c iommu/context.c iommu/translate.c \
	iommu/domain.c

check_PROGRAMS += tests/iommu_test
TESTS += tests/iommu_test
tests_iommu_test_SOURCES = tests/iommu_test.c tests/testutil.h
tests_iommu_test_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS)
tests_iommu_test_LDADD = iommu/libiommu.a ept/libept.a $(CMOCKA_LIBS)
