/* ukey token: algorithms and PSO mechanisms (see ukt_alg.h; docs/apdu.md GENERATE, PSO).
 * Keys are generated, loaded and used through OpenSSL 3 EVP only. */
#include "ukt_alg.h"
#include "ukt_internal.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "uk_crypto.h"
#include "uk_tlv.h"
#include "uk_wipe.h"

#define EC_SCALAR_LEN 32
#define EC_POINT_LEN 65
#define EC_SIG_LEN 64
#define RSA_E_MAX 4
#define RSA_PKCS1_OVERHEAD 11   /* PKCS #1 v2.2 §9.2 step 3: at least 8 bytes of FF, 3 more */
#define RSA_PKCS1_MAX (UKT_RSA_K - RSA_PKCS1_OVERHEAD)
#define SM2_C3_LEN 32
#define SM2_CT_MIN (EC_POINT_LEN + SM2_C3_LEN + 1)

/* ---- elliptic-curve keys (SM2, P-256): scalar 32 bytes, point 04 || X || Y ---- */

static int ec_export(const EVP_PKEY *key, uint8_t pub[UKT_PUB_MAX], size_t *publen,
                     uint8_t priv[UKT_PRIV_MAX], size_t *privlen)
{
	BIGNUM *d = NULL;
	size_t n = 0;
	int rc = -1;

	if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1 ||
	    BN_bn2binpad(d, priv, EC_SCALAR_LEN) != EC_SCALAR_LEN ||
	    EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub,
	                                     UKT_PUB_MAX, &n) != 1 ||
	    n != EC_POINT_LEN || pub[0] != 0x04)
		goto out;
	*publen = n;
	*privlen = EC_SCALAR_LEN;
	rc = 0;
out:
	BN_clear_free(d);
	return rc;
}

static int ec_generate(EVP_PKEY *key, uint8_t pub[UKT_PUB_MAX], size_t *publen,
                       uint8_t priv[UKT_PRIV_MAX], size_t *privlen)
{
	int rc = key != NULL ? ec_export(key, pub, publen, priv, privlen) : -1;

	EVP_PKEY_free(key);
	return rc;
}

/* GM/T 0003.5 curve, key type SM2 (so EVP signs and deciphers with SM2). */
static int sm2_generate(uint8_t pub[UKT_PUB_MAX], size_t *publen, uint8_t priv[UKT_PRIV_MAX],
                        size_t *privlen)
{
	return ec_generate(uk_sm2_generate(), pub, publen, priv, privlen);
}

/* FIPS 186-4 P-256 (secp256r1). */
static int p256_generate(uint8_t pub[UKT_PUB_MAX], size_t *publen, uint8_t priv[UKT_PRIV_MAX],
                         size_t *privlen)
{
	return ec_generate(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), pub, publen, priv,
	                   privlen);
}

static int ec_pub_valid(const uint8_t *pub, size_t n)
{
	return n == EC_POINT_LEN && pub[0] == 0x04;
}

/* EVP_PKEY from the scalar and the stored (authenticated) point: fromdata takes both, so no
 * point multiplication is spent per operation. The scalar lives in a secure-heap BIGNUM. */
static EVP_PKEY *ec_load(const char *type, const char *group, const uint8_t *priv, size_t n,
                         const uint8_t *pub, size_t publen)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
	BIGNUM *bn = BN_secure_new();

	if (bld == NULL || bn == NULL || n != EC_SCALAR_LEN || !ec_pub_valid(pub, publen) ||
	    BN_bin2bn(priv, (int)n, bn) == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, publen) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params) != 1)
		key = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(bn);
	return key;
}

static EVP_PKEY *sm2_load(const uint8_t *priv, size_t n, const uint8_t *pub, size_t publen)
{
	return ec_load("SM2", "SM2", priv, n, pub, publen);
}

