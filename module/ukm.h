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

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <PCSC/winscard.h>
#include <p11-kit/pkcs11.h>

#include "ukey-pkcs11.h"
#include "ukey-pkcs11-3.h"
#include "uk_buf.h"
#include "uk_crypto.h"
#include "uk_sm.h"

#define UKM_MAX_CONTAINERS 16
#define UKM_ALG_SM2 0x01            /* algorithm id of the APDU profile (GET DATA 02 tag 80) */
#define UKM_ALG_P256 0x02           /* ECDSA P-256 */
#define UKM_ALG_RSA 0x03            /* RSA-2048, e = 65537 */
#define UKM_RSA_LEN 256             /* RSA-2048 modulus and signature bytes */
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
	uint8_t point[UK_SM2_POINT_LEN];        /* SM2, P-256: 04 || X || Y */
	uint8_t n[UKM_RSA_LEN];                 /* RSA: modulus, big endian */
	uint8_t e[4];                           /* RSA: public exponent, right-aligned */
	uint8_t always_auth;                    /* GET DATA 02 A4/A5 tag 82: CKA_ALWAYS_AUTHENTICATE */
} ukm_keypair;

typedef struct ukm_container {
	int present;
	uint8_t index;
	char name[UKM_NAME_MAX + 1];
	size_t name_len;
	ukm_keypair pair[2];            /* 0 signing, 1 encryption (docs/apdu.md KR usage) */
	uint16_t cert_len[2];           /* GET DATA 02 tags 86/87: certificate C0 KR, 0 none */
} ukm_container;

/* A data file D0 nn of GET DATA 01 03 (docs/apdu.md "Files"). */
#define UKM_MAX_DATA_FILES 32
#define UKM_DATA_NAME_MAX 32
#define UKM_DATA_MAX 65536u
#define UKM_CERT_MAX 4096u
typedef struct ukm_data_file {
	int present;
	char name[UKM_DATA_NAME_MAX + 1];
	size_t name_len;
	uint32_t size, length;
} ukm_data_file;

