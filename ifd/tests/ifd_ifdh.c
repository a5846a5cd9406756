/* ifd_ifdh: libifd-ukey.so loaded with dlopen and driven through its IFDH* exports the
 * way pcscd drives it (channels per slot, event wait/stop functions, power, transmit),
 * with ukey-link-peer processes as keys, good and misbehaving.
 * usage: ifd_ifdh LIBIFD PEER */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <PCSC/ifdhandler.h>
#include <PCSC/reader.h>

#include "uk_test.h"
#include "uk_time.h"

static RESPONSECODE (*create_by_name)(DWORD, LPSTR);
static RESPONSECODE (*close_channel)(DWORD);
static RESPONSECODE (*get_caps)(DWORD, DWORD, PDWORD, PUCHAR);
static RESPONSECODE (*power)(DWORD, DWORD, PUCHAR, PDWORD);
static RESPONSECODE (*transmit)(DWORD, SCARD_IO_HEADER, PUCHAR, DWORD, PUCHAR, PDWORD,
                                PSCARD_IO_HEADER);
static RESPONSECODE (*presence)(DWORD);
static RESPONSECODE (*control)(DWORD, DWORD, PUCHAR, DWORD, PUCHAR, DWORD, LPDWORD);
static RESPONSECODE (*wait_fn)(DWORD, int);
static RESPONSECODE (*stop_fn)(DWORD);

static const char *peer_path;
static char sock_path[256];

static void *sym(void *h, const char *name)
{
	void *p = dlsym(h, name);

	if (p == NULL) {
		fprintf(stderr, "missing %s\n", name);
		exit(1);
	}
	return p;
}

