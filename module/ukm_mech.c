/* ukey module: the mechanism table and the sign/verify operations.
 *
 * Signing is one secured PSO COMPUTE DIGITAL SIGNATURE APDU (docs/apdu.md): the payload
 * names key and card mechanism, so the host does every hash first. CKM_UKEY_SM2_SM3 computes
 * e = SM3(Z || M) (GM/T 0003.2 §6.1 A1-A2); the hashed ECDSA and RSA mechanisms (PKCS#11 3.0
 * mechanisms §2.3.8, §2.1.7, §2.1.11) hash with OpenSSL, and PKCS#1 v1.5 gets its DigestInfo
 * built here (PKCS #1 v2.2 §9.2 step 2). Verification runs on the host with OpenSSL. */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "uk_wipe.h"
#include "ukm.h"
#include "ukm_mech_def.h"

#define UKM_EC_FLAGS (CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS)
#define UKM_SV (CKF_SIGN | CKF_VERIFY)
#define UKM_ED (CKF_ENCRYPT | CKF_DECRYPT)

/* CKF_HW where the card takes part (generation, signing, decryption); digests are the
 * host's (the card's PSO: HASH is never used, it would cost APDUs). */
static const struct ukm_mech_def ukm_mechs[] = {
	{ CKM_EC_KEY_PAIR_GEN, 256, 256, CKF_GENERATE_KEY_PAIR | UKM_EC_FLAGS | CKF_HW,
	  0, 0, 0, 0, UKM_K_GEN },
	{ CKM_RSA_PKCS_KEY_PAIR_GEN, 2048, 2048, CKF_GENERATE_KEY_PAIR | CKF_HW,
	  0, 0, 0, 0, UKM_K_GEN },
	{ CKM_UKEY_SM2, 256, 256, UKM_SV | CKF_HW, UKM_ALG_SM2, 0x01, 0, 0, UKM_K_SM2 },
	{ CKM_UKEY_SM2_SM3, 256, 256, UKM_SV | CKF_HW, UKM_ALG_SM2, 0x01, 0, 0, UKM_K_SM2_SM3 },
	{ CKM_UKEY_SM2_ENCRYPT, 256, 256, UKM_ED | CKF_UNWRAP | CKF_HW, UKM_ALG_SM2, 0, 0x11, 0,
	  UKM_K_SM2_ENC },
	{ CKM_UKEY_SM2_ENVELOPED_IMPORT, 256, 256, CKF_UNWRAP | CKF_HW, UKM_ALG_SM2, 0, 0, 0,
	  UKM_K_UNWRAP },
	{ CKM_ECDSA, 256, 256, UKM_SV | UKM_EC_FLAGS | CKF_HW, UKM_ALG_P256, 0x02, 0, 0,
	  UKM_K_ECDSA },
	{ CKM_ECDSA_SHA256, 256, 256, UKM_SV | UKM_EC_FLAGS | CKF_HW, UKM_ALG_P256, 0x02, 0,
	  CKM_SHA256, UKM_K_ECDSA_H },
	{ CKM_ECDSA_SHA384, 256, 256, UKM_SV | UKM_EC_FLAGS | CKF_HW, UKM_ALG_P256, 0x02, 0,
	  CKM_SHA384, UKM_K_ECDSA_H },
	{ CKM_RSA_PKCS, 2048, 2048, UKM_SV | UKM_ED | CKF_HW, UKM_ALG_RSA, 0x05, 0x12, 0,
	  UKM_K_RSA_RAW },
	{ CKM_SHA256_RSA_PKCS, 2048, 2048, UKM_SV | CKF_HW, UKM_ALG_RSA, 0x03, 0, CKM_SHA256,
	  UKM_K_RSA_DI },
	{ CKM_SHA384_RSA_PKCS, 2048, 2048, UKM_SV | CKF_HW, UKM_ALG_RSA, 0x03, 0, CKM_SHA384,
	  UKM_K_RSA_DI },
	{ CKM_SHA512_RSA_PKCS, 2048, 2048, UKM_SV | CKF_HW, UKM_ALG_RSA, 0x03, 0, CKM_SHA512,
	  UKM_K_RSA_DI },
	{ CKM_RSA_PKCS_PSS, 2048, 2048, UKM_SV | CKF_HW, UKM_ALG_RSA, 0x04, 0, 0, UKM_K_PSS },
	{ CKM_SHA256_RSA_PKCS_PSS, 2048, 2048, UKM_SV | CKF_HW, UKM_ALG_RSA, 0x04, 0,
	  CKM_SHA256, UKM_K_PSS_H },
	{ CKM_SHA384_RSA_PKCS_PSS, 2048, 2048, UKM_SV | CKF_HW, UKM_ALG_RSA, 0x04, 0,
	  CKM_SHA384, UKM_K_PSS_H },
	{ CKM_SHA512_RSA_PKCS_PSS, 2048, 2048, UKM_SV | CKF_HW, UKM_ALG_RSA, 0x04, 0,
	  CKM_SHA512, UKM_K_PSS_H },
	{ CKM_RSA_PKCS_OAEP, 2048, 2048, UKM_ED | CKF_HW, UKM_ALG_RSA, 0, 0, 0, UKM_K_OAEP },
	{ CKM_UKEY_SM3, 0, 0, CKF_DIGEST, 0, 0, 0, 0, UKM_K_DIGEST },
	{ CKM_SHA_1, 0, 0, CKF_DIGEST, 0, 0, 0, 0, UKM_K_DIGEST },
	{ CKM_SHA256, 0, 0, CKF_DIGEST, 0, 0, 0, 0, UKM_K_DIGEST },
	{ CKM_SHA384, 0, 0, CKF_DIGEST, 0, 0, 0, 0, UKM_K_DIGEST },
	{ CKM_SHA512, 0, 0, CKF_DIGEST, 0, 0, 0, 0, UKM_K_DIGEST },
	/* secret keys (ukm_sm4.c): SM4 key sizes in bytes, as PKCS#11 gives AES's */
	{ CKM_UKEY_SM4_KEY_GEN, 16, 16, CKF_GENERATE | CKF_HW, 0, 0, 0, 0, UKM_K_SM4_GEN },
	{ CKM_UKEY_SM4_ECB, 16, 16, UKM_ED | CKF_HW, 0, 0, 0, 0, UKM_K_SM4_ECB },
	{ CKM_UKEY_SM4_CBC, 16, 16, UKM_ED | CKF_HW, 0, 0, 0, 0, UKM_K_SM4_CBC },
	{ CKM_UKEY_SM4_CBC_PAD, 16, 16, UKM_ED | CKF_HW, 0, 0, 0, 0, UKM_K_SM4_CBC_PAD },
	{ CKM_UKEY_SM4_MAC, 16, 16, UKM_SV | CKF_HW, 0, 0, 0, 0, UKM_K_SM4_MAC },
	/* the module's own HMAC (the key never reaches the card): no CKF_HW; key bytes */
	{ CKM_UKEY_SM3_HMAC, 1, UKM_SKEY_VALUE_MAX, UKM_SV, 0, 0, 0, 0, UKM_K_HMAC },
};
#define UKM_NMECHS (sizeof(ukm_mechs) / sizeof(ukm_mechs[0]))

