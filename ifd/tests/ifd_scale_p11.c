/* ifd_scale_p11: 16 emulated keys behind one ukey reader (pcscd 1.9.9's limit: 16 reader
 * contexts, one per slot), seen through the PKCS#11 module. Run under
 * `ukey-sandbox --tokens 16` ($UKEY_MODULE, $UKEY_USER_PIN):
 *   - C_GetSlotList(CK_TRUE) lists 16 slots with a token (PKCS#11 3.0 §5.5.2);
 *   - every token answers C_GetTokenInfo (§5.5.4) with a serialNumber of its own;
 *   - every key answers a card command: C_GenerateRandom (§5.15.2, GET CHALLENGE);
 *   - three keys (first, middle, last) take a user login and logout (§5.6.8). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include "uk_test.h"

#define KEYS 16

static CK_FUNCTION_LIST_PTR p11;

static void load_module(void)
{
	const char *path = getenv("UKEY_MODULE");
	CK_RV (*get_list)(CK_FUNCTION_LIST_PTR_PTR);
	void *h;

	UK_CHECK(path != NULL);
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	UK_CHECK(h != NULL);
	get_list = (CK_RV (*)(CK_FUNCTION_LIST_PTR_PTR))dlsym(h, "C_GetFunctionList");
	UK_CHECK(get_list != NULL);
	UK_CHECK_EQ(get_list(&p11), CKR_OK);
	UK_CHECK_EQ(p11->C_Initialize(NULL), CKR_OK);
}

/* A session that draws 32 random bytes from the key: proof the card itself answers. */
static void check_answers(CK_SLOT_ID slot)
{
	CK_SESSION_HANDLE s;
	CK_BYTE rnd[32], zero[32] = { 0 };

	UK_CHECK_EQ(p11->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_OK);
	memset(rnd, 0, sizeof(rnd));
	UK_CHECK_EQ(p11->C_GenerateRandom(s, rnd, sizeof(rnd)), CKR_OK);
	UK_CHECK(memcmp(rnd, zero, sizeof(rnd)) != 0);
	UK_CHECK_EQ(p11->C_CloseSession(s), CKR_OK);
}

static void check_login(CK_SLOT_ID slot)
{
	const char *pin = getenv("UKEY_USER_PIN");
	CK_SESSION_HANDLE s;

	UK_CHECK(pin != NULL);
	UK_CHECK_EQ(p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s),
	            CKR_OK);
	UK_CHECK_EQ(p11->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)strlen(pin)), CKR_OK);
	UK_CHECK_EQ(p11->C_Logout(s), CKR_OK);
	UK_CHECK_EQ(p11->C_CloseSession(s), CKR_OK);
}

int main(void)
{
	CK_SLOT_ID slots[KEYS + 4];
	CK_ULONG n = KEYS + 4;
	CK_TOKEN_INFO ti[KEYS];
	unsigned i, j;

	if (getenv("UKEY_MODULE") == NULL)
		return uk_test_skip("run me under ukey-sandbox --tokens 16");
	load_module();
	UK_CHECK_EQ(p11->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	printf("%lu slots with a token\n", (unsigned long)n);
	UK_CHECK_EQ(n, KEYS);
	for (i = 0; i < KEYS; i++) {
		UK_CHECK_EQ(p11->C_GetTokenInfo(slots[i], &ti[i]), CKR_OK);
		printf("slot %lu: serial %.16s\n", (unsigned long)slots[i], ti[i].serialNumber);
		for (j = 0; j < i; j++)
			UK_CHECK(memcmp(ti[i].serialNumber, ti[j].serialNumber,
			                sizeof(ti[i].serialNumber)) != 0);
		check_answers(slots[i]);
	}
	check_login(slots[0]);
	check_login(slots[KEYS / 2]);
	check_login(slots[KEYS - 1]);
	UK_CHECK_EQ(p11->C_Finalize(NULL), CKR_OK);
	return uk_test_done("ifd_scale_p11");
}
