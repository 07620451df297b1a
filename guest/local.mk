# guest/local.mk
