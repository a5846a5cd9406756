/* rel_churn: $UKEY_MODULE while the key and pcscd come and go under a signing load (run inside
 * ukey-sandbox). module_e2e_robust covers one removal mid-signature and one pcscd restart with
 * no load; this is the repeated version (issue 8):
 *  - 50 remove/insert cycles (`ukey-emu ctl remove/insert`) at random points while 2 threads
 *    sign continuously, each on its own session;
 *  - pcscd restarted 5 times ($UKEY_PCSCD_RESTART) under the same load.
 * Every signature returned is checked with OpenSSL; every failure is one of the codes
 * PKCS#11 3.0 §5 gives a vanished token (CKR_DEVICE_REMOVED, CKR_SESSION_HANDLE_INVALID,
 * CKR_TOKEN_NOT_PRESENT, CKR_USER_NOT_LOGGED_IN), never another code, a crash or a hang (a
 * watchdog bounds every call); after the last insertion and after each pcscd restart the
 * threads sign again. The pauses come from a seed, printed (UKEY_CHURN_SEED replays it). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <p11-kit/pkcs11.h>

#include "ukey-pkcs11.h"
#include "e2e_util.h"
#include "uk_test.h"

#define PIN(s) (CK_UTF8CHAR_PTR)(s), (CK_ULONG)strlen(s)
#define SIGNERS 2
#define CYCLES 50
#define RESTARTS 5
#define CALL_MAX_MS 10000       /* no PKCS#11 call may take longer: a hang */
#define BACK_MAX_MS 15000       /* signing works again this soon after an insertion */
#define SEED_DEFAULT 8u
#define LABEL "rel-churn"

static CK_FUNCTION_LIST_PTR fl;
static CK_SLOT_ID slot;
static const char *user_pin;
static uint8_t pub_point[65];

/* Shared with the signers: counters only, checked by the main thread. */
static atomic_int stop;
static atomic_long ok_sigs, bad_sigs, allowed_fails, other_fails;
static atomic_long last_rv;             /* the last code outside the allowed list */
static _Atomic double call_start[SIGNERS];      /* 0: not inside a call */

/* The codes a token that vanished may give (PKCS#11 3.0 §5.1.5 / §5.1.6); while pcscd
 * restarts the reader itself is gone for a moment, and C_OpenSession of its slot answers
 * CKR_SLOT_ID_INVALID (§5.6: the slot comes back with the same ID, module_e2e_robust);
 * a C_Sign whose SCardTransmit meets pcscd's death answers CKR_DEVICE_REMOVED (the card
 * handle and its login went with pcscd). */
static atomic_int reader_may_vanish;

static int allowed(CK_RV rv)
{
	static const CK_RV list[] = { CKR_DEVICE_REMOVED, CKR_SESSION_HANDLE_INVALID,
	                              CKR_TOKEN_NOT_PRESENT, CKR_USER_NOT_LOGGED_IN };
	size_t i;

	for (i = 0; i < sizeof(list) / sizeof(list[0]); i++)
		if (rv == list[i])
			return 1;
	return reader_may_vanish && rv == CKR_SLOT_ID_INVALID;
}

static void count_fail(CK_RV rv, const char *what)
{
	if (allowed(rv)) {
		allowed_fails++;
		return;
	}
	other_fails++;
	last_rv = (long)rv;
	fprintf(stderr, "%s: 0x%lx (not a code of a vanished token)\n", what, rv);
}

static CK_OBJECT_HANDLE find_key(CK_SESSION_HANDLE h, CK_RV *rv)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	char label[] = LABEL;
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) },
	                     { CKA_LABEL, label, sizeof(LABEL) - 1 } };
	CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;
	CK_ULONG n = 0;

	if ((*rv = fl->C_FindObjectsInit(h, t, 2)) != CKR_OK)
		return CK_INVALID_HANDLE;
	*rv = fl->C_FindObjects(h, &k, 1, &n);
	fl->C_FindObjectsFinal(h);
	if (*rv == CKR_OK && n != 1)
		*rv = CKR_USER_NOT_LOGGED_IN;   /* a public session after a re-insertion */
	return n == 1 ? k : CK_INVALID_HANDLE;
}

/* A fresh session, logged in, and the key; CKR_OK or the first failing code. */
static CK_RV session_up(CK_SESSION_HANDLE *h, CK_OBJECT_HANDLE *key)
{
	CK_RV rv = fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, h);

	if (rv != CKR_OK)
		return rv;
	rv = fl->C_Login(*h, CKU_USER, PIN(user_pin));
	if (rv == CKR_USER_ALREADY_LOGGED_IN)
		rv = CKR_OK;
	if (rv == CKR_OK)
		*key = find_key(*h, &rv);
	if (rv != CKR_OK)
		fl->C_CloseSession(*h);
	return rv;
}