typedef struct ukm_card_cache {
	int have_info, have_pins, have_containers;
	char serial[21];
	char label[33];
	char manufacturer[33];
	char model[17];
	uint8_t zone;
	uint8_t fw_major, fw_minor;
	uint32_t free_space;
	uint8_t features;               /* GET DATA 00 tag 89: bit 0 button, bit 1 pinpad */
	ukm_pin_status user, so;
	ukm_container cont[UKM_MAX_CONTAINERS];
	/* files (ukm_cert.c, ukm_data.c): the data file list, certificate bodies read lazily
	 * (heap, freed by ukm_card_files_forget; valid while cert_body_len = cert_len) */
	int have_files;
	ukm_data_file data[UKM_MAX_DATA_FILES];
	uint8_t *cert_body[2 * UKM_MAX_CONTAINERS];
	size_t cert_body_len[2 * UKM_MAX_CONTAINERS];
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
	atomic_ulong apdus;             /* command APDUs sent (ukm_vendor.c: get_apdu_count) */
	uint32_t skey_seq;              /* session keys the card made or imported (ukm_skey.c) */
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
/* C_WaitForSlotEvent's blocking step, called WITHOUT the library lock: waits (at most
 * about a second) on a PC/SC context of its own for a reader or card change. CKR_OK to
 * re-check the slots, CKR_CRYPTOKI_NOT_INITIALIZED once C_Finalize cancelled it. */
CK_RV ukm_pcsc_wait(void);
void ukm_pcsc_cancel_waits(void);           /* C_Finalize: SCardCancel every wait */
void ukm_pcsc_events_baseline(void);        /* C_Initialize: present slots are no event */
/* After a failed SCardTransmit: 1 when pcscd reports the card gone within ms (the link of
 * a pulled key drops before pcscd's reader state follows). */
/* rc says pcscd is gone or restarted: the context and every card handle are lost. */
int ukm_pcsc_context_lost(LONG rc);
int ukm_pcsc_card_gone(ukm_slot *s, unsigned ms);

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
/* Make sure GET DATA 00/01/02 and 01 03 (data files) are cached; keeps the connection. */
CK_RV ukm_card_load(ukm_slot *s);
CK_RV ukm_card_load_info(ukm_slot *s);         /* GET DATA 00 only (C_GetSlotInfo) */
CK_RV ukm_card_load_pins(ukm_slot *s);
CK_RV ukm_card_load_containers(ukm_slot *s);
/* Parsers (exposed for unit tests). */
int ukm_parse_devinfo(const uint8_t *p, size_t n, ukm_card_cache *c);
int ukm_parse_pins(const uint8_t *p, size_t n, ukm_card_cache *c);
int ukm_parse_containers(const uint8_t *p, size_t n, ukm_card_cache *c);
/* Files (docs/apdu.md "Files"): GET DATA 01 03, SELECT by file identifier + READ BINARY. */
int ukm_parse_files(const uint8_t *p, size_t n, ukm_card_cache *c);
CK_RV ukm_card_load_files(ukm_slot *s);
CK_RV ukm_card_read_file(ukm_slot *s, uint16_t fid, uint8_t *out, size_t len);
void ukm_card_files_forget(ukm_card_cache *c);

/* ---- secure session and secured commands (ukm_secure.c) ---- */

CK_RV ukm_secure_open(ukm_slot *s);
void ukm_secure_drop(ukm_slot *s);          /* forget keys, login state becomes NONE */
CK_RV ukm_secure_verify(ukm_slot *s, uint8_t p2, const uint8_t *pin, size_t pin_len);
CK_RV ukm_secure_logout(ukm_slot *s, uint8_t p2);
/* VERIFY with the pinpad (84 20 00 81): the holder types the user PIN on the key. */
CK_RV ukm_secure_verify_pinpad(ukm_slot *s);
/* CHANGE REFERENCE DATA (04 24 00 P2) and RESET RETRY COUNTER (04 2C 02 81). */
CK_RV ukm_secure_change_pin(ukm_slot *s, uint8_t p2, const uint8_t *old, size_t old_len,
                            const uint8_t *pin, size_t pin_len);
CK_RV ukm_secure_reset_pin(ukm_slot *s, const uint8_t *pin, size_t pin_len);
/* REINITIALISE APPLICATION (84 EE 00 00 {81 label}); the SO verified in this session. */
CK_RV ukm_secure_reinit(ukm_slot *s, const uint8_t *label, size_t len);
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
	const ukm_keypair *kp;          /* key objects: the pair (algorithm, public key) */
	ukm_slot *slot;                 /* certificates and data objects: read lazily */
	unsigned file;                  /* CKO_CERTIFICATE: KR; CKO_DATA: nn of D0 nn */
	struct ukm_skey *sk;            /* CKO_SECRET_KEY: the session object (ukm_skey.c) */
} ukm_object;

/* Handle kinds (bits 6-7 of a handle; 0 = key objects, ukm_object.c; 3 = session secret
 * keys, ukm_skey.c). */
enum { UKM_KIND_KEY = 0, UKM_KIND_CERT = 1, UKM_KIND_DATA = 2, UKM_KIND_SKEY = 3 };

/* ---- session secret keys (ukm_skey.c) ----
 * CKO_SECRET_KEY session objects (PKCS#11 3.0 §4.10): SM4 keys held by the card in its
 * secure session (GENERATE / IMPORT SESSION KEY, docs/apdu.md; the module keeps only the
 * card's handle), and generic secrets for HMAC-SM3 kept by the module. */
#define UKM_MAX_SKEYS 64                /* the 6 low bits of a handle */
#define UKM_SKEY_VALUE_MAX 1024
#define UKM_CARD_SKEYS 4                /* session keys a card session holds */
typedef struct ukm_skey {
	int used;
	CK_SLOT_ID slot;
	unsigned epoch;
	CK_SESSION_HANDLE owner;        /* destroyed when this session closes (§4.4) */
	CK_KEY_TYPE type;               /* CKK_UKEY_SM4 or CKK_GENERIC_SECRET */
	uint8_t card_handle;            /* SM4: the card's session-key handle */
	uint32_t seq;                   /* SM4: card import order (UKM_CARD_SKEYS live) */
	uint8_t *value;                 /* generic secret (heap, wiped) */
	size_t len;
	uint8_t label[UKM_NAME_MAX];
	size_t label_len;
	uint8_t id[UKM_NAME_MAX];
	size_t id_len;
	uint8_t priv, sensitive, extractable, always_sensitive, never_extractable, local;
	uint8_t enc, dec, sign, verify;
} ukm_skey;

