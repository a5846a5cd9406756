/* ukey ifd: the USB CCID host layer (USB Device Class: Smart Card CCID, rev. 1.1).
 *
 * Bus-independent: it builds PC_to_RDR messages, sends them through a uki_ccid_bus (the
 * libusb binding in uki_usb.c, or a test bus), and checks and decodes the RDR_to_PC answers.
 * It knows nothing of slots in pcscd's sense or of presence: uki_usb.c does.
 *
 * Supported exchange levels (dwFeatures): short APDU (0x00020000) and extended APDU
 * (0x00040000), with wLevelParameter / bChainParameter chaining when a command or an answer
 * is longer than dwMaxCCIDMessageLength - 10. Character and TPDU level readers are refused
 * (UKI_ERR_UNSUPPORTED): they are libccid's job.
 *
 * Every call is bounded: a time extension (bmCommandStatus 2) restarts the wait for at most
 * bError x the base timeout, and the whole exchange never takes longer than
 * uki_ccid.max_ms. Answers with a stale bSeq (left over from an exchange that timed out) are
 * read and dropped, so a timeout never puts the stream out of step.
 *
 * Not thread-safe: the caller serialises the calls on one uki_ccid (uki_usb.c holds the slot
 * io lock). No function allocates after uki_ccid_init. */
#ifndef UKI_CCID_H
#define UKI_CCID_H

#include <stddef.h>
#include <stdint.h>

#include "uki.h"

#define UKI_CCID_HDR 10
/* Largest message the layer sends or accepts: header + the longest answer the link can
 * carry (65,536 data bytes + SW1 SW2) with room to spare. */
#define UKI_CCID_MSG_MAX (UKI_CCID_HDR + 65544)
#define UKI_CCID_DESC_LEN 54            /* CCID class descriptor, bDescriptorType 0x21 */

/* Message types (CCID 1.1 §6.1, §6.2, §6.3). */
enum {
	UKI_PC_TO_RDR_ICCPOWERON = 0x62,
	UKI_PC_TO_RDR_ICCPOWEROFF = 0x63,
	UKI_PC_TO_RDR_GETSLOTSTATUS = 0x65,
	UKI_PC_TO_RDR_XFRBLOCK = 0x6F,
	UKI_PC_TO_RDR_ABORT = 0x72,
	UKI_RDR_TO_PC_DATABLOCK = 0x80,
	UKI_RDR_TO_PC_SLOTSTATUS = 0x81,
	UKI_RDR_TO_PC_NOTIFYSLOTCHANGE = 0x50,
	UKI_RDR_TO_PC_HARDWAREERROR = 0x51,
};

/* dwFeatures exchange level bits. */
#define UKI_CCID_LEVEL_MASK 0x00070000u
#define UKI_CCID_LEVEL_TPDU 0x00010000u
#define UKI_CCID_LEVEL_SHORT 0x00020000u
#define UKI_CCID_LEVEL_EXTENDED 0x00040000u

/* The parts of the class descriptor the host uses. */
typedef struct uki_ccid_desc {
	uint16_t bcdCCID;
	uint8_t bMaxSlotIndex;
	uint8_t bVoltageSupport;        /* bit 0 5 V, bit 1 3 V, bit 2 1.8 V */
	uint32_t dwProtocols;
	uint32_t dwFeatures;
	uint32_t dwMaxCCIDMessageLength;
	uint8_t bMaxCCIDBusySlots;
} uki_ccid_desc;

/* Parse a CCID class descriptor (bLength 0x36, bDescriptorType 0x21; 0xFF is accepted too:
 * some pre-1.0 devices use it). UKI_ERR_PROTO when malformed (bad length or type,
 * dwMaxCCIDMessageLength < 11 or > UKI_CCID_MSG_MAX), UKI_ERR_UNSUPPORTED when the exchange
 * level is neither short nor extended APDU. */
uki_status uki_ccid_parse_desc(const uint8_t *p, size_t n, uki_ccid_desc *out);

/* Find the CCID class descriptor in an interface's "extra" bytes (a run of descriptors,
 * each bLength bType ...) and parse it; UKI_ERR_PROTO when there is none or it is bad. */
uki_status uki_ccid_find_desc(const uint8_t *extra, size_t n, uki_ccid_desc *out);

/* A decoded RDR_to_PC message (bulk-in). data points into the caller's buffer. */
typedef struct uki_ccid_msg {
	uint8_t type;
	uint32_t length;                /* dwLength */
	uint8_t slot;
	uint8_t seq;
	uint8_t status;                 /* bStatus: bits 0-1 ICC status, bits 6-7 command status */
	uint8_t error;                  /* bError */
	uint8_t specific;               /* bChainParameter (DataBlock) / bClockStatus (SlotStatus) */
	const uint8_t *data;
} uki_ccid_msg;

