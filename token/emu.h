/* ukey-emu internals: the keys it serves, their faults, and the control interface
 * (docs/ukey-emu.md). Not installed.
 *
 * Threads: one per key serves that key's link and is the only one to touch its ukt_card;
 * the main thread runs the control socket. Everything an operator changes (plugged in or
 * out, faults, the button) lives in emu_key under emu.lock, and emu.cond is broadcast on
 * every change, so a key thread waiting for the button or sleeping out a latency wakes at
 * once when its key is pulled out. */
#ifndef UKEY_EMU_H
#define UKEY_EMU_H

#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "ukt_card.h"

#define EMU_MAX_KEYS 16
#define EMU_FRAME_MAX (2 + 65535)
/* USB CCID front end (docs/ccid.md): the largest bulk-OUT message (dwMaxCCIDMessageLength
 * at most 65,546), and the usbsock message header (type, 4-byte length). */
#define EMU_CCID_MSG_MAX 65546u
/* An IccPowerOn answer cannot be chained (CCID 1.1 §6.2.1): the key's 13-byte ATR must fit
 * in one message after the 10-byte header. */
#define EMU_CCID_MSG_MIN 23u
#define EMU_USBSOCK_HDR 5
/* Received bytes a key keeps: one whole message of either link. */
#define EMU_RX_MAX (EMU_USBSOCK_HDR + EMU_CCID_MSG_MAX)
#define EMU_LABEL_MAX 32
#define EMU_PIN_MAX 64
/* How long a button key waits for `confirm`: below the driver's default APDU timeout
 * (30 s), so the host gets 6985 rather than a removed key. */
#define EMU_CONFIRM_MS_DEFAULT 20000u
#define EMU_CONFIRM_MS_MAX 600000u

enum emu_powerloss { EMU_PL_NONE = 0, EMU_PL_BEFORE, EMU_PL_AFTER };
enum emu_pad { EMU_PAD_NONE = 0, EMU_PAD_PIN, EMU_PAD_CANCEL };
/* What handling one received message asks of the key thread. */
enum { EMU_FRAME_OK = 0, EMU_FRAME_DROP = -1, EMU_FRAME_POWERLOSS = -2 };
/* One-shot CCID faults (docs/ccid.md "Faults"), bits of emu_faults.ccid_once. */
enum {
	EMU_CCID_STALL = 1u << 0,
	EMU_CCID_SHORT = 1u << 1,
	EMU_CCID_MUTE = 1u << 2,
	EMU_CCID_BUSY = 1u << 3,
	EMU_CCID_BADSEQ = 1u << 4,
	EMU_CCID_DROP = 1u << 5,
	EMU_CCID_HWERROR = 1u << 6,
};

/* Faults an operator injects (docs/ukey-emu.md "Faults"). */
typedef struct emu_faults {
	unsigned latency_ms;    /* added to every APDU */
	int profile_s0;         /* per-instruction floors of the SPEC S0 performance table */
	int powerloss;          /* enum emu_powerloss: armed for the next state write */
	int refuse;             /* read APDUs, answer nothing */
	/* usb link only (docs/ccid.md "Faults") */
	unsigned ccid_timeext;  /* time extensions before every XfrBlock answer */
	unsigned ccid_split;    /* bulk-IN transfers of at most this many bytes; 0 = whole */
	unsigned ccid_once;     /* EMU_CCID_* armed for the next command or answer */
} emu_faults;

typedef struct emu emu;
typedef struct emu_key emu_key;
typedef struct emu_ccid emu_ccid;

/* What differs between link types: the byte stream (connect, framing in and out); the key
 * thread, the card, the faults and the control socket are shared. The vpcd link (unix:,
 * tcp:) is in emu_key.c, the usb link (usbsock + CCID) in emu_ccid.c. */
typedef struct emu_link_ops {
	const char *scheme;             /* "unix:", "tcp:", "usb:" */
	int quickack;                   /* TCP: acknowledge every read at once (see emu_key.c) */
	int (*connect)(const char *spec);
	size_t hdr_len;                 /* bytes of a message header */
	/* Payload length from a header; -1 for a header the link does not accept. */
	long (*frame_len)(const uint8_t *hdr);
	/* Handle one whole message: EMU_FRAME_*. */
	int (*frame)(emu_key *k, const uint8_t *hdr, const uint8_t *p, size_t n);
	/* Optional: per-key state (at creation, at the end), link up (greeting: 0 or -1), link
	 * down, and a wake-up by the control thread (out-of-band messages: EMU_FRAME_*). */
	int (*key_init)(emu_key *k);
	void (*key_free)(emu_key *k);
	int (*up)(emu_key *k);
	void (*down)(emu_key *k);
	int (*poke)(emu_key *k);
} emu_link_ops;

