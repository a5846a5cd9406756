/* token_sign: an SM2 signature made on the card verifies with OpenSSL EVP (GM/T 0003.2).
 * e = SM3(Z || M) is computed here with EVP SM3, Z from the curve parameters OpenSSL
 * publishes; that Z computation is first checked against the official vector
 * (GM/T 0003.5 Annex A.2, conformance/vectors/gm-vectors.txt). */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "token_util.h"

static ukt_host h;

/* value of "name = hex" in [section] of the vectors file; returns its length */
static size_t vector(const char *section, const char *name, uint8_t *out, size_t cap)
{
	char line[1024], want[64], cur[1024] = "";
	FILE *f = fopen(UKEY_GM_VECTORS, "r");
	long n = -1;
	size_t nl = strlen(name);

	UK_CHECK(f != NULL);
	snprintf(want, sizeof(want), "[%s]", section);
	while (n < 0 && fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '[')
			snprintf(cur, sizeof(cur), "%s", line);
		else if (strcmp(cur, want) == 0 && strncmp(line, name, nl) == 0 &&
		         strncmp(line + nl, " = ", 3) == 0)
			n = uk_hex_decode(line + nl + 3, out, cap);
	}
	fclose(f);
	UK_CHECK(n >= 0);
	return (size_t)n;
}

static void bn32(const BIGNUM *b, uint8_t out[32])
{
	UK_CHECK_EQ(BN_bn2binpad(b, out, 32), 32);
}

/* Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA), GM/T 0003.2 §5.5 */
static void compute_z(const uint8_t pub[65], const uint8_t *id, size_t idlen, uint8_t z[32])
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_sm2);
	BIGNUM *p = BN_new(), *a = BN_new(), *b = BN_new(), *x = BN_new(), *y = BN_new();
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t entl[2] = { (uint8_t)(idlen * 8 >> 8), (uint8_t)(idlen * 8) }, buf[32];
	unsigned zl = 0;

	UK_CHECK(g != NULL && p && a && b && x && y && md);
	UK_CHECK(EC_GROUP_get_curve(g, p, a, b, NULL) == 1);
	UK_CHECK(EC_POINT_get_affine_coordinates(g, EC_GROUP_get0_generator(g), x, y, NULL) == 1);
	UK_CHECK(EVP_DigestInit_ex(md, EVP_sm3(), NULL) == 1);
	EVP_DigestUpdate(md, entl, 2);
	EVP_DigestUpdate(md, id, idlen);
	bn32(a, buf);
	EVP_DigestUpdate(md, buf, 32);
	bn32(b, buf);
	EVP_DigestUpdate(md, buf, 32);
	bn32(x, buf);
	EVP_DigestUpdate(md, buf, 32);
	bn32(y, buf);
	EVP_DigestUpdate(md, buf, 32);
	EVP_DigestUpdate(md, pub + 1, 64);
	UK_CHECK(EVP_DigestFinal_ex(md, z, &zl) == 1 && zl == 32);
	EVP_MD_CTX_free(md);
	BN_free(p); BN_free(a); BN_free(b); BN_free(x); BN_free(y);
	EC_GROUP_free(g);
}

