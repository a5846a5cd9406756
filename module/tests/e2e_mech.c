/* module_e2e_mech: every mechanism of $UKEY_MODULE against an emulated key (inside
 * tools/ukey-sandbox, argv[1] = pcscd's APDU log). Key pairs P-256, RSA-2048 and SM2 are
 * generated on the card; every signature is checked with OpenSSL from the key's
 * CKA_PUBLIC_KEY_INFO, every ciphertext OpenSSL makes is decrypted by the card, digests are
 * compared with OpenSSL's (SM3 with GB/T 32905 appendix A), and the APDU budget is counted
 * in the log: C_Sign and C_Decrypt one APDU, C_Encrypt, C_Verify and C_Digest none,
 * C_GenerateRandom one per 256 bytes. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <p11-kit/pkcs11.h>

#include "ukey-pkcs11.h"
#include "uk_test.h"

static CK_FUNCTION_LIST_PTR fl;
static const char *apdu_log;
static CK_SESSION_HANDLE h;

static const uint8_t p256_oid[] = { 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07 };
static const char msg[] = "The quick brown fox jumps over the lazy dog";

struct pair {
	CK_OBJECT_HANDLE pub, priv;
	EVP_PKEY *pk;           /* from CKA_PUBLIC_KEY_INFO */
};

static long apdus(void)
{
	FILE *f = fopen(apdu_log, "r");
	char line[8192];
	long n = 0;

	UK_CHECK(f != NULL);
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, "APDU: ") != NULL)
			n++;
	fclose(f);
	return n;
}

static void md(const char *name, const void *p, size_t n, uint8_t *out, unsigned *len)
{
	UK_CHECK(EVP_Digest(p, n, out, len, EVP_get_digestbyname(name), NULL) == 1);
}

static void load_spki(struct pair *k)
{
	uint8_t buf[1024];
	const uint8_t *p = buf;
	CK_ATTRIBUTE a = { CKA_PUBLIC_KEY_INFO, buf, sizeof(buf) };

	UK_CHECK_EQ(fl->C_GetAttributeValue(h, k->pub, &a, 1), CKR_OK);
	k->pk = d2i_PUBKEY(NULL, &p, (long)a.ulValueLen);
	UK_CHECK(k->pk != NULL);
}

static void gen(CK_MECHANISM_TYPE mt, CK_ATTRIBUTE *pubt, CK_ULONG np, int enc, struct pair *k)
{
	CK_MECHANISM m = { mt, NULL, 0 };
	CK_BBOOL t = CK_TRUE;
	CK_ATTRIBUTE privt[] = { { enc ? CKA_DECRYPT : CKA_SIGN, &t, 1 }, { CKA_TOKEN, &t, 1 } };

	UK_CHECK_EQ(fl->C_GenerateKeyPair(h, &m, pubt, np, privt, 2, &k->pub, &k->priv), CKR_OK);
	load_spki(k);
}

static void gen_ec(const uint8_t *oid, size_t oidlen, const char *label, int enc, struct pair *k)
{
	CK_ATTRIBUTE pubt[] = { { CKA_EC_PARAMS, (void *)oid, oidlen },
		                { CKA_LABEL, (void *)label, strlen(label) } };

	gen(CKM_EC_KEY_PAIR_GEN, pubt, 2, enc, k);
}

static void gen_rsa(const char *label, int enc, struct pair *k)
{
	CK_ULONG bits = 2048, bad = 1024;
	uint8_t e[] = { 1, 0, 1 }, e3[] = { 3 };
	CK_MECHANISM m = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pubt[] = { { CKA_MODULUS_BITS, &bits, sizeof(bits) },
		                { CKA_PUBLIC_EXPONENT, e, sizeof(e) },
		                { CKA_LABEL, (void *)label, strlen(label) } };
	CK_ATTRIBUTE t1024[] = { { CKA_MODULUS_BITS, &bad, sizeof(bad) } };
	CK_ATTRIBUTE te3[] = { { CKA_MODULUS_BITS, &bits, sizeof(bits) }, { CKA_PUBLIC_EXPONENT, e3, 1 } };
	CK_ATTRIBUTE tec[] = { { CKA_MODULUS_BITS, &bits, sizeof(bits) },
		               { CKA_EC_PARAMS, (void *)p256_oid, sizeof(p256_oid) } };
	CK_OBJECT_HANDLE a, b;

	UK_CHECK_EQ(fl->C_GenerateKeyPair(h, &m, t1024, 1, NULL, 0, &a, &b),
	            CKR_ATTRIBUTE_VALUE_INVALID);
	UK_CHECK_EQ(fl->C_GenerateKeyPair(h, &m, te3, 2, NULL, 0, &a, &b),
	            CKR_ATTRIBUTE_VALUE_INVALID);
	UK_CHECK_EQ(fl->C_GenerateKeyPair(h, &m, tec, 2, NULL, 0, &a, &b),
	            CKR_TEMPLATE_INCONSISTENT);
	UK_CHECK_EQ(fl->C_GenerateKeyPair(h, &m, pubt + 2, 1, NULL, 0, &a, &b),
	            CKR_TEMPLATE_INCOMPLETE);
	gen(CKM_RSA_PKCS_KEY_PAIR_GEN, pubt, 3, enc, k);
}

