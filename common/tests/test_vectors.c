/* common_vectors: uk_crypto against the official GM/T known-answer vectors
 * (conformance/vectors/gm-vectors.txt, path given as argv[1]) and against OpenSSL's
 * own EVP on the other side of every SM2 operation. */
#include "uk_crypto.h"
#include "uk_buf.h"
#include "uk_tlv.h"
#include "uk_test.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>

#define MAXV 256

/* ---- the vectors file: "[section]" then "name = hex" lines, '#' comments ---- */

static char *vec_text;

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = calloc(1, (size_t)n + 1);
		if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

/* Decode the value of name in [section] into out; returns its length, exits on absence. */
static size_t vec(const char *section, const char *name, uint8_t *out, size_t cap)
{
	char hdr[64], line[1024], key[64], hex[1024];
	const char *p = vec_text, *nl;
	int in_section = 0;
	long n;

	snprintf(hdr, sizeof(hdr), "[%s]", section);
	while (p != NULL && *p != '\0') {
		nl = strchr(p, '\n');
		snprintf(line, sizeof(line), "%.*s", (int)(nl ? nl - p : (long)strlen(p)), p);
		p = nl ? nl + 1 : NULL;
		if (line[0] == '[') {
			in_section = strncmp(line, hdr, strlen(hdr)) == 0;
			continue;
		}
		if (!in_section || line[0] == '#')
			continue;
		hex[0] = '\0';
		if (sscanf(line, " %63[^ =] = %1023s", key, hex) < 1 || strcmp(key, name) != 0)
			continue;
		n = uk_hex_decode(hex, out, cap);
		UK_CHECK(n >= 0);
		return (size_t)n;
	}
	fprintf(stderr, "vector [%s] %s missing\n", section, name);
	exit(1);
}

/* ---- helpers building keys with plain EVP, independent of uk_crypto ---- */

static EVP_PKEY *evp_sm2_key(const uint8_t pub[65], const uint8_t *d)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
	EVP_PKEY *key = NULL;
	BIGNUM *bn = d ? BN_bin2bn(d, 32, NULL) : NULL;

	UK_CHECK(bld != NULL && ctx != NULL);
	UK_CHECK(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "SM2", 0));
	UK_CHECK(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 65));
	if (bn != NULL)
		UK_CHECK(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn));
	params = OSSL_PARAM_BLD_to_param(bld);
	UK_CHECK(params != NULL);
	UK_CHECK(EVP_PKEY_fromdata_init(ctx) == 1);
	UK_CHECK(EVP_PKEY_fromdata(ctx, &key, d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY,
	                           params) == 1);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_free(bn);
	return key;
}

static void official_point(uint8_t pub[65])
{
	pub[0] = 0x04;
	UK_CHECK_EQ(vec("sm2-sign", "x", pub + 1, 32), 32);
	UK_CHECK_EQ(vec("sm2-sign", "y", pub + 33, 32), 32);
}

/* ---- SM3, SM4, KDF ---- */

static void test_sm3(void)
{
	static const char *names[][2] = {
		{ "msg_abc", "digest_abc" },
		{ "msg_abcd16", "digest_abcd16" },
		{ "msg_empty", "digest_empty" },
	};
	uint8_t msg[MAXV], want[32], got[32];
	size_t i, n;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		n = vec("sm3", names[i][0], msg, sizeof(msg));
		UK_CHECK_EQ(vec("sm3", names[i][1], want, sizeof(want)), 32);
		UK_CHECK(uk_sm3(msg, n, got) == 0);
		UK_CHECK_MEM(got, want, 32);
	}
	UK_CHECK(uk_sm3(NULL, 0, got) == 0);
	UK_CHECK_MEM(got, want, 32);  /* the last vector is the empty message */
	UK_CHECK(uk_sm3(NULL, 1, got) == -1);
}

