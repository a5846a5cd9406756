/* SPEC S0-K2: session keys generated in the device come from its random source.
 * The card's secret session material is its ephemeral key of GENERAL AUTHENTICATE (the
 * secure-session key K is derived from it) and, for generated key pairs, the private scalar.
 * Neither can be read, so the test argues from what a deterministic or reseeded-at-start
 * generator would show, and every check can fail:
 *  - the card's ephemeral point Q_card differs in every session, across a warm reset and
 *    (in-process) across a power cycle that reloads the card from its state directory: the
 *    generator is not restarted from a fixed or stored seed;
 *  - (in-process) two fresh cards provisioned identically (same index, serial, PINs) give
 *    different challenges, different Q_card and different SM2 key pairs: the randomness does
 *    not come from anything the provisioning fixes;
 *  - GET CHALLENGE and the ephemeral points never repeat and all points are on the curve.
 * That these bytes come from OpenSSL's DRBG specifically is a code property (RAND_bytes in
 * token/ and uk_crypto; docs/apdu.md "GET CHALLENGE"), not observable at the interface; the
 * statistical quality of the output is S0-K1's test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_ops.h"
#include "uk_tlv.h"

#define SESSIONS 8

/* Open a secure session on h and return the card's ephemeral point from 7C { 82 41 Q }. */
static void session_point(ukt_host *h, uint8_t q[65])
{
	uk_tlv t, p;

	UK_CHECK_EQ(ukt_host_open_session(h), 0x9000);
	UK_CHECK_EQ(uk_tlv_find(h->resp, h->rlen, 0x7C, &t), 1);
	UK_CHECK_EQ(uk_tlv_find(t.value, t.len, 0x82, &p), 1);
	UK_CHECK_EQ(p.len, 65);
	memcpy(q, p.value, 65);
	UK_CHECK(conf_sm2_point_valid(q));
}

static void check_distinct(const uint8_t (*v)[65], size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++)
			UK_CHECK(memcmp(v[i], v[j], 65) != 0);
}

/* Ephemeral points over sessions, a warm reset and (reload) a power cycle. */
static void over_resets(conf_ctx *c)
{
	uint8_t q[SESSIONS + 2][65];
	size_t i;

	UK_CHECK_EQ(ukt_host_select(&c->h), 0x9000);
	for (i = 0; i < SESSIONS; i++)
		session_point(&c->h, q[i]);
	conf_reset(c, 0);
	UK_CHECK_EQ(ukt_host_select(&c->h), 0x9000);
	session_point(&c->h, q[SESSIONS]);
	conf_reset(c, 1);
	UK_CHECK_EQ(ukt_host_select(&c->h), 0x9000);
	session_point(&c->h, q[SESSIONS + 1]);
	check_distinct((const uint8_t (*)[65])q, SESSIONS + 2);
	conf_say(c, "%d sessions, then a warm reset, then a %s: %d card ephemeral points, all "
	         "on the curve, all different", SESSIONS, c->pcsc ? "second reset" :
	         "power cycle reloading the state", SESSIONS + 2);
}

/* What one fresh card answers: a challenge, an ephemeral point, a generated SM2 pair. */
typedef struct fresh {
	uint8_t chal[32], q[65], pub[65];
} fresh;

static void fresh_card(conf_ctx *c, fresh *f)
{
	ukt_provision prov = { .index = 7 };
	char tmpl[] = "/tmp/ukey-k2-XXXXXX", cmd[64];
	ukt_host h;
	ukt_card *card;

	UK_CHECK(mkdtemp(tmpl) != NULL);
	card = ukt_card_open(tmpl, &prov);
	UK_CHECK(card != NULL);
	ukt_host_init_card(&h, card);
	UK_CHECK_EQ(ukt_host_select(&h), 0x9000);
	UK_CHECK_EQ(ukt_host_plain(&h, 0x00, 0x84, 0x00, 0x00, NULL, 0, 32), 0x9000);
	UK_CHECK_EQ(h.rlen, 32);
	memcpy(f->chal, h.resp, 32);
	session_point(&h, f->q);
	UK_CHECK_EQ(ukt_host_verify(&h, 0x81, c->user_pin, c->user_pin_len), 0x9000);
	UK_CHECK_EQ(ukt_host_create_container(&h, "k2"), 0x9000);
	UK_CHECK_EQ(ukt_host_generate(&h, 0x00, 0x01, f->pub), 0x9000);
	ukt_card_close(card);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
	UK_CHECK_EQ(system(cmd), 0);
}

static void two_fresh_cards(conf_ctx *c)
{
	fresh a, b;

	fresh_card(c, &a);
	fresh_card(c, &b);
	UK_CHECK(memcmp(a.chal, b.chal, sizeof(a.chal)) != 0);
	UK_CHECK(memcmp(a.q, b.q, 65) != 0);
	UK_CHECK(memcmp(a.pub, b.pub, 65) != 0);
	UK_CHECK(conf_sm2_point_valid(a.pub) && conf_sm2_point_valid(b.pub));
	conf_say(c, "two fresh cards provisioned identically (index 7, default serial and PINs): "
	         "first challenge, first ephemeral point and generated SM2 key all differ");
}

int main(int argc, char **argv)
{
	static const char name[] = "conformance_S0-K2_session_random";
	static conf_ctx c;
	uint8_t x[32], y[32], p1[65], p2[65];
	int r;

	r = conf_open(&c, name, argc, argv, NULL);
	if (r != 0)
		return r;
	over_resets(&c);
	conf_start(&c, 1);
	UK_CHECK_EQ(conf_challenge(&c, x, sizeof(x)), 0x9000);
	conf_reset(&c, 0);
	conf_start(&c, 1);
	UK_CHECK_EQ(conf_challenge(&c, y, sizeof(y)), 0x9000);
	UK_CHECK(memcmp(x, y, sizeof(x)) != 0);
	conf_create_container(&c, "k2");
	conf_generate(&c, 0x00, p1);
	conf_generate(&c, 0x00, p2);
	UK_CHECK(memcmp(p1, p2, 65) != 0);
	conf_say(&c, "challenges before and after a reset differ; two key pairs generated at the "
	         "same reference differ");
	if (!c.pcsc)
		two_fresh_cards(&c);
	else
		conf_say(&c, "two fresh cards: in-process only (the sandbox serves one key)");
	conf_close(&c);
	return uk_test_done(name);
}