/* Sign through the module (single-part, or in two parts), exactly one APDU. */
static CK_ULONG sign(CK_MECHANISM *m, const struct pair *k, const void *data, size_t n,
                     int parts, uint8_t *sig)
{
	CK_ULONG len = 0;
	long before;

	UK_CHECK_EQ(fl->C_SignInit(h, m, k->priv), CKR_OK);
	before = apdus();
	if (parts) {
		UK_CHECK_EQ(fl->C_SignUpdate(h, (CK_BYTE_PTR)data, n / 2), CKR_OK);
		UK_CHECK_EQ(fl->C_SignUpdate(h, (CK_BYTE_PTR)data + n / 2, n - n / 2), CKR_OK);
		UK_CHECK_EQ(fl->C_SignFinal(h, NULL, &len), CKR_OK);
		UK_CHECK_EQ(fl->C_SignFinal(h, sig, &len), CKR_OK);
	} else {
		UK_CHECK_EQ(fl->C_Sign(h, (CK_BYTE_PTR)data, n, NULL, &len), CKR_OK);
		UK_CHECK_EQ(fl->C_Sign(h, (CK_BYTE_PTR)data, n, sig, &len), CKR_OK);
	}
	UK_CHECK_EQ(apdus() - before, 1);
	return len;
}

/* The module's own verification agrees (no APDU) and refuses a changed signature. */
static void module_verify(CK_MECHANISM *m, const struct pair *k, const void *data, size_t n,
                          uint8_t *sig, CK_ULONG len)
{
	long before = apdus();

	UK_CHECK_EQ(fl->C_VerifyInit(h, m, k->pub), CKR_OK);
	UK_CHECK_EQ(fl->C_Verify(h, (CK_BYTE_PTR)data, n, sig, len), CKR_OK);
	sig[len - 1] ^= 1;
	UK_CHECK_EQ(fl->C_VerifyInit(h, m, k->pub), CKR_OK);
	UK_CHECK_EQ(fl->C_Verify(h, (CK_BYTE_PTR)data, n, sig, len), CKR_SIGNATURE_INVALID);
	sig[len - 1] ^= 1;
	UK_CHECK_EQ(apdus() - before, 0);
}

/* OpenSSL: verify sig over tbs (a hash, or a message when mdname is set for DigestVerify). */
static int ossl_verify(EVP_PKEY *pk, const char *mdname, int pad, int salt, const uint8_t *tbs,
                       size_t n, const uint8_t *sig, size_t slen)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
	int ok;

	UK_CHECK(c != NULL && EVP_PKEY_verify_init(c) == 1);
	if (pad != 0)
		UK_CHECK(EVP_PKEY_CTX_set_rsa_padding(c, pad) == 1);
	if (mdname != NULL)
		UK_CHECK(EVP_PKEY_CTX_set_signature_md(c, EVP_get_digestbyname(mdname)) == 1);
	if (salt > 0)
		UK_CHECK(EVP_PKEY_CTX_set_rsa_pss_saltlen(c, salt) == 1);
	ok = EVP_PKEY_verify(c, sig, slen, tbs, n) == 1;
	EVP_PKEY_CTX_free(c);
	return ok;
}

static int ossl_verify_rs(EVP_PKEY *pk, const uint8_t *hash, size_t n, const uint8_t rs[64])
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	uint8_t *der = NULL;
	int dl, ok;

	UK_CHECK(es != NULL && ECDSA_SIG_set0(es, BN_bin2bn(rs, 32, NULL),
	                                      BN_bin2bn(rs + 32, 32, NULL)) == 1);
	dl = i2d_ECDSA_SIG(es, &der);
	UK_CHECK(dl > 0);
	ok = ossl_verify(pk, NULL, 0, 0, hash, n, der, (size_t)dl);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	return ok;
}

