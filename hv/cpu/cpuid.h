/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/cpuid.h - the software vCPU's CPU model: the CPUID features it
 * reports (hv/cpu/cpuid.c holds them in one table), the ones a user turns
 * off, as QEMU's `-cpu ...,-feature,phys-bits=N` does, and the vendor.
 *
 * A feature can be turned off only where the vCPU then behaves as a
 * processor without it (the instruction #UD, the control-register or MSR
 * bit #GP); the others are always on.
 *
 * The vendor (GenuineIntel by default, or AuthenticAMD) decides CPUID leaf
 * 0's string and the vendor-defined leaves (80000000H's EBX/ECX/EDX, the
 * leaf-1 EDX bits AMD repeats in 80000001H EDX) and the one behaviour hv
 * implements that the SDM and the APM specify differently: SYSCALL from
 * compatibility mode (#UD on Intel, the IA32_CSTAR entry on AMD).
 * docs/softcpu.md lists them.
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
	CPUF_MMX, CPUF_FXSR, CPUF_SSE, CPUF_SSE2,
	CPUF_N
};

#define CPU_PHYS_BITS_MIN 32
#define CPU_PHYS_BITS_MAX 52

enum cpu_vendor {
	CPU_VENDOR_INTEL = 0,   /* "GenuineIntel", the default */
	CPU_VENDOR_AMD = 1,     /* "AuthenticAMD" */
};

/* What the user changed: features off (bit per enum cpu_feature), the
 * physical-address width CPUID.80000008H:EAX[7:0] reports (0: 52), the
 * vendor and the family/model/stepping signature CPUID.1:EAX reports (0:
 * hv's own, CPU_SIGNATURE_HV). */
struct cpu_model {
	uint64_t off;
	unsigned phys_bits;
	enum cpu_vendor vendor;
	uint32_t signature;
};

/* Family 6, model 0x8c, stepping 1: a plausible signature, not a real part. */
#define CPU_SIGNATURE_HV 0x000806c1u

/*
 * Parse a comma-separated list: `-name` turns a feature off, `+name` back
 * on, `phys-bits=N` (32-52) sets the width, `vendor=GenuineIntel` or
 * `vendor=AuthenticAMD` the vendor. A leading model name is QEMU's -cpu
 * model: `qemu64`, `max` and `host` are hv's own model; `IvyBridge` and
 * `Opteron_G1` set that part's vendor and signature and turn off the
 * features it lacks that hv can turn off (features hv always implements stay
 * on). So a QEMU -cpu value can be given as it is. 0, or -EINVAL with the
 * reason in err.
 */
int cpu_model_parse(const char *spec, struct cpu_model *m, char *err, size_t errlen);
const char *cpu_feature_name(enum cpu_feature f);
/* "GenuineIntel" or "AuthenticAMD". */
const char *cpu_vendor_name(enum cpu_vendor v);
/* Can `f` be turned off? */
bool cpu_feature_optional(enum cpu_feature f);

#endif /* HV_CPU_CPUID_H */
