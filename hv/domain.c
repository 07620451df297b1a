/* SPDX-License-Identifier: MIT */
/*
 * hv/domain.c - libvirt domain XML <-> hv run options (see hv/domain.h and
 * docs/domain.md).
 *
 * Reading: libvirt's test driver (test:///default, in-process) defines the
 * domain with schema validation and hands back its normalised XML, from
 * which the options are taken (sizes there are always KiB). The user's own
 * file is parsed too, only to check that it asks for nothing hv cannot
 * honour and to name the line of what it asks for: libvirt adds defaults of
 * its own (<clock>, <on_reboot>, a <console> for the serial port) that the
 * user did not write and that must not be held against them. libvirt's own
 * XML (virDomainGetXMLDesc, virsh dumpxml) is a file like any other: its
 * defaults (<boot dev='hd'/>, <clock offset='utc'/>, <on_reboot>restart)
 * are accepted where the user writes them.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hv/cliutil.h"
#include "hv/domain.h"
#include "hv/errmsg.h"

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */
/* ------------------------------------------------------------------------ */

static void xml_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '\'': fputs("&apos;", f); break;
		case '"': fputs("&quot;", f); break;
		default: fputc(*s, f); break;
		}
	}
}

/* The value of the last occurrence of option name, or NULL. */
static const char *last_value(const struct domain_opt *opts, size_t n, const char *name,
			      bool *given)
{
	*given = false;
	for (size_t i = n; i-- > 0;) {
		if (strcmp(opts[i].name, name) == 0) {
			*given = true;
			return opts[i].value;
		}
	}
	return NULL;
}

/* Options that are libvirt elements of their own, not <hv:...> metadata. */
static const char *const native_opts[] = {
	"memory", "append", "ept-page", "mem-policy", "backend", "serial", "edu", "no-iommu",
};

/* hv's edu device as libvirt names a guest's PCI device: a <hostdev> at
 * 0000:00:03.0, where hv puts it (docs/domain.md). */
#define EDU_DOMAIN 0
#define EDU_BUS 0
#define EDU_SLOT 3
#define EDU_FUNCTION 0

static bool is_native(const char *name)
{
	for (size_t i = 0; i < sizeof(native_opts) / sizeof(native_opts[0]); i++)
		if (strcmp(native_opts[i], name) == 0)
			return true;
	return false;
}

int domain_write(FILE *f, const char *name, const char *kernel, const struct domain_opt *opts,
		 size_t n, char *err, size_t errlen)
{
	const char *memory, *append, *ept_page, *policy, *backend, *serial, *pt;
	bool g_mem, g_append, g_page, g_policy, g_backend, g_serial, g_edu, g_noiommu, g_pt;
	bool any_meta = false;
	uint64_t mem = 512ULL << 20;
	unsigned shift = 12;

	memory = last_value(opts, n, "memory", &g_mem);
	append = last_value(opts, n, "append", &g_append);
	ept_page = last_value(opts, n, "ept-page", &g_page);
	policy = last_value(opts, n, "mem-policy", &g_policy);
	backend = last_value(opts, n, "backend", &g_backend);
	serial = last_value(opts, n, "serial", &g_serial);
	(void)last_value(opts, n, "edu", &g_edu);
	(void)last_value(opts, n, "no-iommu", &g_noiommu);
	pt = last_value(opts, n, "passthrough", &g_pt);
	/* Pass-through is libvirt's VFIO <hostdev>, whose DMA always goes
	 * through the host's IOMMU. */
	if (g_pt && g_noiommu)
		return errmsg(err, errlen, -EINVAL, "--passthrough with --no-iommu: libvirt's "
			      "pass-through (<driver name='vfio'/>) always has the host's IOMMU, so "
			      "there is no domain XML for it");
	g_edu = g_edu || g_pt;
	if (g_mem && (parse_size(memory, &mem) != 0 || mem % 1024 != 0 || mem == 0))
		return errmsg(err, errlen, -EINVAL, "--memory %s is not a whole number of KiB",
			      memory);
	if (g_page && parse_page_shift(ept_page, &shift) != 0)
		return errmsg(err, errlen, -EINVAL, "--ept-page %s is not 4K, 2M or 1G", ept_page);

	fprintf(f, "<domain type='%s'>\n",
		g_backend && strcmp(backend, "kvm") == 0 ? "kvm" : "qemu");
	fputs("  <name>", f);
	xml_escaped(f, name);
	fputs("</name>\n", f);

	for (size_t i = 0; i < n; i++) {
		bool later = false;

		if (is_native(opts[i].name))
			continue;
		/* --passthrough separate is the <hostdev>'s VFIO driver alone;
		 * shared says which tables, under <hv:passthrough>. */
		if (strcmp(opts[i].name, "passthrough") == 0 && strcmp(pt, "separate") == 0)
			continue;
		/* A later occurrence of the same option wins: write that one. */
		for (size_t k = i + 1; k < n && !later; k++)
			later = strcmp(opts[k].name, opts[i].name) == 0;
		if (later)
			continue;
		if (!any_meta) {
			fprintf(f, "  <metadata>\n    <hv:hv xmlns:hv='%s'>\n", HV_DOMAIN_NS);
			any_meta = true;
		}
		if (opts[i].value == NULL) {
			fprintf(f, "      <hv:%s/>\n", opts[i].name);
		} else {
			fprintf(f, "      <hv:%s>", opts[i].name);
			xml_escaped(f, opts[i].value);
			fprintf(f, "</hv:%s>\n", opts[i].name);
		}
	}
	if (any_meta)
		fputs("    </hv:hv>\n  </metadata>\n", f);

	fprintf(f, "  <memory unit='KiB'>%" PRIu64 "</memory>\n", mem / 1024);
	if (shift != 12 || g_policy) {
		fputs("  <memoryBacking>\n", f);
		if (shift != 12)
			fprintf(f, "    <hugepages>\n      <page size='%u' unit='KiB'/>\n"
				"    </hugepages>\n", 1u << (shift - 10));
		if (g_policy)
			fprintf(f, "    <allocation mode='%s'/>\n",
				strcmp(policy, "lazy") == 0 ? "ondemand" : "immediate");
		fputs("  </memoryBacking>\n", f);
	}
	fputs("  <vcpu>1</vcpu>\n", f);
	/* q35: hv's PCI host bridge is the q35's, and libvirt's QEMU driver
	 * gives an Intel <iommu> to q35 machines only. */
	fputs("  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n", f);
	if (kernel) {
		fputs("    <kernel>", f);
		xml_escaped(f, kernel);
		fputs("</kernel>\n", f);
	}
	if (g_append && append[0] != '\0') {
		fputs("    <cmdline>", f);
		xml_escaped(f, append);
		fputs("</cmdline>\n", f);
	}
	fputs("  </os>\n", f);
	/* No USB and no balloon, or libvirt's QEMU driver adds both (hv has
	 * neither). */
	fputs("  <devices>\n    <controller type='usb' model='none'/>\n", f);
	if (g_serial) {
		if (strcmp(serial, "stdio") == 0) {
			fputs("    <serial type='stdio'>\n", f);
		} else if (strcmp(serial, "none") == 0) {
			fputs("    <serial type='null'>\n", f);
		} else {
			fputs("    <serial type='file'>\n      <source path='", f);
			xml_escaped(f, serial);
			fputs("'/>\n", f);
		}
		fputs("      <target port='0'/>\n    </serial>\n", f);
	}
	if (g_edu) {
		/* The guest's address too: where hv puts it (libvirt's QEMU
		 * driver would put it behind a PCIe root port otherwise). */
		fprintf(f, "    <hostdev mode='subsystem' type='pci' managed='no'>\n%s"
			"      <source>\n"
			"        <address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>\n"
			"      </source>\n"
			"      <address type='pci' domain='0x%04x' bus='0x%02x' slot='0x%02x' "
			"function='0x%x'/>\n"
			"    </hostdev>\n", g_pt ? "      <driver name='vfio'/>\n" : "",
			EDU_DOMAIN, EDU_BUS, EDU_SLOT, EDU_FUNCTION,
			EDU_DOMAIN, EDU_BUS, EDU_SLOT, EDU_FUNCTION);
		if (!g_noiommu && !g_pt)
			fputs("    <iommu model='intel'/>\n", f);
	}
	fputs("    <memballoon model='none'/>\n  </devices>\n", f);
	fputs("</domain>\n", f);
	return 0;
}

