/* common_sm: the secure session of docs/apdu.md. The keys, the MAC and the encryption
 * are recomputed here from the profile text with plain EVP calls, so the framing is
 * checked against the document, not against itself. */
#include "uk_sm.h"
#include "uk_apdu.h"
#include "uk_crypto.h"
#include "uk_wipe.h"
#include "uk_test.h"

#include <openssl/evp.h>

#define SID 5
#define CLA 0x04
#define INS 0x20
#define P1 0x00
#define P2 0x81

static const uint8_t pin[] = { 'u', 's', 'e', 'r', '1', '2', '3', '4' };

/* ---- independent implementation of the profile ---- */

static void ref_kdf48(const uint8_t x[32], const uint8_t qh[65], const uint8_t qc[65],
                      uint8_t k[48])
{
	uint8_t ct[4] = { 0, 0, 0, 1 }, h[32];
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	UK_CHECK(md != NULL);
	for (; ct[3] <= 2; ct[3]++) {
		UK_CHECK(EVP_DigestInit_ex(md, EVP_sm3(), NULL) == 1);
		UK_CHECK(EVP_DigestUpdate(md, x, 32) == 1);
		UK_CHECK(EVP_DigestUpdate(md, qh, 65) == 1);
		UK_CHECK(EVP_DigestUpdate(md, qc, 65) == 1);
		UK_CHECK(EVP_DigestUpdate(md, ct, 4) == 1);
		UK_CHECK(EVP_DigestFinal_ex(md, h, NULL) == 1);
		memcpy(k + 32 * (ct[3] - 1), h, ct[3] == 1 ? 32 : 16);
	}
	EVP_MD_CTX_free(md);
}

static void ref_mac(const uint8_t kmac[32], const uint8_t hdr[4], const uint8_t *field,
                    size_t n, uint8_t mac[16])
{
	uint8_t in[600], full[32];
	size_t len;

	UK_CHECK(n + 4 <= sizeof(in));
	memcpy(in, hdr, 4);
	memcpy(in + 4, field, n);
	UK_CHECK(EVP_Q_mac(NULL, "HMAC", NULL, "SM3", NULL, kmac, 32, in, n + 4, full,
	                   sizeof(full), &len) != NULL);
	memcpy(mac, full, 16);
}

static void ref_sm4(const char *name, int enc, const uint8_t key[16], const uint8_t *iv,
                    const uint8_t *in, size_t n, uint8_t *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int len;

	UK_CHECK(c != NULL);
	UK_CHECK(EVP_CipherInit_ex(c, EVP_get_cipherbyname(name), NULL, key, iv, enc) == 1);
	UK_CHECK(EVP_CIPHER_CTX_set_padding(c, 0) == 1);
	UK_CHECK(EVP_CipherUpdate(c, out, &len, in, (int)n) == 1 && (size_t)len == n);
	EVP_CIPHER_CTX_free(c);
}

static void ref_iv(const uint8_t kenc[16], uint32_t ctr, uint8_t iv[16])
{
	uint8_t blk[16] = { 0 };

	uk_set_u32(blk + 12, ctr);
	ref_sm4("SM4-ECB", 1, kenc, NULL, blk, 16, iv);
}

/* Build SID || CTR || E(padded) || MAC by hand; pad_byte lets a test spoil the padding. */
static size_t ref_wrap_enc(const uint8_t kenc[16], const uint8_t kmac[32], uint32_t ctr,
                           const uint8_t *p, size_t n, uint8_t pad_byte, uint8_t *field)
{
	uint8_t hdr[4] = { CLA, INS, P1, P2 }, iv[16], plain[64];
	size_t padded = (n / 16 + 1) * 16;

	UK_CHECK(padded <= sizeof(plain));
	memset(plain, 0, sizeof(plain));
	memcpy(plain, p, n);
	plain[n] = pad_byte;
	field[0] = SID;
	uk_set_u32(field + 1, ctr);
	ref_iv(kenc, ctr, iv);
	ref_sm4("SM4-CBC", 1, kenc, iv, plain, padded, field + 5);
	ref_mac(kmac, hdr, field, 5 + padded, field + 5 + padded);
	return 5 + padded + 16;
}

/* ---- session set-up: two ECDH key pairs ---- */

