/* ukey token tests: algorithms beyond SM2 signing (docs/apdu.md GENERATE, PSO, GET CHALLENGE).
 * Every result is checked with OpenSSL EVP in this file, never with the card's code:
 * - GENERATE 02 (P-256) and 03 (RSA-2048, e = 65537): the 7F49 template, GET DATA 02 agrees,
 *   the public key loads into OpenSSL (the point is on the curve);
 * - PSO signatures: 02 ECDSA over a hash (EVP_DigestVerify over the message), 03 RSA PKCS#1
 *   v1.5 over a DigestInfo (EVP_DigestVerify), 04 PSS with SHA-256/384/512 and salt = hLen,
 *   05 raw PKCS#1 v1.5 (EVP_PKEY_verify_recover gives the data back);
 * - PSO DECIPHER: 11 SM2 (EVP_PKEY_encrypt's GM/T 0009 DER turned into raw C1||C3||C2 here),
 *   12 RSA PKCS#1 v1.5, 13 OAEP SHA-1, 14 OAEP SHA-256, answers over 256 bytes;
 * - malformed input: wrong lengths, mechanism not for the key, tampered ciphertexts: the
 *   status word of docs/apdu.md and the state file unchanged;
 * - keys survive reopening the card (sealed at rest) and work after a new VERIFY;
 * - GET CHALLENGE: lengths, freshness, refusals.
 * The official SM2 encryption vector (gm-vectors.txt [sm2-encrypt]) needs a known private
 * key inside the card: token_import.c imports it (IMPORT KEY PAIR) and runs it. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "token_util.h"
#include "uk_tlv.h"

#define EXT_LE 65536L

static ukt_host h;

static const uint8_t msg[] = "the quick brown fox signs with a ukey";

/* ---- public keys into OpenSSL ---- */

static EVP_PKEY *fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *key = NULL;

	UK_CHECK(params != NULL && ctx != NULL);
	UK_CHECK(EVP_PKEY_fromdata_init(ctx) == 1);
	UK_CHECK(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return key;
}

/* An EC public key; EVP_PKEY_public_check refuses a point off the curve. */
static EVP_PKEY *ec_public(const char *type, const char *group, const uint8_t *pt, size_t n)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *key;

	UK_CHECK(bld != NULL);
	UK_CHECK(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0));
	UK_CHECK(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt, n));
	key = fromdata(type, bld);
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	UK_CHECK(ctx != NULL && EVP_PKEY_public_check(ctx) == 1);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

static EVP_PKEY *rsa_public(const uint8_t *n, size_t nlen, const uint8_t *e, size_t elen)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL), *be = BN_bin2bn(e, (int)elen, NULL);
	EVP_PKEY *key;

	UK_CHECK(bld != NULL && bn != NULL && be != NULL);
	UK_CHECK(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn));
	UK_CHECK(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be));
	key = fromdata("RSA", bld);
	BN_free(bn);
	BN_free(be);
	UK_CHECK_EQ(EVP_PKEY_get_bits(key), 2048);
	return key;
}

/* The answer is exactly one 7F49 template: 86 point (EC) or 81 n, 82 e (RSA). */
static EVP_PKEY *template_key(uint8_t alg, const uint8_t *p, size_t len)
{
	const uint8_t *q = p;
	uk_tlv t, a, b;

	UK_CHECK_EQ(uk_tlv_next(&q, p + len, &t), 1);
	UK_CHECK_EQ(t.tag, 0x7F49);
	UK_CHECK(q == p + len);
	if (alg == 0x03) {
		q = t.value;
		UK_CHECK_EQ(uk_tlv_next(&q, t.value + t.len, &a), 1);
		UK_CHECK_EQ(uk_tlv_next(&q, t.value + t.len, &b), 1);
		UK_CHECK(q == t.value + t.len);
		UK_CHECK(a.tag == 0x81 && a.len == 256 && b.tag == 0x82);
		UK_CHECK(b.len == 3 && memcmp(b.value, "\x01\x00\x01", 3) == 0); /* 65537 */
		return rsa_public(a.value, a.len, b.value, b.len);
	}
	UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x86, &a), 1);
	UK_CHECK(a.len == 65 && t.len == 67);
	return alg == 0x02 ? ec_public("EC", "prime256v1", a.value, a.len)
	                   : ec_public("SM2", "SM2", a.value, a.len);
}

