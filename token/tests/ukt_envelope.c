/* ukey token tests: host side of enveloped import and SM4 session keys (ukt_envelope.h),
 * OpenSSL EVP / EC only. */
#include "ukt_envelope.h"

#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "uk_apdu.h"
#include "uk_tlv.h"
#include "uk_wipe.h"

long ukt_env_vector(const char *path, const char *section, const char *name, uint8_t *out,
                    size_t cap)
{
	char line[1024], want[64], cur[64] = "";
	FILE *f = fopen(path, "r");
	size_t nl = strlen(name);
	long n = -1;

	if (f == NULL)
		return -1;
	snprintf(want, sizeof(want), "[%s]", section);
	while (n < 0 && fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '[')
			snprintf(cur, sizeof(cur), "%.63s", line);
		else if (strcmp(cur, want) == 0 && strncmp(line, name, nl) == 0 &&
		         strncmp(line + nl, " =", 2) == 0 &&
		         (line[nl + 2] == ' ' || line[nl + 2] == '\0'))   /* "name =": empty */
			n = uk_hex_decode(line + nl + 2, out, cap);
	}
	fclose(f);
	return n;
}

int ukt_env_sm2_keygen(uint8_t d[32], uint8_t pub[65])
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
	BIGNUM *bn = NULL;
	size_t n = 0;
	int rc = -1;

	if (k != NULL && EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &bn) == 1 &&
	    BN_bn2binpad(bn, d, 32) == 32 &&
	    EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub, 65,
	                                    &n) == 1 && n == 65)
		rc = 0;
	BN_clear_free(bn);
	EVP_PKEY_free(k);
	return rc;
}

int ukt_env_sm2_pub(const uint8_t d[32], uint8_t pub[65])
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_sm2);
	EC_POINT *q = g != NULL ? EC_POINT_new(g) : NULL;
	BIGNUM *bn = BN_bin2bn(d, 32, NULL);
	int rc = -1;

	if (q != NULL && bn != NULL && EC_POINT_mul(g, q, bn, NULL, NULL, NULL) == 1 &&
	    EC_POINT_point2oct(g, q, POINT_CONVERSION_UNCOMPRESSED, pub, 65, NULL) == 65)
		rc = 0;
	BN_clear_free(bn);
	EC_POINT_free(q);
	EC_GROUP_free(g);
	return rc;
}

static EVP_PKEY *sm2_public(const uint8_t pub[65])
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
	EVP_PKEY *key = NULL;

	if (bld == NULL || ctx == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "SM2", 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 65) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
		key = NULL;
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

/* SEQUENCE { INTEGER x, INTEGER y, OCTET STRING C3, OCTET STRING C2 } (GM/T 0009-2012 §7.2)
 * to C1 || C3 || C2, read with OpenSSL's generic ASN.1 parser. */
static size_t der_to_raw(const uint8_t *der, size_t dlen, uint8_t *raw, size_t cap)
{
	const unsigned char *p = der;
	ASN1_SEQUENCE_ANY *seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)dlen);
	ASN1_TYPE *t[4];
	BIGNUM *bn = NULL;
	size_t n = 0, c3, c2;
	int i;

	if (seq == NULL || p != der + dlen || sk_ASN1_TYPE_num(seq) != 4)
		goto out;
	for (i = 0; i < 4; i++)
		t[i] = sk_ASN1_TYPE_value(seq, i);
	if (t[0]->type != V_ASN1_INTEGER || t[1]->type != V_ASN1_INTEGER ||
	    t[2]->type != V_ASN1_OCTET_STRING || t[3]->type != V_ASN1_OCTET_STRING)
		goto out;
	c3 = (size_t)ASN1_STRING_length(t[2]->value.octet_string);
	c2 = (size_t)ASN1_STRING_length(t[3]->value.octet_string);
	if (c3 != 32 || 65 + c3 + c2 > cap)
		goto out;
	raw[0] = 0x04;
	for (i = 0; i < 2; i++) {
		bn = ASN1_INTEGER_to_BN(t[i]->value.integer, bn);
		if (bn == NULL || BN_bn2binpad(bn, raw + 1 + 32 * i, 32) != 32)
			goto out;
	}
	memcpy(raw + 65, ASN1_STRING_get0_data(t[2]->value.octet_string), c3);
	memcpy(raw + 65 + c3, ASN1_STRING_get0_data(t[3]->value.octet_string), c2);
	n = 65 + c3 + c2;
out:
	BN_free(bn);
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	return n;
}

size_t ukt_env_sm2_encrypt(const uint8_t pub[65], const uint8_t *msg, size_t n, uint8_t *raw,
                           size_t cap)
{
	EVP_PKEY *key = sm2_public(pub);
	EVP_PKEY_CTX *ctx = key != NULL ? EVP_PKEY_CTX_new(key, NULL) : NULL;
	uint8_t der[512];
	size_t dlen = sizeof(der), r = 0;

	if (ctx != NULL && n <= 256 && EVP_PKEY_encrypt_init(ctx) == 1 &&
	    EVP_PKEY_encrypt(ctx, der, &dlen, msg, n) == 1)
		r = der_to_raw(der, dlen, raw, cap);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(key);
	return r;
}