static void open_session(uk_sm_session *host, uk_sm_session *card)
{
	uint8_t qh[65], qc[65], xh[32], xc[32], k[48];
	EVP_PKEY *h = uk_ecdh_sm2_generate(), *c = uk_ecdh_sm2_generate();

	UK_CHECK(h != NULL && c != NULL);
	UK_CHECK(uk_ecdh_sm2_public(h, qh) == 0 && uk_ecdh_sm2_public(c, qc) == 0);
	UK_CHECK(memcmp(qh, qc, 65) != 0);
	UK_CHECK(uk_ecdh_sm2_derive(h, qc, xh) == 0);
	UK_CHECK(uk_ecdh_sm2_derive(c, qh, xc) == 0);
	UK_CHECK_MEM(xh, xc, 32);
	UK_CHECK(uk_sm_derive(host, SID, xh, qh, qc) == 0);
	UK_CHECK(uk_sm_derive(card, SID, xc, qh, qc) == 0);
	UK_CHECK_MEM(host->kenc, card->kenc, 16);
	UK_CHECK_MEM(host->kmac, card->kmac, 32);
	UK_CHECK(host->sid == SID && host->ctr == 0 && card->ctr == 0);
	ref_kdf48(xh, qh, qc, k);
	UK_CHECK_MEM(host->kenc, k, 16);
	UK_CHECK_MEM(host->kmac, k + 16, 32);
	UK_CHECK(uk_sm_derive(host, SID, xh, qc, qh) == 0);  /* order of the points matters */
	UK_CHECK(memcmp(host->kmac, card->kmac, 32) != 0);
	UK_CHECK(uk_sm_derive(host, SID, xh, qh, qc) == 0);
	EVP_PKEY_free(h);
	EVP_PKEY_free(c);
}

static int contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
	size_t i;

	for (i = 0; i + m <= n; i++)
		if (memcmp(hay + i, needle, m) == 0)
			return 1;
	return 0;
}

/* ---- tests ---- */

static void test_roundtrip(uk_sm_session *host, uk_sm_session *card)
{
	static const size_t sizes[] = { 0, 1, 8, 15, 16, 17, 200 };
	uint8_t payload[200], hdr[4] = { CLA, INS, P1, P2 }, mac[16], iv[16], plain[224];
	uk_buf w, out;
	size_t i, j, n, padded;
	int enc;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(0x30 + i % 10);
	for (enc = 0; enc <= 1; enc++) {
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			n = sizes[i];
			padded = enc ? (n / 16 + 1) * 16 : n;
			uk_buf_init(&w, 0, 0);
			uk_buf_init(&out, 0, 0);
			UK_CHECK(uk_sm_wrap(host, CLA, INS, P1, P2, payload, n, enc, &w) == 0);
			UK_CHECK_EQ(w.len, UK_SM_OVERHEAD + padded);
			UK_CHECK_EQ(w.data[0], SID);
			UK_CHECK_EQ(uk_get_u32(w.data + 1), host->ctr);
			ref_mac(card->kmac, hdr, w.data, 5 + padded, mac);
			UK_CHECK_MEM(w.data + 5 + padded, mac, 16);
			if (enc) {
				ref_iv(card->kenc, host->ctr, iv);
				ref_sm4("SM4-CBC", 0, card->kenc, iv, w.data + 5, padded, plain);
				UK_CHECK_MEM(plain, payload, n);
				UK_CHECK_EQ(plain[n], 0x80);
				for (j = n + 1; j < padded; j++)
					UK_CHECK_EQ(plain[j], 0);
			}
			UK_CHECK_EQ(uk_sm_data_sid(w.data, w.len), SID);
			UK_CHECK_EQ(uk_sm_unwrap(card, CLA, INS, P1, P2, w.data, w.len, enc, &out),
			            UK_SW_OK);
			UK_CHECK_EQ(out.len, n);
			UK_CHECK(n == 0 || memcmp(out.data, payload, n) == 0);
			UK_CHECK_EQ(out.secret, enc);
			UK_CHECK_EQ(card->ctr, host->ctr);
			uk_buf_free(&w);
			uk_buf_free(&out);
		}
	}
}

/* The PIN must not appear in the wrapped field, in any alignment. */
static void test_confidential(uk_sm_session *host)
{
	uk_buf w;

	uk_buf_init(&w, 0, 0);
	UK_CHECK(uk_sm_wrap(host, CLA, INS, P1, P2, pin, sizeof(pin), 1, &w) == 0);
	UK_CHECK(!contains(w.data, w.len, pin, sizeof(pin)));
	UK_CHECK(!contains(w.data, w.len, pin, 3));
	uk_buf_reset(&w);
	UK_CHECK(uk_sm_wrap(host, CLA, INS, P1, P2, pin, sizeof(pin), 0, &w) == 0);
	UK_CHECK(contains(w.data, w.len, pin, sizeof(pin)));  /* the search does work */
	uk_buf_free(&w);
}

