/* ukey module: internal types shared by the files of libukey-pkcs11.so.
 *
 * Layers (each file one concern):
 *   ukm_entry_*.c   the C_* entry points: validate, lock, dispatch, unlock;
 *   ukm_lib.c       library state, locking, fork detection, the function list;
 *   ukm_pcsc.c      PC/SC context and readers -> slots;
 *   ukm_card.c      card connection, APDU exchange, the SW -> CK_RV table, the card cache;
 *   ukm_secure.c    the secure session (docs/apdu.md) and the secured commands;
 *   ukm_object.c    objects from the containers, the attribute policy table, matching;
 *   ukm_mech.c      the mechanism table, sign and verify operations;
 *   ukm_keygen.c    C_GenerateKeyPair's template handling and card transaction;
 *   ukm_session.c   sessions and the shared login state.
 * Everything here is called with the library lock held (the _locked suffix is implied for
 * every ukm_ function below that touches state, except ukm_lib_*). */
#ifndef UKM_H
#define UKM_H

#include <stddef.h>
#include <stdint.h>

#include <PCSC/winscard.h>
#include <p11-kit/pkcs11.h>

#include "ukey-pkcs11.h"
#include "uk_buf.h"
#include "uk_crypto.h"
#include "uk_sm.h"

#define UKM_MAX_CONTAINERS 16
#define UKM_ALG_SM2 0x01            /* algorithm id of the APDU profile (GET DATA 02 tag 80) */
#define UKM_NAME_MAX 64
#define UKM_PIN_MIN 8
#define UKM_PIN_MAX 12
#define UKM_RESP_MAX 65538      /* 65,536 data bytes + SW1 SW2 */

/* ---- library state (ukm_lib.c) ---- */

int ukm_lib_initialized(void);   /* initialised in this process (fork-aware) */
CK_RV ukm_lib_init(CK_C_INITIALIZE_ARGS_PTR args);
CK_RV ukm_lib_finalize(void);
CK_RV ukm_lib_lock(void);        /* CKR_CRYPTOKI_NOT_INITIALIZED when not initialised */
void ukm_lib_unlock(void);

/* ---- card data (ukm_card.c) ---- */

typedef struct ukm_pin_status {
	uint8_t tries, max, flags;      /* flags: bit 0 blocked, bit 1 must be changed */
} ukm_pin_status;

typedef struct ukm_keypair {
	int present;
	uint8_t alg;
	uint8_t point[UK_SM2_POINT_LEN];
} ukm_keypair;

typedef struct ukm_container {
	int present;
	uint8_t index;
	char name[UKM_NAME_MAX + 1];
	size_t name_len;
	ukm_keypair pair[2];            /* 0 signing, 1 encryption (docs/apdu.md KR usage) */
} ukm_container;

typedef struct ukm_card_cache {
	int have_info, have_pins, have_containers;
	char serial[21];
	char label[33];
	char manufacturer[33];
	char model[17];
	uint8_t zone;
	uint8_t fw_major, fw_minor;
	uint32_t free_space;
	ukm_pin_status user, so;
	ukm_container cont[UKM_MAX_CONTAINERS];
} ukm_card_cache;

enum ukm_login { UKM_LOGIN_NONE = 0, UKM_LOGIN_USER, UKM_LOGIN_SO };

typedef struct ukm_slot {
	CK_SLOT_ID id;
	char *reader;                   /* PC/SC reader name */
	int listed;                     /* the reader exists now */
	int card_present;               /* SCARD_STATE_PRESENT at the last status check */
	int not_ukey;                   /* the present card refused SELECT of our AID */
	unsigned event_count;           /* pcsc-lite's per-reader event counter (high 16 bits) */
	unsigned epoch;                 /* bumped on each card change; part of object handles */
	unsigned seen_epoch;            /* epoch last reported by C_WaitForSlotEvent */
	/* connection */
	SCARDHANDLE card;
	int connected;
	DWORD protocol;
	int selected;
	/* cache and secure session */
	ukm_card_cache cache;
	uk_sm_session sm;
	int sm_open;
	enum ukm_login login;
	unsigned long session_count, rw_count;
} ukm_slot;

/* ---- PC/SC (ukm_pcsc.c) ---- */

/* Refresh reader list and card states without APDUs. Never fails for a missing pcscd:
 * there are simply no slots. Drops the card state of slots whose card changed. */