static void test_ecdsa(const struct pair *k)
{
	CK_MECHANISM raw = { CKM_ECDSA, NULL, 0 }, s256 = { CKM_ECDSA_SHA256, NULL, 0 },
	             s384 = { CKM_ECDSA_SHA384, NULL, 0 };
	uint8_t hash[64], sig[64];
	unsigned hl = 0;

	md("SHA256", msg, strlen(msg), hash, &hl);
	UK_CHECK_EQ(sign(&raw, k, hash, hl, 0, sig), 64);
	UK_CHECK(ossl_verify_rs(k->pk, hash, hl, sig));
	module_verify(&raw, k, hash, hl, sig, 64);
	UK_CHECK_EQ(sign(&s256, k, msg, strlen(msg), 1, sig), 64);
	UK_CHECK(ossl_verify_rs(k->pk, hash, hl, sig));
	module_verify(&s256, k, msg, strlen(msg), sig, 64);
	md("SHA384", msg, strlen(msg), hash, &hl);
	UK_CHECK_EQ(sign(&s384, k, msg, strlen(msg), 0, sig), 64);
	UK_CHECK(ossl_verify_rs(k->pk, hash, hl, sig));     /* leftmost 256 bits, FIPS 186-4 §6.4 */
	printf("ECDSA P-256: raw, SHA-256 (multi-part), SHA-384 ok\n");
}

static const char *rsa_md[] = { "SHA256", "SHA384", "SHA512" };
static const CK_MECHANISM_TYPE rsa_hash[] = { CKM_SHA256, CKM_SHA384, CKM_SHA512 };
static const CK_MECHANISM_TYPE rsa_mgf[] = { CKG_MGF1_SHA256, CKG_MGF1_SHA384, CKG_MGF1_SHA512 };
static const CK_MECHANISM_TYPE rsa_v15[] = { CKM_SHA256_RSA_PKCS, CKM_SHA384_RSA_PKCS,
	                                     CKM_SHA512_RSA_PKCS };
static const CK_MECHANISM_TYPE rsa_pss[] = { CKM_SHA256_RSA_PKCS_PSS, CKM_SHA384_RSA_PKCS_PSS,
	                                     CKM_SHA512_RSA_PKCS_PSS };

static void test_rsa_sign(const struct pair *k)
{
	static const uint8_t di256[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
		                         0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };
	CK_MECHANISM raw = { CKM_RSA_PKCS, NULL, 0 }, m;
	CK_RSA_PKCS_PSS_PARAMS pp;
	uint8_t hash[64], sig[256], di[19 + 32];
	unsigned hl = 0;
	size_t i;

	/* CKM_RSA_PKCS over a DigestInfo the caller built = RSASSA-PKCS1-v1_5 with SHA-256 */
	md("SHA256", msg, strlen(msg), hash, &hl);
	memcpy(di, di256, 19);
	memcpy(di + 19, hash, 32);
	UK_CHECK_EQ(sign(&raw, k, di, sizeof(di), 0, sig), 256);
	UK_CHECK(ossl_verify(k->pk, "SHA256", RSA_PKCS1_PADDING, 0, hash, 32, sig, 256));
	module_verify(&raw, k, di, sizeof(di), sig, 256);
	for (i = 0; i < 3; i++) {
		md(rsa_md[i], msg, strlen(msg), hash, &hl);
		m = (CK_MECHANISM){ rsa_v15[i], NULL, 0 };
		UK_CHECK_EQ(sign(&m, k, msg, strlen(msg), 1, sig), 256);
		UK_CHECK(ossl_verify(k->pk, rsa_md[i], RSA_PKCS1_PADDING, 0, hash, hl, sig, 256));
		module_verify(&m, k, msg, strlen(msg), sig, 256);
		pp = (CK_RSA_PKCS_PSS_PARAMS){ rsa_hash[i], rsa_mgf[i], hl };
		m = (CK_MECHANISM){ CKM_RSA_PKCS_PSS, &pp, sizeof(pp) };
		UK_CHECK_EQ(sign(&m, k, hash, hl, 0, sig), 256);
		UK_CHECK(ossl_verify(k->pk, rsa_md[i], RSA_PKCS1_PSS_PADDING, (int)hl, hash, hl, sig,
		                     256));
		module_verify(&m, k, hash, hl, sig, 256);
		m.mechanism = rsa_pss[i];
		UK_CHECK_EQ(sign(&m, k, msg, strlen(msg), i == 1, sig), 256);
		UK_CHECK(ossl_verify(k->pk, rsa_md[i], RSA_PKCS1_PSS_PADDING, (int)hl, hash, hl, sig,
		                     256));
		module_verify(&m, k, msg, strlen(msg), sig, 256);
	}
	/* PSS parameters the card cannot honour */
	pp = (CK_RSA_PKCS_PSS_PARAMS){ CKM_SHA256, CKG_MGF1_SHA384, 32 };
	m = (CK_MECHANISM){ CKM_RSA_PKCS_PSS, &pp, sizeof(pp) };
	UK_CHECK_EQ(fl->C_SignInit(h, &m, k->priv), CKR_MECHANISM_PARAM_INVALID);
	pp = (CK_RSA_PKCS_PSS_PARAMS){ CKM_SHA256, CKG_MGF1_SHA256, 20 };
	UK_CHECK_EQ(fl->C_SignInit(h, &m, k->priv), CKR_MECHANISM_PARAM_INVALID);
	pp = (CK_RSA_PKCS_PSS_PARAMS){ CKM_SHA384, CKG_MGF1_SHA384, 48 };
	m.mechanism = CKM_SHA256_RSA_PKCS_PSS;
	UK_CHECK_EQ(fl->C_SignInit(h, &m, k->priv), CKR_MECHANISM_PARAM_INVALID);
	m = (CK_MECHANISM){ CKM_RSA_PKCS_PSS, NULL, 0 };
	UK_CHECK_EQ(fl->C_SignInit(h, &m, k->priv), CKR_MECHANISM_PARAM_INVALID);
	printf("RSA: PKCS#1 raw, SHA-2 PKCS#1 and PSS ok\n");
}

