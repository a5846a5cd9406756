/* A PKCS#11 client for the end-to-end tests run under ukey-sandbox ($UKEY_MODULE,
 * $UKEY_USER_PIN). Each mode asserts one behaviour of the whole stack and exits 0 when it
 * holds, 1 when it does not (with the reason on stderr).
 *
 *   lock-out               ten wrong user PINs: CKR_PIN_INCORRECT nine times, then
 *                          CKR_PIN_LOCKED (SPEC S1-4, 10 tries), and CKF_USER_PIN_LOCKED set
 *   login-expect RV        C_Login with the right PIN returns RV (e.g. CKR_PIN_LOCKED)
 *   sign-apdus N LOG       after login and one warm-up signature, N C_Sign calls add exactly
 *                          N APDUs to pcscd's -a log LOG (docs/design.md "APDU budget": C_Sign 1 APDU) */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include "ukey-pkcs11.h"

#define WRONG_PIN "wrong999"
#define MAX_TRIES 10

static CK_FUNCTION_LIST_PTR p11;

struct rv_name {
	CK_RV rv;
	const char *name;
};

static const struct rv_name rv_names[] = {
	{ CKR_OK, "CKR_OK" },
	{ CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT" },
	{ CKR_PIN_LOCKED, "CKR_PIN_LOCKED" },
	{ CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE" },
	{ CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN" },
	{ CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR" },
	{ CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR" },
};

static const char *rv_str(CK_RV rv)
{
	for (size_t i = 0; i < sizeof(rv_names) / sizeof(rv_names[0]); i++)
		if (rv_names[i].rv == rv)
			return rv_names[i].name;
	return "CKR_?";
}

static int rv_parse(const char *s, CK_RV *rv)
{
	for (size_t i = 0; i < sizeof(rv_names) / sizeof(rv_names[0]); i++)
		if (strcmp(rv_names[i].name, s) == 0) {
			*rv = rv_names[i].rv;
			return 0;
		}
	return -1;
}

static int fail(const char *what, CK_RV rv)
{
	fprintf(stderr, "FAIL: %s: %s (0x%lx)\n", what, rv_str(rv), (unsigned long)rv);
	return 1;
}

static int load(void)
{
	const char *path = getenv("UKEY_MODULE");
	CK_C_GetFunctionList get;
	void *dl;

	if (path == NULL) {
		fprintf(stderr, "FAIL: UKEY_MODULE not set (run under ukey-sandbox)\n");
		return 1;
	}
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		fprintf(stderr, "FAIL: dlopen %s: %s\n", path, dlerror());
		return 1;
	}
	get = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
	if (get == NULL || get(&p11) != CKR_OK)
		return fail("C_GetFunctionList", CKR_GENERAL_ERROR);
	return p11->C_Initialize(NULL) == CKR_OK ? 0 : fail("C_Initialize", CKR_GENERAL_ERROR);
}

static int open_first(CK_SLOT_ID *slot, CK_SESSION_HANDLE *s)
{
	CK_ULONG n = 1;
	CK_RV rv = p11->C_GetSlotList(CK_TRUE, slot, &n);

	if (rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL)
		return fail("C_GetSlotList", rv);
	if (n == 0)
		return fail("no token present", CKR_TOKEN_NOT_PRESENT);
	rv = p11->C_OpenSession(*slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, s);
	return rv == CKR_OK ? 0 : fail("C_OpenSession", rv);
}

static CK_RV login_env(CK_SESSION_HANDLE s)
{
	const char *pin = getenv("UKEY_USER_PIN");

	if (pin == NULL)
		return CKR_ARGUMENTS_BAD;
	return p11->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)strlen(pin));
}

static int mode_lock_out(CK_SLOT_ID slot, CK_SESSION_HANDLE s)
{
	CK_TOKEN_INFO ti;
	CK_RV rv, want;

	for (int i = 1; i <= MAX_TRIES; i++) {
		want = i < MAX_TRIES ? CKR_PIN_INCORRECT : CKR_PIN_LOCKED;
		rv = p11->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)WRONG_PIN, strlen(WRONG_PIN));
		if (rv != want) {
			fprintf(stderr, "FAIL: wrong PIN #%d: got %s, want %s\n", i, rv_str(rv),
			        rv_str(want));
			return 1;
		}
		printf("wrong PIN #%d: %s\n", i, rv_str(rv));
	}
	rv = p11->C_GetTokenInfo(slot, &ti);
	if (rv != CKR_OK)
		return fail("C_GetTokenInfo", rv);
	if (!(ti.flags & CKF_USER_PIN_LOCKED)) {
		fprintf(stderr, "FAIL: CKF_USER_PIN_LOCKED not set (flags 0x%lx)\n",
		        (unsigned long)ti.flags);
		return 1;
	}
	printf("CKF_USER_PIN_LOCKED set\n");
	return 0;
}

