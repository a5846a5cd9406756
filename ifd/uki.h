/* ukey ifd: internal interfaces of libifd-ukey.so.
 *
 * Three tiers, as in the CCID driver:
 *   uki_ifdh.c       IFDH* entry points (ifdhandler.h v3): validate, lock, dispatch, and
 *                    convert uki_status to RESPONSECODE (the only place that does);
 *   uki_reader.c     readers and slots: presence, power state, ATR, event waiting;
 *   uki_link_unix.c  transports, reached only through uki_transport_ops: the AF_UNIX link
 *                    (and its loopback TCP variant) with vpcd framing;
 *   uki_usb.c        USB CCID keys through libusb-1.0, over the CCID host layer uki_ccid.c.
 *
 * Lock order: readers table lock -> slot io lock -> transport lock -> reader state lock.
 * The reader state lock is a leaf: nothing calls into a transport while holding it. */
#ifndef UKI_H
#define UKI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* pcscd 1.9.9 has PCSCLITE_MAX_READERS_CONTEXTS = 16 reader contexts in all, and every
 * slot of a multi-slot reader takes one of them; TAG_IFD_SLOTS_NUMBER is one byte. */
#define UKI_MAX_SLOTS 16
#define UKI_MAX_READERS 16      /* Lun >> 16: the reader number pcscd gives each clone */
#define UKI_ATR_MAX 33          /* ISO 7816-3 §8.2.1: at most 32 bytes after TS */
#define UKI_FRAME_MAX 65535     /* vpcd framing: 2-byte length */
#define UKI_DEFAULT_TIMEOUT_MS 30000
#define UKI_BODY_TIMEOUT_MS 2000        /* rest of a frame once its length has arrived */

/* One error domain for the driver; RESPONSECODE only at the entry points. */
typedef enum uki_status {
	UKI_OK = 0,
	UKI_ERR_PARAM,          /* bad argument or DEVICENAME */
	UKI_ERR_ABSENT,         /* no key in the slot (or it was just removed) */
	UKI_ERR_COMM,           /* link broken, peer misbehaved: the key was removed */
	UKI_ERR_TIMEOUT,        /* peer did not answer in time: the link transports remove the
	                         * key (the stream is out of step); USB keeps it (CCID bSeq
	                         * lets the next exchange drop the late answer) */
	UKI_ERR_BUFFER,         /* answer larger than the caller's buffer (link still in sync) */
	UKI_ERR_NOMEM,
	UKI_ERR_UNSUPPORTED,
	UKI_ERR_SYSTEM,         /* socket/bind/thread creation failed */
	UKI_ERR_PROTO,          /* one exchange failed (CCID error status, stall, bad message)
	                         * but the device is still in step: the key stays */
} uki_status;

/* DEVICENAME from reader.conf (usb: and tcp: forms: docs/ccid.md, docs/vsmartcard.md):
 *     unix:PATH[;slots=N][;timeout=MS][;owner=UID]
 *     usb:[VVVV/PPPP[:libudev:N:/dev/bus/usb/BBB/DDD]][;slots=N][;timeout=MS]
 *     tcp:HOST:PORT[;slots=N][;timeout=MS]
 *   PATH     absolute path of the AF_UNIX socket the driver listens on (< 108 bytes)
 *   slots    1..16, default 1: keys this reader holds at once
 *   timeout  100..600000 ms, default 30000: how long an APDU answer may take
 *   owner    a uid that may connect besides pcscd's own uid and root; the socket is
 *            chowned to it (mode stays 0600)
 * Example: unix:/run/ukey/link.sock;slots=4
 * pcscd's reader.conf lexer refuses ';' and '=' in unquoted values, so with options the
 * value must be quoted there: DEVICENAME "unix:/run/ukey/link.sock;slots=4". pcscd
 * passes the quotes on; one surrounding pair of " or ' is stripped here. */
