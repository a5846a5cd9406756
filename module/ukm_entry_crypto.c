/* ukey module: cryptographic entry points (PKCS#11 2.40 §5.8-§5.13).
 *
 * Signing (§5.11) and decryption (§5.9) run on the card, one secured APDU each;
 * verification (§5.12), encryption (§5.8) and digests (§5.10) run in the module with
 * OpenSSL. The mechanisms are those of ukm_mech.c. The dual functions (§5.13) need two
 * multi-part operations of which no encryption or decryption mechanism here is one. */
#include "ukm.h"

/* Lock and resolve a session; unlocks on failure. */
static CK_RV ukm_enter(CK_SESSION_HANDLE h, ukm_session **ss, ukm_slot **s)
{
	CK_RV rv;

	if ((rv = ukm_lib_lock()) != CKR_OK)
		return rv;
	if ((rv = ukm_session_get(h, ss, s)) != CKR_OK)
		ukm_lib_unlock();
	return rv;
}

static CK_RV ukm_no_mech_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m)
{
	return ukm_entry_session_only(h, m == NULL ? CKR_ARGUMENTS_BAD : CKR_MECHANISM_INVALID);
}

static CK_RV ukm_no_op(CK_SESSION_HANDLE h)
{
	return ukm_entry_session_only(h, CKR_OPERATION_NOT_INITIALIZED);
}

/* ---- encryption (§5.8) and decryption (§5.9): single-part mechanisms only ---- */

static CK_RV ukm_crypt_entry_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key,
                                  int decrypt)
{
	ukm_session *ss;
	ukm_sign_op *op;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_enter(h, &ss, &s)) != CKR_OK)
		return rv;
	op = decrypt ? &ss->decrypt : &ss->encrypt;
	if (m == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if (op->active)
		rv = CKR_OPERATION_ACTIVE;
	else if ((rv = ukm_card_load(s)) == CKR_OK)
		rv = ukm_crypt_init(s, op, decrypt, m, key);
	ukm_lib_unlock();
	return rv;
}

/* C_Encrypt / C_Decrypt: a length query or a short buffer keeps the operation (§5.2). */
static CK_RV ukm_crypt_entry(CK_SESSION_HANDLE h, const uint8_t *in, CK_ULONG n, uint8_t *out,
                             CK_ULONG_PTR out_len, int decrypt)
{
	ukm_session *ss;
	ukm_sign_op *op;
	ukm_slot *s;
	int keep = 0;
	CK_RV rv;

	if ((rv = ukm_enter(h, &ss, &s)) != CKR_OK)
		return rv;
	op = decrypt ? &ss->decrypt : &ss->encrypt;
	if (!op->active) {
		rv = CKR_OPERATION_NOT_INITIALIZED;
		goto out;
	}
	if (out_len == NULL || (in == NULL && n > 0))
		rv = CKR_ARGUMENTS_BAD;
	else if (op->multipart)
		/* C_Encrypt cannot finish a multi-part one (§5.2); CKR_OPERATION_ACTIVE is not in
		 * the §5.8.2/§5.9.2 lists: no single-part operation is active. */
		keep = 1, rv = CKR_OPERATION_NOT_INITIALIZED;
	else
		rv = ukm_crypt_run(s, op, in, n, out, out_len, &keep);
	if (!keep)
		ukm_sign_op_clear(op);
out:
	ukm_lib_unlock();
	return rv;
}

/* C_*Update (in != NULL or n == 0) and C_*Final (final): the SM4 mechanisms are multi-part
 * (ukm_sm4.c); RSA and SM2 are single-part only (PKCS#11 3.0 mechanisms §2.1 table 4 and
 * the ukey profile), so an active operation of theirs ends here. */
