/* module_e2e_pin_status: the vendor interface "ukey" 1.1 get_pin_status (ukey-pkcs11.h,
 * docs/pkcs11-profile.md) against an emulated key, run inside tools/ukey-sandbox
 * --max-tries 3 on a freshly provisioned key. Each state is checked twice: against what the
 * emulator's provisioning and docs/apdu.md GET DATA 01 say it must be (not against the module's
 * own parse), and against the standard CK_TOKEN_INFO flags of the same moment (§5.5.3), which
 * must agree. States: provisioned (tries = max, must change, initialised), one wrong C_Login,
 * a correct one, the final try, locked, SO wrong / right, unblocked by C_InitPIN, after
 * C_InitToken (user PIN not initialised); the cost (exactly one APDU on a connected card,
 * get_apdu_count), argument and state errors, and a pulled key (ukey-emu ctl remove), before
 * and during the command. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <p11-kit/pkcs11.h>

#include "ukey-pkcs11.h"
#include "ukey-pkcs11-3.h"
#include "e2e_util.h"
#include "uk_test.h"

#define PIN(s) (CK_UTF8CHAR_PTR)(s), (CK_ULONG)strlen(s)
#define MAX_TRIES 3

static CK_FUNCTION_LIST_PTR fl;
static CK_UKEY_FUNCTION_LIST *uk;
static CK_SLOT_ID slot;

static CK_UKEY_PIN_STATUS status(CK_USER_TYPE who)
{
	CK_UKEY_PIN_STATUS st;

	memset(&st, 0xA5, sizeof(st));
	UK_CHECK_EQ(uk->get_pin_status(slot, who, &st), CKR_OK);
	return st;
}

/* The token flags of §5.5.3 say the same as the status (the module derives both from one
 * GET DATA 01; C_GetTokenInfo answers from the cache the status call just refreshed). */
static void check_agrees(CK_USER_TYPE who, const CK_UKEY_PIN_STATUS *st)
{
	static const struct {
		CK_FLAGS low, final, locked, change;
	} f[2] = { { CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED,
	             CKF_USER_PIN_TO_BE_CHANGED },
	           { CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_FINAL_TRY, CKF_SO_PIN_LOCKED,
	             CKF_SO_PIN_TO_BE_CHANGED } };
	int k = who == CKU_SO;
	CK_TOKEN_INFO ti;

	UK_CHECK_EQ(fl->C_GetTokenInfo(slot, &ti), CKR_OK);
	UK_CHECK_EQ(!!(ti.flags & f[k].low), st->tries_left < st->max_tries);
	UK_CHECK_EQ(!!(ti.flags & f[k].final), st->tries_left == 1);
	UK_CHECK_EQ(!!(ti.flags & f[k].locked), st->tries_left == 0);
	UK_CHECK_EQ(!!(ti.flags & f[k].change), st->must_change == CK_TRUE);
	if (who == CKU_USER)
		UK_CHECK_EQ(!!(ti.flags & CKF_USER_PIN_INITIALIZED), st->initialized == CK_TRUE);
}

/* Expected values, then the agreement with the token flags. */
static void expect(CK_USER_TYPE who, CK_ULONG tries, CK_BBOOL change, CK_BBOOL init)
{
	CK_UKEY_PIN_STATUS st = status(who);

	UK_CHECK_EQ(st.tries_left, tries);
	UK_CHECK_EQ(st.max_tries, MAX_TRIES);
	UK_CHECK_EQ(st.must_change, change);
	UK_CHECK_EQ(st.initialized, init);
	check_agrees(who, &st);
}

static CK_SESSION_HANDLE open_rw(void)
{
	CK_SESSION_HANDLE h;

	UK_CHECK_EQ(fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h),
	            CKR_OK);
	return h;
}

static CK_ULONG apdus(CK_SLOT_ID which)
{
	CK_ULONG n = 0;

	UK_CHECK_EQ(uk->get_apdu_count(which, &n), CKR_OK);
	return n;
}

