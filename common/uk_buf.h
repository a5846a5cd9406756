/* ukey common: growable byte buffers with bounds-checked appends.
 * A buffer marked secret is wiped whenever its storage is released or moved. */
#ifndef UK_BUF_H
#define UK_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct uk_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max;     /* hard limit on len; 0 = UK_BUF_DEFAULT_MAX */
	int secret;     /* wipe on free/grow */
	int failed;     /* sticky: an append ran out of room or memory */
} uk_buf;

#define UK_BUF_DEFAULT_MAX ((size_t)1 << 24)

void uk_buf_init(uk_buf *b, size_t max, int secret);
void uk_buf_free(uk_buf *b);            /* wipes if secret; leaves an empty buffer */
void uk_buf_reset(uk_buf *b);           /* len = 0 (wipes contents if secret) */

/* Appends; return 0 on success, -1 (and set b->failed) when past max or out of memory. */
int uk_buf_put(uk_buf *b, const void *p, size_t n);
int uk_buf_put_u8(uk_buf *b, uint8_t v);
int uk_buf_put_u16(uk_buf *b, uint16_t v);  /* big endian */
int uk_buf_put_u32(uk_buf *b, uint32_t v);  /* big endian */
/* Reserve n bytes at the end and return a pointer to them (NULL on failure). */
uint8_t *uk_buf_extend(uk_buf *b, size_t n);

/* Big-endian readers over a byte range. */
static inline uint16_t uk_get_u16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t uk_get_u32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline void uk_set_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void uk_set_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* Hex helpers for logs and tests. uk_hex_nibble returns 0-15 or -1; uk_hex_decode returns
 * the byte count or -1. */
int uk_hex_nibble(int c);
long uk_hex_decode(const char *hex, uint8_t *out, size_t cap);
void uk_hex_encode(const uint8_t *p, size_t n, char *out /* 2n+1 */);

#endif