/* A new session object (a free slot of the table) or NULL (CKR_DEVICE_MEMORY). */
ukm_skey *ukm_skey_new(ukm_slot *s, CK_SESSION_HANDLE owner);
CK_OBJECT_HANDLE ukm_skey_handle(const ukm_slot *s, const ukm_skey *k);
void ukm_skey_free(ukm_skey *k);
int ukm_skey_make(ukm_slot *s, unsigned idx, ukm_object *o);
size_t ukm_skey_match_all(ukm_slot *s, int (*match)(const ukm_object *, void *), void *arg,
                          CK_OBJECT_HANDLE *out, size_t cap);
CK_RV ukm_skey_attr(const ukm_object *o, CK_ATTRIBUTE_TYPE type, uint8_t *buf, size_t cap,
                    size_t *len);
/* Lifetimes: the owning session closed; the card's secure session or user login ended (its
 * SM4 keys are gone: their objects are destroyed); C_Finalize. */
void ukm_skey_session_closed(CK_SESSION_HANDLE owner);
void ukm_skey_card_gone(ukm_slot *s);
void ukm_skey_free_all(void);
/* A new card session key was numbered seq: objects of keys the card evicted go. */
void ukm_skey_card_evict(ukm_slot *s, uint32_t seq);
/* Apply a C_GenerateKey / C_UnwrapKey template to a new SM4 card key object (local: made by
 * the card, CKA_LOCAL TRUE). */
CK_RV ukm_skey_sm4_template(CK_ATTRIBUTE_PTR t, CK_ULONG n, ukm_skey *k, int local);
/* C_CreateObject of a CKO_SECRET_KEY (CKK_GENERIC_SECRET for CKM_UKEY_SM3_HMAC). */
CK_RV ukm_skey_create(ukm_slot *s, CK_SESSION_HANDLE owner, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                      CK_OBJECT_HANDLE_PTR h);
/* C_GenerateKey(CKM_UKEY_SM4_KEY_GEN) and C_UnwrapKey (ukm_unwrap.c). */
CK_RV ukm_generate_key(ukm_slot *s, CK_SESSION_HANDLE owner, CK_MECHANISM_PTR m,
                       CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR h);
CK_RV ukm_unwrap_key(ukm_slot *s, CK_SESSION_HANDLE owner, CK_MECHANISM_PTR m,
                     CK_OBJECT_HANDLE key, const uint8_t *wrapped, size_t wn,
                     CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR h);

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

/* ---- certificates (ukm_cert.c) and data objects (ukm_data.c) ---- */

/* An attribute value: p points at n bytes (into the cache, small, or heap). */
typedef struct ukm_val {
	const uint8_t *p;
	size_t n;
	uint8_t small[64];
	uint8_t *heap;
} ukm_val;
/* PKCS#11 3.0 §5.7.5 copy rules for one value (NULL buf: length only). */
CK_RV ukm_val_copy(const ukm_val *v, uint8_t *buf, size_t cap, size_t *len);

int ukm_cert_make(ukm_slot *s, unsigned kr, ukm_object *o);
int ukm_data_make(ukm_slot *s, unsigned nn, ukm_object *o);
CK_RV ukm_cert_attr(const ukm_object *o, CK_ATTRIBUTE_TYPE type, uint8_t *buf, size_t cap,
                    size_t *len);
CK_RV ukm_data_attr(const ukm_object *o, CK_ATTRIBUTE_TYPE type, uint8_t *buf, size_t cap,
                    size_t *len);
