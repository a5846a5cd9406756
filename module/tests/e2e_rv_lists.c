/* module_e2e_rv_lists: the card paths of module_rv_lists (run inside tools/ukey-sandbox).
 * Drives the error paths that returned codes outside their PKCS#11 3.0 §5 lists and
 * checks each returned code against rv_spec.h (the lists from the specification):
 *   C_Sign / C_Verify / C_Digest after an Update (was CKR_OPERATION_ACTIVE),
 *   C_EncryptUpdate on a single-part mechanism (was CKR_FUNCTION_NOT_SUPPORTED),
 *   C_SignFinal after the key was deleted from the card (SW 6A88 was CKR_KEY_HANDLE_INVALID),
 *   C_DestroyObject of a gone key, and the C_GetOperationState stub. */
#include <dlfcn.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include "rv_spec.h"
#include "ukey-pkcs11.h"
#include "uk_test.h"

static CK_FUNCTION_LIST_PTR fl;

/* Assert rv is in fn's list; return it for a further exact check. */
static CK_RV in_list(const char *fn, CK_RV rv)
{
	if (!rv_spec_allows(fn, rv))
		fprintf(stderr, "%s returned 0x%lx: not in its §5 list\n", fn, (unsigned long)rv);
	UK_CHECK(rv_spec_allows(fn, rv));
	return rv;
}

static void generate(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL t = CK_TRUE;
	char label[] = "e2e-rv";
	CK_ATTRIBUTE pubt[] = {
		{ CKA_EC_PARAMS, (void *)UKEY_SM2_EC_PARAMS, UKEY_SM2_EC_PARAMS_LEN },
		{ CKA_LABEL, label, sizeof(label) - 1 },
		{ CKA_VERIFY, &t, 1 },
	};
	CK_ATTRIBUTE privt[] = { { CKA_SIGN, &t, 1 }, { CKA_TOKEN, &t, 1 } };

	UK_CHECK_EQ(fl->C_GenerateKeyPair(h, &m, pubt, 3, privt, 2, pub, priv), CKR_OK);
}

static void after_update(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv)
{
	CK_MECHANISM sm = { CKM_UKEY_SM2_SM3, NULL, 0 }, dm = { CKM_SHA256, NULL, 0 };
	CK_BYTE msg[] = "abc", out[128];
	CK_ULONG n = sizeof(out);

	UK_CHECK_EQ(fl->C_SignInit(h, &sm, priv), CKR_OK);
	UK_CHECK_EQ(fl->C_SignUpdate(h, msg, 3), CKR_OK);
	UK_CHECK_EQ(in_list("C_Sign", fl->C_Sign(h, msg, 3, out, &n)),
	            CKR_OPERATION_NOT_INITIALIZED);
	n = sizeof(out);
	UK_CHECK_EQ(fl->C_SignFinal(h, out, &n), CKR_OK);     /* the operation was kept */
	UK_CHECK_EQ(fl->C_VerifyInit(h, &sm, pub), CKR_OK);
	UK_CHECK_EQ(fl->C_VerifyUpdate(h, msg, 3), CKR_OK);
	UK_CHECK_EQ(in_list("C_Verify", fl->C_Verify(h, msg, 3, out, n)),
	            CKR_OPERATION_NOT_INITIALIZED);
	UK_CHECK_EQ(fl->C_VerifyFinal(h, out, n), CKR_OK);
	UK_CHECK_EQ(fl->C_DigestInit(h, &dm), CKR_OK);
	UK_CHECK_EQ(fl->C_DigestUpdate(h, msg, 3), CKR_OK);
	n = sizeof(out);
	UK_CHECK_EQ(in_list("C_Digest", fl->C_Digest(h, msg, 3, out, &n)),
	            CKR_OPERATION_NOT_INITIALIZED);
	n = sizeof(out);
	UK_CHECK_EQ(fl->C_DigestFinal(h, out, &n), CKR_OK);
}

/* CKM_UKEY_SM2_ENCRYPT is single-part (docs/pkcs11-profile.md); C_EncryptUpdate of it. */
static void single_part_update(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE pub)
{
	CK_MECHANISM em = { CKM_UKEY_SM2_ENCRYPT, NULL, 0 };
	CK_BYTE msg[] = "abc", out[256];
	CK_ULONG n = sizeof(out);
	CK_RV rv;

	rv = in_list("C_EncryptInit", fl->C_EncryptInit(h, &em, pub));
	if (rv != CKR_OK)
		return;         /* a signing key may refuse encryption: the Init code was checked */
	UK_CHECK_EQ(in_list("C_EncryptUpdate", fl->C_EncryptUpdate(h, msg, 3, out, &n)),
	            CKR_OPERATION_NOT_INITIALIZED);
}

/* The key leaves the card while a signature is active: the card's 6A88 inside
 * C_SignFinal, whose list has no CKR_KEY_HANDLE_INVALID. */
static void key_gone(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv)
{
	CK_MECHANISM sm = { CKM_UKEY_SM2_SM3, NULL, 0 };
	CK_BYTE msg[] = "abc", out[128];
	CK_ULONG n = sizeof(out);

	(void)pub;
	UK_CHECK_EQ(fl->C_SignInit(h, &sm, priv), CKR_OK);
	UK_CHECK_EQ(fl->C_SignUpdate(h, msg, 3), CKR_OK);
	UK_CHECK_EQ(fl->C_DestroyObject(h, priv), CKR_OK);
	UK_CHECK(in_list("C_SignFinal", fl->C_SignFinal(h, out, &n)) != CKR_OK);
	UK_CHECK_EQ(in_list("C_DestroyObject", fl->C_DestroyObject(h, priv)),
	            CKR_OBJECT_HANDLE_INVALID);
	n = 0;
	in_list("C_GetOperationState", fl->C_GetOperationState(h, NULL, &n));
	in_list("C_EncryptFinal", fl->C_EncryptFinal(h, out, &n));
}

int main(void)
{
	const char *path = getenv("UKEY_MODULE"), *pin = getenv("UKEY_USER_PIN");
	CK_OBJECT_HANDLE pub, priv;
	CK_C_GetFunctionList get;
	CK_SESSION_HANDLE h;
	CK_SLOT_ID slots[8];
	CK_ULONG n = 8;
	void *dl;

	if (path == NULL || pin == NULL)
		return uk_test_skip("run inside tools/ukey-sandbox (UKEY_MODULE, UKEY_USER_PIN)");
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	UK_CHECK(dl != NULL);
	get = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
	UK_CHECK(get != NULL && get(&fl) == CKR_OK);
	UK_CHECK_EQ(fl->C_Initialize(NULL), CKR_OK);
	UK_CHECK_EQ(fl->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	UK_CHECK(n >= 1);
	UK_CHECK_EQ(fl->C_OpenSession(slots[0], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
	                              &h), CKR_OK);
	UK_CHECK_EQ(fl->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)), CKR_OK);
	generate(h, &pub, &priv);
	after_update(h, pub, priv);
	single_part_update(h, pub);
	key_gone(h, pub, priv);
	UK_CHECK_EQ(fl->C_CloseSession(h), CKR_OK);
	UK_CHECK_EQ(fl->C_Finalize(NULL), CKR_OK);
	dlclose(dl);
	return uk_test_done("module_e2e_rv_lists");
}