static CK_RV ukm_crypt_part(CK_SESSION_HANDLE h, const uint8_t *in, CK_ULONG n, uint8_t *out,
                            CK_ULONG_PTR out_len, int decrypt, int final)
{
	ukm_session *ss;
	ukm_sign_op *op;
	ukm_slot *s;
	int keep = 0;
	CK_RV rv;

	if ((rv = ukm_enter(h, &ss, &s)) != CKR_OK)
		return rv;
	op = decrypt ? &ss->decrypt : &ss->encrypt;
	if (!op->active) {
		rv = CKR_OPERATION_NOT_INITIALIZED;
		goto out;
	}
	if (!ukm_crypt_multipart(op))
		/* A single-part mechanism: §5.8.3/§5.9.3 list no CKR_FUNCTION_NOT_SUPPORTED (the
		 * function is supported); no operation of an appropriate type is active. */
		rv = CKR_OPERATION_NOT_INITIALIZED;
	else if (out_len == NULL || (!final && in == NULL && n > 0))
		rv = CKR_ARGUMENTS_BAD;
	else if (final)
		rv = ukm_sm4_final(s, op, out, out_len, &keep);
	else
		rv = ukm_sm4_update(s, op, in, n, out, out_len, &keep);
	if (!keep)
		ukm_sign_op_clear(op);
	else if (!final && rv == CKR_OK && out == NULL)
		op->multipart = 1;
out:
	ukm_lib_unlock();
	return rv;
}

/* §5.8.1 C_EncryptInit: in the module, with the public key (no APDU). */
CK_RV C_EncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
	return ukm_rv(UKM_FN_ENCRYPT_INIT, ukm_crypt_entry_init(hSession, pMechanism, hKey, 0));
}

/* §5.8.2 C_Encrypt. */
CK_RV C_Encrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                CK_BYTE_PTR pEncryptedData, CK_ULONG_PTR pulEncryptedDataLen)
{
	return ukm_rv(UKM_FN_ENCRYPT,
	              ukm_crypt_entry(hSession, pData, ulDataLen, pEncryptedData, pulEncryptedDataLen, 0));
}

/* §5.8.3 C_EncryptUpdate. */
CK_RV C_EncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
                      CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen)
{
	return ukm_rv(UKM_FN_ENCRYPT_UPDATE,
	              ukm_crypt_part(hSession, pPart, ulPartLen, pEncryptedPart, pulEncryptedPartLen, 0, 0));
}

/* §5.8.4 C_EncryptFinal. */
CK_RV C_EncryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastEncryptedPart,
                     CK_ULONG_PTR pulLastEncryptedPartLen)
{
	return ukm_rv(UKM_FN_ENCRYPT_FINAL,
	              ukm_crypt_part(hSession, NULL, 0, pLastEncryptedPart, pulLastEncryptedPartLen, 0, 1));
}

/* §5.9.1 C_DecryptInit: the card decrypts (PSO: DECIPHER, one secured APDU). */
CK_RV C_DecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
	return ukm_rv(UKM_FN_DECRYPT_INIT, ukm_crypt_entry_init(hSession, pMechanism, hKey, 1));
}

/* §5.9.2 C_Decrypt. */
CK_RV C_Decrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData, CK_ULONG ulEncryptedDataLen,
                CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen)
{
	return ukm_rv(UKM_FN_DECRYPT,
	              ukm_crypt_entry(hSession, pEncryptedData, ulEncryptedDataLen, pData, pulDataLen, 1));
}

/* §5.9.3 C_DecryptUpdate. */
CK_RV C_DecryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                      CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen)
{
	return ukm_rv(UKM_FN_DECRYPT_UPDATE,
	              ukm_crypt_part(hSession, pEncryptedPart, ulEncryptedPartLen, pPart, pulPartLen, 1, 0));
}

/* §5.9.4 C_DecryptFinal. */
CK_RV C_DecryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart, CK_ULONG_PTR pulLastPartLen)
{
	return ukm_rv(UKM_FN_DECRYPT_FINAL,
	              ukm_crypt_part(hSession, NULL, 0, pLastPart, pulLastPartLen, 1, 1));
}

/* ---- digests (§5.10): on the host, no APDU ---- */

/* §5.10.1 C_DigestInit: CKM_UKEY_SM3, CKM_SHA_1, CKM_SHA256/384/512. */
CK_RV C_DigestInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism)
{
	ukm_session *ss;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_enter(hSession, &ss, &s)) != CKR_OK)
		return ukm_rv(UKM_FN_DIGEST_INIT, rv);
	if (pMechanism == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if (ss->digest.active)
		rv = CKR_OPERATION_ACTIVE;
	else
		rv = ukm_digest_init(&ss->digest, pMechanism);
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_DIGEST_INIT, rv);
}

