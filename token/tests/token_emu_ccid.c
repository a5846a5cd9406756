/* token_emu_ccid: ukey-emu --link usb:PATH (docs/ccid.md "The emulated key's CCID face")
 * against this test's own minimal usbsock bus and CCID host (written from CCID 1.1 and
 * docs/ccid.md, not from the ifd's CCID layer): descriptors, NotifySlotChange, IccPowerOn
 * (the ATR of the vpcd link), GetSlotStatus, APDUs with chaining both ways at a small
 * dwMaxCCIDMessageLength (hash checked against OpenSSL's SM3), unknown commands, bSeq echo,
 * control requests, every `ctl ccid` fault, remove/insert, latency, refuse, power loss, and
 * the short APDU level. */
#define _GNU_SOURCE
#include <errno.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "token_util.h"
#include "uk_time.h"

#define MAXLEN 64               /* --ccid-maxlen of the main run: 54 data bytes a message */
#define WAIT_MS 10000

static const char *emu_path;
static char ctl_path[600];

typedef struct host {
	int fd;
	uint8_t seq;
	size_t maxlen;
	size_t max_in;          /* largest I transfer seen */
	unsigned te;            /* time extensions seen */
	uint8_t chain[16];      /* bChainParameter of each DataBlock of the last xfr */
	size_t nchain;
} host;

static int wait_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

static int listen_at(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	UK_CHECK(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	UK_CHECK(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path));
	unlink(path);
	UK_CHECK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	UK_CHECK(listen(fd, 4) == 0);
	return fd;
}

static int accept_one(int lfd)
{
	int fd;

	UK_CHECK(wait_readable(lfd, WAIT_MS));
	fd = accept(lfd, NULL, NULL);
	UK_CHECK(fd >= 0);
	return fd;
}

static void write_all(int fd, const void *p, size_t n)
{
	UK_CHECK(write(fd, p, n) == (ssize_t)n);
}

/* 0 at end of stream before the first byte, else 1 (all n bytes). */
static int read_exact(int fd, uint8_t *p, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		UK_CHECK(wait_readable(fd, WAIT_MS));
		r = read(fd, p + got, n - got);
		if (r == 0 && got == 0)
			return 0;
		UK_CHECK(r > 0);
		got += (size_t)r;
	}
	return 1;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- usbsock ---- */

static size_t usb_read(int fd, uint8_t *type, uint8_t *p, size_t cap)
{
	uint8_t hdr[5];
	size_t n;

	UK_CHECK(read_exact(fd, hdr, 5) == 1);
	*type = hdr[0];
	n = le32(hdr + 1);
	UK_CHECK(n <= cap);
	if (n > 0)
		UK_CHECK(read_exact(fd, p, n) == 1);
	return n;
}

static void usb_write(int fd, uint8_t type, const uint8_t *p, size_t n)
{
	uint8_t buf[5 + 70000];

	buf[0] = type;
	put32(buf + 1, (uint32_t)n);
	memcpy(buf + 5, p, n);
	write_all(fd, buf, 5 + n);
}

static void check_closed(int fd)
{
	uint8_t b;

	UK_CHECK(wait_readable(fd, WAIT_MS));
	UK_CHECK_EQ(read(fd, &b, 1), 0);
}

static void check_silent(int fd, int ms)
{
	UK_CHECK(!wait_readable(fd, ms));
}

/* ---- CCID host ---- */

static void pc_msg(host *h, uint8_t type, const uint8_t *data, size_t n, uint8_t b7,
                   uint16_t level)
{
	uint8_t m[10 + 66000];

	m[0] = type;
	put32(m + 1, (uint32_t)n);
	m[5] = 0;
	m[6] = ++h->seq;
	m[7] = b7;
	m[8] = (uint8_t)level;
	m[9] = (uint8_t)(level >> 8);
	if (n > 0)
		memcpy(m + 10, data, n);
	usb_write(h->fd, 'O', m, 10 + n);
}

