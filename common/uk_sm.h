/* ukey common: the secure session of the APDU profile (docs/apdu.md, "Secure session").
 *
 * Host and card agree a session by GENERAL AUTHENTICATE with ephemeral SM2-curve keys;
 *   K = KDF_SM3(x || Q_host || Q_card, 48),  k_enc = K[0..15],  k_mac = K[16..47].
 * A secured command has CLA | 0x04 and the data field
 *   SID(1) || CTR(4, big endian) || PAYLOAD || MAC(16)
 * where MAC = first 16 bytes of HMAC-SM3(k_mac, CLA INS P1 P2 || SID || CTR || PAYLOAD),
 * CLA taken without the chaining bit 0x10. CTR must be greater than the last counter the
 * card accepted in that session (replays are refused with 6988). For instructions that
 * carry secrets (PINs) PAYLOAD is SM4-CBC under k_enc with IV = SM4-ECB(k_enc, CTR as a
 * 16-byte big-endian block) over the plain payload padded per ISO/IEC 7816-4 (80 00..). */
#ifndef UK_SM_H
#define UK_SM_H

#include <stddef.h>
#include <stdint.h>

#include "uk_buf.h"

#define UK_SM_MAC_LEN 16
#define UK_SM_HDR_LEN 5         /* SID + CTR */
#define UK_SM_OVERHEAD (UK_SM_HDR_LEN + UK_SM_MAC_LEN)
#define UK_SM_CLA_BIT 0x04

typedef struct uk_sm_session {
	uint8_t sid;
	uint32_t ctr;           /* host: last counter sent; card: last counter accepted */
	uint8_t kenc[16];
	uint8_t kmac[32];
} uk_sm_session;

/* Derive the session keys from the ECDH x coordinate and both public points. */
int uk_sm_derive(uk_sm_session *s, uint8_t sid, const uint8_t x[32],
                 const uint8_t host_pub[65], const uint8_t card_pub[65]);
/* Wipe the keys. */
void uk_sm_clear(uk_sm_session *s);

/* Host side: increment s->ctr and append the secured data field for the command
 * (cla must already have UK_SM_CLA_BIT set) to out. Returns 0 or -1. */
int uk_sm_wrap(uk_sm_session *s, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
               const uint8_t *payload, size_t n, int encrypt, uk_buf *out);

/* Card side: the SID a secured data field names, or -1 when the field is shorter than
 * UK_SM_OVERHEAD bytes (answer 6700 before looking the session up). */
int uk_sm_data_sid(const uint8_t *data, size_t n);

/* Card side: check length, counter and MAC of a secured data field for session s and
 * put the plain payload into out (mark it secret when encrypted). On success s->ctr
 * is advanced. Returns UK_SW_OK, UK_SW_WRONG_LENGTH, or UK_SW_SM_INCORRECT (bad MAC,
 * replayed counter, bad padding), or UK_SW_UNKNOWN on an internal failure (memory,
 * OpenSSL); on failure nothing in s or out changes. Which instructions are encrypted
 * comes from the instruction table on both sides. */
uint16_t uk_sm_unwrap(uk_sm_session *s, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                      const uint8_t *data, size_t n, int encrypted, uk_buf *out);

#endif