/* C_Digest (single) or C_DigestFinal; a length query neither consumes data nor ends it. */
static CK_RV ukm_digest_finish(CK_SESSION_HANDLE h, const uint8_t *data, CK_ULONG n, int single,
                               CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	ukm_session *ss;
	ukm_slot *s;
	int keep = 0;
	CK_RV rv;

	if ((rv = ukm_enter(h, &ss, &s)) != CKR_OK)
		return rv;
	if (!ss->digest.active) {
		rv = CKR_OPERATION_NOT_INITIALIZED;
		goto out;
	}
	if (out_len == NULL || (single && data == NULL && n > 0)) {
		rv = CKR_ARGUMENTS_BAD;
		goto end;
	}
	if (single && ss->digest.multipart) {
		rv = CKR_OPERATION_NOT_INITIALIZED;     /* §5.10.2 lists no CKR_OPERATION_ACTIVE */
		goto out;
	}
	if (single && out != NULL && *out_len >= ukm_digest_len(&ss->digest) &&
	    (rv = ukm_digest_update(&ss->digest, data, n)) != CKR_OK)
		goto end;
	rv = ukm_digest_final(&ss->digest, out, out_len, &keep);
	if (keep)
		goto out;
end:
	ukm_sign_op_clear(&ss->digest);
out:
	ukm_lib_unlock();
	return rv;
}

/* §5.10.2 C_Digest. */
CK_RV C_Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
               CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen)
{
	return ukm_rv(UKM_FN_DIGEST,
	              ukm_digest_finish(hSession, pData, ulDataLen, 1, pDigest, pulDigestLen));
}

/* §5.10.3 C_DigestUpdate; an error ends the operation. */
CK_RV C_DigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
	ukm_session *ss;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_enter(hSession, &ss, &s)) != CKR_OK)
		return ukm_rv(UKM_FN_DIGEST_UPDATE, rv);
	if (!ss->digest.active)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	else if (pPart == NULL && ulPartLen > 0)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = ukm_digest_update(&ss->digest, pPart, ulPartLen);
	if (rv != CKR_OK && rv != CKR_OPERATION_NOT_INITIALIZED)
		ukm_sign_op_clear(&ss->digest);
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_DIGEST_UPDATE, rv);
}

/* §5.10.4 C_DigestKey: the token's keys are private keys (sensitive) or public keys
 * whose value is not a secret-key value: none can be digested. */
CK_RV C_DigestKey(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey)
{
	ukm_session *ss;
	ukm_slot *s;
	CK_RV rv;

	(void)hKey;
	if ((rv = ukm_enter(hSession, &ss, &s)) != CKR_OK)
		return ukm_rv(UKM_FN_DIGEST_KEY, rv);
	rv = ss->digest.active ? CKR_KEY_INDIGESTIBLE : CKR_OPERATION_NOT_INITIALIZED;
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_DIGEST_KEY, rv);
}

/* §5.10.5 C_DigestFinal. */
CK_RV C_DigestFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen)
{
	return ukm_rv(UKM_FN_DIGEST_FINAL,
	              ukm_digest_finish(hSession, NULL, 0, 0, pDigest, pulDigestLen));
}

/* ---- signing (§5.11) and verification (§5.12) ---- */

static CK_RV ukm_op_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key,
                         int verify)
{
	ukm_session *ss;
	ukm_sign_op *op;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_enter(h, &ss, &s)) != CKR_OK)
		return rv;
	op = verify ? &ss->verify : &ss->sign;
	if (m == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if (op->active)
		rv = CKR_OPERATION_ACTIVE;
	else if ((rv = ukm_card_load(s)) == CKR_OK)
		rv = ukm_sign_init(s, op, verify, m, key);
	ukm_lib_unlock();
	return rv;
}

/* Feed data to an active operation; an error ends it (§5.11.3). */
static CK_RV ukm_op_update(CK_SESSION_HANDLE h, const uint8_t *p, CK_ULONG n, int verify)
{
	ukm_session *ss;
	ukm_sign_op *op;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_enter(h, &ss, &s)) != CKR_OK)
		return rv;
	op = verify ? &ss->verify : &ss->sign;
	if (!op->active)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	else if (p == NULL && n > 0)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = ukm_sign_update(op, p, n);
	if (rv != CKR_OK && rv != CKR_OPERATION_NOT_INITIALIZED)
		ukm_sign_op_clear(op);
	ukm_lib_unlock();
	return rv;
}

