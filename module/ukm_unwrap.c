/* ukey module: C_GenerateKey and C_UnwrapKey (PKCS#11 3.0 §5.18.2, §5.18.6).
 *
 *   CKM_UKEY_SM4_KEY_GEN          GENERATE SESSION KEY (84 E8 01 00): the card draws the SM4
 *                                 key (SPEC S0-K2) and keeps it; a session object names it.
 *   CKM_UKEY_SM2_ENCRYPT (unwrap) IMPORT SESSION KEY (84 E8 00 KR, GM/T 0016
 *                                 SKF_ImportSessionKey): an SM4 key SM2-encrypted to the
 *                                 container's encryption pair, decrypted by the card.
 *   CKM_UKEY_SM2_ENVELOPED_IMPORT IMPORT KEY PAIR (84 E6 00 KR, GM/T 0016
 *                                 SKF_ImportECCKeyPair, SPEC S2-1): the CA's ENVELOPEDKEYBLOB
 *                                 opened with the container's SM2 signing key; the new
 *                                 encryption pair is a token object of that container. */
#include <string.h>

#include <openssl/evp.h>

#include "uk_tlv.h"
#include "uk_wipe.h"
#include "ukm.h"

#define UKM_ENV_LEN (372 + 16)          /* docs/apdu.md IMPORT KEY PAIR, CipherLen 16 */
#define UKM_ENV_PUB_X (80 + 32)         /* PubKey X, right-aligned in its 64-byte field */
#define UKM_ENV_PUB_Y (144 + 32)
#define UKM_SKEY_CT (UK_SM2_POINT_LEN + UK_SM3_LEN + 16)   /* raw C1 || C3 || C2, 113 */

/* 84 E8 P1 P2 (IMPORT / GENERATE SESSION KEY) -> the new object k names the card's key. */
static CK_RV ukm_sm4_card_key(ukm_slot *s, ukm_skey *k, uint8_t p1, uint8_t p2,
                              const uint8_t *payload, size_t n)
{
	uint8_t out[8];
	size_t len = 0;
	uk_tlv t;
	CK_RV rv;

	if (s->login != UKM_LOGIN_USER)
		return CKR_USER_NOT_LOGGED_IN;
	rv = ukm_secured(s, 0x84, 0xE8, p1, p2, payload, n, 256, out, sizeof(out), &len);
	if (rv != CKR_OK)
		return rv;
	if (uk_tlv_find(out, len, 0x80, &t) != 1 || t.len != 1 || t.value[0] == 0)
		return CKR_DEVICE_ERROR;
	k->card_handle = t.value[0];
	k->seq = ++s->skey_seq;
	ukm_skey_card_evict(s, k->seq);
	return CKR_OK;
}

/* §5.18.2 C_GenerateKey(CKM_UKEY_SM4_KEY_GEN). */
CK_RV ukm_generate_key(ukm_slot *s, CK_SESSION_HANDLE owner, CK_MECHANISM_PTR m,
                       CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR h)
{
	ukm_skey *k;
	CK_RV rv;

	if (m->mechanism != CKM_UKEY_SM4_KEY_GEN)
		return CKR_MECHANISM_INVALID;
	if (m->pParameter != NULL || m->ulParameterLen != 0)
		return CKR_MECHANISM_PARAM_INVALID;
	if ((k = ukm_skey_new(s, owner)) == NULL)
		return CKR_DEVICE_MEMORY;
	rv = ukm_skey_sm4_template(t, n, k, 1);
	if (rv == CKR_OK)
		rv = ukm_sm4_card_key(s, k, 0x01, 0x00, NULL, 0);
	if (rv != CKR_OK) {
		ukm_skey_free(k);
		return rv;
	}
	*h = ukm_skey_handle(s, k);
	return CKR_OK;
}

/* The unwrapping key: a private key of an SM2 pair of the given usage (§5.18.6:
 * CKR_UNWRAPPING_KEY_HANDLE_INVALID / _TYPE_INCONSISTENT). */
static CK_RV ukm_unwrapping_key(ukm_slot *s, CK_OBJECT_HANDLE key, int usage, ukm_object *o)
{
	if (ukm_object_find(s, key, o) != CKR_OK || o->kp == NULL)
		return CKR_UNWRAPPING_KEY_HANDLE_INVALID;
	if (o->cls != CKO_PRIVATE_KEY || o->kp->alg != UKM_ALG_SM2 || o->usage != usage)
		return CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT;
	return CKR_OK;
}