static EVP_PKEY *generate(uint8_t kr, uint8_t alg, uint8_t *tpl, size_t *tlen)
{
	const uint8_t payload[3] = { 0x80, 0x01, alg };

	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x46, 0x80, kr, payload, 3, 0, EXT_LE), 0x9000);
	memcpy(tpl, h.resp, h.rlen);
	*tlen = h.rlen;
	return template_key(alg, h.resp, h.rlen);
}

/* GET DATA 02 lists the pair with 80 01 alg and the same 7F49 template. */
static void check_listed(uint8_t kr, uint8_t alg, const uint8_t *tpl, size_t tlen)
{
	const uint8_t *p, *end, *q;
	uk_tlv a0, idx, pair, t, tv;

	UK_CHECK_EQ(ukt_host_plain(&h, 0x00, 0xCA, 0x01, 0x02, NULL, 0, EXT_LE), 0x9000);
	p = h.resp;
	end = h.resp + h.rlen;
	while (uk_tlv_next(&p, end, &a0) == 1) {
		UK_CHECK_EQ(uk_tlv_find(a0.value, a0.len, 0x80, &idx), 1);
		if (idx.value[0] != kr / 2)
			continue;
		UK_CHECK_EQ(uk_tlv_find(a0.value, a0.len, kr % 2 ? 0xA5 : 0xA4, &pair), 1);
		UK_CHECK_EQ(uk_tlv_find(pair.value, pair.len, 0x80, &t), 1);
		UK_CHECK(t.len == 1 && t.value[0] == alg);
		UK_CHECK_EQ(uk_tlv_find(pair.value, pair.len, 0x7F49, &t), 1);
		q = tpl;
		UK_CHECK_EQ(uk_tlv_next(&q, tpl + tlen, &tv), 1);
		UK_CHECK_EQ(t.len, tv.len);
		UK_CHECK_MEM(t.value, tv.value, t.len);
		return;
	}
	UK_CHECK(0);
}

static uint16_t pso(uint8_t p1, uint8_t p2, uint8_t kr, uint8_t mech, const uint8_t *d,
                    size_t n, long le)
{
	uint8_t payload[600];

	UK_CHECK(n + 2 <= sizeof(payload));
	payload[0] = kr;
	payload[1] = mech;
	memcpy(payload + 2, d, n);
	return ukt_host_secured(&h, 0x00, 0x2A, p1, p2, payload, n + 2, 0, le);
}

static uint16_t sign(uint8_t kr, uint8_t mech, const uint8_t *d, size_t n)
{
	return pso(0x9E, 0x9A, kr, mech, d, n, 256);
}

static uint16_t decipher(uint8_t kr, uint8_t mech, const uint8_t *d, size_t n)
{
	return pso(0x80, 0x86, kr, mech, d, n, EXT_LE);
}

static void digest(const EVP_MD *md, const void *p, size_t n, uint8_t *out, size_t *olen)
{
	unsigned l = 0;

	UK_CHECK(EVP_Digest(p, n, out, &l, md, NULL) == 1);
	*olen = l;
}

/* ---- signatures ---- */

/* r || s into an ECDSA-Sig-Value with OpenSSL, then EVP_DigestVerify over msg. */
static void ecdsa_verify(EVP_PKEY *key, const EVP_MD *md, const uint8_t rs[64])
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	uint8_t der[80], *p = der;
	int dlen;

	UK_CHECK(sig != NULL && mctx != NULL);
	UK_CHECK(ECDSA_SIG_set0(sig, BN_bin2bn(rs, 32, NULL), BN_bin2bn(rs + 32, 32, NULL)) == 1);
	dlen = i2d_ECDSA_SIG(sig, &p);
	UK_CHECK(dlen > 0);
	UK_CHECK(EVP_DigestVerifyInit(mctx, NULL, md, NULL, key) == 1);
	UK_CHECK_EQ(EVP_DigestVerify(mctx, der, (size_t)dlen, msg, sizeof(msg)), 1);
	der[dlen - 1] ^= 1;     /* the check can fail */
	UK_CHECK(EVP_DigestVerifyInit(mctx, NULL, md, NULL, key) == 1);
	UK_CHECK(EVP_DigestVerify(mctx, der, (size_t)dlen, msg, sizeof(msg)) != 1);
	EVP_MD_CTX_free(mctx);
	ECDSA_SIG_free(sig);
}

