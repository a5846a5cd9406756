/* ukey ifd: the AF_UNIX link transport (docs/design.md "Link between ifd/ and ukey-emu").
 *
 * The driver listens; each accepted connection is one key, put in the first free slot;
 * its end removes the key. Framing is vsmartcard's vpcd protocol: 2-byte big-endian length
 * then payload; a 1-byte payload is a control (0 power off, 1 power on, 2 reset, 4 get ATR,
 * only "get ATR" is answered); a longer payload is a command APDU answered by one frame.
 *
 * Threads: one monitor thread accepts connections and watches idle links for hang-ups
 * (POLLRDHUP only, so an answer arriving during an exchange does not wake it); exchanges
 * run on pcscd's threads. Only the monitor assigns fds to slots; a slot's fd is closed by
 * whoever holds it last (busy flag), always under t->lock. Any protocol fault removes the
 * key: the stream can no longer be trusted to be in step.
 *
 * The same code serves "tcp:" (uki_link_tcp_ops, docs/vsmartcard.md): vsmartcard's vicc and
 * other vpcd-protocol cards connect over TCP. Only the listener differs: it binds a loopback
 * address only (TCP has no SO_PEERCRED, so the peer cannot be checked beyond being local),
 * and every accepted socket gets TCP_NODELAY (a frame is one small segment: Nagle plus the
 * peer's delayed ACK would add ~40 ms to every APDU). */
#define _GNU_SOURCE     /* accept4, pipe2, POLLRDHUP, struct ucred */
#include "uki.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "uk_buf.h"
#include "uk_log.h"
#include "uk_wipe.h"
#include "uk_time.h"

enum { CTL_POWER_OFF = 0, CTL_POWER_ON = 1, CTL_RESET = 2, CTL_GET_ATR = 4 };
#define MONITOR_POLL_MS 5000    /* the monitor re-checks its stop flag at least this often */

typedef struct link_slot {
	int fd;                 /* -1: free */
	int busy;               /* an exchange holds fd */
	int closing;            /* key removed while busy: the exchange closes fd */
} link_slot;

typedef struct uki_link_unix {
	uki_reader *rd;
	unsigned nslots;
	int timeout_ms;
	long owner;
	int family;             /* AF_UNIX, or AF_INET / AF_INET6 for tcp: */
	struct sockaddr_storage tcp_sa;
	size_t tcp_sa_len;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t sock_dev;
	ino_t sock_ino;
	int lfd;
	int wake[2];
	int stop;
	int started;
	pthread_t thread;
	pthread_mutex_t lock;
	link_slot slot[UKI_MAX_SLOTS];
} uki_link_unix;

/* ---- bounded socket I/O ---- */

static uki_status wait_fd(int fd, short events, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	long long left = deadline - uk_now_ms();
	int r;

	if (left <= 0)
		return UKI_ERR_TIMEOUT;
	r = poll(&p, 1, (int)left);
	if (r == 0)
		return UKI_ERR_TIMEOUT;
	if (r < 0 && errno != EINTR)
		return UKI_ERR_COMM;
	return UKI_OK;
}

static uki_status recv_exact(int fd, uint8_t *p, size_t n, long long deadline)
{
	uki_status st = UKI_OK;
	ssize_t r;

	while (n > 0 && st == UKI_OK) {
		r = recv(fd, p, n, MSG_DONTWAIT);
		if (r > 0) {
			p += r;
			n -= (size_t)r;
		} else if (r == 0) {
			st = UKI_ERR_COMM;      /* peer closed mid-frame */
		} else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			st = wait_fd(fd, POLLIN, deadline);
		} else {
			st = UKI_ERR_COMM;
		}
	}
	return st;
}

/* Read and wipe n bytes nobody has room for, keeping the stream in step. */
static uki_status recv_discard(int fd, size_t n, long long deadline)
{
	uint8_t chunk[512];
	uki_status st = UKI_OK;
	size_t k;

	while (n > 0 && st == UKI_OK) {
		k = n < sizeof(chunk) ? n : sizeof(chunk);
		st = recv_exact(fd, chunk, k, deadline);
		n -= k;
	}
	uk_wipe(chunk, sizeof(chunk));
	return st;
}

/* One frame whose payload length must lie in [min, max]; UKI_ERR_BUFFER when it is
 * valid but larger than cap (the payload is consumed). */
