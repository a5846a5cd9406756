/* module_e2e_objects: certificates and data objects through $UKEY_MODULE against an
 * emulated key (run inside tools/ukey-sandbox). A certificate for a key generated on the
 * token is made here with OpenSSL (a test CA, SM2 with SM3; ECDSA P-256 with SHA-256 when
 * the module generates P-256 keys), imported with C_CreateObject, and its attributes are
 * compared with OpenSSL's own parse of it, also after a fresh C_Initialize (the body then
 * comes from the card: SELECT + READ BINARY). Data objects of 100 bytes, 60 KiB and 64 KiB
 * are written, read back and destroyed; the refusals use PKCS#11 3.0 §5.7's codes. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <p11-kit/pkcs11.h>

#include "ukey-pkcs11.h"
#include "uk_test.h"

static CK_FUNCTION_LIST_PTR fl;
static const char *g_pin;

static const uint8_t p256_params[] = { 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01,
	                               0x07 };

static CK_SESSION_HANDLE open_login(CK_SLOT_ID slot)
{
	CK_SESSION_HANDLE h;

	UK_CHECK_EQ(fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h),
	            CKR_OK);
	UK_CHECK_EQ(fl->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)g_pin, strlen(g_pin)), CKR_OK);
	return h;
}

static CK_SLOT_ID init(void)
{
	CK_SLOT_ID slots[8];
	CK_ULONG n = 8;

	UK_CHECK_EQ(fl->C_Initialize(NULL), CKR_OK);
	UK_CHECK_EQ(fl->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	UK_CHECK(n >= 1);
	return slots[0];
}

/* A key pair on the token in container `label`; the public key as OpenSSL sees it. */
static CK_RV keygen(CK_SESSION_HANDLE h, const char *label, int p256, CK_OBJECT_HANDLE *pub,
                    CK_OBJECT_HANDLE *priv, EVP_PKEY **pk)
{
	CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL t = CK_TRUE;
	CK_ATTRIBUTE pubt[] = {
		{ CKA_EC_PARAMS, p256 ? (void *)p256_params : (void *)UKEY_SM2_EC_PARAMS,
		  p256 ? sizeof(p256_params) : UKEY_SM2_EC_PARAMS_LEN },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_VERIFY, &t, 1 },
	};
	CK_ATTRIBUTE privt[] = { { CKA_SIGN, &t, 1 }, { CKA_TOKEN, &t, 1 } };
	uint8_t spki[512];
	CK_ATTRIBUTE get = { CKA_PUBLIC_KEY_INFO, spki, sizeof(spki) };
	const uint8_t *p = spki;
	CK_RV rv;

	rv = fl->C_GenerateKeyPair(h, &m, pubt, 3, privt, 2, pub, priv);
	if (rv != CKR_OK)
		return rv;
	UK_CHECK_EQ(fl->C_GetAttributeValue(h, *pub, &get, 1), CKR_OK);
	*pk = d2i_PUBKEY(NULL, &p, (long)get.ulValueLen);
	UK_CHECK(*pk != NULL);
	return CKR_OK;
}

static EVP_PKEY *ca_key(int p256)
{
	EVP_PKEY *k = p256 ? EVP_EC_gen("P-256") : EVP_PKEY_Q_keygen(NULL, NULL, "SM2");

	UK_CHECK(k != NULL);
	return k;
}

