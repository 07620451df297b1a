# ept/local.mk
