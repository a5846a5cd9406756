/* SPEC S2-1: dual certificates; the encryption key pair is generated and escrowed by the CA
 * and imported into the key. The import is GM/T 0016 SKF_ImportECCKeyPair
 * (docs/apdu.md IMPORT KEY PAIR, 84 E6 00 KR): the CA sends an ENVELOPEDKEYBLOB, the private
 * key SM4-ECB encrypted under a random key that is SM2-encrypted to the container's signing
 * public key (the signing pair was generated in the key). The blob is built here with
 * OpenSSL EVP (token/tests/ukt_envelope.c), never with the card's code.
 * Checked: the official SM2 key d of gm-vectors.txt [sm2-encrypt] imported as the encryption
 * pair is listed as A5 with its public key d * G; it deciphers the official ciphertext
 * C1||C3||C2 to "encryption standard" (PSO DECIPHER mech 11); d never crossed the interface
 * in clear (capture); a blob whose PubKey is not d * G, and a tampered one, are refused
 * (6A80) with nothing listed changed; the escrowed key survives a power cycle. SM4 session
 * keys (IMPORT SESSION KEY, PSO ENCIPHER/DECIPHER) under that pair: the official SM4 vector,
 * CBC against EVP, and the key gone after a reset (6A88). */
#include <string.h>

#include <openssl/rand.h>

#include "conf.h"
#include "uk_buf.h"
#include "ukt_envelope.h"

static size_t vec(const char *section, const char *name, uint8_t *out, size_t cap)
{
	long n = ukt_env_vector(UKEY_GM_VECTORS, section, name, out, cap);

	UK_CHECK(n >= 0);
	return (size_t)n;
}

/* PSO DECIPHER mech 11 with kr of the official ciphertext: 9000 and the message. */
static void official_decipher(conf_ctx *c, uint8_t kr)
{
	uint8_t p[2 + 97 + 64], msg[64];
	size_t l2, lm;

	p[0] = kr;
	p[1] = 0x11;
	UK_CHECK_EQ(vec("sm2-encrypt", "c1", p + 2, 65), 65);
	UK_CHECK_EQ(vec("sm2-encrypt", "c3", p + 67, 32), 32);
	l2 = vec("sm2-encrypt", "c2", p + 99, 64);
	lm = vec("sm2-encrypt", "msg", msg, sizeof(msg));
	UK_CHECK_EQ(l2, lm);
	UK_CHECK_EQ(ukt_host_secured(&c->h, 0x00, 0x2A, 0x80, 0x86, p, 99 + l2, 0, 65536),
	            0x9000);
	UK_CHECK_EQ(c->h.rlen, lm);
	UK_CHECK_MEM(c->h.resp, msg, lm);
	UK_CHECK(memcmp(c->h.resp, "encryption standard", 19) == 0);
}

/* The [sm2-sign] vector through the card: the same official key signs the official e (GM/T
 * 0003.5 A.2, ID 1234567812345678, M = "message digest") with the card's own random k, so r
 * and s differ from the vector's; the signature verifies with OpenSSL against the official
 * public key over the message, and the official (r, s) verifies over the official e too. */
static void official_sign(conf_ctx *c, uint8_t kr, const uint8_t pub[65])
{
	uint8_t e[32], msg[32], x[32], y[32], r[32], sv[32], vpub[65], sig[64], off[64];
	size_t lm;

	UK_CHECK_EQ(vec("sm2-sign", "e", e, 32), 32);
	UK_CHECK_EQ(vec("sm2-sign", "x", x, 32), 32);
	UK_CHECK_EQ(vec("sm2-sign", "y", y, 32), 32);
	UK_CHECK_EQ(vec("sm2-sign", "r", r, 32), 32);
	UK_CHECK_EQ(vec("sm2-sign", "s", sv, 32), 32);
	lm = vec("sm2-sign", "msg", msg, sizeof(msg));
	vpub[0] = 0x04;
	memcpy(vpub + 1, x, 32);
	memcpy(vpub + 33, y, 32);
	UK_CHECK_MEM(vpub, pub, 65);            /* the same key in both sections */
	UK_CHECK_EQ(ukt_host_sign(&c->h, kr, e, sig), 0x9000);
	UK_CHECK(conf_sm2_verify_msg(vpub, msg, lm, sig));
	memcpy(off, r, 32);
	memcpy(off + 32, sv, 32);
	UK_CHECK(conf_sm2_verify_msg(vpub, msg, lm, off));
	UK_CHECK(memcmp(sig, off, 64) != 0);    /* the card's k is its own */
	conf_say(c, "the official key signs the official e = SM3(Z||\"message digest\") on the "
	         "card; OpenSSL verifies it (and the official r, s) with the official public key");
}

