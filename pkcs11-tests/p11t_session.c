/* p11t_session.c — session management (§5.6): opening, handles, states, login and logout.
 *
 * Only ONE wrong PIN is ever tried, followed by a right login that resets the counter: the
 * suite must never lock the token it runs against. */
#include <string.h>

#include "p11t.h"

#define WRONG_PIN "wrong999" /* 8 letters and digits: inside every module's length bounds */
#define BOGUS_USER_TYPE 7UL  /* CKU_SO 0, CKU_USER 1, CKU_CONTEXT_SPECIFIC 2 are defined */

/* §5.6.1: "if a call to C_OpenSession does not have [CKF_SERIAL_SESSION] set, the call
 * should return unsuccessfully with the error code CKR_SESSION_PARALLEL_NOT_SUPPORTED". */
int p11t_case_open_session_parallel(struct p11t *t)
{
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;

	p11t_rv(t, t->f->C_OpenSession(t->slot, 0, NULL, NULL, &s),
	        CKR_SESSION_PARALLEL_NOT_SUPPORTED, "C_OpenSession(flags 0)");
	p11t_rv(t, t->f->C_OpenSession(t->slot, CKF_RW_SESSION, NULL, NULL, &s),
	        CKR_SESSION_PARALLEL_NOT_SUPPORTED, "C_OpenSession(CKF_RW_SESSION only)");
	p11t_rv(t, t->f->C_OpenSession(t->slot, CKF_SERIAL_SESSION, NULL, NULL, NULL),
	        CKR_ARGUMENTS_BAD, "C_OpenSession(phSession NULL)");
	return p11t_result(t);
}

static void check_session_flags(struct p11t *t, CK_SESSION_HANDLE s, CK_FLAGS want)
{
	CK_SESSION_INFO si;

	if (p11t_rv(t, t->f->C_GetSessionInfo(s, &si), CKR_OK, "C_GetSessionInfo"))
		p11t_true(t, (si.flags & (CKF_SERIAL_SESSION | CKF_RW_SESSION)) == want,
		          "session flags 0x%lx, want 0x%lx", (unsigned long)si.flags,
		          (unsigned long)want);
}

/* §5.6.1-§5.6.4, §3.3: handles are valid (not CK_INVALID_HANDLE) and distinct; a closed
 * session's handle is CKR_SESSION_HANDLE_INVALID; C_CloseAllSessions closes every session. */
int p11t_case_session_handles(struct p11t *t)
{
	CK_SESSION_HANDLE a, b;
	CK_SESSION_INFO si;

	if (!p11t_open(t, false, &a) || !p11t_open(t, true, &b))
		return P11T_FAIL;
	p11t_true(t, a != CK_INVALID_HANDLE && b != CK_INVALID_HANDLE && a != b,
	          "session handles %lu and %lu", (unsigned long)a, (unsigned long)b);
	check_session_flags(t, a, CKF_SERIAL_SESSION);
	check_session_flags(t, b, CKF_SERIAL_SESSION | CKF_RW_SESSION);
	p11t_rv(t, t->f->C_CloseSession(a), CKR_OK, "C_CloseSession");
	p11t_rv(t, t->f->C_GetSessionInfo(a, &si), CKR_SESSION_HANDLE_INVALID,
	        "C_GetSessionInfo(closed session)");
	p11t_rv(t, t->f->C_CloseSession(a), CKR_SESSION_HANDLE_INVALID,
	        "C_CloseSession(closed session)");
	p11t_rv(t, t->f->C_GetSessionInfo(CK_INVALID_HANDLE, &si), CKR_SESSION_HANDLE_INVALID,
	        "C_GetSessionInfo(CK_INVALID_HANDLE)");
	p11t_state(t, b, CKS_RW_PUBLIC_SESSION, "the other session after closing one");
	p11t_rv(t, t->f->C_CloseAllSessions(t->slot), CKR_OK, "C_CloseAllSessions");
	p11t_rv(t, t->f->C_GetSessionInfo(b, &si), CKR_SESSION_HANDLE_INVALID,
	        "C_GetSessionInfo after C_CloseAllSessions");
	return p11t_result(t);
}

