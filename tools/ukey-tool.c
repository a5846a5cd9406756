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
 *     csr    --label NAME --subject /CN=../O=.. --out FILE [--id HEX]
 *                                            a PKCS#10 request (PEM) for the SM2 key, signed
 *                                            on the key: SM2-with-SM3, default user ID
 *     import-cert --label NAME --in FILE [--id HEX]
 *                                            store an X.509 certificate (PEM or DER) as the
 *                                            certificate of the key pair (same CKA_ID)
 *
 * --id HEX narrows the key pair to the one whose CKA_ID is HEX (a container holds a signing
 * and an encryption pair under one label). The user PIN comes from --pin-file (first line)
 * or $UKEY_USER_PIN, never from the command line, and is wiped once C_Login has used it.
 * Exit status: 0 done, 1 failed (module, key or file), 2 usage. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>

#include "uk_crypto.h"
#include "uk_wipe.h"
#include "ukey-pkcs11.h"

#define TOOL_PIN_MAX 64
#define TOOL_FILE_MAX ((size_t)16 << 20)   /* C_Sign is single-part: keep inputs bounded */
#define TOOL_ATTR_MAX 1024
#define TOOL_ID_MAX 64
#define TOOL_SIG_DER_MAX 80     /* SM2 ECDSA-Sig-Value: SEQUENCE of two INTEGERs <= 33 bytes */

