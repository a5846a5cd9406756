/* ukey-emu: serves emulated ukey cards over the vpcd-framed link (docs/design.md "Link between
 * ifd/ and ukey-emu"). One connection per key; ukey-emu connects, the driver listens.
 *
 * Frame: 2-byte big-endian length, then payload. A 1-byte payload is a control
 * (0 power off, 1 power on, 2 reset, 4 get ATR; only 4 is answered, with the ATR); a longer
 * payload is an APDU answered by one framed response. Every message goes out in one write. */
#define _GNU_SOURCE /* ppoll */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "uk_wipe.h"
#include "ukt_card.h"

#define MAX_KEYS 16
#define FRAME_MAX (2 + 65535)
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

enum { CTRL_OFF = 0, CTRL_ON = 1, CTRL_RESET = 2, CTRL_ATR = 4 };

typedef struct emu_opts {
	const char *link;
	const char *state;
	unsigned keys;
	int retry;
	ukt_provision prov;
} emu_opts;

typedef struct emu_key {
	unsigned index;
	ukt_card *card;
	int fd;
	int done;
	int failed;             /* could not connect (without --retry) */
	unsigned backoff_ms;
	long long next_try_ms;
	size_t rxlen;
	uint8_t rx[FRAME_MAX];
} emu_key;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- link ---- */

static int connect_unix(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* tcp:host:port, for vsmartcard's vpcd (it listens). Nagle off: one APDU per frame and the
 * peer waits for it, so delayed ACK + Nagle would add ~40 ms per exchange. */
static int connect_tcp(const char *spec)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints, *res = NULL, *ai;
	int fd = -1, one = 1;

	if (colon == NULL || (size_t)(colon - spec) >= sizeof(host))
		return -1;
	memcpy(host, spec, (size_t)(colon - spec));
	host[colon - spec] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return -1;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static int link_connect(const char *link)
{
	if (strncmp(link, "unix:", 5) == 0)
		return connect_unix(link + 5);
	if (strncmp(link, "tcp:", 4) == 0)
		return connect_tcp(link + 4);
	return -1;
}

/* One frame, one write (the peer may read it with one read). */
static int send_frame(int fd, const uint8_t *payload, size_t n)
{
	uint8_t frame[FRAME_MAX];
	size_t off = 0;
	ssize_t r;
	int ret = -1;

	if (n > FRAME_MAX - 2)
		return -1;
	frame[0] = (uint8_t)(n >> 8);
	frame[1] = (uint8_t)n;
	memcpy(frame + 2, payload, n);
	while (off < n + 2) {
		r = send(fd, frame + off, n + 2 - off, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			goto out;
		off += (size_t)r;
	}
	ret = 0;
out:
	uk_wipe(frame, n + 2);
	return ret;
}

/* ---- keys ---- */

static void key_disconnect(emu_key *k, const emu_opts *o, const char *why)
{
	if (k->fd >= 0) {
		close(k->fd);
		fprintf(stderr, "ukey-emu: key %s disconnected (%s)\n", ukt_card_serial(k->card), why);
	}
	k->fd = -1;
	uk_wipe(k->rx, k->rxlen);
	k->rxlen = 0;
	ukt_card_power(k->card, UKT_POWER_OFF);
	if (!o->retry)
		k->done = 1;
	k->next_try_ms = now_ms() + k->backoff_ms;
}

static void key_try_connect(emu_key *k, const emu_opts *o)
{
	k->fd = link_connect(o->link);
	if (k->fd >= 0) {
		k->backoff_ms = BACKOFF_MIN_MS;
		ukt_card_power(k->card, UKT_POWER_ON);
		fprintf(stderr, "ukey-emu: key %s connected\n", ukt_card_serial(k->card));
		return;
	}
	if (!o->retry) {
		fprintf(stderr, "ukey-emu: key %u: cannot connect to %s: %s\n", k->index, o->link,
		        strerror(errno));
		k->done = 1;
		k->failed = 1;
		return;
	}
	k->next_try_ms = now_ms() + k->backoff_ms;
	k->backoff_ms = k->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : k->backoff_ms * 2;
}

static int handle_control(emu_key *k, uint8_t ctrl)
{
	static const int power_op[] = { [CTRL_OFF] = UKT_POWER_OFF, [CTRL_ON] = UKT_POWER_ON,
	                                [CTRL_RESET] = UKT_POWER_RESET };
	uint8_t atr[UKT_ATR_MAX];

	if (ctrl == CTRL_ATR)
		return send_frame(k->fd, atr, ukt_card_atr(k->card, atr));
	if (ctrl <= CTRL_RESET)
		ukt_card_power(k->card, power_op[ctrl]);
	return 0;       /* unknown controls are ignored, as vpcd does */
}

static int handle_frame(emu_key *k, const uint8_t *p, size_t n)
{
	static uint8_t resp[UKT_RESP_MAX];
	size_t rlen = sizeof(resp);
	int r;

	if (n == 0)
		return -1;      /* no such frame in the protocol */
	if (n == 1)
		return handle_control(k, p[0]);
	if (ukt_card_transmit(k->card, p, n, resp, &rlen) != 0)
		return -1;
	r = send_frame(k->fd, resp, rlen);
	uk_wipe(resp, rlen);
	return r;
}

/* Read what is there and answer every complete frame; short reads just wait for more. */
static int key_readable(emu_key *k)
{
	size_t off = 0, n;
	ssize_t r;

	r = read(k->fd, k->rx + k->rxlen, sizeof(k->rx) - k->rxlen);
	if (r < 0 && errno == EINTR)
		return 0;
	if (r <= 0)
		return -1;
	k->rxlen += (size_t)r;
	while (k->rxlen - off >= 2) {
		n = (size_t)k->rx[off] << 8 | k->rx[off + 1];
		if (k->rxlen - off - 2 < n)
			break;
		if (handle_frame(k, k->rx + off + 2, n) != 0)
			return -1;
		off += 2 + n;
	}
	memmove(k->rx, k->rx + off, k->rxlen - off);
	uk_wipe(k->rx + k->rxlen - off, off);
	k->rxlen -= off;
	return 0;
}

/* ---- main loop ---- */

static int poll_timeout(const emu_key *keys, unsigned n)
{
	long long t = now_ms(), wait = 1000;
	unsigned i;

	for (i = 0; i < n; i++)
		if (!keys[i].done && keys[i].fd < 0)
			wait = keys[i].next_try_ms - t < wait ? keys[i].next_try_ms - t : wait;
	return wait < 0 ? 0 : (int)wait;
}

static int all_done(const emu_key *keys, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (!keys[i].done)
			return 0;
	return 1;
}

static int any_failed(const emu_key *keys, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (keys[i].failed)
			return 1;
	return 0;
}

static void serve_once(emu_key *keys, unsigned n, const emu_opts *o, const sigset_t *mask)
{
	struct pollfd pfd[MAX_KEYS];
	struct timespec ts;
	unsigned i;
	int t, r;

	for (i = 0; i < n; i++)
		if (!keys[i].done && keys[i].fd < 0 && now_ms() >= keys[i].next_try_ms)
			key_try_connect(&keys[i], o);
	for (i = 0; i < n; i++) {
		pfd[i].fd = keys[i].fd;
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
	}
	t = poll_timeout(keys, n);
	ts.tv_sec = t / 1000;
	ts.tv_nsec = (long)(t % 1000) * 1000000;
	r = ppoll(pfd, n, &ts, mask);
	if (r <= 0)
		return;
	for (i = 0; i < n; i++)
		if (pfd[i].fd >= 0 && (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    key_readable(&keys[i]) != 0)
			key_disconnect(&keys[i], o, "link closed");
}

static int serve(emu_key *keys, unsigned n, const emu_opts *o)
{
	struct sigaction sa;
	sigset_t block, orig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Signals are delivered only inside ppoll, so a stop request is never missed. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &orig);
	while (!stop_requested && !all_done(keys, n))
		serve_once(keys, n, o, &orig);
	return any_failed(keys, n) ? 1 : 0;
}

/* ---- setup ---- */

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: ukey-emu --link unix:PATH|tcp:HOST:PORT --state DIR [--keys N] [--serial S]\n"
	        "                [--label L] [--zone green|yellow] [--user-pin P] [--so-pin P]\n"
	        "                [--retry | --once]\n"
	        "Serves N emulated ukey cards (state in DIR/key-<i>/), one link connection each.\n");
}