static void sm3_concat(const uint8_t *a, size_t an, const uint8_t *b, size_t bn, uint8_t out[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned n = 0;

	UK_CHECK(md != NULL && EVP_DigestInit_ex(md, EVP_sm3(), NULL) == 1);
	EVP_DigestUpdate(md, a, an);
	EVP_DigestUpdate(md, b, bn);
	UK_CHECK(EVP_DigestFinal_ex(md, out, &n) == 1 && n == 32);
	EVP_MD_CTX_free(md);
}

static EVP_PKEY *sm2_public(const uint8_t pub[65])
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
	EVP_PKEY *key = NULL;

	UK_CHECK(bld != NULL && ctx != NULL);
	UK_CHECK(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "SM2", 0) == 1);
	UK_CHECK(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 65) == 1);
	params = OSSL_PARAM_BLD_to_param(bld);
	UK_CHECK(params != NULL);
	UK_CHECK(EVP_PKEY_fromdata_init(ctx) == 1);
	UK_CHECK(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

static size_t sig_to_der(const uint8_t rs[64], uint8_t *der)
{
	ECDSA_SIG *s = ECDSA_SIG_new();
	unsigned char *p = der;
	int n;

	UK_CHECK(s != NULL);
	UK_CHECK(ECDSA_SIG_set0(s, BN_bin2bn(rs, 32, NULL), BN_bin2bn(rs + 32, 32, NULL)) == 1);
	n = i2d_ECDSA_SIG(s, &p);
	UK_CHECK(n > 0 && n <= 80);
	ECDSA_SIG_free(s);
	return (size_t)n;
}

/* OpenSSL computes Z and e itself from the message and the ID. */
static int verify_message(EVP_PKEY *key, const uint8_t *id, size_t idlen, const uint8_t *msg,
                          size_t n, const uint8_t *der, size_t derlen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(key, NULL);
	int r;

	UK_CHECK(md != NULL && pctx != NULL);
	UK_CHECK(EVP_PKEY_CTX_set1_id(pctx, id, idlen) == 1);
	EVP_MD_CTX_set_pkey_ctx(md, pctx);
	UK_CHECK(EVP_DigestVerifyInit(md, NULL, EVP_sm3(), NULL, key) == 1);
	r = EVP_DigestVerify(md, der, derlen, msg, n);
	EVP_MD_CTX_free(md);
	EVP_PKEY_CTX_free(pctx);
	return r;
}

/* Raw verification over e. */
static int verify_e(EVP_PKEY *key, const uint8_t e[32], const uint8_t *der, size_t derlen)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	int r;

	UK_CHECK(ctx != NULL && EVP_PKEY_verify_init(ctx) == 1);
	r = EVP_PKEY_verify(ctx, der, derlen, e, 32);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

int main(void)
{
	uint8_t vx[32], vy[32], vpub[65], id[64], msg[64], vz[32], z[32], e[32], pub[65];
	uint8_t sig[64], sig2[64], der[80];
	size_t idlen, msglen, derlen;
	char *dir = tu_tmpdir();
	ukt_card *card;
	EVP_PKEY *key;

	/* 1. our Z against the official vector */
	UK_CHECK_EQ(vector("sm2-sign", "x", vx, 32), 32);
	UK_CHECK_EQ(vector("sm2-sign", "y", vy, 32), 32);
	idlen = vector("sm2-sign", "user_id", id, sizeof(id));
	msglen = vector("sm2-sign", "msg", msg, sizeof(msg));
	UK_CHECK_EQ(vector("sm2-sign", "z", vz, 32), 32);
	vpub[0] = 4;
	memcpy(vpub + 1, vx, 32);
	memcpy(vpub + 33, vy, 32);
	compute_z(vpub, id, idlen, z);
	UK_CHECK_MEM(z, vz, 32);

	/* 2. a key pair generated on the card signs e = SM3(Z || M) */
	card = tu_card_logged_in(dir, &h);
	UK_CHECK_EQ(ukt_host_create_container(&h, "sign"), 0x9000);
	UK_CHECK_EQ(ukt_host_generate(&h, 0, 0x01, pub), 0x9000);
	compute_z(pub, id, idlen, z);
	sm3_concat(z, 32, msg, msglen, e);
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e, sig), 0x9000);
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e, sig2), 0x9000);
	UK_CHECK(memcmp(sig, sig2, 64) != 0);                    /* fresh k every time */

	/* 3. OpenSSL accepts it, over the message and over e; and refuses a changed one */
	key = sm2_public(pub);
	derlen = sig_to_der(sig, der);
	UK_CHECK_EQ(verify_message(key, id, idlen, msg, msglen, der, derlen), 1);
	UK_CHECK_EQ(verify_e(key, e, der, derlen), 1);
	derlen = sig_to_der(sig2, der);
	UK_CHECK_EQ(verify_message(key, id, idlen, msg, msglen, der, derlen), 1);
	msg[0] ^= 1;
	UK_CHECK(verify_message(key, id, idlen, msg, msglen, der, derlen) != 1);
	e[5] ^= 1;
	UK_CHECK(verify_e(key, e, der, derlen) != 1);
	EVP_PKEY_free(key);

	/* 4. the key survives re-opening the card */
	ukt_card_close(card);
	card = tu_card_logged_in(dir, &h);
	e[5] ^= 1;
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e, sig), 0x9000);
	key = sm2_public(pub);
	derlen = sig_to_der(sig, der);
	UK_CHECK_EQ(verify_e(key, e, der, derlen), 1);
	EVP_PKEY_free(key);
	ukt_card_close(card);
	tu_rmdir(dir);
	free(dir);
	return uk_test_done("token_sign");
}
