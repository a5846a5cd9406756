/* ISO/IEC 7816-4 transmission conformance (docs/apdu.md "Transport"): command chaining
 * (§5.1.1.1, CLA b5) and response paging with GET RESPONSE (§5.1.3 61xx, §7.6.1), in
 * process and through PC/SC (pcscd + ifd + ukey-emu), where every part is a real
 * SCardTransmit:
 *  - a secured PSO COMPUTE DIGITAL SIGNATURE sent in two parts and byte by byte signs, and
 *    the signature verifies with OpenSSL over the message (ID "1234567812345678");
 *  - a secured command of 1,040 bytes in short APDUs (255-byte parts) is reassembled: its
 *    MAC checks over the whole data field (6A80 from the handler, then 6988 on replay);
 *  - a chained plain SELECT; 6883 for a part with another P1 P2; another command in the
 *    middle is answered on its own and drops the chain; chaining GET DATA is 6884;
 *  - GET DATA 02 longer than 256 bytes with a short Le: 256 bytes and 61xx, the rest by
 *    GET RESPONSE (Le 00, then Le 40), identical to the extended-Le answer; another command
 *    drops the pending answer (GET RESPONSE then 6985);
 *  - refused and non-final parts change nothing (GET DATA 00/01/02 and, where reachable,
 *    the state file byte for byte). */
#include <string.h>

#include "conf.h"
#include "uk_apdu.h"

/* Send data in parts of at most step bytes: CLA | 10 and no Le but on the last part. */
static uint16_t send_chained(conf_ctx *c, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                             const uint8_t *data, size_t n, size_t step, long le)
{
	size_t off = 0, k;
	uint16_t sw;

	while (n - off > step) {
		k = step;
		sw = ukt_host_plain(&c->h, cla | 0x10, ins, p1, p2, data + off, k, UKT_HOST_NO_LE);
		UK_CHECK_EQ(sw, 0x9000);
		UK_CHECK_EQ(c->h.rlen, 0);
		off += k;
	}
	return ukt_host_plain(&c->h, cla, ins, p1, p2, data + off, n - off, le);
}

/* The data field of a secured command (the host's counter advances). */
static void secured_field(conf_ctx *c, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                          const uint8_t *pay, size_t n, uk_buf *field)
{
	uk_buf raw;
	uk_apdu a;

	uk_buf_init(&raw, 0, 0);
	uk_buf_reset(field);
	UK_CHECK(ukt_host_build_secured(&c->h, cla, ins, p1, p2, pay, n, 0, 256, &raw) == 0);
	UK_CHECK_EQ(uk_apdu_parse(raw.data, raw.len, &a), 0x9000);
	UK_CHECK(uk_buf_put(field, a.data, a.lc) == 0);
	uk_buf_free(&raw);
}

static void run_chained_sign(conf_ctx *c, uint8_t kr, const uint8_t pub[65])
{
	static const char msg[] = "ISO 7816-4 command chaining";
	uint8_t pay[34];
	uk_buf f;

	uk_buf_init(&f, 0, 0);
	pay[0] = kr;
	pay[1] = 0x01;
	conf_sm2_e(pub, msg, sizeof(msg) - 1, pay + 2);
	secured_field(c, 0x04, 0x2A, 0x9E, 0x9A, pay, sizeof(pay), &f);
	UK_CHECK_EQ(send_chained(c, 0x04, 0x2A, 0x9E, 0x9A, f.data, f.len, f.len / 2, 256),
	            0x9000);
	UK_CHECK_EQ(c->h.rlen, 64);
	UK_CHECK(conf_sm2_verify_msg(pub, msg, sizeof(msg) - 1, c->h.resp));
	conf_say(c, "%-44s 9000, signature verifies", "secured PSO in 2 parts");
	secured_field(c, 0x04, 0x2A, 0x9E, 0x9A, pay, sizeof(pay), &f);
	UK_CHECK_EQ(send_chained(c, 0x04, 0x2A, 0x9E, 0x9A, f.data, f.len, 1, 256), 0x9000);
	UK_CHECK(conf_sm2_verify_msg(pub, msg, sizeof(msg) - 1, c->h.resp));
	conf_say(c, "%-44s 9000, signature verifies", "secured PSO byte by byte (55 parts)");
	uk_buf_free(&f);
}

/* 1,040 bytes of secured data in 255-byte parts: the handler refuses mechanism 02 (6A80),
 * which it only sees once the MAC over all of it has checked; the replay is 6988. */
