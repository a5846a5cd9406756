#include "uk_buf.h"
#include "uk_wipe.h"

#include <stdlib.h>
#include <string.h>

void uk_buf_init(uk_buf *b, size_t max, int secret)
{
	memset(b, 0, sizeof(*b));
	b->max = max ? max : UK_BUF_DEFAULT_MAX;
	b->secret = secret;
}

void uk_buf_free(uk_buf *b)
{
	if (b->data != NULL && b->secret)
		uk_wipe(b->data, b->cap);
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->failed = 0;
}

void uk_buf_reset(uk_buf *b)
{
	if (b->data != NULL && b->secret)
		uk_wipe(b->data, b->len);
	b->len = 0;
	b->failed = 0;
}

/* Grow so that n more bytes fit. A secret buffer is copied by hand so the old
 * storage can be wiped (realloc may move it and leave the secret behind). */
static int buf_reserve(uk_buf *b, size_t n)
{
	size_t need, cap;
	uint8_t *p;

	if (b->failed)
		return -1;
	if (n > b->max || b->len > b->max - n)
		goto fail;
	need = b->len + n;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->max)
		cap = b->max;
	if (b->secret) {
		p = malloc(cap);
		if (p == NULL)
			goto fail;
		if (b->len)
			memcpy(p, b->data, b->len);
		if (b->data != NULL)
			uk_wipe(b->data, b->cap);
		free(b->data);
	} else {
		p = realloc(b->data, cap);
		if (p == NULL)
			goto fail;
	}
	b->data = p;
	b->cap = cap;
	return 0;
fail:
	b->failed = 1;
	return -1;
}

uint8_t *uk_buf_extend(uk_buf *b, size_t n)
{
	uint8_t *p;

	if (buf_reserve(b, n) != 0)
		return NULL;
	p = b->data + b->len;
	b->len += n;
	return p;
}

int uk_buf_put(uk_buf *b, const void *p, size_t n)
{
	uint8_t *dst;

	if (n == 0)
		return b->failed ? -1 : 0;
	dst = uk_buf_extend(b, n);
	if (dst == NULL)
		return -1;
	memcpy(dst, p, n);
	return 0;
}

int uk_buf_put_u8(uk_buf *b, uint8_t v)
{
	return uk_buf_put(b, &v, 1);
}

int uk_buf_put_u16(uk_buf *b, uint16_t v)
{
	uint8_t t[2];

	uk_set_u16(t, v);
	return uk_buf_put(b, t, 2);
}

int uk_buf_put_u32(uk_buf *b, uint32_t v)
{
	uint8_t t[4];

	uk_set_u32(t, v);
	return uk_buf_put(b, t, 4);
}

int uk_hex_nibble(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long uk_hex_decode(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1, v;

	for (; *hex != '\0'; hex++) {
		if (*hex == ' ' || *hex == ':' || *hex == '\n' || *hex == '\t')
			continue;
		v = uk_hex_nibble((unsigned char)*hex);
		if (v < 0)
			return -1;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n >= cap)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return hi < 0 ? (long)n : -1;
}

void uk_hex_encode(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}