CK_RV ukm_pcsc_refresh(void);
ukm_slot *ukm_slot_get(CK_SLOT_ID id);          /* NULL when unknown */
size_t ukm_slot_count(void);
ukm_slot *ukm_slot_at(size_t i);
SCARDCONTEXT ukm_pcsc_context(void);
void ukm_pcsc_release(int talk_to_pcscd);      /* C_Finalize (1) / forked child (0) */

/* ---- card (ukm_card.c) ---- */

typedef struct ukm_rapdu {
	uint8_t data[UKM_RESP_MAX];
	size_t len;
	uint16_t sw;
} ukm_rapdu;

/* Connect (shared, T=1|T=0) and SELECT the application if needed. */
CK_RV ukm_card_open(ukm_slot *s);
/* Disconnect unless sessions are open (pcscd powers the card down soon after). */
void ukm_card_idle(ukm_slot *s);
/* Forget everything about the card: connection (leave card), secure session, login,
 * cache; used on card events. talk: may call PC/SC. */
void ukm_card_forget(ukm_slot *s, int talk);
/* Send one command APDU; on a card reset by another client re-open and report
 * CKR_USER_NOT_LOGGED_IN for secured commands (the secure session is gone) or retry
 * plain ones once; a removed card gives CKR_DEVICE_REMOVED. The response is wiped by
 * the caller (ukm_rapdu_wipe). */
CK_RV ukm_card_transmit(ukm_slot *s, const uint8_t *apdu, size_t len, int secured,
                        ukm_rapdu *r);
CK_RV ukm_card_command(ukm_slot *s, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                       const uint8_t *data, size_t n, int want_le, ukm_rapdu *r);
void ukm_rapdu_wipe(ukm_rapdu *r);
/* The one status word -> CK_RV table. */
CK_RV ukm_sw_to_rv(uint16_t sw);
/* Make sure GET DATA 00/01/02 are cached. */
CK_RV ukm_card_load(ukm_slot *s);
CK_RV ukm_card_load_pins(ukm_slot *s);
CK_RV ukm_card_load_containers(ukm_slot *s);
/* Parsers (exposed for unit tests). */
int ukm_parse_devinfo(const uint8_t *p, size_t n, ukm_card_cache *c);
int ukm_parse_pins(const uint8_t *p, size_t n, ukm_card_cache *c);
int ukm_parse_containers(const uint8_t *p, size_t n, ukm_card_cache *c);

/* ---- secure session and secured commands (ukm_secure.c) ---- */

CK_RV ukm_secure_open(ukm_slot *s);
void ukm_secure_drop(ukm_slot *s);          /* forget keys, login state becomes NONE */
CK_RV ukm_secure_verify(ukm_slot *s, uint8_t p2, const uint8_t *pin, size_t pin_len);
CK_RV ukm_secure_logout(ukm_slot *s, uint8_t p2);
CK_RV ukm_secure_create_container(ukm_slot *s, const char *name, size_t len, uint8_t *index);
CK_RV ukm_secure_generate(ukm_slot *s, uint8_t kr, uint8_t alg,
                          uint8_t point[UK_SM2_POINT_LEN]);
CK_RV ukm_secure_sign(ukm_slot *s, uint8_t kr, const uint8_t e[UK_SM3_LEN],
                      uint8_t sig[UK_SM2_SIG_LEN]);

/* ---- objects (ukm_object.c) ---- */

enum { UKM_USAGE_SIGN = 0, UKM_USAGE_ENC = 1 };

typedef struct ukm_object {
	CK_OBJECT_HANDLE handle;
	CK_OBJECT_CLASS cls;            /* CKO_PRIVATE_KEY or CKO_PUBLIC_KEY */
	int usage;
	const ukm_container *cont;
	const uint8_t *point;
} ukm_object;

CK_OBJECT_HANDLE ukm_object_handle(const ukm_slot *s, unsigned ci, int usage, int priv);
/* Resolve a handle; private objects only when the user is logged in. */
CK_RV ukm_object_find(ukm_slot *s, CK_OBJECT_HANDLE h, ukm_object *o);
/* Fill up to cap handles of objects matching the template, visible in this state. */
size_t ukm_object_match(ukm_slot *s, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n,
                        CK_OBJECT_HANDLE *out, size_t cap);
