/* ukey token: private keys encrypted at rest under a PIN-wrapped token key (the SoftHSM2
 * model; docs/design.md "Persistence of an emulated key").
 *
 * - TK: 32 random bytes made once, at provisioning. It never reaches the state file in clear.
 * - Each application PIN (user, SO) has a salt and KEK = PBKDF2-HMAC-SHA256(PIN, salt, iter)
 *   (PKCS #5 v2.1 §5.2, RFC 8018); the state keeps TK sealed under each KEK. A PIN is right
 *   exactly when its seal opens (the AEAD tag checks), so no PIN hash or verifier is stored.
 * - Each private key (EC scalar, RSA RSAPrivateKey DER; ukt_alg.c) is sealed under TK, the
 *   key reference, algorithm and public encoding as associated data, so a sealed key cannot be moved to another slot or paired with
 *   another public key.
 * The AEAD is AES-256-GCM (NIST SP 800-38D) with a random 96-bit nonce per seal: this
 * OpenSSL 3.0 has no SM4-GCM. A sealed blob is nonce (12) || ciphertext || tag (16). */
#include "ukt_internal.h"

#include <string.h>

#include <openssl/evp.h>

#include "uk_crypto.h"
#include "uk_wipe.h"

#define KDF_ITER_MAX 10000000u

/* Associated data prefixes: what a blob is, so a TK seal never opens as a key seal. */
static const uint8_t ad_tk[4] = { 'U', 'K', 'T', 'K' };
static const uint8_t ad_key[4] = { 'U', 'K', 'P', 'K' };

static int gcm_init(EVP_CIPHER_CTX *ctx, int enc, const uint8_t key[UKT_TK_LEN],
                    const uint8_t nonce[UKT_AEAD_NONCE], const uint8_t *ad, size_t adlen)
{
	int outl;

	return EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
	       EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, UKT_AEAD_NONCE, NULL) == 1 &&
	       EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) == 1 &&
	       EVP_CipherUpdate(ctx, NULL, &outl, ad, (int)adlen) == 1 ? 0 : -1;
}

/* out = nonce || E(in) || tag; out has n + UKT_AEAD_OVERHEAD bytes. */
static int aead_seal(const uint8_t key[UKT_TK_LEN], const uint8_t *ad, size_t adlen,
                     const uint8_t *in, size_t n, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t *ct = out + UKT_AEAD_NONCE;
	int l1 = 0, l2 = 0, rc = -1;

	if (ctx == NULL || uk_random(out, UKT_AEAD_NONCE) != 0 ||
	    gcm_init(ctx, 1, key, out, ad, adlen) != 0 ||
	    EVP_CipherUpdate(ctx, ct, &l1, in, (int)n) != 1 ||
	    EVP_CipherFinal_ex(ctx, ct + l1, &l2) != 1 || (size_t)(l1 + l2) != n ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, UKT_AEAD_TAG, ct + n) != 1)
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

/* in = nonce || C || tag (n bytes); out gets n - UKT_AEAD_OVERHEAD bytes.
 * 0 opened, 1 tag mismatch (wrong key or altered data; out wiped), -1 error. */
static int aead_open(const uint8_t key[UKT_TK_LEN], const uint8_t *ad, size_t adlen,
                     const uint8_t *in, size_t n, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	size_t m = n - UKT_AEAD_OVERHEAD;
	uint8_t tag[UKT_AEAD_TAG];
	int l1 = 0, l2 = 0, rc = -1;

	if (ctx == NULL || n < UKT_AEAD_OVERHEAD)
		goto out;
	memcpy(tag, in + n - UKT_AEAD_TAG, UKT_AEAD_TAG);
	if (gcm_init(ctx, 0, key, in, ad, adlen) != 0 ||
	    EVP_CipherUpdate(ctx, out, &l1, in + UKT_AEAD_NONCE, (int)m) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, UKT_AEAD_TAG, tag) != 1)
		goto out;
	rc = EVP_CipherFinal_ex(ctx, out + l1, &l2) == 1 && (size_t)(l1 + l2) == m ? 0 : 1;
out:
	if (rc != 0)
		uk_wipe(out, m);
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

/* KEK = PBKDF2-HMAC-SHA256(PIN, salt, iter) (RFC 8018 §5.2). */
static int kek_derive(const ukt_pin *pin, const uint8_t *value, size_t len,
                      uint8_t kek[UKT_TK_LEN])
{
	if (value == NULL || len == 0 || len > UKT_PIN_MAX || pin->iter == 0 ||
	    pin->iter > KDF_ITER_MAX)
		return -1;
	return PKCS5_PBKDF2_HMAC((const char *)value, (int)len, pin->salt, UKT_SALT_LEN,
	                         (int)pin->iter, EVP_sha256(), UKT_TK_LEN, kek) == 1 ? 0 : -1;
}

