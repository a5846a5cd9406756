/* module_iface: the PKCS#11 3.0 interfaces of libukey-pkcs11.so with no card (3.0 §5.4.5-6,
 * §5.6 C_LoginUser/C_SessionCancel, the message-based functions, §5.5.4 C_WaitForSlotEvent).
 * Loads the real .so with dlopen and finds C_GetInterfaceList/C_GetInterface with dlsym,
 * as a 3.0 application does; pcscd is made unreachable so no slot exists. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <p11-kit/pkcs11.h>

#include "ukey-pkcs11.h"
#include "ukey-pkcs11-3.h"
#include "uk_test.h"

static CK_FUNCTION_LIST_3_0_PTR f3;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void check_interface_list(CK_C_GetInterfaceList list)
{
	CK_INTERFACE ifs[4];
	CK_ULONG n = 0, i;
	CK_VERSION *v;
	int have30 = 0, have240 = 0;

	UK_CHECK_EQ(list(NULL, NULL), CKR_ARGUMENTS_BAD);
	UK_CHECK_EQ(list(NULL, &n), CKR_OK);
	UK_CHECK_EQ(n, 3);
	n = 2;
	UK_CHECK_EQ(list(ifs, &n), CKR_BUFFER_TOO_SMALL);
	UK_CHECK_EQ(n, 3);
	n = 4;
	UK_CHECK_EQ(list(ifs, &n), CKR_OK);
	UK_CHECK_EQ(n, 3);
	/* The standard interfaces first, then the vendor one (ukey-pkcs11.h). */
	UK_CHECK(strcmp((const char *)ifs[2].pInterfaceName, UKEY_INTERFACE_NAME) == 0);
	v = ifs[2].pFunctionList;
	UK_CHECK(v->major == UKEY_INTERFACE_VERSION_MAJOR && v->minor == UKEY_INTERFACE_VERSION_MINOR);
	UK_CHECK_EQ(ifs[2].flags, 0);
	n = 2;
	for (i = 0; i < n; i++) {
		UK_CHECK(strcmp((const char *)ifs[i].pInterfaceName, "PKCS 11") == 0);
		UK_CHECK_EQ(ifs[i].flags, 0);   /* not fork-safe: the child re-initialises */
		v = ifs[i].pFunctionList;
		have30 += v->major == 3 && v->minor == 0;
		have240 += v->major == 2 && v->minor == 40;
	}
	UK_CHECK(have30 == 1 && have240 == 1);
}

static void check_get_interface(CK_C_GetInterface get)
{
	CK_VERSION v30 = { 3, 0 }, v240 = { 2, 40 }, v31 = { 3, 1 };
	CK_INTERFACE_PTR i = NULL;
	CK_FUNCTION_LIST_PTR f2;

	UK_CHECK_EQ(get(NULL, NULL, NULL, 0), CKR_ARGUMENTS_BAD);
	/* Default: "PKCS 11" 3.0. */
	UK_CHECK_EQ(get(NULL, NULL, &i, 0), CKR_OK);
	f3 = i->pFunctionList;
	UK_CHECK(f3->version.major == 3 && f3->version.minor == 0);
	UK_CHECK_EQ(get((CK_UTF8CHAR_PTR)"PKCS 11", &v30, &i, 0), CKR_OK);
	UK_CHECK(i->pFunctionList == (void *)f3);
	UK_CHECK_EQ(get((CK_UTF8CHAR_PTR)"PKCS 11", &v240, &i, 0), CKR_OK);
	f2 = i->pFunctionList;
	UK_CHECK(f2->version.major == 2 && f2->version.minor == 40);
	/* The 2.40 list is C_GetFunctionList's, and shares its functions with the 3.0 one. */
	UK_CHECK(f2->C_Sign == f3->C_Sign && f2->C_Initialize == f3->C_Initialize);
	UK_CHECK_EQ(get((CK_UTF8CHAR_PTR)"Vendor ukey", NULL, &i, 0), CKR_ARGUMENTS_BAD);
	UK_CHECK_EQ(get(NULL, &v31, &i, 0), CKR_ARGUMENTS_BAD);
	UK_CHECK_EQ(get(NULL, NULL, &i, CKF_INTERFACE_FORK_SAFE), CKR_ARGUMENTS_BAD);
}

/* The vendor interface "ukey" 1.1: a NULL name never finds it (§5.4.6 default interface);
 * a NULL version or 1.1 gives the listed 1.1 list, exactly 1.0 a list that says 1.0 with the
 * same get_apdu_count (§5.4.6: the returned version matches the requested one), 1.2 and 2.0
 * nothing. Its APDU total works before C_Initialize and is 0 with no card; a slot needs the
 * library, an unknown slot is CKR_SLOT_ID_INVALID. get_pin_status needs C_Initialize, then
 * checks its arguments and the slot (no card here: module_e2e_pin_status has the rest). */
