/* ukey-tool: manage ukey keys through PKCS#11 only (the module named by --module or
 * $UKEY_MODULE, loaded with dlopen). One table of commands; each command is a small
 * function over a shared context (module, slot, session).
 *
 *   ukey-tool [--module PATH] [--slot ID] [--pin-file FILE] COMMAND [options]
 *     list                                   tokens, PIN state and objects
 *     keygen --label NAME                    SM2 key pair (CKM_EC_KEY_PAIR_GEN, SM2 params)
 *     sign   --label NAME --in FILE --out FILE   SM2 with SM3 and the default user ID;
 *                                            writes a DER ECDSA-Sig-Value (openssl verifies it)
 *     pubkey --label NAME --out FILE         the public key as PEM SubjectPublicKeyInfo
 *
 * The user PIN comes from --pin-file (first line) or $UKEY_USER_PIN, never from the command
 * line, and is wiped once C_Login has used it. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>

#include "uk_crypto.h"
#include "uk_wipe.h"
#include "ukey-pkcs11.h"

#define TOOL_PIN_MAX 64
#define TOOL_FILE_MAX ((size_t)16 << 20)   /* C_Sign is single-part: keep inputs bounded */
#define TOOL_ATTR_MAX 1024

struct tool {
	/* options */
	const char *module_path;
	const char *pin_file;
	const char *label;
	const char *in;
	const char *out;
	CK_SLOT_ID slot;
	int have_slot;
	/* state */
	void *dl;
	CK_FUNCTION_LIST_PTR p11;
	int initialized;
	CK_SESSION_HANDLE session;
	int have_session;
};

struct tool_cmd {
	const char *name;
	int (*run)(struct tool *t);
	const char *usage;
	int need_label, need_in, need_out;
};

/* ---- messages ---------------------------------------------------------------------- */

struct rv_name {
	CK_RV rv;
	const char *name;
};