static void tk_ad(uint8_t ad[5], int which)
{
	memcpy(ad, ad_tk, sizeof(ad_tk));
	ad[4] = (uint8_t)(0x81 + which);     /* the PIN reference of docs/apdu.md */
}

int ukt_keystore_tk_wrap(ukt_pin *pin, int which, const uint8_t *value, size_t len,
                         const uint8_t tk[UKT_TK_LEN])
{
	uint8_t kek[UKT_TK_LEN], ad[5];
	int rc = -1;

	pin->iter = UKT_PBKDF2_ITER;
	if (uk_random(pin->salt, UKT_SALT_LEN) != 0 || kek_derive(pin, value, len, kek) != 0)
		goto out;
	tk_ad(ad, which);
	rc = aead_seal(kek, ad, sizeof(ad), tk, UKT_TK_LEN, pin->wrapped_tk);
out:
	uk_wipe(kek, sizeof(kek));
	return rc;
}

int ukt_keystore_tk_unwrap_kek(const ukt_pin *pin, int which, const uint8_t *value, size_t len,
                               uint8_t tk[UKT_TK_LEN], uint8_t *kek_out)
{
	uint8_t kek[UKT_TK_LEN], ad[5];
	int r = -1;

	if (kek_derive(pin, value, len, kek) != 0)
		goto out;
	tk_ad(ad, which);
	r = aead_open(kek, ad, sizeof(ad), pin->wrapped_tk, UKT_WRAPPED_TK_LEN, tk);
	r = r == 0 ? 1 : r == 1 ? 0 : -1;
	if (r == 1 && kek_out != NULL)
		memcpy(kek_out, kek, sizeof(kek));
out:
	uk_wipe(kek, sizeof(kek));
	return r;
}

int ukt_keystore_tk_unwrap(const ukt_pin *pin, int which, const uint8_t *value, size_t len,
                           uint8_t tk[UKT_TK_LEN])
{
	return ukt_keystore_tk_unwrap_kek(pin, which, value, len, tk, NULL);
}

/* A new TK under a PIN whose KEK the session holds (REINITIALISE: the SO PIN is not sent
 * again). A fresh random nonce per seal, so reusing the salt (the same KEK) is safe. */
int ukt_keystore_tk_seal_kek(ukt_pin *pin, int which, const uint8_t kek[UKT_TK_LEN],
                             const uint8_t tk[UKT_TK_LEN])
{
	uint8_t ad[5];

	tk_ad(ad, which);
	return aead_seal(kek, ad, sizeof(ad), tk, UKT_TK_LEN, pin->wrapped_tk);
}

/* Factory PIN record: full tries, must be changed, TK sealed under the PIN. */
static int pin_provision(ukt_pin *pin, int which, const uint8_t *value, size_t len,
                         uint8_t max, const uint8_t tk[UKT_TK_LEN])
{
	if (!ukt_pin_valid_format(value, len))
		return -1;
	pin->max = max;
	pin->tries = max;
	pin->flags = UKT_PIN_FLAG_MUST_CHANGE;
	return ukt_keystore_tk_wrap(pin, which, value, len, tk);
}

int ukt_keystore_provision(ukt_state *st, const uint8_t *user, size_t ulen, const uint8_t *so,
                           size_t slen, unsigned max_tries)
{
	uint8_t tk[UKT_TK_LEN];
	int rc = -1;

	if (max_tries == 0)
		max_tries = UKT_PIN_TRIES;
	if (max_tries < UKT_PIN_TRIES_MIN || max_tries > UKT_PIN_TRIES_MAX)
		goto out;
	if (uk_random(tk, sizeof(tk)) != 0 ||
	    pin_provision(&st->pin[UKT_PIN_USER], UKT_PIN_USER, user, ulen, (uint8_t)max_tries,
	                  tk) != 0 ||
	    pin_provision(&st->pin[UKT_PIN_SO], UKT_PIN_SO, so, slen, (uint8_t)max_tries, tk) != 0)
		goto out;
	rc = 0;
out:
	uk_wipe(tk, sizeof(tk));
	return rc;
}

/* AD of a sealed private key: "UKPK" || KR || alg || public encoding (1..UKT_PUB_MAX)
 * [|| 01 for an always-authenticate key], so clearing that flag in the state file makes the
 * key not open (keys without it keep the AD they always had). */
