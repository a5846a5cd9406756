/* ifd_ccid: the CCID host layer (uki_ccid.h, USB CCID rev. 1.1) against a scripted bus.
 *
 * The bus is in-process: the test queues the bulk-IN transfers the "device" will return
 * (whole messages, pieces of them, delays, bus errors), and every bulk-OUT message the
 * layer sends is recorded and checked byte by byte against messages built here from the
 * spec's tables (§6.1), never by the code under test. */
#include "uki_ccid.h"
#include "uk_test.h"

#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include "uk_time.h"

/* ---- the scripted bus ---- */

#define POOL_MAX (1u << 18)
#define QUEUE_MAX 1024
#define OUT_MAX 160

typedef struct item {
	size_t off, len;
	int delay_ms;           /* the transfer arrives this late */
	uki_status err;         /* a bus error instead of data */
} item;

typedef struct sbus {
	uint8_t pool[POOL_MAX];
	size_t pool_len;
	item q[QUEUE_MAX];
	size_t head, tail;
	unsigned split;         /* push_msg: 0 whole, 1 = pieces of 1..7 bytes */
	uint8_t out[POOL_MAX];
	size_t out_len;
	size_t out_off[OUT_MAX], out_sz[OUT_MAX];
	size_t nout;
	uki_status out_err;     /* next bulk_out fails with this */
} sbus;

static sbus B;

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static uki_status bus_out(void *ctx, const uint8_t *p, size_t n, int timeout_ms)
{
	sbus *b = ctx;
	uki_status st = b->out_err;

	UK_CHECK(timeout_ms > 0);
	if (st != UKI_OK) {
		b->out_err = UKI_OK;
		return st;
	}
	UK_CHECK(b->nout < OUT_MAX && b->out_len + n <= POOL_MAX);
	memcpy(b->out + b->out_len, p, n);
	b->out_off[b->nout] = b->out_len;
	b->out_sz[b->nout++] = n;
	b->out_len += n;
	return UKI_OK;
}

/* Honours timeout_ms as a real bus would: a transfer later than that is a timeout, and
 * arrives that much sooner on the next call. An empty queue times out at once. */
static uki_status bus_in(void *ctx, uint8_t *p, size_t cap, size_t *got, int timeout_ms)
{
	sbus *b = ctx;
	item *it;

	UK_CHECK(timeout_ms > 0);
	*got = 0;
	if (b->head == b->tail)
		return UKI_ERR_TIMEOUT;
	it = &b->q[b->head];
	if (it->delay_ms > timeout_ms) {
		sleep_ms(timeout_ms);
		it->delay_ms -= timeout_ms;
		return UKI_ERR_TIMEOUT;
	}
	if (it->delay_ms > 0)
		sleep_ms(it->delay_ms);
	b->head++;
	if (it->err != UKI_OK)
		return it->err;
	UK_CHECK(it->len <= cap);
	memcpy(p, b->pool + it->off, it->len);
	*got = it->len;
	return UKI_OK;
}

static void bus_reset(void)
{
	memset(&B, 0, sizeof(B));
}

static void push_raw(const uint8_t *p, size_t n, int delay_ms)
{
	UK_CHECK(B.tail < QUEUE_MAX && B.pool_len + n <= POOL_MAX);
	memcpy(B.pool + B.pool_len, p, n);
	B.q[B.tail++] = (item){ B.pool_len, n, delay_ms, UKI_OK };
	B.pool_len += n;
}

static void push_err(uki_status err)
{
	UK_CHECK(B.tail < QUEUE_MAX);
	B.q[B.tail++] = (item){ 0, 0, 0, err };
}

/* An RDR_to_PC message (§6.2): type, dwLength (LE), bSlot, bSeq, bStatus, bError, byte 9. */
static size_t build_msg(uint8_t *m, uint8_t type, uint8_t slot, uint8_t seq, uint8_t status,
                        uint8_t error, uint8_t b9, const uint8_t *data, size_t n)
{
	m[0] = type;
	m[1] = (uint8_t)n;
	m[2] = (uint8_t)(n >> 8);
	m[3] = (uint8_t)(n >> 16);
	m[4] = (uint8_t)(n >> 24);
	m[5] = slot;
	m[6] = seq;
	m[7] = status;
	m[8] = error;
	m[9] = b9;
	if (n > 0)
		memcpy(m + 10, data, n);
	return 10 + n;
}

static void push_msg_delayed(uint8_t type, uint8_t seq, uint8_t status, uint8_t error,
                             uint8_t b9, const uint8_t *data, size_t n, int delay_ms)
{
	static uint8_t m[UKI_CCID_MSG_MAX];
	size_t len = build_msg(m, type, 0, seq, status, error, b9, data, n), off = 0, k = 1;

	if (B.split == 0) {
		push_raw(m, len, delay_ms);
		return;
	}
	while (off < len) {     /* pieces of 1, 2, ... 7, 1, 2 ... bytes */
		size_t piece = len - off < k ? len - off : k;

		push_raw(m + off, piece, off == 0 ? delay_ms : 0);
		off += piece;
		k = k % 7 + 1;
	}
}

static void push_msg(uint8_t type, uint8_t seq, uint8_t status, uint8_t error, uint8_t b9,
                     const uint8_t *data, size_t n)
{
	push_msg_delayed(type, seq, status, error, b9, data, n, 0);
}

/* The i-th bulk-OUT message must be this PC_to_RDR message (§6.1). */
static void check_out(size_t i, uint8_t type, uint8_t seq, uint8_t b7, uint16_t b89,
                      const uint8_t *data, size_t n)
{
	uint8_t want[UKI_CCID_HDR + 512];

	UK_CHECK(n <= 512);
	UK_CHECK(i < B.nout);
	build_msg(want, type, 0, seq, b7, (uint8_t)b89, (uint8_t)(b89 >> 8), data, n);
	UK_CHECK_EQ(B.out_sz[i], UKI_CCID_HDR + n);
	UK_CHECK_MEM(B.out + B.out_off[i], want, UKI_CCID_HDR + n);
}

