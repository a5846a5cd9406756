/* module_e2e_robust: $UKEY_MODULE when the world moves under it (run inside ukey-sandbox):
 *  - a key pulled out during a signature (ukey-emu ctl latency + remove): C_Sign answers
 *    CKR_DEVICE_REMOVED or CKR_TOKEN_NOT_PRESENT within 1 s and the session is closed;
 *  - C_WaitForSlotEvent blocking, woken by the re-insertion; the re-inserted key signs
 *    without reloading the module;
 *  - a card reset by another PC/SC client: the login is gone (CKR_USER_NOT_LOGGED_IN, the
 *    session public again), a new C_Login works;
 *  - fork: the child gets CKR_CRYPTOKI_NOT_INITIALIZED until it initialises;
 *  - 2 processes x 8 threads signing concurrently for a bounded time: zero errors, every
 *    signature checked with OpenSSL (CKF_OS_LOCKING_OK);
 *  - pcscd restarted ($UKEY_PCSCD_RESTART): the slot vanishes and comes back with the same
 *    ID, nothing hangs, the next session signs. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include <PCSC/winscard.h>
#include <p11-kit/pkcs11.h>

#include "ukey-pkcs11.h"
#include "e2e_util.h"
#include "uk_test.h"

#define PIN(s) (CK_UTF8CHAR_PTR)(s), (CK_ULONG)strlen(s)
#define THREADS 8
#define RUN_MS 2000

static CK_FUNCTION_LIST_PTR fl;
static CK_SLOT_ID slot;
static const char *user_pin;
static uint8_t pub_point[65];

static CK_SESSION_HANDLE open_rw(void)
{
	CK_SESSION_HANDLE h;

	UK_CHECK_EQ(fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h),
	            CKR_OK);
	return h;
}

static void login(CK_SESSION_HANDLE h)
{
	CK_RV rv = fl->C_Login(h, CKU_USER, PIN(user_pin));

	UK_CHECK(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN);
}

static CK_OBJECT_HANDLE find_key(CK_SESSION_HANDLE h)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	char label[] = "e2e-robust";
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_LABEL, label, 10 } };
	CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;
	CK_ULONG n = 0;

	UK_CHECK_EQ(fl->C_FindObjectsInit(h, t, 2), CKR_OK);
	UK_CHECK_EQ(fl->C_FindObjects(h, &k, 1, &n), CKR_OK);
	UK_CHECK_EQ(fl->C_FindObjectsFinal(h), CKR_OK);
	UK_CHECK_EQ(n, 1);
	return k;
}

static void generate(CK_SESSION_HANDLE h)
{
	CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL t = CK_TRUE;
	char label[] = "e2e-robust";
	CK_ATTRIBUTE pubt[] = {
		{ CKA_EC_PARAMS, (void *)UKEY_SM2_EC_PARAMS, UKEY_SM2_EC_PARAMS_LEN },
		{ CKA_LABEL, label, 10 },
	};
	CK_ATTRIBUTE privt[] = { { CKA_SIGN, &t, 1 }, { CKA_LABEL, label, 10 } };
	CK_OBJECT_HANDLE pub, priv;
	uint8_t ecp[67];
	CK_ATTRIBUTE get[] = { { CKA_EC_POINT, ecp, sizeof(ecp) } };

	UK_CHECK_EQ(fl->C_GenerateKeyPair(h, &m, pubt, 2, privt, 2, &pub, &priv), CKR_OK);
	UK_CHECK_EQ(fl->C_GetAttributeValue(h, pub, get, 1), CKR_OK);
	UK_CHECK(get[0].ulValueLen == 67 && ecp[2] == 0x04);
	memcpy(pub_point, ecp + 2, 65);
}

/* One CKM_UKEY_SM2 signature over e, checked with OpenSSL; returns the C_Sign code. */
static CK_RV sign_once(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, unsigned seed)
{
	CK_MECHANISM m = { CKM_UKEY_SM2, NULL, 0 };
	uint8_t e[32], sig[64];
	CK_ULONG len = sizeof(sig);
	CK_RV rv;
	size_t i;

	for (i = 0; i < 32; i++)
		e[i] = (uint8_t)(seed * 31 + i);
	if ((rv = fl->C_SignInit(h, &m, key)) != CKR_OK)
		return rv;
	if ((rv = fl->C_Sign(h, e, 32, sig, &len)) != CKR_OK)
		return rv;
	return len == 64 && e2e_sm2_verify_e(pub_point, e, sig) ? CKR_OK : CKR_GENERAL_ERROR;
}

