/* token_emu_link: ukey-emu over a real AF_UNIX link (vpcd framing, docs/design.md): ATR control,
 * APDUs split over several writes and several frames in one write, two keys with distinct
 * serials, a bad frame closing the link, --retry reconnecting, clean exit on SIGTERM. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "uk_tlv.h"
#include "token_util.h"

static const char *emu_path;

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

static int wait_readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

static int accept_one(int lfd)
{
	UK_CHECK(wait_readable(lfd, 10000));
	return accept(lfd, NULL, NULL);
}

static void write_all(int fd, const void *p, size_t n)
{
	UK_CHECK(write(fd, p, n) == (ssize_t)n);
}

static void read_exact(int fd, uint8_t *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		UK_CHECK(wait_readable(fd, 10000));
		r = read(fd, p, n);
		UK_CHECK(r > 0);
		p += r;
		n -= (size_t)r;
	}
}

/* one response frame; returns its payload length */
static size_t read_frame(int fd, uint8_t *p, size_t cap)
{
	uint8_t hdr[2];
	size_t n;

	read_exact(fd, hdr, 2);
	n = (size_t)hdr[0] << 8 | hdr[1];
	UK_CHECK(n <= cap);
	read_exact(fd, p, n);
	return n;
}

/* ukt_host over the link */
static int link_xfer(void *ctx, const uint8_t *cmd, size_t n, uint8_t *resp, size_t *rlen)
{
	static uint8_t frame[2 + 65535];
	int fd = *(int *)ctx;

	frame[0] = (uint8_t)(n >> 8);
	frame[1] = (uint8_t)n;
	memcpy(frame + 2, cmd, n);
	write_all(fd, frame, n + 2);
	*rlen = read_frame(fd, resp, *rlen);
	return 0;
}

