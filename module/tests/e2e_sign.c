/* module_e2e_sign: a PKCS#11 client of $UKEY_MODULE against an emulated key (run inside
 * tools/ukey-sandbox). Logs in with $UKEY_USER_PIN, checks a wrong PIN moves the token
 * flags, generates an SM2 key, signs with CKM_UKEY_SM2_SM3 (single- and multi-part, default
 * and explicit user ID) and CKM_UKEY_SM2, and verifies every signature with OpenSSL EVP
 * directly (Z and e computed here from GM/T 0003.5 constants, not by the module). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <p11-kit/pkcs11.h>

#include "ukey-pkcs11.h"
#include "uk_test.h"

static CK_FUNCTION_LIST_PTR fl;

/* GM/T 0003.5 curve constants a, b, xG, yG. */
static const char sm2_abg_hex[] =
	"FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC"
	"28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93"
	"32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"
	"BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0";

static void hex2bin(const char *h, uint8_t *out, size_t n)
{
	size_t i;
	unsigned v;

	for (i = 0; i < n; i++) {
		UK_CHECK(sscanf(h + 2 * i, "%2x", &v) == 1);
		out[i] = (uint8_t)v;
	}
}

static void sm3(const void *p, size_t n, uint8_t out[32])
{
	unsigned int len = 0;

	UK_CHECK(EVP_Digest(p, n, out, &len, EVP_sm3(), NULL) == 1 && len == 32);
}

/* e = SM3(Z || M), Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA). */
static void compute_e(const uint8_t pt[65], const char *id, const void *m, size_t mlen,
                      uint8_t e[32])
{
	uint8_t buf[2 + 64 + 128 + 64], z[32], *zm;
	size_t idlen = strlen(id), off = 0;

	buf[off++] = (uint8_t)((idlen * 8) >> 8);
	buf[off++] = (uint8_t)(idlen * 8);
	memcpy(buf + off, id, idlen), off += idlen;
	hex2bin(sm2_abg_hex, buf + off, 128), off += 128;
	memcpy(buf + off, pt + 1, 64), off += 64;
	sm3(buf, off, z);
	zm = malloc(32 + mlen);
	UK_CHECK(zm != NULL);
	memcpy(zm, z, 32);
	memcpy(zm + 32, m, mlen);
	sm3(zm, 32 + mlen, e);
	free(zm);
}

static EVP_PKEY *sm2_pub(const uint8_t pt[65])
{
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
	EVP_PKEY *k = NULL;
	OSSL_PARAM *p;

	UK_CHECK(b != NULL && c != NULL);
	UK_CHECK(OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "SM2", 0) == 1);
	UK_CHECK(OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pt, 65) == 1);
	p = OSSL_PARAM_BLD_to_param(b);
	UK_CHECK(p != NULL);
	UK_CHECK(EVP_PKEY_fromdata_init(c) == 1);
	UK_CHECK(EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, p) == 1);
	OSSL_PARAM_free(p);
	OSSL_PARAM_BLD_free(b);
	EVP_PKEY_CTX_free(c);
	return k;
}

/* OpenSSL's SM2 verification over the message with user ID id: 1 valid, else 0. */
static int openssl_verify(const uint8_t pt[65], const char *id, const void *m, size_t mlen,
                          const uint8_t rs[64])
{
	EVP_PKEY *k = sm2_pub(pt);
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(k, NULL);
	ECDSA_SIG *sig = ECDSA_SIG_new();
	uint8_t *der = NULL;
	int derlen, ok;

	UK_CHECK(mc != NULL && pc != NULL && sig != NULL);
	UK_CHECK(ECDSA_SIG_set0(sig, BN_bin2bn(rs, 32, NULL), BN_bin2bn(rs + 32, 32, NULL)) == 1);
	derlen = i2d_ECDSA_SIG(sig, &der);
	UK_CHECK(derlen > 0);
	UK_CHECK(EVP_PKEY_CTX_set1_id(pc, id, strlen(id)) == 1);
	EVP_MD_CTX_set_pkey_ctx(mc, pc);
	UK_CHECK(EVP_DigestVerifyInit(mc, NULL, EVP_sm3(), NULL, k) == 1);
	ok = EVP_DigestVerify(mc, der, (size_t)derlen, m, mlen) == 1;
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(mc);
	EVP_PKEY_CTX_free(pc);
	EVP_PKEY_free(k);
	return ok;
}