/* One RDR_to_PC message gathered from I transfers (by its dwLength). */
static size_t rdr_read(host *h, uint8_t *m, size_t cap)
{
	size_t got = 0, want = 10, n;
	uint8_t type;

	while (got < want) {
		n = usb_read(h->fd, &type, m + got, cap - got);
		UK_CHECK_EQ(type, 'I');
		UK_CHECK(n > 0);
		if (n > h->max_in)
			h->max_in = n;
		got += n;
		if (got >= 10)
			want = 10 + le32(m + 1);
	}
	UK_CHECK_EQ(got, want);
	return got;
}

/* The answer to the command just sent: time extensions counted and skipped, bSeq checked. */
static size_t rdr_answer(host *h, uint8_t *m, size_t cap)
{
	size_t n;

	for (;;) {
		n = rdr_read(h, m, cap);
		UK_CHECK_EQ(m[6], h->seq);
		if ((m[7] >> 6) != 2)
			return n;
		UK_CHECK_EQ(m[0], 0x80);
		UK_CHECK_EQ(m[8], 1);
		h->te++;
	}
}

/* A command without data; the answer's type, status and error are checked. */
static size_t simple(host *h, uint8_t type, uint8_t *m, uint8_t want_type, uint8_t want_status,
                     uint8_t want_error)
{
	size_t n;

	pc_msg(h, type, NULL, 0, 0, 0);
	n = rdr_answer(h, m, 300);
	UK_CHECK_EQ(m[0], want_type);
	UK_CHECK_EQ(m[7], want_status);
	UK_CHECK_EQ(m[8], want_error);
	return n;
}

/* XfrBlock at the extended APDU level, chaining by CCID 1.1 §6.1.4 / §6.2.1. */
static size_t xfr(host *h, const uint8_t *cmd, size_t n, uint8_t *resp, size_t cap)
{
	static uint8_t m[10 + 66000];
	size_t max = h->maxlen - 10, off = 0, part, got = 0, mn;
	uint16_t level;

	h->nchain = 0;
	do {            /* the command, in blocks of at most max bytes */
		part = n - off < max ? n - off : max;
		level = n <= max ? 0 : off == 0 ? 1 : off + part == n ? 2 : 3;
		pc_msg(h, 0x6F, cmd + off, part, 0, level);
		off += part;
		mn = rdr_answer(h, m, sizeof(m));
		UK_CHECK_EQ(m[0], 0x80);
		UK_CHECK_EQ(m[7], 0);
		if (level == 1 || level == 3) {
			UK_CHECK_EQ(mn, 10);
			UK_CHECK_EQ(m[9], 0x10);
		}
	} while (off < n);
	for (;;) {      /* the answer, fetched with wLevelParameter 0x10 while it continues */
		UK_CHECK(mn - 10 <= max && got + mn - 10 <= cap);
		memcpy(resp + got, m + 10, mn - 10);
		got += mn - 10;
		if (h->nchain < sizeof(h->chain))
			h->chain[h->nchain++] = m[9];
		if (m[9] == 0 || m[9] == 2)
			return got;
		UK_CHECK(m[9] == 1 || m[9] == 3);
		pc_msg(h, 0x6F, NULL, 0, 0, 0x10);
		mn = rdr_answer(h, m, sizeof(m));
		UK_CHECK_EQ(m[0], 0x80);
		UK_CHECK_EQ(m[7], 0);
	}
}

static uint16_t sw_of(const uint8_t *r, size_t n)
{
	UK_CHECK(n >= 2);
	return (uint16_t)(r[n - 2] << 8 | r[n - 1]);
}

static const uint8_t select_apdu[] = { 0x00, 0xA4, 0x04, 0x00, 0x06, 0xF0, 0x75,
                                       0x6B, 0x65, 0x79, 0x01 };

/* ---- the control socket ---- */