static int buf_clean(const uki_ccid *c)
{
	size_t i;

	for (i = 0; i < UKI_CCID_MSG_MAX; i++)
		if (c->buf[i] != 0)
			return 0;
	return 1;
}

/* ---- descriptors (§5.1 Table 5.1-1) ---- */

/* A short-APDU-level USB token's CCID class descriptor, field by field as Table 5.1-1
 * lays it out (little-endian): CCID 1.10, one slot, 5 V/3 V/1.8 V, T=1, clock 4 MHz,
 * 10752 bps, IFSD 254, dwFeatures 0x000204BA (automatic parameters/voltage/clock/baud,
 * short APDU level), dwMaxCCIDMessageLength 271, no PIN pad, 1 busy slot. */
static const uint8_t desc_short[UKI_CCID_DESC_LEN] = {
	0x36, 0x21, 0x10, 0x01, 0x00, 0x07, 0x02, 0x00, 0x00, 0x00,     /* ..dwProtocols */
	0xA0, 0x0F, 0x00, 0x00, 0xA0, 0x0F, 0x00, 0x00, 0x00,           /* clocks */
	0x00, 0x2A, 0x00, 0x00, 0x00, 0x2A, 0x00, 0x00, 0x00,           /* data rates */
	0xFE, 0x00, 0x00, 0x00,                                         /* dwMaxIFSD */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,                 /* sync, mechanical */
	0xBA, 0x04, 0x02, 0x00,                                         /* dwFeatures */
	0x0F, 0x01, 0x00, 0x00,                                         /* dwMaxCCIDMessageLength */
	0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01,
};

/* The layout of a TPDU-level pinless reader (as GemPC-style readers report it):
 * CCID 1.00, 5 V/3 V/1.8 V, T=0 and T=1, clock 3.58 MHz, dwFeatures 0x00010230. */
static const uint8_t desc_tpdu[UKI_CCID_DESC_LEN] = {
	0x36, 0x21, 0x00, 0x01, 0x00, 0x07, 0x03, 0x00, 0x00, 0x00,
	0xFC, 0x0D, 0x00, 0x00, 0xFC, 0x0D, 0x00, 0x00, 0x00,
	0x80, 0x25, 0x00, 0x00, 0x06, 0x40, 0x05, 0x00, 0x00,
	0xFE, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x30, 0x02, 0x01, 0x00,
	0x0F, 0x01, 0x00, 0x00,
	0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01,
};

static void desc_with(uint8_t *d, uint32_t features, uint32_t maxlen)
{
	memcpy(d, desc_short, UKI_CCID_DESC_LEN);
	d[40] = (uint8_t)features;
	d[41] = (uint8_t)(features >> 8);
	d[42] = (uint8_t)(features >> 16);
	d[43] = (uint8_t)(features >> 24);
	d[44] = (uint8_t)maxlen;
	d[45] = (uint8_t)(maxlen >> 8);
	d[46] = (uint8_t)(maxlen >> 16);
	d[47] = (uint8_t)(maxlen >> 24);
}

static void test_desc(void)
{
	uint8_t d[UKI_CCID_DESC_LEN], extra[128];
	uki_ccid_desc out;

	UK_CHECK_EQ(uki_ccid_parse_desc(desc_short, sizeof(desc_short), &out), UKI_OK);
	UK_CHECK_EQ(out.bcdCCID, 0x0110);
	UK_CHECK_EQ(out.bMaxSlotIndex, 0);
	UK_CHECK_EQ(out.bVoltageSupport, 7);
	UK_CHECK_EQ(out.dwProtocols, 2);
	UK_CHECK_EQ(out.dwFeatures, 0x000204BA);
	UK_CHECK_EQ(out.dwMaxCCIDMessageLength, 271);
	UK_CHECK_EQ(out.bMaxCCIDBusySlots, 1);

	/* wrong length, type, size; refused levels; absurd dwMaxCCIDMessageLength */
	UK_CHECK_EQ(uki_ccid_parse_desc(desc_short, 53, &out), UKI_ERR_PROTO);
	memcpy(d, desc_short, sizeof(d));
	d[0] = 0x35;
	UK_CHECK_EQ(uki_ccid_parse_desc(d, sizeof(d), &out), UKI_ERR_PROTO);
	d[0] = 0x36;
	d[1] = 0x24;
	UK_CHECK_EQ(uki_ccid_parse_desc(d, sizeof(d), &out), UKI_ERR_PROTO);
	d[1] = 0xFF;            /* pre-1.0 devices */
	UK_CHECK_EQ(uki_ccid_parse_desc(d, sizeof(d), &out), UKI_OK);
	UK_CHECK_EQ(uki_ccid_parse_desc(desc_tpdu, sizeof(desc_tpdu), &out), UKI_ERR_UNSUPPORTED);
	desc_with(d, 0x000004BA, 271);          /* character level */
	UK_CHECK_EQ(uki_ccid_parse_desc(d, sizeof(d), &out), UKI_ERR_UNSUPPORTED);
	desc_with(d, 0x000604BA, 271);          /* two levels at once */
	UK_CHECK_EQ(uki_ccid_parse_desc(d, sizeof(d), &out), UKI_ERR_UNSUPPORTED);
	desc_with(d, 0x000404BA, 1034);
	UK_CHECK_EQ(uki_ccid_parse_desc(d, sizeof(d), &out), UKI_OK);
	UK_CHECK_EQ(out.dwMaxCCIDMessageLength, 1034);
	desc_with(d, 0x000404BA, 10);
	UK_CHECK_EQ(uki_ccid_parse_desc(d, sizeof(d), &out), UKI_ERR_PROTO);
	desc_with(d, 0x000404BA, 11);
	UK_CHECK_EQ(uki_ccid_parse_desc(d, sizeof(d), &out), UKI_OK);
	desc_with(d, 0x000404BA, UKI_CCID_MSG_MAX + 1);
	UK_CHECK_EQ(uki_ccid_parse_desc(d, sizeof(d), &out), UKI_ERR_PROTO);
	desc_with(d, 0x000404BA, 0xFFFFFFFFu);
	UK_CHECK_EQ(uki_ccid_parse_desc(d, sizeof(d), &out), UKI_ERR_PROTO);

	/* in an interface's extra bytes, after another class-specific descriptor */
	memset(&out, 0, sizeof(out));
	extra[0] = 5;
	extra[1] = 0x24;
	extra[2] = extra[3] = extra[4] = 0;
	memcpy(extra + 5, desc_short, sizeof(desc_short));
	UK_CHECK_EQ(uki_ccid_find_desc(extra, 5 + sizeof(desc_short), &out), UKI_OK);
	UK_CHECK_EQ(out.dwMaxCCIDMessageLength, 271);
	UK_CHECK_EQ(uki_ccid_find_desc(extra, 5, &out), UKI_ERR_PROTO);          /* none */
	UK_CHECK_EQ(uki_ccid_find_desc(extra, 5 + 53, &out), UKI_ERR_PROTO);     /* cut */
	extra[0] = 0;
	UK_CHECK_EQ(uki_ccid_find_desc(extra, 5 + sizeof(desc_short), &out), UKI_ERR_PROTO);
	extra[0] = 5;
	memcpy(extra + 5, desc_tpdu, sizeof(desc_tpdu));
	UK_CHECK_EQ(uki_ccid_find_desc(extra, 5 + sizeof(desc_tpdu), &out), UKI_ERR_UNSUPPORTED);
	UK_CHECK_EQ(uki_ccid_find_desc(NULL, 0, &out), UKI_ERR_PROTO);
}

