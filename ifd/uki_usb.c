/* ukey ifd: the libusb-1.0 transport for USB CCID keys (docs/ccid.md; USB Device Class:
 * Smart Card CCID rev. 1.1, "CCID 1.1" below).
 *
 * Each slot of the reader holds one key: CCID slot 0 of one USB device with a CCID
 * interface (class 0x0B) at the short or extended APDU level. Messages are built and
 * checked by uki_ccid.c; this file finds devices, claims them, moves bytes and watches them
 * come and go. It calls only the libusb functions listed in docs/ccid.md "libusb subset"
 * (the fake libusb of the tests implements exactly those).
 *
 * Threads: one monitor thread runs libusb's event loop with a short timeout (hotplug
 * callbacks fire there), rescans the bus when a device arrived (or every second when the
 * platform has no hotplug), and reads each key's interrupt endpoint for slot-change and
 * hardware-error notices (CCID 1.1 §6.3). Exchanges run on pcscd's threads, serialised per
 * slot by the reader's io lock. A key is freed by whoever drops its last use (users count),
 * always outside t->lock: libusb_close may wait for libusb's event lock, which a hotplug
 * callback holds while it waits for t->lock. Under t->lock nothing calls into libusb. */
#define _GNU_SOURCE
#include "uki_usb.h"

#include <libusb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "uk_log.h"
#include "uki_ccid.h"
#include "uki_usb_ids.h"        /* generated from ukey-usb-ids.txt: UKI_USB_ID_TABLE */
#include "uk_time.h"

#define CCID_CLASS 0x0B                 /* CCID 1.1 §4.3 bInterfaceClass */
#define EVENT_WAIT_MS 100               /* one turn of the monitor's event loop */
#define INTR_WAIT_MS 20                 /* one interrupt-IN read per key and turn */
#define RESCAN_MS 1000                  /* without hotplug support */
#define INTR_MAX 64
#define REFUSED_MAX 32                  /* devices not taken, remembered to log them once */

static const uki_usb_id known_ids[] = { UKI_USB_ID_TABLE };

typedef struct usb_key {
	struct uki_usb *t;
	unsigned index;                 /* reader slot */
	libusb_device *dev;             /* referenced */
	libusb_device_handle *h;
	uint8_t bus, address, iface;
	uint8_t ep_in, ep_out, ep_intr; /* ep_intr 0: none */
	uint16_t intr_len;
	int claimed;
	int users;                      /* exchanges and interrupt reads using h */
	int dead;                       /* removed: freed when users drops to 0 */
	int icc_present;                /* last NotifySlotChange state (CCID 1.1 §6.3.1) */
	int reported;                   /* presence last given to the reader */
	int notices;                    /* interrupt messages seen */
	uki_ccid ccid;
	int ccid_ready;
} usb_key;

typedef struct usb_place {
	uint8_t bus, address;
} usb_place;

typedef struct uki_usb {
	uki_reader *rd;
	libusb_context *ctx;
	uki_usb_filter filter;
	int any_ccid;                   /* UKEY_USB_ANY_CCID=1 */
	unsigned nslots;
	int timeout_ms;
	int hotplug;
	libusb_hotplug_callback_handle cb;
	int rescan;                     /* a device arrived or a key was lost */
	int stop;
	int started;
	pthread_t thread;
	pthread_mutex_t lock;
	usb_key *slot[UKI_MAX_SLOTS];
	usb_place refused[REFUSED_MAX]; /* monitor thread only */
	unsigned nrefused;
} uki_usb;

int uki_usb_id_known(uint16_t vid, uint16_t pid)
{
	size_t i;

	for (i = 0; i < sizeof(known_ids) / sizeof(known_ids[0]); i++)
		if (known_ids[i].vid == vid && known_ids[i].pid == pid)
			return 1;
	return 0;
}

/* ---- key life cycle ---- */

