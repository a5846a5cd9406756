/* p11t.h — the module-agnostic PKCS#11 API suite (one program, small named cases).
 *
 * The program dlopens the module named by $P11T_MODULE and runs each case of the table in
 * p11t_main.c against it, printing one line per case ("NAME: ok", "NAME: FAIL: why",
 * "NAME: skip: why") and a final "N passed, N failed, N skipped". The same program runs
 * against ukey directly, through p11-kit-proxy.so and against SoftHSM2 (the oracle for
 * generic semantics); $P11T_PROFILE only tells which optional algorithms a module has.
 *
 * Section numbers in the cases refer to PKCS#11 Cryptographic Token Interface Base
 * Specification v2.40 (the module's advertised version) unless marked otherwise;
 * "Mech §" is the v2.40 Current Mechanisms Specification. */
#ifndef P11T_H
#define P11T_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <p11-kit/pkcs11.h>

enum p11t_result { P11T_PASS, P11T_FAIL, P11T_SKIP };

/* Optional capabilities of a module, named by its profile. */
enum {
	P11T_CAP_SM2 = 1u << 0,  /* SM2 keys and CKM_UKEY_SM2_SM3 (ukey vendor mechanisms) */
	P11T_CAP_P256 = 1u << 1, /* EC P-256 keys and CKM_ECDSA */
};

/* Which key the generic (algorithm-independent) cases generate and sign with. */
enum p11t_key_kind { P11T_KEY_SM2, P11T_KEY_P256 };

struct p11t_profile {
	const char *name;
	unsigned caps;
	enum p11t_key_kind generic_key;
};

/* One run of one case. */
struct p11t {
	CK_FUNCTION_LIST_PTR f;
	const struct p11t_profile *prof;
	CK_SLOT_ID slot;           /* the token under test (chosen after C_Initialize) */
	const char *user_pin;      /* from the environment: pointer + length, never printed */
	size_t user_pin_len;
	const char *so_pin;        /* NULL when $P11T_SO_PIN is not set */
	size_t so_pin_len;
	const char *token_label;   /* token selection, NULL = any initialised token */
	const char *token_manuf;
	const char *case_name;
	bool failed;
	char msg[512];             /* the first failure, or the skip reason */
};

struct p11t_case {
	const char *name;
	int (*fn)(struct p11t *t);
	unsigned caps;   /* capabilities the case needs, P11T_CAP_* */
	bool own_init;   /* the case calls C_Initialize/C_Finalize itself */
};

/* ---- checks (p11t_check.c): record the first failure, return whether it held ---- */
const char *p11t_rv_name(CK_RV rv);
bool p11t_rv(struct p11t *t, CK_RV got, CK_RV want, const char *what);
bool p11t_true(struct p11t *t, bool cond, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int p11t_skip(struct p11t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int p11t_result(const struct p11t *t);
bool p11t_padded(struct p11t *t, const CK_UTF8CHAR *s, size_t n, const char *what);

/* ---- helpers (p11t_util.c) ---- */
bool p11t_select_slot(struct p11t *t);
bool p11t_open(struct p11t *t, bool rw, CK_SESSION_HANDLE *s);
bool p11t_login_user(struct p11t *t, CK_SESSION_HANDLE s);
bool p11t_state(struct p11t *t, CK_SESSION_HANDLE s, CK_STATE want, const char *when);
bool p11t_find(struct p11t *t, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *label,
               CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *n);

/* ---- keys and signatures (p11t_keys.c) ---- */
struct p11t_keypair {
	enum p11t_key_kind kind;
	CK_OBJECT_HANDLE pub, priv;
	unsigned char point[65]; /* 04||X||Y, read back from CKA_EC_POINT */
};

CK_RV p11t_keygen(struct p11t *t, CK_SESSION_HANDLE s, enum p11t_key_kind kind,
                  const char *label, struct p11t_keypair *kp);
bool p11t_read_point(struct p11t *t, CK_SESSION_HANDLE s, struct p11t_keypair *kp);
/* The DER CKA_EC_PARAMS (namedCurve OID) of a key kind. */
const unsigned char *p11t_ec_params(enum p11t_key_kind kind, size_t *len);
/* The mechanism and the data actually given to C_Sign for message msg (a SHA-256 digest
 * computed here for CKM_ECDSA; the message itself for CKM_UKEY_SM2_SM3). */
void p11t_sign_mech(enum p11t_key_kind kind, CK_MECHANISM *mech);
bool p11t_sign_input(enum p11t_key_kind kind, const unsigned char *msg, size_t len,
                     unsigned char *in, CK_ULONG *in_len);
/* OpenSSL's verdict on a raw r||s signature of msg under kp (the oracle, not the module). */
bool p11t_openssl_verify(const struct p11t_keypair *kp, const unsigned char *msg,
                         size_t msg_len, const unsigned char *sig, size_t sig_len);

/* ---- the cases ---- */
int p11t_case_get_info(struct p11t *t);
int p11t_case_initialize_twice(struct p11t *t);
int p11t_case_initialize_args(struct p11t *t);
int p11t_case_finalize_reserved(struct p11t *t);
int p11t_case_after_finalize(struct p11t *t);
int p11t_case_slot_list(struct p11t *t);
int p11t_case_slot_info(struct p11t *t);
int p11t_case_token_info(struct p11t *t);
int p11t_case_token_session_count(struct p11t *t);
int p11t_case_mechanism_list(struct p11t *t);
int p11t_case_mechanism_info(struct p11t *t);

int p11t_case_open_session_parallel(struct p11t *t);
int p11t_case_session_handles(struct p11t *t);
int p11t_case_session_states(struct p11t *t);
int p11t_case_login_shared(struct p11t *t);
int p11t_case_login_wrong_pin(struct p11t *t);
int p11t_case_login_already(struct p11t *t);
int p11t_case_logout_not_logged_in(struct p11t *t);
int p11t_case_login_user_type_invalid(struct p11t *t);
int p11t_case_login_so(struct p11t *t);
int p11t_case_close_all_logs_out(struct p11t *t);

int p11t_case_find_operation_state(struct p11t *t);
int p11t_case_find_paging(struct p11t *t);
int p11t_case_private_hidden(struct p11t *t);
int p11t_case_attribute_rules(struct p11t *t);
int p11t_case_attribute_sensitive(struct p11t *t);
int p11t_case_invalid_handles(struct p11t *t);
int p11t_case_sign_init_invalid_key(struct p11t *t);

int p11t_case_keygen_read_only(struct p11t *t);
int p11t_case_sign_not_initialized(struct p11t *t);
int p11t_case_sign_init_bad_mechanism(struct p11t *t);
int p11t_case_sign_length_query(struct p11t *t);
int p11t_case_sm2_sign_verify(struct p11t *t);
int p11t_case_ecdsa_p256_sign_verify(struct p11t *t);
int p11t_case_rsa_sign_verify(struct p11t *t);
int p11t_case_rsa_oaep_decrypt(struct p11t *t);

#endif