static const struct ukm_hash_def ukm_hashes[] = {
	{ CKM_SHA_1, CKG_MGF1_SHA1, 20, "SHA1", 0x13 },
	{ CKM_SHA256, CKG_MGF1_SHA256, 32, "SHA256", 0x14 },
	{ CKM_SHA384, CKG_MGF1_SHA384, 48, "SHA384", 0 },
	{ CKM_SHA512, CKG_MGF1_SHA512, 64, "SHA512", 0 },
	{ CKM_UKEY_SM3, 0, 32, "SM3", 0 },
};

/* PKCS #1 v2.2 §9.2 note 1: DER DigestInfo prefixes, by digest length. */
static const struct {
	size_t len;
	uint8_t prefix[19];
} ukm_digest_info[] = {
	{ 32, { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
	        0x02, 0x01, 0x05, 0x00, 0x04, 0x20 } },
	{ 48, { 0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
	        0x02, 0x02, 0x05, 0x00, 0x04, 0x30 } },
	{ 64, { 0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04,
	        0x02, 0x03, 0x05, 0x00, 0x04, 0x40 } },
};

const struct ukm_mech_def *ukm_mech_def_get(CK_MECHANISM_TYPE type)
{
	size_t i;

	for (i = 0; i < UKM_NMECHS; i++)
		if (ukm_mechs[i].type == type)
			return &ukm_mechs[i];
	return NULL;
}