/* Tell the reader what pcscd should see: a key is there while it is plugged in and its
 * ICC is reported present. */
static void key_report_locked(usb_key *k)
{
	int present = !k->dead && k->icc_present;

	if (present != k->reported) {
		k->reported = present;
		uki_reader_set_present(k->t->rd, k->index, present);
	}
}

static void key_kill_locked(usb_key *k, const char *why)
{
	if (k->dead)
		return;
	uk_log(UK_LOG_INFO, "ifd", "usb: key %03u/%03u in slot %u %s", k->bus, k->address,
	       k->index, why);
	k->dead = 1;
	key_report_locked(k);
}

/* Outside t->lock (libusb_close can wait for libusb's event lock). */
static void key_free(usb_key *k)
{
	if (k == NULL)
		return;
	if (k->ccid_ready)
		uki_ccid_free(&k->ccid);
	if (k->h != NULL) {
		if (k->claimed)
			libusb_release_interface(k->h, k->iface);
		/* a kernel driver detached at claim stays detached (reattaching is not in the
		 * libusb subset): the device's next plug-in binds it again */
		libusb_close(k->h);
	}
	if (k->dev != NULL)
		libusb_unref_device(k->dev);
	free(k);
}

/* Take dead keys nobody uses out of their slots (under t->lock); the caller frees them. */
static unsigned reap_locked(uki_usb *t, usb_key **out)
{
	unsigned i, n = 0;

	for (i = 0; i < t->nslots; i++) {
		usb_key *k = t->slot[i];
		if (k != NULL && k->dead && k->users == 0) {
			t->slot[i] = NULL;
			out[n++] = k;
		}
	}
	return n;
}

static void reap(uki_usb *t)
{
	usb_key *gone[UKI_MAX_SLOTS];
	unsigned i, n;

	pthread_mutex_lock(&t->lock);
	n = reap_locked(t, gone);
	pthread_mutex_unlock(&t->lock);
	for (i = 0; i < n; i++)
		key_free(gone[i]);
}

static usb_key *key_get(uki_usb *t, unsigned slot)
{
	usb_key *k = NULL;

	pthread_mutex_lock(&t->lock);
	if (slot < t->nslots && t->slot[slot] != NULL && !t->slot[slot]->dead) {
		k = t->slot[slot];
		k->users++;
	}
	pthread_mutex_unlock(&t->lock);
	return k;
}

/* End one use of k. A failed exchange that lost the device removes the key; the bus is
 * rescanned so a device that is still there (an I/O error, not an unplug) comes back. */
static void key_put(uki_usb *t, usb_key *k, uki_status st)
{
	usb_key *gone = NULL;

	if (st == UKI_ERR_TIMEOUT)      /* the CCID layer drops the late answer: key kept */
		uk_log(UK_LOG_ERROR, "ifd", "usb: key %03u/%03u in slot %u did not answer in time",
		       k->bus, k->address, k->index);
	pthread_mutex_lock(&t->lock);
	if (st == UKI_ERR_COMM) {
		key_kill_locked(k, "lost (I/O error or unplugged), removed");
		t->rescan = 1;
	}
	if (--k->users == 0 && k->dead) {
		t->slot[k->index] = NULL;
		gone = k;
	}
	pthread_mutex_unlock(&t->lock);
	key_free(gone);
}

/* ---- the CCID bus over libusb (uki_ccid_bus) ---- */

/* libusb error -> the bus contract of uki_ccid.h. A stall is cleared here (CCID 1.1 §5.3:
 * the host clears the halt after a bulk pipe stalled) and fails this exchange only. */
