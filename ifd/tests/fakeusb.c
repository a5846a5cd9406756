/* libukey-fakeusb.so: the libusb-1.0 subset of docs/ccid.md ("libusb subset") over the
 * usbsock protocol, for tests only. LD_PRELOADed into pcscd, it takes the place of libusb
 * for libifd-ukey.so, so the real driver code runs against emulated USB devices.
 *
 * One bus per process ($UKEY_FAKEUSB_SOCKET, mode 0600), shared by every libusb context,
 * from the first libusb_init to the last libusb_exit. A bus thread accepts connections (one
 * connection = one device, after its `D` message), reads every message from every device
 * and queues it per endpoint (bulk IN, interrupt IN, control answers); transfers wait on
 * those queues under the bus lock with a bound. A connection's end is the device unplugged:
 * hotplug LEFT, and LIBUSB_ERROR_NO_DEVICE from then on. Nothing here aborts or blocks
 * without a bound, except a transfer with timeout 0, which libusb defines as unlimited (it
 * still ends when the device leaves or the bus stops).
 *
 * Lock order: device ctrl_lock -> bus lock; device write_lock is taken alone. */
#define _GNU_SOURCE     /* accept4, pipe2 */
#include "usbsock.h"

#include <libusb.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#define FU_API __attribute__((visibility("default")))

#define FU_MAX_DEVICES 32
#define FU_MAX_PENDING 8
#define FU_QUEUE_MAX 256        /* messages waiting on one endpoint before the device is cut */
#define FU_MAX_CALLBACKS 16     /* hotplug callbacks per context */
#define FU_MAX_EVENTS 64        /* undelivered hotplug events per context */
#define FU_BODY_MS 2000         /* rest of a message once its first byte came */
#define FU_WRITE_MS 5000        /* the device must take a message within this */
#define FU_DEVICE_DESC_LEN 18
#define FU_BUS_NUMBER 1
#define FU_FIRST_ADDRESS 2
#define FU_SETUP_LEN 8

typedef struct fu_msg {
	struct fu_msg *next;
	uint8_t type;
	size_t len;
	uint8_t *data;
} fu_msg;

typedef struct fu_queue {
	fu_msg *head, *tail;
	unsigned count;
} fu_queue;

struct libusb_device {
	unsigned refs;
	int fd;
	uint8_t address;
	bool gone;
	bool halted;            /* bulk IN stalled until libusb_clear_halt */
	unsigned ctrl_stale;    /* control answers still due for timed-out requests */
	uint32_t claimed;       /* claimed interface numbers (0..31) */
	struct libusb_device_descriptor dd;
	uint8_t *config;        /* the whole configuration descriptor */
	size_t config_len;
	fu_queue bulk_in, intr_in, ctrl_in;
	pthread_mutex_t write_lock;     /* one message at a time on the socket */
	pthread_mutex_t ctrl_lock;      /* one control transfer at a time */
};

struct libusb_device_handle {
	libusb_device *dev;
	uint32_t claimed;
};

typedef struct fu_callback {
	libusb_hotplug_callback_handle handle;
	int events;
	int vendor, product, dev_class;
	libusb_hotplug_callback_fn fn;
	void *user;
} fu_callback;

typedef struct fu_event {
	libusb_device *dev;
	libusb_hotplug_event event;
} fu_event;

struct libusb_context {
	struct libusb_context *next;
	fu_callback cb[FU_MAX_CALLBACKS];
	unsigned ncb;
	fu_event ev[FU_MAX_EVENTS];
	unsigned ev_head, ev_count;
	unsigned wakeups;       /* bumped to make a waiting handle_events return */
	unsigned refs;          /* the default context counts its libusb_init(NULL) calls */
};

static struct fu_bus {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned refs;
	libusb_context *contexts;
	libusb_context *default_ctx;
	int listen_fd;
	int wake[2];
	pthread_t thread;
	bool stop;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	libusb_device *dev[FU_MAX_DEVICES];
	unsigned ndev;
	int pending[FU_MAX_PENDING];
	unsigned npending;
	uint8_t next_address;
	libusb_hotplug_callback_handle next_cb;
} g_bus = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.listen_fd = -1,
	.wake = { -1, -1 },
	.next_address = FU_FIRST_ADDRESS,
	.next_cb = 1,
};

/* init/exit are serialised whole, so a bus is never started while one stops */
static pthread_mutex_t g_life = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* The bus condition runs on CLOCK_MONOTONIC so timeouts ignore wall-clock changes. */
static void fu_once(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&g_bus.cond, &a);
	pthread_condattr_destroy(&a);
}