static void test_sm4(void)
{
	uint8_t key[16], pt[16], ct[16], ct1m[16], buf[32], iv[16], cbc[32];
	long i;

	UK_CHECK_EQ(vec("sm4", "key", key, 16), 16);
	UK_CHECK_EQ(vec("sm4", "plaintext", pt, 16), 16);
	UK_CHECK_EQ(vec("sm4", "ciphertext", ct, 16), 16);
	UK_CHECK_EQ(vec("sm4", "ciphertext_1000000", ct1m, 16), 16);
	UK_CHECK(uk_sm4_ecb(1, key, pt, 16, buf) == 0);
	UK_CHECK_MEM(buf, ct, 16);
	UK_CHECK(uk_sm4_ecb(0, key, buf, 16, buf) == 0);  /* in place */
	UK_CHECK_MEM(buf, pt, 16);
	memcpy(buf, pt, 16);
	for (i = 0; i < 1000000; i++)
		UK_CHECK(uk_sm4_ecb(1, key, buf, 16, buf) == 0);
	UK_CHECK_MEM(buf, ct1m, 16);
	UK_CHECK(uk_sm4_ecb(1, key, pt, 15, buf) == -1);
	/* CBC from the ECB vector: with IV 0 the first block is the ECB result; the second
	 * block is E(ct XOR pt). */
	memset(iv, 0, 16);
	memcpy(buf, pt, 16);
	memcpy(buf + 16, pt, 16);
	UK_CHECK(uk_sm4_cbc(1, key, iv, buf, 32, cbc) == 0);
	UK_CHECK_MEM(cbc, ct, 16);
	for (i = 0; i < 16; i++)
		iv[i] = ct[i] ^ pt[i];
	UK_CHECK(uk_sm4_ecb(1, key, iv, 16, iv) == 0);
	UK_CHECK_MEM(cbc + 16, iv, 16);
	memset(iv, 0, 16);
	UK_CHECK(uk_sm4_cbc(0, key, iv, cbc, 32, cbc) == 0);
	UK_CHECK_MEM(cbc, buf, 32);
	UK_CHECK(uk_sm4_cbc(1, key, iv, buf, 17, cbc) == -1);
}

/* GM/T 0003.4 §5.4.3 computed here with EVP SM3 directly. */
static void kdf_by_hand(const uint8_t *z, size_t zlen, uint8_t *out, size_t outlen)
{
	uint8_t ct[4], h[32];
	uint32_t i;
	size_t done = 0, take;
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	UK_CHECK(md != NULL);
	for (i = 1; done < outlen; i++) {
		ct[0] = (uint8_t)(i >> 24);
		ct[1] = (uint8_t)(i >> 16);
		ct[2] = (uint8_t)(i >> 8);
		ct[3] = (uint8_t)i;
		UK_CHECK(EVP_DigestInit_ex(md, EVP_sm3(), NULL) == 1);
		UK_CHECK(EVP_DigestUpdate(md, z, zlen) == 1);
		UK_CHECK(EVP_DigestUpdate(md, ct, 4) == 1);
		UK_CHECK(EVP_DigestFinal_ex(md, h, NULL) == 1);
		take = outlen - done < 32 ? outlen - done : 32;
		memcpy(out + done, h, take);
		done += take;
	}
	EVP_MD_CTX_free(md);
}

static void test_kdf(void)
{
	static const size_t lens[] = { 1, 16, 31, 32, 33, 48, 64, 100 };
	uint8_t z[162], want[100], got[100];
	size_t i;

	for (i = 0; i < sizeof(z); i++)
		z[i] = (uint8_t)(i * 7 + 3);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		kdf_by_hand(z, sizeof(z), want, lens[i]);
		memset(got, 0xAA, sizeof(got));
		UK_CHECK(uk_sm3_kdf(z, sizeof(z), got, lens[i]) == 0);
		UK_CHECK_MEM(got, want, lens[i]);
		UK_CHECK(lens[i] == sizeof(got) || got[lens[i]] == 0xAA);  /* no overrun */
	}
	UK_CHECK(uk_sm3_kdf(z, sizeof(z), got, 0) == -1);
}

/* HMAC (RFC 2104) built here from EVP SM3: H((K ^ opad) || H((K ^ ipad) || m)), with K
 * hashed first when longer than the 64-byte block. */