static uki_status bus_status(usb_key *k, int r, uint8_t ep)
{
	if (r == LIBUSB_SUCCESS)
		return UKI_OK;
	if (r == LIBUSB_ERROR_TIMEOUT)
		return UKI_ERR_TIMEOUT;
	if (r == LIBUSB_ERROR_PIPE) {
		uk_log(UK_LOG_ERROR, "ifd", "usb: endpoint 0x%02x stalled, clearing the halt", ep);
		return libusb_clear_halt(k->h, ep) == LIBUSB_SUCCESS ? UKI_ERR_PROTO : UKI_ERR_COMM;
	}
	uk_log(UK_LOG_ERROR, "ifd", "usb: endpoint 0x%02x: %s", ep, libusb_strerror(r));
	return UKI_ERR_COMM;
}

static int bus_timeout(int timeout_ms)
{
	return timeout_ms > 0 ? timeout_ms : 1;        /* 0 would mean "wait forever" */
}

static uki_status bus_out(void *ctx, const uint8_t *p, size_t n, int timeout_ms)
{
	usb_key *k = ctx;
	int done = 0, r;

	if (n > (size_t)INT32_MAX)
		return UKI_ERR_PARAM;
	/* an OUT transfer only reads the buffer; libusb's prototype is not const */
	r = libusb_bulk_transfer(k->h, k->ep_out, (unsigned char *)(uintptr_t)p, (int)n, &done,
	                         (unsigned)bus_timeout(timeout_ms));
	if (r == LIBUSB_SUCCESS && (size_t)done != n)
		r = LIBUSB_ERROR_IO;
	return bus_status(k, r, k->ep_out);
}

static uki_status bus_in(void *ctx, uint8_t *p, size_t cap, size_t *got, int timeout_ms)
{
	usb_key *k = ctx;
	int done = 0, r;

	if (cap > (size_t)INT32_MAX)
		cap = INT32_MAX;
	r = libusb_bulk_transfer(k->h, k->ep_in, p, (int)cap, &done,
	                         (unsigned)bus_timeout(timeout_ms));
	if (r == LIBUSB_ERROR_TIMEOUT && done > 0)
		r = LIBUSB_SUCCESS;     /* part of a message came: the layer gathers the rest */
	if (r == LIBUSB_SUCCESS)
		*got = (size_t)done;
	return bus_status(k, r, k->ep_in);
}

/* ---- discovery ---- */

typedef struct usb_found {
	uint8_t iface;
	uint8_t ep_in, ep_out, ep_intr;
	uint16_t intr_len;
	uki_ccid_desc desc;
} usb_found;

/* Bulk IN, bulk OUT and (optional) interrupt IN endpoints (CCID 1.1 §3). */
static int find_endpoints(const struct libusb_interface_descriptor *alt, usb_found *f)
{
	uint8_t i, type, addr;

	for (i = 0; i < alt->bNumEndpoints; i++) {
		type = alt->endpoint[i].bmAttributes & LIBUSB_TRANSFER_TYPE_MASK;
		addr = alt->endpoint[i].bEndpointAddress;
		if (type == LIBUSB_TRANSFER_TYPE_BULK && (addr & LIBUSB_ENDPOINT_IN))
			f->ep_in = addr;
		else if (type == LIBUSB_TRANSFER_TYPE_BULK)
			f->ep_out = addr;
		else if (type == LIBUSB_TRANSFER_TYPE_INTERRUPT && (addr & LIBUSB_ENDPOINT_IN)) {
			f->ep_intr = addr;
			f->intr_len = alt->endpoint[i].wMaxPacketSize;
		}
	}
	if (f->intr_len == 0 || f->intr_len > INTR_MAX)
		f->intr_len = INTR_MAX;
	return f->ep_in != 0 && f->ep_out != 0;
}

/* The class descriptor follows the interface descriptor (CCID 1.1 §5.1); a few devices put
 * it after the endpoints, where libusb hands it over as the last endpoint's extra bytes. */
