/* token_xport: the card's APDU transport (docs/apdu.md "Transport"), in process.
 *
 * Command chaining (ISO/IEC 7816-4:2005 §5.1.1.1): secured VERIFY, GENERATE and PSO cut at
 * every boundary of their data field and byte by byte, a plain chained SELECT; a part with
 * another header (6883), another command in the middle (the chain is dropped), a chain
 * longer than 65,572 bytes (6700) next to one of exactly that size whose MAC checks.
 * GET RESPONSE (§7.6.1): a 61xx answer fetched with several Le values, short and extended,
 * compared with the extended-Le answer; the pending answer dropped by another command and
 * by reset, kept by a refused GET RESPONSE. No refused part changes the state file.
 * Signatures are checked with OpenSSL (EVP, SM2), not with the code under test. */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "uk_apdu.h"
#include "uk_tlv.h"
#include "token_util.h"

/* docs/apdu.md: the largest reassembled data field, 65,535 + 21 + 16. */
#define CHAIN_MAX 65572u

static ukt_host h;
static ukt_card *card;
static char *dir;

/* ---- OpenSSL check of an SM2 signature over a caller-computed e (GM/T 0003.2 §7) ---- */

static EVP_PKEY *sm2_public(const uint8_t pub[65])
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
	OSSL_PARAM *params;
	EVP_PKEY *key = NULL;

	UK_CHECK(bld != NULL && ctx != NULL);
	UK_CHECK(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "SM2", 0) == 1);
	UK_CHECK(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 65) == 1);
	params = OSSL_PARAM_BLD_to_param(bld);
	UK_CHECK(params != NULL);
	UK_CHECK(EVP_PKEY_fromdata_init(ctx) == 1);
	UK_CHECK(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

static int sm2_verify_e(const uint8_t pub[65], const uint8_t e[32], const uint8_t rs[64])
{
	EVP_PKEY *key = sm2_public(pub);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	ECDSA_SIG *sig = ECDSA_SIG_new();
	unsigned char *der = NULL;
	int derlen, ok;

	UK_CHECK(ctx != NULL && sig != NULL);
	UK_CHECK(ECDSA_SIG_set0(sig, BN_bin2bn(rs, 32, NULL), BN_bin2bn(rs + 32, 32, NULL)) == 1);
	derlen = i2d_ECDSA_SIG(sig, &der);
	UK_CHECK(derlen > 0);
	UK_CHECK(EVP_PKEY_verify_init(ctx) == 1);
	ok = EVP_PKEY_verify(ctx, der, (size_t)derlen, e, 32) == 1;
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(key);
	return ok;
}

/* ---- sending a command as a chain ---- */

/* Send a's data field in parts ending at cut[0..n-1] and at its end: the parts before the
 * last carry CLA | 10 and no Le, and must each answer 9000 with no data; the last part has
 * a's CLA and Le. Returns the last part's SW. */
static uint16_t send_parts(const uk_apdu *a, const size_t *cut, size_t n)
{
	size_t i, start = 0, end;
	uint16_t sw;

	for (i = 0; i < n; i++) {
		end = cut[i];
		sw = ukt_host_plain(&h, a->cla | 0x10, a->ins, a->p1, a->p2, a->data + start,
		                    end - start, UKT_HOST_NO_LE);
		if (sw != 0x9000)
			fprintf(stderr, "part %zu (%zu..%zu): %04X\n", i, start, end, sw);
		UK_CHECK_EQ(sw, 0x9000);
		UK_CHECK_EQ(h.rlen, 0);
		start = end;
	}
	return ukt_host_plain(&h, a->cla, a->ins, a->p1, a->p2, a->data + start, a->lc - start,
	                      a->has_le ? (long)a->le : UKT_HOST_NO_LE);
}

/* Build a secured command, then send it cut at k (k = 0: byte by byte). */
static uint16_t secured_chain(uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                              const uint8_t *pay, size_t n, int enc, long le, size_t k,
                              size_t *lc)
{
	static size_t cuts[CHAIN_MAX];
	uk_buf raw;
	uk_apdu a;
	uint16_t sw;
	size_t i, ncut = 1;

	uk_buf_init(&raw, 0, 1);
	UK_CHECK(ukt_host_build_secured(&h, cla, ins, p1, p2, pay, n, enc, le, &raw) == 0);
	UK_CHECK_EQ(uk_apdu_parse(raw.data, raw.len, &a), 0x9000);
	*lc = a.lc;
	cuts[0] = k;
	if (k == 0)
		for (ncut = 0, i = 1; i < a.lc; i++)
			cuts[ncut++] = i;
	sw = send_parts(&a, cuts, ncut);
	uk_buf_free(&raw);
	return sw;
}

/* Secured VERIFY of the SO PIN, chained at every cut: 9000, verified (query), logout. */
static void test_chain_verify(void)
{
	size_t k, lc = 2;
	uint16_t sw;

	/* a wrong PIN, chained, is compared: one try used */
	UK_CHECK_EQ(secured_chain(0x00, 0x20, 0x00, 0x82, (const uint8_t *)"wrong1234", 9, 1,
	                          UKT_HOST_NO_LE, 7, &lc), 0x63C9);
	for (k = 0; k < lc; k++) {
		sw = secured_chain(0x00, 0x20, 0x00, 0x82, (const uint8_t *)"admin1234", 9, 1,
		                   UKT_HOST_NO_LE, k, &lc);
		UK_CHECK_EQ(sw, 0x9000);
		UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x20, 0x00, 0x82, NULL, 0, 1, UKT_HOST_NO_LE),
		            0x9000);
		UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x20, 0xFF, 0x82, NULL, 0, 1, UKT_HOST_NO_LE),
		            0x9000);
	}
	UK_CHECK_EQ(lc, 5 + 16 + 16);
	/* the tries are back to 10: the correct PIN reset the counter */
	UK_CHECK_EQ(ukt_host_hex(&h, "00200082"), 0x63CA);
}

