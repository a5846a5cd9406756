/* ifd_link fuzz target: the real AF_UNIX link transport (uki_link_unix.c) behind the real
 * reader layer (uki_reader.c), fed a hostile key.
 *
 * One reader "unix:TMP/l.sock;slots=1;timeout=100" is opened once per process (its monitor
 * thread accepts connections as in pcscd). For every input a peer connects, the driver
 * inserts it, and the input drives both sides:
 *
 *   input  = nops (1 byte) , op * (nops % 8 + 1) , answer *
 *   op     = bits 0-1 action (power up, reset, power down, xfer),
 *            bits 2-4 command length (table cmd_lens), bits 5-7 answer room (resp_caps)
 *   answer = flags (1 byte) , length (2 bytes, big-endian) , body (length bytes, or fewer
 *            when the input ends: a truncated frame)
 *
 * The peer thread reads every frame the driver sends (as a key does) and answers each
 * "get ATR" control and each APDU with the next answer of the input, shaped by its flags:
 *   A_SPLIT   header and body in two writes       A_JUNK   one unsolicited byte after it
 *   A_CLOSE   close right after the answer         A_HDRCLOSE  header only, then close
 * An answer cut short by the end of the input, or no answer left, closes the link, so no
 * input waits for the driver's timeouts (those are exercised by ifd_pcscd_stall): every
 * input costs a connect, a few round trips and a hang-up (PEER_IDLE_MS at worst).
 *
 * Every call must come back with a status (never crash, leak or hang); an APDU answer
 * must never exceed the room the caller gave; after the input the key must go away. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "uki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { A_SPLIT = 1, A_JUNK = 2, A_CLOSE = 4, A_HDRCLOSE = 8 };
#define LUN 0UL
/* The driver speaks at once after an answer unless it waits for bytes that will never come
 * (an unsolicited byte raced ahead of its idle check and shifted the framing): the key
 * then hangs up instead of letting the driver wait out its 2 s body timeout. */
#define PEER_IDLE_MS 50
#define SETTLE_TRIES 400        /* x 10 ms to see a key come or go */

static const size_t cmd_lens[8] = { 0, 1, 2, 4, 5, 261, 4096, UKI_FRAME_MAX };
static const size_t resp_caps[8] = { 0, 1, 2, 3, 16, 258, 4096, UKI_FRAME_MAX + 1 };

static char sock_path[108];
static char sock_dir[64];
static uint8_t cmd_buf[UKI_FRAME_MAX + 1];      /* the driver's commands (main thread) */
static uint8_t peer_buf[UKI_FRAME_MAX + 1];     /* what the key reads (peer thread) */
static uint8_t resp_buf[UKI_FRAME_MAX + 1];

typedef struct peer {
	int fd;
	const uint8_t *p;       /* answers still to give */
	size_t n;
} peer;

static void teardown(void)
{
	uki_reader_close_slot(LUN);
	unlink(sock_path);
	rmdir(sock_dir);
}

static int setup(void)
{
	static int done;
	char devname[200];

	if (done)
		return done > 0 ? 0 : -1;
	done = -1;
	snprintf(sock_dir, sizeof(sock_dir), "/tmp/ukey-fuzz-link.XXXXXX");
	if (mkdtemp(sock_dir) == NULL)
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/l.sock", sock_dir);
	snprintf(devname, sizeof(devname), "unix:%s;slots=1;timeout=100", sock_path);
	if (uki_reader_open_slot(LUN, devname) != UKI_OK)
		return -1;
	atexit(teardown);
	done = 1;
	return 0;
}