/* One CKM_UKEY_SM2 signature, checked with OpenSSL; the C_SignInit / C_Sign code. */
static CK_RV sign_once(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, unsigned n)
{
	CK_MECHANISM m = { CKM_UKEY_SM2, NULL, 0 };
	uint8_t e[32], sig[64];
	CK_ULONG len = sizeof(sig);
	CK_RV rv;
	size_t i;

	for (i = 0; i < 32; i++)
		e[i] = (uint8_t)(n * 131 + i);
	if ((rv = fl->C_SignInit(h, &m, key)) != CKR_OK || (rv = fl->C_Sign(h, e, 32, sig, &len)) != CKR_OK)
		return rv;
	if (len == 64 && e2e_sm2_verify_e(pub_point, e, sig))
		ok_sigs++;
	else
		bad_sigs++;
	return CKR_OK;
}

static void *signer(void *arg)
{
	int id = (int)(size_t)arg;
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
	CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
	unsigned n = (unsigned)id << 20;
	CK_RV rv;

	while (!stop) {
		call_start[id] = e2e_now_ms();
		if (h == CK_INVALID_HANDLE) {
			rv = session_up(&h, &key);
			if (rv != CKR_OK) {
				h = CK_INVALID_HANDLE;
				count_fail(rv, "session");
			}
		} else if ((rv = sign_once(h, key, n++)) != CKR_OK) {
			count_fail(rv, "sign");
			fl->C_CloseSession(h);  /* CKR_SESSION_HANDLE_INVALID when already gone */
			h = CK_INVALID_HANDLE;
		}
		call_start[id] = 0;
		if (h == CK_INVALID_HANDLE)
			e2e_sleep_ms(20);           /* no busy loop while the key is out */
	}
	if (h != CK_INVALID_HANDLE)
		fl->C_CloseSession(h);
	return NULL;
}

/* The main thread's watchdog: no signer stuck in one call longer than CALL_MAX_MS. */
static void check_no_hang(void)
{
	double t = e2e_now_ms(), s;
	int i;

	for (i = 0; i < SIGNERS; i++) {
		s = call_start[i];
		if (s != 0 && t - s > CALL_MAX_MS)
			fprintf(stderr, "signer %d: one call for %.0f ms\n", i, t - s);
		UK_CHECK(s == 0 || t - s <= CALL_MAX_MS);
	}
}

/* Sleep ms while watching the signers. */
static void watch_ms(long ms)
{
	double end = e2e_now_ms() + (double)ms;

	while (e2e_now_ms() < end) {
		check_no_hang();
		e2e_sleep_ms(10);
	}
}

/* After an insertion or a pcscd restart: the signers sign again within BACK_MAX_MS. */
static void wait_signing(const char *what)
{
	long before = ok_sigs;
	double t0 = e2e_now_ms();

	while (ok_sigs < before + SIGNERS && e2e_now_ms() - t0 < BACK_MAX_MS)
		watch_ms(20);
	if (ok_sigs < before + SIGNERS)
		fprintf(stderr, "%s: no signature for %d ms\n", what, BACK_MAX_MS);
	UK_CHECK(ok_sigs >= before + SIGNERS);
}

static void generate(void)
{
	CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL t = CK_TRUE;
	char label[] = LABEL;
	CK_ATTRIBUTE pubt[] = {
		{ CKA_EC_PARAMS, (void *)UKEY_SM2_EC_PARAMS, UKEY_SM2_EC_PARAMS_LEN },
		{ CKA_LABEL, label, sizeof(LABEL) - 1 },
	};
	CK_ATTRIBUTE privt[] = { { CKA_SIGN, &t, 1 }, { CKA_LABEL, label, sizeof(LABEL) - 1 } };
	CK_OBJECT_HANDLE pub, priv;
	CK_SESSION_HANDLE h;
	uint8_t ecp[67];
	CK_ATTRIBUTE get[] = { { CKA_EC_POINT, ecp, sizeof(ecp) } };

	UK_CHECK_EQ(fl->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h),
	            CKR_OK);
	UK_CHECK_EQ(fl->C_Login(h, CKU_USER, PIN(user_pin)), CKR_OK);
	UK_CHECK_EQ(fl->C_GenerateKeyPair(h, &m, pubt, 2, privt, 2, &pub, &priv), CKR_OK);
	UK_CHECK_EQ(fl->C_GetAttributeValue(h, pub, get, 1), CKR_OK);
	UK_CHECK(get[0].ulValueLen == 67 && ecp[2] == 0x04);
	memcpy(pub_point, ecp + 2, 65);
	UK_CHECK_EQ(fl->C_CloseSession(h), CKR_OK);
}

