/* SPDX-License-Identifier: MIT */
/*
 * hv/cpu/cpuid.c - CPUID: the feature set this interpreter implements,
 * nothing more (docs/softcpu.md lists it), in one table, and the user's
 * changes to it (hv/cpu/cpuid.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/cpu/cpuid.h"
#include "hv/cpu/optab.h"

enum { EAX, EBX, ECX, EDX };

/*
 * Every feature CPUID reports: its name (QEMU's), where it is, and whether
 * it can be turned off (the vCPU then raises what a processor without it
 * raises: see the checks named in the comment).
 */
static const struct cpuid_bit {
	const char *name;
	uint32_t leaf;
	uint8_t reg, bit;
	bool optional;
} features[CPUF_N] = {
	[CPUF_PSE]          = { "pse",          1, EDX, 3 },
	[CPUF_TSC]          = { "tsc",          1, EDX, 4 },
	[CPUF_MSR]          = { "msr",          1, EDX, 5 },
	[CPUF_PAE]          = { "pae",          1, EDX, 6 },
	[CPUF_CX8]          = { "cx8",          1, EDX, 8 },
	[CPUF_APIC]         = { "apic",         1, EDX, 9 },    /* with hv's local APIC, APIC_BASE.EN */
	[CPUF_PGE]          = { "pge",          1, EDX, 13 },
	[CPUF_CMOV]         = { "cmov",         1, EDX, 15 },
	[CPUF_PAT]          = { "pat",          1, EDX, 16 },
	[CPUF_CLFSH]        = { "clflush",      1, EDX, 19 },   /* line size in leaf 1 EBX */
	[CPUF_MMX]          = { "mmx",          1, EDX, 23 },   /* hv/cpu/sse.c */
	[CPUF_FXSR]         = { "fxsr",         1, EDX, 24 },
	[CPUF_SSE]          = { "sse",          1, EDX, 25 },
	[CPUF_SSE2]         = { "sse2",         1, EDX, 26 },
	[CPUF_CX16]         = { "cx16",         1, ECX, 13 },
	[CPUF_PCID]         = { "pcid",         1, ECX, 17, true },  /* CR4.PCIDE #GP */
	[CPUF_X2APIC]       = { "x2apic",       1, ECX, 21, true },  /* APIC_BASE.EXTD #GP */
	[CPUF_POPCNT]       = { "popcnt",       1, ECX, 23 },
	[CPUF_TSC_DEADLINE] = { "tsc-deadline", 1, ECX, 24, true },  /* MSR 0x6e0 #GP */
	[CPUF_HYPERVISOR]   = { "hypervisor",   1, ECX, 31 },
	[CPUF_BMI1]         = { "bmi1",         7, EBX, 3 },
	[CPUF_SMEP]         = { "smep",         7, EBX, 7, true },   /* CR4.SMEP #GP */
	[CPUF_ERMS]         = { "erms",         7, EBX, 9 },
	[CPUF_INVPCID]      = { "invpcid",      7, EBX, 10, true },  /* INVPCID #UD */
	[CPUF_SMAP]         = { "smap",         7, EBX, 20, true },  /* CR4.SMAP #GP */
	[CPUF_CLFLUSHOPT]   = { "clflushopt",   7, EBX, 23 },
	[CPUF_CLWB]         = { "clwb",         7, EBX, 24 },
	[CPUF_UMIP]         = { "umip",         7, ECX, 2, true },   /* CR4.UMIP #GP */
	[CPUF_PKU]          = { "pku",          7, ECX, 3, true },   /* CR4.PKE #GP */
	[CPUF_LA57]         = { "la57",         7, ECX, 16, true },  /* CR4.LA57 #GP */
	[CPUF_PKS]          = { "pks",          7, ECX, 31, true },  /* CR4.PKS, IA32_PKRS #GP */
	[CPUF_LAHF_LM]      = { "lahf-lm",      0x80000001, ECX, 0 },
	[CPUF_ABM]          = { "abm",          0x80000001, ECX, 5 },
	[CPUF_SYSCALL]      = { "syscall",      0x80000001, EDX, 11 },
	[CPUF_NX]           = { "nx",           0x80000001, EDX, 20, true },  /* EFER.NXE #GP */
	[CPUF_PDPE1GB]      = { "pdpe1gb",      0x80000001, EDX, 26 },
	[CPUF_RDTSCP]       = { "rdtscp",       0x80000001, EDX, 27, true },  /* RDTSCP #UD */
	[CPUF_LM]           = { "lm",           0x80000001, EDX, 29 },
};

/* Features that need hv's local APIC behind them. */
#define APIC_FEATURES ((1ULL << CPUF_APIC) | (1ULL << CPUF_X2APIC) | (1ULL << CPUF_TSC_DEADLINE))

