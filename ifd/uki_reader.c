/* ukey ifd: readers and slots.
 *
 * pcscd opens one channel per slot (IFDHCreateChannelByName with Lun = reader << 16 | slot)
 * after TAG_IFD_SLOTS_NUMBER; all slots of a reader share one uki_reader and one transport.
 * pcscd guarantees (readerfactory.c, eventhandler.c of pcsc-lite 1.9.9) that a slot's
 * event thread is stopped and joined before that slot's IFDHCloseChannel, and that no
 * other call on the slot runs after it; the reader is freed when its last slot closes. */
#include "uki.h"
#include "uki_usb.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "uk_log.h"
#include "uk_wipe.h"

typedef struct uki_slot {
	int open;               /* pcscd has a channel on this Lun */
	int present;            /* a key is attached (set by the transport) */
	unsigned gen;           /* presence change counter */
	unsigned wait_seen;     /* gen when the event thread's last wait returned */
	int removed_unseen;     /* a removal pcscd has not been told of yet */
	int wait_stop;          /* TAG_IFD_STOP_POLLING_THREAD was called: never block */
	pthread_cond_t changed;
	pthread_mutex_t io;     /* serialises power/xfer on the slot */
	uint8_t atr[UKI_ATR_MAX];
	size_t atr_len;         /* 0 while unpowered */
} uki_slot;

struct uki_reader {
	unsigned index;
	unsigned nslots;
	unsigned opened;
	char devname[256];
	const uki_transport_ops *ops;
	void *tp;
	pthread_mutex_t lock;   /* leaf lock: presence, gen, atr */
	uki_slot slot[UKI_MAX_SLOTS];
};

static pthread_mutex_t readers_lock = PTHREAD_MUTEX_INITIALIZER;
static uki_reader *readers[UKI_MAX_READERS];

static const uki_transport_ops *const transports[] = {
	&uki_link_unix_ops,
	&uki_usb_ops,
	&uki_link_tcp_ops,      /* only when a DEVICENAME says tcp: (docs/vsmartcard.md) */
};

static const uki_transport_ops *transport_find(const char *scheme)
{
	size_t i;

	for (i = 0; i < sizeof(transports) / sizeof(transports[0]); i++)
		if (strcmp(transports[i]->scheme, scheme) == 0)
			return transports[i];
	return NULL;
}

static unsigned lun_reader(unsigned long lun) { return (unsigned)((lun >> 16) & 0xFFFF); }
static unsigned lun_slot(unsigned long lun) { return (unsigned)(lun & 0xFFFF); }

uki_reader *uki_reader_lookup(unsigned idx)
{
	uki_reader *rd = NULL;

	if (idx >= UKI_MAX_READERS)
		return NULL;
	pthread_mutex_lock(&readers_lock);
	rd = readers[idx];
	pthread_mutex_unlock(&readers_lock);
	return rd;
}

/* The reader and slot of an open channel, or NULL. */
static uki_reader *slot_get(unsigned long lun, uki_slot **slot)
{
	uki_reader *rd = uki_reader_lookup(lun_reader(lun));

	if (rd == NULL || lun_slot(lun) >= rd->nslots || !rd->slot[lun_slot(lun)].open)
		return NULL;
	*slot = &rd->slot[lun_slot(lun)];
	return rd;
}

static void reader_free(uki_reader *rd)
{
	unsigned i;

	for (i = 0; i < UKI_MAX_SLOTS; i++) {
		pthread_cond_destroy(&rd->slot[i].changed);
		pthread_mutex_destroy(&rd->slot[i].io);
	}
	pthread_mutex_destroy(&rd->lock);
	free(rd);
}

static uki_reader *reader_new(unsigned idx, const char *devname, const uki_devname *dev)
{
	uki_reader *rd = calloc(1, sizeof(*rd));
	pthread_condattr_t ca;
	unsigned i;

	if (rd == NULL)
		return NULL;
	rd->index = idx;
	rd->nslots = dev->slots;
	snprintf(rd->devname, sizeof(rd->devname), "%s", devname);
	pthread_mutex_init(&rd->lock, NULL);
	/* waits are timed on CLOCK_MONOTONIC so a clock step cannot stretch them */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	for (i = 0; i < UKI_MAX_SLOTS; i++) {
		pthread_cond_init(&rd->slot[i].changed, &ca);
		pthread_mutex_init(&rd->slot[i].io, NULL);
	}
	pthread_condattr_destroy(&ca);
	return rd;
}