static CK_SLOT_ID first_slot(void)
{
	CK_SLOT_ID slots[8];
	CK_ULONG n = 8;

	UK_CHECK_EQ(fl->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	UK_CHECK(n >= 1);
	return slots[0];
}

static void check_infos(CK_SLOT_ID slot, CK_TOKEN_INFO *ti)
{
	CK_SLOT_INFO si;
	char desc[65], serial[17];
	size_t i;

	UK_CHECK_EQ(fl->C_GetSlotInfo(slot, &si), CKR_OK);
	UK_CHECK(si.flags & CKF_TOKEN_PRESENT);
	UK_CHECK(si.flags & CKF_REMOVABLE_DEVICE);
	memcpy(desc, si.slotDescription, 64), desc[64] = 0;
	UK_CHECK_EQ(fl->C_GetTokenInfo(slot, ti), CKR_OK);
	memcpy(serial, ti->serialNumber, 16), serial[16] = 0;
	printf("slot: '%s'\ntoken serial '%s', model '%.16s', flags 0x%lx\n", desc, serial,
	       ti->model, ti->flags);
	/* "ukey <20 digits> (reader)" and the token serial is its last 16 digits */
	UK_CHECK(strncmp(desc, "ukey ", 5) == 0);
	for (i = 0; i < 20; i++)
		UK_CHECK(desc[5 + i] >= '0' && desc[5 + i] <= '9');
	UK_CHECK(memcmp(desc + 5 + 4, serial, 16) == 0);
	UK_CHECK(ti->flags & CKF_LOGIN_REQUIRED);
	UK_CHECK(ti->flags & CKF_TOKEN_INITIALIZED);
	UK_CHECK(ti->flags & CKF_USER_PIN_INITIALIZED);
	UK_CHECK_EQ(ti->ulMinPinLen, 8);
	UK_CHECK_EQ(ti->ulMaxPinLen, 12);
}

static void check_login(CK_SLOT_ID slot, CK_SESSION_HANDLE h, const char *pin)
{
	CK_TOKEN_INFO ti;
	CK_SESSION_INFO si;

	UK_CHECK_EQ(fl->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)"wrong1234", 9), CKR_PIN_INCORRECT);
	UK_CHECK_EQ(fl->C_GetTokenInfo(slot, &ti), CKR_OK);
	UK_CHECK(ti.flags & CKF_USER_PIN_COUNT_LOW);
	UK_CHECK(!(ti.flags & CKF_USER_PIN_LOCKED));
	UK_CHECK_EQ(fl->C_GetSessionInfo(h, &si), CKR_OK);
	UK_CHECK_EQ(si.state, CKS_RW_PUBLIC_SESSION);
	UK_CHECK_EQ(fl->C_Login(h, 77, (CK_UTF8CHAR_PTR)pin, strlen(pin)), CKR_USER_TYPE_INVALID);
	UK_CHECK_EQ(fl->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)), CKR_OK);
	UK_CHECK_EQ(fl->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)),
	            CKR_USER_ALREADY_LOGGED_IN);
	UK_CHECK_EQ(fl->C_GetSessionInfo(h, &si), CKR_OK);
	UK_CHECK_EQ(si.state, CKS_RW_USER_FUNCTIONS);
	UK_CHECK_EQ(fl->C_GetTokenInfo(slot, &ti), CKR_OK);
	UK_CHECK(!(ti.flags & CKF_USER_PIN_COUNT_LOW));
}