/* Card answers of an unwrap, in §5.18.6's terms. */
static CK_RV ukm_unwrap_rv(CK_RV rv)
{
	if (rv == CKR_DATA_INVALID)
		return CKR_WRAPPED_KEY_INVALID;         /* 6A80: does not decrypt / check */
	if (rv == CKR_KEY_HANDLE_INVALID)
		return CKR_UNWRAPPING_KEY_HANDLE_INVALID;       /* 6A88: the pair went away */
	return rv;
}

static CK_RV ukm_unwrap_sm4(ukm_slot *s, CK_SESSION_HANDLE owner, CK_MECHANISM_PTR m,
                            CK_OBJECT_HANDLE key, const uint8_t *wrapped, size_t wn,
                            CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR h)
{
	uint8_t raw[UKM_SKEY_CT + 128];
	CK_ULONG fmt = 0;
	size_t rl = 0;
	ukm_object o;
	ukm_skey *k = NULL;
	CK_RV rv;

	if ((rv = ukm_sm2_param_format(m, &fmt)) != CKR_OK)
		return rv;
	if ((rv = ukm_unwrapping_key(s, key, UKM_USAGE_ENC, &o)) != CKR_OK)
		return rv;
	if (wn > sizeof(raw))
		return CKR_WRAPPED_KEY_LEN_RANGE;
	rv = ukm_sm2_to_raw(fmt, wrapped, wn, raw, &rl);
	if (rv != CKR_OK || rl != UKM_SKEY_CT) {
		rv = rv == CKR_OK || rv == CKR_ENCRYPTED_DATA_LEN_RANGE ? CKR_WRAPPED_KEY_LEN_RANGE
		                                                        : CKR_WRAPPED_KEY_INVALID;
		goto out;
	}
	if ((k = ukm_skey_new(s, owner)) == NULL) {
		rv = CKR_DEVICE_MEMORY;
		goto out;
	}
	if ((rv = ukm_skey_sm4_template(t, n, k, 0)) == CKR_OK)
		rv = ukm_unwrap_rv(ukm_sm4_card_key(s, k, 0x00,
		                                    (uint8_t)(o.cont->index * 2 + UKM_USAGE_ENC),
		                                    raw, rl));
	if (rv == CKR_OK)
		*h = ukm_skey_handle(s, k);
out:
	if (rv != CKR_OK && k != NULL)
		ukm_skey_free(k);
	uk_wipe(raw, sizeof(raw));
	return rv;
}

/* ---- the enveloped import ---- */

/* Template of the imported private key: what the new encryption pair will be. -1: any. */
static const struct {
	CK_ATTRIBUTE_TYPE type;
	int want;
} ukm_env_bools[] = {
	{ CKA_TOKEN, 1 }, { CKA_PRIVATE, 1 }, { CKA_SENSITIVE, 1 }, { CKA_EXTRACTABLE, 0 },
	{ CKA_DECRYPT, 1 }, { CKA_SIGN, 0 }, { CKA_SIGN_RECOVER, 0 }, { CKA_DERIVE, 0 },
	{ CKA_UNWRAP, -1 }, { CKA_MODIFIABLE, 1 }, { CKA_COPYABLE, 0 },
};

static CK_RV ukm_env_attr_bool(const CK_ATTRIBUTE *a, int *known)
{
	size_t i;

	*known = 0;
	for (i = 0; i < sizeof(ukm_env_bools) / sizeof(ukm_env_bools[0]); i++) {
		if (ukm_env_bools[i].type != a->type)
			continue;
		*known = 1;
		if (a->pValue == NULL || a->ulValueLen != sizeof(CK_BBOOL))
			return CKR_ATTRIBUTE_VALUE_INVALID;
		if (ukm_env_bools[i].want >= 0 &&
		    (*(const CK_BBOOL *)a->pValue != CK_FALSE) != ukm_env_bools[i].want)
			return CKR_TEMPLATE_INCONSISTENT;
	}
	return CKR_OK;
}

static int ukm_attr_is(const CK_ATTRIBUTE *a, const void *v, size_t n)
{
	return a->ulValueLen == n && (n == 0 || (a->pValue != NULL && memcmp(a->pValue, v, n) == 0));
}

static int ukm_attr_ulong_is(const CK_ATTRIBUTE *a, CK_ULONG v)
{
	return ukm_attr_is(a, &v, sizeof(v));
}