static EVP_PKEY *p256_load(const uint8_t *priv, size_t n, const uint8_t *pub, size_t publen)
{
	return ec_load("EC", "prime256v1", priv, n, pub, publen);
}

/* 7F49 { 86 point }: ISO 7816-8 §5.1 table 3, public point of an elliptic-curve key. */
static int ec_put_public(uk_buf *r, const uint8_t *pub, size_t n)
{
	return uk_tlv_put(r, 0x86, pub, n);
}

/* ---- RSA-2048 (PKCS #1 v2.2): public n (256) || e, private RSAPrivateKey DER ---- */

static int rsa_export(const EVP_PKEY *key, uint8_t pub[UKT_PUB_MAX], size_t *publen,
                      uint8_t priv[UKT_PRIV_MAX], size_t *privlen)
{
	BIGNUM *n = NULL, *e = NULL;
	uint8_t *p = priv;
	int len, elen, rc = -1;

	if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
	    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) != 1 ||
	    BN_num_bytes(n) != UKT_RSA_K || (elen = BN_num_bytes(e)) < 1 || elen > RSA_E_MAX ||
	    BN_bn2binpad(n, pub, UKT_RSA_K) != UKT_RSA_K ||
	    BN_bn2bin(e, pub + UKT_RSA_K) != elen)
		goto out;
	len = i2d_PrivateKey(key, NULL);
	if (len <= 0 || len > UKT_PRIV_MAX || i2d_PrivateKey(key, &p) != len)
		goto out;
	*publen = (size_t)(UKT_RSA_K + elen);
	*privlen = (size_t)len;
	rc = 0;
out:
	BN_free(n);
	BN_free(e);
	return rc;
}

/* e = 65537, OpenSSL's default public exponent (PKCS #1 v2.2 §3.1). */
static int rsa_generate(uint8_t pub[UKT_PUB_MAX], size_t *publen, uint8_t priv[UKT_PRIV_MAX],
                        size_t *privlen)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)(UKT_RSA_K * 8));
	int rc = key != NULL ? rsa_export(key, pub, publen, priv, privlen) : -1;

	EVP_PKEY_free(key);
	return rc;
}

static int rsa_pub_valid(const uint8_t *pub, size_t n)
{
	return n > UKT_RSA_K && n <= UKT_RSA_K + RSA_E_MAX && (pub[0] & 0x80) != 0 &&
	       pub[UKT_RSA_K] != 0 && (pub[n - 1] & 1) != 0;
}

static EVP_PKEY *rsa_load(const uint8_t *priv, size_t n, const uint8_t *pub, size_t publen)
{
	const uint8_t *p = priv;
	EVP_PKEY *key;

	if (!rsa_pub_valid(pub, publen))
		return NULL;
	key = d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, (long)n);
	if (key != NULL && (p != priv + n || EVP_PKEY_get_size(key) != UKT_RSA_K)) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	return key;
}

/* 7F49 { 81 n, 82 e }: ISO 7816-8 §5.1 table 3, RSA modulus and public exponent. */
static int rsa_put_public(uk_buf *r, const uint8_t *pub, size_t n)
{
	uk_tlv_put(r, 0x81, pub, UKT_RSA_K);
	return uk_tlv_put(r, 0x82, pub + UKT_RSA_K, n - UKT_RSA_K);
}

/* 7F49 82 01 09, 81 82 01 00 n, 82 03 e (e = 65537). */
#define RSA_TPL_LEN (2 + 3 + 4 + UKT_RSA_K + 2 + 3)

static const ukt_alg alg_table[] = {
	{ UKT_ALG_SM2, 0x0001, 2 + 2 + EC_POINT_LEN + 1, EC_SIG_LEN, sm2_generate, ec_pub_valid,
	  sm2_load, ec_put_public },
	{ UKT_ALG_P256, 0x0002, 2 + 2 + EC_POINT_LEN + 1, EC_SIG_LEN, p256_generate, ec_pub_valid,
	  p256_load, ec_put_public },
	{ UKT_ALG_RSA2048, 0x0004, RSA_TPL_LEN, UKT_RSA_K, rsa_generate, rsa_pub_valid, rsa_load,
	  rsa_put_public },
};

