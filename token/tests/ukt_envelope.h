/* ukey token tests: the host side of enveloped import (GM/T 0016 ENVELOPEDKEYBLOB) and of
 * SM4 session keys (docs/apdu.md IMPORT KEY PAIR, IMPORT SESSION KEY, PSO ENCIPHER /
 * DECIPHER), built with OpenSSL EVP only, never with the card's code (uk_crypto included),
 * so the tests check the card against an independent implementation. */
#ifndef UKT_ENVELOPE_H
#define UKT_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "uk_buf.h"
#include "ukt_host.h"

/* Offsets in the blob (GM/T 0016-2012 ENVELOPEDKEYBLOB, packed, little endian). */
enum {
	UKT_ENV_OFF_VERSION = 0,
	UKT_ENV_OFF_ALG = 4,
	UKT_ENV_OFF_BITS = 8,
	UKT_ENV_OFF_PRIV = 12,          /* cbEncryptedPriKey[64] */
	UKT_ENV_OFF_PUB = 76,           /* BitLen, X[64], Y[64] */
	UKT_ENV_OFF_CX = 208,           /* ECCCipherBlob X[64], Y[64] */
	UKT_ENV_OFF_HASH = 336,
	UKT_ENV_OFF_CLEN = 368,
	UKT_ENV_FIXED = 372,            /* Cipher follows */
};

/* Value of "name = hex" in [section] of the vectors file at path (gm-vectors.txt); returns its
 * length (0 for an empty value, "name ="), or -1 when absent. */
long ukt_env_vector(const char *path, const char *section, const char *name, uint8_t *out,
                    size_t cap);
/* A fresh SM2 key pair (EVP keygen): d and 04||X||Y. 0 or -1. */
int ukt_env_sm2_keygen(uint8_t d[32], uint8_t pub[65]);
/* d * G on the SM2 curve (EC_POINT_mul). 0 or -1. */
int ukt_env_sm2_pub(const uint8_t d[32], uint8_t pub[65]);
/* EVP SM2 encryption of msg to pub, the DER SM2Cipher (GM/T 0009) converted to raw
 * C1 || C3 || C2 (97 + n bytes in raw, cap its room). Returns the length, 0 on failure. */
size_t ukt_env_sm2_encrypt(const uint8_t pub[65], const uint8_t *msg, size_t n, uint8_t *raw,
                           size_t cap);
/* EVP SM4 ECB (iv NULL) or CBC, no padding (n a multiple of 16). 0 or -1. */
int ukt_env_sm4(int encrypt, const uint8_t key[16], const uint8_t *iv, const uint8_t *in,
                size_t n, uint8_t *out);
/* ENVELOPEDKEYBLOB: d SM4-ECB encrypted under a random key (form64 = 0: the 32-byte
 * ciphertext right-aligned in the 64-byte field; 1: the 64-byte ciphertext of 0^32 || d),
 * enc_pub as PubKey, the SM4 key SM2-encrypted to sign_pub. blob is reset first. 0 or -1. */
int ukt_env_build(const uint8_t sign_pub[65], const uint8_t d[32], const uint8_t enc_pub[65],
                  int form64, uk_buf *blob);

/* 84 E6 00 kr: IMPORT KEY PAIR. */
uint16_t ukt_host_import_keypair(ukt_host *h, uint8_t kr, const uint8_t *blob, size_t n);
/* 84 E8 00 kr: IMPORT SESSION KEY of key, SM2-encrypted (EVP) to enc_pub; handle on 9000. */
uint16_t ukt_host_import_session_key(ukt_host *h, uint8_t kr, const uint8_t key[16],
                                     const uint8_t enc_pub[65], uint8_t *handle);
/* 04 2A 84 80 (encipher) / 80 84 (decipher): handle, mode (1 ECB, 2 CBC), iv for CBC, data.
 * The result is in h->resp (h->rlen). */
uint16_t ukt_host_sm4(ukt_host *h, int encipher, uint8_t handle, uint8_t mode,
                      const uint8_t iv[16], const uint8_t *data, size_t n);

#endif
