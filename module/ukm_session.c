/* ukey module: sessions (PKCS#11 2.40 §5.6) and the login state they share (§5.6.7, §6.7).
 *
 * The login belongs to the token in this process: every session of a slot sees it, and it
 * ends with the last session, with C_Logout, or with the secure session on the card. */
#include <stdlib.h>

#include "uk_wipe.h"
#include "ukm.h"

static ukm_session *g_sessions;
/* Sessions closed by a card event in the middle of an entry point (ukm_card_transmit sees
 * the removal): wiped and unlinked at once, freed at the next library lock, because the
 * entry point running still holds a pointer to its session. */
static ukm_session *g_dead;
static CK_SESSION_HANDLE g_next_handle = 1;     /* never reused, not even after C_Finalize */

CK_RV ukm_session_open(ukm_slot *s, CK_FLAGS flags, CK_SESSION_HANDLE *out)
{
	ukm_session *ss;
	CK_RV rv;

	if (!(flags & CKF_SERIAL_SESSION))
		return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
	if (!(flags & CKF_RW_SESSION) && s->login == UKM_LOGIN_SO)
		return CKR_SESSION_READ_WRITE_SO_EXISTS;
	ss = calloc(1, sizeof(*ss));
	if (ss == NULL)
		return CKR_HOST_MEMORY;
	s->session_count++;             /* keeps the card handle while we load */
	rv = ukm_card_load(s);
	if (rv != CKR_OK) {
		s->session_count--;
		ukm_card_idle(s);
		free(ss);
		return rv;
	}
	ss->handle = g_next_handle++;
	ss->slot = s->id;
	ss->flags = flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION);
	if (flags & CKF_RW_SESSION)
		s->rw_count++;
	ss->next = g_sessions;
	g_sessions = ss;
	*out = ss->handle;
	return CKR_OK;
}

CK_RV ukm_session_get(CK_SESSION_HANDLE h, ukm_session **out, ukm_slot **slot)
{
	ukm_session *ss;

	for (ss = g_sessions; ss != NULL; ss = ss->next) {
		if (ss->handle == h) {
			*out = ss;
			*slot = ukm_slot_get(ss->slot);
			return *slot != NULL ? CKR_OK : CKR_SESSION_HANDLE_INVALID;
		}
	}
	return CKR_SESSION_HANDLE_INVALID;
}

/* The last session of a token closed: log out on the card (§5.6.2: "the user is logged
 * out"), forget the secure session, let pcscd power the card down. */
static void ukm_session_last_closed(ukm_slot *s, int talk)
{
	if (talk && s->login != UKM_LOGIN_NONE)
		(void)ukm_secure_logout(s, s->login == UKM_LOGIN_SO ? 0x82 : 0x81);
	ukm_secure_drop(s);
	if (talk)
		ukm_card_idle(s);
}

static void ukm_session_free(ukm_session *ss, ukm_slot *s, int talk)
{
	ukm_sign_op_clear(&ss->sign);
	ukm_sign_op_clear(&ss->verify);
	ukm_sign_op_clear(&ss->encrypt);
	ukm_sign_op_clear(&ss->decrypt);
	ukm_sign_op_clear(&ss->digest);
	ukm_skey_session_closed(ss->handle);    /* its session objects (§4.4) */
	if (s != NULL) {
		s->session_count--;
		if (ss->flags & CKF_RW_SESSION)
			s->rw_count--;
		if (s->session_count == 0)
			ukm_session_last_closed(s, talk);
	}
	uk_wipe(ss, sizeof(*ss));
	ss->next = g_dead;
	g_dead = ss;
}

void ukm_session_reap(void)
{
	ukm_session *ss;

	while ((ss = g_dead) != NULL) {
		g_dead = ss->next;
		free(ss);
	}
}

CK_RV ukm_session_close(CK_SESSION_HANDLE h)
{
	ukm_session **pp, *ss;

	for (pp = &g_sessions; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->handle == h) {
			ss = *pp;
			*pp = ss->next;
			ukm_session_free(ss, ukm_slot_get(ss->slot), 1);
			return CKR_OK;
		}
	}
	return CKR_SESSION_HANDLE_INVALID;
}