/* First channel of a reader: parse DEVICENAME, start the transport. */
static uki_status reader_create_locked(unsigned idx, const char *devname, uki_reader **out)
{
	uki_devname dev;
	uki_reader *rd = NULL;
	uki_status st = uki_devname_parse(devname, &dev);

	if (st != UKI_OK) {
		/* slots above UKI_MAX_SLOTS end here too: pcscd 1.9.9 has 16 reader contexts */
		uk_log(UK_LOG_ERROR, "ifd", "bad DEVICENAME \"%s\" (want SCHEME:ADDRESS"
		       "[;slots=1..%d][;timeout=100..600000][;owner=UID]): reader refused",
		       devname, UKI_MAX_SLOTS);
		goto out;
	}
	st = UKI_ERR_UNSUPPORTED;
	if (transport_find(dev.scheme) == NULL || strlen(devname) >= sizeof(rd->devname))
		goto out;
	st = UKI_ERR_NOMEM;
	rd = reader_new(idx, devname, &dev);
	if (rd == NULL)
		goto out;
	rd->ops = transport_find(dev.scheme);
	readers[idx] = rd;      /* visible before the transport may report a key */
	st = rd->ops->open(rd, &dev, &rd->tp);
	if (st != UKI_OK) {
		readers[idx] = NULL;
		reader_free(rd);
		rd = NULL;
		goto out;
	}
	uk_log(UK_LOG_INFO, "ifd", "reader %u: %s, %u slot(s)", idx, devname, rd->nslots);
	*out = rd;
out:
	return st;
}

uki_status uki_reader_open_slot(unsigned long lun, const char *devname)
{
	unsigned idx = lun_reader(lun), s = lun_slot(lun);
	uki_reader *rd;
	uki_status st = UKI_ERR_PARAM;

	if (devname == NULL || idx >= UKI_MAX_READERS)
		return UKI_ERR_PARAM;
	pthread_mutex_lock(&readers_lock);
	rd = readers[idx];
	if (rd == NULL) {
		st = reader_create_locked(idx, devname, &rd);
		if (st != UKI_OK)
			goto out;
	} else if (strcmp(rd->devname, devname) != 0) {
		goto out;       /* another reader.conf entry on the same reader number */
	}
	st = UKI_ERR_PARAM;
	if (s >= rd->nslots || rd->slot[s].open)
		goto out;
	pthread_mutex_lock(&rd->lock);
	rd->slot[s].open = 1;
	rd->slot[s].wait_stop = 0;
	rd->slot[s].wait_seen = rd->slot[s].gen;
	pthread_mutex_unlock(&rd->lock);
	rd->opened++;
	st = UKI_OK;
out:
	if (rd != NULL && rd->opened == 0 && st != UKI_OK) {
		readers[idx] = NULL;    /* created for this call and unused */
		rd->ops->close(rd->tp);
		reader_free(rd);
	}
	pthread_mutex_unlock(&readers_lock);
	return st;
}

uki_status uki_reader_close_slot(unsigned long lun)
{
	unsigned s = lun_slot(lun);
	uki_reader *rd;
	uki_slot *slot;
	uki_status st = UKI_ERR_PARAM;

	pthread_mutex_lock(&readers_lock);
	rd = readers[lun_reader(lun) % UKI_MAX_READERS];
	if (lun_reader(lun) >= UKI_MAX_READERS || rd == NULL || s >= rd->nslots ||
	    !rd->slot[s].open)
		goto out;
	slot = &rd->slot[s];
	pthread_mutex_lock(&slot->io);          /* let an exchange in flight finish */
	pthread_mutex_lock(&rd->lock);
	slot->open = 0;
	slot->wait_stop = 1;
	pthread_cond_broadcast(&slot->changed);
	pthread_mutex_unlock(&rd->lock);
	pthread_mutex_unlock(&slot->io);
	st = UKI_OK;
	if (--rd->opened > 0)
		goto out;
	/* last slot: stop the transport (joins its thread, removes the socket) */
	readers[lun_reader(lun)] = NULL;
	rd->ops->close(rd->tp);
	uk_log(UK_LOG_INFO, "ifd", "reader %u closed", rd->index);
	reader_free(rd);
out:
	pthread_mutex_unlock(&readers_lock);
	return st;
}

void uki_reader_set_present(uki_reader *rd, unsigned slot, int present)
{
	uki_slot *s;

	if (rd == NULL || slot >= rd->nslots)
		return;
	s = &rd->slot[slot];
	pthread_mutex_lock(&rd->lock);
	if (s->present != !!present) {
		s->present = !!present;
		s->gen++;
		if (!present) {
			uk_wipe(s->atr, sizeof(s->atr));
			s->atr_len = 0;
			s->removed_unseen = 1;
		}
		pthread_cond_broadcast(&s->changed);
	}
	pthread_mutex_unlock(&rd->lock);
	uk_log(UK_LOG_INFO, "ifd", "reader %u slot %u: key %s", rd->index, slot,
	       present ? "inserted" : "removed");
}

