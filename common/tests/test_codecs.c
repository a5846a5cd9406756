/* common_codecs: ISO 7816-4 APDU codec (§5.1), BER-TLV (§5.2), byte buffers, hex,
 * constant-time compare. Expected encodings are written out by hand from the standard. */
#include "uk_apdu.h"
#include "uk_buf.h"
#include "uk_tlv.h"
#include "uk_wipe.h"
#include "uk_test.h"

static uint8_t big[80000];  /* > UK_APDU_MAX_RAW and the largest TLV written */

struct apdu_case {
	const char *hex;        /* command; "" for none */
	size_t lc, le;
	int has_le, extended;
};

/* One accepted encoding per ISO 7816-4 §5.1 case (short and extended forms). */
static const struct apdu_case good[] = {
	{ "00A40400", 0, 0, 0, 0 },                            /* case 1 */
	{ "00CA010010", 0, 16, 1, 0 },                         /* case 2S */
	{ "00CA010000", 0, 256, 1, 0 },                        /* case 2S, Le 00 = 256 */
	{ "00A4040003F07565", 3, 0, 0, 0 },                    /* case 3S */
	{ "00A4040003F0756500", 3, 256, 1, 0 },                /* case 4S, Le 00 = 256 */
	{ "00A4040001F07F", 1, 127, 1, 0 },                    /* case 4S */
	{ "00CA0100000100", 0, 256, 1, 1 },                    /* case 2E */
	{ "00CA0100000000", 0, 65536, 1, 1 },                  /* case 2E, 0000 = 65536 */
	{ "00A4040000000211220000", 2, 65536, 1, 1 },          /* case 4E */
	{ "00A40400000002112201F4", 2, 500, 1, 1 },            /* case 4E */
	{ "00A40400000002F075", 2, 0, 0, 1 },                  /* case 3E */
};

static const char *const bad[] = {
	"", "00", "00A4", "00A404",             /* shorter than a header */
	"00A4040003F075",                       /* Lc 3, 2 bytes of data */
	"00A4040002F0756500",                   /* Lc 2, 3 data + Le: one byte too many */
	"00A4040002F075650000",                 /* two trailing bytes */
	"00A404000000",                         /* 00 then one byte: no case */
	"00A4040000000001",                     /* extended Lc 0000 */
	"00A40400000002F0",                     /* extended Lc 2, 1 byte */
	"00A40400000002F07500",                 /* extended Lc 2 + 1-byte Le */
	"00A40400000002F075000000",             /* extended Lc 2 + 3 trailing */
};

static size_t hex(const char *h, uint8_t *out, size_t cap)
{
	long n = uk_hex_decode(h, out, cap);

	UK_CHECK(n >= 0);
	return (size_t)n;
}

static void test_apdu_cases(void)
{
	uint8_t raw[64];
	uk_apdu a;
	size_t i, n;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		n = hex(good[i].hex, raw, sizeof(raw));
		UK_CHECK_EQ(uk_apdu_parse(raw, n, &a), UK_SW_OK);
		UK_CHECK_EQ(a.cla, raw[0]);
		UK_CHECK_EQ(a.ins, raw[1]);
		UK_CHECK_EQ(a.p1, raw[2]);
		UK_CHECK_EQ(a.p2, raw[3]);
		UK_CHECK_EQ(a.lc, good[i].lc);
		UK_CHECK_EQ(a.le, good[i].le);
		UK_CHECK_EQ(a.has_le, good[i].has_le);
		UK_CHECK_EQ(a.extended, good[i].extended);
		if (a.lc > 0)
			UK_CHECK(a.data == raw + (a.extended ? 7 : 5));
		else
			UK_CHECK(a.data == NULL);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = hex(bad[i], raw, sizeof(raw));
		if (uk_apdu_parse(raw, n, &a) != UK_SW_WRONG_LENGTH)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		UK_CHECK_EQ(uk_apdu_parse(raw, n, &a), UK_SW_WRONG_LENGTH);
	}
	UK_CHECK_EQ(uk_apdu_parse(NULL, 10, &a), UK_SW_WRONG_LENGTH);
}