static void test_ecdsa(uint8_t kr, EVP_PKEY *key)
{
	uint8_t hash[64], rs[64];
	size_t n;

	digest(EVP_sha256(), msg, sizeof(msg), hash, &n);
	UK_CHECK_EQ(sign(kr, 0x02, hash, n), 0x9000);
	UK_CHECK_EQ(h.rlen, 64);
	memcpy(rs, h.resp, 64);
	ecdsa_verify(key, EVP_sha256(), rs);
	digest(EVP_sha384(), msg, sizeof(msg), hash, &n);      /* longer hash: leftmost bits */
	UK_CHECK_EQ(sign(kr, 0x02, hash, n), 0x9000);
	memcpy(rs, h.resp, 64);
	ecdsa_verify(key, EVP_sha384(), rs);
	UK_CHECK_EQ(sign(kr, 0x02, hash, 19), 0x6700);
	UK_CHECK_EQ(sign(kr, 0x02, (const uint8_t *)"0123456789012345678901234567890123456789"
	                 "0123456789012345678901234", 65), 0x6700);
	UK_CHECK_EQ(sign(kr, 0x01, hash, 32), 0x6A80);          /* SM2 mechanism, P-256 key */
	UK_CHECK_EQ(sign(kr, 0x03, hash, 32), 0x6A80);          /* RSA mechanism */
	UK_CHECK_EQ(pso(0x9E, 0x9A, kr, 0x02, hash, 32, 0x20), 0x6C40);  /* Le < 64 */
}

static void rsa_verify(EVP_PKEY *key, int pad, const EVP_MD *md, int salt, const uint8_t *sig)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	uint8_t bad[256];

	UK_CHECK(mctx != NULL);
	UK_CHECK(EVP_DigestVerifyInit(mctx, &pctx, md, NULL, key) == 1);
	UK_CHECK(EVP_PKEY_CTX_set_rsa_padding(pctx, pad) == 1);
	if (pad == RSA_PKCS1_PSS_PADDING) {
		UK_CHECK(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) == 1);
		UK_CHECK(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt) == 1);
	}
	UK_CHECK_EQ(EVP_DigestVerify(mctx, sig, 256, msg, sizeof(msg)), 1);
	memcpy(bad, sig, 256);
	bad[100] ^= 0x40;
	UK_CHECK(EVP_DigestVerifyInit(mctx, &pctx, md, NULL, key) == 1);
	UK_CHECK(EVP_PKEY_CTX_set_rsa_padding(pctx, pad) == 1);
	UK_CHECK(EVP_DigestVerify(mctx, bad, 256, msg, sizeof(msg)) != 1);
	EVP_MD_CTX_free(mctx);
}

/* DigestInfo of SHA-256 (PKCS #1 v2.2 §9.2 note 1), built here byte by byte. */
static size_t digestinfo_sha256(uint8_t out[51])
{
	static const uint8_t prefix[19] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48,
	                                    0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
	                                    0x20 };
	size_t n;

	memcpy(out, prefix, sizeof(prefix));
	digest(EVP_sha256(), msg, sizeof(msg), out + 19, &n);
	return 19 + n;
}