static pid_t peer_start(const char *mode, const char *after)
{
	pid_t pid = fork();

	if (pid == 0) {
		execl(peer_path, peer_path, "--mode", mode, "--after", after, sock_path, (char *)NULL);
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

/* Wait (as pcscd's event thread does) until the slot shows the wanted presence. */
static int wait_presence(DWORD lun, RESPONSECODE want, int ms)
{
	long long end = uk_now_ms() + ms;

	while (presence(lun) != want) {
		if (uk_now_ms() > end)
			return 0;
		wait_fn(lun, 200);
	}
	return 1;
}

static RESPONSECODE xmit(DWORD lun, const UCHAR *cmd, DWORD n, UCHAR *resp, DWORD *rn)
{
	SCARD_IO_HEADER pci = { .Protocol = 1 }, rpci;

	return transmit(lun, pci, (PUCHAR)cmd, n, resp, rn, &rpci);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d != NULL && readdir(d) != NULL)
		n++;
	if (d != NULL)
		closedir(d);
	return n;
}

static void check_caps(void)
{
	UCHAR buf[64];
	DWORD len = sizeof(buf);

	UK_CHECK_EQ(get_caps(0, TAG_IFD_SLOTS_NUMBER, &len, buf), IFD_SUCCESS);
	UK_CHECK_EQ(len, 1);
	UK_CHECK_EQ(buf[0], 2);
	len = sizeof(wait_fn);
	UK_CHECK_EQ(get_caps(0, TAG_IFD_POLLING_THREAD_WITH_TIMEOUT, &len, (PUCHAR)&wait_fn),
	            IFD_SUCCESS);
	UK_CHECK_EQ(len, sizeof(wait_fn));
	len = sizeof(stop_fn);
	UK_CHECK_EQ(get_caps(0, TAG_IFD_STOP_POLLING_THREAD, &len, (PUCHAR)&stop_fn), IFD_SUCCESS);
	len = sizeof(buf);
	UK_CHECK_EQ(get_caps(0, SCARD_ATTR_VENDOR_NAME, &len, buf), IFD_SUCCESS);
	UK_CHECK_MEM(buf, "ukey", 5);
	len = 0;
	UK_CHECK_EQ(get_caps(0, SCARD_ATTR_VENDOR_NAME, &len, buf), IFD_ERROR_INSUFFICIENT_BUFFER);
	len = sizeof(buf);
	UK_CHECK_EQ(get_caps(0, 0x12345, &len, buf), IFD_ERROR_TAG);
	UK_CHECK_EQ(control(0, 0x42000000 + 1, NULL, 0, buf, sizeof(buf), &len),
	            IFD_ERROR_NOT_SUPPORTED);
}

/* A good key: insert, power, echo round trips, buffer too small, removal. */
static void check_good_key(void)
{
	static const UCHAR want_atr[] = { 0x3B, 0x88, 0x80, 0x01, 0x75, 0x6B, 0x65, 0x79,
	                                  0x2D, 0x65, 0x6D, 0x75, 0x5B };
	static UCHAR cmd[5 + 3000], resp[65536];
	UCHAR atr[MAX_ATR_SIZE];
	DWORD n = sizeof(atr);
	long long t0;
	pid_t p;

	UK_CHECK_EQ(presence(0), IFD_ICC_NOT_PRESENT);
	t0 = uk_now_ms();
	UK_CHECK_EQ(wait_fn(0, 300), IFD_SUCCESS);              /* nothing happens: timeout */
	UK_CHECK(uk_now_ms() - t0 >= 250);
	p = peer_start("echo", "0");
	t0 = uk_now_ms();
	UK_CHECK_EQ(wait_fn(0, 10000), IFD_SUCCESS);
	UK_CHECK(uk_now_ms() - t0 < 2000);                         /* event-driven, not polled */
	UK_CHECK_EQ(presence(0), IFD_ICC_PRESENT);
	UK_CHECK_EQ(presence(1), IFD_ICC_NOT_PRESENT);
	UK_CHECK_EQ(power(0, IFD_POWER_UP, atr, &n), IFD_SUCCESS);
	UK_CHECK_EQ(n, sizeof(want_atr));
	UK_CHECK_MEM(atr, want_atr, sizeof(want_atr));
	n = sizeof(atr);
	UK_CHECK_EQ(get_caps(0, TAG_IFD_ATR, &n, atr), IFD_SUCCESS);
	UK_CHECK_EQ(n, sizeof(want_atr));
	/* extended APDU: 00 D6 00 00 00 0B B8 + 3000 bytes, echoed + 90 00 */
	memcpy(cmd, "\x00\xD6\x00\x00\x00\x0B\xB8", 7);
	for (n = 7; n < sizeof(cmd); n++)
		cmd[n] = (UCHAR)n;
	n = sizeof(resp);
	UK_CHECK_EQ(xmit(0, cmd, sizeof(cmd), resp, &n), IFD_SUCCESS);
	UK_CHECK_EQ(n, sizeof(cmd) + 2);
	UK_CHECK_MEM(resp, cmd, sizeof(cmd));
	UK_CHECK_MEM(resp + sizeof(cmd), "\x90\x00", 2);
	n = 100;
	UK_CHECK_EQ(xmit(0, cmd, sizeof(cmd), resp, &n), IFD_ERROR_INSUFFICIENT_BUFFER);
	n = sizeof(resp);                       /* the link stayed in step */
	UK_CHECK_EQ(xmit(0, cmd, 5, resp, &n), IFD_SUCCESS);
	UK_CHECK_EQ(n, 7);
	n = sizeof(resp);
	UK_CHECK_EQ(xmit(0, cmd, 3, resp, &n), IFD_COMMUNICATION_ERROR);    /* < 4 bytes */
	UK_CHECK_EQ(power(0, IFD_POWER_DOWN, NULL, NULL), IFD_SUCCESS);
	peer_stop(p);
	UK_CHECK(wait_presence(0, IFD_ICC_NOT_PRESENT, 2000));
	n = sizeof(resp);
	UK_CHECK_EQ(xmit(0, cmd, 5, resp, &n), IFD_ICC_NOT_PRESENT);
}

/* Two slots fill in order; a third key is refused (peer exits 3). */
static void check_slots_full(void)
{
	pid_t a = peer_start("ok", "0"), b, c;
	int status = 0;

	UK_CHECK(wait_presence(0, IFD_ICC_PRESENT, 3000));
	b = peer_start("ok", "0");
	UK_CHECK(wait_presence(1, IFD_ICC_PRESENT, 3000));
	c = peer_start("ok", "0");
	UK_CHECK_EQ(waitpid(c, &status, 0), c);
	UK_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 3);
	peer_stop(a);
	UK_CHECK(wait_presence(0, IFD_ICC_NOT_PRESENT, 2000));
	UK_CHECK_EQ(presence(1), IFD_ICC_PRESENT);
	peer_stop(b);
	UK_CHECK(wait_presence(1, IFD_ICC_NOT_PRESENT, 2000));
}

/* A key pulled and another plugged in before pcscd looks again: pcscd is told of the removal
 * once (absent), then of the new key, and its wait returns at once for it. */
static void check_quick_replug(void)
{
	pid_t a = peer_start("ok", "0"), b, c;
	long long t0;

	UK_CHECK(wait_presence(0, IFD_ICC_PRESENT, 3000));
	b = peer_start("ok", "0");
	UK_CHECK(wait_presence(1, IFD_ICC_PRESENT, 3000));
	UK_CHECK_EQ(wait_fn(0, 0), IFD_SUCCESS);                /* pcscd is up to date */
	peer_stop(a);
	c = peer_start("ok", "0");                              /* takes the freed slot 0 */
	usleep(500 * 1000);
	UK_CHECK_EQ(presence(0), IFD_ICC_NOT_PRESENT);          /* the removal, once */
	t0 = uk_now_ms();
	UK_CHECK_EQ(wait_fn(0, 10000), IFD_SUCCESS);
	UK_CHECK(uk_now_ms() - t0 < 2000);                         /* the insertion is pending */
	UK_CHECK_EQ(presence(0), IFD_ICC_PRESENT);
	UK_CHECK_EQ(presence(1), IFD_ICC_PRESENT);
	peer_stop(c);
	UK_CHECK(wait_presence(0, IFD_ICC_NOT_PRESENT, 2000));
	peer_stop(b);
	UK_CHECK(wait_presence(1, IFD_ICC_NOT_PRESENT, 2000));
}

