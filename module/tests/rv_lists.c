/* module_rv_lists: every C_* returns only the codes of its PKCS#11 3.0 §5 list.
 *
 * Table-driven over rv_spec.h (the lists written from the specification): for each listed
 * function and every CK_RV the module's layers can produce, the code leaving the entry point
 * (ukm_rv, module/ukm_rv.c) must be in the function's list, and a code already in the list
 * must pass unchanged. Then the mappings that were deviations (status words inside
 * C_SignFinal / C_Sign / C_DestroyObject / C_Decrypt, a missing token inside a session
 * function, CKR_FUNCTION_NOT_SUPPORTED outside stubs) are checked to give the most specific
 * allowed code, and a few calls through the real entry points without a card. The card
 * paths are driven by module_e2e_rv_lists in the sandbox. */
#include <string.h>

#include "rv_spec.h"
#include "uk_apdu.h"
#include "uk_test.h"
#include "ukm.h"

static const struct {
	const char *fn;
	enum ukm_fn id;
} fns[] = {
	{ "C_GetTokenInfo", UKM_FN_GET_TOKEN_INFO }, { "C_OpenSession", UKM_FN_OPEN_SESSION },
	{ "C_CloseSession", UKM_FN_CLOSE_SESSION },
	{ "C_GetOperationState", UKM_FN_GET_OPERATION_STATE },
	{ "C_SetOperationState", UKM_FN_SET_OPERATION_STATE }, { "C_Login", UKM_FN_LOGIN },
	{ "C_DestroyObject", UKM_FN_DESTROY_OBJECT }, { "C_EncryptInit", UKM_FN_ENCRYPT_INIT },
	{ "C_Encrypt", UKM_FN_ENCRYPT }, { "C_EncryptUpdate", UKM_FN_ENCRYPT_UPDATE },
	{ "C_EncryptFinal", UKM_FN_ENCRYPT_FINAL }, { "C_Decrypt", UKM_FN_DECRYPT },
	{ "C_DecryptUpdate", UKM_FN_DECRYPT_UPDATE }, { "C_Digest", UKM_FN_DIGEST },
	{ "C_SignInit", UKM_FN_SIGN_INIT }, { "C_Sign", UKM_FN_SIGN },
	{ "C_SignUpdate", UKM_FN_SIGN_UPDATE }, { "C_SignFinal", UKM_FN_SIGN_FINAL },
	{ "C_Verify", UKM_FN_VERIFY }, { "C_GenerateRandom", UKM_FN_GENERATE_RANDOM },
	{ "ukey get_pin_status", UKM_FN_UKEY_GET_PIN_STATUS },
};