/* Decrypt through the module: one APDU (a short buffer first: the answer is kept). */
static void decrypt(CK_MECHANISM *m, const struct pair *k, const uint8_t *ct, size_t n,
                    const void *want, size_t wlen)
{
	uint8_t out[512];
	CK_ULONG len = 0;
	long before;

	UK_CHECK_EQ(fl->C_DecryptInit(h, m, k->priv), CKR_OK);
	before = apdus();
	UK_CHECK_EQ(fl->C_Decrypt(h, (CK_BYTE_PTR)ct, n, NULL, &len), CKR_OK);
	UK_CHECK(len >= wlen);
	len = 1;
	UK_CHECK_EQ(fl->C_Decrypt(h, (CK_BYTE_PTR)ct, n, out, &len), CKR_BUFFER_TOO_SMALL);
	UK_CHECK_EQ(len, wlen);
	len = sizeof(out);
	UK_CHECK_EQ(fl->C_Decrypt(h, (CK_BYTE_PTR)ct, n, out, &len), CKR_OK);
	UK_CHECK_EQ(len, wlen);
	UK_CHECK(memcmp(out, want, wlen) == 0);
	UK_CHECK_EQ(apdus() - before, 1);
}

/* Encrypt through the module: no APDU. */
static CK_ULONG encrypt(CK_MECHANISM *m, const struct pair *k, const void *p, size_t n,
                        uint8_t *ct)
{
	CK_ULONG len = 0;
	long before = apdus();

	UK_CHECK_EQ(fl->C_EncryptInit(h, m, k->pub), CKR_OK);
	UK_CHECK_EQ(fl->C_Encrypt(h, (CK_BYTE_PTR)p, n, NULL, &len), CKR_OK);
	UK_CHECK(len <= 1024);
	UK_CHECK_EQ(fl->C_Encrypt(h, (CK_BYTE_PTR)p, n, ct, &len), CKR_OK);
	UK_CHECK_EQ(apdus() - before, 0);
	return len;
}

static size_t ossl_encrypt(EVP_PKEY *pk, int pad, const char *oaep_md, const void *p, size_t n,
                           uint8_t *ct)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(pk, NULL);
	size_t len = 1024;

	UK_CHECK(c != NULL && EVP_PKEY_encrypt_init(c) == 1);
	if (pad != 0)
		UK_CHECK(EVP_PKEY_CTX_set_rsa_padding(c, pad) == 1);
	if (oaep_md != NULL) {
		UK_CHECK(EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_get_digestbyname(oaep_md)) == 1);
		UK_CHECK(EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_get_digestbyname(oaep_md)) == 1);
	}
	UK_CHECK(EVP_PKEY_encrypt(c, ct, &len, p, n) == 1);
	EVP_PKEY_CTX_free(c);
	return len;
}

