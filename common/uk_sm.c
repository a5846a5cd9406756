/* ukey common: secure-session framing (docs/apdu.md "Secure session", uk_sm.h).
 * Encrypt-then-MAC: the MAC covers the payload as sent (ciphertext for secret-carrying
 * instructions), and the card checks it before touching the ciphertext, so the padding
 * check below is no oracle. */
#include "uk_sm.h"
#include "uk_apdu.h"
#include "uk_crypto.h"
#include "uk_wipe.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>

#define SM_CLA_CHAIN 0x10       /* ISO 7816-4 §5.4.1 command chaining bit, not MACed */
#define SM_KEYS_LEN 48

int uk_sm_derive(uk_sm_session *s, uint8_t sid, const uint8_t x[32],
                 const uint8_t host_pub[65], const uint8_t card_pub[65])
{
	uint8_t z[32 + 65 + 65], k[SM_KEYS_LEN];
	int rc = -1;

	if (s == NULL || x == NULL || host_pub == NULL || card_pub == NULL)
		return -1;
	memcpy(z, x, 32);
	memcpy(z + 32, host_pub, 65);
	memcpy(z + 97, card_pub, 65);
	/* K = KDF_SM3(x || Q_host || Q_card, 48) (GM/T 0003.4 §5.4.3) */
	if (uk_sm3_kdf(z, sizeof(z), k, sizeof(k)) != 0)
		goto out;
	uk_sm_clear(s);
	s->sid = sid;
	memcpy(s->kenc, k, sizeof(s->kenc));
	memcpy(s->kmac, k + sizeof(s->kenc), sizeof(s->kmac));
	rc = 0;
out:
	uk_wipe(z, sizeof(z));
	uk_wipe(k, sizeof(k));
	return rc;
}

void uk_sm_clear(uk_sm_session *s)
{
	if (s != NULL)
		uk_wipe(s, sizeof(*s));
}

/* MAC = first 16 bytes of HMAC-SM3(k_mac, CLA INS P1 P2 || SID || CTR || PAYLOAD),
 * CLA without the chaining bit. field = SID || CTR || PAYLOAD. */
static int sm_mac(const uk_sm_session *s, const uint8_t hdr[4], const uint8_t *field,
                  size_t n, uint8_t mac[UK_SM_MAC_LEN])
{
	EVP_MAC *m = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	uint8_t full[UK_SM3_LEN];
	size_t len = 0;
	int rc = -1;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SM3", 0);
	params[1] = OSSL_PARAM_construct_end();
	m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	ctx = m != NULL ? EVP_MAC_CTX_new(m) : NULL;
	if (ctx == NULL || EVP_MAC_init(ctx, s->kmac, sizeof(s->kmac), params) != 1 ||
	    EVP_MAC_update(ctx, hdr, 4) != 1 || EVP_MAC_update(ctx, field, n) != 1 ||
	    EVP_MAC_final(ctx, full, &len, sizeof(full)) != 1 || len != sizeof(full))
		goto out;
	memcpy(mac, full, UK_SM_MAC_LEN);
	rc = 0;
out:
	uk_wipe(full, sizeof(full));
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(m);
	return rc;
}

static void sm_header(uint8_t hdr[4], uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2)
{
	hdr[0] = (uint8_t)(cla & ~SM_CLA_CHAIN);
	hdr[1] = ins;
	hdr[2] = p1;
	hdr[3] = p2;
}

/* IV = SM4-ECB(k_enc, CTR as a 16-byte big-endian block). */
static int sm_iv(const uk_sm_session *s, uint32_t ctr, uint8_t iv[UK_SM4_BLOCK])
{
	memset(iv, 0, UK_SM4_BLOCK);
	uk_set_u32(iv + UK_SM4_BLOCK - 4, ctr);
	return uk_sm4_ecb(1, s->kenc, iv, UK_SM4_BLOCK, iv);
}

/* Pad per ISO/IEC 7816-4 §5.6.3.4 (80 then 00s to a multiple of 16; always at least one
 * byte, so an empty payload becomes one block), encrypt, append to out. */
static int sm_encrypt_append(const uk_sm_session *s, uint32_t ctr, const uint8_t *p,
                             size_t n, uk_buf *out)
{
	uint8_t iv[UK_SM4_BLOCK];
	size_t padded = (n / UK_SM4_BLOCK + 1) * UK_SM4_BLOCK;
	uint8_t *dst;
	int rc = -1;

	if (n > UK_APDU_MAX_NC)
		return -1;
	dst = uk_buf_extend(out, padded);
	if (dst == NULL || sm_iv(s, ctr, iv) != 0)
		goto out;
	if (n > 0)
		memcpy(dst, p, n);
	dst[n] = 0x80;
	memset(dst + n + 1, 0, padded - n - 1);
	rc = uk_sm4_cbc(1, s->kenc, iv, dst, padded, dst);
	if (rc != 0)
		uk_wipe(dst, padded);  /* never leave plaintext in the output */
out:
	uk_wipe(iv, sizeof(iv));
	return rc;
}