static int parse_opts(int argc, char **argv, emu_opts *o)
{
	static const struct option longopts[] = {
		{ "link", required_argument, NULL, 'l' }, { "state", required_argument, NULL, 's' },
		{ "keys", required_argument, NULL, 'n' }, { "serial", required_argument, NULL, 'S' },
		{ "label", required_argument, NULL, 'L' }, { "zone", required_argument, NULL, 'z' },
		{ "user-pin", required_argument, NULL, 'u' }, { "so-pin", required_argument, NULL, 'o' },
		{ "retry", no_argument, NULL, 'r' }, { "once", no_argument, NULL, '1' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->keys = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': o->link = optarg; break;
		case 's': o->state = optarg; break;
		case 'n': o->keys = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'S': o->prov.serial = optarg; break;
		case 'L': o->prov.label = optarg; break;
		case 'z':
			o->prov.zone = strcmp(optarg, "green") == 0 ? 2 : strcmp(optarg, "yellow") == 0 ? 1 : 0xFF;
			break;
		case 'u':
			o->prov.user_pin = (const uint8_t *)optarg;
			o->prov.user_pin_len = strlen(optarg);
			break;
		case 'o':
			o->prov.so_pin = (const uint8_t *)optarg;
			o->prov.so_pin_len = strlen(optarg);
			break;
		case 'r': o->retry = 1; break;
		case '1': o->retry = 0; break;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	if (optind != argc || o->link == NULL || o->state == NULL || o->keys < 1 ||
	    o->keys > MAX_KEYS || o->prov.zone == 0xFF || (o->prov.serial && o->keys != 1))
		return -1;
	return 0;
}

static int open_keys(emu_key *keys, const emu_opts *o)
{
	char dir[4096];
	ukt_provision p = o->prov;
	unsigned i;

	for (i = 0; i < o->keys; i++) {
		keys[i].index = i;
		keys[i].fd = -1;
		keys[i].backoff_ms = BACKOFF_MIN_MS;
		p.index = i;
		if (snprintf(dir, sizeof(dir), "%s/key-%u", o->state, i) >= (int)sizeof(dir))
			return -1;
		keys[i].card = ukt_card_open(dir, &p);
		if (keys[i].card == NULL) {
			fprintf(stderr, "ukey-emu: %s: cannot open or provision the key state\n", dir);
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static emu_key keys[MAX_KEYS];
	emu_opts o;
	unsigned i;
	int ret = 2;

	if (parse_opts(argc, argv, &o) != 0) {
		usage(stderr);
		return 2;
	}
	if (open_keys(keys, &o) != 0)
		goto out;
	ret = serve(keys, o.keys, &o);
out:
	for (i = 0; i < o.keys; i++) {
		if (keys[i].fd >= 0)
			close(keys[i].fd);
		ukt_card_close(keys[i].card);
	}
	return ret;
}
