/* ukey token: the card OS of an emulated ukey as a library (docs/apdu.md, profile 1).
 *
 * A card is one key: its persistent state lives in one directory (a single state file),
 * its volatile state (power, selection, secure sessions) in the ukt_card object. The card
 * speaks ISO/IEC 7816-4 APDUs and answers every command with a status word. */
#ifndef UKT_CARD_H
#define UKT_CARD_H

#include <stddef.h>
#include <stdint.h>

typedef struct ukt_card ukt_card;

/* Factory settings used when a state directory holds no card yet (docs/design.md
 * "Emulated key defaults"). Every field may be left zero/NULL for its default. */
typedef struct ukt_provision {
	unsigned index;             /* key index: derives the default serial */
	const char *serial;         /* 20 ASCII digits; NULL = derived from index */
	const char *label;          /* 1-32 bytes UTF-8; NULL = "ukey" */
	uint8_t zone;               /* 1 yellow, 2 green; 0 = green */
	const uint8_t *user_pin;    /* NULL = "user1234"; 8-12 letters and digits */
	size_t user_pin_len;
	const uint8_t *so_pin;      /* NULL = "admin1234" */
	size_t so_pin_len;
	unsigned max_tries;         /* tries of each PIN, 3-15; 0 = 10 */
} ukt_provision;

enum { UKT_POWER_OFF = 0, UKT_POWER_ON = 1, UKT_POWER_RESET = 2 };

#define UKT_ATR_MAX 33
#define UKT_SERIAL_LEN 20
/* Largest response: 65,533 data bytes + SW1 SW2 (one vpcd frame, docs/apdu.md). */
#define UKT_RESP_MAX 65535u

/* Load the card kept in state_dir (created, with its parent, if missing), or provision a new
 * one from defaults (NULL = all defaults). Returns NULL when the directory cannot be used,
 * the defaults are invalid, or the state file fails its integrity check (a damaged state is
 * never overwritten). The card starts powered on. */
ukt_card *ukt_card_open(const char *state_dir, const ukt_provision *defaults);
void ukt_card_close(ukt_card *card);

/* Power off, on, or warm reset: off and reset deselect the application, close every
 * secure session and drop an open command chain and an answer pending for GET RESPONSE.
 * Returns 0, or -1 for an unknown op. */
int ukt_card_power(ukt_card *card, int op);

/* Copy the answer to reset into buf (UKT_ATR_MAX bytes); returns its length. */
size_t ukt_card_atr(const ukt_card *card, uint8_t buf[UKT_ATR_MAX]);

/* Process one command APDU. resp has *resp_len bytes of room on entry (at least 2) and
 * receives data || SW1 SW2; *resp_len is set to the length written. Every command gets a
 * status word. Returns 0, or -1 only when resp cannot hold a status word. */
int ukt_card_transmit(ukt_card *card, const uint8_t *cmd, size_t len, uint8_t *resp,
                      size_t *resp_len);

/* The card's 20-digit serial number (NUL-terminated). */
const char *ukt_card_serial(const ukt_card *card);

/* Test hook: called before every state write; a non-zero return makes the write fail as
 * if the disk had (the card then answers 6581 and rolls back). NULL removes the hook. */
typedef int (*ukt_write_hook)(void *arg);
void ukt_card_set_write_hook(ukt_card *card, ukt_write_hook hook, void *arg);

/* Second-generation keys (a button on the key): called by PSO COMPUTE DIGITAL SIGNATURE after
 * every check and just before the private key is used. 0 = the holder confirmed on the key;
 * non-zero = not confirmed (the card answers 6985, conditions of use not satisfied, ISO 7816-4
 * §5.6) and nothing is signed. The hook may block, but only for a bounded time. NULL (the
 * default) signs without asking. */
typedef int (*ukt_confirm_hook)(void *arg);
void ukt_card_set_confirm_hook(ukt_card *card, ukt_confirm_hook hook, void *arg);

/* Second-generation keys with a pinpad (the PKCS#11 protected authentication path): called by
 * the pinpad VERIFY (84 20 00 81, docs/apdu.md) for the user PIN typed on the key. The hook
 * writes at most cap bytes of the PIN into pin and sets *len to its full length (a *len above
 * cap means too long: the card answers 6700); it returns 0 when a PIN was entered, non-zero
 * when the holder cancelled or did not answer in time (the card answers 6985 and uses no
 * try). The card wipes pin after use. The hook may block, but only for a bounded time. NULL
 * (the default): the key has no pinpad, the pinpad VERIFY answers 6A81. GET DATA 00 tag 89
 * tells the host which of the button and the pinpad the key has. */
#define UKT_PINPAD_PIN_CAP 32
typedef int (*ukt_pinpad_hook)(void *arg, uint8_t *pin, size_t cap, size_t *len);
void ukt_card_set_pinpad_hook(ukt_card *card, ukt_pinpad_hook hook, void *arg);

#endif
