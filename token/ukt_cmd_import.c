/* ukey token: the CA-escrowed encryption pair of SPEC S2-1 and SM4 session keys
 * (docs/apdu.md "IMPORT KEY PAIR", "IMPORT SESSION KEY", "PSO: ENCIPHER / DECIPHER").
 *
 * IMPORT KEY PAIR takes the GM/T 0016-2012 ENVELOPEDKEYBLOB of SKF_ImportECCKeyPair: the
 * encryption private key SM4-ECB encrypted under a random key, that key SM2-encrypted to the
 * container's signing public key (the signing pair, made on the card, S0-K7, is the
 * protecting key). The private key is in clear only inside this file, for the time of the
 * command, and is sealed under the session's token key before it reaches the state.
 * IMPORT SESSION KEY (GM/T 0016 SKF_ImportSessionKey) unwraps an SM4 key with the
 * encryption pair and keeps it in RAM in the secure session; PSO ENCIPHER / DECIPHER
 * (ISO 7816-8 §5.7, §5.8) use it in ECB or CBC mode. */
#include "ukt_internal.h"

#include <string.h>

#include <openssl/rand.h>

#include "uk_crypto.h"
#include "uk_log.h"
#include "uk_tlv.h"
#include "uk_wipe.h"

/* ENVELOPEDKEYBLOB (GM/T 0016-2012 §6.4.10), packed, integers little endian:
 *   Version 4 | ulSymmAlgID 4 | ulBits 4 | cbEncryptedPriKey 64 |
 *   PubKey = ECCPUBLICKEYBLOB { BitLen 4 | X 64 | Y 64 } |
 *   ECCCipherBlob = ECCCIPHERBLOB { X 64 | Y 64 | HASH 32 | CipherLen 4 | Cipher } */
#define ENV_VERSION 1u
#define SGD_SM4_ECB 0x00000401u         /* GM/T 0006 algorithm identifier */
#define ENV_BITS 256u
#define FIELD 64                        /* ECC_MAX_XCOORDINATE_BITS_LEN / 8 */
#define SCALAR 32
#define OFF_ALG 4
#define OFF_BITS 8
#define OFF_PRIV 12
#define OFF_PUB (OFF_PRIV + FIELD)      /* BitLen, X, Y */
#define OFF_CIPHER (OFF_PUB + 4 + 2 * FIELD)
#define OFF_HASH (OFF_CIPHER + 2 * FIELD)
#define OFF_CLEN (OFF_HASH + UK_SM3_LEN)
#define ENV_FIXED (OFF_CLEN + 4)        /* 372 bytes before Cipher */
#define SM2_RAW_KEY (UK_SM2_POINT_LEN + UK_SM3_LEN + UK_SM4_KEY_LEN) /* C1||C3||C2, 113 */
#define MECH_SM2_DECRYPT 0x11

enum { MODE_ECB = 0x01, MODE_CBC = 0x02 };

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* A 256-bit coordinate in a 64-byte field is right-aligned (left-padded with zeros). */
static int coord_take(const uint8_t f[FIELD], uint8_t out[SCALAR])
{
	static const uint8_t zero[FIELD - SCALAR];

	if (memcmp(f, zero, sizeof(zero)) != 0)
		return -1;
	memcpy(out, f + FIELD - SCALAR, SCALAR);
	return 0;
}

/* 04 || X || Y from two 64-byte coordinate fields. */
static int point_take(const uint8_t *x, const uint8_t *y, uint8_t pt[UK_SM2_POINT_LEN])
{
	pt[0] = 0x04;
	return coord_take(x, pt + 1) == 0 && coord_take(y, pt + 1 + SCALAR) == 0 ? 0 : -1;
}

/* The parsed, not yet decrypted, blob. */
typedef struct env {
	const uint8_t *enc_priv;                /* 64 bytes */
	uint8_t pub[UK_SM2_POINT_LEN];          /* encryption public key */
	uint8_t raw[SM2_RAW_KEY];               /* the SM4 key, C1 || C3 || C2 */
} env;

