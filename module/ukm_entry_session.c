/* ukey module: session management entry points (PKCS#11 2.40 §5.6; 3.0 §5.6 for
 * C_LoginUser and C_SessionCancel). */
#include <stddef.h>
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
		return ukm_rv(UKM_FN_OPEN_SESSION, rv);
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
	return ukm_rv(UKM_FN_OPEN_SESSION, rv);
}

/* §5.6.2 C_CloseSession: the last session of a token logs the user out. */
CK_RV C_CloseSession(CK_SESSION_HANDLE hSession)
{
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return ukm_rv(UKM_FN_CLOSE_SESSION, rv);
	rv = ukm_session_close(hSession);
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_CLOSE_SESSION, rv);
}

/* §5.6.3 C_CloseAllSessions. */
CK_RV C_CloseAllSessions(CK_SLOT_ID slotID)
{
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return ukm_rv(UKM_FN_CLOSE_ALL_SESSIONS, rv);
	s = ukm_slot_get(slotID);
	if (s == NULL)
		rv = CKR_SLOT_ID_INVALID;
	else
		ukm_session_close_slot(s, 1);
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_CLOSE_ALL_SESSIONS, rv);
}

/* §5.6.4 C_GetSessionInfo: the state follows the token's shared login state (§6.7). */
CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo)
{
	ukm_session *ss;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return ukm_rv(UKM_FN_GET_SESSION_INFO, rv);
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
	return ukm_rv(UKM_FN_GET_SESSION_INFO, rv);
}

/* §5.6.5 C_GetOperationState: a card-backed signature cannot be saved. */
CK_RV C_GetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                          CK_ULONG_PTR pulOperationStateLen)
{
	(void)pOperationState, (void)pulOperationStateLen;
	return ukm_rv(UKM_FN_GET_OPERATION_STATE,
	              ukm_entry_session_only(hSession, CKR_FUNCTION_NOT_SUPPORTED));
}

/* §5.6.6 C_SetOperationState. */
CK_RV C_SetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                          CK_ULONG ulOperationStateLen, CK_OBJECT_HANDLE hEncryptionKey,
                          CK_OBJECT_HANDLE hAuthenticationKey)
{
	(void)pOperationState, (void)ulOperationStateLen, (void)hEncryptionKey;
	(void)hAuthenticationKey;
	return ukm_rv(UKM_FN_SET_OPERATION_STATE,
	              ukm_entry_session_only(hSession, CKR_FUNCTION_NOT_SUPPORTED));
}

/* §5.6.7 C_Login: secure session (if none) + secured VERIFY: at most two APDUs. A NULL
 * pPin on a key with a pinpad (CKF_PROTECTED_AUTHENTICATION_PATH) sends the pinpad VERIFY
 * and waits for the holder (bounded by the key: 20 s on ukey-emu). */
CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
              CK_ULONG ulPinLen)
{
	ukm_session *ss;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return ukm_rv(UKM_FN_LOGIN, rv);
	if ((rv = ukm_session_get(hSession, &ss, &s)) != CKR_OK)
		goto out;
	/* pPin NULL: the protected authentication path where the key has a pinpad. */
	if (userType == CKU_CONTEXT_SPECIFIC)
		rv = ukm_login_context(s, ss, pPin, ulPinLen);
	else
		rv = ukm_login(s, userType, pPin, ulPinLen);
out:
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_LOGIN, rv);
}

/* §5.6.8 C_Logout: secured VERIFY P1 = FF. */
CK_RV C_Logout(CK_SESSION_HANDLE hSession)
{
	ukm_session *ss;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return ukm_rv(UKM_FN_LOGOUT, rv);
	if ((rv = ukm_session_get(hSession, &ss, &s)) == CKR_OK)
		rv = ukm_logout(s);
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_LOGOUT, rv);
}

/* 3.0 §5.6.9 C_LoginUser: this token has one user and one SO; the username names nothing
 * and is ignored, so C_LoginUser is C_Login (as for tokens without usernames). */
CK_RV C_LoginUser(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
                  CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername, CK_ULONG ulUsernameLen)
{
	if (pUsername == NULL && ulUsernameLen != 0)
		return ukm_rv(UKM_FN_LOGIN_USER,
		              ukm_entry_session_only(hSession, CKR_ARGUMENTS_BAD));
	return ukm_rv(UKM_FN_LOGIN_USER, C_Login(hSession, userType, pPin, ulPinLen));
}

#ifndef CKF_FIND_OBJECTS
#define CKF_FIND_OBJECTS 0x00000040UL   /* 3.0 §5.6.6 C_SessionCancel flag */
#endif

/* 3.0 §5.6.6 C_SessionCancel: end the session's operations named by flags (the CKF_*
 * mechanism flags; CKF_FIND_OBJECTS for a search). Nothing on the card is in progress
 * between calls (every operation's APDU completes inside its call), so cancelling is
 * forgetting the host-side state; flags naming no active operation are not an error. */
CK_RV C_SessionCancel(CK_SESSION_HANDLE hSession, CK_FLAGS flags)
{
	const struct {
		CK_FLAGS flag;
		size_t off;
	} ops[] = {
		{ CKF_SIGN, offsetof(ukm_session, sign) },
		{ CKF_VERIFY, offsetof(ukm_session, verify) },
		{ CKF_ENCRYPT, offsetof(ukm_session, encrypt) },
		{ CKF_DECRYPT, offsetof(ukm_session, decrypt) },
		{ CKF_DIGEST, offsetof(ukm_session, digest) },
	};
	ukm_session *ss;
	ukm_slot *s;
	size_t i;
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return ukm_rv(UKM_FN_SESSION_CANCEL, rv);
	if ((rv = ukm_session_get(hSession, &ss, &s)) != CKR_OK)
		goto out;
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (flags & ops[i].flag)
			ukm_sign_op_clear((ukm_sign_op *)((char *)ss + ops[i].off));
	if (flags & CKF_FIND_OBJECTS)
		ss->find.active = 0;
out:
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_SESSION_CANCEL, rv);
}