void domain_args_free(struct domain_args *a)
{
	for (int i = 0; i < a->argc; i++) {
		free(a->argv[i]);
		free(a->origin[i]);
	}
	free(a->argv);
	free(a->origin);
	free(a->kernel);
	free(a->name);
	*a = (struct domain_args){ 0 };
}

#ifndef HAVE_LIBVIRT

bool domain_supported(void)
{
	return false;
}

int domain_read(const char *path, struct domain_args *out, char *err, size_t errlen)
{
	*out = (struct domain_args){ 0 };
	return errmsg(err, errlen, -ENOTSUP,
		      "%s: hv was built without libvirt (configure found no libvirt-dev and "
		      "libxml2-dev), so it cannot read domain XML", path);
}

int domain_libvirt_form(const char *xml, char **out, char *err, size_t errlen)
{
	(void)xml;
	*out = NULL;
	return errmsg(err, errlen, -ENOTSUP, "--libvirt: hv was built without libvirt (configure "
		      "found no libvirt-dev and libxml2-dev)");
}

#else /* HAVE_LIBVIRT */

#include <dlfcn.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

/*
 * libvirt and libxml2 are loaded when a domain description is read, not
 * when hv starts. libvirt brings some fifty shared libraries (GLib, GnuTLS,
 * ICU, Kerberos and more): linked into hv they cost every command their
 * loading (`hv --version` took 0.23 s of wall time with them on a 2-core
 * Debian 12 virtual machine, 0.01 s without), and only `hv run --domain`
 * and `hv domxml` use them. Each function below is called through
 * a pointer looked up once (domain_libs_load); the macros after the table
 * keep the call sites in the libraries' own names. The headers still come
 * from libvirt-dev and libxml2-dev, so every call is type-checked.
 */
#define LIBVIRT_FUNCS(X) \
	X(virConnectClose) X(virConnectOpen) X(virDomainDefineXMLFlags) \
	X(virDomainDestroy) X(virDomainFree) X(virDomainGetXMLDesc) X(virDomainIsActive) \
	X(virDomainLookupByName) X(virDomainUndefine) X(virGetLastErrorMessage) \
	X(virSetErrorFunc)
#define LIBXML_FUNCS(X) \
	X(xmlDocGetRootElement) X(xmlFreeDoc) X(xmlGetLineNo) X(xmlGetProp) \
	X(xmlNodeGetContent) X(xmlReadMemory) X(xmlStrcmp)
#define DL_POINTER(f) static __typeof__(f) *dl_##f;
LIBVIRT_FUNCS(DL_POINTER)
LIBXML_FUNCS(DL_POINTER)
/* libxml2's deallocator is a variable of the library's (xmlMemSetup sets it). */
static xmlFreeFunc *dl_xmlFree;

#define virConnectClose (*dl_virConnectClose)
#define virConnectOpen (*dl_virConnectOpen)
#define virDomainDefineXMLFlags (*dl_virDomainDefineXMLFlags)
#define virDomainDestroy (*dl_virDomainDestroy)
#define virDomainFree (*dl_virDomainFree)
#define virDomainGetXMLDesc (*dl_virDomainGetXMLDesc)
#define virDomainIsActive (*dl_virDomainIsActive)
#define virDomainLookupByName (*dl_virDomainLookupByName)
#define virDomainUndefine (*dl_virDomainUndefine)
#define virGetLastErrorMessage (*dl_virGetLastErrorMessage)
#define virSetErrorFunc (*dl_virSetErrorFunc)
#define xmlDocGetRootElement (*dl_xmlDocGetRootElement)
#define xmlFreeDoc (*dl_xmlFreeDoc)
#define xmlGetLineNo (*dl_xmlGetLineNo)
#define xmlGetProp (*dl_xmlGetProp)
#define xmlNodeGetContent (*dl_xmlNodeGetContent)
#define xmlReadMemory (*dl_xmlReadMemory)
#define xmlStrcmp (*dl_xmlStrcmp)
#undef xmlFree
#define xmlFree (*dl_xmlFree)

