/* ukey common: SM2 / SM3 / SM4 on OpenSSL 3 EVP (see uk_crypto.h).
 * Everything goes through EVP, EVP_KDF, EVP_MAC and provider key parameters; the only
 * non-EVP pieces are the ECDSA_SIG codec (DER <-> r||s, not deprecated in 3.0) and the
 * BIGNUMs OpenSSL's parameter interface uses. */
#include "uk_crypto.h"
#include "uk_wipe.h"

#include <limits.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

const uint8_t uk_sm2_default_id[16] = {
	'1', '2', '3', '4', '5', '6', '7', '8', '1', '2', '3', '4', '5', '6', '7', '8',
};

/* Curve parameters a, b, xG, yG of the SM2 recommended curve (GM/T 0003.5 §2),
 * in the order Z_A hashes them (GM/T 0003.2 §5.5). */
static const uint8_t sm2_curve_abg[4 * 32] = {
	/* a */
	0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFC,
	/* b */
	0x28, 0xE9, 0xFA, 0x9E, 0x9D, 0x9F, 0x5E, 0x34, 0x4D, 0x5A, 0x9E, 0x4B, 0xCF, 0x65, 0x09, 0xA7,
	0xF3, 0x97, 0x89, 0xF5, 0x15, 0xAB, 0x8F, 0x92, 0xDD, 0xBC, 0xBD, 0x41, 0x4D, 0x94, 0x0E, 0x93,
	/* xG */
	0x32, 0xC4, 0xAE, 0x2C, 0x1F, 0x19, 0x81, 0x19, 0x5F, 0x99, 0x04, 0x46, 0x6A, 0x39, 0xC9, 0x94,
	0x8F, 0xE3, 0x0B, 0xBF, 0xF2, 0x66, 0x0B, 0xE1, 0x71, 0x5A, 0x45, 0x89, 0x33, 0x4C, 0x74, 0xC7,
	/* yG */
	0xBC, 0x37, 0x36, 0xA2, 0xF4, 0xF6, 0x77, 0x9C, 0x59, 0xBD, 0xCE, 0xE3, 0x6B, 0x69, 0x21, 0x53,
	0xD0, 0xA9, 0x87, 0x7C, 0xC6, 0x2A, 0x47, 0x40, 0x02, 0xDF, 0x32, 0xE5, 0x21, 0x39, 0xF0, 0xA0,
};

/* ---- SM3, HMAC-SM3, KDF ------------------------------------------------------------ */

/* GB/T 32905. */
int uk_sm3(const void *p, size_t n, uint8_t out[UK_SM3_LEN])
{
	size_t len = 0;

	if (p == NULL && n > 0)
		return -1;
	if (!EVP_Q_digest(NULL, "SM3", NULL, n ? p : "", n, out, &len) || len != UK_SM3_LEN)
		return -1;
	return 0;
}

/* HMAC (RFC 2104) with SM3, as GM/T 0016 / GB/T 15852.2 use it. */
int uk_hmac_sm3(const uint8_t *key, size_t klen, const void *p, size_t n,
                uint8_t out[UK_SM3_LEN])
{
	static const uint8_t empty[1];
	size_t len = 0;

	if ((key == NULL && klen > 0) || (p == NULL && n > 0))
		return -1;
	if (EVP_Q_mac(NULL, "HMAC", NULL, "SM3", NULL, klen ? key : empty, klen,
	              n ? p : empty, n, out, UK_SM3_LEN, &len) == NULL || len != UK_SM3_LEN)
		return -1;
	return 0;
}

/* GM/T 0003.4 §5.4.3: Ha_i = SM3(Z || ct), ct a 32-bit big-endian counter from 1.
 * This is exactly ANSI X9.63's KDF with an empty SharedInfo, which OpenSSL provides
 * as "X963KDF"; the unit test checks it against the formula computed by hand. */
int uk_sm3_kdf(const uint8_t *z, size_t zlen, uint8_t *out, size_t outlen)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[3];
	int rc = -1;

	if (z == NULL || zlen == 0 || out == NULL || outlen == 0)
		return -1;
	kdf = EVP_KDF_fetch(NULL, "X963KDF", NULL);
	if (kdf == NULL)
		goto out;
	kctx = EVP_KDF_CTX_new(kdf);
	if (kctx == NULL)
		goto out;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SM3", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)z, zlen);
	params[2] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, outlen, params) == 1)
		rc = 0;
