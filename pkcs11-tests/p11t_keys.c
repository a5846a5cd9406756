/* p11t_keys.c — key pairs generated on the token, and OpenSSL as the oracle for signatures.
 *
 * Signatures are always checked by OpenSSL from the public point the token returns, never by
 * the module under test (its C_Verify is exercised separately). */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "p11t.h"
#include "ukey-pkcs11.h"

/* DER OIDs for CKA_EC_PARAMS (Mech §2.3.3: the namedCurve choice of ECParameters). */
static const unsigned char p256_params[] = { 0x06, 0x08, 0x2A, 0x86, 0x48,
	                                     0xCE, 0x3D, 0x03, 0x01, 0x07 };

struct key_kind_info {
	const unsigned char *params;
	size_t params_len;
	const char *ossl_type;  /* EVP_PKEY type and group for the oracle */
	const char *ossl_group;
	CK_MECHANISM_TYPE sign_mech;
};

static const struct key_kind_info kinds[] = {
	[P11T_KEY_SM2] = { (const unsigned char *)UKEY_SM2_EC_PARAMS, UKEY_SM2_EC_PARAMS_LEN, "SM2",
	                   "SM2", CKM_UKEY_SM2_SM3 },
	[P11T_KEY_P256] = { p256_params, sizeof(p256_params), "EC", "prime256v1", CKM_ECDSA },
};

/* §5.14 C_GenerateKeyPair with CKM_EC_KEY_PAIR_GEN (Mech §2.3.7): token objects, a private
 * key that is private and sensitive, a public key that is not private. */
CK_RV p11t_keygen(struct p11t *t, CK_SESSION_HANDLE s, enum p11t_key_kind kind,
                  const char *label, struct p11t_keypair *kp)
{
	CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG label_len = strlen(label);
	CK_ATTRIBUTE pub[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &no, sizeof(no) },
		{ CKA_VERIFY, &yes, sizeof(yes) },
		{ CKA_LABEL, (void *)label, label_len },
		{ CKA_EC_PARAMS, (void *)kinds[kind].params, kinds[kind].params_len },
	};
	CK_ATTRIBUTE priv[] = {
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_SIGN, &yes, sizeof(yes) },
		{ CKA_LABEL, (void *)label, label_len },
	};

	memset(kp, 0, sizeof(*kp));
	kp->kind = kind;
	return t->f->C_GenerateKeyPair(s, &mech, pub, sizeof(pub) / sizeof(pub[0]), priv,
	                               sizeof(priv) / sizeof(priv[0]), &kp->pub, &kp->priv);
}

/* CKA_EC_POINT is the DER OCTET STRING of the uncompressed point (Mech §2.3.3); SoftHSM2 and
 * ukey both use that form. Keep the 65-byte 04||X||Y. */
bool p11t_read_point(struct p11t *t, CK_SESSION_HANDLE s, struct p11t_keypair *kp)
{
	unsigned char der[80];
	CK_ATTRIBUTE a = { CKA_EC_POINT, der, sizeof(der) };

	if (!p11t_rv(t, t->f->C_GetAttributeValue(s, kp->pub, &a, 1), CKR_OK,
	             "C_GetAttributeValue(CKA_EC_POINT)"))
		return false;
	if (!p11t_true(t, a.ulValueLen == 67 && der[0] == 0x04 && der[1] == 65 && der[2] == 0x04,
	               "CKA_EC_POINT is not a DER OCTET STRING of a 65-byte point (%lu bytes)",
	               (unsigned long)a.ulValueLen))
		return false;
	memcpy(kp->point, der + 2, sizeof(kp->point));
	return true;
}

const unsigned char *p11t_ec_params(enum p11t_key_kind kind, size_t *len)
{
	*len = kinds[kind].params_len;
	return kinds[kind].params;
}

void p11t_sign_mech(enum p11t_key_kind kind, CK_MECHANISM *mech)
{
	mech->mechanism = kinds[kind].sign_mech;
	mech->pParameter = NULL;
	mech->ulParameterLen = 0;
}

