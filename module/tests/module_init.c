/* module_init: library-level PKCS#11 behaviour that needs no card (PKCS#11 2.40 §5.4):
 * C_Initialize argument rules, double initialisation, calls before C_Initialize, a forked
 * child seeing CKR_CRYPTOKI_NOT_INITIALIZED, application mutex callbacks, and zero slots
 * at once when pcscd is unreachable. Loads the real .so with dlopen. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "uk_test.h"

static CK_FUNCTION_LIST_PTR fl;
static int n_create, n_destroy, n_lock, n_unlock;

static CK_RV cb_create(void **m)
{
	n_create++;
	*m = malloc(1);
	return *m ? CKR_OK : CKR_HOST_MEMORY;
}

static CK_RV cb_destroy(void *m)
{
	n_destroy++;
	free(m);
	return CKR_OK;
}

static CK_RV cb_lock(void *m)
{
	(void)m;
	n_lock++;
	return CKR_OK;
}

static CK_RV cb_unlock(void *m)
{
	(void)m;
	n_unlock++;
	return CKR_OK;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void check_not_initialized(void)
{
	CK_ULONG n = 0;
	CK_INFO info;
	CK_SESSION_HANDLE h;

	UK_CHECK_EQ(fl->C_GetSlotList(CK_FALSE, NULL, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
	UK_CHECK_EQ(fl->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
	UK_CHECK_EQ(fl->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &h),
	            CKR_CRYPTOKI_NOT_INITIALIZED);
	UK_CHECK_EQ(fl->C_CloseSession(1), CKR_CRYPTOKI_NOT_INITIALIZED);
	UK_CHECK_EQ(fl->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
}

static void check_args(void)
{
	CK_C_INITIALIZE_ARGS a = { 0 };

	a.pReserved = &a;
	UK_CHECK_EQ(fl->C_Initialize(&a), CKR_ARGUMENTS_BAD);
	a.pReserved = NULL;
	a.CreateMutex = cb_create;          /* some callbacks but not all */
	UK_CHECK_EQ(fl->C_Initialize(&a), CKR_ARGUMENTS_BAD);
	a.flags = CKF_OS_LOCKING_OK;
	UK_CHECK_EQ(fl->C_Initialize(&a), CKR_ARGUMENTS_BAD);
	check_not_initialized();            /* refused calls left nothing behind */
}