CK_RV ukm_object_get_attributes(const ukm_object *o, CK_ATTRIBUTE_PTR t, CK_ULONG n);
/* The value of one attribute into buf (cap bytes): CKR_OK, CKR_ATTRIBUTE_SENSITIVE,
 * CKR_ATTRIBUTE_TYPE_INVALID or CKR_BUFFER_TOO_SMALL; *len = value length. */
CK_RV ukm_object_attr(const ukm_object *o, CK_ATTRIBUTE_TYPE type, uint8_t *buf, size_t cap,
                      size_t *len);

/* ---- mechanisms and operations (ukm_mech.c) ---- */

typedef struct ukm_sign_op {
	int active;
	int verify;                     /* 1 for a verify operation */
	int multipart;                  /* Update was called */
	CK_MECHANISM_TYPE mech;
	CK_OBJECT_HANDLE key;
	uint8_t kr;
	uint8_t point[UK_SM2_POINT_LEN];
	void *md;                       /* EVP_MD_CTX for CKM_UKEY_SM2_SM3 */
	uint8_t e[UK_SM3_LEN];          /* collected input for CKM_UKEY_SM2 */
	size_t e_len;
	int e_overflow;
} ukm_sign_op;

CK_RV ukm_mech_list(CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count);
CK_RV ukm_mech_info(CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info);
CK_RV ukm_sign_init(ukm_slot *s, ukm_sign_op *op, int verify, CK_MECHANISM_PTR m,
                    CK_OBJECT_HANDLE key);
CK_RV ukm_sign_update(ukm_sign_op *op, const uint8_t *p, size_t n);
/* Finish: sign (card) or verify (host). For sign, sig NULL or *sig_len too small is a
 * length query that keeps the operation (returns CKR_OK / CKR_BUFFER_TOO_SMALL with
 * *keep = 1). */
CK_RV ukm_sign_final(ukm_slot *s, ukm_sign_op *op, uint8_t *sig, CK_ULONG_PTR sig_len,
                     int *keep);
CK_RV ukm_verify_final(ukm_sign_op *op, const uint8_t *sig, size_t sig_len);
void ukm_sign_op_clear(ukm_sign_op *op);

/* ---- key generation (ukm_keygen.c) ---- */

CK_RV ukm_keygen(ukm_slot *s, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR pub, CK_ULONG npub,
                 CK_ATTRIBUTE_PTR priv, CK_ULONG npriv, CK_OBJECT_HANDLE_PTR hpub,
                 CK_OBJECT_HANDLE_PTR hpriv);

/* ---- sessions (ukm_session.c) ---- */

typedef struct ukm_find_op {
	int active;
	CK_OBJECT_HANDLE found[2 * 2 * UKM_MAX_CONTAINERS];
	size_t n, pos;
} ukm_find_op;

typedef struct ukm_session {
	CK_SESSION_HANDLE handle;
	CK_SLOT_ID slot;
	CK_FLAGS flags;
	ukm_find_op find;
	ukm_sign_op sign;
	ukm_sign_op verify;
	struct ukm_session *next;
} ukm_session;

CK_RV ukm_session_open(ukm_slot *s, CK_FLAGS flags, CK_SESSION_HANDLE *out);
/* Look a session up; its slot is returned too. CKR_SESSION_HANDLE_INVALID if unknown,
 * CKR_DEVICE_REMOVED handling is done by ukm_pcsc_refresh closing sessions. */
CK_RV ukm_session_get(CK_SESSION_HANDLE h, ukm_session **out, ukm_slot **slot);
CK_RV ukm_session_close(CK_SESSION_HANDLE h);
void ukm_session_close_slot(ukm_slot *s, int talk);
void ukm_session_free_all(void);
CK_STATE ukm_session_state(const ukm_session *ss, const ukm_slot *s);
int ukm_session_ro_exists(const ukm_slot *s);
CK_RV ukm_login(ukm_slot *s, CK_USER_TYPE type, const uint8_t *pin, size_t pin_len);
CK_RV ukm_logout(ukm_slot *s);

/* ---- helpers ---- */

/* Lock, check the session handle, unlock: for entry points that only need a valid
 * session before returning their fixed answer (stubs of later milestones). */
CK_RV ukm_entry_session_only(CK_SESSION_HANDLE h, CK_RV if_valid);

/* Copy a string into a blank-padded PKCS#11 text field. */
void ukm_pad(CK_UTF8CHAR *dst, size_t cap, const char *src);

#endif