int uk_sm_wrap(uk_sm_session *s, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
               const uint8_t *payload, size_t n, int encrypt, uk_buf *out)
{
	uint8_t hdr[4], mac[UK_SM_MAC_LEN];
	size_t start;
	uint32_t ctr;
	int rc = -1;

	if (s == NULL || out == NULL || (payload == NULL && n > 0) || !(cla & UK_SM_CLA_BIT) ||
	    s->ctr == UINT32_MAX || out->failed)
		return -1;
	start = out->len;
	ctr = s->ctr + 1;
	uk_buf_put_u8(out, s->sid);
	uk_buf_put_u32(out, ctr);
	if (encrypt) {
		if (sm_encrypt_append(s, ctr, payload, n, out) != 0)
			goto out;
	} else if (uk_buf_put(out, payload, n) != 0) {
		goto out;
	}
	sm_header(hdr, cla, ins, p1, p2);
	if (out->failed || sm_mac(s, hdr, out->data + start, out->len - start, mac) != 0 ||
	    uk_buf_put(out, mac, sizeof(mac)) != 0)
		goto out;
	s->ctr = ctr;
	rc = 0;
out:
	if (rc != 0 && out->len > start) {
		uk_wipe(out->data + start, out->len - start);
		out->len = start;
	}
	uk_wipe(mac, sizeof(mac));
	return rc;
}

/* -1 when the field is shorter than the minimum the card accepts (docs/apdu.md: data
 * shorter than 21 bytes is 6700), so the card can answer that before any session lookup. */
int uk_sm_data_sid(const uint8_t *data, size_t n)
{
	if (data == NULL || n < UK_SM_OVERHEAD)
		return -1;
	return data[0];
}

/* Decrypt ct (a whole number of blocks, at least one) and strip 80 00.. padding.
 * Returns the plain length or -1; buf receives the plaintext and is wiped by the caller. */
static long sm_decrypt(const uk_sm_session *s, uint32_t ctr, const uint8_t *ct, size_t n,
                       uint8_t *buf)
{
	uint8_t iv[UK_SM4_BLOCK];
	long len = -1;
	size_t i;

	if (n == 0 || n % UK_SM4_BLOCK != 0 || sm_iv(s, ctr, iv) != 0 ||
	    uk_sm4_cbc(0, s->kenc, iv, ct, n, buf) != 0)
		goto out;
	/* ISO/IEC 7816-4 §5.6.3.4: the padding is 80 followed by 0 to 15 zero bytes. */
	for (i = n; i > 0 && n - i < UK_SM4_BLOCK && buf[i - 1] == 0x00; i--)
		;
	if (i > 0 && n - i < UK_SM4_BLOCK && buf[i - 1] == 0x80)
		len = (long)(i - 1);
out:
	uk_wipe(iv, sizeof(iv));
	return len;
}

/* Put the (decrypted) payload into out; UK_SW_OK or an error, out unchanged on error. */
static uint16_t sm_payload_out(const uk_sm_session *s, uint32_t ctr, const uint8_t *p,
                               size_t n, int encrypted, uk_buf *out)
{
	uint8_t *plain;
	uint16_t sw = UK_SW_SM_INCORRECT;
	long len;

	if (!encrypted)
		return uk_buf_put(out, p, n) == 0 ? UK_SW_OK : UK_SW_UNKNOWN;
	plain = malloc(n ? n : 1);
	if (plain == NULL)
		return UK_SW_UNKNOWN;
	len = sm_decrypt(s, ctr, p, n, plain);
	if (len < 0)
		goto out;
	out->secret = 1;  /* before the append, so a reallocation wipes the old storage */
	sw = uk_buf_put(out, plain, (size_t)len) == 0 ? UK_SW_OK : UK_SW_UNKNOWN;
out:
	uk_wipe(plain, n);
	free(plain);
	return sw;
}

/* Checks in the order docs/apdu.md gives: length (6700), then session, counter, MAC,
 * padding (6988). s changes only when everything passed. */
uint16_t uk_sm_unwrap(uk_sm_session *s, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                      const uint8_t *data, size_t n, int encrypted, uk_buf *out)
{
	uint8_t hdr[4], mac[UK_SM_MAC_LEN];
	size_t plen, start;
	uint32_t ctr;
	uint16_t sw = UK_SW_SM_INCORRECT;

	if (uk_sm_data_sid(data, n) < 0)
		return UK_SW_WRONG_LENGTH;
	if (s == NULL || out == NULL)
		return UK_SW_UNKNOWN;
	start = out->len;
	ctr = uk_get_u32(data + 1);
	plen = n - UK_SM_OVERHEAD;
	if (data[0] != s->sid || ctr <= s->ctr)
		goto out;
	sm_header(hdr, cla, ins, p1, p2);
	if (sm_mac(s, hdr, data, UK_SM_HDR_LEN + plen, mac) != 0) {
		sw = UK_SW_UNKNOWN;
		goto out;
	}
	if (!uk_ct_equal(mac, data + UK_SM_HDR_LEN + plen, UK_SM_MAC_LEN))
		goto out;
	sw = sm_payload_out(s, ctr, data + UK_SM_HDR_LEN, plen, encrypted, out);
	if (sw == UK_SW_OK)
		s->ctr = ctr;
out:
	if (sw != UK_SW_OK && out->len > start) {
		uk_wipe(out->data + start, out->len - start);
		out->len = start;
	}
	uk_wipe(mac, sizeof(mac));
	return sw;
}
