/* ifd_pcsc_client: the ukey reader seen through a real pcscd (run by ifd-pcscd.sh).
 *   ifd_pcsc_client PEER SLOTS basic|robust|storm|stall|fill
 * basic:  N slot readers listed; a key appears in SCardGetStatusChange at once; connect,
 *         ATR, echo round trips, buffer too small; slots fill in order, one too many is
 *         refused; a key that goes away is removed at once.
 * robust: garbage / truncated / absurd / vanish / silent / idle keys give the client an
 *         error and disappear; pcscd stays up and a good key works afterwards.
 * storm:  300 link connects/disconnects in a few seconds on slots 1.., some before or
 *         during power-up, some mid-APDU, while a second client keeps exchanging APDUs
 *         with a good key in slot 0 and sees no error; afterwards pcscd's fd count and
 *         RSS are back to their baseline (a leak check on the driver inside pcscd).
 * stall:  a key that sends a frame's length and then nothing (the driver's body timeout
 *         ends the exchange) and one that sends the length and closes: the client gets
 *         an error in bounded time, the key goes away, a good key in slot 0 works.
 * fill:   all SLOTS (16: pcscd 1.9.9's limit) filled and emptied several times; the one
 *         too many is refused each time; fds and RSS do not grow from round to round. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <dirent.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <winscard.h>

#include "uk_test.h"
#include "uk_time.h"

static const char *peer_path;
static const char *link_sock;
static SCARDCONTEXT ctx;
#define UKI_TEST_MAX_SLOTS 16
static char readers[UKI_TEST_MAX_SLOTS][MAX_READERNAME];
static unsigned nreaders;

static const BYTE want_atr[] = { 0x3B, 0x88, 0x80, 0x01, 0x75, 0x6B, 0x65, 0x79,
                                 0x2D, 0x65, 0x6D, 0x75, 0x5B };

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
	long long t0 = uk_now_ms(), left;
	LONG rv;

	for (;;) {
		left = t0 + ms - uk_now_ms();
		if (left < 0)
			return -1;
		rv = SCardGetStatusChange(ctx, (DWORD)left, &rs, 1);
		if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT)
			return -1;
		if (getenv("IFD_TEST_TRACE") != NULL)
			fprintf(stderr, "%s: state 0x%lx after %lld ms\n", readers[r], (unsigned long)rs.dwEventState, uk_now_ms() - t0);
		if (rs.dwEventState & want)
			return (long)(uk_now_ms() - t0);
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

/* ---- pcscd's own resources (leak checks) ---- */

/* ifd-pcscd.sh binds its run directory over /run/pcscd, where pcscd writes its pid file
 * beside the socket it binds. */
static pid_t pcscd_pid(void)
{
	const char *sock = getenv("PCSCLITE_CSOCK_NAME");
	char path[4096];
	const char *slash = strrchr(sock, '/');
	FILE *f;
	long pid = 0;

	UK_CHECK(slash != NULL);
	snprintf(path, sizeof(path), "%.*s/pcscd.pid", (int)(slash - sock), sock);
	f = fopen(path, "r");
	UK_CHECK(f != NULL);
	UK_CHECK(fscanf(f, "%ld", &pid) == 1 && pid > 1);
	fclose(f);
	return (pid_t)pid;
}

typedef struct usage {
	unsigned fds;
	long rss_kb;
} usage;

/* Open fds (/proc/PID/fd) and VmRSS (/proc/PID/status) of pcscd. */
static usage pcscd_usage(pid_t pid)
{
	usage u = { 0, -1 };
	char path[64], line[256];
	struct dirent *e;
	DIR *d;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	UK_CHECK(d != NULL);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			u.fds++;
	closedir(d);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	UK_CHECK(f != NULL);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &u.rss_kb) == 1)
			break;
	fclose(f);
	UK_CHECK(u.rss_kb > 0);
	return u;
}

/* fds exactly back, RSS within slack: glibc keeps freed memory in its arenas, so RSS
 * settles a little above the first baseline; a leak per connection would show as
 * hundreds of kB after 300 of them, and a leaked fd as a count that grew. */