/* GENERATE at KR 0, chained at every cut: each answer is a new point, read back equal. */
static void test_chain_generate(void)
{
	static const uint8_t pay[] = { 0x80, 0x01, 0x01 };
	uint8_t prev[65] = { 0 };
	size_t k, lc = 2;
	uk_tlv t, p;

	UK_CHECK_EQ(ukt_host_create_container(&h, "chained"), 0x9000);
	for (k = 0; k < lc; k++) {
		UK_CHECK_EQ(secured_chain(0x00, 0x46, 0x80, 0x00, pay, sizeof(pay), 0, 256, k, &lc),
		            0x9000);
		UK_CHECK_EQ(h.rlen, 3 + 2 + 65);        /* 7F49 43 { 86 41 point } */
		UK_CHECK_EQ(uk_tlv_find(h.resp, h.rlen, 0x7F49, &t), 1);
		UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x86, &p), 1);
		UK_CHECK_EQ(p.len, 65);
		UK_CHECK(memcmp(prev, p.value, 65) != 0);
		memcpy(prev, p.value, 65);
		UK_CHECK_EQ(ukt_host_hex(&h, "0046810000"), 0x9000);
		UK_CHECK_EQ(uk_tlv_find(h.resp, h.rlen, 0x7F49, &t), 1);
		UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x86, &p), 1);
		UK_CHECK_MEM(p.value, prev, 65);
	}
	UK_CHECK_EQ(lc, 5 + 3 + 16);
}

static void read_public(uint8_t kr, uint8_t pub[65])
{
	uint8_t cmd[5] = { 0x00, 0x46, 0x81, kr, 0x00 };
	uk_tlv t, p;

	UK_CHECK_EQ(ukt_host_raw(&h, cmd, sizeof(cmd)), 0x9000);
	UK_CHECK_EQ(uk_tlv_find(h.resp, h.rlen, 0x7F49, &t), 1);
	UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x86, &p), 1);
	UK_CHECK_EQ(p.len, 65);
	memcpy(pub, p.value, 65);
}