/* ---- messages and notices (§6.2, §6.3) ---- */

static void test_msg_parse(void)
{
	uint8_t m[32], data[3] = { 0x90, 0x00, 0x01 };
	uki_ccid_msg msg;
	uint32_t present = 0xDEAD, changed = 0xBEEF;
	size_t n = build_msg(m, 0x80, 1, 7, 0x40, 0xFE, 0x03, data, 3);
	static const uint8_t notify1[] = { 0x50, 0x03 };
	/* 5 slots: slot 0 00, slot 1 11, slot 2 01, slot 3 10 | slot 4 01 */
	static const uint8_t notify5[] = { 0x50, 0x9C, 0x01 };
	static const uint8_t hwerr[] = { 0x51, 0x00, 0x03, 0x01 };

	UK_CHECK_EQ(uki_ccid_parse_msg(m, n, &msg), UKI_OK);
	UK_CHECK_EQ(msg.type, 0x80);
	UK_CHECK_EQ(msg.length, 3);
	UK_CHECK_EQ(msg.slot, 1);
	UK_CHECK_EQ(msg.seq, 7);
	UK_CHECK_EQ(msg.status, 0x40);
	UK_CHECK_EQ(msg.error, 0xFE);
	UK_CHECK_EQ(msg.specific, 3);
	UK_CHECK(msg.data == m + 10);
	UK_CHECK_EQ(uki_ccid_parse_msg(m, n - 1, &msg), UKI_ERR_PROTO);
	UK_CHECK_EQ(uki_ccid_parse_msg(m, n + 1, &msg), UKI_ERR_PROTO);
	UK_CHECK_EQ(uki_ccid_parse_msg(m, 9, &msg), UKI_ERR_PROTO);
	m[0] = 0x6F;
	UK_CHECK_EQ(uki_ccid_parse_msg(m, n, &msg), UKI_ERR_PROTO);
	m[0] = 0x50;
	UK_CHECK_EQ(uki_ccid_parse_msg(m, n, &msg), UKI_ERR_PROTO);
	m[0] = 0x84;
	UK_CHECK_EQ(uki_ccid_parse_msg(m, n, &msg), UKI_OK);

	UK_CHECK_EQ(uki_ccid_parse_notify(notify1, 2, 0, &present, &changed), UKI_OK);
	UK_CHECK_EQ(present, 1);
	UK_CHECK_EQ(changed, 1);
	UK_CHECK_EQ(uki_ccid_parse_notify(notify5, 3, 4, &present, &changed), UKI_OK);
	UK_CHECK_EQ(present, 0x16);
	UK_CHECK_EQ(changed, 0x0A);
	UK_CHECK_EQ(uki_ccid_parse_notify(notify5, 2, 4, &present, &changed), UKI_ERR_PROTO);
	UK_CHECK_EQ(uki_ccid_parse_notify(notify5, 3, 3, &present, &changed), UKI_OK);
	UK_CHECK_EQ(present, 0x06);             /* slot 4 not read */
	/* at most 8 slots (2 bytes) are read, whatever bMaxSlotIndex says */
	UK_CHECK_EQ(uki_ccid_parse_notify(notify5, 3, 200, &present, &changed), UKI_OK);
	UK_CHECK_EQ(present, 0x16);
	UK_CHECK_EQ(uki_ccid_parse_notify(notify5, 2, 200, &present, &changed), UKI_ERR_PROTO);
	present = changed = 0x55;
	UK_CHECK_EQ(uki_ccid_parse_notify(hwerr, sizeof(hwerr), 0, &present, &changed),
	            UKI_ERR_PROTO);
	UK_CHECK_EQ(present, 0x55);
	UK_CHECK_EQ(changed, 0x55);
	UK_CHECK_EQ(uki_ccid_parse_notify(notify1, 1, 0, &present, &changed), UKI_ERR_PROTO);
	UK_CHECK_EQ(uki_ccid_parse_notify(m, 0, 0, &present, &changed), UKI_ERR_PROTO);
}