static uki_status find_desc(const struct libusb_interface_descriptor *alt, uki_ccid_desc *d)
{
	uki_status st = uki_ccid_find_desc(alt->extra, (size_t)alt->extra_length, d);
	const struct libusb_endpoint_descriptor *ep;

	if (st == UKI_ERR_PROTO && alt->extra_length == 0 && alt->bNumEndpoints > 0) {
		ep = &alt->endpoint[alt->bNumEndpoints - 1];
		st = uki_ccid_find_desc(ep->extra, (size_t)ep->extra_length, d);
	}
	return st;
}

/* A CCID interface of cfg this transport can drive; the log explains a refusal. */
static int find_interface(const struct libusb_config_descriptor *cfg, const uki_usb_filter *fl,
                          usb_found *f, int quiet)
{
	const struct libusb_interface_descriptor *alt;
	uki_status st;
	uint8_t i;

	for (i = 0; i < cfg->bNumInterfaces; i++) {
		if (cfg->interface[i].num_altsetting < 1)
			continue;
		alt = &cfg->interface[i].altsetting[0];
		if (alt->bInterfaceClass != CCID_CLASS ||
		    (fl->exact && alt->bInterfaceNumber != fl->iface))
			continue;
		memset(f, 0, sizeof(*f));
		f->iface = alt->bInterfaceNumber;
		st = find_desc(alt, &f->desc);
		if (st == UKI_ERR_UNSUPPORTED && !quiet)
			uk_log(UK_LOG_ERROR, "ifd", "usb: interface %u is a TPDU or character level "
			       "CCID reader, not supported here (use libccid)", f->iface);
		else if (st != UKI_OK && !quiet)
			uk_log(UK_LOG_ERROR, "ifd", "usb: interface %u has no valid CCID class "
			       "descriptor", f->iface);
		else if (st == UKI_OK && !find_endpoints(alt, f) && !quiet)
			uk_log(UK_LOG_ERROR, "ifd", "usb: interface %u lacks bulk endpoints",
			       f->iface);
		else if (st == UKI_OK && f->ep_in != 0 && f->ep_out != 0)
			return 1;
	}
	return 0;
}

static int wanted(const uki_usb *t, libusb_device *dev, const struct libusb_device_descriptor *dd)
{
	const uki_usb_filter *f = &t->filter;

	if (f->exact && (libusb_get_bus_number(dev) != f->bus ||
	                 libusb_get_device_address(dev) != f->address))
		return 0;
	if (f->by_id)
		return dd->idVendor == f->vid && dd->idProduct == f->pid;
	return t->any_ccid || uki_usb_id_known(dd->idVendor, dd->idProduct);
}

static int place_in(const usb_place *list, unsigned n, uint8_t bus, uint8_t address)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (list[i].bus == bus && list[i].address == address)
			return 1;
	return 0;
}

/* Whether dev already holds a slot (by bus position: one device, one address). */
static int attached_locked(const uki_usb *t, uint8_t bus, uint8_t address)
{
	unsigned i;

	for (i = 0; i < t->nslots; i++)
		if (t->slot[i] != NULL && !t->slot[i]->dead && t->slot[i]->bus == bus &&
		    t->slot[i]->address == address)
			return 1;
	return 0;
}

/* Open, detach the kernel driver if any, claim. */
static uki_status key_claim(usb_key *k)
{
	int r = libusb_open(k->dev, &k->h);

	if (r != LIBUSB_SUCCESS) {
		k->h = NULL;
		uk_log(UK_LOG_ERROR, "ifd", "usb: cannot open %03u/%03u: %s", k->bus, k->address,
		       libusb_strerror(r));
		return UKI_ERR_SYSTEM;
	}
	if (libusb_kernel_driver_active(k->h, k->iface) == 1)
		libusb_detach_kernel_driver(k->h, k->iface);    /* claim says if it failed */
	r = libusb_claim_interface(k->h, k->iface);
	if (r != LIBUSB_SUCCESS) {
		uk_log(UK_LOG_ERROR, "ifd", "usb: cannot claim interface %u of %03u/%03u: %s%s",
		       k->iface, k->bus, k->address, libusb_strerror(r),
		       r == LIBUSB_ERROR_BUSY ? " (another reader or driver, e.g. libccid, has it)" : "");
		return UKI_ERR_SYSTEM;
	}
	k->claimed = 1;
	return UKI_OK;
}