/* PSO with KR 0, chained at every cut: each signature verifies with OpenSSL. */
static void test_chain_pso(void)
{
	uint8_t pay[34], pub[65];
	size_t k, lc = 2;

	read_public(0, pub);
	pay[0] = 0x00;
	pay[1] = 0x01;
	for (k = 0; k < lc; k++) {
		memset(pay + 2, (int)(0x30 + k), 32);
		UK_CHECK_EQ(secured_chain(0x00, 0x2A, 0x9E, 0x9A, pay, sizeof(pay), 0, 256, k, &lc),
		            0x9000);
		UK_CHECK_EQ(h.rlen, 64);
		UK_CHECK(sm2_verify_e(pub, pay + 2, h.resp));
		h.resp[10] ^= 1;        /* the check can fail */
		UK_CHECK(!sm2_verify_e(pub, pay + 2, h.resp));
	}
	UK_CHECK_EQ(lc, 5 + 34 + 16);
}

/* A plain command chained too: SELECT with its AID in two parts. */
static void test_chain_plain(void)
{
	UK_CHECK_EQ(ukt_host_hex(&h, "10A4040003F0756B"), 0x9000);
	UK_CHECK_EQ(ukt_host_hex(&h, "00A4040003657901 00"), 0x9000);
	UK_CHECK_EQ(h.rlen, 15);
	UK_CHECK_EQ(h.resp[0], 0x6F);
	/* an empty non-final part is accepted; the chain is what the parts add up to */
	UK_CHECK_EQ(ukt_host_hex(&h, "10A40400"), 0x9000);
	UK_CHECK_EQ(ukt_host_hex(&h, "10A4040001F0"), 0x9000);
	UK_CHECK_EQ(ukt_host_hex(&h, "00A4040005756B657902"), 0x6A82);    /* F0756B657902 */
	/* chaining an instruction without a data field: 6884 */
	UK_CHECK_EQ(ukt_host_hex(&h, "10CA0100"), 0x6884);
	UK_CHECK_EQ(ukt_host_hex(&h, "10C00000"), 0x6884);
	/* the first part is checked like the whole command: nothing is kept */
	UK_CHECK_EQ(ukt_host_hex(&h, "102A9E9A0100"), 0x6987);             /* needs SM */
	UK_CHECK_EQ(ukt_host_hex(&h, "142A9E9B0100"), 0x6A86);             /* P1 P2 */
	UK_CHECK_EQ(ukt_host_hex(&h, "10FE00000100"), 0x6D00);
	UK_CHECK_EQ(ukt_host_hex(&h, "11A4040001F0"), 0x6881);
	UK_CHECK_EQ(ukt_host_hex(&h, "002A9E9A0100"), 0x6987);             /* no chain open */
}

/* A part whose header differs from the chain's: 6883, and the chain is gone. */
static void test_chain_mismatch(void)
{
	uint8_t pay[34], pub[65];
	uk_buf raw;
	uk_apdu a;
	size_t half;

	read_public(0, pub);
	pay[0] = 0x00;
	pay[1] = 0x01;
	memset(pay + 2, 0x77, 32);
	uk_buf_init(&raw, 0, 1);
	UK_CHECK(ukt_host_build_secured(&h, 0x00, 0x2A, 0x9E, 0x9A, pay, 34, 0, 256, &raw) == 0);
	UK_CHECK_EQ(uk_apdu_parse(raw.data, raw.len, &a), 0x9000);
	half = a.lc / 2;
	/* P2 differs in the last part */
	UK_CHECK_EQ(ukt_host_plain(&h, 0x14, 0x2A, 0x9E, 0x9A, a.data, half, UKT_HOST_NO_LE),
	            0x9000);
	UK_CHECK_EQ(ukt_host_plain(&h, 0x04, 0x2A, 0x9E, 0x9B, a.data + half, a.lc - half, 256),
	            0x6883);
	/* the chain was dropped: the right last part alone is a short secured command whose
	 * MAC cannot check (6988) -- had the chain survived it would sign (9000) */
	UK_CHECK_EQ(ukt_host_plain(&h, 0x04, 0x2A, 0x9E, 0x9A, a.data + half, a.lc - half, 256),
	            0x6988);
	/* CLA differs (SM bit dropped) in a middle part */
	UK_CHECK_EQ(ukt_host_plain(&h, 0x14, 0x2A, 0x9E, 0x9A, a.data, half, UKT_HOST_NO_LE),
	            0x9000);
	UK_CHECK_EQ(ukt_host_plain(&h, 0x10, 0x2A, 0x9E, 0x9A, a.data + half, 1, UKT_HOST_NO_LE),
	            0x6883);
	/* P1 differs, chaining bit still set */
	UK_CHECK_EQ(ukt_host_plain(&h, 0x14, 0x2A, 0x9E, 0x9A, a.data, half, UKT_HOST_NO_LE),
	            0x9000);
	UK_CHECK_EQ(ukt_host_plain(&h, 0x14, 0x2A, 0x9F, 0x9A, a.data + half, 1, UKT_HOST_NO_LE),
	            0x6883);
	/* the counter of the never-executed command is still unused: send it whole now */
	UK_CHECK_EQ(ukt_host_raw(&h, raw.data, raw.len), 0x9000);
	UK_CHECK(sm2_verify_e(pub, pay + 2, h.resp));
	uk_buf_free(&raw);
}