/* Every §6.2.6 code has a name; the named codes and the offsets are all distinct. */
static void test_error_names(void)
{
	static const uint8_t named[] = { 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0xF8, 0xF7, 0xF6, 0xF5,
		                         0xF4, 0xF3, 0xF2, 0xF0, 0xEF, 0xE0, 0x00 };
	const char *names[sizeof(named) + 0x7F];
	size_t i, j, n = 0;

	for (i = 0; i < 256; i++) {
		const char *s = uki_ccid_error_name((uint8_t)i);

		UK_CHECK(s != NULL && s[0] != '\0');
	}
	for (i = 0; i < sizeof(named); i++)
		names[n++] = uki_ccid_error_name(named[i]);
	for (i = 1; i <= 0x7F; i++)
		names[n++] = uki_ccid_error_name((uint8_t)i);
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			UK_CHECK(strcmp(names[i], names[j]) != 0);
	UK_CHECK(strcmp(uki_ccid_error_name(0xFE), "ICC_MUTE") == 0);
	UK_CHECK(strcmp(uki_ccid_error_name(0xE0), "CMD_SLOT_BUSY") == 0);
	UK_CHECK(strcmp(uki_ccid_error_name(0xFC), "XFR_OVERRUN") == 0);
	UK_CHECK(strcmp(uki_ccid_error_name(5), "bad parameter at offset 5") == 0);
	UK_CHECK(strcmp(uki_ccid_error_name(0x7F), "bad parameter at offset 127") == 0);
	UK_CHECK(strcmp(uki_ccid_error_name(0x6B), "bad parameter at offset 107") == 0);

	UK_CHECK_EQ(uki_ccid_error_status(0x00, 0xFE), UKI_OK);
	UK_CHECK_EQ(uki_ccid_error_status(0x80, 0x01), UKI_OK);        /* time extension */
	UK_CHECK_EQ(uki_ccid_error_status(0xC0, 0x00), UKI_ERR_PROTO);  /* RFU */
	UK_CHECK_EQ(uki_ccid_error_status(0x41, 0xFE), UKI_ERR_ABSENT);
	UK_CHECK_EQ(uki_ccid_error_status(0x42, 0xFB), UKI_ERR_ABSENT);
	for (i = 0; i < sizeof(named); i++)
		if (named[i] != 0xFE)
			UK_CHECK_EQ(uki_ccid_error_status(0x40, named[i]), UKI_ERR_PROTO);
	UK_CHECK_EQ(uki_ccid_error_status(0x40, 0x07), UKI_ERR_PROTO);
	UK_CHECK_EQ(uki_ccid_error_status(0x40, 0x90), UKI_ERR_PROTO);
}

/* ---- exchanges ---- */

static const uki_ccid_bus sbus_ops = { &B, bus_out, bus_in };

static void open_ccid(uki_ccid *c, uint32_t features, uint32_t maxlen, int timeout_ms)
{
	uint8_t d[UKI_CCID_DESC_LEN];
	uki_ccid_desc desc;

	desc_with(d, features, maxlen);
	UK_CHECK_EQ(uki_ccid_parse_desc(d, sizeof(d), &desc), UKI_OK);
	bus_reset();
	UK_CHECK_EQ(uki_ccid_init(c, &sbus_ops, &desc, timeout_ms), UKI_OK);
	UK_CHECK_EQ(c->max_ms, 10 * timeout_ms);
	UK_CHECK_EQ(c->seq, 0);
}

static void test_init(void)
{
	uki_ccid c;
	uki_ccid_desc desc;
	uki_ccid_bus nobus = { &B, bus_out, NULL };

	UK_CHECK_EQ(uki_ccid_parse_desc(desc_short, sizeof(desc_short), &desc), UKI_OK);
	UK_CHECK_EQ(uki_ccid_init(&c, &sbus_ops, &desc, 0), UKI_ERR_PARAM);
	UK_CHECK_EQ(uki_ccid_init(&c, &nobus, &desc, 100), UKI_ERR_PARAM);
	UK_CHECK_EQ(uki_ccid_init(&c, &sbus_ops, NULL, 100), UKI_ERR_PARAM);
	desc.dwFeatures = 0x00010230;
	UK_CHECK_EQ(uki_ccid_init(&c, &sbus_ops, &desc, 100), UKI_ERR_UNSUPPORTED);
	desc.dwFeatures = 0x000204BA;
	desc.dwMaxCCIDMessageLength = 5;
	UK_CHECK_EQ(uki_ccid_init(&c, &sbus_ops, &desc, 100), UKI_ERR_PARAM);
}

static const uint8_t ATR[] = { 0x3B, 0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C, 0xA0, 0x00, 0x00,
	                       0x03, 0x06, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x6A };

