/* ukey token tests: host side of the APDU profile (see ukt_host.h). */
#include "ukt_host.h"

#include <string.h>

#include "uk_apdu.h"
#include "uk_crypto.h"
#include "uk_tlv.h"
#include "uk_wipe.h"

static int card_xfer(void *ctx, const uint8_t *cmd, size_t n, uint8_t *resp, size_t *rlen)
{
	return ukt_card_transmit(ctx, cmd, n, resp, rlen);
}

void ukt_host_init(ukt_host *h, ukt_host_xfer xfer, void *ctx)
{
	memset(h, 0, sizeof(*h));
	h->xfer = xfer;
	h->ctx = ctx;
}

void ukt_host_init_card(ukt_host *h, ukt_card *card)
{
	ukt_host_init(h, card_xfer, card);
}

uint16_t ukt_host_raw(ukt_host *h, const uint8_t *cmd, size_t n)
{
	size_t rlen = sizeof(h->resp);

	h->rlen = 0;
	if (h->xfer(h->ctx, cmd, n, h->resp, &rlen) != 0 || rlen < 2)
		return 0;
	h->rlen = rlen - 2;
	return uk_get_u16(h->resp + rlen - 2);
}

uint16_t ukt_host_hex(ukt_host *h, const char *hex)
{
	uint8_t cmd[512];
	long n = uk_hex_decode(hex, cmd, sizeof(cmd));

	return n < 0 ? 0 : ukt_host_raw(h, cmd, (size_t)n);
}

static int encode(uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2, const uint8_t *data,
                  size_t n, long le, uk_buf *out)
{
	uk_apdu a;

	memset(&a, 0, sizeof(a));
	a.cla = cla;
	a.ins = ins;
	a.p1 = p1;
	a.p2 = p2;
	a.data = data;
	a.lc = n;
	a.has_le = le != UKT_HOST_NO_LE;
	a.le = a.has_le ? (size_t)le : 0;
	return uk_apdu_encode(&a, out);
}

uint16_t ukt_host_plain(ukt_host *h, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                        const uint8_t *data, size_t n, long le)
{
	uk_buf b;
	uint16_t sw = 0;

	uk_buf_init(&b, 0, 1);
	if (encode(cla, ins, p1, p2, data, n, le, &b) == 0)
		sw = ukt_host_raw(h, b.data, b.len);
	uk_buf_free(&b);
	return sw;
}

uint16_t ukt_host_hash(ukt_host *h, const uint8_t *msg, size_t n, size_t part)
{
	size_t off = 0, k;
	uint16_t sw;

	if (part == 0 || n <= part)
		return ukt_host_plain(h, 0x00, 0x2A, 0x90, 0x80, msg, n, 256);
	for (;;) {
		k = n - off < part ? n - off : part;
		if (off + k == n)
			return ukt_host_plain(h, 0x00, 0x2A, 0x90, 0x80, msg + off, k, 256);
		sw = ukt_host_plain(h, 0x10, 0x2A, 0x90, 0x80, msg + off, k, UKT_HOST_NO_LE);
		if (sw != UK_SW_OK)
			return sw;
		off += k;
	}
}

uint16_t ukt_host_select(ukt_host *h)
{
	static const uint8_t aid[] = { 0xF0, 0x75, 0x6B, 0x65, 0x79, 0x01 };

	return ukt_host_plain(h, 0x00, 0xA4, 0x04, 0x00, aid, sizeof(aid), 256);
}

/* Parse 7C { 80 01 SID, 82 41 Q_card }. */
static int parse_ga_response(const ukt_host *h, uint8_t *sid, const uint8_t **card_pub)
{
	uk_tlv tpl, t;

	if (uk_tlv_find(h->resp, h->rlen, 0x7C, &tpl) != 1)
		return -1;
	if (uk_tlv_find(tpl.value, tpl.len, 0x80, &t) != 1 || t.len != 1)
		return -1;
	*sid = t.value[0];
	if (uk_tlv_find(tpl.value, tpl.len, 0x82, &t) != 1 || t.len != UK_SM2_POINT_LEN)
		return -1;
	*card_pub = t.value;
	return 0;
}

