/* SPEC S0-P2: the PIN is protected while it travels between the device and the interface.
 * docs/apdu.md: VERIFY carries the PIN only encrypted and MACed in a secure session; a plain
 * VERIFY with a data field is refused with 6987 and uses no try; a captured secured VERIFY
 * replayed is refused (6988); a PIN verified in one session authorises no other session.
 * Every APDU the host helper sends in a full run (session, VERIFY of both PINs, container,
 * key generation, signature) is captured through the transport callback and searched: no
 * command or response contains the PIN bytes. */
#include <string.h>

#include "conf.h"
#include "uk_apdu.h"

/* Plain VERIFY with the PIN in clear: refused, counter unchanged, not logged in. */
static void check_plain_refused(conf_ctx *c)
{
	conf_pin_status before, after;

	conf_pin_status_get(c, 0x81, &before);
	UK_CHECK_EQ(ukt_host_plain(&c->h, 0x00, 0x20, 0x00, 0x81, c->user_pin, c->user_pin_len,
	                           UKT_HOST_NO_LE), 0x6987);
	UK_CHECK_EQ(ukt_host_plain(&c->h, 0x00, 0x20, 0x00, 0x81, (const uint8_t *)"zq9x8w7v", 8,
	                           UKT_HOST_NO_LE), 0x6987);
	conf_pin_status_get(c, 0x81, &after);
	UK_CHECK_EQ(after.left, before.left);
	UK_CHECK_EQ(ukt_host_create_container(&c->h, "p2"), 0x6982);
	conf_say(c, "plain VERIFY with data (right and wrong PIN): 6987, tries %u -> %u, "
	         "not authenticated (CREATE CONTAINER 6982)", before.left, after.left);
}

/* A secured VERIFY captured and replayed is refused; two VERIFYs of the same PIN differ. */
static void check_replay(conf_ctx *c)
{
	uk_buf a, b;

	uk_buf_init(&a, 0, 1);
	uk_buf_init(&b, 0, 1);
	UK_CHECK(ukt_host_build_secured(&c->h, 0x00, 0x20, 0x00, 0x81, c->user_pin,
	                                c->user_pin_len, 1, UKT_HOST_NO_LE, &a) == 0);
	UK_CHECK(ukt_host_build_secured(&c->h, 0x00, 0x20, 0x00, 0x81, c->user_pin,
	                                c->user_pin_len, 1, UKT_HOST_NO_LE, &b) == 0);
	/* header(4) Lc(1) SID(1) CTR(4) | ciphertext | MAC(16) */
	UK_CHECK(a.len == b.len && a.len > 10 + 16);
	UK_CHECK(memcmp(a.data + 10, b.data + 10, a.len - 10 - 16) != 0);
	UK_CHECK_EQ(ukt_host_raw(&c->h, a.data, a.len), 0x9000);
	UK_CHECK_EQ(ukt_host_raw(&c->h, b.data, b.len), 0x9000);
	UK_CHECK_EQ(ukt_host_raw(&c->h, a.data, a.len), 0x6988);
	UK_CHECK_EQ(ukt_host_raw(&c->h, b.data, b.len), 0x6988);
	uk_buf_free(&a);
	uk_buf_free(&b);
	conf_say(c, "the same PIN gives two different VERIFY data fields; replays answer 6988");
}

/* The helper's whole run: nothing on the wire carries a PIN. */
static void helper_run(conf_ctx *c)
{
	uint8_t pub[65], e[32], sig[64];
	static const char msg[] = "S0-P2 message";

	conf_start(c, 1);
	UK_CHECK_EQ(ukt_host_verify(&c->h, 0x82, c->so_pin, c->so_pin_len), 0x9000);
	UK_CHECK_EQ(ukt_host_verify(&c->h, 0x81, (const uint8_t *)"zq9x8w7v", 8), 0x63C9);
	UK_CHECK_EQ(ukt_host_verify(&c->h, 0x81, c->user_pin, c->user_pin_len), 0x9000);
	conf_create_container(c, "p2");
	conf_generate(c, 0, pub);
	conf_sm2_e(pub, msg, sizeof(msg) - 1, e);
	UK_CHECK_EQ(ukt_host_sign(&c->h, 0, e, sig), 0x9000);
	UK_CHECK(conf_sm2_verify_msg(pub, msg, sizeof(msg) - 1, sig));
	check_replay(c);
}

/* Another client with its own session does not inherit the login. */
static void check_other_session(conf_ctx *c)
{
	static ukt_host other;
	static const uint8_t e[32] = { 1 };

	conf_host_init(c, &other);
	UK_CHECK_EQ(ukt_host_open_session(&other), 0x9000);
	UK_CHECK_EQ(ukt_host_sign(&other, 0, e, NULL), 0x6982);
	UK_CHECK_EQ(ukt_host_create_container(&other, "other"), 0x6982);
	UK_CHECK_EQ(ukt_host_sign(&c->h, 0, e, NULL), 0x9000);
	conf_say(c, "a second session on the same card is not logged in (6982); the first is");
}

int main(int argc, char **argv)
{
	static const char name[] = "conformance_S0-P2_pin_transit";
	static conf_ctx c;
	int r;

	r = conf_open(&c, name, argc, argv, NULL);
	if (r != 0)
		return r;
	conf_start(&c, 0);
	check_plain_refused(&c);
	/* from here on, only the host helper talks: capture everything */
	conf_capture_reset(&c);
	helper_run(&c);
	check_other_session(&c);
	UK_CHECK(c.napdu >= 10);
	UK_CHECK(!conf_capture_has(&c, 0, c.user_pin, c.user_pin_len));
	UK_CHECK(!conf_capture_has(&c, 1, c.user_pin, c.user_pin_len));
	UK_CHECK(!conf_capture_has(&c, 0, c.so_pin, c.so_pin_len));
	UK_CHECK(!conf_capture_has(&c, 1, c.so_pin, c.so_pin_len));
	/* the search itself can fail: the deliberately wrong PIN is also absent, but a
	 * plain one would be found */
	UK_CHECK(!conf_capture_has(&c, 0, (const uint8_t *)"zq9x8w7v", 8));
	UK_CHECK_EQ(ukt_host_plain(&c.h, 0x00, 0x20, 0x00, 0x81, (const uint8_t *)"zq9x8w7v", 8,
	                           UKT_HOST_NO_LE), 0x6987);
	UK_CHECK(conf_capture_has(&c, 0, (const uint8_t *)"zq9x8w7v", 8));
	conf_say(&c, "%u APDUs captured through the transport: no user or SO PIN bytes in any "
	         "command or response", c.napdu);
	conf_close(&c);
	return uk_test_done(name);
}
