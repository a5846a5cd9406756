/* SPEC S0-K5: keys are used only as their access rights allow (and S1-3 key + PIN). A
 * container's SM2 pair (signing and encryption) is used by PSO COMPUTE DIGITAL SIGNATURE
 * and PSO DECIPHER (ISO 7816-8 §5.4, §5.8) only in a secure session where the USER PIN is
 * verified (docs/apdu.md "Instructions", needs = user PIN):
 *   no PIN                     → 6982 for sign and decipher
 *   SO PIN verified only       → 6982 (the administrator cannot use the holder's keys)
 *   user PIN verified          → 9000 (signature checked with OpenSSL, plaintext recovered)
 *   another client's session   → 6982 (a login authorises its own session only)
 *   through PC/SC, another PROCESS with its own PC/SC context and card handle (pcscd puts
 *   both on one card): replaying the holder's secured signature command → 6988, signing
 *   in a session of its own → 6982; the holder still signs afterwards
 *   after logout (VERIFY FF)   → 6982;  after a failed VERIFY → 6982;  after a reset → 6982
 * GENERATE (which replaces a key) needs the user PIN too. */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "conf_ops.h"
#include "conf_pcsc.h"

static const char msg[] = "S0-K5 order";
static const uint8_t secret[] = "S0-K5 session key 0123456789abcdef";

typedef struct keys {
	uint8_t sig_pub[65], enc_pub[65], e[32], ct[200];
	size_t ctlen;
} keys;

/* Both uses refused with 6982; sign and decipher at KR 0 and 1. */
static void refused(conf_ctx *c, const keys *k, const char *when)
{
	static const uint8_t gen[3] = { 0x80, 0x01, 0x01 };

	UK_CHECK_EQ(conf_pso_sign(c, 0x00, 0x01, k->e, 32), 0x6982);
	UK_CHECK_EQ(c->h.rlen, 0);
	UK_CHECK_EQ(conf_decipher(c, 0x01, 0x11, k->ct, k->ctlen), 0x6982);
	UK_CHECK_EQ(c->h.rlen, 0);
	UK_CHECK_EQ(ukt_host_secured(&c->h, 0x00, 0x46, 0x80, 0x00, gen, 3, 0, 256), 0x6982);
	conf_say(c, "%s: sign, decipher and generate refused (6982, no data)", when);
}

static void allowed(conf_ctx *c, const keys *k, const char *when)
{
	uint8_t sig[64];

	UK_CHECK_EQ(conf_pso_sign(c, 0x00, 0x01, k->e, 32), 0x9000);
	UK_CHECK_EQ(c->h.rlen, 64);
	memcpy(sig, c->h.resp, 64);
	UK_CHECK(conf_sm2_verify_msg(k->sig_pub, msg, sizeof(msg) - 1, sig));
	UK_CHECK_EQ(conf_decipher(c, 0x01, 0x11, k->ct, k->ctlen), 0x9000);
	UK_CHECK_EQ(c->h.rlen, sizeof(secret));
	UK_CHECK_MEM(c->h.resp, secret, sizeof(secret));
	conf_say(c, "%s: signs (OpenSSL verifies) and deciphers (plaintext recovered)", when);
}

static int child_xfer(void *ctx, const uint8_t *cmd, size_t n, uint8_t *resp, size_t *rlen)
{
	return conf_pcsc_transmit(ctx, cmd, n, resp, rlen);
}

/* The other process: exit 0 when both attempts are refused as they must be. */
static void second_process_main(const uint8_t *replay, size_t rn, const uint8_t e[32])
{
	static ukt_host h;
	conf_pcsc *pc = conf_pcsc_open();
	uint16_t sw_replay, sw_session = 0, sw_sign = 0;

	if (pc == NULL)
		_exit(2);
	ukt_host_init(&h, child_xfer, pc);
	sw_replay = ukt_host_raw(&h, replay, rn);
	sw_session = ukt_host_open_session(&h);
	if (sw_session == 0x9000)
		sw_sign = ukt_host_sign(&h, 0x00, e, NULL);
	printf("second process: replayed PSO %04X, own session %04X, PSO in it %04X\n",
	       sw_replay, sw_session, sw_sign);
	fflush(stdout);
	conf_pcsc_close(pc);
	_exit(sw_replay == 0x6988 && sw_session == 0x9000 && sw_sign == 0x6982 ? 0 : 1);
}

