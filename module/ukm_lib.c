/* ukey module: library state, locking and fork detection (PKCS#11 2.40 §5.4 C_Initialize,
 * §6.6 "Cryptoki and fork" semantics as implemented by p11-kit-style modules).
 *
 * One lock guards the whole module. It is an OS mutex unless the application gave mutex
 * callbacks without CKF_OS_LOCKING_OK, in which case the spec requires us to use them.
 * C_Initialize does no PC/SC or card I/O: the PC/SC context is created on first need. */
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "ukm.h"

static struct {
	int initialized;
	pid_t pid;
	CK_C_INITIALIZE_ARGS cb;        /* application callbacks (when used) */
	void *app_mutex;                /* non-NULL when the callbacks are in use */
} g;

/* Serialises C_Initialize/C_Finalize against each other and is the OS data lock. */
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

int ukm_lib_initialized(void)
{
	return g.initialized && g.pid == getpid();
}

/* §5.4: the four callbacks are either all supplied or all NULL. */
static CK_RV ukm_lib_check_args(const CK_C_INITIALIZE_ARGS *a)
{
	int n = (a->CreateMutex != NULL) + (a->DestroyMutex != NULL) + (a->LockMutex != NULL) +
	        (a->UnlockMutex != NULL);

	if (a->pReserved != NULL)
		return CKR_ARGUMENTS_BAD;
	if (n != 0 && n != 4)
		return CKR_ARGUMENTS_BAD;
	return CKR_OK;
}

/* A forked child inherits the parent's state: forget it without talking to pcscd over the
 * parent's socket, and start with a fresh lock (another thread may have held it). */
static void ukm_lib_drop_inherited(void)
{
	ukm_session_free_all();
	ukm_pcsc_release(0);
	memset(&g, 0, sizeof(g));
	pthread_mutex_init(&g_lock, NULL);
}

CK_RV ukm_lib_init(CK_C_INITIALIZE_ARGS_PTR args)
{
	CK_RV rv = CKR_OK;
	void *m = NULL;

	if (g.initialized && g.pid != getpid())
		ukm_lib_drop_inherited();
	if (args != NULL && (rv = ukm_lib_check_args(args)) != CKR_OK)
		return rv;
	pthread_mutex_lock(&g_lock);
	if (g.initialized) {
		rv = CKR_CRYPTOKI_ALREADY_INITIALIZED;
		goto out;
	}
	/* Callbacks without CKF_OS_LOCKING_OK: the application's mutexes must be used.
	 * With the flag (or no callbacks) our OS mutex serves; CKR_CANT_LOCK never applies. */
	if (args != NULL && args->CreateMutex != NULL && !(args->flags & CKF_OS_LOCKING_OK)) {
		rv = args->CreateMutex(&m);
		if (rv != CKR_OK)
			goto out;
		g.cb = *args;
		g.app_mutex = m;
	}
	ukm_pcsc_events_baseline();
	g.pid = getpid();
	g.initialized = 1;
out:
	pthread_mutex_unlock(&g_lock);
	return rv;
}

CK_RV ukm_lib_finalize(void)
{
	void *m;

	pthread_mutex_lock(&g_lock);
	if (!ukm_lib_initialized()) {
		pthread_mutex_unlock(&g_lock);
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	}
	/* Threads blocked in C_WaitForSlotEvent return CKR_CRYPTOKI_NOT_INITIALIZED (§5.5.4). */
	ukm_pcsc_cancel_waits();
	if (g.app_mutex != NULL)
		g.cb.LockMutex(g.app_mutex);
	ukm_pcsc_release(1);         /* logs out and closes sessions slot by slot */
	ukm_session_free_all();
	m = g.app_mutex;
	g.initialized = 0;
	if (m != NULL) {
		g.cb.UnlockMutex(m);
		g.cb.DestroyMutex(m);
	}
	memset(&g, 0, sizeof(g));
	pthread_mutex_unlock(&g_lock);
	return CKR_OK;
}

CK_RV ukm_lib_lock(void)
{
	if (!ukm_lib_initialized())
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	if (g.app_mutex != NULL) {
		if (g.cb.LockMutex(g.app_mutex) != CKR_OK)
			return CKR_GENERAL_ERROR;
	} else {
		pthread_mutex_lock(&g_lock);
	}
	if (!ukm_lib_initialized()) {       /* finalised while we waited */
		ukm_lib_unlock();
		return CKR_CRYPTOKI_NOT_INITIALIZED;
	}
	ukm_session_reap();
	return CKR_OK;
}

void ukm_lib_unlock(void)
{
	if (g.app_mutex != NULL)
		g.cb.UnlockMutex(g.app_mutex);
	else
		pthread_mutex_unlock(&g_lock);
}

void ukm_pad(CK_UTF8CHAR *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	memset(dst, ' ', cap);
	memcpy(dst, src, n < cap ? n : cap);
}