static int ctl(char *reply, size_t cap, const char *fmt, ...)
{
	char line[256];
	size_t len = 0;
	va_list ap;
	ssize_t r;
	int fd = -1, i;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	strcat(line, "\n");
	for (i = 0; i < 200 && fd < 0; i++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		memcpy(sa.sun_path, ctl_path, strlen(ctl_path));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
			close(fd);
			fd = -1;
			usleep(20000);
		}
	}
	UK_CHECK(fd >= 0);
	write_all(fd, line, strlen(line));
	while (memchr(reply, '\n', len) == NULL) {
		UK_CHECK(wait_readable(fd, WAIT_MS) && len + 1 < cap);
		r = read(fd, reply + len, cap - 1 - len);
		UK_CHECK(r > 0);
		len += (size_t)r;
	}
	close(fd);
	reply[strcspn(reply, "\n")] = '\0';
	return strncmp(reply, "ok", 2) == 0 ? 0 : -1;
}

static void ctl_ok(const char *cmd)
{
	char reply[1100];

	int r = ctl(reply, sizeof(reply), "%s", cmd);

	if (r != 0)
		fprintf(stderr, "%s: %s\n", cmd, reply);
	UK_CHECK_EQ(r, 0);
}

/* ---- processes ---- */

static pid_t spawn(char *const argv[])
{
	pid_t pid = fork();

	UK_CHECK(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);       /* never outlive a failed test */
		execv(emu_path, argv);
		_exit(127);
	}
	return pid;
}

static void stop(pid_t pid)
{
	int status;

	UK_CHECK_EQ(kill(pid, SIGTERM), 0);
	UK_CHECK_EQ(waitpid(pid, &status, 0), pid);
	UK_CHECK(WIFEXITED(status));
}

/* The ATR and GET DATA 01 00 of the key over the vpcd link, to compare. */
static size_t vpcd_facts(const char *dir, const char *state, uint8_t *atr, uint8_t *info,
                         size_t *info_len)
{
	char sock[600], link[700];
	uint8_t buf[600], hdr[2];
	static const uint8_t getdata[] = { 0x00, 0x05, 0x00, 0xCA, 0x01, 0x00, 0x00 };
	size_t n;
	int lfd, fd;
	pid_t pid;

	snprintf(sock, sizeof(sock), "%s/vpcd.sock", dir);
	snprintf(link, sizeof(link), "unix:%s", sock);
	lfd = listen_at(sock);
	pid = spawn((char *[]){ (char *)emu_path, "--link", link, "--state", (char *)state,
	                        "--once", NULL });
	fd = accept_one(lfd);
	write_all(fd, "\x00\x01\x04", 3);
	UK_CHECK(read_exact(fd, hdr, 2));
	n = (size_t)hdr[0] << 8 | hdr[1];
	UK_CHECK(n <= 33);
	UK_CHECK(read_exact(fd, atr, n));
	buf[0] = 0;
	buf[1] = sizeof(select_apdu);
	memcpy(buf + 2, select_apdu, sizeof(select_apdu));
	write_all(fd, buf, 2 + sizeof(select_apdu));
	UK_CHECK(read_exact(fd, hdr, 2));
	UK_CHECK(read_exact(fd, buf, (size_t)hdr[0] << 8 | hdr[1]));
	write_all(fd, getdata, sizeof(getdata));
	UK_CHECK(read_exact(fd, hdr, 2));
	*info_len = (size_t)hdr[0] << 8 | hdr[1];
	UK_CHECK(*info_len <= 600);
	UK_CHECK(read_exact(fd, info, *info_len));
	close(fd);
	close(lfd);
	stop(pid);
	return n;
}

/* ---- checks ---- */