static void check_no_pcscd(void)
{
	CK_SLOT_ID slots[4];
	CK_ULONG n = 99;
	double t0, t1;
	CK_SESSION_HANDLE h;
	CK_MECHANISM_INFO mi;

	t0 = now_ms();
	UK_CHECK_EQ(fl->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
	t1 = now_ms();
	UK_CHECK_EQ(n, 0);
	printf("C_GetSlotList without pcscd: %.2f ms\n", t1 - t0);
	n = 4;
	UK_CHECK_EQ(fl->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	UK_CHECK_EQ(n, 0);
	UK_CHECK_EQ(fl->C_GetSlotList(CK_FALSE, NULL, NULL), CKR_ARGUMENTS_BAD);
	UK_CHECK_EQ(fl->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_SLOT_ID_INVALID);
	UK_CHECK_EQ(fl->C_GetMechanismInfo(0, CKM_EC_KEY_PAIR_GEN, &mi), CKR_SLOT_ID_INVALID);
	UK_CHECK_EQ(fl->C_CloseSession(12345), CKR_SESSION_HANDLE_INVALID);
	UK_CHECK_EQ(fl->C_Login(12345, CKU_USER, (CK_UTF8CHAR_PTR)"x", 1),
	            CKR_SESSION_HANDLE_INVALID);
}

/* A forked child must initialise again before use (and then may). */
static void check_fork(void)
{
	int status = -1;
	CK_ULONG n = 0;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	UK_CHECK(pid >= 0);
	if (pid == 0) {
		int bad = 0;

		bad |= fl->C_GetSlotList(CK_FALSE, NULL, &n) != CKR_CRYPTOKI_NOT_INITIALIZED;
		bad |= fl->C_Initialize(NULL) != CKR_OK;
		bad |= fl->C_GetSlotList(CK_FALSE, NULL, &n) != CKR_OK;
		bad |= fl->C_Finalize(NULL) != CKR_OK;
		_exit(bad ? 3 : 0);
	}
	UK_CHECK_EQ(waitpid(pid, &status, 0), pid);
	UK_CHECK(WIFEXITED(status));
	UK_CHECK_EQ(WEXITSTATUS(status), 0);
	UK_CHECK_EQ(fl->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);   /* parent unaffected */
}

static void check_app_mutexes(void)
{
	CK_C_INITIALIZE_ARGS a = { 0 };
	CK_ULONG n = 0;

	a.CreateMutex = cb_create;
	a.DestroyMutex = cb_destroy;
	a.LockMutex = cb_lock;
	a.UnlockMutex = cb_unlock;
	UK_CHECK_EQ(fl->C_Initialize(&a), CKR_OK);
	UK_CHECK_EQ(fl->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
	/* Without CKF_OS_LOCKING_OK the library must use the application's mutexes. */
	UK_CHECK(n_create >= 1);
	UK_CHECK(n_lock >= 1);
	UK_CHECK_EQ(n_lock, n_unlock);
	UK_CHECK_EQ(fl->C_Finalize(NULL), CKR_OK);
	UK_CHECK_EQ(n_create, n_destroy);
}

int main(int argc, char **argv)
{
	CK_C_GetFunctionList get;
	CK_C_INITIALIZE_ARGS a = { 0 };
	CK_INFO info;
	void *dl, **fn;
	size_t i;

	UK_CHECK(argc == 2);
	/* pcsc-lite clients read the socket name from here: point it at nothing. */
	setenv("PCSCLITE_CSOCK_NAME", "/nonexistent/ukey-test/pcscd.comm", 1);
	dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	UK_CHECK(dl != NULL);
	get = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
	UK_CHECK(get != NULL);
	UK_CHECK(dlsym(dl, "C_Initialize") == NULL);        /* reached via the list only */
	UK_CHECK_EQ(get(NULL), CKR_ARGUMENTS_BAD);
	UK_CHECK_EQ(get(&fl), CKR_OK);
	UK_CHECK_EQ(fl->version.major, 2);
	UK_CHECK_EQ(fl->version.minor, 40);
	/* every entry of the 2.40 table is present */
	fn = (void **)&fl->C_Initialize;
	for (i = 0; i < (sizeof(*fl) - sizeof(fl->version)) / sizeof(void *); i++)
		UK_CHECK(fn[i] != NULL);

	check_not_initialized();
	check_args();
	a.flags = CKF_OS_LOCKING_OK;
	UK_CHECK_EQ(fl->C_Initialize(&a), CKR_OK);
	UK_CHECK_EQ(fl->C_Initialize(&a), CKR_CRYPTOKI_ALREADY_INITIALIZED);
	UK_CHECK_EQ(fl->C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED);
	UK_CHECK_EQ(fl->C_GetInfo(NULL), CKR_ARGUMENTS_BAD);
	UK_CHECK_EQ(fl->C_GetInfo(&info), CKR_OK);
	UK_CHECK_EQ(info.cryptokiVersion.major, 2);
	UK_CHECK_EQ(info.cryptokiVersion.minor, 40);
	check_no_pcscd();
	check_fork();
	UK_CHECK_EQ(fl->C_Finalize(&a), CKR_ARGUMENTS_BAD);
	UK_CHECK_EQ(fl->C_Finalize(NULL), CKR_OK);
	check_not_initialized();
	check_app_mutexes();
	UK_CHECK_EQ(fl->C_Initialize(NULL), CKR_OK);     /* re-initialisable */
	UK_CHECK_EQ(fl->C_Finalize(NULL), CKR_OK);
	dlclose(dl);
	return uk_test_done("module_init");
}
