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
#define EMU_LABEL_MAX 32
#define EMU_PIN_MAX 64
/* How long a button key waits for `confirm`: below the driver's default APDU timeout
 * (30 s), so the host gets 6985 rather than a removed key. */
#define EMU_CONFIRM_MS_DEFAULT 20000u
#define EMU_CONFIRM_MS_MAX 600000u

enum emu_powerloss { EMU_PL_NONE = 0, EMU_PL_BEFORE, EMU_PL_AFTER };
enum emu_pad { EMU_PAD_NONE = 0, EMU_PAD_PIN, EMU_PAD_CANCEL };

/* Faults an operator injects (docs/ukey-emu.md "Faults"). */
typedef struct emu_faults {
	unsigned latency_ms;    /* added to every APDU */
	int profile_s0;         /* per-instruction floors of the SPEC S0 performance table */
	int powerloss;          /* enum emu_powerloss: armed for the next state write */
	int refuse;             /* read APDUs, answer nothing */
} emu_faults;

typedef struct emu emu;

typedef struct emu_key {
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
	size_t rxlen;
	uint8_t rx[EMU_FRAME_MAX];
	pthread_t thread;
	int started;
} emu_key;

struct emu {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const char *link;
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

#endif
