/* token_import: enveloped import of the encryption pair (SPEC S2-1; GM/T 0016
 * SKF_ImportECCKeyPair) and SM4 session keys (docs/apdu.md IMPORT KEY PAIR, IMPORT SESSION
 * KEY, PSO ENCIPHER / DECIPHER). Every blob and ciphertext is made here with OpenSSL EVP
 * (ukt_envelope.c), never with the card's code:
 * - the official SM2 key d of gm-vectors.txt [sm2-encrypt] is imported as an encryption pair
 *   and deciphers the official ciphertext C1||C3||C2 to "encryption standard" (PSO mech 11);
 * - the 32-byte and the 64-byte cbEncryptedPriKey forms are both accepted;
 * - short, long, wrong-version, wrong-algorithm, mismatched-key and tampered blobs are refused
 *   with the documented status word and the state file unchanged;
 * - the imported private key is not in the state file in clear, and survives reopening;
 * - session keys: the official SM4 vector [sm4], ECB and CBC against EVP SM4, the table of 4,
 *   and the keys gone after a new session or a reset (6A88). */
#include <string.h>

#include <openssl/rand.h>

#include "token_util.h"
#include "uk_tlv.h"
#include "ukt_envelope.h"

static ukt_host h;

static size_t vec(const char *section, const char *name, uint8_t *out, size_t cap)
{
	long n = ukt_env_vector(UKEY_GM_VECTORS, section, name, out, cap);

	UK_CHECK(n >= 0);
	return (size_t)n;
}