/* One GET DATA 01 per call on a connected card (a session keeps the connection), whatever
 * the cache holds: the counter moves even if nothing else happened. */
static void check_cost(void)
{
	CK_SESSION_HANDLE h = open_rw();
	CK_ULONG before, total;
	int i;

	(void)status(CKU_USER);
	for (i = 0; i < 2; i++) {
		before = apdus(slot);
		total = apdus(UKEY_ALL_SLOTS);
		(void)status(i == 0 ? CKU_USER : CKU_SO);
		UK_CHECK_EQ(apdus(slot) - before, 1);
		UK_CHECK_EQ(apdus(UKEY_ALL_SLOTS) - total, 1);
	}
	UK_CHECK_EQ(fl->C_CloseSession(h), CKR_OK);
}

static void check_arguments(void)
{
	CK_UKEY_PIN_STATUS st;

	UK_CHECK_EQ(uk->get_pin_status(slot, CKU_USER, NULL), CKR_ARGUMENTS_BAD);
	UK_CHECK_EQ(uk->get_pin_status(slot, CKU_CONTEXT_SPECIFIC, &st), CKR_ARGUMENTS_BAD);
	UK_CHECK_EQ(uk->get_pin_status(slot, 7, &st), CKR_ARGUMENTS_BAD);
	UK_CHECK_EQ(uk->get_pin_status(slot + 100, CKU_USER, &st), CKR_SLOT_ID_INVALID);
	UK_CHECK_EQ(uk->get_pin_status(UKEY_ALL_SLOTS, CKU_USER, &st), CKR_SLOT_ID_INVALID);
}

/* User PIN: provisioned, one wrong, right, final try, locked; the SO PIN is untouched. */
static void check_user(const char *user)
{
	CK_SESSION_HANDLE h = open_rw();
	int i;

	/* docs/ukey-emu.md / apdu.md: a provisioned PIN has every try and must be changed. */
	expect(CKU_USER, MAX_TRIES, CK_TRUE, CK_TRUE);
	expect(CKU_SO, MAX_TRIES, CK_TRUE, CK_TRUE);
	UK_CHECK_EQ(fl->C_Login(h, CKU_USER, PIN("wrong1234")), CKR_PIN_INCORRECT);
	expect(CKU_USER, MAX_TRIES - 1, CK_TRUE, CK_TRUE);
	UK_CHECK_EQ(fl->C_Login(h, CKU_USER, PIN(user)), CKR_OK);
	expect(CKU_USER, MAX_TRIES, CK_TRUE, CK_TRUE);       /* a login is not a change */
	UK_CHECK_EQ(fl->C_Logout(h), CKR_OK);
	for (i = 0; i < MAX_TRIES - 1; i++)
		UK_CHECK_EQ(fl->C_Login(h, CKU_USER, PIN("wrong1234")), CKR_PIN_INCORRECT);
	expect(CKU_USER, 1, CK_TRUE, CK_TRUE);               /* CKF_USER_PIN_FINAL_TRY */
	UK_CHECK_EQ(fl->C_Login(h, CKU_USER, PIN("wrong1234")), CKR_PIN_LOCKED);
	expect(CKU_USER, 0, CK_TRUE, CK_TRUE);               /* --max-tries 3: blocked */
	UK_CHECK_EQ(fl->C_Login(h, CKU_USER, PIN(user)), CKR_PIN_LOCKED);
	expect(CKU_USER, 0, CK_TRUE, CK_TRUE);
	expect(CKU_SO, MAX_TRIES, CK_TRUE, CK_TRUE);
	UK_CHECK_EQ(fl->C_CloseSession(h), CKR_OK);
}

/* SO PIN: one wrong, right; the SO unblocks the user PIN (C_InitPIN: set by the SO, so it
 * must be changed, every try back). */