static void fu_deadline(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Wait on the bus condition; timeout_ms 0 = no deadline. Returns ETIMEDOUT once past it. */
static int fu_wait_locked(const struct timespec *deadline, bool bounded)
{
	if (!bounded)
		return pthread_cond_wait(&g_bus.cond, &g_bus.lock);
	return pthread_cond_timedwait(&g_bus.cond, &g_bus.lock, deadline);
}

/* ---- message queues ------------------------------------------------------------- */

static void fu_queue_clear(fu_queue *q)
{
	while (q->head) {
		fu_msg *m = q->head;

		q->head = m->next;
		free(m->data);
		free(m);
	}
	q->tail = NULL;
	q->count = 0;
}

/* Takes ownership of data on success only. */
static int fu_queue_push(fu_queue *q, uint8_t type, uint8_t *data, size_t len)
{
	fu_msg *m;

	if (q->count >= FU_QUEUE_MAX)
		return -1;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -1;
	m->type = type;
	m->data = data;
	m->len = len;
	if (q->tail)
		q->tail->next = m;
	else
		q->head = m;
	q->tail = m;
	q->count++;
	return 0;
}

static fu_msg *fu_queue_pop(fu_queue *q)
{
	fu_msg *m = q->head;

	if (!m)
		return NULL;
	q->head = m->next;
	if (!q->head)
		q->tail = NULL;
	q->count--;
	return m;
}

static void fu_msg_free(fu_msg *m)
{
	if (!m)
		return;
	free(m->data);
	free(m);
}

/* ---- devices ---------------------------------------------------------------------- */

static void fu_device_free(libusb_device *dev)
{
	fu_queue_clear(&dev->bulk_in);
	fu_queue_clear(&dev->intr_in);
	fu_queue_clear(&dev->ctrl_in);
	if (dev->fd >= 0)
		close(dev->fd);
	pthread_mutex_destroy(&dev->write_lock);
	pthread_mutex_destroy(&dev->ctrl_lock);
	free(dev->config);
	free(dev);
}

static void fu_unref_locked(libusb_device *dev)
{
	if (dev && --dev->refs == 0)
		fu_device_free(dev);
}

/* Queue a hotplug event for every context that has callbacks (each event holds a ref). */
static void fu_event_post_locked(libusb_device *dev, libusb_hotplug_event event)
{
	libusb_context *c;

	for (c = g_bus.contexts; c; c = c->next) {
		unsigned slot;

		if (c->ncb == 0 || c->ev_count >= FU_MAX_EVENTS)
			continue;
		slot = (c->ev_head + c->ev_count) % FU_MAX_EVENTS;
		c->ev[slot].dev = dev;
		c->ev[slot].event = event;
		c->ev_count++;
		dev->refs++;
	}
	pthread_cond_broadcast(&g_bus.cond);
}

/* The device left: no more transfers, LEFT event, the bus drops its reference. The socket
 * stays open (shut down) until the last reference goes, so a writer never hits a reused fd. */
static void fu_device_gone_locked(unsigned index)
{
	libusb_device *dev = g_bus.dev[index];

	g_bus.dev[index] = g_bus.dev[--g_bus.ndev];
	dev->gone = true;
	shutdown(dev->fd, SHUT_RDWR);
	fu_event_post_locked(dev, LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT);
	fu_unref_locked(dev);
}

/* ---- descriptors -------------------------------------------------------------------- */

static uint16_t fu_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static int fu_device_desc_parse(const uint8_t *p, size_t n, struct libusb_device_descriptor *d)
{
	if (n < FU_DEVICE_DESC_LEN || p[0] != FU_DEVICE_DESC_LEN || p[1] != LIBUSB_DT_DEVICE)
		return -1;
	d->bLength = p[0];
	d->bDescriptorType = p[1];
	d->bcdUSB = fu_le16(p + 2);
	d->bDeviceClass = p[4];
	d->bDeviceSubClass = p[5];
	d->bDeviceProtocol = p[6];
	d->bMaxPacketSize0 = p[7];
	d->idVendor = fu_le16(p + 8);
	d->idProduct = fu_le16(p + 10);
	d->bcdDevice = fu_le16(p + 12);
	d->iManufacturer = p[14];
	d->iProduct = p[15];
	d->iSerialNumber = p[16];
	d->bNumConfigurations = p[17];
	return 0;
}

static int fu_extra_append(const unsigned char **extra, int *extra_len, const uint8_t *p,
                           size_t n)
{
	unsigned char *grown = realloc((void *)*extra, (size_t)*extra_len + n);

	if (!grown)
		return -1;
	memcpy(grown + *extra_len, p, n);
	*extra = grown;
	*extra_len += (int)n;
	return 0;
}

static void fu_altsetting_free(struct libusb_interface_descriptor *alt)
{
	int e;

	for (e = 0; e < alt->bNumEndpoints; e++)
		free((void *)alt->endpoint[e].extra);
	free((void *)alt->endpoint);
	free((void *)alt->extra);
}

static void fu_config_free(struct libusb_config_descriptor *cfg)
{
	int i, a;

	if (!cfg)
		return;
	for (i = 0; i < cfg->bNumInterfaces && cfg->interface; i++) {
		const struct libusb_interface *itf = &cfg->interface[i];

		for (a = 0; a < itf->num_altsetting; a++)
			fu_altsetting_free((struct libusb_interface_descriptor *)&itf->altsetting[a]);
		free((void *)itf->altsetting);
	}
	free((void *)cfg->interface);
	free((void *)cfg->extra);
	free(cfg);
}

/* Parser state: where the descriptors that are not interfaces/endpoints go (libusb puts
 * them in the extra bytes of the last interface or endpoint seen, else the configuration). */
typedef struct fu_cfg_parse {
	struct libusb_config_descriptor *cfg;
	struct libusb_interface_descriptor *alt;        /* current altsetting */
	struct libusb_endpoint_descriptor *ep;          /* current endpoint */
	uint8_t numbers[32];                             /* bInterfaceNumber per index */
} fu_cfg_parse;

static int fu_cfg_interface(fu_cfg_parse *ps, const uint8_t *p)
{
	struct libusb_config_descriptor *cfg = ps->cfg;
	struct libusb_interface *itf;
	struct libusb_interface_descriptor *alts;
	int i;

	for (i = 0; i < cfg->bNumInterfaces && ps->numbers[i] != p[2]; i++)
		;
	if (i == cfg->bNumInterfaces) {
		if (i >= 32)
			return -1;
		itf = realloc((void *)cfg->interface, sizeof(*itf) * (size_t)(i + 1));
		if (!itf)
			return -1;
		memset(&itf[i], 0, sizeof(*itf));
		cfg->interface = itf;
		cfg->bNumInterfaces++;
		ps->numbers[i] = p[2];
	}
	itf = (struct libusb_interface *)&cfg->interface[i];
	alts = realloc((void *)itf->altsetting, sizeof(*alts) * (size_t)(itf->num_altsetting + 1));
	if (!alts)
		return -1;
	itf->altsetting = alts;
	ps->alt = &alts[itf->num_altsetting++];
	memset(ps->alt, 0, sizeof(*ps->alt));
	ps->alt->bLength = p[0];
	ps->alt->bDescriptorType = p[1];
	ps->alt->bInterfaceNumber = p[2];
	ps->alt->bAlternateSetting = p[3];
	/* bNumEndpoints counts the endpoints actually parsed below */
	ps->alt->bInterfaceClass = p[5];
	ps->alt->bInterfaceSubClass = p[6];
	ps->alt->bInterfaceProtocol = p[7];
	ps->alt->iInterface = p[8];
	ps->ep = NULL;
	return 0;
}

static int fu_cfg_endpoint(fu_cfg_parse *ps, const uint8_t *p)
{
	struct libusb_interface_descriptor *alt = ps->alt;
	struct libusb_endpoint_descriptor *eps;

	if (!alt || alt->bNumEndpoints == UINT8_MAX)
		return -1;
	eps = realloc((void *)alt->endpoint, sizeof(*eps) * (size_t)(alt->bNumEndpoints + 1));
	if (!eps)
		return -1;
	alt->endpoint = eps;
	ps->ep = &eps[alt->bNumEndpoints++];
	memset(ps->ep, 0, sizeof(*ps->ep));
	ps->ep->bLength = p[0];
	ps->ep->bDescriptorType = p[1];
	ps->ep->bEndpointAddress = p[2];
	ps->ep->bmAttributes = p[3];
	ps->ep->wMaxPacketSize = fu_le16(p + 4);
	ps->ep->bInterval = p[6];
	if (p[0] >= 9) {        /* audio-class endpoints (USB 2.0 §9.6.6 note) */
		ps->ep->bRefresh = p[7];
		ps->ep->bSynchAddress = p[8];
	}
	return 0;
}

static int fu_cfg_other(fu_cfg_parse *ps, const uint8_t *p)
{
	if (ps->ep)
		return fu_extra_append(&ps->ep->extra, &ps->ep->extra_length, p, p[0]);
	if (ps->alt)
		return fu_extra_append(&ps->alt->extra, &ps->alt->extra_length, p, p[0]);
	return fu_extra_append(&ps->cfg->extra, &ps->cfg->extra_length, p, p[0]);
}

/* USB 2.0 §9.6.3: the configuration descriptor and everything wTotalLength covers. */
static int fu_config_parse(const uint8_t *p, size_t n, struct libusb_config_descriptor **out)
{
	fu_cfg_parse ps = { 0 };
	size_t off, total;
	int rc = LIBUSB_ERROR_IO;

	*out = NULL;
	if (n < LIBUSB_DT_CONFIG_SIZE || p[0] < LIBUSB_DT_CONFIG_SIZE || p[1] != LIBUSB_DT_CONFIG)
		return rc;
	total = fu_le16(p + 2);
	if (total > n || total < p[0])
		return rc;
	ps.cfg = calloc(1, sizeof(*ps.cfg));
	if (!ps.cfg)
		return LIBUSB_ERROR_NO_MEM;
	ps.cfg->bLength = p[0];
	ps.cfg->bDescriptorType = p[1];
	ps.cfg->wTotalLength = (uint16_t)total;
	ps.cfg->bConfigurationValue = p[5];
	ps.cfg->iConfiguration = p[6];
	ps.cfg->bmAttributes = p[7];
	ps.cfg->MaxPower = p[8];
	for (off = p[0]; off < total; off += p[off]) {
		const uint8_t *d = p + off;
		int r;

		if (total - off < 2 || d[0] < 2 || d[0] > total - off)
			goto out;
		if (d[1] == LIBUSB_DT_INTERFACE && d[0] >= LIBUSB_DT_INTERFACE_SIZE)
			r = fu_cfg_interface(&ps, d);
		else if (d[1] == LIBUSB_DT_ENDPOINT && d[0] >= LIBUSB_DT_ENDPOINT_SIZE)
			r = fu_cfg_endpoint(&ps, d);
		else if (d[1] == LIBUSB_DT_INTERFACE || d[1] == LIBUSB_DT_ENDPOINT)
			r = -1;
		else
			r = fu_cfg_other(&ps, d);
		if (r != 0)
			goto out;
	}
	*out = ps.cfg;
	ps.cfg = NULL;
	rc = LIBUSB_SUCCESS;
out:
	fu_config_free(ps.cfg);
	return rc;
}

/* A new device from its D message; NULL when the descriptors are not usable. */
static libusb_device *fu_device_new(int fd, uint8_t *payload, size_t len)
{
	struct libusb_config_descriptor *cfg = NULL;
	libusb_device *dev = calloc(1, sizeof(*dev));

	if (!dev)
		return NULL;
	if (fu_device_desc_parse(payload, len, &dev->dd) != 0 ||
	    fu_config_parse(payload + FU_DEVICE_DESC_LEN, len - FU_DEVICE_DESC_LEN, &cfg) != 0) {
		free(dev);
		return NULL;
	}
	fu_config_free(cfg);
	dev->config_len = len - FU_DEVICE_DESC_LEN;
	dev->config = malloc(dev->config_len);
	if (!dev->config) {
		free(dev);
		return NULL;
	}
	memcpy(dev->config, payload + FU_DEVICE_DESC_LEN, dev->config_len);
	dev->refs = 1;  /* the bus's own, dropped when the device leaves */
	dev->fd = fd;
	pthread_mutex_init(&dev->write_lock, NULL);
	pthread_mutex_init(&dev->ctrl_lock, NULL);
	return dev;
}

/* ---- the bus thread ----------------------------------------------------------------- */

static void fu_pending_remove_locked(unsigned i)
{
	g_bus.pending[i] = g_bus.pending[--g_bus.npending];
}

/* The first message of a connection must be D; then it is a device (ARRIVED). */
static void fu_pending_read(unsigned i)
{
	int fd = g_bus.pending[i];
	libusb_device *dev = NULL;
	uint8_t type = 0, *payload = NULL;
	size_t len = 0;

	if (uki_usbsock_read(fd, &type, &payload, &len, 0, FU_BODY_MS) == UKI_USBSOCK_OK &&
	    type == UKI_USBSOCK_DEVICE)
		dev = fu_device_new(fd, payload, len);
	free(payload);
	pthread_mutex_lock(&g_bus.lock);
	fu_pending_remove_locked(i);
	if (dev && g_bus.ndev < FU_MAX_DEVICES) {
		dev->address = g_bus.next_address;
		g_bus.next_address = g_bus.next_address >= 127 ? FU_FIRST_ADDRESS
		                                               : g_bus.next_address + 1;
		g_bus.dev[g_bus.ndev++] = dev;
		fu_event_post_locked(dev, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED);
		dev = NULL;
	} else if (!dev) {
		close(fd);
	}
	pthread_mutex_unlock(&g_bus.lock);
	if (dev) {              /* bus full */
		dev->refs = 0;
		fu_device_free(dev);
	}
}

/* One message from a device, queued for its endpoint; anything unexpected unplugs it. */
static void fu_device_read(libusb_device *dev)
{
	uint8_t type = 0, *payload = NULL;
	size_t len = 0;
	int rc = uki_usbsock_read(dev->fd, &type, &payload, &len, 0, FU_BODY_MS);
	fu_queue *q = NULL;
	unsigned i;

	pthread_mutex_lock(&g_bus.lock);
	if (rc == UKI_USBSOCK_OK) {
		if (type == UKI_USBSOCK_IN || type == UKI_USBSOCK_STALL)
			q = &dev->bulk_in;      /* a stall takes its place among the answers */
		else if (type == UKI_USBSOCK_NOTIFY)
			q = &dev->intr_in;
		else if (type == UKI_USBSOCK_CONTROL_ANSWER && len >= 1)
			q = &dev->ctrl_in;
	}
	if (q && dev->ctrl_stale && q == &dev->ctrl_in) {
		dev->ctrl_stale--;      /* the late answer of a control transfer that timed out */
		free(payload);
	} else if (q && fu_queue_push(q, type, payload, len) == 0) {
		pthread_cond_broadcast(&g_bus.cond);
	} else if (rc != UKI_USBSOCK_IDLE) {
		free(payload);
		for (i = 0; i < g_bus.ndev && g_bus.dev[i] != dev; i++)
			;
		if (i < g_bus.ndev)
			fu_device_gone_locked(i);
	}
	pthread_mutex_unlock(&g_bus.lock);
}

static void fu_accept(void)
{
	int fd = accept4(g_bus.listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	pthread_mutex_lock(&g_bus.lock);
	if (g_bus.npending < FU_MAX_PENDING && g_bus.ndev < FU_MAX_DEVICES) {
		g_bus.pending[g_bus.npending++] = fd;
		fd = -1;
	}
	pthread_mutex_unlock(&g_bus.lock);
	if (fd >= 0)
		close(fd);      /* the bus is full: the device sees its connection end */
}

/* The bus thread alone adds and removes devices and pending connections, so it may read
 * those lists without the lock; it writes them under the lock. */
static void *fu_bus_thread(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p[2 + FU_MAX_PENDING + FU_MAX_DEVICES];
		libusb_device *devs[FU_MAX_DEVICES];
		unsigned n = 0, i, npend = g_bus.npending, ndev = g_bus.ndev;

		p[n++] = (struct pollfd){ .fd = g_bus.wake[0], .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = g_bus.listen_fd, .events = POLLIN };
		for (i = 0; i < npend; i++)
			p[n++] = (struct pollfd){ .fd = g_bus.pending[i], .events = POLLIN };
		for (i = 0; i < ndev; i++) {
			devs[i] = g_bus.dev[i];
			p[n++] = (struct pollfd){ .fd = devs[i]->fd, .events = POLLIN };
		}
		if (poll(p, n, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			break;  /* libusb_exit: stop */
		/* devices first (indices stay valid: only fu_device_read removes, one at a time) */
		for (i = 0; i < ndev; i++)
			if (p[2 + npend + i].revents)
				fu_device_read(devs[i]);
		for (i = npend; i-- > 0;)
			if (p[2 + i].revents)
				fu_pending_read(i);
		if (p[1].revents)
			fu_accept();
	}
	return NULL;
}

/* ---- bus start and stop --------------------------------------------------------------- */

static void fu_bus_close_fds(void)
{
	if (g_bus.listen_fd >= 0) {
		close(g_bus.listen_fd);
		unlink(g_bus.path);
	}
	if (g_bus.wake[0] >= 0)
		close(g_bus.wake[0]);
	if (g_bus.wake[1] >= 0)
		close(g_bus.wake[1]);
	g_bus.listen_fd = g_bus.wake[0] = g_bus.wake[1] = -1;
}

static int fu_bus_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return LIBUSB_ERROR_INVALID_PARAM;
	strcpy(sa.sun_path, path);
	strcpy(g_bus.path, path);
	/* a stale socket of an earlier run; anything else is left alone (bind fails) */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return LIBUSB_ERROR_OTHER;
	/* mode 0600 before listen(): no device can connect before it is set */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || chmod(path, 0600) != 0 ||
	    listen(fd, 16) != 0) {
		close(fd);
		return errno == EACCES ? LIBUSB_ERROR_ACCESS : LIBUSB_ERROR_OTHER;
	}
	g_bus.listen_fd = fd;
	return LIBUSB_SUCCESS;
}

static int fu_bus_start(void)
{
	const char *path = getenv("UKEY_FAKEUSB_SOCKET");
	int rc;

	if (!path || !*path) {
		fprintf(stderr, "libukey-fakeusb: UKEY_FAKEUSB_SOCKET is not set\n");
		return LIBUSB_ERROR_OTHER;
	}
	rc = fu_bus_listen(path);
	if (rc != LIBUSB_SUCCESS)
		return rc;
	rc = LIBUSB_ERROR_OTHER;
	if (pipe2(g_bus.wake, O_CLOEXEC) != 0)
		goto out;
	g_bus.stop = false;
	if (pthread_create(&g_bus.thread, NULL, fu_bus_thread, NULL) != 0)
		goto out;
	rc = LIBUSB_SUCCESS;
out:
	if (rc != LIBUSB_SUCCESS)
		fu_bus_close_fds();
	return rc;
}

static void fu_bus_stop(void)
{
	ssize_t w;

	do {
		w = write(g_bus.wake[1], "x", 1);
	} while (w < 0 && errno == EINTR);
	pthread_join(g_bus.thread, NULL);
	pthread_mutex_lock(&g_bus.lock);
	g_bus.stop = true;
	while (g_bus.ndev > 0)
		fu_device_gone_locked(g_bus.ndev - 1);
	while (g_bus.npending > 0) {
		close(g_bus.pending[g_bus.npending - 1]);
		fu_pending_remove_locked(g_bus.npending - 1);
	}
	pthread_cond_broadcast(&g_bus.cond);
	pthread_mutex_unlock(&g_bus.lock);
	fu_bus_close_fds();
}

/* ---- contexts ---------------------------------------------------------------------- */

static libusb_context *fu_ctx_locked(libusb_context *ctx)
{
	return ctx ? ctx : g_bus.default_ctx;
}

static void fu_ctx_free_locked(libusb_context *ctx)
{
	libusb_context **pp;

	for (pp = &g_bus.contexts; *pp && *pp != ctx; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = ctx->next;
	while (ctx->ev_count > 0) {
		fu_unref_locked(ctx->ev[ctx->ev_head].dev);
		ctx->ev_head = (ctx->ev_head + 1) % FU_MAX_EVENTS;
		ctx->ev_count--;
	}
	free(ctx);
}

FU_API int LIBUSB_CALL libusb_init(libusb_context **ctx)
{
	libusb_context *c = NULL;
	int rc = LIBUSB_SUCCESS;

	pthread_once(&g_once, fu_once);
	pthread_mutex_lock(&g_life);
	if (!ctx && g_bus.default_ctx) {
		pthread_mutex_lock(&g_bus.lock);
		g_bus.default_ctx->refs++;
		g_bus.refs++;
		pthread_mutex_unlock(&g_bus.lock);
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		rc = LIBUSB_ERROR_NO_MEM;
		goto out;
	}
	if (g_bus.refs == 0)
		rc = fu_bus_start();
	if (rc != LIBUSB_SUCCESS)
		goto out;
	pthread_mutex_lock(&g_bus.lock);
	c->refs = 1;
	c->next = g_bus.contexts;
	g_bus.contexts = c;
	g_bus.refs++;
	if (ctx)
		*ctx = c;
	else
		g_bus.default_ctx = c;
	c = NULL;
	pthread_mutex_unlock(&g_bus.lock);
out:
	pthread_mutex_unlock(&g_life);
	free(c);
	return rc;
}

FU_API void LIBUSB_CALL libusb_exit(libusb_context *ctx)
{
	bool last;

	pthread_mutex_lock(&g_life);
	pthread_mutex_lock(&g_bus.lock);
	ctx = fu_ctx_locked(ctx);
	if (!ctx || g_bus.refs == 0) {
		pthread_mutex_unlock(&g_bus.lock);
		goto out;
	}
	if (--ctx->refs == 0) {
		if (ctx == g_bus.default_ctx)
			g_bus.default_ctx = NULL;
		fu_ctx_free_locked(ctx);
	}
	last = --g_bus.refs == 0;
	pthread_mutex_unlock(&g_bus.lock);
	if (last)
		fu_bus_stop();
out:
	pthread_mutex_unlock(&g_life);
}

FU_API int LIBUSB_CALL libusb_set_option(libusb_context *ctx, enum libusb_option option, ...)
{
	(void)ctx;
	switch (option) {
	case LIBUSB_OPTION_LOG_LEVEL:
	case LIBUSB_OPTION_NO_DEVICE_DISCOVERY:
		return LIBUSB_SUCCESS;  /* accepted, nothing to change on this bus */
	case LIBUSB_OPTION_USE_USBDK:
		return LIBUSB_ERROR_NOT_SUPPORTED;
	default:
		return LIBUSB_ERROR_INVALID_PARAM;
	}
}

FU_API int LIBUSB_CALL libusb_has_capability(uint32_t capability)
{
	return capability == LIBUSB_CAP_HAS_CAPABILITY || capability == LIBUSB_CAP_HAS_HOTPLUG;
}

static const struct fu_error_name {
	int code;
	const char *text;
} fu_errors[] = {
	{ LIBUSB_SUCCESS, "Success" },
	{ LIBUSB_ERROR_IO, "Input/Output Error" },
	{ LIBUSB_ERROR_INVALID_PARAM, "Invalid parameter" },
	{ LIBUSB_ERROR_ACCESS, "Access denied (insufficient permissions)" },
	{ LIBUSB_ERROR_NO_DEVICE, "No such device (it may have been disconnected)" },
	{ LIBUSB_ERROR_NOT_FOUND, "Entity not found" },
	{ LIBUSB_ERROR_BUSY, "Resource busy" },
	{ LIBUSB_ERROR_TIMEOUT, "Operation timed out" },
	{ LIBUSB_ERROR_OVERFLOW, "Overflow" },
	{ LIBUSB_ERROR_PIPE, "Pipe error" },
	{ LIBUSB_ERROR_INTERRUPTED, "System call interrupted (perhaps due to signal)" },
	{ LIBUSB_ERROR_NO_MEM, "Insufficient memory" },
	{ LIBUSB_ERROR_NOT_SUPPORTED, "Operation not supported or unimplemented on this platform" },
	{ LIBUSB_ERROR_OTHER, "Other error" },
};

FU_API const char *LIBUSB_CALL libusb_strerror(int errcode)
{
	size_t i;

	for (i = 0; i < sizeof(fu_errors) / sizeof(fu_errors[0]); i++)
		if (fu_errors[i].code == errcode)
			return fu_errors[i].text;
	return "Unknown error";
}

/* ---- enumeration and descriptors ---------------------------------------------------- */

FU_API ssize_t LIBUSB_CALL libusb_get_device_list(libusb_context *ctx, libusb_device ***list)
{
	libusb_device **l;
	unsigned i;
	ssize_t n;

	(void)ctx;
	if (!list)
		return LIBUSB_ERROR_INVALID_PARAM;
	pthread_mutex_lock(&g_bus.lock);
	l = calloc(g_bus.ndev + 1, sizeof(*l));
	if (!l) {
		pthread_mutex_unlock(&g_bus.lock);
		return LIBUSB_ERROR_NO_MEM;
	}
	for (i = 0; i < g_bus.ndev; i++) {
		l[i] = g_bus.dev[i];
		l[i]->refs++;
	}
	n = (ssize_t)g_bus.ndev;
	pthread_mutex_unlock(&g_bus.lock);
	*list = l;
	return n;
}

FU_API void LIBUSB_CALL libusb_free_device_list(libusb_device **list, int unref_devices)
{
	size_t i;

	if (!list)
		return;
	if (unref_devices) {
		pthread_mutex_lock(&g_bus.lock);
		for (i = 0; list[i]; i++)
			fu_unref_locked(list[i]);
		pthread_mutex_unlock(&g_bus.lock);
	}
	free(list);
}

FU_API libusb_device *LIBUSB_CALL libusb_ref_device(libusb_device *dev)
{
	if (!dev)
		return NULL;
	pthread_mutex_lock(&g_bus.lock);
	dev->refs++;
	pthread_mutex_unlock(&g_bus.lock);
	return dev;
}

FU_API void LIBUSB_CALL libusb_unref_device(libusb_device *dev)
{
	if (!dev)
		return;
	pthread_mutex_lock(&g_bus.lock);
	fu_unref_locked(dev);
	pthread_mutex_unlock(&g_bus.lock);
}

FU_API uint8_t LIBUSB_CALL libusb_get_bus_number(libusb_device *dev)
{
	(void)dev;
	return FU_BUS_NUMBER;
}

FU_API uint8_t LIBUSB_CALL libusb_get_device_address(libusb_device *dev)
{
	return dev ? dev->address : 0;
}

FU_API int LIBUSB_CALL libusb_get_device_descriptor(libusb_device *dev,
                                                    struct libusb_device_descriptor *desc)
{
	if (!dev || !desc)
		return LIBUSB_ERROR_INVALID_PARAM;
	*desc = dev->dd;        /* immutable after the D message */
	return LIBUSB_SUCCESS;
}

FU_API int LIBUSB_CALL libusb_get_config_descriptor(libusb_device *dev, uint8_t config_index,
                                                    struct libusb_config_descriptor **config)
{
	if (!dev || !config)
		return LIBUSB_ERROR_INVALID_PARAM;
	*config = NULL;
	if (config_index >= 1)  /* every usbsock device has one configuration */
		return LIBUSB_ERROR_NOT_FOUND;
	return fu_config_parse(dev->config, dev->config_len, config);
}

FU_API int LIBUSB_CALL libusb_get_active_config_descriptor(libusb_device *dev,
                                                           struct libusb_config_descriptor **config)
{
	return libusb_get_config_descriptor(dev, 0, config);
}

FU_API void LIBUSB_CALL libusb_free_config_descriptor(struct libusb_config_descriptor *config)
{
	fu_config_free(config);
}

/* ---- handles ------------------------------------------------------------------------ */

FU_API int LIBUSB_CALL libusb_open(libusb_device *dev, libusb_device_handle **handle)
{
	libusb_device_handle *h;
	int rc = LIBUSB_ERROR_NO_DEVICE;

	if (!dev || !handle)
		return LIBUSB_ERROR_INVALID_PARAM;
	h = calloc(1, sizeof(*h));
	if (!h)
		return LIBUSB_ERROR_NO_MEM;
	pthread_mutex_lock(&g_bus.lock);
	if (!dev->gone) {
		dev->refs++;
		h->dev = dev;
		*handle = h;
		h = NULL;
		rc = LIBUSB_SUCCESS;
	}
	pthread_mutex_unlock(&g_bus.lock);
	free(h);
	return rc;
}

FU_API void LIBUSB_CALL libusb_close(libusb_device_handle *handle)
{
	if (!handle)
		return;
	pthread_mutex_lock(&g_bus.lock);
	handle->dev->claimed &= ~handle->claimed;
	fu_unref_locked(handle->dev);
	pthread_mutex_unlock(&g_bus.lock);
	free(handle);
}

FU_API libusb_device *LIBUSB_CALL libusb_get_device(libusb_device_handle *dev_handle)
{
	return dev_handle ? dev_handle->dev : NULL;
}

/* Is interface_number one of the device's interfaces? */
static bool fu_has_interface(libusb_device *dev, int interface_number)
{
	struct libusb_config_descriptor *cfg = NULL;
	bool found = false;
	int i;

	if (fu_config_parse(dev->config, dev->config_len, &cfg) != LIBUSB_SUCCESS)
		return false;
	for (i = 0; i < cfg->bNumInterfaces; i++)
		if (cfg->interface[i].altsetting[0].bInterfaceNumber == interface_number)
			found = true;
	fu_config_free(cfg);
	return found;
}

FU_API int LIBUSB_CALL libusb_claim_interface(libusb_device_handle *h, int interface_number)
{
	uint32_t bit;
	int rc = LIBUSB_SUCCESS;

	if (!h || interface_number < 0 || interface_number >= 32)
		return LIBUSB_ERROR_INVALID_PARAM;
	if (!fu_has_interface(h->dev, interface_number))
		return LIBUSB_ERROR_NOT_FOUND;
	bit = 1u << interface_number;
	pthread_mutex_lock(&g_bus.lock);
	if (h->dev->gone)
		rc = LIBUSB_ERROR_NO_DEVICE;
	else if (h->claimed & bit)
		rc = LIBUSB_SUCCESS;    /* libusb: claiming again through the same handle is a no-op */
	else if (h->dev->claimed & bit)
		rc = LIBUSB_ERROR_BUSY;
	else {
		h->dev->claimed |= bit;
		h->claimed |= bit;
	}
	pthread_mutex_unlock(&g_bus.lock);
	return rc;
}

FU_API int LIBUSB_CALL libusb_release_interface(libusb_device_handle *h, int interface_number)
{
	uint32_t bit;
	int rc = LIBUSB_SUCCESS;

	if (!h || interface_number < 0 || interface_number >= 32)
		return LIBUSB_ERROR_INVALID_PARAM;
	bit = 1u << interface_number;
	pthread_mutex_lock(&g_bus.lock);
	if (!(h->claimed & bit))
		rc = LIBUSB_ERROR_NOT_FOUND;
	else {
		h->claimed &= ~bit;
		h->dev->claimed &= ~bit;
		if (h->dev->gone)
			rc = LIBUSB_ERROR_NO_DEVICE;
	}
	pthread_mutex_unlock(&g_bus.lock);
	return rc;
}

static int fu_gone_check(libusb_device_handle *h)
{
	int rc;

	pthread_mutex_lock(&g_bus.lock);
	rc = h->dev->gone ? LIBUSB_ERROR_NO_DEVICE : LIBUSB_SUCCESS;
	pthread_mutex_unlock(&g_bus.lock);
	return rc;
}

/* No kernel driver exists on this bus. */
FU_API int LIBUSB_CALL libusb_kernel_driver_active(libusb_device_handle *h, int interface_number)
{
	if (!h || interface_number < 0)
		return LIBUSB_ERROR_INVALID_PARAM;
	return fu_gone_check(h) == LIBUSB_SUCCESS ? 0 : LIBUSB_ERROR_NO_DEVICE;
}

FU_API int LIBUSB_CALL libusb_detach_kernel_driver(libusb_device_handle *h, int interface_number)
{
	if (!h || interface_number < 0)
		return LIBUSB_ERROR_INVALID_PARAM;
	return fu_gone_check(h) == LIBUSB_SUCCESS ? LIBUSB_ERROR_NOT_FOUND : LIBUSB_ERROR_NO_DEVICE;
}

/* ---- transfers -------------------------------------------------------------------- */

/* Send one message to the device; a failed write leaves the stream out of step, so the
 * connection is shut down (the bus thread then sees the device leave). */
static int fu_send(libusb_device *dev, uint8_t type, const void *a, size_t alen,
                   const void *b, size_t blen)
{
	int rc = LIBUSB_SUCCESS;

	pthread_mutex_lock(&g_bus.lock);
	if (dev->gone)
		rc = LIBUSB_ERROR_NO_DEVICE;
	pthread_mutex_unlock(&g_bus.lock);
	if (rc != LIBUSB_SUCCESS)
		return rc;
	pthread_mutex_lock(&dev->write_lock);
	if (uki_usbsock_write(dev->fd, type, a, alen, b, blen, FU_WRITE_MS) != UKI_USBSOCK_OK) {
		shutdown(dev->fd, SHUT_RDWR);
		rc = LIBUSB_ERROR_NO_DEVICE;
	}
	pthread_mutex_unlock(&dev->write_lock);
	return rc;
}

/* Wait for the next message on q; timeout_ms 0 = unlimited (libusb's convention). */
static int fu_receive_locked(libusb_device *dev, fu_queue *q, unsigned timeout_ms,
                             fu_msg **out)
{
	struct timespec deadline;

	fu_deadline(&deadline, timeout_ms);
	while (!q->head && !dev->gone && !g_bus.stop)
		if (fu_wait_locked(&deadline, timeout_ms != 0) == ETIMEDOUT)
			break;
	if (dev->gone || g_bus.stop)
		return LIBUSB_ERROR_NO_DEVICE;
	if (!q->head)
		return LIBUSB_ERROR_TIMEOUT;
	*out = fu_queue_pop(q);
	return LIBUSB_SUCCESS;
}

/* Copy an IN message into the caller's buffer; more than fits is an overflow (libusb:
 * the bytes that fit are delivered and counted). */
static int fu_deliver(const fu_msg *m, size_t skip, unsigned char *data, int length,
                      int *transferred)
{
	size_t n = m->len - skip;
	int rc = LIBUSB_SUCCESS;

	if (n > (size_t)length) {
		n = (size_t)length;
		rc = LIBUSB_ERROR_OVERFLOW;
	}
	if (n)
		memcpy(data, m->data + skip, n);
	*transferred = (int)n;
	return rc;
}

static int fu_in_transfer(libusb_device *dev, bool bulk, unsigned char *data, int length,
                          int *transferred, unsigned timeout)
{
	fu_msg *m = NULL;
	int rc;

	pthread_mutex_lock(&g_bus.lock);
	if (dev->gone)
		rc = LIBUSB_ERROR_NO_DEVICE;
	else if (bulk && dev->halted)
		rc = LIBUSB_ERROR_PIPE;
	else
		rc = fu_receive_locked(dev, bulk ? &dev->bulk_in : &dev->intr_in, timeout, &m);
	if (rc == LIBUSB_SUCCESS && m->type == UKI_USBSOCK_STALL) {
		dev->halted = true;     /* until libusb_clear_halt sends H */
		rc = LIBUSB_ERROR_PIPE;
	} else if (rc == LIBUSB_SUCCESS) {
		rc = fu_deliver(m, 0, data, length, transferred);
	}
	pthread_mutex_unlock(&g_bus.lock);
	fu_msg_free(m);
	return rc;
}

static int fu_transfer(libusb_device_handle *h, unsigned char endpoint, unsigned char *data,
                       int length, int *transferred, unsigned timeout, bool bulk)
{
	int dummy;

	if (!transferred)
		transferred = &dummy;
	*transferred = 0;
	if (!h || length < 0 || (length > 0 && !data) || (size_t)length > UKI_USBSOCK_MAX)
		return LIBUSB_ERROR_INVALID_PARAM;
	if (endpoint & LIBUSB_ENDPOINT_IN)
		return fu_in_transfer(h->dev, bulk, data, length, transferred, timeout);
	if (!bulk)              /* usbsock has no interrupt OUT */
		return LIBUSB_ERROR_NOT_SUPPORTED;
	if (fu_send(h->dev, UKI_USBSOCK_OUT, data, (size_t)length, NULL, 0) != LIBUSB_SUCCESS)
		return LIBUSB_ERROR_NO_DEVICE;
	*transferred = length;
	return LIBUSB_SUCCESS;
}

FU_API int LIBUSB_CALL libusb_bulk_transfer(libusb_device_handle *h, unsigned char endpoint,
                                            unsigned char *data, int length,
                                            int *transferred, unsigned int timeout)
{
	return fu_transfer(h, endpoint, data, length, transferred, timeout, true);
}

FU_API int LIBUSB_CALL libusb_interrupt_transfer(libusb_device_handle *h, unsigned char endpoint,
                                                 unsigned char *data, int length,
                                                 int *transferred, unsigned int timeout)
{
	return fu_transfer(h, endpoint, data, length, transferred, timeout, false);
}

/* USB 2.0 §9.4.5 CLEAR_FEATURE(ENDPOINT_HALT), carried as H. */
FU_API int LIBUSB_CALL libusb_clear_halt(libusb_device_handle *h, unsigned char endpoint)
{
	int rc;

	if (!h)
		return LIBUSB_ERROR_INVALID_PARAM;
	rc = fu_send(h->dev, UKI_USBSOCK_HALT_CLEAR, &endpoint, 1, NULL, 0);
	if (rc == LIBUSB_SUCCESS && (endpoint & LIBUSB_ENDPOINT_IN)) {
		pthread_mutex_lock(&g_bus.lock);
		h->dev->halted = false;
		pthread_mutex_unlock(&g_bus.lock);
	}
	return rc;
}

/* USB 2.0 §9.3: the setup packet, then the data stage; C out, c back (status, IN data). */
FU_API int LIBUSB_CALL libusb_control_transfer(libusb_device_handle *h, uint8_t request_type,
                                               uint8_t bRequest, uint16_t wValue,
                                               uint16_t wIndex, unsigned char *data,
                                               uint16_t wLength, unsigned int timeout)
{
	uint8_t setup[FU_SETUP_LEN] = { request_type, bRequest, (uint8_t)wValue,
	                                 (uint8_t)(wValue >> 8), (uint8_t)wIndex,
	                                 (uint8_t)(wIndex >> 8), (uint8_t)wLength,
	                                 (uint8_t)(wLength >> 8) };
	bool in = request_type & LIBUSB_ENDPOINT_IN;
	fu_msg *m = NULL;
	int rc, got = 0;

	if (!h || (wLength && !data))
		return LIBUSB_ERROR_INVALID_PARAM;
	pthread_mutex_lock(&h->dev->ctrl_lock);
	rc = fu_send(h->dev, UKI_USBSOCK_CONTROL, setup, sizeof(setup), in ? NULL : data,
	             in ? 0 : wLength);
	if (rc != LIBUSB_SUCCESS)
		goto out;
	pthread_mutex_lock(&g_bus.lock);
	rc = fu_receive_locked(h->dev, &h->dev->ctrl_in, timeout, &m);
	if (rc == LIBUSB_ERROR_TIMEOUT)
		h->dev->ctrl_stale++;   /* its answer, if it comes, is not the next one's */
	pthread_mutex_unlock(&g_bus.lock);
	if (rc != LIBUSB_SUCCESS)
		goto out;
	if (m->data[0] != 0)
		rc = LIBUSB_ERROR_PIPE; /* the device stalled the request */
	else if (in)
		rc = fu_deliver(m, 1, data, wLength, &got) == LIBUSB_SUCCESS ? got
		                                                                 : LIBUSB_ERROR_OVERFLOW;
	else
		rc = wLength;
out:
	pthread_mutex_unlock(&h->dev->ctrl_lock);
	fu_msg_free(m);
	return rc;
}

/* ---- hotplug ------------------------------------------------------------------------ */

static bool fu_cb_matches(const fu_callback *cb, const libusb_device *dev,
                          libusb_hotplug_event event)
{
	return (cb->events & (int)event) &&
	       (cb->vendor == LIBUSB_HOTPLUG_MATCH_ANY || cb->vendor == dev->dd.idVendor) &&
	       (cb->product == LIBUSB_HOTPLUG_MATCH_ANY || cb->product == dev->dd.idProduct) &&
	       (cb->dev_class == LIBUSB_HOTPLUG_MATCH_ANY ||
	        cb->dev_class == dev->dd.bDeviceClass);
}

static void fu_cb_remove_locked(libusb_context *c, libusb_hotplug_callback_handle handle)
{
	unsigned i;

	for (i = 0; i < c->ncb; i++) {
		if (c->cb[i].handle != handle)
			continue;
		memmove(&c->cb[i], &c->cb[i + 1], (c->ncb - i - 1) * sizeof(c->cb[0]));
		c->ncb--;
		c->wakeups++;   /* libusb wakes the event handler on deregistration */
		pthread_cond_broadcast(&g_bus.cond);
		return;
	}
}

/* Call every matching callback, without the lock (they call back into libusb); a callback
 * that returns 1 is deregistered (libusb_hotplug_callback_fn). */
static void fu_event_deliver_locked(libusb_context *c, const fu_event *ev)
{
	fu_callback snap[FU_MAX_CALLBACKS];
	unsigned i, n = 0;

	for (i = 0; i < c->ncb; i++)
		if (fu_cb_matches(&c->cb[i], ev->dev, ev->event))
			snap[n++] = c->cb[i];
	for (i = 0; i < n; i++) {
		int done;

		pthread_mutex_unlock(&g_bus.lock);
		done = snap[i].fn(c, ev->dev, ev->event, snap[i].user);
		pthread_mutex_lock(&g_bus.lock);
		if (done)
			fu_cb_remove_locked(c, snap[i].handle);
	}
}

FU_API int LIBUSB_CALL libusb_handle_events_timeout_completed(libusb_context *ctx,
                                                              struct timeval *tv,
                                                              int *completed)
{
	volatile int *done = completed;
	struct timespec deadline;
	libusb_context *c;
	unsigned wakeups;
	unsigned ms;

	if (!tv || tv->tv_sec < 0 || tv->tv_usec < 0)
		return LIBUSB_ERROR_INVALID_PARAM;
	ms = tv->tv_sec > 600 ? 600000u : (unsigned)(tv->tv_sec * 1000 + tv->tv_usec / 1000);
	fu_deadline(&deadline, ms);
	pthread_mutex_lock(&g_bus.lock);
	c = fu_ctx_locked(ctx);
	if (!c) {
		pthread_mutex_unlock(&g_bus.lock);
		return LIBUSB_ERROR_INVALID_PARAM;
	}
	wakeups = c->wakeups;
	while (c->ev_count == 0 && !(done && *done) && wakeups == c->wakeups && !g_bus.stop)
		if (fu_wait_locked(&deadline, true) == ETIMEDOUT)
			break;
	while (c->ev_count > 0) {
		fu_event ev = c->ev[c->ev_head];

		c->ev_head = (c->ev_head + 1) % FU_MAX_EVENTS;
		c->ev_count--;
		fu_event_deliver_locked(c, &ev);
		fu_unref_locked(ev.dev);
	}
	pthread_mutex_unlock(&g_bus.lock);
	return LIBUSB_SUCCESS;
}

/* LIBUSB_HOTPLUG_ENUMERATE: ARRIVED for every device already there, before returning. */
static void fu_enumerate(libusb_context *c, const fu_callback *cb)
{
	libusb_device *devs[FU_MAX_DEVICES];
	unsigned i, n;

	pthread_mutex_lock(&g_bus.lock);
	for (n = 0; n < g_bus.ndev; n++) {
		devs[n] = g_bus.dev[n];
		devs[n]->refs++;
	}
	pthread_mutex_unlock(&g_bus.lock);
	for (i = 0; i < n; i++)
		if (fu_cb_matches(cb, devs[i], LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED))
			cb->fn(c, devs[i], LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED, cb->user);
	pthread_mutex_lock(&g_bus.lock);
	for (i = 0; i < n; i++)
		fu_unref_locked(devs[i]);
	pthread_mutex_unlock(&g_bus.lock);
}

FU_API int LIBUSB_CALL libusb_hotplug_register_callback(libusb_context *ctx, int events,
                                                        int flags, int vendor_id,
                                                        int product_id, int dev_class,
                                                        libusb_hotplug_callback_fn cb_fn,
                                                        void *user_data,
                                                        libusb_hotplug_callback_handle *cb_handle)
{
	const int all = LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT;
	fu_callback cb = { .events = events, .vendor = vendor_id, .product = product_id,
	                   .dev_class = dev_class, .fn = cb_fn, .user = user_data };
	libusb_context *c;
	int rc = LIBUSB_ERROR_NO_MEM;

	if (!cb_fn || !(events & all) || (events & ~all) || (flags & ~LIBUSB_HOTPLUG_ENUMERATE) ||
	    (vendor_id != LIBUSB_HOTPLUG_MATCH_ANY && (vendor_id & ~0xffff)) ||
	    (product_id != LIBUSB_HOTPLUG_MATCH_ANY && (product_id & ~0xffff)) ||
	    (dev_class != LIBUSB_HOTPLUG_MATCH_ANY && (dev_class & ~0xff)))
		return LIBUSB_ERROR_INVALID_PARAM;
	pthread_mutex_lock(&g_bus.lock);
	c = fu_ctx_locked(ctx);
	if (!c)
		rc = LIBUSB_ERROR_INVALID_PARAM;
	else if (c->ncb < FU_MAX_CALLBACKS) {
		cb.handle = g_bus.next_cb++;
		c->cb[c->ncb++] = cb;
		rc = LIBUSB_SUCCESS;
	}
	pthread_mutex_unlock(&g_bus.lock);
	if (rc != LIBUSB_SUCCESS)
		return rc;
	if (cb_handle)
		*cb_handle = cb.handle;
	if (flags & LIBUSB_HOTPLUG_ENUMERATE)
		fu_enumerate(c, &cb);
	return LIBUSB_SUCCESS;
}

FU_API void LIBUSB_CALL libusb_hotplug_deregister_callback(libusb_context *ctx,
                                                           libusb_hotplug_callback_handle h)
{
	libusb_context *c;

	pthread_mutex_lock(&g_bus.lock);
	c = fu_ctx_locked(ctx);
	if (c)
		fu_cb_remove_locked(c, h);
	pthread_mutex_unlock(&g_bus.lock);
}
