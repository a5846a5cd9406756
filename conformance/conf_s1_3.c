/* SPEC S1-3: use of a private key needs key + PIN (two factors). PSO COMPUTE DIGITAL
 * SIGNATURE (ISO 7816-8 §5.4, docs/apdu.md) before VERIFY answers 6982; after VERIFY in the
 * same secure session it answers a signature that OpenSSL verifies independently (EVP
 * DigestVerify with SM3 over the message and the default ID "1234567812345678"). A wrong
 * VERIFY, a logout (VERIFY P1 = FF), a reset, and another session each take the
 * authorisation away again. */
#include <string.h>

#include "conf.h"

static const char msg[] = "S1-3: document to sign";

static void check_refused(conf_ctx *c, uint8_t kr, const uint8_t e[32], const char *when)
{
	UK_CHECK_EQ(ukt_host_sign(&c->h, kr, e, NULL), 0x6982);
	conf_say(c, "PSO %s: 6982", when);
}

static void check_signs(conf_ctx *c, uint8_t kr, const uint8_t pub[65], const uint8_t e[32])
{
	uint8_t sig[64], sig2[64];

	UK_CHECK_EQ(ukt_host_sign(&c->h, kr, e, sig), 0x9000);
	UK_CHECK(conf_sm2_verify_msg(pub, msg, sizeof(msg) - 1, sig));
	UK_CHECK_EQ(ukt_host_sign(&c->h, kr, e, sig2), 0x9000);
	UK_CHECK(conf_sm2_verify_msg(pub, msg, sizeof(msg) - 1, sig2));
	UK_CHECK(memcmp(sig, sig2, 64) != 0);           /* SM2 signatures are randomised */
	sig[63] ^= 1;
	UK_CHECK(!conf_sm2_verify_msg(pub, msg, sizeof(msg) - 1, sig));
	conf_say(c, "PSO after VERIFY: signatures verify with OpenSSL EVP (SM3, default ID); a "
	         "flipped bit does not");
}

int main(int argc, char **argv)
{
	static const char name[] = "conformance_S1-3_two_factor";
	static const uint8_t empty[1] = { 0 };
	static conf_ctx c;
	static ukt_host other;
	uint8_t pub[65], e[32];
	uint8_t kr;
	int r;

	r = conf_open(&c, name, argc, argv, NULL);
	if (r != 0)
		return r;
	conf_start(&c, 1);
	kr = (uint8_t)(conf_create_container(&c, "s1-3") * 2);
	conf_generate(&c, kr, pub);
	conf_sm2_e(pub, msg, sizeof(msg) - 1, e);
	conf_reset(&c, 0);
	conf_start(&c, 0);
	check_refused(&c, kr, e, "after a reset, before VERIFY");
	UK_CHECK_EQ(ukt_host_verify(&c.h, 0x82, c.so_pin, c.so_pin_len), 0x9000);
	check_refused(&c, kr, e, "with only the SO PIN verified");
	UK_CHECK_EQ(ukt_host_verify(&c.h, 0x81, c.user_pin, c.user_pin_len), 0x9000);
	check_signs(&c, kr, pub, e);
	conf_host_init(&c, &other);
	UK_CHECK_EQ(ukt_host_open_session(&other), 0x9000);
	UK_CHECK_EQ(ukt_host_sign(&other, kr, e, NULL), 0x6982);
	conf_say(&c, "PSO from another secure session (not logged in): 6982");
	UK_CHECK_EQ(ukt_host_verify(&c.h, 0x81, (const uint8_t *)"zq9x8w7v", 8), 0x63C9);
	check_refused(&c, kr, e, "after a failed VERIFY");
	UK_CHECK_EQ(ukt_host_verify(&c.h, 0x81, c.user_pin, c.user_pin_len), 0x9000);
	check_signs(&c, kr, pub, e);
	UK_CHECK_EQ(ukt_host_secured(&c.h, 0x00, 0x20, 0xFF, 0x81, empty, 0, 1, UKT_HOST_NO_LE),
	            0x9000);
	check_refused(&c, kr, e, "after logout (VERIFY P1=FF)");
	UK_CHECK_EQ(ukt_host_verify(&c.h, 0x81, c.user_pin, c.user_pin_len), 0x9000);
	conf_reset(&c, 0);
	conf_start(&c, 0);
	check_refused(&c, kr, e, "after VERIFY then a reset");
	conf_close(&c);
	return uk_test_done(name);
}