static usb_key *key_new(uki_usb *t, libusb_device *dev, const usb_found *f)
{
	usb_key *k = calloc(1, sizeof(*k));
	uki_ccid_bus bus;

	if (k == NULL)
		return NULL;
	k->t = t;
	k->dev = libusb_ref_device(dev);
	k->bus = libusb_get_bus_number(dev);
	k->address = libusb_get_device_address(dev);
	k->iface = f->iface;
	k->ep_in = f->ep_in;
	k->ep_out = f->ep_out;
	k->ep_intr = f->ep_intr;
	k->intr_len = f->intr_len;
	k->icc_present = 1;     /* a token's ICC is built in; a notice may say otherwise */
	bus = (uki_ccid_bus){ .ctx = k, .bulk_out = bus_out, .bulk_in = bus_in };
	if (key_claim(k) != UKI_OK || uki_ccid_init(&k->ccid, &bus, &f->desc, t->timeout_ms) != UKI_OK) {
		key_free(k);
		return NULL;
	}
	k->ccid_ready = 1;
	return k;
}

/* Put k in the first free slot and report it; 0 when all slots are taken. */
static int key_place(uki_usb *t, usb_key *k)
{
	unsigned i;

	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->nslots && t->slot[i] != NULL; i++)
		;
	if (i < t->nslots) {
		k->index = i;
		t->slot[i] = k;
		key_report_locked(k);
	}
	pthread_mutex_unlock(&t->lock);
	return i < t->nslots;
}

/* Examine one device of the bus list; 1 when it was taken, 0 when not, -1 when it is
 * a device for us that could not be taken (remembered, so it is logged once). */
static int try_device(uki_usb *t, libusb_device *dev, int quiet)
{
	struct libusb_device_descriptor dd;
	struct libusb_config_descriptor *cfg = NULL;
	usb_found f;
	usb_key *k = NULL;
	int rc = 0;

	if (libusb_get_device_descriptor(dev, &dd) != LIBUSB_SUCCESS || !wanted(t, dev, &dd))
		goto out;
	rc = -1;        /* a device for us: from here a failure is a refusal */
	if (libusb_get_active_config_descriptor(dev, &cfg) != LIBUSB_SUCCESS &&
	    libusb_get_config_descriptor(dev, 0, &cfg) != LIBUSB_SUCCESS)
		goto out;
	if (!find_interface(cfg, &t->filter, &f, quiet))
		goto out;
	k = key_new(t, dev, &f);
	if (k == NULL)
		goto out;
	if (!key_place(t, k)) {
		if (!quiet)
			uk_log(UK_LOG_ERROR, "ifd", "usb: all %u slots taken, key %03u/%03u left out",
			       t->nslots, k->bus, k->address);
		goto out;
	}
	uk_log(UK_LOG_INFO, "ifd", "usb: %04x:%04x at %03u/%03u interface %u in slot %u "
	       "(%s APDU level, max message %u)", dd.idVendor, dd.idProduct, k->bus, k->address,
	       k->iface, k->index,
	       (f.desc.dwFeatures & UKI_CCID_LEVEL_MASK) == UKI_CCID_LEVEL_EXTENDED ?
	       "extended" : "short", (unsigned)f.desc.dwMaxCCIDMessageLength);
	k = NULL;
	rc = 1;
out:
	key_free(k);
	if (cfg != NULL)
		libusb_free_config_descriptor(cfg);
	return rc;
}

