/* ukey conformance: independent crypto checks on OpenSSL 3 (EVP and EC point arithmetic),
 * never through libukey-token or uk_crypto, so the code under test does not check itself. */
#include "conf.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

/* "1234567812345678": the default distinguishing ID of GM/T 0009 §10. */
static const uint8_t conf_sm2_id[16] = "1234567812345678";

EVP_PKEY *conf_sm2_public(const uint8_t pub[65])
{
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
	EVP_PKEY *key = NULL;
	char group[] = "SM2";

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pub, 65);
	params[2] = OSSL_PARAM_construct_end();
	if (pctx == NULL || EVP_PKEY_fromdata_init(pctx) != 1 ||
	    EVP_PKEY_fromdata(pctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
		key = NULL;
	EVP_PKEY_CTX_free(pctx);
	return key;
}

int conf_sm2_point_valid(const uint8_t pub[65])
{
	EVP_PKEY *key;
	EVP_PKEY_CTX *cctx = NULL;
	int ok = 0;

	if (pub[0] != 0x04)
		return 0;
	key = conf_sm2_public(pub);
	if (key == NULL)
		return 0;
	cctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	/* SP 800-56A 5.6.2.3.3 full public key validation: on the curve, not infinity, order */
	ok = cctx != NULL && EVP_PKEY_public_check(cctx) == 1;
	EVP_PKEY_CTX_free(cctx);
	EVP_PKEY_free(key);
	return ok;
}

int conf_sm2_pair_matches(const uint8_t d[32], const uint8_t pub[65])
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_sm2);
	EC_POINT *q = NULL;
	BIGNUM *k = BN_bin2bn(d, 32, NULL);
	uint8_t out[65];
	int ok = 0;

	if (g == NULL || k == NULL)
		goto out;
	q = EC_POINT_new(g);
	if (q == NULL || EC_POINT_mul(g, q, k, NULL, NULL, NULL) != 1 ||
	    EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, out, sizeof(out), NULL) != 65)
		goto out;
	ok = memcmp(out, pub, 65) == 0;
out:
	BN_clear_free(k);
	EC_POINT_free(q);
	EC_GROUP_free(g);
	return ok;
}

static int rs_to_der(const uint8_t sig[64], unsigned char **der)
{
	ECDSA_SIG *s = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, 32, NULL), *ss = BN_bin2bn(sig + 32, 32, NULL);
	int n = -1;

	if (s == NULL || r == NULL || ss == NULL || ECDSA_SIG_set0(s, r, ss) != 1) {
		BN_free(r);
		BN_free(ss);
		goto out;
	}
	n = i2d_ECDSA_SIG(s, der);
out:
	ECDSA_SIG_free(s);
	return n;
}

int conf_sm2_verify_msg(const uint8_t pub[65], const void *msg, size_t n, const uint8_t sig[64])
{
	EVP_PKEY *key = conf_sm2_public(pub);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *der = NULL;
	int derlen = rs_to_der(sig, &der), ok = 0;

	if (key == NULL || md == NULL || derlen <= 0)
		goto out;
	pctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (pctx == NULL || EVP_PKEY_CTX_set1_id(pctx, conf_sm2_id, sizeof(conf_sm2_id)) != 1)
		goto out;
	EVP_MD_CTX_set_pkey_ctx(md, pctx);
	if (EVP_DigestVerifyInit(md, NULL, EVP_sm3(), NULL, key) != 1)
		goto out;
	ok = EVP_DigestVerify(md, der, (size_t)derlen, msg, n) == 1;
out:
	OPENSSL_free(der);
	EVP_MD_CTX_free(md);
	EVP_PKEY_CTX_free(pctx);
	EVP_PKEY_free(key);
	return ok;
}

static void put_bn(EVP_MD_CTX *md, const BIGNUM *v)
{
	uint8_t b[32];

	UK_CHECK(BN_bn2binpad(v, b, sizeof(b)) == 32);
	UK_CHECK(EVP_DigestUpdate(md, b, sizeof(b)) == 1);
}

/* Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA), GM/T 0003.2 §5.5, with the curve
 * parameters taken from OpenSSL's own SM2 group. */
static void sm2_z(const uint8_t pub[65], uint8_t z[32])
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_sm2);
	BIGNUM *p = BN_new(), *a = BN_new(), *b = BN_new(), *x = BN_new(), *y = BN_new();
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	const uint8_t entl[2] = { 0x00, 0x80 };         /* 16 bytes = 128 bits */
	unsigned zlen = 0;

	UK_CHECK(g != NULL && p && a && b && x && y && md != NULL);
	UK_CHECK(EC_GROUP_get_curve(g, p, a, b, NULL) == 1);
	UK_CHECK(EC_POINT_get_affine_coordinates(g, EC_GROUP_get0_generator(g), x, y, NULL) == 1);
	UK_CHECK(EVP_DigestInit_ex(md, EVP_sm3(), NULL) == 1);
	UK_CHECK(EVP_DigestUpdate(md, entl, 2) == 1);
	UK_CHECK(EVP_DigestUpdate(md, conf_sm2_id, sizeof(conf_sm2_id)) == 1);
	put_bn(md, a);
	put_bn(md, b);
	put_bn(md, x);
	put_bn(md, y);
	UK_CHECK(EVP_DigestUpdate(md, pub + 1, 64) == 1);
	UK_CHECK(EVP_DigestFinal_ex(md, z, &zlen) == 1 && zlen == 32);
	EVP_MD_CTX_free(md);
	BN_free(p);
	BN_free(a);
	BN_free(b);
	BN_free(x);
	BN_free(y);
	EC_GROUP_free(g);
}

void conf_sm2_e(const uint8_t pub[65], const void *msg, size_t n, uint8_t e[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t z[32];
	unsigned len = 0;

	sm2_z(pub, z);
	UK_CHECK(md != NULL && EVP_DigestInit_ex(md, EVP_sm3(), NULL) == 1);
	UK_CHECK(EVP_DigestUpdate(md, z, sizeof(z)) == 1 && EVP_DigestUpdate(md, msg, n) == 1);
	UK_CHECK(EVP_DigestFinal_ex(md, e, &len) == 1 && len == 32);
	EVP_MD_CTX_free(md);
}
