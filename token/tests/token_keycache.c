/* token_keycache: the session's cache of the last unsealed key (ukt_internal.h
 * ukt_key_cache, docs/performance.md) never signs with a key that is no longer the one
 * stored. Every signature is checked by OpenSSL against the public key GENERATE returned:
 * - a run of signatures with one key all verify (the cached path);
 * - GENERATE again at the same key reference: the next signature verifies under the new
 *   public key and not under the old one;
 * - logout (VERIFY P1 = FF, ISO 7816-4 §11.5.6) refuses PSO (6982) although a key was
 *   cached; after VERIFY it signs again with the current key;
 * - two containers signed in turn each verify under their own key. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "token_util.h"

static ukt_host h;

/* An SM2 public key, built by OpenSSL from the point. */
static EVP_PKEY *sm2_pub(const uint8_t pub[65])
{
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	OSSL_PARAM *p;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
	EVP_PKEY *k = NULL;

	UK_CHECK(b != NULL && c != NULL);
	UK_CHECK(OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "SM2", 0) == 1);
	UK_CHECK(OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub, 65) == 1);
	p = OSSL_PARAM_BLD_to_param(b);
	UK_CHECK(p != NULL && EVP_PKEY_fromdata_init(c) == 1);
	UK_CHECK(EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, p) == 1);
	OSSL_PARAM_free(p);
	EVP_PKEY_CTX_free(c);
	OSSL_PARAM_BLD_free(b);
	return k;
}

/* 1: OpenSSL accepts r || s over e (GM/T 0003.2 §7.1) under pub; 0 otherwise. */
static int verifies(const uint8_t pub[65], const uint8_t e[32], const uint8_t sig[64])
{
	EVP_PKEY *k = sm2_pub(pub);
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
	ECDSA_SIG *s = ECDSA_SIG_new();
	uint8_t der[80], *p = der;
	int n, ok;

	UK_CHECK(c != NULL && s != NULL);
	UK_CHECK(ECDSA_SIG_set0(s, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL)) == 1);
	n = i2d_ECDSA_SIG(s, &p);
	UK_CHECK(n > 0 && EVP_PKEY_verify_init(c) == 1);
	ok = EVP_PKEY_verify(c, der, (size_t)n, e, 32) == 1;
	ECDSA_SIG_free(s);
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(k);
	return ok;
}

static void sign_ok(uint8_t kr, const uint8_t pub[65], uint8_t e0)
{
	uint8_t e[32], sig[64];

	memset(e, e0, sizeof(e));
	UK_CHECK_EQ(ukt_host_sign(&h, kr, e, sig), 0x9000);
	UK_CHECK(verifies(pub, e, sig));
}

int main(void)
{
	uint8_t pub1[65], pub2[65], pub3[65], e[32], sig[64];
	char *dir = tu_tmpdir();
	ukt_card *card = tu_card_logged_in(dir, &h);
	int i;

	UK_CHECK_EQ(ukt_host_create_container(&h, "one"), 0x9000);
	UK_CHECK_EQ(ukt_host_generate(&h, 0, 0x01, pub1), 0x9000);
	for (i = 0; i < 5; i++)
		sign_ok(0, pub1, (uint8_t)i);

	/* a new key at the same reference: the cached one must not sign any more */
	UK_CHECK_EQ(ukt_host_generate(&h, 0, 0x01, pub2), 0x9000);
	UK_CHECK(memcmp(pub1, pub2, 65) != 0);
	memset(e, 0x42, sizeof(e));
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e, sig), 0x9000);
	UK_CHECK(verifies(pub2, e, sig));
	UK_CHECK(!verifies(pub1, e, sig));

	/* logout: no PSO with the key still cached; a new VERIFY signs with the current key */
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x20, 0xFF, 0x81, NULL, 0, 1, UKT_HOST_NO_LE),
	            0x9000);
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e, sig), 0x6982);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	sign_ok(0, pub2, 7);

	/* two keys in turn */
	UK_CHECK_EQ(ukt_host_create_container(&h, "two"), 0x9000);
	UK_CHECK_EQ(ukt_host_generate(&h, 2, 0x01, pub3), 0x9000);
	for (i = 0; i < 3; i++) {
		sign_ok(0, pub2, (uint8_t)(10 + i));
		sign_ok(2, pub3, (uint8_t)(20 + i));
	}
	ukt_card_close(card);
	tu_rmdir(dir);
	free(dir);
	return uk_test_done("token_keycache");
}
