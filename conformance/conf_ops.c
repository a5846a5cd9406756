/* ukey conformance: more host operations (see conf_ops.h). */
#include "conf_ops.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>

#include "uk_apdu.h"
#include "uk_tlv.h"
#include "uk_wipe.h"

uint16_t conf_change_pin(conf_ctx *c, uint8_t p2, const uint8_t *old, size_t ol,
                         const uint8_t *neu, size_t nl)
{
	uint8_t buf[2 + 2 * CONF_PIN_MAX];
	uint16_t sw;

	UK_CHECK(ol <= CONF_PIN_MAX && nl <= CONF_PIN_MAX);
	buf[0] = (uint8_t)ol;
	memcpy(buf + 1, old, ol);
	buf[1 + ol] = (uint8_t)nl;
	memcpy(buf + 2 + ol, neu, nl);
	sw = ukt_host_secured(&c->h, 0x00, 0x24, 0x00, p2, buf, 2 + ol + nl, 1, UKT_HOST_NO_LE);
	uk_wipe(buf, sizeof(buf));
	return sw;
}

uint16_t conf_reset_retry(conf_ctx *c, ukt_host *h, const uint8_t *neu, size_t nl)
{
	return ukt_host_secured(h != NULL ? h : &c->h, 0x00, 0x2C, 0x02, 0x81, neu, nl, 1,
	                        UKT_HOST_NO_LE);
}

uint16_t conf_logout(conf_ctx *c, uint8_t p2)
{
	return ukt_host_secured(&c->h, 0x00, 0x20, 0xFF, p2, NULL, 0, 1, UKT_HOST_NO_LE);
}

uint16_t conf_challenge(conf_ctx *c, uint8_t *out, size_t n)
{
	uint16_t sw;

	UK_CHECK(n >= 1 && n <= 256);
	sw = ukt_host_plain(&c->h, 0x00, 0x84, 0x00, 0x00, NULL, 0, (long)n);
	if (sw == 0x9000) {
		UK_CHECK_EQ(c->h.rlen, n);
		memcpy(out, c->h.resp, n);
	}
	return sw;
}

static uint16_t pso(conf_ctx *c, uint8_t p1, uint8_t p2, uint8_t kr, uint8_t mech,
                    const uint8_t *d, size_t n)
{
	uk_buf b;
	uint16_t sw;

	uk_buf_init(&b, 0, 1);
	uk_buf_put_u8(&b, kr);
	uk_buf_put_u8(&b, mech);
	uk_buf_put(&b, d, n);
	UK_CHECK(!b.failed);
	sw = ukt_host_secured(&c->h, 0x00, 0x2A, p1, p2, b.data, b.len, 0,
	                      (long)UK_APDU_MAX_NE);
	uk_buf_free(&b);
	return sw;
}

uint16_t conf_decipher(conf_ctx *c, uint8_t kr, uint8_t mech, const uint8_t *ct, size_t n)
{
	return pso(c, 0x80, 0x86, kr, mech, ct, n);
}

uint16_t conf_pso_sign(conf_ctx *c, uint8_t kr, uint8_t mech, const uint8_t *d, size_t n)
{
	return pso(c, 0x9E, 0x9A, kr, mech, d, n);
}

uint16_t conf_generate_alg(conf_ctx *c, uint8_t kr, uint8_t alg)
{
	const uint8_t payload[3] = { 0x80, 0x01, alg };

	return ukt_host_secured(&c->h, 0x00, 0x46, 0x80, kr, payload, sizeof(payload), 0,
	                        (long)UK_APDU_MAX_NE);
}

