/* token_card: every instruction of docs/apdu.md profile 1, success and error status words,
 * in process against libukey-token. */
#include <string.h>

#include "uk_tlv.h"
#include "token_util.h"

static ukt_host h;

static void test_atr(ukt_card *card)
{
	/* 3B 88 80 01 "ukey-emu" and TCK = XOR of T0..last historical byte = 5B (by hand) */
	static const uint8_t want[] = { 0x3B, 0x88, 0x80, 0x01, 0x75, 0x6B, 0x65, 0x79,
	                                0x2D, 0x65, 0x6D, 0x75, 0x5B };
	uint8_t atr[UKT_ATR_MAX];

	UK_CHECK_EQ(ukt_card_atr(card, atr), sizeof(want));
	UK_CHECK_MEM(atr, want, sizeof(want));
}

static void test_select(void)
{
	static const uint8_t fci[] = { 0x6F, 0x0D, 0x84, 0x06, 0xF0, 0x75, 0x6B, 0x65, 0x79, 0x01,
	                               0xA5, 0x03, 0x80, 0x01, 0x01 };

	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010000"), 0x6985);        /* not selected yet */
	UK_CHECK_EQ(ukt_host_hex(&h, "00A4040006F0756B657902"), 0x6A82);
	UK_CHECK_EQ(ukt_host_hex(&h, "00A4040C06F0756B657901"), 0x6A86);
	UK_CHECK_EQ(ukt_host_hex(&h, "00A40400"), 0x6700);
	UK_CHECK_EQ(ukt_host_hex(&h, "00A4040006F0756B65790105"), 0x6C0F); /* Le too small */
	UK_CHECK_EQ(ukt_host_hex(&h, "00A4040006F0756B657901"), 0x9000);
	UK_CHECK_EQ(h.rlen, sizeof(fci));
	UK_CHECK_MEM(h.resp, fci, sizeof(fci));
	UK_CHECK_EQ(ukt_host_hex(&h, "00A4040006F0756B65790100"), 0x9000);
}

static void check_tag(unsigned tag, const void *value, size_t len)
{
	uk_tlv t;

	UK_CHECK_EQ(uk_tlv_find(h.resp, h.rlen, tag, &t), 1);
	UK_CHECK_EQ(t.len, len);
	UK_CHECK_MEM(t.value, value, len);
}

static void test_get_data(void)
{
	static const uint8_t pin_status[] = { 0x0A, 0x0A, 0x02 }; /* 10 of 10, must change */
	static const uint8_t lens[] = { 8, 12 }, fw[] = { 0, 1 }, zone = 2;

	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010000"), 0x9000);
	check_tag(0x80, "88563141592653589793", 20);
	check_tag(0x81, "ukey", 4);
	check_tag(0x82, &zone, 1);
	check_tag(0x83, "ukey project", 12);
	check_tag(0x84, "ukey-emu", 8);
	check_tag(0x85, fw, 2);
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA0101"), 0x9000);
	check_tag(0x81, pin_status, 3);
	check_tag(0x82, pin_status, 3);
	check_tag(0x83, lens, 2);
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010200"), 0x9000);
	UK_CHECK_EQ(h.rlen, 0);                                          /* no container yet */
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA0104"), 0x6A88);          /* 03: data files */
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA0200"), 0x6A88);
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA01000100"), 0x6700);          /* data field */
	UK_CHECK_EQ(ukt_host_hex(&h, "04CA0100"), 0x6882);
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010005"), 0x6C4B);            /* 75 bytes of data */
}

static void test_general_authenticate(void)
{
	uint8_t bad[4 + 65];

	UK_CHECK_EQ(ukt_host_hex(&h, "0086000000"), 0x6700);
	UK_CHECK_EQ(ukt_host_hex(&h, "00860000037C0181"), 0x6A80);      /* wrong length in TLV */
	UK_CHECK_EQ(ukt_host_hex(&h, "00860000037C010000"), 0x6A80);
	/* a point that is not on the curve */
	memset(bad, 0x11, sizeof(bad));
	bad[0] = 0x7C;
	bad[1] = 0x43;
	bad[2] = 0x81;
	bad[3] = 0x41;
	bad[4] = 0x04;
	UK_CHECK_EQ(ukt_host_plain(&h, 0x00, 0x86, 0x00, 0x00, bad, sizeof(bad), 256), 0x6A80);
	UK_CHECK_EQ(ukt_host_plain(&h, 0x00, 0x86, 0x01, 0x00, bad, sizeof(bad), 256), 0x6A86);
	UK_CHECK_EQ(ukt_host_open_session(&h), 0x9000);
	UK_CHECK_EQ(h.rlen, 2 + 3 + 2 + 65);
}