/* A misbehaving key: one good APDU, then the fault removes it, then a good key works. */
static void check_bad_key(const char *mode)
{
	static const UCHAR cmd[] = { 0x00, 0xA4, 0x04, 0x00, 0x01, 0xF0 };
	UCHAR atr[MAX_ATR_SIZE], resp[258];
	DWORD n = sizeof(atr);
	RESPONSECODE rc;
	pid_t p = peer_start(mode, "1");

	printf("mode %s\n", mode);
	UK_CHECK(wait_presence(0, IFD_ICC_PRESENT, 3000));
	rc = power(0, IFD_POWER_UP, atr, &n);
	if (strcmp(mode, "absurd") == 0) {
		UK_CHECK_EQ(rc, IFD_ERROR_POWER_ACTION);
	} else {
		UK_CHECK_EQ(rc, IFD_SUCCESS);
		n = sizeof(resp);
		UK_CHECK_EQ(xmit(0, cmd, sizeof(cmd), resp, &n), IFD_SUCCESS);
		n = sizeof(resp);
		rc = xmit(0, cmd, sizeof(cmd), resp, &n);
		UK_CHECK(rc != IFD_SUCCESS);
		UK_CHECK_EQ(n, 0);
	}
	UK_CHECK_EQ(presence(0), IFD_ICC_NOT_PRESENT);
	peer_stop(p);
	p = peer_start("ok", "0");
	UK_CHECK(wait_presence(0, IFD_ICC_PRESENT, 3000));
	n = sizeof(atr);
	UK_CHECK_EQ(power(0, IFD_POWER_UP, atr, &n), IFD_SUCCESS);
	n = sizeof(resp);
	UK_CHECK_EQ(xmit(0, cmd, sizeof(cmd), resp, &n), IFD_SUCCESS);
	peer_stop(p);
	UK_CHECK(wait_presence(0, IFD_ICC_NOT_PRESENT, 2000));
}

static void *waiter(void *arg)
{
	(void)arg;
	wait_fn(1, 60000);
	return NULL;
}

/* TAG_IFD_STOP_POLLING_THREAD wakes a blocked wait at once and keeps later waits short. */
static void check_stop(void)
{
	pthread_t th;
	long long t0;

	UK_CHECK_EQ(pthread_create(&th, NULL, waiter, NULL), 0);
	usleep(100 * 1000);
	t0 = uk_now_ms();
	UK_CHECK_EQ(stop_fn(1), IFD_SUCCESS);
	pthread_join(th, NULL);
	UK_CHECK(uk_now_ms() - t0 < 1000);
	t0 = uk_now_ms();
	wait_fn(1, 60000);
	UK_CHECK(uk_now_ms() - t0 < 1000);
}

int main(int argc, char **argv)
{
	static const char *const bad[] = { "garbage", "truncated", "absurd", "vanish",
	                                   "silent", "idle" };
	char dir[] = "/tmp/ukey-ifdh.XXXXXX", dev[400];
	struct stat sb;
	void *h;
	int fds;
	size_t i;

	if (argc != 3)
		return uk_test_skip("usage: ifd_ifdh LIBIFD PEER");
	signal(SIGPIPE, SIG_IGN);
	peer_path = argv[2];
	UK_CHECK(mkdtemp(dir) != NULL);
	snprintf(sock_path, sizeof(sock_path), "%s/link.sock", dir);
	snprintf(dev, sizeof(dev), "unix:%s;slots=2;timeout=800", sock_path);
	fds = count_fds();
	h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	UK_CHECK(h != NULL);
	create_by_name = sym(h, "IFDHCreateChannelByName");
	close_channel = sym(h, "IFDHCloseChannel");
	get_caps = sym(h, "IFDHGetCapabilities");
	power = sym(h, "IFDHPowerICC");
	transmit = sym(h, "IFDHTransmitToICC");
	presence = sym(h, "IFDHICCPresence");
	control = sym(h, "IFDHControl");

	UK_CHECK_EQ(create_by_name(0, "unix:relative/path"), IFD_COMMUNICATION_ERROR);
	UK_CHECK_EQ(create_by_name(0, dev), IFD_SUCCESS);
	UK_CHECK_EQ(stat(sock_path, &sb), 0);
	UK_CHECK(S_ISSOCK(sb.st_mode));
	UK_CHECK_EQ(sb.st_mode & 0777, 0600);
	check_caps();
	UK_CHECK_EQ(create_by_name(1, dev), IFD_SUCCESS);
	UK_CHECK(create_by_name(2, dev) != IFD_SUCCESS);        /* only 2 slots */
	check_good_key();
	check_slots_full();
	check_quick_replug();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_bad_key(bad[i]);
	check_stop();
	UK_CHECK_EQ(close_channel(1), IFD_SUCCESS);
	UK_CHECK_EQ(stat(sock_path, &sb), 0);                   /* slot 0 still open */
	UK_CHECK_EQ(close_channel(0), IFD_SUCCESS);
	UK_CHECK(stat(sock_path, &sb) != 0);                    /* socket removed */
	dlclose(h);
	UK_CHECK_EQ(count_fds(), fds);                          /* nothing leaked */
	rmdir(dir);
	return uk_test_done("ifd_ifdh");
}