static void check_so(const char *so)
{
	CK_SESSION_HANDLE h = open_rw();

	UK_CHECK_EQ(fl->C_Login(h, CKU_SO, PIN("wrongso12")), CKR_PIN_INCORRECT);
	expect(CKU_SO, MAX_TRIES - 1, CK_TRUE, CK_TRUE);
	expect(CKU_USER, 0, CK_TRUE, CK_TRUE);
	UK_CHECK_EQ(fl->C_Login(h, CKU_SO, PIN(so)), CKR_OK);
	expect(CKU_SO, MAX_TRIES, CK_TRUE, CK_TRUE);
	UK_CHECK_EQ(fl->C_InitPIN(h, PIN("reset1234")), CKR_OK);
	expect(CKU_USER, MAX_TRIES, CK_TRUE, CK_TRUE);
	UK_CHECK_EQ(fl->C_Logout(h), CKR_OK);
	UK_CHECK_EQ(fl->C_CloseSession(h), CKR_OK);
}

/* C_InitToken (REINITIALISE APPLICATION): the user PIN is not initialised, its tries show
 * the maximum (docs/apdu.md GET DATA 01 flag bit 2); the SO PIN keeps its state. */
static void check_init_token(const char *so)
{
	CK_UKEY_PIN_STATUS st;
	CK_UTF8CHAR label[32];

	memset(label, ' ', sizeof(label));
	memcpy(label, "status", 6);
	UK_CHECK_EQ(fl->C_InitToken(slot, PIN(so), label), CKR_OK);
	st = status(CKU_USER);
	UK_CHECK_EQ(st.initialized, CK_FALSE);
	UK_CHECK_EQ(st.tries_left, MAX_TRIES);
	UK_CHECK_EQ(st.max_tries, MAX_TRIES);
	check_agrees(CKU_USER, &st);
	expect(CKU_SO, MAX_TRIES, CK_TRUE, CK_TRUE);
}

/* A pulled key, pcscd already knows: CKR_TOKEN_NOT_PRESENT (or CKR_DEVICE_REMOVED if the
 * module only learns it from the failed command); plugged back, the status reads again. */
static void check_removed(void)
{
	struct timespec pause = { 0, 100 * 1000000L };
	CK_SESSION_HANDLE h = open_rw();
	CK_UKEY_PIN_STATUS st;
	CK_RV rv;
	int i;

	UK_CHECK_EQ(e2e_emu_ctl("remove 0"), 0);
	rv = uk->get_pin_status(slot, CKU_USER, &st);
	UK_CHECK(rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT);
	rv = uk->get_pin_status(slot, CKU_SO, &st);
	UK_CHECK(rv == CKR_DEVICE_REMOVED || rv == CKR_TOKEN_NOT_PRESENT);
	/* The session went with the card (§5.1.2). */
	UK_CHECK_EQ(fl->C_CloseSession(h), CKR_SESSION_HANDLE_INVALID);
	UK_CHECK_EQ(e2e_emu_ctl("insert 0"), 0);
	/* pcscd may need a moment to see the card back. */
	for (i = 0, rv = CKR_TOKEN_NOT_PRESENT; i < 50 && rv != CKR_OK; i++) {
		rv = uk->get_pin_status(slot, CKU_SO, &st);
		if (rv != CKR_OK)
			nanosleep(&pause, NULL);
	}
	UK_CHECK_EQ(rv, CKR_OK);
	UK_CHECK_EQ(st.tries_left, MAX_TRIES);
}

static void *pull_later(void *arg)
{
	struct timespec wait = { 0, 400 * 1000000L };

	(void)arg;
	nanosleep(&wait, NULL);
	UK_CHECK_EQ(e2e_emu_ctl("remove 0"), 0);
	return NULL;
}

/* Pulled while the GET DATA 01 waits for its answer (ukey-emu latency): the answer is lost,
 * the module finds the card gone: CKR_DEVICE_REMOVED. */