void ukm_session_close_slot(ukm_slot *s, int talk)
{
	ukm_session **pp = &g_sessions, *ss;

	while (*pp != NULL) {
		ss = *pp;
		if (ss->slot != s->id) {
			pp = &ss->next;
			continue;
		}
		*pp = ss->next;
		ukm_session_free(ss, s, talk);
	}
}

/* C_Finalize or a forked child: the sessions go without any card I/O (C_Finalize logs out
 * through ukm_pcsc_release -> ukm_session_close_slot first). */
void ukm_session_free_all(void)
{
	ukm_session *ss;

	while ((ss = g_sessions) != NULL) {
		g_sessions = ss->next;
		ukm_session_free(ss, NULL, 0);
	}
	ukm_skey_free_all();
	ukm_session_reap();
}

CK_STATE ukm_session_state(const ukm_session *ss, const ukm_slot *s)
{
	int rw = (ss->flags & CKF_RW_SESSION) != 0;

	if (s->login == UKM_LOGIN_SO)
		return CKS_RW_SO_FUNCTIONS;
	if (s->login == UKM_LOGIN_USER)
		return rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
	return rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
}

int ukm_session_ro_exists(const ukm_slot *s)
{
	return s->session_count > s->rw_count;
}

/* A PC/SC transaction around a multi-APDU PIN sequence (secure session opening, the PIN
 * command, GET DATA 01), so another process's commands do not interleave with it. Best
 * effort: a card reset or removal is reported by the commands themselves. */
static int ukm_txn_begin(ukm_slot *s)
{
	if (ukm_card_open(s) != CKR_OK)
		return 0;
	return SCardBeginTransaction(s->card) == SCARD_S_SUCCESS;
}

static void ukm_txn_end(ukm_slot *s, int began)
{
	if (began && s->connected)
		SCardEndTransaction(s->card, SCARD_LEAVE_CARD);
}

/* The counters moved (or may have): re-read GET DATA 01 so the token flags follow them. */
static void ukm_pins_changed(ukm_slot *s)
{
	s->cache.have_pins = 0;
	(void)ukm_card_load_pins(s);
}

/* §5.6.7 C_Login rules, then secured VERIFY (P2 81 user, 82 SO); pin NULL: the protected
 * authentication path (pinpad VERIFY 84 20 00 81, user PIN only). */
static CK_RV ukm_login_in_txn(ukm_slot *s, CK_USER_TYPE type, const uint8_t *pin, size_t pin_len)
{
	enum ukm_login want;
	CK_RV rv;

	if (type != CKU_USER && type != CKU_SO)
		return CKR_USER_TYPE_INVALID;
	want = type == CKU_SO ? UKM_LOGIN_SO : UKM_LOGIN_USER;
	if (s->login == want)
		return CKR_USER_ALREADY_LOGGED_IN;
	if (s->login != UKM_LOGIN_NONE)
		return CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
	if (want == UKM_LOGIN_SO && ukm_session_ro_exists(s))
		return CKR_SESSION_READ_ONLY_EXISTS;
	if (want == UKM_LOGIN_USER && (s->cache.user.flags & 0x04))
		return CKR_USER_PIN_NOT_INITIALIZED;    /* after C_InitToken, until C_InitPIN */
	if (pin == NULL) {
		/* §5.6.7: a NULL PIN only where the token has a protected authentication path;
		 * the SO PIN is never typed on the key (docs/apdu.md). */
		if (want != UKM_LOGIN_USER || !(s->cache.features & 0x02))
			return CKR_ARGUMENTS_BAD;
		rv = ukm_secure_verify_pinpad(s);
	} else if (pin_len < UKM_PIN_MIN || pin_len > UKM_PIN_MAX) {
		/* A PIN the card's policy cannot hold is wrong without costing a try. */
		return CKR_PIN_INCORRECT;
	} else {
		rv = ukm_secure_verify(s, want == UKM_LOGIN_SO ? 0x82 : 0x81, pin, pin_len);
	}
	if (rv == CKR_OK) {
		/* docs/apdu.md VERIFY: a match resets the counter to the maximum. */
		if (want == UKM_LOGIN_SO)
			s->cache.so.tries = s->cache.so.max;
		else
			s->cache.user.tries = s->cache.user.max;
	}
	if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED)
		ukm_pins_changed(s);
	return rv;
}