static void hmac_by_hand(const uint8_t *key, size_t klen, const uint8_t *m, size_t n,
                         uint8_t out[32])
{
	uint8_t k[64] = { 0 }, pad[64], inner[32];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t i;
	int pass;

	UK_CHECK(md != NULL);
	if (klen > 64)
		UK_CHECK(EVP_Digest(key, klen, k, NULL, EVP_sm3(), NULL) == 1);
	else if (klen > 0)
		memcpy(k, key, klen);
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < 64; i++)
			pad[i] = k[i] ^ (pass == 0 ? 0x36 : 0x5C);
		UK_CHECK(EVP_DigestInit_ex(md, EVP_sm3(), NULL) == 1);
		UK_CHECK(EVP_DigestUpdate(md, pad, 64) == 1);
		if (pass == 0)
			UK_CHECK(EVP_DigestUpdate(md, m, n) == 1);
		else
			UK_CHECK(EVP_DigestUpdate(md, inner, 32) == 1);
		UK_CHECK(EVP_DigestFinal_ex(md, pass == 0 ? inner : out, NULL) == 1);
	}
	EVP_MD_CTX_free(md);
}

static void test_hmac(void)
{
	static const size_t klens[] = { 0, 16, 32, 64, 65, 100 };
	uint8_t key[100], msg[3] = { 'a', 'b', 'c' }, want[32], got[32];
	size_t i;

	for (i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(0x0B + i);
	for (i = 0; i < sizeof(klens) / sizeof(klens[0]); i++) {
		hmac_by_hand(key, klens[i], msg, 3, want);
		UK_CHECK(uk_hmac_sm3(klens[i] ? key : NULL, klens[i], msg, 3, got) == 0);
		UK_CHECK_MEM(got, want, 32);
	}
	hmac_by_hand(key, 16, msg, 0, want);
	UK_CHECK(uk_hmac_sm3(key, 16, NULL, 0, got) == 0);
	UK_CHECK_MEM(got, want, 32);
}

/* ---- SM2 ---- */

static void test_sm2_z_e(void)
{
	uint8_t pub[65], id[32], msg[64], z[32], e[32], want[32];
	size_t idlen, mlen;

	official_point(pub);
	idlen = vec("sm2-sign", "user_id", id, sizeof(id));
	mlen = vec("sm2-sign", "msg", msg, sizeof(msg));
	UK_CHECK_EQ(vec("sm2-sign", "z", want, 32), 32);
	UK_CHECK(uk_sm2_compute_z(pub, id, idlen, z) == 0);
	UK_CHECK_MEM(z, want, 32);
	UK_CHECK(uk_sm2_compute_z(pub, NULL, 0, z) == 0);  /* default ID is the same */
	UK_CHECK_MEM(z, want, 32);
	UK_CHECK_EQ(vec("sm2-curve", "default_user_id", id, sizeof(id)), 16);
	UK_CHECK_MEM(uk_sm2_default_id, id, 16);
	UK_CHECK_EQ(vec("sm2-sign", "e", want, 32), 32);
	UK_CHECK(uk_sm2_compute_e(pub, NULL, 0, msg, mlen, e) == 0);
	UK_CHECK_MEM(e, want, 32);
	pub[0] = 0x02;
	UK_CHECK(uk_sm2_compute_z(pub, NULL, 0, z) == -1);
}

static void test_sm2_keys(void)
{
	uint8_t d[32], pub[65], got[65], dgot[32];
	EVP_PKEY *k;

	UK_CHECK_EQ(vec("sm2-sign", "d", d, 32), 32);
	official_point(pub);
	k = uk_sm2_from_private(d);
	UK_CHECK(k != NULL);
	UK_CHECK(EVP_PKEY_is_a(k, "SM2"));
	UK_CHECK(uk_sm2_get_public(k, got) == 0);
	UK_CHECK_MEM(got, pub, 65);
	UK_CHECK(uk_sm2_get_private(k, dgot) == 0);
	UK_CHECK_MEM(dgot, d, 32);
	EVP_PKEY_free(k);

	k = uk_sm2_from_public(pub);
	UK_CHECK(k != NULL);
	UK_CHECK(uk_sm2_get_private(k, dgot) == -1);
	EVP_PKEY_free(k);
	pub[64] ^= 1;  /* off the curve */
	UK_CHECK(uk_sm2_from_public(pub) == NULL);
	memset(d, 0, sizeof(d));
	UK_CHECK(uk_sm2_from_private(d) == NULL);
	memset(d, 0xFF, sizeof(d));  /* > n */
	UK_CHECK(uk_sm2_from_private(d) == NULL);

	k = uk_sm2_generate();
	UK_CHECK(k != NULL && EVP_PKEY_is_a(k, "SM2"));
	UK_CHECK(uk_sm2_get_public(k, got) == 0 && got[0] == 0x04);
	EVP_PKEY_free(k);
}

static void sig_from_vectors(uint8_t sig[64])
{
	UK_CHECK_EQ(vec("sm2-sign", "r", sig, 32), 32);
	UK_CHECK_EQ(vec("sm2-sign", "s", sig + 32, 32), 32);
}

static void test_sm2_verify_official(void)
{
	uint8_t pub[65], e[32], sig[64];
	EVP_PKEY *k;

	official_point(pub);
	UK_CHECK_EQ(vec("sm2-sign", "e", e, 32), 32);
	sig_from_vectors(sig);
	k = uk_sm2_from_public(pub);
	UK_CHECK(k != NULL);
	UK_CHECK_EQ(uk_sm2_verify_e(k, e, sig), 1);
	sig[63] ^= 1;
	UK_CHECK_EQ(uk_sm2_verify_e(k, e, sig), 0);
	sig[63] ^= 1;
	e[0] ^= 0x80;
	UK_CHECK_EQ(uk_sm2_verify_e(k, e, sig), 0);
	EVP_PKEY_free(k);
}

/* OpenSSL's DigestVerify computes Z itself from the distinguishing ID and hashes M. */
static int evp_verify_msg(EVP_PKEY *k, const uint8_t *der, size_t derlen, const uint8_t *m,
                          size_t mlen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	int rc;

	UK_CHECK(md != NULL);
	UK_CHECK(EVP_DigestVerifyInit_ex(md, &pctx, "SM3", NULL, NULL, k, NULL) == 1);
	UK_CHECK(EVP_PKEY_CTX_set1_id(pctx, uk_sm2_default_id, 16) == 1);
	rc = EVP_DigestVerify(md, der, derlen, m, mlen);
	EVP_MD_CTX_free(md);
	return rc;
}

static size_t evp_sign_msg(EVP_PKEY *k, const uint8_t *m, size_t mlen, uint8_t *der,
                           size_t cap)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	size_t len = cap;

	UK_CHECK(md != NULL);
	UK_CHECK(EVP_DigestSignInit_ex(md, &pctx, "SM3", NULL, NULL, k, NULL) == 1);
	UK_CHECK(EVP_PKEY_CTX_set1_id(pctx, uk_sm2_default_id, 16) == 1);
	UK_CHECK(EVP_DigestSign(md, der, &len, m, mlen) == 1);
	EVP_MD_CTX_free(md);
	return len;
}