CK_RV ukm_cert_create(ukm_slot *s, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR h);
CK_RV ukm_data_create(ukm_slot *s, CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR h);
CK_RV ukm_object_destroy(ukm_slot *s, const ukm_object *o);
/* Secured file commands (CREATE FILE, UPDATE BINARY, DELETE FILE / CONTAINER). */
CK_RV ukm_file_create(ukm_slot *s, uint16_t fid, uint32_t size, const char *name, size_t nlen);
CK_RV ukm_file_write(ukm_slot *s, const uint8_t *p, size_t n);
CK_RV ukm_file_delete(ukm_slot *s, uint16_t fid);
CK_RV ukm_container_delete(ukm_slot *s, unsigned ci);
/* RENAME (docs/apdu.md): container ci (file 0) or data file D0 nn (file 1) gets name. */
CK_RV ukm_card_rename(ukm_slot *s, int file, unsigned which, const char *name, size_t n);
/* PKCS#11 3.0 §5.7.6 C_SetAttributeValue of a token object (ukm_setattr.c). */
CK_RV ukm_object_set_attributes(ukm_slot *s, CK_FLAGS session_flags, const ukm_object *o,
                                CK_ATTRIBUTE_PTR t, CK_ULONG n);

/* ---- mechanisms and operations (ukm_mech.c) ---- */

/* One operation of a session: sign, verify, encrypt, decrypt or digest (ukm_mech.c,
 * ukm_crypt.c). */
