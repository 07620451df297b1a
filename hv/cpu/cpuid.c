/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/cpuid.c - CPUID: the feature set this interpreter implements,
 * nothing more (docs/softcpu.md lists it).
 */
#include <string.h>

#include "hv/cpu/optab.h"

/*
 * Vendor "GenuineIntel": hv models Intel's EPT and VT-d, and guest software
 * (kvm-unit-tests' PMU set-up, for one) takes any other vendor for AMD and
 * reaches for AMD's MSRs. The hypervisor leaf 0x40000000 names hv.
 */
void cpu_cpuid(uint32_t leaf, uint32_t sub, uint32_t out[4])
{
	static const char vendor[12] = "GenuineIntel";
	memset(out, 0, 16);
	switch (leaf) {
	case 0:
		out[0] = 7;
		memcpy(&out[1], vendor, 4);      /* EBX */
		memcpy(&out[3], vendor + 4, 4);  /* EDX */
		memcpy(&out[2], vendor + 8, 4);  /* ECX */
		break;
	case 1:
		out[0] = 0x000806c1;  /* family 6: a plausible signature, not a real part */
		out[1] = 0;           /* APIC id 0, no CLFLUSH line size */
		out[2] = (1u << 13) | (1u << 17) | (1u << 23) | (1u << 31); /* CX16 PCID POPCNT hypervisor */
		out[3] = (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 8) |
			 (1u << 13) | (1u << 15) | (1u << 16); /* PSE TSC MSR PAE CX8 PGE CMOV PAT */
		break;
	case 7:
		if (sub == 0) {
			out[1] = (1u << 3) | (1u << 7) | (1u << 9) | (1u << 10) | (1u << 20);
			/* BMI1 SMEP ERMS INVPCID SMAP */
			out[2] = 1u << 16; /* LA57 */
		}
		break;
	case 0x40000000: {
		static const char hv[12] = "hvSoftCPU-64";
		out[0] = 0x40000000;
		memcpy(&out[1], hv, 4);
		memcpy(&out[2], hv + 4, 4);
		memcpy(&out[3], hv + 8, 4);
		break;
	}
	case 0x80000000:
		out[0] = 0x80000008;
		break;
	case 0x80000001:
		out[2] = (1u << 0) | (1u << 5); /* LAHF/SAHF in 64-bit mode, ABM (LZCNT) */
		out[3] = (1u << 11) | (1u << 20) | (1u << 26) | (1u << 27) | (1u << 29);
		/* SYSCALL NX 1GB-pages RDTSCP LM */
		break;
	case 0x80000008:
		out[0] = MAXPHYADDR | (57u << 8);
		break;
	default:
		break;
	}
}

/* 0F A2: CPUID */
int op_cpuid(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint32_t out[4];
	cpu_cpuid((uint32_t)v->gpr[0], (uint32_t)v->gpr[1], out);
	if (v->lapic_exits && (uint32_t)v->gpr[0] == 1) {
		/* hv's local APIC (hv/lapic.h): x2APIC and TSC-deadline in ECX;
		 * APIC in EDX while IA32_APIC_BASE enables it (SDM 11.4.3). */
		out[2] |= (1u << 21) | (1u << 24);
		if (v->apic_base & (1ULL << 11))
			out[3] |= 1u << 9;
	}
	v->gpr[0] = out[0];
	v->gpr[3] = out[1];
	v->gpr[1] = out[2];
	v->gpr[2] = out[3];
	return X86_OK;
}
