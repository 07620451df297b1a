# guest/: the freestanding guest kernel, built into guest/guest.elf.