out:
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return rc;
}

/* ---- SM2 Z and e ---------------------------------------------------------------------- */

static int is_uncompressed_point(const uint8_t *pub)
{
	return pub != NULL && pub[0] == 0x04;
}

/* GM/T 0003.2 §5.5: Z_A = H256(ENTL_A || ID_A || a || b || xG || yG || xA || yA),
 * ENTL_A the bit length of ID_A as two bytes big endian. */
int uk_sm2_compute_z(const uint8_t pub[UK_SM2_POINT_LEN], const uint8_t *id, size_t idlen,
                     uint8_t z[UK_SM3_LEN])
{
	EVP_MD_CTX *md = NULL;
	uint8_t entl[2];
	int rc = -1;

	if (id == NULL) {
		id = uk_sm2_default_id;
		idlen = sizeof(uk_sm2_default_id);
	}
	if (!is_uncompressed_point(pub) || idlen > 0xFFFF / 8)
		return -1;
	entl[0] = (uint8_t)((idlen * 8) >> 8);
	entl[1] = (uint8_t)(idlen * 8);
	md = EVP_MD_CTX_new();
	if (md == NULL)
		goto out;
	if (EVP_DigestInit_ex2(md, EVP_sm3(), NULL) != 1 ||
	    EVP_DigestUpdate(md, entl, 2) != 1 ||
	    (idlen > 0 && EVP_DigestUpdate(md, id, idlen) != 1) ||
	    EVP_DigestUpdate(md, sm2_curve_abg, sizeof(sm2_curve_abg)) != 1 ||
	    EVP_DigestUpdate(md, pub + 1, UK_SM2_POINT_LEN - 1) != 1 ||
	    EVP_DigestFinal_ex(md, z, NULL) != 1)
		goto out;
	rc = 0;
out:
	EVP_MD_CTX_free(md);
	return rc;
}

/* GM/T 0003.2 §6.1 A1-A2: e = H256(Z_A || M). */
int uk_sm2_compute_e(const uint8_t pub[UK_SM2_POINT_LEN], const uint8_t *id, size_t idlen,
                     const void *msg, size_t n, uint8_t e[UK_SM3_LEN])
{
	EVP_MD_CTX *md = NULL;
	uint8_t z[UK_SM3_LEN];
	int rc = -1;

	if (msg == NULL && n > 0)
		return -1;
	if (uk_sm2_compute_z(pub, id, idlen, z) != 0)
		return -1;
	md = EVP_MD_CTX_new();
	if (md == NULL)
		goto out;
	if (EVP_DigestInit_ex2(md, EVP_sm3(), NULL) != 1 ||
	    EVP_DigestUpdate(md, z, sizeof(z)) != 1 ||
	    (n > 0 && EVP_DigestUpdate(md, msg, n) != 1) ||
	    EVP_DigestFinal_ex(md, e, NULL) != 1)
		goto out;
	rc = 0;
out:
	EVP_MD_CTX_free(md);
	return rc;
}

/* ---- SM2 keys --------------------------------------------------------------------------- */

EVP_PKEY *uk_sm2_generate(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
}

/* Build an SM2 key from a point and optionally a private scalar through the provider's
 * fromdata; the provider decodes the point with EC_POINT_oct2point, which refuses points
 * that are not on the curve. */
static EVP_PKEY *sm2_fromdata(const uint8_t *pub, const BIGNUM *priv)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
	int sel = priv != NULL ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY;

	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "SM2", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub,
	                                      UK_SM2_POINT_LEN) ||
	    (priv != NULL && !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv)))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, sel, params) != 1)
		key = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);  /* its copy of a secure BIGNUM lives in secure memory,
	                           * which OSSL_PARAM_free clears */
	OSSL_PARAM_BLD_free(bld);
	return key;
}

/* Checks the point lies on the curve and is not the point at infinity
 * (EVP_PKEY_public_check: SP 800-56A partial validation). */
EVP_PKEY *uk_sm2_from_public(const uint8_t pub[UK_SM2_POINT_LEN])
{
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key;

	if (!is_uncompressed_point(pub))
		return NULL;
	key = sm2_fromdata(pub, NULL);
	if (key == NULL)
		return NULL;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (ctx == NULL || EVP_PKEY_public_check(ctx) != 1) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	return key;
}

