/* p11t_sign.c — key-pair generation (§5.14), signing (§5.11) and verifying (§5.12), every
 * signature checked by OpenSSL from the public point (p11t_keys.c). */
#include <string.h>

#include "p11t.h"

static const unsigned char message[] = "ukey pkcs11-tests: message to be signed";
#define MESSAGE_LEN (sizeof(message) - 1)
#define SIG_LEN 64 /* r||s for a 256-bit curve (Mech §2.3.1) */

static bool session_with_key(struct p11t *t, enum p11t_key_kind kind, const char *label,
                             CK_SESSION_HANDLE *s, struct p11t_keypair *kp)
{
	if (!p11t_open(t, true, s) || !p11t_login_user(t, *s))
		return false;
	return p11t_rv(t, p11t_keygen(t, *s, kind, label, kp), CKR_OK, "C_GenerateKeyPair") &&
	       p11t_read_point(t, *s, kp);
}

/* §5.14.2 (CKR_SESSION_READ_ONLY) and the read-only session rule of the object model: token
 * objects cannot be created in a R/O session, so generating token keys there is refused. */
int p11t_case_keygen_read_only(struct p11t *t)
{
	struct p11t_keypair kp;
	CK_SESSION_HANDLE s;

	if (!p11t_open(t, false, &s) || !p11t_login_user(t, s))
		return P11T_FAIL;
	p11t_rv(t, p11t_keygen(t, s, t->prof->generic_key, "p11t-ro", &kp), CKR_SESSION_READ_ONLY,
	        "C_GenerateKeyPair(token keys, RO session)");
	return p11t_result(t);
}

/* §5.11.1-§5.11.4: C_Sign/C_SignUpdate/C_SignFinal without C_SignInit are
 * CKR_OPERATION_NOT_INITIALIZED; a second C_SignInit while one is active is
 * CKR_OPERATION_ACTIVE. */
int p11t_case_sign_not_initialized(struct p11t *t)
{
	unsigned char sig[SIG_LEN], in[64];
	CK_ULONG sig_len = sizeof(sig), in_len = 0;
	struct p11t_keypair kp;
	CK_MECHANISM mech;
	CK_SESSION_HANDLE s;

	if (!session_with_key(t, t->prof->generic_key, "p11t-sign", &s, &kp) ||
	    !p11t_true(t, p11t_sign_input(kp.kind, message, MESSAGE_LEN, in, &in_len),
	               "hashing the message"))
		return P11T_FAIL;
	p11t_rv(t, t->f->C_Sign(s, in, in_len, sig, &sig_len), CKR_OPERATION_NOT_INITIALIZED,
	        "C_Sign without C_SignInit");
	p11t_rv(t, t->f->C_SignUpdate(s, in, in_len), CKR_OPERATION_NOT_INITIALIZED,
	        "C_SignUpdate without C_SignInit");
	sig_len = sizeof(sig);
	p11t_rv(t, t->f->C_SignFinal(s, sig, &sig_len), CKR_OPERATION_NOT_INITIALIZED,
	        "C_SignFinal without C_SignInit");
	p11t_sign_mech(kp.kind, &mech);
	if (!p11t_rv(t, t->f->C_SignInit(s, &mech, kp.priv), CKR_OK, "C_SignInit"))
		return P11T_FAIL;
	p11t_rv(t, t->f->C_SignInit(s, &mech, kp.priv), CKR_OPERATION_ACTIVE,
	        "second C_SignInit");
	sig_len = sizeof(sig);
	p11t_rv(t, t->f->C_Sign(s, in, in_len, sig, &sig_len), CKR_OK,
	        "C_Sign of the first operation");
	return p11t_result(t);
}

/* §5.11.1: a mechanism the token does not know is CKR_MECHANISM_INVALID, and no operation
 * is left active (a C_Sign after it is CKR_OPERATION_NOT_INITIALIZED). */
