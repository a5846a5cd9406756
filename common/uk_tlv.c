#include "uk_tlv.h"

int uk_tlv_next(const uint8_t **p, const uint8_t *end, uk_tlv *out)
{
	const uint8_t *q = *p;
	size_t len, i, nlen;
	unsigned tag;

	if (q >= end)
		return 0;
	tag = *q++;
	if ((tag & 0x1F) == 0x1F) {
		/* two-byte tag; longer tags are not used by the profile */
		if (q >= end || (*q & 0x80))
			return -1;
		tag = tag << 8 | *q++;
	}
	if (q >= end)
		return -1;
	len = *q++;
	if (len & 0x80) {
		nlen = len & 0x7F;
		if (nlen == 0 || nlen > 3 || (size_t)(end - q) < nlen)
			return -1;
		len = 0;
		for (i = 0; i < nlen; i++)
			len = len << 8 | *q++;
	}
	if ((size_t)(end - q) < len)
		return -1;
	out->tag = tag;
	out->value = q;
	out->len = len;
	*p = q + len;
	return 1;
}

int uk_tlv_find(const uint8_t *buf, size_t len, unsigned tag, uk_tlv *out)
{
	const uint8_t *p = buf, *end = buf + len;
	uk_tlv t;
	int r;

	while ((r = uk_tlv_next(&p, end, &t)) == 1) {
		if (t.tag == tag) {
			*out = t;
			return 1;
		}
	}
	return r;
}

int uk_tlv_put_header(uk_buf *b, unsigned tag, size_t len)
{
	if (tag > 0xFF)
		uk_buf_put_u8(b, (uint8_t)(tag >> 8));
	uk_buf_put_u8(b, (uint8_t)tag);
	if (len < 0x80) {
		uk_buf_put_u8(b, (uint8_t)len);
	} else if (len <= 0xFF) {
		uk_buf_put_u8(b, 0x81);
		uk_buf_put_u8(b, (uint8_t)len);
	} else if (len <= 0xFFFF) {
		uk_buf_put_u8(b, 0x82);
		uk_buf_put_u16(b, (uint16_t)len);
	} else if (len <= 0xFFFFFF) {
		uk_buf_put_u8(b, 0x83);
		uk_buf_put_u8(b, (uint8_t)(len >> 16));
		uk_buf_put_u16(b, (uint16_t)len);
	} else {
		b->failed = 1;
	}
	return b->failed ? -1 : 0;
}

int uk_tlv_put(uk_buf *b, unsigned tag, const void *value, size_t len)
{
	if (uk_tlv_put_header(b, tag, len) != 0)
		return -1;
	return uk_buf_put(b, value, len);
}