/* r||s from DER with OpenSSL's own decoder. */
static void evp_der_to_rs(const uint8_t *der, size_t len, uint8_t rs[64])
{
	const uint8_t *p = der;
	ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)len);
	const BIGNUM *r, *sv;

	UK_CHECK(s != NULL);
	ECDSA_SIG_get0(s, &r, &sv);
	UK_CHECK(BN_bn2binpad(r, rs, 32) == 32 && BN_bn2binpad(sv, rs + 32, 32) == 32);
	ECDSA_SIG_free(s);
}

static void test_sm2_sign_cross(void)
{
	uint8_t d[32], pub[65], e[32], msg[64], sig[64], der[80], *p;
	size_t mlen, derlen;
	EVP_PKEY *ours, *theirs;
	ECDSA_SIG *s;
	BIGNUM *r, *sv;
	int i;

	UK_CHECK_EQ(vec("sm2-sign", "d", d, 32), 32);
	official_point(pub);
	UK_CHECK_EQ(vec("sm2-sign", "e", e, 32), 32);
	mlen = vec("sm2-sign", "msg", msg, sizeof(msg));
	ours = uk_sm2_from_private(d);
	theirs = evp_sm2_key(pub, d);
	UK_CHECK(ours != NULL && theirs != NULL);
	for (i = 0; i < 8; i++) {
		/* ours signs e, OpenSSL verifies the message (its own Z and e) */
		UK_CHECK(uk_sm2_sign_e(ours, e, sig) == 0);
		r = BN_bin2bn(sig, 32, NULL);
		sv = BN_bin2bn(sig + 32, 32, NULL);
		s = ECDSA_SIG_new();
		UK_CHECK(r && sv && s && ECDSA_SIG_set0(s, r, sv) == 1);
		p = der;
		derlen = (size_t)i2d_ECDSA_SIG(s, &p);
		ECDSA_SIG_free(s);
		UK_CHECK_EQ(evp_verify_msg(theirs, der, derlen, msg, mlen), 1);
		msg[0] ^= 1;
		UK_CHECK(evp_verify_msg(theirs, der, derlen, msg, mlen) != 1);
		msg[0] ^= 1;
		/* OpenSSL signs the message, ours verifies over the official e */
		derlen = evp_sign_msg(theirs, msg, mlen, der, sizeof(der));
		evp_der_to_rs(der, derlen, sig);
		UK_CHECK_EQ(uk_sm2_verify_e(ours, e, sig), 1);
	}
	EVP_PKEY_free(ours);
	EVP_PKEY_free(theirs);
}

