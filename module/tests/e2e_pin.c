/* module_e2e_pin: the PIN functions of $UKEY_MODULE against an emulated key (run inside
 * tools/ukey-sandbox --max-tries 3): C_SetPIN (CHANGE REFERENCE DATA; §5.5.9 return values
 * for a read-only session, the PIN policy and a wrong old PIN), a locked user PIN
 * (CKR_PIN_LOCKED, CKF_USER_PIN_LOCKED), C_InitPIN by the SO (RESET RETRY COUNTER unblocks,
 * CKF_USER_PIN_TO_BE_CHANGED until the holder's C_SetPIN), CKU_CONTEXT_SPECIFIC with no
 * CKA_ALWAYS_AUTHENTICATE key. With argument "pinpad" (ukey-sandbox --pinpad
 * --auto-pinpad): CKF_PROTECTED_AUTHENTICATION_PATH and C_Login with a NULL PIN. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include "uk_test.h"

static CK_FUNCTION_LIST_PTR fl;
static CK_SLOT_ID slot;

#define PIN(s) (CK_UTF8CHAR_PTR)(s), (CK_ULONG)strlen(s)

static CK_FLAGS token_flags(void)
{
	CK_TOKEN_INFO ti;

	UK_CHECK_EQ(fl->C_GetTokenInfo(slot, &ti), CKR_OK);
	return ti.flags;
}

static CK_SESSION_HANDLE open_session(CK_FLAGS rw)
{
	CK_SESSION_HANDLE h;

	UK_CHECK_EQ(fl->C_OpenSession(slot, CKF_SERIAL_SESSION | rw, NULL, NULL, &h), CKR_OK);
	return h;
}

static void check_set_pin(const char *user)
{
	CK_SESSION_HANDLE ro = open_session(0), rw = open_session(CKF_RW_SESSION);

	UK_CHECK_EQ(fl->C_SetPIN(ro, PIN(user), PIN("newpin123")), CKR_SESSION_READ_ONLY);
	UK_CHECK_EQ(fl->C_SetPIN(rw, PIN(user), PIN("abc123")), CKR_PIN_LEN_RANGE);
	UK_CHECK_EQ(fl->C_SetPIN(rw, PIN(user), PIN("abc1234567890")), CKR_PIN_LEN_RANGE);
	UK_CHECK_EQ(fl->C_SetPIN(rw, PIN(user), PIN("abcdefghij")), CKR_PIN_INVALID);
	UK_CHECK_EQ(fl->C_SetPIN(rw, PIN(user), PIN("1234567890")), CKR_PIN_INVALID);
	UK_CHECK_EQ(fl->C_SetPIN(rw, PIN(user), PIN("abcd-12345")), CKR_PIN_INVALID);
	UK_CHECK(!(token_flags() & CKF_USER_PIN_COUNT_LOW));     /* policy costs no try */
	UK_CHECK_EQ(fl->C_SetPIN(rw, PIN("wrong1234"), PIN("newpin123")), CKR_PIN_INCORRECT);
	UK_CHECK(token_flags() & CKF_USER_PIN_COUNT_LOW);
	/* Public R/W session: the user PIN changes; the counter is back at the maximum. */
	UK_CHECK_EQ(fl->C_SetPIN(rw, PIN(user), PIN("newpin123")), CKR_OK);
	UK_CHECK(!(token_flags() & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_TO_BE_CHANGED)));
	UK_CHECK_EQ(fl->C_Login(rw, CKU_USER, PIN(user)), CKR_PIN_INCORRECT);
	UK_CHECK_EQ(fl->C_Login(rw, CKU_USER, PIN("newpin123")), CKR_OK);
	/* Logged in: the user's own PIN, back to the original. */
	UK_CHECK_EQ(fl->C_SetPIN(rw, PIN("newpin123"), PIN(user)), CKR_OK);
	UK_CHECK_EQ(fl->C_InitPIN(rw, PIN("other1234")), CKR_USER_NOT_LOGGED_IN);
	UK_CHECK_EQ(fl->C_Login(rw, CKU_CONTEXT_SPECIFIC, PIN(user)),
	            CKR_OPERATION_NOT_INITIALIZED);
	UK_CHECK_EQ(fl->C_Logout(rw), CKR_OK);
	UK_CHECK_EQ(fl->C_Login(rw, CKU_USER, PIN(user)), CKR_OK);
	UK_CHECK_EQ(fl->C_Logout(rw), CKR_OK);
	UK_CHECK_EQ(fl->C_CloseSession(ro), CKR_OK);
	UK_CHECK_EQ(fl->C_CloseSession(rw), CKR_OK);
}

