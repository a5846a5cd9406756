/* ukey token: RENAME CONTAINER / RENAME FILE (proprietary 84 E2, docs/apdu.md "RENAME").
 *
 * - a container renamed (P1 00) is listed under the new name by GET DATA 02, after a reopen
 *   too, and its key pair still signs (verified with OpenSSL) and its certificate is still
 *   served; a data file renamed (P1 01) is listed under the new name by GET DATA 03 with its
 *   content unchanged;
 * - refusals change nothing (the state file and the file bytes are compared): name taken
 *   (6A89), absent (6A88 container, 6A82 file), malformed (6A80: index, lengths 0 / 65 / 33,
 *   a certificate fid, extra or reordered TLVs), no user PIN (6982), plain (6987), P1 (6A86),
 *   a failed write (6581), a damaged file (6581);
 * - the same name again is 9000 and writes nothing. */
#include <stdint.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

#include "token_util.h"
#include "uk_tlv.h"
#include "ukt_internal.h"

#define N32 "0123456789abcdef0123456789abcdef"
#define N64 N32 N32

static ukt_host h;

static uint16_t sec(uint8_t p1, const uint8_t *p, size_t n)
{
	return ukt_host_secured(&h, 0x80, 0xE2, p1, 0x00, p, n, 0, UKT_HOST_NO_LE);
}

static uint16_t rename_container(uint8_t idx, const void *name, size_t n)
{
	uint8_t p[3 + 2 + 80];

	p[0] = 0x80, p[1] = 1, p[2] = idx, p[3] = 0x81, p[4] = (uint8_t)n;
	memcpy(p + 5, name, n);
	return sec(0x00, p, 5 + n);
}

static uint16_t rename_file(uint16_t fid, const void *name, size_t n)
{
	uint8_t p[4 + 2 + 80];

	p[0] = 0x83, p[1] = 2, p[2] = (uint8_t)(fid >> 8), p[3] = (uint8_t)fid;
	p[4] = 0x84, p[5] = (uint8_t)n;
	memcpy(p + 6, name, n);
	return sec(0x01, p, 6 + n);
}

static uint16_t create_file(uint16_t fid, uint32_t size, const char *name)
{
	uint8_t fb[2], sb[4];
	uk_buf b;
	uint16_t sw;

	uk_set_u16(fb, fid);
	uk_set_u32(sb, size);
	uk_buf_init(&b, 0, 0);
	uk_tlv_put(&b, 0x83, fb, 2);
	uk_tlv_put(&b, 0x80, sb, 4);
	if (name != NULL)
		uk_tlv_put(&b, 0x84, name, strlen(name));
	sw = ukt_host_secured(&h, 0x80, 0xE0, 0x01, 0x00, b.data, b.len, 0, UKT_HOST_NO_LE);
	uk_buf_free(&b);
	return sw;
}

static uint16_t write_current(const void *p, size_t n)
{
	return ukt_host_secured(&h, 0x00, 0xD6, 0, 0, p, n, 0, UKT_HOST_NO_LE);
}

/* GET DATA 02: 1 when container idx is listed with exactly this name; *cert_len gets
 * the signing certificate's length (tag 86) or 0. */
static int container_named(uint8_t idx, const void *name, size_t n, unsigned *cert_len)
{
	const uint8_t *p, *end;
	uk_tlv t, v;

	UK_CHECK_EQ(ukt_host_plain(&h, 0x00, 0xCA, 0x01, 0x02, NULL, 0, 65536), 0x9000);
	p = h.resp, end = h.resp + h.rlen;
	while (uk_tlv_next(&p, end, &t) == 1) {
		UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x80, &v), 1);
		if (v.value[0] != idx)
			continue;
		if (cert_len != NULL)
			*cert_len = uk_tlv_find(t.value, t.len, 0x86, &v) == 1 ? uk_get_u16(v.value) : 0;
		UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x81, &v), 1);
		return v.len == n && memcmp(v.value, name, n) == 0;
	}
	return 0;
}

/* GET DATA 03: 1 when data file fid is listed with exactly this name. */
static int file_named(uint16_t fid, const char *name)
{
	const uint8_t *p, *end;
	uk_tlv t, v;

	UK_CHECK_EQ(ukt_host_plain(&h, 0x00, 0xCA, 0x01, 0x03, NULL, 0, 65536), 0x9000);
	p = h.resp, end = h.resp + h.rlen;
	while (uk_tlv_next(&p, end, &t) == 1) {
		UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x83, &v), 1);
		if (uk_get_u16(v.value) != fid)
			continue;
		UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x84, &v), 1);
		return v.len == strlen(name) && memcmp(v.value, name, v.len) == 0;
	}
	return 0;
}

static void read_file(uint16_t fid, const char *want)
{
	uint8_t f[2] = { (uint8_t)(fid >> 8), (uint8_t)fid };

	UK_CHECK_EQ(ukt_host_plain(&h, 0x00, 0xA4, 0x02, 0x0C, f, 2, UKT_HOST_NO_LE), 0x9000);
	UK_CHECK_EQ(ukt_host_plain(&h, 0x00, 0xB0, 0, 0, NULL, 0, 256), 0x9000);
	UK_CHECK_EQ(h.rlen, strlen(want));
	UK_CHECK_MEM(h.resp, want, h.rlen);
}