static uki_status recv_frame(int fd, uint8_t *out, size_t cap, size_t *len, size_t min,
                             size_t max, int first_ms)
{
	uint8_t hdr[2];
	size_t n;
	long long body_deadline;
	uki_status st = recv_exact(fd, hdr, 2, uk_now_ms() + first_ms);

	if (st != UKI_OK)
		return st;
	n = uk_get_u16(hdr);
	if (n < min || n > max) {
		uk_log(UK_LOG_ERROR, "ifd", "link: frame length %zu outside %zu..%zu", n, min, max);
		return UKI_ERR_COMM;
	}
	body_deadline = uk_now_ms() + UKI_BODY_TIMEOUT_MS;
	if (n > cap) {
		st = recv_discard(fd, n, body_deadline);
		return st == UKI_OK ? UKI_ERR_BUFFER : st;
	}
	st = recv_exact(fd, out, n, body_deadline);
	if (st == UKI_OK)
		*len = n;
	return st;
}

/* One frame, built in one buffer and handed to the kernel in one send() (a short write
 * on a full socket buffer is continued). MSG_NOSIGNAL: a vanished peer must not SIGPIPE
 * pcscd. */
static uki_status send_frame(int fd, const uint8_t *payload, size_t n, int timeout_ms)
{
	uint8_t *buf = malloc(n + 2);
	long long deadline = uk_now_ms() + timeout_ms;
	uki_status st = UKI_ERR_NOMEM;
	size_t off = 0;
	ssize_t r;

	if (buf == NULL)
		goto out;
	uk_set_u16(buf, (uint16_t)n);
	memcpy(buf + 2, payload, n);
	st = UKI_OK;
	while (off < n + 2 && st == UKI_OK) {
		r = send(fd, buf + off, n + 2 - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r > 0)
			off += (size_t)r;
		else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			st = wait_fd(fd, POLLOUT, deadline);
		else
			st = UKI_ERR_COMM;
	}
out:
	if (buf != NULL)
		uk_wipe(buf, n + 2);
	free(buf);
	return st;
}

/* The peer speaks only when spoken to: bytes (or EOF) waiting before a command mean it
 * misbehaved while idle. */
static uki_status check_idle(int fd)
{
	uint8_t b;
	ssize_t r = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	if (r > 0) {
		uk_log(UK_LOG_ERROR, "ifd", "link: unsolicited data from the key");
		return UKI_ERR_COMM;
	}
	if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		return UKI_ERR_COMM;
	return UKI_OK;
}

/* ---- slots ---- */

static void wake_monitor(uki_link_unix *t)
{
	ssize_t r = write(t->wake[1], "w", 1);

	(void)r;        /* a full pipe already means "wake up" */
}

static void slot_drop_locked(uki_link_unix *t, unsigned i)
{
	link_slot *s = &t->slot[i];

	if (s->fd < 0 || s->closing)
		return;
	uki_reader_set_present(t->rd, i, 0);
	if (s->busy) {
		s->closing = 1;
		return;
	}
	close(s->fd);
	s->fd = -1;
}

static uki_status slot_acquire(uki_link_unix *t, unsigned i, int *fd)
{
	uki_status st = UKI_ERR_ABSENT;

	pthread_mutex_lock(&t->lock);
	if (i < t->nslots && t->slot[i].fd >= 0 && !t->slot[i].closing && !t->slot[i].busy) {
		t->slot[i].busy = 1;
		*fd = t->slot[i].fd;
		st = UKI_OK;
	}
	pthread_mutex_unlock(&t->lock);
	return st;
}

/* End an exchange; a failed one (other than a too-small buffer) removes the key. */
static uki_status slot_release(uki_link_unix *t, unsigned i, uki_status st)
{
	link_slot *s = &t->slot[i];

	pthread_mutex_lock(&t->lock);
	s->busy = 0;
	if (s->closing) {
		s->closing = 0;
		close(s->fd);
		s->fd = -1;
		if (st != UKI_OK && st != UKI_ERR_BUFFER)
			st = UKI_ERR_ABSENT;
	} else if (st != UKI_OK && st != UKI_ERR_BUFFER) {
		uk_log(UK_LOG_ERROR, "ifd", "link: slot %u %s, key removed", i,
		       st == UKI_ERR_TIMEOUT ? "timed out" : "protocol error");
		slot_drop_locked(t, i);
	}
	pthread_mutex_unlock(&t->lock);
	if (st != UKI_OK)
		wake_monitor(t);
	return st;
}

/* ---- monitor thread ---- */

static int peer_allowed(uki_link_unix *t, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || len != sizeof(cred))
		return 0;
	if (cred.uid == 0 || cred.uid == geteuid() || (t->owner >= 0 && cred.uid == (uid_t)t->owner))
		return 1;
	uk_log(UK_LOG_ERROR, "ifd", "link: refused connection from uid %u pid %d",
	       (unsigned)cred.uid, (int)cred.pid);
	return 0;
}

