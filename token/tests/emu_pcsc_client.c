/* emu_pcsc_client: a small PC/SC client of the APDU profile for token_emu_faults.sh, so the
 * fault tests go through the real stack (pcscd, the ukey driver, ukey-emu). Not a test itself.
 *
 *   emu_pcsc_client rtt N          average GET DATA round trip, "rtt_ms=<ms>"
 *   emu_pcsc_client setup NAME KR  log in, create container NAME (if absent), generate the SM2
 *                                  pair KR; prints "gen_ms=<ms>" (the GENERATE round trip)
 *   emu_pcsc_client create NAME    log in, run $EMU_ARM (if set), create container NAME
 *   emu_pcsc_client has NAME       exit 0 when container NAME is there, 1 when not
 *   emu_pcsc_client sign KR        log in, sign with KR; prints "sign_ms=<ms> sw=<SW>"
 *   emu_pcsc_client pinpad         open a session, the pinpad VERIFY (84 20 00 81, empty
 *                                  secured payload: the PIN is typed on the key); "sw=<SW>"
 *   emu_pcsc_client pinpad-sign NAME KR   log in on the pinpad, create container NAME (if
 *                                  absent), generate the SM2 pair KR, sign with it, check
 *                                  the signature; "verify_sw=<SW> sw=<SW>"
 *   emu_pcsc_client features       the features byte of GET DATA 00 tag 89: "features=<hex>"
 *
 * The card: the one whose serial is $UKEY_CARD_SERIAL, else the first present. The user PIN
 * comes from $UKEY_USER_PIN. Exit: 0 success, 1 the card answered another status word,
 * 3 the transport failed (the key went away, or no card), 2 usage. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <PCSC/winscard.h>

#include "uk_tlv.h"
#include "ukt_host.h"

enum { EXIT_SW = 1, EXIT_USAGE = 2, EXIT_XPORT = 3 };

typedef struct client {
	SCARDCONTEXT ctx;
	SCARDHANDLE card;
	int xport_failed;
} client;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int pcsc_xfer(void *ctx, const uint8_t *cmd, size_t n, uint8_t *resp, size_t *rlen)
{
	client *c = ctx;
	DWORD len = (DWORD)*rlen;

	if (SCardTransmit(c->card, SCARD_PCI_T1, cmd, (DWORD)n, NULL, resp, &len) != SCARD_S_SUCCESS) {
		c->xport_failed = 1;
		return -1;
	}
	*rlen = len;
	return 0;
}

/* Serial of the card behind h (selected afterwards), or "" when it does not answer. */
static void card_serial(ukt_host *h, char out[21])
{
	uk_tlv t;

	out[0] = '\0';
	if (ukt_host_select(h) != 0x9000 || ukt_host_hex(h, "00CA010000") != 0x9000 ||
	    uk_tlv_find(h->resp, h->rlen, 0x80, &t) != 1 || t.len != 20)
		return;
	memcpy(out, t.value, 20);
	out[20] = '\0';
}

/* Connect to the wanted card and select the application. 0 or -1. */
static int client_open(client *c, ukt_host *h)
{
	const char *want = getenv("UKEY_CARD_SERIAL");
	char names[4096], serial[21];
	DWORD len = sizeof(names), proto;
	const char *r;

	if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &c->ctx) != SCARD_S_SUCCESS ||
	    SCardListReaders(c->ctx, NULL, names, &len) != SCARD_S_SUCCESS)
		return -1;
	for (r = names; *r != '\0'; r += strlen(r) + 1) {
		if (SCardConnect(c->ctx, r, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, &c->card,
		                 &proto) != SCARD_S_SUCCESS)
			continue;
		ukt_host_init(h, pcsc_xfer, c);
		card_serial(h, serial);
		if (serial[0] != '\0' && (want == NULL || strcmp(want, serial) == 0))
			return 0;
		SCardDisconnect(c->card, SCARD_LEAVE_CARD);
	}
	return -1;
}

static uint16_t login(ukt_host *h)
{
	const char *pin = getenv("UKEY_USER_PIN");
	uint16_t sw;

	if (pin == NULL)
		return 0;
	sw = ukt_host_open_session(h);
	return sw == 0x9000 ? ukt_host_verify(h, 0x81, pin, strlen(pin)) : sw;
}

/* A session of our own and the pinpad VERIFY: no PIN leaves this process. */
static uint16_t pinpad_login(ukt_host *h)
{
	uint16_t sw = ukt_host_open_session(h);

	return sw == 0x9000 ? ukt_host_secured(h, 0x80, 0x20, 0x00, 0x81, NULL, 0, 0,
	                                       UKT_HOST_NO_LE)
	                    : sw;
}

static int container_index(ukt_host *h, const char *name)
{
	const uint8_t *p, *end;
	uk_tlv tpl, idx, nm;

	if (ukt_host_hex(h, "00CA0102000000") != 0x9000)
		return -2;
	p = h->resp;
	end = h->resp + h->rlen;
	while (uk_tlv_next(&p, end, &tpl) == 1)
		if (tpl.tag == 0xA0 && uk_tlv_find(tpl.value, tpl.len, 0x80, &idx) == 1 &&
		    uk_tlv_find(tpl.value, tpl.len, 0x81, &nm) == 1 && nm.len == strlen(name) &&
		    memcmp(nm.value, name, nm.len) == 0)
			return idx.value[0];
	return -1;
}

static int sw_exit(const client *c, uint16_t sw)
{
	if (c->xport_failed || sw == 0)
		return EXIT_XPORT;
	return sw == 0x9000 ? 0 : EXIT_SW;
}