/* Case 3E / 4E with the largest Nc, and one byte off either way. */
static void test_apdu_extended_max(void)
{
	uk_apdu a;
	size_t n = 7 + UK_APDU_MAX_NC;

	memset(big, 0x5A, sizeof(big));
	big[0] = 0x00;
	big[1] = 0xD6;
	big[2] = big[3] = 0;
	big[4] = 0;
	big[5] = big[6] = 0xFF;
	UK_CHECK_EQ(uk_apdu_parse(big, n, &a), UK_SW_OK);
	UK_CHECK_EQ(a.lc, 65535);
	UK_CHECK(!a.has_le && a.extended);
	big[n] = big[n + 1] = 0;
	UK_CHECK_EQ(uk_apdu_parse(big, n + 2, &a), UK_SW_OK);
	UK_CHECK_EQ(a.le, 65536);
	UK_CHECK_EQ(uk_apdu_parse(big, n - 1, &a), UK_SW_WRONG_LENGTH);
	UK_CHECK_EQ(uk_apdu_parse(big, n + 1, &a), UK_SW_WRONG_LENGTH);
	UK_CHECK_EQ(uk_apdu_parse(big, n + 3, &a), UK_SW_WRONG_LENGTH);
}

static void roundtrip(size_t lc, size_t le, int has_le, int force_ext, const char *want)
{
	uk_apdu a, b;
	uk_buf out;
	uint8_t exp[64];
	size_t i;

	memset(&a, 0, sizeof(a));
	a.cla = 0x80;
	a.ins = 0xE0;
	a.p1 = 0x01;
	a.p2 = 0x02;
	for (i = 0; i < lc; i++)
		big[i] = (uint8_t)i;
	a.data = lc ? big : NULL;
	a.lc = lc;
	a.le = le;
	a.has_le = has_le;
	a.extended = force_ext;
	uk_buf_init(&out, 0, 0);
	UK_CHECK(uk_apdu_encode(&a, &out) == 0);
	if (want != NULL) {
		UK_CHECK_EQ(out.len, hex(want, exp, sizeof(exp)));
		UK_CHECK_MEM(out.data, exp, out.len);
	}
	UK_CHECK_EQ(uk_apdu_parse(out.data, out.len, &b), UK_SW_OK);
	UK_CHECK(b.cla == a.cla && b.ins == a.ins && b.p1 == a.p1 && b.p2 == a.p2);
	UK_CHECK_EQ(b.lc, lc);
	UK_CHECK_EQ(b.has_le, has_le);
	UK_CHECK_EQ(b.le, has_le ? le : 0);
	UK_CHECK_EQ(b.extended, force_ext || lc > 255 || le > 256);
	if (lc)
		UK_CHECK_MEM(b.data, big, lc);
	uk_buf_free(&out);
}

static void test_apdu_encode(void)
{
	uk_apdu a;
	uk_buf out;

	roundtrip(0, 0, 0, 0, "80E00102");
	roundtrip(0, 256, 1, 0, "80E0010200");
	roundtrip(0, 257, 1, 0, "80E00102000101");
	roundtrip(0, 65536, 1, 0, "80E00102000000");
	roundtrip(2, 0, 0, 0, "80E00102020001");
	roundtrip(2, 0, 0, 1, "80E0010200000200 01");
	roundtrip(2, 1, 1, 0, "80E0010202000101");
	roundtrip(2, 65536, 1, 0, "80E001020000020001 0000");
	roundtrip(255, 256, 1, 0, NULL);
	roundtrip(256, 0, 0, 0, NULL);
	roundtrip(UK_APDU_MAX_NC, UK_APDU_MAX_NE, 1, 0, NULL);

	memset(&a, 0, sizeof(a));
	uk_buf_init(&out, 0, 0);
	a.lc = UK_APDU_MAX_NC + 1;
	a.data = big;
	UK_CHECK(uk_apdu_encode(&a, &out) == -1);
	a.lc = 1;
	a.data = NULL;
	UK_CHECK(uk_apdu_encode(&a, &out) == -1);
	a.lc = 0;
	a.has_le = 1;
	a.le = 0;
	UK_CHECK(uk_apdu_encode(&a, &out) == -1);
	a.le = UK_APDU_MAX_NE + 1;
	UK_CHECK(uk_apdu_encode(&a, &out) == -1);
	uk_buf_free(&out);
	uk_buf_init(&out, 6, 0);  /* no room for a 4E command */
	a.le = 16;
	a.lc = 10;
	a.data = big;
	UK_CHECK(uk_apdu_encode(&a, &out) == -1);
	uk_buf_free(&out);
	UK_CHECK(strcmp(uk_sw_name(0x63C2), "verification failed (tries left in low nibble)") == 0);
	UK_CHECK(strcmp(uk_sw_name(0x1234), "unknown status") == 0);
}