static pid_t spawn_emu(const char *link, const char *state, const char *extra)
{
	pid_t pid = fork();

	UK_CHECK(pid >= 0);
	if (pid == 0) {
		execl(emu_path, emu_path, "--link", link, "--state", state, "--keys", "2", extra,
		      (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int wait_exit(pid_t pid)
{
	int status, i;

	for (i = 0; i < 500; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		usleep(20000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static void serial_of(ukt_host *h, char out[21])
{
	uk_tlv t;

	UK_CHECK_EQ(ukt_host_select(h), 0x9000);
	UK_CHECK_EQ(ukt_host_hex(h, "00CA010000"), 0x9000);
	UK_CHECK_EQ(uk_tlv_find(h->resp, h->rlen, 0x80, &t), 1);
	UK_CHECK_EQ(t.len, 20);
	memcpy(out, t.value, 20);
	out[20] = '\0';
}

static void test_session(int c1)
{
	static const uint8_t atr[] = { 0x3B, 0x88, 0x80, 0x01, 0x75, 0x6B, 0x65, 0x79,
	                               0x2D, 0x65, 0x6D, 0x75, 0x5B };
	static const uint8_t select[] = { 0x00, 0x0B, 0x00, 0xA4, 0x04, 0x00, 0x06, 0xF0, 0x75,
	                                  0x6B, 0x65, 0x79, 0x01 };
	static const uint8_t two[] = { 0x00, 0x04, 0x00, 0xCA, 0x01, 0x01,
	                               0x00, 0x04, 0x00, 0x20, 0x00, 0x81 };
	uint8_t buf[300];

	write_all(c1, "\x00\x01\x01", 3);                       /* power on: not answered */
	write_all(c1, "\x00\x01\x04", 3);                       /* get ATR */
	UK_CHECK_EQ(read_frame(c1, buf, sizeof(buf)), sizeof(atr));
	UK_CHECK_MEM(buf, atr, sizeof(atr));
	write_all(c1, select, 3);                               /* a frame in two writes */
	usleep(50000);
	write_all(c1, select + 3, sizeof(select) - 3);
	UK_CHECK_EQ(read_frame(c1, buf, sizeof(buf)), 17);
	UK_CHECK_EQ(buf[0], 0x6F);
	UK_CHECK_MEM(buf + 15, "\x90\x00", 2);
	write_all(c1, two, sizeof(two));                        /* two frames in one write */
	UK_CHECK(read_frame(c1, buf, sizeof(buf)) > 2);
	UK_CHECK_EQ(read_frame(c1, buf, sizeof(buf)), 2);
	UK_CHECK_MEM(buf, "\x63\xCA", 2);
	write_all(c1, "\x00\x01\x02", 3);                       /* reset: deselects */
	write_all(c1, "\x00\x04\x00\xCA\x01\x00", 6);
	UK_CHECK_EQ(read_frame(c1, buf, sizeof(buf)), 2);
	UK_CHECK_MEM(buf, "\x69\x85", 2);
}

int main(int argc, char **argv)
{
	static ukt_host h1, h2;
	char *dir = tu_tmpdir(), sock[600], link[700], state[600], s1[21], s2[21];
	uint8_t b;
	int lfd, c1, c2;
	pid_t pid;

	if (argc < 2)
		return uk_test_skip("no ukey-emu path");
	emu_path = argv[1];
	snprintf(sock, sizeof(sock), "%s/link.sock", dir);
	snprintf(link, sizeof(link), "unix:%s", sock);
	snprintf(state, sizeof(state), "%s/state", dir);

	/* without a listener and without --retry: exits 1 */
	pid = spawn_emu(link, state, "--once");
	UK_CHECK_EQ(wait_exit(pid), 1);

	lfd = listen_at(sock);
	pid = spawn_emu(link, state, "--once");
	c1 = accept_one(lfd);
	c2 = accept_one(lfd);
	UK_CHECK(c1 >= 0 && c2 >= 0);
	test_session(c1);
	ukt_host_init(&h1, link_xfer, &c1);
	ukt_host_init(&h2, link_xfer, &c2);
	serial_of(&h1, s1);
	serial_of(&h2, s2);
	UK_CHECK(strcmp(s1, s2) != 0);
	UK_CHECK_EQ(ukt_host_open_session(&h1), 0x9000);
	UK_CHECK_EQ(ukt_host_verify(&h1, 0x81, "user1234", 8), 0x9000);
	UK_CHECK_EQ(ukt_host_create_container(&h1, "over the link"), 0x9000);
	UK_CHECK_EQ(ukt_host_generate(&h1, 0, 1, NULL), 0x9000);
	/* a zero-length frame is no message of the protocol: the link is closed */
	write_all(c2, "\x00\x00", 2);
	UK_CHECK(wait_readable(c2, 10000));
	UK_CHECK_EQ(read(c2, &b, 1), 0);
	close(c2);
	UK_CHECK_EQ(kill(pid, SIGTERM), 0);
	UK_CHECK_EQ(wait_exit(pid), 0);
	close(c1);

	/* --retry: reconnects after the driver drops the link; the state persisted */
	pid = spawn_emu(link, state, "--retry");
	c1 = accept_one(lfd);
	c2 = accept_one(lfd);
	UK_CHECK(c1 >= 0 && c2 >= 0);
	close(c1);
	c1 = accept_one(lfd);
	UK_CHECK(c1 >= 0);
	ukt_host_init(&h1, link_xfer, &c1);
	ukt_host_init(&h2, link_xfer, &c2);
	serial_of(&h1, s1);
	serial_of(&h2, s2);
	UK_CHECK(strcmp(s1, s2) != 0);
	UK_CHECK_EQ(ukt_host_hex(&h1, "00CA0102000000"), 0x9000);  /* key 0 kept its container */
	UK_CHECK(h1.rlen > 13);
	UK_CHECK(memmem(h1.resp, h1.rlen, "over the link", 13) != NULL);
	UK_CHECK_EQ(ukt_host_hex(&h2, "00CA0102000000"), 0x9000);
	UK_CHECK_EQ(h2.rlen, 0);
	UK_CHECK_EQ(kill(pid, SIGINT), 0);
	UK_CHECK_EQ(wait_exit(pid), 0);
	close(c1);
	close(c2);
	close(lfd);
	tu_rmdir(dir);
	free(dir);
	return uk_test_done("token_emu_link");
}