static void test_rsa_crypt(const struct pair *k)
{
	CK_RSA_PKCS_OAEP_PARAMS o1 = { CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0 },
	                        o256 = { CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0 },
	                        bad = { CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, "L", 1 };
	CK_MECHANISM v15 = { CKM_RSA_PKCS, NULL, 0 }, m1 = { CKM_RSA_PKCS_OAEP, &o1, sizeof(o1) },
	             m256 = { CKM_RSA_PKCS_OAEP, &o256, sizeof(o256) },
	             mbad = { CKM_RSA_PKCS_OAEP, &bad, sizeof(bad) };
	uint8_t ct[1024];
	size_t n;

	n = ossl_encrypt(k->pk, RSA_PKCS1_PADDING, NULL, msg, strlen(msg), ct);
	decrypt(&v15, k, ct, n, msg, strlen(msg));
	n = ossl_encrypt(k->pk, RSA_PKCS1_OAEP_PADDING, "SHA1", msg, strlen(msg), ct);
	decrypt(&m1, k, ct, n, msg, strlen(msg));
	n = ossl_encrypt(k->pk, RSA_PKCS1_OAEP_PADDING, "SHA256", msg, strlen(msg), ct);
	decrypt(&m256, k, ct, n, msg, strlen(msg));
	n = encrypt(&m256, k, msg, 5, ct);
	UK_CHECK_EQ(n, 256);
	decrypt(&m256, k, ct, n, msg, 5);
	n = encrypt(&v15, k, msg, strlen(msg), ct);
	decrypt(&v15, k, ct, n, msg, strlen(msg));
	UK_CHECK_EQ(fl->C_DecryptInit(h, &mbad, k->priv), CKR_MECHANISM_PARAM_INVALID);
	o1.mgf = CKG_MGF1_SHA256;
	UK_CHECK_EQ(fl->C_DecryptInit(h, &m1, k->priv), CKR_MECHANISM_PARAM_INVALID);
	/* a ciphertext that does not decrypt */
	n = ossl_encrypt(k->pk, RSA_PKCS1_PADDING, NULL, msg, strlen(msg), ct);
	UK_CHECK_EQ(fl->C_DecryptInit(h, &m256, k->priv), CKR_OK);
	{
		uint8_t out[256];
		CK_ULONG len = sizeof(out);

		UK_CHECK_EQ(fl->C_Decrypt(h, ct, n, out, &len), CKR_ENCRYPTED_DATA_INVALID);
	}
	printf("RSA: PKCS#1 v1.5 and OAEP SHA-1/SHA-256 decryption ok\n");
}

static void test_sm2_crypt(const struct pair *k)
{
	CK_ULONG fmt[] = { CKD_UKEY_SM2_CIPHER_DER, CKD_UKEY_SM2_CIPHER_C1C3C2,
		           CKD_UKEY_SM2_CIPHER_C1C2C3 }, bad = 7;
	CK_MECHANISM def = { CKM_UKEY_SM2_ENCRYPT, NULL, 0 }, m;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k->pk, NULL);
	uint8_t ct[1024], c2[1024];
	size_t n = sizeof(ct), i;
	CK_ULONG len;

	/* OpenSSL's GM/T 0009 DER ciphertext, decrypted by the card with the default form */
	UK_CHECK(c != NULL && EVP_PKEY_encrypt_init(c) == 1);
	UK_CHECK(EVP_PKEY_encrypt(c, ct, &n, (const uint8_t *)msg, strlen(msg)) == 1);
	EVP_PKEY_CTX_free(c);
	decrypt(&def, k, ct, n, msg, strlen(msg));
	for (i = 0; i < 3; i++) {
		m = (CK_MECHANISM){ CKM_UKEY_SM2_ENCRYPT, &fmt[i], sizeof(fmt[i]) };
		len = encrypt(&m, k, msg, strlen(msg), ct);
		UK_CHECK_EQ(len, i == 0 ? len : strlen(msg) + 97);
		decrypt(&m, k, ct, len, msg, strlen(msg));
	}
	/* the raw forms hold the same parts: C1 C3 C2 <-> C1 C2 C3 */
	m = (CK_MECHANISM){ CKM_UKEY_SM2_ENCRYPT, &fmt[1], sizeof(fmt[1]) };
	len = encrypt(&m, k, msg, strlen(msg), ct);
	memcpy(c2, ct, 65);
	memcpy(c2 + 65, ct + 97, len - 97);
	memcpy(c2 + 65 + len - 97, ct + 65, 32);
	m.pParameter = &fmt[2];
	decrypt(&m, k, c2, len, msg, strlen(msg));
	m.pParameter = &bad;
	UK_CHECK_EQ(fl->C_EncryptInit(h, &m, k->pub), CKR_MECHANISM_PARAM_INVALID);
	printf("SM2: encryption in the three ciphertext forms ok\n");
}

