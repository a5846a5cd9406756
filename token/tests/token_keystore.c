/* token_keystore: private keys encrypted at rest (token/ukt_keystore.c, docs/design.md).
 * - the state file holds no private scalar (no 8-byte piece of one) and no PIN; the scalars
 *   are known here only through the test-only accessor (ukt_test_access.h) and checked with
 *   OpenSSL (d*G == Q), so the search looks for the right bytes;
 * - keys still sign after re-opening the card, but only after VERIFY (6982 before);
 * - the token key lives in a session only while a PIN is verified there: wiped on logout,
 *   on a failed VERIFY and on reset, and one session's logout leaves another's alone;
 * - a state file of version 1 (clear keys) or 2 (SM2-only records) is refused and kept. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "token_util.h"
#include "ukt_internal.h"
#include "ukt_test_access.h"

#define WINDOW 8

static ukt_host h, h2;

/* 1 when d * G == pub on the SM2 curve (OpenSSL EC arithmetic). */
static int pair_matches(const uint8_t d[32], const uint8_t pub[65])
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_sm2);
	EC_POINT *p = g ? EC_POINT_new(g) : NULL;
	BIGNUM *bn = BN_bin2bn(d, 32, NULL);
	uint8_t q[65];
	int ok;

	UK_CHECK(g != NULL && p != NULL && bn != NULL);
	ok = EC_POINT_mul(g, p, bn, NULL, NULL, NULL) == 1 &&
	     EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED, q, 65, NULL) == 65 &&
	     memcmp(q, pub, 65) == 0;
	BN_clear_free(bn);
	EC_POINT_free(p);
	EC_GROUP_free(g);
	return ok;
}

/* OpenSSL verification of r||s over e with the public point. */
static int sig_valid(const uint8_t pub[65], const uint8_t e[32], const uint8_t sig[64])
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL), *vctx = NULL;
	ECDSA_SIG *s = ECDSA_SIG_new();
	OSSL_PARAM *params;
	EVP_PKEY *key = NULL;
	uint8_t der[80], *p = der;
	int n, r;

	UK_CHECK(bld && ctx && s);
	UK_CHECK(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "SM2", 0) == 1);
	UK_CHECK(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 65) == 1);
	params = OSSL_PARAM_BLD_to_param(bld);
	UK_CHECK(params != NULL && EVP_PKEY_fromdata_init(ctx) == 1);
	UK_CHECK(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1);
	UK_CHECK(ECDSA_SIG_set0(s, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL)) == 1);
	n = i2d_ECDSA_SIG(s, &p);
	UK_CHECK(n > 0);
	vctx = EVP_PKEY_CTX_new(key, NULL);
	UK_CHECK(vctx != NULL && EVP_PKEY_verify_init(vctx) == 1);
	r = EVP_PKEY_verify(vctx, der, (size_t)n, e, 32);
	EVP_PKEY_CTX_free(vctx);
	EVP_PKEY_free(key);
	ECDSA_SIG_free(s);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	return r == 1;
}

static int has_window(const uint8_t *hay, size_t hn, const void *needle, size_t n, size_t w)
{
	size_t i, j;

	for (i = 0; i + w <= n; i++)
		for (j = 0; j + w <= hn; j++)
			if (memcmp(hay + j, (const uint8_t *)needle + i, w) == 0)
				return 1;
	return 0;
}

static int state_has(const char *dir, const void *needle, size_t n, size_t w)
{
	size_t len;
	unsigned char *img = tu_state_bytes(dir, &len);
	int r = has_window(img, len, needle, n, w);

	free(img);
	return r;
}

static uint16_t change_pin(ukt_host *hh, uint8_t p2, const char *old, const char *new)
{
	uint8_t buf[64];
	size_t ol = strlen(old), nl = strlen(new);

	buf[0] = (uint8_t)ol;
	memcpy(buf + 1, old, ol);
	buf[1 + ol] = (uint8_t)nl;
	memcpy(buf + 2 + ol, new, nl);
	return ukt_host_secured(hh, 0x00, 0x24, 0x00, p2, buf, 2 + ol + nl, 1, UKT_HOST_NO_LE);
}

static uint16_t logout(ukt_host *hh, uint8_t p2)
{
	return ukt_host_secured(hh, 0x00, 0x20, 0xFF, p2, NULL, 0, 1, UKT_HOST_NO_LE);
}