int ukt_env_sm4(int encrypt, const uint8_t key[16], const uint8_t *iv, const uint8_t *in,
                size_t n, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int l1 = 0, l2 = 0, rc = -1;

	if (ctx != NULL &&
	    EVP_CipherInit_ex(ctx, iv != NULL ? EVP_sm4_cbc() : EVP_sm4_ecb(), NULL, key, iv,
	                      encrypt) == 1 &&
	    EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
	    EVP_CipherUpdate(ctx, out, &l1, in, (int)n) == 1 &&
	    EVP_CipherFinal_ex(ctx, out + l1, &l2) == 1 && (size_t)(l1 + l2) == n)
		rc = 0;
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* A 32-byte coordinate right-aligned in a 64-byte field. */
static void put_coord(uint8_t *field, const uint8_t *v)
{
	memset(field, 0, 32);
	memcpy(field + 32, v, 32);
}

int ukt_env_build(const uint8_t sign_pub[65], const uint8_t d[32], const uint8_t enc_pub[65],
                  int form64, uk_buf *blob)
{
	uint8_t key[16], plain[64], raw[65 + 32 + 16], *b;
	int rc = -1;

	uk_buf_reset(blob);
	b = uk_buf_extend(blob, UKT_ENV_FIXED + 16);
	if (b == NULL || RAND_bytes(key, sizeof(key)) != 1)
		goto out;
	memset(b, 0, UKT_ENV_FIXED + 16);
	put_le32(b + UKT_ENV_OFF_VERSION, 1);
	put_le32(b + UKT_ENV_OFF_ALG, 0x00000401);     /* SGD_SM4_ECB */
	put_le32(b + UKT_ENV_OFF_BITS, 256);
	memset(plain, 0, 32);
	memcpy(plain + 32, d, 32);
	if (form64 ? ukt_env_sm4(1, key, NULL, plain, 64, b + UKT_ENV_OFF_PRIV) != 0
	           : ukt_env_sm4(1, key, NULL, d, 32, b + UKT_ENV_OFF_PRIV + 32) != 0)
		goto out;
	put_le32(b + UKT_ENV_OFF_PUB, 256);
	put_coord(b + UKT_ENV_OFF_PUB + 4, enc_pub + 1);
	put_coord(b + UKT_ENV_OFF_PUB + 4 + 64, enc_pub + 33);
	if (ukt_env_sm2_encrypt(sign_pub, key, sizeof(key), raw, sizeof(raw)) != sizeof(raw))
		goto out;
	put_coord(b + UKT_ENV_OFF_CX, raw + 1);
	put_coord(b + UKT_ENV_OFF_CX + 64, raw + 33);
	memcpy(b + UKT_ENV_OFF_HASH, raw + 65, 32);
	put_le32(b + UKT_ENV_OFF_CLEN, 16);
	memcpy(b + UKT_ENV_FIXED, raw + 97, 16);
	rc = 0;
out:
	uk_wipe(key, sizeof(key));
	uk_wipe(plain, sizeof(plain));
	return rc;
}

uint16_t ukt_host_import_keypair(ukt_host *h, uint8_t kr, const uint8_t *blob, size_t n)
{
	return ukt_host_secured(h, 0x80, 0xE6, 0x00, kr, blob, n, 0, UKT_HOST_NO_LE);
}

uint16_t ukt_host_import_session_key(ukt_host *h, uint8_t kr, const uint8_t key[16],
                                     const uint8_t enc_pub[65], uint8_t *handle)
{
	uint8_t raw[65 + 32 + 16];
	uk_tlv t;
	uint16_t sw;

	if (ukt_env_sm2_encrypt(enc_pub, key, 16, raw, sizeof(raw)) != sizeof(raw))
		return 0;
	sw = ukt_host_secured(h, 0x80, 0xE8, 0x00, kr, raw, sizeof(raw), 0, 256);
	if (sw == UK_SW_OK && handle != NULL) {
		if (uk_tlv_find(h->resp, h->rlen, 0x80, &t) != 1 || t.len != 1 || h->rlen != 3)
			return 0;
		*handle = t.value[0];
	}
	return sw;
}

uint16_t ukt_host_sm4(ukt_host *h, int encipher, uint8_t handle, uint8_t mode,
                      const uint8_t iv[16], const uint8_t *data, size_t n)
{
	uk_buf b;
	uint16_t sw = 0;

	uk_buf_init(&b, 0, 1);
	uk_buf_put_u8(&b, handle);
	uk_buf_put_u8(&b, mode);
	if (iv != NULL)
		uk_buf_put(&b, iv, 16);
	uk_buf_put(&b, data, n);
	if (!b.failed)
		sw = ukt_host_secured(h, 0x00, 0x2A, encipher ? 0x84 : 0x80,
		                      encipher ? 0x80 : 0x84, b.data, b.len, 0, 65536);
	uk_buf_free(&b);
	return sw;
}
