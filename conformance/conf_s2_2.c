/* SPEC S2-2: the key generates RSA and SM2 key pairs on chip, signs and decrypts with them;
 * two-level passwords (user and administrator) with a settable retry count, locking when
 * exceeded.
 *  - GENERATE (ISO 7816-8 §5.1) of an SM2 pair (alg 01) and an RSA-2048 pair (alg 03): the
 *    templates are well formed (SM2 point on the curve; RSA n of 2048 bits, e = 65537); each
 *    key signs (SM2 over e, RSA PKCS#1 v1.5 over a SHA-256 DigestInfo) and OpenSSL verifies;
 *    the SM2 pair deciphers what OpenSSL encrypted to it.
 *  - The retry count is set when the key is provisioned (docs/apdu.md GET DATA 01,
 *    `ukey-emu --max-tries`). In-process the card is provisioned with 3 tries
 *    (ukt_provision.max_tries) and GET DATA 01 must report 3 for both PINs. Through PC/SC
 *    the key is the sandbox's: the registration runs `ukey-sandbox --max-tries 3`, which
 *    provisions the key with 3 tries and exports UKEY_MAX_TRIES=3, so the settable count is
 *    proven through PC/SC too. Under an outside sandbox (PCSCLITE_CSOCK_NAME already set)
 *    the key has what that sandbox says in UKEY_MAX_TRIES, or the default 10.
 *  - Two levels: the user PIN locks after exactly max wrong entries while the SO PIN keeps
 *    its counter and still verifies; then the SO PIN locks on its own after max wrong
 *    entries, and a locked SO can no longer unlock the holder (RESET RETRY COUNTER 6982). */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "conf.h"
#include "conf_ops.h"
#include "uk_tlv.h"

static const uint8_t wrong[] = "wrong12345";

/* RSA public key from the GENERATE template 7F49 { 81 n, 82 e } (ISO 7816-8 table 3). */
static EVP_PKEY *rsa_from_template(const uint8_t *p, size_t n)
{
	uk_tlv t, tn, te;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *key = NULL;
	BIGNUM *bn, *be;

	UK_CHECK_EQ(uk_tlv_find(p, n, 0x7F49, &t), 1);
	UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x81, &tn), 1);
	UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x82, &te), 1);
	UK_CHECK_EQ(tn.len, 256);
	UK_CHECK(tn.value[0] & 0x80);                   /* 2048 bits exactly */
	UK_CHECK(te.len == 3 && memcmp(te.value, "\x01\x00\x01", 3) == 0);
	bn = BN_bin2bn(tn.value, (int)tn.len, NULL);
	be = BN_bin2bn(te.value, (int)te.len, NULL);
	UK_CHECK(bld != NULL && ctx != NULL && bn != NULL && be != NULL);
	UK_CHECK(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
	         OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) == 1);
	params = OSSL_PARAM_BLD_to_param(bld);
	UK_CHECK(params != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
	         EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_free(bn);
	BN_free(be);
	return key;
}

static void rsa_pair(conf_ctx *c, uint8_t kr)
{
	/* DigestInfo prefix for SHA-256 (PKCS #1 v2.2 §9.2 note 1) */
	static const uint8_t prefix[19] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86,
	                                    0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
	                                    0x00, 0x04, 0x20 };
	static const char msg[] = "S2-2 RSA document";
	uint8_t di[19 + 32];
	unsigned mdlen;
	EVP_PKEY *key;
	EVP_MD_CTX *m = EVP_MD_CTX_new();

	UK_CHECK_EQ(conf_generate_alg(c, kr, 0x03), 0x9000);
	key = rsa_from_template(c->h.resp, c->h.rlen);
	memcpy(di, prefix, sizeof(prefix));
	UK_CHECK_EQ(EVP_Digest(msg, sizeof(msg) - 1, di + 19, &mdlen, EVP_sha256(), NULL), 1);
	UK_CHECK_EQ(conf_pso_sign(c, kr, 0x03, di, sizeof(di)), 0x9000);
	UK_CHECK_EQ(c->h.rlen, 256);
	UK_CHECK(m != NULL && EVP_DigestVerifyInit(m, NULL, EVP_sha256(), NULL, key) == 1);
	UK_CHECK_EQ(EVP_DigestVerify(m, c->h.resp, 256, (const uint8_t *)msg, sizeof(msg) - 1),
	            1);
	UK_CHECK(EVP_DigestVerify(m, c->h.resp, 256, (const uint8_t *)msg, sizeof(msg) - 2) != 1);
	EVP_MD_CTX_free(m);
	EVP_PKEY_free(key);
	conf_say(c, "RSA-2048 pair generated on chip (n 2048 bits, e 65537); PKCS#1 v1.5 "
	         "SHA-256 signature verified by OpenSSL");
}