static ukt_session *sess_of(ukt_card *card, const ukt_host *hh)
{
	ukt_session *s = ukt_session_find(card, hh->sm.sid);

	UK_CHECK(s != NULL);
	return s;
}

static int tk_wiped(const ukt_session *s)
{
	static const uint8_t zero[UKT_TK_LEN];

	return !s->has_tk && memcmp(s->tk, zero, sizeof(zero)) == 0;
}

static void test_at_rest(void)
{
	char *dir = tu_tmpdir();
	ukt_card *card = tu_card_logged_in(dir, &h);
	uint8_t pub0[65], pub1[65], d0[32], d1[32], d[32];

	UK_CHECK_EQ(ukt_host_create_container(&h, "rest"), 0x9000);
	UK_CHECK_EQ(ukt_host_generate(&h, 0, 1, pub0), 0x9000);
	UK_CHECK_EQ(ukt_host_generate(&h, 1, 1, pub1), 0x9000);
	UK_CHECK_EQ(ukt_test_private_scalar(dir, (const uint8_t *)"user1234", 8, pub0, d0), 1);
	UK_CHECK_EQ(ukt_test_private_scalar(dir, (const uint8_t *)"user1234", 8, pub1, d1), 1);
	UK_CHECK(pair_matches(d0, pub0));
	UK_CHECK(pair_matches(d1, pub1));
	UK_CHECK_EQ(ukt_test_private_scalar(dir, (const uint8_t *)"user1235", 8, pub0, d), -1);

	UK_CHECK(!state_has(dir, d0, 32, WINDOW));
	UK_CHECK(!state_has(dir, d1, 32, WINDOW));
	UK_CHECK(!state_has(dir, "user1234", 8, 8));
	UK_CHECK(!state_has(dir, "admin1234", 9, 9));
	UK_CHECK(state_has(dir, pub0 + 1, 32, WINDOW));         /* the search can fail */

	/* a changed PIN re-seals the token key: the keys open under it, not under the old one */
	UK_CHECK_EQ(change_pin(&h, 0x81, "user1234", "Changed2024"), 0x9000);
	UK_CHECK(!state_has(dir, "Changed2024", 11, 11));
	UK_CHECK(!state_has(dir, d0, 32, WINDOW));
	UK_CHECK_EQ(ukt_test_private_scalar(dir, (const uint8_t *)"Changed2024", 11, pub0, d), 1);
	UK_CHECK_MEM(d, d0, 32);
	UK_CHECK_EQ(ukt_test_private_scalar(dir, (const uint8_t *)"user1234", 8, pub0, d), -1);
	ukt_card_close(card);
	tu_rmdir(dir);
	free(dir);
}

static void test_reopen_sign(void)
{
	char *dir = tu_tmpdir();
	ukt_card *card = tu_card_logged_in(dir, &h);
	uint8_t pub[65], e[32], sig[64];

	memset(e, 0x5A, sizeof(e));
	UK_CHECK_EQ(ukt_host_create_container(&h, "r"), 0x9000);
	UK_CHECK_EQ(ukt_host_generate(&h, 0, 1, pub), 0x9000);
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e, sig), 0x9000);
	UK_CHECK(sig_valid(pub, e, sig));
	ukt_card_close(card);

	card = ukt_card_open(dir, NULL);
	UK_CHECK(card != NULL);
	ukt_host_init_card(&h, card);
	UK_CHECK_EQ(ukt_host_select(&h), 0x9000);
	UK_CHECK_EQ(ukt_host_open_session(&h), 0x9000);
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e, sig), 0x6982);               /* no VERIFY yet */
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1233", 8), 0x63C9);
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e, sig), 0x6982);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x82, "admin1234", 9), 0x9000);
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e, sig), 0x6982);               /* SO cannot sign */
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e, sig), 0x9000);
	UK_CHECK(sig_valid(pub, e, sig));
	ukt_card_close(card);
	tu_rmdir(dir);
	free(dir);
}

