/* module_e2e_setattr: C_SetAttributeValue of CKA_LABEL through $UKEY_MODULE against an
 * emulated key (run inside tools/ukey-sandbox; PKCS#11 3.0 §5.7.6, docs/pkcs11-profile.md
 * "C_SetAttributeValue").
 * - renaming a key pair's container through its private key: the private and public keys
 *   and the certificate all show the new label (C_GetAttributeValue and C_FindObjects),
 *   handles unchanged, and a fresh C_Initialize (names read from the card) agrees;
 * - the key still signs (checked with OpenSSL, not the module);
 * - refusals, each leaving the label as it was: read-only session, not logged in, a label
 *   taken by another container, two different labels in one template, empty / too long
 *   labels, a read-only attribute next to a valid label (nothing applied), unknown types;
 * - a data object renamed, its value unchanged; duplicate name refused. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <p11-kit/pkcs11.h>

#include "ukey-pkcs11.h"
#include "uk_test.h"

static CK_FUNCTION_LIST_PTR fl;
static const char *g_pin;
static const uint8_t p256_params[] = { 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01,
	                               0x07 };

static CK_SLOT_ID init(void)
{
	CK_SLOT_ID slots[8];
	CK_ULONG n = 8;

	UK_CHECK_EQ(fl->C_Initialize(NULL), CKR_OK);
	UK_CHECK_EQ(fl->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	UK_CHECK(n >= 1);
	return slots[0];
}

static CK_SESSION_HANDLE open_rw(CK_SLOT_ID slot, int login)
{
	CK_SESSION_HANDLE h;

	UK_CHECK_EQ(fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h),
	            CKR_OK);
	if (login)
		UK_CHECK_EQ(fl->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)g_pin, strlen(g_pin)),
		            CKR_OK);
	return h;
}

static void keygen(CK_SESSION_HANDLE h, const char *label, CK_OBJECT_HANDLE *pub,
                   CK_OBJECT_HANDLE *priv)
{
	CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL t = CK_TRUE;
	CK_ATTRIBUTE pubt[] = {
		{ CKA_EC_PARAMS, (void *)p256_params, sizeof(p256_params) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_VERIFY, &t, 1 },
	};
	CK_ATTRIBUTE privt[] = { { CKA_SIGN, &t, 1 }, { CKA_TOKEN, &t, 1 } };

	UK_CHECK_EQ(fl->C_GenerateKeyPair(h, &m, pubt, 3, privt, 2, pub, priv), CKR_OK);
}

/* A self-signed certificate for the token's public key (OpenSSL signs with a test key). */
static void add_cert(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE *cert)
{
	uint8_t spki[512], *der = NULL;
	CK_ATTRIBUTE get = { CKA_PUBLIC_KEY_INFO, spki, sizeof(spki) };
	const uint8_t *p = spki;
	EVP_PKEY *k, *ca = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ct = CKC_X_509;
	int n;

	UK_CHECK_EQ(fl->C_GetAttributeValue(h, pub, &get, 1), CKR_OK);
	k = d2i_PUBKEY(NULL, &p, (long)get.ulValueLen);
	UK_CHECK(k != NULL && ca != NULL && x != NULL);
	UK_CHECK(X509_set_version(x, 2) == 1);
	UK_CHECK(ASN1_INTEGER_set(X509_get_serialNumber(x), 7) == 1);
	UK_CHECK(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                                    (const uint8_t *)"setattr", -1, -1, 0) == 1);
	UK_CHECK(X509_set_issuer_name(x, X509_get_subject_name(x)) == 1);
	UK_CHECK(X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL);
	UK_CHECK(X509_gmtime_adj(X509_getm_notAfter(x), 86400L) != NULL);
	UK_CHECK(X509_set_pubkey(x, k) == 1 && X509_sign(x, ca, EVP_sha256()) > 0);
	n = i2d_X509(x, &der);
	UK_CHECK(n > 0);
	{
		CK_ATTRIBUTE t[] = {
			{ CKA_CLASS, &cls, sizeof(cls) }, { CKA_CERTIFICATE_TYPE, &ct, sizeof(ct) },
			{ CKA_VALUE, der, (CK_ULONG)n },
		};
		UK_CHECK_EQ(fl->C_CreateObject(h, t, 3, cert), CKR_OK);
	}
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(k);
	EVP_PKEY_free(ca);
}