/* X.509 v3 for subject_key, issued by a fresh test CA (SM2/SM3 or ECDSA/SHA-256). */
static X509 *make_cert(EVP_PKEY *subject_key, int p256, const char *cn)
{
	EVP_PKEY *ca = ca_key(p256);
	X509 *x = X509_new();
	X509_NAME *sn = X509_NAME_new(), *in = X509_NAME_new();
	BIGNUM *serial = BN_new();

	UK_CHECK(x != NULL && sn != NULL && in != NULL && serial != NULL);
	UK_CHECK(X509_set_version(x, 2) == 1);
	UK_CHECK(BN_rand(serial, 120, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) == 1);
	UK_CHECK(BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) != NULL);
	UK_CHECK(X509_NAME_add_entry_by_txt(sn, "C", MBSTRING_ASC, (const uint8_t *)"CN", -1, -1,
	                                    0) == 1);
	UK_CHECK(X509_NAME_add_entry_by_txt(sn, "CN", MBSTRING_UTF8, (const uint8_t *)cn, -1, -1,
	                                    0) == 1);
	UK_CHECK(X509_NAME_add_entry_by_txt(in, "CN", MBSTRING_ASC,
	                                    (const uint8_t *)"ukey test CA", -1, -1, 0) == 1);
	UK_CHECK(X509_set_subject_name(x, sn) == 1 && X509_set_issuer_name(x, in) == 1);
	UK_CHECK(X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL);
	UK_CHECK(X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365) != NULL);
	UK_CHECK(X509_set_pubkey(x, subject_key) == 1);
	UK_CHECK(X509_sign(x, ca, p256 ? EVP_sha256() : EVP_sm3()) > 0);
	X509_NAME_free(sn);
	X509_NAME_free(in);
	BN_free(serial);
	EVP_PKEY_free(ca);
	return x;
}

static size_t der_of(X509 *x, uint8_t **der)
{
	int n = i2d_X509(x, der);

	UK_CHECK(n > 0);
	return (size_t)n;
}

static void attr_eq(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type,
                    const void *want, size_t n)
{
	CK_ATTRIBUTE a = { type, NULL, 0 };
	uint8_t *buf;

	UK_CHECK_EQ(fl->C_GetAttributeValue(h, o, &a, 1), CKR_OK);
	UK_CHECK_EQ(a.ulValueLen, n);
	buf = malloc(n + 1);
	UK_CHECK(buf != NULL);
	a.pValue = buf;
	UK_CHECK_EQ(fl->C_GetAttributeValue(h, o, &a, 1), CKR_OK);
	UK_CHECK_MEM(buf, want, n);
	free(buf);
}

static void attr_ulong(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type,
                       CK_ULONG want)
{
	attr_eq(h, o, type, &want, sizeof(want));
}

static void attr_bool(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type,
                      CK_BBOOL want)
{
	attr_eq(h, o, type, &want, 1);
}

/* Each attribute against OpenSSL's encoding of the same field. */
static void check_cert(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE c, X509 *x, const uint8_t *id,
                       size_t idlen, const char *label)
{
	uint8_t *der = NULL, *f = NULL, md[20];
	size_t n = der_of(x, &der);
	unsigned int mdlen = 0;
	int fl_;

	attr_ulong(h, c, CKA_CLASS, CKO_CERTIFICATE);
	attr_ulong(h, c, CKA_CERTIFICATE_TYPE, CKC_X_509);
	attr_ulong(h, c, CKA_CERTIFICATE_CATEGORY, 1);          /* token user */
	attr_bool(h, c, CKA_TOKEN, CK_TRUE);
	attr_bool(h, c, CKA_PRIVATE, CK_FALSE);
	attr_bool(h, c, CKA_TRUSTED, CK_FALSE);
	attr_eq(h, c, CKA_VALUE, der, n);
	attr_eq(h, c, CKA_ID, id, idlen);
	attr_eq(h, c, CKA_LABEL, label, strlen(label));
	fl_ = i2d_X509_NAME(X509_get_subject_name(x), &f);
	attr_eq(h, c, CKA_SUBJECT, f, (size_t)fl_);
	OPENSSL_free(f), f = NULL;
	fl_ = i2d_X509_NAME(X509_get_issuer_name(x), &f);
	attr_eq(h, c, CKA_ISSUER, f, (size_t)fl_);
	OPENSSL_free(f), f = NULL;
	fl_ = i2d_ASN1_INTEGER(X509_get_serialNumber(x), &f);
	attr_eq(h, c, CKA_SERIAL_NUMBER, f, (size_t)fl_);
	OPENSSL_free(f), f = NULL;
	fl_ = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &f);
	attr_eq(h, c, CKA_PUBLIC_KEY_INFO, f, (size_t)fl_);
	OPENSSL_free(f), f = NULL;
	UK_CHECK(EVP_Digest(der, n, md, &mdlen, EVP_sha1(), NULL) == 1);
	attr_eq(h, c, CKA_CHECK_VALUE, md, 3);
	OPENSSL_free(der);
}

