/* ukey ifd: the USB CCID host layer (USB Device Class: Smart Card CCID, rev. 1.1).
 * The contract is uki_ccid.h; the section numbers below are those of CCID rev. 1.1.
 *
 * One exchange = one or more PC_to_RDR commands, each answered by exactly one RDR_to_PC
 * message carrying the same bSeq (§5.1, §6.2). Every command is built in c->buf, and every
 * answer is gathered there by its dwLength over as many bulk-IN transfers as the device
 * uses; c->buf is wiped when the exchange ends whatever its outcome (APDUs carry secrets).
 * An answer whose dwLength is past the limits is still read to its end before the exchange
 * fails, so the next exchange starts on a message boundary. */
#include "uki_ccid.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "uk_log.h"
#include "uk_wipe.h"
#include "uk_time.h"

/* bStatus (§6.2.6 Table 6.2-3): bmICCStatus bits 0-1, bmCommandStatus bits 6-7. */
enum { ICC_ACTIVE = 0, ICC_INACTIVE = 1, ICC_ABSENT = 2 };
enum { CMD_PROCESSED = 0, CMD_FAILED = 1, CMD_TIME_EXTENSION = 2 };

/* wLevelParameter (§6.1.4) and bChainParameter (§6.2.1), extended APDU level. */
enum {
	CHAIN_WHOLE = 0x00,     /* begins and ends in this message */
	CHAIN_BEGIN = 0x01,     /* begins here, continues in the next */
	CHAIN_END = 0x02,       /* continues and ends here */
	CHAIN_MORE = 0x03,      /* continues here, another block follows */
	CHAIN_CONTINUE = 0x10,  /* empty: send the next block (of the command or answer) */
};

/* bError (§6.2.6 Table 6.2-2). */
enum {
	ERR_CMD_NOT_SUPPORTED = 0x00,
	ERR_CMD_SLOT_BUSY = 0xE0,
	ERR_PIN_CANCELLED = 0xEF,
	ERR_PIN_TIMEOUT = 0xF0,
	ERR_BUSY_WITH_AUTO_SEQUENCE = 0xF2,
	ERR_DEACTIVATED_PROTOCOL = 0xF3,
	ERR_PROCEDURE_BYTE_CONFLICT = 0xF4,
	ERR_ICC_CLASS_NOT_SUPPORTED = 0xF5,
	ERR_ICC_PROTOCOL_NOT_SUPPORTED = 0xF6,
	ERR_BAD_ATR_TCK = 0xF7,
	ERR_BAD_ATR_TS = 0xF8,
	ERR_HW_ERROR = 0xFB,
	ERR_XFR_OVERRUN = 0xFC,
	ERR_XFR_PARITY_ERROR = 0xFD,
	ERR_ICC_MUTE = 0xFE,
	ERR_CMD_ABORTED = 0xFF,
};

/* ISO/IEC 7816-4 §5.1: the longest short APDU is case 4S, 4 + 1 + 255 + 1 bytes. */
#define SHORT_APDU_MAX 261
/* The longest response APDU: 65,536 data bytes + SW1 SW2; the longest command APDU is
 * case 4E (ISO/IEC 7816-4 §5.1): 4 + 3 + 65,535 + 2 bytes. */
#define RESP_APDU_MAX 65538u
#define CMD_APDU_MAX 65544u
#define ATR_MIN 2               /* TS and T0 (ISO/IEC 7816-3 §8.2) */

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void set_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static unsigned icc_status(uint8_t bstatus)
{
	return bstatus & 0x03u;
}

static unsigned cmd_status(uint8_t bstatus)
{
	return (bstatus >> 6) & 0x03u;
}

/* ---- error codes (§6.2.6) ---- */

typedef struct ccid_error {
	uint8_t code;
	const char *name;
	uki_status status;
} ccid_error;