/* ---- BER-TLV ---- */

static void test_tlv_read(void)
{
	uint8_t buf[400];
	const uint8_t *p, *end;
	uk_tlv t;
	size_t n;

	n = hex("8002AABB 7F4981 03010203 A0820001 FF 9F0100", buf, sizeof(buf));
	p = buf;
	end = buf + n;
	UK_CHECK_EQ(uk_tlv_next(&p, end, &t), 1);
	UK_CHECK(t.tag == 0x80 && t.len == 2 && t.value == buf + 2);
	UK_CHECK_EQ(uk_tlv_next(&p, end, &t), 1);
	UK_CHECK(t.tag == 0x7F49 && t.len == 3 && t.value[2] == 3);
	UK_CHECK_EQ(uk_tlv_next(&p, end, &t), 1);
	UK_CHECK(t.tag == 0xA0 && t.len == 1 && t.value[0] == 0xFF);
	UK_CHECK_EQ(uk_tlv_next(&p, end, &t), 1);
	UK_CHECK(t.tag == 0x9F01 && t.len == 0);
	UK_CHECK_EQ(uk_tlv_next(&p, end, &t), 0);
	UK_CHECK(p == end);

	UK_CHECK_EQ(uk_tlv_find(buf, n, 0xA0, &t), 1);
	UK_CHECK(t.len == 1 && t.value[0] == 0xFF);
	UK_CHECK_EQ(uk_tlv_find(buf, n, 0x81, &t), 0);
	UK_CHECK_EQ(uk_tlv_find(buf, 0, 0x80, &t), 0);
	/* a malformed element after the wanted one does not hide it, before it does */
	UK_CHECK_EQ(uk_tlv_find(buf, 5, 0x80, &t), 1);
	UK_CHECK_EQ(uk_tlv_find(buf, 5, 0x7F49, &t), -1);
}

static const char *const bad_tlv[] = {
	"80",           /* no length */
	"8003AABB",     /* value past the end */
	"1F",           /* two-byte tag cut */
	"1F81 00",      /* three-byte tag: not used by the profile */
	"8080",         /* indefinite length */
	"8084 00000001 AA",  /* four length bytes */
	"8081",         /* 81 without its byte */
	"808200",       /* 82 with one byte */
	"8083000100",   /* 83 form, 256 bytes announced, none there */
};

static void test_tlv_malformed(void)
{
	uint8_t buf[16];
	const uint8_t *p;
	uk_tlv t;
	size_t i, n;

	for (i = 0; i < sizeof(bad_tlv) / sizeof(bad_tlv[0]); i++) {
		n = hex(bad_tlv[i], buf, sizeof(buf));
		p = buf;
		UK_CHECK_EQ(uk_tlv_next(&p, buf + n, &t), -1);
		UK_CHECK(p == buf);  /* nothing advanced */
		UK_CHECK_EQ(uk_tlv_find(buf, n, 0x80, &t), -1);
	}
}

