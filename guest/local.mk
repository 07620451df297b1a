# guest/: the freestanding guest kernel, built into guest/guest.elf.
#
# It is built with the host's gcc but its own flags (GUEST_CFLAGS), never
# AM_CFLAGS/CFLAGS, which may carry sanitizer or hosted-only options.
# -mgeneral-regs-only keeps SSE/x87 out and -mstringop-strategy=loop keeps
# rep-prefixed string instructions out: hv's software vCPU implements neither
# floating point nor needs to model string instructions for this guest. The
# ring-3 program (user.c) is linked on its own at USER_BASE, flattened to
# guest/user.bin and embedded by user_blob.S.

noinst_DATA =
noinst_DATA += guest/guest.elf

GUEST_CFLAGS = -std=gnu11 -ffreestanding -fno-pic -fno-pie -mno-red-zone \
	-mgeneral-regs-only -fno-stack-protector -fno-asynchronous-unwind-tables \
	-fno-tree-loop-distribute-patterns -mstringop-strategy=loop -O2 -g -Wall -Wextra
GUEST_USER_CFLAGS = $(filter-out -fno-pic -fno-pie,$(GUEST_CFLAGS)) -fpie
GUEST_LINKFLAGS = -nostdlib -static -no-pie -Wl,--build-id=none \
	-Wl,-z,max-page-size=4096 -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments
GUEST_OBJCOPY = objcopy

GUEST_C = main console lib mm trap demand proc workload dma
GUEST_S = boot entry user_blob
GUEST_OBJS = $(GUEST_S:%=guest/%.o) $(GUEST_C:%=guest/%.o)
GUEST_HDRS = $(srcdir)/guest/kernel.h $(srcdir)/guest/x86.h $(srcdir)/guest/local.mk

$(GUEST_C:%=guest/%.o): guest/%.o: $(srcdir)/guest/%.c $(GUEST_HDRS)
	@$(MKDIR_P) guest
	$(CC) $(GUEST_CFLAGS) -c -o $@ $<

$(GUEST_S:%=guest/%.o): guest/%.o: $(srcdir)/guest/%.S $(srcdir)/guest/local.mk
	@$(MKDIR_P) guest
	$(CC) $(GUEST_CFLAGS) -DUSER_BIN='"guest/user.bin"' -c -o $@ $<

guest/user_blob.o: guest/user.bin

guest/user.o: $(srcdir)/guest/user.c $(srcdir)/guest/local.mk
	@$(MKDIR_P) guest
	$(CC) $(GUEST_USER_CFLAGS) -c -o $@ $<

guest/user.elf: guest/user.o $(srcdir)/guest/user.ld
	$(CC) $(GUEST_LINKFLAGS) -T $(srcdir)/guest/user.ld -o $@ guest/user.o

guest/user.bin: guest/user.elf
	$(GUEST_OBJCOPY) -O binary $< $@

guest/guest.elf: $(GUEST_OBJS) $(srcdir)/guest/guest.ld
	$(CC) $(GUEST_LINKFLAGS) -T $(srcdir)/guest/guest.ld -o $@ $(GUEST_OBJS)

CLEANFILES += $(GUEST_OBJS) guest/user.o guest/user.elf guest/user.bin guest/guest.elf

EXTRA_DIST += guest/guest.ld guest/user.ld guest/kernel.h guest/x86.h \
	$(GUEST_C:%=guest/%.c) $(GUEST_S:%=guest/%.S) guest/user.c