/* P = [d]G. The provider interface cannot derive the point from the scalar in 3.0
 * (fromdata stores what it is given), so this is the one place using EC_POINT
 * arithmetic; EC_GROUP/EC_POINT_mul are not deprecated, only EC_KEY is. */
static int sm2_point_from_scalar(const BIGNUM *d, uint8_t pub[UK_SM2_POINT_LEN])
{
	EC_GROUP *group = NULL;
	EC_POINT *p = NULL;
	BN_CTX *bn = NULL;
	int rc = -1;

	group = EC_GROUP_new_by_curve_name(NID_sm2);
	bn = BN_CTX_secure_new();
	if (group == NULL || bn == NULL)
		goto out;
	p = EC_POINT_new(group);
	if (p == NULL || EC_POINT_mul(group, p, d, NULL, NULL, bn) != 1 ||
	    EC_POINT_point2oct(group, p, POINT_CONVERSION_UNCOMPRESSED, pub, UK_SM2_POINT_LEN,
	                       bn) != UK_SM2_POINT_LEN)
		goto out;
	rc = 0;
out:
	EC_POINT_free(p);
	BN_CTX_free(bn);
	EC_GROUP_free(group);
	return rc;
}

/* GM/T 0003.1 §6.1: d in [1, n-2]. */
static int sm2_scalar_valid(const BIGNUM *d)
{
	static const uint8_t n_minus_1[32] = {
		0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
		0xFF, 0xFF, 0x72, 0x03, 0xDF, 0x6B, 0x21, 0xC6, 0x05, 0x2B, 0x53, 0xBB, 0xF4, 0x09,
		0x39, 0xD5, 0x41, 0x22,
	};
	BIGNUM *lim = BN_bin2bn(n_minus_1, sizeof(n_minus_1), NULL);
	int ok = lim != NULL && !BN_is_zero(d) && BN_cmp(d, lim) < 0;

	BN_free(lim);
	return ok;
}

EVP_PKEY *uk_sm2_from_private(const uint8_t d[UK_SM2_PRIV_LEN])
{
	uint8_t pub[UK_SM2_POINT_LEN];
	EVP_PKEY *key = NULL;
	BIGNUM *bn;

	bn = BN_secure_new();
	if (bn == NULL || BN_bin2bn(d, UK_SM2_PRIV_LEN, bn) == NULL || !sm2_scalar_valid(bn))
		goto out;
	if (sm2_point_from_scalar(bn, pub) != 0)
		goto out;
	key = sm2_fromdata(pub, bn);
out:
	BN_clear_free(bn);
	return key;
}

int uk_sm2_get_public(const EVP_PKEY *key, uint8_t pub[UK_SM2_POINT_LEN])
{
	size_t len = 0;

	if (key == NULL ||
	    EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub,
	                                    UK_SM2_POINT_LEN, &len) != 1 ||
	    len != UK_SM2_POINT_LEN || pub[0] != 0x04)
		return -1;
	return 0;
}

int uk_sm2_get_private(const EVP_PKEY *key, uint8_t d[UK_SM2_PRIV_LEN])
{
	BIGNUM *bn = NULL;
	int rc = -1;

	if (key == NULL || EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &bn) != 1)
		goto out;
	if (BN_bn2binpad(bn, d, UK_SM2_PRIV_LEN) != UK_SM2_PRIV_LEN)
		goto out;
	rc = 0;
out:
	BN_clear_free(bn);
	return rc;
}

/* ---- signature encoding --------------------------------------------------------------- */

/* Strict DER only: the input must be exactly what i2d_ECDSA_SIG would produce. */
int uk_sig_der_to_rs(const uint8_t *der, size_t derlen, uint8_t *rs, size_t half)
{
	const uint8_t *p = der;
	const BIGNUM *r, *s;
	ECDSA_SIG *sig = NULL;
	uint8_t *re = NULL;
	int rc = -1, relen;

	if (der == NULL || rs == NULL || half == 0 || half > INT_MAX || derlen > LONG_MAX)
		return -1;
	sig = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
	if (sig == NULL || (size_t)(p - der) != derlen)
		goto out;
	relen = i2d_ECDSA_SIG(sig, &re);
	if (relen <= 0 || (size_t)relen != derlen || memcmp(re, der, derlen) != 0)
		goto out;
	ECDSA_SIG_get0(sig, &r, &s);
	if (BN_is_negative(r) || BN_is_negative(s) ||
	    BN_bn2binpad(r, rs, (int)half) < 0 || BN_bn2binpad(s, rs + half, (int)half) < 0)
		goto out;
	rc = 0;
out:
	OPENSSL_free(re);
	ECDSA_SIG_free(sig);
	return rc;
}