/* Another command in the middle of a chain is answered on its own and drops the chain. */
static void test_chain_interleaved(void)
{
	uint8_t pay[34], pub[65];
	uk_buf raw;
	uk_apdu a;

	read_public(0, pub);
	pay[0] = 0x00;
	pay[1] = 0x01;
	memset(pay + 2, 0x42, 32);
	uk_buf_init(&raw, 0, 1);
	UK_CHECK(ukt_host_build_secured(&h, 0x00, 0x2A, 0x9E, 0x9A, pay, 34, 0, 256, &raw) == 0);
	UK_CHECK_EQ(uk_apdu_parse(raw.data, raw.len, &a), 0x9000);
	UK_CHECK_EQ(ukt_host_plain(&h, 0x14, 0x2A, 0x9E, 0x9A, a.data, 30, UKT_HOST_NO_LE), 0x9000);
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010100"), 0x9000);               /* GET DATA */
	UK_CHECK_EQ(h.rlen, 5 + 5 + 4);                                   /* 81, 82, 83 */
	UK_CHECK_EQ(ukt_host_plain(&h, 0x04, 0x2A, 0x9E, 0x9A, a.data + 30, a.lc - 30, 256),
	            0x6988);
	/* a malformed APDU drops a chain too */
	UK_CHECK_EQ(ukt_host_plain(&h, 0x14, 0x2A, 0x9E, 0x9A, a.data, 30, UKT_HOST_NO_LE), 0x9000);
	UK_CHECK_EQ(ukt_host_hex(&h, "142A9E9A05AABB"), 0x6700);
	UK_CHECK_EQ(ukt_host_plain(&h, 0x04, 0x2A, 0x9E, 0x9A, a.data + 30, a.lc - 30, 256),
	            0x6988);
	/* another instruction that itself chains: the first chain is replaced */
	UK_CHECK_EQ(ukt_host_plain(&h, 0x14, 0x2A, 0x9E, 0x9A, a.data, 30, UKT_HOST_NO_LE), 0x9000);
	UK_CHECK_EQ(ukt_host_hex(&h, "10A4040003F0756B"), 0x9000);
	UK_CHECK_EQ(ukt_host_hex(&h, "00A4040003657901"), 0x9000);
	/* the whole command, sent as one chain, still works with its counter */
	UK_CHECK_EQ(send_parts(&a, (const size_t[]){ 30 }, 1), 0x9000);
	UK_CHECK(sm2_verify_e(pub, pay + 2, h.resp));
	uk_buf_free(&raw);
}

