/* ukey token tests: TEST-ONLY access to what the card keeps sealed. Compiled into the test
 * host library (ukey-token-host) only, never into libukey-token or ukey-emu: the card itself
 * has no way to export a private key (SPEC S0-K8). */
#ifndef UKT_TEST_ACCESS_H
#define UKT_TEST_ACCESS_H

#include <stddef.h>
#include <stdint.h>

/* Open the state file in dir with the user PIN (as the card would at VERIFY, but without
 * touching the try counter) and unseal the private scalar of the elliptic-curve pair whose public point is
 * pub. Returns 1 found (d filled), 0 no such pair, -1 state unreadable or PIN wrong. */
int ukt_test_private_scalar(const char *dir, const uint8_t *pin, size_t pin_len,
                            const uint8_t pub[65], uint8_t d[32]);

/* As ukt_test_private_scalar for a pair of any algorithm, named by its stored public
 * encoding (docs/apdu.md "Persistence": EC 04||X||Y, RSA n (256) || e as 7F49/82 gives it):
 * priv gets the private encoding (EC: the 32-byte scalar; RSA-2048: the RSAPrivateKey DER),
 * *n its length. Returns 1 found, 0 no such pair, -1 state unreadable, PIN wrong or cap
 * too small. The caller wipes priv. */
int ukt_test_private_encoding(const char *dir, const uint8_t *pin, size_t pin_len,
                              const uint8_t *pub, size_t pub_len, uint8_t *priv, size_t cap,
                              size_t *n);

/* The sealed private encoding (AEAD nonce || ciphertext || tag) of that pair, exactly as the
 * state file stores it (no PIN needed: it is ciphertext), so a test can find it in the file
 * and alter it. Returns 1 found, 0 no such pair, -1 state unreadable or cap too small. */
int ukt_test_sealed_key(const char *dir, const uint8_t *pub, size_t pub_len, uint8_t *out,
                        size_t cap, size_t *n);

#endif