static CK_ULONG find(CK_SESSION_HANDLE h, CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_HANDLE *out)
{
	CK_OBJECT_HANDLE found[64];
	CK_ULONG count = 0;

	UK_CHECK_EQ(fl->C_FindObjectsInit(h, t, n), CKR_OK);
	UK_CHECK_EQ(fl->C_FindObjects(h, found, 64, &count), CKR_OK);
	UK_CHECK_EQ(fl->C_FindObjectsFinal(h), CKR_OK);
	if (count > 0 && out != NULL)
		*out = found[0];
	return count;
}

static CK_ULONG find_cert(CK_SESSION_HANDLE h, const uint8_t *id, size_t idlen,
                          CK_OBJECT_HANDLE *out)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_ID, (void *)id, idlen } };

	return find(h, t, 2, out);
}

static CK_RV create_cert(CK_SESSION_HANDLE h, const uint8_t *der, size_t n, const uint8_t *id,
                         size_t idlen, const char *label, CK_OBJECT_HANDLE *out)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ct = CKC_X_509;
	CK_BBOOL t = CK_TRUE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_CERTIFICATE_TYPE, &ct, sizeof(ct) },
		{ CKA_TOKEN, &t, 1 },
		{ CKA_VALUE, (void *)der, n },
		{ CKA_LABEL, (void *)label, label ? strlen(label) : 0 },
		{ CKA_ID, (void *)id, idlen },
	};

	return fl->C_CreateObject(h, tmpl, id != NULL ? 6 : label != NULL ? 5 : 4, out);
}

/* One certificate's life: import, refusals, read back, find by CKA_ID (also after a
 * fresh C_Initialize: read from the card), destroy. */