#define KEY_AD_MAX (4 + 2 + UKT_PUB_MAX + 1)
static size_t key_ad(uint8_t ad[KEY_AD_MAX], unsigned kr, const ukt_keypair *k)
{
	size_t n = k->pub_len <= UKT_PUB_MAX ? k->pub_len : 0;

	memcpy(ad, ad_key, sizeof(ad_key));
	ad[4] = (uint8_t)kr;
	ad[5] = k->alg;
	memcpy(ad + 6, k->pub, n);
	if (!k->always_auth)
		return 6 + n;
	ad[6 + n] = 0x01;
	return 7 + n;
}

int ukt_keystore_key_seal(const uint8_t tk[UKT_TK_LEN], unsigned kr, ukt_keypair *k,
                          const uint8_t *priv, size_t n)
{
	uint8_t ad[KEY_AD_MAX];
	size_t adlen = key_ad(ad, kr, k);

	if (n == 0 || n > UKT_PRIV_MAX || aead_seal(tk, ad, adlen, priv, n, k->wrapped) != 0)
		return -1;
	k->wrapped_len = (uint16_t)(n + UKT_AEAD_OVERHEAD);
	return 0;
}

int ukt_keystore_key_open(const uint8_t tk[UKT_TK_LEN], unsigned kr, const ukt_keypair *k,
                          uint8_t priv[UKT_PRIV_MAX], size_t *n)
{
	uint8_t ad[KEY_AD_MAX];
	size_t adlen = key_ad(ad, kr, k);

	if (k->wrapped_len <= UKT_AEAD_OVERHEAD || k->wrapped_len > UKT_WRAPPED_KEY_MAX ||
	    aead_open(tk, ad, adlen, k->wrapped, k->wrapped_len, priv) != 0)
		return -1;
	*n = (size_t)k->wrapped_len - UKT_AEAD_OVERHEAD;
	return 0;
}

/* The private encoding is unsealed for one operation and wiped; the key object is built by
 * the algorithm's loader (ukt_alg.c) from it and the authenticated public encoding. */
EVP_PKEY *ukt_keystore_key_load(const uint8_t tk[UKT_TK_LEN], unsigned kr,
                                const ukt_keypair *k)
{
	const ukt_alg *alg = ukt_alg_find(k->alg);
	uint8_t priv[UKT_PRIV_MAX];
	EVP_PKEY *key = NULL;
	size_t n = 0;

	if (alg != NULL && ukt_keystore_key_open(tk, kr, k, priv, &n) == 0)
		key = alg->load(priv, n, k->pub, k->pub_len);
	uk_wipe(priv, sizeof(priv));
	return key;
}

/* ---- the session's key cache (ukt_internal.h ukt_key_cache) ---- */

void ukt_keystore_cache_drop(ukt_session *s)
{
	EVP_PKEY_free(s->kc.key);
	uk_wipe(&s->kc, sizeof(s->kc));
}

/* Same stored key pair: every field the sealed blob's AD covers plus the blob itself (a
 * regenerated or imported key has a fresh nonce, so it never matches an old one). */
static int cache_matches(const ukt_session *s, unsigned kr, const ukt_keypair *k)
{
	const ukt_keypair *c = &s->kc.pair;

	return s->kc.key != NULL && s->kc.kr == kr && c->alg == k->alg &&
	       c->always_auth == k->always_auth && c->pub_len == k->pub_len &&
	       c->wrapped_len == k->wrapped_len && k->pub_len <= UKT_PUB_MAX &&
	       k->wrapped_len <= UKT_WRAPPED_KEY_MAX &&
	       memcmp(c->pub, k->pub, k->pub_len) == 0 &&
	       memcmp(c->wrapped, k->wrapped, k->wrapped_len) == 0 &&
	       uk_ct_equal(s->kc.tk, s->tk, UKT_TK_LEN);
}

EVP_PKEY *ukt_keystore_key_get(ukt_session *s, unsigned kr, const ukt_keypair *k)
{
	EVP_PKEY *key;

	if (cache_matches(s, kr, k))
		return s->kc.key;
	ukt_keystore_cache_drop(s);
	key = ukt_keystore_key_load(s->tk, kr, k);
	if (key == NULL)
		return NULL;
	s->kc.key = key;
	s->kc.kr = kr;
	memcpy(s->kc.tk, s->tk, UKT_TK_LEN);
	s->kc.pair = *k;
	return key;
}