const struct ukm_hash_def *ukm_hash_def_get(CK_MECHANISM_TYPE hash)
{
	size_t i;

	for (i = 0; i < sizeof(ukm_hashes) / sizeof(ukm_hashes[0]); i++)
		if (ukm_hashes[i].hash == hash)
			return &ukm_hashes[i];
	return NULL;
}

const struct ukm_hash_def *ukm_hash_def_by_len(size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(ukm_hashes) / sizeof(ukm_hashes[0]); i++)
		if (ukm_hashes[i].len == len && ukm_hashes[i].mgf != 0)
			return &ukm_hashes[i];
	return NULL;
}

/* PKCS#11 2.40 §5.5.5 C_GetMechanismList: the two-call length convention (§5.2). */
CK_RV ukm_mech_list(CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
	CK_ULONG have = *count;
	size_t i;

	*count = UKM_NMECHS;
	if (list == NULL)
		return CKR_OK;
	if (have < UKM_NMECHS)
		return CKR_BUFFER_TOO_SMALL;
	for (i = 0; i < UKM_NMECHS; i++)
		list[i] = ukm_mechs[i].type;
	return CKR_OK;
}

CK_RV ukm_mech_info(CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
	const struct ukm_mech_def *d = ukm_mech_def_get(type);

	if (d == NULL)
		return CKR_MECHANISM_INVALID;
	info->ulMinKeySize = d->min;
	info->ulMaxKeySize = d->max;
	info->flags = d->flags;
	return CKR_OK;
}

int ukm_mech_allows(CK_MECHANISM_TYPE type, CK_FLAGS need)
{
	const struct ukm_mech_def *d = ukm_mech_def_get(type);

	return d != NULL && (d->flags & need) == need;
}

/* The key's algorithm against the mechanism's. SM2 and P-256 keys are both CKK_EC, so a
 * curve mismatch (CKM_ECDSA on an SM2 key) is a mechanism this key cannot do:
 * CKR_MECHANISM_INVALID; an RSA mechanism on an EC key (or the reverse) is
 * CKR_KEY_TYPE_INCONSISTENT (PKCS#11 2.40 §5.11.1). */
CK_RV ukm_mech_key_ok(CK_MECHANISM_TYPE type, uint8_t alg)
{
	const struct ukm_mech_def *d = ukm_mech_def_get(type);

	if (d == NULL || d->alg == 0)
		return CKR_MECHANISM_INVALID;
	if (d->alg == alg)
		return CKR_OK;
	if ((d->alg == UKM_ALG_RSA) != (alg == UKM_ALG_RSA))
		return CKR_KEY_TYPE_INCONSISTENT;
	return CKR_MECHANISM_INVALID;
}

size_t ukm_mech_for_alg(uint8_t alg, CK_MECHANISM_TYPE *out, size_t cap)
{
	size_t i, n = 0;

	for (i = 0; i < UKM_NMECHS; i++)
		if (ukm_mechs[i].alg == alg && n < cap)
			out[n++] = ukm_mechs[i].type;
	return n;
}

CK_RV ukm_op_key(ukm_slot *s, ukm_sign_op *op, const struct ukm_mech_def *d,
                 CK_OBJECT_HANDLE key, CK_OBJECT_CLASS cls, int usage)
{
	ukm_object o;
	CK_RV rv;

	if (ukm_object_find(s, key, &o) != CKR_OK || o.kp == NULL)
		return CKR_KEY_HANDLE_INVALID;
	if ((rv = ukm_mech_key_ok(d->type, o.kp->alg)) != CKR_OK)
		return rv;
	/* CKA_SIGN/VERIFY on the signing pair, CKA_ENCRYPT/DECRYPT on the encryption pair. */
	if (o.cls != cls || o.usage != usage)
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	memset(op, 0, sizeof(*op));
	op->mech = d->type;
	op->def = d;
	op->key = key;
	op->kr = (uint8_t)(o.cont->index * 2 + o.usage);
	op->kp = *o.kp;
	return CKR_OK;
}

void ukm_sign_op_clear(ukm_sign_op *op)
{
	EVP_MD_CTX_free(op->md);
	EVP_MAC_CTX_free(op->mac);
	uk_wipe(op, sizeof(*op));
}

size_t ukm_sign_len(const ukm_sign_op *op)
{
	const struct ukm_mech_def *d = op->def;

	if (d != NULL && d->kind == UKM_K_SM4_MAC)
		return 16;
	if (d != NULL && d->kind == UKM_K_HMAC)
		return 32;
	return op->kp.alg == UKM_ALG_RSA ? UKM_RSA_LEN : UK_SM2_SIG_LEN;
}

