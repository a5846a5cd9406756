/* ifd_pcsc_client: the ukey reader seen through a real pcscd (run by ifd-pcscd.sh).
 *   ifd_pcsc_client PEER SLOTS basic|robust
 * basic:  N slot readers listed; a key appears in SCardGetStatusChange at once; connect,
 *         ATR, echo round trips, buffer too small; slots fill in order, one too many is
 *         refused; a key that goes away is removed at once.
 * robust: garbage / truncated / absurd / vanish / silent / idle keys give the client an
 *         error and disappear; pcscd stays up and a good key works afterwards. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <winscard.h>

#include "uk_test.h"

static const char *peer_path;
static const char *link_sock;
static SCARDCONTEXT ctx;
static char readers[16][MAX_READERNAME];
static unsigned nreaders;

static const BYTE want_atr[] = { 0x3B, 0x88, 0x80, 0x01, 0x75, 0x6B, 0x65, 0x79,
                                 0x2D, 0x65, 0x6D, 0x75, 0x5B };

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pid_t peer_start(const char *mode, const char *after)
{
	pid_t pid = fork();

	if (pid == 0) {
		execl(peer_path, peer_path, "--mode", mode, "--after", after, link_sock, (char *)NULL);
		_exit(127);
	}
	UK_CHECK(pid > 0);
	return pid;
}

static void peer_stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Block in SCardGetStatusChange until reader r shows want; returns the ms it took or -1. */
static long wait_state(unsigned r, DWORD want, long ms)
{
	SCARD_READERSTATE rs = { .szReader = readers[r], .dwCurrentState = SCARD_STATE_UNAWARE };
	long long t0 = now_ms(), left;
	LONG rv;

	for (;;) {
		left = t0 + ms - now_ms();
		if (left < 0)
			return -1;
		rv = SCardGetStatusChange(ctx, (DWORD)left, &rs, 1);
		if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT)
			return -1;
		if (getenv("IFD_TEST_TRACE") != NULL)
			fprintf(stderr, "%s: state 0x%lx after %lld ms\n", readers[r], (unsigned long)rs.dwEventState, now_ms() - t0);
		if (rs.dwEventState & want)
			return (long)(now_ms() - t0);
		rs.dwCurrentState = rs.dwEventState & ~SCARD_STATE_CHANGED;
	}
}

static void list_readers(unsigned want)
{
	char buf[4096];
	DWORD len = sizeof(buf);
	const char *p;

	UK_CHECK_EQ(SCardListReaders(ctx, NULL, buf, &len), SCARD_S_SUCCESS);
	nreaders = 0;
	for (p = buf; *p != '\0' && nreaders < 16; p += strlen(p) + 1) {
		if (strncmp(p, "ukey", 4) != 0)
			continue;
		if (strlen(p) < MAX_READERNAME)
			memcpy(readers[nreaders++], p, strlen(p) + 1);
	}
	UK_CHECK_EQ(nreaders, want);
}

static LONG connect_reader(unsigned r, SCARDHANDLE *h)
{
	DWORD proto = 0;

	return SCardConnect(ctx, readers[r], SCARD_SHARE_SHARED,
	                    SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, h, &proto);
}

static LONG xmit(SCARDHANDLE h, const BYTE *cmd, DWORD n, BYTE *resp, DWORD *rn)
{
	return SCardTransmit(h, SCARD_PCI_T1, cmd, n, NULL, resp, rn);
}

static void check_atr(SCARDHANDLE h)
{
	BYTE atr[MAX_ATR_SIZE];
	DWORD atr_len = sizeof(atr), state = 0, proto = 0, rlen = 0;

	UK_CHECK_EQ(SCardStatus(h, NULL, &rlen, &state, &proto, atr, &atr_len), SCARD_S_SUCCESS);
	UK_CHECK_EQ(atr_len, sizeof(want_atr));
	UK_CHECK_MEM(atr, want_atr, sizeof(want_atr));
}

static void check_echo(SCARDHANDLE h)
{
	static BYTE cmd[7 + 2000], resp[4096];
	DWORD n;

	memcpy(cmd, "\x00\xD6\x00\x00\x00\x07\xD0", 7);
	for (n = 7; n < sizeof(cmd); n++)
		cmd[n] = (BYTE)(n * 7);
	n = sizeof(resp);
	UK_CHECK_EQ(xmit(h, cmd, sizeof(cmd), resp, &n), SCARD_S_SUCCESS);
	UK_CHECK_EQ(n, sizeof(cmd) + 2);
	UK_CHECK_MEM(resp, cmd, sizeof(cmd));
	UK_CHECK_MEM(resp + sizeof(cmd), "\x90\x00", 2);
	n = 64;
	UK_CHECK(xmit(h, cmd, sizeof(cmd), resp, &n) != SCARD_S_SUCCESS);
	n = sizeof(resp);                       /* still in step after the refused answer */
	UK_CHECK_EQ(xmit(h, cmd, 5, resp, &n), SCARD_S_SUCCESS);
	UK_CHECK_EQ(n, 7);
	UK_CHECK_MEM(resp, cmd, 5);
}