/* The sonames of the libraries hv was built against (both unchanged since
 * libvirt 0.x and libxml2 2.x). */
#define LIBVIRT_SONAME "libvirt.so.0"
#define LIBXML2_SONAME "libxml2.so.2"

/* dlopen NAME, or say which Debian package is missing. */
static void *load_lib(const char *name, const char *package, char *err, size_t errlen)
{
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);

	if (h == NULL)
		errmsg(err, errlen, -ENOENT, "domain XML needs %s (Debian package %s): %s", name,
		       package, dlerror());
	return h;
}

/* Look up every function once. The libraries stay loaded until hv exits:
 * libvirt keeps threads and handlers of its own, so it is never closed. */
static int domain_libs_load(char *err, size_t errlen)
{
	static bool loaded;
	void *virt, *xml;

	if (loaded)
		return 0;
	xml = load_lib(LIBXML2_SONAME, "libxml2", err, errlen);
	if (xml == NULL)
		return -ENOENT;
	virt = load_lib(LIBVIRT_SONAME, "libvirt0", err, errlen);
	if (virt == NULL)
		return -ENOENT;
	/* Names are pasted here, never expanded: the macros above would turn
	 * them into the pointers. */
#define DL_FIND(lib, soname, ptr, name) \
	if ((ptr = (__typeof__(ptr))dlsym(lib, name)) == NULL) \
		return errmsg(err, errlen, -ENOENT, "%s has no %s", soname, name);
#define DL_FIND_VIRT(f) DL_FIND(virt, LIBVIRT_SONAME, dl_##f, #f)
#define DL_FIND_XML(f) DL_FIND(xml, LIBXML2_SONAME, dl_##f, #f)
	LIBVIRT_FUNCS(DL_FIND_VIRT)
	LIBXML_FUNCS(DL_FIND_XML)
	DL_FIND(xml, LIBXML2_SONAME, dl_xmlFree, "xmlFree")
#undef DL_FIND_XML
#undef DL_FIND_VIRT
#undef DL_FIND
	loaded = true;
	return 0;
}

bool domain_supported(void)
{
	return true;
}

/* A domain description is small; a larger file is a mistake. */
#define DOMAIN_MAX_BYTES (1u << 20)

static int read_file(const char *path, char **out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;
	int rc;

	if (f == NULL)
		return errmsg(err, errlen, -errno, "cannot open '%s': %s", path, strerror(errno));
	buf = malloc(DOMAIN_MAX_BYTES + 1);
	if (buf == NULL) {
		fclose(f);
		return errmsg(err, errlen, -ENOMEM, "out of memory reading '%s'", path);
	}
	n = fread(buf, 1, DOMAIN_MAX_BYTES + 1, f);
	if (ferror(f)) {
		rc = errmsg(err, errlen, -EIO, "error reading '%s': %s", path, strerror(errno));
		goto fail;
	}
	if (n > DOMAIN_MAX_BYTES) {
		rc = errmsg(err, errlen, -EINVAL, "%s: larger than %u KiB, not a domain description",
			    path, DOMAIN_MAX_BYTES >> 10);
		goto fail;
	}
	buf[n] = '\0';
	if (strlen(buf) != n) {
		rc = errmsg(err, errlen, -EINVAL, "%s: contains a NUL byte, not XML", path);
		goto fail;
	}
	fclose(f);
	*out = buf;
	return 0;
fail:
	free(buf);
	fclose(f);
	return rc;
}

/* libvirt reports through this instead of printing on its own: hv prints
 * the message once, with the file name, where the call failed. */
static void libvirt_quiet(void *ctx, virErrorPtr e)
{
	(void)ctx;
	(void)e;
}

static const char *libvirt_message(void)
{
	const char *m = virGetLastErrorMessage();

	return m ? m : "unknown libvirt error";
}

/* Validate and normalise xml through libvirt's test driver. */
static int libvirt_normalise(const char *path, const char *xml, char **out, char *err,
			     size_t errlen)
{
	virConnectPtr conn;
	virDomainPtr dom, stock;
	char *desc;
	int rc = 0;

	virSetErrorFunc(NULL, libvirt_quiet);
	conn = virConnectOpen("test:///default");
	if (conn == NULL)
		return errmsg(err, errlen, -EINVAL, "%s: libvirt's test driver: %s", path,
			      libvirt_message());
	/* The test driver starts with one domain of its own, "test"; remove it
	 * so that a file naming its domain "test" is not refused. */
	stock = virDomainLookupByName(conn, "test");
	if (stock) {
		if (virDomainIsActive(stock) == 1)
			(void)virDomainDestroy(stock);
		(void)virDomainUndefine(stock);
		virDomainFree(stock);
	}
	dom = virDomainDefineXMLFlags(conn, xml, VIR_DOMAIN_DEFINE_VALIDATE);
	if (dom == NULL) {
		rc = errmsg(err, errlen, -EINVAL, "%s: %s", path, libvirt_message());
		goto out;
	}
	desc = virDomainGetXMLDesc(dom, 0);
	if (desc == NULL)
		rc = errmsg(err, errlen, -EINVAL, "%s: %s", path, libvirt_message());
	else
		*out = desc;
	virDomainFree(dom);
out:
	virConnectClose(conn);
	return rc;
}

