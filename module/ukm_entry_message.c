/* ukey module: the message-based functions of PKCS#11 3.0 (§5.9 encryption, §5.11
 * decryption, §5.13 signing, §5.15 verification), in the 3.0 function list only.
 *
 * No mechanism of this token has a CKF_MESSAGE_* flag (docs/pkcs11-profile.md), so the Init
 * functions answer CKR_MECHANISM_INVALID and the others CKR_OPERATION_NOT_INITIALIZED —
 * each a value the specification lists for that function — after the session is checked,
 * instead of CKR_FUNCTION_NOT_SUPPORTED. */
#include "ukm.h"

static CK_RV ukm_message_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m)
{
	return ukm_entry_session_only(h, m == NULL ? CKR_ARGUMENTS_BAD : CKR_MECHANISM_INVALID);
}

static CK_RV ukm_message_none(CK_SESSION_HANDLE h)
{
	return ukm_entry_session_only(h, CKR_OPERATION_NOT_INITIALIZED);
}

/* §5.9.1 C_MessageEncryptInit. */
CK_RV C_MessageEncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	(void)k;
	return ukm_rv(UKM_FN_MESSAGE_INIT, ukm_message_init(h, m));
}

/* §5.9.2 C_EncryptMessage. */
CK_RV C_EncryptMessage(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                       CK_BYTE_PTR aad, CK_ULONG aad_len, CK_BYTE_PTR in, CK_ULONG in_len,
                       CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	(void)param, (void)param_len, (void)aad, (void)aad_len, (void)in, (void)in_len;
	(void)out, (void)out_len;
	return ukm_rv(UKM_FN_MESSAGE, ukm_message_none(h));
}

/* §5.9.3 C_EncryptMessageBegin. */
CK_RV C_EncryptMessageBegin(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                            CK_BYTE_PTR aad, CK_ULONG aad_len)
{
	(void)param, (void)param_len, (void)aad, (void)aad_len;
	return ukm_rv(UKM_FN_MESSAGE, ukm_message_none(h));
}

/* §5.9.4 C_EncryptMessageNext. */
CK_RV C_EncryptMessageNext(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                           CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                           CK_ULONG_PTR out_len, CK_FLAGS flags)
{
	(void)param, (void)param_len, (void)in, (void)in_len, (void)out, (void)out_len;
	(void)flags;
	return ukm_rv(UKM_FN_MESSAGE, ukm_message_none(h));
}

/* §5.9.5 C_MessageEncryptFinal. */
CK_RV C_MessageEncryptFinal(CK_SESSION_HANDLE h)
{
	return ukm_rv(UKM_FN_MESSAGE, ukm_message_none(h));
}

/* §5.11.1 C_MessageDecryptInit. */
CK_RV C_MessageDecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	(void)k;
	return ukm_rv(UKM_FN_MESSAGE_INIT, ukm_message_init(h, m));
}

/* §5.11.2 C_DecryptMessage. */
CK_RV C_DecryptMessage(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                       CK_BYTE_PTR aad, CK_ULONG aad_len, CK_BYTE_PTR in, CK_ULONG in_len,
                       CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	(void)param, (void)param_len, (void)aad, (void)aad_len, (void)in, (void)in_len;
	(void)out, (void)out_len;
	return ukm_rv(UKM_FN_MESSAGE, ukm_message_none(h));
}

/* §5.11.3 C_DecryptMessageBegin. */
CK_RV C_DecryptMessageBegin(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                            CK_BYTE_PTR aad, CK_ULONG aad_len)
{
	(void)param, (void)param_len, (void)aad, (void)aad_len;
	return ukm_rv(UKM_FN_MESSAGE, ukm_message_none(h));
}

/* §5.11.4 C_DecryptMessageNext. */
CK_RV C_DecryptMessageNext(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                           CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                           CK_ULONG_PTR out_len, CK_FLAGS flags)
{
	(void)param, (void)param_len, (void)in, (void)in_len, (void)out, (void)out_len;
	(void)flags;
	return ukm_rv(UKM_FN_MESSAGE, ukm_message_none(h));
}

/* §5.11.5 C_MessageDecryptFinal. */
CK_RV C_MessageDecryptFinal(CK_SESSION_HANDLE h)
{
	return ukm_rv(UKM_FN_MESSAGE, ukm_message_none(h));
}

/* §5.13.1 C_MessageSignInit. */
CK_RV C_MessageSignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	(void)k;
	return ukm_rv(UKM_FN_MESSAGE_INIT, ukm_message_init(h, m));
}

/* §5.13.2 C_SignMessage. */
CK_RV C_SignMessage(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                    CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
	(void)param, (void)param_len, (void)data, (void)data_len, (void)sig, (void)sig_len;
	return ukm_rv(UKM_FN_MESSAGE, ukm_message_none(h));
}

/* §5.13.3 C_SignMessageBegin. */
CK_RV C_SignMessageBegin(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len)
{
	(void)param, (void)param_len;
	return ukm_rv(UKM_FN_MESSAGE, ukm_message_none(h));
}

/* §5.13.4 C_SignMessageNext. */
CK_RV C_SignMessageNext(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                        CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig,
                        CK_ULONG_PTR sig_len)
{
	(void)param, (void)param_len, (void)data, (void)data_len, (void)sig, (void)sig_len;
	return ukm_rv(UKM_FN_MESSAGE, ukm_message_none(h));
}

/* §5.13.5 C_MessageSignFinal. */
CK_RV C_MessageSignFinal(CK_SESSION_HANDLE h)
{
	return ukm_rv(UKM_FN_MESSAGE, ukm_message_none(h));
}

/* §5.15.1 C_MessageVerifyInit. */
CK_RV C_MessageVerifyInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	(void)k;
	return ukm_rv(UKM_FN_MESSAGE_INIT, ukm_message_init(h, m));
}

/* §5.15.2 C_VerifyMessage. */
CK_RV C_VerifyMessage(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                      CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig, CK_ULONG sig_len)
{
	(void)param, (void)param_len, (void)data, (void)data_len, (void)sig, (void)sig_len;
	return ukm_rv(UKM_FN_MESSAGE, ukm_message_none(h));
}

/* §5.15.3 C_VerifyMessageBegin. */
CK_RV C_VerifyMessageBegin(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len)
{
	(void)param, (void)param_len;
	return ukm_rv(UKM_FN_MESSAGE, ukm_message_none(h));
}

/* §5.15.4 C_VerifyMessageNext. */
CK_RV C_VerifyMessageNext(CK_SESSION_HANDLE h, CK_VOID_PTR param, CK_ULONG param_len,
                          CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig,
                          CK_ULONG sig_len)
{
	(void)param, (void)param_len, (void)data, (void)data_len, (void)sig, (void)sig_len;
	return ukm_rv(UKM_FN_MESSAGE, ukm_message_none(h));
}

/* §5.15.5 C_MessageVerifyFinal. */
CK_RV C_MessageVerifyFinal(CK_SESSION_HANDLE h)
{
	return ukm_rv(UKM_FN_MESSAGE, ukm_message_none(h));
}
