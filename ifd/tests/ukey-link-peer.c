/* ukey-link-peer: a minimal card on the ukey link (vpcd framing), for the ifd tests and
 * as the "bare PC/SC floor" card of the round-trip benchmark.
 *
 *   ukey-link-peer [--mode MODE] [--after N] SOCKET
 *
 * Connects to the driver's socket, answers "get ATR" with the ukey-emu ATR and every
 * APDU with 90 00 (mode ok) or with the command echoed followed by 90 00 (mode echo).
 * Misbehaving modes act on the first APDU after N good ones (--after, default 0):
 *   garbage     answer a zero-length frame followed by junk
 *   truncated   announce 10 bytes, send 3, then stay silent
 *   absurd      answer "get ATR" with a 4096-byte ATR frame (no APDU needed)
 *   vanish      close the connection without answering
 *   silent      never answer (stay connected)
 *   idle        send unsolicited bytes after the N good answers, then behave
 *   header      send a frame's 2-byte length (10) and nothing more, staying connected
 *   lenclose    send a frame's 2-byte length (10), then close the connection
 * Exit status: 0 when the driver closes the link, 3 when it closes before any control
 * (refused), 2 on usage or connect errors. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* docs/apdu.md: 3B 88 80 01 "ukey-emu" TCK (TCK = XOR of T0..last historical byte) */
static const uint8_t atr[] = { 0x3B, 0x88, 0x80, 0x01, 0x75, 0x6B, 0x65, 0x79,
                               0x2D, 0x65, 0x6D, 0x75, 0x5B };

enum mode { M_OK, M_ECHO, M_GARBAGE, M_TRUNCATED, M_ABSURD, M_VANISH, M_SILENT, M_IDLE,
            M_HEADER, M_LENCLOSE };

static const char *const mode_names[] = {
	"ok", "echo", "garbage", "truncated", "absurd", "vanish", "silent", "idle",
	"header", "lenclose",
};

static int read_exact(int fd, uint8_t *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		r = write(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* One frame in one write, as the link contract asks. */
static int send_frame(int fd, const uint8_t *p, size_t n)
{
	static uint8_t buf[2 + 65535];

	buf[0] = (uint8_t)(n >> 8);
	buf[1] = (uint8_t)n;
	memcpy(buf + 2, p, n);
	return write_all(fd, buf, n + 2);
}

static void stay_silent(int fd)
{
	uint8_t b;

	while (read(fd, &b, 1) > 0)   /* until the driver gives up and closes */
		;
	exit(0);
}

static int answer_apdu(int fd, enum mode m, const uint8_t *cmd, size_t n, int misbehave)
{
	static const uint8_t garbage[] = { 0x00, 0x00, 0xDE, 0xAD, 0xBE, 0xEF };
	static const uint8_t truncated[] = { 0x00, 0x0A, 0x90, 0x00, 0x01 };
	static const uint8_t length_only[] = { 0x00, 0x0A };
	static uint8_t resp[65535];
	static const uint8_t sw_ok[] = { 0x90, 0x00 };

	if (misbehave) {
		switch (m) {
		case M_GARBAGE: return write_all(fd, garbage, sizeof(garbage));
		case M_TRUNCATED: write_all(fd, truncated, sizeof(truncated)); stay_silent(fd); break;
		case M_VANISH: exit(0);
		case M_HEADER: write_all(fd, length_only, sizeof(length_only)); stay_silent(fd); break;
		case M_LENCLOSE: write_all(fd, length_only, sizeof(length_only)); exit(0);
		case M_SILENT: stay_silent(fd); break;
		default: break;
		}
	}
	if (m != M_ECHO || n + 2 > sizeof(resp))
		return send_frame(fd, sw_ok, 2);
	memcpy(resp, cmd, n);
	memcpy(resp + n, sw_ok, 2);
	return send_frame(fd, resp, n + 2);
}

static int answer_control(int fd, enum mode m, uint8_t ctl)
{
	static uint8_t absurd[] = { 0x10, 0x00, 0x3B, 0x00 };

	if (ctl != 4)
		return 0;       /* power off / on / reset: vpcd sends no answer */
	if (m == M_ABSURD)
		return write_all(fd, absurd, sizeof(absurd));
	return send_frame(fd, atr, sizeof(atr));
}

static int serve(int fd, enum mode m, long after)
{
	static uint8_t cmd[65535];
	uint8_t hdr[2];
	size_t n;
	long apdus = 0;
	int seen = 0;

	for (;;) {
		if (read_exact(fd, hdr, 2) != 0)
			return seen ? 0 : 3;
		seen = 1;
		n = (size_t)hdr[0] << 8 | hdr[1];
		if (read_exact(fd, cmd, n) != 0)
			return 0;
		if (n == 1) {
			if (answer_control(fd, m, cmd[0]) != 0)
				return 0;
			continue;
		}
		if (answer_apdu(fd, m, cmd, n, apdus >= after) != 0)
			return 0;
		if (++apdus == after && m == M_IDLE)
			write_all(fd, (const uint8_t *)"junk", 4);
	}
}

static int parse_mode(const char *s, enum mode *m)
{
	size_t i;

	for (i = 0; i < sizeof(mode_names) / sizeof(mode_names[0]); i++) {
		if (strcmp(s, mode_names[i]) == 0) {
			*m = (enum mode)i;
			return 0;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	enum mode m = M_OK;
	long after = 0;
	int i, fd;

	for (i = 1; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (strcmp(argv[i], "--mode") == 0 && parse_mode(argv[i + 1], &m) == 0)
			continue;
		if (strcmp(argv[i], "--after") == 0)
			after = strtol(argv[i + 1], NULL, 10);
		else
			break;
	}
	if (i != argc - 1 || strlen(argv[i]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: ukey-link-peer [--mode ok|echo|garbage|truncated|absurd|"
		        "vanish|silent|idle|header|lenclose] [--after N] SOCKET\n");
		return 2;
	}
	memcpy(sa.sun_path, argv[i], strlen(argv[i]) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("ukey-link-peer: connect");
		return 2;
	}
	if (m == M_IDLE && after == 0) {
		write_all(fd, (const uint8_t *)"junk", 4);
	}
	return serve(fd, m, after);
}
