/* SPEC S0-K7: signing private keys are generated inside the device. GENERATE ASYMMETRIC KEY
 * PAIR (ISO 7816-8 §5.1, docs/apdu.md) returns only a public key, 7F49 { 86 41 04||X||Y },
 * a valid point on the SM2 curve (checked with OpenSSL), and no host input but the algorithm
 * goes in; two generations give different keys, the new one replacing the old (read public
 * key and GET DATA 02 agree). Generation needs the user PIN (6982 without). */
#include <string.h>

#include "conf.h"

int main(int argc, char **argv)
{
	static const char name[] = "conformance_S0-K7_keygen_inside";
	static const uint8_t payload[3] = { 0x80, 0x01, 0x01 };
	static conf_ctx c;
	uint8_t pub1[65], pub2[65], pub3[65], rd[65], alg;
	uint8_t idx;
	int r;

	r = conf_open(&c, name, argc, argv, NULL);
	if (r != 0)
		return r;
	conf_start(&c, 0);
	UK_CHECK_EQ(ukt_host_secured(&c.h, 0x00, 0x46, 0x80, 0x00, payload, sizeof(payload), 0,
	                             256), 0x6982);
	conf_say(&c, "GENERATE before VERIFY: 6982");
	UK_CHECK_EQ(ukt_host_verify(&c.h, 0x81, c.user_pin, c.user_pin_len), 0x9000);
	idx = conf_create_container(&c, "k7");
	conf_generate(&c, (uint8_t)(idx * 2), pub1);
	UK_CHECK(conf_sm2_point_valid(pub1));
	conf_say(&c, "GENERATE (container %u, signing): response is exactly 7F49 { 86 41 point },"
	         " the point is on the SM2 curve (OpenSSL EVP_PKEY_public_check)", idx);
	conf_generate(&c, (uint8_t)(idx * 2), pub2);
	UK_CHECK(conf_sm2_point_valid(pub2));
	UK_CHECK(memcmp(pub1, pub2, 65) != 0);
	conf_generate(&c, (uint8_t)(idx * 2), pub3);
	UK_CHECK(memcmp(pub3, pub1, 65) != 0 && memcmp(pub3, pub2, 65) != 0);
	conf_say(&c, "three generations at the same key reference: three different keys");
	UK_CHECK_EQ(conf_read_public(&c, (uint8_t)(idx * 2), rd), 0x9000);
	UK_CHECK_MEM(rd, pub3, 65);
	UK_CHECK_EQ(conf_listed_pair(&c, idx, 0, &alg, rd), 1);
	UK_CHECK_EQ(alg, 0x01);
	UK_CHECK_MEM(rd, pub3, 65);
	conf_say(&c, "read public key and GET DATA 02 give the last generated point (alg 01 SM2)");
	/* the check itself can fail: a point off the curve is refused by the checker */
	rd[64] ^= 1;
	UK_CHECK(!conf_sm2_point_valid(rd));
	conf_close(&c);
	return uk_test_done(name);
}