static const ccid_error ccid_errors[] = {
	{ ERR_CMD_ABORTED, "CMD_ABORTED", UKI_ERR_PROTO },
	{ ERR_ICC_MUTE, "ICC_MUTE", UKI_ERR_ABSENT },
	{ ERR_XFR_PARITY_ERROR, "XFR_PARITY_ERROR", UKI_ERR_PROTO },
	{ ERR_XFR_OVERRUN, "XFR_OVERRUN", UKI_ERR_PROTO },
	{ ERR_HW_ERROR, "HW_ERROR", UKI_ERR_PROTO },
	{ ERR_BAD_ATR_TS, "BAD_ATR_TS", UKI_ERR_PROTO },
	{ ERR_BAD_ATR_TCK, "BAD_ATR_TCK", UKI_ERR_PROTO },
	{ ERR_ICC_PROTOCOL_NOT_SUPPORTED, "ICC_PROTOCOL_NOT_SUPPORTED", UKI_ERR_PROTO },
	{ ERR_ICC_CLASS_NOT_SUPPORTED, "ICC_CLASS_NOT_SUPPORTED", UKI_ERR_PROTO },
	{ ERR_PROCEDURE_BYTE_CONFLICT, "PROCEDURE_BYTE_CONFLICT", UKI_ERR_PROTO },
	{ ERR_DEACTIVATED_PROTOCOL, "DEACTIVATED_PROTOCOL", UKI_ERR_PROTO },
	{ ERR_BUSY_WITH_AUTO_SEQUENCE, "BUSY_WITH_AUTO_SEQUENCE", UKI_ERR_PROTO },
	{ ERR_PIN_TIMEOUT, "PIN_TIMEOUT", UKI_ERR_PROTO },
	{ ERR_PIN_CANCELLED, "PIN_CANCELLED", UKI_ERR_PROTO },
	{ ERR_CMD_SLOT_BUSY, "CMD_SLOT_BUSY", UKI_ERR_PROTO },
	{ ERR_CMD_NOT_SUPPORTED, "CMD_NOT_SUPPORTED", UKI_ERR_PROTO },
};

/* bError 0x01..0x7F: "index of not supported / incorrect message parameter" — the offset
 * of the offending field in the command. One constant name per offset, built by the
 * preprocessor so naming needs neither allocation nor a shared buffer. */