static int mem_has(const uint8_t *hay, size_t hn, const uint8_t *needle, size_t n)
{
	size_t i;

	for (i = 0; i + n <= hn; i++)
		if (memcmp(hay + i, needle, n) == 0)
			return 1;
	return 0;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint16_t read_public(uint8_t kr, uint8_t pub[65])
{
	uk_tlv t, p;
	uint16_t sw = ukt_host_plain(&h, 0x00, 0x46, 0x81, kr, NULL, 0, 256);

	if (sw != 0x9000)
		return sw;
	UK_CHECK(uk_tlv_find(h.resp, h.rlen, 0x7F49, &t) == 1);
	UK_CHECK(uk_tlv_find(t.value, t.len, 0x86, &p) == 1 && p.len == 65);
	memcpy(pub, p.value, 65);
	return sw;
}

static uint16_t decipher_sm2(uint8_t kr, const uint8_t *ct, size_t n)
{
	uint8_t payload[512];

	UK_CHECK(n + 2 <= sizeof(payload));
	payload[0] = kr;
	payload[1] = 0x11;
	memcpy(payload + 2, ct, n);
	return ukt_host_secured(&h, 0x00, 0x2A, 0x80, 0x86, payload, n + 2, 0, 65536);
}

/* One refused import: the SW, and not a byte of the state file changed. */
static void refused(const char *dir, uint8_t kr, const uint8_t *blob, size_t n, uint16_t want)
{
	size_t slen;
	unsigned char *snap = tu_state_bytes(dir, &slen);

	UK_CHECK_EQ(ukt_host_import_keypair(&h, kr, blob, n), want);
	TU_CHECK_STATE_UNCHANGED(dir, snap, slen);
	free(snap);
}

/* Refusals of malformed or mismatched blobs for KR 1 (signing pair at KR 0). */
static void test_refusals(const char *dir, const uint8_t sign_pub[65], const uint8_t d[32],
                          const uint8_t pub[65])
{
	uint8_t od[32], opub[65];
	uk_buf b, big;

	uk_buf_init(&b, 0, 1);
	uk_buf_init(&big, 0, 1);
	UK_CHECK_EQ(ukt_env_build(sign_pub, d, pub, 0, &b), 0);
	refused(dir, 1, b.data, UKT_ENV_FIXED, 0x6700);                 /* Cipher missing */
	refused(dir, 1, b.data, 100, 0x6700);
	uk_buf_put(&big, b.data, b.len);
	uk_buf_put_u8(&big, 0);
	refused(dir, 1, big.data, big.len, 0x6700);                     /* one byte too many */
	put_le32(b.data + UKT_ENV_OFF_VERSION, 2);
	refused(dir, 1, b.data, b.len, 0x6A80);
	put_le32(b.data + UKT_ENV_OFF_VERSION, 1);
	put_le32(b.data + UKT_ENV_OFF_ALG, 0x00000101);                 /* SGD_SM1_ECB */
	refused(dir, 1, b.data, b.len, 0x6A80);
	put_le32(b.data + UKT_ENV_OFF_ALG, 0x00000402);                 /* SGD_SM4_CBC */
	refused(dir, 1, b.data, b.len, 0x6A80);
	put_le32(b.data + UKT_ENV_OFF_ALG, 0x00000401);
	b.data[UKT_ENV_OFF_PUB + 4] = 1;                                /* X not left-padded */
	refused(dir, 1, b.data, b.len, 0x6A80);
	b.data[UKT_ENV_OFF_PUB + 4] = 0;
	b.data[UKT_ENV_FIXED + 3] ^= 0x01;                              /* Cipher tampered */
	refused(dir, 1, b.data, b.len, 0x6A80);
	b.data[UKT_ENV_FIXED + 3] ^= 0x01;
	b.data[UKT_ENV_OFF_HASH] ^= 0x80;                               /* C3 tampered */
	refused(dir, 1, b.data, b.len, 0x6A80);
	b.data[UKT_ENV_OFF_HASH] ^= 0x80;
	b.data[UKT_ENV_OFF_CX + 63] ^= 0x01;                            /* C1 off the curve */
	refused(dir, 1, b.data, b.len, 0x6A80);
	/* a public key that is not d * G */
	UK_CHECK_EQ(ukt_env_sm2_keygen(od, opub), 0);
	UK_CHECK_EQ(ukt_env_build(sign_pub, d, opub, 0, &b), 0);
	refused(dir, 1, b.data, b.len, 0x6A80);
	/* the private key field tampered (64-byte form: top half no longer zero, or d wrong) */
	UK_CHECK_EQ(ukt_env_build(sign_pub, d, pub, 1, &b), 0);
	b.data[UKT_ENV_OFF_PRIV + 40] ^= 0x01;                          /* d changes */
	refused(dir, 1, b.data, b.len, 0x6A80);
	b.data[UKT_ENV_OFF_PRIV + 40] ^= 0x01;
	b.data[UKT_ENV_OFF_PRIV + 5] ^= 0x01;                           /* top half not 0 */
	refused(dir, 1, b.data, b.len, 0x6A80);
	/* the SM4 key encrypted to another public key than the container's signing key */
	UK_CHECK_EQ(ukt_env_build(opub, d, pub, 0, &b), 0);
	refused(dir, 1, b.data, b.len, 0x6A80);
	/* references: a signing reference, KR above 31, a container without signing pair */
	UK_CHECK_EQ(ukt_env_build(sign_pub, d, pub, 0, &b), 0);
	refused(dir, 0, b.data, b.len, 0x6A86);
	refused(dir, 33, b.data, b.len, 0x6A86);
	refused(dir, 3, b.data, b.len, 0x6A88);                         /* container 1: empty */
	refused(dir, 5, b.data, b.len, 0x6A88);                         /* container 2: absent */
	uk_buf_free(&b);
	uk_buf_free(&big);
}

/* The official SM2 encryption vector (GM/T 0003 Annex C.2) deciphered by the imported key. */
static void test_official_vector(void)
{
	uint8_t c1[65], c3[32], c2[64], ct[256], msg[64];
	size_t l1, l3, l2, lm;

	l1 = vec("sm2-encrypt", "c1", c1, sizeof(c1));
	l3 = vec("sm2-encrypt", "c3", c3, sizeof(c3));
	l2 = vec("sm2-encrypt", "c2", c2, sizeof(c2));
	lm = vec("sm2-encrypt", "msg", msg, sizeof(msg));
	UK_CHECK(l1 == 65 && l3 == 32 && l2 == lm);
	memcpy(ct, c1, 65);
	memcpy(ct + 65, c3, 32);
	memcpy(ct + 97, c2, l2);
	UK_CHECK_EQ(decipher_sm2(1, ct, 97 + l2), 0x9000);
	UK_CHECK_EQ(h.rlen, lm);
	UK_CHECK_MEM(h.resp, msg, lm);
	UK_CHECK(memcmp(h.resp, "encryption standard", 19) == 0);
	ct[97] ^= 1;
	UK_CHECK_EQ(decipher_sm2(1, ct, 97 + l2), 0x6A80);
}

/* ECB and CBC with the session key `key` (handle), against EVP SM4. */
static void check_sm4(uint8_t handle, const uint8_t key[16])
{
	uint8_t data[80], iv[16], want[80];

	UK_CHECK_EQ(RAND_bytes(data, sizeof(data)), 1);
	UK_CHECK_EQ(RAND_bytes(iv, sizeof(iv)), 1);
	UK_CHECK_EQ(ukt_env_sm4(1, key, NULL, data, sizeof(data), want), 0);
	UK_CHECK_EQ(ukt_host_sm4(&h, 1, handle, 0x01, NULL, data, sizeof(data)), 0x9000);
	UK_CHECK_EQ(h.rlen, sizeof(data));
	UK_CHECK_MEM(h.resp, want, sizeof(want));
	UK_CHECK_EQ(ukt_host_sm4(&h, 0, handle, 0x01, NULL, want, sizeof(want)), 0x9000);
	UK_CHECK_MEM(h.resp, data, sizeof(data));
	UK_CHECK_EQ(ukt_env_sm4(1, key, iv, data, sizeof(data), want), 0);
	UK_CHECK_EQ(ukt_host_sm4(&h, 1, handle, 0x02, iv, data, sizeof(data)), 0x9000);
	UK_CHECK_EQ(h.rlen, sizeof(data));
	UK_CHECK_MEM(h.resp, want, sizeof(want));
	UK_CHECK_EQ(ukt_host_sm4(&h, 0, handle, 0x02, iv, want, sizeof(want)), 0x9000);
	UK_CHECK_MEM(h.resp, data, sizeof(data));
}

/* GENERATE SESSION KEY (84 E8 01 00): a key drawn by the card, usable like an imported one;
 * its value never leaves the card, so the test checks what it can: ECB and CBC agree with
 * each other as SM4 does (CBC of one block with a zero IV is ECB), decryption inverts, two
 * keys differ. */
static void test_generated_session_key(void)
{
	uint8_t data[32], ecb[32], ecb2[32], zero[16] = { 0 }, hd, h2, one = 1;
	uk_tlv t;

	UK_CHECK_EQ(RAND_bytes(data, sizeof(data)), 1);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x80, 0xE8, 0x01, 0x00, NULL, 0, 0, 256), 0x9000);
	UK_CHECK_EQ(h.rlen, 3);
	UK_CHECK_EQ(uk_tlv_find(h.resp, h.rlen, 0x80, &t), 1);
	hd = t.value[0];
	UK_CHECK(hd != 0);
	UK_CHECK_EQ(ukt_host_sm4(&h, 1, hd, 0x01, NULL, data, sizeof(data)), 0x9000);
	UK_CHECK_EQ(h.rlen, sizeof(data));
	memcpy(ecb, h.resp, sizeof(ecb));
	UK_CHECK(memcmp(ecb, data, sizeof(data)) != 0);
	UK_CHECK_EQ(ukt_host_sm4(&h, 1, hd, 0x02, zero, data, 16), 0x9000);
	UK_CHECK_MEM(h.resp, ecb, 16);
	UK_CHECK_EQ(ukt_host_sm4(&h, 0, hd, 0x01, NULL, ecb, sizeof(ecb)), 0x9000);
	UK_CHECK_MEM(h.resp, data, sizeof(data));
	UK_CHECK_EQ(ukt_host_secured(&h, 0x80, 0xE8, 0x01, 0x00, NULL, 0, 0, 256), 0x9000);
	UK_CHECK_EQ(uk_tlv_find(h.resp, h.rlen, 0x80, &t), 1);
	h2 = t.value[0];
	UK_CHECK(h2 != hd);
	UK_CHECK_EQ(ukt_host_sm4(&h, 1, h2, 0x01, NULL, data, sizeof(data)), 0x9000);
	memcpy(ecb2, h.resp, sizeof(ecb2));
	UK_CHECK(memcmp(ecb2, ecb, sizeof(ecb)) != 0);
	/* refusals: P2 other than 00, a payload, no user PIN */
	UK_CHECK_EQ(ukt_host_secured(&h, 0x80, 0xE8, 0x01, 0x01, NULL, 0, 0, 256), 0x6A86);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x80, 0xE8, 0x02, 0x00, NULL, 0, 0, 256), 0x6A86);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x80, 0xE8, 0x01, 0x00, &one, 1, 0, 256), 0x6700);
	UK_CHECK_EQ(ukt_host_plain(&h, 0x80, 0xE8, 0x01, 0x00, NULL, 0, 256), 0x6987);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x20, 0xFF, 0x81, NULL, 0, 1, UKT_HOST_NO_LE),
	            0x9000);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x80, 0xE8, 0x01, 0x00, NULL, 0, 0, 256), 0x6982);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	UK_CHECK_EQ(ukt_host_sm4(&h, 1, h2, 0x01, NULL, data, 16), 0x6A88); /* gone with logout */
}