struct emu_key {
	emu *emu;
	unsigned index;
	char *dir;
	/* fixed once created (list reads them without touching the card) */
	char serial[UKT_SERIAL_LEN + 1];
	char label[EMU_LABEL_MAX + 1];
	uint8_t zone;
	int button;
	int auto_confirm;
	unsigned confirm_ms;    /* bounds the wait for the button and for the pinpad */
	int pinpad;             /* the key takes the user PIN on its own pinpad */
	char *auto_pinpad_file; /* answer every pinpad request with the PIN in this file */
	/* under emu->lock */
	int want_in;            /* plugged in, as far as the operator is concerned */
	int connected;          /* the link to the driver is up */
	int failed;             /* could not connect (no --retry): counts for the exit status */
	int waiting;            /* a signature waits for the button */
	int confirmed;
	int pad_waiting;        /* a pinpad VERIFY waits for `pinpad N ...` */
	int pad_entry;          /* enum emu_pad: typed for the next (or waiting) request */
	size_t pad_len;
	uint8_t pad_pin[EMU_PIN_MAX];   /* wiped once used */
	int lost;               /* the power went during the APDU being processed */
	int tried;              /* the first connection attempt was made */
	emu_faults f;
	/* the key thread only */
	ukt_card *card;
	int fd;
	int evfd;               /* eventfd: wakes the key thread after a change */
	unsigned backoff_ms;
	long long next_try_ms;
	emu_ccid *ccid;         /* usb link: the CCID slot's state */
	size_t rxlen;
	uint8_t rx[EMU_RX_MAX];
	pthread_t thread;
	int started;
};

struct emu {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const char *link;
	const emu_link_ops *ops;        /* the link type of `link` */
	const char *link_spec;          /* `link` after its scheme */
	int ccid_extended;              /* usb: extended APDU level (else short) */
	unsigned ccid_maxlen;           /* usb: dwMaxCCIDMessageLength */
	const char *state;
	int retry;
	int stopping;
	unsigned nkeys;
	emu_key *keys[EMU_MAX_KEYS];
};

/* Settings of a key being created (command line or `create`). */
typedef struct emu_new_key {
	ukt_provision prov;
	int button;
	int auto_confirm;
	unsigned confirm_ms;
	int pinpad;
	const char *auto_pinpad_file;   /* implies pinpad */
} emu_new_key;

long long emu_now_ms(void);

/* emu_key.c */
/* Open (or provision) key number e->nkeys in STATE/key-<i>/ and start its thread, plugged
 * in. Returns the key, or NULL (reason in *why). Caller holds no lock. */
emu_key *emu_key_create(emu *e, const emu_new_key *nk, const char **why);
/* Wake a key's thread after changing its state (caller may hold the lock). */
void emu_key_wake(emu_key *k);
/* Stop every key thread and free the keys. */
void emu_keys_stop(emu *e);
/* The link type named by link (unix:, tcp:, usb:) and the rest of it in *spec; NULL if none. */
const emu_link_ops *emu_link_find(const char *link, const char **spec);
/* Run one command APDU on the key's card with its faults (power loss, latency): EMU_FRAME_OK
 * with the answer in resp (*rlen: room in, length out), or EMU_FRAME_DROP (pulled out
 * meanwhile: nobody gets the answer) / EMU_FRAME_POWERLOSS, resp wiped. Key thread only. */
int emu_key_apdu(emu_key *k, const uint8_t *cmd, size_t n, uint8_t *resp, size_t *rlen);
/* The s0 profile's delay for one APDU (microseconds): SPEC.md S0 performance table. */
unsigned long emu_profile_s0_us(const uint8_t *cmd, size_t n, size_t resp_len);

/* emu_ctl.c: the control socket (docs/ukey-emu.md "Control protocol") */
#define EMU_CTL_CONNS 8
#define EMU_CTL_LINE_MAX 1024

typedef struct emu_ctl_conn {
	int fd;
	size_t len;
	char buf[EMU_CTL_LINE_MAX];
} emu_ctl_conn;

typedef struct emu_ctl {
	int lfd;
	char *path;
	emu_ctl_conn conn[EMU_CTL_CONNS];
} emu_ctl;

/* Listen on path (AF_UNIX, mode 0600; a stale socket there is replaced, anything else is
 * refused). 0 or -1. */
int emu_ctl_open(emu_ctl *c, const char *path);
void emu_ctl_close(emu_ctl *c);
/* Fill pfd (room for 1 + EMU_CTL_CONNS) with the sockets to watch; returns how many. */
size_t emu_ctl_pollfds(const emu_ctl *c, struct pollfd *pfd);
/* Accept, read and answer what poll reported on those sockets. */
void emu_ctl_serve(emu_ctl *c, emu *e, const struct pollfd *pfd, size_t n);
/* Run one command line (NUL-terminated, no newline; wiped by the caller); the reply (no
 * newline) goes to reply. Returns 0 when the reply is `ok ...`. */
int emu_ctl_exec(emu *e, char *line, char *reply, size_t cap);
/* `ukey-emu ctl ...`: the command-line client. Returns the exit status. */
int emu_ctl_client(int argc, char **argv);

/* A PIN from the first line of a file, or from an environment variable (file wins).
 * Returns its length, 0 when neither is given, -1 on error (message printed). */
long emu_pin_source(const char *file, const char *env, uint8_t buf[EMU_PIN_MAX]);

int emu_connect_unix(const char *path);

/* emu_ccid.c: the usb link (docs/ccid.md "The emulated key's CCID face") */
extern const emu_link_ops emu_link_usb;
#define EMU_CCID_MAXLEN_SHORT 271u
#define EMU_CCID_MAXLEN_EXTENDED 1034u

#endif