static void run_long_chain(conf_ctx *c, uint8_t kr)
{
	uint8_t pay[1019];
	uk_buf f;

	memset(pay, 0xA5, sizeof(pay));
	pay[0] = kr;
	pay[1] = 0x02;
	uk_buf_init(&f, 0, 0);
	secured_field(c, 0x04, 0x2A, 0x9E, 0x9A, pay, sizeof(pay), &f);
	UK_CHECK_EQ(f.len, 1040);
	UK_CHECK_EQ(send_chained(c, 0x04, 0x2A, 0x9E, 0x9A, f.data, f.len, 255, 256), 0x6A80);
	UK_CHECK_EQ(send_chained(c, 0x04, 0x2A, 0x9E, 0x9A, f.data, f.len, 255, 256), 0x6988);
	conf_say(c, "%-44s 6A80 (MAC checked), replay 6988", "1,040 secured bytes in 5 short parts");
	uk_buf_free(&f);
}

static void run_chain_errors(conf_ctx *c, const uint8_t pub[65], uint8_t kr)
{
	static const char msg[] = "interleaved";
	uint8_t pay[34];
	uk_buf f;

	UK_CHECK_EQ(ukt_host_hex(&c->h, "10A4040003F0756B"), 0x9000);
	UK_CHECK_EQ(ukt_host_hex(&c->h, "00A4040003657901"), 0x9000);
	UK_CHECK_EQ(c->h.resp[0], 0x6F);
	conf_say(c, "%-44s 9000 9000", "plain SELECT in 2 parts");
	UK_CHECK_EQ(ukt_host_hex(&c->h, "10CA0100"), 0x6884);
	conf_say(c, "%-44s 6884", "chained GET DATA (no data field)");
	uk_buf_init(&f, 0, 0);
	pay[0] = kr;
	pay[1] = 0x01;
	conf_sm2_e(pub, msg, sizeof(msg) - 1, pay + 2);
	secured_field(c, 0x04, 0x2A, 0x9E, 0x9A, pay, sizeof(pay), &f);
	UK_CHECK_EQ(ukt_host_plain(&c->h, 0x14, 0x2A, 0x9E, 0x9A, f.data, 20, UKT_HOST_NO_LE),
	            0x9000);
	UK_CHECK_EQ(ukt_host_plain(&c->h, 0x04, 0x2A, 0x9E, 0x9B, f.data + 20, f.len - 20, 256),
	            0x6883);
	UK_CHECK_EQ(ukt_host_plain(&c->h, 0x04, 0x2A, 0x9E, 0x9A, f.data + 20, f.len - 20, 256),
	            0x6988);
	conf_say(c, "%-44s 6883, then the last part alone 6988", "last part with P2 9B");
	UK_CHECK_EQ(ukt_host_plain(&c->h, 0x14, 0x2A, 0x9E, 0x9A, f.data, 20, UKT_HOST_NO_LE),
	            0x9000);
	UK_CHECK_EQ(ukt_host_hex(&c->h, "00CA010100"), 0x9000);
	UK_CHECK_EQ(ukt_host_plain(&c->h, 0x04, 0x2A, 0x9E, 0x9A, f.data + 20, f.len - 20, 256),
	            0x6988);
	conf_say(c, "%-44s 9000, then the last part alone 6988", "GET DATA in the middle");
	/* the counter of the command that never ran is unused: the whole chain signs */
	UK_CHECK_EQ(send_chained(c, 0x04, 0x2A, 0x9E, 0x9A, f.data, f.len, 20, 256), 0x9000);
	UK_CHECK(conf_sm2_verify_msg(pub, msg, sizeof(msg) - 1, c->h.resp));
	conf_say(c, "%-44s 9000, signature verifies", "the same command chained again");
	uk_buf_free(&f);
}

