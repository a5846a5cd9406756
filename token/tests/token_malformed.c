/* token_malformed: malformed and refused APDUs get the status word of docs/apdu.md and
 * change nothing (the state file is compared byte for byte); replays are refused. */
#include <string.h>

#include "uk_apdu.h"
#include "token_util.h"

static ukt_host h;

static const struct {
	const char *hex;
	uint16_t sw;
} plain_cases[] = {
	{ "", 0x6700 },                                 /* no header */
	{ "00A404", 0x6700 },                           /* truncated header */
	{ "00A4040006F0756B6579", 0x6700 },             /* Lc 6, 4 bytes */
	{ "00A4040006F0756B657901000000", 0x6700 },     /* trailing bytes */
	{ "00A40400000006F0756B6579", 0x6700 },         /* extended Lc 6, 4 bytes */
	{ "00A404000000", 0x6700 },                     /* case 2E SELECT: no AID */
	{ "00CA0100000000", 0x9000 },                   /* case 2E GET DATA */
	{ "00CA01000000", 0x6700 },                     /* truncated extended Le */
	{ "00CA0100000000000000", 0x6700 },             /* extended Lc = 0 */
	{ "00CA0100", 0x9000 },
	{ "00CA010005", 0x6C4B },                       /* Le too small (75 bytes) */
	{ "00FE0000", 0x6D00 },
	{ "B0CA0100", 0x6E00 },
	{ "03CA0100", 0x6881 },
	{ "10CA0100", 0x6884 },
	{ "0020008108757365723132333400", 0x6987 },     /* plain VERIFY with data: no try used */
	{ "80E000000481026161", 0x6987 },
	{ "002A9E9A0100", 0x6987 },
	{ "04A4040006F0756B657901", 0x6882 },
	{ "0086000000", 0x6700 },
	{ "00860000027C00", 0x6A80 },
	{ "0046800000", 0x6987 },
	{ "0046810300", 0x6A88 },
	{ "00468120", 0x6A86 },
	{ "00460000", 0x6A86 },
};

static void run_plain_cases(void)
{
	size_t i;

	for (i = 0; i < sizeof(plain_cases) / sizeof(plain_cases[0]); i++) {
		uint16_t sw = ukt_host_hex(&h, plain_cases[i].hex);

		if (sw != plain_cases[i].sw)
			fprintf(stderr, "case %s: %04X\n", plain_cases[i].hex, sw);
		UK_CHECK_EQ(sw, plain_cases[i].sw);
	}
}

static void run_oversized(void)
{
	static uint8_t big[UK_APDU_MAX_RAW + 10];

	memset(big, 0x41, sizeof(big));
	big[0] = 0x00; big[1] = 0xA4; big[2] = 0x04; big[3] = 0x00;
	UK_CHECK_EQ(ukt_host_raw(&h, big, sizeof(big)), 0x6700);         /* fits no case */
	big[4] = 0x00; big[5] = 0xFF; big[6] = 0xFF;                      /* extended Lc 65535 */
	UK_CHECK_EQ(ukt_host_raw(&h, big, 7 + 65535), 0x6A82);           /* well-formed, no AID */
	/* a secured command with a 65 KB payload: a bad name, nothing created */
	UK_CHECK_EQ(ukt_host_secured(&h, 0x80, 0xE0, 0x00, 0x00, big + 7, 65000, 0, 256), 0x6A80);
}

