/* ukey module: object management (PKCS#11 2.40 §5.7), key management (§5.14) and random
 * number generation (§5.15) entry points. */
#include <string.h>

#include "ukm.h"

/* Lock and resolve a session whose token cache is loaded. Unlocks on failure. */
static CK_RV ukm_enter(CK_SESSION_HANDLE h, ukm_session **ss, ukm_slot **s)
{
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return rv;
	if ((rv = ukm_session_get(h, ss, s)) == CKR_OK)
		rv = ukm_card_load(*s);
	/* the data file list (GET DATA 01 03), cached like the containers */
	if (rv == CKR_OK && !(*s)->cache.have_files) {
		rv = ukm_card_load_files(*s);
		ukm_card_idle(*s);
	}
	if (rv != CKR_OK)
		ukm_lib_unlock();
	return rv;
}

/* PKCS#11 3.0 §5.7.1 C_CreateObject: X.509 certificates (stored as the certificate of
 * the key pair they certify), data objects (data files) and generic secrets for HMAC-SM3
 * (session objects of the module, ukm_skey.c); other keys cannot be imported in clear
 * (the card has no such instruction): CKR_ATTRIBUTE_VALUE_INVALID on CKA_CLASS. */
static CK_RV ukm_create(ukm_slot *s, const ukm_session *ss, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                        CK_OBJECT_HANDLE_PTR h)
{
	CK_ATTRIBUTE *cls = NULL;
	CK_OBJECT_CLASS c;
	CK_ULONG i;

	for (i = 0; i < n; i++)
		if (t[i].type == CKA_CLASS)
			cls = &t[i];
	if (cls == NULL)
		return CKR_TEMPLATE_INCOMPLETE;
	if (cls->pValue == NULL || cls->ulValueLen != sizeof(c))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	memcpy(&c, cls->pValue, sizeof(c));
	if (c == CKO_SECRET_KEY)
		return ukm_skey_create(s, ss->handle, t, n, h);
	if (!(ss->flags & CKF_RW_SESSION))
		return CKR_SESSION_READ_ONLY;   /* token objects; a session object is allowed */
	if (c == CKO_CERTIFICATE)
		return ukm_cert_create(s, t, n, h);
	if (c == CKO_DATA)
		return ukm_data_create(s, t, n, h);
	return CKR_ATTRIBUTE_VALUE_INVALID;
}

CK_RV C_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                     CK_OBJECT_HANDLE_PTR phObject)
{
	ukm_session *ss;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_enter(hSession, &ss, &s)) != CKR_OK)
		return ukm_rv(UKM_FN_CREATE_OBJECT, rv);
	if ((pTemplate == NULL && ulCount > 0) || phObject == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = ukm_create(s, ss, pTemplate, ulCount, phObject);
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_CREATE_OBJECT, rv);
}

/* §5.7.2 C_CopyObject: every object has CKA_COPYABLE FALSE. */
CK_RV C_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                   CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phNewObject)
{
	ukm_session *ss;
	ukm_object o;
	ukm_slot *s;
	CK_RV rv;

	(void)pTemplate, (void)ulCount, (void)phNewObject;
	if ((rv = ukm_enter(hSession, &ss, &s)) != CKR_OK)
		return ukm_rv(UKM_FN_COPY_OBJECT, rv);
	if ((rv = ukm_object_find(s, hObject, &o)) == CKR_OK)
		rv = CKR_ACTION_PROHIBITED;
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_COPY_OBJECT, rv);
}

/* PKCS#11 3.0 §5.7.3 C_DestroyObject: certificates and data objects with DELETE FILE; a
 * key with DELETE CONTAINER when its pair is the container's only one (ukm_data.c). */
CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject)
{
	ukm_session *ss;
	ukm_object o;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_enter(hSession, &ss, &s)) != CKR_OK)
		return ukm_rv(UKM_FN_DESTROY_OBJECT, rv);
	if ((rv = ukm_object_find(s, hObject, &o)) != CKR_OK)
		goto out;
	if (o.cls == CKO_SECRET_KEY)
		ukm_skey_free(o.sk);    /* a session object: nothing on the card to write */
	else if (!(ss->flags & CKF_RW_SESSION))
		rv = CKR_SESSION_READ_ONLY;
	else
		rv = ukm_object_destroy(s, &o);
out:
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_DESTROY_OBJECT, rv);
}

