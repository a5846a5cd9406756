/* SPEC S0-B1: the key supports SM2 and the national algorithm family. GET DATA 00 tag 87
 * (docs/apdu.md: 2-byte mask, bit 0 SM2, 1 ECDSA P-256, 2 RSA-2048, 3 SM3, 4 SM4, set for what
 * the card's key pairs support) is compared with what the card actually does:
 *  - for each key-pair algorithm (bits 0-2): bit set ⇔ GENERATE of it succeeds (else 6A80);
 *    an identifier outside the three is refused (6A80); SM2 must be claimed;
 *  - bit 3 (SM3): set, and the card hashes (PSO HASH, ISO 7816-8 §5.2, plain, no PIN): the
 *    three official SM3 vectors of gm-vectors.txt [sm3] (GB/T 32905: "abc", 64 bytes, the
 *    empty message), each in one command and streamed byte by byte, and a 100 KiB message
 *    streamed in 4 KiB parts against OpenSSL's SM3; SM3 is also inside other operations:
 *    the secure session's MAC is HMAC-SM3 (a VERIFY the card accepts), and SM2 signing over
 *    e = SM3(Z || M) and SM2 decryption (whose C3 is an SM3 hash) check against OpenSSL;
 *  - bit 4 (SM4): set, and SM4 works on the card: a session key imported under an SM2
 *    encryption pair enciphers the official SM4 vector (GB/T 32907) to its ciphertext and
 *    deciphers it back; the PIN transport is SM4-CBC too.
 *  - no bit above 4 is set. */
#include <string.h>

#include <openssl/rand.h>

#include "conf.h"
#include "conf_ops.h"
#include "ukt_envelope.h"
#include "uk_tlv.h"

static const char *const alg_name[3] = { "SM2", "ECDSA P-256", "RSA-2048" };

static unsigned mask_of(conf_ctx *c)
{
	uk_buf b;
	uk_tlv t;
	unsigned m;

	uk_buf_init(&b, 0, 0);
	UK_CHECK_EQ(conf_get_data(c, 0x00, &b), 0x9000);
	UK_CHECK_EQ(uk_tlv_find(b.data, b.len, 0x87, &t), 1);
	UK_CHECK_EQ(t.len, 2);
	m = (unsigned)(t.value[0] << 8 | t.value[1]);
	uk_buf_free(&b);
	return m;
}

static void sm2_uses_sm3(conf_ctx *c)
{
	static const char msg[] = "S0-B1";
	static const uint8_t pt[] = "national algorithms";
	uint8_t pub[65], e[32], sig[64], ct[200];
	size_t n;

	conf_generate(c, 0x00, pub);
	conf_sm2_e(pub, msg, sizeof(msg) - 1, e);
	UK_CHECK_EQ(ukt_host_sign(&c->h, 0x00, e, sig), 0x9000);
	UK_CHECK(conf_sm2_verify_msg(pub, msg, sizeof(msg) - 1, sig));
	n = conf_sm2_encrypt_raw(pub, pt, sizeof(pt), ct);
	UK_CHECK_EQ(conf_decipher(c, 0x00, 0x11, ct, n), 0x9000);
	UK_CHECK_MEM(c->h.resp, pt, sizeof(pt));
	ct[70] ^= 1;                                    /* C3, the SM3 hash: must be checked */
	UK_CHECK_EQ(conf_decipher(c, 0x00, 0x11, ct, n), 0x6A80);
	conf_say(c, "SM2 with SM3: signature over SM3(Z||M) verified by OpenSSL; decryption of "
	         "an OpenSSL ciphertext, and refusal when its SM3 hash C3 is altered");
}

static size_t sm3_vec(const char *name, uint8_t *out, size_t cap)
{
	long n = ukt_env_vector(UKEY_GM_VECTORS, "sm3", name, out, cap);

	UK_CHECK(n >= 0);
	return (size_t)n;
}

/* PSO HASH of msg (parts of part bytes, 0: one command) answers md. */
static void card_hash(conf_ctx *c, const uint8_t *msg, size_t n, size_t part,
                      const uint8_t md[32])
{
	UK_CHECK_EQ(ukt_host_hash(&c->h, msg, n, part), 0x9000);
	UK_CHECK_EQ(c->h.rlen, 32);
	UK_CHECK_MEM(c->h.resp, md, 32);
}