/* Every code the module's layers produce (grep CKR_ module/) and a few more. */
static const CK_RV codes[] = {
	CKR_OK, CKR_HOST_MEMORY, CKR_SLOT_ID_INVALID, CKR_GENERAL_ERROR, CKR_FUNCTION_FAILED,
	CKR_ARGUMENTS_BAD, CKR_NO_EVENT, CKR_CANT_LOCK, CKR_ATTRIBUTE_READ_ONLY,
	CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID, CKR_ATTRIBUTE_VALUE_INVALID,
	CKR_ACTION_PROHIBITED, CKR_DATA_INVALID, CKR_DATA_LEN_RANGE, CKR_DEVICE_ERROR,
	CKR_DEVICE_MEMORY, CKR_DEVICE_REMOVED, CKR_ENCRYPTED_DATA_INVALID,
	CKR_ENCRYPTED_DATA_LEN_RANGE, CKR_FUNCTION_CANCELED, CKR_FUNCTION_NOT_PARALLEL,
	CKR_FUNCTION_NOT_SUPPORTED, CKR_KEY_HANDLE_INVALID, CKR_KEY_SIZE_RANGE,
	CKR_KEY_TYPE_INCONSISTENT, CKR_KEY_INDIGESTIBLE, CKR_KEY_FUNCTION_NOT_PERMITTED,
	CKR_MECHANISM_INVALID, CKR_MECHANISM_PARAM_INVALID, CKR_OBJECT_HANDLE_INVALID,
	CKR_OPERATION_ACTIVE, CKR_OPERATION_NOT_INITIALIZED, CKR_PIN_INCORRECT, CKR_PIN_INVALID,
	CKR_PIN_LEN_RANGE, CKR_PIN_LOCKED, CKR_SESSION_CLOSED, CKR_SESSION_COUNT,
	CKR_SESSION_HANDLE_INVALID, CKR_SESSION_READ_ONLY, CKR_SESSION_EXISTS,
	CKR_SESSION_READ_ONLY_EXISTS, CKR_SESSION_READ_WRITE_SO_EXISTS, CKR_SIGNATURE_INVALID,
	CKR_SIGNATURE_LEN_RANGE, CKR_TEMPLATE_INCOMPLETE, CKR_TEMPLATE_INCONSISTENT,
	CKR_TOKEN_NOT_PRESENT, CKR_TOKEN_NOT_RECOGNIZED, CKR_TOKEN_WRITE_PROTECTED,
	CKR_UNWRAPPING_KEY_HANDLE_INVALID, CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
	CKR_USER_ALREADY_LOGGED_IN, CKR_USER_NOT_LOGGED_IN, CKR_USER_PIN_NOT_INITIALIZED,
	CKR_USER_TYPE_INVALID, CKR_USER_ANOTHER_ALREADY_LOGGED_IN, CKR_USER_TOO_MANY_TYPES,
	CKR_WRAPPED_KEY_INVALID, CKR_WRAPPED_KEY_LEN_RANGE, CKR_RANDOM_SEED_NOT_SUPPORTED,
	CKR_DOMAIN_PARAMS_INVALID, CKR_CURVE_NOT_SUPPORTED, CKR_BUFFER_TOO_SMALL,
	CKR_STATE_UNSAVEABLE, CKR_CRYPTOKI_NOT_INITIALIZED, CKR_CRYPTOKI_ALREADY_INITIALIZED,
	CKR_FUNCTION_REJECTED, CKR_PIN_EXPIRED,
};

static void check_tables(void)
{
	size_t i, j;
	CK_RV out;

	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		UK_CHECK(rv_spec_of(fns[i].fn) != NULL);
		for (j = 0; j < sizeof(codes) / sizeof(codes[0]); j++) {
			out = ukm_rv(fns[i].id, codes[j]);
			if (!rv_spec_allows(fns[i].fn, out))
				fprintf(stderr, "%s: 0x%lx -> 0x%lx\n", fns[i].fn,
				        (unsigned long)codes[j], (unsigned long)out);
			UK_CHECK(rv_spec_allows(fns[i].fn, out));
			if (rv_spec_allows(fns[i].fn, codes[j]))
				UK_CHECK_EQ(out, codes[j]);
		}
	}
}