/* D: the device descriptor and configuration of docs/ccid.md; returns the connection. */
static void check_descriptors(int fd, uint32_t features, uint32_t maxlen)
{
	static const uint8_t dev[18] = { 18, 1, 0x00, 0x02, 0, 0, 0, 64, 0x09, 0x12,
	                                 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 1 };
	uint8_t d[300], type, eps = 0;
	size_t n = usb_read(fd, &type, d, sizeof(d)), off, total;
	const uint8_t *c = NULL;

	UK_CHECK_EQ(type, 'D');
	UK_CHECK(n > 18 + 9);
	UK_CHECK_MEM(d, dev, 18);
	UK_CHECK_EQ(d[18], 9);
	UK_CHECK_EQ(d[19], 2);                  /* CONFIGURATION */
	total = (size_t)d[20] | (size_t)d[21] << 8;
	UK_CHECK_EQ(n, 18 + total);
	UK_CHECK_EQ(d[22], 1);                  /* bNumInterfaces */
	for (off = 18 + 9; off < n; off += d[off]) {
		UK_CHECK(d[off] >= 2 && off + d[off] <= n);
		if (d[off + 1] == 4) {          /* INTERFACE: CCID class, 3 endpoints */
			UK_CHECK_EQ(d[off + 4], 3);
			UK_CHECK_EQ(d[off + 5], 0x0B);
			UK_CHECK_EQ(d[off + 6], 0);
			UK_CHECK_EQ(d[off + 7], 0);
		} else if (d[off + 1] == 0x21) {
			c = d + off;
		} else if (d[off + 1] == 5) {   /* ENDPOINT */
			const uint8_t *e = d + off;

			UK_CHECK(e[2] == 0x01 || e[2] == 0x82 || e[2] == 0x83);
			UK_CHECK_EQ(e[3], e[2] == 0x83 ? 3 : 2);       /* interrupt : bulk */
			if (e[2] == 0x82)
				UK_CHECK(e[4] == 64 && e[5] == 0);
			if (e[2] == 0x83)
				UK_CHECK(e[4] == 8 && e[6] == 16);
			eps |= (uint8_t)(1u << (e[2] & 3));
		}
	}
	UK_CHECK_EQ(eps, 0x0E);
	UK_CHECK(c != NULL);
	UK_CHECK_EQ(c[0], 54);
	UK_CHECK_EQ(c[2] | c[3] << 8, 0x0110);  /* bcdCCID */
	UK_CHECK_EQ(c[4], 0);                   /* bMaxSlotIndex */
	UK_CHECK_EQ(c[5], 7);                   /* bVoltageSupport */
	UK_CHECK_EQ(le32(c + 6), 2);            /* dwProtocols: T=1 */
	UK_CHECK_EQ(le32(c + 40), features);
	UK_CHECK_EQ(le32(c + 44), maxlen);
	UK_CHECK_EQ(c[53], 1);                  /* bMaxCCIDBusySlots */
}

static void check_notify(int fd)
{
	uint8_t b[8], type;

	UK_CHECK_EQ(usb_read(fd, &type, b, sizeof(b)), 2);
	UK_CHECK_EQ(type, 'N');
	UK_CHECK_EQ(b[0], 0x50);
	UK_CHECK_EQ(b[1], 0x03);                /* slot 0 present, changed */
}

static void power_on(host *h, const uint8_t *atr, size_t atr_len)
{
	uint8_t m[300];
	size_t n = simple(h, 0x62, m, 0x80, 0x00, 0);

	UK_CHECK_EQ(n, 10 + atr_len);
	UK_CHECK_MEM(m + 10, atr, atr_len);
}