static void test_rsa_sign(uint8_t kr, EVP_PKEY *key)
{
	const EVP_MD *mds[3] = { EVP_sha256(), EVP_sha384(), EVP_sha512() };
	uint8_t di[51], hash[64], data[246], rec[256];
	EVP_PKEY_CTX *ctx;
	size_t n, i, rlen = sizeof(rec);

	n = digestinfo_sha256(di);
	UK_CHECK_EQ(sign(kr, 0x03, di, n), 0x9000);
	UK_CHECK_EQ(h.rlen, 256);
	rsa_verify(key, RSA_PKCS1_PADDING, EVP_sha256(), 0, h.resp);
	UK_CHECK_EQ(sign(kr, 0x03, di + 19, 32), 0x6A80);       /* a bare hash: no DigestInfo */
	di[n - 33] = 0x21;                                      /* OCTET STRING length wrong */
	UK_CHECK_EQ(sign(kr, 0x03, di, n), 0x6A80);
	for (i = 0; i < 3; i++) {                                /* PSS, salt = hash length */
		digest(mds[i], msg, sizeof(msg), hash, &n);
		UK_CHECK_EQ(sign(kr, 0x04, hash, n), 0x9000);
		UK_CHECK_EQ(h.rlen, 256);
		rsa_verify(key, RSA_PKCS1_PSS_PADDING, mds[i], (int)n, h.resp);
	}
	UK_CHECK_EQ(sign(kr, 0x04, hash, 20), 0x6700);
	UK_CHECK_EQ(sign(kr, 0x04, hash, 40), 0x6700);
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	UK_CHECK_EQ(sign(kr, 0x05, data, 245), 0x9000);         /* k - 11 */
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	UK_CHECK(ctx != NULL && EVP_PKEY_verify_recover_init(ctx) == 1);
	UK_CHECK(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1);
	UK_CHECK(EVP_PKEY_verify_recover(ctx, rec, &rlen, h.resp, 256) == 1);
	UK_CHECK_EQ(rlen, 245);
	UK_CHECK_MEM(rec, data, 245);
	EVP_PKEY_CTX_free(ctx);
	UK_CHECK_EQ(sign(kr, 0x05, data, 246), 0x6700);
	UK_CHECK_EQ(sign(kr, 0x02, hash, 32), 0x6A80);          /* ECDSA mechanism, RSA key */
	UK_CHECK_EQ(sign(kr, 0x12, data, 32), 0x6A80);          /* a decipher mechanism */
	UK_CHECK_EQ(pso(0x9E, 0x9A, kr, 0x05, data, 32, 0x40), 0x6C00);  /* Le < 256 */
}

/* ---- decipher ---- */

static size_t rsa_encrypt(EVP_PKEY *key, int pad, const EVP_MD *md, const uint8_t *pt,
                          size_t n, uint8_t ct[256])
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	size_t clen = 256;

	UK_CHECK(ctx != NULL && EVP_PKEY_encrypt_init(ctx) == 1);
	UK_CHECK(EVP_PKEY_CTX_set_rsa_padding(ctx, pad) == 1);
	if (md != NULL) {
		UK_CHECK(EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) == 1);
		UK_CHECK(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1);
	}
	UK_CHECK(EVP_PKEY_encrypt(ctx, ct, &clen, pt, n) == 1);
	EVP_PKEY_CTX_free(ctx);
	return clen;
}

static void test_rsa_decipher(const char *dir, uint8_t kr, EVP_PKEY *key)
{
	static const uint8_t pt[] = "a session key of thirty-two byte";
	uint8_t ct[256];
	unsigned char *snap;
	size_t n, slen;

	n = rsa_encrypt(key, RSA_PKCS1_PADDING, NULL, pt, sizeof(pt), ct);
	UK_CHECK_EQ(n, 256);
	UK_CHECK_EQ(decipher(kr, 0x12, ct, n), 0x9000);
	UK_CHECK_EQ(h.rlen, sizeof(pt));
	UK_CHECK_MEM(h.resp, pt, sizeof(pt));
	n = rsa_encrypt(key, RSA_PKCS1_OAEP_PADDING, EVP_sha1(), pt, sizeof(pt), ct);
	UK_CHECK_EQ(decipher(kr, 0x13, ct, n), 0x9000);
	UK_CHECK(h.rlen == sizeof(pt) && memcmp(h.resp, pt, sizeof(pt)) == 0);
	snap = tu_state_bytes(dir, &slen);
	UK_CHECK_EQ(decipher(kr, 0x14, ct, n), 0x6A80);         /* SHA-1 OAEP under 14 */
	n = rsa_encrypt(key, RSA_PKCS1_OAEP_PADDING, EVP_sha256(), pt, sizeof(pt), ct);
	UK_CHECK_EQ(decipher(kr, 0x14, ct, n), 0x9000);
	UK_CHECK(h.rlen == sizeof(pt) && memcmp(h.resp, pt, sizeof(pt)) == 0);
	UK_CHECK_EQ(decipher(kr, 0x12, ct, n), 0x6A80);         /* OAEP block under PKCS#1 */
	UK_CHECK_EQ(h.rlen, 0);
	ct[0] ^= 0x80;
	UK_CHECK_EQ(decipher(kr, 0x14, ct, n), 0x6A80);         /* tampered */
	UK_CHECK_EQ(decipher(kr, 0x14, ct, 255), 0x6700);
	UK_CHECK_EQ(decipher(kr, 0x11, ct, 256), 0x6A80);       /* SM2 mechanism, RSA key */
	UK_CHECK_EQ(decipher(kr, 0x03, ct, 256), 0x6A80);       /* a signing mechanism */
	UK_CHECK_EQ(ukt_host_plain(&h, 0x00, 0x2A, 0x80, 0x86, ct, 34, 256), 0x6987);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x2A, 0x80, 0x87, ct, 34, 0, 256), 0x6A86);
	TU_CHECK_STATE_UNCHANGED(dir, snap, slen);
	free(snap);
}