int p11t_case_sign_init_bad_mechanism(struct p11t *t)
{
	CK_MECHANISM bogus = { 0x8FFFFFF0UL, NULL, 0 }; /* vendor range, defined by nobody here */
	unsigned char sig[SIG_LEN], in[64];
	CK_ULONG len = sizeof(sig), in_len = 0;
	struct p11t_keypair kp;
	CK_SESSION_HANDLE s;

	if (!session_with_key(t, t->prof->generic_key, "p11t-sign", &s, &kp) ||
	    !p11t_true(t, p11t_sign_input(kp.kind, message, MESSAGE_LEN, in, &in_len),
	               "hashing the message"))
		return P11T_FAIL;
	p11t_rv(t, t->f->C_SignInit(s, &bogus, kp.priv), CKR_MECHANISM_INVALID,
	        "C_SignInit(unknown mechanism)");
	p11t_rv(t, t->f->C_Sign(s, in, in_len, sig, &len), CKR_OPERATION_NOT_INITIALIZED,
	        "C_Sign after the refused C_SignInit");
	return p11t_result(t);
}

/* §5.2 and §5.11.2: C_Sign with a NULL buffer returns the length and keeps the operation; a
 * buffer too small is CKR_BUFFER_TOO_SMALL with the length needed, and the operation stays
 * active; a successful C_Sign ends it. */
int p11t_case_sign_length_query(struct p11t *t)
{
	unsigned char sig[SIG_LEN + 8], in[64];
	CK_ULONG len = 0, in_len = 0;
	struct p11t_keypair kp;
	CK_MECHANISM mech;
	CK_SESSION_HANDLE s;

	if (!session_with_key(t, t->prof->generic_key, "p11t-len", &s, &kp) ||
	    !p11t_true(t, p11t_sign_input(kp.kind, message, MESSAGE_LEN, in, &in_len),
	               "hashing the message"))
		return P11T_FAIL;
	p11t_sign_mech(kp.kind, &mech);
	if (!p11t_rv(t, t->f->C_SignInit(s, &mech, kp.priv), CKR_OK, "C_SignInit"))
		return P11T_FAIL;
	p11t_rv(t, t->f->C_Sign(s, in, in_len, NULL, &len), CKR_OK, "C_Sign(NULL buffer)");
	p11t_true(t, len == SIG_LEN, "length query: %lu, want %d", (unsigned long)len, SIG_LEN);
	len = 1;
	p11t_rv(t, t->f->C_Sign(s, in, in_len, sig, &len), CKR_BUFFER_TOO_SMALL,
	        "C_Sign(1-byte buffer)");
	p11t_true(t, len == SIG_LEN, "CKR_BUFFER_TOO_SMALL: length %lu, want %d",
	          (unsigned long)len, SIG_LEN);
	len = sizeof(sig);
	if (p11t_rv(t, t->f->C_Sign(s, in, in_len, sig, &len), CKR_OK,
	            "C_Sign after the length queries"))
		p11t_true(t, len == SIG_LEN && p11t_openssl_verify(&kp, message, MESSAGE_LEN, sig, len),
		          "OpenSSL rejects the signature (%lu bytes)", (unsigned long)len);
	len = sizeof(sig);
	p11t_rv(t, t->f->C_Sign(s, in, in_len, sig, &len), CKR_OPERATION_NOT_INITIALIZED,
	        "C_Sign after a successful C_Sign");
	return p11t_result(t);
}

/* Multi-part signing (§5.11.3-§5.11.4) of the message in two pieces; only for mechanisms
 * that hash (CKM_ECDSA takes a finished hash and has no multi-part form, Mech §2.3.8). */
static void sign_multipart(struct p11t *t, CK_SESSION_HANDLE s, const struct p11t_keypair *kp,
                           CK_MECHANISM *mech)
{
	unsigned char sig[SIG_LEN];
	CK_ULONG len = sizeof(sig), half = MESSAGE_LEN / 2;

	if (!p11t_rv(t, t->f->C_SignInit(s, mech, kp->priv), CKR_OK, "C_SignInit(multi-part)") ||
	    !p11t_rv(t, t->f->C_SignUpdate(s, (CK_BYTE_PTR)message, half), CKR_OK,
	             "C_SignUpdate 1") ||
	    !p11t_rv(t, t->f->C_SignUpdate(s, (CK_BYTE_PTR)message + half, MESSAGE_LEN - half),
	             CKR_OK, "C_SignUpdate 2") ||
	    !p11t_rv(t, t->f->C_SignFinal(s, sig, &len), CKR_OK, "C_SignFinal"))
		return;
	p11t_true(t, p11t_openssl_verify(kp, message, MESSAGE_LEN, sig, len),
	          "OpenSSL rejects the multi-part signature");
}

