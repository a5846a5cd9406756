/* ukey token: internal structures shared by the token's source files (not installed). */
#ifndef UKT_INTERNAL_H
#define UKT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "uk_apdu.h"
#include "uk_buf.h"
#include "uk_sm.h"
#include "ukt_xport.h"
#include "ukt_card.h"
#include "ukt_alg.h"

#define UKT_PROFILE_VERSION 1
#define UKT_MAX_CONTAINERS 16
#define UKT_MAX_KEYS (UKT_MAX_CONTAINERS * 2)
#define UKT_MAX_SESSIONS 8
#define UKT_NAME_MAX 64
#define UKT_LABEL_MAX 32
#define UKT_PIN_MIN 8
#define UKT_PIN_MAX 12
#define UKT_PIN_TRIES 10        /* default maximum; settable per application at creation */
#define UKT_PIN_TRIES_MIN 3
#define UKT_PIN_TRIES_MAX 15    /* 63Cx carries at most 15 */
#define UKT_SALT_LEN 16
/* PBKDF2 iterations of a PIN's key-encryption key: ~15 ms here (OpenSSL 3.0, one core),
 * keeping a VERIFY well under 50 ms; stored per PIN so it can be raised later. */
#ifndef UKT_PBKDF2_ITER        /* fuzz/ builds the token with a tiny count: exec/s */
#define UKT_PBKDF2_ITER 50000u
#endif
/* ukt_keystore.c: token key and AEAD (AES-256-GCM) blobs nonce || ciphertext || tag */
#define UKT_TK_LEN 32
#define UKT_AEAD_NONCE 12
#define UKT_AEAD_TAG 16
#define UKT_AEAD_OVERHEAD (UKT_AEAD_NONCE + UKT_AEAD_TAG)
#define UKT_WRAPPED_TK_LEN (UKT_TK_LEN + UKT_AEAD_OVERHEAD)
#define UKT_WRAPPED_KEY_MAX (UKT_PRIV_MAX + UKT_AEAD_OVERHEAD)
#define UKT_CAPACITY 524288u    /* nominal storage reported as free space (GET DATA 86):
                                 * containers and files (ukt_files.c) count against it */

enum { UKT_PIN_USER = 0, UKT_PIN_SO = 1 };
/* UNINIT: the user PIN after REINITIALISE APPLICATION, until RESET RETRY COUNTER sets it
 * (no token key is sealed under it: VERIFY answers 6984, reference data not usable). */
enum { UKT_PIN_FLAG_BLOCKED = 0x01, UKT_PIN_FLAG_MUST_CHANGE = 0x02, UKT_PIN_FLAG_UNINIT = 0x04 };
/* GET DATA 00 tag 89: what the key has besides the card (docs/apdu.md) */
enum { UKT_FEATURE_BUTTON = 0x01, UKT_FEATURE_PINPAD = 0x02 };
enum { UKT_ALG_SM2 = 0x01, UKT_ALG_P256 = 0x02, UKT_ALG_RSA2048 = 0x03 };

/* The PIN itself is never kept: only the token key sealed under
 * KEK = PBKDF2-HMAC-SHA256(pin, salt, iter); the PIN is right when the seal opens. */
typedef struct ukt_pin {
	uint8_t tries;
	uint8_t max;            /* UKT_PIN_TRIES_MIN..UKT_PIN_TRIES_MAX */
	uint8_t flags;          /* UKT_PIN_FLAG_MUST_CHANGE; blocked is derived from tries */
	uint32_t iter;
	uint8_t salt[UKT_SALT_LEN];
	uint8_t wrapped_tk[UKT_WRAPPED_TK_LEN];
} ukt_pin;

/* A key pair of any algorithm of ukt_alg.c: public encoding (EC 04||X||Y, RSA n||e) and
 * the private encoding sealed under the token key (ukt_keystore.c), never held in clear. */
typedef struct ukt_keypair {
	uint8_t present;
	uint8_t alg;
	uint8_t always_auth;    /* PSO needs a user VERIFY since its last use (CKA_ALWAYS_AUTHENTICATE) */
	uint16_t pub_len;
	uint16_t wrapped_len;
	uint8_t pub[UKT_PUB_MAX];
	uint8_t wrapped[UKT_WRAPPED_KEY_MAX];
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
	uint8_t sweep_files;    /* set by REINITIALISE APPLICATION: every file on disk predates
	                         * the application and is removed at open; CREATE FILE clears it */
} ukt_state;