int domain_libvirt_form(const char *xml, char **out, char *err, size_t errlen)
{
	char *desc = NULL;
	int rc;

	*out = NULL;
	rc = domain_libs_load(err, errlen);
	if (rc)
		return rc;
	rc = libvirt_normalise("libvirt refuses the domain", xml, &desc, err, errlen);
	if (rc)
		return rc;
	/* libvirt's allocator is the C library's, but its strings are its own:
	 * hand back a copy the caller frees with free(). */
	*out = strdup(desc);
	free(desc);
	return *out ? 0 : errmsg(err, errlen, -ENOMEM, "out of memory");
}

static bool named(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, (const xmlChar *)name) == 0;
}

static bool in_hv_ns(const xmlNode *n)
{
	return n->ns && n->ns->href && xmlStrcmp(n->ns->href, (const xmlChar *)HV_DOMAIN_NS) == 0;
}

/* The first child element called name, or NULL. */
static xmlNode *child(const xmlNode *n, const char *name)
{
	if (n == NULL)
		return NULL;
	for (xmlNode *c = n->children; c; c = c->next)
		if (named(c, name))
			return c;
	return NULL;
}

/* Element text with surrounding blanks removed; caller frees. */
static char *text_of(const xmlNode *n)
{
	xmlChar *t = xmlNodeGetContent(n);
	char *s, *b, *e;

	if (t == NULL)
		return strdup("");
	b = (char *)t;
	while (*b == ' ' || *b == '\t' || *b == '\n' || *b == '\r')
		b++;
	e = b + strlen(b);
	while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		e--;
	s = strndup(b, (size_t)(e - b));
	xmlFree(t);
	return s;
}

/* An attribute's value, or NULL; caller frees. */
static char *attr_of(const xmlNode *n, const char *name)
{
	xmlChar *v = n ? xmlGetProp(n, (const xmlChar *)name) : NULL;
	char *s;

	if (v == NULL)
		return NULL;
	s = strdup((char *)v);
	xmlFree(v);
	return s;
}

struct reader {
	const char *path;
	xmlNode *uroot;  /* the user's file: line numbers */
	xmlNode *nroot;  /* libvirt's normalised XML: values */
	struct domain_args *out;
	char *err;
	size_t errlen;
};

static int refuse(struct reader *r, const xmlNode *n, const char *why)
{
	return errmsg(r->err, r->errlen, -EINVAL, "%s:%ld: <%s%s>: %s", r->path, xmlGetLineNo(n),
		      in_hv_ns(n) ? "hv:" : "", (const char *)n->name, why);
}

/* Why hv cannot honour an element, for the ones users write most. */
static const char *why_not(const char *name)
{
	static const struct { const char *name, *why; } reasons[] = {
		{ "disk", "hv has no block devices" },
		{ "filesystem", "hv has no file systems to share" },
		{ "interface", "hv has no network devices" },
		{ "graphics", "hv has no display" },
		{ "video", "hv has no display" },
		{ "sound", "hv has no sound device" },
		{ "initrd", "hv loads no initrd" },
		{ "loader", "hv boots the kernel directly, without firmware" },
		{ "nvram", "hv boots the kernel directly, without firmware" },
		{ "boot", "hv boots <kernel> directly" },
		{ "features", "hv's machine features are fixed" },
		{ "clock", "hv's clock is fixed" },
		{ "maxMemory", "hv has no memory hotplug" },
		{ "numatune", "hv has one memory node" },
		{ "cputune", "hv has one vCPU and no tuning" },
	};

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strcmp(reasons[i].name, name) == 0)
			return reasons[i].why;
	return "hv has nothing that honours this element";
}

static int refuse_unknown(struct reader *r, const xmlNode *n)
{
	return refuse(r, n, why_not((const char *)n->name));
}