static int read_full(int fd, uint8_t *p, size_t n)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };
	ssize_t r;

	while (n > 0) {
		if (poll(&pf, 1, PEER_IDLE_MS) != 1)
			return -1;
		r = recv(fd, p, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void send_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		r = send(fd, p, n, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		p += r;
		n -= (size_t)r;
	}
}

/* Give the next answer; returns 0 to go on serving, -1 when the link is to be closed. */
static int peer_answer(peer *pe)
{
	uint8_t flags;
	size_t len, have;

	if (pe->n < 3) {
		send_all(pe->fd, pe->p, pe->n > 0 ? pe->n - 1 : 0);   /* a broken header */
		return -1;
	}
	flags = pe->p[0];
	len = (size_t)pe->p[1] << 8 | pe->p[2];
	have = pe->n - 3 < len ? pe->n - 3 : len;
	if (flags & A_HDRCLOSE) {
		send_all(pe->fd, pe->p + 1, 2);
		return -1;
	}
	if (flags & A_SPLIT) {
		send_all(pe->fd, pe->p + 1, 2);
		send_all(pe->fd, pe->p + 3, have);
	} else {
		send_all(pe->fd, pe->p + 1, 2 + have);
	}
	pe->p += 3 + have;
	pe->n -= 3 + have;
	if (flags & A_JUNK)
		send_all(pe->fd, (const uint8_t *)"J", 1);
	return (have < len || (flags & A_CLOSE)) ? -1 : 0;
}

/* The key: read each frame the driver sends; controls other than "get ATR" (4) get no
 * answer (vpcd protocol). Ends on EOF, on a closing answer, or on the main thread's
 * shutdown(). */
static void *peer_main(void *arg)
{
	peer *pe = arg;
	uint8_t hdr[2];
	size_t n;

	for (;;) {
		if (read_full(pe->fd, hdr, 2) != 0)
			break;
		n = (size_t)hdr[0] << 8 | hdr[1];
		if (read_full(pe->fd, peer_buf, n) != 0)
			break;
		if (n == 1 && peer_buf[0] != 4)
			continue;
		if (peer_answer(pe) != 0)
			break;
	}
	shutdown(pe->fd, SHUT_RDWR);
	return NULL;
}

static int peer_connect(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Wait until the slot shows (want_present) or not; the monitor thread decides. */
static void settle(int want_present)
{
	int i;

	for (i = 0; i < SETTLE_TRIES; i++) {
		if ((uki_reader_presence(LUN) == UKI_OK) == want_present)
			return;
		uki_reader_wait_event(LUN, 10);
	}
	fprintf(stderr, "ifd_link_fuzz: key never %s\n", want_present ? "inserted" : "removed");
	abort();
}

static void run_op(uint8_t op)
{
	static const uki_power actions[3] = { UKI_POWER_UP, UKI_POWER_RESET, UKI_POWER_DOWN };
	uint8_t atr[UKI_ATR_MAX];
	size_t cmd_len = cmd_lens[(op >> 2) & 7], cap = resp_caps[(op >> 5) & 7];
	size_t n = 0;
	uki_status st;

	if ((op & 3) != 3) {
		st = uki_reader_power(LUN, actions[op & 3], atr, sizeof(atr), &n);
		if (st == UKI_OK && n > sizeof(atr))
			abort();
		return;
	}
	memset(cmd_buf + 0, 0, 4);      /* CLA INS P1 P2, then whatever the length says */
	n = 0;
	st = uki_reader_xfer(LUN, cmd_buf, cmd_len, resp_buf, cap, &n);
	if (st == UKI_OK && (n > cap || n < 2))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	peer pe = { .fd = -1 };
	pthread_t th;
	size_t nops, i;

	if (size < 1 || setup() != 0)
		return 0;
	nops = (size_t)(data[0] % 8) + 1;
	if (size < 1 + nops)
		return 0;
	pe.fd = peer_connect();
	if (pe.fd < 0)
		return 0;
	settle(1);
	pe.p = data + 1 + nops;
	pe.n = size - 1 - nops;
	if (pthread_create(&th, NULL, peer_main, &pe) != 0) {
		close(pe.fd);
		settle(0);
		return 0;
	}
	for (i = 0; i < nops; i++)
		run_op(data[1 + i]);
	shutdown(pe.fd, SHUT_RDWR);
	pthread_join(th, NULL);
	close(pe.fd);
	settle(0);
	return 0;
}