static void test_power(void)
{
	uki_ccid c;
	uint8_t atr[UKI_ATR_MAX + 8], longatr[UKI_ATR_MAX + 1] = { 0x3B };
	size_t n = 99;
	unsigned icc = 9;

	open_ccid(&c, 0x000204BA, 271, 200);
	push_msg(0x80, 0, 0x00, 0, 0, ATR, sizeof(ATR));
	UK_CHECK_EQ(uki_ccid_power_on(&c, 0, atr, sizeof(atr), &n), UKI_OK);
	UK_CHECK_EQ(n, sizeof(ATR));
	UK_CHECK_MEM(atr, ATR, sizeof(ATR));
	check_out(0, 0x62, 0, 0x00, 0, NULL, 0);        /* bPowerSelect 0: automatic */
	UK_CHECK(buf_clean(&c));

	/* mute (ICC present, inactive) and absent: no card for the host */
	push_msg(0x80, 1, 0x41, 0xFE, 0, NULL, 0);
	UK_CHECK_EQ(uki_ccid_power_on(&c, 0, atr, sizeof(atr), &n), UKI_ERR_ABSENT);
	UK_CHECK_EQ(n, 0);
	push_msg(0x80, 2, 0x42, 0xFE, 0, NULL, 0);
	UK_CHECK_EQ(uki_ccid_power_on(&c, 0, atr, sizeof(atr), &n), UKI_ERR_ABSENT);
	push_msg(0x80, 3, 0x41, 0xF8, 0, NULL, 0);      /* BAD_ATR_TS */
	UK_CHECK_EQ(uki_ccid_power_on(&c, 0, atr, sizeof(atr), &n), UKI_ERR_PROTO);
	push_msg(0x80, 4, 0x00, 0, 0, longatr, sizeof(longatr));
	UK_CHECK_EQ(uki_ccid_power_on(&c, 0, atr, sizeof(atr), &n), UKI_ERR_PROTO);
	push_msg(0x80, 5, 0x00, 0, 0, ATR, 1);
	UK_CHECK_EQ(uki_ccid_power_on(&c, 0, atr, sizeof(atr), &n), UKI_ERR_PROTO);
	UK_CHECK_EQ(uki_ccid_power_on(&c, 0, atr, UKI_ATR_MAX - 1, &n), UKI_ERR_PARAM);
	UK_CHECK_EQ(uki_ccid_power_on(&c, 1, atr, sizeof(atr), &n), UKI_ERR_PARAM);
	UK_CHECK_EQ(B.nout, 6);
	UK_CHECK(buf_clean(&c));

	/* GetSlotStatus: bmICCStatus 0, 1, 2 (with ICC_MUTE, as readers report it), 3 RFU */
	push_msg(0x81, 6, 0x00, 0, 0, NULL, 0);
	UK_CHECK_EQ(uki_ccid_slot_status(&c, 0, &icc), UKI_OK);
	UK_CHECK_EQ(icc, 0);
	check_out(6, 0x65, 6, 0, 0, NULL, 0);
	push_msg(0x81, 7, 0x01, 0, 0, NULL, 0);
	UK_CHECK_EQ(uki_ccid_slot_status(&c, 0, &icc), UKI_OK);
	UK_CHECK_EQ(icc, 1);
	push_msg(0x81, 8, 0x42, 0xFE, 0, NULL, 0);
	UK_CHECK_EQ(uki_ccid_slot_status(&c, 0, &icc), UKI_OK);
	UK_CHECK_EQ(icc, 2);
	push_msg(0x81, 9, 0x03, 0, 0, NULL, 0);
	UK_CHECK_EQ(uki_ccid_slot_status(&c, 0, &icc), UKI_ERR_PROTO);
	push_msg(0x81, 10, 0x40, 0xE0, 0, NULL, 0);     /* CMD_SLOT_BUSY */
	UK_CHECK_EQ(uki_ccid_slot_status(&c, 0, &icc), UKI_ERR_PROTO);

	/* IccPowerOff answers with SlotStatus */
	push_msg(0x81, 11, 0x01, 0, 0, NULL, 0);
	UK_CHECK_EQ(uki_ccid_power_off(&c, 0), UKI_OK);
	check_out(11, 0x63, 11, 0, 0, NULL, 0);
	push_msg(0x80, 12, 0x01, 0, 0, NULL, 0);        /* wrong type */
	UK_CHECK_EQ(uki_ccid_power_off(&c, 0), UKI_ERR_PROTO);
	UK_CHECK(buf_clean(&c));
	uki_ccid_free(&c);
}

static const uint8_t SELECT[] = { 0x00, 0xA4, 0x04, 0x00, 0x05, 0xF0, 0x55, 0x4B, 0x45, 0x59 };