/* Leaf-1 EDX features AMD reports again, at the same bit, in 80000001H EDX
 * (APM Vol. 3, CPUID Fn8000_0001_EDX); Intel reserves those bits (SDM
 * CPUID, leaf 80000001H). */
#define AMD_EXT_EDX_DUP ((1ULL << CPUF_PSE) | (1ULL << CPUF_TSC) | (1ULL << CPUF_MSR) | \
			 (1ULL << CPUF_PAE) | (1ULL << CPUF_CX8) | (1ULL << CPUF_APIC) | \
			 (1ULL << CPUF_PGE) | (1ULL << CPUF_CMOV) | (1ULL << CPUF_PAT) | \
			 (1ULL << CPUF_MMX) | (1ULL << CPUF_FXSR))

#define OFF(f) (1ULL << (f))

/*
 * QEMU's named models that kvm-unit-tests' configuration asks for, as far as
 * hv can be them: the vendor, the family/model/stepping signature, and the
 * optional features the part does not have turned off. Features hv always
 * implements (CX16, POPCNT, BMI1, ...) stay on, and CPUID's highest basic
 * leaf stays 7.
 */
static const struct named_model {
	const char *name;
	enum cpu_vendor vendor;
	uint32_t signature;
	uint64_t off;
} models[] = {
	{ "qemu64", CPU_VENDOR_INTEL, 0, 0 },
	{ "max", CPU_VENDOR_INTEL, 0, 0 },
	{ "host", CPU_VENDOR_INTEL, 0, 0 },
	/* Family 6, model 58, stepping 9: no PCID, INVPCID, SMAP, UMIP, PKU,
	 * LA57 or PKS. */
	{ "IvyBridge", CPU_VENDOR_INTEL, 0x000306a9,
	  OFF(CPUF_PCID) | OFF(CPUF_INVPCID) | OFF(CPUF_SMAP) | OFF(CPUF_UMIP) | OFF(CPUF_PKU) |
	  OFF(CPUF_LA57) | OFF(CPUF_PKS) },
	/* Family 15, model 6, stepping 1 (Opteron 240): none of leaf 7's
	 * features, no x2APIC, TSC deadline, PCID or RDTSCP. */
	{ "Opteron_G1", CPU_VENDOR_AMD, 0x00000f61,
	  OFF(CPUF_PCID) | OFF(CPUF_X2APIC) | OFF(CPUF_TSC_DEADLINE) | OFF(CPUF_SMEP) |
	  OFF(CPUF_INVPCID) | OFF(CPUF_SMAP) | OFF(CPUF_UMIP) | OFF(CPUF_PKU) | OFF(CPUF_LA57) |
	  OFF(CPUF_PKS) | OFF(CPUF_RDTSCP) },
};

static const char vendor_id[2][13] = { "GenuineIntel", "AuthenticAMD" };

const char *cpu_feature_name(enum cpu_feature f)
{
	return (unsigned)f < CPUF_N ? features[f].name : "?";
}

const char *cpu_vendor_name(enum cpu_vendor v)
{
	return vendor_id[v == CPU_VENDOR_AMD];
}

bool cpu_feature_optional(enum cpu_feature f)
{
	return (unsigned)f < CPUF_N && features[f].optional;
}

int cpu_model_parse(const char *spec, struct cpu_model *m, char *err, size_t errlen)
{
	char buf[512], *save = NULL, *tok;
	bool first = true;

	if (strlen(spec) >= sizeof(buf)) {
		snprintf(err, errlen, "the CPU model '%.40s...' is too long", spec);
		return -EINVAL;
	}
	strcpy(buf, spec);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save), first = false) {
		unsigned f;

		if (strncmp(tok, "phys-bits=", 10) == 0) {
			char *end;
			unsigned long n = strtoul(tok + 10, &end, 10);

			if (*end || end == tok + 10 || n < CPU_PHYS_BITS_MIN || n > CPU_PHYS_BITS_MAX) {
				snprintf(err, errlen, "phys-bits must be %d to %d (got '%s')",
					 CPU_PHYS_BITS_MIN, CPU_PHYS_BITS_MAX, tok + 10);
				return -EINVAL;
			}
			m->phys_bits = (unsigned)n;
			continue;
		}
		if (strncmp(tok, "vendor=", 7) == 0) {
			if (!strcmp(tok + 7, vendor_id[CPU_VENDOR_INTEL]))
				m->vendor = CPU_VENDOR_INTEL;
			else if (!strcmp(tok + 7, vendor_id[CPU_VENDOR_AMD]))
				m->vendor = CPU_VENDOR_AMD;
			else {
				snprintf(err, errlen, "vendor must be GenuineIntel or AuthenticAMD "
					 "(got '%s')", tok + 7);
				return -EINVAL;
			}
			continue;
		}
		if (first && tok[0] != '-' && tok[0] != '+') {
			const struct named_model *n = NULL;

			for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++)
				if (!strcmp(tok, models[i].name))
					n = &models[i];
			if (!n) {
				snprintf(err, errlen, "'%s' is not a CPU model hv has (qemu64, max, "
					 "host, IvyBridge, Opteron_G1)", tok);
				return -EINVAL;
			}
			m->vendor = n->vendor;
			m->signature = n->signature;
			m->off |= n->off;
			continue;
		}
		if (tok[0] != '-' && tok[0] != '+') {
			snprintf(err, errlen, "'%s': expected -feature, +feature, phys-bits=N or "
				 "vendor=NAME", tok);
			return -EINVAL;
		}
		for (f = 0; f < CPUF_N && strcmp(features[f].name, tok + 1); f++)
			;
		if (f == CPUF_N) {
			snprintf(err, errlen, "'%s' is not a feature this vCPU reports", tok + 1);
			return -EINVAL;
		}
		if (tok[0] == '+')
			m->off &= ~(1ULL << f);
		else if (!features[f].optional) {
			snprintf(err, errlen, "'%s' cannot be turned off (the vCPU always implements it)",
				 tok + 1);
			return -EINVAL;
		} else
			m->off |= 1ULL << f;
	}
	return 0;
}