/* ---- signature codec ---- */

static void test_sig_codec(void)
{
	uint8_t rs[64], back[64], der[80];
	size_t len;

	memset(rs, 0, sizeof(rs));
	rs[31] = 1;              /* r = 1: short INTEGER */
	memset(rs + 32, 0xFF, 32); /* s with the top bit set: needs a 00 pad */
	len = sizeof(der);
	UK_CHECK(uk_sig_rs_to_der(rs, 32, der, &len) == 0);
	UK_CHECK_EQ(len, 2 + 3 + 2 + 33);
	UK_CHECK_EQ(der[0], 0x30);
	UK_CHECK_EQ(der[2], 0x02);
	UK_CHECK_EQ(der[3], 1);
	UK_CHECK_EQ(der[6], 33);
	UK_CHECK_EQ(der[7], 0x00);
	UK_CHECK(uk_sig_der_to_rs(der, len, back, 32) == 0);
	UK_CHECK_MEM(back, rs, 64);
	UK_CHECK(uk_sig_der_to_rs(der, len - 1, back, 32) == -1);  /* truncated */
	UK_CHECK(uk_sig_der_to_rs(der, len, back, 16) == -1);      /* s does not fit */
	der[1]++;
	UK_CHECK(uk_sig_der_to_rs(der, len, back, 32) == -1);      /* bad length */
	len = 10;
	UK_CHECK(uk_sig_rs_to_der(rs, 32, der, &len) == -1);       /* no room */
}

/* ---- ECDH ---- */

/* x of [d]Q computed here with EC_POINT arithmetic, d read out through EVP. */
static void ecdh_by_hand(EVP_PKEY *priv, const uint8_t q[65], uint8_t x[32])
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_sm2);
	EC_POINT *p = g ? EC_POINT_new(g) : NULL, *r = g ? EC_POINT_new(g) : NULL;
	BIGNUM *d = NULL, *bx = BN_new();

	UK_CHECK(p != NULL && r != NULL && bx != NULL);
	UK_CHECK(EVP_PKEY_get_bn_param(priv, OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1);
	UK_CHECK(EC_POINT_oct2point(g, p, q, 65, NULL) == 1);
	UK_CHECK(EC_POINT_mul(g, r, NULL, p, d, NULL) == 1);
	UK_CHECK(EC_POINT_get_affine_coordinates(g, r, bx, NULL, NULL) == 1);
	UK_CHECK(BN_bn2binpad(bx, x, 32) == 32);
	BN_clear_free(d);
	BN_free(bx);
	EC_POINT_free(p);
	EC_POINT_free(r);
	EC_GROUP_free(g);
}

static void test_ecdh(void)
{
	uint8_t qa[65], qb[65], xa[32], xb[32], want[32];
	EVP_PKEY *a = uk_ecdh_sm2_generate(), *b = uk_ecdh_sm2_generate();

	UK_CHECK(a != NULL && b != NULL);
	UK_CHECK(uk_ecdh_sm2_public(a, qa) == 0 && uk_ecdh_sm2_public(b, qb) == 0);
	UK_CHECK(uk_ecdh_sm2_derive(a, qb, xa) == 0);
	UK_CHECK(uk_ecdh_sm2_derive(b, qa, xb) == 0);
	UK_CHECK_MEM(xa, xb, 32);
	ecdh_by_hand(a, qb, want);
	UK_CHECK_MEM(xa, want, 32);
	qb[64] ^= 1;  /* off the curve */
	UK_CHECK(uk_ecdh_sm2_derive(a, qb, xa) == -1);
	qb[0] = 0x02;
	UK_CHECK(uk_ecdh_sm2_derive(a, qb, xa) == -1);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
}

