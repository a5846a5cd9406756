/* ukey module: general-purpose entry points (PKCS#11 3.0 §5.4) and the function lists.
 *
 * Exported (version script + hidden visibility): C_GetFunctionList (the 2.40 list),
 * C_GetInterfaceList and C_GetInterface (3.0 §5.4.5-6: the "PKCS 11" interface in
 * version 3.0, whose list adds the 3.0 functions, and in version 2.40). Every other C_* is
 * reached through these tables. */
#include <string.h>

#include "ukm.h"

static CK_FUNCTION_LIST ukm_function_list;
static CK_FUNCTION_LIST_3_0 ukm_function_list_3_0;

/* §5.4.1 C_Initialize: argument rules of §5.4 (mutex callbacks all or none, pReserved
 * NULL). No PC/SC or card I/O here: the context is made on first need. */
CK_RV C_Initialize(CK_VOID_PTR pInitArgs)
{
	return ukm_rv(UKM_FN_INITIALIZE, ukm_lib_init(pInitArgs));
}

/* §5.4.2 C_Finalize. */
CK_RV C_Finalize(CK_VOID_PTR pReserved)
{
	if (pReserved != NULL)
		return ukm_rv(UKM_FN_FINALIZE, CKR_ARGUMENTS_BAD);
	return ukm_rv(UKM_FN_FINALIZE, ukm_lib_finalize());
}

/* §5.4.3 C_GetInfo. */
CK_RV C_GetInfo(CK_INFO_PTR pInfo)
{
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return ukm_rv(UKM_FN_GET_INFO, rv);
	if (pInfo == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	memset(pInfo, 0, sizeof(*pInfo));
	/* The version of C_GetFunctionList's list; the 3.0 list is found via C_GetInterface. */
	pInfo->cryptokiVersion.major = CRYPTOKI_VERSION_MAJOR;
	pInfo->cryptokiVersion.minor = CRYPTOKI_VERSION_MINOR;
	ukm_pad(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), "ukey project");
	ukm_pad(pInfo->libraryDescription, sizeof(pInfo->libraryDescription),
	        "ukey SM2 keys over PC/SC");
	pInfo->libraryVersion.major = 0;
	pInfo->libraryVersion.minor = 1;
out:
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_GET_INFO, rv);
}

/* §5.4.4 C_GetFunctionList: may be called before C_Initialize. */
__attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppList)
{
	if (ppList == NULL)
		return ukm_rv(UKM_FN_GET_FUNCTION_LIST, CKR_ARGUMENTS_BAD);
	*ppList = &ukm_function_list;
	return ukm_rv(UKM_FN_GET_FUNCTION_LIST, CKR_OK);
}

/* §5.4.5-6 and §3.6: the interfaces. The 3.0 list is the default (first); the 2.40 list is
 * offered for applications that ask for that version. CKF_INTERFACE_FORK_SAFE is not set:
 * a forked child does not keep sessions or logins, it gets CKR_CRYPTOKI_NOT_INITIALIZED
 * until it calls C_Initialize (2.40 §6.6.2 semantics). */
static CK_INTERFACE ukm_interfaces[] = {
	{ (CK_CHAR *)"PKCS 11", &ukm_function_list_3_0, 0 },
	{ (CK_CHAR *)"PKCS 11", &ukm_function_list, 0 },
	/* Vendor (ukey-pkcs11.h): after the standard ones, so index-based users see them first;
	 * listed once, at its highest version (1.1, which starts with the 1.0 list). */
	{ (CK_CHAR *)UKEY_INTERFACE_NAME, &ukm_vendor_list, 0 },
	/* Not listed: found only by C_GetInterface with exactly its version. §5.4.6 makes a
	 * requested version match the returned one, so a 1.0 request gets a list saying 1.0. */
	{ (CK_CHAR *)UKEY_INTERFACE_NAME, &ukm_vendor_list_1_0, 0 },
};
#define UKM_NIFACES_ALL (sizeof(ukm_interfaces) / sizeof(ukm_interfaces[0]))
#define UKM_NIFACES (UKM_NIFACES_ALL - 1)         /* the listed ones */

/* 3.0 §5.4.5 C_GetInterfaceList: may be called before C_Initialize. */
__attribute__((visibility("default"))) CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList,
                                                                CK_ULONG_PTR pulCount)
{
	CK_ULONG have;

	if (pulCount == NULL)
		return ukm_rv(UKM_FN_GET_INTERFACE_LIST, CKR_ARGUMENTS_BAD);
	have = *pulCount;
	*pulCount = UKM_NIFACES;
	if (pInterfacesList == NULL)
		return ukm_rv(UKM_FN_GET_INTERFACE_LIST, CKR_OK);
	if (have < UKM_NIFACES)
		return ukm_rv(UKM_FN_GET_INTERFACE_LIST, CKR_BUFFER_TOO_SMALL);
	memcpy(pInterfacesList, ukm_interfaces, UKM_NIFACES * sizeof(ukm_interfaces[0]));
	return ukm_rv(UKM_FN_GET_INTERFACE_LIST, CKR_OK);
}