typedef struct ukm_sign_op {
	int active;
	int verify;                     /* 1 for a verify operation */
	int multipart;                  /* Update was called */
	CK_MECHANISM_TYPE mech;
	const void *def;                /* the mechanism's row of ukm_mech.c */
	CK_OBJECT_HANDLE key;
	uint8_t kr;
	ukm_keypair kp;                 /* the key's public part */
	CK_ULONG fmt;                   /* SM2 ciphertext format / RSA OAEP card mechanism */
	void *md;                       /* EVP_MD_CTX of the hashing mechanisms */
	uint8_t buf[UKM_RSA_LEN];       /* collected raw input; a decrypted plaintext kept */
	size_t len;
	int overflow;
	int have_out;                   /* buf holds a result waiting for a larger buffer */
	int ctx_auth;                   /* C_Login(CKU_CONTEXT_SPECIFIC) done for this operation */
	/* secret-key operations (ukm_sm4.c): SM4 on the card, HMAC-SM3 on the host */
	ukm_slot *slot;                 /* the card of a multi-part SM4 operation */
	uint8_t card_handle;            /* the SM4 session key on the card */
	uint8_t iv[16];                 /* CBC chaining value / CBC-MAC state */
	void *mac;                      /* EVP_MAC_CTX of CKM_UKEY_SM3_HMAC */
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
size_t ukm_sign_len(const ukm_sign_op *op);    /* signature bytes of the operation */
/* Mechanism row checks shared by the operations (ukm_mech.c). */
int ukm_mech_allows(CK_MECHANISM_TYPE type, CK_FLAGS need);
CK_RV ukm_mech_key_ok(CK_MECHANISM_TYPE type, uint8_t alg);
/* Allowed mechanisms of a key algorithm (CKA_ALLOWED_MECHANISMS); returns the count. */
size_t ukm_mech_for_alg(uint8_t alg, CK_MECHANISM_TYPE *out, size_t cap);

/* ---- encryption, decryption, digest, random, card PSO (ukm_crypt.c) ---- */

/* The public key of a pair as an OpenSSL key (SM2, P-256 or RSA); NULL on failure. */
EVP_PKEY *ukm_kp_pkey(const ukm_keypair *kp);
/* One secured command (docs/apdu.md "Secure session"); the answer's data into out (cap),
 * *out_len set. Maps the status word. */
CK_RV ukm_secured(ukm_slot *s, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
                  const uint8_t *payload, size_t n, int le, uint8_t *out, size_t cap,
                  size_t *out_len);
/* CKM_UKEY_SM2_ENCRYPT's parameter (a CK_ULONG CKD_UKEY_SM2_CIPHER_*, default DER), and a
 * ciphertext of that format as raw C1 || C3 || C2 (raw holds n bytes). */
CK_RV ukm_sm2_param_format(CK_MECHANISM_PTR m, CK_ULONG *fmt);
CK_RV ukm_sm2_to_raw(CK_ULONG fmt, const uint8_t *in, size_t n, uint8_t *raw, size_t *rl);
CK_RV ukm_crypt_init(ukm_slot *s, ukm_sign_op *op, int decrypt, CK_MECHANISM_PTR m,
                     CK_OBJECT_HANDLE key);
/* Single-part C_Encrypt / C_Decrypt with the §5.2 length convention (*keep as sign). */
CK_RV ukm_crypt_run(ukm_slot *s, ukm_sign_op *op, const uint8_t *in, size_t n, uint8_t *out,
                    CK_ULONG_PTR out_len, int *keep);
CK_RV ukm_digest_init(ukm_sign_op *op, CK_MECHANISM_PTR m);
CK_RV ukm_digest_update(ukm_sign_op *op, const uint8_t *p, size_t n);
CK_RV ukm_digest_final(ukm_sign_op *op, uint8_t *out, CK_ULONG_PTR out_len, int *keep);
size_t ukm_digest_len(const ukm_sign_op *op);
/* SM4 with a card session key and HMAC-SM3 (ukm_sm4.c): the multi-part steps of
 * C_EncryptUpdate/Final and C_DecryptUpdate/Final (§5.2 length convention, *keep as sign),
 * single-part runs, and the MAC / HMAC sides of C_Sign and C_Verify. */
int ukm_crypt_multipart(const ukm_sign_op *op);
CK_RV ukm_sm4_update(ukm_slot *s, ukm_sign_op *op, const uint8_t *in, size_t n, uint8_t *out,
                     CK_ULONG_PTR out_len, int *keep);
CK_RV ukm_sm4_final(ukm_slot *s, ukm_sign_op *op, uint8_t *out, CK_ULONG_PTR out_len,
                    int *keep);
CK_RV ukm_sm4_single(ukm_slot *s, ukm_sign_op *op, const uint8_t *in, size_t n, uint8_t *out,
                     CK_ULONG_PTR out_len, int *keep);
CK_RV ukm_mac_update(ukm_sign_op *op, const uint8_t *p, size_t n);
CK_RV ukm_mac_final(ukm_sign_op *op, uint8_t out[32], size_t *len);
/* C_GenerateRandom: GET CHALLENGE, 256 bytes per APDU. */
CK_RV ukm_random(ukm_slot *s, uint8_t *out, size_t n);

/* ---- key generation (ukm_keygen.c) ---- */

CK_RV ukm_keygen(ukm_slot *s, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR pub, CK_ULONG npub,
                 CK_ATTRIBUTE_PTR priv, CK_ULONG npriv, CK_OBJECT_HANDLE_PTR hpub,
                 CK_OBJECT_HANDLE_PTR hpriv);

/* ---- the vendor interface "ukey" 1.1 (ukm_vendor.c) ---- */

extern CK_UKEY_FUNCTION_LIST ukm_vendor_list;          /* 1.1: listed */
extern CK_UKEY_FUNCTION_LIST ukm_vendor_list_1_0;      /* 1.0: exact-version requests only */
/* Count one command APDU sent to s's card (atomic: also read without the library lock). */
void ukm_apdu_counted(ukm_slot *s);

/* ---- sessions (ukm_session.c) ---- */

typedef struct ukm_find_op {
	int active;
	CK_OBJECT_HANDLE found[2 * 2 * UKM_MAX_CONTAINERS + 2 * UKM_MAX_CONTAINERS +
	                       UKM_MAX_DATA_FILES + UKM_MAX_SKEYS];
	size_t n, pos;
} ukm_find_op;

typedef struct ukm_session {
	CK_SESSION_HANDLE handle;
	CK_SLOT_ID slot;
	CK_FLAGS flags;
	ukm_find_op find;
	ukm_sign_op sign;
	ukm_sign_op verify;
	ukm_sign_op encrypt, decrypt, digest;   /* cleared with ukm_sign_op_clear too */
	struct ukm_session *next;
} ukm_session;

CK_RV ukm_session_open(ukm_slot *s, CK_FLAGS flags, CK_SESSION_HANDLE *out);
/* Look a session up; its slot is returned too. CKR_SESSION_HANDLE_INVALID if unknown,
 * CKR_DEVICE_REMOVED handling is done by ukm_pcsc_refresh closing sessions. */
CK_RV ukm_session_get(CK_SESSION_HANDLE h, ukm_session **out, ukm_slot **slot);
CK_RV ukm_session_close(CK_SESSION_HANDLE h);
void ukm_session_close_slot(ukm_slot *s, int talk);
void ukm_session_free_all(void);
void ukm_session_reap(void);    /* free sessions closed during an earlier call */
CK_STATE ukm_session_state(const ukm_session *ss, const ukm_slot *s);
int ukm_session_ro_exists(const ukm_slot *s);
CK_RV ukm_login(ukm_slot *s, CK_USER_TYPE type, const uint8_t *pin, size_t pin_len);
/* C_Login(CKU_CONTEXT_SPECIFIC) for the session's operation on a CKA_ALWAYS_AUTHENTICATE key. */
CK_RV ukm_login_context(ukm_slot *s, ukm_session *ss, const uint8_t *pin, size_t pin_len);
/* C_InitToken (ukm_session.c): SO VERIFY and REINITIALISE APPLICATION. */
CK_RV ukm_init_token(ukm_slot *s, const uint8_t *pin, size_t pin_len, const CK_UTF8CHAR *label);
CK_RV ukm_logout(ukm_slot *s);
/* C_SetPIN / C_InitPIN rules of §5.5.8-9 for the session's state, then the card command. */
CK_RV ukm_set_pin(ukm_slot *s, const ukm_session *ss, const uint8_t *old, size_t old_len,
                  const uint8_t *pin, size_t pin_len);
CK_RV ukm_init_pin(ukm_slot *s, const ukm_session *ss, const uint8_t *pin, size_t pin_len);

/* ---- PKCS#11 3.0 entry points (not in p11-kit 0.24's header) ---- */

CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount);
CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
                     CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags);
