/* ukey common: the national algorithms (SM2, SM3, SM4) and helpers on OpenSSL 3 EVP.
 * Shared by the token (card side) and the module (host side). All functions return
 * 0 on success and -1 on failure unless stated; none of them logs key material. */
#ifndef UK_CRYPTO_H
#define UK_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define UK_SM2_POINT_LEN 65     /* uncompressed point 04 || X || Y */
#define UK_SM2_PRIV_LEN 32
#define UK_SM2_SIG_LEN 64       /* r || s, 32 bytes each */
#define UK_SM3_LEN 32
#define UK_SM4_KEY_LEN 16
#define UK_SM4_BLOCK 16

/* "1234567812345678", the GM/T 0009 default user ID. */
extern const uint8_t uk_sm2_default_id[16];

/* SM3 (GB/T 32905). */
int uk_sm3(const void *p, size_t n, uint8_t out[UK_SM3_LEN]);

/* HMAC-SM3. */
int uk_hmac_sm3(const uint8_t *key, size_t klen, const void *p, size_t n,
                uint8_t out[UK_SM3_LEN]);

/* Key derivation function of GM/T 0003.4 §5.4.3 with SM3:
 * K = SM3(z || 00000001) || SM3(z || 00000002) || ... truncated to outlen. */
int uk_sm3_kdf(const uint8_t *z, size_t zlen, uint8_t *out, size_t outlen);

/* Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA) (GM/T 0003.2 §5.5);
 * id NULL selects uk_sm2_default_id. */
int uk_sm2_compute_z(const uint8_t pub[UK_SM2_POINT_LEN], const uint8_t *id, size_t idlen,
                     uint8_t z[UK_SM3_LEN]);
/* e = SM3(Z_A || M). */
int uk_sm2_compute_e(const uint8_t pub[UK_SM2_POINT_LEN], const uint8_t *id, size_t idlen,
                     const void *msg, size_t n, uint8_t e[UK_SM3_LEN]);

/* SM2 keys as EVP_PKEY of type SM2 (sign, verify, encrypt). Free with EVP_PKEY_free. */
EVP_PKEY *uk_sm2_generate(void);
EVP_PKEY *uk_sm2_from_private(const uint8_t d[UK_SM2_PRIV_LEN]);  /* derives the point */
EVP_PKEY *uk_sm2_from_public(const uint8_t pub[UK_SM2_POINT_LEN]); /* checks on-curve */
int uk_sm2_get_public(const EVP_PKEY *key, uint8_t pub[UK_SM2_POINT_LEN]);
int uk_sm2_get_private(const EVP_PKEY *key, uint8_t d[UK_SM2_PRIV_LEN]);

/* SM2 signature over a caller-computed e (GM/T 0003.2 §6.1 steps A3-A7). */
int uk_sm2_sign_e(EVP_PKEY *key, const uint8_t e[UK_SM3_LEN], uint8_t sig[UK_SM2_SIG_LEN]);
/* Returns 1 valid, 0 invalid, -1 error. */
int uk_sm2_verify_e(EVP_PKEY *key, const uint8_t e[UK_SM3_LEN],
                    const uint8_t sig[UK_SM2_SIG_LEN]);

/* ECDSA-Sig-Value DER <-> fixed r || s (each half n bytes, left-padded). */
int uk_sig_der_to_rs(const uint8_t *der, size_t derlen, uint8_t *rs, size_t half);
int uk_sig_rs_to_der(const uint8_t *rs, size_t half, uint8_t *der, size_t *derlen /* in: cap */);

/* Ephemeral elliptic-curve Diffie-Hellman on the SM2 curve, for the secure session:
 * x is the X coordinate of priv * peer. */
EVP_PKEY *uk_ecdh_sm2_generate(void);
int uk_ecdh_sm2_public(const EVP_PKEY *key, uint8_t pub[UK_SM2_POINT_LEN]);
int uk_ecdh_sm2_derive(EVP_PKEY *priv, const uint8_t peer[UK_SM2_POINT_LEN], uint8_t x[32]);

/* SM4 (GB/T 32907), no padding: n must be a multiple of 16. in and out may alias. */
int uk_sm4_ecb(int encrypt, const uint8_t key[UK_SM4_KEY_LEN], const uint8_t *in, size_t n,
               uint8_t *out);
int uk_sm4_cbc(int encrypt, const uint8_t key[UK_SM4_KEY_LEN], const uint8_t iv[UK_SM4_BLOCK],
               const uint8_t *in, size_t n, uint8_t *out);

/* n bytes from OpenSSL's DRBG. */
int uk_random(void *p, size_t n);

#endif