/* CKM_ECDSA signs a hash given by the caller (Mech §2.3.8); CKM_UKEY_SM2_SM3 hashes with Z
 * itself (docs/pkcs11-profile.md). in holds at least 64 bytes. */
bool p11t_sign_input(enum p11t_key_kind kind, const unsigned char *msg, size_t len,
                     unsigned char *in, CK_ULONG *in_len)
{
	unsigned int n = 0;

	if (kind == P11T_KEY_SM2) {
		if (len > 64)
			return false;
		memcpy(in, msg, len);
		*in_len = len;
		return true;
	}
	if (EVP_Digest(msg, len, in, &n, EVP_sha256(), NULL) != 1)
		return false;
	*in_len = n;
	return true;
}

static EVP_PKEY *oracle_key(const struct p11t_keypair *kp)
{
	const struct key_kind_info *k = &kinds[kp->kind];
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, k->ossl_type, NULL);
	OSSL_PARAM params[] = {
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)k->ossl_group, 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)kp->point,
		                        sizeof(kp->point)),
		OSSL_PARAM_END,
	};
	EVP_PKEY *pkey = NULL;

	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

/* r||s (2 x 32 bytes) to the DER ECDSA-Sig-Value / SM2Signature OpenSSL verifies. */
static int raw_to_der(const unsigned char *sig, size_t sig_len, unsigned char *der, size_t cap)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, (int)(sig_len / 2), NULL);
	BIGNUM *s = BN_bin2bn(sig + sig_len / 2, (int)(sig_len / 2), NULL);
	unsigned char *p = der;
	int len = -1;

	if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1)
		goto out;
	r = s = NULL; /* owned by es now */
	if (i2d_ECDSA_SIG(es, NULL) > (int)cap)
		goto out;
	len = i2d_ECDSA_SIG(es, &p);
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return len;
}

static bool verify_sm2(EVP_PKEY *pkey, const unsigned char *msg, size_t msg_len,
                       const unsigned char *der, size_t der_len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(pkey, NULL);
	bool ok = false;

	/* GM/T 0009: Z uses the default user ID 1234567812345678 (CKM_UKEY_SM2_SM3 without a
	 * parameter, docs/pkcs11-profile.md). */
	if (md == NULL || pctx == NULL ||
	    EVP_PKEY_CTX_set1_id(pctx, UKEY_SM2_DEFAULT_ID, UKEY_SM2_DEFAULT_ID_LEN) != 1)
		goto out;
	EVP_MD_CTX_set_pkey_ctx(md, pctx);
	if (EVP_DigestVerifyInit(md, NULL, EVP_sm3(), NULL, pkey) != 1)
		goto out;
	ok = EVP_DigestVerify(md, der, der_len, msg, msg_len) == 1;
out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_CTX_free(pctx);
	return ok;
}

static bool verify_ecdsa(EVP_PKEY *pkey, const unsigned char *msg, size_t msg_len,
                         const unsigned char *der, size_t der_len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok = false;

	if (md != NULL && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1)
		ok = EVP_DigestVerify(md, der, der_len, msg, msg_len) == 1;
	EVP_MD_CTX_free(md);
	return ok;
}

bool p11t_openssl_verify(const struct p11t_keypair *kp, const unsigned char *msg,
                         size_t msg_len, const unsigned char *sig, size_t sig_len)
{
	unsigned char der[80];
	EVP_PKEY *pkey = NULL;
	int der_len;
	bool ok = false;

	if (sig_len != 64)
		return false;
	der_len = raw_to_der(sig, sig_len, der, sizeof(der));
	pkey = oracle_key(kp);
	if (der_len <= 0 || pkey == NULL)
		goto out;
	if (kp->kind == P11T_KEY_SM2)
		ok = verify_sm2(pkey, msg, msg_len, der, (size_t)der_len);
	else
		ok = verify_ecdsa(pkey, msg, msg_len, der, (size_t)der_len);
out:
	EVP_PKEY_free(pkey);
	return ok;
}