static void test_session_keys(ukt_card *card, const uint8_t pub[65])
{
	uint8_t key[16], pt[16], ct[16], k2[16], raw[113], hd, h2, hs[5];
	uint8_t bad[2] = { 0, 0x01 };
	size_t i;

	UK_CHECK_EQ(vec("sm4", "key", key, 16), 16);
	UK_CHECK_EQ(vec("sm4", "plaintext", pt, 16), 16);
	UK_CHECK_EQ(vec("sm4", "ciphertext", ct, 16), 16);
	UK_CHECK_EQ(ukt_host_import_session_key(&h, 1, key, pub, &hd), 0x9000);
	UK_CHECK(hd != 0);
	UK_CHECK_EQ(ukt_host_sm4(&h, 1, hd, 0x01, NULL, pt, 16), 0x9000);
	UK_CHECK_EQ(h.rlen, 16);
	UK_CHECK_MEM(h.resp, ct, 16);                   /* GB/T 32907 Annex A example 1 */
	UK_CHECK_EQ(ukt_host_sm4(&h, 0, hd, 0x01, NULL, ct, 16), 0x9000);
	UK_CHECK_MEM(h.resp, pt, 16);
	check_sm4(hd, key);
	UK_CHECK_EQ(RAND_bytes(k2, 16), 1);
	UK_CHECK_EQ(ukt_host_import_session_key(&h, 1, k2, pub, &h2), 0x9000);
	UK_CHECK(h2 != hd);
	check_sm4(h2, k2);
	/* refusals */
	UK_CHECK_EQ(ukt_host_sm4(&h, 1, 0xEE, 0x01, NULL, pt, 16), 0x6A88);
	UK_CHECK_EQ(ukt_host_sm4(&h, 1, hd, 0x03, NULL, pt, 16), 0x6A80);
	UK_CHECK_EQ(ukt_host_sm4(&h, 1, hd, 0x01, NULL, pt, 15), 0x6700);
	UK_CHECK_EQ(ukt_host_sm4(&h, 1, hd, 0x01, NULL, pt, 0), 0x6700);
	UK_CHECK_EQ(ukt_host_sm4(&h, 1, hd, 0x02, pt, pt, 0), 0x6700);
	bad[0] = hd;
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x2A, 0x84, 0x80, bad, 1, 0, 256), 0x6700);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x2A, 0x84, 0x81, bad, 2, 0, 256), 0x6A86);
	UK_CHECK_EQ(ukt_host_import_session_key(&h, 5, key, pub, NULL), 0x6A88);
	UK_CHECK_EQ(ukt_host_import_session_key(&h, 3, key, pub, NULL), 0x6A80); /* not pub2 */
	UK_CHECK_EQ(ukt_host_import_session_key(&h, 0, key, pub, NULL), 0x6A86);
	UK_CHECK_EQ(ukt_env_sm2_encrypt(pub, key, 16, raw, sizeof(raw)), sizeof(raw));
	UK_CHECK_EQ(ukt_host_secured(&h, 0x80, 0xE8, 0x00, 1, raw, 112, 0, 256), 0x6700);
	raw[100] ^= 1;
	UK_CHECK_EQ(ukt_host_secured(&h, 0x80, 0xE8, 0x00, 1, raw, sizeof(raw), 0, 256), 0x6A80);
	/* the table holds 4: a fifth import replaces the oldest (hd) */
	for (i = 0; i < 3; i++)
		UK_CHECK_EQ(ukt_host_import_session_key(&h, 1, key, pub, &hs[i]), 0x9000);
	UK_CHECK_EQ(ukt_host_sm4(&h, 1, hd, 0x01, NULL, pt, 16), 0x6A88);
	UK_CHECK_EQ(ukt_host_sm4(&h, 1, h2, 0x01, NULL, pt, 16), 0x9000);
	UK_CHECK_EQ(ukt_host_sm4(&h, 1, hs[2], 0x01, NULL, pt, 16), 0x9000);
	UK_CHECK_MEM(h.resp, ct, 16);
	/* gone with the session: a new session, then a reset */
	UK_CHECK_EQ(ukt_host_open_session(&h), 0x9000);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	UK_CHECK_EQ(ukt_host_sm4(&h, 1, h2, 0x01, NULL, pt, 16), 0x6A88);
	UK_CHECK_EQ(ukt_host_sm4(&h, 1, hs[2], 0x01, NULL, pt, 16), 0x6A88);
	UK_CHECK_EQ(ukt_host_import_session_key(&h, 1, key, pub, &hd), 0x9000);
	UK_CHECK_EQ(ukt_host_sm4(&h, 1, hd, 0x01, NULL, pt, 16), 0x9000);
	/* gone with the user login: logout (VERIFY P1 FF), then a new VERIFY does not bring it back */
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x20, 0xFF, 0x81, NULL, 0, 1, UKT_HOST_NO_LE),
	            0x9000);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	UK_CHECK_EQ(ukt_host_sm4(&h, 1, hd, 0x01, NULL, pt, 16), 0x6A88);
	UK_CHECK_EQ(ukt_host_import_session_key(&h, 1, key, pub, &hd), 0x9000);
	UK_CHECK_EQ(ukt_host_sm4(&h, 1, hd, 0x01, NULL, pt, 16), 0x9000);
	UK_CHECK_EQ(ukt_card_power(card, UKT_POWER_RESET), 0);
	UK_CHECK_EQ(ukt_host_select(&h), 0x9000);
	UK_CHECK_EQ(ukt_host_open_session(&h), 0x9000);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	UK_CHECK_EQ(ukt_host_sm4(&h, 1, hd, 0x01, NULL, pt, 16), 0x6A88);
	/* no PIN: refused before anything */
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x20, 0xFF, 0x81, NULL, 0, 0, UKT_HOST_NO_LE),
	            0x9000);
	UK_CHECK_EQ(ukt_host_import_session_key(&h, 1, key, pub, NULL), 0x6982);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
}