static void sm2_pair(conf_ctx *c, uint8_t kr)
{
	static const char msg[] = "S2-2 SM2 document";
	static const uint8_t secret[] = "S2-2 bid key";
	uint8_t pub[65], e[32], sig[64], ct[200];
	size_t n;

	conf_generate(c, kr, pub);
	UK_CHECK(conf_sm2_point_valid(pub));
	conf_sm2_e(pub, msg, sizeof(msg) - 1, e);
	UK_CHECK_EQ(ukt_host_sign(&c->h, kr, e, sig), 0x9000);
	UK_CHECK(conf_sm2_verify_msg(pub, msg, sizeof(msg) - 1, sig));
	n = conf_sm2_encrypt_raw(pub, secret, sizeof(secret), ct);
	UK_CHECK_EQ(conf_decipher(c, kr, 0x11, ct, n), 0x9000);
	UK_CHECK_EQ(c->h.rlen, sizeof(secret));
	UK_CHECK_MEM(c->h.resp, secret, sizeof(secret));
	conf_say(c, "SM2 pair generated on chip; signature verified by OpenSSL; OpenSSL "
	         "ciphertext deciphered");
}

/* max wrong VERIFYs of PIN which: 63Cx down to 6983. */
static void lock(conf_ctx *c, uint8_t which, uint8_t max)
{
	uint8_t i;

	for (i = 1; i < max; i++)
		UK_CHECK_EQ(ukt_host_verify(&c->h, which, wrong, sizeof(wrong) - 1),
		            0x63C0 | (max - i));
	UK_CHECK_EQ(ukt_host_verify(&c->h, which, wrong, sizeof(wrong) - 1), 0x6983);
}

static void two_levels(conf_ctx *c, uint8_t max)
{
	conf_pin_status st;

	lock(c, 0x81, max);
	conf_pin_status_get(c, 0x81, &st);
	UK_CHECK(st.left == 0 && (st.flags & 1));
	conf_pin_status_get(c, 0x82, &st);
	UK_CHECK(st.left == max && !(st.flags & 1));
	UK_CHECK_EQ(ukt_host_verify(&c->h, 0x82, c->so_pin, c->so_pin_len), 0x9000);
	conf_say(c, "user PIN locked after %u wrong entries; SO PIN untouched (%u/%u), verifies",
	         max, max, max);
	UK_CHECK_EQ(ukt_host_open_session(&c->h), 0x9000);
	lock(c, 0x82, max);
	UK_CHECK_EQ(ukt_host_verify(&c->h, 0x82, c->so_pin, c->so_pin_len), 0x6983);
	UK_CHECK_EQ(conf_reset_retry(c, NULL, (const uint8_t *)"unlock2024", 10), 0x6982);
	conf_say(c, "SO PIN locked after %u wrong entries: it no longer unlocks the holder", max);
}

int main(int argc, char **argv)
{
	static const char name[] = "conformance_S2-2_keypairs_retry";
	static conf_ctx c;
	ukt_provision prov = { .max_tries = 3 };
	conf_pin_status u, s;
	uint8_t want;
	int r;

	r = conf_open(&c, name, argc, argv, &prov);
	if (r != 0)
		return r;
	want = c.pcsc ? (uint8_t)(getenv("UKEY_MAX_TRIES") ? atoi(getenv("UKEY_MAX_TRIES")) : 10)
	              : 3;
	conf_start(&c, 1);
	conf_pin_status_get(&c, 0x81, &u);
	conf_pin_status_get(&c, 0x82, &s);
	UK_CHECK(u.max == want && s.max == want && u.left == want && s.left == want);
	conf_say(&c, "GET DATA 01: user and SO PIN %u tries (%s)", want,
	         !c.pcsc ? "provisioned with max_tries = 3"
	         : getenv("UKEY_MAX_TRIES") ? "the sandbox key, ukey-sandbox --max-tries"
	                                    : "the sandbox key's default");
	UK_CHECK_EQ(conf_create_container(&c, "s2-2"), 0);
	sm2_pair(&c, 0x00);
	rsa_pair(&c, 0x01);   /* container 0, usage 1 */
	two_levels(&c, want);
	conf_close(&c);
	return uk_test_done(name);
}
