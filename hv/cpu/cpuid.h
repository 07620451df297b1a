/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/cpuid.h - the software vCPU's CPU model: the CPUID features it
 * reports (hv/cpu/cpuid.c holds them in one table) and the ones a user turns
 * off, as QEMU's `-cpu ...,-feature,phys-bits=N` does.
 *
 * A feature can be turned off only where the vCPU then behaves as a
 * processor without it (the instruction #UD, the control-register or MSR
 * bit #GP); the others are always on.
 */
#ifndef HV_CPU_CPUID_H
#define HV_CPU_CPUID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cpu_feature {
	CPUF_PSE, CPUF_TSC, CPUF_MSR, CPUF_PAE, CPUF_CX8, CPUF_APIC, CPUF_PGE, CPUF_CMOV,
	CPUF_PAT, CPUF_CLFSH, CPUF_CX16, CPUF_PCID, CPUF_X2APIC, CPUF_POPCNT, CPUF_TSC_DEADLINE,
	CPUF_HYPERVISOR, CPUF_BMI1, CPUF_SMEP, CPUF_ERMS, CPUF_INVPCID, CPUF_SMAP, CPUF_CLFLUSHOPT,
	CPUF_CLWB, CPUF_UMIP, CPUF_PKU, CPUF_LA57, CPUF_PKS,
	CPUF_LAHF_LM, CPUF_ABM, CPUF_SYSCALL, CPUF_NX, CPUF_PDPE1GB, CPUF_RDTSCP, CPUF_LM,
	CPUF_N
};

#define CPU_PHYS_BITS_MIN 32
#define CPU_PHYS_BITS_MAX 52

/* What the user changed: features off (bit per enum cpu_feature), and the
 * physical-address width CPUID.80000008H:EAX[7:0] reports (0: 52). */
struct cpu_model {
	uint64_t off;
	unsigned phys_bits;
};

/*
 * Parse a comma-separated list: `-name` turns a feature off, `+name` back
 * on, `phys-bits=N` (32-52) sets the width; a leading model name (`qemu64`,
 * `max`, `host`) is accepted and ignored, so a QEMU -cpu value can be given
 * as it is. 0, or -EINVAL with the reason in err.
 */
int cpu_model_parse(const char *spec, struct cpu_model *m, char *err, size_t errlen);
const char *cpu_feature_name(enum cpu_feature f);
/* Can `f` be turned off? */
bool cpu_feature_optional(enum cpu_feature f);

#endif /* HV_CPU_CPUID_H */