/* 65,572 bytes reassemble and their MAC checks; one more byte is 6700 and drops the chain. */
static void test_chain_size(void)
{
	static uint8_t pay[CHAIN_MAX + 1];
	uk_buf field;
	uk_apdu a;
	size_t cut = UK_APDU_MAX_NC;

	memset(pay, 0x5A, sizeof(pay));
	pay[0] = 0x00;
	pay[1] = 0x02;          /* mechanism 02: 6A80, reached only once the MAC has checked */
	uk_buf_init(&field, 0, 0);
	UK_CHECK(uk_sm_wrap(&h.sm, 0x04, 0x2A, 0x9E, 0x9A, pay, CHAIN_MAX - UK_SM_OVERHEAD, 0,
	                    &field) == 0);
	UK_CHECK_EQ(field.len, CHAIN_MAX);
	memset(&a, 0, sizeof(a));
	a.cla = 0x04;
	a.ins = 0x2A;
	a.p1 = 0x9E;
	a.p2 = 0x9A;
	a.data = field.data;
	a.lc = field.len;
	a.has_le = 1;
	a.le = 256;
	UK_CHECK_EQ(send_parts(&a, &cut, 1), 0x6A80);
	/* replayed: the counter was used, so the MAC was checked over all 65,572 bytes */
	UK_CHECK_EQ(send_parts(&a, &cut, 1), 0x6988);
	uk_buf_reset(&field);
	UK_CHECK(uk_sm_wrap(&h.sm, 0x04, 0x2A, 0x9E, 0x9A, pay, CHAIN_MAX + 1 - UK_SM_OVERHEAD, 0,
	                    &field) == 0);
	UK_CHECK_EQ(ukt_host_plain(&h, 0x14, 0x2A, 0x9E, 0x9A, field.data, cut, UKT_HOST_NO_LE),
	            0x9000);
	UK_CHECK_EQ(ukt_host_plain(&h, 0x14, 0x2A, 0x9E, 0x9A, field.data + cut,
	                           field.len - cut - 1, UKT_HOST_NO_LE), 0x9000);
	UK_CHECK_EQ(ukt_host_plain(&h, 0x14, 0x2A, 0x9E, 0x9A, field.data + field.len - 1, 1,
	                           UKT_HOST_NO_LE), 0x6700);
	/* the chain is gone: a new one starts from scratch with the same header */
	a.data = field.data;
	a.lc = CHAIN_MAX;       /* the first 65,572 bytes of the refused one: MAC of another length */
	UK_CHECK_EQ(send_parts(&a, &cut, 1), 0x6988);
	uk_buf_free(&field);
}

/* ---- GET RESPONSE ---- */

/* GET DATA 02 with an extended Le: the reference answer. */
static size_t containers_whole(uint8_t *out, size_t cap)
{
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA0102000000"), 0x9000);
	UK_CHECK(h.rlen <= cap);
	memcpy(out, h.resp, h.rlen);
	return h.rlen;
}

/* 61xx: xx = bytes left, 00 for 256 or more. */
static void check_61(uint16_t sw, size_t left)
{
	UK_CHECK_EQ(sw & 0xFF00, 0x6100);
	UK_CHECK_EQ(sw & 0xFF, left >= 256 ? 0 : left);
}

/* GET DATA 02 with the short Le first_le (-1: none), then GET RESPONSE with get_le
 * (-1: none; > 256: extended) until 9000; the pieces must add up to want. */
static void fetch_paged(long first_le, long get_le, const uint8_t *want, size_t n)
{
	static uint8_t got[65536];
	size_t len, expect;
	uint16_t sw;

	sw = ukt_host_plain(&h, 0x00, 0xCA, 0x01, 0x02, NULL, 0, first_le);
	expect = first_le < 0 ? 256 : (size_t)first_le;
	UK_CHECK_EQ(h.rlen, expect);
	memcpy(got, h.resp, h.rlen);
	len = h.rlen;
	check_61(sw, n - len);
	while ((sw & 0xFF00) == 0x6100) {
		sw = ukt_host_plain(&h, 0x00, 0xC0, 0x00, 0x00, NULL, 0, get_le);
		expect = get_le < 0 ? 256 : (size_t)get_le;
		if (expect > n - len)
			expect = n - len;
		UK_CHECK_EQ(h.rlen, expect);
		memcpy(got + len, h.resp, h.rlen);
		len += h.rlen;
		if (len < n)
			check_61(sw, n - len);
		else
			UK_CHECK_EQ(sw, 0x9000);
	}
	UK_CHECK_EQ(len, n);
	UK_CHECK_MEM(got, want, n);
	UK_CHECK_EQ(ukt_host_hex(&h, "00C0000000"), 0x6985);              /* nothing left */
}