/* The new key's CKA_ID (SHA-1 of 04 || X || Y, as ukm_object.c) and the container name. */
static CK_RV ukm_env_attr(const CK_ATTRIBUTE *a, const ukm_container *c, const uint8_t id[20],
                          int *have_class)
{
	int known;
	CK_RV rv = ukm_env_attr_bool(a, &known);

	if (known || rv != CKR_OK)
		return rv;
	switch (a->type) {
	case CKA_CLASS:
		*have_class = 1;
		return ukm_attr_ulong_is(a, CKO_PRIVATE_KEY) ? CKR_OK : CKR_TEMPLATE_INCONSISTENT;
	case CKA_KEY_TYPE:
		return ukm_attr_ulong_is(a, CKK_EC) ? CKR_OK : CKR_TEMPLATE_INCONSISTENT;
	case CKA_LABEL:
		/* the pair is stored in the unwrapping key's container: its name */
		return ukm_attr_is(a, c->name, c->name_len) ? CKR_OK : CKR_TEMPLATE_INCONSISTENT;
	case CKA_ID:
		return ukm_attr_is(a, id, 20) ? CKR_OK : CKR_TEMPLATE_INCONSISTENT;
	case CKA_EC_PARAMS:
		return ukm_attr_is(a, UKEY_SM2_EC_PARAMS, UKEY_SM2_EC_PARAMS_LEN) ?
		               CKR_OK : CKR_TEMPLATE_INCONSISTENT;
	default:
		return CKR_ATTRIBUTE_TYPE_INVALID;
	}
}

static CK_RV ukm_env_template(CK_ATTRIBUTE_PTR t, CK_ULONG n, const ukm_container *c,
                              const uint8_t *blob)
{
	uint8_t point[UK_SM2_POINT_LEN], id[20];
	unsigned int idl = 0;
	int have_class = 0;
	CK_ULONG i;
	CK_RV rv = CKR_OK;

	point[0] = 0x04;
	memcpy(point + 1, blob + UKM_ENV_PUB_X, 32);
	memcpy(point + 33, blob + UKM_ENV_PUB_Y, 32);
	if (EVP_Digest(point, sizeof(point), id, &idl, EVP_sha1(), NULL) != 1)
		return CKR_FUNCTION_FAILED;
	for (i = 0; i < n && rv == CKR_OK; i++)
		rv = ukm_env_attr(&t[i], c, id, &have_class);
	if (rv == CKR_OK && !have_class)
		rv = CKR_TEMPLATE_INCOMPLETE;
	return rv;
}

static CK_RV ukm_unwrap_envelope(ukm_slot *s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key,
                                 const uint8_t *wrapped, size_t wn, CK_ATTRIBUTE_PTR t,
                                 CK_ULONG n, CK_OBJECT_HANDLE_PTR h)
{
	ukm_object o;
	uint8_t ci, empty = 0;
	size_t got = 0;
	CK_RV rv;

	if (m->pParameter != NULL || m->ulParameterLen != 0)
		return CKR_MECHANISM_PARAM_INVALID;
	if ((rv = ukm_unwrapping_key(s, key, UKM_USAGE_SIGN, &o)) != CKR_OK)
		return rv;
	if (wn != UKM_ENV_LEN)
		return CKR_WRAPPED_KEY_LEN_RANGE;
	ci = o.cont->index;
	if ((rv = ukm_env_template(t, n, o.cont, wrapped)) != CKR_OK)
		return rv;
	/* docs/apdu.md: 84 E6 00 KR, KR the encryption pair; 388 bytes: an extended APDU */
	rv = ukm_secured(s, 0x84, 0xE6, 0x00, (uint8_t)(ci * 2 + UKM_USAGE_ENC), wrapped, wn, 0,
	                 &empty, 0, &got);
	rv = ukm_unwrap_rv(rv);
	/* our own write: the cached container list is stale whatever happened */
	s->cache.have_containers = 0;
	if (rv != CKR_OK)
		return rv;
	if ((rv = ukm_card_load_containers(s)) != CKR_OK)
		return rv;
	*h = ukm_object_handle(s, ci, UKM_USAGE_ENC, 1);
	return CKR_OK;
}

/* §5.18.6 C_UnwrapKey. */
CK_RV ukm_unwrap_key(ukm_slot *s, CK_SESSION_HANDLE owner, CK_MECHANISM_PTR m,
                     CK_OBJECT_HANDLE key, const uint8_t *wrapped, size_t wn,
                     CK_ATTRIBUTE_PTR t, CK_ULONG n, CK_OBJECT_HANDLE_PTR h)
{
	if (m->mechanism != CKM_UKEY_SM2_ENVELOPED_IMPORT && m->mechanism != CKM_UKEY_SM2_ENCRYPT)
		return CKR_MECHANISM_INVALID;
	/* the unwrapping keys are private objects, and the card imports under the user PIN */
	if (s->login != UKM_LOGIN_USER)
		return CKR_USER_NOT_LOGGED_IN;
	if (m->mechanism == CKM_UKEY_SM2_ENVELOPED_IMPORT)
		return ukm_unwrap_envelope(s, m, key, wrapped, wn, t, n, h);
	return ukm_unwrap_sm4(s, owner, m, key, wrapped, wn, t, n, h);
}