/* §3.3 CK_STATE and the session-state rules of §5.6.7/§5.6.8: R/O and R/W public sessions
 * become user-functions sessions on C_Login(CKU_USER) and public again on C_Logout. */
int p11t_case_session_states(struct p11t *t)
{
	CK_SESSION_HANDLE ro, rw;

	if (!p11t_open(t, false, &ro) || !p11t_open(t, true, &rw))
		return P11T_FAIL;
	p11t_state(t, ro, CKS_RO_PUBLIC_SESSION, "RO before login");
	p11t_state(t, rw, CKS_RW_PUBLIC_SESSION, "RW before login");
	if (!p11t_login_user(t, rw))
		return P11T_FAIL;
	p11t_state(t, ro, CKS_RO_USER_FUNCTIONS, "RO after login");
	p11t_state(t, rw, CKS_RW_USER_FUNCTIONS, "RW after login");
	p11t_rv(t, t->f->C_Logout(ro), CKR_OK, "C_Logout");
	p11t_state(t, ro, CKS_RO_PUBLIC_SESSION, "RO after logout");
	p11t_state(t, rw, CKS_RW_PUBLIC_SESSION, "RW after logout");
	return p11t_result(t);
}

/* §5.6.7: the login state belongs to the application and the token, so every session — open
 * before or after C_Login — is logged in; logging out through one logs all out. */
int p11t_case_login_shared(struct p11t *t)
{
	CK_SESSION_HANDLE a, b;

	if (!p11t_open(t, false, &a) || !p11t_login_user(t, a) || !p11t_open(t, false, &b))
		return P11T_FAIL;
	p11t_state(t, b, CKS_RO_USER_FUNCTIONS, "session opened after login");
	p11t_rv(t, t->f->C_Logout(b), CKR_OK, "C_Logout through the other session");
	p11t_state(t, a, CKS_RO_PUBLIC_SESSION, "first session after the other logged out");
	return p11t_result(t);
}

/* §5.6.7: a wrong PIN is CKR_PIN_INCORRECT and leaves the session public; the right PIN
 * then logs in. */
int p11t_case_login_wrong_pin(struct p11t *t)
{
	CK_SESSION_HANDLE s;

	if (!p11t_true(t, t->user_pin_len != strlen(WRONG_PIN) ||
	                      memcmp(t->user_pin, WRONG_PIN, t->user_pin_len) != 0,
	               "the user PIN is the suite's wrong PIN") ||
	    !p11t_open(t, false, &s))
		return P11T_FAIL;
	p11t_rv(t,
	        t->f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)WRONG_PIN,
	                      (CK_ULONG)strlen(WRONG_PIN)),
	        CKR_PIN_INCORRECT, "C_Login(wrong PIN)");
	p11t_state(t, s, CKS_RO_PUBLIC_SESSION, "after the wrong PIN");
	if (p11t_login_user(t, s))
		p11t_state(t, s, CKS_RO_USER_FUNCTIONS, "after the right PIN");
	return p11t_result(t);
}

/* §5.6.7: logging in again as the same user is CKR_USER_ALREADY_LOGGED_IN. */
int p11t_case_login_already(struct p11t *t)
{
	CK_SESSION_HANDLE s;

	if (!p11t_open(t, false, &s) || !p11t_login_user(t, s))
		return P11T_FAIL;
	p11t_rv(t,
	        t->f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)t->user_pin,
	                      (CK_ULONG)t->user_pin_len),
	        CKR_USER_ALREADY_LOGGED_IN, "second C_Login(CKU_USER)");
	p11t_state(t, s, CKS_RO_USER_FUNCTIONS, "after the refused second login");
	return p11t_result(t);
}

/* §5.6.8: C_Logout with nobody logged in is CKR_USER_NOT_LOGGED_IN. */
int p11t_case_logout_not_logged_in(struct p11t *t)
{
	CK_SESSION_HANDLE s;

	if (!p11t_open(t, false, &s))
		return P11T_FAIL;
	p11t_rv(t, t->f->C_Logout(s), CKR_USER_NOT_LOGGED_IN, "C_Logout(not logged in)");
	if (p11t_login_user(t, s) && p11t_rv(t, t->f->C_Logout(s), CKR_OK, "C_Logout"))
		p11t_rv(t, t->f->C_Logout(s), CKR_USER_NOT_LOGGED_IN, "second C_Logout");
	return p11t_result(t);
}