/* Single-part C_Sign or C_SignFinal; a length query neither consumes data nor ends it. */
static CK_RV ukm_sign_finish(CK_SESSION_HANDLE h, const uint8_t *data, CK_ULONG n, int single,
                             CK_BYTE_PTR sig, CK_ULONG_PTR sig_len)
{
	ukm_session *ss;
	ukm_slot *s;
	int keep = 0;
	CK_RV rv;

	if ((rv = ukm_enter(h, &ss, &s)) != CKR_OK)
		return rv;
	if (!ss->sign.active) {
		rv = CKR_OPERATION_NOT_INITIALIZED;
		goto out;
	}
	if (sig_len == NULL || (single && data == NULL && n > 0)) {
		rv = CKR_ARGUMENTS_BAD;
		goto end;
	}
	if (single && ss->sign.multipart) {
		/* C_Sign cannot finish a multi-part operation; §5.11.2 lists no
		 * CKR_OPERATION_ACTIVE. The operation stays for C_SignFinal. */
		rv = CKR_OPERATION_NOT_INITIALIZED;
		goto out;
	}
	if (single && sig != NULL && *sig_len >= ukm_sign_len(&ss->sign) &&
	    (rv = ukm_sign_update(&ss->sign, data, n)) != CKR_OK)
		goto end;
	rv = ukm_sign_final(s, &ss->sign, sig, sig_len, &keep);
	if (keep)
		goto out;
end:
	ukm_sign_op_clear(&ss->sign);
out:
	ukm_lib_unlock();
	return rv;
}

/* §5.11.1 C_SignInit. */
CK_RV C_SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
	return ukm_rv(UKM_FN_SIGN_INIT, ukm_op_init(hSession, pMechanism, hKey, 0));
}

/* §5.11.2 C_Sign: one secured PSO CDS APDU. */
CK_RV C_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
             CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
	return ukm_rv(UKM_FN_SIGN,
	              ukm_sign_finish(hSession, pData, ulDataLen, 1, pSignature, pulSignatureLen));
}

/* §5.11.3 C_SignUpdate. */
CK_RV C_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
	return ukm_rv(UKM_FN_SIGN_UPDATE, ukm_op_update(hSession, pPart, ulPartLen, 0));
}

/* §5.11.4 C_SignFinal. */
CK_RV C_SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
	return ukm_rv(UKM_FN_SIGN_FINAL,
	              ukm_sign_finish(hSession, NULL, 0, 0, pSignature, pulSignatureLen));
}

/* §5.11.5 C_SignRecoverInit: no mechanism with recovery. */
CK_RV C_SignRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                        CK_OBJECT_HANDLE hKey)
{
	(void)hKey;
	return ukm_rv(UKM_FN_SIGN_RECOVER_INIT, ukm_no_mech_init(hSession, pMechanism));
}

/* §5.11.6 C_SignRecover. */
CK_RV C_SignRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                    CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
	(void)pData, (void)ulDataLen, (void)pSignature, (void)pulSignatureLen;
	return ukm_rv(UKM_FN_SIGN_RECOVER, ukm_no_op(hSession));
}

/* Single-part C_Verify or C_VerifyFinal: always ends the operation (§5.12.2). */
static CK_RV ukm_verify_finish(CK_SESSION_HANDLE h, const uint8_t *data, CK_ULONG n, int single,
                               const uint8_t *sig, CK_ULONG sig_len)
{
	ukm_session *ss;
	ukm_slot *s;
	int keep = 0;
	CK_RV rv;

	if ((rv = ukm_enter(h, &ss, &s)) != CKR_OK)
		return rv;
	if (!ss->verify.active) {
		rv = CKR_OPERATION_NOT_INITIALIZED;
		goto out;
	}
	if (sig == NULL || (single && data == NULL && n > 0))
		rv = CKR_ARGUMENTS_BAD;
	else if (single && ss->verify.multipart)
		keep = 1, rv = CKR_OPERATION_NOT_INITIALIZED;   /* §5.12.2: as C_Sign */
	else {
		if (single)
			rv = ukm_sign_update(&ss->verify, data, n);
		if (rv == CKR_OK)
			rv = ukm_verify_final(&ss->verify, sig, sig_len);
	}
	if (!keep)
		ukm_sign_op_clear(&ss->verify);
out:
	ukm_lib_unlock();
	return rv;
}

/* §5.12.1 C_VerifyInit: verification runs on the host (no APDU). */
CK_RV C_VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey)
{
	return ukm_rv(UKM_FN_VERIFY_INIT, ukm_op_init(hSession, pMechanism, hKey, 1));
}