/* OpenSSL's SM2 verification over e of the card's r || s under pub (04||X||Y). */
static int openssl_verify(const uint8_t pub[65], const uint8_t e[32], const uint8_t rs[64])
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL), *vctx;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	ECDSA_SIG *sig = ECDSA_SIG_new();
	uint8_t der[80], *q = der;
	EVP_PKEY *key = NULL;
	OSSL_PARAM *params;
	int n, r;

	UK_CHECK(ctx != NULL && bld != NULL && sig != NULL);
	UK_CHECK(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "SM2", 0) == 1);
	UK_CHECK(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 65) == 1);
	params = OSSL_PARAM_BLD_to_param(bld);
	UK_CHECK(params != NULL && EVP_PKEY_fromdata_init(ctx) == 1);
	UK_CHECK(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1);
	UK_CHECK(ECDSA_SIG_set0(sig, BN_bin2bn(rs, 32, NULL), BN_bin2bn(rs + 32, 32, NULL)) == 1);
	n = i2d_ECDSA_SIG(sig, &q);
	UK_CHECK(n > 0 && n <= (int)sizeof(der));
	vctx = EVP_PKEY_CTX_new(key, NULL);
	UK_CHECK(vctx != NULL && EVP_PKEY_verify_init(vctx) == 1);
	r = EVP_PKEY_verify(vctx, der, (size_t)n, e, 32);
	EVP_PKEY_CTX_free(vctx);
	EVP_PKEY_free(key);
	ECDSA_SIG_free(sig);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* The renamed container's key still signs: checked by OpenSSL, not by the token. */
static void sign_checks(uint8_t kr, const uint8_t pub[65])
{
	uint8_t e[32], sig[64];

	UK_CHECK_EQ(RAND_bytes(e, sizeof(e)), 1);
	UK_CHECK_EQ(ukt_host_sign(&h, kr, e, sig), 0x9000);
	UK_CHECK_EQ(openssl_verify(pub, e, sig), 1);
}

static int fail_writes(void *arg)
{
	(void)arg;
	return 1;
}

static void test_container(const char *dir)
{
	uint8_t pub[65], bad[8], cert[300];
	unsigned clen = 0;
	unsigned char *snap;
	size_t snaplen;
	ukt_card *card = tu_card_logged_in(dir, &h);

	memset(cert, 0x30, sizeof(cert));
	UK_CHECK_EQ(ukt_host_create_container(&h, "alpha"), 0x9000);
	UK_CHECK_EQ(ukt_host_create_container(&h, "beta"), 0x9000);
	UK_CHECK_EQ(ukt_host_generate(&h, 0, 0x01, pub), 0x9000);
	UK_CHECK_EQ(create_file(0xC000, sizeof(cert), NULL), 0x9000);
	UK_CHECK_EQ(write_current(cert, sizeof(cert)), 0x9000);

	UK_CHECK_EQ(rename_container(0, "gamma", 5), 0x9000);
	UK_CHECK(container_named(0, "gamma", 5, &clen));
	UK_CHECK_EQ(clen, sizeof(cert));
	UK_CHECK(container_named(1, "beta", 4, NULL));
	sign_checks(0, pub);

	snap = tu_state_bytes(dir, &snaplen);
	UK_CHECK_EQ(rename_container(0, "beta", 4), 0x6A89);           /* taken */
	UK_CHECK_EQ(rename_container(0, "gamma", 5), 0x9000);          /* same: no write */
	UK_CHECK_EQ(rename_container(5, "delta", 5), 0x6A88);          /* no such container */
	UK_CHECK_EQ(rename_container(16, "delta", 5), 0x6A80);         /* index out of range */
	UK_CHECK_EQ(rename_container(0, "", 0), 0x6A80);
	UK_CHECK_EQ(rename_container(0, N64 "x", 65), 0x6A80);
	bad[0] = 0x81, bad[1] = 1, bad[2] = 'x', bad[3] = 0x80, bad[4] = 1, bad[5] = 0;
	UK_CHECK_EQ(sec(0x00, bad, 6), 0x6A80);                        /* order */
	bad[0] = 0x80, bad[1] = 1, bad[2] = 0, bad[3] = 0x81, bad[4] = 1, bad[5] = 'x';
	bad[6] = 0x82, bad[7] = 0;
	UK_CHECK_EQ(sec(0x00, bad, 8), 0x6A80);                        /* trailing TLV */
	UK_CHECK_EQ(ukt_host_secured(&h, 0x80, 0xE2, 0x02, 0x00, bad, 6, 0, UKT_HOST_NO_LE),
	            0x6A86);
	UK_CHECK_EQ(ukt_host_plain(&h, 0x80, 0xE2, 0x00, 0x00, bad, 6, UKT_HOST_NO_LE), 0x6987);
	ukt_card_set_write_hook(card, fail_writes, NULL);
	UK_CHECK_EQ(rename_container(0, "delta", 5), 0x6581);
	ukt_card_set_write_hook(card, NULL, NULL);
	UK_CHECK(container_named(0, "gamma", 5, NULL));
	/* a session without the user PIN */
	UK_CHECK_EQ(ukt_host_open_session(&h), 0x9000);
	UK_CHECK_EQ(rename_container(0, "delta", 5), 0x6982);
	TU_CHECK_STATE_UNCHANGED(dir, snap, snaplen);
	free(snap);

	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	UK_CHECK_EQ(rename_container(1, N64, 64), 0x9000);
	ukt_card_close(card);

	/* durable: a reopened card lists the new names and the key still signs */
	card = tu_card_logged_in(dir, &h);
	UK_CHECK(container_named(0, "gamma", 5, &clen));
	UK_CHECK_EQ(clen, sizeof(cert));
	UK_CHECK(container_named(1, N64, 64, NULL));
	sign_checks(0, pub);
	ukt_card_close(card);
}