/* CKM_UKEY_SM2_SM3 parameter: the user ID bytes; absent -> the GM/T 0009 default.
 * ENTL is a 16-bit bit count, so an ID is at most 8191 bytes. */
static CK_RV ukm_sign_start_sm3(ukm_sign_op *op, CK_MECHANISM_PTR m)
{
	uint8_t z[UK_SM3_LEN];
	CK_RV rv = CKR_OK;

	if ((m->pParameter == NULL && m->ulParameterLen != 0) || m->ulParameterLen > 8191)
		return CKR_MECHANISM_PARAM_INVALID;
	if (uk_sm2_compute_z(op->kp.point, m->pParameter,
	                     m->pParameter != NULL ? m->ulParameterLen : 0, z) != 0) {
		rv = CKR_FUNCTION_FAILED;
		goto out;
	}
	op->md = EVP_MD_CTX_new();
	if (op->md == NULL || EVP_DigestInit_ex(op->md, EVP_sm3(), NULL) != 1 ||
	    EVP_DigestUpdate(op->md, z, sizeof(z)) != 1)
		rv = CKR_FUNCTION_FAILED;
out:
	uk_wipe(z, sizeof(z));
	return rv;
}

static CK_RV ukm_sign_start_md(ukm_sign_op *op, CK_MECHANISM_TYPE hash)
{
	const struct ukm_hash_def *h = ukm_hash_def_get(hash);

	op->md = EVP_MD_CTX_new();
	if (h == NULL || op->md == NULL ||
	    EVP_DigestInit_ex(op->md, EVP_get_digestbyname(h->name), NULL) != 1)
		return CKR_FUNCTION_FAILED;
	return CKR_OK;
}

/* CK_RSA_PKCS_PSS_PARAMS (PKCS#11 3.0 mechanisms §2.1.11): the card does MGF1 with the
 * message hash and a salt as long as the hash, for SHA-256/384/512 only. op->fmt = hash
 * length. */
static CK_RV ukm_sign_pss_params(ukm_sign_op *op, const struct ukm_mech_def *d,
                                 CK_MECHANISM_PTR m)
{
	const CK_RSA_PKCS_PSS_PARAMS *p = m->pParameter;
	const struct ukm_hash_def *h;

	if (p == NULL || m->ulParameterLen != sizeof(*p))
		return CKR_MECHANISM_PARAM_INVALID;
	h = ukm_hash_def_get(p->hashAlg);
	if (h == NULL || h->mgf == 0 || h->len < 32 || p->mgf != h->mgf || p->sLen != h->len ||
	    (d->hash != 0 && d->hash != p->hashAlg))
		return CKR_MECHANISM_PARAM_INVALID;
	op->fmt = h->len;
	return CKR_OK;
}

static CK_RV ukm_sign_params(ukm_sign_op *op, const struct ukm_mech_def *d, CK_MECHANISM_PTR m)
{
	CK_RV rv = CKR_OK;

	if (d->kind == UKM_K_SM2_SM3)
		return ukm_sign_start_sm3(op, m);
	if (d->kind == UKM_K_PSS || d->kind == UKM_K_PSS_H)
		rv = ukm_sign_pss_params(op, d, m);
	else if (m->pParameter != NULL || m->ulParameterLen != 0)
		rv = CKR_MECHANISM_PARAM_INVALID;
	if (rv == CKR_OK && d->hash != 0)
		rv = ukm_sign_start_md(op, d->hash);
	return rv;
}

/* Shared by C_SignInit (2.40 §5.11.1) and C_VerifyInit (§5.12.1). */
CK_RV ukm_sign_init(ukm_slot *s, ukm_sign_op *op, int verify, CK_MECHANISM_PTR m,
                    CK_OBJECT_HANDLE key)
{
	const struct ukm_mech_def *d = ukm_mech_def_get(m->mechanism);
	CK_RV rv;

	if (d == NULL || !(d->flags & (verify ? CKF_VERIFY : CKF_SIGN)))
		return CKR_MECHANISM_INVALID;
	if (ukm_kind_secret(d->kind)) {
		rv = ukm_skey_op_init(s, op, d, m, key, verify ? CKA_VERIFY : CKA_SIGN);
		op->verify = verify;
		op->active = rv == CKR_OK;
		return rv;
	}
	rv = ukm_op_key(s, op, d, key, verify ? CKO_PUBLIC_KEY : CKO_PRIVATE_KEY, UKM_USAGE_SIGN);
	if (rv != CKR_OK)
		return rv;
	op->verify = verify;
	if ((rv = ukm_sign_params(op, d, m)) != CKR_OK) {
		ukm_sign_op_clear(op);
		return rv;
	}
	op->active = 1;
	return CKR_OK;
}