static int label_is(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, const char *want)
{
	char buf[128];
	CK_ATTRIBUTE a = { CKA_LABEL, buf, sizeof(buf) };

	UK_CHECK_EQ(fl->C_GetAttributeValue(h, o, &a, 1), CKR_OK);
	return a.ulValueLen == strlen(want) && memcmp(buf, want, a.ulValueLen) == 0;
}

static CK_RV set_label(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, const char *label)
{
	CK_ATTRIBUTE a = { CKA_LABEL, (void *)label, strlen(label) };

	return fl->C_SetAttributeValue(h, o, &a, 1);
}

/* Number of objects with this label and class, first one in *o. */
static CK_ULONG find(CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls, const char *label,
                     CK_OBJECT_HANDLE *o)
{
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) },
		             { CKA_LABEL, (void *)label, strlen(label) } };
	CK_OBJECT_HANDLE got[8];
	CK_ULONG n = 0;

	UK_CHECK_EQ(fl->C_FindObjectsInit(h, t, 2), CKR_OK);
	UK_CHECK_EQ(fl->C_FindObjects(h, got, 8, &n), CKR_OK);
	UK_CHECK_EQ(fl->C_FindObjectsFinal(h), CKR_OK);
	if (n > 0 && o != NULL)
		*o = got[0];
	return n;
}

/* ECDSA P-256 over SHA-256 by the token, verified by OpenSSL with the public key. */
static void sign_checks(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub)
{
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
	uint8_t msg[40], sig[64], spki[512], der[80], *q = der;
	CK_ATTRIBUTE get = { CKA_PUBLIC_KEY_INFO, spki, sizeof(spki) };
	const uint8_t *p = spki;
	CK_ULONG n = sizeof(sig);
	ECDSA_SIG *es = ECDSA_SIG_new();
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY *k;
	int dn;

	UK_CHECK(RAND_bytes(msg, sizeof(msg)) == 1);
	UK_CHECK_EQ(fl->C_SignInit(h, &m, priv), CKR_OK);
	UK_CHECK_EQ(fl->C_Sign(h, msg, sizeof(msg), sig, &n), CKR_OK);
	UK_CHECK_EQ(n, 64);
	UK_CHECK_EQ(fl->C_GetAttributeValue(h, pub, &get, 1), CKR_OK);
	k = d2i_PUBKEY(NULL, &p, (long)get.ulValueLen);
	UK_CHECK(k != NULL && es != NULL && md != NULL);
	UK_CHECK(ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL)) == 1);
	dn = i2d_ECDSA_SIG(es, &q);
	UK_CHECK(dn > 0);
	UK_CHECK(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k) == 1);
	UK_CHECK_EQ(EVP_DigestVerify(md, der, (size_t)dn, msg, sizeof(msg)), 1);
	EVP_MD_CTX_free(md);
	ECDSA_SIG_free(es);
	EVP_PKEY_free(k);
}