#define RSS_SLACK_KB 1024
static void check_usage(const char *what, usage before, usage after)
{
	printf("%s: pcscd fds %u -> %u, VmRSS %ld kB -> %ld kB\n", what, before.fds, after.fds,
	       before.rss_kb, after.rss_kb);
	UK_CHECK_EQ(after.fds, before.fds);
	UK_CHECK(after.rss_kb <= before.rss_kb + RSS_SLACK_KB);
}

/* ---- a good key in slot 0 kept busy by a second client (its own PC/SC context) ---- */

/* a steady client, not a flood: pcscd -a -d logs every APDU and shares the 2 cores */
#define WORKER_PAUSE_US 3000

typedef struct worker {
	pthread_t th;
	atomic_int stop;
	unsigned long ok, failed;
	LONG last_rv;
} worker;

static void *worker_main(void *arg)
{
	static const BYTE cmd[] = { 0x00, 0xB0, 0x00, 0x00, 0x04, 0x11, 0x22, 0x33, 0x44 };
	worker *w = arg;
	SCARDCONTEXT c;
	SCARDHANDLE h;
	BYTE resp[64];
	DWORD n, proto = 0;
	LONG rv;

	rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &c);
	if (rv == SCARD_S_SUCCESS)
		rv = SCardConnect(c, readers[0], SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1, &h, &proto);
	while (rv == SCARD_S_SUCCESS && !atomic_load(&w->stop)) {
		n = sizeof(resp);
		rv = SCardTransmit(h, SCARD_PCI_T1, cmd, sizeof(cmd), NULL, resp, &n);
		if (rv == SCARD_S_SUCCESS && (n != sizeof(cmd) + 2 || memcmp(resp, cmd, sizeof(cmd)) != 0))
			rv = SCARD_F_UNKNOWN_ERROR;
		if (rv == SCARD_S_SUCCESS)
			w->ok++;
		usleep(WORKER_PAUSE_US);
	}
	if (rv != SCARD_S_SUCCESS) {
		w->failed++;
		w->last_rv = rv;
	}
	SCardReleaseContext(c);
	return NULL;
}

static void worker_start(worker *w)
{
	memset(w, 0, sizeof(*w));
	atomic_init(&w->stop, 0);
	UK_CHECK_EQ(pthread_create(&w->th, NULL, worker_main, w), 0);
}

static void worker_stop(worker *w)
{
	atomic_store(&w->stop, 1);
	UK_CHECK_EQ(pthread_join(w->th, NULL), 0);
	printf("good client: %lu APDUs, %lu failed (last rv 0x%lx)\n", w->ok, w->failed,
	       (unsigned long)w->last_rv);
	UK_CHECK_EQ(w->failed, 0);
	UK_CHECK(w->ok > 0);
}

/* ---- in-process keys for the storm: raw link connections ---- */

