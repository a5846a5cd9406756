/* ukey conformance: more host operations of the APDU profile (docs/apdu.md) shared by the
 * clause tests of issue 3 part 7 and by bench/ukey-bench-s0: PIN management, PSO DECIPHER,
 * GET CHALLENGE, data files; and host-side SM2 encryption with OpenSSL only. */
#ifndef CONF_OPS_H
#define CONF_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

/* CHANGE REFERENCE DATA (ISO 7816-4 §11.5.7), secured and encrypted: L_old old L_new new. */
uint16_t conf_change_pin(conf_ctx *c, uint8_t p2, const uint8_t *old, size_t ol,
                         const uint8_t *neu, size_t nl);
/* RESET RETRY COUNTER 04 2C 02 81 (ISO 7816-4 §11.5.10) with the new user PIN. */
uint16_t conf_reset_retry(conf_ctx *c, ukt_host *h, const uint8_t *neu, size_t nl);
/* VERIFY FF p2: clear the verified state of a PIN (logout). */
uint16_t conf_logout(conf_ctx *c, uint8_t p2);
/* GET CHALLENGE 00 84 00 00 Le (n = 1..256); on 9000 out gets n bytes. */
uint16_t conf_challenge(conf_ctx *c, uint8_t *out, size_t n);
/* PSO DECIPHER (ISO 7816-8 §5.8): payload KR mech ct; extended Le. Plaintext in c->h.resp. */
uint16_t conf_decipher(conf_ctx *c, uint8_t kr, uint8_t mech, const uint8_t *ct, size_t n);
/* PSO COMPUTE DIGITAL SIGNATURE with any mechanism and data; extended Le. */
uint16_t conf_pso_sign(conf_ctx *c, uint8_t kr, uint8_t mech, const uint8_t *d, size_t n);
/* GENERATE any algorithm (extended Le); the whole template stays in c->h.resp. */
uint16_t conf_generate_alg(conf_ctx *c, uint8_t kr, uint8_t alg);

/* Data files (CREATE FILE 84 E0 01 00, SELECT 00 A4 02 0C, UPDATE BINARY D6, READ BINARY
 * B0 with an extended Le). */
uint16_t conf_file_create(conf_ctx *c, uint16_t fid, uint32_t size, const char *name);
uint16_t conf_file_select(conf_ctx *c, uint16_t fid);
uint16_t conf_file_update(conf_ctx *c, size_t off, const uint8_t *p, size_t n);
uint16_t conf_file_read(conf_ctx *c, size_t off, size_t n);

/* SM2 public-key encryption of msg with OpenSSL (EVP, SM3), converted from OpenSSL's GM/T
 * 0009 DER to raw C1 || C3 || C2 (what PSO DECIPHER mech 11 takes). out has n + 97 bytes of
 * room; returns the length written. */
size_t conf_sm2_encrypt_raw(const uint8_t pub[65], const uint8_t *msg, size_t n,
                            uint8_t *out);

#endif