static void test_basics(host *h, const uint8_t *atr, size_t atr_len)
{
	uint8_t m[300], type;
	static const uint8_t clock_req[8] = { 0xA1, 0x02, 0, 0, 0, 0, 4, 0 };
	static const uint8_t abort_req[8] = { 0x21, 0x01, 0, 0, 0, 0, 0, 0 };
	static const uint8_t bad_req[8] = { 0xA1, 0x09, 0, 0, 0, 0, 4, 0 };

	simple(h, 0x65, m, 0x81, 0x01, 0);      /* present, not active before IccPowerOn */
	power_on(h, atr, atr_len);
	simple(h, 0x65, m, 0x81, 0x00, 0);
	h->seq = 0xFE;                          /* bSeq echoed, wrapping */
	simple(h, 0x65, m, 0x81, 0x00, 0);
	simple(h, 0x65, m, 0x81, 0x00, 0);
	UK_CHECK_EQ(m[6], 0x00);
	simple(h, 0x99, m, 0x81, 0x40, 0x00);   /* unknown: failed, command not supported */
	simple(h, 0x6B, m, 0x81, 0x40, 0x00);   /* Escape is not supported either */
	UK_CHECK_EQ(simple(h, 0x6C, m, 0x82, 0x00, 0), 17);     /* GetParameters: T=1 */
	UK_CHECK_EQ(m[9], 1);
	usb_write(h->fd, 'C', clock_req, 8);
	UK_CHECK_EQ(usb_read(h->fd, &type, m, sizeof(m)), 5);
	UK_CHECK(type == 'c' && m[0] == 0 && le32(m + 1) > 0);
	usb_write(h->fd, 'C', abort_req, 8);
	UK_CHECK_EQ(usb_read(h->fd, &type, m, sizeof(m)), 1);
	UK_CHECK(type == 'c' && m[0] == 0);
	usb_write(h->fd, 'C', bad_req, 8);      /* unknown request: stall */
	UK_CHECK_EQ(usb_read(h->fd, &type, m, sizeof(m)), 1);
	UK_CHECK(type == 'c' && m[0] == 1);
	simple(h, 0x72, m, 0x81, 0x00, 0);      /* PC_to_RDR_Abort */
}

static void test_apdus(host *h, const uint8_t *info, size_t info_len)
{
	static const uint8_t getdata[] = { 0x00, 0xCA, 0x01, 0x00, 0x00 };
	static const uint8_t chal8[] = { 0x00, 0x84, 0x00, 0x00, 0x08 };
	static const uint8_t chal256[] = { 0x00, 0x84, 0x00, 0x00, 0x00 };
	uint8_t r[1024], cmd[400], md[32];
	unsigned mdlen = 0;
	size_t n, i;

	n = xfr(h, select_apdu, sizeof(select_apdu), r, sizeof(r));
	UK_CHECK_EQ(sw_of(r, n), 0x9000);
	n = xfr(h, chal8, sizeof(chal8), r, sizeof(r));
	UK_CHECK_EQ(n, 10);
	UK_CHECK_EQ(sw_of(r, n), 0x9000);
	/* the same bytes as over the vpcd link, chained when longer than 54 */
	n = xfr(h, getdata, sizeof(getdata), r, sizeof(r));
	UK_CHECK_EQ(n, info_len);
	UK_CHECK_MEM(r, info, n);
	/* 256 + 2 bytes of answer: 54 54 54 54 42 with bChainParameter 1 3 3 3 2 */
	n = xfr(h, chal256, sizeof(chal256), r, sizeof(r));
	UK_CHECK_EQ(n, 258);
	UK_CHECK_EQ(sw_of(r, n), 0x9000);
	UK_CHECK_EQ(h->nchain, 5);
	UK_CHECK_MEM(h->chain, "\x01\x03\x03\x03\x02", 5);
	/* a 309-byte command (PSO: HASH, extended Lc) in 6 blocks; the digest is OpenSSL's */
	memcpy(cmd, "\x00\x2A\x90\x80\x00\x01\x2C", 7);
	for (i = 0; i < 300; i++)
		cmd[7 + i] = (uint8_t)(i * 7 + 1);
	cmd[307] = 0;
	cmd[308] = 0;
	n = xfr(h, cmd, 309, r, sizeof(r));
	UK_CHECK_EQ(n, 34);
	UK_CHECK_EQ(sw_of(r, n), 0x9000);
	UK_CHECK_EQ(EVP_Digest(cmd + 7, 300, md, &mdlen, EVP_sm3(), NULL), 1);
	UK_CHECK_MEM(r, md, 32);
	/* a continue block with no chain begun: bad wLevelParameter (offset 8) */
	pc_msg(h, 0x6F, cmd, 4, 0, 3);
	rdr_answer(h, r, sizeof(r));
	UK_CHECK(r[0] == 0x80 && r[7] == 0x40 && r[8] == 8);
	/* a block longer than dwMaxCCIDMessageLength - 10: bad dwLength */
	pc_msg(h, 0x6F, cmd, 60, 0, 0);
	rdr_answer(h, r, sizeof(r));
	UK_CHECK(r[0] == 0x80 && r[7] == 0x40 && r[8] == 1);
}