uint16_t ukt_host_open_session(ukt_host *h)
{
	uint8_t data[4 + UK_SM2_POINT_LEN], host_pub[UK_SM2_POINT_LEN], x[32];
	const uint8_t *card_pub;
	EVP_PKEY *eph = uk_ecdh_sm2_generate();
	uint16_t sw = 0;
	uint8_t sid;

	if (eph == NULL || uk_ecdh_sm2_public(eph, host_pub) != 0)
		goto out;
	data[0] = 0x7C;
	data[1] = 2 + UK_SM2_POINT_LEN;
	data[2] = 0x81;
	data[3] = UK_SM2_POINT_LEN;
	memcpy(data + 4, host_pub, UK_SM2_POINT_LEN);
	sw = ukt_host_plain(h, 0x00, 0x86, 0x00, 0x00, data, sizeof(data), 256);
	if (sw != UK_SW_OK)
		goto out;
	if (parse_ga_response(h, &sid, &card_pub) != 0 ||
	    uk_ecdh_sm2_derive(eph, card_pub, x) != 0 ||
	    uk_sm_derive(&h->sm, sid, x, host_pub, card_pub) != 0)
		sw = 0;
out:
	uk_wipe(x, sizeof(x));
	EVP_PKEY_free(eph);
	return sw;
}

int ukt_host_build_secured(ukt_host *h, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                           const uint8_t *payload, size_t n, int encrypt, long le,
                           uk_buf *apdu)
{
	uk_buf field;
	int r = -1;

	cla |= UK_SM_CLA_BIT;
	uk_buf_init(&field, 0, 1);
	if (uk_sm_wrap(&h->sm, cla, ins, p1, p2, payload, n, encrypt, &field) == 0)
		r = encode(cla, ins, p1, p2, field.data, field.len, le, apdu);
	uk_buf_free(&field);
	return r;
}

uint16_t ukt_host_secured(ukt_host *h, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                          const uint8_t *payload, size_t n, int encrypt, long le)
{
	uk_buf b;
	uint16_t sw = 0;

	uk_buf_init(&b, 0, 1);
	if (ukt_host_build_secured(h, cla, ins, p1, p2, payload, n, encrypt, le, &b) == 0)
		sw = ukt_host_raw(h, b.data, b.len);
	uk_buf_free(&b);
	return sw;
}

uint16_t ukt_host_verify(ukt_host *h, uint8_t p2, const void *pin, size_t len)
{
	return ukt_host_secured(h, 0x00, 0x20, 0x00, p2, pin, len, 1, UKT_HOST_NO_LE);
}

uint16_t ukt_host_create_container(ukt_host *h, const char *name)
{
	uk_buf b;
	uint16_t sw = 0;

	uk_buf_init(&b, 0, 0);
	if (uk_tlv_put(&b, 0x81, name, strlen(name)) == 0)
		sw = ukt_host_secured(h, 0x80, 0xE0, 0x00, 0x00, b.data, b.len, 0, 256);
	uk_buf_free(&b);
	return sw;
}

uint16_t ukt_host_generate(ukt_host *h, uint8_t kr, uint8_t alg, uint8_t pub[65])
{
	const uint8_t payload[3] = { 0x80, 0x01, alg };
	uk_tlv t, p;
	uint16_t sw;

	sw = ukt_host_secured(h, 0x00, 0x46, 0x80, kr, payload, sizeof(payload), 0, 256);
	if (sw != UK_SW_OK || pub == NULL)
		return sw;
	if (uk_tlv_find(h->resp, h->rlen, 0x7F49, &t) != 1 ||
	    uk_tlv_find(t.value, t.len, 0x86, &p) != 1 || p.len != 65)
		return 0;
	memcpy(pub, p.value, 65);
	return sw;
}

uint16_t ukt_host_sign(ukt_host *h, uint8_t kr, const uint8_t e[32], uint8_t sig[64])
{
	uint8_t payload[2 + 32];
	uint16_t sw;

	payload[0] = kr;
	payload[1] = 0x01;
	memcpy(payload + 2, e, 32);
	sw = ukt_host_secured(h, 0x00, 0x2A, 0x9E, 0x9A, payload, sizeof(payload), 0, 256);
	if (sw == UK_SW_OK && sig != NULL) {
		if (h->rlen != 64)
			return 0;
		memcpy(sig, h->resp, 64);
	}
	return sw;
}
