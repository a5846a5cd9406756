/* p11t_rsa.c — RSA-2048 key pairs generated on the token (Mech §2.1.4), signatures with
 * CKM_SHA256_RSA_PKCS (§2.1.7) and CKM_SHA256_RSA_PKCS_PSS (§2.1.11), and decryption of
 * OAEP SHA-256 ciphertexts (§2.1.8). OpenSSL is the oracle, from CKA_MODULUS and
 * CKA_PUBLIC_EXPONENT as the token returns them. Generic: runs on every module. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "p11t.h"

#define RSA_BYTES 256

static const unsigned char message[] = "ukey pkcs11-tests: RSA message";
#define MESSAGE_LEN (sizeof(message) - 1)

/* §5.14.2 with CKA_MODULUS_BITS 2048, e = 65537; sign = 1 a signing pair (CKA_SIGN), else a
 * decryption pair (CKA_DECRYPT, CKA_SIGN FALSE). */
static bool rsa_keygen(struct p11t *t, CK_SESSION_HANDLE s, const char *label, bool sign,
                       CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	CK_MECHANISM mech = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG bits = 2048;
	unsigned char e[] = { 0x01, 0x00, 0x01 };
	CK_ATTRIBUTE pubt[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_MODULUS_BITS, &bits, sizeof(bits) },
		{ CKA_PUBLIC_EXPONENT, e, sizeof(e) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ sign ? CKA_VERIFY : CKA_ENCRYPT, &yes, sizeof(yes) },
	};
	CK_ATTRIBUTE privt[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_LABEL, (void *)label, strlen(label) },
		{ CKA_SIGN, sign ? &yes : &no, sizeof(yes) },
		{ CKA_DECRYPT, sign ? &no : &yes, sizeof(yes) },
	};

	return p11t_rv(t, t->f->C_GenerateKeyPair(s, &mech, pubt, sizeof(pubt) / sizeof(pubt[0]),
	                                          privt, sizeof(privt) / sizeof(privt[0]), pub,
	                                          priv),
	               CKR_OK, "C_GenerateKeyPair(RSA-2048)");
}

/* The public key as OpenSSL sees it, from the token's CKA_MODULUS/CKA_PUBLIC_EXPONENT. */
static EVP_PKEY *rsa_public(struct p11t *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub)
{
	unsigned char n[512], e[16];
	CK_ATTRIBUTE a[] = { { CKA_MODULUS, n, sizeof(n) }, { CKA_PUBLIC_EXPONENT, e, sizeof(e) } };
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	BIGNUM *bn = NULL, *be = NULL;
	OSSL_PARAM *p = NULL;
	EVP_PKEY *k = NULL;

	if (!p11t_rv(t, t->f->C_GetAttributeValue(s, pub, a, 2), CKR_OK,
	             "C_GetAttributeValue(CKA_MODULUS, CKA_PUBLIC_EXPONENT)") ||
	    !p11t_true(t, a[0].ulValueLen == RSA_BYTES, "modulus of %lu bytes",
	               (unsigned long)a[0].ulValueLen))
		goto out;
	bn = BN_bin2bn(n, (int)a[0].ulValueLen, NULL);
	be = BN_bin2bn(e, (int)a[1].ulValueLen, NULL);
	if (b == NULL || c == NULL || bn == NULL || be == NULL ||
	    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn) != 1 ||
	    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be) != 1 ||
	    (p = OSSL_PARAM_BLD_to_param(b)) == NULL || EVP_PKEY_fromdata_init(c) != 1 ||
	    EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, p) != 1)
		k = NULL;
	p11t_true(t, k != NULL, "OpenSSL cannot load the token's RSA public key");
out:
	OSSL_PARAM_free(p);
	BN_free(bn);
	BN_free(be);
	EVP_PKEY_CTX_free(c);
	OSSL_PARAM_BLD_free(b);
	return k;
}

/* RSASSA over SHA-256 of the message: PKCS#1 v1.5 (pss false) or PSS, salt 32. */
static bool ossl_verify(EVP_PKEY *k, bool pss, const unsigned char *sig, size_t len)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL;
	bool ok = false;

	if (m == NULL || EVP_DigestVerifyInit(m, &pc, EVP_sha256(), NULL, k) != 1)
		goto out;
	if (pss && (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) != 1 ||
	            EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 32) != 1))
		goto out;
	ok = EVP_DigestVerify(m, sig, len, message, MESSAGE_LEN) == 1;
out:
	EVP_MD_CTX_free(m);
	return ok;
}