static void test_faults(host *h)
{
	static const uint8_t chal8[] = { 0x00, 0x84, 0x00, 0x00, 0x08 };
	uint8_t r[1024], m[300], type;
	char reply[1100];
	size_t n;

	ctl_ok("ccid 0 timeext 3");
	h->te = 0;
	n = xfr(h, chal8, sizeof(chal8), r, sizeof(r));
	UK_CHECK(n == 10 && h->te == 3);
	h->te = 0;
	simple(h, 0x65, m, 0x81, 0x00, 0);      /* only XfrBlock answers wait */
	UK_CHECK_EQ(h->te, 0);
	ctl_ok("ccid 0 split 7");
	UK_CHECK_EQ(ctl(reply, sizeof(reply), "list"), 0);
	UK_CHECK(strstr(reply, "ccid-timeext=3+ccid-split=7") != NULL);
	ctl_ok("clear 0");
	ctl_ok("ccid 0 split 7");
	h->max_in = 0;
	n = xfr(h, select_apdu, sizeof(select_apdu), r, sizeof(r));
	UK_CHECK_EQ(sw_of(r, n), 0x9000);
	UK_CHECK_EQ(h->max_in, 7);
	ctl_ok("clear 0");
	UK_CHECK_EQ(ctl(reply, sizeof(reply), "list"), 0);
	UK_CHECK(strstr(reply, "ccid-") == NULL);

	ctl_ok("ccid 0 stall");                 /* S instead of the answer; after H it works */
	pc_msg(h, 0x65, NULL, 0, 0, 0);
	UK_CHECK_EQ(usb_read(h->fd, &type, m, sizeof(m)), 0);
	UK_CHECK_EQ(type, 'S');
	usb_write(h->fd, 'H', (const uint8_t *)"\x82", 1);
	simple(h, 0x65, m, 0x81, 0x00, 0);

	ctl_ok("ccid 0 short");                 /* half of the 10 bytes, then nothing */
	pc_msg(h, 0x65, NULL, 0, 0, 0);
	UK_CHECK_EQ(usb_read(h->fd, &type, m, sizeof(m)), 5);
	UK_CHECK_EQ(type, 'I');
	check_silent(h->fd, 300);
	simple(h, 0x65, m, 0x81, 0x00, 0);

	ctl_ok("ccid 0 mute");
	pc_msg(h, 0x6F, chal8, sizeof(chal8), 0, 0);
	rdr_answer(h, m, sizeof(m));
	UK_CHECK(m[0] == 0x80 && m[7] == 0x40 && m[8] == 0xFE);
	UK_CHECK_EQ(xfr(h, chal8, sizeof(chal8), r, sizeof(r)), 10);

	ctl_ok("ccid 0 busy");
	simple(h, 0x65, m, 0x81, 0x40, 0xE0);
	simple(h, 0x65, m, 0x81, 0x00, 0);

	ctl_ok("ccid 0 badseq");                /* a stale bSeq first, then the right one */
	pc_msg(h, 0x65, NULL, 0, 0, 0);
	rdr_read(h, m, sizeof(m));
	UK_CHECK(m[0] == 0x81 && m[6] != h->seq);
	rdr_read(h, m, sizeof(m));
	UK_CHECK(m[0] == 0x81 && m[6] == h->seq && m[7] == 0);

	ctl_ok("ccid 0 hwerror");               /* RDR_to_PC_HardwareError on interrupt IN */
	UK_CHECK_EQ(usb_read(h->fd, &type, m, sizeof(m)), 4);
	UK_CHECK(type == 'N' && m[0] == 0x51 && m[1] == 0 && m[2] == h->seq);

	UK_CHECK(ctl(reply, sizeof(reply), "ccid 0 bogus") != 0);
	UK_CHECK(ctl(reply, sizeof(reply), "ccid 0 split") != 0);
	UK_CHECK(ctl(reply, sizeof(reply), "ccid 0 stall 3") != 0);
	UK_CHECK(ctl(reply, sizeof(reply), "ccid 7 stall") != 0);
}

