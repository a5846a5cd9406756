/* ifd_fakeusb: libukey-fakeusb.so against its contract (docs/ccid.md "libusb subset",
 * "usbsock"). The program is linked against the real libusb-1.0 and re-executes itself
 * with the fake preloaded (argv[1]), so every libusb call below lands in the fake, exactly
 * as the driver's do inside pcscd. A small usbsock device runs in a thread of its own;
 * what it answers is chosen by the first byte of each bulk-OUT transfer. */
#define _GNU_SOURCE
#include "uk_test.h"
#include "usbsock.h"

#include <libusb.h>

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define EP_OUT 0x01
#define EP_IN 0x82
#define EP_INT 0x83
#define CCID_DESC_LEN 54
#define WAIT_MS 2000

/* The emulated key's descriptors (docs/ccid.md "The emulated key's CCID face"). */
static const uint8_t k_device_desc[] = {
	18, 1, 0x00, 0x02, 0, 0, 0, 64, 0x09, 0x12, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 1,
	/* configuration: 9 + interface 9 + CCID 54 + 3 endpoints x 7 = 93 bytes */
	9, 2, 93, 0, 1, 1, 0, 0x80, 50,
	9, 4, 0, 0, 3, 0x0B, 0, 0, 0,
	CCID_DESC_LEN, 0x21, 0x10, 0x01, 0, 0x07, 0x02, 0, 0, 0,
	0xA0, 0x0F, 0, 0, 0xA0, 0x0F, 0, 0, 0,          /* clocks: 4 MHz */
	0x80, 0x25, 0, 0, 0x80, 0x25, 0, 0, 0,          /* data rates: 9600 */
	0xFE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,          /* IFSD, synch, mechanical */
	0xBE, 0x04, 0x04, 0, 0x0A, 0x04, 0, 0,          /* dwFeatures, max message 1034 */
	0xFF, 0xFF, 0, 0, 0, 1,
	7, 5, EP_OUT, 2, 64, 0, 0,
	7, 5, EP_IN, 2, 64, 0, 0,
	7, 5, EP_INT, 3, 8, 0, 16,
};

static const uint8_t k_after_stall[] = "after";

typedef struct test_device {
	pthread_t thread;
	const char *path;
	int fd;
	uint8_t halt_ep;        /* the endpoint of the last H */
	bool stalled;
} test_device;

static int dev_send(test_device *d, uint8_t type, const void *p, size_t n)
{
	return uki_usbsock_write(d->fd, type, p, n, NULL, 0, WAIT_MS);
}

/* Bulk OUT commands: E echo, T no answer, S stall then "after" once H came, B 100 bytes,
 * M an interrupt notice then an answer, Q unplug. */
static bool dev_on_out(test_device *d, const uint8_t *p, size_t n)
{
	static const uint8_t notice[] = { 0x50, 0x03 };
	uint8_t big[100];

	switch (n ? p[0] : 0) {
	case 'E':
		dev_send(d, UKI_USBSOCK_IN, p, n);
		break;
	case 'S':
		d->stalled = true;
		dev_send(d, UKI_USBSOCK_STALL, NULL, 0);
		break;
	case 'B':
		memset(big, 0xB7, sizeof(big));
		dev_send(d, UKI_USBSOCK_IN, big, sizeof(big));
		break;
	case 'M':
		dev_send(d, UKI_USBSOCK_NOTIFY, notice, sizeof(notice));
		dev_send(d, UKI_USBSOCK_IN, p, n);
		break;
	case 'Q':
		return false;
	default:        /* 'T': silence */
		break;
	}
	return true;
}

/* Control requests: bRequest 0xFF stalls, IN requests get 4 bytes 0xA0 0x0F 0 0. */
static void dev_on_control(test_device *d, const uint8_t *p, size_t n)
{
	static const uint8_t answer[] = { 0, 0xA0, 0x0F, 0, 0 };

	if (n < 8 || p[1] == 0xFF) {
		uint8_t stall = 1;
		dev_send(d, UKI_USBSOCK_CONTROL_ANSWER, &stall, 1);
	} else if (p[0] & 0x80) {
		dev_send(d, UKI_USBSOCK_CONTROL_ANSWER, answer, sizeof(answer));
	} else {
		dev_send(d, UKI_USBSOCK_CONTROL_ANSWER, answer, 1);
	}
}