CK_RV ukm_login(ukm_slot *s, CK_USER_TYPE type, const uint8_t *pin, size_t pin_len)
{
	int txn = ukm_txn_begin(s);
	CK_RV rv = ukm_login_in_txn(s, type, pin, pin_len);

	ukm_txn_end(s, txn);
	return rv;
}

/* The session's operation waiting for a context-specific login: a signature or decryption
 * with a CKA_ALWAYS_AUTHENTICATE key (PKCS#11 3.0 §4.9); NULL if none. */
static ukm_sign_op *ukm_context_op(ukm_session *ss)
{
	if (ss->sign.active && ss->sign.kp.always_auth)
		return &ss->sign;
	if (ss->decrypt.active && ss->decrypt.kp.always_auth)
		return &ss->decrypt;
	return NULL;
}

/* 3.0 §5.6.8 C_Login with CKU_CONTEXT_SPECIFIC: the user PIN again for the operation just
 * initialised on an always-authenticate key. Secured VERIFY 81 in the token's secure
 * session, which grants the card's one use of such a key (docs/apdu.md PSO). Deviation
 * forced by ISO 7816-4 VERIFY: a wrong PIN also ends the user's login in the card's
 * session, so the module's login state goes back to public. */
CK_RV ukm_login_context(ukm_slot *s, ukm_session *ss, const uint8_t *pin, size_t pin_len)
{
	ukm_sign_op *op = ukm_context_op(ss);
	CK_RV rv;
	int txn;

	if (op == NULL)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (s->login != UKM_LOGIN_USER)
		return CKR_USER_NOT_LOGGED_IN;
	if (pin == NULL)
		return CKR_ARGUMENTS_BAD;       /* the pinpad logs in, it does not grant one use */
	if (pin_len < UKM_PIN_MIN || pin_len > UKM_PIN_MAX)
		return CKR_PIN_INCORRECT;       /* as C_Login: cannot be right, costs no try */
	txn = ukm_txn_begin(s);
	rv = ukm_secure_verify(s, 0x81, pin, pin_len);
	if (rv == CKR_OK)
		op->ctx_auth = 1;
	else if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED) {
		s->login = UKM_LOGIN_NONE;      /* the card logged the user out of the session */
		ukm_pins_changed(s);
	}
	ukm_txn_end(s, txn);
	return rv;
}

/* 3.0 §5.6.4 C_InitToken (no session open; checked by the caller): a secure session of its
 * own, VERIFY 82 (SO PIN), REINITIALISE APPLICATION with the label (the 32-byte blank-padded
 * field, trailing blanks trimmed), then the SO logs out and every cached view of the card
 * is dropped. */
CK_RV ukm_init_token(ukm_slot *s, const uint8_t *pin, size_t pin_len, const CK_UTF8CHAR *label)
{
	size_t len = 32;
	CK_RV rv;
	int txn;

	if (pin_len < UKM_PIN_MIN || pin_len > UKM_PIN_MAX)
		return CKR_PIN_INCORRECT;
	while (len > 1 && label[len - 1] == ' ')
		len--;
	txn = ukm_txn_begin(s);
	rv = ukm_secure_open(s);
	if (rv == CKR_OK)
		rv = ukm_secure_verify(s, 0x82, pin, pin_len);
	if (rv == CKR_OK)
		rv = ukm_secure_reinit(s, label, len);
	if (s->login == UKM_LOGIN_SO)
		(void)ukm_secure_logout(s, 0x82);
	s->login = UKM_LOGIN_NONE;
	ukm_card_files_forget(&s->cache);
	s->cache.have_info = s->cache.have_containers = s->cache.have_files = 0;
	ukm_pins_changed(s);
	ukm_txn_end(s, txn);
	return rv;
}