static void run_get_response(conf_ctx *c)
{
	static uint8_t got[65536];
	uk_buf whole;
	size_t len;
	uint16_t sw;
	unsigned pieces = 1;

	uk_buf_init(&whole, 0, 0);
	UK_CHECK_EQ(conf_get_data(c, 0x02, &whole), 0x9000);
	UK_CHECK(whole.len > 512);       /* at least one GET RESPONSE with each Le */
	sw = ukt_host_hex(&c->h, "00CA010200");
	UK_CHECK_EQ(c->h.rlen, 256);
	memcpy(got, c->h.resp, 256);
	len = 256;
	while ((sw & 0xFF00) == 0x6100) {
		UK_CHECK_EQ(sw & 0xFF, whole.len - len >= 256 ? 0 : whole.len - len);
		/* Le 00 for the first GET RESPONSE, then Le 40 */
		sw = ukt_host_hex(&c->h, pieces == 1 ? "00C0000000" : "00C0000040");
		UK_CHECK(c->h.rlen <= (pieces == 1 ? 256u : 0x40u) && len + c->h.rlen <= whole.len);
		memcpy(got + len, c->h.resp, c->h.rlen);
		len += c->h.rlen;
		pieces++;
	}
	UK_CHECK_EQ(sw, 0x9000);
	UK_CHECK_EQ(len, whole.len);
	UK_CHECK_MEM(got, whole.data, len);
	conf_say(c, "GET DATA 02, short Le: %u pieces through 61xx + GET RESPONSE = the "
	         "extended-Le answer (%zu bytes)", pieces, len);
	UK_CHECK_EQ(ukt_host_hex(&c->h, "00C0000000"), 0x6985);
	UK_CHECK_EQ(ukt_host_hex(&c->h, "00CA010200") & 0xFF00, 0x6100);
	UK_CHECK_EQ(ukt_host_hex(&c->h, "00CA010000"), 0x9000);
	UK_CHECK_EQ(ukt_host_hex(&c->h, "00C0000000"), 0x6985);
	conf_say(c, "%-44s 6985", "GET RESPONSE after another command");
	uk_buf_free(&whole);
}

/* Parts of a GENERATE that never completes change nothing. */
static void run_no_change(conf_ctx *c, uint8_t kr)
{
	static const uint8_t gen[] = { 0x80, 0x01, 0x01 };
	uk_buf before, after, st0, st1, f;
	int have_state;

	uk_buf_init(&before, 0, 0);
	uk_buf_init(&after, 0, 0);
	uk_buf_init(&st0, 0, 1);
	uk_buf_init(&st1, 0, 1);
	uk_buf_init(&f, 0, 0);
	conf_get_all(c, &before);
	have_state = conf_state_read(c, &st0) == 0;
	secured_field(c, 0x04, 0x46, 0x80, kr, gen, sizeof(gen), &f);
	UK_CHECK_EQ(ukt_host_plain(&c->h, 0x14, 0x46, 0x80, kr, f.data, f.len - 1, UKT_HOST_NO_LE),
	            0x9000);
	UK_CHECK_EQ(ukt_host_plain(&c->h, 0x04, 0x46, 0x81, kr, f.data + f.len - 1, 1, 256),
	            0x6883);
	UK_CHECK_EQ(ukt_host_plain(&c->h, 0x10, 0x2A, 0x9E, 0x9A, f.data, 4, UKT_HOST_NO_LE),
	            0x6987);
	conf_get_all(c, &after);
	UK_CHECK_EQ(after.len, before.len);
	UK_CHECK_MEM(after.data, before.data, before.len);
	if (have_state) {
		UK_CHECK_EQ(conf_state_read(c, &st1), 0);
		UK_CHECK_EQ(st1.len, st0.len);
		UK_CHECK_MEM(st1.data, st0.data, st0.len);
	}
	conf_say(c, "refused and unfinished chains: GET DATA 00/01/02 identical%s",
	         have_state ? ", state file identical byte for byte" : "");
	uk_buf_free(&before);
	uk_buf_free(&after);
	uk_buf_free(&st0);
	uk_buf_free(&st1);
	uk_buf_free(&f);
}

int main(int argc, char **argv)
{
	static const char name[] = "conformance_ISO7816-4_chaining";
	static conf_ctx c;
	uint8_t pub[65], other[65], idx;
	int r, i;

	r = conf_open(&c, name, argc, argv, NULL);
	if (r != 0)
		return r;
	conf_start(&c, 1);
	idx = conf_create_container(&c, "chaining");
	conf_generate(&c, (uint8_t)(idx * 2), pub);
	run_chained_sign(&c, (uint8_t)(idx * 2), pub);
	run_long_chain(&c, (uint8_t)(idx * 2));
	run_chain_errors(&c, pub, (uint8_t)(idx * 2));
	/* enough containers for GET DATA 02 to pass 512 bytes */
	for (i = 0; i < 3; i++) {
		char cname[16];
		uint8_t k;

		snprintf(cname, sizeof(cname), "paging-%d", i);
		k = conf_create_container(&c, cname);
		conf_generate(&c, (uint8_t)(k * 2), other);
		conf_generate(&c, (uint8_t)(k * 2 + 1), other);
	}
	run_get_response(&c);
	run_no_change(&c, (uint8_t)(idx * 2));
	conf_close(&c);
	return uk_test_done(name);
}
