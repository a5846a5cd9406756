/* ISO/IEC 7816-4 command APDU conformance (docs/apdu.md "Transport", "General status words",
 * "Secure session"): malformed commands (wrong Lc/Le, truncated, trailing bytes, unknown CLA
 * or INS, oversized, wrong P1 P2, missing or broken secure messaging) get the documented
 * status word and change nothing: the state file is compared byte for byte where it is
 * reachable (in-process; PC/SC under the sandbox), and GET DATA 00/01/02 before and after in
 * both modes; the application stays selected and the secure session usable. Through PC/SC a
 * command no reader can carry (empty, under 4 bytes, over the link's 65,535-byte frame) may
 * instead be refused by the PC/SC layer, which is reported. */
#include <string.h>

#include "conf.h"
#include "conf_pcsc.h"
#include "uk_apdu.h"

enum { F_WIRE = 1, F_6C = 2 };

static const struct {
	const char *hex;
	uint16_t sw;
	int flags;
	const char *what;
} cases[] = {
	{ "", 0x6700, F_WIRE, "empty command" },
	{ "00CA01", 0x6700, F_WIRE, "truncated header" },
	{ "00A4040006F0756B6579", 0x6700, 0, "Lc 6, 4 data bytes" },
	{ "00A4040006F0756B657901000000", 0x6700, 0, "bytes after Le" },
	{ "00A40400000006F0756B6579", 0x6700, 0, "extended Lc 6, 4 data bytes" },
	{ "00CA01000000", 0x6700, 0, "truncated extended Le" },
	{ "00CA0100010000", 0x6700, 0, "GET DATA with a data field" },
	{ "00CA010005", 0x6C00, F_6C, "Le shorter than the answer (6Cxx)" },
	{ "00FE0000", 0x6D00, 0, "unknown INS" },
	{ "00C00000", 0x6985, 0, "GET RESPONSE, nothing pending" },
	{ "B0CA0100", 0x6E00, 0, "unknown CLA B0" },
	{ "FFCA0100", 0x6E00, 0, "CLA FF" },
	{ "08CA0100", 0x6E00, 0, "CLA bit 08" },
	{ "60CA0100", 0x6E00, 0, "CLA bits 60" },
	{ "01CA0100", 0x6881, 0, "logical channel 1" },
	{ "10CA0100", 0x6884, 0, "chaining bit" },
	{ "04A4040006F0756B657901", 0x6882, 0, "SM bit on SELECT" },
	{ "04CA0100", 0x6882, 0, "SM bit on GET DATA" },
	{ "00A4000006F0756B657901", 0x6A86, 0, "SELECT with P1 P2 00 00" },
	{ "00A4040006F0756B657902", 0x6A82, 0, "SELECT of another AID" },
	{ "00CA0200", 0x6A88, 0, "GET DATA P1 02" },
	{ "00CA0104", 0x6A88, 0, "GET DATA P2 04" },
	{ "00200083", 0x6A88, 0, "VERIFY P2 83" },
	{ "00200081087A71397838773776", 0x6987, 0, "plain VERIFY with a PIN" },
	{ "80E00000048102616100", 0x6987, 0, "plain CREATE CONTAINER" },
	{ "0046800003800101", 0x6987, 0, "plain GENERATE" },
	{ "002A9E9A220001000000000000000000000000000000000000000000000000000000000000000000",
	  0x6987, 0, "plain PSO" },
	{ "0046810300", 0x6A88, 0, "read public key of an absent pair" },
	{ "00860000027C0000", 0x6A80, 0, "GENERAL AUTHENTICATE, empty template" },
};

static void run_table(conf_ctx *c)
{
	size_t i;
	uint16_t sw;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sw = ukt_host_hex(&c->h, cases[i].hex);
		if (sw == 0 && c->pcsc && (cases[i].flags & F_WIRE)) {
			conf_say(c, "%-40s refused by PC/SC before the card (0x%08lX)",
			         cases[i].what, (unsigned long)conf_pcsc_last_error(c->pc));
			continue;
		}
		if (sw != cases[i].sw && !((cases[i].flags & F_6C) && (sw & 0xFF00) == cases[i].sw))
			fprintf(stderr, "%s: %s: SW %04X, expected %04X\n", c->name, cases[i].hex,
			        sw, cases[i].sw);
		UK_CHECK_EQ((cases[i].flags & F_6C) ? (sw & 0xFF00) : sw, cases[i].sw);
		conf_say(c, "%-40s %04X", cases[i].what, sw);
	}
}

/* Point 04 || 01..01 is not on the curve: 6A80 (docs/apdu.md GENERAL AUTHENTICATE). */
static void run_bad_point(conf_ctx *c)
{
	uint8_t data[4 + 65];

	data[0] = 0x7C;
	data[1] = 0x43;
	data[2] = 0x81;
	data[3] = 0x41;
	data[4] = 0x04;
	memset(data + 5, 0x01, 64);
	UK_CHECK_EQ(ukt_host_plain(&c->h, 0x00, 0x86, 0x00, 0x00, data, sizeof(data), 256),
	            0x6A80);
	conf_say(c, "%-40s 6A80", "GENERAL AUTHENTICATE, point off curve");
}

