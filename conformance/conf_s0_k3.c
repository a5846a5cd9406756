/* SPEC S0-K3 (the primes of asymmetric keys meet primality requirements), checked on keys
 * the card generated (GENERATE, ISO 7816-8 §5.1; S0-K7) with OpenSSL only:
 *   RSA-2048 (three pairs), after FIPS 186-4 §B.3.1 and §B.3.3: p and q are probable primes
 *   (BN_check_prime: Miller-Rabin with the rounds of FIPS 186-4 table C.3 for 1024-bit
 *   primes), each exactly 1024 bits and at least sqrt(2)·2^1023 (p² ≥ 2^2047), |p − q| >
 *   2^(1024−100), n = p·q equals the modulus the card answered (7F49/81), e = 65537 (7F49/82
 *   and the key), 2^1024 < d < lcm(p−1, q−1) and d·e ≡ 1 mod lcm(p−1, q−1), the CRT values
 *   consistent; and no two moduli share a factor (a weak generator repeats primes).
 *   SM2 (GM/T 0003.1 §6.1): 1 ≤ d ≤ n − 2 and d·G equals the point answered (7F49/86).
 *   P-256 (FIPS 186-4 §B.4): 1 ≤ d ≤ n − 1 and d·G equals the point answered.
 * The private keys are known to the test only through the token's TEST-ONLY accessor
 * (token/tests/ukt_test_access.h, never in libukey-token or ukey-emu): it unseals them from
 * the key's state directory with the user PIN (in-process the test's directory, through
 * PC/SC the sandbox's). */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/x509.h>

#include "conf.h"
#include "conf_ops.h"
#include "uk_tlv.h"
#include "uk_wipe.h"
#include "ukt_test_access.h"

#define NRSA 3
#define RSA_K 256                       /* modulus bytes of RSA-2048 */
#define PRIV_MAX 2048

enum { ALG_SM2 = 0x01, ALG_P256 = 0x02, ALG_RSA = 0x03 };

typedef struct rsa_pub {
	uint8_t enc[RSA_K + 4];         /* the stored public encoding n || e */
	size_t len;
} rsa_pub;

/* 7F49 { 81 n, 82 e } of an RSA GENERATE (docs/apdu.md): n is 256 bytes, e 1..4 bytes. */
static void rsa_template(const uint8_t *p, size_t len, rsa_pub *pub)
{
	uk_tlv t, n, e;

	UK_CHECK_EQ(uk_tlv_find(p, len, 0x7F49, &t), 1);
	UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x81, &n), 1);
	UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x82, &e), 1);
	UK_CHECK_EQ(n.len, RSA_K);
	UK_CHECK(e.len >= 1 && e.len <= 4);
	memcpy(pub->enc, n.value, RSA_K);
	memcpy(pub->enc + RSA_K, e.value, e.len);
	pub->len = RSA_K + e.len;
}

/* 7F49 { 86 04||X||Y } of an EC GENERATE. */
static void ec_template(const uint8_t *p, size_t len, uint8_t pub[65])
{
	uk_tlv t, q;

	UK_CHECK_EQ(uk_tlv_find(p, len, 0x7F49, &t), 1);
	UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x86, &q), 1);
	UK_CHECK_EQ(q.len, 65);
	memcpy(pub, q.value, 65);
}

static BIGNUM *get_bn(const EVP_PKEY *k, const char *name)
{
	BIGNUM *v = NULL;

	UK_CHECK(EVP_PKEY_get_bn_param(k, name, &v) == 1 && v != NULL);
	return v;
}

/* FIPS 186-4 §B.3.1 on one prime: probable prime, 1024 bits, p² ≥ 2^2047. */
static void check_prime(const BIGNUM *p, BN_CTX *bc)
{
	BIGNUM *sq = BN_new();

	UK_CHECK(sq != NULL);
	UK_CHECK_EQ(BN_check_prime(p, bc, NULL), 1);
	UK_CHECK_EQ(BN_num_bits(p), 1024);
	UK_CHECK(BN_sqr(sq, p, bc) == 1);
	UK_CHECK_EQ(BN_num_bits(sq), 2048);
	BN_free(sq);
}

/* lcm(p−1, q−1) = (p−1)(q−1) / gcd(p−1, q−1) */
static BIGNUM *lcm_pq(const BIGNUM *p, const BIGNUM *q, BN_CTX *bc)
{
	BIGNUM *p1 = BN_dup(p), *q1 = BN_dup(q), *g = BN_new(), *m = BN_new(), *l = BN_new();

	UK_CHECK(p1 && q1 && g && m && l);
	UK_CHECK(BN_sub_word(p1, 1) == 1 && BN_sub_word(q1, 1) == 1);
	UK_CHECK(BN_gcd(g, p1, q1, bc) == 1 && BN_mul(m, p1, q1, bc) == 1);
	UK_CHECK(BN_div(l, NULL, m, g, bc) == 1);
	BN_clear_free(p1);
	BN_clear_free(q1);
	BN_clear_free(g);
	BN_clear_free(m);
	return l;
}