static void test_short(void)
{
	uki_ccid c;
	uint8_t resp[300], data[258], ext[8] = { 0x00, 0xB0, 0x00, 0x00, 0x00, 0x01, 0x00 };
	uint8_t big[262] = { 0x80, 0xD6, 0x00, 0x00 };
	size_t n = 0, i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 1);
	data[256] = 0x90;
	data[257] = 0x00;
	open_ccid(&c, 0x000204BA, 271, 200);
	push_msg(0x80, 0, 0x00, 0, 0, data, sizeof(data));
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, SELECT, sizeof(SELECT), resp, sizeof(resp), &n), UKI_OK);
	UK_CHECK_EQ(n, sizeof(data));
	UK_CHECK_MEM(resp, data, sizeof(data));
	check_out(0, 0x6F, 0, 0, 0x0000, SELECT, sizeof(SELECT));
	UK_CHECK(buf_clean(&c));

	/* extended or over-long APDUs cannot travel at the short level: nothing is sent */
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, ext, 7, resp, sizeof(resp), &n), UKI_ERR_UNSUPPORTED);
	big[4] = 0xFF;          /* case 4S, the longest short APDU: sent as it is */
	push_msg(0x80, 1, 0x00, 0, 0, data + 256, 2);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, big, 261, resp, sizeof(resp), &n), UKI_OK);
	check_out(1, 0x6F, 1, 0, 0, big, 261);
	UK_CHECK_EQ(B.nout, 2);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, big, 262, resp, sizeof(resp), &n), UKI_ERR_UNSUPPORTED);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, SELECT, 3, resp, sizeof(resp), &n), UKI_ERR_PARAM);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 1, SELECT, 4, resp, sizeof(resp), &n), UKI_ERR_PARAM);
	UK_CHECK_EQ(B.nout, 2);

	/* a failed XfrBlock: mute with the ICC present is one failed exchange; absent is absent */
	push_msg(0x80, 2, 0x40, 0xFE, 0, NULL, 0);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, SELECT, 4, resp, sizeof(resp), &n), UKI_ERR_PROTO);
	push_msg(0x80, 3, 0x42, 0xFE, 0, NULL, 0);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, SELECT, 4, resp, sizeof(resp), &n), UKI_ERR_ABSENT);
	push_msg(0x80, 4, 0x40, 0xFC, 0, NULL, 0);      /* XFR_OVERRUN */
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, SELECT, 4, resp, sizeof(resp), &n), UKI_ERR_PROTO);
	push_msg(0x80, 5, 0x00, 0, 0, data, 1);         /* no SW1 SW2 */
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, SELECT, 4, resp, sizeof(resp), &n), UKI_ERR_PROTO);
	UK_CHECK_EQ(n, 0);

	/* UKI_ERR_BUFFER: the answer is read whole, the next exchange is in step */
	push_msg(0x80, 6, 0x00, 0, 0, data, sizeof(data));
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, SELECT, 4, resp, 100, &n), UKI_ERR_BUFFER);
	UK_CHECK_EQ(n, 0);
	push_msg(0x80, 7, 0x00, 0, 0, data + 256, 2);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, SELECT, 4, resp, sizeof(resp), &n), UKI_OK);
	UK_CHECK_EQ(n, 2);
	UK_CHECK_EQ(resp[0], 0x90);
	check_out(B.nout - 1, 0x6F, 7, 0, 0, SELECT, 4);
	UK_CHECK(buf_clean(&c));
	uki_ccid_free(&c);
}

/* Extended APDU level with dwMaxCCIDMessageLength 26: 16 data bytes per message.
 * §6.1.4 wLevelParameter 1 begin / 3 more / 2 end / 0x10 "send more of the answer";
 * §6.2.1 bChainParameter 0x10 "send more of the command", 1 / 3 / 2 for the answer. */
static void test_chaining(void)
{
	uki_ccid c;
	uint8_t cmd[40], resp[64], data[38], z[64] = { 0 };
	size_t n = 0, i;

	for (i = 0; i < sizeof(cmd); i++)
		cmd[i] = (uint8_t)(0xC0 + i);
	cmd[4] = 0;             /* an extended-length case 3 APDU: Lc 00 00 21, 33 data bytes */
	cmd[5] = 0;
	cmd[6] = 33;
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(0x10 + i);
	for (unsigned split = 0; split < 2; split++) {
		open_ccid(&c, 0x000404BE, 26, 200);
		B.split = split;
		push_msg(0x80, 0, 0x00, 0, 0x10, NULL, 0);
		push_msg(0x80, 1, 0x00, 0, 0x10, NULL, 0);
		push_msg(0x80, 2, 0x00, 0, 0x01, data, 16);
		push_msg(0x80, 3, 0x00, 0, 0x03, data + 16, 16);
		push_msg(0x80, 4, 0x00, 0, 0x02, data + 32, 6);
		UK_CHECK_EQ(uki_ccid_xfr(&c, 0, cmd, sizeof(cmd), resp, sizeof(resp), &n), UKI_OK);
		UK_CHECK_EQ(n, sizeof(data));
		UK_CHECK_MEM(resp, data, sizeof(data));
		UK_CHECK_EQ(B.nout, 5);
		check_out(0, 0x6F, 0, 0, 0x0001, cmd, 16);
		check_out(1, 0x6F, 1, 0, 0x0003, cmd + 16, 16);
		check_out(2, 0x6F, 2, 0, 0x0002, cmd + 32, 8);
		check_out(3, 0x6F, 3, 0, 0x0010, NULL, 0);
		check_out(4, 0x6F, 4, 0, 0x0010, NULL, 0);
		UK_CHECK(buf_clean(&c));
		uki_ccid_free(&c);
	}

	open_ccid(&c, 0x000404BE, 26, 200);
	/* a command that fits: wLevelParameter 0; a whole answer: bChainParameter 0 */
	push_msg(0x80, 0, 0x00, 0, 0x00, data, 16);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, cmd, 16, resp, sizeof(resp), &n), UKI_OK);
	UK_CHECK_EQ(n, 16);
	check_out(0, 0x6F, 0, 0, 0x0000, cmd, 16);
	/* a command of exactly two blocks: 1 then 2 */
	push_msg(0x80, 1, 0x00, 0, 0x10, NULL, 0);
	push_msg(0x80, 2, 0x00, 0, 0x00, data, 2);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, cmd, 32, resp, sizeof(resp), &n), UKI_OK);
	check_out(1, 0x6F, 1, 0, 0x0001, cmd, 16);
	check_out(2, 0x6F, 2, 0, 0x0002, cmd + 16, 16);

	/* out-of-order chaining is a protocol error */
	push_msg(0x80, 3, 0x00, 0, 0x00, NULL, 0);      /* 0 where 0x10 is due */
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, cmd, 32, resp, sizeof(resp), &n), UKI_ERR_PROTO);
	UK_CHECK_EQ(B.nout, 4);                         /* the second block was not sent */
	push_msg(0x80, 4, 0x00, 0, 0x03, data, 16);     /* "more" without a beginning */
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, cmd, 8, resp, sizeof(resp), &n), UKI_ERR_PROTO);
	push_msg(0x80, 5, 0x00, 0, 0x01, data, 16);
	push_msg(0x80, 6, 0x00, 0, 0x01, data, 16);     /* a second beginning */
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, cmd, 8, resp, sizeof(resp), &n), UKI_ERR_PROTO);
	UK_CHECK_EQ(n, 0);
	UK_CHECK_MEM(resp, z, 16);                      /* the partial answer was wiped */
	push_msg(0x80, 7, 0x00, 0, 0x10, NULL, 0);      /* failed second block */
	push_msg(0x80, 8, 0x40, 0xFD, 0x00, NULL, 0);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, cmd, 32, resp, sizeof(resp), &n), UKI_ERR_PROTO);

	/* UKI_ERR_BUFFER over a chained answer: all blocks fetched, the part kept wiped */
	memset(resp, 0xAA, sizeof(resp));
	push_msg(0x80, 9, 0x00, 0, 0x01, data, 16);
	push_msg(0x80, 10, 0x00, 0, 0x03, data, 16);
	push_msg(0x80, 11, 0x00, 0, 0x02, data, 16);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, cmd, 8, resp, 20, &n), UKI_ERR_BUFFER);
	UK_CHECK_MEM(resp, z, 20);
	UK_CHECK_EQ(resp[20], 0xAA);
	check_out(B.nout - 1, 0x6F, 11, 0, 0x0010, NULL, 0);
	push_msg(0x80, 12, 0x00, 0, 0x00, data, 2);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, cmd, 8, resp, sizeof(resp), &n), UKI_OK);
	UK_CHECK_EQ(n, 2);
	UK_CHECK(buf_clean(&c));
	uki_ccid_free(&c);
}

