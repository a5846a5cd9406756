/* usbsock framing (docs/ccid.md "usbsock"): bounded reads and writes of whole messages. */
#include "usbsock.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Wait for fd to become ready for events; 1 ready, 0 timeout, -1 error. */
static int usbsock_wait(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int rc;

	do {
		rc = poll(&p, 1, timeout_ms);
	} while (rc < 0 && errno == EINTR);
	if (rc <= 0)
		return rc;
	if (p.revents & POLLNVAL)
		return -1;
	return 1;
}

static int usbsock_send_all(int fd, const uint8_t *p, size_t n, int timeout_ms)
{
	while (n > 0) {
		ssize_t w;

		if (usbsock_wait(fd, POLLOUT, timeout_ms) != 1)
			return UKI_USBSOCK_ERR;
		/* MSG_NOSIGNAL: a gone peer must not kill the host with SIGPIPE */
		w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0)
			return UKI_USBSOCK_ERR;
		p += w;
		n -= (size_t)w;
	}
	return UKI_USBSOCK_OK;
}

int uki_usbsock_write(int fd, uint8_t type, const void *a, size_t alen,
                      const void *b, size_t blen, int timeout_ms)
{
	uint8_t hdr[UKI_USBSOCK_HEADER];
	size_t len = alen + blen;
	int rc;

	if (len > UKI_USBSOCK_MAX || (alen && !a) || (blen && !b))
		return UKI_USBSOCK_ERR;
	hdr[0] = type;
	hdr[1] = (uint8_t)len;
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)(len >> 16);
	hdr[4] = (uint8_t)(len >> 24);
	rc = usbsock_send_all(fd, hdr, sizeof(hdr), timeout_ms);
	if (rc == UKI_USBSOCK_OK && alen)
		rc = usbsock_send_all(fd, a, alen, timeout_ms);
	if (rc == UKI_USBSOCK_OK && blen)
		rc = usbsock_send_all(fd, b, blen, timeout_ms);
	return rc;
}

/* Read exactly n bytes; the first wait is first_ms, later ones body_ms. */
static int usbsock_recv_all(int fd, uint8_t *p, size_t n, int first_ms, int body_ms)
{
	int wait_ms = first_ms;
	size_t got = 0;

	while (got < n) {
		ssize_t r;
		int w = usbsock_wait(fd, POLLIN, wait_ms);

		if (w == 0 && got == 0 && wait_ms == first_ms)
			return UKI_USBSOCK_IDLE;
		if (w != 1)
			return UKI_USBSOCK_ERR;
		r = recv(fd, p + got, n - got, MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			return UKI_USBSOCK_ERR;
		got += (size_t)r;
		wait_ms = body_ms;
	}
	return UKI_USBSOCK_OK;
}

int uki_usbsock_read(int fd, uint8_t *type, uint8_t **payload, size_t *len,
                     int first_timeout_ms, int body_timeout_ms)
{
	uint8_t hdr[UKI_USBSOCK_HEADER];
	uint8_t *buf = NULL;
	size_t n;
	int rc;

	*payload = NULL;
	*len = 0;
	rc = usbsock_recv_all(fd, hdr, sizeof(hdr), first_timeout_ms, body_timeout_ms);
	if (rc != UKI_USBSOCK_OK)
		goto out;
	n = (size_t)hdr[1] | (size_t)hdr[2] << 8 | (size_t)hdr[3] << 16 | (size_t)hdr[4] << 24;
	rc = UKI_USBSOCK_ERR;
	if (n > UKI_USBSOCK_MAX)
		goto out;
	buf = malloc(n ? n : 1);
	if (!buf)
		goto out;
	rc = usbsock_recv_all(fd, buf, n, body_timeout_ms, body_timeout_ms);
	if (rc != UKI_USBSOCK_OK) {
		rc = UKI_USBSOCK_ERR;   /* a header without its body: out of step */
		goto out;
	}
	*type = hdr[0];
	*payload = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	return rc;
}