/* §5.7.4 C_GetObjectSize: the spec allows CK_UNAVAILABLE_INFORMATION. */
CK_RV C_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ULONG_PTR pulSize)
{
	ukm_session *ss;
	ukm_object o;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_enter(hSession, &ss, &s)) != CKR_OK)
		return ukm_rv(UKM_FN_GET_OBJECT_SIZE, rv);
	if ((rv = ukm_object_find(s, hObject, &o)) == CKR_OK) {
		if (pulSize == NULL)
			rv = CKR_ARGUMENTS_BAD;
		else
			*pulSize = CK_UNAVAILABLE_INFORMATION;
	}
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_GET_OBJECT_SIZE, rv);
}

/* §5.7.5 C_GetAttributeValue (semantics in ukm_object_get_attributes). */
CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                          CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
	ukm_session *ss;
	ukm_object o;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_enter(hSession, &ss, &s)) != CKR_OK)
		return ukm_rv(UKM_FN_GET_ATTRIBUTE_VALUE, rv);
	if ((rv = ukm_object_find(s, hObject, &o)) != CKR_OK)
		goto out;
	if (pTemplate == NULL && ulCount > 0)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = ukm_object_get_attributes(&o, pTemplate, ulCount);
out:
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_GET_ATTRIBUTE_VALUE, rv);
}

/* PKCS#11 3.0 §5.7.6 C_SetAttributeValue: CKA_LABEL of token objects, which is the
 * container's name (keys, certificates) or the data file's (RENAME, ukm_setattr.c). */
CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                          CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
	ukm_session *ss;
	ukm_object o;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_enter(hSession, &ss, &s)) != CKR_OK)
		return ukm_rv(UKM_FN_SET_ATTRIBUTE_VALUE, rv);
	if ((rv = ukm_object_find(s, hObject, &o)) != CKR_OK)
		goto out;
	if (pTemplate == NULL && ulCount > 0)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = ukm_object_set_attributes(s, ss->flags, &o, pTemplate, ulCount);
out:
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_SET_ATTRIBUTE_VALUE, rv);
}

/* §5.7.7 C_FindObjectsInit: matched against the cache (no APDU once cached). */
CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
	ukm_session *ss;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_enter(hSession, &ss, &s)) != CKR_OK)
		return ukm_rv(UKM_FN_FIND_OBJECTS_INIT, rv);
	if (pTemplate == NULL && ulCount > 0)
		rv = CKR_ARGUMENTS_BAD;
	else if (ss->find.active)
		rv = CKR_OPERATION_ACTIVE;
	else {
		ss->find.n = ukm_object_match(s, pTemplate, ulCount, ss->find.found,
		                              sizeof(ss->find.found) / sizeof(ss->find.found[0]));
		ss->find.pos = 0;
		ss->find.active = 1;
	}
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_FIND_OBJECTS_INIT, rv);
}

/* §5.7.8 C_FindObjects. */
CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
                    CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount)
{
	ukm_session *ss;
	ukm_slot *s;
	CK_ULONG n = 0;
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return ukm_rv(UKM_FN_FIND_OBJECTS, rv);
	if ((rv = ukm_session_get(hSession, &ss, &s)) != CKR_OK)
		goto out;
	if (phObject == NULL || pulObjectCount == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if (!ss->find.active) {
		rv = CKR_OPERATION_NOT_INITIALIZED;
		goto out;
	}
	while (n < ulMaxObjectCount && ss->find.pos < ss->find.n)
		phObject[n++] = ss->find.found[ss->find.pos++];
	*pulObjectCount = n;
out:
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_FIND_OBJECTS, rv);
}

/* §5.7.9 C_FindObjectsFinal. */
CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession)
{
	ukm_session *ss;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return ukm_rv(UKM_FN_FIND_OBJECTS_FINAL, rv);
	if ((rv = ukm_session_get(hSession, &ss, &s)) == CKR_OK) {
		if (!ss->find.active)
			rv = CKR_OPERATION_NOT_INITIALIZED;
		memset(&ss->find, 0, sizeof(ss->find));
	}
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_FIND_OBJECTS_FINAL, rv);
}

/* PKCS#11 3.0 §5.18.2 C_GenerateKey: CKM_UKEY_SM4_KEY_GEN, the key made and kept by the
 * card (GENERATE SESSION KEY); a session object (ukm_unwrap.c). */
