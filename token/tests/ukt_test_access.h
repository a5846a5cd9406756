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

#endif
