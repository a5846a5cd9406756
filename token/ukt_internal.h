/* ukey token: internal structures shared by the token's source files (not installed). */
#ifndef UKT_INTERNAL_H
#define UKT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "uk_apdu.h"
#include "uk_buf.h"
#include "uk_sm.h"
#include "ukt_card.h"

#define UKT_PROFILE_VERSION 1
#define UKT_MAX_CONTAINERS 16
#define UKT_MAX_KEYS (UKT_MAX_CONTAINERS * 2)
#define UKT_MAX_SESSIONS 8
#define UKT_NAME_MAX 64
#define UKT_LABEL_MAX 32
#define UKT_PIN_MIN 8
#define UKT_PIN_MAX 12
#define UKT_PIN_TRIES 10
#define UKT_SALT_LEN 16
#define UKT_PIN_HASH_LEN 32
#define UKT_PBKDF2_ITER 10000u
#define UKT_CAPACITY 65536u     /* nominal storage reported as free space (GET DATA 86) */

enum { UKT_PIN_USER = 0, UKT_PIN_SO = 1 };
enum { UKT_PIN_FLAG_BLOCKED = 0x01, UKT_PIN_FLAG_MUST_CHANGE = 0x02 };
enum { UKT_ALG_SM2 = 0x01, UKT_ALG_P256 = 0x02, UKT_ALG_RSA2048 = 0x03 };

/* The PIN is kept only as PBKDF2-HMAC-SHA256(pin, salt, iter). */
typedef struct ukt_pin {
	uint8_t tries;
	uint8_t max;
	uint8_t flags;          /* UKT_PIN_FLAG_MUST_CHANGE; blocked is derived from tries */
	uint32_t iter;
	uint8_t salt[UKT_SALT_LEN];
	uint8_t hash[UKT_PIN_HASH_LEN];
} ukt_pin;

typedef struct ukt_keypair {
	uint8_t present;
	uint8_t alg;
	uint8_t priv[32];       /* MILESTONE NOTE: clear in the state file for now; encryption
	                         * at rest (wrapped under a device key) comes in a later milestone */
	uint8_t pub[65];
} ukt_keypair;

typedef struct ukt_container {
	uint8_t present;
	uint8_t name_len;
	uint8_t name[UKT_NAME_MAX];
	ukt_keypair pair[2];    /* 0 signing, 1 encryption (docs/apdu.md key reference) */
} ukt_container;

/* Everything persistent. A plain value: a change is made on a copy, written, and only
 * then copied over the card's state, so a failed write leaves the card as it was. */
typedef struct ukt_state {
	char serial[UKT_SERIAL_LEN + 1];
	uint8_t label_len;
	uint8_t label[UKT_LABEL_MAX];
	uint8_t zone;
	ukt_pin pin[2];
	ukt_container cont[UKT_MAX_CONTAINERS];
} ukt_state;

typedef struct ukt_session {
	int used;
	uint64_t last_use;      /* LRU eviction */
	uint8_t verified[2];    /* per PIN: verified in this session */
	uk_sm_session sm;
} ukt_session;

struct ukt_card {
	char *dir;
	ukt_state st;
	int powered;
	int selected;
	ukt_session sess[UKT_MAX_SESSIONS];
	uint64_t tick;
	uint8_t next_sid;
	EVP_PKEY *keys[UKT_MAX_KEYS];   /* cache of private keys built from st */
	ukt_write_hook hook;
	void *hook_arg;
};

/* A command being processed: the parsed APDU, the plain payload (unwrapped when secured),
 * the session it was secured under (NULL when plain), and the response data. */
typedef struct ukt_cmd {
	const uk_apdu *apdu;
	const uint8_t *data;
	size_t len;
	ukt_session *sess;
	uk_buf *resp;
} ukt_cmd;

/* ukt_state.c */
int ukt_state_load(const char *dir, ukt_state *st);      /* 1 loaded, 0 absent, -1 bad */
uint16_t ukt_state_commit(ukt_card *card, const ukt_state *next); /* 9000 or 6581 */
void ukt_state_wipe(ukt_state *st);

/* ukt_pin.c */
int ukt_pin_set(ukt_pin *pin, const uint8_t *value, size_t len, int must_change);
int ukt_pin_valid_format(const uint8_t *value, size_t len);
uint16_t ukt_pin_status_sw(const ukt_pin *pin);
uint16_t ukt_pin_verify(ukt_card *card, int which, const uint8_t *value, size_t len);

/* ukt_session.c */
void ukt_sessions_clear(ukt_card *card);
ukt_session *ukt_session_find(ukt_card *card, uint8_t sid);
uint16_t ukt_session_open(ukt_card *card, const uint8_t host_pub[65], uk_buf *resp);

/* ukt_cmd.c: instruction handlers (each names its clause) */
uint16_t ukt_cmd_select(ukt_card *card, ukt_cmd *c);
uint16_t ukt_cmd_get_data(ukt_card *card, ukt_cmd *c);
uint16_t ukt_cmd_general_auth(ukt_card *card, ukt_cmd *c);
uint16_t ukt_cmd_verify(ukt_card *card, ukt_cmd *c);
uint16_t ukt_cmd_create_container(ukt_card *card, ukt_cmd *c);
uint16_t ukt_cmd_generate(ukt_card *card, ukt_cmd *c);
uint16_t ukt_cmd_pso(ukt_card *card, ukt_cmd *c);

extern const uint8_t ukt_aid[6];

#endif