#define OFF_STR_(x) #x
#define OFF_NAME(x) "bad parameter at offset " OFF_STR_(x)
#define OFF_ROW(t) OFF_NAME(t##0), OFF_NAME(t##1), OFF_NAME(t##2), OFF_NAME(t##3), \
	OFF_NAME(t##4), OFF_NAME(t##5), OFF_NAME(t##6), OFF_NAME(t##7), OFF_NAME(t##8), \
	OFF_NAME(t##9)
static const char *const ccid_offset_names[0x7F] = {
	OFF_NAME(1), OFF_NAME(2), OFF_NAME(3), OFF_NAME(4), OFF_NAME(5), OFF_NAME(6),
	OFF_NAME(7), OFF_NAME(8), OFF_NAME(9),
	OFF_ROW(1), OFF_ROW(2), OFF_ROW(3), OFF_ROW(4), OFF_ROW(5), OFF_ROW(6),
	OFF_ROW(7), OFF_ROW(8), OFF_ROW(9), OFF_ROW(10), OFF_ROW(11),
	OFF_NAME(120), OFF_NAME(121), OFF_NAME(122), OFF_NAME(123), OFF_NAME(124),
	OFF_NAME(125), OFF_NAME(126), OFF_NAME(127),
};

static const ccid_error *error_find(uint8_t berror)
{
	size_t i;

	for (i = 0; i < sizeof(ccid_errors) / sizeof(ccid_errors[0]); i++)
		if (ccid_errors[i].code == berror)
			return &ccid_errors[i];
	return NULL;
}

const char *uki_ccid_error_name(uint8_t berror)
{
	const ccid_error *e = error_find(berror);

	if (e != NULL)
		return e->name;
	if (berror >= 0x01 && berror <= 0x7F)
		return ccid_offset_names[berror - 1];
	if (berror >= 0x81 && berror <= 0xC0)
		return "user-defined error";
	return "reserved error code";
}

/* A failed command (bmCommandStatus 1) is UKI_ERR_ABSENT when the reader says no ICC is
 * there or the ICC is mute, UKI_ERR_PROTO otherwise: the exchange failed, the device is
 * in step. bmCommandStatus 0 and 2 (time extension) are no failure; 3 is RFU. */
uki_status uki_ccid_error_status(uint8_t bstatus, uint8_t berror)
{
	const ccid_error *e;

	switch (cmd_status(bstatus)) {
	case CMD_PROCESSED:
	case CMD_TIME_EXTENSION:
		return UKI_OK;
	case CMD_FAILED:
		break;
	default:
		return UKI_ERR_PROTO;
	}
	if (icc_status(bstatus) == ICC_ABSENT)
		return UKI_ERR_ABSENT;
	e = error_find(berror);
	return e != NULL ? e->status : UKI_ERR_PROTO;
}

/* ---- descriptors (§5.1 Table 5.1-1) ---- */

enum {
	DESC_BLENGTH = 0, DESC_BTYPE = 1, DESC_BCDCCID = 2, DESC_MAXSLOT = 4, DESC_VOLTAGE = 5,
	DESC_PROTOCOLS = 6, DESC_FEATURES = 40, DESC_MAXMSG = 44, DESC_BUSYSLOTS = 53,
};
#define DESC_TYPE_CCID 0x21
#define DESC_TYPE_PRE10 0xFF    /* some pre-1.0 devices */

uki_status uki_ccid_parse_desc(const uint8_t *p, size_t n, uki_ccid_desc *out)
{
	uki_ccid_desc d;
	uint32_t level;

	if (p == NULL || out == NULL || n < UKI_CCID_DESC_LEN ||
	    p[DESC_BLENGTH] != UKI_CCID_DESC_LEN ||
	    (p[DESC_BTYPE] != DESC_TYPE_CCID && p[DESC_BTYPE] != DESC_TYPE_PRE10))
		return UKI_ERR_PROTO;
	memset(&d, 0, sizeof(d));
	d.bcdCCID = (uint16_t)(p[DESC_BCDCCID] | p[DESC_BCDCCID + 1] << 8);
	d.bMaxSlotIndex = p[DESC_MAXSLOT];
	d.bVoltageSupport = p[DESC_VOLTAGE];
	d.dwProtocols = get_le32(p + DESC_PROTOCOLS);
	d.dwFeatures = get_le32(p + DESC_FEATURES);
	d.dwMaxCCIDMessageLength = get_le32(p + DESC_MAXMSG);
	d.bMaxCCIDBusySlots = p[DESC_BUSYSLOTS];
	if (d.dwMaxCCIDMessageLength < UKI_CCID_HDR + 1 ||
	    d.dwMaxCCIDMessageLength > UKI_CCID_MSG_MAX)
		return UKI_ERR_PROTO;
	level = d.dwFeatures & UKI_CCID_LEVEL_MASK;
	if (level != UKI_CCID_LEVEL_SHORT && level != UKI_CCID_LEVEL_EXTENDED)
		return UKI_ERR_UNSUPPORTED;
	*out = d;
	return UKI_OK;
}

/* USB 2.0 §9.5: descriptors follow each other as bLength bDescriptorType ...; a bLength
 * below 2 or past the end makes the run malformed. */
uki_status uki_ccid_find_desc(const uint8_t *extra, size_t n, uki_ccid_desc *out)
{
	size_t off = 0;

	if (extra == NULL)
		return UKI_ERR_PROTO;
	while (n - off >= 2) {
		size_t len = extra[off];

		if (len < 2 || len > n - off)
			return UKI_ERR_PROTO;
		if (len == UKI_CCID_DESC_LEN && (extra[off + 1] == DESC_TYPE_CCID ||
		                                 extra[off + 1] == DESC_TYPE_PRE10))
			return uki_ccid_parse_desc(extra + off, len, out);
		off += len;
	}
	return UKI_ERR_PROTO;
}

/* ---- messages (§6.2, §6.3) ---- */

static int is_bulk_in_type(uint8_t type)
{
	/* DataBlock, SlotStatus, Parameters, Escape, DataRateAndClockFrequency */
	return type >= UKI_RDR_TO_PC_DATABLOCK && type <= 0x84;
}

uki_status uki_ccid_parse_msg(const uint8_t *p, size_t n, uki_ccid_msg *out)
{
	uint32_t len;

	if (p == NULL || out == NULL || n < UKI_CCID_HDR)
		return UKI_ERR_PROTO;
	len = get_le32(p + 1);
	if ((size_t)len != n - UKI_CCID_HDR || !is_bulk_in_type(p[0]))
		return UKI_ERR_PROTO;
	out->type = p[0];
	out->length = len;
	out->slot = p[5];
	out->seq = p[6];
	out->status = p[7];
	out->error = p[8];
	out->specific = p[9];
	out->data = p + UKI_CCID_HDR;
	return UKI_OK;
}

/* §6.3.1: bmSlotICCState holds 2 bits per slot, slot 0 in the low bits of the first
 * byte: bit 0 ICC present, bit 1 changed since the last notice. */
uki_status uki_ccid_parse_notify(const uint8_t *p, size_t n, unsigned max_slot_index,
                                 uint32_t *present, uint32_t *changed)
{
	unsigned slots = max_slot_index >= 7 ? 8 : max_slot_index + 1, i;
	uint32_t pres = 0, chg = 0;

	if (p == NULL || n < 1 || p[0] != UKI_RDR_TO_PC_NOTIFYSLOTCHANGE ||
	    n < 1 + (slots * 2 + 7) / 8)
		return UKI_ERR_PROTO;
	for (i = 0; i < slots; i++) {
		unsigned bits = p[1 + i / 4] >> ((i % 4) * 2);

		pres |= (uint32_t)(bits & 1u) << i;
		chg |= (uint32_t)((bits >> 1) & 1u) << i;
	}
	if (present != NULL)
		*present = pres;
	if (changed != NULL)
		*changed = chg;
	return UKI_OK;
}

/* ---- set-up ---- */

static uki_status desc_check(const uki_ccid_desc *d)
{
	uint32_t level = d->dwFeatures & UKI_CCID_LEVEL_MASK;

	if (d->dwMaxCCIDMessageLength < UKI_CCID_HDR + 1 ||
	    d->dwMaxCCIDMessageLength > UKI_CCID_MSG_MAX)
		return UKI_ERR_PARAM;
	if (level != UKI_CCID_LEVEL_SHORT && level != UKI_CCID_LEVEL_EXTENDED)
		return UKI_ERR_UNSUPPORTED;
	return UKI_OK;
}

uki_status uki_ccid_init(uki_ccid *c, const uki_ccid_bus *bus, const uki_ccid_desc *desc,
                         int timeout_ms)
{
	uki_status st;

	if (c == NULL || bus == NULL || bus->bulk_out == NULL || bus->bulk_in == NULL ||
	    desc == NULL || timeout_ms <= 0)
		return UKI_ERR_PARAM;
	st = desc_check(desc);
	if (st != UKI_OK)
		return st;
	memset(c, 0, sizeof(*c));
	c->buf = calloc(1, UKI_CCID_MSG_MAX);
	if (c->buf == NULL)
		return UKI_ERR_NOMEM;
	c->bus = *bus;
	c->desc = *desc;
	c->timeout_ms = timeout_ms;
	c->max_ms = timeout_ms > INT_MAX / 10 ? INT_MAX : timeout_ms * 10;
	return UKI_OK;
}

void uki_ccid_free(uki_ccid *c)
{
	if (c == NULL)
		return;
	if (c->buf != NULL) {
		uk_wipe(c->buf, UKI_CCID_MSG_MAX);
		free(c->buf);
	}
	memset(c, 0, sizeof(*c));
}

/* ---- one exchange ---- */

typedef struct xchg {
	uki_ccid *c;
	uint8_t slot;
	uint8_t seq;            /* bSeq of the command in flight */
	long long deadline;     /* end of the whole exchange (max_ms) */
} xchg;

/* The header bytes 7..9 that differ per command (§6.1). */
typedef struct cmd_params {
	uint8_t type;
	uint8_t b7, b8, b9;
	uint8_t answer;         /* the RDR_to_PC type that answers it */
} cmd_params;

static uki_status xchg_begin(uki_ccid *c, unsigned slot, xchg *x)
{
	if (c == NULL || c->buf == NULL || slot > c->desc.bMaxSlotIndex)
		return UKI_ERR_PARAM;
	x->c = c;
	x->slot = (uint8_t)slot;
	x->seq = 0;
	x->deadline = uk_now_ms() + (c->max_ms > 0 ? c->max_ms : c->timeout_ms);
	return UKI_OK;
}

static void xchg_end(xchg *x)
{
	uk_wipe(x->c->buf, UKI_CCID_MSG_MAX);
}

/* Milliseconds left before the earlier of until and the exchange's deadline. */
static int left_ms(const xchg *x, long long until)
{
	long long end = until < x->deadline ? until : x->deadline;
	long long left = end - uk_now_ms();

	if (left <= 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

static uki_status send_cmd(xchg *x, const cmd_params *cp, const uint8_t *data, size_t n)
{
	uki_ccid *c = x->c;
	uint8_t *m = c->buf;
	int left = left_ms(x, uk_now_ms() + c->timeout_ms);

	if (left == 0)
		return UKI_ERR_TIMEOUT;
	m[0] = cp->type;
	set_le32(m + 1, (uint32_t)n);
	m[5] = x->slot;
	m[6] = x->seq = c->seq++;
	m[7] = cp->b7;
	m[8] = cp->b8;
	m[9] = cp->b9;
	if (n > 0)
		memcpy(m + UKI_CCID_HDR, data, n);
	return c->bus.bulk_out(c->bus.ctx, m, UKI_CCID_HDR + n, left);
}

/* One bulk-IN transfer into c->buf + at. */
static uki_status read_transfer(xchg *x, long long until, size_t at, size_t *got)
{
	uki_ccid *c = x->c;
	size_t cap = UKI_CCID_MSG_MAX - at;
	int left = left_ms(x, until);
	uki_status st;

	*got = 0;
	if (left == 0)
		return UKI_ERR_TIMEOUT;
	st = c->bus.bulk_in(c->bus.ctx, c->buf + at, cap, got, left);
	if (st == UKI_OK && *got > cap)
		st = UKI_ERR_PROTO;     /* the bus broke its own contract */
	return st;
}

/* The rest of a message too long to keep: read and drop `rest` bytes so the next message
 * starts on a boundary, then fail the exchange. */
static uki_status discard_rest(xchg *x, long long until, size_t rest)
{
	uki_status st = UKI_OK;
	size_t got;

	while (rest > 0 && st == UKI_OK) {
		st = read_transfer(x, until, UKI_CCID_HDR, &got);
		if (st == UKI_OK && got > rest)
			st = UKI_ERR_PROTO;
		if (st == UKI_OK)
			rest -= got;
	}
	uk_log(UK_LOG_ERROR, "ifd", "ccid: answer longer than dwMaxCCIDMessageLength");
	return st == UKI_OK ? UKI_ERR_PROTO : st;
}

/* Gather one whole RDR_to_PC message into c->buf by its dwLength (§6.2: the header is
 * 10 bytes, then dwLength data bytes); *len is its total size. */
static uki_status read_msg(xchg *x, long long until, size_t *len)
{
	uki_ccid *c = x->c;
	size_t have = 0, need = UKI_CCID_HDR, got;
	uint32_t max = c->desc.dwMaxCCIDMessageLength - UKI_CCID_HDR;
	uki_status st = UKI_OK;

	while (have < need && st == UKI_OK) {
		size_t total;

		st = read_transfer(x, until, have, &got);
		if (st != UKI_OK)
			break;
		have += got;
		if (have < UKI_CCID_HDR)
			continue;
		total = UKI_CCID_HDR + (size_t)get_le32(c->buf + 1);
		if (have > total)
			return UKI_ERR_PROTO;   /* one transfer held more than the message */
		if (total - UKI_CCID_HDR > max)
			return discard_rest(x, until, total - have);
		need = total;
	}
	*len = have;
	return st;
}

/* The answer to the command in flight: stale answers (another bSeq, left over from an
 * exchange that timed out) are dropped; a time extension (§6.2.6, bmCommandStatus 2)
 * restarts the wait for bError x the base timeout; nothing outlives x->deadline. */
static uki_status recv_answer(xchg *x, uint8_t type, uki_ccid_msg *msg)
{
	uki_ccid *c = x->c;
	long long until = uk_now_ms() + c->timeout_ms;
	size_t len;
	uki_status st;

	for (;;) {
		st = read_msg(x, until, &len);
		if (st == UKI_OK)
			st = uki_ccid_parse_msg(c->buf, len, msg);
		if (st != UKI_OK)
			return st;
		if (msg->seq != x->seq) {
			c->stale_dropped++;
			uk_log(UK_LOG_DEBUG, "ifd", "ccid: dropped stale answer bSeq %u (want %u)",
			       msg->seq, x->seq);
			continue;
		}
		if (msg->slot != x->slot || msg->type != type)
			return UKI_ERR_PROTO;
		if (cmd_status(msg->status) != CMD_TIME_EXTENSION)
			return UKI_OK;
		c->time_extensions++;
		until = uk_now_ms() + (long long)c->timeout_ms * (msg->error > 0 ? msg->error : 1);
	}
}

static uki_status exchange(xchg *x, const cmd_params *cp, const uint8_t *data, size_t n,
                           uki_ccid_msg *msg)
{
	uki_status st = send_cmd(x, cp, data, n);

	return st == UKI_OK ? recv_answer(x, cp->answer, msg) : st;
}

static uki_status failed(const char *what, const uki_ccid_msg *msg, uki_status st)
{
	uk_log(UK_LOG_ERROR, "ifd", "ccid: %s failed: bStatus 0x%02X bError 0x%02X (%s)", what,
	       msg->status, msg->error, uki_ccid_error_name(msg->error));
	return st;
}

/* ---- power and status (§6.1.1, §6.1.2, §6.1.3) ---- */

uki_status uki_ccid_power_on(uki_ccid *c, unsigned slot, uint8_t *atr, size_t cap,
                             size_t *atr_len)
{
	/* bPowerSelect 0: automatic voltage selection */
	static const cmd_params cp = { UKI_PC_TO_RDR_ICCPOWERON, 0, 0, 0, UKI_RDR_TO_PC_DATABLOCK };
	uki_ccid_msg msg;
	xchg x;
	uki_status st;

	if (atr == NULL || atr_len == NULL || cap < UKI_ATR_MAX)
		return UKI_ERR_PARAM;
	*atr_len = 0;
	st = xchg_begin(c, slot, &x);
	if (st != UKI_OK)
		return st;
	st = exchange(&x, &cp, NULL, 0, &msg);
	if (st != UKI_OK)
		goto out;
	if (cmd_status(msg.status) != CMD_PROCESSED) {
		st = failed("IccPowerOn", &msg, uki_ccid_error_status(msg.status, msg.error));
		goto out;
	}
	if (msg.length < ATR_MIN || msg.length > UKI_ATR_MAX) {
		st = UKI_ERR_PROTO;
		goto out;
	}
	memcpy(atr, msg.data, msg.length);
	*atr_len = msg.length;
out:
	xchg_end(&x);
	return st;
}

uki_status uki_ccid_power_off(uki_ccid *c, unsigned slot)
{
	static const cmd_params cp = { UKI_PC_TO_RDR_ICCPOWEROFF, 0, 0, 0,
	                               UKI_RDR_TO_PC_SLOTSTATUS };
	uki_ccid_msg msg;
	xchg x;
	uki_status st = xchg_begin(c, slot, &x);

	if (st != UKI_OK)
		return st;
	st = exchange(&x, &cp, NULL, 0, &msg);
	if (st == UKI_OK && cmd_status(msg.status) != CMD_PROCESSED)
		st = failed("IccPowerOff", &msg, uki_ccid_error_status(msg.status, msg.error));
	xchg_end(&x);
	return st;
}

/* A reader may fail GetSlotStatus with ICC_MUTE when there is no card (§6.2.6 lists it
 * with bmICCStatus 2); bmICCStatus is the answer either way. */
uki_status uki_ccid_slot_status(uki_ccid *c, unsigned slot, unsigned *icc)
{
	static const cmd_params cp = { UKI_PC_TO_RDR_GETSLOTSTATUS, 0, 0, 0,
	                               UKI_RDR_TO_PC_SLOTSTATUS };
	uki_ccid_msg msg;
	xchg x;
	uki_status st;

	if (icc == NULL)
		return UKI_ERR_PARAM;
	st = xchg_begin(c, slot, &x);
	if (st != UKI_OK)
		return st;
	st = exchange(&x, &cp, NULL, 0, &msg);
	if (st != UKI_OK)
		goto out;
	if (cmd_status(msg.status) != CMD_PROCESSED &&
	    !(cmd_status(msg.status) == CMD_FAILED && msg.error == ERR_ICC_MUTE)) {
		st = failed("GetSlotStatus", &msg, UKI_ERR_PROTO);
		goto out;
	}
	if (icc_status(msg.status) > ICC_ABSENT) {
		st = UKI_ERR_PROTO;     /* bmICCStatus 3 is RFU */
		goto out;
	}
	*icc = icc_status(msg.status);
out:
	xchg_end(&x);
	return st;
}

/* ---- XfrBlock (§6.1.4, §6.2.1) ---- */

/* A failed XfrBlock: ICC_MUTE with the ICC still reported present is one failed exchange
 * (the key stays), not an absent card as it is for IccPowerOn. */
static uki_status xfr_failed(const uki_ccid_msg *msg)
{
	uki_status st = uki_ccid_error_status(msg->status, msg->error);

	if (st == UKI_ERR_ABSENT && icc_status(msg->status) != ICC_ABSENT)
		st = UKI_ERR_PROTO;
	return failed("XfrBlock", msg, st);
}

static int level_extended(const uki_ccid *c)
{
	return (c->desc.dwFeatures & UKI_CCID_LEVEL_MASK) == UKI_CCID_LEVEL_EXTENDED;
}

/* Short APDU level (§6.1.4): one XfrBlock carries one short APDU. An extended-length
 * APDU (ISO/IEC 7816-4 §5.1: P3 = 00 followed by two length bytes) cannot be sent. */
static uki_status xfr_check(const uki_ccid *c, const uint8_t *cmd, size_t cmd_len)
{
	size_t max = c->desc.dwMaxCCIDMessageLength - UKI_CCID_HDR;

	if (cmd == NULL || cmd_len < 4 || cmd_len > CMD_APDU_MAX)
		return UKI_ERR_PARAM;
	if (level_extended(c))
		return UKI_OK;
	if (cmd_len > SHORT_APDU_MAX || cmd_len > max || (cmd_len >= 7 && cmd[4] == 0))
		return UKI_ERR_UNSUPPORTED;
	return UKI_OK;
}

/* wLevelParameter of the block at [off, off + k) of an n-byte command. */
static uint16_t cmd_chain(size_t off, size_t k, size_t n)
{
	if (off == 0)
		return k == n ? CHAIN_WHOLE : CHAIN_BEGIN;
	return off + k == n ? CHAIN_END : CHAIN_MORE;
}

/* Send the command in blocks of at most dwMaxCCIDMessageLength - 10 bytes; every block
 * but the last must be answered by an empty DataBlock with bChainParameter 0x10. *msg is
 * the answer to the last block: the first block of the response. */
static uki_status xfr_send(xchg *x, const uint8_t *cmd, size_t n, uki_ccid_msg *msg)
{
	size_t max = x->c->desc.dwMaxCCIDMessageLength - UKI_CCID_HDR, off = 0, k;
	cmd_params cp = { UKI_PC_TO_RDR_XFRBLOCK, 0, 0, 0, UKI_RDR_TO_PC_DATABLOCK };
	uki_status st;

	for (;;) {
		uint16_t level;

		k = n - off < max ? n - off : max;
		level = cmd_chain(off, k, n);
		cp.b8 = (uint8_t)level;
		cp.b9 = (uint8_t)(level >> 8);
		st = exchange(x, &cp, cmd + off, k, msg);
		if (st != UKI_OK)
			return st;
		if (cmd_status(msg->status) != CMD_PROCESSED)
			return xfr_failed(msg);
		off += k;
		if (off == n)
			return UKI_OK;
		if (msg->specific != CHAIN_CONTINUE || msg->length != 0)
			return UKI_ERR_PROTO;
	}
}

/* Which bChainParameter may come next: the first block of a response is whole or begins
 * a chain; a chained one continues or ends. */
static int chain_ok(int first, uint8_t chain)
{
	if (first)
		return chain == CHAIN_WHOLE || chain == CHAIN_BEGIN;
	return chain == CHAIN_END || chain == CHAIN_MORE;
}

typedef struct resp_sink {
	uint8_t *p;
	size_t cap;
	size_t len;             /* response bytes so far (also past cap) */
} resp_sink;

static uki_status sink_put(resp_sink *s, const uki_ccid_msg *msg)
{
	if (msg->length > RESP_APDU_MAX - s->len)
		return UKI_ERR_PROTO;
	if (s->len + msg->length <= s->cap)
		memcpy(s->p + s->len, msg->data, msg->length);
	s->len += msg->length;
	return UKI_OK;
}

/* Gather the response from *msg on; at the extended level, ask for each further block
 * with an empty XfrBlock, wLevelParameter 0x10, while bChainParameter says 1 or 3. */
static uki_status xfr_recv(xchg *x, uki_ccid_msg *msg, resp_sink *s)
{
	static const cmd_params more = { UKI_PC_TO_RDR_XFRBLOCK, 0, CHAIN_CONTINUE, 0,
	                                 UKI_RDR_TO_PC_DATABLOCK };
	int ext = level_extended(x->c), first = 1;
	uki_status st;

	for (;;) {
		uint8_t chain = ext ? msg->specific : CHAIN_WHOLE;

		if (!chain_ok(first, chain))
			return UKI_ERR_PROTO;
		st = sink_put(s, msg);
		if (st != UKI_OK || chain == CHAIN_WHOLE || chain == CHAIN_END)
			return st;
		first = 0;
		st = exchange(x, &more, NULL, 0, msg);
		if (st != UKI_OK)
			return st;
		if (cmd_status(msg->status) != CMD_PROCESSED)
			return xfr_failed(msg);
	}
}

uki_status uki_ccid_xfr(uki_ccid *c, unsigned slot, const uint8_t *cmd, size_t cmd_len,
                        uint8_t *resp, size_t cap, size_t *resp_len)
{
	resp_sink s = { resp, cap, 0 };
	uki_ccid_msg msg;
	xchg x;
	uki_status st;

	if (c == NULL || resp_len == NULL || (resp == NULL && cap > 0))
		return UKI_ERR_PARAM;
	*resp_len = 0;
	st = xfr_check(c, cmd, cmd_len);
	if (st == UKI_OK)
		st = xchg_begin(c, slot, &x);
	if (st != UKI_OK)
		return st;
	st = xfr_send(&x, cmd, cmd_len, &msg);
	if (st == UKI_OK)
		st = xfr_recv(&x, &msg, &s);
	if (st == UKI_OK && s.len < 2)
		st = UKI_ERR_PROTO;     /* a response APDU ends with SW1 SW2 */
	if (st == UKI_OK && s.len > cap)
		st = UKI_ERR_BUFFER;
	if (st == UKI_OK)
		*resp_len = s.len;
	else if (resp != NULL)
		uk_wipe(resp, s.len < cap ? s.len : cap);
	xchg_end(&x);
	return st;
}
