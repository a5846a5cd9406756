/* ukey-emu: the usb link (docs/ccid.md "The emulated key's CCID face"). The key presents
 * itself as a USB CCID device (USB Device Class: Smart Card, CCID rev. 1.1) on a usbsock
 * connection: `D` descriptors and one NotifySlotChange when it plugs in, then bulk-OUT
 * messages (`O`) answered on bulk-IN (`I`), control transfers (`C` -> `c`), clear-halt (`H`).
 *
 * The slot holds the same ukt_card the vpcd link serves, through emu_key_apdu (latency, power
 * loss, button, pinpad as on every link); this file adds the CCID framing, APDU-level
 * chaining (CCID 1.1 §6.1.4 wLevelParameter, §6.2.1 bChainParameter) and the CCID faults.
 * Everything here runs on the key's thread, except the fault words (emu->lock). */
#define _GNU_SOURCE
#include "emu.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "uk_wipe.h"

#define CCID_HDR 10
#define USBSOCK_LEN_MAX 1048576u
#define CCID_SHORT_CMD_MAX 261u         /* short APDU level: 4 + 1 + 255 + 1 */
#define CCID_APDU_MAX 65535u            /* the longest command the card takes (docs/apdu.md) */
#define CCID_CLOCK_KHZ 4000u
#define CCID_DATA_RATE 10752u

/* usbsock message types (docs/ccid.md "usbsock") */
enum {
	USB_DESC = 'D', USB_OUT = 'O', USB_IN = 'I', USB_INTR = 'N', USB_STALL = 'S',
	USB_HALT_CLEAR = 'H', USB_CONTROL = 'C', USB_CONTROL_ANSWER = 'c',
};

/* CCID 1.1 §6.1-§6.3 message types */
enum {
	PC_ICC_ON = 0x62, PC_ICC_OFF = 0x63, PC_SLOT_STATUS = 0x65, PC_XFR = 0x6F,
	PC_ABORT = 0x72, PC_GET_PARAMS = 0x6C, PC_SET_PARAMS = 0x61,
	RDR_DATA = 0x80, RDR_SLOT_STATUS = 0x81, RDR_PARAMS = 0x82,
	RDR_NOTIFY = 0x50, RDR_HW_ERROR = 0x51,
};

/* bStatus (§6.2.6): bits 0-1 bmICCStatus, bits 6-7 bmCommandStatus; bError values */
enum { ICC_ACTIVE = 0, ICC_INACTIVE = 1 };
enum { CMD_OK = 0, CMD_FAILED = 1, CMD_TIME_EXT = 2 };
enum {
	ERR_NOT_SUPPORTED = 0x00, ERR_BAD_LENGTH = 0x01, ERR_BAD_SLOT = 0x05,
	ERR_BAD_POWERSELECT = 0x07, ERR_BAD_LEVEL = 0x08, ERR_XFR_OVERRUN = 0xFC,
	ERR_ICC_MUTE = 0xFE, ERR_SLOT_BUSY = 0xE0,
};

/* wLevelParameter (§6.1.4) and bChainParameter (§6.2.1) at the extended APDU level */
enum {
	CHAIN_WHOLE = 0x00, CHAIN_BEGIN = 0x01, CHAIN_END = 0x02, CHAIN_MORE = 0x03,
	CHAIN_NEXT = 0x10,
};

struct emu_ccid {
	int icc_on;                     /* IccPowerOn seen since plug-in or IccPowerOff */
	int halted;                     /* bulk-IN halted by the stall fault until `H` */
	uint8_t seq;                    /* bSeq of the last command (HardwareError carries it) */
	int chaining;                   /* a chained command is being received */
	size_t cmd_len;
	size_t resp_len, resp_off;      /* an answer being sent in parts (resp_off < resp_len) */
	uint8_t cmd[CCID_APDU_MAX];
	uint8_t resp[UKT_RESP_MAX];
	uint8_t out[EMU_USBSOCK_HDR + CCID_HDR + EMU_CCID_MSG_MAX];
};

/* ---- descriptors (USB 2.0 §9.6, CCID 1.1 §5) ---- */

static const uint8_t dev_desc[18] = {
	18, 0x01, 0x00, 0x02,           /* bLength, DEVICE, bcdUSB 2.00 */
	0x00, 0x00, 0x00, 64,           /* class per interface, bMaxPacketSize0 */
	0x09, 0x12, 0x01, 0x00,         /* idVendor 0x1209, idProduct 0x0001 (pid.codes test) */
	0x00, 0x01, 0, 0, 0, 1,         /* bcdDevice 1.00, no strings, one configuration */
};

