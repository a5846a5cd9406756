/* SPEC S2-1: dual certificates; the signing key pair is generated in the key (never
 * escrowed), the encryption pair is imported (conf_s2_1_enveloped.c tests that).
 * In a fresh container, GENERATE at usage 0 (KR = index*2) creates the signing pair only:
 * GET DATA 02 lists A4 { alg 01, point } and no A5; the encryption reference reads 6A88;
 * the signing key signs, and the signature verifies with OpenSSL over the message with the
 * default ID (EVP, SM3). */
#include <string.h>

#include "conf.h"

int main(int argc, char **argv)
{
	static const char name[] = "conformance_S2-1_signing_pair";
	static const char msg[] = "S2-1: contract to be signed";
	static conf_ctx c;
	uint8_t pub[65], listed[65], enc[65], e[32], sig[64], alg = 0;
	uint8_t idx, kr;
	int r;

	r = conf_open(&c, name, argc, argv, NULL);
	if (r != 0)
		return r;
	conf_start(&c, 1);
	conf_create_container(&c, "s2-1 first");
	idx = conf_create_container(&c, "s2-1 holder");
	UK_CHECK(idx >= 1);
	kr = (uint8_t)(idx * 2);
	UK_CHECK_EQ(conf_read_public(&c, kr, pub), 0x6A88);
	UK_CHECK_EQ(conf_listed_pair(&c, idx, 0, &alg, listed), 0);
	conf_generate(&c, kr, pub);
	UK_CHECK(conf_sm2_point_valid(pub));
	UK_CHECK_EQ(conf_listed_pair(&c, idx, 0, &alg, listed), 1);
	UK_CHECK_EQ(alg, 0x01);
	UK_CHECK_MEM(listed, pub, 65);
	UK_CHECK_EQ(conf_listed_pair(&c, idx, 1, &alg, listed), 0);
	UK_CHECK_EQ(conf_read_public(&c, (uint8_t)(kr + 1), enc), 0x6A88);
	UK_CHECK_EQ(conf_listed_pair(&c, 0, 0, &alg, listed), 0);
	conf_say(&c, "container %u: signing pair generated in the key (SM2, point on the curve), "
	         "listed as A4; no encryption pair (A5 absent, KR %u reads 6A88); container 0 "
	         "untouched", idx, kr + 1);
	conf_sm2_e(pub, msg, sizeof(msg) - 1, e);
	UK_CHECK_EQ(ukt_host_sign(&c.h, kr, e, sig), 0x9000);
	UK_CHECK(conf_sm2_verify_msg(pub, msg, sizeof(msg) - 1, sig));
	UK_CHECK(!conf_sm2_verify_msg(pub, msg, sizeof(msg) - 2, sig));
	conf_say(&c, "the signing pair signs; OpenSSL verifies (and rejects another message)");
	conf_close(&c);
	return uk_test_done(name);
}