/* ---- key pulled out mid-signature, blocking slot event, re-insertion ---- */

static CK_SESSION_HANDLE rm_session;
static CK_OBJECT_HANDLE rm_key;
static CK_RV rm_rv;
static double rm_end;

static void *sign_thread(void *arg)
{
	(void)arg;
	rm_rv = sign_once(rm_session, rm_key, 1);
	rm_end = e2e_now_ms();
	return NULL;
}

static CK_RV ev_rv;
static CK_SLOT_ID ev_slot;
static double ev_end;

static void *wait_thread(void *arg)
{
	(void)arg;
	ev_rv = fl->C_WaitForSlotEvent(0, &ev_slot, NULL);
	ev_end = e2e_now_ms();
	return NULL;
}

static void drain_events(void)
{
	CK_SLOT_ID s;
	int i;

	for (i = 0; i < 16 && fl->C_WaitForSlotEvent(CKF_DONT_BLOCK, &s, NULL) == CKR_OK; i++)
		;
	UK_CHECK_EQ(fl->C_WaitForSlotEvent(CKF_DONT_BLOCK, &s, NULL), CKR_NO_EVENT);
}

static void check_removal(void)
{
	CK_SESSION_INFO si;
	pthread_t t;
	double t_rm;

	rm_session = open_rw();
	login(rm_session);
	rm_key = find_key(rm_session);
	UK_CHECK_EQ(sign_once(rm_session, rm_key, 0), CKR_OK);
	/* The signature's APDU takes 1.5 s on the key; the key goes 0.4 s into it. */
	UK_CHECK_EQ(e2e_emu_ctl("latency 0 1500"), 0);
	UK_CHECK(pthread_create(&t, NULL, sign_thread, NULL) == 0);
	e2e_sleep_ms(400);
	t_rm = e2e_now_ms();
	UK_CHECK_EQ(e2e_emu_ctl("remove 0"), 0);
	UK_CHECK(pthread_join(t, NULL) == 0);
	printf("removal: C_Sign 0x%lx after %.0f ms\n", rm_rv, rm_end - t_rm);
	UK_CHECK(rm_rv == CKR_DEVICE_REMOVED || rm_rv == CKR_TOKEN_NOT_PRESENT);
	UK_CHECK(rm_end - t_rm < 1000);
	UK_CHECK_EQ(fl->C_GetSessionInfo(rm_session, &si), CKR_SESSION_HANDLE_INVALID);
	UK_CHECK_EQ(e2e_emu_ctl("clear 0"), 0);
	/* Blocking wait, woken by the re-insertion. */
	drain_events();
	UK_CHECK(pthread_create(&t, NULL, wait_thread, NULL) == 0);
	e2e_sleep_ms(300);
	t_rm = e2e_now_ms();
	UK_CHECK_EQ(e2e_emu_ctl("insert 0"), 0);
	UK_CHECK(pthread_join(t, NULL) == 0);
	printf("insertion: C_WaitForSlotEvent 0x%lx slot %lu after %.0f ms\n", ev_rv, ev_slot,
	       ev_end - t_rm);
	UK_CHECK_EQ(ev_rv, CKR_OK);
	UK_CHECK_EQ(ev_slot, slot);
	UK_CHECK(ev_end - t_rm < 3000);
	rm_session = open_rw();
	login(rm_session);
	UK_CHECK_EQ(sign_once(rm_session, find_key(rm_session), 2), CKR_OK);
	UK_CHECK_EQ(fl->C_CloseSession(rm_session), CKR_OK);
}