static int do_rtt(client *c, ukt_host *h, int n)
{
	double t0 = now_ms();
	uint16_t sw = 0x9000;
	int i;

	for (i = 0; i < n && sw == 0x9000; i++)
		sw = ukt_host_hex(h, "00CA010000");
	printf("rtt_ms=%.1f\n", (now_ms() - t0) / n);
	return sw_exit(c, sw);
}

static int do_setup(client *c, ukt_host *h, const char *name, int kr)
{
	uint16_t sw = login(h);
	double t0;

	if (sw == 0x9000 && container_index(h, name) < 0)
		sw = ukt_host_create_container(h, name);
	if (sw != 0x9000)
		return printf("sw=%04X\n", sw), sw_exit(c, sw);
	t0 = now_ms();
	sw = ukt_host_generate(h, (uint8_t)kr, 1, NULL);
	printf("gen_ms=%.1f sw=%04X\n", now_ms() - t0, sw);
	return sw_exit(c, sw);
}

static int do_sign(client *c, ukt_host *h, int kr)
{
	uint8_t e[32] = { 1, 2, 3, 4 }, sig[64];
	uint16_t sw = login(h);
	double t0 = now_ms();

	if (sw == 0x9000)
		sw = ukt_host_sign(h, (uint8_t)kr, e, sig);
	printf("sign_ms=%.1f sw=%04X\n", now_ms() - t0, sw);
	return sw_exit(c, sw);
}

/* pinpad-sign: everything a holder with a pinpad key does before a signature; the PIN is
 * typed on the key. */
static int do_pinpad_sign(client *c, ukt_host *h, const char *name, int kr)
{
	uint8_t e[32] = { 9, 8, 7 }, sig[64];
	uint16_t vsw = pinpad_login(h), sw = vsw;

	if (sw == 0x9000 && container_index(h, name) < 0)
		sw = ukt_host_create_container(h, name);
	if (sw == 0x9000)
		sw = ukt_host_generate(h, (uint8_t)kr, 1, NULL);
	if (sw == 0x9000)
		sw = ukt_host_sign(h, (uint8_t)kr, e, sig);
	printf("verify_sw=%04X sw=%04X\n", vsw, sw);
	return sw_exit(c, sw);
}

static int do_features(client *c, ukt_host *h)
{
	uint16_t sw = ukt_host_hex(h, "00CA010000");
	uk_tlv t;

	if (sw != 0x9000 || uk_tlv_find(h->resp, h->rlen, 0x89, &t) != 1 || t.len != 1)
		return printf("sw=%04X no tag 89\n", sw), sw == 0x9000 ? EXIT_SW : sw_exit(c, sw);
	printf("features=%02X\n", t.value[0]);
	return 0;
}

static int run(client *c, ukt_host *h, int argc, char **argv)
{
	uint16_t sw;
	int idx;

	if (strcmp(argv[1], "features") == 0)
		return do_features(c, h);
	if (strcmp(argv[1], "pinpad") == 0) {
		sw = pinpad_login(h);
		printf("sw=%04X\n", sw);
		return sw_exit(c, sw);
	}
	if (argc < 3)
		return EXIT_USAGE;
	if (strcmp(argv[1], "rtt") == 0)
		return do_rtt(c, h, atoi(argv[2]) > 0 ? atoi(argv[2]) : 1);
	if (strcmp(argv[1], "setup") == 0 && argc == 4)
		return do_setup(c, h, argv[2], atoi(argv[3]));
	if (strcmp(argv[1], "sign") == 0)
		return do_sign(c, h, atoi(argv[2]));
	if (strcmp(argv[1], "pinpad-sign") == 0 && argc == 4)
		return do_pinpad_sign(c, h, argv[2], atoi(argv[3]));
	if (strcmp(argv[1], "create") == 0) {
		sw = login(h);
		/* $EMU_ARM: a shell command run between the login and CREATE CONTAINER, so a fault
		 * armed there (powerloss) hits the CREATE's state write, not the VERIFY's */
		if (sw == 0x9000 && getenv("EMU_ARM") != NULL && system(getenv("EMU_ARM")) != 0)
			return EXIT_USAGE;
		if (sw == 0x9000)
			sw = ukt_host_create_container(h, argv[2]);
		printf("sw=%04X\n", sw);
		return sw_exit(c, sw);
	}
	if (strcmp(argv[1], "has") == 0) {
		idx = container_index(h, argv[2]);
		return idx >= 0 ? 0 : idx == -1 ? EXIT_SW : EXIT_XPORT;
	}
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	static ukt_host h;
	client c;
	int ret;

	memset(&c, 0, sizeof(c));
	if (argc < 2) {
		fprintf(stderr, "usage: emu_pcsc_client rtt N | setup NAME KR | create NAME | has NAME "
		                "| sign KR | pinpad | pinpad-sign NAME KR | features\n");
		return EXIT_USAGE;
	}
	if (client_open(&c, &h) != 0) {
		fprintf(stderr, "emu_pcsc_client: no card%s%s\n", getenv("UKEY_CARD_SERIAL") ? " " : "",
		        getenv("UKEY_CARD_SERIAL") ? getenv("UKEY_CARD_SERIAL") : "");
		return EXIT_XPORT;
	}
	ret = run(&c, &h, argc, argv);
	SCardDisconnect(c.card, SCARD_LEAVE_CARD);
	SCardReleaseContext(c.ctx);
	return ret;
}