static void test_get_response(void)
{
	static const long les[] = { -1, 256, 1, 16, 200, 255, 65536 };
	static uint8_t want[65536];
	char name[16];
	size_t n, i, j;
	int c;

	for (c = 1; c < 4; c++) {      /* container 0 has a signing pair: add three full ones */
		snprintf(name, sizeof(name), "page%d", c);
		UK_CHECK_EQ(ukt_host_create_container(&h, name), 0x9000);
		UK_CHECK_EQ(ukt_host_generate(&h, (uint8_t)(2 * c), 0x01, NULL), 0x9000);
		UK_CHECK_EQ(ukt_host_generate(&h, (uint8_t)(2 * c + 1), 0x01, NULL), 0x9000);
	}
	n = containers_whole(want, sizeof(want));
	UK_CHECK(n > 512);      /* three pieces at least with Le 256 */
	for (i = 0; i < sizeof(les) / sizeof(les[0]); i++)
		for (j = 0; j < sizeof(les) / sizeof(les[0]); j++)
			if (les[i] <= 256)      /* the first command's Le is short here */
				fetch_paged(les[i], les[j], want, n);
	/* no Le on GET RESPONSE: up to 256 bytes; an extended Le takes the rest at once */
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA0102") & 0xFF00, 0x6100);
	UK_CHECK_EQ(ukt_host_hex(&h, "00C00000") & 0xFF00, 0x6100);
	UK_CHECK_EQ(h.rlen, 256);
	UK_CHECK_EQ(ukt_host_hex(&h, "00C00000000000"), 0x9000);
	UK_CHECK_EQ(h.rlen, n - 512);
	UK_CHECK_MEM(h.resp, want + 512, n - 512);
	/* a short answer with a short Le too small is still 6Cxx (no paging) */
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010005"), 0x6C4B);  /* device information: 75 bytes */
	UK_CHECK_EQ(ukt_host_hex(&h, "00C0000000"), 0x6985);
	/* an extended Le smaller than the answer: 6700 */
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA0102000010"), 0x6700);
}

/* Any command but GET RESPONSE drops the pending answer; a refused GET RESPONSE keeps it. */
static void test_pending_dropped(void)
{
	static uint8_t want[65536];
	size_t n = containers_whole(want, sizeof(want));

	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010200") & 0xFF00, 0x6100);
	UK_CHECK_EQ(ukt_host_hex(&h, "00C0000100"), 0x6A86);              /* refused: kept */
	UK_CHECK_EQ(ukt_host_hex(&h, "00C000000100"), 0x6700);            /* data field */
	UK_CHECK_EQ(ukt_host_hex(&h, "04C0000000"), 0x6882);
	UK_CHECK_EQ(ukt_host_hex(&h, "80C0000000"), 0x6E00);
	UK_CHECK_EQ(ukt_host_hex(&h, "00C0000010") & 0xFF00, 0x6100);
	UK_CHECK_EQ(h.rlen, 16);
	UK_CHECK_MEM(h.resp, want + 256, 16);
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010000"), 0x9000);              /* another command */
	UK_CHECK_EQ(ukt_host_hex(&h, "00C0000000"), 0x6985);
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010200") & 0xFF00, 0x6100);
	UK_CHECK_EQ(ukt_host_hex(&h, "00FE0000"), 0x6D00);                /* even a refused one */
	UK_CHECK_EQ(ukt_host_hex(&h, "00C0000000"), 0x6985);
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010200") & 0xFF00, 0x6100);
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA01"), 0x6700);                  /* or a malformed one */
	UK_CHECK_EQ(ukt_host_hex(&h, "00C0000000"), 0x6985);
	/* power off or reset drops a pending answer and an open chain */
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010200") & 0xFF00, 0x6100);
	UK_CHECK_EQ(ukt_card_power(card, UKT_POWER_RESET), 0);
	UK_CHECK_EQ(ukt_host_hex(&h, "00C0000000"), 0x6985);
	UK_CHECK_EQ(ukt_host_hex(&h, "10A4040003F0756B"), 0x9000);
	UK_CHECK_EQ(ukt_card_power(card, UKT_POWER_OFF), 0);
	UK_CHECK_EQ(ukt_card_power(card, UKT_POWER_ON), 0);
	UK_CHECK_EQ(ukt_host_hex(&h, "00A4040003657901"), 0x6A82);        /* alone: AID 657901 */
	UK_CHECK_EQ(ukt_host_select(&h), 0x9000);
	(void)n;
}