static void run_secured_cases(void)
{
	uk_buf a;
	uint8_t saved[UK_APDU_MAX_RAW];
	size_t n;
	uint8_t e[32] = { 0 };

	uk_buf_init(&a, 0, 0);
	/* too short for SID || CTR || MAC */
	UK_CHECK_EQ(ukt_host_hex(&h, "84E00000140102030405060708090A0B0C0D0E0F1011121314"), 0x6700);
	/* unknown session */
	UK_CHECK(ukt_host_build_secured(&h, 0x80, 0xE0, 0, 0, (const uint8_t *)"\x81\x01x", 3, 0,
	                                256, &a) == 0);
	a.data[5] ^= 0x55;                                              /* SID byte */
	UK_CHECK_EQ(ukt_host_raw(&h, a.data, a.len), 0x6988);
	/* wrong MAC, and a header that is not the one MACed */
	uk_buf_reset(&a);
	UK_CHECK(ukt_host_build_secured(&h, 0x80, 0xE0, 0, 0, (const uint8_t *)"\x81\x01x", 3, 0,
	                                256, &a) == 0);
	memcpy(saved, a.data, a.len);
	n = a.len;
	a.data[a.len - 2] ^= 1;
	UK_CHECK_EQ(ukt_host_raw(&h, a.data, a.len), 0x6988);
	saved[2] = 0x02;                                                /* P1 (01: CREATE FILE) */
	UK_CHECK_EQ(ukt_host_raw(&h, saved, n), 0x6A86);               /* P1 P2 checked first */
	saved[2] = 0x00;
	saved[1] = 0xE0;
	saved[8] ^= 1;                                                  /* payload byte */
	UK_CHECK_EQ(ukt_host_raw(&h, saved, n), 0x6988);
	/* a PIN with bad padding inside a good MAC cannot be produced by the host helper;
	 * an encrypted VERIFY sent as plain-payload is refused by its padding or MAC */
	uk_buf_reset(&a);
	UK_CHECK(ukt_host_build_secured(&h, 0x00, 0x20, 0, 0x81, (const uint8_t *)"wrong123", 8, 0,
	                                UKT_HOST_NO_LE, &a) == 0);
	UK_CHECK_EQ(ukt_host_raw(&h, a.data, a.len), 0x6988);          /* not a block multiple */
	/* a replayed secured APDU: the signature command is accepted once only */
	uk_buf_reset(&a);
	UK_CHECK(ukt_host_build_secured(&h, 0x00, 0x2A, 0x9E, 0x9A,
	                                (const uint8_t *)"\x00\x01" "0123456789abcdef0123456789abcdef",
	                                34, 0, 256, &a) == 0);
	UK_CHECK_EQ(ukt_host_raw(&h, a.data, a.len), 0x6A88);          /* no key, but accepted */
	UK_CHECK_EQ(ukt_host_raw(&h, a.data, a.len), 0x6988);          /* replay */
	UK_CHECK_EQ(ukt_host_sign(&h, 0, e, NULL), 0x6A88);              /* session still fine */
	uk_buf_free(&a);
}

int main(void)
{
	char *dir = tu_tmpdir();
	unsigned char *snap;
	size_t snaplen;
	ukt_card *card = tu_card_logged_in(dir, &h);
	uk_buf a;
	int i;

	/* the replay of a successful VERIFY with a wrong PIN would burn tries: refused */
	uk_buf_init(&a, 0, 0);
	UK_CHECK(ukt_host_build_secured(&h, 0x00, 0x20, 0x00, 0x82, (const uint8_t *)"wrong1234",
	                                9, 1, UKT_HOST_NO_LE, &a) == 0);
	UK_CHECK_EQ(ukt_host_raw(&h, a.data, a.len), 0x63C9);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x82, "admin1234", 9), 0x9000);

	snap = tu_state_bytes(dir, &snaplen);
	UK_CHECK_EQ(ukt_host_raw(&h, a.data, a.len), 0x6988);
	uk_buf_free(&a);
	for (i = 0; i < 2; i++) {               /* selected, and again after a reset */
		run_plain_cases();
		run_oversized();
		run_secured_cases();
		TU_CHECK_STATE_UNCHANGED(dir, snap, snaplen);
		UK_CHECK_EQ(ukt_card_power(card, UKT_POWER_RESET), 0);
		UK_CHECK_EQ(ukt_host_select(&h), 0x9000);
		UK_CHECK_EQ(ukt_host_open_session(&h), 0x9000);
		UK_CHECK_EQ(ukt_host_hex(&h, "00200081"), 0x63CA);
		UK_CHECK_EQ(ukt_host_verify(&h, 0x81, "user1234", 8), 0x9000);
	}
	TU_CHECK_STATE_UNCHANGED(dir, snap, snaplen);
	free(snap);
	ukt_card_close(card);
	tu_rmdir(dir);
	free(dir);
	return uk_test_done("token_malformed");
}