static int dev_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void *dev_main(void *arg)
{
	test_device *d = arg;
	bool on = true;

	d->fd = dev_connect(d->path);
	if (d->fd < 0 || dev_send(d, UKI_USBSOCK_DEVICE, k_device_desc, sizeof(k_device_desc)))
		on = false;
	while (on) {
		uint8_t type, *p = NULL;
		size_t n;
		int rc = uki_usbsock_read(d->fd, &type, &p, &n, 100, WAIT_MS);

		if (rc == UKI_USBSOCK_ERR)
			on = false;
		else if (rc == UKI_USBSOCK_OK && type == UKI_USBSOCK_OUT)
			on = dev_on_out(d, p, n);
		else if (rc == UKI_USBSOCK_OK && type == UKI_USBSOCK_CONTROL)
			dev_on_control(d, p, n);
		else if (rc == UKI_USBSOCK_OK && type == UKI_USBSOCK_HALT_CLEAR && n == 1) {
			d->halt_ep = p[0];
			if (d->stalled)
				dev_send(d, UKI_USBSOCK_IN, k_after_stall, sizeof(k_after_stall));
			d->stalled = false;
		}
		free(p);
	}
	if (d->fd >= 0)
		close(d->fd);   /* the device is unplugged */
	return NULL;
}

static void dev_start(test_device *d, const char *path)
{
	memset(d, 0, sizeof(*d));
	d->path = path;
	UK_CHECK(pthread_create(&d->thread, NULL, dev_main, d) == 0);
}

/* ---- hotplug bookkeeping -------------------------------------------------------- */

static int g_arrived, g_left, g_enumerated;
static libusb_device *g_last_arrived;

static int LIBUSB_CALL on_hotplug(libusb_context *ctx, libusb_device *dev,
                                  libusb_hotplug_event event, void *user)
{
	(void)ctx;
	(void)user;
	if (event == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED) {
		g_arrived++;
		g_last_arrived = dev;
	} else {
		g_left++;
	}
	return 0;
}

static int LIBUSB_CALL on_enumerate(libusb_context *ctx, libusb_device *dev,
                                    libusb_hotplug_event event, void *user)
{
	(void)ctx;
	(void)dev;
	(void)user;
	g_enumerated += event == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED;
	return 1;       /* deregister after this */
}