/* Lengths first (6700: short, or not 372 + CipherLen), then every field (6A80). */
static uint16_t env_parse(const uint8_t *p, size_t n, env *e)
{
	uint32_t clen;

	if (n < ENV_FIXED)
		return UK_SW_WRONG_LENGTH;
	clen = get_le32(p + OFF_CLEN);
	if (n - ENV_FIXED != clen)
		return UK_SW_WRONG_LENGTH;
	if (get_le32(p) != ENV_VERSION || get_le32(p + OFF_ALG) != SGD_SM4_ECB ||
	    get_le32(p + OFF_BITS) != ENV_BITS || get_le32(p + OFF_PUB) != ENV_BITS ||
	    clen != UK_SM4_KEY_LEN)
		return UK_SW_WRONG_DATA;
	if (point_take(p + OFF_PUB + 4, p + OFF_PUB + 4 + FIELD, e->pub) != 0 ||
	    point_take(p + OFF_CIPHER, p + OFF_CIPHER + FIELD, e->raw) != 0)
		return UK_SW_WRONG_DATA;
	memcpy(e->raw + UK_SM2_POINT_LEN, p + OFF_HASH, UK_SM3_LEN);
	memcpy(e->raw + UK_SM2_POINT_LEN + UK_SM3_LEN, p + ENV_FIXED, UK_SM4_KEY_LEN);
	e->enc_priv = p + OFF_PRIV;
	return UK_SW_OK;
}

/* SM2 decryption (GM/T 0003.4 §7.1, the PSO mechanism 11 of ukt_alg.c) of a 16-byte SM4 key
 * with the pair k, unsealed for this one operation. A ciphertext that does not decrypt, or
 * a plaintext of another length: 6A80. */
static uint16_t sm2_unwrap_key(const ukt_session *s, unsigned kr, const ukt_keypair *k,
                               const uint8_t raw[SM2_RAW_KEY], uint8_t key[UK_SM4_KEY_LEN])
{
	const ukt_mech *m = ukt_mech_find(MECH_SM2_DECRYPT, UKT_PSO_DECIPHER);
	EVP_PKEY *pk = ukt_keystore_key_load(s->tk, kr, k);
	uk_buf out;
	uint16_t sw = UK_SW_UNKNOWN;
	int r;

	uk_buf_init(&out, 0, 1);
	if (pk == NULL || m == NULL)
		goto out;
	r = m->run(pk, raw, SM2_RAW_KEY, &out);
	sw = r == UKT_MECH_BAD_INPUT ? UK_SW_WRONG_DATA : UK_SW_UNKNOWN;
	if (r != UKT_MECH_OK || out.failed)
		goto out;
	sw = UK_SW_WRONG_DATA;
	if (out.len != UK_SM4_KEY_LEN)
		goto out;
	memcpy(key, out.data, UK_SM4_KEY_LEN);
	sw = UK_SW_OK;
out:
	uk_buf_free(&out);
	EVP_PKEY_free(pk);
	return sw;
}

/* cbEncryptedPriKey holds either the 32-byte SM4-ECB ciphertext of d right-aligned, the first
 * 32 bytes zero (d encrypted as a 32-byte field), or the 64-byte ciphertext of 0^32 || d
 * (d left-padded to the 64-byte field before encryption). */
static uint16_t priv_decrypt(const uint8_t key[UK_SM4_KEY_LEN], const uint8_t enc[FIELD],
                             uint8_t d[SCALAR])
{
	static const uint8_t zero[FIELD - SCALAR];
	uint8_t plain[FIELD];
	uint16_t sw = UK_SW_UNKNOWN;

	if (memcmp(enc, zero, sizeof(zero)) == 0) {
		if (uk_sm4_ecb(0, key, enc + FIELD - SCALAR, SCALAR, d) != 0)
			goto out;
		sw = UK_SW_OK;
		goto out;
	}
	if (uk_sm4_ecb(0, key, enc, FIELD, plain) != 0)
		goto out;
	sw = UK_SW_WRONG_DATA;
	if (!uk_ct_equal(plain, zero, sizeof(zero)))
		goto out;
	memcpy(d, plain + FIELD - SCALAR, SCALAR);
	sw = UK_SW_OK;
out:
	uk_wipe(plain, sizeof(plain));
	return sw;
}

/* d must be a valid SM2 scalar (1 <= d <= n - 2) and d * G the public key of the blob. */
static uint16_t pair_check(const uint8_t d[SCALAR], const uint8_t pub[UK_SM2_POINT_LEN])
{
	EVP_PKEY *k = uk_sm2_from_private(d);
	uint8_t q[UK_SM2_POINT_LEN];
	uint16_t sw = UK_SW_WRONG_DATA;

	if (k != NULL && uk_sm2_get_public(k, q) == 0 && memcmp(q, pub, sizeof(q)) == 0)
		sw = UK_SW_OK;
	EVP_PKEY_free(k);
	return sw;
}

