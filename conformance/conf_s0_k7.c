/* SPEC S0-K7: signing private keys are generated inside the device. GENERATE ASYMMETRIC KEY
 * PAIR (ISO 7816-8 §5.1, docs/apdu.md) returns only a public key, 7F49 { 86 41 04||X||Y },
 * a valid point on the SM2 curve (checked with OpenSSL), and no host input but the algorithm
 * goes in; two generations give different keys, the new one replacing the old (read public
 * key and GET DATA 02 agree). Generation needs the user PIN (6982 without).
 * The same holds for the interop algorithms (docs/apdu.md GENERATE): 02 ECDSA P-256 answers
 * 7F49 { 86 41 point } with a point OpenSSL accepts on P-256, 03 RSA-2048 answers
 * 7F49 { 81 <256-byte modulus>, 82 010001 } with a 2048-bit modulus OpenSSL loads. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "conf.h"
#include "uk_tlv.h"

static int p256_point_valid(const uint8_t pub[65])
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL), *cctx = NULL;
	EVP_PKEY *key = NULL;
	int ok = 0;

	if (bld == NULL || ctx == NULL || pub[0] != 0x04 ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 65) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	cctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	ok = cctx != NULL && EVP_PKEY_public_check(cctx) == 1;
out:
	EVP_PKEY_CTX_free(cctx);
	EVP_PKEY_free(key);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return ok;
}

/* GENERATE alg at kr with an extended Le; the answer must be exactly one 7F49 template. */
static void generate_alg(conf_ctx *c, uint8_t kr, uint8_t alg, uk_tlv *tpl)
{
	const uint8_t payload[3] = { 0x80, 0x01, alg };
	const uint8_t *p = c->h.resp;

	UK_CHECK_EQ(ukt_host_secured(&c->h, 0x00, 0x46, 0x80, kr, payload, 3, 0, 65536), 0x9000);
	UK_CHECK_EQ(uk_tlv_next(&p, c->h.resp + c->h.rlen, tpl), 1);
	UK_CHECK(tpl->tag == 0x7F49 && p == c->h.resp + c->h.rlen);
}

static void generate_p256(conf_ctx *c, uint8_t kr, uint8_t pub[65])
{
	uk_tlv tpl, pt;

	generate_alg(c, kr, 0x02, &tpl);
	UK_CHECK_EQ(uk_tlv_find(tpl.value, tpl.len, 0x86, &pt), 1);
	UK_CHECK(pt.len == 65 && tpl.len == 67);
	memcpy(pub, pt.value, 65);
	UK_CHECK(p256_point_valid(pub));
}

/* 81 n (2048 bits, odd), 82 e = 65537, nothing else; OpenSSL loads it as a 2048-bit key. */
static void generate_rsa(conf_ctx *c, uint8_t kr, uint8_t n[256])
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *key = NULL;
	BIGNUM *bn, *be;
	const uint8_t *q;
	uk_tlv tpl, m, e;

	generate_alg(c, kr, 0x03, &tpl);
	q = tpl.value;
	UK_CHECK_EQ(uk_tlv_next(&q, tpl.value + tpl.len, &m), 1);
	UK_CHECK_EQ(uk_tlv_next(&q, tpl.value + tpl.len, &e), 1);
	UK_CHECK(q == tpl.value + tpl.len && m.tag == 0x81 && m.len == 256 && e.tag == 0x82);
	UK_CHECK(e.len == 3 && memcmp(e.value, "\x01\x00\x01", 3) == 0);
	UK_CHECK((m.value[0] & 0x80) != 0 && (m.value[255] & 1) != 0);
	memcpy(n, m.value, 256);
	bn = BN_bin2bn(m.value, 256, NULL);
	be = BN_bin2bn(e.value, 3, NULL);
	UK_CHECK(bld != NULL && ctx != NULL && bn != NULL && be != NULL);
	UK_CHECK(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn));
	UK_CHECK(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be));
	params = OSSL_PARAM_BLD_to_param(bld);
	UK_CHECK(params != NULL && EVP_PKEY_fromdata_init(ctx) == 1);
	UK_CHECK(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1);
	UK_CHECK_EQ(EVP_PKEY_get_bits(key), 2048);
	EVP_PKEY_free(key);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
}