/* Keys whose device is no longer on the bus were unplugged (the path without hotplug). */
static void drop_missing(uki_usb *t, libusb_device **list, ssize_t n)
{
	unsigned i;
	ssize_t j;

	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->nslots; i++) {
		if (t->slot[i] == NULL || t->slot[i]->dead)
			continue;
		for (j = 0; j < n && list[j] != t->slot[i]->dev; j++)
			;
		if (j == n)
			key_kill_locked(t->slot[i], "unplugged, removed");
	}
	pthread_mutex_unlock(&t->lock);
}

/* Walk the bus, take every new device for us; returns how many were taken. */
static unsigned rescan(uki_usb *t)
{
	libusb_device **list = NULL;
	usb_place was[REFUSED_MAX];
	unsigned nwas = t->nrefused, taken = 0;
	uint8_t bus, address;
	ssize_t n, i;
	int r, attached;

	n = libusb_get_device_list(t->ctx, &list);
	if (n < 0)
		return 0;
	drop_missing(t, list, n);
	reap(t);
	memcpy(was, t->refused, sizeof(was));
	t->nrefused = 0;
	for (i = 0; i < n; i++) {
		bus = libusb_get_bus_number(list[i]);
		address = libusb_get_device_address(list[i]);
		pthread_mutex_lock(&t->lock);
		attached = attached_locked(t, bus, address);
		pthread_mutex_unlock(&t->lock);
		if (attached)
			continue;
		/* a device refused by the last scan as well is not logged again */
		r = try_device(t, list[i], place_in(was, nwas, bus, address));
		if (r > 0)
			taken++;
		else if (r < 0 && t->nrefused < REFUSED_MAX)
			t->refused[t->nrefused++] = (usb_place){ bus, address };
	}
	libusb_free_device_list(list, 1);
	return taken;
}

/* ---- interrupt notices (CCID 1.1 §6.3) ---- */

static void notice(uki_usb *t, usb_key *k, const uint8_t *p, size_t n)
{
	uint32_t present = 0, changed = 0;
	uki_status st = uki_ccid_parse_notify(p, n, k->ccid.desc.bMaxSlotIndex, &present, &changed);

	pthread_mutex_lock(&t->lock);
	/* "changed" with "present" on a present key: removed and inserted again since the
	 * last notice, and pcscd must see both. The first notice after plug-in reports the
	 * insertion we already know of. */
	if (st == UKI_OK && k->notices > 0 && (changed & 1) && (present & 1) && k->reported) {
		k->icc_present = 0;
		key_report_locked(k);
	}
	k->notices++;
	if (st == UKI_OK)
		k->icc_present = present & 1;
	else if (n >= 1 && p[0] == UKI_RDR_TO_PC_HARDWAREERROR) {
		/* §6.3.2: the reader deactivated the ICC (overcurrent); show it as a removal and
		 * a new insertion so pcscd powers the card up again */
		uk_log(UK_LOG_ERROR, "ifd", "usb: key %03u/%03u reports a hardware error (code %u)",
		       k->bus, k->address, n >= 4 ? p[3] : 0);
		k->icc_present = 0;
		key_report_locked(k);
		k->icc_present = 1;
	} else {
		uk_log(UK_LOG_ERROR, "ifd", "usb: key %03u/%03u: unknown interrupt message",
		       k->bus, k->address);
	}
	key_report_locked(k);
	pthread_mutex_unlock(&t->lock);
}

static void poll_interrupt(uki_usb *t, unsigned slot)
{
	uint8_t buf[INTR_MAX];
	usb_key *k = key_get(t, slot);
	uki_status st = UKI_OK;
	int got = 0, r;

	if (k == NULL)
		return;
	if (k->ep_intr != 0) {
		r = libusb_interrupt_transfer(k->h, k->ep_intr, buf, k->intr_len, &got, INTR_WAIT_MS);
		if (r == LIBUSB_SUCCESS && got > 0)
			notice(t, k, buf, (size_t)got);
		else if (r != LIBUSB_SUCCESS && r != LIBUSB_ERROR_TIMEOUT)
			st = bus_status(k, r, k->ep_intr) == UKI_ERR_COMM ? UKI_ERR_COMM : UKI_OK;
	}
	key_put(t, k, st);
}