/* Refused and non-final parts change nothing: the state file stays byte for byte. */
static void test_no_state_change(void)
{
	static const uint8_t gen[] = { 0x80, 0x01, 0x01 };
	unsigned char *snap;
	uint8_t pub0[65], pub1[65];
	size_t snaplen;
	uk_buf raw;
	uk_apdu a;

	UK_CHECK_EQ(ukt_host_open_session(&h), 0x9000);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	read_public(0, pub0);
	snap = tu_state_bytes(dir, &snaplen);
	uk_buf_init(&raw, 0, 1);
	UK_CHECK(ukt_host_build_secured(&h, 0x00, 0x46, 0x80, 0x00, gen, 3, 0, 256, &raw) == 0);
	UK_CHECK_EQ(uk_apdu_parse(raw.data, raw.len, &a), 0x9000);
	/* all but the last part of a GENERATE: nothing generated yet */
	UK_CHECK_EQ(ukt_host_plain(&h, 0x14, 0x46, 0x80, 0x00, a.data, a.lc - 1, UKT_HOST_NO_LE),
	            0x9000);
	TU_CHECK_STATE_UNCHANGED(dir, snap, snaplen);
	/* a last part with another P2: 6883, nothing generated */
	UK_CHECK_EQ(ukt_host_plain(&h, 0x04, 0x46, 0x80, 0x01, a.data + a.lc - 1, 1, 256), 0x6883);
	TU_CHECK_STATE_UNCHANGED(dir, snap, snaplen);
	/* refused first parts */
	UK_CHECK_EQ(ukt_host_plain(&h, 0x10, 0x46, 0x80, 0x00, a.data, 4, UKT_HOST_NO_LE), 0x9000);
	UK_CHECK_EQ(ukt_host_plain(&h, 0x00, 0x46, 0x80, 0x00, a.data + 4, 3, 256), 0x6987);
	UK_CHECK_EQ(ukt_host_plain(&h, 0x14, 0x46, 0x80, 0x20, a.data, 4, UKT_HOST_NO_LE), 0x6A86);
	UK_CHECK_EQ(ukt_host_plain(&h, 0x14, 0xE0, 0x00, 0x00, a.data, 4, UKT_HOST_NO_LE), 0x6E00);
	TU_CHECK_STATE_UNCHANGED(dir, snap, snaplen);
	read_public(0, pub1);
	UK_CHECK_MEM(pub0, pub1, 65);
	/* the command itself was never executed: its counter is still good */
	UK_CHECK_EQ(ukt_host_raw(&h, raw.data, raw.len), 0x9000);
	read_public(0, pub1);
	UK_CHECK(memcmp(pub0, pub1, 65) != 0);
	free(snap);
	uk_buf_free(&raw);
}

int main(void)
{
	dir = tu_tmpdir();
	card = tu_card_logged_in(dir, &h);
	test_chain_verify();
	test_chain_generate();
	test_chain_pso();
	test_chain_plain();
	test_chain_mismatch();
	test_chain_interleaved();
	test_chain_size();
	test_get_response();
	test_pending_dropped();
	test_no_state_change();
	ukt_card_close(card);
	tu_rmdir(dir);
	free(dir);
	return uk_test_done("token_xport");
}