static void refusals(CK_SLOT_ID slot, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE priv,
                     CK_OBJECT_HANDLE pub)
{
	static const char long65[] = "0123456789abcdef0123456789abcdef0123456789abcdef"
	                             "0123456789abcdefX";
	CK_BBOOL t = CK_TRUE, f = CK_FALSE;
	uint8_t id[4] = { 1, 2, 3, 4 };
	CK_ATTRIBUTE two[] = { { CKA_LABEL, "a", 1 }, { CKA_LABEL, "b", 1 } };
	CK_ATTRIBUTE same[] = { { CKA_LABEL, "same-twice", 10 }, { CKA_LABEL, "same-twice", 10 } };
	CK_ATTRIBUTE ro[] = { { CKA_LABEL, "applied?", 8 }, { CKA_ID, id, sizeof(id) } };
	CK_ATTRIBUTE sens[] = { { CKA_SENSITIVE, &t, 1 }, { CKA_EXTRACTABLE, &f, 1 } };
	CK_ATTRIBUTE unsens = { CKA_SENSITIVE, &f, 1 };
	CK_ATTRIBUTE unknown = { CKA_VENDOR_DEFINED | 0x777, &t, 1 };
	CK_ATTRIBUTE modulus = { CKA_MODULUS, id, sizeof(id) };
	CK_ATTRIBUTE nullv = { CKA_LABEL, NULL, 3 };
	CK_SESSION_HANDLE ro_s, other;

	UK_CHECK_EQ(set_label(h, priv, "beta"), CKR_ATTRIBUTE_VALUE_INVALID);   /* taken */
	UK_CHECK_EQ(set_label(h, priv, ""), CKR_ATTRIBUTE_VALUE_INVALID);
	UK_CHECK_EQ(set_label(h, priv, long65), CKR_ATTRIBUTE_VALUE_INVALID);
	UK_CHECK_EQ(fl->C_SetAttributeValue(h, priv, &nullv, 1), CKR_ATTRIBUTE_VALUE_INVALID);
	UK_CHECK_EQ(fl->C_SetAttributeValue(h, priv, two, 2), CKR_TEMPLATE_INCONSISTENT);
	UK_CHECK_EQ(fl->C_SetAttributeValue(h, priv, ro, 2), CKR_ATTRIBUTE_READ_ONLY);
	UK_CHECK_EQ(fl->C_SetAttributeValue(h, priv, &unknown, 1), CKR_ATTRIBUTE_TYPE_INVALID);
	UK_CHECK_EQ(fl->C_SetAttributeValue(h, pub, &modulus, 1), CKR_ATTRIBUTE_TYPE_INVALID);
	UK_CHECK_EQ(fl->C_SetAttributeValue(h, priv, &unsens, 1), CKR_ATTRIBUTE_READ_ONLY);
	/* one-way booleans at their current value: allowed, nothing changes */
	UK_CHECK_EQ(fl->C_SetAttributeValue(h, priv, sens, 2), CKR_OK);
	UK_CHECK_EQ(fl->C_SetAttributeValue(h, priv, NULL, 1), CKR_ARGUMENTS_BAD);
	UK_CHECK(label_is(h, priv, "alpha") && label_is(h, pub, "alpha"));
	UK_CHECK_EQ(fl->C_SetAttributeValue(h, priv, same, 2), CKR_OK);
	UK_CHECK(label_is(h, pub, "same-twice"));
	UK_CHECK_EQ(set_label(h, pub, "alpha"), CKR_OK);                 /* through the public key */
	/* a read-only session of the same application (logged in: the login is shared) */
	UK_CHECK_EQ(fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &ro_s), CKR_OK);
	UK_CHECK_EQ(set_label(ro_s, pub, "ro"), CKR_SESSION_READ_ONLY);
	UK_CHECK_EQ(fl->C_CloseSession(ro_s), CKR_OK);
	/* logged out: the public key is visible but cannot be renamed */
	other = h;
	UK_CHECK_EQ(fl->C_Logout(other), CKR_OK);
	UK_CHECK_EQ(set_label(other, pub, "nologin"), CKR_USER_NOT_LOGGED_IN);
	UK_CHECK_EQ(set_label(other, priv, "nologin"), CKR_OBJECT_HANDLE_INVALID);
	UK_CHECK_EQ(fl->C_Login(other, CKU_USER, (CK_UTF8CHAR_PTR)g_pin, strlen(g_pin)), CKR_OK);
	UK_CHECK(label_is(h, priv, "alpha") && label_is(h, pub, "alpha"));
}

