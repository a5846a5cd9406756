/* SPEC S0-K6 (no key but a public key ever leaves the device in plaintext) and S0-K8
 * (private keys in a container can never be exported in any form): after generating a
 * signing and an encryption pair, every response of a run (GENERATE, GET DATA 00/01/02,
 * read public key, signatures, and a sweep of every INS and of GET DATA P2) is captured, and
 * neither private scalar, nor any 8-byte piece of it, appears in any command or response.
 * The scalars are known to the test only through the token's TEST-ONLY accessor
 * (token/tests/ukt_test_access.h, never in libukey-token or ukey-emu): it unseals them from
 * the key's state file with the user PIN (in-process the test's directory, through PC/SC the
 * sandbox's UKEY_STATE). They are checked against the public points with OpenSSL
 * (d*G == Q), so the search looks for the right bytes. Private keys are sealed at rest, so
 * the same search runs over the state file itself: no 8-byte piece of either scalar and no
 * PIN may appear there (the file alone reveals neither). */
#include <string.h>

#include "conf.h"
#include "uk_wipe.h"

#define WINDOW 8

static void collect(conf_ctx *c, uint8_t kr0, const uint8_t pub[65])
{
	static const char msg[] = "S0-K6 message";
	uk_buf b;
	uint8_t rd[65], e[32], sig[64];
	unsigned i, p2;

	uk_buf_init(&b, 0, 0);
	for (p2 = 0; p2 <= 2; p2++)
		UK_CHECK_EQ(conf_get_data(c, (uint8_t)p2, &b), 0x9000);
	UK_CHECK_EQ(conf_read_public(c, kr0, rd), 0x9000);
	UK_CHECK_EQ(conf_read_public(c, (uint8_t)(kr0 + 1), rd), 0x9000);
	conf_sm2_e(pub, msg, sizeof(msg) - 1, e);
	for (i = 0; i < 4; i++) {
		UK_CHECK_EQ(ukt_host_sign(&c->h, kr0, e, sig), 0x9000);
		UK_CHECK(conf_sm2_verify_msg(pub, msg, sizeof(msg) - 1, sig));
	}
	/* the encryption pair cannot sign with mechanism 01 or it can: either way no scalar */
	(void)ukt_host_sign(&c->h, (uint8_t)(kr0 + 1), e, sig);
	/* every other data object and every instruction, plain and secured class */
	for (p2 = 3; p2 <= 0xFF; p2++)
		(void)conf_get_data(c, (uint8_t)p2, &b);
	for (i = 0; i <= 0xFF; i++) {
		(void)ukt_host_plain(&c->h, 0x00, (uint8_t)i, 0x00, 0x00, NULL, 0, 256);
		(void)ukt_host_plain(&c->h, 0x80, (uint8_t)i, 0x00, 0x00, NULL, 0, 256);
		(void)ukt_host_plain(&c->h, 0x00, 0x46, (uint8_t)i, kr0, NULL, 0, 256);
	}
	uk_buf_free(&b);
}

static void find_scalar(conf_ctx *c, const uint8_t pub[65], uint8_t d[32], const char *what)
{
	int r = conf_state_private(c, pub, d);

	UK_CHECK(r != -1 || c->pcsc);
	if (r == -1) {
		conf_say(c, "state file not reachable (UKEY_STATE unset): cannot know the scalar");
		return;
	}
	UK_CHECK_EQ(r, 1);
	UK_CHECK(conf_sm2_pair_matches(d, pub));
	conf_say(c, "%s: private scalar unsealed from the state file with the user PIN "
	         "(test-only accessor), d*G == Q (OpenSSL)", what);
}

static int has_window(const uk_buf *hay, const uint8_t *needle, size_t n, size_t w)
{
	size_t i, j;

	for (i = 0; i + w <= n; i++)
		for (j = 0; j + w <= hay->len; j++)
			if (memcmp(hay->data + j, needle + i, w) == 0)
				return 1;
	return 0;
}

/* The state file at rest: sealed keys, no PIN. */
static void check_state_file(conf_ctx *c, const uint8_t d_s[32], const uint8_t d_e[32],
                             const uint8_t pub_s[65])
{
	uk_buf img;

	uk_buf_init(&img, 0, 1);
	UK_CHECK_EQ(conf_state_read(c, &img), 0);
	UK_CHECK(!has_window(&img, d_s, 32, WINDOW));
	UK_CHECK(!has_window(&img, d_e, 32, WINDOW));
	UK_CHECK(!has_window(&img, c->user_pin, c->user_pin_len, c->user_pin_len));
	UK_CHECK(!has_window(&img, c->so_pin, c->so_pin_len, c->so_pin_len));
	UK_CHECK(has_window(&img, pub_s + 1, 32, WINDOW));      /* the search can fail */
	conf_say(c, "state file (%zu bytes): no %d-byte piece of either scalar, no PIN; "
	         "the public point is there", img.len, WINDOW);
	uk_buf_free(&img);
}

int main(int argc, char **argv)
{
	static const char name[] = "conformance_S0-K6_S0-K8_no_private_export";
	static conf_ctx c;
	uint8_t pub_s[65], pub_e[65], d_s[32], d_e[32];
	uint8_t idx;
	int r, known;

	r = conf_open(&c, name, argc, argv, NULL);
	if (r != 0)
		return r;
	conf_capture_reset(&c);
	conf_start(&c, 1);
	idx = conf_create_container(&c, "k6");
	conf_generate(&c, (uint8_t)(idx * 2), pub_s);
	conf_generate(&c, (uint8_t)(idx * 2 + 1), pub_e);
	collect(&c, (uint8_t)(idx * 2), pub_s);
	conf_say(&c, "%u APDUs captured (keygen, GET DATA 00..FF, public keys, signatures, "
	         "INS 00..FF sweep)", c.napdu);
	known = conf_state_dir(&c) != NULL;
	if (!known) {
		conf_close(&c);
		printf("%s: the state directory is not reachable: skipped\n", name);
		return UK_TEST_SKIP;
	}
	find_scalar(&c, pub_s, d_s, "signing pair");
	find_scalar(&c, pub_e, d_e, "encryption pair");
	UK_CHECK(!conf_capture_has_window(&c, d_s, 32, WINDOW));
	UK_CHECK(!conf_capture_has_window(&c, d_e, 32, WINDOW));
	conf_say(&c, "no %d-byte piece of either private scalar in any command or response",
	         WINDOW);
	/* the search can fail: the public point is found in the same traffic */
	UK_CHECK(conf_capture_has_window(&c, pub_s + 1, 32, WINDOW));
	check_state_file(&c, d_s, d_e, pub_s);
	uk_wipe(d_s, sizeof(d_s));
	uk_wipe(d_e, sizeof(d_e));
	conf_close(&c);
	return uk_test_done(name);
}