/* An SM4 session key (docs/apdu.md IMPORT SESSION KEY): RAM only, in one secure session;
 * wiped with it (eviction, power off, reset). handle 0 = free slot. */
#define UKT_SESSION_KEYS 4
typedef struct ukt_skey {
	uint8_t handle;
	uint32_t seq;           /* import order: the oldest is replaced when the table is full */
	uint8_t key[16];
} ukt_skey;

/* The key a session last unsealed for PSO (ukt_keystore.c ukt_keystore_key_get): kept, as
 * the session keeps TK (which opens every key anyway), so a run of signatures unseals and
 * parses the key once, not per APDU (docs/performance.md). Valid only while the key pair's
 * stored form (alg, flag, public and sealed encodings) and TK are those it was loaded from;
 * freed with the session (eviction, power off/reset) and at logout. */
typedef struct ukt_key_cache {
	EVP_PKEY *key;          /* NULL: empty */
	unsigned kr;
	uint8_t tk[UKT_TK_LEN];
	ukt_keypair pair;
} ukt_key_cache;

typedef struct ukt_session {
	int used;
	uint64_t last_use;      /* LRU eviction */
	uint8_t verified[2];    /* per PIN: verified in this session */
	uint8_t has_tk;         /* tk valid: set while a PIN is verified in this session */
	uint8_t tk[UKT_TK_LEN]; /* token key, unwrapped by that PIN; wiped with the session */
	uint8_t has_so_kek;     /* so_kek valid: the SO PIN is verified in this session */
	uint8_t so_kek[UKT_TK_LEN]; /* SO PIN's KEK: REINITIALISE seals a new TK under it */
	uint8_t aa_grant;       /* one PSO with an always-authenticate key: set by user VERIFY */
	uk_sm_session sm;
	ukt_skey skey[UKT_SESSION_KEYS];       /* ukt_cmd_import.c */
	uint32_t skey_seq;
	uint8_t skey_next;      /* last handle given out, 1..255 */
	ukt_key_cache kc;
} ukt_session;

struct ukt_card {
	char *dir;
	ukt_state st;
	int powered;
	int selected;
	ukt_session sess[UKT_MAX_SESSIONS];
	uint64_t tick;
	uint8_t next_sid;
	ukt_xport xport;               /* chain being received, answer awaiting GET RESPONSE */
	ukt_write_hook hook;
	void *hook_arg;
	ukt_confirm_hook confirm;      /* button of a second-generation key (PSO) */
	void *confirm_arg;
	ukt_pinpad_hook pinpad;        /* pinpad of a second-generation key (VERIFY 84 20) */
	void *pinpad_arg;
	struct ukt_files *files;       /* certificates and data files (ukt_files.c) */
	EVP_MD_CTX *sm3;               /* digest of a streamed PSO HASH chain (ukt_cmd_hash.c) */
};

/* A command being processed: the parsed APDU, the plain payload (unwrapped when secured),
 * the session it was secured under (NULL when plain), and the response data. */
typedef struct ukt_cmd {
	const uk_apdu *apdu;
	const uint8_t *data;
	size_t len;
	ukt_session *sess;
	uk_buf *resp;
	int streamed;           /* last part of a streamed chain: earlier parts went to the
	                         * form's feed (ukt_xport.h, ukt_card.c form_table) */
} ukt_cmd;

/* ukt_state.c */
int ukt_state_load(const char *dir, ukt_state *st);      /* 1 loaded, 0 absent, -1 bad */
uint16_t ukt_state_commit(ukt_card *card, const ukt_state *next); /* 9000 or 6581 */
void ukt_state_wipe(ukt_state *st);

/* ukt_pin.c */
int ukt_pin_valid_format(const uint8_t *value, size_t len);
uint16_t ukt_pin_status_sw(const ukt_pin *pin);
/* VERIFY of a PIN in session s: on 9000 the PIN is verified there and s holds TK; a wrong
 * PIN logs that PIN out of s. Returns 9000, 63Cx, 6983, 6581 or 6F00. */
uint16_t ukt_pin_login(ukt_card *card, ukt_session *s, int which, const uint8_t *value,
                       size_t len);
/* Clear the verified state of one PIN in s; TK is wiped when no PIN is left verified. */
void ukt_pin_logout(ukt_session *s, int which);
uint16_t ukt_cmd_verify_pinpad(ukt_card *card, ukt_cmd *c);
uint16_t ukt_cmd_change_ref(ukt_card *card, ukt_cmd *c);
uint16_t ukt_cmd_reset_retry(ukt_card *card, ukt_cmd *c);
/* ukt_cmd_reinit.c: REINITIALISE APPLICATION (GM/T 0016 SKF_DeleteApplication +
 * SKF_CreateApplication), the SO's PKCS#11 C_InitToken */