uki_status uki_reader_presence(unsigned long lun)
{
	uki_slot *slot = NULL;
	uki_reader *rd = slot_get(lun, &slot);
	int present;

	if (rd == NULL)
		return UKI_ERR_PARAM;
	pthread_mutex_lock(&rd->lock);
	present = slot->present;
	/* A key pulled and plugged back in between two looks of pcscd is reported absent
	 * once, so pcscd sees the removal (and ends the old card's handles); the insertion
	 * that followed is reported by the next wait, which then returns at once. */
	if (slot->removed_unseen) {
		slot->removed_unseen = 0;
		if (present)
			slot->wait_seen = slot->gen - 1;
		present = 0;
	}
	pthread_mutex_unlock(&rd->lock);
	return present ? UKI_OK : UKI_ERR_ABSENT;
}

uki_status uki_reader_power(unsigned long lun, uki_power action, uint8_t *atr,
                            size_t cap, size_t *atr_len)
{
	uki_slot *slot = NULL;
	uki_reader *rd = slot_get(lun, &slot);
	uint8_t buf[UKI_ATR_MAX];
	size_t n = 0;
	uki_status st;

	if (rd == NULL)
		return UKI_ERR_PARAM;
	pthread_mutex_lock(&slot->io);
	st = rd->ops->power(rd->tp, lun_slot(lun), action, buf, sizeof(buf), &n);
	pthread_mutex_lock(&rd->lock);
	slot->atr_len = 0;
	if (st == UKI_OK && action != UKI_POWER_DOWN) {
		memcpy(slot->atr, buf, n);
		slot->atr_len = n;
	}
	pthread_mutex_unlock(&rd->lock);
	pthread_mutex_unlock(&slot->io);
	if (st == UKI_OK && action != UKI_POWER_DOWN && atr != NULL && atr_len != NULL) {
		if (n > cap)
			return UKI_ERR_BUFFER;
		memcpy(atr, buf, n);
		*atr_len = n;
	} else if (atr_len != NULL) {
		*atr_len = 0;
	}
	return st;
}

uki_status uki_reader_xfer(unsigned long lun, const uint8_t *cmd, size_t cmd_len,
                           uint8_t *resp, size_t cap, size_t *resp_len)
{
	uki_slot *slot = NULL;
	uki_reader *rd = slot_get(lun, &slot);
	uki_status st;

	if (rd == NULL)
		return UKI_ERR_PARAM;
	pthread_mutex_lock(&slot->io);
	st = rd->ops->xfer(rd->tp, lun_slot(lun), cmd, cmd_len, resp, cap, resp_len);
	pthread_mutex_unlock(&slot->io);
	return st;
}

uki_status uki_reader_atr(unsigned long lun, uint8_t *atr, size_t cap, size_t *atr_len)
{
	uki_slot *slot = NULL;
	uki_reader *rd = slot_get(lun, &slot);
	uki_status st = UKI_OK;

	if (rd == NULL)
		return UKI_ERR_PARAM;
	pthread_mutex_lock(&rd->lock);
	if (slot->atr_len > cap) {
		st = UKI_ERR_BUFFER;
	} else {
		memcpy(atr, slot->atr, slot->atr_len);
		*atr_len = slot->atr_len;
	}
	pthread_mutex_unlock(&rd->lock);
	return st;
}

uki_status uki_reader_slots(unsigned long lun, unsigned *nslots)
{
	uki_reader *rd = uki_reader_lookup(lun_reader(lun));

	if (rd == NULL)
		return UKI_ERR_PARAM;
	*nslots = rd->nslots;
	return UKI_OK;
}

static void deadline_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* pcsc-lite eventhandler.c: the event thread reads presence (IFDHICCPresence), then calls
 * this with PCSCLITE_STATUS_EVENT_TIMEOUT or the power-off grace period, and loops. A
 * change that lands between its presence read and this call must not be missed, so we
 * compare against the generation seen when the previous wait returned: at worst one
 * extra loop per event, never a lost one. */
uki_status uki_reader_wait_event(unsigned long lun, int timeout_ms)
{
	uki_slot *slot = NULL;
	uki_reader *rd = slot_get(lun, &slot);
	struct timespec ts;
	int rc = 0;

	if (rd == NULL)
		return UKI_ERR_PARAM;
	if (timeout_ms < 0)
		timeout_ms = 0;
	deadline_after(&ts, timeout_ms);
	pthread_mutex_lock(&rd->lock);
	while (!slot->wait_stop && slot->gen == slot->wait_seen && rc == 0)
		rc = pthread_cond_timedwait(&slot->changed, &rd->lock, &ts);
	slot->wait_seen = slot->gen;
	pthread_mutex_unlock(&rd->lock);
	return UKI_OK;
}

uki_status uki_reader_stop_wait(unsigned long lun)
{
	uki_reader *rd = uki_reader_lookup(lun_reader(lun));
	uki_slot *slot;

	if (rd == NULL || lun_slot(lun) >= rd->nslots)
		return UKI_ERR_PARAM;
	slot = &rd->slot[lun_slot(lun)];
	pthread_mutex_lock(&rd->lock);
	slot->wait_stop = 1;
	pthread_cond_broadcast(&slot->changed);
	pthread_mutex_unlock(&rd->lock);
	return UKI_OK;
}