/* The pair replaces any encryption pair of the container, sealed like a generated one. */
static uint16_t pair_store(ukt_card *card, const ukt_session *s, unsigned kr,
                           const uint8_t pub[UK_SM2_POINT_LEN], const uint8_t d[SCALAR])
{
	ukt_state next;
	ukt_keypair *k;
	uint16_t sw = UK_SW_UNKNOWN;

	memcpy(&next, &card->st, sizeof(next));
	k = &next.cont[kr / 2].pair[kr % 2];
	memset(k, 0, sizeof(*k));
	k->alg = UKT_ALG_SM2;
	k->pub_len = UK_SM2_POINT_LEN;
	memcpy(k->pub, pub, UK_SM2_POINT_LEN);
	if (ukt_keystore_key_seal(s->tk, kr, k, d, SCALAR) != 0)
		goto out;
	k->present = 1;
	sw = ukt_state_commit(card, &next);
out:
	ukt_state_wipe(&next);
	return sw;
}

/* The pair at usage `usage` of the container of kr, if it is an SM2 pair; else NULL. */
static const ukt_keypair *sm2_pair(const ukt_card *card, unsigned kr, int usage)
{
	const ukt_container *cont = &card->st.cont[kr / 2];
	const ukt_keypair *k = &cont->pair[usage];

	return cont->present && k->present && k->alg == UKT_ALG_SM2 ? k : NULL;
}

/* IMPORT KEY PAIR (proprietary; GM/T 0016 SKF_ImportECCKeyPair), 84 E6 00 KR, KR an
 * encryption pair reference (the dispatcher checked P1 P2). Checks: the container and its
 * SM2 signing pair (6A88), the blob (6700, 6A80), the session's token key (6982), then the
 * decryptions and d * G == PubKey (6A80). Nothing is stored before every check passed. */
uint16_t ukt_cmd_import_keypair(ukt_card *card, ukt_cmd *c)
{
	unsigned kr = c->apdu->p2, kr_sign = kr - 1;
	const ukt_keypair *sign = sm2_pair(card, kr, 0);
	uint8_t key[UK_SM4_KEY_LEN], d[SCALAR];
	uint16_t sw = UK_SW_REF_NOT_FOUND;
	env e;

	memset(&e, 0, sizeof(e));
	if (sign == NULL)
		goto out;
	sw = env_parse(c->data, c->len, &e);
	if (sw != UK_SW_OK)
		goto out;
	sw = UK_SW_SECURITY_STATUS;
	if (!c->sess->has_tk)
		goto out;
	sw = sm2_unwrap_key(c->sess, kr_sign, sign, e.raw, key);
	if (sw == UK_SW_OK)
		sw = priv_decrypt(key, e.enc_priv, d);
	if (sw == UK_SW_OK)
		sw = pair_check(d, e.pub);
	if (sw == UK_SW_OK)
		sw = pair_store(card, c->sess, kr, e.pub, d);
out:
	uk_wipe(key, sizeof(key));
	uk_wipe(d, sizeof(d));
	uk_wipe(&e, sizeof(e));
	return sw;
}

/* A handle 1..255 not live in the session: handles are not reused while the table holds
 * them, so a replaced key's handle answers 6A88 until it wraps round. */
static uint8_t skey_new_handle(ukt_session *s)
{
	size_t i;
	int live;

	do {
		s->skey_next = (uint8_t)(s->skey_next == 255 ? 1 : s->skey_next + 1);
		live = 0;
		for (i = 0; i < UKT_SESSION_KEYS; i++)
			live |= s->skey[i].handle == s->skey_next;
	} while (live);
	return s->skey_next;
}

/* A free slot, or the key imported longest ago (wiped and replaced). */
static ukt_skey *skey_slot(ukt_session *s)
{
	ukt_skey *best = &s->skey[0];
	size_t i;

	for (i = 0; i < UKT_SESSION_KEYS; i++) {
		if (s->skey[i].handle == 0)
			return &s->skey[i];
		if (s->skey[i].seq < best->seq)
			best = &s->skey[i];
	}
	uk_wipe(best, sizeof(*best));
	return best;
}

static ukt_skey *skey_find(ukt_session *s, uint8_t handle)
{
	size_t i;

	for (i = 0; handle != 0 && i < UKT_SESSION_KEYS; i++)
		if (s->skey[i].handle == handle)
			return &s->skey[i];
	return NULL;
}

/* Keep key in the session's table (the oldest replaced when full); answer 80 01 handle. */
static uint16_t skey_keep(ukt_cmd *c, const uint8_t key[UK_SM4_KEY_LEN])
{
	uint8_t handle = skey_new_handle(c->sess);
	ukt_skey *slot = skey_slot(c->sess);

	slot->handle = handle;
	slot->seq = ++c->sess->skey_seq;
	memcpy(slot->key, key, UK_SM4_KEY_LEN);
	return uk_tlv_put(c->resp, 0x80, &handle, 1) == 0 ? UK_SW_OK : UK_SW_UNKNOWN;
}

