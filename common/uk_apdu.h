/* ukey common: ISO/IEC 7816-4 command APDU codec (short and extended cases 1-4)
 * and the status words of the ukey APDU profile (docs/apdu.md). */
#ifndef UK_APDU_H
#define UK_APDU_H

#include <stddef.h>
#include <stdint.h>

#include "uk_buf.h"

/* Status words used by the profile (ISO/IEC 7816-4 §5.6). */
enum {
	UK_SW_OK = 0x9000,
	UK_SW_BYTES_REMAINING = 0x6100,     /* 61xx: GET RESPONSE for xx more bytes */
	UK_SW_WARN_STATE_UNCHANGED = 0x6200,
	UK_SW_TRIES_LEFT = 0x63C0,          /* 63Cx: verification failed, x tries left */
	UK_SW_MEMORY_FAILURE = 0x6581,
	UK_SW_WRONG_LENGTH = 0x6700,
	UK_SW_LOGICAL_CHANNEL = 0x6881,
	UK_SW_SM_UNSUPPORTED = 0x6882,
	UK_SW_LAST_CMD_EXPECTED = 0x6883,   /* chaining: last command of chain expected */
	UK_SW_CHAINING_UNSUPPORTED = 0x6884,
	UK_SW_INCOMPATIBLE_FILE = 0x6981,
	UK_SW_SECURITY_STATUS = 0x6982,     /* not authenticated */
	UK_SW_AUTH_BLOCKED = 0x6983,        /* PIN blocked */
	UK_SW_DATA_INVALID = 0x6984,
	UK_SW_CONDITIONS = 0x6985,          /* conditions of use not satisfied */
	UK_SW_NOT_ALLOWED = 0x6986,
	UK_SW_SM_MISSING = 0x6987,          /* expected secure-messaging objects missing */
	UK_SW_SM_INCORRECT = 0x6988,        /* MAC wrong, counter replayed, unknown session */
	UK_SW_WRONG_DATA = 0x6A80,
	UK_SW_FUNC_UNSUPPORTED = 0x6A81,
	UK_SW_NOT_FOUND = 0x6A82,
	UK_SW_RECORD_NOT_FOUND = 0x6A83,
	UK_SW_NO_SPACE = 0x6A84,
	UK_SW_LC_INCONSISTENT = 0x6A85,
	UK_SW_WRONG_P1P2 = 0x6A86,
	UK_SW_REF_NOT_FOUND = 0x6A88,
	UK_SW_ALREADY_EXISTS = 0x6A89,
	UK_SW_WRONG_P1P2_NO_INFO = 0x6B00,
	UK_SW_WRONG_LE = 0x6C00,            /* 6Cxx: wrong Le, xx exact */
	UK_SW_INS_UNSUPPORTED = 0x6D00,
	UK_SW_CLA_UNSUPPORTED = 0x6E00,
	UK_SW_UNKNOWN = 0x6F00,
};

/* A parsed command APDU. data points into the caller's raw buffer. */
typedef struct uk_apdu {
	uint8_t cla, ins, p1, p2;
	const uint8_t *data;
	size_t lc;          /* Nc: number of data bytes */
	size_t le;          /* Ne: 0 when absent; up to 256 (short) or 65536 (extended) */
	int has_le;
	int extended;
} uk_apdu;

#define UK_APDU_MAX_NC 65535u
#define UK_APDU_MAX_NE 65536u
/* Largest encoded command: header + 3-byte Lc + 65535 data + 2-byte Le. */
#define UK_APDU_MAX_RAW (4u + 3u + 65535u + 2u)

/* Parse raw bytes (ISO 7816-4 §5.1 cases 1, 2S/E, 3S/E, 4S/E).
 * Returns UK_SW_OK or UK_SW_WRONG_LENGTH for a length that fits no case. */
uint16_t uk_apdu_parse(const uint8_t *raw, size_t len, uk_apdu *out)
	__attribute__((warn_unused_result));

/* Append the encoding of a to out, short form when Nc <= 255 and Ne <= 256, otherwise
 * extended. Returns 0 or -1 (invalid lengths or buffer failure). */
int uk_apdu_encode(const uk_apdu *a, uk_buf *out) __attribute__((warn_unused_result));

/* Human-readable name of a status word for messages ("PIN blocked"); never NULL. */
const char *uk_sw_name(uint16_t sw);

#endif