/* CPUID leaf/subleaf as this vCPU answers it. */
static void cpuid(const struct vcpu_soft *v, uint32_t leaf, uint32_t sub, uint32_t out[4])
{
	static const char hv[12] = "hvSoftCPU-64";
	/* GenuineIntel by default: hv models Intel's EPT and VT-d, and guest
	 * software (kvm-unit-tests' PMU set-up, for one) takes any other vendor
	 * for AMD and reaches for AMD's MSRs. */
	const char *vendor = vendor_id[v->vendor == CPU_VENDOR_AMD];
	bool amd = v->vendor == CPU_VENDOR_AMD;

	memset(out, 0, 16);
	switch (leaf) {
	case 0:
		out[EAX] = 7;
		memcpy(&out[EBX], vendor, 4);
		memcpy(&out[EDX], vendor + 4, 4);
		memcpy(&out[ECX], vendor + 8, 4);
		return;
	case 1:
		out[EAX] = v->signature ? v->signature : CPU_SIGNATURE_HV;
		out[EBX] = 8 << 8;      /* APIC ID 0; CLFLUSH line size 8 * 8 = 64 bytes */
		break;
	case 7:
		if (sub != 0)
			return;
		break;
	case 0x40000000:
		out[EAX] = 0x40000000;
		memcpy(&out[EBX], hv, 4);
		memcpy(&out[ECX], hv + 4, 4);
		memcpy(&out[EDX], hv + 8, 4);
		return;
	case 0x80000000:
		/* AMD repeats the vendor string here (APM Fn8000_0000); Intel
		 * reserves EBX, ECX and EDX (0). */
		out[EAX] = 0x80000008;
		if (amd) {
			memcpy(&out[EBX], vendor, 4);
			memcpy(&out[EDX], vendor + 4, 4);
			memcpy(&out[ECX], vendor + 8, 4);
		}
		return;
	case 0x80000001:
		break;
	case 0x80000008:
		out[EAX] = (v->phys_bits ? v->phys_bits : MAXPHYADDR) | (57u << 8);
		return;
	default:
		return;
	}
	for (unsigned f = 0; f < CPUF_N; f++) {
		const struct cpuid_bit *b = &features[f];
		bool dup = amd && leaf == 0x80000001 && ((AMD_EXT_EDX_DUP >> f) & 1);

		if ((b->leaf != leaf && !dup) || (v->features_off >> f) & 1)
			continue;
		if ((APIC_FEATURES >> f) & 1) {
			/* Only with hv's local APIC; APIC while IA32_APIC_BASE.EN (SDM 11.4.3). */
			if (!v->lapic_exits || (f == CPUF_APIC && !(v->apic_base & (1ULL << 11))))
				continue;
		}
		out[dup ? EDX : b->reg] |= 1u << b->bit;
	}
	/* OSPKE: CR4.PKE as software set it (SDM CPUID, leaf 07H ECX[4]). */
	if (leaf == 7 && (v->cr4 & CR4_PKE))
		out[ECX] |= 1u << 4;
}

bool cpu_has(const struct vcpu_soft *v, enum cpu_feature f)
{
	return !((v->features_off >> f) & 1);
}

/* 0F A2: CPUID */
int op_cpuid(struct vcpu_soft *v, const struct x86_insn *in)
{
	uint32_t out[4];

	cpuid(v, (uint32_t)v->gpr[0], (uint32_t)v->gpr[1], out);
	v->gpr[0] = out[EAX];
	v->gpr[3] = out[EBX];
	v->gpr[1] = out[ECX];
	v->gpr[2] = out[EDX];
	return X86_OK;
}