/* latency, refuse as on the vpcd link */
static void test_link_faults(host *h)
{
	static const uint8_t chal8[] = { 0x00, 0x84, 0x00, 0x00, 0x08 };
	uint8_t r[300], m[300];
	long long t0;

	ctl_ok("latency 0 300");
	t0 = uk_now_ms();
	UK_CHECK_EQ(xfr(h, chal8, sizeof(chal8), r, sizeof(r)), 10);
	UK_CHECK(uk_now_ms() - t0 >= 300);
	ctl_ok("clear 0");
	ctl_ok("refuse 0 on");
	pc_msg(h, 0x65, NULL, 0, 0, 0);
	check_silent(h->fd, 300);
	ctl_ok("refuse 0 off");
	simple(h, 0x65, m, 0x81, 0x00, 0);
}

/* remove/insert, drop, power loss: the connection ends; a new one starts with D. */
static int test_plug(host *h, int lfd, const uint8_t *atr, size_t atr_len)
{
	uint8_t m[300];

	ctl_ok("remove 0");
	check_closed(h->fd);
	close(h->fd);
	ctl_ok("insert 0");
	h->fd = accept_one(lfd);
	check_descriptors(h->fd, 0x000404BE, MAXLEN);
	check_notify(h->fd);
	simple(h, 0x65, m, 0x81, 0x01, 0);      /* a new plug-in: not powered yet */
	power_on(h, atr, atr_len);

	ctl_ok("ccid 0 drop");                  /* the connection ends, no answer */
	pc_msg(h, 0x65, NULL, 0, 0, 0);
	check_closed(h->fd);
	close(h->fd);
	ctl_ok("insert 0");
	h->fd = accept_one(lfd);
	check_descriptors(h->fd, 0x000404BE, MAXLEN);
	check_notify(h->fd);
	power_on(h, atr, atr_len);
	return h->fd;
}

static int host_xfer(void *ctx, const uint8_t *cmd, size_t n, uint8_t *resp, size_t *rlen)
{
	*rlen = xfr(ctx, cmd, n, resp, *rlen);
	return 0;
}

/* Power loss at the next state write (a wrong PIN writes the try counter first): no answer,
 * the device is unplugged and stays out until `insert`. The secure session runs through
 * ukt_host over this test's XfrBlock. */
static void test_powerloss(host *h, int lfd, const uint8_t *atr, size_t atr_len)
{
	static ukt_host uh;
	uk_buf apdu;

	ukt_host_init(&uh, host_xfer, h);
	UK_CHECK_EQ(ukt_host_select(&uh), 0x9000);
	UK_CHECK_EQ(ukt_host_open_session(&uh), 0x9000);
	uk_buf_init(&apdu, 0, 0);
	UK_CHECK_EQ(ukt_host_build_secured(&uh, 0x00, 0x20, 0x00, 0x81, (const uint8_t *)"wrong999",
	                                   8, 1, UKT_HOST_NO_LE, &apdu), 0);
	UK_CHECK(apdu.len <= h->maxlen - 10);
	ctl_ok("powerloss 0");
	pc_msg(h, 0x6F, apdu.data, apdu.len, 0, 0);
	uk_buf_free(&apdu);
	check_closed(h->fd);
	close(h->fd);
	ctl_ok("insert 0");
	h->fd = accept_one(lfd);
	check_descriptors(h->fd, 0x000404BE, MAXLEN);
	check_notify(h->fd);
	power_on(h, atr, atr_len);
	UK_CHECK_EQ(ukt_host_select(&uh), 0x9000);
}