/* §5.12.2 C_Verify. */
CK_RV C_Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
               CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
	return ukm_rv(UKM_FN_VERIFY,
	              ukm_verify_finish(hSession, pData, ulDataLen, 1, pSignature, ulSignatureLen));
}

/* §5.12.3 C_VerifyUpdate. */
CK_RV C_VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
	return ukm_rv(UKM_FN_VERIFY_UPDATE, ukm_op_update(hSession, pPart, ulPartLen, 1));
}

/* §5.12.4 C_VerifyFinal. */
CK_RV C_VerifyFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
	return ukm_rv(UKM_FN_VERIFY_FINAL,
	              ukm_verify_finish(hSession, NULL, 0, 0, pSignature, ulSignatureLen));
}

/* §5.12.5 C_VerifyRecoverInit: no mechanism with recovery. */
CK_RV C_VerifyRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                          CK_OBJECT_HANDLE hKey)
{
	(void)hKey;
	return ukm_rv(UKM_FN_VERIFY_RECOVER_INIT, ukm_no_mech_init(hSession, pMechanism));
}

/* §5.12.6 C_VerifyRecover. */
CK_RV C_VerifyRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen,
                      CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen)
{
	(void)pSignature, (void)ulSignatureLen, (void)pData, (void)pulDataLen;
	return ukm_rv(UKM_FN_VERIFY_RECOVER, ukm_no_op(hSession));
}

/* §5.13.1 C_DigestEncryptUpdate: needs active digest and encryption operations. */
CK_RV C_DigestEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
                            CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen)
{
	(void)pPart, (void)ulPartLen, (void)pEncryptedPart, (void)pulEncryptedPartLen;
	return ukm_rv(UKM_FN_DIGEST_ENCRYPT_UPDATE, ukm_no_op(hSession));
}

/* §5.13.2 C_DecryptDigestUpdate. */
CK_RV C_DecryptDigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                            CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen)
{
	(void)pEncryptedPart, (void)ulEncryptedPartLen, (void)pPart, (void)pulPartLen;
	return ukm_rv(UKM_FN_DECRYPT_DIGEST_UPDATE, ukm_no_op(hSession));
}

/* §5.13.3 C_SignEncryptUpdate: needs an active encryption operation, which cannot exist. */
CK_RV C_SignEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
                          CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen)
{
	(void)pPart, (void)ulPartLen, (void)pEncryptedPart, (void)pulEncryptedPartLen;
	return ukm_rv(UKM_FN_SIGN_ENCRYPT_UPDATE, ukm_no_op(hSession));
}

/* §5.13.4 C_DecryptVerifyUpdate. */
CK_RV C_DecryptVerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                            CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen)
{
	(void)pEncryptedPart, (void)ulEncryptedPartLen, (void)pPart, (void)pulPartLen;
	return ukm_rv(UKM_FN_DECRYPT_VERIFY_UPDATE, ukm_no_op(hSession));
}

/* ---- random numbers (§5.15) ---- */

/* §5.15.1 C_SeedRandom: the card's generator (OpenSSL's DRBG in ukey-emu, the chip's in a
 * real key) takes no seed from the host. */
CK_RV C_SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen)
{
	ukm_session *ss;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_enter(hSession, &ss, &s)) != CKR_OK)
		return ukm_rv(UKM_FN_SEED_RANDOM, rv);
	rv = pSeed == NULL && ulSeedLen > 0 ? CKR_ARGUMENTS_BAD : CKR_RANDOM_SEED_NOT_SUPPORTED;
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_SEED_RANDOM, rv);
}

/* §5.15.2 C_GenerateRandom: GET CHALLENGE, 256 bytes per APDU (ISO 7816-4 §11.5.3). */
CK_RV C_GenerateRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR RandomData, CK_ULONG ulRandomLen)
{
	ukm_session *ss;
	ukm_slot *s;
	CK_RV rv;

	if ((rv = ukm_enter(hSession, &ss, &s)) != CKR_OK)
		return ukm_rv(UKM_FN_GENERATE_RANDOM, rv);
	if (RandomData == NULL && ulRandomLen > 0)
		rv = CKR_ARGUMENTS_BAD;
	else
		rv = ukm_random(s, RandomData, ulRandomLen);
	ukm_lib_unlock();
	return ukm_rv(UKM_FN_GENERATE_RANDOM, rv);
}
