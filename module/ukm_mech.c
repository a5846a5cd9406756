/* ukey module: the mechanism table and the sign/verify operations.
 *
 * CKM_UKEY_SM2 signs a caller-computed e (32 bytes); CKM_UKEY_SM2_SM3 computes
 * e = SM3(Z || M) on the host (GM/T 0003.2 §6.1 A1-A2), Z from the key's point and the
 * user ID. Signing is one secured PSO CDS APDU; verification is done on the host. */
#include <string.h>

#include <openssl/evp.h>

#include "uk_wipe.h"
#include "ukm.h"

static const struct {
	CK_MECHANISM_TYPE type;
	CK_ULONG min, max;
	CK_FLAGS flags;
} ukm_mechs[] = {
	{ CKM_EC_KEY_PAIR_GEN, 256, 256,
	  CKF_GENERATE_KEY_PAIR | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS | CKF_HW },
	{ CKM_UKEY_SM2, 256, 256, CKF_SIGN | CKF_VERIFY | CKF_HW },
	{ CKM_UKEY_SM2_SM3, 256, 256, CKF_SIGN | CKF_VERIFY | CKF_HW },
};
#define UKM_NMECHS (sizeof(ukm_mechs) / sizeof(ukm_mechs[0]))

/* PKCS#11 2.40 §5.5.5 C_GetMechanismList: the two-call length convention (§5.2). */
CK_RV ukm_mech_list(CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
	CK_ULONG have = *count;
	size_t i;

	*count = UKM_NMECHS;
	if (list == NULL)
		return CKR_OK;
	if (have < UKM_NMECHS)
		return CKR_BUFFER_TOO_SMALL;
	for (i = 0; i < UKM_NMECHS; i++)
		list[i] = ukm_mechs[i].type;
	return CKR_OK;
}

static int ukm_mech_index(CK_MECHANISM_TYPE type)
{
	size_t i;

	for (i = 0; i < UKM_NMECHS; i++)
		if (ukm_mechs[i].type == type)
			return (int)i;
	return -1;
}

CK_RV ukm_mech_info(CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
	int i = ukm_mech_index(type);

	if (i < 0)
		return CKR_MECHANISM_INVALID;
	info->ulMinKeySize = ukm_mechs[i].min;
	info->ulMaxKeySize = ukm_mechs[i].max;
	info->flags = ukm_mechs[i].flags;
	return CKR_OK;
}

void ukm_sign_op_clear(ukm_sign_op *op)
{
	EVP_MD_CTX_free(op->md);
	uk_wipe(op, sizeof(*op));
}

/* CKM_UKEY_SM2_SM3 parameter: the user ID bytes; absent -> the GM/T 0009 default.
 * ENTL is a 16-bit bit count, so an ID is at most 8191 bytes. */
static CK_RV ukm_sign_start_sm3(ukm_sign_op *op, CK_MECHANISM_PTR m)
{
	uint8_t z[UK_SM3_LEN];
	CK_RV rv = CKR_OK;

	if ((m->pParameter == NULL && m->ulParameterLen != 0) || m->ulParameterLen > 8191)
		return CKR_MECHANISM_PARAM_INVALID;
	if (uk_sm2_compute_z(op->point, m->pParameter,
	                     m->pParameter != NULL ? m->ulParameterLen : 0, z) != 0) {
		rv = CKR_FUNCTION_FAILED;
		goto out;
	}
	op->md = EVP_MD_CTX_new();
	if (op->md == NULL || EVP_DigestInit_ex(op->md, EVP_sm3(), NULL) != 1 ||
	    EVP_DigestUpdate(op->md, z, sizeof(z)) != 1)
		rv = CKR_FUNCTION_FAILED;
out:
	uk_wipe(z, sizeof(z));
	return rv;
}