static int link_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	UK_CHECK(fd >= 0 && strlen(link_sock) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, link_sock, strlen(link_sock) + 1);
	UK_CHECK_EQ(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Read the driver's frames until "get ATR" (vpcd control 4) or ms pass; 0 when it came.
 * pcscd powers a card up as soon as it sees it (eventhandler.c). */
static int await_get_atr(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	long long end = uk_now_ms() + ms;
	uint8_t buf[8];
	ssize_t r;

	while (uk_now_ms() < end) {
		if (poll(&p, 1, (int)(end - uk_now_ms())) != 1)
			return -1;
		r = recv(fd, buf, 3, MSG_PEEK);
		if (r <= 0)
			return -1;
		if (r < 3)
			continue;
		if (buf[0] != 0 || buf[1] != 1)
			return -1;              /* not a control: not for this key */
		UK_CHECK_EQ(recv(fd, buf, 3, 0), 3);
		if (buf[2] == 4)
			return 0;
	}
	return -1;
}

/* Storm kinds, one per connection (kind_of). pcscd's event thread powers a new card up
 * only after it has seen the insertion and settled (eventhandler.c), tens to hundreds of
 * ms on a loaded machine, so only a few kinds wait for that; most connections come and go
 * while pcscd is still deciding. */
enum storm_kind {
	SK_CLOSE,               /* connect and close at once */
	SK_RACE_ATR,            /* answer "get ATR" if it comes within 10 ms, then close */
	SK_RACE_HALF,           /* half an ATR if "get ATR" comes within 10 ms, then close */
	SK_FULL_ATR,            /* wait for power-up, answer the ATR, close 20 ms later */
	SK_MID_VANISH,          /* powered, a client's APDU in flight: close without answer */
	SK_MID_LENCLOSE,        /* powered, a client's APDU in flight: a length, then close */
	SK_KINDS
};

static long long storm_ms[SK_KINDS];    /* time spent per kind */
static unsigned storm_n[SK_KINDS];      /* connections per kind */
static unsigned storm_mid_failed;       /* mid-APDU exchanges that failed as they must */

static enum storm_kind kind_of(unsigned i)
{
	if (i % 30 == 29)
		return (i / 30) % 2 ? SK_MID_LENCLOSE : SK_MID_VANISH;
	if (i % 30 == 14)
		return SK_FULL_ATR;
	return (enum storm_kind)(i % 3);
}

/* One raw storm connection (kinds SK_CLOSE..SK_FULL_ATR); closed before returning. */
static void storm_key(enum storm_kind k)
{
	BYTE msg[2 + sizeof(want_atr)] = { 0x00, sizeof(want_atr) };
	int fd = link_connect();
	size_t n = k == SK_RACE_HALF ? 5 : sizeof(msg);

	memcpy(msg + 2, want_atr, sizeof(want_atr));
	if (k != SK_CLOSE && await_get_atr(fd, k == SK_FULL_ATR ? 2000 : 10) == 0) {
		UK_CHECK_EQ(send(fd, msg, n, MSG_NOSIGNAL), (ssize_t)n);
		if (k == SK_FULL_ATR)
			usleep(20 * 1000);
	}
	close(fd);
}

static void wait_all_empty(unsigned from, unsigned to)
{
	unsigned i;

	for (i = from; i < to; i++)
		UK_CHECK(wait_state(i, SCARD_STATE_EMPTY, 5000) >= 0);
}

/* The first of readers [from, to) that shows a card within ms, or -1. A slot pcscd shows
 * empty may still be held for a moment by the exchange that saw its key go, so a new key
 * does not always land in the lowest slot. */
static int wait_any_present(unsigned from, unsigned to, long ms)
{
	SCARD_READERSTATE rs[UKI_TEST_MAX_SLOTS];
	long long t0 = uk_now_ms(), left;
	unsigned i, n = to - from;
	LONG rv;

	for (i = 0; i < n; i++)
		rs[i] = (SCARD_READERSTATE){ .szReader = readers[from + i],
		                             .dwCurrentState = SCARD_STATE_UNAWARE };
	for (;;) {
		left = t0 + ms - uk_now_ms();
		if (left < 0)
			return -1;
		rv = SCardGetStatusChange(ctx, (DWORD)left, rs, n);
		if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT)
			return -1;
		for (i = 0; i < n; i++) {
			if (rs[i].dwEventState & SCARD_STATE_PRESENT)
				return (int)(from + i);
			rs[i].dwCurrentState = rs[i].dwEventState & ~SCARD_STATE_CHANGED;
		}
	}
}

/* A key (ukey-link-peer in PEER mode) that answers the ATR and breaks on the first APDU,
 * with a client in the middle of that exchange. SCardConnect is retried while pcscd is
 * still powering the card up (it shows PRESENT first). */
static void storm_mid_apdu(const char *mode)
{
	static const BYTE cmd[] = { 0x00, 0xA4, 0x04, 0x00, 0x01, 0xF0 };
	BYTE resp[300];
	SCARDHANDLE h;
	DWORD n = sizeof(resp);
	long long end;
	pid_t p;
	LONG rv;
	int r;

	wait_all_empty(1, nreaders);
	p = peer_start(mode, "0");
	UK_CHECK(wait_any_present(1, nreaders, 5000) >= 1);
	/* pcscd may still be reporting an earlier storm key's short life, so the reader that
	 * showed PRESENT first is not necessarily this key's: try each until one connects */
	end = uk_now_ms() + 3000;
	rv = SCARD_E_NO_SMARTCARD;
	while (rv != SCARD_S_SUCCESS && uk_now_ms() < end) {
		for (r = 1; r < (int)nreaders && rv != SCARD_S_SUCCESS; r++)
			rv = connect_reader((unsigned)r, &h);
		if (rv != SCARD_S_SUCCESS)
			usleep(10 * 1000);
	}
	UK_CHECK_EQ(rv, SCARD_S_SUCCESS);
	rv = xmit(h, cmd, sizeof(cmd), resp, &n);
	UK_CHECK(rv != SCARD_S_SUCCESS);
	if (rv != SCARD_S_SUCCESS)
		storm_mid_failed++;
	SCardDisconnect(h, SCARD_LEAVE_CARD);
	peer_stop(p);
}