/* The official SM3 vectors (GB/T 32905) and a long message, hashed by the card. */
static void sm3_on_card(conf_ctx *c)
{
	static const char *const names[3][2] = {
		{ "msg_abc", "digest_abc" },
		{ "msg_abcd16", "digest_abcd16" },
		{ "msg_empty", "digest_empty" },
	};
	static uint8_t big[100 * 1024];
	uint8_t msg[64], md[32];
	unsigned int mdlen = 0;
	size_t i, n;

	for (i = 0; i < 3; i++) {
		n = sm3_vec(names[i][0], msg, sizeof(msg));
		UK_CHECK_EQ(sm3_vec(names[i][1], md, sizeof(md)), 32);
		card_hash(c, msg, n, 0, md);
		card_hash(c, msg, n, 1, md);            /* streamed byte by byte */
	}
	UK_CHECK_EQ(RAND_bytes(big, sizeof(big)), 1);
	UK_CHECK_EQ(EVP_Digest(big, sizeof(big), md, &mdlen, EVP_sm3(), NULL), 1);
	card_hash(c, big, sizeof(big), 4096, md);
	big[0] ^= 1;                                    /* the comparison can fail */
	UK_CHECK_EQ(ukt_host_hash(&c->h, big, sizeof(big), 4096), 0x9000);
	UK_CHECK(memcmp(c->h.resp, md, 32) != 0);
	conf_say(c, "SM3 on the card (PSO HASH 00 2A 90 80): the three GB/T 32905 vectors, in one "
	         "command and streamed byte by byte, and 100 KiB streamed in 4 KiB parts = "
	         "OpenSSL SM3");
}

/* The official SM4 vector through a session key: key = plaintext = 0123...3210. */
static void sm4_on_card(conf_ctx *c)
{
	static const uint8_t key[16] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
	                                 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10 };
	static const uint8_t ct[16] = { 0x68, 0x1e, 0xdf, 0x34, 0xd2, 0x06, 0x96, 0x5e,
	                                0x86, 0xb3, 0xe9, 0x4f, 0x53, 0x6e, 0x42, 0x46 };
	uint8_t pub[65], handle = 0;

	conf_generate(c, 0x01, pub);                    /* container 0, encryption pair, SM2 */
	UK_CHECK_EQ(ukt_host_import_session_key(&c->h, 0x01, key, pub, &handle), 0x9000);
	UK_CHECK_EQ(ukt_host_sm4(&c->h, 1, handle, 0x01, NULL, key, 16), 0x9000);
	UK_CHECK_EQ(c->h.rlen, 16);
	UK_CHECK_MEM(c->h.resp, ct, 16);
	UK_CHECK_EQ(ukt_host_sm4(&c->h, 0, handle, 0x01, NULL, ct, 16), 0x9000);
	UK_CHECK_MEM(c->h.resp, key, 16);
	conf_say(c, "SM4 on the card: a session key enciphers the GB/T 32907 vector to "
	         "681EDF34D206965E86B3E94F536E4246 and deciphers it back");
}

int main(int argc, char **argv)
{
	static const char name[] = "conformance_S0-B1_algorithms";
	static conf_ctx c;
	unsigned mask, i;
	uint16_t sw;
	int r;

	r = conf_open(&c, name, argc, argv, NULL);
	if (r != 0)
		return r;
	conf_start(&c, 1);          /* SM4-CBC + HMAC-SM3 secured VERIFY accepted */
	conf_say(&c, "secure session: VERIFY sent SM4-CBC encrypted with an HMAC-SM3 MAC: 9000");
	mask = mask_of(&c);
	conf_say(&c, "GET DATA 00 tag 87 = %04X", mask);
	UK_CHECK(mask & 0x0001);                        /* SM2 is claimed */
	UK_CHECK_EQ(mask & ~0x001Fu, 0);
	UK_CHECK_EQ(conf_create_container(&c, "s0-b1"), 0);
	for (i = 0; i < 3; i++) {
		sw = conf_generate_alg(&c, 0x01, (uint8_t)(i + 1));
		UK_CHECK_EQ(sw, (mask >> i & 1) ? 0x9000 : 0x6A80);
		conf_say(&c, "bit %u %s: %s, GENERATE alg %02X answers %04X", i, alg_name[i],
		         (mask >> i & 1) ? "claimed" : "not claimed", i + 1, sw);
	}
	UK_CHECK_EQ(conf_generate_alg(&c, 0x01, 0x04), 0x6A80);
	UK_CHECK_EQ(conf_generate_alg(&c, 0x01, 0x00), 0x6A80);
	UK_CHECK_EQ(mask & 0x0008, 0x0008);
	UK_CHECK_EQ(mask & 0x0010, 0x0010);
	conf_say(&c, "bit 3 (SM3) and bit 4 (SM4) set; unknown algorithms 00 and 04 refused "
	         "(6A80)");
	sm3_on_card(&c);
	sm2_uses_sm3(&c);
	sm4_on_card(&c);
	conf_close(&c);
	return uk_test_done(name);
}