static void test_digest(void)
{
	static const uint8_t sm3_abc[32] = {
		0x66, 0xc7, 0xf0, 0xf4, 0x62, 0xee, 0xed, 0xd9, 0xd1, 0xf2, 0xd4, 0x6b, 0xdc, 0x10, 0xe4, 0xe2,
		0x41, 0x67, 0xc4, 0x87, 0x5c, 0xf2, 0xf7, 0xa2, 0x29, 0x7d, 0xa0, 0x2b, 0x8f, 0x4b, 0xa8, 0xe0 };
	static const struct { CK_MECHANISM_TYPE m; const char *name; } d[] = {
		{ CKM_SHA_1, "SHA1" }, { CKM_SHA256, "SHA256" }, { CKM_SHA384, "SHA384" },
		{ CKM_SHA512, "SHA512" }, { CKM_UKEY_SM3, "SM3" } };
	CK_MECHANISM m = { CKM_UKEY_SM3, NULL, 0 };
	uint8_t out[64], want[64];
	CK_ULONG len = sizeof(out);
	unsigned wl = 0;
	long before = apdus();
	size_t i;

	UK_CHECK_EQ(fl->C_DigestInit(h, &m), CKR_OK);
	UK_CHECK_EQ(fl->C_Digest(h, (CK_BYTE_PTR)"abc", 3, out, &len), CKR_OK);
	UK_CHECK_EQ(len, 32);
	UK_CHECK(memcmp(out, sm3_abc, 32) == 0);        /* GB/T 32905 appendix A.1 */
	for (i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		m.mechanism = d[i].m;
		md(d[i].name, msg, strlen(msg), want, &wl);
		UK_CHECK_EQ(fl->C_DigestInit(h, &m), CKR_OK);
		UK_CHECK_EQ(fl->C_DigestUpdate(h, (CK_BYTE_PTR)msg, 10), CKR_OK);
		UK_CHECK_EQ(fl->C_DigestUpdate(h, (CK_BYTE_PTR)msg + 10, strlen(msg) - 10), CKR_OK);
		len = 0;
		UK_CHECK_EQ(fl->C_DigestFinal(h, NULL, &len), CKR_OK);
		UK_CHECK_EQ(len, wl);
		UK_CHECK_EQ(fl->C_DigestFinal(h, out, &len), CKR_OK);
		UK_CHECK(memcmp(out, want, wl) == 0);
		len = 0;
		UK_CHECK_EQ(fl->C_DigestInit(h, &m), CKR_OK);
		UK_CHECK_EQ(fl->C_Digest(h, (CK_BYTE_PTR)msg, strlen(msg), NULL, &len), CKR_OK);
		len = sizeof(out);
		UK_CHECK_EQ(fl->C_Digest(h, (CK_BYTE_PTR)msg, strlen(msg), out, &len), CKR_OK);
		UK_CHECK(memcmp(out, want, wl) == 0);
	}
	UK_CHECK_EQ(apdus() - before, 0);
	m.mechanism = CKM_MD5;
	UK_CHECK_EQ(fl->C_DigestInit(h, &m), CKR_MECHANISM_INVALID);
	printf("digests: SM3, SHA-1, SHA-2, zero APDUs\n");
}

static void test_random(CK_SLOT_ID slot)
{
	uint8_t a[600], b[600];
	CK_TOKEN_INFO ti;
	long before;

	UK_CHECK_EQ(fl->C_GetTokenInfo(slot, &ti), CKR_OK);
	UK_CHECK(ti.flags & CKF_RNG);
	before = apdus();
	UK_CHECK_EQ(fl->C_GenerateRandom(h, a, sizeof(a)), CKR_OK);
	UK_CHECK_EQ(apdus() - before, 3);
	UK_CHECK_EQ(fl->C_GenerateRandom(h, b, sizeof(b)), CKR_OK);
	UK_CHECK(memcmp(a, b, sizeof(a)) != 0);
	UK_CHECK_EQ(fl->C_SeedRandom(h, a, 8), CKR_RANDOM_SEED_NOT_SUPPORTED);
}

