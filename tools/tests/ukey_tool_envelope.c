/* ukey_tool_envelope: the CA's side of an escrowed encryption key, for tools/tests/ukey-tool.sh
 * (ukey_tool_enveloped). OpenSSL EVP only, never ukey's own crypto, so the test checks the
 * card against an independent implementation.
 *
 *   ukey_tool_envelope SIGN_PUB.pem BLOB_OUT ENC_PUB_OUT.pem
 *
 * draws a fresh SM2 key pair (the "escrowed" encryption pair), writes its public key as PEM
 * SubjectPublicKeyInfo, and writes the 388-byte GM/T 0016-2012 ENVELOPEDKEYBLOB that carries
 * it to the key holding SIGN_PUB (the container's SM2 signing public key):
 *   Version(4)=1, ulSymmAlgID(4)=SGD_SM4_ECB 0x401, ulBits(4)=256,
 *   cbEncryptedPriKey[64] (d SM4-ECB encrypted, right-aligned), PubKey (BitLen 256, X[64],
 *   Y[64], coordinates right-aligned), ECCCipherBlob (X[64], Y[64], HASH[32], CipherLen=16,
 *   Cipher[16]) = the SM4 key SM2-encrypted to SIGN_PUB; little-endian integers, packed
 *   (docs/apdu.md IMPORT KEY PAIR, token/tests/ukt_envelope.c).
 * Exit 0 done, 1 failure, 2 usage. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

enum {
	OFF_VERSION = 0,
	OFF_ALG = 4,
	OFF_BITS = 8,
	OFF_PRIV = 12,
	OFF_PUB = 76,
	OFF_CX = 208,
	OFF_HASH = 336,
	OFF_CLEN = 368,
	OFF_CIPHER = 372,
	BLOB_LEN = 388,
	SGD_SM4_ECB = 0x00000401,
};

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* A 32-byte value right-aligned in a 64-byte field (the rest is already zero). */
static void put_coord(uint8_t *field, const uint8_t *v)
{
	memcpy(field + 32, v, 32);
}

static EVP_PKEY *read_pub(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k = f != NULL ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;

	if (f != NULL)
		fclose(f);
	return k;
}

/* 04||X||Y of an EC key. */
static int pub_point(EVP_PKEY *k, uint8_t pub[65])
{
	size_t n = 0;

	return EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub, 65,
	                                       &n) == 1 && n == 65 && pub[0] == 0x04 ? 0 : -1;
}

/* SM4-ECB, no padding, 32 bytes. */
static int sm4_ecb(const uint8_t key[16], const uint8_t in[32], uint8_t out[32])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int l1 = 0, l2 = 0, rc = -1;

	if (ctx != NULL && EVP_EncryptInit_ex(ctx, EVP_sm4_ecb(), NULL, key, NULL) == 1 &&
	    EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
	    EVP_EncryptUpdate(ctx, out, &l1, in, 32) == 1 &&
	    EVP_EncryptFinal_ex(ctx, out + l1, &l2) == 1 && l1 + l2 == 32)
		rc = 0;
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

/* The GM/T 0009 SM2Cipher SEQUENCE { x, y, C3, C2 } into the blob's ECCCipherBlob. */
static int put_cipher(const uint8_t *der, size_t dlen, uint8_t *b)
{
	const unsigned char *p = der;
	ASN1_SEQUENCE_ANY *seq = d2i_ASN1_SEQUENCE_ANY(NULL, &p, (long)dlen);
	ASN1_TYPE *t[4];
	BIGNUM *bn = NULL;
	uint8_t v[32];
	int i, rc = -1;

	if (seq == NULL || sk_ASN1_TYPE_num(seq) != 4)
		goto out;
	for (i = 0; i < 4; i++)
		t[i] = sk_ASN1_TYPE_value(seq, i);
	if (t[0]->type != V_ASN1_INTEGER || t[1]->type != V_ASN1_INTEGER ||
	    t[2]->type != V_ASN1_OCTET_STRING || t[3]->type != V_ASN1_OCTET_STRING ||
	    ASN1_STRING_length(t[2]->value.octet_string) != 32 ||
	    ASN1_STRING_length(t[3]->value.octet_string) != 16)
		goto out;
	for (i = 0; i < 2; i++) {
		bn = ASN1_INTEGER_to_BN(t[i]->value.integer, bn);
		if (bn == NULL || BN_bn2binpad(bn, v, 32) != 32)
			goto out;
		put_coord(b + OFF_CX + 64 * i, v);
	}
	memcpy(b + OFF_HASH, ASN1_STRING_get0_data(t[2]->value.octet_string), 32);
	put_le32(b + OFF_CLEN, 16);
	memcpy(b + OFF_CIPHER, ASN1_STRING_get0_data(t[3]->value.octet_string), 16);
	rc = 0;
out:
	BN_free(bn);
	sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
	return rc;
}