CK_RV C_LoginUser(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
                  CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername, CK_ULONG ulUsernameLen);
CK_RV C_SessionCancel(CK_SESSION_HANDLE hSession, CK_FLAGS flags);
CK_RV C_MessageEncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k);
CK_RV C_EncryptMessage(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                       CK_BYTE_PTR aad, CK_ULONG aad_len, CK_BYTE_PTR in, CK_ULONG in_len,
                       CK_BYTE_PTR out, CK_ULONG_PTR out_len);
CK_RV C_EncryptMessageBegin(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                            CK_BYTE_PTR aad, CK_ULONG aad_len);
CK_RV C_EncryptMessageNext(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                           CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                           CK_ULONG_PTR out_len, CK_FLAGS flags);
CK_RV C_MessageEncryptFinal(CK_SESSION_HANDLE h);
CK_RV C_MessageDecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k);
CK_RV C_DecryptMessage(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                       CK_BYTE_PTR aad, CK_ULONG aad_len, CK_BYTE_PTR in, CK_ULONG in_len,
                       CK_BYTE_PTR out, CK_ULONG_PTR out_len);
CK_RV C_DecryptMessageBegin(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                            CK_BYTE_PTR aad, CK_ULONG aad_len);
CK_RV C_DecryptMessageNext(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                           CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                           CK_ULONG_PTR out_len, CK_FLAGS flags);
CK_RV C_MessageDecryptFinal(CK_SESSION_HANDLE h);
CK_RV C_MessageSignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k);
CK_RV C_SignMessage(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                    CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len);
CK_RV C_SignMessageBegin(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len);
CK_RV C_SignMessageNext(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                        CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig,
                        CK_ULONG_PTR sig_len);
CK_RV C_MessageSignFinal(CK_SESSION_HANDLE h);
CK_RV C_MessageVerifyInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k);
CK_RV C_VerifyMessage(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                      CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig, CK_ULONG sig_len);
CK_RV C_VerifyMessageBegin(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len);
CK_RV C_VerifyMessageNext(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                          CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig,
                          CK_ULONG sig_len);
CK_RV C_MessageVerifyFinal(CK_SESSION_HANDLE h);

/* ---- return values (ukm_rv.c): the lists of PKCS#11 3.0 §5 ---- */