static void refusals(conf_ctx *c, uint8_t kr, const uint8_t sign[65], const uint8_t d[32],
                     const uint8_t pub[65])
{
	uint8_t od[32], opub[65];
	uk_buf blob, before, after;

	uk_buf_init(&blob, 0, 1);
	uk_buf_init(&before, 0, 0);
	uk_buf_init(&after, 0, 0);
	conf_get_all(c, &before);
	UK_CHECK_EQ(ukt_env_sm2_keygen(od, opub), 0);
	UK_CHECK_EQ(ukt_env_build(sign, d, opub, 0, &blob), 0);
	UK_CHECK_EQ(ukt_host_import_keypair(&c->h, kr, blob.data, blob.len), 0x6A80);
	UK_CHECK_EQ(ukt_env_build(sign, d, pub, 1, &blob), 0);
	blob.data[UKT_ENV_FIXED] ^= 0x01;
	UK_CHECK_EQ(ukt_host_import_keypair(&c->h, kr, blob.data, blob.len), 0x6A80);
	UK_CHECK_EQ(ukt_host_import_keypair(&c->h, kr, blob.data, blob.len - 1), 0x6700);
	UK_CHECK_EQ(ukt_host_import_keypair(&c->h, (uint8_t)(kr - 1), blob.data, blob.len),
	            0x6A86);
	conf_get_all(c, &after);
	UK_CHECK_EQ(after.len, before.len);
	UK_CHECK_MEM(after.data, before.data, before.len);
	conf_say(c, "refused, nothing changed: PubKey not d*G (6A80), tampered SM2 cipher "
	         "(6A80), short blob (6700), a signing reference (6A86)");
	uk_buf_free(&blob);
	uk_buf_free(&before);
	uk_buf_free(&after);
}

static void session_keys(conf_ctx *c, uint8_t kr, const uint8_t pub[65])
{
	uint8_t key[16], pt[16], ct[16], data[64], iv[16], want[64], hd;

	UK_CHECK_EQ(vec("sm4", "key", key, 16), 16);
	UK_CHECK_EQ(vec("sm4", "plaintext", pt, 16), 16);
	UK_CHECK_EQ(vec("sm4", "ciphertext", ct, 16), 16);
	UK_CHECK_EQ(ukt_host_import_session_key(&c->h, kr, key, pub, &hd), 0x9000);
	UK_CHECK_EQ(ukt_host_sm4(&c->h, 1, hd, 0x01, NULL, pt, 16), 0x9000);
	UK_CHECK_EQ(c->h.rlen, 16);
	UK_CHECK_MEM(c->h.resp, ct, 16);
	UK_CHECK_EQ(ukt_host_sm4(&c->h, 0, hd, 0x01, NULL, ct, 16), 0x9000);
	UK_CHECK_MEM(c->h.resp, pt, 16);
	UK_CHECK_EQ(RAND_bytes(data, sizeof(data)), 1);
	UK_CHECK_EQ(RAND_bytes(iv, sizeof(iv)), 1);
	UK_CHECK_EQ(ukt_env_sm4(1, key, iv, data, sizeof(data), want), 0);
	UK_CHECK_EQ(ukt_host_sm4(&c->h, 1, hd, 0x02, iv, data, sizeof(data)), 0x9000);
	UK_CHECK_EQ(c->h.rlen, sizeof(want));
	UK_CHECK_MEM(c->h.resp, want, sizeof(want));
	UK_CHECK_EQ(ukt_host_sm4(&c->h, 0, hd, 0x02, iv, want, sizeof(want)), 0x9000);
	UK_CHECK_MEM(c->h.resp, data, sizeof(data));
	conf_say(c, "session key %u unwrapped by the imported pair: SM4 ECB gives the official "
	         "vector, CBC agrees with OpenSSL", hd);
	conf_reset(c, 0);
	conf_start(c, 1);
	UK_CHECK_EQ(ukt_host_sm4(&c->h, 1, hd, 0x01, NULL, pt, 16), 0x6A88);
	conf_say(c, "after a reset the session key is gone (6A88)");
}

int main(int argc, char **argv)
{
	static const char name[] = "conformance_S2-1_enveloped_import";
	static conf_ctx c;
	uint8_t d[32], pub[65], sign[65], listed[65], alg = 0, idx, kr;
	uk_buf blob;
	int r;

	r = conf_open(&c, name, argc, argv, NULL);
	if (r != 0)
		return r;
	uk_buf_init(&blob, 0, 1);
	UK_CHECK_EQ(vec("sm2-encrypt", "d", d, 32), 32);
	UK_CHECK_EQ(ukt_env_sm2_pub(d, pub), 0);
	conf_start(&c, 1);
	idx = conf_create_container(&c, "s2-1 escrow");
	kr = (uint8_t)(idx * 2);
	conf_generate(&c, kr, sign);
	refusals(&c, (uint8_t)(kr + 1), sign, d, pub);

	conf_capture_reset(&c);
	UK_CHECK_EQ(ukt_env_build(sign, d, pub, 0, &blob), 0);
	UK_CHECK_EQ(ukt_host_import_keypair(&c.h, (uint8_t)(kr + 1), blob.data, blob.len),
	            0x9000);
	UK_CHECK(!conf_capture_has_window(&c, d, 32, 8));
	UK_CHECK_EQ(conf_listed_pair(&c, idx, 1, &alg, listed), 1);
	UK_CHECK_EQ(alg, 0x01);
	UK_CHECK_MEM(listed, pub, 65);
	UK_CHECK_EQ(conf_listed_pair(&c, idx, 0, &alg, listed), 1);
	UK_CHECK_MEM(listed, sign, 65);
	conf_say(&c, "container %u: the official key d imported as the encryption pair (A5 lists "
	         "d*G, A4 unchanged); no 8-byte window of d crossed the interface", idx);
	official_decipher(&c, (uint8_t)(kr + 1));
	conf_say(&c, "the imported key deciphers the official GM/T 0003 ciphertext to "
	         "\"encryption standard\"");
	conf_reset(&c, 1);
	conf_start(&c, 1);
	official_decipher(&c, (uint8_t)(kr + 1));
	conf_say(&c, "after a power cycle it still does (sealed at rest)");
	official_sign(&c, (uint8_t)(kr + 1), pub);
	session_keys(&c, (uint8_t)(kr + 1), pub);
	uk_buf_free(&blob);
	conf_close(&c);
	return uk_test_done(name);
}