/* The card's PIN policy (docs/apdu.md CHANGE REFERENCE DATA): 8-12 characters, letters and
 * digits only, both present. §5.5.8-9: a wrong length is CKR_PIN_LEN_RANGE, a wrong
 * character set CKR_PIN_INVALID, checked here so a refused PIN never costs an APDU. */
static CK_RV ukm_pin_policy(const uint8_t *pin, size_t len)
{
	int letter = 0, digit = 0;
	size_t i;

	if (len < UKM_PIN_MIN || len > UKM_PIN_MAX)
		return CKR_PIN_LEN_RANGE;
	for (i = 0; i < len; i++) {
		if (pin[i] >= '0' && pin[i] <= '9')
			digit = 1;
		else if ((pin[i] >= 'a' && pin[i] <= 'z') || (pin[i] >= 'A' && pin[i] <= 'Z'))
			letter = 1;
		else
			return CKR_PIN_INVALID;
	}
	return letter && digit ? CKR_OK : CKR_PIN_INVALID;
}

/* §5.5.9 C_SetPIN: the PIN of the user logged in (SO: P2 82), else the user PIN (P2 81),
 * from a read/write session. CHANGE REFERENCE DATA carries the old PIN, so no login is
 * needed; success clears the must-change flag (CKF_*_PIN_TO_BE_CHANGED). */
CK_RV ukm_set_pin(ukm_slot *s, const ukm_session *ss, const uint8_t *old, size_t old_len,
                  const uint8_t *pin, size_t pin_len)
{
	CK_RV rv;
	int txn;

	if (!(ss->flags & CKF_RW_SESSION))
		return CKR_SESSION_READ_ONLY;
	if (old == NULL || pin == NULL)
		return CKR_ARGUMENTS_BAD;       /* no pinpad form of CHANGE REFERENCE DATA */
	if ((rv = ukm_pin_policy(pin, pin_len)) != CKR_OK)
		return rv;
	if (old_len < UKM_PIN_MIN || old_len > UKM_PIN_MAX)
		return CKR_PIN_INCORRECT;       /* as C_Login: cannot be right, costs no try */
	txn = ukm_txn_begin(s);
	rv = ukm_secure_change_pin(s, s->login == UKM_LOGIN_SO ? 0x82 : 0x81, old, old_len, pin,
	                           pin_len);
	if (rv == CKR_USER_NOT_LOGGED_IN)
		rv = CKR_DEVICE_ERROR;          /* 6982 is not an answer of this instruction */
	ukm_pins_changed(s);
	ukm_txn_end(s, txn);
	return rv;
}

/* §5.5.8 C_InitPIN: only in the "R/W SO Functions" state; RESET RETRY COUNTER unblocks the
 * user PIN and sets it (flagged must-change by the card). */
CK_RV ukm_init_pin(ukm_slot *s, const ukm_session *ss, const uint8_t *pin, size_t pin_len)
{
	CK_RV rv;
	int txn;

	if (ukm_session_state(ss, s) != CKS_RW_SO_FUNCTIONS)
		return CKR_USER_NOT_LOGGED_IN;
	if (pin == NULL)
		return CKR_ARGUMENTS_BAD;
	if ((rv = ukm_pin_policy(pin, pin_len)) != CKR_OK)
		return rv;
	txn = ukm_txn_begin(s);
	rv = ukm_secure_reset_pin(s, pin, pin_len);
	ukm_pins_changed(s);
	ukm_txn_end(s, txn);
	return rv;
}

/* §5.6.8 C_Logout. */
CK_RV ukm_logout(ukm_slot *s)
{
	if (s->login == UKM_LOGIN_NONE)
		return CKR_USER_NOT_LOGGED_IN;
	return ukm_secure_logout(s, s->login == UKM_LOGIN_SO ? 0x82 : 0x81);
}