/* IMPORT SESSION KEY (proprietary; GM/T 0016 SKF_ImportSessionKey), 84 E8 00 KR: the SM4
 * key SM2-encrypted (C1 || C3 || C2) to the encryption pair KR. Answer 80 01 handle. */
uint16_t ukt_cmd_import_session_key(ukt_card *card, ukt_cmd *c)
{
	unsigned kr = c->apdu->p2;
	const ukt_keypair *k = sm2_pair(card, kr, 1);
	uint8_t key[UK_SM4_KEY_LEN];
	uint16_t sw = UK_SW_REF_NOT_FOUND;

	if (k == NULL)
		goto out;
	sw = UK_SW_WRONG_LENGTH;
	if (c->len != SM2_RAW_KEY)
		goto out;
	sw = UK_SW_SECURITY_STATUS;
	if (!c->sess->has_tk)
		goto out;
	sw = sm2_unwrap_key(c->sess, kr, k, c->data, key);
	if (sw != UK_SW_OK)
		goto out;
	sw = skey_keep(c, key);
out:
	uk_wipe(key, sizeof(key));
	return sw;
}

/* GENERATE SESSION KEY (proprietary; GM/T 0016 SKF_GenerateKey-like, SPEC S0-K2), 84 E8 01 00
 * with an empty payload: the card draws the SM4 key from its DRBG (OpenSSL RAND_bytes) and
 * keeps it like an imported one, so the key never exists outside the card. */
static uint16_t ukt_cmd_generate_session_key(ukt_cmd *c)
{
	uint8_t key[UK_SM4_KEY_LEN];
	uint16_t sw;

	if (c->len != 0)
		return UK_SW_WRONG_LENGTH;
	if (!c->sess->has_tk)
		return UK_SW_SECURITY_STATUS;
	if (RAND_priv_bytes(key, sizeof(key)) != 1) {
		sw = UK_SW_UNKNOWN;
		goto out;
	}
	sw = skey_keep(c, key);
out:
	uk_wipe(key, sizeof(key));
	return sw;
}

uint16_t ukt_cmd_session_key_any(ukt_card *card, ukt_cmd *c)
{
	if (c->apdu->p1 == 0x01)
		return ukt_cmd_generate_session_key(c);
	return ukt_cmd_import_session_key(card, c);
}

/* PSO ENCIPHER (ISO 7816-8 §5.7, P1 P2 84 80) / DECIPHER (§5.8, 80 84) with a session key:
 * payload handle(1) mode(1: 01 ECB, 02 CBC) [IV(16) for CBC] data (a non-zero multiple of
 * 16 bytes, no padding: the host pads). The answer is as long as the data. */
static uint16_t pso_sm4(ukt_cmd *c, int encrypt)
{
	const uint8_t *p = c->data;
	size_t n = c->len, head = 2;
	ukt_skey *k;
	uint8_t *out;
	int r;

	if (n < 2)
		return UK_SW_WRONG_LENGTH;
	k = skey_find(c->sess, p[0]);
	if (k == NULL)
		return UK_SW_REF_NOT_FOUND;
	if (p[1] != MODE_ECB && p[1] != MODE_CBC)
		return UK_SW_WRONG_DATA;
	if (p[1] == MODE_CBC)
		head += UK_SM4_BLOCK;
	if (n <= head || (n - head) % UK_SM4_BLOCK != 0)
		return UK_SW_WRONG_LENGTH;
	out = uk_buf_extend(c->resp, n - head);
	if (out == NULL)
		return UK_SW_UNKNOWN;
	r = p[1] == MODE_ECB ? uk_sm4_ecb(encrypt, k->key, p + head, n - head, out)
	                     : uk_sm4_cbc(encrypt, k->key, p + 2, p + head, n - head, out);
	if (r != 0) {
		uk_buf_reset(c->resp);
		return UK_SW_UNKNOWN;
	}
	return UK_SW_OK;
}

uint16_t ukt_cmd_pso_any(ukt_card *card, ukt_cmd *c)
{
	uint16_t p1p2 = (uint16_t)(c->apdu->p1 << 8 | c->apdu->p2);

	if (p1p2 == 0x8480)
		return pso_sm4(c, 1);
	if (p1p2 == 0x8084)
		return pso_sm4(c, 0);
	if (p1p2 == 0x9080)
		return ukt_cmd_pso_hash(card, c);
	return ukt_cmd_pso(card, c);
}