static void generate(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv,
                     uint8_t pt[65])
{
	/* secp384r1: a curve the card does not have */
	static const uint8_t p384[] = { 0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22 };
	CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL t = CK_TRUE;
	char label[] = "e2e-sign";
	CK_ATTRIBUTE pubt[] = {
		{ CKA_EC_PARAMS, (void *)UKEY_SM2_EC_PARAMS, UKEY_SM2_EC_PARAMS_LEN },
		{ CKA_LABEL, label, sizeof(label) - 1 },
		{ CKA_VERIFY, &t, 1 },
	};
	CK_ATTRIBUTE privt[] = { { CKA_SIGN, &t, 1 }, { CKA_TOKEN, &t, 1 } };
	CK_ATTRIBUTE bad[] = { { CKA_EC_PARAMS, (void *)p384, sizeof(p384) } };
	uint8_t ecp[67], buf[64];
	CK_ATTRIBUTE get[] = { { CKA_EC_POINT, ecp, sizeof(ecp) } };
	CK_ATTRIBUTE secret[] = { { CKA_VALUE, buf, sizeof(buf) } };

	UK_CHECK_EQ(fl->C_GenerateKeyPair(h, &m, bad, 1, privt, 2, pub, priv),
	            CKR_CURVE_NOT_SUPPORTED);
	UK_CHECK_EQ(fl->C_GenerateKeyPair(h, &m, pubt, 3, privt, 2, pub, priv), CKR_OK);
	UK_CHECK(*pub != *priv);
	UK_CHECK_EQ(fl->C_GetAttributeValue(h, *pub, get, 1), CKR_OK);
	UK_CHECK_EQ(get[0].ulValueLen, 67);
	UK_CHECK(ecp[0] == 0x04 && ecp[1] == 65 && ecp[2] == 0x04);
	memcpy(pt, ecp + 2, 65);
	UK_CHECK_EQ(fl->C_GetAttributeValue(h, *priv, secret, 1), CKR_ATTRIBUTE_SENSITIVE);
	UK_CHECK_EQ(secret[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
}

static void find_label(CK_SESSION_HANDLE h, CK_ULONG expect)
{
	char label[] = "e2e-sign";
	CK_ATTRIBUTE t[] = { { CKA_LABEL, label, sizeof(label) - 1 } };
	CK_OBJECT_HANDLE found[8];
	CK_ULONG n = 0;

	UK_CHECK_EQ(fl->C_FindObjectsInit(h, t, 1), CKR_OK);
	UK_CHECK_EQ(fl->C_FindObjects(h, found, 8, &n), CKR_OK);
	UK_CHECK_EQ(fl->C_FindObjectsFinal(h), CKR_OK);
	UK_CHECK(n >= expect);
}

static void sign_sm3(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE priv, CK_OBJECT_HANDLE pub,
                     const uint8_t pt[65])
{
	static const char msg[] = "message digest";
	static const char alice[] = "ALICE123@YAHOO.COM";
	CK_MECHANISM m = { CKM_UKEY_SM2_SM3, NULL, 0 };
	CK_MECHANISM mid = { CKM_UKEY_SM2_SM3, (void *)alice, sizeof(alice) - 1 };
	uint8_t sig[64];
	CK_ULONG len = 0;

	UK_CHECK_EQ(fl->C_SignInit(h, &m, priv), CKR_OK);
	UK_CHECK_EQ(fl->C_Sign(h, (CK_BYTE_PTR)msg, strlen(msg), NULL, &len), CKR_OK);
	UK_CHECK_EQ(len, 64);
	len = 10;
	UK_CHECK_EQ(fl->C_Sign(h, (CK_BYTE_PTR)msg, strlen(msg), sig, &len), CKR_BUFFER_TOO_SMALL);
	len = sizeof(sig);
	UK_CHECK_EQ(fl->C_Sign(h, (CK_BYTE_PTR)msg, strlen(msg), sig, &len), CKR_OK);
	UK_CHECK_EQ(len, 64);
	UK_CHECK(openssl_verify(pt, UKEY_SM2_DEFAULT_ID, msg, strlen(msg), sig));
	/* the module's own verification agrees, and refuses a changed signature */
	UK_CHECK_EQ(fl->C_VerifyInit(h, &m, pub), CKR_OK);
	UK_CHECK_EQ(fl->C_Verify(h, (CK_BYTE_PTR)msg, strlen(msg), sig, 64), CKR_OK);
	sig[10] ^= 1;
	UK_CHECK(!openssl_verify(pt, UKEY_SM2_DEFAULT_ID, msg, strlen(msg), sig));
	UK_CHECK_EQ(fl->C_VerifyInit(h, &m, pub), CKR_OK);
	UK_CHECK_EQ(fl->C_Verify(h, (CK_BYTE_PTR)msg, strlen(msg), sig, 64), CKR_SIGNATURE_INVALID);
	UK_CHECK_EQ(fl->C_VerifyInit(h, &m, pub), CKR_OK);
	UK_CHECK_EQ(fl->C_Verify(h, (CK_BYTE_PTR)msg, strlen(msg), sig, 63),
	            CKR_SIGNATURE_LEN_RANGE);
	/* multi-part with an explicit user ID */
	UK_CHECK_EQ(fl->C_SignInit(h, &mid, priv), CKR_OK);
	UK_CHECK_EQ(fl->C_SignUpdate(h, (CK_BYTE_PTR)msg, 7), CKR_OK);
	UK_CHECK_EQ(fl->C_SignUpdate(h, (CK_BYTE_PTR)msg + 7, strlen(msg) - 7), CKR_OK);
	len = sizeof(sig);
	UK_CHECK_EQ(fl->C_SignFinal(h, sig, &len), CKR_OK);
	UK_CHECK(openssl_verify(pt, alice, msg, strlen(msg), sig));
	UK_CHECK(!openssl_verify(pt, UKEY_SM2_DEFAULT_ID, msg, strlen(msg), sig));
}

static void sign_e(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE priv, const uint8_t pt[65])
{
	static const char msg[] = "abc";
	CK_MECHANISM m = { CKM_UKEY_SM2, NULL, 0 };
	CK_MECHANISM ecdsa = { CKM_ECDSA, NULL, 0 };
	uint8_t e[32], sig[64];
	CK_ULONG len = sizeof(sig);

	compute_e(pt, UKEY_SM2_DEFAULT_ID, msg, 3, e);
	UK_CHECK_EQ(fl->C_SignInit(h, &m, priv), CKR_OK);
	UK_CHECK_EQ(fl->C_Sign(h, e, 32, sig, &len), CKR_OK);
	UK_CHECK(openssl_verify(pt, UKEY_SM2_DEFAULT_ID, msg, 3, sig));
	UK_CHECK_EQ(fl->C_SignInit(h, &m, priv), CKR_OK);
	len = sizeof(sig);
	UK_CHECK_EQ(fl->C_Sign(h, e, 31, sig, &len), CKR_DATA_LEN_RANGE);
	UK_CHECK_EQ(fl->C_SignInit(h, &ecdsa, priv), CKR_MECHANISM_INVALID);
}

int main(void)
{
	const char *path = getenv("UKEY_MODULE"), *pin = getenv("UKEY_USER_PIN");
	CK_OBJECT_HANDLE pub, priv;
	CK_C_GetFunctionList get;
	CK_MECHANISM m = { CKM_UKEY_SM2_SM3, NULL, 0 };
	CK_SESSION_HANDLE h;
	CK_TOKEN_INFO ti;
	CK_SLOT_ID slot;
	uint8_t pt[65];
	void *dl;

	if (path == NULL || pin == NULL)
		return uk_test_skip("run inside tools/ukey-sandbox (UKEY_MODULE, UKEY_USER_PIN)");
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	UK_CHECK(dl != NULL);
	get = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
	UK_CHECK(get != NULL && get(&fl) == CKR_OK);
	UK_CHECK_EQ(fl->C_Initialize(NULL), CKR_OK);
	slot = first_slot();
	check_infos(slot, &ti);
	UK_CHECK_EQ(fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h),
	            CKR_OK);
	check_login(slot, h, pin);
	generate(h, &pub, &priv, pt);
	find_label(h, 2);
	sign_sm3(h, priv, pub, pt);
	sign_e(h, priv, pt);
	UK_CHECK_EQ(fl->C_Logout(h), CKR_OK);
	UK_CHECK_EQ(fl->C_SignInit(h, &m, priv), CKR_KEY_HANDLE_INVALID);   /* private: hidden */
	find_label(h, 1);
	UK_CHECK_EQ(fl->C_CloseSession(h), CKR_OK);
	UK_CHECK_EQ(fl->C_Finalize(NULL), CKR_OK);
	dlclose(dl);
	return uk_test_done("module_e2e_sign");
}