/* Hashing mechanisms feed the digest; the others collect the raw input, whose length is
 * checked when the operation finishes (CKR_DATA_LEN_RANGE). */
CK_RV ukm_sign_update(ukm_sign_op *op, const uint8_t *p, size_t n)
{
	if (ukm_crypt_multipart(op))
		return ukm_mac_update(op, p, n);
	op->multipart = 1;
	if (op->md != NULL)
		return EVP_DigestUpdate(op->md, p, n) == 1 ? CKR_OK : CKR_FUNCTION_FAILED;
	if (n > sizeof(op->buf) - op->len) {
		op->overflow = 1;
		return CKR_OK;
	}
	if (n > 0)
		memcpy(op->buf + op->len, p, n);
	op->len += n;
	return CKR_OK;
}

/* The collected raw input, within [lo, hi] bytes. */
static CK_RV ukm_sign_raw(ukm_sign_op *op, size_t lo, size_t hi, uint8_t *out, size_t *n)
{
	if (op->overflow || op->len < lo || op->len > hi)
		return CKR_DATA_LEN_RANGE;
	memcpy(out, op->buf, op->len);
	*n = op->len;
	return CKR_OK;
}

static CK_RV ukm_sign_hash(ukm_sign_op *op, uint8_t *out, size_t *n)
{
	unsigned int len = 0;

	if (EVP_DigestFinal_ex(op->md, out, &len) != 1)
		return CKR_FUNCTION_FAILED;
	*n = len;
	return CKR_OK;
}

/* What the card signs (after KR and mechanism): docs/apdu.md PSO: COMPUTE DIGITAL
 * SIGNATURE table. out holds at least UKM_RSA_LEN bytes. */
static CK_RV ukm_sign_input(ukm_sign_op *op, uint8_t *out, size_t *n)
{
	const struct ukm_mech_def *d = op->def;
	size_t i;
	CK_RV rv;

	switch (d->kind) {
	case UKM_K_SM2:
		return ukm_sign_raw(op, UK_SM3_LEN, UK_SM3_LEN, out, n);
	case UKM_K_ECDSA:
		return ukm_sign_raw(op, 20, 64, out, n);       /* the card's hash lengths */
	case UKM_K_RSA_RAW:
		return ukm_sign_raw(op, 1, UKM_RSA_LEN - 11, out, n);  /* PKCS #1 §9.2: k - 11 */
	case UKM_K_PSS:
		return ukm_sign_raw(op, op->fmt, op->fmt, out, n);
	case UKM_K_RSA_DI:
		if ((rv = ukm_sign_hash(op, out + 19, n)) != CKR_OK)
			return rv;
		for (i = 0; i < sizeof(ukm_digest_info) / sizeof(ukm_digest_info[0]); i++)
			if (ukm_digest_info[i].len == *n)
				memcpy(out, ukm_digest_info[i].prefix, 19);
		*n += 19;
		return CKR_OK;
	default:
		return ukm_sign_hash(op, out, n);
	}
}

/* §5.2 length convention: NULL output or a short buffer leaves the operation active. */
CK_RV ukm_sign_final(ukm_slot *s, ukm_sign_op *op, uint8_t *sig, CK_ULONG_PTR sig_len, int *keep)
{
	const struct ukm_mech_def *d = op->def;
	uint8_t payload[2 + UKM_RSA_LEN];
	size_t want = ukm_sign_len(op), n = 0, got = 0;
	CK_ULONG have = *sig_len;
	CK_RV rv;

	*sig_len = want;
	*keep = 1;
	if (sig == NULL)
		return CKR_OK;
	if (have < want)
		return CKR_BUFFER_TOO_SMALL;
	*keep = 0;
	if (ukm_crypt_multipart(op))
		return ukm_mac_final(op, sig, &got);
	/* PKCS#11 3.0 §4.9 (CKA_ALWAYS_AUTHENTICATE): without C_Login(CKU_CONTEXT_SPECIFIC)
	 * for this operation C_Sign fails with CKR_USER_NOT_LOGGED_IN, ending it (§5.2); no
	 * APDU (the card would refuse: 6982) */
	if (op->kp.always_auth && !op->ctx_auth)
		return CKR_USER_NOT_LOGGED_IN;
	op->ctx_auth = 0;
	payload[0] = op->kr;
	payload[1] = d->sign;
	if ((rv = ukm_sign_input(op, payload + 2, &n)) != CKR_OK)
		goto out;
	/* docs/apdu.md: 04 2A 9E 9A, one secured APDU; Le the signature length. */
	rv = ukm_secured(s, 0x04, 0x2A, 0x9E, 0x9A, payload, n + 2, (int)want, sig, want, &got);
	if (rv == CKR_OK && got != want)
		rv = CKR_DEVICE_ERROR;
out:
	uk_wipe(payload, sizeof(payload));
	return rv;
}