static int mode_login_expect(CK_SESSION_HANDLE s, const char *want_name)
{
	CK_RV want, rv;

	if (rv_parse(want_name, &want) != 0) {
		fprintf(stderr, "FAIL: unknown return value name %s\n", want_name);
		return 1;
	}
	rv = login_env(s);
	printf("login with the right PIN: %s\n", rv_str(rv));
	if (rv != want) {
		fprintf(stderr, "FAIL: got %s, want %s\n", rv_str(rv), want_name);
		return 1;
	}
	return 0;
}

/* Lines pcscd -a writes for command APDUs ("APDU: " then the bytes). */
static long count_apdus(const char *log)
{
	FILE *f = fopen(log, "r");
	char line[8192];
	long n = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, "APDU: ") != NULL)
			n++;
	fclose(f);
	return n;
}

static int keygen(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE *priv)
{
	CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL yes = CK_TRUE;
	static const char label[] = "apdu-count";
	CK_ATTRIBUTE pubt[] = {
		{ CKA_EC_PARAMS, (void *)UKEY_SM2_EC_PARAMS, UKEY_SM2_EC_PARAMS_LEN },
		{ CKA_LABEL, (void *)label, sizeof(label) - 1 },
		{ CKA_TOKEN, &yes, sizeof(yes) },
	};
	CK_ATTRIBUTE privt[] = {
		{ CKA_LABEL, (void *)label, sizeof(label) - 1 },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_SIGN, &yes, sizeof(yes) },
	};
	CK_OBJECT_HANDLE pub;
	CK_RV rv = p11->C_GenerateKeyPair(s, &mech, pubt, 3, privt, 3, &pub, priv);

	return rv == CKR_OK ? 0 : fail("C_GenerateKeyPair", rv);
}

static int sign_once(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key)
{
	CK_MECHANISM mech = { CKM_UKEY_SM2_SM3, NULL, 0 };
	static const unsigned char msg[] = "one APDU per signature";
	CK_BYTE sig[64];
	CK_ULONG len = sizeof(sig);
	CK_RV rv = p11->C_SignInit(s, &mech, key);

	if (rv == CKR_OK)
		rv = p11->C_Sign(s, (CK_BYTE_PTR)msg, sizeof(msg) - 1, sig, &len);
	if (rv != CKR_OK)
		return fail("C_Sign", rv);
	return len == 64 ? 0 : fail("signature length", CKR_GENERAL_ERROR);
}

static int mode_sign_apdus(CK_SESSION_HANDLE s, const char *count, const char *log)
{
	long n = atol(count), before, after;
	CK_OBJECT_HANDLE key;
	CK_RV rv = login_env(s);

	if (rv != CKR_OK)
		return fail("C_Login", rv);
	if (n <= 0 || keygen(s, &key) != 0 || sign_once(s, key) != 0)
		return 1;
	before = count_apdus(log);
	for (long i = 0; i < n; i++)
		if (sign_once(s, key) != 0)
			return 1;
	after = count_apdus(log);
	printf("%ld signatures: %ld APDUs logged by pcscd (%ld before, %ld after)\n", n,
	       after - before, before, after);
	if (before < 0 || after - before != n) {
		fprintf(stderr, "FAIL: want exactly %ld APDUs\n", n);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE s;
	int rc = 2;

	if (argc < 2 || load() != 0 || open_first(&slot, &s) != 0)
		return argc < 2 ? 2 : 1;
	if (strcmp(argv[1], "lock-out") == 0)
		rc = mode_lock_out(slot, s);
	else if (strcmp(argv[1], "login-expect") == 0 && argc == 3)
		rc = mode_login_expect(s, argv[2]);
	else if (strcmp(argv[1], "sign-apdus") == 0 && argc == 4)
		rc = mode_sign_apdus(s, argv[2], argv[3]);
	else
		fprintf(stderr, "usage: sandbox_p11_client lock-out | login-expect RV | "
		        "sign-apdus N LOG\n");
	p11->C_CloseSession(s);
	p11->C_Finalize(NULL);
	return rc;
}