int uk_sig_rs_to_der(const uint8_t *rs, size_t half, uint8_t *der, size_t *derlen)
{
	ECDSA_SIG *sig = NULL;
	BIGNUM *r = NULL, *s = NULL;
	uint8_t *p = der;
	int rc = -1, len;

	if (rs == NULL || der == NULL || derlen == NULL || half == 0 || half > INT_MAX)
		return -1;
	r = BN_bin2bn(rs, (int)half, NULL);
	s = BN_bin2bn(rs + half, (int)half, NULL);
	sig = ECDSA_SIG_new();
	if (r == NULL || s == NULL || sig == NULL || ECDSA_SIG_set0(sig, r, s) != 1)
		goto out;
	r = s = NULL;  /* owned by sig now */
	len = i2d_ECDSA_SIG(sig, NULL);
	if (len <= 0 || (size_t)len > *derlen)
		goto out;
	if (i2d_ECDSA_SIG(sig, &p) != len)
		goto out;
	*derlen = (size_t)len;
	rc = 0;
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	return rc;
}

/* ---- SM2 signature over e ------------------------------------------------------------- */

/* On an SM2 key, OpenSSL's EVP_PKEY_sign takes its input as the digest e and runs
 * GM/T 0003.2 §6.1 A3-A7 (no Z): checked against the official vector in the tests. */
int uk_sm2_sign_e(EVP_PKEY *key, const uint8_t e[UK_SM3_LEN], uint8_t sig[UK_SM2_SIG_LEN])
{
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t der[80];
	size_t derlen = sizeof(der);
	int rc = -1;

	if (key == NULL || e == NULL || sig == NULL)
		return -1;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (ctx == NULL || EVP_PKEY_sign_init(ctx) != 1 ||
	    EVP_PKEY_sign(ctx, der, &derlen, e, UK_SM3_LEN) != 1)
		goto out;
	rc = uk_sig_der_to_rs(der, derlen, sig, UK_SM2_SIG_LEN / 2);
out:
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

int uk_sm2_verify_e(EVP_PKEY *key, const uint8_t e[UK_SM3_LEN],
                    const uint8_t sig[UK_SM2_SIG_LEN])
{
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t der[80];
	size_t derlen = sizeof(der);
	int rc = -1, v;

	if (key == NULL || e == NULL || sig == NULL)
		return -1;
	if (uk_sig_rs_to_der(sig, UK_SM2_SIG_LEN / 2, der, &derlen) != 0)
		return -1;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (ctx == NULL || EVP_PKEY_verify_init(ctx) != 1)
		goto out;
	v = EVP_PKEY_verify(ctx, der, derlen, e, UK_SM3_LEN);
	rc = v == 1 ? 1 : v == 0 ? 0 : -1;
out:
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

/* ---- ECDH on the SM2 curve --------------------------------------------------------- */

/* OpenSSL's ECDH exchange is implemented by the "EC" key manager only (an "SM2" key
 * cannot be used with EVP_PKEY_derive), so these keys are type EC with group SM2. */
EVP_PKEY *uk_ecdh_sm2_generate(void)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "SM2");
}

/* EVP_PKEY_get1_encoded_public_key rather than the provider parameter: in a process where
 * an ENGINE is the default for EC (`openssl -engine pkcs11`, or libp11 loaded from
 * openssl.cnf, whose ENGINE_register_all_complete makes it so), "EC" keys are legacy keys,
 * which have no OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY; this call serves both kinds. */
int uk_ecdh_sm2_public(const EVP_PKEY *key, uint8_t pub[UK_SM2_POINT_LEN])
{
	unsigned char *enc = NULL;
	size_t n;
	int rc = -1;

	if (key == NULL)
		return -1;
	n = EVP_PKEY_get1_encoded_public_key((EVP_PKEY *)key, &enc);
	if (n == UK_SM2_POINT_LEN && enc[0] == 0x04) {
		memcpy(pub, enc, UK_SM2_POINT_LEN);
		rc = 0;
	}
	OPENSSL_free(enc);
	return rc;
}