/* OpenSSL's SM2 ciphertext (GM/T 0009 DER SEQUENCE { x, y, C3, C2 }) to raw C1||C3||C2. */
static size_t sm2_der_to_raw(const uint8_t *der, size_t n, uint8_t *raw)
{
	const uint8_t *p = der, *q;
	uk_tlv seq, x, y, c3, c2;

	UK_CHECK_EQ(uk_tlv_next(&p, der + n, &seq), 1);
	UK_CHECK(seq.tag == 0x30 && p == der + n);
	q = seq.value;
	UK_CHECK_EQ(uk_tlv_next(&q, seq.value + seq.len, &x), 1);
	UK_CHECK_EQ(uk_tlv_next(&q, seq.value + seq.len, &y), 1);
	UK_CHECK_EQ(uk_tlv_next(&q, seq.value + seq.len, &c3), 1);
	UK_CHECK_EQ(uk_tlv_next(&q, seq.value + seq.len, &c2), 1);
	UK_CHECK(x.tag == 2 && y.tag == 2 && c3.tag == 4 && c2.tag == 4 && c3.len == 32);
	while (x.len > 32 && x.value[0] == 0) { x.value++; x.len--; }
	while (y.len > 32 && y.value[0] == 0) { y.value++; y.len--; }
	UK_CHECK(x.len <= 32 && y.len <= 32);
	memset(raw, 0, 65);
	raw[0] = 0x04;
	memcpy(raw + 1 + 32 - x.len, x.value, x.len);
	memcpy(raw + 65 - y.len, y.value, y.len);
	memcpy(raw + 65, c3.value, 32);
	memcpy(raw + 97, c2.value, c2.len);
	return 97 + c2.len;
}

static void test_sm2_decipher(const char *dir, uint8_t kr, EVP_PKEY *key)
{
	uint8_t pt[300], der[512], raw[512];
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	unsigned char *snap;
	size_t i, dlen = sizeof(der), n, slen;

	for (i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)(i ^ 0x5A);
	UK_CHECK(ctx != NULL && EVP_PKEY_encrypt_init(ctx) == 1);
	UK_CHECK(EVP_PKEY_encrypt(ctx, der, &dlen, pt, sizeof(pt)) == 1);
	EVP_PKEY_CTX_free(ctx);
	n = sm2_der_to_raw(der, dlen, raw);
	UK_CHECK_EQ(n, 97 + sizeof(pt));
	UK_CHECK_EQ(decipher(kr, 0x11, raw, n), 0x9000);        /* answer over 256 bytes */
	UK_CHECK_EQ(h.rlen, sizeof(pt));
	UK_CHECK_MEM(h.resp, pt, sizeof(pt));
	snap = tu_state_bytes(dir, &slen);
	raw[70] ^= 1;                                           /* C3 */
	UK_CHECK_EQ(decipher(kr, 0x11, raw, n), 0x6A80);
	raw[70] ^= 1;
	raw[n - 1] ^= 1;                                        /* C2 */
	UK_CHECK_EQ(decipher(kr, 0x11, raw, n), 0x6A80);
	raw[n - 1] ^= 1;
	raw[64] ^= 1;                                           /* C1 off the curve */
	UK_CHECK_EQ(decipher(kr, 0x11, raw, n), 0x6A80);
	raw[64] ^= 1;
	raw[0] = 0x02;                                          /* C1 not uncompressed */
	UK_CHECK_EQ(decipher(kr, 0x11, raw, n), 0x6A80);
	raw[0] = 0x04;
	UK_CHECK_EQ(decipher(kr, 0x11, raw, 97), 0x6700);       /* no C2 */
	UK_CHECK_EQ(decipher(kr, 0x12, raw, 256), 0x6A80);      /* RSA mechanism, SM2 key */
	UK_CHECK_EQ(sign(kr, 0x11, raw, 32), 0x6A80);           /* decipher mech under 9E 9A */
	TU_CHECK_STATE_UNCHANGED(dir, snap, slen);
	free(snap);
	UK_CHECK_EQ(decipher(kr, 0x11, raw, n), 0x9000);        /* nothing was spoiled */
	UK_CHECK_MEM(h.resp, pt, sizeof(pt));
}