static void cert_case(CK_SLOT_ID *slot, CK_SESSION_HANDLE *h, int p256, const char *label)
{
	CK_OBJECT_HANDLE pub, priv, c, c2;
	EVP_PKEY *pk, *other;
	uint8_t id[64], *der = NULL, *der2 = NULL;
	CK_ATTRIBUTE ida = { CKA_ID, id, sizeof(id) };
	CK_OBJECT_CLASS kc[2] = { CKO_PRIVATE_KEY, CKO_PUBLIC_KEY };
	CK_ATTRIBUTE kt[4] = { { CKA_CLASS, &kc[0], sizeof(kc[0]) }, { CKA_ID, id, 0 },
		               { CKA_CLASS, &kc[1], sizeof(kc[1]) }, { CKA_ID, id, 0 } };
	size_t n, n2;
	X509 *x, *x2;
	CK_RV rv;

	rv = keygen(*h, label, p256, &pub, &priv, &pk);
	if (p256 && rv != CKR_OK) {
		printf("P-256 key generation: 0x%lx; P-256 certificate case skipped\n", rv);
		return;
	}
	UK_CHECK_EQ(rv, CKR_OK);
	UK_CHECK_EQ(fl->C_GetAttributeValue(*h, pub, &ida, 1), CKR_OK);
	kt[1].ulValueLen = kt[3].ulValueLen = ida.ulValueLen;
	x = make_cert(pk, p256, label);
	n = der_of(x, &der);
	UK_CHECK_EQ(find_cert(*h, id, ida.ulValueLen, NULL), 0);
	/* refusals: garbage, trailing bytes, a key not on the token, a wrong label */
	UK_CHECK_EQ(create_cert(*h, der, n - 1, NULL, 0, NULL, &c), CKR_ATTRIBUTE_VALUE_INVALID);
	other = ca_key(p256);
	x2 = make_cert(other, p256, "not on the token");
	n2 = der_of(x2, &der2);
	UK_CHECK_EQ(create_cert(*h, der2, n2, NULL, 0, NULL, &c), CKR_TEMPLATE_INCONSISTENT);
	UK_CHECK_EQ(create_cert(*h, der2, n2, id, ida.ulValueLen, NULL, &c),
	            CKR_TEMPLATE_INCONSISTENT);
	UK_CHECK_EQ(create_cert(*h, der, n, id, ida.ulValueLen, "another label", &c),
	            CKR_ATTRIBUTE_VALUE_INVALID);
	/* the import, found by its key's CKA_ID */
	UK_CHECK_EQ(create_cert(*h, der, n, id, ida.ulValueLen, label, &c), CKR_OK);
	UK_CHECK_EQ(create_cert(*h, der, n, NULL, 0, NULL, &c2), CKR_TEMPLATE_INCONSISTENT);
	check_cert(*h, c, x, id, ida.ulValueLen, label);
	UK_CHECK_EQ(find_cert(*h, id, ida.ulValueLen, &c2), 1);
	UK_CHECK_EQ(c2, c);
	/* a new library instance: the body is read from the card, without login */
	UK_CHECK_EQ(fl->C_Finalize(NULL), CKR_OK);
	*slot = init();
	UK_CHECK_EQ(fl->C_OpenSession(*slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, h),
	            CKR_OK);
	UK_CHECK_EQ(find_cert(*h, id, ida.ulValueLen, &c), 1);
	check_cert(*h, c, x, id, ida.ulValueLen, label);
	UK_CHECK_EQ(fl->C_DestroyObject(*h, c), CKR_ACTION_PROHIBITED);   /* needs the PIN */
	UK_CHECK_EQ(fl->C_Login(*h, CKU_USER, (CK_UTF8CHAR_PTR)g_pin, strlen(g_pin)), CKR_OK);
	UK_CHECK_EQ(fl->C_SetAttributeValue(*h, c, &ida, 1), CKR_ATTRIBUTE_READ_ONLY);
	UK_CHECK_EQ(fl->C_DestroyObject(*h, c), CKR_OK);
	UK_CHECK_EQ(find_cert(*h, id, ida.ulValueLen, NULL), 0);
	UK_CHECK_EQ(fl->C_GetAttributeValue(*h, c, &ida, 1), CKR_OBJECT_HANDLE_INVALID);
	/* the certificate again without CKA_ID: paired by its public key */
	UK_CHECK_EQ(create_cert(*h, der, n, NULL, 0, NULL, &c), CKR_OK);
	UK_CHECK_EQ(find_cert(*h, id, ida.ulValueLen, &c2), 1);
	UK_CHECK_EQ(c2, c);
	/* destroying the container's only pair deletes the container: keys and certificate
	 * (the handles of the first library instance are gone: found again) */
	UK_CHECK_EQ(find(*h, kt, 2, &priv), 1);
	UK_CHECK_EQ(find(*h, kt + 2, 2, &pub), 1);
	UK_CHECK_EQ(fl->C_DestroyObject(*h, priv), CKR_OK);
	UK_CHECK_EQ(find(*h, kt + 2, 2, NULL), 0);
	UK_CHECK_EQ(find_cert(*h, id, ida.ulValueLen, NULL), 0);
	UK_CHECK_EQ(fl->C_GetAttributeValue(*h, pub, &ida, 1), CKR_OBJECT_HANDLE_INVALID);
	OPENSSL_free(der);
	OPENSSL_free(der2);
	X509_free(x);
	X509_free(x2);
	EVP_PKEY_free(pk);
	EVP_PKEY_free(other);
}

static CK_RV create_data(CK_SESSION_HANDLE h, const char *label, const uint8_t *v, size_t n,
                         CK_OBJECT_HANDLE *out)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL t = CK_TRUE, f = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_TOKEN, &t, 1 },
		{ CKA_PRIVATE, &f, 1 },
		{ CKA_APPLICATION, "ukey", 4 },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_VALUE, (void *)v, n },
	};

	return fl->C_CreateObject(h, tmpl, 6, out);
}

static CK_ULONG find_data(CK_SESSION_HANDLE h, const char *label, CK_OBJECT_HANDLE *out)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) },
		             { CKA_LABEL, (void *)label, strlen(label) } };

	return find(h, t, 2, out);
}