/* The peer's point as an "EC" key on the SM2 curve. OpenSSL 3.0's EC key manager refuses
 * to import (fromdata) anything on the SM2 curve, though it generates such keys, so a key
 * is generated the same way as our ephemeral one (so it is of the same kind, provider or
 * ENGINE-legacy: derive refuses to mix them) and the point is then set on it; only its
 * public part is used. The point decoding (EC_POINT_oct2point) refuses points that are not
 * on the curve. */
static EVP_PKEY *ecdh_peer_key(const uint8_t pub[UK_SM2_POINT_LEN])
{
	EVP_PKEY *key;

	if (!is_uncompressed_point(pub))
		return NULL;
	key = uk_ecdh_sm2_generate();
	if (key != NULL && EVP_PKEY_set1_encoded_public_key(key, pub, UK_SM2_POINT_LEN) != 1) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	return key;
}

/* Cofactor h = 1 on the SM2 curve, so plain ECDH (SEC 1 §3.3.1) gives x of [d]Q.
 * EVP_PKEY_derive_set_peer also runs EVP_PKEY_public_check on the peer. */
int uk_ecdh_sm2_derive(EVP_PKEY *priv, const uint8_t peer[UK_SM2_POINT_LEN], uint8_t x[32])
{
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk;
	size_t len = 32;
	int rc = -1;

	if (priv == NULL || x == NULL)
		return -1;
	pk = ecdh_peer_key(peer);
	if (pk == NULL)
		return -1;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
	if (ctx == NULL || EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer(ctx, pk) != 1 || EVP_PKEY_derive(ctx, x, &len) != 1 ||
	    len != 32)
		goto out;
	rc = 0;
out:
	if (rc != 0)
		uk_wipe(x, 32);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
	return rc;
}

/* ---- SM4 ------------------------------------------------------------------------------ */

static int sm4_run(const char *name, int encrypt, const uint8_t *key, const uint8_t *iv,
                   const uint8_t *in, size_t n, uint8_t *out)
{
	EVP_CIPHER *c = NULL;
	EVP_CIPHER_CTX *ctx = NULL;
	int rc = -1, len;
	size_t done = 0, chunk;

	if (key == NULL || (n > 0 && (in == NULL || out == NULL)) || n % UK_SM4_BLOCK != 0)
		return -1;
	c = EVP_CIPHER_fetch(NULL, name, NULL);
	ctx = EVP_CIPHER_CTX_new();
	if (c == NULL || ctx == NULL ||
	    EVP_CipherInit_ex2(ctx, c, key, iv, encrypt ? 1 : 0, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1)
		goto out;
	/* EVP_CipherUpdate takes an int length; exact aliasing of in and out is allowed. */
	while (done < n) {
		chunk = n - done > (1u << 30) ? (1u << 30) : n - done;
		if (EVP_CipherUpdate(ctx, out + done, &len, in + done, (int)chunk) != 1 ||
		    (size_t)len != chunk)
			goto out;
		done += chunk;
	}
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);  /* cleanses the key schedule */
	EVP_CIPHER_free(c);
	return rc;
}

int uk_sm4_ecb(int encrypt, const uint8_t key[UK_SM4_KEY_LEN], const uint8_t *in, size_t n,
               uint8_t *out)
{
	return sm4_run("SM4-ECB", encrypt, key, NULL, in, n, out);
}

int uk_sm4_cbc(int encrypt, const uint8_t key[UK_SM4_KEY_LEN], const uint8_t iv[UK_SM4_BLOCK],
               const uint8_t *in, size_t n, uint8_t *out)
{
	if (iv == NULL)
		return -1;
	return sm4_run("SM4-CBC", encrypt, key, iv, in, n, out);
}

/* ---- randomness ----------------------------------------------------------------------- */

int uk_random(void *p, size_t n)
{
	uint8_t *q = p;
	size_t chunk;

	if (p == NULL && n > 0)
		return -1;
	while (n > 0) {
		chunk = n > (size_t)INT_MAX ? (size_t)INT_MAX : n;
		if (RAND_bytes(q, (int)chunk) != 1)
			return -1;
		q += chunk;
		n -= chunk;
	}
	return 0;
}
