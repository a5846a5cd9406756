/* ukey ifd: IFD handler API v3 entry points (pcsc-lite ifdhandler.h).
 * Each entry point validates its arguments, dispatches to the reader layer and maps the
 * uki_status to a RESPONSECODE in one table. Locking lives in the reader layer. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <PCSC/ifdhandler.h>
#include <PCSC/reader.h>

#include "uki.h"
#include "uk_log.h"

#define UKI_EXPORT __attribute__((visibility("default")))

/* pcscd exports log_msg (debuglog.h); weak so that tests may load the driver without it. */
extern void log_msg(const int priority, const char *fmt, ...) __attribute__((weak));

enum { PCSC_DEBUG = 0, PCSC_INFO = 1, PCSC_ERROR = 2 };        /* debuglog.h priorities */

static void log_to_pcscd(int level, const char *line)
{
	int prio = level <= UK_LOG_ERROR ? PCSC_ERROR : level == UK_LOG_INFO ? PCSC_INFO : PCSC_DEBUG;

	if (log_msg != NULL)
		log_msg(prio, "%s", line);
	else
		fprintf(stderr, "%s\n", line);
}

static void log_init(void)
{
	uk_log_set_sink(log_to_pcscd);
	if (getenv("UKEY_DEBUG") == NULL)
		uk_log_set_level(UK_LOG_INFO);  /* pcscd filters further by its own -d level */
}

typedef struct status_map {
	uki_status st;
	RESPONSECODE rc;
} status_map;

static const status_map status_codes[] = {
	{ UKI_OK, IFD_SUCCESS },
	{ UKI_ERR_PARAM, IFD_COMMUNICATION_ERROR },
	{ UKI_ERR_ABSENT, IFD_ICC_NOT_PRESENT },
	{ UKI_ERR_COMM, IFD_COMMUNICATION_ERROR },
	{ UKI_ERR_TIMEOUT, IFD_RESPONSE_TIMEOUT },
	{ UKI_ERR_BUFFER, IFD_ERROR_INSUFFICIENT_BUFFER },
	{ UKI_ERR_NOMEM, IFD_COMMUNICATION_ERROR },
	{ UKI_ERR_UNSUPPORTED, IFD_ERROR_NOT_SUPPORTED },
	{ UKI_ERR_SYSTEM, IFD_COMMUNICATION_ERROR },
	{ UKI_ERR_PROTO, IFD_COMMUNICATION_ERROR },
};

static RESPONSECODE to_rc(uki_status st)
{
	size_t i;

	for (i = 0; i < sizeof(status_codes) / sizeof(status_codes[0]); i++)
		if (status_codes[i].st == st)
			return status_codes[i].rc;
	return IFD_COMMUNICATION_ERROR;
}

/* ---- event functions handed to pcscd (TAG_IFD_POLLING_THREAD_WITH_TIMEOUT etc.) ---- */

/* eventhandler.c calls this as pthCardEvent(slot Lun, timeout ms) after each presence
 * read; anything but IFD_SUCCESS makes pcscd sleep 400 ms before looping. */
static RESPONSECODE uki_ifdh_wait_event(DWORD Lun, int timeout)
{
	return uki_reader_wait_event(Lun, timeout) == UKI_OK ? IFD_SUCCESS : IFD_NO_SUCH_DEVICE;
}

/* EHDestroyEventHandler calls this then joins the event thread; the stop is sticky so a
 * thread that had not yet entered the wait does not block in it afterwards. */
static RESPONSECODE uki_ifdh_stop_event(DWORD Lun)
{
	return to_rc(uki_reader_stop_wait(Lun));
}

/* ---- capabilities: one handler per tag ---- */

typedef RESPONSECODE (*cap_fn)(DWORD Lun, PDWORD Length, PUCHAR Value);

static RESPONSECODE cap_put(PDWORD Length, PUCHAR Value, const void *p, size_t n)
{
	if (*Length < n) {
		*Length = (DWORD)n;
		return IFD_ERROR_INSUFFICIENT_BUFFER;
	}
	memcpy(Value, p, n);
	*Length = (DWORD)n;
	return IFD_SUCCESS;
}

static RESPONSECODE cap_byte(PDWORD Length, PUCHAR Value, unsigned v)
{
	UCHAR b = (UCHAR)v;

	return cap_put(Length, Value, &b, 1);
}

static RESPONSECODE cap_atr(DWORD Lun, PDWORD Length, PUCHAR Value)
{
	uint8_t atr[UKI_ATR_MAX];
	size_t n = 0;
	uki_status st = uki_reader_atr(Lun, atr, sizeof(atr), &n);

	return st == UKI_OK ? cap_put(Length, Value, atr, n) : to_rc(st);
}

static RESPONSECODE cap_slots(DWORD Lun, PDWORD Length, PUCHAR Value)
{
	unsigned n = 0;
	uki_status st = uki_reader_slots(Lun, &n);

	return st == UKI_OK ? cap_byte(Length, Value, n) : to_rc(st);
}

