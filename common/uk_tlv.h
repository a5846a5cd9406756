/* ukey common: BER-TLV (ISO/IEC 7816-4 §5.2) reading and writing.
 * Tags of one or two bytes, lengths in the 1/81/82/83 forms. */
#ifndef UK_TLV_H
#define UK_TLV_H

#include <stddef.h>
#include <stdint.h>

#include "uk_buf.h"

typedef struct uk_tlv {
	unsigned tag;           /* e.g. 0x80, 0x7F49 */
	const uint8_t *value;
	size_t len;
} uk_tlv;

/* Read the next TLV at *p (before end) and advance *p past it.
 * Returns 1 when one was read, 0 at the end, -1 when malformed (nothing advanced). */
int uk_tlv_next(const uint8_t **p, const uint8_t *end, uk_tlv *out);

/* Find the first TLV with tag in a sequence (one level, not recursive).
 * Returns 1 found, 0 absent, -1 malformed. */
int uk_tlv_find(const uint8_t *buf, size_t len, unsigned tag, uk_tlv *out);

/* Append tag, length, value. Returns 0 or -1. */
int uk_tlv_put(uk_buf *b, unsigned tag, const void *value, size_t len);
/* Append tag and length only (value follows from the caller). */
int uk_tlv_put_header(uk_buf *b, unsigned tag, size_t len);

#endif
