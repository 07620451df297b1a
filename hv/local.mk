# hv/local.mk