static void test_tlv_write(void)
{
	static const size_t lens[] = { 0, 1, 127, 128, 255, 256, 65535, 65536, 70000 };
	static const size_t hdr[] = { 2, 2, 2, 3, 3, 4, 4, 5, 5 };
	const uint8_t *p;
	uk_buf b;
	uk_tlv t;
	size_t i;

	memset(big, 0xC3, sizeof(big));
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uk_buf_init(&b, 0, 0);
		UK_CHECK(uk_tlv_put(&b, 0x81, big, lens[i]) == 0);
		UK_CHECK_EQ(b.len, hdr[i] + lens[i]);
		p = b.data;
		UK_CHECK_EQ(uk_tlv_next(&p, b.data + b.len, &t), 1);
		UK_CHECK(t.tag == 0x81 && t.len == lens[i] && p == b.data + b.len);
		uk_buf_free(&b);
	}
	uk_buf_init(&b, 0, 0);
	UK_CHECK(uk_tlv_put(&b, 0x7F49, "\x04", 1) == 0);
	UK_CHECK_EQ(b.len, 4);
	UK_CHECK_MEM(b.data, "\x7F\x49\x01\x04", 4);
	UK_CHECK(uk_tlv_put_header(&b, 0x80, 0x1000000) == -1);  /* beyond the 83 form */
	UK_CHECK(b.failed);
	uk_buf_free(&b);
	uk_buf_init(&b, 3, 0);
	UK_CHECK(uk_tlv_put(&b, 0x80, "ab", 2) == -1);  /* past the buffer limit */
	uk_buf_free(&b);
}

/* ---- buffers, hex, compare ---- */

static void test_buf(void)
{
	uk_buf b;
	uint8_t *p;
	char h[9];
	uint8_t x[4];
	int i;

	uk_buf_init(&b, 8, 0);
	UK_CHECK(uk_buf_put_u32(&b, 0x01020304) == 0);
	UK_CHECK(uk_buf_put_u16(&b, 0x0506) == 0);
	UK_CHECK(uk_buf_put_u8(&b, 7) == 0);
	UK_CHECK(uk_buf_put(&b, "\x08", 1) == 0);
	UK_CHECK_EQ(b.len, 8);
	UK_CHECK_MEM(b.data, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	UK_CHECK_EQ(uk_get_u32(b.data), 0x01020304);
	UK_CHECK_EQ(uk_get_u16(b.data + 4), 0x0506);
	UK_CHECK(uk_buf_put_u8(&b, 9) == -1);  /* over max */
	UK_CHECK(b.failed && b.len == 8);
	UK_CHECK(uk_buf_put(&b, NULL, 0) == -1);  /* sticky */
	UK_CHECK(uk_buf_extend(&b, 0) == NULL);
	uk_buf_reset(&b);
	UK_CHECK(!b.failed && b.len == 0);
	UK_CHECK(uk_buf_extend(&b, (size_t)-1) == NULL);  /* size overflow */
	uk_buf_reset(&b);
	p = uk_buf_extend(&b, 8);
	UK_CHECK(p != NULL && b.len == 8);
	uk_buf_free(&b);
	UK_CHECK(b.data == NULL && b.len == 0);

	uk_buf_init(&b, 0, 1);  /* secret buffer, grown many times */
	UK_CHECK_EQ(b.max, UK_BUF_DEFAULT_MAX);
	for (i = 0; i < 1000; i++)
		UK_CHECK(uk_buf_put_u8(&b, (uint8_t)i) == 0);
	UK_CHECK(b.len == 1000 && b.data[999] == (uint8_t)999);
	uk_buf_free(&b);

	UK_CHECK_EQ(uk_hex_decode("0a:Bc 0D\nef", x, 4), 4);
	UK_CHECK_MEM(x, "\x0A\xBC\x0D\xEF", 4);
	uk_hex_encode(x, 4, h);
	UK_CHECK(strcmp(h, "0ABC0DEF") == 0);
	UK_CHECK_EQ(uk_hex_decode("0a0", x, 4), -1);     /* odd */
	UK_CHECK_EQ(uk_hex_decode("0g", x, 4), -1);      /* not hex */
	UK_CHECK_EQ(uk_hex_decode("0102030405", x, 4), -1);  /* too long */

	UK_CHECK(uk_ct_equal("abcd", "abcd", 4));
	UK_CHECK(!uk_ct_equal("abcd", "abce", 4));
	UK_CHECK(uk_ct_equal(NULL, NULL, 0));
	memcpy(x, "\xFF\xFF\xFF\xFF", 4);
	uk_wipe(x, 4);
	UK_CHECK_MEM(x, "\0\0\0\0", 4);
}

int main(void)
{
	test_apdu_cases();
	test_apdu_extended_max();
	test_apdu_encode();
	test_tlv_read();
	test_tlv_malformed();
	test_tlv_write();
	test_buf();
	return uk_test_done("common_codecs");
}