/* Shared by C_SignInit (2.40 §5.11.1) and C_VerifyInit (§5.12.1). */
CK_RV ukm_sign_init(ukm_slot *s, ukm_sign_op *op, int verify, CK_MECHANISM_PTR m,
                    CK_OBJECT_HANDLE key)
{
	CK_FLAGS need = verify ? CKF_VERIFY : CKF_SIGN;
	ukm_object o;
	CK_RV rv;
	int i;

	i = ukm_mech_index(m->mechanism);
	/* CKM_ECDSA (or anything outside the table) is not offered by this token: an SM2 key
	 * is CKK_EC, so KEY_TYPE_INCONSISTENT would be wrong; the mechanism is what's invalid. */
	if (i < 0 || !(ukm_mechs[i].flags & need))
		return CKR_MECHANISM_INVALID;
	if ((rv = ukm_object_find(s, key, &o)) != CKR_OK)
		return CKR_KEY_HANDLE_INVALID;
	/* The key must carry CKA_SIGN (private, signing pair) or CKA_VERIFY (public). */
	if (o.usage != UKM_USAGE_SIGN || o.cls != (verify ? CKO_PUBLIC_KEY : CKO_PRIVATE_KEY))
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	memset(op, 0, sizeof(*op));
	op->verify = verify;
	op->mech = m->mechanism;
	op->key = key;
	op->kr = (uint8_t)(o.cont->index * 2 + o.usage);
	memcpy(op->point, o.point, UK_SM2_POINT_LEN);
	if (m->mechanism == CKM_UKEY_SM2_SM3) {
		rv = ukm_sign_start_sm3(op, m);
	} else if (m->pParameter != NULL || m->ulParameterLen != 0) {
		rv = CKR_MECHANISM_PARAM_INVALID;
	}
	if (rv != CKR_OK) {
		ukm_sign_op_clear(op);
		return rv;
	}
	op->active = 1;
	return CKR_OK;
}

CK_RV ukm_sign_update(ukm_sign_op *op, const uint8_t *p, size_t n)
{
	op->multipart = 1;
	if (op->mech == CKM_UKEY_SM2_SM3)
		return EVP_DigestUpdate(op->md, p, n) == 1 ? CKR_OK : CKR_FUNCTION_FAILED;
	if (n > sizeof(op->e) - op->e_len) {
		op->e_overflow = 1;
		return CKR_OK;      /* reported as CKR_DATA_LEN_RANGE when finished */
	}
	memcpy(op->e + op->e_len, p, n);
	op->e_len += n;
	return CKR_OK;
}

/* e for the operation: the collected 32 bytes, or SM3(Z || M). */
static CK_RV ukm_sign_e(ukm_sign_op *op, uint8_t e[UK_SM3_LEN])
{
	unsigned int n = 0;

	if (op->mech == CKM_UKEY_SM2_SM3)
		return EVP_DigestFinal_ex(op->md, e, &n) == 1 && n == UK_SM3_LEN ?
		               CKR_OK : CKR_FUNCTION_FAILED;
	if (op->e_overflow || op->e_len != UK_SM3_LEN)
		return CKR_DATA_LEN_RANGE;
	memcpy(e, op->e, UK_SM3_LEN);
	return CKR_OK;
}

/* §5.2 length convention: NULL output or a short buffer leaves the operation active. */
CK_RV ukm_sign_final(ukm_slot *s, ukm_sign_op *op, uint8_t *sig, CK_ULONG_PTR sig_len, int *keep)
{
	uint8_t e[UK_SM3_LEN];
	CK_ULONG have = *sig_len;
	CK_RV rv;

	*sig_len = UK_SM2_SIG_LEN;
	*keep = 1;
	if (sig == NULL)
		return CKR_OK;
	if (have < UK_SM2_SIG_LEN)
		return CKR_BUFFER_TOO_SMALL;
	*keep = 0;
	rv = ukm_sign_e(op, e);
	if (rv == CKR_OK)
		rv = ukm_secure_sign(s, op->kr, e, sig);
	uk_wipe(e, sizeof(e));
	return rv;
}

CK_RV ukm_verify_final(ukm_sign_op *op, const uint8_t *sig, size_t sig_len)
{
	uint8_t e[UK_SM3_LEN];
	EVP_PKEY *k = NULL;
	CK_RV rv;

	if (sig_len != UK_SM2_SIG_LEN)
		return CKR_SIGNATURE_LEN_RANGE;
	if ((rv = ukm_sign_e(op, e)) != CKR_OK)
		goto out;
	k = uk_sm2_from_public(op->point);
	if (k == NULL) {
		rv = CKR_FUNCTION_FAILED;
		goto out;
	}
	/* uk_sm2_verify_e: 1 valid, 0 invalid, -1 malformed (r or s out of range): invalid. */
	rv = uk_sm2_verify_e(k, e, sig) == 1 ? CKR_OK : CKR_SIGNATURE_INVALID;
out:
	EVP_PKEY_free(k);
	uk_wipe(e, sizeof(e));
	return rv;
}