const ukt_alg *ukt_alg_find(uint8_t id)
{
	size_t i;

	for (i = 0; i < sizeof(alg_table) / sizeof(alg_table[0]); i++)
		if (alg_table[i].id == id)
			return &alg_table[i];
	return NULL;
}

/* GET DATA 00 tag 87: the key-pair algorithms of the table, SM3 (bit 3) for PSO HASH
 * (ISO 7816-8 §5.2, ukt_cmd_hash.c) and SM4 (bit 4) for the session keys of IMPORT SESSION
 * KEY / PSO ENCIPHER-DECIPHER. */
#define UKT_ALG_BIT_SM3 0x0008
#define UKT_ALG_BIT_SM4 0x0010

uint16_t ukt_alg_mask(void)
{
	uint16_t m = UKT_ALG_BIT_SM3 | UKT_ALG_BIT_SM4;
	size_t i;

	for (i = 0; i < sizeof(alg_table) / sizeof(alg_table[0]); i++)
		m |= alg_table[i].mask;
	return m;
}

/* Built inside out so the 7F49 length comes from the bytes actually written. */
int ukt_alg_put_public(uk_buf *r, uint8_t alg, const uint8_t *pub, size_t n)
{
	const ukt_alg *a = ukt_alg_find(alg);
	uk_buf in;
	int rc = -1;

	uk_buf_init(&in, 0, 0);
	if (a != NULL && a->put_public(&in, pub, n) == 0 && !in.failed)
		rc = uk_tlv_put(r, 0x7F49, in.data, in.len);
	uk_buf_free(&in);
	if (rc != 0)
		r->failed = 1;
	return rc;
}

/* ---- mechanisms ---- */

/* One EVP_PKEY_sign with a configured context; the result goes to out (at most cap). */
static int pkey_sign(EVP_PKEY_CTX *ctx, const uint8_t *in, size_t n, uint8_t *sig,
                     size_t *siglen)
{
	return EVP_PKEY_sign(ctx, sig, siglen, in, n) == 1 ? UKT_MECH_OK : UKT_MECH_FAIL;
}

/* 01: SM2 over a caller-computed e = SM3(Z || M), GM/T 0003.2 §6.1 A3-A7; r || s. */
static int mech_sm2_sign(EVP_PKEY *key, const uint8_t *in, size_t n, uk_buf *out)
{
	uint8_t *sig = uk_buf_extend(out, EC_SIG_LEN);

	(void)n;
	return sig != NULL && uk_sm2_sign_e(key, in, sig) == 0 ? UKT_MECH_OK : UKT_MECH_FAIL;
}

/* 02: ECDSA (FIPS 186-4 §6.4) over a caller-computed hash of 20..64 bytes (OpenSSL takes
 * its leftmost 256 bits, X9.62); answered as r || s, 32 bytes each (PKCS #11 CKM_ECDSA). */
static int mech_ecdsa(EVP_PKEY *key, const uint8_t *in, size_t n, uk_buf *out)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	uint8_t der[80], *rs;
	size_t dlen = sizeof(der);
	int rc = UKT_MECH_FAIL;

	if (ctx == NULL || EVP_PKEY_sign_init(ctx) != 1 ||
	    pkey_sign(ctx, in, n, der, &dlen) != UKT_MECH_OK)
		goto out;
	rs = uk_buf_extend(out, EC_SIG_LEN);
	if (rs != NULL && uk_sig_der_to_rs(der, dlen, rs, EC_SIG_LEN / 2) == 0)
		rc = UKT_MECH_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