/* d·e ≡ 1 mod λ, 2^1024 < d < λ (FIPS 186-4 §B.3.1 3(b)); d mod (p−1), d mod (q−1) and
 * q^-1 mod p are the CRT values the key carries. */
static void check_private_exponent(const EVP_PKEY *k, const BIGNUM *p, const BIGNUM *q,
                                   const BIGNUM *e, BN_CTX *bc)
{
	BIGNUM *d = get_bn(k, OSSL_PKEY_PARAM_RSA_D), *lam = lcm_pq(p, q, bc), *t = BN_new();
	BIGNUM *dp = get_bn(k, OSSL_PKEY_PARAM_RSA_EXPONENT1);
	BIGNUM *dq = get_bn(k, OSSL_PKEY_PARAM_RSA_EXPONENT2);
	BIGNUM *qi = get_bn(k, OSSL_PKEY_PARAM_RSA_COEFFICIENT1), *m = BN_new();

	UK_CHECK(t != NULL && m != NULL);
	UK_CHECK(BN_mod_mul(t, d, e, lam, bc) == 1 && BN_is_one(t));
	UK_CHECK(BN_cmp(d, lam) < 0);
	UK_CHECK(BN_num_bits(d) > 1024);
	UK_CHECK(BN_copy(m, p) != NULL && BN_sub_word(m, 1) == 1);
	UK_CHECK(BN_nnmod(t, d, m, bc) == 1 && BN_cmp(t, dp) == 0);
	UK_CHECK(BN_copy(m, q) != NULL && BN_sub_word(m, 1) == 1);
	UK_CHECK(BN_nnmod(t, d, m, bc) == 1 && BN_cmp(t, dq) == 0);
	UK_CHECK(BN_mod_mul(t, qi, q, p, bc) == 1 && BN_is_one(t));
	BN_clear_free(d);
	BN_clear_free(lam);
	BN_clear_free(t);
	BN_clear_free(dp);
	BN_clear_free(dq);
	BN_clear_free(qi);
	BN_clear_free(m);
}

/* One RSA pair: returns n (the caller frees) for the shared-factor check. */
static BIGNUM *check_rsa(const uint8_t *der, size_t len, const rsa_pub *pub, BN_CTX *bc)
{
	const unsigned char *q = der;
	EVP_PKEY *k = d2i_PrivateKey(EVP_PKEY_RSA, NULL, &q, (long)len);
	BIGNUM *n, *e, *p1, *p2, *pq = BN_new(), *diff = BN_new(), *bound = BN_new();
	BIGNUM *card_n = BN_bin2bn(pub->enc, RSA_K, NULL);
	BIGNUM *card_e = BN_bin2bn(pub->enc + RSA_K, (int)(pub->len - RSA_K), NULL);

	UK_CHECK(k != NULL && q == der + len);          /* the whole DER, nothing after it */
	UK_CHECK(pq && diff && bound && card_n && card_e);
	n = get_bn(k, OSSL_PKEY_PARAM_RSA_N);
	e = get_bn(k, OSSL_PKEY_PARAM_RSA_E);
	p1 = get_bn(k, OSSL_PKEY_PARAM_RSA_FACTOR1);
	p2 = get_bn(k, OSSL_PKEY_PARAM_RSA_FACTOR2);
	check_prime(p1, bc);
	check_prime(p2, bc);
	UK_CHECK(BN_mul(pq, p1, p2, bc) == 1);
	UK_CHECK(BN_cmp(pq, card_n) == 0 && BN_cmp(n, card_n) == 0);
	UK_CHECK(BN_is_word(card_e, 65537) && BN_is_word(e, 65537));
	UK_CHECK(BN_sub(diff, p1, p2) == 1 && BN_one(bound) == 1 && BN_lshift(bound, bound, 924));
	UK_CHECK(BN_ucmp(diff, bound) > 0);
	check_private_exponent(k, p1, p2, e, bc);
	BN_clear_free(p1);
	BN_clear_free(p2);
	BN_clear_free(pq);
	BN_clear_free(diff);
	BN_free(bound);
	BN_free(card_n);
	BN_free(card_e);
	BN_free(e);
	EVP_PKEY_free(k);
	return n;
}

