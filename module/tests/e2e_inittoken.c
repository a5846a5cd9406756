/* module_e2e_inittoken: C_InitToken (PKCS#11 3.0 §5.6.4; docs/apdu.md REINITIALISE
 * APPLICATION), CKA_ALWAYS_AUTHENTICATE keys with C_Login(CKU_CONTEXT_SPECIFIC) (§4.9,
 * §5.6.8) and CKA_DESTROYABLE of key objects, against an emulated key inside
 * tools/ukey-sandbox. Signatures are checked with OpenSSL. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <p11-kit/pkcs11.h>

#include "uk_test.h"

static CK_FUNCTION_LIST_PTR fl;
static CK_SLOT_ID slot;
static CK_BBOOL t = CK_TRUE, f = CK_FALSE;
static const uint8_t p256_oid[] = { 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07 };

#define PIN(s) (CK_UTF8CHAR_PTR)(s), (CK_ULONG)strlen(s)
#define NEW_USER "newuser12"

static CK_TOKEN_INFO token_info(void)
{
	CK_TOKEN_INFO ti;

	UK_CHECK_EQ(fl->C_GetTokenInfo(slot, &ti), CKR_OK);
	return ti;
}

static void label32(CK_UTF8CHAR out[32], const char *s)
{
	memset(out, ' ', 32);
	memcpy(out, s, strlen(s));
}

static CK_ULONG count_objects(CK_SESSION_HANDLE h)
{
	CK_OBJECT_HANDLE o[64];
	CK_ULONG n = 0;

	UK_CHECK_EQ(fl->C_FindObjectsInit(h, NULL, 0), CKR_OK);
	UK_CHECK_EQ(fl->C_FindObjects(h, o, 64, &n), CKR_OK);
	UK_CHECK_EQ(fl->C_FindObjectsFinal(h), CKR_OK);
	return n;
}

static CK_BBOOL bool_attr(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type)
{
	CK_BBOOL v = 0xFF;
	CK_ATTRIBUTE a = { type, &v, sizeof(v) };

	UK_CHECK_EQ(fl->C_GetAttributeValue(h, o, &a, 1), CKR_OK);
	return v;
}

/* A P-256 pair in container label; usage_sign 1 signing pair, 0 encryption pair. */
static void gen_p256(CK_SESSION_HANDLE h, const char *label, int usage_sign, CK_BBOOL aa,
                     CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pubt[] = { { CKA_EC_PARAMS, (void *)p256_oid, sizeof(p256_oid) },
	                        { CKA_LABEL, (void *)label, strlen(label) } };
	CK_ATTRIBUTE privt[] = { { usage_sign ? CKA_SIGN : CKA_DECRYPT, &t, 1 },
	                         { CKA_ALWAYS_AUTHENTICATE, &aa, 1 } };

	UK_CHECK_EQ(fl->C_GenerateKeyPair(h, &m, pubt, 2, privt, 2, pub, priv), CKR_OK);
}

static EVP_PKEY *p256_pub(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE pub)
{
	uint8_t ecp[67];
	CK_ATTRIBUTE a = { CKA_EC_POINT, ecp, sizeof(ecp) };
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *k = NULL;
	OSSL_PARAM *p;

	UK_CHECK_EQ(fl->C_GetAttributeValue(h, pub, &a, 1), CKR_OK);
	UK_CHECK(a.ulValueLen == 67 && ecp[0] == 0x04 && ecp[1] == 65);
	UK_CHECK(b != NULL && c != NULL);
	UK_CHECK(OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0));
	UK_CHECK(OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, ecp + 2, 65));
	p = OSSL_PARAM_BLD_to_param(b);
	UK_CHECK(p != NULL);
	UK_CHECK(EVP_PKEY_fromdata_init(c) == 1);
	UK_CHECK(EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, p) == 1);
	OSSL_PARAM_free(p);
	OSSL_PARAM_BLD_free(b);
	EVP_PKEY_CTX_free(c);
	return k;
}