/* OpenSSL verification of sig over tbs, padding per mechanism. 1 valid, 0 not, -1 error. */
static int ukm_verify_pkey(ukm_sign_op *op, const uint8_t *tbs, size_t n, const uint8_t *sig,
                           size_t sig_len)
{
	const struct ukm_mech_def *d = op->def;
	const struct ukm_hash_def *h = ukm_hash_def_by_len(op->fmt);
	EVP_PKEY *k = ukm_kp_pkey(&op->kp);
	EVP_PKEY_CTX *c = k != NULL ? EVP_PKEY_CTX_new(k, NULL) : NULL;
	const EVP_MD *md;
	int ok = -1;

	if (c == NULL || EVP_PKEY_verify_init(c) != 1)
		goto out;
	if (d->kind == UKM_K_RSA_RAW || d->kind == UKM_K_RSA_DI) {
		/* no digest set: OpenSSL compares the recovered block with tbs (the DigestInfo) */
		if (EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) != 1)
			goto out;
	} else if (d->kind == UKM_K_PSS || d->kind == UKM_K_PSS_H) {
		md = h != NULL ? EVP_get_digestbyname(h->name) : NULL;
		if (md == NULL || EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PSS_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_signature_md(c, md) != 1 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(c, md) != 1 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(c, (int)h->len) != 1)
			goto out;
	}
	ok = EVP_PKEY_verify(c, sig, sig_len, tbs, n) == 1;
out:
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(k);
	return ok;
}

static int ukm_verify_ec(ukm_sign_op *op, const uint8_t *tbs, size_t n, const uint8_t *sig)
{
	uint8_t der[80];
	size_t dlen = sizeof(der);
	EVP_PKEY *k;
	int ok;

	if (op->kp.alg == UKM_ALG_SM2) {
		if ((k = uk_sm2_from_public(op->kp.point)) == NULL)
			return -1;
		/* 1 valid, 0 invalid, -1 malformed (r or s out of range): invalid. */
		ok = uk_sm2_verify_e(k, tbs, sig) == 1;
		EVP_PKEY_free(k);
		return ok;
	}
	/* ECDSA-Sig-Value DER (SEC 1 §C.5) from r || s; r or s of zero is simply invalid. */
	if (uk_sig_rs_to_der(sig, 32, der, &dlen) != 0)
		return 0;
	return ukm_verify_pkey(op, tbs, n, der, dlen);
}

CK_RV ukm_verify_final(ukm_sign_op *op, const uint8_t *sig, size_t sig_len)
{
	uint8_t tbs[UKM_RSA_LEN];
	size_t n = 0;
	CK_RV rv;
	int ok;

	if (sig_len != ukm_sign_len(op))
		return CKR_SIGNATURE_LEN_RANGE;
	if (ukm_crypt_multipart(op)) {
		/* a MAC is verified by computing it again (the SM4 one on the card) */
		if ((rv = ukm_mac_final(op, tbs, &n)) == CKR_OK)
			rv = uk_ct_equal(tbs, sig, n) ? CKR_OK : CKR_SIGNATURE_INVALID;
		goto out;
	}
	if ((rv = ukm_sign_input(op, tbs, &n)) != CKR_OK)
		goto out;
	if (op->kp.alg == UKM_ALG_RSA)
		ok = ukm_verify_pkey(op, tbs, n, sig, sig_len);
	else
		ok = ukm_verify_ec(op, tbs, n, sig);
	rv = ok < 0 ? CKR_FUNCTION_FAILED : ok ? CKR_OK : CKR_SIGNATURE_INVALID;
out:
	uk_wipe(tbs, sizeof(tbs));
	return rv;
}