/* Run the event loop until *counter reaches want (bounded). */
static void events_until(libusb_context *ctx, const int *counter, int want)
{
	int i;

	for (i = 0; i < 50 && *counter < want; i++) {
		struct timeval tv = { 0, 100000 };
		UK_CHECK_EQ(libusb_handle_events_timeout_completed(ctx, &tv, NULL), 0);
	}
	UK_CHECK_EQ(*counter, want);
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* ---- the checks ---------------------------------------------------------------- */

static void check_descriptors(libusb_device *dev)
{
	struct libusb_device_descriptor dd;
	struct libusb_config_descriptor *cfg = NULL;
	const struct libusb_interface_descriptor *alt;

	UK_CHECK_EQ(libusb_get_device_descriptor(dev, &dd), 0);
	UK_CHECK_EQ(dd.idVendor, 0x1209);
	UK_CHECK_EQ(dd.idProduct, 0x0001);
	UK_CHECK_EQ(dd.bcdUSB, 0x0200);
	UK_CHECK_EQ(dd.bcdDevice, 0x0100);
	UK_CHECK_EQ(dd.bNumConfigurations, 1);
	UK_CHECK_EQ(libusb_get_bus_number(dev), 1);
	UK_CHECK_EQ(libusb_get_device_address(dev), 2);
	UK_CHECK_EQ(libusb_get_config_descriptor(dev, 1, &cfg), LIBUSB_ERROR_NOT_FOUND);
	UK_CHECK_EQ(libusb_get_active_config_descriptor(dev, &cfg), 0);
	UK_CHECK_EQ(cfg->wTotalLength, 93);
	UK_CHECK_EQ(cfg->bNumInterfaces, 1);
	UK_CHECK_EQ(cfg->MaxPower, 50);
	UK_CHECK_EQ(cfg->interface[0].num_altsetting, 1);
	alt = &cfg->interface[0].altsetting[0];
	UK_CHECK_EQ(alt->bInterfaceClass, 0x0B);
	UK_CHECK_EQ(alt->bNumEndpoints, 3);
	/* the CCID class descriptor (CCID rev 1.1 §5.1) is the interface's extra bytes */
	UK_CHECK_EQ(alt->extra_length, CCID_DESC_LEN);
	UK_CHECK_EQ(alt->extra[1], 0x21);
	UK_CHECK_EQ(alt->extra[2] | alt->extra[3] << 8, 0x0110);
	UK_CHECK_EQ(alt->endpoint[0].bEndpointAddress, EP_OUT);
	UK_CHECK_EQ(alt->endpoint[1].bEndpointAddress, EP_IN);
	UK_CHECK_EQ(alt->endpoint[1].wMaxPacketSize, 64);
	UK_CHECK_EQ(alt->endpoint[2].bEndpointAddress, EP_INT);
	UK_CHECK_EQ(alt->endpoint[2].bmAttributes, LIBUSB_TRANSFER_TYPE_INTERRUPT);
	UK_CHECK_EQ(alt->endpoint[2].bInterval, 16);
	UK_CHECK_EQ(alt->endpoint[2].extra_length, 0);
	libusb_free_config_descriptor(cfg);
}

static void check_claims(libusb_device *dev, libusb_device_handle *h)
{
	libusb_device_handle *h2 = NULL;

	UK_CHECK(libusb_get_device(h) == dev);
	UK_CHECK_EQ(libusb_kernel_driver_active(h, 0), 0);
	UK_CHECK_EQ(libusb_claim_interface(h, 0), 0);
	UK_CHECK_EQ(libusb_claim_interface(h, 5), LIBUSB_ERROR_NOT_FOUND);
	UK_CHECK_EQ(libusb_open(dev, &h2), 0);
	UK_CHECK_EQ(libusb_claim_interface(h2, 0), LIBUSB_ERROR_BUSY);
	UK_CHECK_EQ(libusb_release_interface(h2, 0), LIBUSB_ERROR_NOT_FOUND);
	libusb_close(h2);
}

static void check_bulk(libusb_device_handle *h)
{
	uint8_t out[] = "E hello, key", in[64] = { 0 }, m[] = "M demux";
	int n = 0;
	struct timespec t0;

	UK_CHECK_EQ(libusb_bulk_transfer(h, EP_OUT, out, sizeof(out), &n, 1000), 0);
	UK_CHECK_EQ(n, sizeof(out));
	UK_CHECK_EQ(libusb_bulk_transfer(h, EP_IN, in, sizeof(in), &n, 1000), 0);
	UK_CHECK_EQ(n, sizeof(out));
	UK_CHECK_MEM(in, out, sizeof(out));
	/* the notice comes first on the wire; each endpoint still gets its own message */
	UK_CHECK_EQ(libusb_bulk_transfer(h, EP_OUT, m, sizeof(m), &n, 1000), 0);
	UK_CHECK_EQ(libusb_bulk_transfer(h, EP_IN, in, sizeof(in), &n, 1000), 0);
	UK_CHECK_EQ(n, sizeof(m));
	UK_CHECK_MEM(in, m, sizeof(m));
	UK_CHECK_EQ(libusb_interrupt_transfer(h, EP_INT, in, 8, &n, 1000), 0);
	UK_CHECK_EQ(n, 2);
	UK_CHECK_EQ(in[0], 0x50);
	/* silence: the read ends at its timeout */
	UK_CHECK_EQ(libusb_bulk_transfer(h, EP_OUT, (uint8_t *)"T", 1, &n, 1000), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	UK_CHECK_EQ(libusb_bulk_transfer(h, EP_IN, in, sizeof(in), &n, 200), LIBUSB_ERROR_TIMEOUT);
	UK_CHECK(elapsed_ms(&t0) >= 150 && elapsed_ms(&t0) < 1500);
	UK_CHECK_EQ(libusb_interrupt_transfer(h, EP_INT, in, 8, &n, 50), LIBUSB_ERROR_TIMEOUT);
	/* bigger than the buffer: overflow, the bytes that fit delivered */
	UK_CHECK_EQ(libusb_bulk_transfer(h, EP_OUT, (uint8_t *)"B", 1, &n, 1000), 0);
	UK_CHECK_EQ(libusb_bulk_transfer(h, EP_IN, in, sizeof(in), &n, 1000),
	            LIBUSB_ERROR_OVERFLOW);
	UK_CHECK_EQ(n, sizeof(in));
	UK_CHECK_EQ(in[63], 0xB7);
}

static void check_stall(libusb_device_handle *h, test_device *d)
{
	uint8_t in[64];
	int n = 0;

	UK_CHECK_EQ(libusb_bulk_transfer(h, EP_OUT, (uint8_t *)"S", 1, &n, 1000), 0);
	UK_CHECK_EQ(libusb_bulk_transfer(h, EP_IN, in, sizeof(in), &n, 1000), LIBUSB_ERROR_PIPE);
	/* halted until cleared */
	UK_CHECK_EQ(libusb_bulk_transfer(h, EP_IN, in, sizeof(in), &n, 100), LIBUSB_ERROR_PIPE);
	UK_CHECK_EQ(libusb_clear_halt(h, EP_IN), 0);
	UK_CHECK_EQ(libusb_bulk_transfer(h, EP_IN, in, sizeof(in), &n, 1000), 0);
	UK_CHECK_EQ(n, sizeof(k_after_stall));
	UK_CHECK_MEM(in, k_after_stall, sizeof(k_after_stall));
	UK_CHECK_EQ(d->halt_ep, EP_IN);
}

static void check_control(libusb_device_handle *h)
{
	uint8_t buf[8] = { 0 };

	/* CCID rev 1.1 §5.3.2 GET_CLOCK_FREQUENCIES: class, interface, IN */
	UK_CHECK_EQ(libusb_control_transfer(h, 0xA1, 2, 0, 0, buf, sizeof(buf), 1000), 4);
	UK_CHECK_EQ(buf[0] | buf[1] << 8, 4000);
	UK_CHECK_EQ(libusb_control_transfer(h, 0xA1, 2, 0, 0, buf, 2, 1000), LIBUSB_ERROR_OVERFLOW);
	UK_CHECK_EQ(libusb_control_transfer(h, 0x21, 1, 0x0100, 0, NULL, 0, 1000), 0);
	UK_CHECK_EQ(libusb_control_transfer(h, 0xA1, 0xFF, 0, 0, buf, 4, 1000), LIBUSB_ERROR_PIPE);
}

static void check_unplug(libusb_context *ctx, libusb_device_handle *h, test_device *d)
{
	uint8_t in[8];
	int n = 0;
	libusb_device **list = NULL;

	UK_CHECK_EQ(libusb_bulk_transfer(h, EP_OUT, (uint8_t *)"Q", 1, &n, 1000), 0);
	pthread_join(d->thread, NULL);
	events_until(ctx, &g_left, 1);
	UK_CHECK_EQ(libusb_bulk_transfer(h, EP_IN, in, sizeof(in), &n, 1000),
	            LIBUSB_ERROR_NO_DEVICE);
	UK_CHECK_EQ(libusb_bulk_transfer(h, EP_OUT, in, 1, &n, 1000), LIBUSB_ERROR_NO_DEVICE);
	UK_CHECK_EQ(libusb_control_transfer(h, 0xA1, 2, 0, 0, in, 4, 1000),
	            LIBUSB_ERROR_NO_DEVICE);
	UK_CHECK_EQ(libusb_get_device_list(ctx, &list), 0);
	libusb_free_device_list(list, 1);
	UK_CHECK_EQ(libusb_release_interface(h, 0), LIBUSB_ERROR_NO_DEVICE);
	libusb_close(h);
}

/* A connection whose first message is not D is no device: the bus hangs up. */
static void check_bad_device(const char *path)
{
	int fd = dev_connect(path);
	uint8_t type, *p = NULL;
	size_t n;

	UK_CHECK(fd >= 0);
	UK_CHECK_EQ(uki_usbsock_write(fd, UKI_USBSOCK_IN, "x", 1, NULL, 0, WAIT_MS), 0);
	UK_CHECK_EQ(uki_usbsock_read(fd, &type, &p, &n, WAIT_MS, WAIT_MS), UKI_USBSOCK_ERR);
	close(fd);
}

/* Preload the fake and start again, unless it is already in. */
static void reexec_preloaded(char **argv)
{
	const char *pre = getenv("LD_PRELOAD");

	if (pre && strstr(pre, argv[1]))
		return;
	setenv("LD_PRELOAD", argv[1], 1);
	execv("/proc/self/exe", argv);
	perror("execv");
	exit(1);
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/ifd_fakeusb.XXXXXX", path[128];
	libusb_context *ctx = NULL;
	libusb_device **list = NULL;
	libusb_device_handle *h = NULL;
	libusb_hotplug_callback_handle cbh;
	test_device d;
	struct stat st;

	if (argc != 2)
		return uk_test_skip("usage: ifd_fakeusb LIBUKEY-FAKEUSB.so");
	reexec_preloaded(argv);
	UK_CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/usb.sock", dir);
	setenv("UKEY_FAKEUSB_SOCKET", path, 1);

	UK_CHECK_EQ(libusb_init(&ctx), 0);
	UK_CHECK_EQ(stat(path, &st), 0);        /* the bus is the fake's: the real has none */
	UK_CHECK(S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600);
	UK_CHECK_EQ(libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG), 1);
	UK_CHECK_EQ(libusb_set_option(ctx, LIBUSB_OPTION_LOG_LEVEL, 0), 0);
	UK_CHECK(strcmp(libusb_strerror(LIBUSB_ERROR_NO_DEVICE), "Unknown error") != 0);
	UK_CHECK_EQ(libusb_hotplug_register_callback(ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED |
	                                             LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT, 0,
	                                             LIBUSB_HOTPLUG_MATCH_ANY,
	                                             LIBUSB_HOTPLUG_MATCH_ANY,
	                                             LIBUSB_HOTPLUG_MATCH_ANY, on_hotplug, NULL,
	                                             &cbh), 0);
	check_bad_device(path);
	dev_start(&d, path);
	events_until(ctx, &g_arrived, 1);
	UK_CHECK_EQ(libusb_get_device_list(ctx, &list), 1);
	UK_CHECK(list[0] == g_last_arrived && list[1] == NULL);
	check_descriptors(list[0]);
	UK_CHECK_EQ(libusb_hotplug_register_callback(ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED,
	                                             LIBUSB_HOTPLUG_ENUMERATE, 0x1209, 0x0001,
	                                             LIBUSB_HOTPLUG_MATCH_ANY, on_enumerate,
	                                             NULL, NULL), 0);
	UK_CHECK_EQ(g_enumerated, 1);
	UK_CHECK_EQ(libusb_open(list[0], &h), 0);
	check_claims(list[0], h);
	check_bulk(h);
	check_stall(h, &d);
	check_control(h);
	check_unplug(ctx, h, &d);
	UK_CHECK_EQ(libusb_open(list[0], &h), LIBUSB_ERROR_NO_DEVICE);
	libusb_free_device_list(list, 1);

	/* plugged in again: a new device with the next address; the ENUMERATE callback sees
	 * it (its return value at enumeration is ignored, as in libusb), returns 1 and is
	 * deregistered, so the third plug-in does not reach it */
	dev_start(&d, path);
	events_until(ctx, &g_arrived, 2);
	UK_CHECK_EQ(libusb_get_device_address(g_last_arrived), 3);
	UK_CHECK_EQ(g_enumerated, 2);
	UK_CHECK_EQ(libusb_open(g_last_arrived, &h), 0);
	UK_CHECK_EQ(libusb_bulk_transfer(h, EP_OUT, (uint8_t *)"Q", 1, NULL, 1000), 0);
	pthread_join(d.thread, NULL);
	events_until(ctx, &g_left, 2);
	libusb_close(h);
	dev_start(&d, path);
	events_until(ctx, &g_arrived, 3);
	UK_CHECK_EQ(libusb_get_device_address(g_last_arrived), 4);
	UK_CHECK_EQ(g_enumerated, 2);
	libusb_hotplug_deregister_callback(ctx, cbh);
	libusb_exit(ctx);               /* unplugs the device: its thread sees the end */
	pthread_join(d.thread, NULL);
	UK_CHECK(stat(path, &st) != 0 && errno == ENOENT);
	rmdir(dir);
	return uk_test_done("ifd_fakeusb");
}