static void test_verify(void)
{
	UK_CHECK_EQ(ukt_host_hex(&h, "00200081"), 0x63CA);              /* plain query */
	UK_CHECK_EQ(ukt_host_hex(&h, "00200082"), 0x63CA);
	UK_CHECK_EQ(ukt_host_hex(&h, "0020008108757365723132333400"), 0x6987);
	UK_CHECK_EQ(ukt_host_hex(&h, "00200081087573657231323334"), 0x6987);
	UK_CHECK_EQ(ukt_host_hex(&h, "00200081"), 0x63CA);              /* counter unchanged */
	UK_CHECK_EQ(ukt_host_hex(&h, "0020FF81"), 0x6987);              /* plain logout */
	UK_CHECK_EQ(ukt_host_hex(&h, "00200083"), 0x6A88);
	UK_CHECK_EQ(ukt_host_hex(&h, "00200181"), 0x6A86);
	/* secured query before verification: tries left */
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x20, 0x00, 0x81, NULL, 0, 1, UKT_HOST_NO_LE), 0x63CA);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user", 4), 0x6700);      /* too short */
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user12345678901", 15), 0x6700);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x20, 0x00, 0x81, NULL, 0, 1, UKT_HOST_NO_LE), 0x9000);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x20, 0x00, 0x82, NULL, 0, 1, UKT_HOST_NO_LE), 0x63CA);
	/* the plain query never reports verified */
	UK_CHECK_EQ(ukt_host_hex(&h, "00200081"), 0x63CA);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x82, "admin1234", 9), 0x9000);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x20, 0x00, 0x82, NULL, 0, 1, UKT_HOST_NO_LE), 0x9000);
	/* P1 = FF resets the SO PIN's verified state only */
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x20, 0xFF, 0x82, NULL, 0, 1, UKT_HOST_NO_LE), 0x9000);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x20, 0x00, 0x82, NULL, 0, 1, UKT_HOST_NO_LE), 0x63CA);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x20, 0x00, 0x81, NULL, 0, 1, UKT_HOST_NO_LE), 0x9000);
	/* an unencrypted empty payload is accepted too (it is MACed) */
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x20, 0x00, 0x81, NULL, 0, 0, UKT_HOST_NO_LE), 0x9000);
}

static void test_containers(void)
{
	char name[80];
	uk_tlv t, f;
	int i;

	UK_CHECK_EQ(ukt_host_hex(&h, "80E0000003810161"), 0x6987);      /* not secured */
	UK_CHECK_EQ(ukt_host_create_container(&h, "first"), 0x9000);
	UK_CHECK_EQ(h.rlen, 3);
	UK_CHECK_MEM(h.resp, "\x80\x01\x00", 3);
	UK_CHECK_EQ(ukt_host_create_container(&h, "first"), 0x6A89);
	UK_CHECK_EQ(ukt_host_create_container(&h, ""), 0x6A80);
	memset(name, 'n', 65);
	name[65] = '\0';
	UK_CHECK_EQ(ukt_host_create_container(&h, name), 0x6A80);
	name[64] = '\0';
	UK_CHECK_EQ(ukt_host_create_container(&h, name), 0x9000);       /* 64 bytes is fine */
	UK_CHECK_MEM(h.resp, "\x80\x01\x01", 3);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x80, 0xE0, 0x00, 0x00, (const uint8_t *)"\x82\x01a", 3,
	                             0, 256), 0x6A80);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x80, 0xE0, 0x00, 0x01, (const uint8_t *)"\x81\x01a", 3,
	                             0, 256), 0x6A86);
	for (i = 2; i < 16; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		UK_CHECK_EQ(ukt_host_create_container(&h, name), 0x9000);
		UK_CHECK_EQ(h.resp[2], i);
	}
	UK_CHECK_EQ(ukt_host_create_container(&h, "seventeen"), 0x6A84);
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010200"), 0x9000);
	UK_CHECK_EQ(uk_tlv_find(h.resp, h.rlen, 0xA0, &t), 1);
	UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x80, &f), 1);
	UK_CHECK_EQ(f.value[0], 0);
	UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x81, &f), 1);
	UK_CHECK_EQ(f.len, 5);
	UK_CHECK_MEM(f.value, "first", 5);
}

/* 1 when buf is a sequence of A0 templates, each exactly covered by its inner TLVs. */
static int containers_well_formed(const uint8_t *buf, size_t len)
{
	const uint8_t *p = buf, *q;
	uk_tlv t, in;
	int r, n = 0;

	while ((r = uk_tlv_next(&p, buf + len, &t)) == 1) {
		if (t.tag != 0xA0)
			return 0;
		q = t.value;
		while ((r = uk_tlv_next(&q, t.value + t.len, &in)) == 1)
			;
		if (r != 0 || q != t.value + t.len)
			return 0;
		n++;
	}
	return r == 0 && p == buf + len && n > 0;
}