/* ---- monitor thread ---- */

static int hotplug_cb(libusb_context *ctx, libusb_device *dev, libusb_hotplug_event ev,
                      void *arg)
{
	uki_usb *t = arg;
	unsigned i;

	(void)ctx;
	pthread_mutex_lock(&t->lock);
	if (ev == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED)
		t->rescan = 1;
	for (i = 0; ev == LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT && i < t->nslots; i++)
		if (t->slot[i] != NULL && t->slot[i]->dev == dev)
			key_kill_locked(t->slot[i], "unplugged, removed");
	pthread_mutex_unlock(&t->lock);
	return 0;       /* stay registered */
}

static int monitor_turn_locked(uki_usb *t, long long *next_scan)
{
	int scan = t->rescan || (!t->hotplug && uk_now_ms() >= *next_scan);

	t->rescan = 0;
	if (scan)
		*next_scan = uk_now_ms() + RESCAN_MS;
	return scan;
}

static void *monitor_main(void *arg)
{
	uki_usb *t = arg;
	long long next_scan = uk_now_ms() + RESCAN_MS;
	struct timeval tv;
	unsigned i;
	int scan, r;

	for (;;) {
		pthread_mutex_lock(&t->lock);
		if (t->stop) {
			pthread_mutex_unlock(&t->lock);
			break;
		}
		pthread_mutex_unlock(&t->lock);
		tv = (struct timeval){ .tv_sec = 0, .tv_usec = EVENT_WAIT_MS * 1000 };
		r = libusb_handle_events_timeout_completed(t->ctx, &tv, NULL);
		if (r != LIBUSB_SUCCESS && r != LIBUSB_ERROR_INTERRUPTED)
			usleep(EVENT_WAIT_MS * 1000);   /* never spin on a persistent error */
		reap(t);
		pthread_mutex_lock(&t->lock);
		scan = monitor_turn_locked(t, &next_scan);
		pthread_mutex_unlock(&t->lock);
		if (scan)
			rescan(t);
		for (i = 0; i < t->nslots; i++)
			poll_interrupt(t, i);
	}
	return NULL;
}

/* ---- transport contract ---- */

static void usb_close(void *tp)
{
	uki_usb *t = tp;
	unsigned i;

	if (t == NULL)
		return;
	if (t->started) {
		pthread_mutex_lock(&t->lock);
		t->stop = 1;
		pthread_mutex_unlock(&t->lock);
		pthread_join(t->thread, NULL);  /* bounded: one monitor turn */
	}
	if (t->hotplug)
		libusb_hotplug_deregister_callback(t->ctx, t->cb);
	pthread_mutex_lock(&t->lock);
	for (i = 0; i < t->nslots; i++)
		if (t->slot[i] != NULL)
			key_kill_locked(t->slot[i], "released");
	pthread_mutex_unlock(&t->lock);
	reap(t);        /* pcscd closed every channel first: nobody uses a key any more */
	if (t->ctx != NULL)
		libusb_exit(t->ctx);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static uki_status usb_start(uki_usb *t)
{
	int r = libusb_init(&t->ctx);

	if (r != LIBUSB_SUCCESS) {
		t->ctx = NULL;
		uk_log(UK_LOG_ERROR, "ifd", "usb: libusb_init failed: %s", libusb_strerror(r));
		return UKI_ERR_SYSTEM;
	}
	if (libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG)) {
		r = libusb_hotplug_register_callback(t->ctx,
			LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT, 0,
			LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
			hotplug_cb, t, &t->cb);
		t->hotplug = r == LIBUSB_SUCCESS;
	}
	if (!t->hotplug)
		uk_log(UK_LOG_INFO, "ifd", "usb: no hotplug events, rescanning every %d ms",
		       RESCAN_MS);
	rescan(t);
	return UKI_OK;
}