/* The module's own C_Verify (§5.12.2) accepts the signature and refuses a changed one with
 * CKR_SIGNATURE_INVALID. */
static void module_verify(struct p11t *t, CK_SESSION_HANDLE s, const struct p11t_keypair *kp,
                          CK_MECHANISM *mech, const unsigned char *in, CK_ULONG in_len,
                          unsigned char *sig)
{
	if (p11t_rv(t, t->f->C_VerifyInit(s, mech, kp->pub), CKR_OK, "C_VerifyInit"))
		p11t_rv(t, t->f->C_Verify(s, (CK_BYTE_PTR)in, in_len, sig, SIG_LEN), CKR_OK,
		        "C_Verify(good signature)");
	sig[SIG_LEN - 1] ^= 0x01;
	if (p11t_rv(t, t->f->C_VerifyInit(s, mech, kp->pub), CKR_OK, "C_VerifyInit"))
		p11t_rv(t, t->f->C_Verify(s, (CK_BYTE_PTR)in, in_len, sig, SIG_LEN),
		        CKR_SIGNATURE_INVALID, "C_Verify(changed signature)");
	sig[SIG_LEN - 1] ^= 0x01;
	/* §5.12.2: a signature of the wrong length is CKR_SIGNATURE_LEN_RANGE. */
	if (p11t_rv(t, t->f->C_VerifyInit(s, mech, kp->pub), CKR_OK, "C_VerifyInit"))
		p11t_rv(t, t->f->C_Verify(s, (CK_BYTE_PTR)in, in_len, sig, SIG_LEN - 1),
		        CKR_SIGNATURE_LEN_RANGE, "C_Verify(signature one byte short)");
}

/* Generate, sign one-shot, check with OpenSSL (and that OpenSSL refuses another message, so
 * the oracle is not vacuous), verify with the module, and for hashing mechanisms sign in
 * several parts. */
static int sign_verify(struct p11t *t, enum p11t_key_kind kind, const char *label)
{
	static const unsigned char other[] = "another message";
	unsigned char sig[SIG_LEN], in[64];
	CK_ULONG len = sizeof(sig), in_len = 0;
	struct p11t_keypair kp;
	CK_MECHANISM mech;
	CK_SESSION_HANDLE s;

	if (!session_with_key(t, kind, label, &s, &kp) ||
	    !p11t_true(t, p11t_sign_input(kind, message, MESSAGE_LEN, in, &in_len),
	               "hashing the message"))
		return P11T_FAIL;
	p11t_sign_mech(kind, &mech);
	if (!p11t_rv(t, t->f->C_SignInit(s, &mech, kp.priv), CKR_OK, "C_SignInit") ||
	    !p11t_rv(t, t->f->C_Sign(s, in, in_len, sig, &len), CKR_OK, "C_Sign") ||
	    !p11t_true(t, len == SIG_LEN, "signature of %lu bytes, want %d", (unsigned long)len,
	               SIG_LEN))
		return P11T_FAIL;
	p11t_true(t, p11t_openssl_verify(&kp, message, MESSAGE_LEN, sig, len),
	          "OpenSSL rejects the token's signature");
	p11t_true(t, !p11t_openssl_verify(&kp, other, sizeof(other) - 1, sig, len),
	          "OpenSSL accepts the signature for another message");
	module_verify(t, s, &kp, &mech, in, in_len, sig);
	if (kind == P11T_KEY_SM2)
		sign_multipart(t, s, &kp, &mech);
	return p11t_result(t);
}

/* CKM_EC_KEY_PAIR_GEN with the SM2 curve and CKM_UKEY_SM2_SM3 (docs/pkcs11-profile.md),
 * checked as GM/T 0003 SM2 with SM3 and the default ID 1234567812345678 (GM/T 0009). */
int p11t_case_sm2_sign_verify(struct p11t *t)
{
	return sign_verify(t, P11T_KEY_SM2, "p11t-sm2");
}

/* CKM_EC_KEY_PAIR_GEN on P-256 and CKM_ECDSA over a SHA-256 hash (Mech §2.3.7, §2.3.8). */
int p11t_case_ecdsa_p256_sign_verify(struct p11t *t)
{
	return sign_verify(t, P11T_KEY_P256, "p11t-p256");
}
