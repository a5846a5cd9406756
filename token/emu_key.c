/* ukey-emu: one thread per emulated key, serving its link to the ifd driver (docs/design.md
 * "Link between ifd/ and ukey-emu") and applying the faults of docs/ukey-emu.md.
 *
 * The thread is the same for every link type; what differs (connect, framing in and out) is
 * an emu_link_ops table: the vpcd link below (unix:, tcp:), the usb link in emu_ccid.c.
 *
 * vpcd frame: 2-byte big-endian length, then payload. A 1-byte payload is a control
 * (0 power off, 1 power on, 2 reset, 4 get ATR; only 4 is answered, with the ATR); a longer
 * payload is an APDU answered by one framed response. Every message goes out in one write. */
#define _GNU_SOURCE
#include "emu.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "uk_buf.h"
#include "uk_tlv.h"
#include "uk_wipe.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define FIRST_TRY_WAIT_MS 3000

enum { CTRL_OFF = 0, CTRL_ON = 1, CTRL_RESET = 2, CTRL_ATR = 4 };

long long emu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- link ---- */

/* Connect a stream socket to an AF_UNIX path (the link, or the control socket). */
int emu_connect_unix(const char *path)
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


/* One frame, one write (the peer may read it with one read). */
static int send_frame(int fd, const uint8_t *payload, size_t n)
{
	static __thread uint8_t frame[EMU_FRAME_MAX];
	size_t off = 0;
	ssize_t r;
	int ret = -1;

	if (n > EMU_FRAME_MAX - 2)
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

/* ---- the s0 latency profile ---- */

/* SPEC.md S0 performance table, per instruction: a fixed time, or a data rate for what the
 * instruction reads from or writes to on-chip storage (KB = 1024 bytes). */
enum prof_kind { PROF_FIXED, PROF_READ, PROF_WRITE };

static const struct prof_entry {
	uint8_t ins;
	int p1;                 /* -1: any */
	enum prof_kind kind;
	unsigned long us;       /* PROF_FIXED */
} prof_table[] = {
	{ 0x2A, -1, PROF_FIXED, 12581 },        /* SM2 signature: >= 79.49 /s */
	{ 0x46, 0x80, PROF_FIXED, 90000 },      /* SM2 key-pair generation: <= 0.09 s */
	{ 0x46, 0x81, PROF_READ, 0 },           /* public key read from its file */
	{ 0xCA, -1, PROF_READ, 0 },             /* GET DATA: read file, >= 63.44 KB/s */
	{ 0xE0, -1, PROF_WRITE, 0 },            /* CREATE CONTAINER: write file, >= 4.06 KB/s */
};

unsigned long emu_profile_s0_us(const uint8_t *cmd, size_t n, size_t resp_len)
{
	const struct prof_entry *p;
	size_t i;

	if (n < 4)
		return 0;
	for (i = 0; i < sizeof(prof_table) / sizeof(prof_table[0]); i++) {
		p = &prof_table[i];
		if (p->ins != cmd[1] || (p->p1 >= 0 && p->p1 != cmd[2]))
			continue;
		if (p->kind == PROF_FIXED)
			return p->us;
		if (p->kind == PROF_READ)       /* response data, SW excluded */
			return (unsigned long)((resp_len > 2 ? resp_len - 2 : 0) * 1e6 / (63.44 * 1024));
		return (unsigned long)((n > 5 ? n - 5 : 0) * 1e6 / (4.06 * 1024));
	}
	return 0;
}

/* ---- hooks called by the card inside ukt_card_transmit ---- */

/* Power loss at the state write: "before" fails the write as a crash before the rename
 * would (old state on disk), "after" lets it complete (new state) but the answer is lost. */
static int on_state_write(void *arg)
{
	emu_key *k = arg;
	int pl;

	pthread_mutex_lock(&k->emu->lock);
	pl = k->f.powerloss;
	if (pl != EMU_PL_NONE) {
		k->f.powerloss = EMU_PL_NONE;
		k->lost = 1;
	}
	pthread_mutex_unlock(&k->emu->lock);
	return pl == EMU_PL_BEFORE ? -1 : 0;
}

static void deadline_ts(struct timespec *ts, long long ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* The button of a second-generation key: wait, bounded, for `confirm`; pulling the key
 * out or stopping ends the wait unconfirmed. */
static int on_confirm(void *arg)
{
	emu_key *k = arg;
	struct timespec ts;
	int ok, r = 0;

	if (k->auto_confirm)
		return 0;
	pthread_mutex_lock(&k->emu->lock);
	deadline_ts(&ts, k->confirm_ms);
	k->waiting = 1;
	k->confirmed = 0;
	while (!k->confirmed && k->want_in && !k->emu->stopping && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&k->emu->cond, &k->emu->lock, &ts);
	ok = k->confirmed;
	k->waiting = 0;
	k->confirmed = 0;
	pthread_mutex_unlock(&k->emu->lock);
	fprintf(stderr, "ukey-emu: key %u: signature %s\n", k->index,
	        ok ? "confirmed" : "not confirmed");
	return ok ? 0 : -1;
}

/* The pinpad: wait, bounded, for what the operator types with `pinpad N PIN|cancel` (or take
 * what was typed before the request). Pulling the key out or stopping ends the wait as a
 * cancel. Returns the PIN's length, or 0 (cancelled, timed out). */
static size_t pad_wait(emu_key *k, uint8_t buf[EMU_PIN_MAX])
{
	struct timespec ts;
	size_t n = 0;
	int r = 0;

	pthread_mutex_lock(&k->emu->lock);
	deadline_ts(&ts, k->confirm_ms);
	k->pad_waiting = 1;
	while (k->pad_entry == EMU_PAD_NONE && k->want_in && !k->emu->stopping && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&k->emu->cond, &k->emu->lock, &ts);
	if (k->pad_entry == EMU_PAD_PIN) {
		n = k->pad_len;
		memcpy(buf, k->pad_pin, n);
	}
	uk_wipe(k->pad_pin, sizeof(k->pad_pin));
	k->pad_len = 0;
	k->pad_entry = EMU_PAD_NONE;
	k->pad_waiting = 0;
	pthread_mutex_unlock(&k->emu->lock);
	return n;
}

/* The pinpad hook (ukt_card_set_pinpad_hook): the PIN from the auto-pinpad file, read at each
 * request so a test may change it, or typed through the control socket. Never logged. */
static int on_pinpad(void *arg, uint8_t *pin, size_t cap, size_t *len)
{
	emu_key *k = arg;
	uint8_t buf[EMU_PIN_MAX];
	long n;

	if (k->auto_pinpad_file != NULL)
		n = emu_pin_source(k->auto_pinpad_file, NULL, buf);
	else
		n = (long)pad_wait(k, buf);
	if (n > 0) {
		memcpy(pin, buf, (size_t)n < cap ? (size_t)n : cap);
		*len = (size_t)n;
	}
	uk_wipe(buf, sizeof(buf));
	fprintf(stderr, "ukey-emu: key %u: pinpad %s\n", k->index,
	        n > 0 ? "PIN entered" : "cancelled or not answered");
	return n > 0 ? 0 : -1;
}

/* ---- one key's link ---- */

static void key_set_connected(emu_key *k, int up)
{
	pthread_mutex_lock(&k->emu->lock);
	k->connected = up;
	pthread_cond_broadcast(&k->emu->cond);
	pthread_mutex_unlock(&k->emu->lock);
}

static void key_unplug(emu_key *k, const char *why)
{
	/* The key is marked out before the link closes: an `insert` sent once the driver has
	 * seen the key go (the close) must not be undone by this. */
	pthread_mutex_lock(&k->emu->lock);
	k->connected = 0;
	if (!k->emu->retry)
		k->want_in = 0;         /* out until `insert` */
	pthread_mutex_unlock(&k->emu->lock);
	if (k->fd >= 0) {
		close(k->fd);
		fprintf(stderr, "ukey-emu: key %s disconnected (%s)\n", k->serial, why);
	}
	k->fd = -1;
	uk_wipe(k->rx, k->rxlen);
	k->rxlen = 0;
	if (k->emu->ops->down != NULL)
		k->emu->ops->down(k);
	if (k->card != NULL)
		ukt_card_power(k->card, UKT_POWER_OFF);
	pthread_mutex_lock(&k->emu->lock);
	pthread_cond_broadcast(&k->emu->cond);
	pthread_mutex_unlock(&k->emu->lock);
	k->next_try_ms = emu_now_ms() + k->backoff_ms;
}

static void key_hooks(emu_key *k)
{
	ukt_card_set_write_hook(k->card, on_state_write, k);
	if (k->button)
		ukt_card_set_confirm_hook(k->card, on_confirm, k);
	if (k->pinpad)
		ukt_card_set_pinpad_hook(k->card, on_pinpad, k);
}

/* A power cycle: the volatile state goes, the state on disk is loaded again. */
static void key_reload(emu_key *k)
{
	ukt_card_close(k->card);
	k->card = ukt_card_open(k->dir, NULL);
	if (k->card == NULL)
		fprintf(stderr, "ukey-emu: key %u: the state in %s does not load\n", k->index, k->dir);
	else
		key_hooks(k);
}

static void key_mark_tried(emu_key *k)
{
	pthread_mutex_lock(&k->emu->lock);
	k->tried = 1;
	pthread_cond_broadcast(&k->emu->cond);
	pthread_mutex_unlock(&k->emu->lock);
}

static void key_try_connect(emu_key *k)
{
	if (k->card == NULL)
		key_reload(k);
	k->fd = k->card != NULL ? k->emu->ops->connect(k->emu->link_spec) : -1;
	key_mark_tried(k);
	if (k->fd >= 0) {
		k->backoff_ms = BACKOFF_MIN_MS;
		ukt_card_power(k->card, UKT_POWER_ON);
		fprintf(stderr, "ukey-emu: key %s connected\n", k->serial);
		if (k->emu->ops->up != NULL && k->emu->ops->up(k) != 0) {
			key_unplug(k, "greeting not sent");
			return;
		}
		key_set_connected(k, 1);
		return;
	}
	if (!k->emu->retry || k->card == NULL) {
		fprintf(stderr, "ukey-emu: key %u: cannot connect to %s: %s\n", k->index,
		        k->emu->link, k->card == NULL ? "state does not load" : strerror(errno));
		pthread_mutex_lock(&k->emu->lock);
		k->want_in = 0;
		k->failed = 1;
		pthread_cond_broadcast(&k->emu->cond);
		pthread_mutex_unlock(&k->emu->lock);
		return;
	}
	k->next_try_ms = emu_now_ms() + k->backoff_ms;
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

/* Sleep until due (ms, monotonic) unless the key is pulled out meanwhile. 0 or -1. */
static int key_sleep_until(emu_key *k, long long due)
{
	struct timespec ts;
	int r = 0, in;

	pthread_mutex_lock(&k->emu->lock);
	deadline_ts(&ts, due - emu_now_ms());
	while (k->want_in && !k->emu->stopping && r != ETIMEDOUT && emu_now_ms() < due)
		r = pthread_cond_timedwait(&k->emu->cond, &k->emu->lock, &ts);
	in = k->want_in && !k->emu->stopping;
	pthread_mutex_unlock(&k->emu->lock);
	return in ? 0 : -1;
}

/* Process one APDU with the key's faults (shared by every link type). */
int emu_key_apdu(emu_key *k, const uint8_t *p, size_t n, uint8_t *resp, size_t *rlenp)
{
	long long start = emu_now_ms();
	unsigned long delay_us;
	emu_faults f;
	size_t rlen = *rlenp;
	int lost, in, ret = EMU_FRAME_DROP;

	if (ukt_card_transmit(k->card, p, n, resp, &rlen) != 0)
		return EMU_FRAME_DROP;
	pthread_mutex_lock(&k->emu->lock);
	lost = k->lost;
	k->lost = 0;
	in = k->want_in;
	f = k->f;
	pthread_mutex_unlock(&k->emu->lock);
	if (lost) {
		ret = EMU_FRAME_POWERLOSS;
		goto out;
	}
	delay_us = f.latency_ms * 1000ul + (f.profile_s0 ? emu_profile_s0_us(p, n, rlen) : 0);
	/* +1: start is truncated to the millisecond, so the answer never comes early */
	if (!in || (delay_us > 0 &&
	            key_sleep_until(k, start + (long long)(delay_us + 999) / 1000 + 1) != 0))
		goto out;       /* pulled out while working: nobody gets the answer */
	*rlenp = rlen;
	return EMU_FRAME_OK;
out:
	uk_wipe(resp, rlen);
	return ret;
}

static int handle_apdu(emu_key *k, const uint8_t *p, size_t n)
{
	static __thread uint8_t resp[UKT_RESP_MAX];
	size_t rlen = sizeof(resp);
	int ret = emu_key_apdu(k, p, n, resp, &rlen);

	if (ret == EMU_FRAME_OK) {
		ret = send_frame(k->fd, resp, rlen) == 0 ? EMU_FRAME_OK : EMU_FRAME_DROP;
		uk_wipe(resp, rlen);
	}
	return ret;
}

static int handle_frame(emu_key *k, const uint8_t *p, size_t n)
{
	int refuse;

	if (n == 0)
		return EMU_FRAME_DROP;      /* no such frame in the protocol */
	pthread_mutex_lock(&k->emu->lock);
	refuse = k->f.refuse;
	pthread_mutex_unlock(&k->emu->lock);
	if (refuse)
		return EMU_FRAME_OK;        /* read, never answered: the driver's timeout removes us */
	if (n == 1)
		return handle_control(k, p[0]) == 0 ? EMU_FRAME_OK : EMU_FRAME_DROP;
	return handle_apdu(k, p, n);
}

static long vpcd_frame_len(const uint8_t *hdr)
{
	return (long)((size_t)hdr[0] << 8 | hdr[1]);
}

static int vpcd_frame(emu_key *k, const uint8_t *hdr, const uint8_t *p, size_t n)
{
	(void)hdr;
	return handle_frame(k, p, n);
}

static const emu_link_ops link_unix = {
	.scheme = "unix:", .connect = emu_connect_unix, .hdr_len = 2,
	.frame_len = vpcd_frame_len, .frame = vpcd_frame,
};
static const emu_link_ops link_tcp = {
	.scheme = "tcp:", .quickack = 1, .connect = connect_tcp, .hdr_len = 2,
	.frame_len = vpcd_frame_len, .frame = vpcd_frame,
};

const emu_link_ops *emu_link_find(const char *link, const char **spec)
{
	static const emu_link_ops *const links[] = { &link_unix, &link_tcp, &emu_link_usb };
	size_t i, n;

	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		n = strlen(links[i]->scheme);
		if (strncmp(link, links[i]->scheme, n) == 0 && link[n] != '\0') {
			*spec = link + n;
			return links[i];
		}
	}
	return NULL;
}

/* Read what is there and handle every complete message; short reads just wait for more. A
 * message longer than the buffer can never complete: the link is dropped. */
static int key_readable(emu_key *k)
{
	const emu_link_ops *ops = k->emu->ops;
	size_t off = 0, h = ops->hdr_len;
	long n;
	ssize_t r;
	int ret = EMU_FRAME_OK;

	r = read(k->fd, k->rx + k->rxlen, sizeof(k->rx) - k->rxlen);
	if (r < 0 && errno == EINTR)
		return EMU_FRAME_OK;
	if (r <= 0)
		return EMU_FRAME_DROP;
	/* Debian's vpcd (libifdvpcd 0.8) writes a frame as two send()s without TCP_NODELAY:
	 * Nagle holds its second segment until this side acknowledges the first, which a
	 * delayed ACK puts off by ~40 ms per APDU. Acknowledging at once removes that wait;
	 * Linux clears TCP_QUICKACK by itself, so it is set again after every read. */
	if (ops->quickack) {
		int one = 1;

		(void)setsockopt(k->fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
	}
	k->rxlen += (size_t)r;
	while (ret == EMU_FRAME_OK && k->rxlen - off >= h) {
		n = ops->frame_len(k->rx + off);
		if (n < 0 || (size_t)n > sizeof(k->rx) - h) {
			ret = EMU_FRAME_DROP;
			break;
		}
		if (k->rxlen - off - h < (size_t)n)
			break;
		ret = ops->frame(k, k->rx + off, k->rx + off + h, (size_t)n);
		off += h + (size_t)n;
	}
	memmove(k->rx, k->rx + off, k->rxlen - off);
	uk_wipe(k->rx + k->rxlen - off, off);
	k->rxlen -= off;
	return ret;
}

static void key_after_frames(emu_key *k, int r)
{
	if (r == EMU_FRAME_OK)
		return;
	if (r == EMU_FRAME_DROP) {
		key_unplug(k, "link closed or key removed");
		return;
	}
	/* power loss: no answer, link down, and the key stays out until `insert` */
	pthread_mutex_lock(&k->emu->lock);
	k->want_in = 0;
	pthread_mutex_unlock(&k->emu->lock);
	key_unplug(k, "power loss");
	key_reload(k);
}

static int key_poll_ms(const emu_key *k, int want)
{
	long long wait = 1000;

	if (want && k->fd < 0)
		wait = k->next_try_ms - emu_now_ms() < wait ? k->next_try_ms - emu_now_ms() : wait;
	return wait < 0 ? 0 : (int)wait;
}

static void *key_thread(void *arg)
{
	emu_key *k = arg;
	struct pollfd pfd[2];
	uint64_t ev;
	int want, stop, was_wanted = 1;

	for (;;) {
		pthread_mutex_lock(&k->emu->lock);
		stop = k->emu->stopping;
		want = k->want_in;
		pthread_mutex_unlock(&k->emu->lock);
		if (stop)
			break;
		if (!want && k->fd >= 0)
			key_unplug(k, "removed");
		if (want && !was_wanted) {      /* plugged back by `insert`: try at once */
			k->next_try_ms = 0;
			k->backoff_ms = BACKOFF_MIN_MS;
		}
		was_wanted = want;
		if (want && k->fd < 0 && emu_now_ms() >= k->next_try_ms)
			key_try_connect(k);
		pfd[0] = (struct pollfd){ .fd = k->evfd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = k->fd, .events = POLLIN };
		if (poll(pfd, 2, key_poll_ms(k, want)) <= 0)
			continue;
		if (pfd[0].revents & POLLIN)
			(void)!read(k->evfd, &ev, sizeof(ev));
		if (k->fd >= 0 && (pfd[0].revents & POLLIN) && k->emu->ops->poke != NULL)
			key_after_frames(k, k->emu->ops->poke(k));
		if (k->fd >= 0 && (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)))
			key_after_frames(k, key_readable(k));
	}
	if (k->fd >= 0)
		key_unplug(k, "stopping");
	return NULL;
}

/* ---- creation and shutdown ---- */

void emu_key_wake(emu_key *k)
{
	uint64_t one = 1;

	(void)!write(k->evfd, &one, sizeof(one));
}

static void key_free(emu_key *k)
{
	if (k == NULL)
		return;
	if (k->evfd >= 0)
		close(k->evfd);
	if (k->emu != NULL && k->emu->ops->key_free != NULL)
		k->emu->ops->key_free(k);
	ukt_card_close(k->card);
	free(k->dir);
	free(k->auto_pinpad_file);
	uk_wipe(k->pad_pin, sizeof(k->pad_pin));
	uk_wipe(k->rx, sizeof(k->rx));
	free(k);
}

/* Fixed facts of the key (serial, label, zone), read once from the card itself with GET DATA
 * 01 00 so `list` never touches the card from another thread. */
static void key_identity(emu_key *k)
{
	static const uint8_t sel[] = { 0x00, 0xA4, 0x04, 0x00, 0x06, 0xF0, 0x75, 0x6B, 0x65, 0x79, 0x01 };
	static const uint8_t info[] = { 0x00, 0xCA, 0x01, 0x00, 0x00 };
	uint8_t resp[512];
	size_t rlen = sizeof(resp);
	uk_tlv t;

	snprintf(k->serial, sizeof(k->serial), "%s", ukt_card_serial(k->card));
	snprintf(k->label, sizeof(k->label), "?");
	k->zone = 0;
	if (ukt_card_transmit(k->card, sel, sizeof(sel), resp, &rlen) == 0) {
		rlen = sizeof(resp);
		if (ukt_card_transmit(k->card, info, sizeof(info), resp, &rlen) == 0 && rlen >= 2 &&
		    uk_get_u16(resp + rlen - 2) == 0x9000) {
			if (uk_tlv_find(resp, rlen - 2, 0x81, &t) == 1 && t.len <= EMU_LABEL_MAX) {
				memcpy(k->label, t.value, t.len);
				k->label[t.len] = '\0';
			}
			if (uk_tlv_find(resp, rlen - 2, 0x82, &t) == 1 && t.len == 1)
				k->zone = t.value[0];
		}
	}
	ukt_card_power(k->card, UKT_POWER_RESET);       /* deselect again */
}

static emu_key *key_new(emu *e, unsigned index, const emu_new_key *nk, const char **why)
{
	ukt_provision p = nk->prov;
	emu_key *k = calloc(1, sizeof(*k));
	size_t n = strlen(e->state) + 32;

	*why = "out of memory";
	if (k == NULL)
		return NULL;
	k->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	k->dir = malloc(n);
	if (k->evfd < 0 || k->dir == NULL)
		goto fail;
	snprintf(k->dir, n, "%s/key-%u", e->state, index);
	p.index = index;
	k->card = ukt_card_open(k->dir, &p);
	*why = "cannot open or provision the key state";
	if (k->card == NULL)
		goto fail;
	k->emu = e;
	k->index = index;
	k->fd = -1;
	*why = "out of memory";
	if (e->ops->key_init != NULL && e->ops->key_init(k) != 0)
		goto fail;
	k->backoff_ms = BACKOFF_MIN_MS;
	k->button = nk->button;
	k->auto_confirm = nk->auto_confirm;
	k->confirm_ms = nk->confirm_ms ? nk->confirm_ms : EMU_CONFIRM_MS_DEFAULT;
	k->pinpad = nk->pinpad || nk->auto_pinpad_file != NULL;
	*why = "the auto-pinpad file cannot be read";
	if (nk->auto_pinpad_file != NULL && access(nk->auto_pinpad_file, R_OK) != 0)
		goto fail;
	*why = "out of memory";
	if (nk->auto_pinpad_file != NULL &&
	    (k->auto_pinpad_file = strdup(nk->auto_pinpad_file)) == NULL)
		goto fail;
	k->want_in = 1;
	key_identity(k);
	key_hooks(k);
	return k;
fail:
	fprintf(stderr, "ukey-emu: %s: %s\n", k->dir ? k->dir : e->state, *why);
	key_free(k);
	return NULL;
}

emu_key *emu_key_create(emu *e, const emu_new_key *nk, const char **why)
{
	struct timespec ts;
	emu_key *k = NULL;
	unsigned index;
	int r = 0;

	pthread_mutex_lock(&e->lock);
	index = e->nkeys;
	pthread_mutex_unlock(&e->lock);
	/* Only the control thread (or main, before it) creates keys: index stays free. */
	*why = "too many keys";
	if (index >= EMU_MAX_KEYS)
		return NULL;
	k = key_new(e, index, nk, why);
	if (k == NULL)
		return NULL;
	*why = "cannot start the key's thread";
	if (pthread_create(&k->thread, NULL, key_thread, k) != 0) {
		key_free(k);
		return NULL;
	}
	k->started = 1;
	pthread_mutex_lock(&e->lock);
	e->keys[e->nkeys++] = k;
	/* Keys connect in index order, so the driver gives key i the i-th free slot. */
	deadline_ts(&ts, FIRST_TRY_WAIT_MS);
	while (!k->tried && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&e->cond, &e->lock, &ts);
	pthread_mutex_unlock(&e->lock);
	return k;
}

void emu_keys_stop(emu *e)
{
	unsigned i;

	pthread_mutex_lock(&e->lock);
	e->stopping = 1;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	for (i = 0; i < e->nkeys; i++) {
		emu_key_wake(e->keys[i]);
		pthread_join(e->keys[i]->thread, NULL);
		key_free(e->keys[i]);
		e->keys[i] = NULL;
	}
	e->nkeys = 0;
}