static void test_generate_and_sign(void)
{
	uint8_t pub[65], pub2[65], e[32], sig[64], pl[34] = { 0x00, 0x01 };
	uk_tlv t, a, k;

	UK_CHECK_EQ(ukt_host_generate(&h, 0, 0x00, NULL), 0x6A80);      /* no such algorithm */
	UK_CHECK_EQ(ukt_host_generate(&h, 0, 0x04, NULL), 0x6A80);      /* (token_alg: 02, 03) */
	UK_CHECK_EQ(ukt_host_generate(&h, 0, 0x07, NULL), 0x6A80);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x46, 0x80, 0, (const uint8_t *)"\x80\x02\x01\x00",
	                             4, 0, 256), 0x6A80);
	UK_CHECK_EQ(ukt_host_generate(&h, 32, 0x01, NULL), 0x6A86);     /* beyond container 15 */
	UK_CHECK_EQ(ukt_host_hex(&h, "00468000038001010"), 0);          /* odd hex: not sent */
	UK_CHECK_EQ(ukt_host_hex(&h, "0046800003800101"), 0x6987);      /* generate needs SM */
	UK_CHECK_EQ(ukt_host_hex(&h, "0046810000"), 0x6A88);            /* no pair yet */
	UK_CHECK_EQ(ukt_host_generate(&h, 0, 0x01, pub), 0x9000);
	UK_CHECK_EQ(pub[0], 0x04);
	UK_CHECK_EQ(ukt_host_hex(&h, "0046810000"), 0x9000);
	UK_CHECK_EQ(uk_tlv_find(h.resp, h.rlen, 0x7F49, &t), 1);
	UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x86, &k), 1);
	UK_CHECK_MEM(k.value, pub, 65);
	UK_CHECK_EQ(ukt_host_hex(&h, "00468100010000"), 0x6700);        /* data field */
	UK_CHECK_EQ(ukt_host_hex(&h, "0046810100"), 0x6A88);            /* encryption pair */
	UK_CHECK_EQ(ukt_host_generate(&h, 1, 0x01, pub2), 0x9000);
	UK_CHECK(memcmp(pub, pub2, 65) != 0);
	/* GET DATA 02 now shows A4 and A5 in container 0; more than 256 bytes: a short Le
	 * gets the first 256 and 61xx (the rest by GET RESPONSE, token_xport checks the
	 * paging), an extended one gets it all at once */
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010200") & 0xFF00, 0x6100);
	UK_CHECK_EQ(h.rlen, 256);
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA0102000000"), 0x9000);
	UK_CHECK(h.rlen > 256);
	UK_CHECK_EQ(uk_tlv_find(h.resp, h.rlen, 0xA0, &t), 1);
	/* the answer is a sequence of A0 templates whose lengths add up exactly */
	UK_CHECK_EQ(containers_well_formed(h.resp, h.rlen), 1);
	UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0xA4, &a), 1);
	UK_CHECK(a.value + a.len <= t.value + t.len);
	UK_CHECK_EQ(uk_tlv_find(a.value, a.len, 0x80, &k), 1);
	UK_CHECK_EQ(uk_tlv_find(a.value, a.len, 0x7F49, &k), 1);
	UK_CHECK(k.value + k.len == a.value + a.len);
	UK_CHECK_EQ(uk_tlv_find(a.value, a.len, 0x7F49, &k), 1);
	UK_CHECK_EQ(uk_tlv_find(k.value, k.len, 0x86, &k), 1);
	UK_CHECK_MEM(k.value, pub, 65);
	UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0xA5, &a), 1);

	memset(e, 0xAB, sizeof(e));
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e, sig), 0x9000);
	UK_CHECK_EQ(ukt_host_sign(&h, 4, e, sig), 0x6A88);              /* container 2, no key */
	UK_CHECK_EQ(ukt_host_sign(&h, 40, e, sig), 0x6A88);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x2A, 0x9E, 0x9A, (const uint8_t *)"\x00\x01\x00",
	                             3, 0, 256), 0x6700);               /* e of 1 byte */
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x2A, 0x9E, 0x9A, (const uint8_t *)"\x00", 1, 0, 256),
	            0x6700);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x2A, 0x9E, 0x9A, (const uint8_t *)"\x00\x02\x00", 3,
	                             0, 256), 0x6A80);                  /* unknown mechanism */
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x2A, 0x9E, 0x9B, e, 32, 0, 256), 0x6A86);
	UK_CHECK_EQ(ukt_host_plain(&h, 0x00, 0x2A, 0x9E, 0x9A, e, 32, 256), 0x6987);
	/* Le below the key's signature length: 6Cxx before signing (docs/apdu.md PSO) */
	memcpy(pl + 2, e, 32);
	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x2A, 0x9E, 0x9A, pl, sizeof(pl), 0, 0x10), 0x6C40);
}