/* ---- GENERATE details ---- */

static void test_generate_rules(const char *dir, uint8_t kr)
{
	static const uint8_t rsa[3] = { 0x80, 0x01, 0x03 };
	unsigned char *snap;
	size_t slen;
	uk_tlv t;

	/* extended Le too small for the RSA template: 6700 before generating anything */
	snap = tu_state_bytes(dir, &slen);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x46, 0x80, kr, rsa, 3, 0, 300), 0x9000);
	free(snap);
	snap = tu_state_bytes(dir, &slen);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x46, 0x80, kr, rsa, 3, 0, 269), 0x6700);
	TU_CHECK_STATE_UNCHANGED(dir, snap, slen);
	free(snap);
	/* short Le: the 270-byte answer is paged (61xx, ISO 7816-4 §5.1.3) */
	UK_CHECK_EQ(ukt_host_plain(&h, 0x00, 0x46, 0x81, kr, NULL, 0, 256), 0x610E);
	UK_CHECK_EQ(h.rlen, 256);
	UK_CHECK_EQ(ukt_host_hex(&h, "00C000000E"), 0x9000);
	UK_CHECK_EQ(h.rlen, 14);
	UK_CHECK_EQ(ukt_host_plain(&h, 0x00, 0x46, 0x81, kr, NULL, 0, EXT_LE), 0x9000);
	UK_CHECK_EQ(h.rlen, 270);
	UK_CHECK_EQ(uk_tlv_find(h.resp, h.rlen, 0x7F49, &t), 1);
	/* GET DATA 00 tag 87: SM2, P-256, RSA-2048, SM3 (PSO HASH), SM4 (session keys) */
	UK_CHECK_EQ(ukt_host_plain(&h, 0x00, 0xCA, 0x01, 0x00, NULL, 0, 256), 0x9000);
	UK_CHECK_EQ(uk_tlv_find(h.resp, h.rlen, 0x87, &t), 1);
	UK_CHECK(t.len == 2 && t.value[0] == 0x00 && t.value[1] == 0x1F);
}

/* ---- GET CHALLENGE ---- */

static void test_get_challenge(const char *dir)
{
	uint8_t first[8];
	ukt_card *card;
	ukt_host g;

	UK_CHECK_EQ(ukt_host_hex(&h, "0084000008"), 0x9000);
	UK_CHECK_EQ(h.rlen, 8);
	memcpy(first, h.resp, 8);
	UK_CHECK_EQ(ukt_host_hex(&h, "0084000008"), 0x9000);
	UK_CHECK(memcmp(first, h.resp, 8) != 0);
	UK_CHECK_EQ(ukt_host_hex(&h, "0084000000"), 0x9000);            /* Le 00 = 256 */
	UK_CHECK_EQ(h.rlen, 256);
	UK_CHECK_EQ(ukt_host_hex(&h, "0084000001"), 0x9000);
	UK_CHECK_EQ(h.rlen, 1);
	UK_CHECK_EQ(ukt_host_hex(&h, "00840000000100"), 0x9000);        /* extended Le 256 */
	UK_CHECK_EQ(h.rlen, 256);
	UK_CHECK_EQ(ukt_host_hex(&h, "00840000000101"), 0x6700);        /* extended Le 257 */
	UK_CHECK_EQ(ukt_host_hex(&h, "00840000"), 0x6700);              /* no Le */
	UK_CHECK_EQ(ukt_host_hex(&h, "008400000100"), 0x6700);          /* data, no Le */
	UK_CHECK_EQ(ukt_host_hex(&h, "00840000010008"), 0x6700);        /* data field */
	UK_CHECK_EQ(ukt_host_hex(&h, "0084010008"), 0x6A86);
	UK_CHECK_EQ(ukt_host_hex(&h, "0484000008"), 0x6882);            /* secured */
	UK_CHECK_EQ(ukt_host_hex(&h, "1084000008"), 0x6884);            /* chained */
	card = ukt_card_open(dir, NULL);                                /* a second card */
	UK_CHECK(card != NULL);
	ukt_host_init_card(&g, card);
	UK_CHECK_EQ(ukt_host_hex(&g, "0084000008"), 0x6985);            /* not selected */
	ukt_card_close(card);
}