/* 1 ≤ d ≤ order − top and d·G == pub on the curve nid. */
static void check_ec(int nid, unsigned top, const uint8_t d[32], const uint8_t pub[65],
                     BN_CTX *bc)
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(nid);
	BIGNUM *k = BN_bin2bn(d, 32, NULL), *max = NULL;
	EC_POINT *q = NULL;
	uint8_t out[65];

	UK_CHECK(g != NULL && k != NULL);
	max = BN_dup(EC_GROUP_get0_order(g));
	UK_CHECK(max != NULL && BN_sub_word(max, top) == 1);
	UK_CHECK(!BN_is_zero(k) && BN_cmp(k, max) <= 0);
	q = EC_POINT_new(g);
	UK_CHECK(q != NULL && EC_POINT_mul(g, q, k, NULL, NULL, bc) == 1);
	UK_CHECK_EQ(EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, out, sizeof(out),
	                               bc), 65);
	UK_CHECK_MEM(out, pub, 65);
	BN_clear_free(k);
	BN_free(max);
	EC_POINT_free(q);
	EC_GROUP_free(g);
}

static void rsa_pairs(conf_ctx *c, BN_CTX *bc)
{
	const char *dir = conf_state_dir(c);
	uint8_t der[PRIV_MAX];
	BIGNUM *n[NRSA], *g = BN_new();
	char name[16];
	rsa_pub pub;
	size_t len = 0;
	unsigned i, j;
	uint8_t idx;

	UK_CHECK(g != NULL);
	for (i = 0; i < NRSA; i++) {
		snprintf(name, sizeof(name), "k3-rsa-%u", i);
		idx = conf_create_container(c, name);
		UK_CHECK_EQ(conf_generate_alg(c, (uint8_t)(idx * 2), ALG_RSA), 0x9000);
		rsa_template(c->h.resp, c->h.rlen, &pub);
		UK_CHECK_EQ(ukt_test_private_encoding(dir, c->user_pin, c->user_pin_len, pub.enc,
		                                      pub.len, der, sizeof(der), &len), 1);
		n[i] = check_rsa(der, len, &pub, bc);
		uk_wipe(der, sizeof(der));
		conf_say(c, "RSA-2048 pair %u (KR %02X): p, q probable primes (BN_check_prime), "
		         "1024 bits each, >= sqrt(2)*2^1023, |p-q| > 2^924, p*q = the modulus "
		         "answered (7F49/81), e = 65537, 2^1024 < d < lcm(p-1,q-1), "
		         "d*e = 1 mod lcm, CRT values consistent", i, idx * 2);
	}
	for (i = 0; i < NRSA; i++)
		for (j = i + 1; j < NRSA; j++)
			UK_CHECK(BN_gcd(g, n[i], n[j], bc) == 1 && BN_is_one(g));
	conf_say(c, "the %d moduli are pairwise coprime (no prime shared)", NRSA);
	for (i = 0; i < NRSA; i++)
		BN_free(n[i]);
	BN_free(g);
}

static void ec_pair(conf_ctx *c, uint8_t kr, uint8_t alg, BN_CTX *bc)
{
	uint8_t pub[65], d[32];

	UK_CHECK_EQ(conf_generate_alg(c, kr, alg), 0x9000);
	ec_template(c->h.resp, c->h.rlen, pub);
	UK_CHECK_EQ(conf_state_private(c, pub, d), 1);
	if (alg == ALG_SM2)
		check_ec(NID_sm2, 2, d, pub, bc);
	else
		check_ec(NID_X9_62_prime256v1, 1, d, pub, bc);
	uk_wipe(d, sizeof(d));
	conf_say(c, "%s pair (KR %02X): 1 <= d <= n-%u and d*G = the point answered (7F49/86)",
	         alg == ALG_SM2 ? "SM2" : "P-256", kr, alg == ALG_SM2 ? 2u : 1u);
}

int main(int argc, char **argv)
{
	static const char name[] = "conformance_S0-K3_primes";
	static conf_ctx c;
	BN_CTX *bc;
	uint8_t idx;
	int r;

	r = conf_open(&c, name, argc, argv, NULL);
	if (r != 0)
		return r;
	if (conf_state_dir(&c) == NULL) {
		conf_close(&c);
		printf("%s: the state directory is not reachable: skipped\n", name);
		return UK_TEST_SKIP;
	}
	bc = BN_CTX_new();
	UK_CHECK(bc != NULL);
	conf_start(&c, 1);
	rsa_pairs(&c, bc);
	idx = conf_create_container(&c, "k3-ec");
	ec_pair(&c, (uint8_t)(idx * 2), ALG_SM2, bc);
	ec_pair(&c, (uint8_t)(idx * 2 + 1), ALG_P256, bc);
	BN_CTX_free(bc);
	conf_close(&c);
	return uk_test_done(name);
}