#define STORM_KEYS 300
#define STORM_WARMUP 30

static void storm_round(unsigned count)
{
	enum storm_kind k;
	long long t;
	unsigned i;

	for (i = 0; i < count; i++) {
		k = kind_of(i);
		t = uk_now_ms();
		if (k == SK_MID_VANISH)
			storm_mid_apdu("vanish");
		else if (k == SK_MID_LENCLOSE)
			storm_mid_apdu("lenclose");
		else
			storm_key(k);
		storm_ms[k] += uk_now_ms() - t;
		storm_n[k]++;
	}
}

static int run_storm(unsigned slots)
{
	pid_t good, pcscd = pcscd_pid();
	worker w;
	usage base, after;
	long long t0;
	unsigned i;

	UK_CHECK(slots >= 3);
	list_readers(slots);
	good = peer_start("echo", "0");
	UK_CHECK(wait_state(0, SCARD_STATE_PRESENT, 5000) >= 0);
	worker_start(&w);
	/* warm-up: pcscd's and the driver's one-time allocations (threads, arenas) */
	storm_round(STORM_WARMUP);
	wait_all_empty(1, slots);
	usleep(500 * 1000);
	base = pcscd_usage(pcscd);
	memset(storm_ms, 0, sizeof(storm_ms));
	memset(storm_n, 0, sizeof(storm_n));
	storm_mid_failed = 0;
	t0 = uk_now_ms();
	storm_round(STORM_KEYS);
	printf("storm: %u link connections in %lld ms; per kind (count/ms):", STORM_KEYS,
	       uk_now_ms() - t0);
	for (i = 0; i < SK_KINDS; i++)
		printf(" %u/%lld", storm_n[i], storm_ms[i]);
	printf("; %u mid-APDU failures seen by the client\n", storm_mid_failed);
	UK_CHECK_EQ(storm_mid_failed, storm_n[SK_MID_VANISH] + storm_n[SK_MID_LENCLOSE]);
	wait_all_empty(1, slots);
	usleep(500 * 1000);
	after = pcscd_usage(pcscd);
	worker_stop(&w);
	check_usage("storm", base, after);
	UK_CHECK(wait_state(0, SCARD_STATE_PRESENT, 100) >= 0);       /* the good key stayed */
	peer_stop(good);
	UK_CHECK(wait_state(0, SCARD_STATE_EMPTY, 5000) >= 0);
	return 0;
}

/* A key that breaks mid-frame in slot 1: error within max_ms, key removed, the good key
 * in slot 0 still answers. */
static void check_stall(const char *mode, long max_ms)
{
	static const BYTE cmd[] = { 0x00, 0xA4, 0x04, 0x00, 0x01, 0xF0 };
	BYTE resp[300];
	SCARDHANDLE h, g;
	DWORD n = sizeof(resp);
	long long t0;
	long ms;
	pid_t p = peer_start(mode, "1");

	printf("mode %s\n", mode);
	UK_CHECK(wait_state(1, SCARD_STATE_PRESENT, 5000) >= 0);
	UK_CHECK_EQ(connect_reader(1, &h), SCARD_S_SUCCESS);
	UK_CHECK_EQ(xmit(h, cmd, sizeof(cmd), resp, &n), SCARD_S_SUCCESS);
	n = sizeof(resp);
	t0 = uk_now_ms();
	UK_CHECK(xmit(h, cmd, sizeof(cmd), resp, &n) != SCARD_S_SUCCESS);
	ms = (long)(uk_now_ms() - t0);
	printf("  error after %ld ms\n", ms);
	UK_CHECK(ms <= max_ms);
	UK_CHECK(wait_state(1, SCARD_STATE_EMPTY, 3000) >= 0);
	SCardDisconnect(h, SCARD_LEAVE_CARD);
	peer_stop(p);
	UK_CHECK_EQ(connect_reader(0, &g), SCARD_S_SUCCESS);
	n = sizeof(resp);
	UK_CHECK_EQ(xmit(g, cmd, sizeof(cmd), resp, &n), SCARD_S_SUCCESS);
	UK_CHECK_EQ(n, sizeof(cmd) + 2);
	SCardDisconnect(g, SCARD_LEAVE_CARD);
}