/* All slots taken: drop idle links whose peer has already gone (a hang-up the monitor has
 * not handled yet) and return the first slot that is free now, or nslots. */
static unsigned sweep_hangups_locked(uki_link_unix *t)
{
	struct pollfd p;
	unsigned i;

	for (i = 0; i < t->nslots; i++) {
		if (t->slot[i].fd < 0 || t->slot[i].busy || t->slot[i].closing)
			continue;
		p = (struct pollfd){ .fd = t->slot[i].fd, .events = POLLRDHUP };
		if (poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			slot_drop_locked(t, i);
	}
	for (i = 0; i < t->nslots && t->slot[i].fd >= 0; i++)
		;
	return i;
}

/* TCP: the listener is bound to loopback, so the peer is local; check it anyway (a
 * misrouted packet must not become a card) and turn Nagle off. */
static int tcp_peer_allowed(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int one = 1, local = 0;

	if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET)
		local = (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >> 24) == 127;
	else if (ss.ss_family == AF_INET6)
		local = IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr);
	if (!local) {
		uk_log(UK_LOG_ERROR, "ifd", "link: refused a non-loopback TCP connection");
		return 0;
	}
	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == 0;
}

static void accept_one(uki_link_unix *t)
{
	int fd = accept4(t->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	unsigned i;

	if (fd < 0)
		return;
	if (t->family == AF_UNIX ? !peer_allowed(t, fd) : !tcp_peer_allowed(fd)) {
		close(fd);
		return;
	}
	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->nslots && t->slot[i].fd >= 0; i++)
		;
	if (i == t->nslots)
		i = sweep_hangups_locked(t);
	if (i < t->nslots) {
		t->slot[i].fd = fd;
		t->slot[i].busy = 0;
		t->slot[i].closing = 0;
		uki_reader_set_present(t->rd, i, 1);
		fd = -1;
	}
	pthread_mutex_unlock(&t->lock);
	if (fd >= 0) {
		uk_log(UK_LOG_ERROR, "ifd", "link: all %u slots taken, connection refused",
		       t->nslots);
		close(fd);
	}
}

/* pfd[0] wake pipe, pfd[1] listener, then idle links; map[k] = slot of pfd[k]. */
static nfds_t monitor_fds(uki_link_unix *t, struct pollfd *pfd, unsigned *map)
{
	nfds_t n = 2;
	unsigned i;

	pfd[0] = (struct pollfd){ .fd = t->wake[0], .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = t->lfd, .events = POLLIN };
	for (i = 0; i < t->nslots; i++) {
		if (t->slot[i].fd < 0 || t->slot[i].closing)
			continue;
		pfd[n] = (struct pollfd){ .fd = t->slot[i].fd, .events = POLLRDHUP };
		map[n++] = i;
	}
	return n;
}

static void monitor_hangups(uki_link_unix *t, const struct pollfd *pfd, nfds_t n,
                            const unsigned *map)
{
	nfds_t k;

	pthread_mutex_lock(&t->lock);
	for (k = 2; k < n; k++) {
		if (!(pfd[k].revents & (POLLRDHUP | POLLHUP | POLLERR)))
			continue;
		if (t->slot[map[k]].fd == pfd[k].fd)    /* still the link we polled */
			slot_drop_locked(t, map[k]);
	}
	pthread_mutex_unlock(&t->lock);
}

static void *monitor_main(void *arg)
{
	uki_link_unix *t = arg;
	struct pollfd pfd[2 + UKI_MAX_SLOTS];
	unsigned map[2 + UKI_MAX_SLOTS];
	char drain[64];
	nfds_t n;
	int r;

	for (;;) {
		pthread_mutex_lock(&t->lock);
		if (t->stop) {
			pthread_mutex_unlock(&t->lock);
			break;
		}
		n = monitor_fds(t, pfd, map);
		pthread_mutex_unlock(&t->lock);
		r = poll(pfd, n, MONITOR_POLL_MS);
		if (r < 0) {
			if (errno != EINTR)
				usleep(100 * 1000);     /* never spin on a persistent error */
			continue;
		}
		if (pfd[0].revents & POLLIN)
			while (read(t->wake[0], drain, sizeof(drain)) > 0)
				;
		/* hang-ups first: a key that was pulled and plugged back in (one poll sees both)
		 * must find its slot free */
		monitor_hangups(t, pfd, n, map);
		if (pfd[1].revents & POLLIN)
			accept_one(t);
	}
	return NULL;
}

/* ---- listening socket ---- */