/* Expect sw, with the card session and out untouched. */
static void expect_refused(uk_sm_session *card, uint8_t cla, uint8_t ins, uint8_t p1,
                           uint8_t p2, const uint8_t *d, size_t n, int enc, uint16_t sw)
{
	uk_sm_session before = *card;
	uk_buf out;

	uk_buf_init(&out, 0, 0);
	UK_CHECK(uk_buf_put(&out, "keep", 4) == 0);
	UK_CHECK_EQ(uk_sm_unwrap(card, cla, ins, p1, p2, d, n, enc, &out), sw);
	UK_CHECK(memcmp(&before, card, sizeof(before)) == 0);
	UK_CHECK(out.len == 4 && memcmp(out.data, "keep", 4) == 0);
	uk_buf_free(&out);
}

static void test_refusals(uk_sm_session *host, uk_sm_session *card)
{
	uint8_t f[128];
	uk_buf w, out;
	size_t n, i;

	uk_buf_init(&w, 0, 0);
	UK_CHECK(uk_sm_wrap(host, CLA, INS, P1, P2, pin, sizeof(pin), 1, &w) == 0);
	n = w.len;
	UK_CHECK(n <= sizeof(f));
	memcpy(f, w.data, n);
	uk_buf_free(&w);

	/* every single-bit flip anywhere in the field */
	for (i = 0; i < n * 8; i++) {
		f[i / 8] ^= (uint8_t)(1u << (i % 8));
		expect_refused(card, CLA, INS, P1, P2, f, n, 1,
		               UK_SW_SM_INCORRECT);
		f[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	/* wrong header byte (CLA, INS, P1, P2) */
	expect_refused(card, CLA | 0x80, INS, P1, P2, f, n, 1, UK_SW_SM_INCORRECT);
	expect_refused(card, CLA, 0x24, P1, P2, f, n, 1, UK_SW_SM_INCORRECT);
	expect_refused(card, CLA, INS, 0xFF, P2, f, n, 1, UK_SW_SM_INCORRECT);
	expect_refused(card, CLA, INS, P1, 0x82, f, n, 1, UK_SW_SM_INCORRECT);
	/* truncated: below the minimum is a length error, otherwise the MAC fails */
	for (i = 0; i < UK_SM_OVERHEAD; i++)
		expect_refused(card, CLA, INS, P1, P2, f, i, 1, UK_SW_WRONG_LENGTH);
	expect_refused(card, CLA, INS, P1, P2, NULL, 0, 1, UK_SW_WRONG_LENGTH);
	expect_refused(card, CLA, INS, P1, P2, f, n - 1, 1, UK_SW_SM_INCORRECT);
	expect_refused(card, CLA, INS, P1, P2, f + 1, n - 1, 1, UK_SW_SM_INCORRECT);
	/* a plain field where an encrypted one is expected: authentic, but no valid
	 * ciphertext (8 bytes, not a whole block), so 6988 */
	uk_buf_init(&w, 0, 0);
	UK_CHECK(uk_sm_wrap(host, CLA, INS, P1, P2, pin, sizeof(pin), 0, &w) == 0);
	expect_refused(card, CLA, INS, P1, P2, w.data, w.len, 1, UK_SW_SM_INCORRECT);
	uk_buf_free(&w);

	/* the intact field is accepted (chaining bit ignored by the MAC), then replayed */
	uk_buf_init(&out, 0, 0);
	UK_CHECK_EQ(uk_sm_unwrap(card, CLA | 0x10, INS, P1, P2, f, n, 1, &out), UK_SW_OK);
	UK_CHECK(out.len == sizeof(pin) && memcmp(out.data, pin, sizeof(pin)) == 0);
	uk_buf_free(&out);
	expect_refused(card, CLA, INS, P1, P2, f, n, 1, UK_SW_SM_INCORRECT);
}

/* Counter: gaps are allowed, going back is not; wrap refuses misuse without side effects. */
static void test_counter(uk_sm_session *host, uk_sm_session *card)
{
	uk_buf a, b, out;
	uint32_t ctr;

	uk_buf_init(&a, 0, 0);
	uk_buf_init(&b, 0, 0);
	uk_buf_init(&out, 0, 0);
	UK_CHECK(uk_sm_wrap(host, CLA, 0x2A, 0x9E, 0x9A, pin, 2, 0, &a) == 0);
	UK_CHECK(uk_sm_wrap(host, CLA, 0x2A, 0x9E, 0x9A, pin, 2, 0, &b) == 0);
	UK_CHECK_EQ(uk_get_u32(b.data + 1), uk_get_u32(a.data + 1) + 1);
	UK_CHECK_EQ(uk_sm_unwrap(card, CLA, 0x2A, 0x9E, 0x9A, b.data, b.len, 0, &out), UK_SW_OK);
	expect_refused(card, CLA, 0x2A, 0x9E, 0x9A, a.data, a.len, 0, UK_SW_SM_INCORRECT);
	uk_buf_reset(&a);
	ctr = host->ctr;
	UK_CHECK(uk_sm_wrap(host, 0x00, INS, P1, P2, pin, 2, 0, &a) == -1);  /* CLA bit clear */
	UK_CHECK(host->ctr == ctr && a.len == 0);
	host->ctr = UINT32_MAX;
	UK_CHECK(uk_sm_wrap(host, CLA, INS, P1, P2, pin, 2, 0, &a) == -1);   /* exhausted */
	UK_CHECK(host->ctr == UINT32_MAX && a.len == 0);
	host->ctr = ctr;
	uk_buf_free(&a);
	uk_buf_init(&a, 10, 0);  /* too small for the field: nothing is left behind */
	UK_CHECK(uk_sm_wrap(host, CLA, INS, P1, P2, pin, 2, 0, &a) == -1);
	UK_CHECK(host->ctr == ctr && a.len == 0);
	uk_buf_free(&a);
	uk_buf_free(&b);
	uk_buf_free(&out);
}

/* A field built from the document alone (not by uk_sm_wrap) is accepted; the same
 * field with spoilt padding and a valid MAC is refused. A session of another SID too. */
static void test_reference_fields(uk_sm_session *card)
{
	uint8_t f[128];
	uk_buf out;
	size_t n;

	uk_buf_init(&out, 0, 0);
	n = ref_wrap_enc(card->kenc, card->kmac, card->ctr + 7, pin, sizeof(pin), 0x80, f);
	UK_CHECK_EQ(uk_sm_unwrap(card, CLA, INS, P1, P2, f, n, 1, &out), UK_SW_OK);
	UK_CHECK(out.len == sizeof(pin) && memcmp(out.data, pin, sizeof(pin)) == 0);
	n = ref_wrap_enc(card->kenc, card->kmac, card->ctr + 1, pin, sizeof(pin), 0x81, f);
	expect_refused(card, CLA, INS, P1, P2, f, n, 1, UK_SW_SM_INCORRECT);
	/* 15 bytes then 00: the block holds no 80 at all */
	n = ref_wrap_enc(card->kenc, card->kmac, card->ctr + 1, (const uint8_t *)"0123456789abcde",
	                 15, 0x00, f);
	expect_refused(card, CLA, INS, P1, P2, f, n, 1, UK_SW_SM_INCORRECT);
	n = ref_wrap_enc(card->kenc, card->kmac, card->ctr + 1, pin, sizeof(pin), 0x80, f);
	f[0] = SID + 1;  /* another session's SID (MAC recomputed so only the SID is wrong) */
	{
		uint8_t hdr[4] = { CLA, INS, P1, P2 };

		ref_mac(card->kmac, hdr, f, n - 16, f + n - 16);
	}
	expect_refused(card, CLA, INS, P1, P2, f, n, 1, UK_SW_SM_INCORRECT);
	UK_CHECK_EQ(uk_sm_data_sid(f, n), SID + 1);
	UK_CHECK_EQ(uk_sm_data_sid(f, UK_SM_OVERHEAD - 1), -1);
	uk_buf_free(&out);
}

int main(void)
{
	uk_sm_session host, card, zero;

	memset(&host, 0xAA, sizeof(host));
	memset(&card, 0x55, sizeof(card));
	open_session(&host, &card);
	test_roundtrip(&host, &card);
	test_confidential(&host);
	test_refusals(&host, &card);
	test_counter(&host, &card);
	test_reference_fields(&card);
	uk_sm_clear(&host);
	memset(&zero, 0, sizeof(zero));
	UK_CHECK(memcmp(&host, &zero, sizeof(zero)) == 0);
	uk_sm_clear(&card);
	return uk_test_done("common_sm");
}