CK_RV C_GenerateKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phKey)
{
	ukm_session *ss;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_enter(hSession, &ss, &s)) != CKR_OK)
		return ukm_rv(UKM_FN_GENERATE_KEY, rv);
	if (pMechanism == NULL || phKey == NULL || (pTemplate == NULL && ulCount > 0))
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = ukm_generate_key(s, hSession, pMechanism, pTemplate, ulCount, phKey);
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_GENERATE_KEY, rv);
}

/* §5.14.2 C_GenerateKeyPair: CKM_EC_KEY_PAIR_GEN on the SM2 curve, in the card. */
CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                        CK_ATTRIBUTE_PTR pPublicKeyTemplate, CK_ULONG ulPublicKeyAttributeCount,
                        CK_ATTRIBUTE_PTR pPrivateKeyTemplate, CK_ULONG ulPrivateKeyAttributeCount,
                        CK_OBJECT_HANDLE_PTR phPublicKey, CK_OBJECT_HANDLE_PTR phPrivateKey)
{
	ukm_session *ss;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return ukm_rv(UKM_FN_GENERATE_KEY_PAIR, rv);
	if ((rv = ukm_session_get(hSession, &ss, &s)) != CKR_OK)
		goto out;
	if (pMechanism == NULL || phPublicKey == NULL || phPrivateKey == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if (!(ss->flags & CKF_RW_SESSION)) {
		rv = CKR_SESSION_READ_ONLY;
		goto out;
	}
	rv = ukm_keygen(s, pMechanism, pPublicKeyTemplate, ulPublicKeyAttributeCount,
	                pPrivateKeyTemplate, ulPrivateKeyAttributeCount, phPublicKey, phPrivateKey);
out:
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_GENERATE_KEY_PAIR, rv);
}

/* §5.14.3 C_WrapKey: no wrapping mechanism in this milestone. */
CK_RV C_WrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey, CK_BYTE_PTR pWrappedKey,
                CK_ULONG_PTR pulWrappedKeyLen)
{
	(void)hWrappingKey, (void)hKey, (void)pWrappedKey, (void)pulWrappedKeyLen;
	return ukm_rv(UKM_FN_WRAP_KEY,
	              ukm_entry_session_only(hSession, pMechanism == NULL ? CKR_ARGUMENTS_BAD :
	                                                             CKR_MECHANISM_INVALID));
}

/* PKCS#11 3.0 §5.18.6 C_UnwrapKey: CKM_UKEY_SM2_ENVELOPED_IMPORT (the CA's encryption pair
 * into a container, a token object: needs a R/W session) and CKM_UKEY_SM2_ENCRYPT (an SM4
 * session key, a session object) (ukm_unwrap.c). */
CK_RV C_UnwrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                  CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey,
                  CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount,
                  CK_OBJECT_HANDLE_PTR phKey)
{
	ukm_session *ss;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_enter(hSession, &ss, &s)) != CKR_OK)
		return ukm_rv(UKM_FN_UNWRAP_KEY, rv);
	if (pMechanism == NULL || phKey == NULL || (pWrappedKey == NULL && ulWrappedKeyLen > 0) ||
	    (pTemplate == NULL && ulAttributeCount > 0))
		rv = CKR_ARGUMENTS_BAD;
	else if (pMechanism->mechanism == CKM_UKEY_SM2_ENVELOPED_IMPORT &&
	         !(ss->flags & CKF_RW_SESSION))
		rv = CKR_SESSION_READ_ONLY;
	else
		rv = ukm_unwrap_key(s, hSession, pMechanism, hUnwrappingKey, pWrappedKey,
		                    ulWrappedKeyLen, pTemplate, ulAttributeCount, phKey);
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_UNWRAP_KEY, rv);
}

/* §5.14.5 C_DeriveKey: no derivation mechanism (CKA_DERIVE FALSE everywhere). */
CK_RV C_DeriveKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                  CK_OBJECT_HANDLE hBaseKey, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount,
                  CK_OBJECT_HANDLE_PTR phKey)
{
	(void)hBaseKey, (void)pTemplate, (void)ulAttributeCount, (void)phKey;
	return ukm_rv(UKM_FN_DERIVE_KEY,
	              ukm_entry_session_only(hSession, pMechanism == NULL ? CKR_ARGUMENTS_BAD :
	                                                             CKR_MECHANISM_INVALID));
}

/* §5.15 C_SeedRandom and C_GenerateRandom: ukm_entry_crypto.c (GET CHALLENGE). */