uint16_t ukt_cmd_reinit(ukt_card *card, ukt_cmd *c);

/* ukt_keystore.c: token key TK wrapped under each PIN, private keys sealed under TK */
int ukt_keystore_provision(ukt_state *st, const uint8_t *user, size_t ulen, const uint8_t *so,
                           size_t slen, unsigned max_tries);   /* max_tries 0 = default */
int ukt_keystore_tk_wrap(ukt_pin *pin, int which, const uint8_t *value, size_t len,
                         const uint8_t tk[UKT_TK_LEN]);        /* fresh salt; 0 or -1 */
int ukt_keystore_tk_unwrap(const ukt_pin *pin, int which, const uint8_t *value, size_t len,
                           uint8_t tk[UKT_TK_LEN]);            /* 1 right PIN, 0 wrong, -1 */
/* As tk_unwrap, also giving the PIN's KEK (kek may be NULL). */
int ukt_keystore_tk_unwrap_kek(const ukt_pin *pin, int which, const uint8_t *value, size_t len,
                               uint8_t tk[UKT_TK_LEN], uint8_t *kek);
/* Seal tk under an already derived KEK, keeping the PIN's salt and iterations. 0 or -1. */
int ukt_keystore_tk_seal_kek(ukt_pin *pin, int which, const uint8_t kek[UKT_TK_LEN],
                             const uint8_t tk[UKT_TK_LEN]);
/* Seal priv (n <= UKT_PRIV_MAX) into k; k->alg, k->pub, k->pub_len set first. 0 or -1. */
int ukt_keystore_key_seal(const uint8_t tk[UKT_TK_LEN], unsigned kr, ukt_keypair *k,
                          const uint8_t *priv, size_t n);
/* Open k's private encoding into priv[UKT_PRIV_MAX], *n its length. 0 or -1. */
int ukt_keystore_key_open(const uint8_t tk[UKT_TK_LEN], unsigned kr, const ukt_keypair *k,
                          uint8_t priv[UKT_PRIV_MAX], size_t *n);
EVP_PKEY *ukt_keystore_key_load(const uint8_t tk[UKT_TK_LEN], unsigned kr,
                                const ukt_keypair *k);         /* free with EVP_PKEY_free */
/* The key for one PSO in session s, from s's cache or unsealed into it: borrowed, valid
 * until the next call for s or ukt_keystore_cache_drop; do not free. */
EVP_PKEY *ukt_keystore_key_get(ukt_session *s, unsigned kr, const ukt_keypair *k);
void ukt_keystore_cache_drop(ukt_session *s);

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
uint16_t ukt_cmd_get_challenge(ukt_card *card, ukt_cmd *c);

/* ukt_cmd_rename.c: RENAME (proprietary 84 E2; GM/T 0016 has no rename): P1 00 a
 * container, P1 01 a data file. */
uint16_t ukt_cmd_rename_any(ukt_card *card, ukt_cmd *c);

/* ukt_cmd_import.c: enveloped import of an encryption pair (GM/T 0016
 * SKF_ImportECCKeyPair), SM4 session keys and PSO ENCIPHER/DECIPHER with them */
uint16_t ukt_cmd_import_keypair(ukt_card *card, ukt_cmd *c);
uint16_t ukt_cmd_import_session_key(ukt_card *card, ukt_cmd *c);
/* 84 E8: P1 00 IMPORT SESSION KEY, P1 01 GENERATE SESSION KEY (ukt_cmd_import.c). */
uint16_t ukt_cmd_session_key_any(ukt_card *card, ukt_cmd *c);
/* PSO of every P1 P2: 9E 9A and 80 86 go to ukt_cmd_pso, 84 80 and 80 84 to SM4, 90 80 to
 * ukt_cmd_pso_hash. */
uint16_t ukt_cmd_pso_any(ukt_card *card, ukt_cmd *c);

/* ukt_cmd_hash.c: PSO HASH, ISO 7816-8 §5.2 (SM3). feed: one part of a streamed chain
 * (first = 1 starts a new digest); 9000 or 6F00. drop: forget the digest (power, close). */
uint16_t ukt_hash_feed(ukt_card *card, int first, const uint8_t *data, size_t n);
uint16_t ukt_cmd_pso_hash(ukt_card *card, ukt_cmd *c);
void ukt_hash_drop(ukt_card *card);

extern const uint8_t ukt_aid[6];

#endif