static void test_tk_lifetime(void)
{
	char *dir = tu_tmpdir();
	ukt_card *card = tu_card_logged_in(dir, &h);
	uint8_t pub[65], e[32], sig[64];
	ukt_session *a, *b;

	memset(e, 0x33, sizeof(e));
	UK_CHECK_EQ(ukt_host_create_container(&h, "t"), 0x9000);
	UK_CHECK_EQ(ukt_host_generate(&h, 0, 1, pub), 0x9000);
	ukt_host_init_card(&h2, card);                                   /* a second client */
	UK_CHECK_EQ(ukt_host_open_session(&h2), 0x9000);
	b = sess_of(card, &h2);
	UK_CHECK(tk_wiped(b));                                           /* nothing before VERIFY */
	UK_CHECK_EQ(ukt_host_verify(&h2, 0x81, "user1234", 8), 0x9000);
	a = sess_of(card, &h);
	UK_CHECK(a->has_tk && b->has_tk);

	/* A logs out: its copy is wiped and it cannot sign; B still can */
	UK_CHECK_EQ(logout(&h, 0x81), 0x9000);
	UK_CHECK(tk_wiped(a));
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e, sig), 0x6982);
	UK_CHECK_EQ(ukt_host_sign(&h2, 0, e, sig), 0x9000);
	UK_CHECK(sig_valid(pub, e, sig));
	/* B's failed VERIFY logs it out too */
	UK_CHECK_EQ(ukt_host_verify(&h2, 0x81, "user9999", 8), 0x63C9);
	UK_CHECK(tk_wiped(b));
	UK_CHECK_EQ(ukt_host_sign(&h2, 0, e, sig), 0x6982);

	/* user and SO both verified: the key stays until the last of them is logged out */
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x82, "admin1234", 9), 0x9000);
	UK_CHECK_EQ(logout(&h, 0x81), 0x9000);
	UK_CHECK(a->has_tk);
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e, sig), 0x6982);
	UK_CHECK_EQ(logout(&h, 0x82), 0x9000);
	UK_CHECK(tk_wiped(a));

	/* a warm reset wipes every session */
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	UK_CHECK_EQ(ukt_host_verify(&h2, 0x81, "user1234", 8), 0x9000);
	UK_CHECK_EQ(ukt_card_power(card, UKT_POWER_RESET), 0);
	UK_CHECK(tk_wiped(&card->sess[0]) && tk_wiped(&card->sess[1]));
	ukt_card_close(card);
	tu_rmdir(dir);
	free(dir);
}

static void write_state(const char *dir, const unsigned char *img, size_t len)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/state", dir);
	f = fopen(path, "wb");
	UK_CHECK(f != NULL);
	UK_CHECK_EQ(fwrite(img, 1, len, f), len);
	fclose(f);
}

/* A well-formed file of an older format version (only the version differs, SHA-256
 * recomputed with OpenSSL): refused, and left as it is. 1 held clear keys, 2 SM2-only
 * fixed-size key records. */
static void check_version_refused(const char *dir, unsigned char *img, size_t len,
                                  unsigned version)
{
	unsigned dlen = 0;

	img[9] = (unsigned char)version;
	UK_CHECK(EVP_Digest(img, len - 32, img + len - 32, &dlen, EVP_sha256(), NULL) == 1);
	write_state(dir, img, len);
	UK_CHECK(ukt_card_open(dir, NULL) == NULL);
	TU_CHECK_STATE_UNCHANGED(dir, img, len);
}

static void test_old_versions_refused(void)
{
	char *dir = tu_tmpdir();
	ukt_card *card = ukt_card_open(dir, NULL);
	unsigned char *img;
	unsigned dlen = 0;
	size_t len;

	UK_CHECK(card != NULL);
	ukt_card_close(card);
	img = tu_state_bytes(dir, &len);
	UK_CHECK(len > 48 && memcmp(img, "UKEYSTAT", 8) == 0);
	UK_CHECK_EQ(img[8] << 8 | img[9], 3);                            /* this format */
	check_version_refused(dir, img, len, 1);
	check_version_refused(dir, img, len, 2);
	img[9] = 3;                                                      /* control: v3 opens */
	UK_CHECK(EVP_Digest(img, len - 32, img + len - 32, &dlen, EVP_sha256(), NULL) == 1);
	write_state(dir, img, len);
	card = ukt_card_open(dir, NULL);
	UK_CHECK(card != NULL);
	ukt_card_close(card);
	free(img);
	tu_rmdir(dir);
	free(dir);
}

int main(void)
{
	test_at_rest();
	test_reopen_sign();
	test_tk_lifetime();
	test_old_versions_refused();
	return uk_test_done("token_keystore");
}