static void second_process(conf_ctx *c, const keys *k)
{
	uint8_t payload[34];
	uk_buf apdu;
	pid_t pid;
	int status = -1;

	/* the holder signs once with a secured APDU whose bytes the other process replays */
	payload[0] = 0x00;
	payload[1] = 0x01;
	memcpy(payload + 2, k->e, 32);
	uk_buf_init(&apdu, 0, 0);
	UK_CHECK_EQ(ukt_host_build_secured(&c->h, 0x00, 0x2A, 0x9E, 0x9A, payload, sizeof(payload),
	                                   0, 256, &apdu), 0);
	UK_CHECK_EQ(ukt_host_raw(&c->h, apdu.data, apdu.len), 0x9000);
	fflush(stdout);
	pid = fork();
	UK_CHECK(pid >= 0);
	if (pid == 0)
		second_process_main(apdu.data, apdu.len, k->e);
	UK_CHECK_EQ(waitpid(pid, &status, 0), pid);
	UK_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	uk_buf_free(&apdu);
	conf_say(c, "another process (own PC/SC context and handle): replay of the holder's "
	         "signature command 6988, signing in its own session 6982");
	allowed(c, k, "the holder, after the other process tried");
}

static void setup(conf_ctx *c, keys *k)
{
	conf_start(c, 1);
	UK_CHECK_EQ(conf_create_container(c, "s0-k5"), 0);
	conf_generate(c, 0x00, k->sig_pub);
	conf_generate(c, 0x01, k->enc_pub);
	conf_sm2_e(k->sig_pub, msg, sizeof(msg) - 1, k->e);
	k->ctlen = conf_sm2_encrypt_raw(k->enc_pub, secret, sizeof(secret), k->ct);
}

int main(int argc, char **argv)
{
	static const char name[] = "conformance_S0-K5_key_access";
	static const uint8_t wrong[] = "wrong4321";
	static conf_ctx c;
	ukt_host other;
	keys k;
	int r;

	r = conf_open(&c, name, argc, argv, NULL);
	if (r != 0)
		return r;
	setup(&c, &k);
	allowed(&c, &k, "user PIN verified");
	/* another client of the same card: its own session, no login */
	conf_host_init(&c, &other);
	UK_CHECK_EQ(ukt_host_open_session(&other), 0x9000);
	{
		ukt_host mine = c.h;

		c.h = other;
		refused(&c, &k, "another client's session while the holder is logged in");
		c.h = mine;
	}
	if (c.pcsc)
		second_process(&c, &k);
	UK_CHECK_EQ(conf_logout(&c, 0x81), 0x9000);
	refused(&c, &k, "after logout (VERIFY FF 81)");
	UK_CHECK_EQ(ukt_host_open_session(&c.h), 0x9000);
	refused(&c, &k, "new session, no PIN");
	UK_CHECK_EQ(ukt_host_verify(&c.h, 0x82, c.so_pin, c.so_pin_len), 0x9000);
	refused(&c, &k, "SO PIN verified (administrator)");
	UK_CHECK_EQ(ukt_host_verify(&c.h, 0x81, c.user_pin, c.user_pin_len), 0x9000);
	allowed(&c, &k, "user PIN verified again");
	UK_CHECK_EQ(ukt_host_verify(&c.h, 0x81, wrong, sizeof(wrong) - 1), 0x63C9);
	refused(&c, &k, "after a failed VERIFY");
	UK_CHECK_EQ(ukt_host_verify(&c.h, 0x81, c.user_pin, c.user_pin_len), 0x9000);
	conf_reset(&c, 0);
	conf_start(&c, 0);
	refused(&c, &k, "after a card reset");
	conf_close(&c);
	return uk_test_done(name);
}