static const struct rv_name rv_names[] = {
	{ CKR_OK, "CKR_OK" },
	{ CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR" },
	{ CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD" },
	{ CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR" },
	{ CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED" },
	{ CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID" },
	{ CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT" },
	{ CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID" },
	{ CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID" },
	{ CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT" },
	{ CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE" },
	{ CKR_PIN_LOCKED, "CKR_PIN_LOCKED" },
	{ CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID" },
	{ CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID" },
	{ CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT" },
	{ CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT" },
	{ CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED" },
	{ CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN" },
	{ CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN" },
	{ CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED" },
	{ CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY" },
	{ CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID" },
};

static const char *rv_str(CK_RV rv)
{
	for (size_t i = 0; i < sizeof(rv_names) / sizeof(rv_names[0]); i++)
		if (rv_names[i].rv == rv)
			return rv_names[i].name;
	return "CKR_?";
}

static int p11_fail(const char *what, CK_RV rv)
{
	fprintf(stderr, "ukey-tool: %s failed: %s (0x%lx)\n", what, rv_str(rv), (unsigned long)rv);
	return 1;
}

/* ---- module, slot, session ------------------------------------------------------------ */

static int tool_load(struct tool *t)
{
	CK_C_GetFunctionList get;
	CK_RV rv;

	if (t->module_path == NULL || *t->module_path == '\0') {
		fprintf(stderr, "ukey-tool: no module: use --module PATH or set UKEY_MODULE\n");
		return 1;
	}
	t->dl = dlopen(t->module_path, RTLD_NOW | RTLD_LOCAL);
	if (t->dl == NULL) {
		fprintf(stderr, "ukey-tool: cannot load %s: %s\n", t->module_path, dlerror());
		return 1;
	}
	get = (CK_C_GetFunctionList)dlsym(t->dl, "C_GetFunctionList");
	if (get == NULL) {
		fprintf(stderr, "ukey-tool: %s has no C_GetFunctionList\n", t->module_path);
		return 1;
	}
	rv = get(&t->p11);
	if (rv != CKR_OK)
		return p11_fail("C_GetFunctionList", rv);
	rv = t->p11->C_Initialize(NULL);
	if (rv != CKR_OK)
		return p11_fail("C_Initialize", rv);
	t->initialized = 1;
	return 0;
}

static void tool_unload(struct tool *t)
{
	if (t->have_session)
		t->p11->C_CloseSession(t->session);
	if (t->initialized)
		t->p11->C_Finalize(NULL);
	if (t->dl != NULL)
		dlclose(t->dl);
}

/* The slot given with --slot, else the first slot holding a token. */
static int tool_pick_slot(struct tool *t)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = sizeof(slots) / sizeof(slots[0]);
	CK_RV rv;

	if (t->have_slot)
		return 0;
	rv = t->p11->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv != CKR_OK)
		return p11_fail("C_GetSlotList", rv);
	if (n == 0) {
		fprintf(stderr, "ukey-tool: no key present (is pcscd running and a key attached?)\n");
		return 1;
	}
	t->slot = slots[0];
	return 0;
}

static int tool_open(struct tool *t, int rw)
{
	CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
	CK_RV rv;

	if (tool_pick_slot(t) != 0)
		return 1;
	rv = t->p11->C_OpenSession(t->slot, flags, NULL, NULL, &t->session);
	if (rv != CKR_OK)
		return p11_fail("C_OpenSession", rv);
	t->have_session = 1;
	return 0;
}

/* ---- PIN ------------------------------------------------------------------------------- */

/* Read the first line of path into pin; returns its length or -1. */
static long pin_from_file(const char *path, char pin[TOOL_PIN_MAX])
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "ukey-tool: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = fread(pin, 1, TOOL_PIN_MAX, f);
	fclose(f);
	for (size_t i = 0; i < n; i++)
		if (pin[i] == '\n' || pin[i] == '\r')
			return (long)i;
	if (n == TOOL_PIN_MAX) {
		fprintf(stderr, "ukey-tool: %s: PIN too long\n", path);
		return -1;
	}
	return (long)n;
}

static long pin_get(const struct tool *t, char pin[TOOL_PIN_MAX])
{
	const char *env;
	size_t n;

	if (t->pin_file != NULL)
		return pin_from_file(t->pin_file, pin);
	env = getenv("UKEY_USER_PIN");
	if (env == NULL) {
		fprintf(stderr, "ukey-tool: no PIN: set UKEY_USER_PIN or use --pin-file FILE\n");
		return -1;
	}
	n = strnlen(env, TOOL_PIN_MAX);
	if (n == TOOL_PIN_MAX) {
		fprintf(stderr, "ukey-tool: UKEY_USER_PIN too long\n");
		return -1;
	}
	memcpy(pin, env, n);
	return (long)n;
}

/* PKCS#11 3.0 §5.6 C_Login as CKU_USER; the PIN copy is wiped on every path. */
static int tool_login(struct tool *t)
{
	char pin[TOOL_PIN_MAX];
	long n;
	CK_RV rv;
	int rc = 1;

	n = pin_get(t, pin);
	if (n < 0)
		goto out;
	rv = t->p11->C_Login(t->session, CKU_USER, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)n);
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		p11_fail("C_Login", rv);
		goto out;
	}
	rc = 0;
out:
	uk_wipe(pin, sizeof(pin));
	return rc;
}

/* ---- objects --------------------------------------------------------------------------- */

static int find_by_label(struct tool *t, CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE *obj)
{
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)t->label, strlen(t->label) },
	};
	CK_ULONG n = 0;
	CK_RV rv;

	rv = t->p11->C_FindObjectsInit(t->session, tmpl, 2);
	if (rv != CKR_OK)
		return p11_fail("C_FindObjectsInit", rv);
	rv = t->p11->C_FindObjects(t->session, obj, 1, &n);
	t->p11->C_FindObjectsFinal(t->session);
	if (rv != CKR_OK)
		return p11_fail("C_FindObjects", rv);
	if (n == 0) {
		fprintf(stderr, "ukey-tool: no %s key labelled '%s'\n",
		        cls == CKO_PRIVATE_KEY ? "private" : "public", t->label);
		return 1;
	}
	return 0;
}

/* One attribute into buf; returns its length or -1 (absent or unreadable). */
static long attr_get(struct tool *t, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
                     void *buf, size_t cap)
{
	CK_ATTRIBUTE a = { type, buf, (CK_ULONG)cap };

	if (t->p11->C_GetAttributeValue(t->session, obj, &a, 1) != CKR_OK)
		return -1;
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
		return -1;
	return (long)a.ulValueLen;
}

/* ---- files ----------------------------------------------------------------------------- */

static int file_read(const char *path, unsigned char **data, size_t *len)
{
	FILE *f = fopen(path, "rbe");
	unsigned char *buf = NULL;
	size_t n = 0;
	int rc = 1;

	if (f == NULL) {
		fprintf(stderr, "ukey-tool: cannot open %s: %s\n", path, strerror(errno));
		return 1;
	}
	buf = malloc(TOOL_FILE_MAX + 1);
	if (buf == NULL)
		goto out;
	n = fread(buf, 1, TOOL_FILE_MAX + 1, f);
	if (ferror(f) || n > TOOL_FILE_MAX) {
		fprintf(stderr, "ukey-tool: %s: unreadable or larger than %zu bytes\n", path,
		        TOOL_FILE_MAX);
		goto out;
	}
	*data = buf;
	*len = n;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	fclose(f);
	return rc;
}

static int file_write(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wbe");
	int rc = 1;

	if (f == NULL) {
		fprintf(stderr, "ukey-tool: cannot create %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (fwrite(data, 1, len, f) == len)
		rc = 0;
	if (fclose(f) != 0)
		rc = 1;
	if (rc != 0)
		fprintf(stderr, "ukey-tool: cannot write %s\n", path);
	return rc;
}

/* ---- commands -------------------------------------------------------------------------- */

static void print_field(const char *name, const CK_UTF8CHAR *p, size_t n)
{
	while (n > 0 && p[n - 1] == ' ')
		n--;
	printf("  %-14s %.*s\n", name, (int)n, (const char *)p);
}

struct flag_name {
	CK_FLAGS flag;
	const char *name;
};

static const struct flag_name token_flags[] = {
	{ CKF_LOGIN_REQUIRED, "login required" },
	{ CKF_USER_PIN_INITIALIZED, "PIN initialized" },
	{ CKF_USER_PIN_COUNT_LOW, "user PIN count low" },
	{ CKF_USER_PIN_FINAL_TRY, "user PIN final try" },
	{ CKF_USER_PIN_LOCKED, "user PIN LOCKED" },
	{ CKF_USER_PIN_TO_BE_CHANGED, "user PIN to be changed" },
	{ CKF_SO_PIN_COUNT_LOW, "SO PIN count low" },
	{ CKF_SO_PIN_FINAL_TRY, "SO PIN final try" },
	{ CKF_SO_PIN_LOCKED, "SO PIN LOCKED" },
};

static void print_token(const CK_TOKEN_INFO *ti)
{
	print_field("label", ti->label, sizeof(ti->label));
	print_field("manufacturer", ti->manufacturerID, sizeof(ti->manufacturerID));
	print_field("model", ti->model, sizeof(ti->model));
	print_field("serial", ti->serialNumber, sizeof(ti->serialNumber));
	printf("  %-14s", "flags");
	for (size_t i = 0; i < sizeof(token_flags) / sizeof(token_flags[0]); i++)
		if (ti->flags & token_flags[i].flag)
			printf(" [%s]", token_flags[i].name);
	printf("\n");
}

static const char *class_str(CK_OBJECT_CLASS c)
{
	switch (c) {
	case CKO_PRIVATE_KEY: return "private key";
	case CKO_PUBLIC_KEY: return "public key";
	case CKO_CERTIFICATE: return "certificate";
	case CKO_SECRET_KEY: return "secret key";
	case CKO_DATA: return "data";
	default: return "object";
	}
}

static void print_object(struct tool *t, CK_OBJECT_HANDLE obj)
{
	CK_OBJECT_CLASS cls = 0;
	char label[TOOL_ATTR_MAX];
	long n;

	attr_get(t, obj, CKA_CLASS, &cls, sizeof(cls));
	n = attr_get(t, obj, CKA_LABEL, label, sizeof(label));
	if (n < 0)
		n = 0;
	printf("    %-12s '%.*s'\n", class_str(cls), (int)n, label);
}

static void list_objects(struct tool *t)
{
	CK_OBJECT_HANDLE objs[64];
	CK_ULONG n = 0;

	if (t->p11->C_FindObjectsInit(t->session, NULL, 0) != CKR_OK)
		return;
	if (t->p11->C_FindObjects(t->session, objs, 64, &n) != CKR_OK)
		n = 0;
	t->p11->C_FindObjectsFinal(t->session);
	printf("  objects (public; log in to see private keys): %lu\n", (unsigned long)n);
	for (CK_ULONG i = 0; i < n; i++)
		print_object(t, objs[i]);
}

static int cmd_list_slot(struct tool *t, CK_SLOT_ID slot)
{
	CK_TOKEN_INFO ti;
	CK_RV rv;

	rv = t->p11->C_GetTokenInfo(slot, &ti);
	if (rv != CKR_OK)
		return p11_fail("C_GetTokenInfo", rv);
	printf("slot %lu:\n", (unsigned long)slot);
	print_token(&ti);
	rv = t->p11->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &t->session);
	if (rv != CKR_OK) {
		printf("  objects: unavailable (C_OpenSession: %s)\n", rv_str(rv));
		return 0;
	}
	t->have_session = 1;
	list_objects(t);
	t->p11->C_CloseSession(t->session);
	t->have_session = 0;
	return 0;
}

static int cmd_list(struct tool *t)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = sizeof(slots) / sizeof(slots[0]);
	CK_RV rv;
	int rc = 0;

	rv = t->p11->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv != CKR_OK)
		return p11_fail("C_GetSlotList", rv);
	if (n == 0)
		printf("no key present\n");
	for (CK_ULONG i = 0; i < n; i++)
		if (!t->have_slot || slots[i] == t->slot)
			rc |= cmd_list_slot(t, slots[i]);
	return rc;
}

/* PKCS#11 3.0 §5.14 C_GenerateKeyPair with CKM_EC_KEY_PAIR_GEN and the SM2 curve
 * parameters of docs/pkcs11-profile.md; the token creates the container named by the label. */
static int cmd_keygen(struct tool *t)
{
	CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL yes = CK_TRUE;
	CK_ULONG label_len = strlen(t->label);
	CK_ATTRIBUTE pub[] = {
		{ CKA_EC_PARAMS, (void *)UKEY_SM2_EC_PARAMS, UKEY_SM2_EC_PARAMS_LEN },
		{ CKA_LABEL, (void *)t->label, label_len },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_VERIFY, &yes, sizeof(yes) },
	};
	CK_ATTRIBUTE priv[] = {
		{ CKA_LABEL, (void *)t->label, label_len },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_SIGN, &yes, sizeof(yes) },
	};
	CK_OBJECT_HANDLE hpub, hpriv;
	CK_RV rv;

	if (tool_open(t, 1) != 0 || tool_login(t) != 0)
		return 1;
	rv = t->p11->C_GenerateKeyPair(t->session, &mech, pub, sizeof(pub) / sizeof(pub[0]),
	                               priv, sizeof(priv) / sizeof(priv[0]), &hpub, &hpriv);
	if (rv != CKR_OK)
		return p11_fail("C_GenerateKeyPair", rv);
	printf("generated an SM2 key pair labelled '%s'\n", t->label);
	return 0;
}

/* C_Sign (PKCS#11 3.0 §5.13) with CKM_UKEY_SM2_SM3 and no parameter: the token computes
 * e = SM3(Z || M) with the default user ID "1234567812345678" (GM/T 0009) and returns r || s,
 * written out as the DER ECDSA-Sig-Value of GM/T 0009 §7.3 that OpenSSL verifies. */
static int cmd_sign(struct tool *t)
{
	CK_MECHANISM mech = { CKM_UKEY_SM2_SM3, NULL, 0 };
	CK_OBJECT_HANDLE key;
	unsigned char *msg = NULL;
	size_t len = 0;
	CK_BYTE rs[UK_SM2_SIG_LEN];
	CK_ULONG rslen = sizeof(rs);
	uint8_t der[80];
	size_t derlen = sizeof(der);
	CK_RV rv;
	int rc = 1;

	if (file_read(t->in, &msg, &len) != 0)
		goto out;
	if (tool_open(t, 0) != 0 || tool_login(t) != 0 || find_by_label(t, CKO_PRIVATE_KEY, &key))
		goto out;
	rv = t->p11->C_SignInit(t->session, &mech, key);
	if (rv == CKR_OK)
		rv = t->p11->C_Sign(t->session, msg, (CK_ULONG)len, rs, &rslen);
	if (rv != CKR_OK) {
		p11_fail("C_Sign", rv);
		goto out;
	}
	if (rslen != UK_SM2_SIG_LEN || uk_sig_rs_to_der(rs, UK_SM2_SIG_LEN / 2, der, &derlen)) {
		fprintf(stderr, "ukey-tool: unexpected signature length %lu\n", (unsigned long)rslen);
		goto out;
	}
	rc = file_write(t->out, der, derlen);
	if (rc == 0)
		printf("signed %zu bytes with '%s' (SM2/SM3): %zu-byte DER signature in %s\n", len,
		       t->label, derlen, t->out);
out:
	free(msg);
	return rc;
}

static int pem_write(const char *path, EVP_PKEY *pkey)
{
	FILE *f = fopen(path, "we");
	int ok;

	if (f == NULL) {
		fprintf(stderr, "ukey-tool: cannot create %s: %s\n", path, strerror(errno));
		return 1;
	}
	ok = PEM_write_PUBKEY(f, pkey) == 1;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok)
		fprintf(stderr, "ukey-tool: cannot write %s\n", path);
	return ok ? 0 : 1;
}

/* The SM2 point from CKA_EC_POINT: DER OCTET STRING of 04||X||Y (PKCS#11 3.0 §2.3.3);
 * the raw 65-byte form some modules return is accepted too. */
static int point_from_attr(const uint8_t *p, long n, uint8_t pt[UK_SM2_POINT_LEN])
{
	if (n == UK_SM2_POINT_LEN + 2 && p[0] == 0x04 && p[1] == UK_SM2_POINT_LEN)
		p += 2;
	else if (n != UK_SM2_POINT_LEN)
		return -1;
	memcpy(pt, p, UK_SM2_POINT_LEN);
	return 0;
}

/* The key from CKA_PUBLIC_KEY_INFO (SubjectPublicKeyInfo DER) when the module has it,
 * else built from CKA_EC_POINT on the SM2 curve. */
static EVP_PKEY *pubkey_load(struct tool *t, CK_OBJECT_HANDLE obj)
{
	uint8_t buf[TOOL_ATTR_MAX];
	uint8_t pt[UK_SM2_POINT_LEN];
	const unsigned char *p = buf;
	long n;

	n = attr_get(t, obj, CKA_PUBLIC_KEY_INFO, buf, sizeof(buf));
	if (n > 0)
		return d2i_PUBKEY(NULL, &p, n);
	n = attr_get(t, obj, CKA_EC_PARAMS, buf, sizeof(buf));
	if (n != UKEY_SM2_EC_PARAMS_LEN || memcmp(buf, UKEY_SM2_EC_PARAMS, (size_t)n) != 0) {
		fprintf(stderr, "ukey-tool: '%s' is not an SM2 key\n", t->label);
		return NULL;
	}
	n = attr_get(t, obj, CKA_EC_POINT, buf, sizeof(buf));
	if (n < 0 || point_from_attr(buf, n, pt) != 0) {
		fprintf(stderr, "ukey-tool: '%s' has no usable CKA_EC_POINT\n", t->label);
		return NULL;
	}
	return uk_sm2_from_public(pt);
}

static int cmd_pubkey(struct tool *t)
{
	CK_OBJECT_HANDLE obj;
	EVP_PKEY *pkey = NULL;
	int rc = 1;

	if (tool_open(t, 0) != 0 || find_by_label(t, CKO_PUBLIC_KEY, &obj) != 0)
		goto out;
	pkey = pubkey_load(t, obj);
	if (pkey == NULL) {
		fprintf(stderr, "ukey-tool: cannot decode the public key of '%s'\n", t->label);
		goto out;
	}
	rc = pem_write(t->out, pkey);
	if (rc == 0)
		printf("public key of '%s' written to %s\n", t->label, t->out);
out:
	EVP_PKEY_free(pkey);
	return rc;
}

static const struct tool_cmd commands[] = {
	{ "list", cmd_list, "list", 0, 0, 0 },
	{ "keygen", cmd_keygen, "keygen --label NAME", 1, 0, 0 },
	{ "sign", cmd_sign, "sign --label NAME --in FILE --out FILE", 1, 1, 1 },
	{ "pubkey", cmd_pubkey, "pubkey --label NAME --out FILE", 1, 0, 1 },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* ---- command line ---------------------------------------------------------------------- */

static int usage(void)
{
	fprintf(stderr, "usage: ukey-tool [--module PATH] [--slot ID] [--pin-file FILE] "
	        "COMMAND [options]\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(stderr, "  %s\n", commands[i].usage);
	fprintf(stderr, "The module defaults to $UKEY_MODULE; the user PIN comes from "
	        "$UKEY_USER_PIN or --pin-file.\n");
	return 2;
}

static int parse_slot(const char *s, struct tool *t)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	t->slot = (CK_SLOT_ID)v;
	t->have_slot = 1;
	return 0;
}

/* Options may come before or after the command name. */
static int parse_option(struct tool *t, const char *opt, const char *val)
{
	if (val == NULL)
		return -1;
	if (strcmp(opt, "--module") == 0)
		t->module_path = val;
	else if (strcmp(opt, "--pin-file") == 0)
		t->pin_file = val;
	else if (strcmp(opt, "--label") == 0)
		t->label = val;
	else if (strcmp(opt, "--in") == 0)
		t->in = val;
	else if (strcmp(opt, "--out") == 0)
		t->out = val;
	else if (strcmp(opt, "--slot") == 0)
		return parse_slot(val, t);
	else
		return -1;
	return 0;
}

static const struct tool_cmd *parse_args(struct tool *t, int argc, char **argv)
{
	const struct tool_cmd *cmd = NULL;

	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--", 2) == 0) {
			if (parse_option(t, argv[i], i + 1 < argc ? argv[i + 1] : NULL) != 0) {
				fprintf(stderr, "ukey-tool: bad option %s\n", argv[i]);
				return NULL;
			}
			i++;
			continue;
		}
		for (size_t c = 0; c < N_COMMANDS && cmd == NULL; c++)
			if (strcmp(argv[i], commands[c].name) == 0)
				cmd = &commands[c];
		if (cmd == NULL) {
			fprintf(stderr, "ukey-tool: unknown command %s\n", argv[i]);
			return NULL;
		}
	}
	if (cmd == NULL || (cmd->need_label && !t->label) || (cmd->need_in && !t->in) ||
	    (cmd->need_out && !t->out))
		return NULL;
	return cmd;
}

int main(int argc, char **argv)
{
	struct tool t;
	const struct tool_cmd *cmd;
	int rc;

	memset(&t, 0, sizeof(t));
	t.module_path = getenv("UKEY_MODULE");
	cmd = parse_args(&t, argc, argv);
	if (cmd == NULL)
		return usage();
	rc = tool_load(&t);
	if (rc == 0)
		rc = cmd->run(&t);
	tool_unload(&t);
	return rc;
}