/* OpenSSL's ECDSA verification of r||s over the 32-byte hash. */
static int ecdsa_ok(EVP_PKEY *k, const uint8_t hash[32], const uint8_t rs[64])
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
	ECDSA_SIG *sig = ECDSA_SIG_new();
	uint8_t *der = NULL;
	int n, ok;

	UK_CHECK(c != NULL && sig != NULL);
	UK_CHECK(ECDSA_SIG_set0(sig, BN_bin2bn(rs, 32, NULL), BN_bin2bn(rs + 32, 32, NULL)) == 1);
	n = i2d_ECDSA_SIG(sig, &der);
	UK_CHECK(n > 0 && EVP_PKEY_verify_init(c) == 1);
	ok = EVP_PKEY_verify(c, der, (size_t)n, hash, 32) == 1;
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	EVP_PKEY_CTX_free(c);
	return ok;
}

static CK_RV sign(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE priv, const uint8_t hash[32],
                  uint8_t rs[64], int context_login)
{
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	CK_ULONG n = 64;

	UK_CHECK_EQ(fl->C_SignInit(h, &m, priv), CKR_OK);
	if (context_login)
		UK_CHECK_EQ(fl->C_Login(h, CKU_CONTEXT_SPECIFIC, PIN(NEW_USER)), CKR_OK);
	return fl->C_Sign(h, (CK_BYTE_PTR)hash, 32, rs, &n);
}

static void check_init_token(const char *user, const char *so)
{
	CK_UTF8CHAR label[32];
	CK_SESSION_HANDLE h;
	CK_TOKEN_INFO ti;

	label32(label, "inited");
	UK_CHECK_EQ(fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_OK);
	UK_CHECK_EQ(fl->C_InitToken(slot, PIN(so), label), CKR_SESSION_EXISTS);
	UK_CHECK_EQ(fl->C_CloseSession(h), CKR_OK);
	UK_CHECK_EQ(fl->C_InitToken(slot, PIN("wrongso12"), label), CKR_PIN_INCORRECT);
	UK_CHECK(token_info().flags & CKF_SO_PIN_COUNT_LOW);
	UK_CHECK_EQ(fl->C_InitToken(slot, NULL, 0, label), CKR_ARGUMENTS_BAD);
	UK_CHECK_EQ(fl->C_InitToken(slot, PIN(so), label), CKR_OK);
	ti = token_info();
	UK_CHECK_MEM(ti.label, label, 32);
	UK_CHECK(!(ti.flags & CKF_USER_PIN_INITIALIZED));
	UK_CHECK(ti.flags & CKF_TOKEN_INITIALIZED);
	UK_CHECK(!(ti.flags & CKF_SO_PIN_COUNT_LOW));       /* the SO's VERIFY reset it */

	UK_CHECK_EQ(fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h),
	            CKR_OK);
	UK_CHECK_EQ(fl->C_Login(h, CKU_USER, PIN(user)), CKR_USER_PIN_NOT_INITIALIZED);
	UK_CHECK_EQ(count_objects(h), 0);
	UK_CHECK_EQ(fl->C_Login(h, CKU_SO, PIN(so)), CKR_OK);
	UK_CHECK_EQ(fl->C_InitPIN(h, PIN(NEW_USER)), CKR_OK);
	UK_CHECK_EQ(fl->C_Logout(h), CKR_OK);
	ti = token_info();
	UK_CHECK(ti.flags & CKF_USER_PIN_INITIALIZED);
	UK_CHECK(ti.flags & CKF_USER_PIN_TO_BE_CHANGED);
	UK_CHECK_EQ(fl->C_Login(h, CKU_USER, PIN(user)), CKR_PIN_INCORRECT);
	UK_CHECK_EQ(fl->C_Login(h, CKU_USER, PIN(NEW_USER)), CKR_OK);
	UK_CHECK_EQ(count_objects(h), 0);
	UK_CHECK_EQ(fl->C_CloseSession(h), CKR_OK);
}