typedef struct uki_devname {
	char scheme[16];
	char address[108];
	unsigned slots;
	int timeout_ms;
	long owner;             /* -1 = none */
} uki_devname;

uki_status uki_devname_parse(const char *text, uki_devname *out);

/* DEVICENAME "tcp:HOST:PORT[;slots=N][;timeout=MS]" (vsmartcard interop, docs/vsmartcard.md):
 * the driver listens on TCP, loopback only, for vpcd-protocol cards such as vsmartcard's
 * vicc. Never used unless configured: TCP has no peer credentials, so any local user can
 * insert a card there (owner= is refused). HOST: 127.0.0.0/8, ::1, [::1] or localhost.
 * Fills a sockaddr_in/_in6 for the address part ("127.0.0.1:35963"). */
struct sockaddr_storage;
uki_status uki_devname_tcp(const char *address, struct sockaddr_storage *ss, size_t *ss_len);

typedef struct uki_reader uki_reader;

/* Power actions, as the transport contract names them (mapped from IFD_POWER_UP etc.). */
typedef enum uki_power { UKI_POWER_DOWN, UKI_POWER_UP, UKI_POWER_RESET } uki_power;

/* The transport contract. A transport finds keys by itself (connections, USB interrupts)
 * and reports them with uki_reader_set_present(); on any protocol error it removes the
 * key itself (reporting absence) before returning UKI_ERR_COMM / UKI_ERR_TIMEOUT. */
typedef struct uki_transport_ops {
	const char *scheme;
	uki_status (*open)(uki_reader *rd, const uki_devname *dev, void **tp);
	void (*close)(void *tp);        /* stop threads, drop keys, release everything */
	/* UP/RESET return the ATR in atr (cap >= UKI_ATR_MAX). */
	uki_status (*power)(void *tp, unsigned slot, uki_power action,
	                    uint8_t *atr, size_t cap, size_t *atr_len);
	/* One command APDU, one response APDU (data + SW1 SW2). */
	uki_status (*xfer)(void *tp, unsigned slot, const uint8_t *cmd, size_t cmd_len,
	                   uint8_t *resp, size_t cap, size_t *resp_len);
} uki_transport_ops;

extern const uki_transport_ops uki_link_unix_ops;
extern const uki_transport_ops uki_link_tcp_ops;       /* same file: vpcd framing over TCP */

/* Reader/slot layer (uki_reader.c). Lun = reader << 16 | slot, as pcscd numbers them. */
uki_status uki_reader_open_slot(unsigned long lun, const char *devname);
uki_status uki_reader_close_slot(unsigned long lun);
uki_status uki_reader_presence(unsigned long lun);        /* UKI_OK present, UKI_ERR_ABSENT */
uki_status uki_reader_power(unsigned long lun, uki_power action, uint8_t *atr,
                            size_t cap, size_t *atr_len);
uki_status uki_reader_xfer(unsigned long lun, const uint8_t *cmd, size_t cmd_len,
                           uint8_t *resp, size_t cap, size_t *resp_len);
uki_status uki_reader_atr(unsigned long lun, uint8_t *atr, size_t cap, size_t *atr_len);
uki_status uki_reader_slots(unsigned long lun, unsigned *nslots);
/* Block until the slot's presence changes or timeout_ms passes; UKI_OK either way
 * (pcscd re-reads presence after each return), UKI_ERR_PARAM for an unknown Lun. */
uki_status uki_reader_wait_event(unsigned long lun, int timeout_ms);
/* Make a current and every later uki_reader_wait_event on the slot return at once. */
uki_status uki_reader_stop_wait(unsigned long lun);

/* Called by transports, with their own lock held (keeps insert/remove ordered). */
void uki_reader_set_present(uki_reader *rd, unsigned slot, int present);

/* Test hook: the reader currently at reader number idx (NULL if none). */
uki_reader *uki_reader_lookup(unsigned idx);

#endif