static int ukm_iface_matches(const CK_INTERFACE *i, const CK_UTF8CHAR *name,
                             const CK_VERSION *v, CK_FLAGS flags)
{
	const CK_VERSION *iv = i->pFunctionList;

	/* §5.4.6: a NULL name asks for the default interface, never a vendor one. */
	if (name == NULL)
		name = (const CK_UTF8CHAR *)"PKCS 11";
	if (strcmp((const char *)name, (const char *)i->pInterfaceName) != 0)
		return 0;
	if (v != NULL && (v->major != iv->major || v->minor != iv->minor))
		return 0;
	return (i->flags & flags) == flags;
}

/* 3.0 §5.4.6 C_GetInterface: NULL name = the default interface ("PKCS 11"), NULL version =
 * the highest (the first of its name in the table); a given version must match exactly;
 * every requested flag must be set on the interface. No match: the spec's
 * CKR_ARGUMENTS_BAD (the arguments name nothing this library offers). */
__attribute__((visibility("default"))) CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName,
                                                            CK_VERSION_PTR pVersion,
                                                            CK_INTERFACE_PTR_PTR ppInterface,
                                                            CK_FLAGS flags)
{
	size_t i;

	if (ppInterface == NULL)
		return ukm_rv(UKM_FN_GET_INTERFACE, CKR_ARGUMENTS_BAD);
	for (i = 0; i < UKM_NIFACES_ALL; i++) {
		if (ukm_iface_matches(&ukm_interfaces[i], pInterfaceName, pVersion, flags)) {
			*ppInterface = &ukm_interfaces[i];
			return ukm_rv(UKM_FN_GET_INTERFACE, CKR_OK);
		}
	}
	return ukm_rv(UKM_FN_GET_INTERFACE, CKR_ARGUMENTS_BAD);
}

/* §5.16 legacy parallel functions: this library never runs functions in parallel. */
CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE hSession)
{
	return ukm_rv(UKM_FN_GET_FUNCTION_STATUS,
	              ukm_entry_session_only(hSession, CKR_FUNCTION_NOT_PARALLEL));
}

/* §5.16 legacy parallel functions. */
CK_RV C_CancelFunction(CK_SESSION_HANDLE hSession)
{
	return ukm_rv(UKM_FN_CANCEL_FUNCTION,
	              ukm_entry_session_only(hSession, CKR_FUNCTION_NOT_PARALLEL));
}

#define UKM_FUNCTIONS_2_40                                                                      \
	C_Initialize, C_Finalize, C_GetInfo, C_GetFunctionList,                                 \
	C_GetSlotList, C_GetSlotInfo, C_GetTokenInfo, C_GetMechanismList, C_GetMechanismInfo,   \
	C_InitToken, C_InitPIN, C_SetPIN,                                                       \
	C_OpenSession, C_CloseSession, C_CloseAllSessions, C_GetSessionInfo,                    \
	C_GetOperationState, C_SetOperationState, C_Login, C_Logout,                            \
	C_CreateObject, C_CopyObject, C_DestroyObject, C_GetObjectSize,                         \
	C_GetAttributeValue, C_SetAttributeValue,                                               \
	C_FindObjectsInit, C_FindObjects, C_FindObjectsFinal,                                   \
	C_EncryptInit, C_Encrypt, C_EncryptUpdate, C_EncryptFinal,                              \
	C_DecryptInit, C_Decrypt, C_DecryptUpdate, C_DecryptFinal,                              \
	C_DigestInit, C_Digest, C_DigestUpdate, C_DigestKey, C_DigestFinal,                     \
	C_SignInit, C_Sign, C_SignUpdate, C_SignFinal, C_SignRecoverInit, C_SignRecover,        \
	C_VerifyInit, C_Verify, C_VerifyUpdate, C_VerifyFinal,                                  \
	C_VerifyRecoverInit, C_VerifyRecover,                                                   \
	C_DigestEncryptUpdate, C_DecryptDigestUpdate, C_SignEncryptUpdate, C_DecryptVerifyUpdate, \
	C_GenerateKey, C_GenerateKeyPair, C_WrapKey, C_UnwrapKey, C_DeriveKey,                  \
	C_SeedRandom, C_GenerateRandom,                                                         \
	C_GetFunctionStatus, C_CancelFunction, C_WaitForSlotEvent

/* 2.40 §5.4.4 (CK_FUNCTION_LIST): what C_GetFunctionList gives. */
static CK_FUNCTION_LIST ukm_function_list = {
	{ 2, 40 },
	UKM_FUNCTIONS_2_40,
};


/* 3.0 §5.4: the 2.40 functions, then the 24 added by 3.0 in the specification's order. */
static CK_FUNCTION_LIST_3_0 ukm_function_list_3_0 = {
	{ 3, 0 },
	UKM_FUNCTIONS_2_40,
	C_GetInterfaceList, C_GetInterface, C_LoginUser, C_SessionCancel,
	C_MessageEncryptInit, C_EncryptMessage, C_EncryptMessageBegin, C_EncryptMessageNext,
	C_MessageEncryptFinal,
	C_MessageDecryptInit, C_DecryptMessage, C_DecryptMessageBegin, C_DecryptMessageNext,
	C_MessageDecryptFinal,
	C_MessageSignInit, C_SignMessage, C_SignMessageBegin, C_SignMessageNext, C_MessageSignFinal,
	C_MessageVerifyInit, C_VerifyMessage, C_VerifyMessageBegin, C_VerifyMessageNext,
	C_MessageVerifyFinal,
};