static void test_short_level(const char *dir, const char *state, const uint8_t *atr,
                             size_t atr_len)
{
	char sock[600], link[700];
	uint8_t cmd[262] = { 0x00, 0xA4, 0x04, 0x00 }, m[400];
	host h = { .maxlen = 271 };
	int lfd;
	pid_t pid;
	size_t n;

	snprintf(sock, sizeof(sock), "%s/usb-short.sock", dir);
	snprintf(link, sizeof(link), "usb:%s", sock);
	lfd = listen_at(sock);
	pid = spawn((char *[]){ (char *)emu_path, "--link", link, "--state", (char *)state,
	                        "--ccid-level", "short", "--once", NULL });
	h.fd = accept_one(lfd);
	check_descriptors(h.fd, 0x000204BE, 271);
	check_notify(h.fd);
	power_on(&h, atr, atr_len);
	pc_msg(&h, 0x6F, select_apdu, sizeof(select_apdu), 0, 0);
	n = rdr_answer(&h, m, sizeof(m));
	UK_CHECK(m[0] == 0x80 && m[7] == 0 && m[9] == 0);
	UK_CHECK_EQ(sw_of(m + 10, n - 10), 0x9000);
	pc_msg(&h, 0x6F, cmd, sizeof(cmd), 0, 0);       /* 262 > 261: bad dwLength */
	rdr_answer(&h, m, sizeof(m));
	UK_CHECK(m[0] == 0x80 && m[7] == 0x40 && m[8] == 1);
	pc_msg(&h, 0x6F, cmd, 4, 0, 1);                 /* no chaining at the short level */
	rdr_answer(&h, m, sizeof(m));
	UK_CHECK(m[0] == 0x80 && m[7] == 0x40 && m[8] == 8);
	close(h.fd);
	close(lfd);
	stop(pid);
}

int main(int argc, char **argv)
{
	char *dir = tu_tmpdir(), sock[600], link[700], state[600], maxlen[16];
	uint8_t atr[40], info[600];
	size_t atr_len, info_len;
	host h = { .maxlen = MAXLEN };
	int lfd;
	pid_t pid;

	if (argc < 2)
		return uk_test_skip("no ukey-emu path");
	emu_path = argv[1];
	signal(SIGPIPE, SIG_IGN);
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(sock, sizeof(sock), "%s/usb.sock", dir);
	snprintf(link, sizeof(link), "usb:%s", sock);
	snprintf(ctl_path, sizeof(ctl_path), "%s/emu.ctl", dir);
	snprintf(maxlen, sizeof(maxlen), "%d", MAXLEN);
	atr_len = vpcd_facts(dir, state, atr, info, &info_len);
	UK_CHECK(info_len > MAXLEN - 10);       /* so that the answer is chained */

	lfd = listen_at(sock);
	pid = spawn((char *[]){ (char *)emu_path, "--link", link, "--state", state, "--control",
	                        ctl_path, "--ccid-maxlen", maxlen, "--once", NULL });
	h.fd = accept_one(lfd);
	check_descriptors(h.fd, 0x000404BE, MAXLEN);
	check_notify(h.fd);
	test_basics(&h, atr, atr_len);
	test_apdus(&h, info, info_len);
	test_faults(&h);
	test_link_faults(&h);
	test_plug(&h, lfd, atr, atr_len);
	test_powerloss(&h, lfd, atr, atr_len);
	close(h.fd);
	close(lfd);
	stop(pid);
	test_short_level(dir, state, atr, atr_len);
	tu_rmdir(dir);
	free(dir);
	return uk_test_done("token_emu_ccid");
}