/* The deviations found in the audit, each with the code it must now give. */
static const struct {
	enum ukm_fn fn;
	CK_RV from, to;
} fixed[] = {
	{ UKM_FN_SIGN_FINAL, CKR_DATA_INVALID, CKR_FUNCTION_FAILED },            /* SW 6A80 */
	{ UKM_FN_SIGN, CKR_KEY_HANDLE_INVALID, CKR_FUNCTION_FAILED },            /* SW 6A88 */
	{ UKM_FN_SIGN_INIT, CKR_KEY_HANDLE_INVALID, CKR_KEY_HANDLE_INVALID },
	{ UKM_FN_DESTROY_OBJECT, CKR_KEY_HANDLE_INVALID, CKR_OBJECT_HANDLE_INVALID },
	{ UKM_FN_DESTROY_OBJECT, CKR_USER_NOT_LOGGED_IN, CKR_FUNCTION_FAILED },  /* SW 6982 */
	{ UKM_FN_DECRYPT, CKR_DATA_INVALID, CKR_ENCRYPTED_DATA_INVALID },
	{ UKM_FN_DECRYPT, CKR_DATA_LEN_RANGE, CKR_ENCRYPTED_DATA_LEN_RANGE },
	{ UKM_FN_SIGN, CKR_TOKEN_NOT_PRESENT, CKR_DEVICE_REMOVED },
	{ UKM_FN_SIGN, CKR_TOKEN_NOT_RECOGNIZED, CKR_DEVICE_ERROR },              /* SW 6A82 */
	{ UKM_FN_GET_TOKEN_INFO, CKR_TOKEN_NOT_PRESENT, CKR_TOKEN_NOT_PRESENT },
	{ UKM_FN_ENCRYPT_UPDATE, CKR_FUNCTION_NOT_SUPPORTED, CKR_FUNCTION_FAILED },
	{ UKM_FN_GET_OPERATION_STATE, CKR_FUNCTION_NOT_SUPPORTED, CKR_FUNCTION_NOT_SUPPORTED },
	{ UKM_FN_SIGN, CKR_OPERATION_ACTIVE, CKR_FUNCTION_FAILED },
	{ UKM_FN_LOGIN, CKR_USER_PIN_NOT_INITIALIZED, CKR_USER_PIN_NOT_INITIALIZED }, /* 6984 */
	{ UKM_FN_SIGN, CKR_USER_PIN_NOT_INITIALIZED, CKR_USER_NOT_LOGGED_IN },
	/* get_pin_status: its slot codes pass, a card's SW 6581/6A84 is a device error */
	{ UKM_FN_UKEY_GET_PIN_STATUS, CKR_TOKEN_NOT_PRESENT, CKR_TOKEN_NOT_PRESENT },
	{ UKM_FN_UKEY_GET_PIN_STATUS, CKR_TOKEN_NOT_RECOGNIZED, CKR_TOKEN_NOT_RECOGNIZED },
	{ UKM_FN_UKEY_GET_PIN_STATUS, CKR_DEVICE_REMOVED, CKR_DEVICE_REMOVED },
	{ UKM_FN_UKEY_GET_PIN_STATUS, CKR_DEVICE_MEMORY, CKR_DEVICE_ERROR },
	{ UKM_FN_UKEY_GET_PIN_STATUS, CKR_USER_NOT_LOGGED_IN, CKR_FUNCTION_FAILED },
};

static void check_fixed(void)
{
	size_t i;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		UK_CHECK_EQ(ukm_rv(fixed[i].fn, fixed[i].from), fixed[i].to);
	/* Through the status word table: what a card answer becomes inside C_SignFinal. */
	UK_CHECK_EQ(ukm_rv(UKM_FN_SIGN_FINAL, ukm_sw_to_rv(UK_SW_WRONG_DATA)), CKR_FUNCTION_FAILED);
	UK_CHECK_EQ(ukm_rv(UKM_FN_DECRYPT, ukm_sw_to_rv(UK_SW_WRONG_DATA)),
	            CKR_ENCRYPTED_DATA_INVALID);
	UK_CHECK_EQ(ukm_rv(UKM_FN_SIGN_FINAL, ukm_sw_to_rv(UK_SW_NO_SPACE)), CKR_DEVICE_MEMORY);
}

/* The real entry points, no card: an unknown session and the stubs. */
static void check_entry_points(void)
{
	CK_ULONG n = 0;
	CK_BYTE b[8];

	UK_CHECK(rv_spec_allows("C_GetOperationState", C_GetOperationState(77, NULL, &n)));
	UK_CHECK_EQ(C_GetOperationState(77, NULL, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
	UK_CHECK_EQ(C_Initialize(NULL), CKR_OK);
	UK_CHECK_EQ(C_GetOperationState(77, NULL, &n), CKR_SESSION_HANDLE_INVALID);
	UK_CHECK(rv_spec_allows("C_SetOperationState", C_SetOperationState(77, b, 8, 0, 0)));
	n = sizeof(b);
	UK_CHECK(rv_spec_allows("C_SignFinal", C_SignFinal(77, b, &n)));
	UK_CHECK(rv_spec_allows("C_EncryptUpdate", C_EncryptUpdate(77, b, 8, b, &n)));
	UK_CHECK(rv_spec_allows("C_DestroyObject", C_DestroyObject(77, 1)));
	UK_CHECK(rv_spec_allows("C_GetTokenInfo", C_GetTokenInfo(0x7777, NULL)));
	UK_CHECK_EQ(C_Finalize(NULL), CKR_OK);
}

int main(void)
{
	check_tables();
	check_fixed();
	check_entry_points();
	return uk_test_done("module_rv_lists");
}