static void churn_cycles(unsigned *seed)
{
	long fails0 = allowed_fails;
	int i;

	for (i = 0; i < CYCLES; i++) {
		watch_ms(20 + rand_r(seed) % 200);     /* mid-signature or between two */
		UK_CHECK_EQ(e2e_emu_ctl("remove 0"), 0);
		watch_ms(rand_r(seed) % 100);
		UK_CHECK_EQ(e2e_emu_ctl("insert 0"), 0);
	}
	wait_signing("after the last insertion");
	printf("%d remove/insert cycles: %ld signatures valid, %ld failures (all of a vanished "
	       "token)\n", CYCLES, (long)ok_sigs, (long)(allowed_fails - fails0));
	UK_CHECK(allowed_fails > fails0);      /* the removals did hit the signers */
}

static void pcscd_restarts(void)
{
	long sigs0 = ok_sigs, fails0 = allowed_fails;
	int i;

	reader_may_vanish = 1;
	for (i = 0; i < RESTARTS; i++) {
		watch_ms(300);
		UK_CHECK_EQ(system(getenv("UKEY_PCSCD_RESTART")), 0);
		UK_CHECK_EQ(e2e_emu_ctl("insert 0"), 0);       /* the key's link is plugged back */
		wait_signing("after a pcscd restart");
	}
	printf("%d pcscd restarts under load: %ld signatures valid since, %ld failures of a "
	       "vanished token or reader\n", RESTARTS, (long)(ok_sigs - sigs0),
	       (long)(allowed_fails - fails0));
	UK_CHECK(allowed_fails > fails0);      /* the restarts did hit the signers */
}

int main(void)
{
	const char *mod = getenv("UKEY_MODULE"), *env_seed = getenv("UKEY_CHURN_SEED");
	CK_C_INITIALIZE_ARGS a = { .flags = CKF_OS_LOCKING_OK };
	CK_RV (*gfl)(CK_FUNCTION_LIST_PTR_PTR);
	pthread_t t[SIGNERS];
	unsigned seed = env_seed != NULL ? (unsigned)strtoul(env_seed, NULL, 0) : SEED_DEFAULT;
	double t0 = e2e_now_ms();
	CK_ULONG n = 1;
	void *so;
	int i;

	user_pin = getenv("UKEY_USER_PIN");
	if (mod == NULL || user_pin == NULL || getenv("UKEY_EMU_CONTROL") == NULL ||
	    getenv("UKEY_PCSCD_RESTART") == NULL)
		return uk_test_skip("not inside ukey-sandbox");
	printf("seed %u (UKEY_CHURN_SEED=%u replays it)\n", seed, seed);
	so = dlopen(mod, RTLD_NOW | RTLD_LOCAL);
	UK_CHECK(so != NULL);
	*(void **)&gfl = dlsym(so, "C_GetFunctionList");
	UK_CHECK(gfl != NULL && gfl(&fl) == CKR_OK);
	UK_CHECK_EQ(fl->C_Initialize(&a), CKR_OK);
	UK_CHECK_EQ(fl->C_GetSlotList(CK_TRUE, &slot, &n), CKR_OK);
	UK_CHECK_EQ(n, 1);
	generate();
	for (i = 0; i < SIGNERS; i++)
		UK_CHECK(pthread_create(&t[i], NULL, signer, (void *)(size_t)i) == 0);
	wait_signing("at the start");
	churn_cycles(&seed);
	pcscd_restarts();
	stop = 1;
	for (i = 0; i < SIGNERS; i++)
		UK_CHECK(pthread_join(t[i], NULL) == 0);
	printf("%ld valid signatures, %ld invalid, %ld allowed failures, %ld other failures "
	       "(last 0x%lx), %.0f ms\n", (long)ok_sigs, (long)bad_sigs, (long)allowed_fails,
	       (long)other_fails, (unsigned long)last_rv, e2e_now_ms() - t0);
	UK_CHECK_EQ(bad_sigs, 0);
	UK_CHECK_EQ(other_fails, 0);
	UK_CHECK_EQ(fl->C_Finalize(NULL), CKR_OK);
	dlclose(so);
	return uk_test_done("rel_churn");
}