/* ---- card reset by another PC/SC client ---- */

static void reset_card(void)
{
	SCARDCONTEXT ctx;
	SCARDHANDLE card;
	DWORD proto, len = SCARD_AUTOALLOCATE;
	char *readers = NULL;

	UK_CHECK(SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx) == SCARD_S_SUCCESS);
	UK_CHECK(SCardListReaders(ctx, NULL, (LPSTR)&readers, &len) == SCARD_S_SUCCESS);
	UK_CHECK(SCardConnect(ctx, readers, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1 |
	                      SCARD_PROTOCOL_T0, &card, &proto) == SCARD_S_SUCCESS);
	UK_CHECK(SCardReconnect(card, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1 | SCARD_PROTOCOL_T0,
	                        SCARD_RESET_CARD, &proto) == SCARD_S_SUCCESS);
	SCardDisconnect(card, SCARD_LEAVE_CARD);
	SCardFreeMemory(ctx, readers);
	SCardReleaseContext(ctx);
}

static void check_reset(void)
{
	CK_SESSION_HANDLE h = open_rw();
	CK_OBJECT_HANDLE key;
	CK_SESSION_INFO si;
	CK_RV rv;

	login(h);
	key = find_key(h);
	UK_CHECK_EQ(sign_once(h, key, 3), CKR_OK);
	reset_card();
	rv = sign_once(h, key, 4);
	printf("reset: C_Sign 0x%lx\n", rv);
	UK_CHECK(rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_KEY_HANDLE_INVALID);
	UK_CHECK_EQ(fl->C_GetSessionInfo(h, &si), CKR_OK);
	UK_CHECK_EQ(si.state, CKS_RW_PUBLIC_SESSION);
	UK_CHECK_EQ(fl->C_Login(h, CKU_USER, PIN(user_pin)), CKR_OK);
	UK_CHECK_EQ(sign_once(h, find_key(h), 5), CKR_OK);
	UK_CHECK_EQ(fl->C_CloseSession(h), CKR_OK);
}

/* ---- 2 processes x 8 threads ---- */

static CK_OBJECT_HANDLE mt_key;
static double mt_stop;

static void *mt_thread(void *arg)
{
	unsigned id = (unsigned)(size_t)arg, n = 0, errors = 0;
	CK_SESSION_HANDLE h;
	CK_RV rv;

	if ((rv = fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h)) != CKR_OK) {
		fprintf(stderr, "pid %d thread %u: C_OpenSession 0x%lx\n", (int)getpid(), id, rv);
		return (void *)(size_t)1;
	}
	/* At least one signature each: under valgrind (one thread runs at a time) a thread may
	 * get no turn before mt_stop, which says nothing about the module. */
	do {
		rv = sign_once(h, mt_key, id * 100000 + n++);
		if (rv != CKR_OK) {
			fprintf(stderr, "pid %d thread %u: C_Sign 0x%lx\n", (int)getpid(), id, rv);
			errors++;
		}
	} while (e2e_now_ms() < mt_stop);
	fl->C_CloseSession(h);
	return (void *)(size_t)errors;
}

/* In a forked child: not initialised until C_Initialize; then 8 signing threads. */
static int child_signers(void)
{
	CK_C_INITIALIZE_ARGS a = { .flags = CKF_OS_LOCKING_OK };
	CK_SESSION_HANDLE h;
	pthread_t t[THREADS];
	CK_ULONG n = 0;
	void *r;
	int i, errors = 0;

	if (fl->C_GetSlotList(CK_TRUE, NULL, &n) != CKR_CRYPTOKI_NOT_INITIALIZED ||
	    fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h) !=
	            CKR_CRYPTOKI_NOT_INITIALIZED) {
		fprintf(stderr, "child: the parent's state was usable\n");
		return 2;
	}
	if (fl->C_Initialize(&a) != CKR_OK || fl->C_GetSlotList(CK_TRUE, NULL, &n) != CKR_OK)
		return 3;
	h = open_rw();
	login(h);
	mt_key = find_key(h);
	mt_stop = e2e_now_ms() + RUN_MS;
	for (i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, mt_thread, (void *)(size_t)i) != 0)
			return 4;
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], &r);
		errors += (int)(size_t)r;
	}
	fl->C_Finalize(NULL);
	return errors ? 1 : 0;
}