static int run_basic(unsigned slots)
{
	pid_t p[17];
	SCARDHANDLE h;
	BYTE resp[300];
	DWORD n;
	long ms;
	unsigned i;
	int status = 0;

	list_readers(slots);
	for (i = 0; i < slots; i++)
		UK_CHECK(wait_state(i, SCARD_STATE_EMPTY, 2000) >= 0);
	p[0] = peer_start("echo", "0");
	ms = wait_state(0, SCARD_STATE_PRESENT, 5000);
	printf("insertion seen after %ld ms\n", ms);
	UK_CHECK(ms >= 0 && ms < 1000);         /* event-driven, no 400 ms polling steps */
	UK_CHECK_EQ(connect_reader(0, &h), SCARD_S_SUCCESS);
	check_atr(h);
	check_echo(h);
	for (i = 1; i < slots; i++) {
		p[i] = peer_start("ok", "0");
		UK_CHECK(wait_state(i, SCARD_STATE_PRESENT, 10000) >= 0);
	}
	p[slots] = peer_start("ok", "0");       /* one too many: refused */
	UK_CHECK_EQ(waitpid(p[slots], &status, 0), p[slots]);
	UK_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
	peer_stop(p[0]);
	ms = wait_state(0, SCARD_STATE_EMPTY, 5000);
	printf("removal seen after %ld ms\n", ms);
	UK_CHECK(ms >= 0 && ms < 1000);
	n = sizeof(resp);
	UK_CHECK(xmit(h, (const BYTE *)"\x00\xA4\x04\x00", 4, resp, &n) != SCARD_S_SUCCESS);
	SCardDisconnect(h, SCARD_LEAVE_CARD);
	for (i = 1; i < slots; i++) {
		peer_stop(p[i]);
		UK_CHECK(wait_state(i, SCARD_STATE_EMPTY, 3000) >= 0);
	}
	return 0;
}

/* One good APDU, then the fault: the client sees an error and the key goes away. */
static void check_bad(const char *mode)
{
	static const BYTE cmd[] = { 0x00, 0xA4, 0x04, 0x00, 0x01, 0xF0 };
	BYTE resp[300];
	SCARDHANDLE h;
	DWORD n;
	pid_t p = peer_start(mode, "1");

	printf("mode %s\n", mode);
	if (strcmp(mode, "absurd") == 0) {
		/* power-up fails inside pcscd: the key is dropped before any client sees it */
		usleep(300 * 1000);
		UK_CHECK(wait_state(0, SCARD_STATE_EMPTY, 10000) >= 0);
		UK_CHECK(connect_reader(0, &h) != SCARD_S_SUCCESS);
	} else {
		UK_CHECK(wait_state(0, SCARD_STATE_PRESENT, 10000) >= 0);
		UK_CHECK_EQ(connect_reader(0, &h), SCARD_S_SUCCESS);
		n = sizeof(resp);
		UK_CHECK_EQ(xmit(h, cmd, sizeof(cmd), resp, &n), SCARD_S_SUCCESS);
		n = sizeof(resp);
		UK_CHECK(xmit(h, cmd, sizeof(cmd), resp, &n) != SCARD_S_SUCCESS);
		UK_CHECK(wait_state(0, SCARD_STATE_EMPTY, 10000) >= 0);
		SCardDisconnect(h, SCARD_LEAVE_CARD);
	}
	peer_stop(p);
	p = peer_start("ok", "0");
	UK_CHECK(wait_state(0, SCARD_STATE_PRESENT, 10000) >= 0);
	UK_CHECK_EQ(connect_reader(0, &h), SCARD_S_SUCCESS);
	n = sizeof(resp);
	UK_CHECK_EQ(xmit(h, cmd, sizeof(cmd), resp, &n), SCARD_S_SUCCESS);
	UK_CHECK_EQ(n, 2);
	SCardDisconnect(h, SCARD_LEAVE_CARD);
	peer_stop(p);
	UK_CHECK(wait_state(0, SCARD_STATE_EMPTY, 10000) >= 0);
}

static int run_robust(unsigned slots)
{
	static const char *const bad[] = { "garbage", "truncated", "absurd", "vanish",
	                                   "silent", "idle" };
	size_t i;

	list_readers(slots);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_bad(bad[i]);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned slots;
	int rc;

	if (argc != 4)
		return uk_test_skip("usage: ifd_pcsc_client PEER SLOTS basic|robust");
	signal(SIGPIPE, SIG_IGN);
	peer_path = argv[1];
	slots = (unsigned)atoi(argv[2]);
	link_sock = getenv("UKEY_LINK_SOCK");
	if (link_sock == NULL || getenv("PCSCLITE_CSOCK_NAME") == NULL)
		return uk_test_skip("run me through ifd-pcscd.sh");
	UK_CHECK(slots >= 1 && slots <= 16);
	UK_CHECK_EQ(SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx), SCARD_S_SUCCESS);
	rc = strcmp(argv[3], "basic") == 0 ? run_basic(slots) : run_robust(slots);
	SCardReleaseContext(ctx);
	if (rc != 0)
		return rc;
	return uk_test_done(argv[3]);
}