static void check_vendor_interface(CK_C_GetInterface get)
{
	CK_VERSION v10 = { 1, 0 }, v11 = { 1, 1 }, v12 = { 1, 2 }, v20 = { 2, 0 };
	CK_INTERFACE_PTR i = NULL;
	CK_UKEY_FUNCTION_LIST *u, *u10;
	CK_UKEY_PIN_STATUS st;
	CK_ULONG n = 99;

	UK_CHECK(UKEY_INTERFACE_VERSION_MAJOR == 1 && UKEY_INTERFACE_VERSION_MINOR == 1);
	UK_CHECK_EQ(get(NULL, &v11, &i, 0), CKR_ARGUMENTS_BAD);
	UK_CHECK_EQ(get((CK_UTF8CHAR_PTR)UKEY_INTERFACE_NAME, &v12, &i, 0), CKR_ARGUMENTS_BAD);
	UK_CHECK_EQ(get((CK_UTF8CHAR_PTR)UKEY_INTERFACE_NAME, &v20, &i, 0), CKR_ARGUMENTS_BAD);
	UK_CHECK_EQ(get((CK_UTF8CHAR_PTR)UKEY_INTERFACE_NAME, NULL, &i,
	                CKF_INTERFACE_FORK_SAFE), CKR_ARGUMENTS_BAD);
	UK_CHECK_EQ(get((CK_UTF8CHAR_PTR)UKEY_INTERFACE_NAME, NULL, &i, 0), CKR_OK);
	u = i->pFunctionList;
	UK_CHECK(strcmp((const char *)i->pInterfaceName, UKEY_INTERFACE_NAME) == 0);
	UK_CHECK(u->version.major == 1 && u->version.minor == 1);
	UK_CHECK(u->get_apdu_count != NULL && u->get_pin_status != NULL);
	UK_CHECK_EQ(get((CK_UTF8CHAR_PTR)UKEY_INTERFACE_NAME, &v11, &i, 0), CKR_OK);
	UK_CHECK(i->pFunctionList == (void *)u);
	UK_CHECK_EQ(get((CK_UTF8CHAR_PTR)UKEY_INTERFACE_NAME, &v10, &i, 0), CKR_OK);
	u10 = i->pFunctionList;
	UK_CHECK(strcmp((const char *)i->pInterfaceName, UKEY_INTERFACE_NAME) == 0);
	UK_CHECK(u10->version.major == 1 && u10->version.minor == 0);
	UK_CHECK(u10->get_apdu_count == u->get_apdu_count);
	UK_CHECK(u10->get_pin_status == NULL);
	UK_CHECK_EQ(u10->get_apdu_count(UKEY_ALL_SLOTS, &n), CKR_OK);
	UK_CHECK_EQ(n, 0);

	n = 99;
	UK_CHECK_EQ(u->get_apdu_count(UKEY_ALL_SLOTS, NULL), CKR_ARGUMENTS_BAD);
	UK_CHECK_EQ(u->get_apdu_count(UKEY_ALL_SLOTS, &n), CKR_OK);
	UK_CHECK_EQ(n, 0);
	UK_CHECK_EQ(u->get_apdu_count(0, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
	UK_CHECK_EQ(u->get_pin_status(0, CKU_USER, &st), CKR_CRYPTOKI_NOT_INITIALIZED);
	UK_CHECK_EQ(u->get_pin_status(0, CKU_USER, NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
	UK_CHECK_EQ(f3->C_Initialize(NULL), CKR_OK);
	UK_CHECK_EQ(u->get_apdu_count(0, &n), CKR_SLOT_ID_INVALID);
	UK_CHECK_EQ(u->get_pin_status(0, CKU_USER, NULL), CKR_ARGUMENTS_BAD);
	UK_CHECK_EQ(u->get_pin_status(0, CKU_CONTEXT_SPECIFIC, &st), CKR_ARGUMENTS_BAD);
	UK_CHECK_EQ(u->get_pin_status(0, CKU_USER, &st), CKR_SLOT_ID_INVALID);
	UK_CHECK_EQ(u->get_pin_status(0, CKU_SO, &st), CKR_SLOT_ID_INVALID);
	UK_CHECK_EQ(u->get_pin_status(UKEY_ALL_SLOTS, CKU_SO, &st), CKR_SLOT_ID_INVALID);
	UK_CHECK_EQ(f3->C_Finalize(NULL), CKR_OK);
	UK_CHECK_EQ(u->get_pin_status(0, CKU_USER, &st), CKR_CRYPTOKI_NOT_INITIALIZED);
}

/* Every 3.0 slot of the list is filled. */
static void check_list_complete(void)
{
	void *const *p = (void *const *)&f3->C_Initialize;
	size_t n = (sizeof(*f3) - offsetof(CK_FUNCTION_LIST_3_0, C_Initialize)) / sizeof(void *);
	size_t k;

	UK_CHECK_EQ(n, 68 + 24);
	for (k = 0; k < n; k++)
		UK_CHECK(p[k] != NULL);
}

/* The 3.0 additions before C_Initialize, then with no such session. */
static void check_30_functions(void)
{
	CK_MECHANISM m = { CKM_SHA256, NULL, 0 };
	CK_ULONG len = 0;
	CK_BYTE b[8];

	UK_CHECK_EQ(f3->C_LoginUser(1, CKU_USER, (CK_UTF8CHAR_PTR)"user1234", 8, NULL, 0),
	            CKR_CRYPTOKI_NOT_INITIALIZED);
	UK_CHECK_EQ(f3->C_SessionCancel(1, CKF_SIGN), CKR_CRYPTOKI_NOT_INITIALIZED);
	UK_CHECK_EQ(f3->C_MessageSignInit(1, &m, 1), CKR_CRYPTOKI_NOT_INITIALIZED);
	UK_CHECK_EQ(f3->C_Initialize(NULL), CKR_OK);
	UK_CHECK_EQ(f3->C_LoginUser(77, CKU_USER, (CK_UTF8CHAR_PTR)"user1234", 8,
	                            (CK_UTF8CHAR_PTR)"u", 1),
	            CKR_SESSION_HANDLE_INVALID);
	UK_CHECK_EQ(f3->C_SessionCancel(77, CKF_SIGN), CKR_SESSION_HANDLE_INVALID);
	UK_CHECK_EQ(f3->C_MessageEncryptInit(77, &m, 1), CKR_SESSION_HANDLE_INVALID);
	UK_CHECK_EQ(f3->C_EncryptMessage(77, NULL, 0, NULL, 0, b, 1, b, &len),
	            CKR_SESSION_HANDLE_INVALID);
	UK_CHECK_EQ(f3->C_DecryptMessageBegin(77, NULL, 0, NULL, 0), CKR_SESSION_HANDLE_INVALID);
	UK_CHECK_EQ(f3->C_SignMessage(77, NULL, 0, b, 1, b, &len), CKR_SESSION_HANDLE_INVALID);
	UK_CHECK_EQ(f3->C_VerifyMessageNext(77, NULL, 0, b, 1, b, 1), CKR_SESSION_HANDLE_INVALID);
	UK_CHECK_EQ(f3->C_MessageVerifyFinal(77), CKR_SESSION_HANDLE_INVALID);
	UK_CHECK_EQ(f3->C_Finalize(NULL), CKR_OK);
}

static CK_RV wait_rv;
static double wait_end;

static void *waiter(void *arg)
{
	CK_SLOT_ID slot;

	(void)arg;
	wait_rv = f3->C_WaitForSlotEvent(0, &slot, NULL);
	wait_end = now_ms();
	return NULL;
}

/* §5.5.4: CKF_DONT_BLOCK answers at once; a blocked wait returns
 * CKR_CRYPTOKI_NOT_INITIALIZED when another thread calls C_Finalize. */
static void check_wait(void)
{
	CK_C_INITIALIZE_ARGS a = { .flags = CKF_OS_LOCKING_OK };
	CK_SLOT_ID slot;
	pthread_t t;
	double t0;

	UK_CHECK_EQ(f3->C_Initialize(&a), CKR_OK);
	UK_CHECK_EQ(f3->C_WaitForSlotEvent(CKF_DONT_BLOCK, NULL, NULL), CKR_ARGUMENTS_BAD);
	t0 = now_ms();
	UK_CHECK_EQ(f3->C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, NULL), CKR_NO_EVENT);
	UK_CHECK(now_ms() - t0 < 500);
	UK_CHECK(pthread_create(&t, NULL, waiter, NULL) == 0);
	{
		struct timespec ts = { 0, 300 * 1000000L };

		nanosleep(&ts, NULL);
	}
	t0 = now_ms();
	UK_CHECK_EQ(f3->C_Finalize(NULL), CKR_OK);
	UK_CHECK(pthread_join(t, NULL) == 0);
	UK_CHECK_EQ(wait_rv, CKR_CRYPTOKI_NOT_INITIALIZED);
	UK_CHECK(wait_end - t0 < 2500);
}

int main(int argc, char **argv)
{
	CK_C_GetInterfaceList list;
	CK_C_GetInterface get;
	void *so;

	if (argc != 2)
		return uk_test_skip("usage: module_iface libukey-pkcs11.so");
	setenv("PCSCLITE_CSOCK_NAME", "/nonexistent/ukey-test/pcscd.comm", 1);
	so = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	UK_CHECK(so != NULL);
	*(void **)&list = dlsym(so, "C_GetInterfaceList");
	*(void **)&get = dlsym(so, "C_GetInterface");
	UK_CHECK(list != NULL && get != NULL);
	check_interface_list(list);
	check_get_interface(get);
	check_list_complete();
	check_vendor_interface(get);
	check_30_functions();
	check_wait();
	dlclose(so);
	return uk_test_done("module_iface");
}