/* "usb:" or "usb:VVVV/PPPP": the reader exists even with no key plugged in (and even
 * without a usable USB stack: it then stays empty). The libudev form names one device that
 * pcscd saw: failing lets pcscd hand it to a class driver (libccid) instead. */
static uki_status usb_open(uki_reader *rd, const uki_devname *dev, void **tp)
{
	uki_usb *t = calloc(1, sizeof(*t));
	const char *any = getenv("UKEY_USB_ANY_CCID");
	uki_status st = UKI_ERR_NOMEM;

	*tp = NULL;
	if (t == NULL)
		return st;
	t->rd = rd;
	t->nslots = dev->slots;
	t->timeout_ms = dev->timeout_ms;
	t->any_ccid = any != NULL && strcmp(any, "1") == 0;
	pthread_mutex_init(&t->lock, NULL);
	st = uki_usb_filter_parse(dev->address, &t->filter);
	if (st == UKI_OK)
		st = usb_start(t);
	if (st == UKI_OK && t->filter.exact && t->slot[0] == NULL) {
		uk_log(UK_LOG_ERROR, "ifd", "usb: no usable key at %s", dev->address);
		st = UKI_ERR_UNSUPPORTED;
	}
	if (st == UKI_OK) {
		st = pthread_create(&t->thread, NULL, monitor_main, t) == 0 ? UKI_OK : UKI_ERR_SYSTEM;
		t->started = st == UKI_OK;
	} else if (st == UKI_ERR_SYSTEM && t->ctx == NULL && !t->filter.exact) {
		st = UKI_OK;    /* no USB here: an empty reader, as with no key plugged in */
	}
	if (st != UKI_OK) {
		usb_close(t);
		t = NULL;
	}
	*tp = t;
	return st;
}

static uki_status usb_power(void *tp, unsigned slot, uki_power action, uint8_t *atr,
                            size_t cap, size_t *atr_len)
{
	uki_usb *t = tp;
	usb_key *k = key_get(t, slot);
	uki_status st = UKI_OK;

	if (k == NULL)
		return UKI_ERR_ABSENT;
	/* a reset is a cold one: IccPowerOff then IccPowerOn (CCID 1.1 §6.1.1, §6.1.2) */
	if (action != UKI_POWER_UP)
		st = uki_ccid_power_off(&k->ccid, 0);
	if (st == UKI_OK && action != UKI_POWER_DOWN) {
		st = uki_ccid_power_on(&k->ccid, 0, atr, cap, atr_len);
		/* A failed exchange (a stalled bulk-IN the bus has cleared, an error status)
		 * leaves the device in step, and IccPowerOn may be repeated: try once more
		 * rather than leave pcscd with a card it could not power (it would then refuse
		 * every connect until the key is replugged). */
		if (st == UKI_ERR_PROTO)
			st = uki_ccid_power_on(&k->ccid, 0, atr, cap, atr_len);
	}
	key_put(t, k, st);
	return st;
}

static uki_status usb_xfer(void *tp, unsigned slot, const uint8_t *cmd, size_t cmd_len,
                           uint8_t *resp, size_t cap, size_t *resp_len)
{
	uki_usb *t = tp;
	usb_key *k;
	uki_status st;

	if (cmd_len < 4)        /* ISO 7816-4 §5.1: CLA INS P1 P2 at least */
		return UKI_ERR_PARAM;
	k = key_get(t, slot);
	if (k == NULL)
		return UKI_ERR_ABSENT;
	st = uki_ccid_xfr(&k->ccid, 0, cmd, cmd_len, resp, cap, resp_len);
	key_put(t, k, st);
	return st;
}

const uki_transport_ops uki_usb_ops = {
	.scheme = "usb",
	.open = usb_open,
	.close = usb_close,
	.power = usb_power,
	.xfer = usb_xfer,
};