static void test_mech_info(CK_SLOT_ID slot)
{
	static const struct { CK_MECHANISM_TYPE m; CK_ULONG min, max; CK_FLAGS on, off; } t[] = {
		{ CKM_ECDSA, 256, 256, CKF_SIGN | CKF_VERIFY | CKF_HW | CKF_EC_NAMEDCURVE, CKF_ENCRYPT },
		{ CKM_ECDSA_SHA384, 256, 256, CKF_SIGN | CKF_VERIFY | CKF_HW, CKF_DIGEST },
		{ CKM_RSA_PKCS, 2048, 2048, CKF_SIGN | CKF_VERIFY | CKF_ENCRYPT | CKF_DECRYPT, CKF_WRAP },
		{ CKM_SHA512_RSA_PKCS_PSS, 2048, 2048, CKF_SIGN | CKF_VERIFY, CKF_DECRYPT },
		{ CKM_RSA_PKCS_OAEP, 2048, 2048, CKF_ENCRYPT | CKF_DECRYPT | CKF_HW, CKF_SIGN },
		{ CKM_RSA_PKCS_KEY_PAIR_GEN, 2048, 2048, CKF_GENERATE_KEY_PAIR, CKF_SIGN },
		{ CKM_UKEY_SM2_ENCRYPT, 256, 256, CKF_ENCRYPT | CKF_DECRYPT | CKF_HW, CKF_SIGN },
		{ CKM_SHA256, 0, 0, CKF_DIGEST, CKF_HW },
		{ CKM_UKEY_SM3, 0, 0, CKF_DIGEST, CKF_HW },
	};
	CK_MECHANISM_INFO mi;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		UK_CHECK_EQ(fl->C_GetMechanismInfo(slot, t[i].m, &mi), CKR_OK);
		UK_CHECK_EQ(mi.ulMinKeySize, t[i].min);
		UK_CHECK_EQ(mi.ulMaxKeySize, t[i].max);
		UK_CHECK((mi.flags & t[i].on) == t[i].on);
		UK_CHECK((mi.flags & t[i].off) == 0);
	}
	UK_CHECK_EQ(fl->C_GetMechanismInfo(slot, CKM_MD5, &mi), CKR_MECHANISM_INVALID);
}

static void test_attrs(const struct pair *ec, const struct pair *rsa)
{
	uint8_t params[16], mod[300], e[8];
	CK_ULONG bits = 0, kt = 0;
	CK_MECHANISM_TYPE mechs[32];
	CK_ATTRIBUTE a[] = { { CKA_EC_PARAMS, params, sizeof(params) },
		             { CKA_KEY_TYPE, &kt, sizeof(kt) } };
	CK_ATTRIBUTE r[] = { { CKA_MODULUS, mod, sizeof(mod) }, { CKA_PUBLIC_EXPONENT, e, sizeof(e) },
		             { CKA_MODULUS_BITS, &bits, sizeof(bits) }, { CKA_KEY_TYPE, &kt, sizeof(kt) } };
	CK_ATTRIBUTE am = { CKA_ALLOWED_MECHANISMS, mechs, sizeof(mechs) };
	CK_ATTRIBUTE priv_exp = { CKA_PRIVATE_EXPONENT, mod, sizeof(mod) };
	BIGNUM *n = NULL;

	UK_CHECK_EQ(fl->C_GetAttributeValue(h, ec->pub, a, 2), CKR_OK);
	UK_CHECK(a[0].ulValueLen == sizeof(p256_oid) && memcmp(params, p256_oid, 10) == 0);
	UK_CHECK_EQ(kt, CKK_EC);
	UK_CHECK_EQ(fl->C_GetAttributeValue(h, rsa->pub, r, 4), CKR_OK);
	UK_CHECK_EQ(kt, CKK_RSA);
	UK_CHECK_EQ(bits, 2048);
	UK_CHECK_EQ(r[0].ulValueLen, 256);
	UK_CHECK(r[1].ulValueLen == 3 && e[0] == 1 && e[1] == 0 && e[2] == 1);
	UK_CHECK(EVP_PKEY_get_bn_param(rsa->pk, "n", &n) == 1);
	{
		uint8_t nb[256];

		UK_CHECK(BN_bn2binpad(n, nb, 256) == 256 && memcmp(nb, mod, 256) == 0);
	}
	BN_free(n);
	UK_CHECK_EQ(fl->C_GetAttributeValue(h, rsa->pub, a, 1), CKR_ATTRIBUTE_TYPE_INVALID);
	UK_CHECK_EQ(fl->C_GetAttributeValue(h, rsa->priv, &priv_exp, 1), CKR_ATTRIBUTE_SENSITIVE);
	UK_CHECK_EQ(fl->C_GetAttributeValue(h, rsa->priv, &am, 1), CKR_OK);
	UK_CHECK(am.ulValueLen >= 5 * sizeof(CK_MECHANISM_TYPE));
	UK_CHECK(mechs[0] == CKM_RSA_PKCS);
	am.ulValueLen = sizeof(mechs);
	UK_CHECK_EQ(fl->C_GetAttributeValue(h, ec->priv, &am, 1), CKR_OK);
	UK_CHECK_EQ(am.ulValueLen, 3 * sizeof(CK_MECHANISM_TYPE));
	UK_CHECK(mechs[0] == CKM_ECDSA);
}