static RESPONSECODE cap_simultaneous(DWORD Lun, PDWORD Length, PUCHAR Value)
{
	(void)Lun;
	return cap_byte(Length, Value, UKI_MAX_READERS);
}

/* Each slot and each reader has its own state and locks: pcscd may call in parallel. */
static RESPONSECODE cap_thread_safe(DWORD Lun, PDWORD Length, PUCHAR Value)
{
	(void)Lun;
	return cap_byte(Length, Value, 1);
}

/* Not killable: pcscd must use the stop function (pthread_cancel would leak the lock). */
static RESPONSECODE cap_not_killable(DWORD Lun, PDWORD Length, PUCHAR Value)
{
	(void)Lun;
	return cap_byte(Length, Value, 0);
}

static RESPONSECODE cap_wait_fn(DWORD Lun, PDWORD Length, PUCHAR Value)
{
	RESPONSECODE (*fn)(DWORD, int) = uki_ifdh_wait_event;

	(void)Lun;
	return cap_put(Length, Value, &fn, sizeof(fn));
}

static RESPONSECODE cap_stop_fn(DWORD Lun, PDWORD Length, PUCHAR Value)
{
	RESPONSECODE (*fn)(DWORD) = uki_ifdh_stop_event;

	(void)Lun;
	return cap_put(Length, Value, &fn, sizeof(fn));
}

static RESPONSECODE cap_vendor(DWORD Lun, PDWORD Length, PUCHAR Value)
{
	static const char name[] = "ukey";

	(void)Lun;
	return cap_put(Length, Value, name, sizeof(name));
}

/* SCARD_ATTR_VENDOR_IFD_VERSION: 0xMMmmbbbb (PC/SC part 3). */
static RESPONSECODE cap_version(DWORD Lun, PDWORD Length, PUCHAR Value)
{
	DWORD v = (DWORD)0x00010000;

	(void)Lun;
	return cap_put(Length, Value, &v, sizeof(v));
}

/* Largest command the link carries (one vpcd frame). */
static RESPONSECODE cap_maxinput(DWORD Lun, PDWORD Length, PUCHAR Value)
{
	DWORD v = UKI_FRAME_MAX;

	(void)Lun;
	return cap_put(Length, Value, &v, sizeof(v));
}

typedef struct cap_entry {
	DWORD tag;
	cap_fn fn;
} cap_entry;

static const cap_entry cap_table[] = {
	{ TAG_IFD_ATR, cap_atr },
	{ SCARD_ATTR_ATR_STRING, cap_atr },
	{ TAG_IFD_SLOTS_NUMBER, cap_slots },
	{ TAG_IFD_SIMULTANEOUS_ACCESS, cap_simultaneous },
	{ TAG_IFD_THREAD_SAFE, cap_thread_safe },
	{ TAG_IFD_SLOT_THREAD_SAFE, cap_thread_safe },
	{ TAG_IFD_POLLING_THREAD_KILLABLE, cap_not_killable },
	{ TAG_IFD_POLLING_THREAD_WITH_TIMEOUT, cap_wait_fn },
	{ TAG_IFD_STOP_POLLING_THREAD, cap_stop_fn },
	{ SCARD_ATTR_VENDOR_NAME, cap_vendor },
	{ SCARD_ATTR_VENDOR_IFD_VERSION, cap_version },
	{ SCARD_ATTR_MAXINPUT, cap_maxinput },
};

/* ---- entry points ---- */

UKI_EXPORT RESPONSECODE IFDHCreateChannelByName(DWORD Lun, LPSTR DeviceName)
{
	log_init();
	if (DeviceName == NULL)
		return IFD_COMMUNICATION_ERROR;
	return to_rc(uki_reader_open_slot(Lun, DeviceName));
}

/* IFD handler v2 entry, bound by pcscd even for v3 drivers: the link needs a DEVICENAME. */
UKI_EXPORT RESPONSECODE IFDHCreateChannel(DWORD Lun, DWORD Channel)
{
	(void)Lun;
	(void)Channel;
	log_init();
	uk_log(UK_LOG_ERROR, "ifd", "reader.conf needs DEVICENAME unix:/path (no channel ids)");
	return IFD_NO_SUCH_DEVICE;
}

UKI_EXPORT RESPONSECODE IFDHCloseChannel(DWORD Lun)
{
	return to_rc(uki_reader_close_slot(Lun));
}

UKI_EXPORT RESPONSECODE IFDHGetCapabilities(DWORD Lun, DWORD Tag, PDWORD Length, PUCHAR Value)
{
	size_t i;

	if (Length == NULL || Value == NULL)
		return IFD_COMMUNICATION_ERROR;
	for (i = 0; i < sizeof(cap_table) / sizeof(cap_table[0]); i++)
		if (cap_table[i].tag == Tag)
			return cap_table[i].fn(Lun, Length, Value);
	return IFD_ERROR_TAG;
}