/* The longest answer (65,536 bytes + SW1 SW2) in 1,024-byte blocks, after a 2,507-byte
 * command in three; one byte more than that longest answer is a protocol error. */
static void test_large(void)
{
	static uint8_t cmd[2507], resp[70000], data[65539];
	uki_ccid c;
	size_t n = 0, i, off;
	uint8_t seq = 0;

	for (i = 0; i < sizeof(cmd); i++)
		cmd[i] = (uint8_t)(i * 13);
	cmd[4] = 0x00;
	cmd[5] = 0x09;          /* Lc 2500 */
	cmd[6] = 0xC4;
	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 31 + 7);
	for (unsigned extra = 0; extra < 2; extra++) {
		open_ccid(&c, 0x000404BE, 1034, 500);
		seq = 0;
		push_msg(0x80, seq++, 0x00, 0, 0x10, NULL, 0);
		push_msg(0x80, seq++, 0x00, 0, 0x10, NULL, 0);
		for (off = 0; off < 65538 + extra; off += 1024) {
			size_t k = 65538 + extra - off < 1024 ? 65538 + extra - off : 1024;
			uint8_t chain = off == 0 ? 0x01 : off + k == 65538 + extra ? 0x02 : 0x03;

			push_msg(0x80, seq++, 0x00, 0, chain, data + off, k);
		}
		UK_CHECK_EQ(uki_ccid_xfr(&c, 0, cmd, sizeof(cmd), resp, sizeof(resp), &n),
		            extra ? UKI_ERR_PROTO : UKI_OK);
		if (!extra) {
			UK_CHECK_EQ(n, 65538);
			UK_CHECK_MEM(resp, data, 65538);
			UK_CHECK_EQ(B.nout, 3 + 64);
			UK_CHECK_EQ(B.out_sz[0], 10 + 1024);
			UK_CHECK_MEM(B.out + B.out_off[0] + 10, cmd, 1024);
			UK_CHECK_EQ(B.out[B.out_off[0] + 8], 0x01);
			UK_CHECK_EQ(B.out[B.out_off[1] + 8], 0x03);
			UK_CHECK_MEM(B.out + B.out_off[1] + 10, cmd + 1024, 1024);
			check_out(2, 0x6F, 2, 0, 0x0002, cmd + 2048, 459);
			for (i = 3; i < B.nout; i++)
				check_out(i, 0x6F, (uint8_t)i, 0, 0x0010, NULL, 0);
		} else {
			UK_CHECK_EQ(n, 0);
		}
		UK_CHECK(buf_clean(&c));
		uki_ccid_free(&c);
	}
}

static void test_time(void)
{
	uki_ccid c;
	uint8_t resp[64], sw[2] = { 0x90, 0x00 };
	size_t n = 0, i;
	long long t0;

	/* N time extensions, then the answer */
	open_ccid(&c, 0x000204BA, 271, 50);
	for (i = 0; i < 5; i++)
		push_msg_delayed(0x80, 0, 0x80, 1, 0, NULL, 0, 20);
	push_msg_delayed(0x80, 0, 0x00, 0, 0, sw, 2, 20);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, SELECT, 4, resp, sizeof(resp), &n), UKI_OK);
	UK_CHECK_EQ(c.time_extensions, 5);
	UK_CHECK_EQ(n, 2);

	/* bError is the multiplier: x3 lets an answer take 120 ms of a 50 ms base */
	push_msg(0x80, 1, 0x80, 3, 0, NULL, 0);
	push_msg_delayed(0x80, 1, 0x00, 0, 0, sw, 2, 120);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, SELECT, 4, resp, sizeof(resp), &n), UKI_OK);
	push_msg(0x80, 2, 0x80, 1, 0, NULL, 0);
	push_msg_delayed(0x80, 2, 0x00, 0, 0, sw, 2, 120);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, SELECT, 4, resp, sizeof(resp), &n), UKI_ERR_TIMEOUT);

	/* the late answer of seq 2 is stale for the next exchange: dropped, then ours */
	UK_CHECK_EQ(c.stale_dropped, 0);
	sleep_ms(80);
	B.q[B.head].delay_ms = 0;               /* it has arrived meanwhile */
	push_msg(0x80, 3, 0x00, 0, 0, sw, 2);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, SELECT, 4, resp, sizeof(resp), &n), UKI_OK);
	UK_CHECK_EQ(c.stale_dropped, 1);
	UK_CHECK_EQ(B.head, B.tail);

	/* endless time extensions end within max_ms */
	c.max_ms = 300;
	for (i = 0; i < 100; i++)
		push_msg_delayed(0x80, 4, 0x80, 1, 0, NULL, 0, 30);
	t0 = uk_now_ms();
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, SELECT, 4, resp, sizeof(resp), &n), UKI_ERR_TIMEOUT);
	UK_CHECK(uk_now_ms() - t0 >= 250);
	UK_CHECK(uk_now_ms() - t0 < 450);
	UK_CHECK(c.time_extensions >= 5 + 1 + 1 + 7);
	UK_CHECK(buf_clean(&c));
	uki_ccid_free(&c);
}