/* The SM4 key, SM2-encrypted (EVP, DER output) to the signing public key. */
static int wrap_key(EVP_PKEY *sign, const uint8_t key[16], uint8_t *b)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(sign, NULL);
	uint8_t der[256];
	size_t dlen = sizeof(der);
	int rc = -1;

	if (ctx != NULL && EVP_PKEY_encrypt_init(ctx) == 1 &&
	    EVP_PKEY_encrypt(ctx, der, &dlen, key, 16) == 1)
		rc = put_cipher(der, dlen, b);
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

/* d of the escrowed pair, SM4-ECB encrypted, and its public key into the blob. */
static int put_pair(EVP_PKEY *enc, const uint8_t key[16], uint8_t *b)
{
	BIGNUM *bn = NULL;
	uint8_t d[32], pub[65];
	int rc = -1;

	if (EVP_PKEY_get_bn_param(enc, OSSL_PKEY_PARAM_PRIV_KEY, &bn) != 1 ||
	    BN_bn2binpad(bn, d, 32) != 32 || pub_point(enc, pub) != 0 ||
	    sm4_ecb(key, d, b + OFF_PRIV + 32) != 0)
		goto out;
	put_le32(b + OFF_PUB, 256);
	put_coord(b + OFF_PUB + 4, pub + 1);
	put_coord(b + OFF_PUB + 4 + 64, pub + 33);
	rc = 0;
out:
	OPENSSL_cleanse(d, sizeof(d));
	BN_clear_free(bn);
	return rc;
}

static int write_file(const char *path, const uint8_t *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	int rc = f != NULL && fwrite(b, 1, n, f) == n ? 0 : -1;

	if (f != NULL && fclose(f) != 0)
		rc = -1;
	return rc;
}

static int write_pub(const char *path, EVP_PKEY *k)
{
	FILE *f = fopen(path, "w");
	int rc = f != NULL && PEM_write_PUBKEY(f, k) == 1 ? 0 : -1;

	if (f != NULL && fclose(f) != 0)
		rc = -1;
	return rc;
}

int main(int argc, char **argv)
{
	EVP_PKEY *sign = NULL, *enc = NULL;
	uint8_t key[16], blob[BLOB_LEN];
	int rc = 1;

	if (argc != 4) {
		fprintf(stderr, "usage: ukey_tool_envelope SIGN_PUB.pem BLOB_OUT ENC_PUB_OUT.pem\n");
		return 2;
	}
	memset(blob, 0, sizeof(blob));
	put_le32(blob + OFF_VERSION, 1);
	put_le32(blob + OFF_ALG, SGD_SM4_ECB);
	put_le32(blob + OFF_BITS, 256);
	sign = read_pub(argv[1]);
	enc = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
	if (sign == NULL || enc == NULL || RAND_bytes(key, sizeof(key)) != 1 ||
	    put_pair(enc, key, blob) != 0 || wrap_key(sign, key, blob) != 0 ||
	    write_file(argv[2], blob, sizeof(blob)) != 0 || write_pub(argv[3], enc) != 0) {
		fprintf(stderr, "ukey_tool_envelope: cannot build the blob for %s\n", argv[1]);
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(blob, sizeof(blob));
	EVP_PKEY_free(enc);
	EVP_PKEY_free(sign);
	return rc;
}