static void test_refusals(const struct pair *ec, const struct pair *rsa, const struct pair *sk)
{
	CK_MECHANISM ecdsa = { CKM_ECDSA, NULL, 0 }, rsa_m = { CKM_RSA_PKCS, NULL, 0 },
	             sm2 = { CKM_UKEY_SM2_SM3, NULL, 0 }, md5 = { CKM_MD5_RSA_PKCS, NULL, 0 };
	uint8_t sig[64];
	CK_ULONG len = sizeof(sig);

	UK_CHECK_EQ(fl->C_SignInit(h, &rsa_m, ec->priv), CKR_KEY_TYPE_INCONSISTENT);
	UK_CHECK_EQ(fl->C_SignInit(h, &ecdsa, rsa->priv), CKR_KEY_TYPE_INCONSISTENT);
	UK_CHECK_EQ(fl->C_SignInit(h, &ecdsa, sk->priv), CKR_MECHANISM_INVALID);
	UK_CHECK_EQ(fl->C_SignInit(h, &sm2, ec->priv), CKR_MECHANISM_INVALID);
	UK_CHECK_EQ(fl->C_SignInit(h, &md5, rsa->priv), CKR_MECHANISM_INVALID);
	/* an encryption pair does not sign; a signing pair does not decrypt */
	UK_CHECK_EQ(fl->C_SignInit(h, &sm2, sk->priv), CKR_KEY_FUNCTION_NOT_PERMITTED);
	UK_CHECK_EQ(fl->C_DecryptInit(h, &rsa_m, rsa->priv), CKR_KEY_FUNCTION_NOT_PERMITTED);
	/* CKM_ECDSA takes a 20-64 byte hash (the card's range) */
	UK_CHECK_EQ(fl->C_SignInit(h, &ecdsa, ec->priv), CKR_OK);
	UK_CHECK_EQ(fl->C_Sign(h, (CK_BYTE_PTR)msg, 10, sig, &len), CKR_DATA_LEN_RANGE);
}

int main(int argc, char **argv)
{
	const char *path = getenv("UKEY_MODULE"), *pin = getenv("UKEY_USER_PIN");
	struct pair ec, rsa, rsa_enc, sm2_enc;
	CK_C_GetFunctionList get;
	CK_SLOT_ID slots[4];
	CK_ULONG ns = 4;
	void *dl;

	if (path == NULL || pin == NULL || argc < 2)
		return uk_test_skip("run inside tools/ukey-sandbox with an APDU log (e2e_mech.sh)");
	apdu_log = argv[1];
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	UK_CHECK(dl != NULL);
	get = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
	UK_CHECK(get != NULL && get(&fl) == CKR_OK);
	UK_CHECK_EQ(fl->C_Initialize(NULL), CKR_OK);
	UK_CHECK_EQ(fl->C_GetSlotList(CK_TRUE, slots, &ns), CKR_OK);
	UK_CHECK(ns >= 1);
	UK_CHECK_EQ(fl->C_OpenSession(slots[0], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h),
	            CKR_OK);
	test_mech_info(slots[0]);
	test_digest();
	UK_CHECK_EQ(fl->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)), CKR_OK);
	gen_ec(p256_oid, sizeof(p256_oid), "mech-p256", 0, &ec);
	gen_rsa("mech-rsa", 0, &rsa);
	gen_rsa("mech-rsa-enc", 1, &rsa_enc);
	gen_ec((const uint8_t *)UKEY_SM2_EC_PARAMS, UKEY_SM2_EC_PARAMS_LEN, "mech-sm2-enc", 1,
	       &sm2_enc);
	test_attrs(&ec, &rsa);
	test_ecdsa(&ec);
	test_rsa_sign(&rsa);
	test_rsa_crypt(&rsa_enc);
	test_sm2_crypt(&sm2_enc);
	test_refusals(&ec, &rsa, &sm2_enc);
	test_random(slots[0]);
	EVP_PKEY_free(ec.pk);
	EVP_PKEY_free(rsa.pk);
	EVP_PKEY_free(rsa_enc.pk);
	EVP_PKEY_free(sm2_enc.pk);
	UK_CHECK_EQ(fl->C_CloseSession(h), CKR_OK);
	UK_CHECK_EQ(fl->C_Finalize(NULL), CKR_OK);
	dlclose(dl);
	return uk_test_done("module_e2e_mech");
}
