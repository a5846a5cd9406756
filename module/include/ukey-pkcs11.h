/* ukey-pkcs11.h — the vendor constants of libukey-pkcs11.so.
 *
 * Include after a PKCS#11 header (for example <p11-kit/pkcs11.h>). The values are fixed:
 * one ukey block in the vendor-defined range (CKM_VENDOR_DEFINED | 0x554B....), see
 * docs/pkcs11-profile.md. */
#ifndef UKEY_PKCS11_H
#define UKEY_PKCS11_H

/* SM2 curve parameters for CKA_EC_PARAMS: OID 1.2.156.10197.1.301. */
#define UKEY_SM2_EC_PARAMS "\x06\x08\x2A\x81\x1C\xCF\x55\x01\x82\x2D"
#define UKEY_SM2_EC_PARAMS_LEN 10

/* Mechanisms. */
#define CKM_UKEY_SM2                  0xD54B0201UL /* sign/verify e = SM3(Z||M), 32 bytes */
#define CKM_UKEY_SM2_SM3              0xD54B0202UL /* sign/verify M; user ID in pParameter */
#define CKM_UKEY_SM2_ENCRYPT          0xD54B0210UL /* encrypt/decrypt, see CK_UKEY_SM2_ENCRYPT_PARAMS */
#define CKM_UKEY_SM2_ENVELOPED_IMPORT 0xD54B0220UL /* C_UnwrapKey of an ENVELOPEDKEYBLOB */
#define CKM_UKEY_SM3                  0xD54B0301UL /* digest */
#define CKM_UKEY_SM3_HMAC             0xD54B0302UL /* HMAC-SM3 */
#define CKM_UKEY_SM4_KEY_GEN          0xD54B0400UL
#define CKM_UKEY_SM4_ECB              0xD54B0401UL
#define CKM_UKEY_SM4_CBC              0xD54B0402UL
#define CKM_UKEY_SM4_CBC_PAD          0xD54B0403UL
#define CKM_UKEY_SM4_MAC              0xD54B0404UL

/* Key types. */
#define CKK_UKEY_SM4                  0xD54B0104UL

/* Ciphertext formats selected by CKM_UKEY_SM2_ENCRYPT's parameter (a CK_ULONG). */
#define CKD_UKEY_SM2_CIPHER_DER       0UL /* GM/T 0009 SEQUENCE { x, y, C3, C2 } (default) */
#define CKD_UKEY_SM2_CIPHER_C1C3C2    1UL /* raw, GM/T 0003-2012 order */
#define CKD_UKEY_SM2_CIPHER_C1C2C3    2UL /* raw, legacy order */

/* The default SM2 user ID ("1234567812345678") used when CKM_UKEY_SM2_SM3 has no parameter. */
#define UKEY_SM2_DEFAULT_ID "1234567812345678"
#define UKEY_SM2_DEFAULT_ID_LEN 16

/* The vendor interface "ukey" (PKCS#11 3.0 §3.6 CK_INTERFACE), version 1.1: found with
 * C_GetInterface((CK_UTF8CHAR_PTR)UKEY_INTERFACE_NAME, &version, &iface, 0) and listed by
 * C_GetInterfaceList after the "PKCS 11" interfaces. pFunctionList points at a
 * CK_UKEY_FUNCTION_LIST, whose first member is its version as §3.6 requires.
 * Versions: the 1.1 list starts with the whole 1.0 list, so a 1.0 caller that finds 1.1
 * (C_GetInterfaceList names "ukey" once, as 1.1; a NULL version gives 1.1) only reads
 * get_apdu_count and works unchanged. Asking C_GetInterface for exactly {1, 0} gives a
 * list whose version says 1.0 (§5.4.6: a requested version must match the one returned)
 * and whose get_pin_status is NULL; check version before calling a 1.1 member.
 * May be used before C_Initialize only with UKEY_ALL_SLOTS (docs/pkcs11-profile.md). */
#define UKEY_INTERFACE_NAME "ukey"
#define UKEY_INTERFACE_VERSION_MAJOR 1
#define UKEY_INTERFACE_VERSION_MINOR 1
#define UKEY_ALL_SLOTS (~0UL)           /* get_apdu_count: the total over every slot */

/* A PIN's state on the card (GET DATA 01, tags 81/82: docs/apdu.md), which standard PKCS#11
 * shows only as CKF_USER_PIN_COUNT_LOW / _FINAL_TRY / _LOCKED flags. */
typedef struct CK_UKEY_PIN_STATUS {
	CK_ULONG tries_left;            /* 0: blocked */
	CK_ULONG max_tries;             /* set when the key was provisioned (3-15) */
	CK_BBOOL must_change;           /* the initial or an SO-set PIN, not changed yet */
	CK_BBOOL initialized;           /* FALSE: the user PIN after C_InitToken, until C_InitPIN */
} CK_UKEY_PIN_STATUS;

typedef struct CK_UKEY_FUNCTION_LIST {
	CK_VERSION version;             /* 1.1 (1.0 had get_apdu_count only) */
	/* Command APDUs this process has sent to the card in slot (SCardTransmit calls,
	 * GET RESPONSE included) since the module was loaded; UKEY_ALL_SLOTS: all slots. */
	CK_RV (*get_apdu_count)(CK_SLOT_ID slot, CK_ULONG *count);
	/* 1.1: the user (CKU_USER) or SO (CKU_SO) PIN's state of the token in slot, read from
	 * the card (one GET DATA 01, whatever the login state; no PIN needed). Needs
	 * C_Initialize. CKR_OK, CKR_ARGUMENTS_BAD (NULL status, another user type),
	 * CKR_CRYPTOKI_NOT_INITIALIZED, CKR_SLOT_ID_INVALID, CKR_TOKEN_NOT_PRESENT,
	 * CKR_TOKEN_NOT_RECOGNIZED, CKR_DEVICE_REMOVED, CKR_DEVICE_ERROR, and the universal
	 * codes of §5.1.1 (CKR_GENERAL_ERROR, CKR_HOST_MEMORY, CKR_FUNCTION_FAILED). */
	CK_RV (*get_pin_status)(CK_SLOT_ID slot, CK_USER_TYPE user, CK_UKEY_PIN_STATUS *status);
} CK_UKEY_FUNCTION_LIST;

#endif