static int file_bytes(const char *dir, uint16_t fid, uint8_t *out, size_t cap, size_t *n)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/file-%04X", dir, fid);
	f = fopen(path, "rb");
	if (f == NULL)
		return -1;
	*n = fread(out, 1, cap, f);
	fclose(f);
	return 0;
}

static void test_file(const char *dir)
{
	static uint8_t before[4096], after[4096];
	size_t nb = 0, na = 0;
	unsigned char *snap;
	size_t snaplen;
	ukt_card *card = tu_card_logged_in(dir, &h);

	UK_CHECK_EQ(ukt_host_create_container(&h, "c"), 0x9000);
	UK_CHECK_EQ(create_file(0xD000, 64, "seal"), 0x9000);
	UK_CHECK_EQ(write_current("abc", 3), 0x9000);
	UK_CHECK_EQ(create_file(0xD001, 64, "other"), 0x9000);

	UK_CHECK_EQ(rename_file(0xD000, "stamp", 5), 0x9000);
	UK_CHECK(file_named(0xD000, "stamp"));
	UK_CHECK(file_named(0xD001, "other"));
	read_file(0xD000, "abc");

	snap = tu_state_bytes(dir, &snaplen);
	UK_CHECK_EQ(file_bytes(dir, 0xD000, before, sizeof(before), &nb), 0);
	UK_CHECK_EQ(rename_file(0xD000, "other", 5), 0x6A89);          /* taken */
	UK_CHECK_EQ(rename_file(0xD000, "stamp", 5), 0x9000);          /* same: no write */
	UK_CHECK_EQ(rename_file(0xD005, "x", 1), 0x6A82);              /* absent */
	UK_CHECK_EQ(rename_file(0xC000, "x", 1), 0x6A80);              /* a certificate */
	UK_CHECK_EQ(rename_file(0x3F00, "x", 1), 0x6A80);
	UK_CHECK_EQ(rename_file(0xD000, "", 0), 0x6A80);
	UK_CHECK_EQ(rename_file(0xD000, N32 "x", 33), 0x6A80);
	ukt_card_set_write_hook(card, fail_writes, NULL);
	UK_CHECK_EQ(rename_file(0xD000, "third", 5), 0x6581);
	ukt_card_set_write_hook(card, NULL, NULL);
	UK_CHECK_EQ(ukt_host_open_session(&h), 0x9000);
	UK_CHECK_EQ(rename_file(0xD000, "third", 5), 0x6982);
	UK_CHECK_EQ(file_bytes(dir, 0xD000, after, sizeof(after), &na), 0);
	UK_CHECK_EQ(na, nb);
	UK_CHECK_MEM(after, before, na);
	TU_CHECK_STATE_UNCHANGED(dir, snap, snaplen);
	free(snap);
	UK_CHECK(file_named(0xD000, "stamp"));

	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	UK_CHECK_EQ(rename_file(0xD001, N32, 32), 0x9000);
	ukt_card_close(card);

	card = tu_card_logged_in(dir, &h);
	UK_CHECK(file_named(0xD000, "stamp"));
	UK_CHECK(file_named(0xD001, N32));
	read_file(0xD000, "abc");
	ukt_card_close(card);

	/* a file damaged on disk is not renamed (its bytes cannot be trusted to rewrite) */
	{
		char path[1024];
		FILE *f;

		snprintf(path, sizeof(path), "%s/file-D000", dir);
		f = fopen(path, "r+b");
		UK_CHECK(f != NULL);
		UK_CHECK(fseek(f, 30, SEEK_SET) == 0);
		UK_CHECK(fputc('Z', f) != EOF);
		UK_CHECK(fclose(f) == 0);
	}
	card = tu_card_logged_in(dir, &h);
	UK_CHECK_EQ(rename_file(0xD000, "fixed", 5), 0x6581);
	ukt_card_close(card);
}

int main(void)
{
	void (*const tests[])(const char *) = { test_container, test_file };
	size_t i;

	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		char *dir = tu_tmpdir();

		tests[i](dir);
		tu_rmdir(dir);
		free(dir);
	}
	return uk_test_done("token_rename");
}