static void check_lock_and_unlock(const char *user, const char *so)
{
	CK_SESSION_HANDLE ro = open_session(0), h = open_session(CKF_RW_SESSION);
	CK_RV rv = CKR_OK;
	int i;

	/* --max-tries 3: the third wrong PIN locks. */
	for (i = 0; i < 3; i++)
		rv = fl->C_Login(h, CKU_USER, PIN("wrong1234"));
	UK_CHECK_EQ(rv, CKR_PIN_LOCKED);
	UK_CHECK(token_flags() & CKF_USER_PIN_LOCKED);
	UK_CHECK_EQ(fl->C_Login(h, CKU_USER, PIN(user)), CKR_PIN_LOCKED);
	UK_CHECK_EQ(fl->C_SetPIN(h, PIN(user), PIN("newpin123")), CKR_PIN_LOCKED);
	/* The SO unblocks (S0-B4): R/W SO state only. */
	UK_CHECK_EQ(fl->C_Login(h, CKU_SO, PIN(so)), CKR_SESSION_READ_ONLY_EXISTS);
	UK_CHECK_EQ(fl->C_CloseSession(ro), CKR_OK);
	UK_CHECK_EQ(fl->C_Login(h, CKU_SO, PIN(so)), CKR_OK);
	UK_CHECK_EQ(fl->C_InitPIN(h, PIN("short1")), CKR_PIN_LEN_RANGE);
	UK_CHECK_EQ(fl->C_InitPIN(h, PIN("onlyletters")), CKR_PIN_INVALID);
	UK_CHECK_EQ(fl->C_InitPIN(h, PIN("reset1234")), CKR_OK);
	UK_CHECK(!(token_flags() & CKF_USER_PIN_LOCKED));
	UK_CHECK(token_flags() & CKF_USER_PIN_TO_BE_CHANGED);
	UK_CHECK_EQ(fl->C_Logout(h), CKR_OK);
	UK_CHECK_EQ(fl->C_Login(h, CKU_USER, PIN(user)), CKR_PIN_INCORRECT);
	UK_CHECK_EQ(fl->C_Login(h, CKU_USER, PIN("reset1234")), CKR_OK);
	UK_CHECK_EQ(fl->C_SetPIN(h, PIN("reset1234"), PIN(user)), CKR_OK);
	UK_CHECK(!(token_flags() & (CKF_USER_PIN_TO_BE_CHANGED | CKF_USER_PIN_LOCKED |
	                            CKF_USER_PIN_COUNT_LOW)));
	UK_CHECK_EQ(fl->C_CloseSession(h), CKR_OK);
}

static void check_pinpad(int pinpad, const char *user)
{
	CK_SESSION_HANDLE h = open_session(CKF_RW_SESSION);
	CK_SESSION_INFO si;

	if (!pinpad) {
		UK_CHECK(!(token_flags() & CKF_PROTECTED_AUTHENTICATION_PATH));
		UK_CHECK_EQ(fl->C_Login(h, CKU_USER, NULL, 0), CKR_ARGUMENTS_BAD);
		UK_CHECK_EQ(fl->C_CloseSession(h), CKR_OK);
		return;
	}
	UK_CHECK(token_flags() & CKF_PROTECTED_AUTHENTICATION_PATH);
	UK_CHECK_EQ(fl->C_Login(h, CKU_SO, NULL, 0), CKR_ARGUMENTS_BAD);
	/* The emulator's pinpad types $UKEY_USER_PIN (--auto-pinpad). */
	UK_CHECK_EQ(fl->C_Login(h, CKU_USER, NULL, 0), CKR_OK);
	UK_CHECK_EQ(fl->C_GetSessionInfo(h, &si), CKR_OK);
	UK_CHECK_EQ(si.state, CKS_RW_USER_FUNCTIONS);
	UK_CHECK_EQ(fl->C_Logout(h), CKR_OK);
	/* A key with a pinpad still takes the PIN from the host. */
	UK_CHECK_EQ(fl->C_Login(h, CKU_USER, PIN(user)), CKR_OK);
	UK_CHECK_EQ(fl->C_CloseSession(h), CKR_OK);
}

int main(int argc, char **argv)
{
	const char *mod = getenv("UKEY_MODULE"), *user = getenv("UKEY_USER_PIN");
	const char *so = getenv("UKEY_SO_PIN"), *tries = getenv("UKEY_MAX_TRIES");
	int pinpad = argc > 1 && strcmp(argv[1], "pinpad") == 0;
	CK_RV (*gfl)(CK_FUNCTION_LIST_PTR_PTR);
	CK_SLOT_ID slots[8];
	CK_ULONG n = 8;
	void *so_h;

	if (mod == NULL || user == NULL || so == NULL)
		return uk_test_skip("not inside ukey-sandbox");
	so_h = dlopen(mod, RTLD_NOW | RTLD_LOCAL);
	UK_CHECK(so_h != NULL);
	*(void **)&gfl = dlsym(so_h, "C_GetFunctionList");
	UK_CHECK(gfl != NULL && gfl(&fl) == CKR_OK);
	UK_CHECK_EQ(fl->C_Initialize(NULL), CKR_OK);
	UK_CHECK_EQ(fl->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	UK_CHECK(n >= 1);
	slot = slots[0];
	check_pinpad(pinpad, user);
	if (!pinpad) {
		check_set_pin(user);
		if (tries != NULL && strcmp(tries, "3") == 0)
			check_lock_and_unlock(user, so);
	}
	UK_CHECK_EQ(fl->C_Finalize(NULL), CKR_OK);
	dlclose(so_h);
	return uk_test_done(pinpad ? "module_e2e_pin (pinpad)" : "module_e2e_pin");
}