static EVP_PKEY_CTX *rsa_ctx(EVP_PKEY *key, int decrypt, int padding)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	int ok;

	if (ctx == NULL)
		return NULL;
	ok = decrypt ? EVP_PKEY_decrypt_init(ctx) : EVP_PKEY_sign_init(ctx);
	if (ok != 1 || EVP_PKEY_CTX_set_rsa_padding(ctx, padding) != 1) {
		EVP_PKEY_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

/* 05: RSASSA-PKCS1-v1_5 block (PKCS #1 v2.2 §9.2 steps 3-5, EMSA-PKCS1-v1_5 type 01
 * padding) around arbitrary data of up to k - 11 bytes, then RSASP1: PKCS #11 CKM_RSA_PKCS. */
static int mech_rsa_pkcs_raw(EVP_PKEY *key, const uint8_t *in, size_t n, uk_buf *out)
{
	EVP_PKEY_CTX *ctx = rsa_ctx(key, 0, RSA_PKCS1_PADDING);
	uint8_t *sig = uk_buf_extend(out, UKT_RSA_K);
	size_t slen = UKT_RSA_K;
	int rc = UKT_MECH_FAIL;

	if (ctx != NULL && sig != NULL && pkey_sign(ctx, in, n, sig, &slen) == UKT_MECH_OK &&
	    slen == UKT_RSA_K)
		rc = UKT_MECH_OK;
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

/* A DER DigestInfo (PKCS #1 v2.2 §9.2 step 2) naming a digest OpenSSL knows, holding a
 * value of that digest's length, and nothing after it. */
static int digestinfo_valid(const uint8_t *in, size_t n)
{
	const uint8_t *p = in;
	X509_SIG *di = d2i_X509_SIG(NULL, &p, (long)n);
	const X509_ALGOR *alg = NULL;
	const ASN1_OCTET_STRING *dig = NULL;
	const ASN1_OBJECT *oid = NULL;
	const EVP_MD *md;
	int ok = 0;

	if (di == NULL || p != in + n)
		goto out;
	X509_SIG_get0(di, &alg, &dig);
	X509_ALGOR_get0(&oid, NULL, NULL, alg);
	md = EVP_get_digestbyobj(oid);
	ok = md != NULL && ASN1_STRING_length(dig) == EVP_MD_get_size(md);
out:
	X509_SIG_free(di);
	return ok;
}

/* 03: RSASSA-PKCS1-v1_5 (PKCS #1 v2.2 §8.2.1) over a caller-built DigestInfo; the card
 * checks it is one and pads it (the hashed CKM_SHAxxx_RSA_PKCS of the module). */
static int mech_rsa_pkcs_di(EVP_PKEY *key, const uint8_t *in, size_t n, uk_buf *out)
{
	if (!digestinfo_valid(in, n))
		return UKT_MECH_BAD_INPUT;
	return mech_rsa_pkcs_raw(key, in, n, out);
}

static const EVP_MD *md_by_len(size_t n)
{
	return n == 32 ? EVP_sha256() : n == 48 ? EVP_sha384() : n == 64 ? EVP_sha512() : NULL;
}

static int pss_len_ok(size_t n)
{
	return md_by_len(n) != NULL;
}

/* 04: RSASSA-PSS (PKCS #1 v2.2 §8.1.1) over a hash of 32/48/64 bytes = SHA-256/384/512,
 * MGF1 with the same hash, salt length = hash length (PKCS #11 CKM_RSA_PKCS_PSS with
 * CK_RSA_PKCS_PSS_PARAMS { hash, CKG_MGF1_same, sLen = hLen }). */
static int mech_rsa_pss(EVP_PKEY *key, const uint8_t *in, size_t n, uk_buf *out)
{
	EVP_PKEY_CTX *ctx = rsa_ctx(key, 0, RSA_PKCS1_PSS_PADDING);
	const EVP_MD *md = md_by_len(n);
	uint8_t *sig = uk_buf_extend(out, UKT_RSA_K);
	size_t slen = UKT_RSA_K;
	int rc = UKT_MECH_FAIL;

	if (ctx == NULL || sig == NULL || md == NULL ||
	    EVP_PKEY_CTX_set_signature_md(ctx, md) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) != 1)
		goto out;
	if (pkey_sign(ctx, in, n, sig, &slen) == UKT_MECH_OK && slen == UKT_RSA_K)
		rc = UKT_MECH_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

/* EVP_PKEY_decrypt into out; a refusal by the decryption (padding, tag, point) is bad input.
 * The plaintext lands in out, which the dispatcher keeps as a secret buffer. */
static int pkey_decrypt(EVP_PKEY_CTX *ctx, const uint8_t *in, size_t n, uk_buf *out)
{
	size_t cap = 0, len;
	uint8_t *pt;

	if (EVP_PKEY_decrypt(ctx, NULL, &cap, in, n) != 1 || cap == 0)
		return UKT_MECH_FAIL;
	pt = uk_buf_extend(out, cap);
	if (pt == NULL)
		return UKT_MECH_FAIL;
	len = cap;
	if (EVP_PKEY_decrypt(ctx, pt, &len, in, n) != 1 || len > cap) {
		uk_wipe(pt, cap);
		out->len -= cap;
		return UKT_MECH_BAD_INPUT;
	}
	uk_wipe(pt + len, cap - len);
	out->len -= cap - len;
	return UKT_MECH_OK;
}

/* DER INTEGER of an unsigned big-endian value (X.690 §8.3: minimal, sign bit clear). */
static void der_put_uint(uk_buf *b, const uint8_t *v, size_t n)
{
	uint8_t tmp[EC_SCALAR_LEN + 1];
	size_t i = 0;

	while (i + 1 < n && v[i] == 0)
		i++;
	tmp[0] = 0;
	memcpy(tmp + 1, v + i, n - i);
	if (v[i] & 0x80)
		uk_tlv_put(b, 0x02, tmp, n - i + 1);
	else
		uk_tlv_put(b, 0x02, tmp + 1, n - i);
}

/* C1 || C3 || C2 (GM/T 0003.4 §6.1, 2012 order) to the SM2Cipher DER of GM/T 0009-2012 §7.2
 * SEQUENCE { x INTEGER, y INTEGER, hash OCTET STRING, ciphertext OCTET STRING }, which is
 * what OpenSSL's SM2 decryption takes. */
static int sm2_raw_to_der(const uint8_t *in, size_t n, uk_buf *der)
{
	uk_buf body;
	int rc = -1;

	uk_buf_init(&body, 0, 0);
	der_put_uint(&body, in + 1, EC_SCALAR_LEN);
	der_put_uint(&body, in + 1 + EC_SCALAR_LEN, EC_SCALAR_LEN);
	uk_tlv_put(&body, 0x04, in + EC_POINT_LEN, SM2_C3_LEN);
	uk_tlv_put(&body, 0x04, in + EC_POINT_LEN + SM2_C3_LEN, n - EC_POINT_LEN - SM2_C3_LEN);
	if (!body.failed)
		rc = uk_tlv_put(der, 0x30, body.data, body.len);
	uk_buf_free(&body);
	return rc;
}

/* 11: SM2 decryption (GM/T 0003.4 §7.1) of raw C1 || C3 || C2, C1 uncompressed. A point
 * off the curve or a C3 that does not match is bad input. */
static int mech_sm2_decrypt(EVP_PKEY *key, const uint8_t *in, size_t n, uk_buf *out)
{
	EVP_PKEY_CTX *ctx = NULL;
	uk_buf der;
	int rc = UKT_MECH_BAD_INPUT;

	uk_buf_init(&der, 0, 0);
	if (in[0] != 0x04)
		goto out;
	rc = UKT_MECH_FAIL;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (ctx == NULL || EVP_PKEY_decrypt_init(ctx) != 1 || sm2_raw_to_der(in, n, &der) != 0)
		goto out;
	rc = pkey_decrypt(ctx, der.data, der.len, out);
out:
	EVP_PKEY_CTX_free(ctx);
	uk_buf_free(&der);
	return rc;
}

/* RSA decryption with a padding and, for OAEP, hash and MGF1 hash (label empty). */
static int rsa_decrypt(EVP_PKEY *key, int padding, const EVP_MD *md, const uint8_t *in,
                       size_t n, uk_buf *out)
{
	EVP_PKEY_CTX *ctx = rsa_ctx(key, 1, padding);
	int rc = UKT_MECH_FAIL;

	if (ctx == NULL)
		goto out;
	if (md != NULL && (EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) != 1 ||
	                   EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) != 1))
		goto out;
	rc = pkey_decrypt(ctx, in, n, out);
out:
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

/* 12: RSAES-PKCS1-v1_5 (PKCS #1 v2.2 §7.2.2), PKCS #11 CKM_RSA_PKCS. */
static int mech_rsa_dec_pkcs(EVP_PKEY *key, const uint8_t *in, size_t n, uk_buf *out)
{
	return rsa_decrypt(key, RSA_PKCS1_PADDING, NULL, in, n, out);
}

/* 13: RSAES-OAEP (PKCS #1 v2.2 §7.1.2), SHA-1 and MGF1-SHA-1, empty label. */
static int mech_rsa_dec_oaep1(EVP_PKEY *key, const uint8_t *in, size_t n, uk_buf *out)
{
	return rsa_decrypt(key, RSA_PKCS1_OAEP_PADDING, EVP_sha1(), in, n, out);
}

/* 14: RSAES-OAEP, SHA-256 and MGF1-SHA-256, empty label. */
static int mech_rsa_dec_oaep256(EVP_PKEY *key, const uint8_t *in, size_t n, uk_buf *out)
{
	return rsa_decrypt(key, RSA_PKCS1_OAEP_PADDING, EVP_sha256(), in, n, out);
}

static const ukt_mech mech_table[] = {
	{ 0x01, UKT_PSO_SIGN, UKT_ALG_SM2, 32, 32, NULL, mech_sm2_sign },
	{ 0x02, UKT_PSO_SIGN, UKT_ALG_P256, 20, 64, NULL, mech_ecdsa },
	{ 0x03, UKT_PSO_SIGN, UKT_ALG_RSA2048, 1, RSA_PKCS1_MAX, NULL, mech_rsa_pkcs_di },
	{ 0x04, UKT_PSO_SIGN, UKT_ALG_RSA2048, 32, 64, pss_len_ok, mech_rsa_pss },
	{ 0x05, UKT_PSO_SIGN, UKT_ALG_RSA2048, 1, RSA_PKCS1_MAX, NULL, mech_rsa_pkcs_raw },
	{ 0x11, UKT_PSO_DECIPHER, UKT_ALG_SM2, SM2_CT_MIN, 65535, NULL, mech_sm2_decrypt },
	{ 0x12, UKT_PSO_DECIPHER, UKT_ALG_RSA2048, UKT_RSA_K, UKT_RSA_K, NULL, mech_rsa_dec_pkcs },
	{ 0x13, UKT_PSO_DECIPHER, UKT_ALG_RSA2048, UKT_RSA_K, UKT_RSA_K, NULL, mech_rsa_dec_oaep1 },
	{ 0x14, UKT_PSO_DECIPHER, UKT_ALG_RSA2048, UKT_RSA_K, UKT_RSA_K, NULL, mech_rsa_dec_oaep256 },
};

const ukt_mech *ukt_mech_find(uint8_t id, uint8_t op)
{
	size_t i;

	for (i = 0; i < sizeof(mech_table) / sizeof(mech_table[0]); i++)
		if (mech_table[i].id == id && mech_table[i].op == op)
			return &mech_table[i];
	return NULL;
}