static void data_case(CK_SLOT_ID *slot, CK_SESSION_HANDLE *h)
{
	static const size_t sizes[3] = { 100, 60 * 1024, 65536 };
	static const char *names[3] = { "seal-small", "seal-60k", "seal-64k" };
	CK_OBJECT_HANDLE o[3], got;
	uint8_t *v[3], *big;
	CK_BBOOL f = CK_FALSE;
	CK_ATTRIBUTE priv = { CKA_PRIVATE, &f, 1 };
	size_t i;

	big = calloc(1, 65537);
	UK_CHECK(big != NULL);
	UK_CHECK_EQ(create_data(*h, "too-big", big, 65537, &got), CKR_ATTRIBUTE_VALUE_INVALID);
	UK_CHECK_EQ(create_data(*h, "empty", big, 0, &got), CKR_ATTRIBUTE_VALUE_INVALID);
	UK_CHECK_EQ(create_data(*h, "a-name-longer-than-32-bytes-for-sure", big, 1, &got),
	            CKR_ATTRIBUTE_VALUE_INVALID);
	free(big);
	for (i = 0; i < 3; i++) {
		v[i] = malloc(sizes[i]);
		UK_CHECK(v[i] != NULL && RAND_bytes(v[i], (int)sizes[i]) == 1);
		UK_CHECK_EQ(create_data(*h, names[i], v[i], sizes[i], &o[i]), CKR_OK);
		attr_eq(*h, o[i], CKA_VALUE, v[i], sizes[i]);
	}
	UK_CHECK_EQ(create_data(*h, names[0], v[0], 10, &got), CKR_ATTRIBUTE_VALUE_INVALID);
	/* a new instance, no login: found by label and read from the card */
	UK_CHECK_EQ(fl->C_Finalize(NULL), CKR_OK);
	*slot = init();
	UK_CHECK_EQ(fl->C_OpenSession(*slot, CKF_SERIAL_SESSION, NULL, NULL, h), CKR_OK);
	UK_CHECK_EQ(create_data(*h, "ro", v[0], 10, &got), CKR_SESSION_READ_ONLY);
	for (i = 0; i < 3; i++) {
		UK_CHECK_EQ(find_data(*h, names[i], &got), 1);
		attr_eq(*h, got, CKA_VALUE, v[i], sizes[i]);
		attr_eq(*h, got, CKA_LABEL, names[i], strlen(names[i]));
		attr_eq(*h, got, CKA_APPLICATION, "ukey", 4);
		attr_eq(*h, got, CKA_OBJECT_ID, "", 0);
		attr_bool(*h, got, CKA_PRIVATE, CK_FALSE);
		o[i] = got;
	}
	UK_CHECK_EQ(fl->C_DestroyObject(*h, o[0]), CKR_SESSION_READ_ONLY);
	UK_CHECK_EQ(fl->C_SetAttributeValue(*h, o[0], &priv, 1), CKR_SESSION_READ_ONLY);
	UK_CHECK_EQ(fl->C_CloseSession(*h), CKR_OK);
	*h = open_login(*slot);
	for (i = 0; i < 3; i++) {
		UK_CHECK_EQ(fl->C_DestroyObject(*h, o[i]), CKR_OK);
		UK_CHECK_EQ(find_data(*h, names[i], NULL), 0);
		free(v[i]);
	}
}

int main(void)
{
	const char *path = getenv("UKEY_MODULE");
	CK_C_GetFunctionList get;
	CK_SESSION_HANDLE h;
	CK_SLOT_ID slot;
	void *dl;

	g_pin = getenv("UKEY_USER_PIN");
	if (path == NULL || g_pin == NULL)
		return uk_test_skip("run inside tools/ukey-sandbox (UKEY_MODULE, UKEY_USER_PIN)");
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	UK_CHECK(dl != NULL);
	get = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
	UK_CHECK(get != NULL && get(&fl) == CKR_OK);
	slot = init();
	h = open_login(slot);
	cert_case(&slot, &h, 0, "e2e-sm2-cert");
	cert_case(&slot, &h, 1, "e2e-p256-cert");
	data_case(&slot, &h);
	UK_CHECK_EQ(fl->C_Finalize(NULL), CKR_OK);
	dlclose(dl);
	return uk_test_done("module_e2e_objects");
}