/* ---- SM2 encryption: the official ciphertext decrypts with OpenSSL ---- */

static void der_integer(uk_buf *b, const uint8_t *v, size_t n)
{
	uint8_t tmp[33];

	while (n > 1 && v[0] == 0) {
		v++;
		n--;
	}
	tmp[0] = 0;
	memcpy(tmp + 1, v, n);
	if (v[0] & 0x80)
		UK_CHECK(uk_tlv_put(b, 0x02, tmp, n + 1) == 0);
	else
		UK_CHECK(uk_tlv_put(b, 0x02, v, n) == 0);
}

static void test_sm2_decrypt_official(void)
{
	uint8_t d[32], pub[65], c1[65], c3[32], c2[64], msg[64], out[64];
	size_t c2len, mlen, outlen = sizeof(out);
	uk_buf inner, seq;
	EVP_PKEY *k;
	EVP_PKEY_CTX *ctx;

	UK_CHECK_EQ(vec("sm2-encrypt", "d", d, 32), 32);
	UK_CHECK_EQ(vec("sm2-encrypt", "c1", c1, 65), 65);
	UK_CHECK_EQ(vec("sm2-encrypt", "c3", c3, 32), 32);
	c2len = vec("sm2-encrypt", "c2", c2, sizeof(c2));
	mlen = vec("sm2-encrypt", "msg", msg, sizeof(msg));
	UK_CHECK_EQ(c2len, mlen);
	/* GM/T 0009 §7.3: SEQUENCE { INTEGER x, INTEGER y, OCTET STRING C3, OCTET STRING C2 } */
	uk_buf_init(&inner, 0, 0);
	uk_buf_init(&seq, 0, 0);
	der_integer(&inner, c1 + 1, 32);
	der_integer(&inner, c1 + 33, 32);
	UK_CHECK(uk_tlv_put(&inner, 0x04, c3, 32) == 0);
	UK_CHECK(uk_tlv_put(&inner, 0x04, c2, c2len) == 0);
	UK_CHECK(uk_tlv_put(&seq, 0x30, inner.data, inner.len) == 0);

	k = uk_sm2_from_private(d);
	UK_CHECK(k != NULL && uk_sm2_get_public(k, pub) == 0);
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
	UK_CHECK(ctx != NULL && EVP_PKEY_decrypt_init(ctx) == 1);
	UK_CHECK(EVP_PKEY_decrypt(ctx, out, &outlen, seq.data, seq.len) == 1);
	UK_CHECK_EQ(outlen, mlen);
	UK_CHECK_MEM(out, msg, mlen);
	seq.data[seq.len - 1] ^= 1;  /* C2 altered: C3 no longer matches */
	outlen = sizeof(out);
	UK_CHECK(EVP_PKEY_decrypt(ctx, out, &outlen, seq.data, seq.len) != 1);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(k);
	uk_buf_free(&inner);
	uk_buf_free(&seq);
}

static void test_random(void)
{
	uint8_t a[32], b[32];

	UK_CHECK(uk_random(a, sizeof(a)) == 0 && uk_random(b, sizeof(b)) == 0);
	UK_CHECK(memcmp(a, b, sizeof(a)) != 0);
	UK_CHECK(uk_random(NULL, 0) == 0);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return uk_test_skip("usage: common_vectors gm-vectors.txt");
	vec_text = read_file(argv[1]);
	if (vec_text == NULL) {
		fprintf(stderr, "cannot read %s\n", argv[1]);
		return 1;
	}
	test_sm3();
	test_sm4();
	test_kdf();
	test_hmac();
	test_sm2_z_e();
	test_sm2_keys();
	test_sm2_verify_official();
	test_sm2_sign_cross();
	test_sig_codec();
	test_ecdh();
	test_sm2_decrypt_official();
	test_random();
	free(vec_text);
	return uk_test_done("common_vectors");
}
