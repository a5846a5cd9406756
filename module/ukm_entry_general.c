/* ukey module: general-purpose entry points (PKCS#11 2.40 §5.4) and the function list.
 *
 * Only C_GetFunctionList is exported (version script + hidden visibility); every other
 * C_* is reached through the table below. A later milestone adds the 3.0 interface
 * (C_GetInterfaceList/C_GetInterface) as a second table that reuses these functions. */
#include <string.h>

#include "ukm.h"

static CK_FUNCTION_LIST ukm_function_list;

/* §5.4.1 C_Initialize: argument rules of §5.4 (mutex callbacks all or none, pReserved
 * NULL). No PC/SC or card I/O here: the context is made on first need. */
CK_RV C_Initialize(CK_VOID_PTR pInitArgs)
{
	return ukm_lib_init(pInitArgs);
}

/* §5.4.2 C_Finalize. */
CK_RV C_Finalize(CK_VOID_PTR pReserved)
{
	if (pReserved != NULL)
		return CKR_ARGUMENTS_BAD;
	return ukm_lib_finalize();
}

/* §5.4.3 C_GetInfo. */
CK_RV C_GetInfo(CK_INFO_PTR pInfo)
{
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return rv;
	if (pInfo == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	memset(pInfo, 0, sizeof(*pInfo));
	pInfo->cryptokiVersion.major = CRYPTOKI_VERSION_MAJOR;
	pInfo->cryptokiVersion.minor = CRYPTOKI_VERSION_MINOR;
	ukm_pad(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), "ukey project");
	ukm_pad(pInfo->libraryDescription, sizeof(pInfo->libraryDescription),
	        "ukey SM2 keys over PC/SC");
	pInfo->libraryVersion.major = 0;
	pInfo->libraryVersion.minor = 1;
out:
	ukm_lib_unlock();
	return rv;
}

/* §5.4.4 C_GetFunctionList: may be called before C_Initialize. */
__attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppList)
{
	if (ppList == NULL)
		return CKR_ARGUMENTS_BAD;
	*ppList = &ukm_function_list;
	return CKR_OK;
}

/* §5.16 legacy parallel functions: this library never runs functions in parallel. */
CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE hSession)
{
	return ukm_entry_session_only(hSession, CKR_FUNCTION_NOT_PARALLEL);
}

/* §5.16 legacy parallel functions. */
CK_RV C_CancelFunction(CK_SESSION_HANDLE hSession)
{
	return ukm_entry_session_only(hSession, CKR_FUNCTION_NOT_PARALLEL);
}

static CK_FUNCTION_LIST ukm_function_list = {
	{ CRYPTOKI_VERSION_MAJOR, CRYPTOKI_VERSION_MINOR },
	C_Initialize, C_Finalize, C_GetInfo, C_GetFunctionList,
	C_GetSlotList, C_GetSlotInfo, C_GetTokenInfo, C_GetMechanismList, C_GetMechanismInfo,
	C_InitToken, C_InitPIN, C_SetPIN,
	C_OpenSession, C_CloseSession, C_CloseAllSessions, C_GetSessionInfo,
	C_GetOperationState, C_SetOperationState, C_Login, C_Logout,
	C_CreateObject, C_CopyObject, C_DestroyObject, C_GetObjectSize,
	C_GetAttributeValue, C_SetAttributeValue,
	C_FindObjectsInit, C_FindObjects, C_FindObjectsFinal,
	C_EncryptInit, C_Encrypt, C_EncryptUpdate, C_EncryptFinal,
	C_DecryptInit, C_Decrypt, C_DecryptUpdate, C_DecryptFinal,
	C_DigestInit, C_Digest, C_DigestUpdate, C_DigestKey, C_DigestFinal,
	C_SignInit, C_Sign, C_SignUpdate, C_SignFinal, C_SignRecoverInit, C_SignRecover,
	C_VerifyInit, C_Verify, C_VerifyUpdate, C_VerifyFinal,
	C_VerifyRecoverInit, C_VerifyRecover,
	C_DigestEncryptUpdate, C_DecryptDigestUpdate, C_SignEncryptUpdate, C_DecryptVerifyUpdate,
	C_GenerateKey, C_GenerateKeyPair, C_WrapKey, C_UnwrapKey, C_DeriveKey,
	C_SeedRandom, C_GenerateRandom,
	C_GetFunctionStatus, C_CancelFunction, C_WaitForSlotEvent,
};