static void sign_one(struct p11t *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv,
                     CK_OBJECT_HANDLE pub, EVP_PKEY *k, CK_MECHANISM *mech, bool pss)
{
	unsigned char sig[RSA_BYTES];
	CK_ULONG len = 0;

	if (!p11t_rv(t, t->f->C_SignInit(s, mech, priv), CKR_OK, "C_SignInit") ||
	    !p11t_rv(t, t->f->C_Sign(s, (CK_BYTE_PTR)message, MESSAGE_LEN, NULL, &len), CKR_OK,
	             "C_Sign(length query)") ||
	    !p11t_true(t, len == RSA_BYTES, "signature length %lu", (unsigned long)len) ||
	    !p11t_rv(t, t->f->C_Sign(s, (CK_BYTE_PTR)message, MESSAGE_LEN, sig, &len), CKR_OK,
	             "C_Sign"))
		return;
	p11t_true(t, ossl_verify(k, pss, sig, len), "OpenSSL rejects the token's %s signature",
	          pss ? "PSS" : "PKCS#1 v1.5");
	if (p11t_rv(t, t->f->C_VerifyInit(s, mech, pub), CKR_OK, "C_VerifyInit"))
		p11t_rv(t, t->f->C_Verify(s, (CK_BYTE_PTR)message, MESSAGE_LEN, sig, len), CKR_OK,
		        "C_Verify(good signature)");
	sig[7] ^= 0x40;
	if (p11t_rv(t, t->f->C_VerifyInit(s, mech, pub), CKR_OK, "C_VerifyInit"))
		p11t_rv(t, t->f->C_Verify(s, (CK_BYTE_PTR)message, MESSAGE_LEN, sig, len),
		        CKR_SIGNATURE_INVALID, "C_Verify(changed signature)");
}

/* CKM_RSA_PKCS_KEY_PAIR_GEN, CKM_SHA256_RSA_PKCS and CKM_SHA256_RSA_PKCS_PSS. */
int p11t_case_rsa_sign_verify(struct p11t *t)
{
	CK_RSA_PKCS_PSS_PARAMS pp = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
	CK_MECHANISM v15 = { CKM_SHA256_RSA_PKCS, NULL, 0 },
	             pss = { CKM_SHA256_RSA_PKCS_PSS, &pp, sizeof(pp) };
	CK_OBJECT_HANDLE pub, priv;
	CK_SESSION_HANDLE s;
	EVP_PKEY *k;

	if (!p11t_open(t, true, &s) || !p11t_login_user(t, s) ||
	    !rsa_keygen(t, s, "p11t-rsa", true, &pub, &priv) || (k = rsa_public(t, s, pub)) == NULL)
		return P11T_FAIL;
	sign_one(t, s, priv, pub, k, &v15, false);
	sign_one(t, s, priv, pub, k, &pss, true);
	EVP_PKEY_free(k);
	return p11t_result(t);
}

/* CKM_RSA_PKCS_OAEP with SHA-1/MGF1-SHA-1 and no label: OpenSSL encrypts, the token
 * decrypts (§5.9.2, with the §5.2 length query first). */
int p11t_case_rsa_oaep_decrypt(struct p11t *t)
{
	CK_RSA_PKCS_OAEP_PARAMS op = { CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0 };
	CK_MECHANISM mech = { CKM_RSA_PKCS_OAEP, &op, sizeof(op) };
	unsigned char ct[RSA_BYTES], pt[RSA_BYTES];
	CK_ULONG len = 0;
	size_t ct_len = sizeof(ct);
	CK_OBJECT_HANDLE pub, priv;
	CK_SESSION_HANDLE s;
	EVP_PKEY_CTX *c = NULL;
	EVP_PKEY *k;

	if (!p11t_open(t, true, &s) || !p11t_login_user(t, s) ||
	    !rsa_keygen(t, s, "p11t-rsa-enc", false, &pub, &priv) ||
	    (k = rsa_public(t, s, pub)) == NULL)
		return P11T_FAIL;
	c = EVP_PKEY_CTX_new(k, NULL);
	if (!p11t_true(t, c != NULL && EVP_PKEY_encrypt_init(c) == 1 &&
	                          EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) == 1 &&
	                          EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha1()) == 1 &&
	                          EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha1()) == 1 &&
	                          EVP_PKEY_encrypt(c, ct, &ct_len, message, MESSAGE_LEN) == 1,
	               "OpenSSL OAEP encryption"))
		goto out;
	if (!p11t_rv(t, t->f->C_DecryptInit(s, &mech, priv), CKR_OK, "C_DecryptInit") ||
	    !p11t_rv(t, t->f->C_Decrypt(s, ct, ct_len, NULL, &len), CKR_OK,
	             "C_Decrypt(length query)") ||
	    !p11t_true(t, len >= MESSAGE_LEN && len <= RSA_BYTES, "length query %lu",
	               (unsigned long)len))
		goto out;
	len = sizeof(pt);
	if (p11t_rv(t, t->f->C_Decrypt(s, ct, ct_len, pt, &len), CKR_OK, "C_Decrypt"))
		p11t_true(t, len == MESSAGE_LEN && memcmp(pt, message, MESSAGE_LEN) == 0,
		          "the token's plaintext differs");
out:
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(k);
	return p11t_result(t);
}