static int run_stall(unsigned slots)
{
	pid_t good;

	UK_CHECK(slots >= 2);
	list_readers(slots);
	good = peer_start("echo", "0");
	UK_CHECK(wait_state(0, SCARD_STATE_PRESENT, 5000) >= 0);
	/* the length arrived, the body never does: UKI_BODY_TIMEOUT_MS (2 s) ends it */
	check_stall("header", 3500);
	/* the length then EOF: at once */
	check_stall("lenclose", 1000);
	peer_stop(good);
	UK_CHECK(wait_state(0, SCARD_STATE_EMPTY, 5000) >= 0);
	return 0;
}

#define FILL_ROUNDS 4

/* Every slot taken, checked with one APDU each, one more refused, then all pulled. */
static void fill_round(unsigned slots)
{
	static const BYTE cmd[] = { 0x00, 0xA4, 0x04, 0x00, 0x01, 0xF0 };
	pid_t p[UKI_TEST_MAX_SLOTS + 1];
	SCARDHANDLE h;
	BYTE resp[16];
	DWORD n;
	int status = 0;
	unsigned i;

	for (i = 0; i < slots; i++)
		p[i] = peer_start("ok", "0");
	for (i = 0; i < slots; i++)
		UK_CHECK(wait_state(i, SCARD_STATE_PRESENT, 10000) >= 0);
	p[slots] = peer_start("ok", "0");       /* one too many: refused */
	UK_CHECK_EQ(waitpid(p[slots], &status, 0), p[slots]);
	UK_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
	for (i = 0; i < slots; i++) {
		UK_CHECK_EQ(connect_reader(i, &h), SCARD_S_SUCCESS);
		n = sizeof(resp);
		UK_CHECK_EQ(xmit(h, cmd, sizeof(cmd), resp, &n), SCARD_S_SUCCESS);
		UK_CHECK_EQ(n, 2);
		SCardDisconnect(h, SCARD_LEAVE_CARD);
	}
	for (i = 0; i < slots; i++)
		peer_stop(p[i]);
	wait_all_empty(0, slots);
}

static int run_fill(unsigned slots)
{
	pid_t pcscd = pcscd_pid();
	usage base, after;
	long long t0 = uk_now_ms();
	unsigned r;

	list_readers(slots);
	fill_round(slots);
	usleep(500 * 1000);
	base = pcscd_usage(pcscd);
	for (r = 1; r < FILL_ROUNDS; r++)
		fill_round(slots);
	usleep(500 * 1000);
	after = pcscd_usage(pcscd);
	printf("fill: %u rounds of %u keys in %lld ms\n", FILL_ROUNDS, slots, uk_now_ms() - t0);
	check_usage("fill", base, after);
	return 0;
}

typedef struct scenario {
	const char *name;
	int (*run)(unsigned slots);
} scenario;

static const scenario scenarios[] = {
	{ "basic", run_basic }, { "robust", run_robust }, { "storm", run_storm },
	{ "stall", run_stall }, { "fill", run_fill },
};

static int run_scenario(const char *name, unsigned slots)
{
	size_t i;

	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (strcmp(scenarios[i].name, name) == 0)
			return scenarios[i].run(slots);
	fprintf(stderr, "unknown scenario %s\n", name);
	return 1;
}

int main(int argc, char **argv)
{
	unsigned slots;
	int rc;

	if (argc != 4)
		return uk_test_skip("usage: ifd_pcsc_client PEER SLOTS basic|robust|storm|stall|fill");
	signal(SIGPIPE, SIG_IGN);
	peer_path = argv[1];
	slots = (unsigned)atoi(argv[2]);
	link_sock = getenv("UKEY_LINK_SOCK");
	if (link_sock == NULL || getenv("PCSCLITE_CSOCK_NAME") == NULL)
		return uk_test_skip("run me through ifd-pcscd.sh");
	UK_CHECK(slots >= 1 && slots <= 16);
	UK_CHECK_EQ(SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx), SCARD_S_SUCCESS);
	rc = run_scenario(argv[3], slots);
	SCardReleaseContext(ctx);
	if (rc != 0)
		return rc;
	return uk_test_done(argv[3]);
}
