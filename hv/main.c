/* SPDX-License-Identifier: MIT */
#include "hv/cli.h"
int main(int argc, char **argv) { (void)argc; (void)argv; return 1; }