static void run_oversized(conf_ctx *c)
{
	static uint8_t big[UK_APDU_MAX_RAW + 10];
	uint16_t sw;

	memset(big, 0x41, sizeof(big));
	memcpy(big, "\x00\xCA\x01\x00\x00\x01\x2C", 7);         /* extended Lc 300 */
	UK_CHECK_EQ(ukt_host_raw(&c->h, big, 7 + 300), 0x6700);
	conf_say(c, "%-40s 6700", "GET DATA with 300 data bytes (extended)");
	memcpy(big, "\x00\xA4\x04\x00\x00\xFF\xFF", 7);         /* Lc 65535, then 13 extra */
	sw = ukt_host_raw(&c->h, big, sizeof(big));
	if (sw == 0 && c->pcsc) {
		conf_say(c, "%-40s refused by PC/SC before the card (0x%08lX)",
		         "oversized (65,554 bytes)", (unsigned long)conf_pcsc_last_error(c->pc));
		return;
	}
	UK_CHECK_EQ(sw, 0x6700);
	conf_say(c, "%-40s 6700", "oversized (65,554 bytes, no ISO case)");
}

static void run_secured(conf_ctx *c)
{
	static const uint8_t name[] = { 0x81, 0x01, 'x' };
	static const uint8_t e[32] = { 0 };
	uint8_t pay[34];
	uk_buf a;

	uk_buf_init(&a, 0, 0);
	UK_CHECK_EQ(ukt_host_hex(&c->h, "84E00000140102030405060708090A0B0C0D0E0F1011121314"),
	            0x6700);
	conf_say(c, "%-40s 6700", "secured data shorter than 21 bytes");
	UK_CHECK(ukt_host_build_secured(&c->h, 0x80, 0xE0, 0, 0, name, 3, 0, 256, &a) == 0);
	a.data[5] ^= 0x5A;                                      /* SID */
	UK_CHECK_EQ(ukt_host_raw(&c->h, a.data, a.len), 0x6988);
	a.data[5] ^= 0x5A;
	a.data[a.len - 2] ^= 1;                                 /* last MAC byte (Le follows) */
	UK_CHECK_EQ(ukt_host_raw(&c->h, a.data, a.len), 0x6988);
	a.data[a.len - 2] ^= 1;
	a.data[2] = 0x02;                                       /* P1 (01 is CREATE FILE) */
	UK_CHECK_EQ(ukt_host_raw(&c->h, a.data, a.len), 0x6A86);
	conf_say(c, "%-40s 6988 / 6988 / 6A86", "secured: unknown SID, bad MAC, wrong P1");
	/* an accepted command (no key there: 6A88) replayed verbatim */
	pay[0] = 0x00;
	pay[1] = 0x01;
	memcpy(pay + 2, e, 32);
	uk_buf_reset(&a);
	UK_CHECK(ukt_host_build_secured(&c->h, 0x00, 0x2A, 0x9E, 0x9A, pay, sizeof(pay), 0, 256,
	                                &a) == 0);
	UK_CHECK_EQ(ukt_host_raw(&c->h, a.data, a.len), 0x6A88);
	UK_CHECK_EQ(ukt_host_raw(&c->h, a.data, a.len), 0x6988);
	conf_say(c, "%-40s 6A88 then 6988", "secured PSO replayed");
	uk_buf_reset(&a);
	UK_CHECK_EQ(ukt_host_secured(&c->h, 0x80, 0xE0, 0, 0, name, 0, 0, 256), 0x6A80);
	conf_say(c, "%-40s 6A80", "secured CREATE CONTAINER, no name");
	uk_buf_free(&a);
}

int main(int argc, char **argv)
{
	static const char name[] = "conformance_ISO7816-4_malformed";
	static conf_ctx c;
	uk_buf before, after, st0, st1;
	int r, have_state;

	r = conf_open(&c, name, argc, argv, NULL);
	if (r != 0)
		return r;
	uk_buf_init(&before, 0, 0);
	uk_buf_init(&after, 0, 0);
	uk_buf_init(&st0, 0, 1);
	uk_buf_init(&st1, 0, 1);
	conf_reset(&c, 0);
	UK_CHECK_EQ(ukt_host_hex(&c.h, "00CA010000"), 0x6985);
	conf_say(&c, "%-40s 6985", "GET DATA before SELECT");
	conf_start(&c, 1);
	conf_get_all(&c, &before);
	have_state = conf_state_read(&c, &st0) == 0;
	UK_CHECK(have_state || c.pcsc);
	run_table(&c);
	run_bad_point(&c);
	run_oversized(&c);
	run_secured(&c);
	/* still selected, still logged in: the secure session works */
	UK_CHECK_EQ(ukt_host_sign(&c.h, 0, (const uint8_t[32]){ 0 }, NULL), 0x6A88);
	conf_get_all(&c, &after);
	UK_CHECK_EQ(after.len, before.len);
	UK_CHECK_MEM(after.data, before.data, before.len);
	conf_say(&c, "GET DATA 00/01/02 identical before and after (%zu bytes)", before.len);
	if (have_state) {
		UK_CHECK_EQ(conf_state_read(&c, &st1), 0);
		UK_CHECK_EQ(st1.len, st0.len);
		UK_CHECK_MEM(st1.data, st0.data, st0.len);
		conf_say(&c, "state file identical byte for byte (%zu bytes)", st0.len);
	} else {
		conf_say(&c, "state file not reachable: compared through GET DATA only");
	}
	uk_buf_free(&before);
	uk_buf_free(&after);
	uk_buf_free(&st0);
	uk_buf_free(&st1);
	conf_close(&c);
	return uk_test_done(name);
}