/* Decode one whole RDR_to_PC message of n bytes: UKI_ERR_PROTO unless n >= 10,
 * n == 10 + dwLength and the type is a bulk-in type. */
uki_status uki_ccid_parse_msg(const uint8_t *p, size_t n, uki_ccid_msg *out);

/* An interrupt-in message: RDR_to_PC_NotifySlotChange sets *changed and *present bit masks
 * (bit i = slot i, at most 8 slots read); RDR_to_PC_HardwareError sets nothing and
 * returns UKI_ERR_PROTO; anything else UKI_ERR_PROTO. */
uki_status uki_ccid_parse_notify(const uint8_t *p, size_t n, unsigned max_slot_index,
                                 uint32_t *present, uint32_t *changed);

/* What the layer needs from the USB side. Both calls are bounded by timeout_ms.
 * bulk_out sends one whole message (the bus splits it into packets).
 * bulk_in returns one transfer: at most cap bytes, possibly only part of a message (the
 * layer gathers a message by its dwLength over several transfers).
 * Errors: UKI_ERR_TIMEOUT (nothing in time), UKI_ERR_PROTO (endpoint stalled: the bus
 * has already cleared the halt), UKI_ERR_COMM (device gone or I/O error). */
typedef struct uki_ccid_bus {
	void *ctx;
	uki_status (*bulk_out)(void *ctx, const uint8_t *p, size_t n, int timeout_ms);
	uki_status (*bulk_in)(void *ctx, uint8_t *p, size_t cap, size_t *got, int timeout_ms);
} uki_ccid_bus;

typedef struct uki_ccid {
	uki_ccid_bus bus;
	uki_ccid_desc desc;
	uint8_t seq;                    /* bSeq of the next command */
	int timeout_ms;                 /* base wait for one answer (uki_devname.timeout_ms) */
	int max_ms;                     /* bound on one whole exchange, time extensions included */
	unsigned time_extensions;       /* counters, for tests and the log */
	unsigned stale_dropped;
	uint8_t *buf;                   /* UKI_CCID_MSG_MAX bytes, wiped after every exchange */
} uki_ccid;

/* Set up (allocates buf); max_ms defaults to 10 x timeout_ms. */
uki_status uki_ccid_init(uki_ccid *c, const uki_ccid_bus *bus, const uki_ccid_desc *desc,
                         int timeout_ms);
void uki_ccid_free(uki_ccid *c);

/* PC_to_RDR_IccPowerOn (bPowerSelect 0 = automatic voltage) -> the ATR (cap >= UKI_ATR_MAX;
 * longer ATRs are UKI_ERR_PROTO). bError ICC_MUTE (0xFE) or an absent ICC gives
 * UKI_ERR_ABSENT. */
uki_status uki_ccid_power_on(uki_ccid *c, unsigned slot, uint8_t *atr, size_t cap,
                             size_t *atr_len);
uki_status uki_ccid_power_off(uki_ccid *c, unsigned slot);
/* PC_to_RDR_GetSlotStatus: *icc = 0 present and active, 1 present and inactive,
 * 2 not present (bmICCStatus). */
uki_status uki_ccid_slot_status(uki_ccid *c, unsigned slot, unsigned *icc);

/* One command APDU -> one response APDU (data + SW1 SW2), chaining by the descriptor's
 * exchange level and dwMaxCCIDMessageLength. A response longer than cap is read to its
 * end, wiped and reported as UKI_ERR_BUFFER (the stream stays in step; *resp_len 0).
 * At the short APDU level an extended-length APDU, or one longer than 261 bytes or than
 * dwMaxCCIDMessageLength - 10, is UKI_ERR_UNSUPPORTED (nothing is sent). A failed
 * XfrBlock is UKI_ERR_ABSENT only when bmICCStatus says no ICC; ICC_MUTE with the ICC
 * present is UKI_ERR_PROTO (one failed exchange, the key stays). */
uki_status uki_ccid_xfr(uki_ccid *c, unsigned slot, const uint8_t *cmd, size_t cmd_len,
                        uint8_t *resp, size_t cap, size_t *resp_len);

/* bError / slot error -> uki_status, and a name for the log ("ICC_MUTE", "XFR_OVERRUN",
 * "CMD_SLOT_BUSY", "bad parameter at offset N" ...). Every CCID 1.1 §6.2.6 code has a name. */
uki_status uki_ccid_error_status(uint8_t bstatus, uint8_t berror);
const char *uki_ccid_error_name(uint8_t berror);

#endif