struct tool {
	/* options */
	const char *module_path;
	const char *pin_file;
	const char *label;
	const char *in;
	const char *out;
	const char *subject;
	CK_BYTE id[TOOL_ID_MAX];
	size_t id_len;
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
	int need_label, need_in, need_out, need_subject;
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
	{ CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID" },
	{ CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE" },
	{ CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY" },
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

/* The first object of class cls labelled --label (and with CKA_ID --id when given). */
static int find_by_label(struct tool *t, CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE *obj)
{
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)t->label, strlen(t->label) },
		{ CKA_ID, t->id, t->id_len },
	};
	CK_ULONG n = 0;
	CK_RV rv;

	rv = t->p11->C_FindObjectsInit(t->session, tmpl, t->id_len > 0 ? 3 : 2);
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
static int sm2_sign_der(struct tool *t, CK_OBJECT_HANDLE key, const unsigned char *msg,
                        size_t len, uint8_t der[TOOL_SIG_DER_MAX], size_t *derlen)
{
	CK_MECHANISM mech = { CKM_UKEY_SM2_SM3, NULL, 0 };
	CK_BYTE rs[UK_SM2_SIG_LEN];
	CK_ULONG rslen = sizeof(rs);
	CK_RV rv;

	rv = t->p11->C_SignInit(t->session, &mech, key);
	if (rv == CKR_OK)
		rv = t->p11->C_Sign(t->session, (CK_BYTE_PTR)msg, (CK_ULONG)len, rs, &rslen);
	if (rv != CKR_OK)
		return p11_fail("C_Sign", rv);
	*derlen = TOOL_SIG_DER_MAX;
	if (rslen != UK_SM2_SIG_LEN || uk_sig_rs_to_der(rs, UK_SM2_SIG_LEN / 2, der, derlen)) {
		fprintf(stderr, "ukey-tool: unexpected signature length %lu\n", (unsigned long)rslen);
		return 1;
	}
	return 0;
}

static int cmd_sign(struct tool *t)
{
	CK_OBJECT_HANDLE key;
	unsigned char *msg = NULL;
	size_t len = 0;
	uint8_t der[TOOL_SIG_DER_MAX];
	size_t derlen = 0;
	int rc = 1;

	if (file_read(t->in, &msg, &len) != 0)
		goto out;
	if (tool_open(t, 0) != 0 || tool_login(t) != 0 || find_by_label(t, CKO_PRIVATE_KEY, &key))
		goto out;
	if (sm2_sign_der(t, key, msg, len, der, &derlen) != 0)
		goto out;
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

/* ---- certificates ---------------------------------------------------------------------- */

/* "/CN=name/O=org" (the openssl req -subj form; "\/" is a literal slash) as an X509_NAME,
 * each value UTF-8. NULL on a malformed string or an unknown attribute name. */
static X509_NAME *subject_parse(const char *s)
{
	X509_NAME *name = X509_NAME_new();
	char field[256];
	size_t n;

	if (name == NULL || *s != '/')
		goto bad;
	while (*s == '/') {
		for (n = 0, s++; *s != '\0' && *s != '/' && n < sizeof(field) - 1; s++, n++) {
			if (*s == '\\' && s[1] != '\0')
				s++;
			field[n] = *s;
		}
		field[n] = '\0';
		char *eq = strchr(field, '=');
		if (eq == NULL || eq == field || eq[1] == '\0' || (*s != '\0' && *s != '/'))
			goto bad;
		*eq = '\0';
		if (!X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
		                                (const unsigned char *)eq + 1, -1, -1, 0))
			goto bad;
	}
	if (*s == '\0' && X509_NAME_entry_count(name) > 0)
		return name;
bad:
	fprintf(stderr, "ukey-tool: bad --subject (want /CN=name/O=org...)\n");
	X509_NAME_free(name);
	return NULL;
}

/* The request's signature: SM2-with-SM3 (GM/T 0006 OID 1.2.156.10197.1.501, parameters
 * absent as GM/T 0015 §7.3 says) over the DER of CertificationRequestInfo (RFC 2986 §4.2),
 * computed on the key: the card hashes SM3(Z || tbs) with the default user ID. */
static int csr_sign(struct tool *t, X509_REQ *req, CK_OBJECT_HANDLE key)
{
	unsigned char *tbs = NULL;
	uint8_t der[TOOL_SIG_DER_MAX];
	size_t derlen = 0;
	X509_ALGOR *alg = X509_ALGOR_new();
	ASN1_BIT_STRING *sig = ASN1_BIT_STRING_new();
	int len, rc = 1;

	if (alg == NULL || sig == NULL ||
	    !X509_ALGOR_set0(alg, OBJ_nid2obj(NID_SM2_with_SM3), V_ASN1_UNDEF, NULL))
		goto out;
	len = i2d_re_X509_REQ_tbs(req, &tbs);
	if (len <= 0 || sm2_sign_der(t, key, tbs, (size_t)len, der, &derlen) != 0)
		goto out;
	if (!ASN1_BIT_STRING_set(sig, der, (int)derlen))
		goto out;
	/* a DER signature is whole octets: no unused bits (X.690 §8.6.2.2) */
	sig->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	sig->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	if (!X509_REQ_set1_signature_algo(req, alg))
		goto out;
	X509_REQ_set0_signature(req, sig);
	sig = NULL;
	rc = 0;
out:
	OPENSSL_free(tbs);
	ASN1_BIT_STRING_free(sig);
	X509_ALGOR_free(alg);
	return rc;
}

static int csr_write(const char *path, X509_REQ *req)
{
	FILE *f = fopen(path, "we");
	int ok;

	if (f == NULL) {
		fprintf(stderr, "ukey-tool: cannot create %s: %s\n", path, strerror(errno));
		return 1;
	}
	ok = PEM_write_X509_REQ(f, req) == 1;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok)
		fprintf(stderr, "ukey-tool: cannot write %s\n", path);
	return ok ? 0 : 1;
}

/* PKCS#10 (RFC 2986) for the SM2 key pair: the public key from the token, the signature
 * made by the token (C_Sign, CKM_UKEY_SM2_SM3); `openssl req -verify` checks it. */
static int cmd_csr(struct tool *t)
{
	CK_OBJECT_HANDLE pub, key;
	EVP_PKEY *pkey = NULL;
	X509_NAME *name = NULL;
	X509_REQ *req = NULL;
	int rc = 1;

	name = subject_parse(t->subject);
	if (name == NULL)
		goto out;
	if (tool_open(t, 0) != 0 || find_by_label(t, CKO_PUBLIC_KEY, &pub) != 0)
		goto out;
	pkey = pubkey_load(t, pub);
	if (pkey == NULL)
		goto out;
	req = X509_REQ_new();
	if (req == NULL || !X509_REQ_set_version(req, X509_REQ_VERSION_1) ||
	    !X509_REQ_set_subject_name(req, name) || !X509_REQ_set_pubkey(req, pkey)) {
		fprintf(stderr, "ukey-tool: cannot build the request\n");
		goto out;
	}
	if (tool_login(t) != 0 || find_by_label(t, CKO_PRIVATE_KEY, &key) != 0 ||
	    csr_sign(t, req, key) != 0)
		goto out;
	rc = csr_write(t->out, req);
	if (rc == 0)
		printf("certificate request for '%s' (SM2 with SM3) written to %s\n", t->label, t->out);
out:
	X509_REQ_free(req);
	EVP_PKEY_free(pkey);
	X509_NAME_free(name);
	return rc;
}

/* The certificate in a PEM or DER file, as DER. */
static int cert_load_der(const char *path, unsigned char **der, int *len)
{
	unsigned char *data = NULL;
	const unsigned char *p;
	size_t n = 0;
	BIO *bio = NULL;
	X509 *x = NULL;

	*der = NULL;
	if (file_read(path, &data, &n) != 0)
		return 1;
	p = data;
	x = d2i_X509(NULL, &p, (long)n);
	if (x == NULL && (bio = BIO_new_mem_buf(data, (int)n)) != NULL)
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	if (x != NULL)
		*len = i2d_X509(x, der);
	X509_free(x);
	BIO_free(bio);
	free(data);
	if (*der == NULL || *len <= 0) {
		fprintf(stderr, "ukey-tool: %s holds no X.509 certificate\n", path);
		return 1;
	}
	return 0;
}

/* PKCS#11 3.0 §5.7.1 C_CreateObject of a CKC_X_509 certificate with the key pair's CKA_ID
 * and label (docs/pkcs11-profile.md "Object management"): the module stores it as that
 * pair's certificate and refuses one whose public key is not the pair's. */
static int cmd_import_cert(struct tool *t)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE type = CKC_X_509;
	CK_BBOOL yes = CK_TRUE;
	CK_BYTE id[TOOL_ID_MAX];
	CK_OBJECT_HANDLE pub, obj;
	unsigned char *der = NULL;
	int len = 0, rc = 1;
	long idlen;
	CK_RV rv;