/* Remove a stale socket left by an earlier pcscd; never anything that is not a socket. */
static uki_status unlink_stale(const char *path)
{
	struct stat sb;

	if (lstat(path, &sb) != 0)
		return errno == ENOENT ? UKI_OK : UKI_ERR_SYSTEM;
	if (!S_ISSOCK(sb.st_mode)) {
		uk_log(UK_LOG_ERROR, "ifd", "link: %s exists and is not a socket", path);
		return UKI_ERR_SYSTEM;
	}
	return unlink(path) == 0 ? UKI_OK : UKI_ERR_SYSTEM;
}

/* The parent directory is created (0700) when missing, e.g. /run/ukey after boot. */
static void make_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		uk_log(UK_LOG_ERROR, "ifd", "link: cannot create %s: %s", dir, strerror(errno));
}

static uki_status link_listen(uki_link_unix *t)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat sb;
	uki_status st = UKI_ERR_SYSTEM;

	make_parent(t->path);
	if (unlink_stale(t->path) != UKI_OK)
		goto out;
	t->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (t->lfd < 0)
		goto out;
	/* Linux takes the new inode's mode from the socket inode: 0600 from the first
	 * instant, with no umask change (umask is per process, pcscd is threaded). */
	if (fchmod(t->lfd, 0600) != 0)
		goto out;
	memcpy(sa.sun_path, t->path, strlen(t->path) + 1);
	if (bind(t->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		goto out;
	if (chmod(t->path, 0600) != 0 || lstat(t->path, &sb) != 0)
		goto out;
	if (t->owner >= 0 && chown(t->path, (uid_t)t->owner, (gid_t)-1) != 0)
		goto out;
	t->sock_dev = sb.st_dev;
	t->sock_ino = sb.st_ino;
	if (listen(t->lfd, 8) != 0)
		goto out;
	st = UKI_OK;
out:
	if (st != UKI_OK)
		uk_log(UK_LOG_ERROR, "ifd", "link: cannot listen on %s: %s", t->path,
		       strerror(errno));
	return st;
}

/* tcp: bind the loopback address of the DEVICENAME. SO_REUSEADDR: a restarted pcscd
 * must not wait out TIME_WAIT of the old links. */
static uki_status link_listen_tcp(uki_link_unix *t)
{
	int one = 1;
	uki_status st = UKI_ERR_SYSTEM;

	t->lfd = socket(t->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (t->lfd < 0)
		goto out;
	if (setsockopt(t->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
		goto out;
	if (bind(t->lfd, (struct sockaddr *)&t->tcp_sa, (socklen_t)t->tcp_sa_len) != 0)
		goto out;
	if (listen(t->lfd, 8) != 0)
		goto out;
	st = UKI_OK;
out:
	if (st != UKI_OK)
		uk_log(UK_LOG_ERROR, "ifd", "link: cannot listen on tcp:%s: %s", t->path,
		       strerror(errno));
	return st;
}

/* ---- transport contract ---- */

static void link_close(void *tp)
{
	uki_link_unix *t = tp;
	struct stat sb;
	unsigned i;

	if (t == NULL)
		return;
	if (t->started) {
		pthread_mutex_lock(&t->lock);
		t->stop = 1;
		pthread_mutex_unlock(&t->lock);
		wake_monitor(t);
		pthread_join(t->thread, NULL);
	}
	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->nslots; i++)
		slot_drop_locked(t, i);
	pthread_mutex_unlock(&t->lock);
	if (t->lfd >= 0) {
		close(t->lfd);
		/* unlink only our own socket, not one a newer pcscd has bound since */
		if (t->family == AF_UNIX && lstat(t->path, &sb) == 0 &&
		    sb.st_dev == t->sock_dev && sb.st_ino == t->sock_ino)
			unlink(t->path);
	}
	if (t->wake[0] >= 0)
		close(t->wake[0]);
	if (t->wake[1] >= 0)
		close(t->wake[1]);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static uki_status link_open_family(uki_reader *rd, const uki_devname *dev, void **tp,
                                   int tcp)
{
	uki_link_unix *t = calloc(1, sizeof(*t));
	uki_status st = UKI_ERR_NOMEM;
	unsigned i;

	if (t == NULL)
		return st;
	t->rd = rd;
	t->nslots = dev->slots;
	t->timeout_ms = dev->timeout_ms;
	t->owner = dev->owner;
	t->lfd = t->wake[0] = t->wake[1] = -1;
	pthread_mutex_init(&t->lock, NULL);
	for (i = 0; i < UKI_MAX_SLOTS; i++)
		t->slot[i].fd = -1;
	st = UKI_ERR_PARAM;
	if (strlen(dev->address) >= sizeof(t->path))
		goto out;
	memcpy(t->path, dev->address, strlen(dev->address) + 1);   /* tcp: HOST:PORT */
	t->family = AF_UNIX;
	if (tcp && uki_devname_tcp(dev->address, &t->tcp_sa, &t->tcp_sa_len) != UKI_OK)
		goto out;
	if (tcp)
		t->family = t->tcp_sa.ss_family;
	st = UKI_ERR_SYSTEM;
	if (pipe2(t->wake, O_CLOEXEC | O_NONBLOCK) != 0)
		goto out;
	st = tcp ? link_listen_tcp(t) : link_listen(t);
	if (st != UKI_OK)
		goto out;
	st = pthread_create(&t->thread, NULL, monitor_main, t) == 0 ? UKI_OK : UKI_ERR_SYSTEM;
	t->started = st == UKI_OK;
out:
	if (st != UKI_OK) {
		link_close(t);
		t = NULL;
	}
	*tp = t;
	return st;
}

static uki_status link_open(uki_reader *rd, const uki_devname *dev, void **tp)
{
	return link_open_family(rd, dev, tp, 0);
}

static uki_status link_open_tcp(uki_reader *rd, const uki_devname *dev, void **tp)
{
	return link_open_family(rd, dev, tp, 1);
}

static uki_status send_controls(int fd, const uint8_t *ctl, size_t n, int timeout_ms)
{
	uki_status st = UKI_OK;
	size_t i;

	for (i = 0; i < n && st == UKI_OK; i++)
		st = send_frame(fd, &ctl[i], 1, timeout_ms);
	return st;
}

/* Power up = "power on" then "get ATR"; reset = "reset" then "get ATR"; down = "power
 * off" (vpcd answers only "get ATR"). An ATR has TS and T0 at least (ISO 7816-3 §8.2). */
static uki_status link_power(void *tp, unsigned slot, uki_power action, uint8_t *atr,
                             size_t cap, size_t *atr_len)
{
	static const uint8_t seq_up[] = { CTL_POWER_ON, CTL_GET_ATR };
	static const uint8_t seq_reset[] = { CTL_RESET, CTL_GET_ATR };
	static const uint8_t seq_down[] = { CTL_POWER_OFF };
	uki_link_unix *t = tp;
	const uint8_t *seq = action == UKI_POWER_UP ? seq_up :
	                     action == UKI_POWER_RESET ? seq_reset : seq_down;
	size_t seq_len = action == UKI_POWER_DOWN ? 1 : 2;
	int fd = -1;
	uki_status st = slot_acquire(t, slot, &fd);

	if (st != UKI_OK)
		return st;
	st = check_idle(fd);
	if (st == UKI_OK)
		st = send_controls(fd, seq, seq_len, t->timeout_ms);
	if (st == UKI_OK && action != UKI_POWER_DOWN) {
		st = recv_frame(fd, atr, cap, atr_len, 2, UKI_ATR_MAX, t->timeout_ms);
		if (st == UKI_ERR_BUFFER)
			st = UKI_ERR_COMM;
	}
	return slot_release(t, slot, st);
}

static uki_status link_xfer(void *tp, unsigned slot, const uint8_t *cmd, size_t cmd_len,
                            uint8_t *resp, size_t cap, size_t *resp_len)
{
	uki_link_unix *t = tp;
	int fd = -1;
	uki_status st;

	/* a 1-byte payload would read as a control; the frame holds 65535 bytes at most */
	if (cmd_len < 2 || cmd_len > UKI_FRAME_MAX)
		return UKI_ERR_PARAM;
	st = slot_acquire(t, slot, &fd);
	if (st != UKI_OK)
		return st;
	st = check_idle(fd);
	if (st == UKI_OK)
		st = send_frame(fd, cmd, cmd_len, t->timeout_ms);
	if (st == UKI_OK)   /* a response APDU carries SW1 SW2 at least (ISO 7816-4 §5.1) */
		st = recv_frame(fd, resp, cap, resp_len, 2, UKI_FRAME_MAX, t->timeout_ms);
	return slot_release(t, slot, st);
}

const uki_transport_ops uki_link_unix_ops = {
	.scheme = "unix",
	.open = link_open,
	.close = link_close,
	.power = link_power,
	.xfer = link_xfer,
};

const uki_transport_ops uki_link_tcp_ops = {
	.scheme = "tcp",
	.open = link_open_tcp,
	.close = link_close,
	.power = link_power,
	.xfer = link_xfer,
};
