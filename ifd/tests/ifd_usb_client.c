/* ifd_usb_client: a small PC/SC client for the USB end-to-end tests (ifd-usb-e2e.sh).
 *
 *   ifd_usb_client readers              number of readers (one per slot of the ukey driver)
 *   ifd_usb_client atr R                the ATR of the card in reader R (index), hex
 *   ifd_usb_client events R             pcsc-lite's event counter of reader R (the upper
 *                                       16 bits of dwEventState: +1 per insertion/removal)
 *   ifd_usb_client wait-absent R MS     wait until reader R is empty; prints the time taken
 *   ifd_usb_client apdu R HEX...        one connection, one APDU each; prints each answer
 *                                       (data and SW, hex). "?HEX": the APDU may fail
 *                                       (prints ERR); "!CMD": run CMD (sh) in between,
 *                                       inside the same card connection
 * Exit 0 done, 1 failed, 2 usage. PCSCLITE_CSOCK_NAME names the sandbox's pcscd. */
#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLIENT_MAX_READERS 16
#define CLIENT_APDU_MAX 65546
#define CLIENT_ANSWER_MAX 65538

typedef struct client {
	SCARDCONTEXT ctx;
	char names[4096];
	const char *reader[CLIENT_MAX_READERS];
	unsigned nreaders;
} client;

static int client_open(client *c)
{
	DWORD len = sizeof(c->names);
	const char *p;

	if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &c->ctx) != SCARD_S_SUCCESS)
		return -1;
	if (SCardListReaders(c->ctx, NULL, c->names, &len) != SCARD_S_SUCCESS)
		return -1;
	for (p = c->names; *p && c->nreaders < CLIENT_MAX_READERS; p += strlen(p) + 1)
		c->reader[c->nreaders++] = p;
	return 0;
}

static int client_state(client *c, unsigned r, DWORD timeout_ms, SCARD_READERSTATE *rs)
{
	LONG rv;

	if (r >= c->nreaders)
		return -1;
	memset(rs, 0, sizeof(*rs));
	rs->szReader = c->reader[r];
	rs->dwCurrentState = SCARD_STATE_UNAWARE;
	rv = SCardGetStatusChange(c->ctx, timeout_ms, rs, 1);
	return rv == SCARD_S_SUCCESS ? 0 : -1;
}

static void print_hex(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		printf("%02X", p[i]);
	printf("\n");
}

static int cmd_atr(client *c, unsigned r)
{
	SCARD_READERSTATE rs;

	if (client_state(c, r, 0, &rs) != 0 || !(rs.dwEventState & SCARD_STATE_PRESENT))
		return 1;
	print_hex(rs.rgbAtr, rs.cbAtr);
	return 0;
}

static int cmd_events(client *c, unsigned r)
{
	SCARD_READERSTATE rs;

	if (client_state(c, r, 0, &rs) != 0)
		return 1;
	printf("%lu\n", (unsigned long)(rs.dwEventState >> 16));
	return 0;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait through SCardGetStatusChange, so the time is pcscd's event delivery, not polling. */
static int cmd_wait_absent(client *c, unsigned r, long bound_ms)
{
	long t0 = now_ms();
	SCARD_READERSTATE rs;

	if (client_state(c, r, 0, &rs) != 0)
		return 1;
	while (rs.dwEventState & SCARD_STATE_PRESENT) {
		long left = bound_ms - (now_ms() - t0);

		if (left <= 0)
			return 1;
		rs.dwCurrentState = rs.dwEventState & ~SCARD_STATE_CHANGED;
		if (SCardGetStatusChange(c->ctx, (DWORD)left, &rs, 1) != SCARD_S_SUCCESS)
			return 1;
	}
	printf("%ld\n", now_ms() - t0);
	return 0;
}

static size_t hex_parse(const char *s, unsigned char *out, size_t cap)
{
	size_t n = 0;

	while (s[0] && s[1] && n < cap) {
		unsigned v;

		if (sscanf(s, "%2x", &v) != 1)
			return 0;
		out[n++] = (unsigned char)v;
		s += 2;
	}
	return s[0] ? 0 : n;
}

static int cmd_apdu(client *c, unsigned r, int argc, char **argv)
{
	static unsigned char cmd[CLIENT_APDU_MAX], ans[CLIENT_ANSWER_MAX];
	SCARDHANDLE card;
	DWORD proto;
	int i, rc = 1;

	if (r >= c->nreaders ||
	    SCardConnect(c->ctx, c->reader[r], SCARD_SHARE_SHARED,
	                 SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &card, &proto) != SCARD_S_SUCCESS)
		return 1;
	for (i = 0; i < argc; i++) {
		int may_fail = argv[i][0] == '?';
		size_t n = hex_parse(argv[i] + may_fail, cmd, sizeof(cmd));
		DWORD alen = sizeof(ans);
		const SCARD_IO_REQUEST *pci = proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0
		                                                         : SCARD_PCI_T1;

		if (argv[i][0] == '!') {
			fflush(stdout);
			if (system(argv[i] + 1) != 0)
				goto out;
			continue;
		}
		if (n < 4)
			goto out;
		if (SCardTransmit(card, pci, cmd, (DWORD)n, NULL, ans, &alen) == SCARD_S_SUCCESS)
			print_hex(ans, alen);
		else if (may_fail)
			printf("ERR\n");
		else
			goto out;
	}
	rc = 0;
out:
	SCardDisconnect(card, SCARD_LEAVE_CARD);
	return rc;
}

int main(int argc, char **argv)
{
	client c = { 0 };
	unsigned r;
	int rc;

	if (argc < 2)
		return 2;
	if (client_open(&c) != 0) {
		fprintf(stderr, "ifd_usb_client: no pcscd or no readers\n");
		return 1;
	}
	if (strcmp(argv[1], "readers") == 0) {
		printf("%u\n", c.nreaders);
		rc = 0;
		goto out;
	}
	if (argc < 3)
		return 2;
	r = (unsigned)strtoul(argv[2], NULL, 10);
	if (strcmp(argv[1], "atr") == 0)
		rc = cmd_atr(&c, r);
	else if (strcmp(argv[1], "events") == 0)
		rc = cmd_events(&c, r);
	else if (strcmp(argv[1], "wait-absent") == 0 && argc == 4)
		rc = cmd_wait_absent(&c, r, strtol(argv[3], NULL, 10));
	else if (strcmp(argv[1], "apdu") == 0)
		rc = cmd_apdu(&c, r, argc - 3, argv + 3);
	else
		rc = 2;
out:
	SCardReleaseContext(c.ctx);
	return rc;
}