#define CFG_TOTAL (9 + 9 + 54 + 3 * 7)

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Configuration, interface, CCID class descriptor (§5.1, 54 bytes), three endpoints. */
static size_t config_desc(const emu *e, uint8_t *p)
{
	static const uint8_t head[18] = {
		9, 0x02, CFG_TOTAL, 0, 1, 1, 0, 0x80, 50,       /* bus powered, 100 mA */
		9, 0x04, 0, 0, 3, 0x0B, 0, 0, 0,                /* interface 0: CCID, 3 endpoints */
	};
	static const uint8_t eps[21] = {
		7, 0x05, 0x01, 0x02, 64, 0, 0,                  /* bulk OUT 0x01 */
		7, 0x05, 0x82, 0x02, 64, 0, 0,                  /* bulk IN 0x82 */
		7, 0x05, 0x83, 0x03, 8, 0, 16,                  /* interrupt IN 0x83 */
	};
	uint8_t *c = p + sizeof(head);

	memcpy(p, head, sizeof(head));
	memset(c, 0, 54);
	c[0] = 54;
	c[1] = 0x21;
	c[2] = 0x10;                    /* bcdCCID 1.10 */
	c[3] = 0x01;
	c[4] = 0;                       /* bMaxSlotIndex */
	c[5] = 0x07;                    /* 5 V, 3 V, 1.8 V */
	put_le32(c + 6, 2);             /* dwProtocols: T=1 */
	put_le32(c + 10, CCID_CLOCK_KHZ);
	put_le32(c + 14, CCID_CLOCK_KHZ);
	c[18] = 1;                      /* bNumClockSupported */
	put_le32(c + 19, CCID_DATA_RATE);
	put_le32(c + 23, CCID_DATA_RATE);
	c[27] = 1;                      /* bNumDataRatesSupported */
	put_le32(c + 28, 254);          /* dwMaxIFSD */
	/* automatic parameters, voltage, clock, baud rate, ICC activation + the APDU level */
	put_le32(c + 40, e->ccid_extended ? 0x000404BEu : 0x000204BEu);
	put_le32(c + 44, e->ccid_maxlen);
	c[48] = 0xFF;                   /* bClassGetResponse: echo */
	c[49] = 0xFF;                   /* bClassEnvelope: echo */
	c[53] = 1;                      /* bMaxCCIDBusySlots */
	memcpy(c + 54, eps, sizeof(eps));
	return CFG_TOTAL;
}

/* ---- sending ---- */