/* GET DATA 02 lists the RSA pair of container idx (usage 1) with alg 03 and modulus n. */
static void check_rsa_listed(conf_ctx *c, uint8_t idx, const uint8_t n[256])
{
	const uint8_t *p;
	uk_tlv a0, t, pair, m;
	uk_buf b;
	int found = 0;

	uk_buf_init(&b, 0, 0);
	UK_CHECK_EQ(conf_get_data(c, 0x02, &b), 0x9000);
	p = b.data;
	while (uk_tlv_next(&p, b.data + b.len, &a0) == 1) {
		UK_CHECK_EQ(uk_tlv_find(a0.value, a0.len, 0x80, &t), 1);
		if (t.value[0] != idx)
			continue;
		UK_CHECK_EQ(uk_tlv_find(a0.value, a0.len, 0xA5, &pair), 1);
		UK_CHECK_EQ(uk_tlv_find(pair.value, pair.len, 0x80, &t), 1);
		UK_CHECK(t.len == 1 && t.value[0] == 0x03);
		UK_CHECK_EQ(uk_tlv_find(pair.value, pair.len, 0x7F49, &t), 1);
		UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x81, &m), 1);
		UK_CHECK(m.len == 256 && memcmp(m.value, n, 256) == 0);
		found = 1;
	}
	UK_CHECK(found);
	uk_buf_free(&b);
}

/* P-256 at (idx, signing) and RSA-2048 at (idx, encryption), each generated twice. */
static void interop_algs(conf_ctx *c)
{
	uint8_t p1[65], p2[65], rd[65], n1[256], n2[256], alg, idx;

	idx = conf_create_container(c, "k7-interop");
	generate_p256(c, (uint8_t)(idx * 2), p1);
	generate_p256(c, (uint8_t)(idx * 2), p2);
	UK_CHECK(memcmp(p1, p2, 65) != 0);
	UK_CHECK_EQ(conf_listed_pair(c, idx, 0, &alg, rd), 1);
	UK_CHECK_EQ(alg, 0x02);
	UK_CHECK_MEM(rd, p2, 65);
	conf_say(c, "GENERATE alg 02: 7F49 { 86 41 point }, point valid on P-256 (OpenSSL), a new "
	         "key each time, GET DATA 02 lists alg 02 with the last point");
	generate_rsa(c, (uint8_t)(idx * 2 + 1), n1);
	generate_rsa(c, (uint8_t)(idx * 2 + 1), n2);
	UK_CHECK(memcmp(n1, n2, 256) != 0);
	check_rsa_listed(c, idx, n2);
	conf_say(c, "GENERATE alg 03: 7F49 { 81 <2048-bit n>, 82 010001 } (loaded by OpenSSL), a "
	         "new modulus each time, GET DATA 02 lists alg 03 with the last modulus");
}

int main(int argc, char **argv)
{
	static const char name[] = "conformance_S0-K7_keygen_inside";
	static const uint8_t payload[3] = { 0x80, 0x01, 0x01 };
	static conf_ctx c;
	uint8_t pub1[65], pub2[65], pub3[65], rd[65], alg;
	uint8_t idx;
	int r;

	r = conf_open(&c, name, argc, argv, NULL);
	if (r != 0)
		return r;
	conf_start(&c, 0);
	UK_CHECK_EQ(ukt_host_secured(&c.h, 0x00, 0x46, 0x80, 0x00, payload, sizeof(payload), 0,
	                             256), 0x6982);
	conf_say(&c, "GENERATE before VERIFY: 6982");
	UK_CHECK_EQ(ukt_host_verify(&c.h, 0x81, c.user_pin, c.user_pin_len), 0x9000);
	idx = conf_create_container(&c, "k7");
	conf_generate(&c, (uint8_t)(idx * 2), pub1);
	UK_CHECK(conf_sm2_point_valid(pub1));
	conf_say(&c, "GENERATE (container %u, signing): response is exactly 7F49 { 86 41 point },"
	         " the point is on the SM2 curve (OpenSSL EVP_PKEY_public_check)", idx);
	conf_generate(&c, (uint8_t)(idx * 2), pub2);
	UK_CHECK(conf_sm2_point_valid(pub2));
	UK_CHECK(memcmp(pub1, pub2, 65) != 0);
	conf_generate(&c, (uint8_t)(idx * 2), pub3);
	UK_CHECK(memcmp(pub3, pub1, 65) != 0 && memcmp(pub3, pub2, 65) != 0);
	conf_say(&c, "three generations at the same key reference: three different keys");
	UK_CHECK_EQ(conf_read_public(&c, (uint8_t)(idx * 2), rd), 0x9000);
	UK_CHECK_MEM(rd, pub3, 65);
	UK_CHECK_EQ(conf_listed_pair(&c, idx, 0, &alg, rd), 1);
	UK_CHECK_EQ(alg, 0x01);
	UK_CHECK_MEM(rd, pub3, 65);
	conf_say(&c, "read public key and GET DATA 02 give the last generated point (alg 01 SM2)");
	/* the check itself can fail: a point off the curve is refused by the checker */
	rd[64] ^= 1;
	UK_CHECK(!conf_sm2_point_valid(rd));
	UK_CHECK(!p256_point_valid(rd));
	interop_algs(&c);
	conf_close(&c);
	return uk_test_done(name);
}