uint16_t conf_file_create(conf_ctx *c, uint16_t fid, uint32_t size, const char *name)
{
	uint8_t fb[2], sb[4];
	uk_buf b;
	uint16_t sw;

	uk_set_u16(fb, fid);
	uk_set_u32(sb, size);
	uk_buf_init(&b, 0, 0);
	uk_tlv_put(&b, 0x83, fb, 2);
	uk_tlv_put(&b, 0x80, sb, 4);
	uk_tlv_put(&b, 0x84, name, strlen(name));
	UK_CHECK(!b.failed);
	sw = ukt_host_secured(&c->h, 0x80, 0xE0, 0x01, 0x00, b.data, b.len, 0, UKT_HOST_NO_LE);
	uk_buf_free(&b);
	return sw;
}

uint16_t conf_file_select(conf_ctx *c, uint16_t fid)
{
	uint8_t f[2] = { (uint8_t)(fid >> 8), (uint8_t)fid };

	return ukt_host_plain(&c->h, 0x00, 0xA4, 0x02, 0x0C, f, 2, UKT_HOST_NO_LE);
}

uint16_t conf_file_update(conf_ctx *c, size_t off, const uint8_t *p, size_t n)
{
	UK_CHECK(off <= 0x7FFF);
	return ukt_host_secured(&c->h, 0x00, 0xD6, (uint8_t)(off >> 8), (uint8_t)off, p, n, 0,
	                        UKT_HOST_NO_LE);
}

uint16_t conf_file_read(conf_ctx *c, size_t off, size_t n)
{
	UK_CHECK(off <= 0x7FFF);
	return ukt_host_plain(&c->h, 0x00, 0xB0, (uint8_t)(off >> 8), (uint8_t)off, NULL, 0,
	                      (long)n);
}

/* OpenSSL's SM2 ciphertext (GM/T 0009 DER SEQUENCE { x, y, C3, C2 }) to raw C1||C3||C2. */
static size_t sm2_der_to_raw(const uint8_t *der, size_t n, uint8_t *raw)
{
	const uint8_t *p = der, *q;
	uk_tlv seq, x, y, c3, c2;

	UK_CHECK_EQ(uk_tlv_next(&p, der + n, &seq), 1);
	UK_CHECK(seq.tag == 0x30 && p == der + n);
	q = seq.value;
	UK_CHECK_EQ(uk_tlv_next(&q, seq.value + seq.len, &x), 1);
	UK_CHECK_EQ(uk_tlv_next(&q, seq.value + seq.len, &y), 1);
	UK_CHECK_EQ(uk_tlv_next(&q, seq.value + seq.len, &c3), 1);
	UK_CHECK_EQ(uk_tlv_next(&q, seq.value + seq.len, &c2), 1);
	UK_CHECK(x.tag == 2 && y.tag == 2 && c3.tag == 4 && c2.tag == 4 && c3.len == 32);
	while (x.len > 32 && x.value[0] == 0) {
		x.value++;
		x.len--;
	}
	while (y.len > 32 && y.value[0] == 0) {
		y.value++;
		y.len--;
	}
	UK_CHECK(x.len <= 32 && y.len <= 32);
	memset(raw, 0, 65);
	raw[0] = 0x04;
	memcpy(raw + 1 + 32 - x.len, x.value, x.len);
	memcpy(raw + 65 - y.len, y.value, y.len);
	memcpy(raw + 65, c3.value, 32);
	memcpy(raw + 97, c2.value, c2.len);
	return 97 + c2.len;
}

size_t conf_sm2_encrypt_raw(const uint8_t pub[65], const uint8_t *msg, size_t n,
                            uint8_t *out)
{
	EVP_PKEY *key = conf_sm2_public(pub);
	EVP_PKEY_CTX *ctx;
	uint8_t *der;
	size_t dlen = n + 200, r;

	UK_CHECK(key != NULL);
	der = malloc(dlen);
	UK_CHECK(der != NULL);
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	UK_CHECK(ctx != NULL && EVP_PKEY_encrypt_init(ctx) == 1);
	UK_CHECK(EVP_PKEY_encrypt(ctx, der, &dlen, msg, n) == 1);
	r = sm2_der_to_raw(der, dlen, out);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(key);
	free(der);
	return r;
}