static void test_stream(void)
{
	uki_ccid c;
	uint8_t resp[300], data[200], m[UKI_CCID_HDR + 300];
	size_t n = 0, i, len;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i ^ 0x5A);
	open_ccid(&c, 0x000204BA, 271, 100);

	/* stale bSeq dropped, then the right answer */
	push_msg(0x80, 0xFF, 0x00, 0, 0, data, 10);
	push_msg(0x80, 0x7F, 0x80, 1, 0, NULL, 0);
	push_msg(0x80, 0, 0x00, 0, 0, data, 12);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, SELECT, 4, resp, sizeof(resp), &n), UKI_OK);
	UK_CHECK_EQ(n, 12);
	UK_CHECK_EQ(c.stale_dropped, 2);
	UK_CHECK_EQ(c.time_extensions, 0);

	/* answers split over many transfers of 1..7 bytes */
	B.split = 1;
	push_msg(0x80, 1, 0x00, 0, 0, ATR, sizeof(ATR));
	UK_CHECK_EQ(uki_ccid_power_on(&c, 0, resp, sizeof(resp), &n), UKI_OK);
	UK_CHECK_EQ(n, sizeof(ATR));
	UK_CHECK_MEM(resp, ATR, sizeof(ATR));
	push_msg(0x80, 2, 0x00, 0, 0, data, sizeof(data));
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, SELECT, 4, resp, sizeof(resp), &n), UKI_OK);
	UK_CHECK_EQ(n, sizeof(data));
	UK_CHECK_MEM(resp, data, sizeof(data));
	UK_CHECK_EQ(B.head, B.tail);
	B.split = 0;

	/* a truncated message, then nothing: timeout; the next exchange works */
	len = build_msg(m, 0x80, 0, 3, 0, 0, 0, data, 40);
	push_raw(m, len / 2, 0);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, SELECT, 4, resp, sizeof(resp), &n), UKI_ERR_TIMEOUT);
	push_msg(0x80, 4, 0x00, 0, 0, data, 2);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, SELECT, 4, resp, sizeof(resp), &n), UKI_OK);

	/* wrong slot, wrong type, a transfer longer than its message: PROTO */
	len = build_msg(m, 0x80, 1, 5, 0, 0, 0, data, 2);
	push_raw(m, len, 0);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, SELECT, 4, resp, sizeof(resp), &n), UKI_ERR_PROTO);
	push_msg(0x81, 6, 0x00, 0, 0, NULL, 0);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, SELECT, 4, resp, sizeof(resp), &n), UKI_ERR_PROTO);
	len = build_msg(m, 0x80, 0, 7, 0, 0, 0, data, 2);
	push_raw(m, len + 1, 0);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, SELECT, 4, resp, sizeof(resp), &n), UKI_ERR_PROTO);
	len = build_msg(m, 0x50, 0, 8, 0, 0, 0, data, 2);       /* not a bulk-IN type */
	push_raw(m, len, 0);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, SELECT, 4, resp, sizeof(resp), &n), UKI_ERR_PROTO);

	/* dwLength past dwMaxCCIDMessageLength - 10: read to its end, PROTO, still in step */
	len = build_msg(m, 0x80, 0, 9, 0, 0, 0, data, 0);
	m[1] = 0x06;            /* dwLength 262 > 261 */
	m[2] = 0x01;
	push_raw(m, 10, 0);
	for (i = 0; i < 262; i += 131)
		push_raw(data, 131, 0);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, SELECT, 4, resp, sizeof(resp), &n), UKI_ERR_PROTO);
	UK_CHECK_EQ(B.head, B.tail);
	push_msg(0x80, 10, 0x00, 0, 0, data, 2);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, SELECT, 4, resp, sizeof(resp), &n), UKI_OK);
	UK_CHECK_EQ(n, 2);
	check_out(10, 0x6F, 10, 0, 0, SELECT, 4);

	/* bus errors: COMM (device gone) and stalls propagate */
	B.out_err = UKI_ERR_COMM;
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, SELECT, 4, resp, sizeof(resp), &n), UKI_ERR_COMM);
	push_err(UKI_ERR_COMM);
	UK_CHECK_EQ(uki_ccid_xfr(&c, 0, SELECT, 4, resp, sizeof(resp), &n), UKI_ERR_COMM);
	push_err(UKI_ERR_PROTO);
	UK_CHECK_EQ(uki_ccid_slot_status(&c, 0, (unsigned *)&i), UKI_ERR_PROTO);
	push_raw(m, 3, 0);
	push_err(UKI_ERR_COMM);
	UK_CHECK_EQ(uki_ccid_power_on(&c, 0, resp, sizeof(resp), &n), UKI_ERR_COMM);
	UK_CHECK(buf_clean(&c));
	uki_ccid_free(&c);
	UK_CHECK(c.buf == NULL);
}

int main(void)
{
	test_desc();
	test_msg_parse();
	test_error_names();
	test_init();
	test_power();
	test_short();
	test_chaining();
	test_large();
	test_time();
	test_stream();
	return uk_test_done("ifd_ccid");
}