static void check_always_authenticate(void)
{
	CK_OBJECT_HANDLE pub, priv, pub2, priv2, pub3, priv3;
	uint8_t hash[32], rs[64];
	CK_SESSION_HANDLE h;
	EVP_PKEY *k;

	memset(hash, 0x5A, sizeof(hash));
	UK_CHECK_EQ(fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h),
	            CKR_OK);
	UK_CHECK_EQ(fl->C_Login(h, CKU_USER, PIN(NEW_USER)), CKR_OK);  /* last close logged out */
	gen_p256(h, "aa", 1, CK_TRUE, &pub, &priv);
	UK_CHECK_EQ(bool_attr(h, priv, CKA_ALWAYS_AUTHENTICATE), CK_TRUE);
	UK_CHECK_EQ(bool_attr(h, priv, CKA_DESTROYABLE), CK_TRUE);   /* the only pair */
	k = p256_pub(h, pub);
	/* no context login: C_Sign fails (§4.9) and ends the operation */
	UK_CHECK_EQ(sign(h, priv, hash, rs, 0), CKR_USER_NOT_LOGGED_IN);
	UK_CHECK_EQ(fl->C_Login(h, CKU_CONTEXT_SPECIFIC, PIN(NEW_USER)),
	            CKR_OPERATION_NOT_INITIALIZED);
	UK_CHECK_EQ(sign(h, priv, hash, rs, 1), CKR_OK);
	UK_CHECK(ecdsa_ok(k, hash, rs));
	UK_CHECK_EQ(sign(h, priv, hash, rs, 0), CKR_USER_NOT_LOGGED_IN);   /* one use only */
	UK_CHECK_EQ(sign(h, priv, hash, rs, 1), CKR_OK);
	UK_CHECK(ecdsa_ok(k, hash, rs));
	/* an ordinary key needs no context login */
	gen_p256(h, "plain", 1, CK_FALSE, &pub3, &priv3);
	UK_CHECK_EQ(bool_attr(h, priv3, CKA_ALWAYS_AUTHENTICATE), CK_FALSE);
	UK_CHECK_EQ(sign(h, priv3, hash, rs, 0), CKR_OK);
	/* a second pair in the container: destroying either would take both */
	gen_p256(h, "aa", 0, CK_FALSE, &pub2, &priv2);
	UK_CHECK_EQ(bool_attr(h, priv, CKA_DESTROYABLE), CK_FALSE);
	UK_CHECK_EQ(bool_attr(h, pub2, CKA_DESTROYABLE), CK_FALSE);
	UK_CHECK_EQ(fl->C_DestroyObject(h, priv), CKR_ACTION_PROHIBITED);
	UK_CHECK_EQ(bool_attr(h, pub3, CKA_DESTROYABLE), CK_TRUE);
	UK_CHECK_EQ(fl->C_DestroyObject(h, priv3), CKR_OK);
	EVP_PKEY_free(k);
	UK_CHECK_EQ(fl->C_CloseSession(h), CKR_OK);
}

int main(void)
{
	const char *mod = getenv("UKEY_MODULE"), *user = getenv("UKEY_USER_PIN");
	const char *so = getenv("UKEY_SO_PIN");
	CK_RV (*gfl)(CK_FUNCTION_LIST_PTR_PTR);
	CK_SLOT_ID slots[8];
	CK_ULONG n = 8;
	void *so_h;

	if (mod == NULL || user == NULL || so == NULL)
		return uk_test_skip("not inside ukey-sandbox");
	so_h = dlopen(mod, RTLD_NOW | RTLD_LOCAL);
	UK_CHECK(so_h != NULL);
	*(void **)&gfl = dlsym(so_h, "C_GetFunctionList");
	UK_CHECK(gfl != NULL && gfl(&fl) == CKR_OK);
	UK_CHECK_EQ(fl->C_Initialize(NULL), CKR_OK);
	UK_CHECK_EQ(fl->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	UK_CHECK(n >= 1);
	slot = slots[0];
	check_init_token(user, so);
	check_always_authenticate();
	UK_CHECK_EQ(fl->C_Finalize(NULL), CKR_OK);
	dlclose(so_h);
	(void)f;
	return uk_test_done("module_e2e_inittoken");
}
