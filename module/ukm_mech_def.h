/* ukey module: the rows of the mechanism table (ukm_mech.c), shared with ukm_crypt.c. */
#ifndef UKM_MECH_DEF_H
#define UKM_MECH_DEF_H

#include "ukm.h"

/* How an operation turns its input into what the card (or OpenSSL) takes. */
enum ukm_kind {
	UKM_K_GEN,              /* key pair generation */
	UKM_K_SM2,              /* SM2 over a caller's e (32 bytes) */
	UKM_K_SM2_SM3,          /* SM2 over e = SM3(Z || M), host hashes */
	UKM_K_ECDSA,            /* ECDSA over a caller's hash */
	UKM_K_ECDSA_H,          /* ECDSA, host hashes */
	UKM_K_RSA_RAW,          /* PKCS#1 v1.5 type 1 over the caller's bytes */
	UKM_K_RSA_DI,           /* PKCS#1 v1.5 over a DigestInfo the host builds */
	UKM_K_PSS,              /* PSS over a caller's hash */
	UKM_K_PSS_H,            /* PSS, host hashes */
	UKM_K_SM2_ENC,          /* SM2 encryption (GM/T 0003.4) */
	UKM_K_RSA_ENC,          /* RSAES-PKCS1-v1_5 */
	UKM_K_OAEP,             /* RSAES-OAEP */
	UKM_K_DIGEST,           /* host digest */
	UKM_K_UNWRAP,           /* C_UnwrapKey only (the enveloped import) */
	UKM_K_SM4_GEN,          /* GENERATE SESSION KEY */
	UKM_K_SM4_ECB,          /* SM4 on the card with a session key (ukm_sm4.c) */
	UKM_K_SM4_CBC,
	UKM_K_SM4_CBC_PAD,      /* CBC, the host pads (PKCS #7) */
	UKM_K_SM4_MAC,          /* CBC-MAC on the card, the host pads (ISO 9797-1 method 2) */
	UKM_K_HMAC,             /* HMAC-SM3 on the host with a generic secret */
};


struct ukm_mech_def {
	CK_MECHANISM_TYPE type;
	CK_ULONG min, max;
	CK_FLAGS flags;
	uint8_t alg;            /* key algorithm (docs/apdu.md); 0: no key */
	uint8_t sign;           /* PSO COMPUTE DIGITAL SIGNATURE mechanism byte */
	uint8_t dec;            /* PSO DECIPHER mechanism byte (OAEP: from the parameter) */
	CK_MECHANISM_TYPE hash; /* the host hash of the hashing mechanisms (CKM_SHA256 ...) */
	enum ukm_kind kind;
};

/* A hash PKCS#11 names in mechanism parameters, with its MGF1 and OpenSSL names. */
struct ukm_hash_def {
	CK_MECHANISM_TYPE hash;
	CK_RSA_PKCS_MGF_TYPE mgf;
	size_t len;
	const char *name;       /* OpenSSL digest name */
	uint8_t oaep;           /* PSO DECIPHER OAEP mechanism byte; 0: not on the card */
};

const struct ukm_mech_def *ukm_mech_def_get(CK_MECHANISM_TYPE type);
const struct ukm_hash_def *ukm_hash_def_get(CK_MECHANISM_TYPE hash);
const struct ukm_hash_def *ukm_hash_def_by_len(size_t len);
/* Resolve a key handle for an operation: the class, the pair usage and the algorithm
 * must suit the mechanism (CKR_KEY_HANDLE_INVALID, CKR_KEY_FUNCTION_NOT_PERMITTED,
 * CKR_KEY_TYPE_INCONSISTENT, CKR_MECHANISM_INVALID). Fills op's key fields. */
CK_RV ukm_op_key(ukm_slot *s, ukm_sign_op *op, const struct ukm_mech_def *d,
                 CK_OBJECT_HANDLE key, CK_OBJECT_CLASS cls, int usage);

/* Secret-key operations (ukm_sm4.c): the SM4 and HMAC kinds above. */
int ukm_kind_secret(enum ukm_kind k);
CK_RV ukm_skey_op_init(ukm_slot *s, ukm_sign_op *op, const struct ukm_mech_def *d,
                       CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key, CK_ATTRIBUTE_TYPE use);

#endif