enum ukm_fn {
	UKM_FN_INITIALIZE,
	UKM_FN_FINALIZE,
	UKM_FN_GET_INFO,
	UKM_FN_GET_FUNCTION_LIST,
	UKM_FN_GET_INTERFACE_LIST,
	UKM_FN_GET_INTERFACE,
	UKM_FN_GET_SLOT_LIST,
	UKM_FN_GET_SLOT_INFO,
	UKM_FN_GET_TOKEN_INFO,
	UKM_FN_WAIT_FOR_SLOT_EVENT,
	UKM_FN_GET_MECHANISM_LIST,
	UKM_FN_GET_MECHANISM_INFO,
	UKM_FN_INIT_TOKEN,
	UKM_FN_INIT_PIN,
	UKM_FN_SET_PIN,
	UKM_FN_OPEN_SESSION,
	UKM_FN_CLOSE_SESSION,
	UKM_FN_CLOSE_ALL_SESSIONS,
	UKM_FN_GET_SESSION_INFO,
	UKM_FN_SESSION_CANCEL,
	UKM_FN_GET_OPERATION_STATE,
	UKM_FN_SET_OPERATION_STATE,
	UKM_FN_LOGIN,
	UKM_FN_LOGIN_USER,
	UKM_FN_LOGOUT,
	UKM_FN_CREATE_OBJECT,
	UKM_FN_COPY_OBJECT,
	UKM_FN_DESTROY_OBJECT,
	UKM_FN_GET_OBJECT_SIZE,
	UKM_FN_GET_ATTRIBUTE_VALUE,
	UKM_FN_SET_ATTRIBUTE_VALUE,
	UKM_FN_FIND_OBJECTS_INIT,
	UKM_FN_FIND_OBJECTS,
	UKM_FN_FIND_OBJECTS_FINAL,
	UKM_FN_ENCRYPT_INIT,
	UKM_FN_ENCRYPT,
	UKM_FN_ENCRYPT_UPDATE,
	UKM_FN_ENCRYPT_FINAL,
	UKM_FN_DECRYPT_INIT,
	UKM_FN_DECRYPT,
	UKM_FN_DECRYPT_UPDATE,
	UKM_FN_DECRYPT_FINAL,
	UKM_FN_DIGEST_INIT,
	UKM_FN_DIGEST,
	UKM_FN_DIGEST_UPDATE,
	UKM_FN_DIGEST_KEY,
	UKM_FN_DIGEST_FINAL,
	UKM_FN_SIGN_INIT,
	UKM_FN_SIGN,
	UKM_FN_SIGN_UPDATE,
	UKM_FN_SIGN_FINAL,
	UKM_FN_SIGN_RECOVER_INIT,
	UKM_FN_SIGN_RECOVER,
	UKM_FN_VERIFY_INIT,
	UKM_FN_VERIFY,
	UKM_FN_VERIFY_UPDATE,
	UKM_FN_VERIFY_FINAL,
	UKM_FN_VERIFY_RECOVER_INIT,
	UKM_FN_VERIFY_RECOVER,
	UKM_FN_DIGEST_ENCRYPT_UPDATE,
	UKM_FN_DECRYPT_DIGEST_UPDATE,
	UKM_FN_SIGN_ENCRYPT_UPDATE,
	UKM_FN_DECRYPT_VERIFY_UPDATE,
	UKM_FN_GENERATE_KEY,
	UKM_FN_GENERATE_KEY_PAIR,
	UKM_FN_WRAP_KEY,
	UKM_FN_UNWRAP_KEY,
	UKM_FN_DERIVE_KEY,
	UKM_FN_SEED_RANDOM,
	UKM_FN_GENERATE_RANDOM,
	UKM_FN_GET_FUNCTION_STATUS,
	UKM_FN_CANCEL_FUNCTION,
	UKM_FN_MESSAGE_INIT,     /* C_Message{Encrypt,Decrypt,Sign,Verify}Init */
	UKM_FN_MESSAGE,          /* the other message-based functions of 3.0 */
	UKM_FN_UKEY_GET_PIN_STATUS,     /* vendor "ukey" 1.1 (ukey-pkcs11.h) */
	UKM_FN_COUNT
};
/* rv if the function's list (with §5.1.1-3) holds it, else the most specific code it holds
 * for the same failure (logged). Every C_* returns through this. */
CK_RV ukm_rv(enum ukm_fn fn, CK_RV rv);
int ukm_rv_allowed(enum ukm_fn fn, CK_RV rv);

/* ---- helpers ---- */

/* Lock, check the session handle, unlock: for entry points that only need a valid
 * session before returning their fixed answer (stubs of later milestones). */
CK_RV ukm_entry_session_only(CK_SESSION_HANDLE h, CK_RV if_valid);

/* Copy a string into a blank-padded PKCS#11 text field. */
void ukm_pad(CK_UTF8CHAR *dst, size_t cap, const char *src);

#endif