int main(void)
{
	uint8_t d[32], pub[65], sign_pub[65], got[65], d2[32], pub2[65], sign2[65], ct[256];
	uint8_t msg[] = "S2-1 bid envelope";
	char *dir = tu_tmpdir();
	unsigned char *st;
	size_t slen, n;
	ukt_card *card;
	uk_buf b;

	uk_buf_init(&b, 0, 1);
	UK_CHECK_EQ(vec("sm2-encrypt", "d", d, 32), 32);
	UK_CHECK_EQ(ukt_env_sm2_pub(d, pub), 0);
	card = tu_card_logged_in(dir, &h);
	UK_CHECK_EQ(ukt_host_create_container(&h, "holder"), 0x9000);
	UK_CHECK_EQ(ukt_host_create_container(&h, "no keys"), 0x9000);
	UK_CHECK_EQ(ukt_host_generate(&h, 0, 0x01, sign_pub), 0x9000);

	/* no PIN verified in the session: 6982 */
	UK_CHECK_EQ(ukt_env_build(sign_pub, d, pub, 0, &b), 0);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x20, 0xFF, 0x81, NULL, 0, 0, UKT_HOST_NO_LE),
	            0x9000);
	refused(dir, 1, b.data, b.len, 0x6982);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	/* plain: 6987 */
	UK_CHECK_EQ(ukt_host_plain(&h, 0x80, 0xE6, 0x00, 0x01, b.data, b.len, UKT_HOST_NO_LE),
	            0x6987);
	test_refusals(dir, sign_pub, d, pub);
	UK_CHECK_EQ(read_public(1, got), 0x6A88);
	/* a P-256 signing pair cannot protect an SM2 envelope: 6A88 */
	UK_CHECK_EQ(ukt_host_create_container(&h, "p256"), 0x9000);
	UK_CHECK_EQ(ukt_host_generate(&h, 4, 0x02, got), 0x9000);
	refused(dir, 5, b.data, b.len, 0x6A88);

	/* 32-byte form with the official key */
	UK_CHECK_EQ(ukt_env_build(sign_pub, d, pub, 0, &b), 0);
	UK_CHECK_EQ(ukt_host_import_keypair(&h, 1, b.data, b.len), 0x9000);
	UK_CHECK_EQ(h.rlen, 0);
	UK_CHECK_EQ(read_public(1, got), 0x9000);
	UK_CHECK_MEM(got, pub, 65);
	UK_CHECK_EQ(read_public(0, got), 0x9000);
	UK_CHECK_MEM(got, sign_pub, 65);                /* the signing pair is untouched */
	test_official_vector();
	st = tu_state_bytes(dir, &slen);
	UK_CHECK(!mem_has(st, slen, d, 32));            /* sealed at rest (S0-K6) */
	free(st);

	/* 64-byte form, a fresh key, in a second container with its own signing pair */
	UK_CHECK_EQ(ukt_host_generate(&h, 2, 0x01, sign2), 0x9000);
	UK_CHECK_EQ(ukt_env_sm2_keygen(d2, pub2), 0);
	UK_CHECK_EQ(ukt_env_build(sign2, d2, pub2, 1, &b), 0);
	UK_CHECK_EQ(ukt_host_import_keypair(&h, 1, b.data, b.len), 0x6A80); /* wrong sign key */
	UK_CHECK_EQ(ukt_host_import_keypair(&h, 3, b.data, b.len), 0x9000);
	n = ukt_env_sm2_encrypt(pub2, msg, sizeof(msg), ct, sizeof(ct));
	UK_CHECK_EQ(n, 97 + sizeof(msg));
	UK_CHECK_EQ(decipher_sm2(3, ct, n), 0x9000);
	UK_CHECK_EQ(h.rlen, sizeof(msg));
	UK_CHECK_MEM(h.resp, msg, sizeof(msg));
	test_session_keys(card, pub);
	test_generated_session_key();

	/* the imported pair survives reopening the card */
	ukt_card_close(card);
	card = tu_card_logged_in(dir, &h);
	test_official_vector();
	UK_CHECK_EQ(decipher_sm2(3, ct, n), 0x9000);
	UK_CHECK_MEM(h.resp, msg, sizeof(msg));
	ukt_card_close(card);
	uk_buf_free(&b);
	tu_rmdir(dir);
	free(dir);
	return uk_test_done("token_import");
}