UKI_EXPORT RESPONSECODE IFDHSetCapabilities(DWORD Lun, DWORD Tag, DWORD Length, PUCHAR Value)
{
	(void)Lun;
	(void)Tag;
	(void)Length;
	(void)Value;
	return IFD_ERROR_TAG;
}

/* The link is APDU level: T=0 and T=1 both reach the card unchanged, nothing to negotiate. */
UKI_EXPORT RESPONSECODE IFDHSetProtocolParameters(DWORD Lun, DWORD Protocol, UCHAR Flags,
                                                  UCHAR PTS1, UCHAR PTS2, UCHAR PTS3)
{
	uki_status st = uki_reader_presence(Lun);

	(void)Flags;
	(void)PTS1;
	(void)PTS2;
	(void)PTS3;
	if (st != UKI_OK)
		return to_rc(st);
	if (Protocol != SCARD_PROTOCOL_T0 && Protocol != SCARD_PROTOCOL_T1)
		return IFD_PROTOCOL_NOT_SUPPORTED;
	return IFD_SUCCESS;
}

UKI_EXPORT RESPONSECODE IFDHPowerICC(DWORD Lun, DWORD Action, PUCHAR Atr, PDWORD AtrLength)
{
	uki_power action;
	size_t n = 0;
	uki_status st;

	switch (Action) {
	case IFD_POWER_UP: action = UKI_POWER_UP; break;
	case IFD_POWER_DOWN: action = UKI_POWER_DOWN; break;
	case IFD_RESET: action = UKI_POWER_RESET; break;
	default: return IFD_NOT_SUPPORTED;
	}
	if (action != UKI_POWER_DOWN && (Atr == NULL || AtrLength == NULL))
		return IFD_COMMUNICATION_ERROR;
	st = uki_reader_power(Lun, action, Atr, AtrLength != NULL ? *AtrLength : 0, &n);
	if (AtrLength != NULL)
		*AtrLength = st == UKI_OK ? (DWORD)n : 0;
	if (action == UKI_POWER_DOWN && st == UKI_ERR_ABSENT)
		return IFD_SUCCESS;     /* nothing left to power down */
	if (action != UKI_POWER_DOWN && (st == UKI_ERR_COMM || st == UKI_ERR_TIMEOUT))
		return IFD_ERROR_POWER_ACTION;
	return to_rc(st);
}

UKI_EXPORT RESPONSECODE IFDHTransmitToICC(DWORD Lun, SCARD_IO_HEADER SendPci, PUCHAR TxBuffer,
                                          DWORD TxLength, PUCHAR RxBuffer, PDWORD RxLength,
                                          PSCARD_IO_HEADER RecvPci)
{
	size_t n = 0;
	uki_status st;

	(void)SendPci;
	if (TxBuffer == NULL || RxBuffer == NULL || RxLength == NULL)
		return IFD_COMMUNICATION_ERROR;
	/* ISO 7816-4 §5.1: a command APDU has a 4-byte header at least */
	if (TxLength < 4 || TxLength > UKI_FRAME_MAX) {
		*RxLength = 0;
		return IFD_COMMUNICATION_ERROR;
	}
	uk_log_apdu(UK_LOG_DEBUG, "ifd", "C-APDU", TxBuffer, TxLength);
	st = uki_reader_xfer(Lun, TxBuffer, TxLength, RxBuffer, *RxLength, &n);
	*RxLength = st == UKI_OK ? (DWORD)n : 0;
	if (st == UKI_OK && RecvPci != NULL)
		RecvPci->Protocol = SendPci.Protocol;
	return to_rc(st);
}

/* No reader features (PIN pad etc.): GET_FEATURE_REQUEST answers an empty TLV list
 * (PC/SC part 10 §2.2), anything else is not supported. */
UKI_EXPORT RESPONSECODE IFDHControl(DWORD Lun, DWORD dwControlCode, PUCHAR TxBuffer,
                                    DWORD TxLength, PUCHAR RxBuffer, DWORD RxLength,
                                    LPDWORD pdwBytesReturned)
{
	(void)TxBuffer;
	(void)TxLength;
	(void)RxBuffer;
	(void)RxLength;
	if (pdwBytesReturned != NULL)
		*pdwBytesReturned = 0;
	if (uki_reader_lookup((unsigned)(Lun >> 16)) == NULL)
		return IFD_COMMUNICATION_ERROR;
	if (dwControlCode == CM_IOCTL_GET_FEATURE_REQUEST)
		return IFD_SUCCESS;
	return IFD_ERROR_NOT_SUPPORTED;
}

UKI_EXPORT RESPONSECODE IFDHICCPresence(DWORD Lun)
{
	uki_status st = uki_reader_presence(Lun);

	if (st == UKI_OK)
		return IFD_ICC_PRESENT;
	return st == UKI_ERR_ABSENT ? IFD_ICC_NOT_PRESENT : IFD_COMMUNICATION_ERROR;
}