static void check_removed_during(void)
{
	struct timespec pause = { 0, 100 * 1000000L };
	CK_SESSION_HANDLE h = open_rw();
	CK_UKEY_PIN_STATUS st;
	pthread_t t;
	CK_RV rv;
	int i;

	(void)status(CKU_USER);         /* connected and selected: the next APDU is GET DATA */
	UK_CHECK_EQ(e2e_emu_ctl("latency 0 3000"), 0);
	UK_CHECK(pthread_create(&t, NULL, pull_later, NULL) == 0);
	UK_CHECK_EQ(uk->get_pin_status(slot, CKU_USER, &st), CKR_DEVICE_REMOVED);
	UK_CHECK(pthread_join(t, NULL) == 0);
	UK_CHECK_EQ(fl->C_CloseSession(h), CKR_SESSION_HANDLE_INVALID);
	UK_CHECK_EQ(uk->get_pin_status(slot, CKU_USER, &st), CKR_TOKEN_NOT_PRESENT);
	UK_CHECK_EQ(e2e_emu_ctl("clear 0"), 0);
	UK_CHECK_EQ(e2e_emu_ctl("insert 0"), 0);
	for (i = 0, rv = CKR_TOKEN_NOT_PRESENT; i < 50 && rv != CKR_OK; i++) {
		rv = uk->get_pin_status(slot, CKU_USER, &st);
		if (rv != CKR_OK)
			nanosleep(&pause, NULL);
	}
	UK_CHECK_EQ(rv, CKR_OK);
	UK_CHECK_EQ(st.initialized, CK_FALSE);          /* still the state C_InitToken left */
}

static void load(const char *path)
{
	CK_VERSION v11 = { 1, 1 };
	CK_C_GetInterface get;
	CK_INTERFACE_PTR i = NULL;
	CK_UKEY_PIN_STATUS st;
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);

	UK_CHECK(dl != NULL);
	*(void **)&get = dlsym(dl, "C_GetInterface");
	UK_CHECK(get != NULL);
	UK_CHECK_EQ(get((CK_UTF8CHAR_PTR)UKEY_INTERFACE_NAME, &v11, &i, 0), CKR_OK);
	uk = i->pFunctionList;
	UK_CHECK(uk->version.major == 1 && uk->version.minor == 1 && uk->get_pin_status != NULL);
	UK_CHECK_EQ(get((CK_UTF8CHAR_PTR)"PKCS 11", NULL, &i, 0), CKR_OK);
	fl = i->pFunctionList;
	/* Needs C_Initialize (ukey-pkcs11.h), unlike get_apdu_count(UKEY_ALL_SLOTS). */
	UK_CHECK_EQ(uk->get_pin_status(0, CKU_USER, &st), CKR_CRYPTOKI_NOT_INITIALIZED);
	UK_CHECK_EQ(uk->get_pin_status(0, CKU_USER, NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
}

int main(void)
{
	const char *mod = getenv("UKEY_MODULE"), *user = getenv("UKEY_USER_PIN");
	const char *so = getenv("UKEY_SO_PIN"), *tries = getenv("UKEY_MAX_TRIES");
	CK_SLOT_ID slots[8];
	CK_ULONG n = 8;

	if (mod == NULL || user == NULL || so == NULL || getenv("UKEY_EMU_CONTROL") == NULL)
		return uk_test_skip("not inside ukey-sandbox");
	if (tries == NULL || strcmp(tries, "3") != 0)
		return uk_test_skip("needs ukey-sandbox --max-tries 3");
	load(mod);
	UK_CHECK_EQ(fl->C_Initialize(NULL), CKR_OK);
	UK_CHECK_EQ(fl->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	UK_CHECK(n >= 1);
	slot = slots[0];
	check_arguments();
	check_user(user);
	check_cost();
	check_so(so);
	check_init_token(so);
	check_removed();
	check_removed_during();
	UK_CHECK_EQ(fl->C_Finalize(NULL), CKR_OK);
	UK_CHECK_EQ(uk->get_pin_status(slot, CKU_USER, &(CK_UKEY_PIN_STATUS){ 0 }),
	            CKR_CRYPTOKI_NOT_INITIALIZED);
	return uk_test_done("module_e2e_pin_status");
}