static void test_logout_blocks_keys(void)
{
	uint8_t e[32] = { 1 };

	UK_CHECK_EQ(ukt_host_secured(&h, 0x00, 0x20, 0xFF, 0x81, NULL, 0, 1, UKT_HOST_NO_LE), 0x9000);
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e, NULL), 0x6982);
	UK_CHECK_EQ(ukt_host_generate(&h, 0, 0x01, NULL), 0x6982);
	UK_CHECK_EQ(ukt_host_create_container(&h, "x"), 0x6982);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e, NULL), 0x9000);
}

/* A PIN verified in session A authorises A only; a ninth session evicts the LRU one. */
static void test_sessions(ukt_card *card)
{
	static ukt_host b, c;
	uint8_t e[32] = { 2 };
	int i;

	ukt_host_init_card(&b, card);
	UK_CHECK_EQ(ukt_host_open_session(&b), 0x9000);
	UK_CHECK(b.sm.sid != h.sm.sid);
	UK_CHECK_EQ(ukt_host_sign(&b, 0, e, NULL), 0x6982);
	UK_CHECK_EQ(ukt_host_secured(&b, 0x00, 0x20, 0x00, 0x81, NULL, 0, 1, UKT_HOST_NO_LE), 0x63CA);
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e, NULL), 0x9000);
	/* h is now the most recently used; open 7 more: b (LRU) is evicted by the ninth */
	ukt_host_init_card(&c, card);
	for (i = 0; i < 7; i++)
		UK_CHECK_EQ(ukt_host_open_session(&c), 0x9000);
	UK_CHECK_EQ(ukt_host_secured(&b, 0x00, 0x20, 0x00, 0x81, NULL, 0, 1, UKT_HOST_NO_LE), 0x6988);
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e, NULL), 0x9000);
	/* power off/reset drop every session and the selection */
	UK_CHECK_EQ(ukt_card_power(card, UKT_POWER_RESET), 0);
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e, NULL), 0x6985);
	UK_CHECK_EQ(ukt_host_select(&h), 0x9000);
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e, NULL), 0x6988);
	UK_CHECK_EQ(ukt_card_power(card, UKT_POWER_OFF), 0);
	UK_CHECK_EQ(ukt_host_select(&h), 0x6985);                        /* powered off */
	UK_CHECK_EQ(ukt_card_power(card, UKT_POWER_ON), 0);
	UK_CHECK_EQ(ukt_host_hex(&h, "00CA010000"), 0x6985);
	UK_CHECK_EQ(ukt_card_power(card, 7), -1);
}

static void test_class_and_ins(void)
{
	UK_CHECK_EQ(ukt_host_hex(&h, "00A4040006F0756B657901"), 0x9000);
	UK_CHECK_EQ(ukt_host_hex(&h, "00FE0000"), 0x6D00);
	UK_CHECK_EQ(ukt_host_hex(&h, "40CA0100"), 0x6E00);
	UK_CHECK_EQ(ukt_host_hex(&h, "FFCA0100"), 0x6E00);
	UK_CHECK_EQ(ukt_host_hex(&h, "80CA0100"), 0x6E00);              /* GET DATA is not 80 */
	UK_CHECK_EQ(ukt_host_hex(&h, "08CA0100"), 0x6E00);
	UK_CHECK_EQ(ukt_host_hex(&h, "01CA0100"), 0x6881);
	UK_CHECK_EQ(ukt_host_hex(&h, "10CA0100"), 0x6884);
	UK_CHECK_EQ(ukt_host_hex(&h, "00E00000"), 0x6E00);              /* CREATE is 80/84 */
}

int main(void)
{
	char *dir = tu_tmpdir();
	ukt_card *card = ukt_card_open(dir, NULL);

	UK_CHECK(card != NULL);
	UK_CHECK_EQ(strlen(ukt_card_serial(card)), 20);
	ukt_host_init_card(&h, card);
	test_atr(card);
	test_select();
	test_get_data();
	test_general_authenticate();
	test_verify();
	test_containers();
	test_generate_and_sign();
	test_logout_blocks_keys();
	test_sessions(card);
	test_class_and_ins();
	ukt_card_close(card);
	tu_rmdir(dir);
	free(dir);
	return uk_test_done("token_card");
}