static void key_case(CK_SLOT_ID *slot, CK_SESSION_HANDLE *h)
{
	CK_OBJECT_HANDLE pub, priv, pub2, priv2, cert, o;

	keygen(*h, "alpha", &pub, &priv);
	keygen(*h, "beta", &pub2, &priv2);
	add_cert(*h, pub, &cert);
	UK_CHECK(label_is(*h, cert, "alpha"));
	refusals(*slot, *h, priv, pub);

	UK_CHECK_EQ(set_label(*h, priv, "gamma"), CKR_OK);
	UK_CHECK(label_is(*h, priv, "gamma"));
	UK_CHECK(label_is(*h, pub, "gamma"));
	UK_CHECK(label_is(*h, cert, "gamma"));
	UK_CHECK(label_is(*h, priv2, "beta"));
	UK_CHECK_EQ(find(*h, CKO_PRIVATE_KEY, "gamma", &o), 1);
	UK_CHECK_EQ(o, priv);                                  /* handles unchanged */
	UK_CHECK_EQ(find(*h, CKO_CERTIFICATE, "gamma", &o), 1);
	UK_CHECK_EQ(o, cert);
	UK_CHECK_EQ(find(*h, CKO_PUBLIC_KEY, "alpha", NULL), 0);
	sign_checks(*h, priv, pub);
	/* the card has the name: a new library instance reads it back */
	UK_CHECK_EQ(fl->C_Finalize(NULL), CKR_OK);
	*slot = init();
	*h = open_rw(*slot, 1);
	UK_CHECK_EQ(find(*h, CKO_PRIVATE_KEY, "gamma", &priv), 1);
	UK_CHECK_EQ(find(*h, CKO_PUBLIC_KEY, "gamma", &pub), 1);
	UK_CHECK_EQ(find(*h, CKO_CERTIFICATE, "gamma", &cert), 1);
	sign_checks(*h, priv, pub);
	{
		CK_BBOOL mod = CK_FALSE;
		CK_ATTRIBUTE a = { CKA_MODIFIABLE, &mod, 1 };

		UK_CHECK_EQ(fl->C_GetAttributeValue(*h, cert, &a, 1), CKR_OK);
		UK_CHECK_EQ(mod, CK_TRUE);
	}
	UK_CHECK_EQ(fl->C_DestroyObject(*h, cert), CKR_OK);
	UK_CHECK_EQ(fl->C_DestroyObject(*h, priv), CKR_OK);
	UK_CHECK_EQ(find(*h, CKO_PRIVATE_KEY, "beta", &priv2), 1);
	UK_CHECK_EQ(fl->C_DestroyObject(*h, priv2), CKR_OK);
}

static void data_case(CK_SLOT_ID *slot, CK_SESSION_HANDLE *h)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	uint8_t v[300], back[300];
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_LABEL, "d-one", 5 },
		             { CKA_VALUE, v, sizeof(v) } };
	CK_ATTRIBUTE val = { CKA_VALUE, back, sizeof(back) };
	CK_OBJECT_HANDLE d1, d2, o;

	UK_CHECK(RAND_bytes(v, sizeof(v)) == 1);
	UK_CHECK_EQ(fl->C_CreateObject(*h, t, 3, &d1), CKR_OK);
	t[1].pValue = "d-two";
	UK_CHECK_EQ(fl->C_CreateObject(*h, t, 3, &d2), CKR_OK);
	UK_CHECK_EQ(set_label(*h, d1, "d-two"), CKR_ATTRIBUTE_VALUE_INVALID);
	UK_CHECK_EQ(set_label(*h, d1, "0123456789abcdef0123456789abcdefX"),
	            CKR_ATTRIBUTE_VALUE_INVALID);                       /* 33 bytes */
	UK_CHECK_EQ(fl->C_SetAttributeValue(*h, d1, &val, 1), CKR_ATTRIBUTE_READ_ONLY);
	UK_CHECK_EQ(set_label(*h, d1, "d-renamed"), CKR_OK);
	UK_CHECK(label_is(*h, d1, "d-renamed"));
	UK_CHECK_EQ(find(*h, CKO_DATA, "d-renamed", &o), 1);
	UK_CHECK_EQ(o, d1);
	UK_CHECK_EQ(fl->C_Finalize(NULL), CKR_OK);
	*slot = init();
	*h = open_rw(*slot, 0);
	UK_CHECK_EQ(find(*h, CKO_DATA, "d-renamed", &d1), 1);
	UK_CHECK_EQ(fl->C_GetAttributeValue(*h, d1, &val, 1), CKR_OK);
	UK_CHECK_EQ(val.ulValueLen, sizeof(v));
	UK_CHECK_MEM(back, v, sizeof(v));
	UK_CHECK_EQ(set_label(*h, d1, "d-x"), CKR_USER_NOT_LOGGED_IN);
	UK_CHECK_EQ(fl->C_Login(*h, CKU_USER, (CK_UTF8CHAR_PTR)g_pin, strlen(g_pin)), CKR_OK);
	UK_CHECK_EQ(find(*h, CKO_DATA, "d-two", &d2), 1);
	UK_CHECK_EQ(fl->C_DestroyObject(*h, d1), CKR_OK);
	UK_CHECK_EQ(fl->C_DestroyObject(*h, d2), CKR_OK);
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
	h = open_rw(slot, 1);
	key_case(&slot, &h);
	data_case(&slot, &h);
	UK_CHECK_EQ(fl->C_Finalize(NULL), CKR_OK);
	dlclose(dl);
	return uk_test_done("module_e2e_setattr");
}
