/* ukey module: session management entry points (PKCS#11 2.40 §5.6). */
#include <string.h>

#include "ukm.h"

CK_RV ukm_entry_session_only(CK_SESSION_HANDLE h, CK_RV if_valid)
{
	ukm_session *ss;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return rv;
	if ((rv = ukm_session_get(h, &ss, &s)) == CKR_OK)
		rv = if_valid;
	ukm_lib_unlock();
	return rv;
}

/* §5.6.1 C_OpenSession: CKF_SERIAL_SESSION is mandatory; notify callbacks are never made. */
CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication,
                    CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession)
{
	ukm_slot *s;
	CK_RV rv;

	(void)pApplication, (void)Notify;
	if ((rv = ukm_lib_lock()) != CKR_OK)
		return rv;
	if (phSession == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if ((rv = ukm_pcsc_refresh()) != CKR_OK)
		goto out;
	s = ukm_slot_get(slotID);
	if (s == NULL || !s->listed)
		rv = CKR_SLOT_ID_INVALID;
	else if (!s->card_present)
		rv = CKR_TOKEN_NOT_PRESENT;
	else
		rv = ukm_session_open(s, flags, phSession);
out:
	ukm_lib_unlock();
	return rv;
}

/* §5.6.2 C_CloseSession: the last session of a token logs the user out. */
CK_RV C_CloseSession(CK_SESSION_HANDLE hSession)
{
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return rv;
	rv = ukm_session_close(hSession);
	ukm_lib_unlock();
	return rv;
}

/* §5.6.3 C_CloseAllSessions. */
CK_RV C_CloseAllSessions(CK_SLOT_ID slotID)
{
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return rv;
	s = ukm_slot_get(slotID);
	if (s == NULL)
		rv = CKR_SLOT_ID_INVALID;
	else
		ukm_session_close_slot(s, 1);
	ukm_lib_unlock();
	return rv;
}

/* §5.6.4 C_GetSessionInfo: the state follows the token's shared login state (§6.7). */
CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo)
{
	ukm_session *ss;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return rv;
	if ((rv = ukm_session_get(hSession, &ss, &s)) != CKR_OK)
		goto out;
	if (pInfo == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	memset(pInfo, 0, sizeof(*pInfo));
	pInfo->slotID = ss->slot;
	pInfo->state = ukm_session_state(ss, s);
	pInfo->flags = ss->flags;
out:
	ukm_lib_unlock();
	return rv;
}

/* §5.6.5 C_GetOperationState: a card-backed signature cannot be saved. */
CK_RV C_GetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                          CK_ULONG_PTR pulOperationStateLen)
{
	(void)pOperationState, (void)pulOperationStateLen;
	return ukm_entry_session_only(hSession, CKR_FUNCTION_NOT_SUPPORTED);
}

/* §5.6.6 C_SetOperationState. */
CK_RV C_SetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                          CK_ULONG ulOperationStateLen, CK_OBJECT_HANDLE hEncryptionKey,
                          CK_OBJECT_HANDLE hAuthenticationKey)
{
	(void)pOperationState, (void)ulOperationStateLen, (void)hEncryptionKey;
	(void)hAuthenticationKey;
	return ukm_entry_session_only(hSession, CKR_FUNCTION_NOT_SUPPORTED);
}

/* §5.6.7 C_Login: secure session (if none) + secured VERIFY: at most two APDUs. */
CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
              CK_ULONG ulPinLen)
{
	ukm_session *ss;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return rv;
	if ((rv = ukm_session_get(hSession, &ss, &s)) != CKR_OK)
		goto out;
	/* No protected authentication path: the PIN must be given. */
	if (pPin == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	rv = ukm_login(s, userType, pPin, ulPinLen);
out:
	ukm_lib_unlock();
	return rv;
}

/* §5.6.8 C_Logout: secured VERIFY P1 = FF. */
CK_RV C_Logout(CK_SESSION_HANDLE hSession)
{
	ukm_session *ss;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return rv;
	if ((rv = ukm_session_get(hSession, &ss, &s)) == CKR_OK)
		rv = ukm_logout(s);
	ukm_lib_unlock();
	return rv;
}