static void check_processes(void)
{
	pid_t pid[2];
	int i, st;
	double t0 = e2e_now_ms();

	fflush(NULL);
	for (i = 0; i < 2; i++) {
		pid[i] = fork();
		UK_CHECK(pid[i] >= 0);
		if (pid[i] == 0)
			_exit(child_signers());
	}
	for (i = 0; i < 2; i++) {
		UK_CHECK(waitpid(pid[i], &st, 0) == pid[i]);
		UK_CHECK(WIFEXITED(st));
		UK_CHECK_EQ(WEXITSTATUS(st), 0);
	}
	printf("2 processes x %d threads: %.0f ms, no errors\n", THREADS, e2e_now_ms() - t0);
	UK_CHECK(e2e_now_ms() - t0 < RUN_MS + 20000);
}

/* ---- pcscd restarted under the module ---- */

static void check_pcscd_restart(void)
{
	CK_SESSION_HANDLE h = open_rw();
	CK_SESSION_INFO si;
	CK_SLOT_ID slots[4];
	CK_ULONG n;
	double t0;
	int i;

	login(h);
	UK_CHECK_EQ(system(getenv("UKEY_PCSCD_RESTART")), 0);
	/* The reader is back at once, the card only after its link is plugged back. */
	t0 = e2e_now_ms();
	n = 4;
	UK_CHECK_EQ(fl->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	UK_CHECK(e2e_now_ms() - t0 < 2000);
	UK_CHECK_EQ(fl->C_GetSessionInfo(h, &si), CKR_SESSION_HANDLE_INVALID);
	UK_CHECK_EQ(e2e_emu_ctl("insert 0"), 0);
	for (i = 0, n = 0; i < 50 && n == 0; i++) {
		n = 4;
		UK_CHECK_EQ(fl->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
		if (n == 0)
			e2e_sleep_ms(100);
	}
	UK_CHECK_EQ(n, 1);
	UK_CHECK_EQ(slots[0], slot);            /* same reader name, same slot ID */
	h = open_rw();
	login(h);
	UK_CHECK_EQ(sign_once(h, find_key(h), 6), CKR_OK);
	UK_CHECK_EQ(fl->C_CloseSession(h), CKR_OK);
}

int main(void)
{
	const char *mod = getenv("UKEY_MODULE");
	CK_C_INITIALIZE_ARGS a = { .flags = CKF_OS_LOCKING_OK };
	CK_RV (*gfl)(CK_FUNCTION_LIST_PTR_PTR);
	CK_SESSION_HANDLE h;
	CK_ULONG n = 1;
	void *so;

	user_pin = getenv("UKEY_USER_PIN");
	if (mod == NULL || user_pin == NULL || getenv("UKEY_EMU_CONTROL") == NULL ||
	    getenv("UKEY_PCSCD_RESTART") == NULL)
		return uk_test_skip("not inside ukey-sandbox");
	so = dlopen(mod, RTLD_NOW | RTLD_LOCAL);
	UK_CHECK(so != NULL);
	*(void **)&gfl = dlsym(so, "C_GetFunctionList");
	UK_CHECK(gfl != NULL && gfl(&fl) == CKR_OK);
	UK_CHECK_EQ(fl->C_Initialize(&a), CKR_OK);
	UK_CHECK_EQ(fl->C_GetSlotList(CK_TRUE, &slot, &n), CKR_OK);
	UK_CHECK_EQ(n, 1);
	h = open_rw();
	login(h);
	generate(h);
	UK_CHECK_EQ(fl->C_CloseSession(h), CKR_OK);
	check_processes();
	check_reset();
	check_removal();
	check_pcscd_restart();
	UK_CHECK_EQ(fl->C_Finalize(NULL), CKR_OK);
	dlclose(so);
	return uk_test_done("module_e2e_robust");
}