int main(void)
{
	uint8_t tpl_ec[300], tpl_rsa[300], tpl_sm2[300], hash[32], di[51];
	size_t l_ec, l_rsa, l_sm2, n;
	char *dir = tu_tmpdir(), *dir2 = tu_tmpdir();
	EVP_PKEY *p256, *rsa, *sm2;
	ukt_card *card = tu_card_logged_in(dir, &h);
	uint8_t c0, c1, kr_ec, kr_rsa, kr_sm2;

	UK_CHECK_EQ(ukt_host_create_container(&h, "alg-sign"), 0x9000);
	c0 = h.resp[2];
	UK_CHECK_EQ(ukt_host_create_container(&h, "alg-enc"), 0x9000);
	c1 = h.resp[2];
	kr_ec = (uint8_t)(c0 * 2);
	kr_rsa = (uint8_t)(c0 * 2 + 1);
	kr_sm2 = (uint8_t)(c1 * 2 + 1);
	p256 = generate(kr_ec, 0x02, tpl_ec, &l_ec);
	rsa = generate(kr_rsa, 0x03, tpl_rsa, &l_rsa);
	sm2 = generate(kr_sm2, 0x01, tpl_sm2, &l_sm2);
	UK_CHECK_EQ(l_ec, 70);
	UK_CHECK_EQ(l_rsa, 270);
	check_listed(kr_ec, 0x02, tpl_ec, l_ec);
	check_listed(kr_rsa, 0x03, tpl_rsa, l_rsa);
	check_listed(kr_sm2, 0x01, tpl_sm2, l_sm2);

	test_ecdsa(kr_ec, p256);
	test_rsa_sign(kr_rsa, rsa);
	test_rsa_decipher(dir, kr_rsa, rsa);
	test_sm2_decipher(dir, kr_sm2, sm2);
	test_get_challenge(dir2);

	/* not logged in: 6982 for both operations */
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x20, 0xFF, 0x81, NULL, 0, 1, UKT_HOST_NO_LE),
	            0x9000);
	digest(EVP_sha256(), msg, sizeof(msg), hash, &n);
	UK_CHECK_EQ(sign(kr_ec, 0x02, hash, 32), 0x6982);
	UK_CHECK_EQ(decipher(kr_rsa, 0x12, tpl_rsa, 256), 0x6982);

	/* the keys survive a reopen (sealed at rest) and work after a new VERIFY */
	ukt_card_close(card);
	card = tu_card_logged_in(dir, &h);
	check_listed(kr_ec, 0x02, tpl_ec, l_ec);
	check_listed(kr_rsa, 0x03, tpl_rsa, l_rsa);
	test_ecdsa(kr_ec, p256);
	n = digestinfo_sha256(di);
	UK_CHECK_EQ(sign(kr_rsa, 0x03, di, n), 0x9000);
	rsa_verify(rsa, RSA_PKCS1_PADDING, EVP_sha256(), 0, h.resp);
	test_sm2_decipher(dir, kr_sm2, sm2);
	test_generate_rules(dir, kr_rsa);

	EVP_PKEY_free(p256);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(sm2);
	ukt_card_close(card);
	tu_rmdir(dir);
	tu_rmdir(dir2);
	free(dir);
	free(dir2);
	return uk_test_done("token_alg");
}