static int send_all(int fd, const uint8_t *p, size_t n)
{
	ssize_t r;

	while (n > 0) {
		r = send(fd, p, n, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* One usbsock message from c->out, whose payload starts at out + 5. */
static int usb_send_out(emu_key *k, uint8_t type, size_t n)
{
	uint8_t *o = k->ccid->out;

	o[0] = type;
	put_le32(o + 1, (uint32_t)n);
	return send_all(k->fd, o, EMU_USBSOCK_HDR + n);
}

/* A message from elsewhere (it may be c->out's payload itself: memmove). */
static int usb_send(emu_key *k, uint8_t type, const uint8_t *p, size_t n)
{
	if (n > 0)
		memmove(k->ccid->out + EMU_USBSOCK_HDR, p, n);
	return usb_send_out(k, type, n);
}

static emu_faults key_faults(emu_key *k)
{
	emu_faults f;

	pthread_mutex_lock(&k->emu->lock);
	f = k->f;
	pthread_mutex_unlock(&k->emu->lock);
	return f;
}

/* Disarm a one-shot fault; returns whether it was armed. */
static int fault_take(emu_key *k, unsigned bit)
{
	int armed;

	pthread_mutex_lock(&k->emu->lock);
	armed = (k->f.ccid_once & bit) != 0;
	k->f.ccid_once &= ~bit;
	pthread_mutex_unlock(&k->emu->lock);
	return armed;
}

/* One bulk-IN message (at c->out + 5, n bytes), as I transfers of at most `split B` bytes. */
static int bulk_in(emu_key *k, size_t n)
{
	unsigned split = key_faults(k).ccid_split;
	uint8_t *msg = k->ccid->out + EMU_USBSOCK_HDR;
	uint8_t hdr[EMU_USBSOCK_HDR];
	size_t off, part;

	if (split == 0 || split >= n)
		return usb_send_out(k, USB_IN, n);
	for (off = 0; off < n; off += part) {
		part = n - off < split ? n - off : split;
		hdr[0] = USB_IN;
		put_le32(hdr + 1, (uint32_t)part);
		if (send_all(k->fd, hdr, sizeof(hdr)) != 0 || send_all(k->fd, msg + off, part) != 0)
			return -1;
	}
	return 0;
}

/* Build an RDR_to_PC message in c->out (§6.2); returns its length. */
static size_t rdr_msg(emu_key *k, uint8_t type, uint8_t seq, int cmd_status, uint8_t error,
                      uint8_t specific, const uint8_t *data, size_t n)
{
	emu_ccid *c = k->ccid;
	uint8_t *m = c->out + EMU_USBSOCK_HDR;

	m[0] = type;
	put_le32(m + 1, (uint32_t)n);
	m[5] = 0;
	m[6] = seq;
	m[7] = (uint8_t)(cmd_status << 6 | (c->icc_on ? ICC_ACTIVE : ICC_INACTIVE));
	m[8] = error;
	m[9] = specific;
	if (n > 0)
		memmove(m + CCID_HDR, data, n);
	return CCID_HDR + n;
}

/* The answer to a command, with the answer faults: a halted endpoint or `stall` sends S
 * instead, `short` half of it and nothing more, `badseq` a copy with a stale bSeq first. */
static int answer(emu_key *k, size_t n)
{
	emu_ccid *c = k->ccid;
	uint8_t *m = c->out + EMU_USBSOCK_HDR;
	int ret;

	if (c->halted || fault_take(k, EMU_CCID_STALL)) {
		c->halted = 1;
		uk_wipe(m, n);
		return usb_send(k, USB_STALL, NULL, 0);
	}
	if (fault_take(k, EMU_CCID_SHORT)) {
		ret = bulk_in(k, n / 2);
		uk_wipe(m, n);
		return ret;
	}
	if (fault_take(k, EMU_CCID_BADSEQ)) {
		m[6]--;
		if (bulk_in(k, n) != 0)
			return -1;
		m[6]++;
	}
	ret = bulk_in(k, n);
	uk_wipe(m, n);
	return ret;
}

static int reply(emu_key *k, uint8_t type, uint8_t seq, const uint8_t *data, size_t n,
                 uint8_t specific)
{
	return answer(k, rdr_msg(k, type, seq, CMD_OK, 0, specific, data, n));
}

static int fail(emu_key *k, uint8_t type, uint8_t seq, uint8_t error)
{
	return answer(k, rdr_msg(k, type, seq, CMD_FAILED, error, 0, NULL, 0));
}

static int frame_ret(int sent)
{
	return sent == 0 ? EMU_FRAME_OK : EMU_FRAME_DROP;
}

/* ---- commands (§6.1) ---- */

static void chain_reset(emu_ccid *c)
{
	uk_wipe(c->cmd, c->cmd_len);
	uk_wipe(c->resp, c->resp_len);
	c->cmd_len = c->resp_len = c->resp_off = 0;
	c->chaining = 0;
}

/* PC_to_RDR_IccPowerOn (§6.1.1): the key's ATR, the same as on the vpcd link. */
static int cmd_power_on(emu_key *k, const uint8_t *m, size_t n)
{
	uint8_t atr[UKT_ATR_MAX];
	emu_ccid *c = k->ccid;

	(void)n;
	if (m[7] > 3)
		return frame_ret(fail(k, RDR_DATA, m[6], ERR_BAD_POWERSELECT));
	if (fault_take(k, EMU_CCID_MUTE))
		return frame_ret(fail(k, RDR_DATA, m[6], ERR_ICC_MUTE));
	chain_reset(c);
	ukt_card_power(k->card, c->icc_on ? UKT_POWER_RESET : UKT_POWER_ON);
	c->icc_on = 1;
	return frame_ret(reply(k, RDR_DATA, m[6], atr, ukt_card_atr(k->card, atr), 0));
}

/* PC_to_RDR_IccPowerOff (§6.1.2) */
static int cmd_power_off(emu_key *k, const uint8_t *m, size_t n)
{
	(void)n;
	chain_reset(k->ccid);
	ukt_card_power(k->card, UKT_POWER_OFF);
	k->ccid->icc_on = 0;
	return frame_ret(reply(k, RDR_SLOT_STATUS, m[6], NULL, 0, 0));
}

/* PC_to_RDR_GetSlotStatus (§6.1.3); bClockStatus 0: running. */
static int cmd_slot_status(emu_key *k, const uint8_t *m, size_t n)
{
	(void)n;
	return frame_ret(reply(k, RDR_SLOT_STATUS, m[6], NULL, 0, 0));
}

/* PC_to_RDR_Abort (§6.1.13): drop a chain in either direction. */
static int cmd_abort(emu_key *k, const uint8_t *m, size_t n)
{
	(void)n;
	chain_reset(k->ccid);
	return frame_ret(reply(k, RDR_SLOT_STATUS, m[6], NULL, 0, 0));
}

/* PC_to_RDR_GetParameters (§6.1.5) and SetParameters (§6.1.7, accepted, nothing changes):
 * RDR_to_PC_Parameters with the T=1 defaults (§6.2.3: Fi/Di 0x11, LRC, BWI 4 CWI 13,
 * IFSC 254). */
static int cmd_params(emu_key *k, const uint8_t *m, size_t n)
{
	static const uint8_t t1[7] = { 0x11, 0x10, 0x00, 0x4D, 0x00, 0xFE, 0x00 };

	(void)n;
	return frame_ret(reply(k, RDR_PARAMS, m[6], t1, sizeof(t1), 1));
}

/* The next part of the answer being sent (§6.2.1 bChainParameter). */
static int send_resp_part(emu_key *k, uint8_t seq)
{
	emu_ccid *c = k->ccid;
	size_t max = k->emu->ccid_maxlen - CCID_HDR, left = c->resp_len - c->resp_off;
	size_t part = left < max ? left : max;
	uint8_t chain;
	int ret;

	if (c->resp_off == 0)
		chain = part == left ? CHAIN_WHOLE : CHAIN_BEGIN;
	else
		chain = part == left ? CHAIN_END : CHAIN_MORE;
	ret = reply(k, RDR_DATA, seq, c->resp + c->resp_off, part, chain);
	c->resp_off += part;
	if (c->resp_off == c->resp_len)
		chain_reset(c);
	return frame_ret(ret);
}

/* One whole command APDU to the card; the answer goes out whole or in parts. */
static int xfr_apdu(emu_key *k, uint8_t seq, const uint8_t *apdu, size_t n)
{
	emu_ccid *c = k->ccid;
	size_t rlen = sizeof(c->resp);
	int ret = emu_key_apdu(k, apdu, n, c->resp, &rlen);

	if (ret != EMU_FRAME_OK)
		return ret;
	c->resp_len = rlen;
	c->resp_off = 0;
	if (!k->emu->ccid_extended && rlen > k->emu->ccid_maxlen - CCID_HDR) {
		chain_reset(c);
		return frame_ret(fail(k, RDR_DATA, seq, ERR_XFR_OVERRUN));
	}
	return send_resp_part(k, seq);
}

static int chain_append(emu_ccid *c, const uint8_t *p, size_t n)
{
	if (n > sizeof(c->cmd) - c->cmd_len)
		return -1;
	memcpy(c->cmd + c->cmd_len, p, n);
	c->cmd_len += n;
	c->chaining = 1;
	return 0;
}

/* Extended APDU level: wLevelParameter (§6.1.4) says where the block stands in a chain. */
static int xfr_extended(emu_key *k, uint8_t seq, unsigned level, const uint8_t *d, size_t dn)
{
	emu_ccid *c = k->ccid;
	int ret;

	if (level == CHAIN_NEXT) {      /* the host asks for the next part of the answer */
		if (c->resp_off > 0)
			return send_resp_part(k, seq);
		return frame_ret(fail(k, RDR_DATA, seq, ERR_BAD_LEVEL));
	}
	if ((level == CHAIN_END || level == CHAIN_MORE) != c->chaining ||
	    (level != CHAIN_WHOLE && level != CHAIN_BEGIN && level != CHAIN_END && level != CHAIN_MORE)) {
		chain_reset(c);
		return frame_ret(fail(k, RDR_DATA, seq, ERR_BAD_LEVEL));
	}
	if (level == CHAIN_WHOLE || level == CHAIN_BEGIN)
		chain_reset(c);
	if (level == CHAIN_WHOLE)
		return xfr_apdu(k, seq, d, dn);
	if (chain_append(c, d, dn) != 0) {
		chain_reset(c);
		return frame_ret(fail(k, RDR_DATA, seq, ERR_BAD_LENGTH));
	}
	if (level != CHAIN_END)         /* empty, "send the next block of the command" */
		return frame_ret(reply(k, RDR_DATA, seq, NULL, 0, CHAIN_NEXT));
	c->chaining = 0;
	ret = xfr_apdu(k, seq, c->cmd, c->cmd_len);
	uk_wipe(c->cmd, c->cmd_len);
	c->cmd_len = 0;
	return ret;
}

/* PC_to_RDR_XfrBlock (§6.1.4) at the short or extended APDU level; `timeext K` sends K time
 * extensions (§6.2.6 bmCommandStatus 2, bError = the multiplier 1) first. */
static int cmd_xfr(emu_key *k, const uint8_t *m, size_t n)
{
	unsigned level = (unsigned)m[8] | (unsigned)m[9] << 8, te = key_faults(k).ccid_timeext;
	size_t dn = n - CCID_HDR, max = k->emu->ccid_maxlen - CCID_HDR;

	while (te-- > 0)
		if (bulk_in(k, rdr_msg(k, RDR_DATA, m[6], CMD_TIME_EXT, 1, 0, NULL, 0)) != 0)
			return EMU_FRAME_DROP;
	if (!k->ccid->icc_on || fault_take(k, EMU_CCID_MUTE)) {
		chain_reset(k->ccid);
		return frame_ret(fail(k, RDR_DATA, m[6], ERR_ICC_MUTE));
	}
	if (!k->emu->ccid_extended && max > CCID_SHORT_CMD_MAX)
		max = CCID_SHORT_CMD_MAX;
	if (dn > max)
		return frame_ret(fail(k, RDR_DATA, m[6], ERR_BAD_LENGTH));
	if (k->emu->ccid_extended)
		return xfr_extended(k, m[6], level, m + CCID_HDR, dn);
	if (level != 0)
		return frame_ret(fail(k, RDR_DATA, m[6], ERR_BAD_LEVEL));
	return xfr_apdu(k, m[6], m + CCID_HDR, dn);
}

static const struct ccid_cmd {
	uint8_t type;           /* PC_to_RDR */
	uint8_t answer;         /* its RDR_to_PC */
	int (*fn)(emu_key *k, const uint8_t *m, size_t n);
} ccid_cmds[] = {
	{ PC_ICC_ON, RDR_DATA, cmd_power_on },
	{ PC_ICC_OFF, RDR_SLOT_STATUS, cmd_power_off },
	{ PC_SLOT_STATUS, RDR_SLOT_STATUS, cmd_slot_status },
	{ PC_XFR, RDR_DATA, cmd_xfr },
	{ PC_ABORT, RDR_SLOT_STATUS, cmd_abort },
	{ PC_GET_PARAMS, RDR_PARAMS, cmd_params },
	{ PC_SET_PARAMS, RDR_PARAMS, cmd_params },
};

/* One bulk-OUT message. Unknown types answer SlotStatus, failed, bError 0 (§6.2.6: command
 * not supported); a dwLength that is not the message's, or a slot other than 0, fail as
 * bad parameters at their offsets (1, 5). */
static int ccid_command(emu_key *k, const uint8_t *m, size_t n)
{
	const struct ccid_cmd *cmd = NULL;
	uint8_t seq = n > 6 ? m[6] : 0;
	size_t i;

	for (i = 0; n > 0 && i < sizeof(ccid_cmds) / sizeof(ccid_cmds[0]); i++)
		if (ccid_cmds[i].type == m[0])
			cmd = &ccid_cmds[i];
	k->ccid->seq = seq;
	if (key_faults(k).refuse)
		return EMU_FRAME_OK;    /* read, never answered, as on the vpcd link */
	if (fault_take(k, EMU_CCID_DROP))
		return EMU_FRAME_DROP;  /* unplugged mid-operation */
	if (fault_take(k, EMU_CCID_BUSY))
		return frame_ret(fail(k, cmd ? cmd->answer : RDR_SLOT_STATUS, seq, ERR_SLOT_BUSY));
	if (n < CCID_HDR || get_le32(m + 1) != n - CCID_HDR)
		return frame_ret(fail(k, cmd ? cmd->answer : RDR_SLOT_STATUS, seq, ERR_BAD_LENGTH));
	if (cmd == NULL)
		return frame_ret(fail(k, RDR_SLOT_STATUS, seq, ERR_NOT_SUPPORTED));
	if (m[5] != 0)
		return frame_ret(fail(k, cmd->answer, seq, ERR_BAD_SLOT));
	return cmd->fn(k, m, n);
}

/* ---- control transfers (CCID 1.1 §5.3 class requests) ---- */

static int usb_control(emu_key *k, const uint8_t *p, size_t n)
{
	static const struct ctl_req {
		uint8_t type, request;  /* bmRequestType, bRequest */
		uint32_t value;         /* the 4-byte answer; ABORT has none */
		int has_value;
	} reqs[] = {
		{ 0x21, 0x01, 0, 0 },                   /* ABORT: acknowledged */
		{ 0xA1, 0x02, CCID_CLOCK_KHZ, 1 },      /* GET_CLOCK_FREQUENCIES */
		{ 0xA1, 0x03, CCID_DATA_RATE, 1 },      /* GET_DATA_RATES */
	};
	uint8_t ans[5] = { 1 };         /* stall unless the request is known */
	size_t i, len = 1, wlen;

	if (n < 8)
		return EMU_FRAME_DROP;
	wlen = (size_t)p[6] | (size_t)p[7] << 8;
	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		if (reqs[i].type != p[0] || reqs[i].request != p[1])
			continue;
		ans[0] = 0;
		put_le32(ans + 1, reqs[i].value);
		len = 1 + (reqs[i].has_value ? (wlen < 4 ? wlen : 4) : 0);
	}
	return frame_ret(usb_send(k, USB_CONTROL_ANSWER, ans, len));
}

/* ---- the link ops ---- */

static int usb_connect(const char *path)
{
	return emu_connect_unix(path);
}

static long usb_frame_len(const uint8_t *hdr)
{
	uint32_t n = get_le32(hdr + 1);

	return n <= USBSOCK_LEN_MAX ? (long)n : -1;
}

static int usb_frame(emu_key *k, const uint8_t *hdr, const uint8_t *p, size_t n)
{
	switch (hdr[0]) {
	case USB_OUT:
		return ccid_command(k, p, n);
	case USB_CONTROL:
		return usb_control(k, p, n);
	case USB_HALT_CLEAR:            /* CLEAR_FEATURE(ENDPOINT_HALT) of bulk-IN */
		if (n == 1 && p[0] == 0x82)
			k->ccid->halted = 0;
		return n == 1 ? EMU_FRAME_OK : EMU_FRAME_DROP;
	default:
		return EMU_FRAME_DROP;  /* no such message from the bus */
	}
}

static int usb_key_init(emu_key *k)
{
	k->ccid = calloc(1, sizeof(*k->ccid));
	return k->ccid != NULL ? 0 : -1;
}

static void usb_key_free(emu_key *k)
{
	if (k->ccid == NULL)
		return;
	uk_wipe(k->ccid, sizeof(*k->ccid));
	free(k->ccid);
	k->ccid = NULL;
}

static void usb_down(emu_key *k)
{
	chain_reset(k->ccid);
	k->ccid->icc_on = 0;
	k->ccid->halted = 0;
}

/* Plugged in: the descriptors, then NotifySlotChange (§6.3.1): slot 0 present, changed. */
static int usb_up(emu_key *k)
{
	static const uint8_t notify[2] = { RDR_NOTIFY, 0x03 };
	uint8_t *d = k->ccid->out + EMU_USBSOCK_HDR;

	usb_down(k);
	memcpy(d, dev_desc, sizeof(dev_desc));
	if (usb_send_out(k, USB_DESC, sizeof(dev_desc) + config_desc(k->emu, d + sizeof(dev_desc))) != 0)
		return -1;
	return usb_send(k, USB_INTR, notify, sizeof(notify));
}

/* Woken by the control thread: `hwerror` sends RDR_to_PC_HardwareError (§6.3.2) now, with
 * the last command's bSeq and bHardwareErrorCode 01 (overcurrent). */
static int usb_poke(emu_key *k)
{
	uint8_t msg[4] = { RDR_HW_ERROR, 0, k->ccid->seq, 0x01 };

	if (!fault_take(k, EMU_CCID_HWERROR))
		return EMU_FRAME_OK;
	return frame_ret(usb_send(k, USB_INTR, msg, sizeof(msg)));
}

const emu_link_ops emu_link_usb = {
	.scheme = "usb:", .connect = usb_connect, .hdr_len = EMU_USBSOCK_HDR,
	.frame_len = usb_frame_len, .frame = usb_frame, .key_init = usb_key_init,
	.key_free = usb_key_free, .up = usb_up, .down = usb_down, .poke = usb_poke,
};