	if (cert_load_der(t->in, &der, &len) != 0)
		goto out;
	if (tool_open(t, 1) != 0 || find_by_label(t, CKO_PUBLIC_KEY, &pub) != 0)
		goto out;
	idlen = attr_get(t, pub, CKA_ID, id, sizeof(id));
	if (idlen <= 0) {
		fprintf(stderr, "ukey-tool: the key pair '%s' has no CKA_ID\n", t->label);
		goto out;
	}
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_CERTIFICATE_TYPE, &type, sizeof(type) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_LABEL, (void *)t->label, strlen(t->label) },
		{ CKA_ID, id, (CK_ULONG)idlen },
		{ CKA_VALUE, der, (CK_ULONG)len },
	};
	if (tool_login(t) != 0)
		goto out;
	rv = t->p11->C_CreateObject(t->session, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &obj);
	if (rv != CKR_OK) {
		p11_fail("C_CreateObject", rv);
		if (rv == CKR_TEMPLATE_INCONSISTENT)
			fprintf(stderr, "ukey-tool: not the public key of '%s', or it has a "
			        "certificate already\n", t->label);
		goto out;
	}
	printf("certificate from %s stored with the key pair '%s'\n", t->in, t->label);
	rc = 0;
out:
	OPENSSL_free(der);
	return rc;
}

static const struct tool_cmd commands[] = {
	{ "list", cmd_list, "list", 0, 0, 0, 0 },
	{ "keygen", cmd_keygen, "keygen --label NAME", 1, 0, 0, 0 },
	{ "sign", cmd_sign, "sign --label NAME --in FILE --out FILE", 1, 1, 1, 0 },
	{ "pubkey", cmd_pubkey, "pubkey --label NAME --out FILE", 1, 0, 1, 0 },
	{ "csr", cmd_csr, "csr --label NAME --subject /CN=NAME/O=ORG --out FILE [--id HEX]",
	  1, 0, 1, 1 },
	{ "import-cert", cmd_import_cert, "import-cert --label NAME --in FILE [--id HEX]",
	  1, 1, 0, 0 },
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
	        "$UKEY_USER_PIN or --pin-file.\n"
	        "Exit status: 0 done, 1 failed, 2 usage.\n");
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

/* --id: CKA_ID as hex digits (pkcs11-tool prints it so), 1 to TOOL_ID_MAX bytes. */
static int parse_id(const char *s, struct tool *t)
{
	long n = 0;
	unsigned char *b = OPENSSL_hexstr2buf(s, &n);

	if (b == NULL || n <= 0 || (size_t)n > sizeof(t->id)) {
		OPENSSL_free(b);
		return -1;
	}
	memcpy(t->id, b, (size_t)n);
	t->id_len = (size_t)n;
	OPENSSL_free(b);
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
	else if (strcmp(opt, "--subject") == 0)
		t->subject = val;
	else if (strcmp(opt, "--id") == 0)
		return parse_id(val, t);
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
	    (cmd->need_out && !t->out) || (cmd->need_subject && !t->subject))
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