/* n's first child element is refused, for why; 0 when it has none. */
static int refuse_children(struct reader *r, const xmlNode *n, const char *why)
{
	for (const xmlNode *c = n->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			return refuse(r, c, why);
	return 0;
}

/* Serial and console: one port 0, written to a file, stdio or nowhere. */
static int check_chardev(struct reader *r, const xmlNode *n)
{
	char *type = attr_of(n, "type"), *port = attr_of(child(n, "target"), "port");
	int rc = 0;

	if (type == NULL || (strcmp(type, "file") != 0 && strcmp(type, "stdio") != 0 &&
			     strcmp(type, "null") != 0))
		rc = refuse(r, n, "hv's serial port writes to type='file', 'stdio' or 'null'");
	else if (port && strcmp(port, "0") != 0)
		rc = refuse(r, n, "hv has one serial port, port 0");
	free(type);
	free(port);
	return rc;
}

/* A PCI address attribute (libvirt writes them as hex, "0x03"), or -1. */
static long pci_attr(const xmlNode *n, const char *name)
{
	char *v = attr_of(n, name), *end;
	long x = -1;

	if (v != NULL && v[0] != '\0') {
		x = strtol(v, &end, 0);
		if (*end != '\0' || x < 0)
			x = -1;
	}
	free(v);
	return x;
}

static bool is_edu_address(const xmlNode *a)
{
	return a != NULL && pci_attr(a, "domain") == EDU_DOMAIN && pci_attr(a, "bus") == EDU_BUS &&
	       pci_attr(a, "slot") == EDU_SLOT && pci_attr(a, "function") == EDU_FUNCTION;
}

/* Is hostdev d handed to the guest (pass-through, as libvirt's VFIO)? */
static bool is_vfio(const xmlNode *d)
{
	const xmlNode *drv = d ? child(d, "driver") : NULL;
	char *name = drv ? attr_of(drv, "name") : NULL;
	bool vfio = name != NULL && strcmp(name, "vfio") == 0;

	free(name);
	return vfio;
}

/* <hostdev>: the one device hv can give a guest, its edu at 0000:00:03.0. */
static int check_hostdev(struct reader *r, const xmlNode *d)
{
	char *mode = attr_of(d, "mode"), *type = attr_of(d, "type");
	bool pci = (mode == NULL || strcmp(mode, "subsystem") == 0) && type &&
		   strcmp(type, "pci") == 0;
	int rc = 0;

	free(mode);
	free(type);
	if (!pci || !is_edu_address(child(child(d, "source"), "address")))
		return refuse(r, d, "hv gives a guest one device, its model of QEMU's edu at "
			      "0000:00:03.0: <hostdev mode='subsystem' type='pci'> with <source>"
			      "<address domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>");
	for (xmlNode *c = d->children; c && !rc; c = c->next) {
		if (c->type != XML_ELEMENT_NODE || named(c, "source"))
			continue;
		if (named(c, "driver")) {
			rc = is_vfio(d) ? 0 : refuse(r, c, "hv hands its edu to the guest as VFIO "
						   "does: <driver name='vfio'/>");
			continue;
		}
		/* The guest's address of the device: where hv puts it, or nothing. */
		if (named(c, "address") && is_edu_address(c))
			continue;
		rc = refuse(r, c, named(c, "address") ? "hv's edu is at 0000:00:03.0 in the guest too"
			    : "hv's edu device has no such setting");
	}
	return rc;
}

/* <iommu>: hv's VT-d unit, which translates the edu device's DMA. */
static int check_iommu(struct reader *r, const xmlNode *d, const xmlNode *hostdev)
{
	bool edu = hostdev != NULL;
	char *model = attr_of(d, "model");
	int rc = 0;

	if (model == NULL || strcmp(model, "intel") != 0)
		rc = refuse(r, d, "hv models Intel VT-d: model='intel'");
	else if (!edu)
		rc = refuse(r, d, "hv's VT-d unit translates the DMA of its edu device: add the "
			    "<hostdev> for it (docs/domain.md)");
	else if (is_vfio(hostdev))
		rc = refuse(r, d, "the DMA of hv's pass-through edu goes through a VT-d unit the "
			    "guest does not see: no <iommu> with <driver name='vfio'/>");
	if (rc == 0)
		rc = refuse_children(r, d, "hv's VT-d unit has fixed capabilities (docs/iommu.md)");
	free(model);
	return rc;
}

/*
 * libvirt's QEMU driver (qemu:///system, qemu:///session) writes defaults of
 * its own into every domain it defines, as `virsh dumpxml` shows them; hv
 * accepts each of these as written there (libvirt 9.0), because they ask for
 * nothing the guest would see under hv and a user cannot leave them out:
 * <emulator> (the QEMU it would run), <cpu> with QEMU's qemu64 model (its
 * default for type='qemu'), the q35's PCIe root and SATA controller at
 * 00:1f.2, the PS/2 mouse and keyboard of every PC machine, and
 * <audio type='none'/>. Anything else of the same elements is refused.
 */

/* n has no attribute but those named in ok[], each absent or the value
 * beside it (NULL: any value). */
static bool attrs_only(const xmlNode *n, const char *const ok[][2], size_t nok)
{
	for (const xmlAttr *a = n->properties; a; a = a->next) {
		char *v = attr_of(n, (const char *)a->name);
		bool fine = false;

		for (size_t i = 0; i < nok && !fine; i++)
			fine = strcmp((const char *)a->name, ok[i][0]) == 0 &&
			       (ok[i][1] == NULL || (v && strcmp(v, ok[i][1]) == 0));
		free(v);
		if (!fine)
			return false;
	}
	return true;
}

/* The element children of n: how many, and the first. */
static unsigned element_children(const xmlNode *n, const xmlNode **first)
{
	unsigned k = 0;

	*first = NULL;
	for (const xmlNode *c = n->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && k++ == 0)
			*first = c;
	return k;
}

/* <type machine>: hv's PCI host bridge is the q35's. */
static int check_machine(struct reader *r, const xmlNode *t)
{
	char *m = attr_of(t, "machine");
	int rc = 0;

	if (m && strcmp(m, "q35") != 0 && strncmp(m, "pc-q35-", 7) != 0)
		rc = refuse(r, t, "hv's machine is a q35 (its PCI host bridge is the q35's): "
			    "machine='q35', or pc-q35-* as libvirt's QEMU driver writes it");
	free(m);
	return rc;
}

static int check_cpu(struct reader *r, const xmlNode *c)
{
	static const char *const cpu_ok[][2] = {
		{ "mode", "custom" }, { "match", "exact" }, { "check", "none" },
	};
	static const char *const model_ok[][2] = { { "fallback", "forbid" } };
	const xmlNode *model;
	char *name = NULL;
	bool dflt;

	dflt = attrs_only(c, cpu_ok, 3) && element_children(c, &model) == 1 &&
	       named(model, "model") && attrs_only(model, model_ok, 1) &&
	       element_children(model, &(const xmlNode *){ NULL }) == 0;
	if (dflt) {
		name = text_of(model);
		dflt = strcmp(name, "qemu64") == 0;
		free(name);
	}
	return dflt ? 0 : refuse(r, c, "hv's vCPU model is fixed (--cpu turns features off): "
				 "only libvirt's default for type='qemu', <cpu mode='custom' "
				 "match='exact' check='none'><model fallback='forbid'>qemu64</model>"
				 "</cpu>, is accepted");
}

static int check_controller(struct reader *r, const xmlNode *d)
{
	static const char *const usb_ok[][2] = { { "type", "usb" }, { "index", "0" },
						 { "model", "none" } };
	static const char *const root_ok[][2] = { { "type", "pci" }, { "index", "0" },
						  { "model", "pcie-root" } };
	static const char *const sata_ok[][2] = { { "type", "sata" }, { "index", "0" } };
	char *type = attr_of(d, "type"), *model = attr_of(d, "model");
	const xmlNode *c;
	unsigned kids = element_children(d, &c);
	bool ok;

	if (type && strcmp(type, "usb") == 0)
		ok = model && attrs_only(d, usb_ok, 3) && kids == 0;
	else if (type && strcmp(type, "pci") == 0)
		ok = model && attrs_only(d, root_ok, 3) && kids == 0;
	else if (type && strcmp(type, "sata") == 0)
		ok = attrs_only(d, sata_ok, 2) &&
		     (kids == 0 || (kids == 1 && named(c, "address") && pci_attr(c, "domain") == 0 &&
				    pci_attr(c, "bus") == 0 && pci_attr(c, "slot") == 0x1f &&
				    pci_attr(c, "function") == 2));
	else
		ok = false;
	free(type);
	free(model);
	return ok ? 0 : refuse(r, d, "hv has no controllers beyond its q35's own: <controller "
			       "type='usb' model='none'/>, and the PCIe root and the SATA "
			       "controller at 00:1f.2 that libvirt's QEMU driver writes, only");
}

static int check_input(struct reader *r, const xmlNode *d)
{
	static const char *const ps2_ok[][2] = { { "type", NULL }, { "bus", "ps2" } };
	char *type = attr_of(d, "type");
	const xmlNode *c;
	bool ok = type && (strcmp(type, "mouse") == 0 || strcmp(type, "keyboard") == 0) &&
		  attrs_only(d, ps2_ok, 2) && element_children(d, &c) == 0;

	free(type);
	return ok ? 0 : refuse(r, d, "hv has no input devices besides the serial port (only the "
			       "PS/2 mouse and keyboard libvirt adds to every PC domain are accepted)");
}

static int check_audio(struct reader *r, const xmlNode *d)
{
	static const char *const none_ok[][2] = { { "id", NULL }, { "type", "none" } };
	char *type = attr_of(d, "type");
	const xmlNode *c;
	bool ok = type && attrs_only(d, none_ok, 2) && element_children(d, &c) == 0;

	free(type);
	return ok ? 0 : refuse(r, d, "hv has no sound device: only <audio type='none'/>");
}

/* The user's file asks for nothing hv cannot honour. */
static int check_user(struct reader *r)
{
	unsigned serials = 0;

	for (xmlNode *c = r->uroot->children; c; c = c->next) {
		int rc = 0;

		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (named(c, "name") || named(c, "uuid") || named(c, "title") ||
		    named(c, "description") || named(c, "memory") || named(c, "currentMemory") ||
		    named(c, "metadata"))
			continue;
		if (named(c, "cpu")) {
			rc = check_cpu(r, c);
		} else if (named(c, "vcpu")) {
			char *v = text_of(c), *cur = attr_of(c, "current");

			if (strcmp(v, "1") != 0 || (cur && strcmp(cur, "1") != 0))
				rc = refuse(r, c, "hv runs one vCPU");
			free(v);
			free(cur);
		} else if (named(c, "on_poweroff") || named(c, "on_crash")) {
			char *v = text_of(c);

			if (strcmp(v, "destroy") != 0)
				rc = refuse(r, c, "hv stops the VM (destroy) and nothing else");
			free(v);
		} else if (named(c, "on_reboot")) {
			char *v = text_of(c);

			/* hv's run ends at a reset (a triple fault stops it, as QEMU's
			 * -no-reboot does); libvirt writes restart when the file has no
			 * <on_reboot>, so its own XML says restart. */
			if (strcmp(v, "destroy") != 0 && strcmp(v, "restart") != 0)
				rc = refuse(r, c, "a reset ends hv's run: 'destroy' (or libvirt's "
					    "default 'restart', docs/domain.md)");
			free(v);
		} else if (named(c, "clock")) {
			char *offset = attr_of(c, "offset");

			/* libvirt's default; hv's guest has no wall clock to set. */
			if (offset == NULL || strcmp(offset, "utc") != 0)
				rc = refuse(r, c, "hv's guest has no wall clock: <clock offset='utc'/> "
					    "(libvirt's default) or none");
			if (rc == 0)
				rc = refuse_children(r, c, "hv's clock is fixed");
			free(offset);
		} else if (named(c, "memoryBacking")) {
			for (xmlNode *m = c->children; m && !rc; m = m->next) {
				if (m->type != XML_ELEMENT_NODE)
					continue;
				if (named(m, "allocation")) {
					char *threads = attr_of(m, "threads");

					if (threads)
						rc = refuse(r, m, "hv allocates with one thread");
					free(threads);
				} else if (named(m, "hugepages")) {
					unsigned pages = 0;

					for (xmlNode *p = m->children; p && !rc; p = p->next) {
						char *nodes = named(p, "page") ? attr_of(p, "nodeset") : NULL;

						if (named(p, "page") && ++pages > 1)
							rc = refuse(r, p, "hv maps RAM with one EPT page size");
						else if (nodes)
							rc = refuse(r, p, "hv has one memory node");
						free(nodes);
					}
				} else {
					rc = refuse(r, m, "hv honours <hugepages> and <allocation> only");
				}
			}
		} else if (named(c, "os")) {
			for (xmlNode *o = c->children; o && !rc; o = o->next) {
				char *dev = named(o, "boot") ? attr_of(o, "dev") : NULL;
				bool hd = dev != NULL && strcmp(dev, "hd") == 0;

				free(dev);
				/* <boot dev='hd'/> is what libvirt adds to every
				 * domain; hv boots <kernel> whatever the order. */
				if (o->type != XML_ELEMENT_NODE || named(o, "kernel") ||
				    named(o, "cmdline") || hd)
					continue;
				rc = named(o, "type") ? check_machine(r, o) : refuse_unknown(r, o);
			}
		} else if (named(c, "devices")) {
			unsigned hostdevs = 0;

			for (xmlNode *d = c->children; d && !rc; d = d->next) {
				if (d->type != XML_ELEMENT_NODE)
					continue;
				if (named(d, "hostdev")) {
					rc = ++hostdevs > 1 ? refuse(r, d, "hv has one edu device")
							    : check_hostdev(r, d);
				} else if (named(d, "iommu")) {
					rc = check_iommu(r, d, child(c, "hostdev"));
				} else if (named(d, "serial")) {
					rc = ++serials > 1 ? refuse(r, d, "hv has one serial port")
							   : check_chardev(r, d);
				} else if (named(d, "console")) {
					rc = check_chardev(r, d);
				} else if (named(d, "emulator")) {
					continue;  /* the QEMU libvirt would run; hv runs itself */
				} else if (named(d, "controller")) {
					rc = check_controller(r, d);
				} else if (named(d, "input")) {
					rc = check_input(r, d);
				} else if (named(d, "audio")) {
					rc = check_audio(r, d);
				} else if (named(d, "memballoon")) {
					char *model = attr_of(d, "model");

					if (model == NULL || strcmp(model, "none") != 0)
						rc = refuse(r, d, "hv has no memory balloon");
					free(model);
				} else {
					rc = refuse_unknown(r, d);
				}
			}
		} else {
			rc = refuse_unknown(r, c);
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* The user's element at path (names separated by '/'), or the root. */
static const xmlNode *user_node(struct reader *r, const char *path)
{
	const xmlNode *n = r->uroot;
	char buf[64], *save = NULL, *tok;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, "/", &save); tok && n; tok = strtok_r(NULL, "/", &save)) {
		const xmlNode *c = child(n, tok);

		if (c == NULL)
			return n;
		n = c;
	}
	return n;
}

static int add_arg(struct reader *r, const xmlNode *at, const char *opt, const char *value)
{
	struct domain_args *a = r->out;
	char **argv, **origin, *arg = NULL, *where = NULL;

	if ((value ? asprintf(&arg, "--%s=%s", opt, value) : asprintf(&arg, "--%s", opt)) < 0)
		arg = NULL;
	if (asprintf(&where, "%s:%ld: <%s%s>", r->path, xmlGetLineNo(at), in_hv_ns(at) ? "hv:" : "",
		     (const char *)at->name) < 0)
		where = NULL;
	argv = realloc(a->argv, (size_t)(a->argc + 1) * sizeof(*argv));
	if (argv)
		a->argv = argv;
	origin = realloc(a->origin, (size_t)(a->argc + 1) * sizeof(*origin));
	if (origin)
		a->origin = origin;
	if (arg == NULL || where == NULL || argv == NULL || origin == NULL) {
		free(arg);
		free(where);
		return errmsg(r->err, r->errlen, -ENOMEM, "out of memory reading '%s'", r->path);
	}
	a->argv[a->argc] = arg;
	a->origin[a->argc] = where;
	a->argc++;
	return 0;
}

/* Options hv takes from libvirt's own elements, never from <hv:...>. */
static const char *const report_opts[] = { "json", "csv", "output", "plot", "domain", "help" };

static int read_metadata(struct reader *r)
{
	const xmlNode *md = child(r->nroot, "metadata"), *umd = child(r->uroot, "metadata");
	int rc = 0;

	if (md == NULL)
		return 0;
	for (const xmlNode *h = md->children; h; h = h->next) {
		if (!named(h, "hv") || !in_hv_ns(h))
			continue; /* another application's metadata */
		for (const xmlNode *o = h->children; o && !rc; o = o->next) {
			const xmlNode *at = o;
			const char *name = (const char *)o->name;
			char *v;

			if (o->type != XML_ELEMENT_NODE)
				continue;
			/* Name the user's line: the same element in their file. */
			for (const xmlNode *uh = umd ? umd->children : NULL; uh; uh = uh->next)
				if (named(uh, "hv") && in_hv_ns(uh) && child(uh, name))
					at = child(uh, name);
			if (is_native(name)) {
				rc = refuse(r, at, "this setting has a libvirt element of its own "
					    "(see docs/domain.md)");
				break;
			}
			for (size_t i = 0; i < sizeof(report_opts) / sizeof(report_opts[0]); i++)
				if (strcmp(name, report_opts[i]) == 0)
					rc = refuse(r, at, "an output option, not a setting of the VM");
			if (rc)
				break;
			v = text_of(o);
			rc = add_arg(r, at, name, o->children ? v : NULL);
			free(v);
		}
	}
	return rc;
}

static int read_values(struct reader *r)
{
	const xmlNode *n, *mb, *os, *dev;
	char *v = NULL, *v2 = NULL;
	uint64_t kib, cur;
	int rc = 0;

	n = child(r->nroot, "name");
	r->out->name = n ? text_of(n) : NULL;
	/* <domain type>: the software vCPU emulates, KVM accelerates. */
	v = attr_of(r->nroot, "type");
	if (v && strcmp(v, "kvm") == 0)
		rc = add_arg(r, r->uroot, "backend", "kvm");
	else if (v && strcmp(v, "qemu") == 0)
		rc = add_arg(r, r->uroot, "backend", "soft");
	else
		rc = refuse(r, r->uroot, "hv runs type='qemu' (its software vCPU) or type='kvm'");
	free(v);
	if (rc)
		return rc;

	n = child(r->nroot, "memory");
	v = n ? text_of(n) : NULL;
	if (v == NULL || parse_u64(v, &kib) != 0 || kib == 0 || kib > (UINT64_MAX >> 10)) {
		rc = refuse(r, user_node(r, "memory"), "expected a size in KiB");
		goto out;
	}
	free(v);
	n = child(r->nroot, "currentMemory");
	v = n ? text_of(n) : NULL;
	if (v && (parse_u64(v, &cur) != 0 || cur != kib)) {
		rc = refuse(r, user_node(r, "currentMemory"),
			    "hv has no memory balloon: currentMemory must equal memory");
		goto out;
	}
	free(v);
	v = NULL;
	if (asprintf(&v, "%" PRIu64, kib << 10) < 0)
		v = NULL;
	rc = v ? add_arg(r, user_node(r, "memory"), "memory", v)
	       : errmsg(r->err, r->errlen, -ENOMEM, "out of memory");
	if (rc)
		goto out;
	free(v);
	v = NULL;

	mb = child(r->nroot, "memoryBacking");
	if ((n = child(mb, "hugepages")) != NULL) {
		const xmlNode *page = child(n, "page");
		const char *size = "2M"; /* <hugepages/> alone: the default huge page */

		v = page ? attr_of(page, "size") : NULL;
		if (v && parse_u64(v, &kib) == 0 && kib == 4)
			size = "4K";
		else if (v && parse_u64(v, &kib) == 0 && kib == 2048)
			size = "2M";
		else if (v && parse_u64(v, &kib) == 0 && kib == 1048576)
			size = "1G";
		else if (v) {
			rc = refuse(r, user_node(r, "memoryBacking/hugepages/page"),
				    "hv's EPT pages are 4 KiB, 2 MiB or 1 GiB");
			goto out;
		}
		rc = add_arg(r, user_node(r, "memoryBacking/hugepages"), "ept-page", size);
		if (rc)
			goto out;
		free(v);
		v = NULL;
	}
	if ((n = child(mb, "allocation")) != NULL) {
		v = attr_of(n, "mode");
		if (v && strcmp(v, "immediate") == 0)
			rc = add_arg(r, user_node(r, "memoryBacking/allocation"), "mem-policy", "eager");
		else if (v && strcmp(v, "ondemand") == 0)
			rc = add_arg(r, user_node(r, "memoryBacking/allocation"), "mem-policy", "lazy");
		if (rc)
			goto out;
		free(v);
		v = NULL;
	}

	os = child(r->nroot, "os");
	if ((n = child(os, "type")) != NULL) {
		v = text_of(n);
		v2 = attr_of(n, "arch");
		if (strcmp(v, "hvm") != 0 || (v2 && strcmp(v2, "x86_64") != 0)) {
			rc = refuse(r, user_node(r, "os/type"),
				    "hv runs <type arch='x86_64'>hvm</type> guests");
			goto out;
		}
		free(v);
		free(v2);
		v = v2 = NULL;
	}
	if ((n = child(os, "kernel")) != NULL) {
		r->out->kernel = text_of(n);
		if (r->out->kernel == NULL) {
			rc = errmsg(r->err, r->errlen, -ENOMEM, "out of memory");
			goto out;
		}
	}
	if ((n = child(os, "cmdline")) != NULL) {
		v = text_of(n);
		rc = add_arg(r, user_node(r, "os/cmdline"), "append", v);
		if (rc)
			goto out;
		free(v);
		v = NULL;
	}

	dev = child(r->nroot, "devices");
	if ((n = child(dev, "serial")) != NULL) {
		const xmlNode *at = user_node(r, "devices/serial");

		v = attr_of(n, "type");
		if (v && strcmp(v, "stdio") == 0) {
			rc = add_arg(r, at, "serial", "stdio");
		} else if (v && strcmp(v, "null") == 0) {
			rc = add_arg(r, at, "serial", "none");
		} else if (v && strcmp(v, "file") == 0) {
			v2 = attr_of(child(n, "source"), "path");
			rc = v2 ? add_arg(r, at, "serial", v2)
				: refuse(r, at, "a file serial port needs <source path='...'/>");
		} else {
			rc = refuse(r, at, "hv's serial port writes to type='file', 'stdio' or 'null'");
		}
		if (rc)
			goto out;
	}
	/* The edu device handed to the guest (VFIO's driver), or emulated with
	 * VT-d unless the file leaves <iommu> out. */
	if ((n = child(dev, "hostdev")) != NULL && is_vfio(n)) {
		rc = add_arg(r, user_node(r, "devices/hostdev"), "passthrough", "separate");
		if (rc)
			goto out;
	} else if (n != NULL) {
		rc = add_arg(r, user_node(r, "devices/hostdev"), "edu", NULL);
		if (rc == 0 && child(dev, "iommu") == NULL)
			rc = add_arg(r, user_node(r, "devices/hostdev"), "no-iommu", NULL);
		if (rc)
			goto out;
	}
	rc = read_metadata(r);
out:
	free(v);
	free(v2);
	return rc;
}

int domain_read(const char *path, struct domain_args *out, char *err, size_t errlen)
{
	const int xml_opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
	char *xml = NULL, *norm = NULL;
	xmlDoc *udoc = NULL, *ndoc = NULL;
	struct reader r = { .path = path, .out = out, .err = err, .errlen = errlen };
	int rc;

	*out = (struct domain_args){ 0 };
	rc = domain_libs_load(err, errlen);
	if (rc)
		return rc;
	rc = read_file(path, &xml, err, errlen);
	if (rc)
		return rc;
	rc = libvirt_normalise(path, xml, &norm, err, errlen);
	if (rc && err && errlen) {
		size_t len = strlen(err);

		/* libvirt's messages may end in blank lines. */
		while (len > 0 && (err[len - 1] == '\n' || err[len - 1] == ' '))
			err[--len] = '\0';
		/* libvirt's schema says only "Extra element os": say why. */
		udoc = xmlReadMemory(xml, (int)strlen(xml), path, NULL, xml_opts);
		if (udoc) {
			xmlNode *k = child(child(xmlDocGetRootElement(udoc), "os"), "kernel");
			char *kp = k ? text_of(k) : NULL;

			if (kp && kp[0] != '/' && strlen(err) + 80 < errlen)
				snprintf(err + strlen(err), errlen - strlen(err),
					 "\n%s:%ld: <kernel>: libvirt needs an absolute path", path,
					 xmlGetLineNo(k));
			free(kp);
		}
		goto out;
	}
	udoc = xmlReadMemory(xml, (int)strlen(xml), path, NULL, xml_opts);
	ndoc = xmlReadMemory(norm, (int)strlen(norm), "normalised", NULL, xml_opts);
	if (udoc == NULL || ndoc == NULL) {
		rc = errmsg(err, errlen, -EINVAL, "%s: libxml2 cannot read back what libvirt accepted",
			    path);
		goto out;
	}
	r.uroot = xmlDocGetRootElement(udoc);
	r.nroot = xmlDocGetRootElement(ndoc);
	rc = check_user(&r);
	if (rc == 0)
		rc = read_values(&r);
out:
	if (rc)
		domain_args_free(out);
	xmlFreeDoc(udoc);
	xmlFreeDoc(ndoc);
	free(norm);
	free(xml);
	return rc;
}

#endif /* HAVE_LIBVIRT */