/* §5.6.7 / §3.3 CK_USER_TYPE: an undefined user type is CKR_USER_TYPE_INVALID. */
int p11t_case_login_user_type_invalid(struct p11t *t)
{
	CK_SESSION_HANDLE s;

	if (!p11t_open(t, false, &s))
		return P11T_FAIL;
	p11t_rv(t,
	        t->f->C_Login(s, BOGUS_USER_TYPE, (CK_UTF8CHAR_PTR)t->user_pin,
	                      (CK_ULONG)t->user_pin_len),
	        CKR_USER_TYPE_INVALID, "C_Login(user type 7)");
	p11t_state(t, s, CKS_RO_PUBLIC_SESSION, "after the refused login");
	return p11t_result(t);
}

static CK_RV login_so(struct p11t *t, CK_SESSION_HANDLE s)
{
	return t->f->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)t->so_pin, (CK_ULONG)t->so_pin_len);
}

/* §5.6.7: with a R/O session open the SO cannot log in (CKR_SESSION_READ_ONLY_EXISTS); in a
 * R/W session the SO gets CKS_RW_SO_FUNCTIONS, no R/O session can then be opened
 * (§5.6.1, CKR_SESSION_READ_WRITE_SO_EXISTS) and the user cannot log in
 * (CKR_USER_ANOTHER_ALREADY_LOGGED_IN). Only right SO PINs are used. */
int p11t_case_login_so(struct p11t *t)
{
	CK_SESSION_HANDLE ro, rw, other = CK_INVALID_HANDLE;

	if (t->so_pin == NULL)
		return p11t_skip(t, "P11T_SO_PIN not set");
	if (!p11t_open(t, false, &ro) || !p11t_open(t, true, &rw))
		return P11T_FAIL;
	p11t_rv(t, login_so(t, rw), CKR_SESSION_READ_ONLY_EXISTS, "C_Login(CKU_SO) with a RO session");
	if (!p11t_rv(t, t->f->C_CloseSession(ro), CKR_OK, "C_CloseSession(RO)") ||
	    !p11t_rv(t, login_so(t, rw), CKR_OK, "C_Login(CKU_SO)"))
		return P11T_FAIL;
	p11t_state(t, rw, CKS_RW_SO_FUNCTIONS, "after SO login");
	p11t_rv(t, t->f->C_OpenSession(t->slot, CKF_SERIAL_SESSION, NULL, NULL, &other),
	        CKR_SESSION_READ_WRITE_SO_EXISTS, "C_OpenSession(RO) while the SO is logged in");
	p11t_rv(t,
	        t->f->C_Login(rw, CKU_USER, (CK_UTF8CHAR_PTR)t->user_pin,
	                      (CK_ULONG)t->user_pin_len),
	        CKR_USER_ANOTHER_ALREADY_LOGGED_IN, "C_Login(CKU_USER) while the SO is logged in");
	p11t_rv(t, t->f->C_Logout(rw), CKR_OK, "C_Logout(SO)");
	p11t_state(t, rw, CKS_RW_PUBLIC_SESSION, "after SO logout");
	return p11t_result(t);
}

/* §5.6.2/§5.6.3: closing the application's last session with the token logs the user out. */
int p11t_case_close_all_logs_out(struct p11t *t)
{
	CK_SESSION_HANDLE s;

	if (!p11t_open(t, false, &s) || !p11t_login_user(t, s))
		return P11T_FAIL;
	if (!p11t_rv(t, t->f->C_CloseAllSessions(t->slot), CKR_OK, "C_CloseAllSessions") ||
	    !p11t_open(t, false, &s))
		return P11T_FAIL;
	p11t_state(t, s, CKS_RO_PUBLIC_SESSION, "new session after closing all");
	return p11t_result(t);
}
