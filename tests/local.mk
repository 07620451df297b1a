# tests/: vCPU tests and guest boot tests (module unit tests are declared in each module's local.mk).
EXTRA_DIST += tests/testutil.h
